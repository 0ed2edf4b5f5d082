/*
 * test_proto_group.c — FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup and the consumer protocol (repl/proto_group.c): frames
 * hand-built from the JSON schemas at the version librdkafka 2.0 / kafkajs
 * 2.2 send and at a flexible one, every truncation refused, a round trip
 * at every version that must give back the same bytes, the one key / one
 * member forms of the old versions, a newer consumer protocol read as
 * ours, and the caps.
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

static int fc_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_find_coord_req_encode(w, v, b);
}
static int jg_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_join_req_encode(w, v, b);
}
static int sg_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_sync_req_encode(w, v, b);
}
static int hb_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_heartbeat_req_encode(w, v, b);
}
static int lg_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_leave_req_encode(w, v, b);
}
static const void *fc_of(const struct proto_req *r)
{
	return &r->u.find_coord;
}
static const void *jg_of(const struct proto_req *r)
{
	return &r->u.join;
}
static const void *sg_of(const struct proto_req *r)
{
	return &r->u.sync;
}
static const void *hb_of(const struct proto_req *r)
{
	return &r->u.heartbeat;
}
static const void *lg_of(const struct proto_req *r)
{
	return &r->u.leave;
}

/* SyncGroup and Heartbeat responses own nothing: their _free is a no-op. */
static void proto_sync_resp_free(struct proto_sync_resp *resp)
{
	(void)resp;
}
static void proto_heartbeat_resp_free(struct proto_heartbeat_resp *resp)
{
	(void)resp;
}

PROTOFX_RESP_CODEC(fc, find_coord)
PROTOFX_RESP_CODEC(jg, join)
PROTOFX_RESP_CODEC(sg, sync)
PROTOFX_RESP_CODEC(hb, heartbeat)
PROTOFX_RESP_CODEC(lg, leave)

#define BSTR(s) ((struct kstr){ (const char *)(s), (int32_t)sizeof(s) })

/* ---- FindCoordinator ---- */

