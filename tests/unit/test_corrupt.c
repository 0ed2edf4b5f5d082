/*
 * test_corrupt.c — a byte flipped in a closed segment after a clean close
 * (engine/corrupt.c and the readers that call it): the cursor returns the
 * records before the bad batch and then fails with -EBADMSG, every time, on
 * both read paths; lookups fail rather than skip; the cleaner refuses and
 * rewrites nothing; .dump marks the batch "valid: no" without its records;
 * the listener hears of the batch once and the count is 1; nothing is cut
 * at the reopen, also when a batch's records do not decode. And recovery
 * after an unclean stop: a batch whose CRC matches but whose records do
 * not decode (gzip that is not gzip, lz4 past 64 MiB, records that do not
 * add up, zstd that is not zstd) is kept with everything after it, not cut as a torn tail.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/log_int.h"
#include "tests/unit/logfx.h"

#define NREC 400

static char lines[NREC][40];
static int64_t line_pos[NREC + 1];

static struct heard {
	int calls;
	char file[512];
	int64_t pos;
	char why[1024];
} heard;

static void listener(void *arg, struct log *l, const char *file, int64_t pos, const char *why)
{
	(void)l;
	assert_ptr_equal(arg, &heard);
	heard.calls++;
	snprintf(heard.file, sizeof(heard.file), "%s", file);
	heard.pos = pos;
	snprintf(heard.why, sizeof(heard.why), "%s", why);
}

static void tune(struct log_config *cfg)
{
	cfg->segment_bytes = 2048;
	cfg->cleanup_policy = LOG_CLEANUP_COMPACT;
	cfg->retention_ms = -1;
	cfg->key_sep[0] = '=';
	cfg->key_sep_len = 1;
}

static int setup(void **state)
{
	memset(&heard, 0, sizeof(heard));
	engine_batch_read_min = 64; /* the two-thread path on small logs too */
	return logfx_setup(state, "corrupt", tune);
}

/* NREC records, one batch each, key k<o % 10> (so the cleaner has work),
 * value v<o>; then a clean close and reopen. */
static void fill(struct logfx *f)
{
	for (int o = 0; o < NREC; o++) {
		char k[16], v[16];
		int kl = snprintf(k, sizeof(k), "k%d", o % 10);
		int vl = snprintf(v, sizeof(v), "v%d", o);
		struct rec_in r = { k, kl, v, vl, fake_now };
		assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
		snprintf(lines[o], sizeof(lines[o]), "%s=%s\n", k, v);
		line_pos[o + 1] = line_pos[o] + (int64_t)strlen(lines[o]);
	}
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	logmgr_close(f->m);
	logfx_open(f);
	log_set_corrupt_listener(f->l, listener, &heard);
}

/* Flips the first byte of the value of the first batch of the segment
 * file at path (see flip). */
static void flip_value(const char *path)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	off_t at = 61 + 5 + (off_t)strlen("k0") + 1;
	char c;
	assert_int_equal(pread(fd, &c, 1, at), 1);
	assert_int_equal(c, 'v');
	c = 'w';
	assert_int_equal(pwrite(fd, &c, 1, at), 1);
	close(fd);
}

/* Flips the first byte of the value of the first batch of segment seg (its
 * value starts 61 + 6 + key length + 1 bytes in: header, then length,
 * attributes, timestampDelta, offsetDelta, keyLength one byte each, key,
 * valueLength). Returns that segment's base offset. */
static int64_t flip(struct logfx *f, int seg, char *path, size_t cap)
{
	int64_t *bases;
	int n;
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	assert_true(n > seg + 1);
	int64_t base = bases[seg];
	free(bases);
	snprintf(path, cap, "%s/t-0/%020" PRId64 ".log", f->dir, base);
	flip_value(path);
	return base;
}

/* Reads the line view from 0 in chunks of size: what it got before the
 * error into buf, and the error. */
static int read_until_error(struct log *l, size_t size, char *buf, size_t *got)
{
	struct log_cursor *c = log_cursor_new(l);
	int64_t pos = 0, actual;
	*got = 0;
	for (;;) {
		ssize_t g = log_read_lines(l, c, pos, buf + *got, size, &actual);
		if (g <= 0) {
			log_cursor_free(c);
			return (int)g;
		}
		assert_int_equal(actual, pos);
		*got += (size_t)g;
		pos += g;
	}
}

/* The mark of checked batches (corrupt.c): at the line end while every
 * batch was appended since the open; at 0 after a reopen, as nothing read
 * from disk is known good; moved by a read that starts at or below it, up
 * to what it returned, not by one above it; then followed by appends. */
static void test_checked_mark(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	static char buf[NREC * 32];
	struct log_cursor *c;
	int64_t actual;

	log_get_state(f->l, &st);
	assert_int_equal(st.line_checked, st.line_end); /* empty */
	fill(f);                                        /* appends, then a reopen */
	log_get_state(f->l, &st);
	assert_int_equal(st.line_checked, 0);
	assert_true(st.line_end > 0);

	c = log_cursor_new(f->l);
	assert_int_equal(log_read_lines(f->l, c, line_pos[10], buf, 100, &actual), 100);
	log_get_state(f->l, &st);
	assert_int_equal(st.line_checked, 0); /* above the mark */
	assert_int_equal(log_read_lines(f->l, c, 0, buf, 7, &actual), 7);
	log_get_state(f->l, &st);
	assert_int_equal(st.line_checked, 7);
	size_t rest = (size_t)(line_pos[NREC] - 7);
	assert_int_equal(log_read_lines(f->l, c, 7, buf, rest, &actual), (ssize_t)rest);
	log_get_state(f->l, &st);
	assert_int_equal(st.line_checked, st.line_end);
	log_cursor_free(c);

	struct rec_in r = { "k", 1, "new", 3, fake_now };
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.line_end, line_pos[NREC] + 6);
	assert_int_equal(st.line_checked, st.line_end);
}

/* Records appended after the open were checked as they were written:
 * only what the open found is unchecked, so reading that through (not
 * the new records) leaves nothing unchecked, and a truncation below the
 * open's end leaves the records appended after it checked too. */
