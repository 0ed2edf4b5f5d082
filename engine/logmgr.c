/*
 * logmgr.c — the log manager: one data directory and every log in it.
 *
 * Directory-level files, in Kafka's checkpoint format:
 *
 *     0                      version
 *     3                      number of entries
 *     orders 0 1204          topic, partition, value
 *     ...
 *
 *   recovery-point-offset-checkpoint   offsets below are fsynced
 *   replication-offset-checkpoint      high watermarks
 *   log-start-offset-checkpoint        log start offsets
 *   cleaner-offset-checkpoint          first dirty offset of each log
 *                                      (below it the log is compacted)
 *   <topic>-<p>/partition.metadata     the id of the topic the log belongs
 *                                      to, when its owner keeps one
 *                                      (logmgr_topic_id; Kafka's format)
 *   .clean-shutdown                    present only between a clean close
 *                                      and the next open
 *   .lock                              the pid of the process that has the
 *                                      directory open, in decimal; the
 *                                      flock(LOCK_EX) on it is what counts
 *
 * Checkpoints are replaced durably (tmp, fsync, rename, fsync dir), and
 * only when their text differs from what this manager last wrote there: a
 * pass of the cleaner or the scheduler over quiet logs writes nothing. At open
 * the marker decides whether logs are scanned: without it, every segment
 * from the one holding the recovery point on is validated batch by batch.
 * The marker is removed (durably) before anything is appended, so a crash
 * after open is never mistaken for a clean shutdown.
 *
 * One process per directory: logmgr_open takes flock(LOCK_EX|LOCK_NB) on
 * .lock before it reads or writes anything else, and the lock lives as long
 * as the manager (the kernel drops it when the process dies, so a kill -9
 * leaves no stale lock). A second manager on the same directory, in this
 * process or another, gets -EWOULDBLOCK: recovery by a second daemon would
 * cut the first one's active segment under its feet.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "engine/log_int.h"
#include "util/readdir.h"

#define CLEAN_MARKER ".clean-shutdown"
#define LOCK_FILE    ".lock"

int engine_helper_threads = -1;

struct ckpt_ent {
	char *topic;
	int partition;
	int seq; /* line in the file: of two entries of a log the first counts */
	int64_t value;
};
/* Entries sorted by (topic, partition, seq) once loaded (ckpt_load), so a
 * log open finds its own in O(log n): a linear search made the open of
 * every log of a broker quadratic in its partitions. */
struct ckpt {
	struct ckpt_ent *e;
	int n;
};

struct logmgr {
	pthread_mutex_t lock;
	char dir[PATH_MAX];
	const struct io_ops *io;
	bool clean;
	struct log **logs;
	int nlogs;
	size_t cap;
	struct ckpt rp, hw, ls, co; /* as read at open */
	/* recovery-point-offset-checkpoint was there at open: a log it does
	 * not name was made since (log_open_args). Absent, the open writes
	 * it (empty) for the next one, but cannot tell a lost file. */
	bool rp_file;
	/* The text each checkpoint file holds since this manager last wrote
	 * it (under lock); NULL: not written yet, or its last write failed. */
	char *ckpt_text[4];
	size_t ckpt_len[4];
	unsigned delete_seq;
	struct pool *pool;     /* helpers for the logs' appends; may be NULL */
	struct enc_cache encs; /* the logs' encoding buffers */
	struct ra_budget *rab; /* the logs' cursors' read-ahead buffers */
	struct seg_cache *fdc; /* the logs' closed segments' descriptors */
	int lock_fd;           /* .lock, flocked for the manager's life */
	/* The logs in the directory at open, sorted (log_name_cmp). */
	struct log_name *found;
	int nfound;
};

static void found_free(struct logmgr *m)
{
	for (int i = 0; i < m->nfound; i++)
		free(m->found[i].topic);
	free(m->found);
	m->found = NULL;
	m->nfound = 0;
}

static void ckpt_free(struct ckpt *c)
{
	for (int i = 0; i < c->n; i++)
		free(c->e[i].topic);
	free(c->e);
	c->e = NULL;
	c->n = 0;
}

static int ckpt_begin(void *arg, int count)
{
	struct ckpt *c = arg;

	c->e = calloc((size_t)count + 1, sizeof(*c->e));
	return c->e ? 0 : -ENOMEM;
}