static void test_find_coordinator(void **state)
{
	struct proto_req req;
	struct proto_find_coord_req *f = &req.u.find_coord;
	struct proto_find_coord_resp resp;
	struct kstr keys[2] = { kstr_of("g1"), kstr_of("g2") };
	struct proto_find_coord_req in = { PROTO_COORD_GROUP, 1, keys };
	struct proto_coordinator co[2] = {
		{ kstr_of("g1"), 1, kstr_of("h1"), 9092, 0, KSTR_NULL },
		{ kstr_of("g2"), -1, kstr_of(""), -1, PROTO_ERR_COORDINATOR_NOT_AVAILABLE,
		  kstr_of("later") },
	};
	struct proto_find_coord_resp rin = { 3, 1, co };
	struct kbuf_w w;
	uint8_t *frame;

	(void)state;
	/* v2 as both clients send it: key, key_type. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0a, 0x00, 0x02, PI32(1), 0x00, 0x01, 'c', 0x00,
					     0x01, 'g', 0x00),
			       fc_enc, fc_of, &req);
	assert_int_equal(f->n_keys, 1);
	assert_true(kstr_eq(f->keys[0], "g"));
	assert_int_equal(f->key_type, PROTO_COORD_GROUP);
	proto_req_free(&req);
	/* v4: flexible, batched keys. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0a, 0x00, 0x04, PI32(1), 0x00, 0x01, 'c', 0x00,
					     0x00, 0x03, 0x02, 'a', 0x02, 'b', 0x00),
			       fc_enc, fc_of, &req);
	assert_int_equal(f->n_keys, 2);
	assert_true(kstr_eq(f->keys[1], "b"));
	proto_req_free(&req);
	/* v0 response: error, node, host, port. */
	protofx_same_bytes(fc_dec, fc_renc, fc_free,
			   PROTOFX_BYTES(0x00, 0x00, PI32(1), 0x00, 0x01, 'h', PI32(9092)), 0,
			   &resp);
	assert_int_equal(resp.n_coordinators, 1);
	assert_null(resp.coordinators[0].key.ptr);
	assert_true(kstr_eq(resp.coordinators[0].host, "h"));
	assert_int_equal(resp.coordinators[0].port, 9092);
	proto_find_coord_resp_free(&resp);
	/* v4: a coordinator per key, each with its error. */
	protofx_same_bytes(fc_dec, fc_renc, fc_free,
			   PROTOFX_BYTES(PI32(0), 0x02, 0x02, 'g', PI32(1), 0x02, 'h', PI32(9092),
					 0x00, 0x0f, 0x00, 0x00, 0x00),
			   4, &resp);
	assert_true(kstr_eq(resp.coordinators[0].key, "g"));
	assert_int_equal(resp.coordinators[0].error_code, PROTO_ERR_COORDINATOR_NOT_AVAILABLE);
	proto_find_coord_resp_free(&resp);

	for (int16_t v = 0; v <= 4; v++) {
		in.n_keys = rin.n_coordinators = v >= 4 ? 2 : 1;
		protofx_req_round(PROTO_API_FIND_COORDINATOR, v, fc_enc, fc_of, &in, &req, &frame);
		assert_int_equal(f->n_keys, in.n_keys);
		assert_true(kstr_eq(f->keys[0], "g1"));
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(fc_dec, fc_renc, fc_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, v >= 1 ? 3 : 0);
		assert_int_equal(resp.coordinators[0].node_id, 1);
		assert_true(v >= 4 ? kstr_eq(resp.coordinators[0].key, "g1")
				   : !resp.coordinators[0].key.ptr);
		if (v >= 4)
			assert_true(kstr_eq(resp.coordinators[1].error_message, "later"));
		proto_find_coord_resp_free(&resp);
		free(frame);
	}
	/* Before v4 one key and one coordinator. */
	in.n_keys = rin.n_coordinators = 2;
	kbuf_w_init(&w, 256);
	assert_int_equal(proto_find_coord_req_encode(&w, 3, &in), -EINVAL);
	assert_int_equal(proto_find_coord_resp_encode(&w, 3, &rin), -EINVAL);
	kbuf_w_free(&w);
}

/* ---- JoinGroup ---- */

/* v5 as librdkafka 2.0 and kafkajs 2.2 send it: a first join. */
static const uint8_t jg_v5[] = {
	0x00, 0x0b,        0x00,         0x05, PI32(2), 0x00,    0x01, 'c',     0x00, 0x01,
	'g',  PI32(10000), PI32(300000), 0x00, 0x00,    0xff,    0xff, 0x00,    0x08, 'c',
	'o',  'n',         's',          'u',  'm',     'e',     'r',  PI32(1), 0x00, 0x05,
	'r',  'a',         'n',          'g',  'e',     PI32(3), 1,    2,       3,
};
/* v9: flexible, with a reason. */
static const uint8_t jg_v9[] = {
	0x00,         0x0b, 0x00, 0x09, PI32(2), 0x00, 0x01, 'c',  0x00, 0x02, 'g', PI32(10000),
	PI32(300000), 0x01, 0x00, 0x09, 'c',     'o',  'n',  's',  'u',  'm',  'e', 'r',
	0x02,         0x06, 'r',  'a',  'n',     'g',  'e',  0x04, 1,    2,    3,   0x00,
	0x04,         'b',  'y',  'e',  0x00,
};

