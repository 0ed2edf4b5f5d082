/*
 * test_proto.c — Kafka wire codec (repl/kbuf.c, proto_hdr.c, proto_fetch.c,
 * proto_sasl.c): primitives at their edges, request and response frames
 * hand-built from the JSON schemas' field lists for each API at old and
 * flexible versions (compact strings, tagged fields with unknown tags),
 * round trips, the zero-copy Fetch response (file pieces, flattened and
 * decoded back), and malformed input: every truncation of every frame,
 * bad lengths, overlong varints, counts over the caps, random mutations.
 * ASan (make asan) turns any over-read into a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "repl/kbuf.h"
#include "repl/proto.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

/* ---- primitives ---- */

static void test_varints(void **state)
{
	static const struct {
		uint8_t b[6];
		size_t n;
		int32_t v;
	} vi[] = {
		{ { 0x00 }, 1, 0 },
		{ { 0x01 }, 1, -1 },
		{ { 0x02 }, 1, 1 },
		{ { 0x7f }, 1, -64 },
		{ { 0x80, 0x01 }, 2, 64 },
		{ { 0xfe, 0xff, 0xff, 0xff, 0x0f }, 5, INT32_MAX },
		{ { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5, INT32_MIN },
	};
	struct kbuf_r r;
	struct kbuf_w w;

	(void)state;
	for (size_t i = 0; i < sizeof(vi) / sizeof(vi[0]); i++) {
		kbuf_r_init(&r, vi[i].b, vi[i].n);
		assert_int_equal(kbuf_read_varint(&r), vi[i].v);
		assert_int_equal(kbuf_r_done(&r), 0);
		kbuf_w_init(&w, 16);
		kbuf_write_varint(&w, vi[i].v);
		assert_int_equal(w.len, vi[i].n);
		assert_memory_equal(w.buf, vi[i].b, vi[i].n);
		kbuf_w_free(&w);
	}
	/* 6 bytes, bits above 32 in the fifth, a cut varint. */
	kbuf_r_init(&r, BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x00));
	kbuf_read_uvarint(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0xff, 0xff, 0xff, 0xff, 0x1f));
	kbuf_read_uvarint(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0x80));
	kbuf_read_varint(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	/* varlong: 10 bytes max, INT64_MIN round trip. */
	kbuf_w_init(&w, 16);
	kbuf_write_varlong(&w, INT64_MIN);
	kbuf_write_varlong(&w, 300);
	kbuf_r_init(&r, w.buf, w.len);
	assert_int_equal(w.len, 12);
	assert_true(kbuf_read_varlong(&r) == INT64_MIN);
	assert_int_equal(kbuf_read_varlong(&r), 300);
	assert_int_equal(kbuf_r_done(&r), 0);
	kbuf_w_free(&w);
	kbuf_r_init(&r, BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00));
	kbuf_read_varlong(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	assert_int_equal(kbuf_uvarint_size(0), 1);
	assert_int_equal(kbuf_uvarint_size(128), 2);
	assert_int_equal(kbuf_uvarint_size(UINT32_MAX), 5);
}

static void test_strings_and_arrays(void **state)
{
	struct kbuf_r r;
	struct kstr s;

	(void)state;
	kbuf_r_init(&r, BYTES(0x00, 0x02, 'h', 'i', 0xff, 0xff, 0x03, 'a', 'b', 0x00));
	s = kbuf_read_str(&r);
	assert_true(kstr_eq(s, "hi"));
	s = kbuf_read_nstr(&r);
	assert_null(s.ptr);
	assert_int_equal(s.len, -1);
	assert_true(kstr_eq(kbuf_read_cstr(&r), "ab"));
	assert_null(kbuf_read_cnstr(&r).ptr);
	assert_int_equal(kbuf_r_done(&r), 0);

	/* Null where not nullable, -2, longer than the frame, compact 0. */
	kbuf_r_init(&r, BYTES(0xff, 0xff));
	kbuf_read_str(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0xff, 0xfe));
	kbuf_read_nstr(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0x00, 0x05, 'a'));
	kbuf_read_str(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0x00));
	kbuf_read_cstr(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0xff, 0xff, 0xff, 0xfe));
	kbuf_read_bytes(&r, false, true);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	/* A NUL inside a string (a topic "t\0x" would be taken as t). */
	kbuf_r_init(&r, BYTES(0x00, 0x03, 't', 0x00, 'x'));
	kbuf_read_str(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0x04, 't', 0x00, 'x'));
	kbuf_read_cnstr(&r);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0x00, 0x00, 0x00, 0x02, 0x00, 'b'));
	assert_int_equal(kbuf_read_bytes(&r, false, true).len, 2); /* bytes may */
	assert_int_equal(kbuf_r_err(&r), 0);
	/* Sticky: reads after an error return zero and read nothing. */
	assert_int_equal(kbuf_read_i32(&r), 0);
	assert_int_equal(kbuf_r_done(&r), -EBADMSG);

	/* Arrays: count against the bytes left, null only when allowed. */
	kbuf_r_init(&r, BYTES(0x00, 0x00, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2));
	assert_int_equal(kbuf_read_array_len(&r, false, false, 4), 2);
	kbuf_r_init(&r, BYTES(0x00, 0x00, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2));
	kbuf_read_array_len(&r, false, false, 4);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0x7f, 0xff, 0xff, 0xff));
	kbuf_read_array_len(&r, false, false, 1);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0xff, 0xff, 0xff, 0xff));
	assert_int_equal(kbuf_read_array_len(&r, false, true, 1), -1);
	kbuf_r_init(&r, BYTES(0xff, 0xff, 0xff, 0xff));
	kbuf_read_array_len(&r, false, false, 1);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	kbuf_r_init(&r, BYTES(0x00));
	assert_int_equal(kbuf_read_array_len(&r, true, true, 1), -1);
	kbuf_r_init(&r, BYTES(0xff, 0xff, 0xff, 0xff, 0x0f));
	kbuf_read_array_len(&r, true, false, 1);
	assert_int_equal(kbuf_r_err(&r), -EBADMSG);
}

struct tagseen {
	int n;
	uint32_t tags[4];
};

