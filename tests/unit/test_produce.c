/*
 * test_produce.c — the produce path (repl/produce.c) on a real data
 * directory through the fault-injecting I/O table: Kafka's murmur2 against
 * the vectors of Kafka's own UtilsTest, the .produce partitioner (keyed and
 * round-robin), batch building from large and small writes, group commit
 * of concurrent writers (linger.ms), buffer.memory (EAGAIN / blocking),
 * acks=0 with a tracker, fsync reaching the disk (counted fsyncs), ENOSPC
 * with nothing half-written, EMSGSIZE, a deleted topic; no topic lock
 * held across a linger wait (.config, chmod, stat, rmdir meanwhile); the
 * acknowledgement step waiting for the high watermark.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "repl/repl.h"
#include "repl/broker_int.h"
#include "tests/unit/faultio.h"
#include "util/clock.h"

struct fx {
	char dir[64];
	struct faultio fio;
	struct broker_config cfg;
	struct broker *b;
	struct topic *t;
};

static int setup_with(void **state, int64_t buffer_memory)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mqfs-test-produce.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	faultio_init(&f->fio);
	broker_config_defaults(&f->cfg);
	snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/data", f->dir);
	f->cfg.io = &f->fio.ops;
	f->cfg.buffer_memory = buffer_memory;
	if (broker_open(&f->cfg, &f->b) != 0)
		return -1;
	if (broker_topic_create(f->b, "t", 0, 0, 0755, &f->t) != 0)
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, 33554432);
}

static int setup_small_buffer(void **state)
{
	return setup_with(state, 1024);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	topic_put(f->t);
	broker_close(f->b);
	faultio_free(&f->fio);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void config(struct fx *f, const char *kv)
{
	assert_int_equal(topic_config_write(f->t, kv, strlen(kv)), 0);
}

static struct partition *part(struct fx *f, int p)
{
	return f->t->parts[p];
}

static int64_t leo(struct fx *f, int p)
{
	struct log_state st;

	assert_int_equal(topic_log_state(f->t, p, &st), 0);
	return st.log_end_offset;
}

static char *read_all(struct topic *t, int p)
{
	struct log_cursor *c;
	size_t cap = 1 << 20, n = 0;
	char *buf = malloc(cap + 1);
	ssize_t r;

	assert_int_equal(topic_cursor_new(t, p, &c), 0);
	while ((r = topic_read_lines(t, p, c, (int64_t)n, buf + n, cap - n, NULL)) > 0)
		n += (size_t)r;
	assert_true(r == 0);
	topic_cursor_free(t, p, c);
	buf[n] = '\0';
	return buf;
}

/* ---- murmur2 and the partitioner ---- */

static void test_murmur2_kafka_vectors(void **state)
{
	/* org.apache.kafka.common.utils.UtilsTest.testMurmur2 */
	static const struct {
		const char *s;
		int32_t h;
	} v[] = {
		{ "21", -973932308 },
		{ "foobar", -790332482 },
		{ "a-little-bit-long-string", -985981536 },
		{ "a-little-bit-longer-string", -1486304829 },
		{ "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971 },
		{ "abc", 479470107 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal((int32_t)broker_murmur2(v[i].s, strlen(v[i].s)), v[i].h);
}

static void test_partitioner_keyed(void **state)
{
	struct fx *f = *state;
	static const char *keys[] = { "21", "foobar", "abc", "a-little-bit-long-string" };
	char line[64];

	config(f, "partitions=4\nkey.separator=:\n");
	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < 4; i++) {
			snprintf(line, sizeof(line), "%s:v%d\n", keys[i], round);
			assert_int_equal(topic_produce(f->t, -1, line, strlen(line), 0), 0);
		}
	}
	/* Each key where Kafka's producer puts it, every time. */
	for (size_t i = 0; i < 4; i++) {
		int p = (int)((broker_murmur2(keys[i], strlen(keys[i])) & 0x7fffffff) % 4);
		char *all = read_all(f->t, p), want[64];

		for (int round = 0; round < 3; round++) {
			snprintf(want, sizeof(want), "%s:v%d\n", keys[i], round);
			assert_non_null(strstr(all, want));
		}
		free(all);
	}
}

static void test_partitioner_round_robin(void **state)
{
	struct fx *f = *state;
	char buf[4000];
	size_t n = 0;
	int64_t total = 0, lo = INT64_MAX, hi = 0;

	config(f, "partitions=4\n");
	for (int i = 0; i < 400; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%d\n", i % 10);
	assert_int_equal(topic_produce(f->t, -1, buf, n, 0), 0);
	for (int i = 0; i < 7; i++) /* and one record per write */
		assert_int_equal(topic_produce(f->t, -1, "x\n", 2, 0), 0);
	for (int p = 0; p < 4; p++) {
		int64_t c = leo(f, p);

		total += c;
		lo = c < lo ? c : lo;
		hi = c > hi ? c : hi;
	}
	assert_int_equal(total, 407);
	assert_true(hi - lo <= 1); /* one record at a time, in turn */
}

/* ---- batching ---- */

static void test_batches_large_write(void **state)
{
	struct fx *f = *state;
	size_t len = 1000 * 100;
	char *buf = malloc(len);

	for (int i = 0; i < 1000; i++) {
		memset(buf + i * 100, 'a' + i % 26, 99);
		buf[i * 100 + 99] = '\n';
	}
	assert_int_equal(topic_produce(f->t, 0, buf, len, 0), 0);
	assert_int_equal(leo(f, 0), 1000);
	/* batch.size 16384: about 100000 / 16384 batches, never one per record */
	assert_true(atomic_load(&part(f, 0)->batches_in) >= 6);
	assert_true(atomic_load(&part(f, 0)->batches_in) <= 8);
	free(buf);
}

struct writer {
	struct fx *f;
	pthread_barrier_t *bar;
	int id, nwrites, flags;
	int rc;
	int64_t ms;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char line[64];
	int64_t t0;

	if (w->bar)
		pthread_barrier_wait(w->bar);
	t0 = now_mono_ms();
	for (int i = 0; i < w->nwrites && w->rc == 0; i++) {
		int n = snprintf(line, sizeof(line), "w%d-%06d\n", w->id, i);

		w->rc = topic_produce(w->f->t, 0, line, (size_t)n, w->flags);
	}
	w->ms = now_mono_ms() - t0;
	return NULL;
}

/* Concurrent writers with linger.ms share one batch; each write returns
 * only when its own record is appended. */
static void test_group_commit_linger(void **state)
{
	struct fx *f = *state;
	pthread_barrier_t bar;
	pthread_t th[4];
	struct writer w[4];

	config(f, "linger.ms=300\n");
	pthread_barrier_init(&bar, NULL, 4);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct writer){ .f = f, .bar = &bar, .id = i, .nwrites = 1 };
		pthread_create(&th[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].rc, 0);
	}
	pthread_barrier_destroy(&bar);
	assert_int_equal(leo(f, 0), 4);
	assert_int_equal(atomic_load(&part(f, 0)->batches_in), 1);
}

