/*
 * retention.c — Kafka's "delete" cleanup policy: whole closed segments
 * leave the log by age (retention.ms) or by size (retention.bytes), oldest
 * first, and the log start offset moves up to the first segment left.
 *
 * Rules (Kafka's UnifiedLog.deleteOldSegments):
 *   1. Only a prefix of the log goes: the walk stops at the first segment
 *      that must stay.
 *   2. The active segment goes only with every segment before it, when
 *      it is not empty and expired too (its upper bound the log end, so
 *      every record committed): a new empty segment is rolled at the log
 *      end first, since a log always has one (Kafka's deleteSegments rolls
 *      when it would delete them all), and the start moves to the log
 *      end. So an idle topic's records go retention.ms after the newest,
 *      as with Kafka, whatever segment.ms says. A quiet active segment
 *      (non-empty, older than segment.ms) is also rolled, so that its
 *      records age out on their own once newer ones follow.
 *   3. A segment goes only when all its records are below the high
 *      watermark (the next segment's base offset <= hw).
 *   4. By time: now - largest timestamp of the segment > retention.ms
 *      (-1: never). A segment whose records carry no timestamp (-1, a
 *      Kafka client may send it) is aged by its last append instead
 *      (Kafka's LogSegment.largestTimestamp falls back to the file's
 *      lastModified), so such records stay retention.ms as any; so is a
 *      segment with no record left (emptied by compaction), whose age the
 *      cleaner carries over from the segment it replaced (cleaner.c).
 *   5. By size: while the log minus the segment is still >= retention.bytes
 *      (-1: never).
 *
 * Deletion under readers: the segment is taken out of the list under the
 * log's lock, its files are renamed <file>.deleted (.log first: a log
 * without its .log is no segment, whatever else is left), and the last
 * seg_unref — the log's own, or a cursor's that was still reading it —
 * unlinks them. Positions never move: line positions live in the .lines of
 * the segments that stay; st_size (the hw's line position) is unchanged.
 *
 * Pages kept: the mount's readers through the page cache ask for whole
 * pages, so a `tail -f` that has read up to position p asks next for the
 * page that holds p, from that page's first byte. When the log start
 * moves into that page, its first bytes are of removed records and the
 * read would fail (ESTALE) although the reader wants only records still
 * there. So the line bytes of that page below the new start are read
 * before the records go (kept_capture, maint_lock held) and kept with the
 * log (l->head, at most a page), and a read at those positions gets them
 * (log_read_head): they are what those positions held, and positions
 * never change. The cleaner does the same for the page that holds the
 * end of the range it rewrites (l->cleaned), where a caught-up reader's
 * page can begin when the active segment is young. Pages wholly below the
 * start stay removed. The bytes are kept in memory only: after a restart
 * every open is new and starts at the log start.
 *
 * Delayed deletion (Kafka's file.delete.delay.ms): the renamed files
 * stay for file.delete.delay.ms after the removal (default 60000), the
 * log holding a reference to the segment (l->doomed), and the
 * scheduler's log_delete_due drops it once due, so the last reference
 * unlinks them as above. The segment is out of the list at once: reads,
 * offsets, positions and the log start are as without the delay. A
 * delay of 0 unlinks at the last reference as before. The log's end
 * (a clean stop, the topic deleted) unlinks them at once; after a crash
 * the open removes every .deleted file (log_open.c), as Kafka's
 * LogLoader.
 *
 * Crash safety: the log start offset is max(log-start-offset-checkpoint,
 * base of the first segment) at open, so a crash after any rename leaves a
 * consistent log; .deleted files and index files without their .log are
 * removed at open (log_open.c, cleaner.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/log_int.h"

int seg_mark_deleted(struct log *l, struct seg *s)
{
	static const char *ext[] = { ".log", ".index", ".timeindex", ".lines" };
	for (int e = 0; e < 4; e++) {
		char from[PATH_MAX + 32], to[PATH_MAX + 48];
		snprintf(from, sizeof(from), "%s%s", s->path, ext[e]);
		snprintf(to, sizeof(to), "%s%s.deleted", s->path, ext[e]);
		int r = l->io->rename(l->io->ctx, from, to);
		/* Without its .log renamed the segment is still whole: keep it.
		 * A later file that fails is an orphan index, removed at open. */
		if (r < 0 && e == 0)
			return r;
	}
	atomic_store(&s->deleted, true);
	return 0;
}

