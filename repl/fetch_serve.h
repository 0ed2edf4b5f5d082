/*
 * fetch_serve.h — the leader's side of replication on the broker listener
 * (and a follower's side of consumers' reads, KIP-392):
 * the Fetch (api key 1) and OffsetForLeaderEpoch (23) handlers, and the
 * fetch purgatory where a Fetch with nothing new waits (parked, not on a
 * thread) for the LEO or the hw to move, or for its max_wait_ms. Private to
 * repl/; the cluster wiring owns one per broker.
 *
 * Wiring (in this order):
 *   fetch_serve_new(lookup)       before the listener starts
 *   fetch_serve_register(fs, srv) before net_server_start
 *   fetch_serve_wake(fs)          from the engine's LEO and hw listeners
 *                                 of every partition (any thread, any lock:
 *                                 it only signals)
 *   fetch_serve_stop(fs)          before net_server_stop: answers every
 *                                 parked fetch with what there is
 *   fetch_serve_free(fs)          after net_server_free
 */
#ifndef MQFS_REPL_FETCH_SERVE_H
#define MQFS_REPL_FETCH_SERVE_H

#include <stdint.h>

#include "repl/kbuf.h"
#include "repl/net.h"
#include "repl/partition.h"
#include "repl/replica_select.h"

/* Finds the local replica of (topic, index) and returns it with a
 * reference taken (the handler drops it), or NULL when this broker has no
 * such replica. Called on worker threads and the purgatory thread; must
 * not block on the network. */
typedef struct partition *(*fetch_serve_lookup_fn)(void *arg, struct kstr topic, int32_t index);

struct fetch_serve;

/* Starts the purgatory's thread. now_ms may be NULL (the monotonic clock
 * in ms); tests pass their own. -ENOMEM, -errno of pthread_create. */
int fetch_serve_new(fetch_serve_lookup_fn lookup, void *arg, int64_t (*now_ms)(void),
		    struct fetch_serve **out);
/* The SASL user a follower's fetch (replica_id >= 0) must come as: the
 * brokers' own (cr->user). Another user's gets TOPIC_AUTHORIZATION_FAILED
 * for every partition, as Kafka answers a follower without ClusterAction:
 * its fetch positions move the high watermark. NULL or "": any user. Set
 * before the listener starts; user must outlive fs. */
void fetch_serve_set_replica_user(struct fetch_serve *fs, const char *user);
/* Whether the cluster's metadata names the partition (topic, index): for
 * one with no replica here, Kafka's metadataCache.contains. */
typedef bool (*fetch_serve_known_fn)(void *arg, struct kstr topic, int32_t index);
/* A broker that knows partitions it holds no replica of (a cluster's
 * UpdateMetadata): its Fetch and OffsetForLeaderEpoch answer such a one
 * NOT_LEADER_OR_FOLLOWER, as Kafka's ReplicaManager (HostedPartition.None
 * of a partition in the metadata), not UNKNOWN_TOPIC_OR_PARTITION, which
 * stays for one the metadata does not name. NULL (a single node): every
 * partition without a replica is unknown. Set before the listener
 * starts. */
void fetch_serve_set_known(struct fetch_serve *fs, fetch_serve_known_fn known, void *arg);
/* The error for a partition with no replica here, by known (NULL: none
 * is known): NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION. Shared
 * with ListOffsets. */
int16_t fetch_serve_no_replica(fetch_serve_known_fn known, void *arg, struct kstr topic,
			       int32_t index);
/* The leader's replication throttle (throttle.h; NULL: none): a
 * follower's fetch gets no records of a partition it holds back, and the
 * records of throttled partitions sent count against it. Set before the
 * listener starts; quota must outlive fs. */
struct throttle_quota;
void fetch_serve_set_throttle(struct fetch_serve *fs, struct throttle_quota *quota);
/* The client quotas (client_quota.h) a consumer's Fetch records its
 * response's bytes into, never a follower's: over consumer_byte_rate
 * the response goes without records, with the throttle time (Kafka's
 * KIP-219 fetch). Before the listener starts; NULL: none. */
