/*
 * forward.h — private to repl/: a mount's write on a broker that does not
 * lead the partition, sent to the leader as a Kafka Produce request by an
 * idempotent producer that is this broker (forward.c).
 */
#ifndef MQFS_REPL_FORWARD_H
#define MQFS_REPL_FORWARD_H

#include <stdint.h>

#include "engine/engine.h"

struct cluster_repl;
struct forwarder;
struct partition;
struct producer_ids;
struct topic;
struct topic_config;

/* The broker's forwarder (in a ZooKeeper cluster): connections to the
 * leaders; its producer ids from pids (the broker's, outliving it).
 * -ENOMEM. */
int forwarder_new(struct cluster_repl *cr, struct producer_ids *pids, int32_t broker_id,
		  struct forwarder **out);
/* Closes the connections. NULL is fine. No forward may be running. */
void forwarder_free(struct forwarder *f);

/* The partitions' leaders may have moved (cluster_repl's leaders
 * listener; arg is the forwarder): each Produce waiting for an answer from
 * a broker that no longer leads its partition stops waiting, and its
 * batches go to the new leader (the resend rule, forward.c). */
void forwarder_leaders_moved(void *arg);

/* Appends recs[0..n) to partition pt of t on its leader, elsewhere (or
 * here, once this broker leads it), encoded as lc says, with the
 * acknowledgement of acks
 * (acks=0 is sent as 1, so that errors come back); called by the
 * partition's appender only (it owns pt's forwarding sequence). Returns
 * what the leader acknowledged: 0 (for acks=all: committed); -EAGAIN
 * nothing appended (no leader within request.timeout.ms, fewer in-sync
 * replicas than min.insync.replicas); -ETIMEDOUT maybe appended, not
 * confirmed; -EMSGSIZE, -EIO, -ENOENT, -ENOMEM. Resends after
 * NOT_LEADER_OR_FOLLOWER or a lost connection are the same batches (same
 * producer id, epoch and sequences), which the leader appends once. */
int forward_records(struct forwarder *f, struct topic *t, struct partition *pt,
		    const struct log_config *lc, int acks, const struct rec_in *recs, int n);

/* Read your own writes: a write forwarded from this broker returns once
 * the leader committed it, and this broker's replica, in the ISR, learns
 * that hw from the leader's next fetch response, a round trip later (up
 * to 20 ms after a big write). forward_records calls this with the
 * offset after an acks=all write's records; the reads of this mount
 * (topic_read.c: st_size, the daemon's reads, an open through the page
 * cache) wait, for a bounded time, until the replica's hw reaches it. */
void forward_read_floor(struct topic *t, struct partition *pt, int64_t end);

#endif
