/*
 * fuzzdir.c — the fuzz targets' data directory and I/O table (fuzzdir.h).
 */
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
