/* printf.c - a small printf written for the C guests; the native twin runs the same code, so
 * any difference in output comes from the CPU that ran it. */
#include "rt.h"

/* Output sink: a buffer flushed through rt_write (sink->buf == NULL), or a caller's string. */
struct sink {
	char tmp[128];
	size_t used;
	char *buf;		/* rt_snprintf's buffer, NULL for rt_write */
	size_t size;
	size_t total;		/* bytes produced so far */
};

static void sink_flush(struct sink *k)
{
	if (!k->buf && k->used)
		rt_write(k->tmp, k->used);
	k->used = 0;
}

static void sink_putc(struct sink *k, char c)
{
	if (k->buf) {
		if (k->total + 1 < k->size)
			k->buf[k->total] = c;
	} else {
		if (k->used == sizeof(k->tmp))
			sink_flush(k);
		k->tmp[k->used++] = c;
	}
	k->total++;
}

static void sink_pad(struct sink *k, char c, int n)
{
	while (n-- > 0)
		sink_putc(k, c);
}

struct spec {
	int left;		/* '-' */
	int zero;		/* '0' */
	char sign;		/* '+', ' ' or 0 */
	int width;
	int prec;		/* -1: none */
};

/* Emits prefix (sign, "0x") and body digits with the spec's width, padding and zero fill. */
static void emit(struct sink *k, const struct spec *s, const char *prefix, const char *body,
		 int len)
{
	int plen = 0, zeros = 0, pad;

	while (prefix[plen])
		plen++;
	if (s->zero && !s->left)
		zeros = s->width - plen - len;
	pad = s->width - plen - len - (zeros > 0 ? zeros : 0);
	if (!s->left)
		sink_pad(k, ' ', pad);
	for (int i = 0; i < plen; i++)
		sink_putc(k, prefix[i]);
	sink_pad(k, '0', zeros);
	for (int i = 0; i < len; i++)
		sink_putc(k, body[i]);
	if (s->left)
		sink_pad(k, ' ', pad);
}

/* Digits of v in base, at least prec of them, into the end of buf; returns the start. */
static char *utoa(char *end, uint64_t v, unsigned base, int upper, int prec)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char *p = end;

	while (v) {
		*--p = digits[v % base];
		v /= base;
	}
	while (end - p < prec)
		*--p = '0';
	return p;
}

static void fmt_int(struct sink *k, struct spec s, uint64_t mag, int neg, unsigned base,
		    int upper, const char *alt)
{
	char buf[32], prefix[4] = { 0 };
	char *end = buf + sizeof(buf), *p;
	int n = 0;

	if (s.prec >= 0)
		s.zero = 0;
	p = utoa(end, mag, base, upper, s.prec < 0 ? 1 : s.prec);
	if (neg)
		prefix[n++] = '-';
	else if (s.sign)
		prefix[n++] = s.sign;
	for (; alt && *alt; alt++)
		prefix[n++] = *alt;
	emit(k, &s, prefix, p, (int)(end - p));
}

/* %f: fixed point, prec digits after the point (default 6, at most 18), rounded half up. */
static void fmt_double(struct sink *k, struct spec s, double v)
{
	static const uint64_t pow10[] = {
		1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
		100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL,
		1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
		1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
		1000000000000000000ULL,
	};
	char buf[360], prefix[2] = { 0 };	/* up to 309 integer digits, '.', 18 */
	char *end = buf + sizeof(buf), *p = end;
	union { double d; uint64_t u; } bits = { .d = v };
	int prec = s.prec < 0 ? 6 : (s.prec > 18 ? 18 : s.prec);
	int scale = 0;
	uint64_t ip, fp;

	if (bits.u >> 63)
		prefix[0] = '-';
	else if (s.sign)
		prefix[0] = s.sign;
	if (v != v || v - v != 0) {	/* NaN, or infinity (inf - inf is NaN) */
		s.zero = 0;
		emit(k, &s, prefix, v != v ? "nan" : "inf", 3);
		return;
	}
	if (v < 0)
		v = -v;
	while (v >= 1e18) {	/* beyond uint64_t: keep the leading digits, pad with zeros */
		v /= 10;
		scale++;
	}
	ip = (uint64_t)v;
	{
		double f = (v - (double)ip) * (double)pow10[prec] + 0.5;

		fp = (uint64_t)f;
		if (fp >= pow10[prec]) {
			fp -= pow10[prec];
			ip++;
		}
	}
	if (prec) {
		p = utoa(end, fp, 10, 0, prec);
		*--p = '.';
	}
	while (scale--)
		*--p = '0';
	p = utoa(p, ip, 10, 0, 1);
	emit(k, &s, prefix, p, (int)(end - p));
}

static int format(struct sink *k, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		struct spec s = { .prec = -1 };
		int lng = 0;

		if (*fmt != '%') {
			sink_putc(k, *fmt);
			continue;
		}
		for (;; fmt++) {
			char c = fmt[1];

			if (c == '-')
				s.left = 1;
			else if (c == '0')
				s.zero = 1;
			else if (c == '+' || (c == ' ' && s.sign != '+'))
				s.sign = c;
			else
				break;
		}
		fmt++;
		if (*fmt == '*') {
			s.width = va_arg(ap, int);
			if (s.width < 0) {
				s.left = 1;
				s.width = -s.width;
			}
			fmt++;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			s.width = s.width * 10 + (*fmt - '0');
		if (*fmt == '.') {
			s.prec = 0;
			if (*++fmt == '*') {
				s.prec = va_arg(ap, int);
				fmt++;
			}
			for (; *fmt >= '0' && *fmt <= '9'; fmt++)
				s.prec = s.prec * 10 + (*fmt - '0');
		}
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng = 1;	/* long, long long and size_t are all 64 bits here */

		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t mag = v < 0 ? -(uint64_t)v : (uint64_t)v;

			fmt_int(k, s, mag, v < 0, 10, 0, NULL);
			break;
		}
		case 'u':
		case 'x':
		case 'X':
		case 'o': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			unsigned base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;

			fmt_int(k, s, v, 0, base, *fmt == 'X', NULL);
			break;
		}
		case 'p':
			fmt_int(k, s, (uintptr_t)va_arg(ap, void *), 0, 16, 0, "0x");
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);

			s.zero = 0;
			emit(k, &s, "", &c, 1);
			break;
		}
		case 's': {
			const char *str = va_arg(ap, const char *);
			int len = 0;

			if (!str)
				str = "(null)";
			while (str[len] && (s.prec < 0 || len < s.prec))
				len++;
			s.zero = 0;
			emit(k, &s, "", str, len);
			break;
		}
		case 'f':
			fmt_double(k, s, va_arg(ap, double));
			break;
		case '%':
			sink_putc(k, '%');
			break;
		default:	/* unknown: print it as it was written */
			sink_putc(k, '%');
			if (!*fmt)
				return (int)k->total;
			sink_putc(k, *fmt);
			break;
		}
	}
	return (int)k->total;
}

int rt_vprintf(const char *fmt, va_list ap)
{
	struct sink k = { 0 };
	int n = format(&k, fmt, ap);

	sink_flush(&k);
	return n;
}

int rt_printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = rt_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	struct sink k = { .buf = buf, .size = size };
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = format(&k, fmt, ap);
	va_end(ap);
	if (size)
		buf[k.total < size ? k.total : size - 1] = '\0';
	return n;
}
