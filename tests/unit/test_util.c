/*
 * test_util.c — util/: the floor binary search (bsearch.h) on every edge
 * (empty, before the first key, equal keys, past the last, a failing key
 * read) against a linear scan, the search by name (found, or where it
 * would go, on every edge), the deadline arithmetic of clock.h
 * (normalised nanoseconds, at least ms from now), and pause.h: a pause
 * lasts its whole length while a signal handler interrupts it every
 * millisecond, and the backoff grows by steps up to its cap; the
 * (topic, partition) hash index (tpindex.h) against a linear scan through
 * thousands of random additions and swap removals.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>

#include "util/bsearch.h"
#include "util/clock.h"
#include "util/fdroom.h"
#include "util/pause.h"
#include "util/shelf.h"
#include "util/tpindex.h"

static const char *name_of(const void *arg, int i)
{
	return ((const char *const *)arg)[i];
}

/* Every name is found at its index; every name between two (and before
 * the first, after the last) gives its insertion point; empty: 0. */
static void test_name_search(void **state)
{
	static const char *const names[] = { "b", "d", "d0", "f", "h" };
	static const char *const absent[] = { "a", "c", "d00", "e", "g", "i" };
	static const int at[] = { 0, 1, 3, 3, 4, 5 };

	(void)state;
	for (int n = 0; n <= 5; n++) {
		for (int i = 0; i < n; i++)
			assert_int_equal(bsearch_name(n, names[i], name_of, names), i);
		for (int i = 0; i < 6; i++) {
			int want = at[i] < n ? at[i] : n;

			assert_int_equal(bsearch_name(n, absent[i], name_of, names), -want - 1);
		}
	}
}

static int key_of(const void *arg, int64_t i, int64_t *k)
{
	*k = ((const int64_t *)arg)[i];
	return 0;
}

static int64_t linear_last_le(const int64_t *a, int64_t n, int64_t key)
{
	int64_t ans = -1;

	for (int64_t i = 0; i < n && a[i] <= key; i++)
		ans = i;
	return ans;
}

static void test_last_le_matches_scan(void **state)
{
	static const int64_t keys[] = { 0, 3, 3, 3, 7, 100, 100, 4096, INT64_MAX };
	int64_t nk = (int64_t)(sizeof(keys) / sizeof(keys[0]));

	(void)state;
	assert_int_equal(bsearch_last_le(0, 5, key_of, keys), -1);
	for (int64_t n = 1; n <= nk; n++)
		for (int64_t key = -2; key <= 4100; key++)
			assert_int_equal(bsearch_last_le(n, key, key_of, keys),
					 linear_last_le(keys, n, key));
	assert_int_equal(bsearch_last_le(nk, INT64_MAX, key_of, keys), nk - 1);
	assert_int_equal(bsearch_last_le(nk, INT64_MIN, key_of, keys), -1);
}

static int key_fails(const void *arg, int64_t i, int64_t *k)
{
	(void)arg;
	*k = i;
	return i == 2 ? -EIO : 0;
}

static void test_last_le_error(void **state)
{
	(void)state;
	/* n = 5: the first probe is index 2, which fails. */
	assert_int_equal(bsearch_last_le(5, 3, key_fails, NULL), -EIO);
}

static void test_deadline(void **state)
{
	static const int64_t ms[] = { 0, 1, 999, 1000, 1001, 2500, 86400000 };

	(void)state;
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		struct timespec ts;
		int64_t before = now_ns_on(CLOCK_MONOTONIC), at;

		deadline_from_ms(CLOCK_MONOTONIC, ms[i], &ts);
		assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);
		at = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		assert_true(at >= before + ms[i] * 1000000);
		assert_true(at <= now_ns_on(CLOCK_MONOTONIC) + ms[i] * 1000000);
	}
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

/* A handler installed without SA_RESTART ends a plain nanosleep with
 * EINTR at the first tick: the pause must go on to its full length. */
