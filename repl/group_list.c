/*
 * group_list.c — a mount's MNT/<topic>/.groups listing in a cluster. This
 * broker holds the groups it coordinates and proxies of the others' that
 * its mount used; the rest are known only to their coordinators. So a
 * listing asks every other live broker for the groups it coordinates, as
 * Kafka's AdminClient listConsumerGroups does: ListGroups, one broker
 * after the other, each with GLIST_TIMEOUT_MS to answer (connect
 * included), over the cluster's group connection.
 *
 * The answers ("<topic>/<g>" rows, group_list_serve.c) are kept for
 * GLIST_FRESH_MS: `ls -l`, and readdirs of several topics at once, ask
 * once; a group removed here meanwhile (a proxy dropped by a lookup, an
 * rmdir) makes the next listing ask again, so that an answer older than
 * the removal does not bring the group back. A group made at another
 * mount shows up here after at most GLIST_FRESH_MS. For the listed topic, each group of an answer that has no group
 * here gets a proxy (so its entry has an inode and opens as a lookup
 * would make it), and a proxy without members that its coordinator,
 * having answered, no longer lists goes (deleted there from another
 * mount), unless it was made after the question was asked.
 *
 * A broker that does not answer (down, partitioned, or without ListGroups)
 * is left out: its groups are missing from the listing (the proxies this
 * mount has of them stay), one rate-limited log line names it, and the
 * listing itself never fails for it.
 *
 * Locks: list_mu (0. in group_int.h) across the calls, so that one
 * listing asks while the others wait for its answers; coord.mu briefly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_int.h"
#include "repl/proto.h"
#include "util/clock.h"
#include "util/diaglog.h"

#define GLIST_TIMEOUT_MS 1000
#define GLIST_FRESH_MS   1000

struct glist_acc {
	char **ids;
	int n, cap;
};

static int acc_add(struct glist_acc *a, struct kstr id)
{
	if (a->n == a->cap) {
		int nc = a->cap ? a->cap * 2 : 64;
		char **nv = realloc(a->ids, (size_t)nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		a->ids = nv;
		a->cap = nc;
	}
	a->ids[a->n] = strndup(id.ptr, (size_t)id.len);
	if (!a->ids[a->n])
		return -ENOMEM;
	a->n++;
	return 0;
}

static int lg_encode(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_list_groups_req_encode(w, v, req);
}

/* The scoped rows of an answer into ctx (a glist_acc). */
static int lg_decode(struct kbuf_r *r, int16_t v, void *ctx, int16_t *err, char *msg, size_t cap)
{
	struct proto_list_groups_resp resp;
	int rc = proto_list_groups_resp_decode(r, v, &resp);

	(void)msg;
	(void)cap;
	if (rc < 0)
		return rc;
	*err = resp.error_code;
	for (int32_t i = 0; i < resp.n_groups && rc == 0; i++) {
		struct kstr id = resp.groups[i].group_id;

		if (id.ptr && id.len > 0 && memchr(id.ptr, '/', (size_t)id.len) &&
		    !memchr(id.ptr, '\0', (size_t)id.len))
			rc = acc_add(ctx, id);
	}
	proto_list_groups_resp_free(&resp);
	return rc;
}

/* Asks the other brokers again unless the last answers are fresh. Needs
 * list_mu. */
