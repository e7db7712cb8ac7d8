/*
 * edgekit insncount: a QEMU TCG plugin (plugin API v1, QEMU 7.2 linux-user,
 * qemu-aarch64) that counts executed guest A64 instructions by class.
 *
 * Build (edge_kit/emulation/plugin.py does this and caches the result):
 *   gcc -O2 -shared -fPIC -std=gnu11 -pthread -I<dir of qemu-plugin.h> insncount.c -o libinsncount.so
 * Run:
 *   qemu-aarch64 -cpu cortex-a76 -plugin file=libinsncount.so,out=counts.json ./prog
 *
 * Design
 * - Classification happens once per translated block (TB): the TB's 32-bit
 *   instruction words are decoded with the mask/value tables below into a small
 *   class histogram; one exec callback per TB execution adds that histogram
 *   to the counters of the executing vCPU. Counters are per vCPU (one guest
 *   thread runs on one vCPU at a time in linux-user), so no atomics are needed
 *   on the hot path and counts are exact across threads. vCPU indices at or
 *   above MAX_VCPUS share one slot updated with atomic adds.
 *   A TB is counted when it is entered: if an instruction faults mid-TB, the
 *   rest of that TB is still counted (rare; signals, not normal control flow).
 * - Markers: the guest calls lseek(0x7EDC, code, SEEK_SET) (aarch64 syscall 62;
 *   fd 32476 is never open, so the call fails harmlessly with EBADF).
 *     code 1       a region (one inference) begins; regions may nest/overlap
 *                  across threads: we are "inside" while begins > ends.
 *     code 2       a region ends.
 *     code 16+k    inside a region: operator k begins; its segment lasts until
 *                  the next marker. Counts per operator are summed over regions.
 *     other codes  ignored (counted as "unknown").
 *   The region state is global (a time window for all threads). The TB that
 *   holds the marker's SVC is counted in the state before the marker.
 * - Output: at exit (exit/exit_group only: QEMU 7.2 runs no atexit callback
 *   when the guest dies of a signal) a JSON file is written to out=PATH via
 *   PATH.tmp + rename. Forked children write nothing.
 *
 * Encoding references: Arm Architecture Reference Manual for A-profile
 * (DDI 0487 J.a), chapter C4 "A64 Instruction Set Encoding": C4.1 top-level
 * op0 table; C4.1.88 loads and stores; C4.1.86 branches; C4.1.95 data
 * processing - scalar FP and Advanced SIMD (three same, three different,
 * two-register misc, across lanes, three-register extension, x indexed
 * element, modified immediate, shift by immediate); SVE (C4.1.30+) and SME
 * (C4.1.1) top-level spaces. Every rule below is checked against GNU as 2.40
 * encodings by tests/emulation/test_insn_classes.py.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    C_SCALAR_INT,   /* integer ALU, moves, system, everything not below */
    C_BRANCH,       /* B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, BR/BLR/RET */
    C_LOAD,         /* general-register loads, atomics, exclusives, PRFM */
    C_STORE,        /* general-register stores */
    C_SIMD_LOAD,    /* SIMD&FP register loads: LDR q/d/s, LDP q, LD1-LD4, LD1R */
    C_SIMD_STORE,   /* SIMD&FP register stores: STR q, STP q, ST1-ST4 */
    C_FP_SCALAR,    /* scalar FP: FADD s/d, FMADD, FCVT, FCMP, SCVTF, scalar FP in AdvSIMD scalar */
    C_NEON_INT,     /* AdvSIMD integer/other: ADD, MUL, SMULL, shifts, logic, DUP, TBL, ZIP */
    C_NEON_INT_MAC, /* AdvSIMD integer accumulate: MLA/MLS, S/UMLAL(2), S/UMLSL, SQDMLAL,
                       SQRDMLAH, S/UADALP, S/UABA(L) */
    C_NEON_FP,      /* AdvSIMD FP (vector): FADD, FMUL, FMAX, FCVT*, SCVTF, FCADD */
    C_NEON_FMLA,    /* AdvSIMD FP multiply-accumulate: FMLA/FMLS, FMLAL/FMLSL(2), FCMLA, BFMLALB/T */
    C_DOTPROD,      /* SDOT/UDOT/USDOT/SUDOT (vector and by element), BFDOT */
    C_MMLA,         /* SMMLA/UMMLA/USMMLA/BFMMLA */
    C_SVE,          /* any SVE/SVE2 instruction (encoding space op0 = x0010) */
    C_SME,          /* any SME instruction (op0 = 1xx0000) */
    N_CLASSES
};

