/*
 * test_admin_serve.c — the admin APIs on a single node's listener
 * (repl/admin_serve.c), over a real socket: one CreateTopics v0 frame
 * built by hand from Kafka's protocol documentation, the rest built by
 * the codec at old and flexible versions. CreateTopics (partitions and
 * settings as the mount shows them, every refusal's code and message,
 * validate_only, duplicates, manual assignments), DeleteTopics,
 * CreatePartitions (a topic named twice: one result), DescribeConfigs (sources, synonyms, read-only, the
 * key filter, the broker resource), AlterConfigs and
 * IncrementalAlterConfigs (whole set, SET, DELETE, refusals, nothing
 * changed on a refusal). In a cluster of two brokers over a real
 * ZooKeeper (zksrv.h): CreateTopics, DeleteTopics and CreatePartitions
 * sent to the broker that is not the controller are NOT_CONTROLLER for
 * every topic, before any other check, in Kafka's shape, and change
 * nothing, while that broker's own topic calls (the mount's mkdir) work.
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
#include "repl/cluster.h"
#include "repl/config.h"
#include "repl/net.h"
#include "repl/proto.h"
#include "repl/repl.h"
#include "repl/zkdata.h"
#include "tests/unit/brokerfx.h"
#include "tests/unit/zksrv.h"
#include "util/clock.h"
#include "util/diaglog.h"

#define DEADLINE_MS BROKERFX_DEADLINE_MS

static int setup(void **state)
{
	return brokerfx_setup(state, "admin", "");
}

/* The broker's file sets the default of retention.ms. */
static int setup_static(void **state)
{
	return brokerfx_setup(state, "admin", "log.retention.ms=86400000\n");
}

/* The broker's file advertises another address than its listener's. */
/* Settings written at their built-in defaults: the source is still the
 * file's, as Kafka decides by presence. */
static int setup_static_defaults(void **state)
{
	return brokerfx_setup(
		state, "admin",
		"num.partitions=1\nlog.segment.bytes=1073741824\nlog.roll.hours=168\n");
}

/* The retention in all three keys: log.retention.ms wins, the aliases
 * keep the values the file gave them. */
static int setup_retention_aliases(void **state)
{
	return brokerfx_setup(state, "admin",
			      "log.retention.hours=48\nlog.retention.minutes=90\n"
			      "log.retention.ms=3600000\n");
}

static int setup_advertised(void **state)
{
	return brokerfx_setup(state, "admin", "advertised.listeners=PLAINTEXT://mq.example:9092\n");
}

static int setup_advertised_port0(void **state)
{
	return brokerfx_setup(state, "admin", "advertised.listeners=PLAINTEXT://mq.example:0\n");
}

/* The value of key in the topic's .config, into buf ("" when none). */
static const char *cfg_of(struct brokerfx *f, const char *topic, const char *key, char *buf,
			  size_t n)
{
	struct topic *t;
	char *text = NULL;
	size_t len = 0;
	struct kstr v;

	buf[0] = '\0';
	if (broker_topic_get(f->b, topic, &t) < 0)
		return buf;
	assert_int_equal(topic_config_text(t, &text, &len), 0);
	if (topic_kv_find(text, len, key, &v) == 0)
		snprintf(buf, n, "%.*s", (int)v.len, v.ptr);
	free(text);
	topic_put(t);
	return buf;
}

static int parts_of(struct brokerfx *f, const char *topic)
{
	struct topic *t;
	int n;

	if (broker_topic_get(f->b, topic, &t) < 0)
		return -1;
	n = topic_partitions(t);
	topic_put(t);
	return n;
}

static bool kstr_same_test(struct kstr a, struct kstr b)
{
	return a.len == b.len && (!a.len || !memcmp(a.ptr, b.ptr, (size_t)a.len));
}

/* ---- CreateTopics ---- */

static void create(struct brokerfx *f, int16_t v, struct proto_creatable_topic *topics, int n,
		   bool validate_only, struct proto_create_topics_resp *resp, struct net_resp *raw)
{
	struct proto_create_topics_req req = {
		.n_topics = n, .topics = topics, .timeout_ms = 5000, .validate_only = validate_only
	};
	struct kbuf_w w;

	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_create_topics_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_CREATE_TOPICS, v, &w, raw);
	assert_int_equal(proto_create_topics_resp_decode(&raw->body, v, resp), 0);
}

/* CreateTopics v0 written byte by byte: topic "handmade", 2 partitions,
 * replication factor 1, no assignments, one config retention.ms=5000,
 * timeout 1000; the answer: one topic, error NONE. */
static void test_create_v0_bytes(void **state)
{
	struct brokerfx *f = *state;
	static const uint8_t body[] = {
		0,   0,   0,   1,                                 /* topics: 1 */
		0,   8,   'h', 'a', 'n', 'd', 'm', 'a', 'd', 'e', /* name */
		0,   0,   0,   2,                                 /* num_partitions */
		0,   1,                                           /* replication_factor */
		0,   0,   0,   0,                                 /* assignments: 0 */
		0,   0,   0,   1,                                 /* configs: 1 */
		0,   12,  'r', 'e', 't', 'e', 'n', 't', 'i', 'o', 'n', '.',
		'm', 's', 0,   4,   '5', '0', '0', '0', 0,   0,   3,   0xe8, /* timeout_ms 1000 */
	};
	static const uint8_t want[] = {
		0, 0, 0, 1, 0, 8, 'h', 'a', 'n', 'd', 'm', 'a', 'd', 'e', 0, 0, /* error NONE */
	};
	struct net_resp raw;
	char buf[32];

	assert_int_equal(net_client_call(f->c, PROTO_API_CREATE_TOPICS, 0, body, sizeof(body), 0,
					 DEADLINE_MS, &raw),
			 0);
	assert_int_equal(raw.body.end - raw.body.p, sizeof(want));
	assert_memory_equal(raw.body.p, want, sizeof(want));
	net_resp_free(&raw);
	assert_int_equal(parts_of(f, "handmade"), 2);
	assert_string_equal(cfg_of(f, "handmade", "retention.ms", buf, sizeof(buf)), "5000");
}

/* "value source" of key in a CreateTopics answer's configs ("" when not
 * listed). */
static const char *created_cfg(const struct proto_creatable_topic_result *t, const char *key,
			       char *buf, size_t n)
{
	buf[0] = '\0';
	for (int32_t i = 0; i < t->n_configs; i++)
		if (kstr_same_test(t->configs[i].name, kstr_of(key)))
			snprintf(buf, n, "%.*s %d", (int)t->configs[i].value.len,
				 t->configs[i].value.ptr, t->configs[i].config_source);
	return buf;
}

