/*
 * test_proto_group_admin.c — DescribeGroups, DeleteGroups and OffsetDelete
 * (repl/proto_group_admin.c): frames hand-built from the JSON schemas at
 * the oldest version and at a flexible one, every truncation refused, a
 * round trip that must give back the same bytes, counts beyond the bytes
 * and the caps refused.
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

static int dg_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_describe_groups_req_encode(w, v, b);
}
static int del_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_delete_groups_req_encode(w, v, b);
}
static const void *dg_of(const struct proto_req *r)
{
	return &r->u.describe_groups;
}
static const void *del_of(const struct proto_req *r)
{
	return &r->u.delete_groups;
}

static int od_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_offset_delete_req_encode(w, v, b);
}
static const void *od_of(const struct proto_req *r)
{
	return &r->u.offset_delete;
}

PROTOFX_RESP_CODEC(dg, describe_groups)
PROTOFX_RESP_CODEC(del, delete_groups)
PROTOFX_RESP_CODEC(od, offset_delete)

static void test_describe_groups(void **state)
{
	struct proto_req req;
	struct proto_describe_groups_req *m = &req.u.describe_groups;
	struct proto_describe_groups_resp resp;
	struct kbuf_r r;

	(void)state;
	/* v0: groups ["g", "t/h"]. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0f, 0x00, 0x00, PI32(7), 0x00, 0x01, 'c',
					     PI32(2), 0x00, 0x01, 'g', 0x00, 0x03, 't', '/', 'h'),
			       dg_enc, dg_of, &req);
	assert_int_equal(m->n_groups, 2);
	assert_true(kstr_eq(m->groups[1], "t/h"));
	proto_req_free(&req);
	/* v5 (flexible): compact forms, include_authorized_operations. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x0f, 0x00, 0x05, PI32(7), 0x00, 0x01, 'c', 0x00,
					     0x02, 0x02, 'g', 0x01, 0x00),
			       dg_enc, dg_of, &req);
	assert_int_equal(m->n_groups, 1);
	assert_true(m->include_authorized_operations);
	proto_req_free(&req);

	/* v0 response: one group, one member. */
	protofx_same_bytes(dg_dec, dg_renc, dg_free,
			   PROTOFX_BYTES(PI32(1), 0x00, 0x00, 0x00, 0x01, 'g', 0x00, 0x05, 'E', 'm',
					 'p', 't', 'y', 0x00, 0x08, 'c', 'o', 'n', 's', 'u', 'm',
					 'e', 'r', 0x00, 0x05, 'r', 'a', 'n', 'g', 'e', PI32(1),
					 0x00, 0x01, 'm', 0x00, 0x04, 'm', 'q', 'f', 's', 0x00,
					 0x00, PI32(0), PI32(1), 'x'),
			   0, &resp);
	assert_int_equal(resp.n_groups, 1);
	assert_true(kstr_eq(resp.groups[0].group_state, "Empty"));
	assert_true(kstr_eq(resp.groups[0].protocol_data, "range"));
	assert_int_equal(resp.groups[0].n_members, 1);
	assert_true(kstr_eq(resp.groups[0].members[0].client_id, "mqfs"));
	assert_int_equal(resp.groups[0].members[0].member_assignment.len, 1);
	proto_describe_groups_resp_free(&resp);
	/* v5: throttle, a null group_instance_id, authorized operations,
	 * tags after each member, group and the response. */
	protofx_same_bytes(dg_dec, dg_renc, dg_free,
			   PROTOFX_BYTES(PI32(3), 0x02, 0x00, 0x45, 0x02, 'g', 0x05, 'D', 'e', 'a',
					 'd', 0x01, 0x01, 0x02, 0x02, 'm', 0x00, 0x01, 0x01, 0x01,
					 0x01, 0x00, PI32(INT32_MIN), 0x00, 0x00),
			   5, &resp);
	assert_int_equal(resp.throttle_time_ms, 3);
	assert_int_equal(resp.groups[0].error_code, PROTO_ERR_GROUP_ID_NOT_FOUND);
	assert_null(resp.groups[0].members[0].group_instance_id.ptr);
	assert_int_equal(resp.groups[0].authorized_operations, INT32_MIN);
	proto_describe_groups_resp_free(&resp);

	/* A member count past the bytes left is malformed. */
	kbuf_r_init(&r,
		    (const uint8_t[]){ PI32(1), 0x00, 0x00, 0x00, 0x01, 'g', 0x00, 0x00, 0x00, 0x00,
				       0x00, 0x00, PI32(1000) },
		    22);
	assert_int_equal(proto_describe_groups_resp_decode(&r, 0, &resp), -EBADMSG);
	/* Versions past 5 are not ours. */
	assert_int_equal(proto_describe_groups_resp_decode(&r, 6, &resp), -EOPNOTSUPP);
}

