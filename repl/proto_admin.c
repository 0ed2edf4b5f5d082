/*
 * proto_admin.c — the admin APIs a Kafka client uses on topics and their
 * settings: CreateTopics (19) v0-v7, DeleteTopics (20) v0-v6,
 * DescribeConfigs (32) v0-v4, AlterConfigs (33) v0-v2, CreatePartitions
 * (37) v0-v3, IncrementalAlterConfigs (44) v0-v1. Requests and responses,
 * both ways; the structs are in proto.h. Flexible versions (compact
 * forms, TAGGED_FIELDS ending every struct): CreateTopics v5+,
 * DeleteTopics v4+, DescribeConfigs v4+, AlterConfigs v2+,
 * CreatePartitions v2+, IncrementalAlterConfigs v1+.
 *
 * CreateTopics request
 *   topics ARRAY of (name STRING, num_partitions INT32,
 *     replication_factor INT16, assignments ARRAY of (partition_index
 *     INT32, broker_ids ARRAY INT32), configs ARRAY of (name STRING,
 *     value NULLABLE_STRING)),
 *   timeout_ms INT32, validate_only BOOLEAN (v1+)
 * CreateTopics response
 *   throttle_time_ms INT32 (v2+), topics ARRAY of (name STRING, topic_id
 *     UUID (v7+), error_code INT16, error_message NULLABLE_STRING (v1+),
 *     num_partitions INT32 (v5+), replication_factor INT16 (v5+), configs
 *     NULLABLE ARRAY (v5+) of (name STRING, value NULLABLE_STRING,
 *     read_only BOOLEAN, config_source INT8, is_sensitive BOOLEAN);
 *     tag 0 (v5+): topic_config_error_code INT16, written only when not
 *     NONE, as Kafka leaves tagged fields out at their default)
 *
 * DeleteTopics request
 *   v0-5: topic_names ARRAY STRING;  v6: topics ARRAY of (name
 *   NULLABLE_STRING, topic_id UUID);  timeout_ms INT32
 * DeleteTopics response
 *   throttle_time_ms INT32 (v1+), responses ARRAY of (name STRING
 *   (nullable v6+), topic_id UUID (v6+), error_code INT16, error_message
 *   NULLABLE_STRING (v5+))
 *
 * CreatePartitions request
 *   topics ARRAY of (name STRING, count INT32, assignments NULLABLE ARRAY
 *   of (broker_ids ARRAY INT32)), timeout_ms INT32, validate_only BOOLEAN
 * CreatePartitions response
 *   throttle_time_ms INT32, results ARRAY of (name STRING, error_code
 *   INT16, error_message NULLABLE_STRING)
 *
 * DescribeConfigs request
 *   resources ARRAY of (resource_type INT8, resource_name STRING,
 *   configuration_keys NULLABLE ARRAY STRING), include_synonyms BOOLEAN
 *   (v1+), include_documentation BOOLEAN (v3+)
 * DescribeConfigs response
 *   throttle_time_ms INT32, results ARRAY of (error_code INT16,
 *   error_message NULLABLE_STRING, resource_type INT8, resource_name
 *   STRING, configs ARRAY of (name STRING, value NULLABLE_STRING,
 *   read_only BOOLEAN, is_default BOOLEAN (v0), config_source INT8 (v1+),
 *   is_sensitive BOOLEAN, synonyms ARRAY (v1+) of (name STRING, value
 *   NULLABLE_STRING, source INT8), config_type INT8 (v3+), documentation
 *   NULLABLE_STRING (v3+)))
 *
 * AlterConfigs request
 *   resources ARRAY of (resource_type INT8, resource_name STRING, configs
 *   ARRAY of (name STRING, value NULLABLE_STRING)), validate_only BOOLEAN
 * IncrementalAlterConfigs request: the same with config_operation INT8
 *   between each config's name and value
 * AlterConfigs / IncrementalAlterConfigs response
 *   throttle_time_ms INT32, responses ARRAY of (error_code INT16,
 *   error_message NULLABLE_STRING, resource_type INT8, resource_name
 *   STRING)
 *
 * Caps: PROTO_MAX_TOPICS topics or resources per message, PROTO_MAX_PARTITIONS
 * partition assignments summed over the message, PROTO_MAX_BROKERS ids per
 * assignment, PROTO_MAX_CONFIGS configs (or keys) per topic or resource,
 * PROTO_MAX_SYNONYMS per config.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* ---- shared pieces ---- */

