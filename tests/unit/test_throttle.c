/*
 * test_throttle.c — the replication throttles (repl/throttle.h): the
 * throttled-replicas list (Kafka's validation, canonical form, which
 * partitions it names for a broker), the windowed rate (Kafka's
 * SimpleRate), the quota and the decision "this partition's replication
 * is held back for this replica now", and the topic keys through
 * topic_config_apply.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/config.h"
#include "repl/throttle.h"

static int check(const char *s)
{
	char why[256] = "";
	int rc = throttle_list_check(s, strlen(s), why, sizeof(why));

	if (rc < 0)
		assert_non_null(strstr(why, "must be the literal '*' or a list of replicas"));
	return rc;
}

static void test_list_check(void **state)
{
	static const char *const good[] = {
		"*",       " * ",         "",         " ",       "0:1",
		"0:1,1:2", " 0:1 , 1:2 ", "0:1,,1:2", "12:1001", "2147483647:0",
	};
	static const char *const bad[] = {
		"*,0:1", "**",   "a:1", "0:",    ":1",           "0:1:2",
		"-1:2",  "0:-2", "0;1", "0:1,x", "2147483648:1", "0:99999999999",
		"0 :1",  "*,*",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(check(good[i]), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(check(bad[i]), -EINVAL);
}

static void test_list_canon_has(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(throttle_list_canon(" 0:1 , 1:2 ", 11, out, sizeof(out)), 0);
	assert_string_equal(out, "0:1,1:2");
	assert_int_equal(throttle_list_canon(" * ", 3, out, sizeof(out)), 0);
	assert_string_equal(out, "*");
	assert_int_equal(throttle_list_canon("  ", 2, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(throttle_list_canon("0:1,1:2,2:3,3:4", 15, out, sizeof(out)), 0);
	assert_int_equal(throttle_list_canon("0:1,1:2,2:3,3:45", 16, out, sizeof(out)),
			 -ENAMETOOLONG);

	assert_true(throttle_list_has("0:1,1:2", 0, 1));
	assert_true(throttle_list_has("0:1,1:2", 1, 2));
	assert_false(throttle_list_has("0:1,1:2", 0, 2));
	assert_false(throttle_list_has("0:1,1:2", 2, 1));
	assert_false(throttle_list_has("10:1", 0, 1));
	assert_true(throttle_list_has("*", 7, 9));
	assert_false(throttle_list_has("", 0, 0));
}

static void test_rate_parse(void **state)
{
	static const char *const bad[] = {
		"", "-1", "1.5", "abc", "12k", " 1", "9223372036854775808", "99999999999999999999"
	};
	char why[128];
	int64_t r;

	(void)state;
	assert_int_equal(throttle_rate_parse("0", &r, why, sizeof(why)), 0);
	assert_int_equal(r, 0);
	assert_int_equal(throttle_rate_parse("262144", &r, why, sizeof(why)), 0);
	assert_int_equal(r, 262144);
	assert_int_equal(throttle_rate_parse("9223372036854775807", &r, why, sizeof(why)), 0);
	assert_true(r == INT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(throttle_rate_parse(bad[i], &r, why, sizeof(why)), -EINVAL);
}

/* Kafka's SimpleRate: the sum over the time since the oldest sample's
 * start, at least one window; samples idle for samples * window expire. */
static void test_rate_window(void **state)
{
	struct throttle_rate *r = malloc(sizeof(*r));

	(void)state;
	throttle_rate_init(r, 11, 1000);
	assert_true(throttle_rate_measure(r, 0) == 0.0);
	throttle_rate_record(r, 1000, 0);
	/* Less than a window: counted over one window, not over 0 ms. */
	assert_true(throttle_rate_measure(r, 0) == 1000.0);
	assert_true(throttle_rate_measure(r, 500) == 1000.0);
	assert_true(throttle_rate_measure(r, 2000) == 500.0);
	/* A record a window after the current sample started: a new one. */
	throttle_rate_record(r, 1000, 2000);
	assert_true(throttle_rate_measure(r, 2000) == 1000.0);
	assert_true(throttle_rate_measure(r, 4000) == 500.0);
	/* 11 s after the first sample's last event it is emptied and starts
	 * again: the second alone, over the time since its start. */
	assert_true(throttle_rate_measure(r, 11000) == 1000.0 * 1000.0 / 9000.0);
	/* Both idle for 11 windows: nothing. */
	assert_true(throttle_rate_measure(r, 13000) == 0.0);
	/* The slots wrap around: 30 windows of 100 bytes, each in its own
	 * sample; the 12 slots keep the last 12, of which the oldest (last
	 * event 11 windows ago) expires: 11 samples over 10 s. */
	for (int i = 0; i < 30; i++)
		throttle_rate_record(r, 100, 20000 + 1000 * i);
	assert_true(throttle_rate_measure(r, 49000) == 1100.0 * 1000.0 / 10000.0);
	free(r);
}

