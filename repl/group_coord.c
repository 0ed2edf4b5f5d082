/*
 * group_coord.c — the consumer group coordinator's life and its groups:
 * open and close (broker_open / broker_close), the list of groups
 * (coord.mu), finding, creating and deleting a group, binding a group to
 * its topic object, and dropping every group of a deleted topic.
 *
 * A group belongs to one topic, by name; names are [A-Za-z0-9._-], so
 * '/' and TAB (the separators of the __consumer_offsets records,
 * group_store.c) cannot occur in them. A group is made durable (its
 * settings record) before it is visible, and a deleted one is tombstoned
 * before it disappears, so that replay at open finds what the mount
 * showed. A group outlives the topic objects of its name: it is replayed
 * before anyone looked the topic up, and binds to the topic at first use
 * (group_bind). When the topic is deleted its groups go with it, with
 * tombstones, so that a topic made again under the name starts with no
 * groups; groups whose topic is missing at open (a delete cut short by a
 * crash) are dropped then (coord_sweep).
 *
 * In a cluster the coordinator holds the groups of the partitions of the
 * replicated __consumer_offsets it leads, loaded by offsets_topic.c;
 * group_open of any other group finds or makes a proxy of it (g->proxy:
 * in memory, for this mount's members, which group_remote.c joins to the
 * coordinator; nothing of it is written), or answers -EREMOTE without the
 * cluster's group connection (the log names the coordinator). What the
 * coordinator has decides (group_admin.c asks it): mkdir makes the group
 * there first, a lookup makes the proxy of a group it has and drops a
 * proxy without members of a group it no longer has, rmdir deletes the
 * group there, then the proxy. A group
 * whose partition another broker leads now becomes a proxy, or without
 * that connection is dropped, its calls then -EREMOTE (group_live,
 * g->moved).
 *
 * struct group is reference counted: the coordinator's list holds one
 * reference, each caller of group_open/group_by_id one, each member one.
 * Every public function of a group takes group.mu through
 * group_lock_live(), which also answers -ENOENT for a deleted group or
 * topic. Lock order: group_int.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/config.h"
#include "repl/group_int.h"
#include "util/clock.h"

static void gpart_init(struct gpart *gp)
{
	memset(gp, 0, sizeof(*gp));
	gp->committed = -1;
	gp->expire_ts = -1;
	gp->leader_epoch = -1;
	gp->ask_leader = -1;
	gp->leader_end = -1;
}

int group_parts_grow(struct group *g, int n)
{
	struct gpart *np;

	if (n <= g->nparts)
		return 0;
	np = realloc(g->parts, (size_t)n * sizeof(*np));
	if (!np)
		return -ENOMEM;
	for (int p = g->nparts; p < n; p++)
		gpart_init(&np[p]);
	g->parts = np;
	g->nparts = n;
	return 0;
}

static void group_free(struct group *g)
{
	for (int p = 0; p < g->nparts; p++) {
		if (g->parts[p].cursor)
			topic_cursor_free(g->t, p, g->parts[p].cursor);
		free(g->parts[p].metadata);
	}
	free(g->parts);
	if (g->t)
		topic_put(g->t);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void group_put(struct group *g)
{
	if (g && atomic_fetch_sub(&g->refs, 1) == 1)
		group_free(g);
}

uint64_t group_id(struct group *g)
{
	return g->id;
}

const char *group_name(struct group *g)
{
	return g->name;
}

struct group *group_new(struct group_coord *gc, const char *topic, const char *name)
{
	struct group *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	atomic_init(&g->refs, 1);
	g->gc = gc;
	g->id = ++gc->next_id;
	snprintf(g->topic, sizeof(g->topic), "%s", topic);
	snprintf(g->name, sizeof(g->name), "%s", name);
	pthread_mutex_init(&g->mu, NULL);
	g->strategy = ASSIGN_RANGE;
	g->session_timeout_ms = 45000;
	return g;
}

int group_coord_find(struct group_coord *gc, const char *topic, const char *name)
{
	for (int i = 0; i < gc->ngroups; i++)
		if (!strcmp(gc->groups[i]->topic, topic) && !strcmp(gc->groups[i]->name, name))
			return i;
	return -1;
}

int group_coord_insert(struct group_coord *gc, struct group *g)
{
	if (gc->ngroups == gc->cap) {
		int cap = gc->cap ? gc->cap * 2 : 16;
		struct group **ng = realloc(gc->groups, (size_t)cap * sizeof(*ng));

		if (!ng)
			return -ENOMEM;
		gc->groups = ng;
		gc->cap = cap;
	}
	gc->groups[gc->ngroups++] = g;
	return 0;
}

void group_coord_remove(struct group_coord *gc, int i, bool gone)
{
	if (gone && gc->gone_fn)
		gc->gone_fn(gc->gone_arg, gc->groups[i]->topic, gc->groups[i]->name);
	memmove(gc->groups + i, gc->groups + i + 1,
		(size_t)(gc->ngroups - i - 1) * sizeof(*gc->groups));
	gc->ngroups--;
	/* The listing's cached answers may name it: ask again first. */
	atomic_fetch_add(&gc->list_gen, 1);
}

