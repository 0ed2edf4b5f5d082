/*
 * proto_produce.c — Produce (0) v0-v9, the write path of Kafka clients and
 * of a broker forwarding a write to the partition's leader. Requests and
 * responses both ways; the structs are in proto.h.
 *
 * v3 is the first version whose records are record batch v2 (the only
 * format mqfs stores; older message sets are refused by the broker, not
 * here); v9 is flexible (compact forms, TAGGED_FIELDS ending every
 * struct). v0-v2 are decoded all the same because Kafka 3.x lists them,
 * and librdkafka before 2.11.1 compresses a batch only when the broker's
 * Produce range reaches down to v0.
 *
 * Request
 *   transactional_id NULLABLE_STRING (v3+), acks INT16, timeout_ms INT32,
 *   topic_data ARRAY of
 *     name STRING, partition_data ARRAY of
 *       index INT32, records NULLABLE_BYTES (record batches)
 * Response
 *   responses ARRAY of
 *     name STRING, partition_responses ARRAY of
 *       index INT32, error_code INT16, base_offset INT64,
 *       log_append_time_ms INT64 (v2+), log_start_offset INT64 (v5+),
 *       record_errors ARRAY (v8+) of (batch_index INT32,
 *         batch_index_error_message NULLABLE_STRING),
 *       error_message NULLABLE_STRING (v8+)
 *   throttle_time_ms INT32 (v1+)
 *
 * The records are a byte range and stay one: decoding points into the
 * frame (nothing copied, nothing parsed: the batches are checked, CRC and
 * all, where they are appended), and encoding a request takes a file range
 * as a FILE piece of a struct proto_out, so a broker forwards batches from
 * its segment or receive buffer without copying them. Counts are capped as
 * everywhere (PROTO_MAX_TOPICS, PROTO_MAX_PARTITIONS over the message);
 * acks and timeout_ms are carried, not judged (an acks other than -1, 0, 1
 * is answered INVALID_REQUIRED_ACKS by the broker, not refused here).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* ---- request ---- */

int proto_produce_req_body(struct proto_out *out, int16_t v, const struct proto_produce_req *req)
{
	struct kbuf_w *w = &out->w;
	bool flex = proto_is_flexible(PROTO_API_PRODUCE, v);
	int rc = 0;

	if (!proto_api_supported(PROTO_API_PRODUCE, v))
		return -EOPNOTSUPP;
	if (v >= 3)
		kmsg_write_nstr(w, flex, req->transactional_id);
	kbuf_write_i16(w, req->acks);
	kbuf_write_i32(w, req->timeout_ms);
	kmsg_write_len(w, flex, req->n_topics);
	for (int32_t i = 0; i < req->n_topics && !rc; i++) {
		const struct proto_produce_topic *t = &req->topic_data[i];

		kmsg_write_str(w, flex, t->name);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions && !rc; j++) {
			const struct proto_produce_part *p = &t->partition_data[j];

			kbuf_write_i32(w, p->index);
			rc = kmsg_write_records(out, flex, p->records_len, p->records,
						p->records_fd, p->records_offset);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return rc ? rc : kbuf_w_err(w);
}

int proto_produce_req_encode(struct proto_out *out, const struct proto_req_hdr *hdr,
			     const struct proto_produce_req *req)
{
	size_t pos;
	int rc;

	if (hdr->api_key != PROTO_API_PRODUCE)
		return -EINVAL;
	if (!proto_api_supported(PROTO_API_PRODUCE, hdr->api_version))
		return -EOPNOTSUPP;
	pos = proto_req_begin(&out->w, hdr);
	rc = proto_produce_req_body(out, hdr->api_version, req);
	return rc ? rc : proto_out_finish(out, pos);
}

int proto_produce_req_decode(struct kbuf_r *r, int16_t v, struct proto_produce_req *req)
{
	struct kmsg_dec d;
	size_t topic_min, part_min;
	int rc;

	memset(req, 0, sizeof(*req));
	req->transactional_id = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_PRODUCE, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_PRODUCE, v));
	topic_min = kmsg_topic_min(d.flex);
	part_min = 4 + kmsg_arr_min(d.flex) + d.flex;
	if (v >= 3)
		req->transactional_id = kmsg_nstr(&d);
	req->acks = kbuf_read_i16(r);
	req->timeout_ms = kbuf_read_i32(r);
	req->n_topics = kmsg_count(&d, false, topic_min, PROTO_MAX_TOPICS);
	req->topic_data = kmsg_alloc(&d, req->n_topics, sizeof(*req->topic_data));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_produce_topic *t = &req->topic_data[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, part_min);
		t->partition_data = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partition_data));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			struct proto_produce_part *p = &t->partition_data[j];

			p->index = kbuf_read_i32(r);
			p->records_len = kmsg_records(&d, &p->records);
			p->records_fd = -1;
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_produce_req_free(req);
	return rc;
}

