/*
 * test_kafka_api.c — the client APIs on a single node's listener
 * (repl/kafka_produce.c, repl/kafka_metadata.c, repl/kafka_elect.c), over a real socket with
 * requests built by the codec: Metadata's brokers, cluster id, controller,
 * topics (internal ones only by name), auto-creation and its switch;
 * Produce's per-partition errors (unknown topic or partition, bad acks,
 * corrupt and refused batches with their record_errors, min.insync), base
 * offsets and log start offsets at v3 and v9, acks=0 answered by nothing
 * and, when it fails, by a closed connection; ElectLeaders on one node
 * (nothing to elect) at v0-v2, by partition and for every partition;
 * DescribeCluster v0-v1 against Metadata's brokers, cluster id and controller;
 * DescribeLogDirs v0-v4 against the batch appended and statvfs;
 * DescribeProducers (repl/kafka_producers.c) of an idempotent producer,
 * before and after a restart, and its refusals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "engine/batch.h"
#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/net.h"
#include "repl/proto.h"
#include "repl/repl.h"
#include "repl/zkdata.h"
#include "tests/unit/brokerfx.h"
#include "tests/unit/faultio.h"
#include "tests/unit/protofx.h"
#include "util/fdroom.h"

#define DEADLINE_MS BROKERFX_DEADLINE_MS

static int setup(void **state)
{
	return brokerfx_setup(state, "kapi", "");
}

static int setup_no_auto(void **state)
{
	return brokerfx_setup(state, "kapi", "auto.create.topics.enable=false\n");
}

/* ---- Metadata ---- */

/* Metadata at version v for names (NULL: every topic), auto-creation
 * allowed or not; the decoded response in *resp (free it). */
static void metadata(struct brokerfx *f, int16_t v, const char **names, int n, bool allow,
		     struct proto_meta_resp *resp, struct net_resp *raw)
{
	struct proto_meta_req_topic t[8] = { 0 };
	struct proto_meta_req req = { .n_topics = names ? n : -1,
				      .topics = t,
				      .allow_auto_topic_creation = allow };
	struct kbuf_w w;

	for (int i = 0; names && i < n; i++)
		t[i].name = kstr_of(names[i]);
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_meta_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_METADATA, v, &w, raw);
	assert_int_equal(proto_meta_resp_decode(&raw->body, v, resp), 0);
}

static const struct proto_meta_topic *find_topic(const struct proto_meta_resp *r, const char *name)
{
	for (int32_t i = 0; i < r->n_topics; i++)
		if (kstr_eq(r->topics[i].name, name))
			return &r->topics[i];
	return NULL;
}

static void test_metadata(void **state)
{
	struct brokerfx *f = *state;
	struct proto_meta_resp r;
	struct net_resp raw;
	char id[64];

	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, NULL), 0);
	metadata(f, 12, NULL, 0, false, &r, &raw);
	assert_int_equal(r.n_brokers, 1);
	assert_int_equal(r.brokers[0].node_id, 0);
	assert_true(kstr_eq(r.brokers[0].host, "127.0.0.1"));
	assert_int_equal(r.brokers[0].port, f->port);
	assert_int_equal(r.controller_id, 0);
	assert_int_equal(r.cluster_id.len, 22);
	snprintf(id, sizeof(id), "%.*s", (int)r.cluster_id.len, r.cluster_id.ptr);
	/* Every topic but the internal ones. */
	assert_int_equal(r.n_topics, 1);
	const struct proto_meta_topic *t = find_topic(&r, "orders");
	assert_non_null(t);
	assert_int_equal(t->error_code, 0);
	assert_false(t->is_internal);
	assert_int_equal(t->n_partitions, 1);
	assert_int_equal(t->partitions[0].partition_index, 0);
	assert_int_equal(t->partitions[0].leader_id, 0);
	assert_int_equal(t->partitions[0].leader_epoch, 0);
	assert_int_equal(t->partitions[0].n_replica_nodes, 1);
	assert_int_equal(t->partitions[0].replica_nodes[0], 0);
	assert_int_equal(t->partitions[0].n_isr_nodes, 1);
	assert_int_equal(t->partitions[0].isr_nodes[0], 0);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);

	/* By name: the internal topic, one unknown, one invalid. */
	const char *names[] = { "__consumer_offsets", "nope", "bad/name" };
	metadata(f, 9, names, 3, false, &r, &raw);
	assert_int_equal(r.n_topics, 3);
	t = find_topic(&r, "__consumer_offsets");
	assert_non_null(t);
	assert_true(t->is_internal);
	assert_int_equal(t->error_code, 0);
	assert_int_equal(find_topic(&r, "nope")->error_code, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(find_topic(&r, "bad/name")->error_code, PROTO_ERR_INVALID_TOPIC_EXCEPTION);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);

	/* Auto-creation when the request allows it; v0 (always allowed). */
	const char *made[] = { "made" };
	metadata(f, 4, made, 1, true, &r, &raw);
	assert_int_equal(r.topics[0].error_code, 0);
	assert_int_equal(r.topics[0].n_partitions, 1);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);
	struct topic *tp;
	assert_int_equal(broker_topic_get(f->b, "made", &tp), 0);
	uid_t uid;
	gid_t gid;
	mode_t mode;
	topic_owner(tp, &uid, &gid, &mode);
	/* The daemon's user's (root's only when it runs as root). */
	assert_int_equal(uid, geteuid());
	assert_int_equal(gid, getegid());
	assert_int_equal(mode & 07777, 0755);
	topic_put(tp);
	const char *v0[] = { "made0" };
	metadata(f, 0, v0, 1, false, &r, &raw);
	assert_int_equal(r.topics[0].error_code, 0);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);

	/* Topic ids (v10+): none on one node (zero); a topic with a cluster
	 * id (as a cluster's broker learns it) shows it, and is found by it. */
	{
		static const uint8_t zero[16];
		struct proto_meta_req_topic byid[1] = { { .name = KSTR_NULL } };
		struct proto_meta_req req = { .n_topics = 1, .topics = byid };
		struct kbuf_w w;
		uint8_t want[16];

		metadata(f, 12, names, 1, false, &r, &raw);
		assert_memory_equal(find_topic(&r, "__consumer_offsets")->topic_id, zero, 16);
		proto_meta_resp_free(&r);
		net_resp_free(&raw);
		assert_int_equal(
			topics_cluster_incarnation(f->b, "made", -1, "rTQXH9IrQnS7BZyAlHcxyw"), 0);
		zk_uuid_bytes("rTQXH9IrQnS7BZyAlHcxyw", want);
		metadata(f, 12, made, 1, false, &r, &raw);
		assert_memory_equal(r.topics[0].topic_id, want, 16);
		proto_meta_resp_free(&r);
		net_resp_free(&raw);
		memcpy(byid[0].topic_id, want, 16);
		for (int k = 0; k < 2; k++) {
			kbuf_w_init(&w, 256);
			assert_int_equal(proto_meta_req_encode(&w, 12, &req), 0);
			brokerfx_call(f->c, PROTO_API_METADATA, 12, &w, &raw);
			assert_int_equal(proto_meta_resp_decode(&raw.body, 12, &r), 0);
			assert_int_equal(r.n_topics, 1);
			if (k == 0) {
				assert_int_equal(r.topics[0].error_code, 0);
				assert_true(kstr_eq(r.topics[0].name, "made"));
			} else {
				assert_int_equal(r.topics[0].error_code,
						 PROTO_ERR_UNKNOWN_TOPIC_ID);
			}
			proto_meta_resp_free(&r);
			net_resp_free(&raw);
			byid[0].topic_id[0] ^= 1; /* an id no topic has */
		}
	}

	/* The cluster id survives a restart. */
	brokerfx_close(f);
	brokerfx_open(f);
	metadata(f, 12, NULL, 0, false, &r, &raw);
	assert_true(kstr_eq(r.cluster_id, id));
	assert_int_equal(r.n_topics, 3);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);
}

