/*
 * test_broker.c — the broker (repl/broker.c, topics.c, partitions.c,
 * topic_config.c, topic_read.c, catalog.c, produce.c, broker_views.c) on
 * a real data directory in a tmpdir: topics created, produced to and read
 * back through the line view, keyed lines, max.message.bytes,
 * key.separator fixed after the first record, growing partitions, reopen,
 * delete with references held, names, the partitioner, the text views,
 * concurrent writers, the wall clock stepping under the scheduler and a
 * lingering write.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "repl/repl.h"
#include "repl/broker_int.h"
#include "repl/zkdata.h"
#include "engine/log_int.h"
#include "tests/unit/faultio.h"
#include "util/clock.h"

struct fx {
	char dir[64];
	struct broker_config cfg;
	struct broker *b;
};

static int rm_rf(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	return system(cmd);
}

/* A broker over a new directory; retention_check_ms < 0: the default
 * log.retention.check.interval.ms. */
static int setup_check(void **state, int64_t retention_check_ms)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/mqfs-test-broker.XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	broker_config_defaults(&f->cfg);
	if (retention_check_ms >= 0)
		f->cfg.retention_check_ms = retention_check_ms;
	snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/data", f->dir);
	if (broker_open(&f->cfg, &f->b) != 0)
		return -1;
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_check(state, -1);
}

/* The engine's wall clock in these tests: the machine's, stepped back by
 * clock_back_ms (0 but in the test that steps it). */
static _Atomic int64_t clock_back_ms;

static int64_t stepped_clock(void)
{
	return now_real_ms() - atomic_load(&clock_back_ms);
}

/* CLOCK_REALTIME as this binary's code reads it (libmqfs.a is linked in,
 * so clock_gettime here is the one the daemon's code calls):
 * realtime_ahead_ms ahead of the kernel's (0 but in the test that sets
 * it). A deadline the code takes on the wall clock then lies that far
 * ahead of the clock the kernel waits on, as when the wall clock steps
 * back right after the deadline is taken. */
static _Atomic int64_t realtime_ahead_ms;

int clock_gettime(clockid_t clk, struct timespec *ts)
{
	int rc = (int)syscall(SYS_clock_gettime, clk, ts);
	int64_t ahead = atomic_load(&realtime_ahead_ms);

	if (rc == 0 && clk == CLOCK_REALTIME && ahead != 0)
		ts->tv_sec += (time_t)(ahead / 1000);
	return rc;
}

/* setup with the scheduler's retention check every 50 ms. */
static int setup_quick_retention(void **state)
{
	return setup_check(state, 50);
}

static void hold_release(void);

static int teardown(void **state)
{
	struct fx *f = *state;

	hold_release(); /* a failed test may leave a clean held */

	broker_close(f->b);
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void reopen(struct fx *f)
{
	broker_close(f->b);
	f->b = NULL;
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
}

static int produce_str(struct topic *t, int p, const char *s)
{
	return topic_produce(t, p, s, strlen(s), 0);
}

/* The whole committed line view of a partition (malloc'ed). */
static char *read_all(struct topic *t, int p, size_t *len)
{
	struct log_cursor *c;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1);
	ssize_t r;

	assert_int_equal(topic_cursor_new(t, p, &c), 0);
	for (;;) {
		if (cap - n < 4096) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
		}
		r = topic_read_lines(t, p, c, (int64_t)n, buf + n, cap - n, NULL);
		assert_true(r >= 0);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	topic_cursor_free(t, p, c);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static void assert_reads(struct topic *t, int p, const char *want)
{
	char *got = read_all(t, p, NULL);

	assert_string_equal(got, want);
	free(got);
}

static int64_t leo(struct topic *t, int p)
{
	struct log_state st;

	assert_int_equal(topic_log_state(t, p, &st), 0);
	return st.log_end_offset;
}

static bool path_exists(struct fx *f, const char *rel)
{
	char path[4400];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", f->cfg.data_dir, rel);
	return stat(path, &sb) == 0;
}

static bool text_has(struct topic *t, const char *line)
{
	char *text;
	size_t len;
	bool r;

	assert_int_equal(topic_config_text(t, &text, &len), 0);
	r = strstr(text, line) != NULL;
	free(text);
	return r;
}

/* ------------------------------------------------------------------ */

static void test_produce_read(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	struct log_state st;

	assert_int_equal(broker_topic_create(f->b, "orders", 1000, 1000, 0755, &t), 0);
	assert_int_equal(topic_partitions(t), 1);
	assert_int_equal(produce_str(t, 0, "a\nbb\n\nccc\n"), 0);
	assert_reads(t, 0, "a\nbb\n\nccc\n");
	assert_int_equal(topic_line_size(t, 0), 10);
	assert_int_equal(topic_log_state(t, 0, &st), 0);
	assert_int_equal(st.hw, 4);
	assert_int_equal(st.log_end_offset, 4);
	/* a partial last line only with PRODUCE_FINAL */
	assert_int_equal(topic_produce(t, 0, "x\ny", 3, 0), -EINVAL);
	assert_int_equal(topic_produce(t, 0, "x\ny", 3, PRODUCE_FINAL), 0);
	assert_reads(t, 0, "a\nbb\n\nccc\nx\ny\n");
	assert_int_equal(topic_produce(t, 0, "", 0, 0), 0);
	assert_int_equal(produce_str(t, 1, "a\n"), -ENOENT);
	assert_int_equal(produce_str(t, -2, "a\n"), -ENOENT);
	assert_true(topic_mtime(t) >= topic_ctime(t));
	assert_true(path_exists(f, "meta/topics/orders.properties"));
	assert_true(path_exists(f, "orders-0"));
	{
		/* the leader epoch cache: epoch 0 from offset 0 */
		char path[4400], buf[64] = "";
		FILE *fp;

		snprintf(path, sizeof(path), "%s/orders-0/leader-epoch-checkpoint",
			 f->cfg.data_dir);
		fp = fopen(path, "r");
		assert_non_null(fp);
		assert_true(fread(buf, 1, sizeof(buf) - 1, fp) > 0);
		fclose(fp);
		assert_string_equal(buf, "0\n1\n0 0\n");
	}
	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, NULL), -EEXIST);
	topic_put(t);
}

/* An rmdir in a cluster removes here the topic instance it asked the
 * controller to delete: gone already (the controller's StopReplica came
 * first) is done, and a topic made again under the name since is another
 * instance, left alone. */
static void test_delete_instance(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	uint64_t old_id, new_id;

	assert_int_equal(broker_topic_create(f->b, "inst", 0, 0, 0755, &t), 0);
	old_id = t->id;
	topic_put(t);
	/* Removed before the rmdir's thread comes back, as a StopReplica
	 * does, then made again. */
	assert_int_equal(broker_topic_delete(f->b, "inst"), 0);
	assert_int_equal(topic_delete_instance(f->b, "inst", old_id), 0);
	assert_int_equal(broker_topic_create(f->b, "inst", 0, 0, 0755, &t), 0);
	new_id = t->id;
	topic_put(t);
	assert_true(new_id != old_id);
	assert_int_equal(topic_delete_instance(f->b, "inst", old_id), 0);
	assert_int_equal(broker_topic_get(f->b, "inst", &t), 0);
	assert_true(t->id == new_id);
	topic_put(t);
	assert_int_equal(topic_delete_instance(f->b, "inst", new_id), 0);
	assert_int_equal(broker_topic_get(f->b, "inst", &t), -ENOENT);
}

/* Names that differ only in '.' for '_' collide (Kafka's metric names):
 * the second is refused whichever comes first; other names do not. */
static void test_topic_name_collision(void **state)
{
	struct fx *f = *state;
	char other[256] = "";

	assert_int_equal(broker_topic_create(f->b, "a.b_c", 0, 0, 0755, NULL), 0);
	assert_int_equal(broker_topic_create(f->b, "a_b.c", 0, 0, 0755, NULL), -EINVAL);
	assert_true(broker_topic_collides(f->b, "a_b_c", other, sizeof(other)));
	assert_string_equal(other, "a.b_c");
	assert_false(broker_topic_collides(f->b, "a.b_c", other, sizeof(other)));
	assert_false(broker_topic_collides(f->b, "a.b", other, sizeof(other)));
	assert_false(broker_topic_collides(f->b, "a.b_cd", other, sizeof(other)));
	assert_int_equal(broker_topic_create(f->b, "a.b", 0, 0, 0755, NULL), 0);
	assert_int_equal(broker_topic_create(f->b, "a-b_c", 0, 0, 0755, NULL), 0);
	assert_int_equal(broker_topic_create(f->b, "a.b_c", 0, 0, 0755, NULL), -EEXIST);
}

/* The creation of a.b stopped inside its first fsync (its metadata
 * file) while a_b is created from another thread: a_b must be refused
 * once a.b is made, not made beside it. */
static struct {
	struct broker *b;
	pthread_t th;
	int rc;
} race;

static void *create_a_b(void *arg)
{
	(void)arg;
	race.rc = broker_topic_create(race.b, "a_b", 0, 0, 0755, NULL);
	return NULL;
}

static void start_a_b(void *arg)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };

	(void)arg;
	assert_int_equal(pthread_create(&race.th, NULL, create_a_b, NULL), 0);
	/* Long enough for it to pass every check it makes before waiting
	 * for this creation to end. */
	nanosleep(&ts, NULL);
}

static void test_topic_name_collision_race(void **state)
{
	/* Static: on a failed assertion the teardown still closes a broker
	 * that uses it. */
	static struct faultio fio;
	struct fx *f = *state;
	struct topic *t;

	broker_close(f->b);
	faultio_init(&fio);
	f->cfg.io = &fio.ops;
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	race.b = f->b;
	race.rc = 1;
	fio.on_fsync = start_a_b;
	assert_int_equal(broker_topic_create(f->b, "a.b", 0, 0, 0755, NULL), 0);
	assert_null(fio.on_fsync);
	assert_int_equal(pthread_join(race.th, NULL), 0);
	assert_int_equal(race.rc, -EINVAL);
	assert_int_equal(broker_topic_get(f->b, "a_b", &t), -ENOENT);
	assert_int_equal(broker_topic_get(f->b, "a.b", &t), 0);
	topic_put(t);
	broker_close(f->b);
	f->b = NULL;
	faultio_free(&fio);
	f->cfg.io = NULL;
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
}