static void test_join_group(void **state)
{
	struct proto_req req;
	struct proto_join_req *j = &req.u.join;
	struct proto_join_resp resp;
	static const uint8_t md[] = { 0, 1, 0, 0, 0, 0 };
	struct proto_join_protocol protos[2] = {
		{ kstr_of("range"), BSTR(md) },
		{ kstr_of("roundrobin"), { (const char *)md, 0 } },
	};
	struct proto_join_req in = {
		kstr_of("grp"),      6000, 30000,  kstr_of("m-1"),    kstr_of("i-1"),
		kstr_of("consumer"), 2,    protos, kstr_of("rejoin"),
	};
	struct proto_join_member mem[2] = {
		{ kstr_of("m-1"), kstr_of("i-1"), BSTR(md) },
		{ kstr_of("m-2"), KSTR_NULL, BSTR(md) },
	};
	struct proto_join_resp rin = {
		7,
		0,
		4,
		kstr_of("consumer"),
		kstr_of("range"),
		kstr_of("m-1"),
		true,
		kstr_of("m-1"),
		2,
		mem,
	};
	struct kbuf_w w;
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(jg_v5, sizeof(jg_v5), jg_enc, jg_of, &req);
	assert_true(kstr_eq(j->group_id, "g"));
	assert_int_equal(j->session_timeout_ms, 10000);
	assert_int_equal(j->rebalance_timeout_ms, 300000);
	assert_true(kstr_eq(j->member_id, ""));
	assert_null(j->group_instance_id.ptr);
	assert_true(kstr_eq(j->protocol_type, "consumer"));
	assert_int_equal(j->protocols[0].metadata.len, 3);
	assert_int_equal(j->protocols[0].metadata.ptr[2], 3);
	assert_null(j->reason.ptr);
	proto_req_free(&req);
	protofx_req_same_bytes(jg_v9, sizeof(jg_v9), jg_enc, jg_of, &req);
	assert_true(kstr_eq(j->protocols[0].name, "range"));
	assert_true(kstr_eq(j->reason, "bye"));
	proto_req_free(&req);

	/* v5 response to the leader: the members' metadata. */
	protofx_same_bytes(jg_dec, jg_renc, jg_free,
			   PROTOFX_BYTES(PI32(0), 0x00, 0x00, PI32(1), 0x00, 0x05, 'r', 'a', 'n',
					 'g', 'e', 0x00, 0x02, 'm', '1', 0x00, 0x02, 'm', '1',
					 PI32(1), 0x00, 0x02, 'm', '1', 0xff, 0xff, PI32(2), 9, 9),
			   5, &resp);
	assert_int_equal(resp.generation_id, 1);
	assert_null(resp.protocol_type.ptr);
	assert_true(kstr_eq(resp.leader, "m1"));
	assert_int_equal(resp.members[0].metadata.len, 2);
	proto_join_resp_free(&resp);
	/* v9: protocol type, skip_assignment, a follower (no members). */
	protofx_same_bytes(jg_dec, jg_renc, jg_free,
			   PROTOFX_BYTES(PI32(0), 0x00, 0x00, PI32(1), 0x09, 'c', 'o', 'n', 's',
					 'u', 'm', 'e', 'r', 0x06, 'r', 'a', 'n', 'g', 'e', 0x03,
					 'm', '1', 0x00, 0x03, 'm', '2', 0x01, 0x00),
			   9, &resp);
	assert_true(kstr_eq(resp.protocol_type, "consumer"));
	assert_true(kstr_eq(resp.member_id, "m2"));
	assert_false(resp.skip_assignment);
	assert_int_equal(resp.n_members, 0);
	proto_join_resp_free(&resp);

	for (int16_t v = 0; v <= 9; v++) {
		protofx_req_round(PROTO_API_JOIN_GROUP, v, jg_enc, jg_of, &in, &req, &frame);
		assert_int_equal(j->rebalance_timeout_ms, v >= 1 ? 30000 : -1);
		assert_true(v >= 5 ? kstr_eq(j->group_instance_id, "i-1")
				   : !j->group_instance_id.ptr);
		assert_int_equal(j->n_protocols, 2);
		assert_int_equal(j->protocols[0].metadata.len, (int)sizeof(md));
		assert_int_equal(j->protocols[1].metadata.len, 0);
		assert_true(v >= 8 ? kstr_eq(j->reason, "rejoin") : !j->reason.ptr);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(jg_dec, jg_renc, jg_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, v >= 2 ? 7 : 0);
		assert_true(v >= 7 ? kstr_eq(resp.protocol_type, "consumer")
				   : !resp.protocol_type.ptr);
		assert_true(kstr_eq(resp.protocol_name, "range"));
		assert_int_equal(resp.skip_assignment, v >= 9);
		assert_int_equal(resp.n_members, 2);
		assert_true(v >= 5 ? kstr_eq(resp.members[0].group_instance_id, "i-1")
				   : !resp.members[0].group_instance_id.ptr);
		proto_join_resp_free(&resp);
		free(frame);
	}
	/* A null protocol name exists from v7 on only. */
	rin.protocol_name = KSTR_NULL;
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_join_resp_encode(&w, 6, &rin), -EINVAL);
	kbuf_w_free(&w);
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_join_resp_encode(&w, 7, &rin), 0);
	kbuf_w_free(&w);
}

