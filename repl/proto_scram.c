/*
 * proto_scram.c — DescribeUserScramCredentials (50) and
 * AlterUserScramCredentials (51), v0, requests and responses both ways;
 * the structs are in proto.h. Both are flexible in every version (compact
 * forms, TAGGED_FIELDS ending every struct).
 *
 * DescribeUserScramCredentials request
 *   users NULLABLE ARRAY of (name STRING)        null or empty: every user
 * DescribeUserScramCredentials response
 *   throttle_time_ms INT32, error_code INT16, error_message NULLABLE_STRING,
 *   results ARRAY of (user STRING, error_code INT16, error_message
 *   NULLABLE_STRING, credential_infos ARRAY of (mechanism INT8,
 *   iterations INT32))
 *
 * AlterUserScramCredentials request
 *   deletions ARRAY of (name STRING, mechanism INT8),
 *   upsertions ARRAY of (name STRING, mechanism INT8, iterations INT32,
 *   salt BYTES, salted_password BYTES)
 * AlterUserScramCredentials response
 *   throttle_time_ms INT32, results ARRAY of (user STRING, error_code
 *   INT16, error_message NULLABLE_STRING)
 *
 * Mechanisms are Kafka's ScramMechanism types: 1 SCRAM-SHA-256,
 * 2 SCRAM-SHA-512, 0 unknown. Caps: PROTO_MAX_TOPICS users or operations
 * in one message.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* ---- DescribeUserScramCredentials ---- */

int proto_describe_scram_req_decode(struct kbuf_r *r, int16_t v,
				    struct proto_describe_scram_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, true);
	req->n_users = kmsg_count(&d, true, kmsg_str_min(true) + 1, PROTO_MAX_TOPICS);
	req->users = kmsg_alloc(&d, req->n_users, sizeof(*req->users));
	for (int32_t i = 0; i < req->n_users && !r->err; i++) {
		req->users[i] = kmsg_str(&d);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_scram_req_free(req);
	return rc;
}

