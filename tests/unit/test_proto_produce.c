/*
 * test_proto_produce.c — Produce (repl/proto_produce.c): requests and
 * responses hand-built from the JSON schemas at v3 and the flexible v9,
 * records that point into the frame on decode and go out as a file piece
 * on encode (flattened: the same bytes as from memory), every version
 * round-tripped to the same bytes, every truncation refused, the caps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "repl/kbuf.h"
#include "repl/proto.h"
#include "tests/unit/protofx.h"

/* v3: header v1, transactional_id null, acks -1, five record bytes. */
static const uint8_t produce_v3[] = {
	0x00,    0x00,    0x00,    0x03, PI32(21),   0x00, 0x01, 'c',
	0xff,    0xff,    0xff,    0xff, PI32(1000),                  /* null, acks -1, timeout */
	PI32(1), 0x00,    0x01,    't',                               /* topic "t" */
	PI32(1), PI32(0), PI32(5), 'a',  'b',        'c',  'd',  'e', /* partition 0, records */
};

/* v2 (what Kafka 3.x still lists, from the protocol guide): no
 * transactional_id; acks 1, one partition. */
static const uint8_t produce_v2[] = {
	0x00,    0x00,    0x00,      0x02, PI32(23), 0x00, 0x01, 'c', /* header v1 */
	0x00,    0x01,    PI32(500),                                  /* acks 1, timeout */
	PI32(1), 0x00,    0x01,      't',                             /* topic "t" */
	PI32(1), PI32(4), PI32(3),   'x',  'y',      'z',             /* partition 4, records */
};

/* v9: flexible, a transactional id, a null records field beside. */
static const uint8_t produce_v9[] = {
	0x00,    0x00, 0x00, 0x09, PI32(22), 0x00,        0x01,    'c',  0x00,
	0x03,    't',  'x',  0x00, 0x01,     PI32(30000), /* "tx", acks 1 */
	0x02,    0x02, 't',  0x03,                        /* topic "t", 2 partitions */
	PI32(2), 0x04, 'x',  'y',  'z',      0x00,        PI32(3), 0x00, 0x00, /* null records */
	0x00,    0x00,
};

/* Encodes through proto_out and flattens: a frame without its size. */
static size_t produce_frame(const struct proto_req_hdr *hdr, const struct proto_produce_req *in,
			    uint8_t **buf, size_t *n_file_pieces)
{
	struct proto_out out;
	uint8_t *flat;
	size_t len;

	proto_out_init(&out, PROTO_MAX_FRAME);
	assert_int_equal(proto_produce_req_encode(&out, hdr, in), 0);
	assert_int_equal(proto_out_flatten(&out, &flat, &len), 0);
	*n_file_pieces = 0;
	for (size_t i = 0; i < out.n_pieces; i++)
		*n_file_pieces += out.pieces[i].kind == PROTO_PIECE_FILE;
	proto_out_free(&out);
	*buf = malloc(len - 4);
	memcpy(*buf, flat + 4, len - 4);
	free(flat);
	return len - 4;
}

static void test_produce_frames(void **state)
{
	struct proto_req req;
	struct proto_produce_req *p = &req.u.produce;
	uint8_t *again;
	size_t n, files;

	(void)state;
	assert_int_equal(protofx_req_cuts(produce_v3, sizeof(produce_v3), &req), 0);
	assert_null(p->transactional_id.ptr);
	assert_int_equal(p->acks, -1);
	assert_int_equal(p->timeout_ms, 1000);
	assert_true(kstr_eq(p->topic_data[0].name, "t"));
	/* The records are not copied: they point into the frame. */
	assert_ptr_equal(p->topic_data[0].partition_data[0].records,
			 produce_v3 + sizeof(produce_v3) - 5);
	assert_int_equal(p->topic_data[0].partition_data[0].records_len, 5);
	n = produce_frame(&req.hdr, p, &again, &files);
	assert_int_equal(files, 0);
	assert_int_equal(n, sizeof(produce_v3));
	assert_memory_equal(again, produce_v3, n);
	free(again);
	proto_req_free(&req);

	assert_int_equal(protofx_req_cuts(produce_v2, sizeof(produce_v2), &req), 0);
	assert_null(p->transactional_id.ptr);
	assert_int_equal(p->acks, 1);
	assert_int_equal(p->timeout_ms, 500);
	assert_int_equal(p->topic_data[0].partition_data[0].index, 4);
	assert_memory_equal(p->topic_data[0].partition_data[0].records, "xyz", 3);
	n = produce_frame(&req.hdr, p, &again, &files);
	assert_int_equal(n, sizeof(produce_v2));
	assert_memory_equal(again, produce_v2, n);
	free(again);
	proto_req_free(&req);

	assert_int_equal(protofx_req_cuts(produce_v9, sizeof(produce_v9), &req), 0);
	assert_true(kstr_eq(p->transactional_id, "tx"));
	assert_int_equal(p->acks, 1);
	assert_int_equal(p->topic_data[0].n_partitions, 2);
	assert_int_equal(p->topic_data[0].partition_data[0].index, 2);
	assert_memory_equal(p->topic_data[0].partition_data[0].records, "xyz", 3);
	assert_int_equal(p->topic_data[0].partition_data[1].records_len, -1);
	assert_null(p->topic_data[0].partition_data[1].records);
	n = produce_frame(&req.hdr, p, &again, &files);
	assert_int_equal(n, sizeof(produce_v9));
	assert_memory_equal(again, produce_v9, n);
	free(again);
	proto_req_free(&req);
}

