/*
 * test_retention.c — retention (engine/retention.c): selection by time, by
 * size, both, never the active segment, only below the hw; the log start
 * offset and positions after deletion; a reader holding a deleted segment;
 * file.delete.delay.ms;
 * the log start across reopen; crash points during deletion; DeleteRecords
 * (log_delete_records): a start inside a segment, its bounds, its listener
 * and its checkpoint, and lookups by time after it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "repl/config.h"
#include "tests/unit/logfx.h"


static void tune(struct log_config *cfg)
{
	cfg->segment_bytes = 2048;
	cfg->retention_ms = 60000;
	cfg->file_delete_delay_ms = 0; /* files go at the last reference */
}

static int setup(void **state)
{
	engine_batch_read_min = 64; /* whole-batch reads too */
	return logfx_setup(state, "ret", tune);
}

/* Appends records "value-<i>" for i in [from, from+n), ten per call,
 * stamped ts (-1: none), and commits them. */
static void put_ts(struct logfx *f, int from, int n, int64_t ts)
{
	char vals[10][32];
	struct rec_in r[10];
	for (int i = 0; i < n;) {
		int k = 0;
		for (; k < 10 && i < n; k++, i++) {
			int len = snprintf(vals[k], sizeof(vals[k]), "value-%d", from + i);
			r[k] = (struct rec_in){ NULL, -1, vals[k], len, ts };
		}
		assert_int_equal(log_append(f->l, r, k, 0, NULL), 0);
	}
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
}

/* The same stamped with the fake clock. */
static void put(struct logfx *f, int from, int n)
{
	put_ts(f, from, n, fake_now);
}

/* Line position of record i when every record 0..i-1 is "value-<j>\n". */
static int64_t pos_of(int i)
{
	int64_t p = 0;
	for (int j = 0; j < i; j++) {
		char b[32];
		p += snprintf(b, sizeof(b), "value-%d\n", j);
	}
	return p;
}

static bool exists(struct logfx *f, int64_t base, const char *ext)
{
	char p[512];
	struct stat st;
	snprintf(p, sizeof(p), "%s/t-0/%020lld%s", f->dir, (long long)base, ext);
	return stat(p, &st) == 0;
}

static void test_by_time(void **state)
{
	struct logfx *f = *state;
	put(f, 0, 300);     /* old: several segments */
	fake_now += 120000; /* two minutes later */
	put(f, 300, 300);   /* new */
	struct log_state st0, st;
	log_get_state(f->l, &st0);
	assert_true(st0.segments > 6);
	struct log_retention_result res;
	int n = log_retention_run(f->l, fake_now, &res);
	assert_true(n > 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, st0.segments - n);
	assert_int_equal(res.segments, n);
	assert_true(res.bytes > 0);
	/* Only old records went: the log starts at a segment base <= 300 and
	 * everything from 300 on is still there. */
	assert_true(st.log_start_offset > 0 && st.log_start_offset <= 300);
	assert_int_equal(res.log_start_offset, st.log_start_offset);
	assert_int_equal(st.line_hw, st0.line_hw); /* st_size never shrinks */
	assert_int_equal(st.line_start, pos_of((int)st.log_start_offset));
	/* The files are gone (no reader held them). */
	assert_false(exists(f, 0, ".log"));
	assert_false(exists(f, 0, ".log.deleted"));
	/* A read at position 0 starts at the first retained record, at its
	 * original position. */
	struct log_cursor *c = log_cursor_new(f->l);
	char buf[64], want[64];
	int64_t actual = -1;
	ssize_t got = log_read_lines(f->l, c, 0, buf, sizeof(buf), &actual);
	assert_true(got > 0);
	assert_int_equal(actual, pos_of((int)st.log_start_offset));
	int wl = snprintf(want, sizeof(want), "value-%lld\n", (long long)st.log_start_offset);
	assert_memory_equal(buf, want, (size_t)wl);
	/* Positions of records that stay did not move. */
	int64_t p;
	assert_int_equal(log_offset_to_pos(f->l, 450, &p), 0);
	assert_int_equal(p, pos_of(450));
	log_cursor_free(c);
	/* A second run finds nothing more. */
	assert_int_equal(log_retention_run(f->l, fake_now, NULL), 0);
	/* The log start survives a reopen (checkpoint), clean or not. */
	logmgr_close(f->m);
	logfx_open(f);
	struct log_state st2;
	log_get_state(f->l, &st2);
	assert_int_equal(st2.log_start_offset, st.log_start_offset);
	assert_int_equal(st2.line_hw, st.line_hw);
	logmgr_abandon(f->m);
	logfx_open(f);
	log_get_state(f->l, &st2);
	assert_int_equal(st2.log_start_offset, st.log_start_offset);
	assert_int_equal(st2.line_start, st.line_start);
}

/* Records without a timestamp (-1: a Kafka client may send it) age from
 * their segment's last append, as Kafka's lastModified, not at once: a
 * segment of them stays retention.ms like any other; after a reopen the
 * .log's mtime stands for the last append. */
