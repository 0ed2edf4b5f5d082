/*
 * groups.c — the consumer group views under MNT/<topic>/.groups/:
 *
 *   .groups/                  dir   one entry per group; mkdir creates a
 *                                   group, rmdir deletes one (EBUSY while
 *                                   it has members)
 *   .groups/<g>/              dir   .state .config consume 0..N-1
 *   .groups/<g>/<p>           file  committed offset "N\n"; a write of
 *                                   N | earliest | latest | @<time> resets
 *   .groups/<g>/consume       file  each open file is a member; reads
 *                                   return whole lines of its partitions
 *   .groups/<g>/.state        file  members, assignment, offsets, lag
 *   .groups/<g>/.config       file  the group's settings, key=value
 *
 * Group nodes carry the group's id (never reused) in key.base, so a node
 * of a deleted group answers ENOENT even if a group of that name is made
 * again.
 *
 * Parked reads ("parked requests, not parked threads"): a consume read that
 * finds nothing keeps its fuse_req_t in the file (f->parked) and returns
 * its worker thread to libfuse. It is answered by whoever comes first:
 *   - consume_wake(), called when the high watermark of one of the
 *     member's partitions moved (or the assignment changed): on a single
 *     node by the appender itself, on the writer's worker thread before
 *     the write is answered, else by the group coordinator's notifier
 *     thread; it reads and replies, or re-arms;
 *   - consume_interrupt(), called by libfuse when the kernel interrupts
 *     the request (Ctrl-C): it replies EINTR;
 *   - fs_groups_shutdown() when the loop ends: EINTR.
 * Each takes f->lock and replies only if f->parked is still its request,
 * then clears it. While the read is registering its interrupt callback
 * (f->parking) a wake does not reply: the read arms the member afterwards,
 * and arming re-checks for data, so no wake is lost. With O_NONBLOCK a
 * read that finds nothing returns EAGAIN. poll() arms the member and keeps
 * the poll handle; a wake notifies it once.
 *
 * Replies are sent with f->lock dropped (consume_reply): the reply wakes
 * the reader, which may preempt the replying thread, and the reader's
 * next read must not wait for a lock held by a thread off its core.
 *
 * Lock order: f->lock, then the group's locks (repl). The notifier calls
 * consume_wake holding only its call lock, which precedes f->lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "util/shelf.h"

bool fs_groups_kind(int kind)
{
	return kind == NODE_GROUPS || kind == NODE_GROUP || kind == NODE_GROUP_OFFSET ||
	       kind == NODE_GROUP_CONSUME || kind == NODE_GROUP_STATE || kind == NODE_GROUP_CONFIG;
}

static struct node_key gkey(int kind, struct topic *t, int64_t gid, int32_t p)
{
	return (struct node_key){
		.kind = kind, .topic_id = topic_id(t), .partition = p, .base = gid, .file = 0
	};
}

/* "0", "17" only. */
static int parse_part(const char *name)
{
	long v = 0;
	size_t len = strlen(name);

	if (len == 0 || len > 9 || (name[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return (int)v;
}

int fs_groups_alive(struct fs_node *n)
{
	struct group *g;
	int rc;

	if (n->key.kind == NODE_GROUPS)
		return 0;
	rc = group_by_id(n->topic, (uint64_t)n->key.base, &g);
	if (rc < 0)
		return rc;
	group_put(g);
	return 0;
}

void fs_groups_path(const struct fs_node *n, char *buf, size_t len)
{
	const char *t = topic_name(n->topic);
	struct group *g = NULL;
	const char *gn = "?";

	if (n->key.kind != NODE_GROUPS && group_by_id(n->topic, (uint64_t)n->key.base, &g) == 0)
		gn = group_name(g);
	switch (n->key.kind) {
	case NODE_GROUPS: snprintf(buf, len, "%s/.groups", t); break;
	case NODE_GROUP: snprintf(buf, len, "%s/.groups/%s", t, gn); break;
	case NODE_GROUP_OFFSET:
		snprintf(buf, len, "%s/.groups/%s/%d", t, gn, n->key.partition);
		break;
	case NODE_GROUP_CONSUME: snprintf(buf, len, "%s/.groups/%s/consume", t, gn); break;
	case NODE_GROUP_STATE: snprintf(buf, len, "%s/.groups/%s/.state", t, gn); break;
	case NODE_GROUP_CONFIG: snprintf(buf, len, "%s/.groups/%s/.config", t, gn); break;
	default: snprintf(buf, len, "?"); break;
	}
	group_put(g);
}

int fs_groups_child(struct mqfs *fs, struct fs_node *dir, const char *name, struct node_key *key)
{
	struct group *g;
	int p, rc;

	(void)fs;
	if (dir->key.kind == NODE_GROUPS) {
		rc = group_open(dir->topic, name, GROUP_LOOKUP, &g);
		if (rc < 0)
			return rc == -EINVAL ? -ENOENT : rc;
		*key = gkey(NODE_GROUP, dir->topic, (int64_t)group_id(g), -1);
		group_put(g);
		return 0;
	}
	if (!strcmp(name, "consume"))
		*key = gkey(NODE_GROUP_CONSUME, dir->topic, dir->key.base, -1);
	else if (!strcmp(name, ".state"))
		*key = gkey(NODE_GROUP_STATE, dir->topic, dir->key.base, -1);
	else if (!strcmp(name, ".config"))
		*key = gkey(NODE_GROUP_CONFIG, dir->topic, dir->key.base, -1);
	else if ((p = parse_part(name)) >= 0 && p < topic_partitions(dir->topic))
		*key = gkey(NODE_GROUP_OFFSET, dir->topic, dir->key.base, p);
	else
		return -ENOENT;
	return 0;
}

int fs_groups_list(struct mqfs *fs, struct fs_node *dir, struct fs_dir *d, size_t *cap)
{
	struct node_key k;
	char name[16];
	int rc = 0;

	if (dir->key.kind == NODE_GROUPS) {
		char **names = NULL;
		uint64_t *ids = NULL;
		int n = 0;

		k = gkey(NODE_TOPIC, dir->topic, -1, -1);
		rc = fs_dir_add(d, cap, "..", S_IFDIR, inode_peek(fs->inodes, &k));
		/* In a cluster this asks the other brokers for their groups of
		 * the topic too; lookup then opens any of them. */
		rc = rc ?: group_list(dir->topic, &names, &ids, &n);
		for (int i = 0; i < n && rc == 0; i++) {
			k = gkey(NODE_GROUP, dir->topic, (int64_t)ids[i], -1);
			rc = fs_dir_add(d, cap, names[i], S_IFDIR, inode_peek(fs->inodes, &k));
		}
		broker_names_free(names, n);
		free(ids);
		return rc;
	}
	k = gkey(NODE_GROUPS, dir->topic, -1, -1);
	rc = fs_dir_add(d, cap, "..", S_IFDIR, inode_peek(fs->inodes, &k));
	k = gkey(NODE_GROUP_STATE, dir->topic, dir->key.base, -1);
	rc = rc ?: fs_dir_add(d, cap, ".state", S_IFREG, inode_peek(fs->inodes, &k));
	k.kind = NODE_GROUP_CONFIG;
	rc = rc ?: fs_dir_add(d, cap, ".config", S_IFREG, inode_peek(fs->inodes, &k));
	/* consume is opened by name only, never listed: a read of it joins
	 * the group and commits what it returns, and blocks at the end, so
	 * a tool that walks the tree (cp -r, grep -r, find -exec cat) would
	 * take the group's records from its members and never finish. */
	for (int p = 0; p < topic_partitions(dir->topic) && rc == 0; p++) {
		k = gkey(NODE_GROUP_OFFSET, dir->topic, dir->key.base, p);
		snprintf(name, sizeof(name), "%d", p);
		rc = fs_dir_add(d, cap, name, S_IFREG, inode_peek(fs->inodes, &k));
	}
	return rc;
}

int fs_groups_render(struct mqfs *fs, struct fs_node *n, char **out, size_t *len)
{
	struct group *g;
	int64_t off;
	int rc;

	(void)fs;
	rc = group_by_id(n->topic, (uint64_t)n->key.base, &g);
	if (rc < 0)
		return rc;
	switch (n->key.kind) {
	case NODE_GROUP_STATE: rc = group_state_text(g, out, len); break;
	case NODE_GROUP_CONFIG: rc = group_config_text(g, out, len); break;
	case NODE_GROUP_OFFSET:
		rc = group_offset(g, n->key.partition, &off);
		if (rc == 0 && !(*out = malloc(24)))
			rc = -ENOMEM;
		if (rc == 0)
			*len = (size_t)snprintf(*out, 24, "%" PRId64 "\n", off);
		break;
	default: rc = -EINVAL;
	}
	group_put(g);
	return rc;
}

int fs_groups_stat(struct mqfs *fs, struct fs_node *n, mode_t mode, struct stat *st)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	switch (n->key.kind) {
	case NODE_GROUPS:
	case NODE_GROUP:
		st->st_mode = S_IFDIR | mode;
		st->st_nlink = 2;
		return 0;
	case NODE_GROUP_CONSUME:
		st->st_mode = S_IFREG | (mode & 0444);
		st->st_size = 0;
		return 0;
	default:
		st->st_mode =
			S_IFREG | (n->key.kind == NODE_GROUP_STATE ? mode & 0444 : mode & 0666);
		rc = fs_groups_render(fs, n, &text, &len);
		if (rc < 0)
			return rc;
		free(text);
		st->st_size = (off_t)len;
		st->st_blocks = (st->st_size + 511) / 512;
		return 0;
	}
}

/* Fills path with dir's; -EPERM, logged with why, unless dir is .groups/
 * itself, the only directory whose entries are groups. */
static int groups_dir_only(const struct fs_node *dir, const char *op, const char *name,
			   const char *why, char *path, size_t len)
{
	fs_node_path(dir, path, len);
	if (dir->key.kind == NODE_GROUPS)
		return 0;
	mq_log_limited(MQ_WARN, "%s %s/%s: refused: %s", op, path, name, why);
	return -EPERM;
}

int fs_groups_mkdir(struct fs_node *dir, const char *name, struct node_key *key)
{
	struct group *g;
	char path[320];
	int rc;

	rc = groups_dir_only(dir, "mkdir", name, "groups are made in .groups/", path, sizeof(path));
	if (rc < 0)
		return rc;
	rc = group_open(dir->topic, name, GROUP_CREATE_EXCL, &g);
	if (rc < 0) {
		mq_log_limited(MQ_WARN, "mkdir %s/%s: %s%s", path, name,
			       rc == -EINVAL ? "refused: " : "",
			       rc == -EINVAL ? group_name_refusal(name) : strerror(-rc));
		return rc;
	}
	*key = gkey(NODE_GROUP, dir->topic, (int64_t)group_id(g), -1);
	group_put(g);
	return 0;
}

int fs_groups_rmdir(struct fs_node *dir, const char *name)
{
	char path[320];
	int rc;

	rc = groups_dir_only(dir, "rmdir", name, "only groups can be removed here", path,
			     sizeof(path));
	if (rc < 0)
		return rc;
	rc = group_delete(dir->topic, name);
	if (rc == -EBUSY)
		mq_log_limited(MQ_WARN, "rmdir %s/%s: refused: the group has active members", path,
			       name);
	else if (rc < 0 && rc != -ENOENT)
		mq_log_limited(MQ_WARN, "rmdir %s/%s: %s", path, name, strerror(-rc));
	return rc;
}

uint64_t fs_groups_dir_ino(struct mqfs *fs, const char *topic)
{
	struct node_key k;
	struct topic *t;

	if (broker_topic_get(fs->broker, topic, &t) < 0)
		return 0;
	k = gkey(NODE_GROUPS, t, -1, -1);
	topic_put(t);
	return inode_peek(fs->inodes, &k);
}

/* ---- open files ---- */

int fs_groups_open(struct fs_file *f, struct fs_node *n)
{
	int rc = group_by_id(n->topic, (uint64_t)n->key.base, &f->group);

	if (rc < 0)
		return rc;
	if (n->key.kind == NODE_GROUP_CONSUME)
		f->kind = FILE_CONSUME;
	return 0;
}

ssize_t fs_groups_write(struct fs_file *f, const char *buf, size_t size)
{
	int rc;

	if (f->node_kind == NODE_GROUP_OFFSET) {
		/* Each write carries a whole value ("5\n" from echo). */
		rc = group_offset_reset(f->group, f->partition, buf, size);
		if (rc == -EBUSY)
			mq_log_limited(MQ_WARN, "write %s: refused: the group has active members",
				       f->path);
		else if (rc < 0 && rc != -EINVAL) /* EINVAL: logged with its reason */
			mq_log_limited(MQ_WARN, "write %s: %s", f->path, strerror(-rc));
	} else if (f->node_kind == NODE_GROUP_CONFIG) {
		rc = group_config_write(f->group, buf, size);
		if (rc < 0)
			mq_log_limited(MQ_WARN, "write %s: %s, nothing changed", f->path,
				       strerror(-rc));
	} else {
		return -EBADF;
	}
	return rc < 0 ? rc : (ssize_t)size;
}

static void consume_wake(void *arg);

int fs_consume_join(struct fs_file *f, pid_t pid)
{
	int rc = group_join(f->group, pid, consume_wake, f, &f->member);

	if (rc < 0)
		mq_log_limited(MQ_WARN, "open %s: cannot join: %s", f->path, strerror(-rc));
	return rc;
}

/* Reads the member's stream at off into f->rbuf. Past the end of what
 * the file returned (a seek forward) is an end of file: -ERANGE becomes
 * 0 bytes. Needs f->lock.
 *
 * A large request is never filled: the kernel cuts a read(2) into
 * requests of at most FS_MAX_WRITE bytes (the pages of one request: from
 * a buffer that does not start on a page boundary, up to a page less),
 * and sends the next only after one answered in full, at the offset where
 * it ended. At the end of the stream that next one finds nothing and
 * would wait for new records, holding up the bytes the read already has
 * (and having committed them: an interrupted reader would lose them).
 * One byte short, the reply ends the read(2) there. A request of at most
 * half that size is a whole read(2) (or the last piece of one) and is
 * filled exactly, so that dd bs=7 reads 7 bytes of a long record; only a
 * readv(2) of many buffers each on pages of its own, which the kernel
 * cuts at its page count, could still be followed by another request. */
static ssize_t consume_fill(struct fs_file *f, off_t off, size_t size, bool *eof)
{
	ssize_t n;

	if (size > FS_MAX_WRITE)
		size = FS_MAX_WRITE;
	if (size > FS_MAX_WRITE / 2)
		size--;
	n = fs_rbuf_reserve(f, size);
	if (n < 0)
		return n;
	n = group_consume(f->member, (int64_t)off, f->rbuf, size);
	*eof = n == -ERANGE;
	return *eof ? 0 : n;
}

/* Answers req with n (bytes in f->rbuf, or -errno) after dropping
 * f->lock: the reply wakes the reader, which may take this core at once,
 * and its next read (or a wake of this file) must not wait for a lock
 * held by a thread that is not running. The buffer leaves f for the
 * reply, so a read of the file meanwhile fills another. Called with
 * f->lock. relock: f outlives the reply (a wake: file_free waits for the
 * wakes in flight), so f->lock is taken again and the buffer goes back;
 * otherwise f may be gone as soon as the reply is sent (the reader can
 * close it at once), nothing touches it and the buffer goes to the shelf
 * (util/shelf.h), from which the next read most likely takes it back. */
static void consume_reply(struct fs_file *f, fuse_req_t req, ssize_t n, bool relock)
{
	char *buf = NULL;
	size_t cap = 0;

	if (n > 0) {
		buf = f->rbuf;
		cap = f->rbuf_cap;
		f->rbuf = NULL;
		f->rbuf_cap = 0;
	}
	fs_file_unlock(f);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	if (!relock) {
		shelf_give(buf, cap);
		return;
	}
	fs_file_lock(f);
	if (!f->rbuf) {
		f->rbuf = buf;
		f->rbuf_cap = cap;
	} else {
		shelf_give(buf, cap);
	}
}

/* Takes the parked request off f if records (or an error) are there,
 * with *n for consume_reply; else re-arms and returns NULL. Needs
 * f->lock. */
static fuse_req_t consume_try(struct fs_file *f, ssize_t *n)
{
	for (int tries = 0; f->parked && !f->parking && tries < 4; tries++) {
		fuse_req_t req = f->parked;
		bool eof;

		*n = consume_fill(f, f->parked_off, f->parked_size, &eof);
		if (*n == 0 && !eof) {
			int r = group_member_arm(f->member);

			if (r == 0)
				return NULL; /* a wake will come */
			if (r > 0)
				continue; /* data arrived meanwhile */
			*n = r;
		}
		f->parked = NULL;
		return req;
	}
	return NULL;
}

/* The coordinator's notifier, or an appender that moved the hw: the
 * member's partitions may have records. */
static void consume_wake(void *arg)
{
	struct fs_file *f = arg;
	fuse_req_t req;
	ssize_t n;

	fs_file_lock(f);
	req = consume_try(f, &n);
	if (req)
		consume_reply(f, req, n, true);
	if (f->ph) {
		fuse_lowlevel_notify_poll(f->ph);
		fuse_pollhandle_destroy(f->ph);
		f->ph = NULL;
	}
	fs_file_unlock(f);
}

/* libfuse, when the kernel interrupts the request (a signal). */
static void consume_interrupt(fuse_req_t req, void *arg)
{
	struct fs_file *f = arg;

	fs_file_lock(f);
	if (f->parked == req) {
		f->parked = NULL;
		fuse_reply_err(req, EINTR);
	}
	fs_file_unlock(f);
}

void fs_consume_read(fuse_req_t req, struct fs_file *f, size_t size, off_t off)
{
	bool eof;
	ssize_t n;
	int r;

	fs_file_lock(f);
	if (f->parked) {
		fs_file_unlock(f);
		mq_log_limited(MQ_WARN, "read %s: refused: another read of this file is waiting",
			       f->path);
		fuse_reply_err(req, EBUSY);
		return;
	}
	n = consume_fill(f, off, size, &eof);
	if (n == 0 && !eof && (f->oflags & O_NONBLOCK))
		n = -EAGAIN;
	if (n != 0 || eof) {
		consume_reply(f, req, n, false);
		return;
	}
	/* Park: the worker thread goes back to libfuse. */
	f->parked = req;
	f->parked_size = size;
	f->parked_off = off;
	f->parking = true;
	fs_file_unlock(f);
	/* May call consume_interrupt at once (already interrupted): it
	 * replies and the request is gone; nothing below touches req. */
	fuse_req_interrupt_func(req, consume_interrupt, f);
	fs_file_lock(f);
	f->parking = false;
	if (f->parked) {
		r = group_member_arm(f->member);
		if (r != 0 && (req = consume_try(f, &n))) {
			consume_reply(f, req, n, false);
			return;
		}
	}
	fs_file_unlock(f);
}

void fs_consume_poll(fuse_req_t req, struct fs_file *f, struct fuse_pollhandle *ph)
{
	int r;

	fs_file_lock(f);
	if (ph) {
		if (f->ph)
			fuse_pollhandle_destroy(f->ph);
		f->ph = ph;
	}
	r = group_member_arm(f->member);
	fs_file_unlock(f);
	if (r < 0)
		fuse_reply_poll(req, POLLERR);
	else
		fuse_reply_poll(req, r > 0 ? (POLLIN | POLLRDNORM) : 0);
}

/* From file_free: leaves the group (rebalance) and drops the group. */
void fs_groups_file_free(struct fs_file *f)
{
	if (f->member) {
		group_leave(f->member); /* waits out a wake in flight */
		f->member = NULL;
	}
	if (f->ph) {
		fuse_pollhandle_destroy(f->ph);
		f->ph = NULL;
	}
	if (f->parked) {
		fuse_reply_err(f->parked, EINTR);
		f->parked = NULL;
	}
	group_put(f->group);
	f->group = NULL;
}

void fs_groups_shutdown(struct mqfs *fs)
{
	pthread_mutex_lock(&fs->files_lock);
	for (struct fs_file *f = fs->files; f; f = f->next) {
		if (!f->member)
			continue;
		group_member_disarm(f->member);
		fs_file_lock(f);
		if (f->parked) {
			fuse_reply_err(f->parked, EINTR);
			f->parked = NULL;
		}
		if (f->ph) {
			fuse_pollhandle_destroy(f->ph);
			f->ph = NULL;
		}
		fs_file_unlock(f);
	}
	pthread_mutex_unlock(&fs->files_lock);
}
