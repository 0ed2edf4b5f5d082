/*
 * test_batch_lines.c — written lines encoded straight into a batch
 * (engine/batch_lines.c): the batches must be byte for byte those that
 * batch_builder_add makes one record at a time, across every varint width
 * boundary, and the call must stop, untouched, at the first line that is
 * not plain or does not fit, never writing past the buffer. Each test
 * runs twice: with the AVX2 copy where the CPU has it, and without.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/batch.h"

#define GUARD 64

/* Text of n lines of the given lengths, each filled with printable bytes
 * and ended by '\n'. */
static char *lines_of(const int *lens, int n, size_t *len)
{
	size_t total = 0;

	for (int i = 0; i < n; i++)
		total += (size_t)lens[i] + 1;
	char *t = malloc(total ? total : 1), *o = t;
	assert_non_null(t);
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < lens[i]; k++) {
			char c = (char)(' ' + 1 + (k * 7 + i) % 94);
			*o++ = c == '\\' ? '/' : c; /* a leading one stops the call */
		}
		*o++ = '\n';
	}
	*len = total;
	return t;
}

/* The reference: every line through batch_builder_add, the first at ts0
 * and the others at ts; returns the finished batch's size, lines taken in
 * *taken (until the builder refuses one). */
static int64_t ref_batch(uint8_t *buf, size_t cap, const char *t, size_t len, int64_t ts0,
			 int64_t ts, int *taken)
{
	struct batch_builder bb;
	const char *p = t, *end = t + len;
	int n = 0;

	batch_builder_init(&bb, buf, cap, BATCH_CODEC_NONE);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || batch_builder_add(&bb, NULL, -1, p, (int32_t)(nl - p), n ? ts : ts0) < 0)
			break;
		n++;
		p = nl + 1;
	}
	*taken = n;
	return n ? batch_builder_finish(&bb, 42, 7) : 0;
}

/* The first line through batch_builder_add, the rest through
 * batch_builder_add_lines; the buffer is followed by guard bytes that must
 * stay untouched. */
static int64_t fast_batch(uint8_t *buf, size_t cap, const char *t, size_t len, int64_t ts0,
			  int64_t ts, int *taken, const char **stop)
{
	struct batch_builder bb;
	const char *p = t, *end = t + len, *nl = memchr(t, '\n', len);
	int64_t vbytes = 0;

	memset(buf + cap, 0xAA, GUARD);
	batch_builder_init(&bb, buf, cap, BATCH_CODEC_NONE);
	assert_non_null(nl);
	assert_int_equal(batch_builder_add(&bb, NULL, -1, p, (int32_t)(nl - p), ts0), 0);
	p = nl + 1;
	const char *from = p;
	int32_t k = batch_builder_add_lines(&bb, &p, end, ts, INT32_MAX, true, &vbytes);
	assert_int_equal(vbytes, (int64_t)(p - from) - k); /* line bytes without '\n's */
	for (int g = 0; g < GUARD; g++)
		assert_int_equal(buf[cap + g], 0xAA);
	*taken = 1 + k;
	*stop = p;
	return batch_builder_finish(&bb, 42, 7);
}

static void same_batches(const int *lens, int n, size_t cap, int64_t ts0, int64_t ts)
{
	size_t len;
	char *t = lines_of(lens, n, &len);
	uint8_t *a = malloc(cap + GUARD), *b = malloc(cap + GUARD);
	int ta, tb;
	const char *stop;

	assert_non_null(a);
	assert_non_null(b);
	int64_t sa = ref_batch(a, cap, t, len, ts0, ts, &ta);
	int64_t sb = fast_batch(b, cap, t, len, ts0, ts, &tb, &stop);
	assert_int_equal(ta, tb);
	assert_int_equal(sa, sb);
	assert_memory_equal(a, b, (size_t)sa);
	assert_int_equal(batch_validate(b, (size_t)sb), 0);
	free(a);
	free(b);
	free(t);
}

/* Every length around the varint widths of the value (64, 8192) and of
 * the record's length, and the 16-byte blocks of the copy. */
