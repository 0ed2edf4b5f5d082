/*
 * proto_quotas.c — DescribeClientQuotas (48) and AlterClientQuotas (49),
 * v0 and v1 (v1 flexible: compact forms, TAGGED_FIELDS ending every
 * struct), requests and responses both ways; the structs are in proto.h.
 *
 * DescribeClientQuotas request
 *   components ARRAY of (entity_type STRING, match_type INT8,
 *   match NULLABLE_STRING), strict BOOLEAN
 * DescribeClientQuotas response
 *   throttle_time_ms INT32, error_code INT16, error_message
 *   NULLABLE_STRING, entries NULLABLE ARRAY of (entity ARRAY of
 *   (entity_type STRING, entity_name NULLABLE_STRING), values ARRAY of
 *   (key STRING, value FLOAT64))
 *
 * AlterClientQuotas request
 *   entries ARRAY of (entity ARRAY of (entity_type STRING, entity_name
 *   NULLABLE_STRING), ops ARRAY of (key STRING, value FLOAT64, remove
 *   BOOLEAN)), validate_only BOOLEAN
 * AlterClientQuotas response
 *   throttle_time_ms INT32, entries ARRAY of (error_code INT16,
 *   error_message NULLABLE_STRING, entity ARRAY of (entity_type STRING,
 *   entity_name NULLABLE_STRING))
 *
 * A null entity_name is the default entity (Kafka's <default>). Caps:
 * PROTO_QUOTA_MAX_COMPONENTS parts of an entity (three types exist),
 * PROTO_QUOTA_MAX_VALUES ops or values per entity, PROTO_MAX_TOPICS
 * entries; over a cap the message is refused whole (-E2BIG).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* ---- the entity, in both messages ---- */

static int32_t parts_decode(struct kmsg_dec *d, struct proto_quota_part *parts)
{
	int32_t n = kmsg_count(d, false, kmsg_str_min(d->flex) * 2 + d->flex,
			       PROTO_QUOTA_MAX_COMPONENTS);

	for (int32_t i = 0; i < n && !d->r->err; i++) {
		parts[i].entity_type = kmsg_str(d);
		parts[i].entity_name = kmsg_nstr(d);
		kmsg_tags(d);
	}
	return n;
}

static void parts_encode(struct kbuf_w *w, bool flex, int32_t n,
			 const struct proto_quota_part *parts)
{
	kmsg_write_len(w, flex, n);
	for (int32_t i = 0; i < n; i++) {
		kmsg_write_str(w, flex, parts[i].entity_type);
		kmsg_write_nstr(w, flex, parts[i].entity_name);
		kmsg_write_tags(w, flex);
	}
}

/* ---- DescribeClientQuotas ---- */

