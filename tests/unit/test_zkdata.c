/*
 * test_zkdata.c — Kafka's ZooKeeper documents (repl/zkdata.c): decoding
 * the exact JSON Kafka writes (strings from Kafka's tests and docs),
 * encoding to the exact strings, round trips, and malformed documents
 * (wrong types, missing fields, out-of-range values, duplicates), each
 * refused with -EBADMSG and a reason. No server involved.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/sasl.h"
#include "repl/zkdata.h"

#define DEC(fn, doc, out, why) fn((doc), strlen(doc), (out), (why))

/* ---- /brokers/ids/<id> ---- */

/* Kafka's BrokerEndPointTest.testFromJsonV5. */
static const char kafka_broker_v5[] =
	"{\n"
	"  \"version\":5,\n"
	"  \"host\":\"localhost\",\n"
	"  \"port\":9092,\n"
	"  \"jmx_port\":9999,\n"
	"  \"timestamp\":\"2233345666\",\n"
	"  \"endpoints\":[\"CLIENT://host1:9092\", \"REPLICATION://host1:9093\"],\n"
	"  \"listener_security_protocol_map\":{\"CLIENT\":\"SSL\", \"REPLICATION\":\"PLAINTEXT\"},\n"
	"  \"rack\":\"dc1\",\n"
	"  \"features\": {\"feature1\": {\"min_version\": 1, \"max_version\": 2}, "
	"\"feature2\": {\"min_version\": 2, \"max_version\": 4}}\n"
	"}";

static void test_broker_kafka_v5(void **state)
{
	struct zk_broker b;
	char why[ZK_WHY_LEN] = "";

	(void)state;
	assert_int_equal(DEC(zk_broker_decode, kafka_broker_v5, &b, why), 0);
	assert_int_equal(b.version, 5);
	assert_int_equal(b.jmx_port, 9999);
	assert_true(b.timestamp == 2233345666LL);
	assert_string_equal(b.rack, "dc1");
	assert_string_equal(b.host, "localhost");
	assert_int_equal(b.port, 9092);
	assert_int_equal(b.n_endpoints, 2);
	assert_string_equal(b.endpoints[0].listener, "CLIENT");
	assert_string_equal(b.endpoints[0].security_protocol, "SSL");
	assert_string_equal(b.endpoints[0].host, "host1");
	assert_int_equal(b.endpoints[0].port, 9092);
	assert_string_equal(b.endpoints[1].listener, "REPLICATION");
	assert_string_equal(b.endpoints[1].security_protocol, "PLAINTEXT");
	assert_int_equal(b.endpoints[1].port, 9093);
	assert_int_equal(b.n_features, 2);
	assert_string_equal(b.features[0].name, "feature1");
	assert_int_equal(b.features[0].min_version, 1);
	assert_int_equal(b.features[0].max_version, 2);
	assert_int_equal(b.features[1].max_version, 4);
	zk_broker_clear(&b);
}

/* Older versions Kafka still reads: v1 (host/port only), v2 without the
 * protocol map (listener names are protocols), v4 with "rack":null. */
static void test_broker_old_versions(void **state)
{
	struct zk_broker b;

	(void)state;
	assert_int_equal(DEC(zk_broker_decode,
			     "{\"version\":1,\"host\":\"localhost\",\"port\":9092,"
			     "\"jmx_port\":9999,\"timestamp\":\"2233345666\"}",
			     &b, NULL),
			 0);
	assert_int_equal(b.n_endpoints, 1);
	assert_string_equal(b.endpoints[0].security_protocol, "PLAINTEXT");
	assert_string_equal(b.endpoints[0].host, "localhost");
	assert_int_equal(b.endpoints[0].port, 9092);
	assert_null(b.rack);
	zk_broker_clear(&b);

	assert_int_equal(
		DEC(zk_broker_decode,
		    "{\"version\":2,\"host\":\"localhost\",\"port\":9092,\"jmx_port\":9999,"
		    "\"timestamp\":\"2233345666\","
		    "\"endpoints\":[\"PLAINTEXT://host1:9092\", \"SSL://[::1]:9093\"]}",
		    &b, NULL),
		0);
	assert_int_equal(b.n_endpoints, 2);
	assert_string_equal(b.endpoints[1].security_protocol, "SSL");
	assert_string_equal(b.endpoints[1].host, "::1");
	assert_int_equal(b.endpoints[1].port, 9093);
	zk_broker_clear(&b);

	assert_int_equal(
		DEC(zk_broker_decode,
		    "{\"version\":4,\"host\":\"localhost\",\"port\":9092,\"jmx_port\":9999,"
		    "\"timestamp\":\"2233345666\","
		    "\"endpoints\":[\"CLIENT://host1:9092\", \"REPLICATION://host1:9093\"],"
		    "\"listener_security_protocol_map\":{\"CLIENT\":\"SSL\", \"REPLICATION\":\"PLAINTEXT\"},"
		    "\"rack\":null}",
		    &b, NULL),
		0);
	assert_null(b.rack);
	assert_int_equal(b.n_features, 0);
	zk_broker_clear(&b);
}