/* configs ARRAY of (name, [config_operation INT8], value NULLABLE_STRING). */
static int32_t configs_decode(struct kmsg_dec *d, bool with_op, struct proto_config **out)
{
	struct kbuf_r *r = d->r;
	size_t cmin = 2 * kmsg_str_min(d->flex) + with_op + d->flex;
	int32_t n = kmsg_count(d, false, cmin, PROTO_MAX_CONFIGS);
	struct proto_config *c = kmsg_alloc(d, n, sizeof(*c));

	*out = c;
	for (int32_t i = 0; i < n && !r->err; i++) {
		c[i].name = kmsg_str(d);
		if (with_op)
			c[i].config_operation = kbuf_read_i8(r);
		c[i].value = kmsg_nstr(d);
		kmsg_tags(d);
	}
	return c ? n : 0;
}

static void configs_encode(struct kbuf_w *w, bool flex, bool with_op, int32_t n,
			   const struct proto_config *c)
{
	kmsg_write_len(w, flex, n);
	for (int32_t i = 0; i < n; i++) {
		kmsg_write_str(w, flex, c[i].name);
		if (with_op)
			kbuf_write_i8(w, c[i].config_operation);
		kmsg_write_nstr(w, flex, c[i].value);
		kmsg_write_tags(w, flex);
	}
}

/* One replica assignment's broker ids (and partition_index when with_index). */
static void assignment_decode(struct kmsg_dec *d, bool with_index,
			      struct proto_replica_assignment *a)
{
	a->partition_index = with_index ? kbuf_read_i32(d->r) : 0;
	a->n_broker_ids = kmsg_i32s(d, false, PROTO_MAX_BROKERS, &a->broker_ids);
	kmsg_tags(d);
}

static void assignment_encode(struct kbuf_w *w, bool flex, bool with_index,
			      const struct proto_replica_assignment *a)
{
	if (with_index)
		kbuf_write_i32(w, a->partition_index);
	kmsg_write_i32s(w, flex, a->n_broker_ids, a->broker_ids);
	kmsg_write_tags(w, flex);
}

static void assignments_free(int32_t n, struct proto_replica_assignment *a)
{
	for (int32_t i = 0; a && i < n; i++)
		free(a[i].broker_ids);
	free(a);
}

/* ---- CreateTopics ---- */

int proto_create_topics_req_decode(struct kbuf_r *r, int16_t v, struct proto_create_topics_req *req)
{
	struct kmsg_dec d;
	size_t tmin;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_CREATE_TOPICS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_CREATE_TOPICS, v));
	tmin = kmsg_str_min(d.flex) + 4 + 2 + 2 * kmsg_arr_min(d.flex) + d.flex;
	req->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_creatable_topic *t = &req->topics[i];

		t->name = kmsg_str(&d);
		t->num_partitions = kbuf_read_i32(r);
		t->replication_factor = kbuf_read_i16(r);
		t->n_assignments = kmsg_parts(&d, 4 + kmsg_arr_min(d.flex) + d.flex);
		t->assignments = kmsg_alloc(&d, t->n_assignments, sizeof(*t->assignments));
		for (int32_t j = 0; j < t->n_assignments && !r->err; j++)
			assignment_decode(&d, true, &t->assignments[j]);
		t->n_configs = configs_decode(&d, false, &t->configs);
		kmsg_tags(&d);
	}
	req->timeout_ms = kbuf_read_i32(r);
	if (v >= 1)
		req->validate_only = kbuf_read_bool(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_create_topics_req_free(req);
	return rc;
}

int proto_create_topics_req_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_create_topics_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_CREATE_TOPICS, v);

	if (!proto_api_supported(PROTO_API_CREATE_TOPICS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		const struct proto_creatable_topic *t = &req->topics[i];

		kmsg_write_str(w, flex, t->name);
		kbuf_write_i32(w, t->num_partitions);
		kbuf_write_i16(w, t->replication_factor);
		kmsg_write_len(w, flex, t->n_assignments);
		for (int32_t j = 0; j < t->n_assignments; j++)
			assignment_encode(w, flex, true, &t->assignments[j]);
		configs_encode(w, flex, false, t->n_configs, t->configs);
		kmsg_write_tags(w, flex);
	}
	kbuf_write_i32(w, req->timeout_ms);
	if (v >= 1)
		kbuf_write_bool(w, req->validate_only);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_create_topics_req_free(struct proto_create_topics_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->topics && i < req->n_topics; i++) {
		assignments_free(req->topics[i].n_assignments, req->topics[i].assignments);
		free(req->topics[i].configs);
	}
	KMSG_FREE(req->topics, req->n_topics);
}

