/*
 * test_proto_producer_id.c — the InitProducerId (22) codec against byte
 * strings built by hand from Kafka's InitProducerIdRequest.json and
 * InitProducerIdResponse.json: v0 (request header v1, a null
 * transactional id as INT16 -1), v3 (flexible: header v2, a compact null
 * string, producer id and epoch, tagged fields), every truncation
 * refused, every version round-tripped to the same bytes, and a version
 * outside 0-4 refused.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/proto.h"
#include "tests/unit/protofx.h"

static int req_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_init_pid_req_encode(w, v, b);
}
static const void *req_of(const struct proto_req *r)
{
	return &r->u.init_pid;
}
static int resp_dec(const uint8_t *b, size_t n, int16_t v, void *out)
{
	struct kbuf_r r;

	kbuf_r_init(&r, b, n);
	return proto_init_pid_resp_decode(&r, v, out);
}
static int resp_enc(struct kbuf_w *w, int16_t v, const void *in)
{
	return proto_init_pid_resp_encode(w, v, in);
}
static void resp_free(void *p)
{
	(void)p;
}

static void test_request(void **state)
{
	struct proto_req req;

	(void)state;
	/* v0: api_key 22, version 0, correlation 7, client "c"; null
	 * transactional id, transaction_timeout_ms 60000. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x16, 0x00, 0x00, PI32(7), 0x00, 0x01, 'c', 0xff,
					     0xff, PI32(60000)),
			       req_enc, req_of, &req);
	assert_null(req.u.init_pid.transactional_id.ptr);
	assert_int_equal(req.u.init_pid.transaction_timeout_ms, 60000);
	assert_true(req.u.init_pid.producer_id == -1);
	assert_int_equal(req.u.init_pid.producer_epoch, -1);
	proto_req_free(&req);
	/* v3: header v2 (its tagged fields), compact null string (0), the
	 * producer id 1234 and epoch 5 to resume, tagged fields. */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x16, 0x00, 0x03, PI32(8), 0x00, 0x01, 'c', 0x00,
					     0x00, PI32(60000), PI64(1234), 0x00, 0x05, 0x00),
			       req_enc, req_of, &req);
	assert_null(req.u.init_pid.transactional_id.ptr);
	assert_true(req.u.init_pid.producer_id == 1234);
	assert_int_equal(req.u.init_pid.producer_epoch, 5);
	proto_req_free(&req);
	/* a transactional id, v2: compact string "tx" (length + 1) */
	protofx_req_same_bytes(PROTOFX_BYTES(0x00, 0x16, 0x00, 0x02, PI32(9), 0x00, 0x01, 'c', 0x00,
					     0x03, 't', 'x', PI32(1000), 0x00),
			       req_enc, req_of, &req);
	assert_true(kstr_eq(req.u.init_pid.transactional_id, "tx"));
	proto_req_free(&req);
	for (int16_t v = 0; v <= 4; v++) {
		struct proto_init_pid_req in = { KSTR_NULL, 100, 77, 2 };
		uint8_t *frame;

		protofx_req_round(PROTO_API_INIT_PRODUCER_ID, v, req_enc, req_of, &in, &req,
				  &frame);
		assert_true(req.u.init_pid.producer_id == (v >= 3 ? 77 : -1));
		proto_req_free(&req);
		free(frame);
	}
	assert_false(proto_api_supported(PROTO_API_INIT_PRODUCER_ID, 5));
}

static void test_response(void **state)
{
	struct proto_init_pid_resp out;
	struct kbuf_w w;

	(void)state;
	/* v0: throttle 0, NONE, producer id 42, epoch 0 */
	protofx_same_bytes(resp_dec, resp_enc, resp_free,
			   PROTOFX_BYTES(PI32(0), 0x00, 0x00, PI64(42), 0x00, 0x00), 0, &out);
	assert_true(out.producer_id == 42);
	assert_int_equal(out.producer_epoch, 0);
	/* v2: the same and tagged fields; an error: COORDINATOR_NOT_AVAILABLE */
	protofx_same_bytes(resp_dec, resp_enc, resp_free,
			   PROTOFX_BYTES(PI32(5), 0x00, 0x0f, PI64(-1), 0xff, 0xff, 0x00), 2, &out);
	assert_int_equal(out.throttle_time_ms, 5);
	assert_int_equal(out.error_code, 15);
	assert_true(out.producer_id == -1);
	assert_int_equal(out.producer_epoch, -1);
	kbuf_w_init(&w, 64);
	assert_int_equal(proto_init_pid_resp_encode(&w, 5, &out), -EOPNOTSUPP);
	kbuf_w_free(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_response),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