static int tag_cb(void *arg, uint32_t tag, struct kbuf_r *f)
{
	struct tagseen *t = arg;

	t->tags[t->n++] = tag;
	if (tag == 1) {
		kbuf_read_i16(f);
		return 1;
	}
	return 0;
}

/* kstr_cstr: a name that fits is copied into the caller's buffer (no
 * malloc), one that does not (at size bytes: the terminator needs one
 * more) into the heap, whole; both end at a NUL byte inside, as strndup. */
static void test_kstr_cstr(void **state)
{
	char buf[8], big[1001], *heap;
	const char *c;

	(void)state;
	c = kstr_cstr(kstr_of("abc"), buf, sizeof(buf), &heap);
	assert_ptr_equal(c, buf);
	assert_null(heap);
	assert_string_equal(c, "abc");
	c = kstr_cstr(kstr_of("1234567"), buf, sizeof(buf), &heap); /* size - 1 */
	assert_ptr_equal(c, buf);
	assert_null(heap);
	assert_string_equal(c, "1234567");
	c = kstr_cstr(kstr_of("12345678"), buf, sizeof(buf), &heap); /* size */
	assert_non_null(heap);
	assert_ptr_equal(c, heap);
	assert_string_equal(c, "12345678");
	free(heap);
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	c = kstr_cstr((struct kstr){ big, 1000 }, buf, sizeof(buf), &heap);
	assert_ptr_equal(c, heap);
	assert_int_equal(strlen(c), 1000);
	assert_string_equal(c, big);
	free(heap);
	/* Not NUL-terminated: only len bytes are read. */
	c = kstr_cstr((struct kstr){ big, 12 }, buf, sizeof(buf), &heap);
	assert_string_equal(c, "nnnnnnnnnnnn");
	free(heap);
	/* A NUL byte inside ends it, in the buffer or the heap alike. */
	c = kstr_cstr((struct kstr){ "ab\0cdefghijk", 13 }, buf, sizeof(buf), &heap);
	assert_ptr_equal(c, buf);
	assert_string_equal(c, "ab");
	c = kstr_cstr(KSTR_NULL, buf, sizeof(buf), &heap);
	assert_ptr_equal(c, buf);
	assert_null(heap);
	assert_string_equal(c, "");
	c = kstr_cstr((struct kstr){ "", 0 }, buf, sizeof(buf), &heap);
	assert_string_equal(c, "");
}

static void test_tagged_fields(void **state)
{
	struct tagseen t = { 0 };
	struct kbuf_r r;

	(void)state;
	/* Two fields: tag 1 (INT16) and unknown tag 90 (3 bytes). */
	kbuf_r_init(&r, BYTES(0x02, 0x01, 0x02, 0x12, 0x34, 0x5a, 0x03, 1, 2, 3, 0xee));
	kbuf_read_tags(&r, tag_cb, &t);
	assert_int_equal(kbuf_r_err(&r), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.tags[1], 90);
	assert_int_equal(kbuf_r_left(&r), 1);
	/* Out of order, repeated, size past the end, known field not consumed
	 * whole, count larger than the bytes. */
	static const struct {
		uint8_t b[8];
		size_t n;
	} bad[] = {
		{ { 0x02, 0x05, 0x00, 0x01, 0x00 }, 5 },
		{ { 0x02, 0x05, 0x00, 0x05, 0x00 }, 5 },
		{ { 0x01, 0x05, 0x09, 0x00 }, 4 },
		{ { 0x01, 0x01, 0x03, 0x00, 0x00, 0x00 }, 6 },
		{ { 0x7f, 0x00, 0x00 }, 3 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t.n = 0;
		kbuf_r_init(&r, bad[i].b, bad[i].n);
		kbuf_read_tags(&r, tag_cb, &t);
		assert_int_equal(kbuf_r_err(&r), -EBADMSG);
	}
}

static void test_writer_limits(void **state)
{
	struct kbuf_w w;
	char big[40000];

	(void)state;
	kbuf_w_init(&w, 10);
	kbuf_write_i64(&w, 1);
	kbuf_write_i16(&w, 2);
	assert_int_equal(kbuf_w_err(&w), 0);
	assert_int_equal(w.len, 10);
	kbuf_write_i8(&w, 3);
	assert_int_equal(kbuf_w_err(&w), -EMSGSIZE);
	assert_int_equal(w.len, 10);
	kbuf_write_i8(&w, 3);
	assert_int_equal(w.len, 10);
	kbuf_w_free(&w);

	memset(big, 'x', sizeof(big));
	kbuf_w_init(&w, 1 << 20);
	kbuf_write_string(&w, (struct kstr){ big, sizeof(big) }, false, false);
	assert_int_equal(kbuf_w_err(&w), -EINVAL);
	kbuf_w_free(&w);
	kbuf_w_init(&w, 1 << 20);
	kbuf_write_string(&w, KSTR_NULL, false, false);
	assert_int_equal(kbuf_w_err(&w), -EINVAL);
	kbuf_w_free(&w);
	kbuf_w_init(&w, 1 << 20);
	kbuf_write_string(&w, (struct kstr){ big, sizeof(big) }, true, false);
	kbuf_write_bytes(&w, KSTR_NULL, true, true);
	assert_int_equal(kbuf_w_err(&w), 0);
	assert_int_equal(w.len, 3 + sizeof(big) + 1);
	kbuf_w_free(&w);
}

/* ---- error codes and the table ---- */

static void test_errors_and_table(void **state)
{
	size_t n;
	const struct proto_api *t = proto_api_table(&n);

	(void)state;
	assert_string_equal(proto_err_name(PROTO_ERR_NOT_LEADER_OR_FOLLOWER),
			    "NOT_LEADER_OR_FOLLOWER");
	assert_string_equal(proto_err_name(74), "FENCED_LEADER_EPOCH");
	assert_string_equal(proto_err_name(-1), "UNKNOWN_SERVER_ERROR");
	assert_string_equal(proto_err_name(99), "UNKNOWN_ERROR_CODE");
	assert_string_equal(proto_err_name(-2), "UNKNOWN_ERROR_CODE");
	assert_string_equal(proto_err_name(30000), "UNKNOWN_ERROR_CODE");
	assert_int_equal(proto_err_from_errno(0), 0);
	assert_int_equal(proto_err_from_errno(-ERANGE), 1);
	assert_int_equal(proto_err_from_errno(-EREMOTE), 6);
	assert_int_equal(proto_err_from_errno(-ETIMEDOUT), 7);
	assert_int_equal(proto_err_from_errno(-EAGAIN), 19);
	assert_int_equal(proto_err_from_errno(-ESTALE), 74);
	assert_int_equal(proto_err_from_errno(-EL2NSYNC), 75);
	assert_int_equal(proto_err_from_errno(-ENOSPC), 56);
	assert_int_equal(proto_err_from_errno(-ENOMEM), -1);

	assert_int_equal(n, 48);
	for (size_t i = 1; i < n; i++)
		assert_true(t[i - 1].api_key < t[i].api_key);
	assert_true(proto_api_supported(PROTO_API_FETCH, 12));
	assert_false(proto_api_supported(PROTO_API_FETCH, 13));
	assert_false(proto_api_supported(PROTO_API_FETCH, 3));
	assert_true(proto_api_supported(PROTO_API_PRODUCE, 0));
	assert_false(proto_api_supported(PROTO_API_PRODUCE, 10));
	assert_true(proto_is_flexible(PROTO_API_FETCH, 12));
	assert_false(proto_is_flexible(PROTO_API_FETCH, 11));
	assert_false(proto_is_flexible(PROTO_API_SASL_HANDSHAKE, 1));
	assert_int_equal(proto_req_hdr_version(PROTO_API_OFFSET_FOR_LEADER_EPOCH, 4), 2);
	assert_int_equal(proto_req_hdr_version(PROTO_API_OFFSET_FOR_LEADER_EPOCH, 3), 1);
	assert_int_equal(proto_resp_hdr_version(PROTO_API_API_VERSIONS, 3), 0);
	assert_int_equal(proto_resp_hdr_version(PROTO_API_SASL_AUTHENTICATE, 2), 1);
}

/* ---- frames of every API ---- */

/* Decodes frame (without the size field) as a request; checks that each
 * truncation fails with -EBADMSG (never a crash), then returns the full
 * decode's result in req (freed by the caller). */
static int decode_all_cuts(const uint8_t *frame, size_t len, struct proto_req *req)
{
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		int rc;

		memcpy(copy, frame, cut);
		rc = proto_req_decode(copy, cut, req);
		assert_int_equal(rc, -EBADMSG);
		proto_req_free(req);
		free(copy);
	}
	return proto_req_decode(frame, len, req);
}