static void test_checked_since_open(void **state)
{
	struct logfx *f = *state;
	struct rec_in r = { "k", 1, "new", 3, fake_now };
	static char buf[NREC * 32];
	struct log_state st;
	struct log_cursor *c;
	int64_t actual;

	fill(f); /* appends, then a reopen: nothing checked */
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.line_checked, 0);
	assert_true(log_line_unchecked(f->l, line_pos[NREC - 1]));
	assert_false(log_line_unchecked(f->l, line_pos[NREC])); /* the new one */
	c = log_cursor_new(f->l);
	assert_int_equal(log_read_lines(f->l, c, 0, buf, (size_t)line_pos[NREC], &actual),
			 line_pos[NREC]);
	log_cursor_free(c);
	log_get_state(f->l, &st);
	assert_int_equal(st.line_checked, st.line_end);

	/* Again from a reopen, truncated to half: what is appended from the
	 * cut on is checked, the half before still is not. */
	logmgr_close(f->m);
	logfx_open(f);
	assert_int_equal(log_truncate_to(f->l, NREC / 2), 0);
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	assert_true(log_line_unchecked(f->l, line_pos[NREC / 2 - 1]));
	assert_false(log_line_unchecked(f->l, line_pos[NREC / 2]));
}

/* A changed byte that leaves the records decodable with another line
 * length (a value's 'v' made a newline, which the line view escapes to
 * two bytes), in a batch the open samples against .lines: the batch is a
 * corrupt one as any other (its CRC fails), not a .lines mismatch. The
 * log opens whole, undamaged, and the reads find the batch. */
static void test_changed_line_length(void **state)
{
	struct logfx *f = *state;
	static char want[NREC * 32], buf[NREC * 32];
	struct log_state st;
	struct log_cursor *c;
	char path[600];
	int64_t actual, bad, *bases;
	size_t wlen = 0;
	off_t at = 61 + 5 + (off_t)strlen("k0") + 1;
	int fd, n;

	fill(f);
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	assert_true(n > 2);
	bad = bases[1];
	free(bases);
	snprintf(path, sizeof(path), "%s/t-0/%020" PRId64 ".log", f->dir, bad);
	assert_true((fd = open(path, O_RDWR)) >= 0);
	assert_int_equal(pwrite(fd, "\n", 1, at), 1);
	close(fd);
	logmgr_close(f->m);
	logfx_open(f);
	log_set_corrupt_listener(f->l, listener, &heard);
	log_get_state(f->l, &st);
	assert_false(st.damaged);
	assert_int_equal(st.log_end_offset, NREC);
	assert_int_equal(st.line_end, line_pos[NREC]);
	assert_null(strstr(logfx_reports, "rebuilt"));
	for (int64_t o = 0; o < bad; o++) {
		memcpy(want + wlen, lines[o], strlen(lines[o]));
		wlen += strlen(lines[o]);
	}
	c = log_cursor_new(f->l);
	assert_int_equal(log_read_lines(f->l, c, 0, buf, sizeof(buf), &actual), (ssize_t)wlen);
	assert_memory_equal(buf, want, wlen);
	assert_int_equal(log_read_lines(f->l, c, (int64_t)wlen, buf, sizeof(buf), &actual),
			 -EBADMSG);
	log_cursor_free(c);
	assert_int_equal(heard.calls, 1);
	/* Writes go on after it. */
	struct rec_in r = { "k", 1, "after", 5, fake_now };
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
}

static void test_flipped_byte(void **state)
{
	struct logfx *f = *state;
	fill(f);
	char path[600];
	int64_t bad = flip(f, 1, path, sizeof(path));
	logmgr_close(f->m);
	logfx_open(f);
	log_set_corrupt_listener(f->l, listener, &heard);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, NREC); /* nothing cut */
	assert_int_equal(st.line_hw, line_pos[NREC]);
	assert_int_equal(st.corrupt_batches, 0);
	assert_int_equal(st.line_checked, 0); /* nothing known good yet */

	static char want[NREC * 32], buf[NREC * 32];
	size_t wlen = 0, got;
	for (int o = 0; o < bad; o++) {
		memcpy(want + wlen, lines[o], strlen(lines[o]));
		wlen += strlen(lines[o]);
	}
	/* Small reads (record by record) and big ones (whole batches on two
	 * threads), twice each: the records before, then EBADMSG. */
	const size_t sizes[] = { 7, 100, 1 << 16, 7, 1 << 16 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(read_until_error(f->l, sizes[i], buf, &got), -EBADMSG);
		assert_int_equal(got, wlen);
		assert_memory_equal(buf, want, wlen);
	}
	/* The reads checked everything before it, and the mark stops there. */
	log_get_state(f->l, &st);
	assert_int_equal(st.line_checked, line_pos[bad]);
	/* The records after it are readable from their own positions. */
	struct log_cursor *c = log_cursor_new(f->l);
	int64_t actual;
	ssize_t g = log_read_lines(f->l, c, line_pos[bad + 1], buf, sizeof(buf), &actual);
	assert_int_equal(g, line_pos[NREC] - line_pos[bad + 1]);
	assert_memory_equal(buf, lines[bad + 1], strlen(lines[bad + 1]));
	log_cursor_free(c);
	/* A read above the mark does not move it: the bad batch is between. */
	log_get_state(f->l, &st);
	assert_int_equal(st.line_checked, line_pos[bad]);

	/* Lookups fail instead of answering with a later record. */
	int64_t v;
	assert_int_equal(log_pos_to_offset(f->l, line_pos[bad], &v), -EBADMSG);
	assert_int_equal(log_offset_to_pos(f->l, bad, &v), -EBADMSG);
	/* Where the reads above stopped, the end of what a reader was given
	 * (a group's commit): the bad batch's base offset, from its .lines
	 * entry. Inside the batch, no record can be told: still -EBADMSG. */
	v = -1;
	assert_int_equal(log_pos_to_offset_bound(f->l, line_pos[bad], &v), 0);
	assert_int_equal(v, bad);
	assert_int_equal(log_pos_to_offset_bound(f->l, line_pos[bad] + 1, &v), -EBADMSG);
	assert_int_equal(log_pos_to_offset_bound(f->l, line_pos[bad - 1], &v), 0);
	assert_int_equal(v, bad - 1);

	/* The cleaner refuses and rewrites nothing. */
	int64_t *b0, *b1;
	int n0, n1;
	assert_int_equal(log_segments(f->l, &b0, &n0), 0);
	struct log_clean_stats cs;
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, &cs), -EBADMSG);
	assert_int_equal(cs.segments_rewritten, 0);
	assert_int_equal(log_segments(f->l, &b1, &n1), 0);
	assert_int_equal(n1, n0);
	assert_memory_equal(b1, b0, (size_t)n0 * sizeof(*b0));
	free(b0);
	free(b1);
	assert_int_equal(read_until_error(f->l, 1 << 16, buf, &got), -EBADMSG);
	assert_int_equal(got, wlen);
	assert_memory_equal(buf, want, wlen);

	/* .dump: "valid: no", and the record is not printed. */
	static char dump[1 << 16];
	int64_t cur = 0;
	ssize_t dn = log_segment_render(f->l, bad, SEG_DUMP, &cur, dump, sizeof(dump) - 1);
	assert_true(dn > 0);
	dump[dn] = '\0';
	char head[64];
	snprintf(head, sizeof(head), "baseOffset: %" PRId64 " ", bad);
	char *line = strstr(dump, head);
	assert_non_null(line);
	char *eol = strchr(line, '\n');
	assert_non_null(eol);
	assert_true(eol - line > 10 && strncmp(eol - 10, " valid: no", 10) == 0);
	assert_false(eol[1] == '|');
	char rec[64];
	snprintf(rec, sizeof(rec), "| offset: %" PRId64 " ", bad + 1);
	assert_non_null(strstr(dump, rec));

	/* Heard of once, with the file, the position and the reason. */
	assert_int_equal(heard.calls, 1);
	assert_string_equal(heard.file, path);
	assert_int_equal(heard.pos, 0);
	assert_non_null(strstr(heard.why, "CRC-32C mismatch"));
	log_get_state(f->l, &st);
	assert_int_equal(st.corrupt_batches, 1);
}

