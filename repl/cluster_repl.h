/*
 * cluster_repl.h — private to repl/: replication wired into a ZooKeeper
 * broker (cluster_repl.c). cluster.c owns one and calls, in this order:
 *   cluster_repl_new          before the listener is built
 *   cluster_repl_register     before net_server_start: Fetch,
 *                             OffsetForLeaderEpoch, LeaderAndIsr,
 *                             UpdateMetadata, StopReplica handlers
 *   cluster_repl_set_zk       once the session is open, and with every new
 *                             session (moves the controller to it)
 *   cluster_repl_set_broker_epoch  after every registration
 *   cluster_repl_start_controller  once registered
 *   cluster_repl_stop         before net_server_stop
 *   cluster_repl_close_logs   after net_server_stop, before the engine shuts
 *                             down (no log is held after it)
 *   cluster_repl_free         last
 */
#ifndef MQFS_REPL_CLUSTER_REPL_H
#define MQFS_REPL_CLUSTER_REPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"
#include "repl/cluster.h"
#include "repl/net.h"
#include "repl/zkc.h"
#include "repl/zkdata.h"

struct broker_config;
struct metadata_cache;
struct cluster_repl;

/* What the broker hands the cluster of its local store. */
struct cluster_local {
	struct logmgr *m; /* the broker's: outlives the cluster */
	bool unclean;     /* opened without the clean-shutdown marker */
	struct cluster_topic_hooks topics;
	/* The broker's replication throttles (throttle.h; outlive the
	 * cluster): the leader's on Fetch, the follower's in the fetchers,
	 * their rates from the dynamic broker config. NULL: none. */
	struct repl_throttle *throttle;
};

int cluster_repl_new(const struct broker_config *cfg, const struct cluster_local *local,
		     struct metadata_cache *mc, struct cluster_repl **out);
int cluster_repl_register(struct cluster_repl *cr, struct net_server *srv);
/* The client quotas consumers' Fetches record into (fetch_serve.h),
 * before cluster_repl_register. */
struct client_quotas;
void cluster_repl_set_client_quotas(struct cluster_repl *cr, struct client_quotas *q);
/* The session's handle (NULL before closing it): the ISR writes use it,
 * and a started controller moves to it. Waits for the calls on the old
 * handle to end. Not from a zkc callback. */
void cluster_repl_set_zk(struct cluster_repl *cr, struct zkc *zk);
/* Forwards a session event to the controller (the completion thread). */
void cluster_repl_session_event(struct cluster_repl *cr, enum zkc_session ev);
/* A topic's overrides changed in ZooKeeper: told to the controller
 * (controller_topic_config_changed). Any thread. */
void cluster_repl_topic_config_changed(struct cluster_repl *cr);
/* The effective unclean.leader.election.enable of this broker (its
 * dynamic value, the dynamic default, or the file's): the controller's
 * for topics without an override, once it runs or from now on
 * (controller_set_unclean_default). Any thread; cr may be NULL. */
void cluster_repl_unclean_default(struct cluster_repl *cr, bool on);
void cluster_repl_set_broker_epoch(struct cluster_repl *cr, int64_t epoch);
/* cluster_broker_config_alter's write (cluster.h), on the session's
 * handle: read, merge, write at the version read (5 tries). */
struct zk_config;
int cluster_repl_set_broker_config(struct cluster_repl *cr, const char *name,
				   const struct zk_config *set, const char *const *del, int n_del,
				   bool replace);
int cluster_repl_start_controller(struct cluster_repl *cr);
/* The controller's channel to the other brokers over this broker's
 * connections (what cluster_repl_start_controller hands the controller's
 * queue): each call sends one request to a broker, on its sender thread. */
struct controller_channel;
void cluster_repl_channel(struct cluster_repl *cr, struct controller_channel *ch);
/* Stops the controller (moving this broker's leaderships away first when
 * it is the controller and controlled.shutdown.enable) and the purgatory. */
void cluster_repl_stop(struct cluster_repl *cr);
/* Stops the fetchers and the ISR tick, releases every local log. */
void cluster_repl_close_logs(struct cluster_repl *cr);
/* The storage error that took the log directory offline, 0 while it is
 * online; after cluster_repl_close_logs too (what it was then). */
