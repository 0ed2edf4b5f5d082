/*
 * append_leader.c — the leader's append: records (log_append) or lines
 * (log_append_lines) encoded into record batches of at most batch.size,
 * compressed with the log's codec, stamped with the leader epoch, given
 * offsets from the log end and written through append.c.
 *
 * The write pipeline: an append of at least 2 * LOG_PART_BYTES is cut
 * into up to LOG_PARTS parts. Each part is encoded as if it started the log
 * (enc_part_run, pure: it touches only its own buffers, so any thread can
 * run it) and gets its place when it is written (part_place). When the
 * manager's helper pool has an idle thread, the appending thread encodes
 * the parts from the front while the helper writes them in order (part 0
 * alone, then one pwritev for whatever is encoded each time it is free),
 * and encodes from the back when nothing is ready (encode_and_write).
 * Encoding buffers come from the manager's cache (enc_cache) for the
 * append's duration, so their memory follows the number of appends
 * running at once, not the number of partitions.
 *
 * Locking: log_append and log_append_lines take l->lock for the whole
 * append; the helper writes under it on the appending thread's behalf
 * (that thread touches the log again only once the helper is done).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log_int.h"
#include "util/pause.h"

static void encset_free(struct encset *es)
{
	for (int i = 0; i < LOG_PARTS; i++) {
		free(es->enc[i].buf);
		free(es->enc[i].meta);
	}
	free(es->meta);
	free(es);
}

void enc_cache_init(struct enc_cache *c)
{
	pthread_mutex_init(&c->mu, NULL);
	c->free = NULL;
}

void enc_cache_destroy(struct enc_cache *c)
{
	while (c->free) {
		struct encset *es = c->free;
		c->free = es->next;
		encset_free(es);
	}
	pthread_mutex_destroy(&c->mu);
}

/* Buffers for one append: from the manager's cache, or new. */
static struct encset *encset_take(struct log *l)
{
	struct encset *es = NULL;

	if (l->encs) {
		pthread_mutex_lock(&l->encs->mu);
		es = l->encs->free;
		if (es)
			l->encs->free = es->next;
		pthread_mutex_unlock(&l->encs->mu);
	}
	return es ? es : calloc(1, sizeof(*es));
}

static void encset_give(struct log *l, struct encset *es)
{
	if (!l->encs) {
		encset_free(es);
		return;
	}
	pthread_mutex_lock(&l->encs->mu);
	es->next = l->encs->free;
	l->encs->free = es;
	pthread_mutex_unlock(&l->encs->mu);
}

/* Grows an encoding buffer to hold need bytes and nmeta batches. */
static int encbuf_reserve(struct encbuf *e, size_t need, int nmeta)
{
	uint8_t *np = engine_grow(e->buf, &e->cap, need, 1, 65536);
	if (!np)
		return -ENOMEM;
	e->buf = np;
	struct batch_meta *nm = engine_grow(e->meta, &e->meta_cap, (size_t)nmeta, sizeof(*nm), 64);
	if (!nm)
		return -ENOMEM;
	e->meta = nm;
	return 0;
}

/* One part of an append to encode: records from an array, or lines parsed
 * on the way (recs NULL). A part is encoded as if it started the log
 * (offsets and line positions from 0) and given its place when it is
 * written (part_place), so parts can be encoded before the ones ahead of
 * them are counted. Pure: it touches only *eb and reads its input and the
 * configuration, so a helper thread can run it while the appender writes
 * another part under the log's lock. */
struct enc_part {
	const struct log_config *cfg;
	const struct line_fmt *lf;
	struct encbuf *eb;
	const struct rec_in *recs; /* recs[0..n), or */
	int n;
	const char *p, *end;   /* lines in [p, end) then [p2, end2), */
	const char *p2, *end2; /* by lr, stamped ts */
	const struct line_rules *lr;
	bool plain_lines; /* lines of a key-less topic: batch_lines.c's path */
	int64_t ts;
	int32_t epoch;
	int nb;          /* out: batches, or -errno */
	int64_t total;   /* out: bytes */
	int64_t payload; /* out: key + value bytes */
};

