/*
 * crc32c.c — CRC-32C (Castagnoli), the checksum of a Kafka record batch v2
 * (bytes 21..end, see batch.h).
 *
 * Parameters: reflected polynomial 0x82F63B78, initial value and final xor
 * 0xFFFFFFFF, so crc32c(0, "123456789", 9) == 0xE3069283. As with zlib's
 * crc32(), the crc argument is the previous return value (0 to start), so a
 * buffer can be checksummed in pieces:
 *
 *   crc32c(crc32c(0, a, n), b, m) == crc32c(0, a || b, n + m)
 *
 * Two implementations that must agree bit for bit:
 *
 *   crc32c_sse42()     the SSE4.2 CRC32 instruction, 8 bytes at a time.
 *                      Compiled for sse4.2 with a target attribute (the rest
 *                      of the program is not) and used only when the CPU
 *                      reports sse4.2 at run time. The instruction has a
 *                      latency of 3 cycles but a throughput of 1, so long
 *                      buffers are cut in three equal streams A|B|C that
 *                      are summed side by side and then combined:
 *
 *                        reg(A|B|C) = shift(shift(reg(A)) ^ reg0(B)) ^ reg0(C)
 *
 *                      where reg0 starts from 0 and shift(r) advances r over
 *                      one stream's length of zero bytes, i.e. multiplies it
 *                      by x^(8 * len) mod P. For the two stream lengths used
 *                      (CRC32C_LONG, CRC32C_SHORT) shift() is a table, one
 *                      256-entry table per byte of r, since it is linear.
 *   crc32c_fold()      for buffers of CRC32C_FOLD_MIN bytes and more, on
 *                      CPUs with AVX-512 and VPCLMULQDQ: carry-less
 *                      multiplication folds the message, 256 bytes per
 *                      step in four registers of four 128-bit lanes, down
 *                      to 16 bytes whose CRC (with the rest of the buffer)
 *                      the CRC32 instruction then takes. Folding relies on
 *                      the CRC register after a message depending only on
 *                      the message modulo P: a 128-bit lane X standing D
 *                      bits before a later lane is replaced by a value
 *                      congruent to it at the later lane's place,
 *
 *                        fold_D(X) = clmul(X.lo, k(D + 63)) ^ clmul(X.hi, k(D - 1))
 *
 *                      where X.lo holds the lane's first 8 bytes, k(n) is
 *                      x^n mod P reflected into the high half of a 64-bit
 *                      word, and the exponents are one less than the
 *                      distances because the product of two reflected
 *                      operands comes out one bit short of a reflected
 *                      128-bit value. The initial register is xored into
 *                      the first 4 bytes, as the CRC32 instruction would
 *                      start from it. The constants are computed at setup
 *                      like the shift tables.
 *   crc32c_portable()  slicing-by-8: eight 256-entry tables, where
 *                      table[k][b] is the CRC register after byte b followed
 *                      by k zero bytes; one 8-byte word costs 8 lookups.
 *
 * The tables and the CPU check are set up once, on first use, under
 * pthread_once(); afterwards they are read-only, so every function here may
 * be called from any thread without a lock.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "engine/batch.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CRC32C_HAVE_SSE42 1
#include <immintrin.h>
#endif

#define CRC32C_POLY 0x82F63B78u /* 0x1EDC6F41 bit-reversed */

#define CRC32C_LONG  8192 /* bytes per stream, multiples of 8 */
#define CRC32C_SHORT 256

static uint32_t crc32c_table[8][256];
static uint32_t crc32c_long[4][256], crc32c_short[4][256];
static bool crc32c_hw, crc32c_fold_hw;
/* fold constants: {k(D + 63), k(D - 1)} for D = 2048 (a step), 512 (one
 * register into the next) and 128 (one lane into the next) bits */
static uint64_t fold_2048[2], fold_512[2], fold_128[2];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

/* a * b modulo P, both reflected (bit 31 is the coefficient of x^0). */
static uint32_t gf2_mulmod(uint32_t a, uint32_t b)
{
	uint32_t prod = 0;

	for (int i = 0; i < 32; i++) {
		if (a & (0x80000000u >> i))
			prod ^= b;
		b = (b & 1) ? (b >> 1) ^ CRC32C_POLY : b >> 1; /* b *= x */
	}
	return prod;
}

