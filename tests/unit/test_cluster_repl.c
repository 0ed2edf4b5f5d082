/*
 * test_cluster_repl.c — the controller's requests on the broker listener
 * (repl/cluster_repl.c) with the engine's logs: LeaderAndIsr, UpdateMetadata
 * and StopReplica sent by a real client over SASL reach the replica
 * manager (a leader over an engine log, its epoch stamped, the
 * min.insync.replicas check of the produce path, the log dropped on
 * delete); a stale controller epoch and a user other than the brokers'
 * are answered with Kafka's errors and change nothing; a replica made
 * before its topic is made here opens its log with the topic's overrides
 * from a real ZooKeeper; key.separator and line.format are decided in
 * the topic's znode (a change, the fix of a replica's first records, a
 * change refused after it); a DeleteTopics' wait for the controller ends
 * as the broker stops (-ESHUTDOWN), not at its timeout. The ISR writes
 * are not exercised here
 * (test_replica_mgr.c, t_cluster_replication.sh).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "repl/cluster_repl.h"
#include "repl/config.h"
#include "repl/controller.h"
#include "repl/metadata_cache.h"
#include "repl/partition.h"
#include "repl/proto.h"
#include "repl/replica_mgr.h"
#include "repl/zkc.h"
#include "repl/zkmeta.h"
#include "engine/log_int.h"
#include "tests/unit/protofx.h"
#include "tests/unit/replfx.h"
#include "tests/unit/zksrv.h"
#include "util/clock.h"
#include "util/pause.h"

#define TIMEOUT_MS 20000

static char tmpdir[64];

struct fx {
	struct broker_config cfg;
	struct logmgr *m;
	struct metadata_cache *mc;
	struct cluster_repl *cr;
	struct net_server *srv;
	int port;
	struct sasl_cred admin, eve;
};

static int creds(void *arg, const char *user, enum sasl_mech mech, struct sasl_cred *cred)
{
	struct fx *f = arg;

	if (mech != SASL_SHA_256)
		return -ENOENT;

	if (!strcmp(user, "admin"))
		*cred = f->admin;
	else if (!strcmp(user, "eve"))
		*cred = f->eve;
	else
		return -ENOENT;
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct cluster_local local = { 0 };
	char text[1024], err[256], dir[128];

	if (!f || replfx_mkdtemp(tmpdir, sizeof(tmpdir), "crepl") < 0)
		return -1;
	snprintf(text, sizeof(text),
		 "broker.id=1\nlog.dirs=%s/data\nmin.insync.replicas=2\n"
		 "listeners=SASL_PLAINTEXT://127.0.0.1:0\n"
		 "security.inter.broker.protocol=SASL_PLAINTEXT\n"
		 "sasl.enabled.mechanisms=SCRAM-SHA-256\n"
		 "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config="
		 "org.apache.kafka.common.security.scram.ScramLoginModule required "
		 "username=\"admin\" password=\"admin-secret\";\n",
		 tmpdir);
	broker_config_defaults(&f->cfg);
	assert_int_equal(broker_config_parse(&f->cfg, text, strlen(text), err, sizeof(err)), 0);
	snprintf(dir, sizeof(dir), "%s/data", tmpdir);
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(logmgr_open(dir, &io_posix, &f->m), 0);
	assert_int_equal(metadata_cache_new(&f->mc), 0);
	local.m = f->m;
	assert_int_equal(cluster_repl_new(&f->cfg, &local, f->mc, &f->cr), 0);
	assert_int_equal(
		sasl_cred_from_password(SASL_SHA_256, "admin-secret", NULL, 0, 4096, &f->admin), 0);
	assert_int_equal(
		sasl_cred_from_password(SASL_SHA_256, "eve-secret", NULL, 0, 4096, &f->eve), 0);
	assert_int_equal(net_server_new(&f->cfg.cluster.net, creds, f, &f->srv), 0);
	assert_int_equal(cluster_repl_register(f->cr, f->srv), 0);
	f->port = replfx_listener_start(f->srv);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	cluster_repl_stop(f->cr);
	net_server_stop(f->srv);
	cluster_repl_close_logs(f->cr);
	net_server_free(f->srv);
	cluster_repl_free(f->cr);
	assert_int_equal(logmgr_close(f->m), 0);
	metadata_cache_free(f->mc);
	free(f);
	return replfx_rmrf(tmpdir);
}

static struct net_client *connect_as(struct fx *f, const char *user, const char *password)
{
	struct net_client *c;

	assert_int_equal(net_client_connect("127.0.0.1", f->port, TIMEOUT_MS, &c), 0);
	assert_int_equal(net_client_sasl(c, SASL_SHA_256, user, password, TIMEOUT_MS), 0);
	return c;
}

typedef int (*enc_fn)(struct kbuf_w *w, int16_t v, const void *req);

static int enc_lisr(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_lisr_req_encode(w, v, req);
}

static int enc_um(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_um_req_encode(w, v, req);
}

static int enc_stop(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_stop_req_encode(w, v, req);
}

/* Sends req at the highest version both sides know; the response in nr,
 * the version in *v. */
