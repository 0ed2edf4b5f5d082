/*
 * test_open_scale.c — what a start costs on a broker with thousands of
 * logs and a log of thousands of segments, counted in name comparisons,
 * which must grow as n log n, not n^2:
 *  - the directory pass every log open makes before it lists its segments
 *    (cleaner_recover_dir, engine/cleaner.c) removes the index files whose
 *    .log is gone, finishes an interrupted swap and keeps every other file,
 *    without searching the whole directory per index file (the open of a
 *    10,000-segment log spent 5 s there);
 *  - the log manager finds a log and its checkpointed offsets without a
 *    search of every open log and every checkpoint entry per open
 *    (engine/logmgr.c); the logs reopened keep their checkpointed offsets,
 *    and a dropped log's entries go.
 *
 * The comparisons are counted, not timed: this binary defines strcmp, which
 * the library's calls bind to (the executable's definition wins at link
 * time), and counts them while `counting` is set.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/log_int.h"
#include "tests/unit/faultio.h"

/* Atomic: the manager's helper threads may compare names too. */
static atomic_bool counting;
static atomic_long compared;

int strcmp(const char *a, const char *b)
{
	const unsigned char *p = (const unsigned char *)a, *q = (const unsigned char *)b;

	if (counting)
		compared++;
	while (*p && *p == *q) {
		p++;
		q++;
	}
	return *p - *q;
}

#define NSEGS 3000

static char dir[64];

static void touch(const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	assert_true(fd >= 0);
	close(fd);
}

static bool exists(const char *name)
{
	char p[128];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

static void rm_name(const char *name)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(unlink(p), 0);
}

static void test_many_segments(void **state)
{
	static const char *const sfx[] = { ".log", ".index", ".timeindex", ".lines" };
	char name[64];
	(void)state;

	snprintf(dir, sizeof(dir), "/tmp/mqfs-recdir.XXXXXX");
	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < NSEGS; i++)
		for (int k = 0; k < 4; k++) {
			snprintf(name, sizeof(name), "%020d%s", i * 7, sfx[k]);
			touch(name);
		}
	/* A deletion cut short: the .log of base 1 went, its indexes stayed. */
	touch("00000000000000000001.index");
	touch("00000000000000000001.timeindex");
	/* A swap past step b (the .log's .swap exists): finished by renames. */
	touch("00000000000000000014.index.swap");
	touch("00000000000000000014.log.swap");
	/* A swap cut in step b: its .swap files go, the old segment stays. */
	touch("00000000000000000021.index.swap");
	touch("00000000000000000028.index.cleaned");

	counting = true;
	compared = 0;
	int rc = cleaner_recover_dir(&io_posix, dir);
	counting = false;
	assert_int_equal(rc, 0);

	assert_false(exists("00000000000000000001.index"));
	assert_false(exists("00000000000000000001.timeindex"));
	assert_false(exists("00000000000000000014.index.swap"));
	assert_false(exists("00000000000000000014.log.swap"));
	assert_false(exists("00000000000000000021.index.swap"));
	assert_false(exists("00000000000000000028.index.cleaned"));
	for (int i = 0; i < NSEGS; i++)
		for (int k = 0; k < 4; k++) {
			snprintf(name, sizeof(name), "%020d%s", i * 7, sfx[k]);
			assert_true(exists(name));
			rm_name(name);
		}
	/* 12,006 names: a sort and a binary search per index file take about
	 * 14 comparisons a name each; a linear search per index file took
	 * 9,000 x 6,000 on average. */
	long names = NSEGS * 4 + 6;
	assert_true(compared < 64 * names);
	assert_int_equal(rmdir(dir), 0);
}

#define NLOGS 1000

/* Topics t0000.. of one partition each: every log's lookup compares
 * topic names (a partition number alone tells none apart). */
static void open_all(struct logmgr *m, const struct log_config *cfg, bool create)
{
	char topic[16];
	struct log *l;

	for (int i = 0; i < NLOGS; i++) {
		snprintf(topic, sizeof(topic), "t%04d", (i * 7919) % NLOGS);
		assert_int_equal(logmgr_get_log(m, topic, 0, cfg, create, &l), 0);
	}
}

static void test_many_logs(void **state)
{
	static struct faultio fio; /* large: not on the stack */
	struct log_config cfg;
	struct logmgr *m;
	struct log *l;
	struct log_state st;
	struct rec_in r = { NULL, -1, "v", 1, 1 };
	(void)state;

	faultio_init(&fio);
	fio.no_sync = true;
	log_config_defaults(&cfg);
	snprintf(dir, sizeof(dir), "/tmp/mqfs-logs.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(logmgr_open(dir, &fio.ops, &m), 0);
	open_all(m, &cfg, true);
	/* Offsets the checkpoints carry over: t0007 holds 3 records. */
	assert_int_equal(logmgr_get_log(m, "t0007", 0, &cfg, false, &l), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(log_append(l, &r, 1, 0, NULL), 0);
	assert_int_equal(log_set_hw(l, 3), 0);
	assert_int_equal(logmgr_close(m), 0);

	/* Reopened through the plain calls: faultio's own bookkeeping
	 * searches its files by name, which would be counted too. */
	assert_int_equal(logmgr_open(dir, &io_posix, &m), 0);
	counting = true;
	compared = 0;
	open_all(m, &cfg, false);
	counting = false;
	/* 1,000 logs: a binary search in the logs and in each of the four
	 * checkpoints takes about 10 comparisons a log each (its open makes some
	 * 50 of its own); the linear
	 * searches took 5 x 1,000 x 500. */
	assert_true(compared < 400 * NLOGS);
	assert_int_equal(logmgr_get_log(m, "t0007", 0, &cfg, false, &l), 0);
	log_get_state(l, &st);
	assert_int_equal(st.log_end_offset, 3);
	assert_int_equal(st.hw, 3);
	assert_int_equal(logmgr_get_log(m, "t0008", 0, &cfg, false, &l), 0);
	log_get_state(l, &st);
	assert_int_equal(st.log_end_offset, 0);
	/* A dropped log leaves the list and its checkpoint entries: the
	 * others are still found, and it is made afresh. */
	assert_int_equal(logmgr_drop_log(m, "t0007", 0), 0);
	assert_int_equal(logmgr_get_log(m, "t0007", 0, &cfg, false, &l), -ENOENT);
	assert_int_equal(logmgr_get_log(m, "t0006", 0, &cfg, false, &l), 0);
	assert_int_equal(logmgr_get_log(m, "t0007", 0, &cfg, true, &l), 0);
	log_get_state(l, &st);
	assert_int_equal(st.log_end_offset, 0);
	assert_int_equal(logmgr_close(m), 0);
	faultio_free(&fio);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_segments),
		cmocka_unit_test(test_many_logs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
