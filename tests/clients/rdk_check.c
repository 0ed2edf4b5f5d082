/*
 * rdk_check.c — a Kafka client program on librdkafka (Debian's
 * librdkafka-dev, a client no one here wrote) for the integration tests:
 * it produces and consumes through the broker listener and checks what
 * comes back, so that a test can compare the client's side with the
 * mount's. Built by `make test`, never part of the mqfs binary.
 *
 *   rdk_check -b BROKERS [-X key=value]... COMMAND ARGS...
 *
 * -X passes any librdkafka setting to every handle (SASL for the cluster's
 * listeners, debug=...). BROKERS is only where the client starts: it then
 * follows the partition leaders that Metadata names.
 *
 * Commands (each prints one result line per item on stdout, exits 0; on a
 * failed check prints what and why on stderr and exits 1):
 *
 *   produce TOPIC PARTITION CODEC N TAG
 *       N records, record i with key "TAG-k<i>", value "TAG-v<i>" and the
 *       headers tag=TAG, i=<i>, in one batch; acks=all, idempotence off
 *       (so the batches carry producer id -1), compression.codec CODEC
 *       (none, gzip, snappy, lz4, zstd),
 *       one request in flight so that retries (on NOT_LEADER_OR_FOLLOWER)
 *       keep the order. Checks every delivery report: no error, offsets
 *       consecutive in the order sent. Prints "produced N FIRST LAST".
 *   consume TOPIC PARTITION FROM COUNT
 *       Assigns the partition at FROM (an offset, "beginning", or "@MS":
 *       the offset for that time through offsets_for_times) and reads
 *       COUNT records. Checks that offsets go up by one from where it
 *       started. Prints "OFFSET KEY VALUE HEADERS" per record (KEY "-" for
 *       none, HEADERS "h=v,h2=v2" or "-").
 *   verify TOPIC PARTITION CODEC N TAG
 *       produce, then consume the records back from the first offset
 *       reported and check each key, value, header and its order against
 *       what was sent. Prints "verified N FIRST LAST".
 *   watermarks TOPIC PARTITION
 *       Prints "LOW HIGH" (query_watermark_offsets).
 *   times TOPIC PARTITION MS
 *       Prints the offset offsets_for_times gives for MS (-1: none).
 *   stream TOPIC PARTITION TAG STOP_FILE
 *       Records as produce makes them (no compression), one at a time,
 *       each delivered before the next, until STOP_FILE exists; checks
 *       each lands above the one before. Prints "streamed N FIRST LAST".
 *   idem TOPIC PARTITION TAG STOP_FILE
 *       An idempotent producer (enable.idempotence=true, acks=all, up to
 *       5 requests in flight, small batches): records TAG-v<i> queued
 *       without waiting, up to 100 outstanding, until STOP_FILE exists,
 *       then every one waited for (message.timeout.ms 120 s, so that
 *       retries outlast a failover). Checks that every record was
 *       delivered, at consecutive offsets in the order sent, and that
 *       the producer met no fatal error. Prints "idem N FIRST LAST".
 *   kidem TOPIC PARTITION CODEC KEYS TAG STOP_FILE
 *       idem's producer (codec CODEC) writing keyed records into a
 *       compacted topic: record i has key TAG-k<i % KEYS>; its value is
 *       null (a tombstone) when i % 7 == 6, the bytes TAG-v<i> LF 0x01
 *       0xff (a line the mount shows escaped) when i % 5 == 4, TAG-v<i>
 *       otherwise. Same checks as idem. Prints "kidem N FIRST LAST",
 *       then "OFFSET I" per record.
 *   dump TOPIC PARTITION
 *       Reads the partition from its beginning up to the high watermark
 *       asked before, offsets going up (a compacted log has gaps), no
 *       error. Prints "OFFSET KEYHEX VALUEHEX" per record ("-" for a null
 *       key, "NULL" for a null value, "=" for an empty one).
 *   follow TOPIC PARTITION STOP_FILE
 *       Assigns the partition at its beginning with auto.offset.reset
 *       "error" (a reset is reported, never done silently) and consumes
 *       while the test moves the leadership; once STOP_FILE exists, reads
 *       on up to the high watermark it then has. Checks that the offsets
 *       go up by one from 0, no record skipped or read twice, and that no
 *       error reached the consumer. Prints "followed N".
 *   delete-offsets GROUP TOPIC PARTITION
 *       rd_kafka_DeleteConsumerGroupOffsets (OffsetDelete) of one
 *       partition's committed offset. Prints "TOPIC PARTITION ERROR"
 *       (librdkafka's name of the partition's error, NO_ERROR when
 *       deleted) or "group ERROR" for a group-level refusal.
 *   committed GROUP TOPIC N
 *       The group's committed offsets of partitions 0..N-1 (rd_kafka_
 *       committed: OffsetFetch). Prints "PARTITION OFFSET" each, -1001
 *       (RD_KAFKA_OFFSET_INVALID) for none, and " METADATA" after it when
 *       the commit's metadata is not empty.
 *   commit GROUP TOPIC PARTITION OFFSET METADATA
 *       rd_kafka_commit of OFFSET with METADATA (rd_kafka_topic_partition_t
 *       .metadata) outside any generation (no subscription). Prints
 *       "commit ERROR" (librdkafka's name, NO_ERROR when taken).
 *   member GROUP TOPIC NAME STOP_FILE
 *       A member of GROUP subscribed to TOPIC (rd_kafka_subscribe), with
 *       a rebalance callback for either protocol (eager: assign/unassign;
 *       partition.assignment.strategy=cooperative-sticky: incremental
 *       assign/unassign), -X settings as given (group.instance.id,
 *       enable.auto.commit...). With enable.auto.commit=false it commits
 *       each record synchronously once printed, and prints "NAME
 *       committed PARTITION OFFSET" on stderr once the coordinator took
 *       it (OFFSET the next record's). Prints "NAME PARTITION
 *       OFFSET KEY" per record and "NAME assigned|revoked P,P..." per
 *       rebalance, flushed at once, until STOP_FILE exists or a fatal
 *       error ("NAME fatal: REASON", e.g. a static member fenced; exits
 *       1); then closes (LeaveGroup, unless static). Prints "NAME closed
 *       N". While NAME.stall exists next to STOP_FILE it does not poll
 *       (an application busy past max.poll.interval.ms) and prints "NAME
 *       stalled", then "NAME resumed".
 *
 * A new way to consume (a group subscription once the broker serves the
 * group APIs) is one more row of the command table and one function that
 * fills struct rec like consume_assigned does.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define TIMEOUT_MS 20000
#define FIELD_MAX  256

struct ctx {
	const char *brokers;
	const char *xs[32]; /* -X key=value, in order */
	int n_xs;
};

