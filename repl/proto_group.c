/*
 * proto_group.c — the consumer group APIs: FindCoordinator (10) v0-v4,
 * JoinGroup (11) v0-v9, Heartbeat (12) v0-v4, LeaveGroup (13) v0-v5,
 * SyncGroup (14) v0-v5, and the consumer protocol's subscription and
 * assignment that ride inside JoinGroup and SyncGroup as bytes. Requests
 * and responses both ways; the structs are in proto.h. Flexible versions
 * (compact forms, TAGGED_FIELDS ending every struct): FindCoordinator v3+,
 * JoinGroup v6+, Heartbeat, LeaveGroup and SyncGroup v4+.
 *
 * FindCoordinator request
 *   key STRING (v0-3), key_type INT8 (v1+), coordinator_keys ARRAY
 *   STRING (v4+)
 * FindCoordinator response
 *   throttle_time_ms INT32 (v1+),
 *   v0-3: error_code INT16, error_message NULLABLE_STRING (v1+),
 *         node_id INT32, host STRING, port INT32
 *   v4:   coordinators ARRAY of (key STRING, node_id INT32, host STRING,
 *         port INT32, error_code INT16, error_message NULLABLE_STRING)
 *
 * JoinGroup request
 *   group_id STRING, session_timeout_ms INT32, rebalance_timeout_ms INT32
 *   (v1+), member_id STRING, group_instance_id NULLABLE_STRING (v5+),
 *   protocol_type STRING, protocols ARRAY of (name STRING, metadata
 *   BYTES), reason NULLABLE_STRING (v8+)
 * JoinGroup response
 *   throttle_time_ms INT32 (v2+), error_code INT16, generation_id INT32,
 *   protocol_type NULLABLE_STRING (v7+), protocol_name STRING (nullable
 *   v7+), leader STRING, skip_assignment BOOLEAN (v9+), member_id STRING,
 *   members ARRAY of (member_id STRING, group_instance_id NULLABLE_STRING
 *   (v5+), metadata BYTES)
 *
 * SyncGroup request
 *   group_id STRING, generation_id INT32, member_id STRING,
 *   group_instance_id NULLABLE_STRING (v3+), protocol_type
 *   NULLABLE_STRING (v5+), protocol_name NULLABLE_STRING (v5+),
 *   assignments ARRAY of (member_id STRING, assignment BYTES)
 * SyncGroup response
 *   throttle_time_ms INT32 (v1+), error_code INT16, protocol_type
 *   NULLABLE_STRING (v5+), protocol_name NULLABLE_STRING (v5+),
 *   assignment BYTES
 *
 * Heartbeat request: group_id STRING, generation_id INT32, member_id
 *   STRING, group_instance_id NULLABLE_STRING (v3+)
 * Heartbeat response: throttle_time_ms INT32 (v1+), error_code INT16
 *
 * LeaveGroup request
 *   group_id STRING, member_id STRING (v0-2), members ARRAY (v3+) of
 *   (member_id STRING, group_instance_id NULLABLE_STRING, reason
 *   NULLABLE_STRING (v5+))
 * LeaveGroup response
 *   throttle_time_ms INT32 (v1+), error_code INT16, members ARRAY (v3+)
 *   of (member_id STRING, group_instance_id NULLABLE_STRING, error_code
 *   INT16)
 *
 * Consumer protocol (never flexible, INT16 version first):
 *   subscription: version INT16, topics ARRAY STRING, user_data
 *     NULLABLE_BYTES, owned_partitions ARRAY (v1+) of (topic STRING,
 *     partitions ARRAY INT32), generation_id INT32 (v2+), rack_id
 *     NULLABLE_STRING (v3+)
 *   assignment: version INT16, assigned_partitions ARRAY of (topic
 *     STRING, partitions ARRAY INT32), user_data NULLABLE_BYTES
 *   A negative version is malformed; one above 3 is read as 3 with the
 *   bytes after our fields ignored.
 *
 * Caps: PROTO_MAX_COORD_KEYS, PROTO_MAX_PROTOCOLS, PROTO_MAX_MEMBERS,
 * PROTO_MAX_TOPICS and PROTO_MAX_PARTITIONS (summed) in the consumer
 * protocol.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

static struct kstr bytes_read(struct kmsg_dec *d)
{
	return kbuf_read_bytes(d->r, d->flex, false);
}

static void bytes_write(struct kbuf_w *w, bool flex, struct kstr b)
{
	kbuf_write_bytes(w, b, flex, false);
}

/* The fields several of these messages have in the same order, at the
 * same versions, read and written by one pair of functions each. */

