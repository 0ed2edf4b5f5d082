/*
 * log.c — one partition replica's log: an ordered list of segments, the
 * append path (batch building in parts shared with helper threads, rolling),
 * the high watermark, the leader epoch cache, and the line view's reader
 * (cursors).
 *
 * Invariants (checked by tests/unit/test_log.c):
 *   1. log_start_offset <= hw <= leo; line_start <= line_hw <= line_end.
 *      hw only grows, except through a truncation (log_truncate_to).
 *      recovery_point <= leo, but in a damaged log (see open).
 *   2. Segments are sorted by base offset; each segment's records lie in
 *      [base_offset, next segment's base_offset).
 *   3. The last segment is the active one; only it is appended to.
 *   4. A cursor returns records with offset < hw only, each line whole and
 *      in offset order, from the position it was asked for.
 *   5. An append is all or nothing: on error every file is cut back; if
 *      that fails too, the log is fenced at the append's first offset (the
 *      hw stays at or below it, appends fail with -EIO) until a later
 *      append manages the cut.
 *
 * Locking: l->lock guards the segment list, the appender state of the
 * active segment, hw, the epoch cache and the configuration. Cursors take
 * it only to snapshot hw and to move between segments; they read segment
 * files with pread and the atomically published seg->size and
 * seg->lines_entries.
 *
 * leader-epoch-checkpoint (Kafka's format): "0\n", the entry count, then
 * "epoch start_offset" lines, oldest first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/log_int.h"
#include "util/bsearch.h"
#include "util/clock.h"

int64_t (*engine_now_ms)(void) = now_real_ms;
void (*engine_log)(int level, const char *fmt, ...);

static int offset_to_pos_locked(struct log *l, int64_t offset, int64_t *pos);
static int fence_clear(struct log *l);

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
	free(l->epochs);
	ra_budget_unref(l->rab);
	seg_cache_unref(l->fdc);
	pthread_mutex_destroy(&l->maint_lock);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static int segs_push(struct log *l, struct seg *s)
{
	if (l->nsegs == l->segs_cap) {
		int nc = l->segs_cap ? l->segs_cap * 2 : 8;
		struct seg **ns = realloc(l->segs, (size_t)nc * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		l->segs = ns;
		l->segs_cap = nc;
	}
	l->segs[l->nsegs++] = s;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* ---- epoch cache ---- */

static int epochs_write(struct log *l)
{
	size_t cap = 32 + (size_t)l->nepochs * 40;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	int n = snprintf(buf, cap, "0\n%d\n", l->nepochs);
	for (int i = 0; i < l->nepochs; i++)
		n += snprintf(buf + n, cap - (size_t)n, "%" PRId32 " %" PRId64 "\n",
			      l->epochs[i].epoch, l->epochs[i].start_offset);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", l->dir);
	int rc = io_write_file_atomic(l->io, path, buf, (size_t)n);
	free(buf);
	return rc;
}

static int epochs_begin(void *arg, int count)
{
	struct log *l = arg;

	l->epochs = calloc((size_t)count + 1, sizeof(*l->epochs));
	return l->epochs ? 0 : -ENOMEM;
}

/* "epoch start_offset", both increasing */
static int epochs_entry(void *arg, const char *p, int *used, const char **why)
{
	struct log *l = arg;
	struct epoch_ent e;

	if (sscanf(p, "%" SCNd32 " %" SCNd64 "\n%n", &e.epoch, &e.start_offset, used) < 2)
		*why = "not \"epoch start_offset\"";
	else if (e.epoch < 0 || e.start_offset < 0)
		*why = "negative epoch or offset";
	else if (l->nepochs > 0 && (e.epoch <= l->epochs[l->nepochs - 1].epoch ||
				    e.start_offset < l->epochs[l->nepochs - 1].start_offset))
		*why = "epochs and start offsets must increase";
	if (*why)
		return -EBADMSG;
	l->epochs[l->nepochs++] = e;
	return 0;
}

static int epochs_load(struct log *l)
{
	char path[PATH_MAX + 32];
	const char *why = NULL;
	int line = 0, rc;

	snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", l->dir);
	rc = ckpt_read(l->io, path, 1000000, epochs_begin, epochs_entry, l, &why, &line);
	if (rc == -EBADMSG)
		ENGINE_REPORT(ENGINE_LOG_ERR, "%s: line %d: %s; partition refused (Kafka's format: "
			      "0, the count, then \"epoch start_offset\" lines; a missing file "
			      "is rebuilt)", path, line, why);
	return rc;
}