/* x^n modulo P, reflected: x^(8 * n) is what n zero bytes multiply the
 * CRC register by. */
static uint32_t xpow(size_t n)
{
	uint32_t r = 0x80000000u, sq = 0x40000000u; /* x^0, x^1 */

	for (; n; n >>= 1) {
		if (n & 1)
			r = gf2_mulmod(r, sq);
		sq = gf2_mulmod(sq, sq);
	}
	return r;
}

static void fold_init(uint64_t k[2], size_t bits)
{
	k[0] = (uint64_t)xpow(bits + 63) << 32;
	k[1] = (uint64_t)xpow(bits - 1) << 32;
}

static void shift_table_init(uint32_t t[4][256], size_t len)
{
	uint32_t m = xpow(8 * len);

	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++)
			t[k][b] = gf2_mulmod(b << (8 * k), m);
}

static void crc32c_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc32c_table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = crc32c_table[0][n];
		for (int k = 1; k < 8; k++) {
			c = crc32c_table[0][c & 0xff] ^ (c >> 8);
			crc32c_table[k][n] = c;
		}
	}
	shift_table_init(crc32c_long, CRC32C_LONG);
	shift_table_init(crc32c_short, CRC32C_SHORT);
	fold_init(fold_2048, 2048);
	fold_init(fold_512, 512);
	fold_init(fold_128, 128);
#ifdef CRC32C_HAVE_SSE42
	__builtin_cpu_init();
	crc32c_hw = __builtin_cpu_supports("sse4.2");
	crc32c_fold_hw = crc32c_hw && __builtin_cpu_supports("pclmul") &&
			 __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq");
#endif
}

/* Little-endian load that works on any host and any alignment; compilers
 * turn it into one load on x86. */
static inline uint64_t le64_get(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	       (uint64_t)p[7] << 56;
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
	const uint32_t(*t)[256] = crc32c_table;

	crc = ~crc;
	/* Byte at a time up to an 8-byte boundary: not needed for correctness
	 * (le64_get is alignment-free) but keeps the word loads aligned. */
	while (len && ((uintptr_t)p & 7)) {
		crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		uint64_t w = le64_get(p) ^ crc;

		crc = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^
		      t[4][(w >> 24) & 0xff] ^ t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^
		      t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

#ifdef CRC32C_HAVE_SSE42
static inline uint32_t crc32c_shift(const uint32_t t[4][256], uint32_t r)
{
	return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
}

/* Three interleaved streams of n bytes each over p[0, 3n): see the top. */
__attribute__((target("sse4.2"))) static inline uint64_t crc32c_sse42_3way(uint64_t c0,
									   const uint8_t *p,
									   size_t n,
									   const uint32_t t[4][256])
{
	uint64_t c1 = 0, c2 = 0, w0, w1, w2;
	const uint8_t *end = p + n;

	do {
		memcpy(&w0, p, 8);
		memcpy(&w1, p + n, 8);
		memcpy(&w2, p + 2 * n, 8);
		c0 = _mm_crc32_u64(c0, w0);
		c1 = _mm_crc32_u64(c1, w1);
		c2 = _mm_crc32_u64(c2, w2);
		p += 8;
	} while (p < end);
	c0 = crc32c_shift(t, (uint32_t)c0) ^ c1;
	return crc32c_shift(t, (uint32_t)c0) ^ c2;
}

__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p,
							       size_t len)
{
	uint64_t c = ~crc;

	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8((uint32_t)c, *p++);
		len--;
	}
	while (len >= 3 * CRC32C_LONG) {
		c = crc32c_sse42_3way(c, p, CRC32C_LONG, crc32c_long);
		p += 3 * CRC32C_LONG;
		len -= 3 * CRC32C_LONG;
	}
	while (len >= 3 * CRC32C_SHORT) {
		c = crc32c_sse42_3way(c, p, CRC32C_SHORT, crc32c_short);
		p += 3 * CRC32C_SHORT;
		len -= 3 * CRC32C_SHORT;
	}
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8); /* aligned here; memcpy keeps it defined */
		c = _mm_crc32_u64(c, w);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}

