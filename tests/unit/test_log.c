/*
 * test_log.c — the engine's log: append, roll, line view, lookups,
 * recovery (cut at every byte of the last batch, garbage, missing and
 * overlong indexes), injected I/O errors, simulated power cuts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/log_int.h"
#include "tests/unit/logfx.h"
#include "util/shelf.h"


static void tune(struct log_config *cfg)
{
	(void)cfg;
}

static void tune_lz4(struct log_config *cfg)
{
	cfg->codec = BATCH_CODEC_LZ4;
	cfg->segment_bytes = 256 << 10; /* parts cross segment rolls */
}

static int setup(void **state)
{
	engine_helper_threads = -1;
	engine_batch_read_min = 256 << 10;
	return logfx_setup(state, "log", tune);
}

/* One helper thread on every machine: big appends are encoded in parts,
 * and reads of 4 KiB or more take whole batches on two threads. */
static int setup_helper(void **state)
{
	engine_helper_threads = 1;
	engine_batch_read_min = 4096;
	return logfx_setup(state, "logpar", tune);
}

static int setup_no_helper(void **state)
{
	engine_helper_threads = 0;
	engine_batch_read_min = 4096;
	return logfx_setup(state, "lognohelp", tune);
}

static int setup_helper_lz4(void **state)
{
	engine_helper_threads = 1;
	engine_batch_read_min = 4096;
	return logfx_setup(state, "logparlz4", tune_lz4);
}

static char *expect_text(int from, int n, size_t *len)
{
	char *s = malloc((size_t)n * 24 + 1);
	size_t o = 0;
	for (int i = 0; i < n; i++)
		o += (size_t)sprintf(s + o, "value-%d\n", from + i);
	*len = o;
	return s;
}

static char *read_all(struct log *l, size_t *len, size_t chunk)
{
	struct log_cursor *c = log_cursor_new(l);
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (n + chunk > cap)
			buf = realloc(buf, cap *= 2);
		ssize_t got = log_read_lines(l, c, (int64_t)n, buf + n, chunk, NULL);
		assert_true(got >= 0);
		if (got == 0)
			break;
		n += (size_t)got;
	}
	log_cursor_free(c);
	*len = n;
	return buf;
}

static void check_all(struct logfx *f, int n)
{
	size_t el, gl;
	char *e = expect_text(0, n, &el);
	size_t chunks[] = { 1, 7, 4096, 1 << 20 };
	for (size_t i = 0; i < 4; i++) {
		if (chunks[i] == 1 && n > 3000)
			continue;
		char *g = read_all(f->l, &gl, chunks[i]);
		assert_int_equal(gl, el);
		assert_memory_equal(g, e, el);
		free(g);
	}
	free(e);
}

static void reopen(struct logfx *f, bool clean)
{
	if (clean) {
		logmgr_close(f->m);
	} else {
		/* Like kill -9: no flush, no marker; the page cache survives. */
		logmgr_abandon(f->m);
		f->m = NULL;
	}
	logfx_open(f);
}

static void test_append_read(void **state)
{
	struct logfx *f = *state;
	logfx_put(f, 0, 1000, 1);
	logfx_put(f, 1000, 3000, 500);
	check_all(f, 4000);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 4000);
	assert_int_equal(st.hw, 4000);
	assert_int_equal(st.line_hw, st.line_end);
}

/* A replica's records above the hw may be uncommitted: after an unclean
 * stop before its hw was ever checkpointed, its hw is the log start (as
 * Kafka's), not the log end a single node's log takes; a checkpointed hw
 * stays. */
static void test_replica_hw_without_checkpoint(void **state)
{
	struct logfx *f = *state;
	struct log_config cfg = f->cfg;
	struct log_state st;
	struct log *u;

	for (int replica = 0; replica < 2; replica++) {
		char topic[8];

		/* A log made since the last checkpoint, then kill -9. */
		snprintf(topic, sizeof(topic), "u%d", replica);
		cfg.replica = replica;
		assert_int_equal(logmgr_get_log(f->m, topic, 0, &cfg, true, &u), 0);
		struct rec_in r = { .key_len = -1, .value = "v", .value_len = 1 };
		for (int i = 0; i < 10; i++)
			assert_int_equal(log_append(u, &r, 1, 0, NULL), 0);
		assert_int_equal(log_set_hw(u, 4), 0);
		reopen(f, false);
		assert_int_equal(logmgr_get_log(f->m, topic, 0, &cfg, false, &u), 0);
		log_get_state(u, &st);
		assert_int_equal(st.log_end_offset, 10);
		assert_int_equal(st.hw, replica ? 0 : 10);
		assert_int_equal(log_set_hw(u, 4), 0);
		reopen(f, true); /* a clean stop checkpoints it: kept */
		assert_int_equal(logmgr_get_log(f->m, topic, 0, &cfg, false, &u), 0);
		log_get_state(u, &st);
		assert_int_equal(st.hw, replica ? 4 : 10);
	}
}

/* ListOffsets -3: the record with the largest timestamp, wherever it is.
 * Timestamps go up to a peak in an early segment and down after it, in
 * batches of 10 over many segments; two records share the peak and the
 * earlier is named, also after a clean reopen (the segments' largest
 * timestamps loaded again). An empty log has none. */
static void test_max_time_lookup(void **state)
{
	struct logfx *f = *state;
	struct rec_in r[10];
	char vals[10][32];
	int64_t o, ts;

	assert_int_equal(log_max_time_lookup(f->l, &o, &ts), -ERANGE);
	f->cfg.segment_bytes = 2048;
	f->cfg.index_interval_bytes = 128;
	log_reconfigure(f->l, &f->cfg);
	for (int b = 0; b < 50; b++) {
		for (int i = 0; i < 10; i++) {
			int n = b * 10 + i;
			/* 0..123 up, 124 and 125 both at the peak, then down */
			int64_t t = n <= 124 ? n : n == 125 ? 124 : 250 - n;
			r[i] = (struct rec_in){ NULL, -1, vals[i],
						snprintf(vals[i], sizeof(vals[i]), "value-%d", n),
						fake_now + t };
		}
		assert_int_equal(log_append(f->l, r, 10, 0, NULL), 0);
	}
	struct log_state st;
	log_get_state(f->l, &st);
	assert_true(st.segments > 5);
	assert_int_equal(log_max_time_lookup(f->l, &o, &ts), 0);
	assert_int_equal(o, 124);
	assert_int_equal(ts, fake_now + 124);
	reopen(f, true);
	assert_int_equal(log_max_time_lookup(f->l, &o, &ts), 0);
	assert_int_equal(o, 124);
	assert_int_equal(ts, fake_now + 124);
}

/* A null value (a Kafka tombstone; not writable through the mount, but
 * a segment may hold one) reads as an empty line, and copying it copies
 * nothing from its NULL pointer (UBSan, make asan: memcpy from NULL). Found
 * by the recovery fuzz target's corpus. */
static void test_null_value_read(void **state)
{
	struct logfx *f = *state;
	struct rec_in r[3] = {
		{ NULL, -1, NULL, -1, fake_now },
		{ NULL, -1, "x", 1, fake_now },
		{ NULL, -1, NULL, -1, fake_now },
	};
	assert_int_equal(log_append(f->l, r, 3, 0, NULL), 0);
	assert_int_equal(log_set_hw(f->l, 3), 0);
	struct log_cursor *c = log_cursor_new(f->l);
	char buf[16];
	int64_t actual;
	assert_int_equal(log_read_lines(f->l, c, 0, buf, sizeof(buf), &actual), 4);
	assert_memory_equal(buf, "\nx\n\n", 4);
	log_cursor_free(c);
}

/* log_get_hw, log_get_end and log_get_offsets, the parts of
 * log_get_state that every write, consume read, stat and replica fetch
 * takes, give what it gives, across many
 * segments and as the hw moves. */
static void test_light_state(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	int64_t hw = -2, line_hw = -2;

	log_get_hw(f->l, &hw, &line_hw);
	assert_int_equal(hw, 0);
	assert_int_equal(line_hw, 0);
	assert_int_equal(log_get_end(f->l), 0);
	f->cfg.segment_bytes = 4096;
	log_reconfigure(f->l, &f->cfg);
	for (int k = 0; k < 4; k++) {
		/* 750 records to the hw, then one above it */
		struct rec_in r = { NULL, -1, "above", 5, fake_now };

		logfx_put(f, 750 * k, 749, 41);
		assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
		log_get_state(f->l, &st);
		assert_true(st.segments > 2 * k);
		assert_int_equal(st.hw, 750 * k + 749);
		assert_int_equal(st.log_end_offset, 750 * k + 750);
		log_get_hw(f->l, &hw, &line_hw);
		assert_int_equal(hw, st.hw);
		assert_int_equal(line_hw, st.line_hw);
		assert_int_equal(log_get_end(f->l), st.log_end_offset);
		assert_int_equal(log_get_start(f->l), st.log_start_offset);
		hw = -2;
		log_get_hw(f->l, &hw, NULL);
		assert_int_equal(hw, st.hw);
		line_hw = -2;
		log_get_hw(f->l, NULL, &line_hw);
		assert_int_equal(line_hw, st.line_hw);
		struct log_offsets lo;

		memset(&lo, 0xa5, sizeof(lo));
		log_get_offsets(f->l, &lo);
		assert_int_equal(lo.log_start_offset, st.log_start_offset);
		assert_int_equal(lo.hw, st.hw);
		assert_int_equal(lo.log_end_offset, st.log_end_offset);
		assert_int_equal(lo.line_start, st.line_start);
		assert_int_equal(lo.synced_offset, st.synced_offset);
		assert_int_equal(lo.leader_epoch, st.leader_epoch);
		assert_int_equal(lo.dropped, st.dropped);
	}
	log_get_state(f->l, &st);
	assert_true(st.segments > 10);
	assert_int_equal(log_get_end(f->l), 3000);
	/* The hw with the epoch's end, as log_end_offset_for_epoch answers,
	 * and the latest epoch, as log_get_offsets has it. */
	for (int32_t e = -1; e <= 1; e++) {
		int32_t want_e, got_e = -2, got_latest = -2;
		int64_t want_end, got_end = -2;

		log_end_offset_for_epoch(f->l, e, &want_e, &want_end);
		assert_int_equal(log_get_hw_epoch(f->l, e, &got_e, &got_end, &got_latest), st.hw);
		assert_int_equal(got_e, want_e);
		assert_int_equal(got_end, want_end);
		assert_int_equal(got_latest, st.leader_epoch);
	}
}

static void test_roll_and_lookups(void **state)
{
	struct logfx *f = *state;
	f->cfg.segment_bytes = 4096;
	f->cfg.index_interval_bytes = 256;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 5000, 37);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_true(st.segments > 10);
	check_all(f, 5000);
	/* offset <-> position for every 97th record */
	size_t el;
	char *e = expect_text(0, 5000, &el);
	int64_t pos = 0;
	for (int i = 0; i < 5000; i++) {
		if (i % 97 == 0) {
			int64_t p, o;
			assert_int_equal(log_offset_to_pos(f->l, i, &p), 0);
			assert_int_equal(p, pos);
			assert_int_equal(log_pos_to_offset(f->l, pos, &o), 0);
			assert_int_equal(o, i);
			assert_int_equal(log_pos_to_offset(f->l, pos + 3, &o), 0);
			assert_int_equal(o, i);
			assert_int_equal(log_time_to_offset(f->l, fake_now + i, &o), 0);
			assert_int_equal(o, i);
		}
		pos += (int64_t)strlen(e + pos) - (int64_t)strlen(strchr(e + pos, '\n')) + 1;
	}
	int64_t o;
	assert_int_equal(log_time_to_offset(f->l, fake_now + 99999, &o), -ERANGE);
	assert_int_equal(log_offset_to_pos(f->l, 5000, &pos), -ERANGE);
	/* A read starting inside a line returns the rest of that line. */
	struct log_cursor *c = log_cursor_new(f->l);
	char buf[64];
	int64_t p;
	assert_int_equal(log_offset_to_pos(f->l, 4321, &p), 0);
	ssize_t n = log_read_lines(f->l, c, p + 3, buf, 9, NULL);
	assert_int_equal(n, 9);
	assert_memory_equal(buf, "ue-4321\nv", 9);
	log_cursor_free(c);
	free(e);
	/* Segments stay after a clean reopen, and so do the lookups. */
	reopen(f, true);
	check_all(f, 5000);
	assert_int_equal(log_offset_to_pos(f->l, 4321, &pos), 0);
	assert_int_equal(pos, p);
}

/* A read at the tail of the active segment, where the .lines entries of
 * the newest batches are held back (lines_pending), while another
 * reader's cursor writes them: that write lands between this cursor's
 * look at the entry count and its look for entries held back (the hook).
 * The cursor counts the entries again and reads the last byte below the
 * high watermark; taking the old count, it read 0 bytes there (EOF to a
 * reader, zeros in a page the kernel fills). */
static struct log *tail_log;
static int tail_syncs;

static void tail_sync_meanwhile(struct log *l, int where)
{
	struct seg *s;

	if (l != tail_log || where != ENGINE_TAIL_HELD || tail_syncs++)
		return;
	pthread_mutex_lock(&l->lock);
	s = l->segs[l->nsegs - 1];
	assert_int_equal(seg_lines_sync(s), 0);
	pthread_mutex_unlock(&l->lock);
}

