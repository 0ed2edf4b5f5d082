/*
 * ineligible.h — the partitions whose local replica may not lead yet,
 * as the broker registers them (Kafka's KIP-966). Private to repl/.
 *
 * A broker that restarts without its clean-shutdown marker may have lost
 * records it had acknowledged as a follower (they were not fsynced). Each
 * of its local logs is then ineligible as leader (partition.h, invariant
 * 9) until its replica is back in the ISR with every record committed
 * before the restart. The set starts as every local log of a replicated
 * topic found at open (an unclean start) or empty (a clean one); members
 * leave as their replicas catch up or their logs are deleted, never join
 * again. The broker's registration carries the set
 * ("ineligible_partitions", zkdata.h) and is rewritten when it shrinks, so
 * that the controller passes these replicas over in its elections.
 *
 * Threads: any; one mutex inside, a leaf.
 */
#ifndef MQFS_REPL_INELIGIBLE_H
#define MQFS_REPL_INELIGIBLE_H

#include <stdbool.h>
#include <stdint.h>

#include "repl/zkdata.h"

struct ineligible;

/* An empty set. -ENOMEM. */
int ineligible_new(struct ineligible **out);
void ineligible_free(struct ineligible *s);
/* Adds (topic, partition); already there: 0. -ENOMEM. */
int ineligible_add(struct ineligible *s, const char *topic, int32_t partition);
/* Whether (topic, partition) is in the set. */
bool ineligible_has(struct ineligible *s, const char *topic, int32_t partition);
/* 1 when (topic, partition) was there and is removed, 0 when it was not. */
int ineligible_remove(struct ineligible *s, const char *topic, int32_t partition);
/* A copy of the members (malloc'd topics and array, in the order added),
 * for a registration: the count, or -ENOMEM. Free with ineligible_copy_free. */
int ineligible_copy(struct ineligible *s, struct zk_tp **out);
void ineligible_copy_free(struct zk_tp *v, int n);

#endif
