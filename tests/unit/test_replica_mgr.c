/*
 * test_replica_mgr.c — the replica manager (repl/replica_mgr.c): three
 * brokers in one process, each with its listener, Fetch handlers and
 * manager over test logs (tests/unit/tlog.c), and one in-memory partition
 * state store standing in for ZooKeeper's versioned znodes. The tests hand
 * each manager the controller's requests as the listener would decode
 * them and check: followers replicate byte for byte and the hw follows;
 * stale controller, broker and leader epochs; a partition not ours; one
 * fetcher per leader broker; a leader change moves the fetchers; ISR
 * shrink by the tick and rejoin, written to the store; a write that finds
 * the version moved re-reads; StopReplica with delete closes and removes
 * the log once no one holds it; UpdateMetadata's topics and brokers; the
 * count of state changes the mount's reads rely on; a consumer's fetch
 * served by a follower, and the leader's preferred read replica
 * (KIP-392). Waits poll against deadlines.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "repl/client_quota.h"
#include "repl/fetch_serve.h"
#include "repl/replica_mgr.h"
#include "tests/unit/replfx.h"
#include "tests/unit/tlog.h"
#include "util/clock.h"
#include "tests/unit/protofx.h"

#define DEADLINE_MS 20000
#define NB          3

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	return replfx_mkdtemp(tmpdir, sizeof(tmpdir), "rm");
}

static int teardown(void **state)
{
	(void)state;
	return replfx_rmrf(tmpdir);
}

/* ---- the state store: one versioned state per partition ---- */

struct store {
	pthread_mutex_t mu;
	struct partition_state st; /* one partition: orders-0 */
	int writes, stale;
};

