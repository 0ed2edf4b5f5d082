/*
 * daemon.c — what the daemon sets up in its own process before it mounts:
 * the signals it documents, the open-files limit, and a dead mount left on
 * its mount point by a daemon that was killed.
 *
 * Signals: SIGINT, SIGTERM and SIGHUP stop mqfs cleanly. libfuse's
 * fuse_set_signal_handlers() installs its handler only on a signal whose
 * disposition is SIG_DFL, and a process inherits ignored signals (a shell
 * starts background jobs with SIGINT ignored) and its blocked mask: so the
 * three are reset to SIG_DFL and unblocked first, whatever was inherited.
 *
 * Open files: every partition's active segment holds descriptors, and so do
 * closed segments while they are read (engine/seg.c). The soft
 * RLIMIT_NOFILE is raised to the hard one (capped by fs.nr_open when the
 * hard limit is unlimited).
 *
 * A dead mount: after a kill -9 the mount point stays mounted with no
 * daemon behind it and every access fails with ENOTCONN ("Transport
 * endpoint is not connected"), mount included. On the io_uring transport
 * the kernel ends the connection only once it has torn the daemon's rings
 * down, a little after the process is gone: an access in between waits for
 * that and fails with ECONNABORTED ("Software caused connection abort"),
 * and one that reaches the rings while the threads exit fails with
 * ECANCELED (asked again until the connection ends). Either of the first two marks a dead mount (asked with statfs, which the kernel
 * never answers from a cache). When the mount point is such a dead FUSE
 * mount, mqfs detaches it (umount2 MNT_DETACH as root, else
 * `fusermount3 -u -z`, as the user who mounted it may) and mounts over the
 * freed directory; when that fails it refuses, printing the command. It
 * detaches only just before it mounts: until then (log recovery, a
 * cluster broker's wait for its old registration to expire) the dead
 * mount keeps answering ENOTCONN, where a bare directory would take a
 * mkdir or a file that the new mount then hides.
 *
 * Exposure: the mount's modes are the only access control mqfs has; the
 * files behind it (the data directory, the config file with the broker's
 * password) are checked at start and a warning names the one others can
 * read. Only a warning: the admin may have put those rights there on
 * purpose (a backup user's group), and the daemon cannot tell.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/fs.h"

int daemon_signals_reset(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
		sigaddset(&set, sigs[i]);
	}
	return pthread_sigmask(SIG_UNBLOCK, &set, NULL) == 0 ? 0 : -EINVAL;
}

/* The kernel's ceiling for RLIMIT_NOFILE (fs.nr_open). */
static rlim_t nr_open(void)
{
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v ? (rlim_t)v : 1048576;
}

int daemon_raise_nofile(rlim_t *was, rlim_t *now)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	*was = *now = rl.rlim_cur;
	want = rl.rlim_max == RLIM_INFINITY ? nr_open() : rl.rlim_max;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= want)
		return 0;
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	*now = want;
	return 0;
}

/* Undoes /proc/self/mountinfo's octal escapes (\040 for a space, ...). */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* The type of the last mount on path ("fuse.mqfs", ...), or "" if path is
 * no mount point. */
static void mount_type(const char *path, char *type, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[3 * PATH_MAX];

	type[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX], fstype[256];
		const char *sep = strstr(line, " - ");

		/* id parent dev root MOUNTPOINT ... - FSTYPE source options */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		unescape(mp);
		if (strcmp(mp, path) == 0)
			snprintf(type, cap, "%s", fstype);
	}
	fclose(f);
}