int group_live(struct group *g)
{
	if (g->moved)
		return -EREMOTE;
	if (g->deleted || !g->t || topic_deleted(g->t))
		return -ENOENT;
	return group_parts_grow(g, topic_partitions(g->t));
}

int group_lock_live(struct group *g)
{
	int np, rc;

	pthread_mutex_lock(&g->mu);
	np = g->nparts;
	rc = group_live(g);
	/* The topic grew: its new partitions go to the members now, whichever
	 * call noticed it (a .state read as well as a consume read). */
	if (rc >= 0 && g->nparts != np && g->nmembers > 0)
		rc = group_rebalance(g);
	if (rc < 0) {
		pthread_mutex_unlock(&g->mu);
		return rc;
	}
	return 0;
}

int group_lock_part(struct group *g, int partition)
{
	int rc = group_lock_live(g);

	if (rc < 0)
		return rc;
	if (partition < 0 || partition >= topic_partitions(g->t)) {
		pthread_mutex_unlock(&g->mu);
		return -ENOENT;
	}
	return 0;
}

static void coord_sweep(struct group_coord *gc);

int32_t group_remote_node(struct group *g)
{
	struct group_coord *gc = g->gc;

	return gc->kafka_coordinator ? gc->kafka_coordinator(gc->kafka_arg, g->name) : -1;
}

struct gkey {
	const char *topic, *name;
};

static bool idle_proxy_is(const struct group *g, const void *arg)
{
	const struct gkey *k = arg;
	bool idle;

	if (!g->proxy || strcmp(g->topic, k->topic) || strcmp(g->name, k->name))
		return false;
	pthread_mutex_lock((pthread_mutex_t *)&g->mu);
	idle = g->nmembers == 0;
	pthread_mutex_unlock((pthread_mutex_t *)&g->mu);
	return idle;
}

void group_proxy_drop(struct group_coord *gc, const char *topic, const char *name, const char *why)
{
	struct gkey k = { topic, name };
	struct group_member **fire;
	int nfire;

	pthread_mutex_lock(&gc->call_mu);
	pthread_mutex_lock(&gc->mu);
	group_coord_drop(gc, idle_proxy_is, &k, true, why, &fire, &nfire);
	pthread_mutex_unlock(&gc->mu);
	for (int i = 0; i < nfire; i++)
		fire[i]->wake(fire[i]->wake_arg);
	pthread_mutex_unlock(&gc->call_mu);
	free(fire);
}
/* A condition variable whose timed waits are on the monotonic clock
 * (deadline_from_ms). */
static void cond_init_mono(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}


int group_coord_open(struct broker *b)
{
	struct group_coord *gc = calloc(1, sizeof(*gc));
	int rc;

	if (!gc)
		return -ENOMEM;
	gc->b = b;
	pthread_mutex_init(&gc->list_mu, NULL);
	pthread_mutex_init(&gc->call_mu, NULL);
	pthread_mutex_init(&gc->mu, NULL);
	pthread_mutex_init(&gc->wake_mu, NULL);
	pthread_mutex_init(&gc->connect_mu, NULL);
	pthread_cond_init(&gc->wake_cv, NULL);
	pthread_cond_init(&gc->idle_cv, NULL);
	pthread_mutex_init(&gc->timer_mu, NULL);
	cond_init_mono(&gc->timer_cv);
	atomic_init(&gc->armed, 0);
	atomic_init(&gc->deferred, 0);
	gc->cluster = cluster_config_zk(&b->cfg.cluster);
	pthread_mutex_init(&gc->loader_mu, NULL);
	cond_init_mono(&gc->loader_cv);
	b->gc = gc;
	rc = group_store_open(gc);
	if (rc == 0 && !gc->cluster) {
		pthread_mutex_lock(&gc->mu);
		coord_sweep(gc);
		pthread_mutex_unlock(&gc->mu);
	}
	if (rc == 0)
		rc = group_notifier_start(gc);
	if (rc == 0)
		rc = offsets_loader_start(gc);
	if (rc < 0) {
		mq_log(MQ_ERR, "%s: %s", GROUP_OFFSETS_TOPIC, strerror(-rc));
		group_coord_close(b);
		return rc;
	}
	return 0;
}

