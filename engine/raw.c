/*
 * raw.c — the fetch path's reads: whole record batches as a range of one
 * segment's .log file (log_read_raw), for the network layer to sendfile
 * with no decode and no copy.
 *
 * Kafka's rules for what one fetch of a partition returns:
 *   1. fetch_offset in [log_start_offset, LEO], else -ERANGE
 *      (OFFSET_OUT_OF_RANGE); at the LEO, nothing;
 *   2. it starts at the batch holding fetch_offset (its first records,
 *      below fetch_offset, go too: batches are never split), or at the
 *      first batch after it when compaction removed it;
 *   3. only batches wholly below upto: the hw for a consumer, the LEO for
 *      a follower (so nothing uncommitted reaches a consumer);
 *   4. at most max_bytes, but the first batch always, whatever its size:
 *      a fetch that could not take one batch would never progress;
 *   5. one segment at a time (Kafka's LogSegment.read): the range is one
 *      file.
 * The batch is found through the segment's .lines (one entry per batch,
 * base offset and position: a binary search, O(log n)); then headers are
 * read one by one from there, only as far as the range goes.
 *
 * The range stays valid while the caller holds it: the segment is
 * referenced (seg_ref: retention and the cleaner rename a segment that
 * leaves the log and unlink it at its last reference) and pinned
 * (seg_pin: its descriptor stays open). Only a truncation cuts bytes in
 * place, which a leader does only on becoming a follower.
 *
 * Locking: the lookup runs under l->lock (the segment list, the active
 * segment's pending .lines entries); the caller sends without any lock.
 */
#include <errno.h>
#include <string.h>

#include "engine/log_int.h"

enum { SCAN_NEXT = 0, SCAN_FOUND = 1, SCAN_STOP = 2 };

/* The batches of s from fetch_offset on that the rules allow, into out.
 * SCAN_FOUND when it took some, SCAN_STOP when the first one it would
 * take is not wholly below upto, SCAN_NEXT when every batch of s is below
 * fetch_offset, or -errno. Lock held. */
static int raw_scan(struct log *l, struct seg *s, int64_t fetch_offset, int64_t upto,
		    size_t max_bytes, struct log_raw *out)
{
	int64_t n = atomic_load(&s->lines_entries), size = atomic_load(&s->size);
	int64_t i = seg_find_offset(s, fetch_offset);

	if (i == -ENOENT)
		return SCAN_NEXT; /* an empty segment */
	if (i < 0)
		i = 0; /* fetch_offset in a gap before the first batch */
	for (; i < n; i++) {
		struct lines_ent e;
		uint8_t h[BATCH_HDR_SIZE];
		struct batch_hdr bh;
		/* An error past the first batch ends the range before it: what
		 * was found is sent, and the next fetch meets the error. */
		int rc = seg_read_lines_ent(s, i, &e);
		if (rc < 0)
			return out->batches > 0 ? SCAN_FOUND : rc;
		ssize_t got = seg_pread(s, SEG_FD_LOG, h, sizeof(h), e.position);
		if (got < 0)
			return out->batches > 0 ? SCAN_FOUND : (int)got;
		int64_t total = got == (ssize_t)sizeof(h) ? batch_total_size(h) : 0;
		if (got != (ssize_t)sizeof(h) || batch_hdr_decode(h, sizeof(h), &bh) < 0 ||
		    bh.last_offset_delta < 0 || e.position + total > size) {
			log_corrupt(l, s, e.position, NULL, (size_t)(total > 0 ? total : got));
			return out->batches > 0 ? SCAN_FOUND : -EBADMSG;
		}
		int64_t last = bh.base_offset + bh.last_offset_delta;
		if (last < fetch_offset)
			continue;
		if (last >= upto)
			break;
		if (out->batches > 0 && out->len + total > (int64_t)max_bytes)
			break;
		if (out->batches == 0) {
			out->pos = e.position;
			out->base_offset = bh.base_offset;
		}
		out->len += total;
		out->last_offset = last;
		out->last_epoch = bh.partition_leader_epoch;
		out->batches++;
	}
	return out->batches > 0 ? SCAN_FOUND : i < n ? SCAN_STOP : SCAN_NEXT;
}

static void raw_clear(struct log_raw *out)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	out->base_offset = -1;
	out->last_offset = -1;
	out->last_epoch = -1;
}

int log_read_raw(struct log *l, int64_t fetch_offset, int64_t upto, size_t max_bytes,
		 struct log_raw *out)
{
	raw_clear(out);
	pthread_mutex_lock(&l->lock);
	int64_t leo = log_leo(l);
	int rc = 0;
	if (fetch_offset < l->log_start_offset || fetch_offset > leo) {
		rc = -ERANGE;
		goto out;
	}
	if (upto < 0 || upto > leo)
		upto = leo;
	if (fetch_offset >= upto)
		goto out;
	/* .lines must name every batch of the active segment. */
	rc = seg_lines_sync(log_active(l));
	if (rc < 0)
		goto out;
	int si = log_seg_index_by_offset(l, fetch_offset);
	for (si = si < 0 ? 0 : si; si < l->nsegs; si++) {
		struct seg *s = l->segs[si];
		rc = seg_pin(s);
		if (rc < 0)
			break;
		rc = raw_scan(l, s, fetch_offset, upto, max_bytes, out);
		if (rc == SCAN_FOUND) {
			seg_ref(s);
			out->seg = s;
			out->fd = s->log_fd;
			rc = 0;
			break;
		}
		seg_unpin(s);
		if (rc != SCAN_NEXT)
			break;
	}
	if (rc < 0 || !out->seg)
		raw_clear(out);
	if (rc > 0)
		rc = 0;
out:
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void log_raw_release(struct log_raw *raw)
{
	struct seg *s = raw->seg;

	if (s) {
		seg_unpin(s);
		seg_unref(s);
	}
	raw_clear(raw);
}
