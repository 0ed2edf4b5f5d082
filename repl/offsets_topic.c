/*
 * offsets_topic.c — the replicated __consumer_offsets of a cluster and the
 * coordinator rule that follows from it, as Kafka had it before KRaft:
 *
 *   - The topic is made through ZooKeeper by the first broker that needs
 *     it (a FindCoordinator, a group on the mount), with
 *     offsets.topic.num.partitions partitions and
 *     offsets.topic.replication.factor replicas (not made, -EAGAIN, while
 *     fewer brokers are alive), compacted, records keyed by TAB, written
 *     with acks=all (group_store_topic_config).
 *   - The coordinator of group G is the leader of partition
 *     group_offsets_partition(G) (Kafka's partitionFor).
 *   - A broker holds in gc->groups the groups of the partitions it leads
 *     and has loaded, and proxies of others' groups that its mount uses
 *     (in memory only: nothing of them is written here).
 *
 * The loader thread follows leadership, one pass at each change of the
 * replicas' states (offsets_loader_kick: a LeaderAndIsr, StopReplica,
 * UpdateMetadata, a failed log directory) and every LOADER_TICK_MS while
 * it waits for something no kick announces (the cluster or the topic not
 * there yet, a partition loading); tests call offsets_loader_pass. Per
 * partition p:
 *
 *   NONE --this broker leads p--> LOADING --hw reached the log end-->
 *     LOADED (the groups of p replayed from the local log, at that
 *     leader epoch)
 *   LOADED --another broker leads p, or a new leader epoch--> the groups
 *     of p become proxies of the new coordinator's (struct group.proxy:
 *     their guests dropped, this mount's members join the new
 *     coordinator through group_remote_adopt), or without the cluster's
 *     group connection are dropped (group_coord_drop, moved: their mount
 *     members' reads answer -EREMOTE); kafka_drop: their Kafka members
 *     are answered NOT_COORDINATOR; then NONE (or LOADING again at the
 *     new epoch). A load replays p into the proxies of its groups too
 *     (their commits reset first: the log is what counts) and makes them
 *     this broker's own.
 *
 * A new leader loads once its high watermark covers its whole log: every
 * record it holds is then committed, including the commits its
 * predecessor acknowledged (acks=all put them on every in-sync replica,
 * and the new leader came from the ISR), so nothing acknowledged is
 * missed. Until then its groups answer COORDINATOR_LOAD_IN_PROGRESS
 * (-EINPROGRESS).
 *
 * Threads and locks: the pass takes call_mu then coord.mu to load or drop
 * (group_int.h order), the metadata lookups take only leaf locks. load[]
 * and load_epoch[] are atomics read without a lock by
 * offsets_coordinator, which any thread may call with any lock held.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/cluster.h"
#include "repl/config.h"
#include "repl/group_int.h"
#include "repl/metadata_cache.h"
#include "repl/partition.h"
#include "util/clock.h"

#define LOADER_TICK_MS 100

static struct topic *offsets_get(struct group_coord *gc)
{
	return __atomic_load_n(&gc->offsets, __ATOMIC_ACQUIRE);
}

/* The broker's cluster, NULL until broker_open has opened it (after the
 * coordinator: a topic found on disk lets the loader run before). */
static struct cluster *cluster_get(struct broker *b)
{
	return __atomic_load_n(&b->cluster, __ATOMIC_ACQUIRE);
}

/* Takes over the reference t: the first one becomes gc->offsets. */
static int offsets_set(struct group_coord *gc, struct topic *t)
{
	int n = topic_partitions(t), rc = 0;

	pthread_mutex_lock(&gc->mu);
	if (gc->offsets) {
		topic_put(t);
		goto out;
	}
	gc->load = calloc((size_t)n + 1, sizeof(*gc->load));
	gc->load_epoch = calloc((size_t)n + 1, sizeof(*gc->load_epoch));
	if (!gc->load || !gc->load_epoch) {
		free((void *)gc->load);
		free(gc->load_epoch);
		gc->load = NULL;
		gc->load_epoch = NULL;
		topic_put(t);
		rc = -ENOMEM;
		goto out;
	}
	gc->noffsets = n;
	__atomic_store_n(&gc->offsets, t, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&gc->mu);
	return rc;
}

