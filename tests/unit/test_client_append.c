/*
 * test_client_append.c — record batches from Kafka clients appended as they
 * are (log_append_client), and the line view of records a line cannot
 * carry (line.format): batches from the engine's builder and hand-built
 * bytes, every refusal, compressed batches, LogAppendTime, newlines and
 * binary bytes read back through the line view, and the escaped lines
 * written back as lines giving the same records.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/batch.h"
#include "engine/log_int.h"
#include "tests/unit/logfx.h"

static void tune_keyed(struct log_config *cfg)
{
	memcpy(cfg->key_sep, ":", 2);
	cfg->key_sep_len = 1;
}

static void tune_raw(struct log_config *cfg)
{
	cfg->line_format = LINE_FORMAT_RAW;
}

static int setup(void **state)
{
	return logfx_setup(state, "capp", NULL);
}

static int setup_keyed(void **state)
{
	return logfx_setup(state, "cappk", tune_keyed);
}

static int setup_raw(void **state)
{
	return logfx_setup(state, "cappr", tune_raw);
}

struct kv {
	const char *key;   /* NULL: null key */
	const char *value; /* NULL: null value */
	int32_t vlen;      /* -1: strlen(value) */
};

/* One batch of the records, as a client would send it: base offset 0,
 * epoch -1 (the broker sets both). Returns its size. */
static size_t build(uint8_t *buf, size_t cap, int codec, const struct kv *kv, int n)
{
	struct batch_builder bb;

	batch_builder_init(&bb, buf, cap, codec);
	for (int i = 0; i < n; i++) {
		int32_t kl = kv[i].key ? (int32_t)strlen(kv[i].key) : -1;
		int32_t vl = !kv[i].value      ? -1
			     : kv[i].vlen >= 0 ? kv[i].vlen
					       : (int32_t)strlen(kv[i].value);
		assert_int_equal(
			batch_builder_add(&bb, kv[i].key, kl, kv[i].value, vl, 1700000000000LL + i),
			0);
	}
	int64_t size = batch_builder_finish(&bb, 0, -1);
	assert_true(size > 0);
	return (size_t)size;
}

/* The whole committed line view. */
static size_t view(struct log *l, char *buf, size_t cap)
{
	struct log_state st;
	struct log_cursor *c = log_cursor_new(l);
	size_t got = 0;

	assert_non_null(c);
	log_get_state(l, &st);
	assert_int_equal(log_set_hw(l, st.log_end_offset), 0);
	for (;;) {
		ssize_t n = log_read_lines(l, c, (int64_t)got, buf + got, cap - got, NULL);
		assert_true(n >= 0);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	log_cursor_free(c);
	buf[got] = '\0';
	return got;
}

/* The view again, 3 bytes a read, from every starting position: escaped
 * lines copied out in pieces come out the same. */
static void view_pieces(struct log *l, const char *want)
{
	size_t len = strlen(want);

	for (size_t from = 0; from < len; from++) {
		struct log_cursor *c = log_cursor_new(l);
		char buf[512];
		size_t got = 0;
		ssize_t n;

		assert_non_null(c);
		while ((n = log_read_lines(l, c, (int64_t)(from + got), buf + got, 3, NULL)) > 0)
			got += (size_t)n;
		assert_int_equal(n, 0);
		assert_int_equal(got, len - from);
		assert_memory_equal(buf, want + from, got);
		log_cursor_free(c);
	}
}

/* The raw bytes of the only segment. */
static size_t raw_log(struct log *l, uint8_t *buf, size_t cap)
{
	int64_t size = log_segment_size(l, 0, SEG_LOG);

	assert_true(size >= 0 && (size_t)size <= cap);
	assert_int_equal(log_segment_read_raw(l, 0, (char *)buf, (size_t)size, 0), size);
	return (size_t)size;
}

/* segment.bytes bounds a batch as max.message.bytes does (Kafka's
 * UnifiedLog.append refuses a record set over it: RECORD_LIST_TOO_LARGE).
 * A client's batch over it is refused with the request (-E2BIG, nothing
 * appended, its index and why said); the mount's record whose batch would
 * pass it is EMSGSIZE, and its many small records go in batches within it;
 * a follower still takes a batch over it (its leader took it before
 * segment.bytes was lowered), in a segment of its own. */
static void test_batch_over_segment_bytes(void **state)
{
	struct logfx *f = *state;
	char big[400], vals[40][16];
	const struct kv one[] = { { NULL, big, -1 } };
	const struct kv small[] = { { NULL, "a", -1 }, { NULL, "b", -1 } };
	struct rec_in r = { NULL, -1, big, 399, fake_now }, many[40];
	struct log_append_info info;
	struct log_state st;
	uint8_t in[4096];
	int64_t *bases, last;
	int bad, n;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	f->cfg.segment_bytes = 300;
	log_reconfigure(f->l, &f->cfg);
	size_t n1 = build(in, 2048, BATCH_CODEC_NONE, small, 2);
	size_t n2 = build(in + n1, 2048, BATCH_CODEC_NONE, one, 1);
	assert_true(n2 > 300 && n2 < (size_t)f->cfg.max_message_bytes);
	assert_int_equal(log_append_client(f->l, in, n1 + n2, 0, -1, &info, &bad), -E2BIG);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(info.why, "exceeds the maximum configured segment size of 300"));
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 0);

	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), -EMSGSIZE);
	for (int i = 0; i < 40; i++)
		many[i] = (struct rec_in){ NULL, -1, vals[i],
					   snprintf(vals[i], sizeof(vals[i]), "value-%02d", i),
					   fake_now };
	assert_int_equal(log_append(f->l, many, 40, 0, NULL), 0);
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	assert_true(n > 1);
	for (int i = 0; i < n; i++)
		assert_in_range(log_segment_size(f->l, bases[i], SEG_LOG), 1, 300);
	free(bases);

	log_get_state(f->l, &st);
	batch_set_base(in + n1, st.log_end_offset, 0);
	assert_int_equal(log_append_batches(f->l, in + n1, n2, -1, &last), 1);
	assert_int_equal(last, 40);
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	assert_int_equal(bases[n - 1], 40);
	assert_int_equal(log_segment_size(f->l, 40, SEG_LOG), (int64_t)n2);
	free(bases);
}