/* Many writers, no linger: every record exactly once, each writer's in
 * order. */
static void test_group_commit_many(void **state)
{
	struct fx *f = *state;
	pthread_t th[8];
	struct writer w[8];
	char *all, *p, want[32];
	int next[8] = { 0 };

	for (int i = 0; i < 8; i++) {
		w[i] = (struct writer){ .f = f, .id = i, .nwrites = 2000 };
		pthread_create(&th[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].rc, 0);
	}
	assert_int_equal(leo(f, 0), 16000);
	all = read_all(f->t, 0);
	for (p = all; *p; p = strchr(p, '\n') + 1) {
		int id = p[1] - '0';

		snprintf(want, sizeof(want), "w%d-%06d\n", id, next[id]);
		assert_memory_equal(p, want, strlen(want));
		next[id]++;
	}
	for (int i = 0; i < 8; i++)
		assert_int_equal(next[i], 2000);
	free(all);
}

/* ---- buffer.memory (1024 bytes in this fixture) ---- */

static void *big_writer(void *arg)
{
	struct writer *w = arg;
	char buf[800];

	memset(buf, 'b', sizeof(buf));
	buf[sizeof(buf) - 1] = '\n';
	w->rc = topic_produce(w->f->t, 0, buf, sizeof(buf), 0);
	return NULL;
}

static void test_buffer_memory(void **state)
{
	struct fx *f = *state;
	struct writer w = { .f = f };
	pthread_t th;
	char buf[800];
	int64_t t0;

	memset(buf, 'c', sizeof(buf));
	buf[sizeof(buf) - 1] = '\n';
	/* The first writer lingers 400 ms holding 800 of the 1024 bytes. */
	config(f, "linger.ms=400\n");
	pthread_create(&th, NULL, big_writer, &w);
	usleep(100 * 1000);
	t0 = now_mono_ms();
	assert_int_equal(topic_produce(f->t, 0, buf, sizeof(buf), PRODUCE_NONBLOCK), -EAGAIN);
	assert_true(now_mono_ms() - t0 < 100); /* at once, not after the linger */
	assert_int_equal(atomic_load(&f->b->pm.buffer_full), 1);
	/* Blocking: waits for the first append, then goes through. */
	assert_int_equal(topic_produce(f->t, 0, buf, sizeof(buf), 0), 0);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 0);
	assert_int_equal(leo(f, 0), 2);
	assert_int_equal(atomic_load(&f->b->buf_used), 0);
	/* A write bigger than the whole buffer passes when it is empty. */
	config(f, "linger.ms=0\n");
	{
		char big[3000];

		memset(big, 'd', sizeof(big));
		big[sizeof(big) - 1] = '\n';
		assert_int_equal(topic_produce(f->t, 0, big, sizeof(big), PRODUCE_NONBLOCK), 0);
	}
}

/* ---- acks ---- */

/* One line into partition 0 through an open file's tracker. */
static int produce_tracked(struct topic *t, const char *line, struct produce_tracker *tr)
{
	const struct produce_input in = { .lines = line, .len = strlen(line) };

	return topic_produce_file(t, 0, &in, 0, tr);
}

