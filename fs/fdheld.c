/*
 * fdheld.c — whether a process that closes a descriptor of a file of the
 * mount still holds another descriptor of it (open_files.c: an unfinished
 * line waits for its writer's last close, see README "Records are lines").
 *
 * The kernel tells no one which descriptors a process holds but its
 * /proc/PID/fd, and nothing tells when that table changes: a dup(),
 * dup2() or a descriptor received over a socket reaches no file system.
 * Reading the whole table at every such close costs a readlink per
 * descriptor, so a process that closes N descriptors with unfinished
 * lines read N^2/2 links. Here one reading of the table (a scan) is kept
 * per descriptor table (the lock owner the kernel names in a flush) and
 * answers the closes after it, checked at each close by:
 *
 *   A. the number of descriptors the table holds now (the size of
 *      /proc/PID/fd, which the kernel counts from its bitmap, Linux 6.2
 *      on) equals the scan's less the closes of files of this mount the
 *      kernel sent since (a close, dup2's replacement, close-on-exec and
 *      exit all send a flush naming the table);
 *   B. every descriptor the scan found that is not a plain open of one of
 *      this mount's open files (stdin, sockets, directories, O_PATH
 *      descriptors, other mounts) still links to what it linked to, with
 *      the same flags when it is under the mount point.
 *
 * Why that is exact: call W the descriptors of open files of this mount
 * (the kernel sends a flush when one goes, and one only then) and U the
 * others. Since the scan, let a be the descriptors added at free numbers,
 * d those removed, r those replaced by dup2 (r_ww from W to W, r_wu, r_uw,
 * r_uu), and F the flushes seen: F = d_w + r_ww + r_wu, and the count
 * moved by a - d. A says a - d = -F, so a_w + a_u + r_ww + r_wu = d_u.
 * B says every U descriptor of the scan is still there and still U, so
 * U grew: a_u + r_wu - d_u - r_uw >= 0. Together a_w + r_ww + r_uw <= 0:
 * no W descriptor was added since the scan, every W descriptor that went
 * sent its flush, and the W descriptors of each file are the scan's count
 * less the flushes seen for it. A flush for a file the scan did not count
 * (so one added since) drops the kept scan at once.
 *
 * (B reads the U links anyway, and they answer for themselves below, so
 * B is also what keeps the bookkeeping of W exact when a U descriptor is
 * replaced.)
 *
 * So a close costs a stat of /proc/PID/fd, a readlink per U descriptor of
 * the scan (an fdinfo read more for one under the mount point) and no
 * readlink of W; a scan comes again when a check fails
 * (another file opened, a dup made, a descriptor of another file opened
 * or closed) or for another thread of the process (the scan's thread is
 * told by its pid and start time, so a pid used again is not taken for
 * it). A process that changes its table between closes pays a scan per
 * close; one that closes its descriptors one after another pays one. A kernel before 6.2 gives the size 0: check A fails
 * at every close but an exiting process's (which holds none).
 *
 * The answer: whether a descriptor links to MNT/<path> (a W descriptor of
 * that file) or a U descriptor's link ends in "/<path>" (another mount's
 * view of it, an O_PATH descriptor; a false yes only leaves a line to the
 * release of its open file). A link can end in " (deleted)" while the file
 * is there (inode.h: the kernel unhashes a dentry when another process's
 * lookup is answered with another alias), so that suffix is ignored.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs.h"

#define SNAPS 8 /* descriptor tables whose scan is kept */

struct wcount { /* W descriptors of one file: open addressing, path NULL = free */
	char *path;
	unsigned n;
};

struct udesc { /* a U descriptor as the scan found it */
	int fd;
	bool under; /* its link is under the mount point: flags compared too */
	unsigned flags;
	char *link; /* as readlink gave it */
};

struct scan {
	struct wcount *w;
	size_t wcap, wn;
	struct udesc *u;
	size_t un, ucap;
	long count; /* descriptors in the table */
};

struct snap {
	uint64_t owner; /* 0: a free slot */
	uint32_t pid;
	unsigned long long start; /* of thread pid, /proc/PID/stat's 22nd field */
	bool valid;
	uint64_t gen;    /* bumped when the slot is taken anew */
	uint64_t closes; /* flushes seen from owner */
	uint64_t used;   /* for eviction, the least recently used goes */
	struct scan s;
};

