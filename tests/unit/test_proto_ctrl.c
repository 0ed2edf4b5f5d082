/*
 * test_proto_ctrl.c — the controller's APIs (repl/proto_ctrl.c):
 * LeaderAndIsr, StopReplica, UpdateMetadata, ControlledShutdown. Frames
 * hand-built from the JSON schemas' field lists at an old and a flexible
 * version of each, every truncation refused, a round trip at every version
 * that must give back the same bytes, the old flat lists grouped into
 * topics, ControlledShutdown v0's header without client_id, and the caps.
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

static int lisr_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_lisr_req_encode(w, v, b);
}
static int um_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_um_req_encode(w, v, b);
}
static int stop_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_stop_req_encode(w, v, b);
}
static int cs_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_cs_req_encode(w, v, b);
}
static const void *lisr_of(const struct proto_req *r)
{
	return &r->u.lisr;
}
static const void *um_of(const struct proto_req *r)
{
	return &r->u.um;
}
static const void *stop_of(const struct proto_req *r)
{
	return &r->u.stop;
}
static const void *cs_of(const struct proto_req *r)
{
	return &r->u.cs;
}

/* ---- LeaderAndIsr ---- */

/* v1: header v1, the flat list of partition states (topic name in each). */
static const uint8_t
	lisr_v1[] = {
		0x00,    0x04,    0x00,    0x01,     PI32(7), 0x00,
		0x01,    'c',     /* key 4, v1, corr 7, "c" */
		PI32(1), PI32(3), /* controller id, epoch */
		PI32(3),          /* 3 partition states */
		0x00,    0x01,    't',     PI32(0),  PI32(3), PI32(1),
		PI32(5),                             /* t-0: ce 3, leader 1, epoch 5 */
		PI32(2), PI32(1), PI32(2), PI32(10), /* isr [1,2], zk version 10 */
		PI32(2), PI32(1), PI32(2), 0x00,     /* replicas [1,2], is_new false */
		0x00,    0x01,    't',     PI32(1),  PI32(3), PI32(2),
		PI32(6), PI32(1), PI32(2), PI32(11), PI32(2), PI32(2),
		PI32(1), 0x01,    0x00,    0x01,     'u',     PI32(0),
		PI32(3), PI32(1), PI32(0), PI32(1),  PI32(1), PI32(0),
		PI32(1), PI32(1), 0x00,    PI32(2), /* live leaders */
		PI32(1), 0x00,    0x02,    'h',      '1',     PI32(9092),
		PI32(2), 0x00,    0x02,    'h',      '2',     PI32(9093),
	};

/* v6: flexible (header v2), broker epoch, type, topic ids, adding and
 * removing replicas, leader_recovery_state. */
static const uint8_t
	lisr_v6
		[] = {
			0x00,    0x04,     0x00,    0x06,    PI32(8), 0x00,
			0x01,    'c',      0x00,    PI32(1), PI32(3), PI64(77),
			0x01,                   /* ..., broker epoch 77, FULL */
			0x02,    0x02,     't', /* 1 topic "t" */
			1,       2,        3,       4,       5,       6,
			7,       8,        9,       10,      11,      12,
			13,      14,       15,      16,      0x02, /* 1 partition state */
			PI32(0), PI32(3),  PI32(1), PI32(5), 0x03,    PI32(1),
			PI32(2), PI32(10),                   /* isr [1,2], epoch 10 */
			0x04,    PI32(1),  PI32(2), PI32(3), /* replicas [1,2,3] */
			0x02,    PI32(3),  0x01,             /* adding [3], removing [] */
			0x01,    0x01,     0x00,             /* is_new, recovering, tags */
			0x00,                                /* topic tags */
			0x02,    PI32(1),  0x03,    'h',     '1',     PI32(9092),
			0x00, /* live leader 1 */
			0x00,
		};

