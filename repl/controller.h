/*
 * controller.h — the cluster controller of a ZooKeeper-coordinated cluster,
 * as Kafka's KafkaController with its partition and replica state machines
 * did it before KRaft, reduced to what mqfs needs. Private to repl/.
 *
 * Every broker runs one; the one that wins the election (zkmeta_elect)
 * decides leaders and ISRs: on broker loss and return, for new and deleted
 * topics, on controlled shutdown and for preferred-leader rebalancing. It
 * writes each decision to the partition's state znode under the guards of
 * zkmeta.h, then tells the brokers through a channel of three calls
 * (Kafka's LeaderAndIsr, UpdateMetadata and StopReplica requests) that the
 * owner implements over the network. The state machine and its invariants
 * are written down at the top of controller.c.
 *
 * Two halves:
 *   - pure decisions (no I/O, no locks, any thread): replica assignment of
 *     a new topic, the next leader and ISR of a partition for each kind of
 *     election, the per-broker preferred-leader imbalance;
 *   - the controller object: one event thread that does all ZooKeeper I/O
 *     and calls the channel; zkc callbacks only queue events for it.
 *
 * Errors: 0 or a count, else -errno as listed per function.
 */
#ifndef MQFS_REPL_CONTROLLER_H
#define MQFS_REPL_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include "repl/zkc.h"
#include "repl/zkdata.h"

/* ---- pure decisions ---- */

/* Kafka's AdminUtils.assignReplicasToBrokers. Without racks: partition
 * p's first replica is brokers[(p + start_index) % n]; the others follow
 * it at distance 1 + (shift + j) % (n - 1), and the shift grows by one
 * each time p wraps around the brokers, so that followers spread as well
 * as leaders. With racks (every broker has one): the same rule over
 * Kafka's rack-alternated list (racks sorted, one broker of each in turn,
 * each rack's by id), the shift times the number of racks, and a
 * candidate follower skipped while its rack already holds a replica and
 * some rack holds none, or it holds one itself: a partition's replicas
 * span min(rf, racks) racks.
 * Partitions first_partition .. first_partition + n_partitions - 1 are
 * assigned (Kafka's startPartitionId: a topic that grows goes on with its
 * partition numbers; 0 for a new topic).
 * brokers: n_brokers ids, strictly increasing (sorted, no repeats);
 * racks: NULL (none), or each broker's rack (NULL: none), parallel to it.
 * start_index, replica_shift: < 0 for a random one each (as Kafka), else
 * the value (tests, reproducible layouts). replicas gets
 * n_partitions * replication_factor ids, partition after partition.
 * -EINVAL: n_partitions <= 0, replication_factor <= 0 or greater than
 * n_brokers (Kafka's INVALID_REPLICATION_FACTOR), brokers not sorted;
 * -ENOTSUP: some brokers have a rack and some do not (Kafka's "Not all
 * brokers have rack information"); -ENOMEM. */
int controller_assign_replicas(const int32_t *brokers, const char *const *racks, int n_brokers,
			       int first_partition, int n_partitions, int replication_factor,
			       int start_index, int replica_shift, int32_t *replicas);

/* The brokers an election looks at: live ones (registered under
 * /brokers/ids) and, among them, those in controlled shutdown, and the
 * replicas of the partition decided that may not lead it: their broker
 * restarted without a clean shutdown and has not caught up since (the
 * "ineligible_partitions" of its registration, zkdata.h; Kafka's KIP-966).
 * Any order; ineligible may be NULL. */
struct controller_brokers {
	const int32_t *live;
	int n_live;
	const int32_t *shutting;
	int n_shutting;
	const int32_t *ineligible;
	int n_ineligible;
};

/*
 * Each decide function reads a partition's current state `cur` and its
 * assignment (replicas in order, the first is the preferred leader) and
 * fills `next` with the state to write: 1 when it differs from cur (then
 * next->leader_epoch is cur's + 1 and next->isr is malloc'd: release with
 * zk_partition_state_clear), 0 when nothing is to change (next is zeroed),
 * -ENOMEM. next->controller_epoch is cur's: the controller sets its own.
 * No new ISR is ever empty.
 */

/* After brokers came or went (Kafka's offline election and its removal of
 * dead replicas from the ISR):
 *   - the leader is live: ISR = ISR minus dead brokers;
 *   - else the new leader is the first replica (assignment order) that is
 *     live, not shutting down, not ineligible and in the ISR, ISR = ISR
 *     minus dead brokers; without one, the first live ISR member not
 *     shutting down, ineligible as all the live ones are (none could catch
 *     up without a leader), *recovery set; without one, if unclean_enable, the first live
 *     replica not shutting down (ineligible or outside the ISR: both may
 *     lack acknowledged records), ISR = {it}, leader_recovery_state
 *     RECOVERING and
 *     *unclean set (data may be lost); else leader ZK_LEADER_NONE (offline) and ISR
 *     = ISR minus dead brokers, except that its last member stays when all
 *     are dead (the replica with the latest data, to come back as leader).
 * unclean and recovery may be NULL. */