static void test_tail_read_while_entries_written(void **state)
{
	struct logfx *f = *state;
	int64_t line_hw = 0;
	struct log_cursor *c;
	char b = 0;

	logfx_put(f, 0, 3, 1);
	log_get_hw(f->l, NULL, &line_hw);
	assert_true(atomic_load(&f->l->segs[0]->lines_pending));
	tail_log = f->l;
	tail_syncs = 0;
	engine_tail_hook = tail_sync_meanwhile;
	c = log_cursor_new(f->l);
	assert_non_null(c);
	assert_int_equal(log_read_lines(f->l, c, line_hw - 1, &b, 1, NULL), 1);
	engine_tail_hook = NULL;
	assert_int_equal(tail_syncs, 1);
	assert_int_equal(b, '\n');
	assert_false(atomic_load(&f->l->segs[0]->lines_pending));
	log_cursor_free(c);
}

/* A read that finds no entry left in its segment while that segment is
 * still the active one, and before it looks for the next segment the
 * appender fills it and rolls (the hook): the read after goes on with the
 * segment's new records, not at the next segment's first (a jump the
 * reader took for records removed: a page-cache reader got ESTALE, a
 * consumer would have skipped them). */
static struct logfx *roll_fx;
static int roll_steps, roll_next;

static void tail_roll_meanwhile(struct log *l, int where)
{
	struct logfx *f = roll_fx;
	int segs;

	if (!f || l != f->l || where != ENGINE_TAIL_STEP || roll_steps++)
		return;
	pthread_mutex_lock(&l->lock);
	segs = l->nsegs;
	pthread_mutex_unlock(&l->lock);
	while (l->nsegs == segs) { /* records until the segment rolls */
		logfx_put(f, roll_next, 4, 4);
		roll_next += 4;
	}
}

static void tune_small_segments(struct log_config *cfg)
{
	cfg->segment_bytes = 4096;
}

static int setup_small_segments(void **state)
{
	engine_helper_threads = -1;
	engine_batch_read_min = 256 << 10;
	return logfx_setup(state, "logroll", tune_small_segments);
}

/* A clean open checks every .lines entry (seg_check_lines) with a pread
 * per block of entries, not one per batch: the start of a log of many
 * batches costs system calls in proportion to its segments, and about 64
 * sampled batches each, not to its batches. */
static void test_clean_open_reads_lines_in_blocks(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	int preads;

	logfx_put(f, 0, 4000, 1); /* 4,000 batches */
	logmgr_close(f->m);
	preads = f->fio.preads;
	logfx_open(f);
	assert_true(f->fio.preads - preads < 400);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 4000);
	assert_null(strstr(logfx_reports, "rebuilt"));
}

/* A roll that cannot make the new segment's files (a disk out of inodes:
 * the .log and .index made, the .timeindex refused) fails its append and
 * leaves none of them: the next open, which makes a listed segment's
 * missing files, would need the inodes the disk does not have and fail
 * the whole start. After it the log opens and takes records again. */
static void test_failed_roll_leaves_no_files(void **state)
{
	struct logfx *f = *state;
	static const char *ext[] = { ".log", ".index", ".timeindex", ".lines" };
	struct rec_in r = { NULL, -1, "a record that fills a small segment quickly", 43, 0 };
	struct log_state st;
	char path[PATH_MAX + 64];
	int rc = 0, i;

	f->fio.fail_path = ".timeindex";
	for (i = 0; i < 1000 && rc == 0; i++)
		rc = log_append(f->l, &r, 1, 0, NULL);
	f->fio.fail_path = NULL;
	assert_int_equal(rc, -EIO);
	assert_true(atomic_load(&f->fio.fail_path_hits) >= 1);
	assert_int_equal(f->l->nsegs, 1);
	log_get_state(f->l, &st);
	for (size_t k = 0; k < 4; k++) {
		snprintf(path, sizeof(path), "%s/%020lld%s", f->l->dir,
			 (long long)st.log_end_offset, ext[k]);
		assert_int_equal(access(path, F_OK), -1);
	}
	logmgr_close(f->m);
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, i - 1);
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	assert_int_equal(f->l->nsegs, 2);
}

/* A kill -9 in the middle of a roll on a disk out of inodes leaves the new
 * segment half made (an empty .log and .index); the next start cannot make
 * its missing files (ENOSPC). That empty last segment holds no record and
 * goes, logged, instead of failing the start. */
static void test_half_made_roll_on_full_disk(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	char dir[PATH_MAX], path[PATH_MAX + 64];
	int fd;

	logfx_put(f, 0, 10, 10);
	pthread_mutex_lock(&f->l->lock);
	assert_int_equal(log_roll_locked(f->l), 0);
	pthread_mutex_unlock(&f->l->lock);
	logfx_put(f, 10, 5, 5);
	snprintf(dir, sizeof(dir), "%s", f->l->dir);
	logmgr_abandon(f->m); /* kill -9 ... */
	f->m = NULL;
	for (int k = 0; k < 2; k++) { /* ... while the next roll made two files */
		snprintf(path, sizeof(path), "%s/%020d%s", dir, 15, k ? ".index" : ".log");
		assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) >= 0);
		close(fd);
	}
	f->fio.fail_path = "00000000000000000015.timeindex";
	f->fio.fail_path_errno = ENOSPC;
	logfx_open(f);
	f->fio.fail_path = NULL;
	f->fio.fail_path_errno = 0;
	assert_true(atomic_load(&f->fio.fail_path_hits) >= 1);
	assert_non_null(strstr(logfx_reports, "a roll left half made"));
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 15);
	assert_int_equal(f->l->nsegs, 2);
	snprintf(path, sizeof(path), "%s/%020d.log", dir, 15);
	assert_int_equal(access(path, F_OK), -1);
	logfx_put(f, 15, 1, 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 16);
}

static void test_tail_read_across_roll(void **state)
{
	struct logfx *f = *state;
	static char buf[65536];
	int64_t line_hw = 0, actual = -1, pos;
	struct log_cursor *c = log_cursor_new(f->l);
	ssize_t n;

	assert_non_null(c);
	logfx_put(f, 0, 10, 10);
	roll_next = 10;
	log_get_hw(f->l, NULL, &line_hw);
	roll_fx = f;
	roll_steps = 0;
	engine_tail_hook = tail_roll_meanwhile;
	n = log_read_lines(f->l, c, 0, buf, sizeof(buf), &actual);
	engine_tail_hook = NULL;
	roll_fx = NULL;
	assert_int_equal(n, line_hw);
	assert_int_equal(roll_steps, 1);
	assert_true(f->l->nsegs >= 2);
	/* Every record after, from where the read left off. */
	pos = n;
	n = log_read_lines(f->l, c, pos, buf, sizeof(buf), &actual);
	assert_int_equal(actual, pos);
	assert_true(n > 0);
	assert_memory_equal(buf, "value-10\n", 9);
	log_cursor_free(c);
}

static void test_hw_limits_reads(void **state)
{
	struct logfx *f = *state;
	logfx_put(f, 0, 10, 10);
	struct rec_in r = { NULL, -1, "above", 5, fake_now };
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	size_t gl;
	char *g = read_all(f->l, &gl, 4096);
	size_t el;
	char *e = expect_text(0, 10, &el);
	assert_int_equal(gl, el);
	free(g);
	assert_int_equal(log_set_hw(f->l, 11), 0);
	g = read_all(f->l, &gl, 4096);
	assert_int_equal(gl, el + 6);
	assert_memory_equal(g + el, "above\n", 6);
	free(g);
	free(e);
}

static void test_keys_line_view(void **state)
{
	struct logfx *f = *state;
	strcpy(f->cfg.key_sep, ":");
	f->cfg.key_sep_len = 1;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	struct rec_in r[3] = {
		{ "k1", 2, "v1", 2, fake_now },
		{ NULL, -1, "nokey", 5, fake_now },
		{ "k2", 2, NULL, -1, fake_now },
	};
	assert_int_equal(log_append(f->l, r, 3, 0, NULL), 0);
	assert_int_equal(log_set_hw(f->l, 3), 0);
	size_t gl;
	char *g = read_all(f->l, &gl, 5);
	assert_int_equal(gl, strlen("k1:v1\nnokey\nk2:\n"));
	assert_memory_equal(g, "k1:v1\nnokey\nk2:\n", gl);
	free(g);
	/* The separator is fixed once there are records. */
	f->cfg.key_sep[0] = '=';
	assert_int_equal(log_reconfigure(f->l, &f->cfg), -EBUSY);
}

/* A setting changed while a cursor renders keyed lines (the cleaner's
 * read of the records it keeps, a reader of the partition file): the
 * reconfigure rewrote the key separator and line format the cursor reads
 * without the log's lock. Under make tsan a race fails the binary. */
static _Atomic int reconf_reads_left;

static void *read_keyed_lines(void *arg)
{
	struct logfx *f = arg;

	while (atomic_load_explicit(&reconf_reads_left, memory_order_relaxed) > 0) {
		size_t gl;
		char *g = read_all(f->l, &gl, 5); /* short reads: key, sep, value apart */
		assert_int_equal(gl, 64 * strlen("kNN:vNN\n"));
		assert_memory_equal(g, "k00:v00\n", 8);
		free(g);
		atomic_fetch_sub_explicit(&reconf_reads_left, 1, memory_order_relaxed);
	}
	return NULL;
}

static void test_reconfigure_under_reader(void **state)
{
	struct logfx *f = *state;
	struct rec_in r[64];
	char keys[64][16], values[64][16]; /* room for any int: -O1 cannot bound i */
	pthread_t t;

	strcpy(f->cfg.key_sep, ":");
	f->cfg.key_sep_len = 1;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	for (int i = 0; i < 64; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%02d", i);
		snprintf(values[i], sizeof(values[i]), "v%02d", i);
		r[i] = (struct rec_in){ keys[i], 3, values[i], 3, fake_now };
	}
	assert_int_equal(log_append(f->l, r, 64, 0, NULL), 0);
	assert_int_equal(log_set_hw(f->l, 64), 0);
	atomic_store(&reconf_reads_left, 20);
	assert_int_equal(pthread_create(&t, NULL, read_keyed_lines, f), 0);
	/* Relaxed: the flag must not order the reconfigures before the
	 * reader's loads, or the sanitizer could not see them race. */
	for (int64_t ms = 1000; atomic_load_explicit(&reconf_reads_left, memory_order_relaxed) > 0;
	     ms++) {
		f->cfg.retention_ms = ms;
		assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	}
	assert_int_equal(pthread_join(t, NULL), 0);
}

static void test_msgsize(void **state)
{
	struct logfx *f = *state;
	f->cfg.max_message_bytes = 1000;
	log_reconfigure(f->l, &f->cfg);
	char big[2000];
	memset(big, 'x', sizeof(big));
	struct rec_in r[2] = { { NULL, -1, "ok", 2, fake_now }, { NULL, -1, big, 2000, fake_now } };
	assert_int_equal(log_append(f->l, r, 2, 0, NULL), -EMSGSIZE);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 0);
	assert_int_equal(st.size_bytes, 0);
}

/* Size of the active segment's .log file. */
/* The active segment's .log and the bytes of batches in it (the file may
 * be longer: the space a mapped tail reserved). */
static int64_t active_size(struct logfx *f, char *path, size_t cap)
{
	struct seg *s = log_active(f->l);
	snprintf(path, cap, "%s.log", s->path);
	return atomic_load(&s->size);
}

static void test_recover_cut_every_byte(void **state)
{
	struct logfx *f = *state;
	logfx_put(f, 0, 50, 10);
	char path[PATH_MAX + 8];
	int64_t before = active_size(f, path, sizeof(path));
	logfx_put(f, 50, 10, 10);
	int64_t after = active_size(f, path, sizeof(path));
	for (int64_t cut = before; cut <= after; cut++) {
		logmgr_close(f->m);
		/* Re-create the full log, then cut it and lose the marker. */
		f->m = NULL;
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "rm -rf %s/* %s/.clean-shutdown", f->dir, f->dir);
		assert_int_equal(system(cmd), 0);
		/* The first 50 fsynced (a clean stop: the recovery point),
		 * the last 10 not (a kill -9 after them): only those may be a
		 * torn tail. */
		logfx_open(f);
		logfx_put(f, 0, 50, 10);
		logmgr_close(f->m);
		logfx_open(f);
		logfx_put(f, 50, 10, 10);
		logmgr_abandon(f->m);
		f->m = NULL;
		assert_int_equal(truncate(path, cut), 0);
		logfx_open(f);
		struct log_state st;
		log_get_state(f->l, &st);
		assert_int_equal(st.log_end_offset, cut == after ? 60 : 50);
		log_set_hw(f->l, st.log_end_offset);
		check_all(f, (int)st.log_end_offset);
		/* And the log takes appends again at the right offset. */
		logfx_put(f, (int)st.log_end_offset, 5, 5);
		check_all(f, (int)st.log_end_offset + 5);
	}
}

static void test_recover_garbage_and_indexes(void **state)
{
	struct logfx *f = *state;
	f->cfg.index_interval_bytes = 100;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 300, 3);
	char path[PATH_MAX + 8], ipath[PATH_MAX + 16];
	int64_t size = active_size(f, path, sizeof(path));
	/* kill -9, then garbage appended to the log */
	reopen(f, false);
	FILE *fp = fopen(path, "a");
	fputs("garbage that is not a batch at all, more than 61 bytes long......", fp);
	fclose(fp);
	reopen(f, false);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 300);
	assert_int_equal(active_size(f, path, sizeof(path)), size);
	check_all(f, 300);
	/* Index deleted: rebuilt even after a clean shutdown. */
	logmgr_close(f->m);
	f->m = NULL;
	snprintf(ipath, sizeof(ipath), "%.*sindex", (int)(strlen(path) - 3), path);
	struct stat is;
	assert_int_equal(stat(ipath, &is), 0);
	assert_true(is.st_size > 0);
	unlink(ipath);
	snprintf(ipath, sizeof(ipath), "%.*slines", (int)(strlen(path) - 3), path);
	unlink(ipath);
	logfx_open(f);
	check_all(f, 300);
	snprintf(ipath, sizeof(ipath), "%.*sindex", (int)(strlen(path) - 3), path);
	struct stat is2;
	assert_int_equal(stat(ipath, &is2), 0);
	assert_int_equal(is2.st_size, is.st_size);
	/* Index longer than its log: rebuilt. */
	logmgr_close(f->m);
	f->m = NULL;
	fp = fopen(ipath, "a");
	fwrite("\0\0\x10\0\0\x10\0\0", 1, 8, fp);
	fclose(fp);
	logfx_open(f);
	assert_int_equal(stat(ipath, &is2), 0);
	assert_int_equal(is2.st_size, is.st_size);
	check_all(f, 300);
}

