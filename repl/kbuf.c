/*
 * kbuf.c — Kafka's primitive wire types: the bounded reader and the
 * limited writer. The types and the rules are written down in kbuf.h.
 *
 * Reader: every function starts with need(), which sets the sticky error
 * when fewer bytes are left than asked (or an error is already set) and
 * then makes the read a no-op returning zero. No read ever touches a byte
 * at or past r->end.
 *
 * Writer: every function goes through kbuf_w_alloc(), which grows the
 * buffer by doubling up to w->limit and turns every later write into a
 * no-op once an error is set.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kbuf.h"

struct kstr kstr_of(const char *s)
{
	if (!s)
		return KSTR_NULL;
	return (struct kstr){ s, (int32_t)strnlen(s, INT32_MAX) };
}

bool kstr_eq(struct kstr s, const char *c)
{
	return s.len >= 0 && c && strlen(c) == (size_t)s.len &&
	       memcmp(s.ptr, c, (size_t)s.len) == 0;
}

bool kstr_same(struct kstr a, struct kstr b)
{
	return a.len == b.len && (a.len <= 0 || !memcmp(a.ptr, b.ptr, (size_t)a.len));
}

const char *kstr_cstr(struct kstr s, char *buf, size_t size, char **heap)
{
	size_t len = s.len > 0 ? strnlen(s.ptr, (size_t)s.len) : 0;

	*heap = NULL;
	if (len < size) {
		if (len)
			memcpy(buf, s.ptr, len);
		buf[len] = '\0';
		return buf;
	}
	*heap = strndup(s.ptr, len);
	return *heap;
}

/* ---- reader ---- */

void kbuf_r_init(struct kbuf_r *r, const void *data, size_t len)
{
	r->p = data;
	r->end = r->p + len;
	r->err = 0;
}

void kbuf_r_fail(struct kbuf_r *r)
{
	r->err = -EBADMSG;
	r->p = r->end;
}

int kbuf_r_done(struct kbuf_r *r)
{
	if (!r->err && r->p != r->end)
		kbuf_r_fail(r);
	return r->err;
}

/* True when n bytes can be read; otherwise fails the reader. */
static bool need(struct kbuf_r *r, size_t n)
{
	if (r->err)
		return false;
	if ((size_t)(r->end - r->p) < n) {
		kbuf_r_fail(r);
		return false;
	}
	return true;
}

void kbuf_r_skip(struct kbuf_r *r, size_t n)
{
	if (need(r, n))
		r->p += n;
}

void kbuf_r_sub(struct kbuf_r *r, size_t n, struct kbuf_r *sub)
{
	if (!need(r, n)) {
		kbuf_r_init(sub, r->p, 0);
		sub->err = -EBADMSG;
		return;
	}
	kbuf_r_init(sub, r->p, n);
	r->p += n;
}

