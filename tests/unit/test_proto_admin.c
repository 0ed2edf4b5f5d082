/*
 * test_proto_admin.c — CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, AlterConfigs and IncrementalAlterConfigs
 * (repl/proto_admin.c): frames hand-built from the JSON schemas at the
 * version librdkafka 2.0 / kafkajs 2.2 send and at a flexible one, every
 * truncation refused, a round trip at every version that must give back
 * the same bytes, CreateTopics' tagged topic_config_error_code, topics
 * deleted by id, and the caps; ElectLeaders, DescribeCluster and
 * DescribeLogDirs (repl/proto_elect.c, repl/proto_cluster.c) round trips
 * at every version; DescribeProducers (repl/proto_producers.c) from
 * hand-built frames.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/kbuf.h"
#include "repl/proto.h"
#include "tests/unit/protofx.h"

static int ct_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_create_topics_req_encode(w, v, b);
}
static int dt_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_delete_topics_req_encode(w, v, b);
}
static int cp_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_create_parts_req_encode(w, v, b);
}
static int dc_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_describe_configs_req_encode(w, v, b);
}
static int ac_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_alter_configs_req_encode(w, v, b);
}
static int iac_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_incr_alter_configs_req_encode(w, v, b);
}
static const void *ct_of(const struct proto_req *r)
{
	return &r->u.create_topics;
}
static const void *dt_of(const struct proto_req *r)
{
	return &r->u.delete_topics;
}
static const void *cp_of(const struct proto_req *r)
{
	return &r->u.create_parts;
}
static const void *dc_of(const struct proto_req *r)
{
	return &r->u.describe_configs;
}
static const void *ac_of(const struct proto_req *r)
{
	return &r->u.alter_configs;
}

PROTOFX_RESP_CODEC(ct, create_topics)
PROTOFX_RESP_CODEC(dt, delete_topics)
PROTOFX_RESP_CODEC(cp, create_parts)
PROTOFX_RESP_CODEC(dc, describe_configs)
PROTOFX_RESP_CODEC(ac, alter_configs)

static int iac_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_incr_alter_configs_resp_decode(&r, v, out);
}

static int iac_renc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_incr_alter_configs_resp_encode(w, v, in);
}

/* ---- CreateTopics ---- */

/* v4 as librdkafka 2.0 sends it: 3 partitions, factor 1, one config. */
static const uint8_t ct_v4[] = {
	0x00, 0x13, 0x00, 0x04,    PI32(1), 0x00,       0x01,    'c',     PI32(1),
	0x00, 0x01, 't',  PI32(3), 0x00,    0x01,       PI32(0), PI32(1), 0x00,
	0x01, 'k',  0x00, 0x01,    'v',     PI32(5000), 0x00,
};
/* v5: flexible, the broker's defaults (-1), a manual assignment, a null
 * config value, validate only. */
static const uint8_t ct_v5[] = {
	0x00, 0x13, 0x00,     0x05, PI32(1), 0x00, 0x01,    'c',        0x00,    0x02,
	0x02, 't',  PI32(-1), 0xff, 0xff,    0x02, PI32(0), 0x03,       PI32(1), PI32(2),
	0x00, 0x02, 0x02,     'k',  0x00,    0x00, 0x00,    PI32(5000), 0x01,    0x00,
};

static void test_create_topics(void **state)
{
	struct proto_req req;
	struct proto_create_topics_req *c = &req.u.create_topics;
	struct proto_create_topics_resp resp;
	int32_t ids[2] = { 1, 2 };
	struct proto_replica_assignment as[2] = { { 0, 2, ids }, { 1, 1, ids } };
	struct proto_config cfg[2] = { { kstr_of("retention.ms"), kstr_of("1000"), 0 },
				       { kstr_of("x"), KSTR_NULL, 0 } };
	struct proto_creatable_topic tops[2] = {
		{ kstr_of("a"), 2, 2, 2, as, 2, cfg },
		{ kstr_of("b"), -1, -1, 0, NULL, 0, NULL },
	};
	struct proto_create_topics_req in = { 2, tops, 30000, true };
	struct proto_topic_config_desc descs[1] = { { kstr_of("k"), kstr_of("v"), false, 5,
						      true } };
	struct proto_creatable_topic_result res[2] = {
		{ kstr_of("a"), { 1, [15] = 2 }, 0, KSTR_NULL, 0, 2, 2, 1, descs },
		{ kstr_of("b"),
		  { 0 },
		  PROTO_ERR_TOPIC_ALREADY_EXISTS,
		  kstr_of("exists"),
		  PROTO_ERR_INVALID_CONFIG,
		  -1,
		  -1,
		  -1,
		  NULL },
	};
	struct proto_create_topics_resp rin = { 4, 2, res };
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(ct_v4, sizeof(ct_v4), ct_enc, ct_of, &req);
	assert_int_equal(c->n_topics, 1);
	assert_int_equal(c->topics[0].num_partitions, 3);
	assert_int_equal(c->topics[0].replication_factor, 1);
	assert_true(kstr_eq(c->topics[0].configs[0].value, "v"));
	assert_int_equal(c->timeout_ms, 5000);
	assert_false(c->validate_only);
	proto_req_free(&req);
	protofx_req_same_bytes(ct_v5, sizeof(ct_v5), ct_enc, ct_of, &req);
	assert_int_equal(c->topics[0].num_partitions, -1);
	assert_int_equal(c->topics[0].replication_factor, -1);
	assert_int_equal(c->topics[0].assignments[0].n_broker_ids, 2);
	assert_int_equal(c->topics[0].assignments[0].broker_ids[1], 2);
	assert_null(c->topics[0].configs[0].value.ptr);
	assert_true(c->validate_only);
	proto_req_free(&req);

	protofx_same_bytes(ct_dec, ct_renc, ct_free,
			   PROTOFX_BYTES(PI32(1), 0x00, 0x01, 't', 0x00, 0x24), 0, &resp);
	assert_int_equal(resp.topics[0].error_code, PROTO_ERR_TOPIC_ALREADY_EXISTS);
	assert_int_equal(resp.topics[0].n_configs, -1);
	proto_create_topics_resp_free(&resp);
	/* v5: the created topic's settings, and the tagged config error. */
	protofx_same_bytes(ct_dec, ct_renc, ct_free,
			   PROTOFX_BYTES(PI32(0), 0x02, 0x02, 't', 0x00, 0x00, 0x00, PI32(3), 0x00,
					 0x01, 0x02, 0x02, 'k', 0x02, 'v', 0x00, 0x05, 0x00, 0x00,
					 0x01, 0x00, 0x02, 0x00, 0x28, 0x00),
			   5, &resp);
	assert_int_equal(resp.topics[0].num_partitions, 3);
	assert_int_equal(resp.topics[0].n_configs, 1);
	assert_int_equal(resp.topics[0].configs[0].config_source, 5);
	assert_int_equal(resp.topics[0].topic_config_error_code, PROTO_ERR_INVALID_CONFIG);
	proto_create_topics_resp_free(&resp);

	for (int16_t v = 0; v <= 7; v++) {
		protofx_req_round(PROTO_API_CREATE_TOPICS, v, ct_enc, ct_of, &in, &req, &frame);
		assert_int_equal(c->n_topics, 2);
		assert_int_equal(c->topics[0].n_assignments, 2);
		assert_int_equal(c->topics[0].assignments[1].partition_index, 1);
		assert_true(kstr_eq(c->topics[0].configs[0].value, "1000"));
		assert_null(c->topics[0].configs[1].value.ptr);
		assert_int_equal(c->topics[1].replication_factor, -1);
		assert_int_equal(c->validate_only, v >= 1);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(ct_dec, ct_renc, ct_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, v >= 2 ? 4 : 0);
		assert_int_equal(resp.topics[0].topic_id[15], v >= 7 ? 2 : 0);
		assert_true(v >= 1 ? kstr_eq(resp.topics[1].error_message, "exists")
				   : !resp.topics[1].error_message.ptr);
		assert_int_equal(resp.topics[1].topic_config_error_code,
				 v >= 5 ? PROTO_ERR_INVALID_CONFIG : 0);
		assert_int_equal(resp.topics[0].n_configs, v >= 5 ? 1 : -1);
		assert_int_equal(resp.topics[1].n_configs, -1);
		proto_create_topics_resp_free(&resp);
		free(frame);
	}
}

