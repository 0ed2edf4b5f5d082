/*
 * locks.h — the lock table of the mount: fcntl and flock locks per file
 * (private to fs/).
 *
 * Several kernel inodes can stand for one partition file (each writer has
 * its own, so that the kernel's per-inode lock does not serialize writers),
 * and the kernel keeps fcntl/flock locks per inode. The daemon keeps them
 * instead, per file, shared by all the file's inodes. A file is named by a
 * uint64_t file id (the st_ino it shows). The table knows nothing of FUSE:
 * fs/ops.c turns setlk/getlk/flock/flush/release into the calls below and
 * answers the kernel.
 *
 * Semantics are Linux's, in two domains that never conflict with each other:
 *
 *   LOCK_DOMAIN_POSIX  fcntl byte ranges [start, end] (end inclusive,
 *                      INT64_MAX: to the end of the file and beyond). Owner:
 *                      the kernel's lock owner. Locks of different owners
 *                      conflict when their ranges overlap and one of them is
 *                      F_WRLCK. A set replaces the owner's own locks over its
 *                      range (read [0,99] then write [10,19] leaves read
 *                      [0,9], write [10,19], read [20,99]); F_UNLCK removes
 *                      them, splitting partial overlaps. Overlapping or
 *                      adjacent locks of one owner and type are merged. A
 *                      set that conflicts changes nothing.
 *   LOCK_DOMAIN_FLOCK  flock(2) whole-file locks (the span's range is
 *                      ignored and reported as [0, INT64_MAX]). Owner: the
 *                      open file. One lock per owner per file; a new type
 *                      first drops the owner's old lock, then is tried (so a
 *                      conversion that fails or waits holds nothing).
 *
 * A request that may wait (F_SETLKW, flock without LOCK_NB) brings a
 * struct lock_waiter; on a conflict it is parked and its granted() callback
 * runs once the lock has been taken for it. Parked waiters of one file are
 * tried in FIFO order whenever a lock of the file is removed or narrowed; a
 * waiter that still conflicts does not hold back a later one that does not.
 * There is no deadlock detection: POSIX waiters in a cycle wait until they
 * are cancelled (the caller's interrupt, then EINTR).
 *
 * Threads: every function is thread-safe (one mutex per table). granted()
 * is called with no table lock held, so it may call into the table.
 */
#ifndef MQFS_FS_LOCKS_H
#define MQFS_FS_LOCKS_H

#include <stddef.h>
#include <stdint.h>

struct lock_table;
struct lock_rec;

enum lock_domain {
	LOCK_DOMAIN_POSIX, /* fcntl byte-range locks, owner = lock owner */
	LOCK_DOMAIN_FLOCK, /* flock whole-file locks, owner = open file */
};

struct lock_span {
	int type;      /* F_RDLCK, F_WRLCK or F_UNLCK (<fcntl.h>) */
	int64_t start; /* first byte */
	int64_t end;   /* last byte, inclusive; INT64_MAX: to the end */
	uint64_t owner;
	int32_t pid; /* of the taker, reported by lock_get */
};

/*
 * A request that waits for its lock. The caller owns the memory and keeps
 * it until granted() has been called or lock_cancel() has returned 1; the
 * table never frees it.
 */
struct lock_waiter {
	uint64_t file;           /* filled by lock_set */
	enum lock_domain domain; /* filled by lock_set */
	struct lock_span want;   /* filled by lock_set */
	/* Called once, when the lock has been taken for the waiter, with no
	 * table lock held, from the thread whose call unblocked it (its
	 * lock_set or lock_release_owner). May free the waiter. */
	void (*granted)(struct lock_waiter *w);
	void *arg; /* the caller's; the table never touches it */

	/* private to locks.c, under the table lock */
	struct lock_waiter *next;
	struct lock_rec *spare[2]; /* records its grant will need */
};

/* Lock records one file may hold: a set that could take it past this is
 * -ENOLCK (fcntl's "lock table full"). */
#define LOCK_MAX_RECORDS 4096

/* -ENOMEM. */
int lock_table_new(struct lock_table **out);
/* Frees every lock and the table. Waiters still parked are dropped without
 * a callback (their memory stays the caller's). No other call may be
 * running. NULL is fine. */
void lock_table_free(struct lock_table *lt);

/* F_GETLK: the conflicting lock of another owner with the lowest start is
 * written to *want (type, range, owner, pid), or want->type = F_UNLCK if
 * there is none. -EINVAL: want->type not F_RDLCK/F_WRLCK, or a bad POSIX
 * range (start < 0 or start > end). */
int lock_get(struct lock_table *lt, uint64_t file, enum lock_domain domain, struct lock_span *want);
/* Takes (F_RDLCK, F_WRLCK) or removes (F_UNLCK) span->owner's lock on file.
 *   0        done (an F_UNLCK where nothing is held is done too)
 *   1        a conflict and w != NULL: w is parked (w->file, domain and want
 *            set from the arguments; w->granted and w->arg are the
 *            caller's) and w->granted(w) will be called once the lock is
 *            held for it
 *   -EAGAIN  a conflict and w == NULL; nothing changed (but for flock, the
 *            owner's old lock is gone)
 *   -EINVAL  bad type, or a POSIX range with start < 0 or start > end
 *   -ENOLCK  the file holds LOCK_MAX_RECORDS - 1 records or more (a lock
 *            taken, not a removal); nothing changed
 *   -ENOMEM  nothing changed
 * A change that removes or narrows locks grants the waiters it unblocks:
 * their granted() runs before lock_set returns, with no table lock held. */
int lock_set(struct lock_table *lt, uint64_t file, enum lock_domain domain,
	     const struct lock_span *span, struct lock_waiter *w);
/* Removes a parked waiter (the caller then answers EINTR). 1: removed, it
 * will never be granted; 0: not parked (granted, its callback run or
 * running; or never parked, then w must be zeroed). Cancelling grants no
 * one. */
int lock_cancel(struct lock_table *lt, struct lock_waiter *w);
/* Drops every lock of owner on file in domain (the close of a file: POSIX
 * at flush, flock at release) and grants the waiters that unblocks, as
 * lock_set does. Parked waiters of owner stay parked. */
void lock_release_owner(struct lock_table *lt, uint64_t file, enum lock_domain domain,
			uint64_t owner);

/* Lock records held on file, both domains (a merged or split range counts
 * as the records it is kept in). For tests and a metric. */
size_t lock_count(struct lock_table *lt, uint64_t file);
/* Files that have locks or parked waiters. For tests and a metric. */
size_t lock_file_count(struct lock_table *lt);

#endif
