/*
 * test_log_dir_failure.c — the writes of a broker's data directory other
 * than a replica's log append that meet a storage failure (repl/broker.c
 * broker_storage_failed, Kafka's LogDirFailureChannel): an fsync through
 * the mount (topic_fsync), a checkpoint file (the scheduler's, and
 * broker_checkpoint, which the cleaner and a moved log start call too),
 * the cleaner's rewrite, the scheduler's flush.ms flush, retention's
 * deletion; a read that meets EIO (a Fetch's on the listener, a read
 * through the mount); and the stop after such a failure (no
 * clean-shutdown marker once the directory is offline), and the producer
 * checkpoints written meanwhile (at a roll, at a clean stop). Each is run over the fault-injecting
 * I/O table (faultio.h) twice:
 *   - a broker of a one-broker cluster over a real ZooKeeper (zksrv.h),
 *     leader of orders-0: the failure takes the log directory offline,
 *     which the produce path's check answers -ENXIO (KAFKA_STORAGE_ERROR:
 *     the write goes to the partition's next leader); from then on the
 *     scheduler, the cleaner and the stop write nothing in the directory
 *     (the table's mutating calls are counted: assert_left_alone), and
 *     the replica is still read;
 *   - a single node: the errno comes back to the caller (logged), and the
 *     broker goes on taking writes, as it has no other replica to hand
 *     them to; after a failed fsync of a log, that log's later fsyncs
 *     fail too and the stop writes no clean-shutdown marker.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/batch.h"
#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/net.h"
#include "repl/proto.h"
#include "repl/repl.h"
#include "tests/unit/faultio.h"
#include "tests/unit/protofx.h"
#include "tests/unit/zksrv.h"
#include "util/clock.h"

#define DEADLINE_MS 30000

static int chroots; /* each cluster broker gets a ZooKeeper of its own */

struct fx {
	char dir[64];
	bool cluster;
	struct faultio fio; /* the broker's I/O table */
	struct broker_config cfg;
	struct broker *b;
	struct topic *t; /* orders, one partition, led here */
};

/* A broker over faultio with the broker settings extra (lines, "" for
 * none), in a cluster of its own or alone, and its topic orders, which
 * it leads. */
static struct fx *fx_open(bool cluster, const char *extra)
{
	struct fx *f = calloc(1, sizeof(*f));
	char text[1024], err[256];
	int64_t end = now_mono_ms() + DEADLINE_MS;
	int rc;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mqfs-test-logdir.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->cluster = cluster;
	faultio_init(&f->fio);
	f->fio.mutations_skip = "/.observers";
	broker_config_defaults(&f->cfg);
	if (cluster)
		snprintf(text, sizeof(text),
			 "broker.id=1\nzookeeper.connect=%s/ldf%d\n"
			 "listeners=PLAINTEXT://127.0.0.1:0\n%s",
			 zksrv_group()->connect, ++chroots, extra);
	else
		snprintf(text, sizeof(text), "%s", extra);
	assert_int_equal(broker_config_parse(&f->cfg, text, strlen(text), err, sizeof(err)), 0);
	snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/data", f->dir);
	f->cfg.io = &f->fio.ops;
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	/* In a cluster the broker elects itself controller first: until then
	 * the topic cannot get a leader. */
	while ((rc = broker_topic_create(f->b, "orders", 0, 0, 0755, &f->t)) != 0 &&
	       now_mono_ms() < end)
		usleep(50 * 1000);
	assert_int_equal(rc, 0);
	while (cluster && !cluster_leads(f->b->cluster, "orders", 0) && now_mono_ms() < end)
		usleep(10 * 1000);
	assert_true(!cluster || cluster_leads(f->b->cluster, "orders", 0));
	return f;
}

/* Also after the test closed the broker itself (f->t and f->b NULL). */
static void fx_close(struct fx *f)
{
	char cmd[128];

	topic_put(f->t);
	broker_close(f->b);
	faultio_free(&f->fio);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
}

static int produce_str(struct topic *t, const char *s)
{
	return topic_produce(t, 0, s, strlen(s), 0);
}

/* Whether the log directory is offline, as the produce path sees it:
 * orders-0's appends are refused -ENXIO. A single node has none. */
static bool dir_offline(struct fx *f)
{
	int32_t epoch;

	return f->cluster &&
	       cluster_append_check(f->b->cluster, "orders", 0, 1, 0, &epoch) == -ENXIO;
}

/* test_<name>_cluster and test_<name>_single, run_<name>(cluster). */
#define BOTH(name)                                      \
	static void test_##name##_cluster(void **state) \
	{                                               \
		(void)state;                            \
		run_##name(true);                       \
	}                                               \
	static void test_##name##_single(void **state)  \
	{                                               \
		(void)state;                            \
		run_##name(false);                      \
	}

static bool wait_offline(struct fx *f)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (!dir_offline(f) && now_mono_ms() < end)
		usleep(10 * 1000);
	return dir_offline(f);
}

