/*
 * ctrl_queue.c — the per-broker queues and sender threads of ctrl_queue.h.
 *
 * A queued request is one allocation: the item, then its array of states
 * (or of replicas to stop), then every int32_t array they point to (ISR,
 * replicas, offline replicas, live brokers), then every string (topic names, topic ids), so
 * that rule 4 (copy everything) costs one malloc and one free.
 *
 * Locks: q->mu guards the sender list, every queue and the stop flag; a
 * sender's cond is signalled under it. No lock is held across an inner
 * call.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "repl/ctrl_queue.h"
#include "util/clock.h"
#include "util/diaglog.h"

enum item_kind { ITEM_LISR, ITEM_UM, ITEM_STOP };

struct item {
	struct item *next;
	enum item_kind kind;
	int64_t broker_epoch;
	int32_t controller_epoch;
	int n;
	struct controller_partition_state *states; /* LISR, UM */
	struct controller_stop_replica *stops;     /* STOP */
	int32_t *live;                             /* UM */
	int n_live;
};

struct sender {
	struct ctrl_queue *q;
	int32_t id;
	int64_t epoch; /* the newest registration queued for */
	struct item *head, *tail;
	int n;
	/* Items ever queued, and those sent or dropped since: the item
	 * queued as number k is done once finished >= k (ctrl_queue_flush). */
	uint64_t queued, finished;
	bool busy; /* an inner call in progress */
	pthread_cond_t cond;
	pthread_t thread;
};

struct ctrl_queue {
	struct controller_channel inner;
	pthread_mutex_t mu;
	pthread_cond_t idle; /* a sender finished an item (CLOCK_MONOTONIC) */
	bool stopping;
	int n_senders;
	struct sender **senders;
};

/* ---- copies ---- */

static void *take(char **at, const void *src, size_t len)
{
	void *d = *at;

	if (len)
		memcpy(d, src, len);
	*at += len;
	return d;
}

static char *take_str(char **at, const char *s)
{
	return take(at, s ? s : "", strlen(s ? s : "") + 1);
}

static struct item *item_new(enum item_kind kind, int64_t broker_epoch, int32_t controller_epoch,
			     const struct controller_partition_state *st,
			     const struct controller_stop_replica *sr, int n, const int32_t *live,
			     int n_live)
{
	size_t structs = kind == ITEM_STOP ? (size_t)n * sizeof(*sr) : (size_t)n * sizeof(*st);
	size_t ints = (size_t)n_live, chars = 0;
	struct item *it;
	char *a, *ip, *cp;

	for (int i = 0; i < n; i++) {
		if (kind == ITEM_STOP) {
			chars += strlen(sr[i].topic) + 1;
			continue;
		}
		ints += (size_t)st[i].n_isr + (size_t)st[i].n_replicas +
			(size_t)st[i].n_offline_replicas;
		chars += strlen(st[i].topic) + 1 + strlen(st[i].topic_id ? st[i].topic_id : "") + 1;
	}
	it = malloc(sizeof(*it) + structs + ints * sizeof(int32_t) + chars);
	if (!it)
		return NULL;
	*it = (struct item){ .kind = kind,
			     .broker_epoch = broker_epoch,
			     .controller_epoch = controller_epoch,
			     .n = n,
			     .n_live = n_live };
	a = (char *)(it + 1);
	ip = a + structs;
	cp = ip + ints * sizeof(int32_t);
	if (kind == ITEM_STOP) {
		it->stops = take(&a, sr, structs);
		for (int i = 0; i < n; i++)
			it->stops[i].topic = take_str(&cp, sr[i].topic);
		return it;
	}
	it->states = take(&a, st, structs);
	for (int i = 0; i < n; i++) {
		struct controller_partition_state *d = &it->states[i];

		d->isr = take(&ip, st[i].isr, (size_t)st[i].n_isr * sizeof(int32_t));
		d->replicas = take(&ip, st[i].replicas, (size_t)st[i].n_replicas * sizeof(int32_t));
		d->offline_replicas = take(&ip, st[i].offline_replicas,
					   (size_t)st[i].n_offline_replicas * sizeof(int32_t));
		d->topic = take_str(&cp, st[i].topic);
		d->topic_id = take_str(&cp, st[i].topic_id);
	}
	it->live = take(&ip, live, (size_t)n_live * sizeof(int32_t));
	return it;
}

/* ---- senders ---- */

