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
/* Opens the data directory dir and in it the log t-0 with cfg, as a
 * target that fuzzes a file they read at open: 0 with *m and *l, or
 * 1 when the open refused it (-EBADMSG, or -EPROTONOSUPPORT: a .lines of
 * another format version, with *refusals counting the error lines logged
 * since the caller zeroed it: none aborts; or -ENOMEM). Any other error
 * aborts. */
int fuzzdir_open_t0(const char *dir, const struct io_ops *io, const struct log_config *cfg,
		    const int *refusals, struct logmgr **m, struct log **l);
/* Writes dir/rel (made or emptied first) with data[0..size); aborts on a
 * failure. */
void fuzzdir_put(const char *dir, const char *rel, const void *data, size_t size);

#endif