/* Mutating calls of the broker's I/O table so far, by any thread: every
 * write of the data directory (faultio.h; not the bytes copied into a
 * mapped tail, but no append is taken once the directory is offline)
 * other than the read copies' (DATA/.observers, fx_open), which are not
 * replicas and go on serving the mount. */
static int dir_writes(struct fx *f)
{
	return __atomic_load_n(&f->fio.mutations, __ATOMIC_ACQUIRE);
}

/* Waits until the loop counting *passes has ended n more passes. The
 * scheduler sleeps to its next deadline (minutes) when no log has work
 * for it: it is woken to its tick, as a log's roll would. */
static void wait_passes(struct broker *b, _Atomic int64_t *passes, int64_t n)
{
	int64_t end = now_mono_ms() + DEADLINE_MS, want = atomic_load(passes) + n;

	while (atomic_load(passes) < want && now_mono_ms() < end) {
		if (passes == &b->sched_passes)
			broker_sched_kick(b);
		usleep(5 * 1000);
	}
	assert_true(atomic_load(passes) >= want);
}

/* From now on every write of the directory fails, as on a disk that is
 * gone: whatever the failure left undone (a flush, a checkpoint, a
 * clean, a deletion) stays to do, and its writer would try again. */
static void disk_dies(struct fx *f)
{
	__atomic_store_n(&f->fio.dead, true, __ATOMIC_RELEASE);
}

/* The scheduler asleep to its next deadline (minutes off: no log has
 * work for it, the checkpoint an hour away) when the directory fails: the
 * failure wakes it, and it says at once that it stopped using the
 * directory, whichever thread met the failure and whether a roll woke it
 * just before or not. */
static void test_scheduler_woken(void **state)
{
	struct fx *f = fx_open(true, "log.flush.offset.checkpoint.interval.ms=3600000\n");
	int64_t end = now_mono_ms() + DEADLINE_MS;

	(void)state;
	assert_int_equal(produce_str(f->t, "a\n"), 0);
	wait_passes(f->b, &f->b->sched_passes, 1);
	while (atomic_load(&f->b->sched_sleep_ms) <= DEADLINE_MS && now_mono_ms() < end)
		usleep(10 * 1000);
	assert_true(atomic_load(&f->b->sched_sleep_ms) > DEADLINE_MS);
	f->fio.fsync_countdown = 1;
	assert_int_equal(topic_fsync(f->t, 0), -EIO);
	assert_true(dir_offline(f));
	end = now_mono_ms() + DEADLINE_MS;
	while (!(atomic_load(&f->b->dir_offline_said) & BROKER_DIR_SCHEDULER) &&
	       now_mono_ms() < end)
		usleep(10 * 1000);
	assert_true(atomic_load(&f->b->dir_offline_said) & BROKER_DIR_SCHEDULER);
	fx_close(f);
}

/* Once the log directory is offline the scheduler (and, with cleaner,
 * the cleaner, whose log.cleaner.backoff.ms the test made short) write
 * nothing there, though the disk left them work (disk_dies). A pass
 * begun before the failure may still have: two passes of each end first
 * (the second began after the call), then three more must leave the
 * count as it was. */
static void assert_left_alone(struct fx *f, bool cleaner)
{
	int before;

	disk_dies(f);
	wait_passes(f->b, &f->b->sched_passes, 2);
	if (cleaner)
		wait_passes(f->b, &f->b->cleaner_passes, 2);
	before = dir_writes(f);
	wait_passes(f->b, &f->b->sched_passes, 3);
	if (cleaner)
		wait_passes(f->b, &f->b->cleaner_passes, 3);
	assert_int_equal(dir_writes(f), before);
}

/* The mount still reads the offline replica: what it held at the
 * failure, from position 0 (before disk_dies: a read may write the
 * .lines entries the appender held back). */