/* Records from a file range: a FILE piece, and after flattening the same
 * frame as from memory, at every version. */
static void test_produce_file_records(void **state)
{
	char path[] = "/tmp/mqfs-test-produce.XXXXXX";
	int fd = mkstemp(path);
	uint8_t batch[300];
	struct proto_produce_part parts[2] = {
		{ 0, sizeof(batch), NULL, fd, 100 },
		{ 1, 0, (const uint8_t *)"", -1, 0 },
	};
	struct proto_produce_topic topic = { kstr_of("orders"), 2, parts };
	struct proto_produce_req in = { KSTR_NULL, -1, 5000, 1, &topic };
	struct proto_produce_part mem_parts[2] = { parts[0], parts[1] };
	struct proto_produce_topic mem_topic = { kstr_of("orders"), 2, mem_parts };
	struct proto_produce_req mem_in = { KSTR_NULL, -1, 5000, 1, &mem_topic };

	(void)state;
	assert_true(fd >= 0);
	unlink(path);
	for (size_t i = 0; i < sizeof(batch); i++)
		batch[i] = (uint8_t)(i * 7);
	assert_int_equal(pwrite(fd, batch, sizeof(batch), 100), (ssize_t)sizeof(batch));
	mem_parts[0].records = batch;
	mem_parts[0].records_fd = -1;
	for (int16_t v = 3; v <= 9; v++) {
		struct proto_req_hdr hdr = { PROTO_API_PRODUCE, v, v, kstr_of("fwd") };
		struct proto_req req;
		uint8_t *a, *b;
		size_t na, nb, files;

		na = produce_frame(&hdr, &in, &a, &files);
		assert_int_equal(files, 1);
		nb = produce_frame(&hdr, &mem_in, &b, &files);
		assert_int_equal(files, 0);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na);
		assert_int_equal(protofx_req_cuts(a, na, &req), 0);
		assert_int_equal(req.u.produce.topic_data[0].partition_data[0].records_len, 300);
		assert_memory_equal(req.u.produce.topic_data[0].partition_data[0].records, batch,
				    300);
		assert_int_equal(req.u.produce.topic_data[0].partition_data[1].records_len, 0);
		proto_req_free(&req);
		free(a);
		free(b);
	}
	close(fd);
}

static int resp_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_produce_resp_decode(&r, v, out);
}

static int resp_enc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_produce_resp_encode(w, v, in);
}

static void resp_free(void *p)
{
	proto_produce_resp_free(p);
}