static int64_t page_bytes(void)
{
	long v = sysconf(_SC_PAGESIZE);

	return v > 0 && v <= 65536 ? v : 4096;
}

void kept_free(struct kept_bytes *k)
{
	free(k->buf);
	*k = (struct kept_bytes){ NULL, 0, 0 };
}

void kept_capture(struct log *l, int64_t from, int64_t to, struct kept_bytes *k)
{
	int64_t f = to - to % page_bytes(), a = from > f ? from : f, pos = a;
	char *buf;
	struct log_cursor *c;

	*k = (struct kept_bytes){ NULL, to, 0 };
	if (a >= to)
		return;
	buf = malloc((size_t)(to - a));
	c = buf ? log_cursor_new(l) : NULL;
	while (c && pos < to) {
		int64_t at = pos;
		ssize_t n = log_read_lines(l, c, pos, buf + (pos - a), (size_t)(to - pos), &at);

		if (n <= 0 || at >= to)
			break;
		if (at != pos) { /* a gap: only what follows it is contiguous */
			memmove(buf, buf + (pos - a), (size_t)n);
			a = at;
		}
		pos = at + n;
	}
	if (c)
		log_cursor_free(c);
	if (pos != to) {
		free(buf);
		return;
	}
	*k = (struct kept_bytes){ buf, a, (size_t)(to - a) };
}

/* After the start moved to the end of *k (lock held): *k becomes the
 * log's head, led by what the old head held of the same page. old_start:
 * the line start before the move. */
static void head_install(struct log *l, int64_t old_start, struct kept_bytes *k)
{
	struct kept_bytes *h = &l->head;
	int64_t end = k->pos + (int64_t)k->len;
	int64_t f = end - end % page_bytes();

	if (k->buf && k->pos == old_start && h->buf && h->pos + (int64_t)h->len == old_start &&
	    h->pos < k->pos && f < k->pos) {
		int64_t from = h->pos > f ? h->pos : f;
		size_t extra = (size_t)(k->pos - from);
		char *nb = malloc(extra + k->len);

		if (nb) {
			memcpy(nb, h->buf + (from - h->pos), extra);
			memcpy(nb + extra, k->buf, k->len);
			free(k->buf);
			*k = (struct kept_bytes){ nb, from, extra + k->len };
		}
	}
	kept_free(h);
	if (k->buf && l->line_start == end) {
		*h = *k;
		*k = (struct kept_bytes){ NULL, 0, 0 };
	}
	kept_free(k);
}

static size_t kept_copy(const struct kept_bytes *k, int64_t pos, char *buf, size_t size)
{
	int64_t end = k->pos + (int64_t)k->len;

	if (!k->buf || pos < k->pos || pos >= end)
		return 0;
	size_t n = (size_t)(end - pos);

	if (n > size)
		n = size;
	memcpy(buf, k->buf + (pos - k->pos), n);
	return n;
}

size_t log_read_head(struct log *l, int64_t pos, char *buf, size_t size)
{
	size_t n = 0;

	pthread_mutex_lock(&l->lock);
	if (l->head.pos + (int64_t)l->head.len == l->line_start)
		n = kept_copy(&l->head, pos, buf, size);
	/* The cleaner's page, unless retention has taken it all since. */
	if (n == 0 && l->cleaned.pos + (int64_t)l->cleaned.len > l->line_start)
		n = kept_copy(&l->cleaned, pos, buf, size);
	pthread_mutex_unlock(&l->lock);
	return n;
}