/* Brokers alive now, by the metadata cache. */
static int live_brokers(struct broker *b)
{
	struct metadata_broker *mb = NULL;
	int n = metadata_cache_brokers(cluster_metadata(cluster_get(b)), &mb), live = 0;

	for (int i = 0; i < n; i++)
		live += mb[i].alive;
	free(mb);
	return n < 0 ? n : live;
}

/* What a creation of __consumer_offsets needs: as many brokers alive as
 * offsets.topic.replication.factor (-EAGAIN, logged, otherwise), and its
 * settings, into tc. */
static int offsets_topic_settings(struct group_coord *gc, struct topic_config *tc)
{
	struct broker *b = gc->b;
	const struct cluster_config *cc = &b->cfg.cluster;
	int rc, live = live_brokers(b);

	if (live < cc->offsets_topic_replication_factor) {
		mq_log_limited(MQ_WARN,
			       "%s: not made: %d brokers alive, "
			       "offsets.topic.replication.factor is %d",
			       GROUP_OFFSETS_TOPIC, live < 0 ? 0 : live,
			       (int)cc->offsets_topic_replication_factor);
		return -EAGAIN;
	}
	rc = group_store_topic_config(b, tc);
	if (rc == 0)
		tc->partitions = cc->offsets_topic_num_partitions;
	return rc;
}

static void offsets_topic_made(struct group_coord *gc, const struct topic_config *tc)
{
	mq_log(MQ_INFO, "%s: made in the cluster, %d partitions, replication factor %d",
	       GROUP_OFFSETS_TOPIC, (int)tc->partitions,
	       (int)gc->b->cfg.cluster.offsets_topic_replication_factor);
}

int offsets_topic_ensure(struct group_coord *gc)
{
	struct broker *b = gc->b;
	struct topic_config tc;
	struct topic *t = NULL;
	int rc;

	if (!gc->cluster || offsets_get(gc))
		return 0;
	if (!cluster_get(b))
		return -EAGAIN;
	if (broker_topic_get(b, GROUP_OFFSETS_TOPIC, &t) == 0)
		return offsets_set(gc, t);
	rc = offsets_topic_settings(gc, &tc);
	if (rc < 0)
		return rc;
	rc = broker_topic_create_cfg(b, GROUP_OFFSETS_TOPIC, 0, 0, 0600, &tc,
				     b->cfg.cluster.offsets_topic_replication_factor,
				     b->cfg.request_timeout_ms, &t);
	if (rc == 0) {
		offsets_topic_made(gc, &tc);
		return offsets_set(gc, t);
	}
	/* Another broker, or a FindCoordinator here, made it first: it
	 * appears here from ZooKeeper once its leaders are elected, and the
	 * loader takes it then (offsets_coordinator_wait waits for that). */
	if (rc == -EEXIST)
		return 0;
	mq_log_limited(MQ_WARN, "%s: not made: %s", GROUP_OFFSETS_TOPIC, strerror(-rc));
	return rc == -EINVAL ? -EAGAIN : rc;
}

void offsets_topic_request(struct group_coord *gc)
{
	bool ask;

	if (!gc->cluster || offsets_get(gc))
		return;
	pthread_mutex_lock(&gc->loader_mu);
	ask = !gc->make_asked;
	gc->make_asked = true;
	pthread_mutex_unlock(&gc->loader_mu);
	if (ask)
		offsets_loader_kick(gc);
}

/* The loader's part of offsets_topic_request, the topic not here. */
static void offsets_topic_ask(struct group_coord *gc)
{
	struct topic_config tc;
	bool asked;
	int rc;

	pthread_mutex_lock(&gc->loader_mu);
	asked = gc->make_asked;
	gc->make_asked = false;
	pthread_mutex_unlock(&gc->loader_mu);
	if (!asked)
		return;
	rc = offsets_topic_settings(gc, &tc);
	if (rc == 0)
		rc = broker_topic_request(gc->b, GROUP_OFFSETS_TOPIC, 0, 0, 0600, &tc,
					  gc->b->cfg.cluster.offsets_topic_replication_factor);
	if (rc == 0)
		offsets_topic_made(gc, &tc);
	else if (rc != -EEXIST && rc != -EAGAIN)
		mq_log_limited(MQ_WARN, "%s: not made: %s", GROUP_OFFSETS_TOPIC, strerror(-rc));
}

