/*
 * test_sync.c — log_sync, what fsync() on a partition file does: one
 * fdatasync of the .log per call in the steady state, shared by concurrent
 * callers, and records it returned for never lost at a power cut, with
 * recovery rebuilding the sidecars it left unsynced exactly as a clean run
 * writes them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/log_int.h"
#include "tests/unit/logfx.h"
#include "util/diskwait.h"

static void tune(struct log_config *cfg)
{
	cfg->segment_bytes = 2048;       /* several rolls in a few hundred records */
	cfg->index_interval_bytes = 256; /* index entries in every segment */
}

static int setup(void **state)
{
	return logfx_setup(state, "sync", tune);
}

static void check_records(struct logfx *f, int n)
{
	struct log_cursor *c = log_cursor_new(f->l);
	char *buf = malloc((size_t)n * 24 + 4096), *exp = malloc((size_t)n * 24 + 1);
	size_t el = 0;
	for (int i = 0; i < n; i++)
		el += (size_t)sprintf(exp + el, "value-%d\n", i);
	size_t got = 0;
	for (;;) {
		ssize_t k = log_read_lines(f->l, c, (int64_t)got, buf + got, 4096, NULL);
		assert_true(k >= 0);
		if (k == 0)
			break;
		got += (size_t)k;
		assert_true(got <= el);
	}
	assert_int_equal(got, el);
	assert_memory_equal(buf, exp, el);
	log_cursor_free(c);
	free(buf);
	free(exp);
}

static int diskwaits;

static void count_diskwait(void)
{
	diskwaits++;
}

/* In the steady state fsync costs one fdatasync (the .log): the sidecars
 * are not synced, the recovery point does not move, and a second sync with
 * nothing new costs nothing. The caller's thread is told once per sync
 * that it is about to wait for the disk (the mount's ring threads unpin
 * themselves then), never when nothing is synced. */
static void test_one_fdatasync(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	diskwaits = 0;
	diskwait_set_hook(count_diskwait);
	logfx_put(f, 0, 1, 1);
	log_get_state(f->l, &st);
	int64_t rp = st.recovery_point;
	for (int i = 1; i <= 20; i++) {
		logfx_put(f, i, 1, 1);
		int fs0 = f->fio.fsyncs;
		assert_int_equal(log_sync(f->l, -1), 0);
		log_get_state(f->l, &st);
		assert_int_equal(f->fio.fsyncs - fs0, 1);
		assert_int_equal(st.synced_offset, i + 1);
		assert_int_equal(st.recovery_point, rp);
		assert_int_equal(diskwaits, i);
		fs0 = f->fio.fsyncs;
		assert_int_equal(log_sync(f->l, -1), 0);
		assert_int_equal(f->fio.fsyncs, fs0);
		assert_int_equal(diskwaits, i);
	}
	diskwait_set_hook(NULL);
	/* log_flush still makes the whole segments durable and moves both. */
	assert_int_equal(log_flush(f->l, -1), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.recovery_point, 21);
	assert_int_equal(st.synced_offset, 21);
}

/* A failed fdatasync fails the sync and covers nothing, and so does every
 * later sync of those records: the kernel reports a lost writeback once,
 * and may answer the next fdatasync 0 with those pages marked clean and
 * never written (faultio's next fsync would succeed: the log must not ask
 * it, and the table's count shows it does not). Records synced before are
 * still covered; a flush does not move the recovery point over them. A
 * cut that takes back every record unsynced at the failure ends it: the
 * records appended after it dirty their pages afresh and sync. */