/* A single node's __consumer_offsets has one partition whatever
 * num.partitions (the partitions of a topic made by mkdir), and is made
 * with its key.separator and compaction. */
static void test_offsets_topic_partitions(void **state)
{
	struct fx *f = *state;
	struct topic_config tc;
	struct topic *t;

	char data[96];

	broker_close(f->b);
	f->b = NULL;
	snprintf(data, sizeof(data), "%s/data", f->dir); /* a new data directory */
	rm_rf(data);
	f->cfg.num_partitions = 3;
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	assert_int_equal(broker_topic_get(f->b, "__consumer_offsets", &t), 0);
	assert_int_equal(topic_partitions(t), 1);
	assert_int_equal(topic_config_get(t, &tc), 0);
	assert_int_equal(tc.log.key_sep_len, 1);
	assert_int_equal(tc.log.key_sep[0], '\t');
	assert_int_equal(tc.log.cleanup_policy, LOG_CLEANUP_COMPACT);
	topic_put(t);
	assert_int_equal(broker_topic_create(f->b, "m", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_partitions(t), 3);
	topic_put(t);
	/* Kept so across a reopen. */
	reopen(f);
	assert_int_equal(broker_topic_get(f->b, "__consumer_offsets", &t), 0);
	assert_int_equal(topic_partitions(t), 1);
	topic_put(t);
}

/* st_size never decreases: a truncation below the hw (what a replica
 * does after an unclean leader election) moves the hw's line position
 * back, the file's size stays until records pass it again. */
static void test_file_size_never_decreases(void **state)
{
	struct fx *f = *state;
	struct topic *t;

	assert_int_equal(broker_topic_create(f->b, "orders", 1000, 1000, 0755, &t), 0);
	assert_int_equal(topic_file_size(t, 0), 0);
	/* Two batches: a truncation cuts whole batches. */
	assert_int_equal(produce_str(t, 0, "a\nbb\n"), 0);
	assert_int_equal(produce_str(t, 0, "\nccc\n"), 0);
	assert_int_equal(topic_file_size(t, 0), 10);
	assert_int_equal(log_truncate_to(t->parts[0]->log, 2), 0);
	assert_int_equal(topic_line_size(t, 0), 5);
	assert_int_equal(topic_file_size(t, 0), 10);
	assert_reads(t, 0, "a\nbb\n");
	assert_int_equal(produce_str(t, 0, "dd\n"), 0);
	assert_int_equal(topic_line_size(t, 0), 8);
	assert_int_equal(topic_file_size(t, 0), 10);
	assert_int_equal(produce_str(t, 0, "eeee\n"), 0);
	assert_int_equal(topic_file_size(t, 0), 13);
	assert_int_equal(topic_file_size(t, 1), -ENOENT);
	topic_put(t);
}

static void test_keyed_roundtrip(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	const char *in = "k1:v1\nnokey\nk2:\n:v\na:b:c\n\n";
	const char *in2 = "k=>v\nk=>\nplain\n";
	const char *in3 = "a b\nc\td\n";

	assert_int_equal(broker_topic_create(f->b, "keyed", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "key.separator=:\n", 16), 0);
	assert_true(text_has(t, "key.separator=:\n"));
	assert_int_equal(produce_str(t, 0, in), 0);
	assert_reads(t, 0, in);
	assert_int_equal(leo(t, 0), 6);
	/* what the records are: "k2:" is a tombstone (null value), a line
	 * without the separator has a null key, an empty line an empty value */
	{
		char *dump = malloc(1 << 16);
		int64_t cur = 0;
		ssize_t n = topic_segment_render(t, 0, 0, SEGMENT_DUMP, &cur, dump, (1 << 16) - 1);

		assert_true(n > 0);
		dump[n] = '\0';
		assert_non_null(strstr(dump, "key: k1 value: v1\n"));
		assert_non_null(strstr(dump, "key: null value: nokey\n"));
		assert_non_null(strstr(dump, "key: k2 value: null\n"));
		assert_non_null(strstr(dump, "valueSize: 1 key:  value: v\n"));
		assert_non_null(strstr(dump, "key: a value: b:c\n"));
		assert_non_null(strstr(dump, "valueSize: 0 key: null value: \n"));
		free(dump);
	}
	topic_put(t);

	assert_int_equal(broker_topic_create(f->b, "keyed2", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "key.separator==>", 16), 0);
	assert_int_equal(produce_str(t, 0, in2), 0);
	assert_reads(t, 0, in2);
	topic_put(t);

	/* a separator with a space, escaped in the metadata file */
	assert_int_equal(broker_topic_create(f->b, "keyed3", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "key.separator=\\s", 16), 0);
	assert_int_equal(produce_str(t, 0, in3), 0);
	assert_reads(t, 0, in3);
	topic_put(t);

	reopen(f);
	assert_int_equal(broker_topic_get(f->b, "keyed", &t), 0);
	assert_reads(t, 0, in);
	topic_put(t);
	assert_int_equal(broker_topic_get(f->b, "keyed2", &t), 0);
	assert_reads(t, 0, in2);
	topic_put(t);
	assert_int_equal(broker_topic_get(f->b, "keyed3", &t), 0);
	assert_reads(t, 0, in3);
	assert_true(text_has(t, "key.separator=\\s\n"));
	topic_put(t);
}

static void test_emsgsize(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	char *big, line[400];
	size_t n = 0, cap = 6 << 20;

	assert_int_equal(broker_topic_create(f->b, "sizes", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "max.message.bytes=300\n", 22), 0);
	assert_int_equal(topic_max_message_bytes(t), 300);
	memset(line, 'x', sizeof(line));
	line[399] = '\n';
	assert_int_equal(produce_str(t, 0, "ok\n"), 0);
	/* one line too big in a small write: nothing of it appended */
	big = malloc(cap);
	n = (size_t)sprintf(big, "a\nb\n");
	memcpy(big + n, line, 400);
	n += 400;
	assert_int_equal(topic_produce(t, 0, big, n, 0), -EMSGSIZE);
	assert_int_equal(leo(t, 0), 1);
	/* a write of several chunks whose last line is too big: nothing */
	n = 0;
	while (n < (5u << 20)) {
		memcpy(big + n, "0123456789012345678901234567890123456789\n", 41);
		n += 41;
	}
	memcpy(big + n, line, 400);
	n += 400;
	assert_int_equal(topic_produce(t, 0, big, n, 0), -EMSGSIZE);
	assert_int_equal(leo(t, 0), 1);
	/* and the same without it: all appended, contiguous */
	n -= 400;
	assert_int_equal(topic_produce(t, 0, big, n, 0), 0);
	assert_int_equal(leo(t, 0), 1 + (int64_t)(n / 41));
	assert_int_equal(topic_line_size(t, 0), 3 + (int64_t)n);
	free(big);
	topic_put(t);
}

static void test_keysep_busy(void **state)
{
	struct fx *f = *state;
	struct topic *t;

	assert_int_equal(broker_topic_create(f->b, "busy", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "key.separator=|\n", 16), 0);
	/* may change again while empty */
	assert_int_equal(topic_config_write(t, "key.separator=:\n", 16), 0);
	assert_int_equal(produce_str(t, 0, "k:v\n"), 0);
	assert_int_equal(topic_config_write(t, "key.separator=|\n", 16), -EBUSY);
	/* nothing changed, not even the other settings of that write */
	assert_int_equal(topic_config_write(t, "flush.ms=5000\nkey.separator=|\n", 30), -EBUSY);
	assert_false(text_has(t, "flush.ms=5000\n"));
	assert_true(text_has(t, "key.separator=:\n"));
	/* the same separator again is no change */
	assert_int_equal(topic_config_write(t, "key.separator=:\n", 16), 0);
	/* a bad line: -EINVAL, nothing changed */
	assert_int_equal(topic_config_write(t, "flush.ms=5\nnope=1\n", 18), -EINVAL);
	assert_false(text_has(t, "flush.ms=5\n"));
	assert_reads(t, 0, "k:v\n");
	topic_put(t);
}

static void test_partitions_grow(void **state)
{
	struct fx *f = *state;
	struct topic *t;

	assert_int_equal(broker_topic_create(f->b, "grow", 0, 0, 0755, &t), 0);
	assert_int_equal(produce_str(t, 0, "p0\n"), 0);
	assert_int_equal(topic_config_write(t, "partitions=3\n", 13), 0);
	assert_int_equal(topic_partitions(t), 3);
	assert_true(path_exists(f, "grow-1"));
	assert_true(path_exists(f, "grow-2"));
	assert_int_equal(produce_str(t, 2, "p2\n"), 0);
	assert_reads(t, 2, "p2\n");
	assert_reads(t, 0, "p0\n");
	assert_int_equal(topic_config_write(t, "partitions=2\n", 13), -EINVAL);
	assert_int_equal(topic_partitions(t), 3);
	assert_int_equal(topic_config_write(t, "partitions=3\n", 13), 0);
	topic_put(t);
	reopen(f);
	assert_int_equal(broker_topic_get(f->b, "grow", &t), 0);
	assert_int_equal(topic_partitions(t), 3);
	assert_reads(t, 2, "p2\n");
	topic_put(t);
}

static void test_reopen(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int64_t ctime;
	const char *cfg = "partitions=2\nsegment.bytes=1048576\nkey.separator=:\nflush.ms=60000\n";

	assert_int_equal(broker_topic_create(f->b, "keep", 1234, 5678, 0750, &t), 0);
	assert_int_equal(topic_config_write(t, cfg, strlen(cfg)), 0);
	assert_int_equal(produce_str(t, 0, "a:1\nb:2\n"), 0);
	assert_int_equal(produce_str(t, 1, "c\n"), 0);
	assert_int_equal(topic_set_owner(t, 4321, 8765, 0700), 0);
	ctime = topic_ctime(t);
	topic_put(t);

	reopen(f);
	assert_int_equal(broker_topic_get(f->b, "keep", &t), 0);
	topic_owner(t, &uid, &gid, &mode);
	assert_int_equal(uid, 4321);
	assert_int_equal(gid, 8765);
	assert_int_equal(mode, 0700);
	assert_int_equal(topic_ctime(t), ctime);
	assert_int_equal(topic_partitions(t), 2);
	assert_true(text_has(t, "segment.bytes=1048576\n"));
	assert_true(text_has(t, "flush.ms=60000\n"));
	assert_true(text_has(t, "key.separator=:\n"));
	assert_reads(t, 0, "a:1\nb:2\n");
	assert_reads(t, 1, "c\n");
	assert_int_equal(produce_str(t, 0, "d:4\n"), 0);
	assert_reads(t, 0, "a:1\nb:2\nd:4\n");
	topic_put(t);

	/* a broker default that changed applies to topics that did not
	 * override it; overrides and partitions stay */
	broker_close(f->b);
	f->cfg.num_partitions = 5;
	f->cfg.log.segment_bytes = 2 * 1048576;
	f->cfg.log.flush_messages = 1000;
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	assert_int_equal(broker_topic_get(f->b, "keep", &t), 0);
	assert_int_equal(topic_partitions(t), 2);
	assert_true(text_has(t, "segment.bytes=1048576\n"));
	assert_true(text_has(t, "flush.messages=1000\n"));
	topic_put(t);
}

/* A setting written with the broker default's value is an override all
 * the same (Kafka's): kept in the catalog, so a changed default at the
 * next start leaves it; "-key" removes it and the topic follows the
 * default again, also after a restart. */
static void test_override_equal_to_default(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	const char *set = "retention.ms=604800000\nsegment.bytes=1073741824\n";

	assert_int_equal(f->cfg.log.retention_ms, 604800000);
	assert_int_equal(broker_topic_create(f->b, "eq", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, set, strlen(set)), 0);
	topic_put(t);
	broker_close(f->b);
	f->cfg.log.retention_ms = 1000;
	f->cfg.log.segment_bytes = 2 * 1048576;
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	assert_int_equal(broker_topic_get(f->b, "eq", &t), 0);
	assert_true(text_has(t, "retention.ms=604800000\n"));
	assert_true(text_has(t, "segment.bytes=1073741824\n"));
	assert_int_equal(topic_config_write(t, "-retention.ms\n", 14), 0);
	assert_true(text_has(t, "retention.ms=1000\n"));
	topic_put(t);
	broker_close(f->b);
	f->cfg.log.retention_ms = 2000;
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	assert_int_equal(broker_topic_get(f->b, "eq", &t), 0);
	assert_true(text_has(t, "retention.ms=2000\n"));
	assert_true(text_has(t, "segment.bytes=1073741824\n"));
	topic_put(t);
}

static void test_delete(void **state)
{
	struct fx *f = *state;
	struct topic *t, *t2;
	struct log_cursor *c;
	char buf[64];
	int64_t *bases;
	int n;

	assert_int_equal(broker_topic_create(f->b, "gone", 0, 0, 0755, &t), 0);
	assert_int_equal(produce_str(t, 0, "old\n"), 0);
	assert_int_equal(topic_cursor_new(t, 0, &c), 0);
	assert_int_equal(broker_topic_delete(f->b, "gone"), 0);
	assert_true(topic_deleted(t));
	assert_int_equal(produce_str(t, 0, "x\n"), -ENOENT);
	assert_int_equal(topic_read_lines(t, 0, c, 0, buf, sizeof(buf), NULL), -ENOENT);
	assert_int_equal(topic_fsync(t, 0), -ENOENT);
	assert_int_equal(topic_line_size(t, 0), -ENOENT);
	assert_int_equal(topic_segments(t, 0, &bases, &n), -ENOENT);
	assert_int_equal(topic_config_write(t, "flush.ms=1\n", 11), -ENOENT);
	assert_int_equal(topic_set_owner(t, 1, 1, 0700), -ENOENT);
	topic_cursor_free(t, 0, c);
	assert_string_equal(topic_name(t), "gone");
	assert_false(path_exists(f, "gone-0"));
	assert_false(path_exists(f, "meta/topics/gone.properties"));
	assert_int_equal(broker_topic_get(f->b, "gone", &t2), -ENOENT);
	assert_int_equal(broker_topic_delete(f->b, "gone"), -ENOENT);
	/* a new topic of the same name starts empty, with a new id */
	assert_int_equal(broker_topic_create(f->b, "gone", 0, 0, 0755, &t2), 0);
	assert_true(topic_id(t2) != topic_id(t));
	assert_int_equal(leo(t2, 0), 0);
	assert_reads(t2, 0, "");
	topic_put(t);
	topic_put(t2);
	reopen(f);
	assert_int_equal(broker_topic_get(f->b, "gone", &t), 0);
	assert_int_equal(leo(t, 0), 0);
	topic_put(t);
}

/* Kafka's topic ids against a name's earlier topics: a local topic whose
 * log says another id than the cluster's goes (one that says the same, or
 * none, stays); a log no topic holds goes when it says another id. */
static void test_incarnation(void **state)
{
	struct fx *f = *state;
	struct topic *t, *t2;
	struct log *l;

	assert_int_equal(broker_topic_create(f->b, "inc", 0, 0, 0755, &t), 0);
	assert_int_equal(produce_str(t, 0, "old\n"), 0);
	/* No id beside its logs: nothing to compare, kept. */
	assert_int_equal(topics_cluster_incarnation(f->b, "inc", -1, "AAAAAAAAAAAAAAAAAAAAAQ"), 0);
	assert_int_equal(logmgr_set_topic_id(f->b->m, "inc", 0, "AAAAAAAAAAAAAAAAAAAAAQ"), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "inc", 0, "AAAAAAAAAAAAAAAAAAAAAQ"), 0);
	assert_false(topic_deleted(t));
	assert_int_equal(topics_cluster_incarnation(f->b, "inc", -1, ""), 0);
	assert_false(topic_deleted(t));
	/* Another id than the one confirmed, even with no file to say so:
	 * another topic's. */
	assert_int_equal(broker_topic_create(f->b, "inc2", 0, 0, 0755, &t2), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "inc2", -1, "AAAAAAAAAAAAAAAAAAAAAQ"), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "inc2", -1, "AAAAAAAAAAAAAAAAAAAAAg"), 1);
	assert_true(topic_deleted(t2));
	topic_put(t2);
	/* Another id: the topic goes, its logs with it. */
	assert_int_equal(topics_cluster_incarnation(f->b, "inc", 0, "AAAAAAAAAAAAAAAAAAAAAg"), 1);
	assert_true(topic_deleted(t));
	assert_false(path_exists(f, "inc-0"));
	assert_false(path_exists(f, "meta/topics/inc.properties"));
	topic_put(t);
	/* A log without a topic (a replica's, made before its topic). */
	assert_int_equal(logmgr_get_log(f->b->m, "stray", 2, &f->b->cfg.log, true, &l), 0);
	assert_int_equal(logmgr_set_topic_id(f->b->m, "stray", 2, "AAAAAAAAAAAAAAAAAAAAAQ"), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "stray", 2, "AAAAAAAAAAAAAAAAAAAAAQ"), 0);
	assert_true(path_exists(f, "stray-2"));
	assert_int_equal(topics_cluster_incarnation(f->b, "stray", 2, "AAAAAAAAAAAAAAAAAAAAAg"), 1);
	assert_false(path_exists(f, "stray-2"));
}