static void rpc(struct net_client *c, int16_t api, enc_fn enc, const void *req, struct net_resp *nr,
		int16_t *v)
{
	struct kbuf_w w;
	int ver = net_client_version(c, api);

	assert_true(ver >= 0);
	*v = (int16_t)ver;
	kbuf_w_init(&w, 1 << 16);
	assert_int_equal(enc(&w, *v, req), 0);
	assert_int_equal(net_client_call(c, api, *v, w.buf, w.len, 0, TIMEOUT_MS, nr), 0);
	kbuf_w_free(&w);
}

/* One LeaderAndIsr of ps (a partition of orders); returns the
 * response's error code and the partition's in *perr. */
/* The broker epoch the controller's requests below name (-1: unknown,
 * which every broker takes). */
static int64_t req_broker_epoch = -1;

static int16_t send_lisr_of(struct net_client *c, int32_t cepoch, struct proto_part_state *ps,
			    int16_t *perr)
{
	struct proto_topic_state ts = { .topic_name = kstr_of("orders"),
					.n_partitions = 1,
					.partition_states = ps };
	struct proto_lisr_req req = { .controller_id = 2,
				      .controller_epoch = cepoch,
				      .broker_epoch = req_broker_epoch,
				      .n_topics = 1,
				      .topic_states = &ts };
	struct proto_lisr_resp resp = { 0 };
	struct net_resp nr;
	int16_t ec, v;

	rpc(c, PROTO_API_LEADER_AND_ISR, enc_lisr, &req, &nr, &v);
	assert_int_equal(proto_lisr_resp_decode(&nr.body, v, &resp), 0);
	ec = resp.error_code;
	*perr = -1;
	if (resp.n_topics == 1 && resp.topics[0].n_partition_errors == 1)
		*perr = resp.topics[0].partition_errors[0].error_code;
	else if (resp.n_partition_errors == 1)
		*perr = resp.partition_errors[0].error_code;
	proto_lisr_resp_free(&resp);
	net_resp_free(&nr);
	return ec;
}

/* orders-p led by broker 1, its only replica, in leader epoch epoch. */
static int16_t send_lisr(struct net_client *c, int32_t cepoch, int32_t p, int32_t epoch,
			 int16_t *perr)
{
	int32_t one[1] = { 1 };
	struct proto_part_state ps = {
		.partition_index = p,
		.controller_epoch = cepoch,
		.leader = 1,
		.leader_epoch = epoch,
		.n_isr = 1,
		.isr = one,
		.partition_epoch = 0,
		.n_replicas = 1,
		.replicas = one,
		.is_new = true,
	};

	return send_lisr_of(c, cepoch, &ps, perr);
}

/* One UpdateMetadata of ps (partition of topic), brokers 1 and 2 live;
 * returns the response's error code. */
static int16_t send_um_of(struct net_client *c, int32_t cepoch, const char *topic,
			  struct proto_part_state *ps)
{
	struct proto_topic_state ts = { .topic_name = kstr_of(topic),
					.n_partitions = 1,
					.partition_states = ps };
	struct proto_um_broker live[2] = { { .id = 1, .rack = KSTR_NULL },
					   { .id = 2, .rack = KSTR_NULL } };
	struct proto_um_req req = { .controller_id = 2,
				    .controller_epoch = cepoch,
				    .broker_epoch = req_broker_epoch,
				    .n_topics = 1,
				    .topic_states = &ts,
				    .n_live_brokers = 2,
				    .live_brokers = live };
	struct proto_um_resp resp = { 0 };
	struct net_resp nr;
	int16_t v;

	rpc(c, PROTO_API_UPDATE_METADATA, enc_um, &req, &nr, &v);
	assert_int_equal(proto_um_resp_decode(&nr.body, v, &resp), 0);
	net_resp_free(&nr);
	return resp.error_code;
}

