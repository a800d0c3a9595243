/* qsort.c - a generic quicksort (comparison through a function pointer, byte-wise swaps)
 * sorting ints, 64-bit values, records and doubles; prints checksums and samples. */
#include "rt.h"

typedef int (*cmp_fn)(const void *, const void *);

static void swap_bytes(unsigned char *a, unsigned char *b, size_t size)
{
	while (size--) {
		unsigned char t = *a;

		*a++ = *b;
		*b++ = t;
	}
}

static void insertion_sort(unsigned char *base, size_t n, size_t size, cmp_fn cmp)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && cmp(base + (j - 1) * size, base + j * size) > 0; j--)
			swap_bytes(base + (j - 1) * size, base + j * size, size);
}

/* Median-of-three quicksort; recurses into the smaller half, loops on the larger. */
static void my_qsort(void *b, size_t n, size_t size, cmp_fn cmp)
{
	unsigned char *base = b;

	while (n > 12) {
		unsigned char *lo = base, *mid = base + (n / 2) * size, *hi = base + (n - 1) * size;
		size_t i, j;

		if (cmp(mid, lo) < 0)
			swap_bytes(mid, lo, size);
		if (cmp(hi, mid) < 0) {
			swap_bytes(hi, mid, size);
			if (cmp(mid, lo) < 0)
				swap_bytes(mid, lo, size);
		}
		swap_bytes(mid, hi - size, size);	/* pivot at n - 2 */
		unsigned char *pivot = hi - size;
		i = 0;
		j = n - 2;
		for (;;) {
			while (cmp(base + ++i * size, pivot) < 0)
				;
			while (j > 0 && cmp(pivot, base + --j * size) < 0)
				;
			if (i >= j)
				break;
			swap_bytes(base + i * size, base + j * size, size);
		}
		swap_bytes(base + i * size, pivot, size);
		if (i < n - i - 1) {
			my_qsort(base, i, size, cmp);
			base += (i + 1) * size;
			n -= i + 1;
		} else {
			my_qsort(base + (i + 1) * size, n - i - 1, size, cmp);
			n = i;
		}
	}
	insertion_sort(base, n, size, cmp);
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int cmp_i64_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x < y) - (x > y);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct rec {
	int16_t key;
	uint32_t id;
	char name[9];
};

/* by key, then name, then id: a total order, so every correct sort gives the same array */
static int cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	for (int i = 0; i < 9; i++)
		if (x->name[i] != y->name[i])
			return (unsigned char)x->name[i] - (unsigned char)y->name[i];
	return (x->id > y->id) - (x->id < y->id);
}

#define N 10000

static int ints[N];
static int64_t longs[N];
static double doubles[N];
static struct rec recs[N];

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

static void check_sorted(const char *what, const void *b, size_t n, size_t size, cmp_fn cmp)
{
	const unsigned char *p = b;
	size_t bad = 0;

	for (size_t i = 1; i < n; i++)
		if (cmp(p + (i - 1) * size, p + i * size) > 0)
			bad++;
	rt_printf("%s: %zu elements, %zu out of order\n", what, n, bad);
}

int main(void)
{
	uint64_t seed = 42, h;

	for (int i = 0; i < N; i++) {
		ints[i] = (int)(rt_rand(&seed) >> 32) % 100000;		/* negatives too */
		longs[i] = (int64_t)rt_rand(&seed) >> (i % 40);
		doubles[i] = (double)(int64_t)rt_rand(&seed) / 3.0e15;
		recs[i].key = (int16_t)(rt_rand(&seed) % 200) - 100;
		recs[i].id = (uint32_t)i;
		for (int j = 0; j < 8; j++)
			recs[i].name[j] = (char)('a' + rt_rand(&seed) % 3);
		recs[i].name[8] = 0;
	}

	my_qsort(ints, N, sizeof(ints[0]), cmp_int);
	check_sorted("ints", ints, N, sizeof(ints[0]), cmp_int);
	h = 0;
	for (int i = 0; i < N; i++)
		h = mix(h, (uint64_t)(int64_t)ints[i] * (uint64_t)(i + 1));
	rt_printf("ints hash %016lx  min %d  median %d  max %d\n", (unsigned long)h, ints[0],
		  ints[N / 2], ints[N - 1]);
	for (int i = 0; i < N; i += 997)
		rt_printf("  ints[%d] = %d\n", i, ints[i]);

	my_qsort(longs, N, sizeof(longs[0]), cmp_i64_desc);
	check_sorted("longs (descending)", longs, N, sizeof(longs[0]), cmp_i64_desc);
	h = 0;
	for (int i = 0; i < N; i++)
		h = mix(h, (uint64_t)longs[i]);
	rt_printf("longs hash %016lx  first %ld  last %ld\n", (unsigned long)h, (long)longs[0],
		  (long)longs[N - 1]);

	my_qsort(doubles, N, sizeof(doubles[0]), cmp_double);
	check_sorted("doubles", doubles, N, sizeof(doubles[0]), cmp_double);
	for (int i = 0; i < N; i += 1111)
		rt_printf("  doubles[%d] = %.6f\n", i, doubles[i]);

	my_qsort(recs, N, sizeof(recs[0]), cmp_rec);
	check_sorted("records", recs, N, sizeof(recs[0]), cmp_rec);
	h = 0;
	for (int i = 0; i < N; i++)
		h = mix(mix(h, (uint64_t)recs[i].id), (uint64_t)(int64_t)recs[i].key);
	rt_printf("records hash %016lx\n", (unsigned long)h);
	for (int i = 0; i < N; i += 1250)
		rt_printf("  recs[%d] = { %d, %u, \"%s\" }\n", i, recs[i].key, recs[i].id,
			  recs[i].name);

	/* already sorted and all-equal inputs: the worst cases of naive pivots */
	for (int i = 0; i < N; i++)
		ints[i] = 5;
	my_qsort(ints, N, sizeof(ints[0]), cmp_int);
	check_sorted("equal ints", ints, N, sizeof(ints[0]), cmp_int);
	for (int i = 0; i < N; i++)
		ints[i] = N - i;
	my_qsort(ints, N, sizeof(ints[0]), cmp_int);
	check_sorted("reversed ints", ints, N, sizeof(ints[0]), cmp_int);
	rt_printf("reversed ints: first %d last %d\n", ints[0], ints[N - 1]);
	return 0;
}