int offsets_coordinator(struct group_coord *gc, const char *group, int32_t *leader)
{
	struct broker *b = gc->b;
	struct partition_state ps;
	int p;

	if (!gc->cluster)
		return 1;
	if (!offsets_get(gc) || !cluster_get(b))
		return -EAGAIN;
	p = group_offsets_partition(group, gc->noffsets);
	if (cluster_partition_state(cluster_get(b), GROUP_OFFSETS_TOPIC, p, &ps) < 0 ||
	    ps.leader < 0)
		return -EAGAIN;
	*leader = ps.leader;
	if (ps.leader != b->cfg.broker_id)
		return 0;
	return atomic_load(&gc->load[p]) == OFFSETS_LOADED &&
			       __atomic_load_n(&gc->load_epoch[p], __ATOMIC_ACQUIRE) ==
				       ps.leader_epoch
		       ? 1
		       : -EINPROGRESS;
}

int offsets_coordinator_wait(struct group_coord *gc, const char *group, int64_t timeout_ms,
			     int32_t *leader)
{
	int64_t until = now_mono_ms() + timeout_ms;
	int rc;

	pthread_mutex_lock(&gc->loader_mu);
	for (;;) {
		uint64_t passes = gc->loader_passes;
		struct timespec ts;

		rc = offsets_coordinator(gc, group, leader);
		if ((rc != -EINPROGRESS && rc != -EAGAIN) || !gc->loader_running ||
		    gc->loader_stop || now_mono_ms() >= until)
			break;
		deadline_from_ms(CLOCK_MONOTONIC, LOADER_TICK_MS * 2, &ts);
		while (gc->loader_passes == passes && !gc->loader_stop &&
		       pthread_cond_timedwait(&gc->loader_cv, &gc->loader_mu, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&gc->loader_mu);
	return rc;
}

/* "host:port" of the first endpoint ("NAME://host:port,...") of broker
 * id, "" when unknown. */
static void first_endpoint(struct broker *b, int32_t id, char *out, size_t len)
{
	struct metadata_broker *mb = NULL;
	int n = metadata_cache_brokers(cluster_metadata(cluster_get(b)), &mb);

	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		const char *e = strstr(mb[i].endpoints, "://");

		if (mb[i].id != id || !e)
			continue;
		e += 3;
		snprintf(out, len, "%.*s", (int)strcspn(e, ","), e);
	}
	free(mb);
}

int group_coordinator_of(struct broker *b, const char *group, int32_t *broker_id, char *endpoint,
			 size_t len)
{
	struct group_coord *gc = b->gc;
	int32_t leader = b->cfg.broker_id;
	int rc;

	if (endpoint && len)
		endpoint[0] = '\0';
	if (!gc)
		return -EAGAIN;
	rc = offsets_coordinator(gc, group, &leader);
	if (rc < 0)
		return rc;
	*broker_id = rc == 1 ? b->cfg.broker_id : leader;
	if (endpoint && len && gc->cluster)
		first_endpoint(b, *broker_id, endpoint, len);
	return 0;
}

/* ---- the loader ---- */

struct part_of {
	int p, n;
};

static bool in_part(const struct group *g, const void *arg)
{
	const struct part_of *po = arg;

	return group_offsets_partition(g->name, po->n) == po->p;
}

/* The groups of partition p become proxies of the new coordinator's: the
 * guests (other brokers' members) go, so they find it; this mount's
 * members stay, keep reading and join it (group_remote_adopt). Needs
 * gc->mu. */
static void proxy_part(struct group_coord *gc, const struct part_of *po, const char *why)
{
	for (int i = 0; i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];

		if (g->proxy || !in_part(g, po))
			continue;
		pthread_mutex_lock(&g->mu);
		g->proxy = true;
		group_guests_drop(g, "dropped: this broker no longer coordinates the group");
		pthread_mutex_unlock(&g->mu);
		mq_log(MQ_INFO, "group %s of topic %s: a proxy of the coordinator's group now: %s",
		       g->name, g->topic, why);
	}
}

