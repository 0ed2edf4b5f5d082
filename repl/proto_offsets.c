/*
 * proto_offsets.c — the consumer's offset APIs: ListOffsets (2) v0-v7
 * (where a partition starts and ends, or the first offset at a time),
 * OffsetCommit (8) v0-v8 and OffsetFetch (9) v0-v8 (a group's committed
 * positions). Requests and responses, both ways; the structs are in
 * proto.h. "vN+" means from version N; flexible versions (compact forms,
 * TAGGED_FIELDS ending every struct): ListOffsets v6+, OffsetCommit v8+,
 * OffsetFetch v6+.
 *
 * ListOffsets request
 *   replica_id INT32, isolation_level INT8 (v2+),
 *   topics ARRAY of (name STRING, partitions ARRAY of
 *     (partition_index INT32, current_leader_epoch INT32 (v4+),
 *      timestamp INT64, max_num_offsets INT32 (v0)))
 *   timestamp -1 latest, -2 earliest, -3 (v7+) largest timestamp
 * ListOffsets response
 *   throttle_time_ms INT32 (v2+), topics ARRAY of (name STRING,
 *     partitions ARRAY of (partition_index INT32, error_code INT16,
 *       old_style_offsets ARRAY INT64 (v0), timestamp INT64 (v1+),
 *       offset INT64 (v1+), leader_epoch INT32 (v4+)))
 *
 * OffsetCommit request
 *   group_id STRING, generation_id_or_member_epoch INT32 (v1+),
 *   member_id STRING (v1+), group_instance_id NULLABLE_STRING (v7+),
 *   retention_time_ms INT64 (v2-v4),
 *   topics ARRAY of (name STRING, partitions ARRAY of
 *     (partition_index INT32, committed_offset INT64,
 *      committed_leader_epoch INT32 (v6+), commit_timestamp INT64 (v1),
 *      committed_metadata NULLABLE_STRING))
 * OffsetCommit response
 *   throttle_time_ms INT32 (v3+), topics ARRAY of (name STRING,
 *     partitions ARRAY of (partition_index INT32, error_code INT16))
 *
 * OffsetFetch request
 *   v0-7: group_id STRING, topics ARRAY (nullable v2+: every partition)
 *         of (name STRING, partition_indexes ARRAY INT32)
 *   v8:   groups ARRAY of (group_id STRING, topics ARRAY (nullable) of
 *         (name STRING, partition_indexes ARRAY INT32))
 *   require_stable BOOLEAN (v7+)
 * OffsetFetch response
 *   throttle_time_ms INT32 (v3+),
 *   v0-7: topics ARRAY of (name STRING, partitions ARRAY of
 *           (partition_index INT32, committed_offset INT64,
 *            committed_leader_epoch INT32 (v5+), metadata NULLABLE_STRING,
 *            error_code INT16)),
 *         error_code INT16 (v2+)
 *   v8:   groups ARRAY of (group_id STRING, topics (as v7, with the
 *         leader epoch), error_code INT16)
 *
 * Caps: PROTO_MAX_TOPICS per message (per group in OffsetFetch),
 * PROTO_MAX_PARTITIONS summed over the whole message (partition indexes
 * included), PROTO_MAX_GROUPS, PROTO_MAX_OLD_OFFSETS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* ---- ListOffsets ---- */

int proto_list_offsets_req_decode(struct kbuf_r *r, int16_t v, struct proto_list_offsets_req *req)
{
	struct kmsg_dec d;
	size_t pmin, tmin;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_LIST_OFFSETS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_LIST_OFFSETS, v));
	pmin = 4 + (v >= 4 ? 4 : 0) + 8 + (v == 0 ? 4 : 0) + d.flex;
	tmin = kmsg_topic_min(d.flex);
	req->replica_id = kbuf_read_i32(r);
	if (v >= 2)
		req->isolation_level = kbuf_read_i8(r);
	req->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_list_offsets_topic *t = &req->topics[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, pmin);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			struct proto_list_offsets_part *p = &t->partitions[j];

			p->partition_index = kbuf_read_i32(r);
			p->current_leader_epoch = v >= 4 ? kbuf_read_i32(r) : -1;
			p->timestamp = kbuf_read_i64(r);
			p->max_num_offsets = v == 0 ? kbuf_read_i32(r) : 1;
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_list_offsets_req_free(req);
	return rc;
}

