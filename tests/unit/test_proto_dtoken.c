/*
 * test_proto_dtoken.c — the delegation token codecs (repl/proto_dtoken.c):
 * frames written by hand from Kafka's JSON schemas (CreateDelegationToken
 * v0 and v3, DescribeDelegationToken v0 and v3, Renew v2), the same bytes
 * back, every truncation refused; a round trip of every version of all
 * four APIs both ways; versions outside the ranges refused.
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

#define USER4 'U', 's', 'e', 'r'

static int ct_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_create_token_req_encode(w, v, b);
}
static const void *ct_of(const struct proto_req *r)
{
	return &r->u.create_token;
}
static void ct_free(void *p)
{
	(void)p; /* points into the buffer */
}
PROTOFX_RESP_DEC_ENC(ct, create_token)

static int rt_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_renew_token_req_encode(w, PROTO_API_RENEW_DELEGATION_TOKEN, v, b);
}
static int et_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_renew_token_req_encode(w, PROTO_API_EXPIRE_DELEGATION_TOKEN, v, b);
}
static const void *rt_of(const struct proto_req *r)
{
	return &r->u.renew_token;
}
static int rt_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_renew_token_resp_decode(&r, PROTO_API_RENEW_DELEGATION_TOKEN, v, out);
}
static int rt_renc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_renew_token_resp_encode(w, PROTO_API_RENEW_DELEGATION_TOKEN, v, in);
}

static int dt_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_describe_tokens_req_encode(w, v, b);
}
static const void *dt_of(const struct proto_req *r)
{
	return &r->u.describe_tokens;
}
PROTOFX_RESP_CODEC(dt, describe_tokens)

static void test_create_frames(void **state)
{
	struct proto_req req;
	const struct proto_create_token_req *c = &req.u.create_token;
	struct proto_create_token_resp resp;

	(void)state;
	/* v0: header v1 (no tags); renewers INT32 count, STRING pairs. */
	protofx_req_same_bytes(PROTOFX_BYTES(0, 38, 0, 0, PI32(5), 0, 1, 'c', PI32(1), 0, 4, USER4,
					     0, 1, 'b', PI64(-1)),
			       ct_enc, ct_of, &req);
	assert_int_equal(req.hdr.api_key, PROTO_API_CREATE_DELEGATION_TOKEN);
	assert_null(c->owner_name.ptr); /* no such field before v3 */
	assert_int_equal(c->n_renewers, 1);
	assert_true(kstr_eq(c->renewers[0].type, "User"));
	assert_true(kstr_eq(c->renewers[0].name, "b"));
	assert_int_equal(c->max_lifetime_ms, -1);
	proto_req_free(&req);

	/* v3: flexible; the owner's type and name, then the renewers. */
	protofx_req_same_bytes(PROTOFX_BYTES(0, 38, 0, 3, PI32(5), 0, 1, 'c', 0, 5, USER4, 2, 'a',
					     2, 5, USER4, 2, 'b', 0, PI64(3600000), 0),
			       ct_enc, ct_of, &req);
	assert_true(kstr_eq(c->owner_type, "User"));
	assert_true(kstr_eq(c->owner_name, "a"));
	assert_int_equal(c->n_renewers, 1);
	assert_int_equal(c->max_lifetime_ms, 3600000);
	proto_req_free(&req);
	/* Null owner (the requester is). */
	protofx_req_same_bytes(
		PROTOFX_BYTES(0, 38, 0, 3, PI32(5), 0, 1, 'c', 0, 0, 0, 1, PI64(-1), 0), ct_enc,
		ct_of, &req);
	assert_null(c->owner_type.ptr);
	assert_null(c->owner_name.ptr);
	assert_int_equal(c->n_renewers, 0);
	proto_req_free(&req);

	/* Response v3: owner, requester, three times, id, hmac, throttle. */
	static const uint8_t v3[] = { 0,     0,   5,   USER4,      2,          'a',        5,
				      USER4, 2,   'r', PI64(1000), PI64(2000), PI64(3000), 3,
				      'i',   'd', 3,   0xaa,       0xbb,       PI32(7),    0 };
	protofx_same_bytes(ct_dec, ct_renc, ct_free, v3, sizeof(v3), 3, &resp);
	assert_true(kstr_eq(resp.owner.name, "a"));
	assert_true(kstr_eq(resp.requester.name, "r"));
	assert_int_equal(resp.issue_timestamp_ms, 1000);
	assert_int_equal(resp.expiry_timestamp_ms, 2000);
	assert_int_equal(resp.max_timestamp_ms, 3000);
	assert_true(kstr_eq(resp.token_id, "id"));
	assert_int_equal(resp.hmac.len, 2);
	assert_int_equal(resp.throttle_time_ms, 7);
	/* v0: no requester, plain strings and bytes, no tags. */
	static const uint8_t v0[] = { 0,        61,       0,        4, USER4, 0,       1,      'a',
				      PI64(-1), PI64(-1), PI64(-1), 0, 0,     PI32(0), PI32(0) };
	protofx_same_bytes(ct_dec, ct_renc, ct_free, v0, sizeof(v0), 0, &resp);
	assert_int_equal(resp.error_code, PROTO_ERR_DELEGATION_TOKEN_AUTH_DISABLED);
	assert_int_equal(resp.hmac.len, 0);
	assert_int_equal(resp.token_id.len, 0);
}

