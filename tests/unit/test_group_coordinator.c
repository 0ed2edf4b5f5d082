/*
 * test_group_coordinator.c — which broker coordinates a consumer group in
 * a cluster (repl/offsets_topic.c, repl/group_serve.c): three brokers in
 * this process over a real ZooKeeper (tests/unit/zksrv.c), PLAINTEXT
 * listeners.
 *   - Kafka's partitionFor: Java's String.hashCode (values printed by a
 *     JVM), Utils.abs, modulo the partitions.
 *   - With one broker alive of offsets.topic.replication.factor 3,
 *     FindCoordinator answers COORDINATOR_NOT_AVAILABLE and
 *     __consumer_offsets is not made.
 *   - With three, every broker answers FindCoordinator with the leader of
 *     the group's partition of __consumer_offsets, with its host and port;
 *     group requests sent to another broker are answered NOT_COORDINATOR,
 *     the coordinator serves them; the mount elsewhere holds a proxy of
 *     the group: its offsets are the coordinator's (OffsetFetch), a reset
 *     there is -EREMOTE.
 *   - A group's offsets committed on its coordinator are loaded by the
 *     next leader of its partition when the coordinator stops, and the
 *     FindCoordinator answer moves there; when the old coordinator comes
 *     back and the partition's leadership returns to it (the controller's
 *     preferred-leader rebalance), the interim leader turns the group
 *     into a proxy (NOT_COORDINATOR to Kafka requests; its mount member
 *     stays and joins the old coordinator, which loads the group with the
 *     interim commits).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/group_int.h"
#include "repl/net.h"
#include "repl/partition.h"
#include "repl/proto.h"
#include "repl/repl.h"
#include "tests/unit/zksrv.h"
#include "util/clock.h"

#define DEADLINE_MS 30000
#define NB          3

static struct zksrv srv;
static char dir[64];
static struct broker_config cfg[NB];
static struct broker *b[NB];
static int port[NB];

static int open_broker(int i)
{
	if (broker_open(&cfg[i], &b[i]) != 0)
		return -1;
	port[i] = cluster_listener_port(b[i]->cluster, 0);
	return port[i] > 0 ? 0 : -1;
}

static int group_setup(void **state)
{
	char text[512], err[256];

	(void)state;
	mq_log_init(MQ_ERR, false);
	if (zksrv_start(&srv) != 0)
		return -1;
	snprintf(dir, sizeof(dir), "/tmp/mqfs-test-gcoord.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (int i = 0; i < NB; i++) {
		broker_config_defaults(&cfg[i]);
		snprintf(text, sizeof(text),
			 "broker.id=%d\nzookeeper.connect=%s/mqfs\n"
			 "listeners=PLAINTEXT://127.0.0.1:0\n"
			 "leader.imbalance.check.interval.seconds=1\n"
			 "default.replication.factor=3\n",
			 i + 1, srv.connect);
		if (broker_config_parse(&cfg[i], text, strlen(text), err, sizeof(err)) != 0) {
			fprintf(stderr, "config: %s\n", err);
			return -1;
		}
		snprintf(cfg[i].data_dir, sizeof(cfg[i].data_dir), "%s/b%d", dir, i + 1);
	}
	return open_broker(0);
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	for (int i = 0; i < NB; i++)
		if (b[i])
			broker_close(b[i]);
	zksrv_stop(&srv);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* FindCoordinator v3 of group on broker i: the node id (-1 on error,
 * the error code in *err when err is not NULL). */
