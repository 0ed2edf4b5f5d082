/*
 * replica_mgr.c — the local replicas, their fetchers and the cluster's
 * partition metadata (replica_mgr.h, whose rules are numbered there).
 *
 * LeaderAndIsr, per partition state naming this broker as a replica:
 *   1. find the local replica, else open (create) its log and a partition
 *      over it, with this manager as its ISR writer;
 *   2. leader == this broker: partition_make_leader, then out of any
 *      fetcher (rule 3);
 *      leader another broker: partition_make_follower; when it returned 1
 *      (a new leader or epoch), out of the old leader's fetcher and into
 *      the new one's (created on first use with the endpoint of that
 *      broker);
 *      no leader: out of any fetcher, the role kept.
 * StopReplica: out of the fetcher, partition_make_none, out of the table
 * into the stopped list; the log is closed (deleted when asked) once no
 * one holds the partition (rule 4), by the tick or by replica_mgr_free.
 * The partition's metadata goes only with its topic (leader epoch
 * CONTROLLER_EPOCH_DURING_DELETE): a replica moved away leaves it, as
 * Kafka's MetadataCache does (stop_one).
 *
 * The log directory (one per broker: log.dirs names one) fails when a
 * write there meets a storage failure (partition_storage_failure: an I/O
 * error or a full disk): a replica's log write or flush, the cleaner's
 * or retention's work on it, or a checkpoint file of the directory,
 * Kafka's LogDirFailureChannel and handleLogDirFailure:
 *   a. replica_mgr_storage_failed, on the thread that met it: log_dir_err
 *      is set (once; never cleared: the broker restarts to come back) and
 *      every local replica is marked offline (partition_mark_offline: it
 *      leads and follows nothing, its Produce, Fetch and appends answer
 *      -ENXIO, KAFKA_STORAGE_ERROR); the tick thread is woken;
 *   b. the tick (log_dir_handle): the replicas leave their fetchers, the
 *      fetches parked on them are answered, and the owner's notice is
 *      written (cfg.log_dir_failed: /log_dir_event_notification), tried
 *      again every LOG_DIR_RETRY_MS until it is;
 *   c. every later LeaderAndIsr that names this broker a replica is
 *      answered -ENXIO for that partition, opening nothing: the
 *      controller, asked by the notice, takes the replicas offline from
 *      those answers and elects without them.
 *
 * Data: parts (local replicas) and meta (every partition of the cluster
 * as UpdateMetadata told it), arrays under mu, each found by (topic,
 * index) through a hash index kept in step with it (tpindex.h: a Fetch
 * or an UpdateMetadata of P partitions costs O(P), not O(P^2)); sources
 * (fetchers by leader id) and stopped under apply_mu only.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util/tpindex.h"

#include "repl/fetch_serve.h"
#include "repl/replica_mgr.h"
#include "util/clock.h"
#include "util/diaglog.h"

#define LOG_DIR_RETRY_MS 500 /* the failure's notice not written yet */

struct rm_part {
	char topic[PARTITION_MAX_TOPIC + 1];
	int32_t index;
	struct partition *p;
	void *log;
	int32_t source;           /* leader whose fetcher has it, -1 none */
	int32_t controller_epoch; /* of the LeaderAndIsr that set its state */
	char topic_id[32];        /* of the LeaderAndIsr that opened it, "" none */
	bool delete_log;          /* stopped: delete the log when closed */
};

struct rm_meta {
	char topic[PARTITION_MAX_TOPIC + 1];
	int32_t index;
	struct partition_state st;
};

struct replica_mgr {
	struct replica_mgr_config cfg;
	_Atomic(struct fetch_serve *) fs;
	_Atomic int64_t broker_epoch;

	pthread_mutex_t apply_mu;   /* serialises the controller's requests */
	struct fetcher_set sources; /* apply_mu */
	bool no_follow;             /* shutting down: replica_mgr_stop_following */
	struct rm_part **stopped;
	int n_stopped;

	pthread_mutex_t mu; /* leaf: the tables below */
	int32_t controller_epoch;
	struct rm_part **parts;
	int n_parts;
	struct rm_meta *meta;
	int n_meta;
	struct tpindex parts_ix, meta_ix; /* parts and meta by (topic, index) */
	/* live_mu (a leaf: partitions ask under their own lock,
	 * broker_alive): the live brokers of the last UpdateMetadata. */
	pthread_mutex_t live_mu;
	int32_t *live;
	int n_live;
	int64_t isr_writes, isr_stale;
	int64_t isr_shrinks, isr_expands, leadership_changes;

	_Atomic uint64_t states_gen; /* replica_mgr_states_gen */

	_Atomic int log_dir_err; /* 0, or the failure that took the directory offline */
	bool log_dir_marked;     /* apply_mu: step b done */
	bool log_dir_told;       /* tick thread: the notice written */

	pthread_mutex_t tick_mu;
	pthread_cond_t tick_cv; /* CLOCK_MONOTONIC */
	bool stop;
	pthread_t tick_th;
	bool tick_running;
};

static bool broker_alive(void *arg, int32_t broker_id);

/* After a change to the local replicas (replica_mgr_states_gen): called
 * once every lock that guards the change was released, so that a reader
 * that loads the new count (acquire) sees the change. */
static void states_changed(struct replica_mgr *rm)
{
	atomic_fetch_add_explicit(&rm->states_gen, 1, memory_order_release);
	if (rm->cfg.states_changed)
		rm->cfg.states_changed(rm->cfg.states_changed_arg);
}

uint64_t replica_mgr_states_gen(struct replica_mgr *rm)
{
	return atomic_load_explicit(&rm->states_gen, memory_order_acquire);
}

/* ---- the tables (mu held) ---- */

static void part_key(const void *arg, int i, const char **topic, int32_t *index)
{
	const struct replica_mgr *rm = arg;

	*topic = rm->parts[i]->topic;
	*index = rm->parts[i]->index;
}

static void meta_key(const void *arg, int i, const char **topic, int32_t *index)
{
	const struct replica_mgr *rm = arg;

	*topic = rm->meta[i].topic;
	*index = rm->meta[i].index;
}

static int part_find(struct replica_mgr *rm, const char *topic, int32_t index)
{
	return tpindex_find(&rm->parts_ix, rm->n_parts, topic, index);
}

static int meta_find(struct replica_mgr *rm, const char *topic, int32_t index)
{
	return tpindex_find(&rm->meta_ix, rm->n_meta, topic, index);
}

/* Rule 1, with mu held: refuses an older controller epoch (-ESTALE) or
 * broker epoch (-EREMCHG), else keeps the newest controller epoch. */