static void test_lisr_frames(void **state)
{
	struct proto_req req;
	struct proto_lisr_req *l = &req.u.lisr;
	struct proto_part_state *ps;

	(void)state;
	protofx_req_same_bytes(lisr_v1, sizeof(lisr_v1), lisr_enc, lisr_of, &req);
	assert_int_equal(req.hdr.correlation_id, 7);
	assert_int_equal(l->controller_epoch, 3);
	assert_true(l->broker_epoch == -1);
	/* The flat list grouped: t (2 partitions), u (1). */
	assert_int_equal(l->n_topics, 2);
	assert_true(kstr_eq(l->topic_states[0].topic_name, "t"));
	assert_int_equal(l->topic_states[0].n_partitions, 2);
	assert_true(kstr_eq(l->topic_states[1].topic_name, "u"));
	ps = &l->topic_states[0].partition_states[1];
	assert_int_equal(ps->partition_index, 1);
	assert_int_equal(ps->leader, 2);
	assert_int_equal(ps->leader_epoch, 6);
	assert_int_equal(ps->n_isr, 1);
	assert_int_equal(ps->partition_epoch, 11);
	assert_int_equal(ps->replicas[1], 1);
	assert_true(ps->is_new);
	assert_int_equal(l->n_live_leaders, 2);
	assert_true(kstr_eq(l->live_leaders[1].host_name, "h2"));
	assert_int_equal(l->live_leaders[1].port, 9093);
	proto_req_free(&req);

	protofx_req_same_bytes(lisr_v6, sizeof(lisr_v6), lisr_enc, lisr_of, &req);
	assert_true(l->broker_epoch == 77);
	assert_int_equal(l->type, PROTO_LISR_FULL);
	assert_int_equal(l->n_topics, 1);
	assert_int_equal(l->topic_states[0].topic_id[15], 16);
	ps = &l->topic_states[0].partition_states[0];
	assert_int_equal(ps->n_replicas, 3);
	assert_int_equal(ps->n_adding_replicas, 1);
	assert_int_equal(ps->adding_replicas[0], 3);
	assert_int_equal(ps->n_removing_replicas, 0);
	assert_true(ps->is_new);
	assert_int_equal(ps->leader_recovery_state, 1);
	assert_true(kstr_eq(l->live_leaders[0].host_name, "h1"));
	proto_req_free(&req);
}

/* A request with every field set, for the round trips. */
static int32_t ids_a[] = { 1, 2, 3 }, ids_b[] = { 3 }, ids_c[] = { 2 };

static struct proto_part_state full_state(int32_t index)
{
	return (struct proto_part_state){
		.partition_index = index,
		.controller_epoch = 4,
		.leader = 2,
		.leader_epoch = 9 + index,
		.n_isr = 2,
		.isr = ids_a,
		.partition_epoch = 21,
		.n_replicas = 3,
		.replicas = ids_a,
		.n_adding_replicas = 1,
		.adding_replicas = ids_b,
		.n_removing_replicas = 1,
		.removing_replicas = ids_c,
		.is_new = true,
		.leader_recovery_state = 1,
		.n_offline_replicas = 1,
		.offline_replicas = ids_b,
	};
}

