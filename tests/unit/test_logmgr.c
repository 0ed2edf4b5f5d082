/*
 * test_logmgr.c — the log manager's hold on its data directory: one
 * manager at a time (the .lock flock), and a close that could not make the
 * checkpoints durable (a full disk) says so, writes no clean-shutdown
 * marker, and the next open recovers; the read-ahead buffers of all the
 * readers together stay within the manager's budget, and readers beyond it
 * still read everything; a log dropped and made again starts afresh; the
 * logs found at open are listed once, sorted; the start's probe of the
 * filesystem leaves nothing behind.
 */
#include <errno.h>
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

static int setup(void **state)
{
	return logfx_setup(state, "logmgr", NULL);
}

static void append(struct log *l, const char *v)
{
	struct rec_in r = { NULL, -1, v, (int)strlen(v), 1 };
	struct log_state st;

	assert_int_equal(log_append(l, &r, 1, 0, NULL), 0);
	log_get_state(l, &st);
	assert_int_equal(log_set_hw(l, st.log_end_offset), 0);
}

static bool marker(struct logfx *f)
{
	char p[400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/.clean-shutdown", f->dir);
	return stat(p, &st) == 0;
}

/* A second manager on a directory in use is refused before it reads or
 * writes anything; the lock names the holder and goes with the close. */
static void test_lock(void **state)
{
	struct logfx *f = *state;
	struct logmgr *m2 = NULL;

	append(f->l, "first");
	assert_int_equal(logmgr_open(f->dir, &io_posix, &m2), -EWOULDBLOCK);
	assert_null(m2);
	assert_int_equal(logmgr_lock_owner(f->dir), (int)getpid());
	assert_int_equal(logmgr_close(f->m), 0);
	f->m = NULL;
	assert_true(marker(f));
	assert_int_equal(logmgr_open(f->dir, &io_posix, &m2), 0);
	assert_true(logmgr_was_clean(m2));
	logmgr_abandon(m2);
	/* Abandoning (a fatal error) unlocks too. */
	logfx_open(f);
}

static void put_file(const char *dir, const char *name, const char *text)
{
	char p[400];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_non_null(fp = fopen(p, "w"));
	fputs(text, fp);
	fclose(fp);
}

static bool dir_has(const char *dir, const char *name)
{
	char p[400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0;
}

/* The start's probe of the filesystem (case, cut, rename) leaves nothing
 * behind, replaces what a crash in the middle of it left, and tells a
 * file of the upper-case name on a filesystem that tells case apart from
 * the probe file itself: by what it reads, not by its existence. */
static void test_fs_probe(void **state)
{
	struct logfx *f = *state;
	char p[400], text[16] = "";
	FILE *fp;

	assert_int_equal(logmgr_close(f->m), 0);
	f->m = NULL;
	put_file(f->dir, ".fs-probe", "left by a crash");
	put_file(f->dir, ".fs-probe.tmp", "left by a crash");
	put_file(f->dir, ".FS-PROBE", "someone's");
	logfx_open(f);
	assert_false(dir_has(f->dir, ".fs-probe"));
	assert_false(dir_has(f->dir, ".fs-probe.tmp"));
	snprintf(p, sizeof(p), "%s/.FS-PROBE", f->dir);
	assert_non_null(fp = fopen(p, "r"));
	assert_non_null(fgets(text, sizeof(text), fp));
	fclose(fp);
	assert_string_equal(text, "someone's");
	assert_null(strstr(logfx_reports, "refusing"));
}

/* A full disk while the checkpoints are written at close: the close fails
 * naming the file, no marker is written, and the next open recovers. */
static void test_close_enospc(void **state)
{
	struct logfx *f = *state;
	char why[8192] = "";
	struct log_state st;

	append(f->l, "a");
	append(f->l, "b");
	assert_int_equal(logmgr_close(f->m), 0);
	logfx_open(f);
	append(f->l, "c");
	assert_false(marker(f));
	/* With the log flushed already, the first write of the close is the
	 * first checkpoint's. */
	assert_int_equal(log_flush(f->l, -1), 0);
	f->fio.pwrite_countdown = 1;
	f->fio.pwrite_errno = ENOSPC;
	assert_int_equal(logmgr_shutdown(f->m, why, sizeof(why)), -ENOSPC);
	f->m = NULL;
	assert_non_null(strstr(why, "recovery-point-offset-checkpoint"));
	assert_non_null(strstr(why, strerror(ENOSPC)));
	assert_false(marker(f));
	logfx_open(f);
	assert_false(logmgr_was_clean(f->m));
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 3);
}

/* The marker itself cannot be written: the close fails as well. */
static void test_close_marker_fails(void **state)
{
	struct logfx *f = *state;
	char why[8192] = "";

	append(f->l, "a");
	/* The marker is empty (no write to fail): fail its fsync. With the
	 * mapped tail cut durably and the checkpoints current, a round writes
	 * nothing (checked here), so the close's first fsync is the marker's. */
	assert_int_equal(log_flush(f->l, -1), 0);
	assert_int_equal(log_tail_close(f->l), 0);
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	f->fio.fsyncs = 0;
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	assert_int_equal(f->fio.fsyncs, 0);
	f->fio.fsync_countdown = 1;
	assert_int_equal(logmgr_shutdown(f->m, why, sizeof(why)), -EIO);
	f->m = NULL;
	assert_non_null(strstr(why, ".clean-shutdown"));
	assert_false(marker(f));
	logfx_open(f);
	assert_false(logmgr_was_clean(f->m));
}

/* A log dropped (its topic deleted) and made again under the same name in
 * the same run is a new log: it does not start from the checkpoints read
 * at open (hw, log start), and nothing reports records lost. */
static void test_dropped_log_forgotten(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	int64_t start;

	for (int i = 0; i < 5; i++)
		append(f->l, "old");
	assert_int_equal(log_delete_records(f->l, 2, false, &start), 0);
	assert_int_equal(logmgr_close(f->m), 0);
	logfx_open(f); /* clean: the checkpoints say hw 5, log start 2 */
	log_get_state(f->l, &st);
	assert_int_equal(st.hw, 5);
	assert_int_equal(st.log_start_offset, 2);
	assert_int_equal(logmgr_drop_log(f->m, "t", 0), 0);
	logfx_reports[0] = '\0';
	assert_int_equal(logmgr_get_log(f->m, "t", 0, &f->cfg, true, &f->l), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, 0);
	assert_int_equal(st.hw, 0);
	assert_int_equal(st.log_start_offset, 0);
	assert_null(strstr(logfx_reports, "are gone"));
	append(f->l, "new");
	log_get_state(f->l, &st);
	assert_int_equal(st.hw, 1);
}

/* A log asked for without create is -ENOENT when missing, every time,
 * and leaves nothing behind: a second ask once made an empty log of the
 * directory the first left (a replica refused for want of descriptors
 * then opened at the next LeaderAndIsr). */
static void test_get_without_create(void **state)
{
	struct logfx *f = *state;
	char path[PATH_MAX];
	struct log *l = NULL;
	struct stat st;

	for (int i = 0; i < 2; i++)
		assert_int_equal(logmgr_get_log(f->m, "absent", 0, &f->cfg, false, &l), -ENOENT);
	assert_null(l);
	snprintf(path, sizeof(path), "%s/absent-0", f->dir);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(logmgr_get_log(f->m, "absent", 0, &f->cfg, true, &l), 0);
	assert_non_null(l);
	assert_int_equal(stat(path, &st), 0);
}

/* The logs of the data directory at open, listed once, sorted by topic
 * then partition (partition 10 after 9, not after 1); names that are no
 * log ("x-", "-3", "a-1234567", files of the directory) left out, and what
 * an interrupted deletion left ("...-delete") removed, not listed. Logs
 * made after the open are not in the list. */
static void test_found_at_open(void **state)
{
	static const char *const dirs[] = { "b-10",      "b-9", "a-0",   "x-",           "-3",
					    "a-1234567", "b-1", "c.d-2", "a-0.1x-delete" };
	struct logfx *f = *state;
	const struct log_name *found;
	char path[PATH_MAX];
	struct log *l = NULL;
	struct stat st;
	int n;

	assert_int_equal(logmgr_close(f->m), 0);
	f->m = NULL;
	f->l = NULL;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, dirs[i]);
		assert_int_equal(mkdir(path, 0755), 0);
	}
	logfx_open(f);
	found = logmgr_found(f->m, &n);
	assert_int_equal(n, 6);
	assert_string_equal(found[0].topic, "a");
	assert_int_equal(found[0].partition, 0);
	assert_string_equal(found[1].topic, "b");
	assert_int_equal(found[1].partition, 1);
	assert_string_equal(found[2].topic, "b");
	assert_int_equal(found[2].partition, 9);
	assert_int_equal(found[3].partition, 10);
	assert_string_equal(found[4].topic, "c.d");
	assert_int_equal(found[4].partition, 2);
	assert_string_equal(found[5].topic, "t");
	snprintf(path, sizeof(path), "%s/a-0.1x-delete", f->dir);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(logmgr_get_log(f->m, "new", 0, &f->cfg, true, &l), 0);
	logmgr_found(f->m, &n);
	assert_int_equal(n, 6);
}