static void assert_reads(struct fx *f, const char *want)
{
	struct topic_reader *rd;
	char buf[4096];
	ssize_t n;

	assert_int_equal(topic_reader_new(f->t, 0, &rd), 0);
	n = topic_reader_read(f->t, 0, rd, 0, buf, sizeof(buf) - 1, NULL, NULL);
	topic_reader_free(rd);
	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

/* After a failure a single node goes on: writes are taken and fsynced. */
static void assert_goes_on(struct fx *f)
{
	assert_false(dir_offline(f));
	assert_int_equal(produce_str(f->t, "k=after\n"), 0); /* keyed: a compact topic */
	assert_int_equal(topic_fsync(f->t, 0), 0);
}

/* After a failed fsync of its log a single node goes on taking writes,
 * but no later sync vouches for the records the failed one left in doubt
 * (the kernel reports a lost writeback once: engine/seg.c, seg_fsync):
 * every fsync of the partition fails so until a restart. */
static void assert_goes_on_unsynced(struct fx *f)
{
	assert_false(dir_offline(f));
	assert_int_equal(produce_str(f->t, "k=after\n"), 0);
	assert_int_equal(topic_fsync(f->t, 0), -EIO);
	assert_int_equal(topic_fsync(f->t, 0), -EIO);
}

/* An fsync through the mount (log_sync) that fails: Kafka's flush meeting
 * an IOException. The caller gets the errno either way (its records are
 * not known durable here). */
static void run_fsync(bool cluster)
{
	struct fx *f = fx_open(cluster, "");

	assert_int_equal(produce_str(f->t, "a\n"), 0);
	assert_false(dir_offline(f));
	f->fio.fsync_countdown = 1;
	assert_int_equal(topic_fsync(f->t, 0), -EIO);
	if (cluster)
		assert_true(dir_offline(f));
	else
		assert_goes_on_unsynced(f);
	fx_close(f);
}

BOTH(fsync)

/* Errors that are not the disk's (a topic deleted meanwhile, memory, a
 * signal, a corrupt batch the cleaner stops at, too many keys) come back
 * as they are and leave the directory online, for a replica's log and
 * for the directory's own files. */
static void test_not_storage_failures(void **state)
{
	static const int errs[] = { -ENOENT, -ENOMEM, -EINTR, -EBADMSG, -ENOBUFS, -EMSGSIZE };
	struct fx *f = fx_open(true, "");

	(void)state;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		assert_int_equal(broker_storage_failed(f->b, "orders", 0, errs[i]), errs[i]);
		assert_int_equal(
			broker_storage_failed(f->b, "replication-offset-checkpoint", -1, errs[i]),
			errs[i]);
	}
	assert_false(dir_offline(f));
	assert_int_equal(produce_str(f->t, "a\n"), 0);
	assert_int_equal(broker_storage_failed(f->b, "orders", 0, -EROFS), -ENXIO);
	assert_true(dir_offline(f));
	fx_close(f);
}

/* A consumer's Fetch v12 of orders-0 from offset 0 on f's listener: the
 * call's result (0: answered, in *raw; else the connection's -errno). */
static int fetch_call(struct fx *f, struct net_resp *raw)
{
	struct protofx_fetch pf;
	struct net_client *c;
	struct kbuf_w w;
	int rc;

	assert_int_equal(net_client_connect("127.0.0.1", cluster_listener_port(f->b->cluster, 0),
					    DEADLINE_MS, &c),
			 0);
	protofx_fetch_init(&pf, "orders", -1, -1, 0, -1, 0);
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_fetch_req_encode(&w, 12, &pf.req), 0);
	rc = net_client_call(c, PROTO_API_FETCH, 12, w.buf, w.len, 0, DEADLINE_MS, raw);
	kbuf_w_free(&w);
	net_client_close(c);
	return rc;
}

/* fetch_call answered: the partition's error code. */
static int16_t fetch_orders(struct fx *f)
{
	struct proto_fetch_resp fr;
	struct net_resp raw;
	int16_t err;

	assert_int_equal(fetch_call(f, &raw), 0);
	assert_int_equal(proto_fetch_resp_decode(&raw.body, 12, &fr), 0);
	assert_int_equal(fr.n_topics, 1);
	assert_int_equal(fr.topics[0].n_partitions, 1);
	err = fr.topics[0].partitions[0].error_code;
	proto_fetch_resp_free(&fr);
	net_resp_free(&raw);
	return err;
}

/* Every read of orders-0's files fails with errno err from now on
 * (0: they read again). */
static void reads_fail(struct fx *f, int err)
{
	f->fio.pread_errno = err;
	f->fio.pread_fail_path = "orders-0";
	__atomic_store_n(&f->fio.pread_fails, err ? INT_MAX : 0, __ATOMIC_RELEASE);
}

/* A broker of records read from the files (reopened: not what the
 * appends left in memory), with a listener on a single node too. */
static struct fx *fx_open_read(bool cluster)
{
	struct fx *f = fx_open(cluster, cluster ? "" : "listeners=PLAINTEXT://127.0.0.1:0\n");
	int64_t end = now_mono_ms() + DEADLINE_MS;

	assert_int_equal(produce_str(f->t, "a\nb\n"), 0);
	topic_put(f->t);
	assert_int_equal(broker_close(f->b), 0);
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	assert_int_equal(broker_topic_get(f->b, "orders", &f->t), 0);
	while (cluster && !cluster_leads(f->b->cluster, "orders", 0) && now_mono_ms() < end)
		usleep(10 * 1000);
	assert_true(!cluster || cluster_leads(f->b->cluster, "orders", 0));
	return f;
}

/* After a read met the disk's EIO (the disk reads again): in a cluster
 * the log directory went offline, and a Fetch is answered
 * KAFKA_STORAGE_ERROR; a single node's next Fetch reads. Closes f. */
static void assert_after_read_error(struct fx *f)
{
	if (f->cluster) {
		assert_true(wait_offline(f));
		assert_int_equal(fetch_orders(f), PROTO_ERR_KAFKA_STORAGE_ERROR);
	} else {
		assert_false(dir_offline(f));
		assert_int_equal(fetch_orders(f), 0);
	}
	fx_close(f);
}