int cluster_repl_log_dir_failure(struct cluster_repl *cr);
void cluster_repl_free(struct cluster_repl *cr);

/* Topic creation on any broker, as Kafka's AdminZkClient: the assignment
 * over the live brokers (replication_factor < 0: the broker's default),
 * then waits up to timeout_ms until this broker's metadata shows every
 * partition with a leader. -EEXIST, -EINVAL, -ETIMEDOUT, -ESHUTDOWN (the
 * wait ended by this broker's stop), ZooKeeper's. The topic's id goes
 * into topic_id (ZK_UUID_LEN + 1 bytes; may be NULL) once the topic is
 * in ZooKeeper, also when the wait ends early. */
int cluster_repl_create_topic(struct cluster_repl *cr, const char *topic, int n_partitions,
			      int replication_factor, const struct zk_config *config,
			      int64_t timeout_ms, char *topic_id);
/* Its first step alone: the topic written to ZooKeeper, the controller
 * left to elect its leaders (Kafka's CreateTopics with timeout_ms 0, and
 * the auto-creation of an internal topic, which answers at once). */
int cluster_repl_request_topic(struct cluster_repl *cr, const char *topic, int n_partitions,
			       int replication_factor, const struct zk_config *config,
			       char *topic_id);

/* Runs fn with the ZooKeeper handle under the lock that every worker's
 * ZooKeeper call takes (a reconnection replaces the handle); -ENOTCONN
 * when there is none, else fn's return. */
int cluster_repl_with_zk(struct cluster_repl *cr, int (*fn)(struct zkc *zk, void *arg), void *arg);
/* Grows the topic to n_partitions (controller_add_partitions) and waits
 * up to timeout_ms until this broker's metadata has a leader for each.
 * -EINVAL, -ENOENT, -ETIMEDOUT, ZooKeeper's errors. */
int cluster_repl_add_partitions(struct cluster_repl *cr, const char *topic, int n_partitions,
				int64_t timeout_ms);
/* Replaces the topic settings among the overrides in /config/topics/<t>
 * with overrides (keeping its other keys) and writes the change
 * notification. lines: the writer's key.separator and line.format (both,
 * rendered). With lines_change (the write changes them) they replace the
 * znode's, unless the znode is ZK_LINES_FIXED with others: -EBUSY,
 * nothing written. Without, the znode keeps its own (a writer that has
 * not seen the latest change yet never undoes it), or takes the writer's
 * where it names none. -ENOTCONN, ZooKeeper's errors. */
int cluster_repl_set_topic_config(struct cluster_repl *cr, const char *topic,
				  const struct zk_config *overrides, const struct zk_config *lines,
				  bool lines_change);
/* Sets only owner's keys (a topic's owner and mode), the rest kept, and
 * writes the notification. As above. */
int cluster_repl_set_topic_owner(struct cluster_repl *cr, const char *topic,
				 const struct zk_config *owner);
/* Fixes the topic's line settings in /config/topics/<t> before a
 * replica's first records: when the znode is ZK_LINES_FIXED already,
 * *out takes its settings and nothing is written; else it is written
 * (a conditional write, merged again over a concurrent change) with
 * ZK_LINES_FIXED and the line settings it names, or ours (both
 * rendered) where it names none or where ours_win (this broker's replica
 * holds records under them already), and *out takes those. The decision
 * is the znode's: a .config change of them (cluster_repl_set_topic_config)
 * and this fix are ordered by the znode's version. *out cleared first;
 * the caller frees it. -ENOTCONN, ZooKeeper's errors. */
int cluster_repl_topic_lines_fix(struct cluster_repl *cr, const char *topic,
				 const struct zk_config *ours, bool ours_win,
				 struct zk_config *out);
/* Asks the controller to delete the topic (asked twice: 0). -ENOENT. */
int cluster_repl_delete_topic(struct cluster_repl *cr, const char *topic);
/* Waits, up to timeout_ms, until the controller has deleted the topic
 * asked for (its znodes gone): 0, -ETIMEDOUT, or -ESHUTDOWN once this
 * broker stops (the deletion goes on either way). */
