/*
 * test_partition.c — the replica roles (repl/partition.c, fetch_serve.c,
 * fetcher.c). First the rules with Kafka's cases, on a test log
 * (tests/unit/tlog.c) and an ISR writer that records what it is asked:
 * HW = min LEO over the ISR and only forward, last-caught-up times, ISR
 * shrink past replica.lag.time.max.ms, ISR expansion at HW and the leader
 * epoch's start, a pending ISR write, a stale write, min.insync.replicas,
 * stale LeaderAndIsr, makeLeader/makeFollower, the unclean-restart
 * eligibility. Then leader and follower end to end over a loopback
 * listener: catch-up, ISR join, Kafka's KIP-101 and KIP-279 scenarios,
 * byte-identical files below the HW; those again on real engine logs
 * (tests/unit/elog.c), where every segment file and the epoch checkpoint
 * must come out the same. Waits poll against deadlines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/log_int.h"
#include "repl/fetch_serve.h"
#include "repl/fetcher.h"
#include "repl/offsets_serve.h"
#include "repl/partition.h"
#include "tests/unit/elog.h"
#include "tests/unit/replfx.h"
#include "tests/unit/tlog.h"
#include "util/clock.h"
#include "tests/unit/protofx.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return replfx_mkdtemp(tmpdir, sizeof(tmpdir), "partition");
}

static int teardown(void **state)
{
	(void)state;
	return replfx_rmrf(tmpdir);
}

static struct tlog *log_new(const char *name)
{
	char dir[128];
	struct tlog *t;

	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
	assert_int_equal(mkdir(dir, 0755) == 0 || errno == EEXIST, 1);
	t = tlog_open(dir);
	assert_non_null(t);
	return t;
}

/* The ISR writer of the tests: records the proposals, answers the next
 * partition epoch, or fail when set. */
struct writer {
	int calls;
	struct partition_state last;
	int fail;
};

static int writer_fn(void *arg, struct partition *p, const struct partition_state *proposed)
{
	struct writer *w = arg;

	(void)p;
	w->calls++;
	w->last = *proposed;
	return w->fail ? w->fail : proposed->partition_epoch + 1;
}

static struct partition_state state3(int32_t leader, int32_t epoch, int n_isr)
{
	struct partition_state st = { .leader = leader,
				      .leader_epoch = epoch,
				      .partition_epoch = epoch,
				      .n_replicas = 3,
				      .replicas = { 1, 2, 3 },
				      .n_isr = n_isr };

	for (int i = 0; i < n_isr; i++)
		st.isr[i] = i + 1;
	return st;
}

/* Partition orders-index of broker over log. */
static struct partition *part_new_index(const struct partition_log_ops *ops, void *log,
					int32_t broker, int32_t index, bool unclean,
					struct writer *w)
{
	struct partition_config cfg = { .broker_id = broker,
					.replica_lag_time_max_ms = 30000,
					.min_insync_replicas = 1,
					.unclean_restart = unclean };
	struct partition *p;

	assert_int_equal(partition_new("orders", index, &cfg, ops, log, &p), 0);
	if (w)
		partition_set_isr_writer(p, writer_fn, w);
	return p;
}

static struct partition *part_new_ops(const struct partition_log_ops *ops, void *log,
				      int32_t broker, bool unclean, struct writer *w)
{
	return part_new_index(ops, log, broker, 0, unclean, w);
}

static struct partition *part_new(struct tlog *t, int32_t broker, bool unclean, struct writer *w)
{
	return part_new_ops(&tlog_ops, t, broker, unclean, w);
}

static int64_t hw_of(struct partition *p)
{
	struct partition_info info;

	partition_get_info(p, &info);
	return info.offsets.hw;
}

static int isr_size(struct partition *p)
{
	struct partition_info info;

	partition_get_info(p, &info);
	return info.n_isr;
}

/* ---- the high watermark ---- */

static void test_hw_min_leo_over_isr(void **state)
{
	struct tlog *t = log_new("hw");
	struct writer w = { 0 };
	struct partition *p = part_new(t, 1, false, &w);
	struct partition_state st = state3(1, 5, 3);

	(void)state;
	tlog_append(t, 10, 0, "old");
	/* A new leader epoch starts at the LEO, in the epoch cache. */
	assert_int_equal(partition_make_leader(p, &st, 1000), 1);
	assert_int_equal(tlog_ops.latest_epoch(t), 5);
	/* Followers' LEOs are unknown: the hw cannot move yet. */
	assert_int_equal(hw_of(p), 0);
	tlog_append(t, 5, 5, "new"); /* LEO 15 */
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 12, -1, 1001), 0);
	assert_int_equal(hw_of(p), 0); /* 3 unknown */
	assert_int_equal(partition_update_follower_fetch_state(p, 3, 8, -1, 1002), 0);
	assert_int_equal(hw_of(p), 8);
	assert_int_equal(partition_update_follower_fetch_state(p, 3, 15, -1, 1003), 0);
	assert_int_equal(hw_of(p), 12);
	/* A follower behind the hw (it truncated) does not move it back. */
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 3, -1, 1004), 0);
	assert_int_equal(hw_of(p), 12);
	assert_int_equal(partition_maybe_increment_leader_hw(p, 1005), 0);
	/* A fetch past our LEO is refused, one from a stranger too. */
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 16, -1, 1006), -ERANGE);
	assert_int_equal(partition_update_follower_fetch_state(p, 9, 1, -1, 1006), -ENOENT);
	assert_int_equal(partition_update_follower_fetch_state(p, 1, 1, -1, 1006), -ENOENT);
	partition_unref(p);
	tlog_close(t);
}

static void test_hw_alone_in_isr(void **state)
{
	struct tlog *t = log_new("alone");
	struct partition *p = part_new(t, 1, false, NULL);
	struct partition_state st = state3(1, 1, 1);

	(void)state;
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	tlog_append(t, 4, 1, "a");
	/* Followers outside the ISR do not hold the hw back. */
	assert_int_equal(partition_maybe_increment_leader_hw(p, 1), 1);
	assert_int_equal(hw_of(p), 4);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 0, -1, 2), 0);
	assert_int_equal(hw_of(p), 4);
	partition_unref(p);
	tlog_close(t);
}

/* ---- last caught up, shrink ---- */

static void test_caught_up_times(void **state)
{
	struct tlog *t = log_new("caught");
	struct writer w = { 0 };
	struct partition *p = part_new(t, 1, false, &w);
	struct partition_state st = state3(1, 1, 3);
	struct partition_info info;

	(void)state;
	tlog_append(t, 10, 1, "a");
	assert_int_equal(partition_make_leader(p, &st, 100), 1);
	partition_get_info(p, &info);
	/* In the ISR at election: caught up as of the election. */
	assert_int_equal(info.followers[0].last_caught_up_ms, 100);
	assert_int_equal(info.followers[0].log_end_offset, -1);
	/* Fetch at our LEO: caught up now. */
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 10, -1, 200), 0);
	tlog_append(t, 10, 1, "b"); /* LEO 20 */
	/* Fetch below our LEO but at the LEO of its previous fetch: caught
	 * up as of that previous fetch (200), not now. */
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 10, -1, 300), 0);
	partition_get_info(p, &info);
	assert_int_equal(info.followers[0].last_caught_up_ms, 200);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 15, -1, 400), 0);
	partition_get_info(p, &info);
	assert_int_equal(info.followers[0].last_caught_up_ms, 200);
	/* At the LEO of its previous fetch (20): caught up as of 400. */
	tlog_append(t, 1, 1, "c");
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 20, -1, 500), 0);
	partition_get_info(p, &info);
	assert_int_equal(info.followers[0].last_caught_up_ms, 400);
	partition_unref(p);
	tlog_close(t);
}

static void test_shrink_isr(void **state)
{
	struct tlog *t = log_new("shrink");
	struct writer w = { 0 };
	struct partition *p = part_new(t, 1, false, &w);
	struct partition_state st = state3(1, 1, 3);
	struct partition_info info;

	(void)state;
	partition_set_min_isr(p, 2);
	tlog_append(t, 10, 1, "a");
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 10, -1, 10), 0);
	assert_int_equal(partition_update_follower_fetch_state(p, 3, 5, -1, 10), 0);
	assert_int_equal(hw_of(p), 5);
	/* Exactly at the lag limit nobody leaves. */
	assert_int_equal(partition_maybe_shrink_isr(p, 30000), 0);
	assert_int_equal(w.calls, 0);
	/* Past it, 3 (last caught up at election, 0) leaves; 2 fetched at our
	 * LEO, so it is caught up whatever the time. */
	assert_int_equal(partition_maybe_shrink_isr(p, 30001), 1);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.last.n_isr, 2);
	assert_int_equal(w.last.partition_epoch, 1);
	partition_get_info(p, &info);
	assert_int_equal(info.n_isr, 2);
	assert_int_equal(info.partition_epoch, 2);
	assert_int_equal(info.isr_shrinks, 1);
	/* The slow follower no longer holds the hw. */
	assert_int_equal(hw_of(p), 10);
	/* A leader with followers that stopped fetching shrinks to itself. */
	tlog_append(t, 1, 1, "b");
	assert_int_equal(partition_maybe_shrink_isr(p, 100000), 1);
	assert_int_equal(isr_size(p), 1);
	assert_int_equal(partition_check_append(p, -1), -EAGAIN);
	assert_int_equal(partition_check_append(p, 1), 0);
	assert_true(partition_under_min_isr(p));
	/* Under min.insync.replicas the hw stays (invariant 2, Kafka 3.7's
	 * maybeIncrementLeaderHW): "b", appended with acks=1, is not
	 * committed by the leader alone, */
	assert_int_equal(hw_of(p), 10);
	assert_int_equal(partition_maybe_increment_leader_hw(p, 100001), 0);
	assert_int_equal(hw_of(p), 10);
	/* until the topic asks for no more than the ISR has (the next look
	 * at the hw, as Kafka's after a config change), */
	partition_set_min_isr(p, 1);
	assert_false(partition_under_min_isr(p));
	assert_int_equal(partition_maybe_increment_leader_hw(p, 100002), 1);
	assert_int_equal(hw_of(p), 11);
	/* or a follower back in the ISR brings it to min.insync.replicas. */
	partition_set_min_isr(p, 2);
	tlog_append(t, 1, 1, "c");
	assert_int_equal(partition_maybe_increment_leader_hw(p, 100003), 0);
	assert_int_equal(hw_of(p), 11);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 11, -1, 100004), 0);
	assert_int_equal(isr_size(p), 2);
	assert_int_equal(hw_of(p), 11);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 12, -1, 100005), 0);
	assert_int_equal(hw_of(p), 12);
	partition_unref(p);
	tlog_close(t);
}

/* Kafka's effectiveMinIsr (Partition.scala): min.insync.replicas above
 * the replication factor counts as the replication factor, for the
 * append check (appendRecordsToLeader) as for under-min-ISR; a setting
 * within it is kept. */
static void test_min_isr_at_most_replicas(void **state)
{
	struct tlog *t = log_new("effmin");
	struct writer w = { 0 };
	struct partition *p = part_new(t, 1, false, &w);
	struct partition_state st = state3(1, 1, 1);

	(void)state;
	st.n_replicas = 1; /* broker 1 alone */
	partition_set_min_isr(p, 2);
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	assert_int_equal(partition_check_append(p, -1), 0);
	assert_int_equal(partition_check_append_isr(p, -1, 3), 0);
	/* Nor is the hw held by it (invariant 2). */
	tlog_append(t, 3, 1, "a");
	assert_int_equal(partition_maybe_increment_leader_hw(p, 1), 1);
	assert_int_equal(hw_of(p), 3);
	assert_false(partition_under_min_isr(p));
	partition_unref(p);
	tlog_close(t);
	assert_int_equal(partition_effective_min_isr(3, 2), 2);
	assert_int_equal(partition_effective_min_isr(2, 3), 2);
	assert_int_equal(partition_effective_min_isr(2, 0), 2);
}

static void test_shrink_write_fails(void **state)
{
	struct tlog *t = log_new("shrinkfail");
	struct writer w = { .fail = -ESTALE };
	struct partition *p = part_new(t, 1, false, &w);
	struct partition_state st = state3(1, 1, 3);
	struct partition_info info;

	(void)state;
	tlog_append(t, 10, 1, "a");
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 10, -1, 10), 0);
	assert_int_equal(partition_update_follower_fetch_state(p, 3, 2, -1, 10), 0);
	/* The version moved: nothing changes, the hw stays held by 3. */
	assert_int_equal(partition_maybe_shrink_isr(p, 40000), -ESTALE);
	partition_get_info(p, &info);
	assert_int_equal(info.n_isr, 3);
	assert_false(info.isr_write_pending);
	assert_int_equal(info.offsets.hw, 2);
	/* The wiring re-reads and hands the state back; next tick works. */
	st.partition_epoch = 7;
	assert_int_equal(partition_make_leader(p, &st, 40001), 0);
	w.fail = 0;
	assert_int_equal(partition_maybe_shrink_isr(p, 80000), 1);
	partition_get_info(p, &info);
	assert_int_equal(info.partition_epoch, 8);
	partition_unref(p);
	tlog_close(t);
}

/* ---- expand ---- */

static void test_expand_isr(void **state)
{
	struct tlog *t = log_new("expand");
	struct writer w = { 0 };
	struct partition *p = part_new(t, 1, false, &w);
	struct partition_state st = state3(1, 3, 1);
	struct partition_info info;

	(void)state;
	tlog_append(t, 10, 2, "old"); /* epoch 2: 0..9 */
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	tlog_append(t, 10, 3, "new"); /* epoch 3 starts at 10 */
	assert_int_equal(partition_maybe_increment_leader_hw(p, 0), 1);
	assert_int_equal(hw_of(p), 20);
	/* Below the hw: not in sync. */
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 15, -1, 1), 0);
	assert_int_equal(isr_size(p), 1);
	assert_int_equal(w.calls, 0);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 20, -1, 2), 0);
	assert_int_equal(w.calls, 1);
	partition_get_info(p, &info);
	assert_int_equal(info.n_isr, 2);
	assert_int_equal(info.isr[1], 2);
	assert_int_equal(info.isr_expands, 1);
	assert_int_equal(partition_check_append(p, -1), 0);
	assert_false(partition_under_min_isr(p));
	partition_unref(p);
	tlog_close(t);
}

/* Kafka's isFollowerInSync: at or past the hw is not enough when the hw is
 * still below the start of the leader's epoch (a new leader whose hw lags
 * must not admit a follower lacking records of its own epoch). */
static void test_expand_needs_epoch_start(void **state)
{
	struct partition_replica r = { .broker_id = 2, .log_end_offset = 12 };

	(void)state;
	assert_true(partition_replica_in_sync(&r, 12, 12));
	assert_false(partition_replica_in_sync(&r, 10, 15));
	assert_false(partition_replica_in_sync(&r, 13, 0));
	r.log_end_offset = -1;
	assert_false(partition_replica_in_sync(&r, -1, -1));

	struct tlog *t = log_new("epochstart");
	struct writer w = { 0 };
	struct partition *p = part_new(t, 1, false, &w);
	struct partition_state st = state3(1, 4, 2);

	tlog_append(t, 10, 3, "a");
	assert_int_equal(partition_make_leader(p, &st, 0), 1); /* epoch 4 at 10 */
	/* The hw is 0 (2 has not fetched), so 3 at 8 is past the hw, but
	 * short of the epoch's start (10): not in sync; at 10 it is. */
	assert_int_equal(partition_update_follower_fetch_state(p, 3, 8, -1, 1), 0);
	assert_int_equal(isr_size(p), 2);
	assert_int_equal(partition_update_follower_fetch_state(p, 3, 10, -1, 2), 0);
	assert_int_equal(isr_size(p), 3);
	partition_unref(p);
	tlog_close(t);
}

/* An expansion being written already holds the hw (maximal ISR), and a
 * second change waits for the first. */
static struct partition *pending_p;
static int64_t pending_hw_seen = -2;
static int pending_shrink_rc = -2;

static int writer_peek(void *arg, struct partition *p, const struct partition_state *proposed)
{
	struct partition_info info;

	(void)arg;
	partition_get_info(p, &info);
	assert_true(info.isr_write_pending);
	pending_shrink_rc = partition_maybe_shrink_isr(pending_p, 1000000);
	tlog_append(partition_log(p), 3, 1, "during");
	partition_maybe_increment_leader_hw(p, 0);
	pending_hw_seen = hw_of(p);
	return proposed->partition_epoch + 1;
}

static void test_pending_expand_holds_hw(void **state)
{
	struct tlog *t = log_new("pending");
	struct partition *p = part_new(t, 1, false, NULL);
	struct partition_state st = state3(1, 1, 1);

	(void)state;
	pending_p = p;
	partition_set_isr_writer(p, writer_peek, NULL);
	tlog_append(t, 5, 1, "a");
	/* Alone in the ISR, the new leader's hw moves to its LEO at once. */
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	assert_int_equal(hw_of(p), 5);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 5, -1, 1), 0);
	/* During the write the leader appended 3; 2 is at 5 and counts. */
	assert_int_equal(pending_hw_seen, 5);
	assert_int_equal(pending_shrink_rc, 0);
	assert_int_equal(isr_size(p), 2);
	assert_int_equal(hw_of(p), 5);
	partition_unref(p);
	tlog_close(t);
}

/* The live brokers of the tests' partition_set_alive: every one but
 * those marked dead. */
static bool dead[8];

static bool alive_fn(void *arg, int32_t broker_id)
{
	(void)arg;
	return broker_id < 0 || broker_id >= 8 || !dead[broker_id];
}

/* Kafka's shouldWaitForReplicaToJoinIsr: a follower outside the ISR
 * (its addition cannot be written: the writer fails) that is caught up,
 * on a live broker, holds the hw back; once its broker is gone, or once
 * it lags more than replica.lag.time.max.ms, it does not. */
static void test_hw_waits_for_replica_about_to_join(void **state)
{
	struct tlog *t = log_new("join");
	struct writer w = { .fail = -EIO };
	struct partition *p = part_new(t, 1, false, &w);
	struct partition_state st = state3(1, 1, 1);
	const int64_t t0 = 1000000;

	(void)state;
	memset(dead, 0, sizeof(dead));
	partition_set_alive(p, alive_fn, NULL);
	tlog_append(t, 10, 1, "a");
	assert_int_equal(partition_make_leader(p, &st, t0), 1);
	assert_int_equal(hw_of(p), 10); /* alone in the ISR */
	/* 2 fetches at our LEO: caught up, in sync, its addition fails. */
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 10, 0, t0 + 100), -EIO);
	assert_int_equal(w.calls, 1);
	assert_int_equal(isr_size(p), 1);
	tlog_append(t, 5, 1, "b"); /* LEO 15 */
	assert_int_equal(partition_maybe_increment_leader_hw(p, t0 + 200), 0);
	assert_int_equal(hw_of(p), 10);
	/* Its broker gone (the controller's live brokers): not waited for. */
	dead[2] = true;
	assert_int_equal(partition_maybe_increment_leader_hw(p, t0 + 300), 1);
	assert_int_equal(hw_of(p), 15);
	/* Back: it fetches at our LEO, 15: caught up as of now (t0 + 400);
	 * the next records wait for it. */
	dead[2] = false;
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 15, 0, t0 + 400), -EIO);
	tlog_append(t, 5, 1, "c"); /* LEO 20 */
	assert_int_equal(partition_maybe_increment_leader_hw(p, t0 + 500), 0);
	assert_int_equal(hw_of(p), 15);
	/* Past replica.lag.time.max.ms since: lagging, not waited for. */
	assert_int_equal(partition_maybe_increment_leader_hw(p, t0 + 400 + 30000), 0);
	assert_int_equal(partition_maybe_increment_leader_hw(p, t0 + 400 + 30001), 1);
	assert_int_equal(hw_of(p), 20);
	/* 3, which never fetched, never held it. */
	partition_unref(p);
	tlog_close(t);
}

/* Kafka's checkEnoughReplicasReachOffset counts the maximal ISR: while
 * the addition of 2 is being written, acks=all records the hw covers
 * have min.insync.replicas=2 (2 held the hw back for them), where an
 * append is still checked against the ISR in force; while a removal is
 * being written the ISR in force still counts. */
static int enough_expand = -2, enough_append = -2, enough_shrink = -2;

static int writer_enough(void *arg, struct partition *p, const struct partition_state *proposed)
{
	(void)arg;
	if (proposed->n_isr == 2) {
		enough_expand = partition_check_enough_replicas(p, 2);
		enough_append = partition_check_append_isr(p, -1, 2);
	} else {
		enough_shrink = partition_check_enough_replicas(p, 2);
	}
	return proposed->partition_epoch + 1;
}

static void test_enough_replicas_counts_maximal_isr(void **state)
{
	struct tlog *t = log_new("enough");
	struct partition *p = part_new(t, 1, false, NULL);
	struct partition_state st = state3(1, 1, 1);

	(void)state;
	partition_set_isr_writer(p, writer_enough, NULL);
	tlog_append(t, 5, 1, "a");
	assert_int_equal(partition_make_leader(p, &st, 1000), 1);
	assert_int_equal(partition_check_enough_replicas(p, 2), -EAGAIN);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 5, -1, 1001), 0);
	assert_int_equal(enough_expand, 0);
	assert_int_equal(enough_append, -EAGAIN);
	assert_int_equal(isr_size(p), 2);
	assert_int_equal(partition_check_enough_replicas(p, 2), 0);
	assert_int_equal(partition_check_enough_replicas(p, 3), -EAGAIN);
	/* 2 lags: its removal, being written, does not count yet. */
	tlog_append(t, 1, 1, "b");
	assert_int_equal(partition_maybe_shrink_isr(p, 1001 + 30001), 1);
	assert_int_equal(enough_shrink, 0);
	assert_int_equal(partition_check_enough_replicas(p, 2), -EAGAIN);
	partition_make_none(p, false);
	assert_int_equal(partition_check_enough_replicas(p, 1), -EREMOTE);
	partition_unref(p);
	tlog_close(t);
}

