/*
 * assign.h — private to repl/: the consumer group partition assignors
 * (assign.c), pure logic with Kafka's semantics, used by the consumer
 * group rebalance and by its unit test.
 *
 * Members are ordered by member id (strcmp), as Kafka sorts them; an
 * assignment is owner[p] = index into member_ids, or -1 (unassigned).
 * No locks, no I/O: any thread.
 */
#ifndef MQFS_REPL_ASSIGN_H
#define MQFS_REPL_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

enum assign_strategy {
	ASSIGN_RANGE,              /* "range" (Kafka's default) */
	ASSIGN_ROUNDROBIN,         /* "roundrobin" */
	ASSIGN_STICKY,             /* "sticky" */
	ASSIGN_COOPERATIVE_STICKY, /* "cooperative-sticky" */
};

/* The strategy named by s[0..len), or -EINVAL. */
int assign_strategy_parse(const char *s, size_t len);
const char *assign_strategy_name(int strategy);

/* Fills owner[0..npartitions) for the members. prev_owner (may be NULL:
 * no previous generation) is the previous assignment in the same member
 * indexes (-1 for partitions whose owner left); range and roundrobin
 * ignore it. Sticky keeps as many previous owners as balance allows.
 * Cooperative-sticky leaves partitions that must change owner unassigned
 * (revoked) and returns how many: when > 0 the caller runs it again with
 * this result as prev_owner, which then assigns them, so that no
 * partition has two owners in one generation (Kafka's incremental
 * cooperative rebalance). Returns 0 or that count; -EINVAL, -ENOMEM. */
int assign_compute(int strategy, const char *const *member_ids, int nmembers, int npartitions,
		   const int32_t *prev_owner, int32_t *owner);

#endif