static void test_lisr_every_version(void **state)
{
	struct proto_part_state ps[3] = { full_state(0), full_state(1), full_state(0) };
	struct proto_topic_state ts[2] = {
		{ kstr_of("orders"), { 0xaa, [15] = 0xbb }, 2, ps },
		{ kstr_of("x"), { 0 }, 1, ps + 2 },
	};
	struct proto_live_leader ll = { 2, kstr_of("127.0.0.1"), 9092 };
	struct proto_lisr_req in = { 1, true, 5, 1234, PROTO_LISR_FULL, 2, ts, 1, &ll, NULL };

	(void)state;
	for (int16_t v = 0; v <= 7; v++) {
		struct proto_req_hdr hdr = { PROTO_API_LEADER_AND_ISR, v, 100 + v, kstr_of("ctl") };
		struct proto_req req;
		struct proto_part_state *got;
		uint8_t *buf;
		size_t len = protofx_frame_of(&hdr, lisr_enc, &in, &buf);

		protofx_req_same_bytes(buf, len, lisr_enc, lisr_of, &req);
		assert_int_equal(req.u.lisr.n_topics, 2);
		assert_int_equal(req.u.lisr.topic_states[0].n_partitions, 2);
		assert_true(kstr_eq(req.u.lisr.topic_states[1].topic_name, "x"));
		assert_int_equal(req.u.lisr.topic_states[0].topic_id[0], v >= 5 ? 0xaa : 0);
		assert_int_equal(req.u.lisr.is_kraft_controller, v >= 7);
		assert_true(req.u.lisr.broker_epoch == (v >= 2 ? 1234 : -1));
		assert_int_equal(req.u.lisr.type, v >= 5 ? PROTO_LISR_FULL : 0);
		got = &req.u.lisr.topic_states[0].partition_states[1];
		assert_int_equal(got->leader_epoch, 10);
		assert_int_equal(got->n_isr, 2);
		assert_int_equal(got->isr[1], 2);
		assert_int_equal(got->partition_epoch, 21);
		assert_int_equal(got->n_adding_replicas, v >= 3 ? 1 : 0);
		assert_int_equal(got->n_removing_replicas, v >= 3 ? 1 : 0);
		assert_int_equal(got->is_new, v >= 1);
		assert_int_equal(got->leader_recovery_state, v >= 6 ? 1 : 0);
		assert_int_equal(got->n_offline_replicas, 0);
		assert_true(kstr_eq(req.u.lisr.live_leaders[0].host_name, "127.0.0.1"));
		proto_req_free(&req);
		free(buf);
	}
}

static int lisr_resp_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_lisr_resp_decode(&r, v, out);
}

static int lisr_resp_enc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_lisr_resp_encode(w, v, in);
}

static void lisr_resp_free(void *p)
{
	proto_lisr_resp_free(p);
}

static void test_lisr_response(void **state)
{
	struct proto_lisr_resp resp;

	(void)state;
	/* v4: flexible, partition errors with topic names. */
	protofx_same_bytes(lisr_resp_dec, lisr_resp_enc, lisr_resp_free,
			   PROTOFX_BYTES(0x00, 0x00, /* error_code NONE */
					 0x03,       /* 2 partition errors */
					 0x02, 't', PI32(0), 0x00, 0x00, 0x00, 0x02, 't', PI32(1),
					 0x00, 0x06, 0x00, /* NOT_LEADER_OR_FOLLOWER */
					 0x00),
			   4, &resp);
	assert_int_equal(resp.n_partition_errors, 2);
	assert_true(kstr_eq(resp.partition_errors[1].topic_name, "t"));
	assert_int_equal(resp.partition_errors[1].error_code, 6);
	proto_lisr_resp_free(&resp);
	/* v5: topics by id. */
	protofx_same_bytes(lisr_resp_dec, lisr_resp_enc, lisr_resp_free,
			   PROTOFX_BYTES(0x00, 0x0b, /* STALE_CONTROLLER_EPOCH */
					 0x02, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 7, 0x02,
					 PI32(4), 0x00, 0x00, 0x00, 0x00, 0x00),
			   5, &resp);
	assert_int_equal(resp.error_code, PROTO_ERR_STALE_CONTROLLER_EPOCH);
	assert_int_equal(resp.n_topics, 1);
	assert_int_equal(resp.topics[0].topic_id[15], 7);
	assert_int_equal(resp.topics[0].partition_errors[0].partition_index, 4);
	proto_lisr_resp_free(&resp);
	/* v0: not flexible. */
	protofx_same_bytes(lisr_resp_dec, lisr_resp_enc, lisr_resp_free,
			   PROTOFX_BYTES(0x00, 0x00, PI32(1), 0x00, 0x01, 'a', PI32(2), 0x00, 0x03),
			   0, &resp);
	assert_int_equal(resp.partition_errors[0].error_code, 3);
	proto_lisr_resp_free(&resp);
}

