/*
 * tree.c — the namespace of the mount: which names exist, what node each
 * is, its attributes, directory listings, and the refusals.
 *
 *   MNT/                         dir   .state .config .metrics <topic>...
 *   MNT/<topic>/                 dir   .config .state .produce .segments 0..N-1
 *   MNT/<topic>/<p>              file  the line view (append-only)
 *   MNT/<topic>/.produce         file  lines go to the partitioner
 *   MNT/<topic>/.segments/       dir   0..N-1
 *   MNT/<topic>/.segments/<p>/   dir   <base>.log .index .timeindex .dump, and
 *                                      .read-copy where no replica is here
 *                                      (the segments are the read copy's)
 *
 * Internal topics ("__" names) are neither listed nor found, nor are
 * topics of dot-names (Kafka's rules allow ".t"; mqfs makes none, but one
 * can come from ZooKeeper or a copied catalog): the root's dot-names are
 * its views, so such a topic, served to Kafka clients as any, would list
 * ".config" twice or pass for a view. A node whose
 * topic was deleted, whose partition is beyond the count, or whose segment
 * is gone answers -ENOENT. Every refusal logs one (rate-limited) line with
 * the operation, the path and the reason.
 *
 * Threads: any; nodes are held by use references for the length of a call.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs/fs.h"
#include "util/bsearch.h"
#include "util/clock.h"

#define FS_FAKE_INO   0xffffffffULL /* d_ino of an entry the kernel never looked up */
#define SEG_COPY_NAME ".read-copy"

static const char *const seg_ext[] = {
	[SEGMENT_LOG] = "log",
	[SEGMENT_INDEX] = "index",
	[SEGMENT_TIMEINDEX] = "timeindex",
	[SEGMENT_DUMP] = "dump",
};

struct node_key fs_node_key(int kind, struct topic *t, int32_t partition)
{
	return (struct node_key){
		.kind = kind,
		.topic_id = t ? topic_id(t) : 0,
		.partition = partition,
		.base = -1,
		.file = 0,
	};
}

static bool name_reserved_root(const char *name)
{
	return !strcmp(name, ".state") || !strcmp(name, ".config") || !strcmp(name, ".metrics");
}

/* A topic the mount does not show: internal ("__") or of a dot-name. */
static bool topic_name_hidden(const char *name)
{
	return name[0] == '.' || (name[0] == '_' && name[1] == '_');
}

/* "0", "17": canonical decimal only ("01", "+1", "" are not partitions). */
static int parse_partition(const char *name)
{
	long v = 0;
	size_t len = strlen(name);

	if (len == 0 || len > 10 || (name[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)name[i]))
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return v > INT32_MAX ? -1 : (int)v;
}

/* "<20 digits>.<ext>" -> base, enum segment_file. */
static int parse_seg_name(const char *name, int64_t *base, int *file)
{
	int64_t v = 0;

	for (int i = 0; i < 20; i++) {
		if (!isdigit((unsigned char)name[i]))
			return -ENOENT;
		if (v > (INT64_MAX - (name[i] - '0')) / 10)
			return -ENOENT;
		v = v * 10 + (name[i] - '0');
	}
	if (name[20] != '.')
		return -ENOENT;
	for (int k = SEGMENT_LOG; k <= SEGMENT_DUMP; k++) {
		if (!strcmp(name + 21, seg_ext[k])) {
			*base = v;
			*file = k;
			return 0;
		}
	}
	return -ENOENT;
}

static int base_at(const void *arg, int64_t i, int64_t *k)
{
	*k = ((const int64_t *)arg)[i];
	return 0;
}

static int seg_exists(struct topic *t, int partition, int64_t base)
{
	int64_t *bases = NULL, i;
	int n = 0, rc;

	rc = topic_segments(t, partition, &bases, &n);
	if (rc < 0)
		return rc;
	i = bsearch_last_le(n, base, base_at, bases); /* bases are sorted */
	rc = i >= 0 && bases[i] == base ? 0 : -ENOENT;
	free(bases);
	return rc;
}

/* 0 when the partition is read through a read copy here (no replica),
 * else -ENOENT (or the copy's error). */
static int seg_copy_exists(struct topic *t, int partition)
{
	char *text = NULL;
	size_t len;
	int rc = topic_segments_copy_text(t, partition, &text, &len);

	free(text);
	return rc;
}

