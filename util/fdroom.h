/*
 * fdroom.h — how many file descriptors the process has open, and whether
 * a step that opens more (a topic's partitions: 4 each) leaves a reserve.
 *
 * Descriptors are one pool for everything the daemon does: segment files,
 * the Kafka listener's connections, ZooKeeper's, the mount's reads of
 * closed segments. A burst of topic creations (a Metadata request that
 * auto-creates thousands) could take them all, and then every new
 * connection and every read that opens a file fails with EMFILE. So a
 * creation is refused while it would leave fewer than fd_room_reserve()
 * free; what is refused can be retried once descriptors are free.
 *
 * Counting reads /proc/self/fd, which costs about a microsecond per open
 * descriptor: struct fd_room remembers the last count for up to
 * FD_ROOM_RECOUNT_MS and adds what it granted since, and counts again
 * before each take that comes within twice the reserve of the limit,
 * unless nothing was granted since a count of that period: a burst of
 * creations far from the limit, or of refusals at it, counts about ten
 * times a second.
 *
 * A cache of descriptors the caller keeps (idle segment files) changes
 * between counts without a take: its sets close when a reader needs room
 * or reopen when read. So the caller tells each take how many of its
 * descriptors are open now (cached) and how many of those it can close
 * (reclaimable); the count stands only for the descriptors outside the
 * cache (counted - the cache's size at the count), and the cache's own
 * are taken as they are now. A count made just before the cache closed
 * its idle sets thus never refuses as though they were still open.
 */
#ifndef MQFS_UTIL_FDROOM_H
#define MQFS_UTIL_FDROOM_H

#include <pthread.h>
#include <stdint.h>

#define FD_ROOM_RECOUNT_MS 100

/* Descriptors open in this process now, or -errno. */
int64_t fd_count_open(void);
/* The soft RLIMIT_NOFILE (INT64_MAX when unlimited), or -errno. */
int64_t fd_limit(void);
/* Descriptors kept free for connections and reads under a limit: an
 * eighth of it, at least 16 and at most 1024. */
int64_t fd_room_reserve(int64_t limit);

struct fd_room {
	pthread_mutex_t mu;
	int64_t counted;    /* open at the last count (mu) */
	int64_t cached;     /* of them, the caller's cache (mu) */
	int64_t granted;    /* granted and done since it (mu) */
	int64_t inflight;   /* granted, their opens not done yet (mu) */
	int64_t counted_ms; /* monotonic ms of the last count, 0: never (mu) */
};

void fd_room_init(struct fd_room *r);
void fd_room_destroy(struct fd_room *r);
/* Descriptors were closed (a topic deleted): the next take counts again. */
void fd_room_closed(struct fd_room *r);
/* Whether need more descriptors leave the reserve free, given cached
 * (descriptors of the caller's cache open now) and reclaimable (of
 * those, the ones it can close on demand: idle segment files), which
 * count as free. On 0, *reclaim (when not NULL) is how many of the
 * reclaimable the caller must close before it opens its files for the
 * reserve to stay free in fact (0 when it does without them): the
 * step's own opens are not all ones that close idle files when out of
 * descriptors (a directory, a checkpoint), and the reserve is for
 * others'. 0 and the need held as in flight until
 * fd_room_done (a count meanwhile may not see its files yet: concurrent
 * takes must not spend them twice); -EMFILE with *open and *limit set
 * (for the caller's log line), also when the count itself finds no
 * descriptor free (EMFILE, ENFILE: *open is then the limit, or for ENFILE
 * the estimate); -errno when the count fails otherwise (then the step
 * goes ahead, its own opens find out, and the need is held all the same):
 * fd_room_done follows every return but -EMFILE. */
int fd_room_take(struct fd_room *r, int64_t need, int64_t cached, int64_t reclaimable,
		 int64_t *open, int64_t *limit, int64_t *reclaim);
/* The step that took need (fd_room_take returned 0) has opened its files
 * or failed: they are in the next count. */
void fd_room_done(struct fd_room *r, int64_t need);

#endif