static void test_acks0_tracker(void **state)
{
	struct fx *f = *state;
	struct produce_tracker tr;
	struct writer w = { .f = f };
	pthread_t th;
	int64_t t0;

	produce_tracker_init(&tr);
	/* Alone, acks=0 appends at once (nobody else would). */
	config(f, "acks=0\n");
	assert_int_equal(produce_tracked(f->t, "a\n", &tr), 0);
	assert_int_equal(leo(f, 0), 1);
	assert_int_equal(tr.end, 1); /* what the file's fsync will ask for */
	/* Behind a lingering appender it returns before its append. */
	config(f, "linger.ms=300\n");
	pthread_create(&th, NULL, big_writer, &w);
	usleep(50 * 1000);
	t0 = now_mono_ms();
	assert_int_equal(produce_tracked(f->t, "q\n", &tr), 0);
	assert_true(now_mono_ms() - t0 < 150);
	assert_int_equal(leo(f, 0), 1); /* not yet appended */
	assert_int_equal(tr.end, -1);   /* its offset not known: fsync takes all */
	assert_int_equal(atomic_load(&f->b->pm.acks0_queued), 1);
	assert_int_equal(produce_tracker_wait(&tr), 0); /* what fsync/close do */
	assert_int_equal(leo(f, 0), 3);
	pthread_join(th, NULL);
	assert_int_equal(w.rc, 0);
	/* Appended before it returns: the offset after its last record,
	 * although other writers' records may follow it by now. */
	config(f, "acks=1\nlinger.ms=0\n");
	assert_int_equal(produce_tracked(f->t, "b\nc\n", &tr), 0);
	assert_int_equal(tr.end, 5);
	assert_int_equal(topic_produce(f->t, 0, "d\n", 2, 0), 0);
	assert_int_equal(tr.end, 5);
	assert_int_equal(produce_tracked(f->t, "", &tr), 0); /* nothing: not known */
	assert_int_equal(tr.end, -1);
	produce_tracker_destroy(&tr);
}

/* ---- durability and errors ---- */

static void test_fsync_reaches_disk(void **state)
{
	struct fx *f = *state;
	int before;

	assert_int_equal(topic_produce(f->t, 0, "x\ny\n", 4, 0), 0);
	before = f->fio.fsyncs;
	assert_int_equal(topic_fsync(f->t, 0), 0);
	assert_int_equal(f->fio.fsyncs - before, 1); /* the .log alone */
	{
		struct log_state st;

		assert_int_equal(topic_log_state(f->t, 0, &st), 0);
		assert_int_equal(st.synced_offset, 2);
	}
	/* flush.messages=1: each write is synced before it returns. */
	config(f, "flush.messages=1\n");
	before = f->fio.fsyncs;
	assert_int_equal(topic_produce(f->t, 0, "z\n", 2, 0), 0);
	assert_int_equal(f->fio.fsyncs - before, 1); /* the .log alone too */
	/* A failed fsync is fsync's error. */
	f->fio.fsync_countdown = 1;
	assert_int_equal(topic_produce(f->t, 0, "w\n", 2, 0), -EIO);
	config(f, "flush.messages=9223372036854775807\n");
	assert_int_equal(topic_produce(f->t, 0, "v\n", 2, 0), 0);
	/* A failed fsync() is EIO, and one line in the log says where. */
	char path[] = "/tmp/mqfs-test-produce-log.XXXXXX", text[4096] = "";
	int fd = mkstemp(path), err = dup(2);
	assert_true(fd >= 0 && err >= 0);
	dup2(fd, 2);
	f->fio.fsync_countdown = 1;
	assert_int_equal(topic_fsync(f->t, 0), -EIO);
	dup2(err, 2);
	close(err);
	assert_true(pread(fd, text, sizeof(text) - 1, 0) > 0);
	close(fd);
	unlink(path);
	assert_non_null(strstr(text, "topic t partition 0: fsync: Input/output error"));
}

/* flush.messages=1 and a failed fsync: the write fails, and its records
 * are not committed later either (a writer that retries would repeat
 * them); the next write goes on from where the log was. */
static void test_failed_flush_takes_back(void **state)
{
	struct fx *f = *state;
	char *all;

	config(f, "flush.messages=1\n");
	assert_int_equal(topic_produce(f->t, 0, "a\nb\n", 4, 0), 0);
	f->fio.fsync_countdown = 1;
	assert_int_equal(topic_produce(f->t, 0, "lost1\nlost2\n", 12, 0), -EIO);
	assert_int_equal(leo(f, 0), 2);
	assert_int_equal(topic_produce(f->t, 0, "c\n", 2, 0), 0);
	all = read_all(f->t, 0);
	assert_string_equal(all, "a\nb\nc\n");
	free(all);
	assert_int_equal(leo(f, 0), 3);
}