static int check_epochs(struct replica_mgr *rm, int32_t controller_epoch, int64_t broker_epoch)
{
	int64_t mine = atomic_load(&rm->broker_epoch);

	if (controller_epoch < rm->controller_epoch) {
		mq_log(MQ_WARN,
		       "replica manager: request of controller epoch %d refused, %d is "
		       "newer (STALE_CONTROLLER_EPOCH)",
		       (int)controller_epoch, (int)rm->controller_epoch);
		return -ESTALE;
	}
	/* Only an older one: the controller may learn our new registration
	 * (its znode's czxid) and send for it before our own read of the
	 * znode tells us (Kafka's isBrokerEpochStale). */
	if (broker_epoch >= 0 && mine >= 0 && broker_epoch < mine) {
		mq_log(MQ_WARN,
		       "replica manager: request for broker epoch %" PRId64 " refused, "
		       "ours is %" PRId64 " (STALE_BROKER_EPOCH)",
		       broker_epoch, mine);
		return -EREMCHG;
	}
	rm->controller_epoch = controller_epoch;
	return 0;
}

/* Takes apply_mu (the caller releases it) and checks rule 1. */
static int begin_request(struct replica_mgr *rm, int32_t controller_epoch, int64_t broker_epoch)
{
	int rc;

	pthread_mutex_lock(&rm->apply_mu);
	pthread_mutex_lock(&rm->mu);
	rc = check_epochs(rm, controller_epoch, broker_epoch);
	pthread_mutex_unlock(&rm->mu);
	return rc;
}

/* ---- callbacks of the logs and partitions ---- */

static void log_changed(void *arg)
{
	struct replica_mgr *rm = arg;
	struct fetch_serve *fs = atomic_load(&rm->fs);

	if (fs)
		fetch_serve_wake(fs);
}

void replica_mgr_kick_fetches(struct replica_mgr *rm)
{
	struct fetch_serve *fs = atomic_load(&rm->fs);

	if (fs)
		fetch_serve_kick(fs);
}

/* The ISR writer of every local partition (partition.h): no lock of ours
 * is held by the caller; we take mu only to read the controller epoch. */
static int isr_write(void *arg, struct partition *p, const struct partition_state *proposed)
{
	struct replica_mgr *rm = arg;
	const char *topic = partition_topic(p);
	int32_t index = partition_index(p), cepoch = 0;
	struct partition_state cur;
	struct partition_info before;
	int i, rc;

	/* The ISR in force: the proposal differs from it by the change. */
	partition_get_info(p, &before);
	pthread_mutex_lock(&rm->mu);
	i = part_find(rm, topic, index);
	if (i >= 0)
		cepoch = rm->parts[i]->controller_epoch;
	pthread_mutex_unlock(&rm->mu);
	rc = rm->cfg.isr.write ? rm->cfg.isr.write(rm->cfg.isr.arg, topic, index, cepoch, proposed)
			       : proposed->partition_epoch + 1;
	pthread_mutex_lock(&rm->mu);
	if (rc >= 0) {
		rm->isr_writes += rm->cfg.isr.write != NULL;
		if (proposed->n_isr < before.n_isr)
			rm->isr_shrinks++;
		else if (proposed->n_isr > before.n_isr)
			rm->isr_expands++;
	} else if (rc == -ESTALE)
		rm->isr_stale++;
	pthread_mutex_unlock(&rm->mu);
	if (rc >= 0) {
		if (rm->cfg.isr.write)
			mq_log(MQ_INFO, "%s-%d: ISR now of %d replicas (partition epoch %d)", topic,
			       (int)index, proposed->n_isr, rc);
		return rc;
	}
	if (rc != -ESTALE || !rm->cfg.isr.read) {
		mq_log(MQ_WARN, "%s-%d: ISR change not written: %s", topic, (int)index,
		       strerror(-rc));
		return rc;
	}
	/* Rule 5: someone wrote the state meanwhile. */
	cur = *proposed;
	if (rm->cfg.isr.read(rm->cfg.isr.arg, topic, index, &cur) == 0 &&
	    cur.leader == rm->cfg.broker_id && cur.leader_epoch == proposed->leader_epoch &&
	    cur.partition_epoch != proposed->partition_epoch) {
		int k = partition_make_leader(p, &cur, now_mono_ms());

		states_changed(rm);
		mq_log(MQ_INFO, "%s-%d: state moved to version %d meanwhile: %s", topic, (int)index,
		       (int)cur.partition_epoch, k >= 0 ? "taken" : strerror(-k));
	} else {
		mq_log(MQ_INFO, "%s-%d: state moved meanwhile; waiting for the controller", topic,
		       (int)index);
	}
	return -ESTALE;
}

/* The change listener of every local partition after an unclean
 * restart: passes on the moment it is eligible as leader again (the
 * owner keeps it once; later calls find nothing to do there). */
static void part_changed(void *arg, struct partition *p)
{
	struct replica_mgr *rm = arg;

	if (rm->cfg.eligible && partition_leader_eligible(p))
		rm->cfg.eligible(rm->cfg.eligible_arg, partition_topic(p), partition_index(p));
}

/* The storage listener of every local partition: a follower's append,
 * truncation or epoch record that failed (partition.h). */
static void part_storage_failed(void *arg, struct partition *p, int err)
{
	replica_mgr_storage_failed(arg, partition_topic(p), partition_index(p), err);
}

/* ---- fetchers (apply_mu held) ---- */

static void unfollow(struct replica_mgr *rm, struct rm_part *rp)
{
	fetcher_set_remove(&rm->sources, rp->source, rp->p);
	rp->source = -1;
}

static int follow(struct replica_mgr *rm, struct rm_part *rp, int32_t leader)
{
	struct fetcher *f;
	int rc;

	if (rp->source != leader || rm->no_follow)
		unfollow(rm, rp);
	if (rm->no_follow)
		return 0;
	f = fetcher_set_get(&rm->sources, leader);
	if (!f)
		return -EHOSTUNREACH;
	rc = fetcher_add(f, rp->p);
	if (rc < 0 && rc != -EEXIST)
		return rc;
	rp->source = leader;
	return 0;
}

void replica_mgr_stop_following(struct replica_mgr *rm)
{
	pthread_mutex_lock(&rm->apply_mu);
	rm->no_follow = true;
	/* Only apply_mu changes the table: read without mu. */
	for (int i = 0; i < rm->n_parts; i++)
		unfollow(rm, rm->parts[i]);
	pthread_mutex_unlock(&rm->apply_mu);
}

