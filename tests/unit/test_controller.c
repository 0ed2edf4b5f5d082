/*
 * test_controller.c — the cluster controller (repl/controller.c).
 *
 * First its pure decisions, case by case against Kafka's rules: replica
 * assignment (Kafka's own expected layout for 5 brokers), the offline,
 * controlled-shutdown and preferred elections with the ISR each leaves,
 * the leader epoch bump, and the per-broker imbalance.
 *
 * Then the controller against a real ZooKeeper (one server for the binary,
 * tests/unit/zksrv.c; a chroot per test): brokers are zkc sessions
 * registered with zkmeta_register_broker, and "killing" one closes its
 * session. Covered: topic creation, broker loss and return, the ISR
 * notice of a leader and the rebalance that follows; offline partitions
 * without unclean election; controlled shutdown; a broker restarted
 * behind the controller's back; failover by session expiry, the refused
 * write of the deposed controller, its return as a follower; a fenced
 * write that makes the controller resign and win again; topic deletion
 * and creation; a replica its broker's registration names ineligible
 * (an unclean restart) passed over until the registration is rewritten;
 * ElectLeaders' preferred and unclean elections with each result. The channel is implemented by recording every partition
 * each broker was sent, and the tests assert what went to whom with which
 * leader, leader epoch and ISR. Nothing waits for a fixed time: each
 * expectation is polled with a deadline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "repl/controller.h"
#include "repl/zkc.h"
#include "repl/zkdata.h"
#include "repl/zkmeta.h"
#include "tests/unit/zksrv.h"
#include "util/clock.h"

#define SESSION_MS 6000
#define CONNECT_MS 20000
#define WAIT_MS    15000 /* deadline of an expectation; they come in ms */

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- pure decisions ---- */

static void test_assign_kafka_layout(void **state)
{
	/* Kafka's AdminTest.testReplicaAssignment: 5 brokers, 10
	 * partitions, replication factor 3, start index 0. */
	static const int32_t expected[10][3] = {
		{ 0, 1, 2 }, { 1, 2, 3 }, { 2, 3, 4 }, { 3, 4, 0 }, { 4, 0, 1 },
		{ 0, 2, 3 }, { 1, 3, 4 }, { 2, 4, 0 }, { 3, 0, 1 }, { 4, 1, 2 },
	};
	int32_t brokers[] = { 0, 1, 2, 3, 4 }, out[30];
	int p;

	(void)state;
	assert_int_equal(controller_assign_replicas(brokers, NULL, 5, 0, 10, 3, 0, 0, out), 0);
	for (p = 0; p < 10; p++)
		assert_memory_equal(&out[p * 3], expected[p], sizeof(expected[p]));
	/* Partitions 4..9 alone (a topic of 4 grown to 10, Kafka's
	 * startPartitionId): the same rows as assigned with the first four. */
	assert_int_equal(controller_assign_replicas(brokers, NULL, 5, 4, 6, 3, 0, 0, out), 0);
	for (p = 4; p < 10; p++)
		assert_memory_equal(&out[(p - 4) * 3], expected[p], sizeof(expected[p]));
}

static void test_assign_spread_and_errors(void **state)
{
	int32_t brokers[] = { 2, 5, 9, 11 }, unsorted[] = { 1, 3, 2 }, twice[] = { 1, 1 };
	int32_t out[4 * 12];
	int lead[4], replica[4], p, i, j, round, start;

	(void)state;
	/* Any start: every partition has distinct brokers, each broker leads
	 * 12/4 partitions and holds 12*3/4 replicas. */
	for (round = 0; round < 20; round++) {
		start = round < 4 ? round : -1;
		memset(lead, 0, sizeof(lead));
		memset(replica, 0, sizeof(replica));
		assert_int_equal(
			controller_assign_replicas(brokers, NULL, 4, 0, 12, 3, start, start, out),
			0);
		for (p = 0; p < 12; p++)
			for (i = 0; i < 3; i++) {
				for (j = 0; j < i; j++)
					assert_int_not_equal(out[p * 3 + i], out[p * 3 + j]);
				for (j = 0; j < 4 && brokers[j] != out[p * 3 + i]; j++)
					;
				assert_true(j < 4);
				replica[j]++;
				lead[j] += i == 0;
			}
		for (j = 0; j < 4; j++) {
			assert_int_equal(lead[j], 3);
			assert_int_equal(replica[j], 9);
		}
	}
	/* Start index 1 moves the first leader to the second broker. */
	assert_int_equal(controller_assign_replicas(brokers, NULL, 4, 0, 1, 2, 1, 0, out), 0);
	assert_int_equal(out[0], 5);
	assert_int_equal(out[1], 9);
	/* One broker, factor one. */
	assert_int_equal(controller_assign_replicas(brokers, NULL, 1, 0, 3, 1, -1, -1, out), 0);
	assert_int_equal(out[2], 2);
	/* Kafka's INVALID_REPLICATION_FACTOR and INVALID_PARTITIONS. */
	assert_int_equal(controller_assign_replicas(brokers, NULL, 4, 0, 1, 5, 0, 0, out), -EINVAL);
	assert_int_equal(controller_assign_replicas(brokers, NULL, 4, 0, 1, 0, 0, 0, out), -EINVAL);
	assert_int_equal(controller_assign_replicas(brokers, NULL, 0, 0, 1, 1, 0, 0, out), -EINVAL);
	assert_int_equal(controller_assign_replicas(brokers, NULL, 4, 0, 0, 1, 0, 0, out), -EINVAL);
	assert_int_equal(controller_assign_replicas(unsorted, NULL, 3, 0, 1, 1, 0, 0, out),
			 -EINVAL);
	assert_int_equal(controller_assign_replicas(twice, NULL, 2, 0, 1, 1, 0, 0, out), -EINVAL);
}

/* Rack-aware placement (Kafka's AdminUtils.assignReplicasToBrokers with
 * every broker racked). */
static void test_assign_rack_aware(void **state)
{
	/* Kafka's AdminRackAwareTest
	 * .testGetRackAlternatedBrokerListAndAssignReplicasToBrokers: the
	 * rack-alternated list is 0,3,1,5,4,2; 7 partitions, factor 3, start
	 * index 0. */
	static const int32_t expected[7][3] = {
		{ 0, 3, 1 }, { 3, 1, 5 }, { 1, 5, 4 }, { 5, 4, 2 },
		{ 4, 2, 0 }, { 2, 0, 3 }, { 0, 4, 2 },
	};
	const char *racks6[] = { "rack1", "rack3", "rack3", "rack2", "rack2", "rack1" };
	int32_t six[] = { 0, 1, 2, 3, 4, 5 }, out[7 * 3];
	/* Three brokers in racks r1, r1, r2 (the integration test's): the
	 * list is 1,3,2. Worked out from Kafka's code, start index 0:
	 *   p0 first 1, then 3 (r2);
	 *   p1 first 3, then 2 (r1);
	 *   p2 first 2, then 1 skipped (r1 holds a replica while r2 holds
	 *      none), then 3;
	 * with factor 3, p0's third is 2: every rack holds one by then. */
	const char *racks3[] = { "r1", "r1", "r2" };
	const char *mixed[] = { "r1", NULL, "r2" };
	const char *unracked[] = { NULL, NULL, NULL };
	int32_t three[] = { 1, 2, 3 };
	int p;

	(void)state;
	assert_int_equal(controller_assign_replicas(six, racks6, 6, 0, 7, 3, 0, 0, out), 0);
	for (p = 0; p < 7; p++)
		assert_memory_equal(&out[p * 3], expected[p], sizeof(expected[p]));
	/* Partitions 4..6 alone (CreatePartitions from 4 to 7, the start
	 * index 0 as addPartitions finds it for partition 0 led by broker 0):
	 * the same rows. */
	assert_int_equal(controller_assign_replicas(six, racks6, 6, 4, 3, 3, 0, 0, out), 0);
	for (p = 4; p < 7; p++)
		assert_memory_equal(&out[(p - 4) * 3], expected[p], sizeof(expected[p]));

	assert_int_equal(controller_assign_replicas(three, racks3, 3, 0, 3, 2, 0, 0, out), 0);
	assert_memory_equal(out, ((int32_t[]){ 1, 3, 3, 2, 2, 3 }), 6 * sizeof(int32_t));
	assert_int_equal(controller_assign_replicas(three, racks3, 3, 0, 1, 3, 0, 0, out), 0);
	assert_memory_equal(out, ((int32_t[]){ 1, 3, 2 }), 3 * sizeof(int32_t));
	/* Any start: every partition of factor 2 spans both racks. */
	for (int round = 0; round < 20; round++) {
		assert_int_equal(controller_assign_replicas(three, racks3, 3, 0, 6, 2, -1, -1, out),
				 0);
		for (p = 0; p < 6; p++)
			assert_true((out[p * 2] == 3) != (out[p * 2 + 1] == 3));
	}
	/* Some racked, some not: Kafka's "Not all brokers have rack
	 * information"; none racked: the rack-unaware layout. */
	assert_int_equal(controller_assign_replicas(three, mixed, 3, 0, 1, 2, 0, 0, out), -ENOTSUP);
	assert_int_equal(controller_assign_replicas(three, unracked, 3, 0, 3, 2, 0, 0, out), 0);
	assert_memory_equal(out, ((int32_t[]){ 1, 2, 2, 3, 3, 1 }), 6 * sizeof(int32_t));
	/* The unaware checks still come first. */
	assert_int_equal(controller_assign_replicas(three, racks3, 3, 0, 1, 4, 0, 0, out), -EINVAL);
}

/* A state with leader, leader epoch 7, controller epoch 3 and the ISR. */
static struct zk_partition_state st(int32_t leader, const int32_t *isr, int n_isr)
{
	return (struct zk_partition_state){ .controller_epoch = 3,
					    .leader = leader,
					    .leader_epoch = 7,
					    .isr = (int32_t *)isr,
					    .n_isr = n_isr };
}

static void expect_next(const struct zk_partition_state *next, int32_t leader, const int32_t *isr,
			int n_isr)
{
	assert_int_equal(next->leader, leader);
	assert_int_equal(next->leader_epoch, 8);
	assert_int_equal(next->controller_epoch, 3);
	assert_int_equal(next->n_isr, n_isr);
	assert_memory_equal(next->isr, isr, (size_t)n_isr * sizeof(*isr));
}

static void test_decide_live(void **state)
{
	int32_t r123[] = { 1, 2, 3 }, r321[] = { 3, 2, 1 }, r12[] = { 1, 2 };
	int32_t isr123[] = { 1, 2, 3 }, isr13[] = { 1, 3 }, isr1[] = { 1 }, isr12[] = { 1, 2 };
	int32_t live123[] = { 1, 2, 3 }, live12[] = { 1, 2 }, live23[] = { 2, 3 };
	int32_t live3[] = { 3 }, live2[] = { 2 }, shut2[] = { 2 };
	struct controller_brokers all = { live123, 3, NULL, 0, NULL, 0 };
	struct controller_brokers no3 = { live12, 2, NULL, 0, NULL, 0 };
	struct controller_brokers no1 = { live23, 2, NULL, 0, NULL, 0 };
	struct controller_brokers no1_shut2 = { live23, 2, shut2, 1, NULL, 0 };
	struct controller_brokers only3 = { live3, 1, NULL, 0, NULL, 0 };
	struct controller_brokers only2 = { live2, 1, NULL, 0, NULL, 0 };
	struct controller_brokers none = { NULL, 0, NULL, 0, NULL, 0 };
	struct zk_partition_state cur, next;
	bool unclean;

	(void)state;
	/* Everyone alive: nothing to change. */
	cur = st(1, isr123, 3);
	assert_int_equal(controller_decide_live(&cur, r123, 3, &all, false, &next, &unclean, NULL),
			 0);
	assert_null(next.isr);
	/* A follower died: the leader stays, the ISR shrinks, epoch + 1. */
	assert_int_equal(controller_decide_live(&cur, r123, 3, &no3, false, &next, NULL, NULL), 1);
	expect_next(&next, 1, (int32_t[]){ 1, 2 }, 2);
	zk_partition_state_clear(&next);
	/* The leader died: the first live replica in assignment order that
	 * is in the ISR; the ISR keeps its own order. */
	assert_int_equal(controller_decide_live(&cur, r123, 3, &no1, false, &next, &unclean, NULL),
			 1);
	expect_next(&next, 2, (int32_t[]){ 2, 3 }, 2);
	assert_false(unclean);
	assert_int_equal(next.leader_recovery_state, ZK_RECOVERY_RECOVERED);
	zk_partition_state_clear(&next);
	assert_int_equal(controller_decide_live(&cur, r321, 3, &no1, false, &next, NULL, NULL), 1);
	expect_next(&next, 3, (int32_t[]){ 2, 3 }, 2);
	zk_partition_state_clear(&next);
	/* A live replica outside the ISR is passed over. */
	cur = st(1, isr13, 2);
	assert_int_equal(controller_decide_live(&cur, r123, 3, &no1, false, &next, NULL, NULL), 1);
	expect_next(&next, 3, (int32_t[]){ 3 }, 1);
	zk_partition_state_clear(&next);
	/* A broker shutting down is not elected. */
	cur = st(1, isr123, 3);
	assert_int_equal(
		controller_decide_live(&cur, r123, 3, &no1_shut2, false, &next, NULL, NULL), 1);
	expect_next(&next, 3, (int32_t[]){ 2, 3 }, 2);
	zk_partition_state_clear(&next);
	/* A live leader that is shutting down keeps leading here (the
	 * controlled shutdown moves it). */
	assert_int_equal(controller_decide_live(&cur, r123, 3,
						&(struct controller_brokers){
							live123, 3, (int32_t[]){ 1 }, 1, NULL, 0 },
						false, &next, NULL, NULL),
			 0);

	/* The sole ISR member died, unclean election off: offline, and the
	 * ISR keeps it. Asked again: no change. */
	cur = st(1, isr1, 1);
	assert_int_equal(controller_decide_live(&cur, r12, 2, &only2, false, &next, &unclean, NULL),
			 1);
	expect_next(&next, ZK_LEADER_NONE, isr1, 1);
	assert_false(unclean);
	zk_partition_state_clear(&next);
	cur = st(ZK_LEADER_NONE, isr1, 1);
	assert_int_equal(controller_decide_live(&cur, r12, 2, &only2, false, &next, NULL, NULL), 0);
	/* It comes back: it leads again. */
	assert_int_equal(controller_decide_live(&cur, r12, 2, &all, false, &next, NULL, NULL), 1);
	expect_next(&next, 1, isr1, 1);
	zk_partition_state_clear(&next);
	/* Unclean election on: the first live replica, alone in the ISR. */
	cur = st(1, isr1, 1);
	assert_int_equal(controller_decide_live(&cur, r12, 2, &only2, true, &next, &unclean, NULL),
			 1);
	expect_next(&next, 2, (int32_t[]){ 2 }, 1);
	assert_true(unclean);
	assert_int_equal(next.leader_recovery_state, ZK_RECOVERY_RECOVERING);
	zk_partition_state_clear(&next);
	/* ... but with no live replica at all, offline still. */
	assert_int_equal(controller_decide_live(&cur, r12, 2, &only3, true, &next, &unclean, NULL),
			 1);
	expect_next(&next, ZK_LEADER_NONE, isr1, 1);
	assert_false(unclean);
	zk_partition_state_clear(&next);
	/* An ISR member restarted uncleanly (ineligible) is passed over for
	 * the next one. */
	{
		int32_t inel2[] = { 2 }, inel3[] = { 3 };
		struct controller_brokers no1_inel2 = { live23, 2, NULL, 0, inel2, 1 };
		struct controller_brokers only3_inel3 = { live3, 1, NULL, 0, inel3, 1 };

		cur = st(1, isr123, 3);
		assert_int_equal(controller_decide_live(&cur, r123, 3, &no1_inel2, false, &next,
							&unclean, NULL),
				 1);
		expect_next(&next, 3, (int32_t[]){ 2, 3 }, 2);
		assert_false(unclean);
		zk_partition_state_clear(&next);
		/* When every live ISR member is ineligible (none can catch up
		 * without a leader), the first of them leads: a recovery, not
		 * an unclean election (it is in the ISR), unclean setting or
		 * not; an offline partition is taken up the same way. */
		bool recovery;

		for (int u = 0; u < 2; u++) {
			cur = st(1, (int32_t[]){ 1, 3 }, 2);
			assert_int_equal(controller_decide_live(&cur, r123, 3, &only3_inel3, u == 1,
								&next, &unclean, &recovery),
					 1);
			expect_next(&next, 3, (int32_t[]){ 3 }, 1);
			assert_false(unclean);
			assert_true(recovery);
			assert_int_equal(next.leader_recovery_state, ZK_RECOVERY_RECOVERING);
			zk_partition_state_clear(&next);
		}
		/* Its leader back from an unclean restart (all brokers went down
		 * at once): it refuses that epoch, so it is elected again, in a
		 * new one, RECOVERING. */
		cur = st(3, (int32_t[]){ 3 }, 1);
		assert_int_equal(controller_decide_live(&cur, r123, 3, &only3_inel3, false, &next,
							NULL, &recovery),
				 1);
		expect_next(&next, 3, (int32_t[]){ 3 }, 1);
		assert_true(recovery);
		assert_int_equal(next.leader_recovery_state, ZK_RECOVERY_RECOVERING);
		zk_partition_state_clear(&next);
		cur = st(ZK_LEADER_NONE, (int32_t[]){ 3 }, 1);
		assert_int_equal(controller_decide_live(&cur, r123, 3, &only3_inel3, false, &next,
							NULL, &recovery),
				 1);
		expect_next(&next, 3, (int32_t[]){ 3 }, 1);
		assert_true(recovery);
		zk_partition_state_clear(&next);
		/* An eligible live ISR member is taken first, and that is no
		 * recovery. */
		assert_int_equal(controller_decide_live(&cur, r123, 3, &only3, false, &next, NULL,
							&recovery),
				 1);
		expect_next(&next, 3, (int32_t[]){ 3 }, 1);
		assert_false(recovery);
		zk_partition_state_clear(&next);
		/* The controlled shutdown and the preferred election pass it over
		 * too. */
		cur = st(1, isr123, 3);
		assert_int_equal(controller_decide_controlled_shutdown(
					 &cur, r123, 3,
					 &(struct controller_brokers){ live123, 3, (int32_t[]){ 1 },
								       1, inel2, 1 },
					 &next),
				 1);
		expect_next(&next, 3, (int32_t[]){ 2, 3 }, 2);
		zk_partition_state_clear(&next);
		cur = st(2, isr123, 3);
		assert_int_equal(controller_decide_preferred(
					 &cur, r123, 3,
					 &(struct controller_brokers){ live123, 3, NULL, 0,
								       (int32_t[]){ 1 }, 1 },
					 &next),
				 0);
	}
	/* Two ISR members die at once: the ISR keeps its last member. */
	cur = st(1, isr12, 2);
	assert_int_equal(controller_decide_live(&cur, r123, 3, &only3, false, &next, NULL, NULL),
			 1);
	expect_next(&next, ZK_LEADER_NONE, (int32_t[]){ 2 }, 1);
	zk_partition_state_clear(&next);
	assert_int_equal(controller_decide_live(&cur, r123, 3, &none, false, &next, NULL, NULL), 1);
	expect_next(&next, ZK_LEADER_NONE, (int32_t[]){ 2 }, 1);
	zk_partition_state_clear(&next);
}

