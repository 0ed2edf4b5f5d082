/*
 * fs.h — the FUSE daemon's private header (fs/ only).
 *
 * Layout of fs/:
 *   main.c   command line, config, daemonizing, session and loop
 *   daemon.c the process: signals, open-files limit, a dead mount point
 *   ops.c    struct fuse_lowlevel_ops: each op calls one helper that
 *            returns 0/count or -errno, then only replies
 *   tree.c   the namespace: names -> nodes, node attributes, directory
 *            listings, and the refused namespace operations
 *   open_files.c  open files: what read, write, flush, fsync and release
 *            do for the partition files (produce and the line view), the
 *            text views (.state, .config, .metrics), the .segments files
 *   groups.c the consumer group directories and files under
 *            MNT/<topic>/.groups/ (consume files are group members)
 *   inode.c  the inode table (inode.h)
 *   locks.c  fcntl and flock locks per file (locks.h), and file_locks.c
 *            the kernel's lock requests on it
 *   cache.c  the kernel's page cache of partition files: which opens use
 *            it, and keeping it coherent as files grow and lose records
 *   names.c  the kernel's cache of names: a topic deleted other than by
 *            this mount's rmdir is dropped from it
 *   metrics.c FUSE op counts and latency histograms, MNT/.metrics
 *   fdheld.c whether a closing process still holds a descriptor of the
 *            file (an unfinished line waits for the writer's last close)
 *
 * The daemon's whole state is struct mqfs, the session's userdata.
 *
 * Threads: libfuse's multi-threaded loop calls ops concurrently. Shared
 * state is the broker (thread-safe) and the inode table (its own lock).
 * An open file (struct fs_file) has a mutex that the op holds around the
 * helper *and* the reply, since a read replies from the file's buffer.
 */
#ifndef MQFS_FS_FS_H
#define MQFS_FS_FS_H

#define FUSE_USE_VERSION 35

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs/inode.h"
#include "fs/locks.h"
#include "fs/uring.h"
#include "repl/repl.h"

#define FS_MAX_WRITE         (1024 * 1024) /* one write request, and the read buffer cap */
#define FS_CHUNK_BYTES       (256 * 1024)  /* rendering chunk of .index/.timeindex/.dump */
#define FS_ENTRY_TIMEOUT     1.0           /* names do not change under a live node */
#define FS_DIR_ATTR_TIMEOUT  1.0           /* dirs change only through us (chmod, chown) */
#define FS_FILE_ATTR_TIMEOUT 0.0           /* st_size of files is never cached */

struct mqfs {
	struct broker *broker;
	struct inode_table *inodes;
	char data_dir[4096]; /* absolute: the daemon chdirs to / */
	uid_t uid;           /* owner of MNT/ and the root views */
	gid_t gid;
	mode_t root_mode;           /* mode of MNT/ (-o mode=, default 0755) */
	bool page_cache;            /* cache.c may cache reads (-o no_page_cache: no) */
	struct fs_metrics *metrics; /* op counts and latencies (metrics.c) */
	/* For invalidations (cache.c); NULL: none. Set before the session
	 * loop, cleared after it while the ring's threads may still serve:
	 * atomic loads and stores, one load per notification. */
	struct fuse_session *se;
	const char *mnt;            /* the mount point, absolute */
	atomic_bool readahead_set;  /* cache.c raised the mount's read-ahead */
	pthread_mutex_t cache_mu;   /* a leaf: the nodes' cache_* fields */
	struct timespec start_time; /* times of MNT/ and the root views */
	/* Open files, so that those still open when the loop ends are released
	 * (partial lines produced, cursors and topic references dropped)
	 * before the broker closes. */
	pthread_mutex_t files_lock;
	struct fs_file *files;
	/* fcntl and flock locks, per file (file_locks.c), and the lock
	 * requests parked until granted or interrupted. */
	struct lock_table *locks;
	pthread_mutex_t lock_waits_mu;
	struct fs_lock_wait *lock_waits;
	struct fs_uring *uring; /* uring.c; NULL: requests through /dev/fuse */
	/* Whether a closing process still holds a descriptor of the file
	 * (fdheld.c); NULL: every such close reads its /proc/PID/fd. */
	struct fd_held *held;
	/* Names to drop from the kernel's cache, and the thread that does
	 * (names.c); NULL: none dropped. */
	struct fs_names *names;
};