/* ---- DeleteTopics, CreatePartitions ---- */

static void test_delete_topics_create_partitions(void **state)
{
	struct proto_req req;
	struct proto_delete_topics_req *d = &req.u.delete_topics;
	struct proto_create_parts_req *p = &req.u.create_parts;
	struct proto_delete_topics_resp dresp;
	struct proto_create_parts_resp cresp;
	struct proto_delete_topic dts[2] = { { kstr_of("a"), { 0 } }, { kstr_of("b"), { 9 } } };
	struct proto_delete_topics_req din = { 2, dts, 1000 };
	struct proto_delete_topic_result drs[1] = { { kstr_of("a"), { 7 }, 3, kstr_of("no") } };
	struct proto_delete_topics_resp drin = { 1, 1, drs };
	int32_t ids[2] = { 1, 2 };
	struct proto_replica_assignment as[1] = { { 0, 2, ids } };
	struct proto_create_parts_topic cts[2] = { { kstr_of("t"), 4, 1, as },
						   { kstr_of("u"), 2, -1, NULL } };
	struct proto_create_parts_req cin = { 2, cts, 500, true };
	struct proto_resource_result crs[1] = { { PROTO_ERR_INVALID_PARTITIONS, kstr_of("fewer"), 0,
						  kstr_of("t") } };
	struct proto_create_parts_resp crin = { 3, 1, crs };
	struct kbuf_w w;
	uint8_t *frame;

	(void)state;
	/* DeleteTopics v1 (both clients): names. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x14, 0x00, 0x01, PI32(2), 0x00, 0x01, 'c',
					     PI32(2), 0x00, 0x01, 'a', 0x00, 0x01, 'b', PI32(1000)),
			       dt_enc, dt_of, &req);
	assert_int_equal(d->n_topics, 2);
	assert_true(kstr_eq(d->topics[1].name, "b"));
	assert_int_equal(d->timeout_ms, 1000);
	proto_req_free(&req);
	/* v6: by name or by id. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x14, 0x00, 0x06, PI32(2), 0x00, 0x01, 'c', 0x00,
					     0x03, 0x02, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					     0, 0, 0, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
					     12, 13, 14, 15, 16, 0x00, PI32(1000), 0x00),
			       dt_enc, dt_of, &req);
	assert_null(d->topics[1].name.ptr);
	assert_int_equal(d->topics[1].topic_id[15], 16);
	proto_req_free(&req);
	protofx_same_bytes(dt_dec, dt_renc, dt_free,
			   PROTOFX_BYTES(PI32(0), PI32(1), 0x00, 0x01, 'a', 0x00, 0x03), 1, &dresp);
	assert_int_equal(dresp.responses[0].error_code, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	proto_delete_topics_resp_free(&dresp);
	protofx_same_bytes(dt_dec, dt_renc, dt_free,
			   PROTOFX_BYTES(PI32(0), 0x02, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
					 13, 14, 15, 16, 0x00, 0x64, 0x00, 0x00, 0x00),
			   6, &dresp);
	assert_null(dresp.responses[0].name.ptr);
	assert_int_equal(dresp.responses[0].error_code, PROTO_ERR_UNKNOWN_TOPIC_ID);
	proto_delete_topics_resp_free(&dresp);

	/* CreatePartitions v1 (kafkajs): a new count, the broker assigns. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x25, 0x00, 0x01, PI32(3), 0x00, 0x01, 'c',
					     PI32(1), 0x00, 0x01, 't', PI32(6), PI32(-1),
					     PI32(1000), 0x00),
			       cp_enc, cp_of, &req);
	assert_int_equal(p->topics[0].count, 6);
	assert_int_equal(p->topics[0].n_assignments, -1);
	proto_req_free(&req);
	/* v3: flexible, one new partition on broker 1. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x25, 0x00, 0x03, PI32(3), 0x00, 0x01, 'c', 0x00,
					     0x02, 0x02, 't', PI32(4), 0x02, 0x02, PI32(1), 0x00,
					     0x00, PI32(1000), 0x00, 0x00),
			       cp_enc, cp_of, &req);
	assert_int_equal(p->topics[0].n_assignments, 1);
	assert_int_equal(p->topics[0].assignments[0].broker_ids[0], 1);
	proto_req_free(&req);
	protofx_same_bytes(
		cp_dec, cp_renc, cp_free,
		PROTOFX_BYTES(PI32(0), PI32(1), 0x00, 0x01, 't', 0x00, 0x25, 0x00, 0x02, 'n', 'o'),
		0, &cresp);
	assert_true(kstr_eq(cresp.results[0].resource_name, "t"));
	assert_true(kstr_eq(cresp.results[0].error_message, "no"));
	proto_create_parts_resp_free(&cresp);

	for (int16_t v = 0; v <= 6; v++) {
		protofx_req_round(PROTO_API_DELETE_TOPICS, v, dt_enc, dt_of, &din, &req, &frame);
		assert_true(kstr_eq(d->topics[1].name, "b"));
		assert_int_equal(d->topics[1].topic_id[0], v >= 6 ? 9 : 0);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(dt_dec, dt_renc, dt_free, v, &drin, &dresp, &frame);
		assert_int_equal(dresp.throttle_time_ms, v >= 1 ? 1 : 0);
		assert_true(v >= 5 ? kstr_eq(dresp.responses[0].error_message, "no")
				   : !dresp.responses[0].error_message.ptr);
		proto_delete_topics_resp_free(&dresp);
		free(frame);
	}
	for (int16_t v = 0; v <= 3; v++) {
		protofx_req_round(PROTO_API_CREATE_PARTITIONS, v, cp_enc, cp_of, &cin, &req,
				  &frame);
		assert_int_equal(p->topics[0].assignments[0].n_broker_ids, 2);
		assert_int_equal(p->topics[1].n_assignments, -1);
		assert_true(p->validate_only);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(cp_dec, cp_renc, cp_free, v, &crin, &cresp, &frame);
		assert_int_equal(cresp.throttle_time_ms, 3);
		assert_int_equal(cresp.results[0].error_code, PROTO_ERR_INVALID_PARTITIONS);
		proto_create_parts_resp_free(&cresp);
		free(frame);
	}
	/* Before v6 a topic is named. */
	dts[0].name = KSTR_NULL;
	drs[0].name = KSTR_NULL;
	kbuf_w_init(&w, 256);
	assert_int_equal(proto_delete_topics_req_encode(&w, 5, &din), -EINVAL);
	assert_int_equal(proto_delete_topics_resp_encode(&w, 5, &drin), -EINVAL);
	kbuf_w_free(&w);
}