int retention_remove_head_locked(struct log *l, int n, struct seg **gone)
{
	int k = 0, rc = 0;
	if (n >= l->nsegs)
		n = l->nsegs - 1; /* a log keeps its active segment (rule 2) */
	for (; k < n; k++) {
		struct seg *s = l->segs[k];
		rc = seg_mark_deleted(l, s);
		if (rc < 0)
			break;
		gone[k] = s;
	}
	if (k > 0) {
		memmove(l->segs, l->segs + k, (size_t)(l->nsegs - k) * sizeof(*l->segs));
		l->nsegs -= k;
		if (l->segs[0]->base_offset > l->log_start_offset) {
			l->log_start_offset = l->segs[0]->base_offset;
			l->line_start = l->segs[0]->line_base;
		}
		if (l->hw < l->log_start_offset)
			l->hw = l->log_start_offset;
		if (l->first_dirty_offset < l->log_start_offset)
			l->first_dirty_offset = l->log_start_offset;
	}
	return k > 0 ? k : rc;
}

/* The first n segments out of the list (lock held): *gone (malloc'ed)
 * holds those that went; their count, or -errno. Fewer than n go only
 * when a rename fails; those that went stay gone. */
static int head_take(struct log *l, int n, struct seg ***gone)
{
	*gone = calloc((size_t)n, sizeof(**gone));
	if (!*gone)
		return -ENOMEM;
	return retention_remove_head_locked(l, n, *gone);
}

/* Keeps s's files until now + file.delete.delay.ms (lock held): the log
 * takes over the caller's reference; false (no memory) leaves it with
 * the caller. */
static bool doomed_push(struct log *l, struct seg *s, int64_t now)
{
	struct doomed_seg *nd =
		engine_grow(l->doomed, &l->doomed_cap, (size_t)l->ndoomed + 1, sizeof(*nd), 4);

	if (!nd)
		return false;
	l->doomed = nd;
	/* As Kafka's scheduled deletion: the delay as it was at the removal. */
	int64_t delay = l->cfg.file_delete_delay_ms;

	l->doomed[l->ndoomed++] =
		(struct doomed_seg){ s, delay < INT64_MAX - now ? now + delay : INT64_MAX };
	log_work_note(l);
	return true;
}

/* After head_take, with no lock: the removal made durable (an fsync
 * error goes to *rc unless it holds one), each file unlinked at its last
 * reference (a reader may still hold it), which the log keeps for
 * file.delete.delay.ms; the .log bytes freed. */
static int64_t head_release(struct log *l, struct seg **gone, int n, int *rc)
{
	int64_t freed = 0, now = engine_now_ms();

	if (n > 0) {
		int r = l->io->fsync_dir(l->io->ctx, l->dir);
		if (r < 0 && *rc >= 0)
			*rc = r;
	}
	for (int i = 0; i < n; i++) {
		bool kept;

		freed += atomic_load(&gone[i]->size);
		pthread_mutex_lock(&l->lock);
		kept = l->cfg.file_delete_delay_ms > 0 && doomed_push(l, gone[i], now);
		pthread_mutex_unlock(&l->lock);
		if (!kept)
			seg_unref(gone[i]);
	}
	free(gone);
	return freed;
}

int log_delete_due(struct log *l, int64_t now)
{
	struct seg **due;
	int n = 0, k = 0;

	pthread_mutex_lock(&l->lock);
	due = l->ndoomed > 0 ? malloc((size_t)l->ndoomed * sizeof(*due)) : NULL;
	for (int i = 0; due && i < l->ndoomed; i++) {
		struct doomed_seg *d = &l->doomed[i];

		if (now >= d->due_ms)
			due[n++] = d->s;
		else
			l->doomed[k++] = *d;
	}
	if (due)
		l->ndoomed = k;
	pthread_mutex_unlock(&l->lock);
	for (int i = 0; i < n; i++)
		seg_unref(due[i]);
	free(due);
	return n;
}

/* The first removed segment's due time (log_sched_next). Lock held. */
int64_t log_delete_next_due(const struct log *l)
{
	int64_t due = INT64_MAX;

	for (int i = 0; i < l->ndoomed; i++)
		if (l->doomed[i].due_ms < due)
			due = l->doomed[i].due_ms;
	return due;
}

