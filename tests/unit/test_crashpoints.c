/*
 * test_crashpoints.c — every crash point of every engine operation that
 * changes files. For an operation, the state before it is built and kept
 * aside (closed cleanly, or abandoned for the recovery itself); then, for
 * point = 1, 2, ... until the operation completes without reaching it, the
 * kept state is put back, the I/O table made to die at the point-th
 * mutating call (faultio's die_countdown: the process dies just before
 * it), the operation run, and the process ended in one of three ways:
 *   kill -9 (every write made stays); a power cut, which loses all that
 *   was not fsynced (even points) or tears it (odd points, the seed the
 *   point's); a power cut followed by a crash in the middle of the recovery
 *   (at a point that moves with the operation's), then a second one.
 * After each, the log reopens (recovery never fails on what a crash can
 * leave) and must keep what README and DESIGN.md promise:
 *   - every record acknowledged durable is there (flush.messages, fsync,
 *     a completed truncation's end, a committed DeleteRecords's start);
 *   - the line view is the records from the log start to the end, each
 *     once, in order, whole, at its stable position;
 *   - lookups by offset, position and time find each record;
 *   - the log start never goes back below a committed one, and records a
 *     completed retention or truncation removed never come back;
 *   - the log appends again.
 * Records are "value-<i>" at offset i with timestamp T0 + 10 i, so the
 * expected view of any prefix is known without keeping a copy.
 * The operations: appends synced one by one (flush.messages=1, with rolls
 * and index entries, through the mapped tail) or flushed and checkpointed
 * together, a segment.ms roll, retention by size and by time,
 * DeleteRecords, a follower's truncation to an offset and to an epoch's
 * end, a truncation fully and start again at an offset, the leader epoch
 * checkpoint, the recovery itself, a topic's log made and deleted. The
 * compaction swap has its own loop (test_cleaner.c, test_crash_points),
 * and so do the producer state and the group offsets, being records of
 * logs (the appends here).
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
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/logfx.h"

#define MAXREC 1024
#define T0     1700000000000LL

static int64_t ts_of(int64_t i)
{
	return T0 + 10 * i;
}

/* The line position of record i: the lengths of "value-<k>\n", k < i. */
static int64_t pos_of(int64_t i)
{
	static int64_t at[MAXREC + 1];
	static int known;

	assert_in_range(i, 0, MAXREC);
	for (; known < i; known++)
		at[known + 1] = at[known] + snprintf(NULL, 0, "value-%d\n", known);
	return at[i];
}

/* What the crash must leave, narrowed by the operation as it hears back:
 * records [0, end_min) acknowledged durable (from the log start on),
 * none at or past end_max; a log start in [start_min, start_max]. */
struct promise {
	int64_t end_min, end_max;
	int64_t start_min, start_max;
	int32_t epoch_min; /* the leader epoch assigned durably, -1: none */
	int32_t epoch_max; /* none above (a completed truncation took it) */
};

struct cpx;
struct cp_op {
	const char *name;
	void (*tune)(struct log_config *cfg);
	/* Builds the state before the operation; p as it stands then. */
	void (*prepare)(struct cpx *x);
	/* The operation, its I/O dying at some point: narrows x->p by what it
	 * is told (a call that returned success before the death). */
	void (*run)(struct cpx *x);
	/* The kept state: 0 closed cleanly; else killed (kill -9) and then
	 * (what the recovery starts from) 1 nothing more, 2 a power cut, 3 a
	 * torn one. */
	int abandon;
	/* Not NULL: more to check once "t" was (another log). */
	void (*after)(struct cpx *x, const char *what);
	/* Appends through the mapped tail (the default path; each mapped
	 * segment costs the crash simulator a 1 MiB snapshot): else with
	 * pwrite (faultio_no_map). */
	bool mapped;
};

struct cpx {
	struct logfx *f;
	const struct cp_op *op;
	struct promise p;
	int64_t acked; /* another log's records acknowledged durable */
	bool done;     /* the operation returned success */
};

/* Appends records [from, from + n), per per call, synced after each call
 * when sync (flush.messages=1's log_sync); stops at the first failure.
 * Returns records appended (and synced, with sync). */
