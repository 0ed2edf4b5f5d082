/*
 * fetch_session.c — the incremental fetch session cache of
 * fetch_session.h (Kafka's FetchSessionCache, FetchSession and
 * CachedPartition).
 *
 * Sessions hang off a table of id buckets; each session keeps its
 * partitions on a list in the session's order (the order an incremental
 * fetch reads and answers them) and in a table by (topic, partition),
 * grown to stay at most half full. Eviction (fetch_session.h) looks at
 * every session: it runs only when a full fetch finds the cache full,
 * and there are at most `slots` of them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "repl/fetch_session.h"

#define ID_BUCKETS 256

struct fsess_part {
	struct fsess_part *prev, *next; /* the session's order */
	struct fsess_part *hnext;       /* the session's table */
	uint32_t hash;
	struct proto_fetch_part req; /* what the fetcher last asked */
	int64_t hw;                  /* what it was last told, -1 */
	int64_t log_start;
	int32_t topic_len;
	char topic[];
};

struct fsess {
	struct fsess *hnext; /* the id bucket */
	int32_t id;
	int32_t epoch; /* expected next */
	bool privileged;
	/* Evictable as of the last touch (Kafka's evictableByPrivileged and
	 * evictableByAll sets). */
	bool evictable_priv, evictable_all;
	int64_t created_ms, last_used_ms;
	int32_t n;
	struct fsess_part *head, *tail;
	struct fsess_part **table;
	uint32_t table_size; /* a power of two */
};

struct fetch_sessions {
	pthread_mutex_t lock;
	int32_t slots;
	int64_t eviction_ms;
	int32_t count;
	struct fsess *buckets[ID_BUCKETS];
};

int32_t fetch_session_next_epoch(int32_t epoch)
{
	if (epoch < 0)
		return -1;
	return epoch == INT32_MAX ? 1 : epoch + 1;
}

static uint32_t part_hash(const char *topic, int32_t len, int32_t partition)
{
	uint32_t h = 2166136261u;

	for (int32_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)topic[i]) * 16777619u;
	return (h ^ (uint32_t)partition) * 16777619u;
}

static struct fsess_part *part_find(const struct fsess *s, struct kstr topic, int32_t partition)
{
	int32_t len = topic.len > 0 ? topic.len : 0;
	uint32_t h = part_hash(topic.ptr, len, partition);

	for (struct fsess_part *cp = s->table[h & (s->table_size - 1)]; cp; cp = cp->hnext)
		if (cp->hash == h && cp->req.partition == partition && cp->topic_len == len &&
		    (len == 0 || !memcmp(cp->topic, topic.ptr, (size_t)len)))
			return cp;
	return NULL;
}

