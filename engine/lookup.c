/*
 * lookup.c — finding things in the log: the segment holding an offset or
 * a line position (util/bsearch.h's bsearch_last_le over the segment
 * list), and the record at an offset, at a line position, or the first at
 * or after a timestamp (the segment's .lines or .timeindex narrows the
 * search to one batch, which is then decoded and walked).
 *
 * A batch that does not decode is reported (log_corrupt) and the lookup
 * fails with -EBADMSG; an
 * offset, position or time past the end is -ERANGE. The one exception is
 * the line position of a bound the log takes at open (its checkpointed hw
 * or log start: log_offset_to_pos_bound_locked), which is the start of
 * such a batch's lines: a bad batch there must not refuse the partition.
 * The same holds the other way for the end of what a reader was given
 * (log_pos_to_offset_bound): a reader stops at a bad batch's first byte,
 * whose offset is the batch's base offset, in its .lines entry, so the
 * records before it can be committed without decoding it.
 *
 * A lookup by time never answers a record below the log start offset
 * (Kafka's fetchOffsetByTimestamp searches from logStartOffset): when
 * DeleteRecords moved the start inside a segment, that segment's largest
 * timestamp and its time index still count the records below it.
 *
 * The active segment's pending .lines entries are written before a search
 * (lookup_prepare) so that it sees every batch. The line position of an
 * offset where one of the last appends began needs no search: the append
 * noted it (l->pos_hint), and the hw moves to such offsets, one fetch
 * behind the LEO.
 *
 * Locking: every search runs with l->lock held; the public functions take
 * it, the _locked ones expect it.
 */
#include <errno.h>
#include <stdlib.h>

#include "engine/log_int.h"
#include "util/bsearch.h"

/* The keys of the segment list for bsearch_last_le: base offsets, line
 * bases. Both increase along the list (invariant 2 of log.c; line
 * positions increase with offsets). */
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

/* Walks the batch at .lines entry i of s; calls back per record with its
 * line position. Stops when fn returns non-zero (returned). A batch that
 * does not decode is reported (log_corrupt) when report. */
static int batch_walk(struct log *l, struct seg *s, int64_t i, bool report,
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
		int64_t len = line_len(&l->lf, &r);
		if ((rc = fn(arg, &r, pos)) != 0)
			break;
		pos += len;
	}
out:
	if (rc == -EBADMSG && report)
		log_corrupt(l, s, e.position, total > 0 ? buf : NULL,
			    total > 0 ? (size_t)total : 0);
	batch_iter_free(&it);
	free(buf);
	return rc;
}

struct find_arg {
	int64_t key, offset, pos, timestamp;
	int64_t from; /* by time: no record below this offset (the log start) */
	int mode;
	bool bound; /* log_offset_to_pos_bound_locked, log_pos_to_offset_bound */
	const struct line_fmt *lf;
};

