/*
 * group_consume.c — a member's stream: what a read of the consume file
 * returns and what it commits.
 *
 * Delivery is at-least-once. Each member reads a stream, the bytes it was
 * ever returned, at offsets from 0 (its consume file's offsets):
 *
 *   stream:  | committed, gone | returned, not passed  | (next read) ...
 *            0                 start                   end
 *
 *   - a read at end returns whole lines of the member's partitions from
 *     their positions, partition after partition starting with a rotating
 *     one (a record longer than the buffer is returned in part and
 *     continues at the start of the next read);
 *   - a read at offset x (start <= x <= end) first commits, per partition,
 *     the records that end at or before x in the stream, then forgets the
 *     stream before x; so the file position is the commit position;
 *   - a read at x < end returns the same bytes again from x, re-read from
 *     the log: the member keeps positions (struct gpiece), not bytes. So a
 *     reader that seeks back (bash's read, head) gets every record once;
 *     bytes that retention or compaction removed since answer -ENODATA;
 *   - a read before start is refused (-ESPIPE): that part is committed;
 *     a read past end commits all of the stream and returns -ERANGE.
 *
 * Invariants: start <= end; the pieces of a member cover exactly
 * [start, end) in order, all from the last read at end (so at most one
 * per partition). A commit goes only forward and only from the
 * partition's current owner in the epoch the piece was read in: a
 * partition that changed owner is committed by its new owner. The
 * committed offset is never a guess: a partition whose offset cannot be
 * looked up (a damaged batch, EIO) is logged and not committed, and its
 * read fails with the error. A piece whose read ended at the high
 * watermark knows its end's offset (the hw then: line positions never
 * move), so the usual commit, a reader that keeps up, needs no lookup.
 *
 * Everything here runs under group.mu, and reads the topic under
 * topic.lock (read) through group_read_lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_int.h"

/* group_read_lines, and into *st (when not NULL) the log's hw and
 * line_hw (its only fields set) just before the read: a read that ends
 * at st->line_hw ends before the record at offset st->hw. */
static ssize_t read_lines(struct topic *t, int p, struct log_cursor *c, int64_t pos, char *buf,
			  size_t size, int64_t *actual, struct log_state *st)
{
	struct log *l;
	ssize_t n = group_part_lock(t, p, &l);

	if (n < 0)
		return n;
	/* The cursor's own log: a copy pinned by another group since this
	 * one's cursor was made is its next read's (part_cursor). */
	if (c)
		l = log_cursor_log(c);
	if (st) {
		st->hw = -1;
		st->line_hw = -1;
		if (l)
			log_get_hw(l, &st->hw, &st->line_hw);
	}
	/* No replica here: to a group, an empty partition. */
	n = l && c ? log_read_lines(l, c, pos, buf, size, actual) : 0;
	pthread_rwlock_unlock(&t->lock);
	return n;
}

/* topic_read_lines without counting the bytes as delivered: replay reads
 * internal records, and a consume read keeps only whole lines (read_part
 * counts those). */
ssize_t group_read_lines(struct topic *t, int p, struct log_cursor *c, int64_t pos, char *buf,
			 size_t size, int64_t *actual)
{
	return read_lines(t, p, c, pos, buf, size, actual, NULL);
}

/* mqfs_records_out_total / mqfs_bytes_out_total of a consume read. */
static void count_out(struct topic *t, int p, int64_t lines, size_t n)
{
	struct log *l;

	if (n == 0 || group_part_lock(t, p, &l) < 0)
		return;
	partition_count_out(t->parts[p], lines, n);
	pthread_rwlock_unlock(&t->lock);
}

/* The group's cursor on partition p, made on first use, and made again
 * over the log the groups read when that changed (topic_group_settle:
 * the read copy while the replica here is out of the ISR, the replica's
 * log once it serves reads again): positions are the same in both, so
 * the next read goes on where the last ended. Needs g->mu. */