static int ct_result_tag(void *arg, uint32_t tag, struct kbuf_r *field)
{
	struct proto_creatable_topic_result *t = arg;

	if (tag != 0)
		return 0;
	t->topic_config_error_code = kbuf_read_i16(field);
	return 1;
}

static void ct_result_decode(struct kmsg_dec *d, int16_t v, struct proto_creatable_topic_result *t)
{
	struct kbuf_r *r = d->r;
	size_t cmin = 2 * kmsg_str_min(d->flex) + 3 + d->flex;

	t->name = kmsg_str(d);
	if (v >= 7)
		kbuf_read_uuid(r, t->topic_id);
	t->error_code = kbuf_read_i16(r);
	t->error_message = v >= 1 ? kmsg_nstr(d) : KSTR_NULL;
	t->num_partitions = -1;
	t->replication_factor = -1;
	t->n_configs = -1;
	if (v >= 5) {
		t->num_partitions = kbuf_read_i32(r);
		t->replication_factor = kbuf_read_i16(r);
		t->n_configs = kmsg_count(d, true, cmin, PROTO_MAX_CONFIGS);
		t->configs = kmsg_alloc(d, t->n_configs, sizeof(*t->configs));
		for (int32_t j = 0; j < t->n_configs && !r->err; j++) {
			struct proto_topic_config_desc *c = &t->configs[j];

			c->name = kmsg_str(d);
			c->value = kmsg_nstr(d);
			c->read_only = kbuf_read_bool(r);
			c->config_source = kbuf_read_i8(r);
			c->is_sensitive = kbuf_read_bool(r);
			kmsg_tags(d);
		}
		kbuf_read_tags(r, ct_result_tag, t);
	}
}

int proto_create_topics_resp_decode(struct kbuf_r *r, int16_t v,
				    struct proto_create_topics_resp *resp)
{
	struct kmsg_dec d;
	size_t tmin;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_CREATE_TOPICS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_CREATE_TOPICS, v));
	tmin = kmsg_str_min(d.flex) + (v >= 7 ? 16 : 0) + 2 + (v >= 1 ? kmsg_str_min(d.flex) : 0) +
	       (v >= 5 ? 4 + 2 + 1 + 1 : 0);
	if (v >= 2)
		resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++)
		ct_result_decode(&d, v, &resp->topics[i]);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_create_topics_resp_free(resp);
	return rc;
}

int proto_create_topics_resp_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_create_topics_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_CREATE_TOPICS, v);

	if (!proto_api_supported(PROTO_API_CREATE_TOPICS, v))
		return -EOPNOTSUPP;
	if (v >= 2)
		kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics; i++) {
		const struct proto_creatable_topic_result *t = &resp->topics[i];

		kmsg_write_str(w, flex, t->name);
		if (v >= 7)
			kbuf_write_uuid(w, t->topic_id);
		kbuf_write_i16(w, t->error_code);
		if (v >= 1)
			kmsg_write_nstr(w, flex, t->error_message);
		if (v < 5)
			continue;
		kbuf_write_i32(w, t->num_partitions);
		kbuf_write_i16(w, t->replication_factor);
		kmsg_write_len(w, flex, t->n_configs);
		for (int32_t j = 0; j < t->n_configs; j++) {
			const struct proto_topic_config_desc *c = &t->configs[j];

			kmsg_write_str(w, flex, c->name);
			kmsg_write_nstr(w, flex, c->value);
			kbuf_write_bool(w, c->read_only);
			kbuf_write_i8(w, c->config_source);
			kbuf_write_bool(w, c->is_sensitive);
			kmsg_write_tags(w, flex);
		}
		if (t->topic_config_error_code != PROTO_ERR_NONE) {
			kbuf_write_uvarint(w, 1);
			kbuf_write_tag_hdr(w, 0, 2);
			kbuf_write_i16(w, t->topic_config_error_code);
		} else {
			kmsg_write_tags(w, flex);
		}
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_create_topics_resp_free(struct proto_create_topics_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++)
		free(resp->topics[i].configs);
	KMSG_FREE(resp->topics, resp->n_topics);
}