/* ApiVersions v3 as librdkafka 2.x sends it: header v2, compact strings. */
static const uint8_t api_versions_v3[] = {
	0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,      /* key 18, v3, corr 1 */
	0x00, 0x07, 'r',  'd',  'k',  'a',  'f',  'k',  'a', /* client_id */
	0x00,                                                /* header tags */
	0x0b, 'l',  'i',  'b',  'r',  'd',  'k',  'a',  'f',
	'k',  'a',  0x06, '2',  '.',  '0',  '.',  '2',  0x00,
};

static void test_api_versions(void **state)
{
	struct proto_req req;
	struct kbuf_w w;
	struct kbuf_r r;
	struct proto_api_versions_resp resp;
	int32_t corr;
	size_t pos;

	(void)state;
	assert_int_equal(decode_all_cuts(api_versions_v3, sizeof(api_versions_v3), &req), 0);
	assert_int_equal(req.hdr.api_key, 18);
	assert_int_equal(req.hdr.correlation_id, 1);
	assert_true(kstr_eq(req.hdr.client_id, "rdkafka"));
	assert_true(kstr_eq(req.u.api_versions.client_software_name, "librdkafka"));
	assert_true(kstr_eq(req.u.api_versions.client_software_version, "2.0.2"));
	proto_req_free(&req);

	/* v0 request: header v1, empty body; a v0 response, byte for byte. */
	assert_int_equal(proto_req_decode(BYTES(0, 18, 0, 0, 0, 0, 0, 9, 0xff, 0xff), &req), 0);
	assert_null(req.hdr.client_id.ptr);
	kbuf_w_init(&w, 4096);
	pos = proto_resp_begin(&w, 18, 0, 9);
	assert_int_equal(proto_api_versions_resp_encode(&w, 0, 0, 0), 0);
	assert_int_equal(proto_frame_end(&w, pos), 0);
	static const uint8_t v0[] = {
		0,
		0,
		1,
		42,
		0,
		0,
		0,
		9,
		0,
		0,
		0,
		0,
		0,
		48,
		0,
		0,
		0,
		0,
		0,
		9,
		0,
		1,
		0,
		4,
		0,
		12,
		0,
		2,
		0,
		0,
		0,
		7,
		0,
		3,
		0,
		0,
		0,
		12,
		0,
		4,
		0,
		0,
		0,
		7,
		0,
		5,
		0,
		0,
		0,
		4,
		0,
		6,
		0,
		0,
		0,
		8,
		0,
		7,
		0,
		0,
		0,
		3,
		0,
		8,
		0,
		0,
		0,
		8,
		0,
		9,
		0,
		0,
		0,
		8,
		0,
		10,
		0,
		0,
		0,
		4,
		0,
		11,
		0,
		0,
		0,
		9,
		0,
		12,
		0,
		0,
		0,
		4,
		0,
		13,
		0,
		0,
		0,
		5,
		0,
		14,
		0,
		0,
		0,
		5,
		0,
		15,
		0,
		0,
		0,
		5,
		0,
		16,
		0,
		0,
		0,
		5,
		0,
		17,
		0,
		0,
		0,
		1,
		0,
		18,
		0,
		0,
		0,
		3,
		0,
		19,
		0,
		0,
		0,
		7,
		0,
		20,
		0,
		0,
		0,
		6,
		0,
		21,
		0,
		0,
		0,
		2,
		0,
		22,
		0,
		0,
		0,
		4,
		0,
		23,
		0,
		0,
		0,
		4,
		0,
		29,
		0,
		0,
		0,
		3,
		0,
		30,
		0,
		0,
		0,
		3,
		0,
		31,
		0,
		0,
		0,
		3,
		0,
		32,
		0,
		0,
		0,
		4,
		0,
		33,
		0,
		0,
		0,
		2,
		0,
		35,
		0,
		0,
		0,
		4,
		0,
		36,
		0,
		0,
		0,
		2,
		0,
		37,
		0,
		0,
		0,
		3,
		/* the delegation token APIs, 38-41 */
		0,
		38,
		0,
		0,
		0,
		3,
		0,
		39,
		0,
		0,
		0,
		2,
		0,
		40,
		0,
		0,
		0,
		2,
		0,
		41,
		0,
		0,
		0,
		3,
		0,
		42,
		0,
		0,
		0,
		2,
		0,
		43,
		0,
		0,
		0,
		2,
		0,
		44,
		0,
		0,
		0,
		1,
		0,
		45,
		0,
		0,
		0,
		0,
		0,
		46,
		0,
		0,
		0,
		0,
		0,
		47,
		0,
		0,
		0,
		0,
		0,
		48,
		0,
		0,
		0,
		1,
		0,
		49,
		0,
		0,
		0,
		1,
		0,
		50,
		0,
		0,
		0,
		0,
		0,
		51,
		0,
		0,
		0,
		0,
		0,
		60,
		0,
		0,
		0,
		1,
		0,
		61,
		0,
		0,
		0,
		0,
	};
	assert_int_equal(w.len, sizeof(v0));
	assert_memory_equal(w.buf, v0, sizeof(v0));
	kbuf_w_free(&w);

	/* v7: newer than ours. The header still decodes (v2); the body says
	 * -EOPNOTSUPP; the answer is UNSUPPORTED_VERSION in a v0 body. */
	uint8_t v7[sizeof(api_versions_v3)];
	memcpy(v7, api_versions_v3, sizeof(v7));
	v7[3] = 7;
	assert_int_equal(proto_req_decode(v7, sizeof(v7), &req), -EOPNOTSUPP);
	assert_int_equal(req.hdr.api_version, 7);
	assert_true(kstr_eq(req.hdr.client_id, "rdkafka"));
	kbuf_w_init(&w, 4096);
	pos = proto_resp_begin(&w, 18, 0, req.hdr.correlation_id);
	assert_int_equal(proto_api_versions_resp_encode(&w, 0, PROTO_ERR_UNSUPPORTED_VERSION, 0),
			 0);
	assert_int_equal(proto_frame_end(&w, pos), 0);
	assert_int_equal(w.buf[8], 0);
	assert_int_equal(w.buf[9], 35);
	kbuf_w_free(&w);

	/* v3 response, decoded back (as a broker checking a peer would). */
	kbuf_w_init(&w, 4096);
	pos = proto_resp_begin(&w, 18, 3, 5);
	assert_int_equal(proto_api_versions_resp_encode(&w, 3, 0, 100), 0);
	assert_int_equal(proto_frame_end(&w, pos), 0);
	/* error 0, compact array 48+1, 48 entries of 7 bytes, throttle, tags. */
	assert_int_equal(w.len, 4 + 4 + 2 + 1 + 48 * 7 + 4 + 1);
	kbuf_r_init(&r, w.buf + 4, w.len - 4);
	assert_int_equal(proto_resp_hdr_decode(&r, 18, 3, &corr), 0);
	assert_int_equal(corr, 5);
	assert_int_equal(proto_api_versions_resp_decode(&r, 3, &resp), 0);
	assert_int_equal(resp.n_api_keys, 48);
	assert_int_equal(resp.api_keys[1].max_version, 12);
	assert_int_equal(resp.throttle_time_ms, 100);
	proto_api_versions_resp_free(&resp);
	kbuf_w_free(&w);

	/* Unknown API: -EOPNOTSUPP with the header's first fields. */
	assert_int_equal(proto_req_decode(BYTES(0, 99, 0, 0, 0, 0, 0, 4, 0, 0), &req), -EOPNOTSUPP);
	assert_int_equal(req.hdr.api_key, 99);
	assert_int_equal(req.hdr.correlation_id, 4);
	assert_int_equal(proto_req_decode(BYTES(0, 1, 0, 13, 0, 0, 0, 4, 0, 0), &req), -EOPNOTSUPP);
}

