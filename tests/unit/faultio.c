/*
 * faultio.c — see faultio.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/faultio.h"

static int file_slot(struct faultio *f, const char *path, int64_t size_if_new)
{
	for (int i = 0; i < f->nfiles; i++)
		if (strcmp(f->files[i].path, path) == 0)
			return i;
	if (f->nfiles == FAULTIO_FILES)
		return -1;
	int i = f->nfiles++;
	snprintf(f->files[i].path, PATH_MAX, "%s", path);
	f->files[i].durable = size_if_new;
	f->files[i].snap = NULL;
	f->files[i].snap_off = 0;
	f->files[i].snap_len = 0;
	f->files[i].cut = NULL;
	f->files[i].cut_off = 0;
	return i;
}

/* The crash-point injector (die_countdown): true when this mutating call
 * must not happen. */
static bool fi_dies(struct faultio *f, const char *path)
{
	if (!f->mutations_skip || !path || !strstr(path, f->mutations_skip))
		__atomic_fetch_add(&f->mutations, 1, __ATOMIC_RELAXED);
	if (!f->dead && f->die_countdown > 0 && --f->die_countdown == 0)
		f->dead = true;
	return f->dead;
}

/* The path fd was opened with (NULL if unknown). */
static const char *fd_name(struct faultio *f, int fd)
{
	return fd >= 0 && fd < 4096 ? f->fd_path[fd] : NULL;
}

static int fi_open(void *ctx, const char *path, int flags, mode_t mode)
{
	struct faultio *f = ctx;
	f->opens++;
	if (f->open_fails > 0) {
		f->open_fails--;
		return -f->open_errno;
	}
	if ((flags & (O_CREAT | O_TRUNC)) && fi_dies(f, path))
		return -EIO;
	if ((flags & O_CREAT) && f->fail_path && strstr(path, f->fail_path)) {
		atomic_fetch_add(&f->fail_path_hits, 1);
		return f->fail_path_errno ? -f->fail_path_errno : -EIO;
	}
	struct stat st;
	int64_t existing = stat(path, &st) == 0 ? st.st_size : 0;
	int fd = io_posix.open(NULL, path, flags, mode);
	if (fd < 0)
		return fd;
	if (fd < 4096) {
		free(f->fd_path[fd]);
		f->fd_path[fd] = strdup(path);
		int s = file_slot(f, path, (flags & O_TRUNC) ? 0 : existing);
		if (s >= 0 && (flags & O_TRUNC)) {
			f->files[s].durable = 0;
			free(f->files[s].cut);
			f->files[s].cut = NULL;
		}
	}
	return fd;
}

static int fi_close(void *ctx, int fd)
{
	struct faultio *f = ctx;
	if (fd >= 0 && fd < 4096) {
		free(f->fd_path[fd]);
		f->fd_path[fd] = NULL;
	}
	return io_posix.close(NULL, fd);
}