/* ---- UpdateMetadata ---- */

/* v0: flat partition states, brokers as (id, host, port). */
static const uint8_t um_v0[] = {
	0x00,    0x06,    0x00,    0x00,    PI32(9), 0xff,       0xff, /* key 6, v0, null client */
	PI32(1), PI32(2), PI32(1),                                     /* 1 partition state */
	0x00,    0x01,    't',     PI32(0), PI32(2), PI32(1),    PI32(4),
	PI32(1), PI32(1), PI32(3), PI32(1), PI32(1),             /* isr [1], zk 3, replicas [1] */
	PI32(1), PI32(1), 0x00,    0x01,    'h',     PI32(9092), /* broker 1 h:9092 */
};

/* v8: flexible, topic ids, endpoints with listener, rack, type as tag 0. */
static const uint8_t um_v8[] = {
	0x00,       0x06,    0x00,    0x08,    PI32(10), 0x00,    0x01,    'c',
	0x00,       PI32(1), 0x00,    PI32(2), PI64(-1), /* not kraft, epoch 2, -1 */
	0x02,       0x02,    't',     0,       0,        0,       0,       0,
	0,          0,       0,       0,       0,        0,       0,       0,
	0,          0,       5,       0x02,    PI32(0),  PI32(2), PI32(1), PI32(4),
	0x02,       PI32(1), PI32(3), 0x03,    PI32(1),  PI32(2), /* isr [1], zk 3, replicas [1,2] */
	0x02,       PI32(2), 0x00,                                /* offline [2] */
	0x00,       0x02,                                         /* 1 live broker */
	PI32(1),    0x02,                                         /* id 1, 1 endpoint */
	PI32(9092), 0x02,    'h',     0x0a,    'P',      'L',     'A',     'I',
	'N',        'T',     'E',     'X',     'T',      0x00,    0x00,    0x00,
	0x03,       'r',     '1',     0x00, /* rack "r1" */
	0x01,       0x00,    0x01,    0x01, /* tag 0 type = 1 */
};

static void test_um_frames(void **state)
{
	struct proto_req req;
	struct proto_um_req *u = &req.u.um;

	(void)state;
	protofx_req_same_bytes(um_v0, sizeof(um_v0), um_enc, um_of, &req);
	assert_null(req.hdr.client_id.ptr);
	assert_int_equal(u->n_topics, 1);
	assert_int_equal(u->topic_states[0].partition_states[0].partition_epoch, 3);
	assert_int_equal(u->n_live_brokers, 1);
	assert_int_equal(u->live_brokers[0].n_endpoints, 1);
	assert_true(kstr_eq(u->live_brokers[0].endpoints[0].host, "h"));
	assert_int_equal(u->live_brokers[0].endpoints[0].port, 9092);
	assert_null(u->live_brokers[0].rack.ptr);
	proto_req_free(&req);

	protofx_req_same_bytes(um_v8, sizeof(um_v8), um_enc, um_of, &req);
	assert_int_equal(u->type, 1);
	assert_int_equal(u->topic_states[0].topic_id[15], 5);
	assert_int_equal(u->topic_states[0].partition_states[0].n_offline_replicas, 1);
	assert_int_equal(u->topic_states[0].partition_states[0].offline_replicas[0], 2);
	assert_true(kstr_eq(u->live_brokers[0].endpoints[0].listener, "PLAINTEXT"));
	assert_true(kstr_eq(u->live_brokers[0].rack, "r1"));
	proto_req_free(&req);
}