/* A Fetch whose read of the replica's log meets the disk's EIO (Kafka's
 * readFromLocalLog: an IOException goes to the LogDirFailureChannel):
 * answered KAFKA_STORAGE_ERROR either way; in a cluster the log
 * directory goes offline, on a single node nothing else changes and the
 * next Fetch reads once the disk does. */
static void run_fetch_read(bool cluster)
{
	struct fx *f = fx_open_read(cluster);

	reads_fail(f, EIO);
	assert_int_equal(fetch_orders(f), PROTO_ERR_KAFKA_STORAGE_ERROR);
	reads_fail(f, 0);
	assert_after_read_error(f);
}

BOTH(fetch_read)

/* A read through the mount of the replica here that meets EIO: the
 * reader gets EIO, and in a cluster the log directory goes offline as
 * for a Fetch (the replica is still read after, as an offline one is). */
static void run_mount_read(bool cluster)
{
	struct fx *f = fx_open_read(cluster);
	struct topic_reader *rd;
	char buf[64];

	assert_int_equal(topic_reader_new(f->t, 0, &rd), 0);
	reads_fail(f, EIO);
	assert_int_equal(topic_reader_read(f->t, 0, rd, 0, buf, sizeof(buf), NULL, NULL), -EIO);
	reads_fail(f, 0);
	topic_reader_free(rd);
	assert_true(cluster ? wait_offline(f) : !dir_offline(f));
	assert_reads(f, "a\nb\n");
	fx_close(f);
}

BOTH(mount_read)

/* A Fetch answer whose records' sendfile fails: with the disk's EIO (a
 * read of the segment), the connection is closed with a line naming the
 * errno, and in a cluster the log directory goes offline as for a read
 * of the answer's making; with the socket's error (EPIPE) it is only
 * closed, logged (INFO). A single node stays as it was: the next Fetch
 * reads. */
static void run_fetch_send(bool cluster)
{
	struct fx *f = fx_open_read(cluster);
	char path[] = "/tmp/mqfs-test-sendfile-log.XXXXXX", text[8192] = "";
	struct net_resp raw;
	int fd = mkstemp(path), err = dup(2);

	assert_true(fd >= 0 && err >= 0);
	f->fio.sendfile_errno = EPIPE;
	__atomic_store_n(&f->fio.sendfile_fails, 1, __ATOMIC_RELEASE);
	assert_int_not_equal(fetch_call(f, &raw), 0);
	assert_false(dir_offline(f));

	f->fio.sendfile_errno = EIO;
	__atomic_store_n(&f->fio.sendfile_fails, 1, __ATOMIC_RELEASE);
	dup2(fd, 2);
	int rc = fetch_call(f, &raw);
	dup2(err, 2);
	close(err);
	assert_int_not_equal(rc, 0);
	assert_true(pread(fd, text, sizeof(text) - 1, 0) >= 0);
	close(fd);
	unlink(path);
	assert_non_null(strstr(text, "sending a file piece of a response: Input/output error"));
	assert_after_read_error(f);
}

BOTH(fetch_send)

/* A read's error that is not the disk's (ENOMEM, EINTR, ...) leaves the
 * directory online: the Fetch is answered its error. */
static void test_fetch_read_not_storage(void **state)
{
	struct fx *f = fx_open_read(true);

	(void)state;
	reads_fail(f, ENOMEM);
	assert_int_not_equal(fetch_orders(f), 0);
	reads_fail(f, 0);
	assert_false(dir_offline(f));
	assert_int_equal(fetch_orders(f), 0);
	fx_close(f);
}

/* The high watermarks' checkpoint cannot be written (its temporary file
 * cannot be made: EIO). In the cluster the scheduler's periodic write
 * meets it; broker_checkpoint, which every checkpoint goes through,
 * answers -ENXIO there and the errno on a single node. */
static void run_checkpoint(bool cluster)
{
	struct fx *f = fx_open(cluster, "log.flush.offset.checkpoint.interval.ms=20\n"
					"log.flush.scheduler.interval.ms=10\n");

	/* A new hw: the file's text changes, so it is written. */
	assert_int_equal(produce_str(f->t, "a\n"), 0);
	f->fio.fail_path = "replication-offset-checkpoint";
	if (cluster) {
		int before;

		assert_true(wait_offline(f));
		assert_reads(f, "a\n");
		/* The file not written stays due: every 20 ms but for the
		 * offline directory. */
		assert_left_alone(f, false);
		before = dir_writes(f);
		assert_int_equal(broker_checkpoint(f->b, "test"), -ENXIO);
		assert_int_equal(dir_writes(f), before);
	} else {
		assert_int_equal(broker_checkpoint(f->b, "test"), -EIO);
		f->fio.fail_path = NULL;
		assert_int_equal(broker_checkpoint(f->b, "test"), 0);
		assert_goes_on(f);
	}
	f->fio.fail_path = NULL;
	fx_close(f);
}