static void test_renew_describe_frames(void **state)
{
	struct proto_req req;
	struct proto_renew_token_resp rresp;
	struct proto_describe_tokens_resp dresp;

	(void)state;
	/* Renew v2: compact bytes, the period, tags. */
	protofx_req_same_bytes(
		PROTOFX_BYTES(0, 39, 0, 2, PI32(5), 0, 1, 'c', 0, 3, 0xaa, 0xbb, PI64(60000), 0),
		rt_enc, rt_of, &req);
	assert_int_equal(req.u.renew_token.hmac.len, 2);
	assert_int_equal(req.u.renew_token.period_ms, 60000);
	proto_req_free(&req);
	/* Expire v0: BYTES, the period. */
	protofx_req_same_bytes(
		PROTOFX_BYTES(0, 40, 0, 0, PI32(5), 0, 1, 'c', PI32(1), 0xaa, PI64(-1)), et_enc,
		rt_of, &req);
	assert_int_equal(req.hdr.api_key, PROTO_API_EXPIRE_DELEGATION_TOKEN);
	assert_int_equal(req.u.renew_token.period_ms, -1);
	proto_req_free(&req);
	static const uint8_t r2[] = { 0, 62, PI64(-1), PI32(0), 0 };
	protofx_same_bytes(rt_dec, rt_renc, ct_free, r2, sizeof(r2), 2, &rresp);
	assert_int_equal(rresp.error_code, PROTO_ERR_DELEGATION_TOKEN_NOT_FOUND);
	assert_int_equal(rresp.expiry_timestamp_ms, -1);

	/* Describe: null owners (v0 and v2), one owner (v3). */
	protofx_req_same_bytes(PROTOFX_BYTES(0, 41, 0, 0, PI32(5), 0, 1, 'c', PI32(-1)), dt_enc,
			       dt_of, &req);
	assert_int_equal(req.u.describe_tokens.n_owners, -1);
	proto_req_free(&req);
	protofx_req_same_bytes(PROTOFX_BYTES(0, 41, 0, 2, PI32(5), 0, 1, 'c', 0, 0, 0), dt_enc,
			       dt_of, &req);
	assert_int_equal(req.u.describe_tokens.n_owners, -1);
	proto_req_free(&req);
	protofx_req_same_bytes(
		PROTOFX_BYTES(0, 41, 0, 3, PI32(5), 0, 1, 'c', 0, 2, 5, USER4, 2, 'a', 0, 0),
		dt_enc, dt_of, &req);
	assert_int_equal(req.u.describe_tokens.n_owners, 1);
	assert_true(kstr_eq(req.u.describe_tokens.owners[0].name, "a"));
	proto_req_free(&req);

	static const uint8_t d3[] = { 0,     0,     2,   5,   USER4,   2,       'a',
				      5,     USER4, 2,   'r', PI64(1), PI64(3), PI64(2),
				      3,     'i',   'd', 2,   0xaa,    2,       5,
				      USER4, 2,     'b', 0,   0,       PI32(0), 0 };
	protofx_same_bytes(dt_dec, dt_renc, dt_free, d3, sizeof(d3), 3, &dresp);
	assert_int_equal(dresp.n_tokens, 1);
	assert_true(kstr_eq(dresp.tokens[0].owner.name, "a"));
	assert_true(kstr_eq(dresp.tokens[0].requester.name, "r"));
	assert_int_equal(dresp.tokens[0].expiry_timestamp, 3);
	assert_int_equal(dresp.tokens[0].max_timestamp, 2);
	assert_int_equal(dresp.tokens[0].n_renewers, 1);
	assert_true(kstr_eq(dresp.tokens[0].renewers[0].name, "b"));
	proto_describe_tokens_resp_free(&dresp);
	static const uint8_t d0[] = { 0,   0,   PI32(1), 0,       4,       USER4,  0,
				      1,   'a', PI64(1), PI64(3), PI64(2), 0,      2,
				      'i', 'd', PI32(1), 0xaa,    PI32(0), PI32(0) };
	protofx_same_bytes(dt_dec, dt_renc, dt_free, d0, sizeof(d0), 0, &dresp);
	assert_int_equal(dresp.tokens[0].requester.name.len, 0); /* v3+ only */
	assert_int_equal(dresp.tokens[0].n_renewers, 0);
	proto_describe_tokens_resp_free(&dresp);
}

