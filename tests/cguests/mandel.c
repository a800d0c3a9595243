/* mandel.c - double-precision numerics (SSE2): a Mandelbrot set in ASCII, square roots, Newton
 * iteration, series, conversions between integers, floats and doubles, and a small n-body step. */
#include "rt.h"

static void mandelbrot(void)
{
	static const char shades[] = " .:-=+*#%@";
	uint64_t total = 0;

	for (int row = 0; row < 24; row++) {
		char line[72];
		double ci = 1.2 - row * (2.4 / 23);

		for (int col = 0; col < 71; col++) {
			double cr = -2.1 + col * (3.0 / 70), zr = 0, zi = 0;
			int it = 0;

			while (it < 200 && zr * zr + zi * zi <= 4.0) {
				double t = zr * zr - zi * zi + cr;

				zi = 2 * zr * zi + ci;
				zr = t;
				it++;
			}
			total += (uint64_t)it;
			line[col] = shades[it >= 200 ? 9 : it % 9];
		}
		line[71] = 0;
		rt_printf("%s\n", line);
	}
	rt_printf("mandelbrot iterations %lu\n", (unsigned long)total);
}

static double newton_sqrt(double x)
{
	double g = x > 1 ? x / 2 : 1;

	for (int i = 0; i < 60; i++)
		g = 0.5 * (g + x / g);
	return g;
}

static void roots(void)
{
	for (int i = 0; i <= 12; i++) {
		double x = i * i * 1.75 + i / 7.0;
		double a = __builtin_sqrt(x), b = newton_sqrt(x);
		float f = __builtin_sqrtf((float)x);

		rt_printf("sqrt(%.6f) = %.15f newton %.15f float %.7f diff %.3f\n", x, a, b,
			  (double)f, (a - b) * 1e15);
	}
}

static void series(void)
{
	double pi = 0, e = 1, term = 1, harm = 0;
	float fsum = 0;

	for (int k = 0; k < 200000; k++)
		pi += (k & 1 ? -4.0 : 4.0) / (2 * k + 1);
	for (int k = 1; k < 25; k++) {
		term /= k;
		e += term;
	}
	for (int k = 1; k <= 100000; k++) {
		harm += 1.0 / k;
		fsum += 1.0f / (float)k;
	}
	rt_printf("leibniz pi %.15f  e %.15f\n", pi, e);
	rt_printf("harmonic %.12f  float %.6f\n", harm, (double)fsum);
}

/* floor() without libm: ROUNDSD where SSE4.1 may be used, else by conversion (|d| < 2^63) */
static double floor_(double d)
{
#ifdef __SSE4_1__
	return __builtin_floor(d);
#else
	double t = (double)(int64_t)d;

	return t > d ? t - 1 : t;
#endif
}

static void conversions(void)
{
	static const double ds[] = { 0.0, 0.49, 0.5, 1.5, -1.5, 2.5, -2.5, 1e10, -1e10,
				     4294967295.0, 9.2e18, -9.2e18, 123.999, -0.999 };
	static const int64_t is[] = { 0, 1, -1, 9007199254740993LL, -9007199254740993LL,
				      9223372036854775807LL, -9223372036854775807LL - 1 };
	static const uint64_t us[] = { 0, 1, 0x8000000000000000ULL, 0xffffffffffffffffULL,
				       0x1fffffffffffffULL, 12345678901234567890ULL };

	for (unsigned i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		double d = ds[i];
		float f = (float)d;
		int32_t i32 = (d > -2e9 && d < 2e9) ? (int32_t)d : 0;

		rt_printf("d %.3f -> i64 %ld i32 %d f %.3f u64 %lu floor %ld\n", d, (long)(int64_t)d,
			  i32, (double)f, d >= 0 ? (unsigned long)(uint64_t)d : 0UL,
			  (long)floor_(d));
	}
	for (unsigned i = 0; i < sizeof(is) / sizeof(is[0]); i++)
		rt_printf("i64 %ld -> d %.1f f %.1f\n", (long)is[i], (double)is[i],
			  (double)(float)is[i]);
	for (unsigned i = 0; i < sizeof(us) / sizeof(us[0]); i++)
		rt_printf("u64 %lu -> d %.1f\n", (unsigned long)us[i], (double)us[i]);
	{
		union { double d; uint64_t u; } a = { .d = 0.1 + 0.2 }, b = { .d = 1e-310 / 3 };

		rt_printf("bits 0.1+0.2 %016lx  denormal/3 %016lx\n", (unsigned long)a.u,
			  (unsigned long)b.u);
	}
	{
		double m = 0;

		for (int i = -5; i <= 5; i++) {
			double x = i * 0.7;

			m += __builtin_fabs(x) + (x < 0 ? -x * x : x * x) + (x > 0.3 ? x : 0.3) +
			     (x < -0.3 ? x : -0.3);
		}
		rt_printf("abs/min/max sum %.12f\n", m);
	}
}