/* A topic the cluster thread made here from its read of /brokers/topics,
 * deleted here before any id check gave it its cluster_id: a later
 * answer of that same read (the thread read the topic before its
 * deletion) must not make it here again, nor take a newer topic of the
 * name for a stale copy. */
static void test_gone_after_appeared(void **state)
{
	struct fx *f = *state;
	bool local[1] = { true };
	struct topic *t;

	assert_int_equal(topics_cluster_appeared(f->b, "app", 1, local, 0, 0, 0755, NULL,
						 "AAAAAAAAAAAAAAAAAAAAAw"),
			 0);
	assert_int_equal(broker_topic_get(f->b, "app", &t), 0);
	topic_put(t);
	assert_int_equal(broker_topic_delete(f->b, "app"), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "app", -1, "AAAAAAAAAAAAAAAAAAAAAw"),
			 -ESTALE);
	/* Another topic of the name is not refused. */
	assert_int_equal(topics_cluster_incarnation(f->b, "app", -1, "AAAAAAAAAAAAAAAAAAAABA"), 0);
}

/* The cluster thread checks a topic's id (topics_cluster_incarnation)
 * and then makes it (topics_cluster_appeared); an rmdir here, or the
 * controller's StopReplica, may remove the topic in between. The make
 * must refuse that read's topic (-ESTALE) under the lock the removal
 * takes: made again, it held the name until the thread read the
 * deletion, and a mkdir right after the rmdir returned EEXIST (met in
 * t_cluster_recreate_loop under load). */
static void test_appeared_after_delete(void **state)
{
	struct fx *f = *state;
	bool local[1] = { true };
	struct topic *t;

	assert_int_equal(topics_cluster_appeared(f->b, "ra", 1, local, 0, 0, 0755, NULL,
						 "AAAAAAAAAAAAAAAAAAAABQ"),
			 0);
	/* The thread's check of its next read, the topic still here. */
	assert_int_equal(topics_cluster_incarnation(f->b, "ra", -1, "AAAAAAAAAAAAAAAAAAAABQ"), 0);
	assert_int_equal(broker_topic_delete(f->b, "ra"), 0);
	/* Its make, from that read, after the removal. */
	assert_int_equal(topics_cluster_appeared(f->b, "ra", 1, local, 0, 0, 0755, NULL,
						 "AAAAAAAAAAAAAAAAAAAABQ"),
			 -ESTALE);
	assert_int_equal(broker_topic_get(f->b, "ra", &t), -ENOENT);
	assert_false(path_exists(f, "ra-0"));
	/* The name made again is another topic, made. */
	assert_int_equal(topics_cluster_appeared(f->b, "ra", 1, local, 0, 0, 0755, NULL,
						 "AAAAAAAAAAAAAAAAAAAABg"),
			 0);
	assert_int_equal(broker_topic_get(f->b, "ra", &t), 0);
	topic_put(t);
}

