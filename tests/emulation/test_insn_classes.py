"""The A64 classifier in insncount.c, checked against GNU as encodings (no QEMU needed).

Each row assembles one instruction with the cross assembler and compares the
class `edgekit_classify()` gives its 32-bit word with the expected one.
"""

from __future__ import annotations

import ctypes
import shutil
import struct
import subprocess
from importlib import resources
from pathlib import Path

import pytest

from edge_kit.emulation.insncounts import CLASSES

AS, OBJCOPY = "aarch64-linux-gnu-as", "aarch64-linux-gnu-objcopy"
ARCH = ".arch armv8.6-a+sve2+sme+i8mm+bf16+memtag+fp16+fp16fml+dotprod+crypto+sha3+sm4+lse+rcpc"

pytestmark = pytest.mark.skipif(
    shutil.which(AS) is None or shutil.which("gcc") is None,
    reason=f"needs gcc and {AS} (apt-get install binutils-aarch64-linux-gnu)",
)

EXPECTED: dict[str, list[str]] = {
    "scalar_int": [
        "add x0, x1, x2",
        "add x0, x1, #4",
        "movz x0, #1",
        "madd x0, x1, x2, x3",
        "sdiv x0, x1, x2",
        "csel x0, x1, x2, eq",
        "cmp x0, #3",
        "lsl x0, x1, #3",
        "ubfx x0, x1, #4, #8",
        "adrp x0, .",
        "nop",
        "dmb ish",
        "svc #0",
        "mrs x0, tpidr_el0",
        "paciasp",
        "smstart",
        "udf #0",
    ],
    "branch": [
        "b .",
        "bl .",
        "b.ne .",
        "cbz x0, .",
        "cbnz w1, .",
        "tbz x0, #3, .",
        "tbnz w0, #1, .",
        "br x1",
        "blr x2",
        "ret",
        "retaa",
        "braa x0, x1",
    ],
    "load": [
        "ldr x0, [x1]",
        "ldr w0, [x1, #4]",
        "ldrb w0, [x1], #1",
        "ldrsh x0, [x1, x2, lsl #1]",
        "ldur x0, [x1, #-8]",
        "ldtr x0, [x1]",
        "ldr x0, .",
        "ldrsw x0, .",
        "prfm pldl1keep, [x0]",
        "prfm pldl1keep, .",
        "ldp x0, x1, [x2]",
        "ldpsw x0, x1, [x2]",
        "ldnp x0, x1, [x2]",
        "ldxr x0, [x1]",
        "ldaxr w0, [x1]",
        "ldar x0, [x1]",
        "ldlar x0, [x1]",
        "ldxp x0, x1, [x2]",
        "ldadd x0, x1, [x2]",
        "stadd x0, [x2]",
        "swp x0, x1, [x2]",
        "cas x0, x1, [x2]",
        "casp x0, x1, x2, x3, [x4]",
        "ldapr x0, [x1]",
        "ldapur x0, [x1]",
        "ldapursw x0, [x1]",
        "ldraa x0, [x1]",
        "ldg x0, [x1]",
        "ldgm x0, [x1]",
    ],
    "store": [
        "str x0, [x1]",
        "strb w0, [x1, #1]",
        "strh w0, [x1, x2]",
        "stur x0, [x1, #-8]",
        "sttr x0, [x1]",
        "str x0, [x1, #8]!",
        "stp x0, x1, [sp, #-16]!",
        "stnp x0, x1, [x2]",
        "stxr w3, x0, [x1]",
        "stlr x0, [x1]",
        "stllr x0, [x1]",
        "stxp w3, x0, x1, [x2]",
        "stxp w3, w0, w1, [x2]",
        "stlur x0, [x1]",
        "stg x0, [x1]",
        "stgp x0, x1, [x2]",
    ],
    "simd_load": [
        "ldr q0, [x1]",
        "ldr d0, [x1, #8]",
        "ldr s0, [x1], #4",
        "ldr b0, [x1]",
        "ldur q0, [x1, #-16]",
        "ldr q0, [x1, x2, lsl #4]",
        "ldr q0, .",
        "ldp q0, q1, [x2]",
        "ldnp d0, d1, [x2]",
        "ld1 {v0.16b}, [x0]",
        "ld1 {v0.4s, v1.4s}, [x0], #32",
        "ld4 {v0.4s-v3.4s}, [x0]",
        "ld1 {v0.s}[1], [x0]",
        "ld1r {v0.4s}, [x0]",
        "ld2 {v0.h, v1.h}[3], [x0], x2",
    ],
    "simd_store": [
        "str q0, [x1]",
        "str d0, [x1, #8]",
        "stur s0, [x1, #-4]",
        "str b0, [x1]",
        "stp q0, q1, [x2]",
        "stnp q0, q1, [x2]",
        "st1 {v0.16b}, [x0]",
        "st1 {v0.4s, v1.4s}, [x0], #32",
        "st2 {v0.4s, v1.4s}, [x0]",
        "st1 {v0.s}[1], [x0]",
        "st4 {v0.b, v1.b, v2.b, v3.b}[0], [x0]",
    ],
    "fp_scalar": [
        "fadd s0, s1, s2",
        "fadd d0, d1, d2",
        "fadd h0, h1, h2",
        "fmul d0, d1, d2",
        "fmadd s0, s1, s2, s3",
        "fnmsub d0, d1, d2, d3",
        "fdiv s0, s1, s2",
        "fsqrt d0, d1",
        "fcvt d0, s1",
        "fcvtzs w0, s1",
        "scvtf d0, x1",
        "fmov s0, w1",
        "fmov w0, s1",
        "fmov d0, #1.0",
        "fcmp s0, s1",
        "fcsel d0, d1, d2, eq",
        "frintn s0, s1",
        "fabs d0, d1",
        "fmla s0, s1, v2.s[1]",
        "fmul d0, d1, v2.d[1]",
        "fmla h0, h1, v2.h[1]",
        "fabd s0, s1, s2",
        "fmulx s0, s1, s2",
        "faddp s0, v1.2s",
        "fmaxnmp s0, v1.2s",
        "fcmeq s0, s1, #0.0",
        "scvtf s0, s1",
        "frecpe s0, s1",
        "fcvtzs s0, s1, #3",
        "fcvtxn s0, d1",
    ],
    "neon_int": [
        "add v0.4s, v1.4s, v2.4s",
        "sub v0.16b, v1.16b, v2.16b",
        "mul v0.4s, v1.4s, v2.4s",
        "mul v0.8h, v1.8h, v2.h[3]",
        "smull v0.8h, v1.8b, v2.8b",
        "umull2 v0.4s, v1.8h, v2.8h",
        "smull v0.4s, v1.4h, v2.h[1]",
        "umull v0.4s, v1.4h, v2.h[1]",
        "sqdmulh v0.4s, v1.4s, v2.4s",
        "sqrdmulh v0.4s, v1.4s, v2.s[0]",
        "sqdmull v0.4s, v1.4h, v2.h[1]",
        "and v0.16b, v1.16b, v2.16b",
        "eor v0.16b, v1.16b, v2.16b",
        "bsl v0.16b, v1.16b, v2.16b",
        "orr v0.4s, #1",
        "movi v0.16b, #1",
        "movi v0.2d, #0",
        "mvni v0.4s, #1",
        "fmov v0.4s, #1.0",
        "dup v0.4s, w1",
        "dup v0.4s, v1.s[1]",
        "ins v0.s[1], w0",
        "umov w0, v1.s[1]",
        "mov v0.16b, v1.16b",
        "ext v0.16b, v1.16b, v2.16b, #3",
        "tbl v0.16b, {v1.16b}, v2.16b",
        "zip1 v0.4s, v1.4s, v2.4s",
        "uzp2 v0.8h, v1.8h, v2.8h",
        "trn1 v0.16b, v1.16b, v2.16b",
        "sshr v0.4s, v1.4s, #3",
        "shl v0.4s, v1.4s, #3",
        "sqrshrn v0.8b, v1.8h, #3",
        "sshll v0.8h, v1.8b, #0",
        "ssra v0.4s, v1.4s, #3",
        "xtn v0.8b, v1.8h",
        "sqxtn v0.8b, v1.8h",
        "saddlp v0.8h, v1.16b",
        "cnt v0.16b, v1.16b",
        "abs v0.4s, v1.4s",
        "neg v0.4s, v1.4s",
        "cmgt v0.4s, v1.4s, #0",
        "cmeq v0.4s, v1.4s, v2.4s",
        "rev64 v0.4s, v1.4s",
        "addv s0, v1.4s",
        "saddlv h0, v1.16b",
        "smaxv b0, v1.16b",
        "addp v0.4s, v1.4s, v2.4s",
        "smax v0.4s, v1.4s, v2.4s",
        "sabd v0.4s, v1.4s, v2.4s",
        "uaddl v0.8h, v1.8b, v2.8b",
        "saddw v0.8h, v0.8h, v1.8b",
        "addhn v0.8b, v1.8h, v2.8h",
        "pmull v0.8h, v1.8b, v2.8b",
        "urecpe v0.4s, v1.4s",
        "ursqrte v0.2s, v1.2s",
        "aese v0.16b, v1.16b",
        "sha256h q0, q1, v2.4s",
        "sha1h s0, s1",
        "eor3 v0.16b, v1.16b, v2.16b, v3.16b",
        "add d0, d1, d2",
        "sqadd s0, s1, s2",
        "addp d0, v1.2d",
        "mov s0, v1.s[1]",
        "sqdmlal s0, h1, h2",
        "sqrdmlah s0, s1, s2",
        "sshr d0, d1, #3",
        "cmeq d0, d1, #0",
        "uqxtn b0, h1",
    ],
    "neon_int_mac": [
        "mla v0.4s, v1.4s, v2.4s",
        "mls v0.8h, v1.8h, v2.8h",
        "mla v0.4s, v1.4s, v2.s[1]",
        "mls v0.4s, v1.4s, v2.s[1]",
        "smlal v0.8h, v1.8b, v2.8b",
        "smlal2 v0.4s, v1.8h, v2.8h",
        "umlal v0.2d, v1.2s, v2.2s",
        "smlsl v0.4s, v1.4h, v2.4h",
        "umlsl2 v0.8h, v1.16b, v2.16b",
        "sqdmlal v0.4s, v1.4h, v2.4h",
        "sqdmlsl v0.4s, v1.4h, v2.4h",
        "smlal v0.4s, v1.4h, v2.h[1]",
        "umlal2 v0.4s, v1.8h, v2.h[7]",
        "smlsl v0.4s, v1.4h, v2.h[1]",
        "umlsl v0.2d, v1.2s, v2.s[3]",
        "sqdmlal v0.4s, v1.4h, v2.h[1]",
        "sqdmlsl2 v0.2d, v1.4s, v2.s[1]",
        "sadalp v0.8h, v1.16b",
        "uadalp v0.4s, v1.8h",
        "saba v0.4s, v1.4s, v2.4s",
        "uaba v0.16b, v1.16b, v2.16b",
        "sabal v0.8h, v1.8b, v2.8b",
        "uabal2 v0.4s, v1.8h, v2.8h",
        "sqrdmlah v0.4s, v1.4s, v2.4s",
        "sqrdmlsh v0.8h, v1.8h, v2.8h",
        "sqrdmlah v0.4s, v1.4s, v2.s[1]",
        "sqrdmlsh v0.4s, v1.4s, v2.s[1]",
    ],
    "neon_fp": [
        "fadd v0.4s, v1.4s, v2.4s",
        "fadd v0.8h, v1.8h, v2.8h",
        "fsub v0.2d, v1.2d, v2.2d",
        "fmul v0.4s, v1.4s, v2.4s",
        "fmul v0.4s, v1.4s, v2.s[1]",
        "fmul v0.8h, v1.8h, v2.h[1]",
        "fmulx v0.4s, v1.4s, v2.s[1]",
        "fdiv v0.4s, v1.4s, v2.4s",
        "fmax v0.4s, v1.4s, v2.4s",
        "fmaxnm v0.8h, v1.8h, v2.8h",
        "fmin v0.8h, v1.8h, v2.8h",
        "faddp v0.4s, v1.4s, v2.4s",
        "fabd v0.4s, v1.4s, v2.4s",
        "fcmge v0.4s, v1.4s, v2.4s",
        "facgt v0.4s, v1.4s, v2.4s",
        "fcmgt v0.4s, v1.4s, #0.0",
        "fabs v0.4s, v1.4s",
        "fneg v0.2d, v1.2d",
        "fabs v0.8h, v1.8h",
        "fcmeq v0.8h, v1.8h, #0.0",
        "fsqrt v0.4s, v1.4s",
        "frintn v0.4s, v1.4s",
        "frintz v0.8h, v1.8h",
        "frint32z v0.4s, v1.4s",
        "fcvtzs v0.4s, v1.4s",
        "fcvtas v0.4s, v1.4s",
        "fcvtzs v0.4s, v1.4s, #3",
        "scvtf v0.4s, v1.4s",
        "ucvtf v0.4s, v1.4s, #3",
        "scvtf v0.8h, v1.8h",
        "fcvtn v0.4h, v1.4s",
        "fcvtl v0.4s, v1.4h",
        "fcvtl2 v0.2d, v1.4s",
        "fcvtxn v0.2s, v1.2d",
        "bfcvtn v0.4h, v1.4s",
        "frecpe v0.4s, v1.4s",
        "frsqrts v0.4s, v1.4s, v2.4s",
        "fmaxv s0, v1.4s",
        "fminnmv h0, v1.8h",
        "fcadd v0.4s, v1.4s, v2.4s, #90",
    ],
    "neon_fmla": [
        "fmla v0.4s, v1.4s, v2.4s",
        "fmls v0.2d, v1.2d, v2.2d",
        "fmla v0.8h, v1.8h, v2.8h",
        "fmls v0.8h, v1.8h, v2.8h",
        "fmla v0.4s, v1.4s, v2.s[1]",
        "fmls v0.2d, v1.2d, v2.d[1]",
        "fmla v0.8h, v1.8h, v2.h[7]",
        "fmlal v0.4s, v1.4h, v2.4h",
        "fmlsl v0.4s, v1.4h, v2.4h",
        "fmlal2 v0.2s, v1.2h, v2.2h",
        "fmlsl2 v0.4s, v1.4h, v2.4h",
        "fmlal v0.4s, v1.4h, v2.h[1]",
        "fmlal2 v0.4s, v1.4h, v2.h[1]",
        "fmlsl v0.4s, v1.4h, v2.h[1]",
        "fmlsl2 v0.4s, v1.4h, v2.h[7]",
        "fcmla v0.4s, v1.4s, v2.4s, #90",
        "fcmla v0.4s, v1.4s, v2.s[1], #0",
        "fcmla v0.8h, v1.8h, v2.h[1], #180",
        "bfmlalb v0.4s, v1.8h, v2.8h",
        "bfmlalt v0.4s, v1.8h, v2.h[3]",
    ],
    "dotprod": [
        "sdot v0.4s, v1.16b, v2.16b",
        "udot v0.2s, v1.8b, v2.8b",
        "sdot v0.4s, v1.16b, v2.4b[3]",
        "udot v0.4s, v1.16b, v2.4b[0]",
        "usdot v0.4s, v1.16b, v2.16b",
        "usdot v0.4s, v1.16b, v2.4b[1]",
        "sudot v0.4s, v1.16b, v2.4b[1]",
        "bfdot v0.4s, v1.8h, v2.8h",
        "bfdot v0.2s, v1.4h, v2.2h[1]",
    ],
    "mmla": [
        "smmla v0.4s, v1.16b, v2.16b",
        "ummla v0.4s, v1.16b, v2.16b",
        "usmmla v0.4s, v1.16b, v2.16b",
        "bfmmla v0.4s, v1.8h, v2.8h",
    ],
    "sve": [
        "ptrue p0.s",
        "ld1w {z0.s}, p0/z, [x0]",
        "st1w {z0.s}, p0, [x0]",
        "fmla z0.s, p0/m, z1.s, z2.s",
        "sdot z0.s, z1.b, z2.b",
        "smmla z0.s, z1.b, z2.b",
        "whilelo p0.s, x0, x1",
        "add z0.s, z1.s, z2.s",
        "cntw x0",
        "incw x0",
        "ldr z0, [x0]",
        "ld1rqb {z0.b}, p0/z, [x0]",
        "movprfx z0, z1",
        "fadd z0.s, p0/m, z0.s, z2.s",
    ],
    "sme": [
        "fmopa za0.s, p0/m, p1/m, z0.s, z1.s",
        "zero {za}",
        "smopa za0.s, p0/m, p1/m, z0.b, z1.b",
        "ld1w {za0h.s[w12, 0]}, p0/z, [x0]",
        "addha za0.s, p0/m, p1/m, z0.s",
        "mova z0.s, p0/m, za0h.s[w12, 0]",
    ],
}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    """insncount.c's classifier alone, built for the host (no QEMU header needed)."""
    out = tmp_path_factory.mktemp("classifier") / "libclassify.so"
    src = resources.files("edge_kit.emulation").joinpath("insncount.c")
    with resources.as_file(src) as path:
        subprocess.run(
            ["gcc", "-O1", "-shared", "-fPIC", "-DEDGEKIT_CLASSIFIER_ONLY", str(path), "-o", str(out)],
            check=True,
            timeout=120,
        )
    lib = ctypes.CDLL(str(out))
    lib.edgekit_classify.argtypes = [ctypes.c_uint32]
    lib.edgekit_classify.restype = ctypes.c_int
    lib.edgekit_class_name.argtypes = [ctypes.c_int]
    lib.edgekit_class_name.restype = ctypes.c_char_p
    return lib


