/* An int8 dot product with SDOT (build with -march=armv8.2-a+dotprod). */
#include <arm_neon.h>
#include <stdio.h>
#include "marker.h"

#define N 4096
static int8_t a[N], b[N];

int main(void)
{
    for (int i = 0; i < N; i++) {
        a[i] = (int8_t)(i % 61 - 30);
        b[i] = (int8_t)(i % 37 - 18);
    }
    edgekit_mark(EDGEKIT_BEGIN);
    int32x4_t acc = vdupq_n_s32(0);
    for (int i = 0; i < N; i += 16) {
        acc = vdotq_s32(acc, vld1q_s8(a + i), vld1q_s8(b + i));
    }
    int32_t sum = vaddvq_s32(acc);
    edgekit_mark(EDGEKIT_END);
    printf("%d\n", sum);
    return 0;
}