static int16_t send_um(struct net_client *c, int32_t cepoch)
{
	int32_t r12[2] = { 2, 1 };
	struct proto_part_state ps = {
		.partition_index = 0,
		.controller_epoch = cepoch,
		.leader = 2,
		.leader_epoch = 5,
		.n_isr = 2,
		.isr = r12,
		.partition_epoch = 7,
		.n_replicas = 2,
		.replicas = r12,
	};

	return send_um_of(c, cepoch, "payments", &ps);
}

static int16_t send_stop(struct net_client *c, int32_t cepoch, bool del)
{
	struct proto_stop_part sp = { .partition_index = 0,
				      .leader_epoch = -1,
				      .delete_partition = del };
	struct proto_stop_topic st = { .topic_name = kstr_of("orders"),
				       .n_partitions = 1,
				       .partition_states = &sp };
	struct proto_stop_req req = { .controller_id = 2,
				      .controller_epoch = cepoch,
				      .broker_epoch = -1,
				      .delete_partitions = del,
				      .n_topics = 1,
				      .topics = &st };
	struct proto_stop_resp resp = { 0 };
	struct net_resp nr;
	int16_t ec, v;

	rpc(c, PROTO_API_STOP_REPLICA, enc_stop, &req, &nr, &v);
	assert_int_equal(proto_stop_resp_decode(&nr.body, v, &resp), 0);
	ec = resp.error_code;
	proto_stop_resp_free(&resp);
	net_resp_free(&nr);
	return ec;
}

static struct partition_info info_of(struct fx *f, const char *topic, int p)
{
	return replfx_info(cluster_repl_replicas(f->cr), topic, p);
}

/* LeaderAndIsr over the wire makes an engine log and a leader over it;
 * the produce path's check sees its epoch and min.insync.replicas. */
static void test_leader_and_isr(void **state)
{
	struct fx *f = *state;
	struct net_client *c = connect_as(f, "admin", "admin-secret");
	char dir[160];
	struct stat st;
	int16_t perr;
	int32_t e = -1;

	assert_int_equal(send_lisr(c, 1, 0, 3, &perr), PROTO_ERR_NONE);
	assert_int_equal(perr, PROTO_ERR_NONE);
	assert_int_equal(info_of(f, "orders", 0).role, PARTITION_LEADER);
	assert_int_equal(info_of(f, "orders", 0).leader_epoch, 3);
	snprintf(dir, sizeof(dir), "%s/data/orders-0", tmpdir);
	assert_int_equal(stat(dir, &st), 0);
	/* One in-sync replica of one: min.insync.replicas=2 counts as 1
	 * (Kafka's effectiveMinIsr), and 3 asked for by the topic too. */
	assert_int_equal(cluster_repl_append_check(f->cr, "orders", 0, -1, 0, &e), 0);
	assert_int_equal(cluster_repl_append_check(f->cr, "orders", 0, -1, 3, &e), 0);
	assert_int_equal(cluster_repl_append_check(f->cr, "orders", 0, 1, 0, &e), 0);
	assert_int_equal(e, 3);
	assert_int_equal(cluster_repl_append_check(f->cr, "orders", 1, 1, 0, &e), -EREMOTE);
	/* What a commit that timed out logs of the hw's holders: the ISR
	 * (this broker alone, no follower); nothing where it leads nothing;
	 * cut to the buffer. */
	char lag[64];

	cluster_repl_commit_lag(f->cr, "orders", 0, lag, sizeof(lag));
	assert_string_equal(lag, "; ISR 1");
	cluster_repl_commit_lag(f->cr, "orders", 1, lag, sizeof(lag));
	assert_string_equal(lag, "");
	cluster_repl_commit_lag(f->cr, "orders", 0, lag, 4);
	assert_string_equal(lag, "; I");
	/* An older controller changes nothing. */
	assert_int_equal(send_lisr(c, 0, 0, 4, &perr), PROTO_ERR_STALE_CONTROLLER_EPOCH);
	assert_int_equal(info_of(f, "orders", 0).leader_epoch, 3);
	/* An older leader epoch: that partition's error. */
	assert_int_equal(send_lisr(c, 1, 0, 2, &perr), PROTO_ERR_NONE);
	assert_int_equal(perr, PROTO_ERR_STALE_CONTROLLER_EPOCH);
	net_client_close(c);
}

/* A replica made by LeaderAndIsr before its topic is made here (a broker
 * started on an empty data directory, a LeaderAndIsr ahead of the cluster
 * thread) opens its log with the topic's overrides from ZooKeeper, as
 * Kafka's log manager does, not with the defaults: its first records are
 * taken under the topic's key.separator, which it could not take later. */
