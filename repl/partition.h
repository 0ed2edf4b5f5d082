/*
 * partition.h — the replica state of one partition on this broker, Kafka's
 * Partition (leader/follower role, leader epoch, replicas, ISR, high
 * watermark, each follower's fetch state on the leader), and the log
 * operations replication needs from the engine. Private to repl/: the
 * Fetch handler (fetch_serve.c), the fetcher (fetcher.c) and the cluster
 * wiring use it. Names follow Kafka's Partition.scala so that an operator
 * can map one to the other (partition_maybe_increment_leader_hw is
 * maybeIncrementLeaderHW).
 *
 * States of a partition replica on this broker (one transition per
 * LeaderAndIsr the controller sends; each names its function):
 *
 *                 partition_make_leader
 *        +------------------------------------+
 *        |                                    v
 *      NONE --partition_make_follower--> FOLLOWER <--partition_make_follower-- LEADER
 *        ^                                    |  ---partition_make_leader-->    |
 *        +------ partition_make_none ---------+-------------------------------+
 *
 * A transition is taken only when the request's leader epoch is at least
 * ours (an older one is stale: -ESTALE); the same epoch with a newer
 * partition epoch is an ISR or replica change under the same leader.
 *
 * Invariants (numbered; the tests check each):
 *   1. log_start_offset <= hw <= log_end_offset of the local log.
 *   2. On the leader, hw = min LEO over the maximal ISR (the ISR plus a
 *      member whose addition is being written) and the followers about
 *      to join it (outside it, caught up by invariant 6's rule, on a live
 *      broker: Kafka's shouldWaitForReplicaToJoinIsr), and hw never moves
 *      back while this broker stays leader (partition_maybe_increment_leader_hw).
 *      While the ISR is smaller than min.insync.replicas (at most the
 *      replicas: partition_effective_min_isr) the hw does not move at
 *      all (Kafka 3.7's maybeIncrementLeaderHW, KAFKA-15583): a record is
 *      committed only once min.insync.replicas replicas hold it, acks=1
 *      records appended meanwhile included.
 *   3. The leader is always in its own ISR; the ISR is a subset of the
 *      replicas.
 *   4. A follower's hw = min(leader's hw, its own LEO).
 *   5. A follower enters the ISR only when its LEO >= hw and >= the
 *      offset the current leader epoch started at (so it holds every
 *      record this leader may have committed: Kafka's isFollowerInSync).
 *   6. A follower leaves the ISR when now - last_caught_up_ms >
 *      replica.lag.time.max.ms, where last_caught_up_ms is the last time
 *      it fetched at or past the leader's LEO of that moment, or of its
 *      previous fetch (Kafka's Replica.updateFetchState).
 *   7. An ISR change is written by the owner's callback (the conditional
 *      ZooKeeper write of the partition state) before it counts: until
 *      then a shrink still holds the hw back and an expansion already
 *      does (the maximal ISR), so the hw never covers a record that a
 *      member of either ISR lacks.
 *   8. An acks=all append is refused (-EAGAIN: NOT_ENOUGH_REPLICAS)
 *      before anything is appended when the ISR is smaller than
 *      min.insync.replicas (at most the replicas:
 *      partition_effective_min_isr).
 *   9. A broker restarted without its clean-shutdown marker may have lost
 *      records it acknowledged as a follower: it is not eligible as leader
 *      (partition_make_leader: -EPERM, INELIGIBLE_REPLICA on the wire)
 *      until it is in the ISR again with a LEO at or past the leader's hw
 *      of its first fetch after the restart (it holds every record
 *      committed before it came back), or until the controller elects
 *      it RECOVERING (st->recovering: no eligible replica was left). The ISR is the newest it knows:
 *      its own state's (LeaderAndIsr, UpdateMetadata), or that of the
 *      LeaderAndIsr that makes it leader. The controller learns the
 *      ineligible partitions from the broker's registration in
 *      /brokers/ids/<id>: the wiring adds the field "ineligible_partitions"
 *      (topic -> partitions, Kafka's tools ignore unknown fields) while
 *      partition_leader_eligible is false for any partition, and rewrites
 *      the registration when the set changes (partition_set_listener).
 *
 * Threads and locks: every function here takes the partition's own mutex
 * (one per partition, never held across a network call, an ISR write or a
 * listener). The log operations are called with that mutex held, except
 * read_raw and raw_release (the Fetch handler reads without it); the
 * engine's listeners must therefore never call into this partition
 * synchronously (the Fetch handler's wake-up only signals its own thread).
 * The ISR write callback and the change listener run on the caller's
 * thread with no partition lock held.
 *
 * Errors: 0 or a count; -ESTALE a stale leader epoch or partition epoch,
 * -EREMOTE this broker does not lead the partition (NOT_LEADER_OR_FOLLOWER),
 * -EAGAIN fewer in-sync replicas than min.insync.replicas, -EPERM not
 * eligible as leader, -ENXIO the replica is offline (its log directory
 * failed: partition_mark_offline; KAFKA_STORAGE_ERROR on the wire),
 * -EINVAL a malformed state (leader not in replicas, ISR not within
 * replicas, too many replicas), -ENOENT a broker id that is not a
 * replica, and the log operations' own errors.
 */