/* ---- role changes ---- */

static void test_make_leader_follower_transitions(void **state)
{
	struct tlog *t = log_new("roles");
	struct writer w = { 0 };
	struct partition *p = part_new(t, 2, false, &w);
	struct partition_state st = state3(1, 5, 3);
	struct partition_follow f;
	struct partition_info info;
	uint64_t g;

	(void)state;
	assert_int_equal(partition_follow_state(p, &f), -EREMOTE);
	assert_int_equal(partition_check_append(p, 1), -EREMOTE);
	assert_int_equal(partition_make_follower(p, &st), 1);
	assert_int_equal(partition_follow_state(p, &f), 0);
	assert_int_equal(f.leader, 1);
	assert_int_equal(f.state, PARTITION_TRUNCATING);
	g = f.generation;
	/* The same state again changes nothing for the fetcher. */
	assert_int_equal(partition_make_follower(p, &st), 0);
	/* An older epoch is stale; so is an older partition epoch. */
	st.leader_epoch = 4;
	assert_int_equal(partition_make_follower(p, &st), -ESTALE);
	st.leader_epoch = 5;
	st.partition_epoch = 4;
	assert_int_equal(partition_make_follower(p, &st), -ESTALE);
	/* Malformed: leader not a replica, ISR outside replicas, us leading
	 * through make_follower. */
	st = state3(7, 6, 1);
	assert_int_equal(partition_make_follower(p, &st), -EINVAL);
	st = state3(1, 6, 3);
	st.isr[2] = 9;
	assert_int_equal(partition_make_follower(p, &st), -EINVAL);
	st = state3(2, 6, 3);
	assert_int_equal(partition_make_follower(p, &st), -EINVAL);
	/* Not in the ISR as leader: refused. */
	st = state3(2, 6, 1);
	assert_int_equal(partition_make_leader(p, &st, 0), -EINVAL);
	/* Follower's appends and truncations of an old generation fail. */
	st = state3(3, 6, 3);
	assert_int_equal(partition_make_follower(p, &st), 1);
	assert_int_equal(partition_follower_truncate(p, g, 0, true), -ESTALE);
	assert_int_equal(partition_follower_append(p, g, NULL, 0, 0, -1), -ESTALE);
	assert_int_equal(partition_follow_state(p, &f), 0);
	assert_int_equal(partition_follower_truncate(p, f.generation, 0, true), 0);
	assert_int_equal(partition_follow_state(p, &f), 0);
	assert_int_equal(f.state, PARTITION_FETCHING);
	/* Leader: epoch 7 enters the cache at the LEO. */
	tlog_append(t, 3, 6, "x");
	st = state3(2, 7, 2);
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	partition_get_info(p, &info);
	assert_int_equal(info.role, PARTITION_LEADER);
	assert_int_equal(info.leader_epoch_start_offset, 3);
	assert_int_equal(info.n_followers, 2);
	assert_int_equal(partition_follow_state(p, &f), -EREMOTE);
	partition_make_none(p, false);
	partition_get_info(p, &info);
	assert_int_equal(info.role, PARTITION_NONE);
	partition_unref(p);
	tlog_close(t);
}

/* Whether a replica lags out of the ISR (its broker's mount then reads
 * the partition through a read copy): only a follower with a leader whose
 * ISR leaves it out. */
static void test_out_of_isr(void **state)
{
	struct tlog *t = log_new("outisr");
	struct writer w = { 0 };
	struct partition *p = part_new(t, 3, false, &w);
	struct partition_state st;

	(void)state;
	assert_false(partition_out_of_isr(p, 3)); /* no role yet */
	st = state3(1, 5, 3);
	assert_int_equal(partition_make_follower(p, &st), 1);
	assert_false(partition_out_of_isr(p, 3));
	/* The leader shrank the ISR to 1,2 (UpdateMetadata's newer state). */
	st = state3(1, 5, 2);
	st.partition_epoch = 6;
	assert_int_equal(partition_make_follower(p, &st), 0);
	assert_true(partition_out_of_isr(p, 3));
	/* Back in it. */
	st = state3(1, 5, 3);
	st.partition_epoch = 7;
	assert_int_equal(partition_make_follower(p, &st), 0);
	assert_false(partition_out_of_isr(p, 3));
	/* Leading: always in sync; no leader (offline): nothing better to
	 * read than the log here. */
	st = state3(3, 8, 3);
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	assert_false(partition_out_of_isr(p, 3));
	partition_make_none(p, false);
	assert_false(partition_out_of_isr(p, 3));
	partition_unref(p);
	tlog_close(t);
}

/* The leader's batches of [from, to) into buf, as its Fetch answer
 * would carry them: their length. */
static size_t leader_batches(struct tlog *leader, int64_t from, int64_t to, uint8_t *buf,
			     size_t cap)
{
	struct partition_raw raw;

	assert_int_equal(tlog_ops.read_raw(leader, from, to, 1 << 20, &raw), 0);
	assert_true(raw.len > 0 && raw.len <= cap);
	assert_int_equal(pread(raw.fd, buf, raw.len, raw.offset), (ssize_t)raw.len);
	tlog_ops.raw_release(leader, &raw);
	return raw.len;
}

/* A follower's hw is min(leader's hw, its LEO) and never moves back. */
static void test_follower_hw(void **state)
{
	struct tlog *leader = log_new("fhw-l"), *t = log_new("fhw-f");
	struct partition *p = part_new(t, 2, false, NULL);
	struct partition_state st = state3(1, 1, 3);
	struct partition_follow f;
	uint8_t buf[8192];
	size_t len;

	(void)state;
	tlog_append(leader, 5, 1, "a");
	tlog_append(leader, 5, 1, "b");
	assert_int_equal(partition_make_follower(p, &st), 1);
	assert_int_equal(partition_follow_state(p, &f), 0);
	assert_int_equal(partition_follower_truncate(p, f.generation, 0, true), 0);
	len = leader_batches(leader, 0, 5, buf, sizeof(buf));
	assert_int_equal(partition_follower_append(p, f.generation, buf, len, 8, -1), 0);
	assert_int_equal(hw_of(p), 5);
	assert_int_equal(partition_follower_append(p, f.generation, NULL, 0, 3, -1), 0);
	assert_int_equal(hw_of(p), 5);
	/* Batches that do not start at our LEO are refused. */
	assert_int_equal(partition_follower_append(p, f.generation, buf, len, 8, -1), -EBADMSG);
	/* Kept for a read copy's barrier, until an append succeeds. */
	assert_int_equal(partition_follower_append_error(p), -EBADMSG);
	len = leader_batches(leader, 5, 10, buf, sizeof(buf));
	assert_int_equal(partition_follower_append(p, f.generation, buf, len, 10, -1), 0);
	assert_int_equal(partition_follower_append_error(p), 0);
	assert_int_equal(hw_of(p), 10);
	assert_int_equal(tlog_refs(leader), 0);
	partition_unref(p);
	tlog_close(leader);
	tlog_close(t);
}

/* After an unclean restart a replica is no leader until it is back in
 * the ISR holding the leader's hw of its first fetch. */
static int changes;
static void on_change(void *arg, struct partition *p)
{
	(void)arg;
	(void)p;
	changes++;
}

static void test_unclean_restart_eligibility(void **state)
{
	struct tlog *leader = log_new("ucl-l"), *t = log_new("ucl-f");
	struct partition *p = part_new(t, 2, true, NULL);
	struct partition_state st = state3(2, 3, 3);
	struct partition_follow f;
	struct partition_raw raw;
	uint8_t buf[8192];

	(void)state;
	partition_set_listener(p, on_change, NULL);
	assert_false(partition_leader_eligible(p));
	assert_int_equal(partition_make_leader(p, &st, 0), -EPERM);
	/* Following a leader that is not us; we are outside the ISR. */
	st = state3(1, 3, 1);
	assert_int_equal(partition_make_follower(p, &st), 1);
	assert_int_equal(partition_follow_state(p, &f), 0);
	assert_int_equal(partition_follower_truncate(p, f.generation, 0, true), 0);
	tlog_append(leader, 4, 1, "a");
	tlog_append(leader, 4, 1, "b");
	assert_int_equal(tlog_ops.read_raw(leader, 0, 4, 1, &raw), 0);
	assert_int_equal(pread(raw.fd, buf, raw.len, raw.offset), (ssize_t)raw.len);
	tlog_ops.raw_release(leader, &raw);
	/* First fetch: the leader's hw is 8; we hold 4. */
	assert_int_equal(partition_follower_append(p, f.generation, buf, raw.len, 8, -1), 0);
	assert_false(partition_leader_eligible(p));
	/* A controller's state with us in the ISR is not enough while we
	 * lack records the leader had committed when we came back. */
	st = state3(2, 4, 2);
	assert_int_equal(partition_make_leader(p, &st, 0), -EPERM);
	st = state3(1, 3, 1);
	assert_int_equal(tlog_ops.read_raw(leader, 4, 8, 1, &raw), 0);
	assert_int_equal(pread(raw.fd, buf, raw.len, raw.offset), (ssize_t)raw.len);
	tlog_ops.raw_release(leader, &raw);
	assert_int_equal(partition_follower_append(p, f.generation, buf, raw.len, 8, -1), 0);
	/* Caught up but not yet in the ISR. */
	assert_false(partition_leader_eligible(p));
	st = state3(1, 3, 2);
	st.partition_epoch = 4;
	int before = changes;
	/* The state that puts us in the ISR is enough: the leader's next
	 * answer (an incremental fetch's) may not name the partition, with
	 * nothing new, until its next record. */
	assert_int_equal(partition_make_follower(p, &st), 0);
	assert_true(partition_leader_eligible(p));
	assert_true(changes > before);
	assert_int_equal(partition_follower_append(p, f.generation, NULL, 0, 8, -1), 0);
	assert_true(partition_leader_eligible(p));
	st = state3(2, 4, 2);
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	partition_unref(p);
	tlog_close(leader);
	tlog_close(t);
}

/* Elected RECOVERING (every live ISR member restarted uncleanly: no
 * eligible one left), an ineligible replica takes the leadership, and is
 * eligible from then on. */
static void test_unclean_restart_recovery_election(void **state)
{
	struct tlog *t = log_new("ucl-r");
	struct partition *p = part_new(t, 2, true, NULL);
	struct partition_state st = state3(2, 3, 3);

	(void)state;
	partition_set_listener(p, on_change, NULL);
	assert_false(partition_leader_eligible(p));
	assert_int_equal(partition_make_leader(p, &st, 0), -EPERM);
	st.recovering = true;
	int before = changes;
	assert_int_equal(partition_make_leader(p, &st, 0), 1);
	assert_true(partition_leader_eligible(p));
	assert_true(changes > before);
	partition_unref(p);
	tlog_close(t);
}

/* The epoch cache rule the truncation relies on (tlog follows Kafka's
 * LeaderEpochFileCache.endOffsetFor, as the engine's does). */
static void test_end_offset_for_epoch(void **state)
{
	struct tlog *t = log_new("eofe");
	int32_t e;
	int64_t end;

	(void)state;
	tlog_ops.end_offset_for_epoch(t, 1, &e, &end);
	assert_int_equal(e, -1);
	assert_int_equal(end, -1);
	tlog_append(t, 2, 1, "a");
	tlog_append(t, 3, 3, "b");
	tlog_append(t, 1, 5, "c");
	tlog_ops.end_offset_for_epoch(t, 0, &e, &end);
	assert_int_equal(e, 0);
	assert_int_equal(end, 0);
	tlog_ops.end_offset_for_epoch(t, 1, &e, &end);
	assert_int_equal(e, 1);
	assert_int_equal(end, 2);
	tlog_ops.end_offset_for_epoch(t, 2, &e, &end);
	assert_int_equal(e, 1);
	assert_int_equal(end, 2);
	tlog_ops.end_offset_for_epoch(t, 4, &e, &end);
	assert_int_equal(e, 3);
	assert_int_equal(end, 5);
	tlog_ops.end_offset_for_epoch(t, 5, &e, &end);
	assert_int_equal(e, 5);
	assert_int_equal(end, 6);
	/* Above the latest: undefined, as Kafka answers it. */
	tlog_ops.end_offset_for_epoch(t, 9, &e, &end);
	assert_int_equal(e, -1);
	assert_int_equal(end, -1);
	/* Below -1, below the first: (epoch, start of the first). */
	tlog_ops.end_offset_for_epoch(t, -2, &e, &end);
	assert_int_equal(e, -2);
	assert_int_equal(end, 0);
	tlog_close(t);
}


/* ---- end to end: leader and follower over a loopback listener ---- */

#define DEADLINE_MS 20000

/* The end-to-end tests run on the test log, and again on real engine
 * logs (tests/unit/elog.c over repl/partition_log.c) when this is set. */
static bool use_engine;
/* The purgatory's clock of the brokers a test starts: NULL the monotonic
 * clock, or test_clock, which moves only when a test moves it. */
static int64_t (*bk_clock)(void);
static _Atomic int64_t test_clock_ms = 1000000;

static int64_t test_clock(void)
{
	return atomic_load(&test_clock_ms);
}

/* A broker of the tests: one partition replica, its listener serving it. */
struct bk {
	int32_t id;
	struct tlog *t; /* the test log, or */
	struct elog *e; /* an engine log (use_engine) */
	void *log;
	const struct partition_log_ops *ops;
	char dir[128];
	struct partition *p;
	struct writer w;
	struct fetch_serve *fs;
	struct offsets_serve os;
	struct net_server *srv;
	int port;
	struct fetcher *fetcher;
	struct sasl_cred cred;
	const char *user; /* set: the listener is SASL_PLAINTEXT */
	bool mute;        /* the log's changes wake no purgatory */
	bool fetch_zero;  /* its fetchers ask replica.fetch.max.bytes=0 */
	struct tlog *t1;  /* orders-1, when a test makes it (test log only) */
	struct partition *p1;
	/* orders-2 on, when a test makes them (bk_lookup serves them). */
	struct partition **extra;
	int n_extra;
	/* Its fetchers' before_append, NULL none. */
	int (*before_append)(void *arg, const char *topic, void *log, char *wait, size_t cap);
	void *before_append_arg;
	atomic_int cuts; /* its fetchers' after_cut calls */
	/* Its fetchers' after_append: the offset after the last batch given. */
	_Atomic int64_t appended_end;
};

static int bk_cred(void *arg, const char *user, enum sasl_mech mech, struct sasl_cred *cred)
{
	struct bk *b = arg;

	if (mech != SASL_SHA_256)
		return -ENOENT;

	if (strcmp(user, "broker") && strcmp(user, "alice"))
		return -ENOENT;
	*cred = b->cred;
	return 0;
}

static struct partition *bk_lookup(void *arg, struct kstr topic, int32_t index);

/* (Re)starts b's listener, on port (0: any free one). */
static void bk_listen(struct bk *b, int port)
{
	replfx_listener_new(b->user != NULL, port, bk_cred, b, &b->srv);
	assert_int_equal(fetch_serve_register(b->fs, b->srv), 0);
	b->os = (struct offsets_serve){ .lookup = bk_lookup, .arg = b };
	assert_int_equal(offsets_serve_register(&b->os, b->srv), 0);
	b->port = replfx_listener_start(b->srv);
}

static struct partition *bk_lookup(void *arg, struct kstr topic, int32_t index)
{
	struct bk *b = arg;

	struct partition *p = index == 0 ? b->p : index == 1 ? b->p1 : NULL;

	if (index >= 2 && index - 2 < b->n_extra)
		p = b->extra[index - 2];
	if (!kstr_eq(topic, "orders") || !p)
		return NULL;
	partition_ref(p);
	return p;
}

static void bk_wake(void *arg)
{
	struct bk *b = arg;

	if (b->fs && !b->mute)
		fetch_serve_wake(b->fs);
}

static void bk_start_as(struct bk *b, int32_t id, const char *name, const char *user)
{
	memset(b, 0, sizeof(*b));
	b->id = id;
	b->user = user;
	assert_int_equal(sasl_cred_from_password(SASL_SHA_256, "s3cret", NULL, 0, 4096, &b->cred),
			 0);
	if (use_engine) {
		snprintf(b->dir, sizeof(b->dir), "%s/engine-%s", tmpdir, name);
		b->e = elog_open(b->dir);
		assert_non_null(b->e);
		b->log = b->e;
		b->ops = &elog_ops;
	} else {
		b->t = log_new(name);
		b->log = b->t;
		b->ops = &tlog_ops;
	}
	b->p = part_new_ops(b->ops, b->log, id, false, &b->w);
	assert_int_equal(fetch_serve_new(bk_lookup, b, bk_clock, &b->fs), 0);
	if (b->e)
		elog_set_listener(b->e, bk_wake, b);
	else
		tlog_set_listener(b->t, bk_wake, b);
	bk_listen(b, 0);
}

static void bk_start(struct bk *b, int32_t id, const char *name)
{
	bk_start_as(b, id, name, NULL);
}

static void bk_cut(void *arg, const char *topic, int32_t partition)
{
	struct bk *b = arg;

	assert_string_equal(topic, "orders");
	assert_int_equal(partition, 0);
	atomic_fetch_add(&b->cuts, 1);
}

/* The fetcher's after_append: orders-0's batches appended are whole and
 * end where b's log now ends (the broker reads their headers). */
static void bk_appended(void *arg, const char *topic, int32_t partition, void *log,
			const uint8_t *records, size_t len)
{
	struct bk *b = arg;
	struct partition_offsets o;
	size_t at = 0;
	int64_t end = -1;

	assert_string_equal(topic, "orders");
	if (partition != 0)
		return; /* orders-1 and on: their own logs */
	assert_ptr_equal(log, b->log);
	while (at < len) {
		const uint8_t *h = records + at;
		uint64_t base = 0;
		uint32_t size = 0, delta = 0;

		assert_true(len - at >= 27);
		for (int i = 0; i < 8; i++)
			base = base << 8 | h[i];
		for (int i = 0; i < 4; i++) {
			size = size << 8 | h[8 + i];
			delta = delta << 8 | h[23 + i];
		}
		assert_true(size + 12 <= len - at);
		end = (int64_t)base + delta + 1;
		at += size + 12;
	}
	b->ops->offsets(b->log, &o);
	assert_int_equal(end, o.log_end_offset);
	atomic_store(&b->appended_end, end);
}

/* Follows source over the loopback listener, its fetches parked up to
 * max_wait_ms, backoff_ms after an error. */
static void bk_follow_wait(struct bk *b, struct bk *source, bool truncate_on_fetch,
			   int64_t max_wait_ms, int64_t backoff_ms)
{
	struct fetcher_config cfg;

	fetcher_config_default(&cfg);
	cfg.broker_id = b->id;
	cfg.source_id = source->id;
	strcpy(cfg.host, "127.0.0.1");
	cfg.port = source->port;
	cfg.backoff_ms = backoff_ms;
	cfg.max_wait_ms = max_wait_ms;
	cfg.truncate_on_fetch = truncate_on_fetch;
	if (b->fetch_zero)
		cfg.partition_max_bytes = 0;
	cfg.sasl_user = source->user;
	cfg.sasl_password = source->user ? "s3cret" : NULL;
	cfg.before_append = b->before_append;
	cfg.before_append_arg = b->before_append_arg;
	cfg.after_cut = bk_cut;
	cfg.after_cut_arg = b;
	cfg.after_append = bk_appended;
	cfg.after_append_arg = b;
	if (b->fetcher)
		fetcher_free(b->fetcher);
	assert_int_equal(fetcher_new(&cfg, &b->fetcher), 0);
	assert_int_equal(fetcher_add(b->fetcher, b->p), 0);
}

static void bk_follow(struct bk *b, struct bk *source, bool truncate_on_fetch)
{
	bk_follow_wait(b, source, truncate_on_fetch, 200, 50);
}

static void bk_stop(struct bk *b)
{
	fetcher_free(b->fetcher);
	fetch_serve_stop(b->fs);
	net_server_free(b->srv);
	fetch_serve_free(b->fs);
	/* Every file range the handler handed out was released. */
	assert_int_equal(b->e ? elog_refs(b->e) : tlog_refs(b->t), 0);
	partition_unref(b->p);
	if (b->e)
		elog_close(b->e); /* the files stay, for bk_assert_same_files */
	else
		tlog_close(b->t);
	if (b->p1) {
		partition_unref(b->p1);
		tlog_close(b->t1);
	}
}

/* Engine logs only, once both are stopped: .log, .index, .timeindex,
 * .lines and leader-epoch-checkpoint, byte for byte (the tests end with
 * the hw at the LEO on both, so the whole files are below it). */
static void bk_assert_same_files(struct bk *a, struct bk *b)
{
	char da[160], db[160], why[600];

	if (!use_engine)
		return;
	snprintf(da, sizeof(da), "%s/orders-0", a->dir);
	snprintf(db, sizeof(db), "%s/orders-0", b->dir);
	if (elog_dirs_identical(da, db, why, sizeof(why)) != 0)
		fail_msg("%s", why);
}

static int64_t bk_append(struct bk *b, int n, int32_t epoch, const char *prefix)
{
	return b->e ? elog_append(b->e, n, epoch, prefix) : tlog_append(b->t, n, epoch, prefix);
}