static void test_injected_errors(void **state)
{
	struct logfx *f = *state;
	logfx_put(f, 0, 100, 10);
	int errs[] = { EIO, ENOSPC, 0 };
	for (int k = 0; k < 3; k++) {
		for (int nth = 1; nth <= 4; nth++) {
			f->fio.pwrite_countdown = nth;
			f->fio.pwrite_errno = errs[k];
			struct rec_in r = { NULL, -1, "lost", 4, fake_now };
			int rc = log_append(f->l, &r, 1, 0, NULL);
			f->fio.pwrite_countdown = 0;
			if (rc == 0) {
				/* The fault fell on a file not written this time. */
				log_truncate_to(f->l, 100);
				continue;
			}
			assert_int_equal(rc, errs[k] ? -errs[k] : -EIO);
			struct log_state st;
			log_get_state(f->l, &st);
			assert_int_equal(st.log_end_offset, 100);
			check_all(f, 100);
		}
	}
	logfx_put(f, 100, 10, 10);
	check_all(f, 110);
	reopen(f, false);
	check_all(f, 110);
}

/* Power cuts on the default append path: small appends go through the
 * mapped tail, whose unsynced pages faultio loses like unsynced writes. */
/* After a power cut's reopen: the log reads as records 0..end-1, each
 * once; then a new empty directory and fault table for the next round. */
static void power_cut_check_reset(struct logfx *f, int64_t end)
{
	char cmd[600];

	log_set_hw(f->l, end);
	check_all(f, (int)end);
	logmgr_close(f->m);
	f->m = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s/* %s/.clean-shutdown", f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	faultio_free(&f->fio);
	faultio_init(&f->fio);
	logfx_open(f);
	log_reconfigure(f->l, &f->cfg);
}

static void test_power_cut(void **state)
{
	struct logfx *f = *state;
	assert_non_null(f->fio.ops.map_tail);
	f->cfg.segment_bytes = 2048;
	log_reconfigure(f->l, &f->cfg);
	for (unsigned seed = 1; seed <= 20; seed++) {
		logfx_put(f, 0, 400, 7);
		assert_int_equal(log_flush(f->l, -1), 0);
		assert_int_equal(logmgr_checkpoint(f->m), 0);
		logfx_put(f, 400, 100, 7); /* not synced */
		logmgr_abandon(f->m);      /* the process dies ... */
		f->m = NULL;
		faultio_crash(&f->fio, (int)(seed & 1), seed); /* ... and so does the power */
		logfx_open(f);
		struct log_state st;
		log_get_state(f->l, &st);
		assert_true(st.log_end_offset >= 400);
		/* Nothing torn: what was not fsynced is gone, mapped or not. */
		if (!(seed & 1))
			assert_int_equal(st.log_end_offset, 400);
		power_cut_check_reset(f, st.log_end_offset);
	}
}

/* A compacted log's power cut: its gaps are kept by recovery (a
 * follower appends its leader's anywhere, append_follower.c rule 3), so
 * a rolled segment that lost its unsynced tail while a later one kept
 * its records would leave a hole no compaction made: records missing
 * from the middle, which a follower would never fetch again. A compacted
 * log's rolled segment is made durable at its roll (append.c), so what
 * survives is always a prefix of what was appended. */
static void test_power_cut_compacted(void **state)
{
	struct logfx *f = *state;

	f->cfg.segment_bytes = 2048;
	f->cfg.cleanup_policy = LOG_CLEANUP_COMPACT;
	log_reconfigure(f->l, &f->cfg);
	for (unsigned seed = 1; seed <= 24; seed++) {
		struct log_state st;

		logfx_put(f, 0, 200, 7);
		assert_int_equal(log_flush(f->l, -1), 0);
		assert_int_equal(logmgr_checkpoint(f->m), 0);
		logfx_put(f, 200, 300, 7); /* several rolls, nothing fsynced by us */
		logmgr_abandon(f->m);
		f->m = NULL;
		faultio_crash(&f->fio, 1, seed); /* torn: each file keeps a random part */
		logfx_open(f);
		log_get_state(f->l, &st);
		assert_true(st.log_end_offset >= 200);
		power_cut_check_reset(f, st.log_end_offset);
	}
}

static void test_truncate_and_epochs(void **state)
{
	struct logfx *f = *state;
	f->cfg.segment_bytes = 1024;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_assign_epoch(f->l, 0, 0), 0);
	logfx_put(f, 0, 200, 5);
	assert_int_equal(log_assign_epoch(f->l, 1, 200), 0);
	logfx_put(f, 200, 100, 5);
	assert_int_equal(log_truncate_to(f->l, 150), 0);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 150);
	assert_int_equal(st.hw, 150);
	assert_int_equal(st.leader_epoch, 0);
	check_all(f, 150);
	logfx_put(f, 150, 50, 5);
	check_all(f, 200);
	reopen(f, true);
	check_all(f, 200);
}

/* At open, as Kafka's log loader, epochs that start past the log end go
 * (a hand-edited or stale leader-epoch-checkpoint), logged; one that
 * starts at the log end (a leader that has appended nothing yet) stays. */
static void test_epochs_past_end_dropped(void **state)
{
	struct logfx *f = *state;
	char path[512];
	int32_t e;
	int64_t end;

	assert_int_equal(log_assign_epoch(f->l, 0, 0), 0);
	logfx_put(f, 0, 10, 5);
	assert_int_equal(log_assign_epoch(f->l, 2, 10), 0); /* at the log end */
	logmgr_close(f->m);
	f->m = NULL;
	snprintf(path, sizeof(path), "%s/t-0/leader-epoch-checkpoint", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("0\n4\n0 0\n2 10\n5 11\n9 99999999999\n", fp);
	fclose(fp);
	logfx_reports[0] = '\0';
	logfx_open(f);
	assert_non_null(strstr(logfx_reports, "2 epoch(s) from epoch 5 start past the log end"));
	assert_int_equal(log_end_offset_for_epoch(f->l, 2, &e, &end), 0);
	assert_int_equal(e, 2);
	assert_int_equal(end, 10);
	assert_int_equal(log_end_offset_for_epoch(f->l, 9, &e, &end), 0);
	assert_int_equal(e, -1); /* gone: above the latest, undefined */
	assert_int_equal(end, -1);
	assert_int_equal(log_end_offset_for_epoch(f->l, 1, &e, &end), 0);
	assert_int_equal(e, 0);
	assert_int_equal(end, 10);
	check_all(f, 10);
	/* The file says so too: a second open drops nothing. */
	logmgr_close(f->m);
	f->m = NULL;
	logfx_reports[0] = '\0';
	logfx_open(f);
	assert_null(strstr(logfx_reports, "start past"));
	char buf[128] = { 0 };
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_true(fread(buf, 1, sizeof(buf) - 1, fp) > 0);
	fclose(fp);
	assert_string_equal(buf, "0\n2\n0 0\n2 10\n");
}

static void test_render(void **state)
{
	struct logfx *f = *state;
	f->cfg.index_interval_bytes = 10;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 20, 2);
	int64_t *bases;
	int n;
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	assert_int_equal(n, 1);
	char buf[65536];
	int64_t cur = 0;
	ssize_t got = log_segment_render(f->l, bases[0], SEG_INDEX, &cur, buf, sizeof(buf));
	assert_true(got > 0);
	buf[got] = 0;
	assert_non_null(strstr(buf, "offset: 3 position: "));
	cur = 0;
	got = log_segment_render(f->l, bases[0], SEG_DUMP, &cur, buf, sizeof(buf));
	assert_true(got > 0);
	buf[got] = 0;
	assert_non_null(strstr(buf, "baseOffset: 0 lastOffset: 1 count: 2 position: 0"));
	assert_non_null(strstr(buf, " producerId: -1 producerEpoch: -1 baseSequence: -1 codec: "));
	assert_non_null(strstr(buf, "| offset: 19 "));
	assert_non_null(strstr(buf, "value: value-19\n"));
	assert_null(strstr(buf, "valid: no"));
	free(bases);
}

/* The entries of a segment's .index (the lines of its rendering). */
static int index_entries(struct logfx *f, int64_t base)
{
	int64_t cur = 0;
	char buf[4096];
	ssize_t got = log_segment_render(f->l, base, SEG_INDEX, &cur, buf, sizeof(buf));
	int lines = 0;

	assert_true(got >= 0);
	for (ssize_t k = 0; k < got; k++)
		lines += buf[k] == '\n';
	return lines;
}

/* A segment rolls when its offset index is full, and when it is older than
 * segment.ms. */
static void test_roll_index_full_and_age(void **state)
{
	struct logfx *f = *state;
	f->cfg.segment_index_bytes = 4 * 8; /* four index entries */
	f->cfg.index_interval_bytes = 1;    /* an entry for every batch */
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 30, 1);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_true(st.segments >= 6);
	int64_t *bases;
	int n;
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	for (int i = 0; i + 1 < n; i++) {
		int lines = index_entries(f, bases[i]);
		assert_true(lines > 0 && lines <= 4);
	}
	free(bases);
	check_all(f, 30);
	/* segment.ms: a segment older than that rolls at the next append. */
	f->cfg.segment_index_bytes = 10485760;
	f->cfg.segment_ms = 1000;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 30, 1, 1);
	log_get_state(f->l, &st);
	int before = st.segments;
	logfx_put(f, 31, 1, 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, before);
	fake_now += 1001;
	logfx_put(f, 32, 1, 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, before + 1);
	check_all(f, 33);
}

/* A full index rolls the segment between the batches of one append (a
 * write() of many batches, a follower's fetch), as between appends: no
 * index passes segment.index.bytes, and the segments are those of the
 * same batches appended one by one. */
static void test_roll_index_full_in_one_append(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	int64_t *bases;
	size_t len;
	char *text = expect_text(0, 30, &len);
	int n;

	/* Four offset index entries; three time entries, the last kept for
	 * a roll's (one is written: the lines share a timestamp). */
	f->cfg.segment_index_bytes = 36;
	f->cfg.index_interval_bytes = 0; /* an entry for every batch but a segment's first */
	f->cfg.batch_bytes = 1;          /* a batch for every line */
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_append_lines(f->l, NULL, 0, text, len, fake_now, 0, NULL), 0);
	assert_int_equal(log_set_hw(f->l, 30), 0);
	free(text);
	/* A segment's first batch adds no entry, the next four fill it. */
	log_get_state(f->l, &st);
	assert_true(st.segments >= 3);
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	for (int i = 0; i < n; i++) {
		int lines = index_entries(f, bases[i]);

		assert_int_equal(lines, i + 1 < n ? 4 : lines);
		assert_true(lines <= 4);
	}
	free(bases);
	check_all(f, 30);
	reopen(f, true);
	check_all(f, 30);
}

/* Kafka's minimums: segment.bytes 14 is smaller than any batch, which
 * the leader refuses (EMSGSIZE, nothing appended), as Kafka does;
 * segment.index.bytes 4 (an index of no entry, where Kafka's shouldRoll
 * rolls too) gives every batch a segment of its own; the log reads whole,
 * after a clean restart and after a kill -9 too. */
static void test_roll_kafka_minimums(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	struct rec_in r = { NULL, -1, "v", 1, fake_now };

	f->cfg.segment_bytes = 14;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), -EMSGSIZE);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 0);
	f->cfg.segment_bytes = 1 << 20;
	f->cfg.segment_index_bytes = 4;
	f->cfg.index_interval_bytes = 0;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 5, 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 5);
	check_all(f, 5);
	reopen(f, true);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 5);
	check_all(f, 5);
	reopen(f, false);
	logfx_put(f, 5, 2, 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 7);
	check_all(f, 7);
}

/* The .timeindex of segment base: its bytes into buf (at most cap). */
static size_t tidx_file(struct logfx *f, int64_t base, uint8_t *buf, size_t cap)
{
	char path[400];
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/t-0/%020lld.timeindex", f->dir, (long long)base);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	n = fread(buf, 1, cap, fp);
	fclose(fp);
	return n;
}

/* A rolled segment ends its .timeindex with Kafka's final entry
 * (onBecomeInactiveSegment): its largest timestamp and the record holding
 * it. The time index keeps its last slot for it (Kafka's TimeIndex.isFull:
 * entries >= maxEntries - 1), so with segment.index.bytes 36 (three time
 * entries) and an entry per batch a segment rolls after two entries, three
 * batches, and its file is 36 bytes. Recovery rebuilds it byte for byte, the
 * active segment never has it, and a truncation that makes a closed segment
 * the active one again takes it back. */