static void test_um_every_version(void **state)
{
	struct proto_part_state ps[2] = { full_state(0), full_state(1) };
	struct proto_topic_state ts = { kstr_of("t"), { 1, [15] = 2 }, 2, ps };
	struct proto_um_endpoint ep[2] = {
		{ 9092, kstr_of("a"), kstr_of("PLAINTEXT"), 0 },
		{ 9093, kstr_of("a"), kstr_of("SASL"), 2 },
	};
	struct proto_um_broker br[2] = { { 1, 1, ep, kstr_of("r") }, { 2, 2, ep, KSTR_NULL } };
	struct proto_um_req in = { 1, true, 1, 3, 55, 1, &ts, 2, br, NULL };
	struct kbuf_w w;

	(void)state;
	for (int16_t v = 0; v <= 8; v++) {
		struct proto_req_hdr hdr = { PROTO_API_UPDATE_METADATA, v, v, kstr_of("c") };
		struct proto_req req;
		struct proto_part_state *got;
		uint8_t *buf;
		size_t len;

		in.n_live_brokers = v == 0 ? 1 : 2;
		len = protofx_frame_of(&hdr, um_enc, &in, &buf);
		protofx_req_same_bytes(buf, len, um_enc, um_of, &req);
		got = &req.u.um.topic_states[0].partition_states[1];
		assert_int_equal(got->leader_epoch, 10);
		assert_int_equal(got->n_offline_replicas, v >= 4 ? 1 : 0);
		assert_int_equal(got->n_adding_replicas, 0);
		assert_false(got->is_new);
		assert_int_equal(req.u.um.type, v >= 8 ? 1 : 0);
		assert_true(req.u.um.broker_epoch == (v >= 5 ? 55 : -1));
		assert_int_equal(req.u.um.topic_states[0].topic_id[0], v >= 7 ? 1 : 0);
		assert_int_equal(req.u.um.n_live_brokers, in.n_live_brokers);
		if (v >= 1) {
			struct proto_um_endpoint *e = &req.u.um.live_brokers[1].endpoints[1];

			assert_int_equal(e->security_protocol, 2);
			assert_true(kstr_eq(e->listener, v >= 3 ? "SASL" : ""));
			assert_true(v >= 2 ? kstr_eq(req.u.um.live_brokers[0].rack, "r")
					   : !req.u.um.live_brokers[0].rack.ptr);
		}
		proto_req_free(&req);
		free(buf);
	}
	/* v0 carries exactly one endpoint per broker. */
	in.n_live_brokers = 2;
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_um_req_encode(&w, 0, &in), -EINVAL);
	kbuf_w_free(&w);
}

static int um_resp_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_um_resp_decode(&r, v, out);
}

static int um_resp_enc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_um_resp_encode(w, v, in);
}

static void no_free(void *p)
{
	(void)p;
}

static void test_um_response(void **state)
{
	struct proto_um_resp resp;

	(void)state;
	protofx_same_bytes(um_resp_dec, um_resp_enc, no_free, PROTOFX_BYTES(0x00, 0x4d), 5, &resp);
	assert_int_equal(resp.error_code, PROTO_ERR_STALE_BROKER_EPOCH);
	protofx_same_bytes(um_resp_dec, um_resp_enc, no_free, PROTOFX_BYTES(0x00, 0x00, 0x00), 6,
			   &resp);
	assert_int_equal(resp.error_code, 0);
}

/* ---- StopReplica ---- */

static const uint8_t stop_v0[] = {
	0x00,    0x05,    0x00,    0x00,    PI32(11), 0x00,
	0x01,    'c',     PI32(1), PI32(2), 0x01, /* delete_partitions */
	PI32(3),                                  /* t-0, t-2, u-1 */
	0x00,    0x01,    't',     PI32(0), 0x00,     0x01,
	't',     PI32(2), 0x00,    0x01,    'u',      PI32(1),
};

static const uint8_t stop_v3[] = {
	0x00,    0x05,     0x00,     0x03, PI32(12), 0x00, 0x01, 'c', 0x00,
	PI32(1), PI32(2),  PI64(88), 0x02, 0x02,     't',  0x03, /* topic t, 2 partitions */
	PI32(0), PI32(4),  0x01,     0x00,                       /* 0: epoch 4, delete */
	PI32(1), PI32(-2), 0x00,     0x00,                       /* 1: epoch -2, keep */
	0x00,    0x00,
};