static const char *const CLASS_NAMES[N_CLASSES] = {
    "scalar_int", "branch", "load", "store", "simd_load", "simd_store", "fp_scalar",
    "neon_int", "neon_int_mac", "neon_fp", "neon_fmla", "dotprod", "mmla", "sve", "sme",
};

typedef struct {
    uint32_t mask, value;
    uint8_t cls;
} Rule;

#define END_RULES {0, 0, 0xFF}

/* Advanced SIMD vector space: bit31 = 0, bits 28:25 = 0111 (0 Q U 0111 ...).
 * First match wins; no match means C_NEON_INT. Fields: U = bit 29, size = 23:22. */
static const Rule SIMD_RULES[] = {
    /* three-register extension: bit24=0 bit21=0 bit15=1 bit10=1, opcode 14:11 */
    {0x9F20FC00, 0x0E009400, C_DOTPROD},      /* SDOT/UDOT (vector)            */
    {0xBF20FC00, 0x0E009C00, C_DOTPROD},      /* USDOT (vector)                */
    {0x9F20FC00, 0x0E00A400, C_MMLA},         /* SMMLA/UMMLA                   */
    {0xBF20FC00, 0x0E00AC00, C_MMLA},         /* USMMLA                        */
    {0xBFE0FC00, 0x2E40EC00, C_MMLA},         /* BFMMLA                        */
    {0xBFE0FC00, 0x2E40FC00, C_DOTPROD},      /* BFDOT (vector)                */
    {0xBFE0FC00, 0x2EC0FC00, C_NEON_FMLA},    /* BFMLALB/BFMLALT (vector)      */
    {0xBF20E400, 0x2E00C400, C_NEON_FMLA},    /* FCMLA (vector)                */
    {0xBF20EC00, 0x2E00E400, C_NEON_FP},      /* FCADD                         */
    {0xBF20F400, 0x2E008400, C_NEON_INT_MAC}, /* SQRDMLAH/SQRDMLSH (vector)    */
    /* three same FP16: bits 22:21=10 bits 15:14=00 bit10=1, opcode 13:11 */
    {0xBF60FC00, 0x0E400C00, C_NEON_FMLA},    /* FMLA/FMLS (vector, half)      */
    {0x9F60C400, 0x0E400400, C_NEON_FP},      /* other FP16 three same         */
    /* three same: bit21=1 bit10=1, opcode 15:11 */
    {0x9F20FC00, 0x0E20CC00, C_NEON_FMLA},    /* FMLA/FMLS, FMLAL2/FMLSL2      */
    {0xBF20FC00, 0x0E20EC00, C_NEON_FMLA},    /* FMLAL/FMLSL (vector)          */
    {0x9F20C400, 0x0E20C400, C_NEON_FP},      /* FP three same (opcode 11xxx)  */
    {0x9F20FC00, 0x0E209400, C_NEON_INT_MAC}, /* MLA/MLS (vector)              */
    {0x9F20FC00, 0x0E207C00, C_NEON_INT_MAC}, /* SABA/UABA                     */
    /* three different: bit21=1 bits 11:10=00, opcode 15:12 */
    {0x9F20FC00, 0x0E205000, C_NEON_INT_MAC}, /* SABAL/UABAL                   */
    {0x9F20CC00, 0x0E208000, C_NEON_INT_MAC}, /* S/UMLAL, SQDMLAL, S/UMLSL, SQDMLSL */
    /* two-register misc: bits 21:17=10000 bits 11:10=10, opcode 16:12 */
    {0x9F3FFC00, 0x0E206800, C_NEON_INT_MAC}, /* SADALP/UADALP                 */
    {0x9FBFFC00, 0x0EA1C800, C_NEON_INT},     /* URECPE/URSQRTE                */
    {0x9F3F8C00, 0x0E218800, C_NEON_FP},      /* FRINT*, FCVT*, SCVTF, FSQRT.. */
    {0x9F3FEC00, 0x0E216800, C_NEON_FP},      /* FCVTN/FCVTXN/BFCVTN, FCVTL    */
    {0x9FBFCC00, 0x0EA0C800, C_NEON_FP},      /* FCMxx #0, FABS, FNEG          */
    {0x9F3E0C00, 0x0E380800, C_NEON_FP},      /* two-register misc FP16        */
    {0x9F3FCC00, 0x0E30C800, C_NEON_FP},      /* across lanes FMAXV/FMINV/..   */
    /* vector x indexed element: bit24=1 bit10=0, opcode 15:12 */
    {0x9F00F400, 0x0F00E000, C_DOTPROD},      /* SDOT/UDOT (by element)        */
    {0xBFC0F400, 0x0FC0F000, C_NEON_FMLA},    /* BFMLALB/T (by element)        */
    {0xBF00F400, 0x0F00F000, C_DOTPROD},      /* SUDOT/USDOT/BFDOT (by element) */
    {0xBF00D400, 0x2F00D000, C_NEON_INT_MAC}, /* SQRDMLAH/SQRDMLSH (by element) */
    {0xBF00A400, 0x0F000000, C_NEON_FMLA},    /* FMLA/FMLS/FMLAL/FMLSL (elem)  */
    {0xBF00A400, 0x0F002000, C_NEON_INT_MAC}, /* SMLAL/SQDMLAL/SMLSL/SQDMLSL   */
    {0xBF009400, 0x2F000000, C_NEON_INT_MAC}, /* MLA/UMLAL/MLS/UMLSL (elem)    */
    {0xBF009400, 0x2F001000, C_NEON_FMLA},    /* FCMLA (by element)            */
    {0xBF00B400, 0x2F008000, C_NEON_FMLA},    /* FMLAL2/FMLSL2 (by element)    */
    {0x9F00F400, 0x0F009000, C_NEON_FP},      /* FMUL/FMULX (by element)       */
    /* bit24=1 bit10=1: modified immediate (bits 22:19 = 0) or shift by immediate */
    {0x9F780400, 0x0F000400, C_NEON_INT},     /* MOVI/MVNI/ORR/BIC/FMOV (imm)  */
    {0x9F00FC00, 0x0F00E400, C_NEON_FP},      /* SCVTF/UCVTF (fixed point)     */
    {0x9F00FC00, 0x0F00FC00, C_NEON_FP},      /* FCVTZS/FCVTZU (fixed point)   */
    END_RULES,
};

