/*
 * test_replica_select.c — repl/replica_select.c on its own: the setting's
 * values, Kafka's RackAwareReplicaSelector and LeaderSelector
 * (ReplicaSelectorTest's cases and ReplicaView.comparator's order), and
 * the leader's choice of a consumer's preferred read replica
 * (ReplicaManager.findPreferredReadReplica: ISR members whose log holds
 * the fetch offset, with an endpoint; the leader is answered as none).
 * Through the Fetch handler: test_replica_mgr.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "repl/replica_select.h"

static struct kstr ks(const char *s)
{
	return (struct kstr){ s, (int32_t)strlen(s) };
}

static void test_parse(void **state)
{
	enum replica_selector s = REPLICA_SELECTOR_RACK_AWARE;

	(void)state;
	assert_int_equal(replica_selector_parse("", &s), 0);
	assert_int_equal(s, REPLICA_SELECTOR_NONE);
	assert_int_equal(replica_selector_parse(REPLICA_SELECTOR_LEADER_CLASS, &s), 0);
	assert_int_equal(s, REPLICA_SELECTOR_LEADER);
	assert_int_equal(replica_selector_parse(REPLICA_SELECTOR_RACK_CLASS, &s), 0);
	assert_int_equal(s, REPLICA_SELECTOR_RACK_AWARE);
	assert_int_equal(replica_selector_parse("RackAwareReplicaSelector", &s), -EINVAL);
	assert_int_equal(replica_selector_parse("com.example.Mine", &s), -EINVAL);
	assert_int_equal(s, REPLICA_SELECTOR_RACK_AWARE);
	assert_string_equal(replica_selector_name(REPLICA_SELECTOR_NONE), "");
	assert_string_equal(replica_selector_name(REPLICA_SELECTOR_RACK_AWARE),
			    REPLICA_SELECTOR_RACK_CLASS);
}

/* ReplicaSelectorTest.replicaInfoSet: (id, rack, LEO, ms since caught
 * up), the leader first. */
static const struct replica_view kafka_set[4] = {
	{ 0, true, "rack-a", 4, 0 },
	{ 1, true, "rack-a", 2, 5 },
	{ 2, true, "rack-b", 3, 3 },
	{ 3, true, "rack-b", 4, 2 },
};

static void test_same_rack_selector(void **state)
{
	(void)state;
	/* rack-b: 3, more caught up than 2. */
	assert_int_equal(replica_select(REPLICA_SELECTOR_RACK_AWARE, ks("rack-b"), kafka_set, 4, 0),
			 3);
	/* No replica in the rack: the leader. */
	assert_int_equal(
		replica_select(REPLICA_SELECTOR_RACK_AWARE, ks("not-a-rack"), kafka_set, 4, 0), 0);
	/* The leader's rack: the leader, though 1 is there too. */
	assert_int_equal(replica_select(REPLICA_SELECTOR_RACK_AWARE, ks("rack-a"), kafka_set, 4, 0),
			 0);
	/* No client rack (empty, or null): the leader. */
	assert_int_equal(replica_select(REPLICA_SELECTOR_RACK_AWARE, ks(""), kafka_set, 4, 0), 0);
	assert_int_equal(replica_select(REPLICA_SELECTOR_RACK_AWARE, (struct kstr){ NULL, -1 },
					kafka_set, 4, 0),
			 0);
	/* A rack name is matched whole. */
	assert_int_equal(replica_select(REPLICA_SELECTOR_RACK_AWARE, ks("rack-"), kafka_set, 4, 0),
			 0);
	assert_int_equal(
		replica_select(REPLICA_SELECTOR_RACK_AWARE, ks("rack-bb"), kafka_set, 4, 0), 0);
}

static void test_leader_and_none(void **state)
{
	(void)state;
	assert_int_equal(replica_select(REPLICA_SELECTOR_LEADER, ks("rack-b"), kafka_set, 4, 0), 0);
	assert_int_equal(replica_select(REPLICA_SELECTOR_NONE, ks("rack-b"), kafka_set, 4, 0), -1);
}

/* ReplicaView.comparator's max: the largest LEO, then the least time
 * since caught up, then the largest id; a replica without a rack is in
 * none. */
static void test_comparator(void **state)
{
	const struct replica_view v[5] = {
		{ 1, true, "x", 10, 0 }, { 2, true, "b", 9, 0 },   { 3, true, "b", 9, 7 },
		{ 4, true, "b", 9, 7 },  { 5, true, NULL, 99, 0 },
	};
	const struct replica_view u[3] = { v[0], v[2], v[3] };
	const struct replica_view w[3] = {
		{ 1, true, "x", 10, 0 },
		{ 7, true, "b", 5, 100 },
		{ 6, true, "b", 5, 50 },
	};

	(void)state;
	assert_int_equal(replica_select(REPLICA_SELECTOR_RACK_AWARE, ks("b"), v, 5, 0), 1);
	assert_int_equal(replica_select(REPLICA_SELECTOR_RACK_AWARE, ks("b"), u, 3, 0), 2);
	assert_int_equal(replica_select(REPLICA_SELECTOR_RACK_AWARE, ks("b"), w, 3, 0), 2);
}

