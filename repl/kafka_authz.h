/*
 * kafka_authz.h — private to repl/: what every handler of the broker
 * listener asks before it acts (kafka_authz.c, acl.h).
 */
#ifndef MQFS_REPL_KAFKA_AUTHZ_H
#define MQFS_REPL_KAFKA_AUTHZ_H

#include <stdbool.h>
#include <stdint.h>

#include "repl/acl.h"
#include "repl/kbuf.h"
#include "repl/net.h"

/* Whether req's principal (User:<SASL user>, User:ANONYMOUS on
 * PLAINTEXT) from its peer's address may do op (acl.h's enum acl_op) on
 * the resource (enum acl_resource_type, name); always true without
 * authorizer.class.name. A refusal is logged, rate limited. Every
 * handler asks here, before it acts, what KafkaApis asks its authorizer. */
bool kafka_authorize(const struct net_req *req, int op, int rtype, struct kstr name);
/* The same, a refusal not logged: what Kafka asks with logIfDenied
 * false (Metadata's list of every topic filtered, a CREATE tried on the
 * cluster before the topic). */
bool kafka_may(const struct net_req *req, int op, int rtype, struct kstr name);
/* The same on the cluster resource (kafka-cluster). */
bool kafka_authorize_cluster(const struct net_req *req, int op);
/* Fetch: a follower's (replica) CLUSTER_ACTION on the cluster, a
 * consumer's READ on the topic. */
bool kafka_authorize_fetch(const struct net_req *req, bool replica, struct kstr topic);
/* Whether op is allowed on some resource of the type (InitProducerId:
 * WRITE on any topic). */
bool kafka_authorize_any(const struct net_req *req, int op, int rtype);
/* The authorized-operations bit field of the resource (Metadata v8+,
 * DescribeCluster, DescribeGroups v3+): every operation Kafka defines on
 * the type without authorizer (PROTO_OPS_*). */
int32_t kafka_authorized_ops(const struct net_req *req, int rtype, struct kstr name);

#endif
