/*
 * test_client_quota.c — Kafka's client quotas (repl/client_quota.h): the
 * resolution order of the eight entities, each key on its own; the
 * throttle time (rate - bound) / bound * span once the bound is passed,
 * 0 within it; the metric entity a client-id quota shares between users;
 * Kafka's Rate span (quota.window.num - 1 windows at least); names
 * sanitized as Kafka's Sanitizer; Kafka's checks of an op's value; an
 * empty client id bound by the user's entities only.
 * The clock is the tests' own (now_ms arguments), never read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/client_quota.h"
#include "repl/throttle.h"

/* The table of ents (user, client, producer, consumer), copied. */
static void table(struct client_quotas *q, const struct client_quota_entity *in, int n)
{
	struct client_quota_entity *v = calloc((size_t)n + 1, sizeof(*v));

	assert_non_null(v);
	for (int i = 0; i < n; i++) {
		v[i] = in[i];
		v[i].user = in[i].user ? strdup(in[i].user) : NULL;
		v[i].client = in[i].client ? strdup(in[i].client) : NULL;
	}
	client_quotas_replace(q, v, n);
}

#define D CLIENT_QUOTA_DEFAULT

static void test_resolution_order(void **state)
{
	/* One entity of each step, bound 100 * step; removed one by one
	 * from the first, each next step takes over. */
	const struct client_quota_entity all[8] = {
		{ "u", "c", 100, -1 },  { "u", D, 200, -1 },  { "u", NULL, 300, -1 },
		{ D, "c", 400, -1 },    { D, D, 500, -1 },    { D, NULL, 600, -1 },
		{ NULL, "c", 700, -1 }, { NULL, D, 800, -1 },
	};
	struct client_quotas *q;
	int which;

	(void)state;
	assert_int_equal(client_quotas_new(11, 1000, &q), 0);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "u", "c", &which), -1);
	assert_int_equal(which, 0);
	for (int first = 0; first < 8; first++) {
		table(q, &all[first], 8 - first);
		assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "u", "c", &which),
				 100 * (first + 1));
		assert_int_equal(which, first + 1);
		/* The consumer key is set nowhere. */
		assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_FETCH, "u", "c", NULL), -1);
	}
	/* Another user and client: only the defaults apply. */
	table(q, all, 8);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "v", "x", &which), 500);
	assert_int_equal(which, 5);
	/* No user (PLAINTEXT) is ANONYMOUS. */
	const struct client_quota_entity anon[2] = { { "ANONYMOUS", NULL, 42, -1 },
						     { NULL, D, 7, -1 } };
	table(q, anon, 2);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, NULL, "x", NULL), 42);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "u", "x", NULL), 7);
	client_quotas_free(q);
}

static void test_keys_apart(void **state)
{
	/* users/u sets only the consumer's: the producer's comes from the
	 * client's entity, lower in the order. */
	const struct client_quota_entity ents[2] = { { "u", NULL, -1, 2048 },
						     { NULL, "c", 1024, 4096 } };
	struct client_quotas *q;
	int which;

	(void)state;
	assert_int_equal(client_quotas_new(11, 1000, &q), 0);
	table(q, ents, 2);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_FETCH, "u", "c", &which), 2048);
	assert_int_equal(which, 3);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "u", "c", &which), 1024);
	assert_int_equal(which, 7);
	client_quotas_free(q);
}

static void test_empty_client_id(void **state)
{
	/* Kafka's DefaultQuotaCallback: an empty (or null) client id has
	 * metric tags with no client id, so only users/U and users/<default>
	 * can bind it; every entity naming a client, <default> included,
	 * leaves it alone. */
	const struct client_quota_entity all[8] = {
		{ "u", "c", 100, -1 },  { "u", D, 200, -1 },  { "u", NULL, 300, -1 },
		{ D, "c", 400, -1 },    { D, D, 500, -1 },    { D, NULL, 600, -1 },
		{ NULL, "c", 700, -1 }, { NULL, D, 800, -1 },
	};
	const struct client_quota_entity clients[2] = { { D, D, 500, -1 }, { NULL, D, 800, -1 } };
	struct client_quotas *q;
	int which;

	(void)state;
	assert_int_equal(client_quotas_new(11, 1000, &q), 0);
	table(q, all, 8);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "u", "", &which), 300);
	assert_int_equal(which, 3);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "u", NULL, &which), 300);
	assert_int_equal(which, 3);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "v", "", &which), 600);
	assert_int_equal(which, 6);
	/* A named client is still bound as before. */
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "v", "x", &which), 500);
	/* Only client-id defaults: nothing binds the empty client id, and
	 * no amount of bytes throttles it. */
	table(q, clients, 2);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, "v", "", &which), -1);
	assert_int_equal(which, 0);
	assert_int_equal(client_quotas_bound(q, CLIENT_QUOTA_PRODUCE, NULL, NULL, &which), -1);
	assert_int_equal(client_quotas_record(q, CLIENT_QUOTA_PRODUCE, NULL, "", 1 << 30, false, 0),
			 0);
	assert_int_equal(
		client_quotas_record(q, CLIENT_QUOTA_PRODUCE, NULL, "x", 1 << 30, false, 0) > 0, 1);
	client_quotas_free(q);
}