static void create_versions(void **state, int16_t v)
{
	struct brokerfx *f = *state;
	struct proto_config cfg[] = {
		{ .name = kstr_of("retention.ms"), .value = kstr_of("60000") },
		{ .name = kstr_of("cleanup.policy"), .value = kstr_of("compact") },
	};
	struct proto_config unknown = { .name = kstr_of("no.such"), .value = kstr_of("1") };
	struct proto_config badval = { .name = kstr_of("segment.bytes"), .value = kstr_of("5") };
	struct proto_config nullval = { .name = kstr_of("retention.ms"), .value = KSTR_NULL };
	struct proto_config parts = { .name = kstr_of("partitions"), .value = kstr_of("3") };
	int32_t self = 0, other = 7;
	struct proto_replica_assignment mine[] = { { 0, 1, &self }, { 1, 1, &self } };
	struct proto_replica_assignment theirs[] = { { 0, 1, &other } };
	struct proto_creatable_topic t[] = {
		{ kstr_of("a"), 3, 1, 0, NULL, 2, cfg },
		{ kstr_of("a"), 1, 1, 0, NULL, 0, NULL }, /* exists now */
		{ kstr_of("b"), 1, 1, 0, NULL, 1, &unknown },
		{ kstr_of("c"), 1, 1, 0, NULL, 1, &badval },
		{ kstr_of("d"), 1, 2, 0, NULL, 0, NULL },
		{ kstr_of("e"), 0, 1, 0, NULL, 0, NULL },
		{ kstr_of("bad/name"), 1, 1, 0, NULL, 0, NULL },
		{ kstr_of("g"), 1, 1, 0, NULL, 1, &nullval },
		{ kstr_of("h"), 1, 1, 0, NULL, 1, &parts },
		{ kstr_of("m"), -1, -1, 2, mine, 0, NULL },
		{ kstr_of("n"), -1, -1, 1, theirs, 0, NULL },
		{ kstr_of("o"), 2, -1, 1, mine, 0, NULL },
		{ kstr_of("p"), -1, -1, 0, NULL, 0, NULL },
		{ kstr_of("q"), 10001, 1, 0, NULL, 0, NULL }, /* over the parser's range */
	};
	static const int16_t want[] = {
		PROTO_ERR_NONE,
		PROTO_ERR_TOPIC_ALREADY_EXISTS,
		PROTO_ERR_INVALID_CONFIG,
		PROTO_ERR_INVALID_CONFIG,
		PROTO_ERR_INVALID_REPLICATION_FACTOR,
		PROTO_ERR_INVALID_PARTITIONS,
		PROTO_ERR_INVALID_TOPIC_EXCEPTION,
		PROTO_ERR_INVALID_REQUEST,
		PROTO_ERR_INVALID_CONFIG,
		PROTO_ERR_NONE,
		PROTO_ERR_INVALID_REPLICA_ASSIGNMENT,
		PROTO_ERR_INVALID_REQUEST,
		PROTO_ERR_NONE,
		PROTO_ERR_INVALID_PARTITIONS,
	};
	struct proto_create_topics_resp r;
	struct net_resp raw;
	char buf[32];

	/* One at a time, so that "a" exists when the second one comes. */
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		create(f, v, &t[i], 1, false, &r, &raw);
		assert_int_equal(r.n_topics, 1);
		assert_true(kstr_same_test(r.topics[0].name, t[i].name));
		if (r.topics[0].error_code != want[i])
			fail_msg("topic %zu: error %d, want %d", i, r.topics[0].error_code,
				 want[i]);
		if (v >= 1 && want[i] != PROTO_ERR_NONE) {
			assert_non_null(r.topics[0].error_message.ptr);
			/* Every refusal says why (the log line carries it too). */
			if (r.topics[0].error_message.len <= 0)
				fail_msg("topic %zu: an empty error_message", i);
		}
		if (v >= 5 && want[i] == PROTO_ERR_NONE && i == 0) {
			assert_int_equal(r.topics[0].num_partitions, 3);
			assert_int_equal(r.topics[0].replication_factor, 1);
			/* The settings given are the topic's own, the others the defaults. */
			assert_string_equal(
				created_cfg(&r.topics[0], "retention.ms", buf, sizeof(buf)),
				"60000 1");
			assert_string_equal(
				created_cfg(&r.topics[0], "cleanup.policy", buf, sizeof(buf)),
				"compact 1");
			assert_string_equal(
				created_cfg(&r.topics[0], "segment.bytes", buf, sizeof(buf)),
				"1073741824 5");
		}
		/* Every topic created lists its settings (Java's admin client
		 * reads them; a null list fails its createTopics); a refusal
		 * an empty list, as Kafka's, with no partition count. */
		if (v >= 5 && want[i] == PROTO_ERR_NONE && r.topics[0].n_configs < 3)
			fail_msg("topic %zu: %d configs", i, r.topics[0].n_configs);
		if (v >= 5 && want[i] != PROTO_ERR_NONE) {
			assert_int_equal(r.topics[0].n_configs, 0);
			assert_int_equal(r.topics[0].num_partitions, -1);
			assert_int_equal(r.topics[0].replication_factor, -1);
		}
		proto_create_topics_resp_free(&r);
		net_resp_free(&raw);
	}
	assert_int_equal(parts_of(f, "a"), 3);
	assert_string_equal(cfg_of(f, "a", "retention.ms", buf, sizeof(buf)), "60000");
	assert_string_equal(cfg_of(f, "a", "cleanup.policy", buf, sizeof(buf)), "compact");
	assert_int_equal(parts_of(f, "m"), 2);
	assert_int_equal(parts_of(f, "p"), 1); /* num.partitions */
	for (const char *const *n =
		     (const char *const[]){ "b", "c", "d", "e", "g", "h", "n", "o", NULL };
	     *n; n++)
		assert_int_equal(parts_of(f, *n), -1);
}

static void test_create_v1(void **state)
{
	create_versions(state, 1);
}

static void test_create_v5(void **state)
{
	create_versions(state, 5);
}

static void test_create_v7(void **state)
{
	create_versions(state, 7);
}

static void test_create_validate_only_and_duplicates(void **state)
{
	struct brokerfx *f = *state;
	struct proto_creatable_topic t[] = {
		{ kstr_of("x"), 2, 1, 0, NULL, 0, NULL },
		{ kstr_of("y"), 1, 1, 0, NULL, 0, NULL },
		{ kstr_of("y"), 1, 1, 0, NULL, 0, NULL },
	};
	struct proto_create_topics_resp r;
	struct net_resp raw;

	create(f, 4, t, 1, true, &r, &raw);
	assert_int_equal(r.topics[0].error_code, PROTO_ERR_NONE);
	assert_int_equal(parts_of(f, "x"), -1);
	proto_create_topics_resp_free(&r);
	net_resp_free(&raw);

	/* validate_only at v5: the settings the topic would have, as Kafka. */
	create(f, 5, t, 1, true, &r, &raw);
	assert_int_equal(r.topics[0].error_code, PROTO_ERR_NONE);
	assert_int_equal(r.topics[0].num_partitions, 2);
	assert_true(r.topics[0].n_configs >= 3);
	assert_int_equal(parts_of(f, "x"), -1);
	proto_create_topics_resp_free(&r);
	net_resp_free(&raw);

	create(f, 4, t, 3, false, &r, &raw);
	assert_int_equal(r.n_topics, 3);
	assert_int_equal(r.topics[0].error_code, PROTO_ERR_NONE);
	/* Each entry of a name given twice, in Kafka's words. */
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(r.topics[i].error_code, PROTO_ERR_INVALID_REQUEST);
		assert_true(kstr_eq(r.topics[i].error_message,
				    "Found multiple entries for this topic."));
	}
	assert_int_equal(parts_of(f, "x"), 2);
	assert_int_equal(parts_of(f, "y"), -1);
	proto_create_topics_resp_free(&r);
	net_resp_free(&raw);
}

/* ---- DeleteTopics ---- */

/* DeleteTopics v of the n entries t through c, its answer decoded into
 * *r (which points into *raw). */
static void delete_call(struct net_client *c, int16_t v, struct proto_delete_topic *t, int32_t n,
			struct proto_delete_topics_resp *r, struct net_resp *raw)
{
	struct proto_delete_topics_req req = { .n_topics = n, .topics = t, .timeout_ms = 1000 };
	struct kbuf_w w;

	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_delete_topics_req_encode(&w, v, &req), 0);
	brokerfx_call(c, PROTO_API_DELETE_TOPICS, v, &w, raw);
	assert_int_equal(proto_delete_topics_resp_decode(&raw->body, v, r), 0);
}

/* A DeleteTopics of the n entries t refused whole: each answered code,
 * without a message, with its name and id as asked (by id: no name). */
static void assert_refused_whole(const struct proto_delete_topics_resp *r, int16_t code,
				 const struct proto_delete_topic *t, int32_t n)
{
	assert_int_equal(r->n_responses, n);
	for (int32_t i = 0; i < n; i++) {
		assert_int_equal(r->responses[i].error_code, code);
		assert_null(r->responses[i].error_message.ptr);
		assert_memory_equal(r->responses[i].topic_id, t[i].topic_id, 16);
		if (t[i].name.ptr)
			assert_true(kstr_same_test(r->responses[i].name, t[i].name));
		else
			assert_null(r->responses[i].name.ptr);
	}
}

