/*
 * proto_meta.c — Metadata (3) v0-v12: which brokers there are and which
 * broker leads each partition, the first question of every Kafka client
 * after ApiVersions. Request and response both ways; the structs are in
 * proto.h. Flexible from v9 (compact forms, TAGGED_FIELDS ending every
 * struct).
 *
 * Request
 *   topics ARRAY of (topic_id UUID (v10+), name STRING (nullable v10+)),
 *     nullable from v1: null asks for every topic; v0 asks for every topic
 *     with an empty array (and so cannot ask for none)
 *   allow_auto_topic_creation BOOLEAN (v4+)
 *   include_cluster_authorized_operations BOOLEAN (v8-v10)
 *   include_topic_authorized_operations BOOLEAN (v8+)
 * Response
 *   throttle_time_ms INT32 (v3+),
 *   brokers ARRAY of (node_id INT32, host STRING, port INT32,
 *                     rack NULLABLE_STRING (v1+)),
 *   cluster_id NULLABLE_STRING (v2+), controller_id INT32 (v1+),
 *   topics ARRAY of
 *     error_code INT16, name STRING (nullable v12+), topic_id UUID (v10+),
 *     is_internal BOOLEAN (v1+), partitions ARRAY of
 *       error_code INT16, partition_index INT32, leader_id INT32,
 *       leader_epoch INT32 (v7+), replica_nodes ARRAY INT32,
 *       isr_nodes ARRAY INT32, offline_replicas ARRAY INT32 (v5+)
 *     topic_authorized_operations INT32 (v8+)
 *   cluster_authorized_operations INT32 (v8-v10)
 *
 * Decoded "every topic" is always n_topics -1, whatever the version, so the
 * broker asks one question. Caps: PROTO_MAX_TOPICS, PROTO_MAX_PARTITIONS
 * over the message, PROTO_MAX_BROKERS brokers and ids per replica list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* ---- request ---- */

int proto_meta_req_decode(struct kbuf_r *r, int16_t v, struct proto_meta_req *req)
{
	struct kmsg_dec d;
	size_t topic_min;
	int rc;

	memset(req, 0, sizeof(*req));
	req->allow_auto_topic_creation = true;
	if (!proto_api_supported(PROTO_API_METADATA, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_METADATA, v));
	topic_min = (v >= 10 ? 16 : 0) + kmsg_str_min(d.flex) + d.flex;
	req->n_topics = kmsg_count(&d, v >= 1, topic_min, PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_meta_req_topic *t = &req->topics[i];

		if (v >= 10)
			kbuf_read_uuid(r, t->topic_id);
		t->name = v >= 10 ? kmsg_nstr(&d) : kmsg_str(&d);
		kmsg_tags(&d);
	}
	if (v == 0 && req->n_topics == 0)
		req->n_topics = -1;
	if (v >= 4)
		req->allow_auto_topic_creation = kbuf_read_bool(r);
	if (v >= 8 && v <= 10)
		req->include_cluster_authorized_operations = kbuf_read_bool(r);
	if (v >= 8)
		req->include_topic_authorized_operations = kbuf_read_bool(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_meta_req_free(req);
	return rc;
}

int proto_meta_req_encode(struct kbuf_w *w, int16_t v, const struct proto_meta_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_METADATA, v);

	if (!proto_api_supported(PROTO_API_METADATA, v))
		return -EOPNOTSUPP;
	if (v == 0 && req->n_topics == 0)
		return -EINVAL;
	kmsg_write_len(w, flex, v == 0 && req->n_topics < 0 ? 0 : req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		if (v >= 10)
			kbuf_write_uuid(w, req->topics[i].topic_id);
		kbuf_write_string(w, req->topics[i].name, flex, v >= 10);
		kmsg_write_tags(w, flex);
	}
	if (v >= 4)
		kbuf_write_bool(w, req->allow_auto_topic_creation);
	if (v >= 8 && v <= 10)
		kbuf_write_bool(w, req->include_cluster_authorized_operations);
	if (v >= 8)
		kbuf_write_bool(w, req->include_topic_authorized_operations);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_meta_req_free(struct proto_meta_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->topics, req->n_topics);
}

/* ---- response ---- */

static void broker_decode(struct kmsg_dec *d, int16_t v, struct proto_meta_broker *b)
{
	b->node_id = kbuf_read_i32(d->r);
	b->host = kmsg_str(d);
	b->port = kbuf_read_i32(d->r);
	b->rack = v >= 1 ? kmsg_nstr(d) : KSTR_NULL;
	kmsg_tags(d);
}

static size_t part_min(int16_t v, bool flex)
{
	return 2 + 4 + 4 + (v >= 7 ? 4 : 0) + 2 * kmsg_arr_min(flex) +
	       (v >= 5 ? kmsg_arr_min(flex) : 0) + flex;
}

static void part_decode(struct kmsg_dec *d, int16_t v, struct proto_meta_part *p)
{
	struct kbuf_r *r = d->r;

	p->error_code = kbuf_read_i16(r);
	p->partition_index = kbuf_read_i32(r);
	p->leader_id = kbuf_read_i32(r);
	p->leader_epoch = v >= 7 ? kbuf_read_i32(r) : -1;
	p->n_replica_nodes = kmsg_i32s(d, false, PROTO_MAX_BROKERS, &p->replica_nodes);
	p->n_isr_nodes = kmsg_i32s(d, false, PROTO_MAX_BROKERS, &p->isr_nodes);
	if (v >= 5)
		p->n_offline_replicas =
			kmsg_i32s(d, false, PROTO_MAX_BROKERS, &p->offline_replicas);
	kmsg_tags(d);
}

