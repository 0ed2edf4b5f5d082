/*
 * test_proto_group_list.c — ListGroups (repl/proto_group_list.c): frames
 * hand-built from the JSON schemas at v0 (empty request), v3 (the first
 * flexible), v4 (states filter, group state) and v5 (types filter, group
 * type); every truncation refused, a round trip that must give back the
 * same bytes, a count beyond the bytes left refused.
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

static int lg_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_list_groups_req_encode(w, v, b);
}
static const void *lg_of(const struct proto_req *r)
{
	return &r->u.list_groups;
}

PROTOFX_RESP_CODEC(lg, list_groups)

static void test_list_groups_req(void **state)
{
	struct proto_req req;
	struct proto_list_groups_req *m = &req.u.list_groups;

	(void)state;
	/* v0: header only, an empty body. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x10, 0x00, 0x00, PI32(7), 0x00, 0x01, 'c'),
			       lg_enc, lg_of, &req);
	assert_int_equal(req.hdr.api_key, PROTO_API_LIST_GROUPS);
	assert_int_equal(m->n_states_filter, 0);
	proto_req_free(&req);
	/* v3: flexible header (tags) and the body's tags alone. */
	protofx_req_same_bytes(
		PROTOFX_BYTES(0x00, 0x10, 0x00, 0x03, PI32(7), 0x00, 0x01, 'c', 0x00, 0x00), lg_enc,
		lg_of, &req);
	proto_req_free(&req);
	/* v4: states_filter ["Empty", "Stable"]. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x10, 0x00, 0x04, PI32(7), 0x00, 0x01, 'c', 0x00,
					     0x03, 0x06, 'E', 'm', 'p', 't', 'y', 0x07, 'S', 't',
					     'a', 'b', 'l', 'e', 0x00),
			       lg_enc, lg_of, &req);
	assert_int_equal(m->n_states_filter, 2);
	assert_true(kstr_eq(m->states_filter[1], "Stable"));
	proto_req_free(&req);
	/* v5: no states, types_filter ["classic"]. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x10, 0x00, 0x05, PI32(7), 0x00, 0x01, 'c', 0x00,
					     0x01, 0x02, 0x08, 'c', 'l', 'a', 's', 's', 'i', 'c',
					     0x00),
			       lg_enc, lg_of, &req);
	assert_int_equal(m->n_states_filter, 0);
	assert_int_equal(m->n_types_filter, 1);
	assert_true(kstr_eq(m->types_filter[0], "classic"));
	proto_req_free(&req);
	/* Version 6 is not ours. */
	assert_int_equal(proto_req_decode(PROTOFX_BYTES(0x00, 0x10, 0x00, 0x06, PI32(7), 0x00, 0x01,
							'c', 0x00, 0x01, 0x01, 0x00),
					  &req),
			 -EOPNOTSUPP);
	proto_req_free(&req);
}

static void test_list_groups_resp(void **state)
{
	struct proto_list_groups_resp resp;
	struct proto_listed_group gs[2] = {
		{ kstr_of("t/g"), kstr_of("consumer"), kstr_of("Empty"), kstr_of("classic") },
		{ kstr_of("g"), kstr_of("consumer"), kstr_of("Stable"), kstr_of("classic") },
	};
	struct proto_list_groups_resp in = { 4, 0, 2, gs };
	struct kbuf_r r;
	struct kbuf_w w;

	(void)state;
	/* v0: error, one group (id, protocol type). */
	protofx_same_bytes(lg_dec, lg_renc, lg_free,
			   PROTOFX_BYTES(0x00, 0x00, PI32(1), 0x00, 0x03, 't', '/', 'g', 0x00, 0x08,
					 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r'),
			   0, &resp);
	assert_int_equal(resp.n_groups, 1);
	assert_true(kstr_eq(resp.groups[0].group_id, "t/g"));
	assert_true(kstr_eq(resp.groups[0].protocol_type, "consumer"));
	assert_null(resp.groups[0].group_state.ptr);
	proto_list_groups_resp_free(&resp);
	/* v1: throttle first; an error with no groups. */
	protofx_same_bytes(lg_dec, lg_renc, lg_free, PROTOFX_BYTES(PI32(5), 0x00, 0x0f, PI32(0)), 1,
			   &resp);
	assert_int_equal(resp.throttle_time_ms, 5);
	assert_int_equal(resp.error_code, PROTO_ERR_COORDINATOR_NOT_AVAILABLE);
	assert_int_equal(resp.n_groups, 0);
	proto_list_groups_resp_free(&resp);
	/* v4: compact, the state, tags after the group and the response. */
	protofx_same_bytes(lg_dec, lg_renc, lg_free,
			   PROTOFX_BYTES(PI32(0), 0x00, 0x00, 0x02, 0x02, 'g', 0x01, 0x06, 'E', 'm',
					 'p', 't', 'y', 0x00, 0x00),
			   4, &resp);
	assert_int_equal(resp.n_groups, 1);
	assert_int_equal(resp.groups[0].protocol_type.len, 0);
	assert_true(kstr_eq(resp.groups[0].group_state, "Empty"));
	proto_list_groups_resp_free(&resp);
	/* v5: the type after the state. */
	protofx_same_bytes(lg_dec, lg_renc, lg_free,
			   PROTOFX_BYTES(PI32(0), 0x00, 0x00, 0x02, 0x02, 'g', 0x01, 0x07, 'S', 't',
					 'a', 'b', 'l', 'e', 0x08, 'c', 'l', 'a', 's', 's', 'i',
					 'c', 0x00, 0x00),
			   5, &resp);
	assert_true(kstr_eq(resp.groups[0].group_type, "classic"));
	proto_list_groups_resp_free(&resp);

	/* What a coordinator encodes, the asking broker decodes. */
	kbuf_w_init(&w, 64);
	assert_int_equal(proto_list_groups_resp_encode(&w, 5, &in), 0);
	kbuf_r_init(&r, w.buf, w.len);
	assert_int_equal(proto_list_groups_resp_decode(&r, 5, &resp), 0);
	assert_int_equal(resp.throttle_time_ms, 4);
	assert_int_equal(resp.n_groups, 2);
	assert_true(kstr_eq(resp.groups[1].group_state, "Stable"));
	proto_list_groups_resp_free(&resp);
	kbuf_w_free(&w);

	/* A group count past the bytes left is malformed. */
	kbuf_r_init(&r, (const uint8_t[]){ 0x00, 0x00, PI32(1000), 0x00, 0x00 }, 8);
	assert_int_equal(proto_list_groups_resp_decode(&r, 0, &resp), -EBADMSG);
	/* So are bytes left over. */
	kbuf_r_init(&r, (const uint8_t[]){ 0x00, 0x00, PI32(0), 0x00 }, 7);
	assert_int_equal(proto_list_groups_resp_decode(&r, 0, &resp), -EBADMSG);
	/* Versions past 5 are not ours. */
	assert_int_equal(proto_list_groups_resp_decode(&r, 6, &resp), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_groups_req),
		cmocka_unit_test(test_list_groups_resp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
