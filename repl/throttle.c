/*
 * throttle.c — replication throttles (throttle.h): the list of a topic
 * key, the windowed rate, and the quotas with their throttled
 * partitions.
 *
 * The rate is Kafka's SimpleRate over a SampledStat, step by step:
 *   record(v, now): the current sample, if it began window_ms or more
 *     ago, is replaced by the next slot (reset to start at now); v is
 *     added to the current sample, whose last event is now;
 *   measure(now): every sample whose last event is samples * window_ms
 *     or more ago is reset to start at now (empty); the rate is the sum
 *     of the samples over max(now - the oldest start, window_ms), per
 *     second.
 * There are samples + 1 slots: the sample that began before the measured
 * span but still has events in it is kept beside the full ones.
 *
 * A quota's throttled topics are an array searched by name: only topics
 * with a throttle list naming this broker (or "*") are in it, a handful
 * while a reassignment runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/throttle.h"
#include "util/diaglog.h"

#define LIST_MSG                                                                  \
	"must be the literal '*' or a list of replicas in the following format: " \
	"[partitionId]:[brokerId],[partitionId]:[brokerId],..."

struct throttle_topic {
	char *name;
	bool all; /* "*" */
	int n;    /* partitions of this broker in the list */
	int32_t *parts;
};

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* The next element of a list at *p (up to end): its trimmed bounds. */
static bool list_next(const char **p, const char *end, const char **s, size_t *n)
{
	const char *e;

	if (!*p)
		return false;
	e = memchr(*p, ',', (size_t)(end - *p));
	*s = *p;
	*n = (size_t)((e ? e : end) - *p);
	*p = e ? e + 1 : NULL;
	while (*n > 0 && blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && blank((*s)[*n - 1]))
		(*n)--;
	return true;
}

/* Decimal digits (at least one) into an int32. */
static bool int32_of(const char *s, size_t n, int32_t *out)
{
	int64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
		if (v > INT32_MAX)
			return false;
	}
	*out = (int32_t)v;
	return true;
}

/* An element partition:broker; false for anything else. */
static bool pair_of(const char *s, size_t n, int32_t *partition, int32_t *broker)
{
	const char *colon = memchr(s, ':', n);

	return colon && int32_of(s, (size_t)(colon - s), partition) &&
	       int32_of(colon + 1, n - (size_t)(colon - s) - 1, broker);
}

int throttle_list_check(const char *s, size_t n, char *why, size_t whylen)
{
	const char *p = s, *end = s + n, *e;
	size_t en, stars = 0, others = 0;
	bool ok = true;
	int32_t a, b;

	while (list_next(&p, end, &e, &en)) {
		if (en == 1 && e[0] == '*')
			stars++;
		else if (en > 0)
			others++;
		if (en > 0 && !pair_of(e, en, &a, &b))
			ok = false;
	}
	/* Kafka: every element matches ([0-9]+:[0-9]+)?, or the elements
	 * joined are exactly "*". */
	if (ok || (stars == 1 && others == 0))
		return 0;
	snprintf(why, whylen, LIST_MSG);
	return -EINVAL;
}

int throttle_list_canon(const char *s, size_t n, char *out, size_t size)
{
	const char *p = s, *end = s + n, *e;
	size_t en, at = 0;
	bool first = true;

	if (size == 0)
		return -ENAMETOOLONG;
	while (list_next(&p, end, &e, &en)) {
		if (at + en + (first ? 0 : 1) >= size)
			return -ENAMETOOLONG;
		if (!first)
			out[at++] = ',';
		memcpy(out + at, e, en);
		at += en;
		first = false;
	}
	/* An empty or blank value is the empty list, not one empty element. */
	out[at] = '\0';
	return 0;
}

bool throttle_list_has(const char *list, int32_t partition, int32_t broker_id)
{
	const char *p = list, *end = list + strlen(list), *e;
	size_t en;
	int32_t a, b;

	while (list_next(&p, end, &e, &en)) {
		if (en == 1 && e[0] == '*')
			return true;
		if (pair_of(e, en, &a, &b) && a == partition && b == broker_id)
			return true;
	}
	return false;
}

int throttle_rate_parse(const char *s, int64_t *out, char *why, size_t whylen)
{
	size_t n = strlen(s);
	uint64_t v = 0;

	for (size_t i = 0; i < n && n <= 19; i++) {
		if (s[i] < '0' || s[i] > '9')
			break;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (i == n - 1 && v <= (uint64_t)INT64_MAX) {
			*out = (int64_t)v;
			return 0;
		}
	}
	snprintf(why, whylen, "expected bytes per second, 0 to %lld", (long long)INT64_MAX);
	return -EINVAL;
}

/* ---- the rate ---- */

static void sample_reset(struct throttle_sample *s, int64_t now_ms)
{
	s->value = 0;
	s->start_ms = now_ms;
	s->last_event_ms = now_ms;
}

