/*
 * proto_reassign.c — AlterPartitionReassignments (45) and
 * ListPartitionReassignments (46) v0, requests and responses both ways;
 * the structs are in proto.h. Both are flexible from v0 (compact forms,
 * TAGGED_FIELDS ending every struct).
 *
 * AlterPartitionReassignments request
 *   timeout_ms INT32, topics ARRAY of (name STRING, partitions ARRAY of
 *   (partition_index INT32, replicas NULLABLE ARRAY INT32: null cancels))
 * AlterPartitionReassignments response
 *   throttle_time_ms INT32, error_code INT16, error_message
 *   NULLABLE_STRING, responses ARRAY of (name STRING, partitions ARRAY of
 *   (partition_index INT32, error_code INT16, error_message
 *   NULLABLE_STRING))
 * ListPartitionReassignments request
 *   timeout_ms INT32, topics NULLABLE ARRAY of (name STRING,
 *   partition_indexes ARRAY INT32)
 * ListPartitionReassignments response
 *   throttle_time_ms INT32, error_code INT16, error_message
 *   NULLABLE_STRING, topics ARRAY of (name STRING, partitions ARRAY of
 *   (partition_index INT32, replicas ARRAY INT32, adding_replicas ARRAY
 *   INT32, removing_replicas ARRAY INT32))
 *
 * Caps: PROTO_MAX_TOPICS topics, PROTO_MAX_PARTITIONS partitions summed
 * over them, PROTO_MAX_BROKERS ids in each replica list.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

static bool is_alter(int16_t api)
{
	return api == PROTO_API_ALTER_PARTITION_REASSIGNMENTS;
}

static bool known(int16_t api, int16_t v)
{
	return (is_alter(api) || api == PROTO_API_LIST_PARTITION_REASSIGNMENTS) &&
	       proto_api_supported(api, v);
}

/* The topics of any of the four messages: req (a request, else a
 * response) and the API say what each partition holds. */
static void topics_decode(struct kmsg_dec *d, int16_t api, bool req, int32_t *n,
			  struct proto_reassign_topic **out)
{
	struct kbuf_r *r = d->r;
	bool alter = is_alter(api), nullable = req && !alter;
	struct proto_reassign_topic *ts;

	*n = kmsg_count(d, nullable, kmsg_topic_min(d->flex), PROTO_MAX_TOPICS);
	*out = ts = kmsg_alloc(d, *n, sizeof(*ts));
	for (int32_t i = 0; i < *n && !r->err; i++) {
		ts[i].name = kmsg_str(d);
		if (req && !alter) { /* partition_indexes */
			int32_t *ids = NULL;

			ts[i].n_partitions = kmsg_i32s(d, false, PROTO_MAX_PARTITIONS, &ids);
			ts[i].partitions =
				kmsg_alloc(d, ts[i].n_partitions, sizeof(*ts[i].partitions));
			for (int32_t j = 0; ts[i].partitions && j < ts[i].n_partitions; j++)
				ts[i].partitions[j].partition_index = ids[j];
			free(ids);
			kmsg_tags(d);
			continue;
		}
		ts[i].n_partitions = kmsg_parts(d, 4 + 2 * d->flex);
		ts[i].partitions = kmsg_alloc(d, ts[i].n_partitions, sizeof(*ts[i].partitions));
		for (int32_t j = 0; j < ts[i].n_partitions && !r->err; j++) {
			struct proto_reassign_partition *p = &ts[i].partitions[j];

			p->partition_index = kbuf_read_i32(r);
			if (req) {
				p->n_replicas = kmsg_i32s(d, true, PROTO_MAX_BROKERS, &p->replicas);
			} else if (alter) {
				p->error_code = kbuf_read_i16(r);
				p->error_message = kmsg_nstr(d);
			} else {
				p->n_replicas =
					kmsg_i32s(d, false, PROTO_MAX_BROKERS, &p->replicas);
				p->n_adding = kmsg_i32s(d, false, PROTO_MAX_BROKERS, &p->adding);
				p->n_removing =
					kmsg_i32s(d, false, PROTO_MAX_BROKERS, &p->removing);
			}
			kmsg_tags(d);
		}
		kmsg_tags(d);
	}
}

