/*
 * test_group.c — the group coordinator on a real broker in a tmpdir:
 * consume and commit (at-least-once), offsets replayed from
 * __consumer_offsets after a clean close and after a crash, replay after
 * the offsets log is compacted, rebalance on join and leave with takeover
 * from the committed offsets, resets and their refusals (times that do
 * not exist, reserved group names), deletion, wakes; the read offset as
 * the commit position (seeking back, reading past the end, re-reading
 * records compaction removed); nothing committed past a damaged batch;
 * the negative offsets a Kafka client may commit; the listener the mount
 * hears deleted groups by.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "repl/group_int.h"
#include "tests/unit/brokerfx.h"
#include "tests/unit/faultio.h"

struct fx {
	char dir[256];
	struct broker_config cfg;
	struct broker *b;
	struct topic *t;
};

static void fx_open(struct fx *f)
{
	assert_int_equal(broker_open(&f->cfg, &f->b), 0);
	if (broker_topic_get(f->b, "orders", &f->t) == -ENOENT) {
		assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, &f->t), 0);
		assert_int_equal(topic_config_write(f->t, "partitions=3\n", 13), 0);
	}
}

static void fx_close(struct fx *f)
{
	topic_put(f->t);
	f->t = NULL;
	broker_close(f->b);
	f->b = NULL;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/mqfs-test-group-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	broker_config_defaults(&f->cfg);
	snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/data", f->dir);
	mq_log_init(MQ_WARN, false);
	fx_open(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[300];

	if (f->b)
		fx_close(f);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void produce(struct fx *f, int p, const char *lines)
{
	assert_int_equal(topic_produce(f->t, p, lines, strlen(lines), 0), 0);
}

static atomic_int wakes;
static pthread_t waker; /* the thread of the latest wake */
static void on_wake(void *arg)
{
	(void)arg;
	waker = pthread_self();
	atomic_fetch_add(&wakes, 1);
}

/* A read at the end of the member's stream, as cat reads. */
static ssize_t consume(struct group_member *m, char *buf, size_t size)
{
	return group_consume(m, m->end, buf, size);
}

/* Everything a member can read now, appended to out. */
static size_t drain(struct group_member *m, char *out, size_t cap)
{
	size_t used = 0;
	ssize_t n;

	while ((n = consume(m, out + used, cap - used)) > 0)
		used += (size_t)n;
	assert_true(n == 0);
	out[used] = '\0';
	return used;
}

static int64_t offset_of(struct group *g, int p)
{
	int64_t off = -1;

	assert_int_equal(group_offset(g, p, &off), 0);
	return off;
}

static void test_consume_commit_replay(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[4096];

	produce(f, 0, "a\nb\n");
	produce(f, 1, "c\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE_EXCL, &g), 0);
	group_put(g);
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE_EXCL, &g), -EEXIST);
	assert_int_equal(group_open(f->t, "bad/name", GROUP_CREATE, &g), -EINVAL);
	/* dot-names are metadata, "__" names internal: not for new groups */
	assert_int_equal(group_open(f->t, ".x", GROUP_CREATE_EXCL, &g), -EINVAL);
	assert_int_equal(group_open(f->t, "__x", GROUP_CREATE, &g), -EINVAL);
	assert_non_null(group_name_refusal("__x"));
	assert_null(group_name_refusal("_x.y-z"));
	assert_int_equal(group_open(f->t, "_x.y-z", GROUP_CREATE_EXCL, &g), 0);
	group_put(g);
	assert_int_equal(group_open(f->t, "g", GROUP_LOOKUP, &g), 0);
	assert_int_equal(offset_of(g, 0), 0);
	assert_int_equal(group_join(g, 42, on_wake, NULL, &m), 0);
	assert_int_equal(drain(m, buf, sizeof(buf)), 6);
	/* all three lines, whole */
	assert_non_null(strstr(buf, "a\nb\n"));
	assert_non_null(strstr(buf, "c\n"));
	/* the read that found nothing committed the previous one */
	assert_int_equal(offset_of(g, 0), 2);
	assert_int_equal(offset_of(g, 1), 1);
	/* a read that is not followed by another stays uncommitted */
	produce(f, 2, "d\n");
	assert_int_equal(consume(m, buf, sizeof(buf)), 2);
	assert_int_equal(offset_of(g, 2), 0);
	group_leave(m);
	group_put(g);

	/* clean close and reopen: replayed */
	fx_close(f);
	fx_open(f);
	assert_int_equal(group_open(f->t, "g", GROUP_LOOKUP, &g), 0);
	assert_int_equal(offset_of(g, 0), 2);
	assert_int_equal(offset_of(g, 1), 1);
	assert_int_equal(offset_of(g, 2), 0);
	/* the uncommitted record comes again */
	assert_int_equal(group_join(g, 43, on_wake, NULL, &m), 0);
	assert_int_equal(drain(m, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "d\n");
	group_leave(m);
	group_put(g);
}

/* A record longer than the reader's buffer continues in the next read;
 * it is committed only once whole. */