static void unclean(struct logfx *f);

/* A byte changed in the active segment, whose batches were all fsynced
 * (a clean stop: the recovery point is the log end), then an unclean
 * stop: the last segment is rescanned, and the bad batch is damage, not a
 * torn tail. Nothing is cut: the records after it stay on disk. */
static void test_unclean_keeps_fsynced_active(void **state)
{
	struct logfx *f = *state;
	fill(f);
	int64_t *bases;
	int n;
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	assert_true(n >= 2);
	int64_t base = bases[n - 1];
	free(bases);
	char path[600];
	snprintf(path, sizeof(path), "%s/t-0/%020" PRId64 ".log", f->dir, base);
	struct stat st0, st1;
	assert_int_equal(stat(path, &st0), 0);
	flip_value(path);
	unclean(f);
	logfx_open(f);
	struct log_state ls;
	log_get_state(f->l, &ls);
	assert_true(ls.damaged);
	assert_int_equal(ls.log_end_offset, base); /* served up to the bad batch */
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st1.st_size, st0.st_size); /* nothing cut */
}

/* Many bad batches in one segment: each counted and heard of once, up to
 * the segment's slots, and the last one heard says the rest are not. */
static void test_many_bad_batches(void **state)
{
	struct logfx *f = *state;
	fill(f);
	int64_t *bases;
	int n;
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	int64_t base = bases[0], end = bases[1];
	free(bases);
	char path[600];
	snprintf(path, sizeof(path), "%s/t-0/%020" PRId64 ".log", f->dir, base);
	logmgr_close(f->m);
	/* Every batch of the first segment: flip its last byte (in the value). */
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	off_t at = 0;
	for (int64_t o = base; o < end; o++) {
		uint8_t h[12];
		assert_int_equal(pread(fd, h, 12, at), 12);
		off_t total = (off_t)be32_get(h + 8) + 12;
		uint8_t c;
		assert_int_equal(pread(fd, &c, 1, at + total - 2), 1);
		c ^= 1;
		assert_int_equal(pwrite(fd, &c, 1, at + total - 2), 1);
		at += total;
	}
	close(fd);
	logfx_open(f);
	log_set_corrupt_listener(f->l, listener, &heard);
	assert_true(end - base > SEG_BAD_SLOTS);
	static char dump[1 << 17];
	for (int round = 0; round < 2; round++) {
		int64_t cur = 0;
		ssize_t dn;
		while ((dn = log_segment_render(f->l, base, SEG_DUMP, &cur, dump, sizeof(dump))) >
		       0)
			;
		assert_int_equal(dn, 0);
	}
	assert_int_equal(heard.calls, SEG_BAD_SLOTS);
	assert_non_null(strstr(heard.why, "not reported"));
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.corrupt_batches, SEG_BAD_SLOTS);
}

/* A batch of a closed segment whose records do not decode (its record
 * count changed), not the segment's last: the clean reopen keeps the log
 * whole and writable (the appender's index state, rebuilt from the batches
 * after the last .index entry, stops at it); the readers report it. */
static void test_undecodable_batch_kept(void **state)
{
	struct logfx *f = *state;
	fill(f);
	int64_t *bases;
	int n;
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	assert_true(n > 1 && bases[1] - bases[0] > 2);
	char path[600];
	snprintf(path, sizeof(path), "%s/t-0/%020" PRId64 ".log", f->dir, bases[0]);
	free(bases);
	logmgr_close(f->m);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t h[61];
	assert_int_equal(pread(fd, h, 12, 0), 12);
	off_t second = (off_t)be32_get(h + 8) + 12;
	assert_int_equal(pread(fd, h, 61, second), 61);
	be32_put(h + 57, be32_get(h + 57) + 1); /* recordsCount */
	assert_int_equal(pwrite(fd, h, 61, second), 61);
	close(fd);
	logfx_open(f);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, NREC);
	assert_null(strstr(logfx_reports, "damaged"));
	struct rec_in r = { "k1", 2, "after", 5, fake_now };
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	char buf[1 << 14];
	size_t got;
	assert_int_equal(read_until_error(f->l, 64, buf, &got), -EBADMSG);
	assert_int_equal(got, (size_t)line_pos[1]);
}

/* ---- a batch recovery cannot decode ----
 *
 * A batch whose framing and CRC-32C hold but whose records cannot be
 * decoded is not a torn tail: recovery after an unclean stop keeps it and
 * every batch after it, the readers fail at it (EBADMSG) and read what
 * follows from its own
 * positions, the log says so, and the sidecars it rebuilds are the ones
 * the next open (clean or not) agrees with. A torn tail after it is still
 * cut. */