/* One record as consumed, its fields as text. */
struct rec {
	int64_t offset;
	char key[FIELD_MAX];
	char value[FIELD_MAX];
	char headers[FIELD_MAX];
};

static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("rdk_check: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
	char err[256];

	if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
		return fail("%s=%s: %s", key, value, err);
	return 0;
}

/* The common settings, then -X in order (so a test can override any). */
static rd_kafka_conf_t *conf_new(const struct ctx *c)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (set(conf, "bootstrap.servers", c->brokers))
		goto bad;
	for (int i = 0; i < c->n_xs; i++) {
		char kv[512], *eq;

		snprintf(kv, sizeof(kv), "%s", c->xs[i]);
		eq = strchr(kv, '=');
		if (!eq) {
			fail("-X %s: not key=value", kv);
			goto bad;
		}
		*eq = 0;
		if (set(conf, kv, eq + 1))
			goto bad;
	}
	return conf;
bad:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static rd_kafka_t *handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));

	if (!rk) {
		fail("rd_kafka_new: %s", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

static void text(char *out, const void *p, size_t len)
{
	if (!p) {
		strcpy(out, "-");
		return;
	}
	snprintf(out, FIELD_MAX, "%.*s", (int)(len < FIELD_MAX - 1 ? len : FIELD_MAX - 1),
		 (const char *)p);
}

/* ---- produce ---- */

struct sent {
	int n;
	int64_t *offsets; /* per record, from its delivery report */
	int delivered;
	int errors;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct sent *s = opaque;
	intptr_t i = (intptr_t)m->_private;

	(void)rk;
	s->delivered++;
	if (m->err) {
		s->errors++;
		fail("record %d: %s", (int)i, rd_kafka_err2str(m->err));
		return;
	}
	if (i >= 0 && i < s->n)
		s->offsets[i] = m->offset;
}

/* A producer as every command here uses it: acks=all, idempotence off,
 * codec, one request in flight; delivery reports into s. NULL on error.
 * linger.ms is long so that the records of one produce, queued before the
 * flush (which sends at once), go as one batch however slow the machine. */
static rd_kafka_t *producer_new(const struct ctx *c, const char *codec, struct sent *s)
{
	rd_kafka_conf_t *conf = conf_new(c);

	if (!conf)
		return NULL;
	if (set(conf, "acks", "all") || set(conf, "enable.idempotence", "false") ||
	    set(conf, "compression.codec", codec) ||
	    set(conf, "max.in.flight.requests.per.connection", "1") ||
	    set(conf, "message.timeout.ms", "30000") || set(conf, "linger.ms", "1000")) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, s);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	return handle_new(RD_KAFKA_PRODUCER, conf);
}

static void producer_free(rd_kafka_t *rk, struct sent *s)
{
	if (rk)
		rd_kafka_destroy(rk);
	free(s->offsets);
}

/* Queues record i of tag (its key, value and headers). */
static int send_one(rd_kafka_t *rk, const char *topic, int32_t partition, const char *tag, int i)
{
	char key[FIELD_MAX], value[FIELD_MAX], idx[16];
	rd_kafka_resp_err_t err;

	snprintf(key, sizeof(key), "%s-k%d", tag, i);
	snprintf(value, sizeof(value), "%s-v%d", tag, i);
	snprintf(idx, sizeof(idx), "%d", i);
	err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_KEY(key, strlen(key)),
				RD_KAFKA_V_VALUE(value, strlen(value)),
				RD_KAFKA_V_HEADER("tag", tag, (ssize_t)strlen(tag)),
				RD_KAFKA_V_HEADER("i", idx, (ssize_t)strlen(idx)),
				RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
	if (err)
		return fail("produce record %d: %s", i, rd_kafka_err2str(err));
	return 0;
}

/* Waits for every queued record's delivery report; n sent so far. */
static int delivered_all(rd_kafka_t *rk, const struct sent *s, int n)
{
	if (rd_kafka_flush(rk, TIMEOUT_MS))
		return fail("flush: %d records not delivered in %d ms", rd_kafka_outq_len(rk),
			    TIMEOUT_MS);
	if (s->errors || s->delivered != n)
		return fail("%d of %d delivered, %d errors", s->delivered, n, s->errors);
	return 0;
}

/* Asks for the topic's metadata and waits for it: records produced before
 * the leader is known wait in librdkafka, and when that takes longer than
 * linger.ms (a slow machine, a sanitizer build) the first ones leave as a
 * batch of their own. */
static int warm_up(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;

	if (!rkt)
		return fail("topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
	err = rd_kafka_metadata(rk, 0, rkt, &md, TIMEOUT_MS);
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	if (err)
		return fail("metadata of %s: %s", topic, rd_kafka_err2str(err));
	return 0;
}

/* Whether the n records' delivery reports put them at consecutive
 * offsets in the order sent (none appended twice, none between). */
static int consecutive(const struct sent *s, int n)
{
	for (int i = 1; i < n; i++)
		if (s->offsets[i] != s->offsets[0] + i)
			return fail("record %d at offset %" PRId64 ", record 0 at %" PRId64
				    ": not consecutive in the order sent",
				    i, s->offsets[i], s->offsets[0]);
	return 0;
}

static int produce(const struct ctx *c, const char *topic, int32_t partition, const char *codec,
		   int n, const char *tag, int64_t *first)
{
	struct sent s = { .n = n, .offsets = calloc((size_t)n + 1, sizeof(int64_t)) };
	rd_kafka_t *rk = s.offsets ? producer_new(c, codec, &s) : NULL;
	int rc = 1;

	if (!rk || warm_up(rk, topic))
		goto out;
	for (int i = 0; i < n; i++)
		if (send_one(rk, topic, partition, tag, i))
			goto out;
	if (delivered_all(rk, &s, n))
		goto out;
	if (consecutive(&s, n))
		goto out;
	*first = s.offsets[0];
	rc = 0;
out:
	producer_free(rk, &s);
	return rc;
}

/* stream: one record at a time, each delivered before the next, until
 * stop_file exists, so that a test can move the partition's leadership
 * under a running producer. Every record must be delivered (librdkafka
 * retries on NOT_LEADER_OR_FOLLOWER after refreshing its metadata) at an
 * offset above the one before. */
static int cmd_stream(const struct ctx *c, char **argv)
{
	const char *topic = argv[0], *tag = argv[2], *stop_file = argv[3];
	int32_t partition = atoi(argv[1]);
	struct sent s = { .n = 1 << 20 };
	rd_kafka_t *rk = NULL;
	int n = 0, rc = 1;

	s.offsets = calloc((size_t)s.n, sizeof(int64_t));
	rk = s.offsets ? producer_new(c, "none", &s) : NULL;
	if (!rk)
		goto out;
	while (access(stop_file, F_OK) != 0 && n < s.n) {
		if (send_one(rk, topic, partition, tag, n) || delivered_all(rk, &s, n + 1))
			goto out;
		if (n > 0 && s.offsets[n] <= s.offsets[n - 1]) {
			fail("record %d at offset %" PRId64 " after %" PRId64, n, s.offsets[n],
			     s.offsets[n - 1]);
			goto out;
		}
		n++;
	}
	if (n == 0) {
		fail("stopped before the first record");
		goto out;
	}
	printf("streamed %d %" PRId64 " %" PRId64 "\n", n, s.offsets[0], s.offsets[n - 1]);
	rc = 0;
out:
	producer_free(rk, &s);
	return rc;
}

/* idem: librdkafka's errors, shown (a fatal one, raised when the broker's
 * answers break the idempotence guarantee, is checked at the end). */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)rk;
	(void)opaque;
	fprintf(stderr, "rdk_check: idem: %s: %s\n", rd_kafka_err2name((rd_kafka_resp_err_t)err),
		reason);
}

