/*
 * proto_ctrl.c — the controller's APIs of the ZooKeeper era, at the
 * versions a Kafka 3.x ZooKeeper-mode controller speaks: LeaderAndIsr (4)
 * v0-7, StopReplica (5) v0-4, UpdateMetadata (6) v0-8 from the controller
 * to every broker, and ControlledShutdown (7) v0-3 from a broker to the
 * controller. Requests and responses, both ways, so the same code serves
 * the controller and the brokers. The structs are in proto.h.
 *
 * Flexible versions (compact forms, TAGGED_FIELDS ending every struct):
 * LeaderAndIsr v4+, StopReplica v2+, UpdateMetadata v6+,
 * ControlledShutdown v3+. Field lists, "vN+" meaning from version N:
 *
 * LeaderAndIsr request
 *   controller_id INT32, is_kraft_controller BOOLEAN (v7+),
 *   controller_epoch INT32, broker_epoch INT64 (v2+), type INT8 (v5+),
 *   v0-1: ungrouped_partition_states ARRAY of (topic_name STRING, STATE)
 *   v2+:  topic_states ARRAY of (topic_name STRING, topic_id UUID (v5+),
 *                                partition_states ARRAY of STATE)
 *   live_leaders ARRAY of (broker_id INT32, host_name STRING, port INT32)
 * STATE (LeaderAndIsr)
 *   partition_index INT32, controller_epoch INT32, leader INT32,
 *   leader_epoch INT32, isr ARRAY INT32, partition_epoch INT32,
 *   replicas ARRAY INT32, adding_replicas ARRAY INT32 (v3+),
 *   removing_replicas ARRAY INT32 (v3+), is_new BOOLEAN (v1+),
 *   leader_recovery_state INT8 (v6+)
 * LeaderAndIsr response
 *   error_code INT16,
 *   v0-4: partition_errors ARRAY of (topic_name STRING, partition_index
 *         INT32, error_code INT16)
 *   v5+:  topics ARRAY of (topic_id UUID, partition_errors ARRAY of
 *         (partition_index INT32, error_code INT16))
 *
 * UpdateMetadata request
 *   controller_id INT32, is_kraft_controller BOOLEAN (v8+),
 *   controller_epoch INT32, broker_epoch INT64 (v5+),
 *   v0-4: ungrouped_partition_states ARRAY of (topic_name STRING, STATE)
 *   v5+:  topic_states ARRAY of (topic_name STRING, topic_id UUID (v7+),
 *                                partition_states ARRAY of STATE)
 *   live_brokers ARRAY of
 *     id INT32, v0: v0_host STRING, v0_port INT32
 *     v1+: endpoints ARRAY of (port INT32, host STRING,
 *          listener STRING (v3+), security_protocol INT16)
 *     rack NULLABLE_STRING (v2+)
 *   v8+ tag 0: type INT8
 * STATE (UpdateMetadata)
 *   partition_index INT32, controller_epoch INT32, leader INT32,
 *   leader_epoch INT32, isr ARRAY INT32, zk_version INT32,
 *   replicas ARRAY INT32, offline_replicas ARRAY INT32 (v4+)
 * UpdateMetadata response: error_code INT16
 *
 * StopReplica request
 *   controller_id INT32, is_kraft_controller BOOLEAN (v4+),
 *   controller_epoch INT32, broker_epoch INT64 (v1+),
 *   delete_partitions BOOLEAN (v0-2),
 *   v0:   ungrouped_partitions ARRAY of (topic_name STRING,
 *                                        partition_index INT32)
 *   v1-2: topics ARRAY of (name STRING, partition_indexes ARRAY INT32)
 *   v3+:  topic_states ARRAY of (topic_name STRING, partition_states
 *         ARRAY of (partition_index INT32, leader_epoch INT32,
 *                   delete_partition BOOLEAN))
 * StopReplica response
 *   error_code INT16, partition_errors ARRAY of (topic_name STRING,
 *   partition_index INT32, error_code INT16)
 *
 * ControlledShutdown request  broker_id INT32, broker_epoch INT64 (v2+)
 *   (v0 is sent with request header v0: no client_id; see proto_hdr.c)
 * ControlledShutdown response error_code INT16, remaining_partitions
 *   ARRAY of (topic_name STRING, partition_index INT32)
 *
 * Invariants of a decoded message: every count is within the bytes of the
 * frame and the caps (PROTO_MAX_TOPICS topics, PROTO_MAX_PARTITIONS
 * partitions summed over the message, PROTO_MAX_BROKERS brokers and ids
 * per replica list, PROTO_MAX_ENDPOINTS endpoints per broker); an old
 * version's flat list is grouped into topics by consecutive equal names,
 * so decoding, encoding and decoding again gives the same topics. Values
 * (epochs, ids, error codes) are carried, not judged: fencing a stale
 * controller epoch is the broker's decision.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* ---- partition states (LeaderAndIsr, UpdateMetadata) ---- */