enum bad_kind {
	BAD_GZIP,    /* codec gzip, the payload not a gzip stream */
	BAD_LZ4_BIG, /* an lz4 payload that decompresses past 64 MiB */
	BAD_RECORDS, /* codec none, a record's length wrong */
	BAD_ZSTD,    /* codec zstd, the payload not a zstd frame */
};

static void tune_recover(struct log_config *cfg)
{
	cfg->retention_ms = -1;
	cfg->index_interval_bytes = 100; /* index entries around the bad batch */
	cfg->key_sep[0] = '=';
	cfg->key_sep_len = 1;
}

static int setup_recover(void **state)
{
	memset(&heard, 0, sizeof(heard));
	engine_batch_read_min = 64;
	return logfx_setup(state, "corruptrec", tune_recover);
}

/* Record o as fill() writes it: key k<o % 10>, value v<o>. */
static void rec_kv(int64_t o, char *k, int *kl, char *v, int *vl)
{
	*kl = snprintf(k, 16, "k%d", (int)(o % 10));
	*vl = snprintf(v, 16, "v%d", (int)o);
}

/* A batch of records from..from+n-1 (rec_kv) at buf, with codec none. */
static size_t make_batch(uint8_t *buf, size_t cap, int64_t from, int n, int32_t epoch)
{
	struct batch_builder bb;
	batch_builder_init(&bb, buf, cap, BATCH_CODEC_NONE);
	for (int i = 0; i < n; i++) {
		char k[16], v[16];
		int kl, vl;
		rec_kv(from + i, k, &kl, v, &vl);
		assert_int_equal(batch_builder_add(&bb, k, kl, v, vl, fake_now), 0);
	}
	int64_t len = batch_builder_finish(&bb, from, epoch);
	assert_true(len > 0);
	return (size_t)len;
}

