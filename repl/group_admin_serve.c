/*
 * group_admin_serve.c — the coordinator's side of the group admin APIs,
 * for Kafka's admin tools and for the mounts of the other brokers
 * (group_admin.c forwards their mkdir, reset, .config and rmdir here):
 *
 *   DescribeGroups (15)   the group's state, protocol and members
 *   DeleteGroups (42)     the group and its committed offsets (tombstones)
 *   OffsetDelete (47)     some of its committed offsets: registered here,
 *                         served by group_offset_delete.c
 *   IncrementalAlterConfigs (44) and DescribeConfigs (32) of a GROUP
 *                         resource (type 32): the mount's group settings
 *                         (admin_serve.c hands those resources here:
 *                         group_admin_alter, group_admin_describe_configs)
 *
 * Names. A mount group belongs to one topic (MNT/<topic>/.groups/<g>/);
 * a Kafka group is every topic's group of its name. So a group id is
 * either
 *   "<g>"          Kafka's whole group: every topic's group <g> here, and
 *                  the Kafka consumers of <g> (group_serve.c);
 *   "<topic>/<g>"  the mount group <g> of that topic alone. '/' is in no
 *                  topic or group name, so the two never collide, and a
 *                  Kafka tool may use either.
 * The coordinator of both is that of <g>.
 *
 * The empty id "" is the bare group "" of Kafka's simple consumers
 * (kg_empty_id_ok): DescribeGroups and DeleteGroups take it, OffsetDelete
 * refuses it, as Kafka; no "<topic>/" names it.
 *
 * Rules, each refusal with Kafka's code and one log line naming the peer:
 *   - a name that is neither form: INVALID_GROUP_ID;
 *   - this broker does not coordinate <g>: NOT_COORDINATOR (no
 *     coordinator now too, as Kafka: this broker does not own the
 *     group's partition), loading it: COORDINATOR_LOAD_IN_PROGRESS (the
 *     forwarding side waits on these);
 *   - DescribeGroups of a group that does not exist: state "Dead", no
 *     error (as Kafka answers); else "Stable" with members, "Empty"
 *     without, protocol type "consumer", protocol data the assignor;
 *     a Kafka group of consumers alone: its own state and members; a
 *     Kafka group whose members left, with topics' groups (its commits)
 *     or without: "Empty", its protocol type, no protocol, as Kafka
 *     describes it;
 *   - DeleteGroups: GROUP_ID_NOT_FOUND when no such group (neither a
 *     topic's group nor a Kafka group here: one whose members left is
 *     Empty, and here, until the cleanup of group_serve.c removes it),
 *     NON_EMPTY_GROUP while any of the named groups has members (consume
 *     files of any broker's mount, Kafka consumers): nothing deleted
 *     then; else NONE, the group Dead and its GroupMetadata tombstone
 *     written;
 *   - IncrementalAlterConfigs: SET and DELETE (back to the default) of
 *     the group keys of README "Consumer groups"; another key or a bad
 *     value INVALID_CONFIG; APPEND, SUBTRACT INVALID_CONFIG; AlterConfigs
 *     INVALID_REQUEST (Kafka sets group configs incrementally only). A
 *     scoped group that does not exist is made (durable, its settings
 *     record) first, as Kafka keeps configs of groups not yet in use:
 *     this is how a mount's mkdir on another broker makes its group here;
 *     "<g>" changes every topic's group <g> (none: GROUP_ID_NOT_FOUND);
 *   - DescribeConfigs: the three keys of "<topic>/<g>" (source
 *     GROUP_CONFIG, 8), GROUP_ID_NOT_FOUND when there is no such group,
 *     INVALID_GROUP_ID for a bare "<g>" (its topics' settings differ).
 *
 * Threads: listener workers; takes coord.mu, group.mu and gs->mu in the
 * order of group_int.h, never two groups' mu at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_serve_int.h"
#include "repl/kafka_authz.h"
#include "repl/kmsg.h"
#include "repl/proto.h"
#include "util/diaglog.h"

int group_scoped_name(struct kstr id, char *topic, char *name, const char **why)
{
	const char *slash;
	size_t tl;

	*why = NULL;
	topic[0] = name[0] = '\0';
	if (!id.ptr || id.len <= 0 || (size_t)id.len > 2 * TOPIC_NAME_MAX + 1 ||
	    memchr(id.ptr, '\0', (size_t)id.len)) {
		*why = "empty, over 499 bytes or holds a NUL";
		return -EINVAL;
	}
	slash = memchr(id.ptr, '/', (size_t)id.len);
	tl = slash ? (size_t)(slash - id.ptr) : 0;
	if (slash) {
		if (tl == 0 || tl > TOPIC_NAME_MAX || (size_t)id.len - tl - 1 > TOPIC_NAME_MAX) {
			*why = "<topic>/<group> with a name of 1-249 bytes each";
			return -EINVAL;
		}
		memcpy(topic, id.ptr, tl);
		topic[tl] = '\0';
		if (!topic_name_valid(topic)) {
			*why = "the topic is not a topic name";
			return -EINVAL;
		}
		tl++;
	}
	if ((size_t)id.len - tl > TOPIC_NAME_MAX) {
		*why = "a group name is at most 249 bytes";
		return -EINVAL;
	}
	memcpy(name, id.ptr + tl, (size_t)id.len - tl);
	name[id.len - (int32_t)tl] = '\0';
	/* Existing groups made before the name rules may still be deleted. */
	if (!topic_name_valid(name)) {
		*why = group_name_refusal(name);
		return -EINVAL;
	}
	return 0;
}