/* ---- SyncGroup, Heartbeat, LeaveGroup ---- */

static void test_sync_group(void **state)
{
	struct proto_req req;
	struct proto_sync_req *s = &req.u.sync;
	struct proto_sync_resp resp;
	static const uint8_t asg[] = { 0, 0, 0, 0, 0, 0 };
	struct proto_sync_assignment as[2] = {
		{ kstr_of("m-1"), BSTR(asg) },
		{ kstr_of("m-2"), { (const char *)asg, 0 } },
	};
	struct proto_sync_req in = {
		kstr_of("grp"),
		4,
		kstr_of("m-1"),
		kstr_of("i"),
		kstr_of("consumer"),
		kstr_of("range"),
		2,
		as,
	};
	struct proto_sync_resp rin = { 2, 0, kstr_of("consumer"), kstr_of("range"), BSTR(asg) };
	uint8_t *frame;

	(void)state;
	/* v3: the leader's assignments. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0e, 0x00, 0x03, PI32(3), 0x00, 0x01, 'c', 0x00,
					     0x01, 'g', PI32(1), 0x00, 0x02, 'm', '1', 0xff, 0xff,
					     PI32(1), 0x00, 0x02, 'm', '1', PI32(2), 7, 7),
			       sg_enc, sg_of, &req);
	assert_int_equal(s->generation_id, 1);
	assert_null(s->protocol_name.ptr);
	assert_int_equal(s->assignments[0].assignment.len, 2);
	proto_req_free(&req);
	/* v5: flexible, protocol type and name, a follower (no assignments). */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0e, 0x00, 0x05, PI32(3), 0x00, 0x01, 'c', 0x00,
					     0x02, 'g', PI32(1), 0x03, 'm', '1', 0x00, 0x09, 'c',
					     'o', 'n', 's', 'u', 'm', 'e', 'r', 0x06, 'r', 'a', 'n',
					     'g', 'e', 0x01, 0x00),
			       sg_enc, sg_of, &req);
	assert_true(kstr_eq(s->protocol_name, "range"));
	assert_int_equal(s->n_assignments, 0);
	proto_req_free(&req);
	protofx_same_bytes(sg_dec, sg_renc, sg_free, PROTOFX_BYTES(PI32(0), 0x00, 0x1b, PI32(0)), 3,
			   &resp);
	assert_int_equal(resp.error_code, PROTO_ERR_REBALANCE_IN_PROGRESS);
	assert_int_equal(resp.assignment.len, 0);
	protofx_same_bytes(sg_dec, sg_renc, sg_free,
			   PROTOFX_BYTES(PI32(0), 0x00, 0x00, 0x09, 'c', 'o', 'n', 's', 'u', 'm',
					 'e', 'r', 0x00, 0x03, 1, 2, 0x00),
			   5, &resp);
	assert_true(kstr_eq(resp.protocol_type, "consumer"));
	assert_null(resp.protocol_name.ptr);
	assert_int_equal(resp.assignment.ptr[1], 2);

	for (int16_t v = 0; v <= 5; v++) {
		protofx_req_round(PROTO_API_SYNC_GROUP, v, sg_enc, sg_of, &in, &req, &frame);
		assert_true(v >= 3 ? kstr_eq(s->group_instance_id, "i")
				   : !s->group_instance_id.ptr);
		assert_true(v >= 5 ? kstr_eq(s->protocol_type, "consumer") : !s->protocol_type.ptr);
		assert_int_equal(s->n_assignments, 2);
		assert_int_equal(s->assignments[0].assignment.len, (int)sizeof(asg));
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(sg_dec, sg_renc, sg_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, v >= 1 ? 2 : 0);
		assert_true(v >= 5 ? kstr_eq(resp.protocol_name, "range")
				   : !resp.protocol_name.ptr);
		assert_int_equal(resp.assignment.len, (int)sizeof(asg));
		free(frame);
	}
}

