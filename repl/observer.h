/*
 * observer.h — private to repl/: read copies of partitions this broker
 * holds no replica of, or a replica that lags out of the ISR
 * (observer.c), so that every broker's mount reads every partition with
 * the same bytes, positions and st_size.
 *
 * An observer is a local log in DATA/.observers/<topic>-<p>/ (its own
 * engine log manager: the broker's never sees it, so a restart cannot
 * take it for a replica) that follows the partition's leader as a
 * consumer does: Fetch with replica_id -1, so that the leader sends only
 * records below its high watermark and never counts the observer as a
 * follower (it is not in the replicas, never in the ISR, never elected).
 * The leader's batches are appended unchanged by the follower's append
 * (log_append_batches), which builds .index, .timeindex and .lines as
 * the leader built them, so line positions are the leader's. Its hw is
 * min(leader's hw, its LEO): everything in it is committed.
 *
 * Life of an observer (one per topic-partition, made on demand):
 *
 *   none --observer_open / observer_line_size--> following
 *   following --leader or leader epoch changes--> following the new leader
 *                (fetcher_remove, partition_make_follower, fetcher_add:
 *                 the fetcher truncates by leader epoch first, as a
 *                 follower does, which only an unclean election needs)
 *   following --no open file for observer.idle.ms, topic deleted, or
 *                this broker's replica serves reads (it became a replica
 *                with its log, or rejoined the ISR) with its hw at the
 *                copy's or past it, and no file open-->
 *                none (log deleted)
 * A consumer group's copy (observer_pin) counts an open file until its
 * owner lets it go with observer_close: on a broker without a replica,
 * when its topic is deleted; on one whose replica lagged out of the ISR,
 * once that replica serves reads again (topic_read.c, part_unpin).
 *
 * Invariants:
 *   1. An observer's log holds committed records only (hw = LEO at rest).
 *   2. observer_open returns once the observer holds every record the
 *      leader had committed when it was called (the leader's hw, asked
 *      with ListOffsets), or fails with -ETIMEDOUT when the leader cannot
 *      be reached, or the copy does not catch up, within
 *      request.timeout.ms. Each failure is logged once with its cause.
 *   4. The copy starts where the leader's log does: a leader whose log
 *      starts above the copy's end (retention removed records the copy
 *      never had; a new copy of an old partition, or one whose leader
 *      deleted segments faster than it fetched) answers the fetch with
 *      OFFSET_OUT_OF_RANGE, its log start and that offset's line position
 *      (fetch_serve.c), and the fetcher empties the copy and starts it
 *      there (log_reset_start), as Kafka's follower does. Its line view
 *      then starts at the leader's line start: reads below it continue at
 *      the first record there, as on every replica's mount.
 *   3. Memory: one partition, one fetcher per leader broker; disk: the
 *      topic's retention runs on the observer as on a replica, and the
 *      whole copy goes when it is idle.
 *
 * Threads and locks: o->mu guards the table, the fetchers and the
 * counters; never held across a network call or a barrier's wait. The
 * manager thread ("mqfs-observer") follows leader changes, retention and
 * idle drops every OBSERVER_TICK_MS while there are copies; without one
 * it sleeps until one is made. The engine's hw listener takes only
 * o->wait_mu (a leaf) to wake barriers.
 */
#ifndef MQFS_REPL_OBSERVER_H
#define MQFS_REPL_OBSERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"
#include "repl/fetcher.h"
#include "repl/partition.h"

#define OBSERVER_DIR     ".observers" /* under the data directory */
#define OBSERVER_TICK_MS 100

struct observer_config {
	int32_t broker_id;
	const char *data_dir; /* the broker's: observers go in DATA/.observers */
	const struct io_ops *io;
	int64_t idle_ms;             /* observer.idle.ms */
	int64_t request_timeout_ms;  /* the barrier's deadline */
	int64_t retention_check_ms;  /* log.retention.check.interval.ms */
	struct fetcher_config fetch; /* sizes, wait and SASL of the broker's fetchers */
	/* The partition's leader, leader epoch and replicas as this broker
	 * knows them (cluster_repl_partition_state): 0 or -ENOENT. */
	int (*state)(void *arg, const char *topic, int partition, struct partition_state *st);
	/* Whether this broker's own replica of the partition serves its
	 * mount's reads (cluster_repl_replica_reads): its log is here and it
	 * is not a follower out of the ISR. A replica whose log found no room
	 * has none, and one that lags out of the ISR would show records up to
	 * its own hw only: a copy serves them meanwhile. *hw: the replica's
	 * high watermark when it serves. NULL: a replica always serves. */
	bool (*replica_reads)(void *arg, const char *topic, int partition, int64_t *hw);
	/* A count that moves after every change that can turn replica_reads
	 * from true to false (replica_mgr_states_gen), read with acquire:
	 * part of observer_reads_gen. NULL: none moves it. */
	uint64_t (*states_gen)(void *arg);
	/* A broker's inter-broker endpoint: 0 or -ENOENT. */
	int (*endpoint)(void *arg, int32_t id, char *host, int *port);
	void *arg;
	/* Told after an observer's hw moved (may be NULL), on the fetcher's
	 * thread with no lock of ours held: it may only queue work or wake a
	 * thread (the broker's hw listener: parked consume reads). */
	void (*hw_moved)(void *arg, const char *topic, int partition);
	void *hw_arg;
};

struct observers;

