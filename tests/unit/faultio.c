/*
 * faultio.c — see faultio.h.
 */
#include <errno.h>
#include <fcntl.h>
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
	strncpy(f->files[i].path, path, PATH_MAX - 1);
	f->files[i].durable = size_if_new;
	return i;
}

/* The crash-point injector (die_countdown): true when this mutating call
 * must not happen. */
static bool fi_dies(struct faultio *f)
{
	f->mutations++;
	if (!f->dead && f->die_countdown > 0 && --f->die_countdown == 0)
		f->dead = true;
	return f->dead;
}

static int fi_open(void *ctx, const char *path, int flags, mode_t mode)
{
	struct faultio *f = ctx;
	if ((flags & (O_CREAT | O_TRUNC)) && fi_dies(f))
		return -EIO;
	if ((flags & O_CREAT) && f->fail_path && strstr(path, f->fail_path))
		return -EIO;
	struct stat st;
	int64_t existing = stat(path, &st) == 0 ? st.st_size : 0;
	int fd = io_posix.open(NULL, path, flags, mode);
	if (fd < 0)
		return fd;
	if (fd < 4096) {
		free(f->fd_path[fd]);
		f->fd_path[fd] = strdup(path);
		int s = file_slot(f, path, (flags & O_TRUNC) ? 0 : existing);
		if (s >= 0 && (flags & O_TRUNC))
			f->files[s].durable = 0;
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
	(void)ctx;
	return io_posix.pread(NULL, fd, buf, len, off);
}

static ssize_t fi_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	struct faultio *f = ctx;
	if (fi_dies(f))
		return -EIO;
	if (f->pwrite_countdown > 0 && --f->pwrite_countdown == 0) {
		if (f->pwrite_errno)
			return -f->pwrite_errno;
		if (len > 1) {
			/* A short write: half of it lands; the caller must notice. */
			ssize_t n = io_posix.pwrite(NULL, fd, buf, len / 2, off);
			return n;
		}
	}
	return io_posix.pwrite(NULL, fd, buf, len, off);
}

static int fi_fsync(void *ctx, int fd)
{
	struct faultio *f = ctx;
	if (fi_dies(f))
		return -EIO;
	f->fsyncs++;
	if (f->on_fsync) {
		void (*fn)(void *) = f->on_fsync;
		f->on_fsync = NULL;
		fn(f->on_fsync_arg);
	}
	if (f->fsync_countdown > 0 && --f->fsync_countdown == 0)
		return -EIO;
	int rc = io_posix.fsync(NULL, fd);
	if (rc == 0 && fd >= 0 && fd < 4096 && f->fd_path[fd]) {
		int s = file_slot(f, f->fd_path[fd], 0);
		if (s >= 0)
			f->files[s].durable = io_posix.size(NULL, fd);
	}
	return rc;
}

static int fi_ftruncate(void *ctx, int fd, off_t len)
{
	struct faultio *f = ctx;
	if (fi_dies(f))
		return -EIO;
	if (f->ftruncate_countdown > 0 && --f->ftruncate_countdown == 0)
		return -EIO;
	int rc = io_posix.ftruncate(NULL, fd, len);
	if (rc == 0 && fd >= 0 && fd < 4096 && f->fd_path[fd]) {
		int s = file_slot(f, f->fd_path[fd], 0);
		if (s >= 0 && f->files[s].durable > len)
			f->files[s].durable = len;
	}
	return rc;
}

static int64_t fi_size(void *ctx, int fd)
{
	(void)ctx;
	return io_posix.size(NULL, fd);
}

static int fi_unlink(void *ctx, const char *path)
{
	struct faultio *f = ctx;
	if (fi_dies(f))
		return -EIO;
	for (int i = 0; i < f->nfiles; i++)
		if (strcmp(f->files[i].path, path) == 0)
			f->files[i] = f->files[--f->nfiles];
	return io_posix.unlink(NULL, path);
}

static int fi_rename(void *ctx, const char *from, const char *to)
{
	struct faultio *f = ctx;
	if (fi_dies(f))
		return -EIO;
	int rc = io_posix.rename(NULL, from, to);
	if (rc == 0) {
		f->renames++;
		/* The renamed file was fsynced by its writer (atomic replace). */
		for (int i = 0; i < f->nfiles; i++)
			if (strcmp(f->files[i].path, to) == 0)
				f->files[i] = f->files[--f->nfiles];
		for (int i = 0; i < f->nfiles; i++)
			if (strcmp(f->files[i].path, from) == 0)
				strncpy(f->files[i].path, to, PATH_MAX - 1);
	}
	return rc;
}

static int fi_mkdir(void *ctx, const char *path, mode_t mode)
{
	struct faultio *f = ctx;
	if (f->fail_path && strstr(path, f->fail_path))
		return -EIO;
	return io_posix.mkdir(NULL, path, mode);
}

static int fi_fsync_dir(void *ctx, const char *path)
{
	if (fi_dies(ctx))
		return -EIO;
	return io_posix.fsync_dir(NULL, path);
}

void faultio_init(struct faultio *f)
{
	memset(f, 0, sizeof(*f));
	f->ops = (struct io_ops){
		.open = fi_open, .close = fi_close, .pread = fi_pread, .pwrite = fi_pwrite,
		.fsync = fi_fsync, .ftruncate = fi_ftruncate, .size = fi_size,
		.unlink = fi_unlink, .rename = fi_rename, .mkdir = fi_mkdir,
		.fsync_dir = fi_fsync_dir, .ctx = f,
	};
}

void faultio_free(struct faultio *f)
{
	for (int i = 0; i < 4096; i++) {
		free(f->fd_path[i]);
		f->fd_path[i] = NULL;
	}
}

void faultio_crash(struct faultio *f, int torn, unsigned seed)
{
	srand(seed);
	for (int i = 0; i < f->nfiles; i++) {
		struct stat st;
		if (stat(f->files[i].path, &st) < 0)
			continue;
		int64_t keep = f->files[i].durable;
		if (st.st_size <= keep)
			continue;
		if (torn)
			keep += rand() % (st.st_size - keep + 1);
		if (truncate(f->files[i].path, keep) < 0)
			continue;
	}
}