static void test_builder_batches(void **state)
{
	struct logfx *f = *state;
	const struct kv a[] = { { NULL, "one", -1 }, { NULL, "two", -1 }, { NULL, "three", -1 } };
	const struct kv b[] = { { NULL, "four", -1 }, { NULL, "five", -1 } };
	uint8_t in[4096], disk[8192];
	struct log_append_info info;
	char text[256];
	int bad;

	size_t n1 = build(in, 2048, BATCH_CODEC_NONE, a, 3);
	size_t n2 = build(in + n1, 2048, BATCH_CODEC_NONE, b, 2);
	assert_int_equal(log_append_client(f->l, in, n1 + n2, 7, -1, &info, &bad), 0);
	assert_int_equal(bad, -1);
	assert_int_equal(info.first_offset, 0);
	assert_int_equal(info.last_offset, 4);
	assert_int_equal(info.batches, 2);
	assert_int_equal(info.bytes, (int64_t)(n1 + n2));
	assert_int_equal(info.payload, 3 + 3 + 5 + 4 + 4);
	/* A second request continues the offsets. */
	size_t n3 = build(in, 2048, BATCH_CODEC_NONE, b, 2);
	assert_int_equal(log_append_client(f->l, in, n3, 8, -1, &info, NULL), 0);
	assert_int_equal(info.first_offset, 5);
	assert_int_equal(info.last_offset, 6);

	const char *want = "one\ntwo\nthree\nfour\nfive\nfour\nfive\n";
	assert_int_equal(view(f->l, text, sizeof(text)), strlen(want));
	assert_string_equal(text, want);
	/* The bytes on disk: base offsets and epochs set, CRCs still right. */
	size_t dn = raw_log(f->l, disk, sizeof(disk));
	assert_int_equal(dn, n1 + n2 + n3);
	size_t pos = 0;
	int64_t bases[3] = { 0, 3, 5 };
	int32_t epochs[3] = { 7, 7, 8 };
	for (int i = 0; i < 3; i++) {
		struct batch_hdr h;
		size_t sz = (size_t)batch_total_size(disk + pos);
		assert_int_equal(batch_validate(disk + pos, sz), 0);
		assert_int_equal(batch_hdr_decode(disk + pos, sz, &h), 0);
		assert_int_equal(h.base_offset, bases[i]);
		assert_int_equal(h.partition_leader_epoch, epochs[i]);
		pos += sz;
	}
	int64_t p;
	assert_int_equal(log_offset_to_pos(f->l, 5, &p), 0);
	assert_int_equal(p, strlen("one\ntwo\nthree\nfour\nfive\n"));
}

/* A batch written byte by byte as Kafka's documentation lays it out, with
 * a record header and a producer id, epoch and sequence: kept as sent. */
static size_t hand_batch(uint8_t *b)
{
	uint8_t rec[64];
	size_t r = 0;

	/* record: attributes, timestampDelta 0, offsetDelta 0, key "k",
	 * value "v\n1", one header "h"="x" */
	rec[r++] = 0;
	r += (size_t)varint_put64(rec + r, 0);
	r += (size_t)varint_put32(rec + r, 0);
	r += (size_t)varint_put32(rec + r, 1);
	rec[r++] = 'k';
	r += (size_t)varint_put32(rec + r, 3);
	memcpy(rec + r, "v\n1", 3);
	r += 3;
	r += (size_t)varint_put32(rec + r, 1);
	r += (size_t)varint_put32(rec + r, 1);
	rec[r++] = 'h';
	r += (size_t)varint_put32(rec + r, 1);
	rec[r++] = 'x';

	memset(b, 0, BATCH_HDR_SIZE);
	size_t p = BATCH_HDR_SIZE;
	p += (size_t)varint_put32(b + p, (int32_t)r);
	memcpy(b + p, rec, r);
	p += r;
	be64_put(b + BATCH_OFF_BASE_OFFSET, 0);
	be32_put(b + BATCH_OFF_LENGTH, (uint32_t)(p - BATCH_LOG_OVERHEAD));
	be32_put(b + BATCH_OFF_LEADER_EPOCH, (uint32_t)-1);
	b[BATCH_OFF_MAGIC] = 2;
	be16_put(b + BATCH_OFF_ATTRIBUTES, 0);
	be32_put(b + BATCH_OFF_LAST_DELTA, 0);
	be64_put(b + BATCH_OFF_BASE_TS, 1700000000000ULL);
	be64_put(b + BATCH_OFF_MAX_TS, 1700000000000ULL);
	be64_put(b + 43, 4242); /* producerId */
	be16_put(b + 51, 3);    /* producerEpoch */
	be32_put(b + 53, 17);   /* baseSequence */
	be32_put(b + BATCH_OFF_COUNT, 1);
	be32_put(b + BATCH_OFF_CRC, crc32c(0, b + BATCH_OFF_ATTRIBUTES, p - BATCH_OFF_ATTRIBUTES));
	return p;
}

static void test_hand_built_kept(void **state)
{
	struct logfx *f = *state;
	uint8_t in[256], sent[256], disk[512];
	char text[128];

	size_t n = hand_batch(in);
	memcpy(sent, in, n);
	assert_int_equal(log_append_client(f->l, in, n, 2, -1, NULL, NULL), 0);
	assert_int_equal(raw_log(f->l, disk, sizeof(disk)), n);
	/* Everything from the magic on is the client's, byte for byte. */
	assert_memory_equal(disk + BATCH_OFF_MAGIC, sent + BATCH_OFF_MAGIC, n - BATCH_OFF_MAGIC);
	assert_int_equal(be32_get(disk + BATCH_OFF_LEADER_EPOCH), 2);
	/* keyed topic: "k:" then the value, escaped for its newline. */
	assert_int_equal(view(f->l, text, sizeof(text)), strlen("\\k:v\\n1\n"));
	assert_string_equal(text, "\\k:v\\n1\n");
	/* .dump shows the key, the value and the header as sent. */
	char *dump = malloc(65536);
	int64_t cursor = 0;
	assert_non_null(dump);
	ssize_t dn = log_segment_render(f->l, 0, SEG_DUMP, &cursor, dump, 65535);
	assert_true(dn > 0);
	dump[dn] = '\0';
	assert_non_null(strstr(dump, "key: k value: v\\n1 headers: h=x\n"));
	free(dump);
}

/* A header whose maxTimestamp is not its records' largest is stored with
 * theirs and its CRC computed again (Kafka's LogValidator sets it on every
 * batch): the rest stays the client's. */
