/*
 * fuzzdir.c — the fuzz targets' data directory and I/O table (fuzzdir.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzzdir.h"

static char made[64];

static int no_fsync(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return 0;
}

static int no_fsync_dir(void *ctx, const char *path)
{
	(void)ctx;
	(void)path;
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

void fuzzdir_empty(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void fuzzdir_put(const char *dir, const char *rel, const void *data, size_t size)
{
	char path[4096];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, rel) >= sizeof(path))
		abort();
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);
}

int fuzzdir_open_t0(const char *dir, const struct io_ops *io, const struct log_config *cfg,
		    const int *refusals, struct logmgr **m, struct log **l)
{
	int rc = logmgr_open(dir, io, m);

	if (rc == 0) {
		rc = logmgr_get_log(*m, "t", 0, cfg, false, l);
		if (rc < 0)
			logmgr_abandon(*m);
	}
	if ((rc == -EBADMSG || rc == -EPROTONOSUPPORT) && !*refusals)
		abort();
	if (rc && rc != -EBADMSG && rc != -EPROTONOSUPPORT && rc != -ENOMEM)
		abort();
	return rc ? 1 : 0;
}

static void cleanup(void)
{
	fuzzdir_empty(made);
	rmdir(made);
}

void fuzzdir_init(char *dir, size_t cap, const char *tag, struct io_ops *io)
{
	snprintf(made, sizeof(made), "/tmp/mqfs-fuzz-%s-XXXXXX", tag);
	if (!mkdtemp(made) || (size_t)snprintf(dir, cap, "%s", made) >= cap)
		abort();
	atexit(cleanup);
	*io = io_posix;
	io->fsync = no_fsync;
	io->fsync_dir = no_fsync_dir;
}