static rd_kafka_t *idem_producer_new(const struct ctx *c, const char *codec, struct sent *s)
{
	rd_kafka_conf_t *conf = conf_new(c);

	if (!conf)
		return NULL;
	if (set(conf, "acks", "all") || set(conf, "enable.idempotence", "true") ||
	    set(conf, "max.in.flight.requests.per.connection", "5") ||
	    set(conf, "batch.num.messages", "10") || set(conf, "linger.ms", "5") ||
	    set(conf, "message.timeout.ms", "120000") || set(conf, "compression.codec", codec)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_conf_set_opaque(conf, s);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_error_cb(conf, on_error);
	return handle_new(RD_KAFKA_PRODUCER, conf);
}

/* kidem: record i of a keyed producer into a compacted topic (see the
 * usage at the top): tombstones and values a line cannot carry among
 * plain ones, keys taken again and again so that the cleaner has work. */
static int send_keyed(rd_kafka_t *rk, const char *topic, int32_t partition, const char *tag,
		      int keys, int i)
{
	char key[FIELD_MAX], value[FIELD_MAX];
	rd_kafka_resp_err_t err;
	size_t vlen;
	const char *v = i % 7 == 6 ? NULL : value;

	snprintf(key, sizeof(key), "%s-k%d", tag, i % keys);
	vlen = (size_t)snprintf(value, sizeof(value), "%s-v%d%s", tag, i,
				i % 5 == 4 ? "\n\x01\xff" : "");
	err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_KEY(key, strlen(key)),
				RD_KAFKA_V_VALUE((void *)v, v ? vlen : 0),
				RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
	if (err)
		return fail("produce record %d: %s", i, rd_kafka_err2str(err));
	return 0;
}

/* idem and kidem: records queued while the test kills or stops the
 * partition's leader; the retries of requests whose answers were lost
 * must each be appended once (the new leader knows the producer's
 * sequences from its replicated log), so the delivered offsets follow the
 * order sent one for one. keys 0: idem's records (send_one), else kidem's
 * (send_keyed), whose offsets are printed after the report. */
static int idem_run(const struct ctx *c, const char *topic, int32_t partition, const char *codec,
		    int keys, const char *tag, const char *stop_file)
{
	struct sent s = { .n = 1 << 20 };
	char fatal[256];
	rd_kafka_t *rk = NULL;
	int n = 0, rc = 1;

	s.offsets = calloc((size_t)s.n, sizeof(int64_t));
	rk = s.offsets ? idem_producer_new(c, codec, &s) : NULL;
	if (!rk || warm_up(rk, topic))
		goto out;
	while (access(stop_file, F_OK) != 0 && n < s.n) {
		if (n - s.delivered < 100) {
			if (keys ? send_keyed(rk, topic, partition, tag, keys, n)
				 : send_one(rk, topic, partition, tag, n))
				goto out;
			n++;
		}
		rd_kafka_poll(rk, n - s.delivered < 100 ? 2 : 50);
	}
	if (rd_kafka_flush(rk, 180000)) {
		fail("flush: %d records not delivered", rd_kafka_outq_len(rk));
		goto out;
	}
	if (rd_kafka_fatal_error(rk, fatal, sizeof(fatal))) {
		fail("fatal error: %s", fatal);
		goto out;
	}
	if (s.errors || s.delivered != n || n == 0) {
		fail("%d of %d delivered, %d errors", s.delivered, n, s.errors);
		goto out;
	}
	if (consecutive(&s, n))
		goto out;
	printf("%s %d %" PRId64 " %" PRId64 "\n", keys ? "kidem" : "idem", n, s.offsets[0],
	       s.offsets[n - 1]);
	for (int i = 0; keys && i < n; i++)
		printf("%" PRId64 " %d\n", s.offsets[i], i);
	rc = 0;
out:
	producer_free(rk, &s);
	return rc;
}

static int cmd_idem(const struct ctx *c, char **argv)
{
	return idem_run(c, argv[0], atoi(argv[1]), "none", 0, argv[2], argv[3]);
}

static int cmd_kidem(const struct ctx *c, char **argv)
{
	int keys = atoi(argv[3]);

	if (keys <= 0)
		return fail("KEYS must be positive: %s", argv[3]);
	return idem_run(c, argv[0], atoi(argv[1]), argv[2], keys, argv[4], argv[5]);
}

/* ---- consume ---- */

/* The offset for a time (offsets_for_times through ListOffsets). */
static int offset_for_time(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t ms,
			   int64_t *offset)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err;
	int rc = 0;

	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = ms;
	err = rd_kafka_offsets_for_times(rk, l, TIMEOUT_MS);
	if (!err)
		err = l->elems[0].err;
	if (err)
		rc = fail("offsets_for_times %s [%d] %" PRId64 ": %s", topic, partition, ms,
			  rd_kafka_err2str(err));
	else
		*offset = l->elems[0].offset;
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/* Set while a consumer closes. Its group id is only there for
 * rd_kafka_assign, but librdkafka still looks the group's coordinator up
 * and connects to it; a close while that connection authenticates tears
 * it down, and librdkafka reports that as an error of its own making
 * ("GroupCoordinator: ... Broker transport failure"). Only that report is
 * dropped; every other log line goes to stderr as librdkafka prints it. */
static atomic_bool closing;

static void consumer_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (atomic_load(&closing) && !strcmp(fac, "FAIL") && strstr(buf, "GroupCoordinator: "))
		return;
	fprintf(stderr, "%%%d|%s|%s| %s\n", level, fac, rd_kafka_name(rk), buf);
}

