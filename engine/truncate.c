/*
 * truncate.c — cutting the log back so that it ends before an offset (a
 * follower's truncation, the rollback of a failed append, clearing a
 * fence).
 *
 * Steps (log_truncate_locked, l->lock held):
 *   1. whole segments at or past the offset go, newest first, their four
 *      files unlinked (the first segment never goes, it is cut instead);
 *   2. the now active segment is cut (seg_truncate_to) and its tail state
 *      reloaded from its files, with the start of its segment.ms age;
 *   3. everything that pointed past the new log end follows it: the hw
 *      (the only way it moves back) and its line position, the fence, the
 *      cleaner's first dirty offset, the recovery point and its
 *      checkpointed value;
 *   4. for a truncation the owner asks for (log_truncate_to, not the
 *      rollback of a failed append, which keeps the epoch its leader has
 *      just started), the epoch cache (epoch_cache_truncate_from_end),
 *      and a producer checkpoint past the cut (log_producer_checkpoint_cut);
 *   5. log_truncate_durable: fsync of the cut segment, then of the
 *      directory when whole segments went.
 * A truncation the owner asks for that cuts records holds maint_lock
 * first: no clean or retention runs meanwhile (the rollback of a failed
 * append, under the lock already, cuts only what it appended: nothing a
 * clean took).
 * l->truncations counts the calls, so that log_flush_closed and log_sync,
 * which fsync without the lock, do not advance the recovery point or the
 * synced offset over a cut.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "engine/log_int.h"

int log_truncate_locked(struct log *l, int64_t offset)
{
	int rc = 0;
	l->truncations++;
	/* Drop whole segments past the offset, newest first (never the first). */
	while (l->nsegs > 1 && log_active(l)->base_offset >= offset) {
		struct seg *s = log_active(l);
		static const char *ext[] = { ".log", ".index", ".timeindex", ".lines" };
		for (int k = 0; k < 4; k++) {
			char p[PATH_MAX + 16];
			snprintf(p, sizeof(p), "%s%s", s->path, ext[k]);
			l->io->unlink(l->io->ctx, p);
		}
		l->nsegs--;
		seg_set_active(s, false);
		seg_unref(s);
	}
	struct seg *s = log_active(l);
	/* On error the segment is either as it was (nothing to recompute:
	 * its files may lag its state, .lines entries still pending) or cut
	 * in memory, its .log's cut left to a retry: then its tail is
	 * recomputed from the files, which hold every entry by then. */
	int64_t size0 = atomic_load(&s->size);
	int trc = seg_truncate_to(s, offset, l->cfg.key_sep_len);
	if (trc < 0 && atomic_load(&s->size) == size0)
		return trc;
	if (trc == 0)
		seg_sync_err_cut(s, offset, l->synced_offset);
	s->tail_ok = true; /* it may have become the active one */
	seg_set_active(s, true);
	/* Recompute the active segment's tail from what is left. */
	int64_t prev_line_end = l->nsegs > 1 ? l->segs[l->nsegs - 2]->line_end : -1;
	rc = seg_load_tail(s, &l->lf, prev_line_end);
	if (rc < 0)
		return rc;
	/* segment.ms counts from the first batch left: with none, from the
	 * next append (the cut batches do not age it); a segment that becomes
	 * active here unaged (opened from disk), from its first batch. */
	if (atomic_load(&s->size) == 0)
		s->first_append_ms = 0;
	else
		seg_first_append_load(s);
	int64_t leo = s->next_offset;
	if (l->hw > leo) {
		l->hw = leo;
		__atomic_store_n(&l->line_hw, s->line_end, __ATOMIC_RELEASE);
	}
	if (l->fence >= leo)
		l->fence = -1;           /* the leftovers are gone */
	log_checked_cut(l, s->line_end); /* what follows is appended: checked */
	/* Positions past the cut will hold other records. */
	if (l->cleaned.buf && l->cleaned.pos + (int64_t)l->cleaned.len > s->line_end)
		kept_free(&l->cleaned);
	/* Records appended at the cut offsets next (a new leader's, after an
	 * unclean election) are dirty: their keys must reach the cleaner's
	 * offset map, or the older values they supersede, and those a new
	 * tombstone deletes, stay below the cut for ever (and come back once
	 * the tombstone is removed). The dirty range starts at a segment's
	 * base, so at the cut segment's (Kafka's maybeTruncateCheckpoint). */
	if (l->first_dirty_offset > leo)
		l->first_dirty_offset = s->base_offset;
	if (l->recovery_point > leo)
		l->recovery_point = leo;
	if (l->synced_offset > leo)
		l->synced_offset = leo;
	if (l->recovery_point_ckpt > leo)
		l->recovery_point_ckpt = leo;
	return trc;
}

