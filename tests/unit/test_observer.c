/*
 * test_observer.c — read copies of a partition without a replica here
 * (repl/observer.c) against a real leader: an engine log served by the
 * Fetch and ListOffsets handlers on a loopback listener. The copy's .log
 * is the leader's bytes and its line view the leader's records; an open
 * returns only once the copy holds everything committed; observer_wait
 * waits for a later commit; a leader whose log starts past the copy's
 * end makes the copy start there, live copies too; a leader that cannot be reached gives
 * -ETIMEDOUT after request.timeout.ms, an unknown partition -ENOENT; an
 * idle copy is deleted, a dropped topic's too, a group's pinned one is
 * kept; the generation of the reads' answers moves on each change that
 * must take a replica's reader to the copy; and the pure rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "repl/fetch_serve.h"
#include "repl/net.h"
#include "repl/observer.h"
#include "repl/offsets_serve.h"
#include "tests/unit/elog.h"
#include "tests/unit/faultio.h"
#include "util/clock.h"

#define DEADLINE_MS 10000

static char tmpdir[64];
static struct log_config lcfg; /* the topic's log settings: the defaults */

static int setup(void **state)
{
	(void)state;
	log_config_defaults(&lcfg);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mqfs-test-observer.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd);
}

/* The leader: broker 1, partition orders-0 alone in its ISR. */
struct leader {
	struct elog *e;
	struct partition *p;
	struct fetch_serve *fs;
	struct offsets_serve os;
	struct net_server *srv;
	int port;
	/* What the observers' metadata says. */
	int state_rc;
	int bad_port; /* a port nothing listens on, for endpoint */
	bool unreachable;
	/* The observers' broker holds a replica of orders-0 (replica_reads):
	 * in the ISR or not, with its hw. */
	bool replica_here;
	bool replica_in_sync;
	int64_t replica_hw;
	/* The replica manager's count of state changes (states_gen): the
	 * test moves it after it changed replica_in_sync, as the manager
	 * does after a LeaderAndIsr or UpdateMetadata. */
	uint64_t states_gen;
	const struct io_ops *io; /* the observers' (NULL: POSIX) */
};

static struct partition *lookup(void *arg, struct kstr topic, int32_t index)
{
	struct leader *ld = arg;

	if (!kstr_eq(topic, "orders") || index != 0)
		return NULL;
	partition_ref(ld->p);
	return ld->p;
}

static void wake(void *arg)
{
	struct leader *ld = arg;

	fetch_serve_wake(ld->fs);
}

static void leader_start(struct leader *ld, const char *name)
{
	struct partition_config pc = { .broker_id = 1,
				       .replica_lag_time_max_ms = 30000,
				       .min_insync_replicas = 1 };
	struct partition_state st = { .leader = 1,
				      .leader_epoch = 1,
				      .partition_epoch = 1,
				      .n_replicas = 1,
				      .replicas = { 1 },
				      .n_isr = 1,
				      .isr = { 1 } };
	struct net_config nc;
	char dir[128];

	memset(ld, 0, sizeof(*ld));
	snprintf(dir, sizeof(dir), "%s/%s", tmpdir, name);
	ld->e = elog_open(dir);
	assert_non_null(ld->e);
	assert_int_equal(partition_new("orders", 0, &pc, &elog_ops, ld->e, &ld->p), 0);
	assert_int_equal(partition_make_leader(ld->p, &st, now_mono_ms()), 1);
	assert_int_equal(fetch_serve_new(lookup, ld, NULL, &ld->fs), 0);
	elog_set_listener(ld->e, wake, ld);
	net_config_default(&nc);
	assert_int_equal(net_config_set(&nc, "listeners", "PLAINTEXT://127.0.0.1:0"), 0);
	nc.num_network_threads = 1;
	nc.num_io_threads = 2;
	assert_int_equal(net_server_new(&nc, NULL, NULL, &ld->srv), 0);
	assert_int_equal(fetch_serve_register(ld->fs, ld->srv), 0);
	ld->os = (struct offsets_serve){ .lookup = lookup, .arg = ld };
	assert_int_equal(offsets_serve_register(&ld->os, ld->srv), 0);
	assert_int_equal(net_server_start(ld->srv), 0);
	ld->port = net_server_port(ld->srv, 0);
}

