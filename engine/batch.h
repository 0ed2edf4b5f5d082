/*
 * batch.h — Kafka record batch v2: codec, builder, record iterator,
 * CRC-32C, varints, compression. Private to engine/ (and its unit tests).
 *
 * On-disk/wire layout of one batch (all integers big-endian):
 *
 *   offset  size  field
 *   0       8     baseOffset            int64
 *   8       4     batchLength           int32  bytes that follow this field
 *   12      4     partitionLeaderEpoch  int32  (outside the CRC)
 *   16      1     magic                 int8   = 2
 *   17      4     crc                   uint32 CRC-32C of bytes 21..end
 *   21      2     attributes            int16  bits 0-2 codec (0 none, 1 gzip,
 *                                              2 snappy, 3 lz4, 4 zstd),
 *                                              bit 3 timestampType,
 *                                              bit 4 isTransactional,
 *                                              bit 5 isControlBatch
 *   23      4     lastOffsetDelta       int32
 *   27      8     baseTimestamp         int64
 *   35      8     maxTimestamp          int64
 *   43      8     producerId            int64  (-1: none)
 *   51      2     producerEpoch         int16  (-1)
 *   53      4     baseSequence          int32  (-1)
 *   57      4     recordsCount          int32
 *   61      ...   records, compressed as a whole when codec != 0
 *
 * One record (varint = zigzag LEB128, as protobuf's sint32/sint64):
 *
 *   length varint, attributes int8 (unused, 0), timestampDelta varlong,
 *   offsetDelta varint, keyLength varint (-1 = null key), key,
 *   valueLength varint (-1 = null value), value, headersCount varint,
 *   headers (headerKeyLength varint, key, headerValueLength varint, value)
 *
 * Invariants checked by batch_validate() and by batch_iter_init() (every
 * reader): batchLength >= 49, magic 2, CRC matches, recordsCount >= 0,
 * lastOffsetDelta >= 0. Records are checked while iterating: every length
 * stays inside the batch, offset deltas strictly increase and never exceed
 * lastOffsetDelta. A gzip payload is a gzip stream; an lz4 payload is an LZ4 frame (as Kafka's KafkaLZ4BlockOutputStream
 * writes it, with a correct header checksum).
 */
#ifndef MQFS_ENGINE_BATCH_H
#define MQFS_ENGINE_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "engine/engine.h" /* BATCH_CODEC_* */

#define BATCH_HDR_SIZE             61 /* bytes before the first record */
#define BATCH_LOG_OVERHEAD         12 /* baseOffset + batchLength */
#define BATCH_MAGIC                2
#define BATCH_CODEC_MASK           0x07
#define BATCH_ATTR_LOG_APPEND_TIME 0x08
#define BATCH_ATTR_TRANSACTIONAL   0x10
#define BATCH_ATTR_CONTROL         0x20
/* Kafka's isDeleteHorizonSet (KIP-534): the batch's baseTimestamp is the
 * time from which the cleaner may remove its tombstones; its records'
 * timestamps stay baseTimestamp + timestampDelta, deltas then relative to
 * the horizon (negative ones included). */
#define BATCH_ATTR_DELETE_HORIZON  0x40

/* Field offsets inside the header, for in-place patching. */
#define BATCH_OFF_BASE_OFFSET    0
#define BATCH_OFF_LENGTH         8
#define BATCH_OFF_LEADER_EPOCH   12
#define BATCH_OFF_MAGIC          16
#define BATCH_OFF_CRC            17
#define BATCH_OFF_ATTRIBUTES     21
#define BATCH_OFF_LAST_DELTA     23
#define BATCH_OFF_BASE_TS        27
#define BATCH_OFF_MAX_TS         35
#define BATCH_OFF_PRODUCER_ID    43
#define BATCH_OFF_PRODUCER_EPOCH 51
#define BATCH_OFF_BASE_SEQUENCE  53
#define BATCH_OFF_COUNT          57

struct batch_hdr {
	int64_t base_offset;
	int32_t batch_length;
	int32_t partition_leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t records_count;
};

/* One decoded record. Pointers point into the batch (or its decompressed
 * payload) and stay valid until the iterator is advanced past the batch or
 * freed. key_len/value_len are -1 for null. */
struct rec {
	int64_t offset;    /* base_offset + offsetDelta */
	int64_t timestamp; /* baseTimestamp + timestampDelta */
	const uint8_t *key;
	int32_t key_len;
	const uint8_t *value;
	int32_t value_len;
	int32_t headers_count;
	const uint8_t *headers;     /* its headers_count headers, validated, */
	const uint8_t *headers_end; /* read with batch_header_next */
};