static void test_stop_replica(void **state)
{
	struct proto_req req;
	struct proto_stop_req *s = &req.u.stop;
	struct proto_stop_part ps[3] = { { 0, 7, true }, { 1, 8, false }, { 5, 9, true } };
	struct proto_stop_topic tt[2] = { { kstr_of("a"), 2, ps }, { kstr_of("b"), 1, ps + 2 } };
	struct proto_stop_req in = { 1, true, 2, 3, true, 2, tt, NULL };

	(void)state;
	protofx_req_same_bytes(stop_v0, sizeof(stop_v0), stop_enc, stop_of, &req);
	assert_true(s->delete_partitions);
	assert_int_equal(s->n_topics, 2);
	assert_int_equal(s->topics[0].n_partitions, 2);
	assert_int_equal(s->topics[0].partition_states[1].partition_index, 2);
	assert_int_equal(s->topics[0].partition_states[1].leader_epoch, -1);
	assert_true(s->topics[1].partition_states[0].delete_partition);
	proto_req_free(&req);

	protofx_req_same_bytes(stop_v3, sizeof(stop_v3), stop_enc, stop_of, &req);
	assert_true(s->broker_epoch == 88);
	assert_false(s->delete_partitions);
	assert_int_equal(s->topics[0].partition_states[0].leader_epoch, 4);
	assert_true(s->topics[0].partition_states[0].delete_partition);
	assert_int_equal(s->topics[0].partition_states[1].leader_epoch, -2);
	assert_false(s->topics[0].partition_states[1].delete_partition);
	proto_req_free(&req);

	for (int16_t v = 0; v <= 4; v++) {
		struct proto_req_hdr hdr = { PROTO_API_STOP_REPLICA, v, v, kstr_of("c") };
		uint8_t *buf;
		size_t len = protofx_frame_of(&hdr, stop_enc, &in, &buf);

		protofx_req_same_bytes(buf, len, stop_enc, stop_of, &req);
		assert_int_equal(s->n_topics, 2);
		assert_int_equal(s->topics[0].partition_states[1].partition_index, 1);
		/* Before v3 one flag for all, after it per partition. */
		assert_int_equal(s->topics[0].partition_states[1].delete_partition, v < 3);
		assert_int_equal(s->topics[0].partition_states[1].leader_epoch, v >= 3 ? 8 : -1);
		assert_int_equal(s->is_kraft_controller, v >= 4);
		proto_req_free(&req);
		free(buf);
	}
}

static int stop_resp_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_stop_resp_decode(&r, v, out);
}

static int stop_resp_enc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_stop_resp_encode(w, v, in);
}

static void stop_resp_free(void *p)
{
	proto_stop_resp_free(p);
}

static void test_stop_response(void **state)
{
	struct proto_stop_resp resp;

	(void)state;
	protofx_same_bytes(stop_resp_dec, stop_resp_enc, stop_resp_free,
			   PROTOFX_BYTES(0x00, 0x00, PI32(1), 0x00, 0x01, 't', PI32(3), 0x00, 0x38),
			   0, &resp);
	assert_int_equal(resp.partition_errors[0].error_code, PROTO_ERR_KAFKA_STORAGE_ERROR);
	proto_stop_resp_free(&resp);
	protofx_same_bytes(
		stop_resp_dec, stop_resp_enc, stop_resp_free,
		PROTOFX_BYTES(0x00, 0x00, 0x02, 0x02, 't', PI32(3), 0x00, 0x00, 0x00, 0x00), 2,
		&resp);
	assert_int_equal(resp.partition_errors[0].partition_index, 3);
	proto_stop_resp_free(&resp);
}

/* ---- ControlledShutdown ---- */