/* fusermount3 -u -z path: 0 if it exited 0. */
static int fusermount_detach(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

/* The absolute name of path without resolving its last component (which
 * cannot be resolved when it is a dead mount). */
static int abs_name(const char *path, char *out, size_t cap)
{
	char buf[PATH_MAX], dir[PATH_MAX];
	const char *base;
	char *slash;
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	slash = strrchr(buf, '/');
	if (!slash) {
		base = buf;
		if (!realpath(".", dir))
			return -errno;
	} else {
		*slash = '\0';
		base = slash + 1;
		if (!realpath(slash == buf ? "/" : buf, dir))
			return -errno;
	}
	if (snprintf(out, cap, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", base) >= (int)cap)
		return -ENAMETOOLONG;
	return 0;
}

static bool errno_dead_mount(int e)
{
	return e == ENOTCONN || e == ECONNABORTED;
}

/* statfs of the mount point, asked again while it fails with ECANCELED:
 * on the io_uring transport a request that reaches the rings of a daemon
 * whose threads are exiting (a kill -9 just sent) ends with ECANCELED, and
 * the process may still hold the data directory's lock. The connection
 * ends (ENOTCONN, ECONNABORTED) once the process is gone and its rings are
 * torn down. Returns 0 or -errno; ECANCELED past the deadline (10 s) is
 * taken for a dead mount. */
static int statfs_settled(const char *mountpoint)
{
	struct statfs sfs;

	for (int i = 0; i < 200; i++) {
		if (statfs(mountpoint, &sfs) == 0)
			return 0;
		if (errno != ECANCELED)
			return -errno;
		usleep(50 * 1000);
	}
	return -ECONNABORTED;
}

int daemon_dead_mount(const char *mountpoint, char *abs, size_t cap)
{
	char type[256];
	int rc, dead;

	/* statfs, not stat: the kernel answers a stat of a FUSE mount's root
	 * from its attribute cache for a while (FS_DIR_ATTR_TIMEOUT) after
	 * the daemon died, and a restart at once would mount over the dead
	 * mount; a FUSE statfs always asks the daemon. */
	rc = statfs_settled(mountpoint);
	if (rc == 0 || !errno_dead_mount(-rc))
		return 0;
	dead = -rc;
	rc = abs_name(mountpoint, abs, cap);
	if (rc < 0)
		return rc;
	mount_type(abs, type, sizeof(type));
	if (strncmp(type, "fuse", 4) != 0) {
		fprintf(stderr,
			"mqfs: mount point %s: %s, and it is not a FUSE mount: "
			"not touching it\n",
			abs, strerror(dead));
		return -dead;
	}
	return 1;
}

int daemon_live_mount(const char *path)
{
	char type[256];

	mount_type(path, type, sizeof(type));
	if (strcmp(type, "fuse.mqfs") != 0)
		return 0;
	fprintf(stderr,
		"mqfs: mount point %s is mounted by a running mqfs already: a second one "
		"would hide it; unmount it first (fusermount3 -u %s)\n",
		path, path);
	return -EBUSY;
}

int daemon_detach_dead_mount(const char *path)
{
	char type[256];
	struct stat st;
	int rc;

	/* Found dead at the start: gone since (unmounted by someone else)
	 * leaves nothing to do. */
	rc = statfs_settled(path);
	if (rc == 0 || !errno_dead_mount(-rc))
		return 0;
	mount_type(path, type, sizeof(type));
	rc = umount2(path, MNT_DETACH) == 0 ? 0 : -errno;
	if (rc == -EPERM)
		rc = fusermount_detach(path);
	if (rc < 0 || (stat(path, &st) < 0 && errno_dead_mount(errno))) {
		fprintf(stderr,
			"mqfs: mount point %s is a dead %s mount (its daemon is gone) and "
			"could not be detached; run: fusermount3 -u -z %s\n",
			path, type, path);
		return -ENOTCONN;
	}
	mq_log(MQ_WARN, "mount point %s was a dead %s mount (its daemon was gone): detached it",
	       path, type);
	return 1;
}

/* The kernel reads ahead into the page cache of a FUSE mount in requests
 * of at most the mount's read_ahead_kb (128 KiB by default; FUSE's INIT
 * can only lower it), against 1 MiB for a direct-I/O read. Raising it
 * needs root; without it reads through the cache take 8 round trips per
 * MiB. Called after FUSE's INIT, which sets it. The device is looked up in /proc/self/mountinfo, not by stat() of
 * the mount point, which would wait for this daemon's own loop. */
int daemon_readahead(const char *mountpoint, unsigned kb)
{
	char line[4096], path[96];
	unsigned major = 0, minor = 0;
	bool found = false;
	FILE *f;
	int fd, rc = 0;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	/* "36 35 0:51 / /mnt/point rw,... - fuse.mqfs ...": the fifth field,
	 * octal-escaped (a space is \040); the last FUSE mount on it is this
	 * daemon's, mounted just now. */
	while (fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		char root[8], mnt[PATH_MAX];

		if (sscanf(line, "%*u %*u %u:%u %7s %4095s", &maj, &min, root, mnt) != 4 ||
		    !strstr(line, " - fuse"))
			continue;
		unescape(mnt);
		if (strcmp(mnt, mountpoint) == 0) {
			major = maj;
			minor = min;
			found = true;
		}
	}
	fclose(f);
	if (!found)
		return -ENOENT;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major, minor);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(line, sizeof(line), "%u\n", kb);
	if (write(fd, line, strlen(line)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int daemon_exposure_check(const char *data_dir, const char *config, bool has_password,
			  bool allow_other)
{
	struct stat st;
	int n = 0;

	if (config && has_password && stat(config, &st) == 0 && (st.st_mode & S_IROTH)) {
		mq_log(MQ_WARN,
		       "config file %s holds a password (sasl.jaas.config) and every user may "
		       "read it (mode %04o): chmod o-r %s",
		       config, (unsigned)(st.st_mode & 07777), config);
		n++;
	}
	/* Others with x on the directory reach the segment files by name
	 * (they are 0644 under the usual umask); with r they list them. */
	if (allow_other && stat(data_dir, &st) == 0 && (st.st_mode & (S_IROTH | S_IXOTH))) {
		mq_log(MQ_WARN,
		       "data directory %s is open to every user (mode %04o): they read every "
		       "topic's records there, whatever the topic's mode on the mount: "
		       "chmod o-rx %s",
		       data_dir, (unsigned)(st.st_mode & 07777), data_dir);
		n++;
	}
	return n;
}
