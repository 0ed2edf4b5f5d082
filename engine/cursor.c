/*
 * cursor.c — the line view reader.
 *
 * A cursor stands at a line position: in a segment (referenced, so
 * retention cannot close its files under it), at a .lines entry, inside the
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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log_int.h"

#define RA_SIZE     (512 * 1024)
#define ENT_CHUNK   256

struct log_cursor {
	struct log *l;
	struct seg *seg;
	int64_t pos;                 /* line position of the next byte; -1 = unset */
	/* .lines entries read ahead */
	struct lines_ent ents[ENT_CHUNK];
	int64_t ent_first;           /* index of ents[0] */
	int ent_count;
	int64_t ent;                 /* current entry (batch) index */
	/* .log bytes read ahead */
	uint8_t *ra;
	size_t ra_cap, ra_len;
	int64_t ra_off;              /* file position of ra[0] */
	/* current batch and record */
	bool in_batch;
	struct batch_iter it;
	int64_t next_line;           /* line position of the next record in the batch */
	bool have_rec;
	struct rec rec;
	int64_t rec_pos, rec_len, rec_done;
	int64_t lines_out;           /* lines whose '\n' was copied out */
};

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
	batch_iter_free(&c->it);
	seg_unref(c->seg);
	free(c->ra);
	log_unref(c->l);
	free(c);
}

static int cur_entry(struct log_cursor *c, int64_t i, struct lines_ent *e)
{
	if (i < c->ent_first || i >= c->ent_first + c->ent_count) {
		int64_t n = atomic_load(&c->seg->lines_entries);
		if (i >= n && atomic_load(&c->seg->lines_pending)) {
			/* At the tail of the active segment: have the entries the
			 * appender holds back written (seg.c), then look again. */
			pthread_mutex_lock(&c->l->lock);
			int rc = seg_lines_sync(c->seg);
			pthread_mutex_unlock(&c->l->lock);
			if (rc < 0)
				return rc;
			n = atomic_load(&c->seg->lines_entries);
		}
		if (i >= n)
			return 0;
		int64_t cnt = n - i < ENT_CHUNK ? n - i : ENT_CHUNK;
		uint8_t buf[ENT_CHUNK * LINES_ENT_SIZE];
		ssize_t got = io_pread_full(c->seg->io, c->seg->lines_fd, buf,
					    (size_t)cnt * LINES_ENT_SIZE,
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
	size_t want = len > RA_SIZE ? len : RA_SIZE;
	int64_t size = atomic_load(&c->seg->size);
	if (pos + (int64_t)want > size)
		want = (size_t)(size - pos);
	if (want < len)
		return -EBADMSG;
	if (want > c->ra_cap) {
		uint8_t *n = realloc(c->ra, want);
		if (!n)
			return -ENOMEM;
		c->ra = n;
		c->ra_cap = want;
	}
	ssize_t got = io_pread_full(c->seg->io, c->seg->log_fd, c->ra, want, pos);
	if (got < 0)
		return (int)got;
	c->ra_off = pos;
	c->ra_len = (size_t)got;
	return (size_t)got < len ? -EBADMSG : 0;
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
		return rc;
	int64_t total = batch_total_size(c->ra + (e.position - c->ra_off));
	if (total < BATCH_HDR_SIZE)
		return -EBADMSG;
	rc = cur_fill(c, e.position, (size_t)total);
	if (rc < 0)
		return rc;
	rc = batch_iter_init(&c->it, c->ra + (e.position - c->ra_off), (size_t)total);
	if (rc < 0)
		return rc;
	c->in_batch = true;
	c->next_line = e.line_pos;
	return 1;
}

/* Moves to the next record. 1 = have one, 0 = end of published data. */
static int cur_next_rec(struct log_cursor *c)
{
	for (;;) {
		if (c->in_batch) {
			int rc = batch_iter_next(&c->it, &c->rec);
			if (rc < 0)
				return rc;
			if (rc == 1) {
				c->have_rec = true;
				c->rec_pos = c->next_line;
				c->rec_len = rec_line_len(&c->rec, c->l->cfg.key_sep_len);
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
		pthread_mutex_lock(&l->lock);
		int si = log_seg_index_by_offset(l, c->seg->base_offset);
		struct seg *next = NULL;
		if (si >= 0 && si + 1 < l->nsegs && l->segs[si]->base_offset == c->seg->base_offset) {
			next = l->segs[si + 1];
			seg_ref(next);
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
	c->ent = ei < 0 ? 0 : ei;
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
	int seplen = c->l->cfg.key_sep_len;
	size_t n = 0;
	int64_t done = c->rec_done;
	/* Fast path: a whole value-only line. */
	if (done == 0 && (seplen == 0 || r->key_len < 0) && (size_t)c->rec_len <= room) {
		size_t vl = r->value_len > 0 ? (size_t)r->value_len : 0;
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
		parts[np] = c->l->cfg.key_sep;
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

ssize_t log_read_lines(struct log *l, struct log_cursor *c, int64_t pos, char *buf,
		       size_t size, int64_t *actual_pos)
{
	pthread_mutex_lock(&l->lock);
	int64_t hw = l->hw, line_hw = l->line_hw;
	bool deleted = l->deleted;
	pthread_mutex_unlock(&l->lock);
	if (deleted)
		return -ENOENT;
	if (actual_pos)
		*actual_pos = pos;
	if (pos >= line_hw || size == 0)
		return 0;
	if (c->pos != pos || !c->seg) {
		int rc = cur_seek(c, pos);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return 0;
	}
	if (actual_pos)
		*actual_pos = c->pos;
	size_t n = 0;
	while (n < size) {
		if (!c->have_rec || c->rec_done == c->rec_len) {
			c->have_rec = false;
			int rc = cur_next_rec(c);
			if (rc < 0) {
				if (n)
					break;
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
			if (actual_pos)
				*actual_pos = at;
		}
		n += emit(c, buf + n, size - n);
		c->pos = c->rec_pos + c->rec_done;
	}
	return (ssize_t)n;
}
