/*
 * test_batch.c — record batch v2 (engine/batch.c, varint.c, compress.c):
 * varint edge cases, builder/iterator round trips with every codec we
 * support, a tiny batch checked byte for byte against Kafka's layout, CRC
 * coverage, interop with the system's gzip and lz4 tools, malformed
 * records and corrupt compressed payloads, and a fuzz loop over mutated
 * batches. Files go to a tmpdir removed at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/wait.h>
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "engine/batch.h"
#include "engine/engine.h"
#include "engine/compress_int.h"

static char tmpdir[64];

/* ---- helpers ---- */

static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
	rng_state = s ? s : 1;
}

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static uint32_t rng_below(uint32_t n)
{
	return (uint32_t)(rng() % n);
}

/* A record as the test means it. */
struct trec {
	const uint8_t *key;
	int32_t key_len;
	const uint8_t *value;
	int32_t value_len;
	int64_t ts;
};

/* Builds a batch of recs into a new buffer of cap bytes. */
static uint8_t *build(int codec, const struct trec *recs, int n, size_t cap, int64_t base_offset,
		      int32_t epoch, size_t *len)
{
	struct batch_builder bb;
	uint8_t *buf = malloc(cap);
	int64_t total;

	assert_non_null(buf);
	batch_builder_init(&bb, buf, cap, codec);
	for (int i = 0; i < n; i++)
		assert_int_equal(batch_builder_add(&bb, recs[i].key, recs[i].key_len, recs[i].value,
						   recs[i].value_len, recs[i].ts),
				 0);
	total = batch_builder_finish(&bb, base_offset, epoch);
	assert_true(total >= BATCH_HDR_SIZE);
	assert_true((size_t)total <= cap);
	*len = (size_t)total;
	return buf;
}

/* Validates and iterates a batch, comparing with recs. */
static void check_batch(const uint8_t *buf, size_t len, const struct trec *recs, int n,
			int64_t base_offset)
{
	struct batch_iter it;
	struct rec r;

	memset(&it, 0, sizeof(it));
	assert_int_equal(batch_validate(buf, len), 0);
	assert_int_equal(batch_iter_init(&it, buf, len), 0);
	assert_int_equal(it.hdr.records_count, n);
	assert_int_equal(it.hdr.last_offset_delta, n - 1);
	for (int i = 0; i < n; i++) {
		assert_int_equal(batch_iter_next(&it, &r), 1);
		assert_int_equal(r.offset, base_offset + i);
		assert_int_equal(r.timestamp, recs[i].ts);
		assert_int_equal(r.key_len, recs[i].key_len);
		assert_int_equal(r.value_len, recs[i].value_len);
		assert_int_equal(r.headers_count, 0);
		if (recs[i].key_len < 0)
			assert_null(r.key);
		else if (recs[i].key_len > 0)
			assert_memory_equal(r.key, recs[i].key, (size_t)recs[i].key_len);
		else
			assert_non_null(r.key); /* empty, not null */
		if (recs[i].value_len < 0)
			assert_null(r.value);
		else if (recs[i].value_len > 0)
			assert_memory_equal(r.value, recs[i].value, (size_t)recs[i].value_len);
		else
			assert_non_null(r.value); /* empty, not null */
	}
	assert_int_equal(batch_iter_next(&it, &r), 0);
	assert_int_equal(batch_iter_next(&it, &r), 0);
	batch_iter_free(&it);
}

/* n random records whose bytes live in *pool (caller frees). */
static struct trec *gen_recs(int n, int max_key, int max_value, uint8_t **pool)
{
	struct trec *recs = calloc((size_t)n, sizeof(*recs));
	size_t pool_len = (size_t)n * (size_t)(max_key + max_value) + 1, used = 0;
	int64_t ts = 1700000000000LL;

	assert_non_null(recs);
	*pool = malloc(pool_len);
	assert_non_null(*pool);
	for (size_t i = 0; i < pool_len; i++)
		(*pool)[i] = (uint8_t)("abcdefgh"[rng_below(8)] + (rng_below(16) == 0));
	for (int i = 0; i < n; i++) {
		recs[i].key_len = (int32_t)rng_below((uint32_t)max_key + 2) - 1;
		recs[i].value_len = (int32_t)rng_below((uint32_t)max_value + 2) - 1;
		recs[i].key = recs[i].key_len >= 0 ? *pool + used : NULL;
		used += recs[i].key_len > 0 ? (size_t)recs[i].key_len : 0;
		recs[i].value = recs[i].value_len >= 0 ? *pool + used : NULL;
		used += recs[i].value_len > 0 ? (size_t)recs[i].value_len : 0;
		ts += (int64_t)rng_below(2000) - 500; /* not monotonic */
		recs[i].ts = ts;
	}
	return recs;
}

