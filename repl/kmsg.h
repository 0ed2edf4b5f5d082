/*
 * kmsg.h — the struct-level layer of Kafka's wire codec, between kbuf
 * (primitive types) and the per-API codecs (proto_*.c): one switch for
 * flexible versions, array counts with caps, bounded allocation, int32
 * arrays (broker ids), the records field, freeing decoded arrays and the
 * one error exit.
 * Private to repl/.
 *
 * A decoder keeps a struct kmsg_dec for the whole message:
 *   1. every count is read by kmsg_count (checked against the bytes left at
 *      the smallest encoding of one element, and against a cap), so what a
 *      message makes us allocate is bounded by its own size;
 *   2. partition counts go through kmsg_parts, which charges them to one
 *      allowance per message (PROTO_MAX_PARTITIONS), so many small topics
 *      cannot add up past the cap either;
 *   3. allocation failure sets the reader's error too, so the decoder has
 *      one exit: kmsg_end says 0, -EBADMSG (malformed, or bytes left over),
 *      -E2BIG (a well-formed count over its cap) or -ENOMEM, and the
 *      caller frees the partial struct on error.
 * An encoder writes through kmsg_write_* with the same flexible switch;
 * errors stay sticky in the kbuf_w (kbuf.h).
 *
 * Nothing here keeps state beyond its arguments.
 */
#ifndef MQFS_REPL_KMSG_H
#define MQFS_REPL_KMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "repl/kbuf.h"

struct kmsg_dec {
	struct kbuf_r *r;
	bool flex;          /* compact forms and tagged fields */
	int32_t parts_left; /* partitions still allowed in this message */
	bool nomem;
	bool over_cap; /* an array over mqfs's bound (kmsg_count's cap) */
};

void kmsg_dec_init(struct kmsg_dec *d, struct kbuf_r *r, bool flex);
/* An array count: -1 (null) only when nullable, else 0..cap, with at least
 * min_elem bytes left per element. On error 0 with the reader failed. */
int32_t kmsg_count(struct kmsg_dec *d, bool nullable, size_t min_elem, int32_t cap);
/* A well-formed count over its cap: the reader fails, kmsg_end says -E2BIG. */
void kmsg_over_cap(struct kmsg_dec *d);
/* A partitions count (never null), charged to the message's allowance. */
int32_t kmsg_parts(struct kmsg_dec *d, size_t min_elem);
/* n zeroed elements of size bytes; NULL for n <= 0 or after an error. */
void *kmsg_alloc(struct kmsg_dec *d, int32_t n, size_t size);
/* STRING / COMPACT_STRING, and their nullable forms. */
struct kstr kmsg_str(struct kmsg_dec *d);
struct kstr kmsg_nstr(struct kmsg_dec *d);
/* The struct's TAGGED_FIELDS in flexible versions (unknown tags skipped). */
void kmsg_tags(struct kmsg_dec *d);
/* An []int32 of at most cap elements into *arr (allocated, owned by the
 * caller even on error); returns the count, -1 for null (nullable only). */
int32_t kmsg_i32s(struct kmsg_dec *d, bool nullable, int32_t cap, int32_t **arr);
/* The same for a []STRING; the strings point into the reader's buffer. */
int32_t kmsg_strs(struct kmsg_dec *d, bool nullable, int32_t cap, struct kstr **arr);
/* A records field: its length (-1 null) and *records pointing at its bytes
 * in the reader's buffer (NULL when null). */
int32_t kmsg_records(struct kmsg_dec *d, const uint8_t **records);
/* 0 when the message was read whole; -ENOMEM or -EBADMSG. */
int kmsg_end(struct kmsg_dec *d);
/* Frees an array a decoder allocated and empties it (NULL, count 0), so a
 * struct freed after a failed decode, or freed twice, stays valid. */
#define KMSG_FREE(arr, n)     \
	do {                  \
		free(arr);    \
		(arr) = NULL; \
		(n) = 0;      \
	} while (0)

/* Smallest encodings, for the min_elem of kmsg_count. */
static inline size_t kmsg_str_min(bool flex)
{
	return flex ? 1 : 2;
}
static inline size_t kmsg_arr_min(bool flex)
{
	return flex ? 1 : 4;
}
/* A name, an array and the struct's tags: the smallest topic (or group)
 * entry of most messages. */
static inline size_t kmsg_topic_min(bool flex)
{
	return kmsg_str_min(flex) + kmsg_arr_min(flex) + flex;
}

void kmsg_write_str(struct kbuf_w *w, bool flex, struct kstr s);
void kmsg_write_nstr(struct kbuf_w *w, bool flex, struct kstr s);
void kmsg_write_len(struct kbuf_w *w, bool flex, int32_t n);
void kmsg_write_tags(struct kbuf_w *w, bool flex);
/* An []int32; n -1 writes null. */
void kmsg_write_i32s(struct kbuf_w *w, bool flex, int32_t n, const int32_t *arr);
/* A []STRING; n -1 writes null. */
void kmsg_write_strs(struct kbuf_w *w, bool flex, int32_t n, const struct kstr *arr);

/* A records field (NULLABLE_BYTES or COMPACT_NULLABLE_BYTES of record
 * batches) into out: len -1 null; from the file range (fd, offset, len) as
 * a FILE piece when fd >= 0, so the batches are never copied, else from
 * mem. 0 or the writer's -errno. */
struct proto_out;
int kmsg_write_records(struct proto_out *out, bool flex, int32_t len, const uint8_t *mem, int fd,
		       int64_t offset);

#endif
