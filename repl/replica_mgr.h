/*
 * replica_mgr.h — the broker's side of the controller's requests (Kafka's
 * ReplicaManager and MetadataCache of the ZooKeeper era): the local
 * replicas of the partitions assigned to this broker, their roles as
 * LeaderAndIsr decides them, one replica fetcher per leader broker, the
 * cluster's partition metadata as UpdateMetadata tells it, StopReplica,
 * the ISR writes of partition.c and the periodic ISR shrink. Private to
 * repl/; the cluster wiring owns one per broker and feeds it the decoded
 * requests of the listener.
 *
 * What it needs from its owner, as three small tables so that the unit
 * tests can run brokers in one process without ZooKeeper or the engine:
 *   replica_log_provider  opens (creating) and closes the local log of a
 *                         partition, with the partition_log_ops over it;
 *   replica_isr_store     the conditional write of a partition's state
 *                         (zkmeta_update_partition_state at the znode
 *                         version, then isr_change_notification) and its
 *                         re-read when the version moved;
 *   replica_endpoint_fn   where a broker's inter-broker listener is.
 *
 * Rules (Kafka's, numbered; the tests check each):
 *   1. A request of a controller epoch older than the newest seen is
 *      refused whole (-ESTALE: STALE_CONTROLLER_EPOCH); one naming an
 *      older broker epoch than ours (when both are known) too (-EREMCHG:
 *      STALE_BROKER_EPOCH; a newer one is ours before we read it).
 *   2. LeaderAndIsr looks only at partitions whose replicas include this
 *      broker; a partition state with an older leader epoch than ours
 *      changes nothing (that partition's error is -ESTALE).
 *   3. A partition is in at most one fetcher, the one of its leader; a
 *      leader is in none; a partition without a leader (offline) is in
 *      none and keeps its role until a leader is elected.
 *   4. A local log is closed only when no one holds its partition any
 *      more (stopped replicas wait in a list, reaped by the tick).
 *   5. An ISR write that finds the znode moved re-reads it; when the same
 *      leader epoch still makes this broker leader the new state is
 *      applied (an ISR change made meanwhile); anything else waits for the
 *      controller's next LeaderAndIsr.
 *   6. A LeaderAndIsr whose topic id differs from the one the local
 *      replica was opened under (both known) is of a new topic of the
 *      name, deleted and made again while this broker missed the
 *      StopReplica: the old replica is stopped (as by StopReplica, its
 *      log left to its owner) and the partition opened again, under the
 *      new id (Kafka's topic ids, KIP-516). Its epochs are the new
 *      topic's, lower than the old replica's: rule 2 would refuse them.
 *   7. A LeaderAndIsr that would make this broker lead a partition, or
 *      leave it without a leader, in a leader epoch past 0 with this
 *      broker in its ISR, not the first of a new partition (is_new), while this broker has no local log of it from
 *      before (none open in the manager, none found in the data
 *      directory at the broker's start: the directory was wiped or
 *      replaced), is refused (-EIO: KAFKA_STORAGE_ERROR) and opens
 *      nothing. ZooKeeper counts that replica in sync, but it holds no
 *      record: leading from an empty log would truncate every other
 *      replica to nothing. The controller then counts it offline for the
 *      partition (a replica its broker cannot host) and elects without
 *      it; a state that makes another broker lead opens it as any new
 *      follower, which fetches everything.
 *
 * Threads and locks: replica_mgr_leader_and_isr, _stop_replica and
 * _update_metadata may come from any thread; the first two are serialised
 * by the manager's apply mutex, held across partition and fetcher calls
 * (never across a network call of its own). The table mutex is a leaf.
 * The ISR store is called from whichever thread changed the ISR (a Fetch
 * handler, the tick thread), with no lock of the manager held.
 */
#ifndef MQFS_REPL_REPLICA_MGR_H
#define MQFS_REPL_REPLICA_MGR_H

#include <stdbool.h>
#include <stdint.h>

#include "repl/controller.h"
#include "repl/fetcher.h"
#include "repl/kbuf.h"
#include "repl/partition.h"

struct fetch_serve;