static void test_metadata_no_auto(void **state)
{
	struct brokerfx *f = *state;
	struct proto_meta_resp r;
	struct net_resp raw;
	struct topic *t;
	const char *names[] = { "made" };

	metadata(f, 12, names, 1, true, &r, &raw);
	assert_int_equal(r.topics[0].error_code, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(broker_topic_get(f->b, "made", &t), -ENOENT);
}

/* Metadata v8+ asked for the authorized operations: every topic's (READ,
 * WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS:
 * 3576), an unknown one's too, and (v8-10) the cluster's (8096), as a
 * Kafka broker without an authorizer answers; not asked, INT32_MIN. */
static void test_metadata_authorized_operations(void **state)
{
	struct brokerfx *f = *state;
	struct proto_meta_req_topic t[2] = { { .name = kstr_of("orders") },
					     { .name = kstr_of("nope") } };
	struct proto_meta_resp r;
	struct net_resp raw;
	struct kbuf_w w;

	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, NULL), 0);
	for (int16_t v = 7; v <= 12; v++)
		for (int ask = 0; ask <= 1; ask++) {
			struct proto_meta_req req = { .n_topics = 2,
						      .topics = t,
						      .include_cluster_authorized_operations = ask,
						      .include_topic_authorized_operations = ask };
			int32_t topic_ops = v >= 8 && ask ? 3576 : INT32_MIN;

			kbuf_w_init(&w, 1024);
			assert_int_equal(proto_meta_req_encode(&w, v, &req), 0);
			brokerfx_call(f->c, PROTO_API_METADATA, v, &w, &raw);
			assert_int_equal(proto_meta_resp_decode(&raw.body, v, &r), 0);
			assert_int_equal(r.n_topics, 2);
			assert_int_equal(r.topics[0].error_code, PROTO_ERR_NONE);
			assert_int_equal(r.topics[0].topic_authorized_operations, topic_ops);
			assert_int_equal(r.topics[1].error_code,
					 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
			assert_int_equal(r.topics[1].topic_authorized_operations, topic_ops);
			if (v >= 8 && v <= 10)
				assert_int_equal(r.cluster_authorized_operations,
						 ask ? 8096 : INT32_MIN);
			proto_meta_resp_free(&r);
			net_resp_free(&raw);
		}
}

/* v10 and v11 carry a topic id and a nullable name but take topics by
 * name only: a request with an id or a null name is INVALID_REQUEST for
 * each topic (the null name answered "", as a v10-v11 response's name
 * may not be null), no broker listed, as Kafka answers it; v12 looks the
 * id up. Before, a null name in v10 closed the connection (the answer
 * could not be encoded) and an id was ignored. */
static void test_metadata_ids_before_v12(void **state)
{
	struct brokerfx *f = *state;
	struct proto_meta_req_topic t[2] = { { .name = kstr_of("orders") }, { .name = KSTR_NULL } };
	struct proto_meta_req req = { .n_topics = 2, .topics = t };
	struct proto_meta_resp r;
	struct net_resp raw;
	struct kbuf_w w;

	memset(t[0].topic_id, 7, sizeof(t[0].topic_id));
	memset(t[1].topic_id, 9, sizeof(t[1].topic_id));
	for (int16_t v = 10; v <= 12; v++) {
		kbuf_w_init(&w, 1024);
		assert_int_equal(proto_meta_req_encode(&w, v, &req), 0);
		brokerfx_call(f->c, PROTO_API_METADATA, v, &w, &raw);
		assert_int_equal(proto_meta_resp_decode(&raw.body, v, &r), 0);
		assert_int_equal(r.n_topics, 2);
		if (v < 12) {
			assert_int_equal(r.n_brokers, 0);
			assert_int_equal(r.controller_id, -1);
			assert_int_equal(r.topics[0].error_code, PROTO_ERR_INVALID_REQUEST);
			assert_true(kstr_eq(r.topics[0].name, "orders"));
			assert_int_equal(r.topics[1].error_code, PROTO_ERR_INVALID_REQUEST);
			assert_true(kstr_eq(r.topics[1].name, ""));
			assert_memory_equal(r.topics[1].topic_id, t[1].topic_id, 16);
		} else {
			assert_int_equal(r.n_brokers, 1);
			assert_int_equal(r.topics[1].error_code, PROTO_ERR_UNKNOWN_TOPIC_ID);
		}
		proto_meta_resp_free(&r);
		net_resp_free(&raw);
	}
}

/* A v12 request with any non-zero topic id is answered by its ids alone,
 * as Kafka's handleTopicMetadataRequest (useTopicId): a name beside an id
 * is not looked at, an entry with a zero id is left out, an id named
 * twice is answered once, an unknown id is UNKNOWN_TOPIC_ID with a null
 * name, listed first, and nothing is created. Before, an entry with a name was looked up
 * by the name. */
static void test_metadata_v12_ids_over_names(void **state)
{
	struct brokerfx *f = *state;
	struct proto_meta_req_topic t[4] = { { .name = kstr_of("orders") },
					     { .name = kstr_of("orders") },
					     { .name = KSTR_NULL },
					     { .name = kstr_of("fresh") } };
	struct proto_meta_req req = { .n_topics = 4, .topics = t, .allow_auto_topic_creation = 1 };
	struct proto_meta_resp r;
	struct net_resp raw;
	struct kbuf_w w;
	struct topic *tp;
	uint8_t made[16];

	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, NULL), 0);
	assert_int_equal(broker_topic_create(f->b, "made", 0, 0, 0755, NULL), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "made", -1, "rTQXH9IrQnS7BZyAlHcxyw"), 0);
	zk_uuid_bytes("rTQXH9IrQnS7BZyAlHcxyw", made);
	memcpy(t[0].topic_id, made, 16);
	memcpy(t[2].topic_id, made, 16);
	memset(t[3].topic_id, 9, 16);
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_meta_req_encode(&w, 12, &req), 0);
	brokerfx_call(f->c, PROTO_API_METADATA, 12, &w, &raw);
	assert_int_equal(proto_meta_resp_decode(&raw.body, 12, &r), 0);
	assert_int_equal(r.n_topics, 2);
	assert_int_equal(r.topics[0].error_code, PROTO_ERR_UNKNOWN_TOPIC_ID);
	assert_null(r.topics[0].name.ptr);
	assert_memory_equal(r.topics[0].topic_id, t[3].topic_id, 16);
	assert_int_equal(r.topics[1].error_code, PROTO_ERR_NONE);
	assert_true(kstr_eq(r.topics[1].name, "made"));
	assert_memory_equal(r.topics[1].topic_id, made, 16);
	assert_int_equal(r.topics[1].n_partitions, 1);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(broker_topic_get(f->b, "fresh", &tp), -ENOENT);
}

/* Auto-creation stops while the descriptors' reserve is left
 * (util/fdroom.h): the topics past it are KAFKA_STORAGE_ERROR, not made,
 * and a new connection is still accepted. */