static void test_new_replica_takes_zk_settings(void **state)
{
	struct fx *f = *state;
	struct zksrv srv;
	struct zkc *zk = NULL;
	struct zk_config zc = { 0 };
	struct log *l;
	int16_t perr;

	assert_int_equal(zksrv_start(&srv), 0);
	assert_int_equal(zkc_open(srv.connect, 6000, 20000, NULL, NULL, &zk), 0);
	assert_int_equal(zkmeta_ensure_paths(zk), 0);
	assert_int_equal(zk_config_put(&zc, "key.separator", 13, ":", 1), 0);
	assert_int_equal(zk_config_put(&zc, "segment.bytes", 13, "4096", 4), 0);
	assert_int_equal(zkmeta_set_topic_config(zk, "orders", &zc, ZKC_ANY_VERSION), 0);
	zk_config_clear(&zc);
	cluster_repl_set_zk(f->cr, zk);

	struct net_client *c = connect_as(f, "admin", "admin-secret");
	assert_int_equal(send_lisr(c, 1, 0, 3, &perr), PROTO_ERR_NONE);
	assert_int_equal(perr, PROTO_ERR_NONE);
	net_client_close(c);
	assert_int_equal(logmgr_get_log(f->m, "orders", 0, &f->cfg.log, false, &l), 0);
	assert_int_equal(l->cfg.key_sep_len, 1);
	assert_int_equal(l->cfg.key_sep[0], ':');
	assert_int_equal(l->cfg.segment_bytes, 4096);

	cluster_repl_set_zk(f->cr, NULL);
	zkc_close(zk);
	zksrv_stop(&srv);
}

/* Two line settings, as a broker renders them. */
static void lines_set(struct zk_config *zc, const char *sep, const char *fmt)
{
	*zc = (struct zk_config){ 0 };
	assert_int_equal(zk_config_put(zc, "key.separator", 13, sep, strlen(sep)), 0);
	assert_int_equal(zk_config_put(zc, "line.format", 11, fmt, strlen(fmt)), 0);
}

/* The znode's value of key (NULL: none) and its version. */
static int32_t znode_has(struct zkc *zk, const char *key, const char *want)
{
	struct zk_config zc = { 0 };
	char why[ZK_WHY_LEN];
	int32_t version = -1;

	assert_int_equal(zkmeta_topic_config(zk, "orders", &zc, &version, why), 0);
	if (want)
		assert_string_equal(zk_config_get(&zc, key) ? zk_config_get(&zc, key) : "(none)",
				    want);
	else
		assert_null(zk_config_get(&zc, key));
	zk_config_clear(&zc);
	return version;
}

/* key.separator and line.format are decided in the topic's znode: a
 * change is written while no replica fixed them; the fix (a replica's
 * first records) takes the znode's and marks it; a change after it is
 * refused (EBUSY) and writes nothing; a write that does not change them
 * (from a broker that has not heard of the change yet) keeps the
 * znode's; the owner's write keeps the mark. */