int proto_list_offsets_req_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_list_offsets_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_LIST_OFFSETS, v);

	if (!proto_api_supported(PROTO_API_LIST_OFFSETS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, req->replica_id);
	if (v >= 2)
		kbuf_write_i8(w, req->isolation_level);
	kmsg_write_len(w, flex, req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		const struct proto_list_offsets_topic *t = &req->topics[i];

		kmsg_write_str(w, flex, t->name);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			const struct proto_list_offsets_part *p = &t->partitions[j];

			if (v < 7 && p->timestamp == PROTO_LIST_OFFSETS_MAX_TIMESTAMP)
				return -EINVAL;
			kbuf_write_i32(w, p->partition_index);
			if (v >= 4)
				kbuf_write_i32(w, p->current_leader_epoch);
			kbuf_write_i64(w, p->timestamp);
			if (v == 0)
				kbuf_write_i32(w, p->max_num_offsets);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_list_offsets_req_free(struct proto_list_offsets_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->topics && i < req->n_topics; i++)
		free(req->topics[i].partitions);
	KMSG_FREE(req->topics, req->n_topics);
}

static void lo_resp_part_decode(struct kmsg_dec *d, int16_t v,
				struct proto_list_offsets_resp_part *p)
{
	struct kbuf_r *r = d->r;

	p->partition_index = kbuf_read_i32(r);
	p->error_code = kbuf_read_i16(r);
	p->timestamp = p->offset = -1;
	p->leader_epoch = -1;
	if (v == 0) {
		p->n_old_style_offsets = kmsg_count(d, false, 8, PROTO_MAX_OLD_OFFSETS);
		p->old_style_offsets = kmsg_alloc(d, p->n_old_style_offsets, sizeof(int64_t));
		for (int32_t k = 0; k < p->n_old_style_offsets && !r->err; k++)
			p->old_style_offsets[k] = kbuf_read_i64(r);
	} else {
		p->timestamp = kbuf_read_i64(r);
		p->offset = kbuf_read_i64(r);
	}
	if (v >= 4)
		p->leader_epoch = kbuf_read_i32(r);
	kmsg_tags(d);
}

int proto_list_offsets_resp_decode(struct kbuf_r *r, int16_t v,
				   struct proto_list_offsets_resp *resp)
{
	struct kmsg_dec d;
	size_t pmin, tmin;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_LIST_OFFSETS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_LIST_OFFSETS, v));
	pmin = 4 + 2 + (v == 0 ? 4 : 16) + (v >= 4 ? 4 : 0) + d.flex;
	tmin = kmsg_topic_min(d.flex);
	if (v >= 2)
		resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++) {
		struct proto_list_offsets_resp_topic *t = &resp->topics[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, pmin);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++)
			lo_resp_part_decode(&d, v, &t->partitions[j]);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_list_offsets_resp_free(resp);
	return rc;
}

int proto_list_offsets_resp_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_list_offsets_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_LIST_OFFSETS, v);

	if (!proto_api_supported(PROTO_API_LIST_OFFSETS, v))
		return -EOPNOTSUPP;
	if (v >= 2)
		kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics; i++) {
		const struct proto_list_offsets_resp_topic *t = &resp->topics[i];

		kmsg_write_str(w, flex, t->name);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			const struct proto_list_offsets_resp_part *p = &t->partitions[j];

			kbuf_write_i32(w, p->partition_index);
			kbuf_write_i16(w, p->error_code);
			if (v == 0) {
				kmsg_write_len(w, flex, p->n_old_style_offsets);
				for (int32_t k = 0; k < p->n_old_style_offsets; k++)
					kbuf_write_i64(w, p->old_style_offsets[k]);
			} else {
				kbuf_write_i64(w, p->timestamp);
				kbuf_write_i64(w, p->offset);
			}
			if (v >= 4)
				kbuf_write_i32(w, p->leader_epoch);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_list_offsets_resp_free(struct proto_list_offsets_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++) {
		struct proto_list_offsets_resp_topic *t = &resp->topics[i];

		for (int32_t j = 0; t->partitions && j < t->n_partitions; j++)
			free(t->partitions[j].old_style_offsets);
		free(t->partitions);
	}
	KMSG_FREE(resp->topics, resp->n_topics);
}

