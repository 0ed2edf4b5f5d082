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
 *      file;
 *   6. for a follower or read copy (log_read_raw_copy), in a log that
 *      may hold compaction's gaps (log_may_have_gaps), no gap inside the
 *      range (a consumer takes them, as from Kafka): it ends before a
 *      batch whose base offset is not the last offset of the batch
 *      before plus one. The follower
 *      places the range's first batch at first_line_pos (the .lines
 *      entry's, which the response carries when that batch starts past
 *      the fetch offset) and each next one right after the one before:
 *      line positions are not in the batches, and a gap in offsets is
 *      one in line positions too, which the follower could not place.
 *      Such a log's headers are read batch by batch (below), as the
 *      entries alone cannot tell where a batch ends.
 * The batch is found through the segment's .lines (one entry per batch,
 * base offset and position: a binary search, O(log n), one pread per
 * step). Followers fetch where the last fetch of the segment began (the
 * other follower's fetch of the same records) or ended (the next
 * records), so those two entries are tried first (raw_find): a block of
 * entries read there, which the scan goes on with, settles the lookup
 * when an entry at or below fetch_offset is followed in it by one above
 * (base offsets strictly increase along .lines) or is the last entry.
 * From there the
 * range is measured on .lines entries read 64 at a time (raw_scan): a
 * batch ends where the next one starts (the batches of a .log are
 * contiguous), and its last offset is below the next one's base offset,
 * so a batch followed by an entry at or below upto is wholly below it
 * without reading its header. Headers are read only where the entries
 * cannot tell: the first batch (it may end below fetch_offset), a batch
 * whose successor starts above upto or that has none, and the last batch
 * taken (its exact last offset and epoch for the result). A follower's
 * fetch of a megabyte of small batches thus costs a few preads, not two
 * per batch. Where an entry and a header disagree (a .lines entry that
 * does not match its batch) the segment is scanned again header by header
 * (raw_scan_each), which reports the corrupt batch.
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

enum { SCAN_NEXT = 0, SCAN_FOUND = 1, SCAN_STOP = 2, SCAN_SLOW = 3 };

#define RAW_ENTS 64 /* .lines entries read at once */

/* Rules 2-4 for one batch (at pos, base offset base, total bytes, last
 * offset last): RAW_SKIP below fetch_offset, RAW_STOP at or past upto or
 * over max_bytes, else RAW_TAKEN, added to out. */
enum { RAW_SKIP, RAW_STOP, RAW_TAKEN };
static int raw_take(struct log_raw *out, int64_t fetch_offset, int64_t upto, size_t max_bytes,
		    bool gaps, int64_t pos, int64_t line_pos, int64_t base, int64_t total,
		    int64_t last, int32_t epoch)
{
	if (last < fetch_offset)
		return RAW_SKIP;
	if (last >= upto)
		return RAW_STOP;
	if (out->batches > 0 && out->len + total > (int64_t)max_bytes)
		return RAW_STOP;
	/* Rule 6: out->last_offset is exact here (every header read). */
	if (gaps && out->batches > 0 && base != out->last_offset + 1)
		return RAW_STOP;
	if (out->batches == 0) {
		out->pos = pos;
		out->base_offset = base;
		out->first_line_pos = line_pos;
	}
	out->len += total;
	out->last_offset = last;
	out->last_epoch = epoch;
	out->batches++;
	return RAW_TAKEN;
}

/* The batches of s from fetch_offset on that the rules allow, into out.
 * SCAN_FOUND when it took some, SCAN_STOP when the first one it would
 * take is not wholly below upto, SCAN_NEXT when every batch of s is below
 * fetch_offset, or -errno. Lock held. */
static int raw_scan_each(struct log *l, struct seg *s, int64_t fetch_offset, int64_t upto,
			 size_t max_bytes, bool gaps, struct log_raw *out)
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
		int take =
			raw_take(out, fetch_offset, upto, max_bytes, gaps, e.position, e.line_pos,
				 bh.base_offset, total, bh.base_offset + bh.last_offset_delta,
				 bh.partition_leader_epoch);
		if (take == RAW_STOP)
			break;
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
	out->first_line_pos = -1;
}

/* The header of the batch at pos, which .lines says has base offset base
 * and total bytes: its last offset and epoch. false when the header does
 * not decode or disagrees. Lock held. */
static bool raw_hdr(struct seg *s, int64_t pos, int64_t base, int64_t total, int64_t *last,
		    int32_t *epoch)
{
	uint8_t h[BATCH_HDR_SIZE];
	struct batch_hdr bh;

	if (seg_pread(s, SEG_FD_LOG, h, sizeof(h), pos) != (ssize_t)sizeof(h) ||
	    batch_hdr_decode(h, sizeof(h), &bh) < 0 || bh.last_offset_delta < 0 ||
	    bh.base_offset != base || batch_total_size(h) != total)
		return false;
	*last = bh.base_offset + bh.last_offset_delta;
	*epoch = bh.partition_leader_epoch;
	return true;
}

/* The index of the last .lines entry of s at or below fetch_offset (as
 * seg_find_offset), found from the segment's hints when they hold it;
 * ents[0..*nl) then hold the entries from *bi on. Lock held. */