int16_t group_admin_coord_check(struct group_coord *gc, const char *name, const char *api,
				const char *peer)
{
	int32_t leader = -1;
	int rc = offsets_coordinator(gc, name, &leader);

	if (rc == 1)
		return PROTO_ERR_NONE;
	if (rc == 0) {
		mq_log_limited(MQ_INFO,
			       "%s from %s for group %s: NOT_COORDINATOR, broker %d "
			       "coordinates it",
			       api, peer, name, (int)leader);
		return PROTO_ERR_NOT_COORDINATOR;
	}
	if (rc == -EINPROGRESS) {
		mq_log_limited(MQ_INFO, "%s from %s for group %s: COORDINATOR_LOAD_IN_PROGRESS",
			       api, peer, name);
		return PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS;
	}
	/* None now (no __consumer_offsets yet, or no leader of the group's
	 * partition): Kafka's validateGroupStatus on a broker that does not
	 * own that partition. */
	mq_log_limited(MQ_INFO,
		       "%s from %s for group %s: NOT_COORDINATOR (no leader "
		       "of its %s partition)",
		       api, peer, name, GROUP_OFFSETS_TOPIC);
	return PROTO_ERR_NOT_COORDINATOR;
}

bool kg_empty_id_ok(const char *api)
{
	static const char *const takes[] = { "OffsetCommit", "OffsetFetch", "DescribeGroups",
					     "DeleteGroups", "FindCoordinator" };

	for (size_t i = 0; i < sizeof(takes) / sizeof(takes[0]); i++)
		if (!strcmp(api, takes[i]))
			return true;
	return false;
}

int16_t group_admin_id_check(struct group_coord *gc, struct kstr id, char *topic, char *name,
			     const char *api, const char *peer)
{
	const char *why;

	if (id.len == 0 && kg_empty_id_ok(api)) {
		topic[0] = name[0] = '\0'; /* the bare "", every topic's */
	} else if (group_scoped_name(id, topic, name, &why) < 0) {
		mq_log_limited(MQ_WARN, "%s from %s: group id '%.*s' refused: %s", api, peer,
			       id.ptr && id.len > 0 && id.len < 600 ? (int)id.len : 0,
			       id.ptr ? id.ptr : "", why ? why : "not a group name");
		return PROTO_ERR_INVALID_GROUP_ID;
	}
	return group_admin_coord_check(gc, name, api, peer);
}

bool group_admin_named(const struct group *g, const char *topic, const char *name)
{
	return !strcmp(g->name, name) && (!topic[0] || !strcmp(g->topic, topic)) && !g->proxy;
}

/* ---- DeleteGroups ---- */