int controller_decide_live(const struct zk_partition_state *cur, const int32_t *replicas,
			   int n_replicas, const struct controller_brokers *b, bool unclean_enable,
			   struct zk_partition_state *next, bool *unclean, bool *recovery);

/* Brokers b->shutting are shutting down (Kafka's controlled shutdown
 * election): a shutting leader gives way to the first replica that is live,
 * in the ISR and not shutting, and shutting brokers leave the ISR (the
 * last member stays). A shutting leader without such a successor keeps
 * everything as it is: the partition is reported as still led by it. */
int controller_decide_controlled_shutdown(const struct zk_partition_state *cur,
					  const int32_t *replicas, int n_replicas,
					  const struct controller_brokers *b,
					  struct zk_partition_state *next);

/* Preferred leader election: leadership goes back to replicas[0] when it
 * is live, not shutting, not ineligible and in the ISR and does not lead
 * already; the ISR is unchanged. The controlled shutdown election passes
 * over ineligible replicas too. */
int controller_decide_preferred(const struct zk_partition_state *cur, const int32_t *replicas,
				int n_replicas, const struct controller_brokers *b,
				struct zk_partition_state *next);

/* A partition's replicas while they move (Kafka's
 * ReplicaAssignment.reassignTo), with TRS the target, ORS the original
 * replicas (the current ones less those a move in progress is adding):
 * replicas RS = TRS then the ORS members not in it, adding AR = TRS -
 * ORS, removing RR = ORS - TRS, and dropped: replicas of the current
 * assignment not in RS (a move replaced or cancelled: its adding replicas
 * that the new target does not keep), stopped and deleted at once. One
 * allocation (controller_move_clear). */
struct controller_move {
	int32_t *replicas;
	int n_replicas;
	int32_t *adding;
	int n_adding;
	int32_t *removing;
	int n_removing;
	int32_t *dropped;
	int n_dropped;
};

/* The move of partition `cur` to target (n_target ids), or with target
 * NULL the cancel of its move in progress (TRS = ORS). live: the
 * registered brokers; every adding replica not in cur's replicas already
 * must be one. -EINVAL: an empty
 * target, a broker id twice or < 0; -EHOSTUNREACH: an adding replica is
 * not registered (both Kafka's INVALID_REPLICA_ASSIGNMENT); -EALREADY:
 * cancel without a move in progress (NO_REASSIGNMENT_IN_PROGRESS);
 * -ENOMEM. */
int controller_plan_move(const struct zk_assignment *cur, const int32_t *target, int n_target,
			 const int32_t *live, int n_live, struct controller_move *out);
void controller_move_clear(struct controller_move *m);

/* TRS of an assignment (its replicas less those being removed), into out
 * (room for a->n_replicas): their count. */
int controller_move_target(const struct zk_assignment *a, int32_t *out);

/* Whether a move may complete: every replica of TRS is in the ISR. */
bool controller_move_caught_up(const struct zk_assignment *a, const struct zk_partition_state *cur);

/* The state of a moving partition for its replicas `replicas` (RS when a
 * move starts, TRS when it completes): the leader stays when it is one of
 * them, live and eligible, else the first of them in that order that is
 * live, not shutting down, eligible and in the ISR (Kafka's
 * ReassignPartitionLeaderElectionStrategy); ISR = cur's members among
 * replicas; always a new leader epoch. 1 (next filled), -EAGAIN no leader
 * qualifies (next zeroed), -ENOMEM. */
int controller_decide_move(const struct zk_partition_state *cur, const int32_t *replicas,
			   int n_replicas, const struct controller_brokers *b,
			   struct zk_partition_state *next);

/* controller_decide_move for the new RS `replicas` of a move that
 * starts, is replaced or is cancelled, whose replicas no longer in RS are
 * stopped (Kafka's updateCurrentReassignment: OfflineReplica, then the
 * reassignment election). When no replica of RS can lead: the ISR loses
 * the replicas not in RS (its last member stays when none of RS is in
 * it), and a leader not in RS leaves with its replica: leader -1 in a
 * new epoch, the partition offline (as Kafka: its election finds none);
 * a leader of RS stays. 1 (next filled), 0 nothing to write, -ENOMEM. */
