/*
 * engine.h — the log on one machine. The only public header of engine/.
 *
 * Design overview
 * ---------------
 * A *log* is one partition replica: a directory DATA/<topic>-<p>/ holding a
 * sequence of segments. A segment is four files named by its base offset
 * (20 digits, zero padded):
 *
 *   <base>.log        Kafka record batches v2, back to back (see batch.h)
 *   <base>.index      Kafka offset index: 8-byte entries, relative offset
 *                     u32 + file position u32, big-endian; one entry every
 *                     index.interval.bytes of log
 *   <base>.timeindex  Kafka time index: 12-byte entries, timestamp i64 +
 *                     relative offset u32; an entry whenever the max
 *                     timestamp grows, at most one per index interval
 *   <base>.lines      mqfs's own: the line view's stable byte positions,
 *                     described in seg.c (never inside Kafka's formats)
 *
 * plus leader-epoch-checkpoint (Kafka's text format) in the directory.
 *
 * The *line view* prints each record as one line: its value, or
 * key<sep>value when the log has a key separator and the record a key, and
 * '\n'. Every record has a stable byte position in that view: the sum of the
 * line lengths of all records before it since offset 0. Positions never
 * change, not after retention nor compaction (a removed record leaves a
 * gap); they are what the mount shows as file offsets.
 *
 * Per log, invariants:
 *   log_start_offset <= hw <= log_end_offset
 *   offsets strictly increase through the segments; segments do not overlap
 *   nothing at or above hw is ever returned by log_read_lines()
 *   line positions are a strictly increasing function of the offset
 *
 * The *log manager* (struct logmgr) owns a data directory: it opens every
 * log in it, runs recovery, and keeps the directory-level checkpoint files
 * in Kafka's format (version line "0", count line, "topic partition value"):
 *   recovery-point-offset-checkpoint, replication-offset-checkpoint (hw),
 *   log-start-offset-checkpoint, and the marker .clean-shutdown.
 *
 * Threads: every function here is thread-safe. A log has one mutex for
 * appends and metadata, and readers do not take it on the hot path of a
 * sequential read (they follow a cursor).
 *
 * Errors: 0 or a count on success, -errno on failure:
 *   -EINVAL bad argument, -ENOENT no such log/segment, -EEXIST exists,
 *   -EBADMSG corrupt data found on disk, -EIO/-ENOSPC from the file system
 *   (-EIO too from appends and truncations of a log found damaged at open,
 *   log_state.damaged; retention and the cleaner leave such a log alone),
 *   -EMSGSIZE record larger than max_message_bytes, -ERANGE offset outside
 *   the log, -ENOMEM.
 */
#ifndef MQFS_ENGINE_ENGINE_H
#define MQFS_ENGINE_ENGINE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>

/* ------------------------------------------------------------------ */
/* File I/O function table. All engine file access goes through it, so
 * that tests can inject short writes, EIO, ENOSPC and lost unsynced data
 * (tests/unit/faultio.c). Every function returns >= 0 or -errno. */
struct io_ops {
	int (*open)(void *ctx, const char *path, int flags, mode_t mode);
	int (*close)(void *ctx, int fd);
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len, off_t off);
	/* Optional (NULL: io_pwritev_full writes the pieces one by one). */
	ssize_t (*pwritev)(void *ctx, int fd, const struct iovec *iov, int n, off_t off);
	int (*fsync)(void *ctx, int fd);
	int (*ftruncate)(void *ctx, int fd, off_t len);
	int64_t (*size)(void *ctx, int fd); /* current file size */
	int (*unlink)(void *ctx, const char *path);
	int (*rename)(void *ctx, const char *from, const char *to);
	int (*mkdir)(void *ctx, const char *path, mode_t mode);
	int (*fsync_dir)(void *ctx, const char *path);
	/* Optional (NULL: appends use pwrite only). map_tail reserves disk
	 * space for [off, off+len) of fd (growing the file: the bytes past
	 * the data read as zeros) and maps it shared, read-write; NULL with
	 * errno set when either fails. unmap undoes a map_tail. */
	void *(*map_tail)(void *ctx, int fd, off_t off, size_t len);
	void (*unmap)(void *ctx, void *addr, size_t len);
	/* Optional (NULL: never reserved). Allocates disk blocks for
	 * [off, off+len) of fd without changing its size (fallocate with
	 * FALLOC_FL_KEEP_SIZE): writes there then need no block allocation.
	 * An ftruncate to the file's size frees the blocks past it. */
	int (*reserve)(void *ctx, int fd, off_t off, off_t len);
	/* Optional (NULL: sendfile(2)). Sends up to len bytes of in_fd from
	 * *off to the socket out_fd (sendfile(2), *off advanced): the count,
	 * 0 at the file's end, or -errno; -EIO is a read of in_fd that
	 * failed. The listener sends a Fetch's records so. */
	ssize_t (*sendfile)(void *ctx, int out_fd, int in_fd, off_t *off, size_t len);
	void *ctx;
};
extern const struct io_ops io_posix; /* plain POSIX calls, ctx unused */

/* Full-length helpers over an io table: loop over short reads/writes.
 * io_pread_full returns bytes read (< len only at end of file). */
ssize_t io_pread_full(const struct io_ops *io, int fd, void *buf, size_t len, off_t off);
int io_pwrite_full(const struct io_ops *io, int fd, const void *buf, size_t len, off_t off);
/* The n (<= IO_IOV_MAX) pieces of iov one after the other from off. */
#define IO_IOV_MAX 64
int io_pwritev_full(const struct io_ops *io, int fd, const struct iovec *iov, int n, off_t off);
/* Durable replacement of a small file: tmp, fsync, rename, fsync dir. */
int io_write_file_atomic(const struct io_ops *io, const char *path, const void *buf, size_t len);
/* Reads a whole small file (<= 16 MiB) into a malloc'ed, NUL-terminated
 * buffer. -ENOENT if absent. */
int io_read_file(const struct io_ops *io, const char *path, char **out, size_t *len);

/* ------------------------------------------------------------------ */
/* Per-log settings (Kafka topic config names in comments). */
struct log_config {
	int64_t segment_bytes;        /* segment.bytes        (1 GiB) */
	int64_t segment_ms;           /* segment.ms           (7 days) */
	int32_t segment_index_bytes;  /* segment.index.bytes  (10 MiB) */
	int32_t index_interval_bytes; /* index.interval.bytes (4096) */
	int32_t max_message_bytes;    /* max.message.bytes    (1048588) */
	int64_t flush_messages;       /* flush.messages (INT64_MAX: never) */
	int64_t flush_ms;             /* flush.ms       (INT64_MAX: never) */
	int32_t batch_bytes;          /* batch.size: records per batch, bytes */
	int codec;                    /* compression.type, BATCH_CODEC_* or LOG_CODEC_PRODUCER */
	char key_sep[16];             /* key.separator, "" = none */
	int key_sep_len;
	int line_format; /* line.format, LINE_FORMAT_* (escape) */
	/* Retention and compaction (engine/retention.c, engine/cleaner.c). */
	int64_t retention_ms;             /* retention.ms (7 days; -1 unlimited) */
	int64_t retention_bytes;          /* retention.bytes (-1 unlimited) */
	int cleanup_policy;               /* cleanup.policy, LOG_CLEANUP_* bits (delete) */
	int64_t delete_retention_ms;      /* delete.retention.ms (1 day) */
	double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio (0.5) */
	int64_t min_compaction_lag_ms;    /* min.compaction.lag.ms (0) */
	/* message.timestamp.type=LogAppendTime (CreateTime: false): a Kafka
	 * client's batches are stamped with the append's time. */
	bool log_append_time;
	/* Kafka's other segment and validation settings (INT64_MAX: none). */
	int64_t segment_jitter_ms;     /* segment.jitter.ms (0) */
	int64_t max_compaction_lag_ms; /* max.compaction.lag.ms */
	/* message.timestamp.difference.max.ms, .before.max.ms, .after.max.ms:
	 * how far a client's CreateTime may lie behind / ahead of the broker's
	 * clock (log_ts_bounds gives the two that apply). */
	int64_t ts_difference_max_ms, ts_before_max_ms, ts_after_max_ms;
	bool preallocate; /* preallocate (false): a new segment's blocks reserved whole */
	/* file.delete.delay.ms (60000): how long the files of a segment that
	 * left the log stay on disk as <file>.deleted (log_delete_due). */
	int64_t file_delete_delay_ms;
	/* Kafka's settings of old message formats, accepted and shown but not
	 * acted on: every batch is written as magic 2 and Fetch v4+ needs no
	 * down-conversion. message.format.version ("3.0-IV1") as given;
	 * message.downconversion.enable (true). */
	char message_format_version[24];
	bool message_downconversion;
	/* Not a setting: read when the log opens. A replica of a replicated
	 * partition, whose records above the hw may be uncommitted: a hw
	 * missing from replication-offset-checkpoint (a log made since its
	 * last write, before an unclean stop) is then the log start, as in
	 * Kafka, not the log end (one node's: everything appended is
	 * committed). */
	bool replica;
};
/* compression.type: the codec numbers of Kafka's batch attributes (bits
 * 0-2); 5..7 name no codec. */