/* Doubles s's table while it is over half full; -ENOMEM (s unchanged). */
static int table_fit(struct fsess *s, int32_t n)
{
	uint32_t size = s->table_size ? s->table_size : 16;
	struct fsess_part **t;

	while ((uint64_t)n * 2 > size)
		size *= 2;
	if (size == s->table_size)
		return 0;
	t = calloc(size, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (struct fsess_part *cp = s->head; cp; cp = cp->next) {
		cp->hnext = t[cp->hash & (size - 1)];
		t[cp->hash & (size - 1)] = cp;
	}
	free(s->table);
	s->table = t;
	s->table_size = size;
	return 0;
}

static void list_append(struct fsess *s, struct fsess_part *cp)
{
	cp->next = NULL;
	cp->prev = s->tail;
	if (s->tail)
		s->tail->next = cp;
	else
		s->head = cp;
	s->tail = cp;
}

static void list_unlink(struct fsess *s, struct fsess_part *cp)
{
	if (cp->prev)
		cp->prev->next = cp->next;
	else
		s->head = cp->next;
	if (cp->next)
		cp->next->prev = cp->prev;
	else
		s->tail = cp->prev;
}

/* Adds a partition at the end of s (its table fits one more). */
static int part_add(struct fsess *s, struct kstr topic, const struct proto_fetch_part *req,
		    int64_t hw, int64_t log_start)
{
	int32_t len = topic.len > 0 ? topic.len : 0;
	struct fsess_part *cp;

	if (table_fit(s, s->n + 1))
		return -ENOMEM;
	cp = calloc(1, sizeof(*cp) + (size_t)len + 1);
	if (!cp)
		return -ENOMEM;
	if (len > 0)
		memcpy(cp->topic, topic.ptr, (size_t)len);
	cp->topic_len = len;
	cp->req = *req;
	cp->hw = hw;
	cp->log_start = log_start;
	cp->hash = part_hash(cp->topic, len, req->partition);
	cp->hnext = s->table[cp->hash & (s->table_size - 1)];
	s->table[cp->hash & (s->table_size - 1)] = cp;
	list_append(s, cp);
	s->n++;
	return 0;
}

static void part_remove(struct fsess *s, struct fsess_part *cp)
{
	struct fsess_part **pp = &s->table[cp->hash & (s->table_size - 1)];

	while (*pp != cp)
		pp = &(*pp)->hnext;
	*pp = cp->hnext;
	list_unlink(s, cp);
	s->n--;
	free(cp);
}

static void session_free(struct fsess *s)
{
	struct fsess_part *next;

	for (struct fsess_part *cp = s ? s->head : NULL; cp; cp = next) {
		next = cp->next;
		free(cp);
	}
	if (s)
		free(s->table);
	free(s);
}

static struct fsess **session_slot(struct fetch_sessions *c, int32_t id)
{
	struct fsess **pp = &c->buckets[(uint32_t)id % ID_BUCKETS];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->hnext;
	return pp;
}

static void session_unlink(struct fetch_sessions *c, struct fsess *s)
{
	struct fsess **pp = session_slot(c, s->id);

	*pp = s->hnext;
	c->count--;
	session_free(s);
}

/* Kafka's FetchSessionCache.touch: last used now, and evictable from
 * now on once it lived eviction_ms (a consumer's by a follower's
 * always). */
static void session_touch(struct fetch_sessions *c, struct fsess *s, int64_t now)
{
	bool old = now - s->created_ms > c->eviction_ms;

	s->last_used_ms = now;
	s->evictable_priv = !s->privileged || old;
	s->evictable_all = old;
}

/* Kafka's EvictableKey order: (privileged, size, id), false before true. */
static int key_cmp(bool priv_a, int32_t n_a, int32_t id_a, const struct fsess *b)
{
	if (priv_a != b->privileged)
		return priv_a ? 1 : -1;
	if (n_a != b->n)
		return n_a < b->n ? -1 : 1;
	return id_a < b->id ? -1 : id_a > b->id;
}

/* Kafka's tryEvict for a new session (privileged, n partitions): frees
 * a slot and returns true, or false. */
static bool try_evict(struct fetch_sessions *c, bool privileged, int32_t n, int64_t now)
{
	struct fsess *lru = NULL, *least = NULL;

	for (int b = 0; b < ID_BUCKETS; b++)
		for (struct fsess *s = c->buckets[b]; s; s = s->hnext) {
			if (!lru || s->last_used_ms < lru->last_used_ms ||
			    (s->last_used_ms == lru->last_used_ms && s->id < lru->id))
				lru = s;
			if (!(privileged ? s->evictable_priv : s->evictable_all))
				continue;
			if (!least || key_cmp(s->privileged, s->n, s->id, least) < 0)
				least = s;
		}
	if (!lru)
		return false;
	if (now - lru->last_used_ms > c->eviction_ms) {
		session_unlink(c, lru);
		return true;
	}
	if (!least || key_cmp(privileged, n, 0, least) < 0)
		return false;
	session_unlink(c, least);
	return true;
}

/* A random positive id not in use (Kafka's newSessionId). */
static int32_t new_id(struct fetch_sessions *c)
{
	for (;;) {
		uint32_t r = 0;

		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)rand();
		r &= INT32_MAX;
		if (r != 0 && !*session_slot(c, (int32_t)r))
			return (int32_t)r;
	}
}

int fetch_sessions_new(int32_t slots, int64_t eviction_ms, struct fetch_sessions **out)
{
	struct fetch_sessions *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->slots = slots > 0 ? slots : 0;
	c->eviction_ms = eviction_ms;
	*out = c;
	return 0;
}