static int bk_truncations(struct bk *b)
{
	return b->e ? elog_truncations(b->e) : tlog_truncations(b->t);
}

static int bk_value_at(struct bk *b, int64_t offset, char *v, size_t cap)
{
	return b->e ? elog_value_at(b->e, offset, v, cap) : tlog_value_at(b->t, offset, v, cap);
}

static struct partition_state state2(int32_t leader, int32_t epoch, int n_isr, int32_t other)
{
	struct partition_state st = { .leader = leader,
				      .leader_epoch = epoch,
				      .partition_epoch = epoch,
				      .n_replicas = 2,
				      .replicas = { 1, 2 },
				      .n_isr = n_isr,
				      .isr = { leader, other } };
	return st;
}

static int64_t leo_of(struct bk *b)
{
	struct partition_offsets o;

	b->ops->offsets(b->log, &o);
	return o.log_end_offset;
}

/* Polls until the follower b has the leader a's LEO and hw, and a's ISR
 * has n_isr members. */
static bool synced(struct bk *a, struct bk *b, int n_isr)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (now_mono_ms() < end) {
		if (leo_of(b) == leo_of(a) && hw_of(b->p) == hw_of(a->p) &&
		    hw_of(a->p) == leo_of(a) && isr_size(a->p) == n_isr)
			return true;
		usleep(1000);
	}
	return false;
}

/* The two .log files are the same bytes below the hw. */
static void assert_identical_below_hw(struct bk *a, struct bk *b)
{
	if (use_engine) {
		size_t na, nb;
		uint8_t *x = elog_bytes_below(a->e, hw_of(a->p), &na);
		uint8_t *y = elog_bytes_below(b->e, hw_of(a->p), &nb);

		assert_non_null(x);
		assert_non_null(y);
		assert_true(na > 0);
		assert_int_equal(na, nb);
		assert_memory_equal(x, y, na);
		free(x);
		free(y);
		return;
	}
	int64_t n = tlog_pos_of(a->t, hw_of(a->p));
	char *x = malloc((size_t)n + 1), *y = malloc((size_t)n + 1);
	FILE *fa = fopen(tlog_path(a->t), "rb"), *fb = fopen(tlog_path(b->t), "rb");

	assert_int_equal(tlog_pos_of(b->t, hw_of(a->p)), n);
	assert_int_equal(fread(x, 1, (size_t)n, fa), (size_t)n);
	assert_int_equal(fread(y, 1, (size_t)n, fb), (size_t)n);
	assert_memory_equal(x, y, (size_t)n);
	fclose(fa);
	fclose(fb);
	free(x);
	free(y);
}

static void leader_append(struct bk *b, int n, int32_t epoch, const char *prefix)
{
	assert_int_equal(partition_check_append(b->p, 1), 0);
	assert_true(bk_append(b, n, epoch, prefix) >= 0);
	assert_true(partition_maybe_increment_leader_hw(b->p, now_mono_ms()) >= 0);
}

/* Catch-up, ISR join, hw on both sides; then the KIP-101 case: the old
 * leader holds records of its epoch that were never committed; the new
 * leader wrote others at the same offsets; the old leader, now follower,
 * truncates exactly those and takes the new leader's. */
static void test_e2e_catch_up_and_kip101(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 1, 2);
	char v[64];

	(void)state;
	bk_start(&a, 1, "e2e-a");
	bk_start(&b, 2, "e2e-b");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	leader_append(&a, 5, 1, "a");
	leader_append(&a, 3, 1, "b");
	bk_follow(&b, &a, false);
	/* b catches up, joins the ISR through the writer, the hw follows. */
	assert_true(synced(&a, &b, 2));
	assert_int_equal(a.w.calls, 1);
	assert_int_equal(a.w.last.n_isr, 2);
	/* acks=all now possible (min.insync.replicas 2). */
	assert_int_equal(partition_check_append(a.p, -1), 0);
	leader_append(&a, 2, 1, "c");
	assert_true(synced(&a, &b, 2));
	assert_int_equal(leo_of(&b), 10);
	assert_identical_below_hw(&a, &b);

	/* b stops fetching; a appends 3 records b never sees: uncommitted. */
	fetcher_remove(b.fetcher, b.p);
	leader_append(&a, 3, 1, "u");
	assert_int_equal(leo_of(&a), 13);
	assert_int_equal(hw_of(a.p), 10);

	/* The controller elects b in epoch 2 (a presumed dead); b writes. */
	st = state2(2, 2, 1, 1);
	assert_int_equal(partition_make_leader(b.p, &st, now_mono_ms()), 1);
	leader_append(&b, 2, 2, "n");
	/* a comes back as follower of b: truncates 10..12, fetches b's. */
	assert_int_equal(partition_make_follower(a.p, &st), 1);
	bk_follow(&a, &b, false);
	assert_true(synced(&b, &a, 2));
	assert_int_equal(leo_of(&a), 12);
	assert_int_equal(bk_truncations(&a), 1);
	assert_int_equal(bk_value_at(&a, 9, v, sizeof(v)), 0);
	assert_string_equal(v, "c-1");
	assert_int_equal(bk_value_at(&a, 10, v, sizeof(v)), 0);
	assert_string_equal(v, "n-0");
	assert_int_equal(a.ops->latest_epoch(a.log), 2);
	assert_identical_below_hw(&b, &a);
	bk_stop(&a);
	bk_stop(&b);
	bk_assert_same_files(&a, &b);
}

/* A before_append that makes the records wait: for cause A its first
 * n_a calls, then for cause B n_b calls, then lets them in. */
struct wait_hook {
	atomic_int calls;
	int n_a, n_b;
};

static int wait_hook_fn(void *arg, const char *topic, void *log, char *wait, size_t cap)
{
	struct wait_hook *h = arg;
	int n = atomic_fetch_add(&h->calls, 1) + 1;

	(void)topic;
	(void)log;
	if (n > h->n_a + h->n_b)
		return 0;
	snprintf(wait, cap, "cause %s", n <= h->n_a ? "A" : "B");
	return -EAGAIN;
}

static int count_of(const char *text, const char *what)
{
	int n = 0;

	for (const char *s = strstr(text, what); s; s = strstr(s + 1, what))
		n++;
	return n;
}

/* Records a follower cannot append yet (before_append's -EAGAIN: a topic
 * not made on this broker yet, ZooKeeper out of reach for its line
 * settings) are a wait, not an error: one WARN line per cause saying what
 * they wait for, however many retries meet it, and none naming EAGAIN;
 * they go in once the wait is over. */
static void test_e2e_append_waits_logged_once(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 1, 2);
	struct wait_hook h = { .n_a = 4, .n_b = 4 };
	char path[] = "/tmp/mqfs-test-fetchwait.XXXXXX", text[16384] = "";
	int fd = mkstemp(path), err = dup(2);

	(void)state;
	assert_true(fd >= 0 && err >= 0);
	bk_start(&a, 1, "wait-a");
	bk_start(&b, 2, "wait-b");
	b.before_append = wait_hook_fn;
	b.before_append_arg = &h;
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	leader_append(&a, 3, 1, "a");
	dup2(fd, 2);
	bk_follow_wait(&b, &a, false, 200, 5);
	bool ok = synced(&a, &b, 2);
	dup2(err, 2);
	close(err);
	assert_true(ok);
	assert_true(atomic_load(&h.calls) > h.n_a + h.n_b);
	assert_true(pread(fd, text, sizeof(text) - 1, 0) >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(count_of(text, "wait for cause A"), 1);
	assert_int_equal(count_of(text, "wait for cause B"), 1);
	assert_non_null(strstr(text, "WARN fetcher: orders-0: the records fetched from broker 1"));
	assert_null(strstr(text, "Resource temporarily unavailable"));
	bk_stop(&a);
	bk_stop(&b);
}

/* replica.fetch.max.bytes=0, a value Kafka takes (atLeast(0)): the
 * follower still fetches, one batch a Fetch (the leader's minOneMessage),
 * catches up and joins the ISR, its log the leader's. A follower that
 * could not make its fetcher would leave the partition under-replicated
 * for as long as it ran. */
static void test_e2e_zero_fetch_max_bytes(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 1, 2);

	(void)state;
	bk_start(&a, 1, "zero-max-a");
	bk_start(&b, 2, "zero-max-b");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	for (int i = 0; i < 4; i++)
		leader_append(&a, 3, 1, "z");
	b.fetch_zero = true;
	bk_follow(&b, &a, false);
	assert_true(synced(&a, &b, 2));
	assert_int_equal(leo_of(&b), 12);
	leader_append(&a, 2, 1, "y");
	assert_true(synced(&a, &b, 2));
	assert_identical_below_hw(&a, &b);
	bk_stop(&a);
	bk_stop(&b);
	bk_assert_same_files(&a, &b);
}

/* A socket bound to a free loopback port, listening when listens: its
 * fd, its port in *port. */
static int loopback_socket(bool listens, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (listens)
		assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* The config of broker 2's fetcher from broker 1 at 127.0.0.1:port. */
static void follower_cfg(struct fetcher_config *cfg, int port)
{
	fetcher_config_default(cfg);
	cfg->broker_id = 2;
	cfg->source_id = 1;
	strcpy(cfg->host, "127.0.0.1");
	cfg->port = port;
}

/* Where broker 1 listens now: the port a points at (a bk's). */
static int moved_endpoint(void *arg, int32_t broker_id, char *host, int *port)
{
	const struct bk *a = arg;

	if (broker_id != a->id)
		return -ENOENT;
	snprintf(host, NET_MAX_HOST + 1, "127.0.0.1");
	*port = a->port;
	return 0;
}

/* The leader started again on another port (its listeners changed): the
 * follower's fetcher, made with the old address, where nothing listens
 * now, asks where the leader is once that connection failed and catches
 * up from there, instead of knocking at the old port for as long as it
 * runs (the follower out of the ISR for good). */
static void test_e2e_source_moved(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 1, 2);
	struct fetcher_config cfg;
	int old, old_port;

	(void)state;
	bk_start(&a, 1, "moved-a");
	bk_start(&b, 2, "moved-b");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	leader_append(&a, 5, 1, "m");
	/* The old address: a port bound without a listener (refused). */
	old = loopback_socket(false, &old_port);
	follower_cfg(&cfg, old_port);
	cfg.backoff_ms = 50;
	cfg.max_wait_ms = 200;
	cfg.endpoint = moved_endpoint;
	cfg.endpoint_arg = &a;
	assert_int_equal(fetcher_new(&cfg, &b.fetcher), 0);
	assert_int_equal(fetcher_add(b.fetcher, b.p), 0);
	assert_true(synced(&a, &b, 2));
	assert_int_equal(leo_of(&b), 5);
	assert_identical_below_hw(&a, &b);
	close(old);
	bk_stop(&a);
	bk_stop(&b);
}

/* follower follows leader (truncate_on_fetch or OffsetForLeaderEpoch
 * rounds) until both agree with it in the ISR: rounds truncation rounds
 * (the fetcher's count), truncations of its log, its LEO then leo. */
static void truncated_and_synced(struct bk *follower, struct bk *leader, bool truncate_on_fetch,
				 int rounds, int truncations, int64_t leo)
{
	struct fetcher_stats fst;

	bk_follow(follower, leader, truncate_on_fetch);
	assert_true(synced(leader, follower, 2));
	fetcher_get_stats(follower->fetcher, &fst);
	assert_int_equal(fst.truncations, rounds);
	assert_int_equal(bk_truncations(follower), truncations);
	/* Each of those cut records: the broker was told (its checkpoints). */
	assert_int_equal(atomic_load(&follower->cuts), truncations);
	assert_int_equal(leo_of(follower), leo);
	/* The batches fetched were given to the broker (its producer state). */
	assert_int_equal(atomic_load(&follower->appended_end), leo);
}

/* The record at offset of b holds want. */
static void assert_value_at(struct bk *b, int64_t offset, const char *want)
{
	char v[64];

	assert_int_equal(bk_value_at(b, offset, v, sizeof(v)), 0);
	assert_string_equal(v, want);
}

/* Stops both, the follower's log the leader's below the hw, its files
 * the same bytes. */
static void stop_identical(struct bk *leader, struct bk *follower)
{
	assert_identical_below_hw(leader, follower);
	bk_stop(follower);
	bk_stop(leader);
	bk_assert_same_files(follower, leader);
}

/* KIP-279: the follower's log went through epochs the leader never had;
 * one question is not enough, each round steps back an epoch.
 *   follower a: epoch 1 [0,1], epoch 2 [2,3], epoch 4 [4,5]
 *   leader b:   epoch 1 [0,1], epoch 3 [2..6], leading in epoch 5 from 7
 * a asks for 4: b says (3, 7); a ends epoch 3 (its 2) at 4: cut to 4.
 * a asks for 2: b says (1, 2); a ends epoch 1 at 2: cut to 2, done. */
static void kip279(bool truncate_on_fetch)
{
	struct bk a, b;
	struct partition_state st = state2(2, 5, 1, 1);

	bk_start(&a, 1, truncate_on_fetch ? "k279f-a" : "k279-a");
	bk_start(&b, 2, truncate_on_fetch ? "k279f-b" : "k279-b");
	bk_append(&a, 2, 1, "x");
	bk_append(&b, 2, 1, "x");
	bk_append(&a, 2, 2, "a2");
	bk_append(&a, 2, 4, "a4");
	bk_append(&b, 5, 3, "b3");
	assert_int_equal(partition_make_leader(b.p, &st, now_mono_ms()), 1);
	leader_append(&b, 1, 5, "b5");
	assert_int_equal(partition_make_follower(a.p, &st), 1);
	truncated_and_synced(&a, &b, truncate_on_fetch, 2, 2, 8);
	assert_value_at(&a, 2, "b3-0");
	assert_value_at(&a, 7, "b5-0");
	stop_identical(&b, &a);
}

/* The leader answers UNDEFINED_EPOCH_OFFSET (-1, -1): the follower's
 * latest epoch, 7, is above every epoch of the leader's (a follower that
 * led in an epoch the leader never heard of). As Kafka's
 * AbstractFetcherThread, the follower truncates to its high watermark,
 * in one round, and fetches from there:
 *   follower a: epoch 1 [0..3], epoch 7 [4,5], hw 2
 *   leader b:   epoch 1 [0..3], epoch 5 [4,5] (it leads in 5)
 * Kafka's leader answers (-1, -1) to 7, which used to be answered with
 * its latest epoch's end (5, 6), a second round asking about epoch 1 and
 * a truncation to 4. Every record of b's ends up on a, a's epoch 7 gone. */
static void undefined_epoch_to_hw(void)
{
	struct bk a, b;
	struct partition_state st = state2(2, 5, 1, 1);

	bk_start(&a, 1, "undef-a");
	bk_start(&b, 2, "undef-b");
	bk_append(&a, 2, 1, "x"); /* the hw at a batch's start */
	bk_append(&a, 2, 1, "y");
	bk_append(&b, 2, 1, "x");
	bk_append(&b, 2, 1, "y");
	bk_append(&a, 2, 7, "a7");
	assert_int_equal(a.ops->set_hw(a.log, 2), 0);
	assert_int_equal(partition_make_leader(b.p, &st, now_mono_ms()), 1);
	leader_append(&b, 2, 5, "b5");
	assert_int_equal(partition_make_follower(a.p, &st), 1);
	truncated_and_synced(&a, &b, false, 1, 1, 6);
	assert_value_at(&a, 3, "y-1");
	assert_value_at(&a, 4, "b5-0");
	stop_identical(&b, &a);
}

/* fn on engine logs: its brokers made while use_engine is set (the
 * engine half of a test that runs on the test log too). */
static void on_engine(void (*fn)(void))
{
	use_engine = true;
	fn();
	use_engine = false;
}

/* Kafka's fetchOffsetAndTruncate: the follower's truncation went to its
 * hw (the leader has no epoch as late as its latest), and that hw is
 * above the leader's log end (an unclean election: the leader never had
 * the records the follower's hw covered):
 *   follower a: epoch 1 [0..3], epoch 7 [4,5], hw 6
 *   leader b:   epoch 1 [0..3], leading in 5 from 4, nothing since
 * b answers a's fetch at 6 OFFSET_OUT_OF_RANGE; a asks b's log end
 * (ListOffsets), truncates to it (4, below its hw), and takes b's
 * records from there. */
static void above_leader_end(void)
{
	struct bk a, b;
	struct partition_state st = state2(2, 5, 1, 1);
	struct fetcher_stats fst;
	int64_t end = now_mono_ms() + DEADLINE_MS;

	bk_start(&a, 1, "oor-a");
	bk_start(&b, 2, "oor-b");
	bk_append(&a, 2, 1, "x");
	bk_append(&a, 2, 1, "y");
	bk_append(&b, 2, 1, "x");
	bk_append(&b, 2, 1, "y");
	bk_append(&a, 2, 7, "a7");
	assert_int_equal(a.ops->set_hw(a.log, 6), 0);
	assert_int_equal(partition_make_leader(b.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(a.p, &st), 1);
	bk_follow(&a, &b, false);
	while (leo_of(&a) != 4 && now_mono_ms() < end)
		usleep(1000);
	assert_int_equal(leo_of(&a), 4);
	assert_int_equal(hw_of(a.p), 4);
	leader_append(&b, 2, 5, "b5");
	assert_true(synced(&b, &a, 2));
	fetcher_get_stats(a.fetcher, &fst);
	assert_int_equal(fst.truncations, 2); /* the epoch's round, the end's */
	assert_int_equal(bk_truncations(&a), 1);
	assert_int_equal(atomic_load(&a.cuts), 1);
	assert_value_at(&a, 3, "y-1");
	assert_value_at(&a, 4, "b5-0");
	assert_int_equal(leo_of(&a), 6);
	stop_identical(&b, &a);
}

static void test_e2e_above_leader_end_truncates_to_it(void **state)
{
	(void)state;
	above_leader_end();
}

static void test_e2e_above_leader_end_truncates_to_it_engine(void **state)
{
	(void)state;
	on_engine(above_leader_end);
}

static void test_e2e_undefined_epoch_truncates_to_hw(void **state)
{
	(void)state;
	undefined_epoch_to_hw();
}

static void test_e2e_undefined_epoch_truncates_to_hw_engine(void **state)
{
	(void)state;
	on_engine(undefined_epoch_to_hw);
}

static void test_e2e_kip279_offset_for_leader_epoch(void **state)
{
	(void)state;
	kip279(false);
}

static void test_e2e_kip279_diverging_epoch(void **state)
{
	(void)state;
	kip279(true);
}

/* The same on two engine logs: repl/partition_log.c's table over the
 * engine's raw reads, follower appends, epoch cache and durable
 * truncation, and every file byte-identical at the end. */
static void test_e2e_catch_up_and_kip101_engine(void **state)
{
	use_engine = true;
	test_e2e_catch_up_and_kip101(state);
	use_engine = false;
}

static void test_e2e_kip279_offset_for_leader_epoch_engine(void **state)
{
	(void)state;
	use_engine = true;
	kip279(false);
	use_engine = false;
}

static void test_e2e_kip279_diverging_epoch_engine(void **state)
{
	(void)state;
	use_engine = true;
	kip279(true);
	use_engine = false;
}

/* Epochs led without an append, at the log end on both sides (each
 * replica led one the other never had, as when the leadership goes back
 * and forth between two brokers frozen in turn before any write):
 *   follower a: epoch 0 [0], epochs 2 and 3 from 1 (nothing appended)
 *   leader b:   epoch 0 [0], epoch 1 from 1 (nothing appended), leading
 *               in epoch 4 from 1
 * a asks for 3: b says (1, 1); a has no epoch 1 and its epoch 0 ends at
 * 1, its log end: nothing to cut, but its epochs 2 and 3 go there (or it
 * would ask for 3 again, for ever); a asks for 0: (0, 1), done, fetches. */
static void empty_epochs(bool truncate_on_fetch)
{
	struct bk a, b;
	struct partition_state st = state2(2, 4, 1, 1);
	char v[64];

	use_engine = true;
	bk_start(&a, 1, truncate_on_fetch ? "ee-f-a" : "ee-a");
	bk_start(&b, 2, truncate_on_fetch ? "ee-f-b" : "ee-b");
	bk_append(&a, 1, 0, "x");
	bk_append(&b, 1, 0, "x");
	assert_int_equal(a.ops->assign_epoch(a.log, 2, 1), 0);
	assert_int_equal(a.ops->assign_epoch(a.log, 3, 1), 0);
	assert_int_equal(b.ops->assign_epoch(b.log, 1, 1), 0);
	assert_int_equal(partition_make_leader(b.p, &st, now_mono_ms()), 1);
	leader_append(&b, 1, 4, "b4");
	assert_int_equal(partition_make_follower(a.p, &st), 1);
	bk_follow(&a, &b, truncate_on_fetch);
	assert_true(synced(&b, &a, 2));
	assert_int_equal(leo_of(&a), 2);
	assert_int_equal(bk_value_at(&a, 1, v, sizeof(v)), 0);
	assert_string_equal(v, "b4-0");
	assert_int_equal(a.ops->latest_epoch(a.log), 4);
	bk_stop(&a);
	bk_stop(&b);
	use_engine = false;
}

static void test_e2e_empty_epochs_offset_for_leader_epoch_engine(void **state)
{
	(void)state;
	empty_epochs(false);
}

static void test_e2e_empty_epochs_diverging_epoch_engine(void **state)
{
	(void)state;
	empty_epochs(true);
}

/* ---- the Fetch handler seen from a raw client ---- */

/* Sends req (Fetch version v) on c and decodes its answer into *fr
 * (resp holds the frame it points into; the caller frees both). */
static void fetch_call(struct net_client *c, const struct proto_fetch_req *req, int16_t v,
		       struct net_resp *resp, struct proto_fetch_resp *fr)
{
	struct kbuf_w w;

	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_fetch_req_encode(&w, v, req), 0);
	assert_int_equal(net_client_call(c, PROTO_API_FETCH, v, w.buf, w.len, 0, DEADLINE_MS, resp),
			 0);
	kbuf_w_free(&w);
	assert_int_equal(proto_fetch_resp_decode(&resp->body, v, fr), 0);
}