static void test_heartbeat_leave(void **state)
{
	struct proto_req req;
	struct proto_heartbeat_req *h = &req.u.heartbeat;
	struct proto_leave_req *l = &req.u.leave;
	struct proto_heartbeat_resp hresp;
	struct proto_leave_resp lresp;
	struct proto_heartbeat_req hin = { kstr_of("grp"), 4, kstr_of("m-1"), kstr_of("i") };
	struct proto_heartbeat_resp hrin = { 1, PROTO_ERR_REBALANCE_IN_PROGRESS };
	struct proto_leave_member mem[2] = {
		{ kstr_of("m-1"), KSTR_NULL, kstr_of("done"), 0 },
		{ kstr_of("m-2"), kstr_of("i-2"), KSTR_NULL, PROTO_ERR_UNKNOWN_MEMBER_ID },
	};
	struct proto_leave_req lin = { kstr_of("grp"), 1, mem };
	struct proto_leave_resp lrin = { 3, 0, 2, mem };
	struct kbuf_w w;
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0c, 0x00, 0x03, PI32(4), 0x00, 0x01, 'c', 0x00,
					     0x01, 'g', PI32(2), 0x00, 0x02, 'm', '1', 0x00, 0x01,
					     'i'),
			       hb_enc, hb_of, &req);
	assert_int_equal(h->generation_id, 2);
	assert_true(kstr_eq(h->group_instance_id, "i"));
	proto_req_free(&req);
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0c, 0x00, 0x04, PI32(4), 0x00, 0x01, 'c', 0x00,
					     0x02, 'g', PI32(2), 0x03, 'm', '1', 0x00, 0x00),
			       hb_enc, hb_of, &req);
	assert_null(h->group_instance_id.ptr);
	proto_req_free(&req);
	protofx_same_bytes(hb_dec, hb_renc, hb_free, PROTOFX_BYTES(0x00, 0x19), 0, &hresp);
	assert_int_equal(hresp.error_code, PROTO_ERR_UNKNOWN_MEMBER_ID);
	protofx_same_bytes(hb_dec, hb_renc, hb_free, PROTOFX_BYTES(PI32(5), 0x00, 0x00, 0x00), 4,
			   &hresp);
	assert_int_equal(hresp.throttle_time_ms, 5);

	/* LeaveGroup v1 (librdkafka): one member_id. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0d, 0x00, 0x01, PI32(5), 0x00, 0x01, 'c', 0x00,
					     0x01, 'g', 0x00, 0x02, 'm', '1'),
			       lg_enc, lg_of, &req);
	assert_int_equal(l->n_members, 1);
	assert_true(kstr_eq(l->members[0].member_id, "m1"));
	proto_req_free(&req);
	/* v5: members with a reason. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0d, 0x00, 0x05, PI32(5), 0x00, 0x01, 'c', 0x00,
					     0x02, 'g', 0x02, 0x03, 'm', '1', 0x00, 0x04, 'b', 'y',
					     'e', 0x00, 0x00),
			       lg_enc, lg_of, &req);
	assert_true(kstr_eq(l->members[0].reason, "bye"));
	proto_req_free(&req);
	protofx_same_bytes(lg_dec, lg_renc, lg_free,
			   PROTOFX_BYTES(PI32(0), 0x00, 0x00, PI32(1), 0x00, 0x02, 'm', '1', 0xff,
					 0xff, 0x00, 0x19),
			   3, &lresp);
	assert_int_equal(lresp.members[0].error_code, PROTO_ERR_UNKNOWN_MEMBER_ID);
	proto_leave_resp_free(&lresp);

	for (int16_t v = 0; v <= 5; v++) {
		if (v <= 4) {
			protofx_req_round(PROTO_API_HEARTBEAT, v, hb_enc, hb_of, &hin, &req,
					  &frame);
			assert_true(v >= 3 ? kstr_eq(h->group_instance_id, "i")
					   : !h->group_instance_id.ptr);
			proto_req_free(&req);
			free(frame);
			protofx_resp_round(hb_dec, hb_renc, hb_free, v, &hrin, &hresp, &frame);
			assert_int_equal(hresp.throttle_time_ms, v >= 1 ? 1 : 0);
			assert_int_equal(hresp.error_code, PROTO_ERR_REBALANCE_IN_PROGRESS);
			free(frame);
		}
		lin.n_members = v >= 3 ? 2 : 1;
		protofx_req_round(PROTO_API_LEAVE_GROUP, v, lg_enc, lg_of, &lin, &req, &frame);
		assert_int_equal(l->n_members, lin.n_members);
		assert_true(v >= 5 ? kstr_eq(l->members[0].reason, "done")
				   : !l->members[0].reason.ptr);
		if (v >= 3)
			assert_true(kstr_eq(l->members[1].group_instance_id, "i-2"));
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(lg_dec, lg_renc, lg_free, v, &lrin, &lresp, &frame);
		assert_int_equal(lresp.n_members, v >= 3 ? 2 : 0);
		if (v >= 3)
			assert_int_equal(lresp.members[1].error_code, PROTO_ERR_UNKNOWN_MEMBER_ID);
		proto_leave_resp_free(&lresp);
		free(frame);
	}
	lin.n_members = 2;
	kbuf_w_init(&w, 256);
	assert_int_equal(proto_leave_req_encode(&w, 2, &lin), -EINVAL);
	kbuf_w_free(&w);
}

/* ---- consumer protocol ---- */

