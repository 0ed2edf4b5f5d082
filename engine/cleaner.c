/*
 * cleaner.c — log compaction (cleanup.policy=compact), Kafka's LogCleaner
 * for one log at a time, with positions that never move.
 *
 * Terms (Kafka's):
 *   first dirty offset   the cleaner checkpoint: below it the log has been
 *                        compacted (cleaner-offset-checkpoint, logmgr.c)
 *   cleanable segments   closed segments, oldest first, while every record
 *                        is below the hw and the checkpointed recovery
 *                        point (see log.c's prefix rule) and the largest
 *                        timestamp is older than min.compaction.lag.ms;
 *                        the first segment that fails ends the range (its
 *                        base is the "first uncleanable offset")
 *   dirty ratio          bytes of cleanable segments at or above the first
 *                        dirty offset / bytes of all cleanable segments; a
 *                        log is cleaned when it is above (not at)
 *                        min.cleanable.dirty.ratio
 *
 * One clean:
 *   1. Offset map: every keyed record of the dirty cleanable segments, key
 *      -> its latest offset. Keys are stored as a 128-bit hash (Kafka keeps
 *      an MD5), 24 bytes an entry, at most log.cleaner.dedupe.buffer.size
 *      bytes; when it fills, the dirty range ends at the last segment that
 *      fit.
 *   2. Every cleanable segment (clean and dirty part) is rewritten: a keyed
 *      record stays only if the map has no later offset for its key; a
 *      tombstone (a null value, as in Kafka: an empty value is a value,
 *      kept as the latest of its key for ever) also goes once the clean's
 *      time is at or past its batch's delete horizon (Kafka's KIP-534: a
 *      batch that keeps a tombstone and has none is written again with
 *      the horizon now + delete.retention.ms, as its baseTimestamp with
 *      attribute bit 6; keep_rec); a record without a key goes (Kafka's
 *      cleaner drops it as invalid); control batches and the last batch
 *      of each producer id in the log
 *      (cleaner_producers.c: the producer state rebuilt from the log needs
 *      its header) always stay. A batch that keeps all its records (and
 *      needs no horizon) is copied byte for byte; one that loses some, or
 *      gets its horizon, is re-encoded (same codec,
 *      leader epoch, record timestamps and headers, producer id and epoch)
 *      as one batch per run of consecutive survivors, so that inside each
 *      batch the survivors' line positions are contiguous, as .lines
 *      requires (seg.c); a run's base sequence is the original base
 *      sequence plus its first record's offset delta. A batch that loses
 *      every record goes whole. Each output batch's .lines entry carries
 *      its first survivor's original line position: offsets and line
 *      positions of survivors never change.
 *   3. A segment where nothing goes and no horizon is set is left alone.
 *      Otherwise its cleaned
 *      copy replaces it (below), and the log's segment list points to the
 *      new files; a cursor reading the old one keeps its descriptors and
 *      finishes the old bytes, which are the same records plus the removed
 *      ones.
 *   4. The first dirty offset becomes the first uncleanable offset.
 *
 * The swap, per segment, with <f> each of .index .timeindex .lines .log
 * (.log always last):
 *
 *   a. <base><f>.cleaned written, fsynced, directory fsynced
 *   b. <base><f>.cleaned renamed to <base><f>.swap, directory fsynced
 *   c. <base><f>.swap renamed over <base><f>, directory fsynced
 *
 * Recovery (cleaner_recover_dir, at log open): .cleaned files are deleted
 * (the old segment is intact); .swap files without <base>.log.swap are
 * from an unfinished step b and are deleted; when <base>.log.swap exists,
 * step b completed and the swap is finished by renaming every remaining
 * .swap over its original. Either way the segment is wholly old or wholly
 * new, and both hold every surviving record at its offset and position.
 *
 * Corruption: every batch is checked whole as it is read (rd_next). A
 * corrupt one is reported (log_corrupt) and fails the clean with -EBADMSG
 * before anything of its segment, or of any later segment, is rewritten;
 * segments already swapped hold the same surviving records as before. The
 * first dirty offset does not move, so every later clean stops there too
 * until the segment is gone (retention) or repaired: a log with a bad
 * batch is in effect not compacted, and loses nothing to the cleaner.
 *
 * Threads: log_clean runs on the broker's cleaner thread under the log's
 * maint_lock (retention waits); it takes the log's lock only to snapshot
 * the cleanable segments, to swap a segment pointer and to see whether
 * the log was dropped: a dropped log (logmgr_drop_log waits on maint_lock)
 * stops the clean before its next segment with -ENOENT, that segment and
 * the rest left as they were.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/log_int.h"
#include "util/clock.h"
#include "util/readdir.h"

/* ---- recovery of an interrupted swap ---- */