static void test_delete(void **state)
{
	struct brokerfx *f = *state;
	struct proto_delete_topic t[] = { { .name = kstr_of("gone") },
					  { .name = kstr_of("never") },
					  { .name = kstr_of("__consumer_offsets") } };
	struct proto_delete_topic byid = { .name = KSTR_NULL, .topic_id = { 1, 2, 3 } };
	struct proto_delete_topics_resp r;
	struct net_resp raw;

	assert_int_equal(broker_topic_create(f->b, "gone", 0, 0, 0755, NULL), 0);
	for (int16_t v = 0; v <= 6; v += 6) {
		delete_call(f->c, v, t, 3, &r, &raw);
		assert_int_equal(r.n_responses, 3);
		assert_int_equal(r.responses[0].error_code,
				 v == 0 ? PROTO_ERR_NONE : PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_int_equal(r.responses[1].error_code, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_int_equal(r.responses[2].error_code, PROTO_ERR_POLICY_VIOLATION);
		proto_delete_topics_resp_free(&r);
		net_resp_free(&raw);
		assert_int_equal(parts_of(f, "gone"), -1);
	}
	delete_call(f->c, 6, &byid, 1, &r, &raw);
	assert_int_equal(r.responses[0].error_code, PROTO_ERR_UNKNOWN_TOPIC_ID);
	proto_delete_topics_resp_free(&r);
	net_resp_free(&raw);
	/* Neither a name nor an id: Kafka authorizes named entries alone. */
	struct proto_delete_topic none = { .name = KSTR_NULL };
	delete_call(f->c, 6, &none, 1, &r, &raw);
	assert_int_equal(r.responses[0].error_code, PROTO_ERR_TOPIC_AUTHORIZATION_FAILED);
	assert_null(r.responses[0].name.ptr);
	proto_delete_topics_resp_free(&r);
	net_resp_free(&raw);
	/* A topic with a cluster id (as a cluster's broker learns it): found
	 * by it, deleted, its name in the answer. */
	assert_int_equal(broker_topic_create(f->b, "byid", 0, 0, 0755, NULL), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "byid", -1, "AAAAAAAAAAAAAAAAAAAAAQ"), 0);
	zk_uuid_bytes("AAAAAAAAAAAAAAAAAAAAAQ", byid.topic_id);
	delete_call(f->c, 6, &byid, 1, &r, &raw);
	assert_int_equal(r.responses[0].error_code, PROTO_ERR_NONE);
	assert_true(kstr_eq(r.responses[0].name, "byid"));
	proto_delete_topics_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(parts_of(f, "byid"), -1);

	/* A topic named twice, by name and by its id: no refusal in Kafka,
	 * which checks each entry, deletes the name once and answers the
	 * deletion at its first entry only (the others no error); an
	 * unknown one named twice is unknown at each. */
	assert_int_equal(broker_topic_create(f->b, "dd", 0, 0, 0755, NULL), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "dd", -1, "AAAAAAAAAAAAAAAAAAAAAg"), 0);
	struct proto_delete_topic dd[4] = { { .name = kstr_of("dd") },
					    { .name = KSTR_NULL },
					    { .name = kstr_of("nn") },
					    { .name = kstr_of("nn") } };
	zk_uuid_bytes("AAAAAAAAAAAAAAAAAAAAAg", dd[1].topic_id);
	delete_call(f->c, 6, dd, 4, &r, &raw);
	assert_int_equal(r.n_responses, 4);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(r.responses[i].error_code, PROTO_ERR_NONE);
		assert_null(r.responses[i].error_message.ptr);
		assert_true(kstr_eq(r.responses[i].name, "dd"));
	}
	for (int i = 2; i < 4; i++)
		assert_int_equal(r.responses[i].error_code, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	proto_delete_topics_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(parts_of(f, "dd"), -1);

	/* An entry with both a name and an id, wherever it is: Kafka throws
	 * before it checks or deletes anything, and its error response is
	 * INVALID_REQUEST for every entry, no message, as asked. */
	assert_int_equal(broker_topic_create(f->b, "k1", 0, 0, 0755, NULL), 0);
	assert_int_equal(broker_topic_create(f->b, "k2", 0, 0, 0755, NULL), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "k2", -1, "AAAAAAAAAAAAAAAAAAAAAw"), 0);
	struct proto_delete_topic both[3] = { { .name = kstr_of("k1") },
					      { .name = KSTR_NULL },
					      { .name = kstr_of("k1") } };
	zk_uuid_bytes("AAAAAAAAAAAAAAAAAAAAAw", both[1].topic_id);
	zk_uuid_bytes("AAAAAAAAAAAAAAAAAAAAAw", both[2].topic_id);
	delete_call(f->c, 6, both, 3, &r, &raw);
	assert_refused_whole(&r, PROTO_ERR_INVALID_REQUEST, both, 3);
	proto_delete_topics_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(parts_of(f, "k1"), 1);
	assert_int_equal(parts_of(f, "k2"), 1);
	/* Without the pair, the same topics go. */
	memset(both[2].topic_id, 0, sizeof(both[2].topic_id));
	delete_call(f->c, 6, both, 2, &r, &raw);
	assert_int_equal(r.responses[0].error_code, PROTO_ERR_NONE);
	assert_int_equal(r.responses[1].error_code, PROTO_ERR_NONE);
	assert_true(kstr_eq(r.responses[1].name, "k2"));
	proto_delete_topics_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(parts_of(f, "k1"), -1);
	assert_int_equal(parts_of(f, "k2"), -1);
}

/* ---- CreatePartitions ---- */

static int16_t create_parts(struct brokerfx *f, int16_t v, const char *name, int32_t count,
			    bool validate_only)
{
	struct proto_create_parts_topic t = { kstr_of(name), count, -1, NULL };
	struct proto_create_parts_req req = { 1, &t, 1000, validate_only };
	struct proto_create_parts_resp r;
	struct net_resp raw;
	struct kbuf_w w;
	int16_t code;

	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_create_parts_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_CREATE_PARTITIONS, v, &w, &raw);
	assert_int_equal(proto_create_parts_resp_decode(&raw.body, v, &r), 0);
	assert_int_equal(r.n_results, 1);
	code = r.results[0].error_code;
	proto_create_parts_resp_free(&r);
	net_resp_free(&raw);
	return code;
}

static void test_create_partitions(void **state)
{
	struct brokerfx *f = *state;

	assert_int_equal(broker_topic_create(f->b, "grow", 0, 0, 0755, NULL), 0);
	assert_int_equal(create_parts(f, 0, "grow", 3, true), PROTO_ERR_NONE);
	assert_int_equal(parts_of(f, "grow"), 1);
	assert_int_equal(create_parts(f, 0, "grow", 3, false), PROTO_ERR_NONE);
	assert_int_equal(parts_of(f, "grow"), 3);
	assert_int_equal(create_parts(f, 2, "grow", 3, false), PROTO_ERR_INVALID_PARTITIONS);
	assert_int_equal(create_parts(f, 2, "grow", 2, false), PROTO_ERR_INVALID_PARTITIONS);
	assert_int_equal(create_parts(f, 3, "grow", 100000, false), PROTO_ERR_INVALID_PARTITIONS);
	assert_int_equal(create_parts(f, 3, "nosuch", 2, false),
			 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(create_parts(f, 3, "grow", 4, false), PROTO_ERR_NONE);
	assert_int_equal(parts_of(f, "grow"), 4);
}

/* CreatePartitions of n topics (names[i] to counts[i]): the answer's
 * results into *r (proto_create_parts_resp_free), raw kept for them. */
static void create_parts_many(struct brokerfx *f, int16_t v, const char **names,
			      const int32_t *counts, int n, struct proto_create_parts_resp *r,
			      struct net_resp *raw)
{
	struct proto_create_parts_topic t[8];
	struct proto_create_parts_req req = { n, t, 1000, false };
	struct kbuf_w w;

	assert_true(n <= 8);
	for (int i = 0; i < n; i++)
		t[i] = (struct proto_create_parts_topic){ kstr_of(names[i]), counts[i], -1, NULL };
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_create_parts_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_CREATE_PARTITIONS, v, &w, raw);
	assert_int_equal(proto_create_parts_resp_decode(&raw->body, v, r), 0);
}

/* A topic named twice: one result for it (Kafka answers a map by name),
 * INVALID_REQUEST "Duplicate topic in request.", and nothing added; the
 * other topics answered and grown as alone, in the order first named. */
