/*
 * dtoken_zk.h — private to repl/: the delegation tokens' znodes
 * (dtoken.h has the layout), as Kafka's ZooKeeper-mode brokers read and
 * write them. Errors are zkc's (zkc.h), -ENOMEM, and -EBADMSG for a
 * document that does not decode (logged).
 *
 * Threads: any thread that may call ZooKeeper; no state but the follow
 * struct its owner keeps.
 */
#ifndef MQFS_REPL_DTOKEN_ZK_H
#define MQFS_REPL_DTOKEN_ZK_H

#include <stdbool.h>
#include <stdint.h>

#include "repl/dtoken.h"
#include "repl/zkc.h"

/* /delegation_token/tokens and /delegation_token/token_changes, made
 * when missing (Kafka's createDelegationTokenPaths). */
int dtoken_zk_ensure_paths(struct zkc *zk);
/* The token of id (dtoken_clear it): 0, -ENOENT, -EBADMSG. */
int dtoken_zk_read(struct zkc *zk, const char *id, struct dtoken *t);
/* Writes t's znode (set, or created), then the change notice every
 * broker reads (Kafka's updateToken). */
int dtoken_zk_write(struct zkc *zk, const struct dtoken *t);
/* Deletes the token's znode (gone already is fine), then the notice
 * (Kafka's removeToken). */
int dtoken_zk_delete(struct zkc *zk, const char *id);

/* What a broker's token cache has followed: the newest notice handled
 * (-1: none), and whether every token was read (a new session reads them
 * all again: loaded false). */
struct dtoken_follow {
	int64_t seen;
	bool loaded;
};
#define DTOKEN_FOLLOW_INIT \
	{                  \
		-1, false  \
	}
/* Lists the notices (arming watch), then: the first time every token
 * into the store, later each token a newer notice names (its znode gone:
 * dropped); notices older than max_age_ms deleted. 0, or zkc's error (to
 * be tried again). */
int dtoken_zk_follow(struct dtoken_follow *f, struct zkc *zk, struct dtoken_store *s,
		     zkc_watch_fn *watch, void *arg, int64_t now_ms, int64_t max_age_ms);

#endif