static rd_kafka_t *consumer_new(const struct ctx *c)
{
	rd_kafka_conf_t *conf = conf_new(c);

	if (conf)
		rd_kafka_conf_set_log_cb(conf, consumer_log);

	/* A group id only because rd_kafka_assign needs one; nothing is
	 * committed (offsets are given explicitly). */
	if (!conf || set(conf, "group.id", "rdk_check") ||
	    set(conf, "enable.auto.commit", "false") ||
	    set(conf, "enable.auto.offset.store", "false") ||
	    set(conf, "enable.partition.eof", "false")) {
		if (conf)
			rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return handle_new(RD_KAFKA_CONSUMER, conf);
}

static void consumer_free(rd_kafka_t *rk)
{
	if (!rk)
		return;
	atomic_store(&closing, true);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	atomic_store(&closing, false);
}

static void rec_of(const rd_kafka_message_t *m, struct rec *r)
{
	rd_kafka_headers_t *hdrs = NULL;
	size_t used = 0;

	r->offset = m->offset;
	text(r->key, m->key, m->key_len);
	text(r->value, m->payload, m->len);
	strcpy(r->headers, "-");
	if (rd_kafka_message_headers(m, &hdrs) || !hdrs)
		return;
	for (size_t i = 0;; i++) {
		const char *name;
		const void *val;
		size_t len;

		if (rd_kafka_header_get_all(hdrs, i, &name, &val, &len))
			break;
		used += (size_t)snprintf(r->headers + used, FIELD_MAX - used, "%s%s=%.*s",
					 i ? "," : "", name, (int)len,
					 val ? (const char *)val : "");
		if (used >= FIELD_MAX)
			break;
	}
}

/* Reads count records of topic/partition from `from` (an offset or
 * RD_KAFKA_OFFSET_BEGINNING) by assign; checks the offsets go up by one. */
static int consume_assigned(rd_kafka_t *rk, const char *topic, int32_t partition, int64_t from,
			    int count, struct rec *out)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_resp_err_t err;
	int64_t deadline = now_ms() + TIMEOUT_MS;
	int got = 0, rc = 1;

	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = from;
	err = rd_kafka_assign(rk, l);
	if (err) {
		fail("assign %s [%d] at %" PRId64 ": %s", topic, partition, from,
		     rd_kafka_err2str(err));
		goto out;
	}
	while (got < count) {
		rd_kafka_message_t *m;

		if (now_ms() > deadline) {
			fail("%d of %d records in %d ms", got, count, TIMEOUT_MS);
			goto out;
		}
		m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (m->err) {
			fail("consume: %s", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			goto out;
		}
		rec_of(m, &out[got]);
		rd_kafka_message_destroy(m);
		if (got > 0 && out[got].offset != out[got - 1].offset + 1) {
			fail("offset %" PRId64 " after %" PRId64, out[got].offset,
			     out[got - 1].offset);
			goto out;
		}
		if (got == 0 && from >= 0 && out[0].offset != from) {
			fail("first offset %" PRId64 ", assigned at %" PRId64, out[0].offset, from);
			goto out;
		}
		got++;
	}
	rc = 0;
out:
	rd_kafka_assign(rk, NULL);
	rd_kafka_topic_partition_list_destroy(l);
	return rc;
}

/* One poll of the assigned consumer: *m a record, or NULL when none came;
 * 1 (reported, with next the offset the caller waited for) when the
 * consumer met an error. */
static int poll_record(rd_kafka_t *rk, int64_t next, rd_kafka_message_t **m)
{
	*m = rd_kafka_consumer_poll(rk, 200);
	if (!*m || !(*m)->err)
		return 0;
	fail("at offset %" PRId64 ": %s", next, rd_kafka_message_errstr(*m));
	rd_kafka_message_destroy(*m);
	*m = NULL;
	return 1;
}

/* follow: a consumer kept reading while the partition's leader fails;
 * its position must move one record at a time whatever the brokers
 * answer during the leader change (NOT_LEADER_OR_FOLLOWER,
 * FENCED_LEADER_EPOCH, OFFSET_OUT_OF_RANGE would make it reset). */
static int cmd_follow(const struct ctx *c, char **argv)
{
	const char *topic = argv[0], *stop_file = argv[2];
	int32_t partition = atoi(argv[1]);
	struct ctx cc = *c;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_t *rk = NULL;
	int64_t next = 0, end = -1, deadline = -1;
	int rc = 1;

	if (cc.n_xs < 32)
		cc.xs[cc.n_xs++] = "auto.offset.reset=error";
	rk = consumer_new(&cc);
	if (!rk)
		goto out;
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
	if (rd_kafka_assign(rk, l)) {
		fail("assign %s [%d]", topic, partition);
		goto out;
	}
	while (end < 0 || next < end) {
		rd_kafka_message_t *m;

		if (end < 0 && access(stop_file, F_OK) == 0) {
			int64_t low;
			rd_kafka_resp_err_t err;

			/* The leadership may be moving still (the preferred
			 * leader taking its partition back): ListOffsets then
			 * meets NOT_LEADER_OR_FOLLOWER, which this call does not
			 * retry itself. */
			if (deadline < 0)
				deadline = now_ms() + TIMEOUT_MS;
			err = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &end,
							       TIMEOUT_MS);
			if (err) {
				end = -1;
				fprintf(stderr, "rdk_check: watermarks of %s [%d]: %s\n", topic,
					partition, rd_kafka_err2str(err));
			}
		}
		if (deadline >= 0 && now_ms() > deadline) {
			fail("at offset %" PRId64 " of %" PRId64 " after %d ms", next, end,
			     TIMEOUT_MS);
			goto out;
		}
		if (poll_record(rk, next, &m))
			goto out;
		if (!m)
			continue;
		if (m->offset != next) {
			fail("offset %" PRId64 " where %" PRId64 " was next", m->offset, next);
			rd_kafka_message_destroy(m);
			goto out;
		}
		rd_kafka_message_destroy(m);
		next++;
	}
	printf("followed %" PRId64 "\n", next);
	rc = 0;
out:
	if (rk)
		rd_kafka_assign(rk, NULL);
	rd_kafka_topic_partition_list_destroy(l);
	consumer_free(rk);
	return rc;
}