static struct store store = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int store_write(void *arg, const char *topic, int32_t partition, int32_t cepoch,
		       const struct partition_state *proposed)
{
	struct store *s = arg;
	int rc;

	(void)cepoch;
	if (strcmp(topic, "orders") || partition != 0)
		return -ENOENT;
	pthread_mutex_lock(&s->mu);
	if (proposed->partition_epoch != s->st.partition_epoch) {
		s->stale++;
		rc = -ESTALE;
	} else {
		s->st.leader = proposed->leader;
		s->st.leader_epoch = proposed->leader_epoch;
		s->st.n_isr = proposed->n_isr;
		memcpy(s->st.isr, proposed->isr, sizeof(s->st.isr));
		rc = ++s->st.partition_epoch;
		s->writes++;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int store_read(void *arg, const char *topic, int32_t partition, struct partition_state *cur)
{
	struct store *s = arg;
	int32_t nr = cur->n_replicas, r[PARTITION_MAX_REPLICAS];

	if (strcmp(topic, "orders") || partition != 0)
		return -ENOENT;
	memcpy(r, cur->replicas, sizeof(r));
	pthread_mutex_lock(&s->mu);
	*cur = s->st;
	pthread_mutex_unlock(&s->mu);
	cur->n_replicas = nr;
	memcpy(cur->replicas, r, sizeof(r));
	return 0;
}

static void store_set(int32_t leader, int32_t epoch, int n_isr, const int32_t *isr)
{
	pthread_mutex_lock(&store.mu);
	store.st.leader = leader;
	store.st.leader_epoch = epoch;
	store.st.n_isr = n_isr;
	memcpy(store.st.isr, isr, sizeof(int32_t) * (size_t)n_isr);
	store.st.partition_epoch++;
	pthread_mutex_unlock(&store.mu);
}

static struct partition_state store_get(void)
{
	struct partition_state st;

	pthread_mutex_lock(&store.mu);
	st = store.st;
	pthread_mutex_unlock(&store.mu);
	return st;
}

/* ---- a broker ---- */

struct bk {
	int32_t id;
	struct replica_mgr *rm;
	struct fetch_serve *fs;
	struct net_server *srv;
	int port;
	struct tlog *t; /* the log last opened (orders-0), or NULL */
	int opens, closes, deletes;
	char topic_id[32]; /* of the last open */
	bool wiped;        /* started with wiped[id]: no log at its start */
};

static struct bk bks[NB + 1]; /* by broker id 1..3 */

static int bk_open(void *arg, const char *topic, int32_t partition, const char *topic_id,
		   void (*changed)(void *), void *changed_arg, const struct partition_log_ops **ops,
		   void **log)
{
	struct bk *b = arg;
	char dir[160];

	snprintf(b->topic_id, sizeof(b->topic_id), "%s", topic_id);
	snprintf(dir, sizeof(dir), "%s/b%d", tmpdir, (int)b->id);
	mkdir(dir, 0755);
	snprintf(dir, sizeof(dir), "%s/b%d/%s-%d", tmpdir, (int)b->id, topic, (int)partition);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	b->t = tlog_open(dir);
	if (!b->t)
		return -EIO;
	tlog_set_listener(b->t, changed, changed_arg);
	b->opens++;
	*ops = &tlog_ops;
	*log = b->t;
	return 0;
}

static int bk_close(void *arg, const char *topic, int32_t partition, void *log, bool del)
{
	struct bk *b = arg;
	char dir[200];

	/* The last one, or one a later open replaced (rule 6). */
	assert_int_equal(tlog_refs(log), 0);
	if (log == b->t)
		b->t = NULL;
	tlog_close(log);
	b->closes++;
	if (del) {
		snprintf(dir, sizeof(dir), "%s/b%d/%s-%d", tmpdir, (int)b->id, topic,
			 (int)partition);
		assert_int_equal(replfx_rmrf(dir), 0);
		b->deletes++;
	}
	return 0;
}

static int bk_endpoint(void *arg, int32_t id, char host[NET_MAX_HOST + 1], int *port)
{
	(void)arg;
	if (id < 1 || id > NB || !bks[id].srv)
		return -ENOENT;
	strcpy(host, "127.0.0.1");
	*port = bks[id].port;
	return 0;
}

/* Brokers whose data directory was not shut down cleanly (invariant 9). */
static bool unclean[NB + 1];
/* Whether the owner of an unclean broker lists orders-0 as there at the
 * restart (the only partition the tests use), and the eligible calls it
 * got. */
static bool orders_was_there = true;
static int eligible_calls[NB + 1];
/* Brokers started on a wiped data directory: no log of orders-0 there at
 * the start (the log provider's has, rule 7). */
static bool wiped[NB + 1];

static bool bk_has(void *arg, const char *topic, int32_t partition)
{
	struct bk *b = arg;

	(void)topic;
	(void)partition;
	return !b->wiped;
}

static bool bk_ineligible(void *arg, const char *topic, int32_t partition)
{
	(void)arg;
	return orders_was_there && !strcmp(topic, "orders") && partition == 0;
}

static void bk_eligible(void *arg, const char *topic, int32_t partition)
{
	struct bk *b = arg;

	if (!strcmp(topic, "orders") && partition == 0)
		__atomic_add_fetch(&eligible_calls[b->id], 1, __ATOMIC_RELAXED);
}

/* The notices each broker wrote of its log directory's failure, and
 * how many more attempts fail first (ZooKeeper out of reach). */
static int told[NB + 1], tell_fails[NB + 1];

static int bk_log_dir_failed(void *arg, int err)
{
	struct bk *b = arg;

	assert_true(partition_storage_failure(err));
	if (tell_fails[b->id] > 0) {
		tell_fails[b->id]--;
		return -ENOTCONN;
	}
	told[b->id]++;
	return 0;
}

static void bk_start(int32_t id)
{
	struct bk *b = &bks[id];
	struct replica_mgr_config cfg = {
		.broker_id = id,
		.replica_lag_time_max_ms = 10000,
		.min_insync_replicas = 2,
		.unclean_restart = unclean[id],
		.logs = { bk_open, bk_close, b, bk_has },
		.isr = { store_write, store_read, &store },
		.endpoint = bk_endpoint,
		.eligible = bk_eligible,
		.ineligible = bk_ineligible,
		.eligible_arg = b,
		.log_dir = "bk-data",
		.log_dir_failed = bk_log_dir_failed,
		.log_dir_arg = b,
	};
	memset(b, 0, sizeof(*b));
	b->id = id;
	b->wiped = wiped[id];
	eligible_calls[id] = 0;
	told[id] = tell_fails[id] = 0;
	fetcher_config_default(&cfg.fetch);
	cfg.fetch.backoff_ms = 50;
	cfg.fetch.max_wait_ms = 200;
	assert_int_equal(replica_mgr_new(&cfg, &b->rm), 0);
	assert_int_equal(fetch_serve_new(replica_mgr_lookup, b->rm, NULL, &b->fs), 0);
	replica_mgr_set_fetch_serve(b->rm, b->fs);
	/* As a cluster's broker: a partition of its metadata without a
	 * replica here is NOT_LEADER_OR_FOLLOWER. */
	fetch_serve_set_known(b->fs, replica_mgr_known, b->rm);
	replfx_listener_new(false, 0, NULL, NULL, &b->srv);
	assert_int_equal(fetch_serve_register(b->fs, b->srv), 0);
	b->port = replfx_listener_start(b->srv);
}

static void bk_stop(int32_t id)
{
	struct bk *b = &bks[id];

	fetch_serve_stop(b->fs);
	net_server_stop(b->srv);
	replica_mgr_free(b->rm);
	net_server_free(b->srv);
	fetch_serve_free(b->fs);
	assert_null(b->t);
	memset(b, 0, sizeof(*b));
}

static void start_all(void)
{
	int32_t none[1] = { 0 };

	pthread_mutex_lock(&store.mu);
	memset(&store.st, 0, sizeof(store.st));
	store.writes = store.stale = 0;
	pthread_mutex_unlock(&store.mu);
	store_set(-1, -1, 0, none);
	for (int32_t i = 1; i <= NB; i++)
		bk_start(i);
}

static void stop_all(void)
{
	for (int32_t i = 1; i <= NB; i++)
		bk_stop(i);
}

static const int32_t all3[3] = { 1, 2, 3 };

/* The controller's state of orders-0 (replicas 1, 2, 3) as its
 * requests carry it. */
static struct controller_partition_state orders_state(int32_t cepoch, int32_t leader, int32_t epoch,
						      int n_isr, const int32_t *isr,
						      int32_t partition_epoch)
{
	return (struct controller_partition_state){
		.topic = "orders",
		.topic_id = "",
		.partition = 0,
		.controller_epoch = cepoch,
		.leader = leader,
		.leader_epoch = epoch,
		.isr = isr,
		.n_isr = n_isr,
		.partition_epoch = partition_epoch,
		.replicas = all3,
		.n_replicas = 3,
	};
}

/* The state in the store, as the controller's LeaderAndIsr to broker id
 * carries it: that broker's answer for the partition. */
static int lisr_to(int32_t id, int32_t cepoch)
{
	struct partition_state cur = store_get();
	struct controller_partition_state s = orders_state(cepoch, cur.leader, cur.leader_epoch,
							   cur.n_isr, cur.isr, cur.partition_epoch);
	int err = 99;

	assert_int_equal(replica_mgr_leader_and_isr(bks[id].rm, cepoch, -1, &s, 1, &err), 0);
	return err;
}

/* The controller's decision: writes it to the store and tells every
 * replica, as the controller does. */
static void lisr(int32_t cepoch, int32_t leader, int32_t epoch, int n_isr, const int32_t *isr)
{
	struct controller_partition_state s;
	int err = 99;

	store_set(leader, epoch, n_isr, isr);
	s = orders_state(cepoch, leader, epoch, n_isr, isr, store_get().partition_epoch);
	for (int32_t i = 1; i <= NB; i++) {
		assert_int_equal(replica_mgr_leader_and_isr(bks[i].rm, cepoch, -1, &s, 1, &err), 0);
		assert_int_equal(err, 0);
	}
}

/* The controller's UpdateMetadata to broker id, of orders-0 alone (the
 * live brokers 1..3): how a follower learns its leader's ISR changes. */
static void um_to(int32_t id, int32_t leader, int32_t epoch, int n_isr, const int32_t *isr,
		  int32_t partition_epoch)
{
	struct controller_partition_state s =
		orders_state(1, leader, epoch, n_isr, isr, partition_epoch);

	assert_int_equal(replica_mgr_update_metadata(bks[id].rm, 1, -1, all3, 3, &s, 1), 0);
}

static struct partition_info info_of(int32_t id)
{
	return replfx_info(bks[id].rm, "orders", 0);
}

static void append_on(int32_t id, int n, const char *prefix)
{
	struct partition *p = replica_mgr_get(bks[id].rm, "orders", 0);
	struct partition_info info;

	assert_non_null(p);
	partition_get_info(p, &info);
	assert_int_equal(partition_check_append(p, -1), 0);
	assert_true(tlog_append(bks[id].t, n, info.leader_epoch, prefix) >= 0);
	assert_true(partition_maybe_increment_leader_hw(p, now_mono_ms()) >= 0);
	partition_unref(p);
}

/* Every replica in ids has the leader's LEO and hw and the leader's ISR
 * has n_isr members. */
static bool synced(int32_t leader, const int32_t *ids, int n, int n_isr)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (now_mono_ms() < end) {
		struct partition_info l = info_of(leader);
		bool ok = l.n_isr == n_isr && l.offsets.hw == l.offsets.log_end_offset;

		for (int i = 0; ok && i < n; i++) {
			struct partition_info f = info_of(ids[i]);

			ok = f.offsets.log_end_offset == l.offsets.log_end_offset &&
			     f.offsets.hw == l.offsets.hw;
		}
		if (ok)
			return true;
		usleep(2000);
	}
	return false;
}

/* The leader has seen follower id fetch at its LEO (its next fetch after
 * taking the last records), so the lag rule counts it as caught up. */
static bool leader_sees(int32_t leader, int32_t id)
{
	int64_t end = now_mono_ms() + DEADLINE_MS;

	while (now_mono_ms() < end) {
		struct partition_info l = info_of(leader);

		for (int i = 0; i < l.n_followers; i++)
			if (l.followers[i].broker_id == id &&
			    l.followers[i].log_end_offset == l.offsets.log_end_offset)
				return true;
		usleep(2000);
	}
	return false;
}

static void assert_same_file(int32_t a, int32_t b)
{
	FILE *fa = fopen(tlog_path(bks[a].t), "rb"), *fb = fopen(tlog_path(bks[b].t), "rb");
	static char x[1 << 16], y[1 << 16];
	size_t na, nb;

	assert_non_null(fa);
	assert_non_null(fb);
	na = fread(x, 1, sizeof(x), fa);
	nb = fread(y, 1, sizeof(y), fb);
	assert_true(na > 0);
	assert_int_equal(na, nb);
	assert_memory_equal(x, y, na);
	fclose(fa);
	fclose(fb);
}

/* LeaderAndIsr makes one leader and two followers; each follower has one
 * fetcher; records written on the leader reach both, byte for byte, and
 * the hw covers them everywhere. */
static void test_replicates(void **state)
{
	struct replica_mgr_stats st;
	char v[64];

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	assert_int_equal(info_of(1).role, PARTITION_LEADER);
	assert_int_equal(info_of(2).role, PARTITION_FOLLOWER);
	assert_int_equal(info_of(3).role, PARTITION_FOLLOWER);
	append_on(1, 5, "a");
	append_on(1, 3, "b");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	assert_int_equal(info_of(3).offsets.hw, 8);
	assert_same_file(1, 2);
	assert_same_file(1, 3);
	assert_int_equal(tlog_value_at(bks[3].t, 6, v, sizeof(v)), 0);
	assert_string_equal(v, "b-1");
	replica_mgr_get_stats(bks[1].rm, &st);
	assert_int_equal(st.leaders, 1);
	assert_int_equal(st.fetchers, 0);
	assert_int_equal(st.under_replicated, 0);
	assert_int_equal(st.max_lag, 0);
	assert_int_equal(st.leadership_changes, 1);
	assert_int_equal(st.fetch_bytes_in, 0);
	assert_int_equal(st.controller_epoch, 1);
	replica_mgr_get_stats(bks[2].rm, &st);
	assert_int_equal(st.followers, 1);
	assert_int_equal(st.fetchers, 1);
	assert_int_equal(st.leadership_changes, 0);
	/* The follower appended the leader's batches: their bytes are the
	 * leader's log bytes (counted just after the append is visible). */
	for (int64_t end = now_mono_ms() + DEADLINE_MS;
	     st.fetch_bytes_in < tlog_pos_of(bks[1].t, 8) && now_mono_ms() < end;
	     replica_mgr_get_stats(bks[2].rm, &st))
		usleep(2000);
	assert_int_equal(st.fetch_bytes_in, tlog_pos_of(bks[1].t, 8));
	/* The same LeaderAndIsr again changes nothing and opens nothing. */
	lisr(1, 1, 0, 3, all3);
	assert_int_equal(bks[2].opens, 1);
	replica_mgr_get_stats(bks[1].rm, &st);
	assert_int_equal(st.leadership_changes, 1);
	stop_all();
}

/* Rule 1 and 2: stale controller epoch, stale broker epoch, stale leader
 * epoch; a partition this broker is no replica of opens nothing. */
static void test_stale_and_foreign(void **state)
{
	const int32_t other[2] = { 2, 3 };
	struct controller_partition_state s = {
		.topic = "orders",
		.topic_id = "",
		.partition = 0,
		.controller_epoch = 5,
		.leader = 1,
		.leader_epoch = 3,
		.isr = all3,
		.n_isr = 3,
		.partition_epoch = 7,
		.replicas = all3,
		.n_replicas = 3,
	};
	int err = 99;

	(void)state;
	start_all();
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 5, -1, &s, 1, &err), 0);
	assert_int_equal(err, 0);
	/* An older controller: refused whole, nothing changes. */
	s.leader_epoch = 4;
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 4, -1, &s, 1, &err), -ESTALE);
	assert_int_equal(info_of(1).leader_epoch, 3);
	/* Our broker epoch is known: an older one is refused (for a
	 * registration of ours that is gone: STALE_BROKER_EPOCH, not the
	 * controller's error); a newer one is ours before we read it (the
	 * controller saw our new registration first), as Kafka takes it. */
	replica_mgr_set_broker_epoch(bks[1].rm, 100);
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 5, 99, &s, 1, &err), -EREMCHG);
	assert_int_equal(info_of(1).leader_epoch, 3);
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 5, 101, &s, 1, &err), 0);
	assert_int_equal(info_of(1).leader_epoch, 4);
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 5, 100, &s, 1, &err), 0);
	/* An older leader epoch: that partition's error. */
	s.leader_epoch = 2;
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 5, -1, &s, 1, &err), 0);
	assert_int_equal(err, -ESTALE);
	assert_int_equal(info_of(1).leader_epoch, 4);
	/* Not a replica here. */
	s.topic = "payments";
	s.replicas = other;
	s.n_replicas = 2;
	s.isr = other;
	s.n_isr = 2;
	s.leader = 2;
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 5, -1, &s, 1, &err), 0);
	assert_int_equal(err, -ENOENT);
	assert_null(replica_mgr_get(bks[1].rm, "payments", 0));
	assert_int_equal(bks[1].opens, 1);
	stop_all();
}

