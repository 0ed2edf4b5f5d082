/*
 * log_int.h — private to engine/: the segment and the log structures, and
 * the functions the engine's files call across one another (the log's
 * files are listed at the top of log.c). Lock order: a log's maint_lock
 * before its lock, never the other way.
 */
#ifndef MQFS_ENGINE_LOG_INT_H
#define MQFS_ENGINE_LOG_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/types.h>

#include "engine/engine.h"
#include "engine/batch.h"
#include "engine/pool.h"

/* Makes room in the array p (*cap elements of elem bytes) for need
 * elements, doubling from first. Returns the array, or NULL (out of
 * memory) with p and *cap as they were. */
static inline void *engine_grow(void *p, size_t *cap, size_t need, size_t elem, size_t first)
{
	if (need <= *cap)
		return p;
	size_t nc = *cap ? *cap : first;
	while (nc < need)
		nc *= 2;
	void *np = realloc(p, nc * elem);
	if (np)
		*cap = nc;
	return np;
}

/* checkpoint.c: reads one of Kafka's checkpoint files at path: calls
 * begin(arg, count) once after the header, then entry(arg, p, &used, why)
 * for each of the count entries (p at its line; used = bytes it read, its
 * '\n' included), each returning 0 or -errno (-EBADMSG with *why set when
 * it refuses the entry). 0 (nothing called) when the file is missing;
 * -EBADMSG when the text is not a checkpoint of at most max entries, with
 * *why and *line (1-based) saying what and where; -errno of the read or of
 * a function. */
int ckpt_read(const struct io_ops *io, const char *path, int max,
	      int (*begin)(void *arg, int count),
	      int (*entry)(void *arg, const char *p, int *used, const char **why), void *arg,
	      const char **why, int *line);
/* The next field of a checkpoint entry at *p (after any whitespace; a
 * field ends at whitespace or the end of the text) as a decimal in
 * [min, max]: 0 with *p past it and the whitespace after it (its line's
 * '\n' included), or -1 when it is missing, not a decimal or out of
 * range, a number that would wrap included (an epoch 4294967297 is not
 * epoch 1: the file is damaged). */
int ckpt_num(const char **p, int64_t min, int64_t max, int64_t *out);

#define LINES_MAGIC        "MQLINES1"
#define LINES_HDR_SIZE     16
#define LINES_ENT_SIZE     16
#define INDEX_ENT_SIZE     8
#define TIMEINDEX_ENT_SIZE 12

/* How records become lines (linefmt.c): line.format and key.separator,
 * copied from the log's settings (both fixed once the log has a record). */
struct line_fmt {
	int format;
	int sep_len;
	char sep[16];
};
/* One .lines entry: a batch's base offset relative to the segment, its
 * position in the .log file, and the line position of its first record. */
struct lines_ent {
	uint32_t rel_offset;
	uint32_t position;
	int64_t line_pos;
};

/* Batches encoded by an append, before they are written; an append of
 * many records is encoded in up to LOG_PARTS parts. */
#define LOG_PARTS 8
struct encbuf {
	uint8_t *buf;
	size_t cap;
	struct batch_meta *meta;
	size_t meta_cap;
};

/* The buffers of one append (one per part), taken from a cache shared by
 * the logs of a manager for the append's duration: their memory follows the
 * number of appends running at once, not the number of partitions. */
struct encset {
	struct encset *next;
	struct encbuf enc[LOG_PARTS];
	struct batch_meta *meta; /* the batches of parts written together */
	size_t meta_cap;
};
struct enc_cache {
	pthread_mutex_t mu;
	struct encset *free;
};
void enc_cache_init(struct enc_cache *c);
void enc_cache_destroy(struct enc_cache *c);

/* The read-ahead budget (cursor.c): the bytes of read-ahead buffers of
 * every cursor of a manager's logs together. A cursor grows its buffers
 * only when the budget has room, and otherwise reads with a small buffer
 * (what one batch needs). Shared by the manager and each of its logs, so
 * reference counted: a log, and its cursors, may outlive the manager. */
struct ra_budget {
	_Atomic int64_t used;
	_Atomic int64_t limit;
	atomic_int refs;
};
struct ra_budget *ra_budget_new(int64_t limit);
void ra_budget_ref(struct ra_budget *b);
void ra_budget_unref(struct ra_budget *b);
/* The bytes a cursor returned that a helper had decoded ahead (tests). */
int64_t log_cursor_ahead_bytes(const struct log_cursor *c);

/* What the appender knows of each batch it writes. */
struct batch_meta {
	int64_t base_offset;
	int64_t last_offset;
	int64_t max_ts;
	int64_t max_ts_offset;
	int64_t line_bytes;     /* bytes of the line view of its records */
	int64_t size;           /* bytes in .log */
	int64_t first_line_pos; /* line position of its first record */
};

/* The one rule for a batch's max_ts and max_ts_offset, which every append
 * (leader, client, follower, cleaner) and recovery follows, so that time
 * index entries depend on the batch bytes only and replicas agree: the
 * largest record timestamp (batch_iter's, so a LogAppendTime batch's max
 * timestamp for every record) and the first record holding it. Start with
 * max_ts = -1, max_ts_offset = the base offset; note every record in
 * order. */