static void test_decide_controlled_shutdown(void **state)
{
	int32_t r123[] = { 1, 2, 3 }, r231[] = { 2, 3, 1 }, r1[] = { 1 };
	int32_t isr123[] = { 1, 2, 3 }, isr231[] = { 2, 3, 1 }, isr1[] = { 1 }, isr13[] = { 1, 3 };
	int32_t live123[] = { 1, 2, 3 }, live12[] = { 1, 2 };
	int32_t shut1[] = { 1 }, shut2[] = { 2 }, shut12[] = { 1, 2 };
	struct controller_brokers b;
	struct zk_partition_state cur, next;

	(void)state;
	/* The shutting leader gives way to the next in-sync replica and
	 * leaves the ISR. */
	b = (struct controller_brokers){ live123, 3, shut1, 1, NULL, 0 };
	cur = st(1, isr123, 3);
	assert_int_equal(controller_decide_controlled_shutdown(&cur, r123, 3, &b, &next), 1);
	expect_next(&next, 2, (int32_t[]){ 2, 3 }, 2);
	zk_partition_state_clear(&next);
	/* Assignment order decides who takes over. */
	cur = st(1, isr231, 3);
	assert_int_equal(controller_decide_controlled_shutdown(&cur, r231, 3, &b, &next), 1);
	expect_next(&next, 2, (int32_t[]){ 2, 3 }, 2);
	zk_partition_state_clear(&next);
	/* Neither a dead nor another shutting broker takes over. */
	b = (struct controller_brokers){ live12, 2, shut12, 2, NULL, 0 };
	cur = st(1, isr123, 3);
	assert_int_equal(controller_decide_controlled_shutdown(&cur, r123, 3, &b, &next), 0);
	b = (struct controller_brokers){ live123, 3, shut12, 2, NULL, 0 };
	assert_int_equal(controller_decide_controlled_shutdown(&cur, r123, 3, &b, &next), 1);
	expect_next(&next, 3, (int32_t[]){ 3 }, 1);
	zk_partition_state_clear(&next);
	/* A shutting follower only leaves the ISR. */
	b = (struct controller_brokers){ live123, 3, shut2, 1, NULL, 0 };
	assert_int_equal(controller_decide_controlled_shutdown(&cur, r123, 3, &b, &next), 1);
	expect_next(&next, 1, isr13, 2);
	zk_partition_state_clear(&next);
	/* ... unless it is not in it: nothing to do. */
	cur = st(1, isr13, 2);
	assert_int_equal(controller_decide_controlled_shutdown(&cur, r123, 3, &b, &next), 0);
	/* A leader without a successor keeps everything, even when it is
	 * the only replica. */
	b = (struct controller_brokers){ live123, 3, shut1, 1, NULL, 0 };
	cur = st(1, isr1, 1);
	assert_int_equal(controller_decide_controlled_shutdown(&cur, r123, 3, &b, &next), 0);
	assert_int_equal(controller_decide_controlled_shutdown(&cur, r1, 1, &b, &next), 0);
}

static void test_decide_preferred(void **state)
{
	int32_t r123[] = { 1, 2, 3 }, isr231[] = { 2, 3, 1 }, isr23[] = { 2, 3 };
	int32_t live123[] = { 1, 2, 3 }, live23[] = { 2, 3 }, shut1[] = { 1 };
	struct controller_brokers all = { live123, 3, NULL, 0, NULL, 0 };
	struct zk_partition_state cur, next;

	(void)state;
	cur = st(2, isr231, 3);
	assert_int_equal(controller_decide_preferred(&cur, r123, 3, &all, &next), 1);
	expect_next(&next, 1, isr231, 3);
	zk_partition_state_clear(&next);
	/* Not when it leads already, is dead, shutting or out of the ISR. */
	cur = st(1, isr231, 3);
	assert_int_equal(controller_decide_preferred(&cur, r123, 3, &all, &next), 0);
	cur = st(2, isr231, 3);
	assert_int_equal(controller_decide_preferred(
				 &cur, r123, 3,
				 &(struct controller_brokers){ live23, 2, NULL, 0, NULL, 0 },
				 &next),
			 0);
	assert_int_equal(controller_decide_preferred(
				 &cur, r123, 3,
				 &(struct controller_brokers){ live123, 3, shut1, 1, NULL, 0 },
				 &next),
			 0);
	cur = st(2, isr23, 2);
	assert_int_equal(controller_decide_preferred(&cur, r123, 3, &all, &next), 0);
	assert_int_equal(controller_decide_preferred(&cur, r123, 0, &all, &next), 0);
}

static void test_imbalance(void **state)
{
	int32_t pref[20], lead[20], out[20];
	int i;

	(void)state;
	/* Broker 1 is preferred for 10 partitions, broker 2 for 10. */
	for (i = 0; i < 20; i++) {
		pref[i] = i < 10 ? 1 : 2;
		lead[i] = pref[i];
	}
	assert_int_equal(controller_imbalanced_brokers(pref, lead, 20, 10, out), 0);
	/* 1 of 10 not led: 10% is not above 10%. */
	lead[0] = 2;
	assert_int_equal(controller_imbalanced_brokers(pref, lead, 20, 10, out), 0);
	/* 2 of 10: above. */
	lead[1] = 3;
	assert_int_equal(controller_imbalanced_brokers(pref, lead, 20, 10, out), 1);
	assert_int_equal(out[0], 1);
	/* Both brokers, reported in increasing order whatever the input's. */
	lead[19] = lead[18] = ZK_LEADER_NONE;
	assert_int_equal(controller_imbalanced_brokers(pref + 10, lead + 10, 10, 10, out), 1);
	for (i = 0; i < 10; i++) {
		int32_t t = pref[i];

		pref[i] = pref[19 - i];
		pref[19 - i] = t;
		t = lead[i];
		lead[i] = lead[19 - i];
		lead[19 - i] = t;
	}
	assert_int_equal(controller_imbalanced_brokers(pref, lead, 20, 10, out), 2);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	/* 0%: any partition led by another broker counts; 100%: never. */
	assert_int_equal(controller_imbalanced_brokers(pref, lead, 20, 0, out), 2);
	assert_int_equal(controller_imbalanced_brokers(pref, lead, 20, 100, out), 0);
	assert_int_equal(controller_imbalanced_brokers(pref, lead, 0, 10, out), 0);
}

/* ---- a cluster on a real ZooKeeper ---- */


enum { REC_LISR, REC_META, REC_STOP };

/* One partition of one request to one broker. */
struct sent {
	int kind;
	int32_t broker_id, controller_epoch;
	int64_t broker_epoch;
	char topic[32];
	int32_t partition, leader, leader_epoch;
	int32_t isr[8];
	int n_isr;
	int32_t offline[8]; /* UpdateMetadata's offline replicas */
	int n_offline;
	bool is_new, delete_partition;
};

#define MAX_SENT 4096

/* The channel under test: what the active controller told each broker. */
struct recorder {
	pthread_mutex_t lock;
	struct sent v[MAX_SENT];
	int n;
	int bad; /* calls that broke a rule (checked by cluster_stop) */
	pthread_cond_t cond;
	bool gated; /* LeaderAndIsr calls wait until it is cleared */
	bool held;  /* one is waiting: the controller's thread is busy */
	/* The channel's flush calls, and those made while the znode of
	 * flush_path (when set) still existed, read through flush_zkc. */
	int flushes, flushes_before_gone;
	struct zkc *flush_zkc;
	char flush_path[64];
};

/* Holds the controller's thread in its next LeaderAndIsr call, so that
 * what happens meanwhile reaches it as one event. */