int16_t group_admin_delete(struct group_serve *gs, const char *topic, const char *name,
			   const char *peer)
{
	struct group_coord *gc = gs->gc;
	char(*topics)[TOPIC_NAME_MAX + 1] = NULL;
	int n = 0, rc = 0;
	bool busy = false, known = false;

	pthread_mutex_lock(&gc->mu);
	topics = calloc((size_t)gc->ngroups + 1, sizeof(*topics));
	if (!topic[0]) {
		/* Kafka's group of that name: with members, or Empty (its
		 * members left; kept until the cleanup, group_serve.c). */
		struct kgroup *kg;

		pthread_mutex_lock(&gs->mu);
		kg = kg_find(gs, name);
		known = kg != NULL;
		busy = kg && kg->nmembers > 0;
		pthread_mutex_unlock(&gs->mu);
	}
	for (int i = 0; topics && i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];

		if (!group_admin_named(g, topic, name))
			continue;
		pthread_mutex_lock(&g->mu);
		busy |= g->nmembers > 0;
		pthread_mutex_unlock(&g->mu);
		snprintf(topics[n++], TOPIC_NAME_MAX + 1, "%s", g->topic);
	}
	busy |= n > 0 && gc->kafka_active && gc->kafka_active(gc->kafka_arg, name);
	pthread_mutex_unlock(&gc->mu);
	if (!topics)
		return PROTO_ERR_UNKNOWN_SERVER_ERROR;
	if (busy) {
		mq_log_limited(MQ_INFO,
			       "DeleteGroups from %s: group %s%s%s: NON_EMPTY_GROUP (it "
			       "has members)",
			       peer, topic, topic[0] ? "/" : "", name);
		free(topics);
		return PROTO_ERR_NON_EMPTY_GROUP;
	}
	if (n == 0 && !known) {
		mq_log_limited(MQ_INFO, "DeleteGroups from %s: group %s%s%s: GROUP_ID_NOT_FOUND",
			       peer, topic, topic[0] ? "/" : "", name);
		free(topics);
		return PROTO_ERR_GROUP_ID_NOT_FOUND;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		struct topic *t;

		if (broker_topic_get(gc->b, topics[i], &t) < 0)
			continue; /* the topic's delete drops its groups */
		rc = group_delete(t, name);
		topic_put(t);
		if (rc == -ENOENT)
			rc = 0; /* gone meanwhile */
	}
	free(topics);
	/* Kafka's group of that name (no members: busy above) goes too: a
	 * tombstone of its metadata record, after any record of the group
	 * still queued or in flight (kg_delete), so that compaction forgets
	 * it and no coordinator loads it again. */
	if (rc == 0 && !topic[0])
		rc = kg_delete(gs, name);
	if (rc < 0)
		mq_log_limited(MQ_WARN, "DeleteGroups from %s: group %s%s%s: %s", peer, topic,
			       topic[0] ? "/" : "", name, strerror(-rc));
	switch (rc) {
	case 0: return PROTO_ERR_NONE;
	case -EBUSY: return PROTO_ERR_NON_EMPTY_GROUP; /* a member joined meanwhile */
	case -EREMOTE: return PROTO_ERR_NOT_COORDINATOR;
	case -EAGAIN: return PROTO_ERR_NOT_ENOUGH_REPLICAS;
	case -ETIMEDOUT: return PROTO_ERR_REQUEST_TIMED_OUT;
	default: return PROTO_ERR_KAFKA_STORAGE_ERROR;
	}
}

static int delete_groups_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_delete_groups_req *m = &pr->u.delete_groups;
	struct proto_delete_groups_resp r = { 0 };
	size_t pos;
	int rc;

	r.results = calloc((size_t)m->n_groups + 1, sizeof(*r.results));
	if (!r.results)
		return -ENOMEM;
	for (int32_t i = 0; i < m->n_groups; i++) {
		char topic[TOPIC_NAME_MAX + 1], name[TOPIC_NAME_MAX + 1];
		struct proto_deletable_group_result *res = &r.results[r.n_results++];

		res->group_id = m->groups_names[i];
		res->error_code =
			!kafka_authorize(req, ACL_OP_DELETE, ACL_RES_GROUP, m->groups_names[i])
				? PROTO_ERR_GROUP_AUTHORIZATION_FAILED
				: group_admin_id_check(gs->gc, m->groups_names[i], topic, name,
						       "DeleteGroups", net_req_peer(req));
		if (!res->error_code)
			res->error_code = group_admin_delete(gs, topic, name, net_req_peer(req));
	}
	pos = net_req_begin(req);
	rc = proto_delete_groups_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &r);
	if (rc == 0)
		rc = net_req_end(req, pos);
	free(r.results);
	return rc;
}