/* Fetch v4, a follower's fetch of topic "t" partition 0 at offset 42. */
static const uint8_t fetch_v4[] = {
	0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 'b', /* header v1 */
	0x00, 0x00, 0x00, 0x01,                                          /* replica_id 1 */
	0x00, 0x00, 0x01, 0xf4,                                          /* max_wait_ms 500 */
	0x00, 0x00, 0x00, 0x01,                                          /* min_bytes 1 */
	0x00, 0x10, 0x00, 0x00,                                          /* max_bytes 1 MiB */
	0x00,                                                            /* isolation_level */
	0x00, 0x00, 0x00, 0x01,                                          /* topics [1] */
	0x00, 0x01, 't',  0x00, 0x00, 0x00, 0x01,                        /* partitions [1] */
	0x00, 0x00, 0x00, 0x00,                                          /* partition 0 */
	0,    0,    0,    0,    0,    0,    0,    42,                    /* fetch_offset */
	0x00, 0x10, 0x00, 0x00,                                          /* partition_max_bytes */
};

/* Fetch v12: compact forms, tagged fields (cluster_id tag 0, and an
 * unknown tag 7 that must be skipped). */
static const uint8_t
	fetch_v12
		[] = {
			0x00, 0x01, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x07, 0x00, 0x02, 'b',
			'2',  0x00, 0x00, 0x00, 0x00, 0x02, /* replica_id 2 */
			0x00, 0x00, 0x01, 0xf4, 0x00, 0x00, 0x00, 0x01, 0x00, 0x10, 0x00,
			0x00, 0x01,                                   /* read_committed */
			0x00, 0x00, 0x00, 0x00,                       /* session_id 0 */
			0xff, 0xff, 0xff, 0xff,                       /* session_epoch -1 */
			0x02, 0x02, 't',                              /* topics [1], "t" */
			0x02,                                         /* partitions [1] */
			0x00, 0x00, 0x00, 0x03,                       /* partition 3 */
			0x00, 0x00, 0x00, 0x05,                       /* current_leader_epoch 5 */
			0,    0,    0,    0,    0,    0,    0,    42, /* fetch_offset 42 */
			0x00, 0x00, 0x00, 0x04,                       /* last_fetched_epoch 4 */
			0,    0,    0,    0,    0,    0,    0,    7,  /* log_start_offset 7 */
			0x00, 0x10, 0x00, 0x00, 0x00, /* partition_max_bytes, tags */
			0x00,                         /* topic tags */
			0x02, 0x02, 'u',  0x03, 0,    0,    0,    1,    0,    0,    0,
			2,    0x00,      /* forgotten u:[1,2] */
			0x03, 'r',  '1', /* rack_id */
			0x02, 0x00, 0x04, 0x04, 'a',  'b',  'c',  0x07, 0x02, 0xab, 0xcd,
		};