static void test_metadata_auto_create_fd_reserve(void **state)
{
	struct brokerfx *f = *state;
	const char *names[] = { "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8" };
	struct proto_meta_resp r;
	struct net_resp raw;
	struct net_client *c2;
	struct rlimit was, rl;
	int made = 0;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	rl = was;
	/* 16 kept free, room for 4 one-partition topics */
	rl.rlim_cur = (rlim_t)(fd_count_open() + 16 + 16);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	metadata(f, 12, names, 8, true, &r, &raw);
	assert_int_equal(r.n_topics, 8);
	for (int i = 0; i < 8; i++) {
		struct topic *t;

		if (r.topics[i].error_code == 0) {
			assert_int_equal(made, i); /* in order, then none */
			made++;
			continue;
		}
		assert_int_equal(r.topics[i].error_code, PROTO_ERR_KAFKA_STORAGE_ERROR);
		assert_int_equal(broker_topic_get(f->b, names[i], &t), -ENOENT);
	}
	assert_true(made >= 2 && made <= 4);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);
	c2 = brokerfx_connect(f);
	assert_non_null(c2);
	metadata(f, 12, names, 1, true, &r, &raw);
	assert_int_equal(r.topics[0].error_code, 0);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);
	net_client_close(c2);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
}

/* ---- Produce ---- */

static int topic_config_write_text(struct brokerfx *f, const char *name, const char *text)
{
	struct topic *t;
	int rc = broker_topic_get(f->b, name, &t);

	if (rc == 0) {
		rc = topic_config_write(t, text, strlen(text));
		topic_put(t);
	}
	return rc;
}

/* One batch of n records "<prefix><i>" as a client sends it. */
static size_t batch(uint8_t *buf, size_t cap, int codec, const char *prefix, int n)
{
	struct batch_builder bb;
	char v[64];

	batch_builder_init(&bb, buf, cap, codec);
	for (int i = 0; i < n; i++) {
		int l = snprintf(v, sizeof(v), "%s%d", prefix, i);
		assert_int_equal(batch_builder_add(&bb, NULL, -1, v, l, 1700000000000LL), 0);
	}
	int64_t size = batch_builder_finish(&bb, 0, -1);
	assert_true(size > 0);
	return (size_t)size;
}

/* The request frame of req at version v, correlation id corr. */
static void produce_frame(int16_t v, int32_t corr, const struct proto_produce_req *req,
			  uint8_t **frame, size_t *len)
{
	struct proto_req_hdr hdr = { .api_key = PROTO_API_PRODUCE,
				     .api_version = v,
				     .correlation_id = corr,
				     .client_id = KSTR_NULL };
	struct proto_out out;

	proto_out_init(&out, 1 << 20);
	assert_int_equal(proto_produce_req_encode(&out, &hdr, req), 0);
	assert_int_equal(proto_out_flatten(&out, frame, len), 0);
	proto_out_free(&out);
}

/* Produce through net_client_call (its own header): the decoded response. */
static void produce(struct brokerfx *f, int16_t v, const struct proto_produce_req *req,
		    struct proto_produce_resp *resp, struct net_resp *raw)
{
	uint8_t *frame;
	size_t len, hdr = 4 + 8 + 2 + (proto_is_flexible(PROTO_API_PRODUCE, v) ? 1 : 0);

	produce_frame(v, 1, req, &frame, &len);
	assert_int_equal(net_client_call(f->c, PROTO_API_PRODUCE, v, frame + hdr, len - hdr, 0,
					 DEADLINE_MS, raw),
			 0);
	free(frame);
	assert_int_equal(proto_produce_resp_decode(&raw->body, v, resp), 0);
}

static struct proto_produce_part part(int32_t index, const uint8_t *b, size_t n)
{
	return (struct proto_produce_part){
		.index = index, .records = b, .records_len = (int32_t)n, .records_fd = -1
	};
}

static void produce_versions(void **state, int16_t v)
{
	struct brokerfx *f = *state;
	uint8_t good[1024], bad[1024], zstd[1024], snappy[1024];
	struct proto_produce_resp r;
	struct net_resp raw;

	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, NULL), 0);
	size_t ng = batch(good, sizeof(good), BATCH_CODEC_GZIP, "o", 3);
	size_t nb = batch(bad, sizeof(bad), BATCH_CODEC_NONE, "b", 2);
	bad[nb - 1] ^= 1;
	size_t nz = batch(zstd, sizeof(zstd), BATCH_CODEC_ZSTD, "z", 2);
	size_t ns = batch(snappy, sizeof(snappy), BATCH_CODEC_SNAPPY, "s", 1);

	struct proto_produce_part p1[] = { part(0, good, ng), part(7, good, ng) };
	struct proto_produce_part p2[] = { part(0, good, ng) };
	struct proto_produce_topic topics[] = {
		{ kstr_of("orders"), 2, p1 },
		{ kstr_of("nope"), 1, p2 },
	};
	struct proto_produce_req req = { .transactional_id = KSTR_NULL,
					 .acks = -1,
					 .timeout_ms = 5000,
					 .n_topics = 2,
					 .topic_data = topics };
	produce(f, v, &req, &r, &raw);
	assert_int_equal(r.n_topics, 2);
	assert_int_equal(r.responses[0].partition_responses[0].error_code, 0);
	assert_int_equal(r.responses[0].partition_responses[0].base_offset, 0);
	assert_int_equal(r.responses[0].partition_responses[0].log_append_time_ms, -1);
	assert_int_equal(r.responses[0].partition_responses[0].log_start_offset, v >= 5 ? 0 : -1);
	assert_int_equal(r.responses[0].partition_responses[1].index, 7);
	assert_int_equal(r.responses[0].partition_responses[1].error_code,
			 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_int_equal(r.responses[1].partition_responses[0].error_code,
			 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);

	/* Each refusal on its own partition; the good one next to them goes in. */
	assert_int_equal(topic_config_write_text(f, "orders", "partitions=4\n"), 0);
	struct proto_produce_part p3[] = { part(0, bad, nb), part(1, zstd, nz), part(2, good, ng),
					   part(3, snappy, ns) };
	struct proto_produce_topic t3[] = { { kstr_of("orders"), 4, p3 } };
	req.acks = 1;
	req.n_topics = 1;
	req.topic_data = t3;
	produce(f, v, &req, &r, &raw);
	const struct proto_produce_resp_part *rp = r.responses[0].partition_responses;
	assert_int_equal(rp[0].error_code, PROTO_ERR_CORRUPT_MESSAGE);
	assert_int_equal(rp[0].base_offset, -1);
	/* zstd only from v7 on, as Kafka (clients older than that could not
	 * read it back); snappy from any version. */
	assert_int_equal(rp[1].error_code, v < 7 ? PROTO_ERR_UNSUPPORTED_COMPRESSION_TYPE : 0);
	assert_int_equal(rp[1].base_offset, v < 7 ? -1 : 0);
	assert_int_equal(rp[2].error_code, 0);
	assert_int_equal(rp[2].base_offset, 0);
	assert_int_equal(rp[3].error_code, 0);
	assert_int_equal(rp[3].base_offset, 0);
	if (v >= 8) {
		assert_int_equal(rp[0].n_record_errors, 1);
		assert_int_equal(rp[0].record_errors[0].batch_index, 0);
		assert_non_null(rp[0].error_message.ptr);
		/* It says what is wrong: the CRC of the flipped byte. */
		const char *want = "record batch 0 not valid: CRC-32C 0x";
		assert_true(rp[0].error_message.len > (int32_t)strlen(want));
		assert_memory_equal(rp[0].error_message.ptr, want, strlen(want));
		assert_int_equal(rp[2].n_record_errors, 0);
		assert_null(rp[2].error_message.ptr);
	}
	proto_produce_resp_free(&r);
	net_resp_free(&raw);

	/* acks other than -1, 0, 1; acks=all with min.insync.replicas above
	 * the partition's one replica, which counts as one (Kafka's
	 * effectiveMinIsr): taken. */
	struct proto_produce_topic t4[] = { { kstr_of("orders"), 1, p2 } };
	req.topic_data = t4;
	req.acks = 2;
	produce(f, v, &req, &r, &raw);
	assert_int_equal(r.responses[0].partition_responses[0].error_code,
			 PROTO_ERR_INVALID_REQUIRED_ACKS);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(topic_config_write_text(f, "orders", "min.insync.replicas=2\n"), 0);
	req.acks = -1;
	produce(f, v, &req, &r, &raw);
	assert_int_equal(r.responses[0].partition_responses[0].error_code, 0);
	assert_int_equal(r.responses[0].partition_responses[0].base_offset, 3);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);
	req.acks = 1;
	produce(f, v, &req, &r, &raw);
	assert_int_equal(r.responses[0].partition_responses[0].error_code, 0);
	assert_int_equal(r.responses[0].partition_responses[0].base_offset, 6);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);

	/* What partition 0 holds: the first batch, then the last two. */
	char buf[128];
	struct topic *t;
	struct topic_reader *rd;
	assert_int_equal(broker_topic_get(f->b, "orders", &t), 0);
	assert_int_equal(topic_reader_new(t, 0, &rd), 0);
	ssize_t n = topic_reader_read(t, 0, rd, 0, buf, sizeof(buf) - 1, NULL, NULL);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf, "o0\no1\no2\no0\no1\no2\no0\no1\no2\n");
	topic_reader_free(rd);
	topic_put(t);
}