/* ---- daemon.c ---- */

/* SIGINT, SIGTERM, SIGHUP back to SIG_DFL and unblocked, whatever the
 * process inherited, so that fuse_set_signal_handlers() installs its
 * handler on all three (it skips a signal that is not SIG_DFL). */
int daemon_signals_reset(void);
/* Raises the soft RLIMIT_NOFILE to the hard limit (fs.nr_open when that is
 * unlimited); *was and *now are the soft limit before and after. */
int daemon_raise_nofile(rlim_t *was, rlim_t *now);
/* Whether mountpoint is a dead FUSE mount (ENOTCONN: its daemon was
 * killed): 1, its absolute name in abs (realpath cannot resolve it); 0
 * when it is not dead; -errno when it is dead and not FUSE (a message on
 * stderr). */
int daemon_dead_mount(const char *mountpoint, char *abs, size_t cap);
/* Whether path (absolute, not a dead mount) is mounted by a live mqfs
 * (fuse.mqfs): -EBUSY, a message on stderr; else 0. Mounting over it
 * would hide that daemon's mount, still running, from every new open. */
int daemon_live_mount(const char *path);
/* Detaches the dead FUSE mount on path (absolute), just before mounting
 * there: 1 (logged), 0 when it is no longer dead, -ENOTCONN when it cannot
 * be cleared (a message on stderr gives the command). */
int daemon_detach_dead_mount(const char *path);
/* Warns (one log line each) when what the daemon keeps is open to every
 * user: a config file holding a password (has_password) readable by
 * others, or, on an allow_other mount, a data directory others may
 * enter or list, where they would read every topic's records whatever
 * the modes the mount shows. Returns the number of warnings. */
int daemon_exposure_check(const char *data_dir, const char *config, bool has_password,
			  bool allow_other);

/* Sets the mount's read-ahead (read_ahead_kb of its bdi) to kb; -errno
 * (-EACCES unless root, -ENOENT if the mount is not found). */
int daemon_readahead(const char *mountpoint, unsigned kb);

/* ---- file_locks.c ---- */

/* The lock table and its parked requests: opened before the session runs,
 * closed after it ended. -ENOMEM. */
int fs_locks_open(struct mqfs *fs);
/* When the loop has ended: parked lock requests are answered EINTR. */
void fs_locks_shutdown(struct mqfs *fs);
void fs_locks_close(struct mqfs *fs);
/* The ops getlk, setlk and flock: each answers req, setlk with sleep and
 * a blocking flock possibly later, from another thread. */
void fs_lock_get(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock);
void fs_lock_set(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
		 int sleep);
void fs_lock_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op);
/* At a FLUSH: drops the fcntl locks of fi->lock_owner on the file. */
void fs_lock_flush(struct mqfs *fs, fuse_ino_t ino, const struct fuse_file_info *fi);
/* At a RELEASE marked flock_release: drops the file's flock lock. */
void fs_lock_release(struct mqfs *fs, fuse_ino_t ino, const struct fuse_file_info *fi);

/* ---- tree.c ---- */

/* The key of a node of t (NULL for root nodes); partition -1 if none. */
struct node_key fs_node_key(int kind, struct topic *t, int32_t partition);
/* "orders/.segments/0/00000000000000000000.log" for log lines. */
void fs_node_path(const struct fs_node *n, char *buf, size_t len);
/* -ENOENT if the node's topic was deleted or its partition is beyond the
 * topic's count. */
int fs_node_alive(struct fs_node *n);
/* inode_get, then fs_node_alive: a node reference to inode_put, or -errno
 * (the reference already dropped). */
int fs_node_get(struct mqfs *fs, fuse_ino_t ino, struct fs_node **out);
/* fs_node_get for a lookup or an open, which the kernel sends as it walks
 * a path: -ESTALE for a node of a deleted topic whose name a topic has
 * again, so that the kernel walks the path again asking for every name. */
