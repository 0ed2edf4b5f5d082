/*
 * test_snappy.c — the snappy codec (engine/snappy.c) through
 * compress_buf / decompress_buf: raw blocks built by hand from the format
 * (every element kind, overlapping copies, long literals, multi-byte
 * lengths), the xerial framing (one stream, concatenated streams, header
 * only) and what we write (its header and block sizes); every malformed
 * case refused with -EBADMSG (varints, literals and copies running past
 * the input or the declared length, offsets of 0 or beyond what was
 * produced, xerial lengths), a small block claiming a huge length refused
 * before memory is taken for it, the 64 MiB output cap, and random inputs
 * and mutations that must never crash (run under ASan).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/batch.h"

static const uint8_t magic[16] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1 };

/* Random bytes from the C library's generator, seeded in main: the same
 * inputs every run. */
static uint32_t rng(void)
{
	return (uint32_t)rand() << 16 ^ (uint32_t)rand();
}

/* Decompresses in and checks the output against want (want_len bytes);
 * want NULL: expects -EBADMSG. */
static void expect(const uint8_t *in, size_t len, const void *want, size_t want_len)
{
	uint8_t *out = NULL;
	size_t cap = 0;
	int64_t n = decompress_buf(BATCH_CODEC_SNAPPY, in, len, &out, &cap);

	if (!want) {
		assert_int_equal(n, -EBADMSG);
	} else {
		assert_int_equal(n, (int64_t)want_len);
		if (want_len)
			assert_memory_equal(out, want, want_len);
	}
	free(out);
}

#define EXPECT(vec, want, want_len) expect(vec, sizeof(vec), want, want_len)

/* Vectors built from the format, byte by byte. */
static const uint8_t v_empty[] = { 0x00 };
static const uint8_t v_hello[] = { 0x05, 0x10, 'h', 'e', 'l', 'l', 'o' };
/* "ab", then a 1-byte-offset copy of 10 at offset 2: a run that reads
 * what it writes */
static const uint8_t v_run[] = { 0x0c, 0x04, 'a', 'b', 0x19, 0x02 };
/* 8 literal bytes, then the same 8 by a 2-byte-offset copy */
static const uint8_t v_copy2[] = { 0x10, 0x1c, 'a', 'b',  'c',  'd', 'e',
				   'f',  'g',  'h', 0x1e, 0x08, 0x00 };
/* the same by a 4-byte-offset copy */
static const uint8_t v_copy4[] = { 0x10, 0x1c, 'a',  'b',  'c',  'd',  'e', 'f',
				   'g',  'h',  0x1f, 0x08, 0x00, 0x00, 0x00 };
/* ulen 200 (two varint bytes): 'z', three copies of 64 and one of 7 at
 * offset 1 */
static const uint8_t v_varint2[] = { 0xc8, 0x01, 0x00, 'z',  0xfe, 0x01, 0x00, 0xfe,
				     0x01, 0x00, 0xfe, 0x01, 0x00, 0x1a, 0x01, 0x00 };

static void test_vectors(void **state)
{
	uint8_t v_lit100[3 + 100], want[200];

	(void)state;
	EXPECT(v_empty, "", 0);
	EXPECT(v_hello, "hello", 5);
	EXPECT(v_run, "abababababab", 12);
	EXPECT(v_copy2, "abcdefghabcdefgh", 16);
	EXPECT(v_copy4, "abcdefghabcdefgh", 16);
	memset(want, 'z', sizeof(want));
	EXPECT(v_varint2, want, 200);
	/* a literal of 100: tag 60 (one length byte, 99) */
	v_lit100[0] = 100;
	v_lit100[1] = 60 << 2;
	v_lit100[2] = 99;
	for (int i = 0; i < 100; i++)
		want[i] = v_lit100[3 + i] = (uint8_t)('0' + i % 10);
	EXPECT(v_lit100, want, 100);
	/* the same with its length in 4 bytes (tag 63) */
	{
		uint8_t v[6 + 100];

		v[0] = 100;
		v[1] = 63 << 2;
		v[2] = 99;
		v[3] = v[4] = v[5] = 0;
		memcpy(v + 6, want, 100);
		EXPECT(v, want, 100);
	}
}