/* ---- OffsetCommit ---- */

int proto_offset_commit_req_decode(struct kbuf_r *r, int16_t v, struct proto_offset_commit_req *req)
{
	struct kmsg_dec d;
	size_t pmin, tmin;
	int rc;

	memset(req, 0, sizeof(*req));
	req->generation_id = -1;
	req->member_id = kstr_of("");
	req->group_instance_id = KSTR_NULL;
	req->retention_time_ms = -1;
	if (!proto_api_supported(PROTO_API_OFFSET_COMMIT, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_OFFSET_COMMIT, v));
	pmin = 4 + 8 + (v >= 6 ? 4 : 0) + (v == 1 ? 8 : 0) + kmsg_str_min(d.flex) + d.flex;
	tmin = kmsg_topic_min(d.flex);
	req->group_id = kmsg_str(&d);
	if (v >= 1) {
		req->generation_id = kbuf_read_i32(r);
		req->member_id = kmsg_str(&d);
	}
	if (v >= 7)
		req->group_instance_id = kmsg_nstr(&d);
	if (v >= 2 && v <= 4)
		req->retention_time_ms = kbuf_read_i64(r);
	req->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_offset_commit_topic *t = &req->topics[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, pmin);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			struct proto_offset_commit_part *p = &t->partitions[j];

			p->partition_index = kbuf_read_i32(r);
			p->committed_offset = kbuf_read_i64(r);
			p->committed_leader_epoch = v >= 6 ? kbuf_read_i32(r) : -1;
			p->commit_timestamp = v == 1 ? kbuf_read_i64(r) : -1;
			p->committed_metadata = kmsg_nstr(&d);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_offset_commit_req_free(req);
	return rc;
}

int proto_offset_commit_req_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_offset_commit_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_OFFSET_COMMIT, v);

	if (!proto_api_supported(PROTO_API_OFFSET_COMMIT, v))
		return -EOPNOTSUPP;
	kmsg_write_str(w, flex, req->group_id);
	if (v >= 1) {
		kbuf_write_i32(w, req->generation_id);
		kmsg_write_str(w, flex, req->member_id);
	}
	if (v >= 7)
		kmsg_write_nstr(w, flex, req->group_instance_id);
	if (v >= 2 && v <= 4)
		kbuf_write_i64(w, req->retention_time_ms);
	kmsg_write_len(w, flex, req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		const struct proto_offset_commit_topic *t = &req->topics[i];

		kmsg_write_str(w, flex, t->name);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			const struct proto_offset_commit_part *p = &t->partitions[j];

			kbuf_write_i32(w, p->partition_index);
			kbuf_write_i64(w, p->committed_offset);
			if (v >= 6)
				kbuf_write_i32(w, p->committed_leader_epoch);
			if (v == 1)
				kbuf_write_i64(w, p->commit_timestamp);
			kmsg_write_nstr(w, flex, p->committed_metadata);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_offset_commit_req_free(struct proto_offset_commit_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->topics && i < req->n_topics; i++)
		free(req->topics[i].partitions);
	KMSG_FREE(req->topics, req->n_topics);
}

int proto_offset_commit_resp_decode(struct kbuf_r *r, int16_t v,
				    struct proto_offset_commit_resp *resp)
{
	struct kmsg_dec d;
	size_t tmin;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_OFFSET_COMMIT, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_OFFSET_COMMIT, v));
	tmin = kmsg_topic_min(d.flex);
	if (v >= 3)
		resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++) {
		struct proto_offset_commit_resp_topic *t = &resp->topics[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, 6 + d.flex);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			t->partitions[j].partition_index = kbuf_read_i32(r);
			t->partitions[j].error_code = kbuf_read_i16(r);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_offset_commit_resp_free(resp);
	return rc;
}

int proto_offset_commit_resp_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_offset_commit_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_OFFSET_COMMIT, v);

	if (!proto_api_supported(PROTO_API_OFFSET_COMMIT, v))
		return -EOPNOTSUPP;
	if (v >= 3)
		kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics; i++) {
		const struct proto_offset_commit_resp_topic *t = &resp->topics[i];

		kmsg_write_str(w, flex, t->name);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			kbuf_write_i32(w, t->partitions[j].partition_index);
			kbuf_write_i16(w, t->partitions[j].error_code);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_offset_commit_resp_free(struct proto_offset_commit_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++)
		free(resp->topics[i].partitions);
	KMSG_FREE(resp->topics, resp->n_topics);
}