static void test_produce_v3(void **state)
{
	produce_versions(state, 3);
}

static void test_produce_v9(void **state)
{
	produce_versions(state, 9);
}

/* A partition named twice in one request: only its last entry is
 * appended and answered (Kafka keeps the partitions in a map), in one
 * topic entry or across two entries of the topic; an entry left with no
 * partition is not answered. */
static void test_produce_partition_twice(void **state)
{
	struct brokerfx *f = *state;
	uint8_t a[512], b[512], c[512];
	struct proto_produce_resp r;
	struct net_resp raw;
	char buf[128];
	struct topic *t;
	struct topic_reader *rd;
	ssize_t n;

	assert_int_equal(broker_topic_create(f->b, "twice", 0, 0, 0755, NULL), 0);
	assert_int_equal(topic_config_write_text(f, "twice", "partitions=2\n"), 0);
	size_t na = batch(a, sizeof(a), BATCH_CODEC_NONE, "a", 2);
	size_t nb = batch(b, sizeof(b), BATCH_CODEC_NONE, "b", 1);
	size_t nc = batch(c, sizeof(c), BATCH_CODEC_NONE, "c", 1);
	struct proto_produce_part p1[] = { part(0, a, na), part(1, c, nc), part(0, b, nb) };
	struct proto_produce_part p2[] = { part(1, a, na) };
	struct proto_produce_topic topics[] = { { kstr_of("twice"), 3, p1 },
						{ kstr_of("twice"), 1, p2 } };
	struct proto_produce_req req = { .transactional_id = KSTR_NULL,
					 .acks = 1,
					 .timeout_ms = 5000,
					 .n_topics = 2,
					 .topic_data = topics };

	produce(f, 9, &req, &r, &raw);
	assert_int_equal(r.n_topics, 2);
	assert_int_equal(r.responses[0].partition_responses[0].index, 0);
	assert_int_equal(r.responses[0].partition_responses[0].error_code, 0);
	assert_int_equal(r.responses[0].partition_responses[0].base_offset, 0);
	assert_int_equal(r.responses[0].n_partitions, 1);
	assert_int_equal(r.responses[1].n_partitions, 1);
	assert_int_equal(r.responses[1].partition_responses[0].index, 1);
	assert_int_equal(r.responses[1].partition_responses[0].error_code, 0);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);

	/* Partition 1 named only in the second entry: the first answers
	 * nothing and is left out. */
	topics[0].n_partitions = 2;
	produce(f, 9, &req, &r, &raw);
	assert_int_equal(r.n_topics, 2);
	assert_int_equal(r.responses[0].n_partitions, 1);
	assert_int_equal(r.responses[0].partition_responses[0].index, 0);
	assert_int_equal(r.responses[1].partition_responses[0].index, 1);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);
	topics[0] = (struct proto_produce_topic){ kstr_of("twice"), 1, p2 };
	produce(f, 9, &req, &r, &raw);
	assert_int_equal(r.n_topics, 1);
	assert_int_equal(r.responses[0].n_partitions, 1);
	assert_int_equal(r.responses[0].partition_responses[0].index, 1);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);

	assert_int_equal(broker_topic_get(f->b, "twice", &t), 0);
	for (int p = 0; p < 2; p++) {
		assert_int_equal(topic_reader_new(t, p, &rd), 0);
		n = topic_reader_read(t, p, rd, 0, buf, sizeof(buf) - 1, NULL, NULL);
		assert_true(n > 0);
		buf[n] = '\0';
		assert_string_equal(buf, p == 0 ? "b0\na0\na1\n" : "a0\na1\na0\na1\na0\na1\n");
		topic_reader_free(rd);
	}
	topic_put(t);
}

/* message.timestamp.type=LogAppendTime: the answer gives the append's
 * time, and the stored batch carries it (attribute bit 3, max timestamp)
 * in place of the client's; with CreateTime the answer gives -1. A line
 * written through the mount's path is stamped the same way. */
/* Whether the (not NUL-terminated) string k holds s. */
static bool kstr_has(struct kstr k, const char *s)
{
	return k.len > 0 && memmem(k.ptr, (size_t)k.len, s, strlen(s)) != NULL;
}

/* One batch to partition 0 of topic with acks=1 (Produce v9): its answer. */
static struct proto_produce_resp_part *produce_one(struct brokerfx *f, const char *topic,
						   const uint8_t *b, size_t n,
						   struct proto_produce_resp *r,
						   struct net_resp *raw)
{
	struct proto_produce_part p[] = { part(0, b, n) };
	struct proto_produce_topic topics[] = { { kstr_of(topic), 1, p } };
	struct proto_produce_req req = { .transactional_id = KSTR_NULL,
					 .acks = 1,
					 .timeout_ms = 5000,
					 .n_topics = 1,
					 .topic_data = topics };

	produce(f, 9, &req, r, raw);
	assert_int_equal(r->n_topics, 1);
	return &r->responses[0].partition_responses[0];
}

/* Kafka's timestamp checks: a CreateTime record outside the topic's bounds,
 * and a batch a producer marked LogAppendTime, are INVALID_TIMESTAMP with
 * the reason, nothing appended; a LogAppendTime topic takes any
 * timestamp (the broker's replaces it). */
static void test_produce_timestamp_bounds(void **state)
{
	struct brokerfx *f = *state;
	uint8_t b[512], marked[512];
	struct proto_produce_resp r;
	struct net_resp raw;
	struct proto_produce_resp_part *pr;

	assert_int_equal(broker_topic_create(f->b, "bounded", 0, 0, 0755, NULL), 0);
	assert_int_equal(topic_config_write_text(f, "bounded",
						 "message.timestamp.difference.max.ms=86400000\n"),
			 0);
	size_t n = batch(b, sizeof(b), BATCH_CODEC_NONE, "s", 2); /* 1700000000000 */
	size_t nm = batch(marked, sizeof(marked), BATCH_CODEC_NONE, "m", 1);
	be16_put(marked + BATCH_OFF_ATTRIBUTES, BATCH_ATTR_LOG_APPEND_TIME);
	be32_put(marked + BATCH_OFF_CRC,
		 crc32c(0, marked + BATCH_OFF_ATTRIBUTES, nm - BATCH_OFF_ATTRIBUTES));

	pr = produce_one(f, "bounded", b, n, &r, &raw);
	assert_int_equal(pr->error_code, PROTO_ERR_INVALID_TIMESTAMP);
	assert_true(
		kstr_has(pr->error_message, "timestamp 1700000000000 of record 0 is out of range"));
	assert_int_equal(pr->n_record_errors, 1);
	assert_int_equal(pr->record_errors[0].batch_index, 0);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);

	/* Within the bounds, but marked by the producer. */
	assert_int_equal(
		topic_config_write_text(
			f, "bounded", "message.timestamp.difference.max.ms=9223372036854775807\n"),
		0);
	pr = produce_one(f, "bounded", marked, nm, &r, &raw);
	assert_int_equal(pr->error_code, PROTO_ERR_INVALID_TIMESTAMP);
	assert_true(kstr_has(pr->error_message, "LogAppendTime attribute"));
	proto_produce_resp_free(&r);
	net_resp_free(&raw);

	/* LogAppendTime: the old timestamps are no matter; nothing refused
	 * before was appended (the first offset is 0). */
	assert_int_equal(topic_config_write_text(f, "bounded",
						 "message.timestamp.type=LogAppendTime\n"
						 "message.timestamp.before.max.ms=1000\n"),
			 0);
	pr = produce_one(f, "bounded", b, n, &r, &raw);
	assert_int_equal(pr->error_code, 0);
	assert_int_equal(pr->base_offset, 0);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);
}

