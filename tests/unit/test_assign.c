/*
 * test_assign.c — the consumer group assignors: Kafka's documented
 * examples (one topic), and properties over random member/partition sets:
 * every partition assigned exactly once, range and roundrobin laid out as
 * Kafka computes them, sticky and cooperative-sticky moving the minimum
 * number of partitions on join and leave, cooperative-sticky never giving
 * a partition to a new owner in the generation that revokes it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/assign.h"

#define MAXM 64
#define MAXP 256

static void check_balanced_complete(const int32_t *owner, int m, int n)
{
	int count[MAXM] = { 0 }, lo = n, hi = 0;

	for (int p = 0; p < n; p++) {
		assert_true(owner[p] >= 0 && owner[p] < m); /* exactly one owner */
		count[owner[p]]++;
	}
	for (int i = 0; i < m; i++) {
		lo = count[i] < lo ? count[i] : lo;
		hi = count[i] > hi ? count[i] : hi;
	}
	if (m > 0 && n > 0)
		assert_true(hi - lo <= 1);
}

static void test_strategy_names(void **state)
{
	(void)state;
	assert_int_equal(assign_strategy_parse("range", 5), ASSIGN_RANGE);
	assert_int_equal(assign_strategy_parse("roundrobin", 10), ASSIGN_ROUNDROBIN);
	assert_int_equal(assign_strategy_parse("sticky", 6), ASSIGN_STICKY);
	assert_int_equal(assign_strategy_parse("cooperative-sticky", 18),
			 ASSIGN_COOPERATIVE_STICKY);
	assert_int_equal(assign_strategy_parse("rangex", 6), -EINVAL);
	assert_int_equal(assign_strategy_parse("", 0), -EINVAL);
	assert_string_equal(assign_strategy_name(ASSIGN_COOPERATIVE_STICKY), "cooperative-sticky");
}

/* RangeAssignor javadoc: C0, C1; t0 with 3 partitions -> C0 [0,1], C1 [2].
 * Member indexes given out of id order: the layout follows the ids. */
static void test_range_kafka_example(void **state)
{
	const char *ids[] = { "C1", "C0" };
	int32_t owner[3];

	(void)state;
	assert_int_equal(assign_compute(ASSIGN_RANGE, ids, 2, 3, NULL, owner), 0);
	assert_int_equal(owner[0], 1);
	assert_int_equal(owner[1], 1);
	assert_int_equal(owner[2], 0);
}

/* RoundRobinAssignor javadoc, one topic: C0 [0,2], C1 [1]. */
static void test_roundrobin_kafka_example(void **state)
{
	const char *ids[] = { "C0", "C1" };
	int32_t owner[3];

	(void)state;
	assert_int_equal(assign_compute(ASSIGN_ROUNDROBIN, ids, 2, 3, NULL, owner), 0);
	assert_int_equal(owner[0], 0);
	assert_int_equal(owner[1], 1);
	assert_int_equal(owner[2], 0);
}

/* StickyAssignor javadoc (one topic of 8 partitions standing for its
 * t0..t3 x 2): C0, C1, C2 get 3, 3, 2; C1 leaves: C0 and C2 keep all of
 * theirs and share C1's (range would move more). */
static void test_sticky_kafka_example(void **state)
{
	const char *ids3[] = { "C0", "C1", "C2" };
	const char *ids2[] = { "C0", "C2" };
	int32_t gen1[8], prev[8], gen2[8];

	(void)state;
	assert_int_equal(assign_compute(ASSIGN_STICKY, ids3, 3, 8, NULL, gen1), 0);
	check_balanced_complete(gen1, 3, 8);
	for (int p = 0; p < 8; p++)
		prev[p] = gen1[p] == 0 ? 0 : gen1[p] == 2 ? 1 : -1;
	assert_int_equal(assign_compute(ASSIGN_STICKY, ids2, 2, 8, prev, gen2), 0);
	check_balanced_complete(gen2, 2, 8);
	for (int p = 0; p < 8; p++)
		if (prev[p] >= 0)
			assert_int_equal(gen2[p], prev[p]);
}