int fs_node_get_walked(struct mqfs *fs, fuse_ino_t ino, struct fs_node **out);
/* Attributes of a node, fresh (st_size of partitions and text views is
 * computed now). -ENOENT when its topic, partition or segment is gone. */
int fs_node_stat(struct mqfs *fs, struct fs_node *n, struct stat *st);
/* Looks up name in directory ino and fills e (lookup count +1). */
int fs_lookup(struct mqfs *fs, fuse_ino_t parent, const char *name, uint32_t pid,
	      struct fuse_entry_param *e);
int fs_getattr(struct mqfs *fs, fuse_ino_t ino, struct stat *st, double *timeout);
/* access(2) without default_permissions: -EACCES when no one may do what
 * mask asks by the node's mode (W_OK of a read-only view). */
int fs_access(struct mqfs *fs, fuse_ino_t ino, int mask);
int fs_setattr(struct mqfs *fs, fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set,
	       struct stat *st, double *timeout);
int fs_mkdir(struct mqfs *fs, const struct fuse_ctx *ctx, fuse_ino_t parent, const char *name,
	     mode_t mode, struct fuse_entry_param *e);
int fs_rmdir(struct mqfs *fs, fuse_ino_t parent, const char *name);
/* rc, logged when it is -ENOMEM (README "Errors": every refused operation
 * logs its line, running out of memory too): "op path: ...". One call
 * site, so one rate limit for all of them (a loop of failing calls cannot
 * flood the log). The layers below log their other errors themselves. */
int fs_nomem_logged(int rc, const char *op, const char *path);
/* Refusals of create/mknod/symlink/link/rename/unlink: logs, returns -errno. */
int fs_refuse_name(struct mqfs *fs, const char *op, fuse_ino_t parent, const char *name);
int fs_statfs(struct mqfs *fs, struct statvfs *sv);

/* A directory listing taken at readdir offset 0; later offsets index it. */
struct fs_dirent {
	char name[256];
	mode_t type; /* S_IFDIR / S_IFREG */
	uint64_t ino;
};
struct fs_dir {
	fuse_ino_t ino;
	struct fs_dirent *ents;
	size_t n;
	bool listed;
	pthread_mutex_t lock;
};
int fs_dir_open(struct mqfs *fs, fuse_ino_t ino, struct fs_dir **out);
/* Fills buf (size bytes) with entries from offset off; returns bytes. */
ssize_t fs_dir_read(struct mqfs *fs, fuse_req_t req, struct fs_dir *d, char *buf, size_t size,
		    off_t off);
void fs_dir_close(struct fs_dir *d);

/* ---- fdheld.c ---- */

/* Calls add(set, path) for the path (as struct fs_file's) of every file of
 * the mount open now. */
typedef void (*fd_held_paths_fn)(void *ctx, void (*add)(void *set, const char *path), void *set);
struct fd_held;
/* mnt: the mount point, absolute; paths: the open files (ctx its first
 * argument). -ENOMEM. */
int fd_held_new(const char *mnt, fd_held_paths_fn paths, void *ctx, struct fd_held **out);
void fd_held_free(struct fd_held *h);
/* A flush of a descriptor of MNT/path by descriptor table owner, from
 * thread pid (a close, dup2's replacement, close-on-exec, exit): called
 * for every flush that names an owner. With ask, whether the process
 * still holds a descriptor of the file (see fdheld.c; an error is a no);
 * else false. h NULL: ask reads the whole /proc/PID/fd. */
bool fd_held_close(struct fd_held *h, uint64_t owner, uint32_t pid, const char *path, bool ask);
/* Readings of a whole /proc/PID/fd so far. */
uint64_t fd_held_scans(struct fd_held *h);
/* Reads /proc/PID/stat into buf: its fields after the command name's
 * ')' (the state first), or NULL (pid 0, gone, unreadable). */
const char *proc_stat_fields(uint32_t pid, char *buf, size_t cap);