/* Sends f (Fetch version v) on c: the one partition's answer in *out
 * (without its records' bytes), its error returned. */
static int16_t fetch_with_v(struct net_client *c, struct protofx_fetch *f, int16_t v,
			    struct proto_fetch_resp_part *out, int64_t *elapsed_ms)
{
	struct proto_fetch_resp fr;
	struct net_resp resp;
	int64_t t0 = now_mono_ms();
	int16_t err;

	fetch_call(c, &f->req, v, &resp, &fr);
	assert_int_equal(fr.n_topics, 1);
	assert_int_equal(fr.topics[0].n_partitions, 1);
	*out = fr.topics[0].partitions[0];
	out->records = NULL;
	out->aborted = NULL;
	err = out->error_code;
	proto_fetch_resp_free(&fr);
	net_resp_free(&resp);
	if (elapsed_ms)
		*elapsed_ms = now_mono_ms() - t0;
	return err;
}

static int16_t fetch_with(struct net_client *c, struct protofx_fetch *f,
			  struct proto_fetch_resp_part *out, int64_t *elapsed_ms)
{
	return fetch_with_v(c, f, 12, out, elapsed_ms);
}

static int16_t fetch_one(struct net_client *c, int32_t replica_id, int32_t cur_epoch,
			 int64_t offset, int32_t last_epoch, int32_t max_wait,
			 struct proto_fetch_resp_part *out, int64_t *elapsed_ms)
{
	struct protofx_fetch f;

	protofx_fetch_init(&f, "orders", replica_id, cur_epoch, offset, last_epoch, max_wait);
	return fetch_with(c, &f, out, elapsed_ms);
}

/* Polls (within DEADLINE_MS) until n fetches are parked at fs. */
static void wait_parked(struct fetch_serve *fs, int n)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (fetch_serve_parked(fs) < n && now_mono_ms() < end)
		usleep(1000);
	assert_int_equal(fetch_serve_parked(fs), n);
}

static void *append_when_parked(void *arg)
{
	struct bk *b = arg;
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (fetch_serve_parked(b->fs) == 0 && now_mono_ms() < end)
		usleep(1000);
	leader_append(b, 1, 3, "late");
	return NULL;
}

/* ListOffsets -2, -1, a time and -3 (max timestamp) over the listener on
 * an engine log. elog_append stamps record i of a batch 1700000000000 + i,
 * so the largest timestamp is in the middle of the log and shared by two
 * records: -3 names the earlier one. Nothing at or above the hw counts. */
static int16_t list_offset_epoch(struct net_client *c, int64_t ts, int64_t *offset,
				 int64_t *found_ts, int32_t *found_epoch);

static int16_t list_offset(struct net_client *c, int64_t ts, int64_t *offset, int64_t *found_ts)
{
	int32_t epoch;

	return list_offset_epoch(c, ts, offset, found_ts, &epoch);
}

/* list_offset_epoch with the current_leader_epoch current (-1: none). */
static int16_t list_offset_in(struct net_client *c, int32_t current, int64_t ts, int64_t *offset,
			      int64_t *found_ts, int32_t *found_epoch)
{
	struct proto_list_offsets_part part = { .partition_index = 0,
						.current_leader_epoch = current,
						.timestamp = ts,
						.max_num_offsets = 1 };
	struct proto_list_offsets_topic topic = { kstr_of("orders"), 1, &part };
	struct proto_list_offsets_req req = { .replica_id = -1, .n_topics = 1, .topics = &topic };
	struct proto_list_offsets_resp lr;
	struct net_resp resp;
	struct kbuf_w w;
	int16_t err;

	kbuf_w_init(&w, 512);
	assert_int_equal(proto_list_offsets_req_encode(&w, 7, &req), 0);
	assert_int_equal(
		net_client_call(c, PROTO_API_LIST_OFFSETS, 7, w.buf, w.len, 0, DEADLINE_MS, &resp),
		0);
	kbuf_w_free(&w);
	assert_int_equal(proto_list_offsets_resp_decode(&resp.body, 7, &lr), 0);
	assert_int_equal(lr.n_topics, 1);
	assert_int_equal(lr.topics[0].n_partitions, 1);
	err = lr.topics[0].partitions[0].error_code;
	*offset = lr.topics[0].partitions[0].offset;
	*found_ts = lr.topics[0].partitions[0].timestamp;
	*found_epoch = lr.topics[0].partitions[0].leader_epoch;
	proto_list_offsets_resp_free(&lr);
	net_resp_free(&resp);
	return err;
}

/* list_offset, and the answer's leader epoch. */
static int16_t list_offset_epoch(struct net_client *c, int64_t ts, int64_t *offset,
				 int64_t *found_ts, int32_t *found_epoch)
{
	return list_offset_in(c, -1, ts, offset, found_ts, found_epoch);
}

/* A partition named twice in one ListOffsets v1+ is INVALID_REQUEST for
 * each of its entries, as Kafka's duplicatePartitions; v0 answers each. */
static void test_list_offsets_named_twice(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct proto_list_offsets_part parts[2] = {
		{ .partition_index = 0,
		  .current_leader_epoch = -1,
		  .timestamp = -1,
		  .max_num_offsets = 1 },
		{ .partition_index = 0,
		  .current_leader_epoch = -1,
		  .timestamp = -2,
		  .max_num_offsets = 1 },
	};
	struct proto_list_offsets_topic topic = { kstr_of("orders"), 2, parts };
	struct proto_list_offsets_req req = { .replica_id = -1, .n_topics = 1, .topics = &topic };
	struct net_client *c;
	const int16_t versions[] = { 7, 1, 0 };

	(void)state;
	use_engine = true;
	bk_start(&a, 1, "listoffsets-twice");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 3, 1, "r");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		int16_t v = versions[i];
		struct proto_list_offsets_resp lr;
		struct net_resp resp;
		struct kbuf_w w;

		kbuf_w_init(&w, 512);
		assert_int_equal(proto_list_offsets_req_encode(&w, v, &req), 0);
		assert_int_equal(net_client_call(c, PROTO_API_LIST_OFFSETS, v, w.buf, w.len, 0,
						 DEADLINE_MS, &resp),
				 0);
		kbuf_w_free(&w);
		assert_int_equal(proto_list_offsets_resp_decode(&resp.body, v, &lr), 0);
		assert_int_equal(lr.topics[0].n_partitions, 2);
		for (int j = 0; j < 2; j++)
			assert_int_equal(lr.topics[0].partitions[j].error_code,
					 v >= 1 ? PROTO_ERR_INVALID_REQUEST : 0);
		proto_list_offsets_resp_free(&lr);
		net_resp_free(&resp);
	}
	net_client_close(c);
	bk_stop(&a);
	use_engine = false;
}

/* A consumer's ListOffsets v2+ with an isolation level Kafka does not
 * define (2) is UNKNOWN_SERVER_ERROR for each partition, as Kafka's error
 * response (IsolationLevel.forId throws); 0 and 1 are answered, and a
 * replica's (replica_id >= 0), which Kafka does not read it of, too.
 * Before, any level was answered as read_uncommitted. */
static void test_list_offsets_isolation_level(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct proto_list_offsets_part part = { .partition_index = 0,
						.current_leader_epoch = -1,
						.timestamp = -1,
						.max_num_offsets = 1 };
	struct proto_list_offsets_topic topic = { kstr_of("orders"), 1, &part };
	static const struct {
		int16_t v;
		int32_t replica;
		int8_t level;
		int16_t err;
	} cases[] = {
		{ 7, -1, 2, PROTO_ERR_UNKNOWN_SERVER_ERROR },
		{ 2, -1, -1, PROTO_ERR_UNKNOWN_SERVER_ERROR },
		{ 7, -1, 1, 0 },
		{ 7, -1, 0, 0 },
		{ 7, 2, 2, 0 },
	};
	struct net_client *c;

	(void)state;
	use_engine = true;
	bk_start(&a, 1, "listoffsets-isolation");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 3, 1, "r");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proto_list_offsets_req req = { .replica_id = cases[i].replica,
						      .isolation_level = cases[i].level,
						      .n_topics = 1,
						      .topics = &topic };
		struct proto_list_offsets_resp lr;
		struct net_resp resp;
		struct kbuf_w w;

		kbuf_w_init(&w, 512);
		assert_int_equal(proto_list_offsets_req_encode(&w, cases[i].v, &req), 0);
		assert_int_equal(net_client_call(c, PROTO_API_LIST_OFFSETS, cases[i].v, w.buf,
						 w.len, 0, DEADLINE_MS, &resp),
				 0);
		kbuf_w_free(&w);
		assert_int_equal(proto_list_offsets_resp_decode(&resp.body, cases[i].v, &lr), 0);
		if (lr.topics[0].partitions[0].error_code != cases[i].err)
			fail_msg("case %zu: error %d, want %d", i,
				 lr.topics[0].partitions[0].error_code, cases[i].err);
		if (cases[i].err)
			assert_int_equal(lr.topics[0].partitions[0].offset, -1);
		proto_list_offsets_resp_free(&lr);
		net_resp_free(&resp);
	}
	net_client_close(c);
	bk_stop(&a);
	use_engine = false;
}

/* ListOffsets v4+ checks current_leader_epoch as Kafka's
 * ReplicaManager.fetchOffset reads it: -1 is none, any other epoch is
 * compared (-2 is older than any: FENCED_LEADER_EPOCH). */
static void test_list_offsets_current_epoch(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct net_client *c;
	static const struct {
		int32_t current;
		int16_t err;
	} cases[] = {
		{ -1, 0 },
		{ 1, 0 },
		{ -2, PROTO_ERR_FENCED_LEADER_EPOCH },
		{ 0, PROTO_ERR_FENCED_LEADER_EPOCH },
		{ 2, PROTO_ERR_UNKNOWN_LEADER_EPOCH },
	};

	(void)state;
	bk_start(&a, 1, "listoffsets-current");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 3, 1, "r");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t off, ts;
		int32_t epoch;

		assert_int_equal(list_offset_in(c, cases[i].current, -1, &off, &ts, &epoch),
				 cases[i].err);
		assert_int_equal(off, cases[i].err ? -1 : 3);
	}
	net_client_close(c);
	bk_stop(&a);
}

/* ListOffsets v4+ names the leader epoch of the offset it finds, as
 * Kafka: the epoch its record was written in (for -2 the log start's),
 * the partition's for -1, -1 when nothing was found. */
static void test_list_offsets_epoch_of_offset(void **state)
{
	struct bk a;
	struct partition_state st1 = state2(1, 1, 1, 2), st3 = state2(1, 3, 1, 2);
	struct net_client *c;
	int64_t off, ts;
	int32_t epoch;

	(void)state;
	use_engine = true;
	bk_start(&a, 1, "listoffsets-epoch");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	assert_int_equal(partition_make_leader(a.p, &st1, now_mono_ms()), 1);
	leader_append(&a, 3, 1, "e1"); /* 0-2, stamped TS0..TS0+2 */
	assert_int_equal(partition_make_leader(a.p, &st3, now_mono_ms()), 1);
	leader_append(&a, 2, 3, "e3"); /* 3-4, stamped TS0, TS0+1 */
	assert_int_equal(list_offset_epoch(c, -2, &off, &ts, &epoch), 0);
	assert_int_equal(off, 0);
	assert_int_equal(epoch, 1);
	assert_int_equal(list_offset_epoch(c, -1, &off, &ts, &epoch), 0);
	assert_int_equal(off, 5);
	assert_int_equal(epoch, 3);
	assert_int_equal(list_offset_epoch(c, REPLFX_TS0 + 1, &off, &ts, &epoch), 0);
	assert_int_equal(off, 1);
	assert_int_equal(epoch, 1);
	assert_int_equal(list_offset_epoch(c, -3, &off, &ts, &epoch), 0);
	assert_int_equal(off, 2);
	assert_int_equal(epoch, 1);
	assert_int_equal(list_offset_epoch(c, REPLFX_TS0 + 9, &off, &ts, &epoch), 0);
	assert_int_equal(off, -1);
	assert_int_equal(epoch, -1);
	net_client_close(c);
	bk_stop(&a);
	use_engine = false;
}

static void test_list_offsets_handler(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct net_client *c;
	int64_t off, ts;

	(void)state;
	use_engine = true;
	bk_start(&a, 1, "listoffsets");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	/* Empty: -3 finds nothing, without an error. */
	assert_int_equal(list_offset(c, -3, &off, &ts), 0);
	assert_int_equal(off, -1);
	assert_int_equal(ts, -1);
	leader_append(&a, 2, 1, "a"); /* 0-1: T+0, T+1 */
	leader_append(&a, 5, 1, "b"); /* 2-6: T+0 .. T+4 */
	leader_append(&a, 5, 1, "c"); /* 7-11: T+0 .. T+4 */
	leader_append(&a, 3, 1, "d"); /* 12-14: T+0 .. T+2 */
	assert_int_equal(list_offset(c, -2, &off, &ts), 0);
	assert_int_equal(off, 0);
	assert_int_equal(list_offset(c, -1, &off, &ts), 0);
	assert_int_equal(off, 15);
	assert_int_equal(list_offset(c, 1700000000003, &off, &ts), 0);
	assert_int_equal(off, 5);
	assert_int_equal(ts, 1700000000003);
	assert_int_equal(list_offset(c, -3, &off, &ts), 0);
	assert_int_equal(off, 6);
	assert_int_equal(ts, 1700000000004);
	assert_int_equal(list_offset(c, -4, &off, &ts), PROTO_ERR_INVALID_REQUEST);
	net_client_close(c);
	bk_stop(&a);
	use_engine = false;
}

/* A new leader whose hw is still below its epoch's start offset (it took
 * the records as a follower, the old leader's hw had not reached it) may
 * not answer a consumer's latest offset: that hw is lower than what the
 * old leader acknowledged. OFFSET_NOT_AVAILABLE (retriable) as Kafka,
 * until the hw reaches the epoch's start; the earliest offset is
 * answered all along. */
static void test_list_offsets_new_leader_lagging(void **state)
{
	struct tlog *src = log_new("lso-src");
	struct bk a;
	struct partition_state fst = state2(2, 1, 2, 1), lst = state2(1, 2, 2, 2),
			       alone = state2(1, 3, 1, 0);
	struct partition_follow f;
	struct net_client *c;
	uint8_t buf[8192];
	int64_t off, ts;
	size_t len;

	(void)state;
	bk_start(&a, 1, "lso-lag");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	tlog_append(src, 5, 1, "a");
	assert_int_equal(partition_make_follower(a.p, &fst), 1);
	assert_int_equal(partition_follow_state(a.p, &f), 0);
	assert_int_equal(partition_follower_truncate(a.p, f.generation, 0, true), 0);
	len = leader_batches(src, 0, 5, buf, sizeof(buf));
	/* The old leader's hw was 2 when these 5 records came. */
	assert_int_equal(partition_follower_append(a.p, f.generation, buf, len, 2, -1), 0);
	assert_int_equal(partition_make_leader(a.p, &lst, now_mono_ms()), 1);
	assert_int_equal(hw_of(a.p), 2);
	assert_int_equal(list_offset(c, -1, &off, &ts), PROTO_ERR_OFFSET_NOT_AVAILABLE);
	assert_int_equal(off, -1);
	assert_int_equal(list_offset(c, -2, &off, &ts), 0);
	assert_int_equal(off, 0);
	/* Alone in the ISR, its hw is its LEO, the epoch's start: answered. */
	assert_int_equal(partition_make_leader(a.p, &alone, now_mono_ms()), 1);
	assert_int_equal(hw_of(a.p), 5);
	assert_int_equal(list_offset(c, -1, &off, &ts), 0);
	assert_int_equal(off, 5);
	net_client_close(c);
	bk_stop(&a);
	tlog_close(src);
}

/* DeleteRecords through a raw client: one partition of name below
 * offset (timeout_ms), its error and low watermark. */
static int16_t delete_records_of(struct net_client *c, const char *name, int32_t partition,
				 int64_t offset, int32_t timeout_ms, int64_t *low)
{
	struct proto_delete_records_part part = { partition, offset };
	struct proto_delete_records_topic topic = { kstr_of(name), 1, &part };
	struct proto_delete_records_req req = { 1, &topic, timeout_ms };
	struct proto_delete_records_resp dr;
	struct net_resp resp;
	struct kbuf_w w;
	int16_t err;

	kbuf_w_init(&w, 512);
	assert_int_equal(proto_delete_records_req_encode(&w, 2, &req), 0);
	assert_int_equal(net_client_call(c, PROTO_API_DELETE_RECORDS, 2, w.buf, w.len, 0,
					 DEADLINE_MS, &resp),
			 0);
	kbuf_w_free(&w);
	assert_int_equal(proto_delete_records_resp_decode(&resp.body, 2, &dr), 0);
	assert_int_equal(dr.topics[0].n_partitions, 1);
	err = dr.topics[0].partitions[0].error_code;
	*low = dr.topics[0].partitions[0].low_watermark;
	proto_delete_records_resp_free(&dr);
	net_resp_free(&resp);
	return err;
}

/* The same of "orders", the test's topic. */
static int16_t delete_records(struct net_client *c, int32_t partition, int64_t offset,
			      int32_t timeout_ms, int64_t *low)
{
	return delete_records_of(c, "orders", partition, offset, timeout_ms, low);
}

static int64_t start_of(struct bk *b)
{
	struct partition_offsets o;

	b->ops->offsets(b->log, &o);
	return o.log_start_offset;
}

/* DeleteRecords on a leader with a follower in the ISR: the answer waits
 * until the follower's log start (from its fetches) reaches the offset,
 * its own having followed the leader's; the refusals; and a follower
 * that stops fetching makes the wait end in REQUEST_TIMED_OUT. */
static void test_delete_records_handler(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 1, 2);
	struct net_client *ca, *cb;
	int64_t low;

	(void)state;
	use_engine = true;
	bk_start(&a, 1, "delrec-a");
	bk_start(&b, 2, "delrec-b");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	for (int i = 0; i < 10; i++)
		leader_append(&a, 10, 1, "r");
	bk_follow(&b, &a, false);
	assert_true(synced(&a, &b, 2));
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &ca), 0);
	assert_int_equal(net_client_connect("127.0.0.1", b.port, DEADLINE_MS, &cb), 0);
	assert_int_equal(partition_low_watermark(a.p, &low), 0);
	assert_int_equal(low, 0);
	assert_int_equal(delete_records(ca, 0, 40, DEADLINE_MS, &low), 0);
	assert_int_equal(low, 40);
	assert_int_equal(start_of(&a), 40);
	assert_int_equal(start_of(&b), 40); /* the answer waited for it */
	assert_int_equal(delete_records(ca, 0, 101, DEADLINE_MS, &low),
			 PROTO_ERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(low, -1);
	assert_int_equal(delete_records(ca, 0, -2, DEADLINE_MS, &low),
			 PROTO_ERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(delete_records(ca, 9, 1, DEADLINE_MS, &low),
			 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(delete_records(cb, 0, 50, DEADLINE_MS, &low),
			 PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	/* An internal topic first of all, as Kafka's ReplicaManager: its
	 * records are the coordinators'. */
	assert_int_equal(delete_records_of(ca, "__consumer_offsets", 0, 0, DEADLINE_MS, &low),
			 PROTO_ERR_INVALID_TOPIC_EXCEPTION);
	assert_int_equal(low, -1);
	/* The follower stops: the leader's start moves, the wait times out. */
	fetcher_remove(b.fetcher, b.p);
	assert_int_equal(delete_records(ca, 0, -1, 100, &low), PROTO_ERR_REQUEST_TIMED_OUT);
	assert_int_equal(start_of(&a), 100);
	assert_int_equal(start_of(&b), 40);
	net_client_close(ca);
	net_client_close(cb);
	bk_stop(&a);
	bk_stop(&b);
	use_engine = false;
}

/* Kafka's lowWatermarkIfLeader: the lowest log start of every replica on
 * a live broker, in the ISR or not (3's addition cannot be written);
 * one whose broker is gone does not count, one that has not told its
 * start holds it at -1. */
static void test_low_watermark_live_replicas(void **state)
{
	char dir[128];
	struct elog *e;
	struct writer w = { .fail = -EIO };
	struct partition *p;
	struct partition_state st = state3(1, 1, 2);
	const int64_t t0 = 1000000;
	int64_t low = -2, start = -2;

	(void)state;
	memset(dead, 0, sizeof(dead));
	snprintf(dir, sizeof(dir), "%s/engine-lowwm", tmpdir);
	e = elog_open(dir);
	assert_non_null(e);
	p = part_new_ops(&elog_ops, e, 1, false, &w);
	partition_set_alive(p, alive_fn, NULL);
	for (int i = 0; i < 10; i++)
		assert_true(elog_append(e, 10, 1, "r") >= 0);
	assert_int_equal(partition_make_leader(p, &st, t0), 1);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 100, 0, t0 + 1), 0);
	assert_int_equal(hw_of(p), 100);
	/* 3 never fetched: it has told no log start. */
	assert_int_equal(partition_low_watermark(p, &low), 0);
	assert_int_equal(low, -1);
	assert_int_equal(partition_delete_records(p, 40, &start), 0);
	assert_int_equal(start, 40);
	assert_int_equal(partition_update_follower_fetch_state(p, 2, 100, 40, t0 + 2), 0);
	/* 3, outside the ISR, fetches with its start still at 0. */
	assert_int_equal(partition_update_follower_fetch_state(p, 3, 100, 0, t0 + 3), -EIO);
	assert_int_equal(isr_size(p), 2);
	assert_int_equal(partition_low_watermark(p, &low), 0);
	assert_int_equal(low, 0);
	dead[3] = true;
	assert_int_equal(partition_low_watermark(p, &low), 0);
	assert_int_equal(low, 40);
	dead[3] = false;
	assert_int_equal(partition_update_follower_fetch_state(p, 3, 100, 40, t0 + 4), -EIO);
	assert_int_equal(partition_low_watermark(p, &low), 0);
	assert_int_equal(low, 40);
	/* 2 gone: 3's start alone below ours; then 3 too: ours. */
	dead[2] = true;
	assert_int_equal(partition_update_follower_fetch_state(p, 3, 100, 30, t0 + 5), -EIO);
	assert_int_equal(partition_low_watermark(p, &low), 0);
	assert_int_equal(low, 30);
	dead[3] = true;
	assert_int_equal(partition_low_watermark(p, &low), 0);
	assert_int_equal(low, 40);
	memset(dead, 0, sizeof(dead));
	partition_unref(p);
	elog_close(e);
}

/* Kafka's minOneMessage: a fetch whose max_bytes and partition_max_bytes
 * are 0 still gets the first batch, and only it. */
static void test_fetch_zero_limits(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct protofx_fetch f;
	struct proto_fetch_resp_part rp;
	struct partition_raw raw;
	struct net_client *c;

	(void)state;
	bk_start(&a, 1, "zero-limits");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 3, 1, "a");
	leader_append(&a, 3, 1, "b");
	assert_int_equal(a.ops->read_raw(a.log, 0, 6, 1, &raw), 0); /* the first batch */
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	protofx_fetch_init(&f, "orders", -1, -1, 0, -1, 0);
	f.part.partition_max_bytes = 0;
	f.req.max_bytes = 0;
	assert_int_equal(fetch_with(c, &f, &rp, NULL), 0);
	assert_true(raw.len > 0);
	assert_int_equal(rp.records_len, raw.len); /* one batch, whole */
	a.ops->raw_release(a.log, &raw);
	net_client_close(c);
	bk_stop(&a);
}