static void test_controlled_shutdown(void **state)
{
	struct proto_req req;
	struct proto_cs_req in = { 3, 42 };
	struct proto_cs_resp resp;
	struct kbuf_r r;

	(void)state;
	/* v0: request header v0, no client_id. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x07, 0x00, 0x00, PI32(5), PI32(3)), cs_enc,
			       cs_of, &req);
	assert_int_equal(req.u.cs.broker_id, 3);
	assert_true(req.u.cs.broker_epoch == -1);
	assert_null(req.hdr.client_id.ptr);
	proto_req_free(&req);
	assert_int_equal(proto_req_hdr_version(PROTO_API_CONTROLLED_SHUTDOWN, 0), 0);
	/* v3: header v2. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x07, 0x00, 0x03, PI32(6), 0x00, 0x01, 'b', 0x00,
					     PI32(3), PI64(42), 0x00),
			       cs_enc, cs_of, &req);
	assert_true(req.u.cs.broker_epoch == 42);
	assert_true(kstr_eq(req.hdr.client_id, "b"));
	proto_req_free(&req);
	for (int16_t v = 0; v <= 3; v++) {
		struct proto_req_hdr hdr = { PROTO_API_CONTROLLED_SHUTDOWN, v, v, kstr_of("b") };
		uint8_t *buf;
		size_t len = protofx_frame_of(&hdr, cs_enc, &in, &buf);

		protofx_req_same_bytes(buf, len, cs_enc, cs_of, &req);
		assert_true(req.u.cs.broker_epoch == (v >= 2 ? 42 : -1));
		proto_req_free(&req);
		free(buf);
	}

	/* Response v1: two partitions still led; v3 flexible. */
	kbuf_r_init(&r, PROTOFX_BYTES(0x00, 0x00, PI32(2), 0x00, 0x01, 't', PI32(0), 0x00, 0x01,
				      't', PI32(1)));
	assert_int_equal(proto_cs_resp_decode(&r, 1, &resp), 0);
	assert_int_equal(resp.n_remaining, 2);
	assert_int_equal(resp.remaining_partitions[1].partition_index, 1);
	proto_cs_resp_free(&resp);
	kbuf_r_init(&r, PROTOFX_BYTES(0x00, 0x00, 0x02, 0x02, 't', PI32(0), 0x00, 0x00));
	assert_int_equal(proto_cs_resp_decode(&r, 3, &resp), 0);
	assert_true(kstr_eq(resp.remaining_partitions[0].topic_name, "t"));
	proto_cs_resp_free(&resp);
	kbuf_r_init(&r, PROTOFX_BYTES(0x00, 0x00, 0x02, 0x02, 't', PI32(0), 0x00));
	assert_int_equal(proto_cs_resp_decode(&r, 3, &resp), -EBADMSG);
}

/* ---- caps ---- */

