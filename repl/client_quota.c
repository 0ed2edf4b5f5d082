/*
 * client_quota.c — Kafka's client quotas (client_quota.h): the table of
 * quota entities, the resolution order, the rates per metric entity and
 * the throttle time.
 *
 * Invariants: q->ents is the table as last handed over, never edited in
 * place; a sensor exists only for a (kind, user tag, client tag) that
 * had a bound when its bytes came, at most MAX_SENSORS of them (the
 * least recently used is measured again from zero when a new one needs
 * its slot: Kafka expires idle client sensors after an hour instead).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/client_quota.h"
#include "repl/net.h"
#include "repl/proto.h"
#include "repl/throttle.h"
#include "util/clock.h"
#include "util/diaglog.h"
#include "util/pct.h"

#define MAX_SENSORS        256
/* INT64_MAX as a double rounds up to 2^63, the first double past it. */
#define LONG_MAX_AS_DOUBLE 9223372036854775808.0

struct sensor {
	enum client_quota_kind kind;
	char *user_tag, *client_tag; /* "" for a part the entity does not name */
	int64_t last_ms;
	struct throttle_rate rate;
};

struct client_quotas {
	pthread_mutex_t mu;
	int samples;
	int64_t window_ms;
	struct client_quota_entity *ents;
	int n_ents;
	struct sensor *sensors[MAX_SENSORS];
	int n_sensors;
	bool exempt_set;
	char exempt_user[CLIENT_QUOTA_MAX_NAME + 1]; /* client_quotas_exempt */
	int64_t throttled[2], throttle_ms[2];        /* client_quotas_stats, by kind */
};

void client_quotas_exempt(struct client_quotas *q, const char *user)
{
	snprintf(q->exempt_user, sizeof(q->exempt_user), "%s", user ? user : "");
	q->exempt_set = true;
}

int client_quotas_new(int samples, int64_t window_ms, struct client_quotas **out)
{
	struct client_quotas *q;

	if (samples < 1 || samples > THROTTLE_MAX_SAMPLES || window_ms < 1)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	if (pthread_mutex_init(&q->mu, NULL)) {
		free(q);
		return -ENOMEM;
	}
	q->samples = samples;
	q->window_ms = window_ms;
	*out = q;
	return 0;
}

static void sensor_free(struct sensor *s)
{
	if (!s)
		return;
	free(s->user_tag);
	free(s->client_tag);
	free(s);
}

void client_quota_entities_free(struct client_quota_entity *ents, int n)
{
	for (int i = 0; ents && i < n; i++) {
		free(ents[i].user);
		free(ents[i].client);
	}
	free(ents);
}

