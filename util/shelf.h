/*
 * shelf.h — big buffers kept between their users, so that their pages
 * stay mapped.
 *
 * A reader of a partition file holds buffers of about a megabyte each (its
 * reply buffers, its cursor's read-ahead and decode-ahead bytes) for as
 * long as the file is open. Freed at close, glibc gives such memory back
 * to the kernel (munmap, or MADV_DONTNEED when it trims a thread's heap),
 * and the next open's buffers fault every page in again. A page fault is
 * not free anywhere; on the virtual machine the benchmarks run on it costs
 * about 15 us, so a `cat` that opens a partition file paid about 16 ms of
 * faults (1,070 of them) before its first megabyte, more than a sixth of
 * a 256 MiB read. The shelf keeps a few such buffers for the next open.
 *
 * Bounded: at most SHELF_BYTES idle, in SHELF_SLOTS buffers of at least
 * SHELF_MIN bytes (smaller ones cost little to fault in); a buffer that
 * does not fit is freed. Thread-safe (one mutex, taken at open and close,
 * never per read).
 */
#ifndef MQFS_UTIL_SHELF_H
#define MQFS_UTIL_SHELF_H

#include <stddef.h>

#define SHELF_MIN   (64 << 10)
#define SHELF_BYTES (8 << 20)
#define SHELF_SLOTS 16

/* A shelved buffer of at least want bytes and at most twice that (the
 * smallest such), its size in *cap; NULL (and *cap untouched) when there
 * is none or want < SHELF_MIN: the caller allocates its own. */
void *shelf_take(size_t want, size_t *cap);

/* Makes buf (of *cap bytes; NULL and 0 for none) hold at least want
 * bytes, as realloc would, but from the shelf when it has a buffer for
 * want: the old bytes are copied into it and the old buffer is shelved.
 * Returns the buffer, with *cap its size; NULL (buf and *cap untouched)
 * when out of memory. */
void *shelf_grow(void *buf, size_t *cap, size_t want);

/* Shelves buf, of cap bytes, for a later shelf_take, or frees it (too
 * small, or the shelf is full). NULL is ignored. */
void shelf_give(void *buf, size_t cap);

/* Frees every shelved buffer (tests; the daemon's exit). */
void shelf_clear(void);

/* Bytes shelved now (tests). */
size_t shelf_bytes(void);

#endif
