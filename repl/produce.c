/*
 * produce.c — the produce path: lines in, records appended, high watermark
 * moved; and the partitioner of .produce.
 *
 * A write's lines become records in order:
 *
 *   "value\n"          key null, value "value"          (no separator in it,
 *                                                        or the topic has none)
 *   "key<sep>value\n"  key "key", value "value"          (split at the first
 *                                                        separator)
 *   "key<sep>\n"       key "key", value null: a tombstone (the line view
 *                                                        prints a null value as
 *                                                        empty, so the line
 *                                                        comes back the same)
 *   "\n"               key null, value "" (empty, not null)
 *
 * Records point into the caller's buffer (no copy). They are handed to
 * log_append() in chunks of at most PRODUCE_CHUNK_RECS records or about
 * PRODUCE_CHUNK_BYTES of input, in arrays taken from a small pool in the
 * broker (struct recbuf): no allocation per record, and the arrays' memory
 * is bounded by the number of concurrent writers, not by the number of
 * partitions.
 *
 * Invariants:
 *   1. A record over max.message.bytes (its batch of one, as the engine
 *      counts it) fails the whole write with -EMSGSIZE before anything is
 *      appended: a write bigger than one chunk is checked to its end
 *      before the first append.
 *   2. The records of one write to a partition are contiguous in its log:
 *      the partition's produce_mu is held across all the chunks.
 *   3. The high watermark moves only after the append (and, when
 *      flush.messages asks for it, the fsync) that it covers.
 *
 * Only one chunk's append is all or nothing (the engine's guarantee); a
 * write of more than PRODUCE_CHUNK_BYTES that hits ENOSPC or EIO after its
 * first chunk leaves the earlier chunks appended and returns the error.
 * The fs hands writes of at most 1 MiB (FUSE's max_write) in practice.
 *
 * .produce (partition -1): a keyed record goes to
 * toPositive(murmur2(key)) % partitions, the partition Kafka's Java
 * producer picks; keyless records go round-robin, one record at a time,
 * from a per-topic counter (Kafka's RoundRobinPartitioner). Records are
 * grouped per partition and each group appended in order; each group is
 * contiguous in its partition.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"

#define PRODUCE_CHUNK_RECS  32768
#define PRODUCE_CHUNK_BYTES (4 << 20)
#define RECBUF_POOL_MAX     8

/* ------------------------------------------------------------------ */
/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2): seed
 * 0x9747b28c, little-endian 4-byte blocks. */