static void test_create_partitions_duplicates(void **state)
{
	struct brokerfx *f = *state;
	const char *names[] = { "dup", "solo", "dup", "dup" };
	const int32_t counts[] = { 2, 3, 4, 5 };
	struct proto_create_parts_resp r;
	struct net_resp raw;

	assert_int_equal(broker_topic_create(f->b, "dup", 0, 0, 0755, NULL), 0);
	assert_int_equal(broker_topic_create(f->b, "solo", 0, 0, 0755, NULL), 0);
	for (int16_t v = 0; v <= 3; v++) {
		create_parts_many(f, v, names, counts, 4, &r, &raw);
		assert_int_equal(r.n_results, 2);
		assert_true(kstr_eq(r.results[0].resource_name, "dup"));
		assert_int_equal(r.results[0].error_code, PROTO_ERR_INVALID_REQUEST);
		assert_true(kstr_eq(r.results[0].error_message, "Duplicate topic in request."));
		assert_true(kstr_eq(r.results[1].resource_name, "solo"));
		assert_int_equal(r.results[1].error_code,
				 v == 0 ? PROTO_ERR_NONE : PROTO_ERR_INVALID_PARTITIONS);
		proto_create_parts_resp_free(&r);
		net_resp_free(&raw);
	}
	assert_int_equal(parts_of(f, "dup"), 1);
	assert_int_equal(parts_of(f, "solo"), 3);
}

/* ---- DescribeConfigs ---- */

static void describe(struct brokerfx *f, int16_t v, int8_t type, const char *name,
		     const char **keys, int nkeys, bool synonyms,
		     struct proto_describe_configs_resp *r, struct net_resp *raw)
{
	struct kstr k[8];
	struct proto_describe_configs_resource res = { type, kstr_of(name), keys ? nkeys : -1, k };
	struct proto_describe_configs_req req = { 1, &res, synonyms, false };
	struct kbuf_w w;

	for (int i = 0; keys && i < nkeys; i++)
		k[i] = kstr_of(keys[i]);
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_describe_configs_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_DESCRIBE_CONFIGS, v, &w, raw);
	assert_int_equal(proto_describe_configs_resp_decode(&raw->body, v, r), 0);
	assert_int_equal(r->n_results, 1);
}

static const struct proto_describe_configs_entry *entry(const struct proto_describe_configs_resp *r,
							const char *name)
{
	for (int32_t i = 0; i < r->results[0].n_configs; i++)
		if (kstr_eq(r->results[0].configs[i].name, name))
			return &r->results[0].configs[i];
	return NULL;
}

static void test_describe_topic(void **state)
{
	struct brokerfx *f = *state;
	struct proto_describe_configs_resp r;
	const struct proto_describe_configs_entry *e;
	struct net_resp raw;
	struct topic *t;
	const char *keys[] = { "retention.ms", "segment.bytes", "key.separator", "partitions" };

	assert_int_equal(broker_topic_create(f->b, "d", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "segment.bytes=2048\n", 19), 0);

	/* v1, every key, synonyms: the override, the static default, the default. */
	describe(f, 1, PROTO_RESOURCE_TOPIC, "d", NULL, 0, true, &r, &raw);
	assert_int_equal(r.results[0].error_code, PROTO_ERR_NONE);
	assert_null(entry(&r, "partitions"));
	assert_non_null(e = entry(&r, "segment.bytes"));
	assert_true(kstr_eq(e->value, "2048"));
	assert_int_equal(e->config_source, 1);
	assert_int_equal(e->n_synonyms, 2);
	assert_true(kstr_eq(e->synonyms[0].name, "segment.bytes"));
	assert_int_equal(e->synonyms[0].source, 1);
	assert_true(kstr_eq(e->synonyms[1].name, "log.segment.bytes"));
	assert_true(kstr_eq(e->synonyms[1].value, "1073741824"));
	assert_int_equal(e->synonyms[1].source, 5);
	assert_non_null(e = entry(&r, "retention.ms"));
	assert_int_equal(e->config_source, 4); /* the broker file's log.retention.ms */
	assert_int_equal(e->n_synonyms, 2);
	assert_true(kstr_eq(e->synonyms[0].name, "log.retention.ms"));
	assert_true(kstr_eq(e->synonyms[0].value, "86400000"));
	assert_int_equal(e->synonyms[0].source, 4);
	assert_int_equal(e->synonyms[1].source, 5);
	assert_non_null(e = entry(&r, "compression.type"));
	assert_int_equal(e->config_source, 5);
	assert_false(entry(&r, "key.separator")->read_only);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);

	/* Records make key.separator read-only; the key filter; v0's is_default. */
	assert_int_equal(topic_produce(t, 0, "r\n", 2, 0), 0);
	describe(f, 0, PROTO_RESOURCE_TOPIC, "d", keys, 4, false, &r, &raw);
	assert_int_equal(r.results[0].n_configs, 3);
	assert_true(entry(&r, "key.separator")->read_only);
	assert_false(entry(&r, "segment.bytes")->is_default);
	assert_false(entry(&r, "segment.bytes")->read_only);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);

	/* v4 (flexible): config types. */
	describe(f, 4, PROTO_RESOURCE_TOPIC, "d", keys, 2, false, &r, &raw);
	assert_int_equal(entry(&r, "retention.ms")->config_type, 5);
	assert_int_equal(entry(&r, "segment.bytes")->config_type, 3);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);

	describe(f, 4, PROTO_RESOURCE_TOPIC, "nosuch", NULL, 0, false, &r, &raw);
	assert_int_equal(r.results[0].error_code, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_non_null(r.results[0].error_message.ptr);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);
	topic_put(t);
}

static void test_describe_broker(void **state)
{
	struct brokerfx *f = *state;
	struct proto_describe_configs_resp r;
	const struct proto_describe_configs_entry *e;
	struct net_resp raw;

	describe(f, 2, PROTO_RESOURCE_BROKER, "0", NULL, 0, false, &r, &raw);
	assert_int_equal(r.results[0].error_code, PROTO_ERR_NONE);
	assert_non_null(e = entry(&r, "broker.id"));
	assert_true(kstr_eq(e->value, "0"));
	assert_true(e->read_only);
	assert_int_equal(e->config_source, 5); /* 0, the built-in default */
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);
	describe(f, 2, PROTO_RESOURCE_BROKER, "9", NULL, 0, false, &r, &raw);
	assert_int_equal(r.results[0].error_code, PROTO_ERR_INVALID_REQUEST);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);
}

/* A broker setting's source, as Kafka's: STATIC_BROKER_CONFIG (4) where
 * the config file sets it, DEFAULT_CONFIG (5) where it leaves it out
 * (v0: is_default), the cluster's
 * settings (listeners) alike; synonyms the two values. */
static void test_describe_broker_sources(void **state)
{
	static const struct {
		const char *key;
		bool dflt;
	} want[] = { { "log.retention.ms", false }, /* the file's 86400000 */
		     { "listeners", false },
		     { "num.partitions", true },
		     { "socket.request.max.bytes", true } };
	struct brokerfx *f = *state;
	struct proto_describe_configs_resp r;
	const struct proto_describe_configs_entry *e;
	struct net_resp raw;

	for (int16_t v = 0; v <= 2; v++) {
		describe(f, v, PROTO_RESOURCE_BROKER, "0", NULL, 0, false, &r, &raw);
		assert_int_equal(r.results[0].error_code, PROTO_ERR_NONE);
		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			assert_non_null(e = entry(&r, want[i].key));
			assert_true(e->read_only);
			if (v == 0)
				assert_int_equal(e->is_default, want[i].dflt);
			else
				assert_int_equal(e->config_source, want[i].dflt ? 5 : 4);
		}
		proto_describe_configs_resp_free(&r);
		net_resp_free(&raw);
	}
	/* Synonyms, as Kafka's: the file's value, then the built-in default. */
	describe(f, 1, PROTO_RESOURCE_BROKER, "0", NULL, 0, true, &r, &raw);
	assert_non_null(e = entry(&r, "log.retention.ms"));
	assert_int_equal(e->n_synonyms, 2);
	assert_true(kstr_eq(e->synonyms[0].value, "86400000"));
	assert_int_equal(e->synonyms[0].source, 4);
	/* Kafka's log.retention.ms has no default: its default synonym is
	 * log.retention.hours' 168, as Kafka lists it. */
	assert_true(kstr_eq(e->synonyms[1].name, "log.retention.hours"));
	assert_true(kstr_eq(e->synonyms[1].value, "168"));
	assert_int_equal(e->synonyms[1].source, 5);
	assert_non_null(e = entry(&r, "num.partitions"));
	assert_int_equal(e->n_synonyms, 1);
	assert_true(kstr_eq(e->synonyms[0].value, "1"));
	assert_int_equal(e->synonyms[0].source, 5);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);
}