static void test_every_version(void **state)
{
	struct proto_principal p[2] = { { kstr_of("User"), kstr_of("bob") },
					{ kstr_of("User"), kstr_of("carol") } };
	uint8_t *frame;
	struct proto_req req;

	(void)state;
	for (int16_t v = 0; v <= 3; v++) {
		struct proto_create_token_req creq = { kstr_of("User"), kstr_of("alice"), 2, p,
						       86400000 };
		struct proto_create_token_resp cresp = { 0, p[0], p[1],           1,
							 2, 3,    kstr_of("tid"), kstr_of("hmac"),
							 0 },
					       cback;
		struct proto_token_desc td = { p[0],           p[1],         1, 2, 3,
					       kstr_of("tid"), kstr_of("h"), 2, p };
		struct proto_describe_tokens_req dreq = { 2, p };
		struct proto_describe_tokens_resp dresp = { 0, 1, &td, 5 }, dback;

		if (v < 3)
			creq.owner_type = creq.owner_name = KSTR_NULL;
		protofx_req_round(PROTO_API_CREATE_DELEGATION_TOKEN, v, ct_enc, ct_of, &creq, &req,
				  &frame);
		assert_int_equal(req.u.create_token.n_renewers, 2);
		assert_true(kstr_eq(req.u.create_token.renewers[1].name, "carol"));
		assert_int_equal(req.u.create_token.max_lifetime_ms, 86400000);
		assert_int_equal(req.u.create_token.owner_name.ptr != NULL, v >= 3);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(ct_dec, ct_renc, ct_free, v, &cresp, &cback, &frame);
		assert_true(kstr_eq(cback.token_id, "tid"));
		assert_int_equal(cback.requester.name.ptr != NULL, v >= 3);
		free(frame);
		protofx_req_round(PROTO_API_DESCRIBE_DELEGATION_TOKEN, v, dt_enc, dt_of, &dreq,
				  &req, &frame);
		assert_int_equal(req.u.describe_tokens.n_owners, 2);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(dt_dec, dt_renc, dt_free, v, &dresp, &dback, &frame);
		assert_int_equal(dback.n_tokens, 1);
		assert_int_equal(dback.tokens[0].n_renewers, 2);
		assert_int_equal(dback.throttle_time_ms, 5);
		proto_describe_tokens_resp_free(&dback);
		free(frame);
		if (v > 2)
			continue;
		for (int16_t api = PROTO_API_RENEW_DELEGATION_TOKEN;
		     api <= PROTO_API_EXPIRE_DELEGATION_TOKEN; api++) {
			struct proto_renew_token_req rreq = { kstr_of("hmac"), 1000 };

			protofx_req_round(api, v,
					  api == PROTO_API_RENEW_DELEGATION_TOKEN ? rt_enc : et_enc,
					  rt_of, &rreq, &req, &frame);
			assert_int_equal(req.u.renew_token.hmac.len, 4);
			assert_int_equal(req.u.renew_token.period_ms, 1000);
			proto_req_free(&req);
			free(frame);
		}
		struct proto_renew_token_resp rresp = { 0, 99, 3 }, rback;
		protofx_resp_round(rt_dec, rt_renc, ct_free, v, &rresp, &rback, &frame);
		assert_int_equal(rback.expiry_timestamp_ms, 99);
		free(frame);
	}

	/* Outside the ranges, and an API that is not Renew nor Expire. */
	struct kbuf_w w;
	struct proto_renew_token_req rreq = { kstr_of("h"), 1 };
	struct proto_create_token_req creq = { KSTR_NULL, KSTR_NULL, 0, NULL, -1 };
	struct proto_describe_tokens_req dreq = { -1, NULL };

	kbuf_w_init(&w, 64);
	assert_int_equal(proto_create_token_req_encode(&w, 4, &creq), -EOPNOTSUPP);
	assert_int_equal(proto_describe_tokens_req_encode(&w, 4, &dreq), -EOPNOTSUPP);
	assert_int_equal(
		proto_renew_token_req_encode(&w, PROTO_API_RENEW_DELEGATION_TOKEN, 3, &rreq),
		-EOPNOTSUPP);
	assert_int_equal(
		proto_renew_token_req_encode(&w, PROTO_API_EXPIRE_DELEGATION_TOKEN, 3, &rreq),
		-EOPNOTSUPP);
	assert_int_equal(
		proto_renew_token_req_encode(&w, PROTO_API_CREATE_DELEGATION_TOKEN, 0, &rreq),
		-EOPNOTSUPP);
	kbuf_w_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_frames),
		cmocka_unit_test(test_renew_describe_frames),
		cmocka_unit_test(test_every_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