int log_assign_epoch(struct log *l, int32_t epoch, int64_t start_offset)
{
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	if (l->nepochs && l->epochs[l->nepochs - 1].epoch >= epoch)
		goto out;
	struct epoch_ent *ne = realloc(l->epochs, (size_t)(l->nepochs + 1) * sizeof(*ne));
	if (!ne) {
		rc = -ENOMEM;
		goto out;
	}
	l->epochs = ne;
	l->epochs[l->nepochs++] = (struct epoch_ent){ epoch, start_offset };
	rc = epochs_write(l);
out:
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* ---- open and recovery ---- */

/* Whether the cleaner may have rewritten segments that end before
 * end_base, leaving gaps in offsets and line positions: below its
 * checkpoint, or, as that may lag, below the checkpointed recovery point of
 * a compacted log (it rewrites nothing above). */
static bool may_be_compacted(struct log *l, const struct log_open_args *a, int64_t end_base)
{
	return end_base <= a->cleaner_offset ||
	       ((l->cfg.cleanup_policy & LOG_CLEANUP_COMPACT) &&
		(a->recovery_point < 0 || end_base <= a->recovery_point));
}

/* Removes the four files of the segment at base (recovery), saying so. */
static void log_drop_files(struct log *l, int64_t base, const char *why)
{
	static const char *ext[] = { ".log", ".index", ".timeindex", ".lines" };
	char path[PATH_MAX + 64];
	for (int k = 0; k < 4; k++) {
		snprintf(path, sizeof(path), "%s/%020" PRId64 "%s", l->dir, base, ext[k]);
		if (k == 0) {
			struct stat st;
			if (stat(path, &st) == 0)
				ENGINE_REPORT(ENGINE_LOG_WARN, "%s: deleted %s (%lld bytes, offsets "
					      "from %" PRId64 ", never fsynced)", path, why,
					      (long long)st.st_size, base);
		}
		l->io->unlink(l->io->ctx, path);
	}
}

static int log_load_segments(struct log *l, const struct log_open_args *a, bool *recovered)
{
	/* An interrupted compaction swap is finished or rolled back first, so
	 * that the listing below sees whole segments only. */
	int rrc = cleaner_recover_dir(l->io, l->dir);
	if (rrc < 0)
		return rrc;
	DIR *d = opendir(l->dir);
	if (!d)
		return -errno;
	int64_t *bases = NULL;
	int nb = 0, cap = 0, rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		char path[PATH_MAX + 300];
		snprintf(path, sizeof(path), "%s/%s", l->dir, n);
		/* Leftovers of an interrupted operation: .tmp files, and indexes or
		 * deleted segments without their log go; everything else stays. */
		if ((len > 4 && strcmp(n + len - 4, ".tmp") == 0) ||
		    (len > 8 && strcmp(n + len - 8, ".deleted") == 0)) {
			l->io->unlink(l->io->ctx, path);
			continue;
		}
		if (len != 24 || strcmp(n + 20, ".log") != 0 ||
		    strspn(n, "0123456789") != 20)
			continue;
		if (nb == cap) {
			cap = cap ? cap * 2 : 16;
			int64_t *nbs = realloc(bases, (size_t)cap * sizeof(*nbs));
			if (!nbs) {
				rc = -ENOMEM;
				goto out;
			}
			bases = nbs;
		}
		bases[nb++] = strtoll(n, NULL, 10);
	}
	if (nb > 1)
		qsort(bases, (size_t)nb, sizeof(*bases), cmp_i64);
	int64_t prev_end = -1, prev_line_end = a->log_start_offset <= 0 ? 0 : -1;
	bool cut = false;
	for (int i = 0; i < nb; i++) {
		char path[PATH_MAX + 64];
		struct seg *s;
		if (cut) {
			/* The log stays a prefix: what follows a torn segment was
			 * never fsynced either, and goes. */
			log_drop_files(l, bases[i], "after a torn segment");
			*recovered = true;
			continue;
		}
		if (l->damaged) {
			ENGINE_REPORT(ENGINE_LOG_ERR, "%s: %d later segment(s) (%020" PRId64 ".log "
				      "to %020" PRId64 ".log) kept on disk, not served", l->dir,
				      nb - i, bases[i], bases[nb - 1]);
			break;
		}
		rc = seg_open(l->io, l->fdc, l->dir, bases[i], &s);
		if (rc < 0)
			goto out;
		/* Segments at or after the recovery point may have lost data that
		 * was never fsynced; those before it were fsynced whole. Only the
		 * former may be cut: invalid bytes in the others are damage. */
		bool unsynced = !a->clean && (a->recovery_point < 0 || i == nb - 1 ||
					      bases[i + 1] > a->recovery_point);
		bool contiguous = !may_be_compacted(l, a, i + 1 < nb ? bases[i + 1] : INT64_MAX);
		bool need = unsynced;
		if (!need)
			need = seg_load_tail(s, l->cfg.key_sep_len, prev_line_end) < 0 ||
			       seg_check_lines(s, l->cfg.key_sep_len, contiguous) < 0;
		if (need) {
			int64_t bad = 0, size0 = atomic_load(&s->size);
			rc = seg_recover(s, prev_line_end, l->cfg.key_sep_len,
					 l->cfg.index_interval_bytes, unsynced, contiguous, &bad);
			if (rc < 0) {
				seg_unref(s);
				goto out;
			}
			*recovered = true;
			l->recovered_segments++;
			int64_t end = atomic_load(&s->size);
			snprintf(path, sizeof(path), "%s.log", s->path);
			if (bad > 0 && unsynced) {
				l->recovery_truncated += bad;
				cut = true;
				ENGINE_REPORT(ENGINE_LOG_WARN, "%s: torn tail after an unclean stop: %"
					      PRId64 " invalid bytes at position %" PRId64 " cut; the "
					      "log now ends at offset %" PRId64, path, bad, end,
					      s->next_offset);
			} else if (bad > 0 || (!unsynced && end < size0)) {
				l->damaged = true;
				ENGINE_REPORT(ENGINE_LOG_ERR, "%s: damaged: %" PRId64 " invalid bytes "
					      "from position %" PRId64 " (of %" PRId64 "), in a segment "
					      "%s; served up to offset %" PRId64 ", writes refused, "
					      "files kept", path, size0 - end, end, size0,
					      unsynced ? "written before the last stop" :
					      "that was fsynced", s->next_offset);
			} else if (end < size0) {
				ENGINE_REPORT(ENGINE_LOG_INFO, "%s: %" PRId64 " zero bytes past the "
					      "last batch (position %" PRId64 ") cut", path,
					      size0 - end, end);
			}
		}
		if (prev_end >= 0 && s->base_offset < prev_end) {
			ENGINE_REPORT(ENGINE_LOG_ERR, "%s/%020" PRId64 ".log: overlaps the segment "
				      "before it (which ends at offset %" PRId64 "); partition refused: "
				      "move one of the two out of %s", l->dir, bases[i], prev_end - 1,
				      l->dir);
			seg_unref(s);
			rc = -EBADMSG;
			goto out;
		}
		rc = segs_push(l, s);
		if (rc < 0) {
			seg_unref(s);
			goto out;
		}
		prev_end = s->next_offset;
		prev_line_end = s->line_end;
		if (l->damaged || cut || i + 1 == nb || s->next_offset >= bases[i + 1])
			continue;
		/* Records missing before the next segment. An unsynced segment
		 * may have lost them at a crash (the kernel may write a later file
		 * back before an earlier one): the log is cut there. Compaction
		 * leaves such gaps too (may_be_compacted). Anything else is a
		 * segment missing or shortened: damage. */
		if (unsynced && a->recovery_point >= 0) {
			cut = true;
			*recovered = true;
			ENGINE_REPORT(ENGINE_LOG_WARN, "%s.log: ends at offset %" PRId64 " but the "
				      "next segment starts at %" PRId64 " (records lost at an unclean "
				      "stop): the log is cut there", s->path, s->next_offset,
				      bases[i + 1]);
		} else if (contiguous) {
			l->damaged = true;
			ENGINE_REPORT(ENGINE_LOG_ERR, "%s: damaged: records %" PRId64 "..%" PRId64
				      " are missing (%s.log ends at offset %" PRId64 ", the next "
				      "segment starts at %" PRId64 "); served up to offset %" PRId64
				      ", writes refused, files kept", l->dir, s->next_offset,
				      bases[i + 1] - 1, s->path, s->next_offset, bases[i + 1],
				      s->next_offset);
		}
	}
out:
	closedir(d);
	free(bases);
	return rc;
}