static bool has_suffix(const char *n, const char *sfx)
{
	size_t a = strlen(n), b = strlen(sfx);
	return a > b && strcmp(n + a - b, sfx) == 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* names is sorted (name_cmp): a directory of 10,000 segments holds 40,000
 * names and each index file asks for its .log, so a linear search made
 * every log open quadratic in its segments (seconds per partition). */
static bool name_in(char **names, int n, const char *want)
{
	return n > 0 && bsearch(&want, names, (size_t)n, sizeof(*names), name_cmp);
}

int cleaner_recover_dir(const struct io_ops *io, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	char **names = NULL;
	int n = 0, cap = 0, rc = 0, err;
	bool changed = false;
	struct dirent *de;
	while ((de = readdir_checked(d, &err))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **nn = realloc(names, (size_t)cap * sizeof(*nn));
			if (!nn) {
				rc = -ENOMEM;
				goto out;
			}
			names = nn;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			goto out;
		}
		n++;
	}
	/* A swap half seen would be finished or rolled back wrongly. */
	if (err < 0) {
		ENGINE_REPORT(ENGINE_LOG_ERR, "%s: cannot list the log's files: %s", dir,
			      strerror(-err));
		rc = err;
		goto out;
	}
	if (n > 1)
		qsort(names, (size_t)n, sizeof(*names), name_cmp);
	for (int i = 0; i < n && rc == 0; i++) {
		const char *nm = names[i];
		char p[PATH_MAX + 300], q[PATH_MAX + 300], logswap[300];
		snprintf(p, sizeof(p), "%s/%s", dir, nm);
		if (has_suffix(nm, ".cleaned")) {
			io->unlink(io->ctx, p);
			changed = true;
		} else if (has_suffix(nm, ".swap") && strlen(nm) > 20 &&
			   strspn(nm, "0123456789") == 20 && nm[20] == '.') {
			snprintf(logswap, sizeof(logswap), "%.20s.log.swap", nm);
			if (strcmp(nm, logswap) == 0)
				continue; /* renamed last, below */
			if (name_in(names, n, logswap)) {
				snprintf(q, sizeof(q), "%s/%.*s", dir, (int)(strlen(nm) - 5), nm);
				rc = io->rename(io->ctx, p, q);
			} else {
				io->unlink(io->ctx, p);
			}
			changed = true;
		}
	}
	for (int i = 0; i < n && rc == 0; i++) {
		const char *nm = names[i];
		if (strlen(nm) == 29 && strcmp(nm + 20, ".log.swap") == 0) {
			char p[PATH_MAX + 300], q[PATH_MAX + 300];
			snprintf(p, sizeof(p), "%s/%s", dir, nm);
			snprintf(q, sizeof(q), "%s/%.24s", dir, nm);
			rc = io->rename(io->ctx, p, q);
			changed = true;
		}
	}
	/* Index files whose .log is gone: a deletion cut short (the .log is
	 * renamed first). Without this they would be mistaken for the indexes
	 * of a later segment of the same base. */
	for (int i = 0; i < n && rc == 0; i++) {
		const char *nm = names[i], *dot = strchr(nm, '.');
		if (!dot || dot - nm != 20 || strspn(nm, "0123456789") != 20 ||
		    (strcmp(dot, ".index") && strcmp(dot, ".timeindex") && strcmp(dot, ".lines")))
			continue;
		char want[32];
		snprintf(want, sizeof(want), "%.20s.log", nm);
		if (!name_in(names, n, want)) {
			char want2[40];
			snprintf(want2, sizeof(want2), "%.20s.log.swap", nm);
			if (name_in(names, n, want2))
				continue;
			char p[PATH_MAX + 300];
			snprintf(p, sizeof(p), "%s/%s", dir, nm);
			io->unlink(io->ctx, p);
			changed = true;
		}
	}
	if (rc == 0 && changed)
		rc = io->fsync_dir(io->ctx, dir);
out:
	closedir(d);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* ---- the offset map ---- */

struct omap_ent {
	uint64_t a, b;
	int64_t offset;
}; /* offset -1: free */
struct omap {
	struct omap_ent *e;
	size_t cap, used, max_used;
};

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* MurmurHash64A (Austin Appleby, public domain), written out here. */
static uint64_t murmur64a(const uint8_t *p, size_t n, uint64_t seed)
{
	const uint64_t m = 0xc6a4a7935bd1e995ULL;
	const int r = 47;
	uint64_t h = seed ^ (n * m);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t k;
		memcpy(&k, p + i, 8);
		k *= m;
		k ^= k >> r;
		k *= m;
		h ^= k;
		h *= m;
	}
	uint64_t t = 0;
	for (size_t j = 0; i + j < n; j++)
		t |= (uint64_t)p[i + j] << (8 * j);
	if (n & 7) {
		h ^= t;
		h *= m;
	}
	h ^= h >> r;
	h *= m;
	h ^= h >> r;
	return h;
}

static int omap_init(struct omap *m, int64_t want_entries, int64_t max_bytes)
{
	size_t cap = 1024;
	int64_t max_cap = max_bytes / (int64_t)sizeof(struct omap_ent);
	while ((int64_t)cap < want_entries * 2 && (int64_t)cap * 2 <= max_cap)
		cap *= 2;
	m->e = malloc(cap * sizeof(*m->e));
	if (!m->e)
		return -ENOMEM;
	for (size_t i = 0; i < cap; i++)
		m->e[i].offset = -1;
	m->cap = cap;
	m->used = 0;
	m->max_used = cap * 9 / 10; /* Kafka's dedupe load factor */
	return 0;
}

static void key_hash(const uint8_t *k, int32_t len, uint64_t *a, uint64_t *b)
{
	*a = fnv1a64(k, (size_t)len);
	*b = murmur64a(k, (size_t)len, 0x9e3779b97f4a7c15ULL);
}