static void topics_encode(struct kbuf_w *w, bool flex, int16_t api, bool req, int32_t n,
			  const struct proto_reassign_topic *ts)
{
	bool alter = is_alter(api);

	kmsg_write_len(w, flex, n);
	for (int32_t i = 0; i < n; i++) {
		kmsg_write_str(w, flex, ts[i].name);
		if (req && !alter) {
			kmsg_write_len(w, flex, ts[i].n_partitions);
			for (int32_t j = 0; j < ts[i].n_partitions; j++)
				kbuf_write_i32(w, ts[i].partitions[j].partition_index);
			kmsg_write_tags(w, flex);
			continue;
		}
		kmsg_write_len(w, flex, ts[i].n_partitions);
		for (int32_t j = 0; j < ts[i].n_partitions; j++) {
			const struct proto_reassign_partition *p = &ts[i].partitions[j];

			kbuf_write_i32(w, p->partition_index);
			if (req) {
				kmsg_write_i32s(w, flex, p->n_replicas, p->replicas);
			} else if (alter) {
				kbuf_write_i16(w, p->error_code);
				kmsg_write_nstr(w, flex, p->error_message);
			} else {
				kmsg_write_i32s(w, flex, p->n_replicas, p->replicas);
				kmsg_write_i32s(w, flex, p->n_adding, p->adding);
				kmsg_write_i32s(w, flex, p->n_removing, p->removing);
			}
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
}

static void topics_free(int32_t *n, struct proto_reassign_topic **ts)
{
	for (int32_t i = 0; *ts && i < *n; i++) {
		for (int32_t j = 0; (*ts)[i].partitions && j < (*ts)[i].n_partitions; j++) {
			free((*ts)[i].partitions[j].replicas);
			free((*ts)[i].partitions[j].adding);
			free((*ts)[i].partitions[j].removing);
		}
		free((*ts)[i].partitions);
	}
	free(*ts);
	*ts = NULL;
	*n = 0;
}

int proto_reassign_req_decode(struct kbuf_r *r, int16_t api, int16_t v,
			      struct proto_reassign_req *req)
{
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	if (!known(api, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(api, v));
	req->timeout_ms = kbuf_read_i32(r);
	topics_decode(&d, api, true, &req->n_topics, &req->topics);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_reassign_req_free(req);
	return rc;
}

int proto_reassign_req_encode(struct kbuf_w *w, int16_t api, int16_t v,
			      const struct proto_reassign_req *req)
{
	bool flex = proto_is_flexible(api, v);

	if (!known(api, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, req->timeout_ms);
	topics_encode(w, flex, api, true, req->n_topics, req->topics);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_reassign_req_free(struct proto_reassign_req *req)
{
	if (req)
		topics_free(&req->n_topics, &req->topics);
}

int proto_reassign_resp_decode(struct kbuf_r *r, int16_t api, int16_t v,
			       struct proto_reassign_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!known(api, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(api, v));
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->error_code = kbuf_read_i16(r);
	resp->error_message = kmsg_nstr(&d);
	topics_decode(&d, api, false, &resp->n_topics, &resp->topics);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_reassign_resp_free(resp);
	return rc;
}

int proto_reassign_resp_encode(struct kbuf_w *w, int16_t api, int16_t v,
			       const struct proto_reassign_resp *resp)
{
	bool flex = proto_is_flexible(api, v);

	if (!known(api, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_nstr(w, flex, resp->error_message);
	topics_encode(w, flex, api, false, resp->n_topics, resp->topics);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_reassign_resp_free(struct proto_reassign_resp *resp)
{
	if (resp)
		topics_free(&resp->n_topics, &resp->topics);
}
