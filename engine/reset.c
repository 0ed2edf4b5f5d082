/*
 * reset.c — a log emptied and started again at an offset and a line
 * position (Kafka's UnifiedLog.truncateFullyAndStartAt): what a follower
 * or a read copy does when its log end is below its leader's log start
 * (retention removed everything it still lacked), so that it fetches
 * from the leader's log start and its line positions stay the leader's.
 *
 * The marker DIR/log-start-reset, replaced durably (io_write_file_atomic)
 * and present only while a reset is under way:
 *
 *     <offset> <line_pos>\n        both decimal, >= 0
 *
 * Steps (log_reset_start, maint_lock then lock held: no retention, clean
 * or append meanwhile):
 *   1. the marker, durably;
 *   2. the new segment <offset> with line base line_pos (seg_create:
 *      its .lines header and the directory entry are durable);
 *   3. the old segments leave the list and their files are renamed
 *      <file>.deleted (seg_mark_deleted: a reader still on one finishes
 *      its bytes, the last reference unlinks them);
 *   4. the epoch cache is emptied (leader-epoch-checkpoint rewritten:
 *      the next batches fetched bring their epochs), and the producer
 *      snapshot unlinked (prodsnap.c: the producer state starts empty,
 *      as Kafka's truncateFullyAndStartAt leaves it);
 *   5. the state follows: log start = hw = recovery point = synced =
 *      offset, line start = line hw = line_pos;
 *   6. fsync of the directory, the marker unlinked, fsync again: no
 *      marker can come back after a power cut once records are appended.
 * A failure in 1-2 changes nothing (the new segment's files go again);
 * from 3 on the log in memory is the new one, and a failure leaves the
 * marker for the next open to finish.
 *
 * Recovery (log_reset_recover, at open before the segments are listed):
 * a marker means steps 2-6 may be cut short. Every segment file with a
 * base other than the marker's offset is unlinked (below it: the old
 * log's; above it: the empty segment of a log that started again lower), the segment at the offset
 * is made again (empty: nothing is appended while the marker exists),
 * leader-epoch-checkpoint and the producer snapshots (producer-snapshot,
 * producer-checkpoint) are unlinked (an empty cache, no producer), then
 * the marker.
 * Every crash point thus opens as the old log whole (before the marker
 * was durable) or the new, empty one; never old segments followed by
 * the new one across a gap, which open would take for damage.
 *
 * Invariants kept: line positions are an increasing function of the
 * offset (line_pos >= the old line end, offset > the old log end), so
 * st_size, the line position of the hw, never goes back. One exception,
 * as Kafka's follower makes it (Partition's UnexpectedAppendOffset
 * case): a log that holds nothing, one empty segment at its end (just
 * reset), may start again lower, at the base of the leader's batch that
 * its first fetch brought (the leader's log start lies inside that
 * batch: DeleteRecords or retention cut there), at that batch's line
 * position; the batch it then takes reaches past the old end.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log_int.h"
#include "util/readdir.h"

#define RESET_MARKER "log-start-reset"

static void marker_path(const char *dir, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/" RESET_MARKER, dir);
}

/* Unlinks the four files of the segment at base. */
static void unlink_seg_files(const struct io_ops *io, const char *dir, int64_t base)
{
	static const char *ext[] = { ".log", ".index", ".timeindex", ".lines" };
	for (int k = 0; k < 4; k++) {
		char p[PATH_MAX + 48];
		snprintf(p, sizeof(p), "%s/%020" PRId64 "%s", dir, base, ext[k]);
		io->unlink(io->ctx, p);
	}
}

/* Step 6: the marker goes, durably. */
static int marker_remove(const struct io_ops *io, const char *dir)
{
	char path[PATH_MAX + 32];
	int rc = io->fsync_dir(io->ctx, dir);
	marker_path(dir, path, sizeof(path));
	if (rc == 0)
		rc = io->unlink(io->ctx, path);
	if (rc == 0)
		rc = io->fsync_dir(io->ctx, dir);
	return rc;
}