static void leader_stop(struct leader *ld)
{
	fetch_serve_stop(ld->fs);
	net_server_free(ld->srv);
	fetch_serve_free(ld->fs);
	partition_unref(ld->p);
	elog_close(ld->e);
}

/* n records "<prefix>-<i>" committed (the leader alone in its ISR). */
static void leader_commit(struct leader *ld, int n, const char *prefix)
{
	assert_true(elog_append(ld->e, n, 1, prefix) >= 0);
	assert_true(partition_maybe_increment_leader_hw(ld->p, now_mono_ms()) >= 0);
}

static int st_fn(void *arg, const char *topic, int partition, struct partition_state *st)
{
	struct leader *ld = arg;

	if (ld->state_rc || strcmp(topic, "orders") || partition != 0)
		return ld->state_rc ? ld->state_rc : -ENOENT;
	*st = (struct partition_state){ .leader = 1,
					.leader_epoch = 1,
					.partition_epoch = 1,
					.n_replicas = 1,
					.replicas = { 1 },
					.n_isr = 1,
					.isr = { 1 } };
	return 0;
}

static int ep_fn(void *arg, int32_t id, char *host, int *port)
{
	struct leader *ld = arg;

	if (id != 1)
		return -ENOENT;
	strcpy(host, "127.0.0.1");
	*port = ld->unreachable ? ld->bad_port : ld->port;
	return 0;
}

static bool rr_fn(void *arg, const char *topic, int partition, int64_t *hw)
{
	struct leader *ld = arg;

	*hw = -1;
	if (strcmp(topic, "orders") || partition != 0 || !ld->replica_in_sync)
		return false;
	*hw = ld->replica_hw;
	return true;
}

static uint64_t sg_fn(void *arg)
{
	struct leader *ld = arg;

	return __atomic_load_n(&ld->states_gen, __ATOMIC_ACQUIRE);
}

static struct observers *obs_start(struct leader *ld, int64_t idle_ms, int64_t timeout_ms)
{
	struct observer_config oc = { .broker_id = 3,
				      .data_dir = tmpdir,
				      .idle_ms = idle_ms,
				      .request_timeout_ms = timeout_ms,
				      .retention_check_ms = 1000000,
				      .state = st_fn,
				      .replica_reads = ld->replica_here ? rr_fn : NULL,
				      .states_gen = ld->replica_here ? sg_fn : NULL,
				      .endpoint = ep_fn,
				      .io = ld->io,
				      .arg = ld };
	struct observers *o;

	fetcher_config_default(&oc.fetch);
	oc.fetch.max_wait_ms = 100;
	oc.fetch.backoff_ms = 50;
	assert_int_equal(observers_new(&oc, &o), 0);
	return o;
}

/* A leader of orders-0 with n records "a-<i>" committed, and observers
 * on a broker that holds a replica of it, in the ISR or not, with hw. */
static struct observers *replica_obs_start(struct leader *ld, const char *name, int n, bool in_sync,
					   int64_t hw)
{
	leader_start(ld, name);
	leader_commit(ld, n, "a");
	ld->replica_here = true;
	ld->replica_in_sync = in_sync;
	ld->replica_hw = hw;
	return obs_start(ld, 1000000, DEADLINE_MS);
}

static int64_t log_hw(struct log *l)
{
	struct log_state ls;

	log_get_state(l, &ls);
	return ls.hw;
}

static bool copy_exists(void)
{
	char path[160];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/" OBSERVER_DIR "/orders-0", tmpdir);
	return stat(path, &sb) == 0;
}

/* The copy's first len + 1 bytes of its first .log (the active segment's
 * file is longer than its data: the byte after the data is 0). */