static void hex_out(const void *p, size_t len, const char *null)
{
	const unsigned char *b = p;

	if (!p) {
		fputs(null, stdout);
		return;
	}
	if (!len)
		putchar('=');
	for (size_t i = 0; i < len; i++)
		printf("%02x", b[i]);
}

/* dump: the partition as a consumer from offset 0 sees it, up to the high
 * watermark asked first; a compacted log's offsets have gaps but only go
 * up. */
static int cmd_dump(const struct ctx *c, char **argv)
{
	const char *topic = argv[0];
	int32_t partition = atoi(argv[1]);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_t *rk = consumer_new(c);
	int64_t low, high, last = -1, deadline = now_ms() + TIMEOUT_MS;
	rd_kafka_resp_err_t err;
	int rc = 1;

	if (!rk)
		goto out;
	/* The leadership may be moving still (the preferred leader taking
	 * its partition back after a failover): ListOffsets then meets
	 * NOT_LEADER_OR_FOLLOWER, which this call does not retry itself. */
	while ((err = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high,
						       TIMEOUT_MS)) &&
	       (err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
		err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
		err == RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH) &&
	       now_ms() < deadline)
		usleep(100 * 1000);
	if (err) {
		fail("watermarks of %s [%d]: %s", topic, partition, rd_kafka_err2str(err));
		goto out;
	}
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
	if (rd_kafka_assign(rk, l)) {
		fail("assign %s [%d]", topic, partition);
		goto out;
	}
	while (last + 1 < high) {
		rd_kafka_message_t *m;

		if (now_ms() > deadline) {
			fail("at offset %" PRId64 " of %" PRId64 " after %d ms", last, high,
			     TIMEOUT_MS);
			goto out;
		}
		if (poll_record(rk, last + 1, &m))
			goto out;
		if (!m)
			continue;
		if (m->offset <= last) {
			fail("offset %" PRId64 " after %" PRId64, m->offset, last);
			rd_kafka_message_destroy(m);
			goto out;
		}
		last = m->offset;
		printf("%" PRId64 " ", m->offset);
		hex_out(m->key, m->key_len, "-");
		putchar(' ');
		hex_out(m->payload, m->len, "NULL");
		putchar('\n');
		rd_kafka_message_destroy(m);
	}
	rc = 0;