static void test_line_settings_fixed_in_zk(void **state)
{
	struct fx *f = *state;
	struct zksrv srv;
	struct zkc *zk = NULL;
	struct zk_config over = { 0 }, colon, none, semi, out = { 0 };
	int32_t v;

	assert_int_equal(zksrv_start(&srv), 0);
	assert_int_equal(zkc_open(srv.connect, 6000, 20000, NULL, NULL, &zk), 0);
	assert_int_equal(zkmeta_ensure_paths(zk), 0);
	cluster_repl_set_zk(f->cr, zk);
	lines_set(&colon, ":", "escape");
	lines_set(&none, "", "escape");
	lines_set(&semi, ";", "raw");

	/* Not fixed yet: the change is written. */
	assert_int_equal(cluster_repl_set_topic_config(f->cr, "orders", &over, &colon, true), 0);
	znode_has(zk, "key.separator", ":");
	znode_has(zk, ZK_LINES_FIXED, NULL);
	/* A replica's first records, on a broker that has not heard of it:
	 * the znode's win, and are fixed. */
	assert_int_equal(cluster_repl_topic_lines_fix(f->cr, "orders", &none, false, &out), 0);
	assert_string_equal(zk_config_get(&out, "key.separator"), ":");
	assert_string_equal(zk_config_get(&out, "line.format"), "escape");
	v = znode_has(zk, ZK_LINES_FIXED, "true");
	/* Fixed: another replica's fix writes nothing and gets the same,
	 * even with records of its own. */
	assert_int_equal(cluster_repl_topic_lines_fix(f->cr, "orders", &semi, true, &out), 0);
	assert_string_equal(zk_config_get(&out, "key.separator"), ":");
	assert_int_equal(znode_has(zk, "key.separator", ":"), v);
	/* A change now: refused, nothing written. */
	assert_int_equal(cluster_repl_set_topic_config(f->cr, "orders", &over, &semi, true),
			 -EBUSY);
	assert_int_equal(znode_has(zk, "line.format", "escape"), v);
	/* The same values are no change. */
	assert_int_equal(cluster_repl_set_topic_config(f->cr, "orders", &over, &colon, true), 0);
	/* Another setting from a broker with stale line settings: the
	 * znode keeps its own. */
	assert_int_equal(zk_config_put(&over, "retention.ms", 12, "1000", 4), 0);
	assert_int_equal(cluster_repl_set_topic_config(f->cr, "orders", &over, &none, false), 0);
	znode_has(zk, "retention.ms", "1000");
	znode_has(zk, "key.separator", ":");
	znode_has(zk, ZK_LINES_FIXED, "true");
	/* An owner's write keeps them. */
	zk_config_clear(&over);
	assert_int_equal(zk_config_put(&over, "mqfs.mode", 9, "0750", 4), 0);
	assert_int_equal(cluster_repl_set_topic_owner(f->cr, "orders", &over), 0);
	znode_has(zk, ZK_LINES_FIXED, "true");
	znode_has(zk, "retention.ms", "1000");

	zk_config_clear(&over);
	zk_config_clear(&out);
	zk_config_clear(&colon);
	zk_config_clear(&none);
	zk_config_clear(&semi);
	cluster_repl_set_zk(f->cr, NULL);
	zkc_close(zk);
	zksrv_stop(&srv);
}

/* Whether the replica manager holds topic-partition (the reference
 * replica_mgr_get takes is given back). */
static bool has_replica(struct fx *f, const char *topic, int32_t partition)
{
	struct partition *p = replica_mgr_get(cluster_repl_replicas(f->cr), topic, partition);

	partition_unref(p);
	return p != NULL;
}

/* A request for an older registration of this broker is answered
 * STALE_BROKER_EPOCH (not the controller's STALE_CONTROLLER_EPOCH), one
 * for a newer one is taken (the controller saw it before we did). */
static void test_stale_broker_epoch(void **state)
{
	struct fx *f = *state;
	struct net_client *c = connect_as(f, "admin", "admin-secret");
	int16_t perr;

	cluster_repl_set_broker_epoch(f->cr, 100);
	req_broker_epoch = 99;
	assert_int_equal(send_lisr(c, 1, 2, 1, &perr), PROTO_ERR_STALE_BROKER_EPOCH);
	assert_false(has_replica(f, "orders", 2));
	assert_int_equal(send_um(c, 1), PROTO_ERR_STALE_BROKER_EPOCH);
	assert_int_equal(replica_mgr_partitions(cluster_repl_replicas(f->cr), "payments"), 0);
	req_broker_epoch = 101;
	assert_int_equal(send_lisr(c, 1, 2, 1, &perr), PROTO_ERR_NONE);
	assert_true(has_replica(f, "orders", 2));
	req_broker_epoch = -1;
	net_client_close(c);
}

/* A client authenticated as another user may not act as the controller. */
static void test_only_the_brokers_user(void **state)
{
	struct fx *f = *state;
	struct net_client *c = connect_as(f, "eve", "eve-secret"), *admin;
	int16_t perr;

	assert_int_equal(send_lisr(c, 1, 2, 1, &perr), PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED);
	assert_false(has_replica(f, "orders", 2));
	assert_int_equal(send_um(c, 1), PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED);
	assert_int_equal(replica_mgr_partitions(cluster_repl_replicas(f->cr), "payments"), 0);
	/* Nor stop (and delete) a replica the controller made. */
	admin = connect_as(f, "admin", "admin-secret");
	assert_int_equal(send_lisr(admin, 1, 0, 3, &perr), PROTO_ERR_NONE);
	net_client_close(admin);
	assert_int_equal(send_stop(c, 1, true), PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED);
	assert_true(has_replica(f, "orders", 0));
	net_client_close(c);
}

/* UpdateMetadata fills the cluster's metadata; .state's cells come from it
 * for a partition without a local replica. */
