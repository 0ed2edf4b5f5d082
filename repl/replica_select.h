/*
 * replica_select.h — fetching from the closest replica (Kafka's KIP-392):
 * the broker's replica.selector.class (Kafka's ReplicaSelector,
 * LeaderSelector and RackAwareReplicaSelector) and the leader's choice of
 * a consumer's preferred read replica (ReplicaManager's
 * findPreferredReadReplica). Pure functions: the Fetch handler
 * (fetch_serve.c) gives them the partition's state and the brokers'
 * racks. Private to repl/.
 */
#ifndef MQFS_REPL_REPLICA_SELECT_H
#define MQFS_REPL_REPLICA_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repl/kbuf.h"
#include "repl/partition.h"

#define REPLICA_SELECTOR_LEADER_CLASS "org.apache.kafka.common.replica.LeaderSelector"
#define REPLICA_SELECTOR_RACK_CLASS   "org.apache.kafka.common.replica.RackAwareReplicaSelector"

enum replica_selector {
	REPLICA_SELECTOR_NONE,       /* Kafka's default (null): leader only */
	REPLICA_SELECTOR_LEADER,     /* LeaderSelector: the leader, always */
	REPLICA_SELECTOR_RACK_AWARE, /* RackAwareReplicaSelector */
};

/* The setting's value: one of the two class names above, or "" (none).
 * -EINVAL for any other (Kafka fails to start on a class it cannot
 * load). */
int replica_selector_parse(const char *name, enum replica_selector *out);
/* The class name, "" for none. */
const char *replica_selector_name(enum replica_selector s);

/* One candidate replica, Kafka's ReplicaView. */
struct replica_view {
	int32_t id;
	bool endpoint;    /* alive with an endpoint (else Kafka's Node.noNode) */
	const char *rack; /* its broker.rack, NULL none */
	int64_t log_end_offset;
	int64_t since_caught_up_ms; /* now - its last caught-up time; 0 the leader */
};

/* Kafka's ReplicaSelector.select over v[0..n), v[leader] the leader: the
 * index chosen, or -1 (REPLICA_SELECTOR_NONE, which chooses nothing).
 * RackAware: with a client rack (non-empty), among the replicas in it the
 * leader when it is one of them, else the most caught up (largest LEO,
 * then the least time since it was caught up, then the largest id: Kafka's
 * ReplicaView.comparator's max); none in it, or no client rack: the
 * leader. */
int replica_select(enum replica_selector s, struct kstr client_rack, const struct replica_view *v,
		   int n, int leader);

/* Whether broker_id is alive with an endpoint of the listener the fetch
 * came in on (Kafka's metadataCache.getPartitionReplicaEndpoints); its
 * broker.rack into rack ("" none). */
typedef bool (*replica_rack_fn)(void *arg, int32_t broker_id, int listener, char *rack, size_t cap);

/* Kafka's findPreferredReadReplica for a consumer's Fetch at fetch_offset
 * on the leader described by info (role LEADER): the candidates are the
 * leader (its LEO, caught up now) and each follower in the ISR whose log
 * start <= fetch_offset <= its LEO; the selector picks one; the answer is
 * its broker id when it is not the leader and has an endpoint, else -1
 * (the leader serves the fetch). -1 too when info is not a leader's or s
 * is NONE. */
int32_t replica_preferred_read(enum replica_selector s, struct kstr client_rack,
			       const struct partition_info *info, int64_t fetch_offset,
			       int64_t now_ms, replica_rack_fn rack, void *arg, int listener);

#endif
