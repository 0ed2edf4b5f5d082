/*
 * mqfs-passthrough — a minimal passthrough FUSE daemon, the benchmark ceiling.
 *
 *   mqfs-passthrough [-f] [-d] [-s] SOURCE_DIR MOUNTPOINT [-o opts]
 *
 * Serves the files of SOURCE_DIR through libfuse3's low-level API with the
 * same channel settings mqfs uses, so `contrib/bench` can tell how much of a
 * throughput gap is FUSE itself and how much is mqfs:
 *
 *   - multi-threaded session loop (fuse_session_loop_mt)
 *   - direct_io on every opened file (no page cache on the FUSE side)
 *   - max_write = 1 MiB; libfuse 3.14 derives the kernel's max_pages from
 *     max_write in its INIT reply ((max_write-1)/pagesize+1 = 256 pages), so
 *     a 1 MiB write() reaches us as one request
 *   - max_read = 1 MiB (init() and the "-o max_read=" mount option must
 *     agree, libfuse checks), async_read
 *   - attribute and entry timeouts 0, st_blksize 1 MiB (as mqfs reports)
 *   - 10 idle worker threads (as mqfs), reads answered with fuse_reply_buf
 *     from a per-thread buffer (as mqfs: no splice)
 *   - the kernel's io_uring transport where it is on, through mqfs's own
 *     fs/uring.c (as mqfs), /dev/fuse otherwise; MQFS_PT_URING=0 in the
 *     environment keeps /dev/fuse
 *
 * MQFS_PT_CACHE=1 in the environment is the page-cache mode: files opened
 * O_RDONLY are read through the kernel's page cache (no direct_io, and
 * keep_cache: the source does not change under a benchmark), as mqfs reads
 * its partition files; writers keep direct_io.
 *
 * For control experiments only: MQFS_PT_WRITE_WORK_US=N in the environment
 * makes every write spend N microseconds busy (on top of its pwrite) before
 * it replies, so a benchmark can show how a rate depends on the handler's
 * time alone (contrib/bench/smallwrites.sh uses it for its control row).
 * N may have a fraction (0.3): the cliff of two writers is a microsecond
 * wide.
 *
 * Inodes: every looked-up object is held by an O_PATH descriptor and keyed by
 * (st_dev, st_ino) of the source, reference-counted by the kernel's lookup
 * count; the fuse inode number is the address of our struct (root is
 * FUSE_ROOT_ID). Operations: lookup, forget, getattr, setattr (mode, owner,
 * size, times), readdir, open, create, read, write, flush, release, fsync,
 * mkdir, unlink, rmdir, statfs. That is enough for dd/cat/echo/ls/rm of
 * regular files and directories; no symlinks, xattrs, rename or locks.
 */
#define FUSE_USE_VERSION 35

#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "fs/uring.h"

#define PT_MAX_IO  (1u << 20) /* 1 MiB: max_write and max_read */
#define PT_BUCKETS 4096       /* inode hash table size (power of two) */

struct pt_inode {
	struct pt_inode *next; /* hash chain */
	int fd;                /* O_PATH descriptor of the source object */
	dev_t dev;
	ino_t ino;
	uint64_t nlookup; /* kernel lookup count */
};

struct pt_fs {
	pthread_mutex_t lock;
	struct pt_inode root;
	struct pt_inode *buckets[PT_BUCKETS];
	double timeout;        /* attr and entry timeout, seconds */
	int64_t write_work_ns; /* MQFS_PT_WRITE_WORK_US, as ns; 0: none */
	int cache;             /* MQFS_PT_CACHE=1: readers use the page cache */
};

struct pt_dir {
	DIR *dp;
	off_t offset;
	struct dirent *entry; /* read but not yet returned to the kernel */
};

static struct pt_fs *pt_data(fuse_req_t req)
{
	return (struct pt_fs *)fuse_req_userdata(req);
}

static struct pt_inode *pt_inode(fuse_req_t req, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &pt_data(req)->root;
	return (struct pt_inode *)(uintptr_t)ino;
}

static int pt_fd(fuse_req_t req, fuse_ino_t ino)
{
	return pt_inode(req, ino)->fd;
}

static size_t pt_hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev;
	return (size_t)(h >> 20) & (PT_BUCKETS - 1);
}