/* Forgets the groups of partition p here (another broker coordinates
 * them now): with a connection to the coordinator (gc->connect) they
 * become proxies of its groups, else they are dropped and their parked
 * mount members woken (their reads answer -EREMOTE). */
static void drop_part(struct group_coord *gc, int p, const char *why)
{
	struct part_of po = { p, gc->noffsets };
	struct group_member **fire = NULL;
	int nfire = 0;

	pthread_mutex_lock(&gc->call_mu);
	pthread_mutex_lock(&gc->mu);
	if (gc->connect)
		proxy_part(gc, &po, why);
	else
		group_coord_drop(gc, in_part, &po, false, why, &fire, &nfire);
	if (gc->kafka_drop)
		gc->kafka_drop(gc->kafka_arg, p, gc->noffsets);
	atomic_store(&gc->load[p], OFFSETS_NONE);
	pthread_mutex_unlock(&gc->mu);
	/* Members cannot be freed meanwhile: group_leave waits for call_mu. */
	for (int i = 0; i < nfire; i++)
		fire[i]->wake(fire[i]->wake_arg);
	pthread_mutex_unlock(&gc->call_mu);
	free(fire);
}

/* True when the local replica of p holds nothing uncommitted. */
static bool part_ready(struct group_coord *gc, int p)
{
	struct log_state st;
	struct log *l;
	bool ready = false;

	if (group_part_lock(gc->offsets, p, &l) < 0)
		return false;
	if (l) {
		log_get_state(l, &st);
		ready = st.hw >= st.log_end_offset;
	}
	pthread_rwlock_unlock(&gc->offsets->lock);
	return ready;
}

/* The proxies of partition p's groups around its load. Before the replay
 * (loaded false) they forget what they learnt of the commits: the log is
 * what counts. After it they are this broker's groups: their members'
 * next heartbeat finds this broker coordinating and they turn local.
 * Needs gc->mu. */
static void proxies_load(struct group_coord *gc, int p, bool loaded)
{
	struct part_of po = { p, gc->noffsets };

	for (int i = 0; i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];

		if (!g->proxy || !in_part(g, &po))
			continue;
		pthread_mutex_lock(&g->mu);
		for (int q = 0; q < g->nparts && !loaded; q++)
			gpart_forget(&g->parts[q]);
		if (loaded) {
			g->proxy = false;
			g->moved = false;
		}
		pthread_mutex_unlock(&g->mu);
		if (loaded)
			mq_log(MQ_INFO,
			       "group %s of topic %s: coordinated here now, with its loaded commits",
			       g->name, g->topic);
	}
}

static void load_part(struct group_coord *gc, int p, int32_t epoch)
{
	int rc;

	if (!part_ready(gc, p)) {
		atomic_store(&gc->load[p], OFFSETS_LOADING);
		return;
	}
	pthread_mutex_lock(&gc->mu);
	proxies_load(gc, p, false);
	rc = group_store_replay(gc, p);
	if (rc == 0) {
		proxies_load(gc, p, true);
		__atomic_store_n(&gc->load_epoch[p], epoch, __ATOMIC_RELEASE);
		atomic_store(&gc->load[p], OFFSETS_LOADED);
	} else {
		atomic_store(&gc->load[p], OFFSETS_LOADING);
		mq_log_limited(MQ_ERR, "%s-%d: groups not loaded (%s); trying again",
			       GROUP_OFFSETS_TOPIC, p, strerror(-rc));
	}
	pthread_mutex_unlock(&gc->mu);
	if (rc == 0)
		mq_log(MQ_INFO, "%s-%d: this broker coordinates its groups (leader epoch %d)",
		       GROUP_OFFSETS_TOPIC, p, (int)epoch);
}

