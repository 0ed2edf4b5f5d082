/*
 * replfx.h — what the replication tests share: one temporary directory for
 * the whole test binary (made by the group setup, removed by the group
 * teardown), a loopback listener sized for tests (one network thread, two
 * I/O threads) that the caller registers its handlers on before starting
 * it, and a replica's state read through its replica manager.
 */
#ifndef MQFS_TESTS_REPLFX_H
#define MQFS_TESTS_REPLFX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repl/net.h"
#include "repl/partition.h"
#include "repl/replica_mgr.h"

/* Makes /tmp/mqfs-test-<tag>.XXXXXX into dir (cap bytes). 0 or -1, so a
 * cmocka setup can return it. */
int replfx_mkdtemp(char *dir, size_t cap, const char *tag);
/* Removes dir and everything below it. 0 or -1. */
int replfx_rmrf(const char *dir);

/* A listener on 127.0.0.1:port (0: a free port), PLAINTEXT, or
 * SASL_PLAINTEXT when sasl is true (users looked up through lookup), not
 * started: the caller registers its handlers, then replfx_listener_start. */
void replfx_listener_new(bool sasl, int port, sasl_lookup_fn lookup, void *lookup_arg,
			 struct net_server **srv);
/* Starts srv and returns the port it listens on. */
int replfx_listener_start(struct net_server *srv);

/* The state of rm's replica of topic-partition, which must exist. */
struct partition_info replfx_info(struct replica_mgr *rm, const char *topic, int32_t partition);

#endif