void group_coord_states_changed(void *broker)
{
	struct broker *b = broker;

	if (b->gc)
		offsets_loader_kick(b->gc);
}

void group_coord_stop(struct broker *b)
{
	if (b->gc)
		offsets_loader_stop(b->gc);
}

void group_set_gone_listener(struct broker *b,
			     void (*fn)(void *arg, const char *topic, const char *group), void *arg)
{
	struct group_coord *gc = b->gc;

	if (!gc)
		return;
	pthread_mutex_lock(&gc->mu);
	gc->gone_fn = fn;
	gc->gone_arg = arg;
	pthread_mutex_unlock(&gc->mu);
}

void group_coord_close(struct broker *b)
{
	struct group_coord *gc = b->gc;

	if (!gc)
		return;
	offsets_loader_stop(gc);
	group_notifier_stop(gc);
	/* A guest (another broker's member) holds a reference to its group:
	 * with no listener left to hear it leave, it goes now, or the group
	 * and its topic would outlive the broker. */
	for (int i = 0; i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];

		pthread_mutex_lock(&g->mu);
		group_guests_drop(g, "dropped: the broker stops");
		pthread_mutex_unlock(&g->mu);
		group_put(g);
	}
	free(gc->groups);
	group_kmeta_free(gc->kmeta, gc->nkmeta);
	if (gc->offsets)
		topic_put(gc->offsets);
	free((void *)gc->load);
	free(gc->load_epoch);
	pthread_mutex_destroy(&gc->loader_mu);
	pthread_cond_destroy(&gc->loader_cv);
	broker_names_free(gc->list_ids, gc->list_n);
	free(gc->list_from);
	pthread_mutex_destroy(&gc->list_mu);
	pthread_mutex_destroy(&gc->call_mu);
	pthread_mutex_destroy(&gc->mu);
	pthread_mutex_destroy(&gc->wake_mu);
	pthread_mutex_destroy(&gc->connect_mu);
	pthread_cond_destroy(&gc->wake_cv);
	pthread_cond_destroy(&gc->idle_cv);
	pthread_mutex_destroy(&gc->timer_mu);
	pthread_cond_destroy(&gc->timer_cv);
	free(gc);
	b->gc = NULL;
}

/* Binds the group to the topic object t (a group outlives the topic
 * objects of its name: replayed before anyone looked the topic up, or the
 * topic deleted and made again, whose old offsets then mean nothing).
 * Needs g->mu. */
static int group_bind(struct group *g, struct topic *t)
{
	if (g->t == t)
		return 0;
	if (g->t) {
		if (!topic_deleted(g->t))
			return -ENOENT; /* t is the stale one */
		mq_log(MQ_INFO, "group %s: topic %s was made again: committed offsets dropped",
		       g->name, g->topic);
		for (int p = 0; p < g->nparts; p++) {
			if (g->parts[p].cursor)
				topic_cursor_free(g->t, p, g->parts[p].cursor);
			gpart_init(&g->parts[p]);
		}
		topic_put(g->t);
	}
	topic_get(t);
	g->t = t;
	return group_parts_grow(g, topic_partitions(t));
}

/* Makes group name of t, durable (its metadata record) before it is
 * visible. Needs gc->mu. */
static int coord_create(struct group_coord *gc, struct topic *t, const char *name,
			struct group **out)
{
	struct group *g = group_new(gc, t->name, name);
	int rc;

