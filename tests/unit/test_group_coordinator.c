/*
 * test_group_coordinator.c — which broker coordinates a consumer group in
 * a cluster (repl/offsets_topic.c, repl/group_serve.c): three brokers in
 * this process over a real ZooKeeper (tests/unit/zksrv.c), PLAINTEXT
 * listeners.
 *   - Kafka's partitionFor: Java's String.hashCode (values printed by a
 *     JVM), Utils.abs, modulo the partitions.
 *   - With one broker alive of offsets.topic.replication.factor 3,
 *     FindCoordinator answers COORDINATOR_NOT_AVAILABLE, the other group
 *     requests NOT_COORDINATOR, and __consumer_offsets is not made.
 *   - The first FindCoordinator with three alive is answered at once,
 *     COORDINATOR_NOT_AVAILABLE, and __consumer_offsets is made behind it.
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
#include "repl/group_serve.h"
#include "repl/metadata_cache.h"
#include "repl/net.h"
#include "repl/partition.h"
#include "repl/proto.h"
#include "repl/repl.h"
#include "tests/unit/brokerfx.h"
#include "tests/unit/zksrv.h"
#include "util/clock.h"

#define DEADLINE_MS 30000
#define NB          3

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

	if (zksrv_group_setup(state) != 0)
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
			 i + 1, zksrv_group()->connect);
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

	for (int i = 0; i < NB; i++)
		if (b[i])
			broker_close(b[i]);
	zksrv_group_teardown(state);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* One request to broker i on c, waiting as long as a Kafka client's
 * request.timeout.ms (the brokers' own waits end by then). One not
 * answered by then prints every thread's stack (gdb, when there is
 * one): where the broker waited, for a failure seen only on a loaded
 * machine. */
static int call(int i, struct net_client *c, int16_t api, int16_t v, const struct kbuf_w *w,
		struct net_resp *raw)
{
	int rc = net_client_call(c, api, v, w->buf, w->len, 0, 35000, raw);

	if (rc < 0) {
		char cmd[160];

		printf("# api %d v%d to broker %d: %s; the threads:\n", (int)api, (int)v, i + 1,
		       strerror(-rc));
		fflush(stdout);
		snprintf(cmd, sizeof(cmd),
			 "command -v gdb >/dev/null && gdb -p %d -batch -ex 'thread apply all bt' "
			 "2>&1 | grep -v '^\\[New LWP'",
			 (int)getpid());
		if (system(cmd) != 0)
			printf("# (no stacks: gdb missing or failed)\n");
	}
	return rc;
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
	assert_int_equal(call(i, c, PROTO_API_FIND_COORDINATOR, 3, &w, &raw), 0);
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
	assert_int_equal(call(i, c, PROTO_API_HEARTBEAT, 3, &w, &raw), 0);
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

/* Whether broker i's offsets loader sleeps until a kick within
 * DEADLINE_MS: it has nothing loading, and wakes only for a change of
 * the replicas' states, not on a timer (no wake-up at rest). */
static bool loader_asleep(int i)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (!offsets_loader_asleep(b[i]->gc) && now_mono_ms() < end)
		usleep(10000);
	return offsets_loader_asleep(b[i]->gc);
}

static int16_t sync_group(int i, const char *group);
static int16_t describe(int i, const char *id, char *state, size_t cap, int32_t *members);
static int16_t delete_group(int i, const char *id);
static int16_t offset_commit(int i, const char *group);
static int16_t offset_fetch(int i, const char *group);

/* One broker alive of the three the replication factor needs: no
 * coordinator, no __consumer_offsets; then the other two start. Until
 * then FindCoordinator is COORDINATOR_NOT_AVAILABLE and every other group
 * request NOT_COORDINATOR, as Kafka's GroupCoordinator.validateGroupStatus
 * answers on a broker that owns no partition of the group's (before,
 * COORDINATOR_NOT_AVAILABLE). */
static void test_too_few_brokers(void **state)
{
	struct topic *t;
	int32_t cport = 0, id;
	int16_t err = -1;
	char st[32];

	(void)state;
	assert_int_equal(find_coord_err(0, "billing", &cport, &err), -1);
	assert_int_equal(err, PROTO_ERR_COORDINATOR_NOT_AVAILABLE);
	assert_int_equal(broker_topic_get(b[0], GROUP_OFFSETS_TOPIC, &t), -ENOENT);
	assert_int_equal(heartbeat(0, "billing"), PROTO_ERR_NOT_COORDINATOR);
	assert_int_equal(sync_group(0, "billing"), PROTO_ERR_NOT_COORDINATOR);
	assert_int_equal(offset_commit(0, "billing"), PROTO_ERR_NOT_COORDINATOR);
	assert_int_equal(offset_fetch(0, "billing"), PROTO_ERR_NOT_COORDINATOR);
	assert_int_equal(describe(0, "billing", st, sizeof(st), NULL), PROTO_ERR_NOT_COORDINATOR);
	assert_int_equal(delete_group(0, "billing"), PROTO_ERR_NOT_COORDINATOR);
	assert_int_equal(group_coordinator_of(b[0], "billing", &id, NULL, 0), -EAGAIN);
	/* A cluster without the topic (no group used yet): nothing to
	 * load, the loader waits for the topic's making to kick it. */
	assert_true(loader_asleep(0));
	assert_int_equal(open_broker(1), 0);
	assert_int_equal(open_broker(2), 0);
}