struct fd_held {
	pthread_mutex_t mu;
	char *mnt; /* absolute, without a trailing '/' */
	size_t mntlen;
	fd_held_paths_fn paths;
	void *ctx;
	struct snap snaps[SNAPS];
	uint64_t clock, gens;
	uint64_t scans; /* under mu */
};

#define DELETED     " (deleted)"
#define DELETED_LEN (sizeof(DELETED) - 1)

static size_t hash_str(const char *s)
{
	size_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* The slot of path in w (its own or the free one where it would go). */
static struct wcount *w_slot(struct wcount *w, size_t cap, const char *path)
{
	size_t i = hash_str(path) & (cap - 1);

	while (w[i].path && strcmp(w[i].path, path) != 0)
		i = (i + 1) & (cap - 1);
	return &w[i];
}

static struct wcount *w_find(const struct scan *s, const char *path)
{
	if (!s->wcap)
		return NULL;
	struct wcount *c = w_slot(s->w, s->wcap, path);

	return c->path ? c : NULL;
}

/* Adds one to path's count; -ENOMEM. */
static int w_add(struct scan *s, const char *path)
{
	struct wcount *c;

	if ((s->wn + 1) * 2 > s->wcap) {
		size_t cap = s->wcap ? s->wcap * 2 : 16;
		struct wcount *w = calloc(cap, sizeof(*w));

		if (!w)
			return -ENOMEM;
		for (size_t i = 0; i < s->wcap; i++)
			if (s->w[i].path)
				*w_slot(w, cap, s->w[i].path) = s->w[i];
		free(s->w);
		s->w = w;
		s->wcap = cap;
	}
	c = w_slot(s->w, s->wcap, path);
	if (!c->path) {
		if (!(c->path = strdup(path)))
			return -ENOMEM;
		s->wn++;
	}
	c->n++;
	return 0;
}

static void scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->wcap; i++)
		free(s->w[i].path);
	free(s->w);
	for (size_t i = 0; i < s->un; i++)
		free(s->u[i].link);
	free(s->u);
	memset(s, 0, sizeof(*s));
}

/* A set of the paths of the mount's open files (the scan's W test). */
struct pathset {
	struct scan s; /* its w only */
	int rc;
};

static void pathset_add(void *set, const char *path)
{
	struct pathset *p = set;

	if (p->rc == 0)
		p->rc = w_add(&p->s, path);
}

/* Whether a link (" (deleted)" taken off) ends in "/<path>". */
static bool ends_in(const char *link, size_t n, const char *path, size_t plen)
{
	return n > plen && link[n - plen - 1] == '/' && !memcmp(link + n - plen, path, plen);
}

static size_t undeleted(const char *link, size_t n)
{
	if (n > DELETED_LEN && !memcmp(link + n - DELETED_LEN, DELETED, DELETED_LEN))
		n -= DELETED_LEN;
	return n;
}

/* The path under the mount point a link names, or NULL. */
static const char *under_mnt(const struct fd_held *h, const char *link)
{
	if (!h || strncmp(link, h->mnt, h->mntlen) != 0 || link[h->mntlen] != '/')
		return NULL;
	return link + h->mntlen + 1;
}