void client_quotas_free(struct client_quotas *q)
{
	if (!q)
		return;
	client_quota_entities_free(q->ents, q->n_ents);
	for (int i = 0; i < q->n_sensors; i++)
		sensor_free(q->sensors[i]);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

void client_quotas_replace(struct client_quotas *q, struct client_quota_entity *ents, int n)
{
	struct client_quota_entity *old;
	int n_old;

	pthread_mutex_lock(&q->mu);
	old = q->ents;
	n_old = q->n_ents;
	q->ents = ents;
	q->n_ents = n;
	pthread_mutex_unlock(&q->mu);
	client_quota_entities_free(old, n_old);
}

/* ---- resolution ---- */

/* Whether an entity part (NULL: absent) is want (NULL: must be absent). */
static bool part_is(const char *part, const char *want)
{
	if (!want)
		return !part;
	return part && !strcmp(part, want);
}

static int64_t entity_bound(const struct client_quota_entity *e, enum client_quota_kind kind)
{
	return kind == CLIENT_QUOTA_PRODUCE ? e->producer_byte_rate : e->consumer_byte_rate;
}

/* The bound for (user, client), both sanitized, and the step that set it
 * (the table in client_quota.h); -1 none. Under q->mu. */
static int64_t resolve(const struct client_quotas *q, enum client_quota_kind kind, const char *user,
		       const char *client, int *which)
{
	const char *D = CLIENT_QUOTA_DEFAULT;
	const char *steps[8][2] = {
		{ user, client }, { user, D }, { user, NULL },   { D, client },
		{ D, D },         { D, NULL }, { NULL, client }, { NULL, D },
	};

	for (int s = 0; s < 8; s++) {
		/* An empty client id (a null one is made empty) is bound by
		 * the user's entities alone, users/U then users/<default>, as
		 * Kafka's DefaultQuotaCallback: its metric tags then carry no
		 * client id, and its quotaLimit looks at no client-id entity
		 * for a tag that is empty, <default> ones included. */
		if (!client[0] && s != 2 && s != 5)
			continue;
		for (int i = 0; i < q->n_ents; i++) {
			const struct client_quota_entity *e = &q->ents[i];
			int64_t b = entity_bound(e, kind);

			if (b >= 0 && part_is(e->user, steps[s][0]) &&
			    part_is(e->client, steps[s][1])) {
				*which = s + 1;
				return b;
			}
		}
	}
	*which = 0;
	return -1;
}

/* The names as the table spells them (sanitized, ANONYMOUS for no user). */
static int sanitized_pair(const char *user, const char *client_id, char *u, char *c)
{
	if (!user)
		user = CLIENT_QUOTA_ANONYMOUS;
	if (!client_id)
		client_id = "";
	if (client_quota_sanitize(user, strlen(user), u, CLIENT_QUOTA_MAX_NAME + 1) < 0 ||
	    client_quota_sanitize(client_id, strlen(client_id), c, CLIENT_QUOTA_MAX_NAME + 1) < 0)
		return -ENAMETOOLONG;
	return 0;
}

int64_t client_quotas_bound(struct client_quotas *q, enum client_quota_kind kind, const char *user,
			    const char *client_id, int *which)
{
	char u[CLIENT_QUOTA_MAX_NAME + 1], c[CLIENT_QUOTA_MAX_NAME + 1];
	int step = 0;
	int64_t b = -1;

	if (sanitized_pair(user, client_id, u, c) == 0) {
		pthread_mutex_lock(&q->mu);
		b = resolve(q, kind, u, c, &step);
		pthread_mutex_unlock(&q->mu);
	}
	if (which)
		*which = step;
	return b;
}

/* ---- rates ---- */

/* The sensor of (kind, user_tag, client_tag), made when missing (the
 * least recently used slot reused when full). NULL: out of memory. */
static struct sensor *sensor_of(struct client_quotas *q, enum client_quota_kind kind,
				const char *user_tag, const char *client_tag, int64_t now_ms)
{
	struct sensor *s;
	int slot = q->n_sensors;

	for (int i = 0; i < q->n_sensors; i++) {
		s = q->sensors[i];
		if (s->kind == kind && !strcmp(s->user_tag, user_tag) &&
		    !strcmp(s->client_tag, client_tag))
			return s;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->user_tag = strdup(user_tag);
	s->client_tag = strdup(client_tag);
	if (!s->user_tag || !s->client_tag) {
		sensor_free(s);
		return NULL;
	}
	s->kind = kind;
	s->last_ms = now_ms;
	throttle_rate_init(&s->rate, q->samples, q->window_ms);
	s->rate.min_windows = q->samples > 1 ? q->samples - 1 : 1;
	if (slot == MAX_SENSORS) {
		slot = 0;
		for (int i = 1; i < q->n_sensors; i++)
			if (q->sensors[i]->last_ms < q->sensors[slot]->last_ms)
				slot = i;
		sensor_free(q->sensors[slot]);
	} else {
		q->n_sensors++;
	}
	q->sensors[slot] = s;
	return s;
}

int32_t client_quotas_record(struct client_quotas *q, enum client_quota_kind kind, const char *user,
			     const char *client_id, int64_t bytes, bool take_back, int64_t now_ms)
{
	char u[CLIENT_QUOTA_MAX_NAME + 1], c[CLIENT_QUOTA_MAX_NAME + 1];
	struct sensor *s;
	int64_t bound;
	int step;
	double rate, t = 0;

	if (sanitized_pair(user, client_id, u, c) < 0)
		return 0;
	pthread_mutex_lock(&q->mu);
	bound = resolve(q, kind, u, c, &step);
	if (bound < 0)
		goto out;
	/* Kafka's metric tags: the parts the matched entity names. Steps
	 * 3 and 6 name a user only, 7 and 8 a client only. */
	s = sensor_of(q, kind, step == 7 || step == 8 ? "" : u, step == 3 || step == 6 ? "" : c,
		      now_ms);
	if (!s)
		goto out;
	s->last_ms = now_ms;
	throttle_rate_record(&s->rate, (double)bytes, now_ms);
	rate = throttle_rate_measure(&s->rate, now_ms);
	if (bound == 0) {
		/* Nothing allowed: as long as the span, as Kafka's division
		 * by a zero bound would make it endless. */
		t = (double)throttle_rate_span_ms(&s->rate, now_ms);
	} else if (rate > (double)bound) {
		t = (rate - (double)bound) / (double)bound *
		    (double)throttle_rate_span_ms(&s->rate, now_ms);
	}
	if (t > 0 && take_back)
		throttle_rate_record(&s->rate, -(double)bytes, now_ms);
	if (t > 0) {
		q->throttled[kind]++;
		q->throttle_ms[kind] += t > (double)INT32_MAX ? INT32_MAX : (int64_t)(t + 0.5);
	}
out:
	pthread_mutex_unlock(&q->mu);
	if (t > (double)INT32_MAX)
		return INT32_MAX;
	return (int32_t)(t + 0.5);
}

void client_quotas_stats(struct client_quotas *q, enum client_quota_kind kind, int64_t *throttled,
			 int64_t *throttle_ms)
{
	pthread_mutex_lock(&q->mu);
	*throttled = q->throttled[kind];
	*throttle_ms = q->throttle_ms[kind];
	pthread_mutex_unlock(&q->mu);
}

/* Who req is for the quotas: false when no quota can apply to it (no
 * table, a broker's own request, a client id too long for any quota to
 * name), else its client id into client (the user is net_req_user). */
static bool req_quotaed(const struct client_quotas *q, struct net_req *req,
			char client[CLIENT_QUOTA_MAX_NAME + 1])
{
	struct kstr id = net_req_msg(req)->hdr.client_id;

	if (!q)
		return false;
	if (q->exempt_set && kstr_eq(id, NET_CLIENT_ID) &&
	    !strcmp(net_req_user(req) ? net_req_user(req) : "", q->exempt_user))
		return false; /* a broker's own request */
	if (id.len > CLIENT_QUOTA_MAX_NAME)
		return false;
	snprintf(client, CLIENT_QUOTA_MAX_NAME + 1, "%.*s", id.len > 0 ? (int)id.len : 0,
		 id.ptr ? id.ptr : "");
	return true;
}

int64_t client_quotas_window_max(struct client_quotas *q, enum client_quota_kind kind,
				 const char *user, const char *client_id)
{
	int64_t bound = client_quotas_bound(q, kind, user, client_id, NULL);
	int64_t windows = q->samples > 1 ? q->samples - 1 : 1;

	if (bound < 0 || bound > INT64_MAX / windows / q->window_ms)
		return INT64_MAX;
	/* Kafka's getMaxValueInQuotaWindow: bound * (samples - 1) windows. */
	return bound * windows * q->window_ms / 1000;
}

int64_t client_quotas_window_max_req(struct client_quotas *q, struct net_req *req,
				     enum client_quota_kind kind)
{
	char client[CLIENT_QUOTA_MAX_NAME + 1];

	if (!req_quotaed(q, req, client))
		return INT64_MAX;
	return client_quotas_window_max(q, kind, net_req_user(req), client);
}

int32_t client_quotas_record_req(struct client_quotas *q, struct net_req *req,
				 enum client_quota_kind kind, int64_t bytes, bool take_back)
{
	char client[CLIENT_QUOTA_MAX_NAME + 1];
	int32_t t;

	if (!req_quotaed(q, req, client))
		return 0;
	t = client_quotas_record(q, kind, net_req_user(req), client, bytes, take_back,
				 now_mono_ms());
	/* Kafka's KIP-219: the response carries the time, and the
	 * connection is not read again before it has passed. */
	net_req_mute(req, t);
	if (t > 0)
		mq_log_limited(
			MQ_INFO,
			"client quota: %s from %s (user %s, client-id '%s') over "
			"its %s: throttled %d ms",
			kind == CLIENT_QUOTA_PRODUCE ? "Produce" : "Fetch", net_req_peer(req),
			net_req_user(req) ? net_req_user(req) : CLIENT_QUOTA_ANONYMOUS, client,
			kind == CLIENT_QUOTA_PRODUCE ? CLIENT_QUOTA_PRODUCER
						     : CLIENT_QUOTA_CONSUMER,
			(int)t);
	return t;
}

/* ---- names and values ---- */

int client_quota_sanitize(const char *s, size_t n, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t at = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		bool keep = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';

		if (at + (keep ? 1 : 3) >= size)
			return -ENAMETOOLONG;
		if (keep) {
			out[at++] = (char)ch;
		} else {
			out[at++] = '%';
			out[at++] = hex[ch >> 4];
			out[at++] = hex[ch & 15];
		}
	}
	if (at >= size)
		return -ENAMETOOLONG;
	out[at] = '\0';
	return (int)at;
}

int client_quota_desanitize(const char *s, char *out, size_t size)
{
	ssize_t n = size ? pct_decode(s, strlen(s), out, size - 1) : -ENOSPC;

	if (n < 0)
		return n == -EBADMSG ? -EINVAL : -ENAMETOOLONG;
	out[n] = '\0';
	return (int)n;
}

int client_quota_value_text(const char *key, double value, char *out, size_t size, char *why,
			    size_t whylen)
{
	bool rate = !strcmp(key, CLIENT_QUOTA_PRODUCER) || !strcmp(key, CLIENT_QUOTA_CONSUMER);
	const double epsilon = 1e-6;
	double whole;

	if (!strcmp(key, CLIENT_QUOTA_REQUEST) || !strcmp(key, CLIENT_QUOTA_MUTATION)) {
		snprintf(why, whylen, "Configuration %s is not supported by this broker", key);
		return -EOPNOTSUPP;
	}
	if (!rate) {
		snprintf(why, whylen, "Invalid configuration key %s", key);
		return -EINVAL;
	}
	/* Kafka's LONG keys: the value plus epsilon, truncated, must be
	 * within epsilon of the value (its message names the type as
	 * ConfigDef.Type prints it). */
	if (!isfinite(value) || value > LONG_MAX_AS_DOUBLE || value <= -LONG_MAX_AS_DOUBLE) {
		snprintf(why, whylen, "Configuration %s must be a LONG value", key);
		return -EINVAL;
	}
	if (value == LONG_MAX_AS_DOUBLE) {
		/* Long.MAX_VALUE, the keys' default (no bound), is 2^63 as a
		 * double: Kafka's toLong saturates it back and keeps it. */
		snprintf(out, size, "%lld", (long long)INT64_MAX);
		return 0;
	}
	whole = (double)(long long)(value + epsilon);
	if (whole - value > epsilon || value - whole > epsilon) {
		snprintf(why, whylen, "Configuration %s must be a LONG value", key);
		return -EINVAL;
	}
	if (whole <= 0) {
		snprintf(why, whylen, "Configuration %s must be positive", key);
		return -EINVAL;
	}
	snprintf(out, size, "%lld", (long long)whole);
	return 0;
}