static void test_enospc_nothing_half_written(void **state)
{
	struct fx *f = *state;
	char buf[20000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = i % 50 == 49 ? '\n' : 'e';
	assert_int_equal(topic_produce(f->t, 0, "first\n", 6, 0), 0);
	f->fio.pwrite_errno = ENOSPC;
	f->fio.pwrite_countdown = 1;
	assert_int_equal(topic_produce(f->t, 0, buf, sizeof(buf), 0), -ENOSPC);
	assert_int_equal(leo(f, 0), 1);
	{
		char *all = read_all(f->t, 0);

		assert_string_equal(all, "first\n");
		free(all);
	}
	assert_int_equal(topic_produce(f->t, 0, "after\n", 6, 0), 0);
	assert_int_equal(leo(f, 0), 2);
}

static void test_emsgsize_and_deleted(void **state)
{
	struct fx *f = *state;
	size_t len = 6 << 20;
	char *buf = malloc(len);

	/* Two chunks' worth of short lines, one too long at the very end. */
	memset(buf, '\n', len);
	memset(buf + len - 2000000, 'x', 1999999);
	assert_int_equal(topic_produce(f->t, 0, buf, len, 0), -EMSGSIZE);
	assert_int_equal(leo(f, 0), 0);
	free(buf);
	assert_int_equal(broker_topic_delete(f->b, "t"), 0);
	assert_int_equal(topic_produce(f->t, 0, "x\n", 2, 0), -ENOENT);
}

/* A big write (with a line joined from a partial one ahead of it) goes to
 * the engine as lines: same records, batches of batch.size, all or
 * nothing on a line too long or a failed write. */
static void test_big_write_as_lines(void **state)
{
	struct fx *f = *state;
	size_t len = 10000 * 100, big = 2u << 20;
	char *buf = malloc(big), *want = malloc(len + 8);
	struct produce_input in;

	for (int i = 0; i < 10000; i++) {
		char line[128];

		snprintf(line, sizeof(line), "%06d %092d", i, i);
		memcpy(buf + i * 100, line, 99);
		buf[i * 100 + 99] = '\n';
	}
	memcpy(want, "joined\n", 7);
	memcpy(want + 7, buf, len);
	want[len + 7] = 0;
	in = (struct produce_input){ .head = "joined\n", .head_len = 7, .lines = buf, .len = len };
	assert_int_equal(topic_produce_file(f->t, 0, &in, 0, NULL), 0);
	assert_int_equal(leo(f, 0), 10001);
	assert_int_equal(atomic_load(&part(f, 0)->records_in), 10001);
	assert_int_equal(atomic_load(&part(f, 0)->payload_in), 10001 * 99 - 93);
	/* A serial append makes 67 batches of about 151 records; the append
	 * is cut into up to 8 parts, and each part but the last may end in a
	 * short batch. */
	assert_true(atomic_load(&part(f, 0)->batches_in) >= 62);
	assert_true(atomic_load(&part(f, 0)->batches_in) <= 67 + 7);
	/* A line over max.message.bytes at the end of 2 MiB: nothing of it. */
	memset(buf, '\n', big);
	memset(buf + big - 1200000, 'x', 1100000);
	assert_int_equal(topic_produce(f->t, 0, buf, big, 0), -EMSGSIZE);
	assert_int_equal(leo(f, 0), 10001);
	/* A write failing in its third pwrite: nothing of it. */
	memset(buf, 'y', big);
	for (size_t i = 99; i < big; i += 100)
		buf[i] = '\n';
	f->fio.pwrite_errno = ENOSPC;
	f->fio.pwrite_countdown = 3;
	assert_int_equal(topic_produce(f->t, 0, buf, big / 100 * 100, 0), -ENOSPC);
	assert_int_equal(leo(f, 0), 10001);
	{
		char *all = read_all(f->t, 0);

		assert_string_equal(all, want);
		free(all);
	}
	free(buf);
	free(want);
}

/* ---- no topic-wide lock across the append ---- */

/* Polls cond(f) with a deadline (never a sleep of the expected time). */
static bool wait_until(bool (*cond)(struct fx *f), struct fx *f)
{
	for (int64_t dl = now_mono_ms() + 20000; now_mono_ms() < dl; usleep(1000))
		if (cond(f))
			return true;
	return cond(f);
}

static bool lingering(struct fx *f)
{
	struct partition *pt = part(f, 0);
	bool l;

	pthread_mutex_lock(&pt->produce_mu);
	l = pt->lingering;
	pthread_mutex_unlock(&pt->produce_mu);
	return l;
}

struct bg {
	struct fx *f;
	atomic_int done;
	int rc;
};

static void *lingering_writer(void *arg)
{
	struct bg *w = arg;

	w->rc = topic_produce(w->f->t, 0, "parked\n", 7, 0);
	atomic_store(&w->done, 1);
	return NULL;
}

static void *topic_ops(void *arg)
{
	struct bg *o = arg;
	struct topic *t = o->f->t;
	const char *kv = "retention.ms=3600000\npartitions=2\n";
	int rc = topic_config_write(t, kv, strlen(kv));

	if (rc == 0)
		rc = topic_set_owner(t, 1, 1, 0700); /* chmod, chown */
	if (rc == 0 && topic_line_size(t, 0) != 0)   /* stat */
		rc = -EPROTO;
	if (rc == 0 && topic_partitions(t) != 2)
		rc = -EPROTO;
	o->rc = rc;
	atomic_store(&o->done, 1);
	return NULL;
}

static bool bg_done(struct bg *b)
{
	return atomic_load(&b->done) != 0;
}

static struct bg *g_bg;
static bool g_bg_done(struct fx *f)
{
	(void)f;
	return bg_done(g_bg);
}

/* Runs fn(b) on a thread that must finish before the deadline. */
static void run_bg(void *(*fn)(void *), struct bg *b)
{
	pthread_t th;

	pthread_create(&th, NULL, fn, b);
	g_bg = b;
	assert_true(wait_until(g_bg_done, b->f));
	pthread_join(th, NULL);
}

/* A writer parked in its linger.ms wait holds no topic lock: a .config
 * write (which also grows the partitions), chmod and stat of the topic
 * complete while it waits; then its write goes on, with the settings it
 * began with. */
static void test_topic_ops_during_linger(void **state)
{
	struct fx *f = *state;
	struct bg w = { .f = f }, o = { .f = f };
	pthread_t tw;
	char big[20000];
	uid_t uid;
	gid_t gid;
	mode_t mode;

	config(f, "linger.ms=60000\n");
	pthread_create(&tw, NULL, lingering_writer, &w);
	assert_true(wait_until(lingering, f));
	run_bg(topic_ops, &o);
	assert_int_equal(o.rc, 0);
	/* All of it happened while the writer still waited. */
	assert_true(lingering(f));
	assert_false(bg_done(&w));
	assert_int_equal(leo(f, 0), 0);
	topic_owner(f->t, &uid, &gid, &mode);
	assert_int_equal(mode, 0700);
	/* A write of batch.size bytes ends the linger: both are appended. */
	memset(big, 'b', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(topic_produce(f->t, 0, big, sizeof(big), 0), 0);
	pthread_join(tw, NULL);
	assert_int_equal(w.rc, 0);
	assert_int_equal(leo(f, 0), 2);
	config(f, "linger.ms=0\n");
	assert_int_equal(topic_produce(f->t, 1, "new\n", 4, 0), 0);
	assert_int_equal(leo(f, 1), 1);
}

static void *deleter(void *arg)
{
	struct bg *d = arg;

	d->rc = broker_topic_delete(d->f->b, "t");
	atomic_store(&d->done, 1);
	return NULL;
}

/* rmdir of a topic whose writer waits out linger.ms completes at once,
 * and the write then fails with ENOENT, nothing appended. */
static void test_delete_during_linger(void **state)
{
	struct fx *f = *state;
	struct bg w = { .f = f }, d = { .f = f };
	pthread_t tw;

	config(f, "linger.ms=60000\n");
	pthread_create(&tw, NULL, lingering_writer, &w);
	assert_true(wait_until(lingering, f));
	run_bg(deleter, &d);
	assert_int_equal(d.rc, 0);
	g_bg = &w;
	assert_true(wait_until(g_bg_done, f)); /* not after the linger */
	pthread_join(tw, NULL);
	assert_int_equal(w.rc, -ENOENT);
	assert_int_equal(atomic_load(&part(f, 0)->records_in), 0);
}

/* ---- appended, then committed ---- */

struct acker {
	struct fx *f;
	struct log *l;
	int64_t last, timeout_ms;
	int32_t epoch; /* the leader epoch of the append, -1 unchecked */
	atomic_int done;
	int rc;
};

static void *acker_main(void *arg)
{
	struct acker *a = arg;

	a->rc = produce_commit_wait(a->f->t, part(a->f, 0), a->l, a->last, a->epoch, a->timeout_ms);
	atomic_store(&a->done, 1);
	return NULL;
}

static bool commit_waiting(struct fx *f)
{
	return atomic_load(&part(f, 0)->commit_waiters) == 1;
}

/* Appends one record through the engine alone: appended, the hw not moved
 * (a leader's state until its followers have fetched). Its offset. */
static int64_t append_uncommitted(struct fx *f)
{
	struct rec_in r = {
		.key = NULL, .key_len = -1, .value = "u", .value_len = 1, .timestamp = 1
	};
	struct log_append_info info;

	assert_int_equal(log_append(part(f, 0)->log, &r, 1, BROKER_LEADER_EPOCH, &info), 0);
	return info.last_offset;
}

/* The acknowledgement step waits, holding no lock, until the hw covers the
 * records (woken by the hw move), gives ETIMEDOUT when it does not in
 * time, and ENOENT when the topic goes meanwhile; on one node a write's
 * own append moves the hw, so acks=all returns at once. */
static void test_ack_waits_for_commit(void **state)
{
	struct fx *f = *state;
	struct log *l = part(f, 0)->log;
	struct acker a = { .f = f, .l = l, .timeout_ms = 60000, .epoch = -1 };
	struct log_state st;
	pthread_t th;
	char *all;

	assert_int_equal(topic_produce(f->t, 0, "c0\n", 3, 0), 0); /* acks=all */
	assert_int_equal(topic_log_state(f->t, 0, &st), 0);
	assert_int_equal(st.hw, 1);
	a.last = append_uncommitted(f);
	assert_int_equal(a.last, 1);
	pthread_create(&th, NULL, acker_main, &a);
	assert_true(wait_until(commit_waiting, f));
	/* Parked on the hw, not on a lock: the topic is free meanwhile. */
	config(f, "retention.ms=3600000\n");
	assert_int_equal(topic_line_size(f->t, 0), 3);
	assert_false(atomic_load(&a.done));
	assert_int_equal(log_set_hw(l, a.last + 1), 0); /* the followers caught up */
	pthread_join(th, NULL);
	assert_int_equal(a.rc, 0);
	/* Never covered: ETIMEDOUT, the record stays appended, uncommitted. */
	a.last = append_uncommitted(f);
	assert_int_equal(produce_commit_wait(f->t, part(f, 0), l, a.last, -1, 1), -ETIMEDOUT);
	assert_int_equal(topic_log_state(f->t, 0, &st), 0);
	assert_int_equal(st.hw, 2);
	assert_int_equal(st.log_end_offset, 3);
	all = read_all(f->t, 0);
	assert_string_equal(all, "c0\nu\n");
	free(all);
	/* A delete ends the wait. */
	log_ref(l);
	a.done = 0;
	pthread_create(&th, NULL, acker_main, &a);
	assert_true(wait_until(commit_waiting, f));
	assert_int_equal(broker_topic_delete(f->b, "t"), 0);
	pthread_join(th, NULL);
	assert_int_equal(a.rc, -ENOENT);
	log_unref(l);
}

/* ---- the produce purgatory ---- */

static atomic_int g_parked_done;

static void parked_done(void *arg)
{
	(void)arg;
	atomic_fetch_add(&g_parked_done, 1);
}

static atomic_bool g_client_gone;

static bool client_gone(void *arg)
{
	(void)arg;
	return atomic_load(&g_client_gone);
}

static bool parked_settled(struct fx *f)
{
	(void)f;
	return atomic_load(&g_parked_done) == 1;
}

/* A wait of record last of f's partition 0, as topic_produce_batches
 * leaves a Kafka client's acks=-1 append whose commit is ahead. */
static void parked_wait(struct fx *f, struct produce_wait *w, int64_t last, int64_t timeout_ms)
{
	topic_get(f->t);
	log_ref(part(f, 0)->log);
	*w = (struct produce_wait){ .t = f->t,
				    .pt = part(f, 0),
				    .log = part(f, 0)->log,
				    .last = last,
				    .epoch = -1,
				    .lead_epoch = -1,
				    .timeout_ms = timeout_ms,
				    .deadline_ms = now_mono_ms() + timeout_ms };
}

/* Parked waits hold no thread of the caller's: the purgatory's settles
 * them all, as the blocking wait would answer (test_ack_waits_for_commit):
 * once the hw covers both of a request's records (the request's done
 * called once, after the second), at timeout_ms, or when the topic is
 * deleted. */
static void test_parked_until_commit(void **state)
{
	struct fx *f = *state;
	struct produce_wait w[2];
	int64_t t0;

	assert_int_equal(topic_produce(f->t, 0, "c0\n", 3, 0), 0);
	parked_wait(f, &w[0], append_uncommitted(f), 60000);
	parked_wait(f, &w[1], append_uncommitted(f), 60000);
	atomic_store(&g_parked_done, 0);
	assert_int_equal(produce_park(f->b, w, 2, parked_done, NULL, NULL), 0);
	usleep(50000);
	assert_int_equal(atomic_load(&g_parked_done), 0);
	assert_int_equal(atomic_load(&part(f, 0)->commit_parked), 2);
	assert_int_equal(atomic_load(&f->b->pm.parked), 1); /* one request */
	assert_int_equal(log_set_hw(part(f, 0)->log, w[0].last + 1), 0);
	usleep(50000);
	assert_int_equal(atomic_load(&g_parked_done), 0); /* one of two */
	assert_int_equal(log_set_hw(part(f, 0)->log, w[1].last + 1), 0);
	assert_true(wait_until(parked_settled, f));
	assert_int_equal(w[0].rc, 0);
	assert_int_equal(w[1].rc, 0);
	assert_true(w[0].done && w[1].done);
	assert_int_equal(w[1].log_start_offset, 0);
	assert_int_equal(atomic_load(&part(f, 0)->commit_parked), 0);
	assert_int_equal(atomic_load(&f->b->pm.parked), 0);
	produce_wait_release(&w[0]);
	produce_wait_release(&w[1]);
	/* Never covered: REQUEST_TIMED_OUT at timeout_ms, not before. */
	parked_wait(f, &w[0], append_uncommitted(f), 300);
	atomic_store(&g_parked_done, 0);
	t0 = now_mono_ms();
	assert_int_equal(produce_park(f->b, w, 1, parked_done, NULL, NULL), 0);
	assert_true(wait_until(parked_settled, f));
	assert_true(now_mono_ms() - t0 >= 290);
	assert_int_equal(w[0].rc, -ETIMEDOUT);
	produce_wait_release(&w[0]);
	/* A client gone settles it when the purgatory is kicked, its
	 * answer never sent (-ESHUTDOWN); its records stay. */
	parked_wait(f, &w[0], append_uncommitted(f), 60000);
	atomic_store(&g_parked_done, 0);
	atomic_store(&g_client_gone, false);
	assert_int_equal(produce_park(f->b, w, 1, parked_done, client_gone, NULL), 0);
	usleep(20000);
	assert_int_equal(atomic_load(&g_parked_done), 0);
	atomic_store(&g_client_gone, true);
	produce_purgatory_kick(f->b);
	assert_true(wait_until(parked_settled, f));
	assert_int_equal(w[0].rc, -ESHUTDOWN);
	assert_int_equal(atomic_load(&part(f, 0)->commit_parked), 0);
	produce_wait_release(&w[0]);
	/* A delete settles it at once (no hw moves). */
	parked_wait(f, &w[0], append_uncommitted(f), 60000);
	atomic_store(&g_parked_done, 0);
	assert_int_equal(produce_park(f->b, w, 1, parked_done, NULL, NULL), 0);
	usleep(20000);
	assert_int_equal(broker_topic_delete(f->b, "t"), 0);
	assert_true(wait_until(parked_settled, f));
	assert_int_equal(w[0].rc, -ENOENT);
	produce_wait_release(&w[0]);
}

/* The broker stopping settles what is parked at once (-ESHUTDOWN: the
 * listener closes its connections, as Kafka's shutdown leaves its
 * purgatory) rather than after timeout_ms, and refuses later parks. */
static void test_parked_at_stop(void **state)
{
	struct fx *f = *state;
	struct produce_wait w[2];
	int64_t t0;

	assert_int_equal(topic_produce(f->t, 0, "c0\n", 3, 0), 0);
	parked_wait(f, &w[0], append_uncommitted(f), 60000);
	atomic_store(&g_parked_done, 0);
	assert_int_equal(produce_park(f->b, w, 1, parked_done, NULL, NULL), 0);
	t0 = now_mono_ms();
	produce_purgatory_stop(f->b);
	assert_int_equal(atomic_load(&g_parked_done), 1);
	assert_true(now_mono_ms() - t0 < 30000);
	assert_int_equal(w[0].rc, -ESHUTDOWN);
	produce_wait_release(&w[0]);
	parked_wait(f, &w[1], append_uncommitted(f), 60000);
	assert_int_equal(produce_park(f->b, &w[1], 1, parked_done, NULL, NULL), -ESHUTDOWN);
	assert_int_equal(atomic_load(&part(f, 0)->commit_parked), 0);
	produce_wait_release(&w[1]);
}

/* A leader appends in its epoch and waits; it loses the leadership (cut
 * off), becomes a follower, truncates the uncommitted record and fetches
 * the new leader's record into that offset, and the new leader's hw
 * covers it: the waiter must not acknowledge (its record is gone), and
 * says so at once instead of after request.timeout.ms. The same wait
 * with the record still there acknowledges. */
static void test_ack_refused_after_leadership_lost(void **state)
{
	struct fx *f = *state;
	struct log *l = part(f, 0)->log;
	struct acker a = { .f = f, .l = l, .timeout_ms = 60000, .epoch = 3 };
	struct rec_in r = {
		.key = NULL, .key_len = -1, .value = "n", .value_len = 1, .timestamp = 1
	};
	struct log_append_info info;
	pthread_t th;
	char *all;

	assert_int_equal(topic_produce(f->t, 0, "c0\n", 3, 0), 0);
	/* Leader in epoch 3: its append is covered, and acknowledged. */
	assert_int_equal(log_assign_epoch(l, 3, 1), 0);
	r.value = "a";
	assert_int_equal(log_append(l, &r, 1, 3, &info), 0);
	assert_int_equal(log_set_hw(l, info.last_offset + 1), 0);
	assert_int_equal(produce_commit_wait(f->t, part(f, 0), l, info.last_offset, 3, 1000), 0);
	/* Its next record waits for the followers. */
	r.value = "u";
	assert_int_equal(log_append(l, &r, 1, 3, &info), 0);
	a.last = info.last_offset;
	pthread_create(&th, NULL, acker_main, &a);
	assert_true(wait_until(commit_waiting, f));
	/* Follower of the leader of epoch 4, which never had the record. */
	assert_int_equal(log_truncate_durable(l, a.last), 0);
	assert_int_equal(log_assign_epoch(l, 4, a.last), 0);
	r.value = "n";
	assert_int_equal(log_append(l, &r, 1, 4, &info), 0);
	assert_int_equal(info.last_offset, a.last);
	assert_int_equal(log_set_hw(l, a.last + 1), 0);
	produce_hw_moved(part(f, 0));
	pthread_join(th, NULL);
	assert_int_equal(a.rc, -ETIMEDOUT);
	all = read_all(f->t, 0);
	assert_string_equal(all, "c0\na\nn\n");
	free(all);
}

/* A write forwarded from another broker's mount is one Produce of many
 * batches (one per batch.size bytes) from that broker's idempotent
 * producer (repl/forward.c). Sent again after a failover it must land
 * once, and be answered: whole (every batch already here, more batches
 * than the 5 a producer's state keeps one by one) and in part (only its
 * first batches reached this log from the leader that took it first, the
 * rest is appended). */
static void test_forwarded_batches_sent_again(void **state)
{
	struct fx *f = *state;
	enum { N = 200 };
	static char vals[N][64];
	struct rec_in recs[N];
	struct log_config lc = { .segment_bytes = 1 << 30,
				 .batch_bytes = 1024,
				 .max_message_bytes = 1048588 };
	struct batch_producer pr = { 7001, 0, 0 };
	struct batch_producer_info bi[64];
	struct produce_batches_result res;
	uint8_t *enc, *buf;
	size_t len, head = 0;
	int32_t nb;
	char *all, *want;
	size_t wn = 0;

	for (int i = 0; i < N; i++) {
		int n = snprintf(vals[i], sizeof(vals[i]), "forwarded record %03d of the write", i);

		recs[i] = (struct rec_in){ .key = NULL,
					   .key_len = -1,
					   .value = vals[i],
					   .value_len = n,
					   .timestamp = 1000 };
	}
	assert_int_equal(log_encode_batches(&lc, recs, N, &pr, &enc, &len, &nb), 0);
	assert_true(nb > 5); /* more than PRODUCER_BATCHES */
	assert_int_equal(log_batches_producers(enc, len, bi, 64), nb);
	buf = malloc(len);
	assert_non_null(buf);

	assert_int_equal(topic_produce(f->t, 0, "before\n", 7, 0), 0);
	memcpy(buf, enc, len);
	assert_int_equal(topic_produce_batches(f->t, 0, buf, len, -1, 10000, &res, NULL), 0);
	assert_int_equal(res.base_offset, 1);
	assert_int_equal(leo(f, 0), 1 + N);
	/* The same request again, every batch of it here: a duplicate. */
	memcpy(buf, enc, len);
	assert_int_equal(topic_produce_batches(f->t, 0, buf, len, -1, 10000, &res, NULL), 0);
	assert_int_equal(res.base_offset, 1);
	assert_int_equal(leo(f, 0), 1 + N);

	/* The next write of that producer: only its first three batches
	 * reached this log (as a follower's fetch that ended there), then
	 * the whole request came again. */
	for (int i = 0; i < N; i++)
		vals[i][0] = 'F';
	pr.base_sequence = N;
	free(enc);
	assert_int_equal(log_encode_batches(&lc, recs, N, &pr, &enc, &len, &nb), 0);
	assert_int_equal(log_batches_producers(enc, len, bi, 64), nb);
	for (int i = 0; i < 3; i++)
		head += (size_t)bi[i].size;
	memcpy(buf, enc, len);
	assert_int_equal(topic_produce_batches(f->t, 0, buf, head, -1, 10000, &res, NULL), 0);
	assert_int_equal(res.base_offset, 1 + N);
	memcpy(buf, enc, len);
	assert_int_equal(topic_produce_batches(f->t, 0, buf, len, -1, 10000, &res, NULL), 0);
	assert_int_equal(res.base_offset, 1 + N);
	assert_int_equal(leo(f, 0), 1 + 2 * N);
	/* and once more, whole: a duplicate of both appends */
	memcpy(buf, enc, len);
	assert_int_equal(topic_produce_batches(f->t, 0, buf, len, -1, 10000, &res, NULL), 0);
	assert_int_equal(res.base_offset, 1 + N);
	assert_int_equal(leo(f, 0), 1 + 2 * N);

	/* Every record once, in order. */
	want = malloc((size_t)N * 2 * 64 + 16);
	assert_non_null(want);
	wn += (size_t)sprintf(want, "before\n");
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < N; i++)
			wn += (size_t)sprintf(want + wn, "%s record %03d of the write\n",
					      round ? "Forwarded" : "forwarded", i);
	all = read_all(f->t, 0);
	assert_string_equal(all, want);
	free(all);
	free(want);
	free(enc);
	free(buf);
}

/* message.timestamp.type=LogAppendTime: an idempotent producer's expiry
 * clock is the append time its batches are stamped with, as the log keeps
 * them and Kafka's producer state takes them (the validated batch's
 * maxTimestamp), not the client's create time, which a client may set
 * anywhere (1970 here): the producer is not forgotten at the next expiry
 * check, and its next out-of-order batch is still refused. A resend is
 * answered with the time its records were stored with. */
static void test_idempotent_log_append_time(void **state)
{
	struct fx *f = *state;
	struct rec_in rec = {
		.key = NULL, .key_len = -1, .value = "v", .value_len = 1, .timestamp = 1000
	};
	struct log_config lc = { .segment_bytes = 1 << 30,
				 .batch_bytes = 1024,
				 .max_message_bytes = 1048588 };
	struct batch_producer pr = { 7002, 0, 0 };
	struct produce_batches_result res;
	struct producer_state *ps = &part(f, 0)->pstate;
	uint8_t *enc;
	size_t len;
	int64_t appended_at;
	int gone;

	config(f, "message.timestamp.type=LogAppendTime");
	assert_int_equal(log_encode_batches(&lc, &rec, 1, &pr, &enc, &len, NULL), 0);
	assert_int_equal(topic_produce_batches(f->t, 0, enc, len, -1, 10000, &res, NULL), 0);
	assert_true(res.log_append_time > 1000);
	appended_at = res.log_append_time;
	/* sent again later: the time it was stored with, as Kafka answers */
	while (engine_now_ms() == appended_at)
		sched_yield();
	assert_int_equal(topic_produce_batches(f->t, 0, enc, len, -1, 10000, &res, NULL), 0);
	assert_int_equal(res.base_offset, 0);
	assert_int_equal(res.log_append_time, appended_at);
	free(enc);
	pthread_mutex_lock(&ps->mu);
	gone = producer_state_expire(ps, engine_now_ms(), f->b->cfg.producer_id_expiration_ms);
	pthread_mutex_unlock(&ps->mu);
	assert_int_equal(gone, 0);
	pr.base_sequence = 5; /* a gap: refused while the producer is known */
	assert_int_equal(log_encode_batches(&lc, &rec, 1, &pr, &enc, &len, NULL), 0);
	assert_int_equal(topic_produce_batches(f->t, 0, enc, len, -1, 10000, &res, NULL), -EILSEQ);
	free(enc);
	assert_int_equal(leo(f, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_murmur2_kafka_vectors),
		cmocka_unit_test_setup_teardown(test_partitioner_keyed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partitioner_round_robin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches_large_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_linger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_memory, setup_small_buffer, teardown),
		cmocka_unit_test_setup_teardown(test_acks0_tracker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_reaches_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_flush_takes_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_nothing_half_written, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emsgsize_and_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_write_as_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_ops_during_linger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_during_linger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_waits_for_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parked_until_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parked_at_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forwarded_batches_sent_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idempotent_log_append_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ack_refused_after_leadership_lost, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