/* throttle_time_ms INT32 (from version throttle_since), error_code INT16:
 * how the JoinGroup, SyncGroup, Heartbeat and LeaveGroup responses begin. */
static void resp_head_read(struct kbuf_r *r, int16_t v, int16_t throttle_since,
			   int32_t *throttle_time_ms, int16_t *error_code)
{
	if (v >= throttle_since)
		*throttle_time_ms = kbuf_read_i32(r);
	*error_code = kbuf_read_i16(r);
}

static void resp_head_write(struct kbuf_w *w, int16_t v, int16_t throttle_since,
			    int32_t throttle_time_ms, int16_t error_code)
{
	if (v >= throttle_since)
		kbuf_write_i32(w, throttle_time_ms);
	kbuf_write_i16(w, error_code);
}

/* group_id STRING, generation_id INT32, member_id STRING,
 * group_instance_id NULLABLE_STRING (v3+): a member of a generation, as
 * the SyncGroup and Heartbeat requests name it. */
static void generation_member_read(struct kmsg_dec *d, int16_t v, struct kstr *group_id,
				   int32_t *generation_id, struct kstr *member_id,
				   struct kstr *group_instance_id)
{
	*group_id = kmsg_str(d);
	*generation_id = kbuf_read_i32(d->r);
	*member_id = kmsg_str(d);
	if (v >= 3)
		*group_instance_id = kmsg_nstr(d);
}

static void generation_member_write(struct kbuf_w *w, bool flex, int16_t v, struct kstr group_id,
				    int32_t generation_id, struct kstr member_id,
				    struct kstr group_instance_id)
{
	kmsg_write_str(w, flex, group_id);
	kbuf_write_i32(w, generation_id);
	kmsg_write_str(w, flex, member_id);
	if (v >= 3)
		kmsg_write_nstr(w, flex, group_instance_id);
}

/* protocol_type NULLABLE_STRING, protocol_name NULLABLE_STRING, both v5+
 * (SyncGroup request and response). */
static void protocol_pair_read(struct kmsg_dec *d, int16_t v, struct kstr *protocol_type,
			       struct kstr *protocol_name)
{
	if (v >= 5) {
		*protocol_type = kmsg_nstr(d);
		*protocol_name = kmsg_nstr(d);
	}
}

static void protocol_pair_write(struct kbuf_w *w, bool flex, int16_t v, struct kstr protocol_type,
				struct kstr protocol_name)
{
	if (v >= 5) {
		kmsg_write_nstr(w, flex, protocol_type);
		kmsg_write_nstr(w, flex, protocol_name);
	}
}

/* ---- FindCoordinator ---- */

int proto_find_coord_req_decode(struct kbuf_r *r, int16_t v, struct proto_find_coord_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_FIND_COORDINATOR, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_FIND_COORDINATOR, v));
	if (v <= 3) {
		req->n_keys = 1;
		req->keys = kmsg_alloc(&d, 1, sizeof(*req->keys));
		if (req->keys)
			req->keys[0] = kmsg_str(&d);
	}
	if (v >= 1)
		req->key_type = kbuf_read_i8(r);
	if (v >= 4)
		req->n_keys = kmsg_strs(&d, false, PROTO_MAX_COORD_KEYS, &req->keys);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_find_coord_req_free(req);
	return rc;
}