int cluster_repl_delete_topic_wait(struct cluster_repl *cr, const char *topic, int64_t timeout_ms);
/* The topic is gone from /brokers/topics: its local replicas stop
 * (replica_mgr_drop_topic). */
void cluster_repl_topic_gone(struct cluster_repl *cr, const char *topic);

/* The partitions this broker's registration names as not eligible as
 * leader (ineligible.h): a malloc'd copy (ineligible_copy_free), the count
 * or -ENOMEM. */
int cluster_repl_ineligible(struct cluster_repl *cr, struct zk_tp **out);
/* fn(arg) is called (any thread, no lock held; it must not block) when
 * that set shrank: the registration is to be rewritten. Before the
 * replicas start. */
void cluster_repl_set_ineligible_listener(struct cluster_repl *cr, void (*fn)(void *arg),
					  void *arg);

/* fn(arg) is called (the handler's thread, no lock held; it must not
 * block) after each LeaderAndIsr and UpdateMetadata the replica manager
 * applied: the partitions' leaders may have moved. Before the listener
 * starts. */
void cluster_repl_set_leaders_listener(struct cluster_repl *cr, void (*fn)(void *arg), void *arg);
/* fn(arg, topic, partition) is called (the handler's thread, no lock
 * held; it must not block) for each partition state of a LeaderAndIsr or
 * UpdateMetadata applied that names this broker among its replicas: the
 * replica may have left the ISR or rejoined it. Before the listener
 * starts. */
void cluster_repl_set_replica_state_listener(struct cluster_repl *cr,
					     void (*fn)(void *arg, const char *topic,
							int32_t partition),
					     void *arg);

/* MNT/.state and MNT/.metrics lines of replication. */
void cluster_repl_state_text(struct cluster_repl *cr, FILE *f);
void cluster_repl_metrics_text(struct cluster_repl *cr, FILE *f);

/* The replica manager (replica_mgr.h). */
struct replica_mgr *cluster_repl_replicas(struct cluster_repl *cr);

/* Before an append to topic-partition: 0 and the leader epoch to stamp;
 * -EREMOTE this broker does not lead it; -ENXIO its log directory
 * failed (the replica is offline: the partition's next leader takes the
 * write); -EAGAIN (acks -1) fewer in-sync replicas than
 * min_insync_replicas (the topic's; <= 0: the broker's). Nothing is
 * appended on an error. */
int cluster_repl_append_check(struct cluster_repl *cr, const char *topic, int partition, int acks,
			      int32_t min_insync_replicas, int32_t *epoch);
/* After an acks=all write to topic-partition was committed: 0 when the
 * maximal ISR (an addition being written counts) has min_insync_replicas
 * members (<= 0: the broker's), -EAGAIN when not (Kafka's
 * checkEnoughReplicasReachOffset: NOT_ENOUGH_REPLICAS_AFTER_APPEND),
 * -EREMOTE not the leader, -ENXIO offline. */
int cluster_repl_commit_check(struct cluster_repl *cr, const char *topic, int partition,
			      int32_t min_insync_replicas);
/* After an append: the leader's hw may move (a partition whose ISR is
 * this broker alone commits at once). */
void cluster_repl_appended(struct cluster_repl *cr, const char *topic, int partition);
/* Whether this broker holds an online follower replica of
 * topic-partition (its log's producers are its own to describe). */
bool cluster_repl_follows(struct cluster_repl *cr, const char *topic, int partition);
/* What holds a leader's hw, for the log line of a commit that timed out:
 * "; ISR 1,2,3; broker 2 at 27, last fetch 120 ms ago; ..." (each
 * follower's log end and its last fetch), or "" when this broker holds
 * no leader replica of it. */
void cluster_repl_commit_lag(struct cluster_repl *cr, const char *topic, int partition, char *buf,
			     size_t len);
/* A leader's append (or its flush) of topic-partition failed with err:
 * replica_mgr_storage_failed (-ENXIO when it took the log directory
 * offline, else err). */
