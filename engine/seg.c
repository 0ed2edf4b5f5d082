/*
 * seg.c — one segment: <base>.log, .index, .timeindex and .lines.
 *
 * .log        record batches v2 back to back (batch.h). While the segment
 *             is active it may end in up to SEG_TAIL_WINDOW bytes of zeros
 *             past its last batch: space reserved for the mapped tail
 *             (below), cut off at roll, truncation, close and recovery.
 * .index      Kafka's offset index: 8-byte entries {relative offset u32,
 *             position u32}, big-endian. An entry is added before a batch
 *             when more than index.interval.bytes were written since the
 *             last entry; it names the batch's last offset and the batch's
 *             position (as Kafka's LogSegment.append does).
 * .timeindex  Kafka's time index: 12-byte entries {timestamp i64, relative
 *             offset u32}, added with an offset index entry when the
 *             segment's max timestamp grew since the last entry; it names
 *             that max (the batch's included) and the first record holding
 *             it (batch_meta_note_ts), so at most its .index entry's
 *             offset. A segment that is no longer the active one (rolled,
 *             cleaned, or closed and rebuilt by recovery) ends with one
 *             entry more when its max grew since the last entry: that max
 *             and the first record holding it, past the last .index
 *             entry's offset (Kafka's onBecomeInactiveSegment); the last
 *             slot under segment.index.bytes is kept for it
 *             (seg_index_full). A segment that becomes the active one
 *             again loses it (seg_drop_final_tidx), and the active one
 *             never has it, not even after a clean stop.
 *             Both indexes are a function of the batches alone: the byte
 *             count and the max move batch by batch, also inside one
 *             append, and a segment opened or truncated gets them back from
 *             its files (seg_index_state_load), so replicas write the same
 *             entries whatever their fetches, restarts and truncations.
 * .lines      mqfs's line-view positions. A 16-byte header, "MQLINES1" and
 *             the segment's line base (i64, the line position of its base
 *             offset), then one 16-byte entry per batch, in log order:
 *
 *                 0  u32  batch base offset - segment base offset
 *                 4  u32  batch position in .log
 *                 8  i64  line position of the batch's first record
 *
 *             Entries are written in blocks: the appender keeps those of
 *             the latest batches in memory until a block is full, the
 *             segment is flushed, or a reader needs them (seg_lines_sync).
 *             After a crash .lines may thus be short; it is rebuilt. Their
 *             blocks are reserved by the append (lines_reserve), so that a
 *             reader's write of them needs none on a full disk; the file
 *             may then have blocks past its size, cut like the .log's.
 *
 *             Inside a batch the records' lines are contiguous, so a
 *             record's position is its batch's line_pos plus the line
 *             lengths of the records before it in the batch. Gaps between
 *             batches (retention, compaction) are allowed; positions only
 *             grow.
 *
 * Validity (recovery): a batch is valid when its header decodes, it lies
 * wholly inside the file, its CRC matches, and its base offset is above the
 * previous batch's last offset. Whether its records decode is not part of
 * it: a batch that passes and does not decode was written so, and is kept
 * with what follows it ("Undecodable batches", below). A segment that may
 * have lost unsynced bytes is cut at the first invalid byte; in any other
 * (log_open.c decides) the bytes stay on disk and the segment ends there
 * in memory only (damage kept for rescue). Either way the three indexes
 * are rebuilt from the valid batches.
 * .lines is checked at open (seg_check_lines) and rebuilt on a mismatch:
 * it is derived data, but its line positions are kept where they match,
 * since compaction leaves gaps a rescan cannot see. Indexes are written after
 * the log bytes they describe, so after a crash an index can only be short
 * (rebuilt) or, if the log lost unsynced bytes, ahead of it (rebuilt too:
 * seg_load_tail checks the last entries against the log).
 *
 * Durability: the .log alone holds what recovery cannot rebuild; the
 * three sidecars are derived from it. So the two ways to sync differ:
 *   - seg_sync_log fdatasyncs the .log only (fsync() on a partition
 *     file, flush.messages: log_sync). Its records are durable, the
 *     sidecars may lag or be torn after a power cut.
 *   - seg_flush writes the pending .lines entries and fsyncs all four,
 *     the .log first (log_flush, log_flush_closed, a clean close).
 * Invariant: a segment lies below the recovery point only once seg_flush
 * covered it whole, so recovery may trust its sidecars; every segment
 * above it is rescanned after an unclean stop (log_open.c) and its
 * sidecars rebuilt by seg_recover, byte for byte as the appends write
 * them. A new segment's files and directory entry are durable from
 * seg_create on (its .lines header carries the line base), so a sync
 * after a roll needs no fsync of the directory.
 *
 * Descriptors: a segment's four files are open while it is pinned
 * (seg_pin/seg_unpin, a count). The log pins its active segment for as long
 * as it is active (it also has the mapped tail); every seg_* function, and
 * every reader through seg_pread, pins for its own duration. A segment
 * nobody pins is idle: its descriptors stay open on its manager's LRU
 * (struct seg_cache), and when more than max_idle sets are idle the least
 * recently used is closed. A pin on a closed set reopens it.
 *
 *   Invariants (seg_cache.mu):
 *   1. pins goes 0 -> 1 and 1 -> 0 only under mu; above 1 it moves with
 *      atomics. So the cache, which closes only sets with pins == 0 under
 *      mu, never closes a descriptor that someone is using.
 *   2. A segment is on the LRU iff its descriptors are open and pins == 0.
 *   3. A reopen opens the names the segment had (or, once retention
 *      renamed them, <file>.deleted) and checks that the .log is the same
 *      file (device and inode): a segment whose files were replaced never
 *      reads another file's bytes. The cleaner, whose swap replaces them,
 *      pins the old segment for the rest of its life first (seg_keep_fds).
 *   4. Running out of descriptors (EMFILE, ENFILE) when opening closes every
 *      idle set and tries once more; if that fails too the caller gets the
 *      errno (nothing appended, nothing read), reported at most every 10 s.
 *
 * mu is the innermost lock: taken under the log's lock, never the other
 * way, and nothing but open, close and fstat happen under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/log_int.h"
#include "util/bsearch.h"
#include "util/clock.h"

struct seg_cache {
	pthread_mutex_t mu;
	atomic_int refs;
	int64_t max_idle;                /* mu */
	int64_t idle;                    /* sets on the LRU (mu) */
	struct seg *lru_head, *lru_tail; /* head: least recently used (mu) */
	_Atomic int64_t open_sets, evictions;
	_Atomic int64_t reported_s; /* last EMFILE report, monotonic seconds */
};

/* A segment's four files, in the order of its descriptors (log_fd, idx_fd,
 * tidx_fd, lines_fd). */
static const char *const ext[] = { ".log", ".index", ".timeindex", ".lines" };

static int seg_file(struct seg *s, const char *name_ext, char *buf, size_t cap)
{
	if (snprintf(buf, cap, "%s%s%s", s->path, name_ext, s->sfx) >= (int)cap)
		return -ENAMETOOLONG;
	return 0;
}

static void enc_lines(uint8_t *p, const struct lines_ent *e)
{
	be32_put(p, e->rel_offset);
	be32_put(p + 4, e->position);
	be64_put(p + 8, (uint64_t)e->line_pos);
}

static void dec_lines(const uint8_t *p, struct lines_ent *e)
{
	e->rel_offset = be32_get(p);
	e->position = be32_get(p + 4);
	e->line_pos = (int64_t)be64_get(p + 8);
}

static void seg_close_fds(struct seg *s)
{
	int *fds[] = { &s->log_fd, &s->idx_fd, &s->tidx_fd, &s->lines_fd };
	for (size_t i = 0; i < 4; i++) {
		if (*fds[i] >= 0)
			s->io->close(s->io->ctx, *fds[i]);
		*fds[i] = -1;
	}
}

static int seg_alloc(const struct io_ops *io, struct seg_cache *fdc, const char *dir, int64_t base,
		     struct seg **out)
{
	struct seg *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->io = io;
	s->fdc = fdc;
	s->base_offset = base;
	s->log_fd = s->idx_fd = s->tidx_fd = s->lines_fd = -1;
	s->max_ts = -1;
	s->max_ts_offset = -1;
	s->last_tidx_ts = -1;
	s->next_offset = base;
	atomic_init(&s->refs, 1);
	if (snprintf(s->path, sizeof(s->path), "%s/%020" PRId64, dir, base) >=
	    (int)sizeof(s->path)) {
		free(s);
		return -ENAMETOOLONG;
	}
	*out = s;
	return 0;
}

static int seg_open_files(struct seg *s, int flags)
{
	int *fds[] = { &s->log_fd, &s->idx_fd, &s->tidx_fd, &s->lines_fd };
	char p[PATH_MAX + 16];
	for (size_t i = 0; i < 4; i++) {
		int rc = seg_file(s, ext[i], p, sizeof(p));
		if (rc < 0)
			return rc;
		/* Indexes can always be rebuilt, so they are created when missing. */
		int f = i == 0 ? flags : (flags | O_CREAT);
		rc = s->io->open(s->io->ctx, p, O_RDWR | f, 0644);
		if (rc < 0)
			return rc;
		*fds[i] = rc;
	}
	struct stat st;
	if (fstat(s->log_fd, &st) < 0)
		return -errno;
	s->log_dev = st.st_dev;
	s->log_ino = st.st_ino;
	return 0;
}

static int lines_write_header(struct seg *s)
{
	uint8_t h[LINES_HDR_SIZE];
	memcpy(h, LINES_MAGIC, 8);
	be64_put(h + 8, (uint64_t)s->line_base);
	return io_pwrite_full(s->io, s->lines_fd, h, sizeof(h), 0);
}

/* ---- the descriptor cache (header comment, "Descriptors") ---- */

struct seg_cache *seg_cache_new(int64_t max_idle)
{
	struct seg_cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	atomic_init(&c->refs, 1);
	c->max_idle = max_idle;
	atomic_init(&c->reported_s, -1);
	return c;
}

void seg_cache_ref(struct seg_cache *c)
{
	if (c)
		atomic_fetch_add(&c->refs, 1);
}

