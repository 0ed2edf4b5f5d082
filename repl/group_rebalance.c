/*
 * group_rebalance.c — a group's members, generations and assignment.
 *
 * A member is one open consume file (group_join at open, group_leave at
 * close, which the kernel does when the process dies; Kafka consumers in
 * a group of that name of their own then move into this one,
 * group_serve.c): so no local member can go silent while holding
 * partitions; session.timeout.ms expires only the members of other
 * brokers' mounts (group_guest.c). When another broker coordinates the
 * group, group_join joins there (group_remote.c) and no assignor runs
 * here (g->nremote). Member ids sort in join order
 * ("consumer-<6-digit sequence>-<pid>", "...-<pid>@<broker>" for
 * another broker's).
 *
 * Rebalance (group.mu held): on join, leave, strategy change and partition
 * growth. Members are ordered by id; the group's assignor (assign.c)
 * computes owner[] from the previous owners; each change of owner bumps
 * the partition's epoch, so that the old owner's stream no longer commits
 * it, and the new owner starts at the committed offset (or at
 * auto.offset.reset when there is none: group_part_resolve); a partition
 * that keeps its owner keeps its position and never stops.
 * Cooperative-sticky revokes in generation g+1 and assigns in g+2, here
 * back to back, as nothing can read in between under group.mu. Members
 * are then woken: a new partition may have records waiting.
 *
 * A member that leaves commits nothing more: its records not yet passed
 * by its reads are delivered again to the next owner (at-least-once).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "repl/group_int.h"

void group_part_assign(struct group *g, int p, struct group_member *m)
{
	struct gpart *gp = &g->parts[p];

	if (gp->owner == m)
		return;
	gp->owner = m;
	gp->epoch++; /* the old owner's stream no longer commits p */
	if (m)
		group_part_resolve(g, p);
}

int group_rebalance(struct group *g)
{
	int m = g->nmembers, n = g->nparts, rc = 0, round = 0;
	const char **ids = malloc((size_t)(m ? m : 1) * sizeof(*ids));
	struct group_member **mv = malloc((size_t)(m ? m : 1) * sizeof(*mv));
	int32_t *prev = malloc((size_t)(n ? n : 1) * sizeof(*prev));
	int32_t *owner = malloc((size_t)(n ? n : 1) * sizeof(*owner));
	int i = 0;

	if (g->nremote > 0)
		goto out; /* the coordinator on another broker assigns */
	if (!ids || !mv || !prev || !owner) {
		rc = -ENOMEM;
		goto out;
	}
	for (struct group_member *x = g->members; x; x = x->next, i++) {
		ids[i] = x->id;
		mv[i] = x;
	}
	do {
		for (int p = 0; p < n; p++) {
			prev[p] = -1;
			for (int k = 0; k < m; k++)
				if (g->parts[p].owner == mv[k])
					prev[p] = k;
		}
		rc = assign_compute(g->strategy, ids, m, n, prev, owner);
		if (rc < 0)
			goto out;
		for (int p = 0; p < n; p++)
			group_part_assign(g, p, owner[p] >= 0 ? mv[owner[p]] : NULL);
		g->generation++;
		if (rc > 0)
			mq_log(MQ_DEBUG, "group %s: generation %d revokes %d partitions", g->name,
			       (int)g->generation, rc);
	} while (rc > 0 && ++round < 2);
	rc = 0;
	mq_log(MQ_DEBUG, "group %s of topic %s: generation %d, %d members (%s)", g->name, g->topic,
	       (int)g->generation, m, assign_strategy_name(g->strategy));
	/* Members with new partitions may have data waiting. */
	if (m > 0)
		group_notify_queue(g->gc, g->topic, -1);
out:
	free(ids);
	free(mv);
	free(prev);
	free(owner);
	return rc;
}

int group_member_add(struct group *g, struct group_member *m)
{
	struct group_member **tail;
	int rc;

	for (tail = &g->members; *tail; tail = &(*tail)->next)
		;
	*tail = m;
	if (g->nmembers++ == 0)
		group_idle_mark(g);
	/* The timer: a guest's session; in a cluster, a consume file's
	 * coordinator to follow (group_remote_adopt). */
	group_timer_kick(g->gc);
	if (m->rm)
		g->nremote++;
	rc = group_rebalance(g);
	if (rc < 0) {
		*tail = NULL;
		g->nmembers--;
		if (m->rm)
			g->nremote--;
		group_rebalance(g);
		return rc;
	}
	atomic_fetch_add(&g->refs, 1);
	return 0;
}