static void test_throttle_time(void **state)
{
	const struct client_quota_entity ents[1] = { { NULL, "c", 1000, -1 } };
	struct client_quotas *q;

	(void)state;
	/* 11 windows of 1 s: the rate divides by 10 s at least. */
	assert_int_equal(client_quotas_new(11, 1000, &q), 0);
	table(q, ents, 1);
	/* 5000 bytes at t=0: 500 B/s over 10 s, within the bound. */
	assert_int_equal(client_quotas_record(q, CLIENT_QUOTA_PRODUCE, "u", "c", 5000, false, 0),
			 0);
	/* 15000 more at t=100: 20000 bytes over a span of 10100 ms;
	 * (rate - 1000) / 1000 * 10100 = 20000 - 10100 ms. */
	assert_int_equal(client_quotas_record(q, CLIENT_QUOTA_PRODUCE, "u", "c", 15000, false, 100),
			 9900);
	/* Another user of client c shares the client-id quota's rate: the
	 * metric entity is ("", "c"). 1000 more: 21000 - 10200 ms. */
	assert_int_equal(client_quotas_record(q, CLIENT_QUOTA_PRODUCE, "w", "c", 1000, false, 200),
			 10800);
	/* Fetches have no quota here, whatever the bytes. */
	assert_int_equal(client_quotas_record(q, CLIENT_QUOTA_FETCH, "u", "c", 1 << 30, false, 300),
			 0);
	/* A client without a quota is not measured at all. */
	assert_int_equal(
		client_quotas_record(q, CLIENT_QUOTA_PRODUCE, "u", "d", 1 << 30, false, 300), 0);
	/* Taken back (a throttled Fetch sends nothing): the rate stays
	 * what it was, so the same 1 byte more is still 21001 - 10300. */
	assert_int_equal(client_quotas_record(q, CLIENT_QUOTA_PRODUCE, "u", "c", 50000, true, 300),
			 60700);
	assert_int_equal(client_quotas_record(q, CLIENT_QUOTA_PRODUCE, "u", "c", 1, false, 300),
			 10701);
	/* The quota gone: nothing throttled, even at the same rate. */
	client_quotas_replace(q, NULL, 0);
	assert_int_equal(client_quotas_record(q, CLIENT_QUOTA_PRODUCE, "u", "c", 15000, false, 400),
			 0);
	client_quotas_free(q);
}

/* Kafka's getMaxValueInQuotaWindow, and that what it allows is never
 * throttled on a fresh rate: a Fetch capped to it always moves. */
static void test_window_max(void **state)
{
	const struct client_quota_entity ents[2] = { { NULL, "c", -1, 2048 },
						     { NULL, "big", -1, INT64_MAX / 2 } };
	struct client_quotas *q;
	int64_t max;

	(void)state;
	assert_int_equal(client_quotas_new(11, 1000, &q), 0);
	table(q, ents, 2);
	/* 10 windows of 1 s at 2048 B/s. */
	max = client_quotas_window_max(q, CLIENT_QUOTA_FETCH, "u", "c");
	assert_int_equal(max, 20480);
	assert_int_equal(client_quotas_record(q, CLIENT_QUOTA_FETCH, "u", "c", max, true, 0), 0);
	/* More on the same span: throttled. */
	assert_true(client_quotas_record(q, CLIENT_QUOTA_FETCH, "u", "c", 1000, true, 0) > 0);
	/* No quota: no cap; a bound too big to multiply: none either. */
	assert_true(client_quotas_window_max(q, CLIENT_QUOTA_FETCH, "u", "d") == INT64_MAX);
	assert_true(client_quotas_window_max(q, CLIENT_QUOTA_PRODUCE, "u", "c") == INT64_MAX);
	assert_true(client_quotas_window_max(q, CLIENT_QUOTA_FETCH, "u", "big") == INT64_MAX);
	client_quotas_free(q);
	/* 3 windows of 500 ms: 2 of them. */
	assert_int_equal(client_quotas_new(3, 500, &q), 0);
	table(q, ents, 1);
	assert_int_equal(client_quotas_window_max(q, CLIENT_QUOTA_FETCH, "u", "c"), 2048);
	client_quotas_free(q);
}