/* ---- DeleteTopics ---- */

int proto_delete_topics_req_decode(struct kbuf_r *r, int16_t v, struct proto_delete_topics_req *req)
{
	struct kmsg_dec d;
	size_t tmin;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DELETE_TOPICS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DELETE_TOPICS, v));
	tmin = kmsg_str_min(d.flex) + (v >= 6 ? 16 + d.flex : 0);
	req->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_delete_topic *t = &req->topics[i];

		if (v >= 6) {
			t->name = kmsg_nstr(&d);
			kbuf_read_uuid(r, t->topic_id);
			kmsg_tags(&d);
		} else {
			t->name = kmsg_str(&d);
		}
	}
	req->timeout_ms = kbuf_read_i32(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_delete_topics_req_free(req);
	return rc;
}

int proto_delete_topics_req_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_delete_topics_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_DELETE_TOPICS, v);

	if (!proto_api_supported(PROTO_API_DELETE_TOPICS, v))
		return -EOPNOTSUPP;
	for (int32_t i = 0; v < 6 && i < req->n_topics; i++)
		if (req->topics[i].name.len < 0)
			return -EINVAL;
	kmsg_write_len(w, flex, req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		if (v >= 6) {
			kmsg_write_nstr(w, flex, req->topics[i].name);
			kbuf_write_uuid(w, req->topics[i].topic_id);
			kmsg_write_tags(w, flex);
		} else {
			kmsg_write_str(w, flex, req->topics[i].name);
		}
	}
	kbuf_write_i32(w, req->timeout_ms);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_delete_topics_req_free(struct proto_delete_topics_req *req)
{
	if (!req)
		return;
	KMSG_FREE(req->topics, req->n_topics);
}

int proto_delete_topics_resp_decode(struct kbuf_r *r, int16_t v,
				    struct proto_delete_topics_resp *resp)
{
	struct kmsg_dec d;
	size_t tmin;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DELETE_TOPICS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DELETE_TOPICS, v));
	tmin = kmsg_str_min(d.flex) + (v >= 6 ? 16 : 0) + 2 + (v >= 5 ? kmsg_str_min(d.flex) : 0) +
	       d.flex;
	if (v >= 1)
		resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_responses = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	resp->responses = kmsg_alloc(&d, resp->n_responses, sizeof(*resp->responses));
	for (int32_t i = 0; i < resp->n_responses && !r->err; i++) {
		struct proto_delete_topic_result *t = &resp->responses[i];

		t->name = v >= 6 ? kmsg_nstr(&d) : kmsg_str(&d);
		if (v >= 6)
			kbuf_read_uuid(r, t->topic_id);
		t->error_code = kbuf_read_i16(r);
		t->error_message = v >= 5 ? kmsg_nstr(&d) : KSTR_NULL;
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_delete_topics_resp_free(resp);
	return rc;
}

int proto_delete_topics_resp_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_delete_topics_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_DELETE_TOPICS, v);

	if (!proto_api_supported(PROTO_API_DELETE_TOPICS, v))
		return -EOPNOTSUPP;
	for (int32_t i = 0; v < 6 && i < resp->n_responses; i++)
		if (resp->responses[i].name.len < 0)
			return -EINVAL;
	if (v >= 1)
		kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_responses);
	for (int32_t i = 0; i < resp->n_responses; i++) {
		const struct proto_delete_topic_result *t = &resp->responses[i];

		kbuf_write_string(w, t->name, flex, v >= 6);
		if (v >= 6)
			kbuf_write_uuid(w, t->topic_id);
		kbuf_write_i16(w, t->error_code);
		if (v >= 5)
			kmsg_write_nstr(w, flex, t->error_message);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_delete_topics_resp_free(struct proto_delete_topics_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->responses, resp->n_responses);
}

/* ---- CreatePartitions ---- */

