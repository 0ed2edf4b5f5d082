/*
 * kbuf.h — Kafka's primitive wire types: a bounded reader and a writer with
 * a hard size limit. Private to repl/ (the protocol codecs and their tests).
 *
 * The types, as Kafka's protocol guide names them (all integers big-endian):
 *
 *   INT8/16/32/64, UINT32   fixed width, two's complement
 *   VARINT, VARLONG         zigzag, then LEB128 (7 bits a byte, low first):
 *                           at most 5 / 10 bytes
 *   UNSIGNED_VARINT         LEB128 of a uint32, at most 5 bytes, the fifth
 *                           carrying no more than 4 bits
 *   UUID                    16 raw bytes
 *   BOOLEAN                 one byte, 0 false, anything else true
 *   STRING                  INT16 length N >= 0, then N bytes of UTF-8
 *   NULLABLE_STRING         the same, length -1 meaning null
 *   COMPACT_STRING          UNSIGNED_VARINT N+1 (0 is invalid), N bytes
 *   COMPACT_NULLABLE_STRING UNSIGNED_VARINT N+1, 0 meaning null
 *   BYTES / NULLABLE_BYTES  INT32 length (-1 null), bytes
 *   COMPACT_(NULLABLE_)BYTES UNSIGNED_VARINT N+1 (0 null), bytes
 *   ARRAY                   INT32 count (-1 null), then the elements
 *   COMPACT_ARRAY           UNSIGNED_VARINT count+1 (0 null), elements
 *   TAGGED_FIELDS           UNSIGNED_VARINT count, then per field: tag
 *                           UNSIGNED_VARINT, size UNSIGNED_VARINT, size bytes;
 *                           tags strictly increasing. Flexible versions end
 *                           every struct (and the header) with one.
 *
 * Reader rules (the spirit of librdkafka's rd_kafka_buf_read_* macros):
 *   1. Every read checks the bytes left; a read past the end, a negative
 *      length other than -1 where null is allowed, an overlong varint, all
 *      set a sticky error. Later reads return zero values and read nothing,
 *      so a decoder reads a whole struct and checks kbuf_r_err() once.
 *   2. Strings and bytes are not copied: struct kstr points into the
 *      reader's buffer, which must outlive every kstr taken from it.
 *   3. An array count is checked against the bytes left (count times the
 *      smallest encoding of one element) before the caller allocates, so
 *      what a decoder allocates is bounded by the frame it was given.
 *
 * Writer rules: the writer grows its buffer up to a limit fixed at init;
 * going past it sets the sticky error -EMSGSIZE (an allocation failure
 * -ENOMEM, a value the type cannot carry -EINVAL) and later writes do
 * nothing. kbuf_w_err() is checked once at the end.
 *
 * Nothing here keeps global state; a reader or writer belongs to one thread.
 */
#ifndef MQFS_REPL_KBUF_H
#define MQFS_REPL_KBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A string or byte string inside a frame: len -1 is null (ptr NULL). Not
 * NUL-terminated. */
struct kstr {
	const char *ptr;
	int32_t len;
};

#define KSTR_NULL ((struct kstr){ NULL, -1 })
/* A kstr of a C string (NULL gives null). */
struct kstr kstr_of(const char *s);
/* True when s equals the C string c (a null kstr equals nothing). */
bool kstr_eq(struct kstr s, const char *c);
/* True when a and b hold the same bytes, or are both null. */
bool kstr_same(struct kstr a, struct kstr b);
/* s as a C string, up to its first NUL byte as strndup takes it (null:
 * ""): in buf when it fits in size bytes (*heap NULL), else malloc'ed
 * into *heap, which the caller frees. NULL when out of memory. */
const char *kstr_cstr(struct kstr s, char *buf, size_t size, char **heap);

struct kbuf_r {
	const uint8_t *p;   /* next byte */
	const uint8_t *end; /* one past the last byte */
	int err;            /* 0 or -EBADMSG, sticky */
};

void kbuf_r_init(struct kbuf_r *r, const void *data, size_t len);
static inline size_t kbuf_r_left(const struct kbuf_r *r)
{
	return (size_t)(r->end - r->p);
}
static inline int kbuf_r_err(const struct kbuf_r *r)
{
	return r->err;
}
/* 0 when no error and every byte was read, else -EBADMSG. */
int kbuf_r_done(struct kbuf_r *r);
/* Marks the reader failed (a decoder's own validation, same exit). */
void kbuf_r_fail(struct kbuf_r *r);
/* Skips n bytes. */
void kbuf_r_skip(struct kbuf_r *r, size_t n);
/* Takes the next n bytes as their own reader (sub) and skips them. */
void kbuf_r_sub(struct kbuf_r *r, size_t n, struct kbuf_r *sub);