BOTH(checkpoint)

/* The cleaner cannot make its rewritten segment (.cleaned: EIO): Kafka's
 * cleaner meeting an IOException. Records younger than a second are not
 * cleaned, so the writes all land before the first clean. */
static void run_clean(bool cluster)
{
	static const char extra[] =
		"log.cleanup.policy=compact\nlog.segment.bytes=1024\n"
		"log.cleaner.min.cleanable.ratio=0.01\nkey.separator==\n"
		"log.cleaner.min.compaction.lag.ms=1000\n"
		"log.cleaner.backoff.ms=10\nlog.flush.scheduler.interval.ms=10\n";
	struct fx *f = fx_open(cluster, extra);
	int64_t end = now_mono_ms() + DEADLINE_MS;
	char line[64];

	f->fio.fail_path = ".cleaned";
	for (int i = 0; i < 100 && !dir_offline(f); i++) {
		snprintf(line, sizeof(line), "k%d=value-%d-xxxxxxxxxxxxxxxx\n", i % 10, i);
		assert_int_equal(produce_str(f->t, line), 0);
	}
	if (cluster) {
		/* The dirty segments stay dirty: the cleaner would try again
		 * (and its checkpoint first) every 10 ms. */
		assert_true(wait_offline(f));
		assert_left_alone(f, true);
	} else {
		while (atomic_load(&f->b->cleaner_errors) == 0 && now_mono_ms() < end)
			usleep(10 * 1000);
		assert_true(atomic_load(&f->b->cleaner_errors) > 0);
		assert_goes_on(f);
	}
	f->fio.fail_path = NULL;
	fx_close(f);
}

BOTH(clean)

/* Waits until a single node's background work met the fault armed
 * (*left back to 0), then checks that it went on (synced: whether its
 * fsyncs still succeed, which they do not after a failed one). */
static void assert_met_and_goes_on(struct fx *f, const int *left, bool synced)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (__atomic_load_n(left, __ATOMIC_ACQUIRE) > 0 && now_mono_ms() < end)
		usleep(10 * 1000);
	assert_int_equal(__atomic_load_n(left, __ATOMIC_ACQUIRE), 0);
	if (synced)
		assert_goes_on(f);
	else
		assert_goes_on_unsynced(f);
}

/* flush.ms 0: the scheduler flushes the records of each tick, and its
 * fsync fails (Kafka's flush meeting an IOException). */
static void run_flush_ms(bool cluster)
{
	struct fx *f = fx_open(cluster, "log.flush.interval.ms=0\n");

	f->fio.fsync_countdown = 1;
	assert_int_equal(produce_str(f->t, "a\n"), 0);
	if (cluster)
		assert_true(wait_offline(f));
	else
		assert_met_and_goes_on(f, &f->fio.fsync_countdown, false);
	fx_close(f);
}

BOTH(flush_ms)

/* A single node's failed flush stays failed until a restart (seg.c), so
 * the scheduler's flush of every tick meets the same error again: it is
 * logged once, not once a tick. The log goes to a file in place of
 * stderr; the ticks (10 ms) after the first line are given half a
 * second, some fifty, to log it again. */
static void test_flush_error_logged_once(void **state)
{
	char logpath[] = "/tmp/mqfs-test-flushlog.XXXXXX", logged[8192] = "";
	int lfd = mkstemp(logpath), saved = dup(2), lines = 0;
	int64_t end = now_mono_ms() + DEADLINE_MS;
	const char *at;
	struct fx *f;

	(void)state;
	assert_true(lfd >= 0 && saved >= 0);
	unlink(logpath);
	f = fx_open(false, "log.flush.interval.ms=0\nlog.flush.scheduler.interval.ms=10\n");
	dup2(lfd, 2);
	f->fio.fsync_countdown = 1;
	assert_int_equal(produce_str(f->t, "a\n"), 0);
	while (!strstr(logged, "orders partition 0: flush") && now_mono_ms() < end) {
		usleep(10 * 1000);
		memset(logged, 0, sizeof(logged));
		(void)pread(lfd, logged, sizeof(logged) - 1, 0);
	}
	usleep(500 * 1000);
	memset(logged, 0, sizeof(logged));
	(void)pread(lfd, logged, sizeof(logged) - 1, 0);
	dup2(saved, 2);
	close(saved);
	close(lfd);
	fputs(logged, stderr);
	for (at = logged; (at = strstr(at, "orders partition 0: flush")); at++)
		lines++;
	assert_int_equal(lines, 1);
	fx_close(f);
}

/* 40 records into orders-0, several segments of 1 KiB. */
static void fill_segments(struct fx *f)
{
	char line[64];

	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "value-%d-xxxxxxxxxxxxxxxxxxxxxxxx\n", i);
		assert_int_equal(produce_str(f->t, line), 0);
	}
}