int group_join(struct group *g, pid_t pid, void (*wake)(void *arg), void *arg,
	       struct group_member **out)
{
	struct group_member *m = calloc(1, sizeof(*m));
	bool here = false;
	int rc;

	*out = NULL;
	if (!m)
		return -ENOMEM;
again:
	/* coord.mu across the join: a Kafka JoinGroup checks mount members
	 * under it too, so a group never has both kinds at once. */
	pthread_mutex_lock(&g->gc->mu);
	/* Kafka consumers in a group of their own: it ends, and they join
	 * again into this one (group_guest.c) with the consume files. */
	if (g->gc->kafka_active && g->gc->kafka_active(g->gc->kafka_arg, g->name) &&
	    g->gc->kafka_dissolve) {
		mq_log(MQ_INFO,
		       "group %s of topic %s: consume by pid %d: the Kafka consumers of group %s "
		       "join the consume files' group",
		       g->name, g->topic, (int)pid, g->name);
		g->gc->kafka_dissolve(g->gc->kafka_arg, g->name);
	}
	/* Another broker coordinates the group, or none does now (an
	 * election, or this broker loading the group): join there, waiting
	 * for the coordinator while it moves (no lock held across the
	 * network calls). Once that found this broker coordinating, the
	 * join is here, whatever a later lookup says: a move away again is
	 * the group timer's to follow (group_remote_adopt). */
	if (!here) {
		int32_t node = g->gc->kafka_coordinator
				       ? g->gc->kafka_coordinator(g->gc->kafka_arg, g->name)
				       : -1;

		if (node >= 0 || node == GROUP_COORD_NONE) {
			pthread_mutex_unlock(&g->gc->mu);
			rc = group_remote_join(g, node, pid, wake, arg, out);
			if (rc != GREM_LOCAL) {
				free(m);
				return rc;
			}
			here = true;
			goto again;
		}
	}
	rc = group_lock_live(g);
	if (rc < 0) {
		pthread_mutex_unlock(&g->gc->mu);
		free(m);
		return rc;
	}
	m->g = g;
	m->pid = pid;
	m->wake = wake;
	m->wake_arg = arg;
	m->active = true;
	/* Ids sort in join order, so range hands out partitions in it. */
	snprintf(m->id, sizeof(m->id), "consumer-%06" PRIu64 "-%d", ++g->next_member, (int)pid);
	rc = group_member_add(g, m);
	if (rc < 0) {
		pthread_mutex_unlock(&g->mu);
		pthread_mutex_unlock(&g->gc->mu);
		free(m);
		return rc;
	}
	mq_log(MQ_INFO, "group %s of topic %s: %s (pid %d) joined, generation %d", g->name,
	       g->topic, m->id, (int)pid, (int)g->generation);
	pthread_mutex_unlock(&g->mu);
	pthread_mutex_unlock(&g->gc->mu);
	*out = m;
	return 0;
}

void group_member_remove(struct group_member *m)
{
	struct group *g = m->g;

	for (struct group_member **pp = &g->members; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	g->nmembers--;
	if (g->nmembers == 0) {
		g->idle_since = engine_now_ms();
		group_idle_mark(g);
	}
	if (group_remote_active(m) && g->nremote > 0)
		g->nremote--;
	m->active = false;
	group_member_unarm(m);
	for (int p = 0; p < g->nparts; p++)
		if (g->parts[p].owner == m)
			group_part_assign(g, p, NULL);
	if (!g->deleted && g->t && !topic_deleted(g->t))
		group_rebalance(g);
	mq_log(MQ_INFO, "group %s of topic %s: %s left, generation %d", g->name, g->topic, m->id,
	       (int)g->generation);
}

void group_leave(struct group_member *m)
{
	struct group *g;

	if (!m)
		return;
	g = m->g;
	/* Its coordinator first learns it left (and stops its heartbeats). */
	if (m->rm)
		group_remote_stop(m);
	pthread_mutex_lock(&g->mu);
	group_member_remove(m);
	pthread_mutex_unlock(&g->mu);
	/* A wake call in flight on m ends before m is freed. */
	group_wait_calls(g->gc);
	group_remote_free(m);
	free(m->pieces);
	free(m);
	group_put(g);
}

const char *group_member_id(struct group_member *m)
{
	return m->id;
}