/* Everything outside the Advanced SIMD vector/scalar spaces. No match: C_SCALAR_INT. */
static const Rule BASE_RULES[] = {
    {0x1E000000, 0x04000000, C_SVE},          /* op0 = x0010: SVE              */
    {0x9E000000, 0x80000000, C_SME},          /* op0 = 1xx0000: SME            */
    {0x5E000000, 0x1E000000, C_FP_SCALAR},    /* scalar FP data processing     */
    {0x0E000000, 0x0E000000, C_NEON_INT},     /* rest of SIMD&FP: crypto, SHA  */
    /* branches */
    {0x7C000000, 0x14000000, C_BRANCH},       /* B, BL                         */
    {0x7E000000, 0x34000000, C_BRANCH},       /* CBZ, CBNZ                     */
    {0x7E000000, 0x36000000, C_BRANCH},       /* TBZ, TBNZ                     */
    {0xFF000000, 0x54000000, C_BRANCH},       /* B.cond, BC.cond               */
    {0xFE000000, 0xD6000000, C_BRANCH},       /* BR, BLR, RET, ERET, BRAA..    */
    /* loads and stores (op0 = x1x0); V = bit 26, L = bit 22 */
    {0xBE400000, 0x0C400000, C_SIMD_LOAD},    /* LD1-LD4, LD1R.. (structures)  */
    {0xBE400000, 0x0C000000, C_SIMD_STORE},   /* ST1-ST4 (structures)          */
    {0x3F000000, 0x18000000, C_LOAD},         /* LDR (literal), PRFM (literal) */
    {0x3F000000, 0x1C000000, C_SIMD_LOAD},    /* LDR s/d/q (literal)           */
    {0x3FA00000, 0x08A00000, C_LOAD},         /* CAS (atomic)                  */
    {0xBFA00000, 0x08200000, C_LOAD},         /* CASP (atomic)                 */
    {0x3F400000, 0x08400000, C_LOAD},         /* LDXR, LDAXR, LDAR, LDXP ..    */
    {0x3F400000, 0x08000000, C_STORE},        /* STXR, STLXR, STLR, STXP ..    */
    {0x3FE00C00, 0x19000000, C_STORE},        /* STLURB/H/W/X                  */
    {0x3F200C00, 0x19000000, C_LOAD},         /* LDAPUR*                       */
    {0xFFE00C00, 0xD9600000, C_LOAD},         /* LDG                           */
    {0xFFE00C00, 0xD9E00000, C_LOAD},         /* LDGM                          */
    {0xFF200000, 0xD9200000, C_STORE},        /* STG, STZG, ST2G, STGM ..      */
    {0x3E400000, 0x2C400000, C_SIMD_LOAD},    /* LDP/LDNP s/d/q                */
    {0x3E400000, 0x2C000000, C_SIMD_STORE},   /* STP/STNP s/d/q                */
    {0x3E400000, 0x28400000, C_LOAD},         /* LDP, LDNP, LDPSW              */
    {0x3E400000, 0x28000000, C_STORE},        /* STP, STNP, STGP               */
    {0x3E400000, 0x3C400000, C_SIMD_LOAD},    /* LDR/LDUR b/h/s/d/q            */
    {0x3E400000, 0x3C000000, C_SIMD_STORE},   /* STR/STUR b/h/s/d/q            */
    {0x3F200C00, 0x38200000, C_LOAD},         /* LDADD, SWP, LDAPR (atomics)   */
    {0xFF200400, 0xF8200400, C_LOAD},         /* LDRAA/LDRAB                   */
    {0x3EC00000, 0x38000000, C_STORE},        /* STR, STRB, STRH, STUR, STTR   */
    {0x3E000000, 0x38000000, C_LOAD},         /* LDR*, LDUR*, LDTR*, PRFM      */
    {0x0A000000, 0x08000000, C_LOAD},         /* any other load/store encoding */
    END_RULES,
};

