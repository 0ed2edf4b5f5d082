/*
 * group_serve.h — private to repl/: Kafka's consumer group APIs on the
 * broker listener (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetCommit, OffsetFetch), over the same groups and
 * committed offsets as the mount's MNT/<topic>/.groups/<group>/ (see
 * group_serve.c for the rules).
 *
 * Life: the cluster makes one after kafka_api (group_serve_new), registers
 * it on its listener before starting it, stops it before stopping the
 * listener (group_serve_stop answers every parked JoinGroup and SyncGroup,
 * so that net_server_stop does not wait for them) and frees it after.
 * The broker's group coordinator (b->gc) outlives it.
 */
#ifndef MQFS_REPL_GROUP_SERVE_H
#define MQFS_REPL_GROUP_SERVE_H

#include "repl/kafka_api.h"
#include "repl/net.h"

struct group_serve;

/* Starts the session timer thread and hooks into the coordinator, so that
 * mount members and Kafka members never share a group at once. */
int group_serve_new(struct kafka_api *ka, struct group_serve **out);
/* Registers the seven APIs with srv (before net_server_start). */
int group_serve_register(struct group_serve *gs, struct net_server *srv);
/* Answers parked requests (COORDINATOR_NOT_AVAILABLE), refuses new ones
 * alike, stops the timer thread and unhooks. Idempotent; NULL is fine. */
void group_serve_stop(struct group_serve *gs);
void group_serve_free(struct group_serve *gs);

/* IncrementalAlterConfigs of a GROUP resource (group_admin_serve.c):
 * Kafka's code, the reason in msg. admin_serve.c hands them here. */
struct proto_alter_configs_resource;
int16_t group_admin_alter(struct broker *b, const struct proto_alter_configs_resource *res,
			  bool incremental, bool validate_only, const char *peer, char *msg,
			  size_t cap);
/* DescribeConfigs of the GROUP resource id: r's configs (one block,
 * malloc'ed: free(r->configs)), or Kafka's code with the reason in msg. */
struct proto_describe_configs_result;
int16_t group_admin_describe_configs(struct broker *b, struct kstr id, const char *peer,
				     struct proto_describe_configs_result *r, char *msg,
				     size_t cap);

#endif