/* ---- DescribeConfigs, AlterConfigs, IncrementalAlterConfigs ---- */

static void test_describe_configs(void **state)
{
	struct proto_req req;
	struct proto_describe_configs_req *d = &req.u.describe_configs;
	struct proto_describe_configs_resp resp;
	struct kstr keys[2] = { kstr_of("retention.ms"), kstr_of("cleanup.policy") };
	struct proto_describe_configs_resource res[2] = {
		{ PROTO_RESOURCE_TOPIC, kstr_of("t"), 2, keys },
		{ PROTO_RESOURCE_BROKER, kstr_of("1"), -1, NULL },
	};
	struct proto_describe_configs_req in = { 2, res, true, true };
	struct proto_config_synonym syn[1] = { { kstr_of("log.retention.ms"), kstr_of("1"), 5 } };
	struct proto_describe_configs_entry ents[2] = {
		{ kstr_of("retention.ms"), kstr_of("1"), false, true, 5, false, 1, syn, 5,
		  kstr_of("doc") },
		{ kstr_of("secret"), KSTR_NULL, true, false, 1, true, 0, NULL, 2, KSTR_NULL },
	};
	struct proto_describe_configs_result results[1] = {
		{ 0, KSTR_NULL, PROTO_RESOURCE_TOPIC, kstr_of("t"), 2, ents },
	};
	struct proto_describe_configs_resp rin = { 6, 1, results };
	uint8_t *frame;

	(void)state;
	/* v1 as librdkafka sends it: every config of topic t, with synonyms. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x20, 0x00, 0x01, PI32(9), 0x00, 0x01, 'c',
					     PI32(1), 0x02, 0x00, 0x01, 't', PI32(-1), 0x01),
			       dc_enc, dc_of, &req);
	assert_int_equal(d->resources[0].resource_type, PROTO_RESOURCE_TOPIC);
	assert_int_equal(d->resources[0].n_configuration_keys, -1);
	assert_true(d->include_synonyms);
	proto_req_free(&req);
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x20, 0x00, 0x04, PI32(9), 0x00, 0x01, 'c', 0x00,
					     0x02, 0x02, 0x02, 't', 0x02, 0x02, 'k', 0x00, 0x00,
					     0x01, 0x00),
			       dc_enc, dc_of, &req);
	assert_true(kstr_eq(d->resources[0].configuration_keys[0], "k"));
	assert_false(d->include_synonyms);
	assert_true(d->include_documentation);
	proto_req_free(&req);
	/* v0: is_default instead of a source. */
	protofx_same_bytes(dc_dec, dc_renc, dc_free,
			   PROTOFX_BYTES(PI32(0), PI32(1), 0x00, 0x00, 0xff, 0xff, 0x02, 0x00, 0x01,
					 't', PI32(1), 0x00, 0x01, 'k', 0x00, 0x01, 'v', 0x00, 0x01,
					 0x00),
			   0, &resp);
	assert_true(resp.results[0].configs[0].is_default);
	assert_int_equal(resp.results[0].configs[0].config_source, -1);
	proto_describe_configs_resp_free(&resp);
	/* v4: flexible, synonyms, type and documentation. */
	protofx_same_bytes(dc_dec, dc_renc, dc_free,
			   PROTOFX_BYTES(PI32(0), 0x02, 0x00, 0x00, 0x00, 0x02, 0x02, 't', 0x02,
					 0x02, 'k', 0x02, 'v', 0x00, 0x05, 0x00, 0x02, 0x02, 'k',
					 0x02, 'v', 0x05, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00),
			   4, &resp);
	assert_int_equal(resp.results[0].configs[0].n_synonyms, 1);
	assert_int_equal(resp.results[0].configs[0].synonyms[0].source, 5);
	assert_int_equal(resp.results[0].configs[0].config_type, 3);
	assert_null(resp.results[0].configs[0].documentation.ptr);
	proto_describe_configs_resp_free(&resp);

	for (int16_t v = 0; v <= 4; v++) {
		protofx_req_round(PROTO_API_DESCRIBE_CONFIGS, v, dc_enc, dc_of, &in, &req, &frame);
		assert_int_equal(d->resources[0].n_configuration_keys, 2);
		assert_int_equal(d->resources[1].n_configuration_keys, -1);
		assert_int_equal(d->include_synonyms, v >= 1);
		assert_int_equal(d->include_documentation, v >= 3);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(dc_dec, dc_renc, dc_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, 6);
		assert_int_equal(resp.results[0].configs[0].is_default, v == 0);
		assert_int_equal(resp.results[0].configs[0].config_source, v >= 1 ? 5 : -1);
		assert_int_equal(resp.results[0].configs[0].n_synonyms, v >= 1 ? 1 : 0);
		assert_true(v >= 3 ? kstr_eq(resp.results[0].configs[0].documentation, "doc")
				   : !resp.results[0].configs[0].documentation.ptr);
		assert_null(resp.results[0].configs[1].value.ptr);
		assert_true(resp.results[0].configs[1].is_sensitive);
		proto_describe_configs_resp_free(&resp);
		free(frame);
	}
}