/* "/proc/self/fd/N": reopen an O_PATH descriptor with real access flags. */
static void pt_procname(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Find or create the inode of `name` in `parent`; fill `e`. Returns 0 or errno. */
/* fstat of an O_PATH descriptor; st_blksize is the I/O size mqfs reports
 * (1 MiB, the largest FUSE request), so readers use the same request size
 * on both mounts. */
static int pt_stat(int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	st->st_blksize = 1 << 20;
	return 0;
}

static int pt_do_lookup(fuse_req_t req, fuse_ino_t parent, const char *name,
			struct fuse_entry_param *e)
{
	struct pt_fs *fs = pt_data(req);
	int pfd = pt_fd(req, parent);
	struct pt_inode *in, *fresh;
	size_t b;
	int fd;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = fs->timeout;
	e->entry_timeout = fs->timeout;

	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (pt_stat(fd, &e->attr) < 0) {
		int err = errno;
		close(fd);
		return err;
	}

	b = pt_hash(e->attr.st_dev, e->attr.st_ino);
	pthread_mutex_lock(&fs->lock);
	for (in = fs->buckets[b]; in; in = in->next)
		if (in->ino == e->attr.st_ino && in->dev == e->attr.st_dev)
			break;
	if (in) {
		in->nlookup++;
		pthread_mutex_unlock(&fs->lock);
		close(fd);
	} else {
		pthread_mutex_unlock(&fs->lock);
		fresh = calloc(1, sizeof(*fresh));
		if (!fresh) {
			close(fd);
			return ENOMEM;
		}
		fresh->fd = fd;
		fresh->dev = e->attr.st_dev;
		fresh->ino = e->attr.st_ino;
		fresh->nlookup = 1;
		/* Re-check: another thread may have inserted it meanwhile. */
		pthread_mutex_lock(&fs->lock);
		for (in = fs->buckets[b]; in; in = in->next)
			if (in->ino == fresh->ino && in->dev == fresh->dev)
				break;
		if (in) {
			in->nlookup++;
			pthread_mutex_unlock(&fs->lock);
			close(fresh->fd);
			free(fresh);
		} else {
			fresh->next = fs->buckets[b];
			fs->buckets[b] = fresh;
			in = fresh;
			pthread_mutex_unlock(&fs->lock);
		}
	}
	e->ino = (fuse_ino_t)(uintptr_t)in;
	return 0;
}

static void pt_unref(struct pt_fs *fs, struct pt_inode *in, uint64_t n)
{
	struct pt_inode **pp;

	if (in == &fs->root)
		return;
	pthread_mutex_lock(&fs->lock);
	if (n > in->nlookup)
		n = in->nlookup;
	in->nlookup -= n;
	if (in->nlookup == 0) {
		for (pp = &fs->buckets[pt_hash(in->dev, in->ino)]; *pp; pp = &(*pp)->next) {
			if (*pp == in) {
				*pp = in->next;
				break;
			}
		}
		pthread_mutex_unlock(&fs->lock);
		close(in->fd);
		free(in);
		return;
	}
	pthread_mutex_unlock(&fs->lock);
}

/* ---- operations ---------------------------------------------------------- */

static void pt_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = PT_MAX_IO;
	conn->max_read = PT_MAX_IO;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	/* No writeback cache: every write() is a request, as in mqfs. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = pt_do_lookup(req, parent, name, &e);

	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void pt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	pt_unref(pt_data(req), pt_inode(req, ino), nlookup);
	fuse_reply_none(req);
}

static void pt_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		pt_unref(pt_data(req), pt_inode(req, forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (pt_stat(pt_fd(req, ino), &st) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, pt_data(req)->timeout);
}

static void pt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	int ifd = pt_fd(req, ino);
	char proc[64];
	int res = 0;

	pt_procname(proc, sizeof(proc), ifd);

	if (to_set & FUSE_SET_ATTR_MODE)
		res = fi ? fchmod((int)fi->fh, attr->st_mode) : chmod(proc, attr->st_mode);
	if (!res && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : (uid_t)-1;
		gid_t gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : (gid_t)-1;
		res = fchownat(ifd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	}
	if (!res && (to_set & FUSE_SET_ATTR_SIZE))
		res = fi ? ftruncate((int)fi->fh, attr->st_size) : truncate(proc, attr->st_size);
	if (!res && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME))) {
		struct timespec tv[2];

		tv[0].tv_sec = 0;
		tv[0].tv_nsec = UTIME_OMIT;
		tv[1].tv_sec = 0;
		tv[1].tv_nsec = UTIME_OMIT;
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		res = fi ? futimens((int)fi->fh, tv) : utimensat(AT_FDCWD, proc, tv, 0);
	}
	if (res < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	pt_getattr(req, ino, fi);
}

static void pt_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_dir *d = calloc(1, sizeof(*d));
	int fd;

	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fd = openat(pt_fd(req, ino), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d->dp = fdopendir(fd))) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		free(d);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void pt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct pt_dir *d = (struct pt_dir *)(uintptr_t)fi->fh;
	char *buf, *p;
	size_t rem;
	int err = 0;

	(void)ino;
	buf = calloc(1, size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (off != d->offset) {
		seekdir(d->dp, off);
		d->entry = NULL;
		d->offset = off;
	}
	p = buf;
	rem = size;
	for (;;) {
		struct stat st;
		size_t len;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		memset(&st, 0, sizeof(st));
		st.st_ino = d->entry->d_ino;
		st.st_mode = (mode_t)d->entry->d_type << 12;
		len = fuse_add_direntry(req, p, rem, d->entry->d_name, &st, d->entry->d_off);
		if (len > rem)
			break; /* keep d->entry for the next call */
		p += len;
		rem -= len;
		d->offset = d->entry->d_off;
		d->entry = NULL;
	}
	if (err && rem == size)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void pt_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pt_dir *d = (struct pt_dir *)(uintptr_t)fi->fh;

	(void)ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void pt_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fuse_entry_param e;
	int err;

	if (mkdirat(pt_fd(req, parent), name, mode) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = pt_do_lookup(req, parent, name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

static void pt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, unlinkat(pt_fd(req, parent), name, 0) < 0 ? errno : 0);
}

