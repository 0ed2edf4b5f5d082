/*
 * brokerfx.h — the fixture the Kafka listener tests of a single node share:
 * a broker (repl/broker.c) over a temporary data directory, its listener on
 * a free port of 127.0.0.1, and one client connected to it. The tests send
 * requests built by the codec (or by hand) over that real socket.
 */
#ifndef MQFS_TESTS_BROKERFX_H
#define MQFS_TESTS_BROKERFX_H

#include <stdint.h>

#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/net.h"

/* How long a test waits for a connection or an answer. */
#define BROKERFX_DEADLINE_MS 10000

struct brokerfx {
	char dir[64];
	struct broker_config cfg;
	struct broker *b; /* NULL while closed */
	int port;         /* the listener's, once open */
	struct net_client *c;
};

/* cmocka setup: a new fixture in *state, in /tmp/mqfs-test-<tag>.XXXXXX,
 * the broker's settings "listeners=PLAINTEXT://127.0.0.1:0" and then
 * extra (lines of broker properties, "" for none), opened
 * (brokerfx_open). */
int brokerfx_setup(void **state, const char *tag, const char *extra);
/* cmocka teardown: closes (if open), removes the directory, frees. */
int brokerfx_teardown(void **state);
/* Opens the broker with f->cfg and connects f->c to its listener. */
void brokerfx_open(struct brokerfx *f);
/* Closes f->c and the broker (cleanly: its files stay). */
void brokerfx_close(struct brokerfx *f);
/* Another client on the listener; the caller closes it. */
struct net_client *brokerfx_connect(struct brokerfx *f);
/* Sends the request body in w (api at version v; w is freed) on c and
 * asserts an answer came, in raw (the caller frees it). */
void brokerfx_call(struct net_client *c, int16_t api, int16_t v, struct kbuf_w *w,
		   struct net_resp *raw);

/* The error of a DeleteGroups v2 answer about one group (raw, freed).
 * For any test that deletes groups, with this fixture or another. */
int16_t brokerfx_delete_groups_error(struct net_resp *raw);

/* The line view of group's partition of b's __consumer_offsets, as a
 * replay reads it, into buf (NUL-terminated, at most cap - 1 bytes): its
 * length. */
size_t brokerfx_offsets_text(struct broker *b, const char *group, char *buf, size_t cap);

#endif