/* partition.metadata: none, then the id set, read back in Kafka's format;
 * a damaged file is -EBADMSG; a log dropped and made again has none. */
static void test_topic_id_file(void **state)
{
	struct logfx *f = *state;
	char id[64], path[PATH_MAX + 32], *text = NULL;
	size_t len;

	assert_int_equal(logmgr_topic_id(f->m, "t", 0, id, sizeof(id)), 0);
	assert_int_equal(logmgr_topic_id(f->m, "nosuch", 0, id, sizeof(id)), 0);
	assert_int_equal(logmgr_set_topic_id(f->m, "nosuch", 0, "abc"), -ENOENT);
	assert_int_equal(logmgr_set_topic_id(f->m, "t", 0, "a/b"), -EINVAL);
	assert_int_equal(logmgr_set_topic_id(f->m, "t", 0, "rTQXH9IrQnS7BZyAlHcxyw"), 0);
	assert_int_equal(logmgr_topic_id(f->m, "t", 0, id, sizeof(id)), 1);
	assert_string_equal(id, "rTQXH9IrQnS7BZyAlHcxyw");
	assert_int_equal(logmgr_topic_id(f->m, "t", 0, id, 8), -EBADMSG); /* no room */
	snprintf(path, sizeof(path), "%s/t-0/partition.metadata", logmgr_dir(f->m));
	assert_int_equal(io_read_file(logmgr_io(f->m), path, &text, &len), 0);
	assert_string_equal(text, "version: 0\ntopic_id: rTQXH9IrQnS7BZyAlHcxyw\n");
	free(text);
	assert_int_equal(io_write_file_atomic(logmgr_io(f->m), path, "version: 1\n", 11), 0);
	assert_int_equal(logmgr_topic_id(f->m, "t", 0, id, sizeof(id)), -EBADMSG);
	/* The log opens with it there (not a segment), and a new log of
	 * the name has none. */
	assert_int_equal(logmgr_close(f->m), 0);
	logfx_open(f);
	assert_int_equal(logmgr_drop_log(f->m, "t", 0), 0);
	assert_int_equal(logmgr_get_log(f->m, "t", 0, &f->cfg, true, &f->l), 0);
	assert_int_equal(logmgr_topic_id(f->m, "t", 0, id, sizeof(id)), 0);
}