/* The part's next record into *r; false at its end, or with p->nb set to
 * -EMSGSIZE when a line is too big. *clean: the record is a written line
 * that line_scan found free of bytes to escape. */
static inline bool part_next(struct enc_part *p, int *i, struct rec_in *r, bool *clean)
{
	*clean = false;
	if (p->recs) {
		if (*i >= p->n)
			return false;
		*r = p->recs[(*i)++];
		return true;
	}
	while (p->p >= p->end) {
		if (!p->p2)
			return false;
		p->p = p->p2;
		p->end = p->end2;
		p->p2 = NULL;
	}
	const char *next =
		line_split(p->lr, p->p, line_scan(p->p, p->end, clean), p->end, r, clean);
	if (!next) {
		p->nb = -EMSGSIZE;
		return false;
	}
	r->timestamp = p->ts;
	p->p = next;
	return true;
}

/* After a line added to bb: the plain lines that follow it, up to the
 * first that is not plain or does not fit (left to part_next). Returns
 * their key + value bytes. */
static int64_t enc_plain_lines(struct enc_part *p, struct batch_builder *bb, struct batch_meta *m,
			       int64_t offset)
{
	int64_t vbytes;
	int32_t k = batch_builder_add_lines(bb, &p->p, p->end, p->ts, p->lr->max,
					    p->lr->format == LINE_FORMAT_ESCAPE, &vbytes);

	if (k == 0)
		return 0;
	batch_meta_note_ts(m, p->ts, offset + bb->count - k);
	m->line_bytes += vbytes + k; /* each line as written, and its '\n' */
	return vbytes;
}

/* Encodes the part into eb as batches of at most batch.size, and never
 * over log_batch_limit (max.message.bytes, or segment.bytes when lower),
 * Kafka's limits on a stored batch, which a batch of
 * many lines would pass when batch.size is the larger (a record bigger than
 * that gets a batch of its own: its line was checked against
 * log_max_record_payload, so that batch fits the limit too), and fills
 * eb->meta. */
static void enc_part_run(void *arg)
{
	struct enc_part *p = arg;
	const struct log_config *cfg = p->cfg;
	struct encbuf *eb = p->eb;
	int64_t offset = 0, line = 0, payload = 0;
	size_t used = 0;
	int nb = 0, i = 0;
	struct rec_in r;
	bool clean;

	p->nb = 0;
	bool have = part_next(p, &i, &r, &clean);
	while (have) {
		size_t first = batch_record_max_size(r.key_len, r.value_len) + BATCH_HDR_SIZE;
		size_t cap = log_batch_cap(cfg) > first ? log_batch_cap(cfg) : first;
		int rc = encbuf_reserve(eb, used + cap, nb + 1);
		if (rc < 0) {
			p->nb = rc;
			return;
		}
		struct batch_builder bb;
		batch_builder_init(&bb, eb->buf + used, cap, log_codec_own(cfg->codec));
		bb.log_append_time = cfg->log_append_time;
		struct batch_meta *m = &eb->meta[nb];
		m->base_offset = offset;
		m->first_line_pos = line;
		m->line_bytes = 0;
		m->max_ts = -1;
		m->max_ts_offset = offset;
		do {
			if (batch_builder_add(&bb, r.key, r.key_len, r.value, r.value_len,
					      r.timestamp) < 0)
				break;
			int64_t kv = (r.value_len > 0 ? r.value_len : 0) +
				     (r.key_len > 0 ? r.key_len : 0);
			payload += kv;
			struct rec lr = { .key = (const uint8_t *)r.key,
					  .key_len = r.key_len,
					  .value = (const uint8_t *)r.value,
					  .value_len = r.value_len };
			m->line_bytes += line_len_scanned(p->lf, &lr, clean);
			batch_meta_note_ts(m, r.timestamp, offset + bb.count - 1);
			if (p->plain_lines)
				payload += enc_plain_lines(p, &bb, m, offset);
			have = part_next(p, &i, &r, &clean);
		} while (have);
		if (p->nb < 0)
			return; /* a line too big */
		if (bb.count == 0) {
			p->nb = -EINVAL; /* a record the builder refuses */
			return;
		}
		int64_t size = batch_builder_finish(&bb, offset, p->epoch);
		if (size < 0) {
			p->nb = (int)size;
			return;
		}
		m->size = size;
		m->last_offset = offset + bb.count - 1;
		offset += bb.count;
		line += m->line_bytes;
		used += (size_t)size;
		nb++;
	}
	if (p->nb < 0)
		return;
	p->total = (int64_t)used;
	p->payload = payload;
	p->nb = nb;
}