	if (!g)
		return -ENOMEM;
	rc = group_store_meta(g);
	if (rc == 0)
		rc = group_coord_insert(gc, g);
	if (rc < 0) {
		group_put(g);
		return rc;
	}
	mq_log(MQ_INFO, "group %s of topic %s created", name, t->name);
	*out = g;
	return 0;
}

/* A proxy of group name, which another broker coordinates: in memory
 * only (nothing written to __consumer_offsets). Needs gc->mu. */
static int coord_proxy(struct group_coord *gc, struct topic *t, const char *name,
		       struct group **out)
{
	struct group *g = group_new(gc, t->name, name);
	int rc;

	if (!g)
		return -ENOMEM;
	g->proxy = true;
	g->made_ms = now_mono_ms();
	rc = group_coord_insert(gc, g);
	if (rc < 0) {
		group_put(g);
		return rc;
	}
	mq_log(MQ_INFO, "group %s of topic %s: a proxy of the coordinator's group made here", name,
	       t->name);
	*out = g;
	return 0;
}

int group_proxy_listed(struct group_coord *gc, struct topic *t, const char *name)
{
	struct group *g;
	int32_t node;
	int rc = 0;

	if (group_name_refusal(name) || topic_deleted(t))
		return 0;
	pthread_mutex_lock(&gc->mu);
	node = gc->kafka_coordinator ? gc->kafka_coordinator(gc->kafka_arg, name) : -1;
	/* A listing older than a move of the group here, or made while no
	 * broker coordinates it, makes nothing: a lookup decides then. */
	if (!gc->connect || node < 0 || group_coord_find(gc, t->name, name) >= 0)
		goto out;
	rc = coord_proxy(gc, t, name, &g);
	if (rc == 0) {
		pthread_mutex_lock(&g->mu);
		rc = group_bind(g, t);
		pthread_mutex_unlock(&g->mu);
		rc = rc < 0 ? rc : 1;
	}
out:
	pthread_mutex_unlock(&gc->mu);
	return rc;
}

/* A reference on g, bound to t. Needs gc->mu. */
static int coord_ref(struct group *g, struct topic *t, struct group **out)
{
	int rc;

	pthread_mutex_lock(&g->mu);
	rc = group_bind(g, t);
	pthread_mutex_unlock(&g->mu);
	if (rc == 0) {
		atomic_fetch_add(&g->refs, 1);
		*out = g;
	}
	return rc;
}

/* In a cluster, 0 when this broker coordinates group name (its groups
 * loaded; waits for a load under way up to request.timeout.ms); else
 * -EREMOTE (another broker does: *leader) or -EAGAIN (none now:
 * __consumer_offsets not made, or no leader; logged). No lock held. */
static int coord_here(struct group_coord *gc, const char *topic, const char *name, int32_t *leader)
{
	int rc;

	if (!gc->cluster)
		return 0;
	rc = offsets_topic_ensure(gc);
	if (rc == 0)
		rc = offsets_coordinator_wait(gc, name, gc->b->cfg.request_timeout_ms, leader);
	if (rc == 1)
		return 0;
	if (rc == 0)
		return -EREMOTE;
	mq_log_limited(MQ_WARN, "group %s of topic %s: no coordinator now (%s)", name, topic,
		       rc == -EINPROGRESS ? "its broker is still loading the groups"
					  : "__consumer_offsets has no leader or is not made");
	return -EAGAIN;
}

bool group_name_kept(const char *name)
{
	return !name[0] || topic_name_valid(name);
}

const char *group_name_refusal(const char *name)
{
	if (!topic_name_valid(name))
		return "a group name is 1-249 of [A-Za-z0-9._-], not . or ..";
	if (name[0] == '.')
		return "dot-names are kept for metadata";
	if (name[0] == '_' && name[1] == '_')
		return "\"__\" names are kept for internal use";
	return NULL;
}

/* Before group_open finds or makes the proxy of a group that broker
 * leader coordinates, what the coordinator says: mkdir makes the group
 * there (-EEXIST when it has it); a lookup of a name with no proxy here
 * makes one when the coordinator has the group (*create), and a proxy
 * without members whose group the coordinator no longer has goes (a
 * coordinator that does not answer changes nothing). Only the
 * coordinator knows whether a name with no proxy here is a group, so
 * that lookup waits for it as a consume open does while it moves or
 * cannot be reached (up to request.timeout.ms; a killed coordinator's
 * partition gets a new leader meanwhile), then -EAGAIN: not -ENOENT,
 * which would say the group does not exist. A proxy this broker has is
 * asked once, briefly: a coordinator that does not answer leaves it.
 * GADM_LOCAL: this broker coordinates it now. No lock held. */