/* A leader (broker 1, LEO 10, log start 0) with followers 2, 3 and 4. */
static struct partition_info leader_info(void)
{
	struct partition_info info;

	memset(&info, 0, sizeof(info));
	info.role = PARTITION_LEADER;
	info.leader = 1;
	info.n_isr = 4;
	info.isr[0] = 1, info.isr[1] = 2, info.isr[2] = 3, info.isr[3] = 4;
	info.offsets = (struct partition_offsets){ 0, 10, 10, 0, false };
	info.n_followers = 3;
	for (int i = 0; i < 3; i++)
		info.followers[i] = (struct partition_replica){ .broker_id = 2 + i,
								.log_end_offset = 10,
								.last_caught_up_ms = 1000,
								.log_start_offset = 0 };
	return info;
}

/* Racks: broker i in "r<i>", broker 4 in r2 too; gone[id]: no endpoint. */
static bool gone[8];

static bool racks(void *arg, int32_t id, int listener, char *rack, size_t cap)
{
	(void)arg;
	assert_int_equal(listener, 1);
	if (gone[id])
		return false;
	snprintf(rack, cap, "r%d", id == 4 ? 2 : (int)id);
	return true;
}

static int32_t pick(const struct partition_info *info, const char *rack, int64_t offset)
{
	return replica_preferred_read(REPLICA_SELECTOR_RACK_AWARE, ks(rack), info, offset, 2000,
				      racks, NULL, 1);
}

static void test_preferred_read(void **state)
{
	struct partition_info info = leader_info();

	(void)state;
	memset(gone, 0, sizeof(gone));
	assert_int_equal(pick(&info, "r3", 5), 3);
	/* The leader's own rack, or none of ours: none (the leader reads). */
	assert_int_equal(pick(&info, "r1", 5), -1);
	assert_int_equal(pick(&info, "r7", 5), -1);
	assert_int_equal(pick(&info, "", 5), -1);
	/* r2 holds 2 and 4, equal: the larger id; 4 further behind in time:
	 * 2; 2 with the larger LEO: 2. */
	assert_int_equal(pick(&info, "r2", 5), 4);
	info.followers[2].last_caught_up_ms = 500;
	assert_int_equal(pick(&info, "r2", 5), 2);
	info = leader_info();
	info.followers[2].log_end_offset = 9;
	assert_int_equal(pick(&info, "r2", 5), 2);
	/* A follower whose log does not hold the fetch offset: the other. */
	info = leader_info();
	info.followers[0].log_end_offset = 4;
	assert_int_equal(pick(&info, "r2", 5), 4);
	assert_int_equal(pick(&info, "r2", 4), 4);
	info.followers[2].log_start_offset = 6;
	assert_int_equal(pick(&info, "r2", 5), -1);
	assert_int_equal(pick(&info, "r2", 6), 4);
	/* Past the leader's end: no follower holds it. */
	info = leader_info();
	assert_int_equal(pick(&info, "r3", 11), -1);
	assert_int_equal(pick(&info, "r3", 10), 3);
}

/* Kafka leaves out followers outside the ISR
 * (testPreferredReplicaAsLeaderWhenSameRackFollowerIsOutOfIsr) and never
 * answers a replica without an endpoint on the fetch's listener; a
 * follower's own answer is none, and so is any with no selector. */
static void test_preferred_read_excluded(void **state)
{
	struct partition_info info = leader_info();

	(void)state;
	memset(gone, 0, sizeof(gone));
	info.n_isr = 3; /* 1, 2, 3 */
	assert_int_equal(pick(&info, "r2", 5), 2);
	info.n_isr = 2; /* 1, 2 */
	assert_int_equal(pick(&info, "r3", 5), -1);
	info = leader_info();
	gone[3] = true;
	assert_int_equal(pick(&info, "r3", 5), -1);
	gone[2] = true;
	assert_int_equal(pick(&info, "r2", 5), 4);
	gone[1] = true; /* the leader without an endpoint: none still */
	assert_int_equal(pick(&info, "r1", 5), -1);
	memset(gone, 0, sizeof(gone));
	info.role = PARTITION_FOLLOWER;
	assert_int_equal(pick(&info, "r3", 5), -1);
	info.role = PARTITION_LEADER;
	assert_int_equal(replica_preferred_read(REPLICA_SELECTOR_NONE, ks("r3"), &info, 5, 2000,
						racks, NULL, 1),
			 -1);
	assert_int_equal(replica_preferred_read(REPLICA_SELECTOR_LEADER, ks("r3"), &info, 5, 2000,
						racks, NULL, 1),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_same_rack_selector),
		cmocka_unit_test(test_leader_and_none),
		cmocka_unit_test(test_comparator),
		cmocka_unit_test(test_preferred_read),
		cmocka_unit_test(test_preferred_read_excluded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