static void pt_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, unlinkat(pt_fd(req, parent), name, AT_REMOVEDIR) < 0 ? errno : 0);
}

static void pt_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int fd, err;

	fd = openat(pt_fd(req, parent), name, (fi->flags | O_CREAT | O_CLOEXEC) & ~O_NOFOLLOW,
		    mode);
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	err = pt_do_lookup(req, parent, name, &e);
	if (err) {
		close(fd);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	fi->keep_cache = 0;
	if (fuse_reply_create(req, &e, fi) != 0) {
		/* Kernel gone or request interrupted: undo our part. */
		close(fd);
		pt_unref(pt_data(req), (struct pt_inode *)(uintptr_t)e.ino, 1);
	}
}

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	char proc[64];
	int fd;

	pt_procname(proc, sizeof(proc), pt_fd(req, ino));
	fd = open(proc, (fi->flags | O_CLOEXEC) & ~(O_NOFOLLOW | O_CREAT));
	if (fd < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = (uint64_t)fd;
	fi->direct_io = !(pt_data(req)->cache && (fi->flags & O_ACCMODE) == O_RDONLY);
	fi->keep_cache = !fi->direct_io;
	if (fuse_reply_open(req, fi) != 0)
		close(fd);
}

/* One read buffer per worker thread, reused: fuse_reply_data() on an fd
 * would malloc (and, at >= 128 KiB, mmap/munmap) a buffer per request. */
static pthread_key_t pt_buf_key;

static char *pt_thread_buf(void)
{
	char *b = pthread_getspecific(pt_buf_key);

	if (!b) {
		b = malloc(PT_MAX_IO);
		if (b && pthread_setspecific(pt_buf_key, b) != 0) {
			free(b);
			b = NULL;
		}
	}
	return b;
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	char *buf, *own = NULL;
	size_t done = 0;

	(void)ino;
	if (size > PT_MAX_IO)
		buf = own = malloc(size);
	else
		buf = pt_thread_buf();
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	while (done < size) {
		ssize_t n = pread((int)fi->fh, buf + done, size - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (done == 0) {
				fuse_reply_err(req, errno);
				free(own);
				return;
			}
			break;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	fuse_reply_buf(req, buf, done);
	free(own);
}

static void pt_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	size_t done = 0;

	(void)ino;
	while (done < size) {
		ssize_t n = pwrite((int)fi->fh, buf + done, size - done, off + (off_t)done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (done == 0) {
				fuse_reply_err(req, errno);
				return;
			}
			break;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	if (pt_data(req)->write_work_ns > 0) {
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		do
			clock_gettime(CLOCK_MONOTONIC, &b);
		while ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) <
		       pt_data(req)->write_work_ns);
	}
	fuse_reply_write(req, done);
}

static void pt_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

static void pt_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	close((int)fi->fh);
	fuse_reply_err(req, 0);
}

static void pt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	int fd = (int)fi->fh;

	(void)ino;
	fs_uring_blocking(); /* as mqfs's fsync */
	fuse_reply_err(req, (datasync ? fdatasync(fd) : fsync(fd)) < 0 ? errno : 0);
}

static void pt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(pt_fd(req, ino), &sv) < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops pt_ops = {
	.init = pt_init,
	.lookup = pt_lookup,
	.forget = pt_forget,
	.forget_multi = pt_forget_multi,
	.getattr = pt_getattr,
	.setattr = pt_setattr,
	.opendir = pt_opendir,
	.readdir = pt_readdir,
	.releasedir = pt_releasedir,
	.mkdir = pt_mkdir,
	.unlink = pt_unlink,
	.rmdir = pt_rmdir,
	.create = pt_create,
	.open = pt_open,
	.read = pt_read,
	.write = pt_write,
	.flush = pt_flush,
	.release = pt_release,
	.fsync = pt_fsync,
	.statfs = pt_statfs,
};

/* ---- command line -------------------------------------------------------- */