static void test_max_timestamp_set(void **state)
{
	struct logfx *f = *state;
	uint8_t in[256], sent[256], disk[512];

	size_t n = hand_batch(in);
	be64_put(in + BATCH_OFF_MAX_TS, 4102444800000ULL); /* 2100, no record's */
	be32_put(in + BATCH_OFF_CRC,
		 crc32c(0, in + BATCH_OFF_ATTRIBUTES, n - BATCH_OFF_ATTRIBUTES));
	memcpy(sent, in, n);
	assert_int_equal(log_append_client(f->l, in, n, 2, -1, NULL, NULL), 0);
	assert_int_equal(raw_log(f->l, disk, sizeof(disk)), n);
	assert_int_equal(be64_get(disk + BATCH_OFF_MAX_TS), 1700000000000ULL);
	assert_int_equal(be32_get(disk + BATCH_OFF_CRC),
			 crc32c(0, disk + BATCH_OFF_ATTRIBUTES, n - BATCH_OFF_ATTRIBUTES));
	assert_memory_equal(disk + BATCH_OFF_ATTRIBUTES, sent + BATCH_OFF_ATTRIBUTES,
			    BATCH_OFF_MAX_TS - BATCH_OFF_ATTRIBUTES);
	assert_memory_equal(disk + BATCH_OFF_MAX_TS + 8, sent + BATCH_OFF_MAX_TS + 8,
			    n - BATCH_OFF_MAX_TS - 8);
}

/* Refused with err at batch bad_want, nothing appended; why_want (NULL:
 * none) starts the reason given for -EBADMSG or -EMSGSIZE. */
static void refused_why(struct logfx *f, uint8_t *in, size_t n, int err, int bad_want,
			const char *why_want)
{
	struct log_state st, st0;
	struct log_append_info info;
	int bad = 99;

	log_get_state(f->l, &st0);
	memset(info.why, 'x', sizeof(info.why));
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, &info, &bad), err);
	assert_int_equal(bad, bad_want);
	if (why_want) {
		if (strncmp(info.why, why_want, strlen(why_want)) != 0)
			fail_msg("why: '%s', expected it to start with '%s'", info.why, why_want);
	} else {
		assert_string_equal(info.why, "");
	}
	log_get_state(f->l, &st); /* nothing appended */
	assert_int_equal(st.log_end_offset, st0.log_end_offset);
	assert_int_equal(st.size_bytes, st0.size_bytes);
}

static void refused(struct logfx *f, uint8_t *in, size_t n, int err, int bad_want)
{
	refused_why(f, in, n, err, bad_want, err == -EBADMSG || err == -EMSGSIZE ? "" : NULL);
}

/* Rewrites the attributes of the batch at b (size n) and its CRC. */
static void set_attr(uint8_t *b, size_t n, uint16_t attr)
{
	be16_put(b + BATCH_OFF_ATTRIBUTES, attr);
	be32_put(b + BATCH_OFF_CRC, crc32c(0, b + BATCH_OFF_ATTRIBUTES, n - BATCH_OFF_ATTRIBUTES));
}

static void test_refusals(void **state)
{
	struct logfx *f = *state;
	const struct kv a[] = { { NULL, "x", -1 }, { NULL, "y", -1 } };
	uint8_t in[4096];
	size_t n1 = build(in, 2048, BATCH_CODEC_NONE, a, 2);
	size_t n2 = build(in + n1, 2048, BATCH_CODEC_NONE, a, 2);

	/* A flipped byte in the second batch's records: its CRC fails, and
	 * the first batch is not appended either. */
	in[n1 + n2 - 1] ^= 0x40;
	refused_why(f, in, n1 + n2, -EBADMSG, 1, "CRC-32C 0x");
	in[n1 + n2 - 1] ^= 0x40;
	/* Cut short, or trailing bytes after the last batch. */
	refused_why(f, in, n1 + n2 - 1, -EBADMSG, 1, "batchLength ");
	refused_why(f, in, n1 + 5, -EBADMSG, 1, "5 bytes after the last whole batch");
	/* A magic 0 message set (what librdkafka writes to a broker it takes
	 * for an old one): 8 offset, 4 size, 4 crc, magic 0, ... */
	uint8_t old[27] = { 0 };
	be32_put(old + 8, 15);
	refused(f, old, sizeof(old), -EPROTO, 0);
	/* Magic 1. */
	in[n1 + BATCH_OFF_MAGIC] = 1;
	refused(f, in, n1 + n2, -EPROTO, 1);
	/* A magic no format has (3, or negative) is a corrupt batch, as
	 * Kafka's CorruptRecordException ("Invalid magic"), not an old one. */
	in[n1 + BATCH_OFF_MAGIC] = 3;
	refused_why(f, in, n1 + n2, -EBADMSG, 1, "magic 3 does not exist");
	in[n1 + BATCH_OFF_MAGIC] = 0xff;
	refused_why(f, in, n1 + n2, -EBADMSG, 1, "magic -1 does not exist");
	in[n1 + BATCH_OFF_MAGIC] = 2;
	/* Uncompressed records under snappy's and zstd's bits, and a codec
	 * that does not exist. */
	set_attr(in, n1, BATCH_CODEC_SNAPPY);
	refused_why(f, in, n1, -EBADMSG, 0, "its snappy payload does not decompress");
	set_attr(in, n1, BATCH_CODEC_ZSTD);
	refused_why(f, in, n1, -EBADMSG, 0, "its zstd payload does not decompress");
	set_attr(in, n1, 6);
	refused_why(f, in, n1, -EBADMSG, 0, "compression codec 6 does not exist");
	/* Transactional and control batches. */
	set_attr(in, n1, BATCH_ATTR_TRANSACTIONAL);
	refused(f, in, n1, -EPERM, 0);
	set_attr(in, n1, BATCH_ATTR_CONTROL);
	refused(f, in, n1, -EPERM, 0);
	set_attr(in, n1, 0);
	/* lastOffsetDelta that does not match the records. */
	be32_put(in + BATCH_OFF_LAST_DELTA, 2);
	set_attr(in, n1, 0);
	refused_why(f, in, n1, -EBADMSG, 0, "recordsCount 2 and lastOffsetDelta 2");
	be32_put(in + BATCH_OFF_LAST_DELTA, 1);
	set_attr(in, n1, 0);
	/* Over max.message.bytes. */
	f->cfg.max_message_bytes = (int32_t)n1 - 1;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	refused_why(f, in, n1, -EMSGSIZE, 0, "77 bytes, over max.message.bytes 76");
	f->cfg.max_message_bytes = 1048588;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	/* Nothing at all. */
	assert_int_equal(log_append_client(f->l, in, 0, 0, -1, NULL, NULL), -EINVAL);
	/* And the good bytes still go in. */
	assert_int_equal(log_append_client(f->l, in, n1 + n2, 0, -1, NULL, NULL), 0);
}