/* The flags of descriptor fd of pid (its fdinfo), or -1. */
static long fd_flags(uint32_t pid, const char *fd)
{
	char path[32 + sizeof(((struct dirent *)0)->d_name)], buf[256];
	unsigned flags;
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/%u/fdinfo/%s", pid, fd);
	if ((f = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(f, buf, sizeof(buf) - 1);
	close(f);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	const char *p = strstr(buf, "flags:");

	return p && sscanf(p, "flags: %o", &flags) == 1 ? (long)flags : -1;
}

const char *proc_stat_fields(uint32_t pid, char *buf, size_t cap)
{
	char path[32];
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	if (pid == 0 || cap < 2 || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p ? p + 1 : NULL;
}

/* The start time of thread pid (/proc/PID/stat's 22nd field, the 20th
 * after the command name), 0 if it cannot be read. */
static unsigned long long start_time(uint32_t pid)
{
	unsigned long long t = 0;
	char buf[512];
	const char *p = proc_stat_fields(pid, buf, sizeof(buf));

	if (!p || sscanf(p,
			 " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d "
			 "%*d %llu",
			 &t) != 1)
		return 0;
	return t;
}

static long table_count(int dfd)
{
	struct stat st;

	return fstat(dfd, &st) == 0 ? (long)st.st_size : -1;
}

/* Reads the whole table of pid through dfd into s (when s is not NULL:
 * the W test needs h) and says whether a descriptor is one of path.
 * *consistent: the table's count was the same before and after and the
 * scan saw that many (nothing changed meanwhile: s may be kept). */
static bool scan_table(struct fd_held *h, uint32_t pid, int dfd, const char *path, struct scan *s,
		       bool *consistent)
{
	char link[PATH_MAX];
	struct pathset open = { 0 };
	size_t plen = strlen(path);
	long before = table_count(dfd), seen = 0;
	bool held = false, ok = s != NULL;
	struct dirent *d;
	DIR *dir;

	if (s && h->paths) {
		h->paths(h->ctx, pathset_add, &open);
		ok = open.rc == 0;
	}
	if (!(dir = fdopendir(dfd))) {
		close(dfd);
		scan_free(&open.s);
		*consistent = false;
		return false;
	}
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		seen++;
		ssize_t n = readlinkat(dfd, d->d_name, link, sizeof(link) - 1);

		if (n < 0 || (size_t)n >= sizeof(link) - 1) {
			ok = false; /* gone meanwhile, or too long to keep */
			continue;
		}
		link[n] = '\0';
		size_t m = undeleted(link, (size_t)n);

		if (ends_in(link, m, path, plen))
			held = true;
		if (held && !s)
			break; /* nothing to keep: the answer is all */
		if (!ok)
			continue;
		const char *rel = under_mnt(h, link);
		struct stat st;
		bool w = false;

		if (rel) {
			char name[PATH_MAX];

			snprintf(name, sizeof(name), "%.*s", (int)(m - (size_t)(rel - link)), rel);
			/* An open of an open file of the mount (not O_PATH,
			 * which has neither read nor write): its close sends
			 * a flush. Directories are never files (EISDIR). */
			w = w_find(&open.s, name) &&
			    fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    (st.st_mode & (S_IRUSR | S_IWUSR));
			if (w) {
				ok = w_add(s, name) == 0;
				continue;
			}
		}
		if (s->un == s->ucap) {
			size_t cap = s->ucap ? s->ucap * 2 : 16;
			struct udesc *u = realloc(s->u, cap * sizeof(*u));

			if (!u) {
				ok = false;
				continue;
			}
			s->u = u;
			s->ucap = cap;
		}
		struct udesc *u = &s->u[s->un];
		long fl = rel ? fd_flags(pid, d->d_name) : 0;

		u->fd = atoi(d->d_name);
		u->under = rel != NULL;
		u->flags = (unsigned)fl;
		if (fl < 0 || !(u->link = strdup(link)))
			ok = false;
		else
			s->un++;
	}
	if (ok) {
		s->count = table_count(dirfd(dir));
		ok = s->count == before && s->count == seen;
	}
	closedir(dir);
	scan_free(&open.s);
	*consistent = ok;
	return held;
}

/* Checks A and B of a kept scan against the table now (dfd); true when
 * they hold, *held then the answer. */
static bool scan_check(const struct snap *sn, uint32_t pid, int dfd, const char *path, bool *held)
{
	const struct scan *s = &sn->s;
	const struct wcount *c = w_find(s, path);
	size_t plen = strlen(path);
	char link[PATH_MAX], name[16];

	if (table_count(dfd) != s->count)
		return false;
	*held = c && c->n > 0;
	for (size_t i = 0; i < s->un; i++) {
		const struct udesc *u = &s->u[i];

		snprintf(name, sizeof(name), "%d", u->fd);
		ssize_t n = readlinkat(dfd, name, link, sizeof(link) - 1);

		if (n < 0 || (size_t)n >= sizeof(link) - 1)
			return false;
		link[n] = '\0';
		if (strcmp(link, u->link) != 0 || (u->under && fd_flags(pid, name) != u->flags))
			return false;
		if (ends_in(link, undeleted(link, (size_t)n), path, plen))
			*held = true;
	}
	return true;
}

int fd_held_new(const char *mnt, fd_held_paths_fn paths, void *ctx, struct fd_held **out)
{
	struct fd_held *h = calloc(1, sizeof(*h));

	*out = NULL;
	if (!h || !(h->mnt = strdup(mnt))) {
		free(h);
		return -ENOMEM;
	}
	h->mntlen = strlen(h->mnt);
	while (h->mntlen > 0 && h->mnt[h->mntlen - 1] == '/')
		h->mnt[--h->mntlen] = '\0';
	h->paths = paths;
	h->ctx = ctx;
	pthread_mutex_init(&h->mu, NULL);
	*out = h;
	return 0;
}

void fd_held_free(struct fd_held *h)
{
	if (!h)
		return;
	for (int i = 0; i < SNAPS; i++)
		scan_free(&h->snaps[i].s);
	pthread_mutex_destroy(&h->mu);
	free(h->mnt);
	free(h);
}

uint64_t fd_held_scans(struct fd_held *h)
{
	uint64_t n;

	if (!h)
		return 0;
	pthread_mutex_lock(&h->mu);
	n = h->scans;
	pthread_mutex_unlock(&h->mu);
	return n;
}

static struct snap *snap_find(struct fd_held *h, uint64_t owner)
{
	for (int i = 0; i < SNAPS; i++)
		if (h->snaps[i].owner == owner)
			return &h->snaps[i];
	return NULL;
}

/* The close accounted to owner's kept scan (under mu). */
static void snap_closed(struct snap *sn, const char *path)
{
	sn->closes++;
	if (!sn->valid)
		return;
	struct wcount *c = w_find(&sn->s, path);

	if (c && c->n > 0) {
		c->n--;
		sn->s.count--;
	} else
		sn->valid = false; /* a descriptor added since the scan */
}

bool fd_held_close(struct fd_held *h, uint64_t owner, uint32_t pid, const char *path, bool ask)
{
	struct snap *sn = NULL;
	struct scan s = { 0 };
	unsigned long long start;
	uint64_t gen = 0, closes = 0;
	bool held = false, consistent = false;
	char dir[48];
	int dfd;

	if (h && owner) {
		pthread_mutex_lock(&h->mu);
		if ((sn = snap_find(h, owner)))
			snap_closed(sn, path);
		pthread_mutex_unlock(&h->mu);
	}
	if (!ask || pid == 0)
		return false;
	snprintf(dir, sizeof(dir), "/proc/%u/fd", pid);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return false; /* an error is a no */
	if (!h) {
		held = scan_table(NULL, pid, dfd, path, NULL, &consistent);
		return held;
	}
	start = start_time(pid);
	pthread_mutex_lock(&h->mu);
	sn = snap_find(h, owner);
	if (sn && sn->valid && sn->pid == pid && sn->start == start && start != 0 &&
	    scan_check(sn, pid, dfd, path, &held)) {
		sn->used = ++h->clock;
		pthread_mutex_unlock(&h->mu);
		close(dfd);
		return held;
	}
	if (!sn) { /* the least recently used slot */
		sn = &h->snaps[0];
		for (int i = 1; i < SNAPS; i++)
			if (h->snaps[i].used < sn->used)
				sn = &h->snaps[i];
		scan_free(&sn->s);
		sn->owner = owner;
		sn->closes = 0;
	}
	sn->valid = false;
	sn->gen = gen = ++h->gens;
	sn->used = ++h->clock;
	closes = sn->closes;
	h->scans++;
	pthread_mutex_unlock(&h->mu);

	/* Without the lock: other processes' closes go on meanwhile. */
	held = scan_table(h, pid, dfd, path, &s, &consistent);

	pthread_mutex_lock(&h->mu);
	/* Kept unless the slot was taken anew or the table's owner closed
	 * a file meanwhile (another thread of it). */
	if (consistent && start != 0 && sn->owner == owner && sn->gen == gen &&
	    sn->closes == closes) {
		scan_free(&sn->s);
		sn->s = s;
		sn->pid = pid;
		sn->start = start;
		sn->valid = true;
	} else
		scan_free(&s);
	pthread_mutex_unlock(&h->mu);
	return held;
}