static void test_roll_final_timeindex_entry(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	uint8_t want[4][64], got[64];
	int64_t *bases;
	int n;

	f->cfg.segment_index_bytes = 36;
	f->cfg.index_interval_bytes = 0;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 11, 1); /* record i at fake_now + i */
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 4);
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	for (int k = 0; k < n; k++) {
		size_t len = tidx_file(f, bases[k], want[k], sizeof(want[k]));

		assert_int_equal(bases[k], 3 * k);
		if (k == n - 1) { /* active: offsets 9 and 10, the rule's entry only */
			assert_int_equal(len, 12);
			assert_int_equal((int64_t)be64_get(want[k]), fake_now + 10);
			continue;
		}
		/* Entries before batches 1 and 2, then the final one: the
		 * segment's largest, record 3k+2, the rule had named it
		 * already (its .index entry goes before that batch). */
		assert_int_equal(len, 24);
		assert_int_equal((int64_t)be64_get(want[k] + 12), fake_now + 3 * k + 2);
		assert_int_equal(be32_get(want[k] + 20), 2);
	}
	free(bases);
	check_all(f, 11);
	/* Records stamped out of order: the largest is not the last, so the
	 * rule's entries stop below it and the roll adds it. */
	f->cfg.segment_index_bytes = 1 << 20;
	f->cfg.index_interval_bytes = 1 << 20;
	f->cfg.segment_bytes = 4096;
	log_reconfigure(f->l, &f->cfg);
	for (int i = 11; i < 200; i++) {
		char v[32];
		struct rec_in r = { NULL, -1, v, snprintf(v, sizeof(v), "value-%d", i),
				    fake_now + (i == 120 ? 100000 : i) };

		assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	}
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	assert_true(n > 6);
	/* Segment 3 (offsets 9..) had a rule's entry; those after it none
	 * (no .index entry): the final entry alone, the active one none. */
	assert_int_equal(tidx_file(f, bases[3], got, sizeof(got)), 24);
	int with = -1, ns = n;
	static uint8_t before[64][12];
	for (int k = 4; k < n - 1 && k < 64; k++) {
		assert_int_equal(tidx_file(f, bases[k], before[k], 12), 12);
		if ((int64_t)be64_get(before[k]) == fake_now + 100000) {
			with = k;
			assert_int_equal(bases[k] + be32_get(before[k] + 8), 120);
		} else {
			assert_int_equal((int64_t)be64_get(before[k]), fake_now + bases[k + 1] - 1);
		}
	}
	assert_true(with >= 4);
	assert_int_equal(tidx_file(f, bases[n - 1], got, sizeof(got)), 0);
	/* A crash: recovery rebuilds the closed segments' files the same
	 * (with the same config; these were written with this one). */
	reopen(f, false);
	for (int k = 4; k < ns - 1 && k < 64; k++) {
		assert_int_equal(tidx_file(f, bases[k], got, sizeof(got)), 12);
		assert_memory_equal(got, before[k], 12);
	}
	assert_int_equal(tidx_file(f, bases[ns - 1], got, sizeof(got)), 0);
	/* A truncation to the next segment's base: the segment is the active
	 * one again, without its final entry, also after a clean stop. */
	int64_t b1 = bases[with];
	assert_int_equal(log_truncate_to(f->l, bases[with + 1]), 0);
	free(bases);
	assert_int_equal(tidx_file(f, b1, got, sizeof(got)), 0);
	reopen(f, true);
	assert_int_equal(tidx_file(f, b1, got, sizeof(got)), 0);
}

/* The active segment's base offset (the last of log_segments). */
static int64_t active_base(struct logfx *f)
{
	int64_t *bases, b;
	int n;

	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	b = bases[n - 1];
	free(bases);
	return b;
}

/* segment.jitter.ms takes the segment's own jitter off segment.ms, and in
 * a compacted log a shorter max.compaction.lag.ms rolls instead (Kafka's
 * maxSegmentMs), so that compaction can reach the active segment's
 * records in time. */
static void test_roll_jitter_and_max_lag(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	int64_t age;
	int before, next = 0;
	/* The active segment's first record's time, by which it rolls
	 * (logfx_put stamps offset n at fake_now + n). */
	int64_t start_ts = fake_now;

	f->cfg.segment_ms = 10000;
	f->cfg.segment_jitter_ms = 9000;
	log_reconfigure(f->l, &f->cfg);
	for (int round = 0; round < 3; round++) {
		logfx_put(f, next++, 1, 1); /* the segment's first append, or its second */
		age = log_roll_age_ms(&f->cfg, f->l->dir, active_base(f));
		assert_true(age > 1000 && age <= 10000);
		log_get_state(f->l, &st);
		before = st.segments;
		fake_now = start_ts + age - next;
		logfx_put(f, next++, 1, 1); /* exactly age: not yet */
		log_get_state(f->l, &st);
		assert_int_equal(st.segments, before);
		fake_now += 1;
		start_ts = fake_now + next;
		logfx_put(f, next++, 1, 1);
		log_get_state(f->l, &st);
		assert_int_equal(st.segments, before + 1);
	}
	f->cfg.segment_jitter_ms = 0;
	f->cfg.max_compaction_lag_ms = 2000;
	f->cfg.cleanup_policy = LOG_CLEANUP_COMPACT;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	fake_now += 2001;
	log_get_state(f->l, &st);
	before = st.segments;
	logfx_put(f, next++, 1, 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, before + 1);
	check_all(f, next);
}

static void roll_now(struct logfx *f)
{
	pthread_mutex_lock(&f->l->lock);
	assert_int_equal(log_roll_locked(f->l), 0);
	pthread_mutex_unlock(&f->l->lock);
}

/* preallocate=true: a new segment's .log has segment.bytes of blocks at
 * once, its size unchanged (the line view and recovery see only records);
 * a roll cuts the closed one back to its records; a preallocation that
 * did not fit gives back what it got. */
static void test_preallocate(void **state)
{
	struct logfx *f = *state;
	char path[PATH_MAX + 64];
	struct stat sb;
	int64_t first;

	f->cfg.preallocate = true;
	f->cfg.segment_bytes = 4 << 20;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 10, 10);
	roll_now(f); /* a segment made with the setting */
	first = active_base(f);
	snprintf(path, sizeof(path), "%s/%020lld.log", f->l->dir, (long long)first);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	assert_true((int64_t)sb.st_blocks * 512 >= 4 << 20);
	logfx_put(f, 10, 10, 10);
	/* The next one finds the disk filling up: what it got is given back
	 * at once, not held until its roll. */
	f->fio.reserve_partial = 1;
	roll_now(f);
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size > 0);
	assert_true((int64_t)sb.st_blocks * 512 < 1 << 20);
	snprintf(path, sizeof(path), "%s/%020lld.log", f->l->dir, (long long)active_base(f));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	assert_int_equal(sb.st_blocks, 0);
	logfx_put(f, 20, 10, 10);
	check_all(f, 30);
}

/* A rolled segment is fsynced in the background (log_flush_closed), not by
 * the append that rolled it; after a crash the log is still a prefix: an
 * unsynced segment that lost its tail takes the later segments with it. */
static void test_async_roll_flush_and_prefix(void **state)
{
	struct logfx *f = *state;
	f->cfg.segment_bytes = 1024;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 100, 5);
	assert_int_equal(log_flush(f->l, -1), 0);
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	struct log_state st;
	log_get_state(f->l, &st);
	int64_t rp = st.recovery_point;
	assert_int_equal(rp, 100);
	int fs0 = f->fio.fsyncs;
	logfx_put(f, 100, 200, 5); /* several rolls */
	log_get_state(f->l, &st);
	assert_int_equal(st.recovery_point, rp);                   /* nothing fsynced by rolling */
	assert_true(f->fio.fsyncs - fs0 <= 2 * (st.segments + 1)); /* only .lines headers */
	int64_t *bases;
	int n;
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	assert_true(n >= 4);
	int64_t active = bases[n - 1];
	/* The first segment holding unsynced records loses its tail, as if the
	 * kernel had written later files back first. */
	int k = 0;
	while (k + 1 < n && bases[k + 1] <= rp)
		k++;
	char path[512];
	snprintf(path, sizeof(path), "%s/t-0/%020lld.log", f->dir, (long long)bases[k]);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	logmgr_abandon(f->m);
	f->m = NULL;
	assert_int_equal(truncate(path, sb.st_size - 30), 0);
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_true(st.log_end_offset >= rp && st.log_end_offset < bases[k + 1]);
	log_set_hw(f->l, st.log_end_offset);
	check_all(f, (int)st.log_end_offset);
	logfx_put(f, (int)st.log_end_offset, 10, 5);
	check_all(f, (int)st.log_end_offset + 10);
	free(bases);
	/* log_flush_closed makes the closed segments durable and moves the
	 * recovery point to the active segment. */
	logfx_put(f, (int)st.log_end_offset + 10, 100, 5);
	assert_int_equal(log_flush_closed(f->l), 0);
	log_get_state(f->l, &st);
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	active = bases[n - 1];
	free(bases);
	assert_int_equal(st.recovery_point, active);
}

/* The high watermark never moves back through log_set_hw (commits of
 * concurrent appends may arrive out of order); log_truncate_to is the one
 * way down. */
static void test_hw_never_back(void **state)
{
	struct logfx *f = *state;
	logfx_put(f, 0, 20, 5);
	assert_int_equal(log_set_hw(f->l, 7), 0);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.hw, 20);
	check_all(f, 20);
	assert_int_equal(log_truncate_to(f->l, 10), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.hw, 10);
	assert_int_equal(st.log_end_offset, 10);
	check_all(f, 10);
}

struct trunc_arg {
	struct logfx *f;
	int64_t offset;
	int rc;
};

static void truncate_now(void *arg)
{
	struct trunc_arg *t = arg;
	t->rc = log_truncate_to(t->f->l, t->offset);
}

/* A truncation while log_flush_closed fsyncs without the lock: the
 * recovery point must not end above the log end, or a later log_flush
 * skips its fsync and reports success. */
static void test_flush_closed_truncated_meanwhile(void **state)
{
	struct logfx *f = *state;
	f->cfg.segment_bytes = 1024;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 20, 5);
	assert_int_equal(log_flush(f->l, -1), 0);
	logfx_put(f, 20, 200, 5); /* closed segments, not fsynced */
	struct trunc_arg t = { f, 30, 1 };
	f->fio.on_fsync = truncate_now;
	f->fio.on_fsync_arg = &t;
	assert_int_equal(log_flush_closed(f->l), 0);
	assert_int_equal(t.rc, 0);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 30);
	assert_true(st.recovery_point <= st.log_end_offset);
	/* Records written again below the old recovery point are fsynced. */
	logfx_put(f, 30, 40, 5);
	int fs0 = f->fio.fsyncs;
	assert_int_equal(log_flush(f->l, -1), 0);
	assert_true(f->fio.fsyncs > fs0);
	log_get_state(f->l, &st);
	assert_int_equal(st.recovery_point, 70);
	check_all(f, 70);
}

/* A failed ftruncate is never ignored: an append whose cut back fails
 * still leaves no record behind (not even after a restart), and a
 * truncation whose index cut fails says so. */
static void test_ftruncate_failures(void **state)
{
	struct logfx *f = *state;
	f->cfg.index_interval_bytes = 1; /* an index entry per batch */
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 100, 10);
	static char big[6000];
	memset(big, 'b', sizeof(big)); /* written, not mapped */
	struct rec_in r = { NULL, -1, big, (int32_t)sizeof(big), fake_now };
	f->fio.pwrite_countdown = 2; /* .log lands, .index fails */
	f->fio.pwrite_errno = EIO;
	f->fio.ftruncate_countdown = 1; /* and so does the cut back */
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), -EIO);
	f->fio.pwrite_countdown = 0;
	f->fio.ftruncate_countdown = 0;
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 100);
	check_all(f, 100);
	reopen(f, true);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 100);
	check_all(f, 100);

	/* Truncations with each of their cuts failing in turn. */
	int64_t leo = 100;
	for (int nth = 1; nth <= 6; nth++) {
		logfx_put(f, (int)leo, 20, 2);
		f->fio.ftruncate_countdown = nth;
		int rc = log_truncate_to(f->l, leo + 6);
		bool hit = f->fio.ftruncate_countdown == 0;
		f->fio.ftruncate_countdown = 0;
		assert_int_equal(rc, hit ? -EIO : 0);
		log_get_state(f->l, &st);
		assert_true(st.log_end_offset == leo + 6 || st.log_end_offset == leo + 20);
		if (st.log_end_offset > leo + 6)
			assert_int_equal(log_truncate_to(f->l, leo + 6), 0);
		leo += 6;
		log_set_hw(f->l, leo);
		check_all(f, (int)leo);
	}
	reopen(f, true);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, leo);
	check_all(f, (int)leo);
	reopen(f, false);
	check_all(f, (int)leo);
}

/* 300 records in segments of 1 KiB, then a clean stop; returns the
 * segments' bases (malloc'ed), *n of them (more than 5). */
static int64_t *closed_in_segments(struct logfx *f, int *n)
{
	int64_t *bases;
	f->cfg.segment_bytes = 1024;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 300, 5);
	assert_int_equal(log_segments(f->l, &bases, n), 0);
	assert_true(*n > 5);
	logmgr_close(f->m);
	f->m = NULL;
	return bases;
}

/* A checkpointed log start offset above the first segment (retention's
 * deletions lost at a power cut, the checkpoint kept) governs reads: no
 * record below it is returned, whatever position is asked for. */
