/*
 * fuzzdir.h — what the fuzz targets that open logs share: a data
 * directory of their own under /tmp, made once per process and removed at
 * exit, and an I/O table without fsyncs (durability plays no part in a
 * fuzz run; the fsyncs would only slow each run down).
 */
#ifndef MQFS_TESTS_FUZZDIR_H
#define MQFS_TESTS_FUZZDIR_H

#include <stddef.h>

#include "engine/engine.h"

/* Makes /tmp/mqfs-fuzz-<tag>-XXXXXX into dir (cap bytes), removed (with
 * what it holds) at exit, and fills *io: io_posix without fsync. Aborts
 * when the directory cannot be made. */
void fuzzdir_init(char *dir, size_t cap, const char *tag, struct io_ops *io);
/* Removes what dir holds, keeping dir. */
void fuzzdir_empty(const char *dir);

#endif
