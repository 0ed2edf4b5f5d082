/*
 * ineligible.c — the set of ineligible.h: an array under a mutex (a
 * broker holds hundreds of partitions, not millions; the set only
 * shrinks after the start).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "repl/ineligible.h"

struct ineligible {
	pthread_mutex_t mu;
	struct zk_tp *v;
	int n;
};

int ineligible_new(struct ineligible **out)
{
	struct ineligible *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void ineligible_free(struct ineligible *s)
{
	if (!s)
		return;
	ineligible_copy_free(s->v, s->n);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* The index of (topic, partition), -1; mu held. */
static int find(const struct ineligible *s, const char *topic, int32_t partition)
{
	for (int i = 0; i < s->n; i++)
		if (s->v[i].partition == partition && !strcmp(s->v[i].topic, topic))
			return i;
	return -1;
}

int ineligible_add(struct ineligible *s, const char *topic, int32_t partition)
{
	struct zk_tp *nv;
	char *name;
	int rc = 0;

	pthread_mutex_lock(&s->mu);
	if (find(s, topic, partition) >= 0)
		goto out;
	name = strdup(topic);
	nv = name ? realloc(s->v, ((size_t)s->n + 1) * sizeof(*nv)) : NULL;
	if (!nv) {
		free(name);
		rc = -ENOMEM;
		goto out;
	}
	s->v = nv;
	s->v[s->n++] = (struct zk_tp){ name, partition };
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

bool ineligible_has(struct ineligible *s, const char *topic, int32_t partition)
{
	bool has;

	pthread_mutex_lock(&s->mu);
	has = find(s, topic, partition) >= 0;
	pthread_mutex_unlock(&s->mu);
	return has;
}

int ineligible_remove(struct ineligible *s, const char *topic, int32_t partition)
{
	int i;

	pthread_mutex_lock(&s->mu);
	i = find(s, topic, partition);
	if (i >= 0) {
		free(s->v[i].topic);
		/* Keeps the order: the registration lists them as added. */
		memmove(&s->v[i], &s->v[i + 1], (size_t)(s->n - i - 1) * sizeof(*s->v));
		s->n--;
	}
	pthread_mutex_unlock(&s->mu);
	return i >= 0;
}

int ineligible_copy(struct ineligible *s, struct zk_tp **out)
{
	struct zk_tp *v;
	int n, k = 0;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	v = calloc((size_t)n + 1, sizeof(*v));
	for (; v && k < n; k++) {
		v[k].partition = s->v[k].partition;
		if (!(v[k].topic = strdup(s->v[k].topic)))
			break;
	}
	pthread_mutex_unlock(&s->mu);
	if (!v || k < n) {
		ineligible_copy_free(v, k);
		*out = NULL;
		return -ENOMEM;
	}
	*out = v;
	return n;
}

void ineligible_copy_free(struct zk_tp *v, int n)
{
	for (int i = 0; v && i < n; i++)
		free(v[i].topic);
	free(v);
}
