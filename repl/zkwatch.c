/*
 * zkwatch.c — the set of armed watches (zkwatch.h): a sorted array of
 * paths, looked up by binary search. An owner has one path per topic and
 * looks each up on every re-read, so a linear search made a change of a
 * cluster with thousands of topics cost their square.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/zkwatch.h"

void zkwatch_init(struct zkwatch_set *s)
{
	pthread_mutex_init(&s->mu, NULL);
	s->paths = NULL;
	s->n = 0;
}

/* Binary search of the sorted array: the index of path, or -1 with *at
 * its insertion point. Under mu. */
static int find_at(const struct zkwatch_set *s, const char *path, int *at)
{
	int lo = 0, hi = s->n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, c = strcmp(s->paths[mid], path);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	if (at)
		*at = lo;
	return -1;
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
	bool armed = find_at(s, path, NULL) >= 0;
	pthread_mutex_unlock(&s->mu);
	return armed;
}

int zkwatch_claim(struct zkwatch_set *s, const char *path)
{
	char *copy, **v;
	int rc = 1, at = 0;

	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	/* Listed before arming: a watch that fires at once finds its path
	 * and unlists it, rather than being unlisted first and then listed
	 * for good. */
	pthread_mutex_lock(&s->mu);
	if (find_at(s, path, &at) >= 0) {
		rc = 0;
	} else if (!(v = realloc(s->paths, ((size_t)s->n + 1) * sizeof(*v)))) {
		rc = -ENOMEM;
	} else {
		s->paths = v;
		memmove(v + at + 1, v + at, (size_t)(s->n - at) * sizeof(*v));
		v[at] = copy;
		s->n++;
		copy = NULL;
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
	i = find_at(s, path, NULL);
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
			int i = find_at(s, keep[j], NULL);

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