static void test_compressed(void **state)
{
	struct logfx *f = *state;
	const struct kv a[] = { { NULL, "gz one", -1 }, { NULL, "gz two", -1 } };
	const struct kv b[] = { { NULL, "lz one", -1 }, { NULL, "lz\ntwo", -1 } };
	uint8_t in[8192];
	char text[256];

	const struct kv c[] = { { NULL, "sn one", -1 } };
	const struct kv d[] = { { "k", "zs one", -1 }, { NULL, "zs two", -1 } };

	size_t n1 = build(in, 4096, BATCH_CODEC_GZIP, a, 2);
	size_t n2 = build(in + n1, 4096, BATCH_CODEC_LZ4, b, 2);
	size_t n4 = build(in + n1 + n2, 2048, BATCH_CODEC_SNAPPY, c, 1);
	size_t n5 = build(in + n1 + n2 + n4, 2048, BATCH_CODEC_ZSTD, d, 2);
	assert_int_equal(log_append_client(f->l, in, n1 + n2 + n4 + n5, 0, -1, NULL, NULL), 0);
	view(f->l, text, sizeof(text));
	assert_string_equal(text, "gz one\ngz two\nlz one\n\\lz\\ntwo\nsn one\nzs one\nzs two\n");
	/* A corrupt compressed payload under a correct CRC. */
	size_t n3 = build(in, 4096, BATCH_CODEC_GZIP, a, 2);
	in[n3 - 6] ^= 0xff; /* the gzip trailer's CRC-32 */
	be32_put(in + BATCH_OFF_CRC,
		 crc32c(0, in + BATCH_OFF_ATTRIBUTES, n3 - BATCH_OFF_ATTRIBUTES));
	refused_why(f, in, n3, -EBADMSG, 0,
		    "its gzip payload does not decompress, or to more than 64 MiB");
}

static void test_log_append_time(void **state)
{
	struct logfx *f = *state;
	const struct kv a[] = { { NULL, "t", -1 } };
	uint8_t in[1024], disk[1024];
	struct batch_hdr h;
	int64_t off;

	size_t n = build(in, sizeof(in), BATCH_CODEC_NONE, a, 1);
	assert_int_equal(log_append_client(f->l, in, n, 0, 1800000000000LL, NULL, NULL), 0);
	raw_log(f->l, disk, sizeof(disk));
	assert_int_equal(log_set_hw(f->l, 1), 0);
	assert_int_equal(batch_validate(disk, n), 0);
	assert_int_equal(batch_hdr_decode(disk, n, &h), 0);
	assert_true(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
	assert_int_equal(h.max_timestamp, 1800000000000LL);
	/* The time index follows the append time. */
	assert_int_equal(log_time_to_offset(f->l, 1750000000000LL, &off), 0);
	assert_int_equal(off, 0);
}

/* Step 9: with bounds, a CreateTime record outside [now - before, now +
 * after] is -ERANGE with the reason, nothing appended, and -1 (no
 * timestamp) is never out of range; a batch with the LogAppendTime
 * attribute is -ERANGE whatever the bounds; the broker's own encoder
 * (forwarded writes) never sets it, whatever the topic's type. */
static void test_timestamp_refusals(void **state)
{
	struct logfx *f = *state;
	const struct kv a[] = { { NULL, "t", -1 }, { NULL, "u", -1 } };
	uint8_t in[1024], *enc;
	struct log_append_info info;
	struct batch_hdr h;
	struct log_state st;
	size_t enc_len;
	int bad;

	f->cfg.ts_before_max_ms = 1000;
	f->cfg.ts_after_max_ms = 1000;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	fake_now = 1700000000000LL + 1001; /* record 0 is 1001 ms old, record 1 1000 */
	size_t n = build(in, sizeof(in), BATCH_CODEC_NONE, a, 2);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, &info, &bad), -ERANGE);
	assert_int_equal(bad, 0);
	assert_non_null(strstr(info.why, "timestamp 1700000000000 of record 0 is out of range"));
	fake_now -= 1; /* both within: 1000 and 999 ms old */
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, &info, &bad), 0);
	fake_now = 1700000000000LL - 1001; /* record 0 is 1001 ms ahead */
	n = build(in, sizeof(in), BATCH_CODEC_NONE, a, 1);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, &info, &bad), -ERANGE);
	/* No timestamp (-1): no check. */
	struct batch_builder bb;
	batch_builder_init(&bb, in, sizeof(in), BATCH_CODEC_NONE);
	assert_int_equal(batch_builder_add(&bb, NULL, -1, "x", 1, -1), 0);
	n = (size_t)batch_builder_finish(&bb, 0, -1);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, &info, &bad), 0);
	/* The LogAppendTime attribute, set by a producer. */
	batch_builder_init(&bb, in, sizeof(in), BATCH_CODEC_NONE);
	bb.log_append_time = true;
	assert_int_equal(batch_builder_add(&bb, NULL, -1, "y", 1, fake_now), 0);
	n = (size_t)batch_builder_finish(&bb, 0, -1);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, &info, &bad), -ERANGE);
	assert_non_null(strstr(info.why, "LogAppendTime attribute"));
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 3);
	/* The broker's encoder on a LogAppendTime topic: CreateTime batches
	 * (the leader stamps them), so its forwarded writes are taken. */
	f->cfg.log_append_time = true;
	struct rec_in r = { NULL, -1, "z", 1, fake_now };
	struct batch_producer pr = { 1, 0, 0 };
	assert_int_equal(log_encode_batches(&f->cfg, &r, 1, &pr, &enc, &enc_len, NULL), 0);
	assert_int_equal(batch_hdr_decode(enc, enc_len, &h), 0);
	assert_int_equal(h.attributes & BATCH_ATTR_LOG_APPEND_TIME, 0);
	free(enc);
}

