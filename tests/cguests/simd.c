/* simd.c - SSE/SSE2 through the intrinsics: integer lanes (saturating, multiply-add, shifts,
 * packs, shuffles, compares, movemask, PSADBW), single and double lanes (arithmetic, sqrt,
 * min/max, conversions with the MXCSR rounding mode, compares), each over random inputs and
 * folded into one hash per group. */
#include <emmintrin.h>
#ifdef __SSE4_2__
#include <nmmintrin.h>
#endif

#include "rt.h"

static uint64_t seed = 0x5151;

static __m128i rnd_i(void)
{
	return _mm_set_epi64x((long long)rt_rand(&seed), (long long)rt_rand(&seed));
}

/* doubles and floats of mixed signs and magnitudes, some exact integers and halves */
static __m128d rnd_pd(void)
{
	double a = (double)(int64_t)rt_rand(&seed) / (double)(1ULL << (rt_rand(&seed) % 60));
	double b = (double)((int64_t)(rt_rand(&seed) % 41) - 20) / 2;

	if (rt_rand(&seed) % 4 == 0) {	/* tiny: denormal doubles, floats that flush to 0 */
		a *= 0x1p-540;
		a *= 0x1p-540;
	}

	return _mm_set_pd(a, b);
}

static __m128 rnd_ps(void)
{
	__m128d x = rnd_pd(), y = rnd_pd();

	return _mm_movelh_ps(_mm_cvtpd_ps(x), _mm_cvtpd_ps(y));
}

static uint64_t h;

static void fold(__m128i v)
{
	h = (h ^ (uint64_t)_mm_cvtsi128_si64(v)) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(v, v))) * 0x100000001b3ULL;
}

static void fold_ps(__m128 v) { fold(_mm_castps_si128(v)); }
static void fold_pd(__m128d v) { fold(_mm_castpd_si128(v)); }
static void fold_int(int v) { fold(_mm_cvtsi32_si128(v)); }

static void integer_lanes(void)
{
	h = 0;
	for (int i = 0; i < 3000; i++) {
		__m128i a = rnd_i(), b = rnd_i();
		int sh = i % 17;

		fold(_mm_add_epi8(a, b)); fold(_mm_adds_epi8(a, b)); fold(_mm_adds_epu8(a, b));
		fold(_mm_subs_epi16(a, b)); fold(_mm_subs_epu16(a, b)); fold(_mm_sub_epi64(a, b));
		fold(_mm_mullo_epi16(a, b)); fold(_mm_mulhi_epi16(a, b)); fold(_mm_mulhi_epu16(a, b));
		fold(_mm_mul_epu32(a, b)); fold(_mm_madd_epi16(a, b)); fold(_mm_sad_epu8(a, b));
		fold(_mm_avg_epu8(a, b)); fold(_mm_avg_epu16(a, b));
		fold(_mm_min_epi16(a, b)); fold(_mm_max_epu8(a, b));
		fold(_mm_and_si128(a, b)); fold(_mm_andnot_si128(a, b)); fold(_mm_or_si128(a, b));
		fold(_mm_xor_si128(a, b));
		fold(_mm_cmpeq_epi8(a, _mm_or_si128(b, _mm_set1_epi8(0x0f))));
		fold(_mm_cmpgt_epi16(a, b)); fold(_mm_cmplt_epi32(a, b));
		fold(_mm_packs_epi32(a, b)); fold(_mm_packs_epi16(a, b)); fold(_mm_packus_epi16(a, b));
		fold(_mm_unpacklo_epi8(a, b)); fold(_mm_unpackhi_epi16(a, b));
		fold(_mm_unpacklo_epi32(a, b)); fold(_mm_unpackhi_epi64(a, b));
		fold(_mm_shuffle_epi32(a, 0x1b)); fold(_mm_shufflelo_epi16(a, 0xb1));
		fold(_mm_shufflehi_epi16(b, 0x4e));
		fold(_mm_slli_si128(a, 5)); fold(_mm_srli_si128(b, 11));
		fold(_mm_sll_epi16(a, _mm_cvtsi32_si128(sh))); fold(_mm_srl_epi32(a, _mm_cvtsi32_si128(sh * 2)));
		fold(_mm_sra_epi16(b, _mm_cvtsi32_si128(sh))); fold(_mm_sra_epi32(b, _mm_cvtsi32_si128(sh * 2)));
		fold(_mm_slli_epi64(a, 13)); fold(_mm_srli_epi64(b, 61)); fold(_mm_srai_epi32(a, 31));
		fold_int(_mm_movemask_epi8(a)); fold_int(_mm_extract_epi16(b, 5));
		fold(_mm_insert_epi16(a, i, 3));
	}
	rt_printf("integer lanes %016lx\n", (unsigned long)h);
}