/* Which fields a list of partition states has. */
struct states_fmt {
	bool lisr; /* LeaderAndIsr, else UpdateMetadata */
	int16_t v;
	bool ungrouped; /* one flat list, a topic name in each state */
	bool has_id;    /* topics carry their topic_id */
};

static struct states_fmt lisr_fmt(int16_t v)
{
	return (struct states_fmt){ true, v, v < 2, v >= 5 };
}

static struct states_fmt um_fmt(int16_t v)
{
	return (struct states_fmt){ false, v, v < 5, v >= 7 };
}

static size_t state_min(const struct states_fmt *f, bool flex)
{
	size_t n = 4 * 4 + 4 + 2 * kmsg_arr_min(flex) + flex;

	if (f->lisr)
		n += (f->v >= 3 ? 2 * kmsg_arr_min(flex) : 0) + (f->v >= 1) + (f->v >= 6);
	else
		n += f->v >= 4 ? kmsg_arr_min(flex) : 0;
	return n + (f->ungrouped ? kmsg_str_min(flex) : 0);
}

static void state_decode(struct kmsg_dec *d, const struct states_fmt *f,
			 struct proto_part_state *ps)
{
	struct kbuf_r *r = d->r;

	ps->partition_index = kbuf_read_i32(r);
	ps->controller_epoch = kbuf_read_i32(r);
	ps->leader = kbuf_read_i32(r);
	ps->leader_epoch = kbuf_read_i32(r);
	ps->n_isr = kmsg_i32s(d, false, PROTO_MAX_BROKERS, &ps->isr);
	ps->partition_epoch = kbuf_read_i32(r);
	ps->n_replicas = kmsg_i32s(d, false, PROTO_MAX_BROKERS, &ps->replicas);
	if (f->lisr && f->v >= 3) {
		ps->n_adding_replicas =
			kmsg_i32s(d, false, PROTO_MAX_BROKERS, &ps->adding_replicas);
		ps->n_removing_replicas =
			kmsg_i32s(d, false, PROTO_MAX_BROKERS, &ps->removing_replicas);
	}
	if (f->lisr && f->v >= 1)
		ps->is_new = kbuf_read_bool(r);
	if (f->lisr && f->v >= 6)
		ps->leader_recovery_state = kbuf_read_i8(r);
	if (!f->lisr && f->v >= 4)
		ps->n_offline_replicas =
			kmsg_i32s(d, false, PROTO_MAX_BROKERS, &ps->offline_replicas);
	kmsg_tags(d);
}

static void state_encode(struct kbuf_w *w, bool flex, const struct states_fmt *f,
			 const struct proto_part_state *ps)
{
	kbuf_write_i32(w, ps->partition_index);
	kbuf_write_i32(w, ps->controller_epoch);
	kbuf_write_i32(w, ps->leader);
	kbuf_write_i32(w, ps->leader_epoch);
	kmsg_write_i32s(w, flex, ps->n_isr, ps->isr);
	kbuf_write_i32(w, ps->partition_epoch);
	kmsg_write_i32s(w, flex, ps->n_replicas, ps->replicas);
	if (f->lisr && f->v >= 3) {
		kmsg_write_i32s(w, flex, ps->n_adding_replicas, ps->adding_replicas);
		kmsg_write_i32s(w, flex, ps->n_removing_replicas, ps->removing_replicas);
	}
	if (f->lisr && f->v >= 1)
		kbuf_write_bool(w, ps->is_new);
	if (f->lisr && f->v >= 6)
		kbuf_write_i8(w, ps->leader_recovery_state);
	if (!f->lisr && f->v >= 4)
		kmsg_write_i32s(w, flex, ps->n_offline_replicas, ps->offline_replicas);
	kmsg_write_tags(w, flex);
}

static void state_free(struct proto_part_state *ps)
{
	free(ps->isr);
	free(ps->replicas);
	free(ps->adding_replicas);
	free(ps->removing_replicas);
	free(ps->offline_replicas);
}

/* Runs of consecutive equal names in names[0..n): the topics an old
 * version's flat list groups into; over PROTO_MAX_TOPICS fails. */
static int32_t name_runs(struct kmsg_dec *d, const struct kstr *names, int32_t n)
{
	int32_t runs = 0;

	for (int32_t i = 0; i < n && !d->r->err; i++)
		if (i == 0 || !kstr_same(names[i], names[i - 1]))
			runs++;
	if (runs > PROTO_MAX_TOPICS)
		kmsg_over_cap(d);
	return d->r->err ? 0 : runs;
}

/* The flat list of an old version, grouped into *topics whose states point
 * into *flat. On error nothing stays allocated. */
