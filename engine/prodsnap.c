/*
 * prodsnap.c — the producer snapshots: what the idempotent producer state
 * knew up to an offset (Kafka's ProducerStateManager snapshot files), so
 * that a state rebuilt from the log (repl/producer_state.c,
 * producer_state_load) still knows the producers whose batches retention
 * or DeleteRecords removed, and scans only the batches after the newest
 * snapshot. Two files, one format:
 *
 * - `producer-snapshot` (LOG_SNAP_FRONT): the state of the batches that
 *   left the front of the log. Before the log start moves up to new_start
 *   (log_retention_run, log_delete_records, on a leader and on a follower
 *   alike, maint_lock held, the log's lock not), the trim listener
 *   (log_set_trim_listener; the broker's is producer_state_trim) folds the
 *   previous snapshot and the headers of the batches about to go into one
 *   and writes it with end new_start. If it fails, nothing is removed this
 *   time (a removal without it would forget those producers). Compaction
 *   keeps each producer's last batch (cleaner_producers.c), so it writes
 *   none. Its end is at or below the log start, where no truncation
 *   reaches.
 * - `producer-checkpoint` (LOG_SNAP_CKPT): the state of every batch below
 *   the base offset of the newest segment at or below the hw and the
 *   synced offset (what a power cut keeps), written by
 *   log_producer_checkpoint (the broker's scheduler, at the retention
 *   check) when a segment closed since the last one, so that a load scans
 *   at most the segments after it, as Kafka's snapshot at each roll does.
 *   A clean stop writes one once the log is flushed, as Kafka's
 *   Log.close: at the log end from a single node's producer state in
 *   memory (the broker's stop), else at the hw
 *   (log_producer_checkpoint_at_stop: on a replica, or where no state
 *   was loaded since the start), below what a restart's truncation to
 *   the next leader's log may cut.
 *   It can lie above a later truncation (an unclean election cuts below
 *   the hw), so it carries the leader epoch of the record before its end
 *   and a load takes it only while the log's epoch cache still gives that
 *   epoch there (records written again after a truncation carry a later
 *   epoch) and the log reaches its end; otherwise the front snapshot and
 *   the log after it.
 *
 * A follower's log emptied and started again at its leader's start
 * (reset.c) loses both, as Kafka's truncateFullyAndStartAt empties the
 * producer state: the producers' batches between its old end and the new
 * start, which it never had, may be newer than what the files say, and a
 * stale last sequence would refuse a producer's next batch OUT_OF_ORDER
 * should this replica lead, where an unknown producer is taken at any
 * sequence.
 *
 * Each file is replaced durably (temp, fsync, rename, fsync of the
 * directory: io_write_file_atomic). All integers big-endian:
 *
 *   0  magic "MQPS"
 *   4  u16 version (2; 1 without end_epoch, header 24 bytes: what a
 *      file whose end_epoch is -1 is written as, a front snapshot, so
 *      that an mqfs that reads version 1 alone still reads it)
 *   6  u16 0
 *   8  i64 end_offset: the snapshot holds the state of every batch whose
 *      last offset is below it; the log is replayed after it from the
 *      batch holding max(end_offset, log start)
 *  16  i32 end_epoch: the leader epoch of offset end_offset - 1 when
 *      written (-1 in a front snapshot, which does not need it)
 *  20  u32 count of entries
 *  24  u32 CRC-32C of bytes 0..23 and of the entries
 *  28  count entries of 46 bytes, a producer's kept batches oldest first
 *      (producers in any order), each a batch header as the state keeps
 *      it (a run of batches as one):
 *        i64 producer_id (>= 0), i64 base_offset, i64 last_offset,
 *        i64 max_timestamp, i32 leader_epoch, i32 records (>= 1),
 *        i32 base_sequence, i16 producer_epoch
 *
 * Invariants: base_offset <= last_offset < end_offset. A file that breaks
 * one (cut short, a bad CRC, another version) is refused: -EBADMSG and an
 * error line naming the file and why, and the state is rebuilt from the
 * other file, or the log alone. A missing file means no batch of a
 * producer has left the log (front), or no segment closed behind the hw
 * since the log had producer checkpoints (checkpoint).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/log_int.h"

#define SNAP_HDR_V1      24
#define SNAP_HDR         28
#define SNAP_ENT         46
#define SNAP_VERSION     2
#define SNAP_MAX_ENTRIES (1 << 20) /* io_read_file reads 16 MiB at most */
/* The most segment bytes one log_producer_checkpoint reads headers from
 * (beyond its first segment): about 2 s out of the page cache here. */