static void test_pause_survives_signals(void **state)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval tick = { { 0, 1000 }, { 0, 1000 } }, off = { { 0, 0 }, { 0, 0 } };
	int64_t start;

	(void)state;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	alarms = 0;
	assert_int_equal(setitimer(ITIMER_REAL, &tick, NULL), 0);
	start = now_mono_ns();
	pause_ms(40);
	assert_true(now_mono_ns() - start >= 40 * 1000000LL);
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	assert_true(alarms > 0);

	/* Nothing to wait: back at once (no sleep of a negative length). */
	start = now_mono_ns();
	pause_ns(0);
	pause_ms(-5);
	assert_true(now_mono_ns() - start < 1000 * 1000000LL);
	start = now_mono_ns();
	pause_ns(2500000);
	assert_true(now_mono_ns() - start >= 2500000);
}

static void test_backoff_steps(void **state)
{
	(void)state;
	assert_int_equal(backoff_ns(0, 50000, 8), 0);
	assert_int_equal(backoff_ns(-3, 50000, 8), 0);
	assert_int_equal(backoff_ns(1, 50000, 8), 50000);
	assert_int_equal(backoff_ns(7, 50000, 8), 350000);
	assert_int_equal(backoff_ns(8, 50000, 8), 400000);
	assert_int_equal(backoff_ns(1000, 50000, 8), 400000);
	assert_int_equal(backoff_ns(3, 0, 8), 0);
}

/* The shelf keeps big buffers up to its bounds and hands each out once,
 * the smallest that holds the request and is at most twice it. */
/* poll_wait: steps go on until the deadline has passed, then each 64th
 * says so; never before it (the monotonic clock decides), whether it
 * yields between looks or not. */
static void test_poll_wait_deadline(void **state)
{
	(void)state;
	for (int yield = 0; yield < 2; yield++) {
		struct poll_wait w;
		int64_t t0 = now_mono_ns();
		long steps = 0;

		poll_wait_start(&w, 2000000, yield ? 0 : -1);
		while (poll_wait_step(&w))
			steps++;
		assert_true(now_mono_ns() - t0 >= 2000000);
		assert_int_equal((steps + 1) % 64, 0); /* the clock is read every 64th */
		/* Past the deadline every 64th step says false again. */
		for (int i = 1; i < 64; i++)
			assert_true(poll_wait_step(&w));
		assert_false(poll_wait_step(&w));
	}
}

static void test_shelf(void **state)
{
	(void)state;
	size_t cap = 0;

	shelf_clear();
	assert_null(shelf_take(SHELF_MIN, &cap));
	/* Too small to keep: freed (ASan/LSan would see a leak otherwise). */
	shelf_give(malloc(4096), 4096);
	assert_int_equal(shelf_bytes(), 0);
	shelf_give(NULL, SHELF_MIN);

	char *a = malloc(1 << 20), *b = malloc(3 << 19);
	a[0] = 'a';
	b[0] = 'b';
	shelf_give(a, 1 << 20);
	shelf_give(b, 3 << 19);
	assert_int_equal(shelf_bytes(), (1 << 20) + (3 << 19));
	/* Below SHELF_MIN: nothing, even with buffers there. */
	assert_null(shelf_take(4096, &cap));
	/* More than twice the request: not handed out. */
	assert_null(shelf_take(SHELF_MIN, &cap));
	/* The smallest that holds it. */
	char *t = shelf_take(700 << 10, &cap);
	assert_ptr_equal(t, a);
	assert_int_equal(cap, 1 << 20);
	/* b is more than twice 700 KiB, not more than twice 800 KiB. */
	assert_null(shelf_take(700 << 10, &cap));
	t = shelf_take(800 << 10, &cap);
	assert_ptr_equal(t, b);
	assert_int_equal(cap, 3 << 19);
	assert_null(shelf_take(800 << 10, &cap));
	assert_int_equal(shelf_bytes(), 0);
	free(a);
	free(b);

	/* Full (SHELF_BYTES): the next one is freed, not kept. */
	for (int i = 0; i < SHELF_BYTES / (1 << 20); i++)
		shelf_give(malloc(1 << 20), 1 << 20);
	assert_int_equal(shelf_bytes(), SHELF_BYTES);
	shelf_give(malloc(1 << 20), 1 << 20);
	assert_int_equal(shelf_bytes(), SHELF_BYTES);
	/* At most SHELF_SLOTS buffers, whatever their bytes. */
	shelf_clear();
	for (int i = 0; i < SHELF_SLOTS + 4; i++)
		shelf_give(malloc(SHELF_MIN), SHELF_MIN);
	assert_int_equal(shelf_bytes(), (size_t)SHELF_SLOTS * SHELF_MIN);
	shelf_clear();
	assert_int_equal(shelf_bytes(), 0);
}