static int part_cursor(struct group *g, int p, struct log_cursor **c)
{
	struct log *now;
	int rc = 0;

	if (g->parts[p].cursor && topic_group_settle(g->t, p) == 0 &&
	    group_part_lock(g->t, p, &now) == 0) {
		bool moved = now && log_cursor_log(g->parts[p].cursor) != now;

		pthread_rwlock_unlock(&g->t->lock);
		if (moved) {
			topic_cursor_free(g->t, p, g->parts[p].cursor);
			g->parts[p].cursor = NULL;
		}
	}
	if (!g->parts[p].cursor)
		rc = topic_cursor_new(g->t, p, &g->parts[p].cursor);
	*c = g->parts[p].cursor;
	/* No replica here (no log, no cursor): an empty partition. */
	return rc == -EREMOTE ? 0 : rc;
}

/* Reads exactly len bytes of the line view of p at pos into buf, as they
 * were returned before; -ENODATA when they are no longer there (removed by
 * retention or compaction since). Needs g->mu. */
static int reread(struct group *g, int p, int64_t pos, char *buf, int64_t len)
{
	struct log_cursor *c;
	int64_t got = 0, actual;
	int rc = part_cursor(g, p, &c);

	while (rc == 0 && got < len) {
		ssize_t n = group_read_lines(g->t, p, c, pos + got, buf + got, (size_t)(len - got),
					     &actual);

		if (n < 0)
			rc = (int)n;
		else if (n == 0 || actual != pos + got)
			rc = -ENODATA;
		else
			got += n;
	}
	return rc;
}

/* *bound: the line position after the last record of piece pc that ends
 * at or before stream offset x, or -1 when none does. Needs g->mu. */
static int piece_passed(struct group *g, const struct gpiece *pc, int64_t x, int64_t *bound)
{
	int64_t k = x - pc->soff;
	const char *nl;
	char *buf;
	int rc;

	*bound = -1;
	if (k > pc->len)
		k = pc->len;
	if (k <= 0 || pc->last_nl == 0)
		return 0;
	if (k >= pc->last_nl) {
		*bound = pc->lpos + pc->last_nl;
		return 0;
	}
	/* x inside the piece (a reader that seeked back): find its last
	 * line end before x in the log rather than keeping the bytes. */
	buf = malloc((size_t)k);
	if (!buf)
		return -ENOMEM;
	rc = reread(g, pc->part, pc->lpos, buf, k);
	if (rc == 0 && (nl = memrchr(buf, '\n', (size_t)k)))
		*bound = pc->lpos + (nl - buf) + 1;
	free(buf);
	return rc == -ENODATA ? 0 : rc; /* gone: nothing to commit */
}

/* Drops the part of m's stream before x (x <= m->end). Needs g->mu. */
static void stream_trim(struct group_member *m, int64_t x)
{
	int i = 0;

	while (i < m->npieces && m->pieces[i].soff + m->pieces[i].len <= x)
		i++;
	if (i > 0) {
		memmove(m->pieces, m->pieces + i, (size_t)(m->npieces - i) * sizeof(*m->pieces));
		m->npieces -= i;
	}
	if (m->npieces > 0 && m->pieces[0].soff < x) {
		struct gpiece *pc = &m->pieces[0];
		int64_t k = x - pc->soff;

		pc->soff = x;
		pc->lpos += k;
		pc->len -= k;
		pc->last_nl = pc->last_nl > k ? pc->last_nl - k : 0;
		if (pc->last_nl == 0)
			pc->end_off = -1;
	}
	if (x > m->start)
		m->start = x;
}

/* Commits, for every partition m still owns, the records of its stream
 * that end at or before stream offset x (x <= m->end), then forgets the
 * stream before x. A partition whose offset cannot be looked up (a
 * damaged batch, EIO) is logged and not committed: its records come again
 * to the next owner, and the read of the partition itself reports the
 * error. A failed commit record is only logged, with the same outcome.
 * Only -ENOMEM is returned. Needs g->mu. */