static uint8_t *copy_log_bytes(size_t len)
{
	char path[200];
	uint8_t *buf = calloc(1, len + 1);
	FILE *f;

	snprintf(path, sizeof(path), "%s/" OBSERVER_DIR "/orders-0/00000000000000000000.log",
		 tmpdir);
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_non_null(buf);
	assert_true(fread(buf, 1, len + 1, f) >= len);
	fclose(f);
	return buf;
}

static void test_copy_is_the_leaders(void **state)
{
	struct leader ld;
	struct observers *o;
	struct log *l;
	struct log_state ls;
	struct log_cursor *c;
	char buf[256];
	int64_t actual;
	size_t len;
	uint8_t *want, *got;

	(void)state;
	leader_start(&ld, "leader-copy");
	leader_commit(&ld, 3, "a");
	leader_commit(&ld, 2, "b");
	o = obs_start(&ld, 1000000, DEADLINE_MS);
	assert_false(copy_exists());
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), 0);
	/* Invariant 2: everything committed before the open is there. */
	log_get_state(l, &ls);
	assert_int_equal(ls.hw, 5);
	assert_int_equal(ls.log_end_offset, 5);
	want = elog_bytes_below(ld.e, 5, &len);
	assert_non_null(want);
	got = copy_log_bytes(len);
	assert_memory_equal(got, want, len);
	assert_int_equal(got[len], 0); /* nothing more */
	free(want);
	free(got);
	c = log_cursor_new(l);
	assert_non_null(c);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(log_read_lines(l, c, 0, buf, sizeof(buf) - 1, &actual), 20);
	assert_string_equal(buf, "a-0\na-1\na-2\nb-0\nb-1\n");
	log_cursor_free(c);

	/* A later commit (a forwarded write's): observer_wait returns once
	 * the copy has it, and not before offsets that never come. */
	leader_commit(&ld, 4, "c");
	assert_int_equal(observer_wait(o, "orders", 0, 9, now_mono_ms() + DEADLINE_MS), 0);
	log_get_state(l, &ls);
	assert_int_equal(ls.hw, 9);
	assert_int_equal(observer_log_state(o, "orders", 0, &ls), 1);
	assert_int_equal(ls.hw, 9);
	assert_int_equal(observer_wait(o, "orders", 0, 10, now_mono_ms() + 200), -ETIMEDOUT);
	/* A partition not observed: nothing to wait for, no state. */
	assert_int_equal(observer_wait(o, "other", 0, 10, now_mono_ms() + DEADLINE_MS), 0);
	assert_int_equal(observer_log_state(o, "other", 0, &ls), 0);

	log_unref(l);
	observer_close(o, "orders", 0, l);
	/* The topic deleted: its copy goes, files and all. */
	observer_drop(o, "orders", -1);
	assert_false(copy_exists());
	assert_int_equal(observer_log_state(o, "orders", 0, &ls), 0);
	observers_free(o);
	leader_stop(&ld);
}

/* The whole line view of l from position 0 into buf (NUL-terminated):
 * the position of its first byte, -1 when empty. */
static int64_t read_from_0(struct log *l, char *buf, size_t cap)
{
	struct log_cursor *c = log_cursor_new(l);
	int64_t pos = 0, actual = 0, first = -1;
	size_t n = 0;
	ssize_t g;

	assert_non_null(c);
	while ((g = log_read_lines(l, c, pos, buf + n, cap - 1 - n, &actual)) > 0) {
		if (first < 0)
			first = actual;
		n += (size_t)g;
		pos = actual + g;
	}
	assert_true(g == 0);
	buf[n] = '\0';
	log_cursor_free(c);
	return first;
}

/* A leader whose log no longer starts at 0 (its start moved past what a
 * copy holds: here by log_reset_start, as retention would): the copy
 * starts at the leader's log start and its line position, and reads as
 * the leader's log does; when the start moves again past the live copy,
 * the copy follows. */
