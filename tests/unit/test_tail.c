/*
 * test_tail.c — the mapped tail (seg.c) through the real I/O table: small
 * appends copied into a shared mapping of the active segment's next bytes.
 * The file runs ahead of the log while it is mapped and ends where the log
 * ends after a clean close, a roll and a truncation; after a crash (a
 * child killed with SIGKILL) recovery cuts the reserved zeros without
 * counting them as torn; a reservation that fails falls back to writes.
 * Bigger appends, written, reserve blocks ahead without growing the file,
 * given back at roll, truncation and close; so do the .lines entries an
 * append holds back, and a failed .lines reservation fails the append.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/log_int.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mqfs-test-tail-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int64_t file_size(int64_t base)
{
	char p[400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/t-0/%020lld.log", dir, (long long)base);
	return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

static void open_log(const struct io_ops *io, struct log_config *cfg, struct logmgr **m,
		     struct log **l)
{
	assert_int_equal(logmgr_open(dir, io, m), 0);
	assert_true(logmgr_get_log(*m, "t", 0, cfg, true, l) >= 0);
}

/* Records "rec-<i>", one append each (the small-write path), committed. */
static void append_small(struct log *l, int from, int n)
{
	struct log_state st;

	for (int i = from; i < from + n; i++) {
		char v[32];
		struct rec_in r = { NULL, -1, v, snprintf(v, sizeof(v), "rec-%d", i), 1000 + i };
		assert_int_equal(log_append(l, &r, 1, 0, NULL), 0);
	}
	log_get_state(l, &st);
	assert_int_equal(log_set_hw(l, st.log_end_offset), 0);
}

static void check(struct log *l, int n)
{
	size_t cap = (size_t)n * 16 + 64, got = 0;
	char *want = malloc(cap), *buf = malloc(cap), *w = want;
	struct log_cursor *c = log_cursor_new(l);
	ssize_t k;

	assert_non_null(want);
	assert_non_null(buf);
	for (int i = 0; i < n; i++)
		w += sprintf(w, "rec-%d\n", i);
	while ((k = log_read_lines(l, c, (int64_t)got, buf + got, cap - got, NULL)) > 0)
		got += (size_t)k;
	assert_int_equal(got, (size_t)(w - want));
	assert_memory_equal(buf, want, got);
	log_cursor_free(c);
	free(want);
	free(buf);
}

/* Every segment's file ends where its part of the log does. */
static void files_trimmed(struct log *l)
{
	int64_t *bases;
	int nb;

	assert_int_equal(log_segments(l, &bases, &nb), 0);
	for (int i = 0; i < nb; i++)
		assert_int_equal(file_size(bases[i]), log_segment_size(l, bases[i], SEG_LOG));
	free(bases);
}

static void test_close_trims(void **state)
{
	struct log_config cfg;
	struct logmgr *m;
	struct log *l;
	struct log_state st;

	(void)state;
	log_config_defaults(&cfg);
	open_log(&io_posix, &cfg, &m, &l);
	append_small(l, 0, 5000);
	log_get_state(l, &st);
	assert_true(file_size(0) > st.size_bytes); /* space reserved ahead */
	check(l, 5000);
	logmgr_close(m);
	open_log(&io_posix, &cfg, &m, &l);
	log_get_state(l, &st);
	assert_int_equal(st.recovered_segments, 0);
	assert_int_equal(file_size(0), st.size_bytes);
	check(l, 5000);
	/* Big appends (written) and small ones (mapped) mix. */
	struct rec_in big[2000];
	static char v[2000][16];
	for (int i = 0; i < 2000; i++)
		big[i] = (struct rec_in){ NULL, -1, v[i],
					  snprintf(v[i], sizeof(v[i]), "rec-%d", 5000 + i), 1 };
	assert_int_equal(log_append(l, big, 2000, 0, NULL), 0);
	append_small(l, 7000, 100);
	check(l, 7100);
	logmgr_close(m);
	open_log(&io_posix, &cfg, &m, &l);
	files_trimmed(l);
	check(l, 7100);
	logmgr_close(m);
}

static void test_roll_and_truncate_trim(void **state)
{
	struct log_config cfg;
	struct logmgr *m;
	struct log *l;
	struct log_state st;

	(void)state;
	log_config_defaults(&cfg);
	cfg.segment_bytes = 64 << 10;
	open_log(&io_posix, &cfg, &m, &l);
	append_small(l, 0, 6000);
	log_get_state(l, &st);
	assert_true(st.segments >= 3);
	/* Closed segments end where their log does; the active one runs ahead. */
	int64_t *bases;
	int nb;
	assert_int_equal(log_segments(l, &bases, &nb), 0);
	for (int i = 0; i < nb - 1; i++)
		assert_int_equal(file_size(bases[i]), log_segment_size(l, bases[i], SEG_LOG));
	assert_true(file_size(bases[nb - 1]) > log_segment_size(l, bases[nb - 1], SEG_LOG));
	free(bases);
	/* A truncation cuts the file too, and appends go on from there. */
	assert_int_equal(log_truncate_to(l, 3000), 0);
	files_trimmed(l);
	append_small(l, 3000, 500);
	check(l, 3500);
	logmgr_close(m);
	open_log(&io_posix, &cfg, &m, &l);
	log_get_state(l, &st);
	assert_int_equal(st.recovered_segments, 0);
	files_trimmed(l);
	check(l, 3500);
	logmgr_close(m);
}

