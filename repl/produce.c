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
 * A write into one partition of PRODUCE_LINES_MIN bytes or more (up to one
 * chunk; a line joined from a partial one may lead it) is not split here:
 * it is queued as lines and appended alone by log_append_lines, which
 * parses it while encoding, in parts shared with the engine's helper
 * threads.
 *
 * Invariants:
 *   1. A record over max.message.bytes (its batch of one, as the engine
 *      counts it) fails the whole write with -EMSGSIZE before anything is
 *      appended: a write bigger than one chunk is checked to its end
 *      before the first append.
 *   2. The records of one write to a partition are contiguous in its log:
 *      a request of several chunks is appended alone by the appender.
 *   3. The high watermark moves only after the append (and, when
 *      flush.messages asks for it, the fsync) that it covers. An append
 *      whose fsync fails is taken back (log_rollback) before the write
 *      fails: a retry must not find its records committed.
 *   4. A queue is non-empty only while its appender is inside a
 *      topic_produce call (holding t->lock for reading): the appender
 *      leaves only when nothing is queued or another synchronous writer
 *      has the role, so nothing queued is ever stranded, and a delete
 *      (t->lock for writing) finds every queue empty.
 *   5. buffer.memory counts a write's bytes from before it is parsed until
 *      its records are appended (or refused).
 *
 * Group commit, per partition (a leader/follower queue, like LevelDB's
 * writer queue):
 *
 *      writer ──queue req──> [ r1 r2 r3 ... ]   produce_mu held briefly
 *        │ no appender?  ──> becomes the appender
 *        │ else          ──> waits on produce_cv until done, or until made
 *        │                   the appender by the previous one
 *      appender: (linger.ms: waits until batch.size bytes are queued or
 *        the time is up) takes requests off the head (up to one chunk),
 *        appends them in ONE log_append (so the engine cuts batch.size
 *        batches across writers), moves the hw, marks each done, wakes
 *        them; once its own request is done it hands the role to the
 *        first synchronous writer still queued, or leaves if none.
 *
 * acks: 1 and all wait for the same point, the hw move after the append
 * (partition_commit: with all, hw = min LEO over the ISR, which on one
 * node is the LEO; a cluster waits for the followers there). acks=0 with
 * a tracker (an open file): when an append to the partition is already in
 * progress, the write's records are copied and queued and write() returns
 * at once; the appender takes them along. Alone, it appends itself (there
 * is no network to skip on one node, and nothing else would do it). Its
 * errors are kept in the tracker and returned by the file's next fsync()
 * or close(), which wait for it: acks=0 never weakens what fsync promises.
 *
 * Note: the kernel serializes write()s to one FUSE file (one inode), so
 * writers share batches when they write the same partition through
 * different files (its partition file and .produce) or through the
 * partitioner.
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
#include <time.h>

#include "repl/broker_int.h"
#include "util/clock.h"

#define PRODUCE_CHUNK_RECS  32768
#define PRODUCE_CHUNK_BYTES (4 << 20)
#define PRODUCE_LINES_MIN   (128 << 10)  /* a write this big goes as lines */
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
	struct line_rules lr;   /* key.separator, the size limit */
	int64_t now;            /* every record of a write gets this timestamp */
};

