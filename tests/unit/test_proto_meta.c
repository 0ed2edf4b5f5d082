/*
 * test_proto_meta.c — Metadata (repl/proto_meta.c): requests and responses
 * hand-built from the JSON schemas at v0, v4 (librdkafka 2.0's choice) and
 * the flexible v12, "every topic" as n_topics -1 at every version, round
 * trips of every version to the same bytes, every truncation refused, and
 * the caps on brokers and replica lists.
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

static int req_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_meta_req_encode(w, v, b);
}
static const void *req_of(const struct proto_req *r)
{
	return &r->u.meta;
}

/* v0: an empty array asks for every topic. */
static const uint8_t meta_v0_all[] = { 0x00, 0x03, 0x00, 0x00, PI32(1), 0xff, 0xff, PI32(0) };
/* v4 as librdkafka 2.0 sends it: two topics, no auto-creation. */
static const uint8_t meta_v4[] = {
	0x00, 0x03, 0x00,    0x04, PI32(2), 0x00, 0x07, 'r',  'd', 'k', 'a',  'f',
	'k',  'a',  PI32(2), 0x00, 0x01,    'a',  0x00, 0x02, 'b', 'c', 0x00,
};
/* v12: flexible; one topic asked by id (null name), one by name. */
static const uint8_t meta_v12[] = {
	0x00, 0x03, 0x00, 0x0c, PI32(3), 0x00, 0x01, 'c',  0x00, 0x03, 1,    2,  3,
	4,    5,    6,    7,    8,       9,    10,   11,   12,   13,   14,   15, 16,
	0x00, 0x00, 0,    0,    0,       0,    0,    0,    0,    0,    0,    0,  0,
	0,    0,    0,    0,    0,       0x02, 'o',  0x00, 0x01, 0x01, 0x00, /* auto, topic ops, tags */
};

static void test_meta_requests(void **state)
{
	struct proto_req req;
	struct proto_meta_req *m = &req.u.meta;
	struct proto_meta_req_topic tt[2] = { { { 0 }, kstr_of("a") }, { { 9 }, kstr_of("b") } };
	struct proto_meta_req all = { -1, NULL, true, false, false };
	struct proto_meta_req two = { 2, tt, false, true, true };
	struct proto_meta_req none = { 0, NULL, true, false, false };
	struct kbuf_w w;

	(void)state;
	protofx_req_same_bytes(meta_v0_all, sizeof(meta_v0_all), req_enc, req_of, &req);
	assert_int_equal(m->n_topics, -1);
	assert_true(m->allow_auto_topic_creation);
	proto_req_free(&req);
	protofx_req_same_bytes(meta_v4, sizeof(meta_v4), req_enc, req_of, &req);
	assert_int_equal(m->n_topics, 2);
	assert_true(kstr_eq(m->topics[1].name, "bc"));
	assert_false(m->allow_auto_topic_creation);
	proto_req_free(&req);
	protofx_req_same_bytes(meta_v12, sizeof(meta_v12), req_enc, req_of, &req);
	assert_int_equal(m->n_topics, 2);
	assert_int_equal(m->topics[0].topic_id[15], 16);
	assert_null(m->topics[0].name.ptr);
	assert_true(kstr_eq(m->topics[1].name, "o"));
	assert_true(m->include_topic_authorized_operations);
	proto_req_free(&req);

	for (int16_t v = 0; v <= 12; v++) {
		struct proto_req_hdr hdr = { PROTO_API_METADATA, v, v, kstr_of("c") };
		uint8_t *buf;
		size_t len;

		len = protofx_frame_of(&hdr, req_enc, &all, &buf);
		protofx_req_same_bytes(buf, len, req_enc, req_of, &req);
		assert_int_equal(m->n_topics, -1);
		proto_req_free(&req);
		free(buf);
		len = protofx_frame_of(&hdr, req_enc, &two, &buf);
		protofx_req_same_bytes(buf, len, req_enc, req_of, &req);
		assert_int_equal(m->n_topics, 2);
		assert_true(kstr_eq(m->topics[0].name, "a"));
		assert_int_equal(m->topics[1].topic_id[0], v >= 10 ? 9 : 0);
		assert_int_equal(m->allow_auto_topic_creation, v < 4);
		assert_int_equal(m->include_cluster_authorized_operations, v >= 8 && v <= 10);
		assert_int_equal(m->include_topic_authorized_operations, v >= 8);
		proto_req_free(&req);
		free(buf);
		if (v >= 1) {
			len = protofx_frame_of(&hdr, req_enc, &none, &buf);
			assert_int_equal(proto_req_decode(buf, len, &req), 0);
			assert_int_equal(m->n_topics, 0);
			proto_req_free(&req);
			free(buf);
		}
	}
	/* v0 cannot ask for no topic; v1-v9 have no null names. */
	kbuf_w_init(&w, 256);
	assert_int_equal(proto_meta_req_encode(&w, 0, &none), -EINVAL);
	kbuf_w_free(&w);
	assert_int_equal(proto_req_decode(PROTOFX_BYTES(0x00, 0x03, 0x00, 0x09, PI32(3), 0xff, 0xff,
							0x00, 0x02, 0x00, 0x00, 0x01, 0x00, 0x00),
					  &req),
			 -EBADMSG);
}