void throttle_rate_init(struct throttle_rate *r, int samples, int64_t window_ms)
{
	memset(r, 0, sizeof(*r));
	r->samples = samples < 1                      ? 1
		     : samples > THROTTLE_MAX_SAMPLES ? THROTTLE_MAX_SAMPLES
						      : samples;
	r->window_ms = window_ms < 1 ? 1 : window_ms;
	r->min_windows = 1;
}

static struct throttle_sample *rate_current(struct throttle_rate *r, int64_t now_ms)
{
	if (r->n == 0) {
		sample_reset(&r->s[0], now_ms);
		r->n = 1;
		r->current = 0;
	}
	return &r->s[r->current];
}

void throttle_rate_record(struct throttle_rate *r, double value, int64_t now_ms)
{
	struct throttle_sample *s = rate_current(r, now_ms);

	if (now_ms - s->start_ms >= r->window_ms) {
		r->current = (r->current + 1) % (r->samples + 1);
		if (r->current >= r->n)
			r->n = r->current + 1;
		s = &r->s[r->current];
		sample_reset(s, now_ms);
	}
	s->value += value;
	s->last_event_ms = now_ms;
}

double throttle_rate_measure(struct throttle_rate *r, int64_t now_ms)
{
	int64_t expire = (int64_t)r->samples * r->window_ms;
	double total = 0;

	rate_current(r, now_ms);
	for (int i = 0; i < r->n; i++) {
		struct throttle_sample *s = &r->s[i];

		if (now_ms - s->last_event_ms >= expire)
			sample_reset(s, now_ms);
		total += s->value;
	}
	/* After the resets: a reset sample starts now. */
	return total * 1000.0 / (double)throttle_rate_span_ms(r, now_ms);
}

int64_t throttle_rate_span_ms(const struct throttle_rate *r, int64_t now_ms)
{
	int64_t oldest = r->n ? r->s[0].start_ms : now_ms, elapsed, full;

	for (int i = 1; i < r->n; i++)
		if (r->s[i].start_ms < oldest)
			oldest = r->s[i].start_ms;
	elapsed = now_ms - oldest;
	if (r->min_windows <= 1)
		return elapsed < r->window_ms ? r->window_ms : elapsed;
	full = elapsed / r->window_ms;
	if (full < r->min_windows)
		elapsed += (r->min_windows - full) * r->window_ms;
	return elapsed > 0 ? elapsed : r->window_ms;
}

/* ---- a quota ---- */

static int quota_init(struct throttle_quota *q, const char *what, int samples, int window_s)
{
	memset(q, 0, sizeof(*q));
	q->what = what;
	q->bound = THROTTLE_UNBOUNDED;
	throttle_rate_init(&q->rate, samples, (int64_t)window_s * 1000);
	if (pthread_mutex_init(&q->mu, NULL))
		return -ENOMEM;
	if (pthread_rwlock_init(&q->topics_lock, NULL)) {
		pthread_mutex_destroy(&q->mu);
		return -ENOMEM;
	}
	return 0;
}

static void topic_entry_free(struct throttle_topic *e)
{
	free(e->name);
	free(e->parts);
}

static void quota_destroy(struct throttle_quota *q)
{
	for (int i = 0; i < q->n_topics; i++)
		topic_entry_free(&q->topics[i]);
	free(q->topics);
	pthread_rwlock_destroy(&q->topics_lock);
	pthread_mutex_destroy(&q->mu);
}

/* The entry of topic (tlen bytes), or NULL; under topics_lock. */
static struct throttle_topic *topic_find(struct throttle_quota *q, const char *topic, size_t tlen)
{
	for (int i = 0; i < q->n_topics; i++)
		if (strlen(q->topics[i].name) == tlen && !memcmp(q->topics[i].name, topic, tlen))
			return &q->topics[i];
	return NULL;
}

bool throttle_quota_is_throttled(struct throttle_quota *q, const char *topic, size_t tlen,
				 int32_t partition)
{
	const struct throttle_topic *e;
	bool r = false;

	if (!atomic_load_explicit(&q->any_topics, memory_order_relaxed))
		return false;
	pthread_rwlock_rdlock(&q->topics_lock);
	e = topic_find(q, topic, tlen);
	if (e)
		r = e->all;
	for (int i = 0; e && !r && i < e->n; i++)
		r = e->parts[i] == partition;
	pthread_rwlock_unlock(&q->topics_lock);
	return r;
}

bool throttle_quota_exceeded(struct throttle_quota *q, int64_t now_ms)
{
	bool r;

	pthread_mutex_lock(&q->mu);
	r = q->bound != THROTTLE_UNBOUNDED &&
	    throttle_rate_measure(&q->rate, now_ms) > (double)q->bound;
	pthread_mutex_unlock(&q->mu);
	return r;
}