static int send_item(const struct controller_channel *ch, int32_t id, const struct item *it)
{
	switch (it->kind) {
	case ITEM_LISR:
		return ch->leader_and_isr
			       ? ch->leader_and_isr(ch->arg, id, it->broker_epoch,
						    it->controller_epoch, it->states, it->n)
			       : 0;
	case ITEM_UM:
		return ch->update_metadata ? ch->update_metadata(ch->arg, id, it->broker_epoch,
								 it->controller_epoch, it->live,
								 it->n_live, it->states, it->n)
					   : 0;
	case ITEM_STOP:
		return ch->stop_replica ? ch->stop_replica(ch->arg, id, it->broker_epoch,
							   it->controller_epoch, it->stops, it->n)
					: 0;
	}
	return 0;
}

/* The request did not get through (rule 5): the broker not reached, the
 * connection lost, no answer in time. An answer (an error in it too, or
 * one that does not decode: -EPROTO) or a broker no longer registered
 * (-ENOENT) ends the request. */
static bool send_failed_on_the_way(int rc)
{
	switch (-rc) {
	case ETIMEDOUT:
	case ECONNRESET:
	case ECONNREFUSED:
	case ECONNABORTED:
	case ENOTCONN:
	case EPIPE:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ESHUTDOWN:
	case EAGAIN: return true;
	default: return false;
	}
}

/* Sends it until it got through or is given up (rule 5): the queue
 * stops, or a request for a newer registration of the broker was queued
 * (rule 2: this one is stale). q->mu not held. */
static void send_until_through(struct sender *s, const struct item *it)
{
	struct ctrl_queue *q = s->q;
	int rc = send_item(&q->inner, s->id, it);

	while (send_failed_on_the_way(rc)) {
		struct timespec dl;
		bool go_on;

		deadline_from_ms(CLOCK_MONOTONIC, CTRL_QUEUE_RETRY_MS, &dl);
		pthread_mutex_lock(&q->mu);
		while (!q->stopping && s->epoch <= it->broker_epoch &&
		       pthread_cond_timedwait(&s->cond, &q->mu, &dl) != ETIMEDOUT)
			;
		go_on = !q->stopping && s->epoch <= it->broker_epoch;
		pthread_mutex_unlock(&q->mu);
		if (!go_on)
			return;
		rc = send_item(&q->inner, s->id, it);
	}
}

/* One broker's thread: its queue in order (rule 1). The inner channel
 * logs a failed send itself. */
static void *sender_main(void *arg)
{
	struct sender *s = arg;
	struct ctrl_queue *q = s->q;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct item *it;

		while (!q->stopping && !s->head)
			pthread_cond_wait(&s->cond, &q->mu);
		if (q->stopping)
			break;
		it = s->head;
		s->head = it->next;
		if (!s->head)
			s->tail = NULL;
		s->n--;
		s->busy = true;
		pthread_mutex_unlock(&q->mu);
		send_until_through(s, it);
		free(it);
		pthread_mutex_lock(&q->mu);
		s->busy = false;
		s->finished++;
		pthread_cond_broadcast(&q->idle);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* The sender of broker id, started on first use; q->mu held. */
static struct sender *sender_get(struct ctrl_queue *q, int32_t id)
{
	struct sender **ns, *s;

	for (int i = 0; i < q->n_senders; i++)
		if (q->senders[i]->id == id)
			return q->senders[i];
	ns = realloc(q->senders, sizeof(*ns) * (size_t)(q->n_senders + 1));
	if (!ns)
		return NULL;
	q->senders = ns;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->q = q;
	s->id = id;
	s->epoch = INT64_MIN;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the retry's wait */
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->thread, NULL, sender_main, s)) {
		pthread_cond_destroy(&s->cond);
		free(s);
		return NULL;
	}
	q->senders[q->n_senders++] = s;
	return s;
}

/* Drops the queued items of s for registrations older than epoch (rule
 * 2); q->mu held. */
static void drop_older(struct sender *s, int64_t epoch)
{
	struct item **pp = &s->head;

	s->tail = NULL;
	while (*pp) {
		struct item *it = *pp;

		if (it->broker_epoch < epoch) {
			*pp = it->next;
			s->n--;
			s->finished++;
			free(it);
			continue;
		}
		s->tail = it;
		pp = &it->next;
	}
}