#ifndef MQFS_REPL_PARTITION_H
#define MQFS_REPL_PARTITION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PARTITION_MAX_REPLICAS 16
#define PARTITION_MAX_TOPIC    249 /* Kafka's longest topic name */

/* ---- what replication needs from the local log ----
 * The wiring fills this table with the engine's calls (log_get_state,
 * log_set_hw, log_assign_epoch, log_end_offset_for_epoch, log_read_raw,
 * log_append_batches, log_truncate_to); tests fill it with a log of their
 * own. Every call returns 0 or -errno unless it says otherwise. */

struct partition_offsets {
	int64_t log_start_offset;
	int64_t hw;
	int64_t log_end_offset;
	int64_t line_start; /* line position of log_start_offset */
	bool dropped;       /* the log was dropped (its topic deleted) */
};

/* Whole batches of the log as one file range, valid while ref is held. */
struct partition_raw {
	int fd; /* -1: no bytes (len 0) */
	off_t offset;
	size_t len;
	int32_t last_epoch;  /* partition leader epoch of the last batch, -1 none */
	int64_t last_offset; /* the last batch's last offset, -1 none */
	void *ref;           /* released by raw_release */
	/* The first batch's base offset and line position (-1: not known),
	 * for a follower when it starts past the offset asked for (the
	 * leader's compaction removed the records in between). */
	int64_t base_offset;
	int64_t first_line_pos;
};