/* The CRC-32C of the batch of len bytes at b, computed again. */
static void recrc(uint8_t *b, size_t len)
{
	be32_put(b + BATCH_OFF_CRC,
		 crc32c(0, b + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
}

/* The bad batch of kind at offset from into *out (malloc'ed), with a
 * matching CRC; its size, and in *n its records. */
static size_t make_bad(enum bad_kind kind, int64_t from, int32_t epoch, uint8_t **out, int *n)
{
	size_t cap = kind == BAD_LZ4_BIG ? COMPRESS_MAX_OUT + (1 << 20) : 4096, len;
	uint8_t *b = malloc(cap);
	assert_non_null(b);
	if (kind == BAD_LZ4_BIG) {
		/* One record of a 64 MiB value: the builder leaves it uncompressed
		 * (no reader could take it), so it is compressed here. */
		struct batch_builder bb;
		char *v = malloc(COMPRESS_MAX_OUT);
		assert_non_null(v);
		memset(v, 'x', COMPRESS_MAX_OUT);
		batch_builder_init(&bb, b, cap, BATCH_CODEC_NONE);
		assert_int_equal(batch_builder_add(&bb, "k0", 2, v, COMPRESS_MAX_OUT, fake_now), 0);
		free(v);
		assert_true(batch_builder_finish(&bb, from, epoch) > 0);
		uint8_t *z = NULL;
		int64_t zlen = compress_buf(BATCH_CODEC_LZ4, b + BATCH_HDR_SIZE,
					    bb.len - BATCH_HDR_SIZE, &z);
		assert_true(zlen > 0 && zlen < (1 << 20));
		memcpy(b + BATCH_HDR_SIZE, z, (size_t)zlen);
		free(z);
		len = BATCH_HDR_SIZE + (size_t)zlen;
		be32_put(b + BATCH_OFF_LENGTH, (uint32_t)(len - BATCH_LOG_OVERHEAD));
		be16_put(b + BATCH_OFF_ATTRIBUTES, BATCH_CODEC_LZ4);
		*n = 1;
	} else {
		*n = 3;
		len = make_batch(b, cap, from, *n, epoch);
		if (kind == BAD_GZIP)
			be16_put(b + BATCH_OFF_ATTRIBUTES, BATCH_CODEC_GZIP);
		else if (kind == BAD_ZSTD)
			be16_put(b + BATCH_OFF_ATTRIBUTES, BATCH_CODEC_ZSTD);
		else
			b[BATCH_HDR_SIZE] += 2; /* the first record's length, one more */
	}
	recrc(b, len);
	*out = b;
	return len;
}

static void read_expect(struct log *l, int64_t pos, const char *want, size_t wlen)
{
	static char buf[1 << 14];
	struct log_cursor *c = log_cursor_new(l);
	int64_t actual;
	size_t got = 0;
	ssize_t g;
	while ((g = log_read_lines(l, c, pos + (int64_t)got, buf + got, 7, &actual)) > 0)
		got += (size_t)g;
	assert_int_equal(g, 0);
	assert_int_equal(got, wlen);
	assert_memory_equal(buf, want, wlen);
	log_cursor_free(c);
}

/* The three sidecars of the segment whose .log is at path, read whole. */
static char *sidecars(const char *path, size_t *len)
{
	static const char *ext[] = { "lines", "index", "timeindex" };
	char *all = NULL;
	*len = 0;
	for (int k = 0; k < 3; k++) {
		char p[700];
		snprintf(p, sizeof(p), "%.*s%s", (int)strlen(path) - 3, path, ext[k]);
		FILE *fp = fopen(p, "rb");
		assert_non_null(fp);
		char b[4096];
		size_t n;
		while ((n = fread(b, 1, sizeof(b), fp)) > 0) {
			all = realloc(all, *len + n);
			memcpy(all + *len, b, n);
			*len += n;
		}
		fclose(fp);
	}
	return all;
}

static void unclean(struct logfx *f)
{
	char p[400];
	logmgr_close(f->m);
	f->m = NULL;
	snprintf(p, sizeof(p), "%s/.clean-shutdown", f->dir);
	assert_int_equal(unlink(p), 0);
}

#define BEFORE 20 /* records before the bad batch */

/* What write_bad_log wrote. */
struct bad_log {
	char path[600];      /* the segment's .log */
	int64_t bad_pos;     /* the bad batch's position there */
	int nbad;            /* its records, from offset BEFORE */
	int64_t first_after; /* the offset after them */
	int64_t leo;         /* the log end without the torn bytes */
	int64_t good_end;    /* the .log's size without them */
	char want[1 << 12];  /* the lines of the records after the bad batch */
	size_t wlen;
};

/* BEFORE records through the engine and a clean stop; then, as if written
 * since the last fsync, the bad batch, after good batches (one record
 * each) and, with torn, the first bytes of one more; and the marker of
 * the clean stop gone. */
static void write_bad_log(struct logfx *f, enum bad_kind kind, int after, bool torn,
			  struct bad_log *b)
{
	for (int o = 0; o < BEFORE; o++) {
		char k[16], v[16];
		int kl, vl;
		rec_kv(o, k, &kl, v, &vl);
		struct rec_in r = { k, kl, v, vl, fake_now };
		assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
		snprintf(lines[o], sizeof(lines[o]), "%s=%s\n", k, v);
		line_pos[o + 1] = line_pos[o] + (int64_t)strlen(lines[o]);
	}
	assert_int_equal(log_set_hw(f->l, BEFORE), 0);
	logmgr_close(f->m);
	f->m = NULL;

	snprintf(b->path, sizeof(b->path), "%s/t-0/%020d.log", f->dir, 0);
	int fd = open(b->path, O_RDWR | O_APPEND);
	assert_true(fd >= 0);
	uint8_t h[16];
	assert_int_equal(pread(fd, h, 16, 0), 16);
	int32_t epoch = (int32_t)be32_get(h + BATCH_OFF_LEADER_EPOCH);
	b->bad_pos = lseek(fd, 0, SEEK_END);
	uint8_t *bad;
	size_t bad_len = make_bad(kind, BEFORE, epoch, &bad, &b->nbad);
	assert_int_equal(write(fd, bad, bad_len), (ssize_t)bad_len);
	free(bad);
	b->first_after = BEFORE + b->nbad;
	b->leo = b->first_after + after;
	b->wlen = 0;
	for (int64_t o = b->first_after; o <= b->leo; o++) {
		uint8_t batch[256];
		size_t len = make_batch(batch, sizeof(batch), o, 1, epoch);
		if (o == b->leo) {
			if (torn)
				assert_int_equal(write(fd, batch, 40), 40);
			break;
		}
		assert_int_equal(write(fd, batch, len), (ssize_t)len);
		char k[16], v[16];
		int kl, vl;
		rec_kv(o, k, &kl, v, &vl);
		b->wlen += (size_t)snprintf(b->want + b->wlen, sizeof(b->want) - b->wlen, "%s=%s\n",
					    k, v);
	}
	b->good_end = lseek(fd, 0, SEEK_END) - (torn ? 40 : 0);
	close(fd);
	char marker[700];
	snprintf(marker, sizeof(marker), "%s/.clean-shutdown", f->dir);
	assert_int_equal(unlink(marker), 0);
}

/* write_bad_log, then the start after the unclean stop and all there is to
 * see of it. */
static void recover_undecodable(struct logfx *f, enum bad_kind kind, int after, bool torn)
{
	const int before = BEFORE;
	const int err = -EBADMSG;
	static struct bad_log b;
	write_bad_log(f, kind, after, torn, &b);
	const char *path = b.path;
	const int64_t first_after = b.first_after, leo = b.leo, nbad = b.nbad;
	const off_t bad_pos = (off_t)b.bad_pos, good_end = (off_t)b.good_end;
	char *want = b.want;
	size_t wlen = b.wlen;

	logfx_reports[0] = '\0';
	logfx_open(f);
	log_set_corrupt_listener(f->l, listener, &heard);

	/* Nothing of it cut but the torn bytes, the log not damaged. */
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, leo);
	assert_false(st.damaged);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, good_end);
	assert_null(strstr(logfx_reports, "damaged"));
	char said[700];
	snprintf(said, sizeof(said), "%s: batch at position %lld (offsets %lld..%lld)", path,
		 (long long)bad_pos, (long long)before, (long long)first_after - 1);
	assert_non_null(strstr(logfx_reports, said));
	assert_non_null(strstr(logfx_reports, "kept"));
	if (torn) {
		snprintf(said, sizeof(said), "invalid bytes at position %lld cut",
			 (long long)good_end);
		assert_non_null(strstr(logfx_reports, said));
	} else {
		assert_null(strstr(logfx_reports, "torn tail after"));
	}

	/* Its records take one byte of the line view each, and fail there;
	 * the records after it are read from their own positions. */
	assert_int_equal(log_set_hw(f->l, leo), 0);
	int64_t p_after = line_pos[before] + nbad, v;
	log_get_state(f->l, &st);
	assert_int_equal(st.line_hw, p_after + (int64_t)wlen);
	for (int64_t o = before; o < first_after; o++)
		assert_int_equal(log_offset_to_pos(f->l, o, &v), err);
	for (int64_t p = line_pos[before]; p < p_after; p++)
		assert_int_equal(log_pos_to_offset(f->l, p, &v), err);
	/* Where a reader stops, its first byte: the batch's base offset. */
	assert_int_equal(log_pos_to_offset_bound(f->l, line_pos[before], &v), 0);
	assert_int_equal(v, before);
	for (int64_t p = line_pos[before] + 1; p < p_after; p++)
		assert_int_equal(log_pos_to_offset_bound(f->l, p, &v), err);
	if (after > 0) {
		assert_int_equal(log_offset_to_pos(f->l, first_after, &v), 0);
		assert_int_equal(v, p_after);
		assert_int_equal(log_pos_to_offset(f->l, p_after, &v), 0);
		assert_int_equal(v, first_after);
	}
	read_expect(f->l, p_after, want, wlen);
	static char buf[1 << 14];
	size_t got;
	const size_t sizes[] = { 7, 1 << 14 };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(read_until_error(f->l, sizes[i], buf, &got), err);
		assert_int_equal(got, (size_t)line_pos[before]);
		for (int o = 0, at = 0; o < before; at += (int)strlen(lines[o]), o++)
			assert_memory_equal(buf + at, lines[o], strlen(lines[o]));
	}
	assert_int_equal(heard.calls, 1);
	assert_string_equal(heard.file, path);
	assert_int_equal(heard.pos, bad_pos);

	/* The sidecars recovery wrote are what a clean open agrees with, and
	 * what a second recovery writes again, byte for byte. */
	logmgr_close(f->m);
	f->m = NULL;
	size_t slen, slen2;
	char *side = sidecars(path, &slen);
	logfx_reports[0] = '\0';
	logfx_open(f);
	assert_null(strstr(logfx_reports, "rebuilt"));
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, leo);
	assert_int_equal(st.line_end, p_after + (int64_t)wlen);
	unclean(f);
	logfx_open(f);
	char *side2 = sidecars(path, &slen2);
	assert_int_equal(slen2, slen);
	assert_memory_equal(side2, side, slen);
	free(side);
	free(side2);

	/* The log takes appends after it, and a kill -9 moves no position. */
	char k[16], vv[16];
	int kl, vl;
	rec_kv(leo, k, &kl, vv, &vl);
	struct rec_in r = { k, kl, vv, vl, fake_now };
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	assert_int_equal(log_set_hw(f->l, leo + 1), 0);
	wlen += (size_t)snprintf(want + wlen, sizeof(b.want) - wlen, "%s=%s\n", k, vv);
	read_expect(f->l, p_after, want, wlen);
	logmgr_abandon(f->m);
	f->m = NULL;
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, leo + 1);
	assert_false(st.damaged);
	assert_int_equal(log_set_hw(f->l, leo + 1), 0);
	read_expect(f->l, p_after, want, wlen);
}