/* Values a line cannot carry, escaped; lines that can, as they are. */
static void test_escape_view(void **state)
{
	struct logfx *f = *state;
	const struct kv a[] = {
		{ NULL, "plain", -1 },
		{ NULL, "C:\\dir", -1 }, /* a backslash inside: as is */
		{ NULL, "two\nlines", -1 },
		{ NULL, "\\lead", -1 }, /* starts with the mark */
		{ NULL, "nul\0bel\a\r\x7f", 10 },
		{ NULL, "tab\tutf8 \xc3\xa9", -1 }, /* tab and UTF-8: as is */
		{ NULL, "", -1 },
		{ NULL, NULL, -1 },
	};
	const char *want = "plain\nC:\\dir\n\\two\\nlines\n\\\\\\lead\n"
			   "\\nul\\x00bel\\x07\\r\\x7f\ntab\tutf8 \xc3\xa9\n\n\n";
	uint8_t in[4096];
	char text[512];
	int64_t pos;

	size_t n = build(in, sizeof(in), BATCH_CODEC_NONE, a, 8);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, NULL, NULL), 0);
	view(f->l, text, sizeof(text));
	assert_string_equal(text, want);
	view_pieces(f->l, want);
	/* Positions are those of the rendered lines. */
	assert_int_equal(log_offset_to_pos(f->l, 3, &pos), 0);
	assert_int_equal(pos, strlen("plain\nC:\\dir\n\\two\\nlines\n"));
	/* A reopen recomputes the same positions from the batches. */
	struct log_state st0, st1;
	log_get_state(f->l, &st0);
	assert_int_equal(logmgr_close(f->m), 0);
	f->m = NULL;
	logfx_open(f);
	log_get_state(f->l, &st1);
	assert_int_equal(st1.line_end, st0.line_end);
	assert_int_equal(view(f->l, text, sizeof(text)), strlen(want));
	assert_string_equal(text, want);
}

/* Whole batches decoded at once (the two-thread read path): a batch whose
 * lines are all plain is copied as is; one holding an escaped line is
 * decoded again with the escaping test, between plain ones. */
static void test_escape_view_batches(void **state)
{
	struct logfx *f = *state;
	const struct kv plain[] = { { NULL, "one", -1 }, { NULL, "two", -1 } };
	const struct kv mixed[] = { { NULL, "three", -1 },
				    { NULL, "four\nx", -1 },
				    { NULL, "\\five", -1 } };
	const char *want = "one\ntwo\nthree\n\\four\\nx\n\\\\\\five\none\ntwo\n";
	int saved = engine_batch_read_min;
	uint8_t in[4096];
	char text[512];
	size_t n;

	n = build(in, sizeof(in), BATCH_CODEC_NONE, plain, 2);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, NULL, NULL), 0);
	n = build(in, sizeof(in), BATCH_CODEC_LZ4, mixed, 3);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, NULL, NULL), 0);
	n = build(in, sizeof(in), BATCH_CODEC_NONE, plain, 2);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, NULL, NULL), 0);
	engine_batch_read_min = 64;
	view(f->l, text, sizeof(text));
	engine_batch_read_min = saved;
	assert_string_equal(text, want);
}

/* The line view written back as lines gives the same records. */
static void test_escape_round_trip(void **state)
{
	struct logfx *f = *state;
	const struct kv a[] = {
		{ "k1", "v\n1", -1 },        { "k:2", "v2", -1 }, /* the separator in a key */
		{ NULL, "no:key", -1 },                           /* in a key-less value */
		{ "k3", "C:\\new", -1 },     { "\\k4", "v4", -1 },
		{ "k5", NULL, -1 }, /* a tombstone */
		{ NULL, "bin\x01\xff", -1 },
	};
	uint8_t in[4096];
	char text[512], again[512];

	size_t n = build(in, sizeof(in), BATCH_CODEC_NONE, a, 7);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, NULL, NULL), 0);
	size_t len = view(f->l, text, sizeof(text));
	assert_string_equal(text, "\\k1:v\\n1\n\\k\\x3a2:v2\n\\no\\x3akey\nk3:C:\\new\n"
				  "\\\\\\k4:v4\nk5:\n\\bin\\x01\xff\n");
	struct log_append_info info;
	assert_int_equal(log_append_lines(f->l, NULL, 0, text, len, 1, 0, &info), 0);
	assert_int_equal(info.first_offset, 7);
	/* The records read back equal: the second half of the view is the
	 * first half again. */
	size_t all = view(f->l, again, sizeof(again));
	assert_int_equal(all, 2 * len);
	assert_memory_equal(again + len, text, len);
	/* And the records themselves: walk the second copy's batch. */
	int64_t pos;
	assert_int_equal(log_offset_to_pos(f->l, 7, &pos), 0);
	assert_int_equal(pos, (int64_t)len);
}

/* line.format=raw: the bytes as they are, positions still exact. */
static void test_raw_format(void **state)
{
	struct logfx *f = *state;
	const struct kv a[] = { { NULL, "two\nlines", -1 }, { NULL, "\\x", -1 } };
	uint8_t in[1024];
	char text[128];
	int64_t pos;

	size_t n = build(in, sizeof(in), BATCH_CODEC_NONE, a, 2);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, NULL, NULL), 0);
	view(f->l, text, sizeof(text));
	assert_string_equal(text, "two\nlines\n\\x\n");
	assert_int_equal(log_offset_to_pos(f->l, 1, &pos), 0);
	assert_int_equal(pos, 10);
	/* A line starting with a backslash is taken literally. */
	assert_int_equal(log_append_lines(f->l, NULL, 0, "\\n\n", 3, 1, 0, NULL), 0);
	view(f->l, text, sizeof(text));
	assert_string_equal(text, "two\nlines\n\\x\n\\n\n");
}

/* Lines with backslashes written through the mount keep their view; an
 * escaped line becomes the bytes it stands for. */
static void test_escaped_lines_in(void **state)
{
	struct logfx *f = *state;
	const char *in = "C:\\dir\\new\n\\a\\nb\n\\\\x\n\\bad\\q\\x4\n";
	char text[128];

	assert_int_equal(log_append_lines(f->l, NULL, 0, in, strlen(in), 1, 0, NULL), 0);
	view(f->l, text, sizeof(text));
	/* 1 literal; 2 "a<LF>b"; 3 "\x", shown escaped (it starts with the
	 * mark); 4 "bad\q\x4": unknown and cut escapes are kept, and the
	 * record needs no escape. */
	assert_string_equal(text, "C:\\dir\\new\n\\a\\nb\n\\\\\\x\nbad\\q\\x4\n");
}

/* A follower that appends the leader's bytes (log_append_batches) counts
 * the same escaped lines: the same positions, the same view. */