static void rec_gate(struct recorder *r, bool on)
{
	pthread_mutex_lock(&r->lock);
	r->gated = on;
	r->held = false;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static bool rec_wait_held(struct recorder *r)
{
	struct timespec end;
	bool held;

	deadline_from_ms(CLOCK_REALTIME, WAIT_MS, &end);
	pthread_mutex_lock(&r->lock);
	while (!r->held && pthread_cond_timedwait(&r->cond, &r->lock, &end) != ETIMEDOUT)
		;
	held = r->held;
	pthread_mutex_unlock(&r->lock);
	return held;
}

static void rec_add(struct recorder *r, const struct sent *s)
{
	pthread_mutex_lock(&r->lock);
	if (r->n < MAX_SENT)
		r->v[r->n++] = *s;
	pthread_mutex_unlock(&r->lock);
}

static void rec_states(struct recorder *r, int kind, int32_t broker_id, int64_t broker_epoch,
		       int32_t epoch, const struct controller_partition_state *states, int n)
{
	for (int i = 0; i < n; i++) {
		struct sent s = { .kind = kind,
				  .broker_id = broker_id,
				  .controller_epoch = epoch,
				  .broker_epoch = broker_epoch,
				  .partition = states[i].partition,
				  .leader = states[i].leader,
				  .leader_epoch = states[i].leader_epoch,
				  .n_isr = states[i].n_isr < 8 ? states[i].n_isr : 8,
				  .is_new = states[i].is_new };

		snprintf(s.topic, sizeof(s.topic), "%s", states[i].topic);
		memcpy(s.isr, states[i].isr, (size_t)s.n_isr * sizeof(int32_t));
		s.n_offline = states[i].n_offline_replicas < 8 ? states[i].n_offline_replicas : 8;
		if (s.n_offline > 0) /* none: the pointer may be NULL */
			memcpy(s.offline, states[i].offline_replicas,
			       (size_t)s.n_offline * sizeof(int32_t));
		/* A state carries the epoch of the controller that wrote it:
		 * this one or an earlier one. cmocka's asserts belong to the
		 * test's thread: counted here. */
		if (states[i].controller_epoch > epoch || states[i].n_isr < 1 ||
		    !zk_uuid_valid(states[i].topic_id) || broker_epoch <= 0)
			__atomic_add_fetch(&r->bad, 1, __ATOMIC_RELAXED);
		rec_add(r, &s);
	}
}

static bool has_id(const int32_t *ids, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static int rec_lisr(void *arg, int32_t broker_id, int64_t broker_epoch, int32_t epoch,
		    const struct controller_partition_state *states, int n)
{
	struct recorder *r = arg;

	pthread_mutex_lock(&r->lock);
	if (r->gated) {
		r->held = true;
		pthread_cond_broadcast(&r->cond);
		while (r->gated)
			pthread_cond_wait(&r->cond, &r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	rec_states(arg, REC_LISR, broker_id, broker_epoch, epoch, states, n);
	return 0;
}

static int rec_meta(void *arg, int32_t broker_id, int64_t broker_epoch, int32_t epoch,
		    const int32_t *live, int n_live,
		    const struct controller_partition_state *states, int n)
{
	if (n_live < 1 || n_live > 3 || !has_id(live, n_live, broker_id))
		__atomic_add_fetch(&((struct recorder *)arg)->bad, 1, __ATOMIC_RELAXED);
	rec_states(arg, REC_META, broker_id, broker_epoch, epoch, states, n);
	return 0;
}

static int rec_stop(void *arg, int32_t broker_id, int64_t broker_epoch, int32_t epoch,
		    const struct controller_stop_replica *parts, int n)
{
	for (int i = 0; i < n; i++) {
		struct sent s = { .kind = REC_STOP,
				  .broker_id = broker_id,
				  .controller_epoch = epoch,
				  .broker_epoch = broker_epoch,
				  .partition = parts[i].partition,
				  .leader_epoch = parts[i].leader_epoch,
				  .delete_partition = parts[i].delete_partition };

		snprintf(s.topic, sizeof(s.topic), "%s", parts[i].topic);
		rec_add(arg, &s);
	}
	return 0;
}

/* The channel's flush: every call here has been "answered" at once. */
static int rec_flush(void *arg, int64_t wait_ms)
{
	struct recorder *r = arg;
	struct zkc *zkc;
	char path[sizeof(r->flush_path)];
	bool there;

	(void)wait_ms;
	pthread_mutex_lock(&r->lock);
	zkc = r->flush_zkc;
	memcpy(path, r->flush_path, sizeof(path));
	pthread_mutex_unlock(&r->lock);
	there = zkc && path[0] && zkc_exists(zkc, path, NULL, NULL, NULL) == 0;
	pthread_mutex_lock(&r->lock);
	r->flushes++;
	r->flushes_before_gone += there;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* How many records match; leader_epoch < 0 and leader < -1 match any. */
static int rec_count(struct recorder *r, int kind, int32_t broker_id, const char *topic,
		     int32_t partition, int32_t leader, int32_t leader_epoch)
{
	int i, n = 0;

	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->n; i++) {
		const struct sent *s = &r->v[i];

		n += s->kind == kind && s->broker_id == broker_id && !strcmp(s->topic, topic) &&
		     s->partition == partition && (leader < -1 || s->leader == leader) &&
		     (leader_epoch < 0 || s->leader_epoch == leader_epoch);
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void pause_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Polls until the record is there (1) or the deadline passed (0). */
static int rec_wait(struct recorder *r, int kind, int32_t broker_id, const char *topic,
		    int32_t partition, int32_t leader, int32_t leader_epoch)
{
	int64_t end = now_mono_ms() + WAIT_MS;

	while (!rec_count(r, kind, broker_id, topic, partition, leader, leader_epoch)) {
		if (now_mono_ms() > end)
			return 0;
		pause_ms(10);
	}
	return 1;
}

/* Polls until broker_id was sent UpdateMetadata for topic-p with an ISR
 * of n_isr members (n_isr >= 0), or naming exactly the offline replicas
 * off[0..n_off) (off not NULL) (1), or the deadline passed (0). */
static int rec_wait_meta(struct recorder *r, int32_t broker_id, const char *topic,
			 int32_t partition, int n_isr, const int32_t *off, int n_off)
{
	int64_t end = now_mono_ms() + WAIT_MS;
	int i, found = 0;

	while (!found && now_mono_ms() <= end) {
		pthread_mutex_lock(&r->lock);
		for (i = 0; i < r->n && !found; i++) {
			const struct sent *s = &r->v[i];

			found = s->kind == REC_META && s->broker_id == broker_id &&
				!strcmp(s->topic, topic) && s->partition == partition &&
				(n_isr < 0 || s->n_isr == n_isr) &&
				(!off || (s->n_offline == n_off &&
					  !memcmp(s->offline, off, (size_t)n_off * sizeof(*off))));
		}
		pthread_mutex_unlock(&r->lock);
		if (!found)
			pause_ms(10);
	}
	return found;
}

static int rec_wait_isr(struct recorder *r, int32_t broker_id, const char *topic, int32_t partition,
			int n_isr)
{
	return rec_wait_meta(r, broker_id, topic, partition, n_isr, NULL, 0);
}

/* The broker epoch of the LeaderAndIsr of topic-p at that leader epoch to
 * broker_id; 0 when none was sent. */
static int64_t rec_broker_epoch(struct recorder *r, int32_t broker_id, const char *topic,
				int32_t partition, int32_t leader_epoch)
{
	int64_t epoch = 0;

	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < r->n; i++)
		if (r->v[i].kind == REC_LISR && r->v[i].broker_id == broker_id &&
		    !strcmp(r->v[i].topic, topic) && r->v[i].partition == partition &&
		    r->v[i].leader_epoch == leader_epoch)
			epoch = r->v[i].broker_epoch;
	pthread_mutex_unlock(&r->lock);
	return epoch;
}

/* A broker: its session, its registration and maybe a controller. */
struct node {
	int32_t id;
	struct zkc *zkc;
	struct controller *ctl;
	struct recorder rec;
	char chroot[32];
};

/* Static: a failing test may leave a handle whose thread still calls in. */
static struct node nodes[4];

static void on_session(void *arg, enum zkc_session ev)
{
	struct node *n = arg;
	struct controller *ctl = __atomic_load_n(&n->ctl, __ATOMIC_ACQUIRE);

	if (ctl)
		controller_session_event(ctl, ev);
}

static struct zkc *open_at(const char *chroot, struct node *n)
{
	char connect[256];
	struct zkc *zkc = NULL;

	snprintf(connect, sizeof(connect), "%s%s", zksrv_group()->connect, chroot);
	assert_int_equal(zkc_open(connect, SESSION_MS, CONNECT_MS, n ? on_session : NULL, n, &zkc),
			 0);
	return zkc;
}

/* Broker n registers (or rewrites its registration) naming topic-p, when
 * topic is not NULL, as not eligible as leader. */
static void node_register_ineligible(struct node *n, const char *topic, int32_t p)
{
	struct zk_endpoint ep = { "PLAINTEXT", "PLAINTEXT", "127.0.0.1", 9090 + n->id };
	struct zk_tp tp = { (char *)topic, p };
	struct zk_broker b = { .jmx_port = -1,
			       .timestamp = 1,
			       .endpoints = &ep,
			       .n_endpoints = 1,
			       .ineligible = &tp,
			       .n_ineligible = topic ? 1 : 0 };

	if (!n->zkc) {
		n->zkc = open_at(n->chroot, n);
		assert_int_equal(zkmeta_ensure_paths(n->zkc), 0);
	}
	assert_int_equal(zkmeta_register_broker(n->zkc, n->id, &b), 0);
}

/* Broker n rewrites its registration with broker.rack (NULL: none). */
static void node_register_rack(struct node *n, const char *rack)
{
	struct zk_endpoint ep = { "PLAINTEXT", "PLAINTEXT", "127.0.0.1", 9090 + n->id };
	struct zk_broker b = { .jmx_port = -1,
			       .timestamp = 1,
			       .endpoints = &ep,
			       .n_endpoints = 1,
			       .rack = (char *)rack };

	assert_int_equal(zkmeta_register_broker(n->zkc, n->id, &b), 0);
}

static void node_register(struct node *n)
{
	n->zkc = NULL;
	node_register_ineligible(n, NULL, 0);
}

static struct controller_config config_of(int32_t id, bool rebalance)
{
	return (struct controller_config){
		.broker_id = id,
		.default_replication_factor = 2,
		.unclean_leader_election_enable = false,
		.auto_leader_rebalance_enable = rebalance,
		.leader_imbalance_per_broker_percentage = 10,
		.leader_imbalance_check_interval_seconds = 1,
		.controlled_shutdown_enable = true,
	};
}

/* Brokers 1..3 registered under chroot; controllers on the first
 * n_controllers of them. */
static void cluster_start(const char *chroot, int n_controllers, bool rebalance)
{
	int i;

	for (i = 1; i <= 3; i++) {
		struct node *n = &nodes[i];

		pthread_mutex_lock(&n->rec.lock);
		n->rec.n = 0;
		n->rec.bad = 0;
		n->rec.flushes = n->rec.flushes_before_gone = 0;
		n->rec.flush_zkc = NULL;
		n->rec.flush_path[0] = '\0';
		pthread_mutex_unlock(&n->rec.lock);
		n->id = i;
		n->ctl = NULL;
		snprintf(n->chroot, sizeof(n->chroot), "%s", chroot);
		node_register(n);
	}
	for (i = 1; i <= n_controllers; i++) {
		struct controller_config cfg = config_of(i, rebalance);
		struct controller_channel ch = { rec_lisr, rec_meta, rec_stop, &nodes[i].rec,
						 rec_flush };
		struct controller *ctl;

		assert_int_equal(controller_start(nodes[i].zkc, &cfg, &ch, &ctl), 0);
		__atomic_store_n(&nodes[i].ctl, ctl, __ATOMIC_RELEASE);
	}
}

static void node_kill(struct node *n)
{
	struct controller *ctl = n->ctl;

	if (ctl)
		controller_stop(ctl);
	zkc_close(n->zkc);
	n->zkc = NULL;
	__atomic_store_n(&n->ctl, NULL, __ATOMIC_RELEASE);
	controller_free(ctl);
}

static void cluster_stop(void)
{
	for (int i = 1; i <= 3; i++) {
		node_kill(&nodes[i]);
		assert_int_equal(__atomic_load_n(&nodes[i].rec.bad, __ATOMIC_RELAXED), 0);
	}
}

/* The node whose controller is active, once exactly one is. */
static struct node *wait_active(void)
{
	int64_t end = now_mono_ms() + WAIT_MS;

	for (;;) {
		struct node *found = NULL;
		int i, active = 0;

		for (i = 1; i <= 3; i++) {
			struct controller_info info;

			if (!nodes[i].ctl)
				continue;
			controller_get_info(nodes[i].ctl, &info);
			if (info.active) {
				active++;
				found = &nodes[i];
			}
		}
		if (active == 1)
			return found;
		assert_true(now_mono_ms() < end);
		pause_ms(10);
	}
}

static void create_topic(struct zkc *zkc, const char *topic, const int32_t *replicas,
			 int n_partitions, int rf)
{
	struct zk_assignment a[8];
	struct zk_topic t = { .version = 3, .partitions = a, .n_partitions = n_partitions };

	for (int p = 0; p < n_partitions; p++)
		a[p] = (struct zk_assignment){ .replicas = (int32_t *)replicas + p * rf,
					       .n_replicas = rf };
	assert_int_equal(zk_uuid_new(t.topic_id), 0);
	assert_int_equal(zkmeta_create_topic(zkc, topic, &t, NULL), 0);
}

/* Polls until topic-p has a state with leader_epoch >= min_epoch (and,
 * when leader >= -1, that leader); the state and its version go out. */
static void wait_state(struct zkc *zkc, const char *topic, int32_t p, int32_t min_epoch,
		       int32_t leader, struct zk_partition_state *out, int32_t *zk_version)
{
	int64_t end = now_mono_ms() + WAIT_MS;
	char why[ZK_WHY_LEN];

	for (;;) {
		struct zkmeta_topic t;

		assert_int_equal(zkmeta_read_topic(zkc, topic, &t, why), 0);
		assert_true(p < t.assignment.n_partitions);
		if (t.partitions[p].present && t.partitions[p].state.leader_epoch >= min_epoch &&
		    (leader < -1 || t.partitions[p].state.leader == leader)) {
			*out = t.partitions[p].state;
			if (zk_version)
				*zk_version = t.partitions[p].zk_version;
			t.partitions[p].state = (struct zk_partition_state){ 0 };
			zkmeta_topic_clear(&t);
			return;
		}
		zkmeta_topic_clear(&t);
		assert_true(now_mono_ms() < end);
		pause_ms(10);
	}
}

/* Polls until the first states of topic's n partitions are written. */
static void wait_created(struct zkc *zkc, const char *topic, int n)
{
	struct zk_partition_state s;

	for (int p = 0; p < n; p++) {
		wait_state(zkc, topic, p, 0, -2, &s, NULL);
		zk_partition_state_clear(&s);
	}
}

/* Polls until the controller's info says what pred wants. */
static void wait_info(struct controller *ctl, bool (*pred)(const struct controller_info *, int32_t),
		      int32_t arg, struct controller_info *info)
{
	int64_t end = now_mono_ms() + WAIT_MS;

	for (;;) {
		controller_get_info(ctl, info);
		if (pred(info, arg))
			return;
		assert_true(now_mono_ms() < end);
		pause_ms(10);
	}
}

static bool follows(const struct controller_info *info, int32_t id)
{
	return !info->active && info->controller_id == id;
}

static bool is_active(const struct controller_info *info, int32_t yes)
{
	return info->active == (yes != 0);
}

static bool epoch_version_above(const struct controller_info *info, int32_t version)
{
	return info->active && info->epoch_zk_version > version;
}

static bool offline_count(const struct controller_info *info, int32_t n)
{
	return info->offline_partitions == n;
}

/* The count moves once the state znode is written, a moment after other
 * brokers can read the new state: wait for it, never read it at once. */
static bool elections_are(const struct controller_info *info, int32_t n)
{
	return info->leader_elections == n;
}

static void expect_isr(const struct zk_partition_state *s, const int32_t *isr, int n)
{
	assert_int_equal(s->n_isr, n);
	assert_memory_equal(s->isr, isr, (size_t)n * sizeof(*isr));
}

static void expect_ids(const int32_t *got, int n_got, const int32_t *want, int n_want)
{
	assert_int_equal(n_got, n_want);
	if (n_want)
		assert_memory_equal(got, want, (size_t)n_want * sizeof(*want));
}

/* Kafka's ReplicaAssignment.reassignTo: RS = TRS then ORS, AR, RR; a
 * move replaced or cancelled drops the replicas it added and no longer
 * needs; the refusals. */
static void test_plan_move(void **state)
{
	int32_t r12[] = { 1, 2 }, live[] = { 1, 2, 3, 4 };
	struct zk_assignment cur = { r12, 2, NULL, 0, NULL, 0 };
	struct controller_move m;

	(void)state;
	/* [1,2] -> [2,3]: RS [2,3,1], adding [3], removing [1]. */
	assert_int_equal(controller_plan_move(&cur, (int32_t[]){ 2, 3 }, 2, live, 4, &m), 0);
	expect_ids(m.replicas, m.n_replicas, (int32_t[]){ 2, 3, 1 }, 3);
	expect_ids(m.adding, m.n_adding, (int32_t[]){ 3 }, 1);
	expect_ids(m.removing, m.n_removing, (int32_t[]){ 1 }, 1);
	assert_int_equal(m.n_dropped, 0);
	controller_move_clear(&m);

	/* In progress ([2,3,1] adding 3 removing 1), replaced by [4,1]: ORS
	 * is [2,1]; RS [4,1,2], adding [4], removing [2]; 3, added by the
	 * first move and not wanted, is dropped at once. */
	{
		int32_t rs[] = { 2, 3, 1 }, ad[] = { 3 }, rm[] = { 1 };
		struct zk_assignment moving = { rs, 3, ad, 1, rm, 1 };

		assert_int_equal(controller_plan_move(&moving, (int32_t[]){ 4, 1 }, 2, live, 4, &m),
				 0);
		expect_ids(m.replicas, m.n_replicas, (int32_t[]){ 4, 1, 2 }, 3);
		expect_ids(m.adding, m.n_adding, (int32_t[]){ 4 }, 1);
		expect_ids(m.removing, m.n_removing, (int32_t[]){ 2 }, 1);
		expect_ids(m.dropped, m.n_dropped, (int32_t[]){ 3 }, 1);
		controller_move_clear(&m);

		/* Cancel: back to ORS [2,1], nothing adding or removing, 3
		 * dropped. */
		assert_int_equal(controller_plan_move(&moving, NULL, 0, live, 4, &m), 0);
		expect_ids(m.replicas, m.n_replicas, (int32_t[]){ 2, 1 }, 2);
		assert_int_equal(m.n_adding, 0);
		assert_int_equal(m.n_removing, 0);
		expect_ids(m.dropped, m.n_dropped, (int32_t[]){ 3 }, 1);
		controller_move_clear(&m);

		/* The same target again: the same plan (nothing new), with
		 * 3, being added, down meanwhile (a new controller reads the
		 * request again). */
		assert_int_equal(controller_plan_move(&moving, (int32_t[]){ 2, 3 }, 2,
						      (int32_t[]){ 1, 2 }, 2, &m),
				 0);
		expect_ids(m.replicas, m.n_replicas, rs, 3);
		expect_ids(m.adding, m.n_adding, ad, 1);
		expect_ids(m.removing, m.n_removing, rm, 1);
		assert_int_equal(m.n_dropped, 0);
		controller_move_clear(&m);
	}

	/* A new order only: nothing to add or remove. */
	assert_int_equal(controller_plan_move(&cur, (int32_t[]){ 2, 1 }, 2, live, 4, &m), 0);
	expect_ids(m.replicas, m.n_replicas, (int32_t[]){ 2, 1 }, 2);
	assert_int_equal(m.n_adding + m.n_removing + m.n_dropped, 0);
	controller_move_clear(&m);

	/* Refusals: Kafka's INVALID_REPLICA_ASSIGNMENT (empty, twice,
	 * negative, a broker to add not registered; one already a replica
	 * may be down) and NO_REASSIGNMENT_IN_PROGRESS. */
	assert_int_equal(controller_plan_move(&cur, (int32_t[]){ 1 }, 0, live, 4, &m), -EINVAL);
	assert_int_equal(controller_plan_move(&cur, (int32_t[]){ 3, 3 }, 2, live, 4, &m), -EINVAL);
	assert_int_equal(controller_plan_move(&cur, (int32_t[]){ 2, -1 }, 2, live, 4, &m), -EINVAL);
	assert_int_equal(controller_plan_move(&cur, (int32_t[]){ 2, 5 }, 2, live, 4, &m),
			 -EHOSTUNREACH);
	assert_int_equal(
		controller_plan_move(&cur, (int32_t[]){ 1, 3 }, 2, (int32_t[]){ 3 }, 1, &m), 0);
	controller_move_clear(&m);
	assert_int_equal(controller_plan_move(&cur, NULL, 0, live, 4, &m), -EALREADY);
}

/* When a move may complete, and the leader it leaves. */
static void test_move_completion_and_leader(void **state)
{
	int32_t rs[] = { 2, 3, 1 }, ad[] = { 3 }, rm[] = { 1 }, trs[3];
	struct zk_assignment a = { rs, 3, ad, 1, rm, 1 };
	int32_t isr12[] = { 1, 2 }, isr123[] = { 1, 2, 3 }, isr31[] = { 3, 1 };
	struct zk_partition_state cur = { .controller_epoch = 1, .leader = 1, .leader_epoch = 4 };
	struct zk_partition_state next;
	int32_t live[] = { 1, 2, 3 };
	struct controller_brokers b = { live, 3, NULL, 0, NULL, 0 };

	(void)state;
	assert_int_equal(controller_move_target(&a, trs), 2);
	expect_ids(trs, 2, (int32_t[]){ 2, 3 }, 2);
	/* Not before 3 is in the ISR; then at once. */
	cur.isr = isr12;
	cur.n_isr = 2;
	assert_false(controller_move_caught_up(&a, &cur));
	cur.isr = isr123;
	cur.n_isr = 3;
	assert_true(controller_move_caught_up(&a, &cur));

	/* The start: leader 1 is one of RS, kept in a new epoch, ISR as is. */
	assert_int_equal(controller_decide_move(&cur, rs, 3, &b, &next), 1);
	assert_int_equal(next.leader, 1);
	assert_int_equal(next.leader_epoch, 5);
	expect_isr(&next, isr123, 3);
	zk_partition_state_clear(&next);

	/* The end: 1 is not of TRS: the first of TRS in the ISR and live
	 * leads (2), and the ISR loses 1. */
	assert_int_equal(controller_decide_move(&cur, trs, 2, &b, &next), 1);
	assert_int_equal(next.leader, 2);
	assert_int_equal(next.leader_epoch, 5);
	expect_isr(&next, (int32_t[]){ 2, 3 }, 2);
	zk_partition_state_clear(&next);

	/* 2 dead: 3 (TRS order, live, in the ISR). */
	b.n_live = 2;
	live[1] = 3;
	assert_int_equal(controller_decide_move(&cur, trs, 2, &b, &next), 1);
	assert_int_equal(next.leader, 3);
	expect_isr(&next, (int32_t[]){ 2, 3 }, 2);
	zk_partition_state_clear(&next);

	/* A leader of TRS that is live stays, in a new epoch (Kafka bumps it
	 * so that the replicas hear the new replica set). */
	cur.leader = 3;
	cur.isr = isr31;
	cur.n_isr = 2;
	assert_int_equal(controller_decide_move(&cur, (int32_t[]){ 3, 1 }, 2, &b, &next), 1);
	assert_int_equal(next.leader, 3);
	assert_int_equal(next.leader_epoch, 5);
	expect_isr(&next, isr31, 2);
	zk_partition_state_clear(&next);

	/* No replica of the set live and in the ISR: nothing (wait). */
	cur.leader = 1;
	cur.isr = isr12;
	cur.n_isr = 2;
	live[0] = 3;
	b.n_live = 1;
	assert_int_equal(controller_decide_move(&cur, trs, 2, &b, &next), -EAGAIN);
	assert_null(next.isr);

	/* A move started, replaced or cancelled with RS [2,3] then (1
	 * dropped): its replica stopped, leader 1 leaves the ISR and the
	 * leadership, in a new epoch (Kafka's OfflineReplica); none of RS
	 * can lead: offline. */
	assert_int_equal(controller_decide_move_start(&cur, trs, 2, &b, &next), 1);
	assert_int_equal(next.leader, ZK_LEADER_NONE);
	assert_int_equal(next.leader_epoch, 5);
	expect_isr(&next, (int32_t[]){ 2 }, 1);
	zk_partition_state_clear(&next);
	/* RS [2]: the ISR keeps its last member (never emptied). */
	cur.isr = isr31;
	assert_int_equal(controller_decide_move_start(&cur, (int32_t[]){ 2 }, 1, &b, &next), 1);
	assert_int_equal(next.leader, ZK_LEADER_NONE);
	expect_isr(&next, (int32_t[]){ 1 }, 1);
	zk_partition_state_clear(&next);
	/* A dead leader of RS stays (the election writes nothing); the ISR
	 * still loses the dropped replica. */
	assert_int_equal(controller_decide_move_start(&cur, (int32_t[]){ 1, 2 }, 2, &b, &next), 1);
	assert_int_equal(next.leader, 1);
	expect_isr(&next, (int32_t[]){ 1 }, 1);
	zk_partition_state_clear(&next);
	cur.isr = isr12;
	cur.n_isr = 1; /* [1] */
	assert_int_equal(controller_decide_move_start(&cur, (int32_t[]){ 1, 2 }, 2, &b, &next), 0);
	/* One of RS can lead: as controller_decide_move. */
	live[0] = 2;
	cur.n_isr = 2;
	assert_int_equal(controller_decide_move_start(&cur, trs, 2, &b, &next), 1);
	assert_int_equal(next.leader, 2);
	expect_isr(&next, (int32_t[]){ 2 }, 1);
	zk_partition_state_clear(&next);
}

/* The leader's half of an ISR change (Kafka's Partition.expandIsr in the
 * ZooKeeper era): a guarded write of its own, then the notification. */
static void leader_sets_isr(struct zkc *zkc, const char *topic, int32_t p, const int32_t *isr,
			    int n)
{
	struct zk_partition_state s;
	struct zk_tp tp = { (char *)topic, p };
	struct zk_isr_change c = { &tp, 1 };
	int32_t version;

	wait_state(zkc, topic, p, 0, -2, &s, &version);
	free(s.isr);
	s.isr = (int32_t *)isr;
	s.n_isr = n;
	assert_int_equal(
		zkmeta_update_partition_state(zkc, topic, p, &s, version, ZKC_ANY_VERSION, NULL),
		0);
	assert_int_equal(zkmeta_notify_isr_change(zkc, &c), 0);
}

/* Topic creation, one controller elected, a broker lost and back, its
 * ISR rejoined, and leadership given back to it by the rebalance. */
static void test_topic_broker_loss_and_rebalance(void **state)
{
	int32_t replicas[9], brokers[] = { 1, 2, 3 };
	struct zk_partition_state s;
	struct controller_info info, other;
	struct node *a, *b;
	int p, i;

	(void)state;
	cluster_start("/t_loss", 2, true);
	a = wait_active();
	b = a == &nodes[1] ? &nodes[2] : &nodes[1];
	controller_get_info(a->ctl, &info);
	assert_true(info.epoch >= 1);
	/* The loser follows the winner. */
	wait_info(b->ctl, follows, a->id, &other);
	assert_int_equal(controller_controlled_shutdown(b->ctl, 3, NULL), -EAGAIN);

	/* replicas: [1,2,3] [2,3,1] [3,1,2]. */
	assert_int_equal(controller_assign_replicas(brokers, NULL, 3, 0, 3, 3, 0, 0, replicas), 0);
	create_topic(nodes[3].zkc, "orders", replicas, 3, 3);
	for (p = 0; p < 3; p++) {
		wait_state(nodes[3].zkc, "orders", p, 0, -2, &s, NULL);
		assert_int_equal(s.leader, replicas[p * 3]);
		assert_int_equal(s.leader_epoch, 0);
		assert_int_equal(s.controller_epoch, info.epoch);
		expect_isr(&s, &replicas[p * 3], 3);
		zk_partition_state_clear(&s);
		for (i = 1; i <= 3; i++) {
			assert_true(
				rec_wait(&a->rec, REC_LISR, i, "orders", p, replicas[p * 3], 0));
			assert_true(
				rec_wait(&a->rec, REC_META, i, "orders", p, replicas[p * 3], 0));
		}
	}
	/* Only the controller talks to brokers. */
	assert_int_equal(b->rec.n, 0);

	/* Broker 3 dies: orders-2 (led by 3) goes to 1, the next of [3,1,2]
	 * in the ISR; every ISR loses 3; every epoch moves to 1. */
	node_kill(&nodes[3]);
	wait_state(nodes[1].zkc, "orders", 2, 1, -2, &s, NULL);
	assert_int_equal(s.leader, 1);
	assert_int_equal(s.leader_epoch, 1);
	expect_isr(&s, (int32_t[]){ 1, 2 }, 2);
	zk_partition_state_clear(&s);
	wait_state(nodes[1].zkc, "orders", 0, 1, -2, &s, NULL);
	assert_int_equal(s.leader, 1);
	expect_isr(&s, (int32_t[]){ 1, 2 }, 2);
	zk_partition_state_clear(&s);
	wait_state(nodes[1].zkc, "orders", 1, 1, -2, &s, NULL);
	assert_int_equal(s.leader, 2);
	expect_isr(&s, (int32_t[]){ 2, 1 }, 2);
	zk_partition_state_clear(&s);
	/* One partition got a new leader (orders-2), from its ISR. */
	wait_info(a->ctl, elections_are, 1, &info);
	assert_int_equal(info.unclean_elections, 0);
	for (p = 0; p < 3; p++)
		for (i = 1; i <= 2; i++)
			assert_true(rec_wait(&a->rec, REC_LISR, i, "orders", p, -2, 1));
	assert_int_equal(rec_count(&a->rec, REC_LISR, 3, "orders", 2, -2, 1), 0);

	/* Broker 3 returns: it hears of its partitions, still outside the
	 * ISRs (only a leader puts it back). */
	node_register(&nodes[3]);
	for (p = 0; p < 3; p++)
		assert_true(rec_wait(&a->rec, REC_LISR, 3, "orders", p, -2, 1));
	wait_state(nodes[1].zkc, "orders", 2, 1, -2, &s, NULL);
	assert_int_equal(s.leader, 1);
	assert_int_equal(s.leader_epoch, 1);
	zk_partition_state_clear(&s);

	/* The leader of orders-2 takes 3 back into its ISR and says so: the
	 * controller passes it on, and the rebalance (3 leads none of the
	 * partitions it is preferred for) makes 3 the leader again. */
	leader_sets_isr(nodes[1].zkc, "orders", 2, (int32_t[]){ 1, 2, 3 }, 3);
	wait_state(nodes[1].zkc, "orders", 2, 2, 3, &s, NULL);
	assert_int_equal(s.leader_epoch, 2);
	expect_isr(&s, (int32_t[]){ 1, 2, 3 }, 3);
	zk_partition_state_clear(&s);
	for (i = 1; i <= 3; i++)
		assert_true(rec_wait(&a->rec, REC_LISR, i, "orders", 2, 3, 2));
	/* The others lead where they are preferred: untouched. */
	wait_state(nodes[1].zkc, "orders", 0, 1, 1, &s, NULL);
	assert_int_equal(s.leader_epoch, 1);
	zk_partition_state_clear(&s);
	assert_int_equal(b->rec.n, 0);
	/* The preferred election is the second one; the loser counts none. */
	wait_info(a->ctl, elections_are, 2, &info);
	controller_get_info(b->ctl, &other);
	assert_int_equal(other.leader_elections, 0);
	cluster_stop();
}

/* Unclean election off: partitions whose whole ISR died go offline and
 * come back with that broker, even with another replica alive. */
static void test_offline_and_back(void **state)
{
	int32_t solo[] = { 3 }, pair[] = { 3, 2 };
	struct zk_partition_state s;
	struct controller_info info;
	struct node *a;

	(void)state;
	cluster_start("/t_offline", 1, false);
	a = wait_active();
	create_topic(nodes[2].zkc, "solo", solo, 1, 1);
	create_topic(nodes[2].zkc, "pair", pair, 1, 2);
	wait_created(nodes[2].zkc, "solo", 1);
	/* The leader of pair-0 dropped 2 from its ISR. */
	leader_sets_isr(nodes[2].zkc, "pair", 0, (int32_t[]){ 3 }, 1);
	assert_true(rec_wait_isr(&a->rec, 2, "pair", 0, 1));

	node_kill(&nodes[3]);
	wait_state(nodes[2].zkc, "solo", 0, 1, ZK_LEADER_NONE, &s, NULL);
	expect_isr(&s, (int32_t[]){ 3 }, 1);
	zk_partition_state_clear(&s);
	wait_state(nodes[2].zkc, "pair", 0, 1, ZK_LEADER_NONE, &s, NULL);
	expect_isr(&s, (int32_t[]){ 3 }, 1);
	assert_int_equal(s.leader_epoch, 1);
	zk_partition_state_clear(&s);
	assert_true(rec_wait(&a->rec, REC_LISR, 2, "pair", 0, ZK_LEADER_NONE, 1));
	wait_info(a->ctl, offline_count, 2, &info);

	node_register(&nodes[3]);
	wait_state(nodes[2].zkc, "solo", 0, 2, 3, &s, NULL);
	expect_isr(&s, (int32_t[]){ 3 }, 1);
	zk_partition_state_clear(&s);
	wait_state(nodes[2].zkc, "pair", 0, 2, 3, &s, NULL);
	expect_isr(&s, (int32_t[]){ 3 }, 1);
	assert_int_equal(s.leader_epoch, 2);
	zk_partition_state_clear(&s);
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "solo", 0, 3, 2));
	assert_true(rec_wait(&a->rec, REC_LISR, 2, "pair", 0, 3, 2));
	/* Going offline elects nobody; coming back elects 3 twice. */
	wait_info(a->ctl, elections_are, 2, &info);
	assert_int_equal(info.unclean_elections, 0);
	cluster_stop();
}

/* A broker asks to shut down: leadership moves first, then the answer. */
static void test_controlled_shutdown(void **state)
{
	int32_t cs[] = { 1, 2, 3, 2, 3, 1, 3, 1, 2 }, one[] = { 2 };
	struct controller_tp *left;
	struct zk_partition_state s;
	struct node *a;
	int p;

	(void)state;
	cluster_start("/t_shutdown", 1, false);
	a = wait_active();
	create_topic(nodes[3].zkc, "cs", cs, 3, 3);
	create_topic(nodes[3].zkc, "one", one, 1, 1);
	wait_created(nodes[3].zkc, "cs", 3);
	wait_created(nodes[3].zkc, "one", 1);
	assert_int_equal(controller_controlled_shutdown(a->ctl, 9, NULL), -ENOENT);

	/* cs-1 was led by 2: now by 3, and 2 hears it no longer leads. It
	 * stops following cs-0 and cs-2 and leaves their ISRs. The
	 * single-replica one-0 cannot move: it is the answer (Kafka's). The
	 * answer comes after the writes: no waiting below. */
	assert_int_equal(controller_controlled_shutdown(a->ctl, 2, &left), 1);
	assert_string_equal(left[0].topic, "one");
	assert_int_equal(left[0].partition, 0);
	free(left);
	wait_state(nodes[3].zkc, "cs", 1, 1, 3, &s, NULL);
	assert_int_equal(s.leader_epoch, 1);
	expect_isr(&s, (int32_t[]){ 3, 1 }, 2);
	zk_partition_state_clear(&s);
	wait_state(nodes[3].zkc, "cs", 0, 1, 1, &s, NULL);
	expect_isr(&s, (int32_t[]){ 1, 3 }, 2);
	zk_partition_state_clear(&s);
	wait_state(nodes[3].zkc, "one", 0, 0, 2, &s, NULL);
	assert_int_equal(s.leader_epoch, 0);
	zk_partition_state_clear(&s);
	for (p = 0; p < 3; p += 2) {
		assert_int_equal(rec_count(&a->rec, REC_STOP, 2, "cs", p, -2, -1), 1);
		assert_int_equal(rec_count(&a->rec, REC_LISR, 2, "cs", p, -2, 1), 0);
	}
	assert_int_equal(rec_count(&a->rec, REC_STOP, 2, "cs", 1, -2, -1), 0);
	assert_int_equal(rec_count(&a->rec, REC_STOP, 2, "one", 0, -2, -1), 0);
	for (p = 1; p <= 3; p++)
		assert_int_equal(rec_count(&a->rec, REC_LISR, p, "cs", 1, 3, 1), 1);
	/* Asked again: nothing more to move, nothing rewritten. */
	assert_int_equal(controller_controlled_shutdown(a->ctl, 2, NULL), 1);
	wait_state(nodes[3].zkc, "cs", 1, 1, 3, &s, NULL);
	assert_int_equal(s.leader_epoch, 1);
	zk_partition_state_clear(&s);
	cluster_stop();
}

/* ElectLeaders as Kafka's ZooKeeper-mode controller runs it: only the
 * controller elects; each partition's answer says whether an election
 * was needed and possible; a preferred election brings leadership back to
 * the first replica once it is live and in the ISR; an unclean one takes
 * an offline partition's live replica from outside the ISR. */
static void elect(struct controller *ctl, bool unclean, const char *topic, int32_t p, int want_rc,
		  int want_result)
{
	struct controller_election e = { .partition = p };

	snprintf(e.topic, sizeof(e.topic), "%s", topic);
	assert_int_equal(controller_elect_leaders(ctl, unclean, &e, 1), want_rc);
	if (want_rc == 0)
		assert_int_equal(e.result, want_result);
}

/* A preferred (or unclean) election of topic-p, asked again until the
 * controller has read the ISR change (or the registration) that makes it
 * possible (the UpdateMetadata it then sends looks like the one before
 * it: nothing else to wait for). */
static void elect_once_known(struct controller *ctl, bool unclean, const char *topic, int32_t p)
{
	int64_t end = now_mono_ms() + WAIT_MS;
	struct controller_election e = { .partition = p };

	snprintf(e.topic, sizeof(e.topic), "%s", topic);
	for (;;) {
		assert_int_equal(controller_elect_leaders(ctl, unclean, &e, 1), 0);
		if (e.result != -EHOSTUNREACH)
			break;
		assert_true(now_mono_ms() < end);
		pause_ms(10);
	}
	assert_int_equal(e.result, 0);
}

static void test_elect_leaders(void **state)
{
	struct controller_election some[3] = { { "el", 0, 1 }, { "nope", 0, 1 }, { "el", 7, 1 } };
	int32_t el[] = { 1, 2, 3 }, pair[] = { 3, 2 }, lone[] = { 3, 1 }, solo[] = { 3 };
	struct zk_partition_state s;
	struct controller_info info;
	struct node *a, *b;

	(void)state;
	cluster_start("/t_elect", 2, false);
	a = wait_active();
	b = a == &nodes[1] ? &nodes[2] : &nodes[1];
	wait_info(b->ctl, follows, a->id, &info);
	create_topic(nodes[3].zkc, "el", el, 1, 3);
	create_topic(nodes[3].zkc, "pair", pair, 1, 2);
	create_topic(nodes[3].zkc, "lone", lone, 1, 2);
	create_topic(nodes[3].zkc, "solo", solo, 1, 1);
	wait_created(nodes[3].zkc, "el", 1);
	wait_created(nodes[3].zkc, "pair", 1);
	wait_created(nodes[3].zkc, "lone", 1);
	wait_created(nodes[3].zkc, "solo", 1);

	/* Not the controller: NOT_CONTROLLER for the whole request. */
	elect(b->ctl, false, "el", 0, -EAGAIN, 0);
	/* The preferred replica leads already; unknown partitions. */
	assert_int_equal(controller_elect_leaders(a->ctl, false, some, 3), 0);
	assert_int_equal(some[0].result, -EALREADY);
	assert_int_equal(some[1].result, -ENOENT);
	assert_int_equal(some[2].result, -ENOENT);

	/* lone-0's leader drops 1 from its ISR; then broker 3 dies: pair-0
	 * goes to 2, solo-0 and lone-0 go offline (unclean election off). */
	leader_sets_isr(nodes[3].zkc, "lone", 0, (int32_t[]){ 3 }, 1);
	assert_true(rec_wait_isr(&a->rec, 1, "lone", 0, 1));
	node_kill(&nodes[3]);
	wait_state(nodes[1].zkc, "pair", 0, 1, 2, &s, NULL);
	zk_partition_state_clear(&s);
	wait_state(nodes[1].zkc, "solo", 0, 1, ZK_LEADER_NONE, &s, NULL);
	zk_partition_state_clear(&s);
	wait_state(nodes[1].zkc, "lone", 0, 1, ZK_LEADER_NONE, &s, NULL);
	zk_partition_state_clear(&s);

	/* Unclean: no live replica; 1 from outside the ISR; a live leader. */
	elect(a->ctl, true, "solo", 0, 0, -EHOSTUNREACH);
	elect(a->ctl, true, "lone", 0, 0, 0);
	wait_state(nodes[1].zkc, "lone", 0, 2, 1, &s, NULL);
	expect_isr(&s, (int32_t[]){ 1 }, 1);
	zk_partition_state_clear(&s);
	elect(a->ctl, true, "el", 0, 0, -EALREADY);
	controller_get_info(a->ctl, &info);
	assert_int_equal(info.unclean_elections, 1);

	/* Preferred: 3 is dead, then live but outside the ISR, then back in
	 * it: only then does it lead pair-0 again. */
	elect(a->ctl, false, "pair", 0, 0, -EHOSTUNREACH);
	node_register(&nodes[3]);
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "pair", 0, -2, 1));
	elect(a->ctl, false, "pair", 0, 0, -EHOSTUNREACH);
	leader_sets_isr(nodes[2].zkc, "pair", 0, (int32_t[]){ 2, 3 }, 2);
	elect_once_known(a->ctl, false, "pair", 0);
	wait_state(nodes[1].zkc, "pair", 0, 2, 3, &s, NULL);
	assert_int_equal(s.leader_epoch, 2);
	expect_isr(&s, (int32_t[]){ 2, 3 }, 2);
	zk_partition_state_clear(&s);
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "pair", 0, 3, 2));
	elect(a->ctl, false, "pair", 0, 0, -EALREADY);
	cluster_stop();
}