out:
	if (rk)
		rd_kafka_assign(rk, NULL);
	rd_kafka_topic_partition_list_destroy(l);
	consumer_free(rk);
	return rc;
}

static int cmd_consume(const struct ctx *c, char **argv)
{
	const char *topic = argv[0], *from_s = argv[2];
	int32_t partition = atoi(argv[1]);
	int count = atoi(argv[3]);
	int64_t from;
	struct rec *recs = calloc((size_t)count + 1, sizeof(*recs));
	rd_kafka_t *rk = consumer_new(c);
	int rc = 1;

	if (!recs || !rk || count <= 0)
		goto out;
	if (!strcmp(from_s, "beginning"))
		from = RD_KAFKA_OFFSET_BEGINNING;
	else if (from_s[0] == '@') {
		if (offset_for_time(rk, topic, partition, strtoll(from_s + 1, NULL, 10), &from))
			goto out;
		if (from < 0) {
			fail("no record at or after %s", from_s + 1);
			goto out;
		}
	} else
		from = strtoll(from_s, NULL, 10);
	if (consume_assigned(rk, topic, partition, from, count, recs))
		goto out;
	for (int i = 0; i < count; i++)
		printf("%" PRId64 " %s %s %s\n", recs[i].offset, recs[i].key, recs[i].value,
		       recs[i].headers);
	rc = 0;
out:
	consumer_free(rk);
	free(recs);
	return rc;
}

static int cmd_produce(const struct ctx *c, char **argv)
{
	int n = atoi(argv[3]);
	int64_t first;

	if (n <= 0)
		return fail("N must be positive: %s", argv[3]);
	if (produce(c, argv[0], atoi(argv[1]), argv[2], n, argv[4], &first))
		return 1;
	printf("produced %d %" PRId64 " %" PRId64 "\n", n, first, first + n - 1);
	return 0;
}

static int cmd_verify(const struct ctx *c, char **argv)
{
	const char *topic = argv[0], *tag = argv[4];
	int32_t partition = atoi(argv[1]);
	int n = atoi(argv[3]);
	int64_t first;
	struct rec *recs = NULL;
	rd_kafka_t *rk = NULL;
	int rc = 1;

	if (n <= 0)
		return fail("N must be positive: %s", argv[3]);
	if (produce(c, topic, partition, argv[2], n, tag, &first))
		return 1;
	recs = calloc((size_t)n, sizeof(*recs));
	rk = consumer_new(c);
	if (!recs || !rk || consume_assigned(rk, topic, partition, first, n, recs))
		goto out;
	for (int i = 0; i < n; i++) {
		char key[FIELD_MAX], value[FIELD_MAX], headers[FIELD_MAX];

		snprintf(key, sizeof(key), "%s-k%d", tag, i);
		snprintf(value, sizeof(value), "%s-v%d", tag, i);
		snprintf(headers, sizeof(headers), "tag=%s,i=%d", tag, i);
		if (recs[i].offset != first + i || strcmp(recs[i].key, key) ||
		    strcmp(recs[i].value, value) || strcmp(recs[i].headers, headers)) {
			fail("record %d: got %" PRId64 " %s %s %s, sent %" PRId64 " %s %s %s", i,
			     recs[i].offset, recs[i].key, recs[i].value, recs[i].headers, first + i,
			     key, value, headers);
			goto out;
		}
	}
	printf("verified %d %" PRId64 " %" PRId64 "\n", n, first, first + n - 1);
	rc = 0;
out:
	consumer_free(rk);
	free(recs);
	return rc;
}

static int cmd_watermarks(const struct ctx *c, char **argv)
{
	rd_kafka_t *rk = consumer_new(c);
	int64_t low, high;
	rd_kafka_resp_err_t err;
	int rc = 1;

	if (!rk)
		return 1;
	err = rd_kafka_query_watermark_offsets(rk, argv[0], atoi(argv[1]), &low, &high, TIMEOUT_MS);
	if (err) {
		fail("query_watermark_offsets: %s", rd_kafka_err2str(err));
	} else {
		printf("%" PRId64 " %" PRId64 "\n", low, high);
		rc = 0;
	}
	consumer_free(rk);
	return rc;
}

