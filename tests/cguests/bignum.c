/* bignum.c - integer arithmetic the engine must get exactly right: CRC-32 (bitwise and by
 * table), arbitrary-precision multiplication (MUL, ADC chains), decimal conversion by long
 * division (DIV), 128-bit arithmetic (libgcc's __udivti3 / __divti3), signed division and
 * remainders of every sign, rotates, bit scans and popcounts. */
#include "rt.h"

static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320 : c >> 1;
	}
	return ~c;
}

static uint32_t crc_table[256];

static uint32_t crc32_table(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;

	while (n--)
		c = crc_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

static void crc(void)
{
	static uint8_t buf[20000];
	uint64_t seed = 7;

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0xedb88320 : c >> 1;
		crc_table[i] = c;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rt_rand(&seed);
	rt_printf("crc32(\"123456789\") = %08x\n",
		  crc32_bitwise((const uint8_t *)"123456789", 9));
	for (size_t n = 1; n <= sizeof(buf); n = n * 5 + 3)
		rt_printf("crc32 len %5zu: bitwise %08x table %08x\n", n, crc32_bitwise(buf, n),
			  crc32_table(buf, n));
}

/* Little-endian numbers of 64-bit limbs. */
#define LIMBS 160

struct big {
	int n;
	uint64_t d[LIMBS];
};

/* r = a * b (r distinct from a and b) */
static void big_mul(struct big *r, const struct big *a, const struct big *b)
{
	for (int i = 0; i < a->n + b->n; i++)
		r->d[i] = 0;
	for (int i = 0; i < a->n; i++) {
		uint64_t carry = 0;

		for (int j = 0; j < b->n; j++) {
			unsigned __int128 t = (unsigned __int128)a->d[i] * b->d[j] + r->d[i + j] + carry;

			r->d[i + j] = (uint64_t)t;
			carry = (uint64_t)(t >> 64);
		}
		r->d[i + b->n] = carry;
	}
	r->n = a->n + b->n;
	while (r->n > 1 && !r->d[r->n - 1])
		r->n--;
}

/* a += b, carries through __builtin_add_overflow (ADD/ADC) */
static void big_add(struct big *a, const struct big *b)
{
	unsigned char carry = 0;
	int n = a->n > b->n ? a->n : b->n;

	for (int i = 0; i < n; i++) {
		uint64_t x = i < a->n ? a->d[i] : 0, y = i < b->n ? b->d[i] : 0, s;
		unsigned char c1 = __builtin_add_overflow(x, y, &s);
		unsigned char c2 = __builtin_add_overflow(s, (uint64_t)carry, &s);

		a->d[i] = s;
		carry = c1 | c2;
	}
	a->n = n;
	if (carry)
		a->d[a->n++] = 1;
}

/* Divides a by v in place (128-by-64 DIV each step); returns the remainder. */
static uint64_t big_divsmall(struct big *a, uint64_t v)
{
	uint64_t rem = 0;

	for (int i = a->n - 1; i >= 0; i--) {
		uint64_t q, hi = rem, lo = a->d[i];

		__asm__("divq %4" : "=a"(q), "=d"(rem) : "a"(lo), "d"(hi), "r"(v) : "cc");
		a->d[i] = q;
	}
	while (a->n > 1 && !a->d[a->n - 1])
		a->n--;
	return rem;
}

static void big_print(const char *label, const struct big *x)
{
	static struct big t;
	static uint64_t chunks[LIMBS * 2];
	int n = 0, digits;

	t = *x;
	while (t.n > 1 || t.d[0])
		chunks[n++] = big_divsmall(&t, 1000000000000000000ULL);
	digits = n ? 18 * (n - 1) : 1;
	rt_printf("%s = ", label);
	if (!n)
		rt_printf("0");
	else
		rt_printf("%lu", (unsigned long)chunks[--n]);
	while (n > 0)
		rt_printf("%018lu", (unsigned long)chunks[--n]);
	rt_printf(" (%d limbs, ~%d digits)\n", x->n, digits);
}

static void bignums(void)
{
	static struct big f, t, k, a, b;

	/* 300! */
	f.n = 1, f.d[0] = 1;
	for (uint64_t i = 2; i <= 300; i++) {
		k.n = 1, k.d[0] = i;
		big_mul(&t, &f, &k);
		f = t;
	}
	big_print("300!", &f);
	/* 3^1000 by squaring */
	a.n = 1, a.d[0] = 1;
	b.n = 1, b.d[0] = 3;
	for (int e = 1000; e; e >>= 1) {
		if (e & 1) {
			big_mul(&t, &a, &b);
			a = t;
		}
		big_mul(&t, &b, &b);
		b = t;
	}
	big_print("3^1000", &a);
	/* fib(2000) by additions */
	a.n = 1, a.d[0] = 0;
	b.n = 1, b.d[0] = 1;
	for (int i = 0; i < 2000; i++) {
		t = a;
		big_add(&t, &b);
		a = b;
		b = t;
	}
	big_print("fib(2000)", &a);
}

static void int128(void)
{
	unsigned __int128 x = ((unsigned __int128)0x0123456789abcdefULL << 64) | 0xfedcba9876543210ULL;
	__int128 s = -(__int128)x / 3;
	uint64_t seed = 99, h = 0;

	for (int i = 0; i < 2000; i++) {
		unsigned __int128 a = ((unsigned __int128)rt_rand(&seed) << 64) | rt_rand(&seed);
		unsigned __int128 b = (rt_rand(&seed) >> (i % 64)) | 1;
		__int128 sa = (__int128)a, sb = i & 1 ? -(__int128)b : (__int128)b;

		if (i % 3 == 0)
			b = (b << 40) | rt_rand(&seed);
		h = h * 31 + (uint64_t)(a / b) + (uint64_t)((a % b) >> 3);
		h = h * 31 + (uint64_t)(sa / sb) + (uint64_t)(sa % sb);
		h ^= (uint64_t)((a * b) >> 64);
	}
	rt_printf("int128: x/7 hi %016lx lo %016lx, s hi %016lx lo %016lx, hash %016lx\n",
		  (unsigned long)(uint64_t)((x / 7) >> 64), (unsigned long)(uint64_t)(x / 7),
		  (unsigned long)(uint64_t)((unsigned __int128)s >> 64), (unsigned long)(uint64_t)s,
		  (unsigned long)h);
}

static void divisions(void)
{
	static const int64_t a[] = { 0, 7, -7, 100, -100, 9223372036854775807LL,
				     -9223372036854775807LL - 1, 123456789012LL };
	static const int64_t b[] = { 1, -1, 2, -2, 3, -3, 7, -7, 1000000007, -4294967296LL };
	uint64_t h = 0;

	for (unsigned i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		for (unsigned j = 0; j < sizeof(b) / sizeof(b[0]); j++) {
			volatile int64_t x = a[i], y = b[j];
			volatile int32_t x32 = (int32_t)a[i], y32 = (int32_t)b[j] | 1;

			if (x == -9223372036854775807LL - 1 && y == -1)
				continue;	/* overflows: #DE */
			if (x32 == (-2147483647 - 1) && y32 == -1)
				continue;
			h = h * 1000003 + (uint64_t)(x / y) + (uint64_t)(x % y) * 7 +
			    (uint64_t)(uint32_t)(x32 / y32) + (uint64_t)(uint32_t)(x32 % y32) * 11 +
			    ((uint64_t)x / (uint64_t)y) + ((uint32_t)x32 % (uint32_t)y32);
		}
	rt_printf("divisions hash %016lx\n", (unsigned long)h);
	rt_printf("-7/2=%ld -7%%2=%ld 7/-2=%ld 7%%-2=%ld -7/-2=%ld -7%%-2=%ld\n",
		  (long)(-7 / 2), (long)(-7 % 2), (long)(7 / -2), (long)(7 % -2), (long)(-7 / -2),
		  (long)(-7 % -2));
}

static void bits(void)
{
	uint64_t seed = 1234, h = 0;

	for (int i = 0; i < 5000; i++) {
		uint64_t v = rt_rand(&seed) >> (i % 64);
		uint32_t w = (uint32_t)v;
		int r = i % 64;

		h = h * 17 + (uint64_t)__builtin_popcountll(v) + (v ? (uint64_t)__builtin_ctzll(v) : 99) +
		    (v ? (uint64_t)__builtin_clzll(v) : 77) + ((v << r) | (v >> ((64 - r) & 63))) +
		    (w ? (uint64_t)__builtin_clz(w) : 55) + __builtin_bswap64(v) +
		    __builtin_bswap32(w) + (uint64_t)((int64_t)v >> r) + (uint64_t)(v * 0x9e3779b97f4a7c15ULL);
	}
	rt_printf("bits hash %016lx\n", (unsigned long)h);
}

int main(void)
{
	crc();
	bignums();
	int128();
	divisions();
	bits();
	return 0;
}