void seg_cache_unref(struct seg_cache *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void lru_remove(struct seg_cache *c, struct seg *s)
{
	if (!s->in_lru)
		return;
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		c->lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		c->lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
	s->in_lru = false;
	c->idle--;
}

/* Closes idle sets, least recently used first, until at most keep are
 * left (mu held). */
static void cache_trim_locked(struct seg_cache *c, int64_t keep)
{
	while (c->idle > keep && c->lru_head) {
		struct seg *s = c->lru_head;
		lru_remove(c, s);
		seg_close_fds(s);
		atomic_fetch_sub(&c->open_sets, 1);
		atomic_fetch_add(&c->evictions, 1);
	}
}

void seg_cache_close_idle(struct seg_cache *c, int64_t n)
{
	if (!c || n <= 0)
		return;
	pthread_mutex_lock(&c->mu);
	cache_trim_locked(c, c->idle > n ? c->idle - n : 0);
	pthread_mutex_unlock(&c->mu);
}

void seg_cache_set_max(struct seg_cache *c, int64_t max_idle)
{
	pthread_mutex_lock(&c->mu);
	c->max_idle = max_idle;
	cache_trim_locked(c, max_idle);
	pthread_mutex_unlock(&c->mu);
}

void seg_cache_stats(struct seg_cache *c, int64_t *open_sets, int64_t *evictions)
{
	*open_sets = c ? atomic_load(&c->open_sets) : 0;
	*evictions = c ? atomic_load(&c->evictions) : 0;
}

void seg_cache_sets(struct seg_cache *c, int64_t *open_sets, int64_t *idle)
{
	*open_sets = *idle = 0;
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	*open_sets = atomic_load(&c->open_sets);
	*idle = c->idle;
	pthread_mutex_unlock(&c->mu);
}

/* An open set nobody pins becomes the most recently used idle one (mu
 * held). */
static void cache_add_locked(struct seg_cache *c, struct seg *s)
{
	s->lru_prev = c->lru_tail;
	s->lru_next = NULL;
	if (c->lru_tail)
		c->lru_tail->lru_next = s;
	else
		c->lru_head = s;
	c->lru_tail = s;
	s->in_lru = true;
	c->idle++;
	cache_trim_locked(c, c->max_idle);
}

static bool out_of_fds(int rc)
{
	return rc == -EMFILE || rc == -ENFILE;
}

/* Out of descriptors even after closing every idle set: said at most once
 * every 10 s per cache, since every read and append retried meanwhile
 * would say it again. */
static void report_no_fds(struct seg *s, int rc)
{
	struct seg_cache *c = s->fdc;
	if (c) {
		int64_t now_s = now_mono_ms() / 1000;
		int64_t last = atomic_load(&c->reported_s);
		if (last >= 0 && now_s - last < 10)
			return;
		if (!atomic_compare_exchange_strong(&c->reported_s, &last, now_s))
			return;
	}
	ENGINE_REPORT(ENGINE_LOG_ERR,
		      "%s.log: cannot open the segment's files: %s (%" PRId64
		      " segment descriptor sets open, none idle left to close); the read or "
		      "append fails and works again once descriptors are free",
		      s->path, strerror(-rc), c ? atomic_load(&c->open_sets) : (int64_t)0);
}

/* Opens the files of a new or listed segment, closing idle sets and trying
 * once more when out of descriptors. */
static int seg_open_files_retry(struct seg *s, int flags)
{
	int rc = seg_open_files(s, flags);
	if (out_of_fds(rc) && s->fdc) {
		seg_close_fds(s);
		pthread_mutex_lock(&s->fdc->mu);
		cache_trim_locked(s->fdc, 0);
		pthread_mutex_unlock(&s->fdc->mu);
		rc = seg_open_files(s, flags);
	}
	if (out_of_fds(rc))
		report_no_fds(s, rc);
	return rc;
}

/* fsyncs dir, which opens one more descriptor: out of them, the idle sets
 * are closed and it is tried once more, as opening a set is (a segment
 * rolled under a tight limit, its four files just opened). */
static int seg_fsync_dir_retry(const struct io_ops *io, struct seg_cache *fdc, const char *dir)
{
	int rc = io->fsync_dir(io->ctx, dir);

	if (out_of_fds(rc) && fdc) {
		pthread_mutex_lock(&fdc->mu);
		cache_trim_locked(fdc, 0);
		pthread_mutex_unlock(&fdc->mu);
		rc = io->fsync_dir(io->ctx, dir);
	}
	return rc;
}

/* The set of a new or listed segment joins the cache, idle. */
static void seg_cache_join(struct seg *s)
{
	if (!s->fdc)
		return;
	pthread_mutex_lock(&s->fdc->mu);
	atomic_fetch_add(&s->fdc->open_sets, 1);
	cache_add_locked(s->fdc, s);
	pthread_mutex_unlock(&s->fdc->mu);
	seg_cache_ref(s->fdc);
}

/* Reopens a closed set (mu held): the names it had, or the .deleted ones
 * retention renamed them to, and only if the .log is still the same file. */
static int seg_reopen_locked(struct seg *s)
{
	int *fds[] = { &s->log_fd, &s->idx_fd, &s->tidx_fd, &s->lines_fd };
	bool deleted = atomic_load(&s->deleted);
	int rc = 0;
	for (size_t i = 0; i < 4 && rc == 0; i++) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof(p), "%s%s%s", s->path, ext[i], deleted ? ".deleted" : s->sfx);
		rc = s->io->open(s->io->ctx, p, O_RDWR, 0);
		if (rc == -ENOENT && !deleted) {
			/* Retention renames before it marks the segment. */
			snprintf(p, sizeof(p), "%s%s.deleted", s->path, ext[i]);
			rc = s->io->open(s->io->ctx, p, O_RDWR, 0);
		}
		if (rc >= 0) {
			*fds[i] = rc;
			rc = 0;
		}
	}
	struct stat st;
	if (rc == 0 && fstat(s->log_fd, &st) < 0)
		rc = -errno;
	if (rc == 0 && (st.st_dev != s->log_dev || st.st_ino != s->log_ino)) {
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s.log: the segment's files were replaced while it "
			      "was still read; the read fails",
			      s->path);
		rc = -ENOENT;
	}
	if (rc < 0)
		seg_close_fds(s);
	return rc;
}

int seg_pin(struct seg *s)
{
	int p = atomic_load(&s->pins);
	while (p > 0)
		if (atomic_compare_exchange_weak(&s->pins, &p, p + 1))
			return 0;
	struct seg_cache *c = s->fdc;
	if (!c) {
		atomic_fetch_add(&s->pins, 1);
		return 0;
	}
	pthread_mutex_lock(&c->mu);
	int rc = 0;
	if (s->log_fd >= 0) {
		lru_remove(c, s);
	} else {
		rc = seg_reopen_locked(s);
		if (out_of_fds(rc)) {
			cache_trim_locked(c, 0);
			rc = seg_reopen_locked(s);
		}
		if (rc == 0)
			atomic_fetch_add(&c->open_sets, 1);
	}
	if (rc == 0)
		atomic_fetch_add(&s->pins, 1);
	pthread_mutex_unlock(&c->mu);
	if (out_of_fds(rc))
		report_no_fds(s, rc);
	return rc;
}

void seg_unpin(struct seg *s)
{
	int p = atomic_load(&s->pins);
	while (p > 1)
		if (atomic_compare_exchange_weak(&s->pins, &p, p - 1))
			return;
	struct seg_cache *c = s->fdc;
	if (!c) {
		atomic_fetch_sub(&s->pins, 1);
		return;
	}
	pthread_mutex_lock(&c->mu);
	if (atomic_fetch_sub(&s->pins, 1) == 1 && s->log_fd >= 0)
		cache_add_locked(c, s);
	pthread_mutex_unlock(&c->mu);
}

void seg_set_active(struct seg *s, bool active)
{
	if (active == s->active)
		return;
	if (!active)
		seg_unpin(s);
	else if (seg_pin(s) < 0)
		return;
	s->active = active;
}

int seg_keep_fds(struct seg *s)
{
	if (s->kept)
		return 0;
	int rc = seg_pin(s);
	if (rc == 0)
		s->kept = true;
	return rc;
}

/* The body of a public seg_* that touches descriptors: the call, with the
 * segment pinned for its duration (a pin that fails is the result). */
#define PINNED(s, type, call)          \
	do {                           \
		int prc_ = seg_pin(s); \
		if (prc_ < 0)          \
			return prc_;   \
		type r_ = (call);      \
		seg_unpin(s);          \
		return r_;             \
	} while (0)

static int seg_fd(const struct seg *s, enum seg_fd f)
{
	switch (f) {
	case SEG_FD_LOG: return s->log_fd;
	case SEG_FD_INDEX: return s->idx_fd;
	case SEG_FD_TIMEINDEX: return s->tidx_fd;
	default: return s->lines_fd;
	}
}

ssize_t seg_pread(struct seg *s, enum seg_fd f, void *buf, size_t len, int64_t off)
{
	int rc = seg_pin(s);
	if (rc < 0)
		return rc;
	ssize_t n = io_pread_full(s->io, seg_fd(s, f), buf, len, off);
	seg_unpin(s);
	return n;
}

int64_t seg_fsize(struct seg *s, enum seg_fd f)
{
	int rc = seg_pin(s);
	if (rc < 0)
		return rc;
	int64_t n = s->io->size(s->io->ctx, seg_fd(s, f));
	seg_unpin(s);
	return n;
}

/* A segment that could not be made whole leaves none of its files: those
 * its opens made (or truncated: nothing of theirs is left anyway) go with
 * it. A roll that failed half way on a disk out of inodes left an empty
 * .log and some of its companions; the next open of the log makes the
 * missing ones, and on that disk failed for want of an inode, so the start
 * failed and nothing in the data directory could be read until inodes
 * were freed. */
static void seg_unlink_made(struct seg *s)
{
	const int fds[] = { s->log_fd, s->idx_fd, s->tidx_fd, s->lines_fd };
	char p[PATH_MAX + 16];
	for (size_t i = 0; i < 4; i++)
		if (fds[i] >= 0 && seg_file(s, ext[i], p, sizeof(p)) == 0)
			s->io->unlink(s->io->ctx, p);
}

static int seg_create_files(const struct io_ops *io, struct seg_cache *fdc, const char *dir,
			    int64_t base, int64_t line_base, const char *sfx, bool sync,
			    struct seg **out)
{
	struct seg *s;
	int rc = seg_alloc(io, fdc, dir, base, &s);
	if (rc < 0)
		return rc;
	s->line_base = line_base;
	s->line_end = line_base;
	snprintf(s->sfx, sizeof(s->sfx), "%s", sfx);
	rc = seg_open_files_retry(s, O_CREAT | O_TRUNC);
	if (rc == 0)
		rc = lines_write_header(s);
	/* The header carries the line base, which nothing else can restore once
	 * older segments are gone: make it durable now. */
	if (rc == 0 && sync)
		rc = io->fsync(io->ctx, s->lines_fd);
	if (rc == 0 && sync)
		rc = seg_fsync_dir_retry(io, fdc, dir);
	if (rc < 0) {
		seg_unlink_made(s);
		seg_close_fds(s);
		free(s);
		return rc;
	}
	seg_cache_join(s);
	*out = s;
	return 0;
}

int seg_create(const struct io_ops *io, struct seg_cache *fdc, const char *dir, int64_t base,
	       int64_t line_base, struct seg **out)
{
	return seg_create_files(io, fdc, dir, base, line_base, "", true, out);
}

int seg_create_sfx(const struct io_ops *io, struct seg_cache *fdc, const char *dir, int64_t base,
		   int64_t line_base, const char *sfx, struct seg **out)
{
	return seg_create_files(io, fdc, dir, base, line_base, sfx, false, out);
}