int proto_describe_scram_req_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_describe_scram_req *req)
{
	if (!proto_api_supported(PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, true, req->n_users);
	for (int32_t i = 0; i < req->n_users; i++) {
		kmsg_write_str(w, true, req->users[i]);
		kmsg_write_tags(w, true);
	}
	kmsg_write_tags(w, true);
	return kbuf_w_err(w);
}

void proto_describe_scram_req_free(struct proto_describe_scram_req *req)
{
	if (req)
		KMSG_FREE(req->users, req->n_users);
}

int proto_describe_scram_resp_encode(struct kbuf_w *w, int16_t v,
				     const struct proto_describe_scram_resp *resp)
{
	if (!proto_api_supported(PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_nstr(w, true, resp->error_message);
	kmsg_write_len(w, true, resp->n_results);
	for (int32_t i = 0; i < resp->n_results; i++) {
		const struct proto_scram_user_result *u = &resp->results[i];

		kmsg_write_str(w, true, u->user);
		kbuf_write_i16(w, u->error_code);
		kmsg_write_nstr(w, true, u->error_message);
		kmsg_write_len(w, true, u->n_infos);
		for (int32_t j = 0; j < u->n_infos; j++) {
			kbuf_write_i8(w, u->infos[j].mechanism);
			kbuf_write_i32(w, u->infos[j].iterations);
			kmsg_write_tags(w, true);
		}
		kmsg_write_tags(w, true);
	}
	kmsg_write_tags(w, true);
	return kbuf_w_err(w);
}

int proto_describe_scram_resp_decode(struct kbuf_r *r, int16_t v,
				     struct proto_describe_scram_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, true);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->error_code = kbuf_read_i16(r);
	resp->error_message = kmsg_nstr(&d);
	resp->n_results = kmsg_count(&d, false, 5, PROTO_MAX_TOPICS);
	resp->results = kmsg_alloc(&d, resp->n_results, sizeof(*resp->results));
	for (int32_t i = 0; i < resp->n_results && !r->err; i++) {
		struct proto_scram_user_result *u = &resp->results[i];

		u->user = kmsg_str(&d);
		u->error_code = kbuf_read_i16(r);
		u->error_message = kmsg_nstr(&d);
		/* Two mechanisms at most exist; more is not Kafka's answer. */
		u->n_infos = kmsg_count(&d, false, 6, 2);
		for (int32_t j = 0; j < u->n_infos && !r->err; j++) {
			u->infos[j].mechanism = kbuf_read_i8(r);
			u->infos[j].iterations = kbuf_read_i32(r);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_scram_resp_free(resp);
	return rc;
}

void proto_describe_scram_resp_free(struct proto_describe_scram_resp *resp)
{
	if (resp)
		KMSG_FREE(resp->results, resp->n_results);
}

/* ---- AlterUserScramCredentials ---- */

int proto_alter_scram_req_decode(struct kbuf_r *r, int16_t v, struct proto_alter_scram_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_ALTER_USER_SCRAM_CREDENTIALS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, true);
	req->n_deletions = kmsg_count(&d, false, kmsg_str_min(true) + 2, PROTO_MAX_TOPICS);
	req->deletions = kmsg_alloc(&d, req->n_deletions, sizeof(*req->deletions));
	for (int32_t i = 0; i < req->n_deletions && !r->err; i++) {
		req->deletions[i].name = kmsg_str(&d);
		req->deletions[i].mechanism = kbuf_read_i8(r);
		kmsg_tags(&d);
	}
	req->n_upsertions = kmsg_count(&d, false, kmsg_str_min(true) + 8, PROTO_MAX_TOPICS);
	req->upsertions = kmsg_alloc(&d, req->n_upsertions, sizeof(*req->upsertions));
	for (int32_t i = 0; i < req->n_upsertions && !r->err; i++) {
		struct proto_scram_upsertion *u = &req->upsertions[i];

		u->name = kmsg_str(&d);
		u->mechanism = kbuf_read_i8(r);
		u->iterations = kbuf_read_i32(r);
		u->salt = kbuf_read_bytes(r, true, false);
		u->salted_password = kbuf_read_bytes(r, true, false);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_alter_scram_req_free(req);
	return rc;
}

int proto_alter_scram_req_encode(struct kbuf_w *w, int16_t v,
				 const struct proto_alter_scram_req *req)
{
	if (!proto_api_supported(PROTO_API_ALTER_USER_SCRAM_CREDENTIALS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, true, req->n_deletions);
	for (int32_t i = 0; i < req->n_deletions; i++) {
		kmsg_write_str(w, true, req->deletions[i].name);
		kbuf_write_i8(w, req->deletions[i].mechanism);
		kmsg_write_tags(w, true);
	}
	kmsg_write_len(w, true, req->n_upsertions);
	for (int32_t i = 0; i < req->n_upsertions; i++) {
		const struct proto_scram_upsertion *u = &req->upsertions[i];

		kmsg_write_str(w, true, u->name);
		kbuf_write_i8(w, u->mechanism);
		kbuf_write_i32(w, u->iterations);
		kbuf_write_bytes(w, u->salt, true, false);
		kbuf_write_bytes(w, u->salted_password, true, false);
		kmsg_write_tags(w, true);
	}
	kmsg_write_tags(w, true);
	return kbuf_w_err(w);
}

void proto_alter_scram_req_free(struct proto_alter_scram_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->deletions, req->n_deletions);
	KMSG_FREE(req->upsertions, req->n_upsertions);
}

int proto_alter_scram_resp_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_alter_scram_resp *resp)
{
	if (!proto_api_supported(PROTO_API_ALTER_USER_SCRAM_CREDENTIALS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, true, resp->n_results);
	for (int32_t i = 0; i < resp->n_results; i++) {
		kmsg_write_str(w, true, resp->results[i].user);
		kbuf_write_i16(w, resp->results[i].error_code);
		kmsg_write_nstr(w, true, resp->results[i].error_message);
		kmsg_write_tags(w, true);
	}
	kmsg_write_tags(w, true);
	return kbuf_w_err(w);
}

int proto_alter_scram_resp_decode(struct kbuf_r *r, int16_t v, struct proto_alter_scram_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_ALTER_USER_SCRAM_CREDENTIALS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, true);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_results = kmsg_count(&d, false, 4, PROTO_MAX_TOPICS);
	resp->results = kmsg_alloc(&d, resp->n_results, sizeof(*resp->results));
	for (int32_t i = 0; i < resp->n_results && !r->err; i++) {
		resp->results[i].user = kmsg_str(&d);
		resp->results[i].error_code = kbuf_read_i16(r);
		resp->results[i].error_message = kmsg_nstr(&d);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_alter_scram_resp_free(resp);
	return rc;
}

void proto_alter_scram_resp_free(struct proto_alter_scram_resp *resp)
{
	if (resp)
		KMSG_FREE(resp->results, resp->n_results);
}