static void test_no_timestamp(void **state)
{
	struct logfx *f = *state;
	struct log_state st0, st;

	put_ts(f, 0, 300, -1);
	log_get_state(f->l, &st0);
	assert_true(st0.segments > 3);
	/* Younger than retention.ms (60 s): nothing goes. */
	assert_int_equal(log_retention_run(f->l, fake_now + 1000, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, 0);
	assert_int_equal(st.segments, st0.segments);
	/* Reopened, the files' mtime (the real clock) ages them: kept at the
	 * fake clock, which is years behind, and gone once the real clock is
	 * past it by retention.ms. */
	logmgr_close(f->m);
	logfx_open(f);
	assert_int_equal(log_retention_run(f->l, fake_now + 120000, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, 0);
	int64_t real = (int64_t)time(NULL) * 1000;

	/* Every segment, the active one too (rolled first, as Kafka's). */
	assert_int_equal(log_retention_run(f->l, real + 120000, NULL), st0.segments);
	logmgr_close(f->m);
	logfx_open(f);
	/* In memory, the last append's clock ages them. */
	put_ts(f, 300, 300, -1);
	log_get_state(f->l, &st0);
	int64_t start = st0.log_start_offset;

	assert_int_equal(log_retention_run(f->l, fake_now + 1000, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, start);
	assert_true(log_retention_run(f->l, fake_now + 120000, NULL) > 0);
	log_get_state(f->l, &st);
	assert_true(st.log_start_offset > start);
}

/* Five records stamped ts in one active segment (segment.ms 1 s), the
 * log reopened; then a retention pass at now rolls it and removes it
 * whole. */
static void quiet_active_goes(struct logfx *f, int64_t ts, int64_t now)
{
	struct rec_in r = { NULL, -1, "x", 1, ts };
	struct log_state st;

	f->cfg.segment_ms = 1000;
	log_reconfigure(f->l, &f->cfg);
	for (int i = 0; i < 5; i++)
		assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	assert_int_equal(st.segments, 1);
	logmgr_close(f->m);
	logfx_open(f);
	assert_int_equal(log_retention_run(f->l, now, NULL), 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, 5);
	assert_int_equal(st.log_end_offset, 5);
}

/* The same for segment.ms: an active segment of such records opened from
 * disk rolls once its .log's mtime is older, then ages out. */
static void test_no_timestamp_roll(void **state)
{
	quiet_active_goes(*state, -1, (int64_t)time(NULL) * 1000 + 120000);
}

/* Records stamped 0 (the epoch; a Kafka client may send it) age from
 * that timestamp, as Kafka's: an active segment of them opened from disk
 * rolls once segment.ms is past (its first batch's maxTimestamp, 0, is a
 * start, not "none"), then goes by retention.ms, as it does without the
 * restart. */
static void test_epoch_timestamp_roll(void **state)
{
	quiet_active_goes(*state, 0, fake_now);
}

/* segment.ms counts from the active segment's first batch, also across
 * a restart: appends that go on after the open roll once the first
 * batch is older than segment.ms, as Kafka's LogSegment (its
 * rollingBasedTimestamp, loaded from the first batch). */
static void test_roll_age_across_restart(void **state)
{
	struct logfx *f = *state;
	struct log_state st;

	f->cfg.segment_ms = 1000;
	log_reconfigure(f->l, &f->cfg);
	put(f, 0, 5);
	logmgr_close(f->m);
	logfx_open(f);
	fake_now += 600;
	put(f, 5, 5);
	fake_now += 600;
	put(f, 10, 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 2);
}

/* A truncation that empties the active segment (a follower's, to its
 * base) starts its segment.ms age again at the next append: the batches
 * that were cut do not age the ones that follow. */
static void test_roll_age_after_truncation(void **state)
{
	struct logfx *f = *state;
	struct log_state st;

	f->cfg.segment_ms = 1000;
	log_reconfigure(f->l, &f->cfg);
	put(f, 0, 5);
	assert_int_equal(log_truncate_to(f->l, 0), 0);
	fake_now += 2000;
	put(f, 0, 5);
	fake_now += 500;
	put(f, 5, 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.log_end_offset, 6);
}

/* A segment opened from disk takes its segment.ms start from its first
 * batch's header alone: a truncation that makes such a segment active
 * again (its start not loaded at the open, it was not the active one)
 * reads 61 bytes of that batch, not its 14 KiB of records, and the start
 * is the batch's max timestamp. */
static void test_roll_age_from_first_header(void **state)
{
	struct logfx *f = *state;
	static char big[4][3500];
	struct rec_in r[4];
	int64_t t0 = fake_now - 5000;

	f->cfg.segment_bytes = 64 << 10;
	log_reconfigure(f->l, &f->cfg);
	for (int i = 0; i < 4; i++) {
		memset(big[i], 'a' + i, sizeof(big[i]));
		r[i] = (struct rec_in){ NULL, -1, big[i], sizeof(big[i]), t0 + i };
	}
	assert_int_equal(log_append(f->l, r, 4, 0, NULL), 0);
	put(f, 4, 10);
	f->cfg.segment_bytes = 2048; /* the next append rolls */
	log_reconfigure(f->l, &f->cfg);
	put(f, 14, 10);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 2);
	logmgr_close(f->m);
	logfx_open(f);
	f->fio.pread_bytes = 0;
	assert_int_equal(log_truncate_to(f->l, 14), 0);
	assert_int_equal(log_active(f->l)->base_offset, 0);
	/* The first batch's records are about 14 KiB: not one of them read. */
	assert_true(f->fio.pread_bytes < 4 << 10);
	assert_int_equal(log_active(f->l)->first_append_ms, t0 + 3); /* one batch: 0..3 */
}

static void test_by_size(void **state)
{
	struct logfx *f = *state;
	f->cfg.retention_ms = -1;
	f->cfg.retention_bytes = 6000;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	put(f, 0, 800);
	struct log_state st0, st;
	log_get_state(f->l, &st0);
	int n = log_retention_run(f->l, fake_now, NULL);
	assert_true(n > 0);
	log_get_state(f->l, &st);
	/* Kafka's rule: delete oldest while the rest is still >= retention.bytes. */
	assert_true(st.size_bytes >= 6000);
	int64_t *bases;
	int nb;
	assert_int_equal(log_segments(f->l, &bases, &nb), 0);
	assert_true(st.size_bytes - log_segment_size(f->l, bases[0], SEG_LOG) < 6000);
	free(bases);
	assert_int_equal(st.line_hw, st0.line_hw);
	/* Size retention off: nothing more goes, whatever the time. */
	f->cfg.retention_bytes = -1;
	log_reconfigure(f->l, &f->cfg);
	fake_now += 1000LL * 3600 * 1000;
	assert_int_equal(log_retention_run(f->l, fake_now, NULL), 0);
}

static void test_both_and_policy(void **state)
{
	struct logfx *f = *state;
	f->cfg.retention_bytes = 1000000; /* size alone would keep all */
	log_reconfigure(f->l, &f->cfg);
	put(f, 0, 200);
	fake_now += 30000;
	put(f, 200, 200);
	fake_now += 40000; /* first part 70 s old, second 40 s */
	/* compact only: no retention at all */
	f->cfg.cleanup_policy = LOG_CLEANUP_COMPACT;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_retention_run(f->l, fake_now, NULL), 0);
	f->cfg.cleanup_policy = LOG_CLEANUP_COMPACT | LOG_CLEANUP_DELETE;
	log_reconfigure(f->l, &f->cfg);
	int n = log_retention_run(f->l, fake_now, NULL);
	assert_true(n > 0);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_true(st.log_start_offset <= 200);
	/* Now size wins over time. */
	f->cfg.retention_bytes = 1500;
	log_reconfigure(f->l, &f->cfg);
	assert_true(log_retention_run(f->l, fake_now, NULL) > 0);
	log_get_state(f->l, &st);
	assert_true(st.log_start_offset > 200);
}

static void test_never_active_and_hw(void **state)
{
	struct logfx *f = *state;
	f->cfg.segment_ms = 1000LL * 3600 * 1000; /* no time roll */
	log_reconfigure(f->l, &f->cfg);
	put(f, 0, 300);
	/* Records above the hw keep their segments, the active one too. */
	struct rec_in r = { NULL, -1, "x", 1, fake_now };
	struct log_state st;
	log_get_state(f->l, &st);
	int64_t hw = st.hw;
	for (int i = 0; i < 200; i++)
		assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	fake_now += 3600 * 1000;
	log_retention_run(f->l, fake_now, NULL);
	log_get_state(f->l, &st);
	assert_true(st.log_start_offset <= hw);
	assert_true(st.segments > 1);
	/* With everything committed and old, every segment goes, the active
	 * one too, as Kafka's retention takes it (rolled at the log end
	 * first: a log keeps one segment), however young segment.ms keeps
	 * it: the start moves to the log end, st_size stays. */
	log_set_hw(f->l, st.log_end_offset);
	log_get_state(f->l, &st);
	int64_t line_hw = st.line_hw;
	int64_t active = log_active(f->l)->base_offset;
	assert_true(log_retention_run(f->l, fake_now, NULL) > 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.log_start_offset, st.log_end_offset);
	assert_int_equal(st.line_hw, line_hw);
	assert_int_equal(st.line_start, line_hw);
	assert_false(exists(f, active, ".log"));
	assert_true(exists(f, st.log_end_offset, ".log"));
	/* Appends go on at the same offsets and positions. */
	put(f, 0, 1);
	struct log_state st2;
	log_get_state(f->l, &st2);
	assert_int_equal(st2.log_end_offset, st.log_end_offset + 1);
	assert_int_equal(st2.line_hw, line_hw + 8);
	/* A young record keeps its (active) segment. */
	assert_int_equal(log_retention_run(f->l, fake_now, NULL), 0);
	/* The start survives a crash and a clean reopen. */
	logmgr_abandon(f->m);
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, st2.log_end_offset - 1);
	assert_int_equal(st.line_start, line_hw);
}