static void test_produce_response(void **state)
{
	struct proto_produce_resp resp;
	struct proto_record_error re[2] = { { 0, kstr_of("bad crc") }, { 3, KSTR_NULL } };
	struct proto_produce_resp_part pp[2] = {
		{ 0, 0, 42, -1, 7, 0, NULL, KSTR_NULL },
		{ 1, PROTO_ERR_CORRUPT_MESSAGE, -1, -1, -1, 2, re, kstr_of("corrupt") },
	};
	struct proto_produce_resp_topic pt = { kstr_of("t"), 2, pp };
	struct proto_produce_resp in = { 1, &pt, 10 };

	(void)state;
	/* v5: log_start_offset, no record errors, not flexible. */
	protofx_same_bytes(resp_dec, resp_enc, resp_free,
			   PROTOFX_BYTES(PI32(1), 0x00, 0x01, 't', PI32(1), PI32(0), 0x00, 0x00,
					 PI64(42), PI64(-1), PI64(7), PI32(0)),
			   5, &resp);
	assert_true(resp.responses[0].partition_responses[0].base_offset == 42);
	assert_true(resp.responses[0].partition_responses[0].log_start_offset == 7);
	proto_produce_resp_free(&resp);
	/* v9: flexible, a record error with its message. */
	protofx_same_bytes(resp_dec, resp_enc, resp_free,
			   PROTOFX_BYTES(0x02, 0x02, 't', 0x02, PI32(1), 0x00, 0x02, PI64(-1),
					 PI64(-1), PI64(-1), 0x02, PI32(3), 0x04, 'c', 'r', 'c',
					 0x00,       /* batch 3: "crc" */
					 0x00, 0x00, /* error_message null, tags */
					 0x00, PI32(0), 0x00),
			   9, &resp);
	assert_int_equal(resp.responses[0].partition_responses[0].error_code, 2);
	assert_int_equal(resp.responses[0].partition_responses[0].n_record_errors, 1);
	assert_true(kstr_eq(
		resp.responses[0].partition_responses[0].record_errors[0].batch_index_error_message,
		"crc"));
	proto_produce_resp_free(&resp);

	/* v0: no log_append_time_ms, no throttle_time_ms; v1 adds the
	 * throttle time, v2 the append time. */
	protofx_same_bytes(
		resp_dec, resp_enc, resp_free,
		PROTOFX_BYTES(PI32(1), 0x00, 0x01, 't', PI32(1), PI32(0), 0x00, 0x00, PI64(42)), 0,
		&resp);
	assert_true(resp.responses[0].partition_responses[0].base_offset == 42);
	proto_produce_resp_free(&resp);
	protofx_same_bytes(resp_dec, resp_enc, resp_free,
			   PROTOFX_BYTES(PI32(1), 0x00, 0x01, 't', PI32(1), PI32(0), 0x00, 0x00,
					 PI64(42), PI32(5)),
			   1, &resp);
	assert_int_equal(resp.throttle_time_ms, 5);
	proto_produce_resp_free(&resp);
	protofx_same_bytes(resp_dec, resp_enc, resp_free,
			   PROTOFX_BYTES(PI32(1), 0x00, 0x01, 't', PI32(1), PI32(0), 0x00, 0x00,
					 PI64(42), PI64(1700000000000), PI32(0)),
			   2, &resp);
	assert_true(resp.responses[0].partition_responses[0].log_append_time_ms == 1700000000000);
	proto_produce_resp_free(&resp);

	for (int16_t v = 0; v <= 9; v++) {
		struct kbuf_w w;
		struct proto_produce_resp_part *got;

		kbuf_w_init(&w, 4096);
		assert_int_equal(proto_produce_resp_encode(&w, v, &in), 0);
		protofx_same_bytes(resp_dec, resp_enc, resp_free, w.buf, w.len, v, &resp);
		got = &resp.responses[0].partition_responses[1];
		assert_int_equal(got->error_code, PROTO_ERR_CORRUPT_MESSAGE);
		assert_int_equal(got->n_record_errors, v >= 8 ? 2 : 0);
		assert_true(v >= 8 ? kstr_eq(got->error_message, "corrupt")
				   : !got->error_message.ptr);
		assert_true(resp.responses[0].partition_responses[0].log_start_offset ==
			    (v >= 5 ? 7 : -1));
		assert_int_equal(resp.throttle_time_ms, v >= 1 ? 10 : 0);
		proto_produce_resp_free(&resp);
		kbuf_w_free(&w);
	}
}

/* Partitions over PROTO_MAX_PARTITIONS in one request: refused. */
static void test_produce_caps(void **state)
{
	struct proto_produce_part *parts = calloc(PROTO_MAX_PARTITIONS + 1, sizeof(*parts));
	struct proto_produce_topic t[2];
	struct proto_produce_req in = { KSTR_NULL, 1, 1, 2, t };
	struct proto_req_hdr hdr = { PROTO_API_PRODUCE, 7, 1, KSTR_NULL };
	struct proto_req req;
	uint8_t *buf;
	size_t len, files;

	(void)state;
	for (int i = 0; i <= PROTO_MAX_PARTITIONS; i++)
		parts[i] = (struct proto_produce_part){ i, -1, NULL, -1, 0 };
	t[0] = (struct proto_produce_topic){ kstr_of("a"), PROTO_MAX_PARTITIONS / 2, parts };
	t[1] = (struct proto_produce_topic){ kstr_of("b"), PROTO_MAX_PARTITIONS / 2 + 1, parts };
	len = produce_frame(&hdr, &in, &buf, &files);
	assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
	free(buf);
	t[1].n_partitions = PROTO_MAX_PARTITIONS / 2;
	len = produce_frame(&hdr, &in, &buf, &files);
	assert_int_equal(proto_req_decode(buf, len, &req), 0);
	proto_req_free(&req);
	free(buf);
	/* A records length past the frame. */
	uint8_t bad[sizeof(produce_v3)];
	memcpy(bad, produce_v3, sizeof(bad));
	bad[sizeof(bad) - 6] = 6;
	assert_int_equal(proto_req_decode(bad, sizeof(bad), &req), -EBADMSG);
	/* v3's frame read as v2 (no transactional_id): the bytes no longer
	 * add up. */
	memcpy(bad, produce_v3, sizeof(bad));
	bad[3] = 2;
	assert_int_equal(proto_req_decode(bad, sizeof(bad), &req), -EBADMSG);
	/* A version past the table is not ours. */
	bad[3] = 10;
	assert_int_equal(proto_req_decode(bad, sizeof(bad), &req), -EOPNOTSUPP);
	free(parts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_produce_frames),
		cmocka_unit_test(test_produce_file_records),
		cmocka_unit_test(test_produce_response),
		cmocka_unit_test(test_produce_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
