/*
 * named_parts.h — the partitions a Kafka request names more than once.
 * Private to repl/.
 *
 * Kafka's broker reads a request's partitions into a map keyed by topic
 * and partition, so an entry named again is not served twice: Produce
 * and Fetch keep the last entry (a LinkedHashMap whose later put replaces
 * the value), ListOffsets v1+ answers every entry of a duplicated
 * partition INVALID_REQUEST (its duplicatePartitions set). Each handler
 * fills an array of struct named_part, topic after topic, and asks
 * named_parts_mark which entries are duplicates.
 *
 * Nothing here keeps state beyond its arguments.
 */
#ifndef MQFS_REPL_NAMED_PARTS_H
#define MQFS_REPL_NAMED_PARTS_H

#include <stdint.h>

#include "repl/kbuf.h"

struct named_part {
	struct kstr name;
	int32_t index;
	int32_t pos; /* the entry's place in the request, topic after topic */
};

enum named_mark {
	NAMED_ONCE = 0, /* the only entry of its partition */
	NAMED_AGAIN,    /* a later entry names the same partition */
	NAMED_LAST,     /* the last of the entries of a partition named again */
};

/* Sorts refs (n entries, their pos 0..n-1) and sets mark[pos] for each:
 * O(n log n) for the 200000 partitions a request may hold. Returns how
 * many entries a later entry names again (0: no duplicates). */
int32_t named_parts_mark(struct named_part *refs, int32_t n, uint8_t *mark);

#endif