static void test_sync_error(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	logfx_put(f, 0, 3, 1);
	assert_int_equal(log_sync(f->l, -1), 0);
	logfx_put(f, 3, 2, 1);
	f->fio.fsync_countdown = 1;
	assert_int_equal(log_sync(f->l, -1), -EIO);
	assert_non_null(strstr(logfx_reports, "fsync: Input/output error"));
	int fs0 = f->fio.fsyncs;
	assert_int_equal(log_sync(f->l, -1), -EIO);
	assert_int_equal(log_flush(f->l, -1), -EIO);
	assert_int_equal(f->fio.fsyncs, fs0);
	assert_int_equal(log_sync(f->l, 3), 0); /* synced before the failure */
	log_get_state(f->l, &st);
	assert_int_equal(st.synced_offset, 3);
	assert_int_equal(st.recovery_point, 0);
	/* A cut above the synced offset leaves a failed record: still failing. */
	assert_int_equal(log_truncate_to(f->l, 4), 0);
	assert_int_equal(log_sync(f->l, -1), -EIO);
	assert_int_equal(log_truncate_to(f->l, 3), 0);
	logfx_put(f, 3, 2, 1);
	assert_int_equal(log_sync(f->l, -1), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.synced_offset, 5);
	assert_int_equal(log_flush(f->l, -1), 0);
	check_records(f, 5);
}

/* A whole-segment flush whose fsync fails (log_flush: the .log and its
 * sidecars) leaves the segment in doubt until a restart: no later sync,
 * flush or cut vouches for it, and the stop writes no clean-shutdown
 * marker, so the next start recovers the log from its recovery point. */
static void test_flush_error_until_restart(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	char why[8192] = "";
	logfx_put(f, 0, 5, 1);
	f->fio.fsync_countdown = 1;
	assert_int_equal(log_flush(f->l, -1), -EIO);
	assert_int_equal(log_flush(f->l, -1), -EIO);
	assert_int_equal(log_sync(f->l, -1), -EIO);
	assert_int_equal(log_truncate_to(f->l, 0), 0);
	logfx_put(f, 0, 2, 1);
	assert_int_equal(log_sync(f->l, -1), -EIO);
	log_get_state(f->l, &st);
	assert_int_equal(st.synced_offset, 0);
	assert_int_equal(st.recovery_point, 0);
	assert_int_equal(logmgr_shutdown(f->m, why, sizeof(why)), -EIO);
	f->m = NULL;
	logfx_open(f);
	assert_false(logmgr_was_clean(f->m));
	check_records(f, 2);
	assert_int_equal(log_sync(f->l, -1), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.synced_offset, 2);
}

/* ---- group commit: four concurrent syncs, at most two fdatasyncs ----
 * The first sync's fdatasync stops (faultio's on_fsync) until three more
 * writers have appended and are waiting in log_sync; then it goes on. */
#define GC_WAITERS 3

struct gc {
	struct logfx *f;
	pthread_t th[GC_WAITERS];
	int rc[GC_WAITERS];
};

static void *gc_waiter(void *arg)
{
	struct gc *g = arg;
	int i = 0;
	while (!pthread_equal(g->th[i], pthread_self()))
		i++;
	g->rc[i] = log_sync(g->f->l, -1);
	return NULL;
}

static int sync_waiters(struct log *l)
{
	pthread_mutex_lock(&l->lock);
	int n = l->sync_waiters;
	pthread_mutex_unlock(&l->lock);
	return n;
}

