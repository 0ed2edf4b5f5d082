/*
 * proto_group_admin.c — the group admin APIs: DescribeGroups (15) v0-v5,
 * DeleteGroups (42) v0-v2 and OffsetDelete (47) v0, requests and
 * responses both ways; the structs are in proto.h. Flexible versions
 * (compact forms, TAGGED_FIELDS ending every struct): DescribeGroups v5+,
 * DeleteGroups v2+; OffsetDelete has none.
 *
 * DescribeGroups request
 *   groups ARRAY STRING, include_authorized_operations BOOLEAN (v3+)
 * DescribeGroups response
 *   throttle_time_ms INT32 (v1+), groups ARRAY of (error_code INT16,
 *   group_id STRING, group_state STRING, protocol_type STRING,
 *   protocol_data STRING, members ARRAY of (member_id STRING,
 *   group_instance_id NULLABLE_STRING (v4+), client_id STRING,
 *   client_host STRING, member_metadata BYTES, member_assignment BYTES),
 *   authorized_operations INT32 (v3+))
 *
 * DeleteGroups request
 *   groups_names ARRAY STRING
 * DeleteGroups response
 *   throttle_time_ms INT32, results ARRAY of (group_id STRING,
 *   error_code INT16)
 *
 * OffsetDelete request
 *   group_id STRING, topics ARRAY of (name STRING, partitions ARRAY of
 *   (partition_index INT32))
 * OffsetDelete response
 *   error_code INT16, throttle_time_ms INT32, topics ARRAY of (name
 *   STRING, partitions ARRAY of (partition_index INT32, error_code INT16))
 *
 * Caps: PROTO_MAX_GROUPS names or results, PROTO_MAX_MEMBERS members of
 * one described group; PROTO_MAX_TOPICS topics and PROTO_MAX_PARTITIONS
 * partitions of an OffsetDelete.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* ---- DescribeGroups ---- */

int proto_describe_groups_req_decode(struct kbuf_r *r, int16_t v,
				     struct proto_describe_groups_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DESCRIBE_GROUPS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DESCRIBE_GROUPS, v));
	req->n_groups = kmsg_strs(&d, false, PROTO_MAX_GROUPS, &req->groups);
	if (v >= 3)
		req->include_authorized_operations = kbuf_read_bool(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_groups_req_free(req);
	return rc;
}

int proto_describe_groups_req_encode(struct kbuf_w *w, int16_t v,
				     const struct proto_describe_groups_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_GROUPS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_GROUPS, v))
		return -EOPNOTSUPP;
	kmsg_write_strs(w, flex, req->n_groups, req->groups);
	if (v >= 3)
		kbuf_write_bool(w, req->include_authorized_operations);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_describe_groups_req_free(struct proto_describe_groups_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->groups, req->n_groups);
}

int proto_describe_groups_resp_decode(struct kbuf_r *r, int16_t v,
				      struct proto_describe_groups_resp *resp)
{
	struct kmsg_dec d;
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_GROUPS, v);
	/* error, four strings, members, authorized ops, tags */
	size_t gmin = 2 + 4 * kmsg_str_min(flex) + kmsg_arr_min(flex) + (v >= 3 ? 4 : 0) + flex;
	size_t mmin = 5 * kmsg_str_min(flex) + 2 * kmsg_arr_min(flex) + flex;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_GROUPS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	if (v >= 1)
		resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_groups = kmsg_count(&d, false, gmin, PROTO_MAX_GROUPS);
	resp->groups = kmsg_alloc(&d, resp->n_groups, sizeof(*resp->groups));
	for (int32_t i = 0; i < resp->n_groups && !r->err; i++) {
		struct proto_described_group *g = &resp->groups[i];

		g->error_code = kbuf_read_i16(r);
		g->group_id = kmsg_str(&d);
		g->group_state = kmsg_str(&d);
		g->protocol_type = kmsg_str(&d);
		g->protocol_data = kmsg_str(&d);
		g->n_members = kmsg_count(&d, false, mmin, PROTO_MAX_MEMBERS);
		g->members = kmsg_alloc(&d, g->n_members, sizeof(*g->members));
		for (int32_t j = 0; j < g->n_members && !r->err; j++) {
			struct proto_described_member *m = &g->members[j];

			m->member_id = kmsg_str(&d);
			m->group_instance_id = v >= 4 ? kmsg_nstr(&d) : KSTR_NULL;
			m->client_id = kmsg_str(&d);
			m->client_host = kmsg_str(&d);
			m->member_metadata = kbuf_read_bytes(r, flex, false);
			m->member_assignment = kbuf_read_bytes(r, flex, false);
			kmsg_tags(&d);
		}
		g->authorized_operations = v >= 3 ? kbuf_read_i32(r) : INT32_MIN;
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_groups_resp_free(resp);
	return rc;
}

