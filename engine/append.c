/*
 * append.c — what every append shares, whoever made its batches: writing
 * encoded batches at the end of the log in runs that fit the active
 * segment, rolling to a new segment between them, and the all-or-nothing
 * rule (invariant 5 of log.c): a failed append is cut back
 * (log_append_rollback) and, when the cut fails too, the log is fenced at
 * the append's first offset until a later cut succeeds (log_fence_clear).
 * The leader's append, which encodes records and assigns their offsets, is
 * append_leader.c.
 *
 * Rolling (should_roll): a new segment starts at the next batch's base
 * offset when the active one is not empty and the batch would take it past
 * segment.bytes (or 2 GiB), its largest timestamp is more than segment.ms
 * after the segment's first batch's (the wall clock since the first append
 * when that batch has no timestamp: roll_age_passed), an index is full (Kafka's isFull: one more entry would pass
 * segment.index.bytes), or a relative offset would not fit 32 bits. Each
 * rule holds batch by batch, inside one append's run of batches too (a
 * write() of many batches, a follower's fetch), so the segments depend on
 * the batches, not on how appends grouped them. The closed segment's .lines entries are written and its
 * mapped tail cut at once; its fsync is left to log_flush_closed.
 *
 * Locking: every function here runs with l->lock held, but log_rollback,
 * which takes it.
 */
#include <errno.h>

#include "engine/log_int.h"

/* Kafka's LogSegment.timeWaitedForRoll past the roll age, for a batch of
 * largest timestamp batch_ts going into s, whose first batch went in at
 * first_ms (0: not known, no roll by time) with largest timestamp roll_ts:
 * when that has a timestamp, the age is in record time (batch_ts -
 * roll_ts), so records a client sends with their own times (a replay of
 * old data) roll every segment.ms of those times, and a follower rolls
 * where its leader did; else the wall clock since the first append. A
 * batch older than the first one (or without a timestamp) waited less
 * than nothing: no roll, as Kafka's. */
static bool roll_age_passed(struct log *l, struct seg *s, int64_t first_ms, int64_t roll_ts,
			    int64_t batch_ts, int64_t now)
{
	if (!first_ms)
		return false;
	/* batch_ts >= -1 (the largest of the records', from -1) and
	 * roll_ts >= 0: no overflow. */
	int64_t waited = roll_ts >= 0 ? batch_ts - roll_ts : now - first_ms;
	return waited > log_roll_age_ms(&l->cfg, l->dir, s->base_offset);
}

static bool should_roll(struct log *l, struct seg *s, const struct batch_meta *m, int64_t now)
{
	int64_t size = atomic_load(&s->size);
	if (size == 0)
		return false;
	return size + m->size > l->cfg.segment_bytes || size + m->size > INT32_MAX ||
	       roll_age_passed(l, s, s->first_append_ms, s->roll_ts, m->max_ts, now) ||
	       seg_index_full(s->idx_entries, s->tidx_entries, l->cfg.segment_index_bytes) ||
	       m->last_offset - s->base_offset > INT32_MAX;
}

static int log_roll(struct log *l, int64_t base)
{
	struct seg *old = log_active(l), *s;
	/* The closed segment's .lines entries are written now (readers, the
	 * cleaner and retention see closed segments whole); its fsync is left
	 * to log_flush_closed() in the background, as Kafka flushes a rolled
	 * segment asynchronously: an fsync of a whole segment here would stall
	 * the append that rolled. The recovery point stays where it is. */
	int rc = seg_close_tidx(old, l->cfg.segment_index_bytes);
	if (rc == 0)
		rc = seg_lines_sync(old);
	if (rc == 0)
		rc = seg_tail_drop(old); /* a closed file ends where its log does */
	/* A segment the recovery point covers whole is trusted as it is on
	 * disk after a power cut, and no later flush looks at it: its cut
	 * must be durable now (only its size changed: a cheap fsync). */
	if (rc == 0 && old->next_offset <= l->recovery_point)
		rc = seg_flush(old);
	/* A compacted log's recovery keeps gaps between segments (a
	 * follower appends its leader's compacted batches, gaps and all,
	 * anywhere: append_follower.c, rule 3), so it cannot tell a rolled
	 * segment's tail lost at a power cut from compaction's gap and would
	 * keep the later segments past a hole of records that were there.
	 * Such a segment is made durable before the next one takes a record:
	 * whatever survives a power cut is a prefix. One fsync per segment,
	 * in logs whose volume compaction keeps small. */
	else if (rc == 0 && (l->cfg.cleanup_policy & LOG_CLEANUP_COMPACT))
		rc = seg_flush(old);
	if (rc == 0)
		rc = seg_create(l->io, l->fdc, l->dir, base, old->line_end, &s);
	if (rc == 0 && (rc = log_segs_push(l, s)) < 0)
		seg_unref(s);
	if (rc < 0) {
		(void)seg_drop_final_tidx(old, &l->lf); /* it stays the active one */
		return rc;
	}
	if (l->cfg.preallocate)
		seg_preallocate(s, l->cfg.segment_bytes);
	old->tail_ok = false;
	s->tail_ok = true;
	seg_set_active(old, false);
	seg_set_active(s, true);
	return 0;
}

