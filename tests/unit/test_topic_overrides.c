/*
 * test_topic_overrides.c — a topic's settings as the overrides a cluster
 * keeps in /config/topics/<t> (repl/topic_overrides.c), and the change
 * notification of /config/changes (zkdata.c): settings given explicitly
 * or that differ from the broker's defaults are overrides, never
 * `partitions`; keys
 * that are not topic settings are kept; the text built from overrides
 * gives back the same settings; key.separator and line.format are named
 * only when overridden; a value spanning lines is not taken.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/zkdata.h"

static void defaults(struct topic_config *tc)
{
	struct broker_config bc;

	broker_config_defaults(&bc);
	topic_config_defaults_of(&bc, tc);
}

static void test_diff_and_back(void **state)
{
	struct topic_config def, tc, back;
	struct zk_config keep = { 0 }, over;
	char err[200], *text = NULL;
	size_t len = 0;
	const char *set =
		"partitions=4\nretention.ms=1000\nkey.separator=\\t\nmin.insync.replicas=2\n";

	(void)state;
	defaults(&def);
	tc = def;
	assert_int_equal(topic_config_apply(&tc, set, strlen(set), err, sizeof(err)), 0);
	assert_int_equal(zk_config_put(&keep, "mqfs.mode", 9, "0750", 4), 0);
	assert_int_equal(zk_config_put(&keep, "retention.ms", 12, "5", 1), 0); /* replaced */
	assert_int_equal(topic_overrides_diff(&tc, &def, &keep, &over), 0);
	assert_int_equal(over.n, 4);
	assert_string_equal(zk_config_get(&over, "mqfs.mode"), "0750");
	assert_string_equal(zk_config_get(&over, "retention.ms"), "1000");
	assert_string_equal(zk_config_get(&over, "key.separator"), "\\t");
	assert_string_equal(zk_config_get(&over, "min.insync.replicas"), "2");
	assert_null(zk_config_get(&over, "partitions"));
	assert_null(zk_config_get(&over, "segment.bytes"));

	/* Back: the same settings (partitions aside) over any starting point. */
	assert_int_equal(topic_overrides_text(&over, &def, &text, &len), 0);
	assert_null(strstr(text, "partitions="));
	assert_non_null(strstr(text, "key.separator=\\t\n"));
	assert_null(strstr(text, "line.format="));
	back = def;
	const char *other = "retention.ms=7\nsegment.bytes=4096\n";
	assert_int_equal(topic_config_apply(&back, other, strlen(other), err, sizeof(err)), 0);
	assert_non_null(strstr(text, "-segment.bytes\n"));
	assert_int_equal(topic_config_apply_def(&back, &def, text, len, err, sizeof(err)), 0);
	back.partitions = tc.partitions;
	assert_memory_equal(&back, &tc, sizeof(tc));
	free(text);
	zk_config_clear(&over);
	zk_config_clear(&keep);
}

/* A setting given with the default's value is an override all the same
 * (Kafka keeps every key set): in the overrides, and back from them over
 * a broker whose default changed since; "-key" makes it follow the
 * default again. */
static void test_override_equal_to_default(void **state)
{
	struct broker_config bc;
	struct topic_config def, tc, back;
	struct zk_config over;
	char err[200];
	const char *set = "retention.ms=604800000\n";

	(void)state;
	defaults(&def);
	tc = def;
	assert_int_equal(topic_config_apply(&tc, set, strlen(set), err, sizeof(err)), 0);
	assert_true(topic_config_key_set(&tc, "retention.ms", 12));
	assert_int_equal(topic_overrides_diff(&tc, &def, NULL, &over), 0);
	assert_int_equal(over.n, 1);
	assert_string_equal(zk_config_get(&over, "retention.ms"), "604800000");
	/* Another broker, or this one restarted with log.retention.ms=1000. */
	broker_config_defaults(&bc);
	bc.log.retention_ms = 1000;
	assert_int_equal(topic_config_of_overrides(&bc, &over, &back, err, sizeof(err)), 0);
	assert_int_equal(back.log.retention_ms, 604800000);
	assert_true(topic_config_key_set(&back, "retention.ms", 12));
	assert_false(topic_config_key_set(&back, "segment.bytes", 13));
	zk_config_clear(&over);
	/* The override removed: the default again, and no override left. */
	topic_config_defaults_of(&bc, &def);
	assert_int_equal(
		topic_config_apply_def(&back, &def, "-retention.ms\n", 14, err, sizeof(err)), 0);
	assert_int_equal(back.log.retention_ms, 1000);
	assert_false(topic_config_key_set(&back, "retention.ms", 12));
	assert_int_equal(topic_overrides_diff(&back, &def, NULL, &over), 0);
	assert_int_equal(over.n, 0);
	zk_config_clear(&over);
}