static void test_broker_encode(void **state)
{
	struct zk_endpoint eps[2] = {
		{ "SASL", "SASL_PLAINTEXT", "10.0.0.1", 9094 },
		{ "PLAINTEXT", "PLAINTEXT", "::1", 9092 },
	};
	struct zk_feature feats[1] = { { "metadata.version", 1, 7 } };
	struct zk_broker in = {
		.jmx_port = -1, .timestamp = 1700000000123LL, .rack = "r1",
		.endpoints = eps, .n_endpoints = 2,
		.features = feats, .n_features = 1,
	}, out;
	char *s;

	(void)state;
	s = zk_broker_encode(&in);
	assert_non_null(s);
	assert_string_equal(
		s, "{\"listener_security_protocol_map\":{\"SASL\":\"SASL_PLAINTEXT\","
		   "\"PLAINTEXT\":\"PLAINTEXT\"},"
		   "\"endpoints\":[\"SASL://10.0.0.1:9094\",\"PLAINTEXT://[::1]:9092\"],"
		   "\"jmx_port\":-1,"
		   "\"features\":{\"metadata.version\":{\"min_version\":1,\"max_version\":7}},"
		   "\"host\":\"::1\",\"timestamp\":\"1700000000123\",\"port\":9092,"
		   "\"version\":5,\"rack\":\"r1\"}");
	assert_int_equal(DEC(zk_broker_decode, s, &out, NULL), 0);
	assert_int_equal(out.version, 5);
	assert_int_equal(out.n_endpoints, 2);
	assert_string_equal(out.endpoints[0].listener, "SASL");
	assert_string_equal(out.endpoints[0].security_protocol, "SASL_PLAINTEXT");
	assert_string_equal(out.endpoints[1].host, "::1");
	assert_true(out.timestamp == 1700000000123LL);
	assert_string_equal(out.features[0].name, "metadata.version");
	assert_int_equal(out.features[0].max_version, 7);
	zk_broker_clear(&out);
	free(s);

	/* Without a PLAINTEXT endpoint old clients get host null, port -1. */
	in.endpoints = eps;
	in.n_endpoints = 1;
	in.rack = NULL;
	in.n_features = 0;
	s = zk_broker_encode(&in);
	assert_non_null(strstr(s, "\"host\":null"));
	assert_non_null(strstr(s, "\"port\":-1"));
	assert_null(strstr(s, "rack"));
	assert_int_equal(DEC(zk_broker_decode, s, &out, NULL), 0);
	assert_null(out.host);
	zk_broker_clear(&out);
	free(s);
}

/* mqfs's "ineligible_partitions": written only when there are some,
 * grouped by topic, read back in the same order; Kafka's own documents
 * (without it) name none. */
static void test_broker_ineligible(void **state)
{
	struct zk_endpoint ep = { "PLAINTEXT", "PLAINTEXT", "h", 9092 };
	struct zk_tp tps[3] = { { "orders", 0 }, { "orders", 2 }, { "audit", 1 } };
	struct zk_broker in = { .jmx_port = -1,
				.timestamp = 1,
				.endpoints = &ep,
				.n_endpoints = 1 },
			 out;
	char *s;

	(void)state;
	s = zk_broker_encode(&in);
	assert_null(strstr(s, "ineligible"));
	free(s);
	assert_int_equal(DEC(zk_broker_decode, kafka_broker_v5, &out, NULL), 0);
	assert_int_equal(out.n_ineligible, 0);
	assert_null(out.ineligible);
	zk_broker_clear(&out);

	in.ineligible = tps;
	in.n_ineligible = 3;
	s = zk_broker_encode(&in);
	assert_non_null(strstr(s, "\"ineligible_partitions\":{\"orders\":[0,2],\"audit\":[1]}"));
	assert_int_equal(DEC(zk_broker_decode, s, &out, NULL), 0);
	assert_int_equal(out.n_ineligible, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(out.ineligible[i].topic, tps[i].topic);
		assert_int_equal(out.ineligible[i].partition, tps[i].partition);
	}
	zk_broker_clear(&out);
	assert_int_equal(out.n_ineligible, 0);
	free(s);
}

static void test_broker_malformed(void **state)
{
	static const char *const docs[] = {
		"",
		"[]",
		"{\"version\":5,\"jmx_port\":-1}", /* no endpoints */
		"{\"version\":\"5\",\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"]}",
		"{\"version\":5,\"endpoints\":[\"PLAINTEXT://h:1\"]}", /* no jmx_port */
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[]}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT:/h:1\"]}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:99999\"]}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h\"]}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"CLIENT://h:1\"]}", /* no map */
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"C://h:1\"],"
		"\"listener_security_protocol_map\":{\"C\":\"TLS\"}}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],\"rack\":7}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],"
		"\"timestamp\":123}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],"
		"\"features\":{\"f\":{\"min_version\":3,\"max_version\":2}}}",
		"{\"version\":9,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"]}",
		"{\"version\":1,\"port\":9092,\"jmx_port\":-1}", /* v1 no host */
		"{\"version\":5,\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"]}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],"
		"\"ineligible_partitions\":[\"orders\"]}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],"
		"\"ineligible_partitions\":{\"orders\":0}}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],"
		"\"ineligible_partitions\":{\"orders\":[-1]}}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],"
		"\"ineligible_partitions\":{\"orders\":[0,\"1\"]}}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:1\"],"
		"\"ineligible_partitions\":{\"bad/name\":[0]}}",
		/* A host Kafka's endpoint parser refuses, which written back
		 * ("[h]:1]:2") would not read the same. */
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h]:1:2\"]}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://h:9LIENT://[::1]:9093\"]}",
		"{\"version\":5,\"jmx_port\":-1,\"endpoints\":[\"PLAINTEXT://a b:1\"]}",
		/* v1: a port no endpoint has, a host no endpoint has */
		"{\"version\":1,\"host\":\"h\",\"port\":70000,\"jmx_port\":-1}",
		"{\"version\":1,\"host\":\"h\",\"port\":-1,\"jmx_port\":-1}",
		"{\"version\":1,\"host\":\"a]:b\",\"port\":9,\"jmx_port\":-1}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct zk_broker b;
		char why[ZK_WHY_LEN] = "";

		if (DEC(zk_broker_decode, docs[i], &b, why) != -EBADMSG)
			fail_msg("accepted: %s", docs[i]);
		assert_true(why[0] != '\0');
		assert_null(b.endpoints);
	}
}