/* Gives an encoded part its place: offsets from *off on, line positions
 * from *line on (it was encoded from 0), and moves both past it. The base
 * offset is outside the batch CRC, so the batches are patched in place. */
static void part_place(struct encbuf *eb, int nb, int64_t *off, int64_t *line)
{
	size_t pos = 0;

	for (int j = 0; j < nb; j++) {
		struct batch_meta *m = &eb->meta[j];
		m->base_offset += *off;
		m->last_offset += *off;
		m->max_ts_offset += *off;
		m->first_line_pos += *line;
		be64_put(eb->buf + pos + BATCH_OFF_BASE_OFFSET, (uint64_t)m->base_offset);
		pos += (size_t)m->size;
	}
	if (nb > 0) {
		*off = eb->meta[nb - 1].last_offset + 1;
		*line = eb->meta[nb - 1].first_line_pos + eb->meta[nb - 1].line_bytes;
	}
}

/* Writes part[0..k) (placed; nb batches in all) with one write of the
 * .log per segment. Lock held (by the appending thread, for the writer). */
static int write_parts(struct log *l, struct encset *es, const struct enc_part *part, int k, int nb,
		       int64_t now)
{
	struct iovec v[LOG_PARTS];
	int n = 0;

	if (k == 1)
		return log_write_batches(l, part[0].eb->buf, part[0].eb->meta, part[0].nb, now);
	struct batch_meta *m = engine_grow(es->meta, &es->meta_cap, (size_t)nb, sizeof(*m), 64);
	if (!m)
		return -ENOMEM;
	es->meta = m;
	for (int i = 0; i < k; i++) { /* an empty part: an empty piece */
		v[i] = (struct iovec){ part[i].eb->buf, (size_t)part[i].total };
		if (part[i].nb > 0)
			memcpy(m + n, part[i].eb->meta, sizeof(*m) * (size_t)part[i].nb);
		n += part[i].nb;
	}
	return log_write_batchesv(l, v, k, m, n, now);
}

/*
 * An append of at least 2 * LOG_PART_BYTES is cut into parts (up to
 * LOG_PARTS) and, when a helper is idle, encoded and written by two
 * threads at once (the write pipeline):
 *
 * - the appending thread encodes the parts from the front (part 0 first);
 * - the helper writes them, in order: part 0 alone, then each time it is
 *   free every part that is encoded and not written yet, in one pwritev,
 *   placing each first; when none is ready it encodes a part itself, from
 *   the back.
 *
 * The appending thread is the one that received the request: the kernel
 * has just copied the lines into its buffer on its CPU, so it reads them
 * from its own cache, and the buffer it gets the next request in is not
 * in the other CPU's cache (writing there first takes the lines back from
 * it). The writer copies the encoded batches into the page cache while the
 * next parts are encoded, which makes a streaming append cost about what
 * the copy into the page cache costs. The other split (both threads
 * encoding, the appending thread writing) left the helper reading every
 * line across CPUs and the appending thread with the writes, the kernel's
 * request copy and part of the encoding: a 1 MiB write of the mount took
 * 0.30 ms from request to reply against 0.20 for the passthrough's
 * pwrite, and the stream ran at 0.81-0.86 of the passthrough in full
 * benchmark runs where it now runs at 0.94 to 0.95 (README, "Benchmarks").
 *
 * The writer encodes from the back so that the appending thread keeps the
 * front to itself and the parts the writer needs next come from it. With
 * lz4, whose encoding costs more than the writes, both threads encode
 * most of the time.
 *
 * Without a helper the appending thread encodes and writes each part in
 * turn. The batches are those a serial append would make, except that a
 * part's last batch may be short.
 *
 * Both threads wait by polling (poll_wait, yielding the CPU every 64
 * looks): the waits last a part's encoding or write, tens of
 * microseconds, and a thread that sleeps is woken 10 to 150 us late on
 * this kind of machine (README, "Benchmarks"); the yield lets the other
 * run if the scheduler put both on one CPU. A wait that lasts longer than
 * WPIPE_POLL_NS is no such wait (a write held by the kernel's dirty-page
 * throttling, a thread preempted on a busy machine): it then sleeps, the
 * appending thread in pool_wait, the writer 20 us at a time, so that it
 * does not hold a core.
 */