static void test_fetch_request(void **state)
{
	struct proto_req req;
	struct proto_fetch_req *f = &req.u.fetch;
	struct kbuf_w w;
	size_t pos;

	(void)state;
	assert_int_equal(decode_all_cuts(fetch_v4, sizeof(fetch_v4), &req), 0);
	assert_int_equal(f->replica_id, 1);
	assert_int_equal(f->max_wait_ms, 500);
	assert_int_equal(f->n_topics, 1);
	assert_true(kstr_eq(f->topics[0].topic, "t"));
	assert_int_equal(f->topics[0].partitions[0].fetch_offset, 42);
	assert_int_equal(f->topics[0].partitions[0].current_leader_epoch, -1);
	assert_int_equal(f->topics[0].partitions[0].log_start_offset, -1);
	assert_int_equal(f->session_epoch, -1);
	/* Encoded back: the same bytes. */
	kbuf_w_init(&w, 4096);
	pos = proto_req_begin(&w, &req.hdr);
	assert_int_equal(proto_fetch_req_encode(&w, 4, f), 0);
	assert_int_equal(proto_frame_end(&w, pos), 0);
	assert_int_equal(w.len, 4 + sizeof(fetch_v4));
	assert_memory_equal(w.buf + 4, fetch_v4, sizeof(fetch_v4));
	kbuf_w_free(&w);
	proto_req_free(&req);

	assert_int_equal(decode_all_cuts(fetch_v12, sizeof(fetch_v12), &req), 0);
	assert_int_equal(f->isolation_level, 1);
	assert_true(kstr_eq(f->cluster_id, "abc"));
	assert_true(kstr_eq(f->rack_id, "r1"));
	assert_int_equal(f->topics[0].partitions[0].partition, 3);
	assert_int_equal(f->topics[0].partitions[0].current_leader_epoch, 5);
	assert_int_equal(f->topics[0].partitions[0].last_fetched_epoch, 4);
	assert_int_equal(f->topics[0].partitions[0].log_start_offset, 7);
	assert_int_equal(f->n_forgotten, 1);
	assert_int_equal(f->forgotten[0].n_partitions, 2);
	assert_int_equal(f->forgotten[0].partitions[1], 2);
	/* Encoded back: the same bytes but the unknown tag. */
	kbuf_w_init(&w, 4096);
	pos = proto_req_begin(&w, &req.hdr);
	assert_int_equal(proto_fetch_req_encode(&w, 12, f), 0);
	assert_int_equal(proto_frame_end(&w, pos), 0);
	assert_int_equal(w.len, 4 + sizeof(fetch_v12) - 4);
	assert_memory_equal(w.buf + 4, fetch_v12, sizeof(fetch_v12) - 11);
	assert_int_equal(w.buf[4 + sizeof(fetch_v12) - 11], 1); /* one tag */
	kbuf_w_free(&w);
	proto_req_free(&req);

	/* Every version 4..12 round trips through encode and decode. */
	for (int16_t v = 4; v <= 12; v++) {
		struct proto_fetch_part parts[2] = {
			{ 0, 9, 100, 8, 50, 1000 },
			{ 1, 9, 200, 8, 60, 2000 },
		};
		int32_t fp[1] = { 5 };
		struct proto_fetch_topic topic = { kstr_of("orders"), 2, parts };
		struct proto_forgotten_topic fg = { kstr_of("old"), 1, fp };
		struct proto_fetch_req in = {
			.cluster_id = KSTR_NULL,
			.replica_id = 3,
			.max_wait_ms = 500,
			.min_bytes = 1,
			.max_bytes = 1 << 20,
			.session_id = 0,
			.session_epoch = -1,
			.n_topics = 1,
			.topics = &topic,
			.n_forgotten = 1,
			.forgotten = &fg,
			.rack_id = kstr_of(""),
			.line_copy = true,
		};
		struct proto_fetch_req out;
		struct kbuf_r r;

		kbuf_w_init(&w, 4096);
		assert_int_equal(proto_fetch_req_encode(&w, v, &in), 0);
		kbuf_r_init(&r, w.buf, w.len);
		assert_int_equal(proto_fetch_req_decode(&r, v, &out), 0);
		assert_int_equal(out.topics[0].partitions[1].fetch_offset, 200);
		assert_int_equal(out.topics[0].partitions[1].current_leader_epoch, v >= 9 ? 9 : -1);
		assert_int_equal(out.topics[0].partitions[1].last_fetched_epoch, v >= 12 ? 8 : -1);
		assert_int_equal(out.topics[0].partitions[1].log_start_offset, v >= 5 ? 60 : -1);
		assert_int_equal(out.n_forgotten, v >= 7 ? 1 : 0);
		/* mqfs's tag 1000, no data: flexible versions only. */
		assert_int_equal(out.line_copy, v >= 12);
		proto_fetch_req_free(&out);
		kbuf_w_free(&w);
	}
}

/* Fetch body with n_topics topics of one partition each (v4). */
static int fetch_with_topics(int32_t n_topics, int32_t n_parts)
{
	struct kbuf_w w;
	struct kbuf_r r;
	struct proto_fetch_req req;
	int rc;

	kbuf_w_init(&w, 64 << 20);
	kbuf_write_i32(&w, 1);
	kbuf_write_i32(&w, 0);
	kbuf_write_i32(&w, 0);
	kbuf_write_i32(&w, 0);
	kbuf_write_i8(&w, 0);
	kbuf_write_i32(&w, n_topics);
	for (int32_t i = 0; i < n_topics; i++) {
		kbuf_write_string(&w, kstr_of("t"), false, false);
		kbuf_write_i32(&w, n_parts);
		for (int32_t j = 0; j < n_parts; j++) {
			kbuf_write_i32(&w, j);
			kbuf_write_i64(&w, 0);
			kbuf_write_i32(&w, 0);
		}
	}
	kbuf_r_init(&r, w.buf, w.len);
	rc = proto_fetch_req_decode(&r, 4, &req);
	proto_fetch_req_free(&req);
	kbuf_w_free(&w);
	return rc;
}