/* Appends a 4-byte big-endian xerial block length and the block. */
static size_t put_block(uint8_t *p, const uint8_t *blk, size_t n)
{
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	memcpy(p + 4, blk, n);
	return 4 + n;
}

static void test_xerial(void **state)
{
	uint8_t buf[256];
	size_t n = 0;

	(void)state;
	memcpy(buf, magic, 16);
	expect(buf, 16, "", 0); /* a header alone: nothing */
	n = 16;
	n += put_block(buf + n, v_hello, sizeof(v_hello));
	n += put_block(buf + n, v_run, sizeof(v_run));
	expect(buf, n, "helloabababababab", 17);
	/* a second stream after the first, as snappy-java reads them */
	memcpy(buf + n, magic, 16);
	n += 16;
	n += put_block(buf + n, v_copy2, sizeof(v_copy2));
	expect(buf, n,
	       "helloabababababab"
	       "abcdefghabcdefgh",
	       33);
	/* versions are not checked (as librdkafka) */
	buf[11] = 7;
	expect(buf, n,
	       "helloabababababab"
	       "abcdefghabcdefgh",
	       33);
}

/* What we write: snappy-java's header, blocks of at most 32 KiB of input
 * that each decode alone, and real compression of repetitive input. */
static void test_written(void **state)
{
	const size_t len = 100000;
	uint8_t *in = malloc(len), *z = NULL, *out = NULL;
	size_t cap = 0, pos, blocks = 0, total = 0;
	int64_t zn;

	(void)state;
	assert_non_null(in);
	for (size_t i = 0; i < len; i++)
		in[i] = (uint8_t)("mqfs log line "[i % 14] + (i / 5000));
	zn = compress_buf(BATCH_CODEC_SNAPPY, in, len, &z);
	assert_true(zn > 16 && zn < (int64_t)len / 4);
	assert_memory_equal(z, magic, 16);
	for (pos = 16; pos < (size_t)zn; blocks++) {
		size_t bl = (size_t)z[pos] << 24 | (size_t)z[pos + 1] << 16 |
			    (size_t)z[pos + 2] << 8 | z[pos + 3];
		int64_t dn;

		assert_true(pos + 4 + bl <= (size_t)zn);
		dn = decompress_buf(BATCH_CODEC_SNAPPY, z + pos + 4, bl, &out, &cap);
		assert_true(dn > 0 && dn <= 32768);
		assert_memory_equal(out, in + total, (size_t)dn);
		total += (size_t)dn;
		pos += 4 + bl;
	}
	assert_int_equal(pos, (size_t)zn);
	assert_int_equal(total, len);
	assert_int_equal(blocks, 4); /* 32 KiB, 32 KiB, 32 KiB, the rest */
	assert_int_equal(decompress_buf(BATCH_CODEC_SNAPPY, z, (size_t)zn, &out, &cap),
			 (int64_t)len);
	assert_memory_equal(out, in, len);
	free(z);
	/* nothing at all: the header alone */
	zn = compress_buf(BATCH_CODEC_SNAPPY, in, 0, &z);
	assert_int_equal(zn, 16);
	free(z);
	/* random (incompressible) and long-run inputs of many sizes */
	for (size_t s = 1; s < len; s = s * 3 + (size_t)(rng() % 7)) {
		for (size_t i = 0; i < s; i++)
			in[i] = (s & 1) ? (uint8_t)rng() : (uint8_t)(i / 300);
		zn = compress_buf(BATCH_CODEC_SNAPPY, in, s, &z);
		assert_true(zn > 16);
		assert_int_equal(decompress_buf(BATCH_CODEC_SNAPPY, z, (size_t)zn, &out, &cap),
				 (int64_t)s);
		assert_memory_equal(out, in, s);
		free(z);
	}
	free(out);
	free(in);
}