static int32_t find_coord_err(int i, const char *group, int32_t *cport, int16_t *err)
{
	struct kstr k = kstr_of(group);
	struct proto_find_coord_req req = { .key_type = PROTO_COORD_GROUP,
					    .n_keys = 1,
					    .keys = &k };
	struct proto_find_coord_resp r;
	struct net_client *c;
	struct net_resp raw;
	struct kbuf_w w;
	int32_t node = -1;

	assert_int_equal(net_client_connect("127.0.0.1", port[i], 5000, &c), 0);
	kbuf_w_init(&w, 256);
	assert_int_equal(proto_find_coord_req_encode(&w, 3, &req), 0);
	assert_int_equal(
		net_client_call(c, PROTO_API_FIND_COORDINATOR, 3, w.buf, w.len, 0, 5000, &raw), 0);
	kbuf_w_free(&w);
	assert_int_equal(proto_find_coord_resp_decode(&raw.body, 3, &r), 0);
	if (err)
		*err = r.coordinators[0].error_code;
	if (r.coordinators[0].error_code == PROTO_ERR_NONE) {
		node = r.coordinators[0].node_id;
		*cport = r.coordinators[0].port;
	}
	proto_find_coord_resp_free(&r);
	net_resp_free(&raw);
	net_client_close(c);
	return node;
}

static int32_t find_coord(int i, const char *group, int32_t *cport)
{
	return find_coord_err(i, group, cport, NULL);
}

static int16_t heartbeat(int i, const char *group)
{
	struct proto_heartbeat_req req = { .group_id = kstr_of(group),
					   .generation_id = 1,
					   .member_id = kstr_of("someone"),
					   .group_instance_id = KSTR_NULL };
	struct proto_heartbeat_resp r;
	struct net_client *c;
	struct net_resp raw;
	struct kbuf_w w;

	assert_int_equal(net_client_connect("127.0.0.1", port[i], 5000, &c), 0);
	kbuf_w_init(&w, 256);
	assert_int_equal(proto_heartbeat_req_encode(&w, 3, &req), 0);
	assert_int_equal(net_client_call(c, PROTO_API_HEARTBEAT, 3, w.buf, w.len, 0, 5000, &raw),
			 0);
	kbuf_w_free(&w);
	assert_int_equal(proto_heartbeat_resp_decode(&raw.body, 3, &r), 0);
	net_resp_free(&raw);
	net_client_close(c);
	return r.error_code;
}

/* Java's String.hashCode of each name and Kafka's partitionFor over 50
 * and 10 partitions, as a JVM computed them ("polygenelubricants" hashes
 * to Integer.MIN_VALUE, which Utils.abs maps to 0). */
static void test_partition_for(void **state)
{
	static const struct {
		const char *name;
		int32_t hash;
		int p50, p10;
	} v[] = {
		{ "billing", -109829509, 39, 9 },
		{ "orders", -1008770331, 17, 7 },
		{ "g", 103, 3, 3 },
		{ "audit-7", -661252411, 37, 7 },
		{ "", 0, 0, 0 },
		{ "polygenelubricants", INT32_MIN, 0, 0 },
		{ "gr\xc3\xbcn", 3185949, 49, 9 },             /* grün */
		{ "\xe6\x97\xa5\xe6\x9c\xac", 835047, 47, 7 }, /* 日本 */
		{ "\xf0\x9f\x98\x80x", 54959989, 39, 9 },      /* a surrogate pair */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(group_java_hash(v[i].name), v[i].hash);
		assert_int_equal(group_offsets_partition(v[i].name, 50), v[i].p50);
		assert_int_equal(group_offsets_partition(v[i].name, 10), v[i].p10);
	}
}

/* One broker alive of the three the replication factor needs: no
 * coordinator, no __consumer_offsets; then the other two start. */
static void test_too_few_brokers(void **state)
{
	struct topic *t;
	int32_t cport = 0, id;
	int16_t err = -1;

	(void)state;
	assert_int_equal(find_coord_err(0, "billing", &cport, &err), -1);
	assert_int_equal(err, PROTO_ERR_COORDINATOR_NOT_AVAILABLE);
	assert_int_equal(broker_topic_get(b[0], GROUP_OFFSETS_TOPIC, &t), -ENOENT);
	assert_int_equal(group_coordinator_of(b[0], "billing", &id, NULL, 0), -EAGAIN);
	assert_int_equal(open_broker(1), 0);
	assert_int_equal(open_broker(2), 0);
}

/* The leader of the group's partition of __consumer_offsets as broker i
 * knows it (-1: none). */