/* Overrides are loaded, not set: a min.compaction.lag.ms override above
 * a broker default max.compaction.lag.ms lowered since is taken (Kafka's
 * LogConfig.fromProps checks nothing across settings), and
 * topic_config_check says the pair in Kafka's words. */
static void test_lag_conflict_loaded(void **state)
{
	struct broker_config bc;
	struct topic_config tc;
	struct zk_config over = { 0 };
	char err[200] = "";

	(void)state;
	broker_config_defaults(&bc);
	bc.log.max_compaction_lag_ms = 1000;
	assert_int_equal(zk_config_put(&over, "min.compaction.lag.ms", 21, "5000", 4), 0);
	assert_int_equal(zk_config_put(&over, "retention.ms", 12, "7000", 4), 0);
	assert_int_equal(topic_config_of_overrides(&bc, &over, &tc, err, sizeof(err)), 0);
	assert_int_equal(tc.log.min_compaction_lag_ms, 5000);
	assert_int_equal(tc.log.max_compaction_lag_ms, 1000);
	assert_int_equal(tc.log.retention_ms, 7000);
	assert_int_equal(topic_config_check(&tc, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "conflict topic config setting min.compaction.lag.ms (5000) > "
				 "max.compaction.lag.ms (1000)");
	/* Set, the same pair is refused, and nothing changes. */
	assert_int_equal(topic_config_apply(&tc, "retention.ms=1\n", 15, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "conflict topic config setting min.compaction.lag.ms (5000) > "
				 "max.compaction.lag.ms (1000)");
	assert_int_equal(tc.log.retention_ms, 7000);
	zk_config_clear(&over);
}

static void test_multiline_value_ignored(void **state)
{
	struct topic_config def;
	struct zk_config zc = { 0 };
	char *text = NULL;
	size_t len = 0;

	(void)state;
	defaults(&def);
	assert_int_equal(zk_config_put(&zc, "retention.ms", 12, "1\nsegment.bytes=5", 17), 0);
	assert_int_equal(topic_overrides_text(&zc, &def, &text, &len), 0);
	assert_non_null(strstr(text, "\n-retention.ms\n"));
	assert_non_null(strstr(text, "\n-segment.bytes\n"));
	free(text);
	zk_config_clear(&zc);
}

static void test_change_notification(void **state)
{
	char ent[64], why[ZK_WHY_LEN];
	char *doc = zk_config_change_encode("topics/orders");

	(void)state;
	assert_string_equal(doc, "{\"version\":2,\"entity_path\":\"topics/orders\"}");
	assert_int_equal(zk_config_change_decode(doc, strlen(doc), ent, sizeof(ent), why), 0);
	assert_string_equal(ent, "topics/orders");
	free(doc);
	doc = zk_config_change_user_encode("alice");
	assert_string_equal(doc, "{\"version\":2,\"entity_path\":\"users/alice\"}");
	free(doc);
	assert_int_equal(zk_config_change_decode("{\"version\":1,\"entity_path\":\"x\"}", 31, ent,
						 sizeof(ent), why),
			 -EBADMSG);
	assert_int_equal(zk_config_change_decode("{\"version\":2}", 13, ent, sizeof(ent), why),
			 -EBADMSG);
	assert_int_equal(zk_config_change_decode("{\"version\":2,\"entity_path\":\"topics/a\"}", 37,
						 ent, 4, why),
			 -EBADMSG);
}

static void test_broker_key(void **state)
{
	(void)state;
	assert_string_equal(topic_config_broker_key("segment.bytes"), "log.segment.bytes");
	assert_string_equal(topic_config_broker_key("segment.ms"), "log.roll.ms");
	assert_string_equal(topic_config_broker_key("max.message.bytes"), "message.max.bytes");
	assert_string_equal(topic_config_broker_key("min.insync.replicas"), "min.insync.replicas");
	assert_string_equal(topic_config_broker_key("partitions"), "num.partitions");
	assert_null(topic_config_broker_key("mqfs.mode"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diff_and_back),
		cmocka_unit_test(test_override_equal_to_default),
		cmocka_unit_test(test_lag_conflict_loaded),
		cmocka_unit_test(test_multiline_value_ignored),
		cmocka_unit_test(test_change_notification),
		cmocka_unit_test(test_broker_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