/* Records "rec-<i>" in one append (big: written, not mapped). */
static void append_big(struct log *l, int from, int n)
{
	struct rec_in *r = calloc((size_t)n, sizeof(*r));
	char *v = malloc((size_t)n * 16);
	struct log_state st;

	assert_non_null(r);
	assert_non_null(v);
	for (int i = 0; i < n; i++)
		r[i] = (struct rec_in){ NULL, -1, v + 16 * i,
					snprintf(v + 16 * i, 16, "rec-%d", from + i), 1 };
	assert_int_equal(log_append(l, r, n, 0, NULL), 0);
	log_get_state(l, &st);
	assert_int_equal(log_set_hw(l, st.log_end_offset), 0);
	free(r);
	free(v);
}

/* Bytes of disk a segment's file (ext ".log", ".lines") takes, past its
 * size rounded to pages. */
static int64_t blocks_past(int64_t base, const char *ext)
{
	char p[400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/t-0/%020lld%s", dir, (long long)base, ext);
	assert_int_equal(stat(p, &st), 0);
	return (int64_t)st.st_blocks * 512 - (st.st_size + 4095) / 4096 * 4096;
}

static int64_t blocks_past_size(int64_t base)
{
	return blocks_past(base, ".log");
}

static bool keep_size_supported(void)
{
	char p[400];
	snprintf(p, sizeof(p), "%s/probe", dir);
	int fd = open(p, O_CREAT | O_RDWR, 0600);
	bool ok = fd >= 0 && fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 65536) == 0;
	if (fd >= 0)
		close(fd);
	unlink(p);
	return ok;
}

/* After rolls: the closed segments' files ext have less than below bytes
 * of disk past their size (the roll freed their reservation); the active
 * segment's base. */
static int64_t closed_ones_freed(struct log *l, const char *ext, int64_t below)
{
	int64_t *bases;
	int nb;

	assert_int_equal(log_segments(l, &bases, &nb), 0);
	assert_true(nb >= 3);
	for (int i = 0; i < nb - 1; i++)
		assert_true(blocks_past(bases[i], ext) < below);
	int64_t last = bases[nb - 1];
	free(bases);
	return last;
}

/* Opens the log with segment.bytes segment_bytes through the real I/O
 * table; false (the test skipped) where reservations cannot be made. */
static bool open_reserving(int64_t segment_bytes, struct log_config *cfg, struct logmgr **m,
			   struct log **l)
{
	if (!keep_size_supported()) {
		print_message("no fallocate(FALLOC_FL_KEEP_SIZE) here: skipped\n");
		return false;
	}
	log_config_defaults(cfg);
	cfg->segment_bytes = segment_bytes;
	open_log(&io_posix, cfg, m, l);
	return true;
}

/* Written appends reserve the .log's blocks ahead of its end without
 * growing it; a roll, a truncation and a clean close give them back. */
static void test_reserved_blocks_freed(void **state)
{
	struct log_config cfg;
	struct logmgr *m;
	struct log *l;

	(void)state;
	if (!open_reserving(1 << 20, &cfg, &m, &l))
		return;
	append_big(l, 0, 10000);
	assert_int_equal(file_size(0), log_segment_size(l, 0, SEG_LOG)); /* size kept */
	assert_true(blocks_past_size(0) >= 4 * log_segment_size(l, 0, SEG_LOG) - 4096);
	/* A truncation (to the second append's first batch) cuts them too. */
	append_big(l, 10000, 10000);
	assert_int_equal(log_truncate_to(l, 10000), 0);
	assert_true(blocks_past_size(0) < 65536);
	append_big(l, 10000, 10000);
	assert_true(blocks_past_size(0) >= 65536);
	for (int k = 2; k < 24; k++)
		append_big(l, 10000 * k, 10000);
	int64_t last = closed_ones_freed(l, ".log", 65536);
	assert_true(blocks_past_size(last) >= 65536);
	logmgr_close(m);
	assert_true(blocks_past_size(last) < 65536);
	open_log(&io_posix, &cfg, &m, &l);
	files_trimmed(l);
	check(l, 240000);
	logmgr_close(m);
}

/* An append reserves the blocks of the .lines entries it holds back, so
 * that a reader's write of them never needs one (a full disk fails the
 * append, not the read); a roll and a clean close give the rest back. */