/* ---- open_files.c ---- */

enum fs_file_kind {
	FILE_PART,     /* MNT/<topic>/<p> and .produce (partition -1) */
	FILE_TEXT,     /* snapshot text views; .config also takes writes */
	FILE_SEG_RAW,  /* .segments/<p>/<base>.log */
	FILE_SEG_TEXT, /* .segments/<p>/<base>.index/.timeindex/.dump */
	FILE_CONSUME,  /* .groups/<g>/consume (groups.c) */
};

struct fs_file {
	pthread_mutex_t lock;
	struct fs_file *prev, *next; /* mqfs.files, under files_lock */
	enum fs_file_kind kind;
	int node_kind;       /* enum node_kind */
	struct topic *topic; /* own reference, NULL for root views */
	int partition;       /* -1: the partitioner (.produce) */
	/* A partition file's or .produce's node, with a reference of the
	 * file's (put at release): each write's fs_cache_wrote without a
	 * lookup, and its count of writers (inode_opened, inode_closed). */
	struct fs_node *node;
	int oflags;      /* open(2) flags */
	bool cached;     /* read through the page cache (cache.c) */
	bool keep_cache; /* the kernel may keep the pages it holds */
	int64_t base;
	enum segment_file seg;
	char path[320];       /* for log lines, and fdheld.c: MNT/<path> */
	struct fd_held *held; /* the mount's (fdheld.c), NULL in unit tests */

	/* writes: the trailing partial line (partition, .produce); a topic's
	 * .config: every line written since the last flush, of which the
	 * first cfg_lines_len bytes are whole lines already checked, and
	 * whether a write was refused since (the flush then applies nothing) */
	char *partial;
	size_t partial_len, partial_cap;
	uint64_t partial_owner; /* lock owner of the last write into it, 0: unknown */
	size_t cfg_lines_len;
	int cfg_refused; /* the -errno of the first refused write since, 0: none */
	/* Those checked lines as topic_config_compact keeps them (at most one
	 * line per setting, malloc'ed), and how many lines they were: a
	 * write's lines are checked after these, not after all of them
	 * again (a script that writes one line per write() would cost the
	 * square of its length). */
	char *cfg_digest;
	size_t cfg_digest_len;
	int cfg_nlines;
	/* partition files (open_files.c): dropping = the rest of a line over the
	 * size limit is discarded up to its newline; refused_long = a line was
	 * refused so since the last flush; refused = a copy of the last write
	 * refused with -EMSGSIZE, at refused_off, to know it when it is sent
	 * again; wnext = the offset that continues this file's writes (-1
	 * before its first write); partial_failed = the errno of the last
	 * write that would have continued the unfinished line and failed,
	 * nothing of it kept (0 once a later write succeeds): a close or
	 * fsync then drops the line rather than make its front a record */
	bool dropping, refused_long;
	int partial_failed;
	char *refused;
	size_t refused_len;
	int64_t refused_off;
	int64_t wnext;
	/* what fsync makes durable: the partition's log end offset after this
	 * file's last append, -1 for all (open_files.c) */
	int64_t sync_upto;
	/* acks=0 writes of this file not yet appended, and their first error
	 * (reported by flush, fsync, close) */
	struct produce_tracker tracker;

	/* reads of the line view: the reader and the client -> stable position
	 * map across gaps (next_off is the client offset expected next, next_pos
	 * the stable position it stands for) */
	struct topic_reader *reader;
	int64_t next_off, next_pos;

	/* reply buffer (partition and raw segment reads); rbuf2: the other
	 * one of a partition file read in big reads, which the engine may
	 * decode the next read into while rbuf's bytes are replied (both
	 * at least FS_MAX_WRITE bytes then, never reallocated: open_files.c);
	 * both come from and go back to util/shelf.h's shelf when it can */
	char *rbuf, *rbuf2;
	size_t rbuf_cap, rbuf2_cap;

	/* consumer groups (groups.c): the group of a .groups/<g>/ file; for
	 * consume the member, the parked read and the poll handle */
	struct group *group;
	struct group_member *member;
	fuse_req_t parked;
	size_t parked_size;
	off_t parked_off;
	bool parking; /* parked, interrupt not yet registered */
	struct fuse_pollhandle *ph;