int proto_find_coord_req_encode(struct kbuf_w *w, int16_t v, const struct proto_find_coord_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_FIND_COORDINATOR, v);

	if (!proto_api_supported(PROTO_API_FIND_COORDINATOR, v))
		return -EOPNOTSUPP;
	if (v <= 3 && req->n_keys != 1)
		return -EINVAL;
	if (v <= 3)
		kmsg_write_str(w, flex, req->keys[0]);
	if (v >= 1)
		kbuf_write_i8(w, req->key_type);
	if (v >= 4)
		kmsg_write_strs(w, flex, req->n_keys, req->keys);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_find_coord_req_free(struct proto_find_coord_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->keys, req->n_keys);
}

int proto_find_coord_resp_decode(struct kbuf_r *r, int16_t v, struct proto_find_coord_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_FIND_COORDINATOR, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_FIND_COORDINATOR, v));
	if (v >= 1)
		resp->throttle_time_ms = kbuf_read_i32(r);
	if (v >= 4) {
		size_t cmin = 2 * kmsg_str_min(d.flex) + 4 + 4 + 2 + kmsg_str_min(d.flex) + d.flex;

		resp->n_coordinators = kmsg_count(&d, false, cmin, PROTO_MAX_COORD_KEYS);
	} else {
		resp->n_coordinators = 1;
	}
	resp->coordinators = kmsg_alloc(&d, resp->n_coordinators, sizeof(*resp->coordinators));
	for (int32_t i = 0; i < resp->n_coordinators && !r->err; i++) {
		struct proto_coordinator *c = &resp->coordinators[i];

		c->key = KSTR_NULL;
		c->error_message = KSTR_NULL;
		if (v >= 4) {
			c->key = kmsg_str(&d);
		} else {
			c->error_code = kbuf_read_i16(r);
			if (v >= 1)
				c->error_message = kmsg_nstr(&d);
		}
		c->node_id = kbuf_read_i32(r);
		c->host = kmsg_str(&d);
		c->port = kbuf_read_i32(r);
		if (v >= 4) {
			c->error_code = kbuf_read_i16(r);
			c->error_message = kmsg_nstr(&d);
			kmsg_tags(&d);
		}
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_find_coord_resp_free(resp);
	return rc;
}

int proto_find_coord_resp_encode(struct kbuf_w *w, int16_t v,
				 const struct proto_find_coord_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_FIND_COORDINATOR, v);

	if (!proto_api_supported(PROTO_API_FIND_COORDINATOR, v))
		return -EOPNOTSUPP;
	if (v <= 3 && resp->n_coordinators != 1)
		return -EINVAL;
	if (v >= 1)
		kbuf_write_i32(w, resp->throttle_time_ms);
	if (v >= 4)
		kmsg_write_len(w, flex, resp->n_coordinators);
	for (int32_t i = 0; i < resp->n_coordinators; i++) {
		const struct proto_coordinator *c = &resp->coordinators[i];

		if (v >= 4) {
			kmsg_write_str(w, flex, c->key);
		} else {
			kbuf_write_i16(w, c->error_code);
			if (v >= 1)
				kmsg_write_nstr(w, flex, c->error_message);
		}
		kbuf_write_i32(w, c->node_id);
		kmsg_write_str(w, flex, c->host);
		kbuf_write_i32(w, c->port);
		if (v >= 4) {
			kbuf_write_i16(w, c->error_code);
			kmsg_write_nstr(w, flex, c->error_message);
			kmsg_write_tags(w, flex);
		}
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_find_coord_resp_free(struct proto_find_coord_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->coordinators, resp->n_coordinators);
}

/* ---- JoinGroup ---- */

