/*
 * ops.c — the FUSE low-level operations. Each op calls one helper (tree.c,
 * open_files.c, groups.c) that returns 0, a count or -errno, and then only replies. The
 * valid replies of each op are listed above it.
 *
 * Lookup counts: a successful fuse_reply_entry() is a lookup the kernel
 * will FORGET; if the reply fails (the request was interrupted) the count
 * is given back at once.
 *
 * Threads: called from libfuse's worker threads, any op concurrently with
 * any other. The state is the session's userdata, struct mqfs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/statvfs.h>

#include "fs/fs.h"

static struct mqfs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_file *file_of(const struct fuse_file_info *fi)
{
	return (struct fs_file *)(uintptr_t)fi->fh;
}

static void reply_entry_or_err(fuse_req_t req, int rc, const struct fuse_entry_param *e)
{
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else if (fuse_reply_entry(req, e) != 0)
		inode_forget(req_fs(req)->inodes, e->ino, 1);
}

/* Capabilities: O_TRUNC arrives in open flags (never as a setattr), reads
 * may be asynchronous, page cache invalidated only by us, no writeback cache (writes must reach us when
 * written: they are the records), and 1 MiB writes in one request. libfuse
 * 3.14 sizes its receive buffer for FUSE_MAX_MAX_PAGES (256) pages and
 * derives max_pages for the kernel from max_write, so setting max_write is
 * all it takes; the value it passes in is already clamped to that buffer. */
static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* The page cache of partition files is kept coherent by invalidations
	 * (cache.c) and by the kernel's own drop of an inode's pages when a
	 * size it applies changes (no FUSE_CAP_EXPLICIT_INVAL_DATA: see
	 * cache.c's "Size changes"); not when an mtime changes (no
	 * FUSE_CAP_AUTO_INVAL_DATA: the mtime is the topic's, moved by every
	 * append). */
	conn->want &= ~FUSE_CAP_EXPLICIT_INVAL_DATA;
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* Locks are the daemon's, per file: a partition file has an inode per
	 * writer (inode.h), and the kernel's locks are per inode. */
	if (conn->capable & FUSE_CAP_POSIX_LOCKS)
		conn->want |= FUSE_CAP_POSIX_LOCKS;
	if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
		conn->want |= FUSE_CAP_FLOCK_LOCKS;
	if (conn->max_write > FS_MAX_WRITE)
		conn->max_write = FS_MAX_WRITE;
	mq_log(MQ_INFO, "fuse: protocol %u.%u, max_write %u, atomic_o_trunc %s", conn->proto_major,
	       conn->proto_minor, conn->max_write,
	       (conn->want & FUSE_CAP_ATOMIC_O_TRUNC) ? "on" : "off");
}

/* Valid replies: fuse_reply_entry, fuse_reply_err */
static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int rc = fs_lookup(req_fs(req), parent, name, (uint32_t)fuse_req_ctx(req)->pid, &e);

	reply_entry_or_err(req, rc, &e);
}

/* Valid replies: fuse_reply_none */
static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	inode_forget(req_fs(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

/* Valid replies: fuse_reply_none */
static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		inode_forget(req_fs(req)->inodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* Valid replies: fuse_reply_attr, fuse_reply_err */
static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double timeout = 0;
	int rc = fs_getattr(req_fs(req), ino, &st, &timeout);

	if (rc == -ENOENT && fi)
		(void)fs_file_stat_check(file_of(fi));
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* Valid replies: fuse_reply_attr, fuse_reply_err */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct stat st;
	double timeout = 0;
	int rc = fs_setattr(req_fs(req), req, ino, attr, to_set, &st, &timeout);

	(void)fi;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

/* Valid replies: fuse_reply_err */
static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	fuse_reply_err(req, -fs_access(req_fs(req), ino, mask));
}

/* Valid replies: fuse_reply_entry, fuse_reply_err */
static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	int rc = fs_mkdir(req_fs(req), fuse_req_ctx(req), parent, name, mode, &e);

	reply_entry_or_err(req, rc, &e);
}

/* Valid replies: fuse_reply_err */
static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -fs_rmdir(req_fs(req), parent, name));
}

/* Valid replies: fuse_reply_entry, fuse_reply_err */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, -fs_refuse_name(req_fs(req), "mknod", parent, name));
}

/* Valid replies: fuse_reply_create, fuse_reply_err */
static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	(void)mode;
	(void)fi;
	fuse_reply_err(req, -fs_refuse_name(req_fs(req), "create", parent, name));
}

/* Valid replies: fuse_reply_entry, fuse_reply_err */
static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	fuse_reply_err(req, -fs_refuse_name(req_fs(req), "symlink", parent, name));
}

/* Valid replies: fuse_reply_entry, fuse_reply_err */
static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	(void)ino;
	fuse_reply_err(req, -fs_refuse_name(req_fs(req), "link", newparent, newname));
}

/* Valid replies: fuse_reply_err */
static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -fs_refuse_name(req_fs(req), "unlink", parent, name));
}

/* Valid replies: fuse_reply_err */
static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	(void)newparent;
	(void)newname;
	(void)flags;
	fuse_reply_err(req, -fs_refuse_name(req_fs(req), "rename", parent, name));
}

