/*
 * group_list_serve.c — the coordinator's side of ListGroups (16): the
 * groups this broker coordinates, for Kafka's admin tools
 * (kafka-consumer-groups --list, AdminClient listConsumerGroups, kafkajs
 * admin.listGroups) and for the .groups listings of the other brokers'
 * mounts (group_list.c).
 *
 * Rows. Group ids are those of the other group APIs (group_admin_serve.c):
 *   "<topic>/<g>"  every mount group g of a topic whose partition of
 *                  __consumer_offsets this broker leads (proxies of other
 *                  brokers' groups are not listed): state "Stable" with
 *                  members (consume files of any mount), else "Empty";
 *   "<g>"          Kafka's group of that name (every topic's group g, and
 *                  the Kafka consumers of g): the state of its Kafka
 *                  consumers when it has some, else as above over its
 *                  topics' groups; "Empty" for a Kafka group whose
 *                  members left, until the cleanup removes it.
 * Protocol type: the Kafka consumers' own ("consumer" from Kafka's
 * clients), else "consumer", as DescribeGroups answers; so Kafka's
 * listConsumerGroups, which keeps protocol type "consumer" or "", shows
 * the mount's groups too. Group type (v5): "classic" for all (no group of
 * Kafka's KIP-848 protocol exists here). Sorted by id.
 *
 * Filters: states_filter (v4) keeps the rows whose state is one of them,
 * types_filter (v5) those whose type is; both match without regard to
 * case, as Kafka parses them; an empty filter keeps all. A filter naming
 * no known state or type keeps none (Kafka's answer too), logged once.
 *
 * error_code: COORDINATOR_LOAD_IN_PROGRESS while a partition of
 * __consumer_offsets led here is still loading (the groups loaded so far
 * are listed, as Kafka does), COORDINATOR_NOT_AVAILABLE while the
 * listener stops; else NONE.
 *
 * Threads: listener workers; takes group_serve.mu, then (released)
 * coord.mu and group.mu in the order of group_int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "repl/group_serve_int.h"
#include "repl/kafka_authz.h"
#include "repl/proto.h"
#include "util/diaglog.h"

/* One row, before sorting: id, protocol type and state in one block. */
struct lrow {
	char *id;
	const char *ptype;
	const char *state;
	int rank; /* of rows with the same id, the highest is kept */
};

struct lrows {
	struct lrow *v;
	int n, cap;
};

enum { RANK_EMPTY, RANK_STABLE, RANK_KAFKA };