#define WPIPE_POLL_NS  1000000
#define LOG_PART_BYTES (64 << 10)

struct wpipe {
	struct log *l;
	struct encset *es;
	struct enc_part *part;
	int nparts;
	int64_t now, place_off, place_line; /* the writer's */
	_Atomic unsigned claimed;           /* parts claimed for encoding, a bit each */
	_Atomic bool done[LOG_PARTS];       /* part encoded */
	_Atomic bool stop;                  /* a part failed: no more */
	int rc;                             /* the writer's first error */
};

/* Claims the first unclaimed part from the front (back: from the end);
 * nparts when none is left. */
static int wpipe_claim(struct wpipe *wp, bool back)
{
	for (int k = 0; k < wp->nparts; k++) {
		int i = back ? wp->nparts - 1 - k : k;
		unsigned bit = 1u << i;
		if (atomic_load_explicit(&wp->claimed, memory_order_relaxed) & bit)
			continue;
		if (!(atomic_fetch_or(&wp->claimed, bit) & bit))
			return i;
	}
	return wp->nparts;
}

/* Encodes part i; false when it failed (stop set). */
static bool wpipe_encode(struct wpipe *wp, int i)
{
	enc_part_run(&wp->part[i]);
	if (wp->part[i].nb < 0) {
		atomic_store_explicit(&wp->stop, true, memory_order_release);
		return false;
	}
	atomic_store_explicit(&wp->done[i], true, memory_order_release);
	return true;
}

/* The helper's side: writes the parts in order as they are encoded. */
static void wpipe_write(void *arg)
{
	struct wpipe *wp = arg;
	int w = 0;            /* part[0..w) written */
	bool waiting = false; /* for a part: poll began */
	struct poll_wait pw;

	while (w < wp->nparts && !atomic_load_explicit(&wp->stop, memory_order_acquire)) {
		int e = w, nb = 0;
		while (e < wp->nparts && atomic_load_explicit(&wp->done[e], memory_order_acquire))
			e++;
		if (w == 0 && e > 1)
			e = 1; /* the first part alone, as soon as it is there */
		if (e > w) {
			for (int i = w; i < e; i++) {
				part_place(wp->part[i].eb, wp->part[i].nb, &wp->place_off,
					   &wp->place_line);
				nb += wp->part[i].nb;
			}
			int rc = write_parts(wp->l, wp->es, wp->part + w, e - w, nb, wp->now);
			if (rc < 0) {
				wp->rc = rc;
				atomic_store_explicit(&wp->stop, true, memory_order_release);
				return;
			}
			w = e;
			waiting = false;
			continue;
		}
		int j = wpipe_claim(wp, true);
		if (j < wp->nparts) {
			if (!wpipe_encode(wp, j))
				return;
			waiting = false;
			continue;
		}
		if (!waiting) {
			poll_wait_start(&pw, WPIPE_POLL_NS, 0);
			waiting = true;
		}
		if (!poll_wait_step(&pw))
			pause_ns(20000);
	}
}

/* The first part is a quarter of the others, so that the first write of
 * the .log starts after a quarter of a part's encoding. In units, part 0
 * is 1 and each other part 4. part_end: how much of total (records or
 * bytes) comes before the end of part i of nparts. */