/* The log start offset at open: the first segment's base, or the
 * checkpointed one when it is higher (retention's deletions can be lost at
 * a power cut while the checkpoint survived). Segments wholly below it go
 * as retention would have removed them, and reads start at it. */
static int log_start_load(struct log *l, int64_t ckpt)
{
	int64_t leo = log_leo(l);
	l->log_start_offset = l->segs[0]->base_offset;
	l->line_start = l->segs[0]->line_base;
	if (ckpt > leo)
		ENGINE_REPORT(ENGINE_LOG_ERR, "%s: the checkpointed log start offset %" PRId64
			      " is beyond the log end %" PRId64 " (log-start-offset-checkpoint): "
			      "records %" PRId64 "..%" PRId64 " are missing; the log starts at %"
			      PRId64, l->dir, ckpt, leo, leo, ckpt - 1, l->log_start_offset);
	if (ckpt <= l->log_start_offset || ckpt > leo)
		return 0;
	int n = 0;
	while (n + 1 < l->nsegs && l->segs[n + 1]->base_offset <= ckpt)
		n++;
	if (n > 0) {
		struct seg **gone = calloc((size_t)n, sizeof(*gone));
		if (!gone)
			return -ENOMEM;
		int k = retention_remove_head_locked(l, n, gone);
		for (int i = 0; i < (k > 0 ? k : 0); i++)
			seg_unref(gone[i]);
		free(gone);
		if (k < 0)
			return k;
		ENGINE_REPORT(ENGINE_LOG_WARN, "%s: %d segment(s) below the checkpointed log start "
			      "offset %" PRId64 " deleted (a deletion lost at a crash)", l->dir, k,
			      ckpt);
	}
	l->log_start_offset = ckpt;
	if (ckpt == leo) {
		l->line_start = log_line_end(l);
		return 0;
	}
	int rc = offset_to_pos_locked(l, ckpt, &l->line_start);
	return rc == -ERANGE ? 0 : rc;
}