/* A key set in the broker's file is STATIC_BROKER_CONFIG even at the
 * built-in default, with both synonyms; one left out DEFAULT_CONFIG.
 * log.roll.hours is a setting of its own, as Kafka lists it: the
 * file's 168 under that name; log.roll.ms, which Kafka defines without
 * a default and nothing sets, null from DEFAULT_CONFIG. A topic's override is
 * TOPIC_CONFIG even when equal to the broker's; a setting it inherits is
 * STATIC_BROKER_CONFIG when the file set the broker key, else
 * DEFAULT_CONFIG. */
static void test_describe_static_at_default(void **state)
{
	/* nsyn (the broker's keys): the file's value and the default;
	 * log.retention.ms, which Kafka defines without a default, none at
	 * all where the file leaves it out (its default is
	 * log.retention.hours', which Kafka lists only after a level that
	 * sets log.retention.ms itself). */
	static const struct {
		const char *key;
		int8_t src;
		int32_t nsyn;
	} broker[] = { { "num.partitions", 4, 2 },     { "log.segment.bytes", 4, 2 },
		       { "log.roll.ms", 5, 0 },        { "log.roll.hours", 4, 2 },
		       { "log.retention.ms", 5, 0 },   { "log.retention.minutes", 5, 0 },
		       { "log.retention.hours", 5, 1 } },
	  topic[] = { { "segment.bytes", 4, 0 },
		      { "segment.ms", 5, 0 },
		      { "retention.ms", 1, 0 },
		      { "cleanup.policy", 5, 0 } };
	struct brokerfx *f = *state;
	struct proto_describe_configs_resp r;
	const struct proto_describe_configs_entry *e;
	struct net_resp raw;
	struct topic *t;

	describe(f, 1, PROTO_RESOURCE_BROKER, "0", NULL, 0, true, &r, &raw);
	for (size_t i = 0; i < sizeof(broker) / sizeof(broker[0]); i++) {
		assert_non_null(e = entry(&r, broker[i].key));
		assert_int_equal(e->config_source, broker[i].src);
		assert_int_equal(e->n_synonyms, broker[i].nsyn);
	}
	assert_null(entry(&r, "log.roll.ms")->value.ptr);
	assert_null(entry(&r, "log.retention.ms")->value.ptr);
	assert_null(entry(&r, "log.retention.minutes")->value.ptr);
	assert_true(kstr_eq(entry(&r, "log.retention.hours")->value, "168"));
	/* log.roll.hours, set by the file: its value and its default. */
	assert_non_null(e = entry(&r, "log.roll.hours"));
	assert_true(kstr_eq(e->value, "168"));
	for (int i = 0; i < 2; i++) {
		assert_true(kstr_eq(e->synonyms[i].name, "log.roll.hours"));
		assert_true(kstr_eq(e->synonyms[i].value, "168"));
		assert_int_equal(e->synonyms[i].source, 4 + i);
	}
	assert_non_null(e = entry(&r, "num.partitions"));
	assert_true(kstr_eq(e->synonyms[0].value, "1"));
	assert_int_equal(e->synonyms[0].source, 4);
	assert_true(kstr_eq(e->synonyms[1].value, "1"));
	assert_int_equal(e->synonyms[1].source, 5);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);
	describe(f, 0, PROTO_RESOURCE_BROKER, "0", NULL, 0, false, &r, &raw);
	assert_false(entry(&r, "num.partitions")->is_default);
	assert_true(entry(&r, "log.retention.ms")->is_default);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);

	assert_int_equal(broker_topic_create(f->b, "s", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "retention.ms=604800000\n", 23), 0);
	describe(f, 1, PROTO_RESOURCE_TOPIC, "s", NULL, 0, true, &r, &raw);
	assert_int_equal(r.results[0].error_code, PROTO_ERR_NONE);
	for (size_t i = 0; i < sizeof(topic) / sizeof(topic[0]); i++) {
		assert_non_null(e = entry(&r, topic[i].key));
		assert_int_equal(e->config_source, topic[i].src);
	}
	assert_non_null(e = entry(&r, "segment.bytes"));
	assert_int_equal(e->n_synonyms, 2);
	assert_true(kstr_eq(e->synonyms[0].name, "log.segment.bytes"));
	assert_int_equal(e->synonyms[0].source, 4);
	assert_int_equal(e->synonyms[1].source, 5);
	/* The override alone: no level sets log.retention.ms itself, so
	 * no default follows (Kafka's list starts at that name). */
	assert_non_null(e = entry(&r, "retention.ms"));
	assert_int_equal(e->n_synonyms, 1);
	assert_int_equal(e->synonyms[0].source, 1);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);
	topic_put(t);
}

/* The file's log.retention.hours and .minutes are listed under their
 * own names with the values it gave (Kafka's STATIC_BROKER_CONFIG
 * synonyms), after log.retention.ms', which wins; each alias's own
 * entry lists from its name on, then the default hours. */
static void assert_retention_list(const struct proto_describe_configs_entry *e)
{
	static const struct {
		const char *name, *value;
		int8_t source;
	} ms[] = { { "log.retention.ms", "3600000", 4 },
		   { "log.retention.minutes", "90", 4 },
		   { "log.retention.hours", "48", 4 },
		   { "log.retention.hours", "168", 5 } };

	assert_true(kstr_eq(e->value, "3600000"));
	assert_int_equal(e->config_source, 4);
	assert_int_equal(e->n_synonyms, 4);
	for (int i = 0; i < 4; i++) {
		assert_true(kstr_eq(e->synonyms[i].name, ms[i].name));
		assert_true(kstr_eq(e->synonyms[i].value, ms[i].value));
		assert_int_equal(e->synonyms[i].source, ms[i].source);
	}
}

static void test_describe_retention_aliases(void **state)
{
	struct brokerfx *f = *state;
	struct proto_describe_configs_resp r;
	const struct proto_describe_configs_entry *e;
	struct net_resp raw;
	struct topic *t;

	describe(f, 1, PROTO_RESOURCE_BROKER, "0", NULL, 0, true, &r, &raw);
	assert_non_null(e = entry(&r, "log.retention.ms"));
	assert_retention_list(e);
	assert_non_null(e = entry(&r, "log.retention.minutes"));
	assert_true(kstr_eq(e->value, "90"));
	assert_int_equal(e->config_source, 4);
	assert_int_equal(e->n_synonyms, 3);
	assert_true(kstr_eq(e->synonyms[0].name, "log.retention.minutes"));
	assert_true(kstr_eq(e->synonyms[1].value, "48"));
	assert_true(kstr_eq(e->synonyms[2].value, "168"));
	assert_non_null(e = entry(&r, "log.retention.hours"));
	assert_true(kstr_eq(e->value, "48"));
	assert_int_equal(e->n_synonyms, 2);
	assert_int_equal(e->synonyms[0].source, 4);
	assert_int_equal(e->synonyms[1].source, 5);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);

	/* A topic's retention.ms: the same list after the broker key. */
	assert_int_equal(broker_topic_create(f->b, "a", 0, 0, 0755, &t), 0);
	describe(f, 1, PROTO_RESOURCE_TOPIC, "a", NULL, 0, true, &r, &raw);
	assert_non_null(e = entry(&r, "retention.ms"));
	assert_retention_list(e);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);
	topic_put(t);
}

/* advertised.listeners has no default in Kafka: left out of the file it
 * is null from DEFAULT_CONFIG (v0: is_default), not the listeners it
 * falls back to, which .config shows; set, the file's value, and the
 * default synonym is null. */
/* The mount's .config (broker_config_text) advertises fmt with the
 * listener's bound port. */
static void advertised_port_is(struct brokerfx *f, const char *fmt)
{
	char want[128], *text = NULL;
	size_t len = 0;
	struct kstr v;

	assert_true(f->port > 0);
	snprintf(want, sizeof(want), fmt, f->port);
	assert_int_equal(broker_config_text(f->b, &text, &len), 0);
	assert_int_equal(topic_kv_find(text, len, "advertised.listeners", &v), 0);
	assert_true(kstr_eq(v, want));
	free(text);
}