static void gc_in_flight(void *arg)
{
	struct gc *g = arg;
	/* Records the first sync does not cover: the waiters need one more. */
	logfx_put(g->f, 10, 3, 1);
	for (int i = 0; i < GC_WAITERS; i++)
		assert_int_equal(pthread_create(&g->th[i], NULL, gc_waiter, g), 0);
	/* A poll with a deadline, not a guess at how long they take. */
	for (int ms = 0; sync_waiters(g->f->l) < GC_WAITERS; ms++) {
		assert_true(ms < 60000);
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

static void test_group_commit(void **state)
{
	struct logfx *f = *state;
	struct gc g = { .f = f };
	logfx_put(f, 0, 10, 1);
	f->fio.on_fsync = gc_in_flight;
	f->fio.on_fsync_arg = &g;
	int fs0 = f->fio.fsyncs;
	assert_int_equal(log_sync(f->l, -1), 0);
	for (int i = 0; i < GC_WAITERS; i++) {
		assert_int_equal(pthread_join(g.th[i], NULL), 0);
		assert_int_equal(g.rc[i], 0);
	}
	assert_int_equal(f->fio.fsyncs - fs0, 2);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.synced_offset, 13);
}

/* flush.messages-style syncs (upto: the caller's last record + 1) that a
 * sync in flight already covers cost nothing more. */
static void test_covered_costs_nothing(void **state)
{
	struct logfx *f = *state;
	logfx_put(f, 0, 10, 2);
	int fs0 = f->fio.fsyncs;
	assert_int_equal(log_sync(f->l, 10), 0);
	assert_int_equal(log_sync(f->l, 4), 0);
	assert_int_equal(f->fio.fsyncs - fs0, 1);
}

/* ---- power cuts ---- */

static const char *seg_exts = "log index timeindex lines";

/* Copies the partition's segment files to dst (a clean run's reference). */
static void save_segments(struct logfx *f, const char *dst)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "rm -rf %s && mkdir -p %s && for e in %s; do "
		 "cp %s/t-0/*.$e %s/ || exit 1; done",
		 dst, dst, seg_exts, f->dir, dst);
	assert_int_equal(system(cmd), 0);
}

/* The same segment files, byte for byte, as in ref. */
static void expect_same_segments(struct logfx *f, const char *ref)
{
	char cmd[8192];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && for e in %s; do ls *.$e; done > %s.a && "
		 "cd %s/t-0 && for e in %s; do ls *.$e; done > %s.b && cmp %s.a %s.b && "
		 "for x in $(cat %s.a); do cmp %s/$x %s/t-0/$x || exit 1; done",
		 ref, seg_exts, ref, f->dir, seg_exts, ref, ref, ref, ref, ref, f->dir);
	assert_int_equal(system(cmd), 0);
}

static void restart_empty(struct logfx *f)
{
	char cmd[600];
	logmgr_close(f->m);
	f->m = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s/* %s/.clean-shutdown", f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	faultio_free(&f->fio);
	faultio_init(&f->fio);
	logfx_open(f);
}

#define PC_RECORDS 300

/* The records a sync returned for survive a power cut with torn unsynced
 * bytes everywhere; recovery rebuilds .index, .timeindex and .lines of
 * every segment above the recovery point as a clean run writes them. */
static void test_power_cut_after_sync(void **state)
{
	struct logfx *f = *state;
	char ref[300];
	snprintf(ref, sizeof(ref), "%s.ref", f->dir);
	/* The clean run: the same appends, a clean close. */
	logfx_put(f, 0, PC_RECORDS, 3);
	logmgr_close(f->m);
	f->m = NULL;
	logfx_open(f);
	save_segments(f, ref);
	for (unsigned seed = 1; seed <= 8; seed++) {
		restart_empty(f);
		struct log_state st;
		for (int i = 0; i < PC_RECORDS; i += 3) {
			logfx_put(f, i, 3, 3);
			assert_int_equal(log_sync(f->l, -1), 0);
		}
		log_get_state(f->l, &st);
		assert_true(st.segments > 3);
		assert_true(st.recovery_point < st.log_end_offset);
		logmgr_abandon(f->m); /* the process dies ... */
		f->m = NULL;
		faultio_crash(&f->fio, (int)(seed & 1), seed); /* ... and the power */
		logfx_open(f);
		log_get_state(f->l, &st);
		assert_int_equal(st.log_end_offset, PC_RECORDS);
		assert_true(st.recovered_segments > 1);
		log_set_hw(f->l, st.log_end_offset);
		check_records(f, PC_RECORDS);
		logmgr_close(f->m);
		f->m = NULL;
		expect_same_segments(f, ref);
		logfx_open(f);
	}
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s.a %s.b", ref, ref, ref);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_fdatasync, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_sync_error, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_flush_error_until_restart, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_covered_costs_nothing, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_power_cut_after_sync, setup, logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