struct pt_args {
	char *source;
};

/* Take the first non-option argument as SOURCE_DIR; leave everything else
 * (including MOUNTPOINT, the second one) for fuse_parse_cmdline(). */
static int pt_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct pt_args *a = data;

	(void)outargs;
	if (key == FUSE_OPT_KEY_NONOPT && !a->source) {
		a->source = strdup(arg);
		return 0;
	}
	return 1;
}

static void pt_usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-s] SOURCE_DIR MOUNTPOINT [-o opts]\n"
	       "\n"
	       "Passthrough of SOURCE_DIR with mqfs's FUSE channel settings\n"
	       "(direct_io, 1 MiB max_write/max_read, async_read, timeouts 0,\n"
	       "multi-threaded loop). Without -f it daemonizes after mounting;\n"
	       "SIGTERM/SIGINT unmount cleanly.\n\n",
	       prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config lc;
	struct fuse_session *se = NULL;
	struct pt_args pa = { NULL };
	struct pt_fs *fs = NULL;
	struct fs_uring *ring = NULL;
	struct stat st;
	char maxread[64];
	int ret = 1;

	umask(0); /* the kernel already applied the caller's umask */
	if (pthread_key_create(&pt_buf_key, free) != 0)
		return 1;

	memset(&opts, 0, sizeof(opts));
	if (fuse_opt_parse(&args, &pa, NULL, pt_opt_proc) != 0)
		goto out;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if (opts.show_help) {
		pt_usage(argv[0]);
		ret = 0;
		goto out;
	}
	if (opts.show_version) {
		printf("mqfs-passthrough, FUSE library version %s\n", fuse_pkgversion());
		fuse_lowlevel_version();
		ret = 0;
		goto out;
	}
	if (!pa.source || !opts.mountpoint) {
		fprintf(stderr, "usage: %s [-f] SOURCE_DIR MOUNTPOINT [-o opts]\n", argv[0]);
		goto out;
	}

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		perror("calloc");
		goto out;
	}
	pthread_mutex_init(&fs->lock, NULL);
	fs->timeout = 0.0;
	fs->cache = getenv("MQFS_PT_CACHE") && strcmp(getenv("MQFS_PT_CACHE"), "1") == 0;
	if (getenv("MQFS_PT_WRITE_WORK_US"))
		fs->write_work_ns = (int64_t)(strtod(getenv("MQFS_PT_WRITE_WORK_US"), NULL) * 1000);
	fs->root.nlookup = 2;
	fs->root.fd = open(pa.source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root.fd < 0 || fstat(fs->root.fd, &st) < 0) {
		fprintf(stderr, "mqfs-passthrough: %s: %s\n", pa.source, strerror(errno));
		goto out;
	}
	fs->root.dev = st.st_dev;
	fs->root.ino = st.st_ino;

	/* init() sets conn->max_read; libfuse requires the mount option to match. */
	snprintf(maxread, sizeof(maxread), "-omax_read=%u", PT_MAX_IO);
	if (fuse_opt_add_arg(&args, maxread) != 0 ||
	    fuse_opt_add_arg(&args, "-ofsname=mqfs-passthrough") != 0 ||
	    fuse_opt_add_arg(&args, "-osubtype=mqfs-passthrough") != 0)
		goto out;

	se = fuse_session_new(&args, &pt_ops, sizeof(pt_ops), fs);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_unmount;
	/* After the fork of fuse_daemonize(): the ring's threads are ours. */
	if (!getenv("MQFS_PT_URING") || strcmp(getenv("MQFS_PT_URING"), "0") != 0)
		ring = fs_uring_open(se, PT_MAX_IO);

	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		lc.clone_fd = opts.clone_fd;
		/* mqfs runs its loop with 10 idle threads; so do we unless
		 * -o max_idle_threads= was given. */
		lc.max_idle_threads =
			opts.max_idle_threads == UINT_MAX ? 10 : opts.max_idle_threads;
		ret = fuse_session_loop_mt(se, &lc);
	}
	/* 0: unmounted from outside; >0: a signal; <0: an error. */
	ret = ret < 0 ? 1 : 0;
	fs_uring_close(ring);

out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
out:
	if (fs) {
		for (size_t b = 0; b < PT_BUCKETS; b++) {
			struct pt_inode *in = fs->buckets[b];
			while (in) {
				struct pt_inode *next = in->next;
				close(in->fd);
				free(in);
				in = next;
			}
		}
		if (fs->root.fd >= 0)
			close(fs->root.fd);
		pthread_mutex_destroy(&fs->lock);
		free(fs);
	}
	free(pthread_getspecific(pt_buf_key)); /* main thread's, if -s */
	free(opts.mountpoint);
	free(pa.source);
	fuse_opt_free_args(&args);
	return ret;
}
