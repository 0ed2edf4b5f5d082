/*
 * zkwatch.c — the set of armed watches (zkwatch.h): a small unsorted
 * array of paths, since an owner has one per topic and looks each up once
 * per re-read.
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

static int find(const struct zkwatch_set *s, const char *path)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->paths[i], path))
			return i;
	return -1;
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
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = find(s, path) >= 0;
	pthread_mutex_unlock(&s->mu);
	if (rc)
		return 0;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	/* Listed before arming: a watch that fires at once finds its path
	 * and unlists it, rather than being unlisted first and then listed
	 * for good. */
	pthread_mutex_lock(&s->mu);
	v = realloc(s->paths, ((size_t)s->n + 1) * sizeof(*v));
	if (v) {
		s->paths = v;
		s->paths[s->n++] = copy;
	}
	pthread_mutex_unlock(&s->mu);
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	return 1;
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
	if (i >= 0) {
		free(s->paths[i]);
		s->paths[i] = s->paths[--s->n];
	}
	pthread_mutex_unlock(&s->mu);
}

void zkwatch_keep(struct zkwatch_set *s, char **keep, int n)
{
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->n;) {
		bool kept = false;

		for (int j = 0; j < n && !kept; j++)
			kept = !strcmp(s->paths[i], keep[j]);
		if (kept) {
			i++;
			continue;
		}
		free(s->paths[i]);
		s->paths[i] = s->paths[--s->n];
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
