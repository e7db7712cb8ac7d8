/* snippets NAME: runs one hand-written asm function (known instruction counts) in a region.
 * Every snippet is a leaf ending in RET; "empty" is the baseline (RET alone). */
#include <stdio.h>
#include <string.h>
#include "marker.h"

/* Only the assembler needs to know these extensions; C code stays plain ARMv8.0. */
__asm__(".arch armv8.6-a+sve+i8mm+bf16+dotprod\n");

#define SNIPPET(name, body) \
    __asm__(".text\n.p2align 2\n.type snip_" #name ", %function\nsnip_" #name ":\n" \
            body "\tret\n.size snip_" #name ", .-snip_" #name "\n"); \
    void snip_##name(void *buf);

SNIPPET(empty, "")
SNIPPET(neon_fp, "\tfadd v16.4s, v17.4s, v18.4s\n\tfadd v16.4s, v17.4s, v18.4s\n"
                 "\tfadd v16.2d, v17.2d, v18.2d\n\tfmul v17.4s, v18.4s, v19.4s\n"
                 "\tfmul v17.4s, v18.4s, v19.s[1]\n")
SNIPPET(neon_fmla, "\tfmla v16.4s, v17.4s, v18.4s\n\tfmla v16.4s, v17.4s, v18.4s\n"
                   "\tfmls v16.4s, v17.4s, v18.4s\n\tfmla v16.4s, v17.4s, v18.s[3]\n")
SNIPPET(neon_int, "\tadd v16.4s, v17.4s, v18.4s\n\tadd v16.4s, v17.4s, v18.4s\n"
                  "\tmul v16.4s, v17.4s, v18.4s\n\tzip1 v16.4s, v17.4s, v18.4s\n")
SNIPPET(neon_int_mac, "\tmla v16.4s, v17.4s, v18.4s\n\tsmlal v16.4s, v17.4h, v18.4h\n"
                      "\tsadalp v16.4s, v17.8h\n")
SNIPPET(fp_scalar, "\tfadd s16, s17, s18\n\tfadd s16, s17, s18\n\tfmadd d16, d17, d18, d19\n")
SNIPPET(simd_ldst, "\tldr q16, [x0]\n\tld1 {v16.4s}, [x0]\n\tldp q16, q17, [x0]\n"
                   "\tstr q16, [x0, #32]\n\tst1 {v16.4s}, [x0]\n")
SNIPPET(gpr_ldst, "\tldr x9, [x0]\n\tldp x9, x10, [x0]\n\tstr x9, [x0, #64]\n"
                  "\tstp x9, x10, [x0, #80]\n")
SNIPPET(branches, "\tcbnz xzr, 1f\n1:\tb 2f\n2:\tadd x9, x9, #1\n")
SNIPPET(dotprod, "\tsdot v16.4s, v17.16b, v18.16b\n\tsdot v16.4s, v17.16b, v18.16b\n"
                 "\tudot v16.4s, v17.16b, v18.4b[1]\n")
SNIPPET(mmla, "\tsmmla v16.4s, v17.16b, v18.16b\n\tummla v16.4s, v17.16b, v18.16b\n"
              "\tusmmla v16.4s, v17.16b, v18.16b\n\tbfmmla v16.4s, v17.8h, v18.8h\n")
SNIPPET(sve, "\tptrue p0.s\n\tfadd z16.s, z17.s, z18.s\n")

static const struct { const char *name; void (*fn)(void *); } TABLE[] = {
    {"empty", snip_empty}, {"neon_fp", snip_neon_fp}, {"neon_fmla", snip_neon_fmla},
    {"neon_int", snip_neon_int}, {"neon_int_mac", snip_neon_int_mac},
    {"fp_scalar", snip_fp_scalar}, {"simd_ldst", snip_simd_ldst}, {"gpr_ldst", snip_gpr_ldst},
    {"branches", snip_branches}, {"dotprod", snip_dotprod}, {"mmla", snip_mmla},
    {"sve", snip_sve},
};

int main(int argc, char **argv)
{
    static unsigned char buf[256] __attribute__((aligned(64)));
    void (*fn)(void *) = NULL;
    for (size_t i = 0; argc > 1 && i < sizeof(TABLE) / sizeof(TABLE[0]); i++) {
        fn = strcmp(TABLE[i].name, argv[1]) == 0 ? TABLE[i].fn : fn;
    }
    if (fn == NULL) {
        return 2;
    }
    edgekit_mark(EDGEKIT_BEGIN);
    fn(buf);
    edgekit_mark(EDGEKIT_END);
    puts("ok");
    return 0;
}