struct replica_log_provider {
	/* Opens the local log of topic-partition, creating it when missing.
	 * topic_id (the controller's id of the topic, "" when it has none):
	 * a local log of an earlier topic of the name is not opened but
	 * replaced by an empty one. changed(changed_arg) is to be called (any
	 * thread, no lock the caller holds) after its LEO or hw moved. */
	int (*open)(void *arg, const char *topic, int32_t partition, const char *topic_id,
		    void (*changed)(void *arg), void *changed_arg,
		    const struct partition_log_ops **ops, void **log);
	/* Closes a log open returned; with delete_log its files go too.
	 * changed is not called once it returns. */
	int (*close)(void *arg, const char *topic, int32_t partition, void *log, bool delete_log);
	void *arg;
	/* Whether the data directory held a log of topic-partition at the
	 * broker's start (rule 7; one made since, by a topic's read, holds
	 * nothing the ISR counts on). NULL: always. */
	bool (*has)(void *arg, const char *topic, int32_t partition);
	/* The topic's min.insync.replicas, <= 0 when not known here (the
	 * broker's setting then): a replica opens with it (invariant 2 of
	 * partition.h). May take the broker's topic locks. NULL: none. */
	int32_t (*min_isr)(void *arg, const char *topic);
};

struct replica_isr_store {
	/* Writes proposed (leader, leader epoch, ISR) with controller_epoch
	 * if the state's version is still proposed->partition_epoch; returns
	 * the new version (>= 0), -ESTALE when it moved, else -errno. */
	int (*write)(void *arg, const char *topic, int32_t partition, int32_t controller_epoch,
		     const struct partition_state *proposed);
	/* Reads the state now (leader, leader_epoch, isr, partition_epoch;
	 * replicas are the caller's). -ENOENT, -errno. */
	int (*read)(void *arg, const char *topic, int32_t partition, struct partition_state *cur);
	void *arg;
};

/* Fills host and port of broker_id's inter-broker listener. -ENOENT when
 * the broker is not known or has no such listener. */
typedef int (*replica_endpoint_fn)(void *arg, int32_t broker_id, char host[NET_MAX_HOST + 1],
				   int *port);

struct replica_mgr_config {
	int32_t broker_id;
	int64_t replica_lag_time_max_ms; /* replica.lag.time.max.ms (30000) */
	int min_insync_replicas;         /* min.insync.replicas (1) */
	bool unclean_restart;            /* the data directory was not shut down cleanly */
	/* Template of every fetcher (host, port, source_id filled per leader);
	 * sasl_user/sasl_password are copied. */
	struct fetcher_config fetch;
	struct replica_log_provider logs;
	struct replica_isr_store isr; /* write NULL: ISR changes are not persisted */
	replica_endpoint_fn endpoint;
	void *endpoint_arg;
	/* After an unclean restart (unclean_restart): told once a local
	 * replica has become eligible as leader again (partition.h, invariant
	 * 9), on the thread that found it, no lock of the manager held. May be
	 * NULL. */
	void (*eligible)(void *arg, const char *topic, int32_t partition);
	/* After an unclean restart: whether the log of a replica opened now
	 * may lack acknowledged records (it was there at the restart and has
	 * not caught up since); a new partition's log lacks nothing. NULL:
	 * every one may. */
	bool (*ineligible)(void *arg, const char *topic, int32_t partition);
	void *eligible_arg;
	/* Told after each move of replica_mgr_states_gen, with no lock of
	 * the manager held. May be NULL. */
	void (*states_changed)(void *arg);
	void *states_changed_arg;
	/* The shrink tick runs every replica_lag_time_max_ms / 2 on a thread
	 * of its own; false: the owner calls replica_mgr_tick (tests). */
	bool tick_thread;
	/* The log directory (log.dirs), named in the failure's log line. */
	const char *log_dir;
	/* Tells the controller that the log directory failed with err (the
	 * notice in /log_dir_event_notification): 0 once written, else
	 * -errno and the tick calls it again. On the tick's thread, no lock
	 * of the manager held. NULL: nobody to tell (tests, one node). */
	int (*log_dir_failed)(void *arg, int err);
	void *log_dir_arg;
};

struct replica_mgr;

/* -EINVAL (no log provider or endpoint function), -ENOMEM, -errno of
 * pthread_create. */
int replica_mgr_new(const struct replica_mgr_config *cfg, struct replica_mgr **out);
/* Stops the tick and every fetcher, makes every replica NONE and closes
 * the logs (the listener serving them must be stopped first). NULL ok. */
void replica_mgr_free(struct replica_mgr *rm);
/* The Fetch handlers' purgatory to wake when a log moves (may be NULL). */
void replica_mgr_set_fetch_serve(struct replica_mgr *rm, struct fetch_serve *fs);
/* After a local append to a partition this broker leads (no lock held):
 * answers the follower fetches it makes ready on this thread
 * (fetch_serve_kick). */