static int cmd_times(const struct ctx *c, char **argv)
{
	rd_kafka_t *rk = consumer_new(c);
	int64_t offset;
	int rc = 1;

	if (!rk)
		return 1;
	if (!offset_for_time(rk, argv[0], atoi(argv[1]), strtoll(argv[2], NULL, 10), &offset)) {
		printf("%" PRId64 "\n", offset);
		rc = 0;
	}
	consumer_free(rk);
	return rc;
}

/* ---- group offsets (the admin API, OffsetFetch) ---- */

static int cmd_delete_offsets(const struct ctx *c, char **argv)
{
	rd_kafka_conf_t *conf = conf_new(c);
	rd_kafka_t *rk = conf ? handle_new(RD_KAFKA_PRODUCER, conf) : NULL;
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_DeleteConsumerGroupOffsets_t *del;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	const rd_kafka_group_result_t **res;
	size_t n = 0;
	int rc = 1;

	if (!rk) {
		rd_kafka_topic_partition_list_destroy(parts);
		return 1;
	}
	rd_kafka_topic_partition_list_add(parts, argv[1], atoi(argv[2]));
	del = rd_kafka_DeleteConsumerGroupOffsets_new(argv[0], parts);
	q = rd_kafka_queue_new(rk);
	rd_kafka_DeleteConsumerGroupOffsets(rk, &del, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
	if (!ev) {
		fail("DeleteConsumerGroupOffsets: no result in %d ms", TIMEOUT_MS);
	} else if (rd_kafka_event_error(ev)) {
		/* A group-level error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP...). */
		printf("group %s\n", rd_kafka_err2name(rd_kafka_event_error(ev)));
		rc = 0;
	} else {
		res = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
			rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &n);
		for (size_t i = 0; i < n; i++) {
			const rd_kafka_error_t *gerr = rd_kafka_group_result_error(res[i]);
			const rd_kafka_topic_partition_list_t *l =
				rd_kafka_group_result_partitions(res[i]);

			if (gerr) {
				printf("group %s\n", rd_kafka_error_name(gerr));
				continue;
			}
			for (int k = 0; l && k < l->cnt; k++)
				printf("%s %d %s\n", l->elems[k].topic, (int)l->elems[k].partition,
				       rd_kafka_err2name(l->elems[k].err));
		}
		rc = n == 1 ? 0 : fail("DeleteConsumerGroupOffsets: %d group results", (int)n);
	}
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_DeleteConsumerGroupOffsets_destroy(del);
	rd_kafka_topic_partition_list_destroy(parts);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
	return rc;
}

/* A consumer of group that commits only when told (no subscription):
 * NULL on failure, reported. */
static rd_kafka_t *group_consumer(const struct ctx *c, const char *group)
{
	rd_kafka_conf_t *conf = conf_new(c);

	if (!conf)
		return NULL;
	if (set(conf, "group.id", group) || set(conf, "enable.auto.commit", "false")) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return handle_new(RD_KAFKA_CONSUMER, conf);
}

static int cmd_committed(const struct ctx *c, char **argv)
{
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk = group_consumer(c, argv[0]);
	int n = atoi(argv[2]), rc = 1;

	if (!rk)
		return 1;
	parts = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++)
		rd_kafka_topic_partition_list_add(parts, argv[1], p);
	err = rd_kafka_committed(rk, parts, TIMEOUT_MS);
	if (err) {
		fail("committed: %s", rd_kafka_err2str(err));
	} else {
		for (int k = 0; k < parts->cnt; k++) {
			const rd_kafka_topic_partition_t *e = &parts->elems[k];

			printf("%d %" PRId64, (int)e->partition, e->offset);
			if (e->metadata_size > 0)
				printf(" %.*s", (int)e->metadata_size, (const char *)e->metadata);
			printf("\n");
		}
		rc = 0;
	}
	rd_kafka_topic_partition_list_destroy(parts);
	consumer_free(rk);
	return rc;
}

static int cmd_commit(const struct ctx *c, char **argv)
{
	rd_kafka_topic_partition_list_t *parts;
	rd_kafka_topic_partition_t *e;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk = group_consumer(c, argv[0]);

	if (!rk)
		return 1;
	parts = rd_kafka_topic_partition_list_new(1);
	e = rd_kafka_topic_partition_list_add(parts, argv[1], atoi(argv[2]));
	e->offset = strtoll(argv[3], NULL, 10);
	/* the list owns it: freed with it */
	e->metadata = strdup(argv[4]);
	e->metadata_size = e->metadata ? strlen(argv[4]) : 0;
	err = rd_kafka_commit(rk, parts, 0);
	if (!err)
		err = parts->elems[0].err;
	printf("commit %s\n", rd_kafka_err2name(err));
	rd_kafka_topic_partition_list_destroy(parts);
	consumer_free(rk);
	return 0;
}

/* The member's rebalance callback (cmd_member): the partitions it gets
 * or loses, printed, then taken as the group's protocol says. */
static void member_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			     rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	const char *name = opaque;
	bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	bool gets = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;

	printf("%s %s ", name, gets ? "assigned" : "revoked");
	for (int k = 0; k < parts->cnt; k++)
		printf("%s%d", k ? "," : "", (int)parts->elems[k].partition);
	printf("%s\n", parts->cnt ? "" : "-");
	fflush(stdout);
	if (coop && gets)
		rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
	else if (coop)
		rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
	else
		rd_kafka_assign(rk, gets ? parts : NULL);
}