static inline void batch_meta_note_ts(struct batch_meta *m, int64_t timestamp, int64_t offset)
{
	if (timestamp > m->max_ts) {
		m->max_ts = timestamp;
		m->max_ts_offset = offset;
	}
}

/*
 * A segment. Fields below "lock-free readers" are written by the appender
 * under the log's lock and read by cursors with atomic loads: a reader
 * never looks at a .lines entry at or beyond lines_entries, nor at bytes at
 * or beyond size.
 */
#define SEG_BAD_SLOTS 8
#define LOG_POS_HINTS 4
struct seg {
	int64_t base_offset;
	int64_t line_base; /* line position of base_offset */
	/* Valid only while pinned (seg_pin), or while the segment is not in a
	 * descriptor cache (fdc NULL): an idle set may be closed by the cache
	 * at any time and its numbers reused (seg.c, "Descriptors"). */
	int log_fd, idx_fd, tidx_fd, lines_fd;
	const struct io_ops *io;
	atomic_int refs;
	/* The descriptor cache (seg.c): pins > 0 keeps the four descriptors
	 * open; 0 -> 1 and 1 -> 0 happen under fdc->mu only. The rest is
	 * fdc->mu's: on the LRU iff open and pins == 0. */
	struct seg_cache *fdc;
	atomic_int pins;
	bool in_lru;
	struct seg *lru_prev, *lru_next;
	dev_t log_dev; /* the .log's identity, checked at reopen */
	ino_t log_ino;
	/* Pins held by the log while the segment is active, and by the cleaner
	 * once its files are replaced (log lock / cleaner). */
	bool active, kept;
	char path[PATH_MAX]; /* DIR/<20-digit base>, no extension */
	char sfx[16];        /* after the extension: "" or ".cleaned" */
	/* Set (under the log's lock) when the segment left the log and its
	 * files were renamed to <file>.deleted: the last seg_unref unlinks
	 * them (retention.c). */
	atomic_bool deleted;
	/* appender state (log lock) */
	int64_t idx_entries, tidx_entries;
	int64_t bytes_since_index;
	int64_t last_tidx_ts;
	/* A time lookup found a .timeindex entry that its batch belies
	 * (seg_find_time, said once): lookups walk the segment whole. */
	bool tidx_bad;
	/* The .timeindex entries a time lookup found true to their batches
	 * (bit i % 64 of word i / 64: entry i), so that each entry's batch is
	 * read once, not at every lookup that starts there. Forgotten from
	 * an entry on wherever the entries there may change (a cut, a
	 * rebuild, a reload: tidx_ok_forget); a new segment (a roll, the
	 * cleaner's swap) starts with none. Log lock. */
	uint64_t *tidx_ok;
	size_t tidx_ok_words;
	int64_t first_append_ms; /* for segment.ms; 0 = empty */
	/* Kafka's rollingBasedTimestamp: the first batch's maxTimestamp (-1:
	 * it has none). segment.ms counts from it in record time (append.c);
	 * meaningful only while first_append_ms is set. */
	int64_t roll_ts;
	/* Kafka's LogSegment.lastModified: the clock at the last append, the
	 * .log's mtime when opened from disk, kept across a clean. Retention
	 * ages a segment by it when no record has a timestamp (max_ts -1). */
	int64_t last_append_ms;
	int64_t max_ts, max_ts_offset;
	int64_t next_offset; /* offset after the last record */
	int64_t line_end;    /* line position after the last record */
	atomic_bool dirty;   /* written since the last fsync */
	/* The first error an fsync of this segment's files returned at run
	 * time, 0 if none: every later seg_flush, seg_sync_log and
	 * seg_cut_tail returns it without syncing. Linux reports a failed
	 * writeback once, to the fsync that follows it, and may return 0 to
	 * the next with the pages it could not write marked clean, never to be
	 * written: a later success would vouch for records that are not on
	 * disk. So the log's synced offset and recovery point never pass this
	 * segment again, and the stop writes no clean-shutdown marker (the
	 * next start recovers the log). sync_err_cut_clears: the failure was
	 * log_sync's fdatasync of the .log alone, so a cut to the log's synced
	 * offset or below takes back every byte it may have lost (the next
	 * appends dirty those pages afresh) and clears sync_err
	 * (log_truncate_locked); a whole-segment flush's sidecars stay in
	 * doubt until a restart. */
	atomic_int sync_err;
	atomic_bool sync_err_cut_clears;
	/* .lines entries of appended batches not yet written to the file:
	 * written in blocks (seg_lines_sync) rather than one pwrite per append.
	 * Readers that reach the last written entry while lines_pending is set
	 * ask for them under the log's lock. */
	uint8_t *lines_pend;
	int lines_pend_n, lines_pend_cap;
	atomic_bool lines_pending;
	/* The mapped tail (seg.c): small appends of the active segment are
	 * copied into a shared mapping of the .log's next bytes. tail_ok: this
	 * segment may have one; tail_ext: the file may be longer than size. */
	bool tail_ok, tail_ext;
	/* Opened from disk in a log never compacted there: each batch's lines
	 * end exactly where the next entry's begin (cursor.c's check of a
	 * seek's entry). Set at open, never changed. */
	bool contiguous;
	/* .index/.timeindex may hold entries past idx_entries/tidx_entries:
	 * a cut that failed, retried by seg_tail_drop. */
	bool idx_ext;
	uint8_t *tail;
	int64_t tail_off;
	size_t tail_len;
	/* Blocks are reserved for the .log up to resv_end (seg_reserve), for
	 * the .lines up to lines_resv_end (lines_reserve; lines_ext: the
	 * .lines may have blocks past its size, cut by seg_tail_drop). */
	int64_t resv_end, lines_resv_end;
	bool lines_ext;
	/* Where the last fetch ranges began and ended, as .lines entry
	 * indexes (raw.c, log lock): where the next fetch of a follower most
	 * likely starts. Only a guess, checked on the entries read there. */
	int64_t raw_hint[2];
	/* lock-free readers */
	_Atomic int64_t size;
	_Atomic int64_t lines_entries;
	/* Sizes of the .index, .timeindex and .dump renderings (render.c,
	 * under its stripe lock): render_size[k] holds while the file that
	 * rendering reads is render_key[k] - 1 bytes long (0: not known). */
	int64_t render_key[3], render_size[3];
	/* Corrupt batches already reported (corrupt.c): position + 1, 0 = a
	 * free slot. Filled lock-free by whichever reader finds one first. */
	_Atomic int64_t bad_seen[SEG_BAD_SLOTS];
};

