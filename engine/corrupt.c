/*
 * corrupt.c — what a reader does when a batch on disk is not valid.
 *
 * Every path that decodes batches for a reader (the line view cursor, the
 * offset/position/time lookups, the cleaner, .dump) checks each batch in
 * full (batch_iter_init: header, CRC-32C, payload; then every record) and
 * on failure calls log_corrupt with the segment and the batch's position.
 * The read fails there with -EBADMSG; what came before it was good and
 * has been returned already.
 *
 * Once per batch: a reader retries (cat after cat, a consumer polling), so
 * each segment remembers up to SEG_BAD_SLOTS positions it has reported.
 * The first reader to claim a free slot for a position (compare and swap
 * from 0 to pos + 1) counts the batch in l->corrupt_batches and calls the
 * log's listener; everyone else finds the position and returns. A segment
 * with more bad batches than slots has the first SEG_BAD_SLOTS reported
 * and counted; its last report says so.
 *
 * Threads: lock-free (atomics only), so it may be called with the log's
 * lock held (lookups) or not (the cursor, the cleaner, .dump).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/log_int.h"

/* 1 if this call is the first to report pos in s, 2 if it is and it took
 * the last free slot, 0 if pos was reported before (or no slot is left). */
static int claim(struct seg *s, int64_t pos)
{
	for (int i = 0; i < SEG_BAD_SLOTS; i++) {
		int64_t want = 0;

		if (atomic_compare_exchange_strong(&s->bad_seen[i], &want, pos + 1))
			return i == SEG_BAD_SLOTS - 1 ? 2 : 1;
		if (want == pos + 1)
			return 0;
	}
	return 0;
}

void log_corrupt(struct log *l, struct seg *s, int64_t pos, const uint8_t *buf, size_t len)
{
	char why[160], file[PATH_MAX + 32];
	log_corrupt_fn *fn;
	int c = claim(s, pos);

	if (!c)
		return;
	atomic_fetch_add(&l->corrupt_batches, 1);
	fn = __atomic_load_n(&l->corrupt_fn, __ATOMIC_ACQUIRE);
	if (!fn)
		return;
	if (buf)
		batch_explain(buf, len, why, sizeof(why));
	else
		why[0] = '\0';
	if (!why[0])
		snprintf(why, sizeof(why), "%s",
			 buf ? "records do not match the .lines index"
			     : "batchLength does not give a whole batch inside the file");
	if (c == 2)
		snprintf(why + strlen(why), sizeof(why) - strlen(why),
			 " (further bad batches of this segment are not reported)");
	snprintf(file, sizeof(file), "%s.log%s", s->path, s->sfx);
	fn(l->corrupt_arg, l, file, pos, why);
}

void log_set_corrupt_listener(struct log *l, log_corrupt_fn *fn, void *arg)
{
	l->corrupt_arg = arg;
	__atomic_store_n(&l->corrupt_fn, fn, __ATOMIC_RELEASE);
}