static void test_malformed(void **state)
{
	static const uint8_t none[1];
	/* varints: unterminated, six bytes, over 32 bits */
	static const uint8_t m_var1[] = { 0x80 };
	static const uint8_t m_var6[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t m_var33[] = { 0xff, 0xff, 0xff, 0xff, 0x1f };
	/* literals: past the input, length bytes missing, past ulen */
	static const uint8_t m_lit_in[] = { 0x05, 0x10, 'h', 'e' };
	static const uint8_t m_lit_lenb[] = { 0x01, 0xf0 };
	static const uint8_t m_lit_lenb4[] = { 0x01, 0xfc, 0x01, 0x00 };
	static const uint8_t m_lit_ulen[] = { 0x02, 0x10, 'h', 'e', 'l', 'l', 'o' };
	/* copies: offset 0, offset past what was produced, past ulen,
	 * offset bytes missing (each kind) */
	static const uint8_t m_off0[] = { 0x08, 0x00, 'a', 0x0d, 0x00 };
	static const uint8_t m_off_far[] = { 0x08, 0x00, 'a', 0x0d, 0x02 };
	static const uint8_t m_off_first[] = { 0x07, 0x0d, 0x01 };
	static const uint8_t m_copy_ulen[] = { 0x03, 0x00, 'a', 0x0d, 0x01 };
	static const uint8_t m_c1_short[] = { 0x05, 0x00, 'a', 0x0d };
	static const uint8_t m_c2_short[] = { 0x05, 0x00, 'a', 0x1e, 0x01 };
	static const uint8_t m_c4_short[] = { 0x05, 0x00, 'a', 0x1f, 0x01, 0x00, 0x00 };
	static const uint8_t m_c4_far[] = { 0x05, 0x00, 'a', 0x0f, 0x01, 0x00, 0x00, 0x80 };
	/* fewer bytes than declared; bytes after the declared ones */
	static const uint8_t m_short_out[] = { 0x06, 0x10, 'h', 'e', 'l', 'l', 'o' };
	static const uint8_t m_trailing[] = { 0x05, 0x10, 'h', 'e', 'l', 'l', 'o', 0x00, 'x' };
	uint8_t buf[64];

	(void)state;
	expect(none, 0, NULL, 0); /* nothing: not even a length */
	EXPECT(m_var1, NULL, 0);
	EXPECT(m_var6, NULL, 0);
	EXPECT(m_var33, NULL, 0);
	EXPECT(m_lit_in, NULL, 0);
	EXPECT(m_lit_lenb, NULL, 0);
	EXPECT(m_lit_lenb4, NULL, 0);
	EXPECT(m_lit_ulen, NULL, 0);
	EXPECT(m_off0, NULL, 0);
	EXPECT(m_off_far, NULL, 0);
	EXPECT(m_off_first, NULL, 0);
	EXPECT(m_copy_ulen, NULL, 0);
	EXPECT(m_c1_short, NULL, 0);
	EXPECT(m_c2_short, NULL, 0);
	EXPECT(m_c4_short, NULL, 0);
	EXPECT(m_c4_far, NULL, 0);
	EXPECT(m_short_out, NULL, 0);
	EXPECT(m_trailing, NULL, 0);

	/* xerial: magic without the versions; a length cut short; a block
	 * of length 0, one past the input, one negative as a Java int; a
	 * second header cut short or not a header; a bad block inside */
	memcpy(buf, magic, 16);
	expect(buf, 8, NULL, 0);
	expect(buf, 15, NULL, 0);
	memcpy(buf + 16, "\0\0\0", 3);
	expect(buf, 19, NULL, 0);
	memcpy(buf + 16, "\0\0\0\0", 4);
	expect(buf, 20, NULL, 0);
	put_block(buf + 16, v_hello, sizeof(v_hello));
	expect(buf, 16 + 4 + sizeof(v_hello) - 1, NULL, 0);
	buf[16] = 0x80;
	expect(buf, 16 + 4 + sizeof(v_hello), NULL, 0);
	size_t n = 16 + put_block(buf + 16, v_hello, sizeof(v_hello));
	memcpy(buf + n, magic, 10);
	expect(buf, n + 10, NULL, 0);
	memcpy(buf + n, magic, 16);
	buf[n + 5] = 'X';
	expect(buf, n + 16, NULL, 0);
	n = 16 + put_block(buf + 16, m_off_far, sizeof(m_off_far));
	expect(buf, n, NULL, 0);
}

/* A block of a few bytes claiming 64 MiB is refused before 64 MiB is
 * taken for it; real output over 64 MiB is refused, exactly 64 MiB is
 * not. */
static void test_limits(void **state)
{
	const size_t limit = 64u << 20;
	/* ulen 2^26 (64 MiB): 0x80 0x80 0x80 0x20, then one copy */
	static const uint8_t lie[] = { 0x80, 0x80, 0x80, 0x20, 0x00, 'a', 0xfe, 0x01, 0x00 };
	uint8_t *zeros = calloc(1, limit + 1), *z = NULL, *out = NULL;
	size_t cap = 0;
	int64_t zn;

	(void)state;
	assert_non_null(zeros);
	assert_int_equal(decompress_buf(BATCH_CODEC_SNAPPY, lie, sizeof(lie), &out, &cap),
			 -EBADMSG);
	assert_true(cap <= 4096);
	zn = compress_buf(BATCH_CODEC_SNAPPY, zeros, limit + 1, &z);
	assert_true(zn > 0 && zn < (8 << 20));
	assert_int_equal(decompress_buf(BATCH_CODEC_SNAPPY, z, (size_t)zn, &out, &cap), -EBADMSG);
	assert_true(cap <= limit);
	free(z);
	zn = compress_buf(BATCH_CODEC_SNAPPY, zeros, limit, &z);
	assert_int_equal(decompress_buf(BATCH_CODEC_SNAPPY, z, (size_t)zn, &out, &cap),
			 (int64_t)limit);
	free(z);
	free(out);
	free(zeros);
}

/* Every truncation and random bytes changed in valid payloads of both
 * framings, and random garbage: -EBADMSG or some output, never a crash or
 * a read out of bounds (ASan). */
static void test_mutations(void **state)
{
	uint8_t in[3000], *z = NULL, *out = NULL, mut[4096];
	size_t cap = 0;
	int64_t zn;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)("snappy "[i % 7] ^ (i % 97 == 0));
	zn = compress_buf(BATCH_CODEC_SNAPPY, in, sizeof(in), &z);
	assert_true(zn > 20);
	for (int framing = 0; framing < 2; framing++) {
		/* raw: the first block without the xerial framing */
		const uint8_t *p = framing ? z : z + 20;
		size_t plen = framing ? (size_t)zn
				      : ((size_t)z[16] << 24 | (size_t)z[17] << 16 |
					 (size_t)z[18] << 8 | z[19]);

		assert_true(decompress_buf(BATCH_CODEC_SNAPPY, p, plen, &out, &cap) > 0);
		for (size_t cut = 0; cut < plen; cut++) {
			uint8_t *copy = malloc(cut + 1); /* exact size for ASan */

			memcpy(copy, p, cut);
			int64_t r = decompress_buf(BATCH_CODEC_SNAPPY, copy, cut, &out, &cap);
			/* only a cut at a xerial block boundary is whole */
			assert_true(r == -EBADMSG || (framing && r >= 0));
			free(copy);
		}
		for (int k = 0; k < 5000; k++) {
			memcpy(mut, p, plen);
			for (int j = 0; j <= (int)(rng() % 3); j++)
				mut[rng() % plen] = (uint8_t)rng();
			int64_t r = decompress_buf(BATCH_CODEC_SNAPPY, mut, plen, &out, &cap);
			assert_true(r == -EBADMSG || (r >= 0 && r <= (int64_t)(64u << 20)));
		}
	}
	for (int k = 0; k < 5000; k++) {
		size_t glen = (size_t)(rng() % 64);
		uint8_t *g = malloc(glen + 1);

		for (size_t i = 0; i < glen; i++)
			g[i] = (uint8_t)rng();
		if (k & 1 && glen >= 16)
			memcpy(g, magic, 16);
		int64_t r = decompress_buf(BATCH_CODEC_SNAPPY, g, glen, &out, &cap);
		assert_true(r == -EBADMSG || r >= 0);
		free(g);
	}
	free(out);
	free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors), cmocka_unit_test(test_xerial),
		cmocka_unit_test(test_written), cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),  cmocka_unit_test(test_mutations),
	};

	srand(20261206);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
