/* fmt.c - printf torture: every conversion, flag, width and precision rt_printf knows, with
 * negative, extreme and 64-bit values and doubles (varargs through registers and the stack). */
#include "rt.h"

#define T(...) do { rt_printf("[" __VA_ARGS__); rt_printf("]\n"); } while (0)

/* Many arguments of mixed classes: the later ones travel on the stack. */
static void many(void)
{
	T("%d %d %d %d %d %d %d %d %d %d", 1, -2, 3, -4, 5, -6, 7, -8, 9, -10);
	T("%f %f %f %f %f %f %f %f %f %f", 0.5, -1.5, 2.25, -3.125, 4.0, 5.5, 6.75, 7.0, 8.5,
	  9.25);
	T("%d %.2f %s %ld %.3f %c %x %.1f %lu %.4f %d", -1, 1.25, "mix", -1234567890123L, 2.5,
	  'z', 0xbeefu, -0.75, 18446744073709551615UL, 3.14159, 42);
}

static void ints(void)
{
	static const int vals[] = { 0, 1, -1, 7, -7, 42, -42, 999, -1000, 2147483647,
				    -2147483647 - 1, 65535, -65536 };

	for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		int v = vals[i];

		T("%d|%i|%5d|%-5d|%05d|%+d|% d|%.3d|%8.4d|%-+8d|%u|%x|%X|%o", v, v, v, v, v, v,
		  v, v, v, v, (unsigned)v, (unsigned)v, (unsigned)v, (unsigned)v);
	}
	T("%*d|%-*d|%.*d|%*.*d", 6, 12, 6, 12, 4, 7, 8, 3, -5);
	T("%*d|", -6, 99);
	T("%.0d|%.0x|%5.0d|", 0, 0u, 0);
}

static void longs(void)
{
	static const int64_t vals[] = {
		0, 1, -1, 4294967295LL, 4294967296LL, -4294967296LL, 1234567890123456789LL,
		-1234567890123456789LL, 9223372036854775807LL, -9223372036854775807LL - 1,
	};

	for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		long v = vals[i];

		T("%ld|%lu|%lx|%lX|%lo|%22ld|%-22ld|%022ld|%+ld|%lld|%zu", v, (unsigned long)v,
		  (unsigned long)v, (unsigned long)v, (unsigned long)v, v, v, v, v,
		  (long long)v, (size_t)v);
	}
	T("%016lx|%p|%p", 0xdeadbeefUL, (void *)0x1234, (void *)0);
}

/* rt_printf without the format attribute, for formats gcc would warn about */
static void raw(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
	rt_printf("]\n");
}

static void strs(void)
{
	const char *null = 0;

	T("%s|%10s|%-10s|%.3s|%10.3s|%-10.3s|%.0s|%s", "hello", "hello", "hello", "hello",
	  "hello", "hello", "hello", "");
	raw("[%s|%c%c%c|%3c|%-3c|%%|%5%|", null, 'a', 'b', 'c', 'x', 'y');
	raw("[unknown %q conversion, trailing %");
}

static void doubles(void)
{
	static const double vals[] = {
		0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 0.2, 0.3, 1.0 / 3, -2.0 / 3, 3.14159265358979,
		2.718281828459045, 1e-5, 1e-10, 123456.789, -98765.4321, 0.9999995, 9.5, 99.995,
		1e15, 1.5e17, 1e18, 1.234e20, -5.5e22, 1e300, 4.9e-324, 2.2250738585072014e-308,
		1.7976931348623157e308,
	};

	for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		double v = vals[i];

		T("%f|%.0f|%.1f|%.2f|%.3f|%.10f|%.18f|%12.4f|%-12.2f|%012.3f|%+.2f|% .1f", v, v, v,
		  v, v, v, v, v, v, v, v, v);
	}
	{
		volatile double zero = 0.0;
		double inf = 1.0 / zero, nan = zero / zero;

		T("%f|%f|%8.2f|%-8f|%+f|%08f", inf, -inf, inf, -inf, inf, inf);
		T("%f|%5.1f|", nan, -nan);
	}
	T("%.*f|%*.*f|", 4, 2.0 / 7, 10, 2, -2.0 / 7);
	/* floats are promoted to double */
	T("%f|%.9f", (double)1.1f, (double)(1.0f / 3.0f));
}

static void snprintf_cases(void)
{
	char buf[16];
	int n;

	n = rt_snprintf(buf, sizeof(buf), "%d-%s-%x", 12345, "abcdef", 0xabcu);
	T("snprintf %d \"%s\"", n, buf);
	n = rt_snprintf(buf, 5, "%s", "truncated");
	T("snprintf %d \"%s\"", n, buf);
	n = rt_snprintf(buf, 0, "%ld", 1234567L);
	T("snprintf %d", n);
}

int main(void)
{
	int n;

	ints();
	longs();
	strs();
	doubles();
	many();
	snprintf_cases();
	n = rt_printf("count me: %d %s %.2f\n", -3, "x", 2.0);
	T("printed %d", n);
	/* a long line goes through more than one buffer flush */
	for (int i = 0; i < 300; i++)
		rt_printf("%c", 'A' + i % 26);
	rt_printf("\n");
	return 0;
}