/* The descriptor cache of a manager's closed segments (seg.c): at most
 * max_idle descriptor sets of segments nobody is using stay open, least
 * recently used closed first. Reference counted like ra_budget: segments
 * and logs may outlive the manager. */
struct seg_cache;
struct seg_cache *seg_cache_new(int64_t max_idle);
void seg_cache_ref(struct seg_cache *c);
void seg_cache_unref(struct seg_cache *c);
void seg_cache_set_max(struct seg_cache *c, int64_t max_idle);
/* Closes up to n idle sets, least recently used first. */
void seg_cache_close_idle(struct seg_cache *c, int64_t n);
/* Descriptor sets open now (in use or idle), and idle sets closed so far. */
void seg_cache_stats(struct seg_cache *c, int64_t *open_sets, int64_t *evictions);
/* Sets open now and, of them, the idle ones (closed on demand when
 * descriptors run out), read together. */
void seg_cache_sets(struct seg_cache *c, int64_t *open_sets, int64_t *idle);

/* fdc NULL: the segment's descriptors stay open for its life. */
int seg_create(const struct io_ops *io, struct seg_cache *fdc, const char *dir, int64_t base,
	       int64_t line_base, struct seg **out);
int seg_open(const struct io_ops *io, struct seg_cache *fdc, const char *dir, int64_t base,
	     struct seg **out);
/* seg_create with file names <base>.<ext><sfx> (the cleaner's ".cleaned"
 * segments); nothing is fsynced. */
int seg_create_sfx(const struct io_ops *io, struct seg_cache *fdc, const char *dir, int64_t base,
		   int64_t line_base, const char *sfx, struct seg **out);
void seg_ref(struct seg *s);
void seg_unref(struct seg *s);
/* Kafka's LogSegment.largestTimestamp, which retention and
 * min.compaction.lag.ms age a segment by: its largest record timestamp,
 * or last_append_ms when no record has one (-1). Log lock held. */
int64_t seg_largest_ts(const struct seg *s);
/* Keeps the descriptors open until seg_unpin, reopening them if the cache
 * closed them: -EMFILE/-ENFILE (after the cache gave back what it could),
 * -ENOENT when the files are gone. Any thread, any lock (fdc->mu is taken
 * last). Every seg_* function below pins for its own duration. */
int seg_pin(struct seg *s);
void seg_unpin(struct seg *s);
/* The log's pin on its active segment (log lock): never closed by the
 * cache while set. Best effort: without it, use just reopens on demand. */
void seg_set_active(struct seg *s, bool active);
/* Pins for the rest of the segment's life: its files are about to be
 * replaced under their names (the cleaner's swap), so they could not be
 * reopened. */
int seg_keep_fds(struct seg *s);
/* pread / size of one of the four files, pinned for the call. */
enum seg_fd { SEG_FD_LOG, SEG_FD_INDEX, SEG_FD_TIMEINDEX, SEG_FD_LINES };
ssize_t seg_pread(struct seg *s, enum seg_fd f, void *buf, size_t len, int64_t off);
int64_t seg_fsize(struct seg *s, enum seg_fd f);
/* Loads next_offset, line_end, max_ts from the last entries; -EBADMSG when
 * the indexes do not agree with the log (the caller then recovers it). */
int seg_load_tail(struct seg *s, const struct line_fmt *lf, int64_t prev_line_end);
/* Sets first_append_ms and roll_ts (segment.ms's starts) of a segment
 * opened from disk: roll_ts the maxTimestamp of its first batch's header
 * (Kafka's rollingBasedTimestamp), first_append_ms the time that batch
 * went in as far as its files tell: that maxTimestamp (the records
 * are not read), no later than the .log's mtime. Nothing for an empty
 * segment or one whose start is set. */
void seg_first_append_load(struct seg *s);
/* Checks the .lines entries of a segment seg_load_tail loaded: strictly
 * increasing, the first at the segment's start, and about one batch in 64
 * decoded against its entry and the next (with contiguous, line positions
 * must follow each other without gaps: no compaction happened here).
 * -EBADMSG, reported with the entry and the reason, when one does not. */
