/*
 * producer_state.h — private to repl/: what a partition's replica knows
 * of each idempotent producer (Kafka's ProducerStateManager), so that a batch
 * sent again (a broker forwarding a write resends it after a failover; a
 * Kafka client with enable.idempotence retries) is appended once.
 *
 * Per producer id: its epoch and the sequences and offsets of its last
 * PRODUCER_BATCHES batches in the log. A request's batches for a
 * partition may come from several producers, and from none (Kafka's
 * ProducerAppendInfo keeps one per producer); they are judged, in this
 * order (Kafka's ProducerAppendInfo and findDuplicateBatch):
 *   1. no producer id (-1): appended, nothing kept;
 *   5. a producer's batches in one request must share its epoch and
 *      follow each other: else -EILSEQ (checked first);
 *   2. every batch of the request (so each has a producer id) of the
 *      kept epoch and with (first, last) sequences equal to one of its
 *      producer's kept batches, or inside a kept run of them (below): a
 *      duplicate, answered with the kept offsets and not appended; only
 *      some of them: -EILSEQ, but for rule 6;
 *   3. each producer's first batch in the request: an epoch below the
 *      kept one: -ESTALE (INVALID_PRODUCER_EPOCH);
 *   4. a newer epoch: its first sequence must be 0; the same epoch: the
 *      first sequence must follow the last kept one (wrapping past
 *      INT32_MAX to 0); an unknown producer may start anywhere (its
 *      batches may have gone with retention): else -EILSEQ
 *      (OUT_OF_ORDER_SEQUENCE_NUMBER), not appended.
 *   6. a request of one producer's batches whose first ones are
 *      duplicates (rule 2) and whose next one follows the newest kept
 *      batch (rule 4): the rest is appended. A broker that forwards a
 *      write sends all its batches in one request; the leader that took
 *      it may have passed only the first ones on to its followers (a
 *      fetch ends at replica.fetch.max.bytes) before it went, and the
 *      next leader holds those, not the others.
 * A refusal refuses the whole request (a partition's batches are appended
 * all or none) and names the batch that broke the rule.
 *
 * A batch that follows the producer's newest kept one in sequences and
 * in offsets, appended in the same leader epoch, extends it into a run
 * rather than taking a slot: one forwarded write is many batches (one per
 * batch.size bytes), more than PRODUCER_BATCHES, and all of them sent
 * again must still be a duplicate. A run's offsets follow its sequences
 * one for one, so a batch inside it is found with its own offsets.
 *
 * On every replica, as Kafka's (UnifiedLog.appendAsFollower updates the
 * producer state of a follower as its leader's): a follower keeps its
 * state current from the batches it appends (producer_state_follow, the
 * fetcher's hook: only their headers, read from the fetched bytes), so
 * that DescribeProducers on it lists its own log's producers and a
 * follower that becomes leader judges by it without reading its log.
 *
 * Rebuilt from the log where it may be stale: the batch headers keep
 * producer id, epoch and base sequence, and followers keep the leader's
 * batches unchanged, so producer_state_load (rebuild) knows every producer
 * a log holds. The state records how far it was brought:
 *   - loaded_epoch >= 0: a leader's, loaded (or taken over) in that
 *     leader epoch; its own appends keep it current (every idempotent
 *     batch goes through producer_state_update under mu);
 *   - loaded_epoch -1: a follower's, holding every batch below end (end
 *     the log end it was brought to, end_epoch the leader epoch of the
 *     batch before it).
 * A new leadership takes a follower's state as it is when it is current
 * (end is the log's end and the log still has end_epoch there: nothing
 * appended that its hook has not brought in, no truncation); any other
 * state is rebuilt: a follower's behind its log, a leader's of an
 * earlier epoch, one never loaded. A follower's hook whose batches do not
 * start at end is judged by producer_state_follow: already read by a load
 * made after their append (skipped), the leader's own records in between
 * (kept), else rebuilt. A follower's truncation (and a log emptied to
 * start at its leader's start) rebuilds it at once
 * (producer_state_reload), as Kafka's truncateAndReload.
 *
 * What left the front of the log is in the log's producer snapshot (engine/prodsnap.c): before
 * retention or DeleteRecords moves a log's start, on a leader and on a
 * follower, producer_state_trim folds the batches that go into it. So
 * that a load does not read every batch header of a long log, the
 * scheduler's retention check writes a producer checkpoint too
 * (log_producer_checkpoint) at the newest segment behind the hw. The
 * load applies the newer of the two that holds, then the log's batches
 * after it: at most the segments written since the last check.
 *
 * Expiry (Kafka's removeExpiredProducers): a producer whose newest batch's
 * maxTimestamp is producer.id.expiration.ms or more before now is
 * forgotten, by producer_state_expire (the scheduler's periodic check) and
 * by producer_state_load (a rebuilt state holds no expired producer). It
 * is then unknown: its next batch may carry any sequence (rule 4).
 *
 * Locking: the caller holds mu across check, append and update, so a
 * duplicate sent twice at once cannot be appended twice. A leaf lock
 * apart from the log's (taken by the append inside it). A follower's
 * append is made without it (under the replica's partition lock, which
 * the leader's append path takes inside mu) and its hook takes mu after:
 * hence the offsets kept (end), which tell a hook whose batches a load
 * made meanwhile has read already.
 */
#ifndef MQFS_REPL_PRODUCER_STATE_H
#define MQFS_REPL_PRODUCER_STATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"

#define PRODUCER_BATCHES 5 /* Kafka's NumBatchesToRetain */