/* long double: the x87 stack (FLD/FMUL/FDIV/FSQRT, FILD/FISTP, FUCOMIP); printed as the
 * 80-bit pattern, so the extended precision is compared bit for bit */
static void print_ld(const char *label, long double v)
{
	union { long double ld; struct { uint64_t mant; uint16_t se; } b; } u = { .ld = v };

	rt_printf("%-12s %04x:%016lx  %.15f\n", label, u.b.se, (unsigned long)u.b.mant, (double)v);
}

static void x87(void)
{
	long double e = 1, t = 1, h = 0, pi = 3, x = 2;
	volatile long double big = 1e4000L;

	for (int k = 1; k < 30; k++) {
		t /= k;
		e += t;
	}
	for (int k = 1; k <= 1000; k++)
		h += 1.0L / k;
	for (int k = 1; k < 40; k++)	/* Nilakantha series */
		pi += (k & 1 ? 4.0L : -4.0L) / ((2.0L * k) * (2.0L * k + 1) * (2.0L * k + 2));
	print_ld("e", e);
	print_ld("harmonic", h);
	print_ld("pi", pi);
	print_ld("sqrt(2)", __builtin_sqrtl(x));
	print_ld("1e4000/3", big / 3);
	print_ld("-|x|", -__builtin_fabsl(-7.25L));
	print_ld("from i64", (long double)-1234567890123456789LL);
	print_ld("from double", (long double)0.1);
	rt_printf("to i64 %ld %ld, to double %.17f, compare %d %d\n", (long)(int64_t)(e * 1e15L),
		  (long)(int64_t)(-pi * 1e17L), (double)(pi - 3), e < pi, big > e);
}

struct body { double x, y, vx, vy, m; };

static void nbody(void)
{
	struct body b[4] = {
		{ 0, 0, 0, 0, 1000 }, { 100, 0, 0, 3.2, 1 }, { -150, 0, 0, -2.6, 2 },
		{ 0, 220, -2.1, 0, 0.5 },
	};
	double dt = 0.01;

	for (int step = 0; step < 20000; step++) {
		for (int i = 0; i < 4; i++) {
			double ax = 0, ay = 0;

			for (int j = 0; j < 4; j++) {
				if (i == j)
					continue;
				double dx = b[j].x - b[i].x, dy = b[j].y - b[i].y;
				double r2 = dx * dx + dy * dy + 1e-3, r = __builtin_sqrt(r2);

				ax += 10 * b[j].m * dx / (r2 * r);
				ay += 10 * b[j].m * dy / (r2 * r);
			}
			b[i].vx += ax * dt;
			b[i].vy += ay * dt;
		}
		for (int i = 0; i < 4; i++) {
			b[i].x += b[i].vx * dt;
			b[i].y += b[i].vy * dt;
		}
	}
	for (int i = 0; i < 4; i++)
		rt_printf("body %d at (%.9f, %.9f) v (%.9f, %.9f)\n", i, b[i].x, b[i].y, b[i].vx,
			  b[i].vy);
}

int main(void)
{
	mandelbrot();
	roots();
	series();
	conversions();
	nbody();
	x87();
	return 0;
}