def _assemble(lines: list[str], work: Path) -> list[int]:
    src, obj, raw = work / "insns.s", work / "insns.o", work / "insns.bin"
    src.write_text(ARCH + "\n" + "\n".join(lines) + "\n")
    subprocess.run([AS, str(src), "-o", str(obj)], check=True, timeout=60)
    subprocess.run([OBJCOPY, "-O", "binary", "-j", ".text", str(obj), str(raw)], check=True, timeout=60)
    data = raw.read_bytes()
    assert len(data) == 4 * len(lines)
    return list(struct.unpack(f"<{len(lines)}I", data))


def test_class_names_match_python(classifier: ctypes.CDLL) -> None:
    names = tuple(classifier.edgekit_class_name(i).decode() for i in range(len(CLASSES)))
    assert names == CLASSES
    assert classifier.edgekit_class_name(len(CLASSES)) is None


def test_every_encoding_gets_its_class(classifier: ctypes.CDLL, tmp_path: Path) -> None:
    rows = [(insn, cls) for cls, insns in EXPECTED.items() for insn in insns]
    words = _assemble([insn for insn, _ in rows], tmp_path)
    wrong = []
    for (insn, want), word in zip(rows, words, strict=True):
        got = classifier.edgekit_class_name(classifier.edgekit_classify(word)).decode()
        if got != want:
            wrong.append(f"{insn!r} ({word:#010x}): {got}, expected {want}")
    assert not wrong, "\n".join(wrong)
    assert set(EXPECTED) == set(CLASSES)