static void states_decode_flat(struct kmsg_dec *d, const struct states_fmt *f,
			       struct proto_part_state **flat, int32_t *n_topics,
			       struct proto_topic_state **topics)
{
	int32_t n = kmsg_parts(d, state_min(f, d->flex));
	struct proto_part_state *ps = kmsg_alloc(d, n, sizeof(*ps));
	struct kstr *names = kmsg_alloc(d, n, sizeof(*names));
	struct proto_topic_state *t = NULL;
	int32_t runs;

	for (int32_t i = 0; i < n && !d->r->err; i++) {
		names[i] = kmsg_str(d);
		state_decode(d, f, &ps[i]);
	}
	runs = name_runs(d, names, n);
	t = kmsg_alloc(d, runs, sizeof(*t));
	for (int32_t i = 0, k = -1; t && i < n; i++) {
		if (i == 0 || !kstr_same(names[i], names[i - 1])) {
			t[++k].topic_name = names[i];
			t[k].partition_states = &ps[i];
		}
		t[k].n_partitions++;
	}
	free(names);
	if (d->r->err) {
		for (int32_t i = 0; ps && i < n; i++)
			state_free(&ps[i]);
		free(ps);
		free(t);
		return;
	}
	*flat = ps;
	*topics = t;
	*n_topics = runs;
}

static void states_decode(struct kmsg_dec *d, const struct states_fmt *f,
			  struct proto_part_state **flat, int32_t *n_topics,
			  struct proto_topic_state **topics)
{
	size_t topic_min =
		kmsg_str_min(d->flex) + (f->has_id ? 16 : 0) + kmsg_arr_min(d->flex) + d->flex;
	struct proto_topic_state *t;

	if (f->ungrouped) {
		states_decode_flat(d, f, flat, n_topics, topics);
		return;
	}
	*n_topics = kmsg_count(d, false, topic_min, PROTO_MAX_TOPICS);
	*topics = t = kmsg_alloc(d, *n_topics, sizeof(*t));
	for (int32_t i = 0; t && i < *n_topics && !d->r->err; i++) {
		t[i].topic_name = kmsg_str(d);
		if (f->has_id)
			kbuf_read_uuid(d->r, t[i].topic_id);
		t[i].n_partitions = kmsg_parts(d, state_min(f, d->flex));
		t[i].partition_states =
			kmsg_alloc(d, t[i].n_partitions, sizeof(*t[i].partition_states));
		for (int32_t j = 0; j < t[i].n_partitions && !d->r->err; j++)
			state_decode(d, f, &t[i].partition_states[j]);
		kmsg_tags(d);
	}
}

static void states_encode(struct kbuf_w *w, bool flex, const struct states_fmt *f, int32_t n_topics,
			  const struct proto_topic_state *t)
{
	int64_t total = 0;

	if (f->ungrouped) {
		for (int32_t i = 0; i < n_topics; i++)
			total += t[i].n_partitions;
		if (total > INT32_MAX) {
			w->err = w->err ? w->err : -EINVAL;
			return;
		}
		kmsg_write_len(w, flex, (int32_t)total);
		for (int32_t i = 0; i < n_topics; i++) {
			for (int32_t j = 0; j < t[i].n_partitions; j++) {
				kmsg_write_str(w, flex, t[i].topic_name);
				state_encode(w, flex, f, &t[i].partition_states[j]);
			}
		}
		return;
	}
	kmsg_write_len(w, flex, n_topics);
	for (int32_t i = 0; i < n_topics; i++) {
		kmsg_write_str(w, flex, t[i].topic_name);
		if (f->has_id)
			kbuf_write_uuid(w, t[i].topic_id);
		kmsg_write_len(w, flex, t[i].n_partitions);
		for (int32_t j = 0; j < t[i].n_partitions; j++)
			state_encode(w, flex, f, &t[i].partition_states[j]);
		kmsg_write_tags(w, flex);
	}
}

static void states_free(struct proto_part_state *flat, int32_t n_topics,
			struct proto_topic_state *topics)
{
	for (int32_t i = 0; topics && i < n_topics; i++) {
		struct proto_topic_state *t = &topics[i];

		for (int32_t j = 0; t->partition_states && j < t->n_partitions; j++)
			state_free(&t->partition_states[j]);
		if (!flat)
			free(t->partition_states);
	}
	free(flat);
	free(topics);
}

/* ---- the head of the controller's requests ---- */

/* controller_id INT32, is_kraft_controller BOOLEAN (from version
 * kraft_since), controller_epoch INT32, broker_epoch INT64 (from version
 * epoch_since): how LeaderAndIsr, UpdateMetadata and StopReplica begin,
 * each API having added the two optional fields at its own version.
 * *broker_epoch stays as the caller set it (-1) below epoch_since. */