static int put(struct logfx *f, int from, int n, int per, bool sync, int64_t *acked)
{
	static char vals[64][32];
	struct rec_in r[64];
	int done = 0;

	assert_true(per <= 64);
	while (done < n) {
		int k = 0;
		for (; k < per && done + k < n; k++) {
			int i = from + done + k;
			int len = snprintf(vals[k], sizeof(vals[k]), "value-%d", i);
			r[k] = (struct rec_in){ NULL, -1, vals[k], len, ts_of(i) };
		}
		struct log_offsets lo;

		log_get_offsets(f->l, &lo); /* its latest epoch, as a leader appends */
		if (log_append(f->l, r, k, lo.leader_epoch > 0 ? lo.leader_epoch : 0, NULL) != 0)
			break;
		if (sync && log_sync(f->l, -1) != 0)
			break;
		done += k;
		if (acked && sync)
			*acked = from + done;
	}
	struct log_state st;
	log_get_state(f->l, &st);
	log_set_hw(f->l, st.log_end_offset);
	return done;
}

/* Removes path and everything under it (a data directory is two levels
 * deep: logs and their files). */
static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[PATH_MAX];

	if (!d) {
		unlink(path);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (e->d_type == DT_DIR)
			rm_tree(p);
		else
			assert_int_equal(unlink(p), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(path), 0);
}

/* Copies the tree at from to to (absent), files byte for byte. */
static void copy_tree(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *e;
	char a[PATH_MAX], b[PATH_MAX];
	static char buf[1 << 16];

	assert_non_null(d);
	assert_int_equal(mkdir(to, 0755), 0);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
		if (e->d_type == DT_DIR) {
			copy_tree(a, b);
			continue;
		}
		int in = open(a, O_RDONLY), out = open(b, O_WRONLY | O_CREAT | O_EXCL, 0644);
		assert_true(in >= 0 && out >= 0);
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			assert_int_equal(write(out, buf, (size_t)n), n);
		assert_int_equal(n, 0);
		close(in);
		close(out);
	}
	closedir(d);
}

/* The kept state: keep copies the data directory aside, restore puts the
 * copy back, drop removes it. */
static void rm_copy(struct logfx *f, const char *how)
{
	char orig[300];

	snprintf(orig, sizeof(orig), "%s-orig", f->dir);
	if (strcmp(how, "keep") == 0) {
		rm_tree(orig);
		copy_tree(f->dir, orig);
	} else if (strcmp(how, "restore") == 0) {
		rm_tree(f->dir);
		copy_tree(orig, f->dir);
	} else {
		rm_tree(orig);
	}
}

/* Opens the manager and "t" without asserting: 0, or the first error (a
 * crash point reached during the open: then nothing is left open but
 * what logmgr_abandon will drop). */
static int try_open(struct logfx *f)
{
	f->l = NULL;
	int rc = logmgr_open(f->dir, &f->fio.ops, &f->m);
	if (rc < 0) {
		f->m = NULL;
		return rc;
	}
	return logmgr_get_log(f->m, "t", 0, &f->cfg, true, &f->l);
}

/* The process dies (the manager dropped as kill -9 leaves it); cut: the
 * power too, torn or not. */
static void die(struct logfx *f, int cut, unsigned seed)
{
	if (f->m)
		logmgr_abandon(f->m);
	f->m = NULL;
	f->l = NULL;
	if (cut)
		faultio_crash(&f->fio, cut > 1, seed);
	f->fio.dead = false;
	f->fio.die_countdown = 0;
}