/* A new leader: the old one follows it, the other follower's fetcher
 * moves to it, records written there reach both. */
static void test_leader_change(void **state)
{
	struct replica_mgr_stats st;

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 4, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	lisr(2, 2, 1, 3, all3);
	assert_int_equal(info_of(2).role, PARTITION_LEADER);
	assert_int_equal(info_of(1).role, PARTITION_FOLLOWER);
	append_on(2, 3, "b");
	assert_true(synced(2, (int32_t[]){ 1, 3 }, 2, 3));
	assert_same_file(2, 1);
	assert_same_file(2, 3);
	replica_mgr_get_stats(bks[3].rm, &st);
	assert_int_equal(st.fetchers, 2); /* one per leader broker seen */
	assert_int_equal(st.leadership_changes, 0);
	replica_mgr_get_stats(bks[2].rm, &st);
	assert_int_equal(st.leaders, 1);
	assert_int_equal(st.leadership_changes, 1);
	/* Broker 1 led, then followed: two changes. */
	replica_mgr_get_stats(bks[1].rm, &st);
	assert_int_equal(st.leaders, 0);
	assert_int_equal(st.leadership_changes, 2);
	stop_all();
}

/* Every replica in the leaderless state of epoch 1, with n_isr in-sync
 * replicas, after a LeaderAndIsr with leader -1. */
static void assert_leaderless(int32_t n_isr)
{
	for (int32_t i = 1; i <= NB; i++) {
		struct partition_info in = info_of(i);

		assert_int_equal(in.leader, -1);
		assert_int_equal(in.leader_epoch, 1);
		assert_int_equal(in.n_isr, n_isr);
		assert_int_equal(in.role, PARTITION_FOLLOWER);
	}
}

/* A LeaderAndIsr with no leader (the controller found no replica to
 * elect: an offline partition) is taken by every replica, its leader
 * too: their state, which .state shows and writes are routed by, names
 * no leader, not the one before; the next election is followed. */
static void test_offline_state(void **state)
{
	const int32_t isr1[1] = { 1 };

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 4, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	lisr(1, -1, 1, 1, isr1);
	assert_leaderless(1);
	lisr(1, 2, 2, 3, all3);
	assert_int_equal(info_of(2).role, PARTITION_LEADER);
	append_on(2, 2, "b");
	assert_true(synced(2, (int32_t[]){ 1, 3 }, 2, 3));
	assert_same_file(2, 1);
	stop_all();
}

/* Every local replica of broker id is offline (partition_mark_offline):
 * no role, Fetch answered KAFKA_STORAGE_ERROR, appends refused. */
static void assert_replica_offline(int32_t id)
{
	struct partition *p = replica_mgr_get(bks[id].rm, "orders", 0);
	struct partition_info in = info_of(id);

	assert_true(in.offline);
	assert_int_equal(in.role, PARTITION_NONE);
	assert_non_null(p);
	assert_int_equal(fetch_serve_epoch_check(p, -1), PROTO_ERR_KAFKA_STORAGE_ERROR);
	assert_int_equal(partition_check_append(p, 1), -ENXIO);
	partition_unref(p);
}

/* Kafka's log directory failure, met by a follower: its append fails
 * with an I/O error, and the broker's one directory goes offline (step a
 * of replica_mgr.c) on the fetcher's thread. The tick then stops its
 * fetchers and tells the controller (once); every later LeaderAndIsr,
 * to lead or to follow, is refused KAFKA_STORAGE_ERROR (-ENXIO) and
 * opens nothing. The others replicate on without it. */
static void test_log_dir_failure_follower(void **state)
{
	int64_t end;

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 4, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	assert_int_equal(replica_mgr_log_dir_failure(bks[3].rm), 0);
	tlog_fail_appends(bks[3].t, -EIO);
	append_on(1, 2, "b");
	/* Step a sets the failure, then marks the replicas offline, on the
	 * fetcher's thread: both are waited for. */
	end = now_mono_ms() + DEADLINE_MS;
	while ((replica_mgr_log_dir_failure(bks[3].rm) == 0 || !info_of(3).offline) &&
	       now_mono_ms() < end)
		usleep(2000);
	assert_int_equal(replica_mgr_log_dir_failure(bks[3].rm), -EIO);
	assert_replica_offline(3);
	assert_int_equal(told[3], 0);
	replica_mgr_tick(bks[3].rm, now_mono_ms());
	assert_int_equal(told[3], 1);
	replica_mgr_tick(bks[3].rm, now_mono_ms());
	assert_int_equal(told[3], 1);
	{
		struct replica_mgr_stats st;

		replica_mgr_get_stats(bks[3].rm, &st);
		assert_int_equal(st.followers, 0);
		assert_int_equal(st.leaders, 0);
		assert_int_equal(st.log_dir_err, -EIO);
	}
	/* The controller asks (the same state), then elects 2 without it. */
	assert_int_equal(lisr_to(3, 1), -ENXIO);
	store_set(2, 1, 2, (int32_t[]){ 2, 1 });
	assert_int_equal(lisr_to(3, 1), -ENXIO);
	assert_int_equal(lisr_to(2, 1), 0);
	assert_int_equal(lisr_to(1, 1), 0);
	assert_replica_offline(3);
	append_on(2, 3, "c");
	assert_true(synced(2, (int32_t[]){ 1 }, 1, 2));
	assert_int_equal(bks[3].opens, 1);
	/* Not a follower of anyone: its log never took "b" or "c". */
	assert_true(info_of(3).offsets.log_end_offset < info_of(2).offsets.log_end_offset);
	stop_all();
}

/* The leader's own append failed (the produce path hands the error to
 * replica_mgr_storage_failed): an error of the request (a record too
 * big) is returned as it is and changes nothing; a full disk takes the
 * directory offline and becomes -ENXIO (the write goes to the next
 * leader). The notice that cannot be written at first is tried again by
 * each tick until it is. */
static void test_log_dir_failure_leader(void **state)
{
	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 4, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	assert_int_equal(replica_mgr_storage_failed(bks[1].rm, "orders", 0, -EMSGSIZE), -EMSGSIZE);
	assert_int_equal(replica_mgr_log_dir_failure(bks[1].rm), 0);
	assert_int_equal(info_of(1).role, PARTITION_LEADER);
	tell_fails[1] = 2;
	assert_int_equal(replica_mgr_storage_failed(bks[1].rm, "orders", 0, -ENOSPC), -ENXIO);
	assert_int_equal(replica_mgr_storage_failed(bks[1].rm, "orders", 0, -EIO), -ENXIO);
	assert_int_equal(replica_mgr_log_dir_failure(bks[1].rm), -ENOSPC);
	assert_replica_offline(1);
	replica_mgr_tick(bks[1].rm, now_mono_ms());
	replica_mgr_tick(bks[1].rm, now_mono_ms());
	assert_int_equal(told[1], 0);
	replica_mgr_tick(bks[1].rm, now_mono_ms());
	assert_int_equal(told[1], 1);
	replica_mgr_tick(bks[1].rm, now_mono_ms());
	assert_int_equal(told[1], 1);
	/* Its answer, then the election without it. */
	assert_int_equal(lisr_to(1, 1), -ENXIO);
	store_set(2, 1, 2, (int32_t[]){ 2, 3 });
	for (int32_t i = 1; i <= NB; i++)
		assert_int_equal(lisr_to(i, 1), i == 1 ? -ENXIO : 0);
	append_on(2, 3, "b");
	assert_true(synced(2, (int32_t[]){ 3 }, 1, 2));
	assert_same_file(2, 3);
	stop_all();
}

/* A state whose ISR names brokers that are not replicas (an operator
 * wrote the state znode with zkCli; the controller, electing nobody,
 * keeps such an ISR): every replica takes it, without them, instead of
 * staying in its old role and epoch. Before, the old leader went on
 * appending writes that its followers no longer fetched. */
static void test_isr_outside_replicas(void **state)
{
	const int32_t gone[1] = { 99 }, mixed[4] = { 1, 99, 3, 1 };

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 4, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	lisr(1, -1, 1, 1, gone);
	assert_leaderless(0);
	/* A leader whose ISR holds 99 and a repeat: it leads with 1 and 3,
	 * and its hw moves with them. */
	lisr(1, 1, 2, 4, mixed);
	struct partition_info in = info_of(1);
	bool has1 = false, has3 = false;

	assert_int_equal(in.role, PARTITION_LEADER);
	/* 1 and 3, once each, never 99; broker 2, a replica out of this
	 * ISR, may have been taken back in already (it fetches). */
	assert_true(in.n_isr == 2 || in.n_isr == 3);
	for (int i = 0; i < in.n_isr; i++) {
		assert_true(in.isr[i] == 1 || in.isr[i] == 2 || in.isr[i] == 3);
		for (int k = 0; k < i; k++)
			assert_int_not_equal(in.isr[k], in.isr[i]);
		has1 = has1 || in.isr[i] == 1;
		has3 = has3 || in.isr[i] == 3;
	}
	assert_true(has1 && has3);
	append_on(1, 2, "b");
	assert_true(synced(1, (int32_t[]){ 3 }, 1, 3));
	stop_all();
}

/* A topic whose znodes another client deleted: no StopReplica comes, and
 * every replica of it stops all the same when the broker finds it gone
 * (replica_mgr_drop_topic): none leads or fetches it any more, and its
 * metadata goes. */