static void test_follower_same_lines(void **state)
{
	struct logfx *f = *state;
	const struct kv a[] = { { NULL, "x\ny", -1 }, { NULL, "\\z", -1 }, { NULL, "w", -1 } };
	uint8_t in[1024], disk[2048];
	char lead[256], follow[256];
	struct log *fl;
	struct log_state ls, fs;
	int64_t last;

	size_t n = build(in, sizeof(in), BATCH_CODEC_LZ4, a, 3);
	assert_int_equal(log_append_client(f->l, in, n, 0, -1, NULL, NULL), 0);
	assert_int_equal(log_append_lines(f->l, NULL, 0, "plain\n\\q\\x01\n", 13, 1, 0, NULL), 0);
	size_t dn = raw_log(f->l, disk, sizeof(disk));
	assert_int_equal(logmgr_get_log(f->m, "t", 1, &f->cfg, true, &fl), 0);
	assert_int_equal(log_append_batches(fl, disk, dn, -1, &last), 2);
	assert_int_equal(last, 4);
	log_get_state(f->l, &ls);
	log_get_state(fl, &fs);
	assert_int_equal(fs.line_end, ls.line_end);
	size_t ln = view(f->l, lead, sizeof(lead));
	assert_int_equal(view(fl, follow, sizeof(follow)), ln);
	assert_string_equal(follow, lead);
	assert_string_equal(lead, "\\x\\ny\n\\\\\\z\nw\nplain\n\\q\\x01\n");
}

/* One batch of an idempotent producer (id 4242, epoch 3, sequence 17)
 * in codec: records with a key, a header and their own timestamps. */
static size_t idem_batch(uint8_t *buf, size_t cap, int codec)
{
	static const uint8_t hdr[] = { 2, 'h', 2, 'x' }; /* "h"="x", zigzag lengths */
	struct batch_builder bb;

	batch_builder_init(&bb, buf, cap, codec);
	bb.producer_id = 4242;
	bb.producer_epoch = 3;
	bb.base_sequence = 17;
	assert_int_equal(batch_builder_add_headers(&bb, "k1", 2, "v\n1", 3, 1700000000500LL, 1, hdr,
						   sizeof(hdr)),
			 0);
	assert_int_equal(batch_builder_add(&bb, NULL, -1, "two", 3, 1700000000100LL), 0);
	assert_int_equal(batch_builder_add_headers(&bb, "k3", 2, NULL, -1, 1700000000900LL, 1, hdr,
						   sizeof(hdr)),
			 0);
	int64_t size = batch_builder_finish(&bb, 0, -1);
	assert_true(size > 0);
	return (size_t)size;
}

/* Kafka's recompression: a client's batch in each codec against a topic
 * of each compression.type. producer keeps the batch as sent; any other
 * stores it in the topic's codec, the same records, headers, timestamps
 * and producer fields, a valid CRC, the same line view, .dump and offsets;
 * a follower copies the stored bytes and shows the same lines. */
static void test_recompress(void **state)
{
	struct logfx *f = *state;
	const int topic_codecs[] = { LOG_CODEC_PRODUCER, BATCH_CODEC_NONE, BATCH_CODEC_GZIP,
				     BATCH_CODEC_SNAPPY, BATCH_CODEC_LZ4,  BATCH_CODEC_ZSTD };
	const int client_codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
				      BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };
	char ref[256];
	int64_t ref_pos = -1;
	int part = 1;

	for (size_t t = 0; t < sizeof(topic_codecs) / sizeof(topic_codecs[0]); t++) {
		for (size_t c = 0; c < sizeof(client_codecs) / sizeof(client_codecs[0]); c++) {
			struct log_config cfg = f->cfg;
			struct log *l, *fl;
			struct log_append_info info;
			struct batch_hdr h, sh;
			struct batch_iter it = { 0 };
			struct rec r;
			uint8_t in[1024], sent[1024], disk[2048];
			char text[256], follow[256];
			int64_t last;
			int bad;

			cfg.codec = topic_codecs[t];
			assert_int_equal(logmgr_get_log(f->m, "t", part, &cfg, true, &l), 0);
			size_t n = idem_batch(in, sizeof(in), client_codecs[c]);
			memcpy(sent, in, n);
			/* After a mount write, so the offsets are given from 1
			 * (at the clock, so that the segment does not roll by
			 * the batch's record time). */
			assert_int_equal(log_append_lines(l, NULL, 0, "m\n", 2, fake_now, 0, NULL),
					 0);
			assert_int_equal(log_append_client(l, in, n, 5, -1, &info, &bad), 0);
			assert_int_equal(bad, -1);
			assert_int_equal(info.first_offset, 1);
			assert_int_equal(info.last_offset, 3);
			size_t dn = raw_log(l, disk, sizeof(disk));
			size_t first = (size_t)batch_total_size(disk);
			uint8_t *b = disk + first;
			size_t bn = dn - first;
			assert_int_equal(info.bytes, (int64_t)bn);
			assert_int_equal(batch_total_size(b), (int64_t)bn);
			assert_int_equal(batch_validate(b, bn), 0); /* the CRC of what is stored */
			assert_int_equal(batch_hdr_decode(b, bn, &h), 0);
			assert_int_equal(batch_hdr_decode(sent, n, &sh), 0);
			int want = topic_codecs[t] == LOG_CODEC_PRODUCER ? client_codecs[c]
									 : topic_codecs[t];
			assert_int_equal(h.attributes & BATCH_CODEC_MASK, want);
			if (want == client_codecs[c]) /* as sent, from the magic on */
				assert_memory_equal(b + BATCH_OFF_MAGIC, sent + BATCH_OFF_MAGIC,
						    n - BATCH_OFF_MAGIC);
			assert_int_equal(h.base_offset, 1);
			assert_int_equal(h.partition_leader_epoch, 5);
			assert_int_equal(h.producer_id, 4242);
			assert_int_equal(h.producer_epoch, 3);
			assert_int_equal(h.base_sequence, 17);
			assert_int_equal(h.records_count, 3);
			assert_int_equal(h.last_offset_delta, 2);
			assert_int_equal(h.base_timestamp, sh.base_timestamp);
			assert_int_equal(h.max_timestamp, sh.max_timestamp);
			/* The records, field by field. */
			assert_int_equal(batch_iter_init(&it, b, bn), 0);
			assert_int_equal(batch_iter_next(&it, &r), 1);
			assert_int_equal(r.offset, 1);
			assert_int_equal(r.timestamp, 1700000000500LL);
			assert_int_equal(r.key_len, 2);
			assert_memory_equal(r.key, "k1", 2);
			assert_int_equal(r.value_len, 3);
			assert_memory_equal(r.value, "v\n1", 3);
			assert_int_equal(r.headers_count, 1);
			assert_int_equal(r.headers_end - r.headers, 4);
			assert_memory_equal(r.headers, "\x02h\x02x", 4);
			assert_int_equal(batch_iter_next(&it, &r), 1);
			assert_int_equal(r.timestamp, 1700000000100LL);
			assert_int_equal(r.key_len, -1);
			assert_int_equal(r.headers_count, 0);
			assert_int_equal(batch_iter_next(&it, &r), 1);
			assert_int_equal(r.offset, 3);
			assert_int_equal(r.value_len, -1);
			assert_int_equal(r.headers_count, 1);
			assert_int_equal(batch_iter_next(&it, &r), 0);
			batch_iter_free(&it);
			/* The line view and positions as the batch kept as sent
			 * (the first one) gives them. */
			view(l, text, sizeof(text));
			int64_t p;
			assert_int_equal(log_offset_to_pos(l, 3, &p), 0);
			if (part == 1) {
				memcpy(ref, text, sizeof(ref));
				ref_pos = p;
				assert_non_null(strstr(ref, "two\n"));
			}
			assert_string_equal(text, ref);
			assert_int_equal(p, ref_pos);
			char *dump = malloc(65536);
			int64_t cursor = 0;
			assert_non_null(dump);
			ssize_t dlen = log_segment_render(l, 0, SEG_DUMP, &cursor, dump, 65535);
			assert_true(dlen > 0);
			dump[dlen] = '\0';
			char codec_line[32];
			snprintf(codec_line, sizeof(codec_line), "codec: %s ", codec_name(want));
			assert_non_null(strstr(dump, codec_line));
			assert_non_null(strstr(dump, "key: k1 value: v\\n1 headers: h=x\n"));
			free(dump);
			/* A follower keeps the leader's bytes and shows the same. */
			assert_int_equal(logmgr_get_log(f->m, "t", part + 1, &cfg, true, &fl), 0);
			assert_int_equal(log_append_batches(fl, disk, dn, -1, &last), 2);
			assert_int_equal(last, 3);
			view(fl, follow, sizeof(follow));
			assert_string_equal(follow, text);
			uint8_t fdisk[2048];
			assert_int_equal(raw_log(fl, fdisk, sizeof(fdisk)), dn);
			assert_memory_equal(fdisk, disk, dn);
			part += 2;
		}
	}
}