/* The caller's array for tpindex: keys "t<k>" / partition, swap removal. */
struct tp_arr {
	char topic[4096][16];
	int32_t part[4096];
	int n;
};

static void tp_key(const void *arg, int i, const char **topic, int32_t *partition)
{
	const struct tp_arr *a = arg;

	*topic = a->topic[i];
	*partition = a->part[i];
}

static int tp_linear(const struct tp_arr *a, const char *topic, int32_t partition)
{
	for (int i = 0; i < a->n; i++)
		if (a->part[i] == partition && !strcmp(a->topic[i], topic))
			return i;
	return -1;
}

static void tp_check_all(const struct tpindex *x, const struct tp_arr *a)
{
	char t[16];

	for (int k = 0; k < 40; k++)
		for (int32_t p = 0; p < 110; p++) {
			snprintf(t, sizeof(t), "t%d", k);
			assert_int_equal(tpindex_find(x, a->n, t, p), tp_linear(a, t, p));
		}
}

/* The count follows opens and closes; a take that would leave less than
 * the reserve free is refused, counted again first, and granted once
 * descriptors are closed; reclaimable ones count as free. */
static void test_fd_room(void **state)
{
	struct rlimit was, rl;
	struct fd_room r;
	int64_t base, nopen = 0, limit = 0;
	int fds[48];

	(void)state;
	assert_int_equal(fd_room_reserve(96), 16);
	assert_int_equal(fd_room_reserve(1024), 128);
	assert_int_equal(fd_room_reserve(1 << 20), 1024);
	base = fd_count_open();
	assert_true(base >= 3);
	for (int i = 0; i < 40; i++)
		assert_true((fds[i] = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(fd_count_open(), base + 40);

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	rl = was;
	rl.rlim_cur = (rlim_t)(base + 40 + 16 + 8); /* room for 8 over the reserve */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	assert_int_equal(fd_limit(), base + 40 + 16 + 8);
	fd_room_init(&r);
	assert_int_equal(fd_room_take(&r, 8, 0, 0, &nopen, &limit, NULL), 0);
	/* Held while its files open: a count meanwhile does not see them,
	 * and a concurrent take may not spend them again. */
	fd_room_closed(&r);
	assert_int_equal(fd_room_take(&r, 4, 0, 0, &nopen, &limit, NULL), -EMFILE);
	for (int i = 40; i < 48; i++)
		assert_true((fds[i] = open("/dev/null", O_RDONLY)) >= 0);
	fd_room_done(&r, 8);
	/* Opened and done: the next 4 do not fit either. */
	assert_int_equal(fd_room_take(&r, 4, 0, 0, &nopen, &limit, NULL), -EMFILE);
	assert_int_equal(nopen, base + 48);
	assert_int_equal(limit, base + 40 + 16 + 8);
	/* Idle files the caller can close count as free (4 of those open
	 * are its cache's, counted as such). */
	fd_room_closed(&r);
	assert_int_equal(fd_room_take(&r, 4, 4, 4, &nopen, &limit, NULL), 0);
	fd_room_done(&r, 4);
	/* Closed descriptors are seen at the next count. */
	for (int i = 0; i < 48; i++)
		close(fds[i]);
	assert_int_equal(fd_room_take(&r, 40, 0, 0, &nopen, &limit, NULL), 0);
	fd_room_done(&r, 40);
	assert_int_equal(fd_room_take(&r, 200, 0, 0, &nopen, &limit, NULL), -EMFILE);
	fd_room_destroy(&r);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
}

/* With every descriptor taken, /proc/self/fd cannot be opened to count:
 * the take is refused with the limit as the count, not with the count's
 * own error and nothing set (a log line read "0 of the limit of 0"). */
static void test_fd_room_no_descriptor_to_count(void **state)
{
	struct rlimit was, rl;
	struct fd_room r;
	int64_t nopen = 0, limit = 0;
	int fds[64], n = 0, c;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	c = dup(0);
	assert_true(c >= 0);
	close(c);
	rl = was;
	rl.rlim_cur = (rlim_t)c + 32;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 64 && (fds[n] = dup(0)) >= 0)
		n++;
	assert_int_equal(errno, EMFILE);
	fd_room_init(&r);
	assert_int_equal(fd_room_take(&r, 4, 0, 0, &nopen, &limit, NULL), -EMFILE);
	assert_int_equal(limit, (int64_t)c + 32);
	assert_int_equal(nopen, limit);
	/* Free again: counted, and room. */
	while (n > 0)
		close(fds[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
	fd_room_closed(&r);
	assert_int_equal(fd_room_take(&r, 4, 0, 0, &nopen, &limit, NULL), 0);
	fd_room_done(&r, 4);
	fd_room_destroy(&r);
}

/* A cache of 16 open descriptors and a limit 8 over them and a reserve
 * of 16 (*was: the limit before); the descriptors open before them. */
static int64_t fd_cache_setup(int cache[16], struct rlimit *was)
{
	int64_t base = fd_count_open();
	struct rlimit rl;

	for (int i = 0; i < 16; i++)
		assert_true((cache[i] = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, was), 0);
	rl = *was;
	rl.rlim_cur = (rlim_t)(base + 16 + 16 + 8);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	return base;
}

/* The caller's cache of descriptors (idle segment files) closes and
 * reopens sets between counts: a take right after a count sees the cache
 * as it is now, not as counted. (A count a reader's trim made stale
 * refused creations with room to spare.) */
static void test_fd_room_cache_moves(void **state)
{
	struct rlimit was;
	struct fd_room r;
	int64_t base, nopen = 0, limit = 0;
	int cache[16];

	(void)state;
	base = fd_cache_setup(cache, &was);
	fd_room_init(&r);
	/* Counted with the cache open, all of it idle: 8 fit. */
	assert_int_equal(fd_room_take(&r, 0, 16, 16, &nopen, &limit, NULL), 0);
	/* The cache closes its idle sets (a reader out of descriptors):
	 * within the count's period, 24 fit now, not 8. */
	for (int i = 0; i < 16; i++)
		close(cache[i]);
	assert_int_equal(fd_room_take(&r, 24, 0, 0, &nopen, &limit, NULL), 0);
	fd_room_done(&r, 24);
	fd_room_closed(&r);
	/* Reopened and in use (not reclaimable): 8 fit, 16 do not. */
	for (int i = 0; i < 16; i++)
		assert_true((cache[i] = open("/dev/null", O_RDONLY)) >= 0);
	assert_int_equal(fd_room_take(&r, 16, 16, 0, &nopen, &limit, NULL), -EMFILE);
	assert_int_equal(nopen, base + 16);
	assert_int_equal(fd_room_take(&r, 8, 16, 0, &nopen, &limit, NULL), 0);
	for (int i = 0; i < 16; i++)
		close(cache[i]);
	fd_room_destroy(&r);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
}

/* A take granted on idle files of the cache (reclaimable, counted as
 * free) says how many of them to close before the step opens its own,
 * so that the reserve is free in fact: the step's opens are not all
 * ones that close idle files when out of descriptors. */
static void test_fd_room_reclaim(void **state)
{
	struct rlimit was;
	struct fd_room r;
	int64_t nopen = 0, limit = 0, reclaim = -1;
	int cache[16];

	(void)state;
	(void)fd_cache_setup(cache, &was);
	fd_room_init(&r);
	/* 8 fit beside the 16 idle files, with nothing to close. */
	assert_int_equal(fd_room_take(&r, 8, 16, 16, &nopen, &limit, &reclaim), 0);
	assert_int_equal(reclaim, 0);
	fd_room_done(&r, 8);
	fd_room_closed(&r);
	/* 12 fit on 4 of the idle files (12 + 16 is 4 over the limit less
	 * the reserve). */
	assert_int_equal(fd_room_take(&r, 12, 16, 16, &nopen, &limit, &reclaim), 0);
	assert_int_equal(reclaim, 4);
	fd_room_done(&r, 12);
	fd_room_closed(&r);
	/* Without idle files they would not. */
	assert_int_equal(fd_room_take(&r, 12, 16, 0, &nopen, &limit, &reclaim), -EMFILE);
	assert_int_equal(reclaim, 0);
	for (int i = 0; i < 16; i++)
		close(cache[i]);
	fd_room_destroy(&r);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
}

static void test_tpindex(void **state)
{
	struct tp_arr *a = calloc(1, sizeof(*a));
	struct tpindex x;
	char t[16];

	(void)state;
	assert_non_null(a);
	tpindex_init(&x, tp_key, a);
	assert_int_equal(tpindex_find(&x, 0, "t0", 0), -1);
	srandom(7);
	for (int round = 0; round < 6000; round++) {
		int k = (int)(random() % 40);
		int32_t p = (int32_t)(random() % 100);
		snprintf(t, sizeof(t), "t%d", k);
		int i = tp_linear(a, t, p);
		if (i < 0 && a->n < 4096 && random() % 3) {
			memcpy(a->topic[a->n], t, sizeof(t));
			a->part[a->n++] = p;
			tpindex_added(&x, a->n);
		} else if (i >= 0) {
			tpindex_remove(&x, i, a->n);
			a->n--;
			memcpy(a->topic[i], a->topic[a->n], sizeof(a->topic[i]));
			a->part[i] = a->part[a->n];
		}
		assert_int_equal(tpindex_find(&x, a->n, t, p), tp_linear(a, t, p));
		if (round % 1000 == 999)
			tp_check_all(&x, a);
	}
	/* Everything out, last first and first first. */
	while (a->n > 0) {
		int i = a->n % 2 ? 0 : a->n - 1;
		tpindex_remove(&x, i, a->n);
		a->n--;
		memcpy(a->topic[i], a->topic[a->n], sizeof(a->topic[i]));
		a->part[i] = a->part[a->n];
		if (a->n % 97 == 0)
			tp_check_all(&x, a);
	}
	tpindex_free(&x);
	assert_int_equal(tpindex_find(&x, 0, "t1", 1), -1); /* freed: scans */
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shelf),
		cmocka_unit_test(test_last_le_matches_scan),
		cmocka_unit_test(test_last_le_error),
		cmocka_unit_test(test_name_search),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_pause_survives_signals),
		cmocka_unit_test(test_backoff_steps),
		cmocka_unit_test(test_tpindex),
		cmocka_unit_test(test_fd_room),
		cmocka_unit_test(test_fd_room_cache_moves),
		cmocka_unit_test(test_fd_room_reclaim),
		cmocka_unit_test(test_fd_room_no_descriptor_to_count),
		cmocka_unit_test(test_poll_wait_deadline),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