static void test_alter_configs(void **state)
{
	struct proto_req req;
	struct proto_alter_configs_req *a = &req.u.alter_configs;
	struct proto_alter_configs_resp resp;
	struct proto_config cfg[2] = {
		{ kstr_of("retention.ms"), kstr_of("5"), PROTO_CONFIG_SET },
		{ kstr_of("cleanup.policy"), KSTR_NULL, PROTO_CONFIG_DELETE },
	};
	struct proto_alter_configs_resource res[1] = { { PROTO_RESOURCE_TOPIC, kstr_of("t"), 2,
							 cfg } };
	struct proto_alter_configs_req in = { 1, res, true };
	struct proto_resource_result rr[1] = { { PROTO_ERR_INVALID_CONFIG, kstr_of("bad"), 2,
						 kstr_of("t") } };
	struct proto_alter_configs_resp rin = { 1, 1, rr };
	uint8_t *frame;

	(void)state;
	/* AlterConfigs v1 (kafkajs): the whole set for topic t. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x21, 0x00, 0x01, PI32(9), 0x00, 0x01, 'c',
					     PI32(1), 0x02, 0x00, 0x01, 't', PI32(1), 0x00, 0x01,
					     'k', 0x00, 0x01, 'v', 0x00),
			       ac_enc, ac_of, &req);
	assert_true(kstr_eq(a->resources[0].configs[0].value, "v"));
	assert_false(a->validate_only);
	proto_req_free(&req);
	/* IncrementalAlterConfigs v0: delete k; v1 flexible: set k=v. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2c, 0x00, 0x00, PI32(9), 0x00, 0x01, 'c',
					     PI32(1), 0x02, 0x00, 0x01, 't', PI32(1), 0x00, 0x01,
					     'k', 0x01, 0xff, 0xff, 0x00),
			       iac_enc, ac_of, &req);
	assert_int_equal(a->resources[0].configs[0].config_operation, PROTO_CONFIG_DELETE);
	assert_null(a->resources[0].configs[0].value.ptr);
	proto_req_free(&req);
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2c, 0x00, 0x01, PI32(9), 0x00, 0x01, 'c', 0x00,
					     0x02, 0x02, 0x02, 't', 0x02, 0x02, 'k', 0x00, 0x02,
					     'v', 0x00, 0x00, 0x01, 0x00),
			       iac_enc, ac_of, &req);
	assert_int_equal(a->resources[0].configs[0].config_operation, PROTO_CONFIG_SET);
	assert_true(a->validate_only);
	proto_req_free(&req);
	protofx_same_bytes(
		ac_dec, ac_renc, ac_free,
		PROTOFX_BYTES(PI32(0), PI32(1), 0x00, 0x28, 0xff, 0xff, 0x02, 0x00, 0x01, 't'), 0,
		&resp);
	assert_int_equal(resp.responses[0].error_code, PROTO_ERR_INVALID_CONFIG);
	assert_int_equal(resp.responses[0].resource_type, PROTO_RESOURCE_TOPIC);
	proto_alter_configs_resp_free(&resp);
	protofx_same_bytes(
		iac_dec, iac_renc, ac_free,
		PROTOFX_BYTES(PI32(0), 0x02, 0x00, 0x00, 0x00, 0x02, 0x02, 't', 0x00, 0x00), 1,
		&resp);
	assert_true(kstr_eq(resp.responses[0].resource_name, "t"));
	proto_alter_configs_resp_free(&resp);

	for (int16_t v = 0; v <= 2; v++) {
		protofx_req_round(PROTO_API_ALTER_CONFIGS, v, ac_enc, ac_of, &in, &req, &frame);
		assert_int_equal(a->resources[0].n_configs, 2);
		/* AlterConfigs carries no operation. */
		assert_int_equal(a->resources[0].configs[1].config_operation, 0);
		assert_null(a->resources[0].configs[1].value.ptr);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(ac_dec, ac_renc, ac_free, v, &rin, &resp, &frame);
		assert_true(kstr_eq(resp.responses[0].error_message, "bad"));
		proto_alter_configs_resp_free(&resp);
		free(frame);
		if (v > 1)
			continue;
		protofx_req_round(PROTO_API_INCREMENTAL_ALTER_CONFIGS, v, iac_enc, ac_of, &in, &req,
				  &frame);
		assert_int_equal(a->resources[0].configs[1].config_operation, PROTO_CONFIG_DELETE);
		assert_true(a->validate_only);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(iac_dec, iac_renc, ac_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, 1);
		proto_alter_configs_resp_free(&resp);
		free(frame);
	}
}

/* ---- caps ---- */

