/*
 * cluster.h — private to repl/: the broker's cluster-mode lifecycle
 * (cluster.c). broker_open calls cluster_open last when zookeeper.connect
 * or listeners is set; broker_close calls cluster_stop first (no request
 * is served while the broker shuts down) and cluster_close last (the
 * registration goes once the local shutdown is done).
 */
#ifndef MQFS_REPL_CLUSTER_H
#define MQFS_REPL_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "repl/sasl.h"

struct cluster_config;

struct broker;
struct broker_config;
struct cluster;

/* The data directory against the broker started on it, before anything
 * in it is changed: one that joined a cluster (DATA/meta/zk-cluster.id)
 * started without zookeeper.connect, or another cluster broker's
 * (DATA/meta/broker.id, written at a broker's first start): -EMEDIUMTYPE,
 * logged with the reason; -EBADMSG a broker.id file that does not parse;
 * a read's or write's -errno; else 0. A directory that joined no cluster
 * yet is checked once ZooKeeper answers (the start refuses a single
 * node's logs, those ZooKeeper does not list as this broker's replicas,
 * with -EMEDIUMTYPE too). */
int cluster_data_dir_check(const struct broker_config *cfg);
/* An id file DATA/meta/<name> (zk-cluster.id, cluster.id): the id and a
 * newline. 0 with id, -ENOENT (none), -EBADMSG (not exactly an id, maybe
 * with its newline), or the read's -errno. id: ZK_UUID_LEN + 1 bytes. */
int cluster_id_file_read(const char *data_dir, const char *name, char *id);

/* With zookeeper.connect: connects, ensures Kafka's paths, reads (or
 * creates) the cluster id, starts the listener, registers
 * /brokers/ids/<broker.id> with the advertised endpoints, reads the
 * brokers, the controller and the SCRAM users (watching them), and starts
 * the thread that keeps them current and re-registers after a session
 * expiry. Without it, only the listener (the SCRAM user is the broker's
 * own, from its JAAS setting). Errors, each logged: -EEXIST broker.id
 * taken by a live broker, -ETIMEDOUT ZooKeeper did not answer within
 * zookeeper.connection.timeout.ms, the listener's -EADDRINUSE, ... */
struct cluster_local;
int cluster_open(const struct broker_config *cfg, struct broker *b,
		 const struct cluster_local *local, struct cluster **out);
/* Stops the controller, the listener and the thread, and releases every
 * log the replicas held. Idempotent; NULL is fine. */
void cluster_stop(struct cluster *c);
/* Stops, closes the ZooKeeper session (its registration goes at once),
 * frees. NULL is fine. */
void cluster_close(struct cluster *c);
/* MNT/.state lines of the cluster (zookeeper mode): broker.epoch,
 * zookeeper.session, then metadata_cache_render's. */
void cluster_state_text(struct cluster *c, FILE *f);
/* MNT/.metrics: the listener's and the ZooKeeper session's metrics. */
void cluster_metrics_text(struct cluster *c, FILE *f);
/* True when the broker is in a ZooKeeper cluster (not a single node with a
 * listener only). */
int cluster_zk_mode(const struct cluster *c);
/* The forwarder of writes to other brokers' partitions (forward.h);
 * NULL on a single node. */
struct forwarder;
struct forwarder *cluster_forwarder(struct cluster *c);
/* The read copies of partitions without a replica here (observer.h);
 * NULL on a single node. */
struct observers;
struct observers *cluster_observers(struct cluster *c);
/* The broker's producer ids (producer_ids.h): InitProducerId's and the
 * forwarder's. */
struct producer_ids;
struct producer_ids *cluster_producer_ids(struct cluster *c);
/* The client quotas (client_quota.h) Produce and Fetch record into; on
 * a single node an empty table (no quota applies). NULL for c NULL. */
struct client_quotas;
struct client_quotas *cluster_client_quotas(struct cluster *c);
/* The ACL cache (acl.h) the listener's requests are authorized by; NULL
 * without authorizer.class.name (every request allowed) or c NULL. */
struct acl_store;
struct acl_store *cluster_acls(struct cluster *c);
/* The delegation token cache (dtoken.h), NULL when tokens are disabled
 * (no delegation.token.secret.key) or on a single node. */
struct dtoken_store;
struct dtoken_store *cluster_tokens(struct cluster *c);