/* KIP-966: a broker back from an unclean restart is in the ISR again but
 * has not yet said it caught up (its registration still names the
 * partition): while an eligible ISR member lives, the controller elects
 * that one; when the ineligible one is the only live ISR member left, it
 * leads (a recovery: waiting would keep the partition offline for good,
 * none catching up without a leader), never counted as unclean. */
static void test_ineligible_not_elected(void **state)
{
	int32_t r[] = { 3, 2, 1 };
	struct zk_partition_state s;
	struct controller_info info;
	struct node *a;

	(void)state;
	cluster_start("/t_inel", 1, false);
	a = wait_active();
	create_topic(nodes[1].zkc, "trio", r, 1, 3);
	wait_created(nodes[1].zkc, "trio", 1);
	node_kill(&nodes[3]);
	wait_state(nodes[1].zkc, "trio", 0, 1, 2, &s, NULL);
	expect_isr(&s, (int32_t[]){ 2, 1 }, 2);
	zk_partition_state_clear(&s);
	node_register_ineligible(&nodes[3], "trio", 0);
	/* The leader takes it back into the ISR (it fetched to the end). */
	leader_sets_isr(nodes[2].zkc, "trio", 0, (int32_t[]){ 2, 1, 3 }, 3);
	assert_true(rec_wait_isr(&a->rec, 3, "trio", 0, 3));
	/* The leader dies: 1 (eligible) is elected, not 3 (first in order). */
	node_kill(&nodes[2]);
	wait_state(nodes[1].zkc, "trio", 0, 2, 1, &s, NULL);
	expect_isr(&s, (int32_t[]){ 1, 3 }, 2);
	zk_partition_state_clear(&s);
	wait_info(a->ctl, offline_count, 0, &info);
	assert_int_equal(info.unclean_elections, 0);
	cluster_stop();
}