static void test_admin_caps(void **state)
{
	struct proto_config *cfg = calloc(PROTO_MAX_CONFIGS + 1, sizeof(*cfg));
	struct proto_alter_configs_resource res = { PROTO_RESOURCE_TOPIC, kstr_of("t"),
						    PROTO_MAX_CONFIGS + 1, cfg };
	struct proto_alter_configs_req in = { 1, &res, false };
	int32_t *ids = calloc(PROTO_MAX_BROKERS + 1, sizeof(*ids));
	struct proto_replica_assignment as = { 0, PROTO_MAX_BROKERS + 1, ids };
	struct proto_creatable_topic top = { kstr_of("t"), 1, 1, 1, &as, 0, NULL };
	struct proto_create_topics_req cin = { 1, &top, 1, false };
	struct proto_req req;
	uint8_t *buf;
	size_t len;

	(void)state;
	for (int i = 0; i <= PROTO_MAX_CONFIGS; i++)
		cfg[i] = (struct proto_config){ kstr_of("k"), kstr_of("v"), 0 };
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_ALTER_CONFIGS, 1, 1, KSTR_NULL },
			       ac_enc, &in, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
	free(buf);
	res.n_configs = PROTO_MAX_CONFIGS;
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_ALTER_CONFIGS, 1, 1, KSTR_NULL },
			       ac_enc, &in, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), 0);
	proto_req_free(&req);
	free(buf);
	/* A replica assignment over the broker cap. */
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_CREATE_TOPICS, 5, 1, KSTR_NULL },
			       ct_enc, &cin, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
	free(buf);
	as.n_broker_ids = PROTO_MAX_BROKERS;
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_CREATE_TOPICS, 5, 1, KSTR_NULL },
			       ct_enc, &cin, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), 0);
	proto_req_free(&req);
	free(buf);
	/* Versions outside the table. */
	assert_int_equal(
		proto_req_decode(PROTOFX_BYTES(0x00, 0x2c, 0x00, 0x02, PI32(1), 0xff, 0xff, 0x00),
				 &req),
		-EOPNOTSUPP);
	assert_int_equal(
		proto_req_decode(PROTOFX_BYTES(0x00, 0x13, 0x00, 0x08, PI32(1), 0xff, 0xff, 0x00),
				 &req),
		-EOPNOTSUPP);
	free(ids);
	free(cfg);
}

/* ---- ElectLeaders, DescribeCluster, DescribeLogDirs ---- */

static int el_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_elect_req_encode(w, v, b);
}
static const void *el_of(const struct proto_req *r)
{
	return &r->u.elect;
}
static int dcl_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_describe_cluster_req_encode(w, v, b);
}
static const void *dcl_of(const struct proto_req *r)
{
	return &r->u.describe_cluster;
}
static int ld_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_describe_log_dirs_req_encode(w, v, b);
}
static const void *ld_of(const struct proto_req *r)
{
	return &r->u.describe_log_dirs;
}
PROTOFX_RESP_CODEC(el, elect)
PROTOFX_RESP_CODEC(dcl, describe_cluster)
PROTOFX_RESP_CODEC(ld, describe_log_dirs)

/* Each at every version: a round trip giving back the same bytes, every
 * truncation refused; ElectLeaders v1 as kafka_raw.py writes it by hand
 * from the schema, and its null topic list. */
static void test_elect_cluster_log_dirs(void **state)
{
	struct proto_req req;
	const struct proto_elect_req *e = &req.u.elect;
	struct proto_elect_partition eps[2] = { { 0, 0, KSTR_NULL }, { 3, 0, KSTR_NULL } };
	struct proto_elect_topic ets[1] = { { kstr_of("t"), 2, eps } };
	struct proto_elect_req ein = { PROTO_ELECTION_UNCLEAN, 1, ets, 500 };
	struct proto_elect_partition rps[2] = { { 0, PROTO_ERR_NONE, KSTR_NULL },
						{ 3, PROTO_ERR_ELECTION_NOT_NEEDED,
						  kstr_of("no") } };
	struct proto_elect_topic rts[1] = { { kstr_of("t"), 2, rps } };
	struct proto_elect_resp erin = { 0, 0, 1, rts }, eresp;
	struct proto_describe_cluster_req cin = { true, PROTO_ENDPOINT_BROKER };
	struct proto_meta_broker bs[2] = { { 1, kstr_of("h1"), 9092, KSTR_NULL },
					   { 2, kstr_of("h2"), 9093, kstr_of("r") } };
	struct proto_describe_cluster_resp crin = { 0,
						    0,
						    KSTR_NULL,
						    PROTO_ENDPOINT_BROKER,
						    kstr_of("cid"),
						    2,
						    2,
						    bs,
						    INT32_MIN },
					   cresp;
	struct proto_describe_log_dirs_req lin = { 1, ets };
	struct proto_log_dir_partition lps[1] = { { 3, 1234, 0, false } };
	struct proto_log_dir_topic lts[1] = { { kstr_of("t"), 1, lps } };
	struct proto_log_dir_result lrs[1] = { { 0, kstr_of("/d"), 1, lts, 1 << 20, 1 << 19 } };
	struct proto_describe_log_dirs_resp lrin = { 0, 0, 1, lrs }, lresp;
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2b, 0x00, 0x01, PI32(5), 0x00, 0x01, 'c', 0x00,
					     PI32(1), 0x00, 0x01, 't', PI32(1), PI32(0),
					     PI32(30000)),
			       el_enc, el_of, &req);
	assert_int_equal(e->election_type, PROTO_ELECTION_PREFERRED);
	assert_int_equal(e->topics[0].n_partitions, 1);
	assert_int_equal(e->timeout_ms, 30000);
	proto_req_free(&req);
	/* v2, flexible: the null list (every partition). */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2b, 0x00, 0x02, PI32(5), 0x00, 0x01, 'c', 0x00,
					     0x01, 0x00, PI32(60000), 0x00),
			       el_enc, el_of, &req);
	assert_int_equal(e->election_type, PROTO_ELECTION_UNCLEAN);
	assert_int_equal(e->n_topics, -1);
	proto_req_free(&req);
	for (int16_t v = 0; v <= 2; v++) {
		protofx_req_round(PROTO_API_ELECT_LEADERS, v, el_enc, el_of, &ein, &req, &frame);
		assert_int_equal(e->election_type,
				 v >= 1 ? PROTO_ELECTION_UNCLEAN : PROTO_ELECTION_PREFERRED);
		assert_int_equal(e->topics[0].partitions[1].partition_id, 3);
		proto_req_free(&req);
		free(frame);
		erin.error_code = v >= 1 ? PROTO_ERR_NOT_CONTROLLER : 0;
		protofx_resp_round(el_dec, el_renc, el_free, v, &erin, &eresp, &frame);
		assert_int_equal(eresp.error_code, erin.error_code);
		assert_true(kstr_eq(eresp.topics[0].partitions[1].error_message, "no"));
		proto_elect_resp_free(&eresp);
		free(frame);
	}
	for (int16_t v = 0; v <= 1; v++) {
		protofx_req_round(PROTO_API_DESCRIBE_CLUSTER, v, dcl_enc, dcl_of, &cin, &req,
				  &frame);
		assert_true(req.u.describe_cluster.include_cluster_authorized_operations);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(dcl_dec, dcl_renc, dcl_free, v, &crin, &cresp, &frame);
		assert_int_equal(cresp.n_brokers, 2);
		assert_true(kstr_eq(cresp.brokers[1].rack, "r"));
		assert_int_equal(cresp.cluster_authorized_operations, INT32_MIN);
		proto_describe_cluster_resp_free(&cresp);
		free(frame);
	}
	for (int16_t v = 0; v <= 4; v++) {
		protofx_req_round(PROTO_API_DESCRIBE_LOG_DIRS, v, ld_enc, ld_of, &lin, &req,
				  &frame);
		assert_int_equal(req.u.describe_log_dirs.topics[0].n_partitions, 2);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(ld_dec, ld_renc, ld_free, v, &lrin, &lresp, &frame);
		assert_int_equal(lresp.results[0].topics[0].partitions[0].partition_size, 1234);
		assert_int_equal(lresp.results[0].total_bytes, v >= 4 ? 1 << 20 : -1);
		proto_describe_log_dirs_resp_free(&lresp);
		free(frame);
	}
}

