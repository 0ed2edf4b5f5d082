/*
 * kmsg.c — struct-level reading and writing of Kafka messages over kbuf:
 * counts with caps, the per-message partition allowance, bounded
 * allocation, int32 arrays. The rules are written down in kmsg.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

void kmsg_dec_init(struct kmsg_dec *d, struct kbuf_r *r, bool flex)
{
	d->r = r;
	d->flex = flex;
	d->parts_left = PROTO_MAX_PARTITIONS;
	d->nomem = false;
	d->over_cap = false;
}

void kmsg_over_cap(struct kmsg_dec *d)
{
	d->over_cap = !d->r->err;
	kbuf_r_fail(d->r);
}

int32_t kmsg_count(struct kmsg_dec *d, bool nullable, size_t min_elem, int32_t cap)
{
	int32_t n = kbuf_read_array_len(d->r, d->flex, nullable, min_elem);

	if (n > cap)
		kmsg_over_cap(d);
	return d->r->err ? 0 : n;
}

int32_t kmsg_parts(struct kmsg_dec *d, size_t min_elem)
{
	int32_t n = kmsg_count(d, false, min_elem, d->parts_left);

	d->parts_left -= n;
	return n;
}

void *kmsg_alloc(struct kmsg_dec *d, int32_t n, size_t size)
{
	void *p;

	if (d->r->err || n <= 0)
		return NULL;
	p = calloc((size_t)n, size);
	if (!p) {
		d->nomem = true;
		kbuf_r_fail(d->r);
	}
	return p;
}

struct kstr kmsg_str(struct kmsg_dec *d)
{
	return kbuf_read_string(d->r, d->flex, false);
}

struct kstr kmsg_nstr(struct kmsg_dec *d)
{
	return kbuf_read_string(d->r, d->flex, true);
}

void kmsg_tags(struct kmsg_dec *d)
{
	if (d->flex)
		kbuf_read_tags(d->r, NULL, NULL);
}

int32_t kmsg_i32s(struct kmsg_dec *d, bool nullable, int32_t cap, int32_t **arr)
{
	int32_t n = kmsg_count(d, nullable, 4, cap);

	*arr = kmsg_alloc(d, n, sizeof(**arr));
	for (int32_t i = 0; *arr && i < n; i++)
		(*arr)[i] = kbuf_read_i32(d->r);
	return n;
}

int32_t kmsg_strs(struct kmsg_dec *d, bool nullable, int32_t cap, struct kstr **arr)
{
	int32_t n = kmsg_count(d, nullable, kmsg_str_min(d->flex), cap);

	*arr = kmsg_alloc(d, n, sizeof(**arr));
	for (int32_t i = 0; *arr && i < n; i++)
		(*arr)[i] = kmsg_str(d);
	return n;
}

int32_t kmsg_records(struct kmsg_dec *d, const uint8_t **records)
{
	struct kstr rec = kbuf_read_bytes(d->r, d->flex, true);

	*records = (const uint8_t *)rec.ptr;
	return rec.len;
}

int kmsg_end(struct kmsg_dec *d)
{
	int rc = kbuf_r_done(d->r);

	if (rc && d->nomem)
		return -ENOMEM;
	return rc && d->over_cap ? -E2BIG : rc;
}

void kmsg_write_str(struct kbuf_w *w, bool flex, struct kstr s)
{
	kbuf_write_string(w, s, flex, false);
}

void kmsg_write_nstr(struct kbuf_w *w, bool flex, struct kstr s)
{
	kbuf_write_string(w, s, flex, true);
}

void kmsg_write_len(struct kbuf_w *w, bool flex, int32_t n)
{
	kbuf_write_array_len(w, n, flex);
}

void kmsg_write_tags(struct kbuf_w *w, bool flex)
{
	if (flex)
		kbuf_write_tags_empty(w);
}

void kmsg_write_i32s(struct kbuf_w *w, bool flex, int32_t n, const int32_t *arr)
{
	kbuf_write_array_len(w, n < 0 ? -1 : n, flex);
	for (int32_t i = 0; i < n; i++)
		kbuf_write_i32(w, arr[i]);
}

void kmsg_write_strs(struct kbuf_w *w, bool flex, int32_t n, const struct kstr *arr)
{
	kbuf_write_array_len(w, n < 0 ? -1 : n, flex);
	for (int32_t i = 0; i < n; i++)
		kmsg_write_str(w, flex, arr[i]);
}

int kmsg_write_records(struct proto_out *out, bool flex, int32_t len, const uint8_t *mem, int fd,
		       int64_t offset)
{
	struct kbuf_w *w = &out->w;

	if (len < 0 || fd < 0) {
		kbuf_write_bytes(w, len < 0 ? KSTR_NULL : (struct kstr){ (const char *)mem, len },
				 flex, true);
		return kbuf_w_err(w);
	}
	/* The length here, the bytes as a FILE piece after it. */
	if (flex)
		kbuf_write_uvarint(w, (uint32_t)len + 1);
	else
		kbuf_write_i32(w, len);
	return proto_out_add_file(out, fd, (off_t)offset, (size_t)len);
}
