/*
 * assign.c — consumer group partition assignors, pure logic (no locks, no
 * I/O): Kafka's RangeAssignor, RoundRobinAssignor, StickyAssignor and
 * CooperativeStickyAssignor, for the members of a group on one topic.
 *
 * Members are ordered by member id (strcmp), as Kafka sorts them. An
 * assignment is owner[p] = index of the member (in the caller's array) that
 * owns partition p, or -1 when nobody does.
 *
 *   range       N / M partitions each, the first N % M members (by id) one
 *               more; member i gets the contiguous run starting at
 *               i * (N / M) + min(i, N % M)  (RangeAssignor, one topic).
 *   roundrobin  partition p goes to the (p mod M)-th member by id.
 *   sticky      balanced (counts differ by at most one), and keeping as many
 *               previous owners as balance allows:
 *                 1. c_i = partitions member i owned before
 *                 2. the N % M "one more" quotas go to the members with the
 *                    largest c_i (ties: member id), so that
 *                    kept = sum min(c_i, q_i) is the largest possible
 *                 3. each member keeps up to q_i of its partitions (lowest
 *                    first), the rest are released
 *                 4. released and unowned partitions go, lowest first, to
 *                    the member furthest below its quota (ties: id)
 *               Moves = sum max(0, c_i - q_i), the minimum: on a leave only
 *               the leaver's partitions move, on a join only the ones the
 *               newcomer gets.
 *   cooperative-sticky  the sticky target, but a partition whose previous
 *               owner is still a member and is not its target owner is only
 *               revoked (owner -1) in this generation; the caller runs a
 *               second rebalance in which it is assigned (Kafka's incremental
 *               cooperative rebalance). So a
 *               partition is never owned by two members in one generation,
 *               and a member never stops reading a partition it keeps.
 *               The second round keeps everything owned (each kept count
 *               is within its quota) and assigns the revoked ones.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/assign.h"

static const char *const strategy_names[] = {
	[ASSIGN_RANGE] = "range",
	[ASSIGN_ROUNDROBIN] = "roundrobin",
	[ASSIGN_STICKY] = "sticky",
	[ASSIGN_COOPERATIVE_STICKY] = "cooperative-sticky",
};

int assign_strategy_parse(const char *s, size_t len)
{
	for (int i = 0; i <= ASSIGN_COOPERATIVE_STICKY; i++)
		if (strlen(strategy_names[i]) == len && !memcmp(strategy_names[i], s, len))
			return i;
	return -EINVAL;
}

const char *assign_strategy_name(int strategy)
{
	if (strategy < 0 || strategy > ASSIGN_COOPERATIVE_STICKY)
		return "?";
	return strategy_names[strategy];
}

/* Member indexes sorted by id (insertion sort: groups are small). */
static void order_by_id(const char *const *ids, int m, int *order)
{
	for (int i = 0; i < m; i++) {
		int j = i;

		while (j > 0 && strcmp(ids[order[j - 1]], ids[i]) > 0) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
}

static void assign_range(const int *order, int m, int n, int32_t *owner)
{
	int per = n / m, extra = n % m;

	for (int i = 0; i < m; i++) {
		int start = i * per + (i < extra ? i : extra);
		int len = per + (i < extra ? 1 : 0);

		for (int p = start; p < start + len; p++)
			owner[p] = order[i];
	}
}

static void assign_roundrobin(const int *order, int m, int n, int32_t *owner)
{
	for (int p = 0; p < n; p++)
		owner[p] = order[p % m];
}

/* Steps 1-4 of the sticky assignor (see the top of the file). */
static int assign_sticky(const int *order, int m, int n, const int32_t *prev, int32_t *owner)
{
	int *count = calloc((size_t)m, sizeof(int));
	int *quota = calloc((size_t)m, sizeof(int));
	int *rank = malloc((size_t)m * sizeof(int)); /* position in id order */
	int *by_count = malloc((size_t)m * sizeof(int));
	int *have = calloc((size_t)m, sizeof(int));
	int per = n / m, extra = n % m;
	int rc = 0;

	if (!count || !quota || !rank || !by_count || !have) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < m; i++)
		rank[order[i]] = i;
	for (int p = 0; p < n; p++)
		if (prev && prev[p] >= 0 && prev[p] < m)
			count[prev[p]]++;
	/* 2. one-more quotas to the largest previous counts, ties by id */
	for (int i = 0; i < m; i++) {
		int j = i, x = order[i];

		while (j > 0 && count[by_count[j - 1]] < count[x]) {
			by_count[j] = by_count[j - 1];
			j--;
		}
		by_count[j] = x;
	}
	for (int i = 0; i < m; i++)
		quota[by_count[i]] = per + (i < extra ? 1 : 0);
	/* 3. keep up to the quota, lowest partitions first */
	for (int p = 0; p < n; p++) {
		int o = prev ? prev[p] : -1;

		owner[p] = -1;
		if (o >= 0 && o < m && have[o] < quota[o]) {
			owner[p] = o;
			have[o]++;
		}
	}
	/* 4. the rest to whoever is furthest below quota */
	for (int p = 0; p < n; p++) {
		int best = -1;

		if (owner[p] >= 0)
			continue;
		for (int i = 0; i < m; i++) {
			int x = order[i];

			if (have[x] >= quota[x])
				continue;
			if (best < 0 || quota[x] - have[x] > quota[best] - have[best] ||
			    (quota[x] - have[x] == quota[best] - have[best] &&
			     rank[x] < rank[best]))
				best = x;
		}
		owner[p] = best;
		if (best >= 0)
			have[best]++;
	}
out:
	free(count);
	free(quota);
	free(rank);
	free(by_count);
	free(have);
	return rc;
}

int assign_compute(int strategy, const char *const *member_ids, int nmembers, int npartitions,
		   const int32_t *prev_owner, int32_t *owner)
{
	int *order;
	int rc = 0;

	if (nmembers < 0 || npartitions < 0 || strategy < 0 || strategy > ASSIGN_COOPERATIVE_STICKY)
		return -EINVAL;
	for (int p = 0; p < npartitions; p++)
		owner[p] = -1;
	if (nmembers == 0 || npartitions == 0)
		return 0;
	order = malloc((size_t)nmembers * sizeof(int));
	if (!order)
		return -ENOMEM;
	order_by_id(member_ids, nmembers, order);
	switch (strategy) {
	case ASSIGN_RANGE: assign_range(order, nmembers, npartitions, owner); break;
	case ASSIGN_ROUNDROBIN: assign_roundrobin(order, nmembers, npartitions, owner); break;
	case ASSIGN_STICKY:
		rc = assign_sticky(order, nmembers, npartitions, prev_owner, owner);
		break;
	case ASSIGN_COOPERATIVE_STICKY:
		rc = assign_sticky(order, nmembers, npartitions, prev_owner, owner);
		/* Revoke first, assign in the next generation. */
		for (int p = 0; rc >= 0 && p < npartitions; p++) {
			int o = prev_owner ? prev_owner[p] : -1;

			if (o >= 0 && o < nmembers && owner[p] != o) {
				owner[p] = -1;
				rc++;
			}
		}
		break;
	}
	free(order);
	return rc;
}
