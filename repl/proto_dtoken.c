/*
 * proto_dtoken.c — the delegation token APIs (KIP-48), request and
 * response both ways, every field of Kafka's JSON schemas. Structs in
 * proto.h. Flexible (compact forms, TAGGED_FIELDS ending every struct)
 * from v2 in all four.
 *
 * CreateDelegationToken (38) v0-3
 *   request   owner_principal_type NULLABLE_STRING (v3+),
 *             owner_principal_name NULLABLE_STRING (v3+),
 *             renewers ARRAY of (principal_type STRING, principal_name
 *             STRING), max_lifetime_ms INT64
 *   response  error_code INT16, principal_type STRING, principal_name
 *             STRING, token_requester_principal_type STRING (v3+),
 *             token_requester_principal_name STRING (v3+),
 *             issue_timestamp_ms INT64, expiry_timestamp_ms INT64,
 *             max_timestamp_ms INT64, token_id STRING, hmac BYTES,
 *             throttle_time_ms INT32
 * RenewDelegationToken (39) v0-2, ExpireDelegationToken (40) v0-2
 *   request   hmac BYTES, renew_period_ms / expiry_time_period_ms INT64
 *   response  error_code INT16, expiry_timestamp_ms INT64,
 *             throttle_time_ms INT32
 * DescribeDelegationToken (41) v0-3
 *   request   owners NULLABLE ARRAY of (principal_type STRING,
 *             principal_name STRING)
 *   response  error_code INT16, tokens ARRAY of (principal_type,
 *             principal_name, token_requester_principal_type (v3+),
 *             token_requester_principal_name (v3+), issue_timestamp
 *             INT64, expiry_timestamp INT64, max_timestamp INT64,
 *             token_id STRING, hmac BYTES, renewers ARRAY of
 *             (principal_type, principal_name)), throttle_time_ms INT32
 *
 * Caps: PROTO_MAX_PRINCIPALS renewers or owners, PROTO_MAX_TOKENS tokens
 * (and PROTO_MAX_PRINCIPALS renewers in each).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

#define FLEX_FROM 2

/* A list of principals (renewers, owners): its count (-1 null when
 * nullable) and the array. */
static int32_t principals_decode(struct kmsg_dec *d, bool nullable, struct proto_principal **out)
{
	int32_t n =
		kmsg_count(d, nullable, 2 * kmsg_str_min(d->flex) + d->flex, PROTO_MAX_PRINCIPALS);

	*out = kmsg_alloc(d, n, sizeof(**out));
	for (int32_t i = 0; i < n && !d->r->err; i++) {
		(*out)[i].type = kmsg_str(d);
		(*out)[i].name = kmsg_str(d);
		kmsg_tags(d);
	}
	return n;
}

static void principals_encode(struct kbuf_w *w, bool flex, int32_t n,
			      const struct proto_principal *v)
{
	kmsg_write_len(w, flex, n);
	for (int32_t i = 0; i < n; i++) {
		kmsg_write_str(w, flex, v[i].type);
		kmsg_write_str(w, flex, v[i].name);
		kmsg_write_tags(w, flex);
	}
}

/* ---- CreateDelegationToken ---- */

int proto_create_token_req_decode(struct kbuf_r *r, int16_t v, struct proto_create_token_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	req->owner_type = req->owner_name = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_CREATE_DELEGATION_TOKEN, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, v >= FLEX_FROM);
	if (v >= 3) {
		req->owner_type = kmsg_nstr(&d);
		req->owner_name = kmsg_nstr(&d);
	}
	req->n_renewers = principals_decode(&d, false, &req->renewers);
	req->max_lifetime_ms = kbuf_read_i64(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_create_token_req_free(req);
	return rc;
}