static int match(const Rule *rules, uint32_t word, int fallback)
{
    for (const Rule *r = rules; r->cls != 0xFF; r++) {
        if ((word & r->mask) == r->value) {
            return r->cls;
        }
    }
    return fallback;
}

/* Class of one A64 instruction word (exported for the classifier tests). */
int edgekit_classify(uint32_t word)
{
    if ((word & 0x9E000000u) == 0x0E000000u) {          /* AdvSIMD vector */
        return match(SIMD_RULES, word, C_NEON_INT);
    }
    if ((word & 0xDE000000u) == 0x5E000000u) {          /* AdvSIMD scalar */
        /* Same field layout as the vector forms with bit 28 set: decode as vector. */
        int cls = match(SIMD_RULES, word & ~0x10000000u, C_NEON_INT);
        return (cls == C_NEON_FP || cls == C_NEON_FMLA) ? C_FP_SCALAR : C_NEON_INT;
    }
    return match(BASE_RULES, word, C_SCALAR_INT);
}

const char *edgekit_class_name(int cls)
{
    return (cls >= 0 && cls < N_CLASSES) ? CLASS_NAMES[cls] : NULL;
}

int edgekit_n_classes(void)
{
    return N_CLASSES;
}

#ifndef EDGEKIT_CLASSIFIER_ONLY
#include <pthread.h>
#include <unistd.h>
#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

#define MARKER_FD 0x7EDCu
#define NR_LSEEK_AARCH64 62
#define MAX_VCPUS 1024
#define MAX_OPS 1024
#define N_STATES (2 + MAX_OPS)   /* 0 outside, 1 inside (no operator), 2+k operator k */

typedef struct {
    uint64_t c[N_STATES][N_CLASSES];
} Counters;

typedef struct {
    uint32_t n;
    struct { uint32_t cls, count; } e[];
} TbHist;

static _Atomic(Counters *) vcpus[MAX_VCPUS];
static Counters shared_slot;            /* vCPU >= MAX_VCPUS: atomic adds */
static _Atomic unsigned shared_used;
static _Atomic unsigned state;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    uint64_t begins, ends, unmatched_ends, unknown, op_outside, op_dropped;
    uint64_t depth;
    uint64_t ops[MAX_OPS];
} marks;
static char *out_path;
static pid_t owner_pid;

/* Straight to stderr: qemu_plugin_outs() is only shown with `-d plugin`. */
static void say(const char *msg)
{
    fprintf(stderr, "edgekit insncount: %s\n", msg);
}