int seg_check_lines(struct seg *s, const struct line_fmt *lf, bool contiguous);
/* Scans the .log from the start, validates every batch, rewrites the
 * three indexes for the valid batches. When the valid batches reach
 * offset cut_from (INT64_MIN: always), the .log is truncated at the first
 * invalid byte; else (INT64_MAX: never; the recovery point: records below
 * it were fsynced) it is left whole on disk (damage kept for an operator
 * to rescue) and only the segment's size in memory ends there. line_base is used when .lines has no valid header. *invalid =
 * bytes after the last valid batch that are not zeros (zeros are space a
 * mapped tail reserved, or never written). With contiguous (no compaction
 * in this segment) line positions follow each other from line_base (>= 0:
 * the end of the segment before) whatever the old .lines said. limit:
 * the next segment's base offset (INT64_MAX for the last): a batch that
 * reaches it is invalid (its base offset, outside the CRC, is damaged). */
int seg_recover(struct seg *s, int64_t line_base, const struct line_fmt *lf, int32_t index_interval,
		int64_t cut_from, bool contiguous, int64_t limit, int64_t *invalid);
/* Whether an index of ni offset and nt time entries is full under
 * segment.index.bytes (Kafka's isFull: a segment rolls before its next
 * batch, whether or not that batch would add an entry). The time index
 * keeps its last slot free for the entry the roll adds (seg_close_tidx),
 * as Kafka's TimeIndex.isFull does (entries >= maxEntries - 1). */
static inline bool seg_index_full(int64_t ni, int64_t nt, int64_t index_bytes)
{
	return (ni + 1) * INDEX_ENT_SIZE > index_bytes ||
	       (nt + 2) * TIMEINDEX_ENT_SIZE > index_bytes;
}
/* A segment that stops being the active one (a roll, a cleaned segment,
 * a closed one rebuilt by recovery) gets a last .timeindex entry: its
 * largest timestamp and the first record holding it, when the last entry
 * does not have it already (Kafka's LogSegment.onBecomeInactiveSegment).
 * Not at a clean stop, where Kafka's LogSegment.close adds it to the
 * active segment too: the active segment's entries stay a function of its
 * batches alone (seg.c), the same on every replica whatever its stops. */
int seg_close_tidx(struct seg *s, int64_t index_bytes);
/* Takes that entry back from a segment that becomes the active one again
 * (a roll that failed, a truncation that removed the later segments, a
 * crash between the entry and the next segment's files), so its next
 * entries fall where they would have without the roll; with lf, the
 * appender's index state is read again from the files. */
int seg_drop_final_tidx(struct seg *s, const struct line_fmt *lf);
/* How many of the batches m[0..n) (n >= 1) an append to s takes before its
 * index is full (seg_index_full after the batches before), as if each were
 * appended alone: at least the first, which the caller's roll decided. */
int seg_index_room(const struct seg *s, const struct batch_meta *m, int n, int32_t index_interval,
		   int64_t index_bytes);
int seg_append(struct seg *s, const uint8_t *data, size_t len, const struct batch_meta *m, int n,
	       int32_t index_interval);
/* The same with the batches in the pieces of iov (niov <= IO_IOV_MAX), one
 * after the other: one write of the .log for all of them. */
int seg_appendv(struct seg *s, const struct iovec *iov, int niov, const struct batch_meta *m, int n,
		int32_t index_interval);
/* Cuts the .log at the segment's size in memory and fsyncs it: the cut
 * seg_recover left to its caller (cut_from INT64_MAX). */
int seg_cut_tail(struct seg *s);
/* Cuts the segment so it ends before the first batch whose last offset is
 * >= offset. */
int seg_truncate_to(struct seg *s, int64_t offset, int key_sep_len);
/* Ends the mapped tail: unmaps it and cuts the file back to the log's
 * size (and the indexes to their entries, after a failed cut); not
 * fsynced. 0 if there was nothing to cut; on error the cut is retried by
 * the next call. */
int seg_tail_drop(struct seg *s);
/* Ends the mapped tail without cutting anything: the blocks reserved past
 * the log's size stay, and the pending .lines entries are not written, as
 * a killed process leaves them (recovery at the next open deals with
 * both). For a directory that must not be written any more
 * (logmgr_close_offline); the segment is read no more either. */
void seg_tail_forget(struct seg *s);
/* preallocate=true: the new segment s's first bytes of its .log given
 * their blocks at once (fallocate, the size unchanged), cut back to the
 * log's size like the mapped tail's reservation. A failure (a full disk,
 * a filesystem without fallocate) leaves the usual reservation ahead of
 * each append. */
void seg_preallocate(struct seg *s, int64_t bytes);
/* Makes the segment whole durable: the pending .lines entries written,
 * then the .log and the three sidecars fsynced (log lock held). */
int seg_flush(struct seg *s);
/* fdatasyncs the .log alone: its records are durable, its sidecars are
 * not (recovery rebuilds them). Any thread, with or without the log's lock
 * (the caller holds a reference). */
int seg_sync_log(struct seg *s);
/* A cut of s's log to offset (synced_offset: the log's then): clears the
 * failure of a log_sync whose records the cut took back (seg->sync_err). */