#define BATCH_CODEC_NONE   0
#define BATCH_CODEC_GZIP   1
#define BATCH_CODEC_SNAPPY 2
#define BATCH_CODEC_LZ4    3
#define BATCH_CODEC_ZSTD   4
/* compression.type=producer (the default, as Kafka's): a Kafka client's
 * batches keep the codec they were sent with; the mount's own batches are
 * uncompressed. Not a batch codec (bits 0-2 cannot hold it). Any other
 * compression.type is the codec of every batch stored: a client's batch
 * in another is recompressed (append_client.c). */
#define LOG_CODEC_PRODUCER 8
/* The codec the mount's writes are encoded with under compression.type
 * codec. */
static inline int log_codec_own(int codec)
{
	return codec == LOG_CODEC_PRODUCER ? BATCH_CODEC_NONE : codec;
}
/* Whether a magic-2 batch among batches back to back (a client's bytes,
 * not checked otherwise: the append checks them whole) has that codec
 * in its attributes (batch.c). */
bool batches_hold_codec(const uint8_t *b, size_t len, int codec);
/* line.format: how the line view shows a record that a line cannot
 * carry (linefmt.c has the rules). Fixed, as key.separator, once the log
 * has a record: line positions are computed from the rendered lines. */
#define LINE_FORMAT_RAW    0
#define LINE_FORMAT_ESCAPE 1
const char *line_format_name(int format);       /* "raw", "escape" */
int line_format_parse(const char *s, size_t n); /* LINE_FORMAT_* or -EINVAL */
#define LOG_CLEANUP_DELETE  0x1
#define LOG_CLEANUP_COMPACT 0x2
void log_config_defaults(struct log_config *cfg);
/* The longest a client's CreateTime may lie before (*before) and after
 * (*after) the broker's clock: message.timestamp.before.max.ms and
 * .after.max.ms, each falling back to message.timestamp.difference.max.ms
 * while it is unset (INT64_MAX), as Kafka 3.6 reads them. */
void log_ts_bounds(const struct log_config *cfg, int64_t *before, int64_t *after);
/* The segment age that rolls s's segment (segment.ms, or
 * max.compaction.lag.ms when shorter in a compacted log, Kafka's
 * maxSegmentMs), less the segment's jitter: a number in
 * [0, min(segment.jitter.ms, that age)) fixed by the log's directory and
 * the segment's base offset, so partitions made together roll apart. */
int64_t log_roll_age_ms(const struct log_config *cfg, const char *dir, int64_t base_offset);
/* The largest batch a leader takes, header included: max.message.bytes,
 * or segment.bytes when lower (Kafka refuses a batch over either: a
 * Produce's as MESSAGE_TOO_LARGE or RECORD_LIST_TOO_LARGE). *name (if
 * name is not NULL) gets the setting that binds, for messages. */
int32_t log_batch_limit(const struct log_config *cfg, const char **name);
/* Largest key + value bytes of one record under log_batch_limit: a
 * batch holding only that record (header and worst-case record framing
 * included) must not exceed it. */
int64_t log_max_record_payload(const struct log_config *cfg);
/* Bytes of one batch of several records, header included, as the mount's
 * lines and forwarded writes are cut: batch.size, but never more than
 * log_batch_limit, which Kafka enforces on every batch (a leader refuses
 * a larger one from a client, a consumer sizes its fetch by it). A single
 * record larger than this gets a batch of its own. */
size_t log_batch_cap(const struct log_config *cfg);

/* One record to append. key_len -1: null key; value_len -1: null value. */
struct rec_in {
	const char *key;
	int32_t key_len;
	const char *value;
	int32_t value_len;
	int64_t timestamp; /* ms since the epoch */
};

/* ---- lines to records ----
 * How the mount's lines become records (the produce path and
 * log_append_lines):
 *   "value"            key null, value "value" (no separator in it, or the
 *                      topic has none)
 *   "key<sep>value"    key "key", value "value" (split at the first one)
 *   "key<sep>"         key "key", value null: a tombstone
 *   ""                 key null, value "" (empty, not null)
 * With line.format=escape, a line that starts with a backslash is an
 * escaped line (linefmt.c): the rest is split the same way and each part
 * unescaped into the scratch space, so a record the line view had to
 * escape comes back as the bytes it holds.
 */
struct line_scratch {
	char *buf;
	size_t len, cap;
	size_t hint; /* bytes of input it will serve, at most */
};
/* Readies s for parsing input of at most bytes bytes: no allocation until
 * an escaped line asks for it (then hint bytes at once, so the pointers
 * handed out before never move). */
static inline void line_scratch_reset(struct line_scratch *s, size_t bytes)
{
	s->len = 0;
	s->hint = bytes;
}
static inline void line_scratch_free(struct line_scratch *s)
{
	free(s->buf);
	s->buf = NULL;
	s->len = s->cap = 0;
}

struct line_rules {
	const char *sep;              /* key.separator */
	int sep_len;                  /* 0: lines have no key */
	int64_t max;                  /* largest key + value bytes of a record */
	int format;                   /* line.format */
	struct line_scratch *scratch; /* NULL: escaped lines are taken literally
					 * (a size check: never bigger unescaped) */
};

/* An escaped line [p, p + l) (its leading backslash included) into *r,
 * its bytes in lr->scratch: true, or false when over lr->max or when the
 * scratch space cannot be had (linefmt.c). */
bool line_unescape_rec(const struct line_rules *lr, const char *p, size_t l, struct rec_in *r);
/* Whether the record of the escaped line [p, p + l) (its leading backslash
 * included) is within lr->max, as line_unescape_rec measures it, without
 * unescaping it anywhere: for a size check of a line that may be up to
 * four times its record (\xHH a byte). */
bool line_unescaped_fits(const struct line_rules *lr, const char *p, size_t l);

/* The end of the line at p: its '\n', or NULL when [p, end) holds none.
 * *clean: no byte before that end is one the line view escapes (0x00-0x1f
 * but tab, 0x7f). One pass for both, sixteen bytes at a time (linefmt.c). */
const char *line_scan(const char *p, const char *end, bool *clean);

/* The line [p, nl or end) into *r, leaving r->timestamp alone; returns
 * the start of the next line, or NULL if the record is over lr->max.
 * *clean is cleared when the line was an escaped one (its record's bytes
 * are not the line's). */