/* ---- /controller, /controller_epoch ---- */

static void test_controller(void **state)
{
	struct zk_controller c = { .broker_id = 2, .timestamp = 1560000000000LL };
	char why[ZK_WHY_LEN] = "";
	char *s;
	int32_t epoch;

	(void)state;
	s = zk_controller_encode(&c);
	assert_string_equal(s, "{\"version\":1,\"brokerid\":2,\"timestamp\":\"1560000000000\"}");
	memset(&c, 0, sizeof(c));
	assert_int_equal(DEC(zk_controller_decode, s, &c, why), 0);
	assert_int_equal(c.broker_id, 2);
	assert_int_equal(c.kraft_controller_epoch, -1);
	free(s);

	/* What a Kafka 3.x broker writes (version 2, KRaft migration field). */
	assert_int_equal(DEC(zk_controller_decode,
			     "{\"version\":2,\"brokerid\":0,\"timestamp\":\"1686834212345\","
			     "\"kraftControllerEpoch\":-1}",
			     &c, why),
			 0);
	assert_int_equal(c.version, 2);
	assert_int_equal(c.broker_id, 0);

	assert_int_equal(DEC(zk_controller_decode, "{\"version\":1}", &c, why), -EBADMSG);
	assert_non_null(strstr(why, "brokerid"));
	assert_int_equal(DEC(zk_controller_decode, "{\"version\":1,\"brokerid\":\"1\"}", &c, why),
			 -EBADMSG);
	assert_int_equal(
		DEC(zk_controller_decode, "{\"version\":1,\"brokerid\":4294967296}", &c, why),
		-EBADMSG);
	assert_int_equal(DEC(zk_controller_decode, "{\"version\":1,\"brokerid\":-2}", &c, why),
			 -EBADMSG);

	s = zk_controller_epoch_encode(17);
	assert_string_equal(s, "17");
	assert_int_equal(zk_controller_epoch_decode(s, strlen(s), &epoch, why), 0);
	assert_int_equal(epoch, 17);
	free(s);
	assert_int_equal(zk_controller_epoch_decode("0", 1, &epoch, why), 0);
	assert_int_equal(epoch, 0);
	assert_int_equal(zk_controller_epoch_decode("2147483647", 10, &epoch, why), 0);
	assert_int_equal(epoch, 2147483647);
	assert_int_equal(zk_controller_epoch_decode("2147483648", 10, &epoch, why), -EBADMSG);
	assert_int_equal(zk_controller_epoch_decode("-1", 2, &epoch, why), -EBADMSG);
	assert_int_equal(zk_controller_epoch_decode("01", 2, &epoch, why), -EBADMSG);
	assert_int_equal(zk_controller_epoch_decode("1 ", 2, &epoch, why), -EBADMSG);
	assert_int_equal(zk_controller_epoch_decode("", 0, &epoch, why), -EBADMSG);
}

/* ---- /brokers/topics/<t> ---- */

static void test_topic_kafka(void **state)
{
	struct zk_topic t;
	char why[ZK_WHY_LEN] = "";

	(void)state;
	/* As Kafka 3.x writes it (field set of TopicZNode.encode), and as
	 * Kafka 0.x wrote it (version 1). */
	assert_int_equal(DEC(zk_topic_decode,
			     "{\"version\":3,\"partitions\":{\"1\":[2,3,1],\"0\":[1,2,3]},"
			     "\"adding_replicas\":{\"1\":[4]},\"removing_replicas\":{\"1\":[1]},"
			     "\"topic_id\":\"vDGVy4x6RHiV9yEuPEtVGw\"}",
			     &t, why),
			 0);
	assert_int_equal(t.version, 3);
	assert_string_equal(t.topic_id, "vDGVy4x6RHiV9yEuPEtVGw");
	assert_int_equal(t.n_partitions, 2);
	assert_int_equal(t.partitions[0].n_replicas, 3);
	assert_int_equal(t.partitions[0].replicas[0], 1);
	assert_int_equal(t.partitions[1].replicas[0], 2);
	assert_int_equal(t.partitions[1].n_adding, 1);
	assert_int_equal(t.partitions[1].adding[0], 4);
	assert_int_equal(t.partitions[1].removing[0], 1);
	assert_int_equal(t.partitions[0].n_adding, 0);
	zk_topic_clear(&t);

	assert_int_equal(
		DEC(zk_topic_decode, "{\"version\":1,\"partitions\":{\"0\":[0]}}", &t, why), 0);
	assert_string_equal(t.topic_id, "");
	assert_int_equal(t.partitions[0].replicas[0], 0);
	zk_topic_clear(&t);
}

static void test_topic_encode(void **state)
{
	int32_t r0[] = { 1, 2, 3 }, r1[] = { 2, 3, 1 }, add[] = { 4 };
	struct zk_assignment parts[2] = {
		{ .replicas = r0, .n_replicas = 3 },
		{ .replicas = r1, .n_replicas = 3, .adding = add, .n_adding = 1 },
	};
	struct zk_topic in = { .partitions = parts, .n_partitions = 2 }, out;
	char *s;

	(void)state;
	assert_int_equal(zk_uuid_new(in.topic_id), 0);
	assert_true(zk_uuid_valid(in.topic_id));
	s = zk_topic_encode(&in);
	assert_non_null(s);
	{
		char want[256];

		snprintf(want, sizeof(want),
			 "{\"version\":3,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1]},"
			 "\"adding_replicas\":{\"1\":[4]},\"removing_replicas\":{},"
			 "\"topic_id\":\"%s\"}",
			 in.topic_id);
		assert_string_equal(s, want);
	}
	assert_int_equal(DEC(zk_topic_decode, s, &out, NULL), 0);
	assert_string_equal(out.topic_id, in.topic_id);
	assert_int_equal(out.n_partitions, 2);
	assert_memory_equal(out.partitions[1].replicas, r1, sizeof(r1));
	assert_int_equal(out.partitions[1].adding[0], 4);
	zk_topic_clear(&out);
	free(s);
}