/* Size retention takes the active segment too when it is all that is
 * over retention.bytes (0: everything committed), as Kafka's. */
static void test_by_size_active(void **state)
{
	struct logfx *f = *state;
	f->cfg.retention_ms = -1;
	f->cfg.retention_bytes = 0;
	f->cfg.segment_bytes = 1 << 20; /* one segment */
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	put(f, 0, 50);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(log_retention_run(f->l, fake_now, NULL), 1);
	log_get_state(f->l, &st);
	assert_int_equal(st.segments, 1);
	assert_int_equal(st.log_start_offset, 50);
	assert_int_equal(st.log_end_offset, 50);
	/* An empty log has nothing more to give. */
	assert_int_equal(log_retention_run(f->l, fake_now, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, 50);
}

static void test_reader_holds_segment(void **state)
{
	struct logfx *f = *state;
	put(f, 0, 300);
	fake_now += 120000;
	put(f, 300, 100);
	/* A reader in the middle of segment 0. */
	struct log_cursor *c = log_cursor_new(f->l);
	char buf[1 << 16];
	ssize_t got = log_read_lines(f->l, c, 0, buf, 100, NULL);
	assert_int_equal(got, 100);
	int64_t *bases;
	int nb;
	assert_int_equal(log_segments(f->l, &bases, &nb), 0);
	int64_t seg0_end = bases[1];
	free(bases);
	assert_true(log_retention_run(f->l, fake_now, NULL) > 0);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_true(st.log_start_offset > seg0_end);
	/* Its files are renamed, not gone, while the cursor holds it. */
	assert_false(exists(f, 0, ".log"));
	assert_true(exists(f, 0, ".log.deleted"));
	assert_true(exists(f, 0, ".lines.deleted"));
	/* It reads on sequentially: the rest of segment 0 (the bytes it had),
	 * then on at the first retained record (the segments in between are
	 * gone: a gap, as a read at a removed position). */
	size_t n = 100;
	int64_t pos = 100, actual;
	for (;;) {
		ssize_t g = log_read_lines(f->l, c, pos, buf + n, 997, &actual);
		assert_true(g >= 0);
		if (g == 0)
			break;
		n += (size_t)g;
		pos = actual + g;
	}
	size_t el = 0;
	char *e = malloc(1 << 16);
	for (int i = 0; i < 400; i++)
		if (i < seg0_end || i >= st.log_start_offset)
			el += (size_t)sprintf(e + el, "value-%d\n", i);
	assert_int_equal(n, el);
	assert_memory_equal(buf, e, el);
	free(e);
	log_cursor_free(c);
	/* The last reference is gone: so are the files. */
	assert_false(exists(f, 0, ".log.deleted"));
	assert_false(exists(f, 0, ".lines.deleted"));
}

/* The work listener's calls (log_set_work_listener). */
static int work_calls;

static void count_work(void *arg)
{
	(void)arg;
	work_calls++;
}

/* file.delete.delay.ms: the segments leave the log at once (start, reads
 * and positions as without the delay), their files stay as .deleted
 * until the delay from the removal is out (log_delete_due), and a
 * leftover .deleted file is removed when the log opens. The work
 * listener hears of the rolls and of the removal, and log_sched_next
 * tells when the files are due. */
static void test_delete_delay(void **state)
{
	struct logfx *f = *state;
	struct log_config cfg = f->l->cfg;
	struct log_state st0, st;
	char buf[64], want[64], p[512];
	int64_t actual = -1, removed_at, due;

	cfg.file_delete_delay_ms = 60000;
	assert_int_equal(log_reconfigure(f->l, &cfg), 0);
	work_calls = 0;
	log_set_work_listener(f->l, count_work, NULL);
	put(f, 0, 300);
	fake_now += 120000;
	put(f, 300, 300);
	assert_true(work_calls > 0);             /* rolled */
	assert_true(log_sched_next(f->l, &due)); /* closed segments to flush */
	assert_int_equal(due, INT64_MAX);
	assert_int_equal(log_flush_closed(f->l), 0);
	assert_false(log_sched_next(f->l, &due)); /* no trim listener here */
	log_get_state(f->l, &st0);
	removed_at = fake_now;
	work_calls = 0;
	assert_true(log_retention_run(f->l, fake_now, NULL) > 0);
	assert_true(work_calls > 0); /* removed */
	(void)log_sched_next(f->l, &due);
	assert_int_equal(due, removed_at + 60000);
	log_get_state(f->l, &st);
	assert_true(st.log_start_offset > 0);
	assert_int_equal(st.line_hw, st0.line_hw);
	assert_false(exists(f, 0, ".log"));
	assert_true(exists(f, 0, ".log.deleted"));
	assert_true(exists(f, 0, ".lines.deleted"));
	/* Out of the log already: a read at 0 starts at the log start. */
	struct log_cursor *c = log_cursor_new(f->l);
	ssize_t got = log_read_lines(f->l, c, 0, buf, sizeof(buf), &actual);
	assert_true(got > 0);
	assert_int_equal(actual, pos_of((int)st.log_start_offset));
	int wl = snprintf(want, sizeof(want), "value-%lld\n", (long long)st.log_start_offset);
	assert_memory_equal(buf, want, (size_t)wl);
	log_cursor_free(c);
	/* A shorter delay set since does not hasten it. */
	cfg.file_delete_delay_ms = 1;
	assert_int_equal(log_reconfigure(f->l, &cfg), 0);
	assert_int_equal(log_delete_due(f->l, removed_at + 59999), 0);
	assert_true(exists(f, 0, ".log.deleted"));
	assert_true(log_delete_due(f->l, removed_at + 60000) > 0);
	(void)log_sched_next(f->l, &due);
	assert_int_equal(due, INT64_MAX);
	assert_false(exists(f, 0, ".log.deleted"));
	assert_false(exists(f, 0, ".lines.deleted"));
	assert_int_equal(log_delete_due(f->l, removed_at + 60000), 0);
	/* A crash's leftover goes at the next open. */
	snprintf(p, sizeof(p), "%s/t-0/%020d.log.deleted", f->dir, 7);
	FILE *o = fopen(p, "w");
	assert_non_null(o);
	fclose(o);
	logmgr_abandon(f->m);
	logfx_open(f);
	assert_false(exists(f, 7, ".log.deleted"));
	log_get_state(f->l, &st0);
	assert_int_equal(st0.log_start_offset, st.log_start_offset);
}

/* kill -9 (or a power cut) at every mutating step of a retention run:
 * the reopened log is consistent and every retained record readable. */
static void test_crash_points(void **state)
{
	struct logfx *f = *state;
	put(f, 0, 300);
	fake_now += 120000;
	put(f, 300, 200);
	logfx_keep(f);
	bool finished = false;
	for (int point = 1; !finished && point < 200; point++) {
		logfx_restore(f, point);
		int rc = log_retention_run(f->l, fake_now, NULL);
		finished = !f->fio.dead;
		if (finished)
			assert_true(rc > 0);
		logfx_power_cut(f, (unsigned)point);
		struct log_state st;
		log_get_state(f->l, &st);
		assert_true(st.log_start_offset <= 300);
		assert_int_equal(st.log_end_offset, 500);
		assert_int_equal(st.line_start, pos_of((int)st.log_start_offset));
		/* Every record from the log start on, in order, at its position. */
		struct log_cursor *c = log_cursor_new(f->l);
		static char buf[1 << 16], e[1 << 16];
		size_t n = 0, el = 0;
		int64_t actual = -1;
		for (;;) {
			ssize_t g = log_read_lines(f->l, c, n ? st.line_start + (int64_t)n : 0,
						   buf + n, 4096, n ? NULL : &actual);
			assert_true(g >= 0);
			if (g == 0)
				break;
			n += (size_t)g;
		}
		assert_int_equal(actual, st.line_start);
		for (int i = (int)st.log_start_offset; i < 500; i++)
			el += (size_t)sprintf(e + el, "value-%d\n", i);
		assert_int_equal(n, el);
		assert_memory_equal(buf, e, el);
		log_cursor_free(c);
		logmgr_close(f->m);
	}
	assert_true(finished);
	f->m = NULL;
	logfx_drop_copy(f);
}

/* The settings (repl/config.c): Kafka's precedence of log.retention.*,
 * -1, policies, ratios; bad values refused with nothing changed. */
static int starts_seen;
static int64_t start_seen;

static void start_moved(void *arg, const char *topic, int partition, int64_t start)
{
	(void)arg;
	assert_string_equal(topic, "t");
	assert_int_equal(partition, 0);
	starts_seen++;
	start_seen = start;
}

static void test_delete_records(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	struct log_raw raw;
	int64_t start = -1;

	put(f, 0, 600);
	log_set_start_listener(f->l, start_moved, NULL);
	starts_seen = 0;
	assert_int_equal(log_delete_records(f->l, 601, false, &start), -ERANGE); /* above the hw */
	assert_int_equal(log_delete_records(f->l, -1, false, &start), -ERANGE);
	assert_int_equal(start, 0);
	assert_int_equal(starts_seen, 0);
	/* Inside a segment: the start moves there, the segments wholly below
	 * go, the rest of its segment stays but is not read. */
	assert_int_equal(log_delete_records(f->l, 250, false, &start), 0);
	assert_int_equal(start, 250);
	assert_int_equal(starts_seen, 1);
	assert_int_equal(start_seen, 250);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, 250);
	assert_int_equal(st.line_start, pos_of(250));
	assert_false(exists(f, 0, ".log"));
	struct log_cursor *c = log_cursor_new(f->l);
	char buf[64];
	int64_t actual = -1;
	assert_true(log_read_lines(f->l, c, 0, buf, sizeof(buf), &actual) > 0);
	assert_int_equal(actual, pos_of(250));
	assert_memory_equal(buf, "value-250\n", 10);
	log_cursor_free(c);
	assert_int_equal(log_read_raw(f->l, 249, -1, 1 << 20, &raw), -ERANGE);
	assert_int_equal(log_read_raw(f->l, 250, -1, 1 << 20, &raw), 0);
	assert_true(raw.len > 0);
	log_raw_release(&raw);
	/* At or below the start: nothing changes. */
	assert_int_equal(log_delete_records(f->l, 100, false, &start), 0);
	assert_int_equal(start, 250);
	assert_int_equal(starts_seen, 1);
	/* Checkpointed, it survives a kill -9. */
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	logmgr_abandon(f->m);
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, 250);
	assert_int_equal(st.line_start, pos_of(250));
	/* Up to the hw: nothing left to read. */
	assert_int_equal(log_delete_records(f->l, 600, false, &start), 0);
	assert_int_equal(start, 600);
	c = log_cursor_new(f->l);
	assert_int_equal(log_read_lines(f->l, c, 0, buf, sizeof(buf), NULL), 0);
	log_cursor_free(c);
	put(f, 600, 10);
	c = log_cursor_new(f->l);
	assert_true(log_read_lines(f->l, c, 0, buf, sizeof(buf), &actual) > 0);
	assert_int_equal(actual, pos_of(600));
	log_cursor_free(c);
	/* Kafka refuses it on a topic that is compacted only. */
	f->cfg.cleanup_policy = LOG_CLEANUP_COMPACT;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_delete_records(f->l, 605, false, &start), -EPERM);
	assert_int_equal(start, 600);
}

