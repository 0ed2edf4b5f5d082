/*
 * gen_corpus.c — writes the seed corpus of the fuzz targets:
 *
 *   gen-corpus DIR     (writes DIR/fuzz_batch/NAME, DIR/fuzz_recovery/NAME
 *                       and DIR/fuzz_client/NAME)
 *
 * batch: valid batches of each codec mqfs writes (none, gzip, lz4) with
 * keys, null and empty values, long values; and the ways a batch is found
 * broken (a flipped payload byte, a bad CRC, bad magic, a length past the
 * end, truncated, a codec we do not decode, records that lie about their
 * count). recovery: segment files: empty, one batch, many batches of each
 * codec with consecutive offsets, a torn tail, garbage in the middle, a
 * tail of zeros (the mapped tail), offsets that go backwards, a batch in
 * the middle whose CRC matches but whose records do not decode, a base
 * offset whose last offset would pass INT64_MAX. client: what
 * a Kafka client sends, records a line cannot carry among them: newlines,
 * control bytes, a leading backslash, the separator ":" in a key and in a
 * key-less value, a tombstone; several batches back to back; an old
 * message set.
 *
 * The output is deterministic (fixed timestamps), so regenerating it
 * (`make fuzz-corpus`) changes nothing unless the format does.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "engine/batch.h"

static const char *out_dir;

static void put_file(const char *sub, const char *name, const uint8_t *b, size_t len);

static void put(const char *sub, const char *name, const uint8_t *b, size_t len)
{
	/* fuzz_client reads a flag byte first (bit 0: fix the CRCs): its seeds
	 * go both ways. */
	if (!strcmp(sub, "fuzz_client")) {
		static uint8_t fb[1 << 21];
		char n2[256];

		for (int flag = 0; flag < 2; flag++) {
			fb[0] = (uint8_t)flag;
			memcpy(fb + 1, b, len);
			snprintf(n2, sizeof(n2), "%s%s", name, flag ? "-fixcrc" : "");
			put_file(sub, n2, fb, len + 1);
		}
		return;
	}
	put_file(sub, name, b, len);
}