/* Rule 2: rolls a quiet active segment. Lock held. */
static int roll_quiet_active(struct log *l, int64_t now)
{
	struct seg *a = log_active(l);
	/* Opened from disk, first_append_ms is 0: rule 4's age instead. */
	int64_t first = a->first_append_ms ? a->first_append_ms : seg_largest_ts(a);
	if (atomic_load(&a->size) == 0 || first <= 0 ||
	    now - first <= log_roll_age_ms(&l->cfg, l->dir, a->base_offset) || log_leo(l) != l->hw)
		return 0;
	return log_roll_locked(l);
}

/* How many segments of the head have expired (rules 1-5; lock held); the
 * active one counts only with_active (rule 2), its upper bound the log
 * end. */
static int expired_segments(struct log *l, int64_t now, bool with_active)
{
	const struct log_config *cfg = &l->cfg;
	int64_t total = 0;
	int n = 0, last = with_active ? l->nsegs : l->nsegs - 1;

	for (int i = 0; i < l->nsegs; i++)
		total += atomic_load(&l->segs[i]->size);
	for (; n < last; n++) {
		struct seg *s = l->segs[n];
		int64_t size = atomic_load(&s->size);
		int64_t upper = n + 1 < l->nsegs ? l->segs[n + 1]->base_offset : log_leo(l);

		if (upper > l->hw || (n + 1 == l->nsegs && size == 0))
			break;
		/* An empty segment (compaction emptied it) is aged by its last
		 * append too (seg_largest_ts: no record, so last_append_ms), as
		 * Kafka's largestTimestamp falls back to lastModified. */
		bool by_time =
			cfg->retention_ms >= 0 && now - seg_largest_ts(s) > cfg->retention_ms;
		bool by_size = cfg->retention_bytes >= 0 && total - size >= cfg->retention_bytes;
		if (!by_time && !by_size)
			break;
		total -= size;
	}
	return n;
}

/* Rule 2: when every segment has expired, the active one too, a new
 * active segment at the log end, so that the walk takes the old one with
 * the others. Lock held. */
static int roll_expired_active(struct log *l, int64_t now)
{
	if (expired_segments(l, now, true) < l->nsegs)
		return 0;
	return log_roll_locked(l);
}

int log_retention_run(struct log *l, int64_t now, struct log_retention_result *res)
{
	struct seg **gone = NULL;
	int n = 0, rc = 0;
	pthread_mutex_lock(&l->maint_lock);
	pthread_mutex_lock(&l->lock);
	const struct log_config *cfg = &l->cfg;
	if (l->deleted || l->damaged || !(cfg->cleanup_policy & LOG_CLEANUP_DELETE) ||
	    (cfg->retention_ms < 0 && cfg->retention_bytes < 0))
		goto unlock;
	if (cfg->retention_ms >= 0) {
		rc = roll_quiet_active(l, now);
		if (rc < 0)
			goto unlock;
	}
	rc = roll_expired_active(l, now);
	if (rc < 0)
		goto unlock;
	n = expired_segments(l, now, false);
	if (n == 0)
		goto unlock;
	/* The bytes of the new start's page below it, read without the lock;
	 * kept only if the same segments still go (appends may have come). */
	int64_t old_start = l->line_start, to = l->segs[n]->line_base;
	int64_t new_start = l->segs[n]->base_offset;
	struct kept_bytes hk;
	pthread_mutex_unlock(&l->lock);
	/* The producers of the batches that go are kept first (prodsnap.c);
	 * failing that, nothing goes. */
	rc = log_trim_notify(l, new_start);
	if (rc < 0) {
		pthread_mutex_lock(&l->lock);
		n = 0;
		goto unlock;
	}
	kept_capture(l, old_start, to, &hk);
	pthread_mutex_lock(&l->lock);
	int n2 = l->deleted || l->damaged ? 0 : expired_segments(l, now, false);
	/* Never past new_start, which the snapshot covers. */
	while (n2 > 0 && l->segs[n2]->base_offset > new_start)
		n2--;
	if (n2 != n || l->segs[n]->line_base != to) {
		kept_free(&hk);
		n = n2;
		if (n == 0)
			goto unlock;
	}
	rc = head_take(l, n, &gone);
	n = rc > 0 ? rc : 0;
	if (n > 0)
		head_install(l, old_start, &hk);
	else
		kept_free(&hk);
unlock:
	if (res) {
		res->segments = n;
		res->bytes = 0;
		res->log_start_offset = l->log_start_offset;
	}
	pthread_mutex_unlock(&l->lock);
	int64_t freed = head_release(l, gone, n, &rc);
	if (res)
		res->bytes = freed;
	pthread_mutex_unlock(&l->maint_lock);
	return rc < 0 ? rc : n;
}

