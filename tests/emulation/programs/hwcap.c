/* Runtime dispatch as real kernels do it: SDOT when HWCAP_ASIMDDP, else SMULL/SMLAL2/SADALP. */
#include <arm_neon.h>
#include <asm/hwcap.h>
#include <stdio.h>
#include <sys/auxv.h>
#include "marker.h"

#define N 4096
static int8_t a[N], b[N];

__attribute__((target("arch=armv8.2-a+dotprod"), noinline)) static int32_t dot_sdot(void)
{
    int32x4_t acc = vdupq_n_s32(0);
    for (int i = 0; i < N; i += 16) {
        acc = vdotq_s32(acc, vld1q_s8(a + i), vld1q_s8(b + i));
    }
    return vaddvq_s32(acc);
}

__attribute__((noinline)) static int32_t dot_mlal(void)
{
    int32x4_t acc = vdupq_n_s32(0);
    for (int i = 0; i < N; i += 16) {
        int8x16_t x = vld1q_s8(a + i), y = vld1q_s8(b + i);
        int16x8_t p = vmull_s8(vget_low_s8(x), vget_low_s8(y));
        p = vmlal_high_s8(p, x, y);
        acc = vpadalq_s16(acc, p);
    }
    return vaddvq_s32(acc);
}

int main(void)
{
    for (int i = 0; i < N; i++) {
        a[i] = (int8_t)(i % 61 - 30);
        b[i] = (int8_t)(i % 37 - 18);
    }
    int dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
    edgekit_mark(EDGEKIT_BEGIN);
    int32_t sum = dotprod ? dot_sdot() : dot_mlal();
    edgekit_mark(EDGEKIT_END);
    printf("%s %d\n", dotprod ? "sdot" : "mlal", sum);
    return 0;
}