static int32_t offsets_leader(int i, const char *group)
{
	struct partition_state ps;
	int p = group_offsets_partition(group, b[i]->cfg.cluster.offsets_topic_num_partitions);

	if (cluster_partition_state(b[i]->cluster, GROUP_OFFSETS_TOPIC, p, &ps) < 0)
		return -1;
	return ps.leader;
}

static void test_one_coordinator(void **state)
{
	static const char *const groups[] = { "billing", "orders", "g", "audit-7" };

	(void)state;
	for (size_t k = 0; k < sizeof(groups) / sizeof(groups[0]); k++) {
		const char *g = groups[k];
		int32_t want = -1, got[NB], cport = 0, id;
		int64_t end = now_mono_ms() + DEADLINE_MS;
		int16_t hb[NB];
		bool all;

		/* Until every broker knows the three and the topic (both travel
		 * through ZooKeeper) and the coordinator has loaded it. */
		do {
			all = true;
			for (int i = 0; i < NB; i++) {
				got[i] = find_coord(i, g, &cport);
				want = offsets_leader(0, g);
				all = all && want > 0 && got[i] == want && cport == port[want - 1];
			}
			for (int i = 0; all && i < NB; i++) {
				hb[i] = heartbeat(i, g);
				all = hb[i] == (i + 1 == want ? PROTO_ERR_UNKNOWN_MEMBER_ID
							      : PROTO_ERR_NOT_COORDINATOR);
			}
			if (!all)
				usleep(50000);
		} while (!all && now_mono_ms() < end);
		assert_true(want > 0);
		for (int i = 0; i < NB; i++)
			assert_int_equal(got[i], want);
		assert_int_equal(cport, port[want - 1]);
		for (int i = 0; i < NB; i++)
			assert_int_equal(hb[i], i + 1 == want ? PROTO_ERR_UNKNOWN_MEMBER_ID
							      : PROTO_ERR_NOT_COORDINATOR);
		for (int i = 0; i < NB; i++) {
			char ep[64];

			assert_int_equal(group_coordinator_of(b[i], g, &id, ep, sizeof(ep)), 0);
			assert_int_equal(id, want);
			assert_non_null(strstr(ep, "127.0.0.1:"));
		}
	}
}

/* Offsets committed on the coordinator follow the group's partition to
 * its next leader when the coordinator stops; the mount of a broker that
 * does not coordinate the group refuses it. */
static atomic_int woken;

static void on_wake(void *arg)
{
	(void)arg;
	atomic_fetch_add(&woken, 1);
}