void seg_sync_err_cut(struct seg *s, int64_t offset, int64_t synced_offset);
/* Writes the pending .lines entries (log lock held). */
int seg_lines_sync(struct seg *s);
int seg_read_lines_ent(struct seg *s, int64_t i, struct lines_ent *e);
/* Entries i .. i+n-1 (all below lines_entries) in one pread per 64: n,
 * -EBADMSG when the file is shorter, or -errno. */
int seg_read_lines_ents(struct seg *s, int64_t i, int n, struct lines_ent *e);
/* Index i of the last .lines entry with rel offset <= offset - base (or
 * line_pos <= pos); -1 if before the first; -ENOENT if empty. */
int64_t seg_find_offset(struct seg *s, int64_t offset);
int64_t seg_find_pos(struct seg *s, int64_t pos);
/* Offset from .timeindex (each entry used checked against its batch, once:
 * struct seg's tidx_ok) or base. Caller holds the log's lock. */
int64_t seg_find_time(struct seg *s, const struct line_fmt *lf, int64_t ts);
/* Line length of one record in the line view. */
void line_fmt_of(const struct log_config *cfg, struct line_fmt *lf);
/* True when the record is shown escaped. */
bool line_escaped(const struct line_fmt *lf, const struct rec *r);
/* Bytes of the record's line, its '\n' included. */
int64_t line_len(const struct line_fmt *lf, const struct rec *r);
/* Sum of line_len over the records it has left (it ends past them), >= 0,
 * or batch_iter_next's error. With ts, also their max_ts and
 * max_ts_offset (batch_meta_note_ts; max_ts_offset starts at the base). */
int64_t iter_line_bytes(struct batch_iter *it, const struct line_fmt *lf, struct batch_meta *ts);
/* Writes the line (line_len bytes) at out; returns its length. */
int64_t line_render(const struct line_fmt *lf, const struct rec *r, char *out);
/* line_len and line_escaped in one pass over the record, and line_render
 * with that answer: the read path's per-record pair. */
int64_t line_measure(const struct line_fmt *lf, const struct rec *r, bool *escaped);
/* line_len of a record made from a written line; value_clean: line_scan
 * found no control byte in that line, so the value need not be searched
 * again (the append's per-record length). */
int64_t line_len_scanned(const struct line_fmt *lf, const struct rec *r, bool value_clean);
/* The record's line as is (key<sep>value\n), not escaped: never longer
 * than line_len. */
int64_t line_plain_len(const struct line_fmt *lf, const struct rec *r);
int64_t line_render_as(const struct line_fmt *lf, const struct rec *r, bool escaped, char *out);
/* Reads one whole batch at position pos into *buf (grown as needed).
 * Returns its size, 0 at the end, -EBADMSG if it runs past limit. */
int64_t seg_read_batch(struct seg *s, int64_t pos, int64_t limit, uint8_t **buf, size_t *cap);

struct epoch_ent {
	int32_t epoch;
	int64_t start_offset;
};

/* Line bytes [pos, pos + len) of the log's line view (retention.c). */
struct kept_bytes {
	char *buf;
	int64_t pos;
	size_t len;
};