static void test_recover_keeps_gzip_garbage(void **state)
{
	recover_undecodable(*state, BAD_GZIP, 10, true);
}

static void test_recover_keeps_lz4_past_limit(void **state)
{
	recover_undecodable(*state, BAD_LZ4_BIG, 10, false);
}

static void test_recover_keeps_bad_records(void **state)
{
	recover_undecodable(*state, BAD_RECORDS, 10, true);
}

static void test_recover_keeps_zstd(void **state)
{
	recover_undecodable(*state, BAD_ZSTD, 10, false);
}

/* The .lines entries of the batches after an undecodable one, kept from
 * before the stop, may place them further than a byte per record (the
 * lines the batch had when it was written): recovery keeps them there,
 * and a clean open agrees. */
static void test_recover_keeps_written_positions(void **state)
{
	struct logfx *f = *state;
	static struct bad_log b;
	write_bad_log(f, BAD_GZIP, 10, false, &b);
	logfx_open(f);
	logmgr_close(f->m);
	f->m = NULL;
	char lp[700];
	snprintf(lp, sizeof(lp), "%.*slines", (int)strlen(b.path) - 3, b.path);
	int fd = open(lp, O_RDWR);
	assert_true(fd >= 0);
	off_t size = lseek(fd, 0, SEEK_END);
	int moved = 0;
	for (off_t at = 16; at < size; at += 16) {
		uint8_t e[16];
		assert_int_equal(pread(fd, e, 16, at), 16);
		if (be32_get(e) < b.first_after)
			continue;
		be64_put(e + 8, be64_get(e + 8) + 5);
		assert_int_equal(pwrite(fd, e, 16, at), 16);
		moved++;
	}
	close(fd);
	assert_int_equal(moved, 10);
	char marker[700];
	snprintf(marker, sizeof(marker), "%s/.clean-shutdown", f->dir);
	assert_int_equal(unlink(marker), 0);
	int64_t p = line_pos[BEFORE] + b.nbad + 5, v;
	for (int clean = 0; clean < 2; clean++) {
		logfx_reports[0] = '\0';
		logfx_open(f);
		assert_null(strstr(logfx_reports, "rebuilt"));
		assert_int_equal(log_set_hw(f->l, b.leo), 0);
		assert_int_equal(log_offset_to_pos(f->l, b.first_after, &v), 0);
		assert_int_equal(v, p);
		read_expect(f->l, p, b.want, b.wlen);
		logmgr_close(f->m);
		f->m = NULL;
	}
}

/* The segment's last batch: kept, and a clean open then takes the
 * segment as it is (its line end counts the batch's byte per record). */
static void test_recover_keeps_last_batch(void **state)
{
	recover_undecodable(*state, BAD_GZIP, 0, true);
}

/* ---- a .lines entry moved by a few bytes ----
 *
 * An entry whose line position changed on disk, still increasing, in a
 * segment of many batches, where the open samples one batch in about 64
 * (seg_check_lines) and does not meet it: the first read through it finds
 * that a batch's lines do not fit before the next entry's line position
 * (moved up: its own batch; moved down: the batch before), and treats
 * that batch as a bad one. In a log never compacted and in a compacted
 * one (gaps between batches: the check is ">=", not "=="). */

#define NMOVE 1200

static char mv_lines[NMOVE][40];

static void tune_moved(struct log_config *cfg)
{
	cfg->segment_bytes = 40000; /* about 500 batches a segment */
	cfg->retention_ms = -1;
	cfg->key_sep[0] = '=';
	cfg->key_sep_len = 1;
}

static void tune_moved_compact(struct log_config *cfg)
{
	tune_moved(cfg);
	cfg->cleanup_policy = LOG_CLEANUP_COMPACT;
}

static int setup_moved(void **state)
{
	memset(&heard, 0, sizeof(heard));
	engine_batch_read_min = 64;
	return logfx_setup(state, "moved", tune_moved);
}

static int setup_moved_compact(void **state)
{
	memset(&heard, 0, sizeof(heard));
	engine_batch_read_min = 64;
	return logfx_setup(state, "movedc", tune_moved_compact);
}

/* NMOVE records, a batch each: every tenth of key "d" (compaction keeps
 * the last), the others of keys of their own; committed; with compact, the
 * log cleaned; then a clean close and reopen. */
static void fill_moved(struct logfx *f, bool compact)
{
	for (int o = 0; o < NMOVE; o++) {
		char k[16], v[16];
		int kl = o % 10 == 0 ? snprintf(k, sizeof(k), "d")
				     : snprintf(k, sizeof(k), "k%d", o);
		int vl = snprintf(v, sizeof(v), "v%d", o);
		struct rec_in r = { k, kl, v, vl, fake_now };
		assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
		snprintf(mv_lines[o], sizeof(mv_lines[o]), "%s=%s\n", k, v);
	}
	assert_int_equal(log_set_hw(f->l, NMOVE), 0);
	logmgr_close(f->m);
	logfx_open(f);
	if (compact) {
		struct log_clean_stats cs;
		assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, &cs), 1);
		assert_true(cs.segments_rewritten > 0);
		logmgr_close(f->m);
		logfx_open(f);
	}
	log_set_corrupt_listener(f->l, listener, &heard);
}