/* A consumer's Fetch below v10 of a topic whose compression.type is zstd
 * is UNSUPPORTED_COMPRESSION_TYPE (without offsets), as Kafka answers it;
 * v10 and later get the records, and so do old fetches of a topic that
 * keeps its producers' codecs. */
static void test_fetch_old_version_of_zstd_topic(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct protofx_fetch f;
	struct proto_fetch_resp_part rp;
	struct net_client *c;
	struct log_config lc;

	(void)state;
	use_engine = true;
	bk_start(&a, 1, "zstd-old-fetch");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 3, 1, "a");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	protofx_fetch_init(&f, "orders", -1, -1, 0, -1, 0);
	assert_int_equal(fetch_with_v(c, &f, 9, &rp, NULL), 0); /* compression.type=producer */
	assert_true(rp.records_len > 0);

	log_get_config(elog_log(a.e), &lc);
	lc.codec = BATCH_CODEC_ZSTD;
	assert_int_equal(log_reconfigure(elog_log(a.e), &lc), 0);
	assert_int_equal(fetch_with_v(c, &f, 9, &rp, NULL), PROTO_ERR_UNSUPPORTED_COMPRESSION_TYPE);
	assert_int_equal(rp.records_len, 0);
	assert_int_equal(rp.high_watermark, -1);
	assert_int_equal(fetch_with_v(c, &f, 4, &rp, NULL), PROTO_ERR_UNSUPPORTED_COMPRESSION_TYPE);
	assert_int_equal(fetch_with_v(c, &f, 10, &rp, NULL), 0);
	assert_true(rp.records_len > 0);
	assert_int_equal(rp.high_watermark, 3);
	net_client_close(c);
	bk_stop(&a);
	use_engine = false;
}

static void test_fetch_handler_rules(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 3, 1, 2);
	struct net_client *c;
	struct proto_fetch_resp_part r;
	pthread_t th;
	int64_t took;

	(void)state;
	bk_start(&a, 1, "rules");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	/* Not leader yet. */
	assert_int_equal(fetch_one(c, 2, -1, 0, -1, 0, &r, NULL), PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	tlog_append(a.t, 4, 2, "old");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 2, 3, "new"); /* epoch 3 from 4; LEO 6 */
	assert_int_equal(fetch_one(c, 2, 2, 0, -1, 0, &r, NULL), PROTO_ERR_FENCED_LEADER_EPOCH);
	assert_int_equal(fetch_one(c, 2, 4, 0, -1, 0, &r, NULL), PROTO_ERR_UNKNOWN_LEADER_EPOCH);
	assert_int_equal(fetch_one(c, 2, 3, 7, -1, 0, &r, NULL), PROTO_ERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(fetch_one(c, 9, 3, 0, -1, 0, &r, NULL), PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	/* A follower that thinks epoch 2 went on to offset 5: diverging. */
	assert_int_equal(fetch_one(c, 2, 3, 5, 2, 0, &r, NULL), 0);
	assert_true(r.has_diverging_epoch);
	assert_int_equal(r.diverging_epoch, 2);
	assert_int_equal(r.diverging_end_offset, 4);
	assert_int_equal(r.records_len, 0);
	/* Past our LEO in epoch 2: diverging too, the epoch looked at before
	 * the offset, as Kafka's Partition.readRecords. */
	assert_int_equal(fetch_one(c, 2, 3, 7, 2, 0, &r, NULL), 0);
	assert_true(r.has_diverging_epoch);
	assert_int_equal(r.diverging_epoch, 2);
	assert_int_equal(r.diverging_end_offset, 4);
	/* An epoch above our latest, 3: nothing here ends it (undefined),
	 * OFFSET_OUT_OF_RANGE as Kafka, not a divergence at our LEO. */
	assert_int_equal(fetch_one(c, 2, 3, 5, 4, 0, &r, NULL), PROTO_ERR_OFFSET_OUT_OF_RANGE);
	assert_false(r.has_diverging_epoch);
	/* A consumer's negative current_leader_epoch is none (Kafka's
	 * FetchRequest), where OffsetForLeaderEpoch fences -2. */
	assert_int_equal(fetch_one(c, -1, -2, 0, -1, 0, &r, NULL), 0);
	/* The hw is 6 (alone in the ISR); a consumer sees up to it, a
	 * follower fetch records all of it. */
	assert_int_equal(fetch_one(c, -1, 3, 0, -1, 0, &r, NULL), 0);
	assert_int_equal(r.high_watermark, 6);
	assert_int_equal(r.records_len, tlog_pos_of(a.t, 6));
	/* Follower 2 at 6, nothing new: parked until the append. */
	assert_int_equal(pthread_create(&th, NULL, append_when_parked, &a), 0);
	assert_int_equal(fetch_one(c, 2, 3, 6, 3, 10000, &r, &took), 0);
	pthread_join(th, NULL);
	assert_true(r.records_len > 0);
	assert_true(took < 10000);
	/* Now 2 is in the ISR (it fetched at the LEO, epoch start 4). */
	assert_int_equal(isr_size(a.p), 2);
	/* Its fetch at 7 moves the hw to 7, above the 6 it was told: answered
	 * at once, no records. */
	assert_int_equal(fetch_one(c, 2, 3, 7, 3, 10000, &r, &took), 0);
	assert_int_equal(r.records_len, 0);
	assert_int_equal(r.high_watermark, 7);
	assert_true(took < 10000);
	/* Nothing new again: answered empty at max_wait_ms. */
	assert_int_equal(fetch_one(c, 2, 3, 7, 3, 100, &r, &took), 0);
	assert_int_equal(r.records_len, 0);
	assert_true(took >= 100);
	assert_int_equal(fetch_serve_parked(a.fs), 0);
	net_client_close(c);
	bk_stop(&a);
}

/* A follower checks a client's current_leader_epoch against the epoch it
 * follows before it says it does not lead, as Kafka's Partition.getLocalLog:
 * a client that missed a leader change is fenced, one ahead of the
 * broker's news told to retry here (UNKNOWN_LEADER_EPOCH); in the same
 * epoch, or with none, a consumer's Fetch v11+ is served by the follower
 * (KIP-392) and a follower's is NOT_LEADER_OR_FOLLOWER. */
static void test_fetch_follower_epoch_checked_first(void **state)
{
	struct bk a;
	struct partition_state st = state2(2, 5, 2, 1);
	struct net_client *c;
	struct proto_fetch_resp_part r;

	(void)state;
	bk_start(&a, 1, "follower-epoch");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	/* No role yet: no epoch to compare. */
	assert_int_equal(fetch_one(c, -1, 4, 0, -1, 0, &r, NULL), PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	assert_int_equal(partition_make_follower(a.p, &st), 1);
	assert_int_equal(fetch_one(c, -1, 4, 0, -1, 0, &r, NULL), PROTO_ERR_FENCED_LEADER_EPOCH);
	assert_int_equal(fetch_one(c, -1, 6, 0, -1, 0, &r, NULL), PROTO_ERR_UNKNOWN_LEADER_EPOCH);
	assert_int_equal(fetch_one(c, -1, 5, 0, -1, 0, &r, NULL), 0);
	assert_int_equal(fetch_one(c, -1, -1, 0, -1, 0, &r, NULL), 0);
	assert_int_equal(fetch_one(c, 3, 4, 0, -1, 0, &r, NULL), PROTO_ERR_FENCED_LEADER_EPOCH);
	assert_int_equal(fetch_one(c, 3, 5, 0, -1, 0, &r, NULL), PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	net_client_close(c);
	bk_stop(&a);
}

/* A partition named more than once in one Fetch is read and answered
 * once, as its last entry asks (Kafka keeps a Fetch's partitions in a
 * map): here two entries in one topic entry and a third in another entry
 * of the same topic, whose fetch_offset is the one served. */
static void test_fetch_partition_named_twice(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct proto_fetch_part parts[3];
	struct proto_fetch_topic topics[2];
	struct protofx_fetch f;
	struct proto_fetch_resp fr;
	struct net_client *c;
	struct net_resp resp;
	uint64_t base = 0;

	(void)state;
	bk_start(&a, 1, "named-twice");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	for (int i = 0; i < 3; i++)
		leader_append(&a, 2, 1, "r"); /* batches at 0, 2 and 4 */
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	protofx_fetch_init(&f, "orders", -1, -1, 0, -1, 0);
	for (int i = 0; i < 3; i++) {
		parts[i] = f.part;
		parts[i].fetch_offset = 2 * i;
	}
	topics[0] = (struct proto_fetch_topic){ kstr_of("orders"), 2, &parts[0] };
	topics[1] = (struct proto_fetch_topic){ kstr_of("orders"), 1, &parts[2] };
	f.req.n_topics = 2;
	f.req.topics = topics;
	fetch_call(c, &f.req, 12, &resp, &fr);
	assert_int_equal(fr.n_topics, 1);
	assert_int_equal(fr.topics[0].n_partitions, 1);
	assert_int_equal(fr.topics[0].partitions[0].error_code, 0);
	assert_true(fr.topics[0].partitions[0].records_len >= 8);
	for (int i = 0; i < 8; i++)
		base = base << 8 | fr.topics[0].partitions[0].records[i];
	assert_int_equal(base, 4);
	proto_fetch_resp_free(&fr);
	net_resp_free(&resp);
	net_client_close(c);
	bk_stop(&a);
}

/* A Fetch with an isolation level Kafka does not define (2) that reads a
 * partition is Kafka's error response (IsolationLevel.forId throws in
 * handleFetchRequest): UNKNOWN_SERVER_ERROR at the top and for every
 * entry as sent (a partition named twice, an unknown topic), -1 offsets,
 * null records, the request's session id, from a consumer or a follower,
 * and the connection stays open. With no partition to read (only an
 * unknown topic) the partitions' own errors are answered. Before, the
 * connection was closed as malformed. */
static void test_fetch_isolation_level(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct proto_fetch_part parts[3];
	struct proto_fetch_topic topics[2];
	static const struct {
		int16_t v;
		int32_t replica;
		int8_t level;
		bool orders; /* the request names orders-0 twice */
		int16_t top, err;
	} cases[] = {
		{ 12, -1, 2, true, PROTO_ERR_UNKNOWN_SERVER_ERROR, PROTO_ERR_UNKNOWN_SERVER_ERROR },
		{ 4, -1, -3, true, 0, PROTO_ERR_UNKNOWN_SERVER_ERROR },
		{ 12, 2, 2, true, PROTO_ERR_UNKNOWN_SERVER_ERROR, PROTO_ERR_UNKNOWN_SERVER_ERROR },
		{ 12, -1, 2, false, 0, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION },
		{ 12, -1, 1, true, 0, 0 },
	};
	struct net_client *c;

	(void)state;
	bk_start(&a, 1, "fetch-isolation");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 2, 1, "r");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct protofx_fetch f;
		struct proto_fetch_resp fr;
		struct net_resp resp;
		int n = 0;

		protofx_fetch_init(&f, "orders", cases[i].replica, -1, 0, -1, 0);
		parts[0] = parts[1] = parts[2] = f.part;
		parts[2].partition = 7;
		topics[0] = (struct proto_fetch_topic){ kstr_of("orders"), 2, &parts[0] };
		topics[1] = (struct proto_fetch_topic){ kstr_of("nosuch"), 1, &parts[2] };
		f.req.isolation_level = cases[i].level;
		f.req.n_topics = cases[i].orders ? 2 : 1;
		f.req.topics = cases[i].orders ? topics : &topics[1];
		fetch_call(c, &f.req, cases[i].v, &resp, &fr);
		if (fr.error_code != cases[i].top)
			fail_msg("case %zu: top error %d, want %d", i, fr.error_code, cases[i].top);
		assert_int_equal(fr.session_id, 0);
		for (int32_t t = 0; t < fr.n_topics; t++)
			for (int32_t j = 0; j < fr.topics[t].n_partitions; j++, n++) {
				const struct proto_fetch_resp_part *rp =
					&fr.topics[t].partitions[j];
				int16_t want = cases[i].err;

				/* A read's answer: orders-0 once, nosuch's own error. */
				if (!cases[i].err && t == 1)
					want = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				if (rp->error_code != want)
					fail_msg("case %zu: entry %d error %d, want %d", i, n,
						 rp->error_code, want);
				if (cases[i].err == PROTO_ERR_UNKNOWN_SERVER_ERROR) {
					assert_int_equal(rp->high_watermark, -1);
					assert_int_equal(rp->records_len, -1);
				}
			}
		assert_int_equal(n, !cases[i].orders ? 1 : cases[i].err ? 3 : 2);
		proto_fetch_resp_free(&fr);
		net_resp_free(&resp);
	}
	net_client_close(c);
	bk_stop(&a);
}

/* A follower's fetch parked at the LEO. */
struct parked_fetch {
	struct bk *b;
	int32_t replica;
	int64_t offset;
	struct proto_fetch_resp_part r;
	int64_t took;
};

static void *fetch_parked(void *arg)
{
	struct parked_fetch *pf = arg;
	struct net_client *c;

	assert_int_equal(net_client_connect("127.0.0.1", pf->b->port, DEADLINE_MS, &c), 0);
	assert_int_equal(fetch_one(c, pf->replica, 3, pf->offset, 3, 20000, &pf->r, &pf->took), 0);
	net_client_close(c);
	return NULL;
}

/* A negative partition_max_bytes bounds nothing: refused where there are
 * records to read (Kafka's LogSegment.read throws, UNKNOWN_SERVER_ERROR),
 * not a whole segment's range sent; at the end, nothing to read, no error. */
static void test_fetch_negative_partition_max_bytes(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct protofx_fetch f;
	struct proto_fetch_resp_part r;
	struct net_client *c;

	(void)state;
	bk_start(&a, 1, "negative-max");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 3, 1, "r");
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	protofx_fetch_init(&f, "orders", -1, -1, 0, -1, 0);
	f.part.partition_max_bytes = -1;
	assert_int_equal(fetch_with(c, &f, &r, NULL), PROTO_ERR_UNKNOWN_SERVER_ERROR);
	assert_int_equal(r.records_len, 0);
	assert_int_equal(r.high_watermark, 3);
	f.part.fetch_offset = 3;
	assert_int_equal(fetch_with(c, &f, &r, NULL), 0);
	assert_int_equal(r.records_len, 0);
	net_client_close(c);
	bk_stop(&a);
}

/* A consumer's fetch waits for min_bytes of records (Kafka's DelayedFetch):
 * one small record there at its arrival does not answer it (it parks), the
 * records that bring the total to min_bytes do, and all of them come. */
struct min_bytes_fetch {
	struct bk *b;
	struct proto_fetch_resp_part r;
	int16_t err;
	int32_t min_bytes; /* 0: 1000 */
};

static void *fetch_min_bytes(void *arg)
{
	struct min_bytes_fetch *mf = arg;
	struct net_client *c;
	struct protofx_fetch f;

	assert_int_equal(net_client_connect("127.0.0.1", mf->b->port, DEADLINE_MS, &c), 0);
	protofx_fetch_init(&f, "orders", -1, -1, 0, -1, 60000);
	f.req.min_bytes = mf->min_bytes ? mf->min_bytes : 1000;
	mf->err = fetch_with(c, &f, &mf->r, NULL);
	net_client_close(c);
	return NULL;
}

static void test_fetch_waits_for_min_bytes(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct min_bytes_fetch mf = { .b = &a };
	pthread_t th;

	(void)state;
	bk_start(&a, 1, "min-bytes");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 1, 1, "small");
	assert_true(tlog_pos_of(a.t, 1) < 1000);
	assert_int_equal(pthread_create(&th, NULL, fetch_min_bytes, &mf), 0);
	wait_parked(a.fs, 1);
	leader_append(&a, 200, 1, "many");
	assert_true(tlog_pos_of(a.t, 201) >= 1000);
	pthread_join(th, NULL);
	assert_int_equal(mf.err, 0);
	assert_int_equal(mf.r.records_len, tlog_pos_of(a.t, 201));
	assert_int_equal(fetch_serve_parked(a.fs), 0);
	bk_stop(&a);
}

/* A fetch parked for min_bytes measures only what came since its last
 * measure: thirty one-record appends, each seen by a scan of the
 * purgatory, make it read each batch about once (counting from its fetch
 * offset at every wake-up read 1 + 2 + ... + 30 = 465), and the records
 * that reach min_bytes still answer it with all of them. */
static void test_fetch_min_bytes_counts_once(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct min_bytes_fetch mf = { .b = &a, .min_bytes = 8000 };
	pthread_t th;
	int64_t read0;

	(void)state;
	bk_start(&a, 1, "min-bytes-once");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 1, 1, "first");
	assert_int_equal(pthread_create(&th, NULL, fetch_min_bytes, &mf), 0);
	wait_parked(a.fs, 1);
	read0 = tlog_batches_read(a.t);
	for (int i = 0; i < 30; i++) {
		int64_t scans = fetch_serve_scans(a.fs), end = now_mono_ms() + DEADLINE_MS;

		leader_append(&a, 1, 1, "one");
		while (fetch_serve_scans(a.fs) == scans && now_mono_ms() < end)
			usleep(1000);
		assert_true(fetch_serve_scans(a.fs) > scans);
	}
	assert_true(tlog_pos_of(a.t, 31) < 8000);
	assert_int_equal(fetch_serve_parked(a.fs), 1);
	assert_true(tlog_batches_read(a.t) - read0 <= 2 * 30);
	leader_append(&a, 1000, 1, "many");
	assert_true(tlog_pos_of(a.t, 1031) >= 8000);
	pthread_join(th, NULL);
	assert_int_equal(mf.err, 0);
	assert_int_equal(mf.r.records_len, tlog_pos_of(a.t, 1031));
	bk_stop(&a);
}

/* The purgatory's rule for followers: a parked fetch is answered when the
 * hw moves above the one its follower was last told, records or not. Two
 * followers fetch a record; the first one back parks at the LEO (the hw
 * has not moved: the other lacks the record); the second one's fetch moves
 * the hw. Both learn the new hw at once, not with the next record or at
 * max_wait_ms (20 s here). */
