/*
 * cache.c — the kernel's page cache of partition files.
 *
 * Which opens use it (all this is on by default; -o no_page_cache turns
 * it off). A partition file opened O_RDONLY while its line view
 * is whole (topic_line_whole: no record below the high watermark was ever
 * removed) is read through the page cache: the bytes at a position are
 * then the same for every reader and never change, since committed
 * records are immutable. Every other open uses direct I/O:
 *   - writers (O_WRONLY and O_RDWR): their writes are records and must
 *     reach the daemon as they are written, never land in pages;
 *   - readers of a partition that lost records to retention or compaction:
 *     a read at a removed position continues at the next record present,
 *     a mapping of offsets kept per open file (open_files.c) that a cache
 *     shared by every open cannot hold;
 *   - readers of a log that may hold a bad batch: one met, or batches read
 *     from disk that no read has checked since the start (engine/corrupt.c,
 *     "Checked batches"). A read through the cache that meets a bad batch
 *     fails whole (open_files.c), the records before it with it; one with
 *     direct I/O returns them and fails at the batch only.
 *
 * A partition file may have several nodes (aliases, inode.h), each a kernel
 * inode with pages and a size of its own: the rules below hold per node,
 * and a removal (rule 3) goes to every alias.
 *
 * Coherence. The mount runs without FUSE_CAP_AUTO_INVAL_DATA (an mtime
 * that changes drops nothing: it is the topic's, moved by every append)
 * and without FUSE_CAP_EXPLICIT_INVAL_DATA, so that the kernel drops an
 * inode's pages whenever it applies a size that differs from its own.
 * Size changes: the kernel zeroes the rest of the page that holds a size
 * it applies from a reply (truncate_pagecache runs on every change, growth
 * included) and keeps that page, and it does so after it has let go of
 * the inode's lock: two replies applied at once by two threads (readers
 * that fstat the file as it grows) can zero the page of the older size
 * after the newer size was applied and the page read again, and a reader
 * in between copies NUL bytes where records are. Rule 2a keeps the kernel
 * from applying a larger size itself. The cost: a file that grows while
 * read through the cache is read again from the daemon after each size
 * its readers learn; committed data read again without growth stays
 * cached. The rules, per node:
 *   1. Nothing above the high watermark: the daemon's reads stop there and
 *      st_size is its line position; the kernel reads no further than the
 *      size it knows.
 *   2. Growth. A read that ends at the high watermark inside a page leaves
 *      that page cached with zeros past it (the kernel fills the rest of a
 *      short read with zeros). So before the kernel may learn a size above
 *      cache_size (the largest it may know), every page from the one that
 *      holds cache_size on is invalidated, and only then does cache_size
 *      grow: the high watermark never moves back, so a page filled after
 *      the invalidation holds data up to at least the new size. The
 *      kernel learns sizes from write replies (it moves its size to the
 *      end of a write), and from getattr and lookup replies: the
 *      invalidation is done before a write reply (fs_cache_wrote), before
 *      a getattr or lookup reply that carries a larger size (fs_cache_stat:
 *      the file grew through another inode, .produce, acks=0 writes
 *      committed later, or on a follower by replication), and at every
 *      open that keeps the cache (fs_cache_open).
 *   2a. The size itself. Right after that invalidation, the kernel is given
 *      the byte before the new size, the newline that ends the last line
 *      (FUSE_NOTIFY_STORE): a store past the kernel's size moves its size to
 *      the store's end as a write does (no zeroing, no truncation) and bumps
 *      the inode's attribute version, so the reply about to carry that size
 *      is discarded as stale, or finds the kernel's size equal to its own:
 *      either way the kernel applies no size change. One byte inside a page
 *      leaves the page as it was or not up to date (the kernel reads it whole
 *      when it needs it), so stores made by several threads in any order
 *      never leave zeros below the largest size: only a store that begins its
 *      page marks that page up to date with zeros past its end, and it is
 *      invalidated at once. A store that fails is logged, and the kernel then
 *      applies the reply's size as before. The invalidation and the store
 *      mark the inode's attributes stale: the stat(2) that asked gets the new
 *      size from its reply all the same, and the kernel asks again at its
 *      next getattr.
 *   3. Removal. Retention, the cleaner, a log start moved
 *      (DeleteRecords) and the topic's deletion call fs_cache_removed (the
 *      broker's removal listener): the node's cache is no longer valid and
 *      all its pages are invalidated, at every removal, whoever cached
 *      them; later opens use direct I/O (a deleted topic's, -ENOENT). A file
 *      opened through the cache before goes on reading the positions
 *      still there; a read of it at a removed position is -ESTALE (its
 *      reader reopens), since the kernel fills whatever a read leaves
 *      short with zeros below the size it knows. Such a file still reads
 *      through the cache as the file grows: rules 2 and 2a hold for
 *      every node ever read through the cache (cache_used), valid or not
 *      (when they held only while the cache was valid, three readers
 *      that followed the tail while retention removed segments read NUL
 *      bytes in about 1.5 reads in a thousand).
 *   3a. Truncation. A follower (or a leader that lost its leadership)
 *      truncates only records above its hw, which rule 1 kept from the
 *      kernel; the page that held the old end is dropped by rule 2 before
 *      the kernel learns a larger size. Records below the hw go only in
 *      an unclean leader election: a replicated topic that allows one is
 *      never read through the cache (topic_line_whole).
 *   4. keep_cache. An open keeps the pages the kernel holds while the
 *      node's cache is valid; the first open that reads through the cache
 *      makes it valid with keep_cache off, so the kernel starts empty.
 *
 * Threads and locks: cache_mu (a leaf) guards the nodes' cache_* fields
 * and is never held across an invalidation. An invalidation waits for the
 * pages it drops (a read in flight holds its pages locked until another
 * worker answers it): it is made from ops that hold no page (open,
 * write, getattr, lookup) and from the broker's scheduler and cleaner
 * threads with
 * no repl lock held, never from a read.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fs/fs.h"

/* The session to notify, NULL once the session loop ended (fs.h): read
 * once per notification, since run() clears it while the ring's threads
 * may still serve a request. */