static void test_topic_malformed(void **state)
{
	static const char *const docs[] = {
		"{\"version\":3}",
		"{\"version\":3,\"partitions\":{}}",
		"{\"version\":3,\"partitions\":[]}",
		"{\"version\":3,\"partitions\":{\"1\":[1]}}", /* not 0..n-1 */
		"{\"version\":3,\"partitions\":{\"0\":[1],\"00\":[2]}}",
		"{\"version\":3,\"partitions\":{\"0\":[1],\"0\":[2]}}", /* duplicate */
		"{\"version\":3,\"partitions\":{\"-0\":[1]}}",
		"{\"version\":3,\"partitions\":{\"0\":[]}}",
		"{\"version\":3,\"partitions\":{\"0\":[1,1]}}",
		"{\"version\":3,\"partitions\":{\"0\":[1,\"2\"]}}",
		"{\"version\":3,\"partitions\":{\"0\":[-1]}}",
		"{\"version\":3,\"partitions\":{\"0\":[1.5]}}",
		"{\"version\":3,\"partitions\":{\"0\":[1]},\"adding_replicas\":{\"1\":[2]}}",
		"{\"version\":3,\"partitions\":{\"0\":[1]},\"removing_replicas\":[]}",
		"{\"version\":3,\"partitions\":{\"0\":[1]},\"topic_id\":\"short\"}",
		"{\"version\":3,\"partitions\":{\"0\":[1]},\"topic_id\":\"AAAAAAAAAAAAAAAAAAAAAA\"}",
		"{\"version\":3,\"partitions\":{\"0\":[1]},\"topic_id\":\"vDGVy4x6RHiV9yEuPEtVGx\"}",
		"{\"version\":4,\"partitions\":{\"0\":[1]}}",
		"{\"partitions\":{\"0\":[1]}}",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct zk_topic t;
		char why[ZK_WHY_LEN] = "";

		if (DEC(zk_topic_decode, docs[i], &t, why) != -EBADMSG)
			fail_msg("accepted: %s", docs[i]);
		assert_true(why[0] != '\0');
		assert_null(t.partitions);
	}
}

/* ---- partition state ---- */

static void test_partition_state(void **state)
{
	int32_t isr[] = { 1, 2, 3 };
	struct zk_partition_state in = {
		.controller_epoch = 5, .leader = 1, .leader_epoch = 12,
		.isr = isr, .n_isr = 3,
	}, out;
	char why[ZK_WHY_LEN] = "";
	char *s;

	(void)state;
	s = zk_partition_state_encode(&in);
	/* Kafka's docs/implementation.html field order. */
	assert_string_equal(s, "{\"controller_epoch\":5,\"leader\":1,\"version\":1,"
			       "\"leader_epoch\":12,\"isr\":[1,2,3]}");
	assert_int_equal(DEC(zk_partition_state_decode, s, &out, why), 0);
	assert_int_equal(out.controller_epoch, 5);
	assert_int_equal(out.leader, 1);
	assert_int_equal(out.leader_epoch, 12);
	assert_int_equal(out.n_isr, 3);
	assert_memory_equal(out.isr, isr, sizeof(isr));
	assert_int_equal(out.leader_recovery_state, ZK_RECOVERY_RECOVERED);
	zk_partition_state_clear(&out);
	free(s);

	in.leader = ZK_LEADER_NONE;
	in.n_isr = 0;
	in.leader_recovery_state = ZK_RECOVERY_RECOVERING;
	s = zk_partition_state_encode(&in);
	assert_string_equal(s, "{\"controller_epoch\":5,\"leader\":-1,\"version\":1,"
			       "\"leader_epoch\":12,\"isr\":[],\"leader_recovery_state\":1}");
	assert_int_equal(DEC(zk_partition_state_decode, s, &out, why), 0);
	assert_int_equal(out.leader, -1);
	assert_int_equal(out.n_isr, 0);
	assert_int_equal(out.leader_recovery_state, ZK_RECOVERY_RECOVERING);
	zk_partition_state_clear(&out);
	free(s);

	/* A Kafka 2.x document, other key order, extra spaces. */
	assert_int_equal(DEC(zk_partition_state_decode,
			     "{ \"isr\" : [0], \"leader\": 0, \"leader_epoch\": 3, "
			     "\"version\": 1, \"controller_epoch\": 1 }",
			     &out, why),
			 0);
	assert_int_equal(out.leader_epoch, 3);
	zk_partition_state_clear(&out);
}