static int resp_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_meta_resp_decode(&r, v, out);
}

static int resp_enc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_meta_resp_encode(w, v, in);
}

static void resp_free(void *p)
{
	proto_meta_resp_free(p);
}

static void test_meta_responses(void **state)
{
	struct proto_meta_resp resp;
	int32_t reps[3] = { 1, 2, 3 }, off[1] = { 3 };
	struct proto_meta_broker br[2] = {
		{ 1, kstr_of("127.0.0.1"), 9092, kstr_of("r1") },
		{ 2, kstr_of("b2"), 9093, KSTR_NULL },
	};
	struct proto_meta_part parts[2] = {
		{ 0, 0, 1, 5, 3, reps, 2, reps, 1, off },
		{ PROTO_ERR_LEADER_NOT_AVAILABLE, 1, -1, -1, 3, reps, 0, NULL, 0, NULL },
	};
	struct proto_meta_topic tops[2] = {
		{ 0, kstr_of("orders"), { 7, [15] = 8 }, false, 2, parts, INT32_MIN },
		{ 0, kstr_of("__consumer_offsets"), { 0 }, true, 0, NULL, 0x0f },
	};
	struct proto_meta_resp in = { 0, 2, br, kstr_of("mqfs"), 1, 2, tops, 0x3 };

	(void)state;
	/* v0: brokers (id, host, port), topics of (error, name, partitions). */
	protofx_same_bytes(resp_dec, resp_enc, resp_free,
			   PROTOFX_BYTES(PI32(1), PI32(1), 0x00, 0x01, 'h', PI32(9092), PI32(1),
					 0x00, 0x00, 0x00, 0x01, 't', PI32(1), 0x00, 0x00, PI32(0),
					 PI32(1), PI32(1), PI32(1), PI32(1), PI32(1)),
			   0, &resp);
	assert_int_equal(resp.controller_id, -1);
	assert_null(resp.cluster_id.ptr);
	assert_int_equal(resp.topics[0].partitions[0].leader_id, 1);
	assert_int_equal(resp.topics[0].partitions[0].leader_epoch, -1);
	assert_int_equal(resp.topics[0].partitions[0].isr_nodes[0], 1);
	proto_meta_resp_free(&resp);
	/* v12: flexible, ids, null topic name allowed. */
	protofx_same_bytes(resp_dec, resp_enc, resp_free,
			   PROTOFX_BYTES(PI32(0), 0x02, PI32(1), 0x02, 'h', PI32(9092), 0x00, 0x00,
					 0x05, 'm', 'q', 'f', 's', PI32(1), 0x02, 0x00, 0x03,
					 0x00, /* UNKNOWN_TOPIC_ID, null name */
					 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					 0x00, 0x01, PI32(INT32_MIN), 0x00, 0x00),
			   12, &resp);
	assert_true(kstr_eq(resp.cluster_id, "mqfs"));
	assert_int_equal(resp.topics[0].error_code, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_null(resp.topics[0].name.ptr);
	assert_int_equal(resp.topics[0].topic_id[0], 1);
	proto_meta_resp_free(&resp);

	for (int16_t v = 0; v <= 12; v++) {
		struct kbuf_w w;
		struct proto_meta_part *p;

		kbuf_w_init(&w, 4096);
		assert_int_equal(proto_meta_resp_encode(&w, v, &in), 0);
		protofx_same_bytes(resp_dec, resp_enc, resp_free, w.buf, w.len, v, &resp);
		assert_int_equal(resp.n_brokers, 2);
		assert_true(v >= 1 ? kstr_eq(resp.brokers[0].rack, "r1")
				   : !resp.brokers[0].rack.ptr);
		assert_true(v >= 2 ? kstr_eq(resp.cluster_id, "mqfs") : !resp.cluster_id.ptr);
		assert_int_equal(resp.controller_id, v >= 1 ? 1 : -1);
		assert_int_equal(resp.topics[1].is_internal, v >= 1);
		assert_int_equal(resp.topics[0].topic_id[15], v >= 10 ? 8 : 0);
		p = &resp.topics[0].partitions[0];
		assert_int_equal(p->leader_epoch, v >= 7 ? 5 : -1);
		assert_int_equal(p->n_replica_nodes, 3);
		assert_int_equal(p->n_isr_nodes, 2);
		assert_int_equal(p->n_offline_replicas, v >= 5 ? 1 : 0);
		assert_int_equal(resp.topics[1].topic_authorized_operations,
				 v >= 8 ? 0x0f : INT32_MIN);
		assert_int_equal(resp.cluster_authorized_operations,
				 v >= 8 && v <= 10 ? 0x3 : INT32_MIN);
		proto_meta_resp_free(&resp);
		kbuf_w_free(&w);
	}
}

static void test_meta_caps(void **state)
{
	struct proto_meta_broker *br = calloc(PROTO_MAX_BROKERS + 1, sizeof(*br));
	int32_t *ids = calloc(PROTO_MAX_BROKERS + 1, sizeof(*ids));
	struct proto_meta_part part = { 0, 0, 1, 0, PROTO_MAX_BROKERS + 1, ids, 0, NULL, 0, NULL };
	struct proto_meta_topic top = { 0, kstr_of("t"), { 0 }, false, 1, &part, 0 };
	struct proto_meta_resp in = { 0, PROTO_MAX_BROKERS + 1, br, KSTR_NULL, 1, 0, NULL, 0 };
	struct proto_meta_resp resp;
	struct kbuf_w w;
	struct kbuf_r r;

	(void)state;
	for (int i = 0; i <= PROTO_MAX_BROKERS; i++)
		br[i] = (struct proto_meta_broker){ i, kstr_of("h"), 1, KSTR_NULL };
	for (int round = 0; round < 2; round++) {
		kbuf_w_init(&w, 1 << 20);
		assert_int_equal(proto_meta_resp_encode(&w, 9, &in), 0);
		kbuf_r_init(&r, w.buf, w.len);
		assert_int_equal(proto_meta_resp_decode(&r, 9, &resp), -E2BIG);
		kbuf_w_free(&w);
		/* Then a replica list over the cap. */
		in.n_brokers = 1;
		in.n_topics = 1;
		in.topics = &top;
	}
	part.n_replica_nodes = PROTO_MAX_BROKERS;
	kbuf_w_init(&w, 1 << 20);
	assert_int_equal(proto_meta_resp_encode(&w, 9, &in), 0);
	kbuf_r_init(&r, w.buf, w.len);
	assert_int_equal(proto_meta_resp_decode(&r, 9, &resp), 0);
	assert_int_equal(resp.topics[0].partitions[0].n_replica_nodes, PROTO_MAX_BROKERS);
	proto_meta_resp_free(&resp);
	kbuf_w_free(&w);
	free(ids);
	free(br);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_meta_requests),
		cmocka_unit_test(test_meta_responses),
		cmocka_unit_test(test_meta_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