static uint64_t get_be(struct kbuf_r *r, size_t n)
{
	uint64_t v = 0;

	if (!need(r, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | r->p[i];
	r->p += n;
	return v;
}

int8_t kbuf_read_i8(struct kbuf_r *r)
{
	return (int8_t)get_be(r, 1);
}
int16_t kbuf_read_i16(struct kbuf_r *r)
{
	return (int16_t)get_be(r, 2);
}
int32_t kbuf_read_i32(struct kbuf_r *r)
{
	return (int32_t)get_be(r, 4);
}
int64_t kbuf_read_i64(struct kbuf_r *r)
{
	return (int64_t)get_be(r, 8);
}
double kbuf_read_f64(struct kbuf_r *r)
{
	uint64_t bits = get_be(r, 8);
	double v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}
uint32_t kbuf_read_u32(struct kbuf_r *r)
{
	return (uint32_t)get_be(r, 4);
}
bool kbuf_read_bool(struct kbuf_r *r)
{
	return get_be(r, 1) != 0;
}

void kbuf_read_uuid(struct kbuf_r *r, uint8_t uuid[16])
{
	if (!need(r, 16)) {
		memset(uuid, 0, 16);
		return;
	}
	memcpy(uuid, r->p, 16);
	r->p += 16;
}

/* LEB128 of at most max_bytes bytes whose value fits in bits bits: a
 * longer one, or one with bits set above them, is malformed. */
static uint64_t get_leb(struct kbuf_r *r, int max_bytes, int bits)
{
	uint64_t v = 0;

	for (int i = 0; i < max_bytes; i++) {
		uint8_t b;

		if (!need(r, 1))
			return 0;
		b = *r->p++;
		if (i * 7 + 7 > bits && (uint64_t)(b & 0x7f) >> (bits - i * 7)) {
			kbuf_r_fail(r);
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << (i * 7);
		if (!(b & 0x80))
			return v;
	}
	kbuf_r_fail(r);
	return 0;
}

uint32_t kbuf_read_uvarint(struct kbuf_r *r)
{
	return (uint32_t)get_leb(r, 5, 32);
}

int32_t kbuf_read_varint(struct kbuf_r *r)
{
	uint32_t z = (uint32_t)get_leb(r, 5, 32);

	return (int32_t)((z >> 1) ^ -(z & 1));
}

int64_t kbuf_read_varlong(struct kbuf_r *r)
{
	uint64_t z = get_leb(r, 10, 64);

	return (int64_t)((z >> 1) ^ -(z & 1));
}

/* n bytes as a kstr, after the length was read. */
static struct kstr take(struct kbuf_r *r, int64_t n)
{
	struct kstr s = KSTR_NULL;

	if (n < 0) {
		kbuf_r_fail(r);
		return s;
	}
	if (!need(r, (size_t)n))
		return s;
	s.ptr = (const char *)r->p;
	s.len = (int32_t)n;
	r->p += n;
	return s;
}

/* The length of a string or bytes: -1 null (refused unless nullable). */
static int64_t read_len(struct kbuf_r *r, bool compact, bool nullable, int width)
{
	int64_t n;

	if (compact)
		n = (int64_t)kbuf_read_uvarint(r) - 1;
	else if (width == 2)
		n = kbuf_read_i16(r);
	else
		n = kbuf_read_i32(r);
	if (r->err)
		return -2;
	if (n < -1 || (n == -1 && !nullable)) {
		kbuf_r_fail(r);
		return -2;
	}
	if (n > INT32_MAX - 1) {
		kbuf_r_fail(r);
		return -2;
	}
	return n;
}

struct kstr kbuf_read_string(struct kbuf_r *r, bool compact, bool nullable)
{
	int64_t n = read_len(r, compact, nullable, 2);

	if (n == -1)
		return KSTR_NULL;
	struct kstr k = take(r, n);
	/* No field of Kafka's STRING type (names, ids, config keys and
	 * values) holds a NUL: everything past it would be lost where the
	 * broker takes it as a C string ("t\0x" as topic t). */
	if (k.len > 0 && memchr(k.ptr, '\0', (size_t)k.len)) {
		kbuf_r_fail(r);
		return KSTR_NULL;
	}
	return k;
}

struct kstr kbuf_read_str(struct kbuf_r *r)
{
	return kbuf_read_string(r, false, false);
}
struct kstr kbuf_read_nstr(struct kbuf_r *r)
{
	return kbuf_read_string(r, false, true);
}
struct kstr kbuf_read_cstr(struct kbuf_r *r)
{
	return kbuf_read_string(r, true, false);
}
struct kstr kbuf_read_cnstr(struct kbuf_r *r)
{
	return kbuf_read_string(r, true, true);
}

struct kstr kbuf_read_bytes(struct kbuf_r *r, bool compact, bool nullable)
{
	int64_t n = read_len(r, compact, nullable, 4);

	if (n == -1)
		return KSTR_NULL;
	return take(r, n);
}

int32_t kbuf_read_array_len(struct kbuf_r *r, bool compact, bool nullable, size_t min_elem)
{
	int64_t n = read_len(r, compact, nullable, 4);

	if (n < -1)
		return 0;
	if (min_elem < 1)
		min_elem = 1;
	/* Each element takes at least min_elem bytes: a count that cannot
	 * fit in what is left is refused before anyone allocates for it. */
	if (n > 0 && (uint64_t)n > kbuf_r_left(r) / min_elem) {
		kbuf_r_fail(r);
		return 0;
	}
	return (int32_t)n;
}

void kbuf_read_tags(struct kbuf_r *r, kbuf_tag_fn fn, void *arg)
{
	uint32_t n = kbuf_read_uvarint(r);
	int64_t prev = -1;

	/* Each field takes at least two bytes (tag, size). */
	if (!r->err && n > kbuf_r_left(r) / 2)
		kbuf_r_fail(r);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		uint32_t tag = kbuf_read_uvarint(r);
		uint32_t size = kbuf_read_uvarint(r);
		struct kbuf_r field;
		int rc = 0;

		if (r->err)
			return;
		if ((int64_t)tag <= prev) {
			kbuf_r_fail(r);
			return;
		}
		prev = tag;
		kbuf_r_sub(r, size, &field);
		if (r->err)
			return;
		if (fn)
			rc = fn(arg, tag, &field);
		if (rc < 0 || (rc > 0 && kbuf_r_done(&field)))
			kbuf_r_fail(r);
	}
}

/* ---- writer ---- */

void kbuf_w_init(struct kbuf_w *w, size_t limit)
{
	memset(w, 0, sizeof(*w));
	w->limit = limit;
}

void kbuf_w_free(struct kbuf_w *w)
{
	if (!w)
		return;
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

uint8_t *kbuf_w_alloc(struct kbuf_w *w, size_t n)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	if (n > w->limit - w->len) {
		w->err = -EMSGSIZE;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *nb;

		while (cap < w->len + n)
			cap = cap > w->limit / 2 ? w->limit : cap * 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = nb;
		w->cap = cap;
	}
	p = w->buf + w->len;
	w->len += n;
	return p;
}

void kbuf_write_raw(struct kbuf_w *w, const void *data, size_t n)
{
	uint8_t *p = kbuf_w_alloc(w, n);

	if (p && n)
		memcpy(p, data, n);
}

static void put_be(struct kbuf_w *w, uint64_t v, size_t n)
{
	uint8_t *p = kbuf_w_alloc(w, n);

	if (!p)
		return;
	for (size_t i = n; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

void kbuf_write_i8(struct kbuf_w *w, int8_t v)
{
	put_be(w, (uint8_t)v, 1);
}
void kbuf_write_i16(struct kbuf_w *w, int16_t v)
{
	put_be(w, (uint16_t)v, 2);
}
void kbuf_write_i32(struct kbuf_w *w, int32_t v)
{
	put_be(w, (uint32_t)v, 4);
}
void kbuf_write_i64(struct kbuf_w *w, int64_t v)
{
	put_be(w, (uint64_t)v, 8);
}
void kbuf_write_f64(struct kbuf_w *w, double v)
{
	uint64_t bits;

	memcpy(&bits, &v, sizeof(bits));
	put_be(w, bits, 8);
}
void kbuf_write_u32(struct kbuf_w *w, uint32_t v)
{
	put_be(w, v, 4);
}
void kbuf_write_bool(struct kbuf_w *w, bool v)
{
	put_be(w, v ? 1 : 0, 1);
}
void kbuf_write_uuid(struct kbuf_w *w, const uint8_t uuid[16])
{
	kbuf_write_raw(w, uuid, 16);
}

static void put_leb(struct kbuf_w *w, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	kbuf_write_raw(w, tmp, n);
}

void kbuf_write_uvarint(struct kbuf_w *w, uint32_t v)
{
	put_leb(w, v);
}

void kbuf_write_varint(struct kbuf_w *w, int32_t v)
{
	put_leb(w, (uint32_t)(((uint32_t)v << 1) ^ (uint32_t)(v >> 31)));
}

void kbuf_write_varlong(struct kbuf_w *w, int64_t v)
{
	put_leb(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t kbuf_uvarint_size(uint32_t v)
{
	size_t n = 1;

	while (v >>= 7)
		n++;
	return n;
}

static void put_len(struct kbuf_w *w, int32_t n, bool compact, bool nullable, int width)
{
	if (w->err)
		return;
	if ((n < 0 && !nullable) || n < -1 || (!compact && width == 2 && n > INT16_MAX)) {
		w->err = -EINVAL;
		return;
	}
	if (compact)
		kbuf_write_uvarint(w, (uint32_t)(n + 1));
	else if (width == 2)
		kbuf_write_i16(w, (int16_t)n);
	else
		kbuf_write_i32(w, n);
}

void kbuf_write_string(struct kbuf_w *w, struct kstr s, bool compact, bool nullable)
{
	put_len(w, s.ptr ? s.len : -1, compact, nullable, 2);
	if (s.ptr && s.len > 0)
		kbuf_write_raw(w, s.ptr, (size_t)s.len);
}

void kbuf_write_bytes(struct kbuf_w *w, struct kstr b, bool compact, bool nullable)
{
	put_len(w, b.ptr ? b.len : -1, compact, nullable, 4);
	if (b.ptr && b.len > 0)
		kbuf_write_raw(w, b.ptr, (size_t)b.len);
}

void kbuf_write_array_len(struct kbuf_w *w, int32_t n, bool compact)
{
	put_len(w, n, compact, true, 4);
}

void kbuf_write_tags_empty(struct kbuf_w *w)
{
	kbuf_write_uvarint(w, 0);
}

void kbuf_write_tag_hdr(struct kbuf_w *w, uint32_t tag, uint32_t size)
{
	kbuf_write_uvarint(w, tag);
	kbuf_write_uvarint(w, size);
}

size_t kbuf_w_frame_begin(struct kbuf_w *w)
{
	size_t pos = w->len;

	kbuf_write_i32(w, 0);
	return pos;
}

void kbuf_w_frame_end(struct kbuf_w *w, size_t pos, size_t extra)
{
	size_t n;

	if (w->err)
		return;
	n = w->len - pos - 4 + extra;
	if (n > INT32_MAX) {
		w->err = -EMSGSIZE;
		return;
	}
	w->buf[pos] = (uint8_t)(n >> 24);
	w->buf[pos + 1] = (uint8_t)(n >> 16);
	w->buf[pos + 2] = (uint8_t)(n >> 8);
	w->buf[pos + 3] = (uint8_t)n;
}