static void topic_decode(struct kmsg_dec *d, int16_t v, struct proto_meta_topic *t)
{
	struct kbuf_r *r = d->r;

	t->error_code = kbuf_read_i16(r);
	t->name = v >= 12 ? kmsg_nstr(d) : kmsg_str(d);
	if (v >= 10)
		kbuf_read_uuid(r, t->topic_id);
	if (v >= 1)
		t->is_internal = kbuf_read_bool(r);
	t->n_partitions = kmsg_parts(d, part_min(v, d->flex));
	t->partitions = kmsg_alloc(d, t->n_partitions, sizeof(*t->partitions));
	for (int32_t j = 0; j < t->n_partitions && !r->err; j++)
		part_decode(d, v, &t->partitions[j]);
	t->topic_authorized_operations = v >= 8 ? kbuf_read_i32(r) : INT32_MIN;
	kmsg_tags(d);
}

static size_t topic_min(int16_t v, bool flex)
{
	return 2 + kmsg_str_min(flex) + (v >= 10 ? 16 : 0) + (v >= 1) + kmsg_arr_min(flex) +
	       (v >= 8 ? 4 : 0) + flex;
}

int proto_meta_resp_decode(struct kbuf_r *r, int16_t v, struct proto_meta_resp *resp)
{
	struct kmsg_dec d;
	size_t broker_min;
	int rc;

	memset(resp, 0, sizeof(*resp));
	resp->cluster_id = KSTR_NULL;
	resp->controller_id = -1;
	resp->cluster_authorized_operations = INT32_MIN;
	if (!proto_api_supported(PROTO_API_METADATA, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_METADATA, v));
	broker_min = 4 + kmsg_str_min(d.flex) + 4 + (v >= 1 ? kmsg_str_min(d.flex) : 0) + d.flex;
	if (v >= 3)
		resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_brokers = kmsg_count(&d, false, broker_min, PROTO_MAX_BROKERS);
	resp->brokers = kmsg_alloc(&d, resp->n_brokers, sizeof(*resp->brokers));
	for (int32_t i = 0; i < resp->n_brokers && !r->err; i++)
		broker_decode(&d, v, &resp->brokers[i]);
	if (v >= 2)
		resp->cluster_id = kmsg_nstr(&d);
	if (v >= 1)
		resp->controller_id = kbuf_read_i32(r);
	resp->n_topics = kmsg_count(&d, false, topic_min(v, d.flex), PROTO_MAX_TOPICS);
	resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++)
		topic_decode(&d, v, &resp->topics[i]);
	if (v >= 8 && v <= 10)
		resp->cluster_authorized_operations = kbuf_read_i32(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_meta_resp_free(resp);
	return rc;
}

static void topic_encode(struct kbuf_w *w, int16_t v, bool flex, const struct proto_meta_topic *t)
{
	kbuf_write_i16(w, t->error_code);
	kbuf_write_string(w, t->name, flex, v >= 12);
	if (v >= 10)
		kbuf_write_uuid(w, t->topic_id);
	if (v >= 1)
		kbuf_write_bool(w, t->is_internal);
	kmsg_write_len(w, flex, t->n_partitions);
	for (int32_t j = 0; j < t->n_partitions; j++) {
		const struct proto_meta_part *p = &t->partitions[j];

		kbuf_write_i16(w, p->error_code);
		kbuf_write_i32(w, p->partition_index);
		kbuf_write_i32(w, p->leader_id);
		if (v >= 7)
			kbuf_write_i32(w, p->leader_epoch);
		kmsg_write_i32s(w, flex, p->n_replica_nodes, p->replica_nodes);
		kmsg_write_i32s(w, flex, p->n_isr_nodes, p->isr_nodes);
		if (v >= 5)
			kmsg_write_i32s(w, flex, p->n_offline_replicas, p->offline_replicas);
		kmsg_write_tags(w, flex);
	}
	if (v >= 8)
		kbuf_write_i32(w, t->topic_authorized_operations);
	kmsg_write_tags(w, flex);
}

int proto_meta_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_meta_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_METADATA, v);

	if (!proto_api_supported(PROTO_API_METADATA, v))
		return -EOPNOTSUPP;
	if (v >= 3)
		kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_brokers);
	for (int32_t i = 0; i < resp->n_brokers; i++) {
		const struct proto_meta_broker *b = &resp->brokers[i];

		kbuf_write_i32(w, b->node_id);
		kmsg_write_str(w, flex, b->host);
		kbuf_write_i32(w, b->port);
		if (v >= 1)
			kmsg_write_nstr(w, flex, b->rack);
		kmsg_write_tags(w, flex);
	}
	if (v >= 2)
		kmsg_write_nstr(w, flex, resp->cluster_id);
	if (v >= 1)
		kbuf_write_i32(w, resp->controller_id);
	kmsg_write_len(w, flex, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics; i++)
		topic_encode(w, v, flex, &resp->topics[i]);
	if (v >= 8 && v <= 10)
		kbuf_write_i32(w, resp->cluster_authorized_operations);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_meta_resp_free(struct proto_meta_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++) {
		struct proto_meta_topic *t = &resp->topics[i];

		for (int32_t j = 0; t->partitions && j < t->n_partitions; j++) {
			free(t->partitions[j].replica_nodes);
			free(t->partitions[j].isr_nodes);
			free(t->partitions[j].offline_replicas);
		}
		free(t->partitions);
	}
	free(resp->brokers);
	free(resp->topics);
	resp->brokers = NULL;
	resp->topics = NULL;
	resp->n_brokers = resp->n_topics = 0;
}