int proto_describe_groups_resp_encode(struct kbuf_w *w, int16_t v,
				      const struct proto_describe_groups_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_GROUPS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_GROUPS, v))
		return -EOPNOTSUPP;
	if (v >= 1)
		kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_groups);
	for (int32_t i = 0; i < resp->n_groups; i++) {
		const struct proto_described_group *g = &resp->groups[i];

		kbuf_write_i16(w, g->error_code);
		kmsg_write_str(w, flex, g->group_id);
		kmsg_write_str(w, flex, g->group_state);
		kmsg_write_str(w, flex, g->protocol_type);
		kmsg_write_str(w, flex, g->protocol_data);
		kmsg_write_len(w, flex, g->n_members);
		for (int32_t j = 0; j < g->n_members; j++) {
			const struct proto_described_member *m = &g->members[j];

			kmsg_write_str(w, flex, m->member_id);
			if (v >= 4)
				kmsg_write_nstr(w, flex, m->group_instance_id);
			kmsg_write_str(w, flex, m->client_id);
			kmsg_write_str(w, flex, m->client_host);
			kbuf_write_bytes(w, m->member_metadata, flex, false);
			kbuf_write_bytes(w, m->member_assignment, flex, false);
			kmsg_write_tags(w, flex);
		}
		if (v >= 3)
			kbuf_write_i32(w, g->authorized_operations);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_describe_groups_resp_free(struct proto_describe_groups_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->groups && i < resp->n_groups; i++)
		KMSG_FREE(resp->groups[i].members, resp->groups[i].n_members);
	KMSG_FREE(resp->groups, resp->n_groups);
}

/* ---- DeleteGroups ---- */

int proto_delete_groups_req_decode(struct kbuf_r *r, int16_t v, struct proto_delete_groups_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DELETE_GROUPS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DELETE_GROUPS, v));
	req->n_groups = kmsg_strs(&d, false, PROTO_MAX_GROUPS, &req->groups_names);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_delete_groups_req_free(req);
	return rc;
}

int proto_delete_groups_req_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_delete_groups_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_DELETE_GROUPS, v);

	if (!proto_api_supported(PROTO_API_DELETE_GROUPS, v))
		return -EOPNOTSUPP;
	kmsg_write_strs(w, flex, req->n_groups, req->groups_names);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_delete_groups_req_free(struct proto_delete_groups_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->groups_names, req->n_groups);
}

int proto_delete_groups_resp_decode(struct kbuf_r *r, int16_t v,
				    struct proto_delete_groups_resp *resp)
{
	struct kmsg_dec d;
	bool flex = proto_is_flexible(PROTO_API_DELETE_GROUPS, v);
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DELETE_GROUPS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_results = kmsg_count(&d, false, kmsg_str_min(flex) + 2 + flex, PROTO_MAX_GROUPS);
	resp->results = kmsg_alloc(&d, resp->n_results, sizeof(*resp->results));
	for (int32_t i = 0; i < resp->n_results && !r->err; i++) {
		resp->results[i].group_id = kmsg_str(&d);
		resp->results[i].error_code = kbuf_read_i16(r);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_delete_groups_resp_free(resp);
	return rc;
}

int proto_delete_groups_resp_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_delete_groups_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_DELETE_GROUPS, v);

	if (!proto_api_supported(PROTO_API_DELETE_GROUPS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_results);
	for (int32_t i = 0; i < resp->n_results; i++) {
		kmsg_write_str(w, flex, resp->results[i].group_id);
		kbuf_write_i16(w, resp->results[i].error_code);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_delete_groups_resp_free(struct proto_delete_groups_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->results, resp->n_results);
}

/* ---- OffsetDelete ---- */

int proto_offset_delete_req_decode(struct kbuf_r *r, int16_t v, struct proto_offset_delete_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_OFFSET_DELETE, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, false);
	req->group_id = kmsg_str(&d);
	req->n_topics = kmsg_count(&d, false, kmsg_topic_min(false), PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_offset_delete_topic *t = &req->topics[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, 4);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++)
			t->partitions[j] = kbuf_read_i32(r);
	}
	rc = kmsg_end(&d);
	if (rc)
		proto_offset_delete_req_free(req);
	return rc;
}

int proto_offset_delete_req_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_offset_delete_req *req)
{
	if (!proto_api_supported(PROTO_API_OFFSET_DELETE, v))
		return -EOPNOTSUPP;
	kmsg_write_str(w, false, req->group_id);
	kmsg_write_len(w, false, req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		kmsg_write_str(w, false, req->topics[i].name);
		kmsg_write_i32s(w, false, req->topics[i].n_partitions, req->topics[i].partitions);
	}
	return kbuf_w_err(w);
}

void proto_offset_delete_req_free(struct proto_offset_delete_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->topics && i < req->n_topics; i++)
		free(req->topics[i].partitions);
	KMSG_FREE(req->topics, req->n_topics);
}

int proto_offset_delete_resp_decode(struct kbuf_r *r, int16_t v,
				    struct proto_offset_delete_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_OFFSET_DELETE, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, false);
	resp->error_code = kbuf_read_i16(r);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_topics = kmsg_count(&d, false, kmsg_topic_min(false), PROTO_MAX_TOPICS);
	resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++) {
		struct proto_offset_commit_resp_topic *t = &resp->topics[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, 6);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			t->partitions[j].partition_index = kbuf_read_i32(r);
			t->partitions[j].error_code = kbuf_read_i16(r);
		}
	}
	rc = kmsg_end(&d);
	if (rc)
		proto_offset_delete_resp_free(resp);
	return rc;
}

int proto_offset_delete_resp_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_offset_delete_resp *resp)
{
	if (!proto_api_supported(PROTO_API_OFFSET_DELETE, v))
		return -EOPNOTSUPP;
	kbuf_write_i16(w, resp->error_code);
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, false, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics; i++) {
		const struct proto_offset_commit_resp_topic *t = &resp->topics[i];

		kmsg_write_str(w, false, t->name);
		kmsg_write_len(w, false, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			kbuf_write_i32(w, t->partitions[j].partition_index);
			kbuf_write_i16(w, t->partitions[j].error_code);
		}
	}
	return kbuf_w_err(w);
}

void proto_offset_delete_resp_free(struct proto_offset_delete_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++)
		free(resp->topics[i].partitions);
	KMSG_FREE(resp->topics, resp->n_topics);
}