void proto_produce_req_free(struct proto_produce_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->topic_data && i < req->n_topics; i++)
		free(req->topic_data[i].partition_data);
	KMSG_FREE(req->topic_data, req->n_topics);
}

/* ---- response ---- */

static void resp_part_encode(struct kbuf_w *w, int16_t v, bool flex,
			     const struct proto_produce_resp_part *p)
{
	kbuf_write_i32(w, p->index);
	kbuf_write_i16(w, p->error_code);
	kbuf_write_i64(w, p->base_offset);
	if (v >= 2)
		kbuf_write_i64(w, p->log_append_time_ms);
	if (v >= 5)
		kbuf_write_i64(w, p->log_start_offset);
	if (v >= 8) {
		kmsg_write_len(w, flex, p->n_record_errors);
		for (int32_t k = 0; k < p->n_record_errors; k++) {
			kbuf_write_i32(w, p->record_errors[k].batch_index);
			kmsg_write_nstr(w, flex, p->record_errors[k].batch_index_error_message);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_nstr(w, flex, p->error_message);
	}
	kmsg_write_tags(w, flex);
}

int proto_produce_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_produce_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_PRODUCE, v);

	if (!proto_api_supported(PROTO_API_PRODUCE, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics; i++) {
		const struct proto_produce_resp_topic *t = &resp->responses[i];

		kmsg_write_str(w, flex, t->name);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++)
			resp_part_encode(w, v, flex, &t->partition_responses[j]);
		kmsg_write_tags(w, flex);
	}
	if (v >= 1)
		kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

static size_t resp_part_min(int16_t v, bool flex)
{
	return 4 + 2 + 8 + (v >= 2 ? 8 : 0) + (v >= 5 ? 8 : 0) +
	       (v >= 8 ? kmsg_arr_min(flex) + kmsg_str_min(flex) : 0) + flex;
}

static void resp_part_decode(struct kmsg_dec *d, int16_t v, struct proto_produce_resp_part *p)
{
	struct kbuf_r *r = d->r;

	p->index = kbuf_read_i32(r);
	p->error_code = kbuf_read_i16(r);
	p->base_offset = kbuf_read_i64(r);
	p->log_append_time_ms = v >= 2 ? kbuf_read_i64(r) : -1;
	p->log_start_offset = v >= 5 ? kbuf_read_i64(r) : -1;
	p->error_message = KSTR_NULL;
	if (v >= 8) {
		/* Batch indexes of one partition: bounded by the bytes left. */
		p->n_record_errors =
			kmsg_count(d, false, 4 + kmsg_str_min(d->flex) + d->flex, INT32_MAX);
		p->record_errors = kmsg_alloc(d, p->n_record_errors, sizeof(*p->record_errors));
		for (int32_t k = 0; k < p->n_record_errors && !r->err; k++) {
			p->record_errors[k].batch_index = kbuf_read_i32(r);
			p->record_errors[k].batch_index_error_message = kmsg_nstr(d);
			kmsg_tags(d);
		}
		p->error_message = kmsg_nstr(d);
	}
	kmsg_tags(d);
}

int proto_produce_resp_decode(struct kbuf_r *r, int16_t v, struct proto_produce_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_PRODUCE, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_PRODUCE, v));
	resp->n_topics = kmsg_count(&d, false, kmsg_topic_min(d.flex), PROTO_MAX_TOPICS);
	resp->responses = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->responses));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++) {
		struct proto_produce_resp_topic *t = &resp->responses[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, resp_part_min(v, d.flex));
		t->partition_responses =
			kmsg_alloc(&d, t->n_partitions, sizeof(*t->partition_responses));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++)
			resp_part_decode(&d, v, &t->partition_responses[j]);
		kmsg_tags(&d);
	}
	resp->throttle_time_ms = v >= 1 ? kbuf_read_i32(r) : 0;
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_produce_resp_free(resp);
	return rc;
}

void proto_produce_resp_free(struct proto_produce_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->responses && i < resp->n_topics; i++) {
		struct proto_produce_resp_topic *t = &resp->responses[i];

		for (int32_t j = 0; t->partition_responses && j < t->n_partitions; j++)
			free(t->partition_responses[j].record_errors);
		free(t->partition_responses);
	}
	KMSG_FREE(resp->responses, resp->n_topics);
}