int proto_join_req_decode(struct kbuf_r *r, int16_t v, struct proto_join_req *req)
{
	struct kmsg_dec d;
	size_t pmin;
	int rc;

	memset(req, 0, sizeof(*req));
	req->rebalance_timeout_ms = -1;
	req->group_instance_id = KSTR_NULL;
	req->reason = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_JOIN_GROUP, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_JOIN_GROUP, v));
	pmin = kmsg_str_min(d.flex) + (d.flex ? 1 : 4) + d.flex;
	req->group_id = kmsg_str(&d);
	req->session_timeout_ms = kbuf_read_i32(r);
	if (v >= 1)
		req->rebalance_timeout_ms = kbuf_read_i32(r);
	req->member_id = kmsg_str(&d);
	if (v >= 5)
		req->group_instance_id = kmsg_nstr(&d);
	req->protocol_type = kmsg_str(&d);
	req->n_protocols = kmsg_count(&d, false, pmin, PROTO_MAX_PROTOCOLS);
	req->protocols = kmsg_alloc(&d, req->n_protocols, sizeof(*req->protocols));
	for (int32_t i = 0; i < req->n_protocols && !r->err; i++) {
		req->protocols[i].name = kmsg_str(&d);
		req->protocols[i].metadata = bytes_read(&d);
		kmsg_tags(&d);
	}
	if (v >= 8)
		req->reason = kmsg_nstr(&d);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_join_req_free(req);
	return rc;
}

int proto_join_req_encode(struct kbuf_w *w, int16_t v, const struct proto_join_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_JOIN_GROUP, v);

	if (!proto_api_supported(PROTO_API_JOIN_GROUP, v))
		return -EOPNOTSUPP;
	kmsg_write_str(w, flex, req->group_id);
	kbuf_write_i32(w, req->session_timeout_ms);
	if (v >= 1)
		kbuf_write_i32(w, req->rebalance_timeout_ms);
	kmsg_write_str(w, flex, req->member_id);
	if (v >= 5)
		kmsg_write_nstr(w, flex, req->group_instance_id);
	kmsg_write_str(w, flex, req->protocol_type);
	kmsg_write_len(w, flex, req->n_protocols);
	for (int32_t i = 0; i < req->n_protocols; i++) {
		kmsg_write_str(w, flex, req->protocols[i].name);
		bytes_write(w, flex, req->protocols[i].metadata);
		kmsg_write_tags(w, flex);
	}
	if (v >= 8)
		kmsg_write_nstr(w, flex, req->reason);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_join_req_free(struct proto_join_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->protocols, req->n_protocols);
}

int proto_join_resp_decode(struct kbuf_r *r, int16_t v, struct proto_join_resp *resp)
{
	struct kmsg_dec d;
	size_t mmin;
	int rc;

	memset(resp, 0, sizeof(*resp));
	resp->protocol_type = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_JOIN_GROUP, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_JOIN_GROUP, v));
	mmin = kmsg_str_min(d.flex) * (v >= 5 ? 2 : 1) + (d.flex ? 1 : 4) + d.flex;
	resp_head_read(r, v, 2, &resp->throttle_time_ms, &resp->error_code);
	resp->generation_id = kbuf_read_i32(r);
	if (v >= 7)
		resp->protocol_type = kmsg_nstr(&d);
	resp->protocol_name = v >= 7 ? kmsg_nstr(&d) : kmsg_str(&d);
	resp->leader = kmsg_str(&d);
	if (v >= 9)
		resp->skip_assignment = kbuf_read_bool(r);
	resp->member_id = kmsg_str(&d);
	resp->n_members = kmsg_count(&d, false, mmin, PROTO_MAX_MEMBERS);
	resp->members = kmsg_alloc(&d, resp->n_members, sizeof(*resp->members));
	for (int32_t i = 0; i < resp->n_members && !r->err; i++) {
		struct proto_join_member *m = &resp->members[i];

		m->member_id = kmsg_str(&d);
		m->group_instance_id = v >= 5 ? kmsg_nstr(&d) : KSTR_NULL;
		m->metadata = bytes_read(&d);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_join_resp_free(resp);
	return rc;
}