static struct omap_ent *omap_slot(struct omap *m, uint64_t a, uint64_t b)
{
	size_t i = (size_t)(a ^ (b >> 7)) & (m->cap - 1);
	for (;;) {
		struct omap_ent *e = &m->e[i];
		if (e->offset < 0 || (e->a == a && e->b == b))
			return e;
		i = (i + 1) & (m->cap - 1);
	}
}

/* 0, or -ENOBUFS when a new key does not fit (not ENOSPC: that is the
 * disk's, and the two call for different cures). */
static int omap_put(struct omap *m, uint64_t a, uint64_t b, int64_t offset)
{
	struct omap_ent *e = omap_slot(m, a, b);
	if (e->offset < 0) {
		if (m->used >= m->max_used)
			return -ENOBUFS;
		m->used++;
		e->a = a;
		e->b = b;
	}
	e->offset = offset;
	return 0;
}

static int64_t omap_get(struct omap *m, uint64_t a, uint64_t b)
{
	return omap_slot(m, a, b)->offset;
}

/* ---- cleanable range ---- */

/* Number of cleanable segments from the start (lock held). */
static int cleanable_count(struct log *l, int64_t now)
{
	int k = 0;
	for (; k < l->nsegs - 1; k++) {
		struct seg *s = l->segs[k];
		if (l->segs[k + 1]->base_offset > l->hw)
			break;
		/* Only segments below the checkpointed recovery point: recovery
		 * relies on every segment after it being as appended (log.c's
		 * prefix rule); the broker checkpoints before cleaning. */
		if (l->segs[k + 1]->base_offset > l->recovery_point_ckpt)
			break;
		/* min.compaction.lag.ms holds back the dirty segments only, as
		 * Kafka's cleanableOffsets looks at those from the first dirty
		 * offset: a cleaned one (records stamped ahead of the clock,
		 * or a lag raised since) does not keep the older dirty ones
		 * after it from being cleaned. Records without a timestamp
		 * wait from their last append (seg_largest_ts), not none at
		 * all. */
		if (l->cfg.min_compaction_lag_ms > 0 &&
		    l->segs[k + 1]->base_offset > l->first_dirty_offset &&
		    now - seg_largest_ts(s) < l->cfg.min_compaction_lag_ms)
			break;
	}
	return k;
}

static double ratio_locked(struct log *l, int k)
{
	int64_t clean = 0, dirty = 0;
	for (int i = 0; i < k; i++) {
		int64_t sz = atomic_load(&l->segs[i]->size);
		if (l->segs[i]->base_offset >= l->first_dirty_offset)
			dirty += sz;
		else
			clean += sz;
	}
	return clean + dirty > 0 ? (double)dirty / (double)(clean + dirty) : 0.0;
}

int log_dirty_ratio(struct log *l, int64_t now, double *ratio)
{
	pthread_mutex_lock(&l->lock);
	*ratio = ratio_locked(l, cleanable_count(l, now));
	pthread_mutex_unlock(&l->lock);
	return 0;
}

/* max.compaction.lag.ms (Kafka's needCompactionNow): whether a record of
 * the dirty closed segments segs[0..n) has waited longer than max_lag
 * since its timestamp, so that the log is cleaned whatever its dirty
 * ratio: as far as it is cleanable, which min.compaction.lag.ms bounds
 * (cleanable_count) also when it is above max_lag (Kafka's
 * grabFilthiestCompactedLog: needCompactionNow and cleanable bytes). Each segment's first batch's max timestamp stands for its oldest
 * record (Kafka's getFirstBatchTimestamp); a header that cannot be read
 * makes no segment due (the clean itself reports damage). The segments
 * are referenced and closed: their first bytes never change. */