/* ---- big-endian helpers ---- */
static inline uint16_t be16_get(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}
static inline uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t be64_get(const uint8_t *p)
{
	return (uint64_t)be32_get(p) << 32 | be32_get(p + 4);
}
static inline void be16_put(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = (uint8_t)v;
}
static inline void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void be64_put(uint8_t *p, uint64_t v)
{
	be32_put(p, (uint32_t)(v >> 32));
	be32_put(p + 4, (uint32_t)v);
}

/* ---- CRC-32C (Castagnoli), crc32c.c ----
 * crc32c(0, "123456789", 9) == 0xE3069283. Uses SSE4.2 when the CPU has it
 * (checked once at run time), and for long buffers carry-less folding when
 * it also has AVX-512 and VPCLMULQDQ, else a table-driven portable version.
 * crc32c_no_fold: the same without the folding (tests compare the two). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_no_fold(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_portable(uint32_t crc, const void *buf, size_t len);
bool crc32c_hw_available(void);
bool crc32c_fold_available(void);

/* ---- varints, varint.c ----
 * Zigzag-encoded LEB128 as Kafka writes them. put returns bytes written
 * (at most 5 for 32-bit, 10 for 64-bit); get returns bytes consumed, or
 * -EBADMSG when the input ends early or the value overflows. The writers
 * are inline: a record has six varints, most of one or two bytes. */