int cluster_repl_storage_failed(struct cluster_repl *cr, const char *topic, int partition, int err);
/* The .state cells of a partition: leader, leader epoch, replicas, ISR
 * ("-" and "[]" when unknown, -ENOENT). */
/* Whether the partition's log is open here (a replica of it that found
 * no room for its files has none yet). */
bool cluster_repl_hosts(struct cluster_repl *cr, const char *topic, int partition);
/* Whether this broker's replica of the partition serves the reads of
 * its mount: its log is here and it is not a follower out of the ISR
 * (partition_out_of_isr). *hw: that replica's high watermark (INT64_MAX
 * before its first LeaderAndIsr), -1 when it does not serve. */
bool cluster_repl_replica_reads(struct cluster_repl *cr, const char *topic, int partition,
				int64_t *hw);
/* The partition's leader, leader epoch, replicas and ISR as this broker
 * knows them (its own replica's newest state, else the metadata from
 * ZooKeeper): 0, or -ENOENT when it knows no such partition. */
/* replica_mgr_heard_controller of its replica manager (cr NULL: false). */
bool cluster_repl_heard_controller(struct cluster_repl *cr);
/* Whether cr's controller holds the office now (cr NULL, or its
 * controller not started: false). */
bool cluster_repl_is_controller(struct cluster_repl *cr);
int cluster_repl_partition_state(struct cluster_repl *cr, const char *topic, int partition,
				 struct partition_state *st);
int cluster_repl_partition_cells(struct cluster_repl *cr, const char *topic, int partition,
				 char leader[24], char epoch[24], char replicas[24], char isr[24]);
/* On the leader, one line per follower of the partition:
 *   replica <p> <id>: leo <n> lag <n> last_caught_up_ms_ago <ms>
 * on a follower not eligible as leader (partition.h, invariant 9):
 *   replica <p> <id>: not eligible as leader (...) */
void cluster_repl_partition_followers(struct cluster_repl *cr, const char *topic, int partition,
				      FILE *f);

struct controller_election;
struct controller_reassignment;
struct controller_moving;
/* ElectLeaders on this broker's controller (controller_elect_leaders),
 * then waits (up to a few seconds) until the brokers were told.
 * -EAGAIN: this broker is not the controller. */
/* The controller's replica moves (controller.h): -EAGAIN when this
 * broker is not the controller. Alter returns once the brokers were told
 * (as cluster_repl_elect_leaders). */
int cluster_repl_alter_reassignments(struct cluster_repl *cr, struct controller_reassignment *parts,
				     int n);
int cluster_repl_list_reassignments(struct cluster_repl *cr, struct controller_moving **out);
int cluster_repl_elect_leaders(struct cluster_repl *cr, bool unclean,
			       struct controller_election *parts, int n);

/* ---- for forwarding a write to the leader (forward.c) ---- */
/* The leader of topic-partition as this broker knows it (-1: none).
 * -ENOENT an unknown partition. */
int cluster_repl_leader_of(struct cluster_repl *cr, const char *topic, int partition,
			   int32_t *leader);
/* Broker id's endpoint on the inter-broker listener. -ENOENT, ZooKeeper's. */
int cluster_repl_endpoint(struct cluster_repl *cr, int32_t id, char host[NET_MAX_HOST + 1],
			  int *port);
/* A connection to broker id's inter-broker listener, authenticated as
 * the brokers' own user when there is one: for forwarded writes and for
 * the mount members of groups another broker coordinates. -ENOENT (no
 * such broker), net_client_connect's and net_client_sasl's errors. */
int cluster_repl_connect(struct cluster_repl *cr, int32_t id, int64_t timeout_ms,
			 struct net_client **out);
/* The brokers' own SCRAM user, or NULL (PLAINTEXT between brokers), and
 * the mechanism they log in to each other with. */
void cluster_repl_credentials(struct cluster_repl *cr, enum sasl_mech *mech, const char **user,
			      const char **password);
/* A new block of producer ids (producer_ids.h) under the session's lock. */
int cluster_repl_producer_id_block(struct cluster_repl *cr, int64_t *first, int64_t *last);

#endif
