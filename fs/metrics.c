/*
 * metrics.c — FUSE operation counts and latencies, and MNT/.metrics.
 *
 * Counting: the session does not run fs_ops directly but a copy of it in
 * which every op that fs_ops defines is replaced by a wrapper that reads
 * the monotonic clock, calls the real op, and records the elapsed time in
 * that op's histogram. Ops that fs_ops leaves NULL stay NULL (libfuse
 * treats a NULL op differently from one that answers ENOSYS), and ops
 * added to fs_ops later pass through uncounted until they are listed
 * here. The time is the op handler's: for a request that an op parks and
 * answers later, the time until it was parked.
 *
 * Exposition (appended to the broker's text, Prometheus text format
 * 0.0.4):
 *
 *   # TYPE mqfs_fuse_request_duration_seconds histogram
 *   mqfs_fuse_request_duration_seconds_bucket{op="read",le="1e-05"} 12
 *   ...
 *   mqfs_fuse_request_duration_seconds_bucket{op="read",le="+Inf"} 40
 *   mqfs_fuse_request_duration_seconds_sum{op="read"} 0.0123
 *   mqfs_fuse_request_duration_seconds_count{op="read"} 40
 *
 * Buckets are cumulative as the format wants; each is counted into the
 * first bucket whose bound is >= the time and summed when rendered. The
 * _count is the number of requests of that op.
 *
 * Threads: the wrappers run on libfuse's worker threads concurrently; the
 * counters are relaxed atomics (a scrape may see a request in its bucket
 * but not yet in _sum: harmless for rates).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/fs.h"
#include "util/clock.h"

/* Upper bounds of the buckets, in ns, and as Prometheus prints them. */
static const int64_t bucket_ns[] = {
	10000,     50000,     100000,     250000,       500000,       1000000,
	2500000,   5000000,   10000000,   25000000,     50000000,     100000000,
	250000000, 500000000, 1000000000, 2500000000LL, 5000000000LL, 10000000000LL,
};
static const char *const bucket_le[] = {
	"1e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
	"0.025", "0.05",  "0.1",    "0.25",    "0.5",    "1",     "2.5",    "5",     "10",
};
#define NBUCKETS (sizeof(bucket_ns) / sizeof(bucket_ns[0]))

enum {
	OP_LOOKUP,
	OP_FORGET,
	OP_FORGET_MULTI,
	OP_GETATTR,
	OP_SETATTR,
	OP_READLINK,
	OP_MKNOD,
	OP_MKDIR,
	OP_UNLINK,
	OP_RMDIR,
	OP_SYMLINK,
	OP_RENAME,
	OP_LINK,
	OP_OPEN,
	OP_READ,
	OP_WRITE,
	OP_FLUSH,
	OP_RELEASE,
	OP_FSYNC,
	OP_OPENDIR,
	OP_READDIR,
	OP_RELEASEDIR,
	OP_FSYNCDIR,
	OP_STATFS,
	OP_ACCESS,
	OP_CREATE,
	OP_POLL,
	OP_IOCTL,
	OP_GETLK,
	OP_SETLK,
	OP_FLOCK,
	OP_MAX
};
static const char *const op_name[OP_MAX] = {
	"lookup",     "forget",   "forget_multi", "getattr", "setattr", "readlink", "mknod",
	"mkdir",      "unlink",   "rmdir",        "symlink", "rename",  "link",     "open",
	"read",       "write",    "flush",        "release", "fsync",   "opendir",  "readdir",
	"releasedir", "fsyncdir", "statfs",       "access",  "create",  "poll",     "ioctl",
	"getlk",      "setlk",    "flock",
};

struct op_stats {
	bool used; /* the inner table defines this op */
	_Atomic uint64_t sum_ns;
	_Atomic uint64_t bucket[NBUCKETS + 1]; /* last: above every bound (+Inf) */
};

struct fs_metrics {
	struct fuse_lowlevel_ops inner; /* the real ops */
	struct fuse_lowlevel_ops outer; /* what the session runs */
	struct op_stats op[OP_MAX];
};

static void op_done(struct fs_metrics *m, int op, int64_t t0)
{
	struct op_stats *s = &m->op[op];
	int64_t dt = now_mono_ns() - t0;
	size_t b = 0;

	if (dt < 0)
		dt = 0;
	while (b < NBUCKETS && dt > bucket_ns[b])
		b++;
	atomic_fetch_add_explicit(&s->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->sum_ns, (uint64_t)dt, memory_order_relaxed);
}

/* The request is freed by the reply inside the real op: take the session's
 * userdata (which outlives it) first. */
