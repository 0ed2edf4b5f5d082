/*
 * proto_group_list.c — ListGroups (16) v0-v5, request and response both
 * ways; the structs are in proto.h. Flexible versions (compact forms,
 * TAGGED_FIELDS ending every struct): v3+.
 *
 * ListGroups request
 *   states_filter ARRAY STRING (v4+), types_filter ARRAY STRING (v5+)
 *   (v0-v2: an empty body)
 * ListGroups response
 *   throttle_time_ms INT32 (v1+), error_code INT16, groups ARRAY of
 *   (group_id STRING, protocol_type STRING, group_state STRING (v4+),
 *   group_type STRING (v5+))
 *
 * Caps: PROTO_MAX_GROUPS filter entries; a response lists at most
 * PROTO_MAX_LISTED_GROUPS groups (a decoder refuses more, -EBADMSG).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

int proto_list_groups_req_decode(struct kbuf_r *r, int16_t v, struct proto_list_groups_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_LIST_GROUPS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_LIST_GROUPS, v));
	if (v >= 4)
		req->n_states_filter = kmsg_strs(&d, false, PROTO_MAX_GROUPS, &req->states_filter);
	if (v >= 5)
		req->n_types_filter = kmsg_strs(&d, false, PROTO_MAX_GROUPS, &req->types_filter);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_list_groups_req_free(req);
	return rc;
}

int proto_list_groups_req_encode(struct kbuf_w *w, int16_t v,
				 const struct proto_list_groups_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_LIST_GROUPS, v);

	if (!proto_api_supported(PROTO_API_LIST_GROUPS, v))
		return -EOPNOTSUPP;
	if (v >= 4)
		kmsg_write_strs(w, flex, req->n_states_filter, req->states_filter);
	if (v >= 5)
		kmsg_write_strs(w, flex, req->n_types_filter, req->types_filter);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_list_groups_req_free(struct proto_list_groups_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->states_filter, req->n_states_filter);
	KMSG_FREE(req->types_filter, req->n_types_filter);
}

int proto_list_groups_resp_decode(struct kbuf_r *r, int16_t v, struct proto_list_groups_resp *resp)
{
	struct kmsg_dec d;
	bool flex = proto_is_flexible(PROTO_API_LIST_GROUPS, v);
	int nstr = 2 + (v >= 4) + (v >= 5);
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_LIST_GROUPS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, flex);
	if (v >= 1)
		resp->throttle_time_ms = kbuf_read_i32(r);
	resp->error_code = kbuf_read_i16(r);
	resp->n_groups = kmsg_count(&d, false, (size_t)nstr * kmsg_str_min(flex) + flex,
				    PROTO_MAX_LISTED_GROUPS);
	resp->groups = kmsg_alloc(&d, resp->n_groups, sizeof(*resp->groups));
	for (int32_t i = 0; i < resp->n_groups && !r->err; i++) {
		struct proto_listed_group *g = &resp->groups[i];

		g->group_id = kmsg_str(&d);
		g->protocol_type = kmsg_str(&d);
		g->group_state = v >= 4 ? kmsg_str(&d) : KSTR_NULL;
		g->group_type = v >= 5 ? kmsg_str(&d) : KSTR_NULL;
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_list_groups_resp_free(resp);
	return rc;
}

int proto_list_groups_resp_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_list_groups_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_LIST_GROUPS, v);

	if (!proto_api_supported(PROTO_API_LIST_GROUPS, v))
		return -EOPNOTSUPP;
	if (v >= 1)
		kbuf_write_i32(w, resp->throttle_time_ms);
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_len(w, flex, resp->n_groups);
	for (int32_t i = 0; i < resp->n_groups; i++) {
		const struct proto_listed_group *g = &resp->groups[i];

		kmsg_write_str(w, flex, g->group_id);
		kmsg_write_str(w, flex, g->protocol_type);
		if (v >= 4)
			kmsg_write_str(w, flex, g->group_state);
		if (v >= 5)
			kmsg_write_str(w, flex, g->group_type);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_list_groups_resp_free(struct proto_list_groups_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->groups, resp->n_groups);
}