static int lrow_add(struct lrows *rs, const char *topic, const char *name, const char *ptype,
		    const char *state, int rank)
{
	size_t tl = topic ? strlen(topic) + 1 : 0, nl = strlen(name) + 1;
	size_t pl = strlen(ptype) + 1, sl = strlen(state) + 1;
	char *blk;

	if (rs->n == rs->cap) {
		int nc = rs->cap ? rs->cap * 2 : 64;
		struct lrow *nv = realloc(rs->v, (size_t)nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		rs->v = nv;
		rs->cap = nc;
	}
	blk = malloc(tl + nl + pl + sl);
	if (!blk)
		return -ENOMEM;
	if (topic)
		snprintf(blk, tl + 1, "%s/", topic);
	memcpy(blk + tl, name, nl);
	memcpy(blk + tl + nl, ptype, pl);
	memcpy(blk + tl + nl + pl, state, sl);
	rs->v[rs->n++] = (struct lrow){ blk, blk + tl + nl, blk + tl + nl + pl, rank };
	return 0;
}

static int lrow_cmp(const void *a, const void *b)
{
	const struct lrow *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : y->rank - x->rank; /* the highest rank first */
}

/* Every group this broker coordinates, a row per id, sorted. */
static int rows_collect(struct group_serve *gs, struct lrows *rs)
{
	struct group_coord *gc = gs->gc;
	int rc = 0, k = 0;

	pthread_mutex_lock(&gs->mu);
	/* Kafka's groups, those whose members left too (Empty, kept until
	 * the cleanup: group_serve.c), as Kafka lists them. */
	for (struct kgroup *kg = gs->groups; kg && rc == 0; kg = kg->next)
		rc = lrow_add(rs, NULL, kg->name, kg->ptype, kg_state_name(kg->state),
			      kg->nmembers > 0 ? RANK_KAFKA : RANK_EMPTY);
	pthread_mutex_unlock(&gs->mu);
	pthread_mutex_lock(&gc->mu);
	for (int i = 0; i < gc->ngroups && rc == 0; i++) {
		struct group *g = gc->groups[i];
		bool mine, busy;

		pthread_mutex_lock(&g->mu);
		mine = !g->proxy && !g->moved && !g->deleted;
		busy = g->nmembers > 0;
		pthread_mutex_unlock(&g->mu);
		if (!mine)
			continue;
		/* "" is listed bare only: "<topic>/" is no id the other
		 * APIs take. */
		if (g->name[0])
			rc = lrow_add(rs, g->topic, g->name, "consumer", busy ? "Stable" : "Empty",
				      busy ? RANK_STABLE : RANK_EMPTY);
		/* "" holds simple consumers' commits only: no protocol
		 * type, as Kafka lists such a group. */
		if (rc == 0)
			rc = lrow_add(rs, NULL, g->name, g->name[0] ? "consumer" : "",
				      busy ? "Stable" : "Empty", busy ? RANK_STABLE : RANK_EMPTY);
	}
	pthread_mutex_unlock(&gc->mu);
	if (rc < 0)
		return rc;
	/* The bare "<g>" of several topics (and of Kafka consumers): one row,
	 * the one of the highest rank. */
	if (rs->n > 1)
		qsort(rs->v, (size_t)rs->n, sizeof(*rs->v), lrow_cmp);
	for (int i = 0; i < rs->n; i++) {
		if (k > 0 && !strcmp(rs->v[k - 1].id, rs->v[i].id)) {
			free(rs->v[i].id);
			continue;
		}
		rs->v[k++] = rs->v[i];
	}
	rs->n = k;
	return 0;
}

static bool kept(const struct kstr *filter, int32_t n, const char *value)
{
	if (n <= 0)
		return true;
	for (int32_t i = 0; i < n; i++)
		if (filter[i].ptr && (size_t)filter[i].len == strlen(value) &&
		    !strncasecmp(filter[i].ptr, value, (size_t)filter[i].len))
			return true;
	return false;
}

/* Logs a filter entry that can match nothing here (a misspelt state). */
static void filter_check(const struct kstr *filter, int32_t n, const char *const *known,
			 const char *what, const char *peer)
{
	for (int32_t i = 0; i < n; i++) {
		bool ok = false;

		for (int k = 0; known[k] && !ok; k++)
			ok = kept(&filter[i], 1, known[k]);
		if (!ok)
			mq_log_limited(
				MQ_INFO,
				"ListGroups from %s: %s filter '%.*s' matches no group (known: "
				"Empty, Stable, PreparingRebalance, CompletingRebalance; type "
				"classic)",
				peer, what,
				filter[i].len > 0 && filter[i].len < 100 ? (int)filter[i].len : 0,
				filter[i].ptr ? filter[i].ptr : "");
	}
}

/* COORDINATOR_LOAD_IN_PROGRESS while a partition led here loads. */
static int16_t load_state(struct group_coord *gc)
{
	for (int p = 0; gc->load && p < gc->noffsets; p++)
		if (atomic_load(&gc->load[p]) == OFFSETS_LOADING)
			return PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS;
	return PROTO_ERR_NONE;
}

static int list_groups_handler(void *arg, struct net_req *req)
{
	static const char *const states[] = { "Empty", "Stable", "PreparingRebalance",
					      "CompletingRebalance", NULL };
	static const char *const types[] = { "classic", NULL };
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_list_groups_req *m = &pr->u.list_groups;
	struct proto_list_groups_resp r = { 0 };
	struct lrows rs = { 0 };
	size_t pos;
	int rc;

	filter_check(m->states_filter, m->n_states_filter, states, "state", net_req_peer(req));
	filter_check(m->types_filter, m->n_types_filter, types, "type", net_req_peer(req));
	if (atomic_load(&gs->stop)) {
		r.error_code = PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
	} else {
		r.error_code = load_state(gs->gc);
		rc = rows_collect(gs, &rs);
		if (rc < 0)
			goto out;
	}
	r.groups = calloc((size_t)rs.n + 1, sizeof(*r.groups));
	if (!r.groups) {
		rc = -ENOMEM;
		goto out;
	}
	/* KafkaApis.handleListGroupsRequest: DESCRIBE on the cluster lists
	 * every group, else those the asker may DESCRIBE. */
	bool every = kafka_may(req, ACL_OP_DESCRIBE, ACL_RES_CLUSTER, kstr_of(ACL_CLUSTER_NAME));
	for (int i = 0; i < rs.n; i++) {
		if (!kept(m->states_filter, m->n_states_filter, rs.v[i].state) ||
		    !kept(m->types_filter, m->n_types_filter, "classic"))
			continue;
		if (!every && !kafka_may(req, ACL_OP_DESCRIBE, ACL_RES_GROUP, kstr_of(rs.v[i].id)))
			continue;
		r.groups[r.n_groups++] = (struct proto_listed_group){
			.group_id = kstr_of(rs.v[i].id),
			.protocol_type = kstr_of(rs.v[i].ptype),
			.group_state = kstr_of(rs.v[i].state),
			.group_type = kstr_of("classic"),
		};
	}
	pos = net_req_begin(req);
	rc = proto_list_groups_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &r);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	for (int i = 0; i < rs.n; i++)
		free(rs.v[i].id);
	free(rs.v);
	free(r.groups);
	return rc;
}

int group_list_serve_register(struct group_serve *gs, struct net_server *srv)
{
	return net_server_handle(srv, PROTO_API_LIST_GROUPS, list_groups_handler, gs);
}