/* ---- OffsetFetch ---- */

/* A group's topics (null allowed from v2): the partition indexes are
 * charged to the message's partition allowance like partitions are. */
static void of_topics_decode(struct kmsg_dec *d, int16_t v, struct proto_offset_fetch_group *g)
{
	struct kbuf_r *r = d->r;
	size_t tmin = kmsg_topic_min(d->flex);

	g->n_topics = kmsg_count(d, v >= 2, tmin, PROTO_MAX_TOPICS);
	g->topics = kmsg_alloc(d, g->n_topics, sizeof(*g->topics));
	for (int32_t i = 0; i < g->n_topics && !r->err; i++) {
		struct proto_offset_fetch_topic *t = &g->topics[i];

		t->name = kmsg_str(d);
		t->n_partition_indexes = kmsg_parts(d, 4);
		t->partition_indexes = kmsg_alloc(d, t->n_partition_indexes, sizeof(int32_t));
		for (int32_t j = 0; j < t->n_partition_indexes && !r->err; j++)
			t->partition_indexes[j] = kbuf_read_i32(r);
		kmsg_tags(d);
	}
}

int proto_offset_fetch_req_decode(struct kbuf_r *r, int16_t v, struct proto_offset_fetch_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_OFFSET_FETCH, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_OFFSET_FETCH, v));
	if (v >= 8) {
		size_t gmin = kmsg_topic_min(d.flex);

		req->n_groups = kmsg_count(&d, false, gmin, PROTO_MAX_GROUPS);
	} else {
		req->n_groups = 1;
	}
	req->groups = kmsg_alloc(&d, req->n_groups, sizeof(*req->groups));
	for (int32_t i = 0; i < req->n_groups && !r->err; i++) {
		req->groups[i].group_id = kmsg_str(&d);
		of_topics_decode(&d, v, &req->groups[i]);
		if (v >= 8)
			kmsg_tags(&d);
	}
	if (v >= 7)
		req->require_stable = kbuf_read_bool(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_offset_fetch_req_free(req);
	return rc;
}

int proto_offset_fetch_req_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_offset_fetch_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_OFFSET_FETCH, v);

	if (!proto_api_supported(PROTO_API_OFFSET_FETCH, v))
		return -EOPNOTSUPP;
	if (v < 8 && req->n_groups != 1)
		return -EINVAL;
	for (int32_t i = 0; i < req->n_groups; i++)
		if (v < 2 && req->groups[i].n_topics < 0)
			return -EINVAL;
	if (v >= 8)
		kmsg_write_len(w, flex, req->n_groups);
	for (int32_t i = 0; i < req->n_groups; i++) {
		const struct proto_offset_fetch_group *g = &req->groups[i];

		kmsg_write_str(w, flex, g->group_id);
		kmsg_write_len(w, flex, g->n_topics);
		for (int32_t j = 0; j < g->n_topics; j++) {
			kmsg_write_str(w, flex, g->topics[j].name);
			kmsg_write_i32s(w, flex, g->topics[j].n_partition_indexes,
					g->topics[j].partition_indexes);
			kmsg_write_tags(w, flex);
		}
		if (v >= 8)
			kmsg_write_tags(w, flex);
	}
	if (v >= 7)
		kbuf_write_bool(w, req->require_stable);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_offset_fetch_req_free(struct proto_offset_fetch_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->groups && i < req->n_groups; i++) {
		struct proto_offset_fetch_group *g = &req->groups[i];

		for (int32_t j = 0; g->topics && j < g->n_topics; j++)
			free(g->topics[j].partition_indexes);
		free(g->topics);
	}
	KMSG_FREE(req->groups, req->n_groups);
}

static void of_resp_topics_decode(struct kmsg_dec *d, int16_t v,
				  struct proto_offset_fetch_resp_group *g)
{
	struct kbuf_r *r = d->r;
	size_t tmin = kmsg_topic_min(d->flex);
	size_t pmin = 4 + 8 + (v >= 5 ? 4 : 0) + kmsg_str_min(d->flex) + 2 + d->flex;