/* The promised state of "t", open in f. */
static void check(struct logfx *f, const struct promise *p, const char *what)
{
	struct log_state st;
	static char buf[1 << 16], want[1 << 16];

	log_get_state(f->l, &st);
	if (st.damaged || st.log_end_offset < p->end_min || st.log_end_offset > p->end_max ||
	    st.log_start_offset < p->start_min || st.log_start_offset > p->start_max ||
	    st.leader_epoch < p->epoch_min || st.leader_epoch > p->epoch_max)
		print_error("%s: start %lld end %lld epoch %d damaged %d; promised start in "
			    "[%lld, %lld], end in [%lld, %lld], epoch in [%d, %d]\n",
			    what, (long long)st.log_start_offset, (long long)st.log_end_offset,
			    st.leader_epoch, st.damaged, (long long)p->start_min,
			    (long long)p->start_max, (long long)p->end_min, (long long)p->end_max,
			    p->epoch_min, p->epoch_max);
	assert_false(st.damaged);
	assert_in_range(st.log_end_offset, p->end_min, p->end_max);
	assert_in_range(st.log_start_offset, p->start_min, p->start_max);
	assert_true(st.leader_epoch >= p->epoch_min && st.leader_epoch <= p->epoch_max);
	int64_t start = st.log_start_offset, end = st.log_end_offset;
	assert_int_equal(st.line_start, pos_of(start));
	assert_int_equal(st.line_end, pos_of(end));
	log_set_hw(f->l, end);
	/* The line view: each record from the start once, in order, whole. */
	size_t el = 0, n = 0;
	for (int64_t i = start; i < end; i++)
		el += (size_t)sprintf(want + el, "value-%lld\n", (long long)i);
	struct log_cursor *c = log_cursor_new(f->l);
	int64_t actual = -1;
	for (;;) {
		ssize_t g = log_read_lines(f->l, c, st.line_start + (int64_t)n, buf + n, 4096,
					   n ? NULL : &actual);
		assert_true(g >= 0);
		if (g == 0)
			break;
		n += (size_t)g;
		assert_true(n <= el);
	}
	log_cursor_free(c);
	if (n != el || memcmp(buf, want, el) != 0)
		print_error("%s: the line view is not the records [%lld, %lld)\n", what,
			    (long long)start, (long long)end);
	assert_int_equal(n, el);
	assert_memory_equal(buf, want, el);
	/* The indexes agree with the log: every fifth record (batches hold
	 * seven: each place in a batch), and the last. */
	for (int64_t i = start; i < end; i = i + 5 < end || i == end - 1 ? i + 5 : end - 1) {
		int64_t pos = -1, off = -1, t = -1;
		assert_int_equal(log_offset_to_pos(f->l, i, &pos), 0);
		assert_int_equal(pos, pos_of(i));
		assert_int_equal(log_pos_to_offset(f->l, pos, &off), 0);
		assert_int_equal(off, i);
		assert_int_equal(log_time_to_offset(f->l, ts_of(i), &t), 0);
		if (t != i)
			print_error("%s: the time of record %lld finds %lld\n", what, (long long)i,
				    (long long)t);
		assert_int_equal(t, i);
	}
	/* It appends again, at the end. */
	assert_int_equal(put(f, (int)end, 3, 3, true, NULL), 3);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, end + 3);
	assert_int_equal(st.line_end, pos_of(end + 3));
}

/* Every crash point of op, each ended the three ways. */
static void crash_points(struct logfx *f, const struct cp_op *op)
{
	struct cpx x = { f, op, { 0, 0, 0, 0, -1, -1 }, 0, false };
	struct promise before;
	char what[128];
	bool finished = false;
	int point;

	if (op->tune) {
		op->tune(&f->cfg);
		assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	}
	op->prepare(&x);
	before = x.p;
	int64_t acked0 = x.acked;
	if (op->abandon)
		die(f, op->abandon - 1, 7);
	else {
		assert_int_equal(logmgr_close(f->m), 0);
		f->m = NULL;
		f->l = NULL;
	}
	rm_copy(f, "keep");
	for (point = 1; !finished && point < 400; point++) {
		for (int how = 0; how < 3; how++) {
			rm_copy(f, "restore");
			faultio_free(&f->fio);
			faultio_init(&f->fio);
			f->fio.no_sync = true;
			if (!op->mapped)
				faultio_no_map(&f->fio);
			f->fio.die_countdown = point;
			x.p = before;
			x.acked = acked0;
			x.done = false;
			if (try_open(f) == 0 && !f->fio.dead)
				op->run(&x);
			if (how == 0)
				finished = !f->fio.dead;
			/* Power cuts: every other point loses all that was not
			 * synced, the others tear it. */
			int cut = how == 0 ? 0 : 1 + (point & 1);
			die(f, cut, (unsigned)(point * 8 + how));
			if (how == 2) {
				/* A crash in the recovery too, then another cut. */
				f->fio.die_countdown = 1 + point % 7;
				(void)try_open(f);
				die(f, 2, (unsigned)point);
			}
			snprintf(what, sizeof(what), "%s, crash point %d, end %d", op->name, point,
				 how);
			assert_int_equal(try_open(f), 0);
			check(f, &x.p, what);
			if (op->after)
				op->after(&x, what);
			assert_int_equal(logmgr_close(f->m), 0);
			f->m = NULL;
			f->l = NULL;
		}
	}
	assert_true(finished);
	print_message("%s: %d crash points\n", op->name, point - 1);
	rm_copy(f, "drop");
	logfx_open(f);
}