struct partition_log_ops {
	void (*offsets)(void *log, struct partition_offsets *o);
	/* Moves the hw forward (never back; clamped to the LEO). */
	int (*set_hw)(void *log, int64_t hw);
	/* Records that epoch starts at start_offset, durably. */
	int (*assign_epoch)(void *log, int32_t epoch, int64_t start_offset);
	/* The latest epoch of the epoch cache, -1 when empty. */
	int32_t (*latest_epoch)(void *log);
	/* Kafka's LeaderEpochFileCache.endOffsetFor: the largest epoch <= epoch
	 * and the offset where the next larger epoch starts (the LEO for the
	 * latest); (epoch, start of the first epoch) when epoch is below all;
	 * (-1, -1) when the cache is empty or epoch is -1. */
	void (*end_offset_for_epoch)(void *log, int32_t epoch, int32_t *found_epoch,
				     int64_t *end_offset);
	/* Kafka's LeaderEpochFileCache.epochForOffset: the epoch of the
	 * latest entry starting at or below offset, -1 when none does. NULL:
	 * not kept by this log (ListOffsets names the partition's epoch). */
	int32_t (*epoch_for_offset)(void *log, int64_t offset);
	/* Whole batches from the batch holding offset, below max_offset
	 * (exclusive), at most max_bytes but at least one batch when any
	 * is there. -ERANGE: offset outside [log_start, LEO]. */
	int (*read_raw)(void *log, int64_t offset, int64_t max_offset, size_t max_bytes,
			struct partition_raw *raw);
	/* The same for a follower or read copy (NULL: read_raw): the records
	 * of a compacted log end at a gap compaction left, since the copy
	 * places them after the first at the leader's line positions. */
	int (*read_raw_copy)(void *log, int64_t offset, int64_t max_offset, size_t max_bytes,
			     struct partition_raw *raw);
	void (*raw_release)(void *log, struct partition_raw *raw);
	/* Appends batches as they are (offsets, epochs, CRCs kept) at the LEO,
	 * or past it at line position first_line_pos (-1: not known) across
	 * a gap the leader's compaction left; each batch's epoch enters the
	 * epoch cache. -EBADMSG: not whole valid batches, or offsets not
	 * starting at the LEO (above it: without a line position). */
	int (*append_batches)(void *log, const uint8_t *buf, size_t len, int64_t first_line_pos);
	/* Truncates to end at offset, durably (fsync of the log and its
	 * directory, epoch cache included) before it returns. */
	int (*truncate_to)(void *log, int64_t offset);
	/* Empties the log and starts it at offset with line position
	 * line_pos (the leader's log start and its line position), durably;
	 * log start = hw = LEO = offset. -EINVAL offset at or below the LEO
	 * or line_pos below the line end. NULL: not supported. */
	int (*reset_start)(void *log, int64_t offset, int64_t line_pos);
	/* The first offset whose record's timestamp is >= ts_ms (through the
	 * time index) and that record's timestamp. -ERANGE: none. */
	int (*offset_for_time)(void *log, int64_t ts_ms, int64_t *offset, int64_t *timestamp);
	/* The record with the largest timestamp (the earliest of equals) and
	 * that timestamp. -ERANGE: none. NULL: not kept by this log. */
	int (*offset_for_max_time)(void *log, int64_t *offset, int64_t *timestamp);
	/* Moves the log start up to offset (<= hw; Kafka's DeleteRecords);
	 * *start the log start after. -ERANGE above the hw, -EPERM not a
	 * delete policy, -EBUSY (busy_ok) the log is being cleaned. NULL: not
	 * supported. */
	int (*delete_records)(void *log, int64_t offset, bool busy_ok, int64_t *start);
	/* The topic's compression.type: a BATCH_CODEC_* or
	 * LOG_CODEC_PRODUCER (engine.h). NULL: not kept by this log. */
	int (*codec)(void *log);
};

/* The engine's log (struct log *) behind the table (partition_log.c). */
extern const struct partition_log_ops partition_engine_ops;

enum partition_role { PARTITION_NONE, PARTITION_LEADER, PARTITION_FOLLOWER };

/* The fetch state of a follower partition (Kafka's PartitionFetchState). */
enum partition_fetch_state { PARTITION_TRUNCATING, PARTITION_FETCHING };

/* A follower's state as the leader sees it (Kafka's Replica). */
struct partition_replica {
	int32_t broker_id;
	int64_t log_end_offset;        /* -1 until its first fetch */
	int64_t last_fetch_leader_leo; /* the leader's LEO at its last fetch */
	int64_t last_fetch_ms;
	int64_t last_caught_up_ms;
	int64_t hw_sent;          /* the hw in the last Fetch response to it, -1 none */
	int64_t bytes_sent;       /* record bytes in the last Fetch response to it */
	int64_t log_start_offset; /* its log start, as its last fetch said; -1 */
};

/* A partition state as the controller writes it (LeaderAndIsr). */
struct partition_state {
	int32_t leader; /* broker id */
	int32_t leader_epoch;
	int32_t partition_epoch; /* the state znode's version */
	int n_replicas;
	int32_t replicas[PARTITION_MAX_REPLICAS];
	int n_isr;
	int32_t isr[PARTITION_MAX_REPLICAS];
	/* The leader recovery state RECOVERING: the controller elected this
	 * leader knowing it may lack records (an unclean election, or every
	 * live ISR member restarted uncleanly): invariant 9 does not hold
	 * it back. */
	bool recovering;
	/* UpdateMetadata only: the replicas the controller counts offline
	 * (their broker is gone, or cannot host them: KAFKA_STORAGE_ERROR). */
	int n_offline;
	int32_t offline[PARTITION_MAX_REPLICAS];
};