static int proxy_ask(struct group_coord *gc, struct topic *t, const char *name, int *create,
		     int32_t leader)
{
	bool here = false, members = false, hooked;
	int i, rc;

	pthread_mutex_lock(&gc->mu);
	hooked = gc->connect != NULL;
	i = group_coord_find(gc, t->name, name);
	if (i >= 0) {
		here = true;
		pthread_mutex_lock(&gc->groups[i]->mu);
		members = gc->groups[i]->nmembers > 0;
		pthread_mutex_unlock(&gc->groups[i]->mu);
	}
	pthread_mutex_unlock(&gc->mu);
	if (!hooked)
		return 0; /* group_open refuses */
	if (*create == GROUP_CREATE_EXCL)
		return here ? -EEXIST : group_admin_forward_create(gc, t->name, name, leader);
	if (*create != GROUP_LOOKUP || members)
		return 0;
	rc = group_admin_remote_exists(gc, t->name, name, leader, !here);
	if (rc == GADM_LOCAL)
		return GADM_LOCAL;
	if (rc == 1 && !here)
		*create = GROUP_CREATE;
	else if (rc == 0 && here)
		group_proxy_drop(gc, t->name, name, "its coordinator no longer has it");
	else if (rc == -EAGAIN && !here)
		return -EAGAIN; /* logged by the call */
	return 0;
}

int group_open(struct topic *t, const char *name, int create, struct group **out)
{
	struct group_coord *gc = t->b->gc;
	struct group *g;
	int32_t leader = -1;
	bool proxy = false;
	int i, rc = 0;

	*out = NULL;
	/* Groups made before the name rules were enforced can still be found
	 * (and removed); so can "", which a commit makes (group_name_kept). */
	if (!group_name_kept(name) || (create && name[0] && group_name_refusal(name)) ||
	    (create == GROUP_CREATE_EXCL && !name[0]))
		return -EINVAL;
	if (topic_deleted(t))
		return -ENOENT;
again:
	rc = coord_here(gc, t->name, name, &leader);
	if (rc < 0 && rc != -EREMOTE)
		return rc;
	if (rc == -EREMOTE) {
		rc = proxy_ask(gc, t, name, &create, leader);
		if (rc == GADM_LOCAL)
			goto again;
		if (rc < 0)
			return rc;
		rc = -EREMOTE;
	}
	pthread_mutex_lock(&gc->mu);
	/* Another broker coordinates it: with a connection to the
	 * coordinator (the cluster's group hook), a proxy of its group holds
	 * this mount's members; without one the group is not reachable. */
	if (rc == -EREMOTE && !gc->connect) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: access refused: broker %d coordinates group "
			       "%s (use its mount)",
			       name, t->name, (int)leader, name);
		goto out;
	}
	proxy = rc == -EREMOTE;
	rc = 0;
	i = group_coord_find(gc, t->name, name);
	if (i >= 0) {
		g = gc->groups[i];
		if (create == GROUP_CREATE_EXCL) {
			rc = -EEXIST;
			goto out;
		}
	} else if (proxy && create) {
		/* mkdir (the coordinator made the group: proxy_ask), a
		 * lookup of a group the coordinator has, or a join. */
		rc = coord_proxy(gc, t, name, &g);
		if (rc < 0)
			goto out;
	} else if (!create) {
		rc = -ENOENT;
		goto out;
	} else {
		rc = coord_create(gc, t, name, &g);
		if (rc < 0)
			goto out;
	}
	rc = coord_ref(g, t, out);
out:
	pthread_mutex_unlock(&gc->mu);
	return rc;
}