static void test_copy_starts_at_leaders_start(void **state)
{
	struct leader ld;
	struct observers *o;
	struct log *l;
	struct log_state ls;
	char want[256], got[256];

	(void)state;
	leader_start(&ld, "leader-start");
	leader_commit(&ld, 3, "a");
	assert_int_equal(log_reset_start(elog_log(ld.e), 10, 100), 0);
	leader_commit(&ld, 2, "b");
	o = obs_start(&ld, 1000000, DEADLINE_MS);
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), 0);
	log_get_state(l, &ls);
	assert_int_equal(ls.log_start_offset, 10);
	assert_int_equal(ls.line_start, 100);
	assert_int_equal(ls.hw, 12);
	assert_int_equal(ls.line_hw, 108);
	assert_int_equal(read_from_0(elog_log(ld.e), want, sizeof(want)), 100);
	assert_int_equal(read_from_0(l, got, sizeof(got)), 100);
	assert_string_equal(got, "b-0\nb-1\n");
	assert_string_equal(got, want);

	/* The leader's start moves again, past the live copy's end. */
	assert_int_equal(log_reset_start(elog_log(ld.e), 20, 500), 0);
	leader_commit(&ld, 1, "c");
	assert_int_equal(observer_wait(o, "orders", 0, 21, now_mono_ms() + DEADLINE_MS), 0);
	log_get_state(l, &ls);
	assert_int_equal(ls.log_start_offset, 20);
	assert_int_equal(ls.line_start, 500);
	assert_int_equal(ls.line_hw, 504);
	assert_int_equal(read_from_0(l, got, sizeof(got)), 500);
	assert_string_equal(got, "c-0\n");
	log_unref(l);
	observer_close(o, "orders", 0, l);
	observers_free(o);
	leader_stop(&ld);
}

/* Whether observers_asleep(o) became want within DEADLINE_MS. */
static bool poll_asleep(struct observers *o, bool want)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (observers_asleep(o) != want && now_mono_ms() < end)
		usleep(1000);
	return observers_asleep(o) == want;
}

static void test_idle_copy_deleted(void **state)
{
	struct leader ld;
	struct observers *o;
	struct log *l;
	int64_t end;

	(void)state;
	leader_start(&ld, "leader-idle");
	leader_commit(&ld, 2, "a");
	o = obs_start(&ld, 200, DEADLINE_MS);
	/* Without a copy the manager sleeps without a deadline (no
	 * wake-up at rest); a copy wakes it, and it ticks until the last
	 * copy is gone. */
	assert_true(poll_asleep(o, true));
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), 0);
	assert_true(poll_asleep(o, false));
	log_unref(l);
	/* Open: kept, however long. The manager's tick looks every 100 ms. */
	end = now_mono_ms() + 400;
	while (now_mono_ms() < end)
		assert_true(copy_exists());
	observer_close(o, "orders", 0, l);
	end = now_mono_ms() + DEADLINE_MS;
	while (copy_exists() && now_mono_ms() < end)
		usleep(10000);
	assert_false(copy_exists());
	assert_true(poll_asleep(o, true));

	/* Pinned for a group: made without waiting, it catches up, and
	 * stays past observer.idle.ms. */
	assert_int_equal(observer_pin(o, "orders", 0, &lcfg, &l), 0);
	assert_true(copy_exists());
	end = now_mono_ms() + DEADLINE_MS;
	while (log_hw(l) < 2 && now_mono_ms() < end)
		usleep(10000);
	assert_int_equal(log_hw(l), 2);
	end = now_mono_ms() + 400;
	while (now_mono_ms() < end)
		assert_true(copy_exists());
	log_unref(l);
	observer_drop(o, "orders", 0);
	assert_false(copy_exists());
	observers_free(o);
	leader_stop(&ld);
}

/* A reader of a copy whose topic was deleted (observer_drop) closes it
 * only after the topic was made again and another reader opened the new
 * copy (a tail -f across rm -r and mkdir): the late close is the old
 * copy's, and the new one stays open, past observer.idle.ms, and
 * follows. */