static ssize_t fi_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	struct faultio *f = ctx;

	f->preads++;
	const char *only = f->pread_fail_path, *name = fd_name(f, fd);
	int left = only && !(name && strstr(name, only))
			   ? 0
			   : __atomic_load_n(&f->pread_fails, __ATOMIC_ACQUIRE);
	while (left > 0 && !__atomic_compare_exchange_n(&f->pread_fails, &left, left - 1, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	if (left > 0)
		return -f->pread_errno;
	ssize_t n = io_posix.pread(NULL, fd, buf, len, off);
	if (n > 0)
		f->pread_bytes += n;
	return n;
}

static ssize_t fi_sendfile(void *ctx, int out_fd, int in_fd, off_t *off, size_t len)
{
	struct faultio *f = ctx;
	int left = __atomic_load_n(&f->sendfile_fails, __ATOMIC_ACQUIRE);

	while (left > 0 && !__atomic_compare_exchange_n(&f->sendfile_fails, &left, left - 1, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		;
	if (left > 0)
		return -f->sendfile_errno;
	return io_posix.sendfile(NULL, out_fd, in_fd, off, len);
}

/* A write of n pieces; the faults count calls. A short write: half of it
 * lands (ending inside a piece when there are several, so the caller's
 * resumption from the middle of a piece is tried); the caller must notice. */
static ssize_t fi_pwritev(void *ctx, int fd, const struct iovec *iov, int n, off_t off)
{
	struct faultio *f = ctx;
	if (!pthread_equal(pthread_self(), f->owner))
		f->foreign_writes++; /* the writer is waited for before it is read */
	if (f->pwrite_delay_us > 0)
		usleep((useconds_t)f->pwrite_delay_us);
	if (fi_dies(f, fd_name(f, fd)))
		return -EIO;
	if (f->pwrite_countdown > 0 && --f->pwrite_countdown == 0) {
		if (f->pwrite_errno)
			return -f->pwrite_errno;
		size_t total = 0;
		for (int i = 0; i < n; i++)
			total += iov[i].iov_len;
		if (total > 1) {
			size_t want = total / 2, done = 0;
			for (int i = 0; i < n && done < want; i++) {
				size_t k =
					iov[i].iov_len < want - done ? iov[i].iov_len : want - done;
				ssize_t w = io_posix.pwrite(NULL, fd, iov[i].iov_base, k,
							    off + (off_t)done);
				if (w < 0)
					return w;
				done += (size_t)w;
			}
			return (ssize_t)done;
		}
	}
	return io_posix.pwritev(NULL, fd, iov, n, off);
}

static ssize_t fi_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	struct iovec v = { (void *)(uintptr_t)buf, len };

	return fi_pwritev(ctx, fd, &v, 1, off);
}

/* Copies the file's current bytes [off, off + len) into its snapshot
 * (zeros past the end of the file). */
static void snap_fill(struct faultio *f, int s, int fd, int64_t off, size_t len)
{
	if (!f->files[s].snap || len == 0)
		return;
	uint8_t *dst = f->files[s].snap + (off - f->files[s].snap_off);
	memset(dst, 0, len);
	ssize_t n = io_posix.pread(NULL, fd, dst, len, off);
	(void)n;
}

/* The snapshot grows to cover [off, off + len): the new part holds what is
 * in the file now, up to its durable size. */
static void snap_cover(struct faultio *f, int s, int fd, int64_t off, size_t len)
{
	int64_t lo = off, hi = off + (int64_t)len;
	if (f->files[s].snap) {
		int64_t so = f->files[s].snap_off, se = so + (int64_t)f->files[s].snap_len;
		if (lo >= so && hi <= se)
			return;
		lo = lo < so ? lo : so;
		hi = hi > se ? hi : se;
	}
	uint8_t *n = calloc(1, (size_t)(hi - lo));
	if (!n)
		return;
	if (f->files[s].snap)
		memcpy(n + (f->files[s].snap_off - lo), f->files[s].snap, f->files[s].snap_len);
	int64_t old_lo = f->files[s].snap ? f->files[s].snap_off : hi;
	int64_t old_hi = f->files[s].snap ? old_lo + (int64_t)f->files[s].snap_len : hi;
	free(f->files[s].snap);
	f->files[s].snap = n;
	f->files[s].snap_off = lo;
	f->files[s].snap_len = (size_t)(hi - lo);
	int64_t dur = f->files[s].durable;
	int64_t a = lo, b = old_lo < dur ? old_lo : dur;
	if (b > a)
		snap_fill(f, s, fd, a, (size_t)(b - a));
	a = old_hi;
	b = hi < dur ? hi : dur;
	if (b > a)
		snap_fill(f, s, fd, a, (size_t)(b - a));
}

static void *fi_map_tail(void *ctx, int fd, off_t off, size_t len)
{
	struct faultio *f = ctx;
	if (fi_dies(f, fd_name(f, fd))) {
		errno = EIO;
		return NULL;
	}
	if (fd >= 0 && fd < 4096 && f->fd_path[fd]) {
		int s = file_slot(f, f->fd_path[fd], 0);
		if (s >= 0)
			snap_cover(f, s, fd, off, len);
	}
	return io_posix.map_tail(NULL, fd, off, len);
}

static int fi_reserve(void *ctx, int fd, off_t off, off_t len)
{
	struct faultio *f = ctx;
	if (fi_dies(f, fd_name(f, fd)))
		return -EIO;
	if (f->reserve_partial > 0) {
		f->reserve_partial--;
		(void)io_posix.reserve(NULL, fd, off, len / 2);
		return -ENOSPC;
	}
	return io_posix.reserve(NULL, fd, off, len);
}

static void fi_unmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	io_posix.unmap(NULL, addr, len);
}

static int fi_fsync(void *ctx, int fd)
{
	struct faultio *f = ctx;
	if (fi_dies(f, fd_name(f, fd)))
		return -EIO;
	f->fsyncs++;
	if (f->on_fsync) {
		void (*fn)(void *) = f->on_fsync;
		f->on_fsync = NULL;
		fn(f->on_fsync_arg);
	}
	if (f->fsync_countdown > 0 && --f->fsync_countdown == 0)
		return -EIO;
	int rc = f->no_sync ? 0 : io_posix.fsync(NULL, fd);
	if (rc == 0 && fd >= 0 && fd < 4096 && f->fd_path[fd]) {
		int s = file_slot(f, f->fd_path[fd], 0);
		if (s >= 0) {
			f->files[s].durable = io_posix.size(NULL, fd);
			snap_fill(f, s, fd, f->files[s].snap_off, f->files[s].snap_len);
			free(f->files[s].cut);
			f->files[s].cut = NULL;
		}
	}
	return rc;
}

/* Before a cut of slot s's file (open as fd) to len: keeps the bytes it
 * takes below the durable size, [len, durable), with those earlier cuts
 * took ([cut_off, durable)). */
static void cut_save(struct faultio *f, int s, int fd, int64_t len)
{
	if (s < 0)
		return;
	int64_t dur = f->files[s].durable;
	int64_t old = f->files[s].cut ? f->files[s].cut_off : dur;
	if (len >= old)
		return;
	uint8_t *n = calloc(1, (size_t)(dur - len));
	if (!n)
		return;
	ssize_t r = io_posix.pread(NULL, fd, n, (size_t)(old - len), len);
	(void)r;
	if (f->files[s].cut)
		memcpy(n + (old - len), f->files[s].cut, (size_t)(dur - old));
	free(f->files[s].cut);
	f->files[s].cut = n;
	f->files[s].cut_off = len;
}

static int fi_ftruncate(void *ctx, int fd, off_t len)
{
	struct faultio *f = ctx;
	if (fi_dies(f, fd_name(f, fd)))
		return -EIO;
	if (f->ftruncate_countdown > 0 && --f->ftruncate_countdown == 0)
		return -EIO;
	/* A cut is as volatile as a write: until the file's next fsync its
	 * durable size stays what it was, and faultio_crash grows it back
	 * with the bytes the cut took. */
	if (fd >= 0 && fd < 4096 && f->fd_path[fd])
		cut_save(f, file_slot(f, f->fd_path[fd], 0), fd, len);
	return io_posix.ftruncate(NULL, fd, len);
}

static int64_t fi_size(void *ctx, int fd)
{
	(void)ctx;
	return io_posix.size(NULL, fd);
}

/* Renames the tracked files at path `from` to `to`. */
static void files_move(struct faultio *f, const char *from, const char *to)
{
	for (int i = 0; i < f->nfiles; i++)
		if (strcmp(f->files[i].path, from) == 0)
			snprintf(f->files[i].path, PATH_MAX, "%s", to);
}

static void dir_of(const char *path, char *dir)
{
	const char *sl = strrchr(path, '/');
	size_t n = sl ? (size_t)(sl - path) : 0;
	memcpy(dir, path, n);
	dir[n] = '\0';
}

/* Moves path out of the way under a hidden name in its directory. */
static int stash(struct faultio *f, const char *path, char *to)
{
	char dir[PATH_MAX];
	dir_of(path, dir);
	if (snprintf(to, PATH_MAX, "%.4000s/.fistash.%u", dir, f->stash_seq++) >= PATH_MAX)
		return -ENAMETOOLONG;
	int rc = io_posix.rename(NULL, path, to);
	if (rc == 0)
		files_move(f, path, to);
	return rc;
}

static int fi_unlink(void *ctx, const char *path)
{
	struct faultio *f = ctx;
	if (fi_dies(f, path))
		return -EIO;
	if (f->ndirops == FAULTIO_FILES)
		return io_posix.unlink(NULL, path);
	int k = f->ndirops;
	int rc = stash(f, path, f->dirops[k].stash);
	if (rc < 0)
		return rc;
	snprintf(f->dirops[k].from, PATH_MAX, "%s", path);
	f->dirops[k].to[0] = '\0';
	f->ndirops++;
	return 0;
}

static int fi_rename(void *ctx, const char *from, const char *to)
{
	struct faultio *f = ctx;
	if (fi_dies(f, from))
		return -EIO;
	if (f->ndirops == FAULTIO_FILES) {
		int rc = io_posix.rename(NULL, from, to);
		f->renames += rc == 0;
		return rc;
	}
	int k = f->ndirops;
	struct stat st;
	f->dirops[k].stash[0] = '\0';
	if (stat(to, &st) == 0 && !S_ISDIR(st.st_mode)) {
		int rc = stash(f, to, f->dirops[k].stash);
		if (rc < 0)
			return rc;
	}
	int rc = io_posix.rename(NULL, from, to);
	if (rc < 0) {
		if (f->dirops[k].stash[0] && io_posix.rename(NULL, f->dirops[k].stash, to) == 0)
			files_move(f, f->dirops[k].stash, to);
		return rc;
	}
	f->renames++;
	files_move(f, from, to);
	snprintf(f->dirops[k].from, PATH_MAX, "%s", from);
	snprintf(f->dirops[k].to, PATH_MAX, "%s", to);
	f->ndirops++;
	return 0;
}

static int fi_mkdir(void *ctx, const char *path, mode_t mode)
{
	struct faultio *f = ctx;
	if (f->fail_path && strstr(path, f->fail_path)) {
		atomic_fetch_add(&f->fail_path_hits, 1);
		return -EIO;
	}
	return io_posix.mkdir(NULL, path, mode);
}

/* Drops the stashed file of a durable operation for good. */
static void stash_drop(struct faultio *f, const char *path)
{
	for (int i = 0; i < f->nfiles; i++)
		if (strcmp(f->files[i].path, path) == 0) {
			free(f->files[i].snap);
			free(f->files[i].cut);
			f->files[i] = f->files[--f->nfiles];
			i--;
		}
	io_posix.unlink(NULL, path);
}

static int fi_fsync_dir(void *ctx, const char *path)
{
	struct faultio *f = ctx;
	if (fi_dies(f, path))
		return -EIO;
	if (f->dir_open_fails > 0) {
		f->dir_open_fails--;
		return -f->open_errno;
	}
	int rc = f->no_sync ? 0 : io_posix.fsync_dir(NULL, path);
	if (rc < 0)
		return rc;
	/* The operations in this directory are durable now. */
	int k = 0;
	for (int i = 0; i < f->ndirops; i++) {
		char d1[PATH_MAX], d2[PATH_MAX];
		dir_of(f->dirops[i].from, d1);
		dir_of(f->dirops[i].to[0] ? f->dirops[i].to : f->dirops[i].from, d2);
		if (strcmp(d1, path) == 0 || strcmp(d2, path) == 0) {
			if (f->dirops[i].stash[0])
				stash_drop(f, f->dirops[i].stash);
			continue;
		}
		if (k != i)
			f->dirops[k] = f->dirops[i];
		k++;
	}
	f->ndirops = k;
	return 0;
}

void faultio_init(struct faultio *f)
{
	memset(f, 0, sizeof(*f));
	f->owner = pthread_self();
	f->ops = (struct io_ops){
		.open = fi_open,
		.close = fi_close,
		.pread = fi_pread,
		.sendfile = fi_sendfile,
		.pwrite = fi_pwrite,
		.pwritev = fi_pwritev,
		.fsync = fi_fsync,
		.ftruncate = fi_ftruncate,
		.size = fi_size,
		.unlink = fi_unlink,
		.rename = fi_rename,
		.mkdir = fi_mkdir,
		.fsync_dir = fi_fsync_dir,
		.map_tail = fi_map_tail,
		.unmap = fi_unmap,
		.reserve = fi_reserve,
		.ctx = f,
	};
}

void faultio_no_map(struct faultio *f)
{
	f->ops.map_tail = NULL;
	f->ops.unmap = NULL;
}

void faultio_free(struct faultio *f)
{
	for (int i = 0; i < 4096; i++) {
		free(f->fd_path[i]);
		f->fd_path[i] = NULL;
	}
	for (int i = 0; i < f->nfiles; i++) {
		free(f->files[i].snap);
		f->files[i].snap = NULL;
		free(f->files[i].cut);
		f->files[i].cut = NULL;
	}
}

void faultio_crash(struct faultio *f, int torn, unsigned seed)
{
	srand(seed);
	/* Directory entries first, newest first: files get back their names
	 * as of the last fsync of each directory. */
	for (int i = f->ndirops - 1; i >= 0; i--) {
		const char *from = f->dirops[i].from, *to = f->dirops[i].to;
		const char *st = f->dirops[i].stash;
		if (to[0] && io_posix.rename(NULL, to, from) == 0)
			files_move(f, to, from);
		if (st[0] && io_posix.rename(NULL, st, to[0] ? to : from) == 0)
			files_move(f, st, to[0] ? to : from);
	}
	f->ndirops = 0;
	for (int i = 0; i < f->nfiles; i++) {
		struct stat st;
		if (stat(f->files[i].path, &st) < 0)
			continue;
		int64_t keep = f->files[i].durable;
		if (st.st_size < keep) {
			/* A cut not fsynced since: the file regains its durable
			 * size and, below, the bytes the cut took (zeros when
			 * they were what a reservation left there). */
			if (truncate(f->files[i].path, keep) < 0)
				continue;
			st.st_size = keep;
		}
		if (f->files[i].snap) {
			/* Pages written through the mapping since the last fsync are
			 * lost (torn: the first few of them made it). */
			int64_t from = f->files[i].snap_off;
			size_t len = f->files[i].snap_len;
			if (torn) {
				size_t pages = len / 4096 + 1;
				size_t skip =
					(size_t)(rand() % (int)(pages > 64 ? 64 : pages)) * 4096;
				skip = skip < len ? skip : len;
				from += (int64_t)skip;
				len -= skip;
			}
			if (from < st.st_size && len > 0) {
				int fd = open(f->files[i].path, O_WRONLY);
				if (fd >= 0) {
					size_t n = (size_t)(st.st_size - from) < len
							   ? (size_t)(st.st_size - from)
							   : len;
					ssize_t w = pwrite(fd,
							   f->files[i].snap +
								   (from - f->files[i].snap_off),
							   n, from);
					(void)w;
					close(fd);
				}
			}
			free(f->files[i].snap);
			f->files[i].snap = NULL;
			f->files[i].snap_len = 0;
		}
		if (f->files[i].cut) {
			/* The bytes the cuts took come back with the size (after
			 * the mapped tail's: its snapshot of the cut range holds
			 * what the file had once cut, zeros). */
			int64_t off = f->files[i].cut_off;
			int fd = off < keep ? open(f->files[i].path, O_WRONLY) : -1;
			if (fd >= 0) {
				ssize_t w = pwrite(fd, f->files[i].cut, (size_t)(keep - off), off);
				(void)w;
				close(fd);
			}
			free(f->files[i].cut);
			f->files[i].cut = NULL;
		}
		if (st.st_size <= keep)
			continue;
		if (torn)
			keep += rand() % (st.st_size - keep + 1);
		if (truncate(f->files[i].path, keep) < 0)
			continue;
	}
}