	/* FILE_TEXT: the snapshot rendered at open */
	char *text;
	size_t text_len;

	/* FILE_SEG_TEXT: one rendered chunk [chunk_off, chunk_off + chunk_len)
	 * of the stream; render_cursor renders the next one */
	char *chunk;
	size_t chunk_len;
	int64_t chunk_off;
	int64_t render_cursor;
	bool render_done;
};

/* Renders the text of a view node (MNT/.state ..., <topic>/.config,
 * <topic>/.state), malloc'ed. */
int fs_view_render(struct mqfs *fs, struct fs_node *n, char **out, size_t *len);
/* Opens ino with open(2) flags; -EACCES for writes to read-only views,
 * -EISDIR for directories. */
int fs_file_open(struct mqfs *fs, fuse_ino_t ino, int flags, uint32_t pid, struct fs_file **out);
/* The following run under f->lock (fs_file_lock), taken by the op. */
/* paged: the kernel fills its page cache with this read (a file opened
 * through it, or a fault of mmap(MAP_PRIVATE) of a direct-I/O file, whose
 * request carries no lock owner): offsets are positions, never mapped. */
ssize_t fs_file_read(struct fs_file *f, size_t size, off_t off, bool paged, const char **data);
/* Makes f->rbuf hold size bytes (at most FS_MAX_WRITE): only grows, from
 * util/shelf.h's shelf when it can. 0 or -ENOMEM. */
int fs_rbuf_reserve(struct fs_file *f, size_t size);
/* flags: the file's current status flags (O_APPEND, O_NONBLOCK); off:
 * where the kernel asks the write to land (see open_files.c for partitions);
 * owner: the FUSE lock owner of the writing process's descriptor table
 * (0: not known). */
ssize_t fs_file_write(struct fs_file *f, const char *buf, size_t size, off_t off, int flags,
		      uint64_t owner);
/* Refuses to allocate or punch space: always -EOPNOTSUPP, logged. */
int fs_file_fallocate(struct fs_file *f, int mode, off_t off, off_t len);
/* A close() of a descriptor of f by owner, from thread pid (0, 0: at fsync
 * and release). A close by another process than the one whose write left
 * the unfinished line or .config text (a child that inherited the
 * descriptor, exiting or closing it at exec), or of a copy of a descriptor
 * the closing process still holds, leaves them for the writer's last
 * close. */
int fs_file_flush(struct fs_file *f, uint64_t owner, uint32_t pid);
int fs_file_fsync(struct fs_file *f);
/* getattr through an open file (fstat, or the kernel checking the size
 * before a read through the page cache): -ENOENT, logged, when the file's
 * topic was deleted while it was open; else 0. */
int fs_file_stat_check(const struct fs_file *f);
/* Produces a partial line left without flush, frees everything. */
void fs_file_release(struct mqfs *fs, struct fs_file *f);
/* After the loop: releases the files the kernel never released. */
void fs_file_release_all(struct mqfs *fs);
/* fd_held_paths_fn of the mount (ctx: struct mqfs). */
void fs_file_paths(void *ctx, void (*add)(void *set, const char *path), void *set);

static inline void fs_file_lock(struct fs_file *f)
{
	pthread_mutex_lock(&f->lock);
}
static inline void fs_file_unlock(struct fs_file *f)
{
	pthread_mutex_unlock(&f->lock);
}

/* ---- cache.c ---- */

/* Whether an open of n with open(2) flags reads through the page cache
 * (the node then follows the coherence rules from now on), and in
 * *keep_cache whether the kernel may keep the pages it holds. */
bool fs_cache_open(struct mqfs *fs, struct fs_node *n, int flags, bool *keep_cache);
/* Before a write reply on partition node n that ends at end (the kernel
 * moves i_size there): the same for the file's size now. */
void fs_cache_wrote(struct mqfs *fs, struct fs_node *n, int64_t end);
/* Before a getattr or lookup reply tells the kernel size: the pages from
 * the old end on are dropped if the file grew (cache.c, rule 2). */
