/*
 * file_locks.c — fcntl and flock locks of the mount's files, between the
 * kernel's lock requests and the lock table (locks.c).
 *
 * The mount takes FUSE_CAP_POSIX_LOCKS and FUSE_CAP_FLOCK_LOCKS, so the
 * kernel asks the daemon instead of keeping locks per inode: a partition
 * file has one inode per concurrent writer (inode.h), and a lock taken
 * through one must exclude a lock through another. Locks are kept per
 * file_ino, which all aliases of a file share and which stays while any
 * alias (so any open file, so any lock) lives.
 *
 * Releases: the kernel sends a file's POSIX lock owner with every FLUSH
 * (close(2) of any descriptor drops that process's fcntl locks on the
 * file) and marks the RELEASE of a file that held a flock lock.
 *
 * A request that waits (F_SETLKW, flock without LOCK_NB) is parked: its
 * worker thread returns, and the request is answered later, by whichever
 * thread's unlock grants it, or with EINTR when the kernel interrupts it
 * (the waiting process got a signal). Each parked request is a
 * struct fs_lock_wait, on fs->lock_waits under fs->lock_waits_mu, with two
 * references: the parking op's and the answer's. The interrupt callback
 * finds it by request under that mutex and cancels it in the table there:
 *   - lock_cancel() == 1: no grant will come; the callback answers EINTR;
 *   - 0: a grant came first (its callback answers 0), or the request is
 *     not parked yet: the wait is marked interrupted, and the op, once
 *     lock_set() has parked it, cancels it itself.
 * Exactly one of the grant and the cancel answers (the table decides),
 * and the wait is freed when both references are gone.
 *
 * Lock order: fs->lock_waits_mu, then the table's mutex. The table calls
 * granted() holding neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/file.h>

#include "fs/fs.h"

static struct mqfs *req_fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

struct fs_lock_wait {
	struct lock_waiter w; /* first: the table's callbacks get &w */
	struct mqfs *fs;
	fuse_req_t req;
	int refs;         /* the parking op's and the answer's */
	bool answered;    /* its request may no longer be touched */
	bool interrupted; /* the kernel interrupted it before it was parked */
	struct fs_lock_wait *next;
};

static void wait_answer(struct fs_lock_wait *lw, int err);

int fs_locks_open(struct mqfs *fs)
{
	pthread_mutex_init(&fs->lock_waits_mu, NULL);
	fs->lock_waits = NULL;
	return lock_table_new(&fs->locks);
}

void fs_locks_shutdown(struct mqfs *fs)
{
	struct fs_lock_wait *lw;

	for (;;) {
		pthread_mutex_lock(&fs->lock_waits_mu);
		for (lw = fs->lock_waits; lw; lw = lw->next)
			if (!lw->answered && lock_cancel(fs->locks, &lw->w) == 1)
				break;
		pthread_mutex_unlock(&fs->lock_waits_mu);
		if (!lw)
			return;
		wait_answer(lw, EINTR);
	}
}

void fs_locks_close(struct mqfs *fs)
{
	struct fs_lock_wait *lw, *next;

	lock_table_free(fs->locks);
	fs->locks = NULL;
	/* Requests still parked at unmount: the session is gone with them. */
	for (lw = fs->lock_waits; lw; lw = next) {
		next = lw->next;
		free(lw);
	}
	fs->lock_waits = NULL;
	pthread_mutex_destroy(&fs->lock_waits_mu);
}

/* The file id of ino (its st_ino, shared by its aliases), or 0. */
static uint64_t lock_file_of(struct mqfs *fs, fuse_ino_t ino)
{
	struct fs_node *n;
	uint64_t id;

	if (inode_get(fs->inodes, ino, &n) < 0)
		return 0;
	id = n->file_ino;
	inode_put(fs->inodes, n);
	return id;
}

/* struct flock (l_len 0: to the end) as the table's inclusive span. */
static int span_of(const struct flock *lock, uint64_t owner, struct lock_span *s)
{
	s->type = lock->l_type;
	s->start = lock->l_start;
	if (lock->l_len < 0 || lock->l_start < 0)
		return -EINVAL;
	s->end = lock->l_len == 0 || lock->l_len > INT64_MAX - lock->l_start
			 ? INT64_MAX
			 : lock->l_start + lock->l_len - 1;
	s->owner = owner;
	s->pid = lock->l_pid;
	return 0;
}

