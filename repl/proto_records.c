/*
 * proto_records.c — DeleteRecords (21) v0-v2: a client asks the leaders to
 * move partitions' log start offsets up (kafka-delete-records.sh, the
 * admin clients' deleteRecords, Kafka Streams purging its repartition
 * topics). Request and response, both ways; the structs are in proto.h.
 * v1 is v0 (the response is sent before a quota throttle); v2 is flexible
 * (compact forms, TAGGED_FIELDS ending every struct).
 *
 * DeleteRecords request
 *   topics ARRAY of (name STRING, partitions ARRAY of
 *     (partition_index INT32, offset INT64)),
 *   timeout_ms INT32
 *   offset -1: the partition's high watermark
 * DeleteRecords response
 *   throttle_time_ms INT32, topics ARRAY of (name STRING,
 *     partitions ARRAY of (partition_index INT32, low_watermark INT64,
 *       error_code INT16))
 *
 * Caps: PROTO_MAX_TOPICS per message, PROTO_MAX_PARTITIONS summed over it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

int proto_delete_records_req_decode(struct kbuf_r *r, int16_t v,
				    struct proto_delete_records_req *req)
{
	struct kmsg_dec d;
	size_t pmin, tmin;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DELETE_RECORDS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DELETE_RECORDS, v));
	pmin = 4 + 8 + d.flex;
	tmin = kmsg_topic_min(d.flex);
	req->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_delete_records_topic *t = &req->topics[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, pmin);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			t->partitions[j].partition_index = kbuf_read_i32(r);
			t->partitions[j].offset = kbuf_read_i64(r);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	req->timeout_ms = kbuf_read_i32(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_delete_records_req_free(req);
	return rc;
}

int proto_delete_records_req_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_delete_records_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_DELETE_RECORDS, v);

	if (!proto_api_supported(PROTO_API_DELETE_RECORDS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		const struct proto_delete_records_topic *t = &req->topics[i];

		kmsg_write_str(w, flex, t->name);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			kbuf_write_i32(w, t->partitions[j].partition_index);
			kbuf_write_i64(w, t->partitions[j].offset);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kbuf_write_i32(w, req->timeout_ms);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_delete_records_req_free(struct proto_delete_records_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->topics && i < req->n_topics; i++)
		free(req->topics[i].partitions);
	KMSG_FREE(req->topics, req->n_topics);
}

int proto_delete_records_resp_decode(struct kbuf_r *r, int16_t v,
				     struct proto_delete_records_resp *resp)
{
	struct kmsg_dec d;
	size_t pmin, tmin;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DELETE_RECORDS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DELETE_RECORDS, v));
	pmin = 4 + 8 + 2 + d.flex;
	tmin = kmsg_topic_min(d.flex);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++) {
		struct proto_delete_records_resp_topic *t = &resp->topics[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, pmin);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			struct proto_delete_records_resp_part *p = &t->partitions[j];

			p->partition_index = kbuf_read_i32(r);
			p->low_watermark = kbuf_read_i64(r);
			p->error_code = kbuf_read_i16(r);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_delete_records_resp_free(resp);
	return rc;
}

int proto_delete_records_resp_encode(struct kbuf_w *w, int16_t v,
				     const struct proto_delete_records_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_DELETE_RECORDS, v);

	if (!proto_api_supported(PROTO_API_DELETE_RECORDS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics; i++) {
		const struct proto_delete_records_resp_topic *t = &resp->topics[i];

		kmsg_write_str(w, flex, t->name);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			const struct proto_delete_records_resp_part *p = &t->partitions[j];

			kbuf_write_i32(w, p->partition_index);
			kbuf_write_i64(w, p->low_watermark);
			kbuf_write_i16(w, p->error_code);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_delete_records_resp_free(struct proto_delete_records_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++)
		free(resp->topics[i].partitions);
	KMSG_FREE(resp->topics, resp->n_topics);
}
