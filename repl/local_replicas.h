/*
 * local_replicas.h — private to repl/: a single node's partitions as the
 * replicas the Fetch and ListOffsets handlers serve from (fetch_serve.h,
 * offsets_serve.h), so that Kafka clients consume from a node with
 * listeners= through the same code as from a cluster's leader.
 *
 * Each lookup makes a partition object (partition.h) over the partition's
 * log, leader at the broker's epoch (0) with this broker alone as replica
 * and ISR (kafka_partition_state), holding a reference to the log until
 * the request that looked it up is done. Its hw is the produce path's: on
 * one node the appender moves it (produce.c), so the object never moves
 * it itself (its set_hw does nothing).
 *
 * Wiring (cluster.c, a node without zookeeper.connect):
 *   local_replicas_start  before net_server_start: the purgatory, Fetch,
 *                         OffsetForLeaderEpoch and ListOffsets handlers,
 *                         the broker's hw wake-up
 *   local_replicas_stop   before net_server_stop: the wake-up removed,
 *                         parked fetches answered with what there is
 *   local_replicas_free   after net_server_free
 */
#ifndef MQFS_REPL_LOCAL_REPLICAS_H
#define MQFS_REPL_LOCAL_REPLICAS_H

#include "repl/fetch_serve.h"
#include "repl/kafka_api.h"

struct local_replicas;

/* -ENOMEM, fetch_serve_new's and net_server_handle's errors. */
int local_replicas_start(struct kafka_api *ka, struct net_server *srv, struct local_replicas **out);
void local_replicas_stop(struct local_replicas *lr);
/* NULL is fine. */
void local_replicas_free(struct local_replicas *lr);

/* The lookup (fetch_serve_lookup_fn, arg the struct kafka_api): a new
 * leader replica of (topic, index), or NULL when there is none. */
struct partition *local_replicas_lookup(void *arg, struct kstr topic, int32_t index);
/* Parked fetches now (tests). */
int local_replicas_parked(struct local_replicas *lr);

#endif