/* max.message.bytes applies to the batch as stored too: a gzip batch that
 * fits, too large once recompressed to none, is MESSAGE_TOO_LARGE at its
 * index with nothing appended (Kafka's RecordTooLargeException after
 * recompression); the same under producer is stored. Several batches of
 * one request: those already in the topic's codec kept as sent, the
 * others rewritten, offsets following each other. */
static void test_recompress_size(void **state)
{
	struct logfx *f = *state;
	struct log_config cfg = f->cfg;
	struct log_state st;
	struct log *l;
	struct log_append_info info;
	char big[2000], text[8192];
	uint8_t in[8192], disk[8192];
	int bad;

	memset(big, 'a', sizeof(big));
	const struct kv a[] = { { NULL, big, (int32_t)sizeof(big) } };
	const struct kv b[] = { { NULL, "small", -1 } };
	size_t n0 = build(in, sizeof(in), BATCH_CODEC_NONE, b, 1);
	size_t n1 = build(in + n0, sizeof(in) - n0, BATCH_CODEC_GZIP, a, 1);
	assert_true(n1 < 500);
	cfg.codec = BATCH_CODEC_NONE;
	cfg.max_message_bytes = 1000;
	assert_int_equal(logmgr_get_log(f->m, "t", 1, &cfg, true, &l), 0);
	assert_int_equal(log_append_client(l, in, n0 + n1, 0, -1, &info, &bad), -EMSGSIZE);
	assert_int_equal(bad, 1);
	char want[128];
	snprintf(want, sizeof(want),
		 "%zu bytes once recompressed to none (%zu as sent), over max.message.bytes 1000",
		 BATCH_HDR_SIZE + 2 + 7 + sizeof(big), n1); /* a 2000-byte value's varints */
	assert_string_equal(info.why, want);
	log_get_state(l, &st);
	assert_int_equal(st.log_end_offset, 0);
	cfg.codec = LOG_CODEC_PRODUCER;
	assert_int_equal(log_reconfigure(l, &cfg), 0);
	assert_int_equal(log_append_client(l, in, n0 + n1, 0, -1, &info, &bad), 0);
	assert_int_equal(info.bytes, (int64_t)(n0 + n1));

	/* gzip topic: the none batch rewritten in gzip, the gzip one kept. */
	cfg.codec = BATCH_CODEC_GZIP;
	cfg.max_message_bytes = 1048588;
	n0 = build(in, sizeof(in), BATCH_CODEC_NONE, b, 1);
	n1 = build(in + n0, sizeof(in) - n0, BATCH_CODEC_GZIP, a, 1);
	uint8_t sent1[8192];
	memcpy(sent1, in + n0, n1);
	size_t n2 = build(in + n0 + n1, sizeof(in) - n0 - n1, BATCH_CODEC_LZ4, a, 1);
	assert_int_equal(logmgr_get_log(f->m, "t", 2, &cfg, true, &l), 0);
	assert_int_equal(log_append_client(l, in, n0 + n1 + n2, 0, 1800000000000LL, &info, &bad),
			 0);
	assert_int_equal(info.first_offset, 0);
	assert_int_equal(info.last_offset, 2);
	assert_int_equal(info.batches, 3);
	size_t dn = raw_log(l, disk, sizeof(disk));
	assert_int_equal(info.bytes, (int64_t)dn);
	size_t pos = 0;
	for (int i = 0; i < 3; i++) {
		struct batch_hdr h;
		size_t sz = (size_t)batch_total_size(disk + pos);

		assert_int_equal(batch_validate(disk + pos, sz), 0);
		assert_int_equal(batch_hdr_decode(disk + pos, sz, &h), 0);
		assert_int_equal(h.base_offset, i);
		assert_int_equal(h.attributes & BATCH_CODEC_MASK, BATCH_CODEC_GZIP);
		/* LogAppendTime stamped on the stored batch. */
		assert_true(h.attributes & BATCH_ATTR_LOG_APPEND_TIME);
		assert_int_equal(h.max_timestamp, 1800000000000LL);
		if (i == 1) {
			assert_int_equal(sz, n1);
			/* kept: all but what LogAppendTime stamps */
			assert_memory_equal(disk + pos + BATCH_OFF_PRODUCER_ID,
					    sent1 + BATCH_OFF_PRODUCER_ID,
					    n1 - BATCH_OFF_PRODUCER_ID);
		}
		pos += sz;
	}
	assert_int_equal(pos, dn);
	view(l, text, sizeof(text));
	assert_int_equal(strlen(text), 6 + 2 * (sizeof(big) + 1));
	assert_memory_equal(text, "small\naaa", 9);

	/* Bytes that do not compress grow in either codec: still stored,
	 * read back the same. */
	enum { RND = 300000 };
	uint8_t *rnd = malloc(RND), *rb = malloc(RND + 4096);
	assert_non_null(rnd);
	assert_non_null(rb);
	srand(7);
	for (int i = 0; i < RND; i++)
		rnd[i] = (uint8_t)rand();
	const int codecs[] = { BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY, BATCH_CODEC_LZ4,
			       BATCH_CODEC_ZSTD };
	for (int c = 0; c < 4; c++) {
		struct batch_builder bb;
		struct batch_iter it = { 0 };
		struct rec r;

		batch_builder_init(&bb, rb, RND + 4096, BATCH_CODEC_NONE);
		assert_int_equal(batch_builder_add(&bb, "k", 1, rnd, RND, 1700000000000LL), 0);
		int64_t rn = batch_builder_finish(&bb, 0, -1);
		assert_true(rn > RND);
		cfg.codec = codecs[c];
		assert_int_equal(logmgr_get_log(f->m, "t", 3 + c, &cfg, true, &l), 0);
		assert_int_equal(log_append_client(l, rb, (size_t)rn, 0, -1, &info, NULL), 0);
		assert_true(info.bytes > rn); /* larger than sent */
		uint8_t *sd = malloc((size_t)info.bytes);
		assert_non_null(sd);
		assert_int_equal(log_segment_read_raw(l, 0, (char *)sd, (size_t)info.bytes, 0),
				 info.bytes);
		assert_int_equal(be16_get(sd + BATCH_OFF_ATTRIBUTES) & BATCH_CODEC_MASK, codecs[c]);
		assert_int_equal(batch_iter_init(&it, sd, (size_t)info.bytes), 0);
		assert_int_equal(batch_iter_next(&it, &r), 1);
		assert_int_equal(r.value_len, RND);
		assert_memory_equal(r.value, rnd, RND);
		batch_iter_free(&it);
		free(sd);
	}
	free(rnd);
	free(rb);
}

