/*
 * cluster.h — private to repl/: the broker's cluster-mode lifecycle
 * (cluster.c). broker_open calls cluster_open last when zookeeper.connect
 * or listeners is set; broker_close calls cluster_stop first (no request
 * is served while the broker shuts down) and cluster_close last (the
 * registration goes once the local shutdown is done).
 */
#ifndef MQFS_REPL_CLUSTER_H
#define MQFS_REPL_CLUSTER_H

#include <stdio.h>

struct broker;
struct broker_config;
struct cluster;

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

#endif