static inline const char *line_split(const struct line_rules *lr, const char *p, const char *nl,
				     const char *end, struct rec_in *r, bool *clean)
{
	size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
	const char *s = NULL;

	if (lr->format == LINE_FORMAT_ESCAPE && l > 0 && p[0] == '\\' && lr->scratch) {
		*clean = false;
		if (!line_unescape_rec(lr, p, l, r))
			return NULL;
		return nl ? nl + 1 : end;
	}
	if (lr->sep_len > 0)
		s = lr->sep_len == 1 ? memchr(p, lr->sep[0], l)
				     : memmem(p, l, lr->sep, (size_t)lr->sep_len);
	if ((int64_t)l - (s ? lr->sep_len : 0) > lr->max)
		return NULL;
	if (s) {
		size_t k = (size_t)(s - p), v = l - k - (size_t)lr->sep_len;

		r->key = p;
		r->key_len = (int32_t)k;
		r->value = v ? s + lr->sep_len : NULL;
		r->value_len = v ? (int32_t)v : -1;
	} else {
		r->key = NULL;
		r->key_len = -1;
		r->value = p;
		r->value_len = (int32_t)l;
	}
	return nl ? nl + 1 : end;
}

/* Parses the line at p (up to '\n' or end) into *r, leaving r->timestamp
 * alone; returns the start of the next line, or NULL if the record is over
 * lr->max. */
static inline const char *line_to_rec(const struct line_rules *lr, const char *p, const char *end,
				      struct rec_in *r)
{
	bool clean;

	return line_split(lr, p, memchr(p, '\n', (size_t)(end - p)), end, r, &clean);
}

struct log_state {
	int64_t log_start_offset;
	int64_t hw;             /* high watermark */
	int64_t log_end_offset; /* LEO: next offset to assign */
	int64_t recovery_point; /* offsets below are fsynced with
					 * their indexes: recovery trusts the
					 * segments below it */
	int64_t synced_offset;  /* offsets below are on disk (their .log
					 * fsynced); >= recovery_point */
	int64_t line_start;     /* line position of log_start_offset */
	int64_t line_hw;        /* line position of hw = st_size */
	int64_t line_end;       /* line position of log_end_offset */
	int32_t leader_epoch;   /* latest epoch in the epoch cache */
	int32_t segments;
	int64_t size_bytes;         /* bytes of .log files */
	int64_t records;            /* records in [log_start, leo), approx. after compaction */
	int32_t recovered_segments; /* at open: segments scanned and re-indexed */
	int64_t recovery_truncated; /* at open: invalid bytes cut from the tail */
	int64_t recovery_ms;        /* at open: time spent recovering */
	bool damaged;               /* at open: damage recovery may not cut
					 * (engine_log says where): served up to
					 * log_end_offset, writes -EIO, files kept */
	int64_t first_dirty_offset; /* cleaner checkpoint: below is compacted */
	/* -1, or: an append failed and cutting it back failed too; records
	 * from here on are its leftovers, never committed; appends fail with
	 * -EIO until one manages the cut first. */
	int64_t fence;
	int64_t corrupt_batches; /* since open: batches readers found corrupt */
	/* Every batch with a line below it was checked whole since open (read
	 * or written); >= line_end: the log holds no bad batch. */
	int64_t line_checked;
	bool dropped; /* logmgr_drop_log dropped it (log_dropped) */
};

struct log;

/* When the log's last segment file was last written (its .log's mtime, ms
 * since the epoch), -1 when it cannot be told: what a restart takes for
 * the time of the last append. */
int64_t log_modified_ms(struct log *l);

#define LOG_WHY_LEN 160

struct log_append_info {
	int64_t first_offset;
	int64_t last_offset;
	int32_t batches;
	int64_t bytes;    /* bytes written to .log */
	int64_t payload;  /* key + value bytes of the records */
	int64_t line_end; /* line position after the last record */
	/* log_append_client's -EBADMSG, -ERANGE, -EMSGSIZE and -E2BIG: what was
	 * wrong with the batch (a CRC, a length, a record, its size as sent
	 * or once recompressed), for the client; else empty. */
	char why[LOG_WHY_LEN];
};

/* The leader appends' refusal of a leader_epoch below the latest of the
 * log's epoch cache: the caller took its epoch before its leadership was
 * renewed in a later one (a re-election of the same broker), and a batch
 * stamped with the older epoch after the newer one began would be
 * refused by every follower. Nothing is appended: take the epoch again.
 * (Kafka's appends read the epoch under the partition's lock, which a
 * new leadership takes for writing.) */
#define LOG_EPOCH_BEHIND (-EREMCHG)

/* Appends records as batches of at most cfg.batch_bytes, compressed with
 * cfg.codec, stamped with leader_epoch, under the log's lock. Offsets are assigned from log_end_offset. Either every record is
 * appended or none (on error the log is truncated back). Does not move the
 * high watermark: the caller decides (log_set_hw). Rolls a segment first
 * when needed. -EMSGSIZE (a record over max_message_bytes), -ENOSPC, -EIO,
 * LOG_EPOCH_BEHIND. */
int log_append(struct log *l, const struct rec_in *recs, int n, int32_t leader_epoch,
	       struct log_append_info *info);
/* log_append of the lines in head[0..head_len) and then buf[0..len) (each
 * ends in '\n' except maybe the very last; head may be NULL), made records
 * by line_to_rec with the log's key.separator and stamped ts. The parsing
 * is shared out with the encoding (see append_leader.c), so a big write
 * costs the appending thread less than splitting it first. -EMSGSIZE
 * (nothing appended) when a line is over max_message_bytes. */
int log_append_lines(struct log *l, const char *head, size_t head_len, const char *buf, size_t len,
		     int64_t ts, int32_t leader_epoch, struct log_append_info *info);

/* Appends record batches as a Kafka client sent them (the records of one
 * partition of a Produce request, batches[0..len)), Kafka's LogValidator
 * in place (append_client.c): every batch is checked whole before any is
 * written (length, magic 2, CRC-32C, attributes, every record decodes,
 * offset deltas 0..n-1), then each gets its base offset (from the log
 * end) and leader_epoch written in place (both outside the CRC), so the
 * bytes are kept as the client wrote them, headers and producer id,
 * epoch and sequence included; under a compression.type other than
 * producer, a batch in another codec is written again in the topic's
 * (the same records and producer fields, a new CRC), and -EMSGSIZE also
 * applies to that batch. log_append_time >= 0 stamps
 * message.timestamp.type=LogAppendTime (attribute bit 3 and the max
 * timestamp, inside the CRC, which is then recomputed). Indexes and line
 * positions (in the log's line.format) are built as for any append; all
 * or nothing; the high watermark is the caller's. Errors, nothing
 * appended: -EBADMSG a batch that is not whole or not valid; -EPROTO
 * magic other than 2; -EPERM a transactional or
 * control batch (no transaction coordinator here); -EMSGSIZE a batch over
 * max.message.bytes; -E2BIG a batch (as stored) over segment.bytes;
 * -ENOKEY a record without a key in a compacted log;
 * -ERANGE a CreateTime timestamp outside the topic's bounds, or a batch
 * with the LogAppendTime attribute; -EINVAL no batch; -ENOSPC, -EIO,
 * -ENOMEM. *bad (if not NULL) gets the index of the batch refused, -1
 * otherwise; on -EBADMSG, -ERANGE, -EMSGSIZE and -E2BIG info->why (if info
 * is not NULL) says what is wrong with it. */
int log_append_client(struct log *l, uint8_t *batches, size_t len, int32_t leader_epoch,
		      int64_t log_append_time, struct log_append_info *info, int *bad);

/* Moves the high watermark up to hw (clamped to [log_start, leo]) and wakes
 * the hw listeners. It never moves back: an hw at or below the current one
 * changes nothing (returns 0). Only log_truncate_to lowers it, to the new
 * log end. */
int log_set_hw(struct log *l, int64_t hw);
/* Makes everything below upto (or all, upto < 0) durable: fsync of the
 * segment files and their indexes, advances the recovery point. */
