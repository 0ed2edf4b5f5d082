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
 *   1. A record over max.message.bytes, or segment.bytes when lower (its
 *      batch of one, as the engine counts it: log_batch_limit) fails the
 *      whole write with -EMSGSIZE before anything is appended: a write
 *      bigger than one chunk is checked to its end before the first
 *      append.
 *   2. The records of one write to a partition are contiguous in its log:
 *      a request of several chunks is appended alone by the appender.
 *   3. The high watermark moves only after the append (and, when
 *      flush.messages asks for it, the fsync) that it covers. An append
 *      whose fsync fails is taken back (log_rollback) before the write
 *      fails: a retry must not find its records committed.
 *   4. A queue is non-empty only while its appender is inside a produce
 *      call: the appender leaves only when nothing is queued or another
 *      synchronous writer has the role, so nothing queued is ever
 *      stranded. The appender holds its caller's topic reference and a
 *      reference to the log, never the topic's lock: a delete meanwhile
 *      fails what is still queued with -ENOENT (or the log's drop does),
 *      and the partition struct outlives the queue.
 *   5. buffer.memory counts a write's bytes from before it is parsed until
 *      its records are appended (or refused).
 *
 * A produce call takes what it needs from the topic under t->lock (read)
 * and lets go of the lock before it appends (struct produce_ctx): a copy
 * of the settings and, per partition, a reference to the log. No
 * topic-wide lock is held across an append, a linger.ms wait, a
 * flush.messages fsync or the wait for the commit, so .config writes,
 * chmod, rmdir and stat of the topic never wait for them.
 *
 * Group commit, per partition (a leader/follower queue, like LevelDB's
 * writer queue):
 *
 *      writer ──queue req──> [ r1 r2 r3 ... ]   produce_mu held briefly
 *        │ no appender?  ──> becomes the appender
 *        │ else          ──> waits until done, or until made the
 *        │                   appender by the previous one (polls
 *        │                   briefly, then sleeps on produce_cv:
 *        │                   queued_spin)
 *      appender: (linger.ms: waits until batch.size bytes are queued, the
 *        time is up or the topic is deleted) takes a commit group off the
 *        head (requests of several writers, up to one chunk), appends it
 *        in ONE log_append (so the engine cuts batch.size batches across
 *        writers), moves the hw (leader_hw_update), marks each request
 *        done with the group's last offset, wakes them; once its own
 *        request is done it hands the role to the first synchronous
 *        writer still queued, or leaves if none.
 *
 * Appended, then committed: the steps above are the append; each writer
 * with acks=all then waits on its own, holding no lock, until the hw
 * covers its last offset (produce_commit_wait), or -ETIMEDOUT after
 * request.timeout.ms (appended, not confirmed committed). acks=1 returns
 * once appended. On one node hw = min LEO over the ISR = this broker's
 * LEO, moved by the appender right after the append, so the wait ends at
 * its first look and acks=1 and all are the same point; a cluster moves
 * the hw when followers fetch and wakes the waiters (produce_hw_moved).
 * acks=0 with a tracker (an open file): when an append to the partition
 * is already in progress, the write's records are copied and queued and
 * write() returns at once; the appender takes them along. Alone, it
 * appends itself (there is no network to skip on one node, and nothing
 * else would do it). Its errors are kept in the tracker and returned by
 * the file's next fsync() or close(), which wait for it: acks=0 never
 * weakens what fsync promises.
 *
 * Led elsewhere (a cluster: append_epoch says -EREMOTE): the appender
 * forwards the commit group's records to the partition's leader instead
 * (forward_records, with the topic's acks), so forwarded writers share
 * batches as local ones do; such a request is done when the leader
 * acknowledged it, with no commit of its own to wait for (last_offset
 * -1).
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
#include <unistd.h>

#include "repl/broker_int.h"
#include "repl/forward.h"
#include "util/clock.h"
#include "util/pause.h"

#define PRODUCE_CHUNK_RECS  32768
#define PRODUCE_CHUNK_BYTES (4 << 20)
#define PRODUCE_LINES_MIN   (128 << 10) /* a write this big goes as lines */
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
	case 1: h ^= d[0]; h *= m;
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
	struct line_rules lr;    /* key.separator, line.format, the size limit */
	struct line_scratch scr; /* escaped lines, unescaped */
	int64_t now;             /* every record of a write gets this timestamp */
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

		/* A line no longer than the limit fits whatever it holds; a
		 * longer one is checked as it is (unescaped it is never longer). */
		if ((int64_t)l > sp->lr.max) {
			struct line_rules lr = sp->lr;
			struct rec_in r;

			lr.scratch = NULL;
			if (!line_to_rec(&lr, p, end, &r))
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
static int chunk_build(const struct splitter *sp, struct recbuf *rb, bool spread, struct lsrc *src)
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
	0.0025,  0.005,    0.01,    0.025,  0.05,    0.1,    1.0,
};

/* One write's records for one partition, queued (see the file header).
 * On the writer's stack unless async. */
struct produce_req {
	struct produce_req *next;
	const struct rec_in *recs; /* the first (or only) chunk */
	int n;
	int64_t payload; /* key + value bytes of recs */
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
	/* written under produce_mu; read without it by its writer while it
	 * spins (queued_spin): */
	atomic_bool done, lead;
	int rc;
	int64_t last_offset; /* of its commit group, once done */
	int32_t last_epoch;  /* the leader epoch it was appended in */
	/* The first offset of its commit group's first append, and that
	 * append's leader epoch (-1: nothing appended here); forwarded: some
	 * of its records went to another leader. */
	int64_t first_offset;
	int32_t first_epoch;
	bool forwarded;
};

void produce_broker_init(struct broker *b)
{
	pthread_condattr_t ca;

	atomic_init(&b->buf_used, 0);
	atomic_init(&b->buf_unfinished, 0);
	atomic_init(&b->buf_waiters, 0);
	pthread_mutex_init(&b->buf_mu, NULL);
	pthread_cond_init(&b->buf_cv, NULL);
	/* The purgatory's deadlines are on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&b->pp_mu, NULL);
	pthread_cond_init(&b->pp_cv, &ca);
	pthread_condattr_destroy(&ca);
}

void produce_broker_destroy(struct broker *b)
{
	/* Stopped with the listener (cluster_stop); here for a broker
	 * whose cluster never started. */
	produce_purgatory_stop(b);
	pthread_cond_destroy(&b->pp_cv);
	pthread_mutex_destroy(&b->pp_mu);
	pthread_cond_destroy(&b->buf_cv);
	pthread_mutex_destroy(&b->buf_mu);
}

void produce_partition_init(struct partition *pt)
{
	pthread_condattr_t ca;

	/* Both wait with deadlines on the monotonic clock (linger.ms, the
	 * commit's timeout): a step of the wall clock moves neither. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pt->produce_cv, &ca);
	pthread_mutex_init(&pt->commit_mu, NULL);
	pthread_cond_init(&pt->commit_cv, &ca);
	pthread_condattr_destroy(&ca);
	atomic_init(&pt->commit_waiters, 0);
	atomic_init(&pt->commit_parked, 0);
	producer_state_init(&pt->pstate);
	pt->fwd_pid = -1;
}

void produce_partition_destroy(struct partition *pt)
{
	pthread_cond_destroy(&pt->produce_cv);
	pthread_cond_destroy(&pt->commit_cv);
	pthread_mutex_destroy(&pt->commit_mu);
	producer_state_destroy(&pt->pstate);
	free(pt->join_recs);
	pt->join_recs = NULL;
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
		pthread_cond_broadcast(&b->buf_cv); /* we may have hidden a give */
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

int topic_unfinished_take(struct topic *t, int64_t n)
{
	struct broker *b = t->b;
	int64_t held = atomic_fetch_add(&b->buf_unfinished, n);

	if (buffer_fits(held + atomic_load(&b->buf_used), n, b->cfg.buffer_memory))
		return 0;
	atomic_fetch_sub(&b->buf_unfinished, n);
	atomic_fetch_add_explicit(&b->pm.buffer_full, 1, memory_order_relaxed);
	return -ENOBUFS;
}

void topic_unfinished_give(struct topic *t, int64_t n)
{
	if (n > 0)
		atomic_fetch_sub(&t->b->buf_unfinished, n);
}

/* ---- trackers (acks=0) ---- */

void produce_tracker_init(struct produce_tracker *tr)
{
	pthread_mutex_init(&tr->mu, NULL);
	pthread_cond_init(&tr->cv, NULL);
	tr->pending = 0;
	tr->error = 0;
	tr->end = -1;
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

/* ---- what a produce call takes from its topic ----
 * Everything the append needs is taken under t->lock (read) and used
 * without it: a copy of the settings and, per partition written, the
 * partition (which lives as long as the topic, and the caller holds a
 * reference to the topic) and a counted reference to its log. So a
 * .config write, chmod, rmdir or stat of the topic, which take the lock
 * (for writing, or behind a writer that does), never waits for an append,
 * a linger.ms wait, a flush.messages fsync or a wait for the commit. A
 * .config write that lands meanwhile applies from the next write on. A
 * delete meanwhile: the log's drop makes the append fail with -ENOENT
 * (or the append lands first and goes with the log), and a linger wait
 * ends at once (produce_partition_wake). */
struct produce_ctx {
	struct topic *t;
	/* The settings a write uses, as when the call began: these only,
	 * not the whole struct topic_config, whose throttled-replicas lists
	 * (4 KiB) every write would copy for nothing. */
	struct {
		int acks;
		int64_t linger_ms;
		int32_t min_insync_replicas;
		struct log_config log;
	} cfg;
	int nparts; /* partitions then (they only grow) */
};

struct produce_part {
	struct partition *pt;
	struct log *log;     /* referenced; NULL: not taken yet */
	int64_t last_offset; /* last offset appended by this call; -1: none */
	int32_t last_epoch;  /* the leader epoch of that append */
	/* The first offset of the commit group of this call's first append
	 * (at or below the call's first record) and its epoch; -1: none. */
	int64_t first_offset;
	int32_t first_epoch;
	bool forwarded; /* some of this call's records were forwarded */
};

/* Where an append ended: its last offset and the leader epoch it
 * stamped (the acknowledgement step checks that the record there is
 * still the one appended); where it began (first, first_epoch: of the
 * first of several appends; -1 none); forwarded: records of it went to
 * the leader elsewhere. */
struct produce_at {
	int64_t offset;
	int32_t epoch;
	int64_t first;
	int32_t first_epoch;
	bool forwarded;
};

/* Notes an append of offsets first..last in epoch into *at. */
static void at_note(struct produce_at *at, int64_t first, int64_t last, int32_t epoch)
{
	if (at->first < 0) {
		at->first = first;
		at->first_epoch = epoch;
	}
	at->offset = last;
	at->epoch = epoch;
}

/* Partition p of t into pp with a reference to its log, under t->lock. A
 * partition without a replica here has no log: its writes are forwarded
 * to the leader (pp->log NULL) when this broker can forward, else
 * -EREMOTE (no replica here: not the leader either). */
static int part_ref(struct topic *t, int p, struct produce_part *pp)
{
	pp->pt = t->parts[p];
	pp->log = pp->pt->log;
	pp->last_offset = -1;
	pp->last_epoch = -1;
	pp->first_offset = -1;
	pp->first_epoch = -1;
	pp->forwarded = false;
	if (pp->log)
		log_ref(pp->log);
	else if (!cluster_forwarder(t->b->cluster))
		return -EREMOTE;
	return 0;
}

/* Takes partition p of ctx (p < ctx->nparts): under t->lock, briefly. */
static int produce_part_take(const struct produce_ctx *ctx, int p, struct produce_part *pp)
{
	struct topic *t = ctx->t;
	int rc = 0;

	pthread_rwlock_rdlock(&t->lock);
	if (atomic_load(&t->deleted)) {
		rc = -ENOENT;
	} else {
		rc = part_ref(t, p, pp);
	}
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

static void produce_part_release(struct produce_part *pp)
{
	if (pp->log)
		log_unref(pp->log);
	pp->log = NULL;
}

/* ---- appended: the append step ---- */

/* The leader's high watermark after an append (Kafka's
 * maybeIncrementLeaderHW): hw = min LEO over the ISR. On one node the ISR
 * is this broker alone, so the hw moves to the end of what was just
 * appended, here, by the appender. A cluster moves it instead when the
 * followers' fetches show their LEO; the writers wait for it in the
 * acknowledgement step either way (produce_commit_wait). */
static int leader_hw_update(const struct produce_ctx *ctx, struct produce_part *pp,
			    int64_t last_offset)
{
	if (broker_replicated(ctx->t->b, ctx->t->name)) {
		cluster_appended(ctx->t->b->cluster, ctx->t->name, pp->pt->index);
		return 0;
	}
	/* The appender wakes the parked consume reads itself
	 * (group_notify_flush), which needs a caller that holds no lock a wake
	 * takes: every producer but the group store, whose commits to the
	 * internal topic run under group.mu (the listener ignores those
	 * topics anyway). A partition file's own lock, held by the fs write,
	 * is never one a wake waits for. */
	struct group_coord *gc = strncmp(ctx->t->name, "__", 2) ? ctx->t->b->gc : NULL;
	group_notify_defer(gc);
	int rc = log_set_hw(pp->log, last_offset + 1);
	group_notify_flush(gc);
	return rc;
}

/* The leader epoch the append stamps. A replicated partition is appended
 * only on its leader, and (acks=all) only while the ISR has at least
 * min.insync.replicas members: -EREMOTE (the caller forwards the records
 * to the leader) or -EAGAIN, nothing appended. */
static int append_epoch(const struct produce_ctx *ctx, struct produce_part *pp, int32_t *epoch)
{
	*epoch = pp->pt->local_epoch;
	if (!broker_replicated(ctx->t->b, ctx->t->name))
		return 0;
	return cluster_append_check(ctx->t->b->cluster, ctx->t->name, pp->pt->index, ctx->cfg.acks,
				    ctx->cfg.min_insync_replicas, epoch);
}

/* append_epoch for a write through the mount: its -EAGAIN under
 * min.insync.replicas is logged here (the listener logs a Kafka client's
 * and a forwarded write's refusal, NOT_ENOUGH_REPLICAS), so that the
 * writer's EAGAIN has its line as every refusal has. Then, on the
 * leader, topic_lines_fix (its -EAGAIN logged there). */
static int mount_append_epoch(const struct produce_ctx *ctx, struct produce_part *pp,
			      int32_t *epoch)
{
	int rc = append_epoch(ctx, pp, epoch);

	if (rc == -EAGAIN)
		mq_log_limited(MQ_WARN,
			       "topic %s partition %d: write refused: fewer in-sync replicas than "
			       "min.insync.replicas=%d (acks=all): nothing appended",
			       ctx->t->name, pp->pt->index, (int)ctx->cfg.min_insync_replicas);
	/* The leader's first records: under the line settings the cluster
	 * fixed (a .config change may be on its way here). */
	if (rc == 0)
		rc = topic_lines_fix(ctx->t, NULL, NULL, 0);
	return rc;
}

/* The records of an append that append_epoch found led elsewhere: sent
 * to the leader (forward.c), which acknowledges them with the topic's
 * acks, so the writer has no commit of its own to wait for. -EREMOTE
 * stays on a broker that cannot forward. */
static int forward_append(const struct produce_ctx *ctx, struct produce_part *pp,
			  const struct rec_in *recs, int n)
{
	struct forwarder *f = cluster_forwarder(ctx->t->b->cluster);

	if (!f)
		return -EREMOTE;
	return forward_records(f, ctx->t, pp->pt, &ctx->cfg.log, ctx->cfg.acks, recs, n);
}

/* A replicated partition's append or flush failed with rc: a storage
 * failure takes this broker's log directory offline (replica_mgr.h;
 * Kafka's LogDirFailureChannel), and the write becomes -ENXIO: nothing
 * of it is committed here (the engine cut it back, or fenced it), and
 * the partition's next leader takes it. One node keeps rc: no other
 * replica could take over, and the disk may have room again later. */
static int append_failed(const struct produce_ctx *ctx, struct produce_part *pp, int rc)
{
	return broker_storage_failed(ctx->t->b, ctx->t->name, pp->pt->index, rc);
}

/* What follows an append into one partition (metrics, flush.messages,
 * the hw); rc is the append's result. */
static int appended(const struct produce_ctx *ctx, struct produce_part *pp, int rc,
		    const struct log_append_info *info, int64_t ts, int64_t t0)
{
	const struct topic *t = ctx->t;
	struct partition *pt = pp->pt;
	struct log_state st;

	if (rc < 0) {
		if (rc != -EMSGSIZE && rc != -ENOENT)
			mq_log_limited(MQ_ERR, "topic %s partition %d: append: %s%s", t->name,
				       pt->index, strerror(-rc),
				       rc == -ENOSPC ? logmgr_enospc_why(t->b->m) : "");
		log_get_state(pp->log, &st);
		if (st.fence >= 0)
			mq_log_limited(MQ_ERR,
				       "topic %s partition %d: the failed append could not "
				       "be cut back: records from offset %lld are held back (never "
				       "committed) and appends fail until the cut succeeds",
				       t->name, pt->index, (long long)st.fence);
		return append_failed(ctx, pp, rc);
	}
	atomic_fetch_add_explicit(&pt->records_in, info->last_offset - info->first_offset + 1,
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->bytes_in, info->bytes, memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->batches_in, info->batches, memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->payload_in, info->payload, memory_order_relaxed);
	atomic_store_explicit(&pt->last_append_ms, ts, memory_order_relaxed);
	if (ctx->cfg.log.flush_messages != INT64_MAX) {
		struct log_offsets lo;

		log_get_offsets(pp->log, &lo);
		if (lo.log_end_offset - lo.synced_offset >= ctx->cfg.log.flush_messages) {
			rc = log_sync(pp->log, info->last_offset + 1);
			if (rc < 0) {
				/* The write fails, so its records must never be
				 * committed (a retry would repeat them): taken back. */
				int rc2 = log_rollback(pp->log, info->first_offset);

				mq_log_limited(MQ_ERR,
					       "topic %s partition %d: flush: %s; offsets "
					       "%lld-%lld taken back%s",
					       t->name, pt->index, strerror(-rc),
					       (long long)info->first_offset,
					       (long long)info->last_offset,
					       rc2 < 0 ? " (held back: the cut failed too)" : "");
				return append_failed(ctx, pp, rc);
			}
			atomic_store(&pt->last_flush_ms, now_mono_ms());
		}
	}
	rc = leader_hw_update(ctx, pp, info->last_offset);
	latency_observe(t->b, now_mono_ns() - t0);
	return rc;
}

/* Whether the records of a write that met this replica offline (-ENXIO:
 * its log directory failed, now or before) go to the partition's next
 * leader: those of a user's topic do. __consumer_offsets' are written
 * by the coordinator, which never forwards them (group_store.c): -ENXIO
 * becomes -EREMOTE there, the coordinator moving away (Kafka's
 * coordinator answers a commit that met KAFKA_STORAGE_ERROR with
 * NOT_COORDINATOR). */
static bool offline_forwards(const struct produce_ctx *ctx, int *rc)
{
	if (*rc != -ENXIO)
		return false;
	if (strncmp(ctx->t->name, "__", 2) == 0) {
		*rc = -EREMOTE;
		return false;
	}
	return true;
}

/* Whether an append refused LOG_EPOCH_BEHIND is to be tried again: this
 * broker's leadership was renewed in a later epoch after the append took
 * its epoch (nothing was appended), so it takes the new one, at most a
 * few times (each renewal is a controller's election); logged. */
static bool epoch_moved(const struct produce_ctx *ctx, const struct produce_part *pp, int rc,
			int *tries)
{
	if (rc != LOG_EPOCH_BEHIND || ++*tries > 3)
		return false;
	mq_log_limited(MQ_INFO,
		       "topic %s partition %d: leadership renewed in a later epoch during an "
		       "append: appended in the new epoch",
		       ctx->t->name, pp->pt->index);
	return true;
}

static int chunk_build(const struct splitter *sp, struct recbuf *rb, bool spread, struct lsrc *src);

/* A lines request for a partition led elsewhere: parsed here, chunk by
 * chunk, and forwarded. */
static int lines_forward(const struct produce_ctx *ctx, struct produce_part *pp,
			 const struct produce_req *r)
{
	struct lsrc src = { r->lines, r->lines + r->lines_len, NULL, NULL };
	struct recbuf rb = { 0 };
	int rc = 0;

	if (r->head)
		src = (struct lsrc){ r->head, r->head + r->head_len, r->lines,
				     r->lines + r->lines_len };
	while (rc == 0 && lsrc_more(&src)) {
		int n = chunk_build(r->sp, &rb, false, &src);

		rc = n < 0 ? n : forward_append(ctx, pp, rb.recs, n);
	}
	free(rb.recs);
	return rc;
}

/* What one append into a partition takes: records parsed already (recs,
 * n), or a lines request whose lines the log parses (lines, not NULL). */
struct append_src {
	const struct rec_in *recs;
	int n;
	const struct produce_req *lines;
};

/* src into one partition; called by the partition's appender only
 * (without any repl lock): appended here when this broker leads, else
 * (or once its log directory is offline) forwarded to the leader. *last:
 * the last offset and epoch appended here. */
static int part_append(const struct produce_ctx *ctx, struct produce_part *pp,
		       const struct append_src *src, struct produce_at *last)
{
	const struct produce_req *r = src->lines;
	struct log_append_info info;
	int64_t t0 = now_mono_ns();
	int32_t epoch;
	int rc, tries = 0;

again:
	rc = mount_append_epoch(ctx, pp, &epoch);
	if (rc == -EREMOTE || offline_forwards(ctx, &rc) || (rc == 0 && !pp->log))
		goto forward;
	if (rc < 0)
		return rc;
	rc = r ? log_append_lines(pp->log, r->head, r->head_len, r->lines, r->lines_len, r->sp->now,
				  epoch, &info)
	       : log_append(pp->log, src->recs, src->n, epoch, &info);
	if (epoch_moved(ctx, pp, rc, &tries))
		goto again;
	rc = appended(ctx, pp, rc, &info, r ? r->sp->now : src->recs[0].timestamp, t0);
	if (offline_forwards(ctx, &rc))
		goto forward;
	if (rc == 0)
		at_note(last, info.first_offset, info.last_offset, epoch);
	return rc;
forward:
	last->forwarded = true;
	return r ? lines_forward(ctx, pp, r) : forward_append(ctx, pp, src->recs, src->n);
}

/* One chunk of records into one partition (part_append). */
static int chunk_append(const struct produce_ctx *ctx, struct produce_part *pp,
			const struct rec_in *recs, int n, struct produce_at *last)
{
	return part_append(ctx, pp, &(struct append_src){ recs, n, NULL }, last);
}

/* Appends a commit group g (requests of several writers, linked, n
 * records in all) taken off the queue, in one log_append. *last: the last
 * offset appended for the group (each of its requests is acknowledged
 * once the hw covers it: they were appended together, as one batch run). */
static int commit_group_append(const struct produce_ctx *ctx, struct produce_part *pp,
			       struct produce_req *g, int n, struct produce_at *last)
{
	struct partition *pt = pp->pt;
	struct produce_req *r;
	int k = 0, rc;

	/* Deleted while it lingered or queued: nothing is appended. */
	if (atomic_load(&ctx->t->deleted))
		return -ENOENT;
	if (g->lines)
		return part_append(ctx, pp, &(struct append_src){ NULL, 0, g }, last);
	if (!g->next && !g->more)
		return chunk_append(ctx, pp, g->recs, g->n, last);
	if (g->more) {
		/* Alone in its group: chunk after chunk, nobody in between. */
		rc = chunk_append(ctx, pp, g->recs, g->n, last);
		while (rc == 0 && lsrc_more(g->src)) {
			n = chunk_build(g->sp, g->rb, false, g->src);
			if (n < 0)
				return n;
			rc = chunk_append(ctx, pp, g->rb->recs, n, last);
		}
		return rc;
	}
	if (pt->join_cap < n) {
		struct rec_in *p = realloc(pt->join_recs, (size_t)n * sizeof(*p));

		if (!p)
			return -ENOMEM;
		pt->join_recs = p;
		pt->join_cap = n;
	}
	for (r = g; r; r = r->next) {
		memcpy(pt->join_recs + k, r->recs, (size_t)r->n * sizeof(*r->recs));
		k += r->n;
	}
	return chunk_append(ctx, pp, pt->join_recs, n, last);
}

/* Waits (produce_mu held, released while waiting) until batch.size bytes
 * are queued, linger.ms has passed, a request that goes alone is at the
 * head, or the topic is deleted. */
static void linger_wait(const struct produce_ctx *ctx, struct partition *pt)
{
	struct timespec dl;

	deadline_from_ms(CLOCK_MONOTONIC, ctx->cfg.linger_ms, &dl);
	pt->lingering = true;
	while (pt->q_bytes < ctx->cfg.log.batch_bytes && !pt->q_head->more && !pt->q_head->lines &&
	       !atomic_load(&ctx->t->deleted))
		if (pthread_cond_timedwait(&pt->produce_cv, &pt->produce_mu, &dl) == ETIMEDOUT)
			break;
	pt->lingering = false;
}

/* The appender's loop. Called with produce_mu held and pt->appending set
 * for us; returns with produce_mu held once me is done and the role is
 * handed on (or nobody is left). It appends with its own call's settings
 * and log reference (ctx, pp): every request in the queue is for the same
 * partition and log. */
static void partition_lead(const struct produce_ctx *ctx, struct produce_part *pp,
			   struct produce_req *me)
{
	struct partition *pt = pp->pt;

	for (;;) {
		struct produce_req *g, *last, *r, *nx;
		struct produce_at at = { -1, -1, -1, -1, false };
		int64_t payload;
		int n, rc;

		if (ctx->cfg.linger_ms > 0 && pt->q_bytes < ctx->cfg.log.batch_bytes)
			linger_wait(ctx, pt);
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

		rc = commit_group_append(ctx, pp, g, n, &at);

		pthread_mutex_lock(&pt->produce_mu);
		for (r = g; r; r = nx) {
			nx = r->next;
			r->rc = rc;
			r->last_offset = at.offset;
			r->last_epoch = at.epoch;
			r->first_offset = at.first;
			r->first_epoch = at.first_epoch;
			r->forwarded = at.forwarded;
			r->done = true;
			if (r->async) {
				tracker_done(r->tr, rc);
				buffer_give(ctx->t->b, r->bytes);
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

/* A queued writer's wait is most often one append of the appender's (a
 * few microseconds for one-record writes). Sleeping on produce_cv costs a
 * futex wait and the appender's wake, and on a virtual machine the
 * wake-up of a thread whose CPU has gone idle costs tens of microseconds
 * more: with two writers of one partition, each on its CPU, most writes
 * slept. So a queued writer first polls, without the lock, for up to
 * PRODUCE_SPIN_NS (two one-record writers of one partition file: 310 k
 * writes a second against 180 k sleeping at once; four: 268 k against
 * 157 k), then sleeps as before. Called and returns with produce_mu
 * held. */
#define PRODUCE_SPIN_NS 20000

/* Polling helps only while the appender runs on another CPU: with one
 * online CPU the poller would only delay it. */
static bool spin_useful(void)
{
	static atomic_int online; /* 0: not looked up yet */
	int n = atomic_load_explicit(&online, memory_order_relaxed);

	if (n == 0) {
		long k = sysconf(_SC_NPROCESSORS_ONLN);

		n = k > 0 ? (int)k : 1;
		atomic_store_explicit(&online, n, memory_order_relaxed);
	}
	return n > 1;
}

static void queued_spin(struct partition *pt, struct produce_req *r)
{
	struct poll_wait w;

	if (r->done || r->lead || !spin_useful())
		return;
	pthread_mutex_unlock(&pt->produce_mu);
	poll_wait_start(&w, PRODUCE_SPIN_NS, -1);
	while (!atomic_load_explicit(&r->done, memory_order_acquire) &&
	       !atomic_load_explicit(&r->lead, memory_order_acquire) && poll_wait_step(&w))
		;
	pthread_mutex_lock(&pt->produce_mu);
}

/* Queues r and returns its result once appended: 0 or -errno (and
 * r->last_offset); 1 when r is async and was queued behind a running
 * appender (the queue owns it now). An async r that finds no appender is
 * appended here, synchronously, and stays the caller's. */
static int partition_submit(const struct produce_ctx *ctx, struct produce_part *pp,
			    struct produce_req *r)
{
	struct partition *pt = pp->pt;
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
			atomic_fetch_add_explicit(&ctx->t->b->pm.acks0_queued, 1,
						  memory_order_relaxed);
			pthread_mutex_unlock(&pt->produce_mu);
			return 1;
		}
		queued_spin(pt, r);
		while (!r->done && !r->lead)
			pthread_cond_wait(&pt->produce_cv, &pt->produce_mu);
	}
	if (!r->done)
		partition_lead(ctx, pp, r);
	rc = r->rc;
	pthread_mutex_unlock(&pt->produce_mu);
	if (rc == 0 && r->last_offset > pp->last_offset) {
		pp->last_offset = r->last_offset;
		pp->last_epoch = r->last_epoch;
	}
	if (rc == 0 && pp->first_offset < 0 && r->first_offset >= 0) {
		pp->first_offset = r->first_offset;
		pp->first_epoch = r->first_epoch;
	}
	pp->forwarded |= r->forwarded;
	return rc;
}

void produce_partition_wake(struct partition *pt)
{
	pthread_mutex_lock(&pt->produce_mu);
	if (pt->lingering)
		pthread_cond_broadcast(&pt->produce_cv);
	pthread_mutex_unlock(&pt->produce_mu);
	produce_hw_moved(pt);
}

/* ---- committed: the acknowledgement step ----
 * A writer whose records are appended waits, holding no topic or
 * partition lock, until the high watermark covers its last offset
 * (acks=all), or request.timeout.ms: -ETIMEDOUT, appended but not
 * confirmed committed. On one node the hw moved with the append, so the
 * first look ends the wait.
 * The hw covering the offset is not enough in a cluster: a leader that
 * lost its leadership (cut off, then made a follower) truncates its
 * uncommitted records and refills those offsets from the new leader,
 * whose hw then covers them; a waiter would acknowledge a record that
 * is gone (Kafka fails such a DelayedProduce with NOT_LEADER_OR_FOLLOWER).
 * So the wait also needs the record at the offset to be the one
 * appended: in the leader epoch it stamped (appended_in_epoch). Only
 * the leader of that epoch appends in it, once per offset, so the epoch
 * names the record. Otherwise -ETIMEDOUT at once: appended, not
 * confirmed (the new leader may hold it, or not). commit_waiters and the hw are a Dekker pair:
 * a waiter counts itself, then reads the hw (under the log's lock); the
 * mover writes the hw (under the log's lock), then reads the count; so
 * one of them sees the other and no wake-up is lost. */

static int64_t log_hw(struct log *l)
{
	int64_t hw;

	log_get_hw(l, &hw, NULL);
	return hw;
}

/* The record at offset is still in epoch's range of the epoch cache
 * (epoch -1: not known, as for a single node's appends, not checked),
 * given the cache's answer for epoch and its latest epoch (found, end,
 * latest: log_get_hw_epoch). */
static bool in_epoch(int64_t offset, int32_t epoch, int32_t found, int64_t end, int32_t latest)
{
	/* An empty cache (latest -1) is a log that stamps no epochs; an
	 * epoch above the latest (found -1 too) was truncated away. */
	return epoch < 0 || latest < 0 || (found == epoch && end > offset);
}

/* in_epoch, the cache asked now. */
static bool appended_in_epoch(struct log *l, int64_t offset, int32_t epoch)
{
	int32_t found, latest;
	int64_t end;

	if (epoch < 0)
		return true;
	(void)log_get_hw_epoch(l, epoch, &found, &end, &latest);
	return in_epoch(offset, epoch, found, end, latest);
}

void produce_hw_moved(struct partition *pt)
{
	if (atomic_load(&pt->commit_parked) > 0)
		produce_purgatory_kick(pt->b);
	if (atomic_load(&pt->commit_waiters) == 0)
		return;
	pthread_mutex_lock(&pt->commit_mu);
	pthread_cond_broadcast(&pt->commit_cv);
	pthread_mutex_unlock(&pt->commit_mu);
}

bool produce_hw_reach(struct topic *t, struct partition *pt, struct log *l, int64_t end,
		      int64_t until_ms)
{
	struct timespec dl;
	bool there;

	/* The Dekker pair of commit_wait: counted first, then the hw. */
	pthread_mutex_lock(&pt->commit_mu);
	atomic_fetch_add(&pt->commit_waiters, 1);
	while (!(there = log_hw(l) >= end) && !atomic_load(&t->deleted)) {
		int64_t left = until_ms - now_mono_ms();

		if (left <= 0)
			break;
		deadline_from_ms(CLOCK_MONOTONIC, left, &dl);
		pthread_cond_timedwait(&pt->commit_cv, &pt->commit_mu, &dl);
	}
	atomic_fetch_sub(&pt->commit_waiters, 1);
	pthread_mutex_unlock(&pt->commit_mu);
	return there;
}

/* How often a waiting write (a Kafka client's Produce, a mount's write)
 * looks whether this broker still leads the partition: a leadership
 * change moves no hw here when the new leader's log ends below the
 * waiting records (they are truncated and their writer, waiting, sends
 * nothing more), so no wake-up would come before the timeout. */
#define PRODUCE_LEADER_CHECK_MS 100

/* Whether this broker still leads replicated pt in epoch. */
static bool still_leads(const struct topic *t, const struct partition *pt, int32_t epoch)
{
	int32_t now_epoch;

	/* acks=1: leadership only, whatever the ISR. */
	return cluster_append_check(t->b->cluster, t->name, pt->index, 1, 1, &now_epoch) == 0 &&
	       now_epoch == epoch;
}

/* Whether this broker leads the partition now, in any epoch. */
static bool leads_now(const struct topic *t, const struct partition *pt)
{
	int32_t now_epoch;

	return cluster_append_check(t->b->cluster, t->name, pt->index, 1, 1, &now_epoch) == 0;
}

/* What commit_wait returns for a mount's write whose records are all
 * gone from this broker's log with the leadership it had: the new
 * leader's log diverged at or before them, so it does not hold them
 * either and the write may be sent to it again. */
#define PRODUCE_GONE (-ESTALE)

/* The write's records, appended in epoch, are gone from l (looked at
 * first_offset, appended in first_epoch; -1: unknown): PRODUCE_GONE when
 * none of them is left; else (some left, or not known) logged, and
 * -ETIMEDOUT: appended, not confirmed. */
static int commit_lost(struct topic *t, struct partition *pt, struct log *l, int64_t first_offset,
		       int32_t first_epoch, int64_t last_offset, int32_t epoch)
{
	if (first_offset >= 0 && !appended_in_epoch(l, first_offset, first_epoch))
		return PRODUCE_GONE;
	mq_log_limited(MQ_WARN,
		       "topic %s partition %d: offsets up to %lld appended in leader epoch %d "
		       "are not there any more (this broker lost the leadership before they "
		       "were committed): not acknowledged",
		       t->name, pt->index, (long long)last_offset, (int)epoch);
	return -ETIMEDOUT;
}

/* Logs a commit wait's timeout with what held the hw: the ISR and each
 * follower's position. */
static void commit_timed_out(struct topic *t, struct partition *pt, struct log *l,
			     int64_t last_offset, int64_t timeout_ms)
{
	char lag[512];

	cluster_commit_lag(t->b->cluster, t->name, pt->index, lag, sizeof(lag));
	mq_log_limited(MQ_WARN,
		       "topic %s partition %d: offsets up to %lld appended but "
		       "not committed (high watermark %lld) within request.timeout.ms=%lld%s",
		       t->name, pt->index, (long long)last_offset, (long long)log_hw(l),
		       (long long)timeout_ms, lag);
}

/* produce_commit_wait, and:
 * - lead_epoch >= 0 (a Kafka client's Produce on a replicated topic, led
 *   in lead_epoch when it was answered): -EREMOTE once this broker no
 *   longer leads pt in lead_epoch, looked at every
 *   PRODUCE_LEADER_CHECK_MS;
 * - lead_epoch < 0 on a replicated topic (a mount's write): the same
 *   look, and once this broker no longer leads in epoch and the record at
 *   last_offset is gone (truncated as the new leader's follower, maybe
 *   not refilled soon), the end at once: PRODUCE_GONE when the record at
 *   first_offset (the write's first, or one before it; -1: not known) is
 *   gone too, else -ETIMEDOUT (commit_lost). Records still there in
 *   their epoch are the new leader's too: the wait goes on for the hw. */
static int commit_wait(struct topic *t, struct partition *pt, struct log *l, int64_t last_offset,
		       int32_t epoch, int64_t timeout_ms, int32_t lead_epoch, int64_t first_offset,
		       int32_t first_epoch)
{
	struct timespec dl, slice;
	bool replicated = broker_replicated(t->b, t->name);
	bool leader_check = lead_epoch >= 0 && replicated;
	bool mount_check = lead_epoch < 0 && epoch >= 0 && replicated;
	bool lost = false, waited = false;
	int32_t found, latest;
	int64_t end;
	int rc = 0;

	/* Most writes are committed by the time they ask (a single node's
	 * appender moves the hw itself): one look at the hw and the epoch. */
	if (log_get_hw_epoch(l, epoch, &found, &end, &latest) > last_offset) {
		if (in_epoch(last_offset, epoch, found, end, latest))
			return 0;
		goto covered;
	}
	deadline_from_ms(CLOCK_MONOTONIC, timeout_ms, &dl);
	pthread_mutex_lock(&pt->commit_mu);
	atomic_fetch_add(&pt->commit_waiters, 1);
	while (log_hw(l) <= last_offset) {
		if (atomic_load(&t->deleted)) {
			rc = -ENOENT;
			break;
		}
		/* A mount's write looks first after one slice: most are
		 * committed by then, and the look takes the partition's lock,
		 * which every append of the partition takes too. */
		if (leader_check || (mount_check && waited)) {
			/* Not under commit_mu: the leadership check takes the
			 * partition's lock, under which a hw move takes
			 * commit_mu (produce_hw_moved). */
			pthread_mutex_unlock(&pt->commit_mu);
			bool leads = still_leads(t, pt, leader_check ? lead_epoch : epoch);

			lost = !leads && mount_check && !appended_in_epoch(l, last_offset, epoch);
			/* A Kafka client's wait goes on through a new epoch of
			 * this broker's own leadership (the controller took a
			 * dead follower out of the ISR) while its records are
			 * there in their epoch: Kafka's delayed produce looks at
			 * the leadership, not its epoch. */
			bool moved =
				!leads && leader_check &&
				!(leads_now(t, pt) && appended_in_epoch(l, last_offset, epoch));
			pthread_mutex_lock(&pt->commit_mu);
			if (moved) {
				rc = -EREMOTE;
				break;
			}
			if (lost || log_hw(l) > last_offset)
				break;
		}
		slice = dl;
		if (leader_check || mount_check) {
			deadline_from_ms(CLOCK_MONOTONIC, PRODUCE_LEADER_CHECK_MS, &slice);
			if (slice.tv_sec > dl.tv_sec ||
			    (slice.tv_sec == dl.tv_sec && slice.tv_nsec > dl.tv_nsec))
				slice = dl;
		}
		waited = true;
		if (pthread_cond_timedwait(&pt->commit_cv, &pt->commit_mu, &slice) == ETIMEDOUT &&
		    slice.tv_sec == dl.tv_sec && slice.tv_nsec == dl.tv_nsec &&
		    log_hw(l) <= last_offset) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	atomic_fetch_sub(&pt->commit_waiters, 1);
	pthread_mutex_unlock(&pt->commit_mu);
	if (rc == -ETIMEDOUT)
		commit_timed_out(t, pt, l, last_offset, timeout_ms);
	if (rc)
		return rc;
covered:
	if (!lost && appended_in_epoch(l, last_offset, epoch))
		return 0;
	return commit_lost(t, pt, l, first_offset, first_epoch, last_offset, epoch);
}

/* After a commit wait that ended well: Kafka's
 * checkEnoughReplicasReachOffset. The hw covers the records, but an ISR
 * that shrank below min.insync.replicas after the append (its followers
 * died or fell behind, and the hw then followed the leader alone) covers
 * them on fewer replicas than acks=all promises; the maximal ISR counts,
 * as Kafka's: a follower whose addition is being written already held
 * the hw back for these records (partition.h invariant 2). Appended, not
 * acknowledged (-EL2NSYNC: Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND, a
 * mount's write ETIMEDOUT),
 * logged. A broker that no longer leads the partition found them in the
 * new leader's log (commit_wait): not looked at here. */
static int commit_isr_check(struct topic *t, struct partition *pt, int64_t last_offset)
{
	int32_t min_isr;

	/* The topic's setting now, not the write's at its start: lowered
	 * meanwhile, it is what let the hw move (partition.h invariant 2),
	 * as Kafka's checkEnoughReplicasReachOffset reads the log's config
	 * when it looks. */
	pthread_rwlock_rdlock(&t->lock);
	min_isr = t->cfg.min_insync_replicas;
	pthread_rwlock_unlock(&t->lock);
	if (min_isr <= 1 || !broker_replicated(t->b, t->name) ||
	    cluster_commit_check(t->b->cluster, t->name, pt->index, min_isr) != -EAGAIN)
		return 0;
	mq_log_limited(MQ_WARN,
		       "topic %s partition %d: offsets up to %lld committed by an ISR smaller "
		       "than min.insync.replicas=%d (it shrank after the append): not "
		       "acknowledged",
		       t->name, pt->index, (long long)last_offset, (int)min_isr);
	return -EL2NSYNC;
}

int produce_commit_wait(struct topic *t, struct partition *pt, struct log *l, int64_t last_offset,
			int32_t epoch, int64_t timeout_ms)
{
	return commit_wait(t, pt, l, last_offset, epoch, timeout_ms, -1, -1, -1);
}

/* ---- the produce purgatory ----
 * Kafka's DelayedProduce: a Kafka client's acks=-1 Produce whose records
 * are appended but not yet committed does not hold a listener worker
 * (num.io.threads of them serve every client's requests, and a
 * follower's Fetch that names a partition it is not in the ISR of: held
 * by such writes, they would stall the very replication the writes wait
 * for). Its partitions' waits are parked here together; one thread per
 * broker, started by the first park, looks at them (commit_poll, the
 * steps commit_wait takes for a Kafka client, without sleeping) when a
 * park or a hw move of a partition with parked waits (produce_hw_moved,
 * pt->commit_parked) sets pp_news, at the earliest deadline, and every
 * PRODUCE_LEADER_CHECK_MS for the leadership (a lost one moves no hw
 * here); once all of a request's waits are settled it calls the
 * request's done. The answers are the blocking wait's: the hw passing
 * the records (then the ISR check), the leadership lost, the topic
 * deleted, timeout_ms. commit_parked and the hw are a Dekker pair as
 * commit_waiters is: a park counts itself before the thread's scan
 * reads the hw; a mover writes the hw before it reads the count. */

/* One look at a wait: PRODUCE_PENDING, or its outcome before the ISR
 * check (commit_wait's, for lead_epoch >= 0). */
static int commit_poll(struct produce_wait *w, int64_t now)
{
	struct topic *t = w->t;

	if (log_hw(w->log) > w->last)
		goto covered;
	if (atomic_load(&t->deleted))
		return -ENOENT;
	if (now >= w->check_ms) {
		if (!broker_replicated(t->b, t->name)) {
			w->check_ms = INT64_MAX;
		} else {
			w->check_ms = now + PRODUCE_LEADER_CHECK_MS;
			/* As commit_wait: a new epoch of this broker's own
			 * leadership keeps the wait while the records are
			 * there in their epoch. */
			if (!still_leads(t, w->pt, w->lead_epoch) &&
			    !(leads_now(t, w->pt) && appended_in_epoch(w->log, w->last, w->epoch)))
				return -EREMOTE;
			if (log_hw(w->log) > w->last)
				goto covered;
		}
	}
	if (w->deadline_ms > 0 && now >= w->deadline_ms) {
		commit_timed_out(t, w->pt, w->log, w->last, w->timeout_ms);
		return -ETIMEDOUT;
	}
	return PRODUCE_PENDING;
covered:
	if (appended_in_epoch(w->log, w->last, w->epoch))
		return 0;
	return commit_lost(t, w->pt, w->log, -1, -1, w->last, w->epoch);
}

/* The wait's answer from its commit's outcome rc. */
static void wait_outcome(struct produce_wait *w, int rc)
{
	if (rc == 0)
		rc = commit_isr_check(w->t, w->pt, w->last);
	w->rc = rc;
	w->log_start_offset = log_get_start(w->log);
	w->done = true;
}

void produce_wait_release(struct produce_wait *w)
{
	if (w->log)
		log_unref(w->log);
	if (w->t)
		topic_put(w->t);
	w->log = NULL;
	w->t = NULL;
}

void produce_wait_settle(struct produce_wait *w)
{
	int64_t left = w->deadline_ms - now_mono_ms();

	wait_outcome(w, commit_wait(w->t, w->pt, w->log, w->last, w->epoch, left > 0 ? left : 0,
				    w->lead_epoch, -1, -1));
}

/* The waits of one request. */
struct produce_parked {
	struct produce_parked *next;
	struct produce_wait *w;
	int n;
	produce_parked_fn done;
	/* Whether the client is gone (its connection closed): the waits
	 * are then settled at once, their answer never sent. */
	produce_gone_fn gone;
	void *arg;
};

/* Looks at p's unsettled waits: whether all are settled now; else *due
 * is lowered to the earliest time one must be looked at again. */
static bool parked_scan(struct produce_parked *p, int64_t now, bool stopping, int64_t *due)
{
	bool all = true, gone = p->gone && p->gone(p->arg);

	for (int i = 0; i < p->n; i++) {
		struct produce_wait *w = &p->w[i];
		int rc;

		if (w->done)
			continue;
		if (stopping) /* a leadership moved away answers as such */
			w->check_ms = 0;
		rc = commit_poll(w, now);
		/* A client gone, or a broker stopping (Kafka closes the
		 * connections, the purgatory unanswered): the records stay,
		 * not acknowledged. */
		if (rc == PRODUCE_PENDING && (gone || stopping))
			rc = -ESHUTDOWN;
		if (rc == PRODUCE_PENDING) {
			all = false;
			if (w->deadline_ms < *due)
				*due = w->deadline_ms;
			if (w->check_ms < *due)
				*due = w->check_ms;
			continue;
		}
		atomic_fetch_sub(&w->pt->commit_parked, 1);
		wait_outcome(w, rc); /* -ESHUTDOWN as any other failure */
	}
	return all;
}

/* Whether a settled request is closed unanswered (a wait -ESHUTDOWN). */
static bool parked_closed(const struct produce_parked *p)
{
	for (int i = 0; i < p->n; i++)
		if (p->w[i].rc == -ESHUTDOWN)
			return true;
	return false;
}

static void *purgatory_main(void *arg)
{
	struct broker *b = arg;
	int64_t due = INT64_MAX;
	int closed = 0; /* requests left unanswered by the stop */

	pthread_mutex_lock(&b->pp_mu);
	while (!b->pp_stop || b->pp_head) {
		struct produce_parked *list, *keep = NULL, *next;
		bool stopping = b->pp_stop;
		int64_t now;

		if (!b->pp_news) {
			if (due == INT64_MAX) {
				pthread_cond_wait(&b->pp_cv, &b->pp_mu);
			} else {
				struct timespec ts = { .tv_sec = (time_t)(due / 1000),
						       .tv_nsec = (long)(due % 1000) * 1000000 };

				pthread_cond_timedwait(&b->pp_cv, &b->pp_mu, &ts);
			}
			if (!b->pp_news && now_mono_ms() < due)
				continue;
		}
		b->pp_news = false;
		list = b->pp_head;
		b->pp_head = NULL;
		pthread_mutex_unlock(&b->pp_mu);
		/* Looked at without pp_mu: a hw move (under a partition's
		 * lock) never waits for a scan. */
		now = now_mono_ms();
		due = INT64_MAX;
		for (struct produce_parked *p = list; p; p = next) {
			next = p->next;
			if (parked_scan(p, now, stopping, &due)) {
				atomic_fetch_sub(&b->pm.parked, 1);
				if (stopping && parked_closed(p))
					closed++;
				p->done(p->arg);
				free(p);
			} else {
				p->next = keep;
				keep = p;
			}
		}
		pthread_mutex_lock(&b->pp_mu);
		while (keep) {
			next = keep->next;
			keep->next = b->pp_head;
			b->pp_head = keep;
			keep = next;
		}
	}
	pthread_mutex_unlock(&b->pp_mu);
	/* One line for them all: each connection's close is not logged. */
	if (closed > 0)
		mq_log(MQ_INFO,
		       "produce purgatory: %d acks=all Produce request(s) still waiting for "
		       "their commit at the stop: their connections closed unanswered (the "
		       "records stay in the log, not acknowledged)",
		       closed);
	return NULL;
}

int produce_park(struct broker *b, struct produce_wait *w, int n, produce_parked_fn done,
		 produce_gone_fn gone, void *arg)
{
	struct produce_parked *p = malloc(sizeof(*p));

	if (!p)
		return -ENOMEM;
	*p = (struct produce_parked){ .w = w, .n = n, .done = done, .gone = gone, .arg = arg };
	pthread_mutex_lock(&b->pp_mu);
	if (b->pp_stop) { /* the listener is stopping */
		pthread_mutex_unlock(&b->pp_mu);
		free(p);
		return -ESHUTDOWN;
	}
	if (!b->pp_running) {
		int rc = -pthread_create(&b->pp_thread, NULL, purgatory_main, b);

		if (rc < 0) {
			pthread_mutex_unlock(&b->pp_mu);
			free(p);
			mq_log_limited(MQ_WARN,
				       "produce purgatory thread not started (%s): acks=all "
				       "writes wait on the listener's workers",
				       strerror(-rc));
			return rc;
		}
		pthread_setname_np(b->pp_thread, "mqfs-prodwait");
		b->pp_running = true;
	}
	for (int i = 0; i < n; i++)
		atomic_fetch_add(&w[i].pt->commit_parked, 1);
	atomic_fetch_add(&b->pm.parked, 1);
	p->next = b->pp_head;
	b->pp_head = p;
	b->pp_news = true;
	pthread_cond_signal(&b->pp_cv);
	pthread_mutex_unlock(&b->pp_mu);
	return 0;
}

void produce_purgatory_kick(struct broker *b)
{
	pthread_mutex_lock(&b->pp_mu);
	b->pp_news = true;
	pthread_cond_signal(&b->pp_cv);
	pthread_mutex_unlock(&b->pp_mu);
}

void produce_purgatory_stop(struct broker *b)
{
	bool running;

	pthread_mutex_lock(&b->pp_mu);
	b->pp_stop = true;
	b->pp_news = true;
	running = b->pp_running;
	pthread_cond_signal(&b->pp_cv);
	pthread_mutex_unlock(&b->pp_mu);
	if (running) {
		pthread_join(b->pp_thread, NULL);
		b->pp_running = false;
	}
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
static int produce_one(const struct produce_ctx *ctx, struct produce_part *pp,
		       const struct splitter *sp, struct recbuf *rb, struct lsrc *src,
		       struct produce_tracker *tr, int64_t *held)
{
	struct produce_req r = { 0 };
	size_t len = (size_t)(src->end - src->p) + (src->p2 ? (size_t)(src->end2 - src->p2) : 0);
	bool acks0 = tr && ctx->cfg.acks == 0;
	int n, rc;

	/* A big write of one run of lines is not parsed here: the engine
	 * parses it while encoding, shared out with its helper threads
	 * (log_append_lines). An acks=0 write that would be queued keeps the
	 * copying path below. */
	if (len >= PRODUCE_LINES_MIN && len <= PRODUCE_CHUNK_BYTES &&
	    !(acks0 && partition_busy(pp->pt))) {
		if (src->p2) { /* the line joined from a partial one */
			r.head = src->p;
			r.head_len = (size_t)(src->end - src->p);
			src->p = src->p2;
			src->end = src->end2;
		}
		r.lines = src->p;
		r.lines_len = (size_t)(src->end - src->p);
		r.payload = (int64_t)len;
		r.sp = sp;
		return partition_submit(ctx, pp, &r);
	}
	n = chunk_build(sp, rb, false, src);
	if (n <= 0)
		return n;
	r.more = lsrc_more(src);
	if (r.more) {
		rc = lines_check(sp, src); /* invariant 1 */
		if (rc < 0)
			return rc;
	}
	r.recs = rb->recs;
	r.n = n;
	r.payload = recs_payload(rb->recs, n);
	r.sp = sp;
	r.rb = rb;
	r.src = src;
	if (acks0 && !r.more && partition_busy(pp->pt)) {
		struct produce_req *a = req_copy(&r);

		if (a) {
			a->async = true;
			a->tr = tr;
			a->bytes = *held;
			rc = partition_submit(ctx, pp, a);
			if (rc == 1) {
				*held = 0;
				return 0;
			}
			free(a);
			return rc;
		}
		/* no memory for a copy: append synchronously */
	}
	return partition_submit(ctx, pp, &r);
}

/* .produce: records spread over the partitions by the partitioner. pps:
 * one per partition of ctx, taken on first use. */
static int produce_spread(const struct produce_ctx *ctx, struct produce_part *pps,
			  const struct splitter *sp, struct recbuf *rb, struct lsrc *src)
{
	const int np = ctx->nparts;
	int *start = NULL, n, rc = 0;
	bool checked = false;

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
		rr = keyless ? atomic_fetch_add(&ctx->t->rr_next, keyless) : 0;
		/* counting sort by partition, stable: order kept in each */
		memset(start, 0, (size_t)(np + 1) * sizeof(*start));
		for (int i = 0; i < n; i++) {
			const struct rec_in *r = &rb->recs[i];
			uint32_t h =
				r->key ? broker_murmur2(r->key, (size_t)r->key_len) & 0x7fffffff
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
			if (!pps[q].pt) {
				rc = produce_part_take(ctx, q, &pps[q]);
				if (rc < 0)
					break;
			}
			r.recs = rb->sorted + from;
			r.n = start[q] - from;
			r.payload = recs_payload(r.recs, r.n);
			rc = partition_submit(ctx, &pps[q], &r);
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
 * is appended. */
static int compact_keys_check_run(const struct produce_ctx *ctx, const char *p, const char *end)
{
	const struct log_config *lc = &ctx->cfg.log;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (lc->key_sep_len == 0 || !memmem(p, l, lc->key_sep, (size_t)lc->key_sep_len)) {
			mq_log_limited(MQ_WARN,
				       "topic %s: write refused: a record without a key "
				       "in a compacted topic (cleanup.policy=compact needs "
				       "key.separator and key<sep>value lines)",
				       ctx->t->name);
			return -EINVAL;
		}
		p += l + 1;
	}
	return 0;
}

static int compact_keys_check(const struct produce_ctx *ctx, const struct lsrc *s)
{
	if (!(ctx->cfg.log.cleanup_policy & LOG_CLEANUP_COMPACT))
		return 0;
	int rc = compact_keys_check_run(ctx, s->p, s->end);
	return rc == 0 && s->p2 ? compact_keys_check_run(ctx, s->p2, s->end2) : rc;
}

/* The settings (and, for one partition, the partition) under t->lock. */
static int produce_begin(struct topic *t, int partition, struct produce_ctx *ctx,
			 struct produce_part *pp)
{
	int rc = 0;

	ctx->t = t;
	pthread_rwlock_rdlock(&t->lock);
	if (atomic_load(&t->deleted) || partition < -1 || partition >= t->nparts) {
		rc = -ENOENT;
		goto out;
	}
	ctx->cfg.acks = t->cfg.acks;
	ctx->cfg.linger_ms = t->cfg.linger_ms;
	ctx->cfg.min_insync_replicas = t->cfg.min_insync_replicas;
	ctx->cfg.log = t->cfg.log;
	ctx->nparts = t->nparts;
	if (partition >= 0)
		rc = part_ref(t, partition, pp);
out:
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* The acknowledgement step of a mount's write, rc the append step's
 * result: with acks=all, waits for the commit of each partition's
 * records. PRODUCE_GONE (resendable: a write into one partition, all of
 * whose records were appended here, none forwarded) when its records went
 * with this broker's leadership; otherwise that case is logged and
 * -ETIMEDOUT. */
static int write_commit(const struct produce_ctx *ctx, struct produce_part *pps, int np,
			bool resendable, int rc)
{
	struct topic *t = ctx->t;

	for (int q = 0; q < np && rc == 0 && ctx->cfg.acks == -1; q++) {
		struct produce_part *pp = &pps[q];
		bool whole = resendable && np == 1 && !pp->forwarded;

		if (!pp->log || pp->last_offset < 0)
			continue;
		rc = commit_wait(t, pp->pt, pp->log, pp->last_offset, pp->last_epoch,
				 t->b->cfg.request_timeout_ms, -1, pp->first_offset,
				 pp->first_epoch);
		if (rc == PRODUCE_GONE && !whole)
			rc = commit_lost(t, pp->pt, pp->log, -1, -1, pp->last_offset,
					 pp->last_epoch);
		if (rc == 0 && commit_isr_check(ctx->t, pp->pt, pp->last_offset) < 0)
			rc = -ETIMEDOUT; /* appended, not acknowledged */
	}
	return rc;
}

int topic_produce(struct topic *t, int partition, const char *lines, size_t len, int flags)
{
	const struct produce_input in = { .lines = lines, .len = len };

	return topic_produce_file(t, partition, &in, flags, NULL);
}

int topic_produce_file(struct topic *t, int partition, const struct produce_input *in, int flags,
		       struct produce_tracker *tr)
{
	const char *head = in->head, *lines = in->lines;
	size_t head_len = in->head_len, len = in->len;
	struct lsrc src = { lines, lines + len, NULL, NULL }, src0;
	struct produce_ctx ctx;
	struct produce_part one = { 0 }, *pps = &one;
	struct splitter sp = { .now = 0 };
	struct recbuf *rb = NULL;
	int64_t held = 0;
	int np = 1, rc;

	if (head_len > 0) {
		if (head[head_len - 1] != '\n')
			return -EINVAL;
		src = (struct lsrc){ head, head + head_len, len ? lines : NULL, lines + len };
	}
	if (len > 0 && !(flags & PRODUCE_FINAL) && lines[len - 1] != '\n')
		return -EINVAL;
	src0 = src;
	rc = produce_begin(t, partition, &ctx, &one);
	if (rc < 0)
		return rc;
	if (head_len + len == 0)
		goto out;
	if (partition < 0 && ctx.nparts > 1) {
		np = ctx.nparts;
		pps = calloc((size_t)np, sizeof(*pps));
		if (!pps) {
			pps = &one;
			np = 1;
			rc = -ENOMEM;
			goto out;
		}
	} else if (partition < 0) {
		rc = produce_part_take(&ctx, 0, &one);
		if (rc < 0)
			goto out;
		partition = 0;
	}
	rc = compact_keys_check(&ctx, &src);
	if (rc < 0)
		goto out;
	/* buffer.memory: the bytes of this write until they are appended. */
	rc = buffer_take(t->b, (int64_t)(head_len + len), flags & PRODUCE_NONBLOCK);
	if (rc < 0) {
		/* Flow control for O_NONBLOCK writers, but a refusal all the
		 * same: one line, rate-limited (a busy writer retries fast). */
		mq_log_limited(MQ_WARN,
			       "topic %s: write of %zu bytes refused with %s: buffer.memory "
			       "full (O_NONBLOCK; nothing appended, retry)",
			       t->name, head_len + len, strerror(-rc));
		goto out;
	}
	held = (int64_t)(head_len + len);
	sp.lr.sep = ctx.cfg.log.key_sep;
	sp.lr.sep_len = ctx.cfg.log.key_sep_len;
	sp.lr.max = log_max_record_payload(&ctx.cfg.log);
	sp.lr.format = ctx.cfg.log.line_format;
	sp.lr.scratch = &sp.scr;
	sp.scr = (struct line_scratch){ 0 };
	line_scratch_reset(&sp.scr, head_len + len);
	sp.now = engine_now_ms();
	rb = recbuf_get(t->b);
	if (!rb) {
		rc = -ENOMEM;
		goto out;
	}
	if (partition < 0)
		rc = produce_spread(&ctx, pps, &sp, rb, &src);
	else
		rc = produce_one(&ctx, &one, &sp, rb, &src, tr, &held);
	rc = write_commit(&ctx, pps, np, partition >= 0, rc);
	if (rc == PRODUCE_GONE) {
		/* Sent again, once, as a new write: this broker follows the
		 * new leader now, so the appender forwards it there. */
		mq_log(MQ_INFO,
		       "topic %s partition %d: a write's offsets %lld-%lld appended in leader "
		       "epoch %d are gone with the leadership (the new leader never had them): "
		       "sent again to the new leader",
		       t->name, partition, (long long)one.first_offset, (long long)one.last_offset,
		       (int)one.last_epoch);
		src = src0;
		line_scratch_reset(&sp.scr, head_len + len);
		one.last_offset = one.first_offset = -1;
		one.last_epoch = one.first_epoch = -1;
		one.forwarded = false;
		rc = produce_one(&ctx, &one, &sp, rb, &src, tr, &held);
		rc = write_commit(&ctx, pps, np, false, rc);
	}
out:
	if (tr) {
		bool here = rc == 0 && partition >= 0 && one.log && !one.forwarded;

		tr->end = here && one.last_offset >= 0 ? one.last_offset + 1 : -1;
	}
	buffer_give(t->b, held);
	if (rb)
		recbuf_put(t->b, rb);
	line_scratch_free(&sp.scr);
	for (int q = 0; q < np; q++)
		produce_part_release(&pps[q]);
	if (pps != &one)
		free(pps);
	return rc;
}

/* ---- record batches from a Kafka client ----
 * The same two steps as a write: appended (log_append_client under the
 * log's lock only, so the batches of one request stay contiguous and a
 * mount writer's never interleave inside them), then, for acks=all,
 * committed (produce_commit_wait). Batches of an idempotent producer (a
 * Kafka client with enable.idempotence, or a broker forwarding a mount's
 * write) are judged first by the partition's producer state, under its
 * lock across the append (producer_state.h): a duplicate is answered with
 * the offsets it was appended at, and appended again never. */

#define BATCHES_ON_STACK 16

/* The producer state's judgement of the batches, under pstate.mu (held
 * on return when 0 or 2: the caller appends and updates). 1: a duplicate,
 * res->base_offset, *last and *last_epoch (of the first append) set, the
 * lock let go. 2: the first *skip batches are duplicates (res->base_offset
 * the first one's offset), the others are to be appended. */
static int idempotence_check(const struct produce_ctx *ctx, struct produce_part *pp, int32_t epoch,
			     const struct batch_producer_info *bi, int nb,
			     struct produce_batches_result *res, int64_t *last, int32_t *last_epoch,
			     int *skip)
{
	struct producer_state *ps = &pp->pt->pstate;
	int64_t first = -1;
	int rc, bad = -1;
	const struct batch_producer_info *b;

	pthread_mutex_lock(&ps->mu);
	rc = producer_state_load(
		ps, pp->log, epoch, engine_now_ms(),
		__atomic_load_n(&ctx->t->b->producer_id_expiration_ms, __ATOMIC_RELAXED));
	if (rc < 0) {
		mq_log_limited(MQ_ERR,
			       "topic %s partition %d: producer state not rebuilt from the log: "
			       "%s; idempotent batches refused",
			       ctx->t->name, pp->pt->index, strerror(-rc));
		pthread_mutex_unlock(&ps->mu);
		return -EIO;
	}
	rc = producer_state_check(ps, bi, nb, &first, last, last_epoch, &bad);
	if (rc == 0)
		return 0;
	if (rc == 2) {
		res->base_offset = first;
		*skip = bad;
		mq_log_limited(MQ_INFO,
			       "topic %s partition %d: producer %lld epoch %d sequence %d: its "
			       "first %d of %d batches sent again (answered from offset %lld), "
			       "the rest appended",
			       ctx->t->name, pp->pt->index, (long long)bi[0].producer_id,
			       (int)bi[0].producer_epoch, (int)bi[0].base_sequence, bad, nb,
			       (long long)first);
		return 2;
	}
	pthread_mutex_unlock(&ps->mu);
	if (rc == 1) {
		res->base_offset = first;
		mq_log_limited(MQ_INFO,
			       "topic %s partition %d: producer %lld epoch %d sequence %d sent "
			       "again: answered with offset %lld, not appended",
			       ctx->t->name, pp->pt->index, (long long)bi[0].producer_id,
			       (int)bi[0].producer_epoch, (int)bi[0].base_sequence,
			       (long long)first);
		return 1;
	}
	b = &bi[bad >= 0 ? bad : 0];
	res->bad_batch = bad;
	mq_log_limited(MQ_WARN,
		       "topic %s partition %d: producer %lld epoch %d sequence %d refused: %s",
		       ctx->t->name, pp->pt->index, (long long)b->producer_id,
		       (int)b->producer_epoch, (int)b->base_sequence,
		       rc == -ESTALE ? "an older producer epoch than the log's"
				     : "out of order (not the next sequence of this producer)");
	return rc;
}

/* Partition p of t into pp (released by the caller, also on an error),
 * with its log, on its leader: the leader epoch an append with acks
 * would take (append_epoch) into *epoch. -ENOENT no such partition;
 * -EREMOTE not the leader (no replica here, or a follower); -ENXIO
 * offline; -EAGAIN (acks -1) fewer in-sync replicas than
 * min.insync.replicas. */
static int leader_take(struct topic *t, int p, int acks, struct produce_ctx *ctx,
		       struct produce_part *pp, int32_t *epoch)
{
	int rc;

	if (p < 0)
		return -ENOENT;
	rc = produce_begin(t, p, ctx, pp);
	if (rc < 0)
		return rc;
	if (!pp->log)
		return -EREMOTE; /* no replica here: not the leader either */
	ctx->cfg.acks = acks;
	return append_epoch(ctx, pp, epoch);
}

int topic_produce_batches(struct topic *t, int partition, uint8_t *batches, size_t len, int acks,
			  int64_t timeout_ms, struct produce_batches_result *res,
			  struct produce_wait *wait)
{
	struct produce_ctx ctx;
	struct produce_part pp = { 0 };
	struct log_append_info info;
	struct batch_producer_info stack[BATCHES_ON_STACK], *bi = stack;
	int64_t t0 = now_mono_ns(), last = -1;
	int32_t epoch, last_epoch = -1;
	bool idem = false;
	int rc, nb, skip = 0;

	res->bad_batch = -1;
	res->why[0] = '\0';
	res->base_offset = -1;
	res->log_start_offset = -1;
	res->log_append_time = -1;
	rc = leader_take(t, partition, acks, &ctx, &pp, &epoch);
	if (rc == 0)
		rc = topic_lines_fix(t, NULL, NULL, 0); /* as mount_append_epoch */
	if (rc < 0)
		goto out;
	/* Bytes that do not frame: 0 here, log_append_client says why. */
	nb = producer_state_headers(batches, len, stack, BATCHES_ON_STACK, &bi);
	if (nb < 0) {
		rc = nb;
		goto out;
	}
	for (int i = 0; i < nb; i++) {
		/* Kafka's LogValidator: a producer's sequences start at 0, so
		 * a producer id with a negative one is no producer's batch
		 * (INVALID_RECORD), refused before the producer state judges
		 * it. */
		if (bi[i].producer_id >= 0 && bi[i].base_sequence < 0) {
			res->bad_batch = i;
			snprintf(res->why, sizeof(res->why),
				 "producer id %lld with base sequence %d",
				 (long long)bi[i].producer_id, (int)bi[i].base_sequence);
			rc = -EPERM;
			goto out;
		}
		idem = idem || bi[i].producer_id >= 0;
	}
	if (idem) {
		rc = idempotence_check(&ctx, &pp, epoch, bi, nb, res, &last, &last_epoch, &skip);
		if (rc == 1) {
			struct batch_producer_info first;

			/* LogAppendTime: a duplicate is answered with the time
			 * its first append was stamped with, as Kafka answers
			 * it (its kept batch's timestamp), so that a client's
			 * retried records get the time they are stored with. */
			if (ctx.cfg.log.log_append_time &&
			    log_batch_producer_at(pp.log, res->base_offset, &first) == 0)
				res->log_append_time = first.max_timestamp;
			rc = 0;
			goto committed;
		}
		if (rc < 0)
			goto out;
		/* Rule 6: the batches after those sent again only. */
		for (int i = 0; i < skip; i++) {
			batches += bi[i].size;
			len -= (size_t)bi[i].size;
		}
	}
	/* message.timestamp.type=LogAppendTime: the batches carry the
	 * append's time, which the answer gives back (Kafka's). */
	if (ctx.cfg.log.log_append_time)
		res->log_append_time = engine_now_ms();
	rc = log_append_client(pp.log, batches, len, epoch, res->log_append_time, &info,
			       &res->bad_batch);
	for (int tries = 0; epoch_moved(&ctx, &pp, rc, &tries);) {
		rc = append_epoch(&ctx, &pp, &epoch);
		if (rc == 0)
			rc = log_append_client(pp.log, batches, len, epoch, res->log_append_time,
					       &info, &res->bad_batch);
	}
	if (res->bad_batch >= 0)
		res->bad_batch += skip; /* an index into the request's batches */
	if (rc == -EBADMSG || rc == -EPROTO || rc == -EPERM || rc == -EINVAL || rc == -ENOKEY ||
	    rc == -ERANGE || rc == -E2BIG) {
		/* The client's bytes, not the log: no error of ours to log. */
		if (rc == -EBADMSG || rc == -ERANGE || rc == -E2BIG)
			snprintf(res->why, sizeof(res->why), "%s", info.why);
		if (idem)
			pthread_mutex_unlock(&pp.pt->pstate.mu);
		goto out;
	}
	if (rc == -EMSGSIZE) /* its size, as sent or once recompressed */
		snprintf(res->why, sizeof(res->why), "%s", info.why);
	rc = appended(&ctx, &pp, rc, &info, engine_now_ms(), t0);
	if (idem) {
		/* Kept only once appended for good: a flush that failed took
		 * the records back, so a resend must append them again. */
		if (rc == 0) {
			int64_t off = info.first_offset;

			for (int i = skip; i < nb; i++) {
				bi[i].base_offset = off;
				bi[i].last_offset = off + bi[i].records - 1;
				bi[i].leader_epoch = epoch;
				/* LogAppendTime: the expiry clock is the time
				 * the log stamped the batch with (a state rebuilt
				 * from the log reads that), not the client's. */
				if (res->log_append_time >= 0)
					bi[i].max_timestamp = res->log_append_time;
				off += bi[i].records;
			}
			if (producer_state_update(&pp.pt->pstate, bi + skip, nb - skip) < 0)
				producer_state_clear(&pp.pt->pstate); /* loaded again */
		} else {
			producer_state_clear(&pp.pt->pstate);
		}
		pthread_mutex_unlock(&pp.pt->pstate.mu);
	}
	if (rc < 0)
		goto out;
	if (skip == 0)
		res->base_offset = info.first_offset;
	last = info.last_offset;
	last_epoch = epoch;
committed:
	if (acks == -1 && wait) {
		/* Most are committed by now (one node: always): answered at
		 * once; the others go to the purgatory, holding no thread. */
		*wait = (struct produce_wait){ .t = t,
					       .pt = pp.pt,
					       .log = pp.log,
					       .last = last,
					       .epoch = last_epoch,
					       .lead_epoch = epoch,
					       .timeout_ms = timeout_ms };
		rc = commit_poll(wait, now_mono_ms());
		if (rc == PRODUCE_PENDING) {
			topic_get(t);
			pp.log = NULL; /* the wait's reference now */
			wait->deadline_ms = now_mono_ms() + timeout_ms;
			goto out;
		}
	} else if (acks == -1) {
		rc = commit_wait(t, pp.pt, pp.log, last, last_epoch, timeout_ms, epoch, -1, -1);
	}
	if (acks == -1 && rc == 0)
		rc = commit_isr_check(t, pp.pt, last);
	res->log_start_offset = log_get_start(pp.log);
out:
	if (bi != stack)
		free(bi);
	produce_part_release(&pp);
	return rc;
}

int topic_active_producers(struct topic *t, int partition, struct producer_summary **out)
{
	struct produce_ctx ctx;
	struct produce_part pp = { 0 };
	struct producer_state *ps;
	int32_t epoch;
	int rc;

	*out = NULL;
	/* Leadership as an acks=1 append asks it. A follower replica
	 * answers with its own state (Kafka's activeProducerState, on any
	 * online replica), which its appends keep (replica_producers.c). */
	rc = leader_take(t, partition, 1, &ctx, &pp, &epoch);
	if (rc == -EREMOTE && pp.log && cluster_follows(t->b->cluster, t->name, partition)) {
		epoch = -1;
		rc = 0;
	}
	if (rc < 0)
		goto out;
	ps = &pp.pt->pstate;
	pthread_mutex_lock(&ps->mu);
	/* The state a produce in this leader epoch would judge by: loaded
	 * here when no idempotent batch has come in it yet (a follower's:
	 * when its appends have not kept it). */
	rc = producer_state_load(ps, pp.log, epoch, engine_now_ms(),
				 t->b->cfg.producer_id_expiration_ms);
	if (rc < 0) {
		mq_log_limited(MQ_ERR,
			       "topic %s partition %d: producer state not rebuilt from the log: %s",
			       t->name, partition, strerror(-rc));
		rc = -EIO;
	} else {
		rc = producer_state_list(ps, out);
	}
	pthread_mutex_unlock(&ps->mu);
out:
	produce_part_release(&pp);
	return rc;
}