/* ---- the operations ---- */

static void small_segments(struct log_config *cfg)
{
	cfg->segment_bytes = 600;
	cfg->index_interval_bytes = 64;
}

static void prepare_base(struct cpx *x)
{
	assert_int_equal(put(x->f, 0, 100, 7, false, NULL), 100);
	x->p = (struct promise){ 100, 100, 0, 0, -1, -1 };
}

/* Appends with flush.messages=1: each acknowledged append is durable;
 * rolls and index entries come along (small segments, dense indexes). */
static void run_append_sync(struct cpx *x)
{
	x->p.end_max = 100 + 24;
	put(x->f, 100, 24, 4, true, &x->p.end_min);
}

static const struct cp_op op_append_sync = {
	"append + flush.messages=1", small_segments, prepare_base, run_append_sync, 0, NULL, true
};

/* Appends without sync, then log_flush: durable once it returns. */
static void run_append_flush(struct cpx *x)
{
	x->p.end_max = 100 + 30;
	if (put(x->f, 100, 30, 6, false, NULL) == 30 && log_flush(x->f->l, -1) == 0 &&
	    logmgr_checkpoint(x->f->m) == 0)
		x->p.end_min = 130;
}

static const struct cp_op op_append_flush = {
	"append, flush, checkpoint", small_segments, prepare_base, run_append_flush, 0, NULL, false
};

/* A roll by segment.ms: the quiet active segment closes at the next
 * append, which is synced. */
static void run_roll_time(struct cpx *x)
{
	x->p.end_max = 110;
	fake_now += 8LL * 24 * 3600 * 1000;
	put(x->f, 100, 10, 10, true, &x->p.end_min);
	fake_now -= 8LL * 24 * 3600 * 1000;
}

static const struct cp_op op_roll_time = {
	"segment.ms roll", NULL, prepare_base, run_roll_time, 0, NULL, false
};

/* Retention: segments over retention.bytes, or older than retention.ms,
 * leave; once the run returned, they never come back. */
static void run_retention(struct cpx *x, bool by_time)
{
	struct log_retention_result res;
	struct log_config cfg = x->f->cfg;

	if (by_time)
		cfg.retention_ms = 1000;
	else
		cfg.retention_bytes = 1000;
	assert_int_equal(log_reconfigure(x->f->l, &cfg), 0);
	x->p.start_max = 100;
	int rc = log_retention_run(x->f->l, by_time ? ts_of(60) + 1000 : fake_now, &res);
	if (rc >= 0 && !x->f->fio.dead) {
		assert_true(rc > 0);
		x->p.start_min = res.log_start_offset;
	}
}

static void run_retention_size(struct cpx *x)
{
	run_retention(x, false);
}

static void run_retention_time(struct cpx *x)
{
	run_retention(x, true);
}

static const struct cp_op op_retention_size = {
	"retention by size", small_segments, prepare_base, run_retention_size, 0, NULL, false
};
static const struct cp_op op_retention_time = {
	"retention by time", small_segments, prepare_base, run_retention_time, 0, NULL, false
};

/* DeleteRecords: the start moves, the checkpoint follows before the
 * answer; from then on the start never goes back. */
static void run_delete_records(struct cpx *x)
{
	int64_t start = -1;

	x->p.start_max = 55;
	if (log_delete_records(x->f->l, 55, false, &start) == 0 &&
	    logmgr_write_checkpoints(x->f->m, NULL) == 0) {
		assert_int_equal(start, 55);
		x->p.start_min = 55;
	}
}

static const struct cp_op op_delete_records = {
	"DeleteRecords", small_segments, prepare_base, run_delete_records, 0, NULL, false
};

/* Epochs 0 at 0 and 1 at 60, the records synced. */
static void prepare_epochs(struct cpx *x)
{
	assert_int_equal(log_assign_epoch(x->f->l, 0, 0), 0);
	assert_int_equal(put(x->f, 0, 60, 7, false, NULL), 60);
	assert_int_equal(log_assign_epoch(x->f->l, 1, 60), 0);
	assert_int_equal(put(x->f, 60, 40, 7, false, NULL), 40);
	x->p = (struct promise){ 100, 100, 0, 0, 1, 1 };
}