/* Recomputes batchLength and the CRC of a batch of len bytes. */
static void fix_batch(uint8_t *buf, size_t len)
{
	be32_put(buf + BATCH_OFF_LENGTH, (uint32_t)(len - BATCH_LOG_OVERHEAD));
	be32_put(buf + BATCH_OFF_CRC,
		 crc32c(0, buf + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
}

/* A copy of batch's header followed by payload, with codec in attributes,
 * length and CRC fixed. Exactly sized, so ASan sees any overread. */
static uint8_t *rewrap(const uint8_t *batch, int codec, const uint8_t *payload, size_t plen,
		       size_t *len)
{
	uint8_t *b = malloc(BATCH_HDR_SIZE + plen + 1);

	assert_non_null(b);
	memcpy(b, batch, BATCH_HDR_SIZE);
	if (plen)
		memcpy(b + BATCH_HDR_SIZE, payload, plen);
	be16_put(b + BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
	*len = BATCH_HDR_SIZE + plen;
	fix_batch(b, *len);
	return b;
}

/* Iterates to the end; returns the first error, or 0 when all went well. */
static int iterate_all(const uint8_t *buf, size_t len, struct batch_iter *it)
{
	const uint8_t *start, *end;
	struct rec r;
	int ret;

	ret = batch_iter_init(it, buf, len);
	if (ret < 0)
		return ret;
	start = it->p;
	end = it->end;
	while ((ret = batch_iter_next(it, &r)) == 1) {
		/* Whatever comes out points inside the payload. */
		assert_true(r.key_len >= -1 && r.value_len >= -1);
		if (r.key_len >= 0)
			assert_true(r.key >= start && r.key_len <= end - r.key);
		if (r.value_len >= 0)
			assert_true(r.value >= start && r.value_len <= end - r.value);
	}
	return ret;
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f)
		return -1;
	if (n && fwrite(p, 1, n, f) != n) {
		fclose(f);
		return -1;
	}
	return fclose(f);
}

static uint8_t *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	size_t cap = 0, len = 0, got;

	if (!f)
		return NULL;
	do {
		if (len == cap) {
			cap = cap ? 2 * cap : 65536;
			p = realloc(p, cap);
			assert_non_null(p);
		}
		got = fread(p + len, 1, cap - len, f);
		len += got;
	} while (got > 0);
	fclose(f);
	*n = len;
	return p;
}

/* ---- varints ---- */

struct vi32_case {
	int32_t v;
	uint8_t enc[5];
	int n;
};

struct vi64_case {
	int64_t v;
	uint8_t enc[10];
	int n;
};

static void test_varint_edges(void **state)
{
	static const struct vi32_case c32[] = {
		{ 0, { 0x00 }, 1 },
		{ -1, { 0x01 }, 1 },
		{ 1, { 0x02 }, 1 },
		{ 63, { 0x7e }, 1 },
		{ -64, { 0x7f }, 1 },
		{ 64, { 0x80, 0x01 }, 2 },
		{ -65, { 0x81, 0x01 }, 2 },
		{ 300, { 0xd8, 0x04 }, 2 },
		{ INT32_MAX, { 0xfe, 0xff, 0xff, 0xff, 0x0f }, 5 },
		{ INT32_MIN, { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5 },
	};
	static const struct vi64_case c64[] = {
		{ 0, { 0x00 }, 1 },
		{ -1, { 0x01 }, 1 },
		{ 1, { 0x02 }, 1 },
		{ 64, { 0x80, 0x01 }, 2 },
		{ (int64_t)INT32_MAX + 1, { 0x80, 0x80, 0x80, 0x80, 0x10 }, 5 },
		{ INT64_MAX, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
		{ INT64_MIN, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
	};
	uint8_t buf[16];

	(void)state;
	for (size_t i = 0; i < sizeof(c32) / sizeof(c32[0]); i++) {
		int32_t v;

		memset(buf, 0xAA, sizeof(buf));
		assert_int_equal(varint_put32(buf, c32[i].v), c32[i].n);
		assert_memory_equal(buf, c32[i].enc, (size_t)c32[i].n);
		assert_int_equal(buf[c32[i].n], 0xAA); /* nothing past it */
		assert_int_equal(varint_size32(c32[i].v), c32[i].n);
		assert_int_equal(varint_get32(c32[i].enc, (size_t)c32[i].n, &v), c32[i].n);
		assert_int_equal(v, c32[i].v);
		/* truncated anywhere */
		for (int k = 0; k < c32[i].n; k++)
			assert_int_equal(varint_get32(c32[i].enc, (size_t)k, &v), -EBADMSG);
		/* the 32-bit values read the same as 64-bit */
		int64_t v64;
		assert_int_equal(varint_get64(c32[i].enc, (size_t)c32[i].n, &v64), c32[i].n);
		assert_int_equal(v64, c32[i].v);
	}
	for (size_t i = 0; i < sizeof(c64) / sizeof(c64[0]); i++) {
		int64_t v;

		memset(buf, 0xAA, sizeof(buf));
		assert_int_equal(varint_put64(buf, c64[i].v), c64[i].n);
		assert_memory_equal(buf, c64[i].enc, (size_t)c64[i].n);
		assert_int_equal(buf[c64[i].n], 0xAA);
		assert_int_equal(varint_size64(c64[i].v), c64[i].n);
		assert_int_equal(varint_get64(c64[i].enc, (size_t)c64[i].n, &v), c64[i].n);
		assert_int_equal(v, c64[i].v);
		for (int k = 0; k < c64[i].n; k++)
			assert_int_equal(varint_get64(c64[i].enc, (size_t)k, &v), -EBADMSG);
	}
}

static void test_varint_overlong(void **state)
{
	/* continuation bit on the 5th (10th) byte */
	static const uint8_t long32[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	static const uint8_t long64[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					  0x80, 0x80, 0x80, 0x80, 0x00 };
	/* last byte carrying bits beyond the type */
	static const uint8_t over32[] = { 0xff, 0xff, 0xff, 0xff, 0x1f };
	static const uint8_t over64[] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x03
	};
	/* non-minimal but in range: accepted, as Kafka does */
	static const uint8_t padded0[] = { 0x80, 0x80, 0x00 };
	int32_t v32;
	int64_t v64;

	(void)state;
	assert_int_equal(varint_get32(long32, sizeof(long32), &v32), -EBADMSG);
	assert_int_equal(varint_get64(long64, sizeof(long64), &v64), -EBADMSG);
	assert_int_equal(varint_get32(over32, sizeof(over32), &v32), -EBADMSG);
	assert_int_equal(varint_get64(over64, sizeof(over64), &v64), -EBADMSG);
	/* a 64-bit value too big for 32 bits */
	assert_int_equal(varint_get32(long64, 6, &v32), -EBADMSG);
	assert_int_equal(varint_get32(padded0, sizeof(padded0), &v32), 3);
	assert_int_equal(v32, 0);
	assert_int_equal(varint_get64(padded0, sizeof(padded0), &v64), 3);
	assert_int_equal(v64, 0);
	/* a 6-byte 32-bit varint is refused even when the 6th byte ends it */
	assert_int_equal(varint_get64(long32, sizeof(long32), &v64), 6);
}

static void test_varint_roundtrip(void **state)
{
	uint8_t buf[16];

	(void)state;
	rng_seed(42);
	for (int i = 0; i < 200000; i++) {
		int bits = (int)rng_below(64) + 1;
		uint64_t u = rng() >> (64 - bits);
		int64_t v64 = (rng() & 1) ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
		int32_t v32 = (int32_t)(uint32_t)u, g32;
		int64_t g64;
		int n;

		n = varint_put64(buf, v64);
		assert_int_equal(n, varint_size64(v64));
		assert_int_equal(varint_get64(buf, sizeof(buf), &g64), n);
		assert_int_equal(g64, v64);
		assert_int_equal(varint_get64(buf, (size_t)n, &g64), n);
		assert_int_equal(varint_get64(buf, (size_t)n - 1, &g64), -EBADMSG);

		n = varint_put32(buf, v32);
		assert_int_equal(n, varint_size32(v32));
		assert_true(n <= 5);
		assert_int_equal(varint_get32(buf, sizeof(buf), &g32), n);
		assert_int_equal(g32, v32);
		assert_int_equal(varint_get32(buf, (size_t)n - 1, &g32), -EBADMSG);
	}
}

/* ---- header and layout ---- */

/* Two records, built by hand from batch.h and Kafka's record v2 layout:
 *   base offset 5, leader epoch 7, no codec
 *   record 0: key "k", value "v", timestamp 1000
 *   record 1: key null, value "hi", timestamp 1010
 * The CRC was computed by an independent bitwise CRC-32C (Python). */
static const uint8_t tiny_batch[] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, /* baseOffset 5 */
	0x00, 0x00, 0x00, 0x43,                         /* batchLength 67 */
	0x00, 0x00, 0x00, 0x07,                         /* partitionLeaderEpoch */
	0x02,                                           /* magic */
	0x68, 0x37, 0x20, 0x14,                         /* crc */
	0x00, 0x00,                                     /* attributes */
	0x00, 0x00, 0x00, 0x01,                         /* lastOffsetDelta */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe8, /* baseTimestamp 1000 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xf2, /* maxTimestamp 1010 */
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* producerId -1 */
	0xff, 0xff,                                     /* producerEpoch -1 */
	0xff, 0xff, 0xff, 0xff,                         /* baseSequence -1 */
	0x00, 0x00, 0x00, 0x02,                         /* recordsCount 2 */
	/* record 0 */
	0x10,      /* length 8 */
	0x00,      /* attributes */
	0x00,      /* timestampDelta 0 */
	0x00,      /* offsetDelta 0 */
	0x02, 'k', /* keyLength 1, key */
	0x02, 'v', /* valueLength 1, value */
	0x00,      /* headersCount 0 */
	/* record 1 */
	0x10,           /* length 8 */
	0x00,           /* attributes */
	0x14,           /* timestampDelta 10 */
	0x02,           /* offsetDelta 1 */
	0x01,           /* keyLength -1 */
	0x04, 'h', 'i', /* valueLength 2, value */
	0x00,           /* headersCount 0 */
};

/* batches_hold_codec finds a codec in any batch of several back to back,
 * and stops at a header cut short or a length that runs past the bytes. */
static void test_batches_hold_codec(void **state)
{
	const struct trec recs[] = { { NULL, -1, (const uint8_t *)"hi", 2, 1010 } };
	size_t alen, blen;
	uint8_t *a = build(BATCH_CODEC_GZIP, recs, 1, 4096, 0, 0, &alen);
	uint8_t *b = build(BATCH_CODEC_ZSTD, recs, 1, 4096, 1, 0, &blen);
	uint8_t *both = malloc(alen + blen);

	(void)state;
	memcpy(both, a, alen);
	memcpy(both + alen, b, blen);
	assert_true(batches_hold_codec(both, alen + blen, BATCH_CODEC_ZSTD));
	assert_true(batches_hold_codec(both, alen + blen, BATCH_CODEC_GZIP));
	assert_false(batches_hold_codec(both, alen + blen, BATCH_CODEC_LZ4));
	assert_false(batches_hold_codec(a, alen, BATCH_CODEC_ZSTD));
	/* the second header cut before its attributes */
	assert_false(batches_hold_codec(both, alen + BATCH_OFF_ATTRIBUTES + 1, BATCH_CODEC_ZSTD));
	assert_true(batches_hold_codec(both, alen + BATCH_OFF_ATTRIBUTES + 2, BATCH_CODEC_ZSTD));
	/* the first batch's length past the bytes: nothing after it is read */
	be32_put(both + BATCH_OFF_LENGTH, (uint32_t)(alen + blen));
	assert_false(batches_hold_codec(both, alen + blen, BATCH_CODEC_ZSTD));
	free(both);
	free(a);
	free(b);
}

static void test_tiny_batch_layout(void **state)
{
	const struct trec recs[] = {
		{ (const uint8_t *)"k", 1, (const uint8_t *)"v", 1, 1000 },
		{ NULL, -1, (const uint8_t *)"hi", 2, 1010 },
	};
	struct batch_hdr h;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(sizeof(tiny_batch), 79);
	buf = build(BATCH_CODEC_NONE, recs, 2, 4096, 5, 7, &len);
	assert_int_equal(len, sizeof(tiny_batch));
	assert_memory_equal(buf, tiny_batch, sizeof(tiny_batch));
	assert_int_equal(batch_total_size(tiny_batch), 79);

	assert_int_equal(batch_hdr_decode(tiny_batch, sizeof(tiny_batch), &h), 0);
	assert_int_equal(h.base_offset, 5);
	assert_int_equal(h.batch_length, 67);
	assert_int_equal(h.partition_leader_epoch, 7);
	assert_int_equal(h.magic, 2);
	assert_int_equal(h.crc, 0x68372014);
	assert_int_equal(h.attributes, 0);
	assert_int_equal(h.last_offset_delta, 1);
	assert_int_equal(h.base_timestamp, 1000);
	assert_int_equal(h.max_timestamp, 1010);
	assert_int_equal(h.producer_id, -1);
	assert_int_equal(h.producer_epoch, -1);
	assert_int_equal(h.base_sequence, -1);
	assert_int_equal(h.records_count, 2);

	check_batch(tiny_batch, sizeof(tiny_batch), recs, 2, 5);
	free(buf);
}

static void test_hdr_decode_errors(void **state)
{
	uint8_t b[sizeof(tiny_batch)];
	struct batch_hdr h;

	(void)state;
	memcpy(b, tiny_batch, sizeof(b));
	assert_int_equal(batch_hdr_decode(b, BATCH_HDR_SIZE, &h), 0);
	assert_int_equal(batch_hdr_decode(b, BATCH_HDR_SIZE - 1, &h), -EBADMSG);
	assert_int_equal(batch_validate(b, 0), -EBADMSG);
	assert_int_equal(batch_validate(b, sizeof(b) - 1), -EBADMSG);
	b[BATCH_OFF_MAGIC] = 1;
	assert_int_equal(batch_hdr_decode(b, sizeof(b), &h), -EBADMSG);
	memcpy(b, tiny_batch, sizeof(b));
	be32_put(b + BATCH_OFF_LENGTH, 48);
	assert_int_equal(batch_hdr_decode(b, sizeof(b), &h), -EBADMSG);
	be32_put(b + BATCH_OFF_LENGTH, 49);
	assert_int_equal(batch_hdr_decode(b, sizeof(b), &h), 0);
	be32_put(b + BATCH_OFF_LENGTH, 0x80000000u);
	assert_int_equal(batch_hdr_decode(b, sizeof(b), &h), -EBADMSG);
	memcpy(b, tiny_batch, sizeof(b));
	be32_put(b + BATCH_OFF_COUNT, UINT32_MAX);
	assert_int_equal(batch_hdr_decode(b, sizeof(b), &h), -EBADMSG);
	/* lastOffsetDelta < 0, CRC made right: validate refuses */
	memcpy(b, tiny_batch, sizeof(b));
	be32_put(b + BATCH_OFF_LAST_DELTA, UINT32_MAX);
	fix_batch(b, sizeof(b));
	assert_int_equal(batch_validate(b, sizeof(b)), -EBADMSG);
}

/* Any change in bytes 8..end except the leader epoch is caught; baseOffset
 * and partitionLeaderEpoch are outside the CRC. */
static void test_crc_covers_every_byte(void **state)
{
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
			       BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };
	uint8_t *pool;
	struct trec *recs;

	(void)state;
	rng_seed(7);
	recs = gen_recs(20, 8, 40, &pool);
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		size_t len;
		uint8_t *b = build(codecs[c], recs, 20, 65536, 100, 3, &len);

		assert_int_equal(batch_validate(b, len), 0);
		for (size_t i = 0; i < len; i++) {
			for (int bit = 0; bit < 8; bit += 3) {
				b[i] ^= (uint8_t)(1u << bit);
				int want = (i < 8 || (i >= 12 && i < 16)) ? 0 : -EBADMSG;
				assert_int_equal(batch_validate(b, len), want);
				b[i] ^= (uint8_t)(1u << bit);
			}
		}
		assert_int_equal(batch_validate(b, len), 0);
		free(b);
	}
	free(recs);
	free(pool);
}

/* Every reader's iterator checks the CRC: a flipped bit anywhere under
 * the CRC fails batch_iter_init (the _nocrc variant reads such a batch when
 * the flip keeps its shape), and batch_explain says why. */
static void test_iter_checks_crc(void **state)
{
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
			       BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };
	struct batch_iter it = { 0 };
	char why[160];
	uint8_t *pool;
	struct trec *recs;

	(void)state;
	rng_seed(11);
	recs = gen_recs(10, 8, 40, &pool);
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		size_t len;
		uint8_t *b = build(codecs[c], recs, 10, 65536, 100, 3, &len);

		batch_explain(b, len, why, sizeof(why));
		assert_string_equal(why, "");
		for (size_t i = BATCH_OFF_ATTRIBUTES + 2; i < len; i++) {
			b[i] ^= 0x20;
			assert_int_equal(batch_iter_init(&it, b, len), -EBADMSG);
			batch_explain(b, len, why, sizeof(why));
			if (i >= BATCH_HDR_SIZE)
				assert_non_null(strstr(why, "CRC-32C mismatch"));
			else
				assert_string_not_equal(why, "");
			b[i] ^= 0x20;
		}
		/* A value byte of an uncompressed batch: the shape holds. */
		if (codecs[c] == BATCH_CODEC_NONE) {
			b[len - 2] ^= 0x01;
			assert_int_equal(batch_iter_init_nocrc(&it, b, len), 0);
			b[len - 2] ^= 0x01;
		}
		assert_int_equal(batch_iter_init(&it, b, len), 0);
		free(b);
	}
	batch_explain((const uint8_t *)"short", 5, why, sizeof(why));
	assert_non_null(strstr(why, "shorter than a batch header"));
	batch_iter_free(&it);
	free(recs);
	free(pool);
}