static void test_partition_state_malformed(void **state)
{
	static const char *const docs[] = {
		"{\"controller_epoch\":5,\"leader\":1,\"version\":1,\"leader_epoch\":1}",
		"{\"controller_epoch\":5,\"leader\":1,\"version\":1,\"isr\":[1]}",
		"{\"controller_epoch\":5,\"version\":1,\"leader_epoch\":1,\"isr\":[1]}",
		"{\"leader\":1,\"version\":1,\"leader_epoch\":1,\"isr\":[1]}",
		"{\"controller_epoch\":5,\"leader\":1,\"leader_epoch\":1,\"isr\":[1]}",
		"{\"controller_epoch\":5,\"leader\":1,\"version\":2,\"leader_epoch\":1,\"isr\":[1]}",
		"{\"controller_epoch\":5,\"leader\":-2,\"version\":1,\"leader_epoch\":1,\"isr\":[1]}",
		"{\"controller_epoch\":5,\"leader\":1,\"version\":1,\"leader_epoch\":-1,\"isr\":[1]}",
		"{\"controller_epoch\":5,\"leader\":1,\"version\":1,\"leader_epoch\":1,\"isr\":1}",
		"{\"controller_epoch\":5,\"leader\":1,\"version\":1,\"leader_epoch\":1,\"isr\":[1,1]}",
		"{\"controller_epoch\":5,\"leader\":true,\"version\":1,\"leader_epoch\":1,\"isr\":[1]}",
		"{\"controller_epoch\":5,\"leader\":1,\"version\":1,\"leader_epoch\":1,\"isr\":[1],"
		"\"leader_recovery_state\":2}",
		"{\"controller_epoch\":5,\"leader\":1,\"version\":1,\"leader_epoch\":1,\"isr\":[1]",
		"{\"controller_epoch\":5,\"leader\":1,\"version\":1,\"leader_epoch\":1,\"isr\":[1]}x",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct zk_partition_state s;
		char why[ZK_WHY_LEN] = "";

		if (DEC(zk_partition_state_decode, docs[i], &s, why) != -EBADMSG)
			fail_msg("accepted: %s", docs[i]);
		assert_true(why[0] != '\0');
	}
	/* An embedded NUL is not a document. */
	{
		static const char nul[] = "{\"controller_epoch\":5,\"leader\":1,\"version\":1,"
					  "\"leader_epoch\":1,\"isr\":[1]}\0";
		struct zk_partition_state s;

		assert_int_equal(zk_partition_state_decode(nul, sizeof(nul), &s, NULL), -EBADMSG);
	}
}

/* ---- config, isr change, cluster id ---- */