/* A follower's truncation to an offset: durable once it returns. The
 * cut is at a batch's start (Kafka's truncateTo): 37 is in [35, 41]. */
static void run_truncate(struct cpx *x)
{
	x->p.end_min = 35;
	x->p.epoch_min = 0;
	if (log_truncate_durable(x->f->l, 37) == 0) {
		x->p.end_max = 37;
		x->p.epoch_max = 0;
	}
}

/* To a leader epoch (KIP-101): the end of the leader's epoch 0 is 60,
 * where epoch 1 starts: the epoch goes with its records. */
static void run_truncate_epoch(struct cpx *x)
{
	int32_t e = -1;
	int64_t end = -1;

	assert_int_equal(log_end_offset_for_epoch(x->f->l, 0, &e, &end), 0);
	assert_int_equal(e, 0);
	assert_int_equal(end, 60);
	x->p.end_min = 60;
	x->p.epoch_min = 0;
	if (log_truncate_durable(x->f->l, end) == 0) {
		x->p.end_max = 60;
		x->p.epoch_max = 0;
	}
}

static const struct cp_op op_truncate = {
	"truncation to an offset", small_segments, prepare_epochs, run_truncate, 0, NULL, false
};
static const struct cp_op op_truncate_epoch = {
	"truncation to an epoch", small_segments, prepare_epochs, run_truncate_epoch, 0, NULL, false
};

/* A follower fully behind: the log starts again at 300 (positions as if
 * records 100..299 had been there). */
static void run_reset(struct cpx *x)
{
	x->p.start_max = 300;
	x->p.end_max = 300;
	x->p.epoch_min = -1;
	if (log_reset_start(x->f->l, 300, pos_of(300)) == 0) {
		x->p.start_min = 300;
		x->p.end_min = 300;
		x->p.epoch_max = -1;
	}
}

static const struct cp_op op_reset = {
	"truncate fully and start at", small_segments, prepare_epochs, run_reset, 0, NULL, false
};

/* The leader epoch checkpoint: epoch 2 from the end, durable once
 * log_assign_epoch returns; then synced appends in it. */
static void run_epoch(struct cpx *x)
{
	x->p.end_max = 110;
	x->p.epoch_max = 2;
	if (log_assign_epoch(x->f->l, 2, 100) == 0) {
		x->p.epoch_min = 2;
		put(x->f, 100, 10, 3, true, &x->p.end_min);
	}
}

static const struct cp_op op_epoch = {
	"leader epoch checkpoint", small_segments, prepare_epochs, run_epoch, 0, NULL, false
};

/* The recovery itself: the log was killed with 60 records synced and 40
 * not, then a torn power cut; every crash point of the open. */
static void prepare_unclean(struct cpx *x)
{
	assert_int_equal(put(x->f, 0, 60, 7, true, NULL), 60);
	assert_int_equal(put(x->f, 60, 40, 7, false, NULL), 40);
	x->p = (struct promise){ 60, 100, 0, 0, -1, -1 };
}

static void run_nothing(struct cpx *x)
{
	(void)x;
}

static const struct cp_op op_recovery = { "recovery after a torn power cut",
					  small_segments,
					  prepare_unclean,
					  run_nothing,
					  3,
					  NULL,
					  false };
static const struct cp_op op_recovery_cut = {
	"recovery after a power cut", small_segments, prepare_unclean, run_nothing, 2, NULL, false
};
static const struct cp_op op_recovery_kill = {
	"recovery after kill -9", small_segments, prepare_unclean, run_nothing, 1, NULL, false
};

/* The log "u" after a crash: gone (gone_ok), or holding [0, end) with
 * end in [end_min, end_max]; must_go: gone. No leftover of a deletion or
 * of a file replacement stays in the data directory once open. */