static void test_offsets_follow_leader(void **state)
{
	const char *name = "billing";
	struct topic *t[NB] = { NULL };
	struct group *g;
	struct group_member *m = NULL;
	int32_t was, now = -1, cport = 0;
	int64_t off = -1, end;
	int other;

	(void)state;
	was = offsets_leader(0, name);
	assert_true(was > 0);
	assert_int_equal(broker_topic_create(b[was - 1], "orders", 0, 0, 0755, &t[was - 1]), 0);
	assert_int_equal(group_open(t[was - 1], name, GROUP_CREATE_EXCL, &g), 0);
	assert_int_equal(group_offset_reset(g, 0, "0", 1), 0);
	group_put(g);
	other = was % NB; /* a broker that does not coordinate the group */
	end = now_mono_ms() + DEADLINE_MS;
	while (broker_topic_get(b[other], "orders", &t[other]) < 0 && now_mono_ms() < end)
		usleep(20000);
	assert_non_null(t[other]);
	/* There a lookup finds nothing, mkdir makes a proxy, which reads the
	 * coordinator's offsets and refuses a reset, naming the coordinator. */
	assert_int_equal(group_open(t[other], name, GROUP_LOOKUP, &g), -ENOENT);
	assert_int_equal(group_open(t[other], name, GROUP_CREATE_EXCL, &g), 0);
	assert_true(g->proxy);
	assert_int_equal(group_offset(g, 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(group_offset_reset(g, 0, "earliest", 8), -EREMOTE);
	group_put(g);
	off = -1;

	/* The coordinator stops (its leaderships move first). */
	topic_put(t[was - 1]);
	t[was - 1] = NULL;
	broker_close(b[was - 1]);
	b[was - 1] = NULL;
	end = now_mono_ms() + DEADLINE_MS;
	do {
		now = offsets_leader(other, name);
		if (now > 0 && now != was && b[now - 1] &&
		    find_coord(now - 1, name, &cport) == now &&
		    heartbeat(now - 1, name) == PROTO_ERR_UNKNOWN_MEMBER_ID)
			break;
		usleep(50000);
	} while (now_mono_ms() < end);
	assert_true(now > 0 && now != was);
	assert_int_equal(cport, port[now - 1]);
	if (!t[now - 1])
		assert_int_equal(broker_topic_get(b[now - 1], "orders", &t[now - 1]), 0);
	assert_int_equal(group_open(t[now - 1], name, GROUP_LOOKUP, &g), 0);
	assert_int_equal(group_offset(g, 0, &off), 0);
	assert_int_equal(off, 0);
	group_put(g);

	/* The old coordinator comes back; once in the ISR again it is the
	 * preferred leader of the partition (its first replica) and the
	 * controller's rebalance hands the partition back: the broker that
	 * led it meanwhile keeps a proxy of the group for its parked member,
	 * which joins the old coordinator, and the old one loads the group
	 * again with the commit made meanwhile. */
	assert_int_equal(topic_produce(t[now - 1], 0, "x\n", 2, 0), 0);
	assert_int_equal(group_open(t[now - 1], name, GROUP_LOOKUP, &g), 0);
	assert_int_equal(group_offset_reset(g, 0, "1", 1), 0);
	assert_int_equal(group_join(g, 42, on_wake, NULL, &m), 0);
	group_notify_settle(b[now - 1]->gc);
	atomic_store(&woken, 0);
	assert_int_equal(group_member_arm(m), 0);
	assert_int_equal(open_broker(was - 1), 0);
	end = now_mono_ms() + DEADLINE_MS;
	while ((offsets_leader(was - 1, name) != was || find_coord(was - 1, name, &cport) != was ||
		heartbeat(was - 1, name) != PROTO_ERR_UNKNOWN_MEMBER_ID) &&
	       now_mono_ms() < end)
		usleep(50000);
	assert_int_equal(offsets_leader(now - 1, name), was);
	/* The interim leader's loader notices within its pass: the group is
	 * a proxy of the old coordinator's now, its member a member there
	 * (group_remote_adopt, from the listener's timer), and the offsets
	 * read are the old coordinator's, which loaded the interim commit. */
	end = now_mono_ms() + DEADLINE_MS;
	for (bool there = false; !there && now_mono_ms() < end;) {
		pthread_mutex_lock(&g->mu);
		there = g->proxy && group_remote_active(m);
		pthread_mutex_unlock(&g->mu);
		if (!there)
			usleep(20000);
	}
	pthread_mutex_lock(&g->mu);
	assert_true(g->proxy && group_remote_active(m));
	pthread_mutex_unlock(&g->mu);
	assert_int_equal(group_offset(g, 0, &off), 0);
	assert_int_equal(off, 1);
	assert_int_equal(group_offset_reset(g, 0, "0", 1), -EREMOTE);
	group_leave(m);
	group_put(g);
	assert_int_equal(heartbeat(now - 1, name), PROTO_ERR_NOT_COORDINATOR);
	assert_int_equal(broker_topic_get(b[was - 1], "orders", &t[was - 1]), 0);
	assert_int_equal(group_open(t[was - 1], name, GROUP_LOOKUP, &g), 0);
	assert_int_equal(group_offset(g, 0, &off), 0);
	assert_int_equal(off, 1);
	group_put(g);
	for (int i = 0; i < NB; i++)
		if (t[i])
			topic_put(t[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partition_for),
		cmocka_unit_test(test_too_few_brokers),
		cmocka_unit_test(test_one_coordinator),
		cmocka_unit_test(test_offsets_follow_leader),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