/* ---- DescribeProducers ---- */

static int dp_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_describe_producers_req_encode(w, v, b);
}
static const void *dp_of(const struct proto_req *r)
{
	return &r->u.describe_producers;
}
PROTOFX_RESP_CODEC(dp, describe_producers)

/* v0 (flexible) both ways, written by hand from Kafka's JSON schemas:
 * the same bytes back, every truncation refused; a partition with one
 * producer and one refused without any. */
static void test_describe_producers(void **state)
{
	struct proto_req req;
	const struct proto_describe_producers_req *d = &req.u.describe_producers;
	struct proto_describe_producers_resp resp;
	/* throttle_time_ms; topics: 1, "t", partitions: 2:
	 *   0: error_code 0, error_message null, active_producers: 1 (id 1000,
	 *      epoch 2, last_sequence 4, last_timestamp, coordinator_epoch -1,
	 *      current_txn_start_offset -1, tags), tags;
	 *   3: NOT_LEADER_OR_FOLLOWER, null, no producers, tags;
	 * the topic's tags, the response's. */
	static const uint8_t body[] = {
		PI32(0),  0x02,     0x02, 't',        0x03,    PI32(0), 0x00,
		0x00,     0x00,     0x02, PI64(1000), PI32(2), PI32(4), PI64(1700000000000),
		PI32(-1), PI64(-1), 0x00, 0x00,       PI32(3), 0x00,    0x06,
		0x00,     0x01,     0x00, 0x00,       0x00
	};

	(void)state;
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x3d, 0x00, 0x00, PI32(5), 0x00, 0x01, 'c', 0x00,
					     0x02, 0x02, 't', 0x03, PI32(0), PI32(3), 0x00, 0x00),
			       dp_enc, dp_of, &req);
	assert_int_equal(req.hdr.api_key, PROTO_API_DESCRIBE_PRODUCERS);
	assert_int_equal(d->n_topics, 1);
	assert_true(kstr_eq(d->topics[0].topic, "t"));
	assert_int_equal(d->topics[0].n_partitions, 2);
	assert_int_equal(d->topics[0].partitions[1].partition_id, 3);
	proto_req_free(&req);

	protofx_same_bytes(dp_dec, dp_renc, dp_free, body, sizeof(body), 0, &resp);
	assert_int_equal(resp.n_topics, 1);
	assert_int_equal(resp.topics[0].n_partitions, 2);
	const struct proto_producers_part *p0 = &resp.topics[0].partitions[0];

	assert_int_equal(p0->error_code, 0);
	assert_null(p0->error_message.ptr);
	assert_int_equal(p0->n_producers, 1);
	assert_int_equal(p0->producers[0].producer_id, 1000);
	assert_int_equal(p0->producers[0].producer_epoch, 2);
	assert_int_equal(p0->producers[0].last_sequence, 4);
	assert_int_equal(p0->producers[0].last_timestamp, 1700000000000LL);
	assert_int_equal(p0->producers[0].coordinator_epoch, -1);
	assert_int_equal(p0->producers[0].current_txn_start_offset, -1);
	assert_int_equal(resp.topics[0].partitions[1].partition_index, 3);
	assert_int_equal(resp.topics[0].partitions[1].error_code, PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	assert_int_equal(resp.topics[0].partitions[1].n_producers, 0);
	proto_describe_producers_resp_free(&resp);

	/* Only v0 exists. */
	struct proto_describe_producers_req none = { 0, NULL };
	struct kbuf_w w;

	kbuf_w_init(&w, 64);
	assert_int_equal(proto_describe_producers_req_encode(&w, 1, &none), -EOPNOTSUPP);
	kbuf_w_free(&w);
}

/* ---- DescribeUserScramCredentials, AlterUserScramCredentials ---- */

static int ds_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_describe_scram_req_encode(w, v, b);
}
static const void *ds_of(const struct proto_req *r)
{
	return &r->u.describe_scram;
}
static int as_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_alter_scram_req_encode(w, v, b);
}
static const void *as_of(const struct proto_req *r)
{
	return &r->u.alter_scram;
}
PROTOFX_RESP_CODEC(ds, describe_scram)
PROTOFX_RESP_CODEC(as, alter_scram)

/* v0 both (flexible): a round trip giving back the same bytes, every
 * truncation refused; the null user list; bytes fields as the schema's
 * COMPACT_BYTES, written by hand from it. */
