/*
 * proto_acls.c — DescribeAcls (29), CreateAcls (30) and DeleteAcls (31),
 * v0-v3, requests and responses both ways; the structs are in proto.h.
 * Flexible from v2 (compact forms, TAGGED_FIELDS ending every struct);
 * v1 adds the resource pattern types.
 *
 * DescribeAcls request
 *   resource_type_filter INT8, resource_name_filter NULLABLE_STRING,
 *   pattern_type_filter INT8 (v1+), principal_filter NULLABLE_STRING,
 *   host_filter NULLABLE_STRING, operation INT8, permission_type INT8
 * DescribeAcls response
 *   throttle_time_ms INT32, error_code INT16, error_message
 *   NULLABLE_STRING, resources ARRAY of (resource_type INT8,
 *   resource_name STRING, pattern_type INT8 (v1+), acls ARRAY of
 *   (principal STRING, host STRING, operation INT8, permission_type INT8))
 * CreateAcls request
 *   creations ARRAY of (resource_type INT8, resource_name STRING,
 *   resource_pattern_type INT8 (v1+), principal STRING, host STRING,
 *   operation INT8, permission_type INT8)
 * CreateAcls response
 *   throttle_time_ms INT32, results ARRAY of (error_code INT16,
 *   error_message NULLABLE_STRING)
 * DeleteAcls request
 *   filters ARRAY of the DescribeAcls request's fields
 * DeleteAcls response
 *   throttle_time_ms INT32, filter_results ARRAY of (error_code INT16,
 *   error_message NULLABLE_STRING, matching_acls ARRAY of (error_code,
 *   error_message, resource_type, resource_name, pattern_type (v1+),
 *   principal, host, operation, permission_type))
 *
 * mqfs has no authorizer: its answers never name an ACL, so the responses
 * here carry no resources and no matching ACLs (the decoders refuse any).
 * Caps: PROTO_MAX_TOPICS creations or filters in one request.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

static bool flex_of(int16_t api, int16_t v)
{
	return proto_is_flexible(api, v);
}

/* One ACL binding filter (DescribeAcls' request, a DeleteAcls filter). */
static void filter_read(struct kmsg_dec *d, int16_t v, struct proto_acl *f)
{
	f->resource_type = kbuf_read_i8(d->r);
	f->resource_name = kmsg_nstr(d);
	f->pattern_type = v >= 1 ? kbuf_read_i8(d->r) : PROTO_ACL_PATTERN_LITERAL;
	f->principal = kmsg_nstr(d);
	f->host = kmsg_nstr(d);
	f->operation = kbuf_read_i8(d->r);
	f->permission_type = kbuf_read_i8(d->r);
}

static void filter_write(struct kbuf_w *w, bool flex, int16_t v, const struct proto_acl *f,
			 bool nullable)
{
	kbuf_write_i8(w, f->resource_type);
	(nullable ? kmsg_write_nstr : kmsg_write_str)(w, flex, f->resource_name);
	if (v >= 1)
		kbuf_write_i8(w, f->pattern_type);
	(nullable ? kmsg_write_nstr : kmsg_write_str)(w, flex, f->principal);
	(nullable ? kmsg_write_nstr : kmsg_write_str)(w, flex, f->host);
	kbuf_write_i8(w, f->operation);
	kbuf_write_i8(w, f->permission_type);
}

/* ---- DescribeAcls ---- */

