/*
 * metadata_cache.c — the brokers, controller and cluster id as this
 * broker last read them (metadata_cache.h). A small array sorted by id,
 * replaced whole under the cache's mutex.
 *
 * Invariants: ids are >= 0, distinct, sorted ascending; a broker once
 * known stays in the array (alive or gone) for the life of the broker.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "repl/metadata_cache.h"
#include "repl/zkdata.h"

struct metadata_cache {
	pthread_mutex_t mu;
	struct metadata_broker *brokers;
	int n;
	int32_t controller;
	char cluster_id[ZK_UUID_LEN + 1];
};

int metadata_cache_new(struct metadata_cache **out)
{
	struct metadata_cache *mc = calloc(1, sizeof(*mc));

	if (!mc)
		return -ENOMEM;
	pthread_mutex_init(&mc->mu, NULL);
	mc->controller = -1;
	*out = mc;
	return 0;
}

void metadata_cache_free(struct metadata_cache *mc)
{
	if (!mc)
		return;
	pthread_mutex_destroy(&mc->mu);
	free(mc->brokers);
	free(mc);
}

static int by_id(const void *a, const void *b)
{
	int32_t x = ((const struct metadata_broker *)a)->id;
	int32_t y = ((const struct metadata_broker *)b)->id;

	return (x > y) - (x < y);
}

int metadata_cache_set_brokers(struct metadata_cache *mc, const struct metadata_broker *live, int n)
{
	struct metadata_broker *next;
	int m, k = 0;

	for (int i = 0; i < n; i++) {
		if (live[i].id < 0)
			return -EINVAL;
		for (int j = 0; j < i; j++)
			if (live[j].id == live[i].id)
				return -EINVAL;
	}
	pthread_mutex_lock(&mc->mu);
	m = mc->n + n;
	/* Everything is allocated before the old array is touched. */
	next = calloc((size_t)m + 1, sizeof(*next));
	if (!next) {
		pthread_mutex_unlock(&mc->mu);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		next[k] = live[i];
		next[k].alive = true;
		next[k].endpoints[METADATA_ENDPOINTS_MAX - 1] = '\0';
		next[k].rack[METADATA_RACK_MAX - 1] = '\0';
		k++;
	}
	for (int i = 0; i < mc->n; i++) {
		bool still = false;

		for (int j = 0; j < n && !still; j++)
			still = live[j].id == mc->brokers[i].id;
		if (!still) {
			next[k] = mc->brokers[i];
			next[k++].alive = false;
		}
	}
	qsort(next, (size_t)k, sizeof(*next), by_id);
	free(mc->brokers);
	mc->brokers = next;
	mc->n = k;
	pthread_mutex_unlock(&mc->mu);
	return 0;
}

void metadata_cache_set_controller(struct metadata_cache *mc, int32_t id)
{
	pthread_mutex_lock(&mc->mu);
	mc->controller = id < 0 ? -1 : id;
	pthread_mutex_unlock(&mc->mu);
}

int32_t metadata_cache_controller(struct metadata_cache *mc)
{
	int32_t id;

	pthread_mutex_lock(&mc->mu);
	id = mc->controller;
	pthread_mutex_unlock(&mc->mu);
	return id;
}

void metadata_cache_set_cluster_id(struct metadata_cache *mc, const char *id)
{
	pthread_mutex_lock(&mc->mu);
	snprintf(mc->cluster_id, sizeof(mc->cluster_id), "%s", id);
	pthread_mutex_unlock(&mc->mu);
}

void metadata_cache_cluster_id(struct metadata_cache *mc, char *buf, size_t cap)
{
	pthread_mutex_lock(&mc->mu);
	snprintf(buf, cap, "%s", mc->cluster_id);
	pthread_mutex_unlock(&mc->mu);
}

int metadata_cache_brokers(struct metadata_cache *mc, struct metadata_broker **out)
{
	int n;

	pthread_mutex_lock(&mc->mu);
	n = mc->n;
	*out = malloc(((size_t)n + 1) * sizeof(**out));
	/* No broker known yet: brokers may be NULL, which memcpy may not get. */
	if (*out && n > 0)
		memcpy(*out, mc->brokers, (size_t)n * sizeof(**out));
	pthread_mutex_unlock(&mc->mu);
	return *out ? n : -ENOMEM;
}

bool metadata_cache_broker(struct metadata_cache *mc, int32_t id, struct metadata_broker *out)
{
	bool found = false;

	pthread_mutex_lock(&mc->mu);
	for (int i = 0; i < mc->n && !found; i++)
		if (mc->brokers[i].id == id) {
			*out = mc->brokers[i];
			found = true;
		}
	pthread_mutex_unlock(&mc->mu);
	return found;
}

bool metadata_cache_racks_mixed(struct metadata_cache *mc)
{
	int with = 0, without = 0;

	pthread_mutex_lock(&mc->mu);
	for (int i = 0; i < mc->n; i++)
		if (mc->brokers[i].alive) {
			with += mc->brokers[i].has_rack;
			without += !mc->brokers[i].has_rack;
		}
	pthread_mutex_unlock(&mc->mu);
	return with > 0 && without > 0;
}

void metadata_cache_render(struct metadata_cache *mc, FILE *f)
{
	bool first = true;

	pthread_mutex_lock(&mc->mu);
	fprintf(f, "cluster.id=%s\ncontroller=%d\nbrokers=[", mc->cluster_id, (int)mc->controller);
	for (int i = 0; i < mc->n; i++) {
		if (!mc->brokers[i].alive)
			continue;
		fprintf(f, "%s%d", first ? "" : ",", (int)mc->brokers[i].id);
		first = false;
	}
	fputs("]\n", f);
	for (int i = 0; i < mc->n; i++)
		fprintf(f, "broker.%d=%s %s%s%s\n", (int)mc->brokers[i].id,
			mc->brokers[i].alive ? "alive" : "gone", mc->brokers[i].endpoints,
			mc->brokers[i].has_rack ? " rack=" : "",
			mc->brokers[i].has_rack ? mc->brokers[i].rack : "");
	pthread_mutex_unlock(&mc->mu);
}