/* ---- LeaderAndIsr ---- */

static bool has(const int32_t *ids, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The local replica of s, opened when new (apply_mu held). */
static int part_open(struct replica_mgr *rm, const char *topic, int32_t index, const char *topic_id,
		     struct rm_part **out)
{
	struct partition_config pc = {
		.broker_id = rm->cfg.broker_id,
		.replica_lag_time_max_ms = rm->cfg.replica_lag_time_max_ms,
		.min_insync_replicas = rm->cfg.min_insync_replicas,
		.unclean_restart = rm->cfg.unclean_restart &&
				   (!rm->cfg.ineligible ||
				    rm->cfg.ineligible(rm->cfg.eligible_arg, topic, index)),
	};
	const struct partition_log_ops *ops = NULL;
	struct rm_part *rp, **np;
	int i, rc;

	pthread_mutex_lock(&rm->mu);
	i = part_find(rm, topic, index);
	pthread_mutex_unlock(&rm->mu);
	if (i >= 0) {
		*out = rm->parts[i]; /* only apply_mu changes the table */
		return 0;
	}
	if (strlen(topic) > PARTITION_MAX_TOPIC || index < 0)
		return -EINVAL;
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	strcpy(rp->topic, topic);
	rp->index = index;
	rp->source = -1;
	snprintf(rp->topic_id, sizeof(rp->topic_id), "%s", topic_id ? topic_id : "");
	rc = rm->cfg.logs.open(rm->cfg.logs.arg, topic, index, rp->topic_id, log_changed, rm, &ops,
			       &rp->log);
	if (rc < 0) {
		mq_log(MQ_ERR, "%s-%d: cannot open the local log: %s", topic, (int)index,
		       strerror(-rc));
		free(rp);
		return rc;
	}
	rc = partition_new(topic, index, &pc, ops, rp->log, &rp->p);
	if (rc < 0)
		goto fail;
	if (rm->cfg.logs.min_isr)
		partition_set_min_isr(rp->p, rm->cfg.logs.min_isr(rm->cfg.logs.arg, topic));
	partition_set_isr_writer(rp->p, isr_write, rm);
	partition_set_alive(rp->p, broker_alive, rm);
	partition_set_storage_listener(rp->p, part_storage_failed, rm);
	if (rm->cfg.unclean_restart)
		partition_set_listener(rp->p, part_changed, rm);
	pthread_mutex_lock(&rm->mu);
	np = realloc(rm->parts, sizeof(*np) * (size_t)(rm->n_parts + 1));
	if (np) {
		rm->parts = np;
		np[rm->n_parts++] = rp;
		tpindex_added(&rm->parts_ix, rm->n_parts);
	}
	pthread_mutex_unlock(&rm->mu);
	if (!np) {
		rc = -ENOMEM;
		goto fail;
	}
	*out = rp;
	return 0;
fail:
	partition_unref(rp->p);
	rm->cfg.logs.close(rm->cfg.logs.arg, topic, index, rp->log, false);
	free(rp);
	return rc;
}

/* The controller's state as the partition takes it; returns how many
 * ISR members it left out. The ISR comes from the state znode, which any
 * client of the ensemble may have written (an operator's zkCli naming a
 * broker that is no replica, or none that exists), and the controller
 * keeps an ISR whose members are all gone (invariant 5 of controller.c).
 * Refusing the whole state would leave this replica in its old role and
 * epoch: an old leader appending writes that no follower fetches any
 * more. Kafka's Partition takes such an ISR and counts only its replicas
 * (the others have no replica state); so does this: the members that
 * are not replicas, and repeats, are left out. */
static int state_of(const struct controller_partition_state *s, struct partition_state *st)
{
	int dropped = 0;

	*st = (struct partition_state){
		.leader = s->leader,
		.leader_epoch = s->leader_epoch,
		.partition_epoch = s->partition_epoch,
		.n_replicas = s->n_replicas,
		.recovering = s->leader_recovery_state == ZK_RECOVERY_RECOVERING,
	};
	memcpy(st->replicas, s->replicas, sizeof(int32_t) * (size_t)s->n_replicas);
	/* Each offline replica once, as the ISR below: .state gives each a
	 * line and Metadata names them (a repeat would also take the room of
	 * a replica named after it). */
	for (int i = 0; i < s->n_offline_replicas && st->n_offline < s->n_replicas; i++)
		if (has(s->replicas, s->n_replicas, s->offline_replicas[i]) &&
		    !has(st->offline, st->n_offline, s->offline_replicas[i]))
			st->offline[st->n_offline++] = s->offline_replicas[i];
	for (int i = 0; i < s->n_isr; i++) {
		if (!has(s->replicas, s->n_replicas, s->isr[i]) ||
		    has(st->isr, st->n_isr, s->isr[i]) || st->n_isr >= s->n_replicas) {
			dropped++;
			continue;
		}
		st->isr[st->n_isr++] = s->isr[i];
	}
	return dropped;
}

static int stop_one(struct replica_mgr *rm, const struct controller_stop_replica *s,
		    bool delete_log);

/* Rule 6: the local replica of an earlier topic of the name goes. */
static void retire_if_stale(struct replica_mgr *rm, const struct controller_partition_state *s)
{
	const struct controller_stop_replica stop = { .topic = s->topic,
						      .partition = s->partition,
						      .leader_epoch = s->leader_epoch,
						      .delete_partition = true };
	char had[sizeof(((struct rm_part *)0)->topic_id)] = "";
	int i;

	if (!s->topic_id || !s->topic_id[0])
		return;
	pthread_mutex_lock(&rm->mu);
	i = part_find(rm, s->topic, s->partition);
	if (i >= 0)
		memcpy(had, rm->parts[i]->topic_id, sizeof(had));
	pthread_mutex_unlock(&rm->mu);
	if (i < 0 || !had[0] || strcmp(had, s->topic_id) == 0)
		return;
	mq_log(MQ_WARN,
	       "%s-%d: the local replica is of an earlier topic of that name (topic id %s, the "
	       "controller's %s): stopped, opened again",
	       s->topic, (int)s->partition, had, s->topic_id);
	/* Its log's owner (the broker's topic) finds it stale and drops it
	 * when the partition opens again (logs.open): not deleted here. */
	if (stop_one(rm, &stop, false) == 0)
		log_changed(rm); /* its parked fetches answered now */
}

/* Rule 7: s would have this broker lead (or wait with no leader) from a
 * log it lost. The ISR naming it says it held every committed record of
 * an epoch past the first; with no log from before its start, it holds
 * none. A new partition's first state (is_new) and first epoch (0), a new
 * topic's or a new topic id's, find every replica empty. */
static bool lost_log(struct replica_mgr *rm, const struct controller_partition_state *s)
{
	bool open;

	if (!rm->cfg.logs.has || s->is_new || s->leader_epoch <= 0 ||
	    (s->leader >= 0 && s->leader != rm->cfg.broker_id) ||
	    !has(s->isr, s->n_isr, rm->cfg.broker_id))
		return false;
	pthread_mutex_lock(&rm->mu);
	open = part_find(rm, s->topic, s->partition) >= 0;
	pthread_mutex_unlock(&rm->mu);
	return !open && !rm->cfg.logs.has(rm->cfg.logs.arg, s->topic, s->partition);
}

static int apply_state(struct replica_mgr *rm, int32_t controller_epoch,
		       const struct controller_partition_state *s)
{
	struct partition_state st;
	struct partition_info before;
	struct rm_part *rp;
	bool moved = false;
	int rc;

	if (!has(s->replicas, s->n_replicas, rm->cfg.broker_id))
		return -ENOENT;
	if (s->n_replicas > PARTITION_MAX_REPLICAS || s->n_isr < 0)
		return -EINVAL;
	if (atomic_load(&rm->log_dir_err)) {
		/* Step c: nothing is opened on a failed directory. */
		mq_log_limited(MQ_WARN,
			       "%s-%d: LeaderAndIsr (leader %d, epoch %d) refused: the log "
			       "directory is offline (KAFKA_STORAGE_ERROR)",
			       s->topic, (int)s->partition, (int)s->leader, (int)s->leader_epoch);
		return -ENXIO;
	}
	if (state_of(s, &st) > 0)
		mq_log_limited(MQ_WARN,
			       "%s-%d: LeaderAndIsr (leader %d, epoch %d): its ISR names brokers "
			       "that are not replicas of the partition: left out (ISR of %d)",
			       s->topic, (int)s->partition, (int)s->leader, (int)s->leader_epoch,
			       st.n_isr);
	retire_if_stale(rm, s);
	if (lost_log(rm, s)) {
		mq_log_limited(MQ_ERR,
			       "%s-%d: LeaderAndIsr (leader %d, epoch %d) refused: the ISR names "
			       "this broker, but its log of the partition is gone (its data "
			       "directory was wiped or replaced); leading from an empty log would "
			       "truncate the other replicas (KAFKA_STORAGE_ERROR: the partition "
			       "elects without it, an unclean election can take a replica that "
			       "holds the records)",
			       s->topic, (int)s->partition, (int)s->leader, (int)s->leader_epoch);
		return -EIO;
	}
	rc = part_open(rm, s->topic, s->partition, s->topic_id, &rp);
	if (rc < 0)
		return rc;
	partition_get_info(rp->p, &before);
	if (s->leader < 0) {
		/* Offline: nobody to fetch from until the controller elects.
		 * The replica takes the state all the same (no leader, its
		 * epoch and ISR), as Kafka's makeFollower does: .state and the
		 * routing of writes name no leader, not the one before. */
		rc = partition_make_follower(rp->p, &st);
		moved = rc >= 0 && before.role == PARTITION_LEADER;
		unfollow(rm, rp);
		if (rc == 1)
			mq_log(MQ_INFO, "%s-%d: no leader in epoch %d (offline)", s->topic,
			       (int)s->partition, (int)s->leader_epoch);
	} else if (s->leader == rm->cfg.broker_id) {
		rc = partition_make_leader(rp->p, &st, now_mono_ms());
		moved = rc >= 0 && before.role != PARTITION_LEADER;
		if (rc >= 0) {
			unfollow(rm, rp);
			if (rc == 1)
				mq_log(MQ_INFO, "%s-%d: leader in epoch %d, ISR of %d", s->topic,
				       (int)s->partition, (int)s->leader_epoch, s->n_isr);
		}
	} else {
		rc = partition_make_follower(rp->p, &st);
		moved = rc >= 0 && before.role == PARTITION_LEADER;
		if (rc == 1) {
			mq_log(MQ_INFO, "%s-%d: follower of broker %d in epoch %d", s->topic,
			       (int)s->partition, (int)s->leader, (int)s->leader_epoch);
			rc = follow(rm, rp, s->leader);
		} else if (rc == 0 && rp->source != s->leader) {
			rc = follow(rm, rp, s->leader);
		}
	}
	if (rc >= 0) {
		/* A fetch parked here for a partition this broker stopped
		 * leading is answered now (NOT_LEADER_OR_FOLLOWER), not at its
		 * max_wait_ms: the purgatory sleeps until told (Kafka completes
		 * delayed fetches on a leadership change too). */
		if (moved)
			log_changed(rm);
		pthread_mutex_lock(&rm->mu);
		rp->controller_epoch = controller_epoch;
		rm->leadership_changes += moved;
		/* The controller changed the ISR of a partition led here (it
		 * took a dead broker out, in a new leader epoch): counted as
		 * the leader's own ISR writes are. */
		if (before.role == PARTITION_LEADER && s->leader == rm->cfg.broker_id) {
			rm->isr_shrinks += s->n_isr < before.n_isr;
			rm->isr_expands += s->n_isr > before.n_isr;
		}
		pthread_mutex_unlock(&rm->mu);
		return 0;
	}
	if (rc != -ESTALE)
		mq_log(MQ_WARN, "%s-%d: LeaderAndIsr (leader %d, epoch %d) not applied: %s",
		       s->topic, (int)s->partition, (int)s->leader, (int)s->leader_epoch,
		       strerror(-rc));
	else if (s->leader_epoch < before.leader_epoch)
		/* Not a late message of this epoch (those are routine): a
		 * controller that went back, which only a state znode written
		 * over or deleted by another client makes it do (it then
		 * starts the partition again at epoch 0). Kafka's broker
		 * logs it too; the replica keeps its own epoch. */
		mq_log_limited(MQ_WARN,
			       "%s-%d: LeaderAndIsr (leader %d, epoch %d) ignored: this replica is "
			       "in leader epoch %d already (the partition's state znode "
			       "rewritten or deleted by another client?)",
			       s->topic, (int)s->partition, (int)s->leader, (int)s->leader_epoch,
			       (int)before.leader_epoch);
	return rc;
}

int replica_mgr_leader_and_isr(struct replica_mgr *rm, int32_t controller_epoch,
			       int64_t broker_epoch,
			       const struct controller_partition_state *states, int n, int *errors)
{
	int rc = begin_request(rm, controller_epoch, broker_epoch);

	for (int i = 0; rc == 0 && i < n; i++) {
		int e = apply_state(rm, controller_epoch, &states[i]);

		if (errors)
			errors[i] = e;
	}
	pthread_mutex_unlock(&rm->apply_mu);
	states_changed(rm);
	return rc;
}

/* ---- StopReplica ---- */

static void meta_remove(struct replica_mgr *rm, const char *topic, int32_t index)
{
	int i = meta_find(rm, topic, index);

	if (i >= 0) {
		tpindex_remove(&rm->meta_ix, i, rm->n_meta);
		rm->meta[i] = rm->meta[--rm->n_meta];
	}
}

/* Closes the stopped logs no one holds any more (apply_mu held). With
 * all set, waits for none: the caller knows no one can hold them. */
static void reap(struct replica_mgr *rm, bool all)
{
	for (int i = 0; i < rm->n_stopped;) {
		struct rm_part *rp = rm->stopped[i];
		int rc;

		if (!all && partition_refs(rp->p) > 1) {
			i++;
			continue;
		}
		partition_unref(rp->p);
		rc = rm->cfg.logs.close(rm->cfg.logs.arg, rp->topic, rp->index, rp->log,
					rp->delete_log);
		if (rc < 0)
			mq_log(MQ_WARN, "%s-%d: closing the local log: %s", rp->topic,
			       (int)rp->index, strerror(-rc));
		else if (rp->delete_log)
			mq_log(MQ_INFO, "%s-%d: local log deleted", rp->topic, (int)rp->index);
		free(rp);
		rm->stopped[i] = rm->stopped[--rm->n_stopped];
	}
}

/* s stops the local replica; the partition's metadata goes only when s
 * is of a topic deletion (CONTROLLER_EPOCH_DURING_DELETE). A replica moved
 * away (any other epoch: a reassignment's StopReplica, a stray, a retired
 * replica of an earlier topic of the name, rule 6) leaves the partition
 * in the cluster, as Kafka's MetadataCache keeps it: a fetch parked on it
 * and every later request of it here are then NOT_LEADER_OR_FOLLOWER
 * (fetch_serve_no_replica), which sends a client to the metadata and the
 * partition's new replicas, where UNKNOWN_TOPIC_OR_PARTITION would tell
 * it the topic is gone; the controller's UpdateMetadata keeps it
 * current. */
static int stop_one(struct replica_mgr *rm, const struct controller_stop_replica *s,
		    bool delete_log)
{
	struct rm_part *rp = NULL, **ns;
	int i;

	ns = realloc(rm->stopped, sizeof(*ns) * (size_t)(rm->n_stopped + 1));
	if (!ns)
		return -ENOMEM;
	rm->stopped = ns;
	pthread_mutex_lock(&rm->mu);
	i = part_find(rm, s->topic, s->partition);
	if (i >= 0 && s->delete_partition) {
		rp = rm->parts[i];
		tpindex_remove(&rm->parts_ix, i, rm->n_parts);
		rm->parts[i] = rm->parts[--rm->n_parts];
	}
	if (s->delete_partition && s->leader_epoch == CONTROLLER_EPOCH_DURING_DELETE)
		meta_remove(rm, s->topic, s->partition);
	if (i >= 0 && !rp)
		rp = rm->parts[i];
	pthread_mutex_unlock(&rm->mu);
	if (!rp)
		return -ENOENT;
	unfollow(rm, rp);
	if (!s->delete_partition)
		return 0; /* Kafka keeps the replica, just no longer fetching */
	partition_make_none(rp->p, true);
	rp->delete_log = delete_log;
	rm->stopped[rm->n_stopped++] = rp;
	return 0;
}

int replica_mgr_stop_replica(struct replica_mgr *rm, int32_t controller_epoch, int64_t broker_epoch,
			     const struct controller_stop_replica *parts, int n, int *errors)
{
	int rc = begin_request(rm, controller_epoch, broker_epoch);

	for (int i = 0; rc == 0 && i < n; i++) {
		int e = stop_one(rm, &parts[i], true);

		if (errors)
			errors[i] = e;
	}
	if (rc == 0)
		reap(rm, false);
	pthread_mutex_unlock(&rm->apply_mu);
	states_changed(rm);
	/* Fetches parked for the stopped replicas: answered now. */
	if (rc == 0 && n > 0)
		log_changed(rm);
	return rc;
}

int replica_mgr_drop_stray(struct replica_mgr *rm, const char *topic, int32_t partition,
			   int32_t leader_epoch)
{
	struct controller_stop_replica stop = { .topic = topic,
						.partition = partition,
						.leader_epoch = leader_epoch,
						.delete_partition = true };
	struct partition_info info;
	struct partition *p;
	int rc = 0;

	pthread_mutex_lock(&rm->apply_mu);
	p = replica_mgr_get(rm, topic, partition);
	if (p) {
		partition_get_info(p, &info);
		partition_unref(p);
	}
	/* The partition's metadata stays (a replica moved away, stop_one):
	 * the topic does, and the mount reads the partition through it
	 * (observer.h). */
	if (p && info.leader_epoch < leader_epoch && stop_one(rm, &stop, true) == 0) {
		rc = 1;
		reap(rm, false);
	}
	pthread_mutex_unlock(&rm->apply_mu);
	if (rc) {
		mq_log(MQ_WARN,
		       "%s-%d: the assignment no longer names this broker, its replica here is of "
		       "leader epoch %d (the partition's is %d): its StopReplica never came (this "
		       "broker's session ended meanwhile); stopped, its log deleted",
		       topic, (int)partition, (int)info.leader_epoch, (int)leader_epoch);
		states_changed(rm);
		log_changed(rm); /* fetches parked on it: answered now */
	}
	return rc;
}

int replica_mgr_drop_topic(struct replica_mgr *rm, const char *topic)
{
	/* The topic is deleted: its metadata goes (stop_one). */
	struct controller_stop_replica stop = { .topic = topic,
						.leader_epoch = CONTROLLER_EPOCH_DURING_DELETE,
						.delete_partition = true };
	int n = 0;

	pthread_mutex_lock(&rm->apply_mu);
	for (;;) {
		int32_t index = -1;

		pthread_mutex_lock(&rm->mu);
		for (int i = 0; i < rm->n_parts && index < 0; i++)
			if (!strcmp(rm->parts[i]->topic, topic))
				index = rm->parts[i]->index;
		pthread_mutex_unlock(&rm->mu);
		stop.partition = index;
		if (index < 0 || stop_one(rm, &stop, true) < 0)
			break;
		n++;
	}
	/* The partitions led elsewhere too: no Metadata answer names them. */
	pthread_mutex_lock(&rm->mu);
	for (int i = rm->n_meta - 1; i >= 0; i--)
		if (!strcmp(rm->meta[i].topic, topic))
			meta_remove(rm, topic, rm->meta[i].index);
	pthread_mutex_unlock(&rm->mu);
	reap(rm, false);
	pthread_mutex_unlock(&rm->apply_mu);
	states_changed(rm);
	if (n > 0) {
		mq_log(MQ_INFO, "topic %s: gone from the cluster: its %d local replica(s) stopped",
		       topic, n);
		log_changed(rm); /* fetches parked on them: answered now */
	}
	return n;
}

/* ---- UpdateMetadata ---- */

/* A follower learns its leader's ISR changes from UpdateMetadata (the
 * controller sends no LeaderAndIsr for them): it needs to know it is in
 * the ISR again to become eligible as leader after an unclean restart
 * (partition.h, invariant 9). Only an ISR change under the leader and
 * epoch it follows: anything else is LeaderAndIsr's. */
static void followers_refresh(struct replica_mgr *rm, const struct controller_partition_state *s)
{
	struct partition *p = replica_mgr_get(rm, s->topic, s->partition);
	struct partition_info info;
	struct partition_state st;

	if (!p)
		return;
	partition_get_info(p, &info);
	if (info.role == PARTITION_FOLLOWER && info.leader == s->leader &&
	    info.leader_epoch == s->leader_epoch && s->partition_epoch > info.partition_epoch) {
		state_of(s, &st);
		(void)partition_make_follower(p, &st);
	}
	partition_unref(p);
}

int replica_mgr_update_metadata(struct replica_mgr *rm, int32_t controller_epoch,
				int64_t broker_epoch, const int32_t *live, int n_live,
				const struct controller_partition_state *states, int n)
{
	int32_t *nl = NULL;
	int rc;

	if (n_live > 0) {
		nl = malloc(sizeof(*nl) * (size_t)n_live);
		if (!nl)
			return -ENOMEM;
		memcpy(nl, live, sizeof(*nl) * (size_t)n_live);
	}
	pthread_mutex_lock(&rm->mu);
	rc = check_epochs(rm, controller_epoch, broker_epoch);
	if (rc < 0)
		goto out;
	pthread_mutex_lock(&rm->live_mu);
	free(rm->live);
	rm->live = nl;
	rm->n_live = n_live;
	pthread_mutex_unlock(&rm->live_mu);
	nl = NULL;
	for (int i = 0; i < n; i++) {
		const struct controller_partition_state *s = &states[i];
		struct rm_meta *m;
		int k;

		if (strlen(s->topic) > PARTITION_MAX_TOPIC || s->partition < 0 ||
		    s->n_replicas > PARTITION_MAX_REPLICAS || s->n_isr > PARTITION_MAX_REPLICAS ||
		    s->n_isr < 0 || s->n_replicas < 0)
			continue;
		k = meta_find(rm, s->topic, s->partition);
		if (k < 0) {
			m = realloc(rm->meta, sizeof(*m) * (size_t)(rm->n_meta + 1));
			if (!m) {
				rc = -ENOMEM;
				goto out;
			}
			rm->meta = m;
			k = rm->n_meta++;
			strcpy(rm->meta[k].topic, s->topic);
			rm->meta[k].index = s->partition;
			tpindex_added(&rm->meta_ix, rm->n_meta);
		}
		state_of(s, &rm->meta[k].st);
	}
out:
	pthread_mutex_unlock(&rm->mu);
	free(nl);
	for (int i = 0; rc == 0 && i < n; i++)
		if (states[i].n_replicas <= PARTITION_MAX_REPLICAS &&
		    states[i].n_isr <= states[i].n_replicas && states[i].n_isr >= 0)
			followers_refresh(rm, &states[i]);
	states_changed(rm);
	return rc;
}

/* ---- lookups ---- */

struct partition *replica_mgr_get(struct replica_mgr *rm, const char *topic, int32_t partition)
{
	struct partition *p = NULL;
	int i;

	pthread_mutex_lock(&rm->mu);
	i = part_find(rm, topic, partition);
	if (i >= 0) {
		p = rm->parts[i]->p;
		partition_ref(p);
	}
	pthread_mutex_unlock(&rm->mu);
	return p;
}

void replica_mgr_set_min_isr(struct replica_mgr *rm, const char *topic, int32_t min_insync_replicas)
{
	pthread_mutex_lock(&rm->mu);
	for (int i = 0; i < rm->n_parts; i++)
		if (!strcmp(rm->parts[i]->topic, topic))
			partition_set_min_isr(rm->parts[i]->p, min_insync_replicas);
	pthread_mutex_unlock(&rm->mu);
}

/* The wire's topic name as a string in name, false when it cannot be
 * one (too long, or a NUL inside it). */
static bool wire_name(struct kstr topic, char name[PARTITION_MAX_TOPIC + 1])
{
	if (topic.len < 0 || topic.len > PARTITION_MAX_TOPIC || !topic.ptr)
		return false;
	memcpy(name, topic.ptr, (size_t)topic.len);
	name[topic.len] = '\0';
	return strlen(name) == (size_t)topic.len;
}

struct partition *replica_mgr_lookup(void *arg, struct kstr topic, int32_t partition)
{
	char name[PARTITION_MAX_TOPIC + 1];

	return wire_name(topic, name) ? replica_mgr_get(arg, name, partition) : NULL;
}

bool replica_mgr_known(void *arg, struct kstr topic, int32_t partition)
{
	char name[PARTITION_MAX_TOPIC + 1];
	struct partition_state st;

	return wire_name(topic, name) && replica_mgr_partition_meta(arg, name, partition, &st) == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int replica_mgr_topics(struct replica_mgr *rm, char ***names)
{
	char **v;
	int n = 0;

	pthread_mutex_lock(&rm->mu);
	v = calloc((size_t)rm->n_meta + 1, sizeof(*v));
	for (int i = 0; v && i < rm->n_meta; i++) {
		bool seen = false;

		for (int j = 0; j < n && !seen; j++)
			seen = !strcmp(v[j], rm->meta[i].topic);
		if (seen)
			continue;
		v[n] = strdup(rm->meta[i].topic);
		if (!v[n]) {
			replica_mgr_names_free(v, n);
			v = NULL;
			break;
		}
		n++;
	}
	pthread_mutex_unlock(&rm->mu);
	if (!v)
		return -ENOMEM;
	qsort(v, (size_t)n, sizeof(*v), cmp_str);
	*names = v;
	return n;
}

void replica_mgr_names_free(char **names, int n)
{
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
}

int replica_mgr_partitions(struct replica_mgr *rm, const char *topic)
{
	int n = 0;

	pthread_mutex_lock(&rm->mu);
	for (int i = 0; i < rm->n_meta; i++)
		if (!strcmp(rm->meta[i].topic, topic) && rm->meta[i].index >= n)
			n = rm->meta[i].index + 1;
	pthread_mutex_unlock(&rm->mu);
	return n;
}

int replica_mgr_partition_meta(struct replica_mgr *rm, const char *topic, int32_t partition,
			       struct partition_state *st)
{
	int i;

	pthread_mutex_lock(&rm->mu);
	i = meta_find(rm, topic, partition);
	if (i >= 0)
		*st = rm->meta[i].st;
	pthread_mutex_unlock(&rm->mu);
	return i >= 0 ? 0 : -ENOENT;
}

int replica_mgr_live_brokers(struct replica_mgr *rm, int32_t *out, int max)
{
	int n;

	pthread_mutex_lock(&rm->live_mu);
	n = rm->n_live;
	for (int i = 0; i < n && i < max; i++)
		out[i] = rm->live[i];
	pthread_mutex_unlock(&rm->live_mu);
	return n;
}

/* partition_alive_fn over the live brokers (arg: the manager). */
static bool broker_alive(void *arg, int32_t broker_id)
{
	struct replica_mgr *rm = arg;
	bool alive = false;

	pthread_mutex_lock(&rm->live_mu);
	for (int i = 0; i < rm->n_live && !alive; i++)
		alive = rm->live[i] == broker_id;
	pthread_mutex_unlock(&rm->live_mu);
	return alive;
}

/* ---- the log directory's failure ---- */

static void tick_wake(struct replica_mgr *rm)
{
	pthread_mutex_lock(&rm->tick_mu);
	pthread_cond_signal(&rm->tick_cv);
	pthread_mutex_unlock(&rm->tick_mu);
}

/* The local replicas, each with a reference taken (*n of them; malloc'd,
 * NULL when none or out of memory): called without mu, which it takes. */
static struct partition **parts_snapshot(struct replica_mgr *rm, int *n)
{
	struct partition **ps = NULL;

	*n = 0;
	pthread_mutex_lock(&rm->mu);
	if (rm->n_parts)
		ps = malloc(sizeof(*ps) * (size_t)rm->n_parts);
	for (int i = 0; ps && i < rm->n_parts; i++) {
		ps[*n] = rm->parts[i]->p;
		partition_ref(ps[(*n)++]);
	}
	pthread_mutex_unlock(&rm->mu);
	return ps;
}

/* Step a for every local replica (any thread; mu taken for the list). */
static void mark_all_offline(struct replica_mgr *rm)
{
	int n;
	struct partition **ps = parts_snapshot(rm, &n);

	for (int i = 0; i < n; i++) {
		partition_mark_offline(ps[i]);
		partition_unref(ps[i]);
	}
	free(ps);
}

int replica_mgr_storage_failed(struct replica_mgr *rm, const char *topic, int32_t partition,
			       int err)
{
	int none = 0;

	if (!partition_storage_failure(err))
		return err;
	if (atomic_compare_exchange_strong(&rm->log_dir_err, &none, err)) {
		char what[PARTITION_MAX_TOPIC + 16];

		/* A partition's log as Kafka names it, or the directory's file. */
		if (partition >= 0)
			snprintf(what, sizeof(what), "%s-%d", topic, (int)partition);
		else
			snprintf(what, sizeof(what), "%s", topic);
		mq_log(MQ_ERR,
		       "log dir %s: %s: %s: the log directory is offline: its replicas stop "
		       "(KAFKA_STORAGE_ERROR), the controller moves their leaderships; restart "
		       "the broker once the disk is repaired",
		       rm->cfg.log_dir ? rm->cfg.log_dir : "", what, strerror(-err));
		mark_all_offline(rm);
		states_changed(rm);
		tick_wake(rm);
	}
	return -ENXIO;
}

int replica_mgr_log_dir_failure(struct replica_mgr *rm)
{
	return atomic_load(&rm->log_dir_err);
}

/* Step b (the tick thread). */
static void log_dir_handle(struct replica_mgr *rm)
{
	int err = atomic_load(&rm->log_dir_err), rc;
	bool marked;

	if (!err)
		return;
	pthread_mutex_lock(&rm->apply_mu);
	marked = rm->log_dir_marked;
	if (!marked) {
		for (int i = 0; i < rm->n_parts; i++) {
			unfollow(rm, rm->parts[i]);
			partition_mark_offline(rm->parts[i]->p);
		}
		rm->log_dir_marked = true;
	}
	pthread_mutex_unlock(&rm->apply_mu);
	if (!marked)
		states_changed(rm);
	if (!marked)
		log_changed(rm); /* the fetches parked on them: answered now */
	if (rm->log_dir_told || !rm->cfg.log_dir_failed)
		return;
	rc = rm->cfg.log_dir_failed(rm->cfg.log_dir_arg, err);
	rm->log_dir_told = rc == 0;
	if (rc == 0)
		mq_log(MQ_INFO, "log dir: the controller is told of its failure "
				"(/log_dir_event_notification)");
	else
		mq_log_limited(MQ_WARN,
			       "log dir: its failure not told to the controller yet: %s; tried "
			       "again in %d ms",
			       strerror(-rc), LOG_DIR_RETRY_MS);
}

/* ---- the tick ---- */

void replica_mgr_tick(struct replica_mgr *rm, int64_t now_ms)
{
	int n;
	struct partition **ps = parts_snapshot(rm, &n);

	/* Without the table lock: a shrink writes to ZooKeeper. */
	for (int i = 0; i < n; i++) {
		int rc = partition_maybe_shrink_isr(ps[i], now_ms);

		if (rc > 0)
			mq_log(MQ_INFO,
			       "%s-%d: %d replica(s) left the ISR (no fetch caught up "
			       "within replica.lag.time.max.ms)",
			       partition_topic(ps[i]), (int)partition_index(ps[i]), rc);
		partition_unref(ps[i]);
	}
	free(ps);
	pthread_mutex_lock(&rm->apply_mu);
	reap(rm, false);
	pthread_mutex_unlock(&rm->apply_mu);
	log_dir_handle(rm);
}

static void *tick_main(void *arg)
{
	struct replica_mgr *rm = arg;
	int64_t every = rm->cfg.replica_lag_time_max_ms / 2;

	if (every < 1)
		every = 1;
	pthread_mutex_lock(&rm->tick_mu);
	while (!rm->stop) {
		struct timespec ts;

		/* A failed directory whose notice is not written yet: sooner. */
		deadline_from_ms(CLOCK_MONOTONIC,
				 atomic_load(&rm->log_dir_err) && !rm->log_dir_told &&
						 every > LOG_DIR_RETRY_MS
					 ? LOG_DIR_RETRY_MS
					 : every,
				 &ts);
		pthread_cond_timedwait(&rm->tick_cv, &rm->tick_mu, &ts);
		if (rm->stop)
			break;
		pthread_mutex_unlock(&rm->tick_mu);
		replica_mgr_tick(rm, now_mono_ms());
		pthread_mutex_lock(&rm->tick_mu);
	}
	pthread_mutex_unlock(&rm->tick_mu);
	return NULL;
}

/* ---- lifecycle ---- */

int replica_mgr_new(const struct replica_mgr_config *cfg, struct replica_mgr **out)
{
	struct replica_mgr *rm;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!cfg->logs.open || !cfg->logs.close || !cfg->endpoint || cfg->broker_id < 0 ||
	    (cfg->fetch.sasl_user && !cfg->fetch.sasl_password))
		return -EINVAL;
	rm = calloc(1, sizeof(*rm));
	if (!rm)
		return -ENOMEM;
	rm->cfg = *cfg;
	rm->cfg.fetch.sasl_user = rm->cfg.fetch.sasl_password = NULL;
	if (fetcher_set_init(&rm->sources, &cfg->fetch, cfg->broker_id, cfg->endpoint,
			     cfg->endpoint_arg, "replica") < 0) {
		free(rm);
		return -ENOMEM;
	}
	atomic_store(&rm->broker_epoch, -1);
	rm->controller_epoch = -1;
	tpindex_init(&rm->parts_ix, part_key, rm);
	tpindex_init(&rm->meta_ix, meta_key, rm);
	pthread_mutex_init(&rm->apply_mu, NULL);
	pthread_mutex_init(&rm->mu, NULL);
	pthread_mutex_init(&rm->live_mu, NULL);
	pthread_mutex_init(&rm->tick_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rm->tick_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (cfg->tick_thread) {
		rc = pthread_create(&rm->tick_th, NULL, tick_main, rm);
		if (rc != 0) {
			replica_mgr_free(rm);
			return -rc;
		}
		pthread_setname_np(rm->tick_th, "mqfs-isr");
		rm->tick_running = true;
	}
	*out = rm;
	return 0;
}

void replica_mgr_free(struct replica_mgr *rm)
{
	if (!rm)
		return;
	if (rm->tick_running) {
		pthread_mutex_lock(&rm->tick_mu);
		rm->stop = true;
		pthread_cond_signal(&rm->tick_cv);
		pthread_mutex_unlock(&rm->tick_mu);
		pthread_join(rm->tick_th, NULL);
	}
	pthread_mutex_lock(&rm->apply_mu);
	fetcher_set_clear(&rm->sources);
	pthread_mutex_lock(&rm->mu);
	for (int i = 0; i < rm->n_parts; i++) {
		struct rm_part *rp = rm->parts[i];

		partition_make_none(rp->p, false);
		partition_unref(rp->p);
		rm->cfg.logs.close(rm->cfg.logs.arg, rp->topic, rp->index, rp->log, false);
		free(rp);
	}
	free(rm->parts);
	free(rm->meta);
	tpindex_free(&rm->parts_ix);
	tpindex_free(&rm->meta_ix);
	free(rm->live);
	pthread_mutex_unlock(&rm->mu);
	reap(rm, true);
	free(rm->stopped);
	pthread_mutex_unlock(&rm->apply_mu);
	pthread_cond_destroy(&rm->tick_cv);
	pthread_mutex_destroy(&rm->tick_mu);
	pthread_mutex_destroy(&rm->mu);
	pthread_mutex_destroy(&rm->live_mu);
	pthread_mutex_destroy(&rm->apply_mu);
	free(rm);
}

void replica_mgr_set_fetch_serve(struct replica_mgr *rm, struct fetch_serve *fs)
{
	atomic_store(&rm->fs, fs);
}

void replica_mgr_set_broker_epoch(struct replica_mgr *rm, int64_t broker_epoch)
{
	atomic_store(&rm->broker_epoch, broker_epoch);
}

bool replica_mgr_heard_controller(struct replica_mgr *rm)
{
	bool heard;

	pthread_mutex_lock(&rm->mu);
	heard = rm->controller_epoch >= 0;
	pthread_mutex_unlock(&rm->mu);
	return heard;
}

void replica_mgr_get_stats(struct replica_mgr *rm, struct replica_mgr_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&rm->apply_mu);
	st->fetchers = rm->sources.n;
	st->stopped = rm->n_stopped;
	for (int i = 0; i < rm->sources.n; i++) {
		struct fetcher_stats fst;

		fetcher_get_stats(rm->sources.v[i].f, &fst);
		st->fetch_bytes_in += fst.bytes;
		st->fetch_requests += fst.fetches;
	}
	pthread_mutex_unlock(&rm->apply_mu);
	pthread_mutex_lock(&rm->mu);
	st->partitions = rm->n_parts;
	for (int i = 0; i < rm->n_parts; i++) {
		struct partition_info info;

		partition_get_info(rm->parts[i]->p, &info);
		st->followers += info.role == PARTITION_FOLLOWER;
		if (info.role != PARTITION_LEADER)
			continue;
		st->leaders++;
		st->under_replicated += info.n_isr < info.n_replicas;
		for (int j = 0; j < info.n_followers; j++) {
			const struct partition_replica *r = &info.followers[j];
			int64_t at = r->log_end_offset >= 0 ? r->log_end_offset
							    : info.offsets.log_start_offset;
			int64_t lag = info.offsets.log_end_offset - at;

			if (lag > st->max_lag)
				st->max_lag = lag;
		}
	}
	st->isr_writes = rm->isr_writes;
	st->isr_stale = rm->isr_stale;
	st->isr_shrinks = rm->isr_shrinks;
	st->isr_expands = rm->isr_expands;
	st->leadership_changes = rm->leadership_changes;
	st->controller_epoch = rm->controller_epoch;
	pthread_mutex_unlock(&rm->mu);
	st->log_dir_err = atomic_load(&rm->log_dir_err);
}