int log_flush(struct log *l, int64_t upto);
/* Makes the records below upto (or all, upto < 0) durable with one
 * fdatasync of the active segment's .log (and of a closed segment's when a
 * roll came since the last sync); the sidecars are not synced and the
 * recovery point stays: recovery rebuilds them from the .log after an
 * unclean stop. Concurrent calls share the fdatasync (group commit): a
 * caller that comes while one is in flight waits for it and, if its records
 * are not covered, one more is done for all the waiters. Any thread,
 * without the log's lock. 0 or the fsync's -errno (-EIO). */
int log_sync(struct log *l, int64_t upto);
/* fsyncs the closed segments not yet durable (a rolled segment is not
 * fsynced by the append that rolled it) and advances the recovery point to
 * the active segment. Takes the log's lock only to look; call it from a
 * background thread, every second or so. */
int log_flush_closed(struct log *l);
/* Truncates the log to end at offset (followers; recovery): the only call
 * that moves the high watermark back (to offset, if it was above). The
 * epoch cache loses the epochs that start at or after the new end
 * (Kafka's truncateFromEnd), its file rewritten durably. An offset at or
 * past the log end cuts nothing but the epochs that start at the end (a
 * leader's with nothing appended), as Kafka's truncateTo. */
int log_truncate_to(struct log *l, int64_t offset);
/* log_truncate_to, durable before it returns: the cut segment's files are
 * fsynced, and the directory when whole segments went, so that no power
 * cut can bring the cut records back (a follower must never fetch again
 * over records it took back). -ERANGE below the log start. */
int log_truncate_durable(struct log *l, int64_t offset);
/* Empties the log and starts it again at offset, whose record has line
 * position line_pos (Kafka's truncateFullyAndStartAt): a follower or read
 * copy whose log end is below its leader's log start, which the leader
 * answers with its log start and that line position. Afterwards log
 * start = hw = log end = offset and line start = line hw = line_pos, the
 * epoch cache is empty, and reads below line_pos continue at the first
 * record there, as on any log whose start moved. Durable and crash-safe
 * (reset.c): after a kill -9 at any point the log opens either as it was
 * or as the new, empty one. Readers in old segments finish their bytes.
 * Wakes the hw listeners. -EINVAL offset at or below the log end, or
 * line_pos below the line end (positions never go back); -EIO a damaged
 * log; -ENOENT a dropped one; the file system's -errno (from the old
 * segments' deletion on, the log in memory is the new one and the next
 * open finishes the reset). */
int log_reset_start(struct log *l, int64_t offset, int64_t line_pos);
/* Takes back the caller's own append from offset on, which it could not
 * complete (its flush failed) and must never be committed: the cut, or,
 * when the cut fails, the fence of a failed append (see log_state.fence).
 * 0, or the cut's error with the log fenced. */
int log_rollback(struct log *l, int64_t offset);
/* Records a new leader epoch starting at start_offset in the epoch cache
 * (leader-epoch-checkpoint), which is rewritten durably. */
int log_assign_epoch(struct log *l, int32_t epoch, int64_t start_offset);
void log_get_state(struct log *l, struct log_state *st);
/* Parts of log_get_state, taken together under the log's lock as it has
 * them, without its walk over every segment (for size_bytes), which
 * made each write, read or stat of a partition of many segments pay for
 * all of them: the hw and its line position (either pointer NULL), the
 * log end offset, the log start offset. */
void log_get_hw(struct log *l, int64_t *hw, int64_t *line_hw);
int64_t log_get_end(struct log *l);
int64_t log_get_start(struct log *l);
/* The offsets a replica's every fetch and parked-fetch look reads (and
 * flush.messages after each append), together, as log_get_state has
 * them, without its walk over the segments. */
struct log_offsets {
	int64_t log_start_offset, hw, log_end_offset, line_start, synced_offset;
	int32_t leader_epoch; /* the latest in the epoch cache, -1: none */
	bool dropped;
};
void log_get_offsets(struct log *l, struct log_offsets *o);
/* Kafka's LeaderEpochFileCache.endOffsetFor, for OffsetForLeaderEpoch and
 * the follower's truncation (KIP-101, KIP-279): the latest epoch in the
 * cache answers (epoch, LEO); another: *out_epoch = the largest epoch <=
 * epoch in the cache and *out_end = the start offset of the next larger
 * one. An epoch below all of them: (epoch, start of the first), as Kafka
 * answers (the records of older epochs are gone from this log anyway).
 * (-1, -1), Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET, when
 * epoch is -1, above the latest (no entry here ends it), or the cache is
 * empty. Always 0. */
int log_end_offset_for_epoch(struct log *l, int32_t epoch, int32_t *out_epoch, int64_t *out_end);
/* The hw, log_end_offset_for_epoch's answer for epoch and the cache's
 * latest epoch (-1: empty), under one taking of the log's lock: an
 * acknowledgement's look whether its records are committed, and still
 * the ones its leader epoch appended (an empty cache is a log that
 * stamps no epochs; an epoch above the latest is one truncated away). */
int64_t log_get_hw_epoch(struct log *l, int32_t epoch, int32_t *out_epoch, int64_t *out_end,
			 int32_t *out_latest);
/* Kafka's LeaderEpochFileCache.epochForOffset, for ListOffsets' leader
 * epoch of the offset it finds: the epoch of the latest entry starting
 * at or below offset, -1 when none does. */
int32_t log_epoch_for_offset(struct log *l, int64_t offset);

/* ---- listeners ----
 * Called with no engine lock held, on the thread that moved the hw
 * (log_set_hw, log_set_follower_hw) or appended (log_append,
 * log_append_lines, log_append_batches: the LEO listeners, for parked
 * fetches). Up to LOG_LISTENERS_MAX of each kind per log; add returns
 * -ENOSPC beyond, -EEXIST for a (fn, arg) already there. Once remove
 * returns, fn is not running for this log and will not be called again,
 * so arg may be freed. fn may call into the log (log_set_hw included) but
 * must not add or remove listeners of it. */
#define LOG_LISTENERS_MAX 8
typedef void log_listener_fn(void *arg, struct log *l);
int log_add_hw_listener(struct log *l, log_listener_fn *fn, void *arg);
void log_remove_hw_listener(struct log *l, log_listener_fn *fn, void *arg);
int log_add_leo_listener(struct log *l, log_listener_fn *fn, void *arg);
void log_remove_leo_listener(struct log *l, log_listener_fn *fn, void *arg);

/* ---- replication (a follower's log, the leader's fetch path) ---- */

/* A follower's hw: min(leader_hw, its own LEO), and never back (as
 * log_set_hw). */
int log_set_follower_hw(struct log *l, int64_t leader_hw);

/* Whole batches of one segment as a range of its .log file, for sendfile:
 * [pos, pos + len) of fd. While the reference is held (until
 * log_raw_release) the segment and its descriptor stay open and its bytes
 * stay on disk: retention and compaction unlink a segment only when its
 * last reference goes. A truncation of the log (a leader that became a
 * follower) may still cut the bytes: senders check the count sendfile
 * returns. len 0 (fd -1, no reference): nothing to send. */
struct log_raw {
	void *seg; /* the referenced segment; NULL when len is 0 */
	int fd;
	int64_t pos;
	int64_t len;
	int64_t base_offset; /* of the first batch */
	int64_t last_offset; /* of the last batch */
	int32_t last_epoch;  /* partition leader epoch of the last batch; -1 */
	int32_t batches;
	int64_t first_line_pos; /* line position of the first batch; -1 */
};
/* Kafka's fetch read: the batches from the one holding fetch_offset (found
 * through .lines, O(log n)), in one segment, each wholly below upto (the
 * leader serves followers up to the LEO, everyone else up to the hw: pass
 * it; it is clamped to the LEO), as many as fit max_bytes but at least one
 * (a fetch always makes progress, whatever the batch's size). 0 with *out
 * filled (maybe empty), or -ERANGE (OFFSET_OUT_OF_RANGE) when fetch_offset
 * is below the log start offset or above the LEO, -EBADMSG a batch header
 * that does not decode (reported through the corrupt listener), -EIO,
 * -EMFILE. Any thread; takes the log's lock for the lookup only. */