void fs_cache_stat(struct mqfs *fs, struct fs_node *n, int64_t size);
/* The broker's removal listener (arg: struct mqfs): drops the cached pages
 * of the partition file; later opens read it with direct I/O. */
void fs_cache_removed(void *arg, struct topic *t, int partition);

/* ---- names.c ---- */

/* The thread that drops names from the kernel's cache: started before the
 * session loop, stopped after it (fs->names). -ENOMEM, -EAGAIN. */
int fs_names_open(struct mqfs *fs);
void fs_names_close(struct mqfs *fs);
/* Queues name in directory parent to be dropped from the kernel's cache
 * (never sends from the caller's thread: any thread, any lock held). */
void fs_names_gone(struct mqfs *fs, fuse_ino_t parent, const char *name);
/* The broker's removal listener (arg: struct mqfs): fs_cache_removed,
 * and for a deleted topic its name dropped from the kernel's cache. */
void fs_removed(void *arg, struct topic *t, int partition);
/* The group coordinator's gone listener (arg: struct mqfs): the group's
 * name in its topic's .groups dropped from the kernel's cache (queued). */
void fs_group_gone(void *arg, const char *topic, const char *group);

/* ---- ops.c ---- */
extern const struct fuse_lowlevel_ops fs_ops;

/* ---- tree.c, for groups.c ---- */
int fs_dir_add(struct fs_dir *d, size_t *cap, const char *name, mode_t type, uint64_t ino);

/* ---- groups.c: MNT/<topic>/.groups/ ---- */
bool fs_groups_kind(int kind);
int fs_groups_alive(struct fs_node *n);
void fs_groups_path(const struct fs_node *n, char *buf, size_t len);
/* Key of name in a NODE_GROUPS or NODE_GROUP directory. */
int fs_groups_child(struct mqfs *fs, struct fs_node *dir, const char *name, struct node_key *key);
int fs_groups_list(struct mqfs *fs, struct fs_node *dir, struct fs_dir *d, size_t *cap);
int fs_groups_render(struct mqfs *fs, struct fs_node *n, char **out, size_t *len);
/* Mode and size of a group node (mode: the topic's permission bits). */
int fs_groups_stat(struct mqfs *fs, struct fs_node *n, mode_t mode, struct stat *st);
int fs_groups_mkdir(struct fs_node *dir, const char *name, struct node_key *key);
int fs_groups_rmdir(struct fs_node *dir, const char *name);
/* The inode number of topic's .groups directory if the kernel knows it,
 * else 0 (the topic is gone, or its .groups was never looked up). */
uint64_t fs_groups_dir_ino(struct mqfs *fs, const char *topic);
int fs_groups_open(struct fs_file *f, struct fs_node *n);
ssize_t fs_groups_write(struct fs_file *f, const char *buf, size_t size);
int fs_consume_join(struct fs_file *f, pid_t pid);
/* The consume read and poll ops: they reply themselves (a read may park). */
void fs_consume_read(fuse_req_t req, struct fs_file *f, size_t size, off_t off);
void fs_consume_poll(fuse_req_t req, struct fs_file *f, struct fuse_pollhandle *ph);
void fs_groups_file_free(struct fs_file *f);
/* When the loop ends: parked reads answered EINTR, no more wakes. */
void fs_groups_shutdown(struct mqfs *fs);

/* ---- metrics.c ----
 * Counts and times every FUSE operation by wrapping the op table: the
 * session runs fs_metrics_ops(m), whose ops call those of inner. */
struct fs_metrics;
int fs_metrics_new(const struct fuse_lowlevel_ops *inner, struct fs_metrics **out);
void fs_metrics_free(struct fs_metrics *m);
const struct fuse_lowlevel_ops *fs_metrics_ops(struct fs_metrics *m);
/* MNT/.metrics: the broker's metrics followed by the daemon's (malloc'ed). */
int fs_metrics_render(struct mqfs *fs, char **out, size_t *len);

#endif