/* A replica whose broker answers KAFKA_STORAGE_ERROR to a LeaderAndIsr
 * (its log did not open) is offline there (Kafka's KIP-112): the
 * partition it leads elects another in-sync replica and it leaves the
 * ISR. An answer from an earlier life of the broker changes nothing. Once
 * it answers that it took the partition, it may lead again. */
static void test_storage_error_moves_leader(void **state)
{
	int32_t r[] = { 3, 2, 1 };
	struct controller_tp tp = { "disk", 0 };
	struct zk_partition_state s;
	struct node *a;
	int64_t be;

	(void)state;
	cluster_start("/t_storage", 1, false);
	a = wait_active();
	create_topic(nodes[1].zkc, "disk", r, 1, 3);
	wait_created(nodes[1].zkc, "disk", 1);
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "disk", 0, 3, 0));
	be = rec_broker_epoch(&a->rec, 3, "disk", 0, 0);
	assert_true(be > 0);
	/* Another life's answer first: ignored, so one election follows. */
	assert_int_equal(controller_lisr_answer(a->ctl, 3, be + 1, &tp, 1, NULL, 0), 0);
	assert_int_equal(controller_lisr_answer(a->ctl, 3, be, &tp, 1, NULL, 0), 0);
	wait_state(nodes[1].zkc, "disk", 0, 1, 2, &s, NULL);
	assert_int_equal(s.leader_epoch, 1);
	expect_isr(&s, (int32_t[]){ 2, 1 }, 2);
	zk_partition_state_clear(&s);
	/* Broker 3 hears the new state too, and says it again: nothing more. */
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "disk", 0, 2, 1));
	assert_int_equal(controller_lisr_answer(a->ctl, 3, be, &tp, 1, NULL, 0), 0);
	/* It took it after all: back in the ISR once the leader says so, and
	 * the first in order to lead when the leader dies. */
	assert_int_equal(controller_lisr_answer(a->ctl, 3, be, NULL, 0, &tp, 1), 0);
	leader_sets_isr(nodes[2].zkc, "disk", 0, (int32_t[]){ 2, 1, 3 }, 3);
	assert_true(rec_wait_isr(&a->rec, 3, "disk", 0, 3));
	node_kill(&nodes[2]);
	wait_state(nodes[1].zkc, "disk", 0, 2, 3, &s, NULL);
	assert_int_equal(s.leader_epoch, 2);
	zk_partition_state_clear(&s);
	cluster_stop();
}

static int rec_wait_offline(struct recorder *r, int32_t broker_id, const char *topic,
			    int32_t partition, const int32_t *off, int n_off)
{
	return rec_wait_meta(r, broker_id, topic, partition, -1, off, n_off);
}

/* How many children path has (-1: not there). */
static int children_count(struct zkc *zkc, const char *path)
{
	char **names = NULL;
	int n = zkc_children(zkc, path, &names, NULL, NULL);

	if (n >= 0)
		zkc_names_free(names, n);
	return n < 0 ? -1 : n;
}

/* Kafka's LogDirEventNotification: a broker whose log directory failed
 * writes a notice; the controller deletes it (and one that does not
 * decode) and sends that broker a LeaderAndIsr of its partitions, the
 * one it leads and the one it follows, and no other broker one. Its
 * KAFKA_STORAGE_ERROR answers then move the leadership as for a log that
 * did not open (test_storage_error_moves_leader). */
static void test_log_dir_event(void **state)
{
	int32_t r[] = { 3, 2, 1 }, r2[] = { 1, 3, 2 };
	struct controller_tp tps[] = { { "ld", 0 }, { "ld2", 0 } };
	char path[ZK_PATH_MAX];
	struct zk_partition_state s;
	struct node *a;
	int64_t end, be;
	int n3, n3b, n2;

	(void)state;
	cluster_start("/t_logdir", 1, false);
	a = wait_active();
	create_topic(nodes[1].zkc, "ld", r, 1, 3);
	create_topic(nodes[1].zkc, "ld2", r2, 1, 3);
	wait_created(nodes[1].zkc, "ld", 1);
	wait_created(nodes[1].zkc, "ld2", 1);
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "ld", 0, 3, 0));
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "ld2", 0, 1, 0));
	be = rec_broker_epoch(&a->rec, 3, "ld", 0, 0);
	n3 = rec_count(&a->rec, REC_LISR, 3, "ld", 0, 3, 0);
	n3b = rec_count(&a->rec, REC_LISR, 3, "ld2", 0, 1, 0);
	n2 = rec_count(&a->rec, REC_LISR, 2, "ld", 0, 3, 0);
	snprintf(path, sizeof(path), "%s", ZK_LOG_DIR_EVENT_PREFIX);
	assert_int_equal(zkc_create(nodes[2].zkc, path, "{\"version\":1}", 13,
				    ZKC_SEQUENTIAL | ZKC_PARENTS, NULL, 0),
			 0);
	assert_int_equal(zkmeta_notify_log_dir_failure(nodes[3].zkc, 3), 0);
	end = now_mono_ms() + WAIT_MS;
	while (rec_count(&a->rec, REC_LISR, 3, "ld", 0, 3, 0) == n3 ||
	       rec_count(&a->rec, REC_LISR, 3, "ld2", 0, 1, 0) == n3b) {
		assert_true(now_mono_ms() < end);
		pause_ms(10);
	}
	while (children_count(nodes[1].zkc, ZK_LOG_DIR_EVENT_PATH) != 0) {
		assert_true(now_mono_ms() < end);
		pause_ms(10);
	}
	assert_int_equal(rec_count(&a->rec, REC_LISR, 2, "ld", 0, 3, 0), n2);
	/* Its answers: neither replica can be hosted. */
	assert_int_equal(controller_lisr_answer(a->ctl, 3, be, tps, 2, NULL, 0), 0);
	wait_state(nodes[1].zkc, "ld", 0, 1, 2, &s, NULL);
	expect_isr(&s, (int32_t[]){ 2, 1 }, 2);
	zk_partition_state_clear(&s);
	wait_state(nodes[1].zkc, "ld2", 0, 1, 1, &s, NULL);
	expect_isr(&s, (int32_t[]){ 1, 2 }, 2);
	zk_partition_state_clear(&s);
	/* Every broker hears that broker 3's replicas are offline (Kafka's
	 * UpdateMetadata offline_replicas); a dead broker's count too. */
	for (int32_t id = 1; id <= 3; id++) {
		assert_true(rec_wait_offline(&a->rec, id, "ld", 0, (int32_t[]){ 3 }, 1));
		assert_true(rec_wait_offline(&a->rec, id, "ld2", 0, (int32_t[]){ 3 }, 1));
	}
	node_kill(&nodes[2]);
	assert_true(rec_wait_offline(&a->rec, 1, "ld", 0, (int32_t[]){ 3, 2 }, 2));
	cluster_stop();
}

/* A broker restarts while the controller is busy: when the controller
 * looks, the same id is registered, by a new session. It must not take
 * that for "nothing happened": the restarted broker lost its leaderships
 * and its place in the ISRs, and hears about its partitions again. */
static void test_bounced_broker(void **state)
{
	int32_t r[] = { 3, 1, 2 }, other[] = { 1 };
	struct zk_partition_state s;
	struct node *a;

	(void)state;
	cluster_start("/t_bounce", 1, false);
	a = wait_active();
	create_topic(nodes[2].zkc, "bt", r, 1, 3);
	wait_created(nodes[2].zkc, "bt", 1);

	rec_gate(&a->rec, true);
	create_topic(nodes[2].zkc, "other", other, 1, 1);
	assert_true(rec_wait_held(&a->rec));
	node_kill(&nodes[3]);
	node_register(&nodes[3]);
	rec_gate(&a->rec, false);

	wait_state(nodes[2].zkc, "bt", 0, 1, 1, &s, NULL);
	assert_int_equal(s.leader_epoch, 1);
	expect_isr(&s, (int32_t[]){ 1, 2 }, 2);
	zk_partition_state_clear(&s);
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "bt", 0, 1, 1));
	assert_true(rec_wait(&a->rec, REC_LISR, 2, "bt", 0, 1, 1));
	/* Addressed to its new life: another broker epoch than before. */
	assert_int_not_equal(rec_broker_epoch(&a->rec, 3, "bt", 0, 0),
			     rec_broker_epoch(&a->rec, 3, "bt", 0, 1));
	assert_int_equal(rec_broker_epoch(&a->rec, 2, "bt", 0, 0),
			 rec_broker_epoch(&a->rec, 2, "bt", 0, 1));
	cluster_stop();
}

/* Polls until broker_id was sent something addressed to broker_epoch. */
static int rec_wait_broker_epoch(struct recorder *r, int32_t broker_id, int64_t broker_epoch)
{
	int64_t end = now_mono_ms() + WAIT_MS;
	int found = 0;

	while (!found && now_mono_ms() <= end) {
		pthread_mutex_lock(&r->lock);
		for (int i = 0; i < r->n && !found; i++)
			found = r->v[i].broker_id == broker_id &&
				r->v[i].broker_epoch == broker_epoch;
		pthread_mutex_unlock(&r->lock);
		if (!found)
			pause_ms(10);
	}
	return found;
}

/* Broker 3 restarts, and the controller has dealt with it (it addressed
 * broker 3's new life: the czxid of its new registration). */
static void bounce_broker3(struct node *a)
{
	char path[ZK_PATH_MAX], *data = NULL;
	struct zkc_stat st;
	size_t len;

	node_kill(&nodes[3]);
	node_register(&nodes[3]);
	assert_true(zk_path_broker(path, sizeof(path), 3) >= 0);
	assert_int_equal(zkc_get(nodes[3].zkc, path, &data, &len, &st, NULL, NULL), 0);
	free(data);
	assert_true(rec_wait_broker_epoch(&a->rec, 3, st.czxid));
}

/* Every read of the broker list (each registration that comes, goes or
 * changes) leaves at most one watch armed per registration and one on
 * the list: the count of armed watches on the controller's session does
 * not grow with the number of reads. */
static void test_broker_watches_bounded(void **state)
{
	int32_t r[] = { 1, 3 };
	struct node *a;
	int armed;

	(void)state;
	cluster_start("/t_watches", 1, false);
	a = wait_active();
	create_topic(nodes[1].zkc, "wt", r, 1, 2);
	wait_created(nodes[1].zkc, "wt", 1);
	bounce_broker3(a);
	armed = zkc_watches_armed(a->zkc);
	for (int i = 0; i < 4; i++)
		bounce_broker3(a);
	assert_int_equal(zkc_watches_armed(a->zkc), armed);
	cluster_stop();
}

/* The controller's session expires: the other broker takes over with a
 * higher epoch, the deposed one's writes are refused, the new one goes
 * on, and the old one comes back as a follower. */