int proto_describe_quotas_req_decode(struct kbuf_r *r, int16_t v,
				     struct proto_describe_quotas_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_CLIENT_QUOTAS, v);
	struct kmsg_dec d;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DESCRIBE_CLIENT_QUOTAS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	req->n_components = kmsg_count(&d, false, kmsg_str_min(flex) * 2 + 1 + flex,
				       PROTO_QUOTA_MAX_COMPONENTS);
	for (int32_t i = 0; i < req->n_components && !r->err; i++) {
		req->components[i].entity_type = kmsg_str(&d);
		req->components[i].match_type = kbuf_read_i8(r);
		req->components[i].match = kmsg_nstr(&d);
		kmsg_tags(&d);
	}
	req->strict = kbuf_read_bool(r);
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_describe_quotas_req_encode(struct kbuf_w *w, int16_t v,
				     const struct proto_describe_quotas_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_CLIENT_QUOTAS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_CLIENT_QUOTAS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, req->n_components);
	for (int32_t i = 0; i < req->n_components; i++) {
		kmsg_write_str(w, flex, req->components[i].entity_type);
		kbuf_write_i8(w, req->components[i].match_type);
		kmsg_write_nstr(w, flex, req->components[i].match);
		kmsg_write_tags(w, flex);
	}
	kbuf_write_bool(w, req->strict);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_describe_quotas_resp_encode(struct kbuf_w *w, int16_t v,
				      const struct proto_describe_quotas_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_CLIENT_QUOTAS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_CLIENT_QUOTAS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_nstr(w, flex, resp->error_message);
	kmsg_write_len(w, flex, resp->n_entries);
	for (int32_t i = 0; i < resp->n_entries; i++) {
		const struct proto_quota_entry *e = &resp->entries[i];

		parts_encode(w, flex, e->n_parts, e->parts);
		kmsg_write_len(w, flex, e->n_values);
		for (int32_t j = 0; j < e->n_values; j++) {
			kmsg_write_str(w, flex, e->values[j].key);
			kbuf_write_f64(w, e->values[j].value);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_describe_quotas_resp_decode(struct kbuf_r *r, int16_t v,
				      struct proto_describe_quotas_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_CLIENT_QUOTAS, v);
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_CLIENT_QUOTAS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->error_code = kbuf_read_i16(r);
	resp->error_message = kmsg_nstr(&d);
	resp->n_entries = kmsg_count(&d, true, kmsg_arr_min(flex) * 2 + flex, PROTO_MAX_TOPICS);
	resp->entries = kmsg_alloc(&d, resp->n_entries, sizeof(*resp->entries));
	for (int32_t i = 0; i < resp->n_entries && !r->err; i++) {
		struct proto_quota_entry *e = &resp->entries[i];

		e->n_parts = parts_decode(&d, e->parts);
		e->n_values = kmsg_count(&d, false, kmsg_str_min(flex) + 8 + flex,
					 PROTO_QUOTA_MAX_VALUES);
		e->values = kmsg_alloc(&d, e->n_values, sizeof(*e->values));
		for (int32_t j = 0; j < e->n_values && !r->err; j++) {
			e->values[j].key = kmsg_str(&d);
			e->values[j].value = kbuf_read_f64(r);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_quotas_resp_free(resp);
	return rc;
}

void proto_describe_quotas_resp_free(struct proto_describe_quotas_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->entries && i < resp->n_entries; i++)
		KMSG_FREE(resp->entries[i].values, resp->entries[i].n_values);
	KMSG_FREE(resp->entries, resp->n_entries);
}

/* ---- AlterClientQuotas ---- */

int proto_alter_quotas_req_decode(struct kbuf_r *r, int16_t v, struct proto_alter_quotas_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_ALTER_CLIENT_QUOTAS, v);
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_ALTER_CLIENT_QUOTAS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	req->n_entries = kmsg_count(&d, false, kmsg_arr_min(flex) * 2 + flex, PROTO_MAX_TOPICS);
	req->entries = kmsg_alloc(&d, req->n_entries, sizeof(*req->entries));
	for (int32_t i = 0; i < req->n_entries && !r->err; i++) {
		struct proto_alter_quotas_entry *e = &req->entries[i];

		e->n_parts = parts_decode(&d, e->parts);
		e->n_ops = kmsg_count(&d, false, kmsg_str_min(flex) + 9 + flex,
				      PROTO_QUOTA_MAX_VALUES);
		e->ops = kmsg_alloc(&d, e->n_ops, sizeof(*e->ops));
		for (int32_t j = 0; j < e->n_ops && !r->err; j++) {
			e->ops[j].key = kmsg_str(&d);
			e->ops[j].value = kbuf_read_f64(r);
			e->ops[j].remove = kbuf_read_bool(r);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	req->validate_only = kbuf_read_bool(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_alter_quotas_req_free(req);
	return rc;
}

int proto_alter_quotas_req_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_alter_quotas_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_ALTER_CLIENT_QUOTAS, v);

	if (!proto_api_supported(PROTO_API_ALTER_CLIENT_QUOTAS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, req->n_entries);
	for (int32_t i = 0; i < req->n_entries; i++) {
		const struct proto_alter_quotas_entry *e = &req->entries[i];

		parts_encode(w, flex, e->n_parts, e->parts);
		kmsg_write_len(w, flex, e->n_ops);
		for (int32_t j = 0; j < e->n_ops; j++) {
			kmsg_write_str(w, flex, e->ops[j].key);
			kbuf_write_f64(w, e->ops[j].value);
			kbuf_write_bool(w, e->ops[j].remove);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kbuf_write_bool(w, req->validate_only);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_alter_quotas_req_free(struct proto_alter_quotas_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->entries && i < req->n_entries; i++)
		KMSG_FREE(req->entries[i].ops, req->entries[i].n_ops);
	KMSG_FREE(req->entries, req->n_entries);
}

int proto_alter_quotas_resp_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_alter_quotas_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_ALTER_CLIENT_QUOTAS, v);

	if (!proto_api_supported(PROTO_API_ALTER_CLIENT_QUOTAS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_results);
	for (int32_t i = 0; i < resp->n_results; i++) {
		const struct proto_alter_quotas_result *res = &resp->results[i];

		kbuf_write_i16(w, res->error_code);
		kmsg_write_nstr(w, flex, res->error_message);
		parts_encode(w, flex, res->n_parts, res->parts);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_alter_quotas_resp_decode(struct kbuf_r *r, int16_t v,
				   struct proto_alter_quotas_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_ALTER_CLIENT_QUOTAS, v);
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_ALTER_CLIENT_QUOTAS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_results = kmsg_count(&d, false, 2 + kmsg_str_min(flex) + kmsg_arr_min(flex) + flex,
				     PROTO_MAX_TOPICS);
	resp->results = kmsg_alloc(&d, resp->n_results, sizeof(*resp->results));
	for (int32_t i = 0; i < resp->n_results && !r->err; i++) {
		resp->results[i].error_code = kbuf_read_i16(r);
		resp->results[i].error_message = kmsg_nstr(&d);
		resp->results[i].n_parts = parts_decode(&d, resp->results[i].parts);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_alter_quotas_resp_free(resp);
	return rc;
}

void proto_alter_quotas_resp_free(struct proto_alter_quotas_resp *resp)
{
	if (resp)
		KMSG_FREE(resp->results, resp->n_results);
}
