/*
 * prodsnap.c — the producer snapshot: what the idempotent producer state
 * knew of the batches that left the front of the log (Kafka's
 * ProducerStateManager snapshot files), so that a state rebuilt from the
 * log (repl/producer_state.c, producer_state_load) still knows the
 * producers whose batches retention or DeleteRecords removed.
 *
 * When: before the log start moves up to new_start (log_retention_run,
 * log_delete_records, on a leader and on a follower alike, maint_lock
 * held, the log's lock not), the trim listener (log_set_trim_listener;
 * the broker's is producer_state_trim) folds the previous snapshot and
 * the headers of the batches about to go into one and writes it here. If
 * it fails, nothing is removed this time (a removal without it would
 * forget those producers). Compaction keeps each producer's last batch
 * (cleaner_producers.c), so it writes none. A follower's log emptied and
 * started again at its leader's start (reset.c) loses its file, as
 * Kafka's truncateFullyAndStartAt empties the producer state: the
 * producers' batches between its old end and the new start, which it
 * never had, may be newer than what the file says, and a stale last
 * sequence would refuse a producer's next batch OUT_OF_ORDER should this
 * replica lead, where an unknown producer is taken at any sequence.
 *
 * File `producer-snapshot` in the log's directory, replaced durably
 * (temp, fsync, rename, fsync of the directory: io_write_file_atomic).
 * All integers big-endian:
 *
 *   0  magic "MQPS"
 *   4  u16 version (1)
 *   6  u16 0
 *   8  i64 end_offset: the snapshot holds the state of every batch whose
 *      last offset is below it; the log is replayed after it from the
 *      batch holding max(end_offset, log start)
 *  16  u32 count of entries
 *  20  u32 CRC-32C of bytes 0..19 and of the entries
 *  24  count entries of 46 bytes, a producer's kept batches oldest first
 *      (producers in any order), each a batch header as the state keeps
 *      it (a run of batches as one):
 *        i64 producer_id (>= 0), i64 base_offset, i64 last_offset,
 *        i64 max_timestamp, i32 leader_epoch, i32 records (>= 1),
 *        i32 base_sequence, i16 producer_epoch
 *
 * Invariants: base_offset <= last_offset < end_offset. A file that breaks
 * one (cut short, a bad CRC, another version) is refused: -EBADMSG and an
 * error line naming the file and why, and the state is rebuilt from the
 * log alone (what an older version would do). A missing file means no
 * batch of a producer has left the log (or it was written by a version
 * without snapshots).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/log_int.h"

#define SNAP_NAME        "producer-snapshot"
#define SNAP_HDR         24
#define SNAP_ENT         46
#define SNAP_VERSION     1
#define SNAP_MAX_ENTRIES (1 << 20) /* io_read_file reads 16 MiB at most */

static void snap_path(const char *dir, char *out, size_t size)
{
	snprintf(out, size, "%s/" SNAP_NAME, dir);
}

static uint32_t snap_crc(const uint8_t *buf, size_t len)
{
	uint32_t crc = crc32c(0, buf, 20);

	return crc32c(crc, buf + SNAP_HDR, len - SNAP_HDR);
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

/* Why buf[0..len) is not a valid snapshot, or NULL (*end, *count set). */
static const char *snap_check(const uint8_t *buf, size_t len, int64_t *end, uint32_t *count)
{
	if (len < SNAP_HDR || memcmp(buf, "MQPS", 4) != 0)
		return "not a producer snapshot";
	if (be32_get(buf + 4) >> 16 != SNAP_VERSION)
		return "unknown version";
	*end = (int64_t)be64_get(buf + 8);
	*count = be32_get(buf + 16);
	if (*count > SNAP_MAX_ENTRIES || len != SNAP_HDR + (size_t)*count * SNAP_ENT)
		return "size does not match its count of entries";
	if (be32_get(buf + 20) != snap_crc(buf, len))
		return "CRC mismatch";
	if (*end < 0)
		return "negative end offset";
	for (uint32_t i = 0; i < *count; i++) {
		struct batch_producer_info bi;

		ent_get(buf + SNAP_HDR + (size_t)i * SNAP_ENT, &bi);
		if (bi.producer_id < 0 || bi.records < 1 || bi.base_offset < 0 ||
		    bi.last_offset < bi.base_offset || bi.last_offset >= *end ||
		    bi.base_sequence < 0)
			return "an entry out of range";
	}
	return NULL;
}

int log_producer_snapshot_read(struct log *l, int64_t *end_offset, struct batch_producer_info **out,
			       int *n)
{
	char path[PATH_MAX + 32], *buf = NULL;
	size_t len = 0;
	uint32_t count = 0;
	const char *why;
	int rc;

	*out = NULL;
	*n = 0;
	*end_offset = -1;
	snap_path(l->dir, path, sizeof(path));
	rc = io_read_file(l->io, path, &buf, &len);
	if (rc < 0) {
		if (rc != -ENOENT)
			ENGINE_REPORT(ENGINE_LOG_ERR, "%s: cannot read: %s", path, strerror(-rc));
		return rc;
	}
	why = snap_check((const uint8_t *)buf, len, end_offset, &count);
	if (why) {
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s: refused (%s): producers whose batches left the log are "
			      "forgotten",
			      path, why);
		*end_offset = -1;
		rc = -EBADMSG;
		goto out;
	}
	*out = calloc(count ? count : 1, sizeof(**out));
	if (!*out) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < count; i++)
		ent_get((const uint8_t *)buf + SNAP_HDR + (size_t)i * SNAP_ENT, &(*out)[i]);
	*n = (int)count;
out:
	free(buf);
	return rc;
}

int log_producer_snapshot_write(struct log *l, int64_t end_offset,
				const struct batch_producer_info *bi, int n)
{
	char path[PATH_MAX + 32];
	size_t len = SNAP_HDR + (size_t)n * SNAP_ENT;
	uint8_t *buf;
	int rc;

	if (n < 0 || n > SNAP_MAX_ENTRIES || end_offset < 0)
		return -EINVAL;
	buf = calloc(1, len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, "MQPS", 4);
	be32_put(buf + 4, (uint32_t)SNAP_VERSION << 16);
	be64_put(buf + 8, (uint64_t)end_offset);
	be32_put(buf + 16, (uint32_t)n);
	for (int i = 0; i < n; i++)
		ent_put(buf + SNAP_HDR + (size_t)i * SNAP_ENT, &bi[i]);
	be32_put(buf + 20, snap_crc(buf, len));
	snap_path(l->dir, path, sizeof(path));
	rc = io_write_file_atomic(l->io, path, buf, len);
	free(buf);
	return rc;
}

int log_producer_snapshot_remove(const struct io_ops *io, const char *dir)
{
	char path[PATH_MAX + 32];
	int rc;

	snap_path(dir, path, sizeof(path));
	rc = io->unlink(io->ctx, path);
	return rc == -ENOENT ? 0 : rc;
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
	rc = fn(l->trim_arg, l, new_start);
	if (rc < 0)
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s: producer snapshot up to offset %" PRId64
			      " not written (%s): the records below stay",
			      l->dir, new_start, strerror(-rc));
	return rc;
}