static void test_failover(void **state)
{
	int32_t r[] = { 1, 2, 3, 2, 3, 1 };
	struct controller_info old, now;
	struct zk_partition_state s;
	struct node *a, *b;
	struct zkc *stale;
	int32_t version;
	int p;

	(void)state;
	cluster_start("/t_failover", 2, false);
	a = wait_active();
	b = a == &nodes[1] ? &nodes[2] : &nodes[1];
	create_topic(nodes[3].zkc, "fo", r, 2, 3);
	wait_created(nodes[3].zkc, "fo", 2);
	controller_get_info(a->ctl, &old);

	/* a may still think itself active for a moment: it hears of the
	 * expiry through its own queue. */
	assert_int_equal(zkc_expire(a->zkc), 0);
	wait_info(b->ctl, is_active, 1, &now);
	assert_true(now.epoch > old.epoch);
	assert_true(now.epoch_zk_version > old.epoch_zk_version);
	wait_info(a->ctl, is_active, 0, &now);
	assert_true(now.resignations >= 1);

	/* A write under the old office is refused. */
	wait_state(nodes[3].zkc, "fo", 0, 0, -2, &s, &version);
	assert_int_equal(zkmeta_update_partition_state(nodes[3].zkc, "fo", 0, &s, version,
						       old.epoch_zk_version, NULL),
			 -EPERM);
	zk_partition_state_clear(&s);

	/* Broker a's registration went with its session: the new controller
	 * moves its leaderships and drops it from the ISRs. */
	for (p = 0; p < 2; p++) {
		wait_state(nodes[3].zkc, "fo", p, 1, -2, &s, NULL);
		assert_int_not_equal(s.leader, a->id);
		assert_false(s.n_isr == 3);
		controller_get_info(b->ctl, &now);
		assert_int_equal(s.controller_epoch, now.epoch);
		zk_partition_state_clear(&s);
		assert_true(rec_wait(&b->rec, REC_LISR, 3, "fo", p, -2, 1));
	}

	/* a gets a new session: it registers again and follows b. */
	stale = a->zkc;
	node_register(a);
	assert_int_equal(controller_reconnect(a->ctl, a->zkc), 0);
	zkc_close(stale);
	wait_info(a->ctl, follows, b->id, &now);
	assert_true(rec_wait(&b->rec, REC_LISR, a->id, "fo", 0, -2, -1));
	cluster_stop();
}

/* Whether a LeaderAndIsr of topic-p in leader_epoch went to broker_id
 * (1 with is_new set, 0 without), -1 when none did. */
static int rec_lisr_new(struct recorder *r, int32_t broker_id, const char *topic, int32_t p,
			int32_t leader_epoch)
{
	int found = -1;

	pthread_mutex_lock(&r->lock);
	for (int i = 0; i < r->n; i++) {
		const struct sent *s = &r->v[i];

		if (s->kind == REC_LISR && s->broker_id == broker_id && !strcmp(s->topic, topic) &&
		    s->partition == p && s->leader_epoch == leader_epoch)
			found = s->is_new;
	}
	pthread_mutex_unlock(&r->lock);
	return found;
}

/* The controller that made a partition (leader 1, ISR [1,2]) dies with
 * it before broker 2 heard of the partition: broker 2, registered before
 * the partition's state znode was made, cannot have held a log of it, so
 * its LeaderAndIsr as the new leader (epoch 1) says the replica is new
 * (it makes its log rather than refusing a log it never had as lost).
 * Registered again (a restart: its data directory may have been wiped
 * meanwhile), it is not told so any more. */
static void test_new_partition_leader_died_first(void **state)
{
	struct controller_config cfg = config_of(3, false);
	struct controller_channel ch = { rec_lisr, rec_meta, rec_stop, &nodes[3].rec, NULL };
	char path[ZK_PATH_MAX], *data = NULL;
	struct zk_partition_state s;
	struct controller *ctl;
	struct zkc_stat st;
	struct node *a;
	size_t len;
	int n_new = 0;

	(void)state;
	cluster_start("/t_newdied", 1, false);
	a = wait_active();
	assert_ptr_equal(a, &nodes[1]);
	create_topic(nodes[2].zkc, "fresh", (int32_t[]){ 1, 2 }, 1, 2);
	wait_state(nodes[2].zkc, "fresh", 0, 0, 1, &s, NULL);
	zk_partition_state_clear(&s);
	node_kill(&nodes[1]);

	assert_int_equal(controller_start(nodes[3].zkc, &cfg, &ch, &ctl), 0);
	__atomic_store_n(&nodes[3].ctl, ctl, __ATOMIC_RELEASE);
	a = wait_active();
	assert_ptr_equal(a, &nodes[3]);
	wait_state(nodes[2].zkc, "fresh", 0, 1, 2, &s, NULL);
	expect_isr(&s, (int32_t[]){ 2 }, 1);
	zk_partition_state_clear(&s);
	assert_true(rec_wait(&a->rec, REC_LISR, 2, "fresh", 0, 2, 1));
	assert_int_equal(rec_lisr_new(&a->rec, 2, "fresh", 0, 1), 1);

	/* Broker 2 registers anew (a restart): what it is told in its new
	 * life does not say new. */
	node_kill(&nodes[2]);
	node_register(&nodes[2]);
	assert_true(zk_path_broker(path, sizeof(path), 2) >= 0);
	assert_int_equal(zkc_get(nodes[2].zkc, path, &data, &len, &st, NULL, NULL), 0);
	free(data);
	assert_true(rec_wait_broker_epoch(&a->rec, 2, st.czxid));
	pthread_mutex_lock(&a->rec.lock);
	for (int i = 0; i < a->rec.n; i++)
		if (a->rec.v[i].kind == REC_LISR && a->rec.v[i].broker_epoch == st.czxid)
			n_new += a->rec.v[i].is_new;
	pthread_mutex_unlock(&a->rec.lock);
	assert_int_equal(n_new, 0);
	cluster_stop();
}

/* Someone moved /controller_epoch behind the controller's back: its next
 * write is fenced, it resigns, wins again with the current epoch version
 * and then makes the change. */
static void test_fenced_write_resigns(void **state)
{
	int32_t r[] = { 1, 2, 3 };
	struct controller_info before, after;
	struct zk_partition_state s;
	char *data;
	size_t len;
	struct node *a;

	(void)state;
	cluster_start("/t_fence", 1, false);
	a = wait_active();
	create_topic(nodes[2].zkc, "fz", r, 1, 3);
	wait_created(nodes[2].zkc, "fz", 1);
	controller_get_info(a->ctl, &before);
	assert_int_equal(zkc_get(nodes[2].zkc, "/controller_epoch", &data, &len, NULL, NULL, NULL),
			 0);
	assert_int_equal(
		zkc_set(nodes[2].zkc, "/controller_epoch", data, len, ZKC_ANY_VERSION, NULL), 0);
	free(data);

	node_kill(&nodes[3]);
	wait_state(nodes[2].zkc, "fz", 0, 1, 1, &s, NULL);
	expect_isr(&s, (int32_t[]){ 1, 2 }, 2);
	zk_partition_state_clear(&s);
	/* What the controller shows is published after its event. */
	wait_info(a->ctl, epoch_version_above, before.epoch_zk_version, &after);
	assert_true(after.active);
	assert_true(after.resignations >= before.resignations + 1);
	assert_true(after.elections_won >= before.elections_won + 1);
	assert_true(after.epoch_zk_version > before.epoch_zk_version);
	cluster_stop();
}

/* Topics created and grown over racked brokers: the racks come from the
 * registrations; some brokers racked and some not is refused (nothing
 * written), as Kafka's AdminUtils. */
static void test_topic_racks(void **state)
{
	struct controller_config cfg = config_of(1, false);
	struct zkmeta_topic t;
	char why[ZK_WHY_LEN];
	int p;

	(void)state;
	cluster_start("/t_racks", 1, false);
	wait_active();
	node_register_rack(&nodes[1], "r1");
	node_register_rack(&nodes[3], "r2");
	assert_int_equal(controller_create_topic(nodes[2].zkc, &cfg, "mixed", 3, 2, NULL, NULL),
			 -ENOTSUP);
	assert_int_equal(zkmeta_read_topic(nodes[2].zkc, "mixed", &t, why), -ENOENT);
	node_register_rack(&nodes[2], "r1");
	assert_int_equal(controller_create_topic(nodes[2].zkc, &cfg, "racked", 6, 2, NULL, NULL),
			 0);
	wait_created(nodes[2].zkc, "racked", 6);
	/* Broker 2 loses its rack: growing the topic is refused. */
	node_register_rack(&nodes[2], NULL);
	assert_int_equal(controller_add_partitions(nodes[2].zkc, "racked", 9), -ENOTSUP);
	node_register_rack(&nodes[2], "r1");
	assert_int_equal(controller_add_partitions(nodes[2].zkc, "racked", 9), 0);
	assert_int_equal(zkmeta_read_topic(nodes[2].zkc, "racked", &t, why), 0);
	assert_int_equal(t.assignment.n_partitions, 9);
	/* Each partition has one replica in r2 (broker 3) and one in r1. */
	for (p = 0; p < 9; p++) {
		const int32_t *r = t.assignment.partitions[p].replicas;

		assert_int_equal(t.assignment.partitions[p].n_replicas, 2);
		assert_true((r[0] == 3) != (r[1] == 3));
	}
	zkmeta_topic_clear(&t);
	cluster_stop();
}

/* Topic deletion: StopReplica with delete to the replicas, znodes gone;
 * and a topic created through controller_create_topic. */
static void test_topic_deletion(void **state)
{
	struct controller_config cfg = config_of(1, false);
	int32_t gone[] = { 1, 2, 2, 3 };
	struct zkmeta_topic t;
	char why[ZK_WHY_LEN];
	struct node *a;
	int64_t end;
	int p, i;

	(void)state;
	cluster_start("/t_delete", 1, false);
	a = wait_active();
	create_topic(nodes[2].zkc, "gone", gone, 2, 2);
	assert_int_equal(controller_create_topic(nodes[2].zkc, &cfg, "kept", 4, -1, NULL, NULL), 0);
	assert_int_equal(controller_create_topic(nodes[2].zkc, &cfg, "big", 1, 4, NULL, NULL),
			 -EINVAL);
	assert_int_equal(controller_create_topic(nodes[2].zkc, &cfg, "kept", 1, 1, NULL, NULL),
			 -EEXIST);
	assert_int_equal(zkmeta_read_topic(nodes[2].zkc, "kept", &t, why), 0);
	assert_int_equal(t.assignment.n_partitions, 4);
	for (p = 0; p < 4; p++) {
		assert_int_equal(t.assignment.partitions[p].n_replicas, 2);
		assert_int_not_equal(t.assignment.partitions[p].replicas[0],
				     t.assignment.partitions[p].replicas[1]);
	}
	zkmeta_topic_clear(&t);
	wait_created(nodes[2].zkc, "kept", 4);
	wait_created(nodes[2].zkc, "gone", 2);

	/* The deletion waits for its StopReplicas' answers (the channel's
	 * flush) while the topic's znode is still there. */
	pthread_mutex_lock(&a->rec.lock);
	a->rec.flush_zkc = nodes[2].zkc;
	snprintf(a->rec.flush_path, sizeof(a->rec.flush_path), "/brokers/topics/gone");
	pthread_mutex_unlock(&a->rec.lock);
	assert_int_equal(zkmeta_request_delete_topic(nodes[2].zkc, "gone"), 0);
	end = now_mono_ms() + WAIT_MS;
	while (zkc_exists(nodes[2].zkc, "/admin/delete_topics/gone", NULL, NULL, NULL) == 0 &&
	       now_mono_ms() < end)
		pause_ms(10);
	assert_int_equal(zkc_exists(nodes[2].zkc, "/admin/delete_topics/gone", NULL, NULL, NULL),
			 -ENOENT);
	assert_int_equal(zkc_exists(nodes[2].zkc, "/brokers/topics/gone", NULL, NULL, NULL),
			 -ENOENT);
	assert_int_equal(zkc_exists(nodes[2].zkc, "/config/topics/gone", NULL, NULL, NULL),
			 -ENOENT);
	assert_int_equal(zkc_exists(nodes[2].zkc, "/brokers/topics/kept", NULL, NULL, NULL), 0);
	pthread_mutex_lock(&a->rec.lock);
	assert_true(a->rec.flushes_before_gone >= 1);
	a->rec.flush_zkc = NULL;
	pthread_mutex_unlock(&a->rec.lock);
	for (p = 0; p < 2; p++)
		for (i = 0; i < 2; i++) {
			int32_t r = gone[p * 2 + i];
			int k, hits = 0;

			pthread_mutex_lock(&a->rec.lock);
			for (k = 0; k < a->rec.n; k++)
				hits += a->rec.v[k].kind == REC_STOP &&
					a->rec.v[k].broker_id == r &&
					!strcmp(a->rec.v[k].topic, "gone") &&
					a->rec.v[k].partition == p &&
					a->rec.v[k].delete_partition &&
					a->rec.v[k].leader_epoch == CONTROLLER_EPOCH_DURING_DELETE;
			pthread_mutex_unlock(&a->rec.lock);
			assert_int_equal(hits, 1);
		}
	cluster_stop();
}


/* The StopReplica calls with delete for topic to broker_id; *deleting
 * (when not NULL): how many of them say the topic itself is deleted
 * (CONTROLLER_EPOCH_DURING_DELETE, Kafka's EpochDuringDelete). */
static int stop_deletes_of(struct recorder *r, int32_t broker_id, const char *topic, int *deleting)
{
	int hits = 0;

	if (deleting)
		*deleting = 0;
	pthread_mutex_lock(&r->lock);
	for (int k = 0; k < r->n; k++)
		if (r->v[k].kind == REC_STOP && r->v[k].broker_id == broker_id &&
		    !strcmp(r->v[k].topic, topic) && r->v[k].delete_partition) {
			hits++;
			if (deleting && r->v[k].leader_epoch == CONTROLLER_EPOCH_DURING_DELETE)
				(*deleting)++;
		}
	pthread_mutex_unlock(&r->lock);
	return hits;
}

static int stop_deletes(struct recorder *r, int32_t broker_id, const char *topic)
{
	return stop_deletes_of(r, broker_id, topic, NULL);
}

/* Polls until path does not exist. */
static void wait_gone(struct zkc *zkc, const char *path)
{
	int64_t end = now_mono_ms() + WAIT_MS;

	while (zkc_exists(zkc, path, NULL, NULL, NULL) == 0) {
		assert_true(now_mono_ms() < end);
		pause_ms(10);
	}
}

/* Writes /admin/preferred_replica_election naming topic-p (and
 * nope-0, no such partition), as kafka-preferred-replica-election.sh
 * --zookeeper does. */
static void ask_preferred(struct zkc *zkc, const char *topic, int32_t p)
{
	struct zk_tp tps[] = { { (char *)topic, p }, { "nope", 0 } };
	struct zk_isr_change c = { tps, N(tps) };
	char *doc = zk_isr_change_encode(&c);

	assert_non_null(doc);
	assert_int_equal(zkc_create(zkc, ZK_PREFERRED_PATH, doc, strlen(doc), 0, NULL, 0), 0);
	free(doc);
}

/* /admin/preferred_replica_election (Kafka's ZkTriggered preferred
 * election): the partitions named get ElectLeaders' preferred election
 * and the znode is deleted whatever came of them: while the preferred
 * replica is outside the ISR nothing changes; once it is in, it leads;
 * a partition its preferred replica leads already is left as it is; a
 * document that does not decode is deleted; a znode made while there
 * was no controller is read by the next one when it takes office. */
