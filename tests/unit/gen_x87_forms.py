#!/usr/bin/env python3
"""Generates x87_forms.h (the forms test_x87.c runs) from the assembly text below with GNU as.
Usage: python3 tests/unit/gen_x87_forms.py > tests/unit/x87_forms.h"""
import os, subprocess, sys, tempfile

ST = ["st(1)", "st(3)", "st(7)"]
forms = []
def f(text, kind="K_NONE"):
    forms.append((text, kind))

# loads and stores
for m in ["dword ptr [rsi]", "qword ptr [rsi]", "tbyte ptr [rsi]", "st(0)", "st(3)", "st(7)"]:
    f("fld " + m)
for m in ["dword ptr [rdi]", "qword ptr [rdi]", "st(2)", "st(0)"]:
    f("fst " + m)
for m in ["dword ptr [rdi]", "qword ptr [rdi]", "tbyte ptr [rdi]", "st(1)", "st(0)", "st(5)"]:
    f("fstp " + m)
for m in ["word ptr [rsi]", "dword ptr [rsi]", "qword ptr [rsi]"]:
    f("fild " + m)
for m in ["word ptr [rdi]", "dword ptr [rdi]"]:
    f("fist " + m)
for m in ["word ptr [rdi]", "dword ptr [rdi]", "qword ptr [rdi]"]:
    f("fistp " + m)
    f("fisttp " + m)
f("fbld tbyte ptr [rsi]"); f("fbstp tbyte ptr [rdi]")
for c in ["fld1", "fldz", "fldpi", "fldl2e", "fldl2t", "fldlg2", "fldln2"]:
    f(c)
f("fxch st(1)"); f("fxch st(5)")
# arithmetic
for op in ["fadd", "fsub", "fsubr", "fmul", "fdiv", "fdivr"]:
    f(op + " dword ptr [rsi]"); f(op + " qword ptr [rsi]")
    f(op + " st, st(1)"); f(op + " st, st(6)"); f(op + " st(3), st")
    f(op + "p st(2), st"); f(op + "p st(1), st")
    f("fi" + op[1:] + " word ptr [rsi]"); f("fi" + op[1:] + " dword ptr [rsi]")
# compares
for m in ["st(1)", "st(4)", "dword ptr [rsi]", "qword ptr [rsi]"]:
    f("fcom " + m); f("fcomp " + m)
f("fcompp"); f("fucom st(1)"); f("fucom st(5)"); f("fucomp st(2)"); f("fucompp")
for op in ["fcomi", "fcomip", "fucomi", "fucomip"]:
    f(op + " st, st(1)"); f(op + " st, st(6)")
for m in ["word ptr [rsi]", "dword ptr [rsi]"]:
    f("ficom " + m); f("ficomp " + m)
f("ftst"); f("fxam")
# unary, transcendental
for c in ["fchs", "fabs", "fsqrt", "frndint", "fscale", "fxtract", "fprem", "fprem1", "fsin", "fcos",
          "fsincos", "fptan", "fpatan", "f2xm1", "fyl2x", "fyl2xp1"]:
    f(c)
# control
f("fnclex"); f("fninit"); f("fnstcw [rdi]"); f("fldcw [rsi]", "K_CW"); f("fnstsw [rdi]"); f("fnstsw ax")
f("fnstenv [rdi]", "K_STENV32"); f(".byte 0x66; fnstenv [rdi]", "K_STENV16")
f("fnsave [rdi]", "K_STENV32"); f(".byte 0x66; fnsave [rdi]", "K_STENV16")
f("fldenv [rsi]", "K_ENV32"); f(".byte 0x66; fldenv [rsi]", "K_ENV16")
f("frstor [rsi]", "K_SAVE32"); f(".byte 0x66; frstor [rsi]", "K_SAVE16")
f("ffree st(3)"); f("ffree st(0)"); f("ffreep st(1)"); f("fdecstp"); f("fincstp"); f("fnop"); f("fwait")
for cc in ["b", "e", "be", "u", "nb", "ne", "nbe", "nu"]:
    f("fcmov%s st, st(1)" % cc); f("fcmov%s st, st(5)" % cc)