/* The cluster id (ZooKeeper's /cluster/id; one node: DATA/meta/cluster.id)
 * into buf, at least ZK_UUID_LEN + 1 bytes. */
void cluster_id(struct cluster *c, char *buf, size_t cap);
/* The controller's broker id (-1 while none); one node: itself. */
int32_t cluster_controller_id(struct cluster *c);
/* The brokers, for Metadata (ZooKeeper mode). */
struct metadata_cache *cluster_metadata(struct cluster *c);
const struct broker_config *cluster_cfg(const struct cluster *c);
/* The port listener i is bound to (net_server_port). */
int cluster_listener_port(const struct cluster *c, int i);

/* ---- replicated topics (zookeeper mode; cluster_repl.c) ----
 * A topic's owner and mode live in its config znode /config/topics/<t>
 * under mqfs's own keys (Kafka's tools keep unknown keys):
 *   mqfs.owner.uid, mqfs.owner.gid   decimal
 *   mqfs.mode                        octal permission bits, "0755"
 * Topics whose names start with "__" stay local to each broker, except
 * __consumer_offsets, replicated like any topic (offsets_topic.c). */
static inline bool cluster_topic_local_only(const char *topic)
{
	return strncmp(topic, "__", 2) == 0 && strcmp(topic, "__consumer_offsets") != 0;
}

/* The broker's side of the topics the cluster thread finds in
 * /brokers/topics (every broker watches it): appeared for each topic
 * there, with local[p] true for the partitions this broker is a replica
 * of (the broker makes its local topic with logs for those only, or opens
 * those it lacks and returns -EEXIST when it has the topic), then
 * retain with every name there (the broker deletes its replicated topics
 * not among them, but those that still_there(zarg, name) finds in
 * ZooKeeper now: the list was read before the topics were processed, and
 * a topic this broker made meanwhile, znode first, is not in it). Called
 * on the cluster thread. */