int proto_join_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_join_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_JOIN_GROUP, v);

	if (!proto_api_supported(PROTO_API_JOIN_GROUP, v))
		return -EOPNOTSUPP;
	if (v < 7 && resp->protocol_name.len < 0)
		return -EINVAL;
	resp_head_write(w, v, 2, resp->throttle_time_ms, resp->error_code);
	kbuf_write_i32(w, resp->generation_id);
	if (v >= 7)
		kmsg_write_nstr(w, flex, resp->protocol_type);
	kbuf_write_string(w, resp->protocol_name, flex, v >= 7);
	kmsg_write_str(w, flex, resp->leader);
	if (v >= 9)
		kbuf_write_bool(w, resp->skip_assignment);
	kmsg_write_str(w, flex, resp->member_id);
	kmsg_write_len(w, flex, resp->n_members);
	for (int32_t i = 0; i < resp->n_members; i++) {
		const struct proto_join_member *m = &resp->members[i];

		kmsg_write_str(w, flex, m->member_id);
		if (v >= 5)
			kmsg_write_nstr(w, flex, m->group_instance_id);
		bytes_write(w, flex, m->metadata);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_join_resp_free(struct proto_join_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->members, resp->n_members);
}

/* ---- SyncGroup ---- */

int proto_sync_req_decode(struct kbuf_r *r, int16_t v, struct proto_sync_req *req)
{
	struct kmsg_dec d;
	size_t amin;
	int rc;

	memset(req, 0, sizeof(*req));
	req->group_instance_id = req->protocol_type = req->protocol_name = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_SYNC_GROUP, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_SYNC_GROUP, v));
	amin = kmsg_str_min(d.flex) + (d.flex ? 1 : 4) + d.flex;
	generation_member_read(&d, v, &req->group_id, &req->generation_id, &req->member_id,
			       &req->group_instance_id);
	protocol_pair_read(&d, v, &req->protocol_type, &req->protocol_name);
	req->n_assignments = kmsg_count(&d, false, amin, PROTO_MAX_MEMBERS);
	req->assignments = kmsg_alloc(&d, req->n_assignments, sizeof(*req->assignments));
	for (int32_t i = 0; i < req->n_assignments && !r->err; i++) {
		req->assignments[i].member_id = kmsg_str(&d);
		req->assignments[i].assignment = bytes_read(&d);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_sync_req_free(req);
	return rc;
}

int proto_sync_req_encode(struct kbuf_w *w, int16_t v, const struct proto_sync_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_SYNC_GROUP, v);

	if (!proto_api_supported(PROTO_API_SYNC_GROUP, v))
		return -EOPNOTSUPP;
	generation_member_write(w, flex, v, req->group_id, req->generation_id, req->member_id,
				req->group_instance_id);
	protocol_pair_write(w, flex, v, req->protocol_type, req->protocol_name);
	kmsg_write_len(w, flex, req->n_assignments);
	for (int32_t i = 0; i < req->n_assignments; i++) {
		kmsg_write_str(w, flex, req->assignments[i].member_id);
		bytes_write(w, flex, req->assignments[i].assignment);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_sync_req_free(struct proto_sync_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->assignments, req->n_assignments);
}

int proto_sync_resp_decode(struct kbuf_r *r, int16_t v, struct proto_sync_resp *resp)
{
	struct kmsg_dec d;

	memset(resp, 0, sizeof(*resp));
	resp->protocol_type = resp->protocol_name = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_SYNC_GROUP, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_SYNC_GROUP, v));
	resp_head_read(r, v, 1, &resp->throttle_time_ms, &resp->error_code);
	protocol_pair_read(&d, v, &resp->protocol_type, &resp->protocol_name);
	resp->assignment = bytes_read(&d);
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_sync_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_sync_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_SYNC_GROUP, v);

	if (!proto_api_supported(PROTO_API_SYNC_GROUP, v))
		return -EOPNOTSUPP;
	resp_head_write(w, v, 1, resp->throttle_time_ms, resp->error_code);
	protocol_pair_write(w, flex, v, resp->protocol_type, resp->protocol_name);
	bytes_write(w, flex, resp->assignment);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

