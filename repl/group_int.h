/*
 * group_int.h — private to repl/: the group coordinator's insides, shared
 * by group.c (coordinator, consume path) and its unit test.
 *
 * Locks, in this order (after broker.admin_mu, before topic.lock):
 *
 *   1. coord.call_mu   held by the notifier while it calls members' wake
 *                      callbacks; group_leave() takes it (with no other
 *                      lock) to wait out a call in flight on its member;
 *                      group_topic_deleted() takes it under admin_mu to
 *                      wake the members of the groups it drops
 *   2. coord.mu        the list of groups
 *   3. group.mu        members, assignment, positions, committed offsets;
 *                      held across reads of the topic and commits to
 *                      __consumer_offsets (which take topic locks: 4.)
 *   4. topic.lock ...  (broker_int.h)
 *   5. coord.wake_mu   a leaf: the hw listener runs under topic.lock and
 *                      produce_mu, so it only queues an event here
 */
#ifndef MQFS_REPL_GROUP_INT_H
#define MQFS_REPL_GROUP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "repl/assign.h"
#include "repl/broker_int.h"

#define GROUP_OFFSETS_TOPIC "__consumer_offsets"
#define GROUP_EVENTS 256

struct group_member;

struct gpart {
	struct group_member *owner;     /* NULL: unassigned */
	int64_t committed;              /* next offset to consume; -1: none yet */
	int64_t commit_ts;              /* ms of the commit */
	struct log_cursor *cursor;      /* the owner's reads (belongs to the group) */
	int64_t pos;                    /* owner's next line position, may be inside a
					 * line; -1: not known yet (the lookup of the
					 * committed offset failed, retried by a read) */
	int64_t commit_pos;             /* line position the owner last committed */
	uint32_t epoch;                 /* bumped whenever the owner changes */
};

/* Bytes [soff, soff + len) of a member's stream are the line view of
 * partition part at [lpos, lpos + len), returned while the member owned
 * part in epoch epoch. last_nl: bytes of the piece up to and including its
 * last '\n' (0: it holds none), so that a read at the piece's end needs no
 * look at the log to find the records it passed. */
struct gpiece {
	int64_t soff;
	int64_t lpos;
	int64_t len;
	int64_t last_nl;
	int part;
	uint32_t epoch;
};

struct group_member {
	struct group *g;
	char id[64];
	pid_t pid;
	bool active;                    /* in g->members */
	/* The member's stream (the consume file's bytes): [start, end) is
	 * what was returned and is not yet passed by a read's offset, kept as
	 * pieces (positions, not bytes: a read before end re-reads the log).
	 * Invariants: start <= end; pieces are in stream order, contiguous,
	 * and cover exactly [start, end); all come from the last read at end,
	 * so there are at most as many as partitions. */
	int64_t start, end;
	struct gpiece *pieces;
	int npieces, cap;
	int rr;                         /* partition a read starts with */
	void (*wake)(void *arg);
	void *wake_arg;
	bool armed;                     /* wake wanted when data may be there */
	struct group_member *next;
};

struct group {
	atomic_int refs;
	struct group_coord *gc;
	uint64_t id;
	char topic[TOPIC_NAME_MAX + 1];
	char name[TOPIC_NAME_MAX + 1];
	pthread_mutex_t mu;
	/* Under mu: */
	struct topic *t;                /* reference, NULL until first used */
	bool deleted;
	int strategy;                   /* enum assign_strategy */
	bool reset_latest;              /* auto.offset.reset=latest */
	int32_t session_timeout_ms;
	int32_t generation;
	uint64_t next_member;
	struct group_member *members;   /* join order */
	int nmembers;
	struct gpart *parts;
	int nparts;
};

struct group_event {
	char topic[TOPIC_NAME_MAX + 1];
	int partition;                  /* -1: every member of the topic's groups */
};

struct group_coord {
	struct broker *b;
	struct topic *offsets;          /* __consumer_offsets */
	pthread_mutex_t call_mu;
	pthread_mutex_t mu;
	struct group **groups;
	int ngroups, cap;
	uint64_t next_id;
	atomic_int armed;               /* armed members: the listener's fast path */

	pthread_t thr;
	bool running;
	pthread_mutex_t wake_mu;
	pthread_cond_t wake_cv;
	bool stop;
	bool all;                       /* the queue overflowed: wake everyone */
	struct group_event ev[GROUP_EVENTS];
	int nev;
};

/* Kafka's Utils.abs(groupId.hashCode()) % partitions. */
int group_offsets_partition(const char *group, int partitions);

#endif