bool offsets_loader_pass(struct group_coord *gc)
{
	struct broker *b = gc->b;
	struct topic *t;
	bool settled = true;

	if (!cluster_get(b))
		return false;
	if (!offsets_get(gc)) {
		int rc = broker_topic_get(b, GROUP_OFFSETS_TOPIC, &t);

		/* A cluster that never used a group has none: its making
		 * here kicks (topics_cluster_appeared), as its replicas'
		 * LeaderAndIsr does. */
		if (rc == -ENOENT) {
			offsets_topic_ask(gc);
			return true;
		}
		if (rc < 0 || offsets_set(gc, t) < 0)
			return false;
	}
	for (int p = 0; p < gc->noffsets; p++) {
		struct partition_state ps = { .leader = -1 };
		int st = atomic_load(&gc->load[p]);
		bool lead =
			cluster_partition_state(cluster_get(b), GROUP_OFFSETS_TOPIC, p, &ps) == 0 &&
			ps.leader == b->cfg.broker_id;
		char why[96];

		if (!lead) {
			if (st == OFFSETS_LOADED) {
				snprintf(why, sizeof(why), "broker %d leads %s-%d now",
					 (int)ps.leader, GROUP_OFFSETS_TOPIC, p);
				drop_part(gc, p, why);
			} else if (st == OFFSETS_LOADING) {
				atomic_store(&gc->load[p], OFFSETS_NONE);
			}
			continue;
		}
		if (st == OFFSETS_LOADED &&
		    __atomic_load_n(&gc->load_epoch[p], __ATOMIC_ACQUIRE) == ps.leader_epoch)
			continue;
		if (st == OFFSETS_LOADED) {
			snprintf(why, sizeof(why), "%s-%d has a new leader epoch %d, reloading",
				 GROUP_OFFSETS_TOPIC, p, (int)ps.leader_epoch);
			drop_part(gc, p, why);
		}
		load_part(gc, p, ps.leader_epoch);
		/* Loading waits for the hw, which moves without a kick. */
		if (atomic_load(&gc->load[p]) == OFFSETS_LOADING)
			settled = false;
	}
	return settled;
}

void offsets_loader_kick(struct group_coord *gc)
{
	pthread_mutex_lock(&gc->loader_mu);
	gc->loader_kicked = true;
	pthread_cond_broadcast(&gc->loader_cv);
	pthread_mutex_unlock(&gc->loader_mu);
}

bool offsets_loader_asleep(struct group_coord *gc)
{
	bool asleep;

	pthread_mutex_lock(&gc->loader_mu);
	asleep = gc->loader_asleep;
	pthread_mutex_unlock(&gc->loader_mu);
	return asleep;
}

static void *loader_main(void *arg)
{
	struct group_coord *gc = arg;

	pthread_mutex_lock(&gc->loader_mu);
	while (!gc->loader_stop) {
		struct timespec ts;
		bool settled;

		/* A kick from now on is news the pass may not have seen. */
		gc->loader_kicked = false;
		pthread_mutex_unlock(&gc->loader_mu);
		settled = offsets_loader_pass(gc);
		pthread_mutex_lock(&gc->loader_mu);
		gc->loader_passes++;
		pthread_cond_broadcast(&gc->loader_cv);
		if (settled) {
			/* Nothing loading: only a leadership change (a kick) is
			 * news, so an idle broker costs no wake-up here. */
			gc->loader_asleep = true;
			while (!gc->loader_kicked && !gc->loader_stop)
				pthread_cond_wait(&gc->loader_cv, &gc->loader_mu);
			gc->loader_asleep = false;
			continue;
		}
		deadline_from_ms(CLOCK_MONOTONIC, LOADER_TICK_MS, &ts);
		if (!gc->loader_stop && !gc->loader_kicked)
			pthread_cond_timedwait(&gc->loader_cv, &gc->loader_mu, &ts);
	}
	pthread_mutex_unlock(&gc->loader_mu);
	return NULL;
}

int offsets_loader_start(struct group_coord *gc)
{
	int rc;

	if (!gc->cluster)
		return 0;
	gc->loader_running = true;
	rc = -pthread_create(&gc->loader, NULL, loader_main, gc);
	if (rc < 0)
		gc->loader_running = false;
	return rc;
}

void offsets_loader_stop(struct group_coord *gc)
{
	if (!gc->loader_running)
		return;
	pthread_mutex_lock(&gc->loader_mu);
	gc->loader_stop = true;
	pthread_cond_broadcast(&gc->loader_cv);
	pthread_mutex_unlock(&gc->loader_mu);
	pthread_join(gc->loader, NULL);
	gc->loader_running = false;
}