void fs_node_path(const struct fs_node *n, char *buf, size_t len)
{
	const char *t = n->topic ? topic_name(n->topic) : "";
	int p = n->key.partition;

	switch (n->key.kind) {
	case NODE_ROOT: snprintf(buf, len, "/"); break;
	case NODE_ROOT_STATE: snprintf(buf, len, ".state"); break;
	case NODE_ROOT_CONFIG: snprintf(buf, len, ".config"); break;
	case NODE_ROOT_METRICS: snprintf(buf, len, ".metrics"); break;
	case NODE_TOPIC: snprintf(buf, len, "%s", t); break;
	case NODE_PART: snprintf(buf, len, "%s/%d", t, p); break;
	case NODE_PRODUCE: snprintf(buf, len, "%s/.produce", t); break;
	case NODE_TOPIC_CONFIG: snprintf(buf, len, "%s/.config", t); break;
	case NODE_TOPIC_STATE: snprintf(buf, len, "%s/.state", t); break;
	case NODE_SEGMENTS: snprintf(buf, len, "%s/.segments", t); break;
	case NODE_SEG_PART: snprintf(buf, len, "%s/.segments/%d", t, p); break;
	case NODE_SEG_FILE:
		snprintf(buf, len, "%s/.segments/%d/%020" PRId64 ".%s", t, p, n->key.base,
			 seg_ext[n->key.file]);
		break;
	case NODE_SEG_COPY: snprintf(buf, len, "%s/.segments/%d/" SEG_COPY_NAME, t, p); break;
	default:
		if (fs_groups_kind(n->key.kind))
			fs_groups_path(n, buf, len);
		else
			snprintf(buf, len, "?");
		break;
	}
}

/* -ENOENT if the node's topic, partition (or segment) no longer exists. */
int fs_node_alive(struct fs_node *n)
{
	if (!n->topic)
		return 0;
	if (topic_deleted(n->topic))
		return -ENOENT;
	if (n->key.partition >= 0 && n->key.partition >= topic_partitions(n->topic))
		return -ENOENT;
	if (fs_groups_kind(n->key.kind))
		return fs_groups_alive(n);
	return 0;
}

int fs_node_get(struct mqfs *fs, fuse_ino_t ino, struct fs_node **out)
{
	struct fs_node *n;
	int rc = inode_get(fs->inodes, ino, &n);
	if (rc < 0)
		return rc;
	rc = fs_node_alive(n);
	if (rc < 0) {
		inode_put(fs->inodes, n);
		return rc;
	}
	*out = n;
	return 0;
}

/* A node of a topic deleted since the kernel looked it up, whose name a
 * topic has again (made on another mount, or deleted and made again in
 * the cluster): the kernel keeps the old topic's names up to
 * FS_ENTRY_TIMEOUT, and on -ESTALE from a lookup or an open it walks the
 * path again asking for every name (LOOKUP_REVAL), so that `cat MNT/t/0`
 * reaches the new topic at once rather than failing with -ENOENT. A
 * topic gone for good stays -ENOENT. */
int fs_node_get_walked(struct mqfs *fs, fuse_ino_t ino, struct fs_node **out)
{
	struct fs_node *n;
	struct topic *t;
	int rc;

	*out = NULL;
	rc = inode_get(fs->inodes, ino, &n);
	if (rc < 0)
		return rc;
	rc = fs_node_alive(n);
	if (rc == 0) {
		*out = n;
		return 0;
	}
	if (n->topic && topic_deleted(n->topic) &&
	    broker_topic_get(fs->broker, topic_name(n->topic), &t) == 0) {
		if (t != n->topic)
			rc = -ESTALE;
		topic_put(t);
	}
	inode_put(fs->inodes, n);
	return rc;
}

static bool node_is_dir(int kind)
{
	return kind == NODE_ROOT || kind == NODE_TOPIC || kind == NODE_SEGMENTS ||
	       kind == NODE_SEG_PART || kind == NODE_GROUPS || kind == NODE_GROUP;
}

static void ms_to_timespec(int64_t ms, struct timespec *ts)
{
	if (ms < 0)
		ms = 0;
	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (ms % 1000) * 1000000;
}