/* ---- DescribeGroups ---- */

static void *dhold_keep(struct gdesc_hold *h, void *p)
{
	void **nb;

	if (!p)
		return NULL;
	nb = realloc(h->bufs, (size_t)(h->nbufs + 1) * sizeof(*nb));
	if (!nb) {
		free(p);
		return NULL;
	}
	h->bufs = nb;
	h->bufs[h->nbufs++] = p;
	return p;
}

void gdesc_hold_free(struct gdesc_hold *h)
{
	for (int i = 0; i < h->nbufs; i++)
		free(h->bufs[i]);
	free(h->bufs);
}

/* Appends mount member m of g (g->mu held): its id and its partitions of
 * g's topic as a consumer protocol assignment. */
static int describe_member(struct proto_described_group *d, struct gdesc_hold *h, struct group *g,
			   struct group_member *m)
{
	struct proto_described_member *dm = &d->members[d->n_members];
	int32_t *parts = calloc((size_t)g->nparts + 1, sizeof(*parts));
	struct proto_topic_partitions tp = { .topic = kstr_of(g->topic), .partitions = parts };
	struct proto_consumer_asg asg = {
		.version = 0, .n_assigned = 1, .assigned_partitions = &tp, .user_data = KSTR_NULL
	};
	struct kbuf_w w;
	char *id;

	if (!parts)
		return -ENOMEM;
	for (int p = 0; p < g->nparts; p++)
		if (g->parts[p].owner == m)
			parts[tp.n_partitions++] = p;
	kbuf_w_init(&w, 256);
	proto_consumer_asg_encode(&w, &asg);
	free(parts);
	if (kbuf_w_err(&w) || !dhold_keep(h, w.buf)) {
		kbuf_w_free(&w);
		return -ENOMEM;
	}
	id = dhold_keep(h, strdup(m->id));
	if (!id)
		return -ENOMEM;
	dm->member_id = kstr_of(id);
	dm->group_instance_id = KSTR_NULL;
	dm->client_id = kstr_of(m->guest ? "mqfs-guest" : "mqfs");
	dm->client_host = kstr_of("");
	dm->member_metadata = (struct kstr){ "", 0 };
	dm->member_assignment = (struct kstr){ (const char *)w.buf, (int32_t)w.len };
	d->n_members++;
	return 0;
}

/* A Kafka group of consumers alone (no consume file joined it), under
 * gs->mu: 1 when described, 0 when there is none with members. */
static int describe_kafka(struct group_serve *gs, const char *name, struct proto_described_group *d,
			  struct gdesc_hold *h)
{
	struct kgroup *kg = kg_find(gs, name);