static void test_update_metadata(void **state)
{
	struct fx *f = *state;
	struct net_client *c = connect_as(f, "admin", "admin-secret");
	char leader[24], epoch[24], replicas[24], isr[24];
	int32_t live[4];

	assert_int_equal(send_um(c, 1), PROTO_ERR_NONE);
	assert_int_equal(replica_mgr_partitions(cluster_repl_replicas(f->cr), "payments"), 1);
	assert_int_equal(replica_mgr_live_brokers(cluster_repl_replicas(f->cr), live, 4), 2);
	assert_int_equal(
		cluster_repl_partition_cells(f->cr, "payments", 0, leader, epoch, replicas, isr),
		0);
	assert_string_equal(leader, "2");
	assert_string_equal(epoch, "5");
	assert_string_equal(replicas, "[2,1]");
	assert_string_equal(isr, "[2,1]");
	assert_int_equal(
		cluster_repl_partition_cells(f->cr, "nope", 0, leader, epoch, replicas, isr),
		-ENOENT);
	assert_string_equal(leader, "-");
	assert_int_equal(send_um(c, 0), PROTO_ERR_STALE_CONTROLLER_EPOCH);
	net_client_close(c);
}

/* The controller's channel (to broker 1, this broker's own listener,
 * which metadata names): a request whose connection dies is sent once
 * more on a new one, and when that cannot be made (the listener gone) the
 * error returned (and logged, "UpdateMetadata to broker 1 failed: ...")
 * is that last attempt's, ECONNREFUSED, not the dead connection's. */
static void test_channel_last_error(void **state)
{
	struct fx *f = *state;
	struct controller_channel ch;
	struct metadata_broker b = { .id = 1, .alive = true };
	int32_t live[1] = { 1 };

	snprintf(b.endpoints, sizeof(b.endpoints), "SASL_PLAINTEXT://127.0.0.1:%d", f->port);
	assert_int_equal(metadata_cache_set_brokers(f->mc, &b, 1), 0);
	cluster_repl_channel(f->cr, &ch);
	assert_int_equal(ch.update_metadata(ch.arg, 1, -1, 1, live, 1, NULL, 0), 0);
	/* The listener and its connections go (teardown's stop and free do
	 * nothing more). */
	net_server_free(f->srv);
	f->srv = NULL;
	assert_int_equal(ch.update_metadata(ch.arg, 1, -1, 1, live, 1, NULL, 0), -ECONNREFUSED);
}

static int enc_fetch(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_fetch_req_encode(w, v, req);
}

static int enc_list_offsets(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_list_offsets_req_encode(w, v, req);
}

static int enc_ofle(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_ofle_req_encode(w, v, req);
}

/* A consumer's Fetch, ListOffsets (latest) and OffsetForLeaderEpoch of
 * topic-0 are each answered want. */
static void no_replica_answers(struct net_client *c, const char *topic, int16_t want)
{
	struct protofx_fetch fr;
	struct proto_fetch_resp fresp;
	struct proto_list_offsets_part lp = { .partition_index = 0,
					      .current_leader_epoch = -1,
					      .timestamp = -1,
					      .max_num_offsets = 1 };
	struct proto_list_offsets_topic lt = { kstr_of(topic), 1, &lp };
	struct proto_list_offsets_req lreq = { .replica_id = -1, .n_topics = 1, .topics = &lt };
	struct proto_list_offsets_resp lresp;
	struct proto_ofle_part op = { .partition = 0,
				      .current_leader_epoch = -1,
				      .leader_epoch = 0 };
	struct proto_ofle_topic ot = { kstr_of(topic), 1, &op };
	struct proto_ofle_req oreq = { .replica_id = -1, .n_topics = 1, .topics = &ot };
	struct proto_ofle_resp oresp;
	struct net_resp nr;
	int16_t v;

	protofx_fetch_init(&fr, topic, -1, -1, 0, -1, 0);
	rpc(c, PROTO_API_FETCH, enc_fetch, &fr.req, &nr, &v);
	assert_int_equal(proto_fetch_resp_decode(&nr.body, v, &fresp), 0);
	assert_int_equal(fresp.topics[0].partitions[0].error_code, want);
	proto_fetch_resp_free(&fresp);
	net_resp_free(&nr);
	rpc(c, PROTO_API_LIST_OFFSETS, enc_list_offsets, &lreq, &nr, &v);
	assert_int_equal(proto_list_offsets_resp_decode(&nr.body, v, &lresp), 0);
	assert_int_equal(lresp.topics[0].partitions[0].error_code, want);
	proto_list_offsets_resp_free(&lresp);
	net_resp_free(&nr);
	rpc(c, PROTO_API_OFFSET_FOR_LEADER_EPOCH, enc_ofle, &oreq, &nr, &v);
	assert_int_equal(proto_ofle_resp_decode(&nr.body, v, &oresp), 0);
	assert_int_equal(oresp.topics[0].partitions[0].error_code, want);
	assert_int_equal(oresp.topics[0].partitions[0].end_offset, -1);
	proto_ofle_resp_free(&oresp);
	net_resp_free(&nr);
}