void replica_mgr_kick_fetches(struct replica_mgr *rm);
/* This broker's registration epoch (czxid); -1 unknown (no check). */
void replica_mgr_set_broker_epoch(struct replica_mgr *rm, int64_t broker_epoch);

/* LeaderAndIsr. errors[i] (n of them; may be NULL) gets each state's
 * result: 0, -ESTALE (older leader epoch), -EPERM (not eligible as
 * leader), -ENOENT (this broker is not a replica: ignored), -ENXIO (the
 * log directory failed: KAFKA_STORAGE_ERROR), a log error. Returns 0
 * or -ESTALE or -EREMCHG for the whole request (rule 1). */
int replica_mgr_leader_and_isr(struct replica_mgr *rm, int32_t controller_epoch,
			       int64_t broker_epoch,
			       const struct controller_partition_state *states, int n, int *errors);
/* A broker that shuts down (before its controlled shutdown): no partition
 * is followed from now on, those followed stop fetching, and a
 * LeaderAndIsr that makes this broker a follower (the controller moving
 * its leaderships away) starts no fetch. A stopping broker that fetched
 * would be taken back into the new leader's ISR (it is caught up) just
 * before it goes, and the leader's acks=all writes would wait for it
 * until its session closed. Any thread. */
void replica_mgr_stop_following(struct replica_mgr *rm);
/* StopReplica: stops following; a partition with delete_partition loses
 * its log, and its metadata too when its leader epoch is
 * CONTROLLER_EPOCH_DURING_DELETE (the topic deleted; a replica moved away
 * keeps it: requests of the partition here are then
 * NOT_LEADER_OR_FOLLOWER, not UNKNOWN_TOPIC_OR_PARTITION). errors as
 * above (-ENOENT: no replica here, not an error for a delete). 0, -ESTALE
 * or -EREMCHG (rule 1). */
int replica_mgr_stop_replica(struct replica_mgr *rm, int32_t controller_epoch, int64_t broker_epoch,
			     const struct controller_stop_replica *parts, int n, int *errors);
/* The topic left /brokers/topics without this broker's StopReplica
 * (another client deleted its znodes, or the controller's request did
 * not arrive): every local replica of it stops as a StopReplica with
 * delete would stop it, and its metadata goes. Returns the replicas
 * stopped. Any thread but the controller channel's. */
int replica_mgr_drop_topic(struct replica_mgr *rm, const char *topic);
/* A replica of (topic, partition) here that the topic's assignment no
 * longer names, in a leader epoch below leader_epoch (the partition's
 * state in ZooKeeper): the StopReplica of its move never reached it
 * (Kafka's stray partition: this broker's session ended meanwhile). It
 * stops as a StopReplica with delete would stop it; its metadata stays.
 * A replica of the current epoch is left alone (the assignment read may
 * be older than the LeaderAndIsr that made it). 1 stopped, 0 not. Any
 * thread but the controller channel's. */
int replica_mgr_drop_stray(struct replica_mgr *rm, const char *topic, int32_t partition,
			   int32_t leader_epoch);
/* UpdateMetadata: the live brokers and partition states replace or join
 * what is known. 0, -ESTALE or -EREMCHG (rule 1), -ENOMEM. */
int replica_mgr_update_metadata(struct replica_mgr *rm, int32_t controller_epoch,
				int64_t broker_epoch, const int32_t *live, int n_live,
				const struct controller_partition_state *states, int n);

/* The local replica of (topic, partition) with a reference taken
 * (partition_unref it), or NULL. The Fetch handler's lookup and the
 * produce path. */
struct partition *replica_mgr_get(struct replica_mgr *rm, const char *topic, int32_t partition);
/* The topic's min.insync.replicas changed (> 0): every local replica of
 * it counts with the new one (partition_set_min_isr). Any thread. */
void replica_mgr_set_min_isr(struct replica_mgr *rm, const char *topic,
			     int32_t min_insync_replicas);
/* fetch_serve_lookup_fn over the manager (arg: the manager). */
struct partition *replica_mgr_lookup(void *arg, struct kstr topic, int32_t partition);
/* fetch_serve_known_fn over rm (arg): whether the controller's metadata
 * (UpdateMetadata, LeaderAndIsr) names the partition, hosted here or not. */
bool replica_mgr_known(void *arg, struct kstr topic, int32_t partition);