void fetch_sessions_free(struct fetch_sessions *c)
{
	if (!c)
		return;
	for (int b = 0; b < ID_BUCKETS; b++)
		while (c->buckets[b])
			session_unlink(c, c->buckets[b]);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int32_t fetch_sessions_count(struct fetch_sessions *c)
{
	int32_t n;

	pthread_mutex_lock(&c->lock);
	n = c->count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

int32_t fetch_sessions_partitions(struct fetch_sessions *c)
{
	int32_t n = 0;

	pthread_mutex_lock(&c->lock);
	for (int b = 0; b < ID_BUCKETS; b++)
		for (struct fsess *s = c->buckets[b]; s; s = s->hnext)
			n += s->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

bool fetch_sessions_remove(struct fetch_sessions *c, int32_t id)
{
	struct fsess *s;

	pthread_mutex_lock(&c->lock);
	s = *session_slot(c, id);
	if (s)
		session_unlink(c, s);
	pthread_mutex_unlock(&c->lock);
	return s != NULL;
}

int32_t fetch_sessions_create(struct fetch_sessions *c, bool privileged, int64_t now_ms, int n,
			      const struct fetch_session_entry *e)
{
	struct fsess *s = calloc(1, sizeof(*s));
	int32_t id = 0;

	if (!s || table_fit(s, n)) {
		session_free(s);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		if (part_add(s, e[i].topic, e[i].req, e[i].hw, e[i].log_start)) {
			session_free(s);
			return -ENOMEM;
		}
	s->privileged = privileged;
	s->created_ms = now_ms;
	s->epoch = fetch_session_next_epoch(0);
	pthread_mutex_lock(&c->lock);
	if (c->slots > 0 && (c->count < c->slots || try_evict(c, privileged, n, now_ms))) {
		s->id = id = new_id(c);
		s->hnext = c->buckets[(uint32_t)id % ID_BUCKETS];
		c->buckets[(uint32_t)id % ID_BUCKETS] = s;
		c->count++;
		session_touch(c, s, now_ms);
		s = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	session_free(s);
	return id;
}

void fetch_session_view_free(struct fetch_session_view *v)
{
	free(v->topics);
	free(v->parts);
	free(v->hw);
	free(v->log_start);
	free(v->names);
	memset(v, 0, sizeof(*v));
}

/* s's partitions into v, consecutive ones of a topic as one topic (as
 * Kafka's FetchResponse groups them). -ENOMEM. */
static int view_fill(const struct fsess *s, struct fetch_session_view *v)
{
	struct proto_fetch_part *parts = calloc((size_t)s->n + 1, sizeof(*parts));
	size_t names = 0, pos = 0;
	int k = 0;

	for (struct fsess_part *cp = s->head; cp; cp = cp->next)
		names += (size_t)cp->topic_len + 1;
	v->topics = calloc((size_t)s->n + 1, sizeof(*v->topics));
	v->hw = calloc((size_t)s->n + 1, sizeof(*v->hw));
	v->log_start = calloc((size_t)s->n + 1, sizeof(*v->log_start));
	v->names = malloc(names + 1);
	v->parts = parts;
	if (!parts || !v->topics || !v->hw || !v->log_start || !v->names)
		return -ENOMEM;
	for (struct fsess_part *cp = s->head; cp; cp = cp->next, k++) {
		struct proto_fetch_topic *t = v->n_topics ? &v->topics[v->n_topics - 1] : NULL;

		if (!t || t->topic.len != cp->topic_len ||
		    memcmp(t->topic.ptr, cp->topic, (size_t)cp->topic_len)) {
			t = &v->topics[v->n_topics++];
			memcpy(v->names + pos, cp->topic, (size_t)cp->topic_len + 1);
			t->topic = (struct kstr){ v->names + pos, cp->topic_len };
			t->partitions = &parts[k];
			pos += (size_t)cp->topic_len + 1;
		}
		t->n_partitions++;
		parts[k] = cp->req;
		v->hw[k] = cp->hw;
		v->log_start[k] = cp->log_start;
	}
	v->n = k;
	return 0;
}

int fetch_sessions_update(struct fetch_sessions *c, const struct proto_fetch_req *m, int64_t now_ms,
			  struct fetch_session_view *v)
{
	struct fsess *s;
	int rc = 0;

	memset(v, 0, sizeof(*v));
	pthread_mutex_lock(&c->lock);
	s = *session_slot(c, m->session_id);
	if (!s) {
		rc = PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND;
		goto out;
	}
	if (s->epoch != m->session_epoch) {
		rc = PROTO_ERR_INVALID_FETCH_SESSION_EPOCH;
		goto out;
	}
	/* Room for every partition first: nothing changes on -ENOMEM. */
	int32_t more = 0;

	for (int32_t t = 0; t < m->n_topics; t++)
		more += m->topics[t].n_partitions;
	if (table_fit(s, s->n + more)) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t t = 0; t < m->n_topics; t++)
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++) {
			const struct proto_fetch_part *rq = &m->topics[t].partitions[j];
			struct fsess_part *cp = part_find(s, m->topics[t].topic, rq->partition);

			if (cp)
				cp->req = *rq; /* updateRequestParams */
			else if (part_add(s, m->topics[t].topic, rq, -1, -1)) {
				/* The partitions added so far stay: the
				 * session is closed below, the fetcher
				 * starts again with a full fetch. */
				rc = -ENOMEM;
				session_unlink(c, s);
				goto out;
			}
		}
	for (int32_t t = 0; t < m->n_forgotten; t++)
		for (int32_t j = 0; j < m->forgotten[t].n_partitions; j++) {
			struct fsess_part *cp =
				part_find(s, m->forgotten[t].topic, m->forgotten[t].partitions[j]);

			if (cp)
				part_remove(s, cp);
		}
	if (s->n == 0) {
		session_unlink(c, s);
		goto out;
	}
	session_touch(c, s, now_ms);
	s->epoch = fetch_session_next_epoch(s->epoch);
	rc = view_fill(s, v);
	if (rc) {
		session_unlink(c, s);
		goto out;
	}
	v->id = s->id;
	v->epoch = s->epoch;
out:
	pthread_mutex_unlock(&c->lock);
	if (rc)
		fetch_session_view_free(v);
	return rc;
}

/* Kafka's CachedPartition.maybeUpdateResponseData: whether the answer a
 * includes the partition told hw and log_start before; with update, what
 * it tells is remembered (an error forgets the hw, so the partition is
 * answered again once the error is gone). */
static bool must_respond(int64_t *hw, int64_t *log_start, const struct fetch_session_answer *a,
			 bool update)
{
	bool must = a->records || a->error || a->diverging || a->preferred;

	if (*hw != a->hw) {
		must = true;
		if (update)
			*hw = a->hw;
	}
	if (*log_start != a->log_start) {
		must = true;
		if (update)
			*log_start = a->log_start;
	}
	if (a->error && update)
		*hw = -1;
	return must;
}

/* fetch_sessions_answer (update) and fetch_sessions_peek (not). */
static int16_t sessions_answer(struct fetch_sessions *c, const struct fetch_session_view *v,
			       struct fetch_session_answer *a, bool update)
{
	struct fsess *s;
	int16_t err = 0;
	int k = 0;

	pthread_mutex_lock(&c->lock);
	s = *session_slot(c, v->id);
	if (s && s->epoch != v->epoch) {
		err = PROTO_ERR_INVALID_FETCH_SESSION_EPOCH;
		goto out;
	}
	for (int32_t t = 0; t < v->n_topics; t++)
		for (int32_t j = 0; j < v->topics[t].n_partitions; j++, k++) {
			struct fsess_part *cp = s ? part_find(s, v->topics[t].topic,
							      v->topics[t].partitions[j].partition)
						  : NULL;
			int64_t hw = v->hw[k], log_start = v->log_start[k];

			if (!cp) { /* evicted: the view's */
				a[k].include = must_respond(&hw, &log_start, &a[k], false);
				continue;
			}
			a[k].include = must_respond(&cp->hw, &cp->log_start, &a[k], update);
			if (a[k].records && update) {
				list_unlink(s, cp);
				list_append(s, cp);
			}
		}
out:
	pthread_mutex_unlock(&c->lock);
	return err;
}

int16_t fetch_sessions_answer(struct fetch_sessions *c, const struct fetch_session_view *v,
			      struct fetch_session_answer *a)
{
	return sessions_answer(c, v, a, true);
}

int16_t fetch_sessions_peek(struct fetch_sessions *c, const struct fetch_session_view *v,
			    struct fetch_session_answer *a)
{
	return sessions_answer(c, v, a, false);
}

int16_t fetch_sessions_epoch_check(struct fetch_sessions *c, const struct fetch_session_view *v)
{
	struct fsess *s;
	int16_t err = 0;

	pthread_mutex_lock(&c->lock);
	s = *session_slot(c, v->id);
	if (s && s->epoch != v->epoch)
		err = PROTO_ERR_INVALID_FETCH_SESSION_EPOCH;
	pthread_mutex_unlock(&c->lock);
	return err;
}

bool fetch_sessions_each(struct fetch_sessions *c, int32_t id,
			 bool (*fn)(void *arg, struct kstr topic, int32_t partition), void *arg)
{
	struct fsess *s;

	pthread_mutex_lock(&c->lock);
	s = *session_slot(c, id);
	for (struct fsess_part *cp = s ? s->head : NULL; cp; cp = cp->next)
		if (!fn(arg, (struct kstr){ cp->topic, cp->topic_len }, cp->req.partition))
			break;
	pthread_mutex_unlock(&c->lock);
	return s != NULL;
}