static void ctrl_head_decode(struct kbuf_r *r, int16_t v, int16_t kraft_since, int16_t epoch_since,
			     int32_t *controller_id, bool *is_kraft_controller,
			     int32_t *controller_epoch, int64_t *broker_epoch)
{
	*controller_id = kbuf_read_i32(r);
	if (v >= kraft_since)
		*is_kraft_controller = kbuf_read_bool(r);
	*controller_epoch = kbuf_read_i32(r);
	if (v >= epoch_since)
		*broker_epoch = kbuf_read_i64(r);
}

static void ctrl_head_encode(struct kbuf_w *w, int16_t v, int16_t kraft_since, int16_t epoch_since,
			     int32_t controller_id, bool is_kraft_controller,
			     int32_t controller_epoch, int64_t broker_epoch)
{
	kbuf_write_i32(w, controller_id);
	if (v >= kraft_since)
		kbuf_write_bool(w, is_kraft_controller);
	kbuf_write_i32(w, controller_epoch);
	if (v >= epoch_since)
		kbuf_write_i64(w, broker_epoch);
}

/* The head of req (a request struct of the three) at version v. */
#define CTRL_HEAD_DECODE(r, v, kraft_since, epoch_since, req)                   \
	ctrl_head_decode(r, v, kraft_since, epoch_since, &(req)->controller_id, \
			 &(req)->is_kraft_controller, &(req)->controller_epoch, \
			 &(req)->broker_epoch)
#define CTRL_HEAD_ENCODE(w, v, kraft_since, epoch_since, req)                  \
	ctrl_head_encode(w, v, kraft_since, epoch_since, (req)->controller_id, \
			 (req)->is_kraft_controller, (req)->controller_epoch, (req)->broker_epoch)

/* ---- LeaderAndIsr (4) ---- */