int controller_decide_move_start(const struct zk_partition_state *cur, const int32_t *replicas,
				 int n_replicas, const struct controller_brokers *b,
				 struct zk_partition_state *next);

/* Kafka's auto-rebalance test (leader.imbalance.per.broker.percentage):
 * for each broker that is the preferred leader (preferred[i]) of some
 * partitions, the share of those it does not lead (leader[i] !=
 * preferred[i]) is its imbalance. Writes into out (room for n ids) the
 * brokers whose imbalance is above percentage/100, in increasing order,
 * and returns their count. */
int controller_imbalanced_brokers(const int32_t *preferred, const int32_t *leader, int n,
				  int percentage, int32_t *out);

/* ---- the controller ---- */

/* The broker keys the controller uses, with Kafka's names. */
struct controller_config {
	int32_t broker_id;                              /* broker.id */
	int32_t default_replication_factor;             /* default.replication.factor (1) */
	bool unclean_leader_election_enable;            /* unclean.leader.election.enable (false) */
	bool auto_leader_rebalance_enable;              /* auto.leader.rebalance.enable (true) */
	int32_t leader_imbalance_per_broker_percentage; /* (10) */
	int32_t leader_imbalance_check_interval_seconds; /* (300) */
	bool controlled_shutdown_enable;                 /* controlled.shutdown.enable (true):
						 * controller_stop moves this
						 * broker's leaderships away first */
};

/* One partition as the channel tells it to a broker (the fields of Kafka's
 * LeaderAndIsr and UpdateMetadata partition states). Pointers are valid
 * during the call only. */
struct controller_partition_state {
	const char *topic;
	const char *topic_id; /* Kafka's Uuid string, "" when the topic has none */
	int32_t partition;
	int32_t controller_epoch;
	int32_t leader; /* ZK_LEADER_NONE: offline */
	int32_t leader_epoch;
	int8_t leader_recovery_state; /* ZK_RECOVERY_*: RECOVERING after an
					* unclean election */
	const int32_t *isr;
	int n_isr;
	int32_t partition_epoch; /* the state znode's version */
	const int32_t *replicas;
	int n_replicas;
	bool is_new; /* first LeaderAndIsr of a new partition */
	/* UpdateMetadata only (Kafka's offline_replicas): the replicas on a
	 * broker that is not live or that answered it cannot host them. */
	const int32_t *offline_replicas;
	int n_offline_replicas;
};

/* One replica to stop (Kafka's StopReplica partition). */
/* A StopReplica's leader epoch for a replica of a topic being deleted
 * (Kafka's LeaderAndIsr.EpochDuringDelete): the broker then knows the
 * topic itself goes, not only its replica here (a move). */
#define CONTROLLER_EPOCH_DURING_DELETE (-2)

struct controller_stop_replica {
	const char *topic;
	int32_t partition;
	int32_t leader_epoch;  /* CONTROLLER_EPOCH_DURING_DELETE: its topic is deleted */
	bool delete_partition; /* remove its log */
};

/*
 * How the controller reaches the brokers. Called on the controller's event
 * thread, one call at a time, always with the epoch of the controller that
 * decided, after the decision is written to ZooKeeper, and with the broker
 * epoch of the recipient (the czxid of its registration, as Kafka's
 * broker_epoch: a broker refuses what was meant for its previous life). An implementation
 * sends (or queues) the request and returns; a nonzero return is logged,
 * and the broker catches up from the next request or from the znodes. A
 * function may be NULL (nothing sent).
 *   leader_and_isr   the partitions of which broker_id is a replica whose
 *                    leader or ISR changed (or all of them when the broker
 *                    came up or the controller took over)
 *   update_metadata  every live broker, the partitions that changed (or
 *                    all of them), and the live broker ids
 *   stop_replica     broker_id stops following these partitions (controlled
 *                    shutdown), or deletes them (topic deletion)
 */
struct controller_channel {
	int (*leader_and_isr)(void *arg, int32_t broker_id, int64_t broker_epoch,
			      int32_t controller_epoch,
			      const struct controller_partition_state *states, int n);
	int (*update_metadata)(void *arg, int32_t broker_id, int64_t broker_epoch,
			       int32_t controller_epoch, const int32_t *live_brokers, int n_live,
			       const struct controller_partition_state *states, int n);
	int (*stop_replica)(void *arg, int32_t broker_id, int64_t broker_epoch,
			    int32_t controller_epoch, const struct controller_stop_replica *parts,
			    int n);
	void *arg;
	/* Optional: waits up to wait_ms until every request the calls above
	 * made before it has been answered (or given up: its broker gone);
	 * 0, or -ETIMEDOUT. A topic's deletion waits for its StopReplicas so. */
	int (*flush)(void *arg, int64_t wait_ms);
};