int log_open(const struct io_ops *io, const char *dir, const char *topic, int partition,
	     const struct log_config *cfg, const struct log_open_args *a, bool create,
	     struct log **out)
{
	struct log *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	pthread_mutex_init(&l->maint_lock, NULL);
	atomic_init(&l->refs, 1);
	l->fence = -1;
	l->io = io;
	l->fdc = a->fdc;
	seg_cache_ref(l->fdc);
	l->cfg = *cfg;
	l->partition = partition;
	snprintf(l->topic, sizeof(l->topic), "%s", topic);
	int rc = 0;
	bool recovered = false;
	if (snprintf(l->dir, sizeof(l->dir), "%s", dir) >= (int)sizeof(l->dir)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	rc = io->mkdir(io->ctx, dir, 0755);
	if (rc == -EEXIST)
		rc = 0;
	else if (rc == 0 && !create)
		rc = -ENOENT;
	if (rc < 0)
		goto fail;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = log_load_segments(l, a, &recovered);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	l->recovery_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (rc == 0)
		rc = epochs_load(l);
	if (rc < 0)
		goto fail;
	if (l->nsegs == 0) {
		int64_t base = a->log_start_offset > 0 ? a->log_start_offset : 0;
		struct seg *s;
		rc = seg_create(io, l->fdc, dir, base, 0, &s);
		if (rc == 0 && (rc = segs_push(l, s)) < 0)
			seg_unref(s);
		if (rc < 0)
			goto fail;
	}
	int64_t leo = log_leo(l);
	rc = log_start_load(l, a->log_start_offset);
	if (rc < 0)
		goto fail;
	l->recovery_point = recovered ? leo : (a->recovery_point >= 0 && a->recovery_point < leo
					      ? a->recovery_point : leo);
	l->recovery_point_ckpt = a->recovery_point < 0 ? 0
				 : a->recovery_point < leo ? a->recovery_point : leo;
	/* A damaged log keeps its checkpointed recovery point, beyond the
	 * damage: at the next open after a crash the damaged segment still
	 * counts as fsynced, so recovery does not take it for a torn tail. */
	if (l->damaged && a->recovery_point > leo)
		l->recovery_point = a->recovery_point;
	/* The engine keeps the checkpointed hw; the broker decides whether the
	 * records above it are committed (on one node they are). */
	l->hw = a->hw >= 0 ? a->hw : leo;
	if (l->hw > leo)
		l->hw = leo;
	if (l->hw < l->log_start_offset)
		l->hw = l->log_start_offset;
	l->first_dirty_offset = a->cleaner_offset > l->log_start_offset && a->cleaner_offset <= leo
				? a->cleaner_offset : l->log_start_offset;
	rc = offset_to_pos_locked(l, l->hw, &l->line_hw);
	if (rc == -ERANGE) {
		l->line_hw = log_line_end(l);
		rc = 0;
	}
	if (rc < 0)
		goto fail;
	log_active(l)->tail_ok = !l->damaged;
	seg_set_active(log_active(l), true);
	*out = l;
	return recovered ? 1 : 0;
fail:
	log_unref(l);
	return rc;
}

/* ---- segment lookup ---- */

static int seg_base_offset_at(const void *arg, int64_t i, int64_t *k)
{
	*k = ((const struct log *)arg)->segs[i]->base_offset;
	return 0;
}

static int seg_line_base_at(const void *arg, int64_t i, int64_t *k)
{
	*k = ((const struct log *)arg)->segs[i]->line_base;
	return 0;
}

int log_seg_index_by_offset(struct log *l, int64_t offset)
{
	return (int)bsearch_last_le(l->nsegs, offset, seg_base_offset_at, l);
}

int log_seg_index_by_pos(struct log *l, int64_t pos)
{
	return (int)bsearch_last_le(l->nsegs, pos, seg_line_base_at, l);
}

struct seg *log_seg_get(struct log *l, int64_t base)
{
	pthread_mutex_lock(&l->lock);
	int i = log_seg_index_by_offset(l, base);
	struct seg *s = NULL;
	if (i >= 0 && l->segs[i]->base_offset == base) {
		s = l->segs[i];
		seg_ref(s);
	}
	pthread_mutex_unlock(&l->lock);
	return s;
}

/* ---- append ---- */

static bool should_roll(struct log *l, struct seg *s, int64_t batch_size, int64_t last_offset,
			int64_t now)
{
	int64_t size = atomic_load(&s->size);
	if (size == 0)
		return false;
	return size + batch_size > l->cfg.segment_bytes ||
	       size + batch_size > INT32_MAX ||
	       (s->first_append_ms && now - s->first_append_ms > l->cfg.segment_ms) ||
	       (s->idx_entries + 1) * INDEX_ENT_SIZE > l->cfg.segment_index_bytes ||
	       (s->tidx_entries + 1) * TIMEINDEX_ENT_SIZE > l->cfg.segment_index_bytes ||
	       last_offset - s->base_offset > INT32_MAX;
}

static int log_roll(struct log *l, int64_t base)
{
	struct seg *old = log_active(l), *s;
	/* The closed segment's .lines entries are written now (readers, the
	 * cleaner and retention see closed segments whole); its fsync is left
	 * to log_flush_closed() in the background, as Kafka flushes a rolled
	 * segment asynchronously: an fsync of a whole segment here would stall
	 * the append that rolled. The recovery point stays where it is. */
	int rc = seg_lines_sync(old);
	if (rc == 0)
		rc = seg_tail_drop(old);        /* a closed file ends where its log does */
	if (rc == 0)
		rc = seg_create(l->io, l->fdc, l->dir, base, old->line_end, &s);
	if (rc < 0)
		return rc;
	rc = segs_push(l, s);
	if (rc < 0) {
		seg_unref(s);
		return rc;
	}
	old->tail_ok = false;
	s->tail_ok = true;
	seg_set_active(old, false);
	seg_set_active(s, true);
	return 0;
}

int log_tail_close(struct log *l)
{
	pthread_mutex_lock(&l->lock);
	/* A fenced log's leftovers go before a clean stop: after a restart
	 * the records above the checkpointed hw count as committed. */
	int rc = l->fence >= 0 ? fence_clear(l) : 0;
	struct seg *s = log_active(l);
	if (rc == 0 && s->tail_ext) {
		rc = seg_tail_drop(s);
		if (rc == 0)
			rc = seg_flush(s);      /* the cut size is durable too */
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
		if (l->truncations == truncations && l->recovery_point < upto)
			l->recovery_point = upto;
		pthread_mutex_unlock(&l->lock);
	}
	return rc;
}

int log_roll_locked(struct log *l)
{
	return log_roll(l, log_leo(l));
}

static void encset_free(struct encset *es)
{
	for (int i = 0; i < LOG_PARTS; i++) {
		free(es->enc[i].buf);
		free(es->enc[i].meta);
	}
	free(es);
}

void enc_cache_init(struct enc_cache *c)
{
	pthread_mutex_init(&c->mu, NULL);
	c->free = NULL;
}

void enc_cache_destroy(struct enc_cache *c)
{
	while (c->free) {
		struct encset *es = c->free;
		c->free = es->next;
		encset_free(es);
	}
	pthread_mutex_destroy(&c->mu);
}

/* Buffers for one append: from the manager's cache, or new. */
static struct encset *encset_take(struct log *l)
{
	struct encset *es = NULL;