static int commit_upto(struct group_member *m, int64_t x)
{
	struct group *g = m->g;
	int n = 0, rc = 0;
	int *parts = malloc((size_t)(m->npieces + 1) * sizeof(*parts));
	int64_t *offs = malloc((size_t)(m->npieces + 1) * sizeof(*offs));
	int64_t *bounds = malloc((size_t)(m->npieces + 1) * sizeof(*bounds));
	/* Each with the epoch of its last record read, as Kafka's consumer
	 * commits it (group_off_epoch: the epoch cache, no read). */
	int32_t *epochs = malloc((size_t)(m->npieces + 1) * sizeof(*epochs));

	if (!parts || !offs || !bounds || !epochs) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < m->npieces && m->pieces[i].soff < x; i++) {
		const struct gpiece *pc = &m->pieces[i];
		struct gpart *gp;
		int64_t b, off = -1;

		if (pc->part >= g->nparts)
			continue;
		gp = &g->parts[pc->part];
		if (gp->owner != m || gp->epoch != pc->epoch)
			continue; /* p moved: its new owner commits it */
		rc = piece_passed(g, pc, x, &b);
		if (rc == 0 && b > gp->commit_pos) {
			/* The whole piece, read up to the hw: its offset is known. */
			if (pc->end_off >= 0 && b == pc->lpos + pc->last_nl)
				off = pc->end_off;
			else
				rc = group_pos_to_off(g->t, pc->part, b, &off);
		}
		if (rc == -ENOMEM)
			goto out;
		if (rc < 0) {
			mq_log_limited(MQ_ERR,
				       "group %s of topic %s: partition %d: cannot find "
				       "the offset at line position %" PRId64 ": %s; not committed",
				       g->name, g->topic, pc->part, b >= 0 ? b : pc->lpos,
				       strerror(-rc));
			rc = 0;
			continue;
		}
		if (b <= gp->commit_pos)
			continue;
		if (off == gp->committed) {
			gp->commit_pos = b;
			continue;
		}
		parts[n] = pc->part;
		offs[n] = off;
		epochs[n] = group_off_epoch(g->t, pc->part, off);
		bounds[n++] = b;
	}
	/* A member of a group another broker coordinates commits there; what
	 * the coordinator did not take is sent again by its heartbeat thread
	 * (gpart.pend_*), the stream before x being trimmed all the same. */
	if (n > 0) {
		bool remote = group_remote_active(m);
		int crc = remote ? group_remote_commit(m, parts, offs, epochs, n)
				 : group_store_commit(g, parts, offs, epochs, n, m->id);

		for (int i = 0; i < n; i++) {
			struct gpart *gp = &g->parts[parts[i]];

			if (crc == 0 || (remote && gp->committed == offs[i])) {
				gp->commit_pos = bounds[i];
			} else if (remote) {
				gp->pend_off = offs[i];
				gp->pend_bound = bounds[i];
				gp->pend_leader_epoch = epochs[i];
				gp->pend_epoch = gp->epoch;
			}
		}
	}
	stream_trim(m, x);
out:
	free(parts);
	free(offs);
	free(bounds);
	free(epochs);
	return rc;
}

/* The stream from x (start <= x < end) again, the same bytes, up to size.
 * Needs g->mu. */