static void test_scram_users(void **state)
{
	struct proto_req req;
	struct kstr users[2] = { kstr_of("alice"), kstr_of("bob") };
	struct proto_describe_scram_req din = { 2, users };
	struct proto_scram_user_result res[2] = {
		{ kstr_of("alice"), 0, KSTR_NULL, 1, { { PROTO_SCRAM_SHA_256, 8192 } } },
		{ kstr_of("bob"), PROTO_ERR_RESOURCE_NOT_FOUND, kstr_of("none"), 0, { { 0 } } },
	};
	struct proto_describe_scram_resp drin = { 0, 0, KSTR_NULL, 2, res }, dresp;
	struct proto_scram_deletion dels[1] = { { kstr_of("carol"), PROTO_SCRAM_SHA_256 } };
	struct proto_scram_upsertion ups[1] = { { kstr_of("alice"), PROTO_SCRAM_SHA_256, 4096,
						  kstr_of("salt"), kstr_of("pw") } };
	struct proto_alter_scram_req ain = { 1, dels, 1, ups };
	struct proto_alter_scram_result ares[1] = { { kstr_of("carol"), 91, kstr_of("gone") } };
	struct proto_alter_scram_resp arin = { 0, 1, ares }, aresp;
	uint8_t *frame;

	(void)state;
	protofx_req_round(PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, ds_enc, ds_of, &din, &req,
			  &frame);
	assert_int_equal(req.u.describe_scram.n_users, 2);
	assert_true(kstr_eq(req.u.describe_scram.users[1], "bob"));
	proto_req_free(&req);
	free(frame);
	/* null: every user */
	protofx_req_same_bytes(
		PROTOFX_BYTES(0x00, 0x32, 0x00, 0x00, PI32(5), 0x00, 0x01, 'c', 0x00, 0x00, 0x00),
		ds_enc, ds_of, &req);
	assert_int_equal(req.u.describe_scram.n_users, -1);
	proto_req_free(&req);
	protofx_resp_round(ds_dec, ds_renc, ds_free, 0, &drin, &dresp, &frame);
	assert_int_equal(dresp.n_results, 2);
	assert_int_equal(dresp.results[0].infos[0].iterations, 8192);
	assert_int_equal(dresp.results[1].error_code, PROTO_ERR_RESOURCE_NOT_FOUND);
	proto_describe_scram_resp_free(&dresp);
	free(frame);

	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x33, 0x00, 0x00, PI32(5), 0x00, 0x01, 'c', 0x00,
					     0x02, 0x06, 'c', 'a', 'r', 'o', 'l', 0x01, 0x00, 0x02,
					     0x06, 'a', 'l', 'i', 'c', 'e', 0x01, PI32(4096), 0x05,
					     's', 'a', 'l', 't', 0x03, 'p', 'w', 0x00, 0x00),
			       as_enc, as_of, &req);
	assert_int_equal(req.u.alter_scram.n_deletions, 1);
	assert_true(kstr_eq(req.u.alter_scram.upsertions[0].salt, "salt"));
	assert_int_equal(req.u.alter_scram.upsertions[0].salted_password.len, 2);
	proto_req_free(&req);
	protofx_req_round(PROTO_API_ALTER_USER_SCRAM_CREDENTIALS, 0, as_enc, as_of, &ain, &req,
			  &frame);
	assert_int_equal(req.u.alter_scram.upsertions[0].iterations, 4096);
	proto_req_free(&req);
	free(frame);
	protofx_resp_round(as_dec, as_renc, as_free, 0, &arin, &aresp, &frame);
	assert_int_equal(aresp.results[0].error_code, 91);
	assert_true(kstr_eq(aresp.results[0].error_message, "gone"));
	proto_alter_scram_resp_free(&aresp);
	free(frame);
	/* version 1 does not exist */
	assert_int_equal(proto_alter_scram_req_encode(NULL, 1, &ain), -EOPNOTSUPP);
}

/* ---- DescribeAcls, CreateAcls, DeleteAcls ---- */

static int da_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_describe_acls_req_encode(w, v, b);
}
static const void *da_of(const struct proto_req *r)
{
	return &r->u.describe_acls;
}
static int ca_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_create_acls_req_encode(w, v, b);
}
static const void *ca_of(const struct proto_req *r)
{
	return &r->u.create_acls;
}
static int xa_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_delete_acls_req_encode(w, v, b);
}
static const void *xa_of(const struct proto_req *r)
{
	return &r->u.delete_acls;
}
PROTOFX_RESP_CODEC(da, describe_acls)
PROTOFX_RESP_CODEC(ca, create_acls)
PROTOFX_RESP_CODEC(xa, delete_acls)

/* Every version: round trips giving back the same bytes, every
 * truncation refused; DescribeAcls v1 as kafkajs writes it (its
 * pattern type, null filters). */
static void test_acls(void **state)
{
	struct proto_req req;
	struct proto_acl b = { 2, kstr_of("orders"), 3, kstr_of("User:alice"), kstr_of("*"), 3, 3 };
	struct proto_acl f = { 2, KSTR_NULL, 1, KSTR_NULL, KSTR_NULL, 1, 1 };
	struct proto_describe_acls_req din = { f };
	struct proto_create_acls_req cin = { 1, &b };
	struct proto_delete_acls_req xin = { 1, &f };
	/* Two resources, the first with two ACLs: grouped on the wire. */
	struct proto_acl found[3] = {
		b,
		{ 2, kstr_of("orders"), 3, kstr_of("User:bob"), kstr_of("h"), 4, 2 },
		{ 3, kstr_of("g"), 3, kstr_of("User:*"), kstr_of("*"), 2, 3 },
	};
	struct proto_describe_acls_resp drin = { 0, PROTO_ERR_NONE, KSTR_NULL, 3, found }, dresp;
	struct proto_acls_result results[2] = {
		{ PROTO_ERR_SECURITY_DISABLED, kstr_of("no"), 0, NULL },
		{ PROTO_ERR_NONE, KSTR_NULL, 0, NULL },
	};
	struct proto_acls_result_resp rin = { 0, 2, results }, rresp;
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x1d, 0x00, 0x01, PI32(5), 0x00, 0x01, 'c', 0x02,
					     0xff, 0xff, 0x01, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01),
			       da_enc, da_of, &req);
	assert_int_equal(req.u.describe_acls.filter.resource_type, 2);
	assert_null(req.u.describe_acls.filter.resource_name.ptr);
	proto_req_free(&req);
	for (int16_t v = 0; v <= 3; v++) {
		protofx_req_round(PROTO_API_DESCRIBE_ACLS, v, da_enc, da_of, &din, &req, &frame);
		assert_int_equal(req.u.describe_acls.filter.pattern_type, v >= 1 ? 1 : 3);
		proto_req_free(&req);
		free(frame);
		protofx_req_round(PROTO_API_CREATE_ACLS, v, ca_enc, ca_of, &cin, &req, &frame);
		assert_true(kstr_eq(req.u.create_acls.creations[0].principal, "User:alice"));
		proto_req_free(&req);
		free(frame);
		protofx_req_round(PROTO_API_DELETE_ACLS, v, xa_enc, xa_of, &xin, &req, &frame);
		assert_int_equal(req.u.delete_acls.n_filters, 1);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(da_dec, da_renc, da_free, v, &drin, &dresp, &frame);
		assert_int_equal(dresp.n_acls, 3);
		assert_true(kstr_eq(dresp.acls[1].principal, "User:bob"));
		assert_true(kstr_eq(dresp.acls[2].resource_name, "g"));
		da_free(&dresp);
		free(frame);
		results[1].n_matching = 0;
		protofx_resp_round(ca_dec, ca_renc, ca_free, v, &rin, &rresp, &frame);
		assert_int_equal(rresp.n_results, 2);
		assert_int_equal(rresp.results[0].error_code, PROTO_ERR_SECURITY_DISABLED);
		ca_free(&rresp);
		free(frame);
		results[1].n_matching = 2;
		results[1].matching = found;
		protofx_resp_round(xa_dec, xa_renc, xa_free, v, &rin, &rresp, &frame);
		assert_true(kstr_eq(rresp.results[0].error_message, "no"));
		assert_int_equal(rresp.results[1].n_matching, 2);
		assert_int_equal(rresp.results[1].matching[1].operation, 4);
		xa_free(&rresp);
		free(frame);
		results[1].matching = NULL;
	}
}