/* Whether DATA/<name> exists, polled with the deadline. */
static bool wait_file(struct fx *f, const char *name)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/data/%s", f->dir, name);
	while (access(path, F_OK) != 0 && now_mono_ms() < end)
		usleep(10 * 1000);
	return access(path, F_OK) == 0;
}

/* Retention's deletion (or the roll of the quiet active segment before
 * it) cannot make its directory durable: the fsync of the directory
 * fails (Kafka's deleteSegments meeting an IOException). Nothing else
 * writes meanwhile: the checkpoints wait a minute. */
static void run_retention(bool cluster)
{
	static const char extra[] = "log.segment.bytes=1024\nlog.retention.ms=1000\n"
				    "log.retention.check.interval.ms=50\n";
	struct fx *f = fx_open(cluster, extra);

	fill_segments(f);
	/* The producer checkpoint of the closed segments written first:
	 * the failure is retention's. */
	assert_true(wait_file(f, "orders-0/producer-checkpoint"));
	f->fio.open_errno = EIO;
	__atomic_store_n(&f->fio.dir_open_fails, 1, __ATOMIC_RELEASE);
	if (cluster)
		assert_true(wait_offline(f));
	else
		assert_met_and_goes_on(f, &f->fio.dir_open_fails, true);
	fx_close(f);
}

BOTH(retention)

/* The producer checkpoint of the closed segments (prodsnap.c) cannot be
 * written (its temporary file's creation fails): in a cluster the log
 * directory goes offline (Kafka's snapshot write meeting an
 * IOException); a single node logs it and goes on. */
static void run_producer_checkpoint(bool cluster)
{
	struct fx *f = fx_open(cluster, "log.segment.bytes=1024\n"
					"log.retention.check.interval.ms=50\n");
	int64_t end = now_mono_ms() + DEADLINE_MS;
	char line[64];
	int rc;

	f->fio.fail_path = "producer-checkpoint";
	/* fill_segments' records, until the failure is met: the scheduler's
	 * tick writes the checkpoint of the first segment rolled behind the
	 * hw while later records still come (on a loaded machine), and in a
	 * cluster the directory is offline from then on, so an append then
	 * is refused (or, taken just before, never acknowledged). */
	for (int i = 0; i < 40 && atomic_load(&f->fio.fail_path_hits) == 0; i++) {
		snprintf(line, sizeof(line), "value-%d-xxxxxxxxxxxxxxxxxxxxxxxx\n", i);
		rc = produce_str(f->t, line);
		if (rc != 0) {
			assert_true(cluster && atomic_load(&f->fio.fail_path_hits) > 0);
			break;
		}
	}
	while (atomic_load(&f->fio.fail_path_hits) == 0 && now_mono_ms() < end)
		usleep(10 * 1000);
	assert_true(atomic_load(&f->fio.fail_path_hits) > 0);
	if (cluster)
		assert_true(wait_offline(f));
	else
		assert_goes_on(f);
	fx_close(f);
}

BOTH(producer_checkpoint)

/* Not a failure: the producer checkpoint of segments just rolled behind
 * the hw is written at the scheduler's next tick, not at the next
 * retention check (an hour away here), so that a new leader's or a
 * restart's producer state load reads the headers of the active segment
 * only (log_producer_checkpoint_rolled). */
static void run_producer_checkpoint_rolled(bool cluster)
{
	struct fx *f = fx_open(cluster, "log.segment.bytes=1024\n"
					"log.retention.check.interval.ms=3600000\n");

	fill_segments(f);
	assert_true(wait_file(f, "orders-0/producer-checkpoint"));
	fx_close(f);
}

BOTH(producer_checkpoint_rolled)

/* A cluster broker (settings extra) whose log directory went offline
 * (another write failed there: broker_storage_failed, as from an append)
 * over a log of 40 records in segments of 1 KiB, which are still read.
 * Then the topic's setting gives the background work there, which it
 * must leave alone (assert_left_alone). The log's state at the setting
 * and after go to *at and *after. */
static void run_offline(const char *extra, const char *setting, struct log_state *at,
			struct log_state *after)
{
	struct fx *f = fx_open(true, extra);
	char line[64], want[4096] = "";

	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "value-%d-xxxxxxxxxxxxxxxxxxxxxxxx\n", i);
		assert_int_equal(produce_str(f->t, line), 0);
		strcat(want, line);
	}
	assert_int_equal(broker_storage_failed(f->b, "orders", 0, -EIO), -ENXIO);
	assert_true(dir_offline(f));
	assert_reads(f, want);
	assert_int_equal(topic_config_write(f->t, setting, strlen(setting)), 0);
	log_get_state(f->t->parts[0]->log, at);
	assert_left_alone(f, false);
	log_get_state(f->t->parts[0]->log, after);
	fx_close(f);
}

/* The flushes have work only after the failure: the topic's flush.ms
 * drops to 0 over records not flushed since their append, which the
 * scheduler would flush at every tick (with the rolled segments not
 * flushed yet). It flushes nothing: the recovery point stays. */