static void test_produce_log_append_time(void **state)
{
	struct brokerfx *f = *state;
	uint8_t b[512], hdr[BATCH_HDR_SIZE];
	struct proto_produce_resp r;
	struct net_resp raw;
	char path[sizeof(f->cfg.data_dir) + 64];
	struct topic *t;
	int64_t t0 = engine_now_ms(), at;
	int fd;

	assert_int_equal(broker_topic_create(f->b, "stamped", 0, 0, 0755, NULL), 0);
	/* One segment: the client's stamp and the clock's lie further apart
	 * in record time than segment.ms's default. */
	assert_int_equal(topic_config_write_text(f, "stamped", "segment.ms=9223372036854775807\n"),
			 0);
	size_t n = batch(b, sizeof(b), BATCH_CODEC_NONE, "s", 2); /* 1700000000000 */
	struct proto_produce_part p[] = { part(0, b, n) };
	struct proto_produce_topic topics[] = { { kstr_of("stamped"), 1, p } };
	struct proto_produce_req req = { .transactional_id = KSTR_NULL,
					 .acks = 1,
					 .timeout_ms = 5000,
					 .n_topics = 1,
					 .topic_data = topics };

	produce(f, 9, &req, &r, &raw);
	assert_int_equal(r.responses[0].partition_responses[0].error_code, 0);
	assert_int_equal(r.responses[0].partition_responses[0].log_append_time_ms, -1);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);

	assert_int_equal(topic_config_write_text(f, "stamped",
						 "message.timestamp.type=LogAppendTime\n"
						 "segment.ms=9223372036854775807\n"),
			 0);
	n = batch(b, sizeof(b), BATCH_CODEC_NONE, "s", 2);
	produce(f, 9, &req, &r, &raw);
	assert_int_equal(r.responses[0].partition_responses[0].error_code, 0);
	at = r.responses[0].partition_responses[0].log_append_time_ms;
	assert_true(at >= t0 && at <= engine_now_ms());
	proto_produce_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(broker_topic_get(f->b, "stamped", &t), 0);
	assert_int_equal(topic_produce(t, 0, "m\n", 2, 0), 0);
	topic_put(t);

	/* The three batches as stored. */
	snprintf(path, sizeof(path), "%s/stamped-0/00000000000000000000.log", f->cfg.data_dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	off_t pos = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pread(fd, hdr, sizeof(hdr), pos), (ssize_t)sizeof(hdr));
		uint16_t attr = be16_get(hdr + BATCH_OFF_ATTRIBUTES);
		int64_t max_ts = (int64_t)be64_get(hdr + BATCH_OFF_MAX_TS);

		if (i == 0) {
			assert_int_equal(attr & BATCH_ATTR_LOG_APPEND_TIME, 0);
			assert_int_equal(max_ts, 1700000000000LL);
		} else {
			assert_int_not_equal(attr & BATCH_ATTR_LOG_APPEND_TIME, 0);
			assert_true(max_ts >= t0);
		}
		if (i == 1)
			assert_int_equal(max_ts, at);
		pos += BATCH_LOG_OVERHEAD + (off_t)be32_get(hdr + BATCH_OFF_LENGTH);
	}
	close(fd);
}

/* acks=0: no response; a failure closes the connection. */
static void test_produce_acks0(void **state)
{
	struct brokerfx *f = *state;
	uint8_t good[512], *frame;
	size_t ng, len;
	struct proto_meta_resp r;
	struct net_resp raw;

	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, NULL), 0);
	ng = batch(good, sizeof(good), BATCH_CODEC_LZ4, "z", 2);
	struct proto_produce_part p[] = { part(0, good, ng) };
	struct proto_produce_topic t[] = { { kstr_of("orders"), 1, p } };
	struct proto_produce_req req = { .transactional_id = KSTR_NULL,
					 .acks = 0,
					 .timeout_ms = 5000,
					 .n_topics = 1,
					 .topic_data = t };
	produce_frame(9, 777, &req, &frame, &len);
	assert_int_equal(write(net_client_fd(f->c), frame, len), (ssize_t)len);
	free(frame);
	/* The next answer is the Metadata's (a Produce answer would come
	 * first, with another correlation id: -EBADMSG). */
	metadata(f, 12, NULL, 0, false, &r, &raw);
	assert_int_equal(r.n_topics, 1);
	proto_meta_resp_free(&r);
	net_resp_free(&raw);
	struct topic *tp;
	assert_int_equal(broker_topic_get(f->b, "orders", &tp), 0);
	assert_int_equal(topic_line_size(tp, 0), 6);
	topic_put(tp);

	/* A partition that does not exist: the connection goes. */
	p[0].index = 3;
	produce_frame(9, 778, &req, &frame, &len);
	assert_int_equal(write(net_client_fd(f->c), frame, len), (ssize_t)len);
	free(frame);
	struct pollfd pfd = { .fd = net_client_fd(f->c), .events = POLLIN };
	char b;
	assert_int_equal(poll(&pfd, 1, DEADLINE_MS), 1);
	ssize_t got = read(pfd.fd, &b, 1);
	assert_true(got == 0 || (got < 0 && errno == ECONNRESET));
}

/* ---- Fetch from a disk that cannot read ---- */

/* Fetch v12 of orders-0 from offset 0: the partition's error code, and
 * its records' length in *len. */
static int16_t fetch_orders(struct brokerfx *f, int32_t *len)
{
	struct protofx_fetch pf;
	struct proto_fetch_resp fr;
	struct net_resp raw;
	struct kbuf_w w;
	int16_t err;

	protofx_fetch_init(&pf, "orders", -1, -1, 0, -1, 0);
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_fetch_req_encode(&w, 12, &pf.req), 0);
	brokerfx_call(f->c, PROTO_API_FETCH, 12, &w, &raw);
	assert_int_equal(proto_fetch_resp_decode(&raw.body, 12, &fr), 0);
	assert_int_equal(fr.error_code, 0);
	assert_int_equal(fr.n_topics, 1);
	assert_int_equal(fr.topics[0].n_partitions, 1);
	err = fr.topics[0].partitions[0].error_code;
	*len = fr.topics[0].partitions[0].records_len;
	proto_fetch_resp_free(&fr);
	net_resp_free(&raw);
	return err;
}

/* A read error of the log's files answers the partition
 * KAFKA_STORAGE_ERROR (the consumer backs off and asks again) and logs
 * one line naming the partition, the offset and the error, as a read
 * through the mount does; once the disk reads again, so does the Fetch. */