static void put_file(const char *sub, const char *name, const uint8_t *b, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* One batch of n records "k<i>"="v<i>..." (every third keyless, every
 * fifth value null, every seventh empty), value lengths up to vmax. */
static size_t batch(uint8_t *buf, size_t cap, int codec, int n, int vmax, int64_t base)
{
	struct batch_builder bb;
	char k[16], v[4096];

	batch_builder_init(&bb, buf, cap, codec);
	for (int i = 0; i < n; i++) {
		int kl = snprintf(k, sizeof(k), "k%d", i);
		int vl = 1 + (i * 37) % vmax;
		for (int j = 0; j < vl; j++)
			v[j] = (char)('a' + (i + j) % 26);
		if (batch_builder_add(&bb, i % 3 ? k : NULL, i % 3 ? kl : -1, i % 5 == 0 ? NULL : v,
				      i % 5 == 0   ? -1
				      : i % 7 == 0 ? 0
						   : vl,
				      1700000000000LL + i) < 0)
			exit(1);
	}
	int64_t len = batch_builder_finish(&bb, base, 0);
	if (len < 0)
		exit(1);
	return (size_t)len;
}

static void fix_crc(uint8_t *b, size_t len)
{
	be32_put(b + BATCH_OFF_CRC,
		 crc32c(0, b + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
}

/* A batch of one record whose payload (codec) is the len bytes at p, its
 * length and CRC made to match; its size. */
static size_t wrap(uint8_t *b, int codec, const uint8_t *p, size_t len)
{
	size_t n = BATCH_HDR_SIZE + len;

	batch(b, 1 << 16, BATCH_CODEC_NONE, 1, 4, 0); /* the header */
	memcpy(b + BATCH_HDR_SIZE, p, len);
	be16_put(b + BATCH_OFF_ATTRIBUTES, (uint16_t)codec);
	be32_put(b + BATCH_OFF_LENGTH, (uint32_t)(n - BATCH_LOG_OVERHEAD));
	fix_crc(b, n);
	return n;
}

int main(int argc, char **argv)
{
	static uint8_t b[1 << 20], seg[1 << 21];
	const int codecs[] = { BATCH_CODEC_NONE, BATCH_CODEC_GZIP, BATCH_CODEC_SNAPPY,
			       BATCH_CODEC_LZ4, BATCH_CODEC_ZSTD };
	const int ncodecs = (int)(sizeof(codecs) / sizeof(codecs[0]));
	char name[64];
	size_t len, sl;

	if (argc != 2) {
		fprintf(stderr, "usage: gen-corpus DIR\n");
		return 2;
	}
	out_dir = argv[1];

	/* ---- batch ---- */
	for (int c = 0; c < ncodecs; c++) {
		const char *cn = codec_name(codecs[c]);
		const int ns[] = { 1, 5, 40 }, vm[] = { 8, 60, 600 };
		for (int i = 0; i < 3; i++) {
			len = batch(b, sizeof(b), codecs[c], ns[i], vm[i], 100 * i);
			snprintf(name, sizeof(name), "valid-%s-%d", cn, ns[i]);
			put("fuzz_batch", name, b, len);
		}
		len = batch(b, sizeof(b), codecs[c], 10, 30, 7);
		b[len - 3] ^= 0x40;
		snprintf(name, sizeof(name), "flipped-%s", cn);
		put("fuzz_batch", name, b, len);
		fix_crc(b, len);
		snprintf(name, sizeof(name), "flipped-crc-fixed-%s", cn);
		put("fuzz_batch", name, b, len);
	}
	len = batch(b, sizeof(b), BATCH_CODEC_NONE, 3, 10, 0);
	b[BATCH_OFF_CRC] ^= 1;
	put("fuzz_batch", "bad-crc", b, len);
	b[BATCH_OFF_CRC] ^= 1;
	b[BATCH_OFF_MAGIC] = 1;
	put("fuzz_batch", "bad-magic", b, len);
	b[BATCH_OFF_MAGIC] = BATCH_MAGIC;
	put("fuzz_batch", "truncated", b, len - 5);
	put("fuzz_batch", "header-only", b, BATCH_HDR_SIZE);
	be32_put(b + BATCH_OFF_LENGTH, (uint32_t)len);
	put("fuzz_batch", "length-past-end", b, len);
	len = batch(b, sizeof(b), BATCH_CODEC_NONE, 3, 10, 0);
	be16_put(b + BATCH_OFF_ATTRIBUTES, BATCH_CODEC_SNAPPY);
	fix_crc(b, len);
	put("fuzz_batch", "codec-snappy", b, len);
	be16_put(b + BATCH_OFF_ATTRIBUTES, 6);
	fix_crc(b, len);
	put("fuzz_batch", "codec-6", b, len);
	len = batch(b, sizeof(b), BATCH_CODEC_NONE, 3, 10, 0);
	be32_put(b + BATCH_OFF_COUNT, 2);
	fix_crc(b, len);
	put("fuzz_batch", "count-too-small", b, len);
	be32_put(b + BATCH_OFF_COUNT, 4);
	be32_put(b + BATCH_OFF_LAST_DELTA, 5);
	fix_crc(b, len);
	put("fuzz_batch", "count-too-big", b, len);
	len = batch(b, sizeof(b), BATCH_CODEC_GZIP, 3, 10, 0);
	memcpy(b + len, b, len);
	put("fuzz_batch", "two-batches", b, 2 * len);
	/* snappy as librdkafka writes it: one raw block, no xerial framing
	 * (the 16-byte header and the block's 4-byte length taken out) */
	len = batch(b, sizeof(b), BATCH_CODEC_SNAPPY, 5, 60, 0);
	memmove(b + BATCH_HDR_SIZE, b + BATCH_HDR_SIZE + 20, len - BATCH_HDR_SIZE - 20);
	len -= 20;
	be32_put(b + BATCH_OFF_LENGTH, (uint32_t)(len - BATCH_LOG_OVERHEAD));
	fix_crc(b, len);
	put("fuzz_batch", "valid-snappy-raw", b, len);

	/* Payloads of codec framings a hostile client sends, with a CRC that
	 * matches: an lz4 frame that declares its content size (whole and
	 * cut short: a decoder must not carry the count still due into the
	 * next batch), two lz4 frames, two gzip members, a zlib stream
	 * labelled gzip, two zstd frames, a snappy xerial chunk length far
	 * past the end. */
	{
		/* one record, key "k0", value "v0" */
		static const char txt[] = "\x14\x00\x00\x00\x04k0\x04v0\x00";
		uint8_t p[512], *z = NULL;
		LZ4F_preferences_t prefs = { 0 };
		size_t pl, n;
		uLongf zl = sizeof(p);
		int64_t zn;

		prefs.frameInfo.contentSize = sizeof(txt) - 1;
		pl = LZ4F_compressFrame(p, sizeof(p), txt, sizeof(txt) - 1, &prefs);
		len = wrap(b, BATCH_CODEC_LZ4, p, pl);
		put("fuzz_batch", "lz4-content-size", b, len);
		len = wrap(b, BATCH_CODEC_LZ4, p, pl - 6);
		put("fuzz_batch", "lz4-content-size-cut", b, len);
		for (int c = BATCH_CODEC_GZIP; c <= BATCH_CODEC_ZSTD; c++) {
			if (c == BATCH_CODEC_SNAPPY)
				continue;
			zn = compress_buf(c, (const uint8_t *)txt, sizeof(txt) - 1, &z);
			n = (size_t)zn;
			memcpy(p, z, n);
			memcpy(p + n, z, n);
			free(z);
			len = wrap(b, c, p, 2 * n);
			snprintf(name, sizeof(name), "%s-twice", codec_name(c));
			put("fuzz_batch", name, b, len);
		}
		if (compress2(p, &zl, (const Bytef *)txt, sizeof(txt) - 1, 6) == Z_OK) {
			len = wrap(b, BATCH_CODEC_GZIP, p, zl);
			put("fuzz_batch", "gzip-zlib", b, len);
		}
		memcpy(p, "\x82SNAPPY\0\0\0\0\1\0\0\0\1\x7f\xff\xff\xff\x0e\x34", 22);
		len = wrap(b, BATCH_CODEC_SNAPPY, p, 22);
		put("fuzz_batch", "snappy-xerial-huge-chunk", b, len);
	}

	/* ---- client ---- */
	static const struct {
		const char *k, *v;
		int vl;
	} odd[] = {
		{ NULL, "two\nlines", -1 },
		{ "k", "a\0b\r\x7f", 5 },
		{ NULL, "\\lead", -1 },
		{ "k:1", "v", -1 },
		{ NULL, "no:key", -1 },
		{ "k", NULL, -1 },
		{ "k", "", -1 },
		{ "\\k", "C:\\new", -1 },
		{ NULL, "tab\tend \xc3\xa9", -1 },
		{ "", "v", -1 },
	};
	for (int c = 0; c < ncodecs; c++) {
		struct batch_builder bb;

		batch_builder_init(&bb, b, sizeof(b), codecs[c]);
		for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
			int32_t vl = !odd[i].v        ? -1
				     : odd[i].vl >= 0 ? odd[i].vl
						      : (int32_t)strlen(odd[i].v);
			if (batch_builder_add(&bb, odd[i].k,
					      odd[i].k ? (int32_t)strlen(odd[i].k) : -1, odd[i].v,
					      vl, 1700000000000LL + (int64_t)i) < 0)
				exit(1);
		}
		int64_t ol = batch_builder_finish(&bb, 0, -1);
		if (ol < 0)
			exit(1);
		snprintf(name, sizeof(name), "odd-%s", codec_name(codecs[c]));
		put("fuzz_client", name, b, (size_t)ol);
		len = batch(b + ol, sizeof(b) - (size_t)ol, codecs[c], 5, 60, 0);
		snprintf(name, sizeof(name), "two-batches-%s", codec_name(codecs[c]));
		put("fuzz_client", name, b, (size_t)ol + len);
	}
	len = batch(b, sizeof(b), BATCH_CODEC_NONE, 3, 10, 0);
	be16_put(b + BATCH_OFF_ATTRIBUTES, 0x10);
	fix_crc(b, len);
	put("fuzz_client", "transactional", b, len);
	memset(b, 0, 27);
	be32_put(b + 8, 15);
	put("fuzz_client", "magic-0-message-set", b, 27);

	/* ---- recovery ---- */
	put("fuzz_recovery", "empty", seg, 0);
	for (int c = 0; c < ncodecs; c++) {
		const char *cn = codec_name(codecs[c]);
		int64_t off = 0;
		sl = 0;
		for (int i = 0; i < 8; i++) {
			len = batch(seg + sl, sizeof(seg) - sl, codecs[c], 1 + i, 40, off);
			sl += len;
			off += 1 + i;
		}
		snprintf(name, sizeof(name), "segment-%s", cn);
		put("fuzz_recovery", name, seg, sl);
		snprintf(name, sizeof(name), "torn-%s", cn);
		put("fuzz_recovery", name, seg, sl - 7);
		memset(seg + sl, 0, 4096);
		snprintf(name, sizeof(name), "zeros-%s", cn);
		put("fuzz_recovery", name, seg, sl + 4096);
		seg[sl / 2] ^= 0x10;
		snprintf(name, sizeof(name), "middle-%s", cn);
		put("fuzz_recovery", name, seg, sl);
	}
	sl = batch(seg, sizeof(seg), BATCH_CODEC_NONE, 3, 10, 0);
	put("fuzz_recovery", "one-batch", seg, sl);
	sl += batch(seg + sl, sizeof(seg) - sl, BATCH_CODEC_NONE, 3, 10, 1);
	put("fuzz_recovery", "offsets-overlap", seg, sl);
	sl = batch(seg, sizeof(seg), BATCH_CODEC_LZ4, 3, 10, 5);
	sl += batch(seg + sl, sizeof(seg) - sl, BATCH_CODEC_LZ4, 3, 10, 100);
	put("fuzz_recovery", "offsets-gap", seg, sl);
	sl = batch(seg, sizeof(seg), BATCH_CODEC_NONE, 200, 2000, 0);
	put("fuzz_recovery", "big-batch", seg, sl);
	sl = 0;
	for (int i = 0; i < 4; i++) {
		len = batch(seg + sl, sizeof(seg) - sl, BATCH_CODEC_NONE, 2, 10, 2 * i);
		if (i == 1) { /* its records, named gzip: they do not decompress */
			be16_put(seg + sl + BATCH_OFF_ATTRIBUTES, BATCH_CODEC_GZIP);
			fix_crc(seg + sl, len);
		}
		sl += len;
	}
	put("fuzz_recovery", "undecodable-middle", seg, sl);
	/* A base offset (outside the CRC) damaged to near INT64_MAX: its
	 * last offset would wrap, and let the batch after it in. */
	sl = batch(seg, sizeof(seg), BATCH_CODEC_NONE, 3, 10, 0);
	sl += batch(seg + sl, sizeof(seg) - sl, BATCH_CODEC_NONE, 3, 10, INT64_MAX - 1);
	sl += batch(seg + sl, sizeof(seg) - sl, BATCH_CODEC_NONE, 3, 10, 3);
	put("fuzz_recovery", "offset-wraps", seg, sl);
	return 0;
}