int log_roll_locked(struct log *l)
{
	return log_roll(l, log_leo(l));
}

/* Notes where the batches meta[0..nb) began (lock held): l->pos_hint.
 * Only a batch holding records names its first record's line position
 * (an empty batch's offset maps to a later record's). */
static void pos_hint_note(struct log *l, const struct batch_meta *meta, int nb)
{
	for (int i = 0; i < nb; i++) {
		if (meta[i].line_bytes <= 0)
			continue;
		int k = l->pos_hint_next;
		l->pos_hint[k].offset = meta[i].base_offset;
		l->pos_hint[k].pos = meta[i].first_line_pos;
		l->pos_hint[k].stamp = l->truncations + 1;
		l->pos_hint_next = (k + 1) % LOG_POS_HINTS;
		return;
	}
}

/* The pieces of iov that hold bytes [off, off + len) of their
 * concatenation, into out; their number. */
static int iov_slice(const struct iovec *iov, int niov, size_t off, size_t len, struct iovec *out)
{
	int k = 0;

	for (int i = 0; i < niov && len > 0; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t n = iov[i].iov_len - off < len ? iov[i].iov_len - off : len;
		out[k++] = (struct iovec){ (char *)iov[i].iov_base + off, n };
		len -= n;
		off = 0;
	}
	return k;
}

/* Writes nb encoded batches (buf, meta) at the end of the log: runs of
 * batches that fit in the active segment, rolling between them. */
int log_write_batchesv(struct log *l, const struct iovec *iov, int niov,
		       const struct batch_meta *meta, int nb, int64_t now)
{
	size_t off = 0;
	int64_t line0 = log_line_end(l);

	for (int i = 0; i < nb;) {
		struct seg *s = log_active(l);
		if (should_roll(l, s, &meta[i], now)) {
			int rc = log_roll(l, meta[i].base_offset);
			if (rc < 0)
				return rc;
			s = log_active(l);
		}
		/* A run ends where should_roll would roll were its batches
		 * appended one by one (a write() of many batches, a follower's
		 * fetch): at the size, offset, record time and index bounds
		 * alike, so an index never passes segment.index.bytes and the
		 * segments are the same however the batches were grouped. An
		 * empty segment's start is the run's first batch. */
		int j = i;
		int64_t run = 0, sz = atomic_load(&s->size);
		int64_t first_ms = sz == 0 ? now : s->first_append_ms;
		int64_t roll_ts = sz == 0 ? meta[i].max_ts : s->roll_ts;
		do {
			run += meta[j].size;
			j++;
		} while (j < nb && sz + run + meta[j].size <= l->cfg.segment_bytes &&
			 sz + run + meta[j].size <= INT32_MAX &&
			 meta[j].last_offset - s->base_offset <= INT32_MAX &&
			 !roll_age_passed(l, s, first_ms, roll_ts, meta[j].max_ts, now));
		for (int k = i + seg_index_room(s, &meta[i], j - i, l->cfg.index_interval_bytes,
						l->cfg.segment_index_bytes);
		     j > k;)
			run -= meta[--j].size;
		if (!s->first_append_ms) {
			s->first_append_ms = now;
			s->roll_ts = meta[i].max_ts;
		}
		s->last_append_ms = now;
		struct iovec v[IO_IOV_MAX];
		int nv = iov_slice(iov, niov, off, (size_t)run, v);
		int rc = seg_appendv(s, v, nv, &meta[i], j - i, l->cfg.index_interval_bytes);
		if (rc < 0)
			return rc;
		off += (size_t)run;
		i = j;
	}
	pos_hint_note(l, meta, nb);
	/* Every path here checked its batches first (corrupt.c). */
	log_checked_locked(l, line0, log_line_end(l));
	return 0;
}

int log_write_batches(struct log *l, const uint8_t *buf, const struct batch_meta *meta, int nb,
		      int64_t now)
{
	struct iovec v = { (void *)(uintptr_t)buf, 0 };

	for (int i = 0; i < nb; i++)
		v.iov_len += (size_t)meta[i].size;
	return log_write_batchesv(l, &v, 1, meta, nb, now);
}

/* Cuts a failed append back to start (lock held). When the cut fails the
 * log is fenced there (invariant 5): the records it leaves must never be
 * committed, nor anything be appended behind them. */
int log_append_rollback(struct log *l, int64_t start)
{
	int rc = log_truncate_locked(l, start);

	if (rc < 0 && (l->fence < 0 || start < l->fence))
		l->fence = start;
	return rc;
}

/* Before an append on a fenced log: the cut again. 0 or -EIO. */
int log_fence_clear(struct log *l)
{
	if (log_truncate_locked(l, l->fence) < 0)
		return -EIO;
	l->fence = -1;
	return 0;
}

int log_rollback(struct log *l, int64_t offset)
{
	pthread_mutex_lock(&l->lock);
	int rc = offset < l->hw         ? -ERANGE
		 : offset >= log_leo(l) ? 0
					: log_append_rollback(l, offset);
	pthread_mutex_unlock(&l->lock);
	return rc;
}