static int sub_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	(void)v;
	return proto_consumer_sub_decode(b, n, out);
}
static int sub_enc(struct kbuf_w *w, int16_t v, const void *in)
{
	(void)v;
	return proto_consumer_sub_encode(w, in);
}
static void sub_free(void *p)
{
	proto_consumer_sub_free(p);
}
static int asg_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	(void)v;
	return proto_consumer_asg_decode(b, n, out);
}
static int asg_enc(struct kbuf_w *w, int16_t v, const void *in)
{
	(void)v;
	return proto_consumer_asg_encode(w, in);
}
static void asg_free(void *p)
{
	proto_consumer_asg_free(p);
}

static void test_consumer_protocol(void **state)
{
	struct proto_consumer_sub sub;
	struct proto_consumer_asg asg;
	int32_t p01[2] = { 0, 1 };
	struct kstr topics[2] = { kstr_of("a"), kstr_of("bc") };
	struct proto_topic_partitions tps[2] = { { kstr_of("a"), 2, p01 },
						 { kstr_of("bc"), 0, NULL } };
	struct proto_consumer_sub sin = { 0, 2, topics, kstr_of("ud"), 2, tps, 9, kstr_of("r1") };
	struct proto_consumer_asg ain = { 0, 2, tps, KSTR_NULL };
	static const uint8_t sub_v3_newer[] = {
		0x00, 0x04,    PI32(1), 0x00, 0x01, 't',     PI32(2), 'u',
		'd',  PI32(1), 0x00,    0x01, 't',  PI32(1), PI32(0), PI32(5),
		0x00, 0x02,    'r',     '1',  0xde, 0xad, /* a v4 field we do not know */
	};
	uint8_t v3[sizeof(sub_v3_newer) - 2];
	struct kbuf_w w;
	uint8_t *buf;

	(void)state;
	/* Subscription v0: topics and null user data. */
	protofx_same_bytes(
		sub_dec, sub_enc, sub_free,
		PROTOFX_BYTES(0x00, 0x00, PI32(2), 0x00, 0x01, 'a', 0x00, 0x02, 'b', 'c', PI32(-1)),
		0, &sub);
	assert_int_equal(sub.version, 0);
	assert_int_equal(sub.n_topics, 2);
	assert_true(kstr_eq(sub.topics[1], "bc"));
	assert_null(sub.user_data.ptr);
	assert_int_equal(sub.generation_id, -1);
	proto_consumer_sub_free(&sub);
	/* v3: owned partitions, generation, rack (the bytes below as v3). */
	memcpy(v3, sub_v3_newer, sizeof(v3));
	v3[1] = 3;
	protofx_same_bytes(sub_dec, sub_enc, sub_free, v3, sizeof(v3), 0, &sub);
	assert_int_equal(sub.version, 3);
	proto_consumer_sub_free(&sub);
	/* A newer version: read as v3, its unknown tail ignored. */
	assert_int_equal(proto_consumer_sub_decode(sub_v3_newer, sizeof(sub_v3_newer), &sub), 0);
	assert_int_equal(sub.version, 3);
	assert_int_equal(sub.n_owned_partitions, 1);
	assert_int_equal(sub.owned_partitions[0].partitions[0], 0);
	assert_int_equal(sub.generation_id, 5);
	assert_true(kstr_eq(sub.rack_id, "r1"));
	assert_int_equal(sub.user_data.len, 2);
	proto_consumer_sub_free(&sub);
	/* A negative version is malformed; so is v3 with bytes left over. */
	assert_int_equal(
		proto_consumer_sub_decode(PROTOFX_BYTES(0xff, 0xff, PI32(0), PI32(-1)), &sub),
		-EBADMSG);
	assert_int_equal(
		proto_consumer_sub_decode(PROTOFX_BYTES(0x00, 0x00, PI32(0), PI32(-1), 0x00), &sub),
		-EBADMSG);

	/* Assignment v0: partitions 0 and 1 of t. */
	protofx_same_bytes(asg_dec, asg_enc, asg_free,
			   PROTOFX_BYTES(0x00, 0x00, PI32(1), 0x00, 0x01, 't', PI32(2), PI32(0),
					 PI32(1), PI32(-1)),
			   0, &asg);
	assert_int_equal(asg.n_assigned, 1);
	assert_int_equal(asg.assigned_partitions[0].partitions[1], 1);
	proto_consumer_asg_free(&asg);

	for (int16_t v = 0; v <= 3; v++) {
		sin.version = ain.version = v;
		protofx_resp_round(sub_dec, sub_enc, sub_free, v, &sin, &sub, &buf);
		assert_int_equal(sub.version, v);
		assert_true(kstr_eq(sub.user_data, "ud"));
		assert_int_equal(sub.n_owned_partitions, v >= 1 ? 2 : 0);
		assert_int_equal(sub.generation_id, v >= 2 ? 9 : -1);
		assert_true(v >= 3 ? kstr_eq(sub.rack_id, "r1") : !sub.rack_id.ptr);
		proto_consumer_sub_free(&sub);
		free(buf);
		protofx_resp_round(asg_dec, asg_enc, asg_free, v, &ain, &asg, &buf);
		assert_int_equal(asg.n_assigned, 2);
		assert_int_equal(asg.assigned_partitions[0].n_partitions, 2);
		assert_null(asg.user_data.ptr);
		proto_consumer_asg_free(&asg);
		free(buf);
	}
	sin.version = 4;
	kbuf_w_init(&w, 256);
	assert_int_equal(proto_consumer_sub_encode(&w, &sin), -EOPNOTSUPP);
	kbuf_w_free(&w);
}

