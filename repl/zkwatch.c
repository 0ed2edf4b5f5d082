/*
 * zkwatch.c — the set of armed watches (zkwatch.h): a sorted array of
 * paths, looked up by binary search (util/bsearch.h). An owner has one
 * path per topic and looks each up on every re-read, so a linear search
 * made a change of a cluster with thousands of topics cost their square.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/zkwatch.h"
#include "util/bsearch.h"

void zkwatch_init(struct zkwatch_set *s)
{
	pthread_mutex_init(&s->mu, NULL);
	s->paths = NULL;
	s->n = 0;
}

static const char *path_at(const void *arg, int i)
{
	return ((const struct zkwatch_set *)arg)->paths[i];
}

/* Index of path in the sorted array, or -(insertion point) - 1. Under mu. */
static int find(const struct zkwatch_set *s, const char *path)
{
	return bsearch_name(s->n, path, path_at, s);
}

static void remove_at(struct zkwatch_set *s, int i)
{
	free(s->paths[i]);
	memmove(s->paths + i, s->paths + i + 1, (size_t)(s->n - i - 1) * sizeof(*s->paths));
	s->n--;
}

bool zkwatch_armed(struct zkwatch_set *s, const char *path)
{
	pthread_mutex_lock(&s->mu);
	bool armed = find(s, path) >= 0;
	pthread_mutex_unlock(&s->mu);
	return armed;
}

int zkwatch_claim(struct zkwatch_set *s, const char *path)
{
	char *copy, **v;
	int rc, at;

	/* Armed already (every re-read asks for every path): no copy. */
	if (zkwatch_armed(s, path))
		return 0;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	/* Listed before arming: a watch that fires at once finds its path
	 * and unlists it, rather than being unlisted first and then listed
	 * for good. */
	pthread_mutex_lock(&s->mu);
	at = find(s, path);
	if (at >= 0) {
		rc = 0; /* claimed meanwhile */
	} else if (!(v = realloc(s->paths, ((size_t)s->n + 1) * sizeof(*v)))) {
		rc = -ENOMEM;
	} else {
		at = -at - 1;
		s->paths = v;
		memmove(v + at + 1, v + at, (size_t)(s->n - at) * sizeof(*v));
		v[at] = copy;
		s->n++;
		copy = NULL;
		rc = 1;
	}
	pthread_mutex_unlock(&s->mu);
	free(copy);
	return rc;
}

int zkwatch_arm(struct zkwatch_set *s, struct zkc *zk, const char *path, zkc_watch_fn *fn,
		void *arg)
{
	int rc = zkwatch_claim(s, path);

	if (rc <= 0)
		return rc;
	rc = zkc_exists(zk, path, NULL, fn, arg);
	if (rc == -ENOENT)
		rc = 0; /* armed all the same: it fires on creation */
	if (rc < 0)
		zkwatch_fired(s, path);
	return rc;
}

void zkwatch_fired(struct zkwatch_set *s, const char *path)
{
	int i;

	pthread_mutex_lock(&s->mu);
	i = find(s, path);
	if (i >= 0)
		remove_at(s, i);
	pthread_mutex_unlock(&s->mu);
}

void zkwatch_keep(struct zkwatch_set *s, char **keep, int n)
{
	bool *kept;
	int w = 0;

	pthread_mutex_lock(&s->mu);
	/* Without memory the set stays as it is: a path kept too long is
	 * pruned at the next call. */
	kept = calloc((size_t)s->n + 1, sizeof(*kept));
	if (kept) {
		for (int j = 0; j < n; j++) {
			int i = find(s, keep[j]);

			if (i >= 0)
				kept[i] = true;
		}
		for (int i = 0; i < s->n; i++) {
			if (kept[i])
				s->paths[w++] = s->paths[i];
			else
				free(s->paths[i]);
		}
		s->n = w;
		free(kept);
	}
	pthread_mutex_unlock(&s->mu);
}

void zkwatch_reset(struct zkwatch_set *s)
{
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->n; i++)
		free(s->paths[i]);
	free(s->paths);
	s->paths = NULL;
	s->n = 0;
	pthread_mutex_unlock(&s->mu);
}

void zkwatch_destroy(struct zkwatch_set *s)
{
	zkwatch_reset(s);
	pthread_mutex_destroy(&s->mu);
}
