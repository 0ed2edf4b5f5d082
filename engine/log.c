/*
 * log.c — one partition replica's log: the list of segments, its
 * lifecycle (references), the high watermark, flush and the recovery
 * point, state and configuration.
 *
 * The log's other seams have files of their own:
 *   log_open.c       open and recovery at start, the damage checks
 *   epoch.c          the leader epoch cache (leader-epoch-checkpoint)
 *   writing:
 *   append.c         what every append shares: writing encoded batches at
 *                    the log end, rolling, rollback and the fence
 *   append_leader.c  the leader's append: records encoded into batches
 *                    (in parts shared with helper threads), offsets and
 *                    the leader epoch assigned here
 *   truncate.c       truncation to an offset
 *   reading:
 *   lookup.c         segment and record lookups by offset, line position
 *                    and time
 *   cursor.c         the line view's reader
 *   render.c         the .index, .timeindex and .dump texts
 *   corrupt.c        corrupt batches that readers find, reported once;
 *                    the mark of batches checked since open
 *   maintenance:
 *   retention.c, cleaner.c  deletion and compaction
 *
 * Invariants (checked by tests/unit/test_log.c):
 *   1. log_start_offset <= hw <= leo; line_start <= line_hw <= line_end.
 *      hw never moves back, except through a truncation (truncate.c), to
 *      the new log end. recovery_point <= leo, but in a damaged log (see
 *      log_open.c).
 *   2. Segments are sorted by base offset; each segment's records lie in
 *      [base_offset, next segment's base_offset).
 *   3. The last segment is the active one; only it is appended to.
 *   4. A cursor returns records with offset < hw only (cursor.c).
 *   5. An append is all or nothing: on error every file is cut back; if
 *      that fails too, the log is fenced at the append's first offset (the
 *      hw stays at or below it, appends fail with -EIO) until a later
 *      append manages the cut (append.c).
 *   6. recovery_point <= synced_offset <= leo (but in a damaged log, as
 *      in 1). Below synced_offset the .log bytes are durable (log_sync:
 *      one fdatasync of the .log, what fsync() on a partition file
 *      costs). Below the recovery point whole segments are durable, .log
 *      and sidecars: only log_flush and log_flush_closed move it, after
 *      fsyncing all four files of every segment they cover. Recovery
 *      trusts the segments below the checkpointed recovery point and
 *      rescans every segment above it after an unclean stop, rebuilding
 *      .index, .timeindex and .lines from the .log (seg.c, "Durability").
 *
 * Locking: l->lock guards the segment list, the appender state of the
 * active segment, hw, the epoch cache and the configuration; maint_lock
 * (retention, compaction) is taken before it, never while holding it.
 * Cursors take l->lock only to snapshot hw and to move between segments;
 * they read segment files with pread and the atomically published
 * seg->size and seg->lines_entries. log_flush_closed fsyncs closed
 * segments without the lock, log_sync its .log files (sync_busy marks
 * the one in flight; other callers wait on sync_cv under the lock).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/log_int.h"
#include "util/clock.h"
#include "util/diskwait.h"

int64_t (*engine_now_ms)(void) = now_real_ms;
void (*engine_log)(int level, const char *fmt, ...);

void log_ref(struct log *l)
{
	atomic_fetch_add(&l->refs, 1);
}

void log_unref(struct log *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	for (int i = 0; i < l->nsegs; i++)
		seg_unref(l->segs[i]);
	free(l->segs);
	/* Files waiting out file.delete.delay.ms go with the log (a clean
	 * stop, the topic deleted); after a crash the next open removes
	 * them (log_open.c). */
	for (int i = 0; i < l->ndoomed; i++)
		seg_unref(l->doomed[i].s);
	free(l->doomed);
	kept_free(&l->head);
	kept_free(&l->cleaned);
	free(l->epochs);
	ra_budget_unref(l->rab);
	seg_cache_unref(l->fdc);
	pthread_rwlock_destroy(&l->listen_lock);
	pthread_cond_destroy(&l->sync_cv);
	pthread_mutex_destroy(&l->maint_lock);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

int log_segs_push(struct log *l, struct seg *s)
{
	struct seg **ns = engine_grow(l->segs, &l->segs_cap, (size_t)l->nsegs + 1, sizeof(*ns), 8);
	if (!ns)
		return -ENOMEM;
	l->segs = ns;
	l->segs[l->nsegs++] = s;
	log_work_note(l);
	return 0;
}

void log_work_note(struct log *l)
{
	log_work_fn *fn = __atomic_load_n(&l->work_fn, __ATOMIC_ACQUIRE);

	if (fn)
		fn(l->work_arg);
}

void log_set_work_listener(struct log *l, log_work_fn *fn, void *arg)
{
	l->work_arg = arg;
	__atomic_store_n(&l->work_fn, fn, __ATOMIC_RELEASE);
}

