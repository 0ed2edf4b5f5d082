/*
 * offsets_serve.h — private to repl/: the ListOffsets (api key 2) handler
 * over the same local replicas as the Fetch handler (fetch_serve.h), so
 * that a client asking where a partition starts, ends or reaches a time
 * gets the answer of the replica it then fetches from, on one node and in
 * a cluster alike.
 *
 * The owner keeps a struct offsets_serve (its lookup, the one it gives
 * fetch_serve_new) alive until the listener is freed, and registers it
 * before net_server_start.
 */
#ifndef MQFS_REPL_OFFSETS_SERVE_H
#define MQFS_REPL_OFFSETS_SERVE_H

#include "repl/fetch_serve.h"

struct offsets_serve {
	fetch_serve_lookup_fn lookup;
	void *arg;
	fetch_serve_known_fn known; /* fetch_serve_set_known's; NULL: none */
	void *known_arg;
};

int offsets_serve_register(struct offsets_serve *os, struct net_server *srv);

#endif