int proto_lisr_req_decode(struct kbuf_r *r, int16_t v, struct proto_lisr_req *req)
{
	struct states_fmt f = lisr_fmt(v);
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	req->broker_epoch = -1;
	if (!proto_api_supported(PROTO_API_LEADER_AND_ISR, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_LEADER_AND_ISR, v));
	CTRL_HEAD_DECODE(r, v, 7, 2, req);
	if (v >= 5)
		req->type = kbuf_read_i8(r);
	states_decode(&d, &f, &req->ungrouped, &req->n_topics, &req->topic_states);
	req->n_live_leaders =
		kmsg_count(&d, false, 4 + kmsg_str_min(d.flex) + 4 + d.flex, PROTO_MAX_BROKERS);
	req->live_leaders = kmsg_alloc(&d, req->n_live_leaders, sizeof(*req->live_leaders));
	for (int32_t i = 0; i < req->n_live_leaders && !r->err; i++) {
		struct proto_live_leader *l = &req->live_leaders[i];

		l->broker_id = kbuf_read_i32(r);
		l->host_name = kmsg_str(&d);
		l->port = kbuf_read_i32(r);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_lisr_req_free(req);
	return rc;
}

int proto_lisr_req_encode(struct kbuf_w *w, int16_t v, const struct proto_lisr_req *req)
{
	struct states_fmt f = lisr_fmt(v);
	bool flex = proto_is_flexible(PROTO_API_LEADER_AND_ISR, v);

	if (!proto_api_supported(PROTO_API_LEADER_AND_ISR, v))
		return -EOPNOTSUPP;
	CTRL_HEAD_ENCODE(w, v, 7, 2, req);
	if (v >= 5)
		kbuf_write_i8(w, req->type);
	states_encode(w, flex, &f, req->n_topics, req->topic_states);
	kmsg_write_len(w, flex, req->n_live_leaders);
	for (int32_t i = 0; i < req->n_live_leaders; i++) {
		kbuf_write_i32(w, req->live_leaders[i].broker_id);
		kmsg_write_str(w, flex, req->live_leaders[i].host_name);
		kbuf_write_i32(w, req->live_leaders[i].port);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_lisr_req_free(struct proto_lisr_req *req)
{
	if (!req)
		return;
	states_free(req->ungrouped, req->n_topics, req->topic_states);
	free(req->live_leaders);
	req->ungrouped = NULL;
	req->topic_states = NULL;
	req->live_leaders = NULL;
	req->n_topics = req->n_live_leaders = 0;
}

static void lisr_part_errors_decode(struct kmsg_dec *d, bool with_topic, int32_t *n,
				    struct proto_lisr_part_error **pe)
{
	size_t min = (with_topic ? kmsg_str_min(d->flex) : 0) + 4 + 2 + d->flex;

	*n = kmsg_parts(d, min);
	*pe = kmsg_alloc(d, *n, sizeof(**pe));
	for (int32_t i = 0; i < *n && !d->r->err; i++) {
		(*pe)[i].topic_name = with_topic ? kmsg_str(d) : KSTR_NULL;
		(*pe)[i].partition_index = kbuf_read_i32(d->r);
		(*pe)[i].error_code = kbuf_read_i16(d->r);
		kmsg_tags(d);
	}
}

static void lisr_part_errors_encode(struct kbuf_w *w, bool flex, bool with_topic, int32_t n,
				    const struct proto_lisr_part_error *pe)
{
	kmsg_write_len(w, flex, n);
	for (int32_t i = 0; i < n; i++) {
		if (with_topic)
			kmsg_write_str(w, flex, pe[i].topic_name);
		kbuf_write_i32(w, pe[i].partition_index);
		kbuf_write_i16(w, pe[i].error_code);
		kmsg_write_tags(w, flex);
	}
}

int proto_lisr_resp_decode(struct kbuf_r *r, int16_t v, struct proto_lisr_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_LEADER_AND_ISR, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_LEADER_AND_ISR, v));
	resp->error_code = kbuf_read_i16(r);
	if (v < 5) {
		lisr_part_errors_decode(&d, true, &resp->n_partition_errors,
					&resp->partition_errors);
	} else {
		resp->n_topics = kmsg_count(&d, false, 16 + 1 + 1, PROTO_MAX_TOPICS);
		resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
		for (int32_t i = 0; i < resp->n_topics && !r->err; i++) {
			struct proto_lisr_topic_error *t = &resp->topics[i];

			kbuf_read_uuid(r, t->topic_id);
			lisr_part_errors_decode(&d, false, &t->n_partition_errors,
						&t->partition_errors);
			kmsg_tags(&d);
		}
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_lisr_resp_free(resp);
	return rc;
}

int proto_lisr_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_lisr_resp *resp)
{
	bool flex = proto_is_flexible(PROTO_API_LEADER_AND_ISR, v);

	if (!proto_api_supported(PROTO_API_LEADER_AND_ISR, v))
		return -EOPNOTSUPP;
	kbuf_write_i16(w, resp->error_code);
	if (v < 5) {
		lisr_part_errors_encode(w, flex, true, resp->n_partition_errors,
					resp->partition_errors);
	} else {
		kmsg_write_len(w, flex, resp->n_topics);
		for (int32_t i = 0; i < resp->n_topics; i++) {
			kbuf_write_uuid(w, resp->topics[i].topic_id);
			lisr_part_errors_encode(w, flex, false, resp->topics[i].n_partition_errors,
						resp->topics[i].partition_errors);
			kmsg_write_tags(w, flex);
		}
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_lisr_resp_free(struct proto_lisr_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++)
		free(resp->topics[i].partition_errors);
	free(resp->topics);
	free(resp->partition_errors);
	resp->topics = NULL;
	resp->partition_errors = NULL;
	resp->n_topics = resp->n_partition_errors = 0;
}

/* ---- UpdateMetadata (6) ---- */

static int um_req_tag(void *arg, uint32_t tag, struct kbuf_r *field)
{
	struct proto_um_req *req = arg;

	if (tag != 0)
		return 0;
	req->type = kbuf_read_i8(field);
	return 1;
}

static void um_broker_decode(struct kmsg_dec *d, int16_t v, struct proto_um_broker *b)
{
	struct kbuf_r *r = d->r;
	size_t ep_min =
		4 + kmsg_str_min(d->flex) + (v >= 3 ? kmsg_str_min(d->flex) : 0) + 2 + d->flex;

	b->id = kbuf_read_i32(r);
	b->rack = KSTR_NULL;
	if (v == 0) {
		b->endpoints = kmsg_alloc(d, 1, sizeof(*b->endpoints));
		if (b->endpoints) {
			b->n_endpoints = 1;
			b->endpoints[0].host = kmsg_str(d);
			b->endpoints[0].port = kbuf_read_i32(r);
			b->endpoints[0].listener = (struct kstr){ "", 0 };
		}
		return;
	}
	b->n_endpoints = kmsg_count(d, false, ep_min, PROTO_MAX_ENDPOINTS);
	b->endpoints = kmsg_alloc(d, b->n_endpoints, sizeof(*b->endpoints));
	for (int32_t i = 0; i < b->n_endpoints && !r->err; i++) {
		struct proto_um_endpoint *e = &b->endpoints[i];

		e->port = kbuf_read_i32(r);
		e->host = kmsg_str(d);
		e->listener = v >= 3 ? kmsg_str(d) : (struct kstr){ "", 0 };
		e->security_protocol = kbuf_read_i16(r);
		kmsg_tags(d);
	}
	if (v >= 2)
		b->rack = kmsg_nstr(d);
	kmsg_tags(d);
}

static size_t um_broker_min(int16_t v, bool flex)
{
	if (v == 0)
		return 4 + 2 + 4;
	return 4 + kmsg_arr_min(flex) + (v >= 2 ? kmsg_str_min(flex) : 0) + flex;
}

int proto_um_req_decode(struct kbuf_r *r, int16_t v, struct proto_um_req *req)
{
	struct states_fmt f = um_fmt(v);
	struct kmsg_dec d;
	int rc;

	memset(req, 0, sizeof(*req));
	req->broker_epoch = -1;
	if (!proto_api_supported(PROTO_API_UPDATE_METADATA, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_UPDATE_METADATA, v));
	CTRL_HEAD_DECODE(r, v, 8, 5, req);
	states_decode(&d, &f, &req->ungrouped, &req->n_topics, &req->topic_states);
	req->n_live_brokers = kmsg_count(&d, false, um_broker_min(v, d.flex), PROTO_MAX_BROKERS);
	req->live_brokers = kmsg_alloc(&d, req->n_live_brokers, sizeof(*req->live_brokers));
	for (int32_t i = 0; i < req->n_live_brokers && !r->err; i++)
		um_broker_decode(&d, v, &req->live_brokers[i]);
	if (d.flex)
		kbuf_read_tags(r, v >= 8 ? um_req_tag : NULL, req);
	rc = kmsg_end(&d);
	if (rc)
		proto_um_req_free(req);
	return rc;
}

int proto_um_req_encode(struct kbuf_w *w, int16_t v, const struct proto_um_req *req)
{
	struct states_fmt f = um_fmt(v);
	bool flex = proto_is_flexible(PROTO_API_UPDATE_METADATA, v);

	if (!proto_api_supported(PROTO_API_UPDATE_METADATA, v))
		return -EOPNOTSUPP;
	for (int32_t i = 0; v == 0 && i < req->n_live_brokers; i++)
		if (req->live_brokers[i].n_endpoints != 1)
			return -EINVAL;
	CTRL_HEAD_ENCODE(w, v, 8, 5, req);
	states_encode(w, flex, &f, req->n_topics, req->topic_states);
	kmsg_write_len(w, flex, req->n_live_brokers);
	for (int32_t i = 0; i < req->n_live_brokers; i++) {
		const struct proto_um_broker *b = &req->live_brokers[i];

		kbuf_write_i32(w, b->id);
		if (v == 0) {
			kmsg_write_str(w, flex, b->endpoints[0].host);
			kbuf_write_i32(w, b->endpoints[0].port);
			continue;
		}
		kmsg_write_len(w, flex, b->n_endpoints);
		for (int32_t j = 0; j < b->n_endpoints; j++) {
			const struct proto_um_endpoint *e = &b->endpoints[j];

			kbuf_write_i32(w, e->port);
			kmsg_write_str(w, flex, e->host);
			if (v >= 3)
				kmsg_write_str(w, flex, e->listener);
			kbuf_write_i16(w, e->security_protocol);
			kmsg_write_tags(w, flex);
		}
		if (v >= 2)
			kmsg_write_nstr(w, flex, b->rack);
		kmsg_write_tags(w, flex);
	}
	if (v >= 8 && req->type != 0) {
		/* Kafka leaves a tagged field out at its default. */
		kbuf_write_uvarint(w, 1);
		kbuf_write_tag_hdr(w, 0, 1);
		kbuf_write_i8(w, req->type);
	} else {
		kmsg_write_tags(w, flex);
	}
	return kbuf_w_err(w);
}

void proto_um_req_free(struct proto_um_req *req)
{
	if (!req)
		return;
	states_free(req->ungrouped, req->n_topics, req->topic_states);
	for (int32_t i = 0; req->live_brokers && i < req->n_live_brokers; i++)
		free(req->live_brokers[i].endpoints);
	free(req->live_brokers);
	req->ungrouped = NULL;
	req->topic_states = NULL;
	req->live_brokers = NULL;
	req->n_topics = req->n_live_brokers = 0;
}

int proto_um_resp_decode(struct kbuf_r *r, int16_t v, struct proto_um_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_UPDATE_METADATA, v))
		return -EOPNOTSUPP;
	resp->error_code = kbuf_read_i16(r);
	if (proto_is_flexible(PROTO_API_UPDATE_METADATA, v))
		kbuf_read_tags(r, NULL, NULL);
	return kbuf_r_done(r);
}

