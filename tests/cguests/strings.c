/* strings.c - string instructions at every alignment: REP MOVS/STOS (byte to quad, forward and
 * backward), REPNE SCAS, REPE CMPS, LODS/STOS loops written in inline asm, the C library-style
 * functions written in C, and gcc's inlined builtins (CMakeLists builds this file with
 * -minline-all-stringops and a -mstringop-strategy, so gcc emits rep movs/stos itself). The
 * inline asm is x86-64 and runs natively too. */
#include "rt.h"

#define BUF 1024
static uint8_t src[BUF + 64], dst[BUF + 64];

static void rep_movsb(void *d, const void *s, size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

/* quadwords, then the tail in bytes */
static void rep_movsq(void *d, const void *s, size_t n)
{
	size_t q = n / 8, b = n % 8;

	__asm__ volatile("rep movsq\n\tmov %3, %%rcx\n\trep movsb"
			 : "+D"(d), "+S"(s), "+c"(q) : "r"(b) : "memory");
}

/* words and doublewords: the 16-bit operand size prefix too */
static void rep_movsw_movsd(void *d, const void *s, size_t n)
{
	size_t w = n / 2, dw = n / 4;

	if (n & 1) {
		__asm__ volatile("rep movsw\n\tmovsb" : "+D"(d), "+S"(s), "+c"(w) : : "memory");
	} else {
		__asm__ volatile("rep movsl\n\tmov %3, %%rcx\n\trep movsb"
				 : "+D"(d), "+S"(s), "+c"(dw) : "r"(n % 4) : "memory");
	}
}

/* memmove of overlapping ranges: backward with DF = 1 when dst is above src */
static void rep_memmove(void *d, const void *s, size_t n)
{
	if ((uintptr_t)d <= (uintptr_t)s || !n) {
		rep_movsb(d, s, n);
		return;
	}
	d = (uint8_t *)d + n - 1;
	s = (const uint8_t *)s + n - 1;
	__asm__ volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static void rep_stos(void *d, uint8_t c, size_t n, int width)
{
	uint64_t v = c * 0x0101010101010101ULL;
	size_t cnt = n / (size_t)width, tail = n % (size_t)width;

	switch (width) {
	case 1:
		__asm__ volatile("rep stosb" : "+D"(d), "+c"(cnt) : "a"(v) : "memory");
		break;
	case 2:
		__asm__ volatile("rep stosw" : "+D"(d), "+c"(cnt) : "a"(v) : "memory");
		break;
	case 4:
		__asm__ volatile("rep stosl" : "+D"(d), "+c"(cnt) : "a"(v) : "memory");
		break;
	default:
		__asm__ volatile("rep stosq" : "+D"(d), "+c"(cnt) : "a"(v) : "memory");
		break;
	}
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(tail) : "a"(v) : "memory");
}

static size_t scas_strlen(const char *s)
{
	size_t n = ~(size_t)0;

	__asm__ volatile("repne scasb" : "+D"(s), "+c"(n) : "a"(0) : "memory", "cc");
	return ~n - 1;
}

/* index of the first byte equal to c in n bytes, or n */
static size_t scas_memchr(const void *p, uint8_t c, size_t n)
{
	const uint8_t *s = p;
	size_t left = n;
	uint8_t found;

	if (!n)
		return 0;
	__asm__ volatile("repne scasb\n\tsete %2"
			 : "+D"(s), "+c"(left), "=q"(found) : "a"(c) : "memory", "cc");
	return found ? n - left - 1 : n;
}

/* <0, 0, >0 like memcmp */
static int cmps_memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *p = a, *q = b;
	uint8_t ne;

	if (!n)
		return 0;
	__asm__ volatile("repe cmpsb\n\tsetne %3"
			 : "+S"(p), "+D"(q), "+c"(n), "=q"(ne) : : "memory", "cc");
	return ne ? p[-1] - q[-1] : 0;
}

/* a LODSB/STOSB loop: upper-case copy */
static void lods_upper(void *d, const void *s, size_t n)
{
	__asm__ volatile("1: jrcxz 2f\n\t"
			 "lodsb\n\t"
			 "cmp $'a', %%al\n\t"
			 "jb 3f\n\t"
			 "cmp $'z', %%al\n\t"
			 "ja 3f\n\t"
			 "sub $32, %%al\n"
			 "3: stosb\n\t"
			 "dec %%rcx\n\t"
			 "jmp 1b\n"
			 "2:"
			 : "+D"(d), "+S"(s), "+c"(n) : : "rax", "memory", "cc");
}

/* C versions: what a libc would do, byte by byte or word by word */
static size_t c_strlen(const char *s)
{
	const char *p = s;

	while ((uintptr_t)p & 7) {
		if (!*p)
			return (size_t)(p - s);
		p++;
	}
	for (;;) {
		uint64_t w;

		__builtin_memcpy(&w, p, 8);
		if ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL)
			break;
		p += 8;
	}
	while (*p)
		p++;
	return (size_t)(p - s);
}