static void test_set_base(void **state)
{
	const struct trec recs[] = {
		{ (const uint8_t *)"a", 1, (const uint8_t *)"x", 1, 10 },
		{ (const uint8_t *)"b", 1, (const uint8_t *)"y", 1, 20 },
		{ (const uint8_t *)"c", 1, (const uint8_t *)"z", 1, 30 },
	};
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
			       BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };
	struct batch_hdr h;

	(void)state;
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		size_t len;
		uint8_t *b = build(codecs[c], recs, 3, 4096, 0, 0, &len);
		uint32_t crc = be32_get(b + BATCH_OFF_CRC);

		batch_set_base(b, 1234567890123LL, 42);
		assert_int_equal(be32_get(b + BATCH_OFF_CRC), crc);
		assert_int_equal(batch_validate(b, len), 0);
		assert_int_equal(batch_hdr_decode(b, len, &h), 0);
		assert_int_equal(h.base_offset, 1234567890123LL);
		assert_int_equal(h.partition_leader_epoch, 42);
		check_batch(b, len, recs, 3, 1234567890123LL);
		batch_set_base(b, 0, -1);
		assert_int_equal(batch_validate(b, len), 0);
		check_batch(b, len, recs, 3, 0);
		free(b);
	}
}

/* ---- builder / iterator round trips ---- */

static void test_roundtrip_special_values(void **state)
{
	const struct trec recs[] = {
		{ NULL, -1, (const uint8_t *)"value", 5, 5 },                   /* null key */
		{ (const uint8_t *)"key", 3, NULL, -1, 4 },                     /* null value */
		{ (const uint8_t *)"key", 3, (const uint8_t *)"", 0, 3 },       /* empty value */
		{ (const uint8_t *)"", 0, (const uint8_t *)"v", 1, INT64_MAX }, /* empty key */
		{ NULL, -1, NULL, -1, INT64_MIN },                              /* both null */
		{ NULL, -1, (const uint8_t *)"", 0, -1 },
	};
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
			       BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };
	const int n = (int)(sizeof(recs) / sizeof(recs[0]));

	(void)state;
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		struct batch_hdr h;
		size_t len;
		uint8_t *b = build(codecs[c], recs, n, 4096, 77, 1, &len);

		check_batch(b, len, recs, n, 77);
		assert_int_equal(batch_hdr_decode(b, len, &h), 0);
		assert_int_equal(h.attributes, codecs[c]);
		assert_int_equal(h.base_timestamp, 5);
		assert_int_equal(h.max_timestamp, INT64_MAX);
		assert_int_equal(h.producer_id, -1);
		assert_int_equal(h.producer_epoch, -1);
		assert_int_equal(h.base_sequence, -1);
		free(b);
	}
}

static void test_roundtrip_one_record(void **state)
{
	const struct trec rec = { (const uint8_t *)"k1", 2, (const uint8_t *)"hello", 5, 99 };
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
			       BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };

	(void)state;
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		size_t len;
		uint8_t *b = build(codecs[c], &rec, 1, 1024, 0, 0, &len);

		check_batch(b, len, &rec, 1, 0);
		assert_int_equal(be32_get(b + BATCH_OFF_LAST_DELTA), 0);
		assert_int_equal(be64_get(b + BATCH_OFF_MAX_TS), 99);
		free(b);
	}
}

static void test_roundtrip_many(void **state)
{
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
			       BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };
	const int n = 20000;
	uint8_t *pool;
	struct trec *recs;

	(void)state;
	rng_seed(11);
	recs = gen_recs(n, 16, 200, &pool);
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		size_t len;
		uint8_t *b = build(codecs[c], recs, n, 8u << 20, 1000000, 9, &len);

		check_batch(b, len, recs, n, 1000000);
		free(b);
	}
	free(recs);
	free(pool);
}

/* Fill a buffer to the last byte: add refuses with -ENOSPC and leaves the
 * builder as it was; a record that fits exactly is taken. */
static void test_fill_to_cap(void **state)
{
	const size_t cap = 100000;
	uint8_t *buf = malloc(cap), *pool;
	struct batch_builder bb, saved;
	struct trec *recs;
	int n = 0;

	(void)state;
	assert_non_null(buf);
	rng_seed(3);
	recs = gen_recs(5000, 10, 100, &pool);
	batch_builder_init(&bb, buf, cap, BATCH_CODEC_NONE);
	for (;;) {
		saved = bb;
		int ret = batch_builder_add(&bb, recs[n].key, recs[n].key_len, recs[n].value,
					    recs[n].value_len, recs[n].ts);
		if (ret == -ENOSPC) {
			assert_memory_equal(&saved, &bb, sizeof(bb));
			break;
		}
		assert_int_equal(ret, 0);
		assert_true(bb.len <= cap);
		assert_true(bb.len - saved.len <=
			    batch_record_max_size(recs[n].key_len, recs[n].value_len));
		n++;
	}
	assert_true(n > 100);
	int64_t total = batch_builder_finish(&bb, 0, 0);
	assert_true(total > 0 && (size_t)total <= cap);
	check_batch(buf, (size_t)total, recs, n, 0);
	free(buf);
	free(recs);
	free(pool);
}

/* A record that needs exactly the room left is taken, one byte less is
 * -ENOSPC; buffers are exactly sized so ASan sees any write past cap. */
static void test_exact_fit(void **state)
{
	static const int32_t key_lens[] = { -1, 0, 5 };
	static const int32_t value_lens[] = { -1, 0, 1, 50, 63, 64, 100, 8000, 65000 };
	static uint8_t val[65000];
	struct batch_builder bb, saved;
	uint8_t *big = malloc(70000);

	(void)state;
	assert_non_null(big);
	memset(val, 'x', sizeof(val));
	for (size_t k = 0; k < 3; k++) {
		for (size_t v = 0; v < sizeof(value_lens) / sizeof(value_lens[0]); v++) {
			const struct trec recs[2] = {
				{ (const uint8_t *)"a", 1, (const uint8_t *)"b", 1, 1000 },
				{ key_lens[k] >= 0 ? val : NULL, key_lens[k],
				  value_lens[v] >= 0 ? val : NULL, value_lens[v], 1300 },
			};
			size_t before, need;

			/* measure */
			batch_builder_init(&bb, big, 70000, BATCH_CODEC_NONE);
			assert_int_equal(batch_builder_add(&bb, recs[0].key, 1, recs[0].value, 1,
							   recs[0].ts),
					 0);
			before = bb.len;
			assert_int_equal(batch_builder_add(&bb, recs[1].key, recs[1].key_len,
							   recs[1].value, recs[1].value_len,
							   recs[1].ts),
					 0);
			need = bb.len - before;
			assert_true(need <= batch_record_max_size(key_lens[k], value_lens[v]));

			for (int slack = -1; slack <= 0; slack++) {
				size_t cap = before + need - (slack < 0);
				uint8_t *buf = malloc(cap);
				int ret;

				assert_non_null(buf);
				batch_builder_init(&bb, buf, cap, BATCH_CODEC_NONE);
				assert_int_equal(batch_builder_add(&bb, recs[0].key, 1,
								   recs[0].value, 1, recs[0].ts),
						 0);
				saved = bb;
				ret = batch_builder_add(&bb, recs[1].key, recs[1].key_len,
							recs[1].value, recs[1].value_len,
							recs[1].ts);
				if (slack < 0) {
					assert_int_equal(ret, -ENOSPC);
					assert_memory_equal(&saved, &bb, sizeof(bb));
				} else {
					assert_int_equal(ret, 0);
					assert_int_equal(bb.len, cap);
					assert_int_equal(batch_builder_finish(&bb, 0, 0),
							 (int64_t)cap);
					check_batch(buf, cap, recs, 2, 0);
				}
				free(buf);
			}
		}
	}
	free(big);
}

static void test_builder_errors(void **state)
{
	uint8_t buf[256], small[BATCH_HDR_SIZE];
	struct batch_builder bb;

	(void)state;
	batch_builder_init(&bb, buf, sizeof(buf), BATCH_CODEC_NONE);
	assert_int_equal(batch_builder_finish(&bb, 0, 0), -EINVAL);
	assert_int_equal(batch_builder_add(&bb, "k", -2, "v", 1, 0), -EINVAL);
	assert_int_equal(batch_builder_add(&bb, "k", 1, "v", -2, 0), -EINVAL);
	assert_int_equal(batch_builder_add(&bb, NULL, 3, "v", 1, 0), -EINVAL);
	assert_int_equal(bb.count, 0);
	assert_int_equal(batch_builder_add(&bb, NULL, -1, buf, 300, 0), -ENOSPC);

	/* no room for any record at all */
	batch_builder_init(&bb, small, sizeof(small), BATCH_CODEC_NONE);
	assert_int_equal(batch_builder_add(&bb, NULL, -1, NULL, -1, 0), -ENOSPC);
	batch_builder_init(&bb, small, 10, BATCH_CODEC_NONE);
	assert_int_equal(batch_builder_add(&bb, NULL, -1, NULL, -1, 0), -ENOSPC);

	/* every codec Kafka has is written; a number that is none is not */
	for (int codec = BATCH_CODEC_NONE; codec <= BATCH_CODEC_ZSTD; codec++) {
		struct batch_iter it;
		struct rec r;
		int n;

		batch_builder_init(&bb, buf, sizeof(buf), codec);
		assert_int_equal(batch_builder_add(&bb, NULL, -1, "v", 1, 0), 0);
		n = batch_builder_finish(&bb, 0, 0);
		assert_true(n > BATCH_HDR_SIZE);
		assert_int_equal(be16_get(buf + BATCH_OFF_ATTRIBUTES) & BATCH_CODEC_MASK, codec);
		memset(&it, 0, sizeof(it));
		assert_int_equal(batch_iter_init(&it, buf, (size_t)n), 0);
		assert_int_equal(batch_iter_next(&it, &r), 1);
		assert_memory_equal(r.value, "v", 1);
		batch_iter_free(&it);
	}

	assert_true(batch_record_max_size(-1, -1) >= 7);
	assert_int_equal(batch_record_max_size(10, 20), batch_record_max_size(-1, -1) + 30);
}

/* Incompressible records that exactly fill the buffer: the compressed form
 * is larger, so finish keeps them uncompressed (codec none) within the cap,
 * the bound a caller sets on its batch (max.message.bytes for the mount's
 * lines), instead of failing a record that fits it. */