static void test_fetch_request_limits(void **state)
{
	(void)state;
	assert_int_equal(fetch_with_topics(PROTO_MAX_TOPICS, 1), 0);
	/* Over a cap, well formed: -E2BIG (the connection's close says so). */
	assert_int_equal(fetch_with_topics(PROTO_MAX_TOPICS + 1, 1), -E2BIG);
	assert_int_equal(fetch_with_topics(2, PROTO_MAX_PARTITIONS / 2), 0);
	assert_int_equal(fetch_with_topics(2, PROTO_MAX_PARTITIONS / 2 + 1), -E2BIG);

	/* A count larger than the frame, a negative count. */
	struct proto_req req;
	uint8_t f[sizeof(fetch_v4)];
	memcpy(f, fetch_v4, sizeof(f));
	f[35] = 0x10; /* partitions [0x10000001] */
	assert_int_equal(proto_req_decode(f, sizeof(f), &req), -EBADMSG);
	memcpy(f, fetch_v4, sizeof(f));
	f[35] = 0xff;
	f[36] = 0xff;
	f[37] = 0xff;
	f[38] = 0xfe;
	assert_int_equal(proto_req_decode(f, sizeof(f), &req), -EBADMSG);
	/* An isolation level Kafka does not define is decoded, for the
	 * handler to answer it UNKNOWN_SERVER_ERROR as Kafka does. */
	memcpy(f, fetch_v4, sizeof(f));
	f[27] = 2;
	assert_int_equal(proto_req_decode(f, sizeof(f), &req), 0);
	assert_int_equal(req.u.fetch.isolation_level, 2);
	proto_req_free(&req);
	/* A trailing byte. */
	uint8_t g[sizeof(fetch_v4) + 1];
	memcpy(g, fetch_v4, sizeof(fetch_v4));
	g[sizeof(fetch_v4)] = 0;
	assert_int_equal(proto_req_decode(g, sizeof(g), &req), -EBADMSG);
}

static int tmpfile_with(const uint8_t *data, size_t len)
{
	char path[] = "/tmp/test_proto.XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	return fd;
}

static void test_fetch_response_pieces(void **state)
{
	uint8_t seg[300];
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(seg); i++)
		seg[i] = (uint8_t)(i * 7);
	fd = tmpfile_with(seg, sizeof(seg));
	for (int16_t v = 4; v <= 12; v++) {
		struct proto_fetch_resp_part parts[3] = {
			{ .partition_index = 0,
			  .high_watermark = 10,
			  .last_stable_offset = 10,
			  .log_start_offset = 0,
			  .n_aborted = -1,
			  .preferred_read_replica = -1,
			  .records_len = 100,
			  .records_fd = fd,
			  .records_offset = 50,
			  .has_diverging_epoch = true,
			  .diverging_epoch = 3,
			  .diverging_end_offset = 77,
			  .has_first_line = true,
			  .first_line = 9000 },
			{ .partition_index = 1,
			  .error_code = PROTO_ERR_FENCED_LEADER_EPOCH,
			  .high_watermark = -1,
			  .last_stable_offset = -1,
			  .log_start_offset = -1,
			  .n_aborted = 0,
			  .preferred_read_replica = 2,
			  .records_len = -1,
			  .records_fd = -1,
			  .has_current_leader = true,
			  .current_leader_id = 4,
			  .current_leader_epoch = 6 },
			{ .partition_index = 2,
			  .high_watermark = 5,
			  .n_aborted = -1,
			  .records_len = 3,
			  .records = (const uint8_t *)"abc",
			  .records_fd = -1,
			  .has_log_start_line = true,
			  .log_start_line = 4242 },
		};
		struct proto_fetch_resp_topic topic = { kstr_of("orders"), 3, parts };
		struct proto_fetch_resp in = { 0, 0, 77, 1, &topic }, out;
		struct proto_out po;
		struct kbuf_r r;
		uint8_t *flat;
		size_t len;
		int32_t corr;

		proto_out_init(&po, 4096);
		assert_int_equal(proto_fetch_resp_encode(&po, v, 11, &in), 0);
		/* MEM (up to the first records), FILE, MEM (the rest). */
		assert_int_equal(po.n_pieces, 3);
		assert_int_equal(po.pieces[0].kind, PROTO_PIECE_MEM);
		assert_int_equal(po.pieces[1].kind, PROTO_PIECE_FILE);
		assert_int_equal(po.pieces[1].offset, 50);
		assert_int_equal(po.pieces[1].len, 100);
		assert_int_equal(po.pieces[2].kind, PROTO_PIECE_MEM);
		assert_int_equal(po.total, po.w.len + 100);
		assert_int_equal(proto_out_flatten(&po, &flat, &len), 0);
		assert_int_equal(len, po.total);
		/* The frame size counts the file bytes. */
		kbuf_r_init(&r, flat, len);
		assert_int_equal(kbuf_read_i32(&r), (int32_t)len - 4);
		assert_int_equal(proto_resp_hdr_decode(&r, 1, v, &corr), 0);
		assert_int_equal(corr, 11);
		assert_int_equal(proto_fetch_resp_decode(&r, v, &out), 0);
		assert_int_equal(out.topics[0].n_partitions, 3);
		struct proto_fetch_resp_part *p = out.topics[0].partitions;
		assert_int_equal(p[0].records_len, 100);
		assert_memory_equal(p[0].records, seg + 50, 100);
		assert_int_equal(p[0].n_aborted, -1);
		assert_int_equal(p[0].has_diverging_epoch, v >= 12);
		/* mqfs's tag 1001, after Kafka's 0: flexible versions only. */
		assert_int_equal(p[0].has_first_line, v >= 12);
		assert_int_equal(p[2].has_first_line, false);
		if (v >= 12) {
			assert_int_equal(p[0].first_line, 9000);
			assert_int_equal(p[0].diverging_epoch, 3);
			assert_int_equal(p[0].diverging_end_offset, 77);
			assert_true(p[1].has_current_leader);
			assert_int_equal(p[1].current_leader_epoch, 6);
		}
		assert_int_equal(p[1].error_code, 74);
		assert_int_equal(p[1].records_len, -1);
		assert_int_equal(p[1].n_aborted, 0);
		assert_int_equal(p[1].preferred_read_replica, v >= 11 ? 2 : -1);
		assert_int_equal(p[2].records_len, 3);
		assert_memory_equal(p[2].records, "abc", 3);
		/* mqfs's tag 1000 (uvarint e8 07), 8 bytes: flexible versions
		 * only, the partition's one tagged field. */
		static const uint8_t line_tag[] = {
			1, 0xe8, 0x07, 8, 0, 0, 0, 0, 0, 0, 0x10, 0x92
		};
		assert_int_equal(p[2].has_log_start_line, v >= 12);
		assert_int_equal(memmem(flat, len, line_tag, sizeof(line_tag)) != NULL, v >= 12);
		if (v >= 12)
			assert_int_equal(p[2].log_start_line, 4242);
		assert_int_equal(out.session_id, v >= 7 ? 77 : 0);
		proto_fetch_resp_free(&out);

		/* Every truncation of the decoded body fails cleanly. */
		for (size_t cut = 0; cut < len - 8; cut++) {
			struct kbuf_r c;
			uint8_t *copy = malloc(cut + 1);
			int32_t cc;

			memcpy(copy, flat + 4, cut);
			kbuf_r_init(&c, copy, cut);
			if (proto_resp_hdr_decode(&c, 1, v, &cc) == 0)
				assert_int_equal(proto_fetch_resp_decode(&c, v, &out), -EBADMSG);
			free(copy);
		}
		free(flat);
		proto_out_free(&po);
	}
	/* A file shorter than its piece: flatten says -EIO. */
	struct proto_fetch_resp_part part = {
		.n_aborted = -1, .records_len = 100, .records_fd = fd, .records_offset = 250
	};
	struct proto_fetch_resp_topic topic = { kstr_of("t"), 1, &part };
	struct proto_fetch_resp in = { 0, 0, 0, 1, &topic };
	struct proto_out po;
	uint8_t *flat;
	size_t len;
	proto_out_init(&po, 4096);
	assert_int_equal(proto_fetch_resp_encode(&po, 12, 1, &in), 0);
	assert_int_equal(proto_out_flatten(&po, &flat, &len), -EIO);
	proto_out_free(&po);
	/* The memory part is bounded by the limit. */
	proto_out_init(&po, 20);
	assert_int_equal(proto_fetch_resp_encode(&po, 12, 1, &in), -EMSGSIZE);
	proto_out_free(&po);
	close(fd);
}