int proto_um_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_um_resp *resp)
{
	if (!proto_api_supported(PROTO_API_UPDATE_METADATA, v))
		return -EOPNOTSUPP;
	kbuf_write_i16(w, resp->error_code);
	kmsg_write_tags(w, proto_is_flexible(PROTO_API_UPDATE_METADATA, v));
	return kbuf_w_err(w);
}

/* ---- StopReplica (5) ---- */

/* v0: (topic_name, partition_index) pairs, grouped by consecutive names. */
static void stop_decode_flat(struct kmsg_dec *d, struct proto_stop_req *req)
{
	int32_t n = kmsg_parts(d, kmsg_str_min(false) + 4);
	struct proto_stop_part *ps = kmsg_alloc(d, n, sizeof(*ps));
	struct kstr *names = kmsg_alloc(d, n, sizeof(*names));
	struct proto_stop_topic *t;
	int32_t runs;

	for (int32_t i = 0; i < n && !d->r->err; i++) {
		names[i] = kmsg_str(d);
		ps[i].partition_index = kbuf_read_i32(d->r);
		ps[i].leader_epoch = -1;
		ps[i].delete_partition = req->delete_partitions;
	}
	runs = name_runs(d, names, n);
	t = kmsg_alloc(d, runs, sizeof(*t));
	for (int32_t i = 0, k = -1; t && i < n; i++) {
		if (i == 0 || !kstr_same(names[i], names[i - 1])) {
			t[++k].topic_name = names[i];
			t[k].partition_states = &ps[i];
		}
		t[k].n_partitions++;
	}
	free(names);
	if (d->r->err) {
		free(ps);
		free(t);
		return;
	}
	req->ungrouped = ps;
	req->topics = t;
	req->n_topics = runs;
}