static struct fuse_session *cache_session(struct mqfs *fs)
{
	return __atomic_load_n(&fs->se, __ATOMIC_ACQUIRE);
}

/* Invalidates the pages of ino from off to the end of the file. */
static void cache_invalidate(struct fuse_session *se, struct fs_node *n, int64_t off)
{
	int64_t page = sysconf(_SC_PAGESIZE);
	char path[320];
	int rc;

	if (!se)
		return;
	off -= off % page;
	rc = fuse_lowlevel_notify_inval_inode(se, n->ino, off, 0);
	/* -ENOENT: the kernel has no inode for it, so no pages either. */
	if (rc < 0 && rc != -ENOENT) {
		fs_node_path(n, path, sizeof(path));
		mq_log_limited(MQ_WARN,
			       "page cache of %s from position %lld: invalidation "
			       "failed: %s",
			       path, (long long)off, strerror(-rc));
	}
}

/* Rule 2a: moves the kernel's size to size by a store of the byte before
 * it: the newline that ends the last line below the high watermark (a
 * file size is always a line's end, every line ends with one). -ENOENT:
 * the kernel has no inode for n (nor pages). */
static int cache_store(struct fuse_session *se, struct fs_node *n, int64_t size)
{
	int64_t page = sysconf(_SC_PAGESIZE);
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(1);
	char nl = '\n';
	int rc;

	bv.buf[0].mem = &nl;
	rc = fuse_lowlevel_notify_store(se, n->ino, size - 1, &bv, 0);
	/* A store that begins its page makes that page up to date, zeros past
	 * size included: dropped at once, so that it cannot outlive a larger
	 * size stored meanwhile by another thread (rule 2a). Until then such
	 * a larger size, stored into the same page, shows those zeros: both
	 * sizes within one page, the first a page and one byte, at once. */
	if (rc == 0 && (size - 1) % page == 0)
		cache_invalidate(se, n, size - 1);
	return rc;
}

/* Rule 2: the kernel is about to learn the size seen; size is the file's
 * size now (-1: look it up, only when there is work). */