static void test_delete_groups(void **state)
{
	struct proto_req req;
	struct proto_delete_groups_req *m = &req.u.delete_groups;
	struct proto_delete_groups_resp resp;
	struct proto_deletable_group_result res[2] = {
		{ kstr_of("g"), PROTO_ERR_NONE },
		{ kstr_of("t/h"), PROTO_ERR_NON_EMPTY_GROUP },
	};
	struct proto_delete_groups_resp in = { 9, 2, res };
	struct kbuf_r r;
	struct kbuf_w w;

	(void)state;
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2a, 0x00, 0x00, PI32(7), 0x00, 0x01, 'c',
					     PI32(1), 0x00, 0x01, 'g'),
			       del_enc, del_of, &req);
	assert_int_equal(m->n_groups, 1);
	assert_true(kstr_eq(m->groups_names[0], "g"));
	proto_req_free(&req);
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2a, 0x00, 0x02, PI32(7), 0x00, 0x01, 'c', 0x00,
					     0x03, 0x02, 'g', 0x04, 't', '/', 'h', 0x00),
			       del_enc, del_of, &req);
	assert_int_equal(m->n_groups, 2);
	assert_true(kstr_eq(m->groups_names[1], "t/h"));
	proto_req_free(&req);

	protofx_same_bytes(del_dec, del_renc, del_free,
			   PROTOFX_BYTES(PI32(0), PI32(1), 0x00, 0x01, 'g', 0x00, 0x45), 0, &resp);
	assert_int_equal(resp.results[0].error_code, PROTO_ERR_GROUP_ID_NOT_FOUND);
	proto_delete_groups_resp_free(&resp);
	protofx_same_bytes(del_dec, del_renc, del_free,
			   PROTOFX_BYTES(PI32(0), 0x02, 0x02, 'g', 0x00, 0x44, 0x00, 0x00), 2,
			   &resp);
	assert_int_equal(resp.results[0].error_code, PROTO_ERR_NON_EMPTY_GROUP);
	proto_delete_groups_resp_free(&resp);

	/* What the coordinator encodes, the forwarding broker decodes. */
	kbuf_w_init(&w, 64);
	assert_int_equal(proto_delete_groups_resp_encode(&w, 1, &in), 0);
	kbuf_r_init(&r, w.buf, w.len);
	assert_int_equal(proto_delete_groups_resp_decode(&r, 1, &resp), 0);
	assert_int_equal(resp.throttle_time_ms, 9);
	assert_int_equal(resp.n_results, 2);
	assert_true(kstr_eq(resp.results[1].group_id, "t/h"));
	assert_int_equal(resp.results[1].error_code, PROTO_ERR_NON_EMPTY_GROUP);
	proto_delete_groups_resp_free(&resp);
	kbuf_w_free(&w);

	/* Bytes left over are malformed. */
	kbuf_r_init(&r, (const uint8_t[]){ PI32(0), PI32(0), 0x00 }, 9);
	assert_int_equal(proto_delete_groups_resp_decode(&r, 0, &resp), -EBADMSG);
}

static void test_offset_delete(void **state)
{
	struct proto_req req;
	struct proto_offset_delete_req *m = &req.u.offset_delete;
	struct proto_offset_delete_resp resp;
	struct kbuf_r r;

	(void)state;
	/* v0: group "g", topic "t" partitions [0, 2]. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x2f, 0x00, 0x00, PI32(7), 0x00, 0x01, 'c', 0x00,
					     0x01, 'g', PI32(1), 0x00, 0x01, 't', PI32(2), PI32(0),
					     PI32(2)),
			       od_enc, od_of, &req);
	assert_true(kstr_eq(m->group_id, "g"));
	assert_int_equal(m->n_topics, 1);
	assert_true(kstr_eq(m->topics[0].name, "t"));
	assert_int_equal(m->topics[0].n_partitions, 2);
	assert_int_equal(m->topics[0].partitions[1], 2);
	proto_req_free(&req);

	/* error_code, throttle, topics: "t" partition 1 subscribed (86). */
	protofx_same_bytes(od_dec, od_renc, od_free,
			   PROTOFX_BYTES(0x00, 0x00, PI32(4), PI32(1), 0x00, 0x01, 't', PI32(1),
					 PI32(1), 0x00, 0x56),
			   0, &resp);
	assert_int_equal(resp.throttle_time_ms, 4);
	assert_int_equal(resp.topics[0].partitions[0].partition_index, 1);
	assert_int_equal(resp.topics[0].partitions[0].error_code,
			 PROTO_ERR_GROUP_SUBSCRIBED_TO_TOPIC);
	proto_offset_delete_resp_free(&resp);
	/* A group-level error, no topics. */
	protofx_same_bytes(od_dec, od_renc, od_free, PROTOFX_BYTES(0x00, 0x45, PI32(0), PI32(0)), 0,
			   &resp);
	assert_int_equal(resp.error_code, PROTO_ERR_GROUP_ID_NOT_FOUND);
	proto_offset_delete_resp_free(&resp);

	/* A partition count past the bytes left is malformed; v1 is not
	 * Kafka's. */
	kbuf_r_init(&r, (const uint8_t[]){ 0x00, 0x01, 'g', PI32(1), 0x00, 0x01, 't', PI32(1000) },
		    14);
	assert_int_equal(proto_offset_delete_req_decode(&r, 0, m), -EBADMSG);
	assert_int_equal(proto_offset_delete_req_decode(&r, 1, m), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe_groups),
		cmocka_unit_test(test_delete_groups),
		cmocka_unit_test(test_offset_delete),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