struct controller;

/* What the controller is doing, for status views and tests. */
struct controller_info {
	bool active;              /* this broker is the controller */
	int32_t controller_id;    /* who is, as last seen; -1: unknown */
	int32_t epoch;            /* while active: the controller epoch */
	int32_t epoch_zk_version; /* while active: guard 2 of zkmeta.h */
	int32_t elections_won;
	int32_t resignations;
	int32_t offline_partitions; /* while active: partitions with no leader */
	/* Since the broker started, over all its terms as controller: state
	 * writes that gave a partition a new leader (Kafka's
	 * LeaderElectionRateAndTimeMs counts these), and those of them that
	 * took a leader from outside the ISR (UncleanLeaderElectionsPerSec). */
	int64_t leader_elections;
	int64_t unclean_elections;
};

/* Starts the event thread, which enters the election at once. zkc stays
 * the caller's; cfg and ch are copied. -EINVAL (broker_id < 0, or
 * leader_imbalance_check_interval_seconds < 1), -ENOMEM, -EAGAIN (no
 * thread). */
int controller_start(struct zkc *zkc, const struct controller_config *cfg,
		     const struct controller_channel *ch, struct controller **out);

/* Stops the controller: when it is active and controlled.shutdown.enable,
 * first moves its own broker's leaderships away (as a controlled
 * shutdown); then it stops processing and joins the thread. After it
 * returns the controller makes no zkc call; the owner may then close the
 * handle, and must do so before controller_free (zkc_close waits for and
 * drops the watches that point at the controller). */
void controller_stop(struct controller *ctl);
/* Frees a stopped controller. NULL is fine. */
void controller_free(struct controller *ctl);

/* The owner's zkc session callback forwards its events here (it may be
 * called on the completion thread). On ZKC_EXPIRED or ZKC_AUTH_FAILED the
 * controller resigns and waits for controller_reconnect. */
void controller_session_event(struct controller *ctl, enum zkc_session ev);

/* A topic's overrides changed (the owner's /config/changes watch; any
 * thread): while active, the controller elects again where a partition
 * has no leader, as the topic's unclean.leader.election.enable may now
 * allow one. */
void controller_topic_config_changed(struct controller *ctl);
/* unclean.leader.election.enable for topics without an override (the
 * broker's, with its dynamic settings); turned on, every partition
 * without a leader is elected again (Kafka's
 * enableDefaultUncleanLeaderElection). Any thread. */
void controller_set_unclean_default(struct controller *ctl, bool on);

/* After an expiry, the owner's new handle: the controller switches to it
 * and enters the election again. Returns once it no longer uses the old
 * handle (which the owner then closes). Not from a zkc callback. */
int controller_reconnect(struct controller *ctl, struct zkc *zkc);

/* A partition named in an answer. */
struct controller_tp {
	char topic[ZK_TOPIC_MAX + 1];
	int32_t partition;
};

/* A broker's answer to a LeaderAndIsr sent to it in its life
 * broker_epoch (Kafka's LeaderAndIsrResponseReceived): the partitions
 * whose replica it cannot host (KAFKA_STORAGE_ERROR: its log did not
 * open, out of descriptors or an I/O error) and those it took (NONE).
 * Each of the first is offline on that broker, in that life, until an
 * answer names it among the second: its partition elects again without
 * it (another in-sync replica leads; it leaves the ISR). Queued for the
 * event thread; any thread (the channel's senders). 0, -ENOMEM,
 * -ESHUTDOWN. */
int controller_lisr_answer(struct controller *ctl, int32_t broker_id, int64_t broker_epoch,
			   const struct controller_tp *failed, int n_failed,
			   const struct controller_tp *ok, int n_ok);

/* One partition of an ElectLeaders request and its result: 0 elected;
 * -EALREADY no election needed (PREFERRED: replicas[0] leads already;
 * UNCLEAN: a live broker leads); -ENOENT no such partition;
 * -EHOSTUNREACH no eligible leader (PREFERRED: replicas[0] is not live,
 * not in the ISR, shutting down or ineligible; UNCLEAN: no live replica). */
struct controller_election {
	char topic[ZK_TOPIC_MAX + 1];
	int32_t partition;
	int result;
};

/* Kafka's ZooKeeper-mode KafkaController.electLeaders: a preferred
 * (unclean false) or unclean election for each of parts, through the
 * same decisions as the rebalance and the offline election, each result
 * in parts[i].result; the brokers are told before it returns (queued on
 * the channel). -EAGAIN: this broker is not the controller (Kafka's
 * NOT_CONTROLLER); -EPERM or a ZooKeeper error: the office was lost on
 * the way. Waits for the event thread; not from a zkc callback. */