/* ---- Heartbeat ---- */

int proto_heartbeat_req_decode(struct kbuf_r *r, int16_t v, struct proto_heartbeat_req *req)
{
	struct kmsg_dec d;

	memset(req, 0, sizeof(*req));
	req->group_instance_id = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_HEARTBEAT, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_HEARTBEAT, v));
	generation_member_read(&d, v, &req->group_id, &req->generation_id, &req->member_id,
			       &req->group_instance_id);
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_heartbeat_req_encode(struct kbuf_w *w, int16_t v, const struct proto_heartbeat_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_HEARTBEAT, v);

	if (!proto_api_supported(PROTO_API_HEARTBEAT, v))
		return -EOPNOTSUPP;
	generation_member_write(w, flex, v, req->group_id, req->generation_id, req->member_id,
				req->group_instance_id);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_heartbeat_resp_decode(struct kbuf_r *r, int16_t v, struct proto_heartbeat_resp *resp)
{
	struct kmsg_dec d;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_HEARTBEAT, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_HEARTBEAT, v));
	resp_head_read(r, v, 1, &resp->throttle_time_ms, &resp->error_code);
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_heartbeat_resp_encode(struct kbuf_w *w, int16_t v,
				const struct proto_heartbeat_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_HEARTBEAT, v);

	if (!proto_api_supported(PROTO_API_HEARTBEAT, v))
		return -EOPNOTSUPP;
	resp_head_write(w, v, 1, resp->throttle_time_ms, resp->error_code);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

/* ---- LeaveGroup ---- */

int proto_leave_req_decode(struct kbuf_r *r, int16_t v, struct proto_leave_req *req)
{
	struct kmsg_dec d;
	size_t mmin;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_LEAVE_GROUP, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_LEAVE_GROUP, v));
	mmin = kmsg_str_min(d.flex) * (v >= 5 ? 3 : 2) + d.flex;
	req->group_id = kmsg_str(&d);
	if (v <= 2)
		req->n_members = 1;
	else
		req->n_members = kmsg_count(&d, false, mmin, PROTO_MAX_MEMBERS);
	req->members = kmsg_alloc(&d, req->n_members, sizeof(*req->members));
	for (int32_t i = 0; i < req->n_members && !r->err; i++) {
		struct proto_leave_member *m = &req->members[i];

		m->member_id = kmsg_str(&d);
		m->group_instance_id = v >= 3 ? kmsg_nstr(&d) : KSTR_NULL;
		m->reason = v >= 5 ? kmsg_nstr(&d) : KSTR_NULL;
		if (v >= 3)
			kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_leave_req_free(req);
	return rc;
}

int proto_leave_req_encode(struct kbuf_w *w, int16_t v, const struct proto_leave_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_LEAVE_GROUP, v);

	if (!proto_api_supported(PROTO_API_LEAVE_GROUP, v))
		return -EOPNOTSUPP;
	if (v <= 2 && req->n_members != 1)
		return -EINVAL;
	kmsg_write_str(w, flex, req->group_id);
	if (v >= 3)
		kmsg_write_len(w, flex, req->n_members);
	for (int32_t i = 0; i < req->n_members; i++) {
		const struct proto_leave_member *m = &req->members[i];

		kmsg_write_str(w, flex, m->member_id);
		if (v >= 3)
			kmsg_write_nstr(w, flex, m->group_instance_id);
		if (v >= 5)
			kmsg_write_nstr(w, flex, m->reason);
		if (v >= 3)
			kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_leave_req_free(struct proto_leave_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->members, req->n_members);
}