static void test_compressed_too_big(void **state)
{
	const int codecs[] = { BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY, BATCH_CODEC_LZ4,
			       BATCH_CODEC_ZSTD };
	uint8_t rnd[4000];

	(void)state;
	rng_seed(5);
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)rng();
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		struct batch_builder bb;
		struct batch_iter it = { 0 };
		struct batch_hdr h;
		struct rec r;
		uint8_t *buf = malloc(8192);
		int64_t total;

		assert_non_null(buf);
		batch_builder_init(&bb, buf, 8192, codecs[c]);
		assert_int_equal(batch_builder_add(&bb, NULL, -1, rnd, 4000, 1), 0);
		bb.cap = bb.len; /* the uncompressed form fits exactly */
		total = batch_builder_finish(&bb, 0, 0);
		assert_int_equal(total, (int64_t)bb.cap);
		assert_int_equal(batch_validate(buf, (size_t)total), 0);
		assert_int_equal(batch_hdr_decode(buf, (size_t)total, &h), 0);
		assert_int_equal(h.attributes & BATCH_CODEC_MASK, BATCH_CODEC_NONE);
		assert_int_equal(batch_iter_init(&it, buf, (size_t)total), 0);
		assert_int_equal(batch_iter_next(&it, &r), 1);
		assert_int_equal(r.value_len, 4000);
		assert_memory_equal(r.value, rnd, 4000);
		batch_iter_free(&it);
		/* with room to spare it is compressed */
		batch_builder_init(&bb, buf, 8192, codecs[c]);
		assert_int_equal(batch_builder_add(&bb, NULL, -1, rnd, 4000, 1), 0);
		total = batch_builder_finish(&bb, 0, 0);
		assert_true(total > BATCH_HDR_SIZE + 4000);
		assert_int_equal(batch_validate(buf, (size_t)total), 0);
		assert_int_equal(batch_hdr_decode(buf, (size_t)total, &h), 0);
		assert_int_equal(h.attributes & BATCH_CODEC_MASK, codecs[c]);
		free(buf);
	}
}

/* log_encode_batches (a forwarded write's records) under a max.message.bytes
 * below batch.size: many records are cut into batches each within the
 * limit, which the leader enforces on every batch, and one record at the
 * longest line's size whose compressed form is larger than the record is
 * kept uncompressed rather than refused. */
static void test_encode_batches_within_max_message(void **state)
{
	struct log_config lc;
	struct batch_producer pr = { -1, -1, -1 };
	struct batch_producer_info bi[16];
	struct rec_in recs[10];
	char vals[10][500], *rnd;
	uint8_t *out = NULL;
	size_t len = 0;
	int32_t nb = 0, recs_seen = 0;
	int64_t max;

	(void)state;
	log_config_defaults(&lc);
	lc.max_message_bytes = 1000;
	for (int i = 0; i < 10; i++) {
		memset(vals[i], 'a' + i, sizeof(vals[i]));
		recs[i] = (struct rec_in){ .key = NULL,
					   .key_len = -1,
					   .value = vals[i],
					   .value_len = (int32_t)sizeof(vals[i]),
					   .timestamp = 1000 };
	}
	assert_int_equal(log_encode_batches(&lc, recs, 10, &pr, &out, &len, &nb), 0);
	assert_int_equal(log_batches_producers(out, len, bi, 16), nb);
	for (int i = 0; i < nb; i++) {
		assert_true(bi[i].size <= lc.max_message_bytes);
		recs_seen += bi[i].records;
	}
	assert_int_equal(recs_seen, 10);
	free(out);

	const int codecs[] = { BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY, BATCH_CODEC_LZ4,
			       BATCH_CODEC_ZSTD };
	max = log_max_record_payload(&lc);
	rnd = malloc((size_t)max);
	assert_non_null(rnd);
	rng_seed(9);
	for (int64_t i = 0; i < max; i++)
		rnd[i] = (char)rng();
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		struct rec_in r = { .key = NULL,
				    .key_len = -1,
				    .value = rnd,
				    .value_len = (int32_t)max,
				    .timestamp = 1000 };
		lc.codec = codecs[c];
		assert_int_equal(log_encode_batches(&lc, &r, 1, &pr, &out, &len, &nb), 0);
		assert_int_equal(nb, 1);
		assert_true(len <= (size_t)lc.max_message_bytes);
		assert_int_equal(batch_validate(out, len), 0);
		free(out);
	}
	free(rnd);
}

/* A record over COMPRESS_MAX_OUT in a compressed topic: its batch is kept
 * uncompressed (no reader decompresses that much), and reads back whole;
 * one byte less is compressed. */
static void test_compressed_over_read_limit(void **state)
{
	const int codecs[] = { BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY, BATCH_CODEC_LZ4,
			       BATCH_CODEC_ZSTD };
	size_t vlen = (size_t)COMPRESS_MAX_OUT + 1;
	size_t cap = batch_record_max_size(-1, (int32_t)vlen) + BATCH_HDR_SIZE;
	uint8_t *val = malloc(vlen), *buf = malloc(cap);

	(void)state;
	assert_non_null(val);
	assert_non_null(buf);
	memset(val, 'q', vlen);
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		for (size_t less = 0; less < 64; less += 63) {
			struct batch_builder bb;
			struct batch_iter it = { 0 };
			struct batch_hdr h;
			struct rec r;
			int32_t n = (int32_t)(vlen - less);

			batch_builder_init(&bb, buf, cap, codecs[c]);
			assert_int_equal(batch_builder_add(&bb, NULL, -1, val, n, 1), 0);
			bool over = bb.len - BATCH_HDR_SIZE > COMPRESS_MAX_OUT;
			int64_t total = batch_builder_finish(&bb, 0, 0);
			assert_true(total > 0);
			assert_int_equal(batch_validate(buf, (size_t)total), 0);
			assert_int_equal(batch_hdr_decode(buf, (size_t)total, &h), 0);
			assert_int_equal(h.attributes & BATCH_CODEC_MASK,
					 over ? BATCH_CODEC_NONE : codecs[c]);
			assert_int_equal(batch_iter_init(&it, buf, (size_t)total), 0);
			assert_int_equal(batch_iter_next(&it, &r), 1);
			assert_int_equal(r.value_len, n);
			assert_memory_equal(r.value, val, (size_t)n);
			batch_iter_free(&it);
		}
	}
	free(val);
	free(buf);
}

/* One iterator across batches of every codec, never freed in between. */
static void test_iter_reuse(void **state)
{
	const int codecs[] = { BATCH_CODEC_GZIP, BATCH_CODEC_NONE, BATCH_CODEC_LZ4,
			       BATCH_CODEC_GZIP, BATCH_CODEC_LZ4,  BATCH_CODEC_NONE };
	struct batch_iter it;
	uint8_t *pool;
	struct trec *recs;

	(void)state;
	memset(&it, 0, sizeof(it));
	batch_iter_free(&it); /* fine on a zeroed iterator */
	rng_seed(99);
	recs = gen_recs(300, 10, 300, &pool);
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		int n = 50 + (int)c * 40;
		size_t len;
		uint8_t *b = build(codecs[c], recs, n, 1 << 20, (int64_t)c * 1000, 0, &len);
		struct rec r;

		assert_int_equal(batch_iter_init(&it, b, len), 0);
		for (int i = 0; i < n; i++) {
			assert_int_equal(batch_iter_next(&it, &r), 1);
			assert_int_equal(r.offset, (int64_t)c * 1000 + i);
			assert_int_equal(r.value_len, recs[i].value_len);
			if (r.value_len > 0)
				assert_memory_equal(r.value, recs[i].value, (size_t)r.value_len);
		}
		assert_int_equal(batch_iter_next(&it, &r), 0);
		free(b);
	}
	batch_iter_free(&it);
	batch_iter_free(&it);
	free(recs);
	free(pool);
}

/* ---- malformed records (uncompressed, CRC made right) ---- */

/* Encodes one record, writing the given lengths whatever the data is:
 * length = size of the fields + len_adj; key and value bytes are the
 * strings as given (NULL: none), whatever key_len/value_len say. */
static size_t enc_rec(uint8_t *p, int len_adj, int64_t ts_delta, int32_t offset_delta,
		      int32_t key_len, const char *key, int32_t value_len, const char *value,
		      int32_t headers_count, const uint8_t *headers, size_t headers_len)
{
	size_t klen = key ? strlen(key) : 0, vlen = value ? strlen(value) : 0;
	size_t body = 1 + (size_t)varint_size64(ts_delta) + (size_t)varint_size32(offset_delta) +
		      (size_t)varint_size32(key_len) + klen + (size_t)varint_size32(value_len) +
		      vlen + (size_t)varint_size32(headers_count) + headers_len;
	uint8_t *q = p;

	q += varint_put32(q, (int32_t)body + len_adj);
	*q++ = 0;
	q += varint_put64(q, ts_delta);
	q += varint_put32(q, offset_delta);
	q += varint_put32(q, key_len);
	memcpy(q, key ? key : "", klen);
	q += klen;
	q += varint_put32(q, value_len);
	memcpy(q, value ? value : "", vlen);
	q += vlen;
	q += varint_put32(q, headers_count);
	memcpy(q, headers ? headers : (const uint8_t *)"", headers_len);
	q += headers_len;
	return (size_t)(q - p);
}

/* A batch (exactly sized) around records; returns its length. */
static uint8_t *craft(int32_t count, int32_t last_delta, const uint8_t *records, size_t rlen,
		      size_t *len)
{
	uint8_t *b = malloc(BATCH_HDR_SIZE + rlen + 1);

	assert_non_null(b);
	memset(b, 0, BATCH_HDR_SIZE);
	be64_put(b + BATCH_OFF_BASE_OFFSET, 1000);
	b[BATCH_OFF_MAGIC] = BATCH_MAGIC;
	be32_put(b + BATCH_OFF_LAST_DELTA, (uint32_t)last_delta);
	be64_put(b + BATCH_OFF_BASE_TS, 500);
	be64_put(b + BATCH_OFF_MAX_TS, 500);
	be64_put(b + 43, UINT64_MAX);
	be16_put(b + 51, UINT16_MAX);
	be32_put(b + 53, UINT32_MAX);
	be32_put(b + BATCH_OFF_COUNT, (uint32_t)count);
	if (rlen)
		memcpy(b + BATCH_HDR_SIZE, records, rlen);
	*len = BATCH_HDR_SIZE + rlen;
	fix_batch(b, *len);
	return b;
}

static void expect_bad(int32_t count, int32_t last_delta, const uint8_t *records, size_t rlen)
{
	struct batch_iter it;
	size_t len;
	uint8_t *b = craft(count, last_delta, records, rlen, &len);

	memset(&it, 0, sizeof(it));
	assert_int_equal(batch_validate(b, len), 0);
	assert_int_equal(iterate_all(b, len, &it), -EBADMSG);
	/* The line renderer checks every record the same way. */
	char out[1024];
	int64_t lines = -1;
	if (batch_iter_init(&it, b, len) == 0) /* else refused at init already */
		assert_int_equal(batch_iter_plain_lines(&it, ":", 1, out, sizeof(out), &lines),
				 -EBADMSG);
	batch_iter_free(&it);
	free(b);
}

/* batch_iter_plain_lines against batch_iter_next: the same records as
 * lines, keyed or not, null and empty keys and values, and -ENOSPC when
 * one byte short. */