int proto_create_token_req_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_create_token_req *req)
{
	bool flex = v >= FLEX_FROM;

	if (!proto_api_supported(PROTO_API_CREATE_DELEGATION_TOKEN, v))
		return -EOPNOTSUPP;
	if (v >= 3) {
		kmsg_write_nstr(w, flex, req->owner_type);
		kmsg_write_nstr(w, flex, req->owner_name);
	}
	principals_encode(w, flex, req->n_renewers, req->renewers);
	kbuf_write_i64(w, req->max_lifetime_ms);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_create_token_req_free(struct proto_create_token_req *req)
{
	if (req)
		KMSG_FREE(req->renewers, req->n_renewers);
}

int proto_create_token_resp_decode(struct kbuf_r *r, int16_t v,
				   struct proto_create_token_resp *resp)
{
	struct kmsg_dec d;
	bool flex = v >= FLEX_FROM;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_CREATE_DELEGATION_TOKEN, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	resp->error_code = kbuf_read_i16(r);
	resp->owner.type = kmsg_str(&d);
	resp->owner.name = kmsg_str(&d);
	if (v >= 3) {
		resp->requester.type = kmsg_str(&d);
		resp->requester.name = kmsg_str(&d);
	}
	resp->issue_timestamp_ms = kbuf_read_i64(r);
	resp->expiry_timestamp_ms = kbuf_read_i64(r);
	resp->max_timestamp_ms = kbuf_read_i64(r);
	resp->token_id = kmsg_str(&d);
	resp->hmac = kbuf_read_bytes(r, flex, false);
	resp->throttle_time_ms = kbuf_read_i32(r);
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_create_token_resp_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_create_token_resp *resp)
{
	bool flex = v >= FLEX_FROM;

	if (!proto_api_supported(PROTO_API_CREATE_DELEGATION_TOKEN, v))
		return -EOPNOTSUPP;
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_str(w, flex, resp->owner.type);
	kmsg_write_str(w, flex, resp->owner.name);
	if (v >= 3) {
		kmsg_write_str(w, flex, resp->requester.type);
		kmsg_write_str(w, flex, resp->requester.name);
	}
	kbuf_write_i64(w, resp->issue_timestamp_ms);
	kbuf_write_i64(w, resp->expiry_timestamp_ms);
	kbuf_write_i64(w, resp->max_timestamp_ms);
	kmsg_write_str(w, flex, resp->token_id);
	kbuf_write_bytes(w, resp->hmac.ptr ? resp->hmac : (struct kstr){ "", 0 }, flex, false);
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

/* ---- RenewDelegationToken, ExpireDelegationToken ---- */

static bool renew_key(int16_t api_key)
{
	return api_key == PROTO_API_RENEW_DELEGATION_TOKEN ||
	       api_key == PROTO_API_EXPIRE_DELEGATION_TOKEN;
}

int proto_renew_token_req_decode(struct kbuf_r *r, int16_t api_key, int16_t v,
				 struct proto_renew_token_req *req)
{
	struct kmsg_dec d;
	bool flex = v >= FLEX_FROM;

	memset(req, 0, sizeof(*req));
	if (!renew_key(api_key) || !proto_api_supported(api_key, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	req->hmac = kbuf_read_bytes(r, flex, false);
	req->period_ms = kbuf_read_i64(r);
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_renew_token_req_encode(struct kbuf_w *w, int16_t api_key, int16_t v,
				 const struct proto_renew_token_req *req)
{
	bool flex = v >= FLEX_FROM;

	if (!renew_key(api_key) || !proto_api_supported(api_key, v))
		return -EOPNOTSUPP;
	kbuf_write_bytes(w, req->hmac.ptr ? req->hmac : (struct kstr){ "", 0 }, flex, false);
	kbuf_write_i64(w, req->period_ms);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_renew_token_resp_decode(struct kbuf_r *r, int16_t api_key, int16_t v,
				  struct proto_renew_token_resp *resp)
{
	struct kmsg_dec d;

	memset(resp, 0, sizeof(*resp));
	if (!renew_key(api_key) || !proto_api_supported(api_key, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, v >= FLEX_FROM);
	resp->error_code = kbuf_read_i16(r);
	resp->expiry_timestamp_ms = kbuf_read_i64(r);
	resp->throttle_time_ms = kbuf_read_i32(r);
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_renew_token_resp_encode(struct kbuf_w *w, int16_t api_key, int16_t v,
				  const struct proto_renew_token_resp *resp)
{
	if (!renew_key(api_key) || !proto_api_supported(api_key, v))
		return -EOPNOTSUPP;
	kbuf_write_i16(w, resp->error_code);
	kbuf_write_i64(w, resp->expiry_timestamp_ms);
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_tags(w, v >= FLEX_FROM);
	return kbuf_w_err(w);
}

/* ---- DescribeDelegationToken ---- */

int proto_describe_tokens_req_decode(struct kbuf_r *r, int16_t v,
				     struct proto_describe_tokens_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DESCRIBE_DELEGATION_TOKEN, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, v >= FLEX_FROM);
	req->n_owners = principals_decode(&d, true, &req->owners);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_tokens_req_free(req);
	return rc;
}

int proto_describe_tokens_req_encode(struct kbuf_w *w, int16_t v,
				     const struct proto_describe_tokens_req *req)
{
	bool flex = v >= FLEX_FROM;

	if (!proto_api_supported(PROTO_API_DESCRIBE_DELEGATION_TOKEN, v))
		return -EOPNOTSUPP;
	principals_encode(w, flex, req->n_owners, req->owners);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_describe_tokens_req_free(struct proto_describe_tokens_req *req)
{
	if (req) {
		free(req->owners);
		req->owners = NULL;
		req->n_owners = 0;
	}
}

int proto_describe_tokens_resp_decode(struct kbuf_r *r, int16_t v,
				      struct proto_describe_tokens_resp *resp)
{
	struct kmsg_dec d;
	bool flex = v >= FLEX_FROM;
	size_t smin = kmsg_str_min(flex);
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_DELEGATION_TOKEN, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	resp->error_code = kbuf_read_i16(r);
	resp->n_tokens = kmsg_count(&d, false, 3 * smin + 24 + (flex ? 1 : 4) + kmsg_arr_min(flex),
				    PROTO_MAX_TOKENS);
	resp->tokens = kmsg_alloc(&d, resp->n_tokens, sizeof(*resp->tokens));
	for (int32_t i = 0; i < resp->n_tokens && !r->err; i++) {
		struct proto_token_desc *t = &resp->tokens[i];

		t->owner.type = kmsg_str(&d);
		t->owner.name = kmsg_str(&d);
		if (v >= 3) {
			t->requester.type = kmsg_str(&d);
			t->requester.name = kmsg_str(&d);
		}
		t->issue_timestamp = kbuf_read_i64(r);
		t->expiry_timestamp = kbuf_read_i64(r);
		t->max_timestamp = kbuf_read_i64(r);
		t->token_id = kmsg_str(&d);
		t->hmac = kbuf_read_bytes(r, flex, false);
		t->n_renewers = principals_decode(&d, false, &t->renewers);
		kmsg_tags(&d);
	}
	resp->throttle_time_ms = kbuf_read_i32(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_tokens_resp_free(resp);
	return rc;
}

int proto_describe_tokens_resp_encode(struct kbuf_w *w, int16_t v,
				      const struct proto_describe_tokens_resp *resp)
{
	bool flex = v >= FLEX_FROM;

	if (!proto_api_supported(PROTO_API_DESCRIBE_DELEGATION_TOKEN, v))
		return -EOPNOTSUPP;
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_len(w, flex, resp->n_tokens);
	for (int32_t i = 0; i < resp->n_tokens; i++) {
		const struct proto_token_desc *t = &resp->tokens[i];

		kmsg_write_str(w, flex, t->owner.type);
		kmsg_write_str(w, flex, t->owner.name);
		if (v >= 3) {
			kmsg_write_str(w, flex, t->requester.type);
			kmsg_write_str(w, flex, t->requester.name);
		}
		kbuf_write_i64(w, t->issue_timestamp);
		kbuf_write_i64(w, t->expiry_timestamp);
		kbuf_write_i64(w, t->max_timestamp);
		kmsg_write_str(w, flex, t->token_id);
		kbuf_write_bytes(w, t->hmac.ptr ? t->hmac : (struct kstr){ "", 0 }, flex, false);
		principals_encode(w, flex, t->n_renewers, t->renewers);
		kmsg_write_tags(w, flex);
	}
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_describe_tokens_resp_free(struct proto_describe_tokens_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; i < resp->n_tokens && resp->tokens; i++)
		free(resp->tokens[i].renewers);
	KMSG_FREE(resp->tokens, resp->n_tokens);
}