	if (!kg || kg->nmembers == 0)
		return 0;
	snprintf(h->state, sizeof(h->state), "%s", kg_state_name(kg->state));
	snprintf(h->ptype, sizeof(h->ptype), "%s", kg->ptype);
	snprintf(h->proto, sizeof(h->proto), "%s", kg->proto);
	d->members = dhold_keep(h, calloc((size_t)kg->nmembers + 1, sizeof(*d->members)));
	if (!d->members)
		return -ENOMEM;
	for (struct kmember *km = kg->members; km; km = km->next) {
		struct proto_described_member *dm = &d->members[d->n_members++];
		const struct kproto *kp = NULL;
		/* Copies: the answer is written after gs->mu is let go. */
		char *id = dhold_keep(h, strdup(km->id));
		char *cid = dhold_keep(h, strdup(km->client_id));
		char *host = dhold_keep(h, strdup(km->client_host));
		uint8_t *meta = NULL, *asg = NULL;

		for (int i = 0; i < km->nprotos; i++)
			if (!strcmp(km->protos[i].name, kg->proto))
				kp = &km->protos[i];
		if (kp && kp->len > 0 && (meta = dhold_keep(h, malloc((size_t)kp->len))))
			memcpy(meta, kp->meta, (size_t)kp->len);
		if (km->asg_len > 0 && (asg = dhold_keep(h, malloc((size_t)km->asg_len))))
			memcpy(asg, km->asg, (size_t)km->asg_len);
		if (!id || !cid || !host)
			return -ENOMEM;
		dm->member_id = kstr_of(id);
		dm->group_instance_id = KSTR_NULL;
		dm->client_id = kstr_of(cid);
		dm->client_host = kstr_of(host);
		dm->member_metadata =
			(struct kstr){ meta ? (const char *)meta : "", meta ? kp->len : 0 };
		dm->member_assignment =
			(struct kstr){ asg ? (const char *)asg : "", asg ? km->asg_len : 0 };
	}
	return 1;
}

/* A Kafka group whose members left (no topic's group of the name): Empty,
 * with its protocol type and no protocol, as Kafka describes it; else h
 * stays (Dead). Takes gs->mu. */
static void describe_empty(struct group_serve *gs, const char *name, struct gdesc_hold *h)
{
	struct kgroup *kg;

	pthread_mutex_lock(&gs->mu);
	kg = kg_find(gs, name);
	if (kg) {
		snprintf(h->state, sizeof(h->state), "%s", kg_state_name(kg->state));
		snprintf(h->ptype, sizeof(h->ptype), "%s", kg->ptype);
	}
	pthread_mutex_unlock(&gs->mu);
}

/* Whether the coordinator keeps a Kafka group of that name (with members
 * or Empty). Takes gs->mu. */
static bool kafka_group_known(struct group_serve *gs, const char *name)
{
	bool known;

	pthread_mutex_lock(&gs->mu);
	known = kg_find(gs, name) != NULL;
	pthread_mutex_unlock(&gs->mu);
	return known;
}

int group_admin_describe(struct group_serve *gs, const char *topic, const char *name,
			 struct proto_described_group *d, struct gdesc_hold *h)
{
	struct group_coord *gc = gs->gc;
	int members = 0, ngroups = 0, rc = 0;

	snprintf(h->state, sizeof(h->state), "Dead");
	h->ptype[0] = h->proto[0] = '\0';
	if (!topic[0]) {
		pthread_mutex_lock(&gs->mu);
		rc = describe_kafka(gs, name, d, h);
		pthread_mutex_unlock(&gs->mu);
		if (rc != 0)
			goto out;
	}
	pthread_mutex_lock(&gc->mu);
	for (int i = 0; i < gc->ngroups; i++) {
		if (!group_admin_named(gc->groups[i], topic, name))
			continue;
		pthread_mutex_lock(&gc->groups[i]->mu);
		members += gc->groups[i]->nmembers;
		pthread_mutex_unlock(&gc->groups[i]->mu);
	}
	d->members = dhold_keep(h, calloc((size_t)members + 1, sizeof(*d->members)));
	for (int i = 0; d->members && rc == 0 && i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];

		if (!group_admin_named(g, topic, name))
			continue;
		pthread_mutex_lock(&g->mu);
		if (ngroups++ == 0)
			snprintf(h->proto, sizeof(h->proto), "%s",
				 assign_strategy_name(g->strategy));
		for (struct group_member *m = g->members; m && rc == 0; m = m->next)
			if (m->active && d->n_members < members)
				rc = describe_member(d, h, g, m);
		pthread_mutex_unlock(&g->mu);
	}
	pthread_mutex_unlock(&gc->mu);
	if (!d->members)
		rc = -ENOMEM;
	if (ngroups > 0) {
		snprintf(h->state, sizeof(h->state), "%s", d->n_members ? "Stable" : "Empty");
		snprintf(h->ptype, sizeof(h->ptype), "consumer");
		/* A Kafka group whose members left (its commits made the
		 * topics' groups): no protocol, as Kafka describes an Empty
		 * group; the topics' assignor is not what its members chose. */
		if (!d->n_members && !topic[0] && kafka_group_known(gs, name))
			h->proto[0] = '\0';
		/* "" never has members (Join refuses it): only simple
		 * consumers' commits, which Kafka describes with no protocol
		 * type nor protocol. */
		if (!name[0])
			h->ptype[0] = h->proto[0] = '\0';
	} else {
		h->proto[0] = '\0';
		if (!topic[0])
			describe_empty(gs, name, h);
	}