int proto_describe_acls_req_decode(struct kbuf_r *r, int16_t v, struct proto_describe_acls_req *req)
{
	struct kmsg_dec d;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DESCRIBE_ACLS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex_of(PROTO_API_DESCRIBE_ACLS, v));
	filter_read(&d, v, &req->filter);
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_describe_acls_req_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_describe_acls_req *req)
{
	bool flex = flex_of(PROTO_API_DESCRIBE_ACLS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_ACLS, v))
		return -EOPNOTSUPP;
	filter_write(w, flex, v, &req->filter, true);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_describe_acls_resp_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_describe_acls_resp *resp)
{
	bool flex = flex_of(PROTO_API_DESCRIBE_ACLS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_ACLS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_nstr(w, flex, resp->error_message);
	kmsg_write_len(w, flex, 0); /* resources: none is ever named */
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_describe_acls_resp_decode(struct kbuf_r *r, int16_t v,
				    struct proto_describe_acls_resp *resp)
{
	struct kmsg_dec d;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_ACLS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex_of(PROTO_API_DESCRIBE_ACLS, v));
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->error_code = kbuf_read_i16(r);
	resp->error_message = kmsg_nstr(&d);
	if (kmsg_count(&d, false, 0, 0) != 0)
		return -EBADMSG;
	kmsg_tags(&d);
	return kmsg_end(&d);
}

/* ---- CreateAcls ---- */

int proto_create_acls_req_decode(struct kbuf_r *r, int16_t v, struct proto_create_acls_req *req)
{
	bool flex = flex_of(PROTO_API_CREATE_ACLS, v);
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_CREATE_ACLS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	req->n_creations = kmsg_count(&d, false, 3 * kmsg_str_min(flex) + 3 + (v >= 1) + flex,
				      PROTO_MAX_TOPICS);
	req->creations = kmsg_alloc(&d, req->n_creations, sizeof(*req->creations));
	for (int32_t i = 0; i < req->n_creations && !r->err; i++) {
		struct proto_acl *c = &req->creations[i];

		c->resource_type = kbuf_read_i8(r);
		c->resource_name = kmsg_str(&d);
		c->pattern_type = v >= 1 ? kbuf_read_i8(r) : PROTO_ACL_PATTERN_LITERAL;
		c->principal = kmsg_str(&d);
		c->host = kmsg_str(&d);
		c->operation = kbuf_read_i8(r);
		c->permission_type = kbuf_read_i8(r);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_create_acls_req_free(req);
	return rc;
}

int proto_create_acls_req_encode(struct kbuf_w *w, int16_t v,
				 const struct proto_create_acls_req *req)
{
	bool flex = flex_of(PROTO_API_CREATE_ACLS, v);

	if (!proto_api_supported(PROTO_API_CREATE_ACLS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, req->n_creations);
	for (int32_t i = 0; i < req->n_creations; i++) {
		filter_write(w, flex, v, &req->creations[i], false);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_create_acls_req_free(struct proto_create_acls_req *req)
{
	if (req)
		KMSG_FREE(req->creations, req->n_creations);
}

/* CreateAcls' results and DeleteAcls' filter results: n of (code, msg)
 * (and, for DeleteAcls, no matching ACL). */
static int results_write(struct kbuf_w *w, bool flex, const struct proto_acls_result_resp *resp,
			 bool delete)
{
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_results);
	for (int32_t i = 0; i < resp->n_results; i++) {
		kbuf_write_i16(w, resp->error_code);
		kmsg_write_nstr(w, flex, resp->error_message);
		if (delete)
			kmsg_write_len(w, flex, 0);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

/* The same back; every result must carry one code and message (what
 * this broker sends), kept in resp. */
static int results_read(struct kbuf_r *r, bool flex, struct proto_acls_result_resp *resp,
			bool delete)
{
	struct kmsg_dec d;

	memset(resp, 0, sizeof(*resp));
	kmsg_dec_init(&d, r, flex);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_results = kmsg_count(&d, false, 2 + kmsg_str_min(flex), PROTO_MAX_TOPICS);
	for (int32_t i = 0; i < resp->n_results && !r->err; i++) {
		int16_t code = kbuf_read_i16(r);
		struct kstr msg = kmsg_nstr(&d);

		if (i > 0 && (code != resp->error_code || msg.len != resp->error_message.len))
			return -EBADMSG;
		resp->error_code = code;
		resp->error_message = msg;
		if (delete &&kmsg_count(&d, false, 0, 0) != 0)
			return -EBADMSG;
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_create_acls_resp_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_acls_result_resp *resp)
{
	if (!proto_api_supported(PROTO_API_CREATE_ACLS, v))
		return -EOPNOTSUPP;
	return results_write(w, flex_of(PROTO_API_CREATE_ACLS, v), resp, false);
}

int proto_create_acls_resp_decode(struct kbuf_r *r, int16_t v, struct proto_acls_result_resp *resp)
{
	if (!proto_api_supported(PROTO_API_CREATE_ACLS, v))
		return -EOPNOTSUPP;
	return results_read(r, flex_of(PROTO_API_CREATE_ACLS, v), resp, false);
}

/* ---- DeleteAcls ---- */

int proto_delete_acls_req_decode(struct kbuf_r *r, int16_t v, struct proto_delete_acls_req *req)
{
	bool flex = flex_of(PROTO_API_DELETE_ACLS, v);
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DELETE_ACLS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	req->n_filters = kmsg_count(&d, false, 3 * kmsg_str_min(flex) + 3 + (v >= 1) + flex,
				    PROTO_MAX_TOPICS);
	req->filters = kmsg_alloc(&d, req->n_filters, sizeof(*req->filters));
	for (int32_t i = 0; i < req->n_filters && !r->err; i++) {
		filter_read(&d, v, &req->filters[i]);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_delete_acls_req_free(req);
	return rc;
}

int proto_delete_acls_req_encode(struct kbuf_w *w, int16_t v,
				 const struct proto_delete_acls_req *req)
{
	bool flex = flex_of(PROTO_API_DELETE_ACLS, v);

	if (!proto_api_supported(PROTO_API_DELETE_ACLS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, req->n_filters);
	for (int32_t i = 0; i < req->n_filters; i++) {
		filter_write(w, flex, v, &req->filters[i], true);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_delete_acls_req_free(struct proto_delete_acls_req *req)
{
	if (req)
		KMSG_FREE(req->filters, req->n_filters);
}

int proto_delete_acls_resp_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_acls_result_resp *resp)
{
	if (!proto_api_supported(PROTO_API_DELETE_ACLS, v))
		return -EOPNOTSUPP;
	return results_write(w, flex_of(PROTO_API_DELETE_ACLS, v), resp, true);
}

int proto_delete_acls_resp_decode(struct kbuf_r *r, int16_t v, struct proto_acls_result_resp *resp)
{
	if (!proto_api_supported(PROTO_API_DELETE_ACLS, v))
		return -EOPNOTSUPP;
	return results_read(r, flex_of(PROTO_API_DELETE_ACLS, v), resp, true);
}