static void stop_topic_decode(struct kmsg_dec *d, int16_t v, bool delete_partitions,
			      struct proto_stop_topic *t)
{
	struct kbuf_r *r = d->r;

	t->topic_name = kmsg_str(d);
	t->n_partitions = kmsg_parts(d, v >= 3 ? 4 + 4 + 1 + d->flex : 4);
	t->partition_states = kmsg_alloc(d, t->n_partitions, sizeof(*t->partition_states));
	for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
		struct proto_stop_part *p = &t->partition_states[j];

		p->partition_index = kbuf_read_i32(r);
		p->leader_epoch = -1;
		p->delete_partition = delete_partitions;
		if (v >= 3) {
			p->leader_epoch = kbuf_read_i32(r);
			p->delete_partition = kbuf_read_bool(r);
			kmsg_tags(d);
		}
	}
	kmsg_tags(d);
}

int proto_stop_req_decode(struct kbuf_r *r, int16_t v, struct proto_stop_req *req)
{
	struct kmsg_dec d;
	size_t topic_min;
	int rc;

	memset(req, 0, sizeof(*req));
	req->broker_epoch = -1;
	if (!proto_api_supported(PROTO_API_STOP_REPLICA, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_STOP_REPLICA, v));
	topic_min = kmsg_topic_min(d.flex);
	CTRL_HEAD_DECODE(r, v, 4, 1, req);
	if (v <= 2)
		req->delete_partitions = kbuf_read_bool(r);
	if (v == 0) {
		stop_decode_flat(&d, req);
	} else {
		req->n_topics = kmsg_count(&d, false, topic_min, PROTO_MAX_TOPICS);
		req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
		for (int32_t i = 0; i < req->n_topics && !r->err; i++)
			stop_topic_decode(&d, v, req->delete_partitions, &req->topics[i]);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_stop_req_free(req);
	return rc;
}

int proto_stop_req_encode(struct kbuf_w *w, int16_t v, const struct proto_stop_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_STOP_REPLICA, v);
	int64_t total = 0;

	if (!proto_api_supported(PROTO_API_STOP_REPLICA, v))
		return -EOPNOTSUPP;
	CTRL_HEAD_ENCODE(w, v, 4, 1, req);
	if (v <= 2)
		kbuf_write_bool(w, req->delete_partitions);
	if (v == 0) {
		for (int32_t i = 0; i < req->n_topics; i++)
			total += req->topics[i].n_partitions;
		if (total > INT32_MAX)
			return -EINVAL;
		kmsg_write_len(w, flex, (int32_t)total);
	} else {
		kmsg_write_len(w, flex, req->n_topics);
	}
	for (int32_t i = 0; i < req->n_topics; i++) {
		const struct proto_stop_topic *t = &req->topics[i];

		if (v > 0) {
			kmsg_write_str(w, flex, t->topic_name);
			kmsg_write_len(w, flex, t->n_partitions);
		}
		for (int32_t j = 0; j < t->n_partitions; j++) {
			const struct proto_stop_part *p = &t->partition_states[j];

			if (v == 0)
				kmsg_write_str(w, flex, t->topic_name);
			kbuf_write_i32(w, p->partition_index);
			if (v >= 3) {
				kbuf_write_i32(w, p->leader_epoch);
				kbuf_write_bool(w, p->delete_partition);
				kmsg_write_tags(w, flex);
			}
		}
		if (v > 0)
			kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

void proto_stop_req_free(struct proto_stop_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; !req->ungrouped && req->topics && i < req->n_topics; i++)
		free(req->topics[i].partition_states);
	free(req->ungrouped);
	free(req->topics);
	req->ungrouped = NULL;
	req->topics = NULL;
	req->n_topics = 0;
}

/* A list of (topic_name, partition_index[, error_code]): StopReplica's
 * partition errors and ControlledShutdown's remaining partitions. */
static void tp_list_decode(struct kmsg_dec *d, bool with_error, int32_t *n,
			   struct proto_topic_part_error **tp)
{
	*n = kmsg_parts(d, kmsg_str_min(d->flex) + 4 + (with_error ? 2 : 0) + d->flex);
	*tp = kmsg_alloc(d, *n, sizeof(**tp));
	for (int32_t i = 0; i < *n && !d->r->err; i++) {
		(*tp)[i].topic_name = kmsg_str(d);
		(*tp)[i].partition_index = kbuf_read_i32(d->r);
		if (with_error)
			(*tp)[i].error_code = kbuf_read_i16(d->r);
		kmsg_tags(d);
	}
}

static void tp_list_encode(struct kbuf_w *w, bool flex, bool with_error, int32_t n,
			   const struct proto_topic_part_error *tp)
{
	kmsg_write_len(w, flex, n);
	for (int32_t i = 0; i < n; i++) {
		kmsg_write_str(w, flex, tp[i].topic_name);
		kbuf_write_i32(w, tp[i].partition_index);
		if (with_error)
			kbuf_write_i16(w, tp[i].error_code);
		kmsg_write_tags(w, flex);
	}
}

/* A response of error_code and such a list (StopReplica,
 * ControlledShutdown); on error the list is freed. */
static int tp_resp_decode(struct kbuf_r *r, int16_t api, int16_t v, bool with_error,
			  int16_t *error_code, int32_t *n, struct proto_topic_part_error **tp)
{
	struct kmsg_dec d;
	int rc;

	if (!proto_api_supported(api, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(api, v));
	*error_code = kbuf_read_i16(r);
	tp_list_decode(&d, with_error, n, tp);
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc) {
		free(*tp);
		*tp = NULL;
		*n = 0;
	}
	return rc;
}

static int tp_resp_encode(struct kbuf_w *w, int16_t api, int16_t v, bool with_error,
			  int16_t error_code, int32_t n, const struct proto_topic_part_error *tp)
{
	bool flex = proto_is_flexible(api, v);

	if (!proto_api_supported(api, v))
		return -EOPNOTSUPP;
	kbuf_write_i16(w, error_code);
	tp_list_encode(w, flex, with_error, n, tp);
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_stop_resp_decode(struct kbuf_r *r, int16_t v, struct proto_stop_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	return tp_resp_decode(r, PROTO_API_STOP_REPLICA, v, true, &resp->error_code,
			      &resp->n_partition_errors, &resp->partition_errors);
}

int proto_stop_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_stop_resp *resp)
{
	return tp_resp_encode(w, PROTO_API_STOP_REPLICA, v, true, resp->error_code,
			      resp->n_partition_errors, resp->partition_errors);
}

void proto_stop_resp_free(struct proto_stop_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->partition_errors, resp->n_partition_errors);
}

