/* edgekit's instruction-count markers: lseek on fd 0x7EDC (never open) is seen
 * by the insncount QEMU plugin and fails harmlessly with EBADF. */
#ifndef EDGEKIT_MARKER_H
#define EDGEKIT_MARKER_H
#include <unistd.h>

#define EDGEKIT_MARKER_FD 0x7EDC
#define EDGEKIT_BEGIN 1
#define EDGEKIT_END 2
#define EDGEKIT_OPERATOR(k) (16 + (k))

static inline void edgekit_mark(long code)
{
    lseek(EDGEKIT_MARKER_FD, code, SEEK_SET);
}

/* Exactly 3 instructions per iteration (add, subs, b.ne): 2 scalar_int + 1 branch. */
static __attribute__((noinline)) long edgekit_spin(long acc, long n)
{
    if (n > 0) {
        __asm__ volatile("1: add %0, %0, #1\n\tsubs %1, %1, #1\n\tb.ne 1b"
                         : "+r"(acc), "+r"(n) : : "cc");
    }
    return acc;
}
#endif
