/*
 * group_admin.c — on a broker that does not coordinate a group (its mount
 * holds a proxy of it, group_coord.c), the administrator's operations on
 * the group go to its coordinator over Kafka's own APIs, as Kafka's admin
 * tools send them (group_admin_serve.c is the coordinator's side):
 *
 *   mkdir .groups/g       DescribeGroups "<topic>/g": a state other than
 *                         "Dead" is -EEXIST; else IncrementalAlterConfigs
 *                         of the GROUP resource "<topic>/g" with no
 *                         configs, which makes the group (its settings
 *                         record) at the coordinator
 *   echo N > .groups/g/p  OffsetCommit as Kafka's AdminClient
 *                         alterConsumerGroupOffsets sends it: generation
 *                         -1, member id "", the offset resolved here as
 *                         the coordinator's mount resolves it
 *   .config write         IncrementalAlterConfigs SET of each key given
 *   rmdir .groups/g       DeleteGroups "<topic>/g"
 *   lookup, ls            DescribeGroups "<topic>/g" for a proxy without
 *                         members (does the group still exist there?) or
 *                         a name with no proxy yet (does it exist there?)
 *   a .config read        DescribeConfigs of the GROUP resource
 *                         "<topic>/g": the proxy's copy of the settings
 *
 * Kafka's answer becomes the errno the local operation gives
 * (group_admin_errno) with one log line naming the coordinator and the
 * Kafka error. NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
 * COORDINATOR_NOT_AVAILABLE and a coordinator that cannot be reached
 * (killed, frozen, cut off: its partition is about to get a new leader)
 * are waited on as a consume open waits (up to request.timeout.ms, asking
 * again every GADM_PAUSE_MS which broker coordinates); when this broker
 * turns out to coordinate the group now, GADM_LOCAL tells the caller to
 * do the operation here. At the end of the wait: -EAGAIN (logged). A
 * lookup of a proxy this broker has asks once (group_admin_once).
 *
 * Each operation uses a connection of its own (the cluster's connect
 * hook: authenticated as the brokers' user), closed after it. No lock is
 * held across a call.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_int.h"
#include "repl/proto.h"
#include "util/clock.h"
#include "util/diaglog.h"
#include "util/pause.h"

#define GADM_TIMEOUT_MS        5000 /* one call, connect included */
#define GADM_LOOKUP_TIMEOUT_MS 1000 /* a lookup's question: ls must not hang */
#define GADM_PAUSE_MS          100

int group_admin_errno(int16_t err)
{
	switch (err) {
	case PROTO_ERR_NONE: return 0;
	case PROTO_ERR_NON_EMPTY_GROUP:
	case PROTO_ERR_UNKNOWN_MEMBER_ID:
	case PROTO_ERR_ILLEGAL_GENERATION:
	case PROTO_ERR_REBALANCE_IN_PROGRESS: return -EBUSY;
	case PROTO_ERR_GROUP_ID_NOT_FOUND:
	case PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION: return -ENOENT;
	case PROTO_ERR_INVALID_GROUP_ID:
	case PROTO_ERR_INVALID_CONFIG:
	case PROTO_ERR_INVALID_REQUEST:
	case PROTO_ERR_INVALID_COMMIT_OFFSET_SIZE: return -EINVAL;
	case PROTO_ERR_NOT_COORDINATOR:
	case PROTO_ERR_COORDINATOR_NOT_AVAILABLE:
	case PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS:
	case PROTO_ERR_NOT_ENOUGH_REPLICAS: return -EAGAIN;
	case PROTO_ERR_REQUEST_TIMED_OUT: return -ETIMEDOUT;
	case PROTO_ERR_KAFKA_STORAGE_ERROR: return -EIO;
	default: return -EPROTO;
	}
}