/* Whether st's offline replicas name broker id. */
static inline bool partition_state_names_offline(const struct partition_state *st, int32_t id)
{
	for (int i = 0; i < st->n_offline; i++)
		if (st->offline[i] == id)
			return true;
	return false;
}

struct partition;

/* Writes a new ISR (the conditional write of the state znode at
 * partition_epoch, then isr_change_notification). Returns the new
 * partition epoch (>= 0), -ESTALE when the version moved (the wiring
 * re-reads the state and hands it back with partition_make_leader or
 * partition_make_follower), or another -errno (nothing changed). Called
 * with no partition lock held, on the thread that found the change. */
typedef int (*partition_isr_write_fn)(void *arg, struct partition *p,
				      const struct partition_state *proposed);
/* Told after the role, the ISR, the hw or the eligibility changed, with no
 * lock held (metrics, .state, the registration of invariant 9). */
typedef void (*partition_change_fn)(void *arg, struct partition *p);
/* Told when a log operation of the follower's side or an epoch record
 * failed with a storage failure (partition_storage_failure), on the
 * thread that met it, no partition lock held: the owner takes the log
 * directory offline (Kafka's LogDirFailureChannel). */
typedef void (*partition_storage_fn)(void *arg, struct partition *p, int err);

struct partition_config {
	int32_t broker_id;               /* this broker */
	int64_t replica_lag_time_max_ms; /* 30000 */
	int min_insync_replicas;         /* 1 */
	bool unclean_restart;            /* opened without the clean-shutdown marker */
};

/* A new replica in state NONE over a log (ops and log are the caller's and
 * outlive the partition). One reference, the caller's. -EINVAL (topic too
 * long, index < 0), -ENOMEM. */
int partition_new(const char *topic, int32_t index, const struct partition_config *cfg,
		  const struct partition_log_ops *ops, void *log, struct partition **out);
void partition_ref(struct partition *p);
/* Drops a reference; the last frees. NULL is fine. */
void partition_unref(struct partition *p);
/* Makes the partition own its log: fn(log) runs when the last reference
 * goes (a partition made for one request, holding a log reference). Before
 * the partition is shared. */
void partition_set_log_release(struct partition *p, void (*fn)(void *log));
/* The references held now: the owner of a partition no one else can find
 * any more closes its log when this reaches its own one. */
int partition_refs(struct partition *p);
void partition_set_isr_writer(struct partition *p, partition_isr_write_fn fn, void *arg);
void partition_set_listener(struct partition *p, partition_change_fn fn, void *arg);
void partition_set_storage_listener(struct partition *p, partition_storage_fn fn, void *arg);
/* Whether broker_id is alive, as the controller last said (UpdateMetadata's
 * live brokers: Kafka's metadataCache.hasAliveBroker). Called with the
 * partition's lock held: it may take only a leaf lock of its own. */
typedef bool (*partition_alive_fn)(void *arg, int32_t broker_id);
/* The owner's view of the live brokers, for invariant 2's followers about
 * to join the ISR and for partition_low_watermark. Unset: every broker
 * counts as alive. */
void partition_set_alive(struct partition *p, partition_alive_fn fn, void *arg);
/* Whether err (a -errno) is a failure of the storage under a log, which
 * Kafka meets as an IOException and takes for its log directory's:
 * -EIO, -ENOSPC (a full disk too), -EDQUOT, -EROFS. */
bool partition_storage_failure(int err);
/* A read of p's log (a Fetch served from it) failed with err: a storage
 * failure goes to the storage listener as a write's does, since Kafka's
 * ReplicaManager.readFromLocalLog hands a read's IOException to the
 * LogDirFailureChannel too. No partition lock held. */