/* Lookups by time after DeleteRecords moved the log start inside a
 * batch: a segment's largest timestamp and its time index still count the
 * records below the start, yet no lookup answers one of them (Kafka's
 * fetchOffsetByTimestamp searches from the log start). Record i is
 * stamped fake_now + i, but for a peak below the start (243) and another
 * above it in the same batch (247); the start moves to 245. */
static void test_time_lookup_after_delete_records(void **state)
{
	struct logfx *f = *state;
	char vals[10][32];
	struct rec_in r[10];
	struct log_state st;
	int64_t start, o, ts;

	for (int b = 0; b < 60; b++) {
		for (int k = 0; k < 10; k++) {
			int i = b * 10 + k;
			int64_t t = i == 243 ? 10000 : i == 247 ? 9000 : i;
			r[k] = (struct rec_in){ NULL, -1, vals[k],
						snprintf(vals[k], sizeof(vals[k]), "value-%d", i),
						fake_now + t };
		}
		assert_int_equal(log_append(f->l, r, 10, 0, NULL), 0);
	}
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	assert_int_equal(log_delete_records(f->l, 245, false, &start), 0);
	assert_int_equal(start, 245);
	for (int round = 0; round < 2; round++) {
		/* Before the start the time is reached at once: the start. */
		assert_int_equal(log_time_lookup(f->l, fake_now + 100, &o, &ts), 0);
		assert_int_equal(o, 245);
		assert_int_equal(ts, fake_now + 245);
		/* Reached only below the start: none. */
		assert_int_equal(log_time_lookup(f->l, fake_now + 9500, &o, &ts), -ERANGE);
		assert_int_equal(log_time_lookup(f->l, fake_now + 5000, &o, &ts), 0);
		assert_int_equal(o, 247);
		assert_int_equal(ts, fake_now + 9000);
		/* The first in offset order, as Kafka's. */
		assert_int_equal(log_time_to_offset(f->l, fake_now + 248, &o), 0);
		assert_int_equal(o, 247);
		/* The largest timestamp from the start on. */
		assert_int_equal(log_max_time_lookup(f->l, &o, &ts), 0);
		assert_int_equal(o, 247);
		assert_int_equal(ts, fake_now + 9000);
		/* The same with the start read back from its checkpoint. */
		assert_int_equal(logmgr_checkpoint(f->m), 0);
		logmgr_abandon(f->m);
		logfx_open(f);
	}
}