/* Brokers alive as broker i's metadata has them. */
static int alive_at(int i)
{
	struct metadata_broker *mb = NULL;
	int n = metadata_cache_brokers(cluster_metadata(b[i]->cluster), &mb), live = 0;

	for (int k = 0; k < n; k++)
		live += mb[k].alive;
	free(mb);
	return live;
}

/* With three brokers alive and no __consumer_offsets, the first
 * FindCoordinator is answered at once COORDINATOR_NOT_AVAILABLE, as
 * Kafka's auto-creation answers it: the topic is written to ZooKeeper
 * behind the answer (by the offsets loader, not the listener worker,
 * which waited for the controller's leaders before: with a slow
 * ZooKeeper past the client's timeout), and appears here with no other
 * request; FindCoordinator names its coordinator then. */
static void test_first_find(void **state)
{
	struct topic *t;
	int32_t cport = 0;
	int16_t err = -1;
	int64_t end = now_mono_ms() + DEADLINE_MS;

	(void)state;
	while (alive_at(0) < NB && now_mono_ms() < end)
		usleep(20000);
	assert_int_equal(alive_at(0), NB);
	assert_int_equal(broker_topic_get(b[0], GROUP_OFFSETS_TOPIC, &t), -ENOENT);
	assert_int_equal(find_coord_err(0, "billing", &cport, &err), -1);
	assert_int_equal(err, PROTO_ERR_COORDINATOR_NOT_AVAILABLE);
	while (broker_topic_get(b[0], GROUP_OFFSETS_TOPIC, &t) != 0) {
		assert_true(now_mono_ms() < end);
		usleep(20000);
	}
	topic_put(t);
	while (find_coord(0, "billing", &cport) <= 0 && now_mono_ms() < end)
		usleep(20000);
	assert_true(find_coord(0, "billing", &cport) > 0);
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
 * does not coordinate the group shows them. */
static atomic_int woken;

static void on_wake(void *arg)
{
	(void)arg;
	atomic_fetch_add(&woken, 1);
}

/* One request of api at version v to broker i, encoded by enc; the
 * response in raw (net_resp_free after). */
static void rpc(int i, int16_t api, int16_t v, int (*enc)(struct kbuf_w *, int16_t, const void *),
		const void *req, struct net_resp *raw)
{
	struct net_client *c;
	struct kbuf_w w;

	assert_int_equal(net_client_connect("127.0.0.1", port[i], 5000, &c), 0);
	kbuf_w_init(&w, 256);
	assert_int_equal(enc(&w, v, req), 0);
	assert_int_equal(call(i, c, api, v, &w, raw), 0);
	kbuf_w_free(&w);
	net_client_close(c);
}

static int describe_enc(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_describe_groups_req_encode(w, v, req);
}

static int delete_enc(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_delete_groups_req_encode(w, v, req);
}

static int sync_enc(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_sync_req_encode(w, v, req);
}

/* SyncGroup v3 of group on broker i (member "someone", generation 1):
 * its error. */
static int16_t sync_group(int i, const char *group)
{
	struct proto_sync_req req = { .group_id = kstr_of(group),
				      .generation_id = 1,
				      .member_id = kstr_of("someone"),
				      .group_instance_id = KSTR_NULL,
				      .protocol_type = KSTR_NULL,
				      .protocol_name = KSTR_NULL };
	struct proto_sync_resp r;
	struct net_resp raw;

	rpc(i, PROTO_API_SYNC_GROUP, 3, sync_enc, &req, &raw);
	assert_int_equal(proto_sync_resp_decode(&raw.body, 3, &r), 0);
	net_resp_free(&raw);
	return r.error_code;
}

/* DescribeGroups (v5) of id at broker i: the error, the state in state. */
static int16_t describe(int i, const char *id, char *state, size_t cap, int32_t *members)
{
	struct kstr k = kstr_of(id);
	struct proto_describe_groups_req req = { .n_groups = 1, .groups = &k };
	struct proto_describe_groups_resp r;
	struct net_resp raw;
	int16_t err;

	rpc(i, PROTO_API_DESCRIBE_GROUPS, 5, describe_enc, &req, &raw);
	assert_int_equal(proto_describe_groups_resp_decode(&raw.body, 5, &r), 0);
	assert_int_equal(r.n_groups, 1);
	assert_true(kstr_eq(r.groups[0].group_id, id));
	err = r.groups[0].error_code;
	snprintf(state, cap, "%.*s", (int)r.groups[0].group_state.len, r.groups[0].group_state.ptr);
	if (members)
		*members = r.groups[0].n_members;
	proto_describe_groups_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

/* DeleteGroups (v2) of id at broker i: its error. */
static int16_t delete_group(int i, const char *id)
{
	struct kstr k = kstr_of(id);
	struct proto_delete_groups_req req = { .n_groups = 1, .groups_names = &k };
	struct net_resp raw;

	rpc(i, PROTO_API_DELETE_GROUPS, 2, delete_enc, &req, &raw);
	return brokerfx_delete_groups_error(&raw);
}

static int commit_enc(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_offset_commit_req_encode(w, v, req);
}

static int fetch_enc(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_offset_fetch_req_encode(w, v, req);
}

/* OffsetCommit v8 of group at broker i (offset 5 of t-0, as a standalone
 * consumer commits): its partition's error. */
static int16_t offset_commit(int i, const char *group)
{
	struct proto_offset_commit_part p = { .partition_index = 0,
					      .committed_offset = 5,
					      .committed_leader_epoch = -1,
					      .commit_timestamp = -1,
					      .committed_metadata = KSTR_NULL };
	struct proto_offset_commit_topic t = { kstr_of("t"), 1, &p };
	struct proto_offset_commit_req req = { .group_id = kstr_of(group),
					       .generation_id = -1,
					       .member_id = kstr_of(""),
					       .group_instance_id = KSTR_NULL,
					       .retention_time_ms = -1,
					       .n_topics = 1,
					       .topics = &t };
	struct proto_offset_commit_resp r;
	struct net_resp raw;
	int16_t err;

	rpc(i, PROTO_API_OFFSET_COMMIT, 8, commit_enc, &req, &raw);
	assert_int_equal(proto_offset_commit_resp_decode(&raw.body, 8, &r), 0);
	assert_int_equal(r.n_topics, 1);
	assert_int_equal(r.topics[0].n_partitions, 1);
	err = r.topics[0].partitions[0].error_code;
	proto_offset_commit_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

/* OffsetFetch v7 of group's every partition at broker i: its error. */
static int16_t offset_fetch(int i, const char *group)
{
	struct proto_offset_fetch_group g = { kstr_of(group), -1, NULL };
	struct proto_offset_fetch_req req = { 1, &g, false };
	struct proto_offset_fetch_resp r;
	struct net_resp raw;
	int16_t err;

	rpc(i, PROTO_API_OFFSET_FETCH, 7, fetch_enc, &req, &raw);
	assert_int_equal(proto_offset_fetch_resp_decode(&raw.body, 7, &r), 0);
	assert_int_equal(r.n_groups, 1);
	err = r.groups[0].error_code;
	proto_offset_fetch_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

static int16_t alter(int i, const char *id, const char *key, const char *value, int8_t op,
		     bool incremental, char *msg, size_t cap)
{
	struct proto_config cfg = { .name = kstr_of(key),
				    .value = value ? kstr_of(value) : KSTR_NULL,
				    .config_operation = op };
	struct proto_alter_configs_resource res = { .resource_type = PROTO_RESOURCE_GROUP,
						    .resource_name = kstr_of(id),
						    .n_configs = key ? 1 : 0,
						    .configs = &cfg };

	return group_admin_alter(b[i], &res, incremental, false, "test", msg, cap);
}

static bool listed(int i, struct topic *t, const char *name)
{
	char **names;
	int n;
	bool found = false;

	(void)i;
	assert_int_equal(group_list(t, &names, NULL, &n), 0);
	for (int k = 0; k < n; k++)
		found |= !strcmp(names[k], name);
	broker_names_free(names, n);
	return found;
}

static struct topic *topic_on(int i, const char *name)
{
	struct topic *t = NULL;
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (broker_topic_get(b[i], name, &t) < 0 && now_mono_ms() < end)
		usleep(20000);
	assert_non_null(t);
	return t;
}

/* The topic on the three brokers, made through one that does not
 * coordinate group name: c, the coordinator (broker id), and the indexes
 * of the two others (other made the topic). The coordinator has loaded
 * the group's partition of __consumer_offsets (it becomes its leader as
 * the cluster starts, and answers NOT_COORDINATOR, then
 * COORDINATOR_LOAD_IN_PROGRESS, until then). */
static int32_t topic_on_all(const char *name, const char *topic, struct topic *t[NB], int *other,
			    int *third)
{
	int32_t c = offsets_leader(0, name);
	int64_t end = now_mono_ms() + DEADLINE_MS;
	char st[32];

	assert_true(c > 0);
	while (describe(c - 1, name, st, sizeof(st), NULL) != PROTO_ERR_NONE && now_mono_ms() < end)
		usleep(20000);
	assert_int_equal(describe(c - 1, name, st, sizeof(st), NULL), PROTO_ERR_NONE);
	*other = c % NB;
	*third = (c + 1) % NB;
	assert_int_equal(broker_topic_create(b[*other], topic, 0, 0, 0755, &t[*other]), 0);
	t[c - 1] = topic_on(c - 1, topic);
	t[*third] = topic_on(*third, topic);
	return c;
}

/* mkdir, a reset, .config and rmdir of a group on the mounts of brokers
 * that do not coordinate it act at its coordinator (DescribeGroups,
 * OffsetCommit, IncrementalAlterConfigs, DeleteGroups), with the errno a
 * local operation gives; the coordinator's handlers and refusals. */
static void test_admin_forwarded(void **state)
{
	const char *name = "audit";
	struct topic *t[NB];
	struct group *g, *gc_g, *g3;
	struct group_member *m = NULL;
	int32_t c, members = -1;
	int other, third;
	int64_t off = -1, end;
	char st[32], msg[256], *text;
	size_t len;

	(void)state;
	c = topic_on_all(name, "pay", t, &other, &third);

	/* mkdir on a non-coordinator makes the group at the coordinator. */
	assert_int_equal(group_open(t[other], name, GROUP_LOOKUP, &g), -ENOENT);
	assert_int_equal(describe(c - 1, "pay/audit", st, sizeof(st), NULL), PROTO_ERR_NONE);
	assert_string_equal(st, "Dead");
	assert_int_equal(group_open(t[other], name, GROUP_CREATE_EXCL, &g), 0);
	assert_true(g->proxy);
	assert_int_equal(group_open(t[c - 1], name, GROUP_LOOKUP, &gc_g), 0);
	assert_false(gc_g->proxy);
	assert_int_equal(describe(c - 1, "pay/audit", st, sizeof(st), &members), PROTO_ERR_NONE);
	assert_string_equal(st, "Empty");
	assert_int_equal(members, 0);
	assert_int_equal(describe(c - 1, "audit", st, sizeof(st), NULL), PROTO_ERR_NONE);
	assert_string_equal(st, "Empty");
	assert_int_equal(describe(other, "pay/audit", st, sizeof(st), NULL),
			 PROTO_ERR_NOT_COORDINATOR);
	/* A third mount finds it, and cannot make it again. */
	assert_int_equal(group_open(t[third], name, GROUP_CREATE_EXCL, &g3), -EEXIST);
	assert_int_equal(group_open(t[third], name, GROUP_LOOKUP, &g3), 0);
	assert_true(listed(third, t[third], name));

	/* A reset there: the coordinator's committed offset, seen on every
	 * mount; bad values refused before asking. */
	for (int k = 0; k < 3; k++)
		assert_int_equal(topic_produce(t[c - 1], 0, "r\n", 2, 0), 0);
	end = now_mono_ms() + DEADLINE_MS;
	while (group_offset_reset(g, 0, "2", 1) == -EINVAL && now_mono_ms() < end)
		usleep(20000); /* until this replica has the records */
	assert_int_equal(group_offset(gc_g, 0, &off), 0);
	assert_int_equal(off, 2);
	assert_int_equal(group_offset(g3, 0, &off), 0);
	assert_int_equal(off, 2);
	assert_int_equal(group_offset_reset(g, 0, "99", 2), -EINVAL);
	assert_int_equal(group_offset_reset(g, 0, "earliest", 8), 0);
	assert_int_equal(group_offset(gc_g, 0, &off), 0);
	assert_int_equal(off, 0);
	assert_int_equal(group_offset_reset(g, 0, "2", 1), 0);

	/* .config: set at the coordinator, all or nothing. */
	assert_int_equal(group_config_write(g, "partition.assignment.strategy=sticky\n", 37), 0);
	pthread_mutex_lock(&gc_g->mu);
	assert_int_equal(gc_g->strategy, ASSIGN_STICKY);
	pthread_mutex_unlock(&gc_g->mu);
	/* The third mount's proxy reads the coordinator's settings. */
	assert_int_equal(group_config_text(g3, &text, &len), 0);
	assert_non_null(strstr(text, "partition.assignment.strategy=sticky\n"));
	free(text);
	assert_int_equal(group_config_write(g, "session.timeout.ms=7000\nbad=1\n", 30), -EINVAL);
	pthread_mutex_lock(&gc_g->mu);
	assert_int_equal(gc_g->session_timeout_ms, 45000);
	pthread_mutex_unlock(&gc_g->mu);

	/* The coordinator's own refusals of the GROUP resource. */
	assert_int_equal(
		alter(c - 1, "pay/audit", "no.such", "1", PROTO_CONFIG_SET, true, msg, sizeof(msg)),
		PROTO_ERR_INVALID_CONFIG);
	assert_int_equal(alter(c - 1, "pay/audit", "auto.offset.reset", "soon", PROTO_CONFIG_SET,
			       true, msg, sizeof(msg)),
			 PROTO_ERR_INVALID_CONFIG);
	assert_int_equal(alter(c - 1, "pay/audit", "auto.offset.reset", "latest",
			       PROTO_CONFIG_APPEND, true, msg, sizeof(msg)),
			 PROTO_ERR_INVALID_CONFIG);
	assert_int_equal(alter(c - 1, "pay/audit", "auto.offset.reset", "latest", PROTO_CONFIG_SET,
			       false, msg, sizeof(msg)),
			 PROTO_ERR_INVALID_REQUEST);
	assert_int_equal(alter(other, "pay/audit", "auto.offset.reset", "latest", PROTO_CONFIG_SET,
			       true, msg, sizeof(msg)),
			 PROTO_ERR_NOT_COORDINATOR);
	assert_int_equal(alter(c - 1, "pay/a/b", NULL, NULL, 0, true, msg, sizeof(msg)),
			 PROTO_ERR_INVALID_GROUP_ID);
	/* It makes a missing group, so mkdir's rules hold: no group on an
	 * internal topic (the coordinators' records), no dot-name. */
	assert_int_equal(alter(c - 1, "__consumer_offsets/audit", "auto.offset.reset", "latest",
			       PROTO_CONFIG_SET, true, msg, sizeof(msg)),
			 PROTO_ERR_INVALID_GROUP_ID);
	assert_non_null(strstr(msg, "internal topic"));
	assert_int_equal(alter(c - 1, "pay/.audit", "auto.offset.reset", "latest", PROTO_CONFIG_SET,
			       true, msg, sizeof(msg)),
			 PROTO_ERR_INVALID_GROUP_ID);
	assert_non_null(strstr(msg, "dot-names"));
	assert_int_equal(alter(c - 1, "audit", "partition.assignment.strategy", NULL,
			       PROTO_CONFIG_DELETE, true, msg, sizeof(msg)),
			 PROTO_ERR_NONE);
	pthread_mutex_lock(&gc_g->mu);
	assert_int_equal(gc_g->strategy, ASSIGN_RANGE);
	pthread_mutex_unlock(&gc_g->mu);

	/* DescribeConfigs of the group resource: the group of one topic. */
	{
		struct proto_describe_configs_result r = { 0 };

		assert_int_equal(group_admin_describe_configs(b[c - 1], kstr_of("pay/audit"),
							      "test", &r, msg, sizeof(msg)),
				 PROTO_ERR_NONE);
		assert_int_equal(r.n_configs, 3);
		assert_true(kstr_eq(r.configs[0].value, "range"));
		assert_true(kstr_eq(r.configs[2].value, "45000"));
		free(r.configs);
		assert_int_equal(group_admin_describe_configs(b[c - 1], kstr_of("audit"), "test",
							      &r, msg, sizeof(msg)),
				 PROTO_ERR_INVALID_GROUP_ID);
		assert_int_equal(group_admin_describe_configs(b[c - 1], kstr_of("pay/nope"), "test",
							      &r, msg, sizeof(msg)),
				 group_admin_coord_check(b[c - 1]->gc, "nope", "t", "t")
					 ? PROTO_ERR_NOT_COORDINATOR
					 : PROTO_ERR_GROUP_ID_NOT_FOUND);
		assert_int_equal(group_admin_describe_configs(b[other], kstr_of("pay/audit"),
							      "test", &r, msg, sizeof(msg)),
				 PROTO_ERR_NOT_COORDINATOR);
	}

	/* A member on the coordinator's mount: no reset, no rmdir. */
	assert_int_equal(group_join(gc_g, 77, on_wake, NULL, &m), 0);
	assert_int_equal(group_offset_reset(g, 0, "1", 1), -EBUSY);
	assert_int_equal(group_delete(t[other], name), -EBUSY);
	assert_int_equal(delete_group(c - 1, "audit"), PROTO_ERR_NON_EMPTY_GROUP);
	assert_int_equal(describe(c - 1, "pay/audit", st, sizeof(st), &members), PROTO_ERR_NONE);
	assert_string_equal(st, "Stable");
	assert_int_equal(members, 1);
	group_leave(m);
	assert_int_equal(group_offset(gc_g, 0, &off), 0);
	assert_int_equal(off, 2);

	group_put(g);
	/* rmdir there deletes it at the coordinator, and its proxy; the
	 * third mount's proxy goes at its next lookup. */
	assert_int_equal(group_delete(t[other], name), 0);
	assert_int_equal(group_open(t[c - 1], name, GROUP_LOOKUP, &g), -ENOENT);
	assert_int_equal(group_open(t[other], name, GROUP_LOOKUP, &g), -ENOENT);
	assert_int_equal(group_open(t[third], name, GROUP_LOOKUP, &g), -ENOENT);
	assert_false(listed(third, t[third], name));
	assert_int_equal(group_delete(t[other], name), -ENOENT);
	assert_int_equal(delete_group(c - 1, "audit"), PROTO_ERR_GROUP_ID_NOT_FOUND);
	assert_int_equal(delete_group(c - 1, "pay/audit"), PROTO_ERR_GROUP_ID_NOT_FOUND);
	assert_int_equal(delete_group(other, "audit"), PROTO_ERR_NOT_COORDINATOR);
	assert_int_equal(delete_group(c - 1, "pay/a b"), PROTO_ERR_INVALID_GROUP_ID);

	/* Kafka's DeleteGroups by the bare name takes every topic's group. */
	assert_int_equal(alter(c - 1, "pay/audit", NULL, NULL, 0, true, msg, sizeof(msg)),
			 PROTO_ERR_NONE);
	assert_int_equal(delete_group(c - 1, "audit"), PROTO_ERR_NONE);
	assert_int_equal(group_open(t[c - 1], name, GROUP_LOOKUP, &g), -ENOENT);
	group_put(gc_g);
	group_put(g3);
	for (int i = 0; i < NB; i++)
		topic_put(t[i]);
}

static int lg_enc(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_list_groups_req_encode(w, v, req);
}

/* ListGroups at version v of broker i, with a states filter of one entry
 * (state NULL: none) and at v5 a types filter of one (type NULL: none):
 * whether id is listed, its protocol type and state into ptype and st. */
static bool list_has(int i, int16_t v, const char *state, const char *type, const char *id,
		     char *ptype, char *st)
{
	struct kstr sf = kstr_of(state ? state : ""), tf = kstr_of(type ? type : "");
	struct proto_list_groups_req req = { .n_states_filter = state ? 1 : 0,
					     .states_filter = &sf,
					     .n_types_filter = type ? 1 : 0,
					     .types_filter = &tf };
	struct proto_list_groups_resp r;
	struct net_resp raw;
	bool found = false;

	ptype[0] = st[0] = '\0';
	rpc(i, PROTO_API_LIST_GROUPS, v, lg_enc, &req, &raw);
	assert_int_equal(proto_list_groups_resp_decode(&raw.body, v, &r), 0);
	assert_int_equal(r.error_code, PROTO_ERR_NONE);
	for (int32_t k = 0; k < r.n_groups; k++) {
		if (!kstr_eq(r.groups[k].group_id, id))
			continue;
		found = true;
		snprintf(ptype, 32, "%.*s", (int)r.groups[k].protocol_type.len,
			 r.groups[k].protocol_type.ptr);
		if (v >= 4)
			snprintf(st, 32, "%.*s", (int)r.groups[k].group_state.len,
				 r.groups[k].group_state.ptr);
		if (v >= 5)
			assert_true(kstr_eq(r.groups[k].group_type, "classic"));
	}
	proto_list_groups_resp_free(&r);
	net_resp_free(&raw);
	return found;
}

/* ListGroups: the coordinator lists its groups ("<topic>/<g>" and "<g>"),
 * with the filters; another broker does not. A mount that never looked
 * the group up lists it (its coordinator answered ListGroups), the entry
 * openable with the id listed; once deleted at the coordinator, a later
 * listing drops it. */
static void test_list_groups(void **state)
{
	const char *name = "ledger";
	struct topic *t[NB];
	struct group *g, *g3;
	struct group_member *m = NULL;
	char pt[32], st[32];
	int32_t c;
	int other, third;
	int64_t end;

	(void)state;
	c = topic_on_all(name, "inv", t, &other, &third);
	assert_false(list_has(c - 1, 0, NULL, NULL, "inv/ledger", pt, st));
	assert_false(listed(third, t[third], name));

	/* Made from a mount that does not coordinate it. */
	assert_int_equal(group_open(t[other], name, GROUP_CREATE_EXCL, &g), 0);
	assert_true(list_has(c - 1, 0, NULL, NULL, "inv/ledger", pt, st));
	assert_string_equal(pt, "consumer");
	assert_true(list_has(c - 1, 3, NULL, NULL, "ledger", pt, st));
	assert_true(list_has(c - 1, 4, NULL, NULL, "inv/ledger", pt, st));
	assert_string_equal(st, "Empty");
	assert_true(list_has(c - 1, 4, "eMPTY", NULL, "inv/ledger", pt, st));
	assert_false(list_has(c - 1, 4, "Stable", NULL, "inv/ledger", pt, st));
	assert_false(list_has(c - 1, 4, "Dead", NULL, "ledger", pt, st));
	assert_true(list_has(c - 1, 5, NULL, "Classic", "inv/ledger", pt, st));
	assert_false(list_has(c - 1, 5, NULL, "consumer", "inv/ledger", pt, st));
	/* The proxy on the mount that made it is not the group. */
	assert_false(list_has(other, 5, NULL, NULL, "inv/ledger", pt, st));

	/* A mount that never looked it up lists it; the entry is its group. */
	{
		char **names;
		uint64_t *ids;
		int n, at = -1;

		/* Within a second of its last listing it may answer from
		 * the answers it keeps: poll. */
		end = now_mono_ms() + DEADLINE_MS;
		for (;;) {
			assert_int_equal(group_list(t[third], &names, &ids, &n), 0);
			for (int k = 0; k < n; k++)
				if (!strcmp(names[k], name))
					at = k;
			if (at >= 0 || now_mono_ms() >= end)
				break;
			broker_names_free(names, n);
			free(ids);
			usleep(50000);
		}
		assert_true(at >= 0);
		assert_int_equal(group_open(t[third], name, GROUP_LOOKUP, &g3), 0);
		assert_true(g3->proxy);
		assert_int_equal(group_id(g3), ids[at]);
		group_put(g3);
		broker_names_free(names, n);
		free(ids);
	}

	/* A member makes it Stable, under both ids. */
	assert_int_equal(group_open(t[c - 1], name, GROUP_LOOKUP, &g3), 0);
	assert_int_equal(group_join(g3, 78, on_wake, NULL, &m), 0);
	assert_true(list_has(c - 1, 4, "stable", NULL, "inv/ledger", pt, st));
	assert_true(list_has(c - 1, 4, "stable", NULL, "ledger", pt, st));
	group_leave(m);
	group_put(g3);

	/* Deleted at the coordinator: a listing after the cached answers
	 * expire (a second) drops the third mount's idle proxy. */
	group_put(g);
	assert_int_equal(delete_group(c - 1, "inv/ledger"), PROTO_ERR_NONE);
	assert_false(list_has(c - 1, 0, NULL, NULL, "inv/ledger", pt, st));
	end = now_mono_ms() + DEADLINE_MS;
	while (listed(third, t[third], name) && now_mono_ms() < end)
		usleep(50000);
	assert_false(listed(third, t[third], name));
	for (int i = 0; i < NB; i++)
		topic_put(t[i]);
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
	/* There a lookup finds the coordinator's group and makes a proxy
	 * (mkdir: EEXIST), which reads the coordinator's offsets. */
	assert_int_equal(group_open(t[other], name, GROUP_CREATE_EXCL, &g), -EEXIST);
	assert_int_equal(group_open(t[other], name, GROUP_LOOKUP, &g), 0);
	assert_true(g->proxy);
	assert_int_equal(group_offset(g, 0, &off), 0);
	assert_int_equal(off, 0);
	group_put(g);
	off = -1;
	for (int i = 0; i < NB; i++)
		assert_true(loader_asleep(i));

	/* The coordinator stops (its leaderships move first): the others'
	 * loaders, asleep, are kicked by the LeaderAndIsr. */
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
	assert_true(loader_asleep(now - 1));

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
	/* Its member is a member of the group: no reset. */
	assert_int_equal(group_offset_reset(g, 0, "0", 1), -EBUSY);
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

/* A broker that has just become the leader of a group's partition of
 * __consumer_offsets and is loading it answers as Kafka's
 * GroupCoordinator does meanwhile: DescribeGroups (and JoinGroup,
 * OffsetCommit...) COORDINATOR_LOAD_IN_PROGRESS; a Heartbeat NONE (the
 * member keeps its session; once loaded it hears whether it is still a
 * member); a SyncGroup REBALANCE_IN_PROGRESS (the rebalance it completes
 * is lost, the member joins again), where Java's consumer would take
 * COORDINATOR_LOAD_IN_PROGRESS for a fatal error. The survivors' loading
 * is held by holding their coord.mu, which the loader's replay takes. */
static void test_loading_answers(void **state)
{
	const char *name = "ledger";
	int32_t was, now = -1;
	int64_t end;
	char st[32];
	int other;

	(void)state;
	was = offsets_leader(0, name);
	assert_true(was > 0);
	other = was % NB;
	for (int i = 0; i < NB; i++)
		if (i != was - 1)
			pthread_mutex_lock(&b[i]->gc->mu);
	broker_close(b[was - 1]);
	b[was - 1] = NULL;
	end = now_mono_ms() + DEADLINE_MS;
	do {
		now = offsets_leader(other, name);
		if (now > 0 && now != was && b[now - 1] &&
		    describe(now - 1, name, st, sizeof(st), NULL) ==
			    PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS)
			break;
		usleep(50000);
	} while (now_mono_ms() < end);
	assert_true(now > 0 && now != was);
	assert_int_equal(describe(now - 1, name, st, sizeof(st), NULL),
			 PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS);
	assert_int_equal(heartbeat(now - 1, name), PROTO_ERR_NONE);
	assert_int_equal(sync_group(now - 1, name), PROTO_ERR_REBALANCE_IN_PROGRESS);
	for (int i = 0; i < NB; i++)
		if (i != was - 1)
			pthread_mutex_unlock(&b[i]->gc->mu);

	/* Loaded: the member is unknown there. */
	end = now_mono_ms() + DEADLINE_MS;
	while (heartbeat(now - 1, name) != PROTO_ERR_UNKNOWN_MEMBER_ID && now_mono_ms() < end)
		usleep(50000);
	assert_int_equal(heartbeat(now - 1, name), PROTO_ERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(sync_group(now - 1, name), PROTO_ERR_UNKNOWN_MEMBER_ID);
	assert_int_equal(open_broker(was - 1), 0);
}

/* The bytes a consume member m on a follower reads first (from stream
 * offset 0, so nothing is committed), waiting up to ms for them. */
static ssize_t first_read(struct group_member *m, char *buf, size_t cap, int64_t ms)
{
	int64_t end = now_mono_ms() + ms;
	ssize_t n;

	while ((n = group_consume(m, 0, buf, cap - 1)) == 0 && now_mono_ms() < end)
		usleep(50000);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* A Kafka client's commit past the log end: on the mount of each broker
 * that follows the partition, a consume member starts at
 * auto.offset.reset (earliest) once the partition's leader answered
 * (ListOffsets) that its log ends below the commit, as a Kafka consumer
 * fetching from a follower asks the leader before it resets. */
static void test_follower_past_end(void **state)
{
	const char *name = "far";
	struct topic *t[NB] = { NULL };
	struct partition_state ps = { .leader = -1 };
	struct log_state st;
	struct group_member *m;
	struct group *g;
	int parts[1] = { 0 };
	int64_t offs[1] = { 1000 }, end;
	int32_t c;
	int other, third, leader, followers = 0;
	char buf[64];

	(void)state;
	c = topic_on_all(name, "farlog", t, &other, &third);
	end = now_mono_ms() + DEADLINE_MS;
	while ((cluster_partition_state(b[other]->cluster, "farlog", 0, &ps) < 0 ||
		ps.leader <= 0) &&
	       now_mono_ms() < end)
		usleep(20000);
	assert_true(ps.leader > 0);
	leader = ps.leader - 1;
	assert_int_equal(topic_produce(t[leader], 0, "a\nb\n", 4, 0), 0);
	for (int i = 0; i < NB; i++) {
		end = now_mono_ms() + DEADLINE_MS;
		while ((topic_log_state(t[i], 0, &st) < 0 || st.hw < 2) && now_mono_ms() < end)
			usleep(20000);
		assert_int_equal(st.log_end_offset, 2);
	}
	assert_int_equal(group_open(t[c - 1], name, GROUP_CREATE, &g), 0);
	assert_int_equal(group_lock_live(g), 0);
	assert_int_equal(group_store_commit(g, parts, offs, NULL, 1, "consumer-1"), 0);
	pthread_mutex_unlock(&g->mu);
	group_put(g);

	for (int i = 0; i < NB; i++) {
		if (i == leader)
			continue;
		followers++;
		assert_int_equal(group_open(t[i], name, GROUP_LOOKUP, &g), 0);
		assert_int_equal(group_join(g, 50 + i, on_wake, NULL, &m), 0);
		assert_int_equal(first_read(m, buf, sizeof(buf), 10000), 4);
		assert_string_equal(buf, "a\nb\n");
		group_leave(m);
		group_put(g);
	}
	assert_int_equal(followers, 2);
	for (int i = 0; i < NB; i++)
		topic_put(t[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_partition_for),
		cmocka_unit_test(test_too_few_brokers),
		cmocka_unit_test(test_first_find),
		cmocka_unit_test(test_one_coordinator),
		cmocka_unit_test(test_admin_forwarded),
		cmocka_unit_test(test_list_groups),
		cmocka_unit_test(test_follower_past_end),
		cmocka_unit_test(test_offsets_follow_leader),
		cmocka_unit_test(test_loading_answers),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