static void test_preferred_znode(void **state)
{
	struct controller_config cfg = config_of(3, false);
	struct controller_channel ch = { rec_lisr, rec_meta, rec_stop, &nodes[3].rec, NULL };
	struct zk_partition_state s;
	struct controller *ctl;
	struct zkc_stat st;
	struct node *a;
	int32_t version;

	(void)state;
	cluster_start("/t_pref", 1, false);
	a = wait_active();
	assert_ptr_equal(a, &nodes[1]);
	create_topic(nodes[3].zkc, "pe", (int32_t[]){ 2, 3 }, 1, 2);
	create_topic(nodes[3].zkc, "ok", (int32_t[]){ 3, 2 }, 1, 2);
	wait_created(nodes[3].zkc, "pe", 1);
	wait_created(nodes[3].zkc, "ok", 1);

	/* Broker 2 dies and comes back: 3 leads pe-0, 2 out of its ISR. */
	node_kill(&nodes[2]);
	wait_state(nodes[3].zkc, "pe", 0, 1, 3, &s, NULL);
	zk_partition_state_clear(&s);
	node_register(&nodes[2]);
	assert_true(rec_wait(&a->rec, REC_LISR, 2, "pe", 0, 3, 1));

	/* 2 is not in the ISR: no election, the znode goes all the same. */
	ask_preferred(nodes[3].zkc, "pe", 0);
	wait_gone(nodes[3].zkc, ZK_PREFERRED_PATH);
	wait_state(nodes[3].zkc, "pe", 0, 1, 3, &s, NULL);
	assert_int_equal(s.leader_epoch, 1);
	zk_partition_state_clear(&s);

	/* In the ISR: 2 leads again (a new epoch told to both). The znode
	 * is watched again after its deletion. */
	leader_sets_isr(nodes[3].zkc, "pe", 0, (int32_t[]){ 3, 2 }, 2);
	assert_true(rec_wait_isr(&a->rec, 2, "pe", 0, 2));
	ask_preferred(nodes[3].zkc, "pe", 0);
	wait_gone(nodes[3].zkc, ZK_PREFERRED_PATH);
	wait_state(nodes[3].zkc, "pe", 0, 2, 2, &s, NULL);
	assert_int_equal(s.leader_epoch, 2);
	zk_partition_state_clear(&s);
	assert_true(rec_wait(&a->rec, REC_LISR, 2, "pe", 0, 2, 2));
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "pe", 0, 2, 2));

	/* ok-0's preferred replica leads: left in its epoch. */
	wait_state(nodes[3].zkc, "ok", 0, 0, 3, &s, &version);
	zk_partition_state_clear(&s);
	ask_preferred(nodes[3].zkc, "ok", 0);
	wait_gone(nodes[3].zkc, ZK_PREFERRED_PATH);
	assert_int_equal(
		zkc_exists(nodes[3].zkc, "/brokers/topics/ok/partitions/0/state", &st, NULL, NULL),
		0);
	assert_int_equal(st.version, version);

	/* Documents that do not decode are removed. */
	assert_int_equal(zkc_create(nodes[3].zkc, ZK_PREFERRED_PATH, "garbage{", 8, 0, NULL, 0), 0);
	wait_gone(nodes[3].zkc, ZK_PREFERRED_PATH);
	assert_int_equal(
		zkc_create(nodes[3].zkc, ZK_PREFERRED_PATH, "{\"version\":1}", 13, 0, NULL, 0), 0);
	wait_gone(nodes[3].zkc, ZK_PREFERRED_PATH);

	/* No controller: 3 takes pe-0's leadership (as a controller that
	 * died would have written it) and the znode is made. The next
	 * controller reads it on taking office and elects 2 again. */
	node_kill(&nodes[1]);
	wait_state(nodes[3].zkc, "pe", 0, 2, 2, &s, &version);
	s.leader = 3;
	s.leader_epoch = 3;
	assert_int_equal(zkmeta_update_partition_state(nodes[3].zkc, "pe", 0, &s, version,
						       ZKC_ANY_VERSION, NULL),
			 0);
	zk_partition_state_clear(&s);
	ask_preferred(nodes[3].zkc, "pe", 0);
	assert_int_equal(controller_start(nodes[3].zkc, &cfg, &ch, &ctl), 0);
	__atomic_store_n(&nodes[3].ctl, ctl, __ATOMIC_RELEASE);
	a = wait_active();
	assert_ptr_equal(a, &nodes[3]);
	wait_gone(nodes[3].zkc, ZK_PREFERRED_PATH);
	wait_state(nodes[3].zkc, "pe", 0, 4, 2, &s, NULL);
	assert_int_equal(s.leader_epoch, 4);
	zk_partition_state_clear(&s);
	assert_true(rec_wait(&a->rec, REC_LISR, 2, "pe", 0, 2, 4));
	cluster_stop();
}

/* A controller killed in the middle of a topic's deletion: it had sent
 * StopReplica and deleted the first partition's znodes (ctrl_delete_topic
 * removes the topic's descendants before the topic), not yet the topic
 * znode nor the request. The next controller finishes the deletion
 * without starting that partition again (Kafka's controller leaves a
 * topic queued for deletion out of its partition state changes): a new
 * state at leader epoch 0 would make its live replica open its deleted
 * log again, led in an epoch older than its own. */
static void test_deletion_resumed_after_crash(void **state)
{
	struct controller_config cfg = config_of(3, false);
	struct controller_channel ch = { rec_lisr, rec_meta, rec_stop, &nodes[3].rec, NULL };
	struct controller *ctl;
	char path[ZK_PATH_MAX];
	struct node *a;

	(void)state;
	cluster_start("/t_delcrash", 1, false);
	a = wait_active();
	assert_ptr_equal(a, &nodes[1]);
	create_topic(nodes[2].zkc, "half", (int32_t[]){ 1, 2, 2, 3 }, 2, 2);
	wait_created(nodes[2].zkc, "half", 2);
	node_kill(&nodes[1]);

	/* What the dead controller left: partition 0's znodes gone. */
	assert_true(zk_path_partition_state(path, sizeof(path), "half", 0) > 0);
	assert_int_equal(zkc_delete(nodes[2].zkc, path, ZKC_ANY_VERSION), 0);
	assert_true(zk_path_partition(path, sizeof(path), "half", 0) > 0);
	assert_int_equal(zkc_delete(nodes[2].zkc, path, ZKC_ANY_VERSION), 0);
	assert_int_equal(zkmeta_request_delete_topic(nodes[2].zkc, "half"), 0);

	assert_int_equal(controller_start(nodes[3].zkc, &cfg, &ch, &ctl), 0);
	__atomic_store_n(&nodes[3].ctl, ctl, __ATOMIC_RELEASE);
	a = wait_active();
	assert_ptr_equal(a, &nodes[3]);
	wait_gone(nodes[2].zkc, "/admin/delete_topics/half");
	assert_int_equal(zkc_exists(nodes[2].zkc, "/brokers/topics/half", NULL, NULL, NULL),
			 -ENOENT);
	/* Partition 1's live replicas are deleted; partition 0 was never
	 * started again (no LeaderAndIsr names it). */
	assert_true(stop_deletes(&a->rec, 2, "half") >= 1);
	assert_true(stop_deletes(&a->rec, 3, "half") >= 1);
	for (int32_t id = 1; id <= 3; id++)
		assert_int_equal(rec_count(&a->rec, REC_LISR, id, "half", 0, -2, -1), 0);
	cluster_stop();
}

/* Znodes written by another client of the ensemble (an operator's zkCli)
 * that do not decode: a partition state of one topic and the assignment
 * of another. A controller that takes over leaves both as they are and
 * does its work for every other topic: it stays in office, elects where a
 * broker died, and an ISR change notification of the bad partition does
 * not make it resign. */
static void test_unreadable_znodes_left_as_they_are(void **state)
{
	static const char garbage[] = "garbage{";
	struct zk_partition_state s;
	struct controller_info info;
	struct zk_tp tp = { (char *)"bad", 0 };
	struct zk_isr_change c = { &tp, 1 };
	struct node *a, *b;
	int32_t replicas[2];
	char *data = NULL;
	size_t len;

	(void)state;
	cluster_start("/t_unreadable", 2, false);
	a = wait_active();
	b = a == &nodes[1] ? &nodes[2] : &nodes[1];
	replicas[0] = 3;
	replicas[1] = b->id;
	create_topic(nodes[3].zkc, "good", replicas, 1, 2);
	create_topic(nodes[3].zkc, "bad", replicas, 1, 2);
	wait_created(nodes[3].zkc, "good", 1);
	wait_created(nodes[3].zkc, "bad", 1);
	assert_int_equal(zkc_set(nodes[3].zkc, "/brokers/topics/bad/partitions/0/state", garbage,
				 strlen(garbage), ZKC_ANY_VERSION, NULL),
			 0);
	assert_int_equal(zkc_create(nodes[3].zkc, "/brokers/topics/junk", garbage, strlen(garbage),
				    0, NULL, 0),
			 0);

	/* The active controller goes: b reads every topic as it takes over. */
	node_kill(a);
	wait_info(b->ctl, is_active, 1, &info);
	/* Broker 3, good-0's leader, dies: b elects itself there. */
	node_kill(&nodes[3]);
	wait_state(b->zkc, "good", 0, 1, b->id, &s, NULL);
	expect_isr(&s, (int32_t[]){ b->id }, 1);
	zk_partition_state_clear(&s);
	/* A notification naming the bad partition: read, logged, left. */
	assert_int_equal(zkmeta_notify_isr_change(b->zkc, &c), 0);
	wait_info(b->ctl, elections_are, 1, &info);
	pause_ms(300);
	controller_get_info(b->ctl, &info);
	assert_true(info.active);
	/* Nothing was written over the bad state. */
	assert_int_equal(zkc_get(b->zkc, "/brokers/topics/bad/partitions/0/state", &data, &len,
				 NULL, NULL, NULL),
			 0);
	assert_int_equal(len, strlen(garbage));
	assert_memory_equal(data, garbage, len);
	free(data);
	/* Asked to delete the topic it left out: its znode goes (the
	 * brokers stop their replicas when they see it gone). A request
	 * for no topic at all is removed. */
	assert_int_equal(zkmeta_request_delete_topic(b->zkc, "junk"), 0);
	assert_int_equal(
		zkc_create(b->zkc, "/admin/delete_topics/nosuch", NULL, 0, ZKC_PARENTS, NULL, 0),
		0);
	wait_gone(b->zkc, "/brokers/topics/junk");
	wait_gone(b->zkc, "/admin/delete_topics/junk");
	wait_gone(b->zkc, "/admin/delete_topics/nosuch");
	controller_get_info(b->ctl, &info);
	assert_true(info.active);
	cluster_stop();
}

/* Partitions added to a topic (controller_add_partitions): the
 * assignment grows with partition 0's replication factor, the controller
 * (watching the topic's data) starts the new partitions and tells their
 * replicas; a count that does not grow, an unknown topic, too few live
 * brokers are refused. */
static void test_add_partitions(void **state)
{
	struct controller_config cfg = config_of(1, false);
	struct zkmeta_topic t;
	char why[ZK_WHY_LEN];
	struct node *a;

	(void)state;
	cluster_start("/t_grow", 1, false);
	a = wait_active();
	assert_int_equal(controller_create_topic(nodes[2].zkc, &cfg, "grow", 2, 2, NULL, NULL), 0);
	wait_created(nodes[2].zkc, "grow", 2);
	assert_int_equal(controller_add_partitions(nodes[2].zkc, "grow", 4), 0);
	wait_created(nodes[2].zkc, "grow", 4);
	assert_int_equal(zkmeta_read_topic(nodes[2].zkc, "grow", &t, why), 0);
	assert_int_equal(t.assignment.n_partitions, 4);
	/* As Kafka's addPartitions: the leaders go on round-robin from
	 * partition 0's (brokers 1, 2, 3), partition p's first replica being
	 * broker (first of partition 0 - 1 + p) % 3 + 1, so that the four
	 * leaders are spread as a topic made with four partitions. */
	int32_t lead0 = t.assignment.partitions[0].replicas[0];
	for (int p = 2; p < 4; p++) {
		const struct zk_assignment *as = &t.assignment.partitions[p];

		assert_int_equal(as->n_replicas, 2);
		assert_int_equal(as->replicas[0], (lead0 - 1 + p) % 3 + 1);
		assert_int_not_equal(as->replicas[0], as->replicas[1]);
		assert_int_equal(rec_wait(&a->rec, REC_LISR, as->replicas[0], "grow", p, -2, 0), 1);
	}
	zkmeta_topic_clear(&t);
	/* Again, once the watch has fired and was armed anew. */
	assert_int_equal(controller_add_partitions(nodes[2].zkc, "grow", 5), 0);
	wait_created(nodes[2].zkc, "grow", 5);
	assert_int_equal(zkmeta_read_topic(nodes[2].zkc, "grow", &t, why), 0);
	assert_int_equal(t.assignment.partitions[4].replicas[0], (lead0 - 1 + 4) % 3 + 1);
	zkmeta_topic_clear(&t);
	assert_int_equal(controller_add_partitions(nodes[2].zkc, "grow", 5), -EINVAL);
	assert_int_equal(controller_add_partitions(nodes[2].zkc, "grow", 3), -EINVAL);
	assert_int_equal(controller_add_partitions(nodes[2].zkc, "nosuch", 3), -ENOENT);
	assert_int_equal(controller_create_topic(nodes[2].zkc, &cfg, "wide", 1, 3, NULL, NULL), 0);
	node_kill(&nodes[3]);
	assert_int_equal(controller_add_partitions(nodes[2].zkc, "wide", 2), -EINVAL);
	cluster_stop();
}

/* Polls until topic-0's assignment is replicas rs (adding ad, removing
 * rm). */
static void wait_assignment(struct zkc *zkc, const char *topic, const int32_t *rs, int n_rs,
			    const int32_t *ad, int n_ad, const int32_t *rm, int n_rm)
{
	int64_t end = now_mono_ms() + WAIT_MS;
	char why[ZK_WHY_LEN];

	for (;;) {
		struct zkmeta_topic t;
		const struct zk_assignment *a;
		bool same;

		assert_int_equal(zkmeta_read_topic(zkc, topic, &t, why), 0);
		a = &t.assignment.partitions[0];
		same = a->n_replicas == n_rs && a->n_adding == n_ad && a->n_removing == n_rm &&
		       !memcmp(a->replicas, rs, (size_t)n_rs * sizeof(*rs)) &&
		       (!n_ad || !memcmp(a->adding, ad, (size_t)n_ad * sizeof(*ad))) &&
		       (!n_rm || !memcmp(a->removing, rm, (size_t)n_rm * sizeof(*rm)));
		zkmeta_topic_clear(&t);
		if (same)
			return;
		assert_true(now_mono_ms() < end);
		pause_ms(10);
	}
}

/* Polls until /admin/reassign_partitions holds n entries; they go out
 * (zk_reassign_clear them). */
static void wait_reassign_entries(struct zkc *zkc, int n, struct zk_reassign *out)
{
	char *data = NULL, why[ZK_WHY_LEN];
	size_t len;

	for (int64_t end = now_mono_ms() + WAIT_MS;; pause_ms(10)) {
		assert_int_equal(zkc_get(zkc, ZK_REASSIGN_PATH, &data, &len, NULL, NULL, NULL), 0);
		assert_int_equal(zk_reassign_decode(data, len, out, why), 0);
		free(data);
		if (out->n == n)
			return;
		zk_reassign_clear(out);
		assert_true(now_mono_ms() < end);
	}
}

/* kafka-reassign-partitions.sh's znode: mv-0 [2,3] -> [3,1] (the leader
 * leaves), with a bad entry; the controller that started the move dies
 * in the middle and the next one finishes it from the topic znode. */