static ssize_t redeliver(struct group_member *m, int64_t x, char *buf, size_t size)
{
	size_t used = 0;

	for (int i = 0; i < m->npieces && used < size; i++) {
		const struct gpiece *pc = &m->pieces[i];
		int64_t from = x > pc->soff ? x - pc->soff : 0, len = pc->len - from;
		int rc;

		if (len <= 0)
			continue;
		if (len > (int64_t)(size - used))
			len = (int64_t)(size - used);
		rc = reread(m->g, pc->part, pc->lpos + from, buf + used, len);
		if (rc == -ENODATA && used == 0)
			mq_log_limited(MQ_WARN,
				       "group %s of topic %s: %s: read at %" PRId64 ": "
				       "the records of partition %d at line position %" PRId64
				       " were removed by retention or compaction and cannot be "
				       "read again",
				       m->g->name, m->g->topic, m->id, x, pc->part,
				       pc->lpos + from);
		if (rc < 0)
			return used > 0 ? (ssize_t)used : rc;
		used += (size_t)len;
	}
	return (ssize_t)used;
}

/* The rest of a record m returned in part is no longer in the log:
 * retention or compaction removed the record before the next read. The
 * stream cannot take back its first part, and must not glue other bytes
 * to it: that read fails with -ENODATA (as a read of removed bytes again
 * does, see the top), logged; the read after it goes on with whole
 * lines. */
static ssize_t rest_gone(struct group_member *m, int p, int64_t lpos)
{
	mq_log_limited(MQ_WARN,
		       "group %s of topic %s: %s: the record of partition %d returned in part "
		       "up to line position %" PRId64 " was removed by retention or compaction "
		       "before the rest was read: the read fails (ENODATA), the next goes on "
		       "with whole records",
		       m->g->name, m->g->topic, m->id, p, lpos);
	m->cont = false;
	return -ENODATA;
}

/* Whole lines of partition p from its position into buf; *lpos: the line
 * position of buf[0], *last_nl: bytes up to its last '\n', *end_off: the
 * offset after that line when it is known without a lookup (the read
 * ended at the hw), else -1. first: buf is empty, so a record longer than
 * room is returned in part. cont: the position is inside a record the
 * last read returned in part; -ENODATA when that record is gone (the
 * read then finds a later line), the position left where it is. */
static ssize_t read_part(struct group *g, int p, char *buf, size_t room, bool first, bool cont,
			 int64_t *lpos, int64_t *last_nl, int64_t *end_off)
{
	struct gpart *gp = &g->parts[p];
	struct log_cursor *c;
	struct log_state st;
	int64_t actual, lines;
	ssize_t n;
	const char *nl;
	size_t keep;
	int rc;

	if (gp->pos < 0 && (rc = group_part_resolve(g, p)) < 0)
		return rc;
	if (gp->pos < 0)
		return 0; /* a follower asks the leader about the commit */
	rc = part_cursor(g, p, &c);
	if (rc < 0)
		return rc;
	*lpos = gp->pos;
	*last_nl = 0;
	*end_off = -1;
	if (!c)
		return 0; /* no replica here: nothing to read */
	lines = log_cursor_lines(c);
	n = read_lines(g->t, p, c, gp->pos, buf, room, &actual, &st);
	if (cont && (n == 0 || (n > 0 && actual != gp->pos)))
		return -ENODATA; /* the rest is below the hw: only removal hides it */
	if (n <= 0)
		return n;
	lines = log_cursor_lines(c) - lines; /* each ends in buf */
	nl = memrchr(buf, '\n', (size_t)n);
	if (nl)
		keep = (size_t)(nl - buf) + 1;
	else
		keep = first ? (size_t)n : 0;
	*lpos = actual;
	*last_nl = nl ? (int64_t)keep : 0;
	gp->pos = actual + (int64_t)keep;
	if (nl && gp->pos == st.line_hw)
		*end_off = st.hw;
	count_out(g->t, p, lines, keep);
	return (ssize_t)keep;
}

/* The rest of the record m returned in part (m->cont), whose partition
 * moved to another member or came back to m since (its position is then
 * the committed one): the record is finished as it started, in a piece of
 * the old epoch, so this stream does not commit it and its owner delivers
 * it again (at-least-once). -ENODATA when the record is gone (retention,
 * compaction: rest_gone). Needs g->mu. */
