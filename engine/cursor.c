/*
 * cursor.c — the line view reader.
 *
 * A cursor stands at a line position: in a segment (referenced, so
 * retention cannot unlink its files under it; each read pins its
 * descriptors for the read only, seg.c), at a .lines entry, inside the
 * decoded batch of that entry, inside one record's line. Sequential reads
 * walk the .lines entries and the .log bytes in lockstep through read-ahead
 * buffers and never search; a read at any other position seeks with two
 * binary searches (segments by line base, then .lines entries).
 *
 * The cursor reads only what the appender has published (seg->size,
 * seg->lines_entries, atomically) and returns only records below the high
 * watermark, snapshotted once per call. One call returns bytes of
 * contiguous line positions: it stops before a gap left by retention or
 * compaction, and the next call reports the jump in *actual_pos.
 *
 * Between batches, a big read takes the whole batches that fit at once,
 * claimed run by run by the reading thread and a helper (cur_batches);
 * anything it cannot vouch for (a gap, a batch not as its entries say) is
 * left to the record by record path. A read given the caller's other
 * buffer has the next read's whole batches decoded into it meanwhile
 * ("decoding ahead", below).
 *
 * Truncation: a read after a truncation of the log (l->truncations moved
 * since the cursor's last seek) seeks afresh, at its position: the .lines
 * entries and .log bytes a cursor keeps may be of batches cut since (above
 * the high watermark, read ahead) and written again differently.
 *
 * Read-ahead: the record by record path reads RA_SIZE of the .log at a
 * time, but in a read big enough for the whole-batch path, which reads its
 * own batches: there it reads the batch it opens only.
 *
 * Memory: a cursor's buffers grow (to RA_SIZE, or to what a whole-batch
 * read takes) only with room in the manager's read-ahead budget (struct
 * ra_budget); without room a cursor reads with RA_SMALL, or the one batch
 * it needs when that is bigger (charged all the same, so that the budget
 * counts every byte), and the whole-batch path is skipped. Buffers are kept
 * (and charged) until the cursor is freed.
 *
 * Corruption: every batch is checked whole (CRC-32C included) before any
 * of its records is copied out, on both paths. A bad batch ends the read
 * before it: the bytes of the records before it are returned, and the next
 * read (which starts in the bad batch) fails with -EBADMSG, every time, with
 * the cursor left where it was. The record by record path reports it
 * (log_corrupt); the two-thread path only falls back to it. What a read
 * returns moves the log's mark of checked batches (log_checked_read). A
 * batch above that mark is also measured before its first record goes out
 * (cur_fit): its lines must end by the next batch's line position, or its
 * .lines entry (or the next one) was moved on disk (corrupt.c, "Moved
 * entries"); the two-thread path takes only batches whose lines fill
 * their room exactly, which that implies.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log_int.h"
#include "util/shelf.h"

#define RA_SIZE   (512 * 1024)
#define RA_SMALL  (16 * 1024)
#define ENT_CHUNK 256

struct log_cursor {
	struct log *l;
	struct seg *seg;
	int64_t pos; /* line position of the next byte; -1 = unset */
	/* .lines entries read ahead */
	struct lines_ent ents[ENT_CHUNK];
	int64_t ent_first; /* index of ents[0] */
	int ent_count;
	int64_t ent; /* current entry (batch) index */
	/* .log bytes read ahead */
	uint8_t *ra;
	size_t ra_cap, ra_len;
	int64_t ra_off; /* file position of ra[0] */
	/* current batch (at .log position batch_pos, batch_len bytes, in c->ra
	 * while in_batch) and record */
	int64_t batch_pos, batch_len;
	bool in_batch;
	struct batch_iter it;
	int64_t next_line; /* line position of the next record in the batch */
	bool have_rec;
	struct rec rec;
	int64_t rec_pos, rec_len, rec_done;
	bool rec_esc; /* shown escaped: its line is in esc */
	char *esc;
	size_t esc_cap;
	bool exact;           /* this read fills the batches it opens without read-ahead */
	int64_t lines_out;    /* lines whose '\n' was copied out */
	size_t charged;       /* ra_cap and the ahead's raw_cap, charged to l->rab */
	struct ahead *ah;     /* decoding ahead; NULL until a read starts one */
	int64_t ahead_bytes;  /* bytes returned that were decoded ahead */
	uint64_t truncations; /* the log's count at the last seek */
};

static void ahead_free(struct log_cursor *c);

struct ra_budget *ra_budget_new(int64_t limit)
{
	struct ra_budget *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	atomic_init(&b->limit, limit);
	atomic_init(&b->refs, 1);
	return b;
}

void ra_budget_ref(struct ra_budget *b)
{
	atomic_fetch_add(&b->refs, 1);
}