int group_by_id(struct topic *t, uint64_t id, struct group **out)
{
	struct group_coord *gc = t->b->gc;
	int rc = -ENOENT;

	*out = NULL;
	pthread_mutex_lock(&gc->mu);
	for (int i = 0; i < gc->ngroups; i++) {
		if (gc->groups[i]->id == id && !strcmp(gc->groups[i]->topic, t->name)) {
			atomic_fetch_add(&gc->groups[i]->refs, 1);
			*out = gc->groups[i];
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&gc->mu);
	return rc;
}

int group_list(struct topic *t, char ***names, uint64_t **ids, int *n)
{
	struct group_coord *gc = t->b->gc;
	uint64_t *idv = NULL;
	char **v;
	int k = 0, rc = 0;

	group_list_sync(gc, t);
	pthread_mutex_lock(&gc->mu);
	v = calloc((size_t)gc->ngroups + 1, sizeof(*v));
	if (ids)
		idv = calloc((size_t)gc->ngroups + 1, sizeof(*idv));
	if (!v || (ids && !idv)) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < gc->ngroups; i++) {
		/* "" (the simple consumers' group) names no directory: the
		 * mount shows it nowhere; Kafka's APIs reach it. */
		if (strcmp(gc->groups[i]->topic, t->name) || !gc->groups[i]->name[0])
			continue;
		v[k] = strdup(gc->groups[i]->name);
		if (!v[k]) {
			rc = -ENOMEM;
			goto out;
		}
		if (idv)
			idv[k] = gc->groups[i]->id;
		k++;
	}
	*names = v;
	*n = k;
	if (ids)
		*ids = idv;
out:
	pthread_mutex_unlock(&gc->mu);
	if (rc < 0) {
		broker_names_free(v, k);
		free(idv);
	}
	return rc;
}

/* rmdir of a proxy: the coordinator deletes the group (DeleteGroups),
 * then the proxy goes; -EBUSY at once while this mount has members of it.
 * GADM_LOCAL when this broker coordinates the group now. Called with
 * gc->mu held, which it releases. */
static int proxy_delete(struct group_coord *gc, struct group *g, int32_t node)
{
	char topic[TOPIC_NAME_MAX + 1], name[TOPIC_NAME_MAX + 1];
	int members, rc;

	pthread_mutex_lock(&g->mu);
	members = g->nmembers;
	pthread_mutex_unlock(&g->mu);
	snprintf(topic, sizeof(topic), "%s", g->topic);
	snprintf(name, sizeof(name), "%s", g->name);
	pthread_mutex_unlock(&gc->mu);
	if (members > 0)
		return -EBUSY;
	rc = group_admin_forward_delete(gc, topic, name, node);
	if (rc == 0 || rc == -ENOENT)
		group_proxy_drop(gc, topic, name,
				 rc == 0 ? "deleted at its coordinator"
					 : "its coordinator has no such group");
	return rc;
}

int group_delete(struct topic *t, const char *name)
{
	struct group_coord *gc = t->b->gc;
	struct group *g;
	int i, rc = 0;
	bool busy;

again:
	pthread_mutex_lock(&gc->mu);
	i = group_coord_find(gc, t->name, name);
	if (i < 0) {
		pthread_mutex_unlock(&gc->mu);
		return -ENOENT;
	}
	g = gc->groups[i];
	/* Another broker coordinates it (a proxy, or a group not yet
	 * dropped after its coordinator moved): the coordinator's to
	 * delete. */
	{
		int32_t node = group_remote_node(g);

		if (node != -1) {
			rc = proxy_delete(gc, g, node);
			if (rc == GADM_LOCAL)
				goto again;
			return rc;
		}
	}
	/* Kafka consumers of the name are members too (group_serve.c). */
	busy = gc->kafka_active && gc->kafka_active(gc->kafka_arg, name);
	pthread_mutex_lock(&g->mu);
	if (g->nmembers > 0 || busy) {
		rc = -EBUSY;
		goto out;
	}
	rc = group_store_tombstones(g);
	if (rc < 0)
		goto out;
	g->deleted = true;
	group_coord_remove(gc, i, true);
	mq_log(MQ_INFO, "group %s of topic %s deleted", name, t->name);
out:
	pthread_mutex_unlock(&g->mu);
	pthread_mutex_unlock(&gc->mu);
	if (rc == 0)
		group_put(g); /* the coordinator's reference */
	return rc;
}

/* Drops every group for which match(g, arg) holds (needs gc->mu),
 * tombstoned when tombstone is set (a topic made again under the name
 * must not find them, not even after a restart), else marked moved (its
 * partition of __consumer_offsets is led elsewhere now: group_live answers
 * -EREMOTE). Armed members are disarmed and returned in *fire (malloc'ed;
 * NULL if none or no memory: they then learn it at their next read) to
 * be woken with call_mu held: their reads answer that error. */
