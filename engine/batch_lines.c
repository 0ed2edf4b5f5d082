/*
 * batch_lines.c — written lines encoded straight into a batch: each line
 * found, checked and copied in one pass over its bytes.
 *
 * A write of text lines into a partition of a topic without key.separator
 * makes one record per line: key null, the line (without its '\n') as the
 * value, the write's timestamp. batch_builder_add_lines() appends such
 * records to a batch exactly as batch_builder_add() would, one after the
 * other, but copies each line into its place in the batch while it looks
 * for the line's end and for bytes the line view escapes (ctlscan.h), so
 * the line is read once instead of three times (scan, measure, copy).
 *
 * The record layout (batch.h) puts two varints, the record's length and
 * the value's, before the value, and both depend on the line's length,
 * which the copy finds: the line is copied where two-byte varints put it
 * (lines of 64 to 8191 bytes), and moved once its length is known if that
 * was wrong.
 *
 * A line is taken only while it is *plain*: it ends with '\n' before the
 * input's end, holds no byte of 0x00-0x1f but tab nor 0x7f, is at most max
 * bytes, with line.format=escape does not start with a backslash, and its
 * record fits the batch. Such a line's record is shown by the line view as
 * the line itself (linefmt.c: not escaped), so its line takes its length
 * + 1 bytes of the view. The first line that is not plain ends the call,
 * untouched: the caller's general path parses it (escaped line, oversized
 * line, a partial last line) or starts the next batch.
 *
 * The copy runs 32 bytes at a time with AVX2 when the CPU has it (checked
 * at run time: the program is built for the baseline x86-64), else 16
 * (SSE2) or 8 (portable) at a time (ctlscan.h).
 *
 * Pure: touches only the builder and its buffer; any thread.
 */
#include "engine/batch.h"
#include "engine/ctlscan.h"

/* The marks m of the block at s + i (control bytes, '\n' included): true
 * with *nl the line's '\n', or NULL for a byte the view escapes, when one
 * ends the line's copy; false when all are tabs. */
static inline bool block_ends(const uint8_t *s, size_t i, unsigned m, const uint8_t **nl)
{
	for (; m; m &= m - 1) {
		size_t k = i + (size_t)__builtin_ctz(m);

		if (s[k] == '\n' || s[k] != '\t') {
			*nl = s[k] == '\n' ? s + k : NULL;
			return true;
		}
	}
	return false;
}

/* Copies the line at s to o while looking for its end; returns its '\n',
 * or NULL when the line holds a byte the view escapes, has no '\n' before
 * end, or does not fit before olim. Copies whole blocks, so bytes past the
 * line's end (up to CTL_BLOCK - 1) may be written too, never at or past
 * olim. */
static inline const uint8_t *copy_line(const uint8_t *s, const uint8_t *end, uint8_t *o,
				       const uint8_t *olim)
{
	size_t n = (size_t)(end - s), room = olim > o ? (size_t)(olim - o) : 0, i = 0;
	const uint8_t *nl;

	if (room < n)
		n = room; /* a '\n' past room would not fit anyway */
	for (; i + CTL_BLOCK <= n; i += CTL_BLOCK) {
		unsigned m = ctl_mask(s + i, -1);

		memcpy(o + i, s + i, CTL_BLOCK);
		if (m && block_ends(s, i, m, &nl))
			return nl;
	}
	for (; i < n; i++) {
		if (s[i] == '\n')
			return s + i;
		if (ctl_byte(s[i]))
			return NULL;
		o[i] = s[i];
	}
	return NULL;
}

#if CTL_HAVE_AVX2
#define LINES_HAVE_AVX2 1

/* copy_line 32 bytes at a time, the rest by copy_line. */
__attribute__((target("avx2"))) static inline const uint8_t *copy_line_avx2(const uint8_t *s,
									    const uint8_t *end,
									    uint8_t *o,
									    const uint8_t *olim)
{
	size_t n = (size_t)(end - s), room = olim > o ? (size_t)(olim - o) : 0, i = 0;
	const uint8_t *nl;

	if (room < n)
		n = room;
	for (; i + 32 <= n; i += 32) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(s + i));
		unsigned m = (unsigned)_mm256_movemask_epi8(ctl_hits_avx2(v));

		_mm256_storeu_si256((__m256i *)(void *)(o + i), v);
		if (m && block_ends(s, i, m, &nl))
			return nl;
	}
	return copy_line(s + i, end, o + i, olim);
}
#endif