static void check_other(struct cpx *x, const char *what, bool gone_ok, bool must_go,
			int64_t end_min, int64_t end_max)
{
	struct logfx *f = x->f;
	struct log *t = f->l, *u = NULL;
	int rc = logmgr_get_log(f->m, "u", 0, &f->cfg, false, &u);

	if (rc == -ENOENT) {
		if (!gone_ok)
			print_error("%s: log u is gone\n", what);
		assert_true(gone_ok);
	} else {
		assert_int_equal(rc, 0);
		if (must_go)
			print_error("%s: log u is back after its deletion\n", what);
		assert_false(must_go);
		f->l = u;
		struct promise p = { end_min, end_max, 0, 0, -1, -1 };
		check(f, &p, what);
		f->l = t;
	}
	DIR *d = opendir(f->dir);
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		assert_false(n > 7 && strcmp(e->d_name + n - 7, "-delete") == 0);
		assert_false(n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0);
	}
	closedir(d);
}

static void run_create(struct cpx *x)
{
	struct logfx *f = x->f;
	struct log *t = f->l, *u = NULL;

	if (logmgr_get_log(f->m, "u", 0, &f->cfg, true, &u) == 0) {
		f->l = u;
		put(f, 0, 20, 5, true, &x->acked);
		f->l = t;
	}
}

static void after_create(struct cpx *x, const char *what)
{
	check_other(x, what, x->acked == 0, false, x->acked, 20);
}

static const struct cp_op op_create = { "topic create", small_segments, prepare_base, run_create, 0,
					after_create,   false };

static void prepare_other(struct cpx *x)
{
	struct logfx *f = x->f;
	struct log *t = f->l, *u = NULL;

	prepare_base(x);
	assert_int_equal(logmgr_get_log(f->m, "u", 0, &f->cfg, true, &u), 0);
	f->l = u;
	assert_int_equal(put(f, 0, 50, 5, false, NULL), 50);
	f->l = t;
}

static void run_drop(struct cpx *x)
{
	x->done = logmgr_drop_log(x->f->m, "u", 0) == 0;
}

static void after_drop(struct cpx *x, const char *what)
{
	check_other(x, what, true, x->done, 50, 50);
}

static const struct cp_op op_drop = { "topic delete", small_segments, prepare_other, run_drop, 0,
				      after_drop,     false };


#define CP_TEST(name)                             \
	static void test_##name(void **state)     \
	{                                         \
		crash_points(*state, &op_##name); \
	}
CP_TEST(append_sync)
CP_TEST(append_flush)
CP_TEST(roll_time)
CP_TEST(retention_size)
CP_TEST(retention_time)
CP_TEST(delete_records)
CP_TEST(truncate)
CP_TEST(truncate_epoch)
CP_TEST(reset)
CP_TEST(epoch)
CP_TEST(recovery)
CP_TEST(recovery_cut)
CP_TEST(recovery_kill)
CP_TEST(create)
CP_TEST(drop)

/* The fixture, its data directory in memory when /dev/shm is there: the
 * loops copy and remove it thousands of times, which a journaled file
 * system makes slow, and the crash simulator decides what is durable. */
static int setup(void **state)
{
	int rc = logfx_setup(state, "crashpoints", NULL);
	struct logfx *f = *state;
	char dir[sizeof(f->dir)];

	snprintf(dir, sizeof(dir), "/dev/shm/mqfs-test-crashpoints-XXXXXX");
	if (rc != 0 || !mkdtemp(dir))
		return rc;
	logmgr_close(f->m);
	rm_tree(f->dir);
	memcpy(f->dir, dir, sizeof(dir));
	faultio_free(&f->fio);
	faultio_init(&f->fio);
	logfx_open(f);
	return 0;
}

/* logfx_teardown, and the kept copy a failed test left. */
static int teardown(void **state)
{
	struct logfx *f = *state;
	char orig[300];

	snprintf(orig, sizeof(orig), "%s-orig", f->dir);
	rm_tree(orig);
	return logfx_teardown(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define CP_CASE(name) cmocka_unit_test_setup_teardown(test_##name, setup, teardown)
		CP_CASE(append_sync),    CP_CASE(append_flush),   CP_CASE(roll_time),
		CP_CASE(retention_size), CP_CASE(retention_time), CP_CASE(delete_records),
		CP_CASE(truncate),       CP_CASE(truncate_epoch), CP_CASE(reset),
		CP_CASE(epoch),          CP_CASE(recovery),       CP_CASE(recovery_cut),
		CP_CASE(recovery_kill),  CP_CASE(create),         CP_CASE(drop),
	};
	/* CP_ONLY=name runs one (as cmocka's filter: test_ + pattern). */
	if (getenv("CP_ONLY"))
		cmocka_set_test_filter(getenv("CP_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