int log_read_raw(struct log *l, int64_t fetch_offset, int64_t upto, size_t max_bytes,
		 struct log_raw *out);
/* The same for a follower or read copy, which keeps this log's line
 * positions: in a log that may hold the gaps compaction leaves (a
 * compacted topic's, or one cleaned before), the range also ends before
 * a batch whose base offset does not follow the batch before it. The
 * copy places a range's first batch at out->first_line_pos and the others
 * right after it, so a range must hold no gap in line positions. */
int log_read_raw_copy(struct log *l, int64_t fetch_offset, int64_t upto, size_t max_bytes,
		      struct log_raw *out);
/* Drops the reference of a log_read_raw result; an empty one is fine. */
void log_raw_release(struct log_raw *raw);
/* The follower's append: the leader's batches appended as they are
 * (offsets, leader epochs, CRCs, compression kept). Every batch is
 * checked first: magic 2, its length, its CRC-32C, the first base offset
 * = the LEO, or above it when first_line_pos (the leader's line position
 * of that batch, from its log_read_raw) is at or past this log's line
 * end: the leader's compaction removed the records in between, and the
 * batch takes the leader's position, leaving the same gap in the line
 * view (-1: not known, no gap allowed). Each next one = the previous last
 * offset + 1; at the first that starts higher (a gap the leader did not
 * end its range at) the batches before it are appended and the rest are
 * left for the next fetch, which starts in that gap. Offsets
 * inside a batch increasing, records that decode (a compressed payload
 * is decompressed to count its lines), its partition leader epoch >= the
 * latest in the epoch cache and >= the batch before. A batch cut short
 * at the end of buf (a Fetch response may end so) is ignored. Then, under
 * the log's lock, all or nothing: indexes and .lines positions are built
 * as the leader built them, and segments roll by this log's own config
 * (segment.bytes and the offset range roll where the leader's did when
 * the configs are the same, and so does a full index, tested batch by
 * batch; segment.ms runs on this log's clock: see append_follower.c). A batch that starts a new epoch enters the epoch cache at
 * its base offset. Does not move the hw (log_set_follower_hw). Returns
 * the batches appended (0: none whole in buf) with *last_offset (may be
 * NULL) the last offset appended or -1; -EBADMSG (nothing appended) for
 * a batch that is not valid, a first base offset below the LEO or above
 * it without a line position for it, offsets that go back, an epoch that
 * goes back; -EIO, -ENOSPC
 * (nothing appended). max.message.bytes is not
 * applied: a replica takes every batch its leader took. */
int log_append_batches(struct log *l, const uint8_t *buf, size_t len, int64_t first_line_pos,
		       int64_t *last_offset);
/* ---- the idempotent producer's fields (producer.c) ----
 * producerId, producerEpoch and baseSequence of record batch v2, which
 * Kafka's idempotent producers set and the log keeps as written (the
 * leader's append and the follower's both keep them). */
struct batch_producer {
	int64_t producer_id; /* -1: none */
	int16_t producer_epoch;
	int32_t base_sequence; /* of the first record */
};
/* One batch's header, as the producer state needs it. */
struct batch_producer_info {
	int64_t base_offset, last_offset;
	int32_t leader_epoch; /* partitionLeaderEpoch: the epoch that appended it */
	int32_t records;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int64_t max_timestamp; /* maxTimestamp: when the producer last wrote */
	int64_t size;          /* the batch's bytes, its header included */
};
/* seq + n with Kafka's wrap past INT32_MAX to 0. */
int32_t batch_seq_add(int32_t seq, int32_t n);
/* Encodes recs[0..n) as record batches v2 (batch.size bytes of records
 * each, cfg.codec, base offset 0 and leader epoch -1 for the leader to
 * set), stamped with pr's producer id and epoch and consecutive
 * sequences from pr->base_sequence; *out malloc'ed (*out_len bytes),
 * *batches (may be NULL) their count. -EMSGSIZE a batch over
 * max.message.bytes, -EINVAL n <= 0, -ENOMEM. */
int log_encode_batches(const struct log_config *cfg, const struct rec_in *recs, int n,
		       const struct batch_producer *pr, uint8_t **out, size_t *out_len,
		       int32_t *batches);
/* The headers of the batches back to back in buf[0..len) (from the
 * network: only their framing is checked here) into out[0..max): the
 * count; -EBADMSG a batch cut short or a header that does not decode,
 * -E2BIG more than max batches. */
int log_batches_producers(const uint8_t *buf, size_t len, struct batch_producer_info *out, int max);
/* Calls fn with the header of every batch of the log from the one
 * holding offset from (or the log start) to the one holding offset to - 1
 * (to -1: the log end at the call), in offset order. Reads 61 bytes per batch. 0, -EBADMSG (a header that
 * does not decode), -EIO, -EMFILE. Any thread, no lock held across fn. */
typedef void log_producer_fn(void *arg, const struct batch_producer_info *bi);
int log_scan_producers(struct log *l, int64_t from, int64_t to, log_producer_fn *fn, void *arg);
/* The header of the batch holding offset: 0, -ERANGE (below the log
 * start or past the end), -ENOENT, or log_read_raw's and the scan's
 * errors. */
int log_batch_producer_at(struct log *l, int64_t offset, struct batch_producer_info *out);

/* ---- the producer snapshots (prodsnap.c; format there) ----
 * What the producer state knew up to an offset: LOG_SNAP_FRONT of the
 * batches that left the front of the log, LOG_SNAP_CKPT of every batch
 * below the newest segment behind the hw (so that a load scans only the
 * segments after it). read: *out (malloc'ed, *n entries; a producer's
 * kept batches oldest first), *end_offset (every batch in it ends below
 * it) and *end_epoch (the leader epoch of end_offset - 1 when written,
 * -1 unknown); -ENOENT none, -EBADMSG a damaged file (refused, logged),
 * -EIO, -ENOMEM. write: replaces it durably; 0, -EINVAL, -ENOSPC, -EIO,
 * -ENOMEM. */
enum log_snap { LOG_SNAP_FRONT, LOG_SNAP_CKPT };
int log_producer_snapshot_read(struct log *l, enum log_snap which, int64_t *end_offset,
			       int32_t *end_epoch, struct batch_producer_info **out, int *n);
int log_producer_snapshot_write(struct log *l, enum log_snap which, int64_t end_offset,
				int32_t end_epoch, const struct batch_producer_info *bi, int n);
/* Called with the log's maint_lock held and its lock not (fn may scan the
 * log and write a snapshot, not remove anything): which LOG_SNAP_FRONT,
 * before retention or log_delete_records moves the log start up to
 * offset: fn writes the front snapshot up to it, and a negative return
 * keeps the records (nothing removed; logged); LOG_SNAP_CKPT, from
 * log_producer_checkpoint: fn writes the checkpoint at offset. Set it
 * before the log is handed to anyone; arg must outlive the log. */
typedef int log_trim_fn(void *arg, struct log *l, int64_t offset, enum log_snap which);
void log_set_trim_listener(struct log *l, log_trim_fn *fn, void *arg);
/* Writes the producer checkpoint (through the trim listener) at the base
 * of the newest segment at or below the hw and the synced offset, when
 * that is past the log's newest snapshot, reading the headers of at most
 * *budget bytes of segments (at least one segment when *budget > 0),
 * which it takes from *budget; skipped while a clean or a removal holds
 * the log (maint_lock). 1 written, 0 nothing to do, or the listener's
 * error (logged). For the broker's periodic check, with a budget of
 * LOG_CHECKPOINT_SCAN_BYTES per check (about 2 s of reads out of the
 * page cache here). */