static void test_offline_flush(void **state)
{
	struct log_state at, after;

	(void)state;
	run_offline("log.segment.bytes=1024\nlog.flush.scheduler.interval.ms=10\n", "flush.ms=0\n",
		    &at, &after);
	assert_true(at.log_end_offset > at.recovery_point);
	assert_int_equal(after.recovery_point, at.recovery_point);
}

/* Retention has work only after the failure: the topic's retention.ms
 * drops to 1 ms over segments of records. Retention would roll the
 * quiet active segment and delete every closed one at its next check,
 * every 10 ms; it leaves them alone: the log still starts at 0. */
static void test_offline_retention(void **state)
{
	struct log_state at, after;

	(void)state;
	run_offline("log.segment.bytes=1024\nlog.retention.check.interval.ms=10\n"
		    "log.flush.scheduler.interval.ms=10\n",
		    "retention.ms=1\n", &at, &after);
	assert_int_equal(after.log_start_offset, 0);
}

/* Not a failure: a clean stop writes the producer checkpoint at the log
 * end, past the one the scheduler's tick wrote at the newest segment
 * behind the hw, on a replica of a cluster's partition (at its hw, the
 * log end here: its only replica) as on a single node, with the
 * idempotent producer's batch written last in it, so that the next
 * start's load reads no batch header (engine/prodsnap.c). */
static void run_stop_checkpoint(bool cluster)
{
	struct fx *f = fx_open(cluster, "log.segment.bytes=1024\n"
					"log.retention.check.interval.ms=3600000\n");
	struct rec_in rec = { .key = NULL, .key_len = -1, .value = "idem", .value_len = 4 };
	struct log_config lc = { .segment_bytes = 1 << 30,
				 .batch_bytes = 1024,
				 .max_message_bytes = 1048588 };
	struct batch_producer pr = { 7003, 0, 0 };
	struct produce_batches_result res;
	uint8_t *enc, buf[64 << 10];
	char path[PATH_MAX];
	size_t len, n;
	int64_t end;
	FILE *fp;

	fill_segments(f);
	assert_true(wait_file(f, "orders-0/producer-checkpoint"));
	rec.timestamp = engine_now_ms(); /* not expired at the stop */
	assert_int_equal(log_encode_batches(&lc, &rec, 1, &pr, &enc, &len, NULL), 0);
	assert_int_equal(topic_produce_batches(f->t, 0, enc, len, -1, DEADLINE_MS, &res, NULL), 0);
	free(enc);
	end = log_get_end(f->t->parts[0]->log);
	assert_int_equal(res.base_offset, end - 1);
	topic_put(f->t);
	f->t = NULL;
	assert_int_equal(broker_close(f->b), 0);
	f->b = NULL;
	snprintf(path, sizeof(path), "%s/data/orders-0/producer-checkpoint", f->dir);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	/* version 2: the end at 8, the count at 20, 46-byte entries from 28,
	 * each's producer id at 0 and last offset at 16 */
	assert_true(n >= 28 + 46);
	assert_int_equal((int64_t)be64_get(buf + 8), end);
	assert_int_equal(be32_get(buf + 20), 1);
	assert_int_equal((int64_t)be64_get(buf + 28), 7003);
	assert_int_equal((int64_t)be64_get(buf + 28 + 16), end - 1);
	fx_close(f);
}

BOTH(stop_checkpoint)

/* The end the producer checkpoint of orders-0 names (-1: none). */
static int64_t checkpoint_end(struct fx *f)
{
	char path[PATH_MAX];
	uint8_t buf[16];
	int64_t end = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/data/orders-0/producer-checkpoint", f->dir);
	fp = fopen(path, "rb");
	if (fp && fread(buf, 1, sizeof(buf), fp) == sizeof(buf))
		end = (int64_t)be64_get(buf + 8);
	if (fp)
		fclose(fp);
	return end;
}

/* Not a failure: a clean stop writes the producer checkpoint at the log
 * end also where no idempotent producer wrote since the start (the state
 * never loaded: only the mount wrote), from the tick's checkpoint and the
 * headers after it, so that the next start's first idempotent Produce
 * reads no batch header of the active segment either: after the restart
 * the load succeeds with every read of a .log failing. */