/* OffsetForLeaderEpoch v4 (flexible) and v0, hand-built. */
static const uint8_t ofle_v4[] = {
	0x00, 0x17, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03,
	0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x02, /* replica_id 2 */
	0x02, 0x02, 't',  0x02,                   /* topics [1] "t", partitions [1] */
	0x00, 0x00, 0x00, 0x01,                   /* partition 1 */
	0x00, 0x00, 0x00, 0x06,                   /* current_leader_epoch 6 */
	0x00, 0x00, 0x00, 0x04,                   /* leader_epoch 4 */
	0x00, 0x00, 0x00,
};

static const uint8_t ofle_v0[] = {
	0x00, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00,
	0x01, 't',  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04,
};

static void test_offset_for_leader_epoch(void **state)
{
	struct proto_req req;
	struct kbuf_w w;
	struct kbuf_r r;

	(void)state;
	assert_int_equal(decode_all_cuts(ofle_v4, sizeof(ofle_v4), &req), 0);
	assert_int_equal(req.u.ofle.replica_id, 2);
	assert_int_equal(req.u.ofle.topics[0].partitions[0].current_leader_epoch, 6);
	assert_int_equal(req.u.ofle.topics[0].partitions[0].leader_epoch, 4);
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_ofle_req_encode(&w, 4, &req.u.ofle), 0);
	assert_memory_equal(w.buf, ofle_v4 + 11, sizeof(ofle_v4) - 11);
	kbuf_w_free(&w);
	proto_req_free(&req);

	assert_int_equal(decode_all_cuts(ofle_v0, sizeof(ofle_v0), &req), 0);
	assert_int_equal(req.u.ofle.replica_id, -2);
	assert_int_equal(req.u.ofle.topics[0].partitions[0].current_leader_epoch, -1);
	proto_req_free(&req);

	/* Responses, every version, and v4's bytes. */
	for (int16_t v = 0; v <= 4; v++) {
		struct proto_ofle_resp_part parts[1] = { { 0, 1, 4, 1234 } };
		struct proto_ofle_resp_topic t = { kstr_of("t"), 1, parts };
		struct proto_ofle_resp in = { 0, 1, &t }, out;

		kbuf_w_init(&w, 4096);
		assert_int_equal(proto_ofle_resp_encode(&w, v, &in), 0);
		if (v == 4) {
			static const uint8_t b[] = {
				0, 0, 0, 0, 0x02, 0x02, 't',  0x02, 0x00, 0x00,
				0, 0, 0, 1, 0,    0,    0,    4,    0,    0,
				0, 0, 0, 0, 0x04, 0xd2, 0x00, 0x00, 0x00,
			};
			assert_int_equal(w.len, sizeof(b));
			assert_memory_equal(w.buf, b, sizeof(b));
		}
		for (size_t cut = 0; cut < w.len; cut++) {
			kbuf_r_init(&r, w.buf, cut);
			assert_int_equal(proto_ofle_resp_decode(&r, v, &out), -EBADMSG);
		}
		kbuf_r_init(&r, w.buf, w.len);
		assert_int_equal(proto_ofle_resp_decode(&r, v, &out), 0);
		assert_int_equal(out.topics[0].partitions[0].end_offset, 1234);
		assert_int_equal(out.topics[0].partitions[0].leader_epoch, v >= 1 ? 4 : -1);
		proto_ofle_resp_free(&out);
		kbuf_w_free(&w);
	}
}