struct zk_config;
struct cluster_topic_hooks {
	/* A topic of the cluster, made here (or grown) with its overrides
	 * in /config/topics/<t> (zc; NULL: none), so that no replica of it
	 * takes records under other settings; topic_id its id as read ("":
	 * none). -ESTALE: that topic was removed here since the read (not
	 * made; the deletion of its znodes takes the name from the
	 * listing). */
	int (*appeared)(void *arg, const char *topic, int n_partitions, const bool *local,
			uid_t uid, gid_t gid, mode_t mode, const struct zk_config *zc,
			const char *topic_id);
	void (*retain)(void *arg, char **names, int n,
		       bool (*still_there)(void *zarg, const char *topic), void *zarg);
	/* The topic's overrides in /config/topics/<t> (none: an empty zc),
	 * after its appearance and after each notification
	 * /config/changes/config_change_<seq> naming "topics/<t>". */
	int (*config)(void *arg, const char *topic, const struct zk_config *zc);
	/* The dynamic broker settings (/config/brokers/<broker.id>: self,
	 * <default>: def; empty when none), after each read of them: at
	 * the start and after each /config/changes notification. NULL:
	 * none. It writes the cluster settings in effect into *eff (the
	 * dynamic ones over the file's, or those kept when the new ones
	 * were refused): the cluster applies max.connections(.per.ip) to
	 * its listener and unclean.leader.election.enable to its
	 * controller. */
	int (*broker_defaults)(void *arg, const struct zk_config *self, const struct zk_config *def,
			       struct cluster_config *eff);
	/* Before a topic of the cluster with that id (Kafka's topic id, not
	 * "") is made or opened here (the cluster thread, partition -1; a
	 * LeaderAndIsr, the partition): removes the local topic when a log
	 * of it belongs to another id (partition.metadata: a topic of the
	 * name deleted and made again while this broker missed it), and the
	 * partition's log when the topic here does not hold it and it
	 * belongs to another id. 1 when it removed something, else 0;
	 * -ESTALE (partition -1) when the topic of that id was removed here
	 * (an rmdir): the cluster thread read it before its deletion, and
	 * does not make it here again. */
	int (*incarnation)(void *arg, const char *topic, int32_t partition, const char *topic_id);
	/* Room for a new replica log's files (the descriptor reserve, see
	 * "Open files" in README.md): 0, then fd_done once they are open or
	 * failed; -EMFILE refused (logged): the LeaderAndIsr answers
	 * KAFKA_STORAGE_ERROR for it. NULL: no reserve. */
	int (*fd_take)(void *arg, const char *topic, int n_partitions);
	void (*fd_done)(void *arg, int n_partitions);
	/* A LeaderAndIsr made this replica's log here (after fd_take): the
	 * broker attaches it to its topic when it lacks it (a topic made
	 * here without room for its replicas' logs). NULL: none. */
	void (*hosted)(void *arg, const char *topic, int32_t partition);
	/* A StopReplica with delete removed this replica (its topic deleted,
	 * or its replicas moved to other brokers): the broker has the
	 * cluster thread read its topic again (cluster_topic_reread), which
	 * lets go of a moved replica's log (moved_away). NULL: none. */
	void (*replica_deleted)(void *arg, const char *topic, int32_t partition);
	/* The controller's StopReplica of a topic deletion (its partitions'
	 * leader epoch CONTROLLER_EPOCH_DURING_DELETE, Kafka's
	 * EpochDuringDelete) stopped this broker's replicas of topic, on the
	 * listener's worker, no lock held, before the answer goes: the
	 * broker removes its topic now, so that once the controller is done
	 * (it waits for these answers, then deletes the znodes and an rmdir
	 * or DeleteTopics returns) no replica's mount shows the topic, and a
	 * mkdir of the name succeeds on any of them. Brokers without a
	 * replica learn it from /brokers/topics (retain). NULL: none. */
	void (*deleted)(void *arg, const char *topic);
	/* The cluster thread: the topic's assignment no longer names this
	 * broker for partition, whose log is still here and no replica of
	 * the replica manager's: the broker's topic lets go of the log and
	 * deletes it; the mount reads the partition from its read copy
	 * (observer.h), as on any broker without a replica. NULL: none. */
	void (*moved_away)(void *arg, const char *topic, int32_t partition);
	/* Before a local log of topic (a replica's, or an observer's copy)
	 * appends fetched records: the broker fixes the topic's key.separator
	 * and line.format (cluster_topic_lines_fix) and gives them to the log
	 * while it has no records. -errno: not now (the fetch is tried
	 * again); -EAGAIN with what the records wait for in wait (cap
	 * bytes), for the fetcher's log line. NULL: none. */
	int (*lines_fix)(void *arg, const char *topic, void *log, char *wait, size_t cap);
	/* After a change to the local replicas' states (the replica
	 * manager's replica_mgr_states_gen moved), on the thread that made
	 * it, no lock of the manager held. NULL: none. */
	void (*states_changed)(void *arg);
	/* After a follower's truncation cut records of a replica (or
	 * emptied its log to start at the leader's start), before the
	 * leader's records are fetched at those offsets, on the fetcher's
	 * thread, no lock held: the broker writes its checkpoints (the
	 * cleaner's first dirty offset and the recovery point the cut
	 * lowered), so that a crash then does not start again from the old
	 * ones, and rebuilds the replica's producer state from its log
	 * (producer_state.h). NULL: none. */
	void (*cut)(void *arg, const char *topic, int32_t partition);
	/* After a follower replica appended the leader's batches
	 * records[0..len) to its log (whole batches), on the fetcher's
	 * thread, no lock held: the broker keeps the partition's producer
	 * state from their headers (producer_state.h). NULL: none. */
	void (*appended)(void *arg, const char *topic, int32_t partition, void *log,
			 const uint8_t *records, size_t len);
	/* The topic's min.insync.replicas as this broker has it, <= 0 when
	 * it does not know the topic (yet): a replica opened by the
	 * controller's request counts with it. NULL: the broker's setting. */
	int32_t (*min_isr)(void *arg, const char *topic);
	void *arg;
};

/* Has the cluster thread read topic's assignment again (soon, not in
 * this call), as if its znode had changed. Any thread. */
void cluster_topic_reread(struct cluster *c, const char *topic);

/* True when topic is replicated through ZooKeeper. */
bool cluster_replicated(const struct cluster *c, const char *topic);
/* Writes the topic's assignment (n_partitions partitions,
 * replication_factor replicas, < 0: default.replication.factor) and its
 * config (overrides, may be NULL, and the owner keys) to ZooKeeper and
 * waits up to timeout_ms until this broker's metadata has a leader for
 * every partition. -EEXIST, -EINVAL (more replicas than live brokers),
 * -ETIMEDOUT, ZooKeeper's errors. */
/* Has the cluster thread read /brokers/topics again (soon, not in this
 * call): a topic that could not be made whole here is tried again. Any
 * thread. */