struct log {
	pthread_mutex_t lock;
	atomic_int refs;
	char dir[PATH_MAX];
	char topic[256];
	int partition;
	const struct io_ops *io;
	struct log_config cfg;
	/* Of cfg: line_fmt_of at open, and at a reconfigure that changes it
	 * (only while the log has no line). Cursors read it without the lock;
	 * lock-free readers never read cfg, which any reconfigure rewrites. */
	struct line_fmt lf;
	struct seg **segs; /* sorted by base offset; last = active */
	int nsegs;
	size_t segs_cap;
	int64_t log_start_offset;
	/* Line position of log_start_offset: reads never start below it
	 * (records below a checkpointed log start stay unseen). */
	int64_t line_start;
	/* Line bytes of removed records kept for page-cache readers
	 * (retention.c, "Pages kept"): head, those of the page that holds
	 * line_start below it (valid while it ends at line_start); cleaned,
	 * those of the page that holds the end of the last range the cleaner
	 * rewrote, below that end (valid while the log reaches past it). */
	struct kept_bytes head, cleaned;
	/* Segments that left the log whose files stay, as <file>.deleted,
	 * until due_ms (file.delete.delay.ms; retention.c "Delayed
	 * deletion"): the log holds a reference to each, dropped by
	 * log_delete_due or when the log goes. */
	struct doomed_seg {
		struct seg *s;
		int64_t due_ms;
	} * doomed;
	int ndoomed;
	size_t doomed_cap;
	int64_t hw;
	int64_t line_hw;
	int64_t recovery_point;
	/* The recovery point as last written to recovery-point-offset-checkpoint
	 * (<= recovery_point). Recovery trusts segments below the checkpointed
	 * value only, so the cleaner rewrites nothing at or above it. */
	int64_t recovery_point_ckpt;
	/* Records below synced_offset are on disk: their .log bytes were
	 * fdatasynced (log_sync), their sidecars not necessarily, which is why
	 * the recovery point does not follow it. recovery_point <=
	 * synced_offset <= leo (but in a damaged log: log.c, invariant 6). */
	int64_t synced_offset;
	/* Group commit of syncs (log_sync): while sync_busy one caller is in
	 * its fdatasyncs without the lock; the others wait on sync_cv (with
	 * lock), sync_waiters of them, and the first one not covered then
	 * syncs for all. */
	bool sync_busy;
	int sync_waiters;
	pthread_cond_t sync_cv;
	/* Truncations so far: log_flush_closed and log_sync, which fsync
	 * without the lock, advance the recovery point and synced_offset only
	 * if none happened meanwhile (the offsets they flushed may since have
	 * been cut and written again). */
	uint64_t truncations;
	/* Where the last appends began (append.c, lock): the first offset of a
	 * run of batches written and the line position of its first record,
	 * while no truncation happened since (stamp: truncations + 1 then, 0
	 * for a slot never filled). A follower's and
	 * a leader's hw moves to such an offset (the LEO a fetch reported),
	 * and log_offset_to_pos_locked answers it from here, without a
	 * search of .lines and a batch decoded. */
	struct {
		int64_t offset, pos;
		uint64_t stamp;
	} pos_hint[LOG_POS_HINTS];
	int pos_hint_next;
	bool deleted;
	/* An append failed and so did its rollback: records from fence on are
	 * leftovers (fence = -1: none). hw never passes it, and no append is
	 * made until a truncation to it succeeds. */
	int64_t fence;
	struct epoch_ent *epochs;
	int nepochs;
	struct pool *pool;      /* the manager's helpers; NULL: none */
	struct enc_cache *encs; /* the manager's encoding buffers; NULL: own */
	/* The manager's read-ahead budget (a reference), set before the log is
	 * handed out and never changed; NULL: unbounded. */
	struct ra_budget *rab;
	/* The manager's descriptor cache (a reference), set at open; NULL:
	 * every segment keeps its descriptors. */
	struct seg_cache *fdc;
	/* Damage found at open that recovery may not cut (a synced segment
	 * invalid, or records missing between segments): the log holds the
	 * segments up to the damage, reads stop there, and everything that
	 * would write refuses with -EIO. The files stay as they are. */
	bool damaged;
	int32_t recovered_segments;
	int64_t recovery_truncated;
	int64_t recovery_ms;
	/* hw and LEO listeners (log.c): the lists change under listen_lock
	 * held for writing; a notification holds it for reading while it
	 * calls them, so a removal waits for the calls in flight. */
	pthread_rwlock_t listen_lock;
	struct log_listener {
		log_listener_fn *fn;
		void *arg;
	} hw_fns[LOG_LISTENERS_MAX], leo_fns[LOG_LISTENERS_MAX];
	atomic_int n_hw_fns, n_leo_fns; /* changed under listen_lock */
	/* Corrupt batches found by readers (corrupt.c); the listener is set
	 * before the log is handed to readers and read with atomics, since
	 * it may be called with the lock held or not. */
	_Atomic int64_t corrupt_batches;
	log_corrupt_fn *corrupt_fn;
	void *corrupt_arg;
	/* Every batch with a line below this position was checked whole since
	 * the log was opened (corrupt.c, "Checked batches"). Written under
	 * lock, read with atomics on the readers' path. */
	_Atomic int64_t line_checked;
	/* The line end at open (lowered by a truncation below it): batches
	 * from it on were appended since, so checked whatever line_checked
	 * says. Lock held to write, atomics to read. */
	_Atomic int64_t line_open_end;
	log_start_fn *start_fn; /* log_delete_records moved the start */
	void *start_arg;
	log_trim_fn *trim_fn; /* the start is about to move (prodsnap.c) */
	void *trim_arg;
	log_work_fn *work_fn; /* a segment added or removed (log_sched_next) */
	void *work_arg;
	/* The end of the newest producer snapshot (-1: none;
	 * LOG_SNAP_END_UNKNOWN: not read since the open):
	 * log_producer_checkpoint writes one only past it. maint_lock. */
	int64_t snap_end;
	/* Retention and compaction: one at a time per log, taken before lock
	 * (never while holding it). */
	pthread_mutex_t maint_lock;
	int64_t first_dirty_offset; /* cleaner checkpoint (lock) */
};

#define LOG_SNAP_END_UNKNOWN (-2)

/* A leader's append stamped leader_epoch (-1: none) would follow records
 * of a later epoch (lock held): LOG_EPOCH_BEHIND, else 0. */
static inline int log_epoch_behind(const struct log *l, int32_t leader_epoch)
{
	return leader_epoch >= 0 && l->nepochs > 0 && leader_epoch < l->epochs[l->nepochs - 1].epoch
		       ? LOG_EPOCH_BEHIND
		       : 0;
}

/* Why an append stamped leader_epoch may not go on (lock held): -ENOENT
 * the log is deleted, -EIO damaged at open (see damaged), LOG_EPOCH_BEHIND;
 * 0 it may. */
static inline int log_leader_append_refused(const struct log *l, int32_t leader_epoch)
{
	if (l->deleted || l->damaged)
		return l->deleted ? -ENOENT : -EIO;
	return log_epoch_behind(l, leader_epoch);
}

#define ENGINE_REPORT(level, ...)                       \
	do {                                            \
		if (engine_log)                         \
			engine_log(level, __VA_ARGS__); \
	} while (0)