static int find_cb(void *arg, const struct rec *r, int64_t pos)
{
	struct find_arg *f = arg;
	bool hit;
	if (f->mode == 0)
		hit = r->offset >= f->key;
	else if (f->mode == 1)
		hit = pos + line_len(f->lf, r) > f->key;
	else
		hit = r->timestamp >= f->key && r->offset >= f->from;
	if (!hit)
		return 0;
	f->offset = r->offset;
	f->pos = pos;
	f->timestamp = r->timestamp;
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
			int rc = batch_walk(l, s, i, !f->bound, find_cb, f);
			if (rc == -EBADMSG && f->bound) {
				struct lines_ent e;
				int rc2 = seg_read_lines_ent(s, i, &e);
				if (rc2 < 0)
					return rc2;
				/* By position, only a key at or before the batch's
				 * first byte: inside it, which record a byte is of is
				 * in the bytes that do not decode. */
				if (f->mode == 1 && f->key > e.line_pos)
					return rc;
				f->pos = e.line_pos;
				f->offset = s->base_offset + e.rel_offset;
				return 0;
			}
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

/* The line position of offset from l->pos_hint: where an append began,
 * with no truncation since, in the active segment (which the cleaner
 * never rewrites, so the record there is still the first at or after
 * offset). Caller holds the lock. */
static bool pos_from_hint(struct log *l, int64_t offset, int64_t *pos)
{
	if (offset < log_active(l)->base_offset)
		return false;
	for (int k = 0; k < LOG_POS_HINTS; k++) {
		if (l->pos_hint[k].offset == offset && l->pos_hint[k].stamp == l->truncations + 1) {
			*pos = l->pos_hint[k].pos;
			return true;
		}
	}
	return false;
}

static int offset_to_pos(struct log *l, int64_t offset, bool bound, int64_t *pos)
{
	if (offset >= log_leo(l))
		return -ERANGE;
	if (pos_from_hint(l, offset, pos))
		return 0;
	int rc0 = lookup_prepare(l);
	if (rc0 < 0)
		return rc0;
	int si = log_seg_index_by_offset(l, offset);
	if (si < 0)
		si = 0;
	int64_t ei = seg_find_offset(l->segs[si], offset);
	struct find_arg f = { .key = offset, .mode = 0, .bound = bound, .lf = &l->lf };
	int rc = find_from(l, si, ei, &f);
	if (rc == 0)
		*pos = f.pos;
	return rc;
}

int log_offset_to_pos_locked(struct log *l, int64_t offset, int64_t *pos)
{
	return offset_to_pos(l, offset, false, pos);
}

int log_offset_to_pos_bound_locked(struct log *l, int64_t offset, int64_t *pos)
{
	return offset_to_pos(l, offset, true, pos);
}

int log_offset_to_pos(struct log *l, int64_t offset, int64_t *pos)
{
	pthread_mutex_lock(&l->lock);
	int rc = log_offset_to_pos_locked(l, offset, pos);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static int pos_to_offset(struct log *l, int64_t pos, bool bound, int64_t *offset)
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
		struct find_arg f = { .key = pos, .mode = 1, .bound = bound, .lf = &l->lf };
		rc = find_from(l, si, ei, &f);
		if (rc == 0)
			*offset = f.offset;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

int log_pos_to_offset(struct log *l, int64_t pos, int64_t *offset)
{
	return pos_to_offset(l, pos, false, offset);
}

int log_pos_to_offset_bound(struct log *l, int64_t pos, int64_t *offset)
{
	return pos_to_offset(l, pos, true, offset);
}

int log_time_to_offset(struct log *l, int64_t ts, int64_t *offset)
{
	int64_t found_ts;

	return log_time_lookup(l, ts, offset, &found_ts);
}

/* The first record at or after the log start whose timestamp reaches ts:
 * the first segment from the start's whose largest timestamp reaches ts,
 * its time index, then a walk from that entry (no lower than the start's)
 * that takes no record below the start and goes on into later segments,
 * as the records of ts in that segment may all be below the start. */
static int time_lookup_locked(struct log *l, int64_t ts, int64_t *offset, int64_t *found_ts)
{
	int64_t start = l->log_start_offset;
	int si = log_seg_index_by_offset(l, start);

	for (si = si < 0 ? 0 : si; si < l->nsegs; si++) {
		struct seg *s = l->segs[si];
		if (s->max_ts < ts)
			continue;
		int64_t from = seg_find_time(s, &l->lf, ts);
		if (from < 0)
			return (int)from;
		int64_t ei = seg_find_offset(s, from > start ? from : start);
		struct find_arg f = { .key = ts, .from = start, .mode = 2, .lf = &l->lf };
		int rc = find_from(l, si, ei, &f);
		if (rc == 0) {
			*offset = f.offset;
			*found_ts = f.timestamp;
		}
		return rc;
	}
	return -ERANGE;
}

int log_time_lookup(struct log *l, int64_t ts, int64_t *offset, int64_t *found_ts)
{
	pthread_mutex_lock(&l->lock);
	int rc = lookup_prepare(l);
	if (rc == 0)
		rc = time_lookup_locked(l, ts, offset, found_ts);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

struct max_arg {
	int64_t from, max_ts;
};

static int max_cb(void *arg, const struct rec *r, int64_t pos)
{
	struct max_arg *m = arg;

	(void)pos;
	if (r->offset >= m->from && r->timestamp > m->max_ts)
		m->max_ts = r->timestamp;
	return 0;
}

/* The largest timestamp of the records at or after the log start, when
 * the largest of the segments' is only held below it: the segments after
 * the start's keep theirs, the start's is walked from the start's batch.
 * -ERANGE when none has a timestamp. Caller holds the lock. */
static int max_time_from_start(struct log *l, int64_t *max_ts)
{
	int64_t start = l->log_start_offset;
	int si = log_seg_index_by_offset(l, start);
	struct max_arg m = { .from = start, .max_ts = -1 };

	if (si < 0)
		si = 0;
	for (int k = si + 1; k < l->nsegs; k++)
		if (l->segs[k]->max_ts > m.max_ts)
			m.max_ts = l->segs[k]->max_ts;
	struct seg *s = l->segs[si];
	int64_t n = atomic_load(&s->lines_entries), ei = seg_find_offset(s, start);
	for (int64_t i = ei < 0 ? 0 : ei; i < n; i++) {
		int rc = batch_walk(l, s, i, true, max_cb, &m);
		if (rc < 0)
			return rc;
	}
	*max_ts = m.max_ts;
	return m.max_ts < 0 ? -ERANGE : 0;
}

/* Each segment keeps its largest timestamp (from its batches' headers), so
 * the largest of the log is one pass over the segment list, not over the
 * records; the record holding it is then the first at or after that time,
 * found as any time lookup is. Among equal timestamps the earliest record
 * wins, as Kafka takes the first segment holding the largest. When that
 * record is below the log start (the lookup finds none), the largest of
 * the records from the start on is found by a walk of the rest of the
 * start's segment (max_time_from_start): rare (DeleteRecords inside the
 * segment that holds the largest), and the one case where a lookup reads
 * more than a batch run. */
int log_max_time_lookup(struct log *l, int64_t *offset, int64_t *found_ts)
{
	int64_t max_ts = -1;

	pthread_mutex_lock(&l->lock);
	int rc = lookup_prepare(l);
	for (int si = 0; rc == 0 && si < l->nsegs; si++)
		if (l->segs[si]->max_ts > max_ts)
			max_ts = l->segs[si]->max_ts;
	if (rc == 0)
		rc = max_ts < 0 ? -ERANGE : time_lookup_locked(l, max_ts, offset, found_ts);
	if (rc == -ERANGE && max_ts >= 0) {
		rc = max_time_from_start(l, &max_ts);
		if (rc == 0)
			rc = time_lookup_locked(l, max_ts, offset, found_ts);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}
