/*
 * diskwait.h — a thread about to wait for the disk says so, and the layer
 * that runs such threads decides what that changes. The engine calls
 * diskwait_begin() where it is about to sleep in an fdatasync of records
 * (log_sync: fsync(), O_DSYNC writes, flush.messages, a Produce's flush);
 * the mount's FUSE over io_uring threads, pinned to a CPU, give up the pin
 * for the wait (fs/uring.c, "Pinning"), since the disk's completions may
 * wake them from another CPU. Any other thread: nothing happens.
 */
#ifndef MQFS_UTIL_DISKWAIT_H
#define MQFS_UTIL_DISKWAIT_H

/* Sets what diskwait_begin() does (NULL: nothing). Set once, before the
 * threads that call it start. */
void diskwait_set_hook(void (*hook)(void));

/* Calls the hook, on the calling thread. */
void diskwait_begin(void);

#endif
