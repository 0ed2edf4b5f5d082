/*
 * elog.h — a real engine log (a log manager over DIR, one log "orders-0")
 * behind struct partition_log_ops for the replication tests: the engine's
 * calls of repl/partition_log.c (partition_engine_ops), with counters of
 * the file ranges handed out and not released and of the truncations, and
 * a listener on both the hw and the LEO, as tlog.h has them. So the same
 * end-to-end scenarios run on tlog and on the engine.
 */
#ifndef MQFS_TESTS_ELOG_H
#define MQFS_TESTS_ELOG_H

#include <stdint.h>

#include "repl/partition.h"

struct elog;

extern const struct partition_log_ops elog_ops;

/* Opens (creates) the manager in dir and its log, empty. NULL on failure. */
struct elog *elog_open(const char *dir);
/* Closes the manager cleanly (the files stay, whole) and frees. */
void elog_close(struct elog *e);
/* The leader's append: epoch enters the cache at the LEO, then one batch
 * of n records "<prefix>-<i>" stamped with it. Base offset or -errno. */
int64_t elog_append(struct elog *e, int n, int32_t epoch, const char *prefix);
void elog_set_listener(struct elog *e, void (*fn)(void *arg), void *arg);
int elog_refs(struct elog *e);
int elog_truncations(struct elog *e);
/* The value of the record at offset into buf (NUL-terminated), 0 or -ERANGE. */
int elog_value_at(struct elog *e, int64_t offset, char *buf, size_t cap);
/* The .log bytes of [0, offset) (whole batches), malloc'ed, *len set. */
uint8_t *elog_bytes_below(struct elog *e, int64_t offset, size_t *len);
/* The engine's log itself (retention, a reset: what the table lacks). */
struct log *elog_log(struct elog *e);
/* The log's directory (DIR/orders-0). */
const char *elog_dir(struct elog *e);
/* 0 when every .log, .index, .timeindex, .lines and the
 * leader-epoch-checkpoint of two closed logs' directories are the same
 * bytes; else -1, with the first file that differs in why. */
int elog_dirs_identical(const char *a, const char *b, char *why, size_t whylen);

#endif