static void test_late_close_of_dropped_copy(void **state)
{
	struct leader ld;
	struct observers *o;
	struct log *old, *l;
	int64_t end;

	(void)state;
	leader_start(&ld, "leader-late");
	leader_commit(&ld, 2, "a");
	o = obs_start(&ld, 200, DEADLINE_MS);
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &old), 0);
	observer_drop(o, "orders", -1);
	assert_false(copy_exists());
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), 0);
	observer_close(o, "orders", 0, old);
	log_unref(old);
	end = now_mono_ms() + 400;
	while (now_mono_ms() < end)
		assert_true(copy_exists());
	leader_commit(&ld, 1, "b");
	assert_int_equal(observer_wait(o, "orders", 0, 3, now_mono_ms() + DEADLINE_MS), 0);
	assert_int_equal(log_hw(l), 3);
	observer_close(o, "orders", 0, l);
	log_unref(l);
	end = now_mono_ms() + DEADLINE_MS;
	while (copy_exists() && now_mono_ms() < end)
		usleep(10000);
	assert_false(copy_exists());
	observers_free(o);
	leader_stop(&ld);
}

static void test_unreachable_and_unknown(void **state)
{
	struct leader ld;
	struct observers *o;
	struct log *l;
	int64_t t0;

	(void)state;
	leader_start(&ld, "leader-gone");
	leader_commit(&ld, 1, "a");
	/* A port that was bound and is closed again: connections refused. */
	{
		struct net_server *s;
		struct net_config nc;

		net_config_default(&nc);
		assert_int_equal(net_config_set(&nc, "listeners", "PLAINTEXT://127.0.0.1:0"), 0);
		assert_int_equal(net_server_new(&nc, NULL, NULL, &s), 0);
		assert_int_equal(net_server_start(s), 0);
		ld.bad_port = net_server_port(s, 0);
		net_server_free(s);
	}
	ld.unreachable = true;
	o = obs_start(&ld, 1000000, 500);
	t0 = now_mono_ms();
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), -ETIMEDOUT);
	/* After request.timeout.ms, not long after it. */
	assert_true(now_mono_ms() - t0 >= 400);
	assert_true(now_mono_ms() - t0 < DEADLINE_MS);
	/* The leader back: a new start catches up. */
	ld.unreachable = false;
	observers_free(o);
	o = obs_start(&ld, 1000000, DEADLINE_MS);
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), 0);
	log_unref(l);
	observer_close(o, "orders", 0, l);
	/* A partition the metadata does not know: refused, no copy made. */
	assert_int_equal(observer_open(o, "orders", 1, &lcfg, &l), -ENOENT);
	observers_free(o);
	/* observers_free deleted the copies; so does a start over old ones. */
	assert_false(copy_exists());
	leader_stop(&ld);
}

/* Waits up to DEADLINE_MS for the copy to be gone (the manager's tick). */
static bool copy_gone(void)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (copy_exists() && now_mono_ms() < end)
		usleep(10000);
	return !copy_exists();
}

/* The copy stays for ms (ticks of the manager pass meanwhile). */
static bool copy_stays(int64_t ms)
{
	int64_t end = now_mono_ms() + ms;

	while (now_mono_ms() < end)
		if (!copy_exists())
			return false;
	return true;
}

/* A broker whose own replica of orders-0 lags out of the ISR: its reads
 * go to the copy; once the replica is back in the ISR they go back to it
 * only when its hw has reached the copy's (nothing a reader saw through
 * the copy missing), and the copy is deleted then, once no file has it
 * open. */