static void cache_grow(struct mqfs *fs, struct fs_node *n, int64_t seen, int64_t size)
{
	struct fuse_session *se;
	int64_t from;
	int used;

	pthread_mutex_lock(&fs->cache_mu);
	used = n->cache_used;
	from = n->cache_size;
	pthread_mutex_unlock(&fs->cache_mu);
	if (!used || seen <= from)
		return;
	if (size < 0)
		size = topic_line_size(n->topic, n->key.partition);
	if (size < 0)
		return;
	se = cache_session(fs);
	cache_invalidate(se, n, from);
	if (se && size > from && size > 0) {
		int rc = cache_store(se, n, size);

		if (rc < 0 && rc != -ENOENT) {
			char path[320];

			fs_node_path(n, path, sizeof(path));
			mq_log_limited(MQ_WARN,
				       "page cache of %s: storing the byte before position "
				       "%lld failed: %s (the kernel takes the size from the "
				       "reply)",
				       path, (long long)size, strerror(-rc));
		}
	}
	/* Only now: another thread that still sees the old cache_size
	 * invalidates from there too before it replies. */
	pthread_mutex_lock(&fs->cache_mu);
	if (size > n->cache_size)
		n->cache_size = size;
	pthread_mutex_unlock(&fs->cache_mu);
}

/* Once, at the first open through the cache (the kernel sets the mount's
 * read-ahead at FUSE's INIT, after the mount, so earlier is too early):
 * the read-ahead of the mount up to the largest request. */
static void cache_readahead(struct mqfs *fs)
{
	int rc = daemon_readahead(fs->mnt, FS_MAX_WRITE / 1024);

	if (rc < 0)
		mq_log(MQ_INFO,
		       "read-ahead of %s stays at the kernel's (128 KiB by default): "
		       "%s",
		       fs->mnt, strerror(-rc));
	else
		mq_log(MQ_INFO, "read-ahead of %s: %d KiB", fs->mnt, FS_MAX_WRITE / 1024);
}

bool fs_cache_open(struct mqfs *fs, struct fs_node *n, int flags, bool *keep_cache)
{
	int64_t size = -1;
	bool use = false;

	*keep_cache = false;
	/* Off with -o no_page_cache: every read then asks the daemon. */
	if (!fs->page_cache || n->key.kind != NODE_PART)
		return false;
	/* The size first: whatever is filled after this holds data up to at
	 * least it (rule 2); a reader's with this mount's own writes in. */
	if ((flags & O_ACCMODE) == O_RDONLY)
		topic_read_own_writes(n->topic, n->key.partition);
	size = topic_line_size(n->topic, n->key.partition);
	if ((flags & O_ACCMODE) == O_RDONLY)
		use = size >= 0 && topic_line_whole(n->topic, n->key.partition) == 1;
	if (use && fs->mnt && !atomic_exchange(&fs->readahead_set, true))
		cache_readahead(fs);
	pthread_mutex_lock(&fs->cache_mu);
	if (use && !n->cache_valid) {
		n->cache_valid = 1;
		n->cache_used = 1;
		if (size > n->cache_size)
			n->cache_size = size;
	} else {
		*keep_cache = n->cache_valid;
	}
	pthread_mutex_unlock(&fs->cache_mu);
	/* Grown since the kernel last saw a size through us (.produce,
	 * acks=0, another writer's file): the pages kept are made right
	 * before this open reads them. */
	if (*keep_cache && size >= 0)
		cache_grow(fs, n, size, size);
	return use;
}

void fs_cache_wrote(struct mqfs *fs, struct fs_node *n, int64_t end)
{
	/* The kernel takes end as the size even when the records are not
	 * committed yet (acks=0, a partial line): the page of cache_size goes
	 * all the same, so that a read there asks the daemon again. */
	if (n->key.kind == NODE_PART)
		cache_grow(fs, n, end, -1);
}

void fs_cache_stat(struct mqfs *fs, struct fs_node *n, int64_t size)
{
	if (n->key.kind == NODE_PART)
		cache_grow(fs, n, size, size);
}

void fs_cache_removed(void *arg, struct topic *t, int partition)
{
	struct mqfs *fs = arg;
	struct node_key key = fs_node_key(NODE_PART, t, partition);
	uint64_t after = 0;
	struct fs_node *n;
	int used;

	/* Every alias: each kernel inode has pages of its own. Every node
	 * ever read through the cache, not only one still valid: files
	 * opened through it before an earlier removal read on through it
	 * (rule 3) and cache the positions still there, which this removal
	 * may take too; kept, those pages would serve them again. */
	while (inode_next_alias(fs->inodes, &key, after, &n) == 0) {
		after = n->ino;
		pthread_mutex_lock(&fs->cache_mu);
		used = n->cache_used;
		n->cache_valid = 0;
		pthread_mutex_unlock(&fs->cache_mu);
		if (used)
			cache_invalidate(cache_session(fs), n, 0);
		inode_put(fs->inodes, n);
	}
}