#define LOG_CHECKPOINT_SCAN_BYTES (256LL << 20)
int log_producer_checkpoint(struct log *l, int64_t *budget);
/* The same checkpoint, only when at most LOG_CHECKPOINT_ROLLED_SEGS
 * segments lie between the newest snapshot and it (segments closed
 * behind the hw since the last one), taking their bytes from *budget
 * (past it only while *budget is whole: the first log of a pass): for
 * the broker's every scheduler tick, with a budget of
 * LOG_CHECKPOINT_SCAN_BYTES per tick, so that a load after a failover or
 * a restart finds a checkpoint a tick after each roll, not up to
 * log.retention.check.interval.ms later (5 minutes by default: a new
 * leader's first idempotent Produce read the headers of every segment
 * written meanwhile, out of the page cache). Logs further behind are
 * left to log_producer_checkpoint. Returns as it does. */
#define LOG_CHECKPOINT_ROLLED_SEGS 4
int log_producer_checkpoint_rolled(struct log *l, int64_t *budget);
/* The checkpoint at the hw (the log end when lower), for a clean stop
 * once the log is flushed (nothing written there after): when every
 * record is synced and the hw is past the log's newest snapshot, reading
 * the headers of the segments from the one holding that snapshot's end
 * on, only when they come to at most *budget bytes, which it takes from
 * *budget (a stop over many logs, and one far behind its last
 * checkpoint, ends in bounded time). Not above the hw: a replica's
 * records there may be cut at the restart (its next leader has less),
 * and a checkpoint past a cut is not taken. Returns as
 * log_producer_checkpoint does. */
int log_producer_checkpoint_at_stop(struct log *l, int64_t *budget);

/* Called once per corrupt batch a reader (a partition file or consume
 * read, a lookup, the cleaner, .dump) finds: the .log file's path, the
 * batch's position in it, and why it is not valid. The read fails there
 * with -EBADMSG; the engine does not log, so this is the caller's chance.
 * May run on any thread, with the log's lock held: fn must not call into
 * this log. Set it before the log is handed to readers. */
typedef void log_corrupt_fn(void *arg, struct log *l, const char *file, int64_t pos,
			    const char *why);
void log_set_corrupt_listener(struct log *l, log_corrupt_fn *fn, void *arg);
/* Called after log_delete_records moved the log start offset of the log
 * (topic, partition) to start, with no lock of the log held: the owner
 * drops what it cached of the records below (the mount's page cache) and
 * checkpoints the start. Set it before the log is handed to anyone; arg
 * must outlive the log. */
typedef void log_start_fn(void *arg, const char *topic, int partition, int64_t start);
void log_set_start_listener(struct log *l, log_start_fn *fn, void *arg);
/* Called, with the log's lock held, when the log gets work for the
 * owner's background scheduler: a segment added (a roll: a closed
 * segment to flush, a producer checkpoint to write) or one removed
 * (its files due file.delete.delay.ms later). fn must not call into
 * this log; it wakes the scheduler, which asks log_sched_next. Set it
 * before the log is handed to anyone; arg must outlive the log. */
typedef void log_work_fn(void *arg);
void log_set_work_listener(struct log *l, log_work_fn *fn, void *arg);
/* What a background scheduler calling log_flush_closed,
 * log_producer_checkpoint_rolled and log_delete_due has to do for l:
 * true when its next call of them has work (closed segments not
 * flushed, the checkpoint of a roll not written, waiting for the hw or
 * the flush), and in *delete_due the wall-clock ms the first removed
 * segment's files are due (INT64_MAX: none). A log without either can
 * wait for its work listener. Takes the log's lock. */
bool log_sched_next(struct log *l, int64_t *delete_due);
/* A copy of the log's settings now. */
void log_get_config(struct log *l, struct log_config *out);
/* Changes settings that can change at run time (segment_*, flush_*,
 * batch_bytes, codec, max_message_bytes). key_sep may only change while the
 * log has never had a record (-EBUSY otherwise). */
int log_reconfigure(struct log *l, const struct log_config *cfg);
bool log_ever_written(struct log *l);
/* Where the engine reports what it finds wrong on disk and what it does
 * about it (a refused checkpoint, a damaged segment, a rebuilt index): one
 * line each, naming the file, the offset or byte position and the reason.
 * Levels are syslog's (ENGINE_LOG_*). NULL (the default): not reported;
 * the daemon points it at its own log. */