void cluster_topics_recheck(struct cluster *c);
/* The topic made in the cluster (cluster_repl_create_topic, whose topic_id
 * it passes on). */
int cluster_topic_create(struct cluster *c, const char *topic, int n_partitions,
			 int replication_factor, const struct zk_config *overrides, uid_t uid,
			 gid_t gid, mode_t mode, int64_t timeout_ms, char *topic_id);
/* The same written to ZooKeeper only (cluster_repl_request_topic): the
 * cluster thread makes its replicas here when the controller's states
 * arrive, as for a topic another broker made. */
int cluster_topic_request(struct cluster *c, const char *topic, int n_partitions,
			  int replication_factor, const struct zk_config *overrides, uid_t uid,
			  gid_t gid, mode_t mode);
/* Runs fn with the cluster's ZooKeeper handle (cluster_repl_with_zk):
 * -EOPNOTSUPP on a single node, -ENOTCONN without a session. Any
 * thread but the cluster's own. */
struct zkc;
int cluster_with_zk(struct cluster *c, int (*fn)(struct zkc *zk, void *arg), void *arg);
/* The SCRAM users this broker authenticates now, sorted by name (a
 * single node's one is its JAAS user): *users malloc'ed (free()), each
 * a name and its credentials. Returns the count or -ENOMEM. */
struct cluster_scram_user {
	char user[SASL_MAX_USER + 1];
	struct sasl_user_creds creds;
};
int cluster_scram_users(struct cluster *c, struct cluster_scram_user **users);
/* Whether user is the one the brokers authenticate as with each other
 * (the JAAS setting's). */
bool cluster_is_brokers_user(const struct cluster *c, const char *user);
/* Whether topic can have partitions added now as this broker sees it:
 * -EINVAL (logged) when its replication factor (partition 0's replicas)
 * is larger than the live brokers, which the assignment in ZooKeeper
 * would refuse; -ENOTSUP (logged) when some live brokers have a
 * broker.rack and some do not (no placement is made then, as Kafka's);
 * 0 otherwise, also when this broker does not know yet
 * (the write to ZooKeeper decides). For a write's check, before its
 * close. */
int cluster_topic_grow_check(struct cluster *c, const char *topic);
/* Grows a topic's assignment to n_partitions and waits up to timeout_ms
 * for their leaders (cluster_repl_add_partitions). */
int cluster_topic_add_partitions(struct cluster *c, const char *topic, int n_partitions,
				 int64_t timeout_ms);
/* Publishes a topic's overrides (cluster_repl_set_topic_config). */
/* Both dynamic broker configs as last read, as "key=value" lines
 * (malloc'ed, empty when none or c is NULL): this broker's
 * (/config/brokers/<broker.id>) into *self, every broker's default
 * (<default>) into *def. 0 or -ENOMEM. */
int cluster_broker_dynamic_texts(struct cluster *c, char **self, size_t *slen, char **def,
				 size_t *dlen);
/* Changes /config/brokers/<name> (a broker id or ZK_BROKER_DEFAULT): with
 * replace, its settings become set; else set's keys are set and del's
 * removed, the rest kept. Then the notification: every broker applies it.
 * -EOPNOTSUPP without ZooKeeper, -ESTALE after concurrent writes, zkc's
 * errors. Any thread. */
int cluster_broker_config_alter(struct cluster *c, const char *name, const struct zk_config *set,
				const char *const *del, int n_del, bool replace);
int cluster_topic_config_set(struct cluster *c, const char *topic,
			     const struct zk_config *overrides, const struct zk_config *lines,
			     bool lines_change);
/* The key of /config/topics/<t> that says its key.separator and
 * line.format are fixed: some replica of the topic is about to take, or
 * took, records under them (cluster_repl_topic_lines_fix). Written once,
 * never removed while the topic lives. */
#define ZK_LINES_FIXED "mqfs.lines.fixed"
/* Fixes the topic's key.separator and line.format in ZooKeeper before a
 * replica here takes its first records (cluster_repl_topic_lines_fix). */
int cluster_topic_lines_fix(struct cluster *c, const char *topic, const struct zk_config *ours,
			    bool ours_win, struct zk_config *out);
/* Publishes a topic's owner and mode (chmod, chown on a mount) under
 * mqfs's keys of /config/topics/<t>, its settings kept, with a change
 * notification: every broker applies them (logged on failure). */