static void test_checkpointed_log_start(void **state)
{
	struct logfx *f = *state;
	int n;
	int64_t *bases = closed_in_segments(f, &n);
	int64_t start = bases[3] + 2; /* inside the fourth segment */
	free(bases);
	char path[512];
	snprintf(path, sizeof(path), "%s/log-start-offset-checkpoint", f->dir);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "0\n1\nt 0 %lld\n", (long long)start);
	fclose(fp);
	logfx_open(f);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, start);
	assert_int_equal(st.segments, n - 3);
	int64_t pos;
	assert_int_equal(log_offset_to_pos(f->l, start, &pos), 0);
	assert_int_equal(st.line_start, pos);
	size_t el, gl;
	char *e = expect_text((int)start, 300 - (int)start, &el);
	struct log_cursor *c = log_cursor_new(f->l);
	char *g = malloc(1 << 20);
	int64_t at = -1;
	ssize_t got = log_read_lines(f->l, c, 0, g, 1 << 20, &at);
	assert_int_equal(at, pos);
	gl = (size_t)got;
	while ((got = log_read_lines(f->l, c, pos + (int64_t)gl, g + gl, (1 << 20) - gl, NULL)) > 0)
		gl += (size_t)got;
	assert_int_equal(gl, el);
	assert_memory_equal(g, e, el);
	log_cursor_free(c);
	free(g);
	free(e);
}

/* Segment k's .log path and size. */
static int64_t seg_log_path(struct logfx *f, int64_t base, char *path, size_t cap)
{
	snprintf(path, cap, "%s/t-0/%020lld.log", f->dir, (long long)base);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

/* Reads the whole line view and checks it is records 0..n-1. */
static void expect_damaged(struct logfx *f, int64_t leo, const char *what)
{
	struct log_state st;
	log_get_state(f->l, &st);
	assert_true(st.damaged);
	assert_int_equal(st.log_end_offset, leo);
	assert_int_equal(st.hw, leo);
	check_all(f, (int)leo);
	struct rec_in r = { NULL, -1, "x", 1, fake_now };
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), -EIO);
	assert_int_equal(log_truncate_to(f->l, 0), -EIO);
	assert_non_null(strstr(logfx_reports, what));
}

/* The operator puts the copy of the segment's .log aside (DIR/whole.log)
 * back at path, and the log opens whole again: records 0..299. */
static void put_back_whole(struct logfx *f, const char *path)
{
	char cmd[1400];
	struct log_state st;

	logmgr_close(f->m);
	f->m = NULL;
	snprintf(cmd, sizeof(cmd), "mv %s/whole.log %s", f->dir, path);
	assert_int_equal(system(cmd), 0);
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_false(st.damaged);
	assert_int_equal(st.log_end_offset, 300);
}

/* Damage found at open after a clean stop is never cut: a segment cut in
 * the middle of a batch, or missing, leaves the partition readable up to
 * the damage, writes refused, every file kept, and a report that names the
 * file and the offsets. */
static void test_damage_kept(void **state)
{
	struct logfx *f = *state;
	int n;
	int64_t *bases = closed_in_segments(f, &n);
	/* Segment 2 cut 10 bytes short: its last batch is torn. */
	char path[512], last[512];
	int64_t size = seg_log_path(f, bases[2], path, sizeof(path));
	int64_t last_size = seg_log_path(f, bases[n - 1], last, sizeof(last));
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "cp %s %s/whole.log", path, f->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(truncate(path, size - 10), 0);
	logfx_open(f);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_true(st.log_end_offset > bases[2] && st.log_end_offset < bases[3]);
	expect_damaged(f, st.log_end_offset, path);
	assert_non_null(strstr(logfx_reports, "invalid bytes"));
	/* Nothing cut, nothing deleted, not even at a clean stop. */
	assert_int_equal(seg_log_path(f, bases[2], path, sizeof(path)), size - 10);
	assert_int_equal(seg_log_path(f, bases[n - 1], last, sizeof(last)), last_size);
	reopen(f, true);
	expect_damaged(f, st.log_end_offset, path);
	reopen(f, false);
	expect_damaged(f, st.log_end_offset, path);

	/* The operator puts the segment back whole: all of it is there again. */
	put_back_whole(f, path);
	log_set_hw(f->l, 300);
	check_all(f, 300);

	/* A segment missing in the middle. */
	logmgr_close(f->m);
	f->m = NULL;
	logfx_reports[0] = '\0';
	snprintf(cmd, sizeof(cmd), "mkdir %s/aside && mv %s/t-0/%020lld.* %s/aside/", f->dir,
		 f->dir, (long long)bases[3], f->dir);
	assert_int_equal(system(cmd), 0);
	logfx_open(f);
	expect_damaged(f, bases[3], "are missing");
	char want[64];
	snprintf(want, sizeof(want), "records %lld..%lld", (long long)bases[3],
		 (long long)bases[4] - 1);
	assert_non_null(strstr(logfx_reports, want));
	assert_int_equal(seg_log_path(f, bases[n - 1], last, sizeof(last)), last_size);
	logmgr_close(f->m);
	f->m = NULL;
	snprintf(cmd, sizeof(cmd), "mv %s/aside/* %s/t-0/", f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_false(st.damaged);
	assert_int_equal(st.log_end_offset, 300);
	free(bases);
}

/* A batch's base offset is outside its CRC: one that reaches the next
 * segment's base is damage found at that batch (the records before it
 * served, the rest kept on disk), never records served under offsets that
 * were not written, nor the good batches after it taken for the damage,
 * nor a partition refused whole. Both a batch in the middle of a segment
 * and its last one. */
static void test_damage_base_offset(void **state)
{
	struct logfx *f = *state;
	int n;
	int64_t *bases = closed_in_segments(f, &n);
	char path[512], cmd[1400];
	int64_t size = seg_log_path(f, bases[2], path, sizeof(path));

	snprintf(cmd, sizeof(cmd), "cp %s %s/whole.log", path, f->dir);
	assert_int_equal(system(cmd), 0);
	for (int which = 0; which < 2; which++) {
		/* The batches' positions and base offsets. */
		uint8_t *b = malloc((size_t)size);
		int fd = open(path, O_RDWR);
		int64_t pos[64], base[64];
		int nb = 0;

		assert_true(fd >= 0);
		assert_int_equal(pread(fd, b, (size_t)size, 0), size);
		for (int64_t p = 0; p + 12 <= size && nb < 64; nb++) {
			pos[nb] = p;
			base[nb] = (int64_t)be64_get(b + p);
			p += 12 + (int64_t)be32_get(b + p + 8);
		}
		assert_true(nb >= 3);
		int k = which == 0 ? 1 : nb - 1;
		uint8_t bad[8];
		be64_put(bad, (uint64_t)(base[k] + 1000));
		assert_int_equal(pwrite(fd, bad, 8, pos[k]), 8);
		close(fd);
		free(b);
		logfx_reports[0] = '\0';
		logfx_open(f);
		expect_damaged(f, base[k], path);
		char want[128];
		snprintf(want, sizeof(want), "invalid bytes from position %lld", (long long)pos[k]);
		assert_non_null(strstr(logfx_reports, want));
		put_back_whole(f, path);
		log_set_hw(f->l, 300);
		check_all(f, 300);
		logmgr_close(f->m);
		f->m = NULL;
		snprintf(cmd, sizeof(cmd), "cp %s %s/whole.log", path, f->dir);
		assert_int_equal(system(cmd), 0);
	}
	free(bases);
}

/* After a clean stop, a log that ends below its checkpointed high
 * watermark lost committed records (here the last segment emptied, a cut
 * at a batch boundary that no batch check can see): as Kafka, the hw
 * follows the log down, but an error names the records gone. */
static void test_clean_stop_below_hw(void **state)
{
	struct logfx *f = *state;
	int n;
	int64_t *bases = closed_in_segments(f, &n);
	char path[512], cmd[1400];
	struct log_state st;

	(void)seg_log_path(f, bases[n - 1], path, sizeof(path));
	snprintf(cmd, sizeof(cmd), "cp %s %s/whole.log", path, f->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(truncate(path, 0), 0);
	logfx_reports[0] = '\0';
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_false(st.damaged);
	assert_int_equal(st.log_end_offset, bases[n - 1]);
	assert_int_equal(st.hw, bases[n - 1]);
	char want[160];
	snprintf(want, sizeof(want),
		 "below its checkpointed high watermark 300 (replication-offset-checkpoint): "
		 "records %lld..299 are gone",
		 (long long)bases[n - 1]);
	assert_non_null(strstr(logfx_reports, want));
	check_all(f, (int)bases[n - 1]);
	put_back_whole(f, path);
	free(bases);
}

/* Overwrites the line position of .lines entry i of the segment at base. */
static void poke_line_pos(struct logfx *f, int64_t base, int64_t i, int64_t line_pos)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/t-0/%020lld.lines", f->dir, (long long)base);
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	uint8_t b[8];
	for (int k = 0; k < 8; k++)
		b[k] = (uint8_t)((uint64_t)line_pos >> (56 - 8 * k));
	assert_int_equal(pwrite(fd, b, 8, LINES_HDR_SIZE + i * LINES_ENT_SIZE + 8), 8);
	close(fd);
}

/* .lines is derived data and is not trusted blindly: damaged positions
 * (one that would make st_size a terabyte) are found at open, reported
 * with the entry, and rebuilt from the log. */
static void test_lines_checked(void **state)
{
	struct logfx *f = *state;
	int n;
	int64_t *bases = closed_in_segments(f, &n);
	size_t el;
	char *e = expect_text(0, 300, &el);
	struct lines_ent ent;
	poke_line_pos(f, bases[2], 1, 123456); /* out of order */
	logfx_open(f);
	assert_int_equal(seg_read_lines_ent(log_active(f->l), 0, &ent), 0);
	int64_t last = atomic_load(&log_active(f->l)->lines_entries) - 1;
	logmgr_close(f->m);
	f->m = NULL;
	poke_line_pos(f, bases[n - 1], last, (int64_t)1 << 40); /* the last entry */
	poke_line_pos(f, bases[4], 2, 0);
	logfx_open(f);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.line_end, (int64_t)el);
	assert_int_equal(st.line_hw, (int64_t)el);
	check_all(f, 300);
	assert_non_null(strstr(logfx_reports, ".lines: entry"));
	char want[64];
	snprintf(want, sizeof(want), "%020lld.lines: entry %lld", (long long)bases[n - 1],
		 (long long)last);
	assert_non_null(strstr(logfx_reports, want));
	/* Rebuilt on disk: the next open finds nothing to say. */
	reopen(f, true);
	logfx_reports[0] = '\0';
	reopen(f, true);
	assert_null(strstr(logfx_reports, ".lines"));
	check_all(f, 300);
	free(e);
	free(bases);
}

/* A roll cuts the mapped tail's reserved zeros off a segment that an
 * fsync already covered whole (the recovery point is at its end). The cut
 * must be durable before anything else is: after a power cut the segment
 * is trusted as it is on disk, and zeros brought back past its last batch
 * would be damage in the middle of the log. */
static void test_roll_cut_durable(void **state)
{
	struct logfx *f = *state;
	assert_non_null(f->fio.ops.map_tail);
	f->cfg.segment_bytes = 2048;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 100, 20); /* five batches through the mapped tail */
	assert_int_equal(log_flush(f->l, -1), 0);
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	char path[512];
	snprintf(path, sizeof(path), "%s/t-0/%020d.log", f->dir, 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size > 2048); /* the reservation is on disk */
	logfx_put(f, 100, 20, 20);      /* rolls: the segment is cut to its batches */
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 2);
	assert_int_equal(stat(path, &sb), 0);
	int64_t cut = sb.st_size;
	assert_true(cut < 2048);
	logmgr_abandon(f->m); /* the process dies ... */
	f->m = NULL;
	faultio_crash(&f->fio, 0, 1); /* ... and so does the power */
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, cut);
	logfx_reports[0] = '\0';
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_false(st.damaged);
	assert_true(st.log_end_offset >= 100);
	assert_null(strstr(logfx_reports, "invalid bytes"));
	log_set_hw(f->l, st.log_end_offset);
	check_all(f, (int)st.log_end_offset);
}

/* The same at a clean stop: the active segment's cut is fsynced before the
 * clean-shutdown marker, which makes the next start trust the files. */