#define CKPT_SCAN_BYTES  (256LL << 20)

static const char *const snap_names[] = {
	[LOG_SNAP_FRONT] = "producer-snapshot",
	[LOG_SNAP_CKPT] = "producer-checkpoint",
};

static void snap_path(const char *dir, enum log_snap which, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", dir, snap_names[which]);
}

/* The CRC of a file of header hdr bytes: its header up to the CRC field,
 * and the entries. */
static uint32_t snap_crc(const uint8_t *buf, size_t len, size_t hdr)
{
	uint32_t crc = crc32c(0, buf, hdr - 4);

	return crc32c(crc, buf + hdr, len - hdr);
}

static void ent_put(uint8_t *p, const struct batch_producer_info *bi)
{
	be64_put(p, (uint64_t)bi->producer_id);
	be64_put(p + 8, (uint64_t)bi->base_offset);
	be64_put(p + 16, (uint64_t)bi->last_offset);
	be64_put(p + 24, (uint64_t)bi->max_timestamp);
	be32_put(p + 32, (uint32_t)bi->leader_epoch);
	be32_put(p + 36, (uint32_t)bi->records);
	be32_put(p + 40, (uint32_t)bi->base_sequence);
	p[44] = (uint8_t)((uint16_t)bi->producer_epoch >> 8);
	p[45] = (uint8_t)bi->producer_epoch;
}

static void ent_get(const uint8_t *p, struct batch_producer_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	bi->producer_id = (int64_t)be64_get(p);
	bi->base_offset = (int64_t)be64_get(p + 8);
	bi->last_offset = (int64_t)be64_get(p + 16);
	bi->max_timestamp = (int64_t)be64_get(p + 24);
	bi->leader_epoch = (int32_t)be32_get(p + 32);
	bi->records = (int32_t)be32_get(p + 36);
	bi->base_sequence = (int32_t)be32_get(p + 40);
	bi->producer_epoch = (int16_t)((uint16_t)p[44] << 8 | p[45]);
}

/* Why buf[0..len) is not a valid snapshot, or NULL (*end, *epoch,
 * *count and *hdr, the header's size, set). */
static const char *snap_check(const uint8_t *buf, size_t len, int64_t *end, int32_t *epoch,
			      uint32_t *count, size_t *hdr)
{
	unsigned version;

	if (len < SNAP_HDR_V1 || memcmp(buf, "MQPS", 4) != 0)
		return "not a producer snapshot";
	version = be32_get(buf + 4) >> 16;
	if (version == 1) {
		*hdr = SNAP_HDR_V1;
		*epoch = -1;
		*count = be32_get(buf + 16);
	} else if (version == SNAP_VERSION && len >= SNAP_HDR) {
		*hdr = SNAP_HDR;
		*epoch = (int32_t)be32_get(buf + 16);
		*count = be32_get(buf + 20);
	} else {
		return version == SNAP_VERSION ? "not a producer snapshot" : "unknown version";
	}
	*end = (int64_t)be64_get(buf + 8);
	if (*count > SNAP_MAX_ENTRIES || len != *hdr + (size_t)*count * SNAP_ENT)
		return "size does not match its count of entries";
	if (be32_get(buf + *hdr - 4) != snap_crc(buf, len, *hdr))
		return "CRC mismatch";
	if (*end < 0)
		return "negative end offset";
	for (uint32_t i = 0; i < *count; i++) {
		struct batch_producer_info bi;

		ent_get(buf + *hdr + (size_t)i * SNAP_ENT, &bi);
		if (bi.producer_id < 0 || bi.records < 1 || bi.base_offset < 0 ||
		    bi.last_offset < bi.base_offset || bi.last_offset >= *end ||
		    bi.base_sequence < 0)
			return "an entry out of range";
	}
	return NULL;
}