static void test_fetch_read_error(void **state)
{
	struct brokerfx *f = *state;
	struct faultio *fio = calloc(1, sizeof(*fio)); /* megabytes: not on the stack */
	struct topic *tp;
	char path[] = "/tmp/mqfs-test-fetch-log.XXXXXX", text[8192] = "";
	int32_t len;

	brokerfx_close(f);
	assert_non_null(fio);
	faultio_init(fio);
	f->cfg.io = &fio->ops;
	brokerfx_open(f);
	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, &tp), 0);
	assert_int_equal(topic_produce(tp, 0, "a\nb\n", 4, 0), 0);
	topic_put(tp);
	/* Reopened: the records are read from the files, not from what the
	 * appends left in memory. */
	brokerfx_close(f);
	brokerfx_open(f);

	int fd = mkstemp(path), err = dup(2);
	assert_true(fd >= 0 && err >= 0);
	fio->pread_errno = EIO;
	__atomic_store_n(&fio->pread_fails, INT_MAX, __ATOMIC_RELEASE);
	dup2(fd, 2);
	int16_t code = fetch_orders(f, &len);
	__atomic_store_n(&fio->pread_fails, 0, __ATOMIC_RELEASE);
	dup2(err, 2);
	close(err);
	assert_true(pread(fd, text, sizeof(text) - 1, 0) >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(code, PROTO_ERR_KAFKA_STORAGE_ERROR);
	assert_non_null(strstr(text, "orders-0 at offset 0"));
	assert_non_null(strstr(text, "Input/output error"));

	assert_int_equal(fetch_orders(f, &len), 0);
	assert_true(len > 0);
	brokerfx_close(f);
	faultio_free(fio);
	free(fio);
}

/* ---- DescribeProducers ---- */

/* One batch of n records of producer pid at epoch, from sequence seq,
 * every record at time ts. */
static size_t idem_batch(uint8_t *buf, size_t cap, int64_t pid, int16_t epoch, int32_t seq, int n,
			 int64_t ts)
{
	struct batch_builder bb;

	batch_builder_init(&bb, buf, cap, BATCH_CODEC_NONE);
	for (int i = 0; i < n; i++)
		assert_int_equal(batch_builder_add(&bb, NULL, -1, "v", 1, ts), 0);
	bb.producer_id = pid;
	bb.producer_epoch = epoch;
	bb.base_sequence = seq;
	int64_t size = batch_builder_finish(&bb, 0, -1);
	assert_true(size > 0);
	return (size_t)size;
}

static void describe_producers(struct brokerfx *f, struct proto_elect_topic *topics, int n,
			       struct proto_describe_producers_resp *resp, struct net_resp *raw)
{
	struct proto_describe_producers_req req = { n, topics };
	struct kbuf_w w;

	kbuf_w_init(&w, 256);
	assert_int_equal(proto_describe_producers_req_encode(&w, 0, &req), 0);
	brokerfx_call(f->c, PROTO_API_DESCRIBE_PRODUCERS, 0, &w, raw);
	assert_int_equal(proto_describe_producers_resp_decode(&raw->body, 0, resp), 0);
}

/* An idempotent producer's two batches: DescribeProducers lists it with
 * its epoch, the last sequence and timestamp of its newest batch,
 * coordinator epoch and txn start offset -1, and no one for the mount's
 * records (no producer id); the same after a restart (the state loaded
 * from the log by the request itself). A partition that does not exist,
 * an unknown topic and a name Kafka refuses are refused as Kafka. */