static void test_close_cut_durable(void **state)
{
	struct logfx *f = *state;
	assert_non_null(f->fio.ops.map_tail);
	logfx_put(f, 0, 100, 20);
	assert_int_equal(log_flush(f->l, -1), 0);
	logmgr_close(f->m);
	f->m = NULL;
	faultio_crash(&f->fio, 0, 1);
	char path[512];
	snprintf(path, sizeof(path), "%s/t-0/%020d.log", f->dir, 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_true(sb.st_size < 4096);
	logfx_open(f);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_false(st.damaged);
	assert_int_equal(st.log_end_offset, 100);
	log_set_hw(f->l, 100);
	check_all(f, 100);
}

/* Appends records from..from+n-1, per records an append, each a value
 * of 1000 bytes stamped fake_now + i, and commits them: batches of about
 * per KB, each with its .index and .timeindex entry. */
static void put_kb(struct logfx *f, int from, int n, int per)
{
	static char v[1000];
	struct rec_in r[16];
	struct log_state st;

	assert_true(per <= 16);
	memset(v, 'v', sizeof(v));
	for (int i = 0; i < n;) {
		int k = 0;
		for (; k < per && i < n; k++, i++)
			r[k] = (struct rec_in){ NULL, -1, v, sizeof(v), fake_now + from + i };
		assert_int_equal(log_append(f->l, r, k, 0, NULL), 0);
	}
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
}

/* seg_find_time of ts in s under the log's lock, with the bytes it read,
 * after the .lines entries still pending are written (as a lookup does). */
static int64_t find_time_read(struct logfx *f, struct seg *s, int64_t ts, int64_t *bytes)
{
	pthread_mutex_lock(&f->l->lock);
	assert_int_equal(seg_lines_sync(log_active(f->l)), 0);
	f->fio.pread_bytes = 0;
	int64_t from = seg_find_time(s, &f->l->lf, ts);
	pthread_mutex_unlock(&f->l->lock);
	*bytes = f->fio.pread_bytes;
	return from;
}

/* A lookup by time checks the .timeindex entry it starts from against its
 * batch (10 KB here) once: later lookups from that entry read only the
 * .timeindex. A truncation below the entry forgets the check: the entry
 * written there again by the appends that follow is checked anew. */
static void test_time_lookup_checks_entry_once(void **state)
{
	struct logfx *f = *state;
	int64_t from, bytes, o;

	put_kb(f, 0, 200, 10);
	logmgr_close(f->m); /* clean: the entries are read, not rebuilt */
	f->m = NULL;
	logfx_open(f);
	struct seg *s = f->l->segs[0];
	assert_true(s->tidx_entries > 10);
	/* Entry 8 (the first batch has none): timestamp fake_now + 99 at
	 * offset 99, the last of its batch. */
	from = find_time_read(f, s, fake_now + 105, &bytes);
	assert_int_equal(from, 99);
	assert_true(bytes > 10000); /* its batch, read to check it */
	for (int k = 0; k < 3; k++) {
		assert_int_equal(find_time_read(f, s, fake_now + 105, &bytes), from);
		assert_true(bytes < 1000); /* the .timeindex's bisection only */
		assert_int_equal(log_time_to_offset(f->l, fake_now + 105, &o), 0);
		assert_int_equal(o, 105);
	}
	/* Entry 8 again, for the same offsets with timestamps 7 ms later. */
	assert_int_equal(log_truncate_to(f->l, 90), 0);
	fake_now += 7;
	put_kb(f, 90, 110, 10);
	assert_int_equal(find_time_read(f, s, fake_now + 105, &bytes), 99);
	assert_true(bytes > 10000);
	assert_int_equal(log_time_to_offset(f->l, fake_now + 105, &o), 0);
	assert_int_equal(o, 105);
}

/* A .timeindex entry damaged after a clean stop (its offset moved 15
 * records on, past the next batch's start) would make a lookup by time
 * that starts there skip the records of that batch: its batch belies it,
 * the lookup walks the segment from its start instead, and so do the
 * later ones, which answer right too (no check keeps a damaged entry). */
static void test_time_lookup_damaged_entry(void **state)
{
	struct logfx *f = *state;
	char p[512];
	uint8_t e[12];
	int64_t o;

	put_kb(f, 0, 200, 10);
	logmgr_close(f->m);
	f->m = NULL;
	snprintf(p, sizeof(p), "%s/t-0/%020d.timeindex", f->dir, 0);
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, e, sizeof(e), 3 * 12), 12);
	int64_t ts = (int64_t)be64_get(e);
	be32_put(e + 8, be32_get(e + 8) + 15);
	assert_int_equal(pwrite(fd, e, sizeof(e), 3 * 12), 12);
	close(fd);
	logfx_open(f);
	logfx_reports[0] = '\0';
	for (int k = 0; k < 3; k++) {
		assert_int_equal(log_time_to_offset(f->l, ts + 1, &o), 0);
		assert_int_equal(o, ts + 1 - fake_now);
	}
	const char *w = strstr(logfx_reports, "is not the log's");
	assert_non_null(w);
	assert_null(strstr(w + 1, "is not the log's")); /* said once */
}

/* A segment whose name, and so its first batch's base offset (outside
 * the CRC), is near INT64_MAX: the trusted open of a clean stop must not
 * take base + last delta + 1, which wraps, for its next offset (every
 * offset of the log would be wrong, the end negative). It goes to
 * recovery, which refuses the batch: the segment ends where it begins. */
static void test_clean_open_offset_wraps(void **state)
{
	struct logfx *f = *state;
	const int64_t base = INT64_MAX - 1;
	static const char *ext[] = { "log", "index", "timeindex", "lines" };
	char from[512], to[512];
	uint8_t be[8];
	int fd;

	logfx_put(f, 0, 3, 3); /* one batch: offsets 0..2, last delta 2 */
	assert_int_equal(log_flush(f->l, -1), 0);
	logmgr_close(f->m);
	f->m = NULL;
	for (int k = 0; k < 4; k++) {
		snprintf(from, sizeof(from), "%s/t-0/%020d.%s", f->dir, 0, ext[k]);
		snprintf(to, sizeof(to), "%s/t-0/%020" PRId64 ".%s", f->dir, base, ext[k]);
		assert_int_equal(rename(from, to), 0);
	}
	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)((uint64_t)base >> (56 - 8 * i));
	snprintf(to, sizeof(to), "%s/t-0/%020" PRId64 ".log", f->dir, base);
	fd = open(to, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, be, 8, 0), 8);
	close(fd);
	logfx_open(f);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_true(st.log_end_offset >= 0);
	assert_true(st.log_end_offset <= base);
}

/* A power cut after retention: its renames to .deleted were made durable
 * (it fsyncs the log's directory), the unlinks that followed were not, so
 * the .deleted files come back; open removes them, and the log starts
 * where the checkpoint says. */
static void test_power_cut_after_retention(void **state)
{
	struct logfx *f = *state;
	f->cfg.segment_bytes = 1024;
	f->cfg.retention_bytes = 3000;
	log_reconfigure(f->l, &f->cfg);
	logfx_put(f, 0, 300, 5);
	assert_int_equal(log_flush(f->l, -1), 0);
	struct log_retention_result res;
	assert_true(log_retention_run(f->l, fake_now, &res) > 0);
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	int64_t start = res.log_start_offset;
	assert_true(start > 0);
	logmgr_abandon(f->m);
	f->m = NULL;
	faultio_crash(&f->fio, 0, 1);
	char path[512];
	snprintf(path, sizeof(path), "%s/t-0/%020d.log.deleted", f->dir, 0);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0); /* the unlink was lost */
	logfx_open(f);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, start);
	assert_int_equal(st.log_end_offset, 300);
	assert_int_equal(stat(path, &sb), -1);
	size_t el;
	char *e = expect_text((int)start, 300 - (int)start, &el);
	struct log_cursor *c = log_cursor_new(f->l);
	char *g = malloc(1 << 16);
	int64_t at;
	ssize_t got = log_read_lines(f->l, c, 0, g, 1 << 16, &at);
	assert_int_equal(got, (ssize_t)el);
	assert_memory_equal(g, e, el);
	log_cursor_free(c);
	free(g);
	free(e);
}

/* Records of varied sizes (empty ones too) for the parallel append: value
 * i is "p<i>:" and filler up to a length that cycles through 0..299. */
#define PAR_N 20000
static char par_vals[PAR_N][320];

static size_t par_build(struct rec_in *r, int from, int n, char *expect)
{
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		int want = ((from + i) * 37) % 300;
		int len = want ? snprintf(par_vals[i], sizeof(par_vals[i]), "p%d:", from + i) : 0;
		for (; len < want; len++)
			par_vals[i][len] = (char)('a' + (from + i + len) % 26);
		r[i] = (struct rec_in){ NULL, -1, par_vals[i], len, fake_now + i };
		memcpy(expect + o, par_vals[i], (size_t)len);
		o += (size_t)len;
		expect[o++] = '\n';
	}
	return o;
}

static void par_check(struct logfx *f, const char *expect, size_t len)
{
	size_t gl;
	char *g = read_all(f->l, &gl, 65536);
	assert_int_equal(gl, len);
	assert_memory_equal(g, expect, len);
	free(g);
	/* Every record's line position, both ways. */
	int64_t pos = 0, off = 0, got;
	for (size_t i = 0; i < len; off++) {
		if (off % 97 == 0 || i + 400 > len) {
			assert_int_equal(log_offset_to_pos(f->l, off, &got), 0);
			assert_int_equal(got, pos);
			assert_int_equal(log_pos_to_offset(f->l, pos, &got), 0);
			assert_int_equal(got, off);
		}
		const char *nl = memchr(expect + i, '\n', len - i);
		i = (size_t)(nl - expect) + 1;
		pos = (int64_t)i;
	}
}

/* One append big enough to be encoded in parts and written by the helper:
 * the line view, the offsets and every position are those of a serial
 * append, before and after recovery. */
static void test_parallel_append(void **state)
{
	struct logfx *f = *state;
	static struct rec_in r[PAR_N];
	size_t cap = (size_t)PAR_N * 2 * 320;
	char *expect = malloc(cap);
	struct log_append_info info;
	struct log_state st;

	assert_non_null(expect);
	/* Some records first, so the parts do not start at position 0. */
	size_t len = par_build(r, 0, 10, expect);
	assert_int_equal(log_append(f->l, r, 10, 0, NULL), 0);
	for (int round = 0; round < 2; round++) {
		int from = 10 + round * PAR_N;
		len += par_build(r, from, PAR_N, expect + len);
		assert_int_equal(log_append(f->l, r, PAR_N, 0, &info), 0);
		assert_int_equal(info.first_offset, from);
		assert_int_equal(info.last_offset, from + PAR_N - 1);
		assert_int_equal(info.line_end, (int64_t)len);
		assert_true(info.batches >= LOG_PARTS);
	}
	/* The .log's writes came from the helper (the writer of the
	 * pipeline), the small append's from this thread. */
	assert_true(f->fio.foreign_writes > 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 10 + 2 * PAR_N);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	par_check(f, expect, len);
	reopen(f, false); /* recovery validates every batch */
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 10 + 2 * PAR_N);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	par_check(f, expect, len);
	free(expect);
}

static int64_t clock_ns(clockid_t c)
{
	struct timespec t;

	clock_gettime(c, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* The helper's writes held up for 20 ms each (as a write under the
 * kernel's dirty-page throttling can be): the append is whole and right,
 * and the appending thread sleeps through its wait for the writer instead
 * of polling all of it (its CPU time stays far below the wall time). */
static void test_parallel_append_slow_writes(void **state)
{
	struct logfx *f = *state;
	static struct rec_in r[PAR_N];
	char *expect = malloc((size_t)PAR_N * 320);
	struct log_state st;

	assert_non_null(expect);
	size_t len = par_build(r, 0, PAR_N, expect);
	f->fio.pwrite_delay_us = 20000;
	int64_t c0 = clock_ns(CLOCK_THREAD_CPUTIME_ID), w0 = clock_ns(CLOCK_MONOTONIC);
	assert_int_equal(log_append(f->l, r, PAR_N, 0, NULL), 0);
	int64_t wall = clock_ns(CLOCK_MONOTONIC) - w0, cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - c0;
	f->fio.pwrite_delay_us = 0;
	assert_true(f->fio.foreign_writes > 0);
	assert_true(wall >= 40000000); /* two writes of the .log at least */
	assert_true(cpu < wall / 2);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, PAR_N);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	par_check(f, expect, len);
	free(expect);
}

/* Short writes anywhere in a big append (half of a write of several
 * parts lands, ending inside one of them) are resumed where they ended:
 * the log is byte for byte what it would be without them. */
static void test_parallel_append_short_writes(void **state)
{
	struct logfx *f = *state;
	static struct rec_in r[PAR_N];
	char *expect = malloc((size_t)PAR_N * 320 * 7);
	struct log_state st;
	size_t len = 0;

	assert_non_null(expect);
	int hits = 0;
	for (int nth = 1; nth <= 6; nth++) {
		len += par_build(r, (nth - 1) * PAR_N, PAR_N, expect + len);
		f->fio.pwrite_countdown = nth;
		f->fio.pwrite_errno = 0;
		assert_int_equal(log_append(f->l, r, PAR_N, 0, NULL), 0);
		/* An append makes two writes of the .log at least (its first
		 * part alone, then the rest in one or more), each with its
		 * indexes: how many more depends on the helper's pace. */
		hits += f->fio.pwrite_countdown == 0;
		f->fio.pwrite_countdown = 0;
	}
	assert_true(hits >= 4);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 6 * PAR_N);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	par_check(f, expect, len);
	reopen(f, false);
	par_check(f, expect, len);
	free(expect);
}

/* A write failing in a later part (after earlier parts were written) takes
 * the whole append back: all or nothing, as a serial append. */