# sequences
f("fld1; fld st(1); faddp st(1), st; fstp st(2)")
f("fldpi; fsin; fstp qword ptr [rdi]")
f("fld qword ptr [rsi]; fistp qword ptr [rdi]", "K_NONE")
f("fld1; fldz; fdivp st(1), st; fnstsw ax")
f("fld1; movq rax, mm7")
f("fld1; fld1; emms; fld1")
# MMX
mm = [
    "movd mm0, eax", "movd mm1, [rsi]", "movd eax, mm2", "movd [rdi], mm3", "movq mm0, rax",
    "movq rax, mm1", "movq mm2, mm3", "movq mm4, [rsi]", "movq [rdi], mm5", "movq mm7, mm0",
]
for op in ["paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "paddsb", "paddsw",
           "paddusb", "paddusw", "psubsb", "psubsw", "psubusb", "psubusw", "pcmpeqb", "pcmpeqw",
           "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd", "pmullw", "pmulhw", "pmulhuw", "pmuludq",
           "pmaddwd", "psadbw", "pavgb", "pavgw", "pminub", "pmaxub", "pminsw", "pmaxsw", "pand",
           "pandn", "por", "pxor", "punpcklbw", "punpcklwd", "punpckldq", "punpckhbw", "punpckhwd",
           "punpckhdq", "packsswb", "packssdw", "packuswb"]:
    mm.append(op + " mm0, mm1"); mm.append(op + " mm6, [rsi]")
for op in ["psllw", "pslld", "psllq", "psrlw", "psrld", "psrlq", "psraw", "psrad"]:
    mm.append(op + " mm0, mm1"); mm.append(op + " mm2, [rsi]"); mm.append(op + " mm3, 5")
    mm.append(op + " mm4, 40")
mm += ["pshufw mm0, mm1, 0x1b", "pshufw mm2, [rsi], 0xc6", "pinsrw mm0, eax, 2", "pinsrw mm1, [rsi], 7",
       "pextrw eax, mm1, 3", "pmovmskb eax, mm2", "movntq [rdi], mm0", "maskmovq mm0, mm1",
       "movq2dq xmm0, mm1", "movdq2q mm0, xmm1", "cvtpi2ps xmm0, mm1", "cvtpi2ps xmm0, [rsi]",
       "cvtps2pi mm0, xmm1", "cvtps2pi mm0, [rsi]", "cvttps2pi mm0, xmm1", "cvttps2pi mm2, [rsi]",
       "cvtpi2pd xmm0, mm1", "cvtpi2pd xmm3, [rsi]", "cvtpd2pi mm0, xmm1", "cvtpd2pi mm0, [rsi]",
       "cvttpd2pi mm0, xmm1", "cvttpd2pi mm5, [rsi]", "emms"]
for t in mm:
    f(t, "K_MMX")

def mtype(text, kind):
    if kind in ("K_ENV32", "K_ENV16", "K_SAVE32", "K_SAVE16", "K_CW", "K_MMX"):
        return "T_RAND"
    if "[rsi]" not in text:
        return "T_RAND"
    first = text.split(";")[0].split()[0]
    if "tbyte" in text:
        return "T_BCD" if first == "fbld" else "T_F80"
    if first.startswith("fi"):
        return {"word": "T_I16", "dword": "T_I32", "qword": "T_I64"}[text.split()[1]]
    return {"dword": "T_F32", "qword": "T_F64"}[text.split()[1]]

out = ["/* x87 and MMX forms for test_x87.c: assembly text, encoding (GNU as, 64-bit, Intel syntax),",
       " * input kind, type of the data at [rsi]. Generated by gen_x87_forms.py; do not edit. */"]
with tempfile.TemporaryDirectory() as d:
    for text, kind in forms:
        src = os.path.join(d, "a.s")
        with open(src, "w") as fh:
            fh.write(".intel_syntax noprefix\n" + "\n".join(s.strip() for s in text.split(";")) + "\n")
        subprocess.check_call(["as", "--64", "-o", os.path.join(d, "a.o"), src])
        subprocess.check_call(["objcopy", "-O", "binary", "-j", ".text", os.path.join(d, "a.o"), os.path.join(d, "a.bin")])
        b = open(os.path.join(d, "a.bin"), "rb").read()
        assert len(b) <= 24, text
        out.append('  {"%s", {%s}, %d, %s, %s},' % (text, ", ".join("0x%02x" % x for x in b), len(b), kind,
                                                  mtype(text, kind)))
print("\n".join(out))