int seg_open(const struct io_ops *io, struct seg_cache *fdc, const char *dir, int64_t base,
	     struct seg **out)
{
	struct seg *s;
	int rc = seg_alloc(io, fdc, dir, base, &s);
	if (rc < 0)
		return rc;
	rc = seg_open_files_retry(s, 0);
	if (rc < 0)
		goto fail;
	int64_t sz = io->size(io->ctx, s->log_fd);
	if (sz < 0) {
		rc = (int)sz;
		goto fail;
	}
	atomic_store(&s->size, sz);
	struct stat st;
	if (fstat(s->log_fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	s->last_append_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	seg_cache_join(s);
	*out = s;
	return 0;
fail:
	seg_close_fds(s);
	free(s);
	return rc;
}

int64_t seg_largest_ts(const struct seg *s)
{
	return s->max_ts >= 0 ? s->max_ts : s->last_append_ms;
}

void seg_ref(struct seg *s)
{
	atomic_fetch_add(&s->refs, 1);
}

void seg_unref(struct seg *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	(void)seg_tail_drop(s);
	struct seg_cache *c = s->fdc;
	if (c)
		pthread_mutex_lock(&c->mu);
	lru_remove(c, s);
	if (c && s->log_fd >= 0)
		atomic_fetch_sub(&c->open_sets, 1);
	seg_close_fds(s);
	if (c)
		pthread_mutex_unlock(&c->mu);
	seg_cache_unref(c);
	free(s->lines_pend);
	free(s->tidx_ok);
	if (atomic_load(&s->deleted)) {
		/* The last reader of a segment that left the log (retention.c). */
		for (size_t i = 0; i < 4; i++) {
			char p[PATH_MAX + 32];
			snprintf(p, sizeof(p), "%s%s.deleted", s->path, ext[i]);
			s->io->unlink(s->io->ctx, p);
		}
	}
	free(s);
}

static int seg_read_lines_ent_pinned(struct seg *s, int64_t i, struct lines_ent *e)
{
	uint8_t b[LINES_ENT_SIZE];
	ssize_t n = io_pread_full(s->io, s->lines_fd, b, sizeof(b),
				  LINES_HDR_SIZE + i * LINES_ENT_SIZE);
	if (n < 0)
		return (int)n;
	if (n != LINES_ENT_SIZE)
		return -EBADMSG;
	dec_lines(b, e);
	return 0;
}

int seg_read_lines_ent(struct seg *s, int64_t i, struct lines_ent *e)
{
	PINNED(s, int, seg_read_lines_ent_pinned(s, i, e));
}

/* Entries read per pread by seg_read_lines_ents and seg_check_lines (4 KiB). */
#define LINES_CHECK_BLOCK 256

static int seg_read_lines_ents_pinned(struct seg *s, int64_t i, int n, struct lines_ent *e)
{
	uint8_t b[LINES_ENT_SIZE * LINES_CHECK_BLOCK];
	int got = 0;

	while (got < n) {
		int want = n - got < LINES_CHECK_BLOCK ? n - got : LINES_CHECK_BLOCK;
		ssize_t k = io_pread_full(s->io, s->lines_fd, b, (size_t)want * LINES_ENT_SIZE,
					  LINES_HDR_SIZE + (i + got) * LINES_ENT_SIZE);
		if (k < 0)
			return (int)k;
		if (k != (ssize_t)want * LINES_ENT_SIZE)
			return -EBADMSG;
		for (int j = 0; j < want; j++)
			dec_lines(b + j * LINES_ENT_SIZE, &e[got + j]);
		got += want;
	}
	return got;
}

int seg_read_lines_ents(struct seg *s, int64_t i, int n, struct lines_ent *e)
{
	PINNED(s, int, seg_read_lines_ents_pinned(s, i, n, e));
}

static int64_t seg_read_batch_pinned(struct seg *s, int64_t pos, int64_t limit, uint8_t **buf,
				     size_t *cap)
{
	if (pos >= limit)
		return 0;
	if (limit - pos < BATCH_HDR_SIZE)
		return -EBADMSG;
	if (*cap < BATCH_HDR_SIZE) {
		uint8_t *nb = realloc(*buf, 65536);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = 65536;
	}
	ssize_t n = io_pread_full(s->io, s->log_fd, *buf, BATCH_HDR_SIZE, pos);
	if (n < 0)
		return n;
	if (n < BATCH_HDR_SIZE)
		return -EBADMSG;
	int64_t total = batch_total_size(*buf);
	if (total < BATCH_HDR_SIZE || total > limit - pos)
		return -EBADMSG;
	if ((size_t)total > *cap) {
		uint8_t *nb = realloc(*buf, (size_t)total);
		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = (size_t)total;
	}
	n = io_pread_full(s->io, s->log_fd, *buf + BATCH_HDR_SIZE, (size_t)total - BATCH_HDR_SIZE,
			  pos + BATCH_HDR_SIZE);
	if (n < 0)
		return n;
	if (n != total - BATCH_HDR_SIZE)
		return -EBADMSG;
	return total;
}

int64_t seg_read_batch(struct seg *s, int64_t pos, int64_t limit, uint8_t **buf, size_t *cap)
{
	PINNED(s, int64_t, seg_read_batch_pinned(s, pos, limit, buf, cap));
}

/* Sum of the line lengths of a batch's records; also checks the records
 * (and the CRC when crc: see seg_load_tail for when it is not). With ts,
 * also its max_ts and max_ts_offset (batch_meta_note_ts). */
static int64_t batch_line_bytes(const uint8_t *b, size_t len, const struct line_fmt *lf, bool crc,
				struct batch_iter *it, struct batch_meta *ts)
{
	int rc = crc ? batch_iter_init(it, b, len) : batch_iter_init_nocrc(it, b, len);
	if (rc < 0)
		return rc;
	return iter_line_bytes(it, lf, ts);
}

/*
 * Undecodable batches. A batch whose framing and CRC-32C hold but whose
 * records cannot be read (a compressed payload that does not decompress,
 * or decompresses past COMPRESS_MAX_OUT; records whose lengths do not add
 * up; a codec mqfs does not read) was written so: a torn write, or a byte
 * flipped since, leaves a CRC that does not match (but for a chance in
 * 2^32). mqfs writes none (every append path decodes what it writes), but
 * a segment put in from elsewhere, or written with another limit, may
 * hold one. Such a batch is kept where it is, never cut and never taken
 * for the end of the log, even in a segment written since the last fsync:
 * its offsets are in its header, the batches after it are as good as any,
 * and cutting it would lose them for nothing. Readers fail at it
 * (-EBADMSG, reported once by log_corrupt) and read
 * the batches after it from their own positions; writes go on.
 *
 * In the line view it takes one byte per record it says it holds (every
 * line has at least its '\n'; recordsCount, bounded by lastOffsetDelta +
 * 1, and at least one byte so that .lines positions keep increasing),
 * unless the .lines entry of the batch after it, kept from before, says
 * more (the lines it had when written). It adds nothing to the segment's
 * max timestamp: no record of it is known. Recovery (seg_recover), the
 * open of a segment ending in one (seg_load_tail) and the appender's index
 * state (seg_index_state_load) all follow this rule, so the sidecars
 * they derive agree.
 */

/* Whether rc, batch_line_bytes's failure on the whole batch of len bytes
 * at b, is of an undecodable batch (see above) rather than of bytes that
 * changed or were torn (CRC mismatch) or of the reader (-ENOMEM). */
static bool batch_undecodable(int64_t rc, const uint8_t *b, size_t len)
{
	return rc == -EBADMSG && batch_validate(b, len) == 0;
}

/* The line bytes an undecodable batch takes (see above). */
static int64_t undecodable_line_bytes(const struct batch_hdr *h)
{
	int64_t n = h->records_count;
	if (n > (int64_t)h->last_offset_delta + 1)
		n = (int64_t)h->last_offset_delta + 1;
	return n > 0 ? n : 1;
}

/*
 * The appender's index state of a segment opened from its files
 * (bytes_since_index, max_ts and its offset, last_tidx_ts), as the appends
 * that wrote the files left it, so that the entries after a restart or a
 * truncation fall where they would have without it, and a replica that
 * restarted writes the same .index and .timeindex as one that did not.
 * index_entries_for resets the count before the batch at the last entry's
 * position P, so it is size - P (the segment's size without an entry: it
 * counts from the segment's start). The segment's max timestamp as of the
 * batch at P is the last .timeindex entry (an .index entry adds one
 * whenever the max grew since the last; -1 with none); the batches from P
 * on fold into it. At most index.interval.bytes and a batch are read.
 */
static int seg_index_state_load(struct seg *s, const struct line_fmt *lf, int64_t size)
{
	const struct io_ops *io = s->io;
	int64_t at = 0;
	uint8_t b[TIMEINDEX_ENT_SIZE];

	s->max_ts = s->max_ts_offset = s->last_tidx_ts = -1;
	if (s->idx_entries) {
		if (io_pread_full(io, s->idx_fd, b, INDEX_ENT_SIZE,
				  (s->idx_entries - 1) * INDEX_ENT_SIZE) != INDEX_ENT_SIZE)
			return -EIO;
		at = be32_get(b + 4);
		if (s->tidx_entries) {
			if (io_pread_full(io, s->tidx_fd, b, TIMEINDEX_ENT_SIZE,
					  (s->tidx_entries - 1) * TIMEINDEX_ENT_SIZE) !=
			    TIMEINDEX_ENT_SIZE)
				return -EIO;
			s->max_ts = s->last_tidx_ts = (int64_t)be64_get(b);
			s->max_ts_offset = s->base_offset + be32_get(b + 8);
		}
	}
	s->bytes_since_index = size - at;
	uint8_t *buf = NULL;
	size_t cap = 0;
	struct batch_iter it = { 0 };
	int rc = 0;
	/* A batch that does not decode ends the fold, not the open: damage
	 * in a segment that was fsynced is the readers' to report (EBADMSG
	 * at its position), as everywhere in seg_load_tail. An undecodable
	 * one adds nothing and the fold goes on, as recovery's does. */
	while (at < size) {
		int64_t total = seg_read_batch(s, at, size, &buf, &cap);
		struct batch_meta m;
		if (total <= 0) {
			rc = total == -EBADMSG || total == 0 ? 0 : (int)total;
			break;
		}
		int64_t lb = batch_line_bytes(buf, (size_t)total, lf, false, &it, &m);
		if (lb < 0 && batch_undecodable(lb, buf, (size_t)total)) {
			at += total;
			continue;
		}
		if (lb < 0) {
			rc = lb == -EBADMSG ? 0 : (int)lb;
			break;
		}
		if (m.max_ts > s->max_ts) {
			s->max_ts = m.max_ts;
			s->max_ts_offset = m.max_ts_offset;
		}
		at += total;
	}
	batch_iter_free(&it);
	free(buf);
	return rc;
}

/* Without it, segment.ms would count from the first append after each
 * open: a log written on and restarted more often than segment.ms would
 * never roll by time. roll_ts is the header's maxTimestamp as it is
 * (Kafka's rollingBasedTimestamp: the next batches' record times count
 * from it, append.c); first_append_ms, the wall-clock start (of a first
 * batch without a timestamp, and of retention's roll of a quiet active
 * segment), is it capped by the mtime (last_append_ms), so that a first
 * timestamp in the future does not hold that roll off; one the files do
 * not give (-1: none, a header that does not decode, a batch that does
 * not end inside the .log) is the mtime, roll_ts -1.
 *
 * Only the first batch's header is read (61 bytes), as Kafka's
 * rollingBasedTimestamp reads its maxTimestamp: its records are never
 * decoded nor decompressed, so a large compressed first batch costs the
 * open no more than a small one. The CRC is not checked (it would take
 * the whole batch): a changed byte in the field gives another start, but
 * never one past the mtime; the batch itself is the readers' to report
 * (EBADMSG at its position). */
void seg_first_append_load(struct seg *s)
{
	int64_t size = atomic_load(&s->size), first = s->last_append_ms;
	uint8_t h[BATCH_HDR_SIZE];
	struct batch_hdr hd;

	if (size == 0 || s->first_append_ms)
		return;
	s->roll_ts = -1;
	/* A first timestamp of 0 (the epoch, which a Kafka client may send)
	 * is a start, long past: kept as 1, since 0 says "empty" here. */
	if (seg_pread(s, SEG_FD_LOG, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
	    batch_hdr_decode(h, sizeof(h), &hd) == 0 && batch_total_size(h) <= size &&
	    hd.max_timestamp >= 0) {
		s->roll_ts = hd.max_timestamp; /* the next batches' ages count from it */
		if (hd.max_timestamp < first)
			first = hd.max_timestamp > 0 ? hd.max_timestamp : 1;
	}
	s->first_append_ms = first > 0 ? first : 0; /* 0: not known, as empty */
}

static int lines_offset_at(const void *arg, int64_t i, int64_t *k);

/* Forgets the checks of .timeindex entries n and after (struct seg's
 * tidx_ok): their bytes may change. */
static void tidx_ok_forget(struct seg *s, int64_t n)
{
	size_t w = (size_t)n / 64;

	if (w >= s->tidx_ok_words)
		return;
	s->tidx_ok[w] &= (UINT64_C(1) << (n % 64)) - 1;
	memset(s->tidx_ok + w + 1, 0, (s->tidx_ok_words - w - 1) * sizeof(*s->tidx_ok));
}

static bool tidx_ok_has(const struct seg *s, int64_t i)
{
	size_t w = (size_t)i / 64;

	return w < s->tidx_ok_words && (s->tidx_ok[w] >> (i % 64) & 1);
}

/* Without the memory the entry is only checked again at its next use. */
static void tidx_ok_note(struct seg *s, int64_t i)
{
	size_t w = (size_t)i / 64, cap = s->tidx_ok_words;

	if (w >= cap) {
		uint64_t *nb = engine_grow(s->tidx_ok, &cap, w + 1, sizeof(*nb), 4);
		if (!nb)
			return;
		memset(nb + s->tidx_ok_words, 0, (cap - s->tidx_ok_words) * sizeof(*nb));
		s->tidx_ok = nb;
		s->tidx_ok_words = cap;
	}
	s->tidx_ok[w] |= UINT64_C(1) << (i % 64);
}

/* Whether a .timeindex entry, ts at offset off, is the log's: the batch
 * that holds off (found among the nent .lines entries) has its largest
 * timestamp ts there, as index_entries_for wrote it (the largest so far,
 * where it is held). The entries of a segment opened after a clean stop
 * (or below the recovery point) are not rebuilt, and seg_load_tail
 * checks only where the last one points: each is checked when a time
 * lookup first uses it (seg_find_time; tidx_ok keeps the answer, so
 * repeated lookups by time read no batch). 0, -EBADMSG, or the read's
 * -errno. */
static int tidx_entry_check(struct seg *s, const struct line_fmt *lf, int64_t nent, int64_t ts,
			    int64_t off, int64_t size)
{
	struct lines_ent e;
	struct batch_iter it = { 0 };
	struct batch_meta m;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int64_t i = bsearch_last_le(nent, off, lines_offset_at, s), total;
	int rc;

	if (i < 0)
		return i == -1 ? -EBADMSG : (int)i;
	rc = seg_read_lines_ent(s, i, &e);
	if (rc < 0)
		return rc;
	total = seg_read_batch(s, e.position, size, &buf, &cap);
	if (total < 0 && total != -EBADMSG)
		rc = (int)total;
	else if (total <= 0 || batch_line_bytes(buf, (size_t)total, lf, false, &it, &m) < 0 ||
		 m.max_ts != ts || m.max_ts_offset != off)
		rc = -EBADMSG;
	batch_iter_free(&it);
	free(buf);
	return rc;
}

static int seg_load_tail_pinned(struct seg *s, const struct line_fmt *lf, int64_t prev_line_end)
{
	const struct io_ops *io = s->io;
	int64_t size = atomic_load(&s->size);
	int64_t lsz = io->size(io->ctx, s->lines_fd);
	int64_t isz = io->size(io->ctx, s->idx_fd);
	int64_t tsz = io->size(io->ctx, s->tidx_fd);
	uint8_t h[LINES_HDR_SIZE];
	if (lsz < LINES_HDR_SIZE || (lsz - LINES_HDR_SIZE) % LINES_ENT_SIZE || isz < 0 ||
	    isz % INDEX_ENT_SIZE || tsz < 0 || tsz % TIMEINDEX_ENT_SIZE)
		return -EBADMSG;
	/* A header the disk cannot read is no damaged one: rebuilt, the
	 * .lines would lose the line base it alone keeps (below). */
	ssize_t hn = io_pread_full(io, s->lines_fd, h, sizeof(h), 0);
	if (hn < 0)
		return (int)hn;
	if (hn != LINES_HDR_SIZE || memcmp(h, LINES_MAGIC, 8) != 0)
		return -EBADMSG;
	s->line_base = (int64_t)be64_get(h + 8);
	if (prev_line_end >= 0 && s->line_base < prev_line_end)
		return -EBADMSG;
	int64_t nent = (lsz - LINES_HDR_SIZE) / LINES_ENT_SIZE;
	s->idx_entries = isz / INDEX_ENT_SIZE;
	s->tidx_entries = tsz / TIMEINDEX_ENT_SIZE;
	tidx_ok_forget(s, s->tidx_entries);
	s->next_offset = s->base_offset;
	s->line_end = s->line_base;
	s->bytes_since_index = 0;
	if (nent == 0) {
		if (size != 0 || s->idx_entries || s->tidx_entries)
			return -EBADMSG;
		atomic_store(&s->lines_entries, 0);
		/* No batch, no timestamp: a segment a truncation emptied must
		 * not keep its cut records' largest (seg_index_state_load's
		 * start), or the next .timeindex entry would name a removed
		 * record and none follow until a record is newer, on this
		 * replica alone; retention and ListOffsets -3 would read it. */
		s->max_ts = s->max_ts_offset = s->last_tidx_ts = -1;
		return 0;
	}
	struct lines_ent e;
	int rc = seg_read_lines_ent(s, nent - 1, &e);
	if (rc < 0)
		return rc;
	uint8_t *buf = NULL;
	size_t cap = 0;
	struct batch_iter it = { 0 };
	int64_t total = seg_read_batch(s, e.position, size, &buf, &cap);
	if (total <= 0 || e.position + total != size) {
		rc = total < 0 ? (int)total : -EBADMSG;
		goto out;
	}
	struct batch_hdr hd;
	rc = batch_hdr_decode(buf, (size_t)total, &hd);
	if (rc < 0)
		goto out;
	/* The next offset must not wrap either (see seg_recover's rule):
	 * the base offset is outside the CRC, and a segment named near
	 * INT64_MAX puts it there. */
	if (hd.base_offset != s->base_offset + e.rel_offset || hd.last_offset_delta < 0 ||
	    hd.last_offset_delta >= INT64_MAX - hd.base_offset) {
		rc = -EBADMSG;
		goto out;
	}
	/* Without the CRC: this segment is trusted (fsynced whole), and a
	 * failure here sends it to seg_recover, which cuts at the first bad
	 * batch. A byte flipped in a closed segment is corruption, not a torn
	 * write: readers find it and fail with EBADMSG there, the log stays. */
	int64_t lb = batch_line_bytes(buf, (size_t)total, lf, false, &it, NULL);
	if (lb < 0 && batch_undecodable(lb, buf, (size_t)total))
		lb = undecodable_line_bytes(&hd); /* as recovery counted it */
	if (lb < 0) {
		rc = (int)lb;
		goto out;
	}
	s->next_offset = hd.base_offset + hd.last_offset_delta + 1;
	s->line_end = e.line_pos + lb;
	/* The indexes must not point past the log. */
	if (s->idx_entries) {
		uint8_t b[INDEX_ENT_SIZE];
		if (io_pread_full(io, s->idx_fd, b, 8, (s->idx_entries - 1) * 8) != 8 ||
		    be32_get(b + 4) >= (uint64_t)size ||
		    s->base_offset + be32_get(b) >= s->next_offset) {
			rc = -EBADMSG;
			goto out;
		}
	}
	if (s->tidx_entries) {
		uint8_t b[TIMEINDEX_ENT_SIZE];
		if (io_pread_full(io, s->tidx_fd, b, 12, (s->tidx_entries - 1) * 12) != 12 ||
		    s->base_offset + be32_get(b + 8) >= s->next_offset) {
			rc = -EBADMSG;
			goto out;
		}
	}
	rc = seg_index_state_load(s, lf, size);
	if (rc < 0)
		goto out;
	atomic_store(&s->lines_entries, nent);
out:
	batch_iter_free(&it);
	free(buf);
	return rc;
}

int seg_load_tail(struct seg *s, const struct line_fmt *lf, int64_t prev_line_end)
{
	PINNED(s, int, seg_load_tail_pinned(s, lf, prev_line_end));
}

/* One sampled .lines entry i against its batch: the batch at its position
 * has its base offset, ends where the next entry (or the log) starts, and
 * its records' lines fit before the next entry's line position (exactly,
 * when contiguous). Returns a reason, or NULL. A batch that does not
 * decode, or whose CRC fails, says nothing about .lines: damage in the
 * .log is the readers' to report (EBADMSG at its position), not a reason
 * to rebuild .lines. (A changed byte can leave the records decodable with
 * other line lengths: measured without the CRC, that batch looked like a
 * moved entry, and the rebuild that followed took the batch for damage
 * in a segment written whole, refusing the log.) */
static const char *lines_ent_check(struct seg *s, const struct lines_ent *e,
				   const struct lines_ent *next, const struct line_fmt *lf,
				   bool contiguous, uint8_t **buf, size_t *cap,
				   struct batch_iter *it)
{
	int64_t size = atomic_load(&s->size);
	int64_t end = next ? (int64_t)next->position : size;
	if ((int64_t)e->position >= size)
		return "it points past the end of the log";
	int64_t total = seg_read_batch(s, e->position, size, buf, cap);
	struct batch_hdr hd;
	if (total <= 0 || batch_hdr_decode(*buf, (size_t)total, &hd) < 0)
		return NULL;
	if (e->position + total != end)
		return "its batch does not end where the next one starts";
	if (hd.base_offset != s->base_offset + e->rel_offset)
		return "its batch has another base offset";
	if (!next)
		return NULL;
	batch_iter_free(it);
	int64_t lb = batch_line_bytes(*buf, (size_t)total, lf, true, it, NULL);
	if (lb < 0)
		return NULL;
	if (next->line_pos < e->line_pos + lb || (contiguous && next->line_pos != e->line_pos + lb))
		return "its line position does not follow from the batch before";
	return NULL;
}

static int seg_check_lines_pinned(struct seg *s, const struct line_fmt *lf, bool contiguous)
{
	int64_t n = atomic_load(&s->lines_entries);
	if (n == 0)
		return 0;
	uint8_t *buf = NULL;
	size_t cap = 0;
	struct batch_iter it = { 0 };
	struct lines_ent prev = { 0 }, e, blk[LINES_CHECK_BLOCK];
	/* Every entry is read (16 bytes a batch), a block of them per pread:
	 * one pread per entry made a clean start cost a system call per
	 * batch of every segment (220,000 for 3.3 GiB of 16 KiB batches).
	 * One batch in about 64 is decoded against its entries, and the last
	 * (seg_load_tail) always. */
	int64_t step = n / 64 > 1 ? n / 64 : 1, bad = -1, blk_at = 0;
	int blk_n = 0;
	const char *why = NULL;
	int rc = 0;
	for (int64_t i = 0; i < n && !why; i++) {
		if (i >= blk_at + blk_n) {
			blk_at = i;
			blk_n = n - i < LINES_CHECK_BLOCK ? (int)(n - i) : LINES_CHECK_BLOCK;
			rc = seg_read_lines_ents_pinned(s, i, blk_n, blk);
			if (rc < 0)
				goto out;
			rc = 0;
		}
		e = blk[i - blk_at];
		if (i == 0 &&
		    (e.position != 0 || (contiguous && e.rel_offset != 0) ||
		     (contiguous ? e.line_pos != s->line_base : e.line_pos < s->line_base)))
			why = "the first entry is not at the segment's start";
		else if (i > 0 && (e.rel_offset <= prev.rel_offset || e.position <= prev.position ||
				   e.line_pos <= prev.line_pos))
			why = "entries do not increase";
		else if (i > 0 && ((i - 1) % step == 0 || i == n - 1))
			why = lines_ent_check(s, &prev, &e, lf, contiguous, &buf, &cap, &it);
		bad = why ? i : bad;
		prev = e;
	}
	if (why)
		ENGINE_REPORT(ENGINE_LOG_WARN,
			      "%s.lines: entry %" PRId64 " (offset %" PRId64 ", position %" PRIu32
			      ", line position %" PRId64 "): %s; rebuilt from "
			      "the log",
			      s->path, bad, s->base_offset + e.rel_offset, e.position, e.line_pos,
			      why);
	rc = why ? -EBADMSG : 0;
out:
	batch_iter_free(&it);
	free(buf);
	return rc;
}

int seg_check_lines(struct seg *s, const struct line_fmt *lf, bool contiguous)
{
	PINNED(s, int, seg_check_lines_pinned(s, lf, contiguous));
}

/* Growable byte buffer for index rebuilds. */
/* Growable byte buffer; it may start on caller-provided (stack) storage,
 * which is left for the heap only when it fills, so the append path does not
 * allocate. */
struct gbuf {
	uint8_t *p;
	size_t len, cap;
	uint8_t *stack;
};

static void gbuf_free(struct gbuf *g)
{
	if (g->p != g->stack)
		free(g->p);
}

static int gbuf_add(struct gbuf *g, const void *d, size_t n)
{
	if (g->len + n > g->cap) {
		size_t nc = g->cap ? g->cap * 2 : 4096;
		while (nc < g->len + n)
			nc *= 2;
		uint8_t *np = g->p == g->stack ? malloc(nc) : realloc(g->p, nc);
		if (!np)
			return -ENOMEM;
		if (g->p == g->stack && g->len)
			memcpy(np, g->p, g->len);
		g->p = np;
		g->cap = nc;
	}
	memcpy(g->p + g->len, d, n);
	g->len += n;
	return 0;
}

/* What the index entries of appended batches depend on: the appender
 * state of struct seg that index_step moves. */
struct idx_state {
	int64_t bytes_since_index, last_tidx_ts, max_ts, max_ts_offset;
};

static struct idx_state idx_state_of(const struct seg *s)
{
	return (struct idx_state){ s->bytes_since_index, s->last_tidx_ts, s->max_ts,
				   s->max_ts_offset };
}

/* One appended batch's index entries (Kafka's rule), st moved over it:
 * *oi whether it adds an offset index entry, *ti a time index one (whose
 * timestamp and offset *ts, *tso). Batch by batch, also within one
 * append: where an entry falls and what it names depend on the batches
 * alone, not on how appends (a follower's fetches) grouped them. */
static void index_step(struct idx_state *st, int64_t base_offset, const struct batch_meta *m,
		       int32_t index_interval, bool *oi, bool *ti, int64_t *ts, int64_t *tso)
{
	*oi = *ti = false;
	if (st->bytes_since_index > index_interval) {
		*oi = true;
		*ts = m->max_ts > st->max_ts ? m->max_ts : st->max_ts;
		*tso = m->max_ts > st->max_ts ? m->max_ts_offset : st->max_ts_offset;
		if (*ts > st->last_tidx_ts && *tso >= base_offset) {
			*ti = true;
			st->last_tidx_ts = *ts;
		}
		st->bytes_since_index = 0;
	}
	st->bytes_since_index += m->size;
	if (m->max_ts > st->max_ts) {
		st->max_ts = m->max_ts;
		st->max_ts_offset = m->max_ts_offset;
	}
}

/* The index entries that go with one appended batch, and the segment's
 * max timestamp moved over it (index_step). */
static int index_entries_for(struct seg *s, const struct batch_meta *m, int64_t pos,
			     int32_t index_interval, struct gbuf *idx, struct gbuf *tidx)
{
	struct idx_state st = idx_state_of(s);
	int64_t ts = 0, tso = 0;
	bool oi, ti;
	uint8_t b[12];
	int rc = 0;

	index_step(&st, s->base_offset, m, index_interval, &oi, &ti, &ts, &tso);
	if (oi) {
		be32_put(b, (uint32_t)(m->last_offset - s->base_offset));
		be32_put(b + 4, (uint32_t)pos);
		rc = gbuf_add(idx, b, 8);
	}
	if (rc == 0 && ti) {
		be64_put(b, (uint64_t)ts);
		be32_put(b + 8, (uint32_t)(tso - s->base_offset));
		rc = gbuf_add(tidx, b, 12);
	}
	s->bytes_since_index = st.bytes_since_index;
	s->last_tidx_ts = st.last_tidx_ts;
	s->max_ts = st.max_ts;
	s->max_ts_offset = st.max_ts_offset;
	return rc;
}

int seg_index_room(const struct seg *s, const struct batch_meta *m, int n, int32_t index_interval,
		   int64_t index_bytes)
{
	struct idx_state st = idx_state_of(s);
	int64_t ni = s->idx_entries, nt = s->tidx_entries, ts, tso;
	bool oi, ti;

	for (int j = 0; j < n; j++) {
		if (j > 0 && seg_index_full(ni, nt, index_bytes))
			return j;
		index_step(&st, s->base_offset, &m[j], index_interval, &oi, &ti, &ts, &tso);
		ni += oi;
		nt += ti;
	}
	return n;
}

/* Kafka's last .timeindex entry of a closed segment (LogSegment.
 * onBecomeInactiveSegment: timeIndex.maybeAppend(maxTimestampSoFar,
 * offsetOfMaxTimestampSoFar, true)): the segment's largest timestamp and
 * the first record holding it, when above the last entry's (so none when
 * the last entry has it, nor when no record has a timestamp). Its slot is
 * the one seg_index_full keeps free, as Kafka's TimeIndex.isFull does; one
 * that would pass index_bytes anyway (segment.index.bytes below 24, or
 * lowered since) is left out. Into b; false when none goes. */
static int seg_idx_cut(struct seg *s);

static bool tidx_final_entry(const struct seg *s, int64_t nt, int64_t index_bytes,
			     uint8_t b[TIMEINDEX_ENT_SIZE])
{
	if (s->max_ts <= s->last_tidx_ts || s->max_ts_offset < s->base_offset ||
	    (nt + 1) * TIMEINDEX_ENT_SIZE > index_bytes)
		return false;
	be64_put(b, (uint64_t)s->max_ts);
	be32_put(b + 8, (uint32_t)(s->max_ts_offset - s->base_offset));
	return true;
}

static int seg_close_tidx_pinned(struct seg *s, int64_t index_bytes)
{
	uint8_t b[TIMEINDEX_ENT_SIZE];
	int rc;

	if (!tidx_final_entry(s, s->tidx_entries, index_bytes, b))
		return 0;
	rc = io_pwrite_full(s->io, s->tidx_fd, b, sizeof(b), s->tidx_entries * TIMEINDEX_ENT_SIZE);
	if (rc < 0) {
		(void)seg_idx_cut(s); /* flagged if it fails: redone at the next drop */
		return rc;
	}
	s->tidx_entries++;
	s->last_tidx_ts = s->max_ts;
	s->dirty = true;
	return 0;
}

int seg_close_tidx(struct seg *s, int64_t index_bytes)
{
	PINNED(s, int, seg_close_tidx_pinned(s, index_bytes));
}

/* The entries an index rule wrote name offsets at most their .index
 * entry's (index_step), so a .timeindex entry past the last .index
 * entry's offset (or any, with no .index entry) is the final one. */
static int seg_drop_final_tidx_pinned(struct seg *s, const struct line_fmt *lf)
{
	const struct io_ops *io = s->io;
	int64_t last_rel = -1;
	uint8_t b[TIMEINDEX_ENT_SIZE];
	int rc;

	if (s->tidx_entries == 0)
		return 0;
	if (s->idx_entries) {
		if (io_pread_full(io, s->idx_fd, b, INDEX_ENT_SIZE,
				  (s->idx_entries - 1) * INDEX_ENT_SIZE) != INDEX_ENT_SIZE)
			return -EIO;
		last_rel = be32_get(b);
	}
	if (io_pread_full(io, s->tidx_fd, b, TIMEINDEX_ENT_SIZE,
			  (s->tidx_entries - 1) * TIMEINDEX_ENT_SIZE) != TIMEINDEX_ENT_SIZE)
		return -EIO;
	if ((int64_t)be32_get(b + 8) <= last_rel)
		return 0;
	s->tidx_entries--;
	tidx_ok_forget(s, s->tidx_entries);
	rc = seg_idx_cut(s);
	if (rc == 0 && lf)
		rc = seg_index_state_load(s, lf, atomic_load(&s->size));
	s->dirty = true;
	return rc;
}

int seg_drop_final_tidx(struct seg *s, const struct line_fmt *lf)
{
	PINNED(s, int, seg_drop_final_tidx_pinned(s, lf));
}

/* End of the last non-zero byte of the .log in [from, to), or from. */
static int64_t nonzero_end(struct seg *s, int64_t from, int64_t to)
{
	uint8_t b[65536];
	int64_t end = from;

	for (int64_t at = from; at < to;) {
		size_t want = to - at < (int64_t)sizeof(b) ? (size_t)(to - at) : sizeof(b);
		ssize_t n = io_pread_full(s->io, s->log_fd, b, want, at);
		if (n <= 0)
			return to; /* unreadable: all of it counts */
		for (ssize_t i = n; i > 0; i--)
			if (b[i - 1]) {
				end = at + i;
				break;
			}
		at += n;
	}
	return end;
}

/* Says that recovery keeps the undecodable batch of len bytes at b, at
 * position pos of s, and what readers get there. */
static void report_undecodable(struct seg *s, int64_t pos, const struct batch_hdr *bh,
			       const uint8_t *b, size_t len)
{
	char why[160];
	batch_explain(b, len, why, sizeof(why));
	ENGINE_REPORT(ENGINE_LOG_ERR,
		      "%s.log: batch at position %" PRId64 " (offsets %" PRId64 "..%" PRId64
		      "): %s, under a matching CRC-32C: written so, not a torn tail; kept with "
		      "what follows it, reads that reach it fail with EBADMSG",
		      s->path, pos, bh->base_offset, bh->base_offset + bh->last_offset_delta,
		      why[0] ? why : "its records do not decode");
}

/* A .lines header of another version of its format ("MQLINES" and a
 * digit other than LINES_MAGIC's): an mqfs that lays its entries out
 * otherwise wrote it (a downgrade). Neither damage nor a missing header:
 * rebuilt, the segment would take another line base (the first segment's
 * header alone keeps it once retention removed the segments before) and
 * the log's line positions could move. -EPROTONOSUPPORT, logged; 0 for
 * any other header. */
static int lines_other_version(const struct seg *s, const uint8_t *h)
{
	if (memcmp(h, LINES_MAGIC, 7) != 0 || h[7] == (uint8_t)LINES_MAGIC[7] || h[7] < '0' ||
	    h[7] > '9')
		return 0;
	ENGINE_REPORT(ENGINE_LOG_ERR,
		      "%s.lines: format version %c, this mqfs reads version %c (an mqfs "
		      "that lays out .lines otherwise wrote it): the log is not opened, "
		      "nothing in it changed; start it with the mqfs that wrote it",
		      s->path, h[7], LINES_MAGIC[7]);
	return -EPROTONOSUPPORT;
}

static int seg_recover_pinned(struct seg *s, int64_t line_base, const struct line_fmt *lf,
			      int32_t index_interval, int64_t cut_from, bool contiguous,
			      int64_t limit, int64_t *invalid)
{
	const struct io_ops *io = s->io;
	uint8_t h[LINES_HDR_SIZE];
	int64_t lsz = io->size(io->ctx, s->lines_fd);
	bool hdr_ok = false;
	/* An I/O error fails the recovery: taken for a missing header, it
	 * would rebuild the segment from another line base (0 for the first
	 * segment), moving every line position of the log. */
	ssize_t hn = lsz >= LINES_HDR_SIZE ? io_pread_full(io, s->lines_fd, h, sizeof(h), 0) : 0;
	if (hn < 0)
		return (int)hn;
	if (hn == LINES_HDR_SIZE && lines_other_version(s, h) < 0)
		return -EPROTONOSUPPORT;
	if (hn == LINES_HDR_SIZE && memcmp(h, LINES_MAGIC, 8) == 0) {
		/* The header is what keeps the line base once older segments are
		 * gone; when the segment before is here, it decides. */
		if (!contiguous || line_base < 0)
			line_base = (int64_t)be64_get(h + 8);
		hdr_ok = true;
	}
	if (line_base < 0)
		line_base = 0;
	s->line_base = line_base;
	s->line_end = line_base;
	s->next_offset = s->base_offset;
	s->max_ts = s->max_ts_offset = s->last_tidx_ts = -1;
	s->bytes_since_index = 0;
	s->idx_entries = s->tidx_entries = 0;
	tidx_ok_forget(s, 0);

	struct gbuf lines = { 0 }, idx = { 0 }, tidx = { 0 };
	uint8_t *buf = NULL;
	size_t cap = 0;
	struct batch_iter it = { 0 };
	int64_t size = io->size(io->ctx, s->log_fd);
	int64_t pos = 0, k = 0, nundec = 0;
	bool after_undec = false;
	/* The old entry read ahead (entry nx_k), so each is read once. */
	struct lines_ent nx;
	int64_t nx_k = -1;
	/* Existing .lines entries that still match the log keep their line
	 * positions: compaction leaves gaps between batches that a rescan
	 * cannot see, and positions never move. Beyond them, batches follow
	 * each other without gaps (as appends write them). */
	int64_t old_ents =
		hdr_ok && lsz > LINES_HDR_SIZE ? (lsz - LINES_HDR_SIZE) / LINES_ENT_SIZE : 0;
	int rc = 0;
	if (size < 0) {
		rc = (int)size;
		goto out;
	}
	uint8_t hdr[LINES_HDR_SIZE];
	memcpy(hdr, LINES_MAGIC, 8);
	be64_put(hdr + 8, (uint64_t)line_base);
	rc = gbuf_add(&lines, hdr, sizeof(hdr));
	while (rc == 0 && pos < size) {
		int64_t total = seg_read_batch(s, pos, size, &buf, &cap);
		if (total == -EBADMSG)
			break;
		if (total < 0) {
			rc = (int)total;
			goto out;
		}
		struct batch_hdr bh;
		if (batch_validate(buf, (size_t)total) < 0 ||
		    batch_hdr_decode(buf, (size_t)total, &bh) < 0 ||
		    bh.base_offset < s->next_offset ||
		    /* base + delta >= limit, without wrapping: the base offset
		     * is outside the CRC, a damaged one near INT64_MAX would
		     * wrap the next offset negative and let every batch after
		     * it in, whatever its offsets (delta >= 0, base >= 0). */
		    bh.last_offset_delta >= limit - bh.base_offset ||
		    bh.base_offset + bh.last_offset_delta - s->base_offset > UINT32_MAX ||
		    pos > UINT32_MAX)
			break;
		struct batch_meta m = {
			.base_offset = bh.base_offset,
			.last_offset = bh.base_offset + bh.last_offset_delta,
			.size = total,
		};
		/* Framing and CRC hold from here on: a batch whose records do
		 * not decode is not torn (see "Undecodable batches" above) and
		 * ends nothing; it is kept, said once here, and the readers
		 * fail at it. Only a failure of our own (-ENOMEM) stops the
		 * scan, and the open with it. */
		int64_t lb = batch_line_bytes(buf, (size_t)total, lf, true, &it, &m);
		bool undecodable = lb < 0 && batch_undecodable(lb, buf, (size_t)total);
		if (undecodable) {
			if (nundec++ < SEG_BAD_SLOTS)
				report_undecodable(s, pos, &bh, buf, (size_t)total);
			lb = undecodable_line_bytes(&bh);
			m.max_ts = -1;
			m.max_ts_offset = m.base_offset;
		} else if (lb < 0) {
			rc = (int)lb;
			goto out;
		}
		m.line_bytes = lb;
		rc = index_entries_for(s, &m, pos, index_interval, &idx, &tidx);
		if (rc < 0)
			goto out;
		uint8_t le[LINES_ENT_SIZE];
		struct lines_ent e = { (uint32_t)(m.base_offset - s->base_offset), (uint32_t)pos,
				       s->line_end };
		struct lines_ent old;
		/* Likewise an entry the disk cannot read is no entry of another
		 * layout: the positions it keeps (compaction's gaps) would go. */
		int orc = k < old_ents && k != nx_k ? seg_read_lines_ent(s, k, &old) : 0;
		if (orc < 0 && orc != -EBADMSG) {
			rc = orc;
			goto out;
		}
		if (k == nx_k)
			old = nx;
		bool same = k < old_ents && orc == 0 && old.rel_offset == e.rel_offset &&
			    old.position == e.position;
		/* A batch's lines end by the next old entry's line position
		 * (when that one is of the next batch): an entry moved up on
		 * disk leaves its batch short of room, one moved down overlaps
		 * the lines before it (corrupt.c, "Moved entries"). The first
		 * is put back where its lines end at the next entry, the
		 * second after the batch before (below); with no gap around
		 * them, as appends leave, both are then where they were
		 * written, and the entries around them keep theirs. */
		if (!same || k + 1 >= old_ents || seg_read_lines_ent(s, k + 1, &nx) < 0)
			nx_k = -1;
		else
			nx_k = k + 1;
		if (nx_k >= 0 && nx.position == pos + total && nx.line_pos < old.line_pos + lb)
			old.line_pos = nx.line_pos - lb;
		/* After an undecodable batch the kept entry may place the next
		 * one further than its byte per record: its lines as written. */
		if (same && old.line_pos >= s->line_end &&
		    (!contiguous || after_undec || old.line_pos == s->line_end))
			e.line_pos = old.line_pos;
		else if (!same)
			old_ents = k; /* no trust in entries of another layout */
		after_undec = undecodable;
		k++;
		s->line_end = e.line_pos;
		enc_lines(le, &e);
		rc = gbuf_add(&lines, le, sizeof(le));
		s->next_offset = m.last_offset + 1;
		s->line_end += lb;
		pos += total;
	}
	if (rc < 0)
		goto out;
	if (nundec > SEG_BAD_SLOTS)
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s.log: %" PRId64 " more batches that do not decode kept (%" PRId64
			      " in all)",
			      s->path, nundec - SEG_BAD_SLOTS, nundec);
	/* Zeros past the last batch are the space a mapped tail reserved
	 * (or what a crash left unwritten): cut, but not torn bytes. */
	*invalid = nonzero_end(s, pos, size) - pos;
	/* Cut only where the valid batches reach cut_from: below it the
	 * records were fsynced, and what ends them there is damage. */
	bool cut = s->next_offset >= cut_from;
	if (pos < size && cut) {
		rc = io->ftruncate(io->ctx, s->log_fd, pos);
		if (rc < 0)
			goto out;
	}
	/* Rewrite the indexes whole, then make the result durable. */
	int fds[] = { s->lines_fd, s->idx_fd, s->tidx_fd };
	struct gbuf *gb[] = { &lines, &idx, &tidx };
	for (int i = 0; i < 3 && rc == 0; i++) {
		rc = io->ftruncate(io->ctx, fds[i], 0);
		if (rc == 0 && gb[i]->len)
			rc = io_pwrite_full(io, fds[i], gb[i]->p, gb[i]->len, 0);
		if (rc == 0)
			rc = io->fsync(io->ctx, fds[i]);
	}
	if (rc == 0 && cut)
		rc = io->fsync(io->ctx, s->log_fd);
	if (rc < 0)
		goto out;
	s->idx_entries = (int64_t)idx.len / INDEX_ENT_SIZE;
	s->tidx_entries = (int64_t)tidx.len / TIMEINDEX_ENT_SIZE;
	s->lines_ext = false; /* rewritten from size 0: nothing reserved */
	s->lines_resv_end = 0;
	atomic_store(&s->size, pos);
	atomic_store(&s->lines_entries, (int64_t)(lines.len - LINES_HDR_SIZE) / LINES_ENT_SIZE);
out:
	batch_iter_free(&it);
	free(buf);
	gbuf_free(&lines);
	gbuf_free(&idx);
	gbuf_free(&tidx);
	return rc;
}

int seg_recover(struct seg *s, int64_t line_base, const struct line_fmt *lf, int32_t index_interval,
		int64_t cut_from, bool contiguous, int64_t limit, int64_t *invalid)
{
	PINNED(s, int,
	       seg_recover_pinned(s, line_base, lf, index_interval, cut_from, contiguous, limit,
				  invalid));
}

#define LINES_PEND_MAX 256 /* entries held back: one 4 KiB write */

static int seg_lines_sync_pinned(struct seg *s)
{
	if (s->lines_pend_n == 0)
		return 0;
	int64_t n0 = atomic_load(&s->lines_entries);
	int rc = io_pwrite_full(s->io, s->lines_fd, s->lines_pend,
				(size_t)s->lines_pend_n * LINES_ENT_SIZE,
				LINES_HDR_SIZE + n0 * LINES_ENT_SIZE);
	if (rc < 0)
		return rc; /* still pending: the next sync retries */
	atomic_store(&s->lines_entries, n0 + s->lines_pend_n);
	s->lines_pend_n = 0;
	atomic_store(&s->lines_pending, false);
	return 0;
}

int seg_lines_sync(struct seg *s)
{
	if (s->lines_pend_n == 0)
		return 0;
	PINNED(s, int, seg_lines_sync_pinned(s));
}

static int lines_pend_reserve(struct seg *s, int more)
{
	if (s->lines_pend_n + more <= s->lines_pend_cap)
		return 0;
	int nc = s->lines_pend_cap ? s->lines_pend_cap : LINES_PEND_MAX;
	while (nc < s->lines_pend_n + more)
		nc *= 2;
	uint8_t *np = realloc(s->lines_pend, (size_t)nc * LINES_ENT_SIZE);
	if (!np)
		return -ENOMEM;
	s->lines_pend = np;
	s->lines_pend_cap = nc;
	return 0;
}

/* ---- the mapped tail ----
 * Small appends to the active segment are copied into a shared mapping of
 * the .log's next bytes rather than written with pwrite: into the page
 * cache all the same (so they survive kill -9 alike, and fsync covers
 * them), without a system call. That matters because a small write's time
 * in the daemon decides how two writers of one file share it (README,
 * "Layout of the code"). The window is SEG_TAIL_WINDOW bytes whose disk space is
 * reserved first (io->map_tail), so a page never lacks a block (no
 * SIGBUS on a full disk), and the file is longer than the log while it
 * exists: everything that needs the file to end where the log ends drops
 * it first (seg_tail_drop) - a roll, a truncation, a failed append, the
 * last reference, a clean shutdown. After a crash, recovery cuts the zeros
 * past the log like any invalid tail (and does not count them as torn).
 * Readers never notice: they read up to s->size only.
 */
#define SEG_TAIL_WINDOW (1 << 20)
/* Bigger appends are written: the system call is then a small part of
 * their cost, and a write is cheaper than faulting the mapping in page by
 * page. */
#define SEG_TAIL_APPEND 4096

static void seg_tail_unmap(struct seg *s)
{
	if (s->tail) {
		s->io->unmap(s->io->ctx, s->tail, s->tail_len);
		s->tail = NULL;
		s->tail_len = 0;
	}
}

/* Cuts the index files back to their entries. */
static int seg_idx_cut(struct seg *s)
{
	int rc = s->io->ftruncate(s->io->ctx, s->idx_fd, s->idx_entries * INDEX_ENT_SIZE);
	if (rc == 0)
		rc = s->io->ftruncate(s->io->ctx, s->tidx_fd, s->tidx_entries * TIMEINDEX_ENT_SIZE);
	s->idx_ext = rc < 0;
	return rc;
}

static int seg_tail_drop_pinned(struct seg *s)
{
	int rc = 0;
	seg_tail_unmap(s);
	/* Flags stay set until their cut succeeds: bytes past the log must
	 * not become records at the next open. */
	if (s->tail_ext) {
		rc = s->io->ftruncate(s->io->ctx, s->log_fd, atomic_load(&s->size));
		if (rc == 0) {
			s->tail_ext = false;
			s->resv_end = 0; /* the cut freed the reservation */
		}
	}
	if (rc == 0 && s->idx_ext)
		rc = seg_idx_cut(s);
	if (rc == 0 && s->lines_ext) {
		/* The pending entries go into the reservation before it does
		 * (lines_reserve's invariant). */
		rc = seg_lines_sync_pinned(s);
		if (rc == 0)
			rc = s->io->ftruncate(s->io->ctx, s->lines_fd,
					      LINES_HDR_SIZE + atomic_load(&s->lines_entries) *
								       LINES_ENT_SIZE);
		if (rc == 0) {
			s->lines_ext = false;
			s->lines_resv_end = 0;
		}
	}
	/* A cut is not durable before an fsync: until one, a power cut can
	 * bring the zeros back past the log (seg_flush, which a dirty segment
	 * gets before the recovery point passes it; log_roll flushes one that
	 * it had passed already). */
	s->dirty = true;
	return rc;
}

int seg_tail_drop(struct seg *s)
{
	if (!s->tail_ext && !s->idx_ext && !s->lines_ext) {
		seg_tail_unmap(s);
		return 0;
	}
	PINNED(s, int, seg_tail_drop_pinned(s));
}

void seg_tail_forget(struct seg *s)
{
	seg_tail_unmap(s);
	s->tail_ext = false;
	s->idx_ext = false;
	s->lines_ext = false;
}

/* Copies len bytes to position pos through the mapped tail, mapping a new
 * window when pos is past the current one. false: not done (no mapping
 * here, or it failed, e.g. a full disk: the caller writes instead and
 * gets the error). */
static bool seg_tail_copy(struct seg *s, const uint8_t *data, size_t len, int64_t pos)
{
	if (!s->tail_ok || !s->io->map_tail || len > SEG_TAIL_APPEND)
		return false;
	if (!s->tail || pos < s->tail_off ||
	    pos + (int64_t)len > s->tail_off + (int64_t)s->tail_len) {
		long page = sysconf(_SC_PAGESIZE);
		int64_t off = pos - pos % (page > 0 ? page : 4096);
		seg_tail_unmap(s);
		s->tail_ext = true; /* a failed reservation may still grow it */
		void *p = s->io->map_tail(s->io->ctx, s->log_fd, (off_t)off, SEG_TAIL_WINDOW);
		if (!p) {
			s->tail_ok = false;
			return false;
		}
		s->tail = p;
		s->tail_off = off;
		s->tail_len = SEG_TAIL_WINDOW;
	}
	memcpy(s->tail + (pos - s->tail_off), data, len);
	return true;
}

/* ---- blocks reserved ahead ----
 * A write past the blocks a file has makes the filesystem allocate as it
 * goes (on ext4, delayed allocation reserves space and records an extent
 * block by block), which costs a write into the page cache more than its
 * copy. So before an append it writes, the active segment reserves the
 * .log's blocks ahead of its end, four times the append (SEG_RESERVE_MIN
 * to SEG_RESERVE_MAX), through io->reserve: the file's size does not
 * change and readers never look past the log's size. The reservation is
 * freed by the .log's cut to its size (ext4 and XFS free the blocks past
 * the size even when it does not change): tail_ext is set with it, so
 * seg_tail_drop cuts at roll, close and after a failed append; a
 * truncation cuts anyway. After an unclean stop the blocks reserved past
 * the end stay until the segment's next reservation, which cuts them at
 * its roll. A reservation that fails (a full disk) changes nothing but
 * the cost: the write goes on and reports its own error.
 */
#define SEG_RESERVE_MIN (64 << 10)
#define SEG_RESERVE_MAX (8 << 20)

static void seg_reserve(struct seg *s, int64_t pos, size_t len)
{
	int64_t end = pos + (int64_t)len, ahead = 4 * (int64_t)len;

	if (!s->tail_ok || !s->io->reserve || end <= s->resv_end)
		return;
	ahead = ahead < SEG_RESERVE_MIN   ? SEG_RESERVE_MIN
		: ahead > SEG_RESERVE_MAX ? SEG_RESERVE_MAX
					  : ahead;
	int64_t from = pos > s->resv_end ? pos : s->resv_end;
	s->tail_ext = true; /* even a failed call may have allocated some */
	/* On a failure, no retry before that much more was written. */
	(void)s->io->reserve(s->io->ctx, s->log_fd, (off_t)from, (off_t)(end + ahead - from));
	s->resv_end = end + ahead;
}

void seg_preallocate(struct seg *s, int64_t bytes)
{
	if (!s->io->reserve || bytes <= s->resv_end)
		return;
	s->tail_ext = true; /* cut to the log's size at roll or close */
	if (s->io->reserve(s->io->ctx, s->log_fd, 0, (off_t)bytes) == 0) {
		s->resv_end = bytes;
		return;
	}
	/* A full disk may have given part of it: given back at once, so that
	 * a preallocation that did not fit takes no room from other writes. */
	if (s->io->ftruncate(s->io->ctx, s->log_fd, atomic_load(&s->size)) == 0)
		s->tail_ext = false;
}

/* ---- the .lines reserved ahead ----
 * A reader that reaches the active segment's last written .lines entry
 * has the entries the appender holds back written (seg_lines_sync). On a
 * full disk that write could need a block, and fail every read past it
 * with ENOSPC: an error for writers only. So an append first reserves
 * the .lines blocks its entries will take, and LINES_RESV_AHEAD bytes
 * more, through io->reserve (the file's size does not change). When that
 * fails the append fails with its errno before anything is written.
 * Invariant: every pending entry has its block (a reader's write of them
 * never allocates). The reservation past the file's size goes with the
 * .log's (seg_tail_drop: lines_ext), after the pending entries were
 * written into it. A filesystem without fallocate (EOPNOTSUPP) gets no
 * reservation (lines_resv_end -1): reads there may meet ENOSPC.
 */
#define LINES_RESV_AHEAD (64 << 10)

static int lines_reserve(struct seg *s, int n)
{
	int64_t written = LINES_HDR_SIZE + atomic_load(&s->lines_entries) * LINES_ENT_SIZE;
	int64_t need = written + (int64_t)(s->lines_pend_n + n) * LINES_ENT_SIZE;

	if (!s->io->reserve || s->lines_resv_end < 0 || need <= s->lines_resv_end)
		return 0;
	int64_t from = written > s->lines_resv_end ? written : s->lines_resv_end;
	s->lines_ext = true; /* even a failed call may have allocated some */
	int rc = s->io->reserve(s->io->ctx, s->lines_fd, (off_t)from,
				(off_t)(need + LINES_RESV_AHEAD - from));
	if (rc == -EOPNOTSUPP) {
		s->lines_resv_end = -1;
		return 0;
	}
	if (rc == 0)
		s->lines_resv_end = need + LINES_RESV_AHEAD;
	return rc;
}

static int seg_append_pinned(struct seg *s, const struct iovec *iov, int niov, size_t len,
			     const struct batch_meta *m, int n, int32_t index_interval)
{
	const struct io_ops *io = s->io;
	int64_t pos0 = atomic_load(&s->size);
	uint8_t istack[64 * INDEX_ENT_SIZE], tstack[64 * TIMEINDEX_ENT_SIZE];
	struct gbuf idx = { istack, 0, sizeof(istack), istack };
	struct gbuf tidx = { tstack, 0, sizeof(tstack), tstack };
	/* Appender state to restore if a write fails. */
	int64_t bsi0 = s->bytes_since_index, ltts0 = s->last_tidx_ts;
	int64_t mts0 = s->max_ts, mtso0 = s->max_ts_offset;
	int pend0 = s->lines_pend_n;
	int rc = lines_pend_reserve(s, n);
	if (rc == 0)
		rc = lines_reserve(s, n);
	int64_t pos = pos0;
	for (int i = 0; i < n && rc == 0; i++) {
		struct lines_ent e = { (uint32_t)(m[i].base_offset - s->base_offset), (uint32_t)pos,
				       m[i].first_line_pos };
		enc_lines(s->lines_pend + (size_t)(pend0 + i) * LINES_ENT_SIZE, &e);
		rc = index_entries_for(s, &m[i], pos, index_interval, &idx, &tidx);
		pos += m[i].size;
	}
	if (rc == 0 && (niov > 1 || !seg_tail_copy(s, iov[0].iov_base, len, pos0))) {
		seg_reserve(s, pos0, len);
		rc = io_pwritev_full(io, s->log_fd, iov, niov, pos0);
	}
	if (rc == 0 && idx.len)
		rc = io_pwrite_full(io, s->idx_fd, idx.p, idx.len, s->idx_entries * INDEX_ENT_SIZE);
	if (rc == 0 && tidx.len)
		rc = io_pwrite_full(io, s->tidx_fd, tidx.p, tidx.len,
				    s->tidx_entries * TIMEINDEX_ENT_SIZE);
	if (rc < 0) {
		/* Nothing of a failed append stays: cut every file back. A cut
		 * that fails is left flagged and redone by seg_tail_drop (at the
		 * latest at roll or close), so the batch written here can never
		 * be taken for a record at the next open. */
		s->tail_ext = true;
		s->idx_ext = true;
		(void)seg_tail_drop(s);
		s->bytes_since_index = bsi0;
		s->last_tidx_ts = ltts0;
		s->max_ts = mts0;
		s->max_ts_offset = mtso0;
		goto out;
	}
	s->lines_pend_n = pend0 + n;
	s->idx_entries += (int64_t)idx.len / INDEX_ENT_SIZE;
	s->tidx_entries += (int64_t)tidx.len / TIMEINDEX_ENT_SIZE;
	s->next_offset = m[n - 1].last_offset + 1;
	s->line_end = m[n - 1].first_line_pos + m[n - 1].line_bytes;
	s->dirty = true;
	/* Publish to lock-free readers: the bytes, then that entries wait. */
	atomic_store(&s->size, pos);
	atomic_store(&s->lines_pending, true);
	/* A failed block write is not the append's failure: the entries stay
	 * pending and seg_flush, which must succeed, reports it. */
	if (s->lines_pend_n >= LINES_PEND_MAX)
		(void)seg_lines_sync(s);
out:
	gbuf_free(&idx);
	gbuf_free(&tidx);
	return rc;
}

int seg_appendv(struct seg *s, const struct iovec *iov, int niov, const struct batch_meta *m, int n,
		int32_t index_interval)
{
	size_t len = 0;

	for (int i = 0; i < niov; i++)
		len += iov[i].iov_len;
	PINNED(s, int, seg_append_pinned(s, iov, niov, len, m, n, index_interval));
}

int seg_append(struct seg *s, const uint8_t *data, size_t len, const struct batch_meta *m, int n,
	       int32_t index_interval)
{
	struct iovec v = { (void *)(uintptr_t)data, len };

	return seg_appendv(s, &v, 1, m, n, index_interval);
}

static int seg_truncate_to_pinned(struct seg *s, int64_t offset, int key_sep_len)
{
	(void)key_sep_len;
	const struct io_ops *io = s->io;
	/* .lines first: on any error below, the caller reloads the segment's
	 * tail from its files, which must then hold every entry. */
	int rc0 = seg_lines_sync(s);
	if (rc0 == 0)
		rc0 = seg_tail_drop(s);
	if (rc0 < 0)
		return rc0;
	int64_t n = atomic_load(&s->lines_entries);
	/* First batch whose last offset >= offset: the batch after the last one
	 * that starts below offset, unless that one reaches offset itself. */
	int64_t keep = 0, size = 0;
	int64_t i = seg_find_offset(s, offset - 1);
	if (i >= 0) {
		struct lines_ent e;
		int rc = seg_read_lines_ent(s, i, &e);
		if (rc < 0)
			return rc;
		uint8_t h[BATCH_HDR_SIZE];
		if (io_pread_full(io, s->log_fd, h, sizeof(h), e.position) != BATCH_HDR_SIZE)
			return -EBADMSG;
		struct batch_hdr bh;
		rc = batch_hdr_decode(h, sizeof(h), &bh);
		if (rc < 0)
			return rc;
		if (bh.base_offset + bh.last_offset_delta < offset) {
			keep = i + 1;
			size = e.position + batch_total_size(h);
		} else {
			keep = i;
			size = e.position;
		}
	}
	/* Nothing cut: the segment becomes the active one again (the later
	 * ones went), without the final .timeindex entry its roll gave it, so
	 * that its next entries fall as on a replica that never rolled it. */
	if (keep >= n)
		return seg_drop_final_tidx_pinned(s, NULL);
	/* Index entries at or beyond the cut go (a closed segment's final
	 * .timeindex entry with them: it names an offset past its last .index
	 * entry's). A .timeindex entry is
	 * written with an .index entry and names an offset after the one
	 * before's and at most its own, so those that stay are the ones at or
	 * below the last .index entry kept: what the appends that wrote the
	 * kept batches wrote, as on a replica that never held the rest. */
	int64_t ni = s->idx_entries, nt = s->tidx_entries, last_rel = -1;
	while (ni > 0) {
		uint8_t b[8];
		if (io_pread_full(io, s->idx_fd, b, 8, (ni - 1) * 8) != 8)
			return -EIO;
		if ((int64_t)be32_get(b + 4) < size) {
			last_rel = be32_get(b);
			break;
		}
		ni--;
	}
	while (nt > 0) {
		uint8_t b[12];
		if (io_pread_full(io, s->tidx_fd, b, 12, (nt - 1) * 12) != 12)
			return -EIO;
		if ((int64_t)be32_get(b + 8) <= last_rel)
			break;
		nt--;
	}
	/* Derived files first: each cut that fails leaves the segment as it
	 * was, since shorter indexes are still valid (sparser) ones. */
	s->idx_entries = ni;
	s->tidx_entries = nt;
	tidx_ok_forget(s, nt);
	int rc = seg_idx_cut(s);
	if (rc == 0)
		rc = io->ftruncate(io->ctx, s->lines_fd, LINES_HDR_SIZE + keep * LINES_ENT_SIZE);
	if (rc < 0)
		return rc;
	s->lines_ext = false; /* the cut freed the reservation */
	s->lines_resv_end = 0;
	/* From here the segment ends at size. If the .log's cut fails, the
	 * bytes past it are what a mapped tail leaves (tail_ext): never read,
	 * and cut by the next seg_tail_drop. */
	rc = io->ftruncate(io->ctx, s->log_fd, size);
	if (rc < 0)
		s->tail_ext = true;
	else
		s->resv_end = 0; /* the cut freed the reservation */
	atomic_store(&s->lines_entries, keep);
	atomic_store(&s->size, size);
	s->dirty = true;
	return rc;
}

int seg_truncate_to(struct seg *s, int64_t offset, int key_sep_len)
{
	PINNED(s, int, seg_truncate_to_pinned(s, offset, key_sep_len));
}

/* An fsync of one of s's files at run time; a failure stays with s
 * (seg->sync_err). Only the fsync's own error does: one of a pin (out of
 * descriptors) or of a pending .lines write leaves nothing in doubt. */
static int seg_fsync(struct seg *s, int fd, bool cut_clears)
{
	int rc = s->io->fsync(s->io->ctx, fd);
	int none = 0;

	if (rc < 0 && atomic_compare_exchange_strong(&s->sync_err, &none, rc)) {
		atomic_store(&s->sync_err_cut_clears, cut_clears);
		ENGINE_REPORT(
			ENGINE_LOG_ERR,
			"%s: fsync: %s: what was written there since the last sync may "
			"not be on disk; every later sync of it fails so (the kernel "
			"reports a lost write once) until %s",
			s->path, strerror(-rc),
			cut_clears ? "those records are taken back, or a restart recovers the log"
				   : "a restart recovers the log");
	}
	return rc;
}

static int seg_flush_pinned(struct seg *s)
{
	if (!s->dirty)
		return 0;
	/* Log bytes first: an index may lag its log after a crash, never lead. */
	int rc = seg_lines_sync(s);
	if (rc == 0)
		rc = seg_fsync(s, s->log_fd, false);
	if (rc == 0)
		rc = seg_fsync(s, s->lines_fd, false);
	if (rc == 0)
		rc = seg_fsync(s, s->idx_fd, false);
	if (rc == 0)
		rc = seg_fsync(s, s->tidx_fd, false);
	if (rc == 0)
		s->dirty = false;
	return rc;
}

int seg_flush(struct seg *s)
{
	int err = atomic_load(&s->sync_err);

	if (err)
		return err;
	if (!s->dirty)
		return 0;
	PINNED(s, int, seg_flush_pinned(s));
}

static int seg_cut_tail_pinned(struct seg *s)
{
	int rc = s->io->ftruncate(s->io->ctx, s->log_fd, atomic_load(&s->size));

	if (rc == 0)
		rc = seg_fsync(s, s->log_fd, false);
	return rc;
}

int seg_cut_tail(struct seg *s)
{
	int err = atomic_load(&s->sync_err);

	if (err)
		return err;
	PINNED(s, int, seg_cut_tail_pinned(s));
}

int seg_sync_log(struct seg *s)
{
	int err = atomic_load(&s->sync_err);

	if (err)
		return err;
	PINNED(s, int, seg_fsync(s, s->log_fd, true));
}

void seg_sync_err_cut(struct seg *s, int64_t offset, int64_t synced_offset)
{
	if (atomic_load(&s->sync_err) && atomic_load(&s->sync_err_cut_clears) &&
	    offset <= synced_offset)
		atomic_store(&s->sync_err, 0);
}

/* The keys of the .lines entries: the batch's base offset, or its first
 * line position. */
static int lines_offset_at(const void *arg, int64_t i, int64_t *k)
{
	struct seg *s = (struct seg *)arg;
	struct lines_ent e;
	int rc = seg_read_lines_ent(s, i, &e);

	if (rc < 0)
		return rc;
	*k = s->base_offset + (int64_t)e.rel_offset;
	return 0;
}

static int lines_pos_at(const void *arg, int64_t i, int64_t *k)
{
	struct lines_ent e;
	int rc = seg_read_lines_ent((struct seg *)arg, i, &e);

	if (rc < 0)
		return rc;
	*k = e.line_pos;
	return 0;
}

/* Index of the last .lines entry whose key is <= key. */
static int64_t seg_find_entry_pinned(struct seg *s, int64_t key,
				     int (*key_at)(const void *arg, int64_t i, int64_t *k))
{
	int64_t n = atomic_load(&s->lines_entries);
	if (n == 0)
		return -ENOENT;
	return bsearch_last_le(n, key, key_at, s);
}

static int64_t seg_find_entry(struct seg *s, int64_t key,
			      int (*key_at)(const void *arg, int64_t i, int64_t *k))
{
	PINNED(s, int64_t, seg_find_entry_pinned(s, key, key_at));
}

int64_t seg_find_offset(struct seg *s, int64_t offset)
{
	return seg_find_entry(s, offset, lines_offset_at);
}

int64_t seg_find_pos(struct seg *s, int64_t pos)
{
	return seg_find_entry(s, pos, lines_pos_at);
}

/* A .timeindex entry: timestamp (8 bytes), relative offset (4). */
static int tidx_read(const struct seg *s, int64_t i, int64_t *ts, int64_t *offset)
{
	uint8_t b[12];

	if (io_pread_full(s->io, s->tidx_fd, b, 12, i * 12) != 12)
		return -EIO;
	*ts = (int64_t)be64_get(b);
	*offset = s->base_offset + be32_get(b + 8);
	return 0;
}

static int tidx_time_at(const void *arg, int64_t i, int64_t *k)
{
	int64_t offset;

	return tidx_read(arg, i, k, &offset);
}

static int64_t seg_find_time_pinned(struct seg *s, const struct line_fmt *lf, int64_t ts)
{
	/* Last entry with timestamp < ts: records from there on may match. */
	int64_t i, t, off = s->base_offset;
	int rc;

	if (ts == INT64_MIN || s->tidx_bad)
		return off;
	i = bsearch_last_le(s->tidx_entries, ts - 1, tidx_time_at, s);
	if (i < -1)
		return i;
	if (i < 0)
		return off;
	if (tidx_read(s, i, &t, &off) < 0)
		return -EIO;
	/* The entry says no record before off reaches ts: one damaged to a
	 * lower timestamp or a later offset would skip records that do.
	 * Belied by its batch, the segment is walked whole from now on. */
	if (tidx_ok_has(s, i))
		return off;
	rc = tidx_entry_check(s, lf, atomic_load(&s->lines_entries), t, off, atomic_load(&s->size));
	if (rc == 0)
		tidx_ok_note(s, i);
	if (rc == -EBADMSG) {
		ENGINE_REPORT(ENGINE_LOG_WARN,
			      "%s.timeindex: entry %" PRId64 " (timestamp %" PRId64
			      ", offset %" PRId64 ") is not the log's: lookups by time "
			      "read the segment from its start (it is rebuilt at the next "
			      "start without its clean-shutdown marker)",
			      s->path, i, t, off);
		s->tidx_bad = true;
		return s->base_offset;
	}
	return rc < 0 ? rc : off;
}

int64_t seg_find_time(struct seg *s, const struct line_fmt *lf, int64_t ts)
{
	PINNED(s, int64_t, seg_find_time_pinned(s, lf, ts));
}