	g->n_topics = kmsg_count(d, false, tmin, PROTO_MAX_TOPICS);
	g->topics = kmsg_alloc(d, g->n_topics, sizeof(*g->topics));
	for (int32_t i = 0; i < g->n_topics && !r->err; i++) {
		struct proto_offset_fetch_resp_topic *t = &g->topics[i];

		t->name = kmsg_str(d);
		t->n_partitions = kmsg_parts(d, pmin);
		t->partitions = kmsg_alloc(d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			struct proto_offset_fetch_resp_part *p = &t->partitions[j];

			p->partition_index = kbuf_read_i32(r);
			p->committed_offset = kbuf_read_i64(r);
			p->committed_leader_epoch = v >= 5 ? kbuf_read_i32(r) : -1;
			p->metadata = kmsg_nstr(d);
			p->error_code = kbuf_read_i16(r);
			kmsg_tags(d);
		}
		kmsg_tags(d);
	}
}

int proto_offset_fetch_resp_decode(struct kbuf_r *r, int16_t v,
				   struct proto_offset_fetch_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_OFFSET_FETCH, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_OFFSET_FETCH, v));
	if (v >= 3)
		resp->throttle_time_ms = kbuf_read_i32(r);
	if (v >= 8) {
		size_t gmin = kmsg_topic_min(d.flex) + 2;

		resp->n_groups = kmsg_count(&d, false, gmin, PROTO_MAX_GROUPS);
	} else {
		resp->n_groups = 1;
	}
	resp->groups = kmsg_alloc(&d, resp->n_groups, sizeof(*resp->groups));
	for (int32_t i = 0; i < resp->n_groups && !r->err; i++) {
		struct proto_offset_fetch_resp_group *g = &resp->groups[i];

		g->group_id = v >= 8 ? kmsg_str(&d) : KSTR_NULL;
		of_resp_topics_decode(&d, v, g);
		if (v >= 2)
			g->error_code = kbuf_read_i16(r);
		if (v >= 8)
			kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_offset_fetch_resp_free(resp);
	return rc;
}

int proto_offset_fetch_resp_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_offset_fetch_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_OFFSET_FETCH, v);

	if (!proto_api_supported(PROTO_API_OFFSET_FETCH, v))
		return -EOPNOTSUPP;
	if (v < 8 && resp->n_groups != 1)
		return -EINVAL;
	if (v >= 3)
		kbuf_write_i32(w, resp->throttle_time_ms);
	if (v >= 8)
		kmsg_write_len(w, flex, resp->n_groups);
	for (int32_t i = 0; i < resp->n_groups; i++) {
		const struct proto_offset_fetch_resp_group *g = &resp->groups[i];

		if (v >= 8)
			kmsg_write_str(w, flex, g->group_id);
		kmsg_write_len(w, flex, g->n_topics);
		for (int32_t j = 0; j < g->n_topics; j++) {
			const struct proto_offset_fetch_resp_topic *t = &g->topics[j];

			kmsg_write_str(w, flex, t->name);
			kmsg_write_len(w, flex, t->n_partitions);
			for (int32_t k = 0; k < t->n_partitions; k++) {
				const struct proto_offset_fetch_resp_part *p = &t->partitions[k];

				kbuf_write_i32(w, p->partition_index);
				kbuf_write_i64(w, p->committed_offset);
				if (v >= 5)
					kbuf_write_i32(w, p->committed_leader_epoch);
				kmsg_write_nstr(w, flex, p->metadata);
				kbuf_write_i16(w, p->error_code);
				kmsg_write_tags(w, flex);
			}
			kmsg_write_tags(w, flex);
		}
		if (v >= 2)
			kbuf_write_i16(w, g->error_code);
		if (v >= 8)
			kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_offset_fetch_resp_free(struct proto_offset_fetch_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->groups && i < resp->n_groups; i++) {
		struct proto_offset_fetch_resp_group *g = &resp->groups[i];

		for (int32_t j = 0; g->topics && j < g->n_topics; j++)
			free(g->topics[j].partitions);
		free(g->topics);
	}
	KMSG_FREE(resp->groups, resp->n_groups);
}