static Counters *vcpu_counters(unsigned int vcpu)
{
    Counters *c = atomic_load_explicit(&vcpus[vcpu], memory_order_acquire);
    if (c == NULL) {
        Counters *fresh = calloc(1, sizeof(Counters));
        if (fresh == NULL) {
            abort();
        }
        if (atomic_compare_exchange_strong(&vcpus[vcpu], &c, fresh)) {
            c = fresh;
        } else {
            free(fresh);
        }
    }
    return c;
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
    if (vcpu < MAX_VCPUS) {
        vcpu_counters(vcpu);
    }
}

static void tb_exec(unsigned int vcpu, void *udata)
{
    const TbHist *h = udata;
    unsigned st = atomic_load_explicit(&state, memory_order_relaxed);
    if (vcpu < MAX_VCPUS) {
        uint64_t *c = vcpu_counters(vcpu)->c[st];
        for (uint32_t i = 0; i < h->n; i++) {
            c[h->e[i].cls] += h->e[i].count;
        }
        return;
    }
    atomic_store_explicit(&shared_used, 1, memory_order_relaxed);
    for (uint32_t i = 0; i < h->n; i++) {
        __atomic_fetch_add(&shared_slot.c[st][h->e[i].cls], h->e[i].count, __ATOMIC_RELAXED);
    }
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    uint32_t hist[N_CLASSES] = {0};
    uint32_t used = 0;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const uint8_t *b = qemu_plugin_insn_data(insn);
        int cls = C_SCALAR_INT;
        if (qemu_plugin_insn_size(insn) == 4) {   /* A64 words are little-endian */
            cls = edgekit_classify((uint32_t)b[0] | (uint32_t)b[1] << 8 |
                                   (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
        }
        used += hist[cls]++ == 0;
    }
    /* Never freed: QEMU may run a TB until exit and offers no TB-free hook. */
    TbHist *h = malloc(sizeof(TbHist) + used * sizeof(h->e[0]));
    if (h == NULL) {
        abort();
    }
    h->n = 0;
    for (uint32_t c = 0; c < N_CLASSES; c++) {
        if (hist[c]) {
            h->e[h->n].cls = c;
            h->e[h->n++].count = hist[c];
        }
    }
    qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS, h);
}

static void on_marker(uint64_t code)
{
    unsigned st = atomic_load(&state);
    if (code == 1) {
        marks.begins++;
        marks.depth++;
        st = st ? st : 1;
    } else if (code == 2) {
        if (marks.depth == 0) {
            marks.unmatched_ends++;
        } else {
            marks.ends++;
            st = --marks.depth ? st : 0;
        }
    } else if (code >= 16) {
        uint64_t k = code - 16;
        if (marks.depth == 0) {
            marks.op_outside++;
        } else if (k < MAX_OPS) {
            marks.ops[k]++;
            st = 2 + (unsigned)k;
        } else {
            marks.op_dropped++;
            st = 1;
        }
    } else {
        marks.unknown++;
    }
    atomic_store(&state, st);
}

static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                       uint64_t a7, uint64_t a8)
{
    if (num == NR_LSEEK_AARCH64 && a1 == MARKER_FD) {
        pthread_mutex_lock(&lock);
        on_marker(a2);
        pthread_mutex_unlock(&lock);
    }
}

/* Sum states [lo, hi) of one counter block into out. */
static void sum_states(const Counters *c, unsigned lo, unsigned hi, uint64_t out[N_CLASSES])
{
    for (unsigned s = lo; s < hi; s++) {
        for (int k = 0; k < N_CLASSES; k++) {
            out[k] += c->c[s][k];
        }
    }
}

static void put_counts(FILE *f, const uint64_t v[N_CLASSES])
{
    fputc('{', f);
    for (int k = 0; k < N_CLASSES; k++) {
        fprintf(f, "%s\"%s\": %llu", k ? ", " : "", CLASS_NAMES[k], (unsigned long long)v[k]);
    }
    fputc('}', f);
}

static void put_threads(FILE *f, const char *name, int n_vcpus, unsigned lo, unsigned hi)
{
    fprintf(f, ",\n\"%s\": [", name);
    for (int v = 0; v < n_vcpus; v++) {
        uint64_t t[N_CLASSES] = {0};
        Counters *c = atomic_load(&vcpus[v]);
        if (c) {
            sum_states(c, lo, hi, t);
        }
        fputs(v ? ",\n  " : "\n  ", f);
        put_counts(f, t);
    }
    fputs("]", f);
}

