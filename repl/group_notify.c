/*
 * group_notify.c — parked consume reads and their wake-ups.
 *
 * A consume read that found nothing parks: the member arms its wake
 * callback (group_member_arm) and the fs layer answers the read later.
 * A member is woken once per arming, when one of its partitions' high
 * watermark moved or when a rebalance may have given it partitions with
 * data waiting (group_notify_queue with partition -1).
 *
 * The hw listener (coord_hw_moved, installed with broker_set_hw_listener)
 * runs inside a produce: under topic.lock and broker.hw_mu (group_int.h).
 * It cannot take group locks, so it only queues (topic, partition) under
 * wake_mu, and not at all while no member is armed (coord.armed, an
 * atomic count: the produce path's fast exit). The queue holds
 * GROUP_EVENTS events; on overflow it wakes every armed member instead.
 *
 * The notifier thread takes the queue, drops duplicates and, holding
 * call_mu, disarms the matching members under coord.mu and group.mu and
 * calls their callbacks with no other lock held. A member is never freed
 * during its call: group_leave and group_member_disarm wait for call_mu
 * (group_wait_calls) before they return.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_int.h"

void group_notify_queue(struct group_coord *gc, const char *topic, int partition)
{
	pthread_mutex_lock(&gc->wake_mu);
	if (gc->nev < GROUP_EVENTS) {
		struct group_event *e = &gc->ev[gc->nev++];

		snprintf(e->topic, sizeof(e->topic), "%s", topic);
		e->partition = partition;
	} else {
		gc->all = true;
	}
	/* An appender inside its defer window runs the queue itself at its
	 * flush (group_notify_flush): no thread hop to the notifier. */
	if (atomic_load(&gc->deferred) == 0)
		pthread_cond_signal(&gc->wake_cv);
	pthread_mutex_unlock(&gc->wake_mu);
}

/* The broker's hw listener: runs under topic.lock and broker.hw_mu, so it
 * only queues (and not at all while no member waits). */
static void coord_hw_moved(void *arg, const char *topic, int partition)
{
	struct group_coord *gc = arg;

	if (atomic_load_explicit(&gc->armed, memory_order_acquire) == 0)
		return;
	if (!strncmp(topic, "__", 2))
		return;
	group_notify_queue(gc, topic, partition);
}

static bool member_owns(struct group_member *m, int partition)
{
	struct group *g = m->g;

	if (partition < 0)
		return true;
	/* A partition the group has not seen: the topic grew. Nobody owns
	 * it until a call notices the growth (group_lock_live) and
	 * rebalances, so every member is woken: its read does. */
	if (partition >= g->nparts)
		return true;
	return g->parts[partition].owner == m;
}

/* Calls the armed members of the groups matching ev (all when ev NULL).
 * Needs call_mu. */
static void notify(struct group_coord *gc, const struct group_event *ev)
{
	struct group_member *fire[64];
	int nfire;
	bool more = true;

	while (more) {
		more = false;
		nfire = 0;
		pthread_mutex_lock(&gc->mu);
		for (int i = 0; i < gc->ngroups; i++) {
			struct group *g = gc->groups[i];

			if (ev && strcmp(g->topic, ev->topic))
				continue;
			pthread_mutex_lock(&g->mu);
			for (struct group_member *m = g->members; m; m = m->next) {
				if (!m->armed || !member_owns(m, ev ? ev->partition : -1))
					continue;
				if (nfire == 64) {
					more = true;
					break;
				}
				group_member_unarm(m);
				fire[nfire++] = m;
			}
			pthread_mutex_unlock(&g->mu);
		}
		pthread_mutex_unlock(&gc->mu);
		/* Members cannot be freed meanwhile: group_leave waits for
		 * call_mu, which we hold. */
		for (int i = 0; i < nfire; i++)
			fire[i]->wake(fire[i]->wake_arg);
	}
}

/* Takes the queue into ev (wake_mu held); returns its events, and in
 * *all whether it overflowed. */
static int take_events(struct group_coord *gc, struct group_event *ev, bool *all)
{
	int n = gc->nev;

	*all = gc->all;
	memcpy(ev, gc->ev, (size_t)n * sizeof(*ev));
	gc->nev = 0;
	gc->all = false;
	return n;
}

/* Wakes the members of ev[0..n) (all: every armed member), each (topic,
 * partition) once. Needs call_mu. */
static void run_events(struct group_coord *gc, const struct group_event *ev, int n, bool all)
{
	if (all) {
		notify(gc, NULL);
		return;
	}
	for (int i = 0; i < n; i++) {
		bool dup = false;

		for (int j = 0; j < i && !dup; j++)
			dup = ev[j].partition == ev[i].partition &&
			      !strcmp(ev[j].topic, ev[i].topic);
		if (!dup)
			notify(gc, &ev[i]);
	}
}

static void *notifier_main(void *arg)
{
	struct group_coord *gc = arg;
	struct group_event *ev = malloc(sizeof(gc->ev));

	if (!ev)
		return NULL;
	pthread_mutex_lock(&gc->wake_mu);
	while (!gc->stop) {
		bool all;

		if (gc->nev == 0 && !gc->all) {
			pthread_cond_wait(&gc->wake_cv, &gc->wake_mu);
			continue;
		}
		int n = take_events(gc, ev, &all);
		gc->busy = true;
		pthread_mutex_unlock(&gc->wake_mu);
		pthread_mutex_lock(&gc->call_mu);
		run_events(gc, ev, n, all);
		pthread_mutex_unlock(&gc->call_mu);
		pthread_mutex_lock(&gc->wake_mu);
		gc->busy = false;
		pthread_cond_broadcast(&gc->idle_cv);
	}
	pthread_mutex_unlock(&gc->wake_mu);
	free(ev);
	return NULL;
}

