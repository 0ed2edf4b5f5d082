/*
 * test_group_coordinator.c — which broker coordinates a Kafka consumer
 * group in a cluster (repl/group_serve.c): three brokers in this process
 * over a real ZooKeeper (tests/unit/zksrv.c), PLAINTEXT listeners. Every
 * broker answers FindCoordinator with the same broker, the one at Kafka's
 * abs(hashCode(group)) % 3 of the live brokers sorted by id, with its host
 * and port; group requests sent to another broker are answered
 * NOT_COORDINATOR, and the coordinator serves them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/group_int.h"
#include "repl/net.h"
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
			 "listeners=PLAINTEXT://127.0.0.1:0\n",
			 i + 1, srv.connect);
		if (broker_config_parse(&cfg[i], text, strlen(text), err, sizeof(err)) != 0) {
			fprintf(stderr, "config: %s\n", err);
			return -1;
		}
		snprintf(cfg[i].data_dir, sizeof(cfg[i].data_dir), "%s/b%d", dir, i + 1);
		if (broker_open(&cfg[i], &b[i]) != 0)
			return -1;
		port[i] = cluster_listener_port(b[i]->cluster, 0);
		if (port[i] <= 0)
			return -1;
	}
	return 0;
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

/* FindCoordinator v3 of group on broker i: the node id (-1 on error). */
static int32_t find_coord(int i, const char *group, int32_t *cport)
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
	if (r.coordinators[0].error_code == PROTO_ERR_NONE) {
		node = r.coordinators[0].node_id;
		*cport = r.coordinators[0].port;
	}
	proto_find_coord_resp_free(&r);
	net_resp_free(&raw);
	net_client_close(c);
	return node;
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

static void test_one_coordinator(void **state)
{
	static const char *const groups[] = { "billing", "orders", "g", "audit-7" };
	bool seen[NB] = { false };
	int distinct = 0;

	(void)state;
	for (size_t k = 0; k < sizeof(groups) / sizeof(groups[0]); k++) {
		const char *g = groups[k];
		int32_t want = group_offsets_partition(g, NB) + 1, got[NB], cport = 0;
		int64_t end = now_mono_ms() + DEADLINE_MS;
		bool all;

		if (!seen[want - 1]) {
			seen[want - 1] = true;
			distinct++;
		}
		/* Until every broker sees the three (registrations travel
		 * through ZooKeeper). */
		do {
			all = true;
			for (int i = 0; i < NB; i++) {
				got[i] = find_coord(i, g, &cport);
				all = all && got[i] == want && cport == port[want - 1];
			}
			if (!all)
				usleep(50000);
		} while (!all && now_mono_ms() < end);
		for (int i = 0; i < NB; i++)
			assert_int_equal(got[i], want);
		assert_int_equal(cport, port[want - 1]);
		for (int i = 0; i < NB; i++)
			assert_int_equal(heartbeat(i, g), i + 1 == want
								  ? PROTO_ERR_UNKNOWN_MEMBER_ID
								  : PROTO_ERR_NOT_COORDINATOR);
	}
	assert_true(distinct >= 2); /* the groups do not all land on one broker */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_coordinator),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