static void test_drop_topic(void **state)
{
	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 4, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	for (int32_t i = 1; i <= NB; i++) {
		struct partition_state st;

		assert_int_equal(replica_mgr_drop_topic(bks[i].rm, "orders"), 1);
		assert_null(replica_mgr_get(bks[i].rm, "orders", 0));
		assert_int_equal(replica_mgr_partition_meta(bks[i].rm, "orders", 0, &st), -ENOENT);
		assert_int_equal(replica_mgr_drop_topic(bks[i].rm, "orders"), 0);
	}
	stop_all();
}

/* A LeaderAndIsr of an older leader epoch than the replica's (a
 * controller that started the partition again at epoch 0 after its state
 * znode was deleted by another client) is ignored, the replica keeping
 * its epoch, and the broker says so in its log. */
static void test_older_epoch_logged(void **state)
{
	char path[] = "/tmp/mqfs-test-rm-log.XXXXXX", text[8192] = "";
	int fd, err;

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	lisr(1, 2, 1, 3, all3);
	assert_true(synced(2, (int32_t[]){ 1, 3 }, 2, 3));
	fd = mkstemp(path);
	err = dup(2);
	assert_true(fd >= 0 && err >= 0);
	dup2(fd, 2);
	{
		struct controller_partition_state s = {
			.topic = "orders",
			.topic_id = "",
			.partition = 0,
			.controller_epoch = 2,
			.leader = 3,
			.leader_epoch = 0,
			.isr = all3,
			.n_isr = 3,
			.partition_epoch = 0,
			.replicas = all3,
			.n_replicas = 3,
		};
		int e = 0;

		(void)replica_mgr_leader_and_isr(bks[1].rm, 2, -1, &s, 1, &e);
	}
	dup2(err, 2);
	close(err);
	assert_true(pread(fd, text, sizeof(text) - 1, 0) > 0);
	close(fd);
	unlink(path);
	assert_non_null(strstr(text, "orders-0: LeaderAndIsr (leader 3, epoch 0) ignored: this "
				     "replica is in leader epoch 1 already"));
	assert_int_equal(info_of(1).leader, 2);
	assert_int_equal(info_of(1).leader_epoch, 1);
	stop_all();
}

/* A consumer's fetch parked at the leader (for 20 s) is answered as
 * soon as a LeaderAndIsr moves the leadership away, with
 * NOT_LEADER_OR_FOLLOWER for a client below v11 (which a follower does
 * not serve: Kafka's testBecomeFollowerWhileOldClientFetchInPurgatory),
 * FENCED_LEADER_EPOCH for a v11+ one that named the old epoch (its
 * testBecomeFollowerWhileNewClientFetchInPurgatory), not at its
 * max_wait_ms: the purgatory sleeps until told, and the move tells it. */
struct parked {
	int port;
	int64_t offset;
	int16_t version;  /* 0: 12 */
	int32_t epoch;    /* current_leader_epoch; 0 and version 0: -1 */
	const char *rack; /* rack_id, NULL "" */
	int32_t max_wait; /* 0: 20000 */
	int16_t error;
	int32_t preferred;
	int64_t hw, log_start, last_stable;
	int32_t records_len;
	int64_t took;
};

static void *fetch_parked(void *arg)
{
	struct parked *pk = arg;
	struct protofx_fetch f;
	struct proto_fetch_resp fr;
	struct net_client *c;
	struct net_resp resp;
	struct kbuf_w w;
	int64_t t0 = now_mono_ms();
	int16_t v = pk->version ? pk->version : 12;
	const struct proto_fetch_resp_part *rp;

	protofx_fetch_init(&f, "orders", -1, pk->version ? pk->epoch : -1, pk->offset, -1,
			   pk->max_wait ? pk->max_wait : 20000);
	f.req.rack_id = kstr_of(pk->rack ? pk->rack : "");
	assert_int_equal(net_client_connect("127.0.0.1", pk->port, DEADLINE_MS, &c), 0);
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_fetch_req_encode(&w, v, &f.req), 0);
	assert_int_equal(
		net_client_call(c, PROTO_API_FETCH, v, w.buf, w.len, 0, DEADLINE_MS + 20000, &resp),
		0);
	kbuf_w_free(&w);
	assert_int_equal(proto_fetch_resp_decode(&resp.body, v, &fr), 0);
	rp = &fr.topics[0].partitions[0];
	pk->error = rp->error_code;
	pk->preferred = rp->preferred_read_replica;
	pk->hw = rp->high_watermark;
	pk->log_start = rp->log_start_offset;
	pk->last_stable = rp->last_stable_offset;
	pk->records_len = rp->records_len;
	pk->took = now_mono_ms() - t0;
	proto_fetch_resp_free(&fr);
	net_resp_free(&resp);
	net_client_close(c);
	return NULL;
}

/* pk's fetch, answered (on this thread). */
static struct parked fetch_now(struct parked pk)
{
	fetch_parked(&pk);
	return pk;
}

/* A fetch pk to broker id parked there (its thread in *th). */
static void park_fetch(int32_t id, struct parked *pk, pthread_t *th)
{
	int64_t end;
	int parked0;

	parked0 = fetch_serve_parked(bks[id].fs);
	assert_int_equal(pthread_create(th, NULL, fetch_parked, pk), 0);
	end = now_mono_ms() + DEADLINE_MS;
	while (fetch_serve_parked(bks[id].fs) <= parked0 && now_mono_ms() < end)
		usleep(1000);
	assert_true(fetch_serve_parked(bks[id].fs) > parked0);
}

/* Leader 1 of orders-0 with 4 records on every replica. */
static void leader1_synced(void)
{
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 4, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
}

/* Leader 1 of orders-0 with 4 records on every replica, and a consumer's
 * fetch at its end parked there (its thread in *th). */
static void park_fetch_on_leader(struct parked *pk, pthread_t *th)
{
	leader1_synced();
	*pk = (struct parked){ .port = bks[1].port, .offset = 4 }; /* the hw */
	park_fetch(1, pk, th);
}

/* A consumer's fetch (version, current_leader_epoch) parked on leader 1
 * at its end, then the leadership moved to broker 2: answered want at
 * once. */
static void park_and_move(int16_t version, int32_t epoch, int16_t want)
{
	struct parked pk;
	pthread_t th;

	leader1_synced();
	pk = (struct parked){
		.port = bks[1].port, .offset = 4, .version = version, .epoch = epoch
	};
	park_fetch(1, &pk, &th);
	lisr(2, 2, 1, 3, all3);
	pthread_join(th, NULL);
	assert_int_equal(pk.error, want);
	assert_true(pk.took < 20000);
	stop_all();
}