out:
	d->group_state = kstr_of(h->state);
	d->protocol_type = kstr_of(h->ptype);
	d->protocol_data = kstr_of(h->proto);
	return rc < 0 ? rc : 0;
}

static int describe_groups_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_describe_groups_req *m = &pr->u.describe_groups;
	struct proto_describe_groups_resp r = { 0 };
	struct gdesc_hold *holds;
	size_t pos;
	int rc = 0;

	r.groups = calloc((size_t)m->n_groups + 1, sizeof(*r.groups));
	holds = calloc((size_t)m->n_groups + 1, sizeof(*holds));
	if (!r.groups || !holds) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t i = 0; i < m->n_groups && rc == 0; i++) {
		char topic[TOPIC_NAME_MAX + 1], name[TOPIC_NAME_MAX + 1];
		struct proto_described_group *d = &r.groups[r.n_groups++];

		d->group_id = m->groups[i];
		d->authorized_operations = INT32_MIN;
		d->group_state = d->protocol_type = d->protocol_data = kstr_of("");
		d->error_code = !kafka_authorize(req, ACL_OP_DESCRIBE, ACL_RES_GROUP, m->groups[i])
					? PROTO_ERR_GROUP_AUTHORIZATION_FAILED
					: group_admin_id_check(gs->gc, m->groups[i], topic, name,
							       "DescribeGroups", net_req_peer(req));
		if (!d->error_code)
			rc = group_admin_describe(gs, topic, name, d, &holds[i]);
		/* As Kafka: asked for (v3+), on a group answered without error. */
		if (!d->error_code && pr->hdr.api_version >= 3 && m->include_authorized_operations)
			d->authorized_operations =
				kafka_authorized_ops(req, ACL_RES_GROUP, m->groups[i]);
	}
	if (rc < 0)
		goto out;
	pos = net_req_begin(req);
	rc = proto_describe_groups_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &r);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	for (int32_t i = 0; holds && i < r.n_groups; i++)
		gdesc_hold_free(&holds[i]);
	free(holds);
	free(r.groups);
	return rc;
}

/* ---- IncrementalAlterConfigs of a GROUP resource ---- */

/* The .config text of a resource's configs: "key=value" lines, DELETE
 * as the key's default. */
static int16_t alter_text(const struct proto_alter_configs_resource *res, FILE *f, char *msg,
			  size_t cap)
{
	static const char *const defaults[][2] = {
		{ "partition.assignment.strategy", "range" },
		{ "auto.offset.reset", "earliest" },
		{ "session.timeout.ms", "45000" },
	};

	for (int32_t i = 0; i < res->n_configs; i++) {
		const struct proto_config *c = &res->configs[i];
		const char *def = NULL;

		if (!c->name.ptr || c->name.len <= 0 ||
		    memchr(c->name.ptr, '\n', (size_t)c->name.len) ||
		    memchr(c->name.ptr, '=', (size_t)c->name.len)) {
			snprintf(msg, cap, "config name is not a setting name");
			return PROTO_ERR_INVALID_CONFIG;
		}
		for (size_t k = 0; k < sizeof(defaults) / sizeof(defaults[0]); k++)
			if (kstr_eq(c->name, defaults[k][0]))
				def = defaults[k][1];
		if (!def) {
			snprintf(msg, cap,
				 "unknown key '%.*s' (group keys: "
				 "partition.assignment.strategy, auto.offset.reset, "
				 "session.timeout.ms)",
				 c->name.len < 100 ? (int)c->name.len : 100, c->name.ptr);
			return PROTO_ERR_INVALID_CONFIG;
		}
		switch (c->config_operation) {
		case PROTO_CONFIG_SET:
			if (!c->value.ptr || memchr(c->value.ptr, '\n', (size_t)c->value.len)) {
				snprintf(msg, cap, "'%.*s': a null value or one over lines",
					 (int)c->name.len, c->name.ptr);
				return PROTO_ERR_INVALID_CONFIG;
			}
			fprintf(f, "%.*s=%.*s\n", (int)c->name.len, c->name.ptr, (int)c->value.len,
				c->value.ptr);
			break;
		case PROTO_CONFIG_DELETE:
			fprintf(f, "%.*s=%s\n", (int)c->name.len, c->name.ptr, def);
			break;
		default:
			snprintf(msg, cap, "'%.*s' is not a list: only SET and DELETE apply",
				 (int)c->name.len, c->name.ptr);
			return PROTO_ERR_INVALID_CONFIG;
		}
	}
	return PROTO_ERR_NONE;
}