static void test_same_as_builder(void **state)
{
	int lens[600], n = 0;

	(void)state;
	lens[n++] = 5;
	for (int l = 0; l <= 140; l++)
		lens[n++] = l;
	for (int l = 8170; l <= 8200; l++)
		lens[n++] = l;
	for (int l = 16370; l <= 16400; l++)
		lens[n++] = l;
	same_batches(lens, n, 1 << 22, 1000, 1000);
	same_batches(lens, n, 1 << 22, 1000, 5000); /* a timestamp delta */
	same_batches(lens, n, 1 << 22, 5000, 1000); /* a negative one */
	/* Offset deltas past 63 and 8191: one- to three-byte varints. */
	int many[9000];
	for (int i = 0; i < 9000; i++)
		many[i] = 99 + i % 3;
	same_batches(many, 9000, 1 << 22, 1, 1);
}

/* A batch that fills: the same lines taken as by the builder, at every
 * capacity over a range, and nothing written past the capacity. */
static void test_fills_like_builder(void **state)
{
	int lens[40];

	(void)state;
	for (int i = 0; i < 40; i++)
		lens[i] = 90 + (i * 37) % 60;
	for (size_t cap = BATCH_HDR_SIZE + 200; cap < BATCH_HDR_SIZE + 3000; cap += 7)
		same_batches(lens, 40, cap, 3, 3);
}

/* Runs add_lines after a first record on text t; returns the lines it
 * took and where it stopped. */
static int32_t take(const char *t, int64_t max, bool esc, const char **stop)
{
	static uint8_t buf[1 << 16];
	struct batch_builder bb;
	int64_t vbytes;
	const char *p = t;

	batch_builder_init(&bb, buf, sizeof(buf), BATCH_CODEC_NONE);
	assert_int_equal(batch_builder_add(&bb, NULL, -1, "x", 1, 1), 0);
	int32_t k = batch_builder_add_lines(&bb, &p, t + strlen(t), 1, max, esc, &vbytes);
	*stop = p;
	return k;
}

/* The lines the line view would not show as written stop it, at their
 * start: a control byte (tab is plain), 0x7f, a leading backslash when
 * line.format=escape, a line over max, a last line with no '\n'. */
static void test_stops_before_other_lines(void **state)
{
	const char *stop;
	const char *t;

	(void)state;
	t = "ab\tc\nde\x01"
	    "f\ng\n";
	assert_int_equal(take(t, 100, true, &stop), 1);
	assert_ptr_equal(stop, t + 5);
	t = "0123456789abcdef0123\x7f\nz\n"; /* in the second 16-byte block */
	assert_int_equal(take(t, 100, true, &stop), 0);
	assert_ptr_equal(stop, t);
	t = "0123456789abcdef0123456789abcdef0123\x01\nz\n"; /* past 32 bytes */
	assert_int_equal(take(t, 100, true, &stop), 0);
	t = "0123456789abcdef0123456789abcdef0123456789\tx\nz\n";
	assert_int_equal(take(t, 100, true, &stop), 2);
	t = "a\n\\n\nb\n";
	assert_int_equal(take(t, 100, true, &stop), 1);
	assert_ptr_equal(stop, t + 2);
	assert_int_equal(take(t, 100, false, &stop), 3); /* raw: literal */
	t = "abc\nabcdefgh\nab\n";
	assert_int_equal(take(t, 4, true, &stop), 1);
	assert_ptr_equal(stop, t + 4);
	t = "abc\n0123456789abcdefghij";
	assert_int_equal(take(t, 100, true, &stop), 1);
	assert_ptr_equal(stop, t + 4);
	t = "\r\n";
	assert_int_equal(take(t, 100, false, &stop), 0);
}

/* Without a first record there is no base timestamp: nothing is taken. */
static void test_needs_first_record(void **state)
{
	uint8_t buf[4096];
	struct batch_builder bb;
	const char *t = "a\nb\n", *p = t;
	int64_t vbytes = -1;

	(void)state;
	batch_builder_init(&bb, buf, sizeof(buf), BATCH_CODEC_NONE);
	assert_int_equal(batch_builder_add_lines(&bb, &p, t + 4, 1, 100, true, &vbytes), 0);
	assert_ptr_equal(p, t);
	assert_int_equal(vbytes, 0);
	assert_int_equal(bb.count, 0);
}

static int simd(void **state)
{
	(void)state;
	batch_lines_portable = false;
	return 0;
}

static int portable(void **state)
{
	(void)state;
	batch_lines_portable = true;
	return 0;
}

#define BOTH(t) cmocka_unit_test_setup(t, simd), cmocka_unit_test_setup(t, portable)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_same_as_builder),
		BOTH(test_fills_like_builder),
		BOTH(test_stops_before_other_lines),
		BOTH(test_needs_first_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