static void test_parked_fetch_answered_on_move(void **state)
{
	(void)state;
	park_and_move(10, -1, PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
}

static void test_parked_new_client_fenced_on_move(void **state)
{
	(void)state;
	park_and_move(12, 0, PROTO_ERR_FENCED_LEADER_EPOCH);
}

/* A follower serves a consumer's Fetch v11+ (Kafka's fetchOnlyFromLeader
 * false: testFetchFollowerNotAllowedForOlderClients), up to its own hw,
 * with OFFSET_OUT_OF_RANGE past its own log end; one below v11 is
 * NOT_LEADER_OR_FOLLOWER. */
static void test_follower_serves_consumer(void **state)
{
	struct parked pk;
	struct fetch_serve_follower_stats st;

	(void)state;
	leader1_synced();
	pk = fetch_now((struct parked){ .port = bks[2].port, .offset = 0, .version = 11 });
	assert_int_equal(pk.error, 0);
	assert_true(pk.records_len > 0);
	assert_int_equal(pk.hw, 4);
	assert_int_equal(pk.preferred, -1);
	fetch_serve_follower_stats(bks[2].fs, &st);
	assert_int_equal(st.consumer_fetches, 1);
	assert_int_equal(st.consumer_bytes_out, pk.records_len);
	pk = fetch_now((struct parked){ .port = bks[2].port, .offset = 0, .version = 10 });
	assert_int_equal(pk.error, PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	pk = fetch_now((struct parked){ .port = bks[2].port, .offset = 5, .version = 12 });
	assert_int_equal(pk.error, PROTO_ERR_OFFSET_OUT_OF_RANGE);
	fetch_serve_follower_stats(bks[2].fs, &st);
	assert_int_equal(st.consumer_fetches, 1);
	stop_all();
}

/* A consumer's OFFSET_OUT_OF_RANGE carries hw and last stable offset -1,
 * as Kafka's: librdkafka, told so by a follower, goes back to the leader
 * only when its offset is above that hw. Here follower 2's retention moved
 * its log start to 2 before the leader's did: a consumer at offset 1 must
 * go back to the leader, which still serves it. */
static void test_follower_out_of_range_no_hw(void **state)
{
	struct parked pk;

	(void)state;
	leader1_synced();
	tlog_set_start(bks[2].t, 2);
	pk = fetch_now((struct parked){ .port = bks[2].port, .offset = 1, .version = 12 });
	assert_int_equal(pk.error, PROTO_ERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(pk.hw, -1);
	assert_int_equal(pk.last_stable, -1);
	assert_int_equal(pk.log_start, 2);
	pk = fetch_now((struct parked){ .port = bks[2].port, .offset = 5, .version = 12 });
	assert_int_equal(pk.error, PROTO_ERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(pk.hw, -1);
	pk = fetch_now((struct parked){ .port = bks[1].port, .offset = 1, .version = 12 });
	assert_int_equal(pk.error, 0);
	assert_true(pk.records_len > 0);
	assert_int_equal(pk.hw, 4);
	stop_all();
}

/* A Java consumer's incremental fetch session (KIP-227) on a follower.
 * sess_fetch: one Fetch v12 to port in session sid at epoch sepoch
 * (0: a full fetch that opens one), naming orders-0 at offset in leader
 * epoch lepoch when named; the answer's session id, top error, and its
 * partitions (the first one's error, hw, records). */
struct sess_ans {
	int32_t sid;
	int16_t error;
	int32_t n_parts;
	int16_t part_error;
	int64_t hw;
	int32_t records_len;
};

static struct sess_ans sess_fetch(int port, int32_t sid, int32_t sepoch, bool named, int64_t offset,
				  int32_t lepoch, int32_t max_wait)
{
	struct protofx_fetch f;
	struct proto_fetch_resp fr;
	struct net_client *c;
	struct net_resp resp;
	struct kbuf_w w;
	struct sess_ans a = { 0 };

	protofx_fetch_init(&f, "orders", -1, lepoch, offset, -1, max_wait);
	f.req.session_id = sid;
	f.req.session_epoch = sepoch;
	f.req.n_topics = named ? 1 : 0;
	assert_int_equal(net_client_connect("127.0.0.1", port, DEADLINE_MS, &c), 0);
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_fetch_req_encode(&w, 12, &f.req), 0);
	assert_int_equal(net_client_call(c, PROTO_API_FETCH, 12, w.buf, w.len, 0,
					 DEADLINE_MS + max_wait, &resp),
			 0);
	kbuf_w_free(&w);
	assert_int_equal(proto_fetch_resp_decode(&resp.body, 12, &fr), 0);
	a.sid = fr.session_id;
	a.error = fr.error_code;
	for (int32_t t = 0; t < fr.n_topics; t++)
		a.n_parts += fr.topics[t].n_partitions;
	if (a.n_parts > 0) {
		a.part_error = fr.topics[0].partitions[0].error_code;
		a.hw = fr.topics[0].partitions[0].high_watermark;
		a.records_len = fr.topics[0].partitions[0].records_len;
	}
	proto_fetch_resp_free(&fr);
	net_resp_free(&resp);
	net_client_close(c);
	return a;
}

/* A session on follower 3: the full fetch reads to its hw and opens the
 * session; an incremental one with nothing new is answered without the
 * partition at its max_wait_ms; after records its answer carries them
 * and the new hw; after a leader change the partition's epoch error. */
static void test_follower_fetch_session(void **state)
{
	struct sess_ans a, b;

	(void)state;
	leader1_synced();
	a = sess_fetch(bks[3].port, 0, 0, true, 0, 0, 100);
	assert_int_equal(a.error, 0);
	assert_true(a.sid > 0);
	assert_int_equal(a.n_parts, 1);
	assert_int_equal(a.part_error, 0);
	assert_int_equal(a.hw, 4);
	assert_true(a.records_len > 0);
	b = sess_fetch(bks[3].port, a.sid, 1, true, 4, 0, 100);
	assert_int_equal(b.error, 0);
	assert_int_equal(b.sid, a.sid);
	assert_int_equal(b.n_parts, 0);
	append_on(1, 2, "b");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	b = sess_fetch(bks[3].port, a.sid, 2, false, 0, 0, 5000);
	assert_int_equal(b.error, 0);
	assert_int_equal(b.n_parts, 1);
	assert_int_equal(b.part_error, 0);
	assert_int_equal(b.hw, 6);
	assert_true(b.records_len > 0);
	lisr(2, 2, 1, 3, all3);
	b = sess_fetch(bks[3].port, a.sid, 3, true, 6, 0, 5000);
	assert_int_equal(b.error, 0);
	assert_int_equal(b.n_parts, 1);
	assert_int_equal(b.part_error, PROTO_ERR_FENCED_LEADER_EPOCH);
	stop_all();
}

/* An incremental fetch of session sid at epoch sepoch on port, its
 * answer in ans (a thread's). */
struct sess_call {
	int port;
	int32_t sid, sepoch, max_wait;
	struct sess_ans ans;
};

static void *sess_fetch_thread(void *arg)
{
	struct sess_call *sc = arg;

	sc->ans = sess_fetch(sc->port, sc->sid, sc->sepoch, false, 0, 0, sc->max_wait);
	return NULL;
}

/* A throttled incremental Fetch whose session another fetch moved on
 * while it waited (a duplicate request answered first) is answered
 * INVALID_FETCH_SESSION_EPOCH with no partition, as the unthrottled one
 * is: Kafka's getThrottledResponse checks the epoch again. */
static void test_throttled_fetch_session_epoch(void **state)
{
	struct client_quota_entity *e = calloc(1, sizeof(*e));
	struct client_quotas *q;
	struct sess_call a;
	struct sess_ans full, b;
	pthread_t th;
	int64_t parked0, end;

	(void)state;
	assert_non_null(e);
	leader1_synced();
	full = sess_fetch(bks[1].port, 0, 0, true, 4, 0, 100); /* at the end */
	assert_true(full.sid > 0);
	/* Every answer to this client from now on is over 1 byte/s. */
	assert_int_equal(client_quotas_new(11, 1000, &q), 0);
	*e = (struct client_quota_entity){ NULL, strdup(NET_CLIENT_ID), -1, 1 };
	assert_non_null(e->client);
	client_quotas_replace(q, e, 1);
	fetch_serve_set_client_quotas(bks[1].fs, q);
	/* A: epoch 1, nothing new: parked until its max_wait_ms. */
	parked0 = fetch_serve_parked(bks[1].fs);
	a = (struct sess_call){ bks[1].port, full.sid, 1, 3000, { 0 } };
	assert_int_equal(pthread_create(&th, NULL, sess_fetch_thread, &a), 0);
	end = now_mono_ms() + DEADLINE_MS;
	while (fetch_serve_parked(bks[1].fs) <= parked0 && now_mono_ms() < end)
		usleep(1000);
	assert_true(fetch_serve_parked(bks[1].fs) > parked0);
	/* B, the session's next epoch, answered at once: throttled, no error. */
	b = sess_fetch(bks[1].port, full.sid, 2, false, 0, 0, 0);
	assert_int_equal(b.error, 0);
	assert_int_equal(b.sid, full.sid);
	assert_int_equal(b.n_parts, 0);
	pthread_join(th, NULL);
	assert_int_equal(a.ans.error, PROTO_ERR_INVALID_FETCH_SESSION_EPOCH);
	assert_int_equal(a.ans.sid, full.sid);
	assert_int_equal(a.ans.n_parts, 0);
	fetch_serve_set_client_quotas(bks[1].fs, NULL);
	stop_all();
	client_quotas_free(q);
}

/* A consumer's Fetch v12 in leader epoch epoch parked on broker id at
 * offset 4, leader1_synced's end (its thread in *th). */
static void park_at_end(int32_t id, int32_t epoch, struct parked *pk, pthread_t *th)
{
	*pk = (struct parked){ .port = bks[id].port, .offset = 4, .version = 12, .epoch = epoch };
	park_fetch(id, pk, th);
}

/* A consumer's fetch parked at a follower's end is answered with the
 * records once the follower's hw covers them (it learns the hw from its
 * fetches of the leader), long before its max_wait_ms. */
static void test_follower_parked_fetch_woken(void **state)
{
	struct parked pk;
	pthread_t th;

	(void)state;
	leader1_synced();
	park_at_end(3, 0, &pk, &th);
	append_on(1, 2, "b");
	pthread_join(th, NULL);
	assert_int_equal(pk.error, 0);
	assert_true(pk.records_len > 0);
	assert_int_equal(pk.hw, 6);
	assert_true(pk.took < 20000);
	stop_all();
}

/* Brokers' racks for the preferred read replica: broker i in rack ri,
 * broker 3 without an endpoint while rack3_gone. */
static bool rack3_gone;

static bool bk_rack(void *arg, int32_t id, int listener, char *rack, size_t cap)
{
	(void)arg;
	(void)listener;
	if (id == 3 && rack3_gone)
		return false;
	snprintf(rack, cap, "r%d", (int)id);
	return true;
}

/* The leader answers a consumer's Fetch v11+ from rack r2 with broker 2
 * as its preferred read replica, at once and without records (the hw,
 * log start and last stable offset as a read would: Kafka's
 * testFetchShouldReturnImmediatelyWhenPreferredReadReplicaIsDefined);
 * serves it itself for its own rack, an unknown one, none, a client
 * below v11, LeaderSelector, and once broker 2 is out of the ISR
 * (testPreferredReplicaAsLeaderWhenSameRackFollowerIsOutOfIsr) or
 * behind the fetch offset; a replica without an endpoint is never
 * chosen. */
static void test_preferred_read_replica(void **state)
{
	struct parked pk;
	struct fetch_serve_follower_stats st;
	const int32_t isr13[2] = { 1, 3 };

	(void)state;
	leader1_synced();
	rack3_gone = false;
	fetch_serve_set_selector(bks[1].fs, REPLICA_SELECTOR_RACK_AWARE, bk_rack, NULL);
	pk = fetch_now((struct parked){ .port = bks[1].port, .offset = 4, .rack = "r2" });
	assert_int_equal(pk.error, 0);
	assert_int_equal(pk.preferred, 2);
	assert_int_equal(pk.records_len, 0);
	assert_int_equal(pk.hw, 4);
	assert_int_equal(pk.last_stable, 4);
	assert_int_equal(pk.log_start, 0);
	assert_true(pk.took < 20000);
	pk = fetch_now((struct parked){ .port = bks[1].port, .offset = 0, .rack = "r3" });
	assert_int_equal(pk.preferred, 3);
	rack3_gone = true;
	pk = fetch_now((struct parked){ .port = bks[1].port, .offset = 0, .rack = "r3" });
	assert_int_equal(pk.preferred, -1);
	assert_true(pk.records_len > 0);
	fetch_serve_follower_stats(bks[1].fs, &st);
	assert_int_equal(st.preferred_answers, 2);
	/* Past every follower's LEO: the leader's (none is chosen). */
	pk = fetch_now(
		(struct parked){ .port = bks[1].port, .offset = 5, .rack = "r2", .max_wait = 1 });
	assert_int_equal(pk.error, PROTO_ERR_OFFSET_OUT_OF_RANGE);
	assert_int_equal(pk.preferred, -1);
	const char *racks[] = { "r1", "r9", "" };
	for (int i = 0; i < 3; i++) {
		pk = fetch_now(
			(struct parked){ .port = bks[1].port, .offset = 0, .rack = racks[i] });
		assert_int_equal(pk.preferred, -1);
		assert_true(pk.records_len > 0);
	}
	pk = fetch_now((struct parked){
		.port = bks[1].port, .offset = 0, .rack = "r2", .version = 10, .epoch = -1 });
	assert_int_equal(pk.preferred, -1);
	assert_true(pk.records_len > 0);
	fetch_serve_set_selector(bks[1].fs, REPLICA_SELECTOR_LEADER, bk_rack, NULL);
	pk = fetch_now((struct parked){ .port = bks[1].port, .offset = 0, .rack = "r2" });
	assert_int_equal(pk.preferred, -1);
	fetch_serve_set_selector(bks[1].fs, REPLICA_SELECTOR_RACK_AWARE, bk_rack, NULL);
	lisr(1, 1, 0, 2, isr13);
	pk = fetch_now((struct parked){ .port = bks[1].port, .offset = 0, .rack = "r2" });
	assert_int_equal(pk.preferred, -1);
	assert_true(pk.records_len > 0);
	fetch_serve_follower_stats(bks[1].fs, &st);
	assert_int_equal(st.preferred_answers, 2);
	rack3_gone = false;
	stop_all();
}

/* StopReplica with delete of orders-0 to broker id, in controller epoch
 * cepoch, of leader epoch leader_epoch: the partition's for a replica
 * moved away, CONTROLLER_EPOCH_DURING_DELETE for a deleted topic's. */
static void stop_on(int32_t id, int32_t cepoch, int32_t leader_epoch)
{
	struct controller_stop_replica sr = { .topic = "orders",
					      .partition = 0,
					      .leader_epoch = leader_epoch,
					      .delete_partition = true };
	int err = 99;

	assert_int_equal(replica_mgr_stop_replica(bks[id].rm, cepoch, -1, &sr, 1, &err), 0);
	assert_int_equal(err, 0);
}

/* The topic deleted: StopReplica with delete of orders-0 to broker id. */
static void delete_on(int32_t id, int32_t cepoch)
{
	stop_on(id, cepoch, CONTROLLER_EPOCH_DURING_DELETE);
}

/* A fetch parked on the leader when StopReplica deletes the topic is
 * answered at once with UNKNOWN_TOPIC_OR_PARTITION, as Kafka's (its
 * metadata drops a deleted topic first), not NOT_LEADER_OR_FOLLOWER. */
static void test_parked_fetch_answered_on_delete(void **state)
{
	struct parked pk;
	pthread_t th;

	(void)state;
	park_fetch_on_leader(&pk, &th);
	delete_on(1, 1);
	pthread_join(th, NULL);
	assert_int_equal(pk.error, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_true(pk.took < 20000);
	stop_all();
}

/* A consumer's fetch parked at follower 3's end (KIP-392), in leader
 * epoch 0, is answered at once, not at its max_wait_ms, when the
 * follower's replica goes (StopReplica: moved away or deleted), and when
 * the leadership moves to that follower (a new epoch: fenced, the
 * consumer asks the metadata again). */
static void test_follower_parked_fetch_on_stop_and_move(void **state)
{
	struct parked pk;
	pthread_t th;

	(void)state;
	leader1_synced();
	park_at_end(3, 0, &pk, &th);
	lisr(2, 3, 1, 3, all3);
	pthread_join(th, NULL);
	assert_int_equal(pk.error, PROTO_ERR_FENCED_LEADER_EPOCH);
	assert_true(pk.took < 20000);
	park_at_end(2, 1, &pk, &th);
	delete_on(2, 2);
	pthread_join(th, NULL);
	/* Either sends the consumer to the metadata and the leader. */
	assert_true(pk.error == PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
		    pk.error == PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	assert_true(pk.took < 20000);
	assert_int_equal(pk.records_len, 0);
	stop_all();
}

/* A consumer's fetch parked at follower 3's end whose replica then moves
 * away (a reassignment's StopReplica with delete, in the partition's
 * leader epoch) is answered NOT_LEADER_OR_FOLLOWER at once, with the
 * offsets of no replica (-1), and so is a later fetch there: the
 * partition stays in that broker's metadata, as in Kafka's MetadataCache
 * (its getPartitionOrError), and the consumer asks the metadata for the
 * new replicas. A deleted topic's StopReplica (CONTROLLER_EPOCH_DURING_
 * DELETE) takes the partition out of the metadata: the fetch parked at
 * follower 2 and the later one are UNKNOWN_TOPIC_OR_PARTITION. */
static void test_parked_fetch_moved_away_or_deleted(void **state)
{
	const struct parked later = { .offset = 4, .version = 12, .epoch = 0, .max_wait = 1 };
	struct partition_state st;
	struct parked pk;
	pthread_t th;

	(void)state;
	leader1_synced();
	for (int32_t i = 1; i <= NB; i++)
		um_to(i, 1, 0, 3, all3, store_get().partition_epoch);
	park_at_end(3, 0, &pk, &th);
	stop_on(3, 1, 0);
	pthread_join(th, NULL);
	assert_int_equal(pk.error, PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
	assert_true(pk.took < 20000);
	assert_int_equal(pk.records_len, 0);
	assert_int_equal(pk.hw, -1);
	assert_int_equal(pk.log_start, -1);
	assert_null(replica_mgr_get(bks[3].rm, "orders", 0));
	assert_int_equal(replica_mgr_partition_meta(bks[3].rm, "orders", 0, &st), 0);
	pk = later;
	pk.port = bks[3].port;
	assert_int_equal(fetch_now(pk).error, PROTO_ERR_NOT_LEADER_OR_FOLLOWER);

	park_at_end(2, 0, &pk, &th);
	delete_on(2, 1);
	pthread_join(th, NULL);
	assert_int_equal(pk.error, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	assert_true(pk.took < 20000);
	assert_int_equal(pk.records_len, 0);
	assert_int_equal(replica_mgr_partition_meta(bks[2].rm, "orders", 0, &st), -ENOENT);
	pk = later;
	pk.port = bks[2].port;
	assert_int_equal(fetch_now(pk).error, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION);
	stop_all();
}

/* A broker that shuts down follows nothing: made a follower of the new
 * leader (its leadership moved away), it starts no fetcher and is not
 * taken back into the ISR; the other follower replicates as before. */
static void test_stop_following(void **state)
{
	struct replica_mgr_stats st;
	const int32_t isr23[2] = { 2, 3 };

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 4, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	replica_mgr_stop_following(bks[1].rm);
	lisr(2, 2, 1, 2, isr23);
	assert_int_equal(info_of(1).role, PARTITION_FOLLOWER);
	append_on(2, 3, "b");
	assert_true(synced(2, (int32_t[]){ 3 }, 1, 2));
	replica_mgr_get_stats(bks[1].rm, &st);
	assert_int_equal(st.fetchers, 0);
	assert_int_equal(info_of(1).offsets.log_end_offset, 4);
	assert_int_equal(info_of(2).n_isr, 2);
	stop_all();
}

/* A follower that stops fetching leaves the ISR at the tick past
 * replica.lag.time.max.ms, written to the store; min.insync.replicas=2
 * still allows appends; told to follow again, it rejoins. */
static void test_isr_shrink_and_rejoin(void **state)
{
	struct controller_stop_replica sr = { .topic = "orders",
					      .partition = 0,
					      .leader_epoch = 0 };
	struct partition_state cur;
	struct replica_mgr_stats st;
	int err = 99, writes;

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 2, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	assert_int_equal(replica_mgr_stop_replica(bks[3].rm, 1, -1, &sr, 1, &err), 0);
	assert_int_equal(err, 0);
	append_on(1, 2, "b");
	assert_true(leader_sees(1, 2));
	/* Not yet past the lag: nobody leaves. */
	replica_mgr_tick(bks[1].rm, now_mono_ms());
	assert_int_equal(info_of(1).n_isr, 3);
	replica_mgr_get_stats(bks[1].rm, &st);
	assert_int_equal(st.under_replicated, 0);
	assert_int_equal(st.isr_shrinks, 0);
	/* Broker 3 stopped at offset 2, the leader's LEO is 4. */
	assert_int_equal(st.max_lag, 2);
	writes = store.writes;
	replica_mgr_tick(bks[1].rm, now_mono_ms() + 10001);
	assert_int_equal(info_of(1).n_isr, 2);
	replica_mgr_get_stats(bks[1].rm, &st);
	assert_int_equal(st.under_replicated, 1);
	assert_int_equal(st.isr_shrinks, 1);
	assert_int_equal(st.isr_expands, 0);
	cur = store_get();
	assert_int_equal(cur.n_isr, 2);
	assert_int_equal(store.writes, writes + 1);
	assert_int_equal(info_of(1).partition_epoch, cur.partition_epoch);
	/* Broker 3 follows again (the controller's LeaderAndIsr, same
	 * epoch): it catches up and is written back into the ISR. */
	{
		struct controller_partition_state s = {
			.topic = "orders",
			.topic_id = "",
			.partition = 0,
			.controller_epoch = 1,
			.leader = 1,
			.leader_epoch = 0,
			.isr = cur.isr,
			.n_isr = cur.n_isr,
			.partition_epoch = cur.partition_epoch,
			.replicas = all3,
			.n_replicas = 3,
		};
		assert_int_equal(replica_mgr_leader_and_isr(bks[3].rm, 1, -1, &s, 1, &err), 0);
		assert_int_equal(err, 0);
	}
	append_on(1, 1, "c");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	assert_int_equal(store_get().n_isr, 3);
	assert_same_file(1, 3);
	replica_mgr_get_stats(bks[1].rm, &st);
	assert_int_equal(st.under_replicated, 0);
	assert_int_equal(st.isr_shrinks, 1);
	assert_int_equal(st.isr_expands, 1);
	assert_int_equal(st.max_lag, 0);
	stop_all();
}

/* Rule 5: the store's version moved under the leader (a write of the
 * same leader epoch it did not make): the shrink finds it stale, re-reads
 * and takes the newer version. */
static void test_isr_write_stale(void **state)
{
	struct controller_stop_replica sr = { .topic = "orders", .partition = 0 };
	struct partition_state cur;
	int err;

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	assert_int_equal(replica_mgr_stop_replica(bks[3].rm, 1, -1, &sr, 1, &err), 0);
	append_on(1, 2, "b"); /* broker 3 falls behind */
	assert_true(leader_sees(1, 2));
	store_set(1, 0, 3, all3); /* version + 1, same content */
	replica_mgr_tick(bks[1].rm, now_mono_ms() + 10001);
	assert_int_equal(store.stale, 1);
	cur = store_get();
	assert_int_equal(info_of(1).partition_epoch, cur.partition_epoch);
	/* The next tick writes the shrink on the version it re-read. */
	replica_mgr_tick(bks[1].rm, now_mono_ms() + 10001);
	assert_int_equal(store_get().n_isr, 2);
	assert_int_equal(info_of(1).n_isr, 2);
	stop_all();
}

/* Invariant 9 through the manager: a follower restarted uncleanly is not
 * eligible as leader before it fetched; it learns that it is in the ISR
 * again from UpdateMetadata (the controller's answer to the leader's ISR
 * change) and is eligible after its next fetch; LeaderAndIsr then makes
 * it leader. */
static void test_unclean_follower_eligible(void **state)
{
	const int32_t isr13[2] = { 1, 3 };
	struct controller_partition_state s;
	struct partition_state cur;
	int err = 99;

	(void)state;
	unclean[2] = true;
	start_all();
	unclean[2] = false;
	/* Before any fetch since the restart: it cannot know what the leader
	 * committed meanwhile. */
	s = (struct controller_partition_state){
		.topic = "orders",
		.topic_id = "",
		.partition = 0,
		.controller_epoch = 1,
		.leader = 2,
		.leader_epoch = 0,
		.isr = all3,
		.n_isr = 3,
		.partition_epoch = 0,
		.replicas = all3,
		.n_replicas = 3,
	};
	assert_int_equal(replica_mgr_leader_and_isr(bks[2].rm, 1, -1, &s, 1, &err), 0);
	assert_int_equal(err, -EPERM);
	assert_int_equal(eligible_calls[2], 0);
	lisr(1, 1, 0, 2, isr13);
	append_on(1, 3, "a");
	/* The leader takes broker 2 back into the ISR once it caught up. */
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	cur = store_get();
	assert_int_equal(cur.n_isr, 3);
	assert_false(info_of(2).leader_eligible);
	um_to(2, 1, 0, cur.n_isr, cur.isr, cur.partition_epoch);
	assert_int_equal(info_of(2).n_isr, 3);
	append_on(1, 1, "b"); /* its next fetch response clears the flag */
	{
		int64_t end = now_mono_ms() + DEADLINE_MS;

		/* The owner hears of it (to rewrite the registration) just
		 * after the flag is set: both are waited for. */
		while ((!info_of(2).leader_eligible ||
			__atomic_load_n(&eligible_calls[2], __ATOMIC_RELAXED) < 1) &&
		       now_mono_ms() < end)
			usleep(2000);
	}
	assert_true(info_of(2).leader_eligible);
	assert_true(__atomic_load_n(&eligible_calls[2], __ATOMIC_RELAXED) >= 1);
	lisr(2, 2, 1, 3, all3);
	assert_int_equal(info_of(2).role, PARTITION_LEADER);
	stop_all();
}

/* After an unclean restart, a partition whose log was not there at the
 * restart (a topic created since) lacks nothing: it may lead at once. */
static void test_unclean_new_partition_eligible(void **state)
{
	(void)state;
	unclean[2] = true;
	orders_was_there = false;
	start_all();
	unclean[2] = false;
	/* lisr checks every broker took it: broker 2 leads. */
	lisr(1, 2, 0, 3, all3);
	orders_was_there = true;
	assert_int_equal(info_of(2).role, PARTITION_LEADER);
	assert_true(info_of(2).leader_eligible);
	stop_all();
}

/* Rule 7: broker 1, the ISR's last member, comes back on a wiped data
 * directory. A state that makes it lead in an epoch past 0, or leaves it
 * without a leader, is refused KAFKA_STORAGE_ERROR (-EIO) and opens
 * nothing; a state that makes it another leader's follower opens its
 * replica, which follows. A new partition's first state (epoch 0, or
 * is_new) is taken on an empty log as ever. */
static void test_lost_log_refused(void **state)
{
	const int32_t isr1[1] = { 1 }, isr23[2] = { 2, 3 };
	struct controller_partition_state s;
	int err = 99;

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 4, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	bk_stop(1);
	wiped[1] = true;
	bk_start(1);
	wiped[1] = false;
	store_set(1, 2, 1, isr1);
	s = orders_state(1, 1, 2, 1, isr1, store_get().partition_epoch);
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 1, -1, &s, 1, &err), 0);
	assert_int_equal(err, -EIO);
	assert_int_equal(bks[1].opens, 0);
	s = orders_state(1, -1, 3, 1, isr1, store_get().partition_epoch);
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 1, -1, &s, 1, &err), 0);
	assert_int_equal(err, -EIO);
	assert_int_equal(bks[1].opens, 0);
	/* An unclean election: broker 2, which holds the records, leads. */
	lisr(1, 2, 4, 2, isr23);
	assert_int_equal(bks[1].opens, 1);
	assert_int_equal(info_of(2).role, PARTITION_LEADER);
	assert_true(leader_sees(2, 1));
	assert_int_equal(info_of(1).offsets.log_end_offset, 4);
	stop_all();

	/* A new partition's first state (epoch 0, or is_new) leads from the
	 * empty log. */
	wiped[1] = true;
	start_all();
	lisr(1, 1, 0, 3, all3);
	assert_int_equal(info_of(1).role, PARTITION_LEADER);
	stop_all();
	start_all();
	wiped[1] = false;
	store_set(1, 2, 1, isr1);
	s = orders_state(1, 1, 2, 1, isr1, store_get().partition_epoch);
	s.is_new = true;
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 1, -1, &s, 1, &err), 0);
	assert_int_equal(err, 0);
	assert_int_equal(info_of(1).role, PARTITION_LEADER);
	stop_all();
}

/* StopReplica with delete of a deleted topic: out of the table and the
 * metadata, the log closed and deleted once no one holds the
 * partition. */
static void test_stop_delete(void **state)
{
	struct controller_stop_replica sr = { .topic = "orders",
					      .partition = 0,
					      .leader_epoch = CONTROLLER_EPOCH_DURING_DELETE,
					      .delete_partition = true };
	struct controller_partition_state s = {
		.topic = "orders",
		.topic_id = "",
		.partition = 0,
		.controller_epoch = 1,
		.leader = 1,
		.leader_epoch = 0,
		.isr = all3,
		.n_isr = 3,
		.replicas = all3,
		.n_replicas = 3,
	};
	struct partition_state st;
	struct replica_mgr_stats rs;
	struct partition *held;
	struct stat sb;
	char dir[160];
	int err = 99;

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	assert_int_equal(replica_mgr_update_metadata(bks[2].rm, 1, -1, all3, 3, &s, 1), 0);
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	held = replica_mgr_get(bks[2].rm, "orders", 0);
	assert_int_equal(replica_mgr_stop_replica(bks[2].rm, 1, -1, &sr, 1, &err), 0);
	assert_int_equal(err, 0);
	assert_null(replica_mgr_get(bks[2].rm, "orders", 0));
	assert_int_equal(replica_mgr_partition_meta(bks[2].rm, "orders", 0, &st), -ENOENT);
	/* Still held: not closed, the tick leaves it. */
	replica_mgr_tick(bks[2].rm, now_mono_ms());
	replica_mgr_get_stats(bks[2].rm, &rs);
	assert_int_equal(rs.stopped, 1);
	assert_int_equal(bks[2].closes, 0);
	{
		struct partition_info hi;

		partition_get_info(held, &hi);
		assert_int_equal(hi.role, PARTITION_NONE);
	}
	partition_unref(held);
	/* A fetch round in flight when the replica stopped holds it until
	 * the round ends (fetcher_remove does not wait for the network): a
	 * later tick closes it. */
	for (int64_t end = now_mono_ms() + 10000; bks[2].closes == 0 && now_mono_ms() < end;
	     usleep(10000))
		replica_mgr_tick(bks[2].rm, now_mono_ms());
	assert_int_equal(bks[2].closes, 1);
	assert_int_equal(bks[2].deletes, 1);
	snprintf(dir, sizeof(dir), "%s/b2/orders-0", tmpdir);
	assert_int_equal(stat(dir, &sb), -1);
	/* Again: nothing there. */
	assert_int_equal(replica_mgr_stop_replica(bks[2].rm, 1, -1, &sr, 1, &err), 0);
	assert_int_equal(err, -ENOENT);
	stop_all();
}

/* Rule 6: a LeaderAndIsr of another topic id than the replica's is a
 * topic of the name made again: the old replica stops (its log left to
 * its owner) and the partition opens again under the new id and the new
 * topic's epochs, lower than the old one's. Without ids, rule 2. */
static void test_topic_made_again(void **state)
{
	const int32_t one[1] = { 1 };
	struct controller_partition_state s = {
		.topic = "orders",
		.topic_id = "AAAAAAAAAAAAAAAAAAAAAQ",
		.partition = 0,
		.controller_epoch = 1,
		.leader = 1,
		.leader_epoch = 6,
		.isr = one,
		.n_isr = 1,
		.partition_epoch = 7,
		.replicas = one,
		.n_replicas = 1,
	};
	struct replica_mgr_stats rs;
	int err = 99;

	(void)state;
	start_all();
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 1, -1, &s, 1, &err), 0);
	assert_int_equal(err, 0);
	assert_string_equal(bks[1].topic_id, "AAAAAAAAAAAAAAAAAAAAAQ");
	/* The same id, an older epoch: refused (rule 2). */
	s.leader_epoch = 2;
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 1, -1, &s, 1, &err), 0);
	assert_int_equal(err, -ESTALE);
	/* No id: rule 2 too. */
	s.topic_id = "";
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 1, -1, &s, 1, &err), 0);
	assert_int_equal(err, -ESTALE);
	assert_int_equal(bks[1].opens, 1);
	assert_int_equal(info_of(1).leader_epoch, 6);
	/* Another id: the new topic's epoch 0 applies to a new replica. */
	s.topic_id = "AAAAAAAAAAAAAAAAAAAAAg";
	s.leader_epoch = 0;
	s.partition_epoch = 0;
	assert_int_equal(replica_mgr_leader_and_isr(bks[1].rm, 1, -1, &s, 1, &err), 0);
	assert_int_equal(err, 0);
	assert_int_equal(bks[1].opens, 2);
	assert_string_equal(bks[1].topic_id, "AAAAAAAAAAAAAAAAAAAAAg");
	assert_int_equal(info_of(1).leader_epoch, 0);
	assert_int_equal(info_of(1).role, PARTITION_LEADER);
	/* The old one waits for the tick, its log kept (the owner's). */
	for (int64_t end = now_mono_ms() + 10000; bks[1].closes == 0 && now_mono_ms() < end;
	     usleep(10000))
		replica_mgr_tick(bks[1].rm, now_mono_ms());
	replica_mgr_get_stats(bks[1].rm, &rs);
	assert_int_equal(rs.stopped, 0);
	assert_int_equal(bks[1].closes, 1);
	assert_int_equal(bks[1].deletes, 0);
	assert_non_null(bks[1].t);
	stop_all();
}

