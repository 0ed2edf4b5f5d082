/*
 * test_config.c — repl/config.c (server.properties, topic .config) and
 * repl/log.c (output format, rate limiting).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "repl/config.h"
#include "repl/replica_select.h"
#include "engine/batch.h"

/* ---- helpers ---- */

static int parse(struct broker_config *c, const char *text, char *err, size_t errlen)
{
	return broker_config_parse(c, text, strlen(text), err, errlen);
}

static int apply(struct topic_config *tc, const char *text, char *err, size_t errlen)
{
	return topic_config_apply(tc, text, strlen(text), err, errlen);
}

static void assert_log_config_equal(const struct log_config *a, const struct log_config *b)
{
	assert_int_equal(a->segment_bytes, b->segment_bytes);
	assert_int_equal(a->segment_ms, b->segment_ms);
	assert_int_equal(a->segment_index_bytes, b->segment_index_bytes);
	assert_int_equal(a->index_interval_bytes, b->index_interval_bytes);
	assert_int_equal(a->max_message_bytes, b->max_message_bytes);
	assert_int_equal(a->flush_messages, b->flush_messages);
	assert_int_equal(a->flush_ms, b->flush_ms);
	assert_int_equal(a->batch_bytes, b->batch_bytes);
	assert_int_equal(a->codec, b->codec);
	assert_int_equal(a->key_sep_len, b->key_sep_len);
	assert_memory_equal(a->key_sep, b->key_sep, sizeof(a->key_sep));
}

static void assert_broker_equal(const struct broker_config *a, const struct broker_config *b)
{
	assert_string_equal(a->data_dir, b->data_dir);
	assert_int_equal(a->broker_id, b->broker_id);
	assert_int_equal(a->num_partitions, b->num_partitions);
	assert_log_config_equal(&a->log, &b->log);
	assert_int_equal(a->acks, b->acks);
	assert_int_equal(a->buffer_memory, b->buffer_memory);
	assert_int_equal(a->request_timeout_ms, b->request_timeout_ms);
	assert_int_equal(a->flush_scheduler_ms, b->flush_scheduler_ms);
	assert_int_equal(a->checkpoint_interval_ms, b->checkpoint_interval_ms);
}

static void assert_topic_equal(const struct topic_config *a, const struct topic_config *b)
{
	assert_int_equal(a->partitions, b->partitions);
	assert_int_equal(a->acks, b->acks);
	assert_int_equal(a->min_insync_replicas, b->min_insync_replicas);
	assert_int_equal(a->unclean_leader_election, b->unclean_leader_election);
	assert_log_config_equal(&a->log, &b->log);
}

static void topic_defaults(struct topic_config *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->partitions = 1;
	tc->acks = -1;
	tc->min_insync_replicas = 1;
	log_config_defaults(&tc->log);
}

/* Redirects fd 2 into a temporary file until capture_end(). */
struct capture {
	int saved;
	int fd;
};

static void capture_begin(struct capture *cap)
{
	char path[] = "/tmp/test_config_XXXXXX";

	fflush(stderr);
	cap->fd = mkstemp(path);
	assert_true(cap->fd >= 0);
	unlink(path);
	cap->saved = dup(STDERR_FILENO);
	assert_true(cap->saved >= 0);
	assert_int_equal(dup2(cap->fd, STDERR_FILENO), STDERR_FILENO);
}

