/*
 * test_fdheld.c — fs/fdheld.c against this process's own descriptor table:
 * files in a temp dir stand for the mount's open files, and each close()
 * is followed by the call the daemon makes at the kernel's flush (which
 * comes after the descriptor left the table). The answers are those of a
 * reading of the whole table; the table is read once for a run of closes
 * and again when the process changed it in a way no flush shows (dup,
 * dup2 over a descriptor of another file, an open).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs.h"

#define OWNER 42

struct fx {
	char dir[64];
	struct fd_held *h;
	uint32_t pid;
};

static void paths(void *ctx, void (*add)(void *set, const char *path), void *set)
{
	(void)ctx;
	add(set, "a");
	add(set, "b");
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char p[96];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mqfs-test-fdheld.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	for (const char *n = "ab"; *n; n++) {
		snprintf(p, sizeof(p), "%s/%c", f->dir, *n);
		int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);

		if (fd < 0)
			return -1;
		close(fd);
	}
	if (fd_held_new(f->dir, paths, NULL, &f->h) != 0)
		return -1;
	f->pid = (uint32_t)getpid();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[96];

	fd_held_free(f->h);
	for (const char *n = "ab"; *n; n++) {
		snprintf(p, sizeof(p), "%s/%c", f->dir, *n);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* The table read is this process's own, which holds the reading's own
 * descriptor of /proc/PID/fd while it reads: at the lowest free number.
 * The test's descriptors are put above, so that their closes do not move
 * it (which a check would take for a change of the table). */
static int open_file(struct fx *f, const char *name, int flags)
{
	char p[96];

	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	int fd = open(p, flags | O_CLOEXEC);

	assert_true(fd >= 0);
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);

	assert_true(high >= 100);
	close(fd);
	return high;
}

/* Whether the kernel counts a table's descriptors as the size of
 * /proc/PID/fd (Linux 6.2 on): before, every check A fails and each
 * close reads the table again (still right), so only the answers, not
 * the number of readings, are asserted there. */
static bool kernel_counts_table(void)
{
	struct stat st;

	return stat("/proc/self/fd", &st) == 0 && st.st_size > 0;
}

static void assert_readings(struct fx *f, uint64_t before, uint64_t n)
{
	if (kernel_counts_table())
		assert_int_equal(fd_held_scans(f->h), before + n);
}

/* close(fd), then the flush's call: whether the process still holds name. */
static bool close_asking(struct fx *f, int fd, const char *name)
{
	assert_int_equal(close(fd), 0);
	return fd_held_close(f->h, OWNER, f->pid, name, true);
}

/* A close the daemon does not ask about (no unfinished line): counted. */
static void close_told(struct fx *f, int fd, const char *name)
{
	assert_int_equal(close(fd), 0);
	assert_false(fd_held_close(f->h, OWNER, f->pid, name, false));
}

/* Many descriptors of a file and one of another: one reading answers
 * every close, each answer right. */
static void test_one_reading_for_many_closes(void **state)
{
	struct fx *f = *state;
	enum { N = 64 };
	int fds[N], b = open_file(f, "b", O_WRONLY);
	uint64_t scans = fd_held_scans(f->h);

	for (int i = 0; i < N; i++)
		fds[i] = open_file(f, "a", O_WRONLY);
	for (int i = 0; i < N; i++)
		assert_int_equal(close_asking(f, fds[i], "a"), i < N - 1);
	assert_false(close_asking(f, b, "b"));
	assert_readings(f, scans, 1);
}

/* Closes the daemon is not asked about keep the kept reading right. */
static void test_closes_not_asked_are_counted(void **state)
{
	struct fx *f = *state;
	int a = open_file(f, "a", O_WRONLY), b1 = open_file(f, "b", O_WRONLY);
	int b2 = open_file(f, "b", O_RDONLY), b3 = open_file(f, "b", O_WRONLY);
	uint64_t scans = fd_held_scans(f->h);

	assert_true(close_asking(f, b1, "b"));
	close_told(f, b2, "b");
	assert_false(close_asking(f, b3, "b"));
	assert_false(close_asking(f, a, "a"));
	assert_readings(f, scans, 1);
}

/* A copy made after the reading (dup at a free number above the
 * reading's, as dup() takes the lowest): the original's close finds it. */
static void test_dup_after_reading(void **state)
{
	struct fx *f = *state;
	int a = open_file(f, "a", O_WRONLY), b = open_file(f, "b", O_WRONLY);

	assert_false(close_asking(f, b, "b")); /* the reading */
	int c = fcntl(a, F_DUPFD_CLOEXEC, 100);

	assert_true(c >= 100);
	assert_true(close_asking(f, a, "a"));
	assert_false(close_asking(f, c, "a"));
}

/* dup2() over a descriptor of another file (/dev/null): the count of
 * descriptors does not move, the other file's link does. */
static void test_dup2_over_another_file(void **state)
{
	struct fx *f = *state;
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int a = open_file(f, "a", O_WRONLY), b = open_file(f, "b", O_WRONLY);

	assert_true(null >= 0);
	assert_false(close_asking(f, b, "b")); /* the reading */
	assert_int_equal(dup2(a, null), null);
	assert_true(close_asking(f, a, "a"));
	assert_false(close_asking(f, null, "a"));
}

/* An open of the file after the reading (another open file of it). */
static void test_open_after_reading(void **state)
{
	struct fx *f = *state;
	int a = open_file(f, "a", O_WRONLY), b = open_file(f, "b", O_WRONLY);

	assert_false(close_asking(f, b, "b")); /* the reading */
	int a2 = open_file(f, "a", O_RDONLY);

	assert_true(close_asking(f, a, "a"));
	assert_false(close_asking(f, a2, "a"));
}

/* An O_PATH descriptor of the file is a descriptor of it, as for a
 * reading of the whole table, though its close sends no flush. */
static void test_o_path_descriptor(void **state)
{
	struct fx *f = *state;
	int p = open_file(f, "a", O_PATH), a = open_file(f, "a", O_WRONLY);
	int b = open_file(f, "b", O_WRONLY);

	assert_false(close_asking(f, b, "b")); /* the reading */
	assert_true(close_asking(f, a, "a"));
	assert_int_equal(close(p), 0); /* no flush */
	a = open_file(f, "a", O_WRONLY);
	int a2 = open_file(f, "a", O_WRONLY);

	assert_true(close_asking(f, a, "a"));
	assert_false(close_asking(f, a2, "a"));
}

/* Without a table (h NULL), every question reads the whole table. */
static void test_without_table(void **state)
{
	struct fx *f = *state;
	int a = open_file(f, "a", O_WRONLY), a2 = open_file(f, "a", O_WRONLY);

	assert_int_equal(close(a), 0);
	assert_true(fd_held_close(NULL, OWNER, f->pid, "a", true));
	assert_int_equal(close(a2), 0);
	assert_false(fd_held_close(NULL, OWNER, f->pid, "a", true));
	assert_false(fd_held_close(NULL, OWNER, 0, "a", true)); /* pid unknown: a no */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_reading_for_many_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closes_not_asked_are_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dup_after_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dup2_over_another_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_after_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(test_o_path_descriptor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_table, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
