/*
 * test_sysfail.c — system calls of the disk that fail where the I/O table
 * (faultio.h) does not reach: through the linker's --wrap (Makefile).
 *
 * fdatasync interrupted (EINTR): io_posix's fsync makes it again.
 *
 * A start whose directory listings the disk cannot finish (readdir
 * returning NULL with errno EIO, which a caller that does not look takes
 * for the end). Every readdir of the engine and the broker goes through
 * __wrap_readdir, which fails the listing of one directory after a given
 * number of entries.
 * Such a start must be refused with the files left as they were: a log
 * opened without the segments its listing missed would make the first of
 * them again, empty, over its file; a data directory or topic catalog
 * listed short would leave logs to no topic, and drop some.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/repl.h"
#include "tests/unit/logfx.h"

struct dirent *__real_readdir(DIR *d);
struct dirent *__wrap_readdir(DIR *d);
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

/* fdatasyncs to interrupt (EINTR) before one goes through; calls seen. */
static int sync_eintr;
static int syncs;

int __wrap_fdatasync(int fd)
{
	syncs++;
	if (sync_eintr > 0) {
		sync_eintr--;
		errno = EINTR;
		return -1;
	}
	return __real_fdatasync(fd);
}

/* Not NULL: the listings of a directory whose path ends so, from the
 * fail_listing-th one on (0: the first), fail (EIO) once fail_after
 * entries of them were returned. fails counts the failures. */
static const char *fail_dir;
static int fail_listing;
static int fail_after;
static int fails;

struct dirent *__wrap_readdir(DIR *d)
{
	char link[64], path[PATH_MAX];
	ssize_t n;
	size_t lf;

	if (!fail_dir)
		return __real_readdir(d);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd(d));
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return __real_readdir(d);
	path[n] = '\0';
	lf = strlen(fail_dir);
	if ((size_t)n < lf || strcmp(path + n - lf, fail_dir) != 0)
		return __real_readdir(d);
	if (fail_listing > 0) {
		struct dirent *de = __real_readdir(d);

		if (!de)
			fail_listing--; /* one listing whole */
		return de;
	}
	if (fail_after > 0) {
		fail_after--;
		return __real_readdir(d);
	}
	fails++;
	errno = EIO;
	return NULL;
}

static void arm(const char *dir, int listing, int after)
{
	fail_dir = dir;
	fail_listing = listing;
	fail_after = after;
	fails = 0;
}

static void tune(struct log_config *cfg)
{
	cfg->segment_bytes = 2048; /* several segments in a few hundred records */
}

static int setup(void **state)
{
	return logfx_setup(state, "readdir", tune);
}

static int teardown(void **state)
{
	fail_dir = NULL;
	return logfx_teardown(state);
}

/* The bytes of every file of dir (names and contents), for "nothing
 * changed" checks. */
static char *dir_digest(const char *dir)
{
	char cmd[600], *out = calloc(1, 65536);
	FILE *p;
	size_t n;

	assert_non_null(out);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && ls -l --time-style=+ . t-0 | md5sum; cat t-0/* | md5sum", dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	n = fread(out, 1, 65535, p);
	assert_true(n > 0);
	pclose(p);
	return out;
}

static void check_records(struct logfx *f, int n)
{
	struct log_state st;

	log_get_state(f->l, &st);
	assert_int_equal(st.log_start_offset, 0);
	assert_int_equal(st.log_end_offset, n);
}

/* The listing of a log's directory fails part way: the log does not open
 * (one line says why), nothing in its directory changes, and the next
 * start, the disk readable again, has every record. Without the check the
 * log opened with the segments listed before the failure, or none, and
 * made segment 0 again over its file. */
static void test_log_dir_listing(void **state)
{
	struct logfx *f = *state;
	struct log *l = NULL;
	char *before, *after;

	logfx_put(f, 0, 300, 1);
	logmgr_close(f->m);
	f->m = NULL;
	before = dir_digest(f->dir);
	/* The first listing is the cleaner's (an interrupted swap), the
	 * second the segments'. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(logmgr_open(f->dir, &f->fio.ops, &f->m), 0);
		arm("/t-0", i / 2, i % 2 ? 5 : 0);
		logfx_reports[0] = '\0';
		assert_int_equal(logmgr_get_log(f->m, "t", 0, &f->cfg, true, &l), -EIO);
		assert_true(fails > 0);
		fail_dir = NULL;
		assert_non_null(strstr(logfx_reports, "cannot list"));
		logmgr_abandon(f->m);
		f->m = NULL;
		after = dir_digest(f->dir);
		assert_string_equal(before, after);
		free(after);
	}
	free(before);
	logfx_open(f);
	check_records(f, 300);
}

/* The listing of the data directory fails: the log manager does not open,
 * and the directory keeps its clean-shutdown marker (a refused start
 * leaves it as it found it). */
static void test_data_dir_listing(void **state)
{
	struct logfx *f = *state;
	struct logmgr *m = NULL;

	logfx_put(f, 0, 50, 1);
	logmgr_close(f->m);
	f->m = NULL;
	arm(f->dir, 0, 2);
	assert_int_equal(logmgr_open(f->dir, &f->fio.ops, &m), -EIO);
	assert_true(fails > 0);
	fail_dir = NULL;
	logfx_open(f);
	assert_true(logmgr_was_clean(f->m));
	check_records(f, 50);
}

/* The listing of the topic catalog (DATA/meta/topics) fails: the broker
 * does not open, and the next open, the disk readable again, has the
 * topic and its records (none of its logs dropped as belonging to no
 * topic). */
static void test_catalog_listing(void **state)
{
	struct logfx *f = *state;
	struct broker_config cfg;
	struct broker *b = NULL;
	struct topic *t;
	char err[256];

	logmgr_close(f->m);
	f->m = NULL;
	broker_config_defaults(&cfg);
	assert_int_equal(broker_config_parse(&cfg, "", 0, err, sizeof(err)), 0);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s/broker", f->dir);
	assert_int_equal(broker_open(&cfg, &b), 0);
	assert_int_equal(broker_topic_create(b, "orders", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_produce(t, 0, "a\nb\n", 4, 0), 0);
	topic_put(t);
	assert_int_equal(broker_close(b), 0);
	b = NULL;

	arm("/meta/topics", 0, 0);
	assert_true(broker_open(&cfg, &b) < 0);
	assert_true(fails > 0);
	fail_dir = NULL;
	assert_null(b);
	assert_int_equal(broker_open(&cfg, &b), 0);
	assert_int_equal(broker_topic_get(b, "orders", &t), 0);
	assert_int_equal(topic_line_size(t, 0), 4);
	topic_put(t);
	assert_int_equal(broker_close(b), 0);
}

/* An fdatasync a signal interrupted is made again: the sync succeeds.
 * Passed up, EINTR would fail the segment's syncs for good (seg_fsync
 * keeps a sync's failure), and a writer whose libc retries an
 * interrupted fsync() would loop on it. */
static void test_fsync_eintr(void **state)
{
	struct logfx *f = *state;
	const struct io_ops *io = &io_posix;
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "%s/eintr", f->dir);
	fd = io->open(io->ctx, path, O_RDWR | O_CREAT, 0644);
	assert_true(fd >= 0);
	sync_eintr = 2;
	syncs = 0;
	assert_int_equal(io->fsync(io->ctx, fd), 0);
	assert_int_equal(syncs, 3);
	io->close(io->ctx, fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fsync_eintr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_dir_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_data_dir_listing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_listing, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