static void test_iter_plain_lines(void **state)
{
	static const struct {
		const char *sep;
		int sep_len;
	} seps[] = { { "", 0 }, { ":", 1 }, { "=>", 2 } };
	struct trec recs[6] = {
		{ (const uint8_t *)"k1", 2, (const uint8_t *)"hello", 5, 1 },
		{ NULL, -1, (const uint8_t *)"no key", 6, 2 },
		{ (const uint8_t *)"", 0, (const uint8_t *)"empty key", 9, 3 },
		{ (const uint8_t *)"k4", 2, NULL, -1, 4 },
		{ NULL, -1, (const uint8_t *)"", 0, 5 },
		{ (const uint8_t *)"k6", 2, (const uint8_t *)"a\nb", 3, 6 },
	};
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_LZ4 };
	struct batch_iter it;

	(void)state;
	memset(&it, 0, sizeof(it));
	for (size_t c = 0; c < 2; c++) {
		size_t len;
		uint8_t *b = build(codecs[c], recs, 6, 4096, 0, 0, &len);
		for (size_t k = 0; k < sizeof(seps) / sizeof(seps[0]); k++) {
			char want[512], got[512];
			int64_t wlen = 0, lines = -1;
			struct rec r;

			assert_int_equal(batch_iter_init(&it, b, len), 0);
			while (batch_iter_next(&it, &r) == 1) {
				if (seps[k].sep_len > 0 && r.key_len >= 0) {
					memcpy(want + wlen, r.key, (size_t)r.key_len);
					wlen += r.key_len;
					memcpy(want + wlen, seps[k].sep, (size_t)seps[k].sep_len);
					wlen += seps[k].sep_len;
				}
				if (r.value_len > 0) {
					memcpy(want + wlen, r.value, (size_t)r.value_len);
					wlen += r.value_len;
				}
				want[wlen++] = '\n';
			}
			assert_int_equal(batch_iter_init(&it, b, len), 0);
			assert_int_equal(batch_iter_plain_lines(&it, seps[k].sep, seps[k].sep_len,
								got, wlen, &lines),
					 wlen);
			assert_int_equal(lines, 6);
			assert_memory_equal(got, want, (size_t)wlen);
			assert_int_equal(batch_iter_next(&it, &r), 0);
			assert_int_equal(batch_iter_init(&it, b, len), 0);
			assert_int_equal(batch_iter_plain_lines(&it, seps[k].sep, seps[k].sep_len,
								got, wlen - 1, &lines),
					 -ENOSPC);
		}
		free(b);
	}
	batch_iter_free(&it);
}

static void test_iter_headers_and_gaps(void **state)
{
	/* header "a" -> "b", header "c" -> null */
	static const uint8_t hdrs[] = { 0x02, 'a', 0x02, 'b', 0x02, 'c', 0x01 };
	uint8_t recs[256];
	size_t n = 0, len;
	struct batch_iter it;
	struct rec r;

	(void)state;
	/* offset deltas 0, 2, 5 of lastOffsetDelta 7 (a compacted batch) */
	n += enc_rec(recs + n, 0, 0, 0, 1, "x", 1, "1", 2, hdrs, sizeof(hdrs));
	n += enc_rec(recs + n, 0, -100, 2, -1, NULL, 0, "", 0, NULL, 0);
	n += enc_rec(recs + n, 0, 70000, 5, 0, "", -1, NULL, 0, NULL, 0);
	uint8_t *b = craft(3, 7, recs, n, &len);

	memset(&it, 0, sizeof(it));
	assert_int_equal(batch_validate(b, len), 0);
	assert_int_equal(batch_iter_init(&it, b, len), 0);
	assert_int_equal(batch_iter_next(&it, &r), 1);
	assert_int_equal(r.offset, 1000);
	assert_int_equal(r.timestamp, 500);
	assert_int_equal(r.headers_count, 2);
	assert_int_equal(r.key_len, 1);
	assert_memory_equal(r.key, "x", 1);
	assert_int_equal(batch_iter_next(&it, &r), 1);
	assert_int_equal(r.offset, 1002);
	assert_int_equal(r.timestamp, 400);
	assert_null(r.key);
	assert_int_equal(r.value_len, 0);
	assert_int_equal(batch_iter_next(&it, &r), 1);
	assert_int_equal(r.offset, 1005);
	assert_int_equal(r.timestamp, 70500);
	assert_int_equal(r.key_len, 0);
	assert_null(r.value);
	assert_int_equal(batch_iter_next(&it, &r), 0);
	free(b);

	/* an empty batch (all records compacted away) */
	b = craft(0, 4, NULL, 0, &len);
	assert_int_equal(batch_validate(b, len), 0);
	assert_int_equal(batch_iter_init(&it, b, len), 0);
	assert_int_equal(batch_iter_next(&it, &r), 0);
	free(b);
	batch_iter_free(&it);
}

