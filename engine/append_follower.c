/*
 * append_follower.c — the follower's append (log_append_batches): the
 * leader's record batches written as they are, offsets, leader epochs,
 * CRCs and compressed payloads untouched, so that the replica's .log is
 * the leader's byte for byte.
 *
 * What a follower is given is data from the network: every batch is
 * checked before anything is written (batch_check), and the whole buffer
 * is refused when one is not valid. The rules, in the order checked:
 *   1. the 61-byte header decodes: magic 2, batchLength >= 49, a record
 *      count >= 0; a batch whose header or bytes are cut short by the end
 *      of the buffer ends the input (a Fetch response may end with a
 *      partial batch: it is not an error, and it is not appended);
 *   2. its CRC-32C matches and its records decode (a compressed payload
 *      is decompressed: the line view needs each record's length);
 *   3. the first base offset is the LEO, each next one the last offset of
 *      the batch before plus one, so offsets strictly increase with no
 *      gap, and every record's offset strictly increases within
 *      [baseOffset, baseOffset + lastOffsetDelta]. Compaction's gaps are
 *      the exception: the leader's cleaner removed records, and their
 *      offsets and line positions stay unused. The first batch may start
 *      above the LEO when the leader gave its line position
 *      (first_line_pos, at or past this log's line end: it is placed
 *      there, so every line keeps the leader's position); a batch that
 *      starts above the one before's last offset + 1 ends the input (it
 *      and what follows are not appended, nor checked: the next fetch
 *      asks from inside that gap, and its answer brings that batch's
 *      line position);
 *   4. its partition leader epoch is >= the latest of the epoch cache and
 *      >= the batch before's (epochs never go back in a log).
 * max.message.bytes is not applied: it limits what producers may write,
 * and a replica must take every batch its leader took (Kafka's followers
 * do not check it either), or a config change would stop replication.
 *
 * Then, under the log's lock, the batches are written through append.c
 * with the batch_meta the leader had for them: the same max timestamp and
 * its offset (first record holding it), the same line lengths, so
 * .index, .timeindex and .lines come out as the leader's (line positions
 * count from this log's line end, which is the leader's when both hold
 * the same records).
 *
 * Where segments roll: by this log's own config, as Kafka's followers do,
 * with the rules of every append (append.c): segment.bytes, the 2 GiB and
 * 32-bit offset limits, a full index, segment.ms. They depend only on the
 * batches (a full index is tested batch by batch, also inside one append's
 * run; segment.ms in record time, Kafka's), so with the leader's config
 * the follower rolls where the leader did and every file is the same;
 * only batches without a timestamp age segment.ms on each replica's own
 * clock (a follower that was behind rolls later). A batch whose epoch is above the latest enters the
 * epoch cache at its base offset (Kafka's assign(epoch, baseOffset) on a
 * follower's append), after the bytes are written, so that an entry
 * never names an offset the log has not been given. All or nothing: an
 * error cuts the log back to where it was (append.c).
 *
 * Locking: l->lock for the write; the checks run before it, on the
 * caller's thread, since they need nothing of the log but its LEO and
 * latest epoch, which are checked again under the lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>

#include "engine/log_int.h"

/* Checks the batch at b (avail bytes); fills *m but for the placement
 * (first_line_pos). Returns its size, 0 when it is cut short, -EBADMSG,
 * -ENOMEM. */
static int64_t batch_check(const uint8_t *b, size_t avail, const struct line_fmt *lf,
			   struct batch_meta *m, int32_t *epoch)
{
	struct batch_hdr h;
	struct batch_iter it = { 0 };
	struct rec r;

	if (avail < BATCH_HDR_SIZE)
		return 0;
	if (batch_hdr_decode(b, avail, &h) < 0 || h.last_offset_delta < 0)
		return -EBADMSG;
	int64_t size = batch_total_size(b);
	if ((size_t)size > avail)
		return 0;
	int rc = batch_iter_init(&it, b, (size_t)size);
	if (rc < 0)
		return rc;
	m->base_offset = h.base_offset;
	m->last_offset = h.base_offset + h.last_offset_delta;
	m->size = size;
	m->line_bytes = 0;
	/* batch_meta_note_ts's rule, as every append. */
	m->max_ts = -1;
	m->max_ts_offset = h.base_offset;
	/* Records in the form of written lines are summed without a struct
	 * rec each (batch_iter_line_sum) where their line can only be the
	 * value itself: raw, or escape without key.separator (a key-less
	 * record of a keyed topic is escaped when its value holds the
	 * separator, which that walk does not look for). Its deltas are
	 * checked as batch_iter_next checks them: strictly increasing, at
	 * most lastOffsetDelta, so its offsets need no check of their own. */
	bool fast = lf->format == LINE_FORMAT_RAW || lf->sep_len == 0;
	struct line_sum ls = { 0, 0, -1, h.base_offset };
	int64_t prev = h.base_offset - 1;
	for (;;) {
		rc = fast ? batch_iter_line_sum(&it, lf->format != LINE_FORMAT_RAW, &ls, &r)
			  : batch_iter_next(&it, &r);
		if (rc != 1)
			break;
		if (r.offset <= prev || r.offset > m->last_offset) {
			rc = -EBADMSG;
			break;
		}
		prev = r.offset;
		m->line_bytes += line_len(lf, &r);
		batch_meta_note_ts(m, r.timestamp, r.offset);
	}
	batch_iter_free(&it);
	if (rc < 0)
		return rc;
	m->line_bytes += ls.line_bytes;
	if (ls.max_ts > m->max_ts ||
	    (ls.max_ts == m->max_ts && ls.max_ts >= 0 && ls.max_ts_offset < m->max_ts_offset)) {
		m->max_ts = ls.max_ts;
		m->max_ts_offset = ls.max_ts_offset;
	}
	*epoch = h.partition_leader_epoch;
	return size;
}

