/*
 * readdir.h — readdir(3) that tells a listing the disk could not finish
 * from its end.
 */
#ifndef MQFS_UTIL_READDIR_H
#define MQFS_UTIL_READDIR_H

#include <dirent.h>
#include <errno.h>

/* The next entry of d, or NULL: at the end (*err 0) or when the directory
 * could not be read further (*err -errno, an I/O error of the disk say).
 * readdir itself returns NULL for both, setting errno only for the error:
 * a caller that does not look takes a failed listing for a short one, a
 * log directory for one without some of its segments, which a start would
 * then make again empty over the files it did not see. */
static inline struct dirent *readdir_checked(DIR *d, int *err)
{
	struct dirent *de;

	errno = 0;
	de = readdir(d);
	*err = de || errno == 0 ? 0 : -errno;
	return de;
}

#endif