static int64_t raw_find(struct seg *s, int64_t fetch_offset, int64_t n, struct lines_ent *ents,
			int64_t *bi, int *nl)
{
	for (int h = 0; h < 2; h++) {
		int64_t at = s->raw_hint[h];
		if (at < 0 || at >= n || (h == 1 && at == s->raw_hint[0]))
			continue;
		int want = n - at < RAW_ENTS ? (int)(n - at) : RAW_ENTS;
		if (seg_read_lines_ents(s, at, want, ents) != want)
			break; /* the binary search meets the error too */
		*bi = at;
		*nl = want;
		if (s->base_offset + ents[0].rel_offset > fetch_offset)
			continue;
		for (int j = 0; j + 1 < want; j++)
			if (s->base_offset + ents[j + 1].rel_offset > fetch_offset)
				return at + j;
		if (at + want == n)
			return n - 1;
	}
	*bi = 0; /* the scan reads the entries where the search lands */
	*nl = 0;
	return seg_find_offset(s, fetch_offset);
}

/* raw_scan_each's result measured on .lines entries (the file's header
 * comment); SCAN_SLOW when an entry or a header does not agree, or a read
 * fails: the caller clears out and asks raw_scan_each. Lock held. */
static int raw_scan(struct log *l, struct seg *s, int64_t fetch_offset, int64_t upto,
		    size_t max_bytes, bool gaps, struct log_raw *out)
{
	int64_t n = atomic_load(&s->lines_entries), size = atomic_load(&s->size);
	struct lines_ent ents[RAW_ENTS];
	int64_t bi = 0, first_taken = -1;
	int nl = 0;
	int64_t i = n > 0 ? raw_find(s, fetch_offset, n, ents, &bi, &nl) : -ENOENT;
	int64_t taken_pos = -1, taken_base = -1, taken_total = 0;
	bool taken_hdr = false;

	(void)l;
	if (i == -ENOENT)
		return SCAN_NEXT;
	if (i < -1)
		return SCAN_SLOW;
	if (i < 0)
		i = 0;
	for (; i < n; i++) {
		/* Entries i and i + 1 (when there is one) in ents. */
		if (i >= bi + nl || (i + 1 < n && i + 1 >= bi + nl)) {
			int want = n - i < RAW_ENTS ? (int)(n - i) : RAW_ENTS;
			if (seg_read_lines_ents(s, i, want, ents) != want)
				return SCAN_SLOW;
			bi = i;
			nl = want;
		}
		const struct lines_ent *e = &ents[i - bi];
		bool has_next = i + 1 < n;
		int64_t base = s->base_offset + e->rel_offset;
		int64_t end = has_next ? ents[i + 1 - bi].position : size;
		int64_t next_base = has_next ? s->base_offset + ents[i + 1 - bi].rel_offset : -1;
		int64_t total = end - (int64_t)e->position, last;
		int32_t epoch = -1;
		bool hdr = gaps || out->batches == 0 || !has_next || next_base > upto;

		if (total < BATCH_HDR_SIZE || end > size || (has_next && next_base <= base))
			return SCAN_SLOW;
		if (hdr) {
			if (!raw_hdr(s, e->position, base, total, &last, &epoch))
				return SCAN_SLOW;
		} else {
			last = next_base - 1; /* an upper bound, below upto */
		}
		int take = raw_take(out, fetch_offset, upto, max_bytes, gaps, e->position,
				    e->line_pos, base, total, last, epoch);
		if (take == RAW_STOP)
			break;
		if (take == RAW_SKIP)
			continue;
		if (first_taken < 0)
			first_taken = i;
		taken_pos = e->position;
		taken_base = base;
		taken_total = total;
		taken_hdr = hdr;
	}
	/* The last batch's header bounds the whole range: offsets increase
	 * batch after batch in a .log, so with its last offset below upto
	 * every record sent is, whatever the entries in between said. */
	if (out->batches > 0 && !taken_hdr &&
	    (!raw_hdr(s, taken_pos, taken_base, taken_total, &out->last_offset, &out->last_epoch) ||
	     out->last_offset >= upto))
		return SCAN_SLOW;
	if (out->batches > 0) {
		s->raw_hint[0] = i;
		s->raw_hint[1] = first_taken;
	}
	return out->batches > 0 ? SCAN_FOUND : i < n ? SCAN_STOP : SCAN_NEXT;
}

static int read_raw(struct log *l, int64_t fetch_offset, int64_t upto, size_t max_bytes, bool copy,
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
	bool gaps = copy && log_may_have_gaps(l);
	int si = log_seg_index_by_offset(l, fetch_offset);
	for (si = si < 0 ? 0 : si; si < l->nsegs; si++) {
		struct seg *s = l->segs[si];
		rc = seg_pin(s);
		if (rc < 0)
			break;
		rc = raw_scan(l, s, fetch_offset, upto, max_bytes, gaps, out);
		if (rc == SCAN_SLOW) {
			raw_clear(out);
			rc = raw_scan_each(l, s, fetch_offset, upto, max_bytes, gaps, out);
		}
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

int log_read_raw(struct log *l, int64_t fetch_offset, int64_t upto, size_t max_bytes,
		 struct log_raw *out)
{
	return read_raw(l, fetch_offset, upto, max_bytes, false, out);
}

int log_read_raw_copy(struct log *l, int64_t fetch_offset, int64_t upto, size_t max_bytes,
		      struct log_raw *out)
{
	return read_raw(l, fetch_offset, upto, max_bytes, true, out);
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