static void test_config(void **state)
{
	char *keys[] = { "cleanup.policy", "retention.ms" };
	char *values[] = { "compact", "1000" };
	struct zk_config in = { keys, values, 2 }, out;
	char why[ZK_WHY_LEN] = "";
	char *s;

	(void)state;
	s = zk_config_encode(&in);
	assert_string_equal(s, "{\"version\":1,\"config\":{\"cleanup.policy\":\"compact\","
			       "\"retention.ms\":\"1000\"}}");
	assert_int_equal(DEC(zk_config_decode, s, &out, why), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(zk_config_get(&out, "retention.ms"), "1000");
	assert_null(zk_config_get(&out, "segment.bytes"));
	zk_config_clear(&out);
	free(s);

	assert_int_equal(DEC(zk_config_decode, "{\"version\":1,\"config\":{}}", &out, why), 0);
	assert_int_equal(out.n, 0);
	zk_config_clear(&out);
	assert_int_equal(DEC(zk_config_decode, "{\"version\":1,\"config\":{\"retention.ms\":1000}}",
			     &out, why),
			 -EBADMSG);
	assert_non_null(strstr(why, "retention.ms"));
	assert_int_equal(DEC(zk_config_decode, "{\"version\":1}", &out, why), -EBADMSG);
	assert_int_equal(DEC(zk_config_decode, "{\"version\":2,\"config\":{}}", &out, why),
			 -EBADMSG);
}

static void test_isr_change(void **state)
{
	struct zk_tp tps[2] = { { "orders", 0 }, { "__consumer_offsets", 49 } };
	struct zk_isr_change in = { tps, 2 }, out;
	char why[ZK_WHY_LEN] = "";
	char *s;

	(void)state;
	s = zk_isr_change_encode(&in);
	assert_string_equal(s, "{\"version\":1,\"partitions\":[{\"topic\":\"orders\","
			       "\"partition\":0},{\"topic\":\"__consumer_offsets\","
			       "\"partition\":49}]}");
	assert_int_equal(DEC(zk_isr_change_decode, s, &out, why), 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.partitions[1].topic, "__consumer_offsets");
	assert_int_equal(out.partitions[1].partition, 49);
	zk_isr_change_clear(&out);
	free(s);

	assert_int_equal(DEC(zk_isr_change_decode,
			     "{\"version\":1,\"partitions\":[{\"topic\":\"a/b\",\"partition\":0}]}",
			     &out, why),
			 -EBADMSG);
	assert_int_equal(DEC(zk_isr_change_decode,
			     "{\"version\":1,\"partitions\":[{\"topic\":\"a\"}]}", &out, why),
			 -EBADMSG);
	assert_int_equal(DEC(zk_isr_change_decode, "{\"version\":1,\"partitions\":{}}", &out, why),
			 -EBADMSG);
}

/* Kafka's PreferredReplicaElectionZNode as its tool wrote it (spaces
 * and all), read; the reason given for what does not decode names it. */
static void test_preferred_election(void **state)
{
	struct zk_isr_change out;
	char why[ZK_WHY_LEN] = "";

	(void)state;
	assert_int_equal(DEC(zk_preferred_election_decode,
			     "{\"version\":1, \"partitions\":[{\"topic\":\"t\", \"partition\":0},"
			     " {\"topic\":\"u\",\"partition\":3}]}",
			     &out, why),
			 0);
	assert_int_equal(out.n, 2);
	assert_string_equal(out.partitions[0].topic, "t");
	assert_int_equal(out.partitions[1].partition, 3);
	zk_isr_change_clear(&out);
	assert_int_equal(
		DEC(zk_preferred_election_decode, "{\"version\":2,\"partitions\":[]}", &out, why),
		-EBADMSG);
	assert_non_null(strstr(why, "preferred replica election"));
	assert_int_equal(DEC(zk_preferred_election_decode, "garbage{", &out, why), -EBADMSG);
	assert_int_equal(out.n, 0);
}

/* Kafka's ReassignPartitionsZNode: what kafka-reassign-partitions.sh
 * writes, read; our encoding of what is left, read back; what does not
 * decode. A target the controller refuses (empty, a broker twice or
 * negative) still decodes: it refuses that partition only. */
static void test_reassign(void **state)
{
	struct zk_reassign r;
	char why[ZK_WHY_LEN] = "";
	char *s;

	(void)state;
	assert_int_equal(DEC(zk_reassign_decode,
			     "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
			     "\"replicas\":[1,2],\"log_dirs\":[\"any\",\"any\"]},"
			     "{\"topic\":\"u\",\"partition\":3,\"replicas\":[]},"
			     "{\"topic\":\"u\",\"partition\":4,\"replicas\":[2,2,-1]}]}",
			     &r, why),
			 0);
	assert_int_equal(r.n, 3);
	assert_string_equal(r.parts[0].topic, "t");
	assert_int_equal(r.parts[0].partition, 0);
	assert_int_equal(r.parts[0].n_replicas, 2);
	assert_int_equal(r.parts[0].replicas[0], 1);
	assert_int_equal(r.parts[0].replicas[1], 2);
	assert_int_equal(r.parts[1].n_replicas, 0);
	assert_int_equal(r.parts[2].n_replicas, 3);
	assert_int_equal(r.parts[2].replicas[2], -1);
	r.n = 1; /* the first only, as a prune leaves it */
	free(r.parts[1].topic);
	free(r.parts[1].replicas);
	free(r.parts[2].topic);
	free(r.parts[2].replicas);
	s = zk_reassign_encode(&r);
	assert_string_equal(s, "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
			       "\"replicas\":[1,2]}]}");
	zk_reassign_clear(&r);
	assert_int_equal(DEC(zk_reassign_decode, s, &r, why), 0);
	assert_int_equal(r.n, 1);
	zk_reassign_clear(&r);
	free(s);

	assert_int_equal(DEC(zk_reassign_decode, "{\"version\":2,\"partitions\":[]}", &r, why),
			 -EBADMSG);
	assert_int_equal(DEC(zk_reassign_decode, "{\"version\":1}", &r, why), -EBADMSG);
	assert_int_equal(DEC(zk_reassign_decode,
			     "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0}]}",
			     &r, why),
			 -EBADMSG);
	assert_int_equal(DEC(zk_reassign_decode,
			     "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":-1,"
			     "\"replicas\":[1]}]}",
			     &r, why),
			 -EBADMSG);
	assert_int_equal(DEC(zk_reassign_decode,
			     "{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,"
			     "\"replicas\":[\"1\"]}]}",
			     &r, why),
			 -EBADMSG);
	assert_int_equal(DEC(zk_reassign_decode,
			     "{\"version\":1,\"partitions\":[{\"topic\":\"a/b\",\"partition\":0,"
			     "\"replicas\":[1]}]}",
			     &r, why),
			 -EBADMSG);
	assert_int_equal(DEC(zk_reassign_decode, "not json", &r, why), -EBADMSG);
}

/* Kafka's LogDirEventNotificationSequenceZNode: what its encode writes,
 * read back; a document without "event" is a failure (Kafka's decode
 * reads only "broker"); a broker that is no id is refused. */
static void test_log_dir_event(void **state)
{
	char why[ZK_WHY_LEN] = "";
	int32_t broker = -1, event = -1;
	char *s;

	(void)state;
	s = zk_log_dir_event_encode(2, ZK_LOG_DIR_FAILURE);
	assert_string_equal(s, "{\"version\":1,\"broker\":2,\"event\":1}");
	assert_int_equal(zk_log_dir_event_decode(s, strlen(s), &broker, &event, why), 0);
	assert_int_equal(broker, 2);
	assert_int_equal(event, ZK_LOG_DIR_FAILURE);
	free(s);
	s = "{\"version\":1,\"broker\":7}";
	assert_int_equal(zk_log_dir_event_decode(s, strlen(s), &broker, &event, why), 0);
	assert_int_equal(broker, 7);
	assert_int_equal(event, ZK_LOG_DIR_FAILURE);
	s = "{\"version\":1,\"broker\":-1,\"event\":1}";
	assert_int_equal(zk_log_dir_event_decode(s, strlen(s), &broker, &event, why), -EBADMSG);
	assert_non_null(strstr(why, "broker"));
	s = "{\"version\":1,\"event\":1}";
	assert_int_equal(zk_log_dir_event_decode(s, strlen(s), &broker, &event, why), -EBADMSG);
	s = "{\"version\":2,\"broker\":1,\"event\":1}";
	assert_int_equal(zk_log_dir_event_decode(s, strlen(s), &broker, &event, why), -EBADMSG);
	s = "{\"version\":1,\"broker\":1,\"event\":\"1\"}";
	assert_int_equal(zk_log_dir_event_decode(s, strlen(s), &broker, &event, why), -EBADMSG);
	s = "not json";
	assert_int_equal(zk_log_dir_event_decode(s, strlen(s), &broker, &event, why), -EBADMSG);
}

static void test_cluster_id(void **state)
{
	char id[ZK_UUID_LEN + 1], back[ZK_UUID_LEN + 1];
	char why[ZK_WHY_LEN] = "";
	char *s;
	int i;

	(void)state;
	/* An id of the form Kafka generates (random 16 bytes). */
	assert_int_equal(DEC(zk_cluster_id_decode,
			     "{\"version\":\"1\",\"id\":\"rTQXH9IrQnS7BZyAlHcxyw\"}", back, why),
			 0);
	assert_string_equal(back, "rTQXH9IrQnS7BZyAlHcxyw");
	for (i = 0; i < 200; i++) {
		assert_int_equal(zk_uuid_new(id), 0);
		assert_true(id[0] != '-');
		assert_true(zk_uuid_valid(id));
	}
	/* The protocol's 16 bytes and back; "" is the zero id. */
	{
		static const uint8_t one[16] = { [15] = 1 };
		uint8_t b[16];
		char str[ZK_UUID_LEN + 1];

		zk_uuid_bytes(id, b);
		zk_uuid_string(b, str);
		assert_string_equal(str, id);
		zk_uuid_string(one, str);
		assert_string_equal(str, "AAAAAAAAAAAAAAAAAAAAAQ");
		zk_uuid_bytes("AAAAAAAAAAAAAAAAAAAAAQ", b);
		assert_memory_equal(b, one, 16);
		/* rTQXH9Ir... is Kafka's own example: its first bytes. */
		zk_uuid_bytes("rTQXH9IrQnS7BZyAlHcxyw", b);
		assert_int_equal(b[0], 0xad);
		assert_int_equal(b[1], 0x34);
		assert_int_equal(b[15], 0xcb);
		zk_uuid_bytes("", b);
		zk_uuid_string(b, str);
		assert_string_equal(str, "");
		zk_uuid_bytes("not an id", b);
		for (int k = 0; k < 16; k++)
			assert_int_equal(b[k], 0);
	}
	s = zk_cluster_id_encode(id);
	assert_int_equal(DEC(zk_cluster_id_decode, s, back, why), 0);
	assert_string_equal(back, id);
	free(s);
	assert_int_equal(DEC(zk_cluster_id_decode,
			     "{\"version\":1,\"id\":\"rTQXH9IrQnS7BZyAlHcxyw\"}", back, why),
			 -EBADMSG);
	assert_int_equal(DEC(zk_cluster_id_decode, "{\"version\":\"1\"}", back, why), -EBADMSG);
	assert_int_equal(DEC(zk_cluster_id_decode,
			     "{\"version\":\"1\",\"id\":\"rTQXH9IrQnS7BZyAlHcx+w\"}", back, why),
			 -EBADMSG);
}

/* ---- names and paths ---- */

static void test_paths(void **state)
{
	char buf[ZK_PATH_MAX], name[ZK_TOPIC_MAX + 2];

	(void)state;
	assert_int_equal(zk_path_broker(buf, sizeof(buf), 3), 14);
	assert_string_equal(buf, "/brokers/ids/3");
	assert_true(zk_path_partition_state(buf, sizeof(buf), "orders", 7) > 0);
	assert_string_equal(buf, "/brokers/topics/orders/partitions/7/state");
	assert_true(zk_path_topic_config(buf, sizeof(buf), "orders") > 0);
	assert_string_equal(buf, "/config/topics/orders");
	assert_true(zk_path_delete_topic(buf, sizeof(buf), "orders") > 0);
	assert_string_equal(buf, "/admin/delete_topics/orders");
	assert_int_equal(zk_path_topic(buf, 10, "orders"), -ENAMETOOLONG);
	assert_int_equal(zk_path_topic(buf, sizeof(buf), "a/b"), -EINVAL);
	assert_int_equal(zk_path_topic(buf, sizeof(buf), ".."), -EINVAL);
	assert_int_equal(zk_path_partition(buf, sizeof(buf), "t", -1), -EINVAL);
	assert_int_equal(zk_path_broker(buf, sizeof(buf), -1), -EINVAL);

	memset(name, 'a', ZK_TOPIC_MAX);
	name[ZK_TOPIC_MAX] = '\0';
	assert_true(zk_topic_name_valid(name));
	assert_true(zk_path_partition_state(buf, sizeof(buf), name, 2147483647) > 0);
	name[ZK_TOPIC_MAX] = 'a';
	name[ZK_TOPIC_MAX + 1] = '\0';
	assert_false(zk_topic_name_valid(name));
	assert_false(zk_topic_name_valid(""));
	assert_false(zk_topic_name_valid("a b"));
	assert_true(zk_topic_name_valid("__consumer_offsets"));
}

/* /config/users/<user> as kafka-configs.sh writes it, and back. */
static void test_user_scram(void **state)
{
	static const char kafka[] =
		"{\"version\":1,\"config\":{\"SCRAM-SHA-256\":"
		"\"salt=MWtxOG56cHNybGhoank2Ym5nNmZ2Nmd4,stored_key=PGwQ8ZyTPGWTc6Q4aZ"
		"WUP5tG4mP/QKoYlI7QbxsM0s4=,server_key=ylS8G4Pld+tOzdhAGGaS5JsqcdeAE3Fz3"
		"3BSDTm2LYQ=,iterations=4096\"}}";
	/* SCRAM-SHA-512 beside it: keys of 64 bytes ("alice-secret" with that
	 * salt, computed with Python's hashlib, not with sasl.c). */
	static const char both[] =
		"{\"version\":1,\"config\":{\"SCRAM-SHA-512\":"
		"\"salt=MWtxOG56cHNybGhoank2Ym5nNmZ2Nmd4,stored_key=ExvCDFcOWN0fjU+fFe1el6lySPB+"
		"LfYMaprKozuQ8ASJX2GYxBsvamDG3QmLS8L0I95X0RUBHP5IPGzG0FmORQ==,server_key=ZCXqkDn/"
		"/SHkWJIMfZyZmaVNy0vKetER0rBTzRGBHCbrrV1x/w6DV4xRMP/5sP1pXHkg+zD11lkR7go5s1/hHw==,"
		"iterations=4096\",\"producer_byte_rate\":\"1024\",\"SCRAM-SHA-256\":"
		"\"salt=MWtxOG56cHNybGhoank2Ym5nNmZ2Nmd4,stored_key=PGwQ8ZyTPGWTc6Q4aZ"
		"WUP5tG4mP/QKoYlI7QbxsM0s4=,server_key=ylS8G4Pld+tOzdhAGGaS5JsqcdeAE3Fz3"
		"3BSDTm2LYQ=,iterations=4096\"}}";
	struct sasl_user_creds creds, back;
	struct sasl_cred alice;
	char why[ZK_WHY_LEN], path[ZK_PATH_MAX], *doc;

	(void)state;
	assert_int_equal(zk_user_scram_decode(kafka, strlen(kafka), &creds, why), 0);
	assert_int_equal(creds.by_mech[SASL_SHA_256].mech, SASL_SHA_256);
	assert_int_equal(creds.by_mech[SASL_SHA_256].iterations, 4096);
	assert_int_equal(creds.by_mech[SASL_SHA_256].salt_len, 24);
	assert_int_equal(creds.by_mech[SASL_SHA_512].iterations, 0); /* none */
	doc = zk_user_scram_encode(&creds.by_mech[SASL_SHA_256]);
	assert_non_null(doc);
	assert_string_equal(doc, kafka);
	assert_int_equal(zk_user_scram_decode(doc, strlen(doc), &back, why), 0);
	assert_memory_equal(&back, &creds, sizeof(creds));
	free(doc);

	assert_int_equal(zk_user_scram_decode(both, strlen(both), &creds, why), 0);
	assert_int_equal(creds.by_mech[SASL_SHA_256].iterations, 4096);
	assert_int_equal(creds.by_mech[SASL_SHA_512].mech, SASL_SHA_512);
	assert_int_equal(creds.by_mech[SASL_SHA_512].iterations, 4096);
	assert_int_equal(sasl_cred_from_password(SASL_SHA_512, "alice-secret",
						 creds.by_mech[SASL_SHA_512].salt, 24, 4096,
						 &alice),
			 0);
	assert_memory_equal(&alice, &creds.by_mech[SASL_SHA_512], sizeof(alice));
	doc = zk_user_scram_encode(&alice);
	assert_non_null(doc);
	assert_non_null(strstr(doc, "{\"SCRAM-SHA-512\":\"salt=MWtxOG56cHNybGhoank2Ym5nNmZ2Nmd4,"
				    "stored_key=ExvCDFcOWN0fjU+"));
	assert_int_equal(zk_user_scram_decode(doc, strlen(doc), &back, why), 0);
	assert_int_equal(back.by_mech[SASL_SHA_256].iterations, 0);
	assert_memory_equal(&back.by_mech[SASL_SHA_512], &alice, sizeof(alice));
	free(doc);

	/* A user with other settings only has no credential; junk is refused,
	 * in either mechanism (SCRAM-SHA-256's 32-byte keys under
	 * SCRAM-SHA-512 too). */
	assert_int_equal(DEC(zk_user_scram_decode,
			     "{\"version\":1,\"config\":"
			     "{\"producer_byte_rate\":\"1024\"}}",
			     &creds, why),
			 -ENOENT);
	assert_int_equal(DEC(zk_user_scram_decode,
			     "{\"version\":1,\"config\":"
			     "{\"SCRAM-SHA-256\":\"salt=x\"}}",
			     &creds, why),
			 -EBADMSG);
	assert_int_equal(
		DEC(zk_user_scram_decode,
		    "{\"version\":1,\"config\":{\"SCRAM-SHA-512\":"
		    "\"salt=MWtxOG56cHNybGhoank2Ym5nNmZ2Nmd4,stored_key=PGwQ8ZyTPGWTc6Q4aZ"
		    "WUP5tG4mP/QKoYlI7QbxsM0s4=,server_key=ylS8G4Pld+tOzdhAGGaS5JsqcdeAE3Fz3"
		    "3BSDTm2LYQ=,iterations=4096\"}}",
		    &creds, why),
		-EBADMSG);
	assert_non_null(strstr(why, "SCRAM-SHA-512"));
	assert_int_equal(zk_path_user(path, sizeof(path), "admin"), 19);
	assert_string_equal(path, "/config/users/admin");
	assert_int_equal(zk_path_user(path, sizeof(path), "a/b"), -EINVAL);
	assert_int_equal(zk_path_user(path, sizeof(path), ".."), -EINVAL);
	assert_int_equal(zk_path_user(path, sizeof(path), ""), -EINVAL);
	assert_true(zk_user_name_valid("svc-1.x@corp"));
	doc = zk_config_change_user_encode("admin");
	assert_string_equal(doc, "{\"version\":2,\"entity_path\":\"users/admin\"}");
	free(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_scram),
		cmocka_unit_test(test_broker_kafka_v5),
		cmocka_unit_test(test_broker_old_versions),
		cmocka_unit_test(test_broker_encode),
		cmocka_unit_test(test_broker_ineligible),
		cmocka_unit_test(test_broker_malformed),
		cmocka_unit_test(test_controller),
		cmocka_unit_test(test_topic_kafka),
		cmocka_unit_test(test_topic_encode),
		cmocka_unit_test(test_topic_malformed),
		cmocka_unit_test(test_partition_state),
		cmocka_unit_test(test_partition_state_malformed),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_isr_change),
		cmocka_unit_test(test_preferred_election),
		cmocka_unit_test(test_reassign),
		cmocka_unit_test(test_log_dir_event),
		cmocka_unit_test(test_cluster_id),
		cmocka_unit_test(test_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