static inline struct seg *log_active(struct log *l)
{
	return l->segs[l->nsegs - 1];
}
static inline int64_t log_leo(struct log *l)
{
	return log_active(l)->next_offset;
}
static inline int64_t log_line_end(struct log *l)
{
	return log_active(l)->line_end;
}
/* Whether the log may hold gaps between batches, offsets and line
 * positions that compaction removed (lock held): a compacted topic's, or
 * one cleaned before its policy changed, whose cleaned part is still
 * there. A follower takes the gaps of its leader's log with its policy.
 * Only a cost decides on it (raw.c reads each header of such a log): a
 * follower also stops at a gap the leader's range did not end at. */
static inline bool log_may_have_gaps(const struct log *l)
{
	return (l->cfg.cleanup_policy & LOG_CLEANUP_COMPACT) ||
	       l->first_dirty_offset > l->log_start_offset;
}

/* log.c: calls the hw / LEO listeners (no engine lock held). */
void log_notify_hw(struct log *l);
void log_notify_leo(struct log *l);

/* log_open.c, for logmgr.c */
struct log_open_args {
	int64_t recovery_point;   /* -1 unknown */
	int64_t hw;               /* -1 unknown */
	int64_t log_start_offset; /* -1 unknown */
	int64_t cleaner_offset;   /* -1 unknown (cleaner-offset-checkpoint) */
	bool clean;
	/* No recovery point, the log being newer than the manager's last
	 * recovery-point-offset-checkpoint (not an entry lost): nothing of
	 * it was checkpointed as fsynced. */
	bool made_since_ckpt;
	struct seg_cache *fdc; /* the manager's descriptor cache; NULL: none */
};
int log_open(const struct io_ops *io, const char *dir, const char *topic, int partition,
	     const struct log_config *cfg, const struct log_open_args *args, bool create,
	     struct log **out);

/* log.c: appends s to the segment list (lock held, or the log not yet
 * shared); the list takes over the caller's reference on success. */
int log_segs_push(struct log *l, struct seg *s);
/* Tells the work listener (log_set_work_listener) that l has work for
 * the scheduler. Lock held. */
void log_work_note(struct log *l);
/* The first removed segment's due time, INT64_MAX: none. Lock held. */
int64_t log_delete_next_due(const struct log *l);
/* Ends the active segment's mapped tail and fsyncs it, so its file ends
 * where the log does (a clean shutdown, before the marker). */
int log_tail_close(struct log *l);

/* lookup.c. Finds the segment holding offset (last with base <= offset);
 * -1 none. Caller holds the lock. */
int log_seg_index_by_offset(struct log *l, int64_t offset);
int log_seg_index_by_pos(struct log *l, int64_t pos);
/* A referenced segment by base offset (for .segments views), or NULL. */
struct seg *log_seg_get(struct log *l, int64_t base);
/* log_offset_to_pos with the lock held: -ERANGE at or past the LEO. */
int log_offset_to_pos_locked(struct log *l, int64_t offset, int64_t *pos);
/* The same for a bound the log takes at open (a checkpointed hw or log
 * start), which may fall in a batch that does not decode (corrupt, or
 * undecodable and kept by recovery: seg.c): there it answers the line
 * position where that batch's lines start, none of which are served, so
 * that one bad batch does not refuse the partition. Reports nothing: the
 * first reader to meet the batch does (log_corrupt), once a listener is
 * set. */
int log_offset_to_pos_bound_locked(struct log *l, int64_t offset, int64_t *pos);

/* epoch.c. Reads leader-epoch-checkpoint into the empty cache at open
 * (missing: empty); -EBADMSG, logged with the line and the reason. */
int epoch_cache_load(struct log *l);
/* Drops the entries starting at or after end_offset (kept when it is 0)
 * and rewrites the file if any went. Lock held. */
int epoch_cache_truncate_from_end(struct log *l, int64_t end_offset);
/* Drops the entries of epochs above epoch (an append that failed takes
 * back the epochs it added), rewriting the file if any went. Lock held. */
int epoch_cache_truncate_above(struct log *l, int32_t epoch);
/* Adds (epoch, start_offset) when epoch is above the latest, rewriting the
 * file durably; 0 (nothing to do) otherwise. Lock held. */
int epoch_cache_assign(struct log *l, int32_t epoch, int64_t start_offset);
/* The latest epoch in the cache, -1 when empty. Lock held. */
static inline int32_t epoch_cache_latest(const struct log *l)
{
	return l->nepochs ? l->epochs[l->nepochs - 1].epoch : -1;
}

/* append.c, lock held. Writes nb encoded batches (buf, meta; offsets
 * already theirs) at the end of the log, rolling as needed. */
int log_write_batches(struct log *l, const uint8_t *buf, const struct batch_meta *meta, int nb,
		      int64_t now);
/* The same with the batches in the pieces of iov (niov <= IO_IOV_MAX),
 * one after the other, no batch cut between two pieces. */
int log_write_batchesv(struct log *l, const struct iovec *iov, int niov,
		       const struct batch_meta *meta, int nb, int64_t now);
/* Closes the active segment and starts a new one at the LEO (retention
 * rolls a quiet segment so that it can age out). */
int log_roll_locked(struct log *l);
/* Cuts a failed append back to start; fences the log there if the cut
 * fails (the cut's error is returned). */
int log_append_rollback(struct log *l, int64_t start);
/* Cuts a fenced log back to its fence: 0, or -EIO if that fails again. */
int log_fence_clear(struct log *l);

/* truncate.c: the log ends before offset (lock held); see log_truncate_to. */
int log_truncate_locked(struct log *l, int64_t offset);