void throttle_quota_record(struct throttle_quota *q, int64_t bytes, int64_t now_ms)
{
	pthread_mutex_lock(&q->mu);
	throttle_rate_record(&q->rate, (double)bytes, now_ms);
	pthread_mutex_unlock(&q->mu);
}

double throttle_quota_rate(struct throttle_quota *q, int64_t now_ms)
{
	double r;

	pthread_mutex_lock(&q->mu);
	r = throttle_rate_measure(&q->rate, now_ms);
	pthread_mutex_unlock(&q->mu);
	return r;
}

int64_t throttle_quota_bound(struct throttle_quota *q)
{
	int64_t b;

	pthread_mutex_lock(&q->mu);
	b = q->bound;
	pthread_mutex_unlock(&q->mu);
	return b;
}

bool throttle_quota_holds(struct throttle_quota *q, const char *topic, size_t tlen,
			  int32_t partition, bool in_sync, int64_t now_ms)
{
	return !in_sync && throttle_quota_is_throttled(q, topic, tlen, partition) &&
	       throttle_quota_exceeded(q, now_ms);
}

/* Replaces (or removes, list NULL or "") topic's entry in q with the
 * partitions list names for broker_id. */
static int quota_mark(struct throttle_quota *q, const char *topic, const char *list,
		      int32_t broker_id)
{
	struct throttle_topic ne = { 0 }, *e;
	const char *p, *end, *el;
	size_t en;
	int rc = 0;

	if (list && list[0]) {
		end = list + strlen(list);
		ne.parts = calloc(strlen(list) / 2 + 1, sizeof(*ne.parts));
		ne.name = strdup(topic);
		if (!ne.parts || !ne.name) {
			topic_entry_free(&ne);
			return -ENOMEM;
		}
		for (p = list; list_next(&p, end, &el, &en);) {
			int32_t a, b;

			if (en == 1 && el[0] == '*')
				ne.all = true;
			else if (pair_of(el, en, &a, &b) && b == broker_id)
				ne.parts[ne.n++] = a;
		}
	}
	pthread_rwlock_wrlock(&q->topics_lock);
	e = topic_find(q, topic, strlen(topic));
	if (e) {
		topic_entry_free(e);
		*e = q->topics[--q->n_topics];
	}
	if (ne.all || ne.n > 0) {
		struct throttle_topic *nt =
			realloc(q->topics, (size_t)(q->n_topics + 1) * sizeof(*nt));

		if (nt) {
			q->topics = nt;
			q->topics[q->n_topics++] = ne;
			ne = (struct throttle_topic){ 0 };
		} else {
			rc = -ENOMEM;
		}
	}
	atomic_store_explicit(&q->any_topics, q->n_topics, memory_order_relaxed);
	pthread_rwlock_unlock(&q->topics_lock);
	topic_entry_free(&ne);
	return rc;
}

/* ---- the broker's pair ---- */

int repl_throttle_new(int32_t broker_id, int samples, int window_s, struct repl_throttle **out)
{
	struct repl_throttle *t;

	*out = NULL;
	if (samples < 1 || samples > THROTTLE_MAX_SAMPLES || window_s < 1)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->broker_id = broker_id;
	if (quota_init(&t->leader, "leader", samples, window_s) < 0) {
		free(t);
		return -ENOMEM;
	}
	if (quota_init(&t->follower, "follower", samples, window_s) < 0) {
		quota_destroy(&t->leader);
		free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void repl_throttle_free(struct repl_throttle *t)
{
	if (!t)
		return;
	quota_destroy(&t->leader);
	quota_destroy(&t->follower);
	free(t);
}

int repl_throttle_topic(struct repl_throttle *t, const char *topic, const char *leader_list,
			const char *follower_list)
{
	int rc;

	if (!t)
		return 0;
	rc = quota_mark(&t->leader, topic, leader_list, t->broker_id);
	if (rc == 0)
		rc = quota_mark(&t->follower, topic, follower_list, t->broker_id);
	return rc;
}

static void quota_set_bound(struct throttle_quota *q, int64_t bound)
{
	int64_t old;

	pthread_mutex_lock(&q->mu);
	old = q->bound;
	q->bound = bound;
	pthread_mutex_unlock(&q->mu);
	if (old == bound)
		return;
	if (bound == THROTTLE_UNBOUNDED)
		mq_log(MQ_INFO, "replication throttle: %s rate unbounded", q->what);
	else
		mq_log(MQ_INFO, "replication throttle: %s rate %lld bytes/s", q->what,
		       (long long)bound);
}

void repl_throttle_set_rates(struct repl_throttle *t, int64_t leader, int64_t follower)
{
	if (!t)
		return;
	quota_set_bound(&t->leader, leader);
	quota_set_bound(&t->follower, follower);
}