static void test_fetch_hw_wakes_follower(void **state)
{
	struct bk a;
	struct partition_state st = state3(1, 3, 3);
	struct net_client *c;
	struct proto_fetch_resp_part r;
	struct parked_fetch pf = { .b = &a, .replica = 2, .offset = 4 };
	pthread_t th;
	int64_t took;

	(void)state;
	bk_start(&a, 1, "hwwake");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	leader_append(&a, 4, 3, "r"); /* LEO 4, hw 0: 2 and 3 lack them */
	assert_int_equal(fetch_one(c, 2, 3, 0, -1, 0, &r, NULL), 0);
	assert_int_equal(r.high_watermark, 0);
	assert_int_equal(fetch_one(c, 3, 3, 0, -1, 0, &r, NULL), 0);
	assert_int_equal(r.high_watermark, 0);
	assert_true(r.records_len > 0);
	/* 2 at the LEO: the hw stays 0 (3 is at 0), nothing to tell: parked. */
	assert_int_equal(pthread_create(&th, NULL, fetch_parked, &pf), 0);
	wait_parked(a.fs, 1);
	/* 3 at the LEO moves the hw to 4: its own fetch is answered at once. */
	assert_int_equal(fetch_one(c, 3, 3, 4, 3, 20000, &r, &took), 0);
	assert_int_equal(r.high_watermark, 4);
	assert_int_equal(r.records_len, 0);
	assert_true(took < 20000);
	/* And the parked one of 2 is woken by the move. */
	pthread_join(th, NULL);
	assert_int_equal(pf.r.error_code, 0);
	assert_int_equal(pf.r.high_watermark, 4);
	assert_int_equal(pf.r.records_len, 0);
	assert_true(pf.took < 20000);
	/* Told: the next fetch without news waits its max_wait_ms. */
	assert_int_equal(fetch_one(c, 2, 3, 4, 3, 100, &r, &took), 0);
	assert_true(took >= 100);
	assert_int_equal(fetch_serve_parked(a.fs), 0);
	net_client_close(c);
	bk_stop(&a);
}

/* Appends one record once n fetches are parked. */
struct append_at {
	struct bk *b;
	int n;
};

static void *append_when_n_parked(void *arg)
{
	struct append_at *aa = arg;

	wait_parked(aa->b->fs, aa->n);
	leader_append(aa->b, 1, 3, "next");
	return NULL;
}

/* Moves the purgatory's clock past the hw linger once a fetch is parked. */
static void *linger_passes(void *arg)
{
	struct bk *b = arg;

	wait_parked(b->fs, 1);
	atomic_fetch_add(&test_clock_ms, 1000);
	return NULL;
}

/* The hw linger: after a response of big records (a stream of big writes)
 * a follower's fetch whose only news is the hw waits for the next records
 * and takes them with the hw, one response instead of two; with no
 * records it goes out when the linger ends, long before max_wait_ms. The
 * purgatory's clock moves only when the test moves it, so nothing here
 * depends on how fast the machine is. */
static void test_fetch_hw_linger(void **state)
{
	struct bk a;
	struct partition_state st = state3(1, 3, 3);
	struct net_client *c;
	struct proto_fetch_resp_part r;
	struct parked_fetch pf = { .b = &a, .replica = 2 };
	struct append_at aa = { .b = &a, .n = 2 };
	pthread_t th, ta;
	int64_t leo;

	(void)state;
	bk_clock = test_clock;
	bk_start(&a, 1, "linger");
	bk_clock = NULL;
	assert_int_equal(partition_make_leader(a.p, &st, test_clock()), 1);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	for (int i = 0; i < 8; i++)
		leader_append(&a, 1000, 3, "big");
	leo = leo_of(&a); /* 8000, hw 0 */
	assert_int_equal(fetch_one(c, 2, 3, 0, -1, 0, &r, NULL), 0);
	assert_true(r.records_len >= 64 << 10);
	assert_int_equal(fetch_one(c, 3, 3, 0, -1, 0, &r, NULL), 0);
	assert_true(r.records_len >= 64 << 10);
	/* 2 at the LEO parks (3 lacks the records: no hw news); 3 at the
	 * LEO moves the hw. Both then have news of the hw only, and wait
	 * for the next record, which comes with it. */
	pf.offset = leo;
	assert_int_equal(pthread_create(&th, NULL, fetch_parked, &pf), 0);
	assert_int_equal(pthread_create(&ta, NULL, append_when_n_parked, &aa), 0);
	while (fetch_serve_parked(a.fs) == 0)
		usleep(1000);
	assert_int_equal(fetch_one(c, 3, 3, leo, 3, 20000, &r, NULL), 0);
	pthread_join(ta, NULL);
	pthread_join(th, NULL);
	assert_int_equal(r.high_watermark, leo);
	assert_true(r.records_len > 0);
	assert_int_equal(pf.r.error_code, 0);
	assert_int_equal(pf.r.high_watermark, leo);
	assert_true(pf.r.records_len > 0);
	/* Big records again; 2 reports them first, 3 then moves the hw past
	 * what 2 was told; 2's news of the hw alone goes out at the end of
	 * the linger, with no records. */
	for (int i = 0; i < 8; i++)
		leader_append(&a, 1000, 3, "big");
	assert_int_equal(fetch_one(c, 2, 3, leo + 1, 3, 0, &r, NULL), 0);
	assert_true(r.records_len >= 64 << 10);
	assert_int_equal(r.high_watermark, leo);
	assert_int_equal(fetch_one(c, 3, 3, leo + 1, 3, 0, &r, NULL), 0);
	assert_int_equal(r.high_watermark, leo + 1);
	assert_int_equal(pthread_create(&th, NULL, linger_passes, &a), 0);
	assert_int_equal(fetch_one(c, 2, 3, leo_of(&a), 3, 20000, &r, NULL), 0);
	pthread_join(th, NULL);
	assert_int_equal(r.records_len, 0);
	assert_int_equal(r.high_watermark, leo + 1);
	assert_int_equal(fetch_serve_parked(a.fs), 0);
	net_client_close(c);
	bk_stop(&a);
}

/* A follower's fetch parked with max_wait_ms 1000, from its own thread. */
struct late_fetch {
	struct bk *b;
	int64_t offset;
	struct proto_fetch_resp_part r;
};

static void *fetch_parked_1s(void *arg)
{
	struct late_fetch *lf = arg;
	struct net_client *c;

	assert_int_equal(net_client_connect("127.0.0.1", lf->b->port, DEADLINE_MS, &c), 0);
	assert_int_equal(fetch_one(c, 2, 3, lf->offset, 3, 1000, &lf->r, NULL), 0);
	net_client_close(c);
	return NULL;
}

/* What stderr got from fd's capture (dup2'd over it): freed by the caller. */
static char *stderr_take(int saved, const char *path)
{
	char *buf = calloc(1, 1 << 16);
	FILE *f;

	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	f = fopen(path, "r");
	assert_non_null(f);
	if (fread(buf, 1, (1 << 16) - 1, f)) {
		/* NUL-terminated by calloc */
	}
	fclose(f);
	unlink(path);
	fputs(buf, stderr);
	return buf;
}

/* A follower fetch that stalled acks=all for request.timeout.ms in a
 * cluster run left no trace of where it was: a parked fetch answered
 * long past its deadline (FETCH_LATE_MS, 5 s) says so, with its peer,
 * replica, lateness, who answered it and its partitions; one answered
 * at its deadline says nothing. The purgatory's clock is the test's:
 * moving it past the deadline without a scan is what a stuck scan is. */
static void test_parked_fetch_late_logged(void **state)
{
	struct bk a;
	struct partition_state st = state3(1, 3, 3);
	struct net_client *c;
	struct proto_fetch_resp_part r;
	struct late_fetch lf = { .b = &a, .offset = 4 };
	char path[] = "/tmp/mqfs-test-partition-log.XXXXXX";
	int fd, saved;
	pthread_t th;
	char *log;

	(void)state;
	bk_clock = test_clock;
	bk_start(&a, 1, "late");
	bk_clock = NULL;
	assert_int_equal(partition_make_leader(a.p, &st, test_clock()), 1);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	leader_append(&a, 4, 3, "r"); /* LEO 4, hw 0 */
	assert_int_equal(fetch_one(c, 2, 3, 0, -1, 0, &r, NULL), 0);
	assert_int_equal(fetch_one(c, 3, 3, 0, -1, 0, &r, NULL), 0);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	dup2(fd, 2);
	close(fd);
	/* 2 at the LEO, 3 still at 0: no news for 2, parked; answered at
	 * its deadline: not late. */
	assert_int_equal(pthread_create(&th, NULL, fetch_parked_1s, &lf), 0);
	wait_parked(a.fs, 1);
	atomic_fetch_add(&test_clock_ms, 1000);
	pthread_join(th, NULL);
	assert_int_equal(lf.r.records_len, 0);
	/* Parked again; no scan until 6 s past its deadline. */
	assert_int_equal(pthread_create(&th, NULL, fetch_parked_1s, &lf), 0);
	wait_parked(a.fs, 1);
	atomic_fetch_add(&test_clock_ms, 7000);
	pthread_join(th, NULL);
	log = stderr_take(saved, path);
	assert_non_null(strstr(log, "Fetch from 127.0.0.1:"));
	assert_non_null(strstr(log, "(replica 2) answered 6000 ms past its max_wait_ms of 1000 by "
				    "the purgatory's thread"));
	assert_non_null(strstr(log, "partitions orders-0 (1)"));
	assert_null(strstr(strstr(log, "answered") + 1, "answered")); /* only the late one */
	free(log);
	net_client_close(c);
	bk_stop(&a);
}

/* The purgatory's thread sleeps while nothing happens: appends with no
 * fetch parked do not wake it, and a follower's fetch parked for 20 s
 * costs no wake-ups of it (it used to look every 10 ms).
 * A fetch parked later with an earlier deadline (a consumer's, 100 ms)
 * is still answered at its own deadline, and an append still wakes the
 * follower's. */
/* Whether fetch_serve_asleep(b's purgatory) became want within
 * DEADLINE_MS. */
static bool poll_purgatory_asleep(struct bk *b, bool want)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (fetch_serve_asleep(b->fs) != want && now_mono_ms() < end)
		usleep(1000);
	return fetch_serve_asleep(b->fs) == want;
}

static void test_purgatory_sleeps(void **state)
{
	struct bk a;
	struct partition_state st = state3(1, 3, 3);
	struct net_client *c;
	struct proto_fetch_resp_part r;
	struct parked_fetch pf = { .b = &a, .replica = 2, .offset = 4 };
	pthread_t th;
	int64_t took, scans;

	(void)state;
	bk_start(&a, 1, "sleeps");
	/* Nothing parked: after an idle tick the thread sleeps without a
	 * deadline (no wake-up at rest). */
	assert_true(poll_purgatory_asleep(&a, true));
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	scans = fetch_serve_scans(a.fs);
	leader_append(&a, 2, 3, "r");
	leader_append(&a, 2, 3, "r"); /* LEO 4, hw 0 */
	usleep(50 * 1000);
	assert_true(fetch_serve_scans(a.fs) - scans <= 1); /* an idle tick at most */
	assert_int_equal(fetch_one(c, 2, 3, 0, -1, 0, &r, NULL), 0);
	assert_int_equal(fetch_one(c, 3, 3, 0, -1, 0, &r, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, fetch_parked, &pf), 0);
	wait_parked(a.fs, 1);
	/* The park woke it: it sleeps until the fetch's deadline now. */
	assert_true(poll_purgatory_asleep(&a, false));
	scans = fetch_serve_scans(a.fs);
	usleep(200 * 1000);
	assert_true(fetch_serve_scans(a.fs) - scans <= 2);
	/* A consumer at the hw (0): nothing to read, parked for 100 ms. */
	assert_int_equal(fetch_one(c, -1, 3, 0, -1, 100, &r, &took), 0);
	assert_int_equal(r.records_len, 0);
	assert_true(took >= 100);
	assert_true(took < DEADLINE_MS);
	leader_append(&a, 1, 3, "late");
	pthread_join(th, NULL);
	assert_int_equal(pf.r.error_code, 0);
	assert_true(pf.r.records_len > 0);
	assert_true(pf.took < 20000);
	/* Everything answered: asleep again. */
	assert_true(poll_purgatory_asleep(&a, true));
	net_client_close(c);
	bk_stop(&a);
}

/* fetch_serve_kick answers a parked fetch on the caller's thread: with
 * the log's listener muted, the purgatory's thread learns nothing of the
 * append and would hold the follower's fetch for its 20 s; the kick after
 * the append (what the produce path does) sends the records at once. */
static void test_kick_answers_parked_fetch(void **state)
{
	struct bk a;
	struct partition_state st = state3(1, 3, 3);
	struct net_client *c;
	struct proto_fetch_resp_part r;
	struct parked_fetch pf = { .b = &a, .replica = 2, .offset = 4 };
	pthread_t th;

	(void)state;
	bk_start(&a, 1, "kick");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	leader_append(&a, 4, 3, "r"); /* LEO 4, hw 0 */
	assert_int_equal(fetch_one(c, 2, 3, 0, -1, 0, &r, NULL), 0);
	assert_int_equal(fetch_one(c, 3, 3, 0, -1, 0, &r, NULL), 0);
	/* 2 at the LEO, 3 still at 0: no news for 2, parked. */
	assert_int_equal(pthread_create(&th, NULL, fetch_parked, &pf), 0);
	wait_parked(a.fs, 1);
	fetch_serve_kick(a.fs); /* nothing new: it stays */
	assert_int_equal(fetch_serve_parked(a.fs), 1);
	a.mute = true;
	leader_append(&a, 1, 3, "kicked");
	fetch_serve_kick(a.fs);
	assert_int_equal(fetch_serve_parked(a.fs), 0);
	pthread_join(th, NULL);
	assert_int_equal(pf.r.error_code, 0);
	assert_true(pf.r.records_len > 0);
	assert_true(pf.took < 20000);
	a.mute = false;
	net_client_close(c);
	bk_stop(&a);
}

/* b follows a for orders-0 (st), its empty Fetch parked at a for 30 s. */
static void follow_parked(struct bk *a, struct bk *b, const struct partition_state *st)
{
	assert_int_equal(partition_make_leader(a->p, st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b->p, st), 1);
	bk_follow_wait(b, a, false, 30000, 30000);
	wait_parked(a->fs, 1);
}

/* A follower that goes (its fetcher stopped: the connection closes) while
 * its Fetch is parked at the leader for 30 s: the leader answers it at
 * once, not at its deadline, and drops what it held. */
static void test_parked_fetch_of_gone_connection_answered(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 2, 2);
	int64_t end;

	(void)state;
	bk_start(&a, 1, "gone-a");
	bk_start(&b, 2, "gone-b");
	follow_parked(&a, &b, &st);
	fetcher_free(b.fetcher);
	b.fetcher = NULL;
	end = now_mono_ms() + 10000;
	while (fetch_serve_parked(a.fs) > 0 && now_mono_ms() < end)
		usleep(1000);
	assert_int_equal(fetch_serve_parked(a.fs), 0);
	bk_stop(&b);
	bk_stop(&a);
}

/* A partition added to a fetcher whose Fetch is parked at the leader (for
 * 20 s here) is fetched at once: the add pokes the request in flight,
 * which is given up with its connection, and the next round asks for the
 * new partition too (the leader answers it at once: it does not know it). */
static void test_fetcher_add_wakes_parked_fetch(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 2, 2);
	struct partition_config pc = { .broker_id = 2,
				       .replica_lag_time_max_ms = 30000,
				       .min_insync_replicas = 1 };
	struct fetcher_stats s0, s1;
	struct tlog *t2 = log_new("addwake-p1");
	struct partition *p2;
	int64_t end;

	(void)state;
	bk_start(&a, 1, "addwake-a");
	bk_start(&b, 2, "addwake-b");
	assert_int_equal(partition_new("orders", 1, &pc, &tlog_ops, t2, &p2), 0);
	assert_int_equal(partition_make_follower(p2, &st), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	bk_follow_wait(&b, &a, false, 20000, 50);
	leader_append(&a, 3, 1, "x");
	assert_true(synced(&a, &b, 2));
	/* Caught up and told the hw: its next Fetch parks. */
	wait_parked(a.fs, 1);
	fetcher_get_stats(b.fetcher, &s0);
	assert_int_equal(fetcher_add(b.fetcher, p2), 0);
	end = now_mono_ms() + 10000;
	do {
		usleep(1000);
		fetcher_get_stats(b.fetcher, &s1);
	} while (s1.fetches == s0.fetches && now_mono_ms() < end);
	assert_true(s1.fetches > s0.fetches);
	assert_int_equal(s1.connects, s0.connects + 1);
	assert_int_equal(s1.errors, s0.errors);
	bk_stop(&b);
	bk_stop(&a);
	partition_unref(p2);
	tlog_close(t2);
}

/* A follower refused by a leader that does not know yet that it leads
 * (NOT_LEADER_OR_FOLLOWER: the controller's LeaderAndIsr reaches the two
 * brokers in either order) asks again within moments, not after
 * replica.fetch.backoff.ms (20 s here), 10 ms apart: its Fetch,
 * or with old records of epoch 1 (old > 0), its OffsetForLeaderEpoch
 * first. Then the leader leads and the follower catches up. */
static void settling_leader(int old, const char *name_a, const char *name_b)
{
	struct bk a, b;
	struct partition_state st = state2(1, old ? 2 : 1, 2, 2);
	struct fetcher_stats s0;
	int64_t end, t0;

	bk_start(&a, 1, name_a);
	bk_start(&b, 2, name_b);
	if (old) {
		tlog_append(a.t, old, 1, "old");
		tlog_append(b.t, old, 1, "old");
	}
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	t0 = now_mono_ms();
	bk_follow_wait(&b, &a, false, 200, 20000);
	end = t0 + DEADLINE_MS;
	do {
		usleep(1000);
		fetcher_get_stats(b.fetcher, &s0);
	} while ((old ? s0.truncations : s0.fetches) < 4 && now_mono_ms() < end);
	/* Refused four times: retried soon, 10 ms apart (not a spin). */
	assert_true((old ? s0.truncations : s0.fetches) >= 4);
	assert_true(now_mono_ms() - t0 >= 30);
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 3, st.leader_epoch, "x");
	end = now_mono_ms() + 5000;
	while (leo_of(&b) < old + 3 && now_mono_ms() < end)
		usleep(1000);
	assert_int_equal(leo_of(&b), old + 3);
	bk_stop(&b);
	bk_stop(&a);
}

/* A second partition, orders-1, on a test-log broker, led by nobody yet. */
static void bk_add_p1(struct bk *b, const char *name)
{
	b->t1 = log_new(name);
	b->p1 = part_new_index(&tlog_ops, b->t1, b->id, 1, false, NULL);
	tlog_set_listener(b->t1, bk_wake, b);
}

/* A partition whose leader is still settling (it refuses the follower's
 * first fetch, NOT_LEADER_OR_FOLLOWER) while the follower's Fetch for
 * another partition of the same leader has nothing to fetch: that Fetch
 * waits at the leader only until the refused partition's retry, not its
 * replica.fetch.wait.max.ms (30 s here), so the settled partition's first
 * record arrives at once. It used to wait for the parked round, 500 ms
 * with the defaults, and a new topic's first acks=all write with it. */
static void test_fetcher_settling_partition_not_held_by_parked_fetch(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 2, 2);
	int64_t end;

	(void)state;
	bk_start(&a, 1, "hold-a");
	bk_start(&b, 2, "hold-b");
	bk_add_p1(&a, "hold-a1");
	bk_add_p1(&b, "hold-b1");
	follow_parked(&a, &b, &st); /* orders-0: nothing new */
	/* orders-1 joins: a does not lead it yet and refuses it. */
	assert_int_equal(partition_make_follower(b.p1, &st), 1);
	assert_int_equal(fetcher_add(b.fetcher, b.p1), 0);
	usleep(50 * 1000);
	assert_int_equal(partition_make_leader(a.p1, &st, now_mono_ms()), 1);
	assert_true(tlog_append(a.t1, 1, st.leader_epoch, "first") >= 0);
	end = now_mono_ms() + 10000;
	struct partition_offsets o = { 0 };
	while (now_mono_ms() < end) {
		tlog_ops.offsets(b.t1, &o);
		if (o.log_end_offset >= 1)
			break;
		usleep(1000);
	}
	assert_int_equal(o.log_end_offset, 1);
	bk_stop(&b);
	bk_stop(&a);
}

/* ---- incremental fetch sessions (KIP-227) through the handler ---- */

/* What a session Fetch was answered: the top error, the session id, and
 * each partition answered (orders-N: index, records' bytes, hw). */
struct sess_answer {
	int16_t error;
	int32_t session_id;
	int n;
	int32_t index[4];
	int32_t records_len[4];
	int64_t hw[4];
};

/* A consumer's Fetch v12 in session (id, epoch) of orders' partitions
 * parts[0..n) at offsets[] (n 0: none named), forgetting orders-forget
 * (-1: none). */
static void fetch_sess(struct net_client *c, int32_t id, int32_t epoch, int n, const int32_t *parts,
		       const int64_t *offsets, int32_t forget, int32_t max_wait,
		       struct sess_answer *out)
{
	struct protofx_fetch f;
	struct proto_fetch_part ps[4];
	struct proto_forgotten_topic fg = { kstr_of("orders"), 1, &forget };
	struct proto_fetch_resp fr;
	struct net_resp resp;

	protofx_fetch_init(&f, "orders", -1, -1, 0, -1, max_wait);
	for (int i = 0; i < n; i++) {
		ps[i] = f.part;
		ps[i].partition = parts[i];
		ps[i].fetch_offset = offsets[i];
	}
	f.topic.n_partitions = n;
	f.topic.partitions = ps;
	f.req.n_topics = n > 0;
	f.req.session_id = id;
	f.req.session_epoch = epoch;
	f.req.n_forgotten = forget >= 0;
	f.req.forgotten = &fg;
	fetch_call(c, &f.req, 12, &resp, &fr);
	memset(out, 0, sizeof(*out));
	out->error = fr.error_code;
	out->session_id = fr.session_id;
	for (int32_t t = 0; t < fr.n_topics; t++) {
		assert_true(kstr_eq(fr.topics[t].topic, "orders"));
		for (int32_t j = 0; j < fr.topics[t].n_partitions && out->n < 4; j++) {
			const struct proto_fetch_resp_part *rp = &fr.topics[t].partitions[j];

			assert_int_equal(rp->error_code, 0);
			out->index[out->n] = rp->partition_index;
			out->records_len[out->n] = rp->records_len;
			out->hw[out->n++] = rp->high_watermark;
		}
	}
	proto_fetch_resp_free(&fr);
	net_resp_free(&resp);
}