/* line.format is fixed once the log has a record, as key.separator. */
static void test_format_fixed(void **state)
{
	struct logfx *f = *state;

	f->cfg.line_format = LINE_FORMAT_RAW;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	f->cfg.line_format = LINE_FORMAT_ESCAPE;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	assert_int_equal(log_append_lines(f->l, NULL, 0, "a\n", 2, 1, 0, NULL), 0);
	f->cfg.line_format = LINE_FORMAT_RAW;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), -EBUSY);
	assert_int_equal(line_format_parse("raw", 3), LINE_FORMAT_RAW);
	assert_int_equal(line_format_parse("escape", 6), LINE_FORMAT_ESCAPE);
	assert_int_equal(line_format_parse("base64", 6), -EINVAL);
}

/* One batch of one record stamped ts (-1: none), as a client sends it. */
static size_t build_at(uint8_t *buf, size_t cap, int64_t ts)
{
	struct batch_builder bb;

	batch_builder_init(&bb, buf, cap, BATCH_CODEC_NONE);
	assert_int_equal(batch_builder_add(&bb, NULL, -1, "v", 1, ts), 0);
	int64_t size = batch_builder_finish(&bb, 0, -1);
	assert_true(size > 0);
	return (size_t)size;
}

static int segments(struct logfx *f)
{
	struct log_state st;

	log_get_state(f->l, &st);
	return st.segments;
}

static void append_at(struct logfx *f, int64_t ts)
{
	uint8_t in[256];
	size_t n = build_at(in, sizeof(in), ts);

	assert_int_equal(log_append_client(f->l, in, n, 0, -1, NULL, NULL), 0);
}

/* segment.ms counts in record time, as Kafka's LogSegment.timeWaitedForRoll:
 * a batch whose largest timestamp is more than segment.ms after the
 * segment's first batch's rolls, whenever it comes, so a replay of old
 * records rolls every segment.ms of their times (and retention can take
 * them segment by segment), and the wall clock alone rolls nothing while
 * the records' times stay within it; across a restart too (the first
 * batch's header). A first batch without a timestamp ages by the wall
 * clock. */
static void test_roll_by_record_time(void **state)
{
	struct logfx *f = *state;
	const int64_t t0 = fake_now - 100000;
	uint8_t in[512];

	f->cfg.segment_ms = 1000;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	for (int i = 0; i < 3; i++) /* 5 s apart in record time, at one instant */
		append_at(f, t0 + i * 5000);
	assert_int_equal(segments(f), 3);
	/* Two batches of one append roll between them too. */
	size_t n1 = build_at(in, 256, t0 + 20000), n2 = build_at(in + n1, 256, t0 + 30000);
	assert_int_equal(log_append_client(f->l, in, n1 + n2, 0, -1, NULL, NULL), 0);
	assert_int_equal(segments(f), 5);
	/* A minute later by the clock, 500 ms later in record time: no roll. */
	fake_now += 60000;
	append_at(f, t0 + 30500);
	assert_int_equal(segments(f), 5);
	assert_int_equal(logmgr_close(f->m), 0);
	f->m = NULL;
	logfx_open(f);
	append_at(f, t0 + 31000); /* exactly segment.ms: not yet */
	assert_int_equal(segments(f), 5);
	append_at(f, t0 + 31001);
	assert_int_equal(segments(f), 6);
	/* A batch without a timestamp waited less than nothing (Kafka's
	 * -1 - rollingBasedTimestamp), whatever the clock says. */
	fake_now += 5000;
	append_at(f, -1);
	assert_int_equal(segments(f), 6);
	/* A first batch without one: the wall clock since it went in. */
	pthread_mutex_lock(&f->l->lock);
	assert_int_equal(log_roll_locked(f->l), 0);
	pthread_mutex_unlock(&f->l->lock);
	append_at(f, -1);
	assert_int_equal(segments(f), 7);
	fake_now += 1000;
	append_at(f, t0 + 90000);
	assert_int_equal(segments(f), 7);
	fake_now += 1;
	append_at(f, -1);
	assert_int_equal(segments(f), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_builder_batches, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_batch_over_segment_bytes, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_hand_built_kept, setup_keyed, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_max_timestamp_set, setup_keyed,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_compressed, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_log_append_time, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_timestamp_refusals, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_escape_view_batches, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_escape_view, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_escape_round_trip, setup_keyed,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_raw_format, setup_raw, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_escaped_lines_in, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_format_fixed, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_follower_same_lines, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recompress, setup_keyed, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recompress_size, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_by_record_time, setup, logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