int group_admin_once(struct group_coord *gc, int32_t node, const struct gadm_call *call,
		     int16_t *err, char *msg, size_t cap)
{
	int (*fn)(void *, int32_t, int64_t, struct net_client **);
	struct net_client *c = NULL;
	struct net_resp resp;
	struct kbuf_w w;
	void *arg;
	int v, rc;

	/* The leaf, not coord.mu: a remote member's join asks this too, and
	 * coord.mu may be held meanwhile by a thread that waits for the
	 * group's lock (group_int.h). */
	pthread_mutex_lock(&gc->connect_mu);
	fn = gc->connect;
	arg = gc->connect_arg;
	pthread_mutex_unlock(&gc->connect_mu);
	if (!fn)
		return -EAGAIN; /* stopping */
	rc = fn(arg, node, call->timeout_ms, &c);
	if (rc < 0)
		return rc;
	v = net_client_version(c, call->api);
	if (v < 0) {
		net_client_close(c);
		return v;
	}
	kbuf_w_init(&w, 4096);
	rc = call->encode(&w, (int16_t)v, call->req);
	if (rc == 0)
		rc = kbuf_w_err(&w);
	if (rc == 0)
		rc = net_client_call(c, call->api, (int16_t)v, w.buf, w.len, 0, call->timeout_ms,
				     &resp);
	kbuf_w_free(&w);
	if (rc == 0) {
		rc = call->decode(&resp.body, (int16_t)v, call->ctx, err, msg, cap);
		net_resp_free(&resp);
	}
	net_client_close(c);
	return rc;
}

/* The coordinator of name now: a node, -1 this broker, GROUP_COORD_NONE. */
static int32_t gadm_lookup(struct group_coord *gc, const char *name)
{
	int32_t node;

	pthread_mutex_lock(&gc->mu);
	node = gc->kafka_coordinator ? gc->kafka_coordinator(gc->kafka_arg, name) : -1;
	pthread_mutex_unlock(&gc->mu);
	return node;
}

/* The call at the coordinator of (topic, name), waiting while it moves,
 * cannot be reached or loads (group_remote_moving), up to
 * request.timeout.ms: 0 done, GADM_LOCAL this broker coordinates now,
 * -errno (logged, naming the coordinator and Kafka's error or why it was
 * not reached). */
static int gadm_call(struct group_coord *gc, const char *topic, const char *name, int32_t node,
		     const struct gadm_call *call)
{
	int64_t until = now_mono_ms() + gc->b->cfg.request_timeout_ms;
	char msg[256] = "";
	int16_t err = PROTO_ERR_NONE;
	int rc;

	for (;;) {
		msg[0] = '\0';
		err = PROTO_ERR_NONE;
		rc = node == GROUP_COORD_NONE
			     ? 0
			     : group_admin_once(gc, node, call, &err, msg, sizeof(msg));
		if (node == GROUP_COORD_NONE)
			err = PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
		/* A coordinator killed, frozen or cut off is one that moves:
		 * its partition gets a new leader, which is asked next. */
		if (!group_remote_moving(rc, err))
			break;
		if (now_mono_ms() >= until)
			break;
		pause_ms(GADM_PAUSE_MS);
		node = gadm_lookup(gc, name);
		if (node == -1)
			return GADM_LOCAL;
	}
	if (rc < 0) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: %s: broker %d (the coordinator) "
			       "not reached: %s",
			       name, topic, call->what, (int)node, strerror(-rc));
		return rc == -EOPNOTSUPP ? -EPROTO : -EAGAIN;
	}
	if (node == GROUP_COORD_NONE) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: %s: no broker coordinates the group now (its "
			       "%s partition has no leader, or is being loaded)",
			       name, topic, call->what, GROUP_OFFSETS_TOPIC);
		return -EAGAIN;
	}
	if (err) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: %s refused by broker %d (the "
			       "coordinator): %s%s%s",
			       name, topic, call->what, (int)node, proto_err_name(err),
			       msg[0] ? ": " : "", msg);
		return group_admin_errno(err);
	}
	return 0;
}

/* "<topic>/<name>" */
static struct kstr scoped(char *buf, size_t cap, const char *topic, const char *name)
{
	snprintf(buf, cap, "%s/%s", topic, name);
	return kstr_of(buf);
}

/* ---- DeleteGroups ---- */

static int del_encode(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_delete_groups_req_encode(w, v, req);
}

static int del_decode(struct kbuf_r *r, int16_t v, void *ctx, int16_t *err, char *msg, size_t cap)
{
	struct proto_delete_groups_resp resp;
	int rc = proto_delete_groups_resp_decode(r, v, &resp);

	(void)ctx;
	(void)msg;
	(void)cap;
	if (rc < 0)
		return rc;
	if (resp.n_results != 1)
		rc = -EBADMSG;
	else
		*err = resp.results[0].error_code;
	proto_delete_groups_resp_free(&resp);
	return rc;
}