static void test_rate_span(void **state)
{
	struct throttle_rate r;

	(void)state;
	throttle_rate_init(&r, 11, 1000);
	throttle_rate_record(&r, 1000, 0);
	/* SimpleRate (replication): at least one window. */
	assert_int_equal(throttle_rate_span_ms(&r, 0), 1000);
	assert_int_equal(throttle_rate_span_ms(&r, 2500), 2500);
	/* Kafka's Rate: 2500 ms is 2 whole windows, 8 missing to 10. */
	r.min_windows = 10;
	assert_int_equal(throttle_rate_span_ms(&r, 0), 10000);
	assert_int_equal(throttle_rate_span_ms(&r, 2500), 10500);
	assert_true(throttle_rate_measure(&r, 0) == 100.0);
}

static void test_names(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(client_quota_sanitize("a.b-c_D9", 8, out, sizeof(out)), 8);
	assert_string_equal(out, "a.b-c_D9");
	assert_int_equal(client_quota_sanitize("a b/c@d*", 8, out, sizeof(out)), 16);
	assert_string_equal(out, "a%20b%2Fc%40d%2A");
	assert_int_equal(client_quota_sanitize("<default>", 9, out, sizeof(out)), 13);
	assert_string_equal(out, "%3Cdefault%3E"); /* never the default entity */
	assert_int_equal(client_quota_sanitize("abc", 3, out, 3), -ENAMETOOLONG);
	assert_int_equal(client_quota_desanitize("a%20b%2Fc%40d%2A", out, sizeof(out)), 8);
	assert_string_equal(out, "a b/c@d*");
	assert_int_equal(client_quota_desanitize("a%2", out, sizeof(out)), -EINVAL);
	assert_int_equal(client_quota_desanitize("a%zz", out, sizeof(out)), -EINVAL);
}

static void test_values(void **state)
{
	char out[32], why[128];

	(void)state;
	assert_int_equal(client_quota_value_text("producer_byte_rate", 1024.0, out, sizeof(out),
						 why, sizeof(why)),
			 0);
	assert_string_equal(out, "1024");
	assert_int_equal(client_quota_value_text("consumer_byte_rate", 2047.9999999, out,
						 sizeof(out), why, sizeof(why)),
			 0);
	assert_string_equal(out, "2048");
	assert_int_equal(client_quota_value_text("producer_byte_rate", 1.5, out, sizeof(out), why,
						 sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "Configuration producer_byte_rate must be a LONG value");
	assert_int_equal(client_quota_value_text("producer_byte_rate", 0, out, sizeof(out), why,
						 sizeof(why)),
			 -EINVAL);
	/* kafka-configs.sh's producer_byte_rate=9223372036854775807 (the
	 * keys' default, Long.MAX_VALUE) comes as the double 2^63: kept as
	 * Long.MAX_VALUE, as Kafka's; anything larger is not a LONG. */
	assert_int_equal(client_quota_value_text("producer_byte_rate", 9223372036854775807.0, out,
						 sizeof(out), why, sizeof(why)),
			 0);
	assert_string_equal(out, "9223372036854775807");
	assert_int_equal(client_quota_value_text("producer_byte_rate", 9.21e18, out, sizeof(out),
						 why, sizeof(why)),
			 0);
	assert_string_equal(out, "9210000000000000000");
	assert_int_equal(client_quota_value_text("producer_byte_rate", 1e19, out, sizeof(out), why,
						 sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "Configuration producer_byte_rate must be a LONG value");
	assert_int_equal(
		client_quota_value_text("produce_rate", 10, out, sizeof(out), why, sizeof(why)),
		-EINVAL);
	assert_string_equal(why, "Invalid configuration key produce_rate");
	assert_int_equal(client_quota_value_text("request_percentage", 50, out, sizeof(out), why,
						 sizeof(why)),
			 -EOPNOTSUPP);
	assert_int_equal(client_quota_value_text("controller_mutation_rate", 5, out, sizeof(out),
						 why, sizeof(why)),
			 -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resolution_order),
		cmocka_unit_test(test_keys_apart),
		cmocka_unit_test(test_empty_client_id),
		cmocka_unit_test(test_throttle_time),
		cmocka_unit_test(test_window_max),
		cmocka_unit_test(test_rate_span),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
