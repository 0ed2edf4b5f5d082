/*
 * proto_producers.c — DescribeProducers (61) v0, request and response
 * both ways: what `kafka-transactions.sh describe-producers` and
 * Admin.describeProducers send to a partition's leader. Structs in
 * proto.h. v0 is flexible (compact forms, TAGGED_FIELDS ending every
 * struct).
 *
 * Request
 *   topics ARRAY of (name STRING, partition_indexes ARRAY INT32)
 * Response
 *   throttle_time_ms INT32, topics ARRAY of (name STRING, partitions
 *   ARRAY of (partition_index INT32, error_code INT16, error_message
 *   NULLABLE_STRING, active_producers ARRAY of (producer_id INT64,
 *   producer_epoch INT32, last_sequence INT32, last_timestamp INT64,
 *   coordinator_epoch INT32, current_txn_start_offset INT64)))
 *
 * Caps: PROTO_MAX_TOPICS topics, PROTO_MAX_PARTITIONS partitions summed
 * over a message, PROTO_MAX_PRODUCERS producers in one partition.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

int proto_describe_producers_req_decode(struct kbuf_r *r, int16_t v,
					struct proto_describe_producers_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DESCRIBE_PRODUCERS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, true);
	proto_elect_topics_decode(&d, false, false, &req->n_topics, &req->topics);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_producers_req_free(req);
	return rc;
}

int proto_describe_producers_req_encode(struct kbuf_w *w, int16_t v,
					const struct proto_describe_producers_req *req)
{
	if (!proto_api_supported(PROTO_API_DESCRIBE_PRODUCERS, v))
		return -EOPNOTSUPP;
	proto_elect_topics_encode(w, true, false, req->n_topics, req->topics);
	kmsg_write_tags(w, true);
	return kbuf_w_err(w);
}

void proto_describe_producers_req_free(struct proto_describe_producers_req *req)
{
	if (req)
		proto_elect_topics_free(&req->n_topics, &req->topics);
}

/* One partition's answer of a response being decoded. */
static void producers_part_decode(struct kmsg_dec *d, struct proto_producers_part *p)
{
	struct kbuf_r *r = d->r;

	p->partition_index = kbuf_read_i32(r);
	p->error_code = kbuf_read_i16(r);
	p->error_message = kmsg_nstr(d);
	p->n_producers = kmsg_count(d, false, 8 + 4 + 4 + 8 + 4 + 8 + 1, PROTO_MAX_PRODUCERS);
	p->producers = kmsg_alloc(d, p->n_producers, sizeof(*p->producers));
	for (int32_t k = 0; k < p->n_producers && !r->err; k++) {
		struct proto_producer_desc *s = &p->producers[k];

		s->producer_id = kbuf_read_i64(r);
		s->producer_epoch = kbuf_read_i32(r);
		s->last_sequence = kbuf_read_i32(r);
		s->last_timestamp = kbuf_read_i64(r);
		s->coordinator_epoch = kbuf_read_i32(r);
		s->current_txn_start_offset = kbuf_read_i64(r);
		kmsg_tags(d);
	}
	kmsg_tags(d);
}

int proto_describe_producers_resp_decode(struct kbuf_r *r, int16_t v,
					 struct proto_describe_producers_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_PRODUCERS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, true);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_topics = kmsg_count(&d, false, kmsg_topic_min(true), PROTO_MAX_TOPICS);
	resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++) {
		struct proto_producers_topic *t = &resp->topics[i];

		t->name = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, 4 + 2 + 1 + 1 + 1);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++)
			producers_part_decode(&d, &t->partitions[j]);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_producers_resp_free(resp);
	return rc;
}

int proto_describe_producers_resp_encode(struct kbuf_w *w, int16_t v,
					 const struct proto_describe_producers_resp *resp)
{
	if (!proto_api_supported(PROTO_API_DESCRIBE_PRODUCERS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, true, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics; i++) {
		const struct proto_producers_topic *t = &resp->topics[i];

		kmsg_write_str(w, true, t->name);
		kmsg_write_len(w, true, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			const struct proto_producers_part *p = &t->partitions[j];

			kbuf_write_i32(w, p->partition_index);
			kbuf_write_i16(w, p->error_code);
			kmsg_write_nstr(w, true, p->error_message);
			kmsg_write_len(w, true, p->n_producers);
			for (int32_t k = 0; k < p->n_producers; k++) {
				const struct proto_producer_desc *s = &p->producers[k];

				kbuf_write_i64(w, s->producer_id);
				kbuf_write_i32(w, s->producer_epoch);
				kbuf_write_i32(w, s->last_sequence);
				kbuf_write_i64(w, s->last_timestamp);
				kbuf_write_i32(w, s->coordinator_epoch);
				kbuf_write_i64(w, s->current_txn_start_offset);
				kmsg_write_tags(w, true);
			}
			kmsg_write_tags(w, true);
		}
		kmsg_write_tags(w, true);
	}
	kmsg_write_tags(w, true);
	return kbuf_w_err(w);
}

void proto_describe_producers_resp_free(struct proto_describe_producers_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++) {
		struct proto_producers_topic *t = &resp->topics[i];

		for (int32_t j = 0; t->partitions && j < t->n_partitions; j++)
			free(t->partitions[j].producers);
		free(t->partitions);
	}
	KMSG_FREE(resp->topics, resp->n_topics);
}
