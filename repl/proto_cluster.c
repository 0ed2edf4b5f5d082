/*
 * proto_cluster.c — DescribeCluster (60) v0-v1, requests and responses
 * both ways; the structs are in proto.h. Flexible in every version
 * (compact forms, TAGGED_FIELDS ending every struct).
 *
 * DescribeCluster request
 *   include_cluster_authorized_operations BOOLEAN, endpoint_type INT8 (v1+)
 * DescribeCluster response
 *   throttle_time_ms INT32, error_code INT16, error_message
 *   NULLABLE_STRING, endpoint_type INT8 (v1+), cluster_id STRING,
 *   controller_id INT32, brokers ARRAY of (broker_id INT32, host STRING,
 *   port INT32, rack NULLABLE_STRING), cluster_authorized_operations INT32
 *
 * Caps: PROTO_MAX_BROKERS brokers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

int proto_describe_cluster_req_decode(struct kbuf_r *r, int16_t v,
				      struct proto_describe_cluster_req *req)
{
	struct kmsg_dec d;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DESCRIBE_CLUSTER, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, true);
	req->include_cluster_authorized_operations = kbuf_read_bool(r);
	req->endpoint_type = v >= 1 ? kbuf_read_i8(r) : PROTO_ENDPOINT_BROKER;
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_describe_cluster_req_encode(struct kbuf_w *w, int16_t v,
				      const struct proto_describe_cluster_req *req)
{
	if (!proto_api_supported(PROTO_API_DESCRIBE_CLUSTER, v))
		return -EOPNOTSUPP;
	kbuf_write_bool(w, req->include_cluster_authorized_operations);
	if (v >= 1)
		kbuf_write_i8(w, req->endpoint_type);
	kmsg_write_tags(w, true);
	return kbuf_w_err(w);
}

int proto_describe_cluster_resp_decode(struct kbuf_r *r, int16_t v,
				       struct proto_describe_cluster_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_CLUSTER, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, true);
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->error_code = kbuf_read_i16(r);
	resp->error_message = kmsg_nstr(&d);
	resp->endpoint_type = v >= 1 ? kbuf_read_i8(r) : PROTO_ENDPOINT_BROKER;
	resp->cluster_id = kmsg_str(&d);
	resp->controller_id = kbuf_read_i32(r);
	resp->n_brokers = kmsg_count(&d, false, 8 + 2 * kmsg_str_min(true) + 1, PROTO_MAX_BROKERS);
	resp->brokers = kmsg_alloc(&d, resp->n_brokers, sizeof(*resp->brokers));
	for (int32_t i = 0; i < resp->n_brokers && !r->err; i++) {
		struct proto_meta_broker *b = &resp->brokers[i];

		b->node_id = kbuf_read_i32(r);
		b->host = kmsg_str(&d);
		b->port = kbuf_read_i32(r);
		b->rack = kmsg_nstr(&d);
		kmsg_tags(&d);
	}
	resp->cluster_authorized_operations = kbuf_read_i32(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_cluster_resp_free(resp);
	return rc;
}

int proto_describe_cluster_resp_encode(struct kbuf_w *w, int16_t v,
				       const struct proto_describe_cluster_resp *resp)
{
	if (!proto_api_supported(PROTO_API_DESCRIBE_CLUSTER, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_nstr(w, true, resp->error_message);
	if (v >= 1)
		kbuf_write_i8(w, resp->endpoint_type);
	kmsg_write_str(w, true, resp->cluster_id);
	kbuf_write_i32(w, resp->controller_id);
	kmsg_write_len(w, true, resp->n_brokers);
	for (int32_t i = 0; i < resp->n_brokers; i++) {
		const struct proto_meta_broker *b = &resp->brokers[i];

		kbuf_write_i32(w, b->node_id);
		kmsg_write_str(w, true, b->host);
		kbuf_write_i32(w, b->port);
		kmsg_write_nstr(w, true, b->rack);
		kmsg_write_tags(w, true);
	}
	kbuf_write_i32(w, resp->cluster_authorized_operations);
	kmsg_write_tags(w, true);
	return kbuf_w_err(w);
}

void proto_describe_cluster_resp_free(struct proto_describe_cluster_resp *resp)
{
	if (resp)
		KMSG_FREE(resp->brokers, resp->n_brokers);
}