/* The line view's bytes [from, to), all present now. */
static void lines_at(struct logfx *f, int64_t from, int64_t to, char *out)
{
	struct log_cursor *c = log_cursor_new(f->l);
	int64_t pos = from;

	while (pos < to) {
		int64_t actual = -1;
		ssize_t n = log_read_lines(f->l, c, pos, out + (pos - from), (size_t)(to - pos),
					   &actual);
		assert_true(n > 0);
		assert_int_equal(actual, pos);
		pos += n;
	}
	log_cursor_free(c);
}

/* The bytes of the page that holds a new log start, below it, stay
 * readable through log_read_head (a reader through the page cache asks
 * for whole pages); nothing else of the removed records does. */
static void test_start_page_kept(void **state)
{
	struct logfx *f = *state;
	static char before[64 << 10], got[8192];
	int64_t page = sysconf(_SC_PAGESIZE), start;
	struct log_state st;

	put(f, 0, 3000);
	log_get_state(f->l, &st);
	assert_true(st.line_hw < (int64_t)sizeof(before));
	lines_at(f, 0, st.line_hw, before);
	/* Retention by size: whole segments go, the start moves to a
	 * segment's first line. */
	f->cfg.retention_ms = -1;
	f->cfg.retention_bytes = st.size_bytes - 3 * 2048;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	assert_true(log_retention_run(f->l, fake_now, NULL) > 0);
	log_get_state(f->l, &st);
	int64_t ls = st.line_start, fl = ls - ls % page;
	assert_true(ls > fl); /* these segments' starts are not at a page's */
	assert_int_equal(log_read_head(f->l, fl, got, sizeof(got)), ls - fl);
	assert_memory_equal(got, before + fl, (size_t)(ls - fl));
	/* Up to size; from inside the page; not at the start. */
	assert_int_equal(log_read_head(f->l, fl, got, 3), 3);
	assert_int_equal(log_read_head(f->l, ls - 1, got, sizeof(got)), 1);
	assert_int_equal(got[0], before[ls - 1]);
	assert_int_equal(log_read_head(f->l, ls, got, sizeof(got)), 0);
	/* A plain read below the start still skips to it. */
	struct log_cursor *c = log_cursor_new(f->l);
	int64_t actual = -1;
	assert_true(log_read_lines(f->l, c, fl, got, 16, &actual) > 0);
	assert_int_equal(actual, ls);
	log_cursor_free(c);
	/* DeleteRecords to a record a few lines on: the kept bytes follow
	 * the start, led by those kept before when the page is the same. */
	int64_t off = st.log_start_offset + 5;
	assert_int_equal(log_delete_records(f->l, off, false, &start), 0);
	log_get_state(f->l, &st);
	int64_t ls2 = st.line_start, fl2 = ls2 - ls2 % page;
	assert_true(ls2 > ls);
	/* From the page's start: what was kept before leads. */
	assert_true(ls2 > fl2);
	assert_int_equal(log_read_head(f->l, fl2, got, sizeof(got)), ls2 - fl2);
	assert_memory_equal(got, before + fl2, (size_t)(ls2 - fl2));
	/* The page's bytes below the start of a page further on: none kept of
	 * the pages before it. */
	assert_int_equal(log_delete_records(f->l, 2000, false, &start), 0);
	log_get_state(f->l, &st);
	int64_t ls3 = st.line_start, fl3 = ls3 - ls3 % page;
	assert_true(fl3 > fl2);
	assert_int_equal(log_read_head(f->l, fl3 - 1, got, sizeof(got)), 0);
	if (ls3 > fl3) {
		assert_int_equal(log_read_head(f->l, fl3, got, sizeof(got)), ls3 - fl3);
		assert_memory_equal(got, before + fl3, (size_t)(ls3 - fl3));
	}
	ls2 = ls3;
	/* A log closed and opened again keeps nothing (every open after a
	 * restart is new). */
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	logmgr_abandon(f->m);
	logfx_open(f);
	assert_int_equal(log_read_head(f->l, ls2 - 1, got, sizeof(got)), 0);
}