int group_admin_forward_delete(struct group_coord *gc, const char *topic, const char *name,
			       int32_t node)
{
	char id[2 * TOPIC_NAME_MAX + 2];
	struct kstr gid = scoped(id, sizeof(id), topic, name);
	struct proto_delete_groups_req req = { .n_groups = 1, .groups_names = &gid };
	struct gadm_call call = { .api = PROTO_API_DELETE_GROUPS,
				  .what = "rmdir",
				  .encode = del_encode,
				  .req = &req,
				  .decode = del_decode,
				  .timeout_ms = GADM_TIMEOUT_MS };
	int rc = gadm_call(gc, topic, name, node, &call);

	if (rc == 0)
		mq_log(MQ_INFO, "group %s of topic %s deleted at broker %d (its coordinator)", name,
		       topic, (int)node);
	return rc;
}

/* ---- DescribeGroups ---- */

static int desc_encode(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_describe_groups_req_encode(w, v, req);
}

static int desc_decode(struct kbuf_r *r, int16_t v, void *ctx, int16_t *err, char *msg, size_t cap)
{
	struct proto_describe_groups_resp resp;
	bool *exists = ctx;
	int rc = proto_describe_groups_resp_decode(r, v, &resp);

	(void)msg;
	(void)cap;
	if (rc < 0)
		return rc;
	if (resp.n_groups != 1) {
		rc = -EBADMSG;
	} else {
		*err = resp.groups[0].error_code;
		*exists = !kstr_eq(resp.groups[0].group_state, "Dead") &&
			  !kstr_eq(resp.groups[0].group_state, "");
	}
	proto_describe_groups_resp_free(&resp);
	return rc;
}

int group_admin_remote_exists(struct group_coord *gc, const char *topic, const char *name,
			      int32_t node, bool wait)
{
	char id[2 * TOPIC_NAME_MAX + 2];
	struct kstr gid = scoped(id, sizeof(id), topic, name);
	struct proto_describe_groups_req req = { .n_groups = 1, .groups = &gid };
	bool exists = false;
	struct gadm_call call = { .api = PROTO_API_DESCRIBE_GROUPS,
				  .what = "lookup",
				  .encode = desc_encode,
				  .req = &req,
				  .decode = desc_decode,
				  .ctx = &exists,
				  .timeout_ms = wait ? GADM_TIMEOUT_MS : GADM_LOOKUP_TIMEOUT_MS };
	int16_t err = PROTO_ERR_NONE;
	char msg[8];
	int rc;

	if (wait) {
		rc = gadm_call(gc, topic, name, node, &call);
	} else {
		/* A lookup asks once: on no answer the caller keeps what it
		 * knows. */
		rc = group_admin_once(gc, node, &call, &err, msg, sizeof(msg));
		if (rc == 0 && err)
			rc = group_admin_errno(err);
	}
	return rc < 0 || rc == GADM_LOCAL ? rc : exists;
}

/* ---- IncrementalAlterConfigs ---- */

static int alter_encode(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_incr_alter_configs_req_encode(w, v, req);
}

static int alter_decode(struct kbuf_r *r, int16_t v, void *ctx, int16_t *err, char *msg, size_t cap)
{
	struct proto_alter_configs_resp resp;
	int rc = proto_incr_alter_configs_resp_decode(r, v, &resp);

	(void)ctx;
	if (rc < 0)
		return rc;
	if (resp.n_responses != 1) {
		rc = -EBADMSG;
	} else {
		const struct proto_resource_result *res = &resp.responses[0];

		*err = res->error_code;
		if (res->error_message.ptr && res->error_message.len > 0)
			snprintf(msg, cap, "%.*s", (int)res->error_message.len,
				 res->error_message.ptr);
	}
	proto_alter_configs_resp_free(&resp);
	return rc;
}

/* The configs of a .config text. */
struct cfgs {
	struct proto_config *v;
	int n, cap;
};

