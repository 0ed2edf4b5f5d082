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
 * Caps: PROTO_MAX_TOPICS creations, filters, results, resources, ACLs
 * of one resource or matching ACLs of one filter.
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

static bool same_resource(const struct proto_acl *a, const struct proto_acl *b)
{
	return a->resource_type == b->resource_type && a->pattern_type == b->pattern_type &&
	       kstr_same(a->resource_name, b->resource_name);
}

int proto_describe_acls_resp_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_describe_acls_resp *resp)
{
	bool flex = flex_of(PROTO_API_DESCRIBE_ACLS, v);
	int32_t n_res = 0;

	if (!proto_api_supported(PROTO_API_DESCRIBE_ACLS, v))
		return -EOPNOTSUPP;
	for (int32_t i = 0; i < resp->n_acls; i++)
		n_res += i == 0 || !same_resource(&resp->acls[i - 1], &resp->acls[i]);
	kbuf_write_i32(w, resp->throttle_time_ms);
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_nstr(w, flex, resp->error_message);
	kmsg_write_len(w, flex, n_res);
	for (int32_t i = 0; i < resp->n_acls;) {
		const struct proto_acl *r = &resp->acls[i];
		int32_t k = 0;

		while (i + k < resp->n_acls && same_resource(r, &resp->acls[i + k]))
			k++;
		kbuf_write_i8(w, r->resource_type);
		kmsg_write_str(w, flex, r->resource_name);
		if (v >= 1)
			kbuf_write_i8(w, r->pattern_type);
		kmsg_write_len(w, flex, k);
		for (int32_t j = 0; j < k; j++) {
			const struct proto_acl *a = &resp->acls[i + j];

			kmsg_write_str(w, flex, a->principal);
			kmsg_write_str(w, flex, a->host);
			kbuf_write_i8(w, a->operation);
			kbuf_write_i8(w, a->permission_type);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
		i += k;
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

/* Appends one resource's ACLs to *v (n, cap). */
static int acls_grow(struct proto_acl **v, int32_t *cap, int32_t need)
{
	if (need <= *cap)
		return 0;
	int32_t c = *cap ? *cap * 2 : 8;
	while (c < need)
		c *= 2;
	struct proto_acl *nv = realloc(*v, (size_t)c * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = c;
	return 0;
}

int proto_describe_acls_resp_decode(struct kbuf_r *r, int16_t v,
				    struct proto_describe_acls_resp *resp)
{
	bool flex = flex_of(PROTO_API_DESCRIBE_ACLS, v);
	struct kmsg_dec d;
	int32_t n_res, cap = 0;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_ACLS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->error_code = kbuf_read_i16(r);
	resp->error_message = kmsg_nstr(&d);
	n_res = kmsg_count(&d, false, kmsg_str_min(flex) + 2, PROTO_MAX_TOPICS);
	for (int32_t i = 0; i < n_res && !r->err; i++) {
		struct proto_acl res = { 0 };
		int32_t n;

		res.resource_type = kbuf_read_i8(r);
		res.resource_name = kmsg_str(&d);
		res.pattern_type = v >= 1 ? kbuf_read_i8(r) : PROTO_ACL_PATTERN_LITERAL;
		n = kmsg_count(&d, false, 2 * kmsg_str_min(flex) + 2, PROTO_MAX_TOPICS);
		if (acls_grow(&resp->acls, &cap, resp->n_acls + n) < 0) {
			proto_describe_acls_resp_free(resp);
			return -ENOMEM;
		}
		for (int32_t j = 0; j < n && !r->err; j++) {
			struct proto_acl *a = &resp->acls[resp->n_acls++];

			*a = res;
			a->principal = kmsg_str(&d);
			a->host = kmsg_str(&d);
			a->operation = kbuf_read_i8(r);
			a->permission_type = kbuf_read_i8(r);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_acls_resp_free(resp);
	return rc;
}

void proto_describe_acls_resp_free(struct proto_describe_acls_resp *resp)
{
	if (resp) {
		free(resp->acls);
		resp->acls = NULL;
		resp->n_acls = 0;
	}
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

/* CreateAcls' results and DeleteAcls' filter results (with, for
 * DeleteAcls, the ACLs each deleted). */
static int results_write(struct kbuf_w *w, bool flex, int16_t v,
			 const struct proto_acls_result_resp *resp, bool delete)
{
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_results);
	for (int32_t i = 0; i < resp->n_results; i++) {
		const struct proto_acls_result *res = &resp->results[i];

		kbuf_write_i16(w, res->error_code);
		kmsg_write_nstr(w, flex, res->error_message);
		if (delete) {
			kmsg_write_len(w, flex, res->n_matching);
			for (int32_t j = 0; j < res->n_matching; j++) {
				kbuf_write_i16(w, 0);
				kmsg_write_nstr(w, flex, KSTR_NULL);
				filter_write(w, flex, v, &res->matching[j], false);
				kmsg_write_tags(w, flex);
			}
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

static void results_free(struct proto_acls_result_resp *resp)
{
	for (int32_t i = 0; resp->results && i < resp->n_results; i++)
		free(resp->results[i].matching);
	free(resp->results);
	resp->results = NULL;
	resp->n_results = 0;
}

/* The same back; a matching ACL's own error must be none (what this
 * broker sends). */
static int results_read(struct kbuf_r *r, bool flex, int16_t v, struct proto_acls_result_resp *resp,
			bool delete)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	kmsg_dec_init(&d, r, flex);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_results = kmsg_count(&d, false, 2 + kmsg_str_min(flex), PROTO_MAX_TOPICS);
	resp->results = calloc((size_t)resp->n_results + 1, sizeof(*resp->results));
	if (!resp->results) {
		resp->n_results = 0;
		return -ENOMEM;
	}
	for (int32_t i = 0; i < resp->n_results && !r->err; i++) {
		struct proto_acls_result *res = &resp->results[i];

		res->error_code = kbuf_read_i16(r);
		res->error_message = kmsg_nstr(&d);
		if (delete) {
			int32_t n =
				kmsg_count(&d, false, 3 * kmsg_str_min(flex) + 7, PROTO_MAX_TOPICS);

			res->matching = calloc((size_t)n + 1, sizeof(*res->matching));
			if (!res->matching) {
				results_free(resp);
				return -ENOMEM;
			}
			for (int32_t j = 0; j < n && !r->err; j++) {
				if (kbuf_read_i16(r) != 0 || kmsg_nstr(&d).ptr)
					r->err = -EBADMSG;
				filter_read(&d, v, &res->matching[j]);
				res->n_matching++;
				kmsg_tags(&d);
			}
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		results_free(resp);
	return rc;
}

int proto_create_acls_resp_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_acls_result_resp *resp)
{
	if (!proto_api_supported(PROTO_API_CREATE_ACLS, v))
		return -EOPNOTSUPP;
	return results_write(w, flex_of(PROTO_API_CREATE_ACLS, v), v, resp, false);
}

int proto_create_acls_resp_decode(struct kbuf_r *r, int16_t v, struct proto_acls_result_resp *resp)
{
	if (!proto_api_supported(PROTO_API_CREATE_ACLS, v))
		return -EOPNOTSUPP;
	return results_read(r, flex_of(PROTO_API_CREATE_ACLS, v), v, resp, false);
}

void proto_create_acls_resp_free(struct proto_acls_result_resp *resp)
{
	if (resp)
		results_free(resp);
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
	return results_write(w, flex_of(PROTO_API_DELETE_ACLS, v), v, resp, true);
}

int proto_delete_acls_resp_decode(struct kbuf_r *r, int16_t v, struct proto_acls_result_resp *resp)
{
	if (!proto_api_supported(PROTO_API_DELETE_ACLS, v))
		return -EOPNOTSUPP;
	return results_read(r, flex_of(PROTO_API_DELETE_ACLS, v), v, resp, true);
}

void proto_delete_acls_resp_free(struct proto_acls_result_resp *resp)
{
	if (resp)
		results_free(resp);
}