bool batch_lines_portable;

/* batch_builder_add_lines, with copy_line_avx2 when avx2. */
static inline __attribute__((always_inline)) int32_t add_lines(struct batch_builder *bb,
							       const char **pp, const char *end,
							       int64_t timestamp, int64_t max,
							       bool esc, int64_t *value_bytes,
							       bool avx2)
{
	const uint8_t *s = (const uint8_t *)*pp, *e = (const uint8_t *)end;
	const uint8_t *olim = bb->buf + bb->cap;
	int64_t vbytes = 0;
	int32_t n = 0;

	*value_bytes = 0;
	if (bb->count == 0 || bb->len > bb->cap)
		return 0; /* the first record sets the batch's base timestamp */
	int64_t ts_delta = (int64_t)((uint64_t)timestamp - (uint64_t)bb->base_timestamp);
	int tsd_len = size_vi64(ts_delta);

	while (s < e && bb->count < INT32_MAX) {
		if (esc && *s == '\\')
			break;
		int32_t od = bb->count;
		/* attributes, timestampDelta, offsetDelta, keyLength (-1) */
		size_t fixed = 1 + (size_t)tsd_len + (size_t)size_vi32(od) + 1;
		size_t guess = 2 + fixed + 2;
		uint8_t *o = bb->buf + bb->len;
#ifdef LINES_HAVE_AVX2
		const uint8_t *nl = avx2 ? copy_line_avx2(s, e, o + guess, olim)
					 : copy_line(s, e, o + guess, olim);
#else
		const uint8_t *nl = copy_line(s, e, o + guess, olim);
		(void)avx2;
#endif

		if (!nl)
			break;
		size_t l = (size_t)(nl - s);
		if ((int64_t)l > max || l > INT32_MAX / 2)
			break;
		size_t body = fixed + (size_t)size_vi32((int32_t)l) + l + 1;
		size_t need = (size_t)size_vi32((int32_t)body) + body;
		if (need > bb->cap - bb->len || bb->len - BATCH_LOG_OVERHEAD + need > INT32_MAX)
			break;
		size_t at = need - body + fixed + (size_t)size_vi32((int32_t)l);
		if (at != guess)
			memmove(o + at, o + guess, l);
		uint8_t *p = o;
		p += varint_put32(p, (int32_t)body);
		*p++ = 0; /* attributes */
		p += varint_put64(p, ts_delta);
		p += varint_put32(p, od); /* offsetDelta */
		p += varint_put32(p, -1); /* keyLength: null */
		p += varint_put32(p, (int32_t)l);
		p[l] = 0; /* headersCount */
		bb->len += need;
		bb->count++;
		if (timestamp > bb->max_timestamp)
			bb->max_timestamp = timestamp;
		vbytes += (int64_t)l;
		n++;
		s = nl + 1;
	}
	*pp = (const char *)s;
	*value_bytes = vbytes;
	return n;
}

#ifdef LINES_HAVE_AVX2
__attribute__((target("avx2"))) static int32_t add_lines_avx2(struct batch_builder *bb,
							      const char **pp, const char *end,
							      int64_t timestamp, int64_t max,
							      bool esc, int64_t *value_bytes)
{
	return add_lines(bb, pp, end, timestamp, max, esc, value_bytes, true);
}
#endif

int32_t batch_builder_add_lines(struct batch_builder *bb, const char **pp, const char *end,
				int64_t timestamp, int64_t max, bool esc, int64_t *value_bytes)
{
#ifdef LINES_HAVE_AVX2
	__builtin_cpu_init();
	if (!batch_lines_portable && __builtin_cpu_supports("avx2"))
		return add_lines_avx2(bb, pp, end, timestamp, max, esc, value_bytes);
#endif
	return add_lines(bb, pp, end, timestamp, max, esc, value_bytes, false);
}