static int cmd_member(const struct ctx *c, char **argv)
{
	rd_kafka_conf_t *conf = conf_new(c);
	rd_kafka_topic_partition_list_t *sub;
	char manual[8] = "true";
	size_t len = sizeof(manual);
	rd_kafka_t *rk;
	char stall[PATH_MAX + 64];
	const char *slash;
	bool stalled = false;
	long n = 0;
	int rc = 0;

	if (!conf)
		return 1;
	rd_kafka_conf_set_log_cb(conf, consumer_log);
	rd_kafka_conf_set_rebalance_cb(conf, member_rebalance);
	rd_kafka_conf_set_opaque(conf, argv[2]);
	if (set(conf, "group.id", argv[0]) || set(conf, "enable.partition.eof", "false")) {
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rd_kafka_conf_get(conf, "enable.auto.commit", manual, &len);
	rk = handle_new(RD_KAFKA_CONSUMER, conf);
	if (!rk)
		return 1;
	rd_kafka_poll_set_consumer(rk);
	sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, argv[1], RD_KAFKA_PARTITION_UA);
	if (rd_kafka_subscribe(rk, sub))
		rc = fail("subscribe %s", argv[1]);
	rd_kafka_topic_partition_list_destroy(sub);
	slash = strrchr(argv[3], '/');
	snprintf(stall, sizeof(stall), "%.*s%s.stall", slash ? (int)(slash - argv[3] + 1) : 0,
		 argv[3], argv[2]);
	while (!rc && access(argv[3], F_OK) != 0) {
		rd_kafka_message_t *m;

		if (access(stall, F_OK) == 0) {
			if (!stalled)
				printf("%s stalled\n", argv[2]);
			fflush(stdout);
			stalled = true;
			usleep(100000);
			continue;
		}
		if (stalled)
			printf("%s resumed\n", argv[2]);
		stalled = false;
		m = rd_kafka_consumer_poll(rk, 100);

		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
			char why[256];

			rd_kafka_fatal_error(rk, why, sizeof(why));
			printf("%s fatal: %s\n", argv[2], why);
			rc = 1;
		} else if (m->err) {
			fprintf(stderr, "%s: %s\n", argv[2], rd_kafka_message_errstr(m));
		} else {
			char key[FIELD_MAX];

			text(key, m->key, m->key_len);
			printf("%s %d %" PRId64 " %s\n", argv[2], (int)m->partition, m->offset,
			       key);
			fflush(stdout);
			n++;
			if (!strcmp(manual, "false")) {
				rd_kafka_resp_err_t e = rd_kafka_commit_message(rk, m, 0);

				if (e)
					fprintf(stderr, "%s: commit %d %" PRId64 ": %s\n", argv[2],
						(int)m->partition, m->offset, rd_kafka_err2str(e));
				else
					fprintf(stderr, "%s committed %d %" PRId64 "\n", argv[2],
						(int)m->partition, m->offset + 1);
			}
		}
		rd_kafka_message_destroy(m);
	}
	consumer_free(rk);
	printf("%s closed %ld\n", argv[2], n);
	return rc;
}

static const struct cmd {
	const char *name;
	int nargs;
	int (*run)(const struct ctx *c, char **argv);
	const char *usage;
} cmds[] = {
	{ "produce", 5, cmd_produce, "TOPIC PARTITION CODEC N TAG" },
	{ "consume", 4, cmd_consume, "TOPIC PARTITION FROM COUNT" },
	{ "verify", 5, cmd_verify, "TOPIC PARTITION CODEC N TAG" },
	{ "watermarks", 2, cmd_watermarks, "TOPIC PARTITION" },
	{ "times", 3, cmd_times, "TOPIC PARTITION MS" },
	{ "stream", 4, cmd_stream, "TOPIC PARTITION TAG STOP_FILE" },
	{ "idem", 4, cmd_idem, "TOPIC PARTITION TAG STOP_FILE" },
	{ "kidem", 6, cmd_kidem, "TOPIC PARTITION CODEC KEYS TAG STOP_FILE" },
	{ "dump", 2, cmd_dump, "TOPIC PARTITION" },
	{ "follow", 3, cmd_follow, "TOPIC PARTITION STOP_FILE" },
	{ "delete-offsets", 3, cmd_delete_offsets, "GROUP TOPIC PARTITION" },
	{ "committed", 3, cmd_committed, "GROUP TOPIC N" },
	{ "commit", 5, cmd_commit, "GROUP TOPIC PARTITION OFFSET METADATA" },
	{ "member", 4, cmd_member, "GROUP TOPIC NAME STOP_FILE" },
};

static int usage(void)
{
	fprintf(stderr, "usage: rdk_check -b BROKERS [-X key=value]... COMMAND ARGS\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(stderr, "  %s %s\n", cmds[i].name, cmds[i].usage);
	return 2;
}

int main(int argc, char **argv)
{
	struct ctx c = { 0 };
	int i = 1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-b"))
			c.brokers = argv[i + 1];
		else if (!strcmp(argv[i], "-X") && c.n_xs < 32)
			c.xs[c.n_xs++] = argv[i + 1];
		else
			return usage();
	}
	if (!c.brokers || i >= argc)
		return usage();
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		if (!strcmp(argv[i], cmds[k].name)) {
			if (argc - i - 1 != cmds[k].nargs)
				return usage();
			return cmds[k].run(&c, argv + i + 1);
		}
	return usage();
}