/* A partition the controller's metadata names and this broker holds no
 * replica of (an UpdateMetadata, no LeaderAndIsr) is
 * NOT_LEADER_OR_FOLLOWER to Fetch, ListOffsets and OffsetForLeaderEpoch,
 * as Kafka's ReplicaManager answers one its metadata cache contains; one
 * the metadata does not name stays UNKNOWN_TOPIC_OR_PARTITION. */
static void test_no_replica_here(void **state)
{
	struct fx *f = *state;
	struct net_client *c = connect_as(f, "admin", "admin-secret");

	no_replica_answers(c, "payments", PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(send_um(c, 1), PROTO_ERR_NONE);
	assert_null(replica_mgr_get(cluster_repl_replicas(f->cr), "payments", 0));
	no_replica_answers(c, "payments", PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	no_replica_answers(c, "nope", PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	net_client_close(c);
}

/* How many lines of the text of orders-p's .state, below its table
 * (cluster_repl_partition_followers), start with prefix. */
static int followers_lines(struct fx *f, int p, const char *prefix)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);
	int n = 0;

	assert_non_null(m);
	cluster_repl_partition_followers(f->cr, "orders", p, m);
	assert_int_equal(fclose(m), 0);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		n += strncmp(line, prefix, strlen(prefix)) == 0;
	free(text);
	return n;
}

/* .state names each offline replica on one line: one the controller's
 * UpdateMetadata names more than once (and after the replica named
 * after it), this broker's own once its log directory failed, and not a
 * follower the leader here still tracks (no leo/lag line for it). */
static void test_offline_replicas_once(void **state)
{
	struct fx *f = *state;
	struct net_client *c = connect_as(f, "admin", "admin-secret");
	int32_t r123[3] = { 1, 2, 3 }, isr1[1] = { 1 }, off[4] = { 2, 2, 3, 2 };
	struct proto_part_state um, ps = { .partition_index = 1,
					   .controller_epoch = 1,
					   .leader = 1,
					   .leader_epoch = 3,
					   .n_isr = 1,
					   .isr = isr1,
					   .n_replicas = 3,
					   .replicas = r123,
					   .is_new = true };
	struct partition_state st;
	int16_t perr;

	/* orders-1: led here, followers 2 and 3, which the controller then
	 * names offline, 2 three times. */
	assert_int_equal(send_lisr_of(c, 1, &ps, &perr), PROTO_ERR_NONE);
	assert_int_equal(perr, PROTO_ERR_NONE);
	um = ps;
	assert_int_equal(info_of(f, "orders", 1).role, PARTITION_LEADER);
	assert_int_equal(info_of(f, "orders", 1).n_followers, 2);
	um.n_offline_replicas = 4;
	um.offline_replicas = off;
	um.is_new = false;
	assert_int_equal(send_um_of(c, 1, "orders", &um), PROTO_ERR_NONE);
	assert_int_equal(cluster_repl_partition_state(f->cr, "orders", 1, &st), 0);
	assert_int_equal(st.n_offline, 2);
	assert_int_equal(st.offline[0], 2);
	assert_int_equal(st.offline[1], 3);
	assert_int_equal(followers_lines(f, 1, "replica 1 2:"), 1);
	assert_int_equal(followers_lines(f, 1, "replica 1 2: offline"), 1);
	assert_int_equal(followers_lines(f, 1, "replica 1 3:"), 1);
	assert_int_equal(followers_lines(f, 1, "replica 1 3: offline"), 1);

	/* orders-0: led here; the log directory fails, and the controller
	 * names this broker's replica offline, twice. */
	assert_int_equal(send_lisr(c, 1, 0, 3, &perr), PROTO_ERR_NONE);
	assert_int_equal(perr, PROTO_ERR_NONE);
	assert_int_equal(cluster_repl_storage_failed(f->cr, "orders", 0, -EIO), -ENXIO);
	assert_true(info_of(f, "orders", 0).offline);
	off[0] = off[1] = 1;
	um.partition_index = 0;
	um.leader = -1;
	um.leader_epoch = 4;
	um.n_offline_replicas = 2;
	assert_int_equal(send_um_of(c, 1, "orders", &um), PROTO_ERR_NONE);
	assert_int_equal(cluster_repl_partition_state(f->cr, "orders", 0, &st), 0);
	assert_int_equal(st.n_offline, 1);
	assert_int_equal(followers_lines(f, 0, "replica 0 1:"), 1);
	assert_int_equal(followers_lines(f, 0, "replica 0 1: offline (this broker's"), 1);
	net_client_close(c);
}

/* StopReplica with delete: the replica goes (its files go with the
 * broker's topic, when the topic leaves /brokers/topics). */
static void test_stop_replica_delete(void **state)
{
	struct fx *f = *state;
	struct net_client *c = connect_as(f, "admin", "admin-secret");
	char dir[160];
	struct stat st;
	int16_t perr;

	assert_int_equal(send_lisr(c, 1, 0, 3, &perr), PROTO_ERR_NONE);
	assert_int_equal(info_of(f, "orders", 0).role, PARTITION_LEADER);
	assert_int_equal(send_stop(c, 1, true), PROTO_ERR_NONE);
	assert_false(has_replica(f, "orders", 0));
	assert_int_equal(send_stop(c, 0, true), PROTO_ERR_STALE_CONTROLLER_EPOCH);
	/* A new LeaderAndIsr makes it again, over the same files. */
	assert_int_equal(send_lisr(c, 1, 0, 4, &perr), PROTO_ERR_NONE);
	assert_int_equal(info_of(f, "orders", 0).leader_epoch, 4);
	snprintf(dir, sizeof(dir), "%s/data/orders-0", tmpdir);
	assert_int_equal(stat(dir, &st), 0);
	net_client_close(c);
}

struct waiter {
	struct cluster_repl *cr;
	int rc;
};

static void *delete_waiter(void *arg)
{
	struct waiter *w = arg;

	w->rc = cluster_repl_delete_topic(w->cr, "orders");
	if (w->rc == 0)
		w->rc = cluster_repl_delete_topic_wait(w->cr, "orders", 4 * TIMEOUT_MS);
	return NULL;
}

/* A DeleteTopics of a topic in ZooKeeper asked, no controller to carry
 * it out: its wait ends when the broker stops (-ESHUTDOWN, the request left in ZooKeeper for
 * the next controller), not at its timeout. The broker's listener stops
 * only once its requests are answered and its ZooKeeper session (a
 * controller's /controller znode) closes after that. */
static void test_delete_wait_ends_at_stop(void **state)
{
	struct fx *f = *state;
	struct waiter w = { .cr = f->cr, .rc = 1 };
	int32_t replicas[] = { 1 };
	struct zk_assignment a = { .replicas = replicas, .n_replicas = 1 };
	struct zk_topic t = { .version = 3, .partitions = &a, .n_partitions = 1 };
	struct zksrv srv;
	struct zkc *zk = NULL;
	char path[ZK_PATH_MAX];
	pthread_t th;
	int64_t end, stopped_at;

	assert_int_equal(zksrv_start(&srv), 0);
	assert_int_equal(zkc_open(srv.connect, 6000, 20000, NULL, NULL, &zk), 0);
	assert_int_equal(zkmeta_ensure_paths(zk), 0);
	assert_int_equal(zk_uuid_new(t.topic_id), 0);
	assert_int_equal(zkmeta_create_topic(zk, "orders", &t, NULL), 0);
	cluster_repl_set_zk(f->cr, zk);
	assert_int_equal(pthread_create(&th, NULL, delete_waiter, &w), 0);
	assert_true(zk_path_delete_topic(path, sizeof(path), "orders") > 0);
	end = now_mono_ms() + TIMEOUT_MS;
	while (zkc_exists(zk, path, NULL, NULL, NULL) == -ENOENT && now_mono_ms() < end)
		pause_ms(10);
	assert_int_equal(zkc_exists(zk, path, NULL, NULL, NULL), 0);
	stopped_at = now_mono_ms();
	cluster_repl_stop(f->cr);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(w.rc, -ESHUTDOWN);
	assert_true(now_mono_ms() - stopped_at < TIMEOUT_MS);
	/* The request stays for the next controller. */
	assert_int_equal(zkc_exists(zk, path, NULL, NULL, NULL), 0);

	cluster_repl_set_zk(f->cr, NULL);
	zkc_close(zk);
	zksrv_stop(&srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_leader_and_isr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_the_brokers_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_broker_epoch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channel_last_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_replica_here, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_replica_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offline_replicas_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_replica_takes_zk_settings, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_line_settings_fixed_in_zk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_wait_ends_at_stop, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