int8_t kbuf_read_i8(struct kbuf_r *r);
int16_t kbuf_read_i16(struct kbuf_r *r);
int32_t kbuf_read_i32(struct kbuf_r *r);
int64_t kbuf_read_i64(struct kbuf_r *r);
/* Kafka's FLOAT64: an IEEE 754 double, big-endian. */
double kbuf_read_f64(struct kbuf_r *r);
uint32_t kbuf_read_u32(struct kbuf_r *r);
bool kbuf_read_bool(struct kbuf_r *r);
void kbuf_read_uuid(struct kbuf_r *r, uint8_t uuid[16]);
int32_t kbuf_read_varint(struct kbuf_r *r);
int64_t kbuf_read_varlong(struct kbuf_r *r);
uint32_t kbuf_read_uvarint(struct kbuf_r *r);

/* Strings: the plain forms refuse null; a string that holds a NUL byte
 * fails the reader (Kafka's names never do; as C strings they would be cut). */
struct kstr kbuf_read_str(struct kbuf_r *r);
struct kstr kbuf_read_nstr(struct kbuf_r *r);
struct kstr kbuf_read_cstr(struct kbuf_r *r);
struct kstr kbuf_read_cnstr(struct kbuf_r *r);
/* Either form, chosen by compact (flexible versions). */
struct kstr kbuf_read_string(struct kbuf_r *r, bool compact, bool nullable);

/* Bytes (ptr is really const uint8_t *). */
struct kstr kbuf_read_bytes(struct kbuf_r *r, bool compact, bool nullable);

/* An array's count: -1 for null (only when nullable), else 0..INT32_MAX,
 * checked against the bytes left with min_elem bytes per element (at least
 * 1 is assumed). On error returns 0 with the error set. */
int32_t kbuf_read_array_len(struct kbuf_r *r, bool compact, bool nullable, size_t min_elem);

/* Tagged fields. fn is called for each field with the tag and a reader
 * over exactly its bytes; it returns 1 when it decoded the field (which
 * must then consume it whole), 0 to skip it (unknown tag), or a negative
 * errno that becomes the reader's error. fn may be NULL: skip all. */
typedef int (*kbuf_tag_fn)(void *arg, uint32_t tag, struct kbuf_r *field);
void kbuf_read_tags(struct kbuf_r *r, kbuf_tag_fn fn, void *arg);

struct kbuf_w {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t limit; /* the buffer never grows past this */
	int err;      /* 0, -EMSGSIZE, -ENOMEM or -EINVAL; sticky */
};

void kbuf_w_init(struct kbuf_w *w, size_t limit);
void kbuf_w_free(struct kbuf_w *w);
static inline int kbuf_w_err(const struct kbuf_w *w)
{
	return w->err;
}
/* Room for n more bytes; a pointer to them (already counted in len), or
 * NULL with the error set. */
uint8_t *kbuf_w_alloc(struct kbuf_w *w, size_t n);
void kbuf_write_raw(struct kbuf_w *w, const void *data, size_t n);

void kbuf_write_i8(struct kbuf_w *w, int8_t v);
void kbuf_write_i16(struct kbuf_w *w, int16_t v);
void kbuf_write_i32(struct kbuf_w *w, int32_t v);
void kbuf_write_i64(struct kbuf_w *w, int64_t v);
void kbuf_write_f64(struct kbuf_w *w, double v);
void kbuf_write_u32(struct kbuf_w *w, uint32_t v);
void kbuf_write_bool(struct kbuf_w *w, bool v);
void kbuf_write_uuid(struct kbuf_w *w, const uint8_t uuid[16]);
void kbuf_write_varint(struct kbuf_w *w, int32_t v);
void kbuf_write_varlong(struct kbuf_w *w, int64_t v);
void kbuf_write_uvarint(struct kbuf_w *w, uint32_t v);
/* Bytes an UNSIGNED_VARINT of v takes (1..5). */
size_t kbuf_uvarint_size(uint32_t v);

/* A string (s.len -1: null, -EINVAL unless nullable; over INT16_MAX bytes
 * in the non-compact form: -EINVAL). */
void kbuf_write_string(struct kbuf_w *w, struct kstr s, bool compact, bool nullable);
void kbuf_write_bytes(struct kbuf_w *w, struct kstr b, bool compact, bool nullable);
/* An array's count (-1 null). */
void kbuf_write_array_len(struct kbuf_w *w, int32_t n, bool compact);
/* An empty tag buffer. */
void kbuf_write_tags_empty(struct kbuf_w *w);
/* Tagged fields by hand: the count, then per field its tag and size
 * followed by exactly size bytes written by the caller. */
void kbuf_write_tag_hdr(struct kbuf_w *w, uint32_t tag, uint32_t size);

/* Frames: an INT32 size placeholder now, patched by kbuf_w_frame_end with
 * the bytes written after it plus extra (bytes sent beside the buffer). */
size_t kbuf_w_frame_begin(struct kbuf_w *w);
void kbuf_w_frame_end(struct kbuf_w *w, size_t pos, size_t extra);

#endif