/* The line view as reads in chunks of size from pos see it: each byte at
 * its position in img (line_end bytes), have[p] set where one came; the
 * position after the last byte read in *end. The read's error, or 0. */
static int read_image(struct log *l, int64_t pos, size_t size, char *img, char *have, int64_t *end)
{
	static char buf[1 << 16];
	struct log_cursor *c = log_cursor_new(l);
	int64_t actual;
	ssize_t g;

	*end = pos;
	while ((g = log_read_lines(l, c, pos, buf, size, &actual)) > 0) {
		memcpy(img + actual, buf, (size_t)g);
		memset(have + actual, 1, (size_t)g);
		pos = actual + g;
		*end = pos;
	}
	log_cursor_free(c);
	return (int)g;
}

/* Line bytes of the batch of entry e of s (one record a batch). */
static int64_t ent_bytes(struct seg *s, const struct lines_ent *e)
{
	return (int64_t)strlen(mv_lines[s->base_offset + e->rel_offset]);
}

/* An entry k of the first segment whose batch and the one before it are
 * both not sampled at open (seg_check_lines decodes batch j against the
 * next entry when j % step == 0, and the segment's last two), with no gap
 * before or after its batch (compaction's gaps would give a moved entry
 * room to move into unseen); its entries k-1..k+1 into e. */
static int64_t pick_unsampled(struct seg *s, struct lines_ent *e)
{
	int64_t n = atomic_load(&s->lines_entries), step = n / 64 > 1 ? n / 64 : 1;
	assert_true(step >= 3);
	for (int64_t k = n / 2; k < n - 2; k++) {
		if ((k - 1) % step == 0 || k % step == 0)
			continue;
		assert_int_equal(seg_read_lines_ents(s, k - 1, 3, e), 3);
		if (e[1].line_pos == e[0].line_pos + ent_bytes(s, &e[0]) &&
		    e[2].line_pos == e[1].line_pos + ent_bytes(s, &e[1]))
			return k;
	}
	fail();
	return -1;
}

/* The line position of .lines entry k of the segment at base moved by d
 * (mqfs stopped). */
static void move_entry(struct logfx *f, int64_t base, int64_t k, int d)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/t-0/%020" PRId64 ".lines", f->dir, base);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b[8];
	off_t at = LINES_HDR_SIZE + k * LINES_ENT_SIZE + 8;
	assert_int_equal(pread(fd, b, 8, at), 8);
	be64_put(b, be64_get(b) + (uint64_t)(int64_t)d);
	assert_int_equal(pwrite(fd, b, 8, at), 8);
	close(fd);
}

static void moved_entry(struct logfx *f, bool compact, int d)
{
	fill_moved(f, compact);
	struct seg *s0 = f->l->segs[0];
	int64_t base = s0->base_offset;
	struct lines_ent e[3];
	int64_t k = pick_unsampled(s0, e);
	struct log_state st;
	log_get_state(f->l, &st);
	int64_t line_end = st.line_end;
	static char truth[NMOVE * 40], have0[NMOVE * 40], img[NMOVE * 40], have[NMOVE * 40];
	int64_t end;
	memset(have0, 0, sizeof(have0));
	assert_int_equal(read_image(f->l, 0, 1 << 16, truth, have0, &end), 0);
	assert_int_equal(end, line_end);

	logmgr_close(f->m);
	move_entry(f, base, k, d);
	logfx_reports[0] = '\0';
	logfx_open(f);
	s0 = f->l->segs[0]; /* the closed log's segments are gone */
	log_set_corrupt_listener(f->l, listener, &heard);
	assert_null(strstr(logfx_reports, ".lines")); /* the open did not see it */
	log_get_state(f->l, &st);
	assert_int_equal(st.line_end, line_end);
	assert_int_equal(st.line_checked, 0);

	/* Moved up: batch k has d bytes too few; down: batch k - 1 does. */
	const struct lines_ent *bad = d > 0 ? &e[1] : &e[0];
	int64_t bad_line = bad->line_pos; /* as it was written */
	int64_t bad_said = bad == &e[1] ? bad_line + d : bad_line;
	const size_t sizes[] = { 7, 1 << 16, 7 };
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		memset(have, 0, sizeof(have));
		assert_int_equal(read_image(f->l, 0, sizes[i], img, have, &end), -EBADMSG);
		assert_true(end <= bad_line); /* a gap may come before it */
		assert_memory_equal(have, have0, (size_t)bad_line);
		for (int64_t p = 0; p < bad_line; p++)
			if (have[p])
				assert_int_equal(img[p], truth[p]);
	}
	/* A read that starts in it, where its entry now says it starts or
	 * where it was written, fails there too. */
	struct log_cursor *c = log_cursor_new(f->l);
	char buf[64];
	int64_t actual;
	assert_int_equal(log_read_lines(f->l, c, bad_said, buf, sizeof(buf), &actual), -EBADMSG);
	log_cursor_free(c);
	c = log_cursor_new(f->l);
	assert_int_equal(log_read_lines(f->l, c, bad_line, buf, sizeof(buf), &actual), -EBADMSG);
	log_cursor_free(c);
	if (d > 0) {
		/* The records after it, from their own positions. */
		memset(have, 0, sizeof(have));
		assert_int_equal(read_image(f->l, e[2].line_pos, 1 << 16, img, have, &end), 0);
		assert_int_equal(end, line_end);
		for (int64_t p = e[2].line_pos; p < line_end; p++)
			assert_true(have[p] == have0[p] && (!have[p] || img[p] == truth[p]));
	}

	/* Heard of once, naming the batch (file, position, offset) and the
	 * line bytes found; counted; the mark stays below it, so the files
	 * are never read through the page cache. */
	assert_int_equal(heard.calls, 1);
	char want[700];
	snprintf(want, sizeof(want), "%s/t-0/%020" PRId64 ".log", f->dir, base);
	assert_string_equal(heard.file, want);
	assert_int_equal(heard.pos, bad->position);
	snprintf(want, sizeof(want),
		 "its records (from offset %" PRId64 ") take %" PRId64
		 " bytes of lines from line position %" PRId64 " (its .lines entry), past %" PRId64,
		 base + bad->rel_offset, ent_bytes(s0, bad), bad_said,
		 bad == &e[1] ? e[2].line_pos : e[1].line_pos + d);
	assert_non_null(strstr(heard.why, want));
	assert_non_null(strstr(heard.why, ".lines is damaged"));
	log_get_state(f->l, &st);
	assert_int_equal(st.corrupt_batches, 1);
	assert_true(st.line_checked <= bad_line);
}