static int enqueue(struct ctrl_queue *q, int32_t id, struct item *it)
{
	struct sender *s;

	if (!it)
		return -ENOMEM;
	pthread_mutex_lock(&q->mu);
	s = q->stopping ? NULL : sender_get(q, id);
	if (!s) {
		bool stopping = q->stopping;

		pthread_mutex_unlock(&q->mu);
		free(it);
		return stopping ? 0 : -EAGAIN;
	}
	if (it->broker_epoch < s->epoch) {
		pthread_mutex_unlock(&q->mu);
		free(it); /* for a registration already replaced */
		return 0;
	}
	if (it->broker_epoch > s->epoch) {
		drop_older(s, it->broker_epoch);
		s->epoch = it->broker_epoch;
	}
	if (s->n >= CTRL_QUEUE_MAX) {
		struct item *old = s->head;

		s->head = old->next;
		if (!s->head)
			s->tail = NULL;
		s->n--;
		s->finished++;
		free(old);
		mq_log_limited(MQ_WARN,
			       "controller: %d requests wait for broker %d (not answering): "
			       "the oldest dropped; it catches up from later ones",
			       CTRL_QUEUE_MAX, (int)id);
	}
	if (s->tail)
		s->tail->next = it;
	else
		s->head = it;
	s->tail = it;
	s->n++;
	s->queued++;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

static int q_lisr(void *arg, int32_t id, int64_t broker_epoch, int32_t controller_epoch,
		  const struct controller_partition_state *states, int n)
{
	return enqueue(
		arg, id,
		item_new(ITEM_LISR, broker_epoch, controller_epoch, states, NULL, n, NULL, 0));
}

static int q_um(void *arg, int32_t id, int64_t broker_epoch, int32_t controller_epoch,
		const int32_t *live, int n_live, const struct controller_partition_state *states,
		int n)
{
	return enqueue(
		arg, id,
		item_new(ITEM_UM, broker_epoch, controller_epoch, states, NULL, n, live, n_live));
}

static int q_stop(void *arg, int32_t id, int64_t broker_epoch, int32_t controller_epoch,
		  const struct controller_stop_replica *parts, int n)
{
	return enqueue(
		arg, id,
		item_new(ITEM_STOP, broker_epoch, controller_epoch, NULL, parts, n, NULL, 0));
}

/* ---- the queue ---- */

int ctrl_queue_new(const struct controller_channel *inner, struct ctrl_queue **out)
{
	struct ctrl_queue *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (!q)
		return -ENOMEM;

	q->inner = *inner;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->idle, &ca);
	pthread_condattr_destroy(&ca);
	*out = q;
	return 0;
}

static int q_flush(void *arg, int64_t wait_ms)
{
	return ctrl_queue_flush(arg, wait_ms);
}

void ctrl_queue_channel(struct ctrl_queue *q, struct controller_channel *ch)
{
	*ch = (struct controller_channel){ .leader_and_isr = q_lisr,
					   .update_metadata = q_um,
					   .stop_replica = q_stop,
					   .arg = q,
					   .flush = q_flush };
}

int ctrl_queue_pending(struct ctrl_queue *q, int32_t broker_id)
{
	int n = 0;

	pthread_mutex_lock(&q->mu);
	for (int i = 0; i < q->n_senders; i++)
		if (q->senders[i]->id == broker_id)
			n = q->senders[i]->n;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Every queue empty and no send in progress; q->mu held. */
static bool all_idle(const struct ctrl_queue *q)
{
	for (int i = 0; i < q->n_senders; i++)
		if (q->senders[i]->head || q->senders[i]->busy)
			return false;
	return true;
}

int ctrl_queue_flush(struct ctrl_queue *q, int64_t wait_ms)
{
	struct timespec dl;
	uint64_t *upto;
	int n, rc = 0;

	if (!q)
		return 0;
	deadline_from_ms(CLOCK_MONOTONIC, wait_ms, &dl);
	pthread_mutex_lock(&q->mu);
	/* Senders started after this call serve only later requests. */
	n = q->n_senders;
	upto = calloc((size_t)n + 1, sizeof(*upto));
	if (!upto) {
		pthread_mutex_unlock(&q->mu);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		upto[i] = q->senders[i]->queued;
	for (int i = 0; i < n && rc == 0; i++)
		while (q->senders[i]->finished < upto[i] && !q->stopping)
			if (pthread_cond_timedwait(&q->idle, &q->mu, &dl) == ETIMEDOUT) {
				rc = q->senders[i]->finished < upto[i] ? -ETIMEDOUT : 0;
				break;
			}
	pthread_mutex_unlock(&q->mu);
	free(upto);
	return rc;
}

void ctrl_queue_free(struct ctrl_queue *q, int64_t drain_ms)
{
	struct timespec dl;

	if (!q)
		return;
	deadline_from_ms(CLOCK_MONOTONIC, drain_ms, &dl);
	pthread_mutex_lock(&q->mu);
	while (!all_idle(q))
		if (pthread_cond_timedwait(&q->idle, &q->mu, &dl) == ETIMEDOUT)
			break;
	q->stopping = true;
	for (int i = 0; i < q->n_senders; i++)
		pthread_cond_signal(&q->senders[i]->cond);
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->n_senders; i++) {
		struct sender *s = q->senders[i];

		pthread_join(s->thread, NULL);
		drop_older(s, INT64_MAX);
		pthread_cond_destroy(&s->cond);
		free(s);
	}
	free(q->senders);
	pthread_cond_destroy(&q->idle);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