int log_producer_snapshot_read(struct log *l, enum log_snap which, int64_t *end_offset,
			       int32_t *end_epoch, struct batch_producer_info **out, int *n)
{
	char path[PATH_MAX + 32], *buf = NULL;
	size_t len = 0, hdr = 0;
	uint32_t count = 0;
	const char *why;
	int rc;

	*out = NULL;
	*n = 0;
	*end_offset = -1;
	*end_epoch = -1;
	snap_path(l->dir, which, path, sizeof(path));
	rc = io_read_file(l->io, path, &buf, &len);
	if (rc < 0) {
		if (rc != -ENOENT)
			ENGINE_REPORT(ENGINE_LOG_ERR, "%s: cannot read: %s", path, strerror(-rc));
		return rc;
	}
	why = snap_check((const uint8_t *)buf, len, end_offset, end_epoch, &count, &hdr);
	if (why) {
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      which == LOG_SNAP_FRONT
				      ? "%s: refused (%s): producers whose batches left the log "
					"are forgotten"
				      : "%s: refused (%s): the producers are read from the log",
			      path, why);
		*end_offset = -1;
		*end_epoch = -1;
		rc = -EBADMSG;
		goto out;
	}
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < count; i++)
		ent_get((const uint8_t *)buf + hdr + (size_t)i * SNAP_ENT, &(*out)[i]);
	*n = (int)count;
out:
	free(buf);
	return rc;
}

int log_producer_snapshot_write(struct log *l, enum log_snap which, int64_t end_offset,
				int32_t end_epoch, const struct batch_producer_info *bi, int n)
{
	char path[PATH_MAX + 32];
	/* A file without an end epoch (every front snapshot) is written in
	 * version 1, which holds all it says: an mqfs that reads version 1
	 * alone (one from before producer checkpoints) then still knows the
	 * producers whose batches left the log after a downgrade, where a
	 * version 2 file would be refused and those producers forgotten. */
	bool v1 = end_epoch == -1;
	size_t hdr = v1 ? SNAP_HDR_V1 : SNAP_HDR, len = hdr + (size_t)n * SNAP_ENT;
	uint8_t *buf;
	int rc;

	if (n < 0 || n > SNAP_MAX_ENTRIES || end_offset < 0)
		return -EINVAL;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, "MQPS", 4);
	be32_put(buf + 4, (uint32_t)(v1 ? 1 : SNAP_VERSION) << 16);
	be64_put(buf + 8, (uint64_t)end_offset);
	if (!v1)
		be32_put(buf + 16, (uint32_t)end_epoch);
	be32_put(buf + hdr - 8, (uint32_t)n);
	for (int i = 0; i < n; i++)
		ent_put(buf + hdr + (size_t)i * SNAP_ENT, &bi[i]);
	be32_put(buf + hdr - 4, snap_crc(buf, len, hdr));
	snap_path(l->dir, which, path, sizeof(path));
	rc = io_write_file_atomic(l->io, path, buf, len);
	free(buf);
	return rc;
}

int log_producer_snapshot_remove(const struct io_ops *io, const char *dir)
{
	char path[PATH_MAX + 32];
	int rc = 0;

	/* The checkpoint first: a front snapshot without it is one a load
	 * may take; the other way round, a checkpoint would stand alone. */
	for (int which = LOG_SNAP_CKPT; which >= LOG_SNAP_FRONT && rc == 0; which--) {
		snap_path(dir, (enum log_snap)which, path, sizeof(path));
		rc = io->unlink(io->ctx, path);
		rc = rc == -ENOENT ? 0 : rc;
	}
	return rc;
}

void log_producer_checkpoint_cut(struct log *l, int64_t end)
{
	struct batch_producer_info *bi;
	char path[PATH_MAX + 32];
	int64_t ckpt_end;
	int32_t epoch;
	int n, rc;

	if (l->snap_end != LOG_SNAP_END_UNKNOWN && l->snap_end <= end)
		return; /* no snapshot past the cut */
	/* A checkpoint past the cut is never taken again (a load's check
	 * refuses it), but its end would hold every later checkpoint back
	 * until the log passed it again, each load meanwhile reading the
	 * headers from the front snapshot on. A failed unlink leaves it to
	 * that check. */
	if (log_producer_snapshot_read(l, LOG_SNAP_CKPT, &ckpt_end, &epoch, &bi, &n) == 0) {
		free(bi);
		if (ckpt_end > end) {
			snap_path(l->dir, LOG_SNAP_CKPT, path, sizeof(path));
			rc = l->io->unlink(l->io->ctx, path);
			if (rc < 0 && rc != -ENOENT)
				ENGINE_REPORT(ENGINE_LOG_WARN,
					      "%s: cannot remove (%s); not taken, as it ends at "
					      "offset %" PRId64 ", past the log end %" PRId64,
					      path, strerror(-rc), ckpt_end, end);
		}
	}
	l->snap_end = LOG_SNAP_END_UNKNOWN;
}