static void test_lagging_replica_reads_copy(void **state)
{
	struct leader ld;
	struct observers *o;
	struct log *l;

	(void)state;
	o = replica_obs_start(&ld, "leader-lagging", 3, false, 1);
	assert_true(observer_reads_copy(o, "orders", 0));
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), 0);
	assert_int_equal(log_hw(l), 3);
	/* Out of the ISR, the copy open or not: kept, and followed. */
	leader_commit(&ld, 2, "b");
	assert_int_equal(observer_wait(o, "orders", 0, 5, now_mono_ms() + DEADLINE_MS), 0);
	observer_close(o, "orders", 0, l);
	assert_true(copy_stays(300));
	assert_true(observer_reads_copy(o, "orders", 0));

	/* Back in the ISR, behind the copy: still the copy, kept. */
	ld.replica_in_sync = true;
	ld.replica_hw = 4;
	assert_true(observer_reads_copy(o, "orders", 0));
	assert_true(copy_stays(300));
	/* Caught up with it: the replica's log; the copy goes. */
	ld.replica_hw = 5;
	assert_false(observer_reads_copy(o, "orders", 0));
	assert_true(copy_gone());
	assert_false(observer_reads_copy(o, "orders", 0));

	/* A reader still on the copy keeps it, and the copy follows the
	 * leader, while the replica serves the others. */
	ld.replica_in_sync = false;
	assert_true(observer_reads_copy(o, "orders", 0));
	log_unref(l);
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), 0);
	ld.replica_in_sync = true;
	ld.replica_hw = 5;
	leader_commit(&ld, 1, "c");
	assert_int_equal(observer_wait(o, "orders", 0, 6, now_mono_ms() + DEADLINE_MS), 0);
	assert_true(copy_stays(300));
	ld.replica_hw = 6;
	assert_false(observer_reads_copy(o, "orders", 0));
	assert_true(copy_stays(300));
	log_unref(l);
	observer_close(o, "orders", 0, l);
	assert_true(copy_gone());
	observers_free(o);

	/* Without the hook a replica always serves its reads. */
	ld.replica_here = false;
	o = obs_start(&ld, 1000000, DEADLINE_MS);
	assert_false(observer_reads_copy(o, "orders", 0));
	observers_free(o);
	leader_stop(&ld);
}

/* A replica's reader as topic_read.c's reader_settle keeps one: the
 * answer "the replica" of a full check is kept, with the generation
 * taken before that check, for as long as the generation does not move. */
struct gen_reader {
	bool served;
	uint64_t gen;
	int checks;
};

static bool reader_reads_copy(struct observers *o, struct gen_reader *r)
{
	uint64_t gen;
	bool copy;

	if (r->served && observer_reads_gen(o) == r->gen)
		return false;
	gen = observer_reads_gen(o);
	copy = observer_reads_copy(o, "orders", 0);
	r->served = !copy;
	r->gen = gen;
	r->checks++;
	return copy;
}

/* The generation moves on every change that must take a replica's
 * reader to the copy, so that a reader that skips its check while the
 * generation stays never stays on a replica that does not serve: the
 * replica leaving the ISR (the replica manager's count), and a copy
 * whose hw moved past the replica's once a check compared them. An hw
 * move of the replica alone moves nothing: the reads skip the check. */
static void test_reads_gen_moves_readers_to_copy(void **state)
{
	struct gen_reader r = { 0 };
	struct leader ld;
	struct observers *o;
	struct log *l;

	(void)state;
	o = replica_obs_start(&ld, "leader-gen", 3, true, 3);
	assert_false(reader_reads_copy(o, &r));
	assert_int_equal(r.checks, 1);
	/* The replica's hw moves, a record is committed: no check. */
	ld.replica_hw = 4;
	leader_commit(&ld, 1, "b");
	assert_false(reader_reads_copy(o, &r));
	assert_int_equal(r.checks, 1);

	/* The follower leaves the ISR (an UpdateMetadata): the next read
	 * checks and goes to the copy. */
	ld.replica_in_sync = false;
	__atomic_fetch_add(&ld.states_gen, 1, __ATOMIC_RELEASE);
	assert_true(reader_reads_copy(o, &r));
	assert_int_equal(r.checks, 2);
	/* Back in the ISR, caught up: the replica again, kept. */
	ld.replica_in_sync = true;
	__atomic_fetch_add(&ld.states_gen, 1, __ATOMIC_RELEASE);
	assert_false(reader_reads_copy(o, &r));
	assert_false(reader_reads_copy(o, &r));
	assert_int_equal(r.checks, 3);

	/* A copy made (another file's open): the reader checks once, finds
	 * it not ahead, and stays. */
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), 0);
	assert_false(reader_reads_copy(o, &r));
	assert_int_equal(r.checks, 4);
	/* The copy's hw moves past the replica's (which stays at 4): the
	 * next read checks and goes to the copy. */
	leader_commit(&ld, 2, "c");
	assert_int_equal(observer_wait(o, "orders", 0, 6, now_mono_ms() + DEADLINE_MS), 0);
	assert_true(reader_reads_copy(o, &r));
	log_unref(l);
	observer_close(o, "orders", 0, l);
	observers_free(o);
	leader_stop(&ld);
}