static void test_long_record(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[64];

	produce(f, 0, "0123456789abcdef\nx\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m), 0);
	assert_int_equal(consume(m, buf, 10), 10);
	assert_memory_equal(buf, "0123456789", 10);
	/* the rest of the record, then whole lines only */
	assert_int_equal(consume(m, buf, 10), 9);
	assert_memory_equal(buf, "abcdef\nx\n", 9);
	assert_int_equal(offset_of(g, 0), 0); /* the first part was not a whole record */
	assert_int_equal(consume(m, buf, 10), 0);
	assert_int_equal(offset_of(g, 0), 2);
	group_leave(m);
	group_put(g);
}

/* The rest of a record returned in part comes first in the next read,
 * before the whole lines of the member's other partitions. */
static void test_long_record_continues_first(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[64];

	produce(f, 0, "0123456789abcdef\n");
	produce(f, 1, "x\n");
	produce(f, 2, "y\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m), 0);
	assert_int_equal(consume(m, buf, 10), 10);
	assert_memory_equal(buf, "0123456789", 10);
	assert_int_equal(consume(m, buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "abcdef\n", 7);
	assert_int_equal(consume(m, buf, sizeof(buf)), 0);
	assert_int_equal(offset_of(g, 0), 1);
	assert_int_equal(offset_of(g, 1), 1);
	assert_int_equal(offset_of(g, 2), 1);
	group_leave(m);
	group_put(g);
}

/* A record returned in part is finished in the next read also when its
 * partition moved to another member in between, or moved away and came
 * back (its position is then the committed one): the rest is not
 * committed by the old stream; the owner delivers the record whole. */
static void test_long_record_moved(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m1, *m2;
	char buf[64];

	produce(f, 2, "0123456789abcdef\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m1), 0);
	assert_int_equal(consume(m1, buf, 10), 10);
	assert_memory_equal(buf, "0123456789", 10);
	/* range: p2 goes to the second member */
	assert_int_equal(group_join(g, 2, on_wake, NULL, &m2), 0);
	assert_int_equal(consume(m1, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "abcdef\n", 7);
	assert_int_equal(consume(m1, buf, sizeof(buf)), 0);
	assert_int_equal(offset_of(g, 2), 0); /* not m1's to commit */
	assert_int_equal(consume(m2, buf, sizeof(buf)), 17);
	assert_memory_equal(buf, "0123456789abcdef\n", 17);
	assert_int_equal(consume(m2, buf, sizeof(buf)), 0);
	assert_int_equal(offset_of(g, 2), 1);

	/* away and back before the next read: the rest, then the record
	 * again from the committed offset */
	produce(f, 2, "ghijklmnopqrstuv\n");
	assert_int_equal(consume(m2, buf, 10), 10);
	assert_memory_equal(buf, "ghijklmnop", 10);
	group_leave(m1);
	assert_int_equal(group_join(g, 3, on_wake, NULL, &m1), 0);
	group_leave(m1);
	assert_int_equal(consume(m2, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "qrstuv\n", 7);
	assert_int_equal(consume(m2, buf, sizeof(buf)), 17);
	assert_memory_equal(buf, "ghijklmnopqrstuv\n", 17);
	assert_int_equal(consume(m2, buf, sizeof(buf)), 0);
	assert_int_equal(offset_of(g, 2), 2);
	group_leave(m2);
	group_put(g);
}

/* range over 3 partitions: join splits, leave hands over from the
 * committed offsets (the leaver's last read is delivered again). */
static void test_rebalance_takeover(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m1, *m2;
	char buf[4096], text[256];
	size_t len;
	char *st;

	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m1), 0);
	assert_int_equal(group_join(g, 2, on_wake, NULL, &m2), 0);
	assert_int_equal(group_state_text(g, &st, &len), 0);
	snprintf(text, sizeof(text), "member %s pid 1 partitions 0,1\n", group_member_id(m1));
	assert_non_null(strstr(st, text));
	snprintf(text, sizeof(text), "member %s pid 2 partitions 2\n", group_member_id(m2));
	assert_non_null(strstr(st, text));
	free(st);
	produce(f, 0, "p0a\n");
	produce(f, 2, "p2a\n");
	assert_int_equal(drain(m2, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "p2a\n");
	assert_int_equal(drain(m1, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "p0a\n");
	/* m2 reads p2b and leaves before reading again: not committed */
	produce(f, 2, "p2b\n");
	assert_int_equal(consume(m2, buf, sizeof(buf)), 4);
	assert_int_equal(group_offset_reset(g, 0, "0", 1), -EBUSY);
	group_leave(m2);
	assert_int_equal(drain(m1, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "p2b\n"); /* at-least-once */
	assert_int_equal(offset_of(g, 2), 2);
	assert_int_equal(group_delete(f->t, "g"), -EBUSY);
	group_leave(m1);
	group_put(g);
}

/* The topic grows while a member is active: the new partitions are
 * assigned at once, whichever call first notices the new count (here a
 * .state read, before any consume read). */
static void test_growth_rebalances(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[4096], text[256];
	size_t len;
	char *st;

	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m), 0);
	assert_int_equal(topic_config_write(f->t, "partitions=4\n", 13), 0);
	assert_int_equal(group_state_text(g, &st, &len), 0);
	snprintf(text, sizeof(text), "member %s pid 1 partitions 0,1,2,3\n", group_member_id(m));
	assert_non_null(strstr(st, text));
	free(st);
	produce(f, 3, "p3a\n");
	assert_int_equal(drain(m, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "p3a\n");
	group_leave(m);
	group_put(g);
}

/* Group g of f's topic with one member *m that found nothing and is
 * armed: parked as a consume read at the end; no wake counted yet. */
static void join_parked(struct fx *f, struct group **g, struct group_member **m)
{
	char buf[64];

	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, g), 0);
	assert_int_equal(group_join(*g, 1, on_wake, NULL, m), 0);
	assert_int_equal(consume(*m, buf, sizeof(buf)), 0);
	group_notify_settle((*g)->gc); /* the join's own wake-up is done */
	assert_int_equal(group_member_arm(*m), 0);
	atomic_store(&wakes, 0);
}

/* A member parked at the end is woken by a record in a partition the
 * topic grew (nothing else looked at the group meanwhile): its read gives
 * the partition out and returns the record. */
static void test_growth_wakes(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[64];

	join_parked(f, &g, &m);
	assert_int_equal(topic_config_write(f->t, "partitions=4\n", 13), 0);
	produce(f, 3, "p3a\n");
	group_notify_settle(g->gc);
	assert_int_equal(atomic_load(&wakes), 1);
	assert_int_equal(drain(m, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "p3a\n");
	group_member_disarm(m);
	group_leave(m);
	group_put(g);
}

/* cooperative-sticky: a member keeps reading the partitions it keeps. */
static void test_cooperative_keeps_position(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m1, *m2;
	char buf[4096];

	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(
		group_config_write(g, "partition.assignment.strategy=cooperative-sticky\n", 49), 0);
	assert_int_equal(group_config_write(g, "partition.assignment.strategy=x\n", 32), -EINVAL);
	/* a NUL byte in a line: garbage, not the value before it */
	assert_int_equal(group_config_write(g, "session.timeout.ms=6000\0x\n", 26), -EINVAL);
	assert_int_equal(group_config_write(g, "auto.offset.reset=latest\0junk\n", 30), -EINVAL);
	assert_int_equal(g->session_timeout_ms, 45000);
	assert_false(g->reset_latest);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m1), 0);
	produce(f, 0, "a\n");
	produce(f, 1, "b\n");
	produce(f, 2, "c\n");
	assert_int_equal(consume(m1, buf, sizeof(buf)), 6); /* not committed yet */
	assert_int_equal(group_join(g, 2, on_wake, NULL, &m2), 0);
	/* m1 kept two partitions at their positions; one moved to m2 and
	 * starts at its committed offset: exactly one record again. */
	assert_int_equal(drain(m1, buf, sizeof(buf)), 0);
	assert_int_equal(drain(m2, buf, sizeof(buf)), 2);
	group_leave(m1);
	group_leave(m2);
	group_put(g);
}

static void test_reset(void **state)
{
	struct fx *f = *state;
	struct group *g;
	int64_t t0;

	produce(f, 0, "a\nb\n");
	usleep(20000);
	t0 = engine_now_ms();
	usleep(20000);
	produce(f, 0, "c\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_offset_reset(g, 0, "latest\n", 7), 0);
	assert_int_equal(offset_of(g, 0), 3);
	assert_int_equal(group_offset_reset(g, 0, "1", 1), 0);
	assert_int_equal(offset_of(g, 0), 1);
	assert_int_equal(group_offset_reset(g, 0, "4", 1), -EINVAL);
	assert_int_equal(group_offset_reset(g, 0, "-1", 2), -EINVAL);
	assert_int_equal(group_offset_reset(g, 0, "x", 1), -EINVAL);
	assert_int_equal(group_offset_reset(g, 0, "@", 1), -EINVAL);
	/* a NUL byte in the value: garbage, not the value before it */
	assert_int_equal(group_offset_reset(g, 0, "latest\0junk", 11), -EINVAL);
	assert_int_equal(group_offset_reset(g, 0, "earliest\0\n", 10), -EINVAL);
	assert_int_equal(group_offset_reset(g, 0, "@2001-01-01\0zz", 14), -EINVAL);
	assert_int_equal(offset_of(g, 0), 1);
	{
		char v[40];
		int n = snprintf(v, sizeof(v), "@%lld", (long long)t0);

		assert_int_equal(group_offset_reset(g, 0, v, (size_t)n), 0);
		assert_int_equal(offset_of(g, 0), 2);
	}
	assert_int_equal(group_offset_reset(g, 0, "@2001-01-01T00:00:00Z", 21), 0);
	assert_int_equal(offset_of(g, 0), 0);
	assert_int_equal(group_offset_reset(g, 0, "@2999-01-01", 11), 0);
	assert_int_equal(offset_of(g, 0), 3);
	/* the same instant written with an offset: 1999-12-31T23:00-01:00 */
	assert_int_equal(group_offset_reset(g, 0, "@2000-01-01T00:00:00+01:00", 26), 0);
	assert_int_equal(offset_of(g, 0), 0);
	assert_int_equal(group_offset_reset(g, 0, "@2024-02-29T23:59:59.5Z", 23), 0);
	{
		/* dates and times that do not exist are refused, not rolled over */
		static const char *const bad[] = {
			"@2024-02-30",
			"@2023-02-29",
			"@2024-13-01",
			"@2024-00-10",
			"@2024-04-31",
			"@2024-05-01T24:00",
			"@2024-05-01T12:60",
			"@2024-05-01T12:00:60",
			"@2024-05-01T12:00+25:00",
			"@2024-05-01T12:00-13:00",
			"@2024-05-01T12:00+02:60",
			"@2024-05-01T12:00+2",
			"@2024-5-01",
			"@ 2024-05-01",
			"@2024-05-01T",
			"@2024-05-01T12:00:00.",
			"@2024-05-01x",
			"@2024-05-01T12:00Zx",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(group_offset_reset(g, 0, bad[i], strlen(bad[i])), -EINVAL);
	}
	assert_int_equal(group_offset_reset(g, 0, "@2024-05-01T12:00+14:00", 23), 0);
	assert_int_equal(group_offset_reset(g, 0, "@2024-05-01T12:00-1200", 22), 0);
	assert_int_equal(group_offset_reset(g, 7, "0", 1), -ENOENT);
	group_put(g);
}

/* The coordinator hook as group_serve.c sets it in a cluster: group "far"
 * is broker 2's, every other group this broker's. */
static int32_t far_coordinator(void *arg, const char *group)
{
	(void)arg;
	return strcmp(group, "far") ? -1 : 2;
}

static void test_remote_coordinator(void **state)
{
	struct fx *f = *state;
	struct group_coord *gc = f->b->gc;
	struct group *far, *near;
	struct group_member *m = NULL;

	produce(f, 0, "a\nb\n");
	assert_int_equal(group_open(f->t, "far", GROUP_CREATE, &far), 0);
	assert_int_equal(group_open(f->t, "near", GROUP_CREATE, &near), 0);
	assert_int_equal(group_offset_reset(far, 0, "1", 1), 0);
	pthread_mutex_lock(&gc->mu);
	gc->kafka_coordinator = far_coordinator;
	pthread_mutex_unlock(&gc->mu);

	/* A member of far joins at broker 2 (test_group_remote.c); with no
	 * way to reach it (no cluster here) the open is EAGAIN, retry. */
	assert_int_equal(group_join(far, 7, on_wake, NULL, &m), -EAGAIN);
	assert_null(m);
	assert_int_equal(far->nmembers, 0);
	/* Resets, settings and deletion go to broker 2 too: not reached,
	 * EAGAIN as the join, nothing changed here. */
	assert_int_equal(group_offset_reset(far, 0, "earliest", 8), -EAGAIN);
	assert_int_equal(offset_of(far, 0), 1);
	assert_int_equal(group_config_write(far, "partition.assignment.strategy=sticky\n", 37),
			 -EAGAIN);
	assert_int_equal(far->strategy, ASSIGN_RANGE);
	assert_int_equal(group_delete(f->t, "far"), -EAGAIN);
	/* A bad value is refused here, before any question to broker 2. */
	assert_int_equal(group_offset_reset(far, 0, "soon", 4), -EINVAL);
	assert_int_equal(group_config_write(far, "no.such.key=1\n", 14), -EINVAL);

	/* A group this broker coordinates is untouched by the hook. */
	assert_int_equal(group_offset_reset(near, 0, "latest", 6), 0);
	assert_int_equal(group_join(near, 8, on_wake, NULL, &m), 0);
	group_leave(m);

	pthread_mutex_lock(&gc->mu);
	gc->kafka_coordinator = NULL;
	pthread_mutex_unlock(&gc->mu);
	assert_int_equal(group_join(far, 9, on_wake, NULL, &m), 0);
	group_leave(m);
	group_put(near);
	group_put(far);
}

static void test_delete_and_replay(void **state)
{
	struct fx *f = *state;
	struct group *g;
	char **names;
	int n;

	assert_int_equal(group_open(f->t, "gone", GROUP_CREATE, &g), 0);
	assert_int_equal(group_offset_reset(g, 0, "0", 1), 0);
	group_put(g);
	assert_int_equal(group_open(f->t, "kept", GROUP_CREATE, &g), 0);
	group_put(g);
	assert_int_equal(group_delete(f->t, "gone"), 0);
	assert_int_equal(group_delete(f->t, "gone"), -ENOENT);
	fx_close(f);
	fx_open(f);
	assert_int_equal(group_list(f->t, &names, NULL, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "kept");
	broker_names_free(names, n);
}

/* The gone listener's calls, "topic/group;" each. */
static char gone_seen[256];
static void on_gone(void *arg, const char *topic, const char *group)
{
	size_t n = strlen(gone_seen);

	assert_ptr_equal(arg, gone_seen);
	snprintf(gone_seen + n, sizeof(gone_seen) - n, "%s/%s;", topic, group);
}

static bool named_moved(const struct group *g, const void *arg)
{
	(void)arg;
	return !strcmp(g->name, "moved");
}

/* The mount hears of every group deleted here, however, to drop its name
 * from the kernel's cache (fs_group_gone): a deletion (rmdir, Kafka's
 * DeleteGroups), the groups of a deleted topic; not a group that only
 * moves to another coordinator (its name stays on the mount, a proxy),
 * a deletion refused, or anything once the listener is unset. */
static void test_gone_listener(void **state)
{
	struct fx *f = *state;
	struct group_coord *gc = f->b->gc;
	struct group_member **fire;
	struct group *g;
	int nfire;

	gone_seen[0] = '\0';
	group_set_gone_listener(f->b, on_gone, gone_seen);
	assert_int_equal(group_open(f->t, "gone", GROUP_CREATE, &g), 0);
	group_put(g);
	assert_int_equal(group_delete(f->t, "gone"), 0);
	assert_string_equal(gone_seen, "orders/gone;");
	assert_int_equal(group_delete(f->t, "gone"), -ENOENT);
	assert_int_equal(group_open(f->t, "moved", GROUP_CREATE, &g), 0);
	group_put(g);
	pthread_mutex_lock(&gc->mu);
	group_coord_drop(gc, named_moved, NULL, false, "a test's move", &fire, &nfire);
	pthread_mutex_unlock(&gc->mu);
	free(fire);
	assert_int_equal(nfire, 0);
	assert_string_equal(gone_seen, "orders/gone;");
	assert_int_equal(group_open(f->t, "g1", GROUP_CREATE, &g), 0);
	group_put(g);
	topic_put(f->t);
	f->t = NULL;
	assert_int_equal(broker_topic_delete(f->b, "orders"), 0);
	assert_string_equal(gone_seen, "orders/gone;orders/g1;");
	group_set_gone_listener(f->b, NULL, NULL);
	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, &f->t), 0);
	assert_int_equal(group_open(f->t, "g2", GROUP_CREATE, &g), 0);
	group_put(g);
	assert_int_equal(group_delete(f->t, "g2"), 0);
	assert_string_equal(gone_seen, "orders/gone;orders/g1;");
}

/* Many commits, the offsets log compacted (when the cleaner exists), then
 * replay still gives the last offset of every key. */
static void test_replay_after_compaction(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct log *l;
	struct log_clean_stats cs;
	char v[16];

	produce(f, 1, "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	for (int round = 0; round < 50; round++) {
		int n = snprintf(v, sizeof(v), "%d", round % 11);

		assert_int_equal(group_offset_reset(g, 1, v, (size_t)n), 0);
	}
	assert_int_equal(group_offset_reset(g, 2, "0", 1), 0);
	group_put(g);
	/* roll the offsets log so that the commits are in a closed segment */
	assert_int_equal(topic_config_write(f->b->gc->offsets, "segment.bytes=1024\n", 19), 0);
	assert_int_equal(group_open(f->t, "g", GROUP_LOOKUP, &g), 0);
	for (int round = 0; round < 30; round++)
		assert_int_equal(group_offset_reset(g, 0, "0", 1), 0);
	group_put(g);
	l = f->b->gc->offsets->parts[0]->log;
	memset(&cs, 0, sizeof(cs));
	assert_true(log_clean(l, engine_now_ms(), 1 << 20, true, &cs) >= 0);
	fx_close(f);
	fx_open(f);
	assert_int_equal(group_open(f->t, "g", GROUP_LOOKUP, &g), 0);
	assert_int_equal(offset_of(g, 1), 49 % 11);
	assert_int_equal(offset_of(g, 2), 0);
	group_put(g);
}

static void test_wake(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[64];

	join_parked(f, &g, &m);
	produce(f, 1, "x\n");
	/* Woken by the appender itself, before its produce returned: no hop
	 * through the notifier thread. */
	assert_int_equal(atomic_load(&wakes), 1);
	assert_true(pthread_equal(waker, pthread_self()));
	assert_int_equal(group_member_arm(m), 1); /* data is there */
	assert_int_equal(consume(m, buf, sizeof(buf)), 2);
	group_member_disarm(m);
	group_leave(m);
	group_put(g);
}


/* A wake that itself produces (a wake call on the appender's thread,
 * holding the call lock) leaves the wakes of its own append to the
 * notifier thread: nobody waits for a lock it holds. */
static struct fx *nested_fx;
static atomic_int outer_wakes, inner_wakes;
static void on_wake_produce(void *arg)
{
	(void)arg;
	if (atomic_fetch_add(&outer_wakes, 1) == 0)
		produce(nested_fx, 2, "inner\n");
}
static void on_wake_inner(void *arg)
{
	(void)arg;
	atomic_fetch_add(&inner_wakes, 1);
}

static void test_wake_that_produces(void **state)
{
	struct fx *f = *state;
	struct group *g1, *g2;
	struct group_member *m1, *m2;
	char buf[64];

	nested_fx = f;
	assert_int_equal(group_open(f->t, "outer", GROUP_CREATE, &g1), 0);
	assert_int_equal(group_open(f->t, "inner", GROUP_CREATE, &g2), 0);
	assert_int_equal(group_join(g1, 1, on_wake_produce, NULL, &m1), 0);
	assert_int_equal(group_join(g2, 2, on_wake_inner, NULL, &m2), 0);
	assert_int_equal(consume(m1, buf, sizeof(buf)), 0);
	assert_int_equal(consume(m2, buf, sizeof(buf)), 0);
	group_notify_settle(g1->gc); /* the joins' own wake-ups are done */
	assert_int_equal(group_member_arm(m2), 0);
	assert_int_equal(group_member_arm(m1), 0);
	atomic_store(&outer_wakes, 0);
	atomic_store(&inner_wakes, 0);
	produce(f, 1, "outer\n");
	assert_int_equal(atomic_load(&outer_wakes), 1);
	for (int i = 0; i < 400 && atomic_load(&inner_wakes) == 0; i++)
		usleep(5000);
	assert_true(atomic_load(&inner_wakes) >= 1);
	group_notify_settle(g1->gc); /* no wake left to run after the teardown */
	group_member_disarm(m1);
	group_member_disarm(m2);
	group_leave(m1);
	group_leave(m2);
	group_put(g1);
	group_put(g2);
}

/* A reader that keeps up commits without a position lookup: its read
 * ended at the high watermark, whose offset the piece noted then. A
 * lookup reads the partition's sidecar (and holds the log's lock, which
 * the appender needs); the engine's reads are counted here to see that
 * the commit made none. */
static struct faultio lookup_fio;
static void test_commit_at_hw_needs_no_lookup(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[64];
	int preads;

	fx_close(f);
	faultio_init(&lookup_fio);
	f->cfg.io = &lookup_fio.ops;
	fx_open(f);
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m), 0);
	produce(f, 0, "a\nb\n");
	assert_int_equal(consume(m, buf, sizeof(buf)), 4);
	assert_int_equal(m->npieces, 1);
	assert_int_equal(m->pieces[0].end_off, 2);
	/* More records: the first read's end is now below the hw, where a
	 * lookup would have to search the sidecar. A read of nothing at the
	 * end commits what was read. */
	produce(f, 0, "c\n");
	preads = lookup_fio.preads;
	assert_int_equal(consume(m, buf, 0), 0);
	assert_int_equal(lookup_fio.preads, preads);
	assert_int_equal(offset_of(g, 0), 2);
	assert_int_equal(consume(m, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "c\n", 2);
	/* A read that did not end at the hw (a record longer than the
	 * buffer, returned in part) notes no offset. */
	produce(f, 1, "0123456789\n");
	assert_int_equal(consume(m, buf, 4), 4);
	assert_int_equal(m->pieces[m->npieces - 1].end_off, -1);
	assert_int_equal(offset_of(g, 0), 3);
	group_notify_settle(g->gc);
	group_leave(m);
	group_put(g);
	fx_close(f);
	f->cfg.io = NULL;
}

/* A topic deleted and made again does not get its old groups back, not
 * even after a restart: the delete tombstones them. */
static void test_topic_delete_tombstones(void **state)
{
	struct fx *f = *state;
	struct group *g;
	char **names;
	int n;

	produce(f, 0, "a\nb\nc\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_offset_reset(g, 0, "2", 1), 0);
	group_put(g);
	topic_put(f->t);
	assert_int_equal(broker_topic_delete(f->b, "orders"), 0);
	assert_int_equal(broker_topic_create(f->b, "orders", 0, 0, 0755, &f->t), 0);
	assert_int_equal(topic_config_write(f->t, "partitions=3\n", 13), 0);
	produce(f, 0, "x\ny\nz\n");
	assert_int_equal(group_open(f->t, "g", GROUP_LOOKUP, &g), -ENOENT);
	fx_close(f);
	fx_open(f);
	assert_int_equal(group_list(f->t, &names, NULL, &n), 0);
	assert_int_equal(n, 0);
	broker_names_free(names, n);
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(offset_of(g, 0), 0); /* earliest, not 2 */
	group_put(g);
}

/* Whether the records of group's partition of __consumer_offsets hold
 * text. */
static bool offsets_log_has(struct fx *f, const char *group, const char *text)
{
	static char buf[1 << 16];

	brokerfx_offsets_text(f->b, group, buf, sizeof(buf));
	return strstr(buf, text) != NULL;
}

/* Offsets as a Kafka client may commit them (OffsetCommit takes any, as
 * Kafka's): kafkajs's admin.resetOffsets commits -2 for earliest, -1 for
 * latest. Kept as given, also across a restart; the mount reads -2 as the
 * log start and -1 as no commit (here auto.offset.reset=latest), and
 * deleting the group writes a tombstone for -2 and -1 too (every offset
 * kept, as Kafka's DeleteGroups), so that compaction cannot bring them
 * back; a partition never committed gets none. */
static void test_negative_commits(void **state)
{
	struct fx *f = *state;
	static const char latest[] = "auto.offset.reset=latest\n";
	int parts[2] = { 0, 1 };
	int64_t offs[2] = { GROUP_OFFSET_EARLIEST, GROUP_OFFSET_NONE };
	struct group_member *m;
	struct group *g;
	char buf[64];

	produce(f, 0, "a\nb\nc\n");
	produce(f, 1, "x\ny\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_config_write(g, latest, sizeof(latest) - 1), 0);
	assert_int_equal(group_lock_live(g), 0);
	assert_int_equal(group_store_commit(g, parts, offs, NULL, 2, "consumer-1"), 0);
	pthread_mutex_unlock(&g->mu);
	assert_int_equal(offset_of(g, 0), 0);
	assert_int_equal(offset_of(g, 1), 2);
	assert_int_equal(offset_of(g, 2), 0); /* empty */
	group_put(g);
	fx_close(f);
	fx_open(f);
	assert_int_equal(group_open(f->t, "g", GROUP_LOOKUP, &g), 0);
	assert_int_equal(g->parts[0].committed, GROUP_OFFSET_EARLIEST);
	assert_int_equal(offset_of(g, 0), 0);
	assert_int_equal(offset_of(g, 1), 2);
	/* A consume file starts there: all of 0, nothing of 1. */
	assert_int_equal(group_join(g, getpid(), on_wake, NULL, &m), 0);
	drain(m, buf, sizeof(buf) - 1);
	assert_string_equal(buf, "a\nb\nc\n");
	group_leave(m);
	assert_int_equal(offset_of(g, 0), 3);
	assert_int_equal(group_lock_live(g), 0);
	assert_int_equal(group_store_commit(g, parts, offs, NULL, 1, "consumer-1"), 0);
	pthread_mutex_unlock(&g->mu);
	group_put(g);
	/* 1 holds the -1 replayed at open. */
	assert_int_equal(group_delete(f->t, "g"), 0);
	assert_true(offsets_log_has(f, "g", "\ng/orders/0\t\n"));
	assert_true(offsets_log_has(f, "g", "\ng/orders/1\t\n"));
	assert_false(offsets_log_has(f, "g", "\ng/orders/2\t\n")); /* never committed */
}

/* A commit past the log end (a Kafka client's): the offset is kept as
 * committed, and a consume file starts at auto.offset.reset (earliest),
 * as a Kafka consumer told OFFSET_OUT_OF_RANGE, not at the hw waiting for
 * offsets that may never come. */
static void test_commit_past_end(void **state)
{
	struct fx *f = *state;
	int parts[1] = { 0 };
	int64_t offs[1] = { 1000 };
	struct group_member *m;
	struct group *g;
	char buf[64];

	produce(f, 0, "a\nb\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_lock_live(g), 0);
	assert_int_equal(group_store_commit(g, parts, offs, NULL, 1, "consumer-1"), 0);
	pthread_mutex_unlock(&g->mu);
	assert_int_equal(offset_of(g, 0), 1000);
	assert_int_equal(group_join(g, getpid(), on_wake, NULL, &m), 0);
	drain(m, buf, sizeof(buf) - 1);
	assert_string_equal(buf, "a\nb\n");
	group_leave(m);
	assert_int_equal(offset_of(g, 0), 2);
	group_put(g);
}

/* The lag of a commit past the log end counts from where the next owner
 * starts (auto.offset.reset: the log start here), in .state and in
 * .metrics alike: not a negative lag, not 0 while a member would read
 * every record again. */
static void test_lag_past_end(void **state)
{
	struct fx *f = *state;
	int parts[1] = { 0 };
	int64_t offs[1] = { INT64_MAX };
	struct group *g;
	char *text;
	size_t len;

	produce(f, 0, "a\nb\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_lock_live(g), 0);
	assert_int_equal(group_store_commit(g, parts, offs, NULL, 1, "consumer-1"), 0);
	pthread_mutex_unlock(&g->mu);
	assert_int_equal(group_state_text(g, &text, &len), 0);
	assert_non_null(
		strstr(text, "\n0         9223372036854775807 2              2        -\n"));
	free(text);
	assert_int_equal(broker_metrics_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "mqfs_consumer_group_lag{topic=\"orders\",group=\"g\","
				     "partition=\"0\"} 2\n"));
	free(text);
	/* auto.offset.reset=latest starts at the hw: nothing to read */
	assert_int_equal(group_config_write(g, "auto.offset.reset=latest\n", 25), 0);
	assert_int_equal(group_state_text(g, &text, &len), 0);
	assert_non_null(
		strstr(text, "\n0         9223372036854775807 2              0        -\n"));
	free(text);
	group_put(g);
}

/* Records of groups whose topic is gone (a delete cut short before its
 * tombstones) are dropped at start, so a topic made later starts clean. */
static void test_sweep_at_start(void **state)
{
	struct fx *f = *state;
	static const char rec[] = "g/ghost\tpartition.assignment.strategy=range "
				  "auto.offset.reset=earliest session.timeout.ms=45000\n"
				  "g/ghost/0\t5 0 consumer-1\n";
	struct topic *t;
	struct group *g;
	int p = group_offsets_partition("g", topic_partitions(f->b->gc->offsets));

	assert_int_equal(topic_produce(f->b->gc->offsets, p, rec, sizeof(rec) - 1, 0), 0);
	fx_close(f);
	fx_open(f);
	assert_int_equal(broker_topic_create(f->b, "ghost", 0, 0, 0755, &t), 0);
	assert_int_equal(group_open(t, "g", GROUP_LOOKUP, &g), -ENOENT);
	fx_close(f); /* replay again */
	fx_open(f);
	topic_put(t);
	assert_int_equal(broker_topic_get(f->b, "ghost", &t), 0);
	assert_int_equal(group_open(t, "g", GROUP_LOOKUP, &g), -ENOENT);
	topic_put(t);
}

/* Lag, committed offsets and records/bytes out in .metrics. */
static void test_metrics(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[64], *text;
	size_t len;

	produce(f, 0, "aa\nbb\ncc\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(broker_metrics_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "mqfs_consumer_group_lag{topic=\"orders\",group=\"g\","
				     "partition=\"0\"} 3\n"));
	assert_null(strstr(text, "mqfs_consumer_group_committed_offset{"));
	assert_non_null(strstr(text, "mqfs_records_out_total{topic=\"orders\"} 0\n"));
	free(text);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m), 0);
	assert_int_equal(consume(m, buf, 7), 6);           /* aa bb: whole lines */
	assert_int_equal(consume(m, buf, sizeof(buf)), 3); /* commits aa bb */
	assert_int_equal(broker_metrics_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "mqfs_consumer_group_lag{topic=\"orders\",group=\"g\","
				     "partition=\"0\"} 1\n"));
	assert_non_null(strstr(text, "mqfs_consumer_group_committed_offset{topic=\"orders\","
				     "group=\"g\",partition=\"0\"} 2\n"));
	assert_non_null(strstr(text, "mqfs_consumer_group_members{topic=\"orders\","
				     "group=\"g\"} 1\n"));
	assert_non_null(strstr(text, "mqfs_records_out_total{topic=\"orders\"} 3\n"));
	assert_non_null(strstr(text, "mqfs_bytes_out_total{topic=\"orders\"} 9\n"));
	/* internal reads (replay) are not deliveries */
	assert_non_null(strstr(text, "mqfs_records_out_total{topic=\"__consumer_offsets\"} 0\n"));
	free(text);
	group_leave(m);
	group_put(g);
}


/* The read offset is the commit position: a read at x commits the
 * records that end at or before x and returns the same bytes from x again
 * (bash's read and head seek back to the end of the line they used). */
static void test_seek_back(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[256];
	int first;

	produce(f, 0, "a\nbb\nccc\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m), 0);
	assert_int_equal(group_consume(m, 0, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "a\nbb\nccc\n", 9);
	assert_int_equal(offset_of(g, 0), 0);
	/* used "a\n", seeked back to 2: a committed, the rest again */
	assert_int_equal(group_consume(m, 2, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "bb\nccc\n", 7);
	assert_int_equal(offset_of(g, 0), 1);
	/* inside "bb\n": nothing more committed, the same bytes from there */
	assert_int_equal(group_consume(m, 3, buf, 4), 4);
	assert_memory_equal(buf, "b\ncc", 4);
	assert_int_equal(offset_of(g, 0), 1);
	assert_int_equal(group_consume(m, 5, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ccc\n", 4);
	assert_int_equal(offset_of(g, 0), 2);
	/* before the committed part: refused; past the end: an end of file */
	assert_int_equal(group_consume(m, 4, buf, sizeof(buf)), -ESPIPE);
	assert_int_equal(group_consume(m, 20, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(offset_of(g, 0), 3);
	assert_int_equal(group_consume(m, 9, buf, sizeof(buf)), 0);
	/* one read over two partitions: a read inside the second piece
	 * commits the first partition whole and the second in part */
	produce(f, 1, "x1\nx2\n");
	produce(f, 2, "y1\ny2\n");
	assert_int_equal(group_consume(m, 9, buf, sizeof(buf)), 12);
	first = buf[0] == 'x' ? 1 : 2;
	assert_int_equal(group_consume(m, 9 + 6 + 3, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, first == 1 ? "y2\n" : "x2\n", 3);
	assert_int_equal(offset_of(g, first), 2);
	assert_int_equal(offset_of(g, 3 - first), 1);
	group_leave(m);
	/* the next member gets the record the first never passed */
	assert_int_equal(group_join(g, 2, on_wake, NULL, &m), 0);
	assert_int_equal(drain(m, buf, sizeof(buf)), 3);
	assert_string_equal(buf, first == 1 ? "y2\n" : "x2\n");
	group_leave(m);
	group_put(g);
}

/* Flips the magic byte of the second batch of orders-0's first segment. */
static void damage_second_batch(struct fx *f)
{
	char path[sizeof(f->cfg.data_dir) + 64];
	unsigned char h[12], bad = 9;
	FILE *fp;
	long second;

	snprintf(path, sizeof(path), "%s/orders-0/00000000000000000000.log", f->cfg.data_dir);
	fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fread(h, 1, 12, fp), 12);
	second = 12 +
		 (long)((uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11]);
	assert_int_equal(fseek(fp, second + 16, SEEK_SET), 0); /* magic */
	assert_int_equal(fwrite(&bad, 1, 1, fp), 1);
	assert_int_equal(fclose(fp), 0);
}

/* A damaged batch fails the read; the records delivered before it are
 * committed (the damaged batch's base offset, from its .lines entry, since
 * the batch itself does not decode), so the next member does not get them
 * again, and nothing past them is (never the log end). */
static void test_damaged_batch_commits_before_it(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[256];
	ssize_t n;

	produce(f, 0, "a\nb\n");
	produce(f, 0, "c\n");
	produce(f, 0, "d\n");
	fx_close(f);
	damage_second_batch(f);
	fx_open(f);
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m), 0);
	assert_int_equal(consume(m, buf, sizeof(buf)), 4); /* a b, up to the damage */
	assert_memory_equal(buf, "a\nb\n", 4);
	n = consume(m, buf, sizeof(buf));
	assert_int_equal(n, -EBADMSG);
	assert_int_equal(consume(m, buf, sizeof(buf)), -EBADMSG); /* again, not skipped */
	assert_int_equal(offset_of(g, 0), 2);
	/* the member's other partitions still flow */
	produce(f, 1, "z\n");
	for (int i = 0; i < 3 && (n = consume(m, buf, sizeof(buf))) != 2; i++)
		assert_int_equal(n, -EBADMSG);
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "z\n", 2);
	assert_true(consume(m, buf, sizeof(buf)) <= 0);
	assert_int_equal(offset_of(g, 1), 1);
	assert_int_equal(offset_of(g, 0), 2);
	group_leave(m);
	/* the next member starts at the damage: a and b are not read again */
	assert_int_equal(group_join(g, 3, on_wake, NULL, &m), 0);
	assert_int_equal(consume(m, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(offset_of(g, 0), 2);
	group_leave(m);
	/* a new owner whose committed offset is in the damaged batch: its
	 * reads fail, nothing read from the log end */
	assert_int_equal(group_offset_reset(g, 0, "2", 1), 0);
	assert_int_equal(group_join(g, 2, on_wake, NULL, &m), 0);
	produce(f, 0, "e\n");
	assert_int_equal(consume(m, buf, sizeof(buf)), -EBADMSG);
	assert_int_equal(offset_of(g, 0), 2);
	group_leave(m);
	group_put(g);
}

/* Records returned, then removed by compaction before the reader passed
 * them: a read of them again fails (ENODATA), it never returns other
 * bytes at those offsets. */
static void test_redeliver_after_compaction(void **state)
{
	struct fx *f = *state;
	static const char cfg[] = "key.separator=:\ncleanup.policy=compact\nsegment.bytes=1024\n";
	struct log_clean_stats cs;
	struct group *g;
	struct group_member *m;
	char buf[64];

	assert_int_equal(topic_config_write(f->t, cfg, sizeof(cfg) - 1), 0);
	produce(f, 0, "k:1\n");
	for (int i = 0; i < 40; i++)
		produce(f, 0, "k:2\n"); /* closes the first segments */
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m), 0);
	assert_int_equal(group_consume(m, 0, buf, 8), 8);
	assert_memory_equal(buf, "k:1\nk:2\n", 8);
	/* the cleaner rewrites only below the checkpointed recovery point */
	assert_true(log_flush_closed(f->t->parts[0]->log) >= 0);
	assert_int_equal(logmgr_checkpoint(f->b->m), 0);
	memset(&cs, 0, sizeof(cs));
	assert_true(log_clean(f->t->parts[0]->log, engine_now_ms(), 1 << 20, true, &cs) >= 0);
	assert_true(cs.records_removed > 0);
	assert_int_equal(group_consume(m, 2, buf, sizeof(buf)), -ENODATA);
	assert_int_equal(offset_of(g, 0), 0);
	group_leave(m);
	group_put(g);
}

/* Removes the records of partition p below offset off (DeleteRecords;
 * retention does the same with whole segments). */
static void remove_below(struct fx *f, struct group *g, int p, int64_t off)
{
	int64_t start;

	assert_int_equal(log_delete_records(f->t->parts[p]->log, off, true, &start), 0);
	assert_int_equal(start, off);
	/* The group's cursor still holds the segment's bytes: made anew, as
	 * once retention has deleted that segment's files. */
	if (g->parts[p].cursor) {
		topic_cursor_free(f->t, p, g->parts[p].cursor);
		g->parts[p].cursor = NULL;
	}
}

/* A commit that retention (here DeleteRecords) left below the log start:
 * the lag in .metrics and .state counts the records still there from the
 * log start, where the next owner reads, not the removed ones. */
static void test_lag_below_log_start(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m;
	char buf[64], *text;
	size_t len;

	produce(f, 0, "aa\nbb\ncc\ndd\nee\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_offset_reset(g, 0, "1", 1), 0);
	remove_below(f, g, 0, 3);
	assert_int_equal(broker_metrics_text(f->b, &text, &len), 0);
	assert_non_null(strstr(text, "mqfs_consumer_group_lag{topic=\"orders\",group=\"g\","
				     "partition=\"0\"} 2\n"));
	assert_non_null(strstr(text, "mqfs_consumer_group_committed_offset{topic=\"orders\","
				     "group=\"g\",partition=\"0\"} 1\n"));
	free(text);
	assert_int_equal(group_state_text(g, &text, &len), 0);
	assert_non_null(strstr(text, "\n0         1              5              2 "));
	free(text);
	/* what a member reads: the two records from the log start */
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m), 0);
	assert_int_equal(consume(m, buf, sizeof(buf)), 6);
	assert_memory_equal(buf, "dd\nee\n", 6);
	group_leave(m);
	group_put(g);
}

/* A record returned in part, then removed (retention, DeleteRecords)
 * before the rest was read: the next read fails (ENODATA) rather than glue
 * the next record to the first part, whether the partition stayed with
 * the member or moved to another; the read after it returns whole lines. */
static void test_long_record_removed(void **state)
{
	struct fx *f = *state;
	struct group *g;
	struct group_member *m1, *m2;
	char buf[64];
	ssize_t n;

	produce(f, 0, "0123456789\nnext\n");
	assert_int_equal(group_open(f->t, "g", GROUP_CREATE, &g), 0);
	assert_int_equal(group_join(g, 1, on_wake, NULL, &m1), 0);

	/* The partition stays with m1. */
	assert_int_equal(consume(m1, buf, 5), 5);
	assert_memory_equal(buf, "01234", 5);
	remove_below(f, g, 0, 1);
	assert_int_equal(consume(m1, buf, sizeof(buf)), -ENODATA);
	assert_int_equal(consume(m1, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "next\n", 5);
	assert_int_equal(consume(m1, buf, sizeof(buf)), 0);
	assert_int_equal(offset_of(g, 0), 2);

	/* Partition 2 moves to m2 between the two reads. */
	produce(f, 2, "abcdefghij\nlast\n");
	assert_int_equal(consume(m1, buf, 5), 5);
	assert_memory_equal(buf, "abcde", 5);
	assert_int_equal(group_join(g, 2, on_wake, NULL, &m2), 0); /* range: p2 to m2 */
	remove_below(f, g, 2, 1);
	assert_int_equal(consume(m1, buf, sizeof(buf)), -ENODATA);
	n = consume(m1, buf, sizeof(buf));
	assert_int_equal(n, 0);
	assert_int_equal(consume(m2, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "last\n", 5);
	group_leave(m2);
	group_leave(m1);
	group_put(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_consume_commit_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_record_continues_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_record_moved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_record_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lag_below_log_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebalance_takeover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cooperative_keeps_position, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_coordinator, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_and_replay, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gone_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_after_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wake_that_produces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_at_hw_needs_no_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_topic_delete_tombstones, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_past_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lag_past_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_batch_commits_before_it, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_redeliver_after_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_rebalances, setup, teardown),
		cmocka_unit_test_setup_teardown(test_growth_wakes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
