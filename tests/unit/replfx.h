/*
 * replfx.h — what the replication tests share: one temporary directory for
 * the whole test binary (made by the group setup, removed by the group
 * teardown), a loopback listener sized for tests (one network thread, two
 * I/O threads) that the caller registers its handlers on before starting
 * it, a replica's state read through its replica manager; and what the
 * two test replica logs (tlog.c, elog.c) share, so that the same scenarios
 * give the same records on both: the records' values and timestamps, the
 * change listener, and a record's value looked up in its batch.
 */
#ifndef MQFS_TESTS_REPLFX_H
#define MQFS_TESTS_REPLFX_H

#include <pthread.h>
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

/* The value of record i of an append with prefix: "<prefix>-<i>" into
 * buf (cap bytes); returns its length. Its timestamp is REPLFX_TS0 + i. */
int replfx_value(char *buf, size_t cap, const char *prefix, int i);
#define REPLFX_TS0 1700000000000LL

/* A test log's change listener: set by the test, called after a change of
 * the LEO or the hw with no lock of the log held. The mutex guards only
 * fn and arg. */
struct replfx_notify {
	pthread_mutex_t mu;
	void (*fn)(void *arg);
	void *arg;
};

void replfx_notify_init(struct replfx_notify *nt);
void replfx_notify_destroy(struct replfx_notify *nt);
void replfx_notify_set(struct replfx_notify *nt, void (*fn)(void *arg), void *arg);
/* Calls the listener set, if any. */
void replfx_notify_fire(struct replfx_notify *nt);

/* The value of the record at offset among the record batches
 * buf[0..len) into out (NUL-terminated): 0, -ERANGE when no record there
 * has a value that fits cap bytes, -EBADMSG when buf is no batch. */
int replfx_value_in(const uint8_t *buf, size_t len, int64_t offset, char *out, size_t cap);

#endif