static int c_strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static void fill(uint8_t *p, size_t n, uint64_t *seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)('a' + rt_rand(seed) % 26);
}

enum { OP_MOVSB, OP_MOVSQ, OP_MOVSW, OP_MEMMOVE_UP, OP_MEMMOVE_DOWN, OP_STOS, OP_BUILTIN_CPY,
       OP_BUILTIN_SET, OP_BUILTIN_MOVE, OP_UPPER, OP_COUNT };
static const char *const op_names[OP_COUNT] = {
	"rep movsb", "rep movsq", "rep movsw/l", "memmove up", "memmove down", "rep stos",
	"builtin memcpy", "builtin memset", "builtin memmove", "lodsb/stosb",
};

/* One operation: source at src + sa, destination at dst + da, n bytes (out of line, so gcc's
 * inlined builtins see a length it knows nothing about). */
static __attribute__((noinline)) void one_op(int op, size_t sa, size_t da, size_t n)
{
	uint8_t *s = src + sa, *d = dst + da;

	switch (op) {
	case OP_MOVSB: rep_movsb(d, s, n); break;
	case OP_MOVSQ: rep_movsq(d, s, n); break;
	case OP_MOVSW: rep_movsw_movsd(d, s, n); break;
	case OP_MEMMOVE_UP: rep_memmove(dst + da + sa, dst + da, n); break;
	case OP_MEMMOVE_DOWN: rep_memmove(dst + da, dst + da + sa, n); break;
	case OP_STOS: rep_stos(d, (uint8_t)(0x41 + da), n, 1 << (sa % 4)); break;
	case OP_BUILTIN_CPY: __builtin_memcpy(d, s, n); break;
	case OP_BUILTIN_SET: __builtin_memset(d, (int)sa, n); break;
	case OP_BUILTIN_MOVE: __builtin_memmove(dst + da, dst + sa, n); break;
	case OP_UPPER: lods_upper(d, s, n); break;
	}
}

int main(void)
{
	static const size_t lens[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 31, 33, 64, 65, 127, 255, 513 };
	uint64_t hash[OP_COUNT] = { 0 }, seed = 2024, misc = 0;

	for (int op = 0; op < OP_COUNT; op++)
		for (size_t sa = 0; sa < 16; sa += (op < OP_STOS ? 1 : 3))
			for (size_t da = 0; da < 16; da++)
				for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
					fill(src, lens[li] + 32, &seed);
					fill(dst, lens[li] + 48, &seed);
					one_op(op, sa, da, lens[li]);
					hash[op] = fnv(hash[op], dst, lens[li] + 40);
				}
	for (int op = 0; op < OP_COUNT; op++)
		rt_printf("%-16s %016lx\n", op_names[op], (unsigned long)hash[op]);

	/* scans and compares at every alignment and length */
	for (size_t a = 0; a < 16; a++)
		for (size_t n = 0; n < 100; n += 1 + n / 8) {
			char *s = (char *)src + a, *t = (char *)dst + 15 - a;
			size_t k;

			fill(src, sizeof(src), &seed);
			src[a + n] = 0;
			__builtin_memcpy(t, s, n + 1);
			k = n ? (size_t)rt_rand(&seed) % n : 0;
			misc = misc * 31 + scas_strlen(s) * 3 + c_strlen(s) +
			       (uint64_t)c_strcmp(s, t) + scas_memchr(s, (uint8_t)s[k], n) +
			       scas_memchr(s, '!', n);
			if (n)
				t[k] = (char)(t[k] + (k & 1 ? 1 : -1));
			misc = misc * 31 + (uint64_t)(int64_t)cmps_memcmp(s, t, n + 1) +
			       (uint64_t)(int64_t)c_strcmp(s, t) * 5;
			if (scas_strlen(s) != n || c_strlen(s) != n)
				rt_printf("strlen wrong at align %zu len %zu: %zu %zu\n", a, n,
					  scas_strlen(s), c_strlen(s));
		}
	rt_printf("scan/compare hash %016lx\n", (unsigned long)misc);

	/* struct copies: gcc copies these with rep movs or moves of its choosing */
	{
		struct big { uint64_t q[37]; uint8_t tail[5]; } x, y[4];
		uint64_t h = 0;

		fill((uint8_t *)&x, sizeof(x), &seed);
		for (int i = 0; i < 4; i++) {
			y[i] = x;
			y[i].q[i] ^= 0xff;
			x = y[i];
		}
		h = fnv(h, (const uint8_t *)y, sizeof(y));
		rt_printf("struct copies %016lx\n", (unsigned long)h);
	}
	return 0;
}