static void test_config_keys(void **state)
{
	(void)state;
	struct broker_config c;
	char err[256];
	broker_config_defaults(&c);
	assert_int_equal(c.log.retention_ms, 604800000);
	assert_int_equal(c.retention_check_ms, 300000);
	const char *t1 = "log.retention.ms=5000\nlog.retention.hours=1\nlog.retention.minutes=2\n";
	assert_int_equal(broker_config_parse(&c, t1, strlen(t1), err, sizeof(err)), 0);
	assert_int_equal(c.log.retention_ms, 5000);
	broker_config_defaults(&c);
	const char *t2 = "log.retention.hours=1\nlog.retention.minutes=2\n";
	assert_int_equal(broker_config_parse(&c, t2, strlen(t2), err, sizeof(err)), 0);
	assert_int_equal(c.log.retention_ms, 120000);
	broker_config_defaults(&c);
	const char *t3 =
		"log.retention.hours=-1\nlog.retention.bytes=-1\n"
		"log.cleanup.policy=compact, delete\nlog.cleaner.min.cleanable.ratio=0.25\n";
	assert_int_equal(broker_config_parse(&c, t3, strlen(t3), err, sizeof(err)), 0);
	assert_int_equal(c.log.retention_ms, -1);
	assert_int_equal(c.log.cleanup_policy, LOG_CLEANUP_COMPACT | LOG_CLEANUP_DELETE);
	assert_true(c.log.min_cleanable_dirty_ratio == 0.25);
	struct topic_config tc = { .partitions = 1 };
	log_config_defaults(&tc.log);
	const char *bad[] = { "retention.ms=-2\n",
			      "cleanup.policy=keep\n",
			      "cleanup.policy=compact,\n",
			      "min.cleanable.dirty.ratio=1.5\n",
			      "min.cleanable.dirty.ratio=.\n",
			      "delete.retention.ms=-1\n",
			      "retention.bytes=1e3\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct topic_config before = tc;
		assert_int_equal(topic_config_apply(&tc, bad[i], strlen(bad[i]), err, sizeof(err)),
				 -EINVAL);
		assert_memory_equal(&before, &tc, sizeof(tc));
	}
	const char *ok = "retention.ms=-1\nretention.bytes=1000\ncleanup.policy=compact\n"
			 "delete.retention.ms=5\nmin.cleanable.dirty.ratio=0.1\n"
			 "min.compaction.lag.ms=7\n";
	assert_int_equal(topic_config_apply(&tc, ok, strlen(ok), err, sizeof(err)), 0);
	assert_int_equal(tc.log.retention_ms, -1);
	assert_int_equal(tc.log.retention_bytes, 1000);
	assert_int_equal(tc.log.cleanup_policy, LOG_CLEANUP_COMPACT);
	assert_int_equal(tc.log.delete_retention_ms, 5);
	assert_int_equal(tc.log.min_compaction_lag_ms, 7);
	char *text;
	size_t len;
	assert_int_equal(topic_config_render(&tc, &text, &len), 0);
	assert_non_null(strstr(text, "\nmin.cleanable.dirty.ratio=0.1\n"));
	assert_non_null(strstr(text, "\ncleanup.policy=compact\n"));
	free(text);
}

