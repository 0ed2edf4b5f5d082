/*
 * test_util.c — util/: the floor binary search (bsearch.h) on every edge
 * (empty, before the first key, equal keys, past the last, a failing key
 * read) against a linear scan, and the deadline arithmetic of clock.h
 * (normalised nanoseconds, at least ms from now).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util/bsearch.h"
#include "util/clock.h"

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_le_matches_scan),
		cmocka_unit_test(test_last_le_error),
		cmocka_unit_test(test_deadline),
	};
	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