/* Opens DATA/.observers (made if missing) and deletes what an earlier run
 * left there (an idle copy is not kept across restarts), then starts the
 * manager thread. cfg is copied (the SASL strings must outlive it).
 * -ENOMEM, the engine's errors. */
int observers_new(const struct observer_config *cfg, struct observers **out);
/* Stops the thread and the fetchers, deletes every copy, closes. NULL is
 * fine. */
void observers_free(struct observers *o);

/* For a reader of topic-partition: starts the observer if needed and
 * waits for invariant 2. On success *out is a reference of its log
 * (log_unref when done) and the observer counts one open file until
 * observer_close. cfg: the topic's log settings (line format, key
 * separator, retention), used when the copy is made. -ETIMEDOUT,
 * -ENOENT (no such partition), -ENOMEM, the engine's, or the error of
 * the copy's last append when it cannot take the leader's records
 * (-ENOSPC: the disk is full), at once rather than at the deadline. */
int observer_open(struct observers *o, const char *topic, int partition,
		  const struct log_config *cfg, struct log **out);
/* Ends one open of observer_open or observer_pin; l: the log it gave,
 * still referenced by the caller (log_unref after this call), which tells
 * that copy from a later one of the same partition (the topic deleted and
 * made again while the file was open): only its own copy's count goes
 * down. */
void observer_close(struct observers *o, const char *topic, int partition, const struct log *l);
/* For a consumer group's reads: the observer of topic-partition, made if
 * needed, without the wait of observer_open (a consume read waits for
 * records anyway). *out is a reference of its log; the observer counts
 * one open file until observer_close (the pin's owner holds the log
 * until the topic goes, or until its replica here serves reads again,
 * and observer_drop deletes the copy with the topic). -ENOENT, -ENOMEM,
 * the engine's. */
int observer_pin(struct observers *o, const char *topic, int partition,
		 const struct log_config *cfg, struct log **out);
/* Waits until the observer (if there is one) holds the records below
 * offset, committed on the leader (a forwarded acks=all write's): the
 * writer reads them back through this mount when its write returns.
 * deadline: CLOCK_MONOTONIC ms. 0 (also with no observer), -ETIMEDOUT
 * (logged). */
int observer_wait(struct observers *o, const char *topic, int partition, int64_t offset,
		  int64_t deadline);
/* The observer's state for stat: 1 with *st filled when it exists (its
 * idle clock restarts), 0 when not. */
int observer_log_state(struct observers *o, const char *topic, int partition, struct log_state *st);
/* The existing observer of topic-partition, without any wait: a
 * reference of its log in *out (log_unref when done; NULL allowed: not
 * wanted), the leader broker it follows and that leader's epoch (-1 while
 * it follows none); its idle clock restarts. 0, -ENOENT none. */
int observer_get(struct observers *o, const char *topic, int partition, struct log **out,
		 int32_t *leader, int32_t *leader_epoch);
/* Whether this mount reads topic-partition, of which this broker holds
 * a replica with its log, from the read copy instead: while the replica
 * does not serve reads (cfg.replica_reads: a follower out of the ISR),
 * and after it does again until its hw has reached the copy's, so that
 * no record read through the copy is missing from it (the hand-back
 * never moves a reader or st_size back). Takes the replica's locks, then
 * o->mu: call it holding neither, nor the topic's lock. */
bool observer_reads_copy(struct observers *o, const char *topic, int partition);
/* The generation of observer_reads_copy's answers for replicas that
 * serve reads: it moves after every change that can turn an answer
 * false (the replica serves) into true (the copy must), once that change
 * is visible: the replica's state (cfg.states_gen: role, leader, ISR, the
 * replica made or stopped), a copy made, and a copy's hw moved past
 * what observer_reads_copy compared with the replica's. So, the
 * invariant a reader builds on (topic_read.c, reader_settle): a reader
 * that takes the generation BEFORE a call of observer_reads_copy that
 * answers false may take that answer as still true for as long as the
 * generation has not moved; a change racing with the call moves it
 * after the reader took it, and the reader looks again. Not for an
 * answer true: a copy's hand-back waits for the replica's hw, which
 * does not move it. Any thread, no lock. */
uint64_t observer_reads_gen(struct observers *o);
/* Moves the generation: a change the owner made (a replica's log taken
 * away) may make observer_reads_copy answer true where it answered
 * false. After the change is visible. NULL is fine. */
void observer_reads_moved(struct observers *o);
/* Deletes the observers of a topic (deleted; or a partition that has a
 * replica here now: partition -1 means all). */
void observer_drop(struct observers *o, const char *topic, int partition);

/* Whether the manager thread sleeps without a deadline (no copy: it
 * ticks only while there are copies). */
bool observers_asleep(struct observers *o);
/* MNT/.state and MNT/.metrics lines. */
void observers_state_text(struct observers *o, FILE *f);
void observers_metrics_text(struct observers *o, FILE *f);

/* Whether an observer with opens open files, last used at last_used_ms,
 * is idle at now_ms (pure: the manager's rule, for tests). */
bool observer_idle(int opens, int64_t last_used_ms, int64_t now_ms, int64_t idle_ms);
/* The state an observer follows: st with this broker added to the
 * replicas (partition_make_follower needs it there; the copy never
 * leaves this broker). -EINVAL no leader or no room. */
int observer_follow_state(const struct partition_state *st, int32_t broker_id,
			  struct partition_state *out);

#endif