static void test_describe_producers(void **state)
{
	struct brokerfx *f = *state;
	uint8_t b[512];
	struct proto_produce_resp r;
	struct proto_describe_producers_resp d;
	struct net_resp raw;
	int64_t ts = (int64_t)time(NULL) * 1000;
	struct proto_elect_partition ps[] = { { 0, 0, KSTR_NULL }, { 5, 0, KSTR_NULL } };
	struct proto_elect_topic ts_[] = { { kstr_of("idem"), 2, ps },
					   { kstr_of("nosuch"), 1, ps },
					   { kstr_of("bad/name"), 1, ps } };
	struct topic *t;

	assert_int_equal(broker_topic_create(f->b, "idem", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_produce(t, 0, "plain\n", 6, 0), 0);
	topic_put(t);
	assert_int_equal(
		produce_one(f, "idem", b, idem_batch(b, sizeof(b), 4242, 3, 0, 3, ts), &r, &raw)
			->error_code,
		0);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);
	assert_int_equal(
		produce_one(f, "idem", b, idem_batch(b, sizeof(b), 4242, 3, 3, 2, ts), &r, &raw)
			->error_code,
		0);
	proto_produce_resp_free(&r);
	net_resp_free(&raw);

	for (int round = 0; round < 2; round++) {
		describe_producers(f, ts_, 3, &d, &raw);
		assert_int_equal(d.n_topics, 3);
		const struct proto_producers_topic *it = &d.topics[0];

		assert_true(kstr_eq(it->name, "idem"));
		assert_int_equal(it->n_partitions, 2);
		assert_int_equal(it->partitions[0].partition_index, 0);
		assert_int_equal(it->partitions[0].error_code, PROTO_ERR_NONE);
		assert_null(it->partitions[0].error_message.ptr);
		assert_int_equal(it->partitions[0].n_producers, 1);
		const struct proto_producer_desc *pd = &it->partitions[0].producers[0];

		assert_int_equal(pd->producer_id, 4242);
		assert_int_equal(pd->producer_epoch, 3);
		assert_int_equal(pd->last_sequence, 4);
		assert_int_equal(pd->last_timestamp, ts);
		assert_int_equal(pd->coordinator_epoch, -1);
		assert_int_equal(pd->current_txn_start_offset, -1);
		assert_int_equal(it->partitions[1].partition_index, 5);
		assert_int_equal(it->partitions[1].error_code,
				 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_null(it->partitions[1].error_message.ptr);
		assert_int_equal(it->partitions[1].n_producers, 0);
		assert_int_equal(d.topics[1].partitions[0].error_code,
				 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_true(kstr_eq(d.topics[1].partitions[0].error_message,
				    "This server does not host this topic-partition."));
		assert_int_equal(d.topics[2].partitions[0].error_code,
				 PROTO_ERR_INVALID_TOPIC_EXCEPTION);
		assert_true(kstr_eq(d.topics[2].partitions[0].error_message,
				    "Topic name is invalid: 'bad/name' contains one or more "
				    "characters other than ASCII alphanumerics, '.', '_' and '-'"));
		proto_describe_producers_resp_free(&d);
		net_resp_free(&raw);
		if (round == 0) {
			brokerfx_close(f);
			brokerfx_open(f);
		}
	}
}

/* ---- DescribeCluster ---- */

static void describe_cluster(struct brokerfx *f, int16_t v, bool ops, int8_t type,
			     struct proto_describe_cluster_resp *resp, struct net_resp *raw)
{
	struct proto_describe_cluster_req req = { .include_cluster_authorized_operations = ops,
						  .endpoint_type = type };
	struct kbuf_w w;

	kbuf_w_init(&w, 256);
	assert_int_equal(proto_describe_cluster_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_DESCRIBE_CLUSTER, v, &w, raw);
	assert_int_equal(proto_describe_cluster_resp_decode(&raw->body, v, resp), 0);
}

/* The brokers, cluster id and controller Metadata gives; no ACLs, so the
 * authorized operations are Kafka's "not asked" value even when asked;
 * a controller endpoint type is a KRaft controller's, not ours. */
static void test_describe_cluster(void **state)
{
	struct brokerfx *f = *state;
	struct proto_describe_cluster_resp r;
	struct proto_meta_resp m;
	struct net_resp raw, mraw;

	metadata(f, 12, NULL, 0, false, &m, &mraw);
	for (int16_t v = 0; v <= 1; v++) {
		describe_cluster(f, v, v == 1, PROTO_ENDPOINT_BROKER, &r, &raw);
		assert_int_equal(r.error_code, PROTO_ERR_NONE);
		assert_null(r.error_message.ptr);
		assert_int_equal(r.n_brokers, 1);
		assert_int_equal(r.brokers[0].node_id, 0);
		assert_true(kstr_eq(r.brokers[0].host, "127.0.0.1"));
		assert_int_equal(r.brokers[0].port, f->port);
		assert_null(r.brokers[0].rack.ptr);
		assert_int_equal(r.controller_id, 0);
		assert_int_equal(r.cluster_id.len, 22);
		assert_memory_equal(r.cluster_id.ptr, m.cluster_id.ptr, 22);
		/* Asked for (v1 here): every cluster operation Kafka defines
		 * (CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
		 * ALTER_CONFIGS, IDEMPOTENT_WRITE: bits 5, 7-12), as a Kafka
		 * broker without an authorizer answers. */
		assert_int_equal(r.cluster_authorized_operations, v == 1 ? 8096 : INT32_MIN);
		if (v == 1)
			assert_int_equal(r.endpoint_type, PROTO_ENDPOINT_BROKER);
		proto_describe_cluster_resp_free(&r);
		net_resp_free(&raw);
	}
	describe_cluster(f, 1, false, PROTO_ENDPOINT_CONTROLLER, &r, &raw);
	assert_int_equal(r.error_code, PROTO_ERR_MISMATCHED_ENDPOINT_TYPE);
	assert_int_equal(r.n_brokers, 0);
	/* The endpoint described is a broker's, whatever was asked. */
	assert_int_equal(r.endpoint_type, PROTO_ENDPOINT_BROKER);
	assert_true(kstr_eq(r.error_message, "The request was sent to an endpoint of type BROKER, "
					     "but we wanted an endpoint of type CONTROLLER"));
	proto_describe_cluster_resp_free(&r);
	net_resp_free(&raw);
	/* A type Kafka does not define (0 is its UNKNOWN): unsupported. */
	for (int8_t type = 0; type <= 3; type += 3) {
		describe_cluster(f, 1, false, type, &r, &raw);
		assert_int_equal(r.error_code, PROTO_ERR_UNSUPPORTED_ENDPOINT_TYPE);
		assert_int_equal(r.endpoint_type, PROTO_ENDPOINT_BROKER);
		assert_int_equal(r.n_brokers, 0);
		proto_describe_cluster_resp_free(&r);
		net_resp_free(&raw);
	}
	proto_meta_resp_free(&m);
	net_resp_free(&mraw);
}

/* ---- DescribeLogDirs ---- */

static void log_dirs(struct brokerfx *f, int16_t v, struct proto_elect_topic *topics, int n,
		     struct proto_describe_log_dirs_resp *resp, struct net_resp *raw)
{
	struct proto_describe_log_dirs_req req = { .n_topics = topics ? n : -1, .topics = topics };
	struct kbuf_w w;

	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_describe_log_dirs_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_DESCRIBE_LOG_DIRS, v, &w, raw);
	assert_int_equal(proto_describe_log_dirs_resp_decode(&raw->body, v, resp), 0);
}

/* One log directory, the data directory by its absolute path, with the
 * partitions asked for that are here and the bytes of their segments (the
 * batch appended, byte for byte: not the active segment's file size, which
 * may run ahead); v4 adds the filesystem's size and free bytes. */
static void test_describe_log_dirs(void **state)
{
	struct brokerfx *f = *state;
	struct proto_elect_partition op[2] = { { .partition_id = 0 }, { .partition_id = 7 } },
				     np[1] = { { .partition_id = 0 } };
	struct proto_elect_topic ts[2] = { { kstr_of("orders"), 2, op },
					   { kstr_of("nope"), 1, np } };
	struct proto_describe_log_dirs_resp r;
	struct proto_produce_resp pr;
	struct net_resp raw, praw;
	char abs[PATH_MAX];
	uint8_t b[512];
	size_t n = batch(b, sizeof(b), 0, "r", 3);
	struct statvfs sv;

	assert_non_null(realpath(f->cfg.data_dir, abs));
	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, NULL), 0);
	assert_int_equal(produce_one(f, "orders", b, n, &pr, &praw)->error_code, 0);
	proto_produce_resp_free(&pr);
	net_resp_free(&praw);
	for (int16_t v = 0; v <= 4; v++) {
		log_dirs(f, v, ts, 2, &r, &raw);
		assert_int_equal(r.error_code, PROTO_ERR_NONE);
		assert_int_equal(r.n_results, 1);
		assert_int_equal(r.results[0].error_code, PROTO_ERR_NONE);
		assert_true(kstr_eq(r.results[0].log_dir, abs));
		/* orders-7 and nope are not here: left out. */
		assert_int_equal(r.results[0].n_topics, 1);
		assert_true(kstr_eq(r.results[0].topics[0].name, "orders"));
		assert_int_equal(r.results[0].topics[0].n_partitions, 1);
		const struct proto_log_dir_partition *p = &r.results[0].topics[0].partitions[0];
		assert_int_equal(p->partition_index, 0);
		assert_int_equal(p->partition_size, (int64_t)n);
		assert_int_equal(p->offset_lag, 0);
		assert_false(p->is_future_key);
		if (v >= 4) {
			assert_int_equal(statvfs(abs, &sv), 0);
			assert_int_equal(r.results[0].total_bytes,
					 (int64_t)sv.f_blocks * (int64_t)sv.f_frsize);
			assert_true(r.results[0].usable_bytes > 0);
			assert_true(r.results[0].usable_bytes <= r.results[0].total_bytes);
		} else {
			assert_int_equal(r.results[0].total_bytes, -1);
		}
		proto_describe_log_dirs_resp_free(&r);
		net_resp_free(&raw);
	}
	/* Null: every topic (the internal one too, as Kafka), every partition. */
	log_dirs(f, 4, NULL, 0, &r, &raw);
	assert_int_equal(r.results[0].n_topics, 2);
	assert_true(kstr_eq(r.results[0].topics[0].name, "__consumer_offsets"));
	assert_true(r.results[0].topics[0].n_partitions >= 1);
	assert_true(kstr_eq(r.results[0].topics[1].name, "orders"));
	assert_int_equal(r.results[0].topics[1].n_partitions, 1);
	proto_describe_log_dirs_resp_free(&r);
	net_resp_free(&raw);
}

/* ---- ElectLeaders ---- */

/* ElectLeaders at version v of type for topics (NULL: every partition). */
static void elect(struct brokerfx *f, int16_t v, int8_t type, struct proto_elect_topic *topics,
		  int n, struct proto_elect_resp *resp, struct net_resp *raw)
{
	struct proto_elect_req req = { .election_type = type,
				       .n_topics = topics ? n : -1,
				       .topics = topics,
				       .timeout_ms = 1000 };
	struct kbuf_w w;

	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_elect_req_encode(&w, v, &req), 0);
	brokerfx_call(f->c, PROTO_API_ELECT_LEADERS, v, &w, raw);
	assert_int_equal(proto_elect_resp_decode(&raw->body, v, resp), 0);
}

/* A single node leads every partition it has, alone: nothing is ever to
 * elect, as Kafka's single broker answers; unknown partitions say so. */