void group_notify_settle(struct group_coord *gc)
{
	pthread_mutex_lock(&gc->wake_mu);
	while (gc->running && !gc->stop && (gc->busy || gc->nev > 0 || gc->all))
		pthread_cond_wait(&gc->idle_cv, &gc->wake_mu);
	pthread_mutex_unlock(&gc->wake_mu);
}

/*
 * The appender's own wake-ups. A record's way to a parked consume read
 * used to be: the appender queues the hw move, the notifier thread wakes,
 * reads and replies; a thread hop, which on a loaded machine is a
 * scheduling delay. Between group_notify_defer and group_notify_flush the
 * queue is not signalled; the flush, by the appender once it holds no
 * lock, takes the queue and wakes the members on its own thread.
 *
 * No event is stranded: the queue decides under wake_mu whether to
 * signal, from gc->deferred; a flush drops its count before it takes
 * wake_mu to look at the queue. So an event queued while some appender
 * was deferring is seen by that appender's flush (or an earlier one's),
 * and one queued after the last flush dropped the count is signalled.
 * A flush that cannot have call_mu at once (the notifier or another
 * flush is calling members, or this thread is inside a wake call of its
 * own) leaves the queue to the notifier thread and signals it.
 */
void group_notify_defer(struct group_coord *gc)
{
	if (gc)
		atomic_fetch_add(&gc->deferred, 1);
}

void group_notify_flush(struct group_coord *gc)
{
	struct group_event ev[8];
	bool all;

	if (!gc)
		return;
	atomic_fetch_sub(&gc->deferred, 1);
	pthread_mutex_lock(&gc->wake_mu);
	if (gc->nev == 0 && !gc->all) {
		pthread_mutex_unlock(&gc->wake_mu);
		return;
	}
	/* More events than a few (several partitions moved at once) are the
	 * notifier's: its buffer holds the whole queue. */
	if (gc->nev > (int)(sizeof(ev) / sizeof(ev[0])) || pthread_mutex_trylock(&gc->call_mu)) {
		pthread_cond_signal(&gc->wake_cv);
		pthread_mutex_unlock(&gc->wake_mu);
		return;
	}
	int n = take_events(gc, ev, &all);
	pthread_mutex_unlock(&gc->wake_mu);
	run_events(gc, ev, n, all);
	pthread_mutex_unlock(&gc->call_mu);
}

/* True when a partition of m has committed records past its position (or
 * a position to look up, whose read then reports how that went; for a
 * commit past a follower's end, once the copy reached it: until then the
 * leader's answer wakes the member, group_past_end.c). */
static bool member_readable(struct group_member *m)
{
	struct group *g = m->g;
	struct log_state st;

	for (int p = 0; p < g->nparts; p++) {
		const struct gpart *gp = &g->parts[p];

		if (gp->owner != m)
			continue;
		if (gp->pos < 0 && gp->ask_leader >= 0) {
			if (topic_log_state(g->t, p, &st) == 0 &&
			    st.log_end_offset >= gp->ask_leader)
				return true;
			continue;
		}
		/* The hw of the log the group reads: a partition file's
		 * size may come from a read copy while the replica here lags
		 * out of the ISR. */
		if (gp->pos < 0 || topic_group_line_hw(g->t, p) > gp->pos)
			return true;
	}
	return false;
}

int group_member_arm(struct group_member *m)
{
	struct group *g = m->g;
	int rc;

	pthread_mutex_lock(&g->mu);
	if (!m->active || g->deleted) {
		rc = -ENOENT;
	} else if (g->moved) {
		rc = -EREMOTE;
	} else {
		if (!m->armed) {
			m->armed = true;
			atomic_fetch_add_explicit(&g->gc->armed, 1, memory_order_release);
		}
		/* Armed before looking: a hw move from now on wakes us. */
		rc = member_readable(m) ? 1 : 0;
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

void group_member_disarm(struct group_member *m)
{
	struct group *g = m->g;

	pthread_mutex_lock(&g->mu);
	group_member_unarm(m);
	pthread_mutex_unlock(&g->mu);
	group_wait_calls(g->gc);
}

void group_member_unarm(struct group_member *m)
{
	if (m->armed) {
		m->armed = false;
		atomic_fetch_sub(&m->g->gc->armed, 1);
	}
}

void group_wait_calls(struct group_coord *gc)
{
	pthread_mutex_lock(&gc->call_mu);
	pthread_mutex_unlock(&gc->call_mu);
}

int group_notifier_start(struct group_coord *gc)
{
	int rc = -pthread_create(&gc->thr, NULL, notifier_main, gc);

	gc->running = rc == 0;
	if (rc == 0)
		broker_set_hw_listener(gc->b, coord_hw_moved, gc);
	return rc;
}

void group_notifier_stop(struct group_coord *gc)
{
	broker_set_hw_listener(gc->b, NULL, NULL);
	if (!gc->running)
		return;
	pthread_mutex_lock(&gc->wake_mu);
	gc->stop = true;
	pthread_cond_broadcast(&gc->idle_cv);
	pthread_cond_signal(&gc->wake_cv);
	pthread_mutex_unlock(&gc->wake_mu);
	pthread_join(gc->thr, NULL);
	gc->running = false;
}