static void test_describe_broker_advertised(void **state)
{
	struct brokerfx *f = *state;
	struct proto_describe_configs_resp r;
	const struct proto_describe_configs_entry *e;
	struct net_resp raw;
	const char *keys[] = { "advertised.listeners" };
	char *text = NULL;
	size_t len = 0;
	struct kstr v;

	for (int16_t ver = 0; ver <= 2; ver++) {
		describe(f, ver, PROTO_RESOURCE_BROKER, "0", keys, 1, ver == 1, &r, &raw);
		assert_int_equal(r.results[0].error_code, PROTO_ERR_NONE);
		assert_non_null(e = entry(&r, "advertised.listeners"));
		assert_null(e->value.ptr);
		if (ver == 0)
			assert_true(e->is_default);
		else
			assert_int_equal(e->config_source, 5);
		if (ver == 1) {
			assert_int_equal(e->n_synonyms, 1);
			assert_null(e->synonyms[0].value.ptr);
			assert_int_equal(e->synonyms[0].source, 5);
		}
		proto_describe_configs_resp_free(&r);
		net_resp_free(&raw);
	}
	/* The broker's own view still shows what is advertised. */
	assert_int_equal(broker_config_render(broker_cfg(f->b), &text, &len), 0);
	assert_int_equal(topic_kv_find(text, len, "advertised.listeners", &v), 0);
	assert_true(v.len > 0);
	free(text);
	/* The mount's .config: the listener's port 0 shows as the port it
	 * is bound to, the one Metadata gives clients. */
	advertised_port_is(f, "PLAINTEXT://127.0.0.1:%d");
}

static void test_config_advertised_port0(void **state)
{
	advertised_port_is(*state, "PLAINTEXT://mq.example:%d");
}

static void test_describe_broker_advertised_set(void **state)
{
	struct brokerfx *f = *state;
	struct proto_describe_configs_resp r;
	const struct proto_describe_configs_entry *e;
	struct net_resp raw;
	const char *keys[] = { "advertised.listeners" };

	describe(f, 1, PROTO_RESOURCE_BROKER, "0", keys, 1, true, &r, &raw);
	assert_non_null(e = entry(&r, "advertised.listeners"));
	assert_true(kstr_eq(e->value, "PLAINTEXT://mq.example:9092"));
	assert_int_equal(e->config_source, 4);
	assert_int_equal(e->n_synonyms, 2);
	assert_true(kstr_eq(e->synonyms[0].value, "PLAINTEXT://mq.example:9092"));
	assert_int_equal(e->synonyms[0].source, 4);
	assert_null(e->synonyms[1].value.ptr);
	assert_int_equal(e->synonyms[1].source, 5);
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);
}

/* ---- AlterConfigs, IncrementalAlterConfigs ---- */

/* The message of the last answer alter_res read (its first, or its
 * want_i-th), "" for none. */
static char alter_msg[256];

/* AlterConfigs (or incremental) of the n resources res; the code of the
 * answer to resource want_i, its message into alter_msg. */
static int16_t alter_res(struct brokerfx *f, bool incremental, int16_t v,
			 struct proto_alter_configs_resource *res, int n, int want_i,
			 bool validate_only)
{
	struct proto_alter_configs_req req = { n, res, validate_only };
	struct proto_alter_configs_resp r;
	struct net_resp raw;
	struct kbuf_w w;
	int16_t code;

	kbuf_w_init(&w, 1024);
	if (incremental) {
		assert_int_equal(proto_incr_alter_configs_req_encode(&w, v, &req), 0);
		brokerfx_call(f->c, PROTO_API_INCREMENTAL_ALTER_CONFIGS, v, &w, &raw);
		assert_int_equal(proto_incr_alter_configs_resp_decode(&raw.body, v, &r), 0);
	} else {
		assert_int_equal(proto_alter_configs_req_encode(&w, v, &req), 0);
		brokerfx_call(f->c, PROTO_API_ALTER_CONFIGS, v, &w, &raw);
		assert_int_equal(proto_alter_configs_resp_decode(&raw.body, v, &r), 0);
	}
	assert_int_equal(r.n_responses, n);
	code = r.responses[want_i].error_code;
	if (code)
		assert_non_null(r.responses[want_i].error_message.ptr);
	snprintf(alter_msg, sizeof(alter_msg), "%.*s",
		 r.responses[want_i].error_message.ptr ? (int)r.responses[want_i].error_message.len
						       : 0,
		 r.responses[want_i].error_message.ptr ? r.responses[want_i].error_message.ptr
						       : "");
	proto_alter_configs_resp_free(&r);
	net_resp_free(&raw);
	return code;
}

static int16_t alter(struct brokerfx *f, bool incremental, int16_t v, int8_t type, const char *name,
		     struct proto_config *c, int n, bool validate_only)
{
	struct proto_alter_configs_resource res = { type, kstr_of(name), n, c };

	return alter_res(f, incremental, v, &res, 1, 0, validate_only);
}

#define C(k, v)                                         \
	{                                               \
		.name = kstr_of(k), .value = kstr_of(v) \
	}
#define OP(k, v, o)                                                              \
	{                                                                        \
		.name = kstr_of(k), .value = kstr_of(v), .config_operation = (o) \
	}

/* The broker's file gives the default max compaction lag. */
static int setup_max_lag(void **state)
{
	return brokerfx_setup(state, "admin", "log.cleaner.max.compaction.lag.ms=1000\n");
}

/* Kafka checks a topic's settings over the broker's defaults
 * (LogConfig.validate with the broker's log config map): a min
 * compaction lag above the default max is refused in LogConfig's words,
 * also when the topic sets no max; with its own max above, taken. */
static void test_alter_lag_over_default(void **state)
{
	struct brokerfx *f = *state;
	struct proto_config min[] = { C("min.compaction.lag.ms", "5000") };
	struct proto_config both[] = { C("min.compaction.lag.ms", "5000"),
				       C("max.compaction.lag.ms", "10000") };
	char buf[32];

	assert_int_equal(broker_topic_create(f->b, "lag", 0, 0, 0755, NULL), 0);
	for (int inc = 0; inc <= 1; inc++) {
		assert_int_equal(alter(f, inc, 1, PROTO_RESOURCE_TOPIC, "lag", min, 1, false),
				 PROTO_ERR_INVALID_CONFIG);
		assert_string_equal(alter_msg,
				    "conflict topic config setting min.compaction.lag.ms "
				    "(5000) > max.compaction.lag.ms (1000)");
	}
	assert_string_equal(cfg_of(f, "lag", "min.compaction.lag.ms", buf, sizeof(buf)), "0");
	assert_int_equal(alter(f, false, 1, PROTO_RESOURCE_TOPIC, "lag", both, 2, false), 0);
	assert_string_equal(cfg_of(f, "lag", "min.compaction.lag.ms", buf, sizeof(buf)), "5000");
}