static void test_lines_reserved(void **state)
{
	struct log_config cfg;
	struct logmgr *m;
	struct log *l;

	(void)state;
	if (!open_reserving(64 << 10, &cfg, &m, &l))
		return;
	append_small(l, 0, 100); /* fewer than a block of entries: pending */
	assert_true(blocks_past(0, ".lines") >= 60 << 10);
	check(l, 100); /* the reader writes them, into the reservation */
	append_small(l, 100, 5900);
	int64_t last = closed_ones_freed(l, ".lines", 4096);
	assert_true(blocks_past(last, ".lines") > 0);
	logmgr_close(m);
	assert_true(blocks_past(last, ".lines") < 4096);
	open_log(&io_posix, &cfg, &m, &l);
	check(l, 6000);
	logmgr_close(m);
}

/* A .lines reservation that fails fails the append with its errno, and
 * nothing of it is appended; a filesystem without fallocate appends
 * without one. */
static int reserve_full(void *ctx, int fd, off_t off, off_t len)
{
	(void)ctx;
	(void)fd;
	(void)off;
	(void)len;
	return -ENOSPC;
}

static int reserve_unsupported(void *ctx, int fd, off_t off, off_t len)
{
	(void)ctx;
	(void)fd;
	(void)off;
	(void)len;
	return -EOPNOTSUPP;
}

static void test_lines_reserve_fails(void **state)
{
	struct io_ops io = io_posix;
	struct log_config cfg;
	struct logmgr *m;
	struct log *l;
	struct log_state st;

	(void)state;
	log_config_defaults(&cfg);
	open_log(&io_posix, &cfg, &m, &l);
	append_small(l, 0, 10);
	logmgr_close(m);
	io.reserve = reserve_full;
	open_log(&io, &cfg, &m, &l);
	struct rec_in r = { NULL, -1, "lost", 4, 1 };
	assert_int_equal(log_append(l, &r, 1, 0, NULL), -ENOSPC);
	log_get_state(l, &st);
	assert_int_equal(st.log_end_offset, 10);
	check(l, 10);
	logmgr_close(m);
	io.reserve = reserve_unsupported;
	open_log(&io, &cfg, &m, &l);
	append_small(l, 10, 1000);
	check(l, 1010);
	logmgr_close(m);
	open_log(&io_posix, &cfg, &m, &l);
	files_trimmed(l);
	check(l, 1010);
	logmgr_close(m);
}

/* kill -9 while the tail is mapped: every appended record survives, the
 * reserved zeros go, and none of them counts as torn. */
static void test_crash_cuts_zeros(void **state)
{
	struct log_config cfg;
	struct logmgr *m;
	struct log *l;
	struct log_state st;
	int status;

	(void)state;
	log_config_defaults(&cfg);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (logmgr_open(dir, &io_posix, &m) != 0 ||
		    logmgr_get_log(m, "t", 0, &cfg, true, &l) < 0)
			_exit(2);
		for (int i = 0; i < 3000; i++) {
			char v[32];
			struct rec_in r = { NULL, -1, v, snprintf(v, sizeof(v), "rec-%d", i), 1 };
			if (log_append(l, &r, 1, 0, NULL) != 0)
				_exit(3);
		}
		kill(getpid(), SIGKILL);
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	int64_t before = file_size(0);
	open_log(&io_posix, &cfg, &m, &l);
	log_get_state(l, &st);
	assert_true(before > st.size_bytes);
	assert_true(st.recovered_segments >= 1);
	assert_int_equal(st.recovery_truncated, 0);
	assert_int_equal(st.log_end_offset, 3000);
	assert_int_equal(file_size(0), st.size_bytes);
	assert_int_equal(log_set_hw(l, st.log_end_offset), 0);
	check(l, 3000);
	logmgr_close(m);
}

/* A reservation that fails (a full disk) after growing the file a little:
 * appends are written instead, and the file is cut back all the same. */
static void *map_fails(void *ctx, int fd, off_t off, size_t len)
{
	(void)ctx;
	(void)len;
	if (posix_fallocate(fd, off, 4096) != 0)
		return NULL;
	errno = ENOSPC;
	return NULL;
}

static void test_reservation_fails(void **state)
{
	struct io_ops io = io_posix;
	struct log_config cfg;
	struct logmgr *m;
	struct log *l;

	(void)state;
	io.map_tail = map_fails;
	log_config_defaults(&cfg);
	open_log(&io, &cfg, &m, &l);
	append_small(l, 0, 1000);
	check(l, 1000);
	logmgr_close(m);
	open_log(&io_posix, &cfg, &m, &l);
	files_trimmed(l);
	check(l, 1000);
	logmgr_close(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_close_trims, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roll_and_truncate_trim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_cuts_zeros, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reservation_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reserved_blocks_freed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_reserved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_reserve_fails, setup, teardown),
	};
	return cmocka_run_group_tests_name("tail", tests, NULL, NULL);
}
