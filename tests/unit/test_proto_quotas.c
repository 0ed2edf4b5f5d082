/*
 * test_proto_quotas.c — the DescribeClientQuotas (48) and
 * AlterClientQuotas (49) codecs against byte strings built by hand from
 * Kafka's DescribeClientQuotas*.json and AlterClientQuotas*.json: v0
 * (header v1, INT16 strings, INT32 arrays) and v1 (flexible), FLOAT64
 * values as IEEE 754 big-endian, a null entity name for the default
 * entity, every truncation refused, the same bytes encoded back, and v2
 * refused.
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

#define F64_1024 0x40, 0x90, 0, 0, 0, 0, 0, 0
#define F64_2048 0x40, 0xa0, 0, 0, 0, 0, 0, 0

static int describe_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_describe_quotas_req_encode(w, v, b);
}
static const void *describe_of(const struct proto_req *r)
{
	return &r->u.describe_quotas;
}
static int alter_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_alter_quotas_req_encode(w, v, b);
}
static const void *alter_of(const struct proto_req *r)
{
	return &r->u.alter_quotas;
}
PROTOFX_RESP_CODEC(describe_resp, describe_quotas)
PROTOFX_RESP_CODEC(alter_resp, alter_quotas)

static void test_describe_request(void **state)
{
	const struct proto_describe_quotas_req *d;
	struct proto_req req;

	(void)state;
	/* v0: components [("client-id", exact, "c1"), ("user", default,
	 * null)], strict true */
	protofx_req_same_bytes(PROTOFX_BYTES(0, 48, 0, 0, PI32(7), 0, 1, 'c', PI32(2), 0, 9, 'c',
					     'l', 'i', 'e', 'n', 't', '-', 'i', 'd', 0, 0, 2, 'c',
					     '1', 0, 4, 'u', 's', 'e', 'r', 1, 0xff, 0xff, 1),
			       describe_enc, describe_of, &req);
	d = &req.u.describe_quotas;
	assert_int_equal(d->n_components, 2);
	assert_true(kstr_eq(d->components[0].match, "c1"));
	assert_int_equal(d->components[1].match_type, PROTO_QUOTA_MATCH_DEFAULT);
	assert_null(d->components[1].match.ptr);
	assert_true(d->strict);
	proto_req_free(&req);
	/* v1: flexible; one component ("user", any, null), not strict */
	protofx_req_same_bytes(PROTOFX_BYTES(0, 48, 0, 1, PI32(8), 0, 1, 'c', 0, 2, 5, 'u', 's',
					     'e', 'r', 2, 0, 0, 0, 0),
			       describe_enc, describe_of, &req);
	assert_int_equal(req.u.describe_quotas.components[0].match_type, PROTO_QUOTA_MATCH_ANY);
	assert_false(req.u.describe_quotas.strict);
	proto_req_free(&req);
	assert_false(proto_api_supported(PROTO_API_DESCRIBE_CLIENT_QUOTAS, 2));
}

static void test_alter_request(void **state)
{
	const struct proto_alter_quotas_entry *e;
	struct proto_req req;

	(void)state;
	/* v0: entity [("user","alice"),("client-id",null)], ops
	 * [("producer_byte_rate",1024,false)], validate_only true */
	protofx_req_same_bytes(PROTOFX_BYTES(0, 49, 0, 0, PI32(9), 0, 1, 'c', PI32(1), PI32(2), 0,
					     4, 'u', 's', 'e', 'r', 0, 5, 'a', 'l', 'i', 'c', 'e',
					     0, 9, 'c', 'l', 'i', 'e', 'n', 't', '-', 'i', 'd',
					     0xff, 0xff, PI32(1), 0, 18, 'p', 'r', 'o', 'd', 'u',
					     'c', 'e', 'r', '_', 'b', 'y', 't', 'e', '_', 'r', 'a',
					     't', 'e', F64_1024, 0, 1),
			       alter_enc, alter_of, &req);
	e = &req.u.alter_quotas.entries[0];
	assert_int_equal(req.u.alter_quotas.n_entries, 1);
	assert_int_equal(e->n_parts, 2);
	assert_true(kstr_eq(e->parts[0].entity_name, "alice"));
	assert_null(e->parts[1].entity_name.ptr);
	assert_true(e->ops[0].value == 1024.0);
	assert_false(e->ops[0].remove);
	assert_true(req.u.alter_quotas.validate_only);
	proto_req_free(&req);
	/* v1: entity [("client-id","c1")], ops [("consumer_byte_rate", 2048,
	 * remove)] */
	protofx_req_same_bytes(PROTOFX_BYTES(0, 49, 0, 1, PI32(10), 0, 1, 'c', 0, 2, 2, 10, 'c',
					     'l', 'i', 'e', 'n', 't', '-', 'i', 'd', 3, 'c', '1', 0,
					     2, 19, 'c', 'o', 'n', 's', 'u', 'm', 'e', 'r', '_',
					     'b', 'y', 't', 'e', '_', 'r', 'a', 't', 'e', F64_2048,
					     1, 0, 0, 0, 0),
			       alter_enc, alter_of, &req);
	assert_true(req.u.alter_quotas.entries[0].ops[0].remove);
	assert_true(req.u.alter_quotas.entries[0].ops[0].value == 2048.0);
	proto_req_free(&req);
}

static void test_responses(void **state)
{
	struct proto_describe_quotas_resp d;
	struct proto_alter_quotas_resp a;

	(void)state;
	/* Describe v0: throttle 0, NONE, null message, one entry: entity
	 * [("client-id","c1")], values [("producer_byte_rate",1024)] */
	protofx_same_bytes(describe_resp_dec, describe_resp_renc, describe_resp_free,
			   PROTOFX_BYTES(PI32(0), 0, 0, 0xff, 0xff, PI32(1), PI32(1), 0, 9, 'c',
					 'l', 'i', 'e', 'n', 't', '-', 'i', 'd', 0, 2, 'c', '1',
					 PI32(1), 0, 18, 'p', 'r', 'o', 'd', 'u', 'c', 'e', 'r',
					 '_', 'b', 'y', 't', 'e', '_', 'r', 'a', 't', 'e',
					 F64_1024),
			   0, &d);
	assert_int_equal(d.n_entries, 1);
	assert_true(d.entries[0].values[0].value == 1024.0);
	proto_describe_quotas_resp_free(&d);
	/* Describe v1: an error, entries null */
	protofx_same_bytes(describe_resp_dec, describe_resp_renc, describe_resp_free,
			   PROTOFX_BYTES(PI32(0), 0, 42, 2, 'x', 0, 0), 1, &d);
	assert_int_equal(d.error_code, 42);
	assert_int_equal(d.n_entries, -1);
	proto_describe_quotas_resp_free(&d);
	/* Alter v1: one result INVALID_REQUEST "x" for [("user", null)] */
	protofx_same_bytes(
		alter_resp_dec, alter_resp_renc, alter_resp_free,
		PROTOFX_BYTES(PI32(3), 2, 0, 42, 2, 'x', 2, 5, 'u', 's', 'e', 'r', 0, 0, 0, 0), 1,
		&a);
	assert_int_equal(a.throttle_time_ms, 3);
	assert_int_equal(a.results[0].error_code, 42);
	assert_null(a.results[0].parts[0].entity_name.ptr);
	proto_alter_quotas_resp_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe_request),
		cmocka_unit_test(test_alter_request),
		cmocka_unit_test(test_responses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