static void test_parallel_append_fails_whole(void **state)
{
	struct logfx *f = *state;
	static struct rec_in r[PAR_N];
	char *expect = malloc((size_t)PAR_N * 320);
	struct log_state st;

	assert_non_null(expect);
	size_t len = par_build(r, 0, 100, expect);
	assert_int_equal(log_append(f->l, r, 100, 0, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	int failed = 0;
	for (int nth = 1; nth <= 3 * LOG_PARTS + 2; nth++) {
		char *scratch = malloc((size_t)PAR_N * 320);
		assert_non_null(scratch);
		par_build(r, 100, PAR_N, scratch);
		f->fio.pwrite_countdown = nth;
		f->fio.pwrite_errno = EIO;
		int rc = log_append(f->l, r, PAR_N, 0, NULL);
		f->fio.pwrite_countdown = 0;
		free(scratch);
		if (rc == 0) {
			/* The fault fell after the append's last write. */
			assert_int_equal(log_truncate_to(f->l, 100), 0);
			continue;
		}
		failed++;
		assert_int_equal(rc, -EIO);
		log_get_state(f->l, &st);
		assert_int_equal(st.log_end_offset, 100);
		assert_int_equal(st.line_end, (int64_t)len);
		par_check(f, expect, len);
	}
	/* Every write of the append was hit: the .log and .index of each
	 * group of parts written together, more than one group. */
	assert_true(failed >= 4);
	/* And the log goes on from there. */
	len += par_build(r, 100, PAR_N, expect + len);
	assert_int_equal(log_append(f->l, r, PAR_N, 0, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	par_check(f, expect, len);
	free(expect);
}

/* An append that fails after some of its parts were written, whose
 * rollback fails too (the disk refuses every change for a while): the
 * append's error is returned, nothing of it is ever visible, however far
 * the hw is asked to move, no append lands behind it, and once the disk
 * is back the next append cuts it away first. */
static void test_failed_rollback_fences(void **state)
{
	struct logfx *f = *state;
	static struct rec_in r[PAR_N];
	char *expect = malloc((size_t)PAR_N * 320 + 64);
	char *scratch = malloc((size_t)PAR_N * 320);
	struct log_state st;
	int fenced = 0;

	assert_non_null(expect);
	assert_non_null(scratch);
	size_t len = par_build(r, 0, 100, expect);
	assert_int_equal(log_append(f->l, r, 100, 0, NULL), 0);
	assert_int_equal(log_set_hw(f->l, 100), 0);
	for (int nth = 2; nth <= 3 * LOG_PARTS + 2; nth++) {
		par_build(r, 100, PAR_N, scratch);
		f->fio.die_countdown = nth;
		int rc = log_append(f->l, r, PAR_N, 0, NULL);
		if (rc == 0 || (log_get_state(f->l, &st), st.log_end_offset == 100)) {
			/* Past the append's writes, or rolled back in full. */
			f->fio.die_countdown = 0;
			f->fio.dead = false;
			if (rc == 0)
				assert_int_equal(log_truncate_to(f->l, 100), 0);
			continue;
		}
		fenced++;
		assert_int_equal(rc, -EIO);
		assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
		log_get_state(f->l, &st);
		assert_int_equal(st.hw, 100);
		assert_int_equal(st.fence, 100);
		/* Still refused while the disk is: nothing behind the leftovers. */
		struct rec_in one = { NULL, -1, "after", 5, fake_now };
		assert_int_equal(log_append(f->l, &one, 1, 0, NULL), -EIO);
		f->fio.dead = false;
		f->fio.die_countdown = 0;
		/* (The line view's reads write pending entries: not while dead.) */
		assert_int_equal(log_set_hw(f->l, INT64_MAX), 0);
		log_get_state(f->l, &st);
		assert_int_equal(st.hw, 100);
		par_check(f, expect, len);
		struct log_append_info info;
		assert_int_equal(log_append(f->l, &one, 1, 0, &info), 0);
		assert_int_equal(info.first_offset, 100);
		assert_int_equal(log_set_hw(f->l, 101), 0);
		memcpy(expect + len, "after\n", 6);
		par_check(f, expect, len + 6);
		assert_int_equal(log_truncate_to(f->l, 100), 0);
	}
	assert_true(fenced > 0);
	free(scratch);
	free(expect);
}

/* log_append_lines: the lines of a head and a body (a big one, cut into
 * parts) come back identical, keys included; a line over the limit in a
 * late part leaves nothing appended; the last line may lack its '\n'. */
static void test_append_lines(void **state)
{
	struct logfx *f = *state;
	struct log_config cfg = f->cfg;
	struct log_append_info info;
	struct log_state st;
	size_t cap = 4u << 20, len = 0;
	char *body = malloc(cap), *all = malloc(cap + 64);

	assert_non_null(body);
	assert_non_null(all);
	snprintf(cfg.key_sep, sizeof(cfg.key_sep), ":");
	cfg.key_sep_len = 1;
	assert_int_equal(log_reconfigure(f->l, &cfg), 0);
	f->cfg = cfg; /* for reopen */
	const char *head = "joined:from a partial line\n";
	/* keyed, keyless, empty, tombstone ("k:"), empty key (":v") lines */
	for (int i = 0; len < (3u << 20); i++) {
		switch (i % 5) {
		case 0:
			len += (size_t)sprintf(body + len, "key%d:value %d %0*d\n", i % 97, i,
					       i % 200, 0);
			break;
		case 1: len += (size_t)sprintf(body + len, "no key here %d\n", i); break;
		case 2: len += (size_t)sprintf(body + len, "\n"); break;
		case 3: len += (size_t)sprintf(body + len, "gone%d:\n", i); break;
		default: len += (size_t)sprintf(body + len, ":empty key %d\n", i); break;
		}
	}
	len += (size_t)sprintf(body + len, "last:without newline");
	size_t hl = strlen(head), nlines = 1;
	for (size_t i = 0; i < len; i++)
		nlines += body[i] == '\n';
	nlines++; /* the last, unterminated */
	memcpy(all, head, hl);
	memcpy(all + hl, body, len);
	all[hl + len] = '\n';
	assert_int_equal(log_append_lines(f->l, head, hl, body, len, fake_now, 0, &info), 0);
	assert_int_equal(info.first_offset, 0);
	assert_int_equal(info.last_offset, (int64_t)nlines - 1);
	assert_int_equal(info.line_end, (int64_t)(hl + len + 1));
	/* A line over max.message.bytes near the end: nothing of it appended. */
	char *big = malloc(cap);
	assert_non_null(big);
	size_t bl = 0;
	while (bl < (3u << 20) - 2000000)
		bl += (size_t)sprintf(big + bl, "fine line %zu\n", bl);
	memset(big + bl, 'x', 1100000);
	bl += 1100000;
	big[bl++] = '\n';
	assert_int_equal(log_append_lines(f->l, NULL, 0, big, bl, fake_now, 0, NULL), -EMSGSIZE);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, (int64_t)nlines);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	par_check(f, all, hl + len + 1);
	reopen(f, false);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, (int64_t)nlines);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	par_check(f, all, hl + len + 1);
	/* Nothing in: refused. */
	assert_int_equal(log_append_lines(f->l, NULL, 0, NULL, 0, fake_now, 0, NULL), -EINVAL);
	free(big);
	free(body);
	free(all);
}

/* log_append_lines on a key-less topic, where plain lines take the
 * batch_lines.c path and every other line the general one, mixed in one
 * big append cut into parts: the line view shows each line as the general
 * path would, with every position right, before and after recovery. */
static void test_append_plain_lines(void **state)
{
	struct logfx *f = *state;
	struct log_append_info info;
	struct log_state st;
	size_t cap = 4u << 20, len = 0, vlen = 0;
	char *body = malloc(cap), *view = malloc(cap + 64);
	char *longl = malloc(9001);

	assert_non_null(body);
	assert_non_null(view);
	assert_non_null(longl);
	assert_int_equal(f->cfg.key_sep_len, 0);
	memset(longl, 'L', 9000);
	longl[9000] = '\0';
	for (int i = 0; len < (3u << 20); i++) {
		const char *at = body + len;
		switch (i % 7) {
		case 0: len += (size_t)sprintf(body + len, "plain line %d, some text\n", i); break;
		case 1: len += (size_t)sprintf(body + len, "tab\there %d\n", i); break;
		case 2: len += (size_t)sprintf(body + len, "\n"); break;
		case 3: len += (size_t)sprintf(body + len, "\\esc\\n%d\n", i); break;
		case 4:
			len += (size_t)sprintf(body + len, "ctl\x01%d\n", i);
			vlen += (size_t)sprintf(view + vlen, "\\ctl\\x01%d\n", i);
			continue;
		case 5:
			/* the mark alone: the record is what follows it */
			len += (size_t)sprintf(body + len, "\\q%d\n", i);
			vlen += (size_t)sprintf(view + vlen, "q%d\n", i);
			continue;
		default:
			len += (size_t)sprintf(body + len, "%s%d\n", i % 50 == 6 ? longl : "", i);
			break;
		}
		memcpy(view + vlen, at, (size_t)(body + len - at)); /* shown as written */
		vlen += (size_t)(body + len - at);
	}
	len += (size_t)sprintf(body + len, "last without newline");
	vlen += (size_t)sprintf(view + vlen, "last without newline\n");
	assert_int_equal(log_append_lines(f->l, NULL, 0, body, len, fake_now, 0, &info), 0);
	assert_int_equal(info.line_end, (int64_t)vlen);
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	par_check(f, view, vlen);
	reopen(f, false);
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	par_check(f, view, vlen);
	free(longl);
	free(body);
	free(view);
}

/* Big sequential reads (the whole-batch path) read each .log byte about
 * once: the batch a read starts or ends in is read alone, not with the
 * record path's read-ahead that the next whole batches would read again. */
static void test_big_reads_read_once(void **state)
{
	struct logfx *f = *state;
	struct log_state st;

	logfx_put(f, 0, 300000, 4096);
	log_get_state(f->l, &st);
	assert_true(st.size_bytes > (4 << 20));
	f->fio.pread_bytes = 0;
	size_t len;
	char *all = read_all(f->l, &len, 1 << 20);
	assert_true(len > (3u << 20));
	/* the .log once, its .lines entries (16 bytes a batch), some slack */
	assert_true(f->fio.pread_bytes < st.size_bytes + st.size_bytes / 20);
	free(all);
}

/* The cursor counts the lines it hands out whole: across any read, the
 * newlines in the bytes returned (the records-out metric). */
static void test_cursor_lines(void **state)
{
	struct logfx *f = *state;
	logfx_put(f, 0, 1000, 100);
	size_t chunks[] = { 1, 7, 100, 4096 };
	for (size_t k = 0; k < 4; k++) {
		struct log_cursor *c = log_cursor_new(f->l);
		char buf[4096];
		int64_t pos = 0, seen = 0;
		for (;;) {
			int64_t before = log_cursor_lines(c);
			ssize_t n = log_read_lines(f->l, c, pos, buf, chunks[k], NULL);
			assert_true(n >= 0);
			if (n == 0)
				break;
			int64_t nl = 0;
			for (ssize_t i = 0; i < n; i++)
				nl += buf[i] == '\n';
			assert_int_equal(log_cursor_lines(c) - before, nl);
			seen += nl;
			pos += n;
		}
		assert_int_equal(seen, 1000);
		assert_int_equal(log_cursor_lines(c), 1000);
		log_cursor_free(c);
	}
}

/* The encoding buffers of big appends are shared by the manager's logs:
 * appends one after the other, to any number of partitions, use one set. */
static void test_enc_buffers_shared(void **state)
{
	struct logfx *f = *state;
	static struct rec_in r[PAR_N];
	char *scratch = malloc((size_t)PAR_N * 320);
	struct log *logs[8];
	int sets = 0;

	assert_non_null(scratch);
	par_build(r, 0, PAR_N, scratch);
	logs[0] = f->l;
	for (int i = 1; i < 8; i++)
		assert_int_equal(logmgr_get_log(f->m, "t", i, &f->cfg, true, &logs[i]), 0);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 8; i++)
			assert_int_equal(log_append(logs[i], r, PAR_N, 0, NULL), 0);
	for (int i = 1; i < 8; i++)
		assert_ptr_equal(logs[i]->encs, f->l->encs);
	for (struct encset *es = f->l->encs->free; es; es = es->next)
		sets++;
	assert_int_equal(sets, 1);
	free(scratch);
}

/* Whole-batch reads (two threads): stop at the high watermark, start
 * inside a record, go on across segments, and agree with record-by-record
 * reads, keys and compression included. */
static void test_read_whole_batches(void **state)
{
	struct logfx *f = *state;
	struct log_config cfg = f->cfg;
	struct log_state st;
	size_t cap = 4u << 20, len = 0;
	char *body = malloc(cap), *got = malloc(cap);

	assert_non_null(body);
	assert_non_null(got);
	snprintf(cfg.key_sep, sizeof(cfg.key_sep), "=");
	cfg.key_sep_len = 1;
	cfg.segment_bytes = 1 << 20; /* several segments */
	assert_int_equal(log_reconfigure(f->l, &cfg), 0);
	f->cfg = cfg;
	for (int i = 0; len < (3u << 20); i++)
		/* Every 7th line escaped ("\\\\" is one backslash, shown doubled):
		 * its batch takes the second, escaping decode. */
		len += (size_t)(i % 7 == 0 ? sprintf(body + len, "\\\\\\esc %d\n", i)
				: i % 3    ? sprintf(body + len, "k%d=v%0*d\n", i % 50, i % 150, i)
					   : sprintf(body + len, "plain %d\n", i));
	assert_int_equal(log_append_lines(f->l, NULL, 0, body, len, fake_now, 0, NULL), 0);
	log_get_state(f->l, &st);
	int64_t mid = st.log_end_offset * 2 / 3, mid_pos;
	assert_int_equal(log_set_hw(f->l, mid), 0);
	assert_int_equal(log_offset_to_pos(f->l, mid, &mid_pos), 0);
	struct log_cursor *c = log_cursor_new(f->l);
	size_t n = 0;
	ssize_t g;
	while ((g = log_read_lines(f->l, c, (int64_t)n, got + n, 1 << 20, NULL)) > 0)
		n += (size_t)g;
	assert_true(g == 0);
	assert_int_equal(n, mid_pos); /* not a byte past the hw */
	assert_memory_equal(got, body, n);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	while ((g = log_read_lines(f->l, c, (int64_t)n, got + n, 1 << 20, NULL)) > 0)
		n += (size_t)g;
	assert_int_equal(n, len);
	assert_memory_equal(got, body, len);
	assert_int_equal(log_cursor_lines(c), st.log_end_offset);
	log_cursor_free(c);
	/* From inside a record, in big reads. */
	c = log_cursor_new(f->l);
	n = 12345;
	while ((g = log_read_lines(f->l, c, (int64_t)n, got + n, 700000, NULL)) > 0)
		n += (size_t)g;
	assert_int_equal(n, len);
	assert_memory_equal(got + 12345, body + 12345, len - 12345);
	log_cursor_free(c);
	free(body);
	free(got);
}

/* A follower's truncation cuts batches above the high watermark that a
 * reader's cursor may hold entries and bytes of (read ahead), and other
 * batches are written in their place: reads after it, small and big, show
 * those, as a new cursor does. */
static void test_read_after_truncation(void **state)
{
	struct logfx *f = *state;
	static char vals[1000][32];
	struct rec_in r[1000];
	size_t sizes[] = { 100, 4096, 1 << 20 };

	for (size_t k = 0; k < 3; k++) {
		logfx_put(f, 0, 3000, 100);
		struct log_state st;
		log_get_state(f->l, &st);
		int64_t hw = st.hw, hw_pos;
		for (int i = 0; i < 1000; i++) {
			int len = snprintf(vals[i], sizeof(vals[i]), "above-%d", i);
			r[i] = (struct rec_in){ NULL, -1, vals[i], len, fake_now };
		}
		for (int i = 0; i < 1000; i += 100)
			assert_int_equal(log_append(f->l, r + i, 100, 0, NULL), 0);
		assert_int_equal(log_offset_to_pos(f->l, hw, &hw_pos), 0);
		/* A reader up to the hw, then the uncommitted tail cut and other
		 * records (batches of another size) written and committed. */
		struct log_cursor *c = log_cursor_new(f->l);
		char *buf = malloc(1 << 21), *want = malloc(1 << 21);
		int64_t pos = 0;
		ssize_t g;
		while ((g = log_read_lines(f->l, c, pos, buf, sizes[k], NULL)) > 0)
			pos += g;
		assert_int_equal(pos, hw_pos);
		assert_int_equal(log_truncate_to(f->l, hw), 0);
		for (int i = 0; i < 1000; i++) {
			int len = snprintf(vals[i], sizeof(vals[i]), "x%d", i);
			r[i] = (struct rec_in){ NULL, -1, vals[i], len, fake_now };
		}
		for (int i = 0; i < 1000; i += 37)
			assert_int_equal(
				log_append(f->l, r + i, i + 37 <= 1000 ? 37 : 1000 - i, 0, NULL),
				0);
		assert_int_equal(log_set_hw(f->l, hw + 1000), 0);
		size_t n = 0;
		while ((g = log_read_lines(f->l, c, pos + (int64_t)n, buf + n, sizes[k], NULL)) > 0)
			n += (size_t)g;
		assert_true(g == 0);
		struct log_cursor *fresh = log_cursor_new(f->l);
		assert_int_equal(log_read_lines(f->l, fresh, pos, want, 1 << 21, NULL), n);
		assert_memory_equal(buf, want, n);
		assert_memory_equal(buf, "x0\nx1\n", 6);
		log_cursor_free(fresh);
		log_cursor_free(c);
		free(buf);
		free(want);
		/* Again on a log of its own. */
		assert_int_equal(log_truncate_to(f->l, 0), 0);
	}
}

/* Reads in turn into two buffers, as the mount's reader does (next: the
 * other one), from pos until size bytes are read or the end; the bytes in
 * out. Returns the cursor's bytes decoded ahead. */
static int64_t read_pair(struct log *l, struct log_cursor *c, char *bufs[2], size_t chunk,
			 int64_t pos, char *out, size_t size)
{
	size_t n = 0;
	int k = 0;
	int64_t before = log_cursor_ahead_bytes(c);

	while (n < size) {
		size_t want = size - n < chunk ? size - n : chunk;
		ssize_t g = log_read_lines_ahead(l, c, pos + (int64_t)n, bufs[k], want, NULL,
						 bufs[1 - k]);
		assert_true(g >= 0);
		if (g == 0)
			break;
		memcpy(out + n, bufs[k], (size_t)g);
		n += (size_t)g;
		k = 1 - k;
	}
	assert_int_equal(n, size);
	return log_cursor_ahead_bytes(c) - before;
}

/* The expected lines of records 0..n-1 and the buffers read_pair reads
 * them with. */
struct pair_rd {
	size_t chunk, el;
	char *e, *got, *bufs[2];
};

static void pair_rd_init(struct pair_rd *p, size_t chunk, int n)
{
	p->chunk = chunk;
	p->e = expect_text(0, n, &p->el);
	p->got = malloc(p->el);
	p->bufs[0] = malloc(chunk);
	p->bufs[1] = malloc(chunk);
	assert_true(p->got && p->bufs[0] && p->bufs[1]);
}

static void pair_rd_free(struct pair_rd *p)
{
	free(p->bufs[0]);
	free(p->bufs[1]);
	free(p->got);
	free(p->e);
}

/* Decoding ahead: a reader reading on in big reads gets most bytes from
 * runs a helper decoded while it was away, byte for byte what the log
 * holds; a read elsewhere, or into the other buffer, calls the run off;
 * and a truncation since the run was decoded is seen, not the bytes the
 * run decoded before it. */
static void test_read_ahead(void **state)
{
	struct logfx *f = *state;
	struct pair_rd p;
	pair_rd_init(&p, 64 << 10, 200000);
	const size_t chunk = p.chunk, el = p.el;
	char *e = p.e, *got = p.got, **bufs = p.bufs;

	f->cfg.segment_bytes = 1 << 20; /* runs end at segment ends too */
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	logfx_put(f, 0, 200000, 100);
	struct log_cursor *c = log_cursor_new(f->l);
	/* Read through: most of it decoded ahead. */
	int64_t ahead = read_pair(f->l, c, bufs, chunk, 0, got, el);
	assert_memory_equal(got, e, el);
	assert_true(ahead > (int64_t)el / 2);
	log_cursor_free(c);

	/* A run is started for chunk..; a read at 0 into that buffer calls it
	 * off, then reading on from there is right throughout. */
	c = log_cursor_new(f->l);
	assert_int_equal(log_read_lines_ahead(f->l, c, 0, bufs[0], chunk, NULL, bufs[1]), chunk);
	assert_int_equal(log_read_lines_ahead(f->l, c, 0, bufs[1], chunk, NULL, bufs[0]), chunk);
	assert_memory_equal(bufs[1], e, chunk);
	read_pair(f->l, c, bufs, chunk, (int64_t)chunk, got, 4 * chunk);
	assert_memory_equal(got, e + chunk, 4 * chunk);
	/* The position the run was for (its buffer: bufs[0], read_pair's
	 * next after its fourth read), into the buffer it was not for. */
	int64_t at = (int64_t)(5 * chunk);
	assert_int_equal(log_read_lines_ahead(f->l, c, at, bufs[1], chunk, NULL, bufs[0]), chunk);
	assert_memory_equal(bufs[1], e + at, chunk);
	log_cursor_free(c);

	/* A truncation inside the run's range, then other records: the next
	 * read shows them. */
	c = log_cursor_new(f->l);
	assert_int_equal(log_read_lines_ahead(f->l, c, 0, bufs[0], chunk, NULL, bufs[1]), chunk);
	int64_t cut;
	assert_int_equal(log_pos_to_offset(f->l, (int64_t)(chunk + chunk / 4), &cut), 0);
	cut -= cut % 100; /* a batch's first record */
	assert_int_equal(log_truncate_to(f->l, cut), 0);
	static char vals[1000][32];
	struct rec_in r[1000];
	for (int i = 0; i < 1000; i++) {
		int len = snprintf(vals[i], sizeof(vals[i]), "other-%d", i);
		r[i] = (struct rec_in){ NULL, -1, vals[i], len, fake_now };
	}
	for (int i = 0; i < 20; i++)
		assert_int_equal(log_append(f->l, r, 1000, 0, NULL), 0);
	assert_int_equal(log_set_hw(f->l, cut + 20000), 0);
	size_t want = 2 * chunk;
	struct log_cursor *fresh = log_cursor_new(f->l);
	char *oracle = malloc(want);
	assert_int_equal(log_read_lines(f->l, fresh, (int64_t)chunk, oracle, want, NULL), want);
	assert_non_null(memmem(oracle, want, "other-0\n", 8));
	read_pair(f->l, c, bufs + 0, chunk, (int64_t)chunk, got, want);
	assert_memory_equal(got, oracle, want);
	log_cursor_free(fresh);
	log_cursor_free(c);
	free(oracle);
	pair_rd_free(&p);
}

/* A cursor's buffers (read-ahead, decoding ahead) go to the shelf when
 * it is freed, and the next cursor takes them back (util/shelf.h): its
 * pages are mapped already, where a new buffer faults each one in. */
static void test_read_buffers_shelved(void **state)
{
	struct logfx *f = *state;
	struct pair_rd p;
	pair_rd_init(&p, 256 << 10, 50000);
	logfx_put(f, 0, 50000, 100);
	shelf_clear();
	struct log_cursor *c = log_cursor_new(f->l);
	assert_true(read_pair(f->l, c, p.bufs, p.chunk, 0, p.got, p.el) > 0);
	assert_memory_equal(p.got, p.e, p.el);
	assert_int_equal(shelf_bytes(), 0);
	log_cursor_free(c);
	size_t kept = shelf_bytes();
	assert_true(kept >= 2 * (size_t)SHELF_MIN); /* read-ahead and decoding ahead */

	c = log_cursor_new(f->l);
	memset(p.got, 0, p.el);
	assert_true(read_pair(f->l, c, p.bufs, p.chunk, 0, p.got, p.el) > 0);
	assert_memory_equal(p.got, p.e, p.el);
	assert_true(shelf_bytes() < kept);
	log_cursor_free(c);
	assert_true(shelf_bytes() >= kept);
	shelf_clear();
	pair_rd_free(&p);
}

/* A leader's append whose epoch is behind the log's latest (its
 * leadership was renewed in a later epoch after it took the epoch) is
 * refused LOG_EPOCH_BEHIND, nothing appended, by each leader append
 * (records, lines, a client's batches); in the latest epoch, or with no
 * epoch (-1), it is taken. A batch of epoch 4 after epoch 5 began would
 * be refused by every follower. */
static void test_append_epoch_behind(void **state)
{
	struct logfx *fx = *state;
	struct rec_in r = { .key = NULL, .key_len = -1, .value = "v", .value_len = 1 };
	struct batch_producer pr = { -1, -1, -1 };
	struct log_append_info info;
	struct log_state st0, st;
	uint8_t *buf;
	size_t len;

	assert_int_equal(log_assign_epoch(fx->l, 4, 0), 0);
	assert_int_equal(log_append(fx->l, &r, 1, 4, &info), 0);
	assert_int_equal(log_assign_epoch(fx->l, 5, info.last_offset + 1), 0);
	log_get_state(fx->l, &st0);
	assert_int_equal(log_append(fx->l, &r, 1, 4, &info), LOG_EPOCH_BEHIND);
	assert_int_equal(log_append_lines(fx->l, NULL, 0, "a\n", 2, fake_now, 4, &info),
			 LOG_EPOCH_BEHIND);
	assert_int_equal(log_encode_batches(&fx->cfg, &r, 1, &pr, &buf, &len, NULL), 0);
	assert_int_equal(log_append_client(fx->l, buf, len, 4, -1, &info, NULL), LOG_EPOCH_BEHIND);
	log_get_state(fx->l, &st);
	assert_int_equal(st.log_end_offset, st0.log_end_offset);
	assert_int_equal(log_append_client(fx->l, buf, len, 5, -1, &info, NULL), 0);
	free(buf);
	assert_int_equal(log_append(fx->l, &r, 1, 5, &info), 0);
	assert_int_equal(log_append_lines(fx->l, NULL, 0, "a\n", 2, fake_now, -1, &info), 0);
	log_get_state(fx->l, &st);
	assert_int_equal(st.log_end_offset, st0.log_end_offset + 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_replica_hw_without_checkpoint, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_read_ahead, setup_helper, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_read_buffers_shelved, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_read_after_truncation, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_null_value_read, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_light_state, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_and_lookups, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_max_time_lookup, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_hw_limits_reads, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_failed_roll_leaves_no_files,
						setup_small_segments, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_half_made_roll_on_full_disk, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_tail_read_across_roll, setup_small_segments,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_tail_read_while_entries_written, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_keys_line_view, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_reconfigure_under_reader, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_msgsize, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recover_cut_every_byte, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_recover_garbage_and_indexes, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_injected_errors, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_power_cut, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_compacted, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_truncate_and_epochs, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_render, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_index_full_and_age, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_kafka_minimums, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_final_timeindex_entry, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_index_full_in_one_append, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_async_roll_flush_and_prefix, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_hw_never_back, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_cut_durable, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_close_cut_durable, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_time_lookup_checks_entry_once, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_time_lookup_damaged_entry, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_clean_open_offset_wraps, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_after_retention, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_lines_checked, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_damage_kept, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_damage_base_offset, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_epochs_past_end_dropped, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_clean_stop_below_hw, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_checkpointed_log_start, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_flush_closed_truncated_meanwhile, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_ftruncate_failures, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_parallel_append, setup_helper, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_parallel_append, setup_helper_lz4,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_parallel_append_slow_writes, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_parallel_append_short_writes, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_parallel_append_fails_whole, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_failed_rollback_fences, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_append_lines, setup_helper, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_append_plain_lines, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_big_reads_read_once, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_cursor_lines, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_enc_buffers_shared, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_read_whole_batches, setup_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_read_whole_batches, setup_helper_lz4,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_read_whole_batches, setup_no_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_append_lines, setup_no_helper, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_jitter_and_max_lag, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_preallocate, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_clean_open_reads_lines_in_blocks, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_append_plain_lines, setup_no_helper,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_append_epoch_behind, setup, logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