/* ---- caps ---- */

static void test_group_caps(void **state)
{
	struct proto_join_protocol *protos = calloc(PROTO_MAX_PROTOCOLS + 1, sizeof(*protos));
	struct proto_join_req jin = {
		kstr_of("g"),
		1,
		1,
		kstr_of(""),
		KSTR_NULL,
		kstr_of("consumer"),
		PROTO_MAX_PROTOCOLS + 1,
		protos,
		KSTR_NULL,
	};
	struct proto_join_member *mem = calloc(PROTO_MAX_MEMBERS + 1, sizeof(*mem));
	struct proto_join_resp rin = {
		0,
		0,
		1,
		KSTR_NULL,
		kstr_of("range"),
		kstr_of("m"),
		false,
		kstr_of("m"),
		PROTO_MAX_MEMBERS + 1,
		mem,
	};
	int32_t *parts = calloc(PROTO_MAX_PARTITIONS + 1, sizeof(*parts));
	struct proto_topic_partitions tps = { kstr_of("t"), PROTO_MAX_PARTITIONS + 1, parts };
	struct proto_consumer_asg ain = { 0, 1, &tps, KSTR_NULL };
	struct proto_consumer_asg asg;
	struct proto_join_resp resp;
	struct proto_req req;
	struct kbuf_w w;
	struct kbuf_r r;
	uint8_t *buf;
	size_t len;

	(void)state;
	for (int i = 0; i <= PROTO_MAX_PROTOCOLS; i++)
		protos[i] = (struct proto_join_protocol){ kstr_of("p"), kstr_of("") };
	for (int i = 0; i <= PROTO_MAX_MEMBERS; i++)
		mem[i] = (struct proto_join_member){ kstr_of("m"), KSTR_NULL, kstr_of("") };
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_JOIN_GROUP, 5, 1, KSTR_NULL },
			       jg_enc, &jin, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
	free(buf);
	jin.n_protocols = PROTO_MAX_PROTOCOLS;
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_JOIN_GROUP, 5, 1, KSTR_NULL },
			       jg_enc, &jin, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), 0);
	proto_req_free(&req);
	free(buf);
	kbuf_w_init(&w, 1 << 20);
	assert_int_equal(proto_join_resp_encode(&w, 6, &rin), 0);
	kbuf_r_init(&r, w.buf, w.len);
	assert_int_equal(proto_join_resp_decode(&r, 6, &resp), -E2BIG);
	kbuf_w_free(&w);
	/* An assignment over the partition cap. */
	kbuf_w_init(&w, 1 << 20);
	assert_int_equal(proto_consumer_asg_encode(&w, &ain), 0);
	assert_int_equal(proto_consumer_asg_decode(w.buf, w.len, &asg), -E2BIG);
	kbuf_w_free(&w);
	tps.n_partitions = PROTO_MAX_PARTITIONS;
	kbuf_w_init(&w, 1 << 20);
	assert_int_equal(proto_consumer_asg_encode(&w, &ain), 0);
	assert_int_equal(proto_consumer_asg_decode(w.buf, w.len, &asg), 0);
	assert_int_equal(asg.assigned_partitions[0].n_partitions, PROTO_MAX_PARTITIONS);
	proto_consumer_asg_free(&asg);
	kbuf_w_free(&w);
	free(parts);
	free(mem);
	free(protos);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_coordinator),  cmocka_unit_test(test_join_group),
		cmocka_unit_test(test_sync_group),        cmocka_unit_test(test_heartbeat_leave),
		cmocka_unit_test(test_consumer_protocol), cmocka_unit_test(test_group_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