/* "topic partition value" */
static int ckpt_entry(void *arg, const char *start, int *used, const char **why)
{
	const char *p = start;
	struct ckpt *c = arg;
	char topic[256];
	struct ckpt_ent e;
	int64_t partition;
	int n = 0;

	/* A topic longer than 255 bytes is no topic (Kafka's are at most
	 * 249): %255s would cut it and read its tail as the partition. */
	if (sscanf(p, "%255s%n", topic, &n) == 1 && (!p[n] || isspace((unsigned char)p[n])))
		p += n;
	else
		n = 0;
	if (n == 0 || ckpt_num(&p, INT32_MIN, INT32_MAX, &partition) < 0 ||
	    ckpt_num(&p, INT64_MIN, INT64_MAX, &e.value) < 0)
		*why = "not \"topic partition offset\"";
	else if (partition < 0 || e.value < 0)
		*why = "negative partition or offset";
	if (*why)
		return -EBADMSG;
	e.partition = (int)partition;
	*used = (int)(p - start);
	e.topic = strdup(topic);
	if (!e.topic)
		return -ENOMEM;
	e.seq = c->n;
	c->e[c->n++] = e;
	return 0;
}

static int ckpt_ent_cmp(const void *a, const void *b)
{
	const struct ckpt_ent *x = a, *y = b;
	int c = log_name_cmp(&(struct log_name){ x->topic, x->partition },
			     &(struct log_name){ y->topic, y->partition });

	return c ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

static int ckpt_load(struct logmgr *m, const char *name, struct ckpt *c)
{
	char path[PATH_MAX + 64];
	const char *why = NULL;
	int line = 0, rc;

	snprintf(path, sizeof(path), "%s/%s", m->dir, name);
	rc = ckpt_read(m->io, path, 10000000, ckpt_begin, ckpt_entry, c, &why, &line);
	if (rc == -EBADMSG)
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s: line %d: %s; refusing to start (Kafka's "
			      "checkpoint format: 0, the count, then \"topic partition offset\" "
			      "lines); fix the file or move it away (then the segments alone tell "
			      "what the logs hold)",
			      path, line, why);
	if (rc == 0 && c->n > 1)
		qsort(c->e, (size_t)c->n, sizeof(*c->e), ckpt_ent_cmp);
	return rc;
}

/* The index of the first entry of (topic, partition), or -1. */
static int ckpt_find(const struct ckpt *c, const char *topic, int partition)
{
	struct log_name want = { (char *)topic, partition };
	int lo = 0, hi = c->n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (log_name_cmp(&(struct log_name){ c->e[mid].topic, c->e[mid].partition },
				 &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->n && c->e[lo].partition == partition && strcmp(c->e[lo].topic, topic) == 0
		       ? lo
		       : -1;
}

static int64_t ckpt_get(const struct ckpt *c, const char *topic, int partition)
{
	int i = ckpt_find(c, topic, partition);

	return i >= 0 ? c->e[i].value : -1;
}

/* The entry of a log that is dropped: the checkpoints read at open are
 * what logs opened later start from, and a topic made again under the
 * same name is a new log (Kafka's log manager drops a deleted log from
 * its checkpoints too). Under m->lock. */
static void ckpt_forget(struct ckpt *c, const char *topic, int partition)
{
	int i = ckpt_find(c, topic, partition);

	if (i < 0)
		return;
	free(c->e[i].topic);
	c->n--;
	memmove(&c->e[i], &c->e[i + 1], (size_t)(c->n - i) * sizeof(*c->e));
}

/* Removes a directory and its files (no subdirectories in a log dir). */
static void rm_dir(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char p[PATH_MAX + 300];
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(path);
}

/* The lock is no data: it is taken with plain system calls, not through
 * the I/O table, whose fault injection and crash points are about data. */
static int dir_lock(const char *data_dir)
{
	char path[PATH_MAX + 16], pid[32];
	int fd, n;

	snprintf(path, sizeof(path), "%s/" LOCK_FILE, data_dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int rc = errno == EWOULDBLOCK ? -EWOULDBLOCK : -errno;
		close(fd);
		return rc;
	}
	/* The pid is only for the message a second daemon prints: failing to
	 * write it leaves the lock just as good. */
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	bool written = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n;
	(void)written;
	return fd;
}

/* ---- what the filesystem must do ----
 * mqfs keeps its data on whatever filesystem it is given, and a few of
 * them cannot do what it needs. Found at start, with one line naming the
 * filesystem and what is missing, rather than later in the middle of a
 * roll, a recovery or a checkpoint, each of which would fail with only an
 * errno:
 *   - names told apart by case: topics "Orders" and "orders" have the
 *     directories Orders-0 and orders-0 and the files
 *     meta/topics/Orders.properties and orders.properties; on a filesystem
 *     that folds case (vfat, exfat, ext4 with casefold) the two topics
 *     would share one log, each overwriting the other's records;
 *   - cutting a file (ftruncate): every roll, truncation, clean stop and
 *     recovery cuts a segment's files;
 *   - replacing a file by rename: checkpoints and metadata are written to
 *     a temp file and renamed over the old one (io_write_file_atomic).
 * Not probed: fallocate and a shared mapping of a segment's tail, whose
 * absence (EOPNOTSUPP, ENODEV) costs only speed, and fsync of a directory,
 * which every kernel filesystem does and the kernel answers for a FUSE
 * one that does not (no error). The probe uses plain
 * system calls on a file of its own, like the lock: it tests the
 * filesystem, not the data, and leaves nothing behind (a probe file a
 * crash left is replaced by the next one). */
#define PROBE_FILE  ".fs-probe"
#define PROBE_BLOCK 8192

/* A name for the filesystem under dir, for the refusal's message. */
static const char *fs_type_name(const char *dir)
{
	static const struct {
		unsigned long magic;
		const char *name;
	} types[] = {
		{ 0xEF53UL, "ext2/3/4" },    { 0x58465342UL, "xfs" },    { 0x9123683EUL, "btrfs" },
		{ 0x01021994UL, "tmpfs" },   { 0x4d44UL, "vfat/msdos" }, { 0x2011BAB0UL, "exfat" },
		{ 0x5346544EUL, "ntfs" },    { 0x7366746EUL, "ntfs3" },  { 0x65735546UL, "fuse" },
		{ 0x6969UL, "nfs" },         { 0xFF534D42UL, "cifs" },   { 0xFE534D42UL, "smb2" },
		{ 0x794c7630UL, "overlay" }, { 0x2FC12FC1UL, "zfs" },    { 0xF2F52010UL, "f2fs" },
	};
	struct statfs sf;
	if (statfs(dir, &sf) < 0)
		return "unknown";
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if ((unsigned long)sf.f_type == types[i].magic)
			return types[i].name;
	return "unknown";
}

static int probe_refuse(const char *dir, const char *what, int err)
{
	ENGINE_REPORT(ENGINE_LOG_ERR,
		      "data directory %s (filesystem %s): %s%s%s; mqfs cannot keep its logs "
		      "there, refusing to start (put the data directory on ext4, xfs, btrfs or "
		      "tmpfs)",
		      dir, fs_type_name(dir), what, err ? ": " : "", err ? strerror(err) : "");
	return err ? -err : -EOPNOTSUPP;
}

/* 0, or the errno of a write of a block that failed (ENOSPC if short). */
static int probe_write(int fd)
{
	static const char block[PROBE_BLOCK];
	ssize_t n = pwrite(fd, block, sizeof(block), 0);
	return n == (ssize_t)sizeof(block) ? 0 : n < 0 ? errno : ENOSPC;
}

/* A full disk (blocks or inodes) at start is no reason to refuse it: the
 * logs are read as ever and writes fail with ENOSPC. The probe then
 * stops where it is, the rest unchecked. */
static bool probe_full(int err)
{
	return err == ENOSPC || err == EDQUOT;
}

static int probe_create(const char *path, const char *dir, int *fd)
{
	*fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (*fd >= 0)
		return 0;
	return probe_full(errno) ? 1 : probe_refuse(dir, "cannot create a file", errno);
}

/* 0 when dir's filesystem does what mqfs needs (or is full), else the
 * refusal's -errno, logged. */
static int dir_probe(const char *dir)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 32], upper[PATH_MAX + 32];
	struct stat st;
	int rc, fd;

	snprintf(path, sizeof(path), "%s/" PROBE_FILE, dir);
	snprintf(tmp, sizeof(tmp), "%s/" PROBE_FILE ".tmp", dir);
	snprintf(upper, sizeof(upper), "%s/.FS-PROBE", dir);
	unlink(tmp);
	if ((rc = probe_create(path, dir, &fd)) != 0)
		return rc < 0 ? rc : 0;
	/* Case first: the one thing a filesystem gets wrong without an
	 * error. Told by content, not by inode numbers (a FUSE filesystem
	 * may give each lookup its own): the upper-case name reads what was
	 * just written under the lower-case one only if it is the same file.
	 * A file of that name on a filesystem that tells case apart reads
	 * something else and is left alone. */
	char token[64], back[64];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int tlen = snprintf(token, sizeof(token), "mqfs %ld %lld.%09ld\n", (long)getpid(),
			    (long long)now.tv_sec, now.tv_nsec);
	ssize_t n = pwrite(fd, token, (size_t)tlen, 0);
	close(fd);
	if (n != tlen) {
		rc = n < 0 ? errno : ENOSPC;
		unlink(path);
		return probe_full(rc) ? 0 : probe_refuse(dir, "cannot write a file", rc);
	}
	if ((fd = open(upper, O_RDONLY | O_CLOEXEC)) >= 0) {
		n = pread(fd, back, sizeof(back), 0);
		close(fd);
		if (n == tlen && memcmp(back, token, (size_t)tlen) == 0) {
			unlink(path);
			return probe_refuse(dir,
					    "file names are case-insensitive (" PROBE_FILE
					    " is also .FS-PROBE): topics whose names differ only "
					    "in case would share one log",
					    0);
		}
	}
	if ((rc = probe_create(path, dir, &fd)) != 0) {
		unlink(path);
		return rc < 0 ? rc : 0;
	}
	if ((rc = probe_write(fd)) != 0)
		rc = probe_full(rc) ? 1 : probe_refuse(dir, "cannot write a file", rc);
	else if (ftruncate(fd, PROBE_BLOCK / 2) < 0)
		rc = probe_refuse(dir,
				  "cannot cut a file short (ftruncate), as every segment roll and "
				  "recovery does",
				  errno);
	else if (fstat(fd, &st) == 0 && st.st_size != PROBE_BLOCK / 2)
		rc = probe_refuse(dir, "a file cut short (ftruncate) keeps its size", 0);
	close(fd);
	if (rc == 0 && (rc = probe_create(tmp, dir, &fd)) == 0) {
		close(fd);
		if (rename(tmp, path) < 0)
			rc = probe_refuse(
				dir,
				"cannot replace a file by rename(2), as every checkpoint and "
				"metadata file is replaced",
				errno);
	}
	unlink(tmp);
	unlink(path);
	return rc < 0 ? rc : 0;
}

int logmgr_lock_owner(const char *data_dir)
{
	char path[PATH_MAX + 16], buf[32];
	long pid;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/" LOCK_FILE, data_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	buf[n] = '\0';
	if (sscanf(buf, "%ld", &pid) != 1 || pid <= 0 || pid > INT_MAX)
		return -EBADMSG;
	return (int)pid;
}

static int ckpt_write(struct logmgr *m, const char *name, int which);

/* The partition of a log directory's name ("topic-N", N of at most six
 * digits), -1 for any other name. */
static int log_dir_partition(const char *name)
{
	const char *dash = strrchr(name, '-');

	if (!dash || dash == name || !dash[1] || strlen(dash + 1) > 6 ||
	    strspn(dash + 1, "0123456789") != strlen(dash + 1))
		return -1;
	return atoi(dash + 1);
}

/* Removes what a crash left of deleted logs ("...-delete") and takes the
 * names of the logs into m->found, sorted. */
static int dir_scan(struct logmgr *m)
{
	DIR *d = opendir(m->dir);
	struct dirent *de;
	size_t cap = 0;
	int rc = 0, err = 0;

	if (!d)
		return -errno;
	while (rc == 0 && (de = readdir_checked(d, &err))) {
		size_t len = strlen(de->d_name);
		int partition = log_dir_partition(de->d_name);
		struct log_name *grown;

		if (len > 7 && strcmp(de->d_name + len - 7, "-delete") == 0) {
			char path[PATH_MAX + 300];

			snprintf(path, sizeof(path), "%s/%s", m->dir, de->d_name);
			rm_dir(path);
			continue;
		}
		if (partition < 0)
			continue;
		grown = engine_grow(m->found, &cap, (size_t)m->nfound + 1, sizeof(*grown), 16);
		if (grown)
			m->found = grown;
		char *topic =
			grown ? strndup(de->d_name, (size_t)(strrchr(de->d_name, '-') - de->d_name))
			      : NULL;
		if (!topic)
			rc = -ENOMEM;
		else
			m->found[m->nfound++] = (struct log_name){ topic, partition };
	}
	closedir(d);
	/* A log missed would be made again, empty, over its files. */
	if (rc == 0 && err < 0) {
		ENGINE_REPORT(ENGINE_LOG_ERR, "%s: cannot list the data directory: %s", m->dir,
			      strerror(-err));
		rc = err;
	}
	if (rc == 0 && m->nfound > 1)
		qsort(m->found, (size_t)m->nfound, sizeof(*m->found), log_name_cmp);
	return rc;
}

static void marker_write(struct logmgr *m);

int logmgr_open(const char *data_dir, const struct io_ops *io, struct logmgr **out)
{
	struct logmgr *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	enc_cache_init(&m->encs);
	m->io = io;
	m->lock_fd = -1;
	int rc = 0;
	m->rab = ra_budget_new(LOGMGR_READAHEAD_BUDGET);
	m->fdc = seg_cache_new(logmgr_fd_cache_default());
	if (!m->rab || !m->fdc) {
		rc = -ENOMEM;
		goto fail;
	}
	if (snprintf(m->dir, sizeof(m->dir), "%s", data_dir) >= (int)sizeof(m->dir)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	rc = io->mkdir(io->ctx, data_dir, 0700); /* the daemon's alone: fs/main.c */
	if (rc < 0 && rc != -EEXIST)
		goto fail;
	char path[PATH_MAX + 64];
	m->lock_fd = dir_lock(data_dir);
	if (m->lock_fd < 0) {
		rc = m->lock_fd;
		goto fail;
	}
	rc = dir_probe(data_dir);
	if (rc < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/recovery-point-offset-checkpoint", data_dir);
	struct stat rst;
	m->rp_file = stat(path, &rst) == 0;
	rc = ckpt_load(m, "recovery-point-offset-checkpoint", &m->rp);
	if (rc == 0)
		rc = ckpt_load(m, "replication-offset-checkpoint", &m->hw);
	if (rc == 0)
		rc = ckpt_load(m, "log-start-offset-checkpoint", &m->ls);
	if (rc == 0)
		rc = ckpt_load(m, "cleaner-offset-checkpoint", &m->co);
	if (rc < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/" CLEAN_MARKER, data_dir);
	int fd = io->open(io->ctx, path, O_RDONLY, 0);
	m->clean = fd >= 0;
	if (fd >= 0) {
		io->close(io->ctx, fd);
		rc = io->unlink(io->ctx, path);
		if (rc == 0)
			rc = io->fsync_dir(io->ctx, data_dir);
		if (rc < 0)
			goto fail;
	}
	/* A data directory never checkpointed gets its (empty) recovery
	 * points now, so that the next open tells a log made since then,
	 * whose every segment is unsynced, from one whose entry was lost. */
	if (!m->rp_file) {
		/* Not fatal: the next open is only as careful as this one. */
		rc = ckpt_write(m, "recovery-point-offset-checkpoint", 0);
		if (rc < 0)
			ENGINE_REPORT(
				ENGINE_LOG_WARN,
				"%s/recovery-point-offset-checkpoint: cannot be written (%s): "
				"after a crash, a gap between the segments of a log made now "
				"will be taken for damage",
				data_dir, strerror(-rc));
		rc = 0;
	}
	/* One pass: finish the deletions a crash interrupted, take the names
	 * of the logs left. */
	rc = dir_scan(m);
	if (rc < 0) {
		/* A refused start leaves the directory as it found it: the
		 * marker removed above goes back (logmgr_close_refused). */
		if (m->clean)
			marker_write(m);
		goto fail;
	}
	/* Without helpers appends are encoded by their own thread only. */
	if (pool_create(engine_helper_threads >= 0 ? engine_helper_threads : pool_default_threads(),
			&m->pool) < 0)
		m->pool = NULL;
	*out = m;
	return 0;
fail:
	found_free(m);
	ckpt_free(&m->rp);
	ckpt_free(&m->hw);
	ckpt_free(&m->ls);
	ckpt_free(&m->co);
	enc_cache_destroy(&m->encs);
	ra_budget_unref(m->rab);
	seg_cache_unref(m->fdc);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m);
	return rc;
}

bool logmgr_was_clean(struct logmgr *m)
{
	return m->clean;
}

void logmgr_set_readahead_budget(struct logmgr *m, int64_t bytes)
{
	atomic_store(&m->rab->limit, bytes);
}

int64_t logmgr_readahead_bytes(struct logmgr *m)
{
	return atomic_load(&m->rab->used);
}

int64_t logmgr_fd_cache_default(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return LOGMGR_FD_CACHE_MIN;
	int64_t n = (int64_t)(rl.rlim_cur / 4 / 4);
	return n > LOGMGR_FD_CACHE_MIN ? n : LOGMGR_FD_CACHE_MIN;
}

void logmgr_set_fd_cache(struct logmgr *m, int64_t segments)
{
	seg_cache_set_max(m->fdc, segments > 0 ? segments : logmgr_fd_cache_default());
}

void logmgr_fd_stats(struct logmgr *m, int64_t *open_sets, int64_t *evictions)
{
	seg_cache_stats(m->fdc, open_sets, evictions);
}

void logmgr_fd_sets(struct logmgr *m, int64_t *open_sets, int64_t *idle)
{
	seg_cache_sets(m->fdc, open_sets, idle);
}
void logmgr_fd_close_idle(struct logmgr *m, int64_t n)
{
	seg_cache_close_idle(m->fdc, n);
}
const char *logmgr_dir(struct logmgr *m)
{
	return m->dir;
}

const char *logmgr_enospc_why(struct logmgr *m)
{
	struct statvfs sv;
	/* Fewer inodes than a roll's four files with blocks free: the roll
	 * that failed removed the files it had made, so a few may show free.
	 * f_files 0: a filesystem without an inode count (btrfs). */
	if (statvfs(m->dir, &sv) == 0 && sv.f_files > 0 && sv.f_favail < 4 && sv.f_bavail > 16)
		return " (the data directory's filesystem is out of inodes, though blocks are "
		       "free: df -i; a segment's roll takes four)";
	return "";
}
const struct io_ops *logmgr_io(struct logmgr *m)
{
	return m->io;
}

/* Where (topic, partition) is or would go in m->logs, which is sorted by
 * log_name_cmp so that the logs of a broker with thousands of partitions
 * open in O(n log n) lookups, not O(n^2). Under m->lock. */
static int log_slot(struct logmgr *m, const char *topic, int partition)
{
	struct log_name want = { (char *)topic, partition };
	int lo = 0, hi = m->nlogs;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		struct log *l = m->logs[mid];

		if (log_name_cmp(&(struct log_name){ l->topic, l->partition }, &want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int find_log(struct logmgr *m, const char *topic, int partition)
{
	int i = log_slot(m, topic, partition);

	return i < m->nlogs && m->logs[i]->partition == partition &&
			       strcmp(m->logs[i]->topic, topic) == 0
		       ? i
		       : -1;
}

bool logmgr_is_open(struct logmgr *m, const char *topic, int partition)
{
	pthread_mutex_lock(&m->lock);
	bool open = find_log(m, topic, partition) >= 0;
	pthread_mutex_unlock(&m->lock);
	return open;
}

int logmgr_get_log(struct logmgr *m, const char *topic, int partition, const struct log_config *cfg,
		   bool create, struct log **out)
{
	pthread_mutex_lock(&m->lock);
	int rc = 0;
	int i = find_log(m, topic, partition);
	if (i >= 0) {
		*out = m->logs[i];
		goto out;
	}
	struct log **nl = engine_grow(m->logs, &m->cap, (size_t)m->nlogs + 1, sizeof(*nl), 16);
	if (!nl) {
		rc = -ENOMEM;
		goto out;
	}
	m->logs = nl;
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s/%s-%d", m->dir, topic, partition) >= (int)sizeof(dir)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	struct log_open_args a = {
		.recovery_point = ckpt_get(&m->rp, topic, partition),
		.hw = ckpt_get(&m->hw, topic, partition),
		.log_start_offset = ckpt_get(&m->ls, topic, partition),
		.cleaner_offset = ckpt_get(&m->co, topic, partition),
		.clean = m->clean,
		.fdc = m->fdc,
	};
	a.made_since_ckpt = a.recovery_point < 0 && m->rp_file;
	struct log *l;
	struct stat st;
	bool existed = stat(dir, &st) == 0;
	rc = log_open(m->io, dir, topic, partition, cfg, &a, create, &l);
	if (rc < 0) {
		/* A log this call began to make leaves nothing behind that a
		 * later open would take for a log. */
		if (create && !existed)
			rm_dir(dir);
		goto out;
	}
	rc = 0;
	l->pool = m->pool;
	l->encs = &m->encs;
	ra_budget_ref(m->rab);
	l->rab = m->rab;
	int at = log_slot(m, topic, partition);
	memmove(&m->logs[at + 1], &m->logs[at], (size_t)(m->nlogs - at) * sizeof(*m->logs));
	m->logs[at] = l;
	m->nlogs++;
	*out = l;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

#define TOPIC_ID_FILE "partition.metadata"

static bool topic_id_valid(const char *id, size_t len)
{
	if (len < 1 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_' && id[i] != '-')
			return false;
	return true;
}

int logmgr_topic_id(struct logmgr *m, const char *topic, int partition, char *out, size_t cap)
{
	char path[PATH_MAX], *text = NULL, *id, *end;
	size_t len = 0;
	int rc;

	if (snprintf(path, sizeof(path), "%s/%s-%d/" TOPIC_ID_FILE, m->dir, topic, partition) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = io_read_file(m->io, path, &text, &len);
	if (rc == -ENOENT || rc == -ENOTDIR)
		return 0;
	if (rc < 0)
		return rc;
	/* Kafka's reader: "version: 0", then "topic_id: <id>". */
	id = strncmp(text, "version: 0\ntopic_id: ", 21) == 0 ? text + 21 : NULL;
	end = id ? strchr(id, '\n') : NULL;
	if (!end || !topic_id_valid(id, (size_t)(end - id)) || (size_t)(end - id) >= cap) {
		/* Each caller decides what a file that does not read means
		 * (replaced, or the log taken for a replica's); the reason is
		 * said here, once for all of them. An id too long for out is
		 * the caller's to say. */
		if (!end || !topic_id_valid(id, (size_t)(end - id)))
			ENGINE_REPORT(
				ENGINE_LOG_WARN,
				"%s: not a topic id (Kafka's \"version: 0\", then \"topic_id: "
				"<id>\" of 1 to 63 letters, digits, '_' or '-'): not taken",
				path);
		free(text);
		return -EBADMSG;
	}
	memcpy(out, id, (size_t)(end - id));
	out[end - id] = '\0';
	free(text);
	return 1;
}

int logmgr_set_topic_id(struct logmgr *m, const char *topic, int partition, const char *id)
{
	char dir[PATH_MAX], path[PATH_MAX + sizeof(TOPIC_ID_FILE) + 1], text[96];
	int n;

	if (!topic_id_valid(id, strlen(id)))
		return -EINVAL;
	if (snprintf(dir, sizeof(dir), "%s/%s-%d", m->dir, topic, partition) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (access(dir, F_OK) != 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/" TOPIC_ID_FILE, dir);
	n = snprintf(text, sizeof(text), "version: 0\ntopic_id: %s\n", id);
	return io_write_file_atomic(m->io, path, text, (size_t)n);
}

bool log_dropped(struct log *l)
{
	bool d;

	pthread_mutex_lock(&l->lock);
	d = l->deleted;
	pthread_mutex_unlock(&l->lock);
	return d;
}

int logmgr_drop_log(struct logmgr *m, const char *topic, int partition)
{
	pthread_mutex_lock(&m->lock);
	int i = find_log(m, topic, partition), rc = 0;
	if (i < 0) {
		rc = -ENOENT;
		goto out;
	}
	struct log *l = m->logs[i];
	m->nlogs--;
	memmove(&m->logs[i], &m->logs[i + 1], (size_t)(m->nlogs - i) * sizeof(*m->logs));
	ckpt_forget(&m->rp, topic, partition);
	ckpt_forget(&m->hw, topic, partition);
	ckpt_forget(&m->ls, topic, partition);
	ckpt_forget(&m->co, topic, partition);
	pthread_mutex_lock(&l->lock);
	l->deleted = true;
	l->pool = NULL;
	l->encs = NULL;
	pthread_mutex_unlock(&l->lock);
	char gone[PATH_MAX + 300];
	/* <topic>-<p> can be 255 bytes already: cut the name to make room. */
	const char *base = strrchr(l->dir, '/');
	base = base ? base + 1 : l->dir;
	snprintf(gone, sizeof(gone), "%s/%.200s.%u-%ld-delete", m->dir, base, m->delete_seq++,
		 (long)getpid());
	pthread_mutex_unlock(&m->lock);
	/* A clean (or retention) in progress writes and renames files in the
	 * directory: it sees deleted at its next segment and stops; wait for
	 * it, without the manager's lock (checkpoints go on meanwhile). */
	pthread_mutex_lock(&l->maint_lock);
	pthread_mutex_unlock(&l->maint_lock);
	/* Rename first, as Kafka does: the log is gone from the directory's
	 * namespace at once; the files go after, and a crash in between is
	 * finished at the next open. Open cursors keep their descriptors. */
	rc = m->io->rename(m->io->ctx, l->dir, gone);
	if (rc == 0)
		rc = m->io->fsync_dir(m->io->ctx, m->dir);
	if (rc == 0)
		rm_dir(gone);
	log_unref(l);
	return rc;
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

static int ckpt_write(struct logmgr *m, const char *name, int which)
{
	size_t cap = 64 + (size_t)m->nlogs * 300, n = 0;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	int64_t *vals = calloc((size_t)m->nlogs + 1, sizeof(*vals));
	if (!vals) {
		free(buf);
		return -ENOMEM;
	}
	n += (size_t)snprintf(buf, cap, "0\n%d\n", m->nlogs);
	for (int i = 0; i < m->nlogs; i++) {
		struct log_state st;
		log_get_state(m->logs[i], &st);
		int64_t v = which == 0   ? st.recovery_point
			    : which == 1 ? st.hw
			    : which == 2 ? st.log_start_offset
					 : st.first_dirty_offset;
		vals[i] = v;
		n += (size_t)snprintf(buf + n, cap - n, "%s %d %" PRId64 "\n", m->logs[i]->topic,
				      m->logs[i]->partition, v);
	}
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/%s", m->dir, name);
	int rc = 0;
	if (!m->ckpt_text[which] || m->ckpt_len[which] != n ||
	    memcmp(m->ckpt_text[which], buf, n) != 0) {
		free(m->ckpt_text[which]);
		m->ckpt_text[which] = NULL;
		rc = io_write_file_atomic(m->io, path, buf, n);
		if (rc == 0) {
			m->ckpt_text[which] = buf;
			m->ckpt_len[which] = n;
			buf = NULL;
		}
	}
	/* Once the recovery points are on disk, recovery will trust what is
	 * below them: the cleaner may rewrite up to there (log_int.h). */
	for (int i = 0; rc == 0 && which == 0 && i < m->nlogs; i++) {
		struct log *l = m->logs[i];
		pthread_mutex_lock(&l->lock);
		if (vals[i] > l->recovery_point_ckpt)
			l->recovery_point_ckpt =
				vals[i] < l->recovery_point ? vals[i] : l->recovery_point;
		pthread_mutex_unlock(&l->lock);
	}
	free(vals);
	free(buf);
	return rc;
}

/* The four checkpoints; on failure *failed names the file not written.
 * Caller holds m->lock. */
static int ckpt_write_all(struct logmgr *m, const char **failed)
{
	static const char *names[] = {
		"recovery-point-offset-checkpoint",
		"replication-offset-checkpoint",
		"log-start-offset-checkpoint",
		"cleaner-offset-checkpoint",
	};
	int rc = 0;

	for (int i = 0; i < 4 && rc == 0; i++) {
		rc = ckpt_write(m, names[i], i);
		if (rc < 0)
			*failed = names[i];
	}
	return rc;
}

int logmgr_write_checkpoints(struct logmgr *m, const char **failed)
{
	const char *name = NULL;

	pthread_mutex_lock(&m->lock);
	int rc = ckpt_write_all(m, &name);
	pthread_mutex_unlock(&m->lock);
	if (failed)
		*failed = rc < 0 ? name : NULL;
	return rc;
}

int logmgr_checkpoint(struct logmgr *m)
{
	return logmgr_write_checkpoints(m, NULL);
}

static void logmgr_free(struct logmgr *m)
{
	/* A log may outlive its manager (a reference still held): it appends
	 * without helpers from now on. */
	for (int i = 0; i < m->nlogs; i++) {
		pthread_mutex_lock(&m->logs[i]->lock);
		m->logs[i]->pool = NULL;
		m->logs[i]->encs = NULL;
		pthread_mutex_unlock(&m->logs[i]->lock);
		log_unref(m->logs[i]);
	}
	pool_destroy(m->pool);
	enc_cache_destroy(&m->encs);
	ra_budget_unref(m->rab);
	seg_cache_unref(m->fdc);
	for (int i = 0; i < 4; i++)
		free(m->ckpt_text[i]);
	free(m->logs);
	ckpt_free(&m->rp);
	ckpt_free(&m->hw);
	ckpt_free(&m->ls);
	ckpt_free(&m->co);
	found_free(m);
	pthread_mutex_destroy(&m->lock);
	/* Last: the directory is free once everything above is done. */
	close(m->lock_fd);
	free(m);
}

void logmgr_abandon(struct logmgr *m)
{
	if (m)
		logmgr_free(m);
}

static void marker_write(struct logmgr *m)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof(path), "%s/" CLEAN_MARKER, m->dir);
	io_write_file_atomic(m->io, path, "", 0);
}

void logmgr_close_refused(struct logmgr *m)
{
	if (m && m->clean)
		marker_write(m);
	logmgr_abandon(m);
}

void logmgr_close_offline(struct logmgr *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->nlogs; i++) {
		struct log *l = m->logs[i];

		pthread_mutex_lock(&l->lock);
		for (int k = 0; k < l->nsegs; k++)
			seg_tail_forget(l->segs[k]);
		pthread_mutex_unlock(&l->lock);
	}
	logmgr_free(m);
}

int logmgr_shutdown(struct logmgr *m, char *why, size_t whylen)
{
	char what[2 * PATH_MAX] = "";
	const char *failed = NULL;
	int rc = 0;

	if (!m)
		return 0;
	for (int i = 0; i < m->nlogs; i++) {
		struct log *l = m->logs[i];
		int r = log_tail_close(l);
		if (r == 0)
			r = log_flush(l, -1);
		if (r < 0 && rc == 0)
			snprintf(what, sizeof(what), "flushing %s", l->dir);
		if (r < 0)
			rc = r;
	}
	if (rc == 0) {
		pthread_mutex_lock(&m->lock);
		rc = ckpt_write_all(m, &failed);
		pthread_mutex_unlock(&m->lock);
		if (rc < 0)
			snprintf(what, sizeof(what), "writing %s/%s", m->dir, failed);
	}
	/* The marker promises that every log and checkpoint is durable: write
	 * it only if all of that succeeded. Without it the next open recovers,
	 * which is what a stop that could not make everything durable needs. */
	if (rc == 0) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof(path), "%s/" CLEAN_MARKER, m->dir);
		rc = io_write_file_atomic(m->io, path, "", 0);
		if (rc < 0)
			snprintf(what, sizeof(what), "writing %s", path);
	}
	if (rc < 0 && why && whylen)
		snprintf(why, whylen, "%s: %s", what, strerror(-rc));
	logmgr_free(m);
	return rc;
}

int logmgr_close(struct logmgr *m)
{
	return logmgr_shutdown(m, NULL, 0);
}

int log_name_cmp(const void *a, const void *b)
{
	const struct log_name *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

const struct log_name *logmgr_found(struct logmgr *m, int *n)
{
	*n = m->nfound;
	return m->found;
}