static void test_quota_decision(void **state)
{
	struct repl_throttle *t;

	(void)state;
	assert_int_equal(repl_throttle_new(2, 0, 1, &t), -EINVAL);
	assert_int_equal(repl_throttle_new(2, 11, 0, &t), -EINVAL);
	assert_int_equal(repl_throttle_new(2, 11, 1, &t), 0);
	/* Broker 2: leader list names partition 0 on broker 2 and partition
	 * 1 on broker 3; the follower list every replica. */
	assert_int_equal(repl_throttle_topic(t, "t", "0:2,1:3,4:2", "*"), 0);
	assert_true(throttle_quota_is_throttled(&t->leader, "t", 1, 0));
	assert_true(throttle_quota_is_throttled(&t->leader, "t", 1, 4));
	assert_false(throttle_quota_is_throttled(&t->leader, "t", 1, 1));
	assert_false(throttle_quota_is_throttled(&t->leader, "tt", 2, 0));
	assert_true(throttle_quota_is_throttled(&t->follower, "t", 1, 1));
	assert_true(throttle_quota_is_throttled(&t->follower, "t", 1, 99));

	/* Unbounded (the default): never held, whatever the bytes. */
	throttle_quota_record(&t->leader, INT32_MAX, 0);
	assert_false(throttle_quota_exceeded(&t->leader, 0));
	assert_false(throttle_quota_holds(&t->leader, "t", 1, 0, false, 0));

	repl_throttle_set_rates(t, 1000, 1000);
	assert_true(throttle_quota_bound(&t->leader) == 1000);
	/* INT32_MAX bytes recorded at 0: far over 1000 bytes/s. */
	assert_true(throttle_quota_exceeded(&t->leader, 10));
	/* Held: throttled here, out of sync, over the rate. */
	assert_true(throttle_quota_holds(&t->leader, "t", 1, 0, false, 10));
	/* In sync (the ISR on the leader): never held. */
	assert_false(throttle_quota_holds(&t->leader, "t", 1, 0, true, 10));
	/* Not throttled on this broker, or another topic: never held. */
	assert_false(throttle_quota_holds(&t->leader, "t", 1, 1, false, 10));
	assert_false(throttle_quota_holds(&t->leader, "u", 1, 0, false, 10));

	/* The follower: 5000 bytes at 0 over a bound of 1000 bytes/s are
	 * over it until the rate falls to the bound (5 s), not after. */
	throttle_quota_record(&t->follower, 5000, 0);
	assert_true(throttle_quota_holds(&t->follower, "t", 1, 3, false, 4000));
	assert_false(throttle_quota_holds(&t->follower, "t", 1, 3, false, 5000));
	assert_true(throttle_quota_rate(&t->follower, 5000) == 1000.0);

	/* The lists changed: partition 0 no longer named; then the topic
	 * gone. */
	assert_int_equal(repl_throttle_topic(t, "t", "1:3", ""), 0);
	assert_false(throttle_quota_holds(&t->leader, "t", 1, 0, false, 10));
	assert_false(throttle_quota_is_throttled(&t->follower, "t", 1, 1));
	assert_int_equal(repl_throttle_topic(t, "t", "4:2", "0:2"), 0);
	assert_true(throttle_quota_is_throttled(&t->leader, "t", 1, 4));
	assert_int_equal(repl_throttle_topic(t, "t", NULL, NULL), 0);
	assert_false(throttle_quota_is_throttled(&t->leader, "t", 1, 4));
	assert_false(throttle_quota_is_throttled(&t->follower, "t", 1, 0));
	/* Unbounded again. */
	repl_throttle_set_rates(t, THROTTLE_UNBOUNDED, THROTTLE_UNBOUNDED);
	assert_false(throttle_quota_exceeded(&t->leader, 10));
	repl_throttle_free(t);
	repl_throttle_free(NULL);
}

/* The topic keys: validated, kept canonical, rendered, removed with
 * "-key". */
static void test_topic_keys(void **state)
{
	struct topic_config *tc = calloc(1, sizeof(*tc)), *def = calloc(1, sizeof(*def));
	struct broker_config *bc = calloc(1, sizeof(*bc));
	char err[256] = "", *text;
	const char *set = "leader.replication.throttled.replicas= 0:1 , 1:2 \n"
			  "follower.replication.throttled.replicas=*\n";
	const char *bad = "leader.replication.throttled.replicas=0:1,x\n";
	size_t len;

	(void)state;
	broker_config_defaults(bc);
	topic_config_defaults_of(bc, def);
	*tc = *def;
	assert_int_equal(topic_config_apply(tc, set, strlen(set), err, sizeof(err)), 0);
	assert_string_equal(tc->leader_throttled, "0:1,1:2");
	assert_string_equal(tc->follower_throttled, "*");
	assert_true(topic_config_key_set(tc, THROTTLE_LEADER_REPLICAS,
					 strlen(THROTTLE_LEADER_REPLICAS)));
	assert_int_equal(topic_config_render(tc, &text, &len), 0);
	assert_non_null(strstr(text, "\nleader.replication.throttled.replicas=0:1,1:2\n"));
	assert_non_null(strstr(text, "\nfollower.replication.throttled.replicas=*\n"));
	free(text);
	/* A bad list: refused whole, with Kafka's reason; nothing changed. */
	assert_int_equal(topic_config_apply(tc, bad, strlen(bad), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "leader.replication.throttled.replicas"));
	assert_non_null(strstr(err, "must be the literal '*'"));
	assert_string_equal(tc->leader_throttled, "0:1,1:2");
	/* Removed: the default, no list. */
	assert_int_equal(topic_config_apply_def(tc, def, "-" THROTTLE_FOLLOWER_REPLICAS,
						strlen("-" THROTTLE_FOLLOWER_REPLICAS), err,
						sizeof(err)),
			 0);
	assert_string_equal(tc->follower_throttled, "");
	assert_string_equal(tc->leader_throttled, "0:1,1:2");
	free(tc);
	free(def);
	free(bc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_check),     cmocka_unit_test(test_list_canon_has),
		cmocka_unit_test(test_rate_parse),     cmocka_unit_test(test_rate_window),
		cmocka_unit_test(test_quota_decision), cmocka_unit_test(test_topic_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