/* A full fetch with epoch 0 opens a session; an incremental one (the
 * session's id and next epoch) names only what changed and is answered
 * only the partitions with news (records, a new hw); a forgotten
 * partition is no longer read; a wrong epoch or an unknown id is the
 * session's error without partitions; epoch -1 closes the session. */
static void test_fetch_session_incremental(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct net_client *c;
	struct sess_answer r;
	const int32_t both[2] = { 0, 1 }, zero[1] = { 0 };
	const int64_t at0[2] = { 0, 0 };
	int64_t at[1];
	int32_t id;
	pthread_t th;

	(void)state;
	bk_start(&a, 1, "sess");
	bk_add_p1(&a, "sess1");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_leader(a.p1, &st, now_mono_ms()), 1);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	/* Sessionless (epoch -1): no session made. */
	fetch_sess(c, 0, -1, 2, both, at0, -1, 0, &r);
	assert_int_equal(r.session_id, 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(fetch_serve_sessions(a.fs), 0);
	/* Full, epoch 0: both answered, a session opened. */
	fetch_sess(c, 0, 0, 2, both, at0, -1, 0, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.n, 2);
	id = r.session_id;
	assert_true(id > 0);
	assert_int_equal(fetch_serve_sessions(a.fs), 1);
	/* Nothing new: answered without partitions. */
	fetch_sess(c, id, 1, 0, NULL, NULL, -1, 0, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.session_id, id);
	assert_int_equal(r.n, 0);
	/* Records in orders-0: only it, from the offset the session keeps. */
	leader_append(&a, 2, 1, "r");
	fetch_sess(c, id, 2, 0, NULL, NULL, -1, 0, &r);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.index[0], 0);
	assert_true(r.records_len[0] > 0);
	assert_int_equal(r.hw[0], 2);
	/* Its new offset named: nothing new. */
	at[0] = 2;
	fetch_sess(c, id, 3, 1, zero, at, -1, 0, &r);
	assert_int_equal(r.n, 0);
	/* A wrong epoch, an unknown id: the session's errors, no partitions,
	 * nothing changed (epoch 4 is still the one expected). */
	fetch_sess(c, id, 9, 0, NULL, NULL, -1, 0, &r);
	assert_int_equal(r.error, PROTO_ERR_INVALID_FETCH_SESSION_EPOCH);
	assert_int_equal(r.session_id, 0);
	assert_int_equal(r.n, 0);
	fetch_sess(c, id + 1, 4, 0, NULL, NULL, -1, 0, &r);
	assert_int_equal(r.error, PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND);
	/* orders-1 forgotten: its records are not read any more. */
	fetch_sess(c, id, 4, 0, NULL, NULL, 1, 0, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.n, 0);
	assert_true(tlog_append(a.t1, 1, 1, "x") >= 0);
	assert_true(partition_maybe_increment_leader_hw(a.p1, now_mono_ms()) >= 0);
	fetch_sess(c, id, 5, 0, NULL, NULL, -1, 0, &r);
	assert_int_equal(r.n, 0);
	/* Parked on the session's partitions though it names none: the
	 * append to orders-0 answers it. */
	assert_int_equal(pthread_create(&th, NULL, append_when_parked, &a), 0);
	fetch_sess(c, id, 6, 0, NULL, NULL, -1, 10000, &r);
	pthread_join(th, NULL);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.index[0], 0);
	assert_true(r.records_len[0] > 0);
	/* Epoch -1 closes it, the request served without a session. */
	fetch_sess(c, id, -1, 1, zero, at, -1, 0, &r);
	assert_int_equal(r.session_id, 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(fetch_serve_sessions(a.fs), 0);
	fetch_sess(c, id, 7, 0, NULL, NULL, -1, 0, &r);
	assert_int_equal(r.error, PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND);
	net_client_close(c);
	bk_stop(&a);
}

/* An incremental fetch with an isolation level Kafka does not define is
 * Kafka's error response (its getErrorResponse reads the request): an
 * UNKNOWN_SERVER_ERROR at the top and on each partition the request
 * named, not on its session's others; the session goes on at its next
 * epoch (the failed fetch took one, as Kafka's newContext does). */
static void test_fetch_session_bad_isolation(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 1, 1, 2);
	struct net_client *c;
	struct sess_answer r;
	const int32_t both[2] = { 0, 1 };
	const int64_t at0[2] = { 0, 0 };
	struct protofx_fetch f;
	struct proto_fetch_resp fr;
	struct net_resp resp;
	int32_t id;

	(void)state;
	bk_start(&a, 1, "sessiso");
	bk_add_p1(&a, "sessiso1");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_leader(a.p1, &st, now_mono_ms()), 1);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	fetch_sess(c, 0, 0, 2, both, at0, -1, 0, &r);
	id = r.session_id;
	assert_true(id > 0);
	/* orders-1 named (a new limit), isolation level 5. */
	protofx_fetch_init(&f, "orders", -1, -1, 0, -1, 0);
	f.part.partition = 1;
	f.part.partition_max_bytes = 1000;
	f.req.session_id = id;
	f.req.session_epoch = 1;
	f.req.isolation_level = 5;
	fetch_call(c, &f.req, 12, &resp, &fr);
	assert_int_equal(fr.error_code, PROTO_ERR_UNKNOWN_SERVER_ERROR);
	assert_int_equal(fr.session_id, id);
	assert_int_equal(fr.n_topics, 1);
	assert_int_equal(fr.topics[0].n_partitions, 1);
	assert_int_equal(fr.topics[0].partitions[0].partition_index, 1);
	assert_int_equal(fr.topics[0].partitions[0].error_code, PROTO_ERR_UNKNOWN_SERVER_ERROR);
	proto_fetch_resp_free(&fr);
	net_resp_free(&resp);
	fetch_sess(c, id, 2, 0, NULL, NULL, -1, 0, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.session_id, id);
	net_client_close(c);
	bk_stop(&a);
}

/* The follower's records of the fetcher's stats: incremental fetches. */
static int64_t incremental_of(struct bk *b)
{
	struct fetcher_stats st;

	fetcher_get_stats(b->fetcher, &st);
	return st.incremental;
}

/* Polls until b holds n records of orders-0 and n1 of orders-1. */
static void wait_leos(struct bk *b, int64_t n, int64_t n1)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;
	struct partition_offsets o1 = { 0 };

	while (now_mono_ms() < end) {
		tlog_ops.offsets(b->t1, &o1);
		if (leo_of(b) == n && o1.log_end_offset == n1)
			break;
		usleep(1000);
	}
	assert_int_equal(leo_of(b), n);
	assert_int_equal(o1.log_end_offset, n1);
}

/* Polls until b's fetcher made an incremental fetch after the first
 * `after`. */
static void wait_incremental(struct bk *b, int64_t after)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (incremental_of(b) <= after && now_mono_ms() < end)
		usleep(1000);
	assert_true(incremental_of(b) > after);
}

/* A follower fetches in a session (a full fetch, then incremental ones)
 * and replicates both partitions through it; when the leader's cache
 * (one slot) gives its session to a consumer, its next fetch is
 * FETCH_SESSION_ID_NOT_FOUND and it starts again with a full fetch, its
 * new session taking the consumer's place, and goes on replicating. */
static void test_fetcher_session(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 2, 2);
	struct net_client *c;
	struct sess_answer r;
	const int32_t zero[1] = { 0 };
	const int64_t at0[1] = { 0 };
	int32_t cid = 0;
	int64_t end, n;

	(void)state;
	bk_start(&a, 1, "fsess-a");
	bk_start(&b, 2, "fsess-b");
	bk_add_p1(&a, "fsess-a1");
	bk_add_p1(&b, "fsess-b1");
	/* Before any fetch: one slot, evictable once unused for 0 ms. */
	assert_int_equal(fetch_serve_set_sessions(a.fs, 1, 0), 0);
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_leader(a.p1, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	assert_int_equal(partition_make_follower(b.p1, &st), 1);
	bk_follow(&b, &a, false);
	assert_int_equal(fetcher_add(b.fetcher, b.p1), 0);
	leader_append(&a, 3, 1, "x");
	assert_true(tlog_append(a.t1, 2, 1, "y") >= 0);
	assert_true(partition_maybe_increment_leader_hw(a.p1, now_mono_ms()) >= 0);
	wait_leos(&b, 3, 2);
	wait_incremental(&b, 0);
	assert_int_equal(fetch_serve_sessions(a.fs), 1);
	/* A consumer's full fetch takes the slot (the follower's session is
	 * unused for a millisecond at least between two fetches). */
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	end = now_mono_ms() + DEADLINE_MS;
	while (cid == 0 && now_mono_ms() < end) {
		fetch_sess(c, 0, 0, 1, zero, at0, -1, 0, &r);
		cid = r.session_id;
		if (!cid)
			usleep(1000);
	}
	assert_true(cid > 0);
	/* The follower's session comes back in the consumer's place: the
	 * consumer's is gone (polled with its own incremental fetches). */
	end = now_mono_ms() + DEADLINE_MS;
	for (int32_t e = 1; now_mono_ms() < end; e++) {
		fetch_sess(c, cid, e, 0, NULL, NULL, -1, 0, &r);
		if (r.error == PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND)
			break;
		assert_int_equal(r.error, 0);
		usleep(1000);
	}
	assert_int_equal(r.error, PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND);
	n = incremental_of(&b);
	leader_append(&a, 2, 1, "z");
	wait_leos(&b, 5, 2);
	wait_incremental(&b, n);
	assert_int_equal(fetch_serve_sessions(a.fs), 1);
	assert_int_equal(leo_of(&b), 5);
	net_client_close(c);
	bk_stop(&b);
	bk_stop(&a);
}

/* Polls until fs's sessions hold parts partitions (-1: any) in sessions
 * sessions (-1: any), with parked fetches parked (-1: any). */
static void wait_sessions(struct fetch_serve *fs, int32_t parts, int32_t sessions, int parked)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (now_mono_ms() < end &&
	       ((parts >= 0 && fetch_serve_session_partitions(fs) != parts) ||
		(sessions >= 0 && fetch_serve_sessions(fs) != sessions) ||
		(parked >= 0 && fetch_serve_parked(fs) != parked)))
		usleep(1000);
	if (parts >= 0)
		assert_int_equal(fetch_serve_session_partitions(fs), parts);
	if (sessions >= 0)
		assert_int_equal(fetch_serve_sessions(fs), sessions);
	if (parked >= 0)
		assert_int_equal(fetch_serve_parked(fs), parked);
}

/* A follower whose round no longer fetches the first and the last of
 * its session's partitions (removed from its fetcher: their leader
 * moved), the middle one still fetched: its incremental Fetch forgets
 * both. The forgotten ones of a topic went out as one run of the
 * session's table, the middle one's slot in it (never written: orders-0
 * again) in place of orders-2, which the leader's session kept reading
 * with the follower's old position (its state there, news answered to a
 * fetcher that drops them). */
static void test_fetcher_session_forgets_around_a_kept_one(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 2, 2);
	struct tlog *at = log_new("forget-ax"), *bt = log_new("forget-bx");
	struct partition *a2 = part_new_index(&tlog_ops, at, 1, 2, false, NULL);
	struct partition *b2 = part_new_index(&tlog_ops, bt, 2, 2, false, NULL);

	(void)state;
	bk_start(&a, 1, "forget-a");
	bk_start(&b, 2, "forget-b");
	bk_add_p1(&a, "forget-a1");
	bk_add_p1(&b, "forget-b1");
	a.extra = &a2;
	a.n_extra = 1;
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_leader(a.p1, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_leader(a2, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	assert_int_equal(partition_make_follower(b.p1, &st), 1);
	assert_int_equal(partition_make_follower(b2, &st), 1);
	/* The session: orders-0, -1, -2, in that order. */
	bk_follow(&b, &a, false);
	assert_int_equal(fetcher_add(b.fetcher, b.p1), 0);
	assert_int_equal(fetcher_add(b.fetcher, b2), 0);
	wait_sessions(a.fs, 3, 1, -1);
	fetcher_remove(b.fetcher, b.p);
	fetcher_remove(b.fetcher, b2);
	wait_sessions(a.fs, 1, 1, -1);
	bk_stop(&b);
	bk_stop(&a);
	partition_unref(a2);
	partition_unref(b2);
	tlog_close(at);
	tlog_close(bt);
}

/* A follower's full Fetch parked at the leader (its session given up
 * after a partition joined its fetcher, which drops the Fetch in flight:
 * the next one is a full one), then given up with its connection (its
 * fetcher stopped): the leader answers it at once and opens no session,
 * whose id nobody would learn and whose slot would stay taken until
 * evicted. */
static void test_parked_full_fetch_of_gone_connection_opens_no_session(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 2, 2);

	(void)state;
	bk_start(&a, 1, "gonesess-a");
	bk_start(&b, 2, "gonesess-b");
	bk_add_p1(&b, "gonesess-b1");
	follow_parked(&a, &b, &st);
	/* Its full Fetch answered (the hw, news), the next one parked. */
	wait_sessions(a.fs, -1, 1, 1);
	/* A partition joins (one b does not follow: the round drops it):
	 * the Fetch in flight is dropped, the next is a full one, which
	 * closes the session and waits. */
	assert_int_equal(fetcher_add(b.fetcher, b.p1), 0);
	wait_sessions(a.fs, -1, 0, 1);
	fetcher_free(b.fetcher);
	b.fetcher = NULL;
	wait_sessions(a.fs, -1, -1, 0);
	assert_int_equal(fetch_serve_sessions(a.fs), 0);
	bk_stop(&b);
	bk_stop(&a);
}

/* Polls until b's fetcher made `more` incremental fetches after `after`
 * (the last of them was asked after the first was answered). */
static int64_t wait_incremental_n(struct bk *b, int64_t after, int64_t more)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (incremental_of(b) < after + more && now_mono_ms() < end)
		usleep(1000);
	assert_true(incremental_of(b) >= after + more);
	return incremental_of(b);
}

#define SWAP_OLD 1024 /* FETCHER_MAX_PARTS: a fetcher's whole list */
#define SWAP_NEW 64

/* The round in flight, if any, answered (within its 50 ms wait). */
static void swap_round_done(struct bk *b)
{
	struct fetcher_stats fst;
	int64_t fetches, end = now_mono_ms() + 1000;

	fetcher_get_stats(b->fetcher, &fst);
	fetches = fst.fetches;
	while (fst.fetches == fetches && now_mono_ms() < end) {
		usleep(1000);
		fetcher_get_stats(b->fetcher, &fst);
	}
}

/* One try of test_fetcher_session_swap: the fetcher's session holds the
 * old ones (bp[0..SWAP_OLD)), which all go, then the new ones come.
 * Whether the first Fetch after was an incremental one (the new ones
 * named, the old ones forgotten): a round that began before the last
 * add was given up by the next one (its poke) and its session closed. */
static bool swap_try(struct bk *b, struct partition **bp)
{
	struct fetcher_stats st0, st;
	int64_t end;

	for (int i = SWAP_OLD; i < SWAP_OLD + SWAP_NEW; i++)
		fetcher_remove(b->fetcher, bp[i]);
	for (int i = 0; i < SWAP_OLD; i++)
		assert_int_equal(fetcher_add(b->fetcher, bp[i]), 0);
	/* The session holds all the old ones: a Fetch asked after one that
	 * was answered after the last add. */
	wait_incremental_n(b, incremental_of(b), 2);
	/* The old ones go (no poke: the round in flight ends as it would);
	 * with none left the fetcher waits, its session kept. */
	for (int i = 0; i < SWAP_OLD; i++)
		fetcher_remove(b->fetcher, bp[i]);
	swap_round_done(b);
	fetcher_get_stats(b->fetcher, &st0);
	for (int i = SWAP_OLD; i < SWAP_OLD + SWAP_NEW; i++)
		assert_int_equal(fetcher_add(b->fetcher, bp[i]), 0);
	end = now_mono_ms() + DEADLINE_MS;
	do {
		usleep(1000);
		fetcher_get_stats(b->fetcher, &st);
	} while (st.fetches == st0.fetches && now_mono_ms() < end);
	assert_true(st.fetches > st0.fetches);
	return st.incremental - st0.incremental == st.fetches - st0.fetches;
}

/* A follower's session of a full fetcher's worth of partitions, all of
 * them then removed from the fetcher (their leader moved) and others
 * added before its next Fetch: that Fetch names the new ones and
 * forgets the old ones, and the session it keeps holds the new ones
 * only. Old and new together are more than a fetcher holds: they were
 * all written into the fetcher's session table before the forgotten
 * ones left it, past its end (ASan: heap-buffer-overflow). */
static void test_fetcher_session_swap(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 2, 2);
	int n = SWAP_OLD + SWAP_NEW, tries = 0;
	struct partition **ap = calloc((size_t)n, sizeof(*ap));
	struct partition **bp = calloc((size_t)n, sizeof(*bp));
	struct tlog *at = log_new("swap-ax"), *bt = log_new("swap-bx");

	(void)state;
	assert_non_null(ap);
	assert_non_null(bp);
	bk_start(&a, 1, "swap-a");
	bk_start(&b, 2, "swap-b");
	/* orders-2 on, empty (one empty log each side: nothing is ever
	 * appended), led by a, followed by b. */
	for (int i = 0; i < n; i++) {
		ap[i] = part_new_index(&tlog_ops, at, 1, 2 + i, false, NULL);
		bp[i] = part_new_index(&tlog_ops, bt, 2, 2 + i, false, NULL);
		assert_int_equal(partition_make_leader(ap[i], &st, now_mono_ms()), 1);
		assert_int_equal(partition_make_follower(bp[i], &st), 1);
	}
	a.extra = ap;
	a.n_extra = n;
	bk_follow_wait(&b, &a, true, 50, 50);
	fetcher_remove(b.fetcher, b.p); /* room for SWAP_OLD */
	/* Until the new ones' first Fetch is an incremental one (the adds
	 * raced with the fetcher's round otherwise). */
	while (!swap_try(&b, bp))
		assert_true(++tries < 50);
	/* The fetcher goes on in its session with the new ones. (A second
	 * session may be there: a full fetch the fetcher gave up, its
	 * connection closed while it was parked, opens one when its answer
	 * comes before the leader has seen the close, kept until eviction
	 * as Kafka keeps a session nobody uses; slow under ASan.) */
	wait_incremental_n(&b, incremental_of(&b), 3);
	assert_true(fetch_serve_sessions(a.fs) >= 1);
	fetcher_free(b.fetcher);
	b.fetcher = NULL;
	bk_stop(&b);
	bk_stop(&a);
	for (int i = 0; i < n; i++) {
		partition_unref(ap[i]);
		partition_unref(bp[i]);
	}
	tlog_close(at);
	tlog_close(bt);
	free(ap);
	free(bp);
}

/* The leader's log start inside a batch (DeleteRecords at 40 of one
 * batch of 100 records) and a follower with nothing: its fetch at 0 is
 * out of range and it resets to 40; the fetch at 40 brings the batch at 0
 * whole, with its line position, and the follower's log, empty, starts
 * again at 0 (as Kafka's follower does), takes the batch and follows the
 * leader's start to 40: in sync, and in the ISR. (Its append was refused,
 * EBADMSG, at every fetch, for ever: a new or wiped replica of such a
 * partition never caught up.) */
static void test_follower_start_inside_batch(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 1, 2);
	int64_t start;

	(void)state;
	use_engine = true;
	bk_start(&a, 1, "midbatch-a");
	bk_start(&b, 2, "midbatch-b");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	leader_append(&a, 100, 1, "r");
	assert_int_equal(a.ops->delete_records(a.log, 40, false, &start), 0);
	assert_int_equal(start_of(&a), 40);
	bk_follow(&b, &a, false);
	assert_true(synced(&a, &b, 2));
	assert_int_equal(start_of(&b), 40);
	/* The broker was told of the reset (its producer state rebuilt) and
	 * of the batch appended. */
	assert_int_equal(atomic_load(&b.cuts), 1);
	assert_int_equal(atomic_load(&b.appended_end), 100);
	assert_value_at(&b, 40, "r-40");
	assert_value_at(&b, 99, "r-99");
	bk_stop(&a);
	bk_stop(&b);
	use_engine = false;
}

/* A follower whose log is busy (a maintenance holds it: a clean, a
 * retention pass) when its leader's log start moves takes that start at
 * a later fetch, in a fetch session too, where the leader names an idle
 * partition again only with news of it: DeleteRecords waits for it. */
