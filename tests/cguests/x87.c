/* x87.c - the x87 unit through inline asm: transcendental instructions (FSIN, FCOS, FSINCOS,
 * FPTAN, FPATAN, FYL2X, FYL2XP1, F2XM1), FSCALE, FXTRACT, FPREM/FPREM1, FRNDINT under each
 * rounding control, and arithmetic at each precision control; results as 80-bit patterns. */
#include "rt.h"

static uint64_t seed = 0x87;

static void print_ld(const char *label, long double v)
{
	union { long double ld; struct { uint64_t mant; uint16_t se; } b; } u = { .ld = v };

	rt_printf("%-10s %04x:%016lx\n", label, u.b.se, (unsigned long)u.b.mant);
}

enum { FSIN, FCOS, F2XM1, FRNDINT, FSQRT };

static long double un(int which, long double x)
{
	long double r = x;

	switch (which) {
	case FSIN: __asm__("fsin" : "+t"(r)); break;
	case FCOS: __asm__("fcos" : "+t"(r)); break;
	case F2XM1: __asm__("f2xm1" : "+t"(r)); break;
	case FRNDINT: __asm__("frndint" : "+t"(r)); break;
	default: __asm__("fsqrt" : "+t"(r)); break;
	}
	return r;
}

/* FPATAN, FYL2X, FYL2XP1, FSCALE, FPREM, FPREM1: st(1) op st(0) */
static long double bin(int which, long double y, long double x)
{
	long double r;

	switch (which) {
	case 0: __asm__("fpatan" : "=t"(r) : "0"(x), "u"(y) : "st(1)"); break;
	case 1: __asm__("fyl2x" : "=t"(r) : "0"(x), "u"(y) : "st(1)"); break;
	case 2: __asm__("fyl2xp1" : "=t"(r) : "0"(x), "u"(y) : "st(1)"); break;
	case 3: __asm__("fscale" : "=t"(r) : "0"(x), "u"(y)); break;
	case 4: __asm__("1: fprem\n\tfnstsw %%ax\n\ttestb $4, %%ah\n\tjnz 1b"
			: "=t"(r) : "0"(x), "u"(y) : "ax", "cc"); break;
	default: __asm__("1: fprem1\n\tfnstsw %%ax\n\ttestb $4, %%ah\n\tjnz 1b"
			 : "=t"(r) : "0"(x), "u"(y) : "ax", "cc"); break;
	}
	return r;
}

static uint64_t h;

static void fold(long double v)
{
	union { long double ld; struct { uint64_t mant; uint16_t se; } b; } u = { .ld = v };

	h = (h ^ u.b.mant) * 0x100000001b3ULL;
	h = (h ^ u.b.se) * 0x100000001b3ULL;
}

static long double rnd(long double scale)
{
	return (long double)(int64_t)rt_rand(&seed) / 9223372036854775808.0L * scale;
}

static void set_cw(uint16_t cw)
{
	__asm__ volatile("fldcw %0" : : "m"(cw));
}

int main(void)
{
	static const char *const names[] = { "fsin", "fcos", "f2xm1", "frndint", "fsqrt" };
	static const char *const bnames[] = { "fpatan", "fyl2x", "fyl2xp1", "fscale", "fprem",
					      "fprem1" };
	long double s, c;

	/* a few single values, printed one by one */
	print_ld("fsin 1", un(FSIN, 1.0L));
	print_ld("fcos 1", un(FCOS, 1.0L));
	print_ld("fsin 1e6", un(FSIN, 1e6L));
	print_ld("fsin pi", un(FSIN, 3.14159265358979323846264338327950288L));
	print_ld("f2xm1 .5", un(F2XM1, 0.5L));
	print_ld("fpatan", bin(0, 1.0L, 1.0L));
	print_ld("fyl2x 10", bin(1, 1.0L, 10.0L));
	print_ld("fyl2xp1", bin(2, 1.0L, 0.25L));
	__asm__("fsincos" : "=t"(c), "=u"(s) : "0"(0.7L));
	print_ld("fsincos s", s);
	print_ld("fsincos c", c);
	__asm__("fptan" : "=t"(c), "=u"(s) : "0"(0.7L));
	print_ld("fptan 1", c);
	print_ld("fptan tan", s);
	__asm__("fxtract" : "=t"(c), "=u"(s) : "0"(-1234.5678L));
	print_ld("fxtract m", c);
	print_ld("fxtract e", s);

	/* many random arguments in each function's domain, one hash per instruction */
	for (int f = 0; f < 5; f++) {
		h = 0;
		for (int i = 0; i < 2000; i++) {
			long double x = rnd(f == F2XM1 ? 1 : f == FSQRT ? 1e6L : 100);

			fold(un(f, f == FSQRT && x < 0 ? -x : x));
		}
		rt_printf("%-8s %016lx\n", names[f], (unsigned long)h);
	}
	for (int f = 0; f < 6; f++) {
		h = 0;
		for (int i = 0; i < 2000; i++) {
			long double y = rnd(f == 3 ? 64 : 1000), x = rnd(f == 2 ? 0.29L : 1000);

			if (f == 1 && x < 0)
				x = -x;
			if (f == 3)
				y = (long double)(int64_t)y;
			fold(bin(f, y, x));
		}
		rt_printf("%-8s %016lx\n", bnames[f], (unsigned long)h);
	}

	/* rounding control (CW bits 10-11) and precision control (bits 8-9) */
	for (int rc = 0; rc < 4; rc++)
		for (int pc = 0; pc < 4; pc += (pc == 0 ? 2 : 1)) {
			h = 0;
			set_cw((uint16_t)(0x037f & ~0x0f00) | (uint16_t)(rc << 10) | (uint16_t)(pc << 8));
			for (int i = 0; i < 1000; i++) {
				long double a = rnd(1e6L), b = rnd(1e3L);

				fold(a + b);
				fold(a * b);
				fold(a / (b + 2000));
				fold(un(FSQRT, a < 0 ? -a : a));
				fold(un(FRNDINT, a));
				fold((long double)(int64_t)(a * 1e9L));
			}
			set_cw(0x037f);
			rt_printf("rc %d pc %d  %016lx\n", rc, pc, (unsigned long)h);
		}
	return 0;
}