/* The line position of offset as a log start (lock held). */
static int start_line(struct log *l, int64_t offset, int64_t *line)
{
	*line = log_line_end(l);
	return offset < log_leo(l) ? log_offset_to_pos_locked(l, offset, line) : 0;
}

int log_delete_records(struct log *l, int64_t offset, bool busy_ok, int64_t *start)
{
	struct seg **gone = NULL;
	int n = 0, rc = 0;
	bool moved = false;

	if (!busy_ok)
		pthread_mutex_lock(&l->maint_lock);
	else if (pthread_mutex_trylock(&l->maint_lock) != 0)
		return -EBUSY;
	pthread_mutex_lock(&l->lock);
	if (l->deleted || l->damaged)
		rc = l->deleted ? -ENOENT : -EIO;
	else if (!(l->cfg.cleanup_policy & LOG_CLEANUP_DELETE))
		rc = -EPERM;
	else if (offset < 0 || offset > l->hw)
		rc = -ERANGE;
	if (rc < 0 || offset <= l->log_start_offset)
		goto unlock;
	int64_t line, old_start = l->line_start;
	rc = start_line(l, offset, &line);
	if (rc < 0)
		goto unlock;
	/* The bytes of the new start's page below it (see kept_capture), read
	 * without the lock: nothing else moves the start meanwhile
	 * (maint_lock), and an append does not move the new start's line. */
	struct kept_bytes hk;
	pthread_mutex_unlock(&l->lock);
	/* The producers of the batches below offset are kept first
	 * (prodsnap.c); failing that, the start stays. */
	rc = log_trim_notify(l, offset);
	if (rc < 0) {
		pthread_mutex_lock(&l->lock);
		goto unlock;
	}
	kept_capture(l, old_start, line, &hk);
	pthread_mutex_lock(&l->lock);
	int64_t line2 = -1;
	if (l->deleted || l->damaged)
		rc = l->deleted ? -ENOENT : -EIO;
	else if (offset > l->hw) /* a truncation meanwhile */
		rc = -ERANGE;
	else
		rc = start_line(l, offset, &line2);
	if (rc < 0 || line2 != line) {
		kept_free(&hk);
		if (rc < 0)
			goto unlock;
		line = line2;
	}
	while (n + 1 < l->nsegs && l->segs[n + 1]->base_offset <= offset)
		n++;
	if (n > 0) {
		rc = head_take(l, n, &gone);
		n = rc > 0 ? rc : 0;
		if (rc == -ENOMEM) {
			kept_free(&hk);
			goto unlock;
		}
		rc = rc < 0 ? rc : 0;
	}
	/* The segments' removal moved the start to the first one left; the
	 * records below offset in it are skipped by every reader, which
	 * starts at the log start (line_start for the mount). */
	if (offset > l->log_start_offset) {
		l->log_start_offset = offset;
		l->line_start = line;
	}
	head_install(l, old_start, &hk);
	if (l->first_dirty_offset < l->log_start_offset)
		l->first_dirty_offset = l->log_start_offset;
	moved = true;
unlock:
	*start = l->log_start_offset;
	pthread_mutex_unlock(&l->lock);
	(void)head_release(l, gone, n, &rc);
	pthread_mutex_unlock(&l->maint_lock);
	log_start_fn *fn = __atomic_load_n(&l->start_fn, __ATOMIC_ACQUIRE);
	if (moved && fn)
		fn(l->start_arg, l->topic, l->partition, *start);
	return rc;
}

void log_set_start_listener(struct log *l, log_start_fn *fn, void *arg)
{
	l->start_arg = arg;
	__atomic_store_n(&l->start_fn, fn, __ATOMIC_RELEASE);
}
