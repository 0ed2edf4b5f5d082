/*
 * proto_cluster.c — DescribeCluster (60) v0-v1 and DescribeLogDirs (35)
 * v0-v4, requests and responses
 * both ways; the structs are in proto.h. DescribeCluster is flexible in
 * every version (compact forms, TAGGED_FIELDS ending every struct).
 *
 * DescribeCluster request
 *   include_cluster_authorized_operations BOOLEAN, endpoint_type INT8 (v1+)
 * DescribeCluster response
 *   throttle_time_ms INT32, error_code INT16, error_message
 *   NULLABLE_STRING, endpoint_type INT8 (v1+), cluster_id STRING,
 *   controller_id INT32, brokers ARRAY of (broker_id INT32, host STRING,
 *   port INT32, rack NULLABLE_STRING), cluster_authorized_operations INT32
 *
 * DescribeLogDirs request (flexible from v2)
 *   topics NULLABLE ARRAY of (topic STRING, partitions ARRAY INT32)
 * DescribeLogDirs response
 *   throttle_time_ms INT32, error_code INT16 (v3+), results ARRAY of
 *   (error_code INT16, log_dir STRING, topics ARRAY of (name STRING,
 *   partitions ARRAY of (partition_index INT32, partition_size INT64,
 *   offset_lag INT64, is_future_key BOOLEAN)), total_bytes INT64 (v4+),
 *   usable_bytes INT64 (v4+))
 *
 * Caps: PROTO_MAX_BROKERS brokers or log directories, PROTO_MAX_TOPICS
 * topics, PROTO_MAX_PARTITIONS partitions summed over a message.
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

/* ---- DescribeLogDirs ---- */

int proto_describe_log_dirs_req_decode(struct kbuf_r *r, int16_t v,
				       struct proto_describe_log_dirs_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DESCRIBE_LOG_DIRS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DESCRIBE_LOG_DIRS, v));
	proto_elect_topics_decode(&d, true, false, &req->n_topics, &req->topics);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_log_dirs_req_free(req);
	return rc;
}

int proto_describe_log_dirs_req_encode(struct kbuf_w *w, int16_t v,
				       const struct proto_describe_log_dirs_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_LOG_DIRS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_LOG_DIRS, v))
		return -EOPNOTSUPP;
	proto_elect_topics_encode(w, flex, false, req->n_topics, req->topics);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_describe_log_dirs_req_free(struct proto_describe_log_dirs_req *req)
{
	if (req)
		proto_elect_topics_free(&req->n_topics, &req->topics);
}

int proto_describe_log_dirs_resp_decode(struct kbuf_r *r, int16_t v,
					struct proto_describe_log_dirs_resp *resp)
{
	struct kmsg_dec d;
	size_t pmin = 4 + 8 + 8 + 1;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_LOG_DIRS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DESCRIBE_LOG_DIRS, v));
	pmin += d.flex;
	resp->throttle_time_ms = kbuf_read_i32(r);
	if (v >= 3)
		resp->error_code = kbuf_read_i16(r);
	/* One log directory per broker here; a peer may list a few. */
	resp->n_results = kmsg_count(&d, false, 2 + kmsg_str_min(d.flex) + kmsg_arr_min(d.flex),
				     PROTO_MAX_BROKERS);
	resp->results = kmsg_alloc(&d, resp->n_results, sizeof(*resp->results));
	for (int32_t i = 0; i < resp->n_results && !r->err; i++) {
		struct proto_log_dir_result *res = &resp->results[i];

		res->error_code = kbuf_read_i16(r);
		res->log_dir = kmsg_str(&d);
		res->n_topics = kmsg_count(&d, false, kmsg_topic_min(d.flex), PROTO_MAX_TOPICS);
		res->topics = kmsg_alloc(&d, res->n_topics, sizeof(*res->topics));
		for (int32_t j = 0; j < res->n_topics && !r->err; j++) {
			struct proto_log_dir_topic *t = &res->topics[j];

			t->name = kmsg_str(&d);
			t->n_partitions = kmsg_parts(&d, pmin);
			t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
			for (int32_t k = 0; k < t->n_partitions && !r->err; k++) {
				struct proto_log_dir_partition *p = &t->partitions[k];

				p->partition_index = kbuf_read_i32(r);
				p->partition_size = kbuf_read_i64(r);
				p->offset_lag = kbuf_read_i64(r);
				p->is_future_key = kbuf_read_bool(r);
				kmsg_tags(&d);
			}
			kmsg_tags(&d);
		}
		res->total_bytes = v >= 4 ? kbuf_read_i64(r) : -1;
		res->usable_bytes = v >= 4 ? kbuf_read_i64(r) : -1;
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_log_dirs_resp_free(resp);
	return rc;
}

int proto_describe_log_dirs_resp_encode(struct kbuf_w *w, int16_t v,
					const struct proto_describe_log_dirs_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_LOG_DIRS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_LOG_DIRS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	if (v >= 3)
		kbuf_write_i16(w, resp->error_code);
	kmsg_write_len(w, flex, resp->n_results);
	for (int32_t i = 0; i < resp->n_results; i++) {
		const struct proto_log_dir_result *res = &resp->results[i];

		kbuf_write_i16(w, res->error_code);
		kmsg_write_str(w, flex, res->log_dir);
		kmsg_write_len(w, flex, res->n_topics);
		for (int32_t j = 0; j < res->n_topics; j++) {
			const struct proto_log_dir_topic *t = &res->topics[j];

			kmsg_write_str(w, flex, t->name);
			kmsg_write_len(w, flex, t->n_partitions);
			for (int32_t k = 0; k < t->n_partitions; k++) {
				const struct proto_log_dir_partition *p = &t->partitions[k];

				kbuf_write_i32(w, p->partition_index);
				kbuf_write_i64(w, p->partition_size);
				kbuf_write_i64(w, p->offset_lag);
				kbuf_write_bool(w, p->is_future_key);
				kmsg_write_tags(w, flex);
			}
			kmsg_write_tags(w, flex);
		}
		if (v >= 4) {
			kbuf_write_i64(w, res->total_bytes);
			kbuf_write_i64(w, res->usable_bytes);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_describe_log_dirs_resp_free(struct proto_describe_log_dirs_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->results && i < resp->n_results; i++) {
		struct proto_log_dir_result *res = &resp->results[i];

		for (int32_t j = 0; res->topics && j < res->n_topics; j++)
			free(res->topics[j].partitions);
		free(res->topics);
	}
	KMSG_FREE(resp->results, resp->n_results);
}
