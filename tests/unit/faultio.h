/*
 * faultio.h — an engine I/O table for tests: plain POSIX underneath, with
 * countdown fault injection (EIO, ENOSPC, short writes, failed fsync) and
 * a crash simulator that drops or tears what was written since each file's
 * last fsync (the idea of SQLite's test6.c, much smaller).
 */
#ifndef MQFS_TESTS_FAULTIO_H
#define MQFS_TESTS_FAULTIO_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "engine/engine.h"

#define FAULTIO_FILES 512

struct faultio {
	struct io_ops ops;       /* ctx points back here */
	int pwrite_countdown;    /* >0: the Nth pwrite from now fails */
	int pwrite_errno;        /* EIO or ENOSPC; 0 = a short write instead */
	int pwrite_delay_us;     /* >0: every pwrite sleeps this long first */
	int fsync_countdown;     /* >0: the Nth fsync from now fails with EIO */
	int fsyncs;              /* fsync calls seen */
	int ftruncate_countdown; /* >0: the Nth ftruncate from now fails with EIO */
	/* true: fsync and fsync_dir only record what they make durable and
	 * leave the disk alone (the crash simulator alone decides what a
	 * power cut keeps): crash-point loops run thousands of them. */
	bool no_sync;
	/* >0: the next reserve_partial reservations allocate half of what
	 * they ask, then fail with ENOSPC (a disk that fills meanwhile). */
	int reserve_partial;
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
	int mutations; /* mutating calls seen (atomic: any thread) */
	/* Not NULL: mutating calls on a path containing it are left out of
	 * mutations (a test that watches one part of a directory). */
	const char *mutations_skip;
	int renames; /* renames done */
	/* Not NULL: a creating open or a mkdir of a path containing it fails
	 * with EIO (one file or one log directory that cannot be made). */
	const char *fail_path;
	int fail_path_errno;       /* their errno (0: EIO; ENOSPC: a disk out of inodes) */
	atomic_int fail_path_hits; /* the opens and mkdirs it failed (any thread) */
	/* >0: the next open_fails opens fail with open_errno (EMFILE: out of
	 * descriptors), one less each time. */
	int open_fails;
	int open_errno;
	/* >0: the next dir_open_fails fsync_dir calls fail with open_errno
	 * (the directory's open), one less each time. */
	int dir_open_fails;
	/* >0: the next pread_fails preads (any thread) fail with pread_errno
	 * (EIO: a sector the disk cannot read), one less each time. */
	int pread_fails;
	int pread_errno;
	/* Not NULL: only preads of a path containing it count (and fail). */
	const char *pread_fail_path;
	/* >0: the next sendfile_fails sendfiles from a file (any thread: the
	 * listener's responses) fail with sendfile_errno (EIO: the file's
	 * read failed), one less each time. */
	int sendfile_fails;
	int sendfile_errno;
	int opens;       /* open calls seen */
	pthread_t owner; /* the thread that called faultio_init */
	/* Counted by whichever thread calls (the engine's read-ahead and
	 * decode helpers too): atomics. */
	atomic_int foreign_writes;   /* pwrite(v) calls made by another thread */
	atomic_int preads;           /* pread calls seen */
	_Atomic int64_t pread_bytes; /* bytes they read */
	char *fd_path[4096];
	/* durable: the size at the last fsync (a later ftruncate leaves it
	 * alone: a cut is not durable before an fsync either). A file with a mapped tail also
	 * keeps snap, its bytes [snap_off, snap_off + snap_len) as of its last
	 * fsync (or the map, if none since): what a power cut restores there,
	 * since pages written through the mapping are as volatile as pwrites. */
	struct {
		char path[PATH_MAX];
		int64_t durable;
		uint8_t *snap;
		int64_t snap_off;
		size_t snap_len;
		/* A file cut below its durable size since its last fsync:
		 * the bytes the cuts took, [cut_off, durable), which a power
		 * cut brings back (a shrink not yet on disk leaves the old
		 * blocks, as ext4's journal does). */
		uint8_t *cut;
		int64_t cut_off;
	} files[FAULTIO_FILES];
	int nfiles;
	/* Renames and unlinks not yet made durable by an fsync of their
	 * directory; a power cut undoes them, newest first. An unlinked file,
	 * or one a rename replaced, waits under a hidden name (".fistash.N"
	 * in its directory) until then. */
	struct {
		char from[PATH_MAX], to[PATH_MAX], stash[PATH_MAX];
	} dirops[FAULTIO_FILES];
	int ndirops;
	unsigned stash_seq;
};

void faultio_init(struct faultio *f);
void faultio_free(struct faultio *f);
/* Takes map_tail out of the table: appends are written with pwrite. */
void faultio_no_map(struct faultio *f);
/* Simulates a power cut: every tracked file loses what was written after
 * its last fsync, through pwrite or its mapped tail (torn: keeps a random
 * part of it instead), a file cut shorter (ftruncate) since its last fsync
 * regains its durable size and the bytes the cut took, and every rename
 * or unlink whose directory was not fsynced since is undone. */
void faultio_crash(struct faultio *f, int torn, unsigned seed);

#endif