struct client_quotas;
void fetch_serve_set_client_quotas(struct fetch_serve *fs, struct client_quotas *q);
/* The incremental fetch sessions' cache (fetch_session.h): Kafka's
 * max.incremental.fetch.session.cache.slots (0: none) and
 * min.incremental.fetch.session.eviction.ms; 1000 and 120000 unless
 * set. Before the listener starts. -ENOMEM (the old cache kept). */
int fetch_serve_set_sessions(struct fetch_serve *fs, int32_t slots, int64_t eviction_ms);
/* Sessions held now (tests, metrics). */
int32_t fetch_serve_sessions(struct fetch_serve *fs);
/* The partitions they hold, all told (tests, metrics). */
int32_t fetch_serve_session_partitions(struct fetch_serve *fs);
/* Fetching from the closest replica (KIP-392): the broker's
 * replica.selector.class, and rack, which says whether a broker is alive
 * with an endpoint of a listener and its rack (replica_select.h). As
 * leader, a consumer's Fetch v11+ whose rack_id the selector maps to
 * another replica is answered that preferred_read_replica, without
 * records. Unset (or rack NULL): none, consumers read from the leader.
 * Whatever the selector, a follower serves a consumer's Fetch v11+ up to
 * its own hw, as Kafka's. Before the listener starts. */
void fetch_serve_set_selector(struct fetch_serve *fs, enum replica_selector s, replica_rack_fn rack,
			      void *arg);
/* What followers served consumers (metrics): the consumer Fetch requests
 * that read a partition on a follower here, their record bytes, and the
 * partitions this broker answered as leader with a preferred read
 * replica. fs NULL: zeros. */
struct fetch_serve_follower_stats {
	int64_t consumer_fetches;
	int64_t consumer_bytes_out;
	int64_t preferred_answers;
};
void fetch_serve_follower_stats(struct fetch_serve *fs, struct fetch_serve_follower_stats *st);
/* Registers both handlers with srv. */
int fetch_serve_register(struct fetch_serve *fs, struct net_server *srv);
void fetch_serve_wake(struct fetch_serve *fs);
/* Answers the parked fetches that are ready now on the caller's thread,
 * as the purgatory's thread does after a wake-up; for an appender that
 * holds no lock (produce.c, after its append moved the LEO): the records
 * leave for the followers without waiting for the thread to be
 * scheduled, which on a loaded machine took most of a millisecond. */
void fetch_serve_kick(struct fetch_serve *fs);
/* Rules 1-3 of a Fetch (fetch_serve.c), shared by OffsetForLeaderEpoch and
 * ListOffsets: 0, or UNKNOWN_TOPIC_OR_PARTITION (p NULL),
 * KAFKA_STORAGE_ERROR (the replica is offline: partition_mark_offline),
 * FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH (current_leader_epoch -1:
 * not checked, another negative one is fenced; a follower's epoch is
 * checked too, before the leadership, as Kafka's; a Fetch passes its
 * negative ones as -1), NOT_LEADER_OR_FOLLOWER. */
int16_t fetch_serve_epoch_check(struct partition *p, int32_t current_leader_epoch);
/* Record bytes sent to followers (replica_id >= 0) since the start: the
 * leader's side of replication (metrics). NULL: 0. */
int64_t fetch_serve_replica_bytes_out(struct fetch_serve *fs);
/* Whether the purgatory's thread sleeps without a deadline: nothing
 * parked through an idle tick (tests). */
bool fetch_serve_asleep(struct fetch_serve *fs);
/* Parked fetches now (tests, metrics). */
int fetch_serve_parked(struct fetch_serve *fs);
/* Times the purgatory's thread looked at its parked fetches (tests). */
int64_t fetch_serve_scans(struct fetch_serve *fs);
void fetch_serve_stop(struct fetch_serve *fs);
void fetch_serve_free(struct fetch_serve *fs);

#endif