/* Drops a reference; frees the wait at the last (unlinked then). */
static void wait_put(struct mqfs *fs, struct fs_lock_wait *lw)
{
	struct fs_lock_wait **pp;

	pthread_mutex_lock(&fs->lock_waits_mu);
	if (--lw->refs > 0) {
		pthread_mutex_unlock(&fs->lock_waits_mu);
		return;
	}
	for (pp = &fs->lock_waits; *pp && *pp != lw; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = lw->next;
	pthread_mutex_unlock(&fs->lock_waits_mu);
	free(lw);
}

/* Answers the wait's request (once: the table lets one path here). */
static void wait_answer(struct fs_lock_wait *lw, int err)
{
	fuse_req_t req;

	pthread_mutex_lock(&lw->fs->lock_waits_mu);
	lw->answered = true;
	req = lw->req;
	pthread_mutex_unlock(&lw->fs->lock_waits_mu);
	fuse_reply_err(req, err);
	wait_put(lw->fs, lw);
}

static void wait_granted(struct lock_waiter *w)
{
	wait_answer((struct fs_lock_wait *)w, 0);
}

/* libfuse's interrupt callback: data is fs, which outlives every wait. */
static void wait_interrupted(fuse_req_t req, void *data)
{
	struct mqfs *fs = data;
	struct fs_lock_wait *lw;
	int cancelled = 0;

	pthread_mutex_lock(&fs->lock_waits_mu);
	for (lw = fs->lock_waits; lw; lw = lw->next)
		if (lw->req == req && !lw->answered)
			break;
	if (lw) {
		lw->interrupted = true;
		cancelled = lock_cancel(fs->locks, &lw->w);
	}
	pthread_mutex_unlock(&fs->lock_waits_mu);
	if (cancelled == 1)
		wait_answer(lw, EINTR);
}

/* The errno of a lock request's answer on ino: fcntl(2) and flock(2) say
 * ENOLCK for a lock that could not be recorded (logged with the file). */
static int lock_errno(struct mqfs *fs, fuse_ino_t ino, int rc)
{
	struct fs_node *n;
	char path[512] = "?";

	if (rc == -ENOMEM || rc == -ENOLCK) {
		if (inode_get(fs->inodes, ino, &n) == 0) {
			fs_node_path(n, path, sizeof(path));
			inode_put(fs->inodes, n);
		}
		mq_log_limited(MQ_WARN, "lock %s: refused: %s (ENOLCK)", path,
			       rc == -ENOMEM ? "no memory to record it"
					     : "the file holds the most lock records allowed");
		return ENOLCK;
	}
	return rc < 0 ? -rc : 0;
}

/* Takes or drops span on file; a waiting request is parked (answered
 * later), any other answered here. */
static void lock_request(fuse_req_t req, fuse_ino_t ino, uint64_t file, enum lock_domain domain,
			 const struct lock_span *span, bool sleep)
{
	struct mqfs *fs = req_fs_of(req);
	struct fs_lock_wait *lw;
	int rc, cancelled = 0;

	if (!sleep || span->type == F_UNLCK) {
		rc = lock_set(fs->locks, file, domain, span, NULL);
		fuse_reply_err(req, lock_errno(fs, ino, rc));
		return;
	}
	lw = calloc(1, sizeof(*lw));
	if (!lw) {
		fuse_reply_err(req, lock_errno(fs, ino, -ENOMEM));
		return;
	}
	lw->fs = fs;
	lw->req = req;
	lw->refs = 2;
	lw->w.granted = wait_granted;
	pthread_mutex_lock(&fs->lock_waits_mu);
	lw->next = fs->lock_waits;
	fs->lock_waits = lw;
	pthread_mutex_unlock(&fs->lock_waits_mu);
	/* Before parking: a grant may answer (and end) the request at once. */
	fuse_req_interrupt_func(req, wait_interrupted, fs);
	rc = lock_set(fs->locks, file, domain, span, &lw->w);
	if (rc != 1) {
		wait_answer(lw, lock_errno(fs, ino, rc)); /* taken at once, or an error */
	} else {
		/* Interrupted before it was parked: the callback could not
		 * cancel it then. */
		pthread_mutex_lock(&fs->lock_waits_mu);
		if (lw->interrupted && !lw->answered)
			cancelled = lock_cancel(fs->locks, &lw->w);
		pthread_mutex_unlock(&fs->lock_waits_mu);
		if (cancelled == 1)
			wait_answer(lw, EINTR);
	}
	wait_put(fs, lw);
}

/* The file and span of an fcntl request; false when it was answered with
 * an error. */
static bool posix_request(fuse_req_t req, fuse_ino_t ino, const struct fuse_file_info *fi,
			  const struct flock *lock, uint64_t *file, struct lock_span *s)
{
	int rc;

	*file = lock_file_of(req_fs_of(req), ino);
	rc = *file == 0 ? -ESTALE : span_of(lock, fi->lock_owner, s);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	return rc == 0;
}

void fs_lock_get(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
	struct lock_span s;
	uint64_t file;
	int rc;

	if (!posix_request(req, ino, fi, lock, &file, &s))
		return;
	rc = lock_get(req_fs_of(req)->locks, file, LOCK_DOMAIN_POSIX, &s);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	lock->l_type = (short)s.type;
	if (s.type != F_UNLCK) {
		lock->l_whence = SEEK_SET;
		lock->l_start = s.start;
		lock->l_len = s.end == INT64_MAX ? 0 : s.end - s.start + 1;
		lock->l_pid = s.pid;
	}
	fuse_reply_lock(req, lock);
}

void fs_lock_set(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
		 int sleep)
{
	struct lock_span s;
	uint64_t file;

	if (posix_request(req, ino, fi, lock, &file, &s))
		lock_request(req, ino, file, LOCK_DOMAIN_POSIX, &s, sleep != 0);
}

void fs_lock_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	uint64_t file = lock_file_of(req_fs_of(req), ino);
	struct lock_span s = { .start = 0, .end = INT64_MAX, .owner = fi->lock_owner };

	if (file == 0) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	switch (op & ~LOCK_NB) {
	case LOCK_SH: s.type = F_RDLCK; break;
	case LOCK_EX: s.type = F_WRLCK; break;
	case LOCK_UN: s.type = F_UNLCK; break;
	default: fuse_reply_err(req, EINVAL); return;
	}
	lock_request(req, ino, file, LOCK_DOMAIN_FLOCK, &s, !(op & LOCK_NB));
}

void fs_lock_flush(struct mqfs *fs, fuse_ino_t ino, const struct fuse_file_info *fi)
{
	uint64_t file = lock_file_of(fs, ino);

	if (file != 0)
		lock_release_owner(fs->locks, file, LOCK_DOMAIN_POSIX, fi->lock_owner);
}

void fs_lock_release(struct mqfs *fs, fuse_ino_t ino, const struct fuse_file_info *fi)
{
	uint64_t file;

	if (!fi->flock_release)
		return;
	file = lock_file_of(fs, ino);
	if (file != 0)
		lock_release_owner(fs->locks, file, LOCK_DOMAIN_FLOCK, fi->lock_owner);
}