void log_set_trim_listener(struct log *l, log_trim_fn *fn, void *arg)
{
	l->trim_arg = arg;
	__atomic_store_n(&l->trim_fn, fn, __ATOMIC_RELEASE);
}

int log_trim_notify(struct log *l, int64_t new_start)
{
	log_trim_fn *fn = __atomic_load_n(&l->trim_fn, __ATOMIC_ACQUIRE);
	int rc;

	if (!fn)
		return 0;
	rc = fn(l->trim_arg, l, new_start, LOG_SNAP_FRONT);
	if (rc < 0)
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s: producer snapshot up to offset %" PRId64
			      " not written (%s): the records below stay",
			      l->dir, new_start, strerror(-rc));
	else if (l->snap_end != LOG_SNAP_END_UNKNOWN && new_start > l->snap_end)
		l->snap_end = new_start;
	return rc;
}

/* The newest end of the log's two snapshot files, whether the checkpoint
 * still holds or not (-1: none), to start log_producer_checkpoint from
 * after an open: one that no longer holds (an unclean cut below it) is
 * replaced once the log passes it again, and loads meanwhile start from
 * the front snapshot. */
static int64_t snap_end_on_disk(struct log *l)
{
	int64_t best = -1;

	for (int k = LOG_SNAP_FRONT; k <= LOG_SNAP_CKPT; k++) {
		struct batch_producer_info *bi;
		int64_t end;
		int32_t epoch;
		int n;

		if (log_producer_snapshot_read(l, (enum log_snap)k, &end, &epoch, &bi, &n) == 0) {
			free(bi);
			if (end > best)
				best = end;
		}
	}
	return best;
}

/* The base of the newest segment at or below limit, when at most
 * LOG_CHECKPOINT_ROLLED_SEGS segments lie between the log's newest
 * snapshot and it (-1 otherwise), and in *scan their bytes: the
 * checkpoint the latest rolls call for, whose scan reads only segments
 * just written, their headers likely still in the page cache. From the
 * end: only the active segment, and a segment or two waiting for their
 * flush, lie above limit. Caller holds l->lock. */
static int64_t rolled_target(const struct log *l, int64_t limit, int64_t *scan)
{
	int i = l->nsegs - 1, k;

	while (i >= 1 && l->segs[i]->base_offset > limit)
		i--;
	if (i < 1 || l->segs[i]->base_offset <= l->snap_end)
		return -1;
	*scan = 0;
	for (k = i - 1; k >= 0; k--) {
		if (i - k > LOG_CHECKPOINT_ROLLED_SEGS)
			return -1; /* further behind: the budgeted check's */
		*scan += atomic_load(&l->segs[k]->size);
		if (l->segs[k]->base_offset <= l->snap_end)
			break;
	}
	return l->segs[i]->base_offset;
}

/* The hw (the log end when lower), when the checkpoint there is the
 * stop's to write (log_producer_checkpoint_at_stop): every record on disk
 * (synced to the end, no leftovers of a failed append), past the newest
 * snapshot, and the segments from the one holding that snapshot's end on
 * within budget bytes, which go to *scan (-1 otherwise). Not above the
 * hw: the records there are those the next leader may not have, which a
 * restart cuts, and a checkpoint past a cut is not taken (ckpt_holds);
 * with one checkpoint file, not one per segment as Kafka keeps, the next
 * load would then read every header from the front snapshot on, and
 * every later checkpoint would wait until the log passed it again. The
 * next load reads the headers above the hw instead: what was not
 * committed at the stop, on a leader usually nothing. Caller holds
 * l->lock. */
static int64_t stop_target(struct log *l, int64_t budget, int64_t *scan)
{
	int64_t leo = log_leo(l), end = l->hw < leo ? l->hw : leo;

	if (l->synced_offset < leo || l->fence >= 0 || end <= l->snap_end ||
	    end <= l->log_start_offset)
		return -1;
	*scan = 0;
	for (int i = l->nsegs - 1; i >= 0; i--) {
		*scan += atomic_load(&l->segs[i]->size);
		if (l->segs[i]->base_offset <= l->snap_end)
			break;
	}
	return *scan <= budget ? end : -1;
}

enum ckpt_mode { CKPT_BUDGET, CKPT_ROLLED, CKPT_STOP };

