/*
 * test_crc32c.c — CRC-32C (engine/crc32c.c): the check value and the
 * RFC 3720 vectors on both paths, and the SSE4.2 path, the slicing-by-8
 * path and a bit-at-a-time reference agreeing on every length 0..300 from
 * every alignment, in one piece and in two, and around the lengths where
 * the SSE4.2 path switches to three interleaved streams (3 * 256 and
 * 3 * 8192 bytes); the folding path of long buffers on every length
 * around its threshold and its steps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/batch.h"

/* Bit at a time, straight from the definition; shares nothing with
 * crc32c.c, so it can judge both implementations. */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rng();
}

struct vec {
	uint8_t data[32];
	uint32_t crc;
};

/* RFC 3720, appendix B.4 */
static void rfc3720_vectors(struct vec v[4])
{
	memset(v[0].data, 0x00, 32);
	v[0].crc = 0x8A9136AA;
	memset(v[1].data, 0xFF, 32);
	v[1].crc = 0x62A8AB43;
	for (int i = 0; i < 32; i++) {
		v[2].data[i] = (uint8_t)i;
		v[3].data[i] = (uint8_t)(31 - i);
	}
	v[2].crc = 0x46DD794E;
	v[3].crc = 0x113FDB5C;
}

static void test_check_value_portable(void **state)
{
	struct vec v[4];

	(void)state;
	assert_int_equal(crc32c_portable(0, "123456789", 9), 0xE3069283);
	assert_int_equal(crc32c_portable(0, "", 0), 0);
	assert_int_equal(crc32c_portable(0, NULL, 0), 0);
	assert_int_equal(crc32c_ref(0, (const uint8_t *)"123456789", 9), 0xE3069283);
	rfc3720_vectors(v);
	for (int i = 0; i < 4; i++)
		assert_int_equal(crc32c_portable(0, v[i].data, 32), v[i].crc);
}

/* crc32c() is the SSE4.2 path whenever the CPU has it. */
static void test_check_value_hw(void **state)
{
	struct vec v[4];

	(void)state;
	if (!crc32c_hw_available()) {
		print_message("no SSE4.2 on this CPU: hardware path not tested\n");
		skip();
	}
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283);
	assert_int_equal(crc32c(0, "", 0), 0);
	rfc3720_vectors(v);
	for (int i = 0; i < 4; i++)
		assert_int_equal(crc32c(0, v[i].data, 32), v[i].crc);
}

static void test_check_value_dispatch(void **state)
{
	(void)state;
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283);
}

/* Every length 0..300 from 16 different alignments, three ways. */
static void test_all_lengths_unaligned(void **state)
{
	enum { MAXLEN = 300, ALIGNS = 16 };
	uint8_t *buf = malloc(MAXLEN + ALIGNS);

	(void)state;
	assert_non_null(buf);
	for (int round = 0; round < 4; round++) {
		fill_random(buf, MAXLEN + ALIGNS);
		for (size_t off = 0; off < ALIGNS; off++) {
			for (size_t len = 0; len <= MAXLEN; len++) {
				uint32_t want = crc32c_ref(0, buf + off, len);

				assert_int_equal(crc32c_portable(0, buf + off, len), want);
				assert_int_equal(crc32c(0, buf + off, len), want);
			}
		}
	}
	free(buf);
}

/* Passing the previous result continues the checksum, on both paths. */
static void test_incremental(void **state)
{
	enum { LEN = 300 };
	uint8_t buf[LEN];

	(void)state;
	fill_random(buf, LEN);
	uint32_t whole = crc32c_ref(0, buf, LEN);
	for (size_t cut = 0; cut <= LEN; cut++) {
		uint32_t a = crc32c(0, buf, cut);
		uint32_t b = crc32c_portable(0, buf, cut);

		assert_int_equal(crc32c(a, buf + cut, LEN - cut), whole);
		assert_int_equal(crc32c_portable(b, buf + cut, LEN - cut), whole);
		/* and mixing the two paths */
		assert_int_equal(crc32c_portable(a, buf + cut, LEN - cut), whole);
	}
	/* A non-zero crc with no data is returned unchanged. */
	assert_int_equal(crc32c(whole, buf, 0), whole);
	assert_int_equal(crc32c_portable(whole, buf, 0), whole);
}

static void test_stream_boundaries(void **state)
{
	static const size_t base[] = { 768, 1536, 24576, 49152, 49152 + 768 };
	enum { MAX = 49152 + 768 + 64 };
	uint8_t *buf = malloc(MAX + 8);

	(void)state;
	assert_non_null(buf);
	fill_random(buf, MAX + 8);
	for (size_t b = 0; b < sizeof(base) / sizeof(base[0]); b++) {
		for (size_t len = base[b] - 17; len <= base[b] + 17; len++) {
			for (size_t off = 0; off < 8; off++) {
				uint32_t want = crc32c_ref(0, buf + off, len);

				assert_int_equal(crc32c(0, buf + off, len), want);
				assert_int_equal(crc32c_no_fold(0, buf + off, len), want);
				assert_int_equal(crc32c_portable(0, buf + off, len), want);
			}
		}
	}
	free(buf);
}

/* The folding path (buffers of 512 bytes and more): every length from
 * below its threshold to past four of its 256-byte steps, from 16
 * alignments, continuing a previous result and continued, against the
 * reference and the path without folding. */
static void test_fold(void **state)
{
	enum { FROM = 490, TO = 1600, ALIGNS = 16 };
	uint8_t *buf = malloc(TO + ALIGNS);

	(void)state;
	assert_non_null(buf);
	if (!crc32c_fold_available())
		print_message("no AVX-512 VPCLMULQDQ here: the folding path is not tested\n");
	fill_random(buf, TO + ALIGNS);
	for (size_t off = 0; off < ALIGNS; off++) {
		for (size_t len = FROM; len <= TO; len++) {
			uint32_t head = crc32c_ref(0, buf, off);
			uint32_t want = crc32c_ref(head, buf + off, len);

			assert_int_equal(crc32c(head, buf + off, len), want);
			assert_int_equal(crc32c_no_fold(head, buf + off, len), want);
			assert_int_equal(crc32c(0, buf, off + len), want);
		}
	}
	free(buf);
}

static void test_large_random(void **state)
{
	enum { LEN = 1 << 20 };
	uint8_t *buf = malloc(LEN + 7);

	(void)state;
	assert_non_null(buf);
	fill_random(buf, LEN + 7);
	for (size_t off = 0; off < 8; off += 3) {
		uint32_t want = crc32c_ref(0, buf + off, LEN - off);

		assert_int_equal(crc32c(0, buf + off, LEN - off), want);
		assert_int_equal(crc32c_no_fold(0, buf + off, LEN - off), want);
		assert_int_equal(crc32c_portable(0, buf + off, LEN - off), want);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_value_portable),
		cmocka_unit_test(test_check_value_hw),
		cmocka_unit_test(test_check_value_dispatch),
		cmocka_unit_test(test_all_lengths_unaligned),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_stream_boundaries),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_large_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
