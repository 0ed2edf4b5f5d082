/*
 * cleaner_producers.c — which batches the cleaner keeps whole for the
 * idempotent producers: the last CLEANER_PRODUCER_BATCHES (5) batches of
 * every producer id in the log.
 *
 * Why: a leader rebuilds its producer state from the batch headers
 * (producer_state_load, after a restart or on a new leadership). The
 * newest batch of each producer gives the sequence its next batch must
 * follow. A producer has up to five requests in flight (librdkafka's and
 * Kafka's max.in.flight.requests.per.connection with idempotence): after
 * a failover it sends again each one the dead leader left unanswered, and
 * the new leader must answer each as a duplicate with its offsets, as
 * Kafka does from the five batches its producer state keeps (kept by its
 * follower before the election, so a clean does not touch them). Our
 * state comes from the log: a batch the clean re-encoded into runs, or
 * removed, matches no sequence sent again, and the resend would be
 * refused as out of order. Kafka's LogCleaner keeps only the last batch's
 * header (an empty batch when every record goes). Our batches cannot lose
 * records inside under one header: the line positions of a batch's
 * records are contiguous (seg.c's .lines), and a removed record leaves a
 * hole in them. So the cleaner keeps those batches whole, byte for byte
 * (same base offset, last offset delta, producer id, epoch and base
 * sequence); their records become cleanable once the producer has
 * written five later batches.
 *
 * The map: producer id -> base offsets of its last batches, from one scan
 * of the log's batch headers (log_scan_producers) before the clean,
 * sorted for a binary search. A producer that appends meanwhile only
 * makes a kept batch one that could have gone: nothing the state needs is
 * lost.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log_int.h"

struct scan_ctx {
	struct cleaner_producers *cp;
	int rc;
};

static int cmp_id(const void *a, const void *b)
{
	const struct cleaner_producer_last *x = a, *y = b;

	if (x->producer_id != y->producer_id)
		return x->producer_id < y->producer_id ? -1 : 1;
	/* Equal ids (runs of one producer between others'): in log order,
	 * so that merge() takes the newest last. */
	return x->base_offset[0] < y->base_offset[0] ? -1 : x->base_offset[0] > y->base_offset[0];
}

/* Appends base, the producer's next batch, to its newest bases. */
static void push(struct cleaner_producer_last *e, int64_t base)
{
	if (e->n == CLEANER_PRODUCER_BATCHES) {
		memmove(&e->base_offset[0], &e->base_offset[1],
			(CLEANER_PRODUCER_BATCHES - 1) * sizeof(e->base_offset[0]));
		e->n--;
	}
	e->base_offset[e->n++] = base;
}

/* Adds the later run `from` of the same producer to `to`. */
static void merge(struct cleaner_producer_last *to, const struct cleaner_producer_last *from)
{
	for (int i = 0; i < from->n; i++)
		push(to, from->base_offset[i]);
}

static void note(void *arg, const struct batch_producer_info *bi)
{
	struct scan_ctx *sc = arg;
	struct cleaner_producers *cp = sc->cp;

	if (sc->rc < 0 || bi->producer_id < 0)
		return;
	/* Most producers write many batches: keep one entry per run of the
	 * same id, and sort out the rest at the end. */
	if (cp->n > 0 && cp->e[cp->n - 1].producer_id == bi->producer_id) {
		push(&cp->e[cp->n - 1], bi->base_offset);
		return;
	}
	if (cp->n == cp->cap) {
		int cap = cp->cap ? cp->cap * 2 : 16;
		struct cleaner_producer_last *e = realloc(cp->e, (size_t)cap * sizeof(*e));

		if (!e) {
			sc->rc = -ENOMEM;
			return;
		}
		cp->e = e;
		cp->cap = cap;
	}
	cp->e[cp->n++] = (struct cleaner_producer_last){ .producer_id = bi->producer_id,
							 .n = 1,
							 .base_offset = { bi->base_offset } };
}

int cleaner_producers_load(struct log *l, struct cleaner_producers *cp)
{
	struct scan_ctx sc = { cp, 0 };
	int rc, w = 0;

	cp->n = 0;
	rc = log_scan_producers(l, -1, -1, note, &sc);
	if (rc == 0)
		rc = sc.rc;
	if (rc < 0) {
		cp->n = 0;
		return rc;
	}
	if (cp->n > 1) /* e is NULL with no producer: not for qsort */
		qsort(cp->e, (size_t)cp->n, sizeof(*cp->e), cmp_id);
	for (int i = 0; i < cp->n; i++)
		if (w == 0 || cp->e[w - 1].producer_id != cp->e[i].producer_id)
			cp->e[w++] = cp->e[i];
		else
			merge(&cp->e[w - 1], &cp->e[i]);
	cp->n = w;
	return 0;
}

bool cleaner_producers_is_last(const struct cleaner_producers *cp, int64_t producer_id,
			       int64_t base_offset)
{
	int lo = 0, hi = cp->n;

	if (producer_id < 0)
		return false;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (cp->e[mid].producer_id == producer_id) {
			for (int i = 0; i < cp->e[mid].n; i++)
				if (cp->e[mid].base_offset[i] == base_offset)
					return true;
			return false;
		}
		if (cp->e[mid].producer_id < producer_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

void cleaner_producers_free(struct cleaner_producers *cp)
{
	free(cp->e);
	cp->e = NULL;
	cp->n = cp->cap = 0;
}