static void test_reassign_znode_and_resume(void **state)
{
	static const char doc[] = "{\"version\":1,\"partitions\":["
				  "{\"topic\":\"mv\",\"partition\":0,\"replicas\":[3,1]},"
				  "{\"topic\":\"nope\",\"partition\":0,\"replicas\":[1]},"
				  "{\"topic\":\"mv\",\"partition\":7,\"replicas\":[1]}]}";
	static const char gone_doc[] = "{\"version\":1,\"partitions\":[{\"topic\":\"gone\","
				       "\"partition\":0,\"replicas\":[2,3]}]}";
	struct controller_config cfg = config_of(3, false);
	struct controller_channel ch = { rec_lisr, rec_meta, rec_stop, &nodes[3].rec, NULL };
	struct zk_partition_state s;
	struct controller *ctl;
	struct zk_reassign r;
	struct node *a;
	int deleting;

	(void)state;
	cluster_start("/t_move", 1, false);
	a = wait_active();
	assert_ptr_equal(a, &nodes[1]);
	create_topic(nodes[2].zkc, "mv", (int32_t[]){ 2, 3 }, 1, 2);
	wait_state(nodes[2].zkc, "mv", 0, 0, 2, &s, NULL);
	zk_partition_state_clear(&s);
	assert_int_equal(zkc_create(nodes[2].zkc, ZK_REASSIGN_PATH, doc, strlen(doc), 0, NULL, 0),
			 0);
	/* Started: RS [3,1,2], a new leader epoch told to the new replica. */
	wait_assignment(nodes[2].zkc, "mv", (int32_t[]){ 3, 1, 2 }, 3, (int32_t[]){ 1 }, 1,
			(int32_t[]){ 2 }, 1);
	assert_true(rec_wait(&a->rec, REC_LISR, 1, "mv", 0, 2, 1));
	wait_state(nodes[2].zkc, "mv", 0, 1, 2, &s, NULL);
	expect_isr(&s, (int32_t[]){ 2, 3 }, 2);
	zk_partition_state_clear(&s);
	/* The refused entries left the znode; the move stays in it. */
	wait_reassign_entries(nodes[2].zkc, 1, &r);
	assert_string_equal(r.parts[0].topic, "mv");
	zk_reassign_clear(&r);

	/* The controller (broker 1, the replica being added) dies; broker 3
	 * takes over and resumes from the topic znode. */
	node_kill(&nodes[1]);
	assert_int_equal(controller_start(nodes[3].zkc, &cfg, &ch, &ctl), 0);
	__atomic_store_n(&nodes[3].ctl, ctl, __ATOMIC_RELEASE);
	a = wait_active();
	assert_ptr_equal(a, &nodes[3]);
	node_register(&nodes[1]);
	assert_true(rec_wait(&a->rec, REC_LISR, 1, "mv", 0, 2, -1));
	/* Not done until 1 is in the ISR. */
	wait_assignment(nodes[2].zkc, "mv", (int32_t[]){ 3, 1, 2 }, 3, (int32_t[]){ 1 }, 1,
			(int32_t[]){ 2 }, 1);
	assert_int_equal(stop_deletes(&a->rec, 2, "mv"), 0);

	/* The leader takes 1 into its ISR: the move completes. 2 is not of
	 * TRS: 3 leads; the ISR loses 2; 2's replica is deleted. */
	leader_sets_isr(nodes[2].zkc, "mv", 0, (int32_t[]){ 2, 3, 1 }, 3);
	wait_assignment(nodes[2].zkc, "mv", (int32_t[]){ 3, 1 }, 2, NULL, 0, NULL, 0);
	wait_state(nodes[2].zkc, "mv", 0, 2, 3, &s, NULL);
	expect_isr(&s, (int32_t[]){ 3, 1 }, 2);
	zk_partition_state_clear(&s);
	for (int64_t end = now_mono_ms() + WAIT_MS; !stop_deletes(&a->rec, 2, "mv"); pause_ms(10))
		assert_true(now_mono_ms() < end);
	/* Moved away, not deleted: the broker keeps the topic. */
	assert_int_equal(stop_deletes_of(&a->rec, 2, "mv", &deleting), 1);
	assert_int_equal(deleting, 0);
	assert_true(rec_wait(&a->rec, REC_LISR, 1, "mv", 0, 3, -1));
	assert_int_equal(rec_count(&a->rec, REC_LISR, 2, "mv", 0, 3, -1), 0);
	wait_gone(nodes[2].zkc, ZK_REASSIGN_PATH);

	/* A document that does not decode is removed. */
	assert_int_equal(
		zkc_create(nodes[2].zkc, ZK_REASSIGN_PATH, "{\"version\":1}", 13, 0, NULL, 0), 0);
	wait_gone(nodes[2].zkc, ZK_REASSIGN_PATH);
	/* A topic deleted in the middle of its move leaves the request. */
	create_topic(nodes[2].zkc, "gone", (int32_t[]){ 1, 3 }, 1, 2);
	wait_created(nodes[2].zkc, "gone", 1);
	assert_int_equal(
		zkc_create(nodes[2].zkc, ZK_REASSIGN_PATH, gone_doc, strlen(gone_doc), 0, NULL, 0),
		0);
	wait_assignment(nodes[2].zkc, "gone", (int32_t[]){ 2, 3, 1 }, 3, (int32_t[]){ 2 }, 1,
			(int32_t[]){ 1 }, 1);
	assert_int_equal(zkmeta_request_delete_topic(nodes[2].zkc, "gone"), 0);
	wait_gone(nodes[2].zkc, ZK_REASSIGN_PATH);
	cluster_stop();
}

static void alter(struct controller *ctl, const char *topic, int32_t p, const int32_t *replicas,
		  int n, int want)
{
	struct controller_reassignment r = { .partition = p,
					     .replicas = replicas,
					     .n_replicas = n };

	snprintf(r.topic, sizeof(r.topic), "%s", topic);
	assert_int_equal(controller_alter_reassignments(ctl, &r, 1), 0);
	assert_int_equal(r.result, want);
}

/* AlterPartitionReassignments' and ListPartitionReassignments' calls:
 * the refusals, a move listed, its cancel, a move that completes at
 * once. */
static void test_reassign_api_and_cancel(void **state)
{
	struct controller_moving *v;
	struct zk_partition_state s;
	struct node *a;
	int n, deleting;

	(void)state;
	cluster_start("/t_alter", 1, false);
	a = wait_active();
	create_topic(nodes[2].zkc, "al", (int32_t[]){ 1, 2 }, 1, 2);
	wait_created(nodes[2].zkc, "al", 1);
	alter(a->ctl, "none", 0, (int32_t[]){ 1 }, 1, -ENOENT);
	alter(a->ctl, "al", 3, (int32_t[]){ 1 }, 1, -ENOENT);
	alter(a->ctl, "al", 0, (int32_t[]){ 1 }, 0, -EINVAL);
	alter(a->ctl, "al", 0, (int32_t[]){ 2, 2 }, 2, -EINVAL);
	alter(a->ctl, "al", 0, (int32_t[]){ 1, 9 }, 2, -EHOSTUNREACH);
	alter(a->ctl, "al", 0, NULL, 0, -EALREADY);
	assert_int_equal(controller_list_reassignments(a->ctl, &v), 0);
	controller_moving_free(v, 0);

	alter(a->ctl, "al", 0, (int32_t[]){ 2, 3 }, 2, 0);
	n = controller_list_reassignments(a->ctl, &v);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].topic, "al");
	expect_ids(v[0].a.replicas, v[0].a.n_replicas, (int32_t[]){ 2, 3, 1 }, 3);
	expect_ids(v[0].a.adding, v[0].a.n_adding, (int32_t[]){ 3 }, 1);
	expect_ids(v[0].a.removing, v[0].a.n_removing, (int32_t[]){ 1 }, 1);
	controller_moving_free(v, n);
	assert_true(rec_wait(&a->rec, REC_LISR, 3, "al", 0, 1, 1));

	/* Cancel: back to ORS, RS less adding ([2,1]: Kafka's
	 * originReplicas, in RS order); 3's new replica deleted. */
	alter(a->ctl, "al", 0, NULL, 0, 0);
	wait_assignment(nodes[2].zkc, "al", (int32_t[]){ 2, 1 }, 2, NULL, 0, NULL, 0);
	/* A replica moved away, not a deletion: its leader epoch, as Kafka
	 * sends it, so the broker keeps the topic. */
	assert_int_equal(stop_deletes_of(&a->rec, 3, "al", &deleting), 1);
	assert_int_equal(deleting, 0);
	assert_int_equal(controller_list_reassignments(a->ctl, &v), 0);
	controller_moving_free(v, 0);

	/* A new order of the same replicas completes at once: 1 leads on
	 * (of TRS, live) in a new epoch. */
	alter(a->ctl, "al", 0, (int32_t[]){ 1, 2 }, 2, 0);
	wait_assignment(nodes[2].zkc, "al", (int32_t[]){ 1, 2 }, 2, NULL, 0, NULL, 0);
	wait_state(nodes[2].zkc, "al", 0, 3, 1, &s, NULL);
	zk_partition_state_clear(&s);
	/* Only the controller moves replicas. */
	{
		struct controller_config cfg = config_of(2, false);
		struct controller_channel ch = { rec_lisr, rec_meta, rec_stop, &nodes[2].rec,
						 NULL };
		struct controller *other;
		struct controller_info info;

		assert_int_equal(controller_start(nodes[2].zkc, &cfg, &ch, &other), 0);
		__atomic_store_n(&nodes[2].ctl, other, __ATOMIC_RELEASE);
		wait_info(other, follows, 1, &info);
		struct controller_reassignment r = { "al", 0, (int32_t[]){ 1, 2 }, 2, 0 };

		assert_int_equal(controller_alter_reassignments(other, &r, 1), -EAGAIN);
		assert_int_equal(controller_list_reassignments(other, &v), -EAGAIN);
	}
	cluster_stop();
}

/* A move asked for in /admin/reassign_partitions and then cancelled
 * (or asked anew) through AlterPartitionReassignments: the latest ask
 * decides, so the partition leaves the znode (Kafka's
 * maybeRemoveFromZkReassignment); left there, a controller that takes
 * over would read it and start the cancelled move again, and the znode
 * would refuse the next kafka-reassign-partitions.sh --zookeeper. */
static void test_reassign_api_overrides_znode(void **state)
{
	static const char doc[] = "{\"version\":1,\"partitions\":["
				  "{\"topic\":\"zc\",\"partition\":0,\"replicas\":[3,2]},"
				  "{\"topic\":\"zc\",\"partition\":1,\"replicas\":[3,2]}]}";
	struct controller_moving *v;
	struct zk_reassign r;
	struct node *a;

	(void)state;
	cluster_start("/t_override", 1, false);
	a = wait_active();
	create_topic(nodes[2].zkc, "zc", (int32_t[]){ 1, 2, 2, 1 }, 2, 2);
	wait_created(nodes[2].zkc, "zc", 2);
	assert_int_equal(zkc_create(nodes[2].zkc, ZK_REASSIGN_PATH, doc, strlen(doc), 0, NULL, 0),
			 0);
	wait_assignment(nodes[2].zkc, "zc", (int32_t[]){ 3, 2, 1 }, 3, (int32_t[]){ 3 }, 1,
			(int32_t[]){ 1 }, 1);
	/* Partition 0's move cancelled: back to [2,1], out of the znode;
	 * partition 1's stays in it (still moving). */
	alter(a->ctl, "zc", 0, NULL, 0, 0);
	wait_assignment(nodes[2].zkc, "zc", (int32_t[]){ 2, 1 }, 2, NULL, 0, NULL, 0);
	wait_reassign_entries(nodes[2].zkc, 1, &r);
	assert_int_equal(r.parts[0].partition, 1);
	zk_reassign_clear(&r);
	/* Partition 1 asked elsewhere through the API: the znode's ask goes,
	 * and the znode with it. */
	alter(a->ctl, "zc", 1, (int32_t[]){ 2, 1 }, 2, 0);
	wait_gone(nodes[2].zkc, ZK_REASSIGN_PATH);
	assert_int_equal(controller_list_reassignments(a->ctl, &v), 0);
	controller_moving_free(v, 0);
	cluster_stop();
}

/* topic-0 made on [3] and moved to [2,1] (RS [2,1,3], 3 leading in
 * epoch 1), 2 caught up (ISR [3,2]), 1 not: the move in the middle. */
static void move_half_done(struct zkc *zkc, struct controller *ctl, const char *topic)
{
	struct zk_partition_state s;

	create_topic(zkc, topic, (int32_t[]){ 3 }, 1, 1);
	wait_created(zkc, topic, 1);
	alter(ctl, topic, 0, (int32_t[]){ 2, 1 }, 2, 0);
	wait_assignment(zkc, topic, (int32_t[]){ 2, 1, 3 }, 3, (int32_t[]){ 2, 1 }, 2,
			(int32_t[]){ 3 }, 1);
	wait_state(zkc, topic, 0, 1, 3, &s, NULL);
	zk_partition_state_clear(&s);
	leader_sets_isr(zkc, topic, 0, (int32_t[]){ 3, 2 }, 2);
}

/* A cancel while an added replica leads (Kafka's cancel: TRS = ORS, the
 * added replicas stopped, then the reassignment election among ORS).
 * ORS [3], TRS [2,1]; 2 catches up and leads. With 3 live and in the
 * ISR, 3 leads again. With 3 dead (2 took over), no replica of ORS can
 * lead: as Kafka, the stopped leader takes the leadership with it
 * (leader -1 in a new epoch, the ISR keeping its last member), rather
 * than a leader that no longer holds the partition; an unclean election
 * brings 3 back as leader. */
static void test_reassign_cancel_added_leader(void **state)
{
	struct zkc *zkc;
	struct zk_partition_state s;
	struct node *a;
	int32_t epoch;

	(void)state;
	cluster_start("/t_cancel", 1, false);
	a = wait_active();
	zkc = nodes[2].zkc;

	/* ck: 3 stays live and in the ISR. */
	move_half_done(zkc, a->ctl, "ck");
	elect_once_known(a->ctl, false, "ck", 0); /* 2, the first of RS, leads */
	wait_state(zkc, "ck", 0, 2, 2, &s, NULL);
	epoch = s.leader_epoch;
	zk_partition_state_clear(&s);
	alter(a->ctl, "ck", 0, NULL, 0, 0);
	wait_assignment(zkc, "ck", (int32_t[]){ 3 }, 1, NULL, 0, NULL, 0);
	wait_state(zkc, "ck", 0, epoch + 1, 3, &s, NULL);
	expect_isr(&s, (int32_t[]){ 3 }, 1);
	zk_partition_state_clear(&s);
	assert_true(stop_deletes(&a->rec, 2, "ck") >= 1);

	/* cx: 3 dies while 2, added, is in the ISR: 2 leads. */
	move_half_done(zkc, a->ctl, "cx");
	node_kill(&nodes[3]);
	wait_state(zkc, "cx", 0, 2, 2, &s, NULL);
	expect_isr(&s, (int32_t[]){ 2 }, 1);
	epoch = s.leader_epoch;
	zk_partition_state_clear(&s);
	/* The cancel: back to [3]; 2's replica is deleted, and with it the
	 * leadership: offline, not led by a broker without the partition. */
	alter(a->ctl, "cx", 0, NULL, 0, 0);
	wait_assignment(zkc, "cx", (int32_t[]){ 3 }, 1, NULL, 0, NULL, 0);
	assert_true(stop_deletes(&a->rec, 2, "cx") >= 1);
	wait_state(zkc, "cx", 0, epoch + 1, -2, &s, NULL);
	assert_int_equal(s.leader, ZK_LEADER_NONE);
	assert_int_equal(s.leader_epoch, epoch + 1);
	expect_isr(&s, (int32_t[]){ 2 }, 1);
	zk_partition_state_clear(&s);
	/* 3 is back, outside the ISR: only an unclean election makes it
	 * lead, from its own log. */
	node_register(&nodes[3]);
	elect_once_known(a->ctl, true, "cx", 0);
	wait_state(zkc, "cx", 0, epoch + 2, 3, &s, NULL);
	expect_isr(&s, (int32_t[]){ 3 }, 1);
	zk_partition_state_clear(&s);
	cluster_stop();
}

static int group_setup(void **state)
{
	for (int i = 0; i < N(nodes); i++) {
		pthread_mutex_init(&nodes[i].rec.lock, NULL);
		pthread_cond_init(&nodes[i].rec.cond, NULL);
	}
	return zksrv_group_setup(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assign_kafka_layout),
		cmocka_unit_test(test_add_partitions),
		cmocka_unit_test(test_assign_spread_and_errors),
		cmocka_unit_test(test_assign_rack_aware),
		cmocka_unit_test(test_topic_racks),
		cmocka_unit_test(test_plan_move),
		cmocka_unit_test(test_move_completion_and_leader),
		cmocka_unit_test(test_decide_live),
		cmocka_unit_test(test_decide_controlled_shutdown),
		cmocka_unit_test(test_decide_preferred),
		cmocka_unit_test(test_imbalance),
		cmocka_unit_test(test_topic_broker_loss_and_rebalance),
		cmocka_unit_test(test_offline_and_back),
		cmocka_unit_test(test_controlled_shutdown),
		cmocka_unit_test(test_elect_leaders),
		cmocka_unit_test(test_preferred_znode),
		cmocka_unit_test(test_bounced_broker),
		cmocka_unit_test(test_ineligible_not_elected),
		cmocka_unit_test(test_storage_error_moves_leader),
		cmocka_unit_test(test_log_dir_event),
		cmocka_unit_test(test_broker_watches_bounded),
		cmocka_unit_test(test_failover),
		cmocka_unit_test(test_new_partition_leader_died_first),
		cmocka_unit_test(test_fenced_write_resigns),
		cmocka_unit_test(test_topic_deletion),
		cmocka_unit_test(test_deletion_resumed_after_crash),
		cmocka_unit_test(test_reassign_znode_and_resume),
		cmocka_unit_test(test_reassign_api_and_cancel),
		cmocka_unit_test(test_reassign_api_overrides_znode),
		cmocka_unit_test(test_reassign_cancel_added_leader),
		cmocka_unit_test(test_unreadable_znodes_left_as_they_are),
	};

	/* TEST_FILTER=test_name runs that test alone (a cmocka pattern). */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, zksrv_group_teardown);
}