static int cfg_add(const char *k, size_t kl, const char *val, size_t vl, void *arg, char *why,
		   size_t whylen)
{
	struct cfgs *c = arg;

	if (c->n == c->cap) {
		int nc = c->cap ? c->cap * 2 : 4;
		struct proto_config *nv = realloc(c->v, (size_t)nc * sizeof(*nv));

		if (!nv) {
			snprintf(why, whylen, "out of memory");
			return -ENOMEM;
		}
		c->v = nv;
		c->cap = nc;
	}
	c->v[c->n++] = (struct proto_config){ .name = { k, (int32_t)kl },
					      .value = { val, (int32_t)vl },
					      .config_operation = PROTO_CONFIG_SET };
	return 0;
}

/* IncrementalAlterConfigs SET of text's keys ("" makes the group). */
static int gadm_alter(struct group_coord *gc, const char *topic, const char *name, int32_t node,
		      const char *text, size_t len, const char *what)
{
	char id[2 * TOPIC_NAME_MAX + 2], why[160] = "";
	struct cfgs cfgs = { 0 };
	struct proto_alter_configs_resource res = { .resource_type = PROTO_RESOURCE_GROUP,
						    .resource_name =
							    scoped(id, sizeof(id), topic, name) };
	struct proto_alter_configs_req req = { .n_resources = 1, .resources = &res };
	struct gadm_call call = { .api = PROTO_API_INCREMENTAL_ALTER_CONFIGS,
				  .what = what,
				  .encode = alter_encode,
				  .req = &req,
				  .decode = alter_decode,
				  .timeout_ms = GADM_TIMEOUT_MS };
	int rc = group_settings_each(text, len, '\n', cfg_add, &cfgs, why, sizeof(why));

	if (rc == 0) {
		res.n_configs = cfgs.n;
		res.configs = cfgs.v;
		rc = gadm_call(gc, topic, name, node, &call);
	}
	free(cfgs.v);
	return rc;
}

int group_admin_forward_config(struct group *g, int32_t node, const char *text, size_t len)
{
	int rc = gadm_alter(g->gc, g->topic, g->name, node, text, len, ".config");

	if (rc == 0)
		mq_log(MQ_INFO,
		       "group %s of topic %s: settings changed at broker %d (its "
		       "coordinator)",
		       g->name, g->topic, (int)node);
	return rc;
}

int group_admin_forward_create(struct group_coord *gc, const char *topic, const char *name,
			       int32_t node)
{
	int rc = group_admin_remote_exists(gc, topic, name, node, true);

	if (rc == 1) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: mkdir refused: it exists at broker "
			       "%d (its coordinator)",
			       name, topic, (int)node);
		return -EEXIST;
	}
	if (rc == 0)
		rc = gadm_alter(gc, topic, name, node, "", 0, "mkdir");
	if (rc == 0)
		mq_log(MQ_INFO, "group %s of topic %s created at broker %d (its coordinator)", name,
		       topic, (int)node);
	return rc;
}

/* ---- OffsetCommit ---- */

static int commit_encode(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_offset_commit_req_encode(w, v, req);
}

static int commit_decode(struct kbuf_r *r, int16_t v, void *ctx, int16_t *err, char *msg,
			 size_t cap)
{
	struct proto_offset_commit_resp resp;
	int rc = proto_offset_commit_resp_decode(r, v, &resp);

	(void)ctx;
	(void)msg;
	(void)cap;
	if (rc < 0)
		return rc;
	if (resp.n_topics != 1 || resp.topics[0].n_partitions != 1)
		rc = -EBADMSG;
	else
		*err = resp.topics[0].partitions[0].error_code;
	proto_offset_commit_resp_free(&resp);
	return rc;
}