/* A count that moves after every change to the local replicas that can
 * change whether one serves its mount's reads (cluster_repl_replica_reads:
 * in the table or not, its role, leader and ISR): each LeaderAndIsr,
 * UpdateMetadata (a follower learns its ISR there), StopReplica, topic
 * dropped, log directory failed, and an ISR write that took a newer
 * state. It moves only once the change is visible: a thread that reads
 * the new count (acquire) and then looks at a replica sees the new state.
 * Never on an hw move. Any thread, no lock. */
uint64_t replica_mgr_states_gen(struct replica_mgr *rm);

/* ---- the cluster's metadata (UpdateMetadata) ---- */

/* The topics known, sorted (each malloc'd, then the array: free with
 * replica_mgr_names_free). Returns the count or -ENOMEM. */
int replica_mgr_topics(struct replica_mgr *rm, char ***names);
void replica_mgr_names_free(char **names, int n);
/* The number of partitions of topic known (indexes 0..n-1 as the
 * controller sent them), 0 when none. */
int replica_mgr_partitions(struct replica_mgr *rm, const char *topic);
/* The state of a partition as last told (leader -1: offline). -ENOENT. */
int replica_mgr_partition_meta(struct replica_mgr *rm, const char *topic, int32_t partition,
			       struct partition_state *st);
/* Live brokers as last told (up to max ids into out), the count. */
int replica_mgr_live_brokers(struct replica_mgr *rm, int32_t *out, int max);

/* A write of the log directory failed with err (any thread, no lock of
 * the manager or of a partition held): a replica's log write, flush,
 * clean or retention of topic-partition (the produce path after a
 * leader's append, the partitions' storage listener after a follower's,
 * the broker's fsync, scheduler and cleaner), or with partition < 0 the
 * directory's own file named by topic (a checkpoint such as
 * "replication-offset-checkpoint"). A storage failure
 * (partition_storage_failure) takes the log directory offline, once
 * (step a of replica_mgr.c; logged) and returns -ENXIO: the write's
 * records go to the partition's next leader, or its writer gets
 * KAFKA_STORAGE_ERROR. Any other err is returned as it is. */
int replica_mgr_storage_failed(struct replica_mgr *rm, const char *topic, int32_t partition,
			       int err);
/* 0 while the log directory is online, else the -errno that failed it. */
int replica_mgr_log_dir_failure(struct replica_mgr *rm);

/* The periodic work: every leader's partition_maybe_shrink_isr, the
 * closing of stopped logs no one holds any more (rule 4), and after a
 * log directory failure its steps b (replica_mgr.c). */
void replica_mgr_tick(struct replica_mgr *rm, int64_t now_ms);

struct replica_mgr_stats {
	int partitions; /* local replicas */
	int leaders;
	int followers;
	int fetchers;           /* fetcher threads (one per leader broker) */
	int stopped;            /* stopped replicas waiting to be closed */
	int64_t isr_writes;     /* ISR changes written */
	int64_t fetch_requests; /* Fetch requests the followers' fetchers sent */
	int64_t isr_stale;      /* ISR writes that found the version moved */
	/* Kafka's replica metrics, the leader's view: partitions led here
	 * whose ISR is smaller than their replicas (UnderReplicatedPartitions),
	 * ISR changes of partitions led here that removed or added members,
	 * written by this leader or by the controller (a dead broker taken
	 * out) (IsrShrinksPerSec, IsrExpandsPerSec), and the largest LEO - follower LEO over the
	 * followers of those partitions, in records (a follower not heard
	 * from since this leadership began counts from the log start). */
	int under_replicated;
	int64_t isr_shrinks;
	int64_t isr_expands;
	int64_t max_lag;
	/* LeaderAndIsr transitions of a local replica into or out of
	 * leadership since the broker started. */
	int64_t leadership_changes;
	/* Record bytes the fetchers appended (the follower's side of
	 * replication, Kafka's ReplicaFetcherManager BytesPerSec). */
	int64_t fetch_bytes_in;
	int32_t controller_epoch; /* the newest seen, -1 none yet */
	int log_dir_err;          /* replica_mgr_log_dir_failure */
};
void replica_mgr_get_stats(struct replica_mgr *rm, struct replica_mgr_stats *st);
/* Whether a controller's request (LeaderAndIsr, StopReplica,
 * UpdateMetadata) has reached this broker since it started. */
bool replica_mgr_heard_controller(struct replica_mgr *rm);

#endif