static void test_caps(void **state)
{
	int32_t *many = calloc(PROTO_MAX_BROKERS + 1, sizeof(*many));
	struct proto_part_state ps = full_state(0);
	struct proto_part_state *lots = calloc(PROTO_MAX_PARTITIONS / 2 + 1, sizeof(*lots));
	struct proto_topic_state ts[2];
	struct proto_stop_part sp = { 0, -1, false };
	struct proto_stop_topic *st = calloc(PROTO_MAX_TOPICS + 1, sizeof(*st));
	struct proto_lisr_req in = { 1, false, 1, -1, 0, 1, ts, 0, NULL, NULL };
	struct proto_stop_req sin = { 1, false, 1, -1, false, PROTO_MAX_TOPICS + 1, st, NULL };
	struct proto_req_hdr hdr = { PROTO_API_LEADER_AND_ISR, 6, 1, KSTR_NULL };
	struct proto_req req;
	uint8_t *buf;
	size_t len;

	(void)state;
	/* An ISR longer than PROTO_MAX_BROKERS. */
	ps.n_isr = PROTO_MAX_BROKERS + 1;
	ps.isr = many;
	ts[0] = (struct proto_topic_state){ kstr_of("t"), { 0 }, 1, &ps };
	len = protofx_frame_of(&hdr, lisr_enc, &in, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
	free(buf);
	ps.n_isr = PROTO_MAX_BROKERS;
	len = protofx_frame_of(&hdr, lisr_enc, &in, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), 0);
	proto_req_free(&req);
	free(buf);

	/* More than PROTO_MAX_PARTITIONS over two topics, in the grouped and
	 * in the flat form. */
	for (int i = 0; i <= PROTO_MAX_PARTITIONS / 2; i++)
		lots[i] = full_state(i);
	ts[0] = (struct proto_topic_state){
		kstr_of("a"), { 0 }, PROTO_MAX_PARTITIONS / 2 + 1, lots
	};
	ts[1] = (struct proto_topic_state){ kstr_of("b"), { 0 }, PROTO_MAX_PARTITIONS / 2, lots };
	in.n_topics = 2;
	for (int16_t v = 1; v <= 2; v++) {
		hdr.api_version = v;
		len = protofx_frame_of(&hdr, lisr_enc, &in, &buf);
		assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
		free(buf);
	}
	ts[0].n_partitions = PROTO_MAX_PARTITIONS / 2;
	len = protofx_frame_of(&hdr, lisr_enc, &in, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), 0);
	proto_req_free(&req);
	free(buf);

	/* StopReplica v0: more than PROTO_MAX_TOPICS topic names in the flat
	 * list (a partition each) is refused; v1 counts them directly. */
	for (int i = 0; i <= PROTO_MAX_TOPICS; i++)
		st[i] = (struct proto_stop_topic){ kstr_of(i % 2 ? "x" : "y"), 1, &sp };
	for (int16_t v = 0; v <= 1; v++) {
		struct proto_req_hdr sh = { PROTO_API_STOP_REPLICA, v, 1, KSTR_NULL };

		len = protofx_frame_of(&sh, stop_enc, &sin, &buf);
		assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
		free(buf);
	}
	free(st);
	free(lots);
	free(many);
}

/* The API table knows the controller's APIs with Kafka's versions. */
static void test_table(void **state)
{
	(void)state;
	assert_true(proto_api_supported(PROTO_API_LEADER_AND_ISR, 7));
	assert_false(proto_api_supported(PROTO_API_LEADER_AND_ISR, 8));
	assert_true(proto_is_flexible(PROTO_API_LEADER_AND_ISR, 4));
	assert_false(proto_is_flexible(PROTO_API_LEADER_AND_ISR, 3));
	assert_true(proto_is_flexible(PROTO_API_STOP_REPLICA, 2));
	assert_false(proto_is_flexible(PROTO_API_UPDATE_METADATA, 5));
	assert_true(proto_is_flexible(PROTO_API_UPDATE_METADATA, 6));
	assert_false(proto_api_supported(PROTO_API_UPDATE_METADATA, 9));
	assert_true(proto_api_supported(PROTO_API_CONTROLLED_SHUTDOWN, 0));
	assert_int_equal(proto_req_hdr_version(PROTO_API_CONTROLLED_SHUTDOWN, 1), 1);
	assert_int_equal(proto_req_hdr_version(PROTO_API_CONTROLLED_SHUTDOWN, 3), 2);
	assert_string_equal(proto_api_find(PROTO_API_STOP_REPLICA)->name, "StopReplica");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lisr_frames),
		cmocka_unit_test(test_lisr_every_version),
		cmocka_unit_test(test_lisr_response),
		cmocka_unit_test(test_um_frames),
		cmocka_unit_test(test_um_every_version),
		cmocka_unit_test(test_um_response),
		cmocka_unit_test(test_stop_replica),
		cmocka_unit_test(test_stop_response),
		cmocka_unit_test(test_controlled_shutdown),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