static void put_totals(FILE *f, const char *name, int n_vcpus, unsigned lo, unsigned hi)
{
    uint64_t t[N_CLASSES] = {0};
    for (int v = 0; v < n_vcpus; v++) {
        Counters *c = atomic_load(&vcpus[v]);
        if (c) {
            sum_states(c, lo, hi, t);
        }
    }
    sum_states(&shared_slot, lo, hi, t);
    fprintf(f, ",\n\"%s\": ", name);
    put_counts(f, t);
}

static void put_segments(FILE *f, int n_vcpus)
{
    int first = 1;
    fputs(",\n\"segments\": [", f);
    for (unsigned k = 0; k < MAX_OPS; k++) {
        if (marks.ops[k] == 0) {
            continue;
        }
        fprintf(f, "%s\n  {\"operator\": %u, \"markers\": %llu, \"counts\": ", first ? "" : ",",
                k, (unsigned long long)marks.ops[k]);
        uint64_t t[N_CLASSES] = {0};
        for (int v = 0; v < n_vcpus; v++) {
            Counters *c = atomic_load(&vcpus[v]);
            if (c) {
                sum_states(c, 2 + k, 3 + k, t);
            }
        }
        sum_states(&shared_slot, 2 + k, 3 + k, t);
        put_counts(f, t);
        fputc('}', f);
        first = 0;
    }
    fputs("]", f);
}

static void write_json(FILE *f)
{
    int n_vcpus = 0;
    for (int v = 0; v < MAX_VCPUS; v++) {
        n_vcpus = atomic_load(&vcpus[v]) ? v + 1 : n_vcpus;
    }
    fprintf(f, "{\"version\": 1, \"plugin\": \"edgekit-insncount\", \"marker_fd\": %u,\n",
            MARKER_FD);
    fprintf(f, "\"regions\": %llu,\n\"markers\": {\"begin\": %llu, \"end\": %llu, "
            "\"unmatched_end\": %llu, \"open_at_exit\": %llu, \"unknown\": %llu, "
            "\"operator_outside_region\": %llu, \"operator_dropped\": %llu},\n",
            (unsigned long long)marks.begins, (unsigned long long)marks.begins,
            (unsigned long long)marks.ends, (unsigned long long)marks.unmatched_ends,
            (unsigned long long)marks.depth, (unsigned long long)marks.unknown,
            (unsigned long long)marks.op_outside, (unsigned long long)marks.op_dropped);
    fprintf(f, "\"max_vcpus\": %d, \"vcpus_over_limit\": %s,\n\"classes\": [", MAX_VCPUS,
            atomic_load(&shared_used) ? "true" : "false");
    for (int k = 0; k < N_CLASSES; k++) {
        fprintf(f, "%s\"%s\"", k ? ", " : "", CLASS_NAMES[k]);
    }
    fputs("]", f);
    put_totals(f, "inside", n_vcpus, 1, N_STATES);
    put_totals(f, "outside", n_vcpus, 0, 1);
    put_totals(f, "inside_unsegmented", n_vcpus, 1, 2);
    put_threads(f, "per_thread_inside", n_vcpus, 1, N_STATES);
    put_threads(f, "per_thread_outside", n_vcpus, 0, 1);
    put_segments(f, n_vcpus);
    fputs("}\n", f);
}

static void at_exit(qemu_plugin_id_t id, void *udata)
{
    if (getpid() != owner_pid) {
        return;                 /* a fork()ed guest child: the parent reports */
    }
    char *tmp = malloc(strlen(out_path) + 5);
    if (tmp == NULL) {
        return;
    }
    sprintf(tmp, "%s.tmp", out_path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        say("cannot open the counts file for writing");
        free(tmp);
        return;
    }
    pthread_mutex_lock(&lock);
    write_json(f);
    pthread_mutex_unlock(&lock);
    int bad = ferror(f) | fflush(f) | fsync(fileno(f));
    bad |= fclose(f);
    if (bad || rename(tmp, out_path) != 0) {
        say("writing the counts file failed");
        unlink(tmp);
    }
    free(tmp);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    if (info->system_emulation || strcmp(info->target_name, "aarch64") != 0) {
        say("needs qemu-aarch64 (linux-user)");
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "out=", 4) == 0 && argv[i][4] != '\0') {
            out_path = argv[i] + 4;
        } else {
            say("unknown argument (expected out=PATH)");
            return -1;
        }
    }
    if (out_path == NULL) {
        say("missing argument out=PATH");
        return -1;
    }
    owner_pid = getpid();
    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
#endif /* EDGEKIT_CLASSIFIER_ONLY */
