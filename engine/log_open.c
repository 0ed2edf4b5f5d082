/*
 * log_open.c — opening a log: the segments listed and, where they may be
 * torn or damaged, recovered; the log start offset, recovery point and hw
 * set from the checkpoints the manager read.
 *
 * Which segments are checked at open:
 *   - after an unclean stop, every segment from the one holding the
 *     checkpointed recovery point on (all of them without a checkpoint) is
 *     scanned batch by batch (seg_recover) and its .index, .timeindex
 *     and .lines rebuilt: they may hold bytes never fsynced, and their
 *     sidecars may lag even where the .log was (log_sync fsyncs the .log
 *     alone);
 *   - any other segment whose indexes disagree with its .log, or whose
 *     .lines entries fail seg_check_lines, is rebuilt without cutting.
 *
 * The prefix rule: invalid bytes in an unsynced segment are a torn tail,
 * cut there, and every later segment (never fsynced either) is deleted,
 * each with a log line. Records missing between two segments are a cut
 * too when the earlier one was unsynced. Invalid means torn: a header or
 * length that does not frame a batch inside the file, a CRC mismatch,
 * offsets out of order. A batch whose framing and CRC hold but whose
 * records do not decode is neither a torn tail nor damage: seg_recover
 * keeps it and what follows, says so, and readers fail at it (seg.c,
 * "Undecodable batches"); a checkpointed hw or log start there takes the
 * start of its lines (log_offset_to_pos_bound_locked), so the partition
 * opens and stays writable.
 *
 * Damage: invalid bytes in a segment that was fsynced, or records missing
 * between segments outside what compaction removed (may_be_compacted), cut
 * nothing and delete nothing. The log is served up to the damage, later
 * segments stay on disk unserved, l->damaged refuses every write with
 * -EIO, and the log says what was found (file, position, offsets).
 *
 * Refusals (-EBADMSG, logged with the file and the reason): two segments
 * that overlap, a leader-epoch-checkpoint that does not parse (epoch.c).
 *
 * Runs before the log is handed out: nothing else holds it, no lock taken.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/log_int.h"
#include "util/clock.h"
#include "util/readdir.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Whether segments that end before end_base may hold gaps in offsets and
 * line positions that compaction left: below the cleaner's checkpoint,
 * or anywhere in a compacted topic's log. Its own cleaner rewrites
 * nothing above the checkpointed recovery point, but a follower (or read
 * copy) appends its leader's compacted batches with their gaps
 * (append_follower.c, rule 3) wherever its own recovery point is: such a
 * segment, or a segment after it that starts past a gap, is as it was
 * appended, and recovery keeps its gaps. */
static bool may_be_compacted(struct log *l, const struct log_open_args *a, int64_t end_base)
{
	return end_base <= a->cleaner_offset || (l->cfg.cleanup_policy & LOG_CLEANUP_COMPACT);
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
				ENGINE_REPORT(ENGINE_LOG_WARN,
					      "%s: deleted %s (%lld bytes, offsets "
					      "from %" PRId64 ", never fsynced)",
					      path, why, (long long)st.st_size, base);
		}
		l->io->unlink(l->io->ctx, path);
	}
}

/* Recovery's deletion of the segments bases[from..nb) after a torn one:
 * newest first, then the directory fsynced, so that a crash at any point
 * leaves the log a prefix of what it was. */
static int drop_later(struct log *l, const int64_t *bases, int from, int nb)
{
	for (int j = nb - 1; j >= from; j--)
		log_drop_files(l, bases[j], "after a torn segment");
	return l->io->fsync_dir(l->io->ctx, l->dir);
}

/* Whether the segment at bases[i], which seg_open could not open with
 * rc, is a roll a kill -9 left half made on a full disk: the last of
 * several, empty, after an unclean stop, its missing files not makeable
 * (ENOSPC, EDQUOT: a disk out of inodes). It holds no record and goes:
 * refusing it would fail the whole start until inodes are freed. */