int proto_create_parts_req_decode(struct kbuf_r *r, int16_t v, struct proto_create_parts_req *req)
{
	struct kmsg_dec d;
	size_t tmin;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_CREATE_PARTITIONS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_CREATE_PARTITIONS, v));
	tmin = kmsg_str_min(d.flex) + 4 + kmsg_arr_min(d.flex) + d.flex;
	req->n_topics = kmsg_count(&d, false, tmin, PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_create_parts_topic *t = &req->topics[i];

		t->name = kmsg_str(&d);
		t->count = kbuf_read_i32(r);
		t->n_assignments =
			kmsg_count(&d, true, kmsg_arr_min(d.flex) + d.flex, d.parts_left);
		if (t->n_assignments > 0)
			d.parts_left -= t->n_assignments;
		t->assignments = kmsg_alloc(&d, t->n_assignments, sizeof(*t->assignments));
		for (int32_t j = 0; j < t->n_assignments && !r->err; j++)
			assignment_decode(&d, false, &t->assignments[j]);
		kmsg_tags(&d);
	}
	req->timeout_ms = kbuf_read_i32(r);
	req->validate_only = kbuf_read_bool(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_create_parts_req_free(req);
	return rc;
}

int proto_create_parts_req_encode(struct kbuf_w *w, int16_t v,
				  const struct proto_create_parts_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_CREATE_PARTITIONS, v);

	if (!proto_api_supported(PROTO_API_CREATE_PARTITIONS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		const struct proto_create_parts_topic *t = &req->topics[i];

		kmsg_write_str(w, flex, t->name);
		kbuf_write_i32(w, t->count);
		kmsg_write_len(w, flex, t->n_assignments < 0 ? -1 : t->n_assignments);
		for (int32_t j = 0; j < t->n_assignments; j++)
			assignment_encode(w, flex, false, &t->assignments[j]);
		kmsg_write_tags(w, flex);
	}
	kbuf_write_i32(w, req->timeout_ms);
	kbuf_write_bool(w, req->validate_only);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_create_parts_req_free(struct proto_create_parts_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->topics && i < req->n_topics; i++)
		assignments_free(req->topics[i].n_assignments, req->topics[i].assignments);
	KMSG_FREE(req->topics, req->n_topics);
}

/* results ARRAY of (name STRING, error_code INT16, error_message
 * NULLABLE_STRING) when !typed (CreatePartitions); (error_code,
 * error_message, resource_type INT8, resource_name STRING) when typed
 * (AlterConfigs, IncrementalAlterConfigs). */
static int results_decode(struct kbuf_r *r, bool flex, bool typed, int32_t *throttle, int32_t *n,
			  struct proto_resource_result **out)
{
	struct kmsg_dec d;
	size_t rmin = 2 * kmsg_str_min(flex) + 2 + typed + flex;
	struct proto_resource_result *res;
	int rc;