static void run_stop_checkpoint_unloaded(bool cluster)
{
	struct fx *f = fx_open(cluster, "log.segment.bytes=1024\n"
					"log.retention.check.interval.ms=3600000\n");
	struct partition *pt;
	int64_t end, deadline;
	int rc;

	fill_segments(f);
	assert_true(wait_file(f, "orders-0/producer-checkpoint"));
	assert_false(f->t->parts[0]->pstate.loaded);
	end = log_get_end(f->t->parts[0]->log);
	assert_true(checkpoint_end(f) < end); /* the tick's, at a segment base */
	topic_put(f->t);
	f->t = NULL;
	assert_int_equal(broker_close(f->b), 0);
	f->b = NULL;
	assert_int_equal(checkpoint_end(f), end);
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	deadline = now_mono_ms() + DEADLINE_MS;
	assert_int_equal(broker_topic_get(f->b, "orders", &f->t), 0);
	/* A cluster broker's replica settles first (its leadership, its
	 * listener), as a leader's load comes after it. */
	while (cluster && !cluster_leads(f->b->cluster, "orders", 0) && now_mono_ms() < deadline)
		usleep(10 * 1000);
	assert_true(!cluster || cluster_leads(f->b->cluster, "orders", 0));
	pt = f->t->parts[0];
	f->fio.pread_errno = EIO;
	f->fio.pread_fail_path = ".log";
	__atomic_store_n(&f->fio.pread_fails, INT_MAX, __ATOMIC_RELEASE);
	pthread_mutex_lock(&pt->pstate.mu);
	rc = producer_state_load(&pt->pstate, pt->log, -1, engine_now_ms(), 86400000);
	pthread_mutex_unlock(&pt->pstate.mu);
	__atomic_store_n(&f->fio.pread_fails, 0, __ATOMIC_RELEASE);
	assert_int_equal(rc, 0);
	fx_close(f);
}

BOTH(stop_checkpoint_unloaded)

/* A stop after an fsync failed once: a cluster broker, whose log
 * directory went offline, writes nothing more there (no flush, no
 * checkpoint, no clean-shutdown marker, no cut of the active segment's
 * reserved blocks), and the next start (a log manager opened over the
 * directory, as broker_open does) recovers the logs, as Kafka recovers a
 * failed log directory's; a single node, whose directory stayed online,
 * flushes at its stop but writes no clean-shutdown marker either: the
 * failed fsync's records are in doubt, whatever a later fsync answers. */
static void run_stop(bool cluster)
{
	struct fx *f = fx_open(cluster, "log.flush.scheduler.interval.ms=10\n");
	char data[sizeof(f->dir) + 8];
	struct logmgr *m;
	int before;

	assert_int_equal(produce_str(f->t, "a\n"), 0);
	f->fio.fsync_countdown = 1;
	assert_int_equal(topic_fsync(f->t, 0), -EIO);
	assert_int_equal(dir_offline(f), cluster);
	topic_put(f->t);
	f->t = NULL;
	/* The stop would have the flush left to do. No scheduler pass begun
	 * before the failure is still going. */
	if (cluster)
		disk_dies(f);
	wait_passes(f->b, &f->b->sched_passes, 2);
	before = dir_writes(f);
	assert_int_equal(broker_close(f->b), cluster ? 0 : -EIO);
	f->b = NULL;
	if (cluster)
		assert_int_equal(dir_writes(f), before);
	else
		assert_true(dir_writes(f) > before);
	snprintf(data, sizeof(data), "%s/data", f->dir);
	assert_int_equal(logmgr_open(data, &io_posix, &m), 0);
	assert_false(logmgr_was_clean(m));
	logmgr_abandon(m);
	fx_close(f);
}

BOTH(stop)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsync_cluster),
		cmocka_unit_test(test_fsync_single),
		cmocka_unit_test(test_not_storage_failures),
		cmocka_unit_test(test_fetch_read_cluster),
		cmocka_unit_test(test_fetch_read_single),
		cmocka_unit_test(test_mount_read_cluster),
		cmocka_unit_test(test_mount_read_single),
		cmocka_unit_test(test_fetch_read_not_storage),
		cmocka_unit_test(test_fetch_send_cluster),
		cmocka_unit_test(test_fetch_send_single),
		cmocka_unit_test(test_checkpoint_cluster),
		cmocka_unit_test(test_checkpoint_single),
		cmocka_unit_test(test_clean_cluster),
		cmocka_unit_test(test_clean_single),
		cmocka_unit_test(test_flush_ms_cluster),
		cmocka_unit_test(test_flush_ms_single),
		cmocka_unit_test(test_flush_error_logged_once),
		cmocka_unit_test(test_retention_cluster),
		cmocka_unit_test(test_retention_single),
		cmocka_unit_test(test_producer_checkpoint_cluster),
		cmocka_unit_test(test_producer_checkpoint_single),
		cmocka_unit_test(test_producer_checkpoint_rolled_cluster),
		cmocka_unit_test(test_producer_checkpoint_rolled_single),
		cmocka_unit_test(test_scheduler_woken),
		cmocka_unit_test(test_offline_flush),
		cmocka_unit_test(test_offline_retention),
		cmocka_unit_test(test_stop_cluster),
		cmocka_unit_test(test_stop_single),
		cmocka_unit_test(test_stop_checkpoint_cluster),
		cmocka_unit_test(test_stop_checkpoint_single),
		cmocka_unit_test(test_stop_checkpoint_unloaded_cluster),
		cmocka_unit_test(test_stop_checkpoint_unloaded_single),
	};
	return cmocka_run_group_tests(tests, zksrv_group_setup, zksrv_group_teardown);
}