static void test_follower_start_after_busy(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 1, 2);
	struct net_client *ca;
	struct fetcher_stats fs;
	int64_t low, fetches, end;
	struct log *bl;

	(void)state;
	use_engine = true;
	bk_start(&a, 1, "busystart-a");
	bk_start(&b, 2, "busystart-b");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	for (int i = 0; i < 5; i++)
		leader_append(&a, 10, 1, "r");
	bk_follow(&b, &a, false);
	assert_true(synced(&a, &b, 2));
	wait_incremental(&b, 0);
	bl = elog_log(b.e);
	pthread_mutex_lock(&bl->maint_lock);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &ca), 0);
	assert_int_equal(delete_records(ca, 0, 20, 100, &low), PROTO_ERR_REQUEST_TIMED_OUT);
	assert_int_equal(start_of(&a), 20);
	/* Two fetches answered after the move: the first named the new
	 * start, which the busy log refused. */
	fetcher_get_stats(b.fetcher, &fs);
	fetches = fs.fetches;
	end = now_mono_ms() + DEADLINE_MS;
	while (fs.fetches < fetches + 2 && now_mono_ms() < end) {
		usleep(1000);
		fetcher_get_stats(b.fetcher, &fs);
	}
	assert_true(fs.fetches >= fetches + 2);
	assert_int_equal(start_of(&b), 0);
	pthread_mutex_unlock(&bl->maint_lock);
	end = now_mono_ms() + DEADLINE_MS;
	while (start_of(&b) != 20 && now_mono_ms() < end)
		usleep(1000);
	assert_int_equal(start_of(&b), 20);
	assert_int_equal(delete_records(ca, 0, 20, DEADLINE_MS, &low), 0);
	assert_int_equal(low, 20);
	net_client_close(ca);
	bk_stop(&a);
	bk_stop(&b);
	use_engine = false;
}

static void test_fetcher_retries_settling_leader_soon(void **state)
{
	(void)state;
	settling_leader(0, "settle-a", "settle-b");
}

static void test_fetcher_ofle_retries_settling_leader_soon(void **state)
{
	(void)state;
	settling_leader(2, "ofle-settle-a", "ofle-settle-b");
}

/* One OffsetForLeaderEpoch v of orders-0 to c, as replica 2: its one
 * partition's answer in *out. */
static void ofle_ask(struct net_client *c, int16_t v, int32_t current, int32_t epoch,
		     struct proto_ofle_resp_part *out)
{
	struct proto_ofle_part rp = { .partition = 0,
				      .current_leader_epoch = current,
				      .leader_epoch = epoch };
	struct proto_ofle_topic rt = { kstr_of("orders"), 1, &rp };
	struct proto_ofle_req rq = { .replica_id = 2, .n_topics = 1, .topics = &rt };
	struct proto_ofle_resp resp;
	struct net_resp nr;
	struct kbuf_w w;

	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_ofle_req_encode(&w, v, &rq), 0);
	assert_int_equal(net_client_call(c, PROTO_API_OFFSET_FOR_LEADER_EPOCH, v, w.buf, w.len, 0,
					 DEADLINE_MS, &nr),
			 0);
	kbuf_w_free(&w);
	assert_int_equal(proto_ofle_resp_decode(&nr.body, v, &resp), 0);
	assert_int_equal(resp.n_topics, 1);
	assert_int_equal(resp.topics[0].n_partitions, 1);
	*out = resp.topics[0].partitions[0];
	proto_ofle_resp_free(&resp);
	net_resp_free(&nr);
}

/* Handlers that hold a worker until released (as an acks=all write
 * waiting for a follower's fetch holds one). */
struct blocker {
	int in;      /* atomic: handlers holding a worker */
	int release; /* atomic */
	int port;
};

static int block_handler(void *arg, struct net_req *req)
{
	struct blocker *bl = arg;

	(void)req;
	__atomic_add_fetch(&bl->in, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&bl->release, __ATOMIC_SEQ_CST))
		usleep(1000);
	return -EIO; /* closes the connection: the client is done */
}

static void *heartbeat_call(void *arg)
{
	struct blocker *bl = arg;
	struct proto_heartbeat_req hb = { kstr_of("g"), 1, kstr_of("m"), KSTR_NULL };
	struct net_client *c;
	struct net_resp nr;
	struct kbuf_w w;

	assert_int_equal(net_client_connect("127.0.0.1", bl->port, DEADLINE_MS, &c), 0);
	kbuf_w_init(&w, 256);
	assert_int_equal(proto_heartbeat_req_encode(&w, 3, &hb), 0);
	if (net_client_call(c, PROTO_API_HEARTBEAT, 3, w.buf, w.len, 0, DEADLINE_MS, &nr) == 0)
		net_resp_free(&nr);
	kbuf_w_free(&w);
	net_client_close(c);
	return NULL;
}

/* A follower's OffsetForLeaderEpoch (its truncation before it fetches
 * again) and its ListOffsets of the log end (an out-of-range fetch
 * offset) are answered while every worker is held: they run on the
 * loop, as a follower's Fetch does. On a worker they waited behind
 * acks=all writes that waited for that follower's next fetch, which its
 * fetcher sends only after the answer: no follower fetched from the
 * leader until the writes gave up at request.timeout.ms (a cluster run's
 * 30 s stall of acks=all). */
static void test_follower_truncation_not_behind_workers(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 5, 1, 2);
	struct blocker bl = { 0 };
	struct net_client *c;
	struct proto_ofle_part rp = { .partition = 0,
				      .current_leader_epoch = 5,
				      .leader_epoch = 5 };
	struct proto_ofle_topic rt = { kstr_of("orders"), 1, &rp };
	struct proto_ofle_req rq = { .replica_id = 2, .n_topics = 1, .topics = &rt };
	struct proto_ofle_resp resp;
	struct net_resp nr;
	struct kbuf_w w;
	pthread_t th[2];
	int64_t end = -1;
	int16_t err = -1;
	int rc, lrc;

	(void)state;
	bk_start(&a, 1, "ofle-busy");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 2, 5, "r");
	/* The listener again, with a handler that holds its worker (two). */
	net_server_free(a.srv);
	replfx_listener_new(false, 0, bk_cred, &a, &a.srv);
	assert_int_equal(fetch_serve_register(a.fs, a.srv), 0);
	assert_int_equal(offsets_serve_register(&a.os, a.srv), 0);
	assert_int_equal(net_server_handle(a.srv, PROTO_API_HEARTBEAT, block_handler, &bl), 0);
	a.port = bl.port = replfx_listener_start(a.srv);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, heartbeat_call, &bl), 0);
	while (__atomic_load_n(&bl.in, __ATOMIC_SEQ_CST) < 2)
		usleep(1000);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_ofle_req_encode(&w, 4, &rq), 0);
	rc = net_client_call(c, PROTO_API_OFFSET_FOR_LEADER_EPOCH, 4, w.buf, w.len, 0, 3000, &nr);
	kbuf_w_free(&w);
	lrc = rc ? rc : net_client_list_latest(c, "orders", 0, 2, 5, 3000, &end, &err);
	__atomic_store_n(&bl.release, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(rc, 0);
	assert_int_equal(proto_ofle_resp_decode(&nr.body, 4, &resp), 0);
	assert_int_equal(resp.topics[0].partitions[0].error_code, 0);
	assert_int_equal(resp.topics[0].partitions[0].end_offset, 2);
	proto_ofle_resp_free(&resp);
	assert_int_equal(lrc, 0);
	assert_int_equal(err, 0);
	assert_int_equal(end, 2);
	net_resp_free(&nr);
	net_client_close(c);
	bk_stop(&a);
}

/* OffsetForLeaderEpoch as Kafka answers it (LeaderEpochFileCache.
 * endOffsetFor, Partition.lastOffsetForLeaderEpoch): the leader's cache
 * [1@0, 3@2, 5@5], LEO 6, leading in epoch 5. An epoch above the latest
 * is UNDEFINED (-1, -1), not the latest's end; a current_leader_epoch
 * other than -1 is checked (-2 is fenced, as Kafka reads only -1 as
 * none), before the leadership: a follower answers FENCED_LEADER_EPOCH
 * or UNKNOWN_LEADER_EPOCH to a wrong one, NOT_LEADER_OR_FOLLOWER to the
 * right one or none. */
static void ofle_handler(void)
{
	struct bk a, b;
	struct partition_state st = state2(1, 5, 1, 2);
	struct net_client *c, *cb;
	struct proto_ofle_resp_part r;
	static const struct {
		int16_t v;
		int32_t current, ask;
		int16_t err;
		int32_t epoch;
		int64_t end;
	} cases[] = {
		{ 4, 5, 1, 0, 1, 2 },   /* epoch 3 starts at 2 */
		{ 4, 5, 2, 0, 1, 2 },   /* no 2 here: 1's end */
		{ 4, 5, 4, 0, 3, 5 },   /* no 4 here: 3's end */
		{ 4, 5, 5, 0, 5, 6 },   /* the latest: the LEO */
		{ 4, 5, 6, 0, -1, -1 }, /* above the latest: undefined */
		{ 4, 5, 99, 0, -1, -1 },
		{ 4, 5, -1, 0, -1, -1 }, /* UNDEFINED_EPOCH */
		{ 4, 5, 0, 0, 0, 0 },    /* below the first: its start */
		{ 4, 5, -2, 0, -2, 0 },
		{ 4, -1, 6, 0, -1, -1 }, /* -1: no fencing */
		{ 4, 4, 1, PROTO_ERR_FENCED_LEADER_EPOCH, -1, -1 },
		{ 4, -2, 1, PROTO_ERR_FENCED_LEADER_EPOCH, -1, -1 },
		{ 4, 6, 1, PROTO_ERR_UNKNOWN_LEADER_EPOCH, -1, -1 },
		{ 2, 5, 6, 0, -1, -1 },
		{ 1, 4, 6, 0, -1, -1 }, /* no current_leader_epoch below v2 */
		{ 0, 4, 3, 0, -1, 5 },  /* v0 has no leader_epoch */
		{ 0, 4, 7, 0, -1, -1 },
	};

	bk_start(&a, 1, "ofle-a");
	bk_start(&b, 2, "ofle-b");
	bk_append(&a, 2, 1, "a");
	bk_append(&a, 3, 3, "b");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 1, 5, "c");
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	assert_int_equal(net_client_connect("127.0.0.1", b.port, DEADLINE_MS, &cb), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ofle_ask(c, cases[i].v, cases[i].current, cases[i].ask, &r);
		assert_int_equal(r.partition, 0);
		assert_int_equal(r.error_code, cases[i].err);
		assert_int_equal(r.leader_epoch, cases[i].epoch);
		assert_int_equal(r.end_offset, cases[i].end);
	}
	ofle_ask(cb, 4, 4, 5, &r);
	assert_int_equal(r.error_code, PROTO_ERR_FENCED_LEADER_EPOCH);
	ofle_ask(cb, 4, -2, 5, &r);
	assert_int_equal(r.error_code, PROTO_ERR_FENCED_LEADER_EPOCH);
	ofle_ask(cb, 4, 6, 5, &r);
	assert_int_equal(r.error_code, PROTO_ERR_UNKNOWN_LEADER_EPOCH);
	ofle_ask(cb, 4, 5, 5, &r);
	assert_int_equal(r.error_code, PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	assert_int_equal(r.leader_epoch, -1);
	assert_int_equal(r.end_offset, -1);
	ofle_ask(cb, 1, 5, 5, &r);
	assert_int_equal(r.error_code, PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	net_client_close(cb);
	net_client_close(c);
	bk_stop(&b);
	bk_stop(&a);
}

static void test_ofle_handler(void **state)
{
	(void)state;
	ofle_handler();
}

static void test_ofle_handler_engine(void **state)
{
	(void)state;
	on_engine(ofle_handler);
}

/* The fetcher authenticates with SCRAM-SHA-256 on a SASL listener; when
 * the leader's listener goes away it backs off, reconnects and goes on. */
static void test_e2e_sasl_and_reconnect(void **state)
{
	struct bk a, b;
	struct partition_state st = state2(1, 1, 1, 2);
	struct fetcher_stats fst;
	int port;

	(void)state;
	bk_start_as(&a, 1, "sasl-a", "broker");
	bk_start(&b, 2, "sasl-b");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	leader_append(&a, 3, 1, "a");
	bk_follow(&b, &a, false);
	assert_true(synced(&a, &b, 2));
	/* The listener goes; the leader appends meanwhile (2 is in the ISR:
	 * the hw waits for it). */
	port = a.port;
	fetch_serve_stop(a.fs);
	net_server_free(a.srv);
	leader_append(&a, 2, 1, "b");
	assert_int_equal(hw_of(a.p), 3);
	fetch_serve_free(a.fs);
	assert_int_equal(fetch_serve_new(bk_lookup, &a, NULL, &a.fs), 0);
	bk_listen(&a, port);
	assert_true(synced(&a, &b, 2));
	fetcher_get_stats(b.fetcher, &fst);
	assert_true(fst.connects >= 2);
	assert_true(fst.errors >= 1);
	assert_identical_below_hw(&a, &b);
	bk_stop(&b);
	bk_stop(&a);
}

/* On SASL, only the brokers' user fetches as a follower: another user's
 * fetch with a replica id gets TOPIC_AUTHORIZATION_FAILED and moves
 * nothing (its position would move the hw); as a consumer it reads. */
static void test_follower_fetch_needs_brokers_user(void **state)
{
	struct bk a;
	struct partition_state st = state2(1, 3, 2, 2);
	struct proto_fetch_resp_part r;
	struct net_client *c;

	(void)state;
	bk_start_as(&a, 1, "auth-a", "broker");
	fetch_serve_set_replica_user(a.fs, "broker");
	assert_int_equal(partition_make_leader(a.p, &st, now_mono_ms()), 1);
	leader_append(&a, 3, 3, "a");
	assert_int_equal(hw_of(a.p), 0); /* 2 is in the ISR and has nothing */
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	assert_int_equal(net_client_sasl(c, SASL_SHA_256, "alice", "s3cret", DEADLINE_MS), 0);
	assert_int_equal(fetch_one(c, 2, 3, 3, 3, 0, &r, NULL),
			 PROTO_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_int_equal(r.high_watermark, -1);
	assert_int_equal(hw_of(a.p), 0);
	assert_int_equal(fetch_one(c, -1, 3, 0, -1, 0, &r, NULL), 0);
	net_client_close(c);
	assert_int_equal(net_client_connect("127.0.0.1", a.port, DEADLINE_MS, &c), 0);
	assert_int_equal(net_client_sasl(c, SASL_SHA_256, "broker", "s3cret", DEADLINE_MS), 0);
	assert_int_equal(fetch_one(c, 2, 3, 3, 3, 0, &r, NULL), 0);
	assert_int_equal(hw_of(a.p), 3);
	net_client_close(c);
	bk_stop(&a);
}

struct remove_call {
	struct fetcher *f;
	struct partition *p;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done;
};

static void *remove_fn(void *arg)
{
	struct remove_call *rc = arg;

	fetcher_remove(rc->f, rc->p);
	pthread_mutex_lock(&rc->mu);
	rc->done = true;
	pthread_cond_signal(&rc->cond);
	pthread_mutex_unlock(&rc->mu);
	return NULL;
}

static bool poll_in(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, ms) == 1;
}

/* A leader that takes the connection and then answers nothing (cut off
 * the network): removing a partition from the fetcher, as a LeaderAndIsr
 * that moves it to another leader does, returns without waiting for the
 * fetcher's request to time out. */
static void test_remove_while_leader_silent(void **state)
{
	struct bk b;
	struct partition_state st = state2(1, 1, 1, 2);
	struct fetcher_config cfg;
	struct remove_call call = { .done = false };
	struct timespec ts;
	pthread_t t;
	int lfd, cfd, port;
	char req[64];

	(void)state;
	bk_start(&b, 2, "silent-b");
	assert_int_equal(partition_make_follower(b.p, &st), 1);
	lfd = loopback_socket(true, &port);
	follower_cfg(&cfg, port);
	cfg.request_timeout_ms = 120000;
	assert_int_equal(fetcher_new(&cfg, &b.fetcher), 0);
	assert_int_equal(fetcher_add(b.fetcher, b.p), 0);
	/* The fetcher connected and sent its first request: it now waits. */
	assert_true(poll_in(lfd, 30000));
	cfd = accept(lfd, NULL, NULL);
	assert_true(cfd >= 0);
	assert_true(poll_in(cfd, 30000));
	assert_true(read(cfd, req, sizeof(req)) > 0);

	call.f = b.fetcher;
	call.p = b.p;
	pthread_mutex_init(&call.mu, NULL);
	pthread_cond_init(&call.cond, NULL);
	assert_int_equal(pthread_create(&t, NULL, remove_fn, &call), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30; /* far below the request's 120 s */
	pthread_mutex_lock(&call.mu);
	while (!call.done && pthread_cond_timedwait(&call.cond, &call.mu, &ts) == 0)
		;
	bool done = call.done;
	pthread_mutex_unlock(&call.mu);
	/* The silent leader goes: the request fails, the thread moves on. */
	close(cfd);
	close(lfd);
	pthread_join(t, NULL);
	assert_true(done);
	/* The partition can lead now; nothing of the fetcher touches it. */
	st = state2(2, 2, 1, 1);
	assert_int_equal(partition_make_leader(b.p, &st, now_mono_ms()), 1);
	pthread_cond_destroy(&call.cond);
	pthread_mutex_destroy(&call.mu);
	bk_stop(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hw_min_leo_over_isr),
		cmocka_unit_test(test_hw_alone_in_isr),
		cmocka_unit_test(test_caught_up_times),
		cmocka_unit_test(test_shrink_isr),
		cmocka_unit_test(test_min_isr_at_most_replicas),
		cmocka_unit_test(test_shrink_write_fails),
		cmocka_unit_test(test_expand_isr),
		cmocka_unit_test(test_expand_needs_epoch_start),
		cmocka_unit_test(test_pending_expand_holds_hw),
		cmocka_unit_test(test_hw_waits_for_replica_about_to_join),
		cmocka_unit_test(test_enough_replicas_counts_maximal_isr),
		cmocka_unit_test(test_make_leader_follower_transitions),
		cmocka_unit_test(test_out_of_isr),
		cmocka_unit_test(test_follower_hw),
		cmocka_unit_test(test_unclean_restart_eligibility),
		cmocka_unit_test(test_unclean_restart_recovery_election),
		cmocka_unit_test(test_end_offset_for_epoch),
		cmocka_unit_test(test_e2e_catch_up_and_kip101),
		cmocka_unit_test(test_e2e_append_waits_logged_once),
		cmocka_unit_test(test_e2e_zero_fetch_max_bytes),
		cmocka_unit_test(test_e2e_source_moved),
		cmocka_unit_test(test_e2e_kip279_offset_for_leader_epoch),
		cmocka_unit_test(test_e2e_kip279_diverging_epoch),
		cmocka_unit_test(test_e2e_undefined_epoch_truncates_to_hw),
		cmocka_unit_test(test_e2e_undefined_epoch_truncates_to_hw_engine),
		cmocka_unit_test(test_e2e_above_leader_end_truncates_to_it),
		cmocka_unit_test(test_e2e_above_leader_end_truncates_to_it_engine),
		cmocka_unit_test(test_e2e_catch_up_and_kip101_engine),
		cmocka_unit_test(test_e2e_kip279_offset_for_leader_epoch_engine),
		cmocka_unit_test(test_e2e_kip279_diverging_epoch_engine),
		cmocka_unit_test(test_e2e_empty_epochs_offset_for_leader_epoch_engine),
		cmocka_unit_test(test_e2e_empty_epochs_diverging_epoch_engine),
		cmocka_unit_test(test_fetch_hw_wakes_follower),
		cmocka_unit_test(test_fetch_hw_linger),
		cmocka_unit_test(test_parked_fetch_late_logged),
		cmocka_unit_test(test_follower_truncation_not_behind_workers),
		cmocka_unit_test(test_purgatory_sleeps),
		cmocka_unit_test(test_kick_answers_parked_fetch),
		cmocka_unit_test(test_fetcher_settling_partition_not_held_by_parked_fetch),
		cmocka_unit_test(test_parked_fetch_of_gone_connection_answered),
		cmocka_unit_test(test_parked_full_fetch_of_gone_connection_opens_no_session),
		cmocka_unit_test(test_fetcher_add_wakes_parked_fetch),
		cmocka_unit_test(test_fetcher_retries_settling_leader_soon),
		cmocka_unit_test(test_fetcher_ofle_retries_settling_leader_soon),
		cmocka_unit_test(test_fetch_handler_rules),
		cmocka_unit_test(test_fetch_follower_epoch_checked_first),
		cmocka_unit_test(test_fetch_partition_named_twice),
		cmocka_unit_test(test_fetch_session_incremental),
		cmocka_unit_test(test_fetch_session_bad_isolation),
		cmocka_unit_test(test_fetcher_session),
		cmocka_unit_test(test_fetcher_session_swap),
		cmocka_unit_test(test_fetcher_session_forgets_around_a_kept_one),
		cmocka_unit_test(test_follower_start_after_busy),
		cmocka_unit_test(test_follower_start_inside_batch),
		cmocka_unit_test(test_list_offsets_named_twice),
		cmocka_unit_test(test_list_offsets_isolation_level),
		cmocka_unit_test(test_fetch_isolation_level),
		cmocka_unit_test(test_list_offsets_current_epoch),
		cmocka_unit_test(test_list_offsets_epoch_of_offset),
		cmocka_unit_test(test_fetch_waits_for_min_bytes),
		cmocka_unit_test(test_fetch_min_bytes_counts_once),
		cmocka_unit_test(test_fetch_negative_partition_max_bytes),
		cmocka_unit_test(test_fetch_old_version_of_zstd_topic),
		cmocka_unit_test(test_list_offsets_handler),
		cmocka_unit_test(test_list_offsets_new_leader_lagging),
		cmocka_unit_test(test_delete_records_handler),
		cmocka_unit_test(test_low_watermark_live_replicas),
		cmocka_unit_test(test_fetch_zero_limits),
		cmocka_unit_test(test_ofle_handler),
		cmocka_unit_test(test_ofle_handler_engine),
		cmocka_unit_test(test_e2e_sasl_and_reconnect),
		cmocka_unit_test(test_follower_fetch_needs_brokers_user),
		cmocka_unit_test(test_remove_while_leader_silent),
	};

	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