#define WRAP(name, OP, params, args)                                                     \
	static void w_##name params                                                      \
	{                                                                                \
		struct fs_metrics *m = ((struct mqfs *)fuse_req_userdata(req))->metrics; \
		int64_t t0 = now_mono_ns();                                              \
		m->inner.name args;                                                      \
		op_done(m, OP, t0);                                                      \
	}

WRAP(lookup, OP_LOOKUP, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
WRAP(forget, OP_FORGET, (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup), (req, ino, nlookup))
WRAP(forget_multi, OP_FORGET_MULTI,
     (fuse_req_t req, size_t count, struct fuse_forget_data *forgets), (req, count, forgets))
WRAP(getattr, OP_GETATTR, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
WRAP(setattr, OP_SETATTR,
     (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi),
     (req, ino, attr, to_set, fi))
WRAP(readlink, OP_READLINK, (fuse_req_t req, fuse_ino_t ino), (req, ino))
WRAP(mknod, OP_MKNOD,
     (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev),
     (req, parent, name, mode, rdev))
WRAP(mkdir, OP_MKDIR, (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode),
     (req, parent, name, mode))
WRAP(unlink, OP_UNLINK, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
WRAP(rmdir, OP_RMDIR, (fuse_req_t req, fuse_ino_t parent, const char *name), (req, parent, name))
WRAP(symlink, OP_SYMLINK, (fuse_req_t req, const char *link, fuse_ino_t parent, const char *name),
     (req, link, parent, name))
WRAP(rename, OP_RENAME,
     (fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
      const char *newname, unsigned int flags),
     (req, parent, name, newparent, newname, flags))
WRAP(link, OP_LINK, (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname),
     (req, ino, newparent, newname))
WRAP(open, OP_OPEN, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi))
WRAP(read, OP_READ,
     (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
     (req, ino, size, off, fi))
WRAP(write, OP_WRITE,
     (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
      struct fuse_file_info *fi),
     (req, ino, buf, size, off, fi))
WRAP(flush, OP_FLUSH, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi), (req, ino, fi))
WRAP(release, OP_RELEASE, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
WRAP(fsync, OP_FSYNC, (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
     (req, ino, datasync, fi))
WRAP(opendir, OP_OPENDIR, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
WRAP(readdir, OP_READDIR,
     (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi),
     (req, ino, size, off, fi))
WRAP(releasedir, OP_RELEASEDIR, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
     (req, ino, fi))
WRAP(fsyncdir, OP_FSYNCDIR,
     (fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi),
     (req, ino, datasync, fi))
WRAP(statfs, OP_STATFS, (fuse_req_t req, fuse_ino_t ino), (req, ino))
WRAP(access, OP_ACCESS, (fuse_req_t req, fuse_ino_t ino, int mask), (req, ino, mask))
WRAP(create, OP_CREATE,
     (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi),
     (req, parent, name, mode, fi))
WRAP(getlk, OP_GETLK,
     (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock),
     (req, ino, fi, lock))
WRAP(setlk, OP_SETLK,
     (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock, int sleep),
     (req, ino, fi, lock, sleep))
WRAP(flock, OP_FLOCK, (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op),
     (req, ino, fi, op))
WRAP(poll, OP_POLL,
     (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph),
     (req, ino, fi, ph))
WRAP(ioctl, OP_IOCTL,
     (fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg, struct fuse_file_info *fi,
      unsigned flags, const void *in_buf, size_t in_bufsz, size_t out_bufsz),
     (req, ino, cmd, arg, fi, flags, in_buf, in_bufsz, out_bufsz))

#define USE(name, OP)                             \
	do {                                      \
		if (inner->name) {                \
			m->outer.name = w_##name; \
			m->op[OP].used = true;    \
		}                                 \
	} while (0)

int fs_metrics_new(const struct fuse_lowlevel_ops *inner, struct fs_metrics **out)
{
	struct fs_metrics *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->inner = *inner;
	m->outer = *inner; /* init, destroy and unlisted ops as they are */
	USE(lookup, OP_LOOKUP);
	USE(forget, OP_FORGET);
	USE(forget_multi, OP_FORGET_MULTI);
	USE(getattr, OP_GETATTR);
	USE(setattr, OP_SETATTR);
	USE(readlink, OP_READLINK);
	USE(mknod, OP_MKNOD);
	USE(mkdir, OP_MKDIR);
	USE(unlink, OP_UNLINK);
	USE(rmdir, OP_RMDIR);
	USE(symlink, OP_SYMLINK);
	USE(rename, OP_RENAME);
	USE(link, OP_LINK);
	USE(open, OP_OPEN);
	USE(read, OP_READ);
	USE(write, OP_WRITE);
	USE(flush, OP_FLUSH);
	USE(release, OP_RELEASE);
	USE(fsync, OP_FSYNC);
	USE(opendir, OP_OPENDIR);
	USE(readdir, OP_READDIR);
	USE(releasedir, OP_RELEASEDIR);
	USE(fsyncdir, OP_FSYNCDIR);
	USE(statfs, OP_STATFS);
	USE(access, OP_ACCESS);
	USE(create, OP_CREATE);
	USE(poll, OP_POLL);
	USE(ioctl, OP_IOCTL);
	USE(getlk, OP_GETLK);
	USE(setlk, OP_SETLK);
	USE(flock, OP_FLOCK);
	*out = m;
	return 0;
}

void fs_metrics_free(struct fs_metrics *m)
{
	free(m);
}

const struct fuse_lowlevel_ops *fs_metrics_ops(struct fs_metrics *m)
{
	return &m->outer;
}

static void render_ops(struct fs_metrics *m, FILE *f)
{
	static const char *const name = "mqfs_fuse_request_duration_seconds";

	fprintf(f,
		"# HELP %s Time the daemon took to handle FUSE requests, by operation.\n"
		"# TYPE %s histogram\n",
		name, name);
	for (int op = 0; op < OP_MAX; op++) {
		struct op_stats *s = &m->op[op];
		uint64_t cum = 0, sum;

		if (!s->used)
			continue;
		/* _count is the +Inf bucket by definition: printed as the same
		 * sum, so a request finishing during the scrape cannot make
		 * them disagree. */
		for (size_t b = 0; b <= NBUCKETS; b++) {
			cum += atomic_load_explicit(&s->bucket[b], memory_order_relaxed);
			fprintf(f, "%s_bucket{op=\"%s\",le=\"%s\"} %" PRIu64 "\n", name,
				op_name[op], b < NBUCKETS ? bucket_le[b] : "+Inf", cum);
		}
		sum = atomic_load_explicit(&s->sum_ns, memory_order_relaxed);
		fprintf(f, "%s_sum{op=\"%s\"} %.9f\n", name, op_name[op], (double)sum / 1e9);
		fprintf(f, "%s_count{op=\"%s\"} %" PRIu64 "\n", name, op_name[op], cum);
	}
}

int fs_metrics_render(struct mqfs *fs, char **out, size_t *len)
{
	char *btext = NULL, *buf = NULL;
	size_t blen = 0, len2 = 0;
	unsigned queues;
	uint64_t ring;
	FILE *f;
	int rc;

	*out = NULL;
	*len = 0;
	rc = broker_metrics_text(fs->broker, &btext, &blen);
	if (rc < 0)
		return rc;
	f = open_memstream(&buf, &len2);
	if (!f) {
		free(btext);
		return -ENOMEM;
	}
	fwrite(btext, 1, blen, f);
	free(btext);
	if (fs->metrics)
		render_ops(fs->metrics, f);
	ring = fs_uring_requests(fs->uring, &queues);
	fprintf(f,
		"# HELP mqfs_fuse_ring_queues Queues of the kernel's io_uring transport the daemon "
		"serves (one per possible CPU; 0: every request through /dev/fuse).\n"
		"# TYPE mqfs_fuse_ring_queues gauge\nmqfs_fuse_ring_queues %u\n"
		"# HELP mqfs_fuse_ring_requests_total FUSE requests served through the io_uring "
		"transport.\n"
		"# TYPE mqfs_fuse_ring_requests_total counter\nmqfs_fuse_ring_requests_total %" PRIu64
		"\n"
		"# HELP mqfs_fuse_ring_unpinned_total Requests whose handler waited for the disk "
		"(an fsync, an O_DSYNC write, a flush.messages sync) with its ring thread "
		"unpinned from its queue's CPU.\n"
		"# TYPE mqfs_fuse_ring_unpinned_total counter\nmqfs_fuse_ring_unpinned_total %" PRIu64
		"\n",
		queues, ring, fs_uring_unpins(fs->uring));
	/* A partition file open by several writers is one node per writer
	 * (fs/inode.h): the count shows them. */
	fprintf(f,
		"# HELP mqfs_fs_nodes Inodes of the mount the kernel knows, the root included.\n"
		"# TYPE mqfs_fs_nodes gauge\nmqfs_fs_nodes %zu\n",
		inode_count(fs->inodes));
	/* A close of an unfinished line asks whether its process still holds
	 * the file (fdheld.c): the readings of a whole descriptor table. */
	fprintf(f,
		"# HELP mqfs_fd_table_scans_total Readings of a whole /proc/PID/fd of a "
		"process closing a partition file with an unfinished line.\n"
		"# TYPE mqfs_fd_table_scans_total counter\nmqfs_fd_table_scans_total %" PRIu64 "\n",
		fd_held_scans(fs->held));
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	*len = len2;
	return 0;
}