/* A look at a topic while a delete holds its lock (broker_int.h: the
 * topic's lock before cat_lock) must not hold cat_lock as it waits: the
 * delete takes cat_lock to remove the name. */
struct lookup_arg {
	struct broker *b;
	int which; /* 0: topics_cluster_incarnation, 1: broker_topic_by_cluster_id */
	pid_t tid;
	int rc;
};

static void *lookup_main(void *arg)
{
	struct lookup_arg *a = arg;
	struct topic *t = NULL;

	__atomic_store_n(&a->tid, gettid(), __ATOMIC_SEQ_CST);
	if (a->which == 0) {
		a->rc = topics_cluster_incarnation(a->b, "ord", 0, "AAAAAAAAAAAAAAAAAAAAAQ");
	} else {
		a->rc = broker_topic_by_cluster_id(a->b, "AAAAAAAAAAAAAAAAAAAAAQ", &t);
		if (t)
			topic_put(t);
	}
	return NULL;
}

/* Whether thread tid of this process sleeps (state S in its stat). */
static bool thread_sleeps(pid_t tid)
{
	char path[64], buf[256], *p;
	FILE *fp;
	bool s = false;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	if (fgets(buf, sizeof(buf), fp) && (p = strrchr(buf, ')')) && p[1] == ' ')
		s = p[2] == 'S';
	fclose(fp);
	return s;
}

static void test_lookup_while_delete_holds_topic(void **state)
{
	struct fx *f = *state;
	struct topic *t;

	assert_int_equal(broker_topic_create(f->b, "ord", 0, 0, 0755, &t), 0);
	assert_int_equal(topics_cluster_incarnation(f->b, "ord", -1, "AAAAAAAAAAAAAAAAAAAAAQ"), 0);
	for (int which = 0; which < 2; which++) {
		struct lookup_arg a = { .b = f->b, .which = which, .rc = -1 };
		struct timespec dl;
		pthread_t th;
		int got;

		/* As topic_delete_locked between its two locks. */
		pthread_rwlock_wrlock(&t->lock);
		assert_int_equal(pthread_create(&th, NULL, lookup_main, &a), 0);
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += 20;
		for (;;) {
			struct timespec now, nap = { 0, 1000000 };
			pid_t tid = __atomic_load_n(&a.tid, __ATOMIC_SEQ_CST);

			if (tid && thread_sleeps(tid))
				break;
			clock_gettime(CLOCK_MONOTONIC, &now);
			assert_true(now.tv_sec < dl.tv_sec);
			nanosleep(&nap, NULL);
		}
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += 10;
		got = pthread_rwlock_timedwrlock(&f->b->cat_lock, &dl);
		if (got == 0)
			pthread_rwlock_unlock(&f->b->cat_lock);
		pthread_rwlock_unlock(&t->lock);
		pthread_join(th, NULL);
		assert_int_equal(got, 0);
		assert_int_equal(a.rc, 0);
	}
	topic_put(t);
}

/* Topic creations and grows stop while a reserve of descriptors is left
 * (util/fdroom.h), not when none is: -EMFILE, nothing made, and the
 * broker goes on (a read, a write); a deleted topic's room is reusable. */