static inline uint32_t zigzag32(int32_t v)
{
	return ((uint32_t)v << 1) ^ -((uint32_t)v >> 31);
}
static inline uint64_t zigzag64(int64_t v)
{
	return ((uint64_t)v << 1) ^ -((uint64_t)v >> 63);
}
static inline int64_t unzigzag64(uint64_t z)
{
	return (int64_t)((z >> 1) ^ -(z & 1));
}
static inline int varint_put_raw(uint8_t *p, uint64_t z)
{
	int n = 0;
	while (z >= 0x80) {
		p[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}
/* A 32-bit value's zigzag form equals the 64-bit one of the same value. */
static inline int varint_put32(uint8_t *p, int32_t v)
{
	return varint_put_raw(p, zigzag32(v));
}
static inline int varint_put64(uint8_t *p, int64_t v)
{
	return varint_put_raw(p, zigzag64(v));
}
int varint_get32(const uint8_t *p, size_t avail, int32_t *v);
int varint_get64(const uint8_t *p, size_t avail, int64_t *v);
int varint_size32(int32_t v);
int varint_size64(int64_t v);
/* Encoded sizes, one- and two-byte varints inline (the common case of a
 * record's fields), longer ones in varint.c. */
static inline int size_vi32(int32_t v)
{
	uint32_t z = zigzag32(v);

	return z < 1u << 7 ? 1 : z < 1u << 14 ? 2 : varint_size32(v);
}
static inline int size_vi64(int64_t v)
{
	uint64_t z = zigzag64(v);

	return z < 1u << 7 ? 1 : z < 1u << 14 ? 2 : varint_size64(v);
}

/* ---- header ---- */
/* Decodes the 61-byte header. -EBADMSG if len < BATCH_HDR_SIZE, magic != 2,
 * batch_length < BATCH_HDR_SIZE - BATCH_LOG_OVERHEAD, records_count < 0. */
int batch_hdr_decode(const uint8_t *buf, size_t len, struct batch_hdr *h);
/* Total bytes of the batch at buf (batchLength + 12); needs 12 bytes. */
static inline int64_t batch_total_size(const uint8_t *buf)
{
	return (int64_t)(int32_t)be32_get(buf + BATCH_OFF_LENGTH) + BATCH_LOG_OVERHEAD;
}
/* Full check of one complete batch of exactly len bytes: header, CRC.
 * 0 or -EBADMSG. */
int batch_validate(const uint8_t *buf, size_t len);
/* Rewrites baseOffset and partitionLeaderEpoch in place (both are outside
 * the CRC, which is why a leader can assign offsets without re-encoding). */
void batch_set_base(uint8_t *buf, int64_t base_offset, int32_t leader_epoch);

/* ---- builder ----
 * Builds one batch into a caller-owned buffer. Usage:
 *   batch_builder_init(&bb, buf, cap, codec);
 *   while (batch_builder_add(&bb, ...) == 0) ...;
 *   n = batch_builder_finish(&bb, base_offset, leader_epoch);
 * The builder writes records uncompressed at buf+61; finish compresses them
 * (into a scratch buffer it allocates and frees) when codec != NONE, then
 * fills the header and the CRC. Records of more than COMPRESS_MAX_OUT
 * bytes (one record over 64 MiB: batch.size is at most that) stay
 * uncompressed, their batch's codec none: every reader, recovery and a
 * follower's check decompress at most that much, and a batch none of
 * them could read would be acknowledged and then never served (kept on
 * disk, failing every read that reaches it: seg.c, "Undecodable
 * batches"). Records whose compressed form would not fit in cap (data
 * that does not compress grows by the codec's framing: snappy's xerial
 * header and block lengths, an LZ4 frame's) stay uncompressed too: the
 * caller's cap is its bound on the batch (max.message.bytes for the
 * mount's lines), and the records as added fit it. */
struct batch_builder {
	uint8_t *buf;
	size_t cap;
	size_t len; /* bytes used so far, header included */
	int codec;
	int32_t count;
	int64_t base_timestamp;
	int64_t max_timestamp;
	/* Kafka's idempotent producer fields, -1 (none) unless the caller
	 * sets them before finish (they are inside the CRC). */
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	/* message.timestamp.type=LogAppendTime: attribute bit 3, so that
	 * readers take the batch's max timestamp for each record (false
	 * unless the caller sets it before finish). */
	bool log_append_time;
	/* The delete horizon (BATCH_ATTR_DELETE_HORIZON), -1: none; set by
	 * batch_builder_set_delete_horizon before the first record. */
	int64_t delete_horizon;
};
void batch_builder_init(struct batch_builder *bb, uint8_t *buf, size_t cap, int codec);
/* Marks the batch to come with a delete horizon (ms >= 0), as Kafka's
 * cleaner writes a batch that keeps a tombstone: its baseTimestamp is ms
 * and every record's timestampDelta counts from it. Before the first add. */
void batch_builder_set_delete_horizon(struct batch_builder *bb, int64_t ms);
/* The delete horizon of a decoded batch header, -1 when not set. */
static inline int64_t batch_hdr_delete_horizon(const struct batch_hdr *h)
{
	return (h->attributes & BATCH_ATTR_DELETE_HORIZON) ? h->base_timestamp : -1;
}
/* Worst-case encoded size of one record (for sizing buffers). */
size_t batch_record_max_size(int32_t key_len, int32_t value_len);
/* Appends one record (offset delta = count so far). key/value NULL with
 * len -1 for null. -ENOSPC if it does not fit in cap (the builder is
 * unchanged, so the caller can finish and start a new batch). */
int batch_builder_add(struct batch_builder *bb, const void *key, int32_t key_len, const void *value,
		      int32_t value_len, int64_t timestamp);
/* batch_builder_add with headers: headers_count headers whose encoding
 * (as struct rec holds them, from its headers to headers_end) is the
 * headers_len bytes at headers, copied as they are. The record takes
 * batch_record_max_size + headers_len bytes at most. */
int batch_builder_add_headers(struct batch_builder *bb, const void *key, int32_t key_len,
			      const void *value, int32_t value_len, int64_t timestamp,
			      int32_t headers_count, const uint8_t *headers, size_t headers_len);
/* Appends the plain lines at *pp (before end) as records, key null, the
 * line without its '\n' as the value, as batch_builder_add would one by
 * one; stops before the first line that is not plain (batch_lines.c: no
 * '\n' before end, a byte the line view escapes, over max bytes, with esc
 * a leading backslash) or does not fit. Needs a first record added
 * (count > 0). Moves *pp past the lines taken; returns their count and in
 * *value_bytes the sum of their lengths. */
int32_t batch_builder_add_lines(struct batch_builder *bb, const char **pp, const char *end,
				int64_t timestamp, int64_t max, bool esc, int64_t *value_bytes);
/* Tests: true makes batch_builder_add_lines skip its AVX2 copy. */
extern bool batch_lines_portable;
/* Returns the batch's total size (> 0) or -ENOMEM / -EIO on compression
 * failure. A builder with count == 0 returns -EINVAL. */
int64_t batch_builder_finish(struct batch_builder *bb, int64_t base_offset, int32_t leader_epoch);

/* ---- iterator ----
 * Walks the records of one complete, already-validated batch, decompressing
 * the payload when needed (into memory the iterator owns). */
struct batch_iter {
	struct batch_hdr hdr;
	const uint8_t *p, *end;
	int32_t remaining;
	int64_t last_delta;
	uint8_t *owned; /* decompressed payload, or NULL */
	size_t owned_cap;
};
/* 0, or -EBADMSG (the CRC-32C does not match, corrupt compressed payload,
 * a codec number that names none), -ENOMEM. */
int batch_iter_init(struct batch_iter *it, const uint8_t *batch, size_t len);
/* The same for a batch a Kafka client sent: its payload decompressed with
 * decompress_client (Kafka's framing only). */
int batch_iter_init_client(struct batch_iter *it, const uint8_t *batch, size_t len);
/* The same without the CRC check: only for a batch whose bytes are looked
 * at for their shape, never served (seg_load_tail: a flipped byte there is
 * for readers to report, not a reason to cut the log at open). */
int batch_iter_init_nocrc(struct batch_iter *it, const uint8_t *batch, size_t len);
/* The header at *p (below end, inside a record the iterator returned) into
 * key/value (value_len -1: null), *p moved past it: 1, or 0 at end. */
int batch_header_next(const uint8_t **p, const uint8_t *end, const uint8_t **key, int32_t *key_len,
		      const uint8_t **value, int32_t *value_len);
/* 1 with *r filled, 0 at the end, -EBADMSG on a malformed record. */
int batch_iter_next(struct batch_iter *it, struct rec *r);
/* What batch_iter_line_sum counted: the records it took, the bytes of
 * their lines (value + '\n' each), the greatest timestamp among them and
 * the offset of the first record that has it (max_ts starts at -1). */
struct line_sum {
	int64_t records, line_bytes, max_ts, max_ts_offset;
};
/* The follower's walk over a batch's records (append_follower.c): takes
 * the records in the form of written lines (key null, no headers, short
 * varints) whose line is the value itself, adding them to *ls with no
 * struct rec per record; check: line.format=escape, where a value holding
 * a byte the view escapes or starting with a backslash is not such a
 * record (raw: every line-form record is). Returns 1 with *r the first
 * record that is not taken (the caller measures it and calls again), 0 at
 * the end, -EBADMSG on a malformed record: every record is checked as
 * batch_iter_next checks it. AVX2 when the CPU has it and
 * batch_lines_portable is false. */
int batch_iter_line_sum(struct batch_iter *it, bool check, struct line_sum *ls, struct rec *r);
/* The iterator's remaining records as raw lines into out (at most room
 * bytes): per record the key, sep and value when sep_len > 0 and the key
 * is not null, else the value, then '\n' (no escaping: line.format=raw's
 * rendering). Every record is checked as batch_iter_next checks it.
 * Returns the bytes written, with *records the lines; -ENOSPC when the
 * lines do not fit (out then holds some of them), -EBADMSG on a malformed
 * record. Either way the iterator has moved on. */
int64_t batch_iter_plain_lines(struct batch_iter *it, const char *sep, int sep_len, char *out,
			       int64_t room, int64_t *records);
/* Why the batch of len bytes at buf is not valid, in words for a log line
 * (the first failed check in the order of batch.c), into out (cap bytes);
 * "" when it is valid. Slow: for error paths only. */
void batch_explain(const uint8_t *buf, size_t len, char *out, size_t cap);
/* Frees the decompressed payload. Safe on a zeroed iterator. An iterator
 * may be re-initialised without freeing; its payload buffer is reused. */
void batch_iter_free(struct batch_iter *it);

/* ---- compression (compress.c) ----
 * Kafka's framing: gzip = a gzip stream (RFC 1952); snappy = snappy-java's
 * xerial framing (reading also a raw snappy block); lz4 = an LZ4 frame;
 * zstd = a zstd frame. compress: *out malloc'ed; decompress: into *out
 * (realloc'ed, *cap updated).
 * Return the output length or -EBADMSG / -ENOMEM; a payload
 * that decompresses to more than COMPRESS_MAX_OUT bytes is -EBADMSG. */
#define COMPRESS_MAX_OUT (64u << 20)
int64_t compress_buf(int codec, const uint8_t *in, size_t len, uint8_t **out);
int64_t decompress_buf(int codec, const uint8_t *in, size_t len, uint8_t **out, size_t *cap);
/* The same for a payload a Kafka client sent, held to Kafka's framing:
 * one gzip member (not zlib), one lz4 frame, nothing after it (what the
 * clients' consumers can read whole; compress.c). Stored batches are read
 * with decompress_buf, which takes what earlier versions stored. */
int64_t decompress_client(int codec, const uint8_t *in, size_t len, uint8_t **out, size_t *cap);
const char *codec_name(int codec); /* "none", "gzip", "snappy", "lz4", "zstd" */
int codec_parse(const char *s);    /* codec number or -EINVAL */

#endif