/* log_producer_checkpoint, log_producer_checkpoint_rolled or
 * log_producer_checkpoint_at_stop, by mode. */
static int producer_checkpoint(struct log *l, int64_t *budget, enum ckpt_mode mode)
{
	log_trim_fn *fn = __atomic_load_n(&l->trim_fn, __ATOMIC_ACQUIRE);
	int64_t target = -1, bytes = 0, scan = 0;
	int rc = 0;

	if (!fn || *budget <= 0 || pthread_mutex_trylock(&l->maint_lock) != 0)
		return 0; /* no listener, no budget left, or a clean or a removal
			   * runs: the next check */
	if (l->snap_end == LOG_SNAP_END_UNKNOWN)
		l->snap_end = snap_end_on_disk(l);
	pthread_mutex_lock(&l->lock);
	/* The base of a segment at or below the hw and the synced offset,
	 * past the first and past the last snapshot: the newest such whose
	 * scan from there reads at most *budget bytes of segments, or the
	 * nearest one (the caller's thread is the scheduler's: logs that
	 * never had a checkpoint are caught up over several checks). Below
	 * the synced offset, because records a power cut takes could be
	 * written again in the same epoch with other producers' batches (on
	 * a single node), which the epoch check of a load would not see; the
	 * scheduler's flush of closed segments moves it up soon after a
	 * roll. */
	int64_t limit = l->hw < l->synced_offset ? l->hw : l->synced_offset;
	if (l->deleted || l->damaged) {
		/* nothing to keep */
	} else if (mode == CKPT_STOP) {
		target = stop_target(l, *budget, &scan);
	} else if (mode == CKPT_ROLLED) {
		/* Past the budget only as the pass's first (its budget whole),
		 * as the budgeted check takes at least one segment. */
		target = rolled_target(l, limit, &scan);
		if (target >= 0 && scan > *budget && *budget < LOG_CHECKPOINT_SCAN_BYTES)
			target = -1;
	} else
		for (int i = 1; i < l->nsegs && l->segs[i]->base_offset <= limit; i++) {
			if (l->segs[i]->base_offset <= l->snap_end)
				continue;
			bytes += atomic_load(&l->segs[i - 1]->size);
			if (target >= 0 && bytes > *budget)
				break;
			target = l->segs[i]->base_offset;
			scan = bytes;
		}
	pthread_mutex_unlock(&l->lock);
	if (target >= 0) {
		*budget -= scan;
		rc = fn(l->trim_arg, l, target, LOG_SNAP_CKPT);
		if (rc < 0)
			ENGINE_REPORT(ENGINE_LOG_ERR,
				      "%s: producer checkpoint at offset %" PRId64
				      " not written (%s): a load scans the log from the "
				      "previous one",
				      l->dir, target, strerror(-rc));
		else
			l->snap_end = target;
		rc = rc < 0 ? rc : 1;
	}
	pthread_mutex_unlock(&l->maint_lock);
	return rc;
}

bool log_sched_next(struct log *l, int64_t *delete_due)
{
	bool work = false, maint = pthread_mutex_trylock(&l->maint_lock) == 0;
	int64_t scan;

	pthread_mutex_lock(&l->lock);
	*delete_due = log_delete_next_due(l);
	for (int i = 0; i < l->nsegs - 1 && !work; i++)
		work = l->segs[i]->next_offset > l->recovery_point;
	/* As producer_checkpoint sees it: a clean or a removal running
	 * (maint_lock) puts its checkpoint off to the next tick; snap_end
	 * is read once from disk by the first one. */
	if (!work && !l->deleted && !l->damaged && __atomic_load_n(&l->trim_fn, __ATOMIC_ACQUIRE))
		work = !maint || l->snap_end == LOG_SNAP_END_UNKNOWN ||
		       rolled_target(l, log_leo(l), &scan) >= 0;
	pthread_mutex_unlock(&l->lock);
	if (maint)
		pthread_mutex_unlock(&l->maint_lock);
	return work;
}

int log_producer_checkpoint(struct log *l, int64_t *budget)
{
	return producer_checkpoint(l, budget, CKPT_BUDGET);
}

int log_producer_checkpoint_rolled(struct log *l, int64_t *budget)
{
	return producer_checkpoint(l, budget, CKPT_ROLLED);
}

int log_producer_checkpoint_at_stop(struct log *l, int64_t *budget)
{
	return producer_checkpoint(l, budget, CKPT_STOP);
}