static void test_iter_malformed(void **state)
{
	static const uint8_t null_hkey[] = { 0x01, 0x02, 'v' };
	uint8_t r[512];
	size_t n;

	(void)state;
#define REC(...) (n += enc_rec(r + n, __VA_ARGS__))
	/* record length one more than its fields, as the only record
	 * (runs past the payload) and followed by another */
	n = 0;
	REC(1, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	n = 0;
	REC(1, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	REC(0, 0, 1, 1, "k", 1, "v", 0, NULL, 0);
	expect_bad(2, 1, r, n);
	/* one less: the fields run past the record */
	n = 0;
	REC(-1, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	REC(0, 0, 1, 1, "k", 1, "v", 0, NULL, 0);
	expect_bad(2, 1, r, n);
	/* negative record length */
	n = 0;
	r[n++] = 0x03;
	REC(0, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	/* empty record */
	n = 0;
	r[n++] = 0x00;
	expect_bad(1, 0, r, n);
	/* key longer than the record */
	n = 0;
	REC(0, 0, 0, 50, "k", 1, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	/* key length -2, value length -5 */
	n = 0;
	REC(0, 0, 0, -2, "k", 1, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	n = 0;
	REC(0, 0, 0, 1, "k", -5, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	/* value length INT32_MAX */
	n = 0;
	REC(0, 0, 0, 1, "k", INT32_MAX, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	/* offset deltas: repeated, decreasing, negative, past lastOffsetDelta */
	n = 0;
	REC(0, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	REC(0, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	expect_bad(2, 1, r, n);
	n = 0;
	REC(0, 0, 1, 1, "k", 1, "v", 0, NULL, 0);
	REC(0, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	expect_bad(2, 1, r, n);
	n = 0;
	REC(0, 0, -1, 1, "k", 1, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	n = 0;
	REC(0, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	REC(0, 0, 2, 1, "k", 1, "v", 0, NULL, 0);
	expect_bad(2, 1, r, n);
	/* fewer records than recordsCount */
	n = 0;
	REC(0, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	REC(0, 0, 1, 1, "k", 1, "v", 0, NULL, 0);
	expect_bad(3, 2, r, n);
	/* more records than recordsCount */
	expect_bad(1, 1, r, n);
	/* more records than lastOffsetDelta allows (caught at init) */
	expect_bad(2, 0, r, n);
	/* trailing byte after the last record */
	r[n] = 0x00;
	expect_bad(2, 1, r, n + 1);
	/* a header with a null key; a negative or too large header count */
	n = 0;
	REC(0, 0, 0, 1, "k", 1, "v", 1, null_hkey, sizeof(null_hkey));
	expect_bad(1, 0, r, n);
	n = 0;
	REC(0, 0, 0, 1, "k", 1, "v", -1, NULL, 0);
	expect_bad(1, 0, r, n);
	n = 0;
	REC(0, 0, 0, 1, "k", 1, "v", 1000, NULL, 0);
	expect_bad(1, 0, r, n);
	/* a varint cut by the end of the payload */
	n = 0;
	REC(0, 0, 0, 1, "k", 1, "v", 0, NULL, 0);
	r[n++] = 0x80;
	expect_bad(2, 1, r, n);
	/* an overlong varint inside a record */
	n = 0;
	r[n++] = 0x10;
	r[n++] = 0;
	for (int i = 0; i < 10; i++)
		r[n++] = 0x80;
	r[n++] = 0x00;
	expect_bad(1, 0, r, n);
#undef REC
}

/* The records in the form of written lines (key null, no headers), which
 * batch_iter_plain_lines reads on its shorter path: every fault is still
 * refused as batch_iter_next refuses it, and the good ones read alike
 * across the varint widths of the value and the offset delta. */
static void test_iter_line_form(void **state)
{
	static const uint8_t hdr[] = { 0x02, 'a', 0x02, 'b' };
	uint8_t r[512];
	size_t n;

	(void)state;
#define REC(...) (n += enc_rec(r + n, __VA_ARGS__))
	n = 0; /* record length one more, one less than its fields */
	REC(1, 0, 0, -1, NULL, 1, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	n = 0;
	REC(-1, 0, 0, -1, NULL, 1, "v", 0, NULL, 0);
	REC(0, 0, 1, -1, NULL, 1, "v", 0, NULL, 0);
	expect_bad(2, 1, r, n);
	n = 0; /* offset deltas repeated, decreasing, past lastOffsetDelta */
	REC(0, 0, 0, -1, NULL, 1, "v", 0, NULL, 0);
	REC(0, 0, 0, -1, NULL, 1, "v", 0, NULL, 0);
	expect_bad(2, 1, r, n);
	n = 0;
	REC(0, 0, 1, -1, NULL, 1, "v", 0, NULL, 0);
	REC(0, 0, 0, -1, NULL, 1, "v", 0, NULL, 0);
	expect_bad(2, 1, r, n);
	n = 0;
	REC(0, 0, 0, -1, NULL, 1, "v", 0, NULL, 0);
	REC(0, 0, 2, -1, NULL, 1, "v", 0, NULL, 0);
	expect_bad(2, 1, r, n);
	n = 0; /* value longer than the record, a negative one */
	REC(0, 0, 0, -1, NULL, 3, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	n = 0;
	REC(0, 0, 0, -1, NULL, -5, "v", 0, NULL, 0);
	expect_bad(1, 0, r, n);
	n = 0; /* fewer, more records than recordsCount; a trailing byte */
	REC(0, 0, 0, -1, NULL, 1, "v", 0, NULL, 0);
	REC(0, 0, 1, -1, NULL, 1, "v", 0, NULL, 0);
	expect_bad(3, 2, r, n);
	expect_bad(1, 1, r, n);
	r[n] = 0x00;
	expect_bad(2, 1, r, n + 1);
	n = 0; /* headers: a count past the record, a negative one */
	REC(0, 0, 0, -1, NULL, 1, "v", 1, NULL, 0);
	expect_bad(1, 0, r, n);
	n = 0;
	REC(0, 0, 0, -1, NULL, 1, "v", -1, NULL, 0);
	expect_bad(1, 0, r, n);
#undef REC

	/* Good ones: the lines batch_iter_next gives, with and without a
	 * header, across one- and two-byte varints. */
	struct batch_iter it;
	size_t cap = 4 << 20, len = 0, wlen = 0;
	uint8_t *recs = malloc(cap);
	char *want = malloc(cap), *got = malloc(cap);
	char val[9000];
	int count = 300;

	assert_non_null(recs);
	assert_non_null(want);
	assert_non_null(got);
	memset(val, 'x', sizeof(val));
	for (int i = 0; i < count; i++) {
		int vl = i < 150 ? i : 8100 + i;
		char v[9001];
		memcpy(v, val, (size_t)vl);
		v[vl] = '\0';
		len += enc_rec(recs + len, 0, i % 3 ? 0 : 200, i, -1, NULL, vl, v, i % 7 == 3,
			       i % 7 == 3 ? hdr : NULL, i % 7 == 3 ? sizeof(hdr) : 0);
		memcpy(want + wlen, v, (size_t)vl);
		wlen += (size_t)vl;
		want[wlen++] = '\n';
	}
	size_t blen;
	uint8_t *b = craft(count, count - 1, recs, len, &blen);
	int64_t lines = -1;
	memset(&it, 0, sizeof(it));
	assert_int_equal(batch_iter_init(&it, b, blen), 0);
	assert_int_equal(batch_iter_plain_lines(&it, "", 0, got, (int64_t)wlen, &lines),
			 (int64_t)wlen);
	assert_int_equal(lines, count);
	assert_memory_equal(got, want, wlen);
	batch_iter_free(&it);
	free(b);
	free(recs);
	free(want);
	free(got);
}

/* A record the line-sum walk must take when its varints are short: key
 * null, no headers and, checked, no byte the view escapes and no leading
 * backslash. */
static bool line_clean(const struct rec *r, bool check)
{
	if (r->key_len != -1 || r->headers_count != 0)
		return false;
	if (!check)
		return true;
	if (r->value_len > 0 && r->value[0] == '\\')
		return false;
	for (int32_t i = 0; i < r->value_len; i++) {
		uint8_t c = r->value[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* batch_iter_line_sum against batch_iter_next over random records (keys,
 * headers, control bytes at every place, tabs, leading backslashes,
 * values from 0 to 9000 bytes), portable and AVX2, escape and raw, in a
 * buffer that ends with the batch (the AVX2 tail must not read past it):
 * every record is taken or handed back, in order; what is taken is what
 * must be, and the sums and the greatest timestamp are those of the
 * records taken. */
static void test_iter_line_sum(void **state)
{
	static const uint8_t hdr[] = { 0x02, 'a', 0x02, 'b' };
	static const char odd[] = { 0x01, '\n', '\r', 0x1f, 0x7f, '\t', '\\' };
	size_t cap = 4 << 20;
	uint8_t *recs = malloc(cap);

	(void)state;
	assert_non_null(recs);
	rng_seed(77);
	for (int round = 0; round < 60; round++) {
		int count = 1 + (int)rng_below(400);
		size_t len = 0;
		char v[9100];

		for (int i = 0; i < count; i++) {
			int vl = rng_below(20) == 0 ? 8000 + (int)rng_below(1000)
						    : (int)rng_below(round % 2 ? 40 : 200);
			for (int k = 0; k < vl; k++)
				v[k] = (char)(' ' + rng_below(95));
			if (vl > 0 && rng_below(4) == 0)
				v[rng_below((uint32_t)vl)] = odd[rng_below(sizeof(odd))];
			v[vl] = '\0';
			bool keyed = rng_below(10) == 0, headers = rng_below(10) == 0;
			int64_t tsd =
				rng_below(8) == 0 ? (int64_t)rng_below(1 << 20) : rng_below(100);
			len += enc_rec(recs + len, 0, tsd, i, keyed ? 1 : -1, keyed ? "k" : NULL,
				       vl, v, headers, headers ? hdr : NULL,
				       headers ? sizeof(hdr) : 0);
		}
		size_t blen;
		uint8_t *crafted = craft(count, count - 1, recs, len, &blen);
		uint8_t *b = malloc(blen); /* exactly the batch: reads past it are caught */
		assert_non_null(b);
		memcpy(b, crafted, blen);
		free(crafted);

		for (int mode = 0; mode < 4; mode++) {
			bool check = mode & 1;
			struct batch_iter ref, it;
			struct rec want, got;
			struct line_sum ls = { 0, 0, -1, 0 };
			int64_t taken = 0, bytes = 0, max_ts = -1, max_off = 0;
			int rc;

			batch_lines_portable = mode & 2;
			memset(&ref, 0, sizeof(ref));
			memset(&it, 0, sizeof(it));
			assert_int_equal(batch_iter_init(&ref, b, blen), 0);
			assert_int_equal(batch_iter_init(&it, b, blen), 0);
			rc = batch_iter_line_sum(&it, check, &ls, &got);
			while (batch_iter_next(&ref, &want) == 1) {
				if (rc == 1 && got.offset == want.offset) {
					/* handed back: the same record */
					assert_int_equal(got.timestamp, want.timestamp);
					assert_int_equal(got.key_len, want.key_len);
					assert_int_equal(got.value_len, want.value_len);
					assert_ptr_equal(got.value, want.value);
					assert_int_equal(got.headers_count, want.headers_count);
					if (line_clean(&want, check))
						assert_true(want.value_len >= 8000 ||
							    want.timestamp - 500 >= 4096);
					rc = batch_iter_line_sum(&it, check, &ls, &got);
					continue;
				}
				assert_true(line_clean(&want, check));
				taken++;
				bytes += want.value_len + 1;
				if (want.timestamp > max_ts) {
					max_ts = want.timestamp;
					max_off = want.offset;
				}
			}
			assert_int_equal(rc, 0);
			assert_int_equal(ls.records, taken);
			assert_int_equal(ls.line_bytes, bytes);
			assert_int_equal(ls.max_ts, max_ts);
			if (max_ts >= 0)
				assert_int_equal(ls.max_ts_offset, max_off);
			batch_iter_free(&ref);
			batch_iter_free(&it);
		}
		free(b);
	}
	batch_lines_portable = false;
	free(recs);
}

/* ---- compression ---- */

static void test_codec_names(void **state)
{
	static const char *const names[] = { "none", "gzip", "snappy", "lz4", "zstd" };

	(void)state;
	for (int i = 0; i < 5; i++) {
		assert_string_equal(codec_name(i), names[i]);
		assert_int_equal(codec_parse(names[i]), i);
	}
	assert_int_equal(codec_parse("GZIP2"), -EINVAL);
	assert_int_equal(codec_parse(""), -EINVAL);
	assert_int_equal(codec_parse(NULL), -EINVAL);
	assert_non_null(codec_name(7));
	assert_non_null(codec_name(-1));
}

/* The frames Kafka writes: gzip member header; LZ4 frame with FLG 0x60
 * (version 01, independent blocks, no checksums, no content size) and BD
 * 0x40 (64 KiB blocks). */
static void test_frame_headers(void **state)
{
	static const uint8_t lz4_hdr[] = { 0x04, 0x22, 0x4d, 0x18, 0x60, 0x40 };
	static const uint8_t gz_hdr[] = { 0x1f, 0x8b, 0x08 };
	static uint8_t in[200000];
	uint8_t *z = NULL;
	int64_t zn;

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 / 5);
	zn = compress_buf(BATCH_CODEC_LZ4, in, sizeof(in), &z);
	assert_true(zn > 7);
	assert_memory_equal(z, lz4_hdr, sizeof(lz4_hdr));
	/* ends with an end mark (no content checksum after it) */
	assert_memory_equal(z + zn - 4, "\0\0\0\0", 4);
	free(z);
	zn = compress_buf(BATCH_CODEC_GZIP, in, sizeof(in), &z);
	assert_true(zn > 18);
	assert_memory_equal(z, gz_hdr, sizeof(gz_hdr));
	/* trailer: ISIZE, little-endian */
	assert_int_equal(z[zn - 4] | z[zn - 3] << 8 | z[zn - 2] << 16 | (uint32_t)z[zn - 1] << 24,
			 sizeof(in));
	free(z);
}

static void test_compress_roundtrip(void **state)
{
	static const size_t sizes[] = { 0, 1, 100, 65535, 65536, 65537, 300000, 3u << 20 };
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
			       BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };
	uint8_t *in = malloc(3u << 20);
	uint8_t *out = NULL;
	size_t cap = 0;

	(void)state;
	assert_non_null(in);
	rng_seed(17);
	for (size_t i = 0; i < (3u << 20); i++) /* compressible, not trivially */
		in[i] = (uint8_t)("mqfs log "[rng_below(9)] ^ (rng_below(64) == 0));
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			uint8_t *z = NULL;
			int64_t zn = compress_buf(codecs[c], in, sizes[s], &z);

			assert_true(zn >= 0);
			if (codecs[c] != BATCH_CODEC_NONE && sizes[s] > 1000)
				assert_true((size_t)zn < sizes[s]);
			assert_int_equal(decompress_buf(codecs[c], z, (size_t)zn, &out, &cap),
					 (int64_t)sizes[s]);
			assert_true(cap >= sizes[s]);
			if (sizes[s])
				assert_memory_equal(out, in, sizes[s]);
			free(z);
		}
	}
	free(out);
	free(in);
	uint8_t *z = NULL;
	assert_int_equal(compress_buf(6, (const uint8_t *)"x", 1, &z), -EINVAL);
	assert_null(z);
}

/* Decompressed output over 64 MiB is refused; exactly 64 MiB is not. */
static void test_decompress_limit(void **state)
{
	const size_t limit = 64u << 20;
	const int codecs[] = { BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY, BATCH_CODEC_LZ4,
			       BATCH_CODEC_ZSTD };
	uint8_t *zeros = calloc(1, limit + 1);

	(void)state;
	assert_non_null(zeros);
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		uint8_t *z = NULL, *out = NULL;
		size_t cap = 0;
		int64_t zn = compress_buf(codecs[c], zeros, limit + 1, &z);

		assert_true(zn > 0 && zn < (4 << 20)); /* snappy: 3 bytes per 64 */
		assert_int_equal(decompress_buf(codecs[c], z, (size_t)zn, &out, &cap), -EBADMSG);
		assert_true(cap <= limit);
		free(z);
		zn = compress_buf(codecs[c], zeros, limit, &z);
		assert_true(zn > 0);
		assert_int_equal(decompress_buf(codecs[c], z, (size_t)zn, &out, &cap),
				 (int64_t)limit);
		free(z);
		free(out);
	}
	free(zeros);
}

/* zstd payloads: frames back to back and skippable frames are read; an
 * empty payload, a frame cut short and bytes after the last frame are
 * not; a frame whose header claims a huge content size or window is
 * refused without taking memory for it. */
static void test_zstd_frames(void **state)
{
	/* skippable frame: magic 0x184D2A50 (LE), 3 bytes of user data */
	static const uint8_t skip[] = { 0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z' };
	/* single segment, 8-byte content size 2^40, then one raw last
	 * block of 1 byte */
	static const uint8_t huge_fcs[] = { 0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0,  0,
					    0,    1,    0,    0,    9,    0, 0, 'a' };
	/* no content size, window descriptor asking for 2^31 bytes */
	static const uint8_t huge_window[] = { 0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8, 9, 0, 0, 'a' };
	/* single segment, content size 64 MiB + 1 (4 bytes), 1 byte given */
	static const uint8_t lying_fcs[] = {
		0x28, 0xb5, 0x2f, 0xfd, 0xa0, 1, 0, 0, 4, 9, 0, 0, 'a'
	};
	uint8_t *a = NULL, *b = NULL, *out = NULL, buf[512];
	size_t cap = 0, n = 0;
	int64_t an, bn;

	(void)state;
	an = compress_buf(BATCH_CODEC_ZSTD, (const uint8_t *)"abc", 3, &a);
	bn = compress_buf(BATCH_CODEC_ZSTD, (const uint8_t *)"defgh", 5, &b);
	assert_true(an > 0 && bn > 0 && an + bn + 2 * sizeof(skip) < sizeof(buf));
	memcpy(buf, skip, sizeof(skip));
	n = sizeof(skip);
	memcpy(buf + n, a, (size_t)an);
	n += (size_t)an;
	memcpy(buf + n, skip, sizeof(skip));
	n += sizeof(skip);
	memcpy(buf + n, b, (size_t)bn);
	n += (size_t)bn;
	assert_int_equal(decompress_buf(BATCH_CODEC_ZSTD, buf, n, &out, &cap), 8);
	assert_memory_equal(out, "abcdefgh", 8);
	assert_int_equal(decompress_buf(BATCH_CODEC_ZSTD, buf, 0, &out, &cap), -EBADMSG);
	assert_int_equal(decompress_buf(BATCH_CODEC_ZSTD, buf, n - 1, &out, &cap), -EBADMSG);
	memcpy(buf + n, "xyz", 3);
	assert_int_equal(decompress_buf(BATCH_CODEC_ZSTD, buf, n + 3, &out, &cap), -EBADMSG);
	free(out);
	out = NULL;
	cap = 0;
	assert_int_equal(decompress_buf(BATCH_CODEC_ZSTD, huge_fcs, sizeof(huge_fcs), &out, &cap),
			 -EBADMSG);
	assert_int_equal(
		decompress_buf(BATCH_CODEC_ZSTD, huge_window, sizeof(huge_window), &out, &cap),
		-EBADMSG);
	assert_int_equal(decompress_buf(BATCH_CODEC_ZSTD, lying_fcs, sizeof(lying_fcs), &out, &cap),
			 -EBADMSG);
	/* The claims did not size the output: a block's room at most. */
	assert_true(cap <= 128 << 10);
	free(out);
	free(a);
	free(b);
}

/* A client's gzip payload is one gzip member: a second member after it
 * (which librdkafka's consumers would never read), a zlib stream (RFC
 * 1950, what zlib's compress() writes, which Java's GZIPInputStream and
 * kafkajs refuse) alone or after a member, and other bytes after it are
 * refused; its lz4 payload alike is one frame. A stored payload is read
 * as earlier versions stored it: members and frames back to back, zlib. */
static void test_client_framing(void **state)
{
	uint8_t *a = NULL, *b = NULL, *out = NULL, buf[512], z[256];
	uLongf zn = sizeof(z);
	size_t cap = 0, n;
	int64_t an, bn;

	(void)state;
	an = compress_buf(BATCH_CODEC_GZIP, (const uint8_t *)"abc", 3, &a);
	bn = compress_buf(BATCH_CODEC_GZIP, (const uint8_t *)"defgh", 5, &b);
	assert_true(an > 0 && bn > 0 && (size_t)(an + bn) + sizeof(z) < sizeof(buf));
	memcpy(buf, a, (size_t)an);
	memcpy(buf + an, b, (size_t)bn);
	n = (size_t)(an + bn);
	assert_int_equal(decompress_client(BATCH_CODEC_GZIP, buf, (size_t)an, &out, &cap), 3);
	assert_memory_equal(out, "abc", 3);
	assert_int_equal(decompress_client(BATCH_CODEC_GZIP, buf, n, &out, &cap), -EBADMSG);
	assert_int_equal(decompress_buf(BATCH_CODEC_GZIP, buf, n, &out, &cap), 8);
	assert_memory_equal(out, "abcdefgh", 8);
	assert_int_equal(compress2(z, &zn, (const Bytef *)"abc", 3, Z_DEFAULT_COMPRESSION), Z_OK);
	assert_int_equal(decompress_client(BATCH_CODEC_GZIP, z, zn, &out, &cap), -EBADMSG);
	assert_int_equal(decompress_buf(BATCH_CODEC_GZIP, z, zn, &out, &cap), 3);
	memcpy(buf + an, z, zn);
	assert_int_equal(decompress_client(BATCH_CODEC_GZIP, buf, (size_t)an + zn, &out, &cap),
			 -EBADMSG);
	memcpy(buf + an, "\0\0\0\0", 4);
	assert_int_equal(decompress_client(BATCH_CODEC_GZIP, buf, (size_t)an + 4, &out, &cap),
			 -EBADMSG);
	assert_int_equal(decompress_buf(BATCH_CODEC_GZIP, buf, (size_t)an + 4, &out, &cap),
			 -EBADMSG);
	free(a);
	free(b);
	a = b = NULL;
	an = compress_buf(BATCH_CODEC_LZ4, (const uint8_t *)"abc", 3, &a);
	bn = compress_buf(BATCH_CODEC_LZ4, (const uint8_t *)"defgh", 5, &b);
	assert_true(an > 0 && bn > 0 && (size_t)(an + bn) < sizeof(buf));
	memcpy(buf, a, (size_t)an);
	memcpy(buf + an, b, (size_t)bn);
	assert_int_equal(decompress_client(BATCH_CODEC_LZ4, buf, (size_t)an, &out, &cap), 3);
	assert_int_equal(decompress_client(BATCH_CODEC_LZ4, buf, (size_t)(an + bn), &out, &cap),
			 -EBADMSG);
	assert_int_equal(decompress_client(BATCH_CODEC_LZ4, buf, (size_t)an + 1, &out, &cap),
			 -EBADMSG);
	assert_int_equal(decompress_buf(BATCH_CODEC_LZ4, buf, (size_t)(an + bn), &out, &cap), 8);
	assert_memory_equal(out, "abcdefgh", 8);
	free(a);
	free(b);
	free(out);
}

/* A refused lz4 frame leaves nothing behind on the thread: after a frame
 * that declares its content size and is cut short, or holds less than it
 * declares, Kafka's frames (no content size) still decode. */
static void test_lz4_after_refusal(void **state)
{
	static const char text[] = "mqfs lz4 mqfs lz4 mqfs lz4 mqfs lz4 mqfs lz4";
	LZ4F_preferences_t prefs = { 0 };
	uint8_t *good = NULL, *out = NULL, sized[256];
	size_t cap = 0, sn;
	int64_t gn;

	(void)state;
	gn = compress_buf(BATCH_CODEC_LZ4, (const uint8_t *)text, sizeof(text), &good);
	assert_true(gn > 0);
	prefs.frameInfo.contentSize = sizeof(text);
	sn = LZ4F_compressFrame(sized, sizeof(sized), text, sizeof(text), &prefs);
	assert_false(LZ4F_isError(sn));
	assert_int_equal(decompress_buf(BATCH_CODEC_LZ4, sized, sn, &out, &cap), sizeof(text));
	for (size_t cut = 4; cut <= sn - 7; cut += 3) { /* the header stays whole */
		assert_int_equal(decompress_buf(BATCH_CODEC_LZ4, sized, sn - cut, &out, &cap),
				 -EBADMSG);
		assert_int_equal(decompress_buf(BATCH_CODEC_LZ4, good, (size_t)gn, &out, &cap),
				 sizeof(text));
		assert_memory_equal(out, text, sizeof(text));
	}
	free(good);
	free(out);
}

/* n zero bytes as one zstd frame with a window of 2^window_log bytes and
 * no content size (as a streaming producer writes it); malloc'ed. */
static uint8_t *zstd_window_frame(size_t n, int window_log, size_t *zn)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	uint8_t *zeros = calloc(1, n), *z = malloc(ZSTD_compressBound(n));
	ZSTD_inBuffer ib = { zeros, n, 0 };
	ZSTD_outBuffer ob = { z, ZSTD_compressBound(n), 0 };

	assert_non_null(cc);
	assert_non_null(zeros);
	assert_non_null(z);
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_windowLog, window_log)));
	/* Fed as a stream: given whole, zstd would know the size and
	 * shrink the window to it. */
	assert_false(ZSTD_isError(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_continue)));
	assert_int_equal(ib.pos, n);
	assert_int_equal(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
	assert_int_equal(ZSTD_getFrameContentSize(z, ob.pos), ZSTD_CONTENTSIZE_UNKNOWN);
	ZSTD_freeCCtx(cc);
	free(zeros);
	*zn = ob.pos;
	return z;
}

/* A frame with a large window, decoded or refused (a bomb of 64 MiB + 1),
 * leaves no large context behind on the thread: its touched window would
 * stay resident in every listener thread that met one. A small frame's
 * context is kept. */
static void test_zstd_window_not_kept(void **state)
{
	const size_t sizes[] = { 20u << 20, (64u << 20) + 1 };
	uint8_t *out = NULL, *z;
	size_t cap = 0, zn;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		z = zstd_window_frame(sizes[i], 27, &zn);
		assert_int_equal(decompress_buf(BATCH_CODEC_ZSTD, z, zn, &out, &cap),
				 sizes[i] <= COMPRESS_MAX_OUT ? (int64_t)sizes[i] : -EBADMSG);
		assert_true(compress_kept_bytes() <= 5u << 20);
		free(z);
	}
	/* zstd's level 3 window for a batch of unknown size: kept */
	z = zstd_window_frame(100000, 21, &zn);
	assert_int_equal(decompress_buf(BATCH_CODEC_ZSTD, z, zn, &out, &cap), 100000);
	assert_true(compress_kept_bytes() > 2u << 20);
	assert_true(compress_kept_bytes() <= 5u << 20);
	free(z);
	free(out);
}

/* An lz4 frame of 4 MiB blocks leaves no context behind on the thread
 * (its buffers take 8 MiB); Kafka's 64 KiB blocks leave theirs. */
static void test_lz4_big_blocks_not_kept(void **state)
{
	LZ4F_preferences_t prefs = { 0 };
	size_t n = 5u << 20, zn, kept;
	uint8_t *in = calloc(1, n), *z = malloc(LZ4F_compressFrameBound(n, NULL) + 4096);
	uint8_t *out = NULL, *good = NULL;
	size_t cap = 0;
	int64_t gn;

	(void)state;
	assert_non_null(in);
	assert_non_null(z);
	prefs.frameInfo.blockSizeID = LZ4F_max4MB;
	zn = LZ4F_compressFrame(z, LZ4F_compressFrameBound(n, &prefs), in, n, &prefs);
	assert_false(LZ4F_isError(zn));
	gn = compress_buf(BATCH_CODEC_LZ4, in, 1000, &good);
	assert_true(gn > 0);
	assert_int_equal(decompress_buf(BATCH_CODEC_LZ4, z, zn, &out, &cap), (int64_t)n);
	kept = compress_kept_bytes(); /* no lz4 context; the zstd one's, if any */
	assert_int_equal(decompress_buf(BATCH_CODEC_LZ4, good, (size_t)gn, &out, &cap), 1000);
	assert_true(compress_kept_bytes() > kept); /* kept */
	assert_int_equal(decompress_buf(BATCH_CODEC_LZ4, z, zn, &out, &cap), (int64_t)n);
	assert_int_equal(compress_kept_bytes(), kept); /* freed */
	free(good);
	free(out);
	free(z);
	free(in);
}

/* Builds a batch with codec, returns it and the raw records (from the same
 * records built without a codec) in raw and raw_len. */
static uint8_t *build_with_raw(int codec, const struct trec *recs, int n, size_t *len,
			       uint8_t **raw, size_t *raw_len)
{
	size_t plain_len;
	uint8_t *plain = build(BATCH_CODEC_NONE, recs, n, 1 << 20, 0, 0, &plain_len);
	uint8_t *b = build(codec, recs, n, 1 << 20, 0, 0, len);

	*raw_len = plain_len - BATCH_HDR_SIZE;
	*raw = malloc(*raw_len);
	assert_non_null(*raw);
	memcpy(*raw, plain + BATCH_HDR_SIZE, *raw_len);
	free(plain);
	return b;
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return st == -1 ? -1 : WEXITSTATUS(st);
}

/* Our payloads decode with the system's gzip, lz4 and zstd; theirs with
 * us. */
static void test_system_tools(void **state)
{
	static const struct {
		int codec;
		const char *ext, *decode, *encode;
	} tools[] = {
		{ BATCH_CODEC_GZIP, "gz", "gzip -dc", "gzip -c" },
		{ BATCH_CODEC_LZ4, "lz4", "lz4 -dc", "lz4 -q -c" },
		{ BATCH_CODEC_ZSTD, "zst", "zstd -q -dc", "zstd -q -c" },
	};
	uint8_t *pool;
	struct trec *recs;
	const int n = 3000; /* > 64 KiB of records: several lz4 blocks */
	char cmd[1024], path[256], outp[256], rawp[256];

	(void)state;
	rng_seed(23);
	recs = gen_recs(n, 12, 100, &pool);
	for (size_t t = 0; t < sizeof(tools) / sizeof(tools[0]); t++) {
		uint8_t *raw, *got, *b, *b2, *theirs;
		size_t len, raw_len, got_len, theirs_len, len2;

		b = build_with_raw(tools[t].codec, recs, n, &len, &raw, &raw_len);
		assert_true(raw_len > 65536);
		snprintf(path, sizeof(path), "%s/payload.%s", tmpdir, tools[t].ext);
		snprintf(outp, sizeof(outp), "%s/payload.%s.out", tmpdir, tools[t].ext);
		assert_int_equal(write_file(path, b + BATCH_HDR_SIZE, len - BATCH_HDR_SIZE), 0);
		snprintf(cmd, sizeof(cmd), "%s '%s' > '%s'", tools[t].decode, path, outp);
		assert_int_equal(run(cmd), 0);
		got = read_file(outp, &got_len);
		assert_non_null(got);
		assert_int_equal(got_len, raw_len);
		assert_memory_equal(got, raw, raw_len);
		free(got);

		/* the other way: the tool compresses, we read the batch */
		snprintf(rawp, sizeof(rawp), "%s/records.%s.raw", tmpdir, tools[t].ext);
		snprintf(outp, sizeof(outp), "%s/records.raw.%s", tmpdir, tools[t].ext);
		assert_int_equal(write_file(rawp, raw, raw_len), 0);
		snprintf(cmd, sizeof(cmd), "%s '%s' > '%s'", tools[t].encode, rawp, outp);
		assert_int_equal(run(cmd), 0);
		theirs = read_file(outp, &theirs_len);
		assert_non_null(theirs);
		b2 = rewrap(b, tools[t].codec, theirs, theirs_len, &len2);
		check_batch(b2, len2, recs, n, 0);
		free(b2);
		free(theirs);
		free(raw);
		free(b);
	}
	free(recs);
	free(pool);
}

static int iterate_copy(const uint8_t *b, size_t len)
{
	struct batch_iter it;
	int ret;

	memset(&it, 0, sizeof(it));
	ret = iterate_all(b, len, &it);
	batch_iter_free(&it);
	return ret;
}

/* Truncated, bit-flipped and garbage payloads, each wrapped in a batch with
 * a correct CRC so that only the codec can notice. */
static void test_corrupt_payloads(void **state)
{
	const int codecs[] = { BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY, BATCH_CODEC_LZ4,
			       BATCH_CODEC_ZSTD };
	uint8_t *pool;
	struct trec *recs;
	const int n = 40;

	(void)state;
	rng_seed(31);
	recs = gen_recs(n, 8, 60, &pool);
	for (size_t c = 0; c < sizeof(codecs) / sizeof(codecs[0]); c++) {
		size_t len, plen, blen;
		uint8_t *b = build(codecs[c], recs, n, 1 << 16, 0, 0, &len), *bad;
		const uint8_t *payload = b + BATCH_HDR_SIZE;
		int detected = 0;

		plen = len - BATCH_HDR_SIZE;
		/* every truncation */
		for (size_t cut = 0; cut < plen; cut++) {
			bad = rewrap(b, codecs[c], payload, cut, &blen);
			assert_int_equal(iterate_copy(bad, blen), -EBADMSG);
			free(bad);
		}
		/* every byte inverted */
		for (size_t i = 0; i < plen; i++) {
			uint8_t *mut = malloc(plen);

			memcpy(mut, payload, plen);
			mut[i] ^= 0xFF;
			bad = rewrap(b, codecs[c], mut, plen, &blen);
			int ret = iterate_copy(bad, blen);
			assert_true(ret == 0 || ret == -EBADMSG);
			detected += ret == -EBADMSG;
			/* gzip: only MTIME, XFL and OS (bytes 4..9) are not
			 * covered by the header checks and the CRC-32 trailer.
			 * lz4 (no content checksum, as Kafka writes it): the
			 * frame header is checked; a literal byte may change
			 * silently, which is what the batch CRC is for. */
			if (codecs[c] == BATCH_CODEC_GZIP && (i < 4 || i > 9))
				assert_int_equal(ret, -EBADMSG);
			if (codecs[c] == BATCH_CODEC_LZ4 && i < 7)
				assert_int_equal(ret, -EBADMSG);
			free(bad);
			free(mut);
		}
		assert_true(detected > 0);
		/* trailing junk after a valid stream */
		{
			uint8_t *mut = malloc(plen + 3);

			memcpy(mut, payload, plen);
			memcpy(mut + plen, "xyz", 3);
			bad = rewrap(b, codecs[c], mut, plen + 3, &blen);
			assert_int_equal(iterate_copy(bad, blen), -EBADMSG);
			free(bad);
			free(mut);
		}
		/* garbage */
		for (int g = 0; g < 200; g++) {
			size_t glen = rng_below(300);
			uint8_t *mut = malloc(glen + 1);

			for (size_t i = 0; i < glen; i++)
				mut[i] = (uint8_t)rng();
			if (g & 1 && glen >= 4) {
				/* start like the real thing */
				memcpy(mut, payload, 4);
			}
			bad = rewrap(b, codecs[c], mut, glen, &blen);
			assert_int_equal(iterate_copy(bad, blen), -EBADMSG);
			free(bad);
			free(mut);
		}
		free(b);
	}

	/* uncompressed records under a codec's bits, and codec numbers that
	 * do not exist */
	{
		size_t len, blen;
		uint8_t *b = build(BATCH_CODEC_NONE, recs, n, 1 << 16, 0, 0, &len), *bad;

		for (int codec = BATCH_CODEC_GZIP; codec <= 7; codec++) {
			bad = rewrap(b, codec, b + BATCH_HDR_SIZE, len - BATCH_HDR_SIZE, &blen);
			assert_int_equal(iterate_copy(bad, blen), -EBADMSG);
			free(bad);
		}
		free(b);
	}
	free(recs);
	free(pool);
}

/* Random mutations of valid batches through validate and the iterator.
 * Half the time the CRC and length are made right again so the mutation
 * reaches the record decoder and the codecs. Nothing may crash or read out
 * of bounds (run it under ASan). */
static void test_fuzz(void **state)
{
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
			       BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };
	uint8_t *base[5], *pool;
	size_t base_len[5];
	struct trec *recs;
	struct batch_iter it;
	int outcomes[4] = { 0 };

	(void)state;
	rng_seed(20240601);
	recs = gen_recs(30, 6, 40, &pool);
	for (int c = 0; c < 5; c++)
		base[c] = build(codecs[c], recs, 30, 1 << 16, 10, 0, &base_len[c]);
	memset(&it, 0, sizeof(it));
	for (int iter = 0; iter < 6000; iter++) {
		int c = (int)rng_below(5);
		size_t len = base_len[c];
		uint8_t *b = malloc(len + 64);
		int nmut = 1 + (int)rng_below(4), ret;

		memcpy(b, base[c], len);
		for (int m = 0; m < nmut; m++) {
			switch (rng_below(6)) {
			case 0: /* flip a bit */
				b[rng_below((uint32_t)len)] ^= (uint8_t)(1u << rng_below(8));
				break;
			case 1: /* set a byte */
				b[rng_below((uint32_t)len)] = (uint8_t)rng();
				break;
			case 2: /* an interesting byte in the records */
				if (len == BATCH_HDR_SIZE)
					break;
				b[BATCH_HDR_SIZE + rng_below((uint32_t)(len - BATCH_HDR_SIZE))] =
					(uint8_t[]){ 0x00, 0x01, 0x7f, 0x80, 0xff }[rng_below(5)];
				break;
			case 3: /* truncate */
				if (len == BATCH_HDR_SIZE)
					break;
				len = BATCH_HDR_SIZE + rng_below((uint32_t)(len - BATCH_HDR_SIZE));
				break;
			case 4: /* extend with junk */
				if (len < base_len[c] + 32)
					for (int k = (int)rng_below(16); k >= 0; k--)
						b[len++] = (uint8_t)rng();
				break;
			case 5: /* a header field */
				b[BATCH_OFF_ATTRIBUTES + rng_below(40)] ^=
					(uint8_t)(1u << rng_below(8));
				break;
			}
		}
		/* exactly sized copy for ASan */
		uint8_t *x = malloc(len);
		memcpy(x, b, len);
		free(b);
		if (rng_below(2))
			fix_batch(x, len);
		ret = batch_validate(x, len);
		assert_true(ret == 0 || ret == -EBADMSG);
		outcomes[ret == 0]++;
		/* the iterator too, validated or not: it must hold on its own */
		ret = iterate_all(x, len, &it);
		assert_true(ret == 0 || ret == -EBADMSG || ret == -ENOTSUP);
		outcomes[2 + (ret == 0)]++;
		free(x);
	}
	batch_iter_free(&it);
	print_message("fuzz: validate ok %d bad %d; iterate ok %d bad %d\n", outcomes[1],
		      outcomes[0], outcomes[3], outcomes[2]);
	assert_true(outcomes[1] > 100 && outcomes[2] > 100);
	for (int c = 0; c < 5; c++)
		free(base[c]);
	free(recs);
	free(pool);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mqfs-test-batch-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return run(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_edges),
		cmocka_unit_test(test_varint_overlong),
		cmocka_unit_test(test_varint_roundtrip),
		cmocka_unit_test(test_tiny_batch_layout),
		cmocka_unit_test(test_hdr_decode_errors),
		cmocka_unit_test(test_crc_covers_every_byte),
		cmocka_unit_test(test_iter_checks_crc),
		cmocka_unit_test(test_set_base),
		cmocka_unit_test(test_roundtrip_special_values),
		cmocka_unit_test(test_roundtrip_one_record),
		cmocka_unit_test(test_roundtrip_many),
		cmocka_unit_test(test_fill_to_cap),
		cmocka_unit_test(test_exact_fit),
		cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_compressed_too_big),
		cmocka_unit_test(test_compressed_over_read_limit),
		cmocka_unit_test(test_iter_reuse),
		cmocka_unit_test(test_iter_headers_and_gaps),
		cmocka_unit_test(test_iter_malformed),
		cmocka_unit_test(test_iter_plain_lines),
		cmocka_unit_test(test_iter_line_form),
		cmocka_unit_test(test_iter_line_sum),
		cmocka_unit_test(test_codec_names),
		cmocka_unit_test(test_frame_headers),
		cmocka_unit_test(test_compress_roundtrip),
		cmocka_unit_test(test_decompress_limit),
		cmocka_unit_test(test_zstd_frames),
		cmocka_unit_test(test_zstd_window_not_kept),
		cmocka_unit_test(test_lz4_big_blocks_not_kept),
		cmocka_unit_test(test_lz4_after_refusal),
		cmocka_unit_test(test_client_framing),
		cmocka_unit_test(test_batches_hold_codec),
		cmocka_unit_test(test_system_tools),
		cmocka_unit_test(test_corrupt_payloads),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_encode_batches_within_max_message),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