/* The whole batches of buf, checked (lines counted with lf); *n of them
 * in *meta (malloc'ed), their epochs in *epochs, *used bytes. */
static int batches_check(const uint8_t *buf, size_t len, const struct line_fmt *lf,
			 struct batch_meta **meta, int32_t **epochs, int *n, size_t *used)
{
	size_t at = 0, cap = 0;
	int k = 0, rc = 0;
	struct batch_meta *m = NULL;
	int32_t *e = NULL;

	while (at < len) {
		if ((size_t)k == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct batch_meta *nm = realloc(m, nc * sizeof(*nm));
			int32_t *ne = nm ? realloc(e, nc * sizeof(*ne)) : NULL;
			if (nm)
				m = nm;
			if (ne)
				e = ne;
			if (!nm || !ne) {
				rc = -ENOMEM;
				break;
			}
			cap = nc;
		}
		int64_t size = batch_check(buf + at, len - at, lf, &m[k], &e[k]);
		if (size <= 0) {
			rc = (int)size;
			break;
		}
		if (k > 0 && (m[k].base_offset <= m[k - 1].last_offset || e[k] < e[k - 1])) {
			rc = -EBADMSG;
			break;
		}
		if (k > 0 && m[k].base_offset != m[k - 1].last_offset + 1)
			break; /* a gap: rule 3 */
		at += (size_t)size;
		k++;
	}
	if (rc < 0) {
		free(m);
		free(e);
		return rc;
	}
	*meta = m;
	*epochs = e;
	*n = k;
	*used = at;
	return 0;
}

/* Writes the checked batches at the LEO, the first at first_line_pos
 * when it starts past the LEO (rule 3; lock held); all or nothing. */
static int append_checked(struct log *l, const uint8_t *buf, struct batch_meta *m, const int32_t *e,
			  int n, int64_t first_line_pos)
{
	int rc = l->fence >= 0 ? log_fence_clear(l) : 0;
	if (rc < 0)
		return rc;
	int64_t start = log_leo(l), line = log_line_end(l);
	if (m[0].base_offset < start || e[0] < epoch_cache_latest(l))
		return -EBADMSG;
	if (m[0].base_offset > start) {
		if (first_line_pos < line) {
			ENGINE_REPORT(ENGINE_LOG_ERR,
				      "%s: the leader's batch at offset %" PRId64
				      " starts past this log's end %" PRId64
				      " without a line position at or past %" PRId64 " (%" PRId64
				      "): refused",
				      l->dir, m[0].base_offset, start, line, first_line_pos);
			return -EBADMSG;
		}
		line = first_line_pos;
	}
	for (int i = 0; i < n; i++) {
		m[i].first_line_pos = line;
		line += m[i].line_bytes;
	}
	int nsegs0 = l->nsegs;
	int32_t epoch0 = epoch_cache_latest(l);
	rc = log_write_batches(l, buf, m, n, engine_now_ms());
	for (int i = 0; i < n && rc == 0; i++)
		if (e[i] > epoch_cache_latest(l))
			rc = epoch_cache_assign(l, e[i], m[i].base_offset);
	if (rc < 0) {
		if (l->nsegs > nsegs0 || log_leo(l) > start)
			(void)log_append_rollback(l, start); /* fenced if it fails */
		(void)epoch_cache_truncate_above(l, epoch0);
	}
	return rc;
}

int log_append_batches(struct log *l, const uint8_t *buf, size_t len, int64_t first_line_pos,
		       int64_t *last_offset)
{
	struct batch_meta *m = NULL;
	int32_t *e = NULL;
	int n = 0;
	size_t used = 0;

	if (last_offset)
		*last_offset = -1;
	int rc;
again:
	pthread_mutex_lock(&l->lock);
	struct line_fmt lf = l->lf;
	rc = l->deleted ? -ENOENT : l->damaged ? -EIO : 0;
	pthread_mutex_unlock(&l->lock);
	if (rc == 0)
		rc = batches_check(buf, len, &lf, &m, &e, &n, &used);
	if (rc < 0 || n == 0)
		goto out;
	pthread_mutex_lock(&l->lock);
	bool sep_changed = memcmp(&l->lf, &lf, sizeof(lf)) != 0;
	if (sep_changed)
		; /* line lengths counted with another line format */
	else if (l->deleted || l->damaged)
		rc = l->deleted ? -ENOENT : -EIO;
	else
		rc = append_checked(l, buf, m, e, n, first_line_pos);
	pthread_mutex_unlock(&l->lock);
	if (sep_changed) {
		free(m);
		free(e);
		m = NULL;
		e = NULL;
		goto again;
	}
	if (rc == 0) {
		if (last_offset)
			*last_offset = m[n - 1].last_offset;
		log_notify_leo(l);
		rc = n;
	}
out:
	free(m);
	free(e);
	return rc;
}
