/*
 * tpindex.h — a hash index from a (topic, partition) pair to its position
 * in the caller's array, so that a broker finds one of its partitions in
 * constant time however many it holds (Kafka keys its partitions by
 * TopicPartition in a hash map). A linear search made every Fetch and
 * every UpdateMetadata quadratic in the partition count: a follower's
 * fetch of 2,000 partitions compared up to 4 million keys.
 *
 * The array stays the caller's (its order, its elements); the index holds
 * positions and reads keys through key_at. The caller keeps it in step:
 * tpindex_added after appending an element, tpindex_remove before moving
 * the last element into a removed one's place (the swap removal every
 * table here uses). Open addressing with linear probing, at most half
 * full; a removal shifts the probe run back (no tombstones), so lookups
 * never degrade. When memory for the index cannot be had, it is dropped
 * and lookups scan the array (correct, slower) until a later addition
 * rebuilds it.
 *
 * Not thread-safe: the caller's lock guards the array and the index.
 */
#ifndef MQFS_UTIL_TPINDEX_H
#define MQFS_UTIL_TPINDEX_H

#include <stddef.h>
#include <stdint.h>

/* The key of element i of the caller's array. */
typedef void (*tpindex_key_fn)(const void *arg, int i, const char **topic, int32_t *partition);

struct tpindex {
	int *slot;  /* position + 1; 0: empty */
	size_t cap; /* a power of two, or 0 (no index: scan) */
	tpindex_key_fn key_at;
	const void *arg;
};

void tpindex_init(struct tpindex *x, tpindex_key_fn key_at, const void *arg);
/* The arg key_at gets (the array moved, e.g. after realloc). */
static inline void tpindex_set_arg(struct tpindex *x, const void *arg)
{
	x->arg = arg;
}
/* Position of (topic, partition) among the n elements, or -1. */
int tpindex_find(const struct tpindex *x, int n, const char *topic, int32_t partition);
/* Element n - 1 was appended (n elements now). */
void tpindex_added(struct tpindex *x, int n);
/* Element i of n is about to be removed by moving element n - 1 into its
 * place (nothing moves when i == n - 1). Call before the move. */
void tpindex_remove(struct tpindex *x, int i, int n);
void tpindex_free(struct tpindex *x);

#endif
