/*
 * ctlscan.h — finding the bytes the line view escapes, sixteen at a time
 * (private to engine/).
 *
 * Every record of an append and of a read is tested for bytes to escape,
 * and every written line is searched for its '\n': one pass over the
 * bytes does both (linefmt.c's line_scan, batch_lines.c's copy of a line
 * into a batch). ctl_mask marks, in CTL_BLOCK bytes at once, every byte of
 * 0x00-0x1f and 0x7f (tab and '\n' included; the callers tell them apart
 * byte by byte, as they are rare in text) and every byte equal to x. The
 * portable version does the same eight bytes at a time (hasless/haszero:
 * exact about whether a word has such a byte). ctl_any asks whether a
 * range holds one (linefmt.c's escaping rules, the follower's walk in
 * batch.c); ctl_hits_avx2 marks 32 bytes for the callers built for AVX2
 * (batch_lines.c's copy, batch.c's check of a follower's values).
 */
#ifndef MQFS_ENGINE_CTLSCAN_H
#define MQFS_ENGINE_CTLSCAN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* A byte the line view escapes (linefmt.c, rule E1). */
static inline bool ctl_byte(uint8_t c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#define CTL_BLOCK 16
static inline unsigned ctl_mask(const uint8_t *b, int x)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)b);
	__m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
	__m128i hit = _mm_or_si128(low, _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)));

	if (x >= 0)
		hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8((char)x)));
	return (unsigned)_mm_movemask_epi8(hit);
}
#else
#define CTL_BLOCK 8
static inline unsigned ctl_mask(const uint8_t *b, int x)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t w, d, e, hit;
	unsigned m = 0;

	memcpy(&w, b, sizeof(w));
	d = w ^ (ones * 0x7f);
	hit = ((w - ones * 0x20) & ~w) | ((d - ones) & ~d);
	if (x >= 0) {
		e = w ^ (ones * (uint64_t)x);
		hit |= (e - ones) & ~e;
	}
	if (!(hit & highs))
		return 0;
	for (int k = 0; k < 8; k++) /* the word has one: which bytes */
		if (b[k] < 0x20 || b[k] == 0x7f || b[k] == x)
			m |= 1u << k;
	return m;
}
#endif

/* Whether b[0..n) holds a byte the line view escapes (ctl_byte), or x
 * when x >= 0. */
static inline bool ctl_any(const uint8_t *b, int32_t n, int x)
{
	int32_t i = 0;

	for (; i + CTL_BLOCK <= n; i += CTL_BLOCK) {
		unsigned m = ctl_mask(b + i, x);

		for (; m; m &= m - 1)
			if (b[i + __builtin_ctz(m)] != '\t' || x == '\t')
				return true;
	}
	for (; i < n; i++)
		if (ctl_byte(b[i]) || b[i] == x)
			return true;
	return false;
}

/* ctl_mask's marks of 32 bytes, as a vector (0xff per marked byte), for
 * callers built for AVX2 (checked at run time; the program is built for
 * the baseline x86-64). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CTL_HAVE_AVX2 1
#include <immintrin.h>
__attribute__((target("avx2"))) static inline __m256i ctl_hits_avx2(__m256i v)
{
	return _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v),
			       _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f)));
}
#else
#define CTL_HAVE_AVX2 0
#endif

#endif
