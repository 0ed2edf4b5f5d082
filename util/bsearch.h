/*
 * bsearch.h — the binary searches of the tree: the last element of a
 * sorted sequence whose int64 key is <= a given key (Kafka's floor lookup:
 * the segment holding an offset, the index entry before a position), and
 * the element of a sequence sorted by name (strcmp) that has a name, or
 * where it would go (the broker's topic catalog, the set of armed
 * ZooKeeper watches).
 *
 * The sequence is whatever key_at reads: an array in memory, an array of
 * pointers, entries of a file. key_at(arg, i, &k) fills k for 0 <= i < n
 * and returns 0, or -errno, which ends the search with that error. Keys
 * must not decrease with i. Header only, so that a constant key_at is
 * inlined where the search runs on a hot path.
 */
#ifndef MQFS_UTIL_BSEARCH_H
#define MQFS_UTIL_BSEARCH_H

#include <stdint.h>
#include <string.h>

/* Index of the last element with key <= key, -1 when there is none (or
 * n <= 0), or the first -errno of key_at. O(log n) calls of key_at. */
static inline int64_t bsearch_last_le(int64_t n, int64_t key,
				      int (*key_at)(const void *arg, int64_t i, int64_t *k),
				      const void *arg)
{
	int64_t lo = 0, hi = n - 1, ans = -1;

	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2, k;
		int rc = key_at(arg, mid, &k);

		if (rc < 0)
			return rc;
		if (k <= key) {
			ans = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return ans;
}

/* Index of the element named key in a sequence sorted by strcmp of
 * name_at(arg, i), or -(its insertion point) - 1 when there is none. */
static inline int bsearch_name(int n, const char *key,
			       const char *(*name_at)(const void *arg, int i), const void *arg)
{
	int lo = 0, hi = n - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, c = strcmp(name_at(arg, mid), key);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

#endif