void ra_budget_unref(struct ra_budget *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

/* Charges n bytes to the budget; false (nothing charged) when that would
 * pass its limit, unless forced. */
static bool ra_budget_take(struct ra_budget *b, size_t n, bool force)
{
	if (!b)
		return true;
	int64_t now = atomic_fetch_add(&b->used, (int64_t)n) + (int64_t)n;
	if (force || now <= atomic_load(&b->limit))
		return true;
	atomic_fetch_sub(&b->used, (int64_t)n);
	return false;
}

/* Grows *buf (capacity *cap) to want bytes if the budget has room, else to
 * need (0: optional, then nothing happens), at least RA_SMALL. Returns 1
 * grown to want, 0 otherwise (*cap >= need), -ENOMEM. */
static int cur_grow(struct log_cursor *c, uint8_t **buf, size_t *cap, size_t need, size_t want)
{
	struct ra_budget *b = c->l->rab;
	size_t to = want;
	bool full = true;

	if (want <= *cap)
		return 1;
	if (!ra_budget_take(b, want - *cap, false)) {
		full = false;
		to = need > RA_SMALL ? need : RA_SMALL;
		if (need == 0 || to <= *cap)
			return 0;
		(void)ra_budget_take(b, to - *cap, true);
	}
	/* From the shelf when it has a buffer: its pages are mapped already
	 * (util/shelf.h), while a new one faults each in. It may be bigger
	 * than asked for; all of it is charged. */
	size_t got = *cap;
	uint8_t *n = shelf_grow(*buf, &got, to);
	if (n && got > to)
		(void)ra_budget_take(b, got - to, true);
	if (!n) {
		if (b)
			atomic_fetch_sub(&b->used, (int64_t)(to - *cap));
		return -ENOMEM;
	}
	c->charged += got - *cap;
	*buf = n;
	*cap = got;
	return full;
}

struct log_cursor *log_cursor_new(struct log *l)
{
	struct log_cursor *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->l = l;
	c->pos = -1;
	log_ref(l);
	return c;
}

void log_cursor_free(struct log_cursor *c)
{
	if (!c)
		return;
	ahead_free(c);
	batch_iter_free(&c->it);
	seg_unref(c->seg);
	shelf_give(c->ra, c->ra_cap);
	free(c->esc);
	if (c->l->rab)
		atomic_fetch_sub(&c->l->rab->used, (int64_t)c->charged);
	log_unref(c->l);
	free(c);
}

struct log *log_cursor_log(const struct log_cursor *c)
{
	return c->l;
}

void (*engine_tail_hook)(struct log *l, int where);

static int cur_entry(struct log_cursor *c, int64_t i, struct lines_ent *e)
{
	if (i < c->ent_first || i >= c->ent_first + c->ent_count) {
		int64_t n = atomic_load(&c->seg->lines_entries);
		if (i >= n) {
			if (engine_tail_hook)
				engine_tail_hook(c->l, ENGINE_TAIL_HELD);
			/* At the tail of the active segment: have the entries the
			 * appender holds back written (seg.c), then look again.
			 * Again also when none are pending: another reader's
			 * sync may have written them between the load above and
			 * the look at lines_pending (it publishes lines_entries
			 * before it clears lines_pending), and a cursor that
			 * took the old count would end its read short, below
			 * the high watermark it was given. */
			if (atomic_load(&c->seg->lines_pending)) {
				pthread_mutex_lock(&c->l->lock);
				int rc = seg_lines_sync(c->seg);
				pthread_mutex_unlock(&c->l->lock);
				if (rc < 0)
					return rc;
			}
			n = atomic_load(&c->seg->lines_entries);
		}
		if (i >= n)
			return 0;
		int64_t cnt = n - i < ENT_CHUNK ? n - i : ENT_CHUNK;
		uint8_t buf[ENT_CHUNK * LINES_ENT_SIZE];
		ssize_t got = seg_pread(c->seg, SEG_FD_LINES, buf, (size_t)cnt * LINES_ENT_SIZE,
					LINES_HDR_SIZE + i * LINES_ENT_SIZE);
		if (got < 0)
			return (int)got;
		cnt = got / LINES_ENT_SIZE;
		if (cnt == 0)
			return -EBADMSG;
		for (int64_t k = 0; k < cnt; k++) {
			const uint8_t *p = buf + k * LINES_ENT_SIZE;
			c->ents[k].rel_offset = be32_get(p);
			c->ents[k].position = be32_get(p + 4);
			c->ents[k].line_pos = (int64_t)be64_get(p + 8);
		}
		c->ent_first = i;
		c->ent_count = (int)cnt;
	}
	*e = c->ents[i - c->ent_first];
	return 1;
}

/* Makes [pos, pos+len) of the segment's log available in c->ra. */
static int cur_fill(struct log_cursor *c, int64_t pos, size_t len)
{
	if (pos >= c->ra_off && pos + (int64_t)len <= c->ra_off + (int64_t)c->ra_len)
		return 0;
	size_t want = len > RA_SIZE || c->exact ? len : RA_SIZE;
	int64_t size = atomic_load(&c->seg->size);
	if (pos + (int64_t)want > size)
		want = (size_t)(size - pos);
	if (want < len)
		return -EBADMSG;
	int rc = cur_grow(c, &c->ra, &c->ra_cap, len, want);
	if (rc < 0)
		return rc;
	if (want > c->ra_cap)
		want = c->ra_cap; /* the budget is spent: read less ahead */
	ssize_t got = seg_pread(c->seg, SEG_FD_LOG, c->ra, want, pos);
	if (got < 0)
		return (int)got;
	c->ra_off = pos;
	c->ra_len = (size_t)got;
	return (size_t)got < len ? -EBADMSG : 0;
}

/* The line position where the lines of the batch of entry c->ent must end
 * by: the next entry's, or for a segment's last batch the next segment's
 * line base; INT64_MAX when nothing follows (the log's last batch, from
 * whose entry the open derived the line end). */
static int cur_next_line_pos(struct log_cursor *c, int64_t *bound)
{
	struct log *l = c->l;
	struct lines_ent next;
	int rc;

	for (;;) {
		rc = cur_entry(c, c->ent + 1, &next);
		if (rc != 0) {
			*bound = next.line_pos;
			return rc < 0 ? rc : 0;
		}
		/* The segment's last entry as published. A roll writes the
		 * closed segment's entries before it adds the next segment,
		 * under the lock: with the next one there, what the segment
		 * holds now is all of it. */
		bool more = false;
		*bound = INT64_MAX;
		pthread_mutex_lock(&l->lock);
		int si = log_seg_index_by_offset(l, c->seg->base_offset);
		if (si >= 0 && l->segs[si] == c->seg && si + 1 < l->nsegs) {
			more = c->ent + 1 < atomic_load(&c->seg->lines_entries);
			*bound = l->segs[si + 1]->line_base;
		}
		pthread_mutex_unlock(&l->lock);
		if (!more)
			return 0;
	}
}

/* The fit check of a batch just opened at entry e, above the log's mark of
 * checked batches (corrupt.c, "Moved entries"): its lines, measured on a
 * copy of c->it (which reads the same payload), end by the next batch's
 * line position. 0, or -EBADMSG reported: a record that does not decode
 * (checked whole before any is returned), or lines past that position. */
static int cur_fit(struct log_cursor *c, const struct lines_ent *e)
{
	struct batch_iter it = c->it;
	int64_t lb = iter_line_bytes(&it, &c->l->lf, NULL), bound;
	int rc;

	if (lb < 0) {
		log_corrupt(c->l, c->seg, e->position, c->ra + (e->position - c->ra_off),
			    (size_t)c->batch_len);
		return (int)lb;
	}
	rc = cur_next_line_pos(c, &bound);
	if (rc < 0)
		return rc;
	if (e->line_pos + lb <= bound)
		return 0;
	log_corrupt_lines(c->l, c->seg, e->position, c->seg->base_offset + e->rel_offset,
			  e->line_pos, lb, bound);
	return -EBADMSG;
}

/* The line bytes of the batch of entry e (read into c->ra): >= 0, or < 0
 * when it does not decode (its own readers report that). */
static int64_t cur_measure(struct log_cursor *c, const struct lines_ent *e)
{
	struct batch_iter it = { 0 };
	int64_t total, lb;
	int rc;

	if ((rc = cur_fill(c, e->position, BATCH_LOG_OVERHEAD)) < 0)
		return rc;
	total = batch_total_size(c->ra + (e->position - c->ra_off));
	if (total < BATCH_HDR_SIZE)
		return -EBADMSG;
	if ((rc = cur_fill(c, e->position, (size_t)total)) < 0)
		return rc;
	if ((rc = batch_iter_init(&it, c->ra + (e->position - c->ra_off), (size_t)total)) < 0) {
		batch_iter_free(&it); /* a payload that failed part way */
		return rc;
	}
	lb = iter_line_bytes(&it, &c->l->lf, NULL);
	batch_iter_free(&it);
	return lb;
}

/* A seek takes entry ei by its line position. One moved down on disk
 * would take the end of the batch before it for its own start (corrupt.c,
 * "Moved entries"); a walk from that batch would have found it. In a
 * segment never compacted each batch's lines end exactly at the next
 * entry, so where the batch before is unchecked and ends past entry ei,
 * the one before that tells which entry moved: entry ei-1 is right when
 * it starts exactly where batch ei-2 ends (or is the segment's first),
 * and then entry ei moved: -EBADMSG, reported at batch ei-1 as a walk
 * would. (Entry ei-1 moved up instead leaves batch ei-1 the bad one and
 * ei's records readable from their own positions.) In a compacted
 * segment the gaps make the two alike: not checked here. */
static int cur_seek_fits(struct log_cursor *c, int64_t ei)
{
	struct lines_ent e0, e1, e;
	int64_t lb, lb0;
	int rc;

	if (!c->seg->contiguous)
		return 0;
	if ((rc = cur_entry(c, ei - 1, &e1)) <= 0 || !log_line_unchecked(c->l, e1.line_pos) ||
	    (rc = cur_entry(c, ei, &e)) <= 0)
		return rc < 0 ? rc : 0;
	lb = cur_measure(c, &e1);
	if (lb < 0 || e1.line_pos + lb <= e.line_pos)
		return 0;
	if (ei >= 2) {
		if ((rc = cur_entry(c, ei - 2, &e0)) <= 0)
			return rc < 0 ? rc : 0;
		lb0 = cur_measure(c, &e0);
		if (lb0 < 0 || e0.line_pos + lb0 != e1.line_pos)
			return 0; /* entry ei-1 moved: batch ei-1 is the bad one */
	}
	log_corrupt_lines(c->l, c->seg, e1.position, c->seg->base_offset + e1.rel_offset,
			  e1.line_pos, lb, e.line_pos);
	return -EBADMSG;
}

/* Opens batch entry c->ent of c->seg. 1 = opened, 0 = no such entry. */
static int cur_open_batch(struct log_cursor *c)
{
	struct lines_ent e;
	int rc = cur_entry(c, c->ent, &e);
	if (rc <= 0)
		return rc;
	rc = cur_fill(c, e.position, BATCH_LOG_OVERHEAD);
	if (rc < 0)
		goto bad;
	int64_t total = batch_total_size(c->ra + (e.position - c->ra_off));
	if (total < BATCH_HDR_SIZE) {
		rc = -EBADMSG;
		goto bad;
	}
	rc = cur_fill(c, e.position, (size_t)total);
	if (rc < 0)
		goto bad;
	rc = batch_iter_init(&c->it, c->ra + (e.position - c->ra_off), (size_t)total);
	if (rc < 0) {
		if (rc == -EBADMSG)
			log_corrupt(c->l, c->seg, e.position, c->ra + (e.position - c->ra_off),
				    (size_t)total);
		return rc;
	}
	c->batch_pos = e.position;
	c->batch_len = total;
	/* Only the first read through a batch since the open measures it:
	 * below the mark every batch was checked, appended ones included. */
	if (log_line_unchecked(c->l, e.line_pos) && (rc = cur_fit(c, &e)) < 0)
		return rc;
	c->in_batch = true;
	c->next_line = e.line_pos;
	return 1;
bad:
	/* The entry points at bytes that are not a whole batch. */
	if (rc == -EBADMSG)
		log_corrupt(c->l, c->seg, e.position, NULL, 0);
	return rc;
}

/* The escaped line of the current record into c->esc: a line is copied
 * out in pieces, so it is rendered once. */
static int cur_render(struct log_cursor *c)
{
	if ((size_t)c->rec_len > c->esc_cap) {
		char *nb = realloc(c->esc, (size_t)c->rec_len);
		if (!nb)
			return -ENOMEM;
		c->esc = nb;
		c->esc_cap = (size_t)c->rec_len;
	}
	line_render(&c->l->lf, &c->rec, c->esc);
	return 0;
}

/* Moves to the next record. 1 = have one, 0 = end of published data. */
static int cur_next_rec(struct log_cursor *c)
{
	for (;;) {
		if (c->in_batch) {
			int rc = batch_iter_next(&c->it, &c->rec);
			if (rc < 0) {
				/* Records that do not parse under a good CRC: the
				 * writer's fault, reported all the same. */
				log_corrupt(c->l, c->seg, c->batch_pos,
					    c->ra + (c->batch_pos - c->ra_off),
					    (size_t)c->batch_len);
				return rc;
			}
			if (rc == 1) {
				c->have_rec = true;
				c->rec_pos = c->next_line;
				c->rec_len = line_measure(&c->l->lf, &c->rec, &c->rec_esc);
				if (c->rec_esc && (rc = cur_render(c)) < 0)
					return rc;
				c->rec_done = 0;
				c->next_line += c->rec_len;
				return 1;
			}
			c->in_batch = false;
			c->ent++;
		}
		int rc = cur_open_batch(c);
		if (rc < 0)
			return rc;
		if (rc == 1)
			continue;
		/* End of this segment: step to the next one, if any. */
		struct log *l = c->l;
		if (engine_tail_hook)
			engine_tail_hook(l, ENGINE_TAIL_STEP);
		pthread_mutex_lock(&l->lock);
		int si = log_seg_index_by_offset(l, c->seg->base_offset);
		struct seg *next = NULL;
		bool more = false;
		if (si >= 0 && si + 1 < l->nsegs &&
		    l->segs[si]->base_offset == c->seg->base_offset) {
			/* This segment may have taken more batches, then rolled,
			 * since cur_open_batch found none: a roll writes the
			 * closed segment's entries before it adds the next one,
			 * under the lock, so what is there now is all of it. */
			more = c->ent < atomic_load(&c->seg->lines_entries);
			if (!more) {
				next = l->segs[si + 1];
				seg_ref(next);
			}
		} else if (si >= 0 && l->segs[si]->base_offset != c->seg->base_offset) {
			/* Our segment left the log (retention): go to the one after it. */
			next = si + 1 < l->nsegs ? l->segs[si + 1] : NULL;
			if (next)
				seg_ref(next);
		} else if (si < 0 && l->nsegs) {
			next = l->segs[0];
			seg_ref(next);
		}
		pthread_mutex_unlock(&l->lock);
		if (more)
			continue;
		if (!next)
			return 0;
		seg_unref(c->seg);
		c->seg = next;
		c->ent = 0;
		c->ent_count = 0;
		c->ra_len = 0;
	}
}

/* Positions the cursor at the first record whose line ends after pos. */
static int cur_seek(struct log_cursor *c, int64_t pos)
{
	struct log *l = c->l;
	c->have_rec = false;
	c->in_batch = false;
	pthread_mutex_lock(&l->lock);
	int si = log_seg_index_by_pos(l, pos);
	if (si < 0)
		si = 0;
	struct seg *s = l->segs[si];
	seg_ref(s);
	pthread_mutex_unlock(&l->lock);
	seg_unref(c->seg);
	c->seg = s;
	c->ent_count = 0;
	c->ra_len = 0;
	int64_t ei = seg_find_pos(s, pos);
	/* The appender holds back its latest .lines entries (seg.c). A seek
	 * that lands on the last entry written may be aimed at a batch after
	 * it: those entries are written first (as the walk would at that
	 * batch's end anyway), so that the walk starts at the batch holding
	 * pos, not at one before it that may not decode. */
	if (ei == atomic_load(&s->lines_entries) - 1 && atomic_load(&s->lines_pending)) {
		pthread_mutex_lock(&l->lock);
		int rc = seg_lines_sync(s);
		pthread_mutex_unlock(&l->lock);
		if (rc < 0)
			return rc;
		ei = seg_find_pos(s, pos);
	}
	c->ent = ei < 0 ? 0 : ei;
	if (ei > 0) {
		int rc = cur_seek_fits(c, ei);

		if (rc < 0) {
			c->pos = -1; /* the next read seeks again, and fails again */
			return rc;
		}
	}
	for (;;) {
		int rc = cur_next_rec(c);
		if (rc <= 0) {
			c->pos = pos;
			return rc;
		}
		if (c->rec_pos + c->rec_len > pos) {
			if (c->rec_pos < pos)
				c->rec_done = pos - c->rec_pos;
			c->pos = c->rec_pos + c->rec_done;
			return 1;
		}
		c->have_rec = false;
	}
}

/* Copies the unread part of the current record's line. */
static size_t emit(struct log_cursor *c, char *out, size_t room)
{
	const struct rec *r = &c->rec;
	/* The log's lf, not its cfg: a reconfigure rewrites cfg under the
	 * log's lock while this cursor reads without it; lf is never
	 * written once the log has a line (log_reconfigure). */
	int seplen = c->l->lf.sep_len;
	size_t n = 0;
	int64_t done = c->rec_done;
	if (c->rec_esc) {
		n = (size_t)(c->rec_len - done) < room ? (size_t)(c->rec_len - done) : room;
		memcpy(out, c->esc + done, n);
		c->rec_done += (int64_t)n;
		if (c->rec_done == c->rec_len)
			c->lines_out++;
		return n;
	}
	/* Fast path: a whole value-only line. */
	if (done == 0 && (seplen == 0 || r->key_len < 0) && (size_t)c->rec_len <= room) {
		size_t vl = r->value_len > 0 ? (size_t)r->value_len : 0;
		if (vl) /* a null value has no pointer to copy from */
			memcpy(out, r->value, vl);
		out[vl] = '\n';
		c->rec_done = c->rec_len;
		c->lines_out++;
		return vl + 1;
	}
	const void *parts[4];
	int64_t lens[4];
	int np = 0;
	if (seplen > 0 && r->key_len >= 0) {
		parts[np] = r->key;
		lens[np++] = r->key_len;
		parts[np] = c->l->lf.sep;
		lens[np++] = seplen;
	}
	parts[np] = r->value;
	lens[np++] = r->value_len > 0 ? r->value_len : 0;
	parts[np] = "\n";
	lens[np++] = 1;
	for (int i = 0; i < np && n < room; i++) {
		if (done >= lens[i]) {
			done -= lens[i];
			continue;
		}
		size_t take = (size_t)(lens[i] - done);
		if (take > room - n)
			take = room - n;
		memcpy(out + n, (const char *)parts[i] + done, take);
		n += take;
		done = 0;
	}
	c->rec_done += (int64_t)n;
	if (c->rec_done == c->rec_len)
		c->lines_out++;
	return n;
}

int64_t log_cursor_lines(const struct log_cursor *c)
{
	return c->lines_out;
}

int64_t log_cursor_ahead_bytes(const struct log_cursor *c)
{
	return c->ahead_bytes;
}

/* ---- whole batches, on two threads ----
 *
 * A big read that starts at a batch boundary takes the whole batches that
 * fit, all below the high watermark, straight from the .lines entries: the
 * entries give each batch's bytes in the .log (up to the next entry's
 * position) and where its lines go in the output (its line position), so
 * any batch can be read and decoded by any thread, into its own place.
 * The reading thread and one of the log manager's helpers claim runs of
 * batches from one counter (the helper joins whenever it wakes, and a
 * helper that has not started when the batches are all claimed is called
 * off), so neither waits for the other's share. The result is taken only
 * if every batch decodes to exactly the line bytes its entries promise (a
 * gap left by compaction, or anything odd, makes it fall back to the
 * record-by-record path, which handles and reports it).
 */
#define BATCHES_MAX 512        /* batches per call */
#define CLAIM_BYTES (64 << 10) /* .log bytes per claim, about */

int engine_batch_read_min = 256 << 10;

struct dec_run {
	struct seg *seg;
	const struct lines_ent *e; /* e[0..n]: e[n] marks the end */
	int n;
	char *out;    /* where e[0]'s lines go */
	uint8_t *buf; /* where e[0]'s .log bytes go */
	const struct line_fmt *lf;
	_Atomic int next;      /* the first batch nobody has claimed */
	_Atomic int rc;        /* 0, or the first failure: fall back */
	_Atomic int64_t lines; /* records decoded */
};

/* One batch of bytes b[0..blen) decoded into exactly room line bytes at o:
 * 0 with *lines its records, or -EAGAIN (fall back). */
static int dec_batch(const struct line_fmt *lf, struct batch_iter *it, const uint8_t *b,
		     size_t blen, char *o, int64_t room, int64_t *lines)
{
	struct rec r;
	int64_t used;
	int rc;

	if (blen < BATCH_HDR_SIZE || batch_total_size(b) != (int64_t)blen ||
	    batch_iter_init(it, b, blen) < 0)
		return -EAGAIN;
	/* Lines as they are, without looking for bytes to escape. An escaped
	 * line is longer than its record's plain line, so the batch's lines
	 * fill its .lines room exactly only when none is escaped; otherwise
	 * the batch is decoded again with the escaping test on every record. */
	used = batch_iter_plain_lines(it, lf->sep, lf->sep_len, o, room, lines);
	if (used == room)
		return 0;
	if (lf->format != LINE_FORMAT_ESCAPE || used == -EBADMSG)
		return -EAGAIN;
	/* The CRC was checked above and b has not changed since. */
	if (batch_iter_init_nocrc(it, b, blen) < 0)
		return -EAGAIN;
	used = 0;
	*lines = 0;
	while ((rc = batch_iter_next(it, &r)) == 1) {
		bool esc = false;
		int64_t len = line_measure(lf, &r, &esc);
		if (used + len > room)
			return -EAGAIN;
		used += line_render_as(lf, &r, esc, o + used);
		(*lines)++;
	}
	return rc == 0 && used == room ? 0 : -EAGAIN;
}

/* Claims runs of about CLAIM_BYTES of batches until none is left (or one
 * failed), reading and decoding each run. Any number of threads at once. */
static void dec_run_claim(struct dec_run *d, struct batch_iter *it)
{
	const struct lines_ent *e = d->e;
	int per = (int)((int64_t)d->n * CLAIM_BYTES / (e[d->n].position - e[0].position + 1)) + 1;

	for (;;) {
		int i = atomic_fetch_add(&d->next, per), j = i + per < d->n ? i + per : d->n;
		int64_t lines = 0;
		if (i >= d->n || atomic_load_explicit(&d->rc, memory_order_relaxed) < 0)
			return;
		size_t bytes = e[j].position - e[i].position;
		uint8_t *b = d->buf + (e[i].position - e[0].position);
		ssize_t got = seg_pread(d->seg, SEG_FD_LOG, b, bytes, e[i].position);
		int rc = got < 0 ? (int)got : (size_t)got != bytes ? -EAGAIN : 0;
		for (int k = i; k < j && rc == 0; k++) {
			int64_t nl = 0;
			rc = dec_batch(d->lf, it, b + (e[k].position - e[i].position),
				       e[k + 1].position - e[k].position,
				       d->out + (e[k].line_pos - e[0].line_pos),
				       e[k + 1].line_pos - e[k].line_pos, &nl);
			lines += nl;
		}
		if (rc < 0) {
			int zero = 0;
			atomic_compare_exchange_strong(&d->rc, &zero, rc);
			return;
		}
		atomic_fetch_add(&d->lines, lines);
	}
}

static void dec_run_helper(void *arg)
{
	struct batch_iter it = { 0 };

	dec_run_claim(arg, &it);
	batch_iter_free(&it);
}

/* A batch the cursor is in whose records are all copied out is left, as
 * cur_next_rec leaves it at its end. false: records remain (or the batch
 * has bytes after its last record: cur_next_rec reports those). */
static bool cur_leave_batch(struct log_cursor *c)
{
	struct rec r;

	if (c->have_rec && c->rec_done < c->rec_len)
		return false;
	if (!c->in_batch)
		return true;
	if (c->it.remaining > 0 || batch_iter_next(&c->it, &r) != 0)
		return false;
	c->in_batch = false;
	c->have_rec = false;
	c->ent++;
	return true;
}

/* e[0..k]: the batches of c->seg from entry first whose lines fit in room
 * bytes and lie below line_hw, and the entry after the last; k, or 0 when
 * they are too few for the whole-batch path. */
static int cur_plan(struct log_cursor *c, int64_t first, int64_t room, int64_t line_hw,
		    struct lines_ent *e)
{
	int k = 0;

	while (k <= BATCHES_MAX) {
		if (cur_entry(c, first + k, &e[k]) != 1)
			break;
		if (k > 0 &&
		    (e[k].line_pos - e[0].line_pos > room || e[k].line_pos > line_hw ||
		     e[k].position <= e[k - 1].position || e[k].line_pos < e[k - 1].line_pos))
			break;
		k++;
	}
	int n = k - 1; /* batches: e[n] ends the last */
	if (n < 2 || e[n].line_pos - e[0].line_pos < engine_batch_read_min)
		return 0;
	return n;
}

static void dec_run_init(struct dec_run *d, struct log_cursor *c, const struct lines_ent *e, int n,
			 char *out, uint8_t *buf)
{
	*d = (struct dec_run){
		.seg = c->seg, .e = e, .n = n, .out = out, .buf = buf, .lf = &c->l->lf
	};
	atomic_init(&d->next, 0);
	atomic_init(&d->rc, 0);
	atomic_init(&d->lines, 0);
}

/* The cursor past a run of whole batches that decoded well: its bytes. */
static size_t cur_took(struct log_cursor *c, const struct dec_run *d)
{
	c->ent += d->n;
	c->have_rec = false;
	c->pos = d->e[d->n].line_pos;
	c->lines_out += atomic_load(&d->lines);
	return (size_t)(d->e[d->n].line_pos - d->e[0].line_pos);
}

/* If the cursor stands between batches: the whole batches that fit in
 * size bytes and lie below line_hw, copied out (decoded on two threads when
 * a helper is idle). Returns the bytes, or 0 to go record by record. */
static size_t cur_batches(struct log_cursor *c, char *out, size_t size, int64_t line_hw,
			  struct pool *pool)
{
	struct lines_ent e[BATCHES_MAX + 1];

	if ((int64_t)size < engine_batch_read_min || !c->seg || !cur_leave_batch(c))
		return 0;
	int n = cur_plan(c, c->ent, (int64_t)size, line_hw, e);
	if (n == 0 || e[0].line_pos != c->pos)
		return 0; /* too little, or a gap: the slow path reports it */
	/* The buffer the batches are read into, if the budget has room for
	 * it: else the record by record path reads with what the cursor has. */
	if (cur_grow(c, &c->ra, &c->ra_cap, 0, e[n].position - e[0].position) != 1)
		return 0;
	c->ra_len = 0; /* c->ra is reused below */
	struct dec_run d;
	dec_run_init(&d, c, e, n, out, c->ra);
	struct pool_job job = { .fn = dec_run_helper, .arg = &d };
	bool helped = pool_try_run(pool, &job);

	dec_run_claim(&d, &c->it);
	if (helped && !pool_try_cancel(pool, &job))
		pool_wait(pool, &job);
	if (atomic_load(&d.rc) < 0)
		return 0;
	return cur_took(c, &d);
}

/* ---- decoding ahead ----
 *
 * A reader that reads a partition file through, in big reads, asks for
 * the bytes after the ones it just got. A read that ends with room for it
 * has a helper decode the whole batches of the next read (those after the
 * batch the cursor is in, that fit in the caller's next buffer and lie
 * below the high watermark now) into that buffer, where the next read
 * would put them, while the caller answers this read: the answer's copy
 * to the reader and the reader's next request overlap the decoding,
 * instead of following it. The next read, if it asks for that position
 * with that buffer, copies out the rest of the current batch, then joins
 * the run (claims what the helper has not) and takes it whole; any other
 * call, the cursor's free, or a truncation of the log since, calls the run
 * off and waits for the helper first, so that nothing writes the buffer
 * once its caller has it back.
 *
 * The run holds its segment (a reference) and reads the .log into a buffer
 * of its own (charged to the read-ahead budget like c->ra), so the cursor
 * may go on with its current batch, in c->ra, meanwhile. Records below the
 * high watermark do not change, and only a truncation removes them (after
 * one the next read seeks, which calls the run off): a run taken is what
 * the read would have decoded itself. */
struct ahead {
	struct dec_run d;
	struct lines_ent e[BATCHES_MAX + 1];
	struct pool_job job;
	struct pool *pool;
	bool pending;  /* the job was handed to a helper, not settled */
	int64_t first; /* the entry of e[0] */
	uint8_t *raw;  /* the .log bytes of e[0..n) */
	size_t raw_cap;
};

/* Waits for the run's helper (cancel: calls the run off first). */
static void ahead_wait(struct log_cursor *c, bool cancel)
{
	struct ahead *a = c->ah;

	if (!a || !a->pending)
		return;
	int zero = 0;
	if (cancel)
		atomic_compare_exchange_strong(&a->d.rc, &zero, -ECANCELED);
	if (!pool_try_cancel(a->pool, &a->job))
		pool_wait(a->pool, &a->job);
	a->pending = false;
	seg_unref(a->d.seg);
	a->d.seg = NULL;
}

static void ahead_settle(struct log_cursor *c)
{
	ahead_wait(c, true);
}

static void ahead_free(struct log_cursor *c)
{
	if (!c->ah)
		return;
	ahead_settle(c);
	shelf_give(c->ah->raw, c->ah->raw_cap);
	free(c->ah);
	c->ah = NULL;
}

/* At the end of a read that filled its size bytes: the whole batches after
 * the current one, decoded by a helper into next (size bytes), placed as
 * the next read from c->pos would place them. Nothing when no helper is
 * idle: the point is to decode while the caller is busy elsewhere. */
static void ahead_start(struct log_cursor *c, char *next, size_t size, int64_t line_hw,
			struct pool *pool)
{
	if (!next || !pool || !c->seg || (int64_t)size < engine_batch_read_min)
		return;
	if (!c->ah && !(c->ah = calloc(1, sizeof(*c->ah))))
		return;
	struct ahead *a = c->ah;
	int64_t first = c->in_batch ? c->ent + 1 : c->ent;
	int n = cur_plan(c, first, (int64_t)size, line_hw, a->e);
	if (n == 0 || a->e[0].line_pos < c->pos)
		return;
	/* Room for the rest of the current batch before the run. */
	int64_t lead = a->e[0].line_pos - c->pos;
	while (n > 0 && lead + (a->e[n].line_pos - a->e[0].line_pos) > (int64_t)size)
		n--;
	if (n < 2 || cur_grow(c, &a->raw, &a->raw_cap, 0, a->e[n].position - a->e[0].position) != 1)
		return;
	dec_run_init(&a->d, c, a->e, n, next + lead, a->raw);
	seg_ref(a->d.seg);
	a->job = (struct pool_job){ .fn = dec_run_helper, .arg = &a->d };
	a->pool = pool;
	a->first = first;
	a->pending = pool_try_run(pool, &a->job);
	if (!a->pending) {
		seg_unref(a->d.seg);
		a->d.seg = NULL;
	}
}

/* The run, if the cursor has reached its first batch and it lands at out
 * with room: joined and taken (its bytes), else called off (0). */
static size_t ahead_take(struct log_cursor *c, char *out, size_t room)
{
	struct ahead *a = c->ah;
	const struct lines_ent *e = a->e;
	int n = a->d.n;

	if (!cur_leave_batch(c) || c->seg != a->d.seg || c->ent != a->first ||
	    c->pos != e[0].line_pos || out != a->d.out ||
	    e[n].line_pos - e[0].line_pos > (int64_t)room) {
		ahead_settle(c);
		return 0;
	}
	dec_run_claim(&a->d, &c->it);
	ahead_wait(c, false);
	if (atomic_load(&a->d.rc) < 0)
		return 0;
	size_t n_bytes = cur_took(c, &a->d);
	c->ahead_bytes += (int64_t)n_bytes;
	return n_bytes;
}

ssize_t log_read_lines_ahead(struct log *l, struct log_cursor *c, int64_t pos, char *buf,
			     size_t size, int64_t *actual_pos, char *next)
{
	pthread_mutex_lock(&l->lock);
	int64_t hw = l->hw, line_hw = l->line_hw, line_start = l->line_start;
	uint64_t truncations = l->truncations;
	bool deleted = l->deleted;
	struct pool *pool = l->pool;
	pthread_mutex_unlock(&l->lock);
	/* After a truncation the cursor's entries and bytes read ahead may be
	 * of batches since cut and written again: it seeks afresh. */
	bool seek = c->pos != pos || !c->seg || c->truncations != truncations;
	/* A run decoded ahead for a read that is not this one (or that ends
	 * before it) is called off before buf or the cursor is touched. */
	if (c->ah && c->ah->pending) {
		int64_t lead = c->ah->e[0].line_pos - pos;
		if (deleted || seek || pos >= line_hw || lead < 0 || lead >= (int64_t)size ||
		    buf + lead != c->ah->d.out)
			ahead_settle(c);
	}
	if (deleted)
		return -ENOENT;
	if (actual_pos)
		*actual_pos = pos;
	if (pos >= line_hw || size == 0)
		return 0;
	/* A read the whole-batch path serves opens batches one by one only at
	 * its ends (the record it starts in, the one it ends in): reading
	 * ahead there would read bytes cur_batches reads again. */
	c->exact = (int64_t)size >= engine_batch_read_min;
	if (seek) {
		c->truncations = truncations;
		/* As a gap: a seek never lands below the log start (a cursor
		 * already there reads on what its segment holds). */
		if (pos < line_start)
			pos = line_start;
		int rc = cur_seek(c, pos);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return 0;
	}
	if (actual_pos)
		*actual_pos = c->pos;
	int64_t from = c->pos; /* line position of buf[0] */
	size_t n = 0;
	while (n < size) {
		size_t got = 0;
		if (c->ah && c->ah->pending && c->pos >= c->ah->e[0].line_pos)
			got = ahead_take(c, buf + n, size - n);
		if (got == 0)
			got = cur_batches(c, buf + n, size - n, line_hw, pool);
		if (got > 0) {
			n += got;
			continue;
		}
		if (!c->have_rec || c->rec_done == c->rec_len) {
			c->have_rec = false;
			int rc = cur_next_rec(c);
			if (rc < 0) {
				if (n)
					break;
				ahead_settle(c);
				return rc;
			}
			if (rc == 0)
				break;
		}
		if (c->rec.offset >= hw)
			break;
		/* A gap (records removed by retention or compaction): one call
		 * returns bytes of contiguous positions only, so that the caller's
		 * next position is *actual_pos + the count. */
		int64_t at = c->rec_pos + c->rec_done;
		if (at != c->pos) {
			if (n)
				break;
			c->pos = at;
			from = at;
			if (actual_pos)
				*actual_pos = at;
		}
		n += emit(c, buf + n, size - n);
		c->pos = c->rec_pos + c->rec_done;
	}
	ahead_settle(c); /* a run this read did not reach */
	/* Every byte returned is of a batch checked whole (corrupt.c). */
	if (n > 0)
		log_checked_read(l, from, from + (int64_t)n);
	if (n == size)
		ahead_start(c, next, size, line_hw, pool);
	return (ssize_t)n;
}

ssize_t log_read_lines(struct log *l, struct log_cursor *c, int64_t pos, char *buf, size_t size,
		       int64_t *actual_pos)
{
	return log_read_lines_ahead(l, c, pos, buf, size, actual_pos, NULL);
}
