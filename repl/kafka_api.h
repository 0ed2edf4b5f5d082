/*
 * kafka_api.h — private to repl/: the Kafka client APIs on the broker
 * listener, so that kcat, librdkafka or any Kafka producer appends to the
 * same logs the mount shows. The handlers run on the listener's worker
 * threads (net.h); each file owns one API:
 *
 *   kafka_produce.c    Produce (0)   record batches appended as sent
 *   kafka_metadata.c   Metadata (3)  brokers, cluster id, controller,
 *                                    topics and partitions; auto-creation;
 *                      DescribeCluster (60) the same without topics
 *   kafka_elect.c      ElectLeaders (43) the controller's elections
 *   kafka_reassign.c   AlterPartitionReassignments (45),
 *                      ListPartitionReassignments (46) the controller's
 *                                    replica moves
 *   kafka_log_dirs.c   DescribeLogDirs (35) the data directory, its
 *                                    partitions' sizes, its disk's space
 *   kafka_dtoken.c     CreateDelegationToken (38), Renew (39), Expire
 *                      (40), DescribeDelegationToken (41): delegation
 *                      tokens in ZooKeeper (a cluster's only)
 *   kafka_producers.c  DescribeProducers (61) a partition leader's
 *                                    idempotent producers
 *   kafka_quotas.c     DescribeClientQuotas (48), AlterClientQuotas (49)
 *                                    the client quotas in ZooKeeper
 *   admin_serve.c      CreateTopics (19), DeleteTopics (20),
 *                      CreatePartitions (37), DescribeConfigs (32),
 *                      AlterConfigs (33), IncrementalAlterConfigs (44):
 *                                    topics and their settings, through
 *                                    the same calls as mkdir, rmdir and
 *                                    .config
 *
 * What the cluster will extend goes through two functions here, so that
 * the handlers stay the same on one node and on many:
 *   kafka_partition_state  who leads a partition, its epoch, replicas and
 *                          ISR (one node: this broker, epoch 0, alone);
 *   kafka_brokers          the brokers a client may connect to, with the
 *                          endpoint of the listener it came in on.
 *
 * Wiring: cluster.c registers the handlers (kafka_api_register) on the
 * listener it owns, before starting it; the struct kafka_api lives in the
 * cluster and outlives the listener.
 */
#ifndef MQFS_REPL_KAFKA_API_H
#define MQFS_REPL_KAFKA_API_H

#include <stdbool.h>
#include <stdint.h>

#include "repl/kbuf.h"
#include "repl/metadata_cache.h"
#include "repl/net.h"

struct broker;
struct cluster;
struct topic;

struct kafka_api {
	struct broker *b;
	struct cluster *c;
};

/* Registers Produce and Metadata with srv (before net_server_start). */
int kafka_api_register(struct kafka_api *ka, struct net_server *srv);

/* A partition as Metadata reports it and as Produce checks it. */
#define KAFKA_MAX_REPLICAS 16
struct kafka_part_state {
	int32_t leader; /* broker id, -1: none */
	int32_t leader_epoch;
	int32_t n_replicas;
	int32_t replicas[KAFKA_MAX_REPLICAS];
	int32_t n_isr;
	int32_t isr[KAFKA_MAX_REPLICAS];
	int32_t n_offline; /* Metadata's offline replicas (kafka_metadata.c) */
	int32_t offline[KAFKA_MAX_REPLICAS];
};
/* The state of partition p of t: 0; -ENOENT no such partition (or the
 * topic deleted). On one node this broker leads every partition it has,
 * at epoch 0, with itself as the only replica and ISR; a replicated
 * topic's is the cluster's (cluster_partition_state). */
int kafka_partition_state(struct kafka_api *ka, struct topic *t, int32_t p,
			  struct kafka_part_state *st);
/* This broker's id. */
int32_t kafka_broker_id(struct kafka_api *ka);

/* A reference to the log of partition p of t (log_unref when done): 0;
 * -ENOENT no such partition (or the topic deleted). Takes t's lock
 * briefly; the log stays readable after a delete until the reference goes. */
struct log;
int kafka_partition_log(struct topic *t, int32_t p, struct log **out);

/* Called, after the broker's hw listener, whenever the hw of any local
 * partition moved (the fetch purgatory's wake-up: it may only signal).
 * fn NULL removes it; the call returns once no call of the old one runs. */
void kafka_set_hw_waker(struct kafka_api *ka, void (*fn)(void *arg), void *arg);

/* One broker as a client reaches it on one listener. */
struct kafka_node {
	int32_t node_id;
	char host[NET_MAX_HOST + 1];
	int32_t port;
	char rack[METADATA_RACK_MAX]; /* broker.rack, "" for none (null) */
};
/* The brokers that have an endpoint named as listener `listener` of this
 * broker (clients connect to the same kind of listener they used), sorted
 * by id; *out malloc'ed. The count, or -ENOMEM. */
int kafka_brokers(struct kafka_api *ka, int listener, struct kafka_node **out);

/* The topic named name (a new reference), created with the broker
 * defaults (owner root, mode 0755) when create is set and
 * auto.create.topics.enable is true. -ENOENT unknown (not created);
 * -EINVAL not a valid topic name; the creation's errors. */
int kafka_topic_find(struct kafka_api *ka, struct kstr name, bool create, struct topic **out);

/* Registers CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, AlterConfigs and IncrementalAlterConfigs
 * (admin_serve.c; kafka_api_register calls it). */
int admin_serve_register(struct kafka_api *ka, struct net_server *srv);

/* Registers Produce alone (kafka_api_register calls it). */
int kafka_produce_register(struct kafka_api *ka, struct net_server *srv);
/* Registers InitProducerId (kafka_producer_id.c). */
int kafka_producer_id_register(struct kafka_api *ka, struct net_server *srv);

/* Registers ElectLeaders (kafka_elect.c). */
int kafka_elect_register(struct kafka_api *ka, struct net_server *srv);
/* Registers AlterPartitionReassignments and ListPartitionReassignments
 * (kafka_reassign.c). */
int kafka_reassign_register(struct kafka_api *ka, struct net_server *srv);
/* Registers DescribeLogDirs (kafka_log_dirs.c). */
int kafka_log_dirs_register(struct kafka_api *ka, struct net_server *srv);
/* Registers the delegation token APIs, 38-41 (kafka_dtoken.c): a
 * cluster's only. */
int kafka_dtoken_register(struct kafka_api *ka, struct net_server *srv);
/* Registers DescribeProducers (kafka_producers.c). */
int kafka_producers_register(struct kafka_api *ka, struct net_server *srv);
/* DescribeUserScramCredentials (50), AlterUserScramCredentials (51):
 * kafka_scram.c. */
int kafka_scram_register(struct kafka_api *ka, struct net_server *srv);
/* DescribeAcls (29), CreateAcls (30), DeleteAcls (31): kafka_acls.c. */
int kafka_acls_register(struct kafka_api *ka, struct net_server *srv);
/* DescribeClientQuotas (48), AlterClientQuotas (49): kafka_quotas.c. */
int kafka_quotas_register(struct kafka_api *ka, struct net_server *srv);

/* Kafka's error for our -errno in a Produce partition response, and the
 * message for its error_message (NULL: none). */
int16_t kafka_produce_error(int err, const char **message);

#endif