	kmsg_dec_init(&d, r, flex);
	*throttle = kbuf_read_i32(r);
	*n = kmsg_count(&d, false, rmin, PROTO_MAX_TOPICS);
	*out = res = kmsg_alloc(&d, *n, sizeof(*res));
	for (int32_t i = 0; i < *n && !r->err; i++) {
		if (!typed)
			res[i].resource_name = kmsg_str(&d);
		res[i].error_code = kbuf_read_i16(r);
		res[i].error_message = kmsg_nstr(&d);
		if (typed) {
			res[i].resource_type = kbuf_read_i8(r);
			res[i].resource_name = kmsg_str(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static int results_encode(struct kbuf_w *w, bool flex, bool typed, int32_t throttle, int32_t n,
			  const struct proto_resource_result *res)
{
	kbuf_write_i32(w, throttle);
	kmsg_write_len(w, flex, n);
	for (int32_t i = 0; i < n; i++) {
		if (!typed)
			kmsg_write_str(w, flex, res[i].resource_name);
		kbuf_write_i16(w, res[i].error_code);
		kmsg_write_nstr(w, flex, res[i].error_message);
		if (typed) {
			kbuf_write_i8(w, res[i].resource_type);
			kmsg_write_str(w, flex, res[i].resource_name);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_create_parts_resp_decode(struct kbuf_r *r, int16_t v,
				   struct proto_create_parts_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_CREATE_PARTITIONS, v))
		return -EOPNOTSUPP;
	return results_decode(r, proto_is_flexible(PROTO_API_CREATE_PARTITIONS, v), false,
			      &resp->throttle_time_ms, &resp->n_results, &resp->results);
}

int proto_create_parts_resp_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_create_parts_resp *resp)
{
	if (!proto_api_supported(PROTO_API_CREATE_PARTITIONS, v))
		return -EOPNOTSUPP;
	return results_encode(w, proto_is_flexible(PROTO_API_CREATE_PARTITIONS, v), false,
			      resp->throttle_time_ms, resp->n_results, resp->results);
}

void proto_create_parts_resp_free(struct proto_create_parts_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->results, resp->n_results);
}

/* ---- DescribeConfigs ---- */

int proto_describe_configs_req_decode(struct kbuf_r *r, int16_t v,
				      struct proto_describe_configs_req *req)
{
	struct kmsg_dec d;
	size_t rmin;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(PROTO_API_DESCRIBE_CONFIGS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DESCRIBE_CONFIGS, v));
	rmin = 1 + kmsg_topic_min(d.flex);
	req->n_resources = kmsg_count(&d, false, rmin, PROTO_MAX_TOPICS);
	req->resources = kmsg_alloc(&d, req->n_resources, sizeof(*req->resources));
	for (int32_t i = 0; i < req->n_resources && !r->err; i++) {
		struct proto_describe_configs_resource *res = &req->resources[i];

		res->resource_type = kbuf_read_i8(r);
		res->resource_name = kmsg_str(&d);
		res->n_configuration_keys =
			kmsg_strs(&d, true, PROTO_MAX_CONFIGS, &res->configuration_keys);
		kmsg_tags(&d);
	}
	if (v >= 1)
		req->include_synonyms = kbuf_read_bool(r);
	if (v >= 3)
		req->include_documentation = kbuf_read_bool(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_configs_req_free(req);
	return rc;
}

int proto_describe_configs_req_encode(struct kbuf_w *w, int16_t v,
				      const struct proto_describe_configs_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_CONFIGS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_CONFIGS, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, req->n_resources);
	for (int32_t i = 0; i < req->n_resources; i++) {
		const struct proto_describe_configs_resource *res = &req->resources[i];

		kbuf_write_i8(w, res->resource_type);
		kmsg_write_str(w, flex, res->resource_name);
		kmsg_write_strs(w, flex, res->n_configuration_keys, res->configuration_keys);
		kmsg_write_tags(w, flex);
	}
	if (v >= 1)
		kbuf_write_bool(w, req->include_synonyms);
	if (v >= 3)
		kbuf_write_bool(w, req->include_documentation);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_describe_configs_req_free(struct proto_describe_configs_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->resources && i < req->n_resources; i++)
		free(req->resources[i].configuration_keys);
	KMSG_FREE(req->resources, req->n_resources);
}

static size_t dc_entry_min(int16_t v, bool flex)
{
	return 2 * kmsg_str_min(flex) + 1 + (v == 0) + (v >= 1 ? 1 : 0) + 1 +
	       (v >= 1 ? kmsg_arr_min(flex) : 0) + (v >= 3 ? 1 + kmsg_str_min(flex) : 0) + flex;
}

static void dc_entry_decode(struct kmsg_dec *d, int16_t v, struct proto_describe_configs_entry *c)
{
	struct kbuf_r *r = d->r;

	c->name = kmsg_str(d);
	c->value = kmsg_nstr(d);
	c->read_only = kbuf_read_bool(r);
	c->is_default = v == 0 ? kbuf_read_bool(r) : false;
	c->config_source = v >= 1 ? kbuf_read_i8(r) : -1;
	c->is_sensitive = kbuf_read_bool(r);
	if (v >= 1) {
		size_t smin = 2 * kmsg_str_min(d->flex) + 1 + d->flex;

		c->n_synonyms = kmsg_count(d, false, smin, PROTO_MAX_SYNONYMS);
		c->synonyms = kmsg_alloc(d, c->n_synonyms, sizeof(*c->synonyms));
		for (int32_t k = 0; k < c->n_synonyms && !r->err; k++) {
			c->synonyms[k].name = kmsg_str(d);
			c->synonyms[k].value = kmsg_nstr(d);
			c->synonyms[k].source = kbuf_read_i8(r);
			kmsg_tags(d);
		}
	}
	c->documentation = KSTR_NULL;
	if (v >= 3) {
		c->config_type = kbuf_read_i8(r);
		c->documentation = kmsg_nstr(d);
	}
	kmsg_tags(d);
}

int proto_describe_configs_resp_decode(struct kbuf_r *r, int16_t v,
				       struct proto_describe_configs_resp *resp)
{
	struct kmsg_dec d;
	size_t rmin;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_DESCRIBE_CONFIGS, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_DESCRIBE_CONFIGS, v));
	rmin = 2 + 2 * kmsg_str_min(d.flex) + 1 + kmsg_arr_min(d.flex) + d.flex;
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_results = kmsg_count(&d, false, rmin, PROTO_MAX_TOPICS);
	resp->results = kmsg_alloc(&d, resp->n_results, sizeof(*resp->results));
	for (int32_t i = 0; i < resp->n_results && !r->err; i++) {
		struct proto_describe_configs_result *res = &resp->results[i];

		res->error_code = kbuf_read_i16(r);
		res->error_message = kmsg_nstr(&d);
		res->resource_type = kbuf_read_i8(r);
		res->resource_name = kmsg_str(&d);
		res->n_configs = kmsg_count(&d, false, dc_entry_min(v, d.flex), PROTO_MAX_CONFIGS);
		res->configs = kmsg_alloc(&d, res->n_configs, sizeof(*res->configs));
		for (int32_t j = 0; j < res->n_configs && !r->err; j++)
			dc_entry_decode(&d, v, &res->configs[j]);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_describe_configs_resp_free(resp);
	return rc;
}

static void dc_entry_encode(struct kbuf_w *w, int16_t v, bool flex,
			    const struct proto_describe_configs_entry *c)
{
	kmsg_write_str(w, flex, c->name);
	kmsg_write_nstr(w, flex, c->value);
	kbuf_write_bool(w, c->read_only);
	if (v == 0)
		kbuf_write_bool(w, c->is_default);
	else
		kbuf_write_i8(w, c->config_source);
	kbuf_write_bool(w, c->is_sensitive);
	if (v >= 1) {
		kmsg_write_len(w, flex, c->n_synonyms);
		for (int32_t k = 0; k < c->n_synonyms; k++) {
			kmsg_write_str(w, flex, c->synonyms[k].name);
			kmsg_write_nstr(w, flex, c->synonyms[k].value);
			kbuf_write_i8(w, c->synonyms[k].source);
			kmsg_write_tags(w, flex);
		}
	}
	if (v >= 3) {
		kbuf_write_i8(w, c->config_type);
		kmsg_write_nstr(w, flex, c->documentation);
	}
	kmsg_write_tags(w, flex);
}

int proto_describe_configs_resp_encode(struct kbuf_w *w, int16_t v,
				       const struct proto_describe_configs_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_DESCRIBE_CONFIGS, v);