int log_tail_close(struct log *l)
{
	pthread_mutex_lock(&l->lock);
	/* A fenced log's leftovers go before a clean stop: after a restart
	 * the records above the checkpointed hw count as committed. */
	int rc = l->fence >= 0 ? log_fence_clear(l) : 0;
	struct seg *s = log_active(l);
	if (rc == 0 && (s->tail_ext || s->lines_ext)) {
		rc = seg_tail_drop(s);
		if (rc == 0)
			rc = seg_flush(s); /* the cut size is durable too */
	}
	s->tail_ok = false;
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int log_flush_closed(struct log *l)
{
	struct seg *todo[64];
	int n = 0, rc = 0;
	pthread_mutex_lock(&l->lock);
	int64_t upto = log_active(l)->base_offset;
	for (int i = 0; i < l->nsegs - 1 && n < 64; i++) {
		if (l->segs[i]->next_offset > l->recovery_point) {
			todo[n++] = l->segs[i];
			seg_ref(l->segs[i]);
		}
	}
	if (n == 64)
		upto = todo[63]->next_offset;
	uint64_t truncations = l->truncations;
	pthread_mutex_unlock(&l->lock);
	/* Closed segments take no appends: fsync them without the lock, so
	 * appends to the active segment go on meanwhile. */
	for (int i = 0; i < n; i++) {
		if (rc == 0)
			rc = seg_flush(todo[i]);
		seg_unref(todo[i]);
	}
	if (rc == 0 && n > 0) {
		pthread_mutex_lock(&l->lock);
		if (l->truncations == truncations && l->recovery_point < upto) {
			l->recovery_point = upto;
			if (l->synced_offset < upto)
				l->synced_offset = upto;
		}
		pthread_mutex_unlock(&l->lock);
	}
	return rc;
}

int log_set_hw(struct log *l, int64_t hw)
{
	pthread_mutex_lock(&l->lock);
	int64_t leo = log_leo(l);
	if (hw > leo)
		hw = leo;
	if (l->fence >= 0 && hw > l->fence)
		hw = l->fence; /* leftovers of a failed append */
	if (hw < l->log_start_offset)
		hw = l->log_start_offset;
	bool moved = false;
	int rc = 0;
	/* Readers may already have been given the records below l->hw: only a
	 * truncation (log_truncate_to) may take it back. Concurrent commits
	 * can arrive out of order, and an older, lower one is a no-op. */
	if (hw > l->hw) {
		int64_t pos;
		if (hw == leo)
			pos = log_line_end(l);
		else if ((rc = log_offset_to_pos_locked(l, hw, &pos)) < 0)
			goto out;
		l->hw = hw;
		__atomic_store_n(&l->line_hw, pos, __ATOMIC_RELEASE);
		moved = true;
	}
out:
	pthread_mutex_unlock(&l->lock);
	if (moved)
		log_notify_hw(l);
	return rc;
}

int log_set_follower_hw(struct log *l, int64_t leader_hw)
{
	/* log_set_hw clamps to the LEO, which is the follower's rule: it
	 * cannot have committed what it does not hold. */
	return log_set_hw(l, leader_hw);
}

/* ---- listeners ----
 * A notification holds listen_lock for reading while it calls, so that a
 * removal (which takes it for writing) returns only once no call is in
 * flight. glibc's rwlocks prefer readers by default, so a listener that
 * moves the hw of the same log (a nested read lock) does not deadlock.
 * The counts are atomic for listeners_call's look without the lock. */

static int listener_add(struct log *l, struct log_listener *v, atomic_int *n, log_listener_fn *fn,
			void *arg)
{
	int rc = 0;

	pthread_rwlock_wrlock(&l->listen_lock);
	for (int i = 0; i < *n && rc == 0; i++)
		if (v[i].fn == fn && v[i].arg == arg)
			rc = -EEXIST;
	if (rc == 0 && *n == LOG_LISTENERS_MAX)
		rc = -ENOSPC;
	if (rc == 0)
		v[(*n)++] = (struct log_listener){ fn, arg };
	pthread_rwlock_unlock(&l->listen_lock);
	return rc;
}

static void listener_remove(struct log *l, struct log_listener *v, atomic_int *n,
			    log_listener_fn *fn, void *arg)
{
	pthread_rwlock_wrlock(&l->listen_lock);
	for (int i = 0; i < *n; i++) {
		if (v[i].fn == fn && v[i].arg == arg) {
			memmove(&v[i], &v[i + 1], (size_t)(*n - i - 1) * sizeof(*v));
			(*n)--;
			break;
		}
	}
	pthread_rwlock_unlock(&l->listen_lock);
}

static void listeners_call(struct log *l, const struct log_listener *v, atomic_int *n)
{
	/* None (a leo listener on a single node): no lock for every write. A
	 * listener added meanwhile is called from the next notification, as
	 * it would be had this one taken the lock first. */
	if (atomic_load_explicit(n, memory_order_relaxed) == 0)
		return;
	pthread_rwlock_rdlock(&l->listen_lock);
	for (int i = 0; i < *n; i++)
		v[i].fn(v[i].arg, l);
	pthread_rwlock_unlock(&l->listen_lock);
}

int log_add_hw_listener(struct log *l, log_listener_fn *fn, void *arg)
{
	return listener_add(l, l->hw_fns, &l->n_hw_fns, fn, arg);
}

void log_remove_hw_listener(struct log *l, log_listener_fn *fn, void *arg)
{
	listener_remove(l, l->hw_fns, &l->n_hw_fns, fn, arg);
}

int log_add_leo_listener(struct log *l, log_listener_fn *fn, void *arg)
{
	return listener_add(l, l->leo_fns, &l->n_leo_fns, fn, arg);
}

void log_remove_leo_listener(struct log *l, log_listener_fn *fn, void *arg)
{
	listener_remove(l, l->leo_fns, &l->n_leo_fns, fn, arg);
}

void log_notify_hw(struct log *l)
{
	listeners_call(l, l->hw_fns, &l->n_hw_fns);
}

void log_notify_leo(struct log *l)
{
	listeners_call(l, l->leo_fns, &l->n_leo_fns);
}

int log_flush(struct log *l, int64_t upto)
{
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	int64_t leo = log_leo(l);
	if (upto < 0 || upto > leo)
		upto = leo;
	if (upto > l->recovery_point) {
		for (int i = 0; i < l->nsegs && rc == 0; i++)
			if (l->segs[i]->next_offset > l->recovery_point)
				rc = seg_flush(l->segs[i]);
		if (rc == 0) {
			l->recovery_point = upto;
			if (l->synced_offset < upto)
				l->synced_offset = upto;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* ---- log_sync: durable records at the cost of one fdatasync ----
 *
 *   1. upto is fixed at the call (the LEO then): the caller's records.
 *   2. While another sync is in flight (sync_busy), wait for it; it may
 *      cover upto when it ends.
 *   3. Not covered and nobody syncing: this caller syncs for everyone.
 *      Its target is the LEO now, which covers every record appended
 *      before any waiter called, so the waiters need nothing more.
 *   4. Without the lock, fdatasync the .log of each segment holding
 *      records in [synced_offset, target): the active one in the steady
 *      state, the closed ones too when a roll came since. A rolled
 *      segment's directory entry is durable already (seg_create fsyncs
 *      the directory).
 *   5. With the lock: synced_offset = target unless a truncation came
 *      meanwhile (then the cut offsets may hold new, unsynced records,
 *      and the caller starts again); wake the waiters.
 * So N concurrent callers cost at most two fdatasyncs: the one in flight
 * when they came and one for all of them. The sidecars are left to
 * log_flush and log_flush_closed (recovery rebuilds them above the
 * recovery point), and the recovery point does not move. */
#define LOG_SYNC_SEGS 16

int log_sync(struct log *l, int64_t upto)
{
	struct seg *todo[LOG_SYNC_SEGS];
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	int64_t leo = log_leo(l);
	if (upto < 0 || upto > leo)
		upto = leo;
	for (;;) {
		if (upto > log_leo(l))
			upto = log_leo(l); /* truncated below the caller's records */
		if (l->synced_offset >= upto)
			break;
		if (l->sync_busy) {
			l->sync_waiters++;
			pthread_cond_wait(&l->sync_cv, &l->lock);
			l->sync_waiters--;
			continue;
		}
		l->sync_busy = true;
		int64_t from = l->synced_offset, target = log_leo(l);
		int n = 0;
		for (int i = 0; i < l->nsegs && n < LOG_SYNC_SEGS; i++) {
			struct seg *s = l->segs[i];
			if (s->next_offset > from && s->base_offset < target) {
				seg_ref(s);
				todo[n++] = s;
			}
		}
		if (n == LOG_SYNC_SEGS && todo[n - 1]->next_offset < target)
			target = todo[n - 1]->next_offset; /* the rest next round */
		uint64_t truncations = l->truncations;
		pthread_mutex_unlock(&l->lock);
		diskwait_begin(); /* the caller's thread sleeps in the fdatasync */
		for (int i = 0; i < n; i++) {
			if (rc == 0)
				rc = seg_sync_log(todo[i]);
			seg_unref(todo[i]);
		}
		pthread_mutex_lock(&l->lock);
		l->sync_busy = false;
		if (rc == 0 && l->truncations == truncations && l->synced_offset < target)
			l->synced_offset = target;
		pthread_cond_broadcast(&l->sync_cv);
		if (rc < 0)
			break;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void log_get_hw(struct log *l, int64_t *hw, int64_t *line_hw)
{
	pthread_mutex_lock(&l->lock);
	if (hw)
		*hw = l->hw;
	if (line_hw)
		*line_hw = l->line_hw;
	pthread_mutex_unlock(&l->lock);
}

int64_t log_get_end(struct log *l)
{
	pthread_mutex_lock(&l->lock);
	int64_t leo = log_leo(l);
	pthread_mutex_unlock(&l->lock);
	return leo;
}

int64_t log_modified_ms(struct log *l)
{
	struct stat st;
	int64_t ms = -1;

	pthread_mutex_lock(&l->lock);
	/* The active segment is pinned while active: its descriptors are
	 * open (seg.c). */
	if (l->nsegs > 0 && log_active(l)->log_fd >= 0 && fstat(log_active(l)->log_fd, &st) == 0)
		ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	pthread_mutex_unlock(&l->lock);
	return ms;
}

int64_t log_get_start(struct log *l)
{
	pthread_mutex_lock(&l->lock);
	int64_t start = l->log_start_offset;
	pthread_mutex_unlock(&l->lock);
	return start;
}

/* (lock held) */
static void offsets_locked(struct log *l, struct log_offsets *o)
{
	o->log_start_offset = l->log_start_offset;
	o->hw = l->hw;
	o->log_end_offset = log_leo(l);
	o->line_start = l->line_start;
	o->synced_offset = l->synced_offset;
	o->leader_epoch = l->nepochs ? l->epochs[l->nepochs - 1].epoch : -1;
	o->dropped = l->deleted;
}

void log_get_state(struct log *l, struct log_state *st)
{
	struct log_offsets o;

	pthread_mutex_lock(&l->lock);
	offsets_locked(l, &o);
	st->log_start_offset = o.log_start_offset;
	st->hw = o.hw;
	st->log_end_offset = o.log_end_offset;
	st->recovery_point = l->recovery_point;
	st->synced_offset = o.synced_offset;
	st->line_start = o.line_start;
	st->line_hw = l->line_hw;
	st->line_end = log_line_end(l);
	st->leader_epoch = o.leader_epoch;
	st->segments = l->nsegs;
	st->size_bytes = 0;
	for (int i = 0; i < l->nsegs; i++)
		st->size_bytes += atomic_load(&l->segs[i]->size);
	st->records = st->log_end_offset - st->log_start_offset;
	st->recovered_segments = l->recovered_segments;
	st->recovery_truncated = l->recovery_truncated;
	st->recovery_ms = l->recovery_ms;
	st->corrupt_batches = atomic_load(&l->corrupt_batches);
	st->line_checked = atomic_load(&l->line_checked);
	if (st->line_checked >= atomic_load(&l->line_open_end))
		st->line_checked = log_line_end(l); /* the rest appended since */
	st->damaged = l->damaged;
	st->first_dirty_offset = l->first_dirty_offset > l->log_start_offset ? l->first_dirty_offset
									     : l->log_start_offset;
	st->fence = l->fence;
	st->dropped = o.dropped;
	pthread_mutex_unlock(&l->lock);
}

void log_get_offsets(struct log *l, struct log_offsets *o)
{
	pthread_mutex_lock(&l->lock);
	offsets_locked(l, o);
	pthread_mutex_unlock(&l->lock);
}

void log_get_config(struct log *l, struct log_config *out)
{
	pthread_mutex_lock(&l->lock);
	*out = l->cfg;
	pthread_mutex_unlock(&l->lock);
}

int log_reconfigure(struct log *l, const struct log_config *cfg)
{
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	bool lf_changed = cfg->key_sep_len != l->cfg.key_sep_len ||
			  memcmp(cfg->key_sep, l->cfg.key_sep, (size_t)cfg->key_sep_len) != 0 ||
			  cfg->line_format != l->cfg.line_format;
	if (lf_changed && log_line_end(l) > 0) {
		rc = -EBUSY;
	} else {
		l->cfg = *cfg;
		/* Cursors read lf without the lock while they render lines:
		 * it is written only while the log has no line to render
		 * (a store of the same bytes under a reader is a data race
		 * too, and any setting comes through here). */
		if (lf_changed)
			line_fmt_of(cfg, &l->lf);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

bool log_ever_written(struct log *l)
{
	pthread_mutex_lock(&l->lock);
	bool w = log_leo(l) > 0;
	pthread_mutex_unlock(&l->lock);
	return w;
}

int log_segments(struct log *l, int64_t **bases, int *n)
{
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	int64_t *b = malloc((size_t)l->nsegs * sizeof(*b));
	if (!b) {
		rc = -ENOMEM;
	} else {
		for (int i = 0; i < l->nsegs; i++)
			b[i] = l->segs[i]->base_offset;
		*bases = b;
		*n = l->nsegs;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}