static void glist_refresh(struct group_coord *gc, int64_t now)
{
	struct proto_list_groups_req req = { 0 };
	struct glist_acc acc = { 0 };
	int32_t *nodes = NULL, *from;
	unsigned gen = atomic_load(&gc->list_gen);
	int n, nfrom = 0;

	if (gc->list_at && now - gc->list_at < GLIST_FRESH_MS && gen == gc->list_gen_at)
		return;
	pthread_mutex_lock(&gc->mu);
	n = gc->kafka_others ? gc->kafka_others(gc->kafka_arg, &nodes) : 0;
	pthread_mutex_unlock(&gc->mu);
	if (n < 0)
		return;
	from = calloc((size_t)n + 1, sizeof(*from));
	for (int i = 0; from && i < n; i++) {
		struct gadm_call call = { .api = PROTO_API_LIST_GROUPS,
					  .what = "ListGroups",
					  .encode = lg_encode,
					  .req = &req,
					  .decode = lg_decode,
					  .ctx = &acc,
					  .timeout_ms = GLIST_TIMEOUT_MS };
		int16_t err = PROTO_ERR_NONE;
		char msg[8];
		int rc = group_admin_once(gc, nodes[i], &call, &err, msg, sizeof(msg));

		if (rc == -ENOMEM)
			break;
		if (rc < 0 ||
		    (err != PROTO_ERR_NONE && err != PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS))
			mq_log_limited(MQ_WARN,
				       "groups listing: broker %d %s%s: its groups are missing "
				       "from .groups listings now",
				       (int)nodes[i], rc < 0 ? "not reached: " : "answered ",
				       rc < 0 ? strerror(-rc) : proto_err_name(err));
		/* A broker still loading lists part of its groups: they are
		 * shown, but its silence about a proxy here proves nothing. */
		if (rc == 0 && err == PROTO_ERR_NONE)
			from[nfrom++] = nodes[i];
	}
	free(nodes);
	if (!from) {
		broker_names_free(acc.ids, acc.n);
		return;
	}
	broker_names_free(gc->list_ids, gc->list_n);
	free(gc->list_from);
	gc->list_ids = acc.ids;
	gc->list_n = acc.n;
	gc->list_from = from;
	gc->list_nfrom = nfrom;
	gc->list_at = now;
	gc->list_gen_at = gen;
}

static bool answered(const struct group_coord *gc, int32_t node)
{
	for (int i = 0; i < gc->list_nfrom; i++)
		if (gc->list_from[i] == node)
			return true;
	return false;
}

static bool listed_id(const struct group_coord *gc, const char *topic, const char *name)
{
	size_t tl = strlen(topic);

	for (int i = 0; i < gc->list_n; i++)
		if (!strncmp(gc->list_ids[i], topic, tl) && gc->list_ids[i][tl] == '/' &&
		    !strcmp(gc->list_ids[i] + tl + 1, name))
			return true;
	return false;
}

/* Proxies without members of t that their coordinator, asked at `asked`,
 * answered and did not list: their names (broker_names_free). */
static int stale_proxies(struct group_coord *gc, struct topic *t, int64_t asked, char ***out)
{
	char **v;
	int k = 0;

	pthread_mutex_lock(&gc->mu);
	v = calloc((size_t)gc->ngroups + 1, sizeof(*v));
	for (int i = 0; v && i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];
		bool idle;

		if (strcmp(g->topic, t->name))
			continue;
		pthread_mutex_lock(&g->mu);
		idle = g->proxy && g->nmembers == 0 && g->made_ms < asked;
		pthread_mutex_unlock(&g->mu);
		if (idle && answered(gc, group_remote_node(g)) && !listed_id(gc, t->name, g->name))
			v[k++] = strdup(g->name);
	}
	pthread_mutex_unlock(&gc->mu);
	*out = v;
	return v ? k : -ENOMEM;
}

void group_list_sync(struct group_coord *gc, struct topic *t)
{
	int64_t now = now_mono_ms();
	size_t tl = strlen(t->name);
	char **stale = NULL;
	bool hooked;
	int n;

	pthread_mutex_lock(&gc->mu);
	hooked = gc->cluster && gc->connect && gc->kafka_others;
	pthread_mutex_unlock(&gc->mu);
	if (!hooked)
		return;
	pthread_mutex_lock(&gc->list_mu);
	glist_refresh(gc, now);
	for (int i = 0; i < gc->list_n; i++) {
		const char *id = gc->list_ids[i];

		if (!strncmp(id, t->name, tl) && id[tl] == '/')
			group_proxy_listed(gc, t, id + tl + 1);
	}
	/* Only answers to a question asked in this call judge a proxy. */
	n = gc->list_at == now ? stale_proxies(gc, t, now, &stale) : 0;
	for (int i = 0; i < n; i++)
		if (stale[i])
			group_proxy_drop(gc, t->name, stale[i],
					 "its coordinator no longer lists it");
	broker_names_free(stale, n > 0 ? n : 0);
	pthread_mutex_unlock(&gc->list_mu);
}
