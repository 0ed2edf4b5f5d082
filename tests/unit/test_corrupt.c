/*
 * test_corrupt.c — a byte flipped in a closed segment after a clean close
 * (engine/corrupt.c and the readers that call it): the cursor returns the
 * records before the bad batch and then fails with -EBADMSG, every time, on
 * both read paths; lookups fail rather than skip; the cleaner refuses and
 * rewrites nothing; .dump marks the batch "valid: no" without its records;
 * the listener hears of the batch once and the count is 1; nothing is cut
 * at the reopen, also when a batch's records do not decode.
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
	char why[200];
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
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	off_t at = 61 + 5 + (off_t)strlen("k0") + 1;
	char c;
	assert_int_equal(pread(fd, &c, 1, at), 1);
	assert_int_equal(c, 'v');
	c = 'w';
	assert_int_equal(pwrite(fd, &c, 1, at), 1);
	close(fd);
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
	/* The records after it are readable from their own positions. */
	struct log_cursor *c = log_cursor_new(f->l);
	int64_t actual;
	ssize_t g = log_read_lines(f->l, c, line_pos[bad + 1], buf, sizeof(buf), &actual);
	assert_int_equal(g, line_pos[NREC] - line_pos[bad + 1]);
	assert_memory_equal(buf, lines[bad + 1], strlen(lines[bad + 1]));
	log_cursor_free(c);

	/* Lookups fail instead of answering with a later record. */
	int64_t v;
	assert_int_equal(log_pos_to_offset(f->l, line_pos[bad], &v), -EBADMSG);
	assert_int_equal(log_offset_to_pos(f->l, bad, &v), -EBADMSG);

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flipped_byte, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_many_bad_batches, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_undecodable_batch_kept, setup, logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
