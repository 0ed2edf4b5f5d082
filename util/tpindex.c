/*
 * tpindex.c — the (topic, partition) hash index (tpindex.h).
 *
 * Invariant (when cap > 0): every position 0 .. n-1 is in exactly one
 * slot, reachable from its key's home slot (hash & (cap - 1)) by probing
 * forward without crossing an empty slot; at most cap / 2 slots are used.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/tpindex.h"

#define TPINDEX_MIN_CAP 16

/* FNV-1a over the topic, the partition mixed in after. */
static size_t key_hash(const char *topic, int32_t partition)
{
	uint64_t h = 1469598103934665603ull;

	for (const unsigned char *p = (const unsigned char *)topic; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	h ^= (uint32_t)partition;
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h ^ (h >> 29));
}

static size_t home_of(const struct tpindex *x, int pos)
{
	const char *t;
	int32_t p;

	x->key_at(x->arg, pos, &t, &p);
	return key_hash(t, p) & (x->cap - 1);
}

static bool key_is(const struct tpindex *x, int pos, const char *topic, int32_t partition)
{
	const char *t;
	int32_t p;

	x->key_at(x->arg, pos, &t, &p);
	return p == partition && !strcmp(t, topic);
}

static void put(struct tpindex *x, int pos)
{
	size_t j = home_of(x, pos);

	while (x->slot[j])
		j = (j + 1) & (x->cap - 1);
	x->slot[j] = pos + 1;
}

/* An index for n elements with room to grow; dropped (scans) without
 * memory. */
static void rebuild(struct tpindex *x, int n)
{
	size_t cap = TPINDEX_MIN_CAP;

	while (cap < 4 * (size_t)n)
		cap *= 2;
	free(x->slot);
	x->slot = calloc(cap, sizeof(*x->slot));
	x->cap = x->slot ? cap : 0;
	for (int i = 0; x->cap && i < n; i++)
		put(x, i);
}

void tpindex_init(struct tpindex *x, tpindex_key_fn key_at, const void *arg)
{
	memset(x, 0, sizeof(*x));
	x->key_at = key_at;
	x->arg = arg;
}

int tpindex_find(const struct tpindex *x, int n, const char *topic, int32_t partition)
{
	if (!x->cap) {
		for (int i = 0; i < n; i++)
			if (key_is(x, i, topic, partition))
				return i;
		return -1;
	}
	for (size_t j = key_hash(topic, partition) & (x->cap - 1); x->slot[j];
	     j = (j + 1) & (x->cap - 1))
		if (key_is(x, x->slot[j] - 1, topic, partition))
			return x->slot[j] - 1;
	return -1;
}

void tpindex_added(struct tpindex *x, int n)
{
	if (!x->cap || 2 * (size_t)n > x->cap)
		rebuild(x, n);
	else
		put(x, n - 1);
}

static size_t slot_of(const struct tpindex *x, int pos)
{
	size_t j = home_of(x, pos);

	while (x->slot[j] != pos + 1)
		j = (j + 1) & (x->cap - 1);
	return j;
}

void tpindex_remove(struct tpindex *x, int i, int n)
{
	if (!x->cap)
		return;
	/* Empty i's slot, then shift back every entry of the run after it
	 * whose home does not lie cyclically in (j, k]: it would no longer
	 * be reachable across the hole. */
	size_t mask = x->cap - 1, j = slot_of(x, i), k = j;
	x->slot[j] = 0;
	for (;;) {
		k = (k + 1) & mask;
		if (!x->slot[k])
			break;
		size_t h = home_of(x, x->slot[k] - 1);
		bool stays = j < k ? (h > j && h <= k) : (h > j || h <= k);
		if (!stays) {
			x->slot[j] = x->slot[k];
			x->slot[k] = 0;
			j = k;
		}
	}
	if (i != n - 1)
		x->slot[slot_of(x, n - 1)] = i + 1; /* the last moves into i */
}

void tpindex_free(struct tpindex *x)
{
	free(x->slot);
	x->slot = NULL;
	x->cap = 0;
}