static void test_create_keeps_fd_reserve(void **state)
{
	struct fx *f = *state;
	struct rlimit was, rl;
	struct topic *t, *first = NULL;
	char name[32];
	int made = 0, rc = 0;
	int64_t lim;

	assert_int_equal(broker_topic_create(f->b, "keep", 0, 0, 0755, &t), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	rl = was;
	rl.rlim_cur = (rlim_t)(fd_count_open() + 80);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	lim = fd_limit();
	while (made < 100) {
		snprintf(name, sizeof(name), "fill%d", made);
		rc = broker_topic_create(f->b, name, 0, 0, 0755, NULL);
		if (rc < 0)
			break;
		made++;
	}
	assert_int_equal(rc, -EMFILE);
	/* (80 - 16 reserved) / 4 a partition, less what the broker opened */
	assert_true(made >= 10 && made <= 16);
	assert_true(lim - fd_count_open() >= fd_room_reserve(lim) - 4);
	assert_int_equal(broker_topic_get(f->b, name, &first), -ENOENT);
	/* The broker goes on. */
	assert_int_equal(produce_str(t, 0, "still\n"), 0);
	assert_int_equal(leo(t, 0), 1);
	assert_int_equal(topic_config_write(t, "partitions=20\n", 14), -EMFILE);
	assert_int_equal(topic_partitions(t), 1);
	/* Deleting one makes room for one. */
	assert_int_equal(broker_topic_delete(f->b, "fill0"), 0);
	assert_int_equal(broker_topic_create(f->b, name, 0, 0, 0755, NULL), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
	topic_put(t);
}

/* Reads DATA/<name> (malloc'ed, NUL-terminated). */
static char *read_data_file(struct fx *f, const char *name)
{
	char path[4400], *text;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s/%s", f->cfg.data_dir, name);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	text = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(text, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return text;
}

/* A creation that fails at its second partition leaves no log open in the
 * log manager (the checkpoints would list it) and no directory on disk,
 * and the name can be created again: for a failure inside the log's open
 * (its directory, its first segment) and after it (the leader epoch). */
static void test_create_fails_midway(void **state)
{
	static const char *fail[] = { "/t-1", "/t-1/00000000000000000000.log",
				      "/t-1/leader-epoch-checkpoint" };
	/* Static: on a failed assertion the teardown still closes a broker
	 * that uses it. */
	static struct faultio fio;
	struct fx *f = *state;
	struct topic *t;

	for (size_t i = 0; i < sizeof(fail) / sizeof(fail[0]); i++) {
		char *ckpt;

		broker_close(f->b);
		faultio_init(&fio);
		f->cfg.io = &fio.ops;
		f->cfg.num_partitions = 3;
		assert_int_equal(broker_open(&f->cfg, &f->b), 0);
		fio.fail_path = fail[i];
		assert_int_equal(broker_topic_create(f->b, "t", 0, 0, 0755, &t), -EIO);
		assert_null(t);
		fio.fail_path = NULL;
		assert_int_equal(logmgr_checkpoint(f->b->m), 0);
		ckpt = read_data_file(f, "recovery-point-offset-checkpoint");
		assert_null(strstr(ckpt, "\nt "));
		free(ckpt);
		assert_false(path_exists(f, "t-0"));
		assert_false(path_exists(f, "t-1"));
		assert_false(path_exists(f, "meta/topics/t.properties"));
		assert_int_equal(broker_topic_get(f->b, "t", &t), -ENOENT);
		assert_int_equal(broker_topic_create(f->b, "t", 0, 0, 0755, &t), 0);
		assert_int_equal(produce_str(t, 2, "again\n"), 0);
		assert_reads(t, 2, "again\n");
		topic_put(t);
		assert_int_equal(broker_topic_delete(f->b, "t"), 0);
		broker_close(f->b);
		f->b = NULL;
		faultio_free(&fio);
		f->cfg.io = NULL;
		assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	}
}

/* A clean of topic "c" held inside log_clean (engine_clean_hook) until
 * released: the handshake that makes a clean "in progress" for as long as
 * the test needs. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool entered; /* a clean of "c" reached the hook */
	bool release;
	int calls_rc; /* topic_calls */
	bool calls_done;
	int delete_rc; /* delete_c */
	bool delete_done;
} hold = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void hold_clean(struct log *l)
{
	if (strcmp(l->topic, "c") != 0)
		return;
	pthread_mutex_lock(&hold.mu);
	hold.entered = true;
	pthread_cond_broadcast(&hold.cv);
	while (!hold.release)
		pthread_cond_wait(&hold.cv, &hold.mu);
	pthread_mutex_unlock(&hold.mu);
}

static void hold_release(void)
{
	pthread_mutex_lock(&hold.mu);
	hold.release = true;
	pthread_cond_broadcast(&hold.cv);
	pthread_mutex_unlock(&hold.mu);
	engine_clean_hook = NULL;
}

/* Waits until *flag is true (a deadline far above any normal run, so a
 * call that waits for the clean fails the test instead of hanging it). */
static bool hold_wait(const bool *flag)
{
	struct timespec dl;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 60;
	pthread_mutex_lock(&hold.mu);
	while (!*flag && pthread_cond_timedwait(&hold.cv, &hold.mu, &dl) == 0)
		;
	ok = *flag;
	pthread_mutex_unlock(&hold.mu);
	return ok;
}

/* A helper thread's result, for hold_wait. */
static void hold_done(int *rc_out, bool *done, int rc)
{
	pthread_mutex_lock(&hold.mu);
	*rc_out = rc;
	*done = true;
	pthread_cond_broadcast(&hold.cv);
	pthread_mutex_unlock(&hold.mu);
}

/* What users do to a topic while it is compacted: a .config write, chmod,
 * stat, a write and its fsync. */
static void *topic_calls(void *arg)
{
	struct topic *t = arg;
	struct log_state st;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int rc = topic_config_write(t, "retention.ms=86400000\n", 22);

	if (rc == 0)
		rc = topic_set_owner(t, 0, 0, 0700);
	if (rc == 0) {
		topic_owner(t, &uid, &gid, &mode);
		rc = mode == 0700 ? topic_log_state(t, 0, &st) : -EINVAL;
	}
	if (rc == 0)
		rc = topic_line_size(t, 0) > 0 ? 0 : -EINVAL;
	if (rc == 0)
		rc = produce_str(t, 0, "k1=during\n");
	if (rc == 0)
		rc = topic_fsync(t, 0);
	hold_done(&hold.calls_rc, &hold.calls_done, rc);
	return NULL;
}

static void *delete_c(void *arg)
{
	hold_done(&hold.delete_rc, &hold.delete_done, broker_topic_delete(arg, "c"));
	return NULL;
}

/* A clean in progress does not hold the topic: a .config write, chmod,
 * stat, write and fsync on it complete while the clean is held, and rmdir
 * marks the topic deleted at once, then waits for the clean to stop before
 * the directory goes, so a topic made again under the name is untouched. */
static void test_clean_does_not_hold_topic(void **state)
{
	struct fx *f = *state;
	static const char cfg[] = "cleanup.policy=compact\nsegment.bytes=1024\n"
				  "min.cleanable.dirty.ratio=0.01\nkey.separator==\n";
	struct topic *t;
	pthread_t th, del;
	char line[64];
	DIR *d;
	struct dirent *de;

	broker_close(f->b);
	f->cfg.cleaner_backoff_ms = 10;
	f->cfg.flush_scheduler_ms = 10;
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	hold.entered = false;
	hold.release = false;
	hold.calls_done = hold.delete_done = false;
	engine_clean_hook = hold_clean;
	assert_int_equal(broker_topic_create(f->b, "c", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, cfg, sizeof(cfg) - 1), 0);
	for (int i = 0; i < 300; i++) {
		snprintf(line, sizeof(line), "k%d=value-%d-xxxxxxxxxxxxxxxx\n", i % 10, i);
		assert_int_equal(produce_str(t, 0, line), 0);
	}
	assert_true(hold_wait(&hold.entered));

	assert_int_equal(pthread_create(&th, NULL, topic_calls, t), 0);
	assert_true(hold_wait(&hold.calls_done));
	assert_int_equal(hold.calls_rc, 0);
	pthread_join(th, NULL);

	assert_int_equal(pthread_create(&del, NULL, delete_c, f->b), 0);
	for (int i = 0; i < 600000 && !topic_deleted(t); i++)
		usleep(100);
	assert_true(topic_deleted(t));
	assert_int_equal(topic_line_size(t, 0), -ENOENT);
	hold_release();
	assert_true(hold_wait(&hold.delete_done));
	pthread_join(del, NULL);
	assert_int_equal(hold.delete_rc, 0);
	topic_put(t);
	assert_false(path_exists(f, "c-0"));

	assert_int_equal(broker_topic_create(f->b, "c", 0, 0, 0755, &t), 0);
	assert_int_equal(produce_str(t, 0, "new\n"), 0);
	assert_reads(t, 0, "new\n");
	topic_put(t);
	snprintf(line, sizeof(line), "%s/c-0", f->cfg.data_dir);
	d = opendir(line);
	assert_non_null(d);
	while ((de = readdir(d)))
		assert_null(strstr(de->d_name, ".cleaned"));
	closedir(d);
}

/* The stderr lines written while fn(f) runs, at level MQ_WARN and up,
 * into logged (cap bytes, NUL-terminated), and echoed. */
static void warned_during(struct fx *f, void (*fn)(struct fx *f), char *logged, size_t cap)
{
	char logpath[] = "/tmp/mqfs-test-broker-log.XXXXXX";
	int lfd = mkstemp(logpath), saved = dup(2);
	ssize_t n;

	assert_true(lfd >= 0 && saved >= 0);
	unlink(logpath); /* read through lfd; nothing left behind if a check fails */
	dup2(lfd, 2);
	mq_log_init(MQ_WARN, false);
	fn(f);
	mq_log_init(MQ_ERR, false);
	dup2(saved, 2);
	close(saved);
	n = pread(lfd, logged, cap - 1, 0);
	close(lfd);
	logged[n > 0 ? n : 0] = '\0';
	fputs(logged, stderr);
}

static void open_broker(struct fx *f)
{
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
}

/* An interrupted delete leaves logs without metadata: they stay on disk
 * until a topic of that name is created, which must not see them. */
static void test_orphan_logs(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	char path[4400];

	assert_int_equal(broker_topic_create(f->b, "orph", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "partitions=2\n", 13), 0);
	assert_int_equal(produce_str(t, 0, "stale\n"), 0);
	assert_int_equal(produce_str(t, 1, "stale\n"), 0);
	topic_put(t);
	broker_close(f->b);
	f->b = NULL;
	snprintf(path, sizeof(path), "%s/meta/topics/orph.properties", f->cfg.data_dir);
	assert_int_equal(unlink(path), 0);
	/* One log line for the topic's orphans, not one per partition. */
	char logged[8192];

	warned_during(f, open_broker, logged, sizeof(logged));
	assert_non_null(strstr(logged,
			       "WARN 2 log(s) of orph (partitions 0 to 1) belong to no topic "
			       "(interrupted delete?): left in place"));
	assert_null(strstr(strstr(logged, "belong to no topic") + 1, "belong to no topic"));
	assert_int_equal(broker_topic_get(f->b, "orph", &t), -ENOENT);
	assert_true(path_exists(f, "orph-0"));
	assert_true(path_exists(f, "orph-1"));
	assert_int_equal(broker_topic_create(f->b, "orph", 0, 0, 0755, &t), 0);
	assert_int_equal(leo(t, 0), 0);
	assert_false(path_exists(f, "orph-1"));
	assert_int_equal(topic_config_write(t, "partitions=2\n", 13), 0);
	assert_int_equal(leo(t, 1), 0);
	assert_reads(t, 1, "");
	topic_put(t);
}

static void test_corrupt_meta(void **state)
{
	struct fx *f = *state;
	char path[4400];
	FILE *fp;

	assert_int_equal(broker_topic_create(f->b, "ok", 0, 0, 0755, NULL), 0);
	broker_close(f->b);
	f->b = NULL;
	snprintf(path, sizeof(path), "%s/meta/topics/bad.properties", f->cfg.data_dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("topic=bad\nuid=0\ngid=0\nmode=0755\nctime.ms=1\npartitions=x\n", fp);
	fclose(fp);
	assert_int_equal(broker_open(&f->cfg, &f->b), -EBADMSG);
	assert_null(f->b);
	/* a name that does not match the file */
	fp = fopen(path, "w");
	fputs("topic=other\nuid=0\ngid=0\nmode=0755\nctime.ms=1\npartitions=1\n", fp);
	fclose(fp);
	assert_int_equal(broker_open(&f->cfg, &f->b), -EBADMSG);
	/* missing owner */
	fp = fopen(path, "w");
	fputs("topic=bad\npartitions=1\n", fp);
	fclose(fp);
	assert_int_equal(broker_open(&f->cfg, &f->b), -EBADMSG);
	/* fixed: opens */
	fp = fopen(path, "w");
	fputs("# c\ntopic=bad\nuid=0\ngid=0\nmode=0755\nctime.ms=1\npartitions=1\n", fp);
	fclose(fp);
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	/* tmp files of an interrupted write are ignored, and removed (one
	 * of a topic deleted since would stay for good otherwise) */
	snprintf(path, sizeof(path), "%s/meta/topics/ok.properties.tmp", f->cfg.data_dir);
	fp = fopen(path, "w");
	fputs("garbage", fp);
	fclose(fp);
	reopen(f);
	assert_false(path_exists(f, "meta/topics/ok.properties.tmp"));
	assert_true(path_exists(f, "meta/topics/ok.properties"));
}

static void test_catalog_parse(void **state)
{
	struct fx *f = *state;
	struct catalog_entry e;
	char err[256];
	const char *ok = "topic=x\nuid=1\ngid=2\nmode=0640\nctime.ms=3\npartitions=4";
	const char *spaced = " # c\r\n\n topic = x \nuid=1\ngid=2\nmode=640\nctime.ms=3\n"
			     "partitions = 4\r\nkey.separator = =>\n";
	const char *bad[] = {
		"topic=x\nuid=1\ngid=2\nmode=0640\nctime.ms=3\n", /* no partitions */
		"topic=x\nuid=-1\ngid=2\nmode=0640\nctime.ms=3\npartitions=1\n",
		"topic=x\nuid=1\ngid=2\nmode=08\nctime.ms=3\npartitions=1\n",
		"topic=x\nuid=1\ngid=2\nmode=10000\nctime.ms=3\npartitions=1\n",
		"topic=a/b\nuid=1\ngid=2\nmode=0640\nctime.ms=3\npartitions=1\n",
		"topic=x\nuid=1\ngid=2\nmode=0640\nctime.ms=3\npartitions=1\nbogus\n",
		"topic=x\nuid=1\ngid=2\nmode=0640\nctime.ms=3\npartitions=1\nbogus=1\n",
		"",
	};

	assert_int_equal(catalog_parse(f->b, ok, strlen(ok), &e, err, sizeof(err)), 0);
	assert_string_equal(e.name, "x");
	assert_int_equal(e.uid, 1);
	assert_int_equal(e.gid, 2);
	assert_int_equal(e.mode, 0640);
	assert_int_equal(e.ctime_ms, 3);
	assert_int_equal(e.cfg.partitions, 4);
	assert_int_equal(catalog_parse(f->b, spaced, strlen(spaced), &e, err, sizeof(err)), 0);
	assert_string_equal(e.name, "x");
	assert_int_equal(e.mode, 0640);
	assert_int_equal(e.cfg.partitions, 4);
	assert_int_equal(e.cfg.log.key_sep_len, 2);
	assert_memory_equal(e.cfg.log.key_sep, "=>", 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(catalog_parse(f->b, bad[i], strlen(bad[i]), &e, err, sizeof(err)),
				 -EBADMSG);
}

/* The dynamic broker settings as topic defaults: every topic here takes
 * them at once for what it does not override, on its partitions' logs;
 * an override wins; a topic made later takes them; removed, the file's
 * defaults come back; never written into a topic's catalog file as an
 * override (a restart would pin them). */
static void test_dynamic_defaults(void **state)
{
	struct fx *f = *state;
	struct zk_config self = { 0 }, def = { 0 };
	struct cluster_config net;
	struct topic *a, *b, *c;
	struct topic_config tc;
	struct log_config lc;
	char path[4400], text[4096];
	size_t n;
	FILE *fp;

	assert_int_equal(broker_topic_create(f->b, "a", 0, 0, 0755, &a), 0);
	assert_int_equal(broker_topic_create(f->b, "b", 0, 0, 0755, &b), 0);
	assert_int_equal(topic_config_write(a, "partitions=2\n", 13), 0);
	assert_int_equal(topic_config_write(b, "segment.bytes=3000000\n", 22), 0);
	assert_int_equal(zk_config_put(&def, "log.segment.bytes", 17, "1000000", 7), 0);
	assert_int_equal(zk_config_put(&def, "log.retention.ms", 16, "3600000", 7), 0);
	assert_int_equal(zk_config_put(&def, "leader.replication.throttled.rate", 33, "5", 1), 0);
	assert_int_equal(zk_config_put(&self, "log.retention.ms", 16, "60000", 5), 0);
	assert_int_equal(topics_cluster_broker_defaults(f->b, &self, &def, &net), 0);
	assert_int_equal(topic_config_get(a, &tc), 0);
	assert_int_equal(tc.log.segment_bytes, 1000000);
	assert_int_equal(tc.log.retention_ms, 60000); /* this broker's over the default */
	for (int p = 0; p < 2; p++) {
		log_get_config(a->parts[p]->log, &lc);
		assert_int_equal(lc.segment_bytes, 1000000);
		assert_int_equal(lc.retention_ms, 60000);
	}
	assert_int_equal(topic_config_get(b, &tc), 0);
	assert_int_equal(tc.log.segment_bytes, 3000000); /* its override */
	assert_int_equal(tc.log.retention_ms, 60000);
	log_get_config(b->parts[0]->log, &lc);
	assert_int_equal(lc.segment_bytes, 3000000);
	/* a topic made now */
	assert_int_equal(broker_topic_create(f->b, "c", 0, 0, 0755, &c), 0);
	assert_int_equal(topic_config_get(c, &tc), 0);
	assert_int_equal(tc.log.segment_bytes, 1000000);
	/* the catalog keeps overrides only */
	snprintf(path, sizeof(path), "%s/meta/topics/a.properties", f->cfg.data_dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	assert_null(strstr(text, "segment.bytes"));
	assert_null(strstr(text, "retention.ms"));
	/* removed: the file's defaults again */
	zk_config_clear(&self);
	zk_config_clear(&def);
	assert_int_equal(topics_cluster_broker_defaults(f->b, &self, &def, &net), 0);
	assert_int_equal(topic_config_get(a, &tc), 0);
	assert_int_equal(tc.log.segment_bytes, f->cfg.log.segment_bytes);
	assert_int_equal(tc.log.retention_ms, f->cfg.log.retention_ms);
	log_get_config(a->parts[1]->log, &lc);
	assert_int_equal(lc.segment_bytes, f->cfg.log.segment_bytes);
	assert_int_equal(topic_config_get(b, &tc), 0);
	assert_int_equal(tc.log.segment_bytes, 3000000);
	topic_put(a);
	topic_put(b);
	topic_put(c);
}

/* Both lags of topic name, in its settings and its partition 0's log. */
static void assert_lags(struct fx *f, const char *name, int64_t min, int64_t max)
{
	struct topic_config tc;
	struct log_config lc;
	struct topic *t;

	assert_int_equal(broker_topic_get(f->b, name, &t), 0);
	assert_int_equal(topic_config_get(t, &tc), 0);
	assert_int_equal(tc.log.min_compaction_lag_ms, min);
	assert_int_equal(tc.log.max_compaction_lag_ms, max);
	log_get_config(t->parts[0]->log, &lc);
	assert_int_equal(lc.min_compaction_lag_ms, min);
	assert_int_equal(lc.max_compaction_lag_ms, max);
	topic_put(t);
}

/* Topic "lag", compacted, with min.compaction.lag.ms=5000 (below the
 * broker's max when made). */
static void make_lag_topic(struct fx *f)
{
	const char *set = "cleanup.policy=compact\nmin.compaction.lag.ms=5000\n";
	struct topic *t;

	assert_int_equal(broker_topic_create(f->b, "lag", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, set, strlen(set)), 0);
	topic_put(t);
}

#define LAG_CONFLICT_WARN                                                               \
	"WARN topic lag: conflict topic config setting min.compaction.lag.ms (5000) > " \
	"max.compaction.lag.ms (1000): taken as it is"

/* Settings stored are loaded, not set (Kafka's LogConfig.fromProps): a
 * min.compaction.lag.ms override above a max.compaction.lag.ms default
 * lowered since in the config file does not stop the start; the topic
 * and its log take both, a WARN names the topic and the pair; a .config
 * write that leaves them so is refused (Kafka's AlterConfigs checks the
 * whole), one that makes them agree is taken. */
static void test_lag_conflict_start(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	char logged[8192];

	make_lag_topic(f);
	broker_close(f->b);
	f->b = NULL;
	f->cfg.log.max_compaction_lag_ms = 1000;
	warned_during(f, open_broker, logged, sizeof(logged));
	assert_non_null(strstr(logged, LAG_CONFLICT_WARN));
	assert_lags(f, "lag", 5000, 1000);
	assert_int_equal(broker_topic_get(f->b, "lag", &t), 0);
	assert_int_equal(topic_config_write(t, "retention.ms=1000\n", 18), -EINVAL);
	assert_int_equal(topic_config_write(t, "min.compaction.lag.ms=500\n", 26), 0);
	topic_put(t);
	assert_lags(f, "lag", 500, 1000);
}

static struct zk_config lag_self, lag_def;

static void take_lag_defaults(struct fx *f)
{
	struct cluster_config net;

	assert_int_equal(topics_cluster_broker_defaults(f->b, &lag_self, &lag_def, &net), 0);
}

/* A new dynamic broker default (AlterConfigs on the broker) that a
 * topic's override disagrees with: the topic takes it all the same, as
 * Kafka's DynamicLogConfig.reconfigure gives every log its defaults and
 * overrides without a check; a WARN names it. Topics without the
 * conflict take it too. */
static void test_lag_conflict_dynamic(void **state)
{
	struct fx *f = *state;
	char logged[8192];

	make_lag_topic(f);
	assert_int_equal(broker_topic_create(f->b, "plain", 0, 0, 0755, NULL), 0);
	assert_int_equal(
		zk_config_put(&lag_def, "log.cleaner.max.compaction.lag.ms", 33, "1000", 4), 0);
	warned_during(f, take_lag_defaults, logged, sizeof(logged));
	zk_config_clear(&lag_def);
	assert_non_null(strstr(logged, LAG_CONFLICT_WARN));
	assert_lags(f, "lag", 5000, 1000);
	assert_lags(f, "plain", 0, 1000);
}

/* Kafka's other reconfigurable settings apply at once: the cleaner
 * (its new backoff, and a pass at once, as Kafka's restarted cleaner
 * threads), the producer ids' expiry, the listener's limits (*net) and
 * MNT/.config; a combination of the two levels that does not check is
 * logged and the settings in effect stay, as Kafka's. */
static void test_dynamic_reconfigure(void **state)
{
	struct fx *f = *state;
	struct zk_config self = { 0 }, def = { 0 };
	struct cluster_config net = { 0 };
	struct topic_config tc;
	struct topic *t;
	char *text = NULL;
	size_t len = 0;
	int64_t passes, end;

	assert_int_equal(broker_topic_create(f->b, "t", 0, 0, 0755, &t), 0);
	passes = atomic_load(&f->b->cleaner_passes);
	assert_int_equal(zk_config_put(&def, "log.cleaner.backoff.ms", 22, "86400000", 8), 0);
	assert_int_equal(zk_config_put(&def, "producer.id.expiration.ms", 25, "60000", 5), 0);
	assert_int_equal(zk_config_put(&def, "max.connections", 15, "9", 1), 0);
	assert_int_equal(zk_config_put(&def, "log.cleaner.max.compaction.lag.ms", 33, "1000", 4),
			 0);
	assert_int_equal(zk_config_put(&self, "max.connections.per.ip", 22, "4", 1), 0);
	assert_int_equal(zk_config_put(&self, "log.cleaner.dedupe.buffer.size", 30, "2097152", 7),
			 0);
	assert_int_equal(topics_cluster_broker_defaults(f->b, &self, &def, &net), 0);
	assert_int_equal(atomic_load(&f->b->cleaner_backoff_ms), 86400000);
	assert_int_equal(atomic_load(&f->b->cleaner_dedupe_bytes), 2097152);
	assert_int_equal(f->b->producer_id_expiration_ms, 60000);
	assert_int_equal(net.net.max_connections, 9);
	assert_int_equal(net.net.max_connections_per_ip, 4);
	/* the change starts a pass at once, whatever the backoff */
	end = now_mono_ms() + 10000;
	while (atomic_load(&f->b->cleaner_passes) == passes && now_mono_ms() < end)
		usleep(10000);
	assert_true(atomic_load(&f->b->cleaner_passes) > passes);
	assert_int_equal(broker_config_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "\nlog.cleaner.backoff.ms=86400000\n"));
	assert_non_null(strstr(text, "\nproducer.id.expiration.ms=60000\n"));
	free(text);
	/* this broker's min above the default's max: refused as a whole,
	 * nothing of it applies (not even the backoff) */
	assert_int_equal(zk_config_put(&self, "log.cleaner.min.compaction.lag.ms", 33, "5000", 4),
			 0);
	assert_int_equal(zk_config_put(&self, "log.cleaner.backoff.ms", 22, "100", 3), 0);
	assert_int_equal(zk_config_put(&self, "unclean.leader.election.enable", 30, "true", 4), 0);
	memset(&net, 0, sizeof(net));
	assert_int_equal(topics_cluster_broker_defaults(f->b, &self, &def, &net), 0);
	assert_int_equal(atomic_load(&f->b->cleaner_backoff_ms), 86400000);
	assert_false(net.unclean_leader_election);    /* the controller's stays */
	assert_int_equal(net.net.max_connections, 9); /* the ones in effect */
	assert_int_equal(net.net.max_connections_per_ip, 4);
	assert_int_equal(topic_config_get(t, &tc), 0);
	assert_int_equal(tc.log.min_compaction_lag_ms, 0);
	assert_int_equal(tc.log.max_compaction_lag_ms, 1000);
	assert_int_equal(broker_config_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "\nlog.cleaner.backoff.ms=86400000\n"));
	free(text);
	/* all removed: the file's again */
	zk_config_clear(&self);
	zk_config_clear(&def);
	assert_int_equal(topics_cluster_broker_defaults(f->b, &self, &def, &net), 0);
	assert_int_equal(atomic_load(&f->b->cleaner_backoff_ms), f->cfg.cleaner_backoff_ms);
	assert_int_equal(f->b->producer_id_expiration_ms, f->cfg.producer_id_expiration_ms);
	assert_int_equal(net.net.max_connections, f->cfg.cluster.net.max_connections);
	topic_put(t);
}

static void test_names(void **state)
{
	struct fx *f = *state;
	char name[300];
	struct topic *t;
	char **names;
	int n;

	assert_false(topic_name_valid(""));
	assert_false(topic_name_valid("."));
	assert_false(topic_name_valid(".."));
	assert_false(topic_name_valid("a/b"));
	assert_false(topic_name_valid("a b"));
	assert_false(topic_name_valid("a\nb"));
	assert_false(topic_name_valid("caf\xc3\xa9"));
	assert_false(topic_name_valid(NULL));
	assert_true(topic_name_valid("a.b_c-D9"));
	assert_true(topic_name_valid("..."));
	memset(name, 'n', 250);
	name[250] = '\0';
	assert_false(topic_name_valid(name));
	assert_int_equal(broker_topic_create(f->b, name, 0, 0, 0755, NULL), -EINVAL);
	assert_int_equal(broker_topic_create(f->b, "a/b", 0, 0, 0755, NULL), -EINVAL);
	assert_int_equal(broker_topic_create(f->b, "..", 0, 0, 0755, NULL), -EINVAL);
	/* 249 characters: valid, survives a reopen (metadata file name cut) */
	name[249] = '\0';
	assert_true(topic_name_valid(name));
	assert_int_equal(broker_topic_create(f->b, name, 0, 0, 0755, &t), 0);
	assert_int_equal(produce_str(t, 0, "long\n"), 0);
	topic_put(t);
	/* the group coordinator made it at broker_open */
	assert_int_equal(broker_topic_create(f->b, "__consumer_offsets", 0, 0, 0755, NULL),
			 -EEXIST);
	assert_int_equal(broker_topic_create(f->b, "b", 0, 0, 0755, NULL), 0);
	assert_int_equal(broker_topic_create(f->b, "a", 0, 0, 0755, NULL), 0);
	reopen(f);
	assert_int_equal(broker_topic_get(f->b, name, &t), 0);
	assert_reads(t, 0, "long\n");
	topic_put(t);
	assert_int_equal(broker_topic_get(f->b, "__consumer_offsets", &t), 0);
	topic_put(t);
	assert_int_equal(broker_topic_list(f->b, false, &names, &n), 0);
	assert_int_equal(n, 3); /* internal topic left out */
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "b");
	assert_string_equal(names[2], name);
	broker_names_free(names, n);
	assert_int_equal(broker_topic_list(f->b, true, &names, &n), 0);
	assert_int_equal(n, 4); /* "__" sorts first */
	assert_string_equal(names[0], "__consumer_offsets");
	assert_string_equal(names[1], "a");
	broker_names_free(names, n);
	assert_int_equal(broker_topic_delete(f->b, name), 0);
	/* created again, it starts empty (or fails while its old log cannot
	 * be dropped), never with the old records */
	if (broker_topic_create(f->b, name, 0, 0, 0755, &t) == 0) {
		assert_int_equal(leo(t, 0), 0);
		topic_put(t);
	}
}

static void test_partitioner(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	const char *keys[] = { "21", "foobar", "abc", "a-little-bit-long-string" };
	char want[3][256] = { "", "", "" };
	char in[1024] = "";
	size_t len;

	assert_int_equal(broker_topic_create(f->b, "spread", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "partitions=3\n", 13), 0);
	/* keyless: round-robin, one record each */
	assert_int_equal(produce_str(t, -1, "a\nb\nc\nd\ne\nf\n"), 0);
	for (int p = 0; p < 3; p++)
		assert_int_equal(leo(t, p), 2);
	topic_put(t);

	assert_int_equal(broker_topic_create(f->b, "hashed", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "partitions=3\nkey.separator=:\n", 29), 0);
	for (int r = 0; r < 2; r++) {
		for (size_t i = 0; i < 4; i++) {
			uint32_t h = broker_murmur2(keys[i], strlen(keys[i])) & 0x7fffffff;
			char line[64];

			snprintf(line, sizeof(line), "%s:%d%zu\n", keys[i], r, i);
			strcat(in, line);
			strcat(want[h % 3], line);
		}
	}
	assert_int_equal(produce_str(t, -1, in), 0);
	for (int p = 0; p < 3; p++) {
		char *got = read_all(t, p, &len);

		assert_string_equal(got, want[p]);
		free(got);
	}
	topic_put(t);
}

static void test_views(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	char *text;
	size_t len;

	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "partitions=2\n", 13), 0);
	assert_int_equal(produce_str(t, 0, "a\nb\nc\n"), 0);
	assert_int_equal(produce_str(t, 1, "d\n"), 0);

	assert_int_equal(topic_state_text(t, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_non_null(strstr(text, "partition  log_start_offset  high_watermark  "
				     "log_end_offset  leader  leader_epoch  replicas  isr  "
				     "size_bytes  segments  dirty_ratio\n"));
	{
		const char *row = strchr(text, '\n') + 1;
		long long lso, hw, end, size;
		int part, leader, epoch, segs;
		char rep[16], isr[16];

		assert_int_equal(sscanf(row, "%d %lld %lld %lld %d %d %15s %15s %lld %d", &part,
					&lso, &hw, &end, &leader, &epoch, rep, isr, &size, &segs),
				 10);
		assert_int_equal(part, 0);
		assert_int_equal(lso, 0);
		assert_int_equal(hw, 3);
		assert_int_equal(end, 3);
		assert_int_equal(leader, 0);
		assert_int_equal(epoch, 0);
		assert_string_equal(rep, "[0]");
		assert_string_equal(isr, "[0]");
		assert_true(size > 0);
		assert_int_equal(segs, 1);
		/* aligned: every row as long as the header */
		assert_int_equal(strchr(row, '\n') - row, strlen(strchr(row, '\n') + 1) - 1);
	}
	free(text);

	assert_int_equal(broker_metrics_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "# TYPE mqfs_records_in_total counter\n"));
	assert_non_null(strstr(text, "mqfs_records_in_total{topic=\"orders\"} 4\n"));
	assert_non_null(strstr(text, "# HELP mqfs_log_end_offset "));
	assert_non_null(strstr(text, "mqfs_log_end_offset{topic=\"orders\",partition=\"0\"} 3\n"));
	assert_non_null(strstr(text, "mqfs_high_watermark{topic=\"orders\",partition=\"1\"} 1\n"));
	assert_non_null(strstr(text, "mqfs_batches_in_total{topic=\"orders\"} 2\n"));
	assert_non_null(strstr(text, "mqfs_bytes_in_total{topic=\"orders\"} "));
	assert_non_null(strstr(text, "mqfs_log_segments{topic=\"orders\",partition=\"1\"} 1\n"));
	assert_non_null(strstr(text, "mqfs_process_resident_memory_bytes "));
	assert_non_null(strstr(text, "mqfs_process_open_fds "));
	assert_null(strstr(text, "mqfs_process_open_fds -1"));
	free(text);

	assert_int_equal(broker_state_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "broker.id=0\ncontroller=0\nbrokers=[0]\n"));
	assert_non_null(strstr(text, "topics=1\n"));
	assert_non_null(strstr(text, "last.shutdown=none\n"));
	free(text);
	reopen(f);
	assert_int_equal(broker_state_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "last.shutdown=clean\n"));
	free(text);

	assert_int_equal(broker_config_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "num.partitions=1\n"));
	free(text);
	topic_put(t);
}