int group_admin_forward_commit(struct group *g, int32_t node, int p, int64_t off)
{
	struct proto_offset_commit_part cp = { .partition_index = p,
					       .committed_offset = off,
					       .committed_leader_epoch = -1,
					       .commit_timestamp = -1,
					       .committed_metadata = KSTR_NULL };
	struct proto_offset_commit_topic ct = { .name = kstr_of(g->topic),
						.n_partitions = 1,
						.partitions = &cp };
	/* What Kafka's AdminClient sends for alterConsumerGroupOffsets: no
	 * generation, no member; the coordinator takes it only while the
	 * group has no members. */
	struct proto_offset_commit_req req = { .group_id = kstr_of(g->name),
					       .generation_id = -1,
					       .member_id = kstr_of(""),
					       .group_instance_id = KSTR_NULL,
					       .retention_time_ms = -1,
					       .n_topics = 1,
					       .topics = &ct };
	char what[48];
	struct gadm_call call = { .api = PROTO_API_OFFSET_COMMIT,
				  .what = what,
				  .encode = commit_encode,
				  .req = &req,
				  .decode = commit_decode,
				  .timeout_ms = GADM_TIMEOUT_MS };
	int rc;

	snprintf(what, sizeof(what), "partition %d: reset", p);
	rc = gadm_call(g->gc, g->topic, g->name, node, &call);
	if (rc == 0)
		mq_log(MQ_INFO,
		       "group %s of topic %s: partition %d reset to %" PRId64
		       " at broker %d (its coordinator)",
		       g->name, g->topic, p, off, (int)node);
	return rc;
}

/* ---- DescribeConfigs ---- */

static int dcfg_encode(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_describe_configs_req_encode(w, v, req);
}

/* The settings of one group resource as .config text into ctx (a FILE). */
static int dcfg_decode(struct kbuf_r *r, int16_t v, void *ctx, int16_t *err, char *msg, size_t cap)
{
	struct proto_describe_configs_resp resp;
	int rc = proto_describe_configs_resp_decode(r, v, &resp);

	if (rc < 0)
		return rc;
	if (resp.n_results != 1) {
		rc = -EBADMSG;
	} else {
		const struct proto_describe_configs_result *res = &resp.results[0];

		*err = res->error_code;
		if (res->error_message.ptr && res->error_message.len > 0)
			snprintf(msg, cap, "%.*s", (int)res->error_message.len,
				 res->error_message.ptr);
		for (int32_t i = 0; !*err && i < res->n_configs; i++)
			if (res->configs[i].name.len > 0 && res->configs[i].value.ptr)
				fprintf(ctx, "%.*s=%.*s\n", (int)res->configs[i].name.len,
					res->configs[i].name.ptr, (int)res->configs[i].value.len,
					res->configs[i].value.ptr);
	}
	proto_describe_configs_resp_free(&resp);
	return rc;
}

int group_admin_fetch_config(struct group *g, int32_t node)
{
	char id[2 * TOPIC_NAME_MAX + 2], msg[160] = "", why[160] = "";
	struct proto_describe_configs_resource res = {
		.resource_type = PROTO_RESOURCE_GROUP,
		.resource_name = scoped(id, sizeof(id), g->topic, g->name),
		.n_configuration_keys = -1,
	};
	struct proto_describe_configs_req req = { .n_resources = 1, .resources = &res };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct gadm_call call = { .api = PROTO_API_DESCRIBE_CONFIGS,
				  .what = ".config",
				  .encode = dcfg_encode,
				  .req = &req,
				  .decode = dcfg_decode,
				  .ctx = f,
				  .timeout_ms = GADM_LOOKUP_TIMEOUT_MS };
	int16_t err = PROTO_ERR_NONE;
	int strategy, rc;
	bool latest;
	int32_t session;

	if (!f)
		return -ENOMEM;
	/* One question: a .config read (and its stat) must not hang. */
	rc = group_admin_once(g->gc, node, &call, &err, msg, sizeof(msg));
	fclose(f);
	if (rc == 0 && err)
		rc = group_admin_errno(err);
	if (rc == 0) {
		pthread_mutex_lock(&g->mu);
		strategy = g->strategy;
		latest = g->reset_latest;
		session = g->session_timeout_ms;
		rc = group_settings_apply(text, len, '\n', &strategy, &latest, &session, why,
					  sizeof(why));
		if (rc == 0) {
			g->strategy = strategy;
			g->reset_latest = latest;
			g->session_timeout_ms = session;
			group_timer_kick(g->gc);
		}
		pthread_mutex_unlock(&g->mu);
	}
	if (rc < 0)
		mq_log_limited(MQ_INFO,
			       "group %s of topic %s: .config of broker %d (the "
			       "coordinator) not read: %s%s%s%s; the last one known shown",
			       g->name, g->topic, (int)node, strerror(-rc),
			       msg[0] || why[0] ? ": " : "", msg, why);
	free(text);
	return rc;
}