static ssize_t read_rest(struct group_member *m, char *buf, size_t size)
{
	struct group *g = m->g;
	int p = m->cont_part;
	struct log_cursor *c;
	int64_t actual;
	const char *nl;
	ssize_t n;
	int rc = part_cursor(g, p, &c);

	m->cont = false;
	if (rc < 0 || !c)
		return rc;
	n = group_read_lines(g->t, p, c, m->cont_lpos, buf, size, &actual);
	if (n < 0)
		return n;
	if (n == 0 || actual != m->cont_lpos)
		return rest_gone(m, p, m->cont_lpos);
	nl = memchr(buf, '\n', (size_t)n);
	if (nl)
		n = nl - buf + 1;
	m->pieces[m->npieces++] = (struct gpiece){ .soff = m->end,
						   .lpos = actual,
						   .len = n,
						   .last_nl = nl ? n : 0,
						   .end_off = -1,
						   .part = p,
						   .epoch = m->cont_epoch };
	m->end += n;
	m->cont = !nl;
	m->cont_lpos += n;
	return n;
}

/* New records at the end of m's stream. Needs g->mu. */
static ssize_t read_fresh(struct group_member *m, char *buf, size_t size)
{
	struct group *g = m->g;
	int np = g->nparts, first;
	size_t used = 0;

	if (m->cap < np) {
		struct gpiece *v = realloc(m->pieces, (size_t)np * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->pieces = v;
		m->cap = np;
	}
	if (m->cont &&
	    (g->parts[m->cont_part].owner != m || g->parts[m->cont_part].epoch != m->cont_epoch)) {
		ssize_t n = read_rest(m, buf, size);

		if (n != 0)
			return n;
	}
	bool cont = m->cont;

	first = cont ? m->cont_part : m->rr;
	m->cont = false;
	for (int k = 0; k < np && used < size; k++) {
		int p = (first + k) % np;
		int64_t lpos, last_nl, end_off;
		ssize_t n;

		if (g->parts[p].owner != m)
			continue;
		n = read_part(g, p, buf + used, size - used, used == 0, cont && k == 0, &lpos,
			      &last_nl, &end_off);
		if (n == -ENODATA)
			return rest_gone(m, p, g->parts[p].pos);
		if (n < 0) {
			if (used == 0)
				return n;
			break;
		}
		if (n == 0)
			continue;
		m->pieces[m->npieces++] = (struct gpiece){ .soff = m->end,
							   .lpos = lpos,
							   .len = n,
							   .last_nl = last_nl,
							   .end_off = end_off,
							   .part = p,
							   .epoch = g->parts[p].epoch };
		m->end += n;
		used += (size_t)n;
		if (last_nl == 0) { /* a record in part: it fills buf */
			m->cont = true;
			m->cont_part = p;
			m->cont_epoch = g->parts[p].epoch;
			m->cont_lpos = lpos + n;
		}
	}
	if (np > 0)
		m->rr = (m->rr + 1) % np;
	return (ssize_t)used;
}

ssize_t group_consume(struct group_member *m, int64_t off, char *buf, size_t size)
{
	struct group *g = m->g;
	ssize_t n = 0;
	int rc = group_lock_live(g);

	if (rc < 0)
		return rc;
	if (!m->active) {
		rc = -ENOENT;
		goto out;
	}
	if (off < m->start) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: %s: read at %" PRId64 " refused: "
			       "the stream before %" PRId64 " is committed and cannot be read "
			       "again",
			       g->name, g->topic, m->id, off, m->start);
		rc = -ESPIPE;
		goto out;
	}
	rc = commit_upto(m, off < m->end ? off : m->end);
	if (rc < 0)
		goto out;
	if (off > m->end)
		rc = -ERANGE;
	else if (off < m->end)
		n = redeliver(m, off, buf, size);
	else
		n = read_fresh(m, buf, size);
out:
	pthread_mutex_unlock(&g->mu);
	return rc < 0 ? rc : n;
}