int cluster_topic_owner_set(struct cluster *c, const char *topic, uid_t uid, gid_t gid,
			    mode_t mode);
/* The owner and mode mqfs's keys of a config znode give (root, 0755 where
 * absent: a topic made by Kafka's tools). */
void cluster_topic_owner_of(const struct zk_config *zc, uid_t *uid, gid_t *gid, mode_t *mode);
/* local[p] (n of them) true when this broker is a replica of topic's
 * partition p as its metadata (UpdateMetadata) says; true where it does
 * not know. */
void cluster_local_replicas(struct cluster *c, const char *topic, int n, bool *local);
/* The leader of topic-partition as this broker's metadata
 * (UpdateMetadata) says: a broker id, -1 none known. Takes only the
 * metadata's leaf lock. */
int32_t cluster_leader(struct cluster *c, const char *topic, int partition);
/* Whether this broker leads topic-partition (cluster_leader). */
bool cluster_leads(struct cluster *c, const char *topic, int partition);
/* A topic that left /brokers/topics (cluster_topic_hooks.retain): its
 * local replicas stop before the broker removes the topic, as the
 * controller's StopReplica would have stopped them; one whose znodes
 * another client deleted gets none. */
void cluster_topic_gone(struct cluster *c, const char *topic);
/* Asks the controller to delete the topic (/admin/delete_topics). */
int cluster_topic_delete(struct cluster *c, const char *topic);
/* Waits until the controller has deleted it (cluster_repl.h). */
int cluster_topic_delete_wait(struct cluster *c, const char *topic, int64_t timeout_ms);
/* See cluster_repl.h. */
int cluster_append_check(struct cluster *c, const char *topic, int partition, int acks,
			 int32_t min_insync_replicas, int32_t *epoch);
/* cluster_repl_commit_check. */
int cluster_commit_check(struct cluster *c, const char *topic, int partition,
			 int32_t min_insync_replicas);
void cluster_appended(struct cluster *c, const char *topic, int partition);
/* cluster_repl_follows; false for a NULL c. */
bool cluster_follows(struct cluster *c, const char *topic, int partition);
/* cluster_repl_commit_lag; "" for a NULL c. */
void cluster_commit_lag(struct cluster *c, const char *topic, int partition, char *buf, size_t len);
/* The topic's min.insync.replicas, as made or changed on this broker:
 * its local replicas count their hw and acks=all checks with it
 * (replica_mgr_set_min_isr). NULL c: nothing. */
void cluster_topic_min_isr(struct cluster *c, const char *topic, int32_t min_insync_replicas);
int cluster_storage_failed(struct cluster *c, const char *topic, int partition, int err);
/* The storage error that took this broker's log directory offline
 * (replica_mgr_log_dir_failure; it stays until the broker restarts, and
 * is still answered after cluster_stop), 0 while it is online or without
 * a cluster (c NULL). */
int cluster_log_dir_failure(struct cluster *c);
/* ElectLeaders (kafka_elect.c) in a cluster: the controller's elections
 * (controller_elect_leaders). -EAGAIN: this broker is not the
 * controller. */
struct controller_election;
int cluster_elect_leaders(struct cluster *c, bool unclean, struct controller_election *parts,
			  int n);
/* AlterPartitionReassignments and ListPartitionReassignments
 * (kafka_reassign.c) in a cluster: the controller's moves
 * (controller_alter_reassignments, controller_list_reassignments).
 * -EAGAIN: this broker is not the controller. */
struct controller_reassignment;
struct controller_moving;
int cluster_alter_reassignments(struct cluster *c, struct controller_reassignment *parts, int n);
int cluster_list_reassignments(struct cluster *c, struct controller_moving **out);
struct partition_state;
/* Whether a controller's request has reached this broker since it
 * started (before, its metadata knows no partition's state). */
bool cluster_heard_controller(struct cluster *c);
/* Whether this broker is the active controller now (Kafka's
 * controller.isActive): what the requests only the controller carries
 * out ask first. A single node is its own controller. */
bool cluster_is_controller(struct cluster *c);
int cluster_partition_state(struct cluster *c, const char *topic, int partition,
			    struct partition_state *st);
int cluster_partition_cells(struct cluster *c, const char *topic, int partition, char leader[24],
			    char epoch[24], char replicas[24], char isr[24]);
void cluster_partition_followers(struct cluster *c, const char *topic, int partition, FILE *f);

#endif