struct producer_batch {
	int32_t first_seq, last_seq;
	int64_t first_offset, last_offset;
	int32_t leader_epoch; /* the leader epoch that appended it */
};

struct producer_entry {
	int64_t producer_id;
	int16_t epoch;
	int64_t last_timestamp; /* maxTimestamp of its newest batch */
	int n;                  /* batches kept, up to PRODUCER_BATCHES */
	int next;               /* ring slot of the next one */
	struct producer_batch b[PRODUCER_BATCHES];
};

struct producer_state {
	pthread_mutex_t mu;
	bool loaded;              /* under mu: the state of the log (above) */
	int32_t loaded_epoch;     /* a leader's epoch; -1: a follower's */
	int64_t end;              /* the log end it was brought to */
	int32_t end_epoch;        /* leader epoch of the batch before end, -1 */
	struct producer_entry *e; /* sorted by producer id */
	int n, cap;
};

void producer_state_init(struct producer_state *ps);
void producer_state_destroy(struct producer_state *ps);
/* Forgets every producer. */
void producer_state_clear(struct producer_state *ps);

/* Judges a request's n batches (headers as log_batches_producers gives
 * them). 0: append them; 1: a duplicate, *first and *last the offsets
 * they were appended at, *epoch the leader epoch of that append (the
 * commit wait checks the record there is still that one); 2: rule 6,
 * append batches *bad.. only (*first the offset of the first duplicate);
 * -ESTALE, -EILSEQ as in the rules above, with *bad the index of the
 * batch that broke them (else -1). */
int producer_state_check(const struct producer_state *ps, const struct batch_producer_info *bi,
			 int n, int64_t *first, int64_t *last, int32_t *epoch, int *bad);
/* Keeps appended batches (offsets and leader epoch filled in). Batches without a producer
 * id are skipped; an epoch other than the kept one starts the producer
 * over. 0 or -ENOMEM. */
int producer_state_update(struct producer_state *ps, const struct batch_producer_info *bi, int n);
/* Makes the state that of log l's batches, for leader epoch epoch (-1:
 * a follower's, as its appends keep it), unless it already is (above),
 * without the producers expired at now_ms (wall clock) for
 * expiration_ms. Called with mu held. 0, or the scan's error (the state
 * is then empty and not loaded). */
int producer_state_load(struct producer_state *ps, struct log *l, int32_t epoch, int64_t now_ms,
			int64_t expiration_ms);
/* A follower appended the n batches bi (headers as log_batches_producers
 * gives them, offsets in log order) to l: kept (the state a follower's),
 * or, when the state was not brought to the first one's offset, loaded
 * from the log (which holds them). Called with mu held. 0, -ENOMEM or
 * the scan's error (the state is then not loaded). */
int producer_state_follow(struct producer_state *ps, struct log *l,
			  const struct batch_producer_info *bi, int n, int64_t now_ms,
			  int64_t expiration_ms);
/* Rebuilds the state from l as it is now (a follower's): after a
 * truncation cut the log, or emptied it. Called with mu held. 0 or the
 * scan's error (the state is then not loaded). */
int producer_state_reload(struct producer_state *ps, struct log *l, int64_t now_ms,
			  int64_t expiration_ms);
/* The headers of the batches in buf[0..len) into *bi: stack (n_stack
 * entries) when they fit, else malloc'ed (the caller frees it when it is
 * not stack). The count; 0 when the bytes do not frame; -ENOMEM. */
int producer_state_headers(const uint8_t *buf, size_t len, struct batch_producer_info *stack,
			   int n_stack, struct batch_producer_info **bi);
/* The broker's trim listener (log_set_trim_listener; arg: a pointer to
 * producer.id.expiration.ms, or NULL: none expire): writes the log's
 * producer snapshot which (the front one, or the checkpoint) up to
 * offset, the newest snapshot below it and the batches up to offset
 * folded in (producers expired now left out). Runs with the log's
 * maint_lock held; takes no producer_state's lock (its own state). 0, or
 * the scan's or the write's error. */
int producer_state_trim(void *arg, struct log *l, int64_t offset, enum log_snap which);
/* At a clean stop of a partition that has had no other leader (a single
 * node's), once its log is flushed: the state, when loaded (and so kept
 * current by every append since), written as the log's producer
 * checkpoint at the log end (producers expired for *expiration_ms left
 * out), so that the next start's load reads no batch header, as Kafka's
 * snapshot at close. Takes ps->mu. 1: the state was loaded (written, or
 * nothing to write: an empty log, no epoch), 0: not loaded, nothing
 * written (the caller rebuilds it from the log: log_producer_checkpoint_at_stop),
 * or the write's error. */
int producer_state_stop_checkpoint(struct producer_state *ps, struct log *l,
				   const int64_t *expiration_ms);
/* Forgets the producers whose last batch's timestamp is expiration_ms or
 * more before now_ms. Called with mu held. Returns how many went. */
int producer_state_expire(struct producer_state *ps, int64_t now_ms, int64_t expiration_ms);
/* One producer as DescribeProducers lists it (Kafka's ProducerState of
 * an idempotent producer). */
struct producer_summary {
	int64_t producer_id;
	int16_t epoch;
	int32_t last_seq;       /* of its newest batch; -1: none kept */
	int64_t last_timestamp; /* maxTimestamp of its newest batch */
};
/* The producers kept, by producer id, into *out (malloc'ed, the caller
 * frees it; NULL for none). Called with mu held. The count, or -ENOMEM. */
int producer_state_list(const struct producer_state *ps, struct producer_summary **out);
/* The producers kept (for .state and tests). */
static inline int producer_state_count(const struct producer_state *ps)
{
	return ps->n;
}

#endif