static bool lag_due(struct seg **segs, int n, int64_t now, int64_t max_lag)
{
	for (int i = 0; i < n; i++) {
		uint8_t h[BATCH_HDR_SIZE];
		int64_t ts;

		if (seg_pread(segs[i], SEG_FD_LOG, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		    h[BATCH_OFF_MAGIC] != BATCH_MAGIC)
			continue;
		ts = (int64_t)be64_get(h + BATCH_OFF_MAX_TS);
		/* Above 0, as Kafka's maxCompactionDelay filters them: a batch
		 * stamped 0 (the epoch) makes no segment due. */
		if (ts > 0 && ts <= now && now - ts > max_lag)
			return true;
	}
	return false;
}

/* ---- reading a segment batch by batch ---- */

struct seg_reader {
	struct log *l;
	struct seg *s;
	int64_t ent, nent, size;
	uint8_t *buf;
	size_t cap;
	struct batch_iter it;
	struct batch_hdr hdr;
	int64_t total;    /* size of the current batch */
	int64_t pos;      /* its position in the .log */
	int64_t line_pos; /* of its first record */
};

/* Loads the next batch. 1 = loaded, 0 = end, -errno. */
static int rd_next(struct seg_reader *r)
{
	if (r->ent >= r->nent)
		return 0;
	struct lines_ent e;
	int rc = seg_read_lines_ent(r->s, r->ent++, &e);
	if (rc < 0)
		return rc;
	r->total = seg_read_batch(r->s, e.position, r->size, &r->buf, &r->cap);
	if (r->total <= 0)
		rc = r->total < 0 ? (int)r->total : -EBADMSG;
	else
		rc = batch_hdr_decode(r->buf, (size_t)r->total, &r->hdr);
	if (rc == 0)
		rc = batch_iter_init(&r->it, r->buf, (size_t)r->total);
	if (rc < 0) {
		/* The clean stops here: nothing of this segment or any later one
		 * is rewritten, so no record is dropped for want of reading it. */
		if (rc == -EBADMSG)
			log_corrupt(r->l, r->s, e.position, r->total > 0 ? r->buf : NULL,
				    r->total > 0 ? (size_t)r->total : 0);
		return rc;
	}
	r->pos = e.position;
	r->line_pos = e.line_pos;
	return 1;
}

/* A malformed record under a good CRC: reported like a bad batch. */
static int rd_bad_record(struct seg_reader *r, int rc)
{
	if (rc == -EBADMSG)
		log_corrupt(r->l, r->s, r->pos, r->buf, (size_t)r->total);
	return rc;
}

static void rd_init(struct seg_reader *r, struct log *l, struct seg *s)
{
	memset(r, 0, sizeof(*r));
	r->l = l;
	r->s = s;
	r->nent = atomic_load(&s->lines_entries);
	r->size = atomic_load(&s->size);
}

static void rd_free(struct seg_reader *r)
{
	batch_iter_free(&r->it);
	free(r->buf);
}

/* ---- step 1: the map ---- */

/* Adds the keyed records of segs [from, to) to the map. Returns the index
 * of the first segment NOT wholly added (to when all fit). */
static int build_map(struct log *l, struct seg **segs, int from, int to, struct omap *m,
		     struct log_clean_stats *st)
{
	int i = from;
	for (; i < to; i++) {
		struct seg_reader r;
		rd_init(&r, l, segs[i]);
		int rc;
		bool full = false;
		while (!full && (rc = rd_next(&r)) == 1) {
			struct rec rec;
			while ((rc = batch_iter_next(&r.it, &rec)) == 1) {
				if (rec.key_len < 0 || (r.hdr.attributes & BATCH_ATTR_CONTROL))
					continue;
				uint64_t a, b;
				key_hash(rec.key, rec.key_len, &a, &b);
				if (omap_put(m, a, b, rec.offset) < 0) {
					full = true;
					break;
				}
			}
			if (rc < 0) {
				rd_bad_record(&r, rc);
				break;
			}
		}
		rd_free(&r);
		if (rc < 0)
			return rc;
		if (full)
			break;
	}
	(void)st;
	return i;
}

/* ---- step 2: rewriting one segment ---- */

struct clean_ctx {
	struct omap *map;
	int64_t now;
	int64_t delete_retention_ms;
	struct line_fmt lf;
	int32_t index_interval;
	struct rec *recs; /* one batch's records */
	bool *keep;
	int recs_cap;
	uint8_t *out; /* re-encoded batches */
	size_t out_cap;
	struct batch_meta *meta;
	int meta_cap;
	struct cleaner_producers prods; /* the batches kept whole */
	/* The keys (key_hash's first half, 0 read as 1) of the values of
	 * idempotent producers' batches this clean has kept so far, in offset
	 * order: a later tombstone of one of them stays, else the value would
	 * outlive it and the deleted key come back. Such a value can outlive
	 * a later record of its key because a producer's last batch stays
	 * whole (cleaner_producers.c); once the producer writes again the
	 * batch is cleaned as any other, but only against the keys of the
	 * dirty range, where its key may no longer be. A set with linear
	 * probing, half full at most; a false match only keeps a tombstone.
	 * Past pinned_max keys no tombstone goes this clean (pinned_full). */
	uint64_t *pinned;
	size_t pinned_cap, pinned_n, pinned_max;
	bool pinned_full;
	/* The current batch's delete horizon (-1: none), and whether it keeps
	 * a tombstone without one: then it is written again with the horizon
	 * now + delete.retention.ms (classify). */
	int64_t horizon;
	bool set_horizon;
};

static bool pin_has(const struct clean_ctx *c, uint64_t a)
{
	if (c->pinned_full)
		return true;
	a = a ? a : 1;
	for (size_t i = c->pinned_cap ? a & (c->pinned_cap - 1) : 0; c->pinned_cap;
	     i = (i + 1) & (c->pinned_cap - 1)) {
		if (c->pinned[i] == a)
			return true;
		if (c->pinned[i] == 0)
			return false;
	}
	return false;
}

static void pin_put(uint64_t *set, size_t cap, uint64_t a)
{
	size_t i = a & (cap - 1);

	while (set[i] != 0 && set[i] != a)
		i = (i + 1) & (cap - 1);
	set[i] = a;
}

static int pin_add(struct clean_ctx *c, uint64_t a)
{
	a = a ? a : 1;
	if (pin_has(c, a))
		return 0;
	if (c->pinned_n >= c->pinned_max) {
		c->pinned_full = true;
		return 0;
	}
	if (2 * (c->pinned_n + 1) > c->pinned_cap) {
		size_t cap = c->pinned_cap ? 2 * c->pinned_cap : 64;
		uint64_t *set = calloc(cap, sizeof(*set));

		if (!set)
			return -ENOMEM;
		for (size_t i = 0; i < c->pinned_cap; i++)
			if (c->pinned[i])
				pin_put(set, cap, c->pinned[i]);
		free(c->pinned);
		c->pinned = set;
		c->pinned_cap = cap;
	}
	pin_put(c->pinned, c->pinned_cap, a);
	c->pinned_n++;
	return 0;
}

/* r: whether the clean keeps it. */
static bool keep_rec(struct clean_ctx *c, const struct rec *r)
{
	/* A record without a key goes, as Kafka's shouldRetainRecord drops
	 * it (an invalid message in a compacted log): written before the
	 * topic became compacted, since a compacted topic refuses them. */
	if (r->key_len < 0)
		return false;
	uint64_t a, b;
	key_hash(r->key, r->key_len, &a, &b);
	int64_t latest = omap_get(c->map, a, b);
	if (latest > r->offset)
		return false;
	/* Only a null value is a tombstone (Kafka's LogCleaner: a record
	 * without a value): a Kafka client's empty value ("" or a zero-length
	 * byte array) is that key's value, and removing it would lose the key.
	 * The mount writes key<sep> as a null value, so its tombstones go.
	 * Only past its batch's delete horizon, as Kafka's (KIP-534): the
	 * first clean that keeps a tombstone sets it to now +
	 * delete.retention.ms (classify, rewrite_batch), so that every
	 * reader has delete.retention.ms after the clean that removed the
	 * key's older values to meet the tombstone, whatever its timestamp
	 * and however late that clean came. */
	if (r->value_len < 0 && c->horizon >= 0 && c->now >= c->horizon && !pin_has(c, a))
		return false;
	return true;
}

/* Decodes the current batch's records into c->recs / c->keep. Returns the
 * number of records, or -errno; *kept = survivors. */
static int classify(struct clean_ctx *c, struct seg_reader *r, int *kept)
{
	int n = 0, rc;
	struct rec rec;
	bool whole = (r->hdr.attributes & BATCH_ATTR_CONTROL) ||
		     cleaner_producers_is_last(&c->prods, r->hdr.producer_id, r->hdr.base_offset);
	bool pin = r->hdr.producer_id >= 0 && !(r->hdr.attributes & BATCH_ATTR_CONTROL);

	*kept = 0;
	c->horizon = batch_hdr_delete_horizon(&r->hdr);
	c->set_horizon = false;
	while ((rc = batch_iter_next(&r->it, &rec)) == 1) {
		if (n == c->recs_cap) {
			int nc = c->recs_cap ? c->recs_cap * 2 : 256;
			struct rec *nr = realloc(c->recs, (size_t)nc * sizeof(*nr));
			bool *nk = nr ? realloc(c->keep, (size_t)nc * sizeof(*nk)) : NULL;
			if (nr)
				c->recs = nr;
			if (!nk)
				return -ENOMEM;
			c->keep = nk;
			c->recs_cap = nc;
		}
		c->recs[n] = rec;
		c->keep[n] = whole || keep_rec(c, &rec);
		/* A batch kept whole stays byte for byte (cleaner_producers.c):
		 * its tombstones get a horizon once it is cleaned as any. */
		if (!whole && c->keep[n] && rec.key_len >= 0 && rec.value_len < 0 && c->horizon < 0)
			c->set_horizon = true;
		if (pin && c->keep[n] && rec.key_len >= 0 && rec.value_len >= 0) {
			uint64_t a, b;

			key_hash(rec.key, rec.key_len, &a, &b);
			if (pin_add(c, a) < 0)
				return -ENOMEM;
		}
		*kept += c->keep[n];
		n++;
	}
	return rc < 0 ? rd_bad_record(r, rc) : n;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	void *np = realloc(*p, nc * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

/* The bytes of r's headers' encoding (its headersCount not counted). */
static size_t rec_headers_len(const struct rec *r)
{
	return r->headers_count > 0 && r->headers ? (size_t)(r->headers_end - r->headers) : 0;
}

/* Worst-case encoded size of r, its headers included. */
static size_t rec_max_size(const struct rec *r)
{
	return batch_record_max_size(r->key_len, r->value_len) + rec_headers_len(r) + 5;
}

/* The delete horizon a batch gets when it first keeps a tombstone: now +
 * delete.retention.ms, at most 2^63-1 (Kafka's "keep tombstones for
 * ever", where the sum would wrap below now and remove them at once). */
static int64_t horizon_of(const struct clean_ctx *c)
{
	return c->delete_retention_ms < INT64_MAX - c->now ? c->now + c->delete_retention_ms
							   : INT64_MAX;
}

/* Re-encodes the survivors of the current batch as one batch per run of
 * consecutive survivors, appended to ns. */
static int rewrite_batch(struct clean_ctx *c, struct seg_reader *r, int n, struct seg *ns,
			 struct log_clean_stats *st)
{
	int64_t line = r->line_pos;
	size_t used = 0;
	int nb = 0;
	int64_t *lines = malloc((size_t)n * sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		lines[i] = line;
		line += line_len(&c->lf, &c->recs[i]);
	}
	/* Worst case: every survivor in a batch of its own. */
	size_t need = 0;
	for (int i = 0; i < n; i++)
		if (c->keep[i])
			need += BATCH_HDR_SIZE + rec_max_size(&c->recs[i]);
	size_t mcap = (size_t)c->meta_cap;
	int rc = grow((void **)&c->out, &c->out_cap, need, 1);
	if (rc == 0)
		rc = grow((void **)&c->meta, &mcap, (size_t)n, sizeof(*c->meta));
	c->meta_cap = (int)mcap;
	for (int i = 0; i < n && rc == 0;) {
		if (!c->keep[i]) {
			i++;
			continue;
		}
		int j = i + 1;
		size_t cap = BATCH_HDR_SIZE + rec_max_size(&c->recs[i]);
		while (j < n && c->keep[j] && c->recs[j].offset == c->recs[j - 1].offset + 1) {
			cap += rec_max_size(&c->recs[j]);
			j++;
		}
		struct batch_builder bb;
		batch_builder_init(&bb, c->out + used, cap, r->hdr.attributes & BATCH_CODEC_MASK);
		/* The horizon stays once set (Kafka's filterTo keeps it). */
		if (c->horizon >= 0 || c->set_horizon)
			batch_builder_set_delete_horizon(&bb, c->horizon >= 0 ? c->horizon
									      : horizon_of(c));
		/* The timestamp type stays, as Kafka's cleaner keeps it. */
		bb.log_append_time = r->hdr.attributes & BATCH_ATTR_LOG_APPEND_TIME;
		struct batch_meta *m = &c->meta[nb];
		m->base_offset = c->recs[i].offset;
		m->last_offset = c->recs[j - 1].offset;
		m->first_line_pos = lines[i];
		m->line_bytes = lines[j - 1] + line_len(&c->lf, &c->recs[j - 1]) - lines[i];
		m->max_ts = -1;
		m->max_ts_offset = m->base_offset;
		for (int k = i; k < j && rc == 0; k++) {
			const struct rec *x = &c->recs[k];
			/* Headers stay, byte for byte, as Kafka's cleaner
			 * keeps every survivor's. */
			rc = batch_builder_add_headers(&bb, x->key, x->key_len, x->value,
						       x->value_len, x->timestamp, x->headers_count,
						       x->headers, rec_headers_len(x));
			batch_meta_note_ts(m, x->timestamp, x->offset);
		}
		if (rc < 0)
			break;
		/* The producer's fields stay, each record keeping its sequence
		 * (base sequence + offset delta, as the producer numbered it). */
		bb.producer_id = r->hdr.producer_id;
		bb.producer_epoch = r->hdr.producer_epoch;
		bb.base_sequence =
			r->hdr.base_sequence < 0
				? r->hdr.base_sequence
				: batch_seq_add(r->hdr.base_sequence,
						(int32_t)(m->base_offset - r->hdr.base_offset));
		int64_t size =
			batch_builder_finish(&bb, m->base_offset, r->hdr.partition_leader_epoch);
		if (size < 0) {
			rc = (int)size;
			break;
		}
		m->size = size;
		used += (size_t)size;
		nb++;
		i = j;
	}
	if (rc == 0 && nb > 0) {
		rc = seg_append(ns, c->out, used, c->meta, nb, c->index_interval);
		st->bytes_written += (int64_t)used;
	}
	free(lines);
	return rc;
}

/* Copies the current batch unchanged. */
static int copy_batch(struct clean_ctx *c, struct seg_reader *r, int n, struct seg *ns,
		      struct log_clean_stats *st)
{
	struct batch_meta m = {
		.base_offset = r->hdr.base_offset,
		.last_offset = r->hdr.base_offset + r->hdr.last_offset_delta,
		.max_ts = -1,
		.max_ts_offset = r->hdr.base_offset,
		.size = r->total,
		.first_line_pos = r->line_pos,
		.line_bytes = 0,
	};
	for (int i = 0; i < n; i++) {
		m.line_bytes += line_len(&c->lf, &c->recs[i]);
		batch_meta_note_ts(&m, c->recs[i].timestamp, c->recs[i].offset);
	}
	st->bytes_written += r->total;
	return seg_append(ns, r->buf, (size_t)r->total, &m, 1, c->index_interval);
}

/* Counts what a clean would change in s: records removed, and batches
 * that keep a tombstone without a delete horizon (rewritten to set it).
 * Returns that count or -errno. */
static int64_t dry_run(struct log *l, struct clean_ctx *c, struct seg *s,
		       struct log_clean_stats *st)
{
	struct seg_reader r;
	rd_init(&r, l, s);
	int64_t removed = 0;
	int rc;
	while ((rc = rd_next(&r)) == 1) {
		int kept, n = classify(c, &r, &kept);
		if (n < 0) {
			rc = n;
			break;
		}
		st->records_read += n;
		removed += n - kept + (c->set_horizon && kept > 0);
	}
	st->bytes_read += r.size;
	rd_free(&r);
	return rc < 0 ? rc : removed;
}

static void seg_name(const struct seg *s, const char *ext, const char *sfx, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s%s", s->path, ext, sfx);
}

/* Steps b and c of the swap (header comment); .log last in each. */
static int swap_files(const struct io_ops *io, const char *dir, const struct seg *s)
{
	static const char *ext[] = { ".index", ".timeindex", ".lines", ".log" };
	char a[PATH_MAX + 32], b[PATH_MAX + 32];
	int rc = 0, e;
	for (e = 0; e < 4 && rc == 0; e++) {
		seg_name(s, ext[e], ".cleaned", a, sizeof(a));
		seg_name(s, ext[e], ".swap", b, sizeof(b));
		rc = io->rename(io->ctx, a, b);
	}
	if (rc == 0)
		rc = io->fsync_dir(io->ctx, dir);
	if (rc < 0) {
		/* Not committed (no .log.swap yet, or not durable): roll back. */
		for (int k = 0; k < 4; k++) {
			seg_name(s, ext[k], ".swap", b, sizeof(b));
			io->unlink(io->ctx, b);
			seg_name(s, ext[k], ".cleaned", a, sizeof(a));
			io->unlink(io->ctx, a);
		}
		return rc;
	}
	/* Committed: from here a failure is finished by recovery at open. */
	for (e = 0; e < 4 && rc == 0; e++) {
		seg_name(s, ext[e], ".swap", a, sizeof(a));
		seg_name(s, ext[e], "", b, sizeof(b));
		rc = io->rename(io->ctx, a, b);
	}
	if (rc == 0)
		rc = io->fsync_dir(io->ctx, dir);
	return rc;
}

/* Rewrites s into <base>.*.cleaned, swaps it in and opens it as *out. */
static int clean_segment(struct log *l, struct clean_ctx *c, struct seg *s, struct seg **out,
			 struct log_clean_stats *st)
{
	struct seg *ns = NULL;
	struct seg_reader r;
	rd_init(&r, l, s);
	/* s's descriptors stay open while it is read, and (seg_keep_fds below)
	 * for good once its files are replaced: readers of s go on reading its
	 * old files, which cannot be reopened by name after the swap. Pinned
	 * first, so that keeping them cannot fail after the work is done. */
	int rc = seg_pin(s);
	if (rc < 0) {
		rd_free(&r);
		return rc;
	}
	rc = seg_create_sfx(l->io, l->fdc, l->dir, s->base_offset, s->line_base, ".cleaned", &ns);
	if (rc < 0)
		goto out;
	while ((rc = rd_next(&r)) == 1) {
		int kept, n = classify(c, &r, &kept);
		if (n < 0) {
			rc = n;
			break;
		}
		st->records_removed += n - kept;
		if (kept == n && !c->set_horizon)
			rc = copy_batch(c, &r, n, ns, st);
		else if (kept > 0)
			rc = rewrite_batch(c, &r, n, ns, st);
		if (rc < 0)
			break;
	}
	if (rc < 0)
		goto out;
	ns->dirty = true; /* fsync all four, even when empty */
	/* A closed segment's last .timeindex entry, as Kafka's cleaner
	 * gives its cleaned segment (onBecomeInactiveSegment). */
	rc = seg_close_tidx(ns, l->cfg.segment_index_bytes);
	if (rc == 0)
		rc = seg_flush(ns);
	if (rc == 0)
		rc = l->io->fsync_dir(l->io->ctx, l->dir);
	seg_unref(ns);
	ns = NULL;
	if (rc == 0)
		rc = seg_keep_fds(s);
	if (rc == 0)
		rc = swap_files(l->io, l->dir, s);
	if (rc < 0)
		goto out;
	rc = seg_open(l->io, l->fdc, l->dir, s->base_offset, &ns);
	if (rc == 0)
		rc = seg_load_tail(ns, &c->lf, -1);
	if (rc < 0)
		goto out;
	/* Retention ages records without timestamps by it, as before; the
	 * new .log takes the old one's mtime so that a restart reads the same
	 * (Kafka's cleaner sets lastModified alike). Best effort: a failure
	 * leaves the clean's time, which only keeps such records longer. */
	ns->last_append_ms = s->last_append_ms;
	if (s->last_append_ms > 0) {
		char p[PATH_MAX + 32];
		struct timespec t = { s->last_append_ms / 1000,
				      s->last_append_ms % 1000 * 1000000 };

		seg_name(s, ".log", "", p, sizeof(p));
		(void)utimensat(AT_FDCWD, p, (struct timespec[]){ t, t }, 0);
	}
	*out = ns;
	ns = NULL;
out:
	if (rc < 0 && ns) {
		/* A failure before the swap: the .cleaned files go. */
		static const char *ext[] = { ".log", ".index", ".timeindex", ".lines" };
		for (int k = 0; k < 4; k++) {
			char p[PATH_MAX + 32];
			seg_name(s, ext[k], ".cleaned", p, sizeof(p));
			l->io->unlink(l->io->ctx, p);
		}
	}
	seg_unref(ns);
	rd_free(&r);
	seg_unpin(s);
	return rc;
}

void (*engine_clean_hook)(struct log *l);

/* Replaces old by ns in the log's list; drops the list's reference to old.
 * -ESTALE if old left the log meanwhile. */
static int swap_pointer(struct log *l, struct seg *old, struct seg *ns)
{
	int rc = -ESTALE;
	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < l->nsegs; i++) {
		if (l->segs[i] == old) {
			l->segs[i] = ns;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&l->lock);
	if (rc == 0)
		seg_unref(old);
	return rc;
}

int log_clean(struct log *l, int64_t now, int64_t map_bytes, bool force, struct log_clean_stats *st)
{
	struct log_clean_stats local;
	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	int64_t t0 = now_mono_ms();
	struct seg **segs = NULL;
	struct omap map = { 0 };
	struct clean_ctx c = { 0 };
	struct kept_bytes kept = { NULL, 0, 0 };
	int k = 0, nref = 0, rc = 0;
	pthread_mutex_lock(&l->maint_lock);
	pthread_mutex_lock(&l->lock);
	st->first_dirty_offset = l->first_dirty_offset;
	if (l->deleted || l->damaged || !(l->cfg.cleanup_policy & LOG_CLEANUP_COMPACT)) {
		pthread_mutex_unlock(&l->lock);
		goto out;
	}
	k = cleanable_count(l, now);
	int d = 0; /* first dirty cleanable segment */
	while (d < k && l->segs[d]->base_offset < l->first_dirty_offset)
		d++;
	double ratio = ratio_locked(l, k);
	int64_t max_lag = l->cfg.max_compaction_lag_ms;
	/* Strictly above, as Kafka's grabFilthiestCompactedLog: at 1 no log
	 * is cleaned for its ratio (only for max.compaction.lag.ms). */
	bool by_ratio = force || ratio > l->cfg.min_cleanable_dirty_ratio;
	if (d == k || (!by_ratio && max_lag == INT64_MAX)) {
		pthread_mutex_unlock(&l->lock);
		k = 0;
		goto out;
	}
	/* Below the ratio every dirty closed segment counts for the lag,
	 * not only the cleanable ones: as Kafka's maxCompactionDelay, one
	 * that min.compaction.lag.ms holds back (or the high watermark, or
	 * the recovery point) makes the log due all the same, and the
	 * segments before it that are cleanable are cleaned. */
	nref = by_ratio ? k : l->nsegs - 1;
	segs = calloc((size_t)nref + 1, sizeof(*segs));
	if (!segs) {
		pthread_mutex_unlock(&l->lock);
		k = 0;
		nref = 0;
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < nref; i++) {
		segs[i] = l->segs[i];
		seg_ref(segs[i]);
	}
	/* Appends only add segments after it, and retention waits for us. */
	int64_t uncleanable = l->segs[k]->base_offset;
	int64_t uncleanable_line = l->segs[k]->line_base, line_start = l->line_start;
	int64_t dirty_records = uncleanable - l->segs[d]->base_offset;
	c.now = now;
	c.delete_retention_ms = l->cfg.delete_retention_ms;
	c.lf = l->lf;
	c.index_interval = l->cfg.index_interval_bytes;
	pthread_mutex_unlock(&l->lock);
	/* Below the ratio: cleaned only for a record that waited too long
	 * (its headers read without the lock). */
	if (!by_ratio && !lag_due(segs + d, nref - d, now, max_lag))
		goto out; /* unreferences segs[0..nref) */
	if (engine_clean_hook)
		engine_clean_hook(l);

	rc = cleaner_producers_load(l, &c.prods);
	if (rc == 0)
		rc = omap_init(&map, dirty_records, map_bytes);
	if (rc < 0)
		goto out;
	c.map = &map;
	/* At most half the map's bytes again for the set (16 bytes a key). */
	c.pinned_max = map_bytes / 32 > 65536 ? (size_t)(map_bytes / 32) : 65536;
	int end = build_map(l, segs, d, k, &map, st);
	if (end < 0) {
		rc = end;
		goto out;
	}
	if (end == d) {
		/* Not even one dirty segment's keys fit: Kafka's advice applies. */
		rc = -ENOBUFS;
		goto out;
	}
	/* Some fit: this pass cleans up to the first that did not, the next
	 * goes on from there; said, as the map's size is what to raise. */
	if (end < k)
		ENGINE_REPORT(ENGINE_LOG_WARN,
			      "%s: the cleaner's offset map (%" PRId64
			      " bytes: log.cleaner.dedupe.buffer.size) holds the keys of %d of "
			      "%d dirty segment(s): cleaned below offset %" PRId64
			      ", the rest at the next pass",
			      l->dir, map_bytes, end - d, k - d, segs[end]->base_offset);
	/* The bytes of the page that holds the range's end, below it, as they
	 * are before the clean (retention.c, "Pages kept"). */
	kept_capture(l, line_start, end < k ? segs[end]->line_base : uncleanable_line, &kept);
	for (int i = 0; i < end; i++) {
		if (log_dropped(l)) {
			rc = -ENOENT;
			goto out;
		}
		st->segments_read++;
		int64_t removed = dry_run(l, &c, segs[i], st);
		if (removed < 0) {
			rc = (int)removed;
			goto out;
		}
		if (removed == 0)
			continue;
		struct seg *ns = NULL;
		rc = clean_segment(l, &c, segs[i], &ns, st);
		if (rc < 0)
			goto out;
		rc = swap_pointer(l, segs[i], ns);
		if (rc < 0) {
			seg_unref(ns);
			goto out;
		}
		st->segments_rewritten++;
	}
	if (c.pinned_full)
		ENGINE_REPORT(ENGINE_LOG_WARN,
			      "%s: more than %zu keys of idempotent producers' values kept: no "
			      "tombstone removed by this clean (log.cleaner.dedupe.buffer.size "
			      "bounds them)",
			      l->dir, c.pinned_max);
	pthread_mutex_lock(&l->lock);
	int64_t next = end < k ? segs[end]->base_offset : uncleanable;
	if (next > l->first_dirty_offset)
		l->first_dirty_offset = next;
	if (st->segments_rewritten > 0 && kept.buf) {
		kept_free(&l->cleaned);
		l->cleaned = kept;
		kept = (struct kept_bytes){ NULL, 0, 0 };
	}
	st->first_dirty_offset = l->first_dirty_offset;
	pthread_mutex_unlock(&l->lock);
	rc = 1;
out:
	kept_free(&kept);
	for (int i = 0; i < nref && segs; i++)
		seg_unref(segs[i]);
	free(segs);
	free(map.e);
	free(c.recs);
	free(c.keep);
	free(c.out);
	free(c.meta);
	free(c.pinned);
	cleaner_producers_free(&c.prods);
	st->elapsed_ms = now_mono_ms() - t0;
	pthread_mutex_unlock(&l->maint_lock);
	return rc;
}
