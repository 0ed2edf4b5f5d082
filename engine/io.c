/*
 * io.c — the engine's file I/O function table and helpers over it.
 *
 * Every byte the engine reads or writes goes through a struct io_ops, so a
 * test can substitute tests/unit/faultio.c to inject short writes, EIO,
 * ENOSPC and the loss of unsynced data (SQLite's test6.c idea). io_posix is
 * the production table: plain system calls, errors as -errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <unistd.h>

#include "engine/engine.h"

static int px_open(void *ctx, const char *path, int flags, mode_t mode)
{
	(void)ctx;
	int fd = open(path, flags | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

static int px_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd) < 0 ? -errno : 0;
}

static ssize_t px_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	(void)ctx;
	ssize_t n = pread(fd, buf, len, off);
	return n < 0 ? -errno : n;
}

static ssize_t px_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	(void)ctx;
	ssize_t n = pwrite(fd, buf, len, off);
	return n < 0 ? -errno : n;
}

static ssize_t px_pwritev(void *ctx, int fd, const struct iovec *iov, int n, off_t off)
{
	(void)ctx;
	ssize_t w = pwritev(fd, iov, n, off);
	return w < 0 ? -errno : w;
}

static int px_fsync(void *ctx, int fd)
{
	(void)ctx;
	/* An interrupted sync is made again: EINTR is no write-back error,
	 * and one passed up would stay (seg.c, seg_fsync) and come back to
	 * every later sync, which a writer's libc retries for ever. */
	while (fdatasync(fd) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int px_ftruncate(void *ctx, int fd, off_t len)
{
	(void)ctx;
	return ftruncate(fd, len) < 0 ? -errno : 0;
}

static int64_t px_size(void *ctx, int fd)
{
	(void)ctx;
	struct stat st;
	return fstat(fd, &st) < 0 ? -errno : (int64_t)st.st_size;
}

static int px_unlink(void *ctx, const char *path)
{
	(void)ctx;
	return unlink(path) < 0 ? -errno : 0;
}

static int px_rename(void *ctx, const char *from, const char *to)
{
	(void)ctx;
	return rename(from, to) < 0 ? -errno : 0;
}

static int px_mkdir(void *ctx, const char *path, mode_t mode)
{
	(void)ctx;
	return mkdir(path, mode) < 0 ? -errno : 0;
}

static int px_fsync_dir(void *ctx, const char *path)
{
	(void)ctx;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* fallocate first: a page of a shared mapping that needs a block the disk
 * cannot give raises SIGBUS; allocated ahead, it never does. */
static void *px_map_tail(void *ctx, int fd, off_t off, size_t len)
{
	(void)ctx;
	int rc = posix_fallocate(fd, off, (off_t)len);
	if (rc != 0) {
		errno = rc;
		return NULL;
	}
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
	return p == MAP_FAILED ? NULL : p;
}

static int px_reserve(void *ctx, int fd, off_t off, off_t len)
{
	(void)ctx;
	return fallocate(fd, FALLOC_FL_KEEP_SIZE, off, len) < 0 ? -errno : 0;
}

static ssize_t px_sendfile(void *ctx, int out_fd, int in_fd, off_t *off, size_t len)
{
	(void)ctx;
	ssize_t n = sendfile(out_fd, in_fd, off, len);
	return n < 0 ? -errno : n;
}

static void px_unmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	munmap(addr, len);
}

const struct io_ops io_posix = {
	.open = px_open,
	.close = px_close,
	.pread = px_pread,
	.pwrite = px_pwrite,
	.pwritev = px_pwritev,
	.fsync = px_fsync,
	.ftruncate = px_ftruncate,
	.size = px_size,
	.unlink = px_unlink,
	.rename = px_rename,
	.mkdir = px_mkdir,
	.fsync_dir = px_fsync_dir,
	.map_tail = px_map_tail,
	.unmap = px_unmap,
	.reserve = px_reserve,
	.sendfile = px_sendfile,
	.ctx = NULL,
};

ssize_t io_pread_full(const struct io_ops *io, int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n =
			io->pread(io->ctx, fd, (char *)buf + done, len - done, off + (off_t)done);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return n;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int io_pwrite_full(const struct io_ops *io, int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = io->pwrite(io->ctx, fd, (const char *)buf + done, len - done,
				       off + (off_t)done);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int io_pwritev_full(const struct io_ops *io, int fd, const struct iovec *iov, int n, off_t off)
{
	struct iovec v[IO_IOV_MAX];
	int k = 0;

	if (n > IO_IOV_MAX)
		return -EINVAL;
	if (!io->pwritev) { /* a table without it: one piece at a time */
		for (int i = 0; i < n; i++) {
			int rc = io_pwrite_full(io, fd, iov[i].iov_base, iov[i].iov_len, off);
			if (rc < 0)
				return rc;
			off += (off_t)iov[i].iov_len;
		}
		return 0;
	}
	memcpy(v, iov, sizeof(*v) * (size_t)n);
	while (k < n) {
		ssize_t w = io->pwritev(io->ctx, fd, v + k, n - k, off);
		if (w == -EINTR)
			continue;
		if (w < 0)
			return (int)w;
		if (w == 0)
			return -EIO;
		off += (off_t)w;
		/* Past the pieces written whole, into the one cut short. */
		while (k < n && (size_t)w >= v[k].iov_len) {
			w -= (ssize_t)v[k].iov_len;
			k++;
		}
		if (k < n) {
			v[k].iov_base = (char *)v[k].iov_base + w;
			v[k].iov_len -= (size_t)w;
		}
	}
	return 0;
}

static void dir_of(const char *path, char *dir, size_t cap)
{
	snprintf(dir, cap, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, cap, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
}

int io_write_file_atomic(const struct io_ops *io, const char *path, const void *buf, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = io->open(io->ctx, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fd;
	int rc = io_pwrite_full(io, fd, buf, len, 0);
	if (rc == 0)
		rc = io->fsync(io->ctx, fd);
	int rc2 = io->close(io->ctx, fd);
	if (rc == 0)
		rc = rc2;
	if (rc == 0)
		rc = io->rename(io->ctx, tmp, path);
	if (rc < 0) {
		io->unlink(io->ctx, tmp);
		return rc;
	}
	dir_of(path, dir, sizeof(dir));
	return io->fsync_dir(io->ctx, dir);
}

int io_read_file(const struct io_ops *io, const char *path, char **out, size_t *len)
{
	int fd = io->open(io->ctx, path, O_RDONLY, 0);
	if (fd < 0)
		return fd;
	int64_t size = io->size(io->ctx, fd);
	int rc = 0;
	char *buf = NULL;
	if (size < 0) {
		rc = (int)size;
		goto out;
	}
	if (size > 16 << 20) {
		rc = -EFBIG;
		goto out;
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	ssize_t n = io_pread_full(io, fd, buf, (size_t)size, 0);
	if (n < 0) {
		rc = (int)n;
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = (size_t)n;
out:
	io->close(io->ctx, fd);
	return rc;
}