int log_reset_start(struct log *l, int64_t offset, int64_t line_pos)
{
	char path[PATH_MAX + 32], text[64];
	struct seg *s = NULL, **old = NULL;
	size_t old_cap = 0;
	int nold = 0, rc;

	pthread_mutex_lock(&l->maint_lock);
	pthread_mutex_lock(&l->lock);
	if (l->deleted) {
		rc = -ENOENT;
		goto out;
	}
	if (l->damaged) {
		rc = -EIO;
		goto out;
	}
	/* Back (above): only a log of one empty segment at its end. */
	bool back = offset < log_leo(l) && l->nsegs == 1 &&
		    l->segs[0]->next_offset == l->segs[0]->base_offset &&
		    l->segs[0]->base_offset == log_leo(l) && line_pos <= log_line_end(l);
	if (!back && (offset <= log_leo(l) || line_pos < log_line_end(l))) {
		rc = -EINVAL;
		goto out;
	}
	old = l->segs;
	nold = l->nsegs;
	old_cap = l->segs_cap;
	/* 1 */
	marker_path(l->dir, path, sizeof(path));
	int n = snprintf(text, sizeof(text), "%" PRId64 " %" PRId64 "\n", offset, line_pos);
	rc = io_write_file_atomic(l->io, path, text, (size_t)n);
	/* 2 */
	if (rc == 0)
		rc = seg_create(l->io, l->fdc, l->dir, offset, line_pos, &s);
	if (rc == 0 && l->cfg.preallocate)
		seg_preallocate(s, l->cfg.segment_bytes);
	if (rc == 0) {
		l->segs = NULL;
		l->nsegs = 0;
		l->segs_cap = 0;
		rc = log_segs_push(l, s);
		if (rc < 0) {
			seg_unref(s);
			unlink_seg_files(l->io, l->dir, offset);
		}
	}
	if (rc < 0) {
		l->segs = old;
		l->nsegs = nold;
		l->segs_cap = old_cap;
		old = NULL;
		nold = 0;
		l->io->unlink(l->io->ctx, path);
		goto out;
	}
	/* 3: from here the log in memory is the new one. */
	for (int i = 0; i < nold; i++) {
		int r = seg_mark_deleted(l, old[i]);
		if (r < 0 && rc == 0)
			rc = r; /* its files stay: the marker makes the next open drop them */
		if (old[i]->active)
			seg_set_active(old[i], false);
	}
	s->tail_ok = true;
	seg_set_active(s, true);
	/* 4 */
	int r = epoch_cache_truncate_from_end(l, 0);
	if (r < 0 && rc == 0)
		rc = r;
	r = log_producer_snapshot_remove(l->io, l->dir);
	if (r < 0 && rc == 0)
		rc = r; /* the marker makes the next open unlink it */
	l->snap_end = -1;
	/* 5 */
	l->truncations++;
	l->log_start_offset = offset;
	l->line_start = line_pos;
	/* The old batches are gone: nothing is left unchecked. */
	log_checked_cut(l, line_pos);
	if (atomic_load(&l->line_checked) < line_pos)
		atomic_store(&l->line_checked, line_pos);
	kept_free(&l->head); /* the bytes kept are of another log */
	kept_free(&l->cleaned);
	l->hw = offset;
	__atomic_store_n(&l->line_hw, line_pos, __ATOMIC_RELEASE);
	l->recovery_point = offset;
	l->synced_offset = offset;
	l->first_dirty_offset = offset;
	l->fence = -1;
	/* 6 */
	if (rc == 0)
		rc = marker_remove(l->io, l->dir);
out:
	pthread_mutex_unlock(&l->lock);
	for (int i = 0; i < nold; i++)
		seg_unref(old[i]); /* unlinks unless a reader still holds it */
	free(old);
	pthread_mutex_unlock(&l->maint_lock);
	if (nold > 0)
		log_notify_hw(l);
	return rc;
}

int log_reset_recover(const struct io_ops *io, const char *dir)
{
	char path[PATH_MAX + 32], *text = NULL;
	int64_t offset, line_pos;
	size_t len;
	int used = 0, rc;

	marker_path(dir, path, sizeof(path));
	rc = io_read_file(io, path, &text, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (sscanf(text, "%" SCNd64 " %" SCNd64 "\n%n", &offset, &line_pos, &used) < 2 ||
	    (size_t)used != len || offset < 0 || line_pos < 0) {
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s: not \"offset line_position\": partition refused (a reset "
			      "to the leader's log start was cut short; remove the partition's "
			      "directory to fetch it again)",
			      path);
		free(text);
		return -EBADMSG;
	}
	free(text);
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *de;
	int err;
	while ((de = readdir_checked(d, &err))) {
		const char *n = de->d_name;
		if (strspn(n, "0123456789") != 20 || n[20] != '.')
			continue;
		int64_t base = strtoll(n, NULL, 10);
		if (base != offset) {
			char p[PATH_MAX + 300];
			snprintf(p, sizeof(p), "%s/%s", dir, n);
			io->unlink(io->ctx, p);
		}
	}
	closedir(d);
	/* Segments not listed would stay beside the new one. */
	if (err < 0)
		return err;
	struct seg *s;
	rc = seg_create(io, NULL, dir, offset, line_pos, &s);
	if (rc < 0)
		return rc;
	seg_unref(s);
	snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", dir);
	rc = io->unlink(io->ctx, path);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	rc = log_producer_snapshot_remove(io, dir);
	if (rc < 0)
		return rc;
	rc = marker_remove(io, dir);
	if (rc == 0)
		ENGINE_REPORT(ENGINE_LOG_WARN,
			      "%s: a reset to start at offset %" PRId64 " (line position %" PRId64
			      ") was cut short: finished (the log is empty from there)",
			      dir, offset, line_pos);
	return rc;
}