static void test_moved_entry_up(void **state)
{
	moved_entry(*state, false, 3);
}

static void test_moved_entry_down(void **state)
{
	moved_entry(*state, false, -3);
}

/* The first read after the open goes straight to a position (dd skip=)
 * at, or inside, the batch of an entry moved down: the seek takes that
 * entry for the batch holding the position, so the batch before it,
 * unchecked, is measured first. EBADMSG there, never the moved bytes;
 * the records after the batch read from their own positions. */
static void moved_entry_seek(struct logfx *f, int which)
{
	static char buf[4096];
	struct lines_ent e[3];
	int64_t actual, at;

	fill_moved(f, false);
	struct seg *s0 = f->l->segs[0];
	int64_t base = s0->base_offset, k = pick_unsampled(s0, e);
	logmgr_close(f->m);
	move_entry(f, base, k, -3);
	logfx_open(f);
	log_set_corrupt_listener(f->l, listener, &heard);
	/* The moved position, or inside the batch. */
	at = which == 0 ? e[1].line_pos - 3 : e[1].line_pos + 2;
	struct log_cursor *c = log_cursor_new(f->l);
	assert_int_equal(log_read_lines(f->l, c, at, buf, sizeof(buf), &actual), -EBADMSG);
	assert_int_equal(log_read_lines(f->l, c, at, buf, sizeof(buf), &actual), -EBADMSG);
	const char *after = mv_lines[base + e[2].rel_offset];
	assert_int_equal(log_read_lines(f->l, c, e[2].line_pos, buf, strlen(after), &actual),
			 (ssize_t)strlen(after));
	assert_memory_equal(buf, after, strlen(after));
	log_cursor_free(c);
	assert_int_equal(heard.calls, 1);
}

static void test_moved_entry_down_seek(void **state)
{
	moved_entry_seek(*state, 0);
}

static void test_moved_entry_down_seek_inside(void **state)
{
	moved_entry_seek(*state, 1);
}

static void test_moved_entry_up_compacted(void **state)
{
	moved_entry(*state, true, 3);
}

static void test_moved_entry_down_compacted(void **state)
{
	moved_entry(*state, true, -3);
}

/* A moved entry the open's sample does meet, in a compacted segment (whose
 * gaps a rescan cannot see, so recovery keeps the old positions that
 * match): only that entry is placed again, where it was written, and every
 * other keeps its position. */
static void moved_entry_rebuilt(struct logfx *f, int d)
{
	fill_moved(f, true);
	struct seg *s0 = f->l->segs[0];
	int64_t base = s0->base_offset;
	int64_t n = atomic_load(&s0->lines_entries), step = n / 64 > 1 ? n / 64 : 1;
	/* The sampled batch is the one left short of room: k's own when it
	 * moves up, the one before when it moves down; no gap after k's batch
	 * in the first case, none between the two batches before k and k in
	 * the second (with one there, the entry could have been written so). */
	int64_t k = (n / 2 / step) * step + (d > 0 ? 0 : 1);
	struct lines_ent e[4];
	for (;; k += step) {
		assert_true(k + 2 < n);
		assert_int_equal(seg_read_lines_ents(s0, k - 2, 4, e), 4);
		bool gap[3];
		for (int i = 0; i < 3; i++)
			gap[i] = e[i + 1].line_pos != e[i].line_pos + ent_bytes(s0, &e[i]);
		if (d > 0 ? !gap[2] : !gap[0] && !gap[1])
			break;
	}
	static char truth[NMOVE * 40], have0[NMOVE * 40], img[NMOVE * 40], have[NMOVE * 40];
	int64_t end, line_end;
	memset(have0, 0, sizeof(have0));
	assert_int_equal(read_image(f->l, 0, 1 << 16, truth, have0, &line_end), 0);
	logmgr_close(f->m);
	move_entry(f, base, k, d);
	logfx_reports[0] = '\0';
	logfx_open(f);
	log_set_corrupt_listener(f->l, listener, &heard);
	assert_non_null(strstr(logfx_reports, ".lines: entry"));
	memset(have, 0, sizeof(have));
	assert_int_equal(read_image(f->l, 0, 7, img, have, &end), 0);
	assert_int_equal(end, line_end);
	assert_memory_equal(have, have0, (size_t)line_end);
	for (int64_t p = 0; p < line_end; p++)
		if (have[p])
			assert_int_equal(img[p], truth[p]);
	assert_int_equal(heard.calls, 0);
}

static void test_moved_entry_rebuilt_up(void **state)
{
	moved_entry_rebuilt(*state, 3);
}

static void test_moved_entry_rebuilt_down(void **state)
{
	moved_entry_rebuilt(*state, -3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_checked_since_open, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_changed_line_length, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_checked_mark, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_flipped_byte, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_unclean_keeps_fsynced_active, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_many_bad_batches, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_undecodable_batch_kept, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recover_keeps_gzip_garbage, setup_recover,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recover_keeps_lz4_past_limit, setup_recover,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recover_keeps_bad_records, setup_recover,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recover_keeps_zstd, setup_recover,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recover_keeps_last_batch, setup_recover,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recover_keeps_written_positions, setup_recover,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_moved_entry_up, setup_moved, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_moved_entry_down, setup_moved, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_moved_entry_down_seek, setup_moved,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_moved_entry_down_seek_inside, setup_moved,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_moved_entry_up_compacted, setup_moved_compact,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_moved_entry_down_compacted,
						setup_moved_compact, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_moved_entry_rebuilt_up, setup_moved_compact,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_moved_entry_rebuilt_down, setup_moved_compact,
						logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