/* UpdateMetadata: every topic of the cluster, sorted, with partition
 * counts and states; the live brokers; an older controller refused. */
static void test_update_metadata(void **state)
{
	const int32_t r12[2] = { 1, 2 }, live[2] = { 1, 2 };
	struct controller_partition_state s[3] = {
		{ .topic = "zeta",
		  .topic_id = "",
		  .partition = 1,
		  .leader = 2,
		  .leader_epoch = 4,
		  .isr = r12,
		  .n_isr = 2,
		  .partition_epoch = 9,
		  .replicas = r12,
		  .n_replicas = 2 },
		{ .topic = "alpha",
		  .topic_id = "",
		  .partition = 0,
		  .leader = -1,
		  .leader_epoch = 1,
		  .isr = r12,
		  .n_isr = 1,
		  .replicas = r12,
		  .n_replicas = 2 },
		{ .topic = "zeta",
		  .topic_id = "",
		  .partition = 0,
		  .leader = 1,
		  .leader_epoch = 2,
		  .isr = r12,
		  .n_isr = 2,
		  .replicas = r12,
		  .n_replicas = 2 },
	};
	struct partition_state st;
	int32_t ids[4];
	char **names;
	int n;

	(void)state;
	start_all();
	assert_int_equal(replica_mgr_update_metadata(bks[3].rm, 2, -1, live, 2, s, 3), 0);
	n = replica_mgr_topics(bks[3].rm, &names);
	assert_int_equal(n, 2);
	assert_string_equal(names[0], "alpha");
	assert_string_equal(names[1], "zeta");
	replica_mgr_names_free(names, n);
	assert_int_equal(replica_mgr_partitions(bks[3].rm, "zeta"), 2);
	assert_int_equal(replica_mgr_partitions(bks[3].rm, "nope"), 0);
	assert_int_equal(replica_mgr_partition_meta(bks[3].rm, "zeta", 1, &st), 0);
	assert_int_equal(st.leader, 2);
	assert_int_equal(st.leader_epoch, 4);
	assert_int_equal(st.partition_epoch, 9);
	assert_int_equal(st.n_isr, 2);
	assert_int_equal(replica_mgr_partition_meta(bks[3].rm, "alpha", 0, &st), 0);
	assert_int_equal(st.leader, -1);
	assert_int_equal(replica_mgr_live_brokers(bks[3].rm, ids, 4), 2);
	assert_int_equal(ids[1], 2);
	/* UpdateMetadata opens no log: broker 3 is no replica of these. */
	assert_int_equal(bks[3].opens, 0);
	s[0].leader = 1;
	assert_int_equal(replica_mgr_update_metadata(bks[3].rm, 1, -1, live, 1, s, 1), -ESTALE);
	assert_int_equal(replica_mgr_partition_meta(bks[3].rm, "zeta", 1, &st), 0);
	assert_int_equal(st.leader, 2);
	assert_int_equal(replica_mgr_live_brokers(bks[3].rm, ids, 4), 2);
	stop_all();
}

