/*
 * test_zkwatch.c — the set of armed watches (repl/zkwatch.h) without a
 * server: claims list a path once, fired unlists it, keep unlists every
 * path not named, in any order and with thousands of paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "repl/zkwatch.h"

static void path_of(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "/brokers/topics/t%d", i);
}

static void test_claim_fired(void **state)
{
	struct zkwatch_set s;

	(void)state;
	zkwatch_init(&s);
	assert_false(zkwatch_armed(&s, "/a"));
	assert_int_equal(zkwatch_claim(&s, "/b"), 1);
	assert_int_equal(zkwatch_claim(&s, "/a"), 1);
	assert_int_equal(zkwatch_claim(&s, "/c"), 1);
	assert_int_equal(zkwatch_claim(&s, "/a"), 0);
	assert_true(zkwatch_armed(&s, "/a"));
	assert_true(zkwatch_armed(&s, "/b"));
	assert_true(zkwatch_armed(&s, "/c"));
	zkwatch_fired(&s, "/b");
	zkwatch_fired(&s, "/nothing");
	assert_false(zkwatch_armed(&s, "/b"));
	assert_true(zkwatch_armed(&s, "/a"));
	assert_true(zkwatch_armed(&s, "/c"));
	assert_int_equal(zkwatch_claim(&s, "/b"), 1);
	assert_int_equal(s.n, 3);
	zkwatch_reset(&s);
	assert_false(zkwatch_armed(&s, "/a"));
	assert_int_equal(zkwatch_claim(&s, "/a"), 1);
	zkwatch_destroy(&s);
}

/* 5000 paths claimed in a scrambled order; keep names every third, in
 * reverse, plus names never claimed: exactly those stay. */
static void test_keep_many(void **state)
{
	enum { N = 5000 };
	struct zkwatch_set s;
	char buf[64], **keep = calloc(N, sizeof(*keep));
	int nk = 0;

	(void)state;
	assert_non_null(keep);
	zkwatch_init(&s);
	for (int k = 0; k < N; k++) {
		path_of(buf, sizeof(buf), (k * 7919) % N);
		assert_int_equal(zkwatch_claim(&s, buf), 1);
	}
	assert_int_equal(s.n, N);
	for (int i = N - 1; i >= 0; i--) {
		if (i % 3 == 0 || i % 1000 == 999) {
			path_of(buf, sizeof(buf), i % 3 == 0 ? i : N + i);
			keep[nk] = malloc(64);
			assert_non_null(keep[nk]);
			snprintf(keep[nk++], 64, "%s", buf);
		}
	}
	zkwatch_keep(&s, keep, nk);
	for (int i = 0; i < N; i++) {
		path_of(buf, sizeof(buf), i);
		assert_int_equal(zkwatch_armed(&s, buf), i % 3 == 0);
	}
	path_of(buf, sizeof(buf), N + 999);
	assert_false(zkwatch_armed(&s, buf));
	assert_int_equal(s.n, (N + 2) / 3);
	zkwatch_keep(&s, NULL, 0);
	assert_int_equal(s.n, 0);
	for (int i = 0; i < nk; i++)
		free(keep[i]);
	free(keep);
	zkwatch_destroy(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claim_fired),
		cmocka_unit_test(test_keep_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