/* Valid replies: fuse_reply_open, fuse_reply_err */
static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *f = NULL;
	int rc = fs_file_open(req_fs(req), ino, fi->flags, (uint32_t)fuse_req_ctx(req)->pid, &f);

	/* A consume file joins its group at open (a rebalance). */
	if (rc == 0 && f->kind == FILE_CONSUME) {
		rc = fs_consume_join(f, fuse_req_ctx(req)->pid);
		if (rc < 0)
			fs_file_release(req_fs(req), f);
	}
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)f;
	/* Partition files opened for reading go through the page cache;
	 * everything else is read and written as it is now (cache.c). */
	fi->direct_io = !f->cached;
	fi->keep_cache = f->keep_cache;
	fi->nonseekable = 0;
	if (fuse_reply_open(req, fi) != 0)
		fs_file_release(req_fs(req), f);
}

/* Valid replies: fuse_reply_buf, fuse_reply_err */
static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_file *f = file_of(fi);
	const char *data = NULL;
	ssize_t n;

	(void)ino;
	if (f->kind == FILE_CONSUME) {
		fs_consume_read(req, f, size, off); /* replies now or parks */
		return;
	}
	fs_file_lock(f);
	/* The kernel's read() of a direct-I/O file names its lock owner (the
	 * reader's descriptor table); a read that fills the page cache does
	 * not: so is a fault of mmap(MAP_PRIVATE), which the kernel allows on
	 * a direct-I/O file. Its short reply would be taken for the end of
	 * the file, so it is answered as the page cache is (by position). */
	n = fs_file_read(f, size, off, fi->lock_owner == 0, &data);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, data, (size_t)n);
	fs_file_unlock(f);
}

/* Valid replies: fuse_reply_write, fuse_reply_err */
static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs_file *f = file_of(fi);
	ssize_t n;

	(void)ino; /* the file knows its node (f->node) */
	fs_file_lock(f);
	n = fs_file_write(f, buf, size, off, fi->flags, fi->lock_owner);
	/* O_DSYNC, O_SYNC (which includes it) or pwritev2's RWF_DSYNC and
	 * RWF_SYNC: the kernel sends no fsync after a direct-I/O write, so
	 * the write is made durable here, as write() + fsync() (log_sync:
	 * one fdatasync, shared with the partition's concurrent syncs, its
	 * ring thread unpinned meanwhile). A sync that fails fails the
	 * write, whose records stay appended, as after a failed fsync
	 * (logged by topic_fsync_upto). */
	if (n > 0 && (fi->flags & O_DSYNC)) {
		int rc = fs_file_fsync(f);

		if (rc < 0)
			n = rc;
	}
	fs_file_unlock(f);
	if (n > 0 && f->node)
		fs_cache_wrote(req_fs(req), f->node, (int64_t)off + n);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

/* Valid replies: fuse_reply_err */
static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *f = file_of(fi);
	int rc;

	fs_file_lock(f);
	rc = fs_file_flush(f, fi->lock_owner, (uint32_t)fuse_req_ctx(req)->pid);
	fs_file_unlock(f);
	fs_lock_flush(req_fs(req), ino, fi); /* a close: its fcntl locks go */
	fuse_reply_err(req, -rc);
}

/* Valid replies: fuse_reply_err */
static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct fs_file *f = file_of(fi);
	int rc;

	(void)ino;
	(void)datasync;
	fs_file_lock(f);
	rc = fs_file_fsync(f);
	fs_file_unlock(f);
	fuse_reply_err(req, -rc);
}

/* Valid replies: fuse_reply_err */
static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, -fs_file_fallocate(file_of(fi), mode, offset, length));
}

/* Valid replies: fuse_reply_err */
static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_lock_release(req_fs(req), ino, fi);
	fs_file_release(req_fs(req), file_of(fi));
	fuse_reply_err(req, 0);
}

/* Valid replies: fuse_reply_lock, fuse_reply_err */
static void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
	fs_lock_get(req, ino, fi, lock);
}

/* Valid replies: fuse_reply_err (with sleep: possibly later, from the
 * thread whose unlock grants it, or EINTR when interrupted) */
static void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
		     int sleep)
{
	fs_lock_set(req, ino, fi, lock, sleep);
}

/* Valid replies: fuse_reply_err (without LOCK_NB: as setlk with sleep) */
static void op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	fs_lock_flock(req, ino, fi, op);
}

/* Valid replies: fuse_reply_open, fuse_reply_err */
static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_dir *d = NULL;
	int rc = fs_dir_open(req_fs(req), ino, &d);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0)
		fs_dir_close(d);
}

/* Valid replies: fuse_reply_buf, fuse_reply_data, fuse_reply_err */
static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	ssize_t n;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = fs_dir_read(req_fs(req), req, d, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

/* Valid replies: fuse_reply_err */
static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fs_dir_close((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* Valid replies: fuse_reply_err */
static void op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0); /* the catalog is written durably when it changes */
}

/* Valid replies: fuse_reply_statfs, fuse_reply_err */
static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int rc = fs_statfs(req_fs(req), &sv);

	(void)ino;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_statfs(req, &sv);
}

/* Valid replies: fuse_reply_poll, fuse_reply_err. Consume files only;
 * the others are always ready. */
static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct fs_file *f = file_of(fi);

	(void)ino;
	if (f->kind == FILE_CONSUME) {
		fs_consume_poll(req, f, ph);
		return;
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.access = op_access,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.getlk = op_getlk,
	.setlk = op_setlk,
	.flock = op_flock,
	.fallocate = op_fallocate,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.create = op_create,
	.poll = op_poll,
};