/* The count of state changes (replica_mgr_states_gen) that lets a
 * mount's reader of a replica skip asking whether the replica still
 * serves reads: a follower that leaves the ISR (the leader's change, told
 * by UpdateMetadata) moves it, and once it moved the replica is seen out
 * of the ISR; back in by a LeaderAndIsr, and stopped, move it too;
 * records replicated (hw moves) do not. */
static void test_states_gen(void **state)
{
	const int32_t isr13[2] = { 1, 3 };
	struct controller_stop_replica sr = { .topic = "orders", .partition = 0 };
	struct partition *p;
	uint64_t gen;
	int err = 99;

	(void)state;
	start_all();
	lisr(1, 1, 0, 3, all3);
	append_on(1, 2, "a");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	p = replica_mgr_get(bks[2].rm, "orders", 0);
	assert_non_null(p);
	assert_false(partition_out_of_isr(p, 2));
	gen = replica_mgr_states_gen(bks[2].rm);
	append_on(1, 2, "b");
	assert_true(synced(1, (int32_t[]){ 2, 3 }, 2, 3));
	assert_true(replica_mgr_states_gen(bks[2].rm) == gen);

	um_to(2, 1, 0, 2, isr13, info_of(2).partition_epoch + 1);
	assert_true(replica_mgr_states_gen(bks[2].rm) != gen);
	assert_true(partition_out_of_isr(p, 2));

	gen = replica_mgr_states_gen(bks[2].rm);
	lisr(1, 1, 1, 3, all3);
	assert_true(replica_mgr_states_gen(bks[2].rm) != gen);
	assert_false(partition_out_of_isr(p, 2));
	partition_unref(p);

	gen = replica_mgr_states_gen(bks[2].rm);
	assert_int_equal(replica_mgr_stop_replica(bks[2].rm, 1, -1, &sr, 1, &err), 0);
	assert_true(replica_mgr_states_gen(bks[2].rm) != gen);
	stop_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replicates),
		cmocka_unit_test(test_stale_and_foreign),
		cmocka_unit_test(test_leader_change),
		cmocka_unit_test(test_offline_state),
		cmocka_unit_test(test_log_dir_failure_follower),
		cmocka_unit_test(test_log_dir_failure_leader),
		cmocka_unit_test(test_isr_outside_replicas),
		cmocka_unit_test(test_drop_topic),
		cmocka_unit_test(test_older_epoch_logged),
		cmocka_unit_test(test_parked_fetch_answered_on_move),
		cmocka_unit_test(test_parked_new_client_fenced_on_move),
		cmocka_unit_test(test_follower_serves_consumer),
		cmocka_unit_test(test_follower_parked_fetch_woken),
		cmocka_unit_test(test_preferred_read_replica),
		cmocka_unit_test(test_follower_out_of_range_no_hw),
		cmocka_unit_test(test_follower_fetch_session),
		cmocka_unit_test(test_throttled_fetch_session_epoch),
		cmocka_unit_test(test_follower_parked_fetch_on_stop_and_move),
		cmocka_unit_test(test_parked_fetch_answered_on_delete),
		cmocka_unit_test(test_parked_fetch_moved_away_or_deleted),
		cmocka_unit_test(test_stop_following),
		cmocka_unit_test(test_isr_shrink_and_rejoin),
		cmocka_unit_test(test_isr_write_stale),
		cmocka_unit_test(test_unclean_follower_eligible),
		cmocka_unit_test(test_unclean_new_partition_eligible),
		cmocka_unit_test(test_lost_log_refused),
		cmocka_unit_test(test_stop_delete),
		cmocka_unit_test(test_topic_made_again),
		cmocka_unit_test(test_update_metadata),
		cmocka_unit_test(test_states_gen),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