/* Writes text as .config of group name of topic, made first when missing. */
static int16_t alter_group(struct broker *b, const char *topic, const char *name, const char *text,
			   size_t len, char *msg, size_t cap)
{
	struct topic *t;
	struct group *g;
	int rc;

	if (broker_topic_get(b, topic, &t) < 0) {
		snprintf(msg, cap, "no topic %s", topic);
		return PROTO_ERR_GROUP_ID_NOT_FOUND;
	}
	rc = group_open(t, name, GROUP_CREATE, &g);
	topic_put(t);
	if (rc == 0) {
		rc = group_config_write(g, text, len);
		group_put(g);
	}
	if (rc == 0)
		return PROTO_ERR_NONE;
	snprintf(msg, cap, "group %s of topic %s: %s", name, topic, strerror(-rc));
	switch (rc) {
	case -EINVAL: return PROTO_ERR_INVALID_CONFIG;
	case -ENOENT: return PROTO_ERR_GROUP_ID_NOT_FOUND;
	case -EREMOTE: return PROTO_ERR_NOT_COORDINATOR;
	case -EAGAIN: return PROTO_ERR_NOT_ENOUGH_REPLICAS;
	case -ETIMEDOUT: return PROTO_ERR_REQUEST_TIMED_OUT;
	default: return PROTO_ERR_KAFKA_STORAGE_ERROR;
	}
}

int16_t group_admin_alter(struct broker *b, const struct proto_alter_configs_resource *res,
			  bool incremental, bool validate_only, const char *peer, char *msg,
			  size_t cap)
{
	char topic[TOPIC_NAME_MAX + 1], name[TOPIC_NAME_MAX + 1], why[200] = "";
	char(*topics)[TOPIC_NAME_MAX + 1] = NULL;
	struct group_coord *gc = b->gc;
	char *text = NULL;
	size_t len = 0;
	int strategy = 0, n = 0;
	bool latest = false;
	int32_t session = 0;
	int16_t code;
	const char *bad;
	FILE *f;

	if (!incremental) {
		snprintf(msg, cap, "group configs are changed with IncrementalAlterConfigs");
		return PROTO_ERR_INVALID_REQUEST;
	}
	if (group_scoped_name(res->resource_name, topic, name, &bad) < 0) {
		snprintf(msg, cap, "group id refused: %s", bad ? bad : "not a group name");
		return PROTO_ERR_INVALID_GROUP_ID;
	}
	/* <topic>/G is made when missing, so mkdir's rules hold: no dot or
	 * "__" name, and no group on an internal topic, whose records are
	 * the coordinators' own (OffsetCommit refuses it too). */
	if (topic[0] && (!strncmp(topic, "__", 2) || (bad = group_name_refusal(name)))) {
		snprintf(msg, cap, "group id refused: %s",
			 bad ? bad : "an internal topic holds no groups");
		return PROTO_ERR_INVALID_GROUP_ID;
	}
	code = group_admin_coord_check(gc, name, "IncrementalAlterConfigs", peer);
	if (code)
		return code;
	f = open_memstream(&text, &len);
	if (!f)
		return PROTO_ERR_UNKNOWN_SERVER_ERROR;
	code = alter_text(res, f, msg, cap);
	fclose(f);
	if (!code &&
	    group_settings_apply(text, len, '\n', &strategy, &latest, &session, why, sizeof(why))) {
		snprintf(msg, cap, "%s", why);
		code = PROTO_ERR_INVALID_CONFIG;
	}
	if (code || validate_only)
		goto out;
	if (topic[0]) {
		code = alter_group(b, topic, name, text, len, msg, cap);
		goto out;
	}
	pthread_mutex_lock(&gc->mu);
	topics = calloc((size_t)gc->ngroups + 1, sizeof(*topics));
	for (int i = 0; topics && i < gc->ngroups; i++)
		if (group_admin_named(gc->groups[i], "", name))
			snprintf(topics[n++], TOPIC_NAME_MAX + 1, "%s", gc->groups[i]->topic);
	pthread_mutex_unlock(&gc->mu);
	if (n == 0) {
		snprintf(msg, cap, "no topic has a group %s here (name one: <topic>/%s)", name,
			 name);
		code = PROTO_ERR_GROUP_ID_NOT_FOUND;
	}
	for (int i = 0; i < n && !code; i++)
		code = alter_group(b, topics[i], name, text, len, msg, cap);
out:
	free(topics);
	free(text);
	return code;
}

