/*
 * rdk_perf.c — a small librdkafka load client for contrib/bench/clients.sh
 * (Debian packages no rdkafka_performance): 100-byte records, batching as
 * librdkafka's defaults (linger.ms, batch.size, batch.num.messages untouched).
 *
 *   rdk_perf -b BROKER [-X key=value]... produce TOPIC N ACKS
 *       N records to partition 0 as fast as the queue takes them, then
 *       waits for every delivery report. Prints "records N seconds S cpu
 *       C" (first produce call to the last report; C: the CPU seconds,
 *       user and system, all of the client's threads spent in that time,
 *       so that a benchmark can tell the client's share of the cores).
 *       Any failed delivery: exit 1.
 *   rdk_perf -b BROKER [-X key=value]... consume TOPIC N
 *       Assigns partition 0 at offset 0 and reads N records. Prints
 *       "records N seconds S" (assign to the Nth record).
 *   rdk_perf -b BROKER [-X key=value]... latency TOPIC N
 *       N records one at a time, each delivered (acks=all) before the
 *       next, each value its send time: CLOCK_MONOTONIC ns in 20 digits, a
 *       space and padding, so that a reader of the mount (latency.py
 *       rdkafka) timestamps its arrival. Every 1000 records a 1 ms pause,
 *       as latency.py's own producer.
 *
 * A value is 99 bytes, so that its line in the mount's line view is 100
 * bytes, the records the mount benchmarks write.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define VALUE_LEN  99
#define TIMEOUT_MS 120000

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The CPU time, user and system, of all of the process's threads so far. */
static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static int failed;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err && failed++ == 0)
		fprintf(stderr, "rdk_perf: delivery failed: %s\n", rd_kafka_err2str(m->err));
}

static rd_kafka_conf_t *conf_new(const char *brokers, char **xs, int n_xs)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[256];

	if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)))
		goto bad;
	for (int i = 0; i < n_xs; i++) {
		char *eq = strchr(xs[i], '=');

		if (!eq) {
			snprintf(err, sizeof(err), "-X %s: not key=value", xs[i]);
			goto bad;
		}
		*eq = 0;
		if (rd_kafka_conf_set(conf, xs[i], eq + 1, err, sizeof(err)))
			goto bad;
	}
	return conf;
bad:
	fprintf(stderr, "rdk_perf: %s\n", err);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

static rd_kafka_t *handle(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
	char err[256];
	rd_kafka_t *rk;

	if (!conf)
		return NULL;
	rk = rd_kafka_new(type, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "rdk_perf: %s\n", err);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* Queues one record, waiting for room when the queue is full. */
static int send_record(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const char *value)
{
	while (rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, (void *)value, VALUE_LEN, NULL, 0,
				NULL) == -1) {
		if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			fprintf(stderr, "rdk_perf: produce: %s\n",
				rd_kafka_err2str(rd_kafka_last_error()));
			return -1;
		}
		rd_kafka_poll(rk, 1);
	}
	return 0;
}

static int produce(rd_kafka_conf_t *conf, const char *topic, long n, const char *acks,
		   bool one_by_one)
{
	char err[256], value[VALUE_LEN + 1];
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	int64_t t0;
	double cpu0;
	int rc = 1;

	if (!conf)
		return 1;
	if (rd_kafka_conf_set(conf, "acks", acks, err, sizeof(err))) {
		fprintf(stderr, "rdk_perf: acks=%s: %s\n", acks, err);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rk = handle(RD_KAFKA_PRODUCER, conf);
	if (!rk)
		return 1;
	rkt = rd_kafka_topic_new(rk, topic, NULL);
	memset(value, 'x', VALUE_LEN);
	value[VALUE_LEN] = 0;
	t0 = mono_ns();
	cpu0 = cpu_seconds();
	for (long i = 0; i < n; i++) {
		char head[32];
		int k = one_by_one ? snprintf(head, sizeof(head), "%020" PRId64 " ", mono_ns())
				   : snprintf(head, sizeof(head), "%010ld ", i);

		memcpy(value, head, (size_t)k); /* the rest stays padding */
		if (send_record(rk, rkt, value))
			goto out;
		if (one_by_one) {
			if (rd_kafka_flush(rk, TIMEOUT_MS))
				goto out;
			if (i % 1000 == 999) {
				struct timespec ms = { 0, 1000000 };
				nanosleep(&ms, NULL);
			}
		} else {
			rd_kafka_poll(rk, 0);
		}
	}
	if (rd_kafka_flush(rk, TIMEOUT_MS)) {
		fprintf(stderr, "rdk_perf: %d records not delivered\n", rd_kafka_outq_len(rk));
		goto out;
	}
	if (!failed) {
		if (!one_by_one)
			printf("records %ld seconds %.6f cpu %.6f\n", n,
			       (double)(mono_ns() - t0) / 1e9, cpu_seconds() - cpu0);
		rc = 0;
	}
out:
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return rc;
}

static int consume(rd_kafka_conf_t *conf, const char *topic, long n)
{
	char err[256];
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *l;
	int64_t t0, deadline;
	long got = 0;
	int rc = 1;

	if (!conf)
		return 1;
	/* rd_kafka_assign needs a group id; nothing is committed. */
	if (rd_kafka_conf_set(conf, "group.id", "rdk_perf", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err))) {
		fprintf(stderr, "rdk_perf: %s\n", err);
		rd_kafka_conf_destroy(conf);
		return 1;
	}
	rk = handle(RD_KAFKA_CONSUMER, conf);
	if (!rk)
		return 1;
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = 0;
	t0 = mono_ns();
	deadline = t0 + (int64_t)TIMEOUT_MS * 1000000;
	if (rd_kafka_assign(rk, l)) {
		fprintf(stderr, "rdk_perf: assign failed\n");
		goto out;
	}
	while (got < n && mono_ns() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

		if (!m)
			continue;
		if (m->err) {
			fprintf(stderr, "rdk_perf: consume: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			goto out;
		}
		got++;
		rd_kafka_message_destroy(m);
	}
	if (got == n) {
		printf("records %ld seconds %.6f\n", n, (double)(mono_ns() - t0) / 1e9);
		rc = 0;
	} else {
		fprintf(stderr, "rdk_perf: %ld of %ld records\n", got, n);
	}
out:
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return rc;
}

int main(int argc, char **argv)
{
	const char *brokers = NULL;
	char *xs[32];
	int n_xs = 0, i = 1;

	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "-b"))
			brokers = argv[i + 1];
		else if (!strcmp(argv[i], "-X") && n_xs < 32)
			xs[n_xs++] = argv[i + 1];
		else
			break;
	}
	if (brokers && argc - i == 4 && !strcmp(argv[i], "produce"))
		return produce(conf_new(brokers, xs, n_xs), argv[i + 1], atol(argv[i + 2]),
			       argv[i + 3], false);
	if (brokers && argc - i == 3 && !strcmp(argv[i], "consume"))
		return consume(conf_new(brokers, xs, n_xs), argv[i + 1], atol(argv[i + 2]));
	if (brokers && argc - i == 3 && !strcmp(argv[i], "latency"))
		return produce(conf_new(brokers, xs, n_xs), argv[i + 1], atol(argv[i + 2]), "all",
			       true);
	fprintf(stderr, "usage: rdk_perf -b BROKER [-X key=value]... produce TOPIC N ACKS\n"
			"       rdk_perf -b BROKER [-X key=value]... consume TOPIC N\n"
			"       rdk_perf -b BROKER [-X key=value]... latency TOPIC N\n");
	return 2;
}