uint32_t broker_murmur2(const void *data, size_t len)
{
	const uint8_t *d = data;
	const uint32_t m = 0x5bd1e995;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t i, n4 = len / 4;

	for (i = 0; i < n4; i++) {
		const uint8_t *q = d + i * 4;
		uint32_t k = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
			     (uint32_t)q[3] << 24;

		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	d += n4 * 4;
	switch (len & 3) {
	case 3:
		h ^= (uint32_t)d[2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)d[1] << 8;
		/* fall through */
	case 1:
		h ^= d[0];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return h;
}

/* ------------------------------------------------------------------ */
/* The pool of record arrays */

static struct recbuf *recbuf_get(struct broker *b)
{
	struct recbuf *rb;

	pthread_mutex_lock(&b->pool_mu);
	rb = b->pool;
	if (rb) {
		b->pool = rb->next;
		b->pool_len--;
	}
	pthread_mutex_unlock(&b->pool_mu);
	if (!rb)
		rb = calloc(1, sizeof(*rb));
	return rb;
}

static void recbuf_free(struct recbuf *rb)
{
	if (!rb)
		return;
	free(rb->recs);
	free(rb->sorted);
	free(rb->part);
	free(rb);
}

static void recbuf_put(struct broker *b, struct recbuf *rb)
{
	if (!rb)
		return;
	pthread_mutex_lock(&b->pool_mu);
	if (b->pool_len < RECBUF_POOL_MAX) {
		rb->next = b->pool;
		b->pool = rb;
		b->pool_len++;
		rb = NULL;
	}
	pthread_mutex_unlock(&b->pool_mu);
	recbuf_free(rb);
}

void broker_pool_free(struct broker *b)
{
	while (b->pool) {
		struct recbuf *rb = b->pool;

		b->pool = rb->next;
		recbuf_free(rb);
	}
	b->pool_len = 0;
}

/* Doubles the arrays (up to PRODUCE_CHUNK_RECS). spread: also the arrays
 * of .produce. */
static int recbuf_grow(struct recbuf *rb, bool spread)
{
	int cap = rb->cap ? rb->cap * 2 : 1024;
	void *p;

	if (cap > PRODUCE_CHUNK_RECS)
		cap = PRODUCE_CHUNK_RECS;
	p = realloc(rb->recs, (size_t)cap * sizeof(*rb->recs));
	if (!p)
		return -ENOMEM;
	rb->recs = p;
	if (spread || rb->sorted) {
		p = realloc(rb->sorted, (size_t)cap * sizeof(*rb->sorted));
		if (!p)
			return -ENOMEM;
		rb->sorted = p;
		p = realloc(rb->part, (size_t)cap * sizeof(*rb->part));
		if (!p)
			return -ENOMEM;
		rb->part = p;
	}
	rb->cap = cap;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lines to records */

/* The engine refuses a record whose key + value exceed
 * log_max_record_payload(); checking the same limit here, before the first
 * chunk is appended, keeps invariant 1 across chunks. */

struct splitter {
	const char *sep;
	int sep_len;
	int64_t max;            /* largest key + value bytes of a record */
	int64_t now;
};

/* Parses the line at p (up to '\n' or end) into *r; returns the start of
 * the next line, or NULL if the record is too big. */
static inline const char *line_parse(const struct splitter *sp, const char *p, const char *end,
				     struct rec_in *r)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
	const char *s = NULL;

	if (sp->sep_len > 0)
		s = sp->sep_len == 1 ? memchr(p, sp->sep[0], l)
				     : memmem(p, l, sp->sep, (size_t)sp->sep_len);
	if ((int64_t)l - (s ? sp->sep_len : 0) > sp->max)
		return NULL;
	r->timestamp = sp->now;
	if (s) {
		size_t k = (size_t)(s - p), v = l - k - (size_t)sp->sep_len;

		r->key = p;
		r->key_len = (int32_t)k;
		r->value = v ? s + sp->sep_len : NULL;
		r->value_len = v ? (int32_t)v : -1;
	} else {
		r->key = NULL;
		r->key_len = -1;
		r->value = p;
		r->value_len = (int32_t)l;
	}
	return nl ? nl + 1 : end;
}

/* The lines of one produce call: at most two runs of complete lines (the
 * first one a line the mount joined from an earlier partial line). */
struct lsrc {
	const char *p, *end;
	const char *p2, *end2;
};

/* Steps to the second run once the first is used up; false when both are. */
static inline bool lsrc_more(struct lsrc *s)
{
	if (s->p < s->end)
		return true;
	if (!s->p2)
		return false;
	s->p = s->p2;
	s->end = s->end2;
	s->p2 = s->end2 = NULL;
	return s->p < s->end;
}

/* Size check of the lines in [p, end) without building records. */
static int lines_check_run(const struct splitter *sp, const char *p, const char *end)
{
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		/* A line no longer than the limit fits whatever it holds. */
		if ((int64_t)l > sp->max) {
			struct rec_in r;

			if (!line_parse(sp, p, end, &r))
				return -EMSGSIZE;
		}
		p += l + 1;
	}
	return 0;
}

static int lines_check(const struct splitter *sp, const struct lsrc *s)
{
	int rc = lines_check_run(sp, s->p, s->end);
	return rc == 0 && s->p2 ? lines_check_run(sp, s->p2, s->end2) : rc;
}

/* Fills rb->recs from *pp with at most one chunk. Returns the count or
 * -EMSGSIZE / -ENOMEM. */
static int chunk_build(const struct splitter *sp, struct recbuf *rb, bool spread,
		       struct lsrc *src)
{
	size_t bytes = 0;
	int n = 0, rc;

	while (lsrc_more(src) && bytes < PRODUCE_CHUNK_BYTES) {
		const char *p = src->p;

		if (n == rb->cap) {
			if (rb->cap >= PRODUCE_CHUNK_RECS)
				break;
			rc = recbuf_grow(rb, spread);
			if (rc < 0)
				return rc;
		}
		src->p = line_parse(sp, p, src->end, &rb->recs[n]);
		if (!src->p)
			return -EMSGSIZE;
		bytes += (size_t)(src->p - p);
		n++;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* Appending */

/* One chunk into one partition; needs pt->produce_mu and t->lock (read).
 * On a single node the ack point is the same for acks 0, 1 and all: the
 * append on the leader, which is the only in-sync replica; acks=0 is
 * synchronous too, there being no network to skip. */
static int chunk_append(struct topic *t, struct partition *pt, const struct rec_in *recs,
			int n)
{
	struct log_append_info info;
	struct log_state st;
	int rc;

	rc = log_append(pt->log, recs, n, BROKER_LEADER_EPOCH, &info);
	if (rc < 0) {
		if (rc != -EMSGSIZE)
			mq_log_limited(MQ_ERR, "topic %s partition %d: append: %s", t->name,
				       pt->index, strerror(-rc));
		return rc;
	}
	atomic_fetch_add_explicit(&pt->records_in, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->bytes_in, info.bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->batches_in, info.batches, memory_order_relaxed);
	atomic_store_explicit(&pt->last_append_ms, recs[0].timestamp, memory_order_relaxed);
	if (t->cfg.log.flush_messages != INT64_MAX) {
		log_get_state(pt->log, &st);
		if (st.log_end_offset - st.recovery_point >= t->cfg.log.flush_messages) {
			rc = log_flush(pt->log, -1);
			if (rc < 0) {
				mq_log_limited(MQ_ERR, "topic %s partition %d: flush: %s",
					       t->name, pt->index, strerror(-rc));
				return rc;
			}
			atomic_store(&pt->last_flush_ms, recs[0].timestamp);
		}
	}
	return log_set_hw(pt->log, info.last_offset + 1);
}

/* All of [lines, end) into one partition. */
static int produce_one(struct topic *t, struct partition *pt, const struct splitter *sp,
		       struct recbuf *rb, struct lsrc *src)
{
	bool appended = false;
	int n, rc = 0;

	pthread_mutex_lock(&pt->produce_mu);
	while (lsrc_more(src)) {
		n = chunk_build(sp, rb, false, src);
		if (n < 0) {
			rc = n;
			break;
		}
		if (!appended && lsrc_more(src)) {
			rc = lines_check(sp, src);          /* invariant 1 */
			if (rc < 0)
				break;
		}
		rc = chunk_append(t, pt, rb->recs, n);
		if (rc < 0)
			break;
		appended = true;
	}
	pthread_mutex_unlock(&pt->produce_mu);
	return rc;
}

/* .produce: records spread over the partitions by the partitioner. */
static int produce_spread(struct topic *t, const struct splitter *sp, struct recbuf *rb,
			  struct lsrc *src)
{
	const int np = t->nparts;
	int *start = NULL, n, rc = 0;
	bool checked = false;

	if (np == 1)
		return produce_one(t, t->parts[0], sp, rb, src);
	if (rb->cap > 0 && !rb->sorted) {
		/* a pooled array used so far for single partitions only */
		rb->sorted = malloc((size_t)rb->cap * sizeof(*rb->sorted));
		rb->part = malloc((size_t)rb->cap * sizeof(*rb->part));
		if (!rb->sorted || !rb->part) {
			free(rb->sorted);
			free(rb->part);
			rb->sorted = NULL;
			rb->part = NULL;
			return -ENOMEM;
		}
	}
	start = malloc((size_t)(np + 1) * sizeof(*start));
	if (!start)
		return -ENOMEM;
	while (lsrc_more(src)) {
		uint32_t keyless = 0, rr;

		n = chunk_build(sp, rb, true, src);
		if (n < 0) {
			rc = n;
			break;
		}
		if (!checked && lsrc_more(src)) {
			rc = lines_check(sp, src);
			if (rc < 0)
				break;
		}
		checked = true;
		for (int i = 0; i < n; i++)
			keyless += !rb->recs[i].key;
		rr = keyless ? atomic_fetch_add(&t->rr_next, keyless) : 0;
		/* counting sort by partition, stable: order kept in each */
		memset(start, 0, (size_t)(np + 1) * sizeof(*start));
		for (int i = 0; i < n; i++) {
			const struct rec_in *r = &rb->recs[i];
			uint32_t h = r->key ? broker_murmur2(r->key, (size_t)r->key_len) & 0x7fffffff
					    : rr++;

			rb->part[i] = (int32_t)(h % (uint32_t)np);
			start[rb->part[i] + 1]++;
		}
		for (int q = 0; q < np; q++)
			start[q + 1] += start[q];
		for (int i = 0; i < n; i++)
			rb->sorted[start[rb->part[i]]++] = rb->recs[i];
		/* start[q] is now the end of group q */
		for (int q = 0, from = 0; q < np && rc == 0; from = start[q], q++) {
			struct partition *pt = t->parts[q];

			if (start[q] == from)
				continue;
			pthread_mutex_lock(&pt->produce_mu);
			rc = chunk_append(t, pt, rb->sorted + from, start[q] - from);
			pthread_mutex_unlock(&pt->produce_mu);
		}
		if (rc < 0)
			break;
	}
	free(start);
	return rc;
}

int topic_produce(struct topic *t, int partition, const char *lines, size_t len, int flags)
{
	return topic_produce2(t, partition, NULL, 0, lines, len, flags);
}

int topic_produce2(struct topic *t, int partition, const char *head, size_t head_len,
		   const char *lines, size_t len, int flags)
{
	struct lsrc src = { lines, lines + len, NULL, NULL };
	struct splitter sp;
	struct recbuf *rb = NULL;
	int rc;

	/* PRODUCE_NONBLOCK: nothing here waits for memory on one node (no
	 * send buffer); the only wait is for another writer's append. */
	pthread_rwlock_rdlock(&t->lock);
	if (atomic_load(&t->deleted) || partition < -1 || partition >= t->nparts) {
		rc = -ENOENT;
		goto out;
	}
	if (head_len > 0) {
		if (head[head_len - 1] != '\n') {
			rc = -EINVAL;
			goto out;
		}
		src = (struct lsrc){ head, head + head_len, len ? lines : NULL, lines + len };
	}
	if (head_len + len == 0) {
		rc = 0;
		goto out;
	}
	if (len > 0 && !(flags & PRODUCE_FINAL) && lines[len - 1] != '\n') {
		rc = -EINVAL;
		goto out;
	}
	sp.sep = t->cfg.log.key_sep;
	sp.sep_len = t->cfg.log.key_sep_len;
	sp.max = log_max_record_payload(&t->cfg.log);
	sp.now = engine_now_ms();
	rb = recbuf_get(t->b);
	if (!rb) {
		rc = -ENOMEM;
		goto out;
	}
	if (partition < 0)
		rc = produce_spread(t, &sp, rb, &src);
	else
		rc = produce_one(t, t->parts[partition], &sp, rb, &src);
out:
	if (rb)
		recbuf_put(t->b, rb);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}
