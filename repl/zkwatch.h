/*
 * zkwatch.h — private to repl/: one armed ZooKeeper watch per path, for
 * owners that watch many znodes of the same kind (the data of every
 * /brokers/topics/<t>, so that a topic's grown assignment is seen; every
 * broker registration and their list, for the controller) and
 * re-read them all on every change: arming again a watch that has not
 * fired would stack one more one-shot callback each time (zkc keeps every
 * one until it fires), so the set remembers which paths are armed.
 *
 *   zkwatch_arm    arms an exists-watch on path unless one is armed (from
 *                  the owner's thread: it talks to the server)
 *   zkwatch_claim  for a watch of another kind (a get's data watch, a
 *                  listing's children watch): 1 when path was not armed
 *                  and now counts as armed (the caller arms it, and calls
 *                  zkwatch_fired if that fails), 0 when it is armed
 *   zkwatch_fired  from the owner's watch callback (the completion
 *                  thread): the path is no longer armed
 *   zkwatch_armed  whether path's watch is armed (has not fired since)
 *   zkwatch_keep   unlists every path not among keep[0..n) (an owner that
 *                  uses the set as a set of names: those still listed)
 *   zkwatch_reset  after a session expiry (its watches are gone)
 *
 * Locks: mu, a leaf, held only to look up or change the set.
 */
#ifndef MQFS_REPL_ZKWATCH_H
#define MQFS_REPL_ZKWATCH_H

#include <pthread.h>
#include <stdbool.h>

#include "repl/zkc.h"

struct zkwatch_set {
	pthread_mutex_t mu;
	char **paths; /* armed, malloc'ed */
	int n;
};

void zkwatch_init(struct zkwatch_set *s);
/* 0 (armed now or already); zkc_exists' errors (the path is not armed). */
int zkwatch_arm(struct zkwatch_set *s, struct zkc *zk, const char *path, zkc_watch_fn *fn,
		void *arg);
/* 1 (the caller arms path's watch), 0 (armed already), -ENOMEM. */
int zkwatch_claim(struct zkwatch_set *s, const char *path);
void zkwatch_fired(struct zkwatch_set *s, const char *path);
bool zkwatch_armed(struct zkwatch_set *s, const char *path);
void zkwatch_keep(struct zkwatch_set *s, char **keep, int n);
void zkwatch_reset(struct zkwatch_set *s);
/* Resets and destroys. */
void zkwatch_destroy(struct zkwatch_set *s);

#endif