/* line_to_rec (engine.h) stamped with the write's time. */
static inline const char *line_parse(const struct splitter *sp, const char *p, const char *end,
				     struct rec_in *r)
{
	r->timestamp = sp->now;
	return line_to_rec(&sp->lr, p, end, r);
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
		if ((int64_t)l > sp->lr.max) {
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
/* Appending: the group-commit queue */

const double produce_lat_bounds[PRODUCE_LAT_BUCKETS] = {
	0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
	0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 1.0,
};

/* One write's records for one partition, queued (see the file header).
 * On the writer's stack unless async. */
struct produce_req {
	struct produce_req *next;
	const struct rec_in *recs;      /* the first (or only) chunk */
	int n;
	int64_t payload;                /* key + value bytes of recs */
	/* more: the write has further chunks, parsed by the appender from the
	 * writer's splitter, record array and line source (the writer waits,
	 * so they stay valid); such a request is appended alone. */
	bool more;
	const struct splitter *sp;
	struct recbuf *rb;
	struct lsrc *src;
	/* lines: a big write of one run of lines, not parsed by the writer:
	 * the engine parses it while encoding (log_append_lines); appended
	 * alone, like more. */
	const char *head, *lines;
	size_t head_len, lines_len;
	/* async (acks=0, queued): owned by the queue; the appender frees it,
	 * gives its buffer.memory back and reports to tr. */
	bool async;
	int64_t bytes;
	struct produce_tracker *tr;
	/* under produce_mu: */
	bool done, lead;
	int rc;
};

void produce_broker_init(struct broker *b)
{
	atomic_init(&b->buf_used, 0);
	atomic_init(&b->buf_waiters, 0);
	pthread_mutex_init(&b->buf_mu, NULL);
	pthread_cond_init(&b->buf_cv, NULL);
}

void produce_broker_destroy(struct broker *b)
{
	pthread_cond_destroy(&b->buf_cv);
	pthread_mutex_destroy(&b->buf_mu);
}

void produce_partition_init(struct partition *pt)
{
	pthread_cond_init(&pt->produce_cv, NULL);
}

void produce_partition_destroy(struct partition *pt)
{
	pthread_cond_destroy(&pt->produce_cv);
	free(pt->grp);
	pt->grp = NULL;
}

/* ---- buffer.memory ----
 * A lock-free fast path; waiters sleep on buf_cv. The waiter counts itself
 * in buf_waiters before it looks at buf_used, the giver changes buf_used
 * before it looks at buf_waiters (both seq_cst), so a wake-up is never
 * lost. A write larger than the whole buffer goes through when nothing
 * else holds any (it could never fit otherwise). */
static bool buffer_fits(int64_t used, int64_t n, int64_t limit)
{
	return used == 0 || used + n <= limit;
}

static int buffer_take(struct broker *b, int64_t n, bool nonblock)
{
	const int64_t limit = b->cfg.buffer_memory;
	int64_t used = atomic_fetch_add(&b->buf_used, n);

	if (buffer_fits(used, n, limit))
		return 0;
	atomic_fetch_sub(&b->buf_used, n);
	if (atomic_load(&b->buf_waiters) > 0)
		pthread_cond_broadcast(&b->buf_cv);   /* we may have hidden a give */
	atomic_fetch_add_explicit(&b->pm.buffer_full, 1, memory_order_relaxed);
	if (nonblock)
		return -EAGAIN;
	pthread_mutex_lock(&b->buf_mu);
	atomic_fetch_add(&b->buf_waiters, 1);
	for (;;) {
		used = atomic_load(&b->buf_used);
		if (buffer_fits(used, n, limit)) {
			if (atomic_compare_exchange_weak(&b->buf_used, &used, used + n))
				break;
			continue;
		}
		pthread_cond_wait(&b->buf_cv, &b->buf_mu);
	}
	atomic_fetch_sub(&b->buf_waiters, 1);
	pthread_mutex_unlock(&b->buf_mu);
	return 0;
}

static void buffer_give(struct broker *b, int64_t n)
{
	if (n <= 0)
		return;
	atomic_fetch_sub(&b->buf_used, n);
	if (atomic_load(&b->buf_waiters) > 0) {
		pthread_mutex_lock(&b->buf_mu);
		pthread_cond_broadcast(&b->buf_cv);
		pthread_mutex_unlock(&b->buf_mu);
	}
}

/* ---- trackers (acks=0) ---- */

void produce_tracker_init(struct produce_tracker *tr)
{
	pthread_mutex_init(&tr->mu, NULL);
	pthread_cond_init(&tr->cv, NULL);
	tr->pending = 0;
	tr->error = 0;
}

int produce_tracker_wait(struct produce_tracker *tr)
{
	int rc;

	pthread_mutex_lock(&tr->mu);
	while (tr->pending > 0)
		pthread_cond_wait(&tr->cv, &tr->mu);
	rc = tr->error;
	tr->error = 0;
	pthread_mutex_unlock(&tr->mu);
	return rc;
}

void produce_tracker_destroy(struct produce_tracker *tr)
{
	(void)produce_tracker_wait(tr);
	pthread_cond_destroy(&tr->cv);
	pthread_mutex_destroy(&tr->mu);
}

static void tracker_done(struct produce_tracker *tr, int rc)
{
	pthread_mutex_lock(&tr->mu);
	if (rc < 0 && tr->error == 0)
		tr->error = rc;
	if (--tr->pending == 0)
		pthread_cond_broadcast(&tr->cv);
	pthread_mutex_unlock(&tr->mu);
}

/* ---- the append ---- */

static int64_t recs_payload(const struct rec_in *recs, int n)
{
	int64_t s = 0;

	for (int i = 0; i < n; i++)
		s += (recs[i].key_len > 0 ? recs[i].key_len : 0) +
		     (recs[i].value_len > 0 ? recs[i].value_len : 0);
	return s;
}

static void latency_observe(struct broker *b, int64_t ns)
{
	double s = (double)ns / 1e9;
	int i = 0;

	while (i < PRODUCE_LAT_BUCKETS && s > produce_lat_bounds[i])
		i++;
	atomic_fetch_add_explicit(&b->pm.lat_count[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&b->pm.lat_sum_ns, ns, memory_order_relaxed);
}

/* Commits what was just appended: the high watermark. acks=1 and acks=all
 * both wait for this point; with acks=all the hw is min LEO over the ISR,
 * which on one node is this broker's LEO, so it moves at once (a cluster
 * waits here for the followers' fetches, -ETIMEDOUT when they do not come
 * in time). */
static int partition_commit(struct partition *pt, int64_t last_offset)
{
	return log_set_hw(pt->log, last_offset + 1);
}

/* What follows an append into one partition (metrics, flush.messages,
 * the hw); rc is the append's result. */
static int appended(struct topic *t, struct partition *pt, int rc,
		    const struct log_append_info *info, int64_t ts, int64_t t0)
{
	struct log_state st;

	if (rc < 0) {
		if (rc != -EMSGSIZE)
			mq_log_limited(MQ_ERR, "topic %s partition %d: append: %s", t->name,
				       pt->index, strerror(-rc));
		log_get_state(pt->log, &st);
		if (st.fence >= 0)
			mq_log_limited(MQ_ERR, "topic %s partition %d: the failed append could not "
				       "be cut back: records from offset %lld are held back (never "
				       "committed) and appends fail until the cut succeeds", t->name,
				       pt->index, (long long)st.fence);
		return rc;
	}
	atomic_fetch_add_explicit(&pt->records_in, info->last_offset - info->first_offset + 1,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->bytes_in, info->bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->batches_in, info->batches, memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->payload_in, info->payload, memory_order_relaxed);
	atomic_store_explicit(&pt->last_append_ms, ts, memory_order_relaxed);
	if (t->cfg.log.flush_messages != INT64_MAX) {
		log_get_state(pt->log, &st);
		if (st.log_end_offset - st.recovery_point >= t->cfg.log.flush_messages) {
			rc = log_flush(pt->log, -1);
			if (rc < 0) {
				/* The write fails, so its records must never be
				 * committed (a retry would repeat them): taken back. */
				int rc2 = log_rollback(pt->log, info->first_offset);

				mq_log_limited(MQ_ERR, "topic %s partition %d: flush: %s; offsets "
					       "%lld-%lld taken back%s", t->name, pt->index,
					       strerror(-rc), (long long)info->first_offset,
					       (long long)info->last_offset,
					       rc2 < 0 ? " (held back: the cut failed too)" : "");
				return rc;
			}
			atomic_store(&pt->last_flush_ms, ts);
		}
	}
	rc = partition_commit(pt, info->last_offset);
	latency_observe(t->b, now_mono_ns() - t0);
	return rc;
}

/* One chunk into one partition; called by the partition's appender only
 * (with t->lock read, without produce_mu). */
static int chunk_append(struct topic *t, struct partition *pt, const struct rec_in *recs,
			int n)
{
	struct log_append_info info;
	int64_t t0 = now_mono_ns();
	int rc = log_append(pt->log, recs, n, BROKER_LEADER_EPOCH, &info);

	return appended(t, pt, rc, &info, recs[0].timestamp, t0);
}

/* A lines request into one partition (the appender, as chunk_append). */
static int lines_append(struct topic *t, struct partition *pt, const struct produce_req *r)
{
	struct log_append_info info;
	int64_t t0 = now_mono_ns();
	int rc = log_append_lines(pt->log, r->head, r->head_len, r->lines, r->lines_len,
				  r->sp->now, BROKER_LEADER_EPOCH, &info);

	return appended(t, pt, rc, &info, r->sp->now, t0);
}

/* Appends a group g (linked, n records in all) taken off the queue. */
static int group_append(struct topic *t, struct partition *pt, struct produce_req *g, int n)
{
	struct produce_req *r;
	int k = 0, rc;

	if (g->lines)
		return lines_append(t, pt, g);
	if (!g->next && !g->more)
		return chunk_append(t, pt, g->recs, g->n);
	if (g->more) {
		/* Alone in its group: chunk after chunk, nobody in between. */
		rc = chunk_append(t, pt, g->recs, g->n);
		while (rc == 0 && lsrc_more(g->src)) {
			n = chunk_build(g->sp, g->rb, false, g->src);
			if (n < 0)
				return n;
			rc = chunk_append(t, pt, g->rb->recs, n);
		}
		return rc;
	}
	if (pt->grp_cap < n) {
		struct rec_in *p = realloc(pt->grp, (size_t)n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		pt->grp = p;
		pt->grp_cap = n;
	}
	for (r = g; r; r = r->next) {
		memcpy(pt->grp + k, r->recs, (size_t)r->n * sizeof(*r->recs));
		k += r->n;
	}
	return chunk_append(t, pt, pt->grp, n);
}

static void linger_wait(struct topic *t, struct partition *pt)
{
	struct timespec dl;

	deadline_from_ms(CLOCK_REALTIME, t->cfg.linger_ms, &dl);
	pt->lingering = true;
	while (pt->q_bytes < t->cfg.log.batch_bytes && !pt->q_head->more && !pt->q_head->lines)
		if (pthread_cond_timedwait(&pt->produce_cv, &pt->produce_mu, &dl) == ETIMEDOUT)
			break;
	pt->lingering = false;
}

/* The appender's loop. Called with produce_mu held and pt->appending set
 * for us; returns with produce_mu held once me is done and the role is
 * handed on (or nobody is left). */
static void partition_lead(struct topic *t, struct partition *pt, struct produce_req *me)
{
	for (;;) {
		struct produce_req *g, *last, *r, *nx;
		int64_t payload;
		int n, rc;

		if (t->cfg.linger_ms > 0 && pt->q_bytes < t->cfg.log.batch_bytes)
			linger_wait(t, pt);
		/* Take a group off the head: as many requests as one append may
		 * hold; a request of several chunks, or of lines, goes alone. */
		g = last = pt->q_head;
		n = g->n;
		payload = g->payload;
		if (!g->more && !g->lines) {
			while (last->next && !last->next->more && !last->next->lines &&
			       n + last->next->n <= PRODUCE_CHUNK_RECS &&
			       payload + last->next->payload <= PRODUCE_CHUNK_BYTES) {
				last = last->next;
				n += last->n;
				payload += last->payload;
			}
		}
		pt->q_head = last->next;
		if (!pt->q_head)
			pt->q_tail = NULL;
		last->next = NULL;
		pt->q_bytes -= payload;
		pthread_mutex_unlock(&pt->produce_mu);

		rc = group_append(t, pt, g, n);

		pthread_mutex_lock(&pt->produce_mu);
		for (r = g; r; r = nx) {
			nx = r->next;
			r->rc = rc;
			r->done = true;
			if (r->async) {
				tracker_done(r->tr, rc);
				buffer_give(t->b, r->bytes);
				free(r);
			}
		}
		pthread_cond_broadcast(&pt->produce_cv);
		if (!me->done)
			continue;
		/* Hand the role to the first synchronous writer queued. */
		for (r = pt->q_head; r && r->async; r = r->next)
			;
		if (r) {
			r->lead = true;
			pthread_cond_broadcast(&pt->produce_cv);
			return;
		}
		if (!pt->q_head) {
			pt->appending = false;
			return;
		}
		/* Only acks=0 writes are left, whose writers are gone: go on. */
	}
}

/* Queues r and returns its result once appended: 0 or -errno; 1 when r is
 * async and was queued behind a running appender (the queue owns it now).
 * An async r that finds no appender is appended here, synchronously, and
 * stays the caller's. */
static int partition_submit(struct topic *t, struct partition *pt, struct produce_req *r)
{
	int rc;

	pthread_mutex_lock(&pt->produce_mu);
	if (r->async && !pt->appending)
		r->async = false;
	if (r->async) {
		pthread_mutex_lock(&r->tr->mu);
		r->tr->pending++;
		pthread_mutex_unlock(&r->tr->mu);
	}
	r->next = NULL;
	if (pt->q_tail)
		pt->q_tail->next = r;
	else
		pt->q_head = r;
	pt->q_tail = r;
	pt->q_bytes += r->payload;
	if (!pt->appending) {
		pt->appending = true;
		r->lead = true;
	} else {
		if (pt->lingering)
			pthread_cond_broadcast(&pt->produce_cv);
		if (r->async) {
			atomic_fetch_add_explicit(&t->b->pm.acks0_queued, 1, memory_order_relaxed);
			pthread_mutex_unlock(&pt->produce_mu);
			return 1;
		}
		while (!r->done && !r->lead)
			pthread_cond_wait(&pt->produce_cv, &pt->produce_mu);
	}
	if (!r->done)
		partition_lead(t, pt, r);
	rc = r->rc;
	pthread_mutex_unlock(&pt->produce_mu);
	return rc;
}

/* An acks=0 request owning a copy of its records' bytes. */
static struct produce_req *req_copy(const struct produce_req *r)
{
	size_t sz = sizeof(*r) + (size_t)r->n * sizeof(struct rec_in) + (size_t)r->payload;
	struct produce_req *a = malloc(sz);
	struct rec_in *recs;
	char *d;

	if (!a)
		return NULL;
	*a = *r;
	recs = (struct rec_in *)(a + 1);
	d = (char *)(recs + r->n);
	for (int i = 0; i < r->n; i++) {
		recs[i] = r->recs[i];
		if (recs[i].key_len > 0) {
			memcpy(d, recs[i].key, (size_t)recs[i].key_len);
			recs[i].key = d;
			d += recs[i].key_len;
		}
		if (recs[i].value_len > 0) {
			memcpy(d, recs[i].value, (size_t)recs[i].value_len);
			recs[i].value = d;
			d += recs[i].value_len;
		}
	}
	a->recs = recs;
	return a;
}

static bool partition_busy(struct partition *pt)
{
	bool busy;

	pthread_mutex_lock(&pt->produce_mu);
	busy = pt->appending;
	pthread_mutex_unlock(&pt->produce_mu);
	return busy;
}

/* All of the write into one partition. *held: the write's buffer.memory,
 * set to 0 when an async request took it over. */
static int produce_one(struct topic *t, struct partition *pt, const struct splitter *sp,
		       struct recbuf *rb, struct lsrc *src, struct produce_tracker *tr,
		       int64_t *held)
{
	struct produce_req r = { 0 };
	size_t len = (size_t)(src->end - src->p) + (src->p2 ? (size_t)(src->end2 - src->p2) : 0);
	int n, rc;

	/* A big write of one run of lines is not parsed here: the engine
	 * parses it while encoding, shared out with its helper threads
	 * (log_append_lines). An acks=0 write that would be queued keeps the
	 * copying path below. */
	if (len >= PRODUCE_LINES_MIN && len <= PRODUCE_CHUNK_BYTES &&
	    !(tr && t->cfg.acks == 0 && partition_busy(pt))) {
		if (src->p2) {          /* the line joined from a partial one */
			r.head = src->p;
			r.head_len = (size_t)(src->end - src->p);
			src->p = src->p2;
			src->end = src->end2;
		}
		r.lines = src->p;
		r.lines_len = (size_t)(src->end - src->p);
		r.payload = (int64_t)len;
		r.sp = sp;
		return partition_submit(t, pt, &r);
	}
	n = chunk_build(sp, rb, false, src);
	if (n <= 0)
		return n;
	r.more = lsrc_more(src);
	if (r.more) {
		rc = lines_check(sp, src);          /* invariant 1 */
		if (rc < 0)
			return rc;
	}
	r.recs = rb->recs;
	r.n = n;
	r.payload = recs_payload(rb->recs, n);
	r.sp = sp;
	r.rb = rb;
	r.src = src;
	if (tr && !r.more && t->cfg.acks == 0 && partition_busy(pt)) {
		struct produce_req *a = req_copy(&r);

		if (a) {
			a->async = true;
			a->tr = tr;
			a->bytes = *held;
			rc = partition_submit(t, pt, a);
			if (rc == 1) {
				*held = 0;
				return 0;
			}
			free(a);
			return rc;
		}
		/* no memory for a copy: append synchronously */
	}
	return partition_submit(t, pt, &r);
}

/* .produce: records spread over the partitions by the partitioner. */
static int produce_spread(struct topic *t, const struct splitter *sp, struct recbuf *rb,
			  struct lsrc *src, struct produce_tracker *tr, int64_t *held)
{
	const int np = t->nparts;
	int *start = NULL, n, rc = 0;
	bool checked = false;

	if (np == 1)
		return produce_one(t, t->parts[0], sp, rb, src, tr, held);
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
		/* start[q] is now the end of group q; each group is one
		 * synchronous request to its partition's queue */
		for (int q = 0, from = 0; q < np && rc == 0; from = start[q], q++) {
			struct produce_req r = { 0 };

			if (start[q] == from)
				continue;
			r.recs = rb->sorted + from;
			r.n = start[q] - from;
			r.payload = recs_payload(r.recs, r.n);
			rc = partition_submit(t, t->parts[q], &r);
		}
		if (rc < 0)
			break;
	}
	free(start);
	return rc;
}

/* Compacted topics (cleanup.policy has compact) take keyed records only,
 * as Kafka does: a line without the key separator (or any line when the
 * topic has none) refuses the whole write with -EINVAL, before anything
 * is appended. (Issue 4: retention and compaction.) */
static int compact_keys_check_run(const struct topic *t, const char *p, const char *end)
{
	const struct log_config *lc = &t->cfg.log;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (lc->key_sep_len == 0 || !memmem(p, l, lc->key_sep, (size_t)lc->key_sep_len)) {
			mq_log_limited(MQ_WARN, "topic %s: write refused: a record without a key "
				       "in a compacted topic (cleanup.policy=compact needs "
				       "key.separator and key<sep>value lines)", t->name);
			return -EINVAL;
		}
		p += l + 1;
	}
	return 0;
}

static int compact_keys_check(const struct topic *t, const struct lsrc *s)
{
	if (!(t->cfg.log.cleanup_policy & LOG_CLEANUP_COMPACT))
		return 0;
	int rc = compact_keys_check_run(t, s->p, s->end);
	return rc == 0 && s->p2 ? compact_keys_check_run(t, s->p2, s->end2) : rc;
}

int topic_produce(struct topic *t, int partition, const char *lines, size_t len, int flags)
{
	return topic_produce_tracked(t, partition, NULL, 0, lines, len, flags, NULL);
}

int topic_produce2(struct topic *t, int partition, const char *head, size_t head_len,
		   const char *lines, size_t len, int flags)
{
	return topic_produce_tracked(t, partition, head, head_len, lines, len, flags, NULL);
}

int topic_produce_tracked(struct topic *t, int partition, const char *head, size_t head_len,
			  const char *lines, size_t len, int flags, struct produce_tracker *tr)
{
	struct lsrc src = { lines, lines + len, NULL, NULL };
	struct splitter sp;
	struct recbuf *rb = NULL;
	int64_t held = 0;
	int rc;

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
	rc = compact_keys_check(t, &src);
	if (rc < 0)
		goto out;
	/* buffer.memory: the bytes of this write until they are appended. */
	rc = buffer_take(t->b, (int64_t)(head_len + len), flags & PRODUCE_NONBLOCK);
	if (rc < 0) {
		mq_log(MQ_DEBUG, "topic %s: write of %zu bytes: buffer.memory full", t->name,
		       head_len + len);
		goto out;
	}
	held = (int64_t)(head_len + len);
	sp.lr.sep = t->cfg.log.key_sep;
	sp.lr.sep_len = t->cfg.log.key_sep_len;
	sp.lr.max = log_max_record_payload(&t->cfg.log);
	sp.now = engine_now_ms();
	rb = recbuf_get(t->b);
	if (!rb) {
		rc = -ENOMEM;
		goto out;
	}
	if (partition < 0)
		rc = produce_spread(t, &sp, rb, &src, tr, &held);
	else
		rc = produce_one(t, t->parts[partition], &sp, rb, &src, tr, &held);
out:
	buffer_give(t->b, held);
	if (rb)
		recbuf_put(t->b, rb);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}