void partition_read_failed(struct partition *p, int err);

const char *partition_topic(const struct partition *p);
int32_t partition_index(const struct partition *p);
void *partition_log(const struct partition *p);
const struct partition_log_ops *partition_log_ops(const struct partition *p);

/* ---- role changes (the controller's LeaderAndIsr; any thread) ---- */

/* Becomes leader of st (st->leader is this broker). A new epoch records
 * (epoch, LEO) in the epoch cache and resets every follower's state (a
 * follower in the ISR counts as caught up now, one outside as never); the
 * hw is kept (it cannot move back) and may advance at once. -ESTALE, -EINVAL,
 * -EPERM (invariant 9), log errors. Returns 1 when the leader epoch is
 * new, 0 for an ISR or replica change in the same epoch. */
int partition_make_leader(struct partition *p, const struct partition_state *st, int64_t now_ms);
/* Becomes follower of st->leader. A new leader or epoch puts the fetch
 * state in PARTITION_TRUNCATING: the fetcher truncates by epoch before it
 * fetches. Returns 1 when the fetcher must (re)start following, 0 when
 * nothing changed for it. -ESTALE, -EINVAL. */
int partition_make_follower(struct partition *p, const struct partition_state *st);
/* No longer a replica here (reassigned away, topic deleted, shutdown);
 * deleted: the replica leaves this broker, its log goes (StopReplica
 * with delete: a fetch parked on it is then answered as one that finds
 * no replica, by the cluster's metadata: fetch_serve.c's rule 1). */
void partition_make_none(struct partition *p, bool deleted);
bool partition_deleted(struct partition *p);
/* Kafka's Partition.markOffline: the replica's log directory failed. The
 * role becomes NONE (the generation moves: a fetch round in progress
 * appends nothing more) and stays so: make_leader, make_follower,
 * leader_epoch and check_append answer -ENXIO from then on, for the life
 * of the partition (the broker restarts to bring the replica back). */
void partition_mark_offline(struct partition *p);

/* ---- the leader's rules ---- */

/* Records a follower's fetch at fetch_offset at now_ms (Kafka's
 * updateFollowerFetchState: LEO, its log start (-1: not sent), last
 * fetch, last caught up), then may expand the ISR and move the hw.
 * -EREMOTE not leader, -ENOENT not a replica (or this broker), -ERANGE
 * fetch_offset above the LEO. The Fetch handler has checked the fetch's
 * leader epoch. */
int partition_update_follower_fetch_state(struct partition *p, int32_t replica_id,
					  int64_t fetch_offset, int64_t log_start_offset,
					  int64_t now_ms);
/* The hw the leader told replica_id in a Fetch response (it moves only
 * forward) and the record bytes that response carried; and whether the
 * leader's hw is above the last one told: a follower learns the hw only
 * from Fetch responses, and its mount's readers see records only up to it
 * (invariant 4), so the fetch purgatory answers a follower's parked fetch
 * when the hw it knows is behind, data or not (fetch_serve.c, which also
 * reads *bytes_sent, the last response's record bytes, when not NULL).
 * False when not leader or not a replica. */
void partition_note_hw_sent(struct partition *p, int32_t replica_id, int64_t hw,
			    int64_t bytes_sent);
bool partition_follower_hw_behind(struct partition *p, int32_t replica_id, int64_t *bytes_sent);
/* The hw as min LEO over the maximal ISR; moves it forward only. Returns
 * 1 when it moved, 0 when not, -EREMOTE when not leader. */
int partition_maybe_increment_leader_hw(struct partition *p, int64_t now_ms);
/* Removes followers that are out of sync (invariant 6) through the ISR
 * writer. Returns the number removed, 0, or the writer's error. The
 * wiring calls it every replica.lag.time.max.ms / 2 (Kafka's
 * isr-expiration task). */