/* ---- AlterPartitionReassignments, ListPartitionReassignments ---- */

static int ar_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_reassign_req_encode(w, PROTO_API_ALTER_PARTITION_REASSIGNMENTS, v, b);
}
static int lr_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_reassign_req_encode(w, PROTO_API_LIST_PARTITION_REASSIGNMENTS, v, b);
}
static const void *rr_of(const struct proto_req *r)
{
	return &r->u.reassign;
}
static int ar_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_reassign_resp_decode(&r, PROTO_API_ALTER_PARTITION_REASSIGNMENTS, v, out);
}
static int ar_renc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_reassign_resp_encode(w, PROTO_API_ALTER_PARTITION_REASSIGNMENTS, v, in);
}
static int lr_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_reassign_resp_decode(&r, PROTO_API_LIST_PARTITION_REASSIGNMENTS, v, out);
}
static int lr_renc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_reassign_resp_encode(w, PROTO_API_LIST_PARTITION_REASSIGNMENTS, v, in);
}
static void rr_free(void *out)
{
	proto_reassign_resp_free(out);
}

/* Kafka's schemas, flexible v0: the Alter request as kafkajs and
 * kafka_raw.py write it (a target, and a null one: the cancel), and the
 * List request's null topics, byte for byte; both responses round trip,
 * every truncation refused. */
static void test_reassign(void **state)
{
	struct proto_req req;
	const struct proto_reassign_req *q = &req.u.reassign;
	int32_t rs[] = { 2, 3, 1 }, ad[] = { 3 }, rm[] = { 1 };
	struct proto_reassign_partition aps[2] = {
		{ .partition_index = 0, .error_code = PROTO_ERR_NONE, .error_message = KSTR_NULL },
		{ .partition_index = 1,
		  .error_code = PROTO_ERR_INVALID_REPLICA_ASSIGNMENT,
		  .error_message = kstr_of("no") },
	};
	struct proto_reassign_topic ats[1] = { { kstr_of("t"), 2, aps } };
	struct proto_reassign_resp ain = { 0, 0, KSTR_NULL, 1, ats }, aout;
	struct proto_reassign_partition lps[1] = { { .partition_index = 4,
						     .n_replicas = 3,
						     .replicas = rs,
						     .n_adding = 1,
						     .adding = ad,
						     .n_removing = 1,
						     .removing = rm } };
	struct proto_reassign_topic lts[1] = { { kstr_of("t"), 1, lps } };
	struct proto_reassign_resp lin = { 0, 0, KSTR_NULL, 1, lts }, lout;
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2d, 0x00, 0x00, PI32(5), 0x00, 0x01, 'c', 0x00,
					     PI32(30000), 0x02, 0x02, 't', 0x03, PI32(0), 0x03,
					     PI32(2), PI32(3), 0x00, PI32(1), 0x00, 0x00, 0x00,
					     0x00),
			       ar_enc, rr_of, &req);
	assert_int_equal(q->timeout_ms, 30000);
	assert_int_equal(q->topics[0].n_partitions, 2);
	assert_int_equal(q->topics[0].partitions[0].n_replicas, 2);
	assert_int_equal(q->topics[0].partitions[0].replicas[1], 3);
	assert_int_equal(q->topics[0].partitions[1].n_replicas, -1); /* cancel */
	proto_req_free(&req);
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2e, 0x00, 0x00, PI32(6), 0x00, 0x01, 'c', 0x00,
					     PI32(1000), 0x00, 0x00),
			       lr_enc, rr_of, &req);
	assert_int_equal(q->n_topics, -1);
	proto_req_free(&req);
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2e, 0x00, 0x00, PI32(7), 0x00, 0x01, 'c', 0x00,
					     PI32(1000), 0x02, 0x02, 't', 0x02, PI32(4), 0x00,
					     0x00),
			       lr_enc, rr_of, &req);
	assert_int_equal(q->topics[0].partitions[0].partition_index, 4);
	proto_req_free(&req);

	protofx_resp_round(ar_dec, ar_renc, rr_free, 0, &ain, &aout, &frame);
	assert_int_equal(aout.topics[0].partitions[1].error_code,
			 PROTO_ERR_INVALID_REPLICA_ASSIGNMENT);
	assert_true(kstr_eq(aout.topics[0].partitions[1].error_message, "no"));
	proto_reassign_resp_free(&aout);
	free(frame);
	protofx_resp_round(lr_dec, lr_renc, rr_free, 0, &lin, &lout, &frame);
	assert_int_equal(lout.topics[0].partitions[0].n_replicas, 3);
	assert_int_equal(lout.topics[0].partitions[0].replicas[2], 1);
	assert_int_equal(lout.topics[0].partitions[0].adding[0], 3);
	assert_int_equal(lout.topics[0].partitions[0].removing[0], 1);
	proto_reassign_resp_free(&lout);
	free(frame);
	/* Only v0 exists. */
	assert_false(proto_api_supported(PROTO_API_ALTER_PARTITION_REASSIGNMENTS, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_topics),
		cmocka_unit_test(test_delete_topics_create_partitions),
		cmocka_unit_test(test_describe_configs),
		cmocka_unit_test(test_alter_configs),
		cmocka_unit_test(test_admin_caps),
		cmocka_unit_test(test_elect_cluster_log_dirs),
		cmocka_unit_test(test_describe_producers),
		cmocka_unit_test(test_scram_users),
		cmocka_unit_test(test_acls),
		cmocka_unit_test(test_reassign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