static void test_alter(void **state)
{
	struct brokerfx *f = *state;
	struct proto_config set2[] = { C("retention.ms", "1000"), C("segment.bytes", "4096") };
	struct proto_config set1[] = { C("retention.ms", "2000") };
	struct proto_config bad[] = { C("retention.ms", "3000"), C("segment.bytes", "5") };
	struct proto_config twice[] = { C("retention.ms", "1"), C("retention.ms", "2") };
	struct proto_config unknown[] = { C("no.such", "1") };
	struct proto_config odd[] = { C("#retention.ms", "5"), C("!x", "1"),
				      C("retention.ms ", "5"), C(" retention.ms", "5"),
				      C("retention.ms:", "5"), C("RETENTION.MS", "5"),
				      C("retention.ms\r", "5") };
	struct proto_config iset[] = { OP("cleanup.policy", "compact", PROTO_CONFIG_SET) };
	struct proto_config idel[] = { OP("retention.ms", "", PROTO_CONFIG_DELETE) };
	struct proto_config iapp[] = { OP("cleanup.policy", "delete", PROTO_CONFIG_APPEND) };
	struct proto_config iop[] = { OP("cleanup.policy", "delete", 9) };
	char buf[32];

	assert_int_equal(broker_topic_create(f->b, "al", 0, 0, 0755, NULL), 0);
	assert_int_equal(alter(f, false, 0, PROTO_RESOURCE_TOPIC, "al", set2, 2, true), 0);
	assert_string_equal(cfg_of(f, "al", "retention.ms", buf, sizeof(buf)), "604800000");
	assert_int_equal(alter(f, false, 0, PROTO_RESOURCE_TOPIC, "al", set2, 2, false), 0);
	assert_string_equal(cfg_of(f, "al", "retention.ms", buf, sizeof(buf)), "1000");
	assert_string_equal(cfg_of(f, "al", "segment.bytes", buf, sizeof(buf)), "4096");
	/* The whole set: segment.bytes, not given, is the default again. */
	assert_int_equal(alter(f, false, 2, PROTO_RESOURCE_TOPIC, "al", set1, 1, false), 0);
	assert_string_equal(cfg_of(f, "al", "retention.ms", buf, sizeof(buf)), "2000");
	assert_string_equal(cfg_of(f, "al", "segment.bytes", buf, sizeof(buf)), "1073741824");
	/* Refusals change nothing. */
	assert_int_equal(alter(f, false, 1, PROTO_RESOURCE_TOPIC, "al", bad, 2, false),
			 PROTO_ERR_INVALID_CONFIG);
	assert_int_equal(alter(f, false, 1, PROTO_RESOURCE_TOPIC, "al", unknown, 1, false),
			 PROTO_ERR_INVALID_CONFIG);
	/* A key twice, and a resource twice (each of its entries): Kafka's
	 * ConfigAdminManager words; a broker and a topic may share a name. */
	for (int inc = 0; inc <= 1; inc++) {
		struct proto_alter_configs_resource two[] = {
			{ PROTO_RESOURCE_TOPIC, kstr_of("al"), 1, set1 },
			{ PROTO_RESOURCE_TOPIC, kstr_of("al"), 1, set1 },
			{ PROTO_RESOURCE_BROKER, kstr_of("al"), 1, set1 },
		};

		assert_int_equal(alter(f, inc, 1, PROTO_RESOURCE_TOPIC, "al", twice, 2, false),
				 PROTO_ERR_INVALID_REQUEST);
		assert_string_equal(alter_msg, "Error due to duplicate config keys");
		for (int i = 0; i < 2; i++) {
			assert_int_equal(alter_res(f, inc, 1, two, 3, i, false),
					 PROTO_ERR_INVALID_REQUEST);
			assert_string_equal(alter_msg, "Each resource must appear at most once.");
		}
		/* The broker "al": refused for itself (a single node), not as
		 * a duplicate. */
		assert_int_equal(alter_res(f, inc, 1, two, 3, 2, false), PROTO_ERR_INVALID_REQUEST);
		assert_string_not_equal(alter_msg, "Each resource must appear at most once.");
	}
	/* A name the parser would read as a comment, or as another name:
	 * unknown, not a silent success that changes nothing or something
	 * else. */
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		assert_int_equal(
			alter(f, i % 2 == 1, 1, PROTO_RESOURCE_TOPIC, "al", &odd[i], 1, false),
			PROTO_ERR_INVALID_CONFIG);
	assert_int_equal(alter(f, false, 1, PROTO_RESOURCE_TOPIC, "nosuch", set1, 1, false),
			 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(alter(f, false, 1, PROTO_RESOURCE_BROKER, "0", set1, 1, false),
			 PROTO_ERR_INVALID_REQUEST);
	assert_string_equal(cfg_of(f, "al", "retention.ms", buf, sizeof(buf)), "2000");
	/* Incremental: SET keeps the rest, DELETE is the default again. */
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_TOPIC, "al", iset, 1, false), 0);
	assert_string_equal(cfg_of(f, "al", "cleanup.policy", buf, sizeof(buf)), "compact");
	assert_string_equal(cfg_of(f, "al", "retention.ms", buf, sizeof(buf)), "2000");
	assert_int_equal(alter(f, true, 0, PROTO_RESOURCE_TOPIC, "al", idel, 1, false), 0);
	assert_string_equal(cfg_of(f, "al", "retention.ms", buf, sizeof(buf)), "604800000");
	assert_string_equal(cfg_of(f, "al", "cleanup.policy", buf, sizeof(buf)), "compact");
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_TOPIC, "al", iapp, 1, false),
			 PROTO_ERR_INVALID_CONFIG);
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_TOPIC, "al", iop, 1, false),
			 PROTO_ERR_INVALID_REQUEST);
}

/* The broker's logger (BROKER_LOGGER, 8), as Kafka's: DescribeConfigs
 * lists the root logger with the daemon's level in Kafka's words
 * (DYNAMIC_BROKER_LOGGER_CONFIG, 6, not read-only, no synonyms), the
 * resource named by this broker's id only; IncrementalAlterConfigs SET
 * of it changes the running level (validate_only does not), Kafka's
 * other answers refused as Kafka refuses them; legacy AlterConfigs does
 * not take it. Before, DescribeConfigs answered INVALID_REQUEST. */
static void test_broker_logger(void **state)
{
	struct brokerfx *f = *state;
	struct proto_describe_configs_resp r;
	struct net_resp raw;
	int was = mq_log_level();
	const char *root[] = { "root" }, *other[] = { "kafka" };
	struct proto_config debug[] = { OP("root", "DEBUG", PROTO_CONFIG_SET) };
	struct proto_config trace[] = { OP("root", "TRACE", PROTO_CONFIG_SET) };
	struct proto_config warn[] = { OP("root", "WARN", PROTO_CONFIG_SET) };
	struct proto_config lower[] = { OP("root", "debug", PROTO_CONFIG_SET) };
	struct proto_config unknown[] = { OP("kafka", "INFO", PROTO_CONFIG_SET) };
	struct proto_config del[] = { OP("root", "", PROTO_CONFIG_DELETE) };
	struct proto_config app[] = { OP("root", "INFO", PROTO_CONFIG_APPEND) };
	struct proto_config twice[] = { OP("root", "INFO", PROTO_CONFIG_SET),
					OP("root", "WARN", PROTO_CONFIG_SET) };
	const struct {
		const char *name;
		const char **keys;
		int nkeys;
		int16_t err;
		int n;
	} cases[] = {
		{ "0", NULL, 0, PROTO_ERR_NONE, 1 },
		{ "0", root, 1, PROTO_ERR_NONE, 1 },
		{ "0", other, 1, PROTO_ERR_NONE, 0 },
		{ "0", root, 0, PROTO_ERR_NONE, 1 }, /* an empty key list: every one */
		{ "", NULL, 0, PROTO_ERR_INVALID_REQUEST, 0 },
		{ "9", NULL, 0, PROTO_ERR_INVALID_REQUEST, 0 },
		{ "x", NULL, 0, PROTO_ERR_INVALID_REQUEST, 0 },
	};

	mq_log_set_level(MQ_INFO);
	for (int16_t v = 0; v <= 4; v++)
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			const struct proto_describe_configs_entry *e;

			describe(f, v, PROTO_RESOURCE_BROKER_LOGGER, cases[i].name, cases[i].keys,
				 cases[i].nkeys, true, &r, &raw);
			if (r.results[0].error_code != cases[i].err ||
			    r.results[0].n_configs != cases[i].n)
				fail_msg("v%d case %zu: error %d, %d entries", v, i,
					 r.results[0].error_code, r.results[0].n_configs);
			if (cases[i].n) {
				assert_non_null(e = entry(&r, "root"));
				assert_true(kstr_eq(e->value, "INFO"));
				assert_false(e->read_only);
				assert_false(e->is_sensitive);
				assert_false(e->is_default);
				assert_int_equal(e->n_synonyms, 0);
				if (v >= 1)
					assert_int_equal(e->config_source, 6);
			}
			proto_describe_configs_resp_free(&r);
			net_resp_free(&raw);
		}

	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_BROKER_LOGGER, "0", debug, 1, true), 0);
	assert_int_equal(mq_log_level(), MQ_INFO);
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_BROKER_LOGGER, "0", debug, 1, false), 0);
	assert_int_equal(mq_log_level(), MQ_DEBUG);
	describe(f, 2, PROTO_RESOURCE_BROKER_LOGGER, "0", NULL, 0, false, &r, &raw);
	assert_true(kstr_eq(entry(&r, "root")->value, "DEBUG"));
	proto_describe_configs_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(alter(f, true, 0, PROTO_RESOURCE_BROKER_LOGGER, "0", warn, 1, false), 0);
	assert_int_equal(mq_log_level(), MQ_WARN);
	assert_int_equal(alter(f, true, 0, PROTO_RESOURCE_BROKER_LOGGER, "0", trace, 1, false), 0);
	assert_int_equal(mq_log_level(), MQ_DEBUG);
	/* Refusals change nothing. */
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_BROKER_LOGGER, "0", lower, 1, false),
			 PROTO_ERR_INVALID_CONFIG);
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_BROKER_LOGGER, "0", unknown, 1, false),
			 PROTO_ERR_INVALID_CONFIG);
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_BROKER_LOGGER, "0", del, 1, false),
			 PROTO_ERR_INVALID_REQUEST);
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_BROKER_LOGGER, "0", app, 1, false),
			 PROTO_ERR_INVALID_REQUEST);
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_BROKER_LOGGER, "0", twice, 2, false),
			 PROTO_ERR_INVALID_REQUEST);
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_BROKER_LOGGER, "", warn, 1, false),
			 PROTO_ERR_INVALID_REQUEST);
	assert_int_equal(alter(f, true, 1, PROTO_RESOURCE_BROKER_LOGGER, "9", warn, 1, false),
			 PROTO_ERR_INVALID_REQUEST);
	assert_int_equal(alter(f, false, 1, PROTO_RESOURCE_BROKER_LOGGER, "0", warn, 1, false),
			 PROTO_ERR_INVALID_REQUEST);
	assert_int_equal(mq_log_level(), MQ_DEBUG);
	mq_log_set_level(was);
}

