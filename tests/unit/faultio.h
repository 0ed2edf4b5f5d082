/*
 * faultio.h — an engine I/O table for tests: plain POSIX underneath, with
 * countdown fault injection (EIO, ENOSPC, short writes, failed fsync) and
 * a crash simulator that drops or tears what was written since each file's
 * last fsync (the idea of SQLite's test6.c, much smaller).
 */
#ifndef MQFS_TESTS_FAULTIO_H
#define MQFS_TESTS_FAULTIO_H

#include <limits.h>
#include <stdbool.h>
#include "engine/engine.h"

#define FAULTIO_FILES 512

struct faultio {
	struct io_ops ops;          /* ctx points back here */
	int pwrite_countdown;       /* >0: the Nth pwrite from now fails */
	int pwrite_errno;           /* EIO or ENOSPC; 0 = a short write instead */
	int fsync_countdown;        /* >0: the Nth fsync from now fails with EIO */
	int fsyncs;                 /* fsync calls seen */
	int ftruncate_countdown;    /* >0: the Nth ftruncate from now fails with EIO */
	/* Called (once, then cleared) at the next fsync, before it happens:
	 * lets a test act in the middle of an engine operation. */
	void (*on_fsync)(void *arg);
	void *on_fsync_arg;
	/* Crash points: >0, the Nth mutating call from now (pwrite, fsync,
	 * fsync_dir, ftruncate, unlink, rename, creating open) and every one
	 * after it fail with EIO and do nothing, as if the process had died
	 * just before it. Reset dead (and call faultio_crash) to "restart". */
	int die_countdown;
	bool dead;
	int mutations;              /* mutating calls seen */
	int renames;                /* renames done */
	/* Not NULL: a creating open or a mkdir of a path containing it fails
	 * with EIO (one file or one log directory that cannot be made). */
	const char *fail_path;
	char *fd_path[4096];
	struct { char path[PATH_MAX]; int64_t durable; } files[FAULTIO_FILES];
	int nfiles;
};

void faultio_init(struct faultio *f);
void faultio_free(struct faultio *f);
/* Simulates a power cut: every tracked file loses what was written after
 * its last fsync (torn: keeps a random part of it instead). */
void faultio_crash(struct faultio *f, int torn, unsigned seed);

#endif