static void test_elect_leaders_single(void **state)
{
	struct brokerfx *f = *state;
	struct proto_elect_partition op[2] = { { .partition_id = 0 }, { .partition_id = 5 } },
				     np[1] = { { .partition_id = 0 } };
	struct proto_elect_topic ts[2] = { { kstr_of("orders"), 2, op },
					   { kstr_of("nope"), 1, np } };
	struct proto_elect_resp r;
	struct net_resp raw;

	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, NULL), 0);
	for (int16_t v = 0; v <= 2; v++) {
		elect(f, v, v >= 1 ? PROTO_ELECTION_UNCLEAN : PROTO_ELECTION_PREFERRED, ts, 2, &r,
		      &raw);
		assert_int_equal(r.error_code, PROTO_ERR_NONE);
		assert_int_equal(r.n_topics, 2);
		assert_true(kstr_eq(r.topics[0].topic, "orders"));
		assert_int_equal(r.topics[0].n_partitions, 2);
		assert_int_equal(r.topics[0].partitions[0].partition_id, 0);
		assert_int_equal(r.topics[0].partitions[0].error_code,
				 PROTO_ERR_ELECTION_NOT_NEEDED);
		assert_non_null(r.topics[0].partitions[0].error_message.ptr);
		assert_int_equal(r.topics[0].partitions[1].partition_id, 5);
		assert_int_equal(r.topics[0].partitions[1].error_code,
				 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		assert_true(kstr_eq(r.topics[1].topic, "nope"));
		assert_int_equal(r.topics[1].n_partitions, 1);
		assert_int_equal(r.topics[1].partitions[0].error_code,
				 PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
		proto_elect_resp_free(&r);
		net_resp_free(&raw);
	}
	/* Null: every partition of every topic (the internal one too), and
	 * the answer leaves out those that needed no election, as Kafka's
	 * handleElectLeaders: here all of them. */
	elect(f, 2, PROTO_ELECTION_PREFERRED, NULL, 0, &r, &raw);
	assert_int_equal(r.error_code, PROTO_ERR_NONE);
	assert_int_equal(r.n_topics, 0);
	proto_elect_resp_free(&r);
	net_resp_free(&raw);
	/* An election type Kafka does not define: the request and each
	 * partition it names UNKNOWN_SERVER_ERROR without a message, as
	 * Kafka's error response; the connection stays (the next request on
	 * it is answered). */
	for (int16_t v = 1; v <= 2; v++) {
		elect(f, v, 5, ts, 2, &r, &raw);
		assert_int_equal(r.error_code, PROTO_ERR_UNKNOWN_SERVER_ERROR);
		assert_int_equal(r.n_topics, 2);
		assert_int_equal(r.topics[0].n_partitions, 2);
		for (int p = 0; p < 2; p++) {
			assert_int_equal(r.topics[0].partitions[p].error_code,
					 PROTO_ERR_UNKNOWN_SERVER_ERROR);
			assert_null(r.topics[0].partitions[p].error_message.ptr);
		}
		assert_int_equal(r.topics[1].partitions[0].error_code,
				 PROTO_ERR_UNKNOWN_SERVER_ERROR);
		proto_elect_resp_free(&r);
		net_resp_free(&raw);
	}
	elect(f, 2, -1, NULL, 0, &r, &raw);
	assert_int_equal(r.error_code, PROTO_ERR_UNKNOWN_SERVER_ERROR);
	assert_int_equal(r.n_topics, 0);
	proto_elect_resp_free(&r);
	net_resp_free(&raw);
	elect(f, 2, PROTO_ELECTION_PREFERRED, NULL, 0, &r, &raw);
	assert_int_equal(r.error_code, PROTO_ERR_NONE);
	proto_elect_resp_free(&r);
	net_resp_free(&raw);
}

/* ---- SCRAM users on a single node ---- */

/* A single node's one SCRAM user is its JAAS setting: none here, so an
 * empty list of every user; a name is RESOURCE_NOT_FOUND; a change is
 * INVALID_REQUEST for each user named. */
static void test_scram_single(void **state)
{
	struct brokerfx *f = *state;
	struct kstr names[1] = { kstr_of("alice") };
	struct proto_describe_scram_req dreq = { -1, NULL };
	struct proto_describe_scram_resp dr;
	struct proto_scram_deletion del[1] = { { kstr_of("bob"), PROTO_SCRAM_SHA_256 } };
	struct proto_alter_scram_req areq = { 1, del, 0, NULL };
	struct proto_alter_scram_resp ar;
	struct net_resp raw;
	struct kbuf_w w;

	for (int named = 0; named <= 1; named++) {
		if (named) {
			dreq.n_users = 1;
			dreq.users = names;
		}
		kbuf_w_init(&w, 4096);
		assert_int_equal(proto_describe_scram_req_encode(&w, 0, &dreq), 0);
		brokerfx_call(f->c, PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, &w, &raw);
		assert_int_equal(proto_describe_scram_resp_decode(&raw.body, 0, &dr), 0);
		assert_int_equal(dr.error_code, PROTO_ERR_NONE);
		assert_int_equal(dr.n_results, named);
		if (named) {
			assert_true(kstr_eq(dr.results[0].user, "alice"));
			assert_int_equal(dr.results[0].error_code, PROTO_ERR_RESOURCE_NOT_FOUND);
		}
		proto_describe_scram_resp_free(&dr);
		net_resp_free(&raw);
	}
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_alter_scram_req_encode(&w, 0, &areq), 0);
	brokerfx_call(f->c, PROTO_API_ALTER_USER_SCRAM_CREDENTIALS, 0, &w, &raw);
	assert_int_equal(proto_alter_scram_resp_decode(&raw.body, 0, &ar), 0);
	assert_int_equal(ar.n_results, 1);
	assert_true(kstr_eq(ar.results[0].user, "bob"));
	assert_int_equal(ar.results[0].error_code, PROTO_ERR_INVALID_REQUEST);
	proto_alter_scram_resp_free(&ar);
	net_resp_free(&raw);
}

static int setup_jaas(void **state)
{
	return brokerfx_setup(
		state, "kapi",
		"sasl.jaas.config=org.apache.kafka.common.security.scram."
		"ScramLoginModule required username=\"admin\" password=\"admin-secret\";\n");
}

/* A single node's JAAS user has a credential of each mechanism, as it
 * logs in with either: described as both, SCRAM-SHA-256 (1) first. */
static void test_scram_single_jaas(void **state)
{
	struct brokerfx *f = *state;
	struct proto_describe_scram_req dreq = { -1, NULL };
	struct proto_describe_scram_resp dr;
	struct net_resp raw;
	struct kbuf_w w;

	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_describe_scram_req_encode(&w, 0, &dreq), 0);
	brokerfx_call(f->c, PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, &w, &raw);
	assert_int_equal(proto_describe_scram_resp_decode(&raw.body, 0, &dr), 0);
	assert_int_equal(dr.error_code, PROTO_ERR_NONE);
	assert_int_equal(dr.n_results, 1);
	assert_true(kstr_eq(dr.results[0].user, "admin"));
	assert_int_equal(dr.results[0].error_code, PROTO_ERR_NONE);
	assert_int_equal(dr.results[0].n_infos, 2);
	assert_int_equal(dr.results[0].infos[0].mechanism, PROTO_SCRAM_SHA_256);
	assert_int_equal(dr.results[0].infos[0].iterations, 4096);
	assert_int_equal(dr.results[0].infos[1].mechanism, PROTO_SCRAM_SHA_512);
	assert_int_equal(dr.results[0].infos[1].iterations, 4096);
	proto_describe_scram_resp_free(&dr);
	net_resp_free(&raw);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_metadata, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_auto_create_fd_reserve, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_ids_before_v12, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_v12_ids_over_names, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_authorized_operations, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_metadata_no_auto, setup_no_auto,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_produce_v3, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_produce_v9, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_produce_acks0, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_produce_partition_twice, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_produce_log_append_time, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_produce_timestamp_bounds, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_elect_leaders_single, setup,
						brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_fetch_read_error, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_producers, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_cluster, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_describe_log_dirs, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_scram_single, setup, brokerfx_teardown),
		cmocka_unit_test_setup_teardown(test_scram_single_jaas, setup_jaas,
						brokerfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