/* 24 readers of a 3 MiB log under a 1 MiB budget: two get full read-ahead
 * buffers, the others small ones, and every reader reads every byte, in
 * small reads and in big (whole-batch) ones. */
static void test_readahead_budget(void **state)
{
	enum { NREC = 30000, NCUR = 24, BUDGET = 1 << 20 };
	struct logfx *f = *state;
	struct log_cursor *c[NCUR];
	int64_t pos[NCUR] = { 0 };
	static struct rec_in r[NREC];
	static char v[NREC][100];
	size_t total = 0;
	char *want, *got[NCUR];

	for (int i = 0; i < NREC; i++) {
		int n = snprintf(v[i], sizeof(v[i]), "%090d", i);
		r[i] = (struct rec_in){ NULL, -1, v[i], n, 1 };
		total += (size_t)n + 1;
	}
	for (int i = 0; i < NREC; i += 1000)
		assert_int_equal(log_append(f->l, r + i, 1000, 0, NULL), 0);
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	want = malloc(total);
	assert_non_null(want);
	for (size_t i = 0, at = 0; i < NREC; i++) {
		memcpy(want + at, v[i], (size_t)r[i].value_len);
		at += (size_t)r[i].value_len;
		want[at++] = '\n';
	}
	logmgr_set_readahead_budget(f->m, BUDGET);
	for (int k = 0; k < NCUR; k++) {
		c[k] = log_cursor_new(f->l);
		got[k] = malloc(total);
		assert_non_null(c[k]);
		assert_non_null(got[k]);
	}
	/* Round robin, so that every cursor holds its buffers at once; odd
	 * cursors read 4 KiB at a time, even ones 1 MiB (the whole-batch path). */
	for (bool more = true; more;) {
		more = false;
		for (int k = 0; k < NCUR; k++) {
			size_t sz = k % 2 ? 4096 : 1 << 20;
			if ((size_t)pos[k] == total)
				continue;
			if (total - (size_t)pos[k] < sz)
				sz = total - (size_t)pos[k];
			ssize_t n = log_read_lines(f->l, c[k], pos[k], got[k] + pos[k], sz, NULL);
			assert_true(n > 0);
			pos[k] += n;
			more = true;
			assert_true(logmgr_readahead_bytes(f->m) <= BUDGET + NCUR * (16 << 10));
		}
	}
	for (int k = 0; k < NCUR; k++) {
		assert_memory_equal(got[k], want, total);
		log_cursor_free(c[k]);
		free(got[k]);
	}
	assert_int_equal(logmgr_readahead_bytes(f->m), 0);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_fs_probe, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_close_enospc, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_close_marker_fails, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_readahead_budget, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_dropped_log_forgotten, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_topic_id_file, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_get_without_create, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_found_at_open, setup, logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