static void rand_ids(char ids[][16], const char **v, int m, int salt)
{
	for (int i = 0; i < m; i++) {
		snprintf(ids[i], 16, "m%04d", (i * 7919 + salt) % 10000);
		v[i] = ids[i];
	}
}

/* Range and roundrobin against an independent reference computation. */
static void test_range_roundrobin_random(void **state)
{
	char ids[MAXM][16];
	const char *v[MAXM];
	int32_t owner[MAXP];

	(void)state;
	srand(42);
	for (int iter = 0; iter < 500; iter++) {
		int m = 1 + rand() % 20, n = rand() % 100;
		int sorted[MAXM];

		rand_ids(ids, v, m, rand() % 10000);
		/* reference order: selection sort by id */
		for (int i = 0; i < m; i++)
			sorted[i] = i;
		for (int i = 0; i < m; i++)
			for (int j = i + 1; j < m; j++)
				if (strcmp(v[sorted[j]], v[sorted[i]]) < 0) {
					int t = sorted[i];
					sorted[i] = sorted[j];
					sorted[j] = t;
				}
		assert_int_equal(assign_compute(ASSIGN_ROUNDROBIN, v, m, n, NULL, owner), 0);
		for (int p = 0; p < n; p++)
			assert_int_equal(owner[p], sorted[p % m]);
		assert_int_equal(assign_compute(ASSIGN_RANGE, v, m, n, NULL, owner), 0);
		check_balanced_complete(owner, m, n);
		/* contiguous runs, in id order, longer runs first */
		for (int p = 1; p < n; p++) {
			int a = 0, b = 0;
			for (int i = 0; i < m; i++) {
				if (sorted[i] == owner[p - 1])
					a = i;
				if (sorted[i] == owner[p])
					b = i;
			}
			assert_true(b == a || b == a + 1 || (n / m == 0 && b > a));
		}
		for (int i = 0; i < m; i++) {
			int c = 0;
			for (int p = 0; p < n; p++)
				c += owner[p] == sorted[i];
			assert_int_equal(c, n / m + (i < n % m ? 1 : 0));
		}
	}
}

static int moved(const int32_t *prev, const int32_t *now, int n)
{
	int k = 0;

	for (int p = 0; p < n; p++)
		if (prev[p] >= 0 && now[p] != prev[p])
			k++;
	return k;
}

/* Runs the strategy to a stable assignment: cooperative-sticky takes two
 * generations; checks that its first one only revokes. */
static void run_to_stable(int strategy, const char **v, int m, int n, const int32_t *prev,
			  int32_t *out)
{
	int32_t round1[MAXP];
	int rc = assign_compute(strategy, v, m, n, prev, round1);

	assert_true(rc >= 0);
	if (strategy != ASSIGN_COOPERATIVE_STICKY || rc == 0) {
		memcpy(out, round1, sizeof(int32_t) * (size_t)n);
		return;
	}
	/* generation g+1: every partition has its old owner or none */
	for (int p = 0; p < n; p++)
		assert_true(round1[p] == -1 || (prev && round1[p] == prev[p]));
	assert_int_equal(assign_compute(strategy, v, m, n, round1, out), 0);
	/* generation g+2: nothing revoked, only the unowned ones given */
	for (int p = 0; p < n; p++)
		if (round1[p] >= 0)
			assert_int_equal(out[p], round1[p]);
}

/* Join and leave: only the leaver's partitions move, and on a join only
 * the ones the newcomer ends up with. */