/* Returns what was written (malloc'ed, NUL-terminated). */
static char *capture_end(struct capture *cap)
{
	off_t size;
	char *buf;

	fflush(stderr);
	assert_int_equal(dup2(cap->saved, STDERR_FILENO), STDERR_FILENO);
	close(cap->saved);
	size = lseek(cap->fd, 0, SEEK_END);
	assert_true(size >= 0);
	buf = calloc(1, (size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(cap->fd, buf, (size_t)size, 0), size);
	close(cap->fd);
	return buf;
}

/* ---- broker config ---- */

static const char default_render[] = "broker.id=0\n"
				     "log.dirs=./mqfs-data\n"
				     "num.partitions=1\n"
				     "log.segment.bytes=1073741824\n"
				     "log.roll.ms=604800000\n"
				     "log.index.size.max.bytes=10485760\n"
				     "log.index.interval.bytes=4096\n"
				     "message.max.bytes=1048588\n"
				     "log.flush.interval.messages=9223372036854775807\n"
				     "log.flush.interval.ms=9223372036854775807\n"
				     "log.flush.scheduler.interval.ms=9223372036854775807\n"
				     "log.flush.offset.checkpoint.interval.ms=60000\n"
				     "compression.type=producer\n"
				     "batch.size=16384\n"
				     "linger.ms=0\n"
				     "acks=all\n"
				     "buffer.memory=33554432\n"
				     "request.timeout.ms=30000\n"
				     "key.separator=\n"
				     "line.format=escape\n"
				     "auto.create.topics.enable=true\n"
				     "group.min.session.timeout.ms=6000\n"
				     "group.max.session.timeout.ms=1800000\n"
				     "group.max.size=1000\n"
				     "group.initial.rebalance.delay.ms=0\n"
				     "offsets.retention.check.interval.ms=600000\n"
				     "offsets.retention.minutes=10080\n"
				     "offset.metadata.max.bytes=4096\n"
				     "producer.id.expiration.ms=86400000\n"
				     "log.retention.ms=604800000\n"
				     "log.retention.bytes=-1\n"
				     "log.retention.check.interval.ms=300000\n"
				     "log.cleanup.policy=delete\n"
				     "log.cleaner.enable=true\n"
				     "log.cleaner.backoff.ms=15000\n"
				     "log.cleaner.dedupe.buffer.size=134217728\n"
				     "log.cleaner.delete.retention.ms=86400000\n"
				     "log.cleaner.min.cleanable.ratio=0.5\n"
				     "log.cleaner.min.compaction.lag.ms=0\n"
				     "log.message.timestamp.type=CreateTime\n"
				     "log.roll.jitter.ms=0\n"
				     "log.cleaner.max.compaction.lag.ms=9223372036854775807\n"
				     "log.message.timestamp.difference.max.ms=9223372036854775807\n"
				     "log.message.timestamp.before.max.ms=9223372036854775807\n"
				     "log.message.timestamp.after.max.ms=9223372036854775807\n"
				     "log.preallocate=false\n"
				     "log.segment.fd.cache=0\n"
				     "log.segment.delete.delay.ms=60000\n"
				     "log.message.format.version=3.0-IV1\n"
				     "log.message.downconversion.enable=true\n";

static void test_defaults(void **state)
{
	struct broker_config c;
	char *text;
	size_t len;

	(void)state;
	broker_config_defaults(&c);
	assert_string_equal(c.data_dir, "./mqfs-data");
	assert_int_equal(c.broker_id, 0);
	assert_int_equal(c.num_partitions, 1);
	assert_int_equal(c.log.segment_bytes, 1073741824);
	assert_int_equal(c.log.segment_ms, 168LL * 3600 * 1000);
	assert_int_equal(c.log.segment_index_bytes, 10485760);
	assert_int_equal(c.log.index_interval_bytes, 4096);
	assert_int_equal(c.log.max_message_bytes, 1048588);
	assert_int_equal(c.log.flush_messages, INT64_MAX);
	assert_int_equal(c.log.flush_ms, INT64_MAX);
	assert_int_equal(c.log.batch_bytes, 16384);
	assert_int_equal(c.log.codec, LOG_CODEC_PRODUCER);
	assert_int_equal(c.log.key_sep_len, 0);
	assert_int_equal(c.log.line_format, LINE_FORMAT_ESCAPE);
	assert_true(c.auto_create_topics);
	assert_int_equal(c.group_min_session_ms, 6000);
	assert_int_equal(c.group_max_session_ms, 1800000);
	assert_int_equal(c.offsets_retention_minutes, 10080);
	assert_int_equal(c.offset_metadata_max_bytes, 4096);
	assert_int_equal(c.acks, -1);
	assert_int_equal(c.buffer_memory, 33554432);
	assert_int_equal(c.request_timeout_ms, 30000);
	assert_int_equal(c.flush_scheduler_ms, INT64_MAX);
	assert_int_equal(c.checkpoint_interval_ms, 60000);

	assert_int_equal(broker_config_render(&c, &text, &len), 0);
	assert_string_equal(text, default_render);
	assert_int_equal(len, strlen(default_render));
	free(text);

	/* An empty text changes nothing. */
	assert_int_equal(broker_config_parse(&c, "", 0, NULL, 0), 0);
	assert_int_equal(c.num_partitions, 1);
}

static void test_every_broker_key(void **state)
{
	struct broker_config c;
	char err[256] = "";

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(parse(&c,
			       "broker.id=7\n"
			       "log.dirs=/var/lib/mqfs\n"
			       "num.partitions=12\n"
			       "log.segment.bytes=2147483647\n"
			       "log.roll.ms=1000\n"
			       "log.index.interval.bytes=0\n"
			       "log.index.size.max.bytes=4096\n"
			       "message.max.bytes=2000000\n"
			       "log.flush.interval.messages=1\n"
			       "log.flush.interval.ms=0\n"
			       "compression.type=lz4\n"
			       "log.message.timestamp.type=LogAppendTime\n"
			       "batch.size=67108864\n"
			       "acks=1\n"
			       "buffer.memory=1024\n"
			       "request.timeout.ms=250\n"
			       "log.flush.scheduler.interval.ms=1000\n"
			       "log.flush.offset.checkpoint.interval.ms=5000\n"
			       "key.separator=|\n"
			       "group.min.session.timeout.ms=100\n"
			       "group.max.session.timeout.ms=60000\n"
			       "group.max.size=2\n"
			       "group.initial.rebalance.delay.ms=3000\n"
			       "producer.id.expiration.ms=3600000\n"
			       "offsets.retention.minutes=2147483647\n"
			       "offset.metadata.max.bytes=0\n",
			       err, sizeof(err)),
			 0);
	assert_string_equal(err, "");
	assert_int_equal(c.offsets_retention_minutes, INT32_MAX);
	assert_int_equal(c.offset_metadata_max_bytes, 0);
	/* a commit record must stay under max.message.bytes */
	assert_int_not_equal(parse(&c, "offset.metadata.max.bytes=65537\n", err, sizeof(err)), 0);
	assert_int_equal(c.offset_metadata_max_bytes, 0);
	assert_int_equal(c.group_min_session_ms, 100);
	assert_int_equal(c.group_max_session_ms, 60000);
	assert_int_equal(c.group_max_size, 2);
	assert_int_equal(c.group_initial_delay_ms, 3000);
	assert_int_equal(c.producer_id_expiration_ms, 3600000);
	assert_string_equal(c.data_dir, "/var/lib/mqfs");
	assert_int_equal(c.broker_id, 7);
	assert_int_equal(c.num_partitions, 12);
	assert_int_equal(c.log.segment_bytes, 2147483647);
	assert_int_equal(c.log.segment_ms, 1000);
	assert_int_equal(c.log.index_interval_bytes, 0);
	assert_int_equal(c.log.segment_index_bytes, 4096);
	assert_int_equal(c.log.max_message_bytes, 2000000);
	assert_int_equal(c.log.flush_messages, 1);
	assert_int_equal(c.log.flush_ms, 0);
	assert_int_equal(c.log.codec, BATCH_CODEC_LZ4);
	assert_true(c.log.log_append_time);
	assert_int_equal(c.log.batch_bytes, 64 * 1024 * 1024);
	assert_int_equal(c.acks, 1);
	assert_int_equal(c.buffer_memory, 1024);
	assert_int_equal(c.request_timeout_ms, 250);
	assert_int_equal(c.flush_scheduler_ms, 1000);
	assert_int_equal(c.checkpoint_interval_ms, 5000);
	assert_int_equal(c.log.key_sep_len, 1);
	assert_string_equal(c.log.key_sep, "|");

	/* Aliases and the other spellings of values. */
	assert_int_equal(parse(&c,
			       "max.message.bytes=500\nlog.dir=/d\nacks=all\n"
			       "compression.type=gzip\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(c.log.max_message_bytes, 500);
	assert_string_equal(c.data_dir, "/d");
	assert_int_equal(c.acks, -1);
	assert_int_equal(c.log.codec, BATCH_CODEC_GZIP);
	assert_int_equal(parse(&c, "acks=0\ncompression.type=producer\n", err, sizeof(err)), 0);
	assert_int_equal(c.acks, 0);
	assert_int_equal(c.log.codec, LOG_CODEC_PRODUCER);
	assert_int_equal(parse(&c, "acks=-1\ncompression.type=gzip\n", err, sizeof(err)), 0);
	assert_int_equal(parse(&c, "compression.type=snappy\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.codec, BATCH_CODEC_SNAPPY);
	assert_int_equal(parse(&c, "compression.type=zstd\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.codec, BATCH_CODEC_ZSTD);
	assert_int_equal(parse(&c, "compression.type=uncompressed\n", err, sizeof(err)), 0);
	assert_int_equal(c.acks, -1);
	assert_int_equal(c.log.codec, BATCH_CODEC_NONE);
	/* The largest values of each type. */
	assert_int_equal(parse(&c,
			       "broker.id=2147483647\nlog.flush.interval.messages="
			       "9223372036854775807\nnum.partitions=10000\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(c.broker_id, INT32_MAX);
	assert_int_equal(c.log.flush_messages, INT64_MAX);
	assert_int_equal(c.num_partitions, 10000);
}

static void test_precedence(void **state)
{
	struct broker_config c;
	char err[256];

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, "log.roll.hours=2\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.segment_ms, 2 * 3600 * 1000);
	/* log.roll.ms wins, before or after log.roll.hours. */
	assert_int_equal(parse(&c, "log.roll.ms=1234\nlog.roll.hours=5\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.segment_ms, 1234);
	assert_int_equal(parse(&c, "log.roll.hours=5\nlog.roll.ms=4321\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.segment_ms, 4321);
	/* Hours are still validated when ms wins. */
	assert_int_equal(parse(&c, "log.roll.ms=1\nlog.roll.hours=0\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 2: bad value for 'log.roll.hours': '0' "
				 "(expected an integer from 1 to 2147483647)");
	assert_int_equal(c.log.segment_ms, 4321);
	/* The largest hours value does not overflow. */
	assert_int_equal(parse(&c, "log.roll.hours=2147483647\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.segment_ms, 2147483647LL * 3600 * 1000);

	/* log.dirs wins over log.dir. */
	assert_int_equal(parse(&c, "log.dirs=/a\nlog.dir=/b\n", err, sizeof(err)), 0);
	assert_string_equal(c.data_dir, "/a");
	assert_int_equal(parse(&c, "log.dir=/b\nlog.dirs=/c\n", err, sizeof(err)), 0);
	assert_string_equal(c.data_dir, "/c");

	/* Duplicates: the last wins. */
	assert_int_equal(parse(&c, "num.partitions=3\nnum.partitions=4\n", err, sizeof(err)), 0);
	assert_int_equal(c.num_partitions, 4);
}

/* The record of the keys a server.properties set (DescribeConfigs'
 * STATIC_BROKER_CONFIG): a key is set even at its built-in default, an
 * alias under the key it is reported by, a cluster key too; the rendered
 * (.config) text is the same whether a default was written or left out,
 * and a refused text records nothing. */
static void test_file_set(void **state)
{
	/* The time aliases are settings of their own (as Kafka lists
	 * them), not their .ms key's; log.dir is log.dirs'. */
	static const char *const set[] = { "num.partitions",        "log.roll.hours",
					   "log.retention.minutes", "log.dirs",
					   "log.roll.jitter.hours", "listeners",
					   "message.max.bytes" };
	static const char *const unset[] = { "log.segment.bytes", "log.roll.ms",
					     "log.retention.ms",  "log.roll.jitter.ms",
					     "broker.id",         "socket.request.max.bytes",
					     "nosuch.key" };
	const char *text = "num.partitions=1\nlog.roll.hours=168\nlog.retention.minutes=5\n"
			   "log.dir=/x\nlog.roll.jitter.hours=0\n"
			   "listeners=PLAINTEXT://127.0.0.1:0\nmax.message.bytes=1048588\n";
	struct broker_config c, d;
	char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	char err[256];

	(void)state;
	broker_config_defaults(&c);
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		assert_false(broker_config_file_set(&c, set[i], strlen(set[i])));
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
		assert_true(broker_config_file_set(&c, set[i], strlen(set[i])));
	for (size_t i = 0; i < sizeof(unset) / sizeof(unset[0]); i++)
		assert_false(broker_config_file_set(&c, unset[i], strlen(unset[i])));
	/* The aliases as the file gave them, for DescribeConfigs. */
	assert_int_equal(broker_config_render_aliases(&c, &a, &alen), 0);
	assert_string_equal(
		a, "log.retention.minutes=5\nlog.roll.hours=168\nlog.roll.jitter.hours=0\n");
	assert_int_equal(alen, strlen(a));
	free(a);
	a = NULL;

	/* A default written out renders as one left out. */
	broker_config_defaults(&c);
	broker_config_defaults(&d);
	assert_int_equal(parse(&c, "num.partitions=1\n", err, sizeof(err)), 0);
	assert_int_equal(broker_config_render(&c, &a, &alen), 0);
	assert_int_equal(broker_config_render(&d, &b, &blen), 0);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	free(a);
	free(b);

	/* All or nothing: a refused text leaves no key recorded. */
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, "log.segment.bytes=2048\nnosuch=1\n", err, sizeof(err)),
			 -EINVAL);
	assert_false(broker_config_file_set(&c, "log.segment.bytes", 17));
}

static void test_bad_broker_input(void **state)
{
	static const struct {
		const char *text;
		const char *err;
	} cases[] = {
		{ "foo=1\n", "line 1: unknown key 'foo'" },
		{ "# c\n\nbroker.id=1\nlog.segment.bytes=12x\n",
		  "line 4: Invalid value 12x for configuration log.segment.bytes: "
		  "Not a number of type INT" },
		{ "num.partitions=99999999999999999999\n",
		  "line 1: Invalid value 99999999999999999999 for configuration num.partitions: "
		  "Not a number of type INT" },
		{ "log.flush.interval.messages=9223372036854775808\n",
		  "line 1: Invalid value 9223372036854775808 for configuration "
		  "log.flush.interval.messages: Not a number of type LONG" },
		{ "broker.id=2147483648\n", "line 1: bad value for 'broker.id': '2147483648' "
					    "(expected an integer from 0 to 2147483647)" },
		{ "broker.id=-1\n",
		  "line 1: bad value for 'broker.id': '-1' (expected an integer from 0 to 2147483647)" },
		{ "offsets.retention.minutes=0\n",
		  "line 1: bad value for 'offsets.retention.minutes': '0' "
		  "(expected an integer from 1 to 2147483647)" },
		{ "offsets.retention.minutes=2147483648\n",
		  "line 1: bad value for 'offsets.retention.minutes': '2147483648' "
		  "(expected an integer from 1 to 2147483647)" },
		{ "buffer.memory=-4096\n",
		  "line 1: bad value for 'buffer.memory': '-4096' "
		  "(expected an integer from 1024 to 9223372036854775807)" },
		{ "batch.size=0x10\n",
		  "line 1: Invalid value 0x10 for configuration batch.size: Not a number of type INT" },
		{ "batch.size=1 000\n",
		  "line 1: Invalid value 1 000 for configuration batch.size: Not a number of type INT" },
		{ "batch.size=67108865\n",
		  "line 1: bad value for 'batch.size': '67108865' (expected an integer from 1 to 67108864)" },
		{ "broker.id=1\nnum.partitions=\n",
		  "line 2: Invalid value  for configuration num.partitions: Not a number of type INT" },
		{ "group.max.size=1001\n",
		  "line 1: bad value for 'group.max.size': '1001' (expected an integer from 1 to 1000)" },
		{ "num.partitions=0\n",
		  "line 1: bad value for 'num.partitions': '0' (expected an integer from 1 to 10000)" },
		{ "num.partitions=10001\n",
		  "line 1: bad value for 'num.partitions': '10001' (expected an integer from 1 to 10000)" },
		{ "log.segment.bytes=13\n", "line 1: bad value for 'log.segment.bytes': '13' "
					    "(expected an integer from 14 to 2147483647)" },
		{ "log.segment.bytes=2147483648\n",
		  "line 1: bad value for 'log.segment.bytes': '2147483648' "
		  "(expected an integer from 14 to 2147483647)" },
		{ "log.index.size.max.bytes=3\n",
		  "line 1: bad value for 'log.index.size.max.bytes': '3' "
		  "(expected an integer from 4 to 2147483647)" },
		{ "log.flush.interval.messages=0\n",
		  "line 1: bad value for 'log.flush.interval.messages': '0' "
		  "(expected an integer from 1 to 9223372036854775807)" },
		{ "log.flush.offset.checkpoint.interval.ms=0\n",
		  "line 1: bad value for 'log.flush.offset.checkpoint.interval.ms': '0' "
		  "(expected an integer from 1 to 9223372036854775807)" },
		{ "\n\nnum.partitions 3\n", "line 3: expected key=value: 'num.partitions 3'" },
		{ "=5\n", "line 1: missing key: '=5'" },
		{ "log.dirs=/a,/b\n", "line 1: bad value for 'log.dirs': '/a,/b' "
				      "(expected one directory: mqfs uses a single log dir)" },
		{ "log.dirs=\n",
		  "line 1: bad value for 'log.dirs': '' (expected a directory path of 1 to 4095 bytes)" },
		{ "compression.type=GZIP\n",
		  "line 1: bad value for 'compression.type': 'GZIP' "
		  "(expected producer, none, gzip, snappy, lz4 or zstd)" },
		{ "compression.type=brotli\n",
		  "line 1: bad value for 'compression.type': 'brotli' "
		  "(expected producer, none, gzip, snappy, lz4 or zstd)" },
		{ "acks=2\n", "line 1: bad value for 'acks': '2' (expected all, -1, 0 or 1)" },
		{ "acks=\n", "line 1: bad value for 'acks': '' (expected all, -1, 0 or 1)" },
		{ "key.separator=a\\nb\n", "line 1: bad value for 'key.separator': 'a\\nb' "
					   "(a separator may not contain a newline)" },
		{ "key.separator=0123456789abcdef\n",
		  "line 1: bad value for 'key.separator': '0123456789abcdef' "
		  "(expected at most 15 bytes)" },
		{ "key.separator=\\x41\n", "line 1: bad value for 'key.separator': '\\x41' "
					   "(expected the escapes \\t, \\s or \\\\ only)" },
		{ "key.separator=a\\\n", "line 1: bad value for 'key.separator': 'a\\' "
					 "(expected the escapes \\t, \\s or \\\\ only)" },
		{ "key.separator=a\x01"
		  "b\n",
		  "line 1: bad value for 'key.separator': 'a\x01"
		  "b' (expected no control characters)" },
		{ "segment.bytes=2048\n", "line 1: unknown key 'segment.bytes'" },
	};
	struct broker_config c, before;
	char err[512];

	(void)state;
	broker_config_defaults(&c);
	/* Non-defaults, so that "unchanged" is not "reset to defaults". */
	assert_int_equal(parse(&c, "num.partitions=5\nbroker.id=2\n", err, sizeof(err)), 0);
	memcpy(&before, &c, sizeof(c));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(&c, cases[i].text, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, cases[i].err);
		assert_memory_equal(&c, &before, sizeof(c));
	}

	/* A good line before the bad one is not applied either. */
	assert_int_equal(parse(&c, "num.partitions=9\nbroker.id=x\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "line 2: Invalid value x for configuration broker.id: Not a number "
			    "of type INT");
	assert_memory_equal(&c, &before, sizeof(c));

	/* A NUL byte inside a line. */
	assert_int_equal(broker_config_parse(&c, "broker.id=1\nacks=1\0\n", 19, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 2: NUL byte");
	assert_memory_equal(&c, &before, sizeof(c));

	/* err may be NULL; a short err buffer is cut, still terminated. */
	assert_int_equal(parse(&c, "foo=1\n", NULL, 0), -EINVAL);
	assert_int_equal(parse(&c, "foo=1\n", err, 8), -EINVAL);
	assert_string_equal(err, "line 1:");
	assert_memory_equal(&c, &before, sizeof(c));
}

static void test_comments_whitespace(void **state)
{
	struct broker_config c;
	char err[256] = "";
	const char *text = "# Kafka-style server.properties\n"
			   "! also a comment\n"
			   "\n"
			   "   \t  \n"
			   "   # indented comment = with separator\n"
			   "  num.partitions  =  7  \r\n"
			   "broker.id:3\n"
			   "log.dirs = /srv/mq data \n"
			   "\tacks\t:\tall\t\n"
			   "key.separator==\n"
			   "log.segment.bytes=4096"; /* no final newline */

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(c.num_partitions, 7);
	assert_int_equal(c.broker_id, 3);
	assert_string_equal(c.data_dir, "/srv/mq data");
	assert_int_equal(c.acks, -1);
	assert_string_equal(c.log.key_sep, "=");
	assert_int_equal(c.log.segment_bytes, 4096);

	/* Line numbers count comment and blank lines, and CRLF. */
	assert_int_equal(parse(&c, "# x\r\n\r\nbogus = 1\r\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 3: unknown key 'bogus'");
	/* The key ends at the first ':' or '='. */
	assert_int_equal(parse(&c, "key.separator: :\n", err, sizeof(err)), 0);
	assert_string_equal(c.log.key_sep, ":");
}

static void test_broker_roundtrip(void **state)
{
	struct broker_config c, d;
	char err[256];
	char *text;
	size_t len;

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(parse(&c,
			       "broker.id=4\nlog.dirs=/x\nlog.roll.hours=3\nacks=0\n"
			       "compression.type=gzip\nkey.separator=\\s=>\\t\\\\\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(broker_config_render(&c, &text, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_non_null(strstr(text, "log.roll.ms=10800000\n"));
	assert_non_null(strstr(text, "acks=0\n"));
	assert_non_null(strstr(text, "compression.type=gzip\n"));
	assert_non_null(strstr(text, "key.separator=\\s=>\\t\\\\\n"));
	broker_config_defaults(&d);
	assert_int_equal(broker_config_parse(&d, text, len, err, sizeof(err)), 0);
	assert_broker_equal(&c, &d);
	free(text);
}

static void test_load(void **state)
{
	char dir[] = "/tmp/test_config_XXXXXX", path[128], err[512];
	struct broker_config c, before;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/server.properties", dir);
	broker_config_defaults(&c);

	assert_int_equal(broker_config_load(&c, path, err, sizeof(err)), -ENOENT);
	{
		char want[256];

		snprintf(want, sizeof(want), "cannot read %s: No such file or directory", path);
		assert_string_equal(err, want);
	}

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "broker.id=9\nnum.partitions=2\n", 29), 29);
	close(fd);
	assert_int_equal(broker_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.broker_id, 9);
	assert_int_equal(c.num_partitions, 2);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "broker.id=1\nnope=2\n", 19), 19);
	close(fd);
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(broker_config_load(&c, path, err, sizeof(err)), -EINVAL);
	{
		char want[256];

		snprintf(want, sizeof(want), "%s: line 2: unknown key 'nope'", path);
		assert_string_equal(err, want);
	}
	assert_memory_equal(&c, &before, sizeof(c));

	/* A UTF-8 byte order mark before the first key, as some editors
	 * write it, with CRLF line ends: the keys are read as written. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd,
			       "\xEF\xBB\xBF"
			       "broker.id=4\r\nnum.partitions=3\r\n",
			       34),
			 34);
	close(fd);
	assert_int_equal(broker_config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.broker_id, 4);
	assert_int_equal(c.num_partitions, 3);

	/* A directory is not a file. */
	assert_int_equal(broker_config_load(&c, dir, err, sizeof(err)), -EISDIR);

	unlink(path);
	rmdir(dir);
}

/* ---- topic config ---- */

static void test_every_topic_key(void **state)
{
	struct topic_config tc;
	char err[256] = "";

	(void)state;
	topic_defaults(&tc);
	assert_int_equal(apply(&tc,
			       "partitions=4\n"
			       "acks=1\n"
			       "segment.bytes=1048576\n"
			       "segment.ms=60000\n"
			       "segment.index.bytes=8192\n"
			       "index.interval.bytes=100\n"
			       "max.message.bytes=4096\n"
			       "flush.messages=10\n"
			       "flush.ms=250\n"
			       "compression.type=gzip\n"
			       "batch.size=1000\n"
			       "message.timestamp.type=LogAppendTime\n"
			       "key.separator=\\t\n",
			       err, sizeof(err)),
			 0);
	assert_string_equal(err, "");
	assert_true(tc.log.log_append_time);
	assert_int_equal(tc.partitions, 4);
	assert_int_equal(tc.acks, 1);
	assert_int_equal(tc.log.segment_bytes, 1048576);
	assert_int_equal(tc.log.segment_ms, 60000);
	assert_int_equal(tc.log.segment_index_bytes, 8192);
	assert_int_equal(tc.log.index_interval_bytes, 100);
	assert_int_equal(tc.log.max_message_bytes, 4096);
	assert_int_equal(tc.log.flush_messages, 10);
	assert_int_equal(tc.log.flush_ms, 250);
	assert_int_equal(tc.log.codec, BATCH_CODEC_GZIP);
	assert_int_equal(tc.log.batch_bytes, 1000);
	assert_int_equal(tc.log.key_sep_len, 1);
	assert_string_equal(tc.log.key_sep, "\t");

	/* Kafka's two timestamp types, spelt as Kafka's ValidString takes them. */
	assert_int_equal(apply(&tc, "message.timestamp.type=CreateTime\n", err, sizeof(err)), 0);
	assert_false(tc.log.log_append_time);
	assert_int_equal(apply(&tc, "message.timestamp.type=createtime\n", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 1: bad value for 'message.timestamp.type': 'createtime' "
				 "(expected CreateTime or LogAppendTime)");

	/* Broker-only names are not topic keys. */
	assert_int_equal(apply(&tc, "log.segment.bytes=2048\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: unknown key 'log.segment.bytes'");
	assert_int_equal(apply(&tc, "num.partitions=8\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: unknown key 'num.partitions'");
}

/* Kafka's segment, compaction-lag, timestamp-bound and preallocation
 * settings: both names, their ranges, the jitter's hours form, and the
 * lags' order checked on the whole result. */
static void test_kafka_extra_keys(void **state)
{
	struct broker_config c;
	struct topic_config tc;
	char err[256] = "";
	int64_t before, after;

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(parse(&c,
			       "log.roll.jitter.hours=2\n"
			       "log.cleaner.max.compaction.lag.ms=60000\n"
			       "log.message.timestamp.difference.max.ms=5000\n"
			       "log.message.timestamp.after.max.ms=100\n"
			       "log.preallocate=TRUE\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(c.log.segment_jitter_ms, 2 * 3600 * 1000);
	assert_int_equal(c.log.max_compaction_lag_ms, 60000);
	assert_true(c.log.preallocate);
	log_ts_bounds(&c.log, &before, &after);
	assert_int_equal(before, 5000); /* before unset: the difference */
	assert_int_equal(after, 100);
	/* log.roll.jitter.ms wins over .hours, whatever the order (Kafka's). */
	assert_int_equal(
		parse(&c, "log.roll.jitter.ms=7\nlog.roll.jitter.hours=1\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.segment_jitter_ms, 7);
	assert_int_equal(parse(&c, "log.cleaner.min.compaction.lag.ms=60001\n", err, sizeof(err)),
			 -EINVAL);
	/* Kafka's LogConfig words, which name the topic keys (its
	 * LogManager checks the broker's defaults as a topic config). */
	assert_string_equal(err, "conflict topic config setting min.compaction.lag.ms (60001) > "
				 "max.compaction.lag.ms (60000)");

	topic_config_defaults_of(&c, &tc);
	assert_int_equal(apply(&tc,
			       "segment.jitter.ms=10\nmax.compaction.lag.ms=1000\n"
			       "message.timestamp.before.max.ms=30\npreallocate=false\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(tc.log.segment_jitter_ms, 10);
	assert_int_equal(tc.log.max_compaction_lag_ms, 1000);
	assert_false(tc.log.preallocate);
	log_ts_bounds(&tc.log, &before, &after);
	assert_int_equal(before, 30);
	assert_int_equal(after, 100);
	assert_int_equal(apply(&tc, "max.compaction.lag.ms=0\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: bad value for 'max.compaction.lag.ms': '0' (expected an "
				 "integer from 1 to 9223372036854775807)");
	/* The order is checked on the settings as they would be. */
	assert_int_equal(apply(&tc, "min.compaction.lag.ms=1001\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "conflict topic config setting min.compaction.lag.ms (1001) > "
				 "max.compaction.lag.ms (1000)");
	assert_int_equal(tc.log.min_compaction_lag_ms, 0);
	assert_int_equal(apply(&tc, "max.compaction.lag.ms=5000\nmin.compaction.lag.ms=1001\n", err,
			       sizeof(err)),
			 0);
	assert_int_equal(tc.log.min_compaction_lag_ms, 1001);
	assert_string_equal(topic_config_broker_key("segment.jitter.ms"), "log.roll.jitter.ms");
	assert_string_equal(topic_config_broker_key("max.compaction.lag.ms"),
			    "log.cleaner.max.compaction.lag.ms");
	assert_string_equal(topic_config_broker_key("preallocate"), "log.preallocate");
}

/* The segment age that rolls: segment.ms, max.compaction.lag.ms when shorter
 * in a compacted log, less a jitter fixed per directory and base offset. */
static void test_roll_age(void **state)
{
	struct log_config cfg;
	bool differ = false;

	(void)state;
	log_config_defaults(&cfg);
	cfg.segment_ms = 1000;
	assert_int_equal(log_roll_age_ms(&cfg, "/d/t-0", 0), 1000);
	cfg.max_compaction_lag_ms = 300; /* delete policy: not a roll age */
	assert_int_equal(log_roll_age_ms(&cfg, "/d/t-0", 0), 1000);
	cfg.cleanup_policy = LOG_CLEANUP_COMPACT;
	assert_int_equal(log_roll_age_ms(&cfg, "/d/t-0", 0), 300);
	cfg.max_compaction_lag_ms = INT64_MAX;
	cfg.segment_jitter_ms = 100;
	for (int64_t base = 0; base < 64; base++) {
		int64_t a = log_roll_age_ms(&cfg, "/d/t-0", base);

		assert_true(a > 900 && a <= 1000);
		assert_int_equal(a, log_roll_age_ms(&cfg, "/d/t-0", base)); /* fixed */
		differ = differ || a != log_roll_age_ms(&cfg, "/d/t-1", base);
	}
	assert_true(differ);
	cfg.segment_jitter_ms = INT64_MAX; /* at most the age itself */
	assert_true(log_roll_age_ms(&cfg, "/d/t-0", 5) > 0);
}

static void test_topic_all_or_nothing(void **state)
{
	struct topic_config tc, before;
	char err[256];

	(void)state;
	topic_defaults(&tc);
	memcpy(&before, &tc, sizeof(tc));
	assert_int_equal(apply(&tc, "acks=0\nsegment.bytes=2048\nkey.separator=,\nbogus=1\n", err,
			       sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 4: unknown key 'bogus'");
	assert_memory_equal(&tc, &before, sizeof(tc));

	/* A key that takes -1 says so. */
	assert_int_equal(apply(&tc, "retention.ms=-2\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: bad value for 'retention.ms': '-2' "
				 "(expected -1 (no limit) or an integer from 0 to "
				 "9223372036854775807)");
	assert_memory_equal(&tc, &before, sizeof(tc));

	assert_int_equal(apply(&tc, "acks=0\nflush.ms=-1\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 2: bad value for 'flush.ms': '-1' "
				 "(expected an integer from 0 to 9223372036854775807)");
	assert_memory_equal(&tc, &before, sizeof(tc));

	assert_int_equal(apply(&tc, "acks 0\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: expected key=value: 'acks 0'");
	assert_memory_equal(&tc, &before, sizeof(tc));

	assert_int_equal(apply(&tc, "compression.type=zlib\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: bad value for 'compression.type': 'zlib' "
				 "(expected producer, none, gzip, snappy, lz4 or zstd)");
	assert_memory_equal(&tc, &before, sizeof(tc));
}

/* A .config written a line per write(): the lines checked before kept as
 * topic_config_compact's digest, the new ones applied after it, give
 * what the whole text gives, and messages number the new lines from the
 * open. */
static void test_topic_digest(void **state)
{
	const char *earlier = "retention.ms=1\n# a comment\n\n  acks : 0 \nretention.ms=2\n"
			      "segment.bytes=4096\nacks=1\n";
	struct topic_config whole, more;
	char err[256], *d = NULL, *d2 = NULL;
	size_t dl = 0, dl2 = 0;

	(void)state;
	assert_int_equal(topic_config_compact(NULL, 0, earlier, strlen(earlier), &d, &dl), 0);
	assert_string_equal(d, "retention.ms=2\nacks=1\nsegment.bytes=4096\n");
	assert_int_equal(dl, strlen(d));
	assert_int_equal(topic_config_compact(d, dl, "segment.bytes=2048\n", 19, &d2, &dl2), 0);
	assert_string_equal(d2, "retention.ms=2\nacks=1\nsegment.bytes=2048\n");
	free(d2);
	assert_int_equal(topic_config_compact(NULL, 0, "# c\n\n", 5, &d2, &dl2), 0);
	assert_int_equal(dl2, 0);
	free(d2);

	topic_defaults(&whole);
	more = whole;
	assert_int_equal(apply(&whole,
			       "retention.ms=1\n# a comment\n\n  acks : 0 \n"
			       "retention.ms=2\nsegment.bytes=4096\nacks=1\n"
			       "retention.bytes=77\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(topic_config_apply_more(&more, NULL, d, dl, "retention.bytes=77\n", 19, 7,
						 err, sizeof(err)),
			 0);
	assert_memory_equal(&whole, &more, sizeof(whole));
	/* A refusal names the line counted from the open. */
	assert_int_equal(topic_config_apply_more(&more, NULL, d, dl, "acks=1\nsegment.ms=x\n", 20,
						 7, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err,
			    "line 9: Invalid value x for configuration segment.ms: Not a number "
			    "of type LONG");
	assert_memory_equal(&whole, &more, sizeof(whole));
	/* An earlier line that no longer passes (another writer grew the
	 * partitions meanwhile) is named as such. */
	more.partitions = 5;
	assert_int_equal(topic_config_apply_more(&more, NULL, "partitions=3\n", 13, "acks=1\n", 7,
						 1, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "an earlier line: bad value for 'partitions': '3' "
				 "(partitions may only grow: now 5)");
	free(d);
}

/* Kafka 3.x's keys of old message formats and of delayed deletion:
 * file.delete.delay.ms a number of ms; message.format.version a version
 * Kafka knows (cut as Kafka cuts it), anything else refused;
 * message.downconversion.enable a boolean. The broker's names set the
 * topics' defaults. */
static void test_old_format_keys(void **state)
{
	static const char *const versions_ok[] = {
		"0.8.0", "0.10.0", "0.10.0-IV1", "0.10.0.1", "0.11.0-IV2", "1.0",
		"2.8",   "2.8.1",  "2.8-IV1",    "3.0-IV1",  "3.3-IV3",    "3.9",
	};
	static const char *const versions_bad[] = {
		"",        "garbage", "3",      "0.10",    "3.10", "4.0",      "2.8-IV2",
		"1.0-IV1", "3.0-IV9", "3.0-IV", "3.0-iv1", "-3.0", "3.0-IV1x",
	};
	struct topic_config tc, before;
	struct broker_config c;
	char err[256], line[80];

	(void)state;
	topic_defaults(&tc);
	assert_int_equal(tc.log.file_delete_delay_ms, 60000);
	assert_string_equal(tc.log.message_format_version, "3.0-IV1");
	assert_true(tc.log.message_downconversion);
	assert_int_equal(apply(&tc,
			       "file.delete.delay.ms=0\nmessage.format.version=0.10.0\n"
			       "message.downconversion.enable=FALSE\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(tc.log.file_delete_delay_ms, 0);
	assert_string_equal(tc.log.message_format_version, "0.10.0");
	assert_false(tc.log.message_downconversion);
	for (size_t i = 0; i < sizeof(versions_ok) / sizeof(versions_ok[0]); i++) {
		snprintf(line, sizeof(line), "message.format.version=%s\n", versions_ok[i]);
		assert_int_equal(apply(&tc, line, err, sizeof(err)), 0);
		assert_string_equal(tc.log.message_format_version, versions_ok[i]);
	}
	for (size_t i = 0; i < sizeof(versions_bad) / sizeof(versions_bad[0]); i++) {
		snprintf(line, sizeof(line), "message.format.version=%s\n", versions_bad[i]);
		memcpy(&before, &tc, sizeof(tc));
		assert_int_equal(apply(&tc, line, err, sizeof(err)), -EINVAL);
		assert_memory_equal(&tc, &before, sizeof(tc));
	}
	assert_int_equal(apply(&tc, "message.format.version=garbage\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: bad value for 'message.format.version': 'garbage' "
				 "(expected a Kafka version such as 2.8, 3.0-IV1 or 0.10.0)");
	assert_int_equal(apply(&tc, "file.delete.delay.ms=-1\n", err, sizeof(err)), -EINVAL);
	assert_int_equal(apply(&tc, "message.downconversion.enable=1\n", err, sizeof(err)),
			 -EINVAL);

	broker_config_defaults(&c);
	assert_int_equal(parse(&c,
			       "log.segment.delete.delay.ms=5\nlog.message.format.version=2.8\n"
			       "log.message.downconversion.enable=false\n",
			       err, sizeof(err)),
			 0);
	topic_config_defaults_of(&c, &tc);
	assert_int_equal(tc.log.file_delete_delay_ms, 5);
	assert_string_equal(tc.log.message_format_version, "2.8");
	assert_false(tc.log.message_downconversion);
	assert_int_equal(parse(&c, "log.message.format.version=9.9\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(topic_config_broker_key("file.delete.delay.ms"),
			    "log.segment.delete.delay.ms");
	assert_string_equal(topic_config_broker_key("message.format.version"),
			    "log.message.format.version");
	assert_string_equal(topic_config_broker_key("message.downconversion.enable"),
			    "log.message.downconversion.enable");
}

/* A key given is an override even at the default's value; "-key" removes
 * it (the default's value again), needs defaults to go back to, and is
 * one setting with "key=..." when lines are compacted. */
static void test_overrides_kept(void **state)
{
	struct topic_config tc, def;
	char err[256], *out = NULL;
	size_t outlen = 0;

	(void)state;
	topic_defaults(&tc);
	def = tc;
	def.log.retention_ms = 5000;
	assert_false(topic_config_key_set(&tc, "retention.ms", 12));
	assert_int_equal(apply(&tc, "retention.ms=604800000\npartitions=1\nkey.separator=\n", err,
			       sizeof(err)),
			 0);
	assert_true(topic_config_key_set(&tc, "retention.ms", 12));
	/* Pinned to the topic anyway: no override bit. */
	assert_false(topic_config_key_set(&tc, "partitions", 10));
	assert_false(topic_config_key_set(&tc, "key.separator", 13));
	assert_false(topic_config_key_set(&tc, "bogus", 5));
	assert_int_equal(
		topic_config_apply_def(&tc, &def, " -retention.ms \n", 16, err, sizeof(err)), 0);
	assert_int_equal(tc.log.retention_ms, 5000);
	assert_false(topic_config_key_set(&tc, "retention.ms", 12));
	assert_int_equal(apply(&tc, "-retention.ms\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: cannot remove 'retention.ms' "
				 "(no default to go back to here)");
	assert_int_equal(topic_config_apply_def(&tc, &def, "-partitions\n", 12, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(topic_config_apply_def(&tc, &def, "-bogus\n", 7, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 1: expected -key (a setting to remove): '-bogus'");
	assert_int_equal(
		topic_config_apply_def(&tc, &def, "-retention.ms=1\n", 16, err, sizeof(err)),
		-EINVAL);
	assert_int_equal(topic_config_compact("retention.ms=5\n-retention.ms\n", 30,
					      "retention.ms=6\n", 15, &out, &outlen),
			 0);
	assert_string_equal(out, "retention.ms=6\n");
	free(out);
	assert_int_equal(
		topic_config_compact("retention.ms=5\n", 15, "-retention.ms\n", 14, &out, &outlen),
		0);
	assert_string_equal(out, "-retention.ms\n");
	free(out);
}

/* Values Kafka takes that are no digits-only integer: a negative limit
 * where Kafka reads any negative number as "no limit", and booleans in
 * any case. Each is kept in canonical form (-1, true/false). */
static void test_kafka_values(void **state)
{
	static const struct {
		const char *text;
		int64_t bytes, ms;
	} topic_ok[] = {
		{ "retention.bytes=-5\n", -1, 604800000 },
		{ "retention.bytes=-9223372036854775808\n", -1, 604800000 },
		{ "retention.bytes=-0\n", 0, 604800000 },
		{ "retention.ms=-1\nretention.bytes=-1\n", -1, -1 },
		{ "retention.ms=-0\n", -1, 0 },
	};
	static const char *const topic_bad[] = {
		"retention.ms=-2\n",
		"retention.bytes=-9223372036854775809\n",
		"retention.bytes=-\n",
		"retention.bytes=--1\n",
		"retention.bytes=-1x\n",
		"retention.bytes=- 1\n",
		"unclean.leader.election.enable=yes\n",
		"unclean.leader.election.enable=truee\n",
	};
	struct topic_config tc, before;
	struct broker_config c;
	char err[256];
	char *text;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(topic_ok) / sizeof(topic_ok[0]); i++) {
		topic_defaults(&tc);
		assert_int_equal(apply(&tc, topic_ok[i].text, err, sizeof(err)), 0);
		assert_int_equal(tc.log.retention_bytes, topic_ok[i].bytes);
		assert_int_equal(tc.log.retention_ms, topic_ok[i].ms);
	}
	topic_defaults(&tc);
	for (size_t i = 0; i < sizeof(topic_bad) / sizeof(topic_bad[0]); i++) {
		memcpy(&before, &tc, sizeof(tc));
		assert_int_equal(apply(&tc, topic_bad[i], err, sizeof(err)), -EINVAL);
		assert_memory_equal(&tc, &before, sizeof(tc));
	}
	assert_int_equal(apply(&tc, "retention.bytes=x\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: Invalid value x for configuration retention.bytes: Not a "
				 "number of type LONG");
	assert_int_equal(apply(&tc, "retention.bytes=-1x\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err,
			    "line 1: Invalid value -1x for configuration retention.bytes: Not a "
			    "number of type LONG");
	assert_int_equal(apply(&tc, "unclean.leader.election.enable=TRUE\n", err, sizeof(err)), 0);
	assert_true(tc.unclean_leader_election);
	assert_int_equal(apply(&tc, "unclean.leader.election.enable=False\n", err, sizeof(err)), 0);
	assert_false(tc.unclean_leader_election);
	assert_int_equal(apply(&tc, "retention.bytes=-12\n", err, sizeof(err)), 0);
	assert_int_equal(topic_config_render(&tc, &text, &len), 0);
	assert_non_null(strstr(text, "\nretention.bytes=-1\n"));
	free(text);

	/* The broker's retention: any negative ms, minutes or hours, as
	 * Kafka's broker, is no limit. */
	broker_config_defaults(&c);
	assert_int_equal(
		parse(&c, "log.retention.ms=-5\nlog.retention.bytes=-7\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.retention_ms, -1);
	assert_int_equal(c.log.retention_bytes, -1);
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, "log.retention.minutes=-3\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.retention_ms, -1);
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, "log.retention.hours=-2147483648\n", err, sizeof(err)), 0);
	assert_int_equal(c.log.retention_ms, -1);
	assert_int_equal(parse(&c, "log.retention.hours=-99999999999999999999\n", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 1: Invalid value -99999999999999999999 for configuration "
				 "log.retention.hours: Not a number of type INT");
	/* Booleans, the cluster's too. */
	broker_config_defaults(&c);
	assert_int_equal(parse(&c,
			       "log.cleaner.enable=FALSE\nauto.create.topics.enable=False\n"
			       "unclean.leader.election.enable=TRUE\n"
			       "controlled.shutdown.enable=fAlSe\n",
			       err, sizeof(err)),
			 0);
	assert_false(c.cleaner_enable);
	assert_false(c.auto_create_topics);
	assert_true(c.cluster.unclean_leader_election);
	assert_false(c.cluster.controlled_shutdown);
	assert_int_equal(parse(&c, "controlled.shutdown.enable=1\n", err, sizeof(err)), -EINVAL);
}

/* Integers as Java's parseInt/parseLong read a Kafka setting: an
 * optional sign ("+2048", "-0"), so .config and AlterConfigs refuse
 * (INVALID_CONFIG) only what Kafka refuses; kept in canonical form. */
static void test_int_signs(void **state)
{
	static const struct {
		const char *text;
		int64_t segment_bytes, index_interval, retention_ms;
	} ok[] = {
		{ "segment.bytes=+2048\n", 2048, 4096, 604800000 },
		{ "segment.bytes=+02048\n", 2048, 4096, 604800000 },
		{ "index.interval.bytes=-0\n", 1073741824, 0, 604800000 },
		{ "index.interval.bytes=-000\n", 1073741824, 0, 604800000 },
		{ "retention.ms=+5\n", 1073741824, 4096, 5 },
		{ "segment.bytes= +2147483647 \n", 2147483647, 4096, 604800000 },
	};
	static const char *const bad[] = {
		"segment.bytes=+\n",
		"segment.bytes=-\n",
		"segment.bytes=++2048\n",
		"segment.bytes=+-2048\n",
		"segment.bytes=-+2048\n",
		"segment.bytes=-2048\n",
		"segment.bytes=+ 2048\n",
		"segment.bytes=-0\n",
		"segment.bytes=+2147483648\n",
		"index.interval.bytes=-1\n",
		"segment.ms=-0\n",
		"index.interval.bytes=-9223372036854775809\n",
	};
	struct topic_config tc, before;
	struct broker_config c;
	char err[256], *text;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		topic_defaults(&tc);
		assert_int_equal(apply(&tc, ok[i].text, err, sizeof(err)), 0);
		assert_int_equal(tc.log.segment_bytes, ok[i].segment_bytes);
		assert_int_equal(tc.log.index_interval_bytes, ok[i].index_interval);
		assert_int_equal(tc.log.retention_ms, ok[i].retention_ms);
	}
	topic_defaults(&tc);
	assert_int_equal(apply(&tc, "segment.bytes=+2048\n", err, sizeof(err)), 0);
	assert_int_equal(topic_config_render(&tc, &text, &len), 0);
	assert_non_null(strstr(text, "\nsegment.bytes=2048\n"));
	free(text);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(&before, &tc, sizeof(tc));
		assert_int_equal(apply(&tc, bad[i], err, sizeof(err)), -EINVAL);
		assert_memory_equal(&tc, &before, sizeof(tc));
	}
	assert_int_equal(apply(&tc, "segment.bytes=-2048\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: bad value for 'segment.bytes': '-2048' "
				 "(expected an integer from 14 to 2147483647)");
	/* The broker's file reads them alike. */
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, "log.segment.bytes=+4096\nlog.index.interval.bytes=-0\n", err,
			       sizeof(err)),
			 0);
	assert_int_equal(c.log.segment_bytes, 4096);
	assert_int_equal(c.log.index_interval_bytes, 0);
}

/* Kafka 3.x's minimums of the segment sizes, which a Kafka tool may set
 * (AlterConfigs): segment.bytes 14, segment.index.bytes 4; one below is
 * refused, as Kafka refuses it. */
static void test_segment_minimums(void **state)
{
	struct topic_config tc;
	struct broker_config c;
	char err[256];

	(void)state;
	topic_defaults(&tc);
	assert_int_equal(apply(&tc, "segment.bytes=14\nsegment.index.bytes=4\n", err, sizeof(err)),
			 0);
	assert_int_equal(tc.log.segment_bytes, 14);
	assert_int_equal(tc.log.segment_index_bytes, 4);
	assert_int_equal(apply(&tc, "segment.bytes=13\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: bad value for 'segment.bytes': '13' "
				 "(expected an integer from 14 to 2147483647)");
	assert_int_equal(apply(&tc, "segment.index.bytes=3\n", err, sizeof(err)), -EINVAL);
	assert_int_equal(tc.log.segment_bytes, 14);
	broker_config_defaults(&c);
	assert_int_equal(
		parse(&c, "log.segment.bytes=14\nlog.index.size.max.bytes=4\n", err, sizeof(err)),
		0);
	assert_int_equal(c.log.segment_bytes, 14);
	assert_int_equal(c.log.segment_index_bytes, 4);
}

/* min.cleanable.dirty.ratio as Java's parseDouble and Kafka's range: a
 * sign, "-0", digits past the millionths that still count. */
static void test_ratio_edges(void **state)
{
	static const struct {
		const char *v;
		double want; /* < 0: refused */
	} cases[] = {
		{ "-0", 0 },
		{ "+0.25", 0.25 },
		{ "-0.000", 0 },
		{ ".5", 0.5 },
		{ "1", 1 },
		{ "1.0000000", 1 },
		{ "0.1234567", 0.123456 },
		{ "-0.1", -1 },
		{ "-0.0000001", -1 },
		{ "1.0000001", -1 },
		{ "2", -1 },
		{ "-", -1 },
		{ "+", -1 },
		{ ".", -1 },
		{ "1e-1", -1 },
	};
	char err[256], text[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct topic_config tc;
		int rc;

		topic_defaults(&tc);
		snprintf(text, sizeof(text), "min.cleanable.dirty.ratio=%s\n", cases[i].v);
		rc = apply(&tc, text, err, sizeof(err));
		if (cases[i].want < 0) {
			assert_int_equal(rc, -EINVAL);
		} else {
			assert_int_equal(rc, 0);
			assert_true(tc.log.min_cleanable_dirty_ratio == cases[i].want);
		}
	}
}

static void test_partitions_grow(void **state)
{
	struct topic_config tc;
	char err[256];

	(void)state;
	topic_defaults(&tc);
	tc.partitions = 3;
	assert_int_equal(apply(&tc, "acks=1\npartitions=2\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 2: bad value for 'partitions': '2' "
				 "(partitions may only grow: now 3)");
	assert_int_equal(tc.partitions, 3);
	assert_int_equal(tc.acks, -1);
	assert_int_equal(apply(&tc, "partitions=3\n", err, sizeof(err)), 0);
	assert_int_equal(tc.partitions, 3);
	assert_int_equal(apply(&tc, "partitions=5\n", err, sizeof(err)), 0);
	assert_int_equal(tc.partitions, 5);
	/* Checked against the value before this text, last line wins. */
	assert_int_equal(apply(&tc, "partitions=9\npartitions=6\n", err, sizeof(err)), 0);
	assert_int_equal(tc.partitions, 6);
	assert_int_equal(apply(&tc, "partitions=10001\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: bad value for 'partitions': '10001' "
				 "(expected an integer from 1 to 10000)");
	assert_int_equal(apply(&tc, "partitions=0\n", err, sizeof(err)), -EINVAL);
	assert_int_equal(apply(&tc, "partitions=10000\n", err, sizeof(err)), 0);
	assert_int_equal(tc.partitions, 10000);
}

static void test_key_separator(void **state)
{
	static const struct {
		const char *in;
		const char *sep;
		int len;
		const char *out;
	} cases[] = {
		{ "key.separator=\\t\n", "\t", 1, "key.separator=\\t\n" },
		{ "key.separator=\\s\n", " ", 1, "key.separator=\\s\n" },
		{ "key.separator=\\\\\n", "\\", 1, "key.separator=\\\\\n" },
		{ "key.separator = :: \n", "::", 2, "key.separator=::\n" },
		{ "key.separator=a\tb\n", "a\tb", 3, "key.separator=a\\tb\n" },
		{ "key.separator=\\s->\\s\n", " -> ", 4, "key.separator=\\s->\\s\n" },
		{ "key.separator=#\n", "#", 1, "key.separator=#\n" },
		{ "key.separator=\xc2\xa7\n", "\xc2\xa7", 2, "key.separator=\xc2\xa7\n" },
		{ "key.separator=0123456789abcd\\\\\n", "0123456789abcd\\", 15,
		  "key.separator=0123456789abcd\\\\\n" },
		{ "key.separator=\n", "", 0, "key.separator=\n" },
	};
	struct topic_config tc, again;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text;
		size_t len;

		topic_defaults(&tc);
		strcpy(tc.log.key_sep, "old");
		tc.log.key_sep_len = 3;
		assert_int_equal(apply(&tc, cases[i].in, err, sizeof(err)), 0);
		assert_int_equal(tc.log.key_sep_len, cases[i].len);
		assert_memory_equal(tc.log.key_sep, cases[i].sep, (size_t)cases[i].len);
		assert_int_equal(tc.log.key_sep[cases[i].len], '\0');
		assert_int_equal(topic_config_render(&tc, &text, &len), 0);
		assert_non_null(strstr(text, cases[i].out));
		/* Re-applying the rendered text is a no-op. */
		memcpy(&again, &tc, sizeof(tc));
		assert_int_equal(topic_config_apply(&again, text, len, err, sizeof(err)), 0);
		assert_topic_equal(&again, &tc);
		free(text);
	}
}

static void test_topic_roundtrip(void **state)
{
	struct topic_config tc, again, fresh;
	char err[256];
	char *text, *text2;
	size_t len, len2;

	(void)state;
	topic_defaults(&tc);
	assert_int_equal(topic_config_render(&tc, &text, &len), 0);
	assert_string_equal(text, "partitions=1\n"
				  "acks=all\n"
				  "segment.bytes=1073741824\n"
				  "segment.ms=604800000\n"
				  "segment.index.bytes=10485760\n"
				  "index.interval.bytes=4096\n"
				  "max.message.bytes=1048588\n"
				  "flush.messages=9223372036854775807\n"
				  "flush.ms=9223372036854775807\n"
				  "compression.type=producer\n"
				  "batch.size=16384\n"
				  "linger.ms=0\n"
				  "key.separator=\n"
				  "line.format=escape\n"
				  "retention.ms=604800000\n"
				  "retention.bytes=-1\n"
				  "cleanup.policy=delete\n"
				  "delete.retention.ms=86400000\n"
				  "min.cleanable.dirty.ratio=0.5\n"
				  "min.compaction.lag.ms=0\n"
				  "message.timestamp.type=CreateTime\n"
				  "segment.jitter.ms=0\n"
				  "max.compaction.lag.ms=9223372036854775807\n"
				  "message.timestamp.difference.max.ms=9223372036854775807\n"
				  "message.timestamp.before.max.ms=9223372036854775807\n"
				  "message.timestamp.after.max.ms=9223372036854775807\n"
				  "preallocate=false\n"
				  "min.insync.replicas=1\n"
				  "unclean.leader.election.enable=false\n"
				  "file.delete.delay.ms=60000\n"
				  "message.format.version=3.0-IV1\n"
				  "message.downconversion.enable=true\n"
				  "leader.replication.throttled.replicas=\n"
				  "follower.replication.throttled.replicas=\n");
	free(text);

	assert_int_equal(apply(&tc,
			       "partitions=6\nacks=0\nsegment.bytes=5000\n"
			       "segment.ms=77\nsegment.index.bytes=40960\nindex.interval.bytes=1\n"
			       "max.message.bytes=100\nflush.messages=3\nflush.ms=4\n"
			       "compression.type=lz4\nbatch.size=99\nkey.separator=\\s\\\\\\t|\n"
			       "line.format=raw\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(tc.log.line_format, LINE_FORMAT_RAW);
	assert_int_equal(apply(&tc, "line.format=base64\n", err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "line 1: bad value for 'line.format': 'base64' "
				 "(expected raw or escape)");
	assert_int_equal(topic_config_render(&tc, &text, &len), 0);
	assert_int_equal(len, strlen(text));

	/* Onto itself: no change. */
	memcpy(&again, &tc, sizeof(tc));
	assert_int_equal(topic_config_apply(&again, text, len, err, sizeof(err)), 0);
	assert_topic_equal(&again, &tc);
	/* Onto defaults: the same settings. */
	topic_defaults(&fresh);
	assert_int_equal(topic_config_apply(&fresh, text, len, err, sizeof(err)), 0);
	assert_topic_equal(&fresh, &tc);
	/* And the same text again. */
	assert_int_equal(topic_config_render(&fresh, &text2, &len2), 0);
	assert_int_equal(len2, len);
	assert_string_equal(text2, text);
	free(text);
	free(text2);
}

/* ---- log ---- */

/* ---- cluster settings (cluster_config.c) ---- */

#define JAAS_ADMIN                                                          \
	"org.apache.kafka.common.security.scram.ScramLoginModule required " \
	"username=\"admin\" password=\"admin-secret\";"

static void test_cluster_defaults(void **state)
{
	struct broker_config c;
	char *text;
	size_t len;

	(void)state;
	broker_config_defaults(&c);
	assert_string_equal(c.cluster.zk_connect, "");
	assert_false(cluster_config_zk(&c.cluster));
	assert_int_equal(c.cluster.zk_session_timeout_ms, 18000);
	assert_int_equal(c.cluster.config_change_expiration_ms, 15 * 60 * 1000);
	assert_int_equal(cluster_config_connect_timeout(&c.cluster), 18000);
	assert_false(c.cluster.listeners_set);
	assert_int_equal(c.cluster.inter_broker, NET_PLAINTEXT);
	assert_int_equal(c.cluster.default_replication_factor, 1);
	assert_int_equal(c.cluster.min_insync_replicas, 1);
	assert_int_equal(c.cluster.replica_lag_time_max_ms, 30000);
	assert_int_equal(c.cluster.replica_fetch_max_bytes, 4194304);
	assert_int_equal(c.cluster.replica_fetch_wait_max_ms, 500);
	assert_int_equal(c.cluster.replica_fetch_min_bytes, 1);
	assert_int_equal(c.cluster.replica_socket_timeout_ms, 30000);
	assert_int_equal(c.cluster.replica_fetch_backoff_ms, 1000);
	assert_int_equal(c.cluster.num_replica_fetchers, 1);
	assert_int_equal(c.cluster.fetch_session_cache_slots, 1000);
	assert_int_equal(c.cluster.fetch_session_eviction_ms, 120000);
	assert_false(c.cluster.unclean_leader_election);
	assert_true(c.cluster.controlled_shutdown);
	assert_true(c.cluster.auto_leader_rebalance);
	assert_int_equal(c.cluster.leader_imbalance_pct, 10);
	assert_int_equal(c.cluster.leader_imbalance_check_s, 300);
	/* A single node renders exactly what it always did: no cluster keys. */
	assert_int_equal(broker_config_render(&c, &text, &len), 0);
	assert_null(strstr(text, "zookeeper"));
	assert_null(strstr(text, "listeners"));
	free(text);
}

static void test_cluster_keys(void **state)
{
	struct broker_config c;
	char err[256] = "";

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(
		parse(&c,
		      "zookeeper.connect=127.0.0.1:2181,127.0.0.1:2182/mqfs\n"
		      "zookeeper.session.timeout.ms=4000\n"
		      "zookeeper.connection.timeout.ms=9000\n"
		      "broker.id=3\nbroker.rack=us-east-1d\n"
		      "listeners=SASL_PLAINTEXT://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092\n"
		      "advertised.listeners=SASL_PLAINTEXT://b3.example:9093\n"
		      "security.inter.broker.protocol=SASL_PLAINTEXT\n"
		      "sasl.enabled.mechanisms=SCRAM-SHA-256\n"
		      "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256\n"
		      "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=" JAAS_ADMIN "\n"
		      "default.replication.factor=3\nmin.insync.replicas=2\n"
		      "replica.lag.time.max.ms=10000\nreplica.fetch.max.bytes=2048\n"
		      "replica.fetch.wait.max.ms=100\nreplica.fetch.min.bytes=10\n"
		      "replica.socket.timeout.ms=2000\nreplica.fetch.backoff.ms=250\n"
		      "num.replica.fetchers=2\nunclean.leader.election.enable=true\n"
		      "replica.selector.class="
		      "org.apache.kafka.common.replica.RackAwareReplicaSelector\n"
		      "max.incremental.fetch.session.cache.slots=0\n"
		      "min.incremental.fetch.session.eviction.ms=5000\n"
		      "controlled.shutdown.enable=false\nauto.leader.rebalance.enable=false\n"
		      "leader.imbalance.per.broker.percentage=20\n"
		      "leader.imbalance.check.interval.seconds=60\n"
		      "config.change.expiration.ms=1000\n"
		      "num.io.threads=4\nmax.connections.per.ip=7\n",
		      err, sizeof(err)),
		0);
	assert_true(cluster_config_zk(&c.cluster));
	assert_string_equal(c.cluster.zk_connect, "127.0.0.1:2181,127.0.0.1:2182/mqfs");
	assert_int_equal(c.cluster.zk_session_timeout_ms, 4000);
	assert_int_equal(cluster_config_connect_timeout(&c.cluster), 9000);
	assert_int_equal(c.broker_id, 3);
	assert_string_equal(c.cluster.rack, "us-east-1d");
	assert_true(c.cluster.listeners_set);
	assert_int_equal(c.cluster.net.n_listeners, 2);
	assert_string_equal(c.cluster.net.listeners[0].name, "SASL_PLAINTEXT");
	assert_int_equal(c.cluster.net.listeners[0].port, 9093);
	assert_int_equal(c.cluster.net.n_advertised, 1);
	assert_string_equal(c.cluster.net.advertised[0].host, "b3.example");
	assert_int_equal(c.cluster.inter_broker, NET_SASL_PLAINTEXT);
	assert_string_equal(c.cluster.jaas_user, "admin");
	assert_string_equal(c.cluster.jaas_password, "admin-secret");
	assert_int_equal(c.cluster.default_replication_factor, 3);
	assert_int_equal(c.cluster.min_insync_replicas, 2);
	assert_int_equal(c.cluster.replica_lag_time_max_ms, 10000);
	assert_int_equal(c.cluster.replica_fetch_max_bytes, 2048);
	assert_int_equal(c.cluster.replica_fetch_wait_max_ms, 100);
	assert_int_equal(c.cluster.replica_fetch_min_bytes, 10);
	assert_int_equal(c.cluster.replica_socket_timeout_ms, 2000);
	assert_int_equal(c.cluster.replica_fetch_backoff_ms, 250);
	assert_int_equal(c.cluster.num_replica_fetchers, 2);
	assert_int_equal(c.cluster.replica_selector, REPLICA_SELECTOR_RACK_AWARE);
	assert_int_equal(c.cluster.fetch_session_cache_slots, 0);
	assert_int_equal(c.cluster.fetch_session_eviction_ms, 5000);
	assert_true(c.cluster.unclean_leader_election);
	assert_false(c.cluster.controlled_shutdown);
	assert_false(c.cluster.auto_leader_rebalance);
	assert_int_equal(c.cluster.config_change_expiration_ms, 1000);
	assert_int_equal(c.cluster.leader_imbalance_pct, 20);
	assert_int_equal(c.cluster.leader_imbalance_check_s, 60);
	assert_int_equal(c.cluster.net.num_io_threads, 4);
	assert_int_equal(c.cluster.net.max_connections_per_ip, 7);
	/* Kafka's generic name of the JAAS setting works as well. */
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, "sasl.jaas.config=" JAAS_ADMIN "\n", err, sizeof(err)), 0);
	assert_string_equal(c.cluster.jaas_user, "admin");
}

static void test_cluster_render_roundtrip(void **state)
{
	struct broker_config c, back;
	char err[256] = "", *text;
	size_t len;

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(parse(&c,
			       "zookeeper.connect=127.0.0.1:2181\n"
			       "listeners=SASL_PLAINTEXT://127.0.0.1:0\n"
			       "security.inter.broker.protocol=SASL_PLAINTEXT\n"
			       "sasl.jaas.config=" JAAS_ADMIN "\nmin.insync.replicas=2\n"
			       "broker.rack=r 2\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(broker_config_render(&c, &text, &len), 0);
	assert_non_null(strstr(text, "\nbroker.rack=r 2\n"));
	assert_non_null(strstr(text, "\nzookeeper.connect=127.0.0.1:2181\n"));
	assert_non_null(strstr(text, "\nzookeeper.connection.timeout.ms=18000\n"));
	assert_non_null(strstr(text, "\nlisteners=SASL_PLAINTEXT://127.0.0.1:0\n"));
	assert_non_null(strstr(text, "\nadvertised.listeners=SASL_PLAINTEXT://127.0.0.1:0\n"));
	assert_non_null(strstr(text, "\nmin.insync.replicas=2\n"));
	/* The broker's password is not shown to readers of MNT/.config. */
	assert_null(strstr(text, "admin-secret"));
	assert_non_null(strstr(text, "username=\"admin\" password=\"[hidden]\";\n"));
	/* Everything else reads back to the same settings. */
	broker_config_defaults(&back);
	assert_int_equal(broker_config_parse(&back, text, len, err, sizeof(err)), 0);
	assert_broker_equal(&c, &back);
	assert_string_equal(back.cluster.zk_connect, c.cluster.zk_connect);
	assert_int_equal(back.cluster.min_insync_replicas, 2);
	assert_int_equal(back.cluster.net.n_listeners, 1);
	assert_int_equal(back.cluster.inter_broker, NET_SASL_PLAINTEXT);
	free(text);
}

static void expect_cluster_refusal(const char *text, const char *msg)
{
	struct broker_config c, before;
	char err[512] = "";

	broker_config_defaults(&c);
	before = c;
	assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
	if (!strstr(err, msg))
		fail_msg("'%s': expected '%s' in '%s'", text, msg, err);
	/* All or nothing. */
	assert_memory_equal(&c, &before, sizeof(c));
}

/* delegation.token.*: Kafka's defaults; secret.key wins over its older
 * name master.key whatever their order; empty is none (tokens off); the
 * secret is never rendered nor quoted in a refusal. */
static void test_cluster_token_settings(void **state)
{
	struct broker_config c;
	char err[512] = "", *text;
	size_t len;

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(c.cluster.token_max_lifetime_ms, 604800000);
	assert_int_equal(c.cluster.token_expiry_time_ms, 86400000);
	assert_int_equal(c.cluster.token_expiry_check_ms, 3600000);
	assert_null(cluster_config_token_secret(&c.cluster));
	assert_int_equal(parse(&c,
			       "delegation.token.secret.key=s3cret\n"
			       "delegation.token.master.key=older\n"
			       "delegation.token.max.lifetime.ms=9223372036854775807\n"
			       "delegation.token.expiry.time.ms=5000\n"
			       "delegation.token.expiry.check.interval.ms=1\n",
			       err, sizeof(err)),
			 0);
	assert_string_equal(cluster_config_token_secret(&c.cluster), "s3cret");
	assert_true(c.cluster.token_max_lifetime_ms == INT64_MAX);
	assert_int_equal(c.cluster.token_expiry_time_ms, 5000);
	assert_int_equal(c.cluster.token_expiry_check_ms, 1);
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, "delegation.token.master.key=older\n", err, sizeof(err)), 0);
	assert_string_equal(cluster_config_token_secret(&c.cluster), "older");
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, "delegation.token.secret.key=\n", err, sizeof(err)), 0);
	assert_null(cluster_config_token_secret(&c.cluster));
	expect_cluster_refusal("delegation.token.expiry.time.ms=0\n",
			       "bad value for 'delegation.token.expiry.time.ms'");
	expect_cluster_refusal("delegation.token.max.lifetime.ms=-1\n",
			       "bad value for 'delegation.token.max.lifetime.ms'");
	expect_cluster_refusal("delegation.token.expiry.check.interval.ms=0\n",
			       "bad value for 'delegation.token.expiry.check.interval.ms'");
	{
		char big[CLUSTER_TOKEN_SECRET_MAX + 1200];

		snprintf(big, sizeof(big), "delegation.token.secret.key=hunter2%01100d\n", 0);
		broker_config_defaults(&c);
		assert_int_equal(parse(&c, big, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "'[hidden]'"));
		assert_null(strstr(err, "hunter2"));
	}
	/* Shown: the lifetimes, never the secret. */
	broker_config_defaults(&c);
	assert_int_equal(parse(&c,
			       "zookeeper.connect=127.0.0.1:2181\n"
			       "listeners=PLAINTEXT://127.0.0.1:0\n"
			       "delegation.token.secret.key=s3cret\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(broker_config_render(&c, &text, &len), 0);
	assert_null(strstr(text, "s3cret"));
	assert_null(strstr(text, "delegation.token.secret.key"));
	assert_non_null(strstr(text, "\ndelegation.token.expiry.time.ms=86400000\n"));
	free(text);
}

/* sasl.enabled.mechanisms in a cluster: SCRAM-SHA-512 alone, or beside
 * SCRAM-SHA-256; a SASL listener needs one of them, and SASL between the
 * brokers needs theirs, SCRAM-SHA-256 by default (Kafka's check that the
 * inter-broker mechanism is enabled). Rendered back as set, with each
 * mechanism's session lifetime. */
static void test_cluster_sasl_mechanisms(void **state)
{
	struct broker_config c;
	char err[512] = "", *text;
	size_t len;

	(void)state;
	expect_cluster_refusal(
		"zookeeper.connect=127.0.0.1:2181\n"
		"listeners=SASL_PLAINTEXT://127.0.0.1:9093\n"
		"security.inter.broker.protocol=SASL_PLAINTEXT\n"
		"sasl.enabled.mechanisms=SCRAM-SHA-512\n"
		"sasl.jaas.config=" JAAS_ADMIN "\n",
		"sasl.mechanism.inter.broker.protocol must be included in sasl.enabled.mechanisms "
		"when SASL is used for inter-broker communication");
	expect_cluster_refusal(
		"zookeeper.connect=127.0.0.1:2181\n"
		"listeners=SASL_PLAINTEXT://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092\n"
		"sasl.enabled.mechanisms=\n",
		"needs SCRAM-SHA-256 or SCRAM-SHA-512");
	broker_config_defaults(&c);
	assert_int_equal(
		parse(&c,
		      "zookeeper.connect=127.0.0.1:2181\n"
		      "listeners=SASL_PLAINTEXT://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092\n"
		      "sasl.enabled.mechanisms=SCRAM-SHA-512\n"
		      "listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms=7000\n",
		      err, sizeof(err)),
		0);
	assert_int_equal(broker_config_render(&c, &text, &len), 0);
	assert_non_null(strstr(text, "\nsasl.enabled.mechanisms=SCRAM-SHA-512\n"));
	assert_non_null(strstr(
		text,
		"\nlistener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms=7000\n"));
	assert_null(strstr(text, "scram-sha-256.connections.max.reauth.ms"));
	free(text);
	broker_config_defaults(&c);
	assert_int_equal(parse(&c,
			       "zookeeper.connect=127.0.0.1:2181\n"
			       "listeners=SASL_PLAINTEXT://127.0.0.1:9093\n"
			       "security.inter.broker.protocol=SASL_PLAINTEXT\n"
			       "sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256\n"
			       "sasl.jaas.config=" JAAS_ADMIN "\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(broker_config_render(&c, &text, &len), 0);
	assert_non_null(strstr(text, "\nsasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512\n"));
	free(text);
}

#define JAAS_OF(user, pw)                                                                   \
	"org.apache.kafka.common.security.scram.ScramLoginModule required username=\"" user \
	"\" password=\"" pw "\";"
#define SASL_CLUSTER                                  \
	"zookeeper.connect=127.0.0.1:2181\n"          \
	"listeners=SASL_PLAINTEXT://127.0.0.1:9093\n" \
	"security.inter.broker.protocol=SASL_PLAINTEXT\n"

/* sasl.mechanism.inter.broker.protocol: SCRAM-SHA-256 (the default) or
 * SCRAM-SHA-512, in Kafka's spelling; it must be enabled (Kafka's check,
 * in its words). The brokers' credentials are the listener's key of that
 * mechanism, else sasl.jaas.config, whatever the order of the lines (the
 * other mechanism's key is not theirs); rendered under that key. */
static void test_cluster_inter_broker_mechanism(void **state)
{
	static const char *const orders[][3] = {
		{ "sasl.jaas.config=" JAAS_OF("any", "any-pw") "\n",
		  "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=" JAAS_OF(
			  "b256", "pw256") "\n",
		  "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=" JAAS_OF(
			  "b512", "pw512") "\n" },
		{ "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=" JAAS_OF(
			  "b512", "pw512") "\n",
		  "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=" JAAS_OF(
			  "b256", "pw256") "\n",
		  "sasl.jaas.config=" JAAS_OF("any", "any-pw") "\n" },
	};
	struct broker_config c;
	char err[512] = "", text[2048], *out;
	size_t len;

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(c.cluster.inter_mech, SASL_SHA_256);
	for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++) {
		/* Either mechanism: its own key wins over sasl.jaas.config. */
		snprintf(text, sizeof(text),
			 SASL_CLUSTER "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512\n"
				      "%s%s%s",
			 orders[i][0], orders[i][1], orders[i][2]);
		broker_config_defaults(&c);
		assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
		assert_int_equal(c.cluster.inter_mech, SASL_SHA_256);
		assert_string_equal(c.cluster.jaas_user, "b256");
		assert_string_equal(c.cluster.jaas_password, "pw256");
		snprintf(text, sizeof(text),
			 SASL_CLUSTER "sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512\n"
				      "%s%ssasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n%s",
			 orders[i][0], orders[i][1], orders[i][2]);
		broker_config_defaults(&c);
		assert_int_equal(parse(&c, text, err, sizeof(err)), 0);
		assert_int_equal(c.cluster.inter_mech, SASL_SHA_512);
		assert_string_equal(c.cluster.jaas_user, "b512");
		assert_string_equal(c.cluster.jaas_password, "pw512");
	}
	assert_int_equal(broker_config_render(&c, &out, &len), 0);
	assert_non_null(strstr(out, "\nsasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n"));
	assert_non_null(strstr(out,
			       "\nlistener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config="
			       "org.apache.kafka.common.security.scram.ScramLoginModule required "
			       "username=\"b512\" password=\"[hidden]\";\n"));
	assert_null(strstr(out, "pw512"));
	free(out);

	/* Without its key, sasl.jaas.config; the other mechanism's key is
	 * not the brokers'. */
	broker_config_defaults(&c);
	assert_int_equal(parse(&c,
			       SASL_CLUSTER "sasl.enabled.mechanisms=SCRAM-SHA-512\n"
					    "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n"
					    "sasl.jaas.config=" JAAS_OF("any", "any-pw") "\n",
			       err, sizeof(err)),
			 0);
	assert_string_equal(c.cluster.jaas_user, "any");
	expect_cluster_refusal(
		SASL_CLUSTER "sasl.enabled.mechanisms=SCRAM-SHA-512\n"
			     "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n"
			     "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=" JAAS_OF(
				     "b256", "pw256") "\n",
		"needs the broker's credentials: "
		"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config");
	/* Not enabled: Kafka's words. */
	expect_cluster_refusal(
		SASL_CLUSTER "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n"
			     "sasl.jaas.config=" JAAS_OF("any", "any-pw") "\n",
		"sasl.mechanism.inter.broker.protocol must be included in sasl.enabled.mechanisms "
		"when SASL is used for inter-broker communication");
	/* Kafka's names as written; its other mechanisms mqfs has not. */
	expect_cluster_refusal("sasl.mechanism.inter.broker.protocol=scram-sha-512\n",
			       "bad value for 'sasl.mechanism.inter.broker.protocol'");
	expect_cluster_refusal("sasl.mechanism.inter.broker.protocol=GSSAPI\n",
			       "expected SCRAM-SHA-256 or SCRAM-SHA-512");
	/* A listener key's password counts as one held in the file. */
	broker_config_defaults(&c);
	assert_int_equal(
		parse(&c,
		      "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=" JAAS_OF(
			      "b512", "pw512") "\n",
		      err, sizeof(err)),
		0);
	assert_true(broker_config_has_password(&c));
}

static void test_cluster_refusals(void **state)
{
	(void)state;
	expect_cluster_refusal("zookeeper.session.timeout.ms=0\n",
			       "bad value for 'zookeeper.session.timeout.ms'");
	expect_cluster_refusal("zookeeper.connect=/chroot\n", "zookeeper.connect: '/chroot'");
	{
		/* broker.rack: any string, as Kafka's, up to 255 bytes here. */
		char text[400];

		snprintf(text, sizeof(text), "broker.rack=%0300d\n", 0);
		expect_cluster_refusal(text, "longer than 255 bytes");
	}
	expect_cluster_refusal("zookeeper.connect=h:1/a/\n", "zookeeper.connect:");
	expect_cluster_refusal("listeners=SSL://:9093\n", "bad value for 'listeners'");
	expect_cluster_refusal("listeners=PLAINTEXT://:1,PLAINTEXT://:2\n",
			       "bad value for 'listeners'");
	expect_cluster_refusal("security.inter.broker.protocol=SSL\n",
			       "bad value for 'security.inter.broker.protocol'");
	expect_cluster_refusal("sasl.mechanism.inter.broker.protocol=PLAIN\n",
			       "bad value for 'sasl.mechanism.inter.broker.protocol'");
	expect_cluster_refusal("sasl.enabled.mechanisms=GSSAPI\n",
			       "bad value for 'sasl.enabled.mechanisms'");
	expect_cluster_refusal("default.replication.factor=0\n",
			       "bad value for 'default.replication.factor'");
	expect_cluster_refusal("min.insync.replicas=x\n", "bad value for 'min.insync.replicas'");
	expect_cluster_refusal("unclean.leader.election.enable=yes\n",
			       "bad value for 'unclean.leader.election.enable'");
	/* A class mqfs does not have, as Kafka stops on one it cannot load. */
	expect_cluster_refusal("replica.selector.class=com.example.NearestSelector\n",
			       "bad value for 'replica.selector.class'");
	expect_cluster_refusal("leader.imbalance.per.broker.percentage=101\n",
			       "bad value for 'leader.imbalance.per.broker.percentage'");
	/* JAAS lines Kafka would not accept either. */
	expect_cluster_refusal("sasl.jaas.config=org.apache.kafka.common.security.plain."
			       "PlainLoginModule required username=\"a\" password=\"b\";\n",
			       "expected the login module");
	expect_cluster_refusal("sasl.jaas.config=org.apache.kafka.common.security.scram."
			       "ScramLoginModule username=\"a\" password=\"b\";\n",
			       "'required'");
	expect_cluster_refusal("sasl.jaas.config=org.apache.kafka.common.security.scram."
			       "ScramLoginModule required username=\"a\";\n",
			       "expected username=");
	expect_cluster_refusal("sasl.jaas.config=org.apache.kafka.common.security.scram."
			       "ScramLoginModule required username=a password=\"b\";\n",
			       "quoted value");
	expect_cluster_refusal("sasl.jaas.config=org.apache.kafka.common.security.scram."
			       "ScramLoginModule required username=\"a\" password=\"b\"\n",
			       "';'");
	/* A refused JAAS line is not quoted: it holds the password, and the
	 * message goes to stderr and the log (Kafka: "[hidden]"). */
	for (int i = 0; i < 2; i++) {
		struct broker_config c;
		char text[256], err[512] = "";

		snprintf(text, sizeof(text),
			 "%s=org.apache.kafka.common.security.scram.ScramLoginModule required "
			 "username=\"a\" password=\"hunter2-secret\"\n",
			 i ? "sasl.jaas.config"
			   : "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config");
		broker_config_defaults(&c);
		assert_int_equal(parse(&c, text, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "': '[hidden]' (expected ';' at the end)"));
		assert_null(strstr(err, "hunter2"));
	}
	/* Checks across keys name the key. */
	expect_cluster_refusal("zookeeper.connect=h:1\nlisteners=PLAINTEXT://:9092\n"
			       "security.inter.broker.protocol=SASL_PLAINTEXT\n"
			       "sasl.jaas.config=" JAAS_ADMIN "\n",
			       "security.inter.broker.protocol: no SASL_PLAINTEXT listener");
	expect_cluster_refusal("zookeeper.connect=h:1\nlisteners=SASL_PLAINTEXT://:9093\n"
			       "security.inter.broker.protocol=SASL_PLAINTEXT\n",
			       "needs the broker's credentials");
	expect_cluster_refusal("listeners=PLAINTEXT://:9092\n"
			       "advertised.listeners=SASL_PLAINTEXT://h:9093\n",
			       "advertised.listeners: SASL_PLAINTEXT is not a listener");
	expect_cluster_refusal("listeners=PLAINTEXT://:9092\n"
			       "advertised.listeners=PLAINTEXT://:9092\n",
			       "advertised.listeners: PLAINTEXT advertises no host");
	expect_cluster_refusal("replica.fetch.wait.max.ms=30000\n",
			       "replica.fetch.wait.max.ms (30000) must be below");
	/* Kafka's rule: a socket timeout below the Fetch's wait. */
	/* Kafka's rule: a delayed answer must not find its connection
	 * closed as idle. */
	expect_cluster_refusal("connections.max.idle.ms=100\n",
			       "connection.failed.authentication.delay.ms (100) must be below "
			       "connections.max.idle.ms (100)");
	expect_cluster_refusal("replica.socket.timeout.ms=400\n",
			       "replica.socket.timeout.ms (400) must be at least "
			       "replica.fetch.wait.max.ms (500)");
}

static void test_jaas_escapes(void **state)
{
	char user[64], pass[64], why[128];

	(void)state;
	assert_int_equal(
		cluster_jaas_parse(
			"  org.apache.kafka.common.security.scram."
			"ScramLoginModule   required\tusername = \"a\\\"b\" tokenauth=\"false\" "
			"password=\"p\\\\q;\" ; ",
			user, sizeof(user), pass, sizeof(pass), why, sizeof(why)),
		0);
	assert_string_equal(user, "a\"b");
	assert_string_equal(pass, "p\\q;");
	assert_int_equal(
		cluster_jaas_parse("org.apache.kafka.common.security.scram."
				   "ScramLoginModule required username=\"\" password=\"x\";",
				   user, sizeof(user), pass, sizeof(pass), why, sizeof(why)),
		-EINVAL);
}

static void test_topic_replication_keys(void **state)
{
	struct topic_config tc;
	char err[256] = "";

	(void)state;
	topic_defaults(&tc);
	assert_int_equal(apply(&tc, "min.insync.replicas=2\nunclean.leader.election.enable=true\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(tc.min_insync_replicas, 2);
	assert_true(tc.unclean_leader_election);
	assert_int_equal(apply(&tc, "min.insync.replicas=0\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "min.insync.replicas"));
	assert_int_equal(tc.min_insync_replicas, 2);
	/* Broker-only keys stay broker-only. */
	assert_int_equal(apply(&tc, "zookeeper.connect=h:1\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown key 'zookeeper.connect'"));
}

static void test_log_output(void **state)
{
	struct capture cap;
	char *out, *big;
	size_t n;

	(void)state;
	mq_log_init(MQ_INFO, false);
	capture_begin(&cap);
	mq_log(MQ_WARN, "hello %d", 5);
	mq_log(MQ_DEBUG, "not shown");
	mq_log(MQ_ERR, "with newline\n");
	errno = ENOENT;
	mq_log(MQ_INFO, "errno %m");
	assert_int_equal(errno, ENOENT);
	out = capture_end(&cap);
	/* "YYYY-MM-DD HH:MM:SS.mmm LEVEL msg" */
	{
		int y, mo, d, h, mi, s, ms;
		char rest[64];

		assert_int_equal(sscanf(out, "%4d-%2d-%2d %2d:%2d:%2d.%3d %63[^\n]", &y, &mo, &d,
					&h, &mi, &s, &ms, rest),
				 8);
		assert_string_equal(rest, "WARN hello 5");
	}
	assert_int_equal(out[23], ' ');
	assert_non_null(strstr(out, " WARN hello 5\n"));
	assert_null(strstr(out, "not shown"));
	assert_non_null(strstr(out, " ERROR with newline\n"));
	assert_null(strstr(out, "with newline\n\n"));
	assert_non_null(strstr(out, " INFO errno No such file or directory\n"));
	free(out);

	/* A message longer than the stack buffer is not cut. */
	big = malloc(5001);
	assert_non_null(big);
	memset(big, 'x', 5000);
	big[5000] = '\0';
	mq_log_init(MQ_DEBUG, false);
	capture_begin(&cap);
	mq_log(MQ_DEBUG, "%s|end", big);
	out = capture_end(&cap);
	n = strlen(out);
	assert_true(n > 5005);
	assert_string_equal(out + n - 5, "|end\n");
	assert_non_null(strstr(out, " DEBUG xxx"));
	free(out);
	free(big);
	mq_log_init(MQ_INFO, false);
}

/* Which settings a .config text names, as its parser reads the lines:
 * "key=...", " key : ..." and "-key" name it; a comment, another key
 * that starts alike, a value that holds it, do not. */
#define NAMES(text, key) topic_config_text_names(text, sizeof(text) - 1, key)
/* A dynamic broker setting is checked as its static key is, and only
 * Kafka's DynamicLogConfig keys and its other reconfigurable ones that
 * mqfs has are dynamic. */
static void test_dynamic_apply(void **state)
{
	static const char *const refused[] = {
		"log.retention.hours=1",     /* a synonym Kafka does not reconfigure */
		"num.io.threads=4",          /* not dynamic here */
		"log.cleaner.enable=false",  /* a broker setting Kafka does not reconfigure */
		"log.cleaner.backoff.ms=-1", /* below the static key's minimum */
		"max.connections=-1",
		"log.message.format.version=2.8", /* Kafka's excluded one */
		"log.segment.bytes=5",            /* below the static key's minimum */
		"min.insync.replicas=0",
		"unclean.leader.election.enable=maybe",
		"log.retention.ms=abc",
	};
	const char *more = "min.insync.replicas=2\nunclean.leader.election.enable=true\n"
			   "log.cleanup.policy=compact\n";
	const char *others = "log.cleaner.backoff.ms=500\nlog.cleaner.dedupe.buffer.size=2097152\n"
			     "producer.id.expiration.ms=60000\nmax.connections=7\n"
			     "max.connections.per.ip=3\n";
	struct broker_config c;
	char err[256];

	(void)state;
	broker_config_defaults(&c);
	assert_int_equal(parse(&c, "log.retention.hours=2\n", err, sizeof(err)), 0);
	assert_int_equal(
		broker_config_apply_dynamic(&c, "log.retention.ms=3600000", 24, err, sizeof(err)),
		0);
	assert_int_equal(c.log.retention_ms, 3600000);
	assert_int_equal(broker_config_apply_dynamic(&c, more, strlen(more), err, sizeof(err)), 0);
	assert_int_equal(c.cluster.min_insync_replicas, 2);
	assert_true(c.cluster.unclean_leader_election);
	assert_int_equal(c.log.cleanup_policy, LOG_CLEANUP_COMPACT);
	/* not the file's: STATIC_BROKER_CONFIG stays the file's keys */
	assert_false(broker_config_file_set(&c, "log.cleanup.policy", 18));
	assert_false(broker_config_file_set(&c, "min.insync.replicas", 19));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		struct broker_config before = c;

		err[0] = '\0';
		assert_int_equal(broker_config_apply_dynamic(&c, refused[i], strlen(refused[i]),
							     err, sizeof(err)),
				 -EINVAL);
		assert_true(strstr(err, "bad value") || strstr(err, "Not a number"));
		assert_memory_equal(&before, &c, sizeof(c)); /* all or nothing */
	}
	/* Kafka's atLeast(0): no backoff is a value. */
	assert_int_equal(
		broker_config_apply_dynamic(&c, "log.cleaner.backoff.ms=0", 24, err, sizeof(err)),
		0);
	assert_int_equal(c.cleaner_backoff_ms, 0);
	assert_true(broker_config_dynamic_key("log.retention.ms", 16));
	assert_false(broker_config_dynamic_key("log.retention.minutes", 21));
	assert_false(broker_config_dynamic_key("leader.replication.throttled.rate", 33));
	/* Kafka's other reconfigurable settings: dynamic, no topic default */
	assert_false(broker_config_dynamic_key("log.cleaner.backoff.ms", 22));
	assert_true(broker_config_reconfigurable_key("log.cleaner.backoff.ms", 22));
	assert_true(broker_config_reconfigurable_key("log.retention.ms", 16));
	assert_false(broker_config_reconfigurable_key("log.cleaner.enable", 18));
	assert_int_equal(broker_config_apply_dynamic(&c, others, strlen(others), err, sizeof(err)),
			 0);
	assert_int_equal(c.cleaner_backoff_ms, 500);
	assert_int_equal(c.cleaner_dedupe_bytes, 2097152);
	assert_int_equal(c.producer_id_expiration_ms, 60000);
	assert_int_equal(c.cluster.net.max_connections, 7);
	assert_int_equal(c.cluster.net.max_connections_per_ip, 3);
	assert_false(broker_config_file_set(&c, "max.connections", 15));
}

static int bad_lines;

static void count_bad(void *arg, const char *line, size_t n, const char *why)
{
	(void)line;
	(void)n;
	(void)why;
	assert_ptr_equal(arg, &bad_lines);
	bad_lines++;
}

/* broker_config_dynamic_effective's topic defaults. */
static int dyn_defaults(const struct broker_config *st, const char *def, const char *self,
			struct topic_config *tc,
			void (*bad)(void *, const char *, size_t, const char *), void *arg)
{
	struct broker_config *c = malloc(sizeof(*c));
	char err[256];
	int rc;

	assert_non_null(c);
	rc = broker_config_dynamic_effective(st, def, strlen(def), self, strlen(self), c, bad, arg,
					     err, sizeof(err));
	if (rc == 0)
		topic_config_defaults_of(c, tc);
	free(c);
	return rc;
}

/* The levels are checked as one config, as Kafka builds one KafkaConfig
 * of them: a pair that disagrees across the levels is refused whole
 * (the output untouched), where each value alone is fine. */
static void test_dynamic_combined(void **state)
{
	struct broker_config st, *c = malloc(sizeof(*c)), *before = malloc(sizeof(*before));
	char err[256];
	const char *def = "log.cleaner.max.compaction.lag.ms=1000\n";
	const char *self = "log.cleaner.min.compaction.lag.ms=5000\n";
	const char *ok = "log.cleaner.min.compaction.lag.ms=500\nlog.cleaner.backoff.ms=200\n";
	const char *zero_ip = "max.connections.per.ip=0\n";
	const char *big = "log.cleaner.max.compaction.lag.ms=10000\n";

	(void)state;
	assert_non_null(c);
	assert_non_null(before);
	broker_config_defaults(&st);
	memset(c, 0x5a, sizeof(*c));
	*before = *c;
	err[0] = '\0';
	assert_int_equal(broker_config_dynamic_effective(&st, def, strlen(def), self, strlen(self),
							 c, NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "conflict topic config setting min.compaction.lag.ms (5000) > "
				 "max.compaction.lag.ms (1000)");
	assert_memory_equal(c, before, sizeof(*c));
	/* the same pair at one level: refused alone too */
	*c = st;
	assert_int_equal(broker_config_apply_dynamic(c,
						     "log.cleaner.min.compaction.lag.ms=5000\n"
						     "log.cleaner.max.compaction.lag.ms=1000\n",
						     78, err, sizeof(err)),
			 -EINVAL);
	/* the file's max against a dynamic min */
	assert_int_equal(parse(&st, "log.cleaner.max.compaction.lag.ms=2000\n", err, sizeof(err)),
			 0);
	assert_int_equal(broker_config_dynamic_effective(&st, "", 0, self, strlen(self), c, NULL,
							 NULL, err, sizeof(err)),
			 -EINVAL);
	/* the default's max over the file's lower one: a min between */
	assert_int_equal(broker_config_dynamic_effective(&st, big, strlen(big), self, strlen(self),
							 c, NULL, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(c->log.min_compaction_lag_ms, 5000);
	*c = st;
	assert_int_equal(broker_config_apply_dynamic_value(c, self, strlen(self), err, sizeof(err)),
			 0);
	assert_int_equal(broker_config_dynamic_effective(&st, def, strlen(def), ok, strlen(ok), c,
							 NULL, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(c->log.min_compaction_lag_ms, 500);
	assert_int_equal(c->log.max_compaction_lag_ms, 1000);
	assert_int_equal(c->cleaner_backoff_ms, 200);
	/* max.connections.per.ip 0 needs Kafka's overrides, which mqfs has
	 * not: refused in the file and dynamically alike, in the words of
	 * Kafka's require (a dynamic one's AlterConfigs carries them as
	 * they are) */
	assert_int_equal(broker_config_dynamic_effective(&st, zero_ip, strlen(zero_ip), "", 0, c,
							 NULL, NULL, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, BROKER_CONFIG_REQUIREMENT
			    "max.connections.per.ip can be set to zero only if "
			    "max.connections.per.ip.overrides property is set.");
	broker_config_defaults(c);
	assert_int_equal(parse(c, zero_ip, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "requirement failed: max.connections.per.ip can be set to zero "
				 "only if max.connections.per.ip.overrides property is set.");
	free(c);
	free(before);
}

/* Kafka's KafkaConfig requires log.cleaner.dedupe.buffer.size over 1 MiB
 * per cleaner thread (mqfs has one): anything else, negative included,
 * is refused with Kafka's words, in the file, in one dynamic level and
 * from the levels together; one byte more is taken. */
static void test_dedupe_bound(void **state)
{
	const char *want = "requirement failed: log.cleaner.dedupe.buffer.size must be at least "
			   "1MB per cleaner thread.";
	const char *refused[] = { "log.cleaner.dedupe.buffer.size=1048576\n",
				  "log.cleaner.dedupe.buffer.size=65536\n",
				  "log.cleaner.dedupe.buffer.size=0\n",
				  "log.cleaner.dedupe.buffer.size=-2097152\n" };
	const char *ok = "log.cleaner.dedupe.buffer.size=1048577\n";
	struct broker_config st, *c = malloc(sizeof(*c));
	char err[256];

	(void)state;
	assert_non_null(c);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		const char *r = refused[i];

		broker_config_defaults(c);
		err[0] = '\0';
		assert_int_equal(parse(c, r, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, want);
		broker_config_defaults(c);
		err[0] = '\0';
		assert_int_equal(broker_config_apply_dynamic(c, r, strlen(r), err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, want);
		/* the value alone is of the type: the levels together refuse it */
		broker_config_defaults(c);
		assert_int_equal(
			broker_config_apply_dynamic_value(c, r, strlen(r), err, sizeof(err)), 0);
		broker_config_defaults(&st);
		err[0] = '\0';
		assert_int_equal(broker_config_dynamic_effective(&st, r, strlen(r), "", 0, c, NULL,
								 NULL, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, want);
	}
	/* No number: Kafka's ConfigDef words, in the file and dynamically
	 * (its type LONG: the most negative long is a number, below the
	 * bound) */
	broker_config_defaults(c);
	assert_int_equal(parse(c, "log.cleaner.dedupe.buffer.size=lots\n", err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 1: Invalid value lots for configuration "
				 "log.cleaner.dedupe.buffer.size: Not a number of type LONG");
	assert_int_equal(broker_config_apply_dynamic_value(c, "log.cleaner.dedupe.buffer.size=1e9",
							   34, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "line 1: Invalid value 1e9 for configuration "
				 "log.cleaner.dedupe.buffer.size: Not a number of type LONG");
	assert_int_equal(
		parse(c, "log.cleaner.dedupe.buffer.size=-9223372036854775808\n", err, sizeof(err)),
		-EINVAL);
	assert_string_equal(err, want);
	broker_config_defaults(c);
	assert_int_equal(parse(c, ok, err, sizeof(err)), 0);
	assert_int_equal(c->cleaner_dedupe_bytes, 1048577);
	broker_config_defaults(&st);
	assert_int_equal(broker_config_dynamic_effective(&st, "", 0, ok, strlen(ok), c, NULL, NULL,
							 err, sizeof(err)),
			 0);
	assert_int_equal(c->cleaner_dedupe_bytes, 1048577);
	free(c);
}

/* The topic defaults with dynamic settings: this broker's over the
 * cluster default over the file's over the built-in, each line alone. */
static void test_dynamic_defaults(void **state)
{
	struct broker_config st;
	struct topic_config tc;
	char err[256];
	const char *def = "log.retention.ms=3600000\nlog.segment.bytes=1000000\n";
	const char *bad = "log.segment.bytes=5\nleader.replication.throttled.rate=10\n"
			  "log.roll.ms=5000\n";
	const char *mine = "log.retention.ms=1000\nmin.insync.replicas=2\n"
			   "unclean.leader.election.enable=true\n";

	(void)state;
	broker_config_defaults(&st);
	assert_int_equal(parse(&st,
			       "log.retention.hours=2\nlog.segment.bytes=2000000\n"
			       "compression.type=gzip\n",
			       err, sizeof(err)),
			 0);
	assert_int_equal(dyn_defaults(&st, "", "", &tc, NULL, NULL), 0);
	assert_int_equal(tc.log.retention_ms, 7200000);
	assert_int_equal(tc.log.segment_bytes, 2000000);
	/* the cluster default over the file's */
	assert_int_equal(dyn_defaults(&st, def, "", &tc, NULL, NULL), 0);
	assert_int_equal(tc.log.retention_ms, 3600000);
	assert_int_equal(tc.log.segment_bytes, 1000000);
	assert_int_equal(tc.log.codec, BATCH_CODEC_GZIP); /* the file's, not dynamic */
	/* this broker's over the default */
	assert_int_equal(dyn_defaults(&st, def, mine, &tc, NULL, NULL), 0);
	assert_int_equal(tc.log.retention_ms, 1000);
	assert_int_equal(tc.log.segment_bytes, 1000000);
	assert_int_equal(tc.min_insync_replicas, 2);
	assert_true(tc.unclean_leader_election);
	/* a line that does not apply is skipped, the others apply */
	bad_lines = 0;
	assert_int_equal(dyn_defaults(&st, bad, "", &tc, count_bad, &bad_lines), 0);
	assert_int_equal(bad_lines, 2);
	assert_int_equal(tc.log.segment_bytes, 2000000);
	assert_int_equal(tc.log.segment_ms, 5000);
	/* st itself unchanged */
	assert_int_equal(st.log.retention_ms, 7200000);
	assert_false(st.cluster.unclean_leader_election);
}

/* A topic's settings without an override follow new defaults; its
 * overrides stay. */
static void test_inherited_text(void **state)
{
	struct topic_config tc, def;
	char err[256], *text = NULL;
	size_t len = 0;

	(void)state;
	memset(&def, 0, sizeof(def));
	def.partitions = 1;
	log_config_defaults(&def.log);
	tc = def;
	assert_int_equal(
		apply(&tc, "retention.ms=5\npartitions=2\nkey.separator=:\n", err, sizeof(err)), 0);
	assert_int_equal(topic_config_inherited_text(&tc, &text, &len), 0);
	assert_true(topic_config_text_names(text, len, "segment.bytes"));
	assert_true(topic_config_text_names(text, len, "min.insync.replicas"));
	assert_false(topic_config_text_names(text, len, "retention.ms"));
	assert_false(topic_config_text_names(text, len, "partitions"));
	assert_false(topic_config_text_names(text, len, "key.separator"));
	assert_false(topic_config_text_names(text, len, "line.format"));
	def.log.segment_bytes = 1000000;
	def.log.retention_ms = 999;
	def.min_insync_replicas = 2;
	assert_int_equal(topic_config_apply_def(&tc, &def, text, len, err, sizeof(err)), 0);
	assert_int_equal(tc.log.segment_bytes, 1000000);
	assert_int_equal(tc.min_insync_replicas, 2);
	assert_int_equal(tc.log.retention_ms, 5);
	assert_int_equal(tc.partitions, 2);
	assert_int_equal(tc.log.key_sep_len, 1);
	assert_false(topic_config_key_set(&tc, "segment.bytes", 13));
	assert_true(topic_config_key_set(&tc, "retention.ms", 12));
	free(text);
}

static void test_text_names(void **state)
{
	static const char text[] = "retention.ms=1000\n# key.separator=:\n"
				   "key.separator.x=1\nfoo=line.format\n";

	(void)state;
	assert_false(topic_config_text_names(text, sizeof(text) - 1, "key.separator"));
	assert_false(topic_config_text_names(text, sizeof(text) - 1, "line.format"));
	assert_true(topic_config_text_names(text, sizeof(text) - 1, "retention.ms"));
	assert_true(NAMES("a=1\n key.separator : \\t\n", "key.separator"));
	assert_true(NAMES("-line.format\n", "line.format"));
	assert_true(NAMES("line.format=raw", "line.format"));
}

static void test_ratelimit(void **state)
{
	struct mq_ratelimit rl = { 0 };
	struct capture cap;
	char *out;

	(void)state;
	for (int i = 0; i < 20; i++)
		assert_true(mq_ratelimit_ok(&rl));
	for (int i = 0; i < 6; i++)
		assert_false(mq_ratelimit_ok(&rl));
	assert_int_equal(rl.count, 20);
	assert_int_equal(rl.suppressed, 6);

	/* Age the window instead of sleeping 10 s: the next call opens a new
	 * window, reports the suppressed count and passes. */
	rl.window_start -= 10000;
	capture_begin(&cap);
	assert_true(mq_ratelimit_ok(&rl));
	out = capture_end(&cap);
	assert_non_null(strstr(out, " WARN 6 messages suppressed\n"));
	assert_int_equal(rl.suppressed, 0);
	assert_int_equal(rl.count, 1);
	free(out);

	/* A window with nothing suppressed reports nothing. */
	rl.window_start -= 10000;
	capture_begin(&cap);
	assert_true(mq_ratelimit_ok(&rl));
	out = capture_end(&cap);
	assert_string_equal(out, "");
	free(out);

	/* Not yet 10 s: still the same window. */
	for (int i = 0; i < 19; i++)
		assert_true(mq_ratelimit_ok(&rl));
	rl.window_start -= 9000;
	assert_false(mq_ratelimit_ok(&rl));
	assert_int_equal(rl.suppressed, 1);

	/* Through the macro: the 21st message of a burst is dropped. */
	capture_begin(&cap);
	for (int i = 0; i < 25; i++)
		mq_log_limited(MQ_WARN, "burst %d", i);
	out = capture_end(&cap);
	assert_non_null(strstr(out, "burst 19\n"));
	assert_null(strstr(out, "burst 20\n"));
	free(out);
}

struct rl_thread {
	struct mq_ratelimit *rl;
	int ok;
};

static void *rl_worker(void *arg)
{
	struct rl_thread *t = arg;

	for (int i = 0; i < 1000; i++)
		if (mq_ratelimit_ok(t->rl))
			t->ok++;
	return NULL;
}

static void test_ratelimit_threads(void **state)
{
	struct mq_ratelimit rl = { 0 };
	struct rl_thread t[8];
	pthread_t tid[8];
	int ok = 0;

	(void)state;
	for (int i = 0; i < 8; i++) {
		t[i].rl = &rl;
		t[i].ok = 0;
		assert_int_equal(pthread_create(&tid[i], NULL, rl_worker, &t[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		ok += t[i].ok;
	}
	assert_int_equal(ok, 20);
	assert_int_equal(rl.count, 20);
	assert_int_equal(rl.suppressed, 8000 - 20);
	assert_int_equal(rl.lock, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_broker_key),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_file_set),
		cmocka_unit_test(test_bad_broker_input),
		cmocka_unit_test(test_comments_whitespace),
		cmocka_unit_test(test_broker_roundtrip),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_every_topic_key),
		cmocka_unit_test(test_kafka_extra_keys),
		cmocka_unit_test(test_roll_age),
		cmocka_unit_test(test_topic_all_or_nothing),
		cmocka_unit_test(test_partitions_grow),
		cmocka_unit_test(test_ratio_edges),
		cmocka_unit_test(test_int_signs),
		cmocka_unit_test(test_segment_minimums),
		cmocka_unit_test(test_kafka_values),
		cmocka_unit_test(test_topic_digest),
		cmocka_unit_test(test_key_separator),
		cmocka_unit_test(test_topic_roundtrip),
		cmocka_unit_test(test_cluster_defaults),
		cmocka_unit_test(test_cluster_keys),
		cmocka_unit_test(test_cluster_render_roundtrip),
		cmocka_unit_test(test_cluster_sasl_mechanisms),
		cmocka_unit_test(test_cluster_inter_broker_mechanism),
		cmocka_unit_test(test_cluster_refusals),
		cmocka_unit_test(test_cluster_token_settings),
		cmocka_unit_test(test_jaas_escapes),
		cmocka_unit_test(test_topic_replication_keys),
		cmocka_unit_test(test_old_format_keys),
		cmocka_unit_test(test_overrides_kept),
		cmocka_unit_test(test_log_output),
		cmocka_unit_test(test_ratelimit),
		cmocka_unit_test(test_text_names),
		cmocka_unit_test(test_dynamic_apply),
		cmocka_unit_test(test_dynamic_defaults),
		cmocka_unit_test(test_dynamic_combined),
		cmocka_unit_test(test_dedupe_bound),
		cmocka_unit_test(test_inherited_text),
		cmocka_unit_test(test_ratelimit_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