/* ---- a cluster: CreateTopics, DeleteTopics, CreatePartitions on the
 * active controller alone ---- */

/* Two brokers (ids 1, 2) of one cluster in a chroot of their own. */
static int setup_pair(void **state)
{
	static int chroots;
	struct brokerfx **fs = calloc(2, sizeof(*fs));
	char extra[256];

	assert_non_null(fs);
	chroots++;
	for (int i = 0; i < 2; i++) {
		snprintf(extra, sizeof(extra),
			 "broker.id=%d\nzookeeper.connect=%s/admin%d\n"
			 "default.replication.factor=1\n",
			 i + 1, zksrv_group()->connect, chroots);
		brokerfx_setup((void **)&fs[i], "admin", extra);
	}
	*state = fs;
	return 0;
}

static int teardown_pair(void **state)
{
	struct brokerfx **fs = *state;

	for (int i = 0; i < 2; i++)
		brokerfx_teardown((void **)&fs[i]);
	free(fs);
	return 0;
}

/* The index (0, 1) of the pair's active controller, once one is. */
static int controller_of(struct brokerfx **fs)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	for (;;) {
		for (int i = 0; i < 2; i++)
			if (cluster_is_controller(fs[i]->b->cluster))
				return i;
		assert_true(now_mono_ms() < end);
		usleep(20 * 1000);
	}
}

/* A topic made by the broker's own call, as the mount's mkdir: polled,
 * the cluster may not have elected its first controller yet. */
static void mkdir_topic(struct brokerfx *f, const char *name)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;
	int rc;

	while ((rc = broker_topic_create(f->b, name, 0, 0, 0755, NULL)) != 0 && now_mono_ms() < end)
		usleep(50 * 1000);
	assert_int_equal(rc, 0);
}

static void test_not_controller(void **state)
{
	struct brokerfx **fs = *state, *ctl, *other;
	struct proto_creatable_topic ct[] = {
		{ kstr_of("made"), 2, 1, 0, NULL, 0, NULL }, /* exists */
		{ kstr_of("fresh"), -1, -1, 0, NULL, 0, NULL },
		{ kstr_of("fresh"), -1, -1, 0, NULL, 0, NULL }, /* named twice */
		{ kstr_of("bad/name"), 1, 1, 0, NULL, 0, NULL },
	};
	struct proto_delete_topic dt[] = { { .name = kstr_of("made") },
					   { .name = KSTR_NULL, .topic_id = { 1, 2, 3 } } };
	struct proto_create_topics_resp r;
	struct proto_delete_topics_resp dr;
	struct net_resp raw;
	int c = controller_of(fs);

	ctl = fs[c];
	other = fs[1 - c];
	/* The mount's mkdir works on a broker that is not the controller. */
	mkdir_topic(other, "made");
	assert_int_equal(parts_of(other, "made"), 1);

	/* Every version, validate_only or not: NOT_CONTROLLER for each topic
	 * (not TOPIC_ALREADY_EXISTS, INVALID_REQUEST, INVALID_TOPIC_EXCEPTION),
	 * no message, -1, -1, no settings and no settings' error. */
	for (int16_t v = 0; v <= 7; v++) {
		create(other, v, ct, 4, v % 2 == 0, &r, &raw);
		assert_int_equal(r.n_topics, 4);
		for (int i = 0; i < 4; i++) {
			assert_true(kstr_same_test(r.topics[i].name, ct[i].name));
			assert_int_equal(r.topics[i].error_code, PROTO_ERR_NOT_CONTROLLER);
			assert_null(r.topics[i].error_message.ptr);
			if (v >= 5) {
				assert_int_equal(r.topics[i].num_partitions, -1);
				assert_int_equal(r.topics[i].replication_factor, -1);
				assert_int_equal(r.topics[i].n_configs, 0);
				assert_int_equal(r.topics[i].topic_config_error_code, 0);
			}
		}
		proto_create_topics_resp_free(&r);
		net_resp_free(&raw);
	}
	assert_int_equal(parts_of(other, "fresh"), -1);
	assert_int_equal(parts_of(ctl, "fresh"), -1);

	/* DeleteTopics v6: the name and the id as asked, by id no name. */
	delete_call(other->c, 6, dt, 2, &dr, &raw);
	assert_refused_whole(&dr, PROTO_ERR_NOT_CONTROLLER, dt, 2);
	proto_delete_topics_resp_free(&dr);
	net_resp_free(&raw);
	assert_int_equal(parts_of(other, "made"), 1);

	/* CreatePartitions, validate_only too. */
	for (int16_t v = 0; v <= 3; v++)
		assert_int_equal(create_parts(other, v, "made", 3, v % 2 == 0),
				 PROTO_ERR_NOT_CONTROLLER);
	assert_int_equal(parts_of(other, "made"), 1);
	/* A name given twice: NOT_CONTROLLER once for it, Kafka's map. */
	{
		const char *names[] = { "made", "fresh", "made" };
		const int32_t counts[] = { 3, 2, 4 };
		struct proto_create_parts_resp cr;

		create_parts_many(other, 3, names, counts, 3, &cr, &raw);
		assert_int_equal(cr.n_results, 2);
		assert_true(kstr_eq(cr.results[0].resource_name, "made"));
		assert_true(kstr_eq(cr.results[1].resource_name, "fresh"));
		for (int i = 0; i < 2; i++) {
			assert_int_equal(cr.results[i].error_code, PROTO_ERR_NOT_CONTROLLER);
			assert_null(cr.results[i].error_message.ptr);
		}
		proto_create_parts_resp_free(&cr);
		net_resp_free(&raw);
	}

	/* The controller serves them. */
	assert_int_equal(create_parts(ctl, 3, "made", 2, false), PROTO_ERR_NONE);
	create(ctl, 7, &ct[1], 1, false, &r, &raw);
	assert_int_equal(r.topics[0].error_code, PROTO_ERR_NONE);
	proto_create_topics_resp_free(&r);
	net_resp_free(&raw);
	assert_true(parts_of(ctl, "fresh") > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_v0_bytes, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_create_v1, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_create_v5, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_create_v7, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_create_validate_only_and_duplicates, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_alter_lag_over_default, setup_max_lag,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_create_partitions, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_create_partitions_duplicates, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_topic, setup_static,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_broker, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_broker_advertised, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_config_advertised_port0,
						setup_advertised_port0, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_broker_advertised_set,
						setup_advertised, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_static_at_default,
						setup_static_defaults, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_broker_sources, setup_static,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_retention_aliases,
						setup_retention_aliases, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_alter, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_broker_logger, setup, brokerfx_teardown),
	};
	const struct CMUnitTest cluster_tests[] = {
		cmocka_unit_test_setup_teardown(test_not_controller, setup_pair, teardown_pair),
	};
	int failed = cmocka_run_group_tests_name("single node", tests, NULL, NULL);

	return failed + cmocka_run_group_tests_name("cluster", cluster_tests, zksrv_group_setup,
						    zksrv_group_teardown);
}