enum { ENGINE_LOG_ERR = 3, ENGINE_LOG_WARN = 4, ENGINE_LOG_INFO = 6 };
extern void (*engine_log)(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Current wall clock in ms; tests may replace it (engine only calls this). */
extern int64_t (*engine_now_ms)(void);
/* Helper threads a log manager opened from now on starts for encoding big
 * appends (log_append); -1 (the default): online CPUs - 1, at most 3.
 * Tests set it to get the same code path on every machine. */
extern int engine_helper_threads;
/* Reads of at least this many bytes (256 KiB) that start between batches
 * decode whole batches on two threads (cursor.c); tests lower it to take
 * that path on small logs. */
extern int engine_batch_read_min;
/* Not NULL: log_clean calls it once it has chosen its segments, holding
 * the log's maint_lock but not its lock (tests use it to hold a clean in
 * progress). */
extern void (*engine_clean_hook)(struct log *l);
/* Not NULL: a cursor that reached the last .lines entry its segment has
 * written calls it with ENGINE_TAIL_HELD before it looks for entries held
 * back, and with ENGINE_TAIL_STEP when it found none and is about to look
 * for the next segment (tests use it to have another reader write the
 * held-back entries, or the appender fill and roll the segment, at that
 * instant). */
enum { ENGINE_TAIL_HELD, ENGINE_TAIL_STEP };
extern void (*engine_tail_hook)(struct log *l, int where);

/* ---- reading the line view ----
 * A cursor makes sequential reads cost no lookup: it remembers the segment,
 * the file position of the next batch and the record within it. A cursor
 * belongs to one reader (one open file): no locking between its users. */
struct log_cursor;
struct log_cursor *log_cursor_new(struct log *l);
void log_cursor_free(struct log_cursor *c);
/* Lines the cursor has copied out whole (their '\n' included), ever: the
 * difference across a read is the records it completed. */
int64_t log_cursor_lines(const struct log_cursor *c);
/* The log c reads (c holds a reference of it until freed). */
struct log *log_cursor_log(const struct log_cursor *c);
/* Copies up to size bytes of the line view starting at line position pos,
 * stopping at the high watermark. Returns bytes copied (0 at or after the
 * hw). If pos falls in a gap (records removed by retention or compaction)
 * or before line_start, copying starts at the next record still present
 * and *actual_pos (if not NULL) says where. If pos is inside a line, the
 * copy starts inside that line. */
ssize_t log_read_lines(struct log *l, struct log_cursor *c, int64_t pos, char *buf, size_t size,
		       int64_t *actual_pos);
/* For a reader through the page cache, which reads whole pages: the line
 * bytes at pos of records removed from the page that holds the log start
 * (by retention or DeleteRecords) or from the page that holds the end of
 * the last range the cleaner rewrote (retention.c, "Pages kept"), up to
 * size and the end of what is kept there. Bytes copied; 0 when pos is not
 * among them (log_read_lines skips removed positions). */
size_t log_read_head(struct log *l, int64_t pos, char *buf, size_t size);
/* log_read_lines, for a reader that alternates between two buffers of size
 * bytes: a read that fills buf may have a helper decode what follows into
 * next meanwhile, for a next call with buf = next at the position this one
 * ended (cursor.c, "decoding ahead"). Until that call, or any other call
 * with the cursor, or its free, next may be written: the caller leaves it
 * alone (nor frees nor grows it) till then. next may be NULL. The run is
 * the manager's helper's: a cursor given a next is freed before its
 * log's manager is closed (the mount frees its readers first). */
ssize_t log_read_lines_ahead(struct log *l, struct log_cursor *c, int64_t pos, char *buf,
			     size_t size, int64_t *actual_pos, char *next);
/* Lookups, O(log n): first record at or after the position / offset /
 * timestamp. Return 0 and fill the out values, or -ERANGE beyond the end. */
int log_offset_to_pos(struct log *l, int64_t offset, int64_t *pos);
int log_pos_to_offset(struct log *l, int64_t pos, int64_t *offset);
/* log_pos_to_offset for the end of what a reader was given (a consumer
 * group's commit): a read stops before a batch that does not decode, and
 * its first byte (or a gap's byte before it) answers that batch's base
 * offset, from its .lines entry, where log_pos_to_offset fails with
 * -EBADMSG. A position inside such a batch fails as there.
 * Reports nothing: the reader that stopped there did (log_corrupt). */
int log_pos_to_offset_bound(struct log *l, int64_t pos, int64_t *offset);
int log_time_to_offset(struct log *l, int64_t ts_ms, int64_t *offset);
/* log_time_to_offset, with the timestamp of the record found (Kafka's
 * ListOffsets answers both). By time, the first record in offset order at
 * or after the log start offset whose timestamp is >= ts_ms (Kafka's
 * fetchOffsetByTimestamp): never one below the log start, which
 * DeleteRecords may have left in its segment and its time index. */
int log_time_lookup(struct log *l, int64_t ts_ms, int64_t *offset, int64_t *found_ts);
/* The record with the largest timestamp (the earliest of equals) and that
 * timestamp, among those at or after the log start: Kafka's ListOffsets
 * -3. -ERANGE: an empty log, or no record with a timestamp (all -1). */
int log_max_time_lookup(struct log *l, int64_t *offset, int64_t *found_ts);

/* ---- inspection (the .segments views) ---- */
/* Base offsets of the segments, oldest first; *bases malloc'ed. */
int log_segments(struct log *l, int64_t **bases, int *n);
enum seg_file { SEG_LOG, SEG_INDEX, SEG_TIMEINDEX, SEG_DUMP };
/* Size of a segment file: SEG_LOG its bytes; the others the bytes of
 * their rendering, as log_segment_render would give them now (rendered
 * whole once, then cached in the segment until the file it renders grows:
 * for a closed segment, for good). */
int64_t log_segment_size(struct log *l, int64_t base, enum seg_file kind);
/* Raw bytes of <base>.log (any position < size). */
ssize_t log_segment_read_raw(struct log *l, int64_t base, char *buf, size_t size, int64_t off);
/* Renders a segment file as text, one chunk at a time, for .index,
 * .timeindex ("offset: 194 position: 5124", "timestamp: ... offset: ...")
 * and .dump (a line per batch, then a line per record). *cursor starts at 0
 * and is advanced; returns bytes written into buf (0 = done). buf must hold
 * at least 64 KiB (one rendered batch line + its records may need more: a
 * record line longer than the buffer is cut and ends in "...\n"). */
ssize_t log_segment_render(struct log *l, int64_t base, enum seg_file kind, int64_t *cursor,
			   char *buf, size_t size);

/* ------------------------------------------------------------------ */
/* Retention and compaction (engine/retention.c, engine/cleaner.c).
 *
 * Both remove records and never move one: offsets and line positions of
 * the records that stay are unchanged, reads skip the gaps. Neither ever
 * touches the active segment. A segment that leaves the log is renamed to
 * <file>.deleted and unlinked when its last reader lets go of it (cursors
 * hold references), so a reader finishes the bytes it was reading; the
 * log itself holds it file.delete.delay.ms long (log_delete_due).
 *
 * Locking: each runs under the log's maintenance lock (one retention or
 * clean at a time per log) and takes the log's lock only to snapshot the
 * segment list and to swap it; appends and reads go on meanwhile. */

struct log_retention_result {
	int32_t segments;         /* segments deleted */
	int64_t bytes;            /* bytes of .log deleted */
	int64_t log_start_offset; /* after the run */
};
/* Deletes closed segments, oldest first, while the segment's largest
 * timestamp is older than now - retention.ms or the log is larger than
 * retention.bytes (the whole segment must fit in the excess), and only
 * segments wholly below the high watermark. Needs cleanup.policy delete.
 * Advances the log start offset to the first remaining segment. Returns
 * segments deleted (>= 0) or -errno (-EIO/-ENOENT from the file system;
 * what was deleted stays deleted; the trim listener's error: nothing
 * deleted). */
int log_retention_run(struct log *l, int64_t now, struct log_retention_result *res);
/* Lets go of the segments that left the log (retention, DeleteRecords) at
 * least file.delete.delay.ms before now: their <file>.deleted files are
 * unlinked, or by the last reader still on one when it lets go. Returns
 * how many. Any thread; takes the log's lock. */
int log_delete_due(struct log *l, int64_t now);
/* Kafka's DeleteRecords on one log (UnifiedLog.maybeIncrementLogStartOffset
 * and the deletion of the segments it leaves behind): the log start offset
 * moves up to offset, the records below it are no longer read, and the
 * closed segments wholly below it go as retention's do. offset must be in
 * [0, hw]; at or below the log start nothing changes. *start: the log
 * start after the call. -ERANGE offset outside [0, hw]; -EPERM the log's
 * cleanup.policy lacks delete (Kafka's policy refusal); -ENOENT deleted,
 * -EIO damaged or a rename that failed (the start moved all the same);
 * the trim listener's error (the producer snapshot not written: the start
 * stays);
 * -EBUSY with busy_ok while retention or the cleaner works on the log (a
 * follower's fetcher must not wait for a clean: it tries again with its
 * next fetch). The start listener (log_set_start_listener) is told. */
int log_delete_records(struct log *l, int64_t offset, bool busy_ok, int64_t *start);

struct log_clean_stats {
	int32_t segments_read;      /* closed segments scanned */
	int32_t segments_rewritten; /* segments swapped for cleaned ones */
	int64_t bytes_read;
	int64_t bytes_written;
	int64_t records_read;
	int64_t records_removed;    /* superseded records + expired tombstones */
	int64_t first_dirty_offset; /* the cleaner checkpoint after the run */
	int64_t elapsed_ms;
};
/* The compaction state of a log: dirty ratio = bytes of closed, cleanable
 * segments at or above the cleaner checkpoint / bytes of all cleanable
 * segments (Kafka's LogToClean.cleanableRatio); 0 when nothing is
 * cleanable. */
int log_dirty_ratio(struct log *l, int64_t now, double *ratio);
/* One clean of a compacted log (cleanup.policy has compact): if force,
 * the dirty ratio >= min.cleanable.dirty.ratio, or a dirty cleanable
 * segment's first batch is older than max.compaction.lag.ms, builds a key -> latest
 * offset map over the dirty cleanable segments (at most map_bytes of map,
 * 24 bytes a key), then rewrites every cleanable segment keeping a keyed
 * record only if it is the latest of its key, and a tombstone (a null
 * value; an empty one is a value, as in Kafka) only while timestamp +
 * delete.retention.ms > now. Records
 * without a key are kept. Segments are cleanable when closed, wholly below
 * the hw, and older than min.compaction.lag.ms (largest timestamp).
 * Each rewritten segment replaces its original crash-safely:
 *   <base>.<ext>.cleaned written and fsynced   crash: deleted at open
 *   renamed to .swap, .log last                crash: .swap without
 *                                               .log.swap deleted at open
 *   .swap renamed over the originals, .log last crash: .log.swap present,
 *                                               the swap is finished at open
 * Returns 1 if it cleaned, 0 if there was nothing to do, or -errno (the
 * segments not yet swapped stay as they were): -ENOBUFS when not even one
 * dirty segment's keys fit in map_bytes. */
int log_clean(struct log *l, int64_t now, int64_t map_bytes, bool force,
	      struct log_clean_stats *st);

/* ------------------------------------------------------------------ */
/* The log manager: one data directory. */
struct logmgr;
/* Opens DATA (created if missing), reads the checkpoints; if the
 * clean-shutdown marker is absent, every log is recovered from its recovery
 * point on open. The marker is removed once open. First of all it locks the
 * directory (flock on DATA/.lock, held until close or abandon):
 * -EWOULDBLOCK when another manager, of any process, has it open. */
int logmgr_open(const char *data_dir, const struct io_ops *io, struct logmgr **out);
/* The pid written in DATA/.lock by the manager that locked it last (it
 * may have exited since), or -ENOENT / -EBADMSG. */
int logmgr_lock_owner(const char *data_dir);
/* Flushes all logs, writes the checkpoints and the clean-shutdown marker,
 * closes every log and unlocks the directory. The marker is written only
 * if everything before it succeeded: on a failure (-EIO, -ENOSPC, ...)
 * the manager is closed all the same, without the marker, so the next
 * open recovers; logmgr_shutdown then also puts in why (if not NULL) what
 * failed, naming the file, and the reason. */
int logmgr_shutdown(struct logmgr *m, char *why, size_t whylen);
/* logmgr_shutdown(m, NULL, 0). */
int logmgr_close(struct logmgr *m);
/* Closes a directory that its owner took offline after a storage error
 * at run time (Kafka's offline log directory): nothing more is written
 * into it, no flush, no checkpoint, no clean-shutdown marker, and the
 * active segments' reserved blocks are not cut (seg_tail_forget), as a
 * killed process leaves them. What the directory holds is not vouched
 * for: the next open recovers its logs. No log of m may be in use (other
 * than through references that are only freed). */
void logmgr_close_offline(struct logmgr *m);
/* Closes without flushing, checkpointing or writing the marker: what a
 * killed process leaves behind (tests; a fatal error). */
void logmgr_abandon(struct logmgr *m);
/* Closes after a start that failed before anything was appended (a
 * refused partition): no checkpoint is written, and the clean-shutdown
 * marker is put back if the open found one, so the next start after the
 * repair does not take the refusal for a crash. */
void logmgr_close_refused(struct logmgr *m);
bool logmgr_was_clean(struct logmgr *m);
/* Read-ahead buffers of all the cursors of the manager's logs together
 * stay within a budget (LOGMGR_READAHEAD_BUDGET unless set): a cursor that
 * finds it spent reads with a buffer of one batch (at least 16 KiB) instead
 * of 512 KiB, more slowly but without failing. readahead_bytes: in use. */
#define LOGMGR_READAHEAD_BUDGET (64LL << 20)
void logmgr_set_readahead_budget(struct logmgr *m, int64_t bytes);
int64_t logmgr_readahead_bytes(struct logmgr *m);
/* Each segment has four descriptors (.log .index .timeindex .lines). The
 * active segments' stay open; of the closed segments' sets, those in use
 * (a read, a flush, the cleaner) stay open for the use and at most
 * `segments` idle ones are kept open, the least recently used closed
 * beyond that and reopened when next needed (log.segment.fd.cache). The
 * default, logmgr_fd_cache_default(), is a quarter of the soft
 * RLIMIT_NOFILE at the call divided by 4 descriptors a set, at least
 * LOGMGR_FD_CACHE_MIN. Opening a set when out of descriptors first closes
 * every idle set and tries again; then the read or append fails with
 * -EMFILE/-ENFILE and nothing is appended. */
#define LOGMGR_FD_CACHE_MIN 16
int64_t logmgr_fd_cache_default(void);
void logmgr_set_fd_cache(struct logmgr *m, int64_t segments);
/* Segment descriptor sets open now (active ones included), and idle sets
 * closed so far. */
void logmgr_fd_stats(struct logmgr *m, int64_t *open_sets, int64_t *evictions);
/* Segment sets open now (4 descriptors each) and, of them, idle closed
 * segments' sets: descriptors the manager closes when it needs them. */
void logmgr_fd_sets(struct logmgr *m, int64_t *open_sets, int64_t *idle);
/* Closes up to n idle segment descriptor sets, least recently used first
 * (they reopen when read): room for a step about to open files. */
void logmgr_fd_close_idle(struct logmgr *m, int64_t n);
/* Opens (creating if create) the log DATA/<topic>-<partition>. A log stays
 * open until logmgr_drop_log or logmgr_close; opening twice returns the
 * same log. */
int logmgr_get_log(struct logmgr *m, const char *topic, int partition, const struct log_config *cfg,
		   bool create, struct log **out);
/* Whether the log is open in m now (logmgr_get_log would open no file). */
bool logmgr_is_open(struct logmgr *m, const char *topic, int partition);
/* Deletes a log and its directory (renamed to <dir>.<n>-delete first, then
 * removed). Open cursors keep working on the files they hold until freed.
 * A clean or retention run in progress on the log stops at its next
 * segment; the drop waits for it (without holding the manager's lock), so
 * nothing writes in the directory once it is renamed, nor in a new log
 * made under the same name. */
int logmgr_drop_log(struct logmgr *m, const char *topic, int partition);
/* References that keep a log's memory and open files alive after
 * logmgr_drop_log or logmgr_close (calls on a dropped log: -ENOENT or no
 * effect). The broker takes one under its topic lock, then does the long
 * I/O (log_clean, log_flush, retention) without that lock. Any thread. */
void log_ref(struct log *l);
void log_unref(struct log *l);
/* partition.metadata beside a log (Kafka's PartitionMetadataFile): the id
 * of the topic the log belongs to, which its owner sets and compares, so
 * that a log of an earlier topic of the same name is known for one:
 *
 *     version: 0
 *     topic_id: <id>
 *
 * logmgr_topic_id: 1 with the id in out, 0 when the log has none (or no
 * directory), -EBADMSG a file that does not parse, -errno. The file is
 * written durably (tmp, fsync, rename); -ENOENT without the log's
 * directory. The id is 1..63 bytes of [A-Za-z0-9_-]. */
int logmgr_topic_id(struct logmgr *m, const char *topic, int partition, char *out, size_t cap);
int logmgr_set_topic_id(struct logmgr *m, const char *topic, int partition, const char *id);
/* True once logmgr_drop_log dropped l (any thread). */
bool log_dropped(struct log *l);
/* Writes the four checkpoint files of the directory (recovery points,
 * high watermarks, log start offsets, cleaner offsets; called
 * periodically and at close): 0 or the -errno of the first that failed
 * (-EIO, -ENOSPC: a storage failure; -ENOMEM), whose name (a static
 * string, e.g. "replication-offset-checkpoint") goes to *failed when
 * failed is not NULL (NULL on success). */
int logmgr_write_checkpoints(struct logmgr *m, const char **failed);
/* logmgr_write_checkpoints without the name. */
int logmgr_checkpoint(struct logmgr *m);
/* A log directory of the data directory, "topic-partition". */
struct log_name {
	char *topic;
	int32_t partition;
};
/* Orders log names by topic, then partition (qsort, bsearch). */
int log_name_cmp(const void *a, const void *b);
/* The logs the data directory held at open (one listing, taken while
 * logmgr_open finished interrupted deletions), sorted by log_name_cmp:
 * *n of them, owned by m and unchanged for its life (logs made or dropped
 * since are not in it). */
const struct log_name *logmgr_found(struct logmgr *m, int *n);
const char *logmgr_dir(struct logmgr *m);
/* For the log line of a write that met ENOSPC: why, when the disk is out
 * of inodes with blocks free (df shows room, df -i none), else "". */
const char *logmgr_enospc_why(struct logmgr *m);
const struct io_ops *logmgr_io(struct logmgr *m);

#endif