static int64_t part_end(int64_t total, int i, int nparts)
{
	return total * (1 + 4 * (int64_t)i) / (1 + 4 * (int64_t)(nparts - 1));
}

/* Parts for an append of `bytes` of keys and values. */
static int parts_for(struct log *l, int64_t bytes)
{
	int64_t k = l->pool ? bytes / LOG_PART_BYTES : 1;
	return k < 2 ? 1 : k > LOG_PARTS ? LOG_PARTS : (int)k;
}

/* The first error of an encoded part, or 0 (a part left unencoded after
 * another failed says -ECANCELED, which is no error of its own). */
static int parts_error(const struct enc_part *part, int nparts)
{
	for (int i = 0; i < nparts; i++)
		if (part[i].nb < 0 && part[i].nb != -ECANCELED)
			return part[i].nb;
	return 0;
}

/* Encodes and writes part[0..nparts) (lock held): with the helper as the
 * writer when one is idle, else one part after the other. */
static int encode_and_write(struct log *l, struct encset *es, struct enc_part *part, int nparts,
			    int64_t now)
{
	struct wpipe wp = { .l = l, .es = es, .part = part, .nparts = nparts, .now = now };
	struct pool_job job = { .fn = wpipe_write, .arg = &wp };

	wp.place_off = log_leo(l);
	wp.place_line = log_line_end(l);
	atomic_init(&wp.claimed, 0u);
	atomic_init(&wp.stop, false);
	for (int i = 0; i < nparts; i++)
		atomic_init(&wp.done[i], false);
	if (nparts < 2 || !pool_try_run(l->pool, &job)) {
		for (int i = 0; i < nparts; i++) {
			enc_part_run(&part[i]);
			if (part[i].nb < 0)
				return part[i].nb;
			part_place(part[i].eb, part[i].nb, &wp.place_off, &wp.place_line);
			int rc = write_parts(l, es, part + i, 1, part[i].nb, now);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	for (int j; (j = wpipe_claim(&wp, false)) < nparts;)
		if (atomic_load_explicit(&wp.stop, memory_order_acquire) || !wpipe_encode(&wp, j))
			break;
	/* The writer is busy for the last parts' write, most often: polled
	 * for, as pool_wait's adaptive spin gives up early and sleeps. */
	struct poll_wait pw;

	poll_wait_start(&pw, WPIPE_POLL_NS, 0);
	while (!pool_finished(&job))
		if (!poll_wait_step(&pw)) {
			pool_wait(l->pool, &job);
			break;
		}
	return wp.rc < 0 ? wp.rc : parts_error(part, nparts);
}

/* Encodes and writes part[0..nparts) in order (lock held), with a set of
 * buffers from the manager's cache; all or nothing. */
static int append_parts(struct log *l, struct enc_part *part, int nparts,
			struct log_append_info *info)
{
	int rc = l->fence >= 0 ? log_fence_clear(l) : 0;

	if (rc < 0)
		return rc;
	int64_t start = log_leo(l);
	int nsegs0 = l->nsegs;
	struct encset *es = encset_take(l);

	if (!es)
		return -ENOMEM;
	for (int i = 0; i < nparts; i++)
		part[i].eb = &es->enc[i]; /* nb: -ECANCELED until encoded */
	rc = encode_and_write(l, es, part, nparts, engine_now_ms());
	encset_give(l, es);
	if (rc < 0) {
		if (l->nsegs > nsegs0 || log_leo(l) > start)
			(void)log_append_rollback(l, start); /* fenced if it fails */
		return rc;
	}
	if (log_leo(l) == start)
		return -EINVAL; /* no record in the input */
	if (info) {
		info->first_offset = start;
		info->last_offset = log_leo(l) - 1;
		info->batches = 0;
		info->bytes = 0;
		info->payload = 0;
		for (int i = 0; i < nparts; i++) {
			info->batches += part[i].nb;
			info->bytes += part[i].total;
			info->payload += part[i].payload;
		}
		info->line_end = log_line_end(l);
	}
	return 0;
}

int log_append(struct log *l, const struct rec_in *recs, int n, int32_t leader_epoch,
	       struct log_append_info *info)
{
	if (n <= 0)
		return -EINVAL;
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	if ((rc = log_leader_append_refused(l, leader_epoch)) < 0)
		goto out;
	int64_t max = log_max_record_payload(&l->cfg), bytes = 0;
	for (int i = 0; i < n; i++) {
		int64_t payload = (recs[i].key_len > 0 ? recs[i].key_len : 0) +
				  (recs[i].value_len > 0 ? recs[i].value_len : 0);
		if (payload > max) {
			rc = -EMSGSIZE;
			goto out;
		}
		bytes += payload;
	}
	int nparts = parts_for(l, bytes);
	if (nparts > n)
		nparts = n;
	struct enc_part part[LOG_PARTS];
	for (int i = 0; i < nparts; i++) {
		int a = i == 0 ? 0 : (int)part_end(n, i - 1, nparts);
		int b = (int)part_end(n, i, nparts);
		part[i] = (struct enc_part){ .cfg = &l->cfg,
					     .lf = &l->lf,
					     .recs = recs + a,
					     .n = b - a,
					     .epoch = leader_epoch,
					     .nb = -ECANCELED };
	}
	rc = append_parts(l, part, nparts, info);
out:
	pthread_mutex_unlock(&l->lock);
	if (rc == 0)
		log_notify_leo(l);
	return rc;
}

int log_append_lines(struct log *l, const char *head, size_t head_len, const char *buf, size_t len,
		     int64_t ts, int32_t leader_epoch, struct log_append_info *info)
{
	if (head_len + len == 0)
		return -EINVAL;
	if (len == 0) { /* the head alone */
		buf = head;
		len = head_len;
		head_len = 0;
	}
	pthread_mutex_lock(&l->lock);
	int rc = 0;
	if ((rc = log_leader_append_refused(l, leader_epoch)) < 0)
		goto out;
	/* Each part its own rules: escaped lines are unescaped into the
	 * part's scratch space, on whichever thread encodes it. */
	struct line_rules lr[LOG_PARTS];
	struct line_scratch scr[LOG_PARTS] = { { 0 } };
	int nparts = parts_for(l, (int64_t)len), k = 0;
	struct enc_part part[LOG_PARTS];
	const char *p = buf, *end = buf + len;
	/* Cut at the end of the line holding each part's mark of buf; the
	 * head goes first, in part 0. */
	for (int i = 0; i < nparts && (p < end || i == 0); i++) {
		const char *cut = end;
		if (i < nparts - 1) {
			const char *mark = buf + part_end((int64_t)len, i, nparts) - 1;
			const char *nl;
			if (mark < p)
				mark = p;
			nl = memchr(mark, '\n', (size_t)(end - mark));
			cut = nl ? nl + 1 : end;
		}
		lr[k] = (struct line_rules){ l->cfg.key_sep, l->cfg.key_sep_len,
					     log_max_record_payload(&l->cfg), l->cfg.line_format,
					     &scr[k] };
		line_scratch_reset(&scr[k], (size_t)(cut - p) + (i == 0 ? head_len : 0));
		part[k] = (struct enc_part){ .cfg = &l->cfg,
					     .lf = &l->lf,
					     .p = p,
					     .end = cut,
					     .lr = &lr[k],
					     .plain_lines = l->cfg.key_sep_len == 0,
					     .ts = ts,
					     .epoch = leader_epoch,
					     .nb = -ECANCELED };
		if (i == 0 && head_len > 0) {
			part[k].p = head;
			part[k].end = head + head_len;
			part[k].p2 = p;
			part[k].end2 = cut;
		}
		k++;
		p = cut;
	}
	rc = append_parts(l, part, k, info);
	for (int i = 0; i < k; i++)
		line_scratch_free(&scr[i]);
out:
	pthread_mutex_unlock(&l->lock);
	if (rc == 0)
		log_notify_leo(l);
	return rc;
}