int proto_leave_resp_decode(struct kbuf_r *r, int16_t v, struct proto_leave_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_LEAVE_GROUP, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_LEAVE_GROUP, v));
	resp_head_read(r, v, 1, &resp->throttle_time_ms, &resp->error_code);
	if (v >= 3) {
		size_t mmin = 2 * kmsg_str_min(d.flex) + 2 + d.flex;

		resp->n_members = kmsg_count(&d, false, mmin, PROTO_MAX_MEMBERS);
		resp->members = kmsg_alloc(&d, resp->n_members, sizeof(*resp->members));
		for (int32_t i = 0; i < resp->n_members && !r->err; i++) {
			struct proto_leave_member *m = &resp->members[i];

			m->member_id = kmsg_str(&d);
			m->group_instance_id = kmsg_nstr(&d);
			m->reason = KSTR_NULL;
			m->error_code = kbuf_read_i16(r);
			kmsg_tags(&d);
		}
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_leave_resp_free(resp);
	return rc;
}

int proto_leave_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_leave_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_LEAVE_GROUP, v);

	if (!proto_api_supported(PROTO_API_LEAVE_GROUP, v))
		return -EOPNOTSUPP;
	resp_head_write(w, v, 1, resp->throttle_time_ms, resp->error_code);
	if (v >= 3) {
		kmsg_write_len(w, flex, resp->n_members);
		for (int32_t i = 0; i < resp->n_members; i++) {
			const struct proto_leave_member *m = &resp->members[i];

			kmsg_write_str(w, flex, m->member_id);
			kmsg_write_nstr(w, flex, m->group_instance_id);
			kbuf_write_i16(w, m->error_code);
			kmsg_write_tags(w, flex);
		}
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_leave_resp_free(struct proto_leave_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->members, resp->n_members);
}

/* ---- consumer protocol ---- */

/* (topic, partitions) lists; partitions are charged to the allowance. */
static int32_t tps_decode(struct kmsg_dec *d, struct proto_topic_partitions **out)
{
	struct kbuf_r *r = d->r;
	int32_t n = kmsg_count(d, false, 2 + 4, PROTO_MAX_TOPICS);
	struct proto_topic_partitions *tps = kmsg_alloc(d, n, sizeof(*tps));

	*out = tps;
	for (int32_t i = 0; i < n && !r->err; i++) {
		tps[i].topic = kmsg_str(d);
		tps[i].n_partitions = kmsg_parts(d, 4);
		tps[i].partitions = kmsg_alloc(d, tps[i].n_partitions, sizeof(int32_t));
		for (int32_t j = 0; j < tps[i].n_partitions && !r->err; j++)
			tps[i].partitions[j] = kbuf_read_i32(r);
	}
	/* Counted as allocated, so that _free reaches every element. */
	return tps ? n : 0;
}

static void tps_write(struct kbuf_w *w, int32_t n, const struct proto_topic_partitions *tps)
{
	kmsg_write_len(w, false, n);
	for (int32_t i = 0; i < n; i++) {
		kmsg_write_str(w, false, tps[i].topic);
		kmsg_write_i32s(w, false, tps[i].n_partitions, tps[i].partitions);
	}
}

static void tps_free(int32_t n, struct proto_topic_partitions *tps)
{
	for (int32_t i = 0; tps && i < n; i++)
		free(tps[i].partitions);
	free(tps);
}

/* The version, read as ours when newer. *newer says whether bytes after
 * our fields are to be ignored. */
static int16_t cp_version(struct kbuf_r *r, bool *newer)
{
	int16_t v = kbuf_read_i16(r);

	*newer = v > PROTO_CONSUMER_PROTOCOL_MAX_VERSION;
	if (v < 0)
		kbuf_r_fail(r);
	return *newer ? PROTO_CONSUMER_PROTOCOL_MAX_VERSION : v;
}