/* ---- DescribeConfigs of a GROUP resource ---- */

int16_t group_admin_describe_configs(struct broker *b, struct kstr id, const char *peer,
				     struct proto_describe_configs_result *r, char *msg, size_t cap)
{
	char topic[TOPIC_NAME_MAX + 1], name[TOPIC_NAME_MAX + 1];
	const char *bad, *values[3];
	struct group *g = NULL;
	struct topic *t;
	struct {
		struct proto_describe_configs_entry e[3];
		char session[16];
	} * blk;
	int16_t code;
	int rc;

	if (group_scoped_name(id, topic, name, &bad) < 0 || !topic[0]) {
		snprintf(msg, cap, "group id refused: %s",
			 bad ? bad : "name the group of one topic: <topic>/<group>");
		return PROTO_ERR_INVALID_GROUP_ID;
	}
	code = group_admin_coord_check(b->gc, name, "DescribeConfigs", peer);
	if (code)
		return code;
	rc = broker_topic_get(b, topic, &t);
	if (rc == 0) {
		rc = group_open(t, name, GROUP_LOOKUP, &g);
		topic_put(t);
	}
	if (rc < 0) {
		snprintf(msg, cap, "no group %s of topic %s", name, topic);
		return PROTO_ERR_GROUP_ID_NOT_FOUND;
	}
	/* One block, which the caller frees as r->configs. */
	blk = calloc(1, sizeof(*blk));
	if (!blk) {
		group_put(g);
		return PROTO_ERR_UNKNOWN_SERVER_ERROR;
	}
	pthread_mutex_lock(&g->mu);
	values[0] = assign_strategy_name(g->strategy);
	values[1] = g->reset_latest ? "latest" : "earliest";
	snprintf(blk->session, sizeof(blk->session), "%d", (int)g->session_timeout_ms);
	pthread_mutex_unlock(&g->mu);
	group_put(g);
	values[2] = blk->session;
	for (int i = 0; i < 3; i++) {
		static const char *const keys[3] = { "partition.assignment.strategy",
						     "auto.offset.reset", "session.timeout.ms" };

		blk->e[i] = (struct proto_describe_configs_entry){
			.name = kstr_of(keys[i]),
			.value = kstr_of(values[i]),
			.config_source = 8, /* Kafka's GROUP_CONFIG */
			.synonyms = NULL,
			.config_type = i == 2 ? 3 : 2, /* INT, STRING */
			.documentation = KSTR_NULL,
		};
	}
	r->configs = blk->e;
	r->n_configs = 3;
	return PROTO_ERR_NONE;
}

int group_admin_serve_register(struct group_serve *gs, struct net_server *srv)
{
	int rc = net_server_handle(srv, PROTO_API_DESCRIBE_GROUPS, describe_groups_handler, gs);

	rc = rc ? rc : net_server_handle(srv, PROTO_API_DELETE_GROUPS, delete_groups_handler, gs);
	return rc ? rc : group_offset_delete_register(gs, srv);
}
