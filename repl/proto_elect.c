/*
 * proto_elect.c — ElectLeaders (43) v0-v2, requests and responses both
 * ways; the structs are in proto.h. Flexible from v2 (compact forms,
 * TAGGED_FIELDS ending every struct).
 *
 * ElectLeaders request
 *   election_type INT8 (v1+), topic_partitions NULLABLE ARRAY of (topic
 *   STRING, partitions ARRAY INT32), timeout_ms INT32
 * ElectLeaders response
 *   throttle_time_ms INT32, error_code INT16 (v1+),
 *   replica_election_results ARRAY of (topic STRING, partition_result
 *   ARRAY of (partition_id INT32, error_code INT16, error_message
 *   NULLABLE_STRING))
 *
 * Caps: PROTO_MAX_TOPICS topics, PROTO_MAX_PARTITIONS partitions summed
 * over them (the request's and the response's alike).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* The topics of a request (with_errors false: partition ids only; also
 * DescribeLogDirs' request, proto_cluster.c) or a response (each
 * partition with its error). */
void proto_elect_topics_decode(struct kmsg_dec *d, bool nullable, bool with_errors, int32_t *n,
			       struct proto_elect_topic **out)
{
	struct kbuf_r *r = d->r;
	size_t pmin = with_errors ? 6 + kmsg_str_min(d->flex) + d->flex : 4;
	struct proto_elect_topic *ts;

	*n = kmsg_count(d, nullable, kmsg_topic_min(d->flex), PROTO_MAX_TOPICS);
	*out = ts = kmsg_alloc(d, *n, sizeof(*ts));
	for (int32_t i = 0; i < *n && !r->err; i++) {
		ts[i].topic = kmsg_str(d);
		ts[i].n_partitions = kmsg_parts(d, pmin);
		ts[i].partitions = kmsg_alloc(d, ts[i].n_partitions, sizeof(*ts[i].partitions));
		for (int32_t j = 0; j < ts[i].n_partitions && !r->err; j++) {
			struct proto_elect_partition *p = &ts[i].partitions[j];

			p->partition_id = kbuf_read_i32(r);
			if (with_errors) {
				p->error_code = kbuf_read_i16(r);
				p->error_message = kmsg_nstr(d);
				kmsg_tags(d);
			}
		}
		kmsg_tags(d);
	}
}

void proto_elect_topics_encode(struct kbuf_w *w, bool flex, bool with_errors, int32_t n,
			       const struct proto_elect_topic *ts)
{
	kmsg_write_len(w, flex, n);
	for (int32_t i = 0; i < n; i++) {
		kmsg_write_str(w, flex, ts[i].topic);
		kmsg_write_len(w, flex, ts[i].n_partitions);
		for (int32_t j = 0; j < ts[i].n_partitions; j++) {
			const struct proto_elect_partition *p = &ts[i].partitions[j];

			kbuf_write_i32(w, p->partition_id);
			if (with_errors) {
				kbuf_write_i16(w, p->error_code);
				kmsg_write_nstr(w, flex, p->error_message);
				kmsg_write_tags(w, flex);
			}
		}
		kmsg_write_tags(w, flex);
	}
}

void proto_elect_topics_free(int32_t *n, struct proto_elect_topic **ts)
{
	for (int32_t i = 0; *ts && i < *n; i++)
		free((*ts)[i].partitions);
	free(*ts);
	*ts = NULL;
	*n = 0;
}

int proto_elect_req_decode(struct kbuf_r *r, int16_t v, struct proto_elect_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_ELECT_LEADERS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_ELECT_LEADERS, v));
	req->election_type = v >= 1 ? kbuf_read_i8(r) : PROTO_ELECTION_PREFERRED;
	proto_elect_topics_decode(&d, true, false, &req->n_topics, &req->topics);
	req->timeout_ms = kbuf_read_i32(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_elect_req_free(req);
	return rc;
}

int proto_elect_req_encode(struct kbuf_w *w, int16_t v, const struct proto_elect_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_ELECT_LEADERS, v);

	if (!proto_api_supported(PROTO_API_ELECT_LEADERS, v))
		return -EOPNOTSUPP;
	if (v >= 1)
		kbuf_write_i8(w, req->election_type);
	proto_elect_topics_encode(w, flex, false, req->n_topics, req->topics);
	kbuf_write_i32(w, req->timeout_ms);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_elect_req_free(struct proto_elect_req *req)
{
	if (req)
		proto_elect_topics_free(&req->n_topics, &req->topics);
}

int proto_elect_resp_decode(struct kbuf_r *r, int16_t v, struct proto_elect_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_ELECT_LEADERS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_ELECT_LEADERS, v));
	resp->throttle_time_ms = kbuf_read_i32(r);
	if (v >= 1)
		resp->error_code = kbuf_read_i16(r);
	proto_elect_topics_decode(&d, false, true, &resp->n_topics, &resp->topics);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_elect_resp_free(resp);
	return rc;
}

int proto_elect_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_elect_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_ELECT_LEADERS, v);

	if (!proto_api_supported(PROTO_API_ELECT_LEADERS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	if (v >= 1)
		kbuf_write_i16(w, resp->error_code);
	proto_elect_topics_encode(w, flex, true, resp->n_topics, resp->topics);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_elect_resp_free(struct proto_elect_resp *resp)
{
	if (resp)
		proto_elect_topics_free(&resp->n_topics, &resp->topics);
}