int fs_node_stat(struct mqfs *fs, struct fs_node *n, struct stat *st)
{
	uid_t uid = fs->uid;
	gid_t gid = fs->gid;
	mode_t mode = 0755;
	int64_t size = 0;
	char *text = NULL;
	size_t text_len = 0;
	int rc;

	rc = fs_node_alive(n);
	if (rc < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	st->st_ino = n->file_ino; /* one number for all aliases */
	st->st_nlink = 1;
	/* The preferred I/O size is the largest FUSE request: cat, cp and
	 * stdio then move 1 MiB per round trip instead of 128 KiB. */
	st->st_blksize = 1 << 20;
	st->st_mtim = st->st_ctim = st->st_atim = fs->start_time;
	if (n->topic) {
		topic_owner(n->topic, &uid, &gid, &mode);
		mode &= 07777;
		ms_to_timespec(topic_mtime(n->topic), &st->st_mtim);
		ms_to_timespec(topic_ctime(n->topic), &st->st_ctim);
		st->st_atim = st->st_mtim;
	}
	st->st_uid = uid;
	st->st_gid = gid;

	switch (n->key.kind) {
	case NODE_ROOT: st->st_mode = S_IFDIR | (fs->root_mode & 07777); break;
	case NODE_TOPIC: st->st_mode = S_IFDIR | mode; break;
	case NODE_SEGMENTS:
	case NODE_SEG_PART: st->st_mode = S_IFDIR | (mode & 0555); break;
	case NODE_PART:
		st->st_mode = S_IFREG | (mode & 0666);
		size = topic_file_size(n->topic, n->key.partition);
		if (size < 0)
			return (int)size;
		fs_cache_stat(fs, n, size);
		break;
	case NODE_PRODUCE: st->st_mode = S_IFREG | (mode & 0666); break;
	case NODE_TOPIC_CONFIG:
	case NODE_ROOT_STATE:
	case NODE_ROOT_CONFIG:
	case NODE_ROOT_METRICS:
	case NODE_TOPIC_STATE:
	case NODE_SEG_COPY:
		st->st_mode = S_IFREG | (n->key.kind == NODE_TOPIC_CONFIG ? mode & 0666
					 : n->topic                       ? mode & 0444
									  : 0444);
		rc = fs_view_render(fs, n, &text, &text_len);
		if (rc < 0)
			return rc;
		free(text);
		size = (int64_t)text_len;
		break;
	case NODE_SEG_FILE:
		/* The size of a rendered file is that of its text, so that tar,
		 * rsync and cp, which copy st_size bytes, copy all of it. */
		st->st_mode = S_IFREG | (mode & 0444);
		size = topic_segment_size(n->topic, n->key.partition, n->key.base,
					  (enum segment_file)n->key.file);
		if (size < 0)
			return (int)size;
		break;
	default:
		if (!fs_groups_kind(n->key.kind))
			return -EIO;
		rc = fs_groups_stat(fs, n, mode, st);
		if (rc < 0)
			return rc;
		size = st->st_size;
		break;
	}
	if (S_ISDIR(st->st_mode))
		st->st_nlink = 2;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	return 0;
}

static double node_attr_timeout(const struct fs_node *n)
{
	return node_is_dir(n->key.kind) ? FS_DIR_ATTR_TIMEOUT : FS_FILE_ATTR_TIMEOUT;
}

/* The key (and a topic reference, or NULL) of name inside dir. */
static int child_key(struct mqfs *fs, struct fs_node *dir, const char *name, struct node_key *key,
		     struct topic **topic)
{
	struct topic *t = NULL;
	int p, rc;

	*topic = NULL;
	switch (dir->key.kind) {
	case NODE_ROOT:
		if (!strcmp(name, ".state"))
			*key = fs_node_key(NODE_ROOT_STATE, NULL, -1);
		else if (!strcmp(name, ".config"))
			*key = fs_node_key(NODE_ROOT_CONFIG, NULL, -1);
		else if (!strcmp(name, ".metrics"))
			*key = fs_node_key(NODE_ROOT_METRICS, NULL, -1);
		else if (topic_name_hidden(name))
			return -ENOENT; /* internal and dot-named topics stay hidden */
		else {
			rc = broker_topic_get(fs->broker, name, &t);
			if (rc < 0)
				return rc;
			*key = fs_node_key(NODE_TOPIC, t, -1);
			*topic = t;
		}
		return 0;
	case NODE_TOPIC:
		if (!strcmp(name, ".config"))
			*key = fs_node_key(NODE_TOPIC_CONFIG, dir->topic, -1);
		else if (!strcmp(name, ".state"))
			*key = fs_node_key(NODE_TOPIC_STATE, dir->topic, -1);
		else if (!strcmp(name, ".produce"))
			*key = fs_node_key(NODE_PRODUCE, dir->topic, -1);
		else if (!strcmp(name, ".segments"))
			*key = fs_node_key(NODE_SEGMENTS, dir->topic, -1);
		else if (!strcmp(name, ".groups"))
			*key = fs_node_key(NODE_GROUPS, dir->topic, -1);
		else if ((p = parse_partition(name)) >= 0 && p < topic_partitions(dir->topic))
			*key = fs_node_key(NODE_PART, dir->topic, p);
		else
			return -ENOENT;
		break;
	case NODE_SEGMENTS:
		p = parse_partition(name);
		if (p < 0 || p >= topic_partitions(dir->topic))
			return -ENOENT;
		*key = fs_node_key(NODE_SEG_PART, dir->topic, p);
		break;
	case NODE_SEG_PART:
		if (!strcmp(name, SEG_COPY_NAME)) {
			*key = fs_node_key(NODE_SEG_COPY, dir->topic, dir->key.partition);
			rc = seg_copy_exists(dir->topic, key->partition);
			if (rc < 0)
				return rc;
			break;
		}
		*key = fs_node_key(NODE_SEG_FILE, dir->topic, dir->key.partition);
		rc = parse_seg_name(name, &key->base, &key->file);
		if (rc < 0)
			return rc;
		rc = seg_exists(dir->topic, key->partition, key->base);
		if (rc < 0)
			return rc;
		break;
	case NODE_GROUPS:
	case NODE_GROUP:
		rc = fs_groups_child(fs, dir, name, key);
		if (rc < 0)
			return rc;
		break;
	default: return -ENOTDIR;
	}
	topic_get(dir->topic);
	*topic = dir->topic;
	return 0;
}

/* Enters key as a node (lookup count +1) and fills e. */
static int entry_fill(struct mqfs *fs, const struct node_key *key, struct topic *t, uint32_t pid,
		      struct fuse_entry_param *e)
{
	struct fs_node *child;
	int rc;

	/* The clock only for claims (aliased kinds). */
	rc = inode_lookup_by(fs->inodes, key, t, pid,
			     inode_kind_aliased(key->kind) ? now_mono_ns() : 0, &child);
	if (rc < 0)
		return rc;
	memset(e, 0, sizeof(*e));
	rc = fs_node_stat(fs, child, &e->attr);
	if (rc < 0) {
		inode_forget(fs->inodes, child->ino, 1);
	} else {
		e->ino = child->ino;
		e->generation = 1;
		e->attr_timeout = node_attr_timeout(child);
		/* Aliased names: every open asks, to be given a writer's own
		 * node (inode.h). */
		e->entry_timeout = inode_kind_aliased(key->kind) ? 0 : FS_ENTRY_TIMEOUT;
	}
	inode_put(fs->inodes, child);
	return rc;
}

int fs_nomem_logged(int rc, const char *op, const char *path)
{
	if (rc == -ENOMEM)
		mq_log_limited(MQ_WARN,
			       "%s %s: refused: out of memory (ENOMEM); nothing changed, safe to "
			       "retry",
			       op, path);
	return rc;
}

int fs_lookup(struct mqfs *fs, fuse_ino_t parent, const char *name, uint32_t pid,
	      struct fuse_entry_param *e)
{
	struct fs_node *dir;
	struct node_key key;
	struct topic *t;
	char path[320];
	int rc;

	rc = fs_node_get_walked(fs, parent, &dir);
	if (rc < 0)
		return rc;
	rc = child_key(fs, dir, name, &key, &t);
	if (rc < 0)
		goto out;
	rc = entry_fill(fs, &key, t, pid, e);
out:
	if (rc == -ENOMEM) {
		fs_node_path(dir, path, sizeof(path));
		size_t n = strlen(path);
		snprintf(path + n, sizeof(path) - n, "%s%s", dir->key.kind == NODE_ROOT ? "" : "/",
			 name);
		fs_nomem_logged(rc, "lookup", dir->key.kind == NODE_ROOT ? path + 1 : path);
	}
	inode_put(fs->inodes, dir);
	return rc;
}

int fs_getattr(struct mqfs *fs, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct fs_node *n;
	int rc;

	rc = inode_get(fs->inodes, ino, &n);
	if (rc < 0)
		return rc;
	rc = fs_node_stat(fs, n, st);
	*timeout = node_attr_timeout(n);
	if (rc == -ENOMEM) {
		char path[320];

		fs_node_path(n, path, sizeof(path));
		fs_nomem_logged(rc, "stat", path);
	}
	inode_put(fs->inodes, n);
	return rc;
}

/* access(2) on a mount without default_permissions (with it the kernel
 * answers from the modes and never asks). Who the caller is does not
 * matter there (every user may read and write every topic), but what the
 * node allows does: a read-only view, which refuses an open for writing
 * (EACCES), must not pass `test -w`, nor a file `test -x`, or a script
 * that asks first is told yes and then fails. So the answer is the mode's
 * bits for anyone: W_OK needs a write bit, X_OK an x bit. */
int fs_access(struct mqfs *fs, fuse_ino_t ino, int mask)
{
	struct stat st;
	double timeout;
	int rc = fs_getattr(fs, ino, &st, &timeout);

	if (rc < 0)
		return rc;
	if ((mask & W_OK) && !(st.st_mode & 0222))
		return -EACCES;
	if ((mask & X_OK) && !(st.st_mode & 0111))
		return -EACCES;
	if ((mask & R_OK) && !(st.st_mode & 0444))
		return -EACCES;
	return 0;
}

static bool req_in_group(fuse_req_t req, gid_t gid)
{
	gid_t groups[64];
	int n = fuse_req_getgroups(req, 64, groups);

	for (int i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* chmod/chown of a topic directory: the owner or root, as Unix has it. */
static int topic_chown(fuse_req_t req, struct fs_node *n, const struct stat *attr, int to_set,
		       const char *path)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	uid_t uid, new_uid;
	gid_t gid, new_gid;
	mode_t mode, new_mode;

	topic_owner(n->topic, &uid, &gid, &mode);
	new_uid = (to_set & FUSE_SET_ATTR_UID) ? attr->st_uid : uid;
	new_gid = (to_set & FUSE_SET_ATTR_GID) ? attr->st_gid : gid;
	new_mode = (to_set & FUSE_SET_ATTR_MODE) ? (attr->st_mode & 07777) : (mode & 07777);
	if (ctx->uid != 0) {
		if (ctx->uid != uid) {
			mq_log_limited(MQ_WARN, "chmod/chown %s: refused: uid %u is not the owner",
				       path, (unsigned)ctx->uid);
			return -EPERM;
		}
		if (new_uid != uid) {
			mq_log_limited(MQ_WARN, "chown %s: refused: only root gives a topic away",
				       path);
			return -EPERM;
		}
		if (new_gid != gid && new_gid != ctx->gid && !req_in_group(req, new_gid)) {
			mq_log_limited(MQ_WARN, "chgrp %s: refused: uid %u is not in group %u",
				       path, (unsigned)ctx->uid, (unsigned)new_gid);
			return -EPERM;
		}
	}
	return topic_set_owner(n->topic, new_uid, new_gid, new_mode);
}

int fs_setattr(struct mqfs *fs, fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set,
	       struct stat *st, double *timeout)
{
	struct fs_node *n;
	char path[320];
	int rc;

	rc = fs_node_get(fs, ino, &n);
	if (rc < 0)
		return rc;
	fs_node_path(n, path, sizeof(path));
	if (to_set & FUSE_SET_ATTR_SIZE) {
		mq_log_limited(MQ_WARN, "truncate %s: refused: %s", path,
			       n->key.kind == NODE_PART   ? "partitions are append-only"
			       : node_is_dir(n->key.kind) ? "a directory"
							  : "a generated view");
		rc = node_is_dir(n->key.kind) ? -EISDIR : -EPERM;
		goto out;
	}
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		if (n->key.kind != NODE_TOPIC) {
			mq_log_limited(MQ_WARN, "chmod/chown %s: refused: %s", path,
				       n->topic ? "set owner and mode on the topic directory"
						: "the root and its views are the daemon's");
			rc = -EPERM;
			goto out;
		}
		rc = topic_chown(req, n, attr, to_set, path);
		if (rc < 0)
			goto out;
	}
	/* atime/mtime (touch): accepted and ignored; times are the log's. */
	rc = fs_node_stat(fs, n, st);
	*timeout = node_attr_timeout(n);
out:
	inode_put(fs->inodes, n);
	return rc;
}

/* The directory parent (a reference the caller puts) and its path, for
 * the log lines of the ops that change what it holds. */
static int dir_get(struct mqfs *fs, fuse_ino_t parent, struct fs_node **dir, char *path, size_t len)
{
	int rc = inode_get(fs->inodes, parent, dir);

	if (rc == 0)
		fs_node_path(*dir, path, len);
	return rc;
}

/* .groups/ and a group's directory: mkdir and rmdir there are groups'. */
static bool in_groups(const struct fs_node *dir)
{
	return dir->key.kind == NODE_GROUPS || dir->key.kind == NODE_GROUP;
}

int fs_mkdir(struct mqfs *fs, const struct fuse_ctx *ctx, fuse_ino_t parent, const char *name,
	     mode_t mode, struct fuse_entry_param *e)
{
	struct fs_node *dir;
	struct topic *t = NULL;
	struct node_key key;
	char path[320];
	int rc;

	rc = dir_get(fs, parent, &dir, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (in_groups(dir)) {
		rc = fs_node_alive(dir);
		if (rc < 0) /* the topic (or the group) is gone */
			mq_log_limited(MQ_WARN, "mkdir %s/%s: %s is gone", path, name, path);
		else
			rc = fs_groups_mkdir(dir, name, &key);
		if (rc == 0) {
			topic_get(dir->topic);
			rc = entry_fill(fs, &key, dir->topic, 0, e);
		}
		goto out;
	}
	if (dir->key.kind != NODE_ROOT) {
		mq_log_limited(MQ_WARN,
			       "mkdir %s/%s: refused: topics are made at the top of the mount",
			       path, name);
		rc = -EPERM;
		goto out;
	}
	if (name_reserved_root(name)) {
		mq_log_limited(MQ_WARN, "mkdir %s: refused: a view of the mount", name);
		rc = -EEXIST;
		goto out;
	}
	const char *why = topic_name_refusal(name);
	if (why) {
		mq_log_limited(MQ_WARN, "mkdir %s: refused: %s", name, why);
		rc = -EINVAL;
		goto out;
	}
	rc = broker_topic_create(fs->broker, name, ctx->uid, ctx->gid, mode & 07777, &t);
	if (rc < 0) {
		mq_log_limited(MQ_WARN, "mkdir %s: %s", name, strerror(-rc));
		goto out;
	}
	key = fs_node_key(NODE_TOPIC, t, -1);
	rc = entry_fill(fs, &key, t, 0, e);
out:
	inode_put(fs->inodes, dir);
	return rc;
}

int fs_rmdir(struct mqfs *fs, fuse_ino_t parent, const char *name)
{
	struct fs_node *dir;
	char path[320];
	int rc;

	rc = dir_get(fs, parent, &dir, path, sizeof(path));
	if (rc < 0)
		return rc;
	if (in_groups(dir)) {
		rc = fs_node_alive(dir);
		if (rc < 0)
			mq_log_limited(MQ_WARN, "rmdir %s/%s: %s is gone", path, name, path);
		else
			rc = fs_groups_rmdir(dir, name);
	} else if (dir->key.kind != NODE_ROOT) {
		mq_log_limited(MQ_WARN, "rmdir %s/%s: refused: only topics can be removed", path,
			       name);
		rc = -EPERM;
	} else if (name_reserved_root(name)) {
		rc = -ENOTDIR;
	} else if (topic_name_hidden(name)) {
		rc = -ENOENT;
	} else {
		/* The broker logs the deletion ("topic T: deleted"). */
		rc = broker_topic_delete(fs->broker, name);
		if (rc < 0 && rc != -ENOENT)
			mq_log_limited(MQ_WARN, "rmdir %s: %s", name, strerror(-rc));
	}
	inode_put(fs->inodes, dir);
	return rc;
}

int fs_refuse_name(struct mqfs *fs, const char *op, fuse_ino_t parent, const char *name)
{
	struct fs_node *dir;
	char path[320];
	const char *why;
	int rc;

	rc = dir_get(fs, parent, &dir, path, sizeof(path));
	if (rc < 0)
		return rc;
	switch (dir->key.kind) {
	case NODE_ROOT:
		why = "the top of the mount holds topics (mkdir/rmdir) and read-only views";
		break;
	case NODE_TOPIC:
	case NODE_GROUP:
		/* A partition's name that is not there (yet), as a partition
		 * file or a group's offset file: the file does not exist, which
		 * is what the writer needs to hear; partitions are added
		 * through .config, never by creating a file. */
		if (strcmp(op, "create") == 0 && parse_partition(name) >= 0) {
			/* A directory whose topic was deleted (a working
			 * directory, or a name the kernel still keeps after a
			 * deletion through another broker or a Kafka client):
			 * its partition count says nothing of why. */
			if (dir->topic && topic_deleted(dir->topic))
				mq_log_limited(MQ_WARN,
					       "%s %s/%s: the topic was deleted (open the "
					       "partition by its path again once a topic of "
					       "that name exists)",
					       op, path, name);
			else
				mq_log_limited(MQ_WARN,
					       "%s %s/%s: no such partition (the topic has %d; "
					       "partitions=N in .config adds more)",
					       op, path, name, topic_partitions(dir->topic));
			inode_put(fs->inodes, dir);
			return -ENOENT;
		}
		why = dir->key.kind == NODE_TOPIC ? "a topic holds its partitions, append-only"
						  : "read-only";
		break;
	default: why = "read-only"; break;
	}
	mq_log_limited(MQ_WARN, "%s %s%s%s: refused: %s", op,
		       dir->key.kind == NODE_ROOT ? "" : path,
		       dir->key.kind == NODE_ROOT ? "" : "/", name, why);
	inode_put(fs->inodes, dir);
	return -EPERM;
}

int fs_statfs(struct mqfs *fs, struct statvfs *sv)
{
	return statvfs(fs->data_dir, sv) < 0 ? -errno : 0;
}

/* ---- directory listings ---- */

static int dir_add(struct fs_dir *d, size_t *cap, const char *name, mode_t type, uint64_t ino)
{
	if (d->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct fs_dirent *ents = realloc(d->ents, ncap * sizeof(*ents));

		if (!ents)
			return -ENOMEM;
		d->ents = ents;
		*cap = ncap;
	}
	snprintf(d->ents[d->n].name, sizeof(d->ents[d->n].name), "%s", name);
	d->ents[d->n].type = type;
	d->ents[d->n].ino = ino ? ino : FS_FAKE_INO;
	d->n++;
	return 0;
}

int fs_dir_add(struct fs_dir *d, size_t *cap, const char *name, mode_t type, uint64_t ino)
{
	return dir_add(d, cap, name, type, ino);
}

static int dir_add_key(struct mqfs *fs, struct fs_dir *d, size_t *cap, const char *name,
		       mode_t type, const struct node_key *key)
{
	return dir_add(d, cap, name, type, inode_peek(fs->inodes, key));
}

static int list_root(struct mqfs *fs, struct fs_dir *d, size_t *cap)
{
	char **names = NULL;
	int n = 0, rc;
	struct node_key key;

	rc = broker_topic_list(fs->broker, false, &names, &n);
	if (rc < 0)
		return rc;
	for (int i = 0; i < n && rc == 0; i++) {
		struct topic *t;

		if (topic_name_hidden(names[i]))
			continue;
		key = fs_node_key(NODE_TOPIC, NULL, -1);
		if (broker_topic_get(fs->broker, names[i], &t) == 0) {
			key.topic_id = topic_id(t);
			topic_put(t);
		}
		rc = dir_add_key(fs, d, cap, names[i], S_IFDIR, &key);
	}
	broker_names_free(names, n);
	return rc;
}

static int list_partitions(struct mqfs *fs, struct fs_dir *d, size_t *cap, struct fs_node *dir,
			   int kind, mode_t type)
{
	int n = topic_partitions(dir->topic), rc = 0;
	char name[16];

	for (int p = 0; p < n && rc == 0; p++) {
		struct node_key key = fs_node_key(kind, dir->topic, p);

		snprintf(name, sizeof(name), "%d", p);
		rc = dir_add_key(fs, d, cap, name, type, &key);
	}
	return rc;
}

static int list_segments(struct mqfs *fs, struct fs_dir *d, size_t *cap, struct fs_node *dir)
{
	int64_t *bases = NULL;
	int n = 0, rc;
	char name[64];

	rc = topic_segments(dir->topic, dir->key.partition, &bases, &n);
	if (rc < 0)
		return rc;
	if (seg_copy_exists(dir->topic, dir->key.partition) == 0) {
		struct node_key key = fs_node_key(NODE_SEG_COPY, dir->topic, dir->key.partition);

		rc = dir_add_key(fs, d, cap, SEG_COPY_NAME, S_IFREG, &key);
	}
	for (int i = 0; i < n && rc == 0; i++) {
		for (int k = SEGMENT_LOG; k <= SEGMENT_DUMP && rc == 0; k++) {
			struct node_key key =
				fs_node_key(NODE_SEG_FILE, dir->topic, dir->key.partition);

			key.base = bases[i];
			key.file = k;
			snprintf(name, sizeof(name), "%020" PRId64 ".%s", bases[i], seg_ext[k]);
			rc = dir_add_key(fs, d, cap, name, S_IFREG, &key);
		}
	}
	free(bases);
	return rc;
}

/* Fills d with the entries of node dir, "." and ".." first. */
static int dir_list(struct mqfs *fs, struct fs_node *dir, struct fs_dir *d)
{
	size_t cap = 0;
	int rc;
	struct node_key k;

	d->n = 0;
	rc = fs_node_alive(dir);
	if (rc < 0)
		return rc;
	rc = dir_add(d, &cap, ".", S_IFDIR, dir->ino);
	switch (dir->key.kind) {
	case NODE_ROOT:
		rc = rc ?: dir_add(d, &cap, "..", S_IFDIR, dir->ino);
		k = fs_node_key(NODE_ROOT_STATE, NULL, -1);
		rc = rc ?: dir_add_key(fs, d, &cap, ".state", S_IFREG, &k);
		k.kind = NODE_ROOT_CONFIG;
		rc = rc ?: dir_add_key(fs, d, &cap, ".config", S_IFREG, &k);
		k.kind = NODE_ROOT_METRICS;
		rc = rc ?: dir_add_key(fs, d, &cap, ".metrics", S_IFREG, &k);
		rc = rc ?: list_root(fs, d, &cap);
		break;
	case NODE_TOPIC:
		rc = rc ?: dir_add(d, &cap, "..", S_IFDIR, 1);
		k = fs_node_key(NODE_TOPIC_CONFIG, dir->topic, -1);
		rc = rc ?: dir_add_key(fs, d, &cap, ".config", S_IFREG, &k);
		k.kind = NODE_TOPIC_STATE;
		rc = rc ?: dir_add_key(fs, d, &cap, ".state", S_IFREG, &k);
		k.kind = NODE_PRODUCE;
		rc = rc ?: dir_add_key(fs, d, &cap, ".produce", S_IFREG, &k);
		k.kind = NODE_SEGMENTS;
		rc = rc ?: dir_add_key(fs, d, &cap, ".segments", S_IFDIR, &k);
		k.kind = NODE_GROUPS;
		rc = rc ?: dir_add_key(fs, d, &cap, ".groups", S_IFDIR, &k);
		rc = rc ?: list_partitions(fs, d, &cap, dir, NODE_PART, S_IFREG);
		break;
	case NODE_SEGMENTS:
		k = fs_node_key(NODE_TOPIC, dir->topic, -1);
		rc = rc ?: dir_add_key(fs, d, &cap, "..", S_IFDIR, &k);
		rc = rc ?: list_partitions(fs, d, &cap, dir, NODE_SEG_PART, S_IFDIR);
		break;
	case NODE_SEG_PART:
		k = fs_node_key(NODE_SEGMENTS, dir->topic, -1);
		rc = rc ?: dir_add_key(fs, d, &cap, "..", S_IFDIR, &k);
		rc = rc ?: list_segments(fs, d, &cap, dir);
		break;
	case NODE_GROUPS:
	case NODE_GROUP: rc = rc ?: fs_groups_list(fs, dir, d, &cap); break;
	default: rc = -ENOTDIR;
	}
	return rc;
}

int fs_dir_open(struct mqfs *fs, fuse_ino_t ino, struct fs_dir **out)
{
	struct fs_node *n;
	struct fs_dir *d;
	char path[320];
	int rc;

	rc = inode_get(fs->inodes, ino, &n);
	if (rc < 0)
		return rc;
	rc = node_is_dir(n->key.kind) ? fs_node_alive(n) : -ENOTDIR;
	fs_node_path(n, path, sizeof(path));
	inode_put(fs->inodes, n);
	if (rc < 0)
		return rc;
	d = calloc(1, sizeof(*d));
	if (!d)
		return fs_nomem_logged(-ENOMEM, "opendir", path);
	d->ino = ino;
	pthread_mutex_init(&d->lock, NULL);
	*out = d;
	return 0;
}

ssize_t fs_dir_read(struct mqfs *fs, fuse_req_t req, struct fs_dir *d, char *buf, size_t size,
		    off_t off)
{
	struct fs_node *n;
	size_t used = 0;
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	if (off == 0 || !d->listed) {
		/* A fresh listing at the start (rewinddir sees new topics). */
		rc = inode_get(fs->inodes, d->ino, &n);
		if (rc == 0) {
			char path[320];

			rc = dir_list(fs, n, d);
			fs_node_path(n, path, sizeof(path));
			fs_nomem_logged(rc, "readdir", path);
			inode_put(fs->inodes, n);
		}
		d->listed = rc == 0;
	}
	for (size_t i = (size_t)off; rc == 0 && off >= 0 && i < d->n; i++) {
		struct stat st = { .st_ino = d->ents[i].ino, .st_mode = d->ents[i].type };
		size_t len = fuse_add_direntry(req, buf + used, size - used, d->ents[i].name, &st,
					       (off_t)(i + 1));

		if (len > size - used)
			break;
		used += len;
	}
	pthread_mutex_unlock(&d->lock);
	return rc < 0 ? rc : (ssize_t)used;
}

void fs_dir_close(struct fs_dir *d)
{
	if (!d)
		return;
	pthread_mutex_destroy(&d->lock);
	free(d->ents);
	free(d);
}
