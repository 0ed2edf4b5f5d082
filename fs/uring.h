/*
 * FUSE over io_uring for a libfuse 3.14 low-level session (uring.c tells
 * the protocol and the threads). Used by the daemon (fs/main.c) and by the
 * benchmarks' passthrough (contrib/bench/passthrough.c), so that both use
 * the same channel.
 */
#ifndef MQFS_FS_URING_H
#define MQFS_FS_URING_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 35
#endif
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdint.h>

struct fs_uring;

/* Serves the session's requests through the kernel's io_uring transport
 * when the kernel offers it (/sys/module/fuse/parameters/enable_uring Y):
 * call after fuse_session_mount(), before the session loop. Installs the
 * session's custom I/O (a reply to a ring request goes back through its
 * ring entry, any other through /dev/fuse) and starts the ring threads,
 * which register their entries once the kernel has FUSE_INIT's reply.
 * Where the transport is off or missing, it logs why and returns NULL:
 * requests keep coming through /dev/fuse and the session loop, as they do
 * for FORGET, INTERRUPT and notifications in any case. max_write: the
 * largest the session's init allows (the payload buffers' size). */
struct fs_uring *fs_uring_open(struct fuse_session *se, size_t max_write);

/* The requests served through the ring so far, and its queues (0 and 0
 * for NULL: all through /dev/fuse). Any thread. */
uint64_t fs_uring_requests(const struct fs_uring *u, unsigned *queues);

/* Called on a handler's own thread before it waits for the disk (an
 * fdatasync): a ring thread gives up its pin to its queue's CPU until its
 * reply is out (uring.c, "Pinning"). Any other thread: nothing.
 * fs_uring_open makes it util/diskwait.h's hook, which the engine calls
 * before each log_sync's fdatasync. */
void fs_uring_blocking(void);
/* How many times a ring thread was unpinned so (0 for NULL). Any thread. */
uint64_t fs_uring_unpins(const struct fs_uring *u);

/* After the session loop ended and every parked request was answered (no
 * reply may be under way: the ring is freed): commits what other threads
 * handed over, stops and joins the ring threads, frees. Before
 * fuse_session_unmount(). NULL is fine. */
void fs_uring_close(struct fs_uring *u);

#endif