/* A log whose first segments retention removed, so that its first
 * segment's .lines header alone keeps the line base; its state in st0. */
static void log_past_retention(struct logfx *f, struct log_state *st0)
{
	put(f, 0, 300);
	fake_now += 120000;
	put(f, 300, 300);
	assert_true(log_retention_run(f->l, fake_now, NULL) > 0);
	log_get_state(f->l, st0);
	assert_true(st0->line_start > 0);
}

/* The log opened again (logfx_open) has log_past_retention's start, line
 * start and positions. */
static void positions_kept(struct logfx *f, const struct log_state *st0)
{
	struct log_state st;
	int64_t p;

	logfx_open(f);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, st0->log_start_offset);
	assert_int_equal(st.line_start, st0->line_start);
	assert_int_equal(log_offset_to_pos(f->l, 450, &p), 0);
	assert_int_equal(p, pos_of(450));
}

/* An open (after a crash: the recovery rescans) whose reads of the
 * .lines fail (EIO) fails: it does not take the first segment for one
 * without its header, nor its entries for another layout's, and rebuild
 * its line view from another line base, which would move every position
 * of the log (the header keeps the line base once older segments are
 * gone). The next open, the disk readable again, keeps them. */
static void test_lines_unreadable_at_open(void **state)
{
	struct logfx *f = *state;
	struct log_state st0;
	struct logmgr *m;
	struct log *l;

	log_past_retention(f, &st0);
	logmgr_abandon(f->m); /* a crash */
	f->m = NULL;
	f->fio.pread_fail_path = ".lines";
	f->fio.pread_errno = EIO;
	f->fio.pread_fails = 1000000;
	assert_int_equal(logmgr_open(f->dir, &f->fio.ops, &m), 0);
	assert_int_equal(logmgr_get_log(m, "t", 0, &f->cfg, true, &l), -EIO);
	logmgr_abandon(m);
	f->fio.pread_fails = 0;
	f->fio.pread_fail_path = NULL;
	positions_kept(f, &st0);
}