static void sticky_join_leave(int strategy)
{
	char ids[MAXM][16];
	const char *v[MAXM];
	int32_t cur[MAXP], prev[MAXP], next[MAXP];

	srand(7 + strategy);
	for (int iter = 0; iter < 300; iter++) {
		int m = 1 + rand() % 12, n = rand() % 60;

		rand_ids(ids, v, MAXM, rand() % 10000);
		run_to_stable(strategy, v, m, n, NULL, cur);
		check_balanced_complete(cur, m, n);
		for (int step = 0; step < 20; step++) {
			if ((rand() % 2 == 0 && m < MAXM - 1) || m == 1) {
				/* join: the newcomer is index m (a fresh id) */
				int got = 0;

				memcpy(prev, cur, sizeof(int32_t) * (size_t)n);
				m++;
				run_to_stable(strategy, v, m, n, prev, next);
				check_balanced_complete(next, m, n);
				for (int p = 0; p < n; p++)
					got += next[p] == m - 1;
				assert_int_equal(moved(prev, next, n), got);
				assert_int_equal(
					got, n / m); /* the newcomer has no claim to the extra */
			} else {
				/* leave: member x goes; the last member takes its index */
				int x = rand() % m, lost = 0;
				const char *tmp = v[x];

				for (int p = 0; p < n; p++) {
					prev[p] = cur[p] == x ? -1 : cur[p] == m - 1 ? x : cur[p];
					lost += cur[p] == x;
				}
				v[x] = v[m - 1];
				v[m - 1] = tmp;
				m--;
				run_to_stable(strategy, v, m, n, prev, next);
				check_balanced_complete(next, m, n);
				assert_int_equal(moved(prev, next, n), 0);
				(void)lost;
			}
			memcpy(cur, next, sizeof(int32_t) * (size_t)n);
		}
	}
}

static void test_sticky_join_leave_random(void **state)
{
	(void)state;
	sticky_join_leave(ASSIGN_STICKY);
}

static void test_cooperative_join_leave_random(void **state)
{
	(void)state;
	sticky_join_leave(ASSIGN_COOPERATIVE_STICKY);
}

/* From an arbitrary (unbalanced) previous assignment, sticky moves exactly
 * the excess over the best quotas: brute force over which members get
 * the one-more quota on small cases. */
static void test_sticky_minimal_moves_bruteforce(void **state)
{
	char ids[MAXM][16];
	const char *v[MAXM];
	int32_t prev[MAXP], out[MAXP];

	(void)state;
	srand(99);
	for (int iter = 0; iter < 400; iter++) {
		int m = 1 + rand() % 6, n = rand() % 20, best = 1 << 30;
		int count[MAXM] = { 0 };

		rand_ids(ids, v, m, rand() % 10000);
		for (int p = 0; p < n; p++) {
			prev[p] = rand() % (m + 1) - 1;
			if (prev[p] >= 0)
				count[prev[p]]++;
		}
		for (int mask = 0; mask < (1 << m); mask++) {
			int bits = __builtin_popcount((unsigned)mask), mv = 0;

			if (bits != n % m)
				continue;
			for (int i = 0; i < m; i++) {
				int q = n / m + ((mask >> i) & 1);
				mv += count[i] > q ? count[i] - q : 0;
			}
			best = mv < best ? mv : best;
		}
		assert_int_equal(assign_compute(ASSIGN_STICKY, v, m, n, prev, out), 0);
		check_balanced_complete(out, m, n);
		assert_int_equal(moved(prev, out, n), best);
	}
}

static void test_edges(void **state)
{
	const char *ids[] = { "a", "b", "c" };
	int32_t owner[2] = { 5, 5 };

	(void)state;
	/* more members than partitions: some get none, all assigned once */
	for (int s = 0; s <= ASSIGN_COOPERATIVE_STICKY; s++) {
		assert_int_equal(assign_compute(s, ids, 3, 2, NULL, owner), 0);
		check_balanced_complete(owner, 3, 2);
	}
	/* no members: nothing owned */
	assert_int_equal(assign_compute(ASSIGN_RANGE, ids, 0, 2, NULL, owner), 0);
	assert_int_equal(owner[0], -1);
	assert_int_equal(owner[1], -1);
	assert_int_equal(assign_compute(17, ids, 3, 2, NULL, owner), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strategy_names),
		cmocka_unit_test(test_range_kafka_example),
		cmocka_unit_test(test_roundrobin_kafka_example),
		cmocka_unit_test(test_sticky_kafka_example),
		cmocka_unit_test(test_range_roundrobin_random),
		cmocka_unit_test(test_sticky_join_leave_random),
		cmocka_unit_test(test_cooperative_join_leave_random),
		cmocka_unit_test(test_sticky_minimal_moves_bruteforce),
		cmocka_unit_test(test_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