/* A truncation the log's owner asked for (not a rollback): the epoch
 * cache follows the log end; durable makes the whole cut durable. */
static int log_truncate(struct log *l, int64_t offset, bool durable)
{
	bool maint = false;
	int nsegs0, rc;

	pthread_mutex_lock(&l->lock);
again:
	nsegs0 = l->nsegs;
	if (l->damaged) {
		rc = -EIO;
		goto out;
	}
	if (offset < l->log_start_offset) {
		rc = -ERANGE;
		goto out;
	}
	/* Nothing of the log to cut (Kafka's truncateTo at or past the log
	 * end), but the epoch cache all the same: an epoch this replica
	 * assigned as leader and appended nothing in starts at the log end,
	 * and a follower that kept it would ask its leader about it for
	 * ever (the leader never had it). The segments stay as they are (an
	 * empty active segment too: the leader rolled it). */
	if (offset >= log_leo(l)) {
		rc = epoch_cache_truncate_from_end(l, log_leo(l));
		goto out;
	}
	/* A cut is not made while a clean is under way (Kafka's truncateTo
	 * aborts and pauses the log's cleaning first): a clean works on
	 * segments it took before, without the lock, and would go on with
	 * those the cut removed or shortened, renaming their cleaned files
	 * back into the directory, swapping a shortened one's cleaned copy in
	 * whole, and raising the first dirty offset the cut lowered. So the
	 * cut waits for it (and retention waits for the cut, as for a reset,
	 * reset.c); maint_lock comes before the lock, and the log is looked
	 * at again once both are held. */
	if (!maint) {
		pthread_mutex_unlock(&l->lock);
		pthread_mutex_lock(&l->maint_lock);
		pthread_mutex_lock(&l->lock);
		maint = true;
		goto again;
	}
	/* A cut that fails half way (the files cut, the tail's reload out of
	 * memory or failing to read) leaves the segment's end state reset
	 * to its base: the log would take appends behind records still in
	 * its .log, under offsets they hold. Fenced as a failed append's
	 * rollback is (log_append_rollback): every append cuts again first,
	 * and nothing past the offset is committed meanwhile; the epochs
	 * that start there go all the same, since those records will. */
	rc = log_append_rollback(l, offset);
	if (rc < 0)
		(void)epoch_cache_truncate_from_end(l, offset);
	else
		rc = epoch_cache_truncate_from_end(l, log_leo(l));
	if (rc == 0)
		log_producer_checkpoint_cut(l, log_leo(l));
	/* The cut .log (and its indexes) first, then the directory that lost
	 * segments: until both are on disk a power cut could give back the
	 * records taken away. The epoch checkpoint was replaced durably. */
	if (rc == 0 && durable)
		rc = seg_flush(log_active(l));
	if (rc == 0 && durable && l->nsegs < nsegs0)
		rc = l->io->fsync_dir(l->io->ctx, l->dir);
out:
	pthread_mutex_unlock(&l->lock);
	if (maint)
		pthread_mutex_unlock(&l->maint_lock);
	return rc;
}

int log_truncate_to(struct log *l, int64_t offset)
{
	return log_truncate(l, offset, false);
}

int log_truncate_durable(struct log *l, int64_t offset)
{
	return log_truncate(l, offset, true);
}