	if (l->encs) {
		pthread_mutex_lock(&l->encs->mu);
		es = l->encs->free;
		if (es)
			l->encs->free = es->next;
		pthread_mutex_unlock(&l->encs->mu);
	}
	return es ? es : calloc(1, sizeof(*es));
}

static void encset_give(struct log *l, struct encset *es)
{
	if (!l->encs) {
		encset_free(es);
		return;
	}
	pthread_mutex_lock(&l->encs->mu);
	es->next = l->encs->free;
	l->encs->free = es;
	pthread_mutex_unlock(&l->encs->mu);
}

/* Grows an encoding buffer to hold need bytes and nmeta batches. */
static int encbuf_reserve(struct encbuf *e, size_t need, int nmeta)
{
	if (need > e->cap) {
		size_t nc = e->cap ? e->cap : 65536;
		while (nc < need)
			nc *= 2;
		uint8_t *np = realloc(e->buf, nc);
		if (!np)
			return -ENOMEM;
		e->buf = np;
		e->cap = nc;
	}
	if (nmeta > e->meta_cap) {
		int nc = e->meta_cap ? e->meta_cap : 64;
		while (nc < nmeta)
			nc *= 2;
		struct batch_meta *nm = realloc(e->meta, (size_t)nc * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		e->meta = nm;
		e->meta_cap = nc;
	}
	return 0;
}

/* One part of an append to encode: records from an array, or lines parsed
 * on the way (recs NULL). A part is encoded as if it started the log
 * (offsets and line positions from 0) and given its place when it is
 * written (part_place), so parts can be encoded before the ones ahead of
 * them are counted. Pure: it touches only *eb and reads its input and the
 * configuration, so a helper thread can run it while the appender writes
 * another part under the log's lock. */
struct enc_part {
	const struct log_config *cfg;
	struct encbuf *eb;
	const struct rec_in *recs;      /* recs[0..n), or */
	int n;
	const char *p, *end;            /* lines in [p, end) then [p2, end2), */
	const char *p2, *end2;          /* by lr, stamped ts */
	const struct line_rules *lr;
	int64_t ts;
	int32_t epoch;
	int nb;                         /* out: batches, or -errno */
	int64_t total;                  /* out: bytes */
	int64_t payload;                /* out: key + value bytes */
};

/* The part's next record into *r; false at its end, or with p->nb set to
 * -EMSGSIZE when a line is too big. */
static inline bool part_next(struct enc_part *p, int *i, struct rec_in *r)
{
	if (p->recs) {
		if (*i >= p->n)
			return false;
		*r = p->recs[(*i)++];
		return true;
	}
	while (p->p >= p->end) {
		if (!p->p2)
			return false;
		p->p = p->p2;
		p->end = p->end2;
		p->p2 = NULL;
	}
	const char *next = line_to_rec(p->lr, p->p, p->end, r);
	if (!next) {
		p->nb = -EMSGSIZE;
		return false;
	}
	r->timestamp = p->ts;
	p->p = next;
	return true;
}

/* Encodes the part into eb as batches of at most batch.size (a record
 * bigger than that gets a batch of its own) and fills eb->meta. */
static void enc_part_run(void *arg)
{
	struct enc_part *p = arg;
	const struct log_config *cfg = p->cfg;
	struct encbuf *eb = p->eb;
	int64_t offset = 0, line = 0, payload = 0;
	size_t used = 0;
	int nb = 0, i = 0;
	struct rec_in r;

	p->nb = 0;
	bool have = part_next(p, &i, &r);
	while (have) {
		size_t first = batch_record_max_size(r.key_len, r.value_len) + BATCH_HDR_SIZE;
		size_t cap = (size_t)cfg->batch_bytes > first ? (size_t)cfg->batch_bytes : first;
		int rc = encbuf_reserve(eb, used + cap, nb + 1);
		if (rc < 0) {
			p->nb = rc;
			return;
		}
		struct batch_builder bb;
		batch_builder_init(&bb, eb->buf + used, cap, cfg->codec);
		struct batch_meta *m = &eb->meta[nb];
		m->base_offset = offset;
		m->first_line_pos = line;
		m->line_bytes = 0;
		m->max_ts = -1;
		m->max_ts_offset = offset;
		do {
			if (batch_builder_add(&bb, r.key, r.key_len, r.value, r.value_len,
					      r.timestamp) < 0)
				break;
			int64_t kv = (r.value_len > 0 ? r.value_len : 0) +
				     (r.key_len > 0 ? r.key_len : 0);
			payload += kv;
			m->line_bytes += (r.value_len > 0 ? r.value_len : 0) + 1;
			if (cfg->key_sep_len > 0 && r.key_len >= 0)
				m->line_bytes += r.key_len + cfg->key_sep_len;
			if (r.timestamp > m->max_ts) {
				m->max_ts = r.timestamp;
				m->max_ts_offset = offset + bb.count - 1;
			}
			have = part_next(p, &i, &r);
		} while (have);
		if (p->nb < 0)
			return;                 /* a line too big */
		if (bb.count == 0) {
			p->nb = -EINVAL;        /* a record the builder refuses */
			return;
		}
		int64_t size = batch_builder_finish(&bb, offset, p->epoch);
		if (size < 0) {
			p->nb = (int)size;
			return;
		}
		m->size = size;
		m->last_offset = offset + bb.count - 1;
		offset += bb.count;
		line += m->line_bytes;
		used += (size_t)size;
		nb++;
	}
	if (p->nb < 0)
		return;
	p->total = (int64_t)used;
	p->payload = payload;
	p->nb = nb;
}

/* Gives an encoded part its place: offsets from the LEO on, line positions
 * from the line end on (it was encoded from 0). The base offset is outside
 * the batch CRC, so the batches are patched in place. Lock held. */
static void part_place(struct log *l, struct encbuf *eb, int nb)
{
	int64_t off = log_leo(l), line = log_line_end(l);
	size_t pos = 0;

	for (int j = 0; j < nb; j++) {
		struct batch_meta *m = &eb->meta[j];
		m->base_offset += off;
		m->last_offset += off;
		m->max_ts_offset += off;
		m->first_line_pos += line;
		be64_put(eb->buf + pos + BATCH_OFF_BASE_OFFSET, (uint64_t)m->base_offset);
		pos += (size_t)m->size;
	}
}

/* Writes nb encoded batches (buf, meta) at the end of the log: runs of
 * batches that fit in the active segment, rolling between them. */
static int write_batches(struct log *l, const uint8_t *buf, const struct batch_meta *meta,
			 int nb, int64_t now)
{
	size_t off = 0;

	for (int i = 0; i < nb;) {
		struct seg *s = log_active(l);
		if (should_roll(l, s, meta[i].size, meta[i].last_offset, now)) {
			int rc = log_roll(l, meta[i].base_offset);
			if (rc < 0)
				return rc;
			s = log_active(l);
		}
		int j = i;
		int64_t run = 0, sz = atomic_load(&s->size);
		do {
			run += meta[j].size;
			j++;
		} while (j < nb && sz + run + meta[j].size <= l->cfg.segment_bytes &&
			 sz + run + meta[j].size <= INT32_MAX &&
			 meta[j].last_offset - s->base_offset <= INT32_MAX);
		if (!s->first_append_ms)
			s->first_append_ms = now;
		int rc = seg_append(s, buf + off, (size_t)run, &meta[i], j - i,
				    l->cfg.index_interval_bytes);
		if (rc < 0)
			return rc;
		off += (size_t)run;
		i = j;
	}
	return 0;
}

static int log_truncate_locked(struct log *l, int64_t offset);

/*
 * An append of at least 2 * LOG_PART_BYTES is cut into parts (up to
 * LOG_PARTS) when a helper is idle: this thread encodes the first part and
 * writes the parts in order; the helper encodes the others, one after the
 * other, ahead of the writes. For log_append_lines the parts are runs of
 * lines, so the parsing is shared out too. Encoding (parsing, copy,
 * CRC-32C, compression) and the page-cache write are most of an append's
 * time: with the helper they overlap, and the appending thread encodes
 * only the first part. Without a helper the appender encodes and writes
 * the parts one after the other itself. The batches are those a serial
 * append would make, except that a part's last batch may be short.
 */
#define LOG_PART_BYTES (64 << 10)

struct enc_pipe {
	struct enc_part *part;      /* [1..nparts) are the helper's */
	int nparts;
	struct pool *pool;
	struct pool_job *job;
};

static void enc_pipe_run(void *arg)
{
	struct enc_pipe *pp = arg;

	for (int i = 1; i < pp->nparts; i++) {
		enc_part_run(&pp->part[i]);
		pool_progress(pp->pool, pp->job, i);
		if (pp->part[i].nb < 0)
			break;
	}
}

/* Parts for an append of `bytes` of keys and values. */
static int parts_for(struct log *l, int64_t bytes)
{
	int64_t k = l->pool ? bytes / LOG_PART_BYTES : 1;
	return k < 2 ? 1 : k > LOG_PARTS ? LOG_PARTS : (int)k;
}

/* Cuts a failed append back to start (lock held). When the cut fails the
 * log is fenced there (invariant 5): the records it leaves must never be
 * committed, nor anything be appended behind them. */
static int append_rollback(struct log *l, int64_t start)
{
	int rc = log_truncate_locked(l, start);

	if (rc < 0 && (l->fence < 0 || start < l->fence))
		l->fence = start;
	return rc;
}

/* Before an append on a fenced log: the cut again. 0 or -EIO. */
static int fence_clear(struct log *l)
{
	if (log_truncate_locked(l, l->fence) < 0)
		return -EIO;
	l->fence = -1;
	return 0;
}

/* Encodes and writes part[0..nparts) in order (lock held), with a set of
 * buffers from the manager's cache; all or nothing. */
static int append_parts(struct log *l, struct enc_part *part, int nparts,
			struct log_append_info *info)
{
	int rc = l->fence >= 0 ? fence_clear(l) : 0;

	if (rc < 0)
		return rc;
	int64_t start = log_leo(l), now = engine_now_ms();
	int nsegs0 = l->nsegs, nb = 0;
	int64_t total = 0, payload = 0;
	struct pool_job job = { .fn = enc_pipe_run };
	struct enc_pipe pipe = { part, nparts, l->pool, &job };
	struct encset *es = encset_take(l);

	if (!es)
		return -ENOMEM;
	for (int i = 0; i < nparts; i++)
		part[i].eb = &es->enc[i];
	job.arg = &pipe;
	bool helped = nparts > 1 && pool_try_run(l->pool, &job);
	for (int i = 0; i < nparts; i++) {
		if (i == 0 || !helped)
			enc_part_run(&part[i]);
		else
			pool_wait_progress(l->pool, &job, i);
		rc = part[i].nb;
		if (rc < 0)
			break;
		part_place(l, part[i].eb, part[i].nb);
		rc = write_batches(l, part[i].eb->buf, part[i].eb->meta, part[i].nb, now);
		if (rc < 0)
			break;
		nb += part[i].nb;
		total += part[i].total;
		payload += part[i].payload;
	}
	if (helped)
		pool_wait(l->pool, &job);   /* its input is the caller's */
	encset_give(l, es);
	if (rc < 0) {
		if (l->nsegs > nsegs0 || log_leo(l) > start)
			(void)append_rollback(l, start);    /* fenced if it fails */
		return rc;
	}
	if (log_leo(l) == start)
		return -EINVAL;             /* no record in the input */
	if (info) {
		info->first_offset = start;
		info->last_offset = log_leo(l) - 1;
		info->batches = nb;
		info->bytes = total;
		info->payload = payload;
		info->line_end = log_line_end(l);
	}
	return 0;
}

int log_append(struct log *l, const struct rec_in *recs, int n, int32_t leader_epoch,
	       struct log_append_info *info)
{
	if (n <= 0)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	if (l->deleted || l->damaged) {
		rc = l->deleted ? -ENOENT : -EIO;
		goto out;
	}
	int64_t max = log_max_record_payload(&l->cfg), bytes = 0;
	for (int i = 0; i < n; i++) {
		int64_t payload = (recs[i].key_len > 0 ? recs[i].key_len : 0) +
				  (recs[i].value_len > 0 ? recs[i].value_len : 0);
		if (payload > max) {
			rc = -EMSGSIZE;
			goto out;
		}
		bytes += payload;
	}
	int nparts = parts_for(l, bytes);
	if (nparts > n)
		nparts = n;
	struct enc_part part[LOG_PARTS];
	for (int i = 0; i < nparts; i++) {
		int a = (int)((int64_t)n * i / nparts), b = (int)((int64_t)n * (i + 1) / nparts);
		part[i] = (struct enc_part){ .cfg = &l->cfg, .recs = recs + a, .n = b - a,
					     .epoch = leader_epoch, .nb = -ECANCELED };
	}
	rc = append_parts(l, part, nparts, info);
out:
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int log_append_lines(struct log *l, const char *head, size_t head_len, const char *buf,
		     size_t len, int64_t ts, int32_t leader_epoch, struct log_append_info *info)
{
	if (head_len + len == 0)
		return -EINVAL;
	if (len == 0) {                 /* the head alone */
		buf = head;
		len = head_len;
		head_len = 0;
	}
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	if (l->deleted || l->damaged) {
		rc = l->deleted ? -ENOENT : -EIO;
		goto out;
	}
	struct line_rules lr = { l->cfg.key_sep, l->cfg.key_sep_len,
				 log_max_record_payload(&l->cfg) };
	int nparts = parts_for(l, (int64_t)len), k = 0;
	struct enc_part part[LOG_PARTS];
	const char *p = buf, *end = buf + len;
	/* Cut at the end of the line holding each 1/nparts mark of buf; the
	 * head goes first, in part 0. */
	for (int i = 0; i < nparts && (p < end || i == 0); i++) {
		const char *cut = end;
		if (i < nparts - 1) {
			const char *mark = buf + len * (size_t)(i + 1) / (size_t)nparts - 1;
			const char *nl;
			if (mark < p)
				mark = p;
			nl = memchr(mark, '\n', (size_t)(end - mark));
			cut = nl ? nl + 1 : end;
		}
		part[k] = (struct enc_part){ .cfg = &l->cfg, .p = p,
					     .end = cut, .lr = &lr, .ts = ts,
					     .epoch = leader_epoch, .nb = -ECANCELED };
		if (i == 0 && head_len > 0) {
			part[k].p = head;
			part[k].end = head + head_len;
			part[k].p2 = p;
			part[k].end2 = cut;
		}
		k++;
		p = cut;
	}
	rc = append_parts(l, part, k, info);
out:
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* ---- high watermark, flush, truncation ---- */

int log_set_hw(struct log *l, int64_t hw)
{
	pthread_mutex_lock(&l->lock);
	int64_t leo = log_leo(l);
	if (hw > leo)
		hw = leo;
	if (l->fence >= 0 && hw > l->fence)
		hw = l->fence;                  /* leftovers of a failed append */
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
		else if ((rc = offset_to_pos_locked(l, hw, &pos)) < 0)
			goto out;
		l->hw = hw;
		__atomic_store_n(&l->line_hw, pos, __ATOMIC_RELEASE);
		moved = true;
	}
out:
	pthread_mutex_unlock(&l->lock);
	if (moved && l->hw_fn)
		l->hw_fn(l->hw_arg, l);
	return rc;
}

void log_set_hw_listener(struct log *l, void (*fn)(void *arg, struct log *l), void *arg)
{
	pthread_mutex_lock(&l->lock);
	l->hw_fn = fn;
	l->hw_arg = arg;
	pthread_mutex_unlock(&l->lock);
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
		if (rc == 0)
			l->recovery_point = upto;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static int log_truncate_locked(struct log *l, int64_t offset)
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
	s->tail_ok = true;                  /* it may have become the active one */
	seg_set_active(s, true);
	/* Recompute the active segment's tail from what is left. */
	int64_t prev_line_end = l->nsegs > 1 ? l->segs[l->nsegs - 2]->line_end : -1;
	rc = seg_load_tail(s, l->cfg.key_sep_len, prev_line_end);
	if (rc < 0)
		return rc;
	int64_t leo = s->next_offset;
	if (l->hw > leo) {
		l->hw = leo;
		__atomic_store_n(&l->line_hw, s->line_end, __ATOMIC_RELEASE);
	}
	if (l->fence >= leo)
		l->fence = -1;                  /* the leftovers are gone */
	if (l->recovery_point > leo)
		l->recovery_point = leo;
	if (l->recovery_point_ckpt > leo)
		l->recovery_point_ckpt = leo;
	int k = l->nepochs;
	while (k > 0 && l->epochs[k - 1].start_offset >= leo && leo > 0)
		k--;
	if (k != l->nepochs) {
		l->nepochs = k;
		rc = epochs_write(l);
	}
	return rc < 0 ? rc : trc;
}

int log_truncate_to(struct log *l, int64_t offset)
{
	pthread_mutex_lock(&l->lock);
	int rc = l->damaged ? -EIO : offset < l->log_start_offset ? -ERANGE
		 : log_truncate_locked(l, offset);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int log_rollback(struct log *l, int64_t offset)
{
	pthread_mutex_lock(&l->lock);
	int rc = offset < l->hw ? -ERANGE : offset >= log_leo(l) ? 0 : append_rollback(l, offset);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void log_get_state(struct log *l, struct log_state *st)
{
	pthread_mutex_lock(&l->lock);
	st->log_start_offset = l->log_start_offset;
	st->hw = l->hw;
	st->log_end_offset = log_leo(l);
	st->recovery_point = l->recovery_point;
	st->line_start = l->line_start;
	st->line_hw = l->line_hw;
	st->line_end = log_line_end(l);
	st->leader_epoch = l->nepochs ? l->epochs[l->nepochs - 1].epoch : -1;
	st->segments = l->nsegs;
	st->size_bytes = 0;
	for (int i = 0; i < l->nsegs; i++)
		st->size_bytes += atomic_load(&l->segs[i]->size);
	st->records = st->log_end_offset - st->log_start_offset;
	st->recovered_segments = l->recovered_segments;
	st->recovery_truncated = l->recovery_truncated;
	st->recovery_ms = l->recovery_ms;
	st->corrupt_batches = atomic_load(&l->corrupt_batches);
	st->damaged = l->damaged;
	st->first_dirty_offset = l->first_dirty_offset > l->log_start_offset
				 ? l->first_dirty_offset : l->log_start_offset;
	st->fence = l->fence;
	pthread_mutex_unlock(&l->lock);
}

int log_reconfigure(struct log *l, const struct log_config *cfg)
{
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	if ((cfg->key_sep_len != l->cfg.key_sep_len ||
	     memcmp(cfg->key_sep, l->cfg.key_sep, (size_t)cfg->key_sep_len) != 0) &&
	    log_line_end(l) > 0)
		rc = -EBUSY;
	else
		l->cfg = *cfg;
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

/* ---- lookups ---- */

/* Walks the batch at .lines entry i of s; calls back per record with its
 * line position. Stops when fn returns non-zero (returned). */
static int batch_walk(struct log *l, struct seg *s, int64_t i,
		      int (*fn)(void *arg, const struct rec *r, int64_t pos), void *arg)
{
	struct lines_ent e;
	int rc = seg_read_lines_ent(s, i, &e);
	if (rc < 0)
		return rc;
	uint8_t *buf = NULL;
	size_t cap = 0;
	struct batch_iter it = { 0 };
	int64_t total = seg_read_batch(s, e.position, atomic_load(&s->size), &buf, &cap);
	if (total <= 0) {
		rc = total < 0 ? (int)total : -EBADMSG;
		goto out;
	}
	rc = batch_iter_init(&it, buf, (size_t)total);
	if (rc < 0)
		goto out;
	struct rec r;
	int64_t pos = e.line_pos;
	while ((rc = batch_iter_next(&it, &r)) == 1) {
		int64_t len = rec_line_len(&r, l->cfg.key_sep_len);
		if ((rc = fn(arg, &r, pos)) != 0)
			break;
		pos += len;
	}
out:
	if (rc == -EBADMSG)
		log_corrupt(l, s, e.position, total > 0 ? buf : NULL, total > 0 ? (size_t)total : 0);
	batch_iter_free(&it);
	free(buf);
	return rc;
}

struct find_arg { int64_t key, offset, pos; int mode; int keysep; };

static int find_cb(void *arg, const struct rec *r, int64_t pos)
{
	struct find_arg *f = arg;
	bool hit;
	if (f->mode == 0)
		hit = r->offset >= f->key;
	else if (f->mode == 1)
		hit = pos + rec_line_len(r, f->keysep) > f->key;
	else
		hit = r->timestamp >= f->key;
	if (!hit)
		return 0;
	f->offset = r->offset;
	f->pos = pos;
	return 1;
}

/* Searches from segment si, .lines entry ei forward until a record
 * matches. Caller holds the lock. */
static int find_from(struct log *l, int si, int64_t ei, struct find_arg *f)
{
	for (; si < l->nsegs; si++, ei = 0) {
		struct seg *s = l->segs[si];
		int64_t n = atomic_load(&s->lines_entries);
		for (int64_t i = ei < 0 ? 0 : ei; i < n; i++) {
			int rc = batch_walk(l, s, i, find_cb, f);
			if (rc < 0)
				return rc;
			if (rc == 1)
				return 0;
			/* By offset or position, only the batch found can match, or the
			 * first record of the next one. */
		}
	}
	return -ERANGE;
}

/* Lookups search .lines: the active segment's pending entries are written
 * first so that the search sees every batch. Caller holds the lock. */
static int lookup_prepare(struct log *l)
{
	return seg_lines_sync(log_active(l));
}

static int offset_to_pos_locked(struct log *l, int64_t offset, int64_t *pos)
{
	if (offset >= log_leo(l))
		return -ERANGE;
	int rc0 = lookup_prepare(l);
	if (rc0 < 0)
		return rc0;
	int si = log_seg_index_by_offset(l, offset);
	if (si < 0)
		si = 0;
	int64_t ei = seg_find_offset(l->segs[si], offset);
	struct find_arg f = { .key = offset, .mode = 0, .keysep = l->cfg.key_sep_len };
	int rc = find_from(l, si, ei, &f);
	if (rc == 0)
		*pos = f.pos;
	return rc;
}

int log_offset_to_pos(struct log *l, int64_t offset, int64_t *pos)
{
	pthread_mutex_lock(&l->lock);
	int rc = offset_to_pos_locked(l, offset, pos);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int log_pos_to_offset(struct log *l, int64_t pos, int64_t *offset)
{
	pthread_mutex_lock(&l->lock);
	int rc = lookup_prepare(l);
	if (rc == 0)
		rc = -ERANGE;
	if (rc == -ERANGE && pos < log_line_end(l)) {
		int si = log_seg_index_by_pos(l, pos);
		if (si < 0)
			si = 0;
		int64_t ei = seg_find_pos(l->segs[si], pos);
		struct find_arg f = { .key = pos, .mode = 1, .keysep = l->cfg.key_sep_len };
		rc = find_from(l, si, ei, &f);
		if (rc == 0)
			*offset = f.offset;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int log_time_to_offset(struct log *l, int64_t ts, int64_t *offset)
{
	pthread_mutex_lock(&l->lock);
	int rc = lookup_prepare(l);
	if (rc == 0)
		rc = -ERANGE;
	for (int si = 0; si < l->nsegs && rc == -ERANGE; si++) {
		struct seg *s = l->segs[si];
		if (s->max_ts < ts)
			continue;
		int64_t from = seg_find_time(s, ts);
		if (from < 0) {
			rc = (int)from;
			break;
		}
		int64_t ei = seg_find_offset(s, from);
		struct find_arg f = { .key = ts, .mode = 2, .keysep = l->cfg.key_sep_len };
		rc = find_from(l, si, ei, &f);
		if (rc == 0)
			*offset = f.offset;
		break;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
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