/* corrupt.c: a reader found the batch at .log position pos of s not valid
 * (buf/len: the bytes there, or NULL when they could not be read whole, len
 * then the length the batch claims). The first time this batch is seen
 * it is counted and the log's corrupt listener is told why; later calls
 * for the same batch do nothing, so a reader that retries is not logged
 * again. Any thread, with or without the log's lock. */
void log_corrupt(struct log *l, struct seg *s, int64_t pos, const uint8_t *buf, size_t len);
/* corrupt.c, "Moved entries": the batch at .log position pos of s, of base
 * offset offset, whose .lines entry says line position line_pos, has
 * records whose lines take line_bytes, past next_line_pos where the next
 * batch's lines begin. Counted and reported once as log_corrupt does. */
void log_corrupt_lines(struct log *l, struct seg *s, int64_t pos, int64_t offset, int64_t line_pos,
		       int64_t line_bytes, int64_t next_line_pos);
/* corrupt.c, "Checked batches": the line positions [from, to) are of
 * batches checked whole (read, or written, since the log was opened);
 * l->line_checked moves to `to` when it is in [from, to). Lock held. */
void log_checked_locked(struct log *l, int64_t from, int64_t to);
/* The same from a reader, which holds no lock: takes it only when the
 * mark moves. */
void log_checked_read(struct log *l, int64_t from, int64_t to);
/* Whether the batch whose lines start at line_pos is one no read has
 * checked since the open: below line_open_end and not below the mark. */
bool log_line_unchecked(struct log *l, int64_t line_pos);
/* Everything below line_pos is gone or appended from here on (a
 * truncation, a reset): nothing at or above it is left unchecked. Lock
 * held. */
void log_checked_cut(struct log *l, int64_t line_pos);

/* cleaner.c, for log_open.c: at open, before the segments are listed, finishes
 * or rolls back an interrupted swap (.cleaned, .swap files) and removes
 * index files whose .log is gone (a deletion cut short). */
int cleaner_recover_dir(const struct io_ops *io, const char *dir);

/* cleaner_producers.c, for cleaner.c: the last CLEANER_PRODUCER_BATCHES
 * batches of every producer id in the log, which a clean keeps whole (why:
 * their headers, the batches a producer may send again). Kafka's
 * NumBatchesToRetain, as repl/producer_state.h's PRODUCER_BATCHES. */
#define CLEANER_PRODUCER_BATCHES 5
struct cleaner_producer_last {
	int64_t producer_id;
	int n;                                         /* bases known, up to the max */
	int64_t base_offset[CLEANER_PRODUCER_BATCHES]; /* newest last */
};
struct cleaner_producers {
	struct cleaner_producer_last *e; /* sorted by producer id */
	int n, cap;
};
/* Scans l's batch headers (no lock held; the cleaner holds maint_lock).
 * 0, or the scan's error (-EBADMSG, -ENOMEM, -EIO). */
int cleaner_producers_load(struct log *l, struct cleaner_producers *cp);
/* Whether the batch at base_offset is one of producer_id's last
 * CLEANER_PRODUCER_BATCHES. */
bool cleaner_producers_is_last(const struct cleaner_producers *cp, int64_t producer_id,
			       int64_t base_offset);
void cleaner_producers_free(struct cleaner_producers *cp);
/* retention.c: the line bytes of the page that holds `to`, from the
 * later of its start and `from` up to `to`, read before records there go
 * (maint_lock held, l->lock not); *k empty when there are none or they are
 * not contiguous up to `to`. kept_free frees and empties. */
void kept_capture(struct log *l, int64_t from, int64_t to, struct kept_bytes *k);
void kept_free(struct kept_bytes *k);
/* retention.c: removes segs[0..n) from the log (lock held), renames their
 * files to .deleted (.log first) and marks them deleted; the caller drops
 * the references it is handed in *gone (n of them) outside the lock. */
int retention_remove_head_locked(struct log *l, int n, struct seg **gone);
/* The trim listener for a start about to move to new_start (maint_lock
 * held, lock not): 0 or its error, logged. */
int log_trim_notify(struct log *l, int64_t new_start);
/* retention.c: renames the four files of s, which is leaving the log, to
 * <file>.deleted (.log first) and marks it deleted, so that its last
 * seg_unref unlinks them. 0, or the .log's rename error (s is then whole
 * and untouched). */
int seg_mark_deleted(struct log *l, struct seg *s);
/* reset.c, for log_open.c: finishes a log_reset_start cut short (the
 * marker DIR/log-start-reset), before the segments are listed. 0 (also
 * with no marker), -EBADMSG a marker that does not parse (logged), the
 * file system's -errno. */
int log_reset_recover(const struct io_ops *io, const char *dir);
/* Unlinks dir's producer snapshots (prodsnap.c): 0 also when there are
 * none, else -errno. */
int log_producer_snapshot_remove(const struct io_ops *io, const char *dir);
/* truncate.c, once a cut left the log ending at end (maint_lock and lock
 * held): unlinks the producer checkpoint when it ends past end, as
 * Kafka's truncateAndReload deletes the snapshots above the log end, and
 * forgets snap_end, so that the next checkpoints start again below the
 * cut (prodsnap.c). */
void log_producer_checkpoint_cut(struct log *l, int64_t end);

#endif