int partition_maybe_shrink_isr(struct partition *p, int64_t now_ms);
/* Adds replica_id to the ISR when in sync (invariant 5): 1 added, 0 not. */
int partition_maybe_expand_isr(struct partition *p, int32_t replica_id, int64_t now_ms);
/* Kafka's isFollowerInSync / isCaughtUp and the lag rule, for tests and
 * .state: pure functions of a replica's state. */
bool partition_replica_in_sync(const struct partition_replica *r, int64_t hw,
			       int64_t leader_epoch_start_offset);
bool partition_replica_caught_up(const struct partition_replica *r, int64_t leader_leo,
				 int64_t now_ms, int64_t lag_max_ms);
/* Kafka's effectiveMinIsr: min.insync.replicas counts at most the
 * partition's replicas, so a setting above the replication factor (a
 * broker default of 2 over a topic of one replica) does not refuse every
 * acks=all write. */
static inline int32_t partition_effective_min_isr(int32_t min_insync_replicas, int n_replicas)
{
	return n_replicas > 0 && n_replicas < min_insync_replicas ? n_replicas
								  : min_insync_replicas;
}
/* Before an append (any thread): 0 may append; -ENXIO offline; -EREMOTE
 * not leader;
 * -EAGAIN (acks -1 only) ISR smaller than min.insync.replicas (at most
 * the replicas: partition_effective_min_isr). */
int partition_check_append(struct partition *p, int acks);
/* The same with the topic's min.insync.replicas (<= 0: the partition's,
 * the broker setting), which a topic's .config may change at any time. */
int partition_check_append_isr(struct partition *p, int acks, int32_t min_insync_replicas);
/* After an acks=all write was committed (the hw reached it): Kafka's
 * checkEnoughReplicasReachOffset, which counts the maximal ISR (an
 * addition being written counts, a removal being written does not yet
 * shrink it). 0 enough; -EAGAIN fewer than min.insync.replicas (<= 0: the
 * partition's; at most the replicas): NOT_ENOUGH_REPLICAS_AFTER_APPEND;
 * -EREMOTE not leader; -ENXIO offline. */
int partition_check_enough_replicas(struct partition *p, int32_t min_insync_replicas);
bool partition_under_min_isr(struct partition *p);
/* The topic's min.insync.replicas (> 0; the config's until set), which
 * invariant 2 and the checks above count with: the owner sets it when
 * the replica opens and when the topic's overrides change. Any thread,
 * no lock: the hw is looked at again at the next fetch or append, as
 * Kafka's is after a config change. */
void partition_set_min_isr(struct partition *p, int32_t min_insync_replicas);
/* Kafka's deleteRecordsOnLeader: the leader's log start moves up to
 * offset (-1: the hw), *start the log start after. -EREMOTE not leader,
 * -ERANGE offset above the hw or below -1, -EPERM the topic is compacted
 * only, -ENOTSUP a log without delete_records. */
int partition_delete_records(struct partition *p, int64_t offset, int64_t *start);
/* Kafka's lowWatermarkIfLeader: the lowest log start of the leader and
 * every follower on a live broker (partition_set_alive), in the ISR or
 * not; a follower on a broker that is gone does not count (it starts
 * from ours when it comes back: its fetch below our start is answered
 * OFFSET_OUT_OF_RANGE). -1 while a live one has not told its own.
 * -EREMOTE not leader. */
int partition_low_watermark(struct partition *p, int64_t *low);

/* ---- the follower's side (the fetcher's thread) ---- */

/* The fetch position: the leader, its epoch, the state, LEO and the last
 * fetched epoch (the log's latest). -EREMOTE when not a follower. */
struct partition_follow {
	int32_t leader;
	int32_t leader_epoch;
	enum partition_fetch_state state;
	int64_t fetch_offset;
	int32_t last_fetched_epoch;
	int64_t log_start_offset; /* ours, sent with the fetch */
	uint64_t generation;      /* changes with every make_follower that restarts */
};
int partition_follow_state(struct partition *p, struct partition_follow *f);
/* Truncates to offset (durably) if the generation is still current and
 * moves to PARTITION_FETCHING when done is set. -ESTALE a newer
 * generation (the role changed meanwhile), log errors. */