static int cp_end(struct kmsg_dec *d, bool newer)
{
	if (newer && !d->r->err)
		kbuf_r_skip(d->r, kbuf_r_left(d->r));
	return kmsg_end(d);
}

int proto_consumer_sub_decode(const uint8_t *buf, size_t len, struct proto_consumer_sub *sub)
{
	struct kbuf_r r;
	struct kmsg_dec d;
	bool newer;
	int rc;

	memset(sub, 0, sizeof(*sub));
	sub->generation_id = -1;
	sub->rack_id = KSTR_NULL;
	kbuf_r_init(&r, buf, len);
	kmsg_dec_init(&d, &r, false);
	sub->version = cp_version(&r, &newer);
	sub->n_topics = kmsg_strs(&d, false, PROTO_MAX_TOPICS, &sub->topics);
	sub->user_data = kbuf_read_bytes(&r, false, true);
	if (sub->version >= 1)
		sub->n_owned_partitions = tps_decode(&d, &sub->owned_partitions);
	if (sub->version >= 2)
		sub->generation_id = kbuf_read_i32(&r);
	if (sub->version >= 3)
		sub->rack_id = kmsg_nstr(&d);
	rc = cp_end(&d, newer);
	if (rc)
		proto_consumer_sub_free(sub);
	return rc;
}

int proto_consumer_sub_encode(struct kbuf_w *w, const struct proto_consumer_sub *sub)
{
	if (sub->version < 0 || sub->version > PROTO_CONSUMER_PROTOCOL_MAX_VERSION)
		return -EOPNOTSUPP;
	kbuf_write_i16(w, sub->version);
	kmsg_write_strs(w, false, sub->n_topics, sub->topics);
	kbuf_write_bytes(w, sub->user_data, false, true);
	if (sub->version >= 1)
		tps_write(w, sub->n_owned_partitions, sub->owned_partitions);
	if (sub->version >= 2)
		kbuf_write_i32(w, sub->generation_id);
	if (sub->version >= 3)
		kmsg_write_nstr(w, false, sub->rack_id);
	return kbuf_w_err(w);
}

void proto_consumer_sub_free(struct proto_consumer_sub *sub)
{
	if (!sub)
		return;
	free(sub->topics);
	tps_free(sub->n_owned_partitions, sub->owned_partitions);
	sub->topics = NULL;
	sub->owned_partitions = NULL;
	sub->n_topics = sub->n_owned_partitions = 0;
}

int proto_consumer_asg_decode(const uint8_t *buf, size_t len, struct proto_consumer_asg *asg)
{
	struct kbuf_r r;
	struct kmsg_dec d;
	bool newer;
	int rc;

	memset(asg, 0, sizeof(*asg));
	kbuf_r_init(&r, buf, len);
	kmsg_dec_init(&d, &r, false);
	asg->version = cp_version(&r, &newer);
	asg->n_assigned = tps_decode(&d, &asg->assigned_partitions);
	asg->user_data = kbuf_read_bytes(&r, false, true);
	rc = cp_end(&d, newer);
	if (rc)
		proto_consumer_asg_free(asg);
	return rc;
}

int proto_consumer_asg_encode(struct kbuf_w *w, const struct proto_consumer_asg *asg)
{
	if (asg->version < 0 || asg->version > PROTO_CONSUMER_PROTOCOL_MAX_VERSION)
		return -EOPNOTSUPP;
	kbuf_write_i16(w, asg->version);
	tps_write(w, asg->n_assigned, asg->assigned_partitions);
	kbuf_write_bytes(w, asg->user_data, false, true);
	return kbuf_w_err(w);
}

void proto_consumer_asg_free(struct proto_consumer_asg *asg)
{
	if (!asg)
		return;
	tps_free(asg->n_assigned, asg->assigned_partitions);
	asg->assigned_partitions = NULL;
	asg->n_assigned = 0;
}
