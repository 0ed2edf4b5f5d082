/*
 * named_parts.c — the partitions a Kafka request names more than once
 * (named_parts.h): a sort by topic, partition and place, then one pass
 * that compares neighbours.
 */
#include <stdlib.h>
#include <string.h>

#include "repl/named_parts.h"

static bool same_partition(const struct named_part *x, const struct named_part *y)
{
	return x->index == y->index && x->name.len == y->name.len &&
	       (x->name.len <= 0 || !memcmp(x->name.ptr, y->name.ptr, (size_t)x->name.len));
}

static int named_part_cmp(const void *a, const void *b)
{
	const struct named_part *x = a, *y = b;
	int c;

	if (x->name.len != y->name.len)
		return x->name.len < y->name.len ? -1 : 1;
	c = x->name.len > 0 ? memcmp(x->name.ptr, y->name.ptr, (size_t)x->name.len) : 0;
	if (c)
		return c;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int32_t named_parts_mark(struct named_part *refs, int32_t n, uint8_t *mark)
{
	int32_t again = 0;

	for (int32_t i = 0; i < n; i++)
		mark[refs[i].pos] = NAMED_ONCE;
	if (n < 2)
		return 0;
	qsort(refs, (size_t)n, sizeof(*refs), named_part_cmp);
	/* Equal partitions are neighbours, in request order: each but the
	 * last of a run is named again later. */
	for (int32_t i = 0; i + 1 < n; i++)
		if (same_partition(&refs[i], &refs[i + 1])) {
			mark[refs[i].pos] = NAMED_AGAIN;
			mark[refs[i + 1].pos] = NAMED_LAST;
			again++;
		}
	return again;
}