void group_coord_drop(struct group_coord *gc, bool (*match)(const struct group *g, const void *arg),
		      const void *arg, bool tombstone, const char *why, struct group_member ***fire,
		      int *nfire)
{
	int cap = 0;

	*fire = NULL;
	*nfire = 0;
	for (int i = 0; i < gc->ngroups;) {
		struct group *g = gc->groups[i];
		int rc;

		if (!match(g, arg)) {
			i++;
			continue;
		}
		pthread_mutex_lock(&g->mu);
		rc = tombstone && !g->proxy ? group_store_tombstones(g) : 0;
		if (rc < 0)
			mq_log(MQ_ERR,
			       "group %s of topic %s: tombstones not written (%s): its "
			       "offsets come back if the topic is made again before a restart",
			       g->name, g->topic, strerror(-rc));
		if (tombstone)
			g->deleted = true;
		else
			g->moved = true;
		for (struct group_member *m = g->members; m; m = m->next) {
			if (!m->armed)
				continue;
			group_member_unarm(m);
			if (*nfire == cap) {
				int nc = cap ? cap * 2 : 8;
				struct group_member **nf = realloc(*fire, (size_t)nc * sizeof(*nf));

				if (!nf)
					continue;
				*fire = nf;
				cap = nc;
			}
			(*fire)[(*nfire)++] = m;
		}
		pthread_mutex_unlock(&g->mu);
		group_coord_remove(gc, i, tombstone);
		mq_log(MQ_INFO, "group %s of topic %s %s: %s", g->name, g->topic,
		       tombstone ? "deleted" : "dropped here", why);
		group_put(g); /* members hold their own */
	}
}

static bool topic_is(const struct group *g, const void *topic)
{
	return !strcmp(g->topic, topic);
}

void group_topic_deleted(struct broker *b, const char *topic)
{
	struct group_coord *gc = b->gc;
	struct group_member **fire;
	int nfire;

	if (!gc)
		return;
	pthread_mutex_lock(&gc->call_mu);
	pthread_mutex_lock(&gc->mu);
	group_coord_drop(gc, topic_is, topic, true, "the topic was deleted", &fire, &nfire);
	pthread_mutex_unlock(&gc->mu);
	/* Members cannot be freed meanwhile: group_leave waits for call_mu. */
	for (int i = 0; i < nfire; i++)
		fire[i]->wake(fire[i]->wake_arg);
	pthread_mutex_unlock(&gc->call_mu);
	free(fire);
}

/* At start: groups whose topic is gone (a delete cut short by a crash
 * before its tombstones were written) are dropped the same way. The
 * catalog is complete here (broker_open refuses to start otherwise). */
static void coord_sweep(struct group_coord *gc)
{
	for (int i = 0; i < gc->ngroups;) {
		char topic[TOPIC_NAME_MAX + 1];
		struct group_member **fire;
		struct topic *t;
		int nfire;

		if (broker_topic_get(gc->b, gc->groups[i]->topic, &t) == 0) {
			topic_put(t);
			i++;
			continue;
		}
		snprintf(topic, sizeof(topic), "%s", gc->groups[i]->topic);
		group_coord_drop(gc, topic_is, topic, true, "its topic no longer exists", &fire,
				 &nfire);
		free(fire); /* no members before the mount */
	}
}

void group_timer_kick(struct group_coord *gc)
{
	pthread_mutex_lock(&gc->timer_mu);
	gc->timer_kicked = true;
	pthread_cond_signal(&gc->timer_cv);
	pthread_mutex_unlock(&gc->timer_mu);
}

void group_timer_sleep(struct group_coord *gc, int64_t ms)
{
	struct timespec ts;

	if (ms >= 0)
		deadline_from_ms(CLOCK_MONOTONIC, ms, &ts);
	pthread_mutex_lock(&gc->timer_mu);
	while (!gc->timer_kicked) {
		if (ms < 0)
			pthread_cond_wait(&gc->timer_cv, &gc->timer_mu);
		else if (pthread_cond_timedwait(&gc->timer_cv, &gc->timer_mu, &ts) == ETIMEDOUT)
			break;
	}
	gc->timer_kicked = false;
	pthread_mutex_unlock(&gc->timer_mu);
}