int controller_elect_leaders(struct controller *ctl, bool unclean,
			     struct controller_election *parts, int n);

/* One partition of an AlterPartitionReassignments request and its
 * result: 0 the move started (or completed, or was cancelled); -ENOENT
 * no such partition (UNKNOWN_TOPIC_OR_PARTITION); -EINVAL an empty
 * target, a broker twice or < 0, -EHOSTUNREACH a broker to add that is
 * not registered (INVALID_REPLICA_ASSIGNMENT); -EALREADY a cancel without
 * a move in progress (NO_REASSIGNMENT_IN_PROGRESS). */
struct controller_reassignment {
	char topic[ZK_TOPIC_MAX + 1];
	int32_t partition;
	const int32_t *replicas; /* the target; NULL: cancel the move */
	int n_replicas;
	int result;
};

/* Kafka's ZooKeeper-mode KafkaController.alterPartitionReassignments:
 * each partition moved towards its target (controller_plan_move), each
 * refusal logged. Returns once every move is started and the brokers are
 * told; the moves complete later, as their new replicas join the ISR.
 * -EAGAIN: not the controller (NOT_CONTROLLER); -EPERM or a ZooKeeper
 * error: the office was lost on the way. Waits for the event thread; not
 * from a zkc callback. */
int controller_alter_reassignments(struct controller *ctl, struct controller_reassignment *parts,
				   int n);

/* A partition whose replicas are moving: its assignment (replicas RS,
 * adding, removing) copied. */
struct controller_moving {
	char topic[ZK_TOPIC_MAX + 1];
	int32_t partition;
	struct zk_assignment a;
};

/* Kafka's listPartitionReassignments: every partition being moved, in
 * topic then partition order, into *out (malloc'd; release with
 * controller_moving_free). The count, -EAGAIN (not the controller),
 * -ENOMEM. Waits for the event thread. */
int controller_list_reassignments(struct controller *ctl, struct controller_moving **out);
void controller_moving_free(struct controller_moving *v, int n);

/* A broker asks to shut down (Kafka's ControlledShutdown request). Of
 * its partitions with more than one replica, the controller moves those
 * it leads to other in-sync replicas (which are told first), and stops
 * it following the others (StopReplica, then out of their ISRs). Returns
 * how many partitions it still leads, all of them listed in *remaining
 * (malloc'd, the caller frees; remaining may be NULL): 0 means it may go.
 * As in Kafka, a partition it leads alone stays led by it and is listed;
 * the broker then retries and, after its retries, goes anyway. Waits for
 * the event thread. -EAGAIN: this broker is not the controller (ask the
 * current one); -ENOENT: broker_id is not live; -EPERM, or a ZooKeeper
 * error, when the controller lost its office on the way. Not from a zkc
 * callback. */
int controller_controlled_shutdown(struct controller *ctl, int32_t broker_id,
				   struct controller_tp **remaining);

/* Grows a topic to n_partitions as Kafka's AdminZkClient.addPartitions:
 * the new partitions' replicas assigned over the live brokers with the
 * replication factor of partition 0, the round-robin started at the
 * first live broker from partition 0's first replica on, numbered from
 * the first new partition, rack-aware when the brokers have racks, the
 * assignment rewritten at the version read (the controller, watching it,
 * starts them). -ENOENT no such topic, -EINVAL not more partitions than
 * now or too few live brokers, -ENOTSUP only some live brokers have a
 * rack, -ESTALE written meanwhile, ZooKeeper's errors. */
int controller_add_partitions(struct zkc *zkc, const char *topic, int n_partitions);

/* Creates a topic as Kafka's AdminZkClient does on any broker: assigns
 * its replicas over the live brokers (controller_assign_replicas with
 * their racks, random start) and writes the assignment and config (may
 * be NULL); the controller then creates the partition states.
 * replication_factor < 0 means cfg->default_replication_factor. -EINVAL
 * (see the assignment, or a bad name), -ENOTSUP (only some live brokers
 * have a rack), -EEXIST, or a ZooKeeper error. The new topic's id goes
 * into topic_id (ZK_UUID_LEN + 1 bytes) when not NULL. */
int controller_create_topic(struct zkc *zkc, const struct controller_config *cfg, const char *topic,
			    int n_partitions, int replication_factor,
			    const struct zk_config *config, char *topic_id);

/* A snapshot of the controller's state; any thread. */
void controller_get_info(struct controller *ctl, struct controller_info *info);

#endif