/* The first segment's .lines file, DIR/t-0/<base>.lines of the lowest
 * base, into path. */
static void first_lines(struct logfx *f, char *path, size_t cap)
{
	char best[NAME_MAX + 1] = "";
	struct dirent *e;
	DIR *d;

	snprintf(path, cap, "%s/t-0", f->dir);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".lines") && (!best[0] || strcmp(e->d_name, best) < 0))
			snprintf(best, sizeof(best), "%s", e->d_name);
	closedir(d);
	assert_true(best[0] != '\0');
	snprintf(path, cap, "%s/t-0/%s", f->dir, best);
}

static void file_byte_set(const char *path, off_t at, char c)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &c, 1, at), 1);
	close(fd);
}

/* A .lines header of another version of the format ("MQLINES2": an mqfs
 * that lays out its entries otherwise wrote it, as before a downgrade)
 * fails the open with EPROTONOSUPPORT, after a clean stop and after a
 * crash alike, and changes nothing: rebuilt as a damaged one, the first
 * segment would lose the line base its header alone keeps once retention
 * removed the segments before, and every line position would move. The
 * header put back, the next open keeps the positions. */
static void test_lines_other_version_refused(void **state)
{
	struct logfx *f = *state;
	struct log_state st0;
	struct logmgr *m;
	struct log *l;
	char path[600], *before, *after;
	size_t nb, na;

	log_past_retention(f, &st0);
	for (int crash = 0; crash < 2; crash++) {
		if (crash)
			logmgr_abandon(f->m);
		else
			logmgr_close(f->m);
		f->m = NULL;
		first_lines(f, path, sizeof(path));
		file_byte_set(path, 7, '2');
		assert_int_equal(io_read_file(&io_posix, path, &before, &nb), 0);
		assert_int_equal(logmgr_open(f->dir, &f->fio.ops, &m), 0);
		assert_int_equal(logmgr_get_log(m, "t", 0, &f->cfg, true, &l), -EPROTONOSUPPORT);
		logmgr_abandon(m);
		assert_int_equal(io_read_file(&io_posix, path, &after, &na), 0);
		assert_int_equal(na, nb);
		assert_memory_equal(after, before, nb);
		free(before);
		free(after);
		file_byte_set(path, 7, '1');
		positions_kept(f, &st0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_by_time, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_lines_unreadable_at_open, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_lines_other_version_refused, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_no_timestamp, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_no_timestamp_roll, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_epoch_timestamp_roll, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_age_across_restart, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_age_after_truncation, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_roll_age_from_first_header, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_by_size, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_both_and_policy, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_never_active_and_hw, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_by_size_active, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_reader_holds_segment, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_delete_delay, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_crash_points, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_start_page_kept, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_delete_records, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_time_lookup_after_delete_records, setup,
						logfx_teardown),
		cmocka_unit_test(test_config_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
