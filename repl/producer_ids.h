/*
 * producer_ids.h — private to repl/: producer ids for idempotent
 * producers, in blocks taken from ZooKeeper as Kafka's brokers did
 * before KRaft (ZkProducerIdManager): /latest_producer_id_block holds the
 * last block handed out,
 *
 *   {"version":1,"broker":<id>,"block_start":"<first>","block_end":"<last>"}
 *
 * (Kafka writes the two bounds as strings), and a broker takes the next
 * block by a write conditional on the version it read, so no two brokers
 * ever get the same ids, even at the same moment, and none is reused
 * after a restart (a restarted broker takes a new block).
 */
#ifndef MQFS_REPL_PRODUCER_IDS_H
#define MQFS_REPL_PRODUCER_IDS_H

#include <stddef.h>
#include <stdint.h>

#include "repl/zkc.h"

#define PRODUCER_ID_BLOCK      1000 /* Kafka's PidBlockSize */
#define PRODUCER_ID_BLOCK_PATH "/latest_producer_id_block"

/* A single node keeps the same document in DATA/meta/latest_producer_id_block
 * (replaced atomically and durably before any id of the block is used). */
int producer_id_block_take_file(const char *path, int32_t broker_id, int64_t *first, int64_t *last);

/* The ids of a broker, handed out one at a time from its current block;
 * take gets the next block (ZooKeeper's or the file's). Thread-safe (a
 * leaf mutex, held across take). */
typedef int producer_block_fn(void *arg, int64_t *first, int64_t *last);
struct producer_ids;
int producer_ids_new(producer_block_fn *take, void *arg, struct producer_ids **out);
void producer_ids_free(struct producer_ids *pi);
/* Takes a block now when none is left (at the broker's start, as Kafka's
 * ProducerIdManager does, so that the first forwarded write and the first
 * InitProducerId need no ZooKeeper round trip and go on while ZooKeeper
 * does not answer): 0, or take's error (logged; producer_ids_next tries
 * again). */
int producer_ids_prefetch(struct producer_ids *pi);
/* The next unused id: 0, or take's error (logged). */
int producer_ids_next(struct producer_ids *pi, int64_t *id);

/* Takes the next block for broker_id: *first .. *last (inclusive). Synchronous
 * zkc calls, not from a zkc callback. -EBADMSG the znode holds something
 * else (logged), -EOVERFLOW ids used up, -EAGAIN lost the race too many times
 * in a row, zkc's errors. */
int producer_id_block_take(struct zkc *zk, int32_t broker_id, int64_t *first, int64_t *last);

#endif
