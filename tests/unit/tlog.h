/*
 * tlog.h — a replica log for the replication tests, behind
 * struct partition_log_ops (repl/partition.h): Kafka record batches v2
 * back to back in one file DIR/00000000000000000000.log (so the Fetch
 * handler's file ranges go out by sendfile and two replicas can be
 * compared byte for byte), an epoch cache, a high watermark, and a
 * counter of file ranges handed out and not yet released.
 *
 * Thread-safe: one mutex. The listener runs after a change of the LEO or
 * the hw, with no lock held (the engine's LEO and hw listeners).
 */
#ifndef MQFS_TESTS_TLOG_H
#define MQFS_TESTS_TLOG_H

#include <stdint.h>

#include "repl/partition.h"

struct tlog;

extern const struct partition_log_ops tlog_ops;

/* Opens (creates) the log in dir, empty. NULL on failure. */
struct tlog *tlog_open(const char *dir);
void tlog_close(struct tlog *t);
/* The leader's append: one batch of n records "<prefix>-<i>" stamped with
 * epoch at the LEO. Returns the batch's base offset or -errno. */
int64_t tlog_append(struct tlog *t, int n, int32_t epoch, const char *prefix);
/* The log start offsets report from now on (the records below stay in
 * the file: a replica whose retention moved its start). */
void tlog_set_start(struct tlog *t, int64_t start);
void tlog_set_listener(struct tlog *t, void (*fn)(void *arg), void *arg);
/* From now on every follower's append (append_batches) fails with err
 * (a -errno; 0: appends work again), the disk under it failing. */
void tlog_fail_appends(struct tlog *t, int err);
/* File ranges handed out by read_raw and not released. */
int tlog_refs(struct tlog *t);
/* Batches in the file ranges read_raw handed out so far. */
int64_t tlog_batches_read(struct tlog *t);
/* Truncations done (each fsynced). */
int tlog_truncations(struct tlog *t);
/* The byte position of offset in the file (the end for the LEO). */
int64_t tlog_pos_of(struct tlog *t, int64_t offset);
const char *tlog_path(struct tlog *t);
/* The value of the record at offset into buf (NUL-terminated), 0 or -ERANGE. */
int tlog_value_at(struct tlog *t, int64_t offset, char *buf, size_t cap);

#endif