static void test_flush_messages(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	struct log_state st;

	assert_int_equal(broker_topic_create(f->b, "durable", 0, 0, 0755, &t), 0);
	assert_int_equal(produce_str(t, 0, "a\nb\n"), 0);
	assert_int_equal(topic_log_state(t, 0, &st), 0);
	assert_int_equal(st.synced_offset, 0);
	assert_int_equal(topic_config_write(t, "flush.messages=3\n", 17), 0);
	assert_int_equal(produce_str(t, 0, "c\n"), 0);
	assert_int_equal(topic_log_state(t, 0, &st), 0);
	assert_int_equal(st.synced_offset, 3);
	assert_int_equal(produce_str(t, 0, "d\n"), 0);
	assert_int_equal(topic_log_state(t, 0, &st), 0);
	assert_int_equal(st.synced_offset, 3);
	assert_int_equal(topic_fsync(t, 0), 0);
	assert_int_equal(topic_log_state(t, 0, &st), 0);
	assert_int_equal(st.synced_offset, 4);
	/* Records on disk, indexes left to the background flush: the
	 * recovery point stays. */
	assert_int_equal(st.recovery_point, 0);
	topic_put(t);
}

/* flush.ms: the scheduler thread flushes within about a second. */
static void test_flush_ms(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	struct log_state st;

	assert_int_equal(broker_topic_create(f->b, "timed", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, "flush.ms=0\n", 11), 0);
	assert_int_equal(produce_str(t, 0, "a\nb\n"), 0);
	for (int i = 0; i < 40; i++) {
		assert_int_equal(topic_log_state(t, 0, &st), 0);
		if (st.recovery_point == 2)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(st.recovery_point, 2);
	topic_put(t);
}

/* 40 records of 40 bytes into partition 0 of t: rolls at
 * segment.bytes=1024. */
static void produce_values(struct topic *t)
{
	char line[64];

	for (int i = 0; i < 40; i++) {
		snprintf(line, sizeof(line), "value-%d-xxxxxxxxxxxxxxxxxxxxxxxx\n", i);
		assert_int_equal(produce_str(t, 0, line), 0);
	}
}

/* Whether the log_state field at offset off of partition 0 of t comes
 * above 0 within ms. */
static bool state_reaches(struct topic *t, size_t off, int64_t ms)
{
	int64_t end = now_mono_ms() + ms, v;
	struct log_state st;

	do {
		assert_int_equal(topic_log_state(t, 0, &st), 0);
		memcpy(&v, (const char *)&st + off, sizeof(v));
		if (v > 0)
			return true;
		usleep(20 * 1000);
	} while (now_mono_ms() < end);
	return false;
}

/* setup with the scheduler's retention check every 2 s: longer than its
 * tick of a second. */
static int setup_slow_retention(void **state)
{
	return setup_check(state, 2000);
}

/* Waits until the scheduler sleeps past its tick of a second: to its
 * next deadline, no log having work for it. */
static void sched_asleep_long(struct broker *b)
{
	int64_t end = now_mono_ms() + 10000;

	while (atomic_load(&b->sched_sleep_ms) <= 1000 && now_mono_ms() < end)
		usleep(10 * 1000);
	assert_true(atomic_load(&b->sched_sleep_ms) > 1000);
}

/* At rest the scheduler sleeps to its next deadline (the checkpoint, a
 * minute), not a second at a time; a roll meanwhile wakes it to flush
 * the closed segment within its tick (the logs' work listener). */
static void test_sched_sleeps_to_deadline(void **state)
{
	static const char conf[] = "segment.bytes=1024\n";
	struct fx *f = *state;
	struct topic *t;

	assert_int_equal(broker_topic_create(f->b, "idle", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, conf, strlen(conf)), 0);
	sched_asleep_long(f->b);
	produce_values(t);
	/* Rolled while it slept: the closed segments are flushed within its
	 * tick, not at the checkpoint a minute later. */
	assert_true(state_reaches(t, offsetof(struct log_state, recovery_point), 10000));
	topic_put(t);
}

/* The retention check comes at its time (log.retention.check.interval.ms,
 * 2 s here) while the scheduler sleeps: the records grow older than
 * retention.ms with nothing to wake it. */
static void test_sched_retention_on_time(void **state)
{
	static const char ret[] = "segment.bytes=1024\nretention.ms=3000\n";
	struct fx *f = *state;
	struct topic *t;

	assert_int_equal(broker_topic_create(f->b, "idle", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, ret, strlen(ret)), 0);
	produce_values(t);
	sched_asleep_long(f->b);
	assert_true(state_reaches(t, offsetof(struct log_state, log_start_offset), 15000));
	topic_put(t);
}

/* The wall clock steps back a day (an NTP correction, a date set by hand)
 * after the broker opened and the partition was made: the scheduler's
 * intervals are measured on the monotonic clock, so flush.ms still
 * flushes and retention (here by retention.bytes, which no clock moves)
 * still runs every log.retention.check.interval.ms. On the wall clock
 * both would wait a day. */
static void test_wall_clock_step_back(void **state)
{
	static const char conf[] = "segment.bytes=1024\nretention.bytes=1024\nflush.ms=100\n";
	struct fx *f = *state;
	struct topic *t;
	struct log_state st;
	int64_t end;

	assert_int_equal(broker_topic_create(f->b, "stepped", 0, 0, 0755, &t), 0);
	assert_int_equal(topic_config_write(t, conf, strlen(conf)), 0);
	atomic_store(&clock_back_ms, 86400000);
	produce_values(t);
	end = now_mono_ms() + 20000;
	do {
		usleep(20 * 1000);
		assert_int_equal(topic_log_state(t, 0, &st), 0);
	} while ((st.recovery_point < 40 || st.log_start_offset == 0) && now_mono_ms() < end);
	/* .state's uptime: on the wall clock it read minus a day here. */
	{
		char *text, *up;
		size_t len;
		long long ms;

		assert_int_equal(broker_state_text(f->b, &text, &len), 0);
		up = strstr(text, "\nuptime.ms=");
		assert_non_null(up);
		assert_int_equal(sscanf(up, "\nuptime.ms=%lld", &ms), 1);
		assert_true(ms >= 0 && ms < 86400000);
		free(text);
	}
	atomic_store(&clock_back_ms, 0);
	assert_int_equal(st.recovery_point, 40);
	assert_true(st.log_start_offset > 0);
	topic_put(t);
}

struct lingered {
	struct topic *t;
	_Atomic int rc; /* 1 until the write returns */
};

static void *lingered_write(void *arg)
{
	struct lingered *w = arg;

	atomic_store(&w->rc, produce_str(w->t, 0, "late\n"));
	return NULL;
}

/* linger.ms waits on the monotonic clock: with the wall clock stepping
 * back a day as the write begins to linger, the write still returns
 * after its 50 ms (on the wall clock it would linger a day). */
static void test_linger_wall_clock_step(void **state)
{
	static const char conf[] = "linger.ms=50\n";
	struct fx *f = *state;
	struct lingered w = { .rc = 1 };
	pthread_t th;
	int64_t end;

	assert_int_equal(broker_topic_create(f->b, "lingered", 0, 0, 0755, &w.t), 0);
	assert_int_equal(topic_config_write(w.t, conf, strlen(conf)), 0);
	atomic_store(&realtime_ahead_ms, 86400000);
	assert_int_equal(pthread_create(&th, NULL, lingered_write, &w), 0);
	end = now_mono_ms() + 20000;
	while (atomic_load(&w.rc) == 1 && now_mono_ms() < end)
		usleep(10 * 1000);
	atomic_store(&realtime_ahead_ms, 0);
	if (atomic_load(&w.rc) == 1) /* still lingering: the deletion ends it */
		assert_int_equal(broker_topic_delete(f->b, "lingered"), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(atomic_load(&w.rc), 0);
	assert_reads(w.t, 0, "late\n");
	topic_put(w.t);
}

struct writer {
	struct topic *t;
	int id;
};

#define W_THREADS 4
#define W_WRITES  50
#define W_LINES   40

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char buf[W_LINES * 32];

	for (int k = 0; k < W_WRITES; k++) {
		size_t n = 0;

		for (int j = 0; j < W_LINES; j++)
			n += (size_t)sprintf(buf + n, "w%d-%d-%d\n", w->id, k, j);
		if (topic_produce(w->t, 0, buf, n, 0) != 0)
			return (void *)1;
	}
	return NULL;
}

/* Writers never interleave inside a write: its lines are contiguous. */
static void test_concurrent_writers(void **state)
{
	struct fx *f = *state;
	struct writer w[W_THREADS];
	pthread_t th[W_THREADS];
	struct topic *t;
	char *all, *p;
	size_t len;
	int count = 0;

	assert_int_equal(broker_topic_create(f->b, "busy4", 0, 0, 0755, &t), 0);
	for (int i = 0; i < W_THREADS; i++) {
		w[i].t = t;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < W_THREADS; i++) {
		void *r;

		pthread_join(th[i], &r);
		assert_null(r);
	}
	all = read_all(t, 0, &len);
	p = all;
	while (*p) {
		int id, k, j;

		assert_int_equal(sscanf(p, "w%d-%d-%d\n", &id, &k, &j), 3);
		assert_int_equal(j, 0);
		for (int jj = 0; jj < W_LINES; jj++) {
			char want[32];
			size_t wl = (size_t)sprintf(want, "w%d-%d-%d\n", id, k, jj);

			assert_memory_equal(p, want, wl);
			p += wl;
			count++;
		}
	}
	assert_int_equal(count, W_THREADS * W_WRITES * W_LINES);
	free(all);
	topic_put(t);
}

/* A process killed after producing: every record it appended is there
 * and committed at the next open (one node: hw = leo), even the ones after
 * the last hw checkpoint. */
static void test_crash_recovery(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	int status;
	pid_t pid;

	broker_close(f->b);
	f->b = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct broker *b;

		if (broker_open(&f->cfg, &b) != 0 ||
		    broker_topic_create(b, "crash", 0, 0, 0755, &t) != 0 ||
		    produce_str(t, 0, "a\n") != 0 || logmgr_checkpoint(b->m) != 0 ||
		    produce_str(t, 0, "b\nc\n") != 0)
			_exit(1);
		_exit(0); /* no broker_close: no marker, no flush */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	assert_int_equal(broker_topic_get(f->b, "crash", &t), 0);
	assert_reads(t, 0, "a\nb\nc\n");
	assert_int_equal(topic_line_size(t, 0), 6);
	{
		char *text;
		size_t len;

		assert_int_equal(broker_state_text(f->b, &text, &len), 0);
		assert_non_null(strstr(text, "last.shutdown=unclean\n"));
		free(text);
	}
	topic_put(t);
}

struct deleter_arg {
	struct topic *t;
	int enoent;
	int bad;
};

static void *produce_until_gone(void *arg)
{
	struct deleter_arg *a = arg;

	for (int i = 0; i < 100000; i++) {
		int rc = produce_str(a->t, 0, "x\ny\n");

		if (rc == -ENOENT) {
			a->enoent = 1;
			break;
		}
		if (rc != 0) {
			a->bad = rc;
			break;
		}
	}
	return NULL;
}

/* A topic deleted under its writers and readers: they get -ENOENT. */
static void test_delete_under_load(void **state)
{
	struct fx *f = *state;
	struct deleter_arg a[3];
	pthread_t th[3];
	char *text;
	size_t len;

	for (int round = 0; round < 5; round++) {
		struct topic *t;

		assert_int_equal(broker_topic_create(f->b, "hot", 0, 0, 0755, &t), 0);
		for (int i = 0; i < 3; i++) {
			a[i] = (struct deleter_arg){ .t = t };
			assert_int_equal(pthread_create(&th[i], NULL, produce_until_gone, &a[i]),
					 0);
		}
		usleep(20 * 1000);
		assert_int_equal(broker_metrics_text(f->b, &text, &len), 0);
		free(text);
		assert_int_equal(broker_topic_delete(f->b, "hot"), 0);
		for (int i = 0; i < 3; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(a[i].bad, 0);
			assert_int_equal(a[i].enoent, 1);
		}
		assert_int_equal(topic_state_text(t, &text, &len), -ENOENT);
		topic_put(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_produce_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_size_never_decreases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_name_collision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_instance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_name_collision_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_topic_partitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keyed_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emsgsize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keysep_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partitions_grow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_override_equal_to_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_incarnation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_after_appeared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appeared_after_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_while_delete_holds_topic, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_create_keeps_fd_reserve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_orphan_logs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_fails_midway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_does_not_hold_topic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_catalog_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lag_conflict_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lag_conflict_dynamic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynamic_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dynamic_reconfigure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partitioner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_views, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_ms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_sleeps_to_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sched_retention_on_time, setup_slow_retention,
						teardown),
		cmocka_unit_test_setup_teardown(test_wall_clock_step_back, setup_quick_retention,
						teardown),
		cmocka_unit_test_setup_teardown(test_linger_wall_clock_step, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_under_load, setup, teardown),
	};

	mq_log_init(MQ_ERR, false);
	engine_now_ms = stepped_clock;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