/* Folding needs the whole of at least two steps to pay for its set-up. */
#define CRC32C_FOLD_MIN 512
#define FOLD_TARGET     "sse4.2,pclmul,avx512f,vpclmulqdq"

__attribute__((target(FOLD_TARGET))) static inline __m512i fold512(__m512i x, __m512i k,
								   __m512i next)
{
	return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(x, k, 0x00),
					 _mm512_clmulepi64_epi128(x, k, 0x11), next, 0x96);
}

__attribute__((target(FOLD_TARGET))) static inline __m128i fold128(__m128i x, __m128i k,
								   __m128i next)
{
	return _mm_xor_si128(
		_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11)),
		next);
}

/* len >= CRC32C_FOLD_MIN. */
__attribute__((target(FOLD_TARGET))) static uint32_t crc32c_fold(uint32_t crc, const uint8_t *p,
								 size_t len)
{
	const __m512i k2048 = _mm512_broadcast_i32x4(
		_mm_set_epi64x((long long)fold_2048[1], (long long)fold_2048[0]));
	const __m512i k512 = _mm512_broadcast_i32x4(
		_mm_set_epi64x((long long)fold_512[1], (long long)fold_512[0]));
	const __m128i k128 = _mm_set_epi64x((long long)fold_128[1], (long long)fold_128[0]);
	__m512i a0 = _mm512_loadu_si512(p), a1 = _mm512_loadu_si512(p + 64);
	__m512i a2 = _mm512_loadu_si512(p + 128), a3 = _mm512_loadu_si512(p + 192);

	/* The initial register, as the first 4 bytes' xor. */
	a0 = _mm512_xor_si512(a0, _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)~crc)));
	p += 256;
	len -= 256;
	for (; len >= 256; p += 256, len -= 256) {
		a0 = fold512(a0, k2048, _mm512_loadu_si512(p));
		a1 = fold512(a1, k2048, _mm512_loadu_si512(p + 64));
		a2 = fold512(a2, k2048, _mm512_loadu_si512(p + 128));
		a3 = fold512(a3, k2048, _mm512_loadu_si512(p + 192));
	}
	a0 = fold512(fold512(fold512(a0, k512, a1), k512, a2), k512, a3);
	__m128i x = _mm512_extracti32x4_epi32(a0, 0);
	x = fold128(x, k128, _mm512_extracti32x4_epi32(a0, 1));
	x = fold128(x, k128, _mm512_extracti32x4_epi32(a0, 2));
	x = fold128(x, k128, _mm512_extracti32x4_epi32(a0, 3));
	for (; len >= 16; p += 16, len -= 16)
		x = fold128(x, k128, _mm_loadu_si128((const __m128i *)(const void *)p));
	/* The 16 bytes left in x, from a register of 0, then the rest. */
	uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(x));
	c = _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(x, 1));
	while (len--)
		c = _mm_crc32_u8((uint32_t)c, *p++);
	return ~(uint32_t)c;
}
#endif

bool crc32c_hw_available(void)
{
	pthread_once(&crc32c_once, crc32c_init);
	return crc32c_hw;
}

uint32_t crc32c_portable(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
	return crc32c_sw(crc, buf, len);
}

uint32_t crc32c_no_fold(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
#ifdef CRC32C_HAVE_SSE42
	if (crc32c_hw)
		return crc32c_sse42(crc, buf, len);
#endif
	return crc32c_sw(crc, buf, len);
}

bool crc32c_fold_available(void)
{
	pthread_once(&crc32c_once, crc32c_init);
	return crc32c_fold_hw;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_init);
#ifdef CRC32C_HAVE_SSE42
	if (crc32c_fold_hw && len >= CRC32C_FOLD_MIN)
		return crc32c_fold(crc, buf, len);
	if (crc32c_hw)
		return crc32c_sse42(crc, buf, len);
#endif
	return crc32c_sw(crc, buf, len);
}