/* A copy whose appends fail (a full disk, a failing disk): a barrier does
 * not wait for request.timeout.ms for records it cannot take. */
static void test_copy_that_cannot_append(void **state)
{
	struct leader ld;
	static struct faultio fio; /* too big for the stack */
	struct observers *o;
	struct log *l;
	int64_t t0;

	(void)state;
	faultio_init(&fio);
	faultio_no_map(&fio);
	leader_start(&ld, "leader-noroom");
	leader_commit(&ld, 2, "a");
	ld.io = &fio.ops;
	o = obs_start(&ld, 1000000, DEADLINE_MS);
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), 0);
	assert_int_equal(log_hw(l), 2);
	/* Every write of the copy fails from now on. */
	fio.die_countdown = 1;
	leader_commit(&ld, 3, "b");
	t0 = now_mono_ms();
	assert_int_equal(observer_wait(o, "orders", 0, 5, t0 + DEADLINE_MS), -ETIMEDOUT);
	assert_true(now_mono_ms() - t0 < DEADLINE_MS / 2);
	t0 = now_mono_ms();
	log_unref(l);
	assert_int_equal(observer_open(o, "orders", 0, &lcfg, &l), -EIO);
	assert_true(now_mono_ms() - t0 < DEADLINE_MS / 2);
	observer_close(o, "orders", 0, l);
	fio.dead = false;
	observers_free(o);
	leader_stop(&ld);
	faultio_free(&fio);
}

static void test_rules(void **state)
{
	struct partition_state st = { .leader = 1,
				      .leader_epoch = 4,
				      .n_replicas = 2,
				      .replicas = { 1, 2 },
				      .n_isr = 2,
				      .isr = { 1, 2 } },
			       out;

	(void)state;
	assert_false(observer_idle(1, 0, 1000000, 10));
	assert_false(observer_idle(0, 1000, 1005, 10));
	assert_true(observer_idle(0, 1000, 1010, 10));
	assert_int_equal(observer_follow_state(&st, 3, &out), 0);
	assert_int_equal(out.n_replicas, 3);
	assert_int_equal(out.replicas[2], 3);
	assert_int_equal(out.n_isr, 2);
	assert_int_equal(out.leader_epoch, 4);
	/* No leader, or this broker leading: nothing to follow. */
	st.leader = -1;
	assert_int_equal(observer_follow_state(&st, 3, &out), -EINVAL);
	st.leader = 3;
	assert_int_equal(observer_follow_state(&st, 3, &out), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_is_the_leaders),
		cmocka_unit_test(test_copy_starts_at_leaders_start),
		cmocka_unit_test(test_idle_copy_deleted),
		cmocka_unit_test(test_late_close_of_dropped_copy),
		cmocka_unit_test(test_unreachable_and_unknown),
		cmocka_unit_test(test_lagging_replica_reads_copy),
		cmocka_unit_test(test_reads_gen_moves_readers_to_copy),
		cmocka_unit_test(test_copy_that_cannot_append),
		cmocka_unit_test(test_rules),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