int partition_follower_truncate(struct partition *p, uint64_t generation, int64_t offset,
				bool done);
/* Appends the leader's batches and sets hw = min(leader_hw, LEO); clears
 * the unclean-restart flag when invariant 9 holds. Then the log start
 * follows the leader's (leader_start, -1: not sent) up to that hw, as
 * Kafka's follower does (records the leader's DeleteRecords or retention
 * removed), unless a maintenance of the log (a clean, retention) holds
 * it: then 1, the records appended but the start not moved (the fetcher
 * asks for the leader's start again). -ESTALE generation, -EBADMSG
 * batches that do not start at our LEO, log errors. */
int partition_follower_append(struct partition *p, uint64_t generation, const uint8_t *records,
			      size_t len, int64_t leader_hw, int64_t leader_start);
/* The same, the first batch at the leader's line position first_line_pos
 * (-1: not known) when it starts past our LEO: the leader's compaction
 * removed the records in between (a Fetch response's first_line). */
int partition_follower_append_at(struct partition *p, uint64_t generation, const uint8_t *records,
				 size_t len, int64_t first_line_pos, int64_t leader_hw,
				 int64_t leader_start);
/* The leader's log starts at offset (line position line_pos), above our
 * LEO (its retention removed records we never had): our log is emptied
 * and starts there (Kafka's truncateFullyAndStartAt on
 * OFFSET_OUT_OF_RANGE), durably, and fetching goes on from it. -ESTALE
 * generation, -EINVAL offset not above our LEO (nothing to do: the fetch
 * was in range after all) or line_pos below our line end, -ENOTSUP a log
 * without reset_start, log errors. */
int partition_follower_reset_start(struct partition *p, uint64_t generation, int64_t offset,
				   int64_t line_pos);

/* ---- inspection ---- */

struct partition_info {
	enum partition_role role;
	int32_t leader;
	int32_t leader_epoch;
	int32_t partition_epoch;
	int64_t leader_epoch_start_offset; /* -1 unless leader */
	int n_replicas;
	int32_t replicas[PARTITION_MAX_REPLICAS];
	int n_isr;
	int32_t isr[PARTITION_MAX_REPLICAS];
	int n_followers; /* leader only: every replica but us */
	struct partition_replica followers[PARTITION_MAX_REPLICAS];
	struct partition_offsets offsets;
	bool isr_write_pending;
	bool leader_eligible;
	bool offline; /* partition_mark_offline */
	int64_t isr_shrinks;
	int64_t isr_expands;
};
void partition_get_info(struct partition *p, struct partition_info *info);
bool partition_leader_eligible(struct partition *p);
/* Leader only: broker is in the ISR in force (no ISR change in flight). */
bool partition_isr_has(struct partition *p, int32_t broker);
/* Leader only: broker is in the ISR or in an ISR change in flight
 * (Kafka's maximal ISR, which its replication throttle spares). */
bool partition_maximal_isr_has(struct partition *p, int32_t broker);
/* A follower with a leader that is not broker, whose ISR (as the
 * leader and the controller last told it) leaves broker out: its
 * broker's replica lags, and that broker's mount reads the partition
 * from a read copy meanwhile (observer.h). False for a leader, a replica
 * without a leader, and a follower in the ISR. */
bool partition_out_of_isr(struct partition *p, int32_t broker);
/* Follower: the -errno of the last append of fetched records that
 * failed (-ENOSPC: a full disk), 0 once one has succeeded since. Any
 * thread, no lock. */
int partition_follower_append_error(struct partition *p);
/* The leader epoch, for the Fetch handler's validation: 0 on the leader;
 * -ENXIO offline, -EREMOTE otherwise, *epoch then the epoch a follower
 * follows (Kafka checks a client's current_leader_epoch against it
 * before it asks whether it leads), -1 for a replica with no role. */
int partition_leader_epoch(struct partition *p, int32_t *epoch);

#endif