static void float_lanes(void)
{
	/* MXCSR: the four rounding modes, then flush-to-zero and denormals-are-zero */
	static const unsigned modes[] = { _MM_ROUND_NEAREST, _MM_ROUND_DOWN, _MM_ROUND_UP,
					  _MM_ROUND_TOWARD_ZERO, 0x8040 };
	unsigned csr = _mm_getcsr();

	for (int m = 0; m < 5; m++) {
		h = 0;
		_mm_setcsr((csr & ~0xe07fu) | modes[m]);	/* flags cleared too */
		for (int i = 0; i < 2000; i++) {
			__m128d a = rnd_pd(), b = rnd_pd();
			__m128 x = rnd_ps(), y = rnd_ps();

			fold_pd(_mm_add_pd(a, b)); fold_pd(_mm_sub_sd(a, b)); fold_pd(_mm_mul_pd(a, b));
			fold_pd(_mm_div_pd(a, _mm_or_pd(b, _mm_set1_pd(1.0))));
			fold_pd(_mm_sqrt_pd(_mm_andnot_pd(_mm_set1_pd(-0.0), a)));
			fold_pd(_mm_min_pd(a, b)); fold_pd(_mm_max_sd(a, b));
			fold_pd(_mm_cmplt_pd(a, b)); fold_pd(_mm_cmpnle_pd(a, b));
			fold_pd(_mm_shuffle_pd(a, b, 1)); fold_pd(_mm_unpackhi_pd(a, b));
			fold(_mm_cvtpd_epi32(a)); fold(_mm_cvttpd_epi32(b)); fold_ps(_mm_cvtpd_ps(a));
			fold_pd(_mm_cvtps_pd(x)); fold(_mm_cvtps_epi32(x)); fold(_mm_cvttps_epi32(y));
			fold_ps(_mm_cvtepi32_ps(rnd_i())); fold_pd(_mm_cvtepi32_pd(rnd_i()));
			fold_int(_mm_cvtsd_si32(a)); fold_int((int)_mm_cvtsd_si64(b));
			fold_int(_mm_comilt_sd(a, b)); fold_int(_mm_ucomige_sd(a, b));
			fold_int(_mm_movemask_pd(a)); fold_int(_mm_movemask_ps(x));
			fold_ps(_mm_add_ps(x, y)); fold_ps(_mm_mul_ps(x, y)); fold_ps(_mm_div_ps(x, y));
			fold_ps(_mm_sub_ss(x, y)); fold_ps(_mm_sqrt_ps(_mm_max_ps(x, _mm_setzero_ps())));
			fold_ps(_mm_min_ps(x, y)); fold_ps(_mm_max_ps(x, y)); fold_ps(_mm_cmpeq_ps(x, x));
			fold_ps(_mm_cmpunord_ps(x, _mm_div_ps(x, _mm_setzero_ps())));
			fold_ps(_mm_shuffle_ps(x, y, 0x8d)); fold_ps(_mm_unpacklo_ps(x, y));
			fold_ps(_mm_movehl_ps(x, y)); fold_ps(_mm_and_ps(x, y));
		}
		rt_printf("float lanes, mxcsr mode %d: %016lx, flags %02x\n", m, (unsigned long)h,
			  _mm_getcsr() & 0x3f);
	}
	_mm_setcsr(csr);
}

#ifdef __SSE4_2__
/* SSE3, SSSE3, SSE4.1, SSE4.2 (the -march=x86-64-v2 build only) */
static void sse4_lanes(void)
{
	uint64_t crc = 0;

	h = 0;
	for (int i = 0; i < 2000; i++) {
		__m128i a = rnd_i(), b = rnd_i();
		__m128 x = rnd_ps(), y = rnd_ps();
		__m128d p = rnd_pd(), q = rnd_pd();

		fold_ps(_mm_hadd_ps(x, y)); fold_pd(_mm_addsub_pd(p, q)); fold_ps(_mm_movehdup_ps(x));
		fold(_mm_shuffle_epi8(a, b)); fold(_mm_maddubs_epi16(a, b));
		fold(_mm_alignr_epi8(a, b, 7)); fold(_mm_hadds_epi16(a, b)); fold(_mm_sign_epi8(a, b));
		fold(_mm_abs_epi32(a)); fold(_mm_mulhrs_epi16(a, b));
		fold(_mm_blendv_epi8(a, b, _mm_xor_si128(a, b))); fold(_mm_blend_epi16(a, b, 0x5a));
		fold(_mm_min_epi32(a, b)); fold(_mm_max_epu32(a, b)); fold(_mm_mullo_epi32(a, b));
		fold(_mm_mul_epi32(a, b)); fold(_mm_packus_epi32(a, b)); fold(_mm_cvtepu8_epi32(a));
		fold(_mm_cvtepi16_epi64(b)); fold(_mm_minpos_epu16(a)); fold(_mm_mpsadbw_epu8(a, b, 5));
		fold(_mm_insert_epi32(a, i, 2)); fold_int(_mm_extract_epi8(b, 9));
		fold_int(_mm_testz_si128(a, b)); fold_int(_mm_testc_si128(a, _mm_and_si128(a, b)));
		fold(_mm_cmpeq_epi64(a, b)); fold(_mm_cmpgt_epi64(a, b));
		fold_ps(_mm_dp_ps(x, y, 0xf1)); fold_pd(_mm_dp_pd(p, q, 0x31));
		fold_ps(_mm_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
		fold_pd(_mm_round_pd(p, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
		fold_ps(_mm_blendv_ps(x, y, x)); fold_ps(_mm_insert_ps(x, y, 0x9c));
		fold_int(_mm_cmpistri(a, b, _SIDD_UBYTE_OPS | _SIDD_CMP_EQUAL_ANY));
		fold(_mm_cmpistrm(a, b, _SIDD_UWORD_OPS | _SIDD_CMP_RANGES | _SIDD_UNIT_MASK));
		fold_int(_mm_cmpestri(a, i % 17, b, (i * 7) % 17,
				      _SIDD_SBYTE_OPS | _SIDD_CMP_EQUAL_ORDERED | _SIDD_NEGATIVE_POLARITY));
		crc = _mm_crc32_u64(crc, rt_rand(&seed));
		crc = _mm_crc32_u8((uint32_t)crc, (uint8_t)i);
		fold_int(__builtin_popcountll(rt_rand(&seed)));
	}
	rt_printf("sse4 lanes %016lx crc32c %08lx\n", (unsigned long)h, (unsigned long)crc);
}
#endif

int main(void)
{
	integer_lanes();
	float_lanes();
#ifdef __SSE4_2__
	sse4_lanes();
#endif
	return 0;
}