static bool half_made_roll(struct log *l, const struct log_open_args *a, const int64_t *bases,
			   int i, int nb, int rc)
{
	char path[PATH_MAX + 64];
	struct stat st;

	if ((rc != -ENOSPC && rc != -EDQUOT) || a->clean || i == 0 || i != nb - 1)
		return false;
	snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", l->dir, bases[i]);
	return stat(path, &st) == 0 && st.st_size == 0;
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
	size_t cap = 0;
	int nb = 0, rc = 0, err;
	struct dirent *de;
	while ((de = readdir_checked(d, &err))) {
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
		if (len != 24 || strcmp(n + 20, ".log") != 0 || strspn(n, "0123456789") != 20)
			continue;
		int64_t *nbs = engine_grow(bases, &cap, (size_t)nb + 1, sizeof(*nbs), 16);
		if (!nbs) {
			rc = -ENOMEM;
			goto out;
		}
		bases = nbs;
		bases[nb++] = strtoll(n, NULL, 10);
	}
	/* A listing cut short would open the log without the segments it
	 * missed, and the next append would make one of them again, empty,
	 * over its file: the log does not open. */
	if (err < 0) {
		ENGINE_REPORT(ENGINE_LOG_ERR, "%s: cannot list the log's segments: %s", l->dir,
			      strerror(-err));
		rc = err;
		goto out;
	}
	if (nb > 1)
		qsort(bases, (size_t)nb, sizeof(*bases), cmp_i64);
	/* A log that starts at offset 0 starts at line position 0; a first
	 * segment above 0 (retention, a reset) keeps the line base its .lines
	 * header holds, whatever a checkpoint written before says. */
	int64_t prev_end = -1, prev_line_end = nb > 0 && bases[0] == 0 ? 0 : -1;
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
			ENGINE_REPORT(ENGINE_LOG_ERR,
				      "%s: %d later segment(s) (%020" PRId64 ".log "
				      "to %020" PRId64 ".log) kept on disk, not served",
				      l->dir, nb - i, bases[i], bases[nb - 1]);
			break;
		}
		rc = seg_open(l->io, l->fdc, l->dir, bases[i], &s);
		if (rc < 0 && half_made_roll(l, a, bases, i, nb, rc)) {
			log_drop_files(l, bases[i],
				       "a roll left half made, its files not makeable");
			*recovered = true;
			rc = 0;
			break;
		}
		if (rc < 0)
			goto out;
		/* Segments at or after the recovery point may have lost data that
		 * was never fsynced; those before it were fsynced whole. Only the
		 * former may be cut: invalid bytes in the others are damage. */
		bool unsynced = !a->clean && (a->recovery_point < 0 || i == nb - 1 ||
					      bases[i + 1] > a->recovery_point);
		bool contiguous = !may_be_compacted(l, a, i + 1 < nb ? bases[i + 1] : INT64_MAX);
		s->contiguous = contiguous;
		bool need = unsynced;
		if (!need)
			need = seg_load_tail(s, &l->lf, prev_line_end) < 0 ||
			       seg_check_lines(s, &l->lf, contiguous) < 0;
		if (need) {
			int64_t bad = 0, size0 = atomic_load(&s->size);
			/* The last segment is rescanned after any unclean stop,
			 * but its records below the recovery point were fsynced:
			 * invalid bytes that end the valid batches below it are
			 * damage, not a torn tail (nothing cut). */
			int64_t cut_from = !unsynced                      ? INT64_MAX
					   : a->recovery_point > bases[i] ? a->recovery_point
									  : INT64_MIN;
			/* Before later segments, the cut of a torn tail waits until
			 * they are gone, durably (below): cut first, a crash before
			 * they went would leave this segment ending before the next
			 * begins, which the next open takes for damage when it has
			 * no recovery point (a log made since the last checkpoint). */
			bool later = i + 1 < nb;
			rc = seg_recover(s, prev_line_end, &l->lf, l->cfg.index_interval_bytes,
					 later ? INT64_MAX : cut_from, contiguous,
					 later ? bases[i + 1] : INT64_MAX, &bad);
			bool torn = unsynced && s->next_offset >= cut_from;
			/* A closed segment ends as its roll left it (a torn one
			 * whose later segments go loses it again below). */
			if (rc == 0 && later)
				rc = seg_close_tidx(s, l->cfg.segment_index_bytes);
			if (rc < 0) {
				seg_unref(s);
				goto out;
			}
			*recovered = true;
			l->recovered_segments++;
			int64_t end = atomic_load(&s->size);
			snprintf(path, sizeof(path), "%s.log", s->path);
			if (bad > 0 && torn) {
				l->recovery_truncated += bad;
				cut = true;
				ENGINE_REPORT(ENGINE_LOG_WARN,
					      "%s: torn tail after an unclean stop: %" PRId64
					      " invalid bytes at position %" PRId64 " cut; the "
					      "log now ends at offset %" PRId64,
					      path, bad, end, s->next_offset);
			} else if (bad > 0 || (!torn && end < size0)) {
				l->damaged = true;
				ENGINE_REPORT(
					ENGINE_LOG_ERR,
					"%s: damaged: %" PRId64 " invalid bytes "
					"from position %" PRId64 " (of %" PRId64 "), in a segment "
					"%s; served up to offset %" PRId64 ", writes refused, "
					"files kept",
					path, size0 - end, end, size0,
					unsynced ? "fsynced below the recovery point"
						 : "that was fsynced",
					s->next_offset);
			} else if (end < size0) {
				ENGINE_REPORT(ENGINE_LOG_INFO,
					      "%s: %" PRId64 " zero bytes past the "
					      "last batch (position %" PRId64 ") cut",
					      path, size0 - end, end);
			}
			if (later && torn && end < size0) {
				if (cut) {
					rc = drop_later(l, bases, i + 1, nb);
					nb = i + 1;
				}
				if (rc == 0)
					rc = seg_cut_tail(s);
				if (rc < 0) {
					seg_unref(s);
					goto out;
				}
			}
		}
		if (prev_end >= 0 && s->base_offset < prev_end) {
			ENGINE_REPORT(ENGINE_LOG_ERR,
				      "%s/%020" PRId64 ".log: overlaps the segment "
				      "before it (which ends at offset %" PRId64
				      "); partition refused: "
				      "move one of the two out of %s",
				      l->dir, bases[i], prev_end - 1, l->dir);
			seg_unref(s);
			rc = -EBADMSG;
			goto out;
		}
		rc = log_segs_push(l, s);
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
		 * back before an earlier one): the log is cut there, when the
		 * recovery point says so or the log was made since the last
		 * checkpoint (none lost: everything unsynced, nothing cleaned).
		 * Compaction leaves such gaps too (may_be_compacted), unsynced
		 * or not: a follower's segments hold its leader's (a compacted
		 * log's rolled segments are synced at their roll, append.c, so
		 * its gaps are never a lost tail). Anything else is a segment
		 * missing or shortened: damage. */
		if (unsynced && contiguous && (a->recovery_point >= 0 || a->made_since_ckpt)) {
			cut = true;
			*recovered = true;
			ENGINE_REPORT(ENGINE_LOG_WARN,
				      "%s.log: ends at offset %" PRId64 " but the "
				      "next segment starts at %" PRId64
				      " (records lost at an unclean "
				      "stop): the log is cut there",
				      s->path, s->next_offset, bases[i + 1]);
		} else if (contiguous) {
			l->damaged = true;
			ENGINE_REPORT(ENGINE_LOG_ERR,
				      "%s: damaged: records %" PRId64 "..%" PRId64
				      " are missing (%s.log ends at offset %" PRId64 ", the next "
				      "segment starts at %" PRId64 "); served up to offset %" PRId64
				      ", writes refused, files kept",
				      l->dir, s->next_offset, bases[i + 1] - 1, s->path,
				      s->next_offset, bases[i + 1], s->next_offset);
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
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s: the checkpointed log start offset %" PRId64
			      " is beyond the log end %" PRId64 " (log-start-offset-checkpoint): "
			      "records %" PRId64 "..%" PRId64
			      " are missing; the log starts at %" PRId64,
			      l->dir, ckpt, leo, leo, ckpt - 1, l->log_start_offset);
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
		ENGINE_REPORT(ENGINE_LOG_WARN,
			      "%s: %d segment(s) below the checkpointed log start "
			      "offset %" PRId64 " deleted (a deletion lost at a crash)",
			      l->dir, k, ckpt);
	}
	l->log_start_offset = ckpt;
	if (ckpt == leo) {
		l->line_start = log_line_end(l);
		return 0;
	}
	int rc = log_offset_to_pos_bound_locked(l, ckpt, &l->line_start);
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
	l->snap_end = LOG_SNAP_END_UNKNOWN;
	pthread_rwlock_init(&l->listen_lock, NULL);
	pthread_cond_init(&l->sync_cv, NULL);
	atomic_init(&l->refs, 1);
	l->fence = -1;
	l->io = io;
	l->fdc = a->fdc;
	seg_cache_ref(l->fdc);
	l->cfg = *cfg;
	line_fmt_of(cfg, &l->lf);
	l->partition = partition;
	snprintf(l->topic, sizeof(l->topic), "%s", topic);
	int rc = 0;
	bool recovered = false;
	if (snprintf(l->dir, sizeof(l->dir), "%s", dir) >= (int)sizeof(l->dir)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	/* Without create a missing log is -ENOENT and nothing is made: a
	 * directory made here would be taken for an empty log next time. */
	if (create) {
		rc = io->mkdir(io->ctx, dir, 0755);
		if (rc == -EEXIST)
			rc = 0;
	} else {
		struct stat st;

		rc = stat(dir, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	}
	if (rc < 0)
		goto fail;
	int64_t t0 = now_mono_ms();
	rc = log_reset_recover(io, dir);
	if (rc == 0)
		rc = log_load_segments(l, a, &recovered);
	l->recovery_ms = now_mono_ms() - t0;
	if (rc == 0)
		rc = epoch_cache_load(l);
	if (rc < 0)
		goto fail;
	if (l->nsegs == 0) {
		int64_t base = a->log_start_offset > 0 ? a->log_start_offset : 0;
		struct seg *s;
		rc = seg_create(io, l->fdc, dir, base, 0, &s);
		if (rc == 0 && l->cfg.preallocate)
			seg_preallocate(s, l->cfg.segment_bytes);
		if (rc == 0 && (rc = log_segs_push(l, s)) < 0)
			seg_unref(s);
		if (rc < 0)
			goto fail;
	}
	int64_t leo = log_leo(l);
	rc = log_start_load(l, a->log_start_offset);
	if (rc < 0)
		goto fail;
	l->recovery_point =
		recovered ? leo
			  : (a->recovery_point >= 0 && a->recovery_point < leo ? a->recovery_point
									       : leo);
	l->recovery_point_ckpt = a->recovery_point < 0     ? 0
				 : a->recovery_point < leo ? a->recovery_point
							   : leo;
	/* A damaged log keeps its checkpointed recovery point, beyond the
	 * damage: at the next open after a crash the damaged segment still
	 * counts as fsynced, so recovery does not take it for a torn tail. */
	if (l->damaged && a->recovery_point > leo)
		l->recovery_point = a->recovery_point;
	/* Every record found at open is on disk: a recovered segment's .log
	 * was fsynced by seg_recover, the others were before the stop. */
	l->synced_offset = leo;
	/* After a clean stop every segment was fsynced: a log that ends below
	 * its checkpointed hw lost committed records since (the last segment
	 * cut at a batch boundary or emptied, which no batch check sees; or
	 * the rescue of damage, "accept the loss"). As Kafka's log loader,
	 * the hw follows the log down and new records take those offsets
	 * again; unlike it, never silently. After an unclean stop the records
	 * above the last fsync may be lost at a power cut (acks without
	 * fsync), which recovery reports itself. */
	if (a->clean && a->hw > leo && !l->damaged)
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s: the log ends at offset %" PRId64
			      " after a clean stop, below its checkpointed high watermark %" PRId64
			      " (replication-offset-checkpoint): records %" PRId64 "..%" PRId64
			      " are gone (a segment cut or emptied?); the high watermark is "
			      "%" PRId64 " and new records take those offsets",
			      l->dir, leo, a->hw, leo, a->hw - 1, leo);
	/* As Kafka's log loader (LeaderEpochFileCache.truncateFromEnd), no
	 * epoch starts past the log end: such an entry is of records lost
	 * since, or a hand-edited file, and would answer a follower's
	 * OffsetsForLeaderEpoch with offsets this log never had. An epoch
	 * that starts at the log end is a leader's with nothing appended yet,
	 * and stays. A damaged log keeps its files as they are. */
	if (!l->damaged && l->nepochs > 0 && l->epochs[l->nepochs - 1].start_offset > leo) {
		int k = l->nepochs;
		while (k > 0 && l->epochs[k - 1].start_offset > leo)
			k--;
		ENGINE_REPORT(ENGINE_LOG_WARN,
			      "%s/leader-epoch-checkpoint: %d epoch(s) from epoch %" PRId32
			      " start past the log end (offset %" PRId64 " at %" PRId64
			      "): dropped, as Kafka does",
			      l->dir, l->nepochs - k, l->epochs[k].epoch, l->epochs[k].start_offset,
			      leo);
		rc = epoch_cache_truncate_from_end(l, leo + 1);
		if (rc < 0)
			goto fail;
	}
	/* The engine keeps the checkpointed hw; the broker decides whether the
	 * records above it are committed (on one node they are). */
	l->hw = a->hw >= 0 ? a->hw : cfg->replica ? l->log_start_offset : leo;
	if (l->hw > leo)
		l->hw = leo;
	if (l->hw < l->log_start_offset)
		l->hw = l->log_start_offset;
	l->first_dirty_offset = a->cleaner_offset > l->log_start_offset && a->cleaner_offset <= leo
					? a->cleaner_offset
					: l->log_start_offset;
	rc = log_offset_to_pos_bound_locked(l, l->hw, &l->line_hw);
	if (rc == -ERANGE) {
		l->line_hw = log_line_end(l);
		rc = 0;
	}
	if (rc < 0)
		goto fail;
	/* Nothing read yet: what is on disk is not known good (corrupt.c). */
	atomic_store(&l->line_checked,
		     leo > l->log_start_offset ? l->segs[0]->line_base : log_line_end(l));
	atomic_store(&l->line_open_end, log_line_end(l));
	/* A crash between a roll's final .timeindex entry and the next
	 * segment's files, or a torn segment whose later ones went, leaves
	 * the active segment with it: taken back (seg_drop_final_tidx). */
	if (!l->damaged && (rc = seg_drop_final_tidx(log_active(l), &l->lf)) < 0)
		goto fail;
	log_active(l)->tail_ok = !l->damaged;
	seg_first_append_load(log_active(l));
	seg_set_active(log_active(l), true);
	*out = l;
	return recovered ? 1 : 0;
fail:
	log_unref(l);
	return rc;
}