/* ---- ControlledShutdown (7) ---- */

int proto_cs_req_decode(struct kbuf_r *r, int16_t v, struct proto_cs_req *req)
{
	memset(req, 0, sizeof(*req));
	req->broker_epoch = -1;
	if (!proto_api_supported(PROTO_API_CONTROLLED_SHUTDOWN, v))
		return -EOPNOTSUPP;
	req->broker_id = kbuf_read_i32(r);
	if (v >= 2)
		req->broker_epoch = kbuf_read_i64(r);
	if (proto_is_flexible(PROTO_API_CONTROLLED_SHUTDOWN, v))
		kbuf_read_tags(r, NULL, NULL);
	return kbuf_r_done(r);
}

int proto_cs_req_encode(struct kbuf_w *w, int16_t v, const struct proto_cs_req *req)
{
	if (!proto_api_supported(PROTO_API_CONTROLLED_SHUTDOWN, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, req->broker_id);
	if (v >= 2)
		kbuf_write_i64(w, req->broker_epoch);
	kmsg_write_tags(w, proto_is_flexible(PROTO_API_CONTROLLED_SHUTDOWN, v));
	return kbuf_w_err(w);
}

int proto_cs_resp_decode(struct kbuf_r *r, int16_t v, struct proto_cs_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	return tp_resp_decode(r, PROTO_API_CONTROLLED_SHUTDOWN, v, false, &resp->error_code,
			      &resp->n_remaining, &resp->remaining_partitions);
}

int proto_cs_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_cs_resp *resp)
{
	return tp_resp_encode(w, PROTO_API_CONTROLLED_SHUTDOWN, v, false, resp->error_code,
			      resp->n_remaining, resp->remaining_partitions);
}

void proto_cs_resp_free(struct proto_cs_resp *resp)
{
	if (!resp)
		return;
	KMSG_FREE(resp->remaining_partitions, resp->n_remaining);
}