	if (!proto_api_supported(PROTO_API_DESCRIBE_CONFIGS, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_results);
	for (int32_t i = 0; i < resp->n_results; i++) {
		const struct proto_describe_configs_result *res = &resp->results[i];

		kbuf_write_i16(w, res->error_code);
		kmsg_write_nstr(w, flex, res->error_message);
		kbuf_write_i8(w, res->resource_type);
		kmsg_write_str(w, flex, res->resource_name);
		kmsg_write_len(w, flex, res->n_configs);
		for (int32_t j = 0; j < res->n_configs; j++)
			dc_entry_encode(w, v, flex, &res->configs[j]);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_describe_configs_resp_free(struct proto_describe_configs_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->results && i < resp->n_results; i++) {
		struct proto_describe_configs_result *res = &resp->results[i];

		for (int32_t j = 0; res->configs && j < res->n_configs; j++)
			free(res->configs[j].synonyms);
		free(res->configs);
	}
	KMSG_FREE(resp->results, resp->n_results);
}

/* ---- AlterConfigs, IncrementalAlterConfigs ---- */

static int alter_req_decode(struct kbuf_r *r, int16_t api, int16_t v,
			    struct proto_alter_configs_req *req)
{
	bool incr = api == PROTO_API_INCREMENTAL_ALTER_CONFIGS;
	struct kmsg_dec d;
	size_t rmin;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!proto_api_supported(api, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(api, v));
	rmin = 1 + kmsg_topic_min(d.flex);
	req->n_resources = kmsg_count(&d, false, rmin, PROTO_MAX_TOPICS);
	req->resources = kmsg_alloc(&d, req->n_resources, sizeof(*req->resources));
	for (int32_t i = 0; i < req->n_resources && !r->err; i++) {
		struct proto_alter_configs_resource *res = &req->resources[i];

		res->resource_type = kbuf_read_i8(r);
		res->resource_name = kmsg_str(&d);
		res->n_configs = configs_decode(&d, incr, &res->configs);
		kmsg_tags(&d);
	}
	req->validate_only = kbuf_read_bool(r);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_alter_configs_req_free(req);
	return rc;
}

static int alter_req_encode(struct kbuf_w *w, int16_t api, int16_t v,
			    const struct proto_alter_configs_req *req)
{
	bool flex = proto_is_flexible(api, v);

	if (!proto_api_supported(api, v))
		return -EOPNOTSUPP;
	kmsg_write_len(w, flex, req->n_resources);
	for (int32_t i = 0; i < req->n_resources; i++) {
		const struct proto_alter_configs_resource *res = &req->resources[i];

		kbuf_write_i8(w, res->resource_type);
		kmsg_write_str(w, flex, res->resource_name);
		configs_encode(w, flex, api == PROTO_API_INCREMENTAL_ALTER_CONFIGS, res->n_configs,
			       res->configs);
		kmsg_write_tags(w, flex);
	}
	kbuf_write_bool(w, req->validate_only);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_alter_configs_req_decode(struct kbuf_r *r, int16_t v, struct proto_alter_configs_req *req)
{
	return alter_req_decode(r, PROTO_API_ALTER_CONFIGS, v, req);
}

int proto_alter_configs_req_encode(struct kbuf_w *w, int16_t v,
				   const struct proto_alter_configs_req *req)
{
	return alter_req_encode(w, PROTO_API_ALTER_CONFIGS, v, req);
}

int proto_incr_alter_configs_req_decode(struct kbuf_r *r, int16_t v,
					struct proto_alter_configs_req *req)
{
	return alter_req_decode(r, PROTO_API_INCREMENTAL_ALTER_CONFIGS, v, req);
}

int proto_incr_alter_configs_req_encode(struct kbuf_w *w, int16_t v,
					const struct proto_alter_configs_req *req)
{
	return alter_req_encode(w, PROTO_API_INCREMENTAL_ALTER_CONFIGS, v, req);
}

void proto_alter_configs_req_free(struct proto_alter_configs_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->resources && i < req->n_resources; i++)
		free(req->resources[i].configs);
	KMSG_FREE(req->resources, req->n_resources);
}

static int alter_resp_decode(struct kbuf_r *r, int16_t api, int16_t v,
			     struct proto_alter_configs_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(api, v))
		return -EOPNOTSUPP;
	return results_decode(r, proto_is_flexible(api, v), true, &resp->throttle_time_ms,
			      &resp->n_responses, &resp->responses);
}

static int alter_resp_encode(struct kbuf_w *w, int16_t api, int16_t v,
			     const struct proto_alter_configs_resp *resp)
{
	if (!proto_api_supported(api, v))
		return -EOPNOTSUPP;
	return results_encode(w, proto_is_flexible(api, v), true, resp->throttle_time_ms,
			      resp->n_responses, resp->responses);
}

int proto_alter_configs_resp_decode(struct kbuf_r *r, int16_t v,
				    struct proto_alter_configs_resp *resp)
{
	return alter_resp_decode(r, PROTO_API_ALTER_CONFIGS, v, resp);
}

int proto_alter_configs_resp_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_alter_configs_resp *resp)
{
	return alter_resp_encode(w, PROTO_API_ALTER_CONFIGS, v, resp);
}

int proto_incr_alter_configs_resp_decode(struct kbuf_r *r, int16_t v,
					 struct proto_alter_configs_resp *resp)
{
	return alter_resp_decode(r, PROTO_API_INCREMENTAL_ALTER_CONFIGS, v, resp);
}

int proto_incr_alter_configs_resp_encode(struct kbuf_w *w, int16_t v,
					 const struct proto_alter_configs_resp *resp)
{
	return alter_resp_encode(w, PROTO_API_INCREMENTAL_ALTER_CONFIGS, v, resp);
}

void proto_alter_configs_resp_free(struct proto_alter_configs_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->responses, resp->n_responses);
}