static void test_sasl_apis(void **state)
{
	static const uint8_t hs_v1[] = {
		0x00, 0x11, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 'c', 0x00, 0x0d,
		'S',  'C',  'R',  'A',  'M',  '-',  'S',  'H',  'A',  '-',  '2', '5',  '6',
	};
	static const uint8_t auth_v2[] = {
		0x00, 0x24, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, 0x00,
		0x01, 'c',  0x00, 0x04, 'n',  ',',  ',',  0x00,
	};
	static const uint8_t auth_v0[] = {
		0x00, 0x24, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff,
		0xff, 0x00, 0x00, 0x00, 0x03, 'n',  ',',  ',',
	};
	struct proto_req req;
	struct kbuf_w w;
	struct kbuf_r r;

	(void)state;
	assert_int_equal(decode_all_cuts(hs_v1, sizeof(hs_v1), &req), 0);
	assert_true(kstr_eq(req.u.sasl_handshake.mechanism, "SCRAM-SHA-256"));
	assert_int_equal(decode_all_cuts(auth_v2, sizeof(auth_v2), &req), 0);
	assert_int_equal(req.u.sasl_auth.auth_bytes.len, 3);
	assert_memory_equal(req.u.sasl_auth.auth_bytes.ptr, "n,,", 3);
	assert_int_equal(decode_all_cuts(auth_v0, sizeof(auth_v0), &req), 0);
	assert_int_equal(req.u.sasl_auth.auth_bytes.len, 3);

	struct proto_sasl_handshake_resp hr = { PROTO_ERR_UNSUPPORTED_SASL_MECHANISM,
						1,
						{ kstr_of("SCRAM-SHA-256") } },
					 hr2;
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_sasl_handshake_resp_encode(&w, 1, &hr), 0);
	static const uint8_t hrb[] = { 0,   33,  0,   0,   0,   1,   0,   13,  'S', 'C', 'R',
				       'A', 'M', '-', 'S', 'H', 'A', '-', '2', '5', '6' };
	assert_int_equal(w.len, sizeof(hrb));
	assert_memory_equal(w.buf, hrb, sizeof(hrb));
	kbuf_r_init(&r, w.buf, w.len);
	assert_int_equal(proto_sasl_handshake_resp_decode(&r, 1, &hr2), 0);
	assert_true(kstr_eq(hr2.mechanisms[0], "SCRAM-SHA-256"));
	kbuf_w_free(&w);
	/* More mechanisms than we keep. */
	kbuf_w_init(&w, 4096);
	kbuf_write_i16(&w, 0);
	kbuf_write_i32(&w, PROTO_MAX_MECHANISMS + 1);
	for (int i = 0; i <= PROTO_MAX_MECHANISMS; i++)
		kbuf_write_string(&w, kstr_of("M"), false, false);
	kbuf_r_init(&r, w.buf, w.len);
	assert_int_equal(proto_sasl_handshake_resp_decode(&r, 1, &hr2), -EBADMSG);
	kbuf_w_free(&w);

	for (int16_t v = 0; v <= 2; v++) {
		struct proto_sasl_auth_resp ar = { PROTO_ERR_SASL_AUTHENTICATION_FAILED,
						   kstr_of("invalid proof"), KSTR_NULL, 3600000 },
					    ar2;

		kbuf_w_init(&w, 4096);
		assert_int_equal(proto_sasl_auth_resp_encode(&w, v, &ar), 0);
		for (size_t cut = 0; cut < w.len; cut++) {
			kbuf_r_init(&r, w.buf, cut);
			assert_int_equal(proto_sasl_auth_resp_decode(&r, v, &ar2), -EBADMSG);
		}
		kbuf_r_init(&r, w.buf, w.len);
		assert_int_equal(proto_sasl_auth_resp_decode(&r, v, &ar2), 0);
		assert_int_equal(ar2.error_code, 58);
		assert_true(kstr_eq(ar2.error_message, "invalid proof"));
		assert_int_equal(ar2.auth_bytes.len, 0);
		assert_int_equal(ar2.session_lifetime_ms, v >= 1 ? 3600000 : 0);
		kbuf_w_free(&w);
	}
}

/* Random mutations of every valid frame: any result but a crash. */
static void test_mutations(void **state)
{
	const struct {
		const uint8_t *b;
		size_t n;
	} frames[] = {
		{ api_versions_v3, sizeof(api_versions_v3) },
		{ fetch_v4, sizeof(fetch_v4) },
		{ fetch_v12, sizeof(fetch_v12) },
		{ ofle_v4, sizeof(ofle_v4) },
		{ ofle_v0, sizeof(ofle_v0) },
	};
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t k = (size_t)round % (sizeof(frames) / sizeof(frames[0]));
		uint8_t *b = malloc(frames[k].n);
		struct proto_req req;

		memcpy(b, frames[k].b, frames[k].n);
		for (int m = 0; m < 1 + round % 4; m++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			b[(x >> 8) % frames[k].n] = (uint8_t)x;
		}
		int rc = proto_req_decode(b, frames[k].n, &req);
		assert_true(rc == 0 || rc == -EBADMSG || rc == -EOPNOTSUPP);
		proto_req_free(&req);
		free(b);
	}
}

static void test_frame_peek(void **state)
{
	size_t n = 0;

	(void)state;
	assert_int_equal(proto_frame_peek(BYTES(0, 0, 1), 100, &n), -EAGAIN);
	assert_int_equal(proto_frame_peek(BYTES(0, 0, 1, 0), 100, &n), -EMSGSIZE);
	assert_int_equal(proto_frame_peek(BYTES(0x80, 0, 0, 0), 100, &n), -EBADMSG);
	assert_int_equal(proto_frame_peek(BYTES(0, 0, 0, 100), 100, &n), 0);
	assert_int_equal(n, 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varints),
		cmocka_unit_test(test_strings_and_arrays),
		cmocka_unit_test(test_kstr_cstr),
		cmocka_unit_test(test_tagged_fields),
		cmocka_unit_test(test_writer_limits),
		cmocka_unit_test(test_errors_and_table),
		cmocka_unit_test(test_api_versions),
		cmocka_unit_test(test_fetch_request),
		cmocka_unit_test(test_fetch_request_limits),
		cmocka_unit_test(test_fetch_response_pieces),
		cmocka_unit_test(test_offset_for_leader_epoch),
		cmocka_unit_test(test_sasl_apis),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_frame_peek),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
