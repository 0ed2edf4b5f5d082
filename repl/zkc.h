/*
 * zkc.h — a small synchronous ZooKeeper client over libzookeeper-mt, with
 * the errno conventions of mqfs. Private to repl/.
 *
 * Connection. `zookeeper.connect` is "host:port[,host:port...][/chroot]"
 * (a missing port means 2181). The chroot is created (with its parents,
 * persistent, empty) before the session that uses it opens, as Kafka does;
 * every path given to or returned by zkc is relative to it.
 *
 * Session. libzookeeper-mt reconnects by itself within the session timeout
 * (the server may grant a different one than asked: zkc_session_timeout).
 * The owner's session callback hears:
 *   ZKC_CONNECTED     connected (first time, or again after a loss: the
 *                     session, its ephemeral znodes and watches survived)
 *   ZKC_DISCONNECTED  connection lost; calls fail with -ECONNRESET or wait
 *                     while the library reconnects
 *   ZKC_EXPIRED       the session is gone for good: its ephemeral znodes
 *                     are deleted and its watches will never fire. Every
 *                     call now fails with -ENOTCONN; the owner closes this
 *                     handle and opens a new one, re-registering what it
 *                     owned (as Kafka's broker re-registers after expiry)
 *   ZKC_AUTH_FAILED   as expired
 *
 * Threads. libzookeeper-mt runs two threads per handle: an I/O thread and a
 * completion thread. EVERY callback (session and watch) runs on the
 * completion thread, one at a time, in the order the server sent the
 * events. A callback must return quickly and must NOT call any zkc
 * function that talks to the server (nor zkc_close): a synchronous call
 * waits for a completion that this same thread would have to deliver, a
 * deadlock. The owner hands the event to its own thread (a queue and a
 * condition variable, an eventfd) which re-reads the znode and re-arms the
 * watch from there. Synchronous calls may come from any number of other
 * threads at once.
 *
 * Watches are one-shot, as in ZooKeeper: a call given a watch function
 * arms it, it fires at most once, and the owner re-arms it by reading
 * again (which also returns the current data, so no change is missed).
 * zkc_exists() arms a watch even when the znode does not exist (it then
 * fires on creation); zkc_get() and zkc_children() arm one only when they
 * succeed. A watch that never fires (session expired, handle closed) is
 * freed by zkc_close. A call whose watch (same kind of call, path,
 * function and argument) is armed already and has not fired arms no
 * second one: the armed one fires once for the next change, so reading
 * a znode again and again between its changes holds one watch, not one
 * per read.
 *
 * Errors: 0 (or a count) on success, else one of
 *   -ENOENT      no such znode (or parent, for create)
 *   -EEXIST      znode exists (create)
 *   -ESTALE      its version is not the expected one (conditional write)
 *   -ENOTEMPTY   delete of a znode with children
 *   -EPERM       children under an ephemeral znode
 *   -ECONNRESET  connection lost during the call: the outcome is unknown
 *   -ETIMEDOUT   no answer in time (open, or the library's operation timeout)
 *   -ENOTCONN    session expired or closed
 *   -EACCES      ACL refused or authentication failed
 *   -EINVAL      bad argument (path, connect string)
 *   -ENOMEM, -EIO (anything else the library reports)
 */
#ifndef MQFS_REPL_ZKC_H
#define MQFS_REPL_ZKC_H

#include <stddef.h>
#include <stdint.h>

struct zkc;

enum zkc_session {
	ZKC_CONNECTED,
	ZKC_DISCONNECTED,
	ZKC_EXPIRED,
	ZKC_AUTH_FAILED,
};

enum zkc_watch {
	ZKC_WATCH_CREATED,
	ZKC_WATCH_DELETED,
	ZKC_WATCH_CHANGED,  /* data changed */
	ZKC_WATCH_CHILDREN, /* children added or removed */
};

/* Both run on libzookeeper-mt's completion thread: see "Threads" above. */
typedef void zkc_session_fn(void *arg, enum zkc_session ev);
typedef void zkc_watch_fn(void *arg, enum zkc_watch ev, const char *path);

struct zkc_stat {
	int64_t czxid, mzxid;
	int64_t ctime;           /* creation, ms since the epoch (server's clock) */
	int64_t ephemeral_owner; /* session id of the owner, 0: persistent */
	int32_t version;         /* data version, the one conditional writes name */
	int32_t cversion;        /* children version */
	int32_t data_length;
	int32_t num_children;
};

/* Flags of zkc_create. */
#define ZKC_PERSISTENT 0
#define ZKC_EPHEMERAL  1
#define ZKC_SEQUENTIAL 2 /* the server appends a 10-digit counter */
#define ZKC_PARENTS    4 /* create missing parents (persistent, empty) */

#define ZKC_ANY_VERSION (-1)

/* Splits "hosts[/chroot]" into malloc'd parts; *chroot is NULL without one
 * (or for "/"). -EINVAL for an empty host list, a bad port, a chroot that
 * is not a ZooKeeper path ("//", trailing '/', "." or ".." components). */
int zkc_parse_connect(const char *connect, char **hosts, char **chroot);

/* Connects and waits up to connect_timeout_ms for the session. session_fn
 * may be NULL. -EINVAL, -ETIMEDOUT, -EACCES, -ENOMEM, or the error of
 * creating the chroot. */
int zkc_open(const char *connect, int session_timeout_ms, int connect_timeout_ms,
	     zkc_session_fn *session_fn, void *arg, struct zkc **out);
/* Closes the session (its ephemeral znodes go at once) and frees the
 * handle; waits for a callback running on the completion thread. Not from a
 * callback. NULL is fine. */
void zkc_close(struct zkc *zkc);

int64_t zkc_session_id(const struct zkc *zkc);
/* Watches armed through this handle that have not fired yet (one per
 * kind of call, path, function and argument). Any thread. */
int zkc_watches_armed(struct zkc *zkc);
int zkc_session_timeout(const struct zkc *zkc);

/* Makes the server expire this handle's session, as ZooKeeper's own tests
 * do: opens a second connection with the same session id and password and
 * closes it, again if the handle won its session back first. Returns once
 * the handle has seen its expiry (its session callback heard
 * ZKC_EXPIRED), -ETIMEDOUT if that did not happen in a few tries. Not from
 * a callback. */
int zkc_expire(struct zkc *zkc);

/* Reads a znode: *data is malloc'd, NUL-terminated (*len excludes the NUL;
 * an empty znode gives "" and 0). st and watch may be NULL. */
int zkc_get(struct zkc *zkc, const char *path, char **data, size_t *len, struct zkc_stat *st,
	    zkc_watch_fn *watch, void *arg);
/* 0 when the znode exists, -ENOENT when not (the watch is armed either way). */
int zkc_exists(struct zkc *zkc, const char *path, struct zkc_stat *st, zkc_watch_fn *watch,
	       void *arg);
/* Creates path with data (NULL: no data) and flags. created (may be NULL)
 * gets the created path (with the sequence number). -EEXIST, -ENOENT
 * (parent missing, without ZKC_PARENTS). */
int zkc_create(struct zkc *zkc, const char *path, const char *data, size_t len, int flags,
	       char *created, size_t created_size);
/* Writes data when the znode's version is `version` (or ZKC_ANY_VERSION);
 * st (may be NULL) gets the new stat. -ESTALE, -ENOENT. */
int zkc_set(struct zkc *zkc, const char *path, const char *data, size_t len, int32_t version,
	    struct zkc_stat *st);
/* -ESTALE, -ENOENT, -ENOTEMPTY. */
int zkc_delete(struct zkc *zkc, const char *path, int32_t version);

/* Children names, sorted (malloc'd array of malloc'd strings; free with
 * zkc_names_free). Returns their count. */
int zkc_children(struct zkc *zkc, const char *path, char ***names, zkc_watch_fn *watch, void *arg);
void zkc_names_free(char **names, int n);

/* One operation of an atomic transaction. */
enum zkc_op_type { ZKC_OP_CREATE, ZKC_OP_SET, ZKC_OP_DELETE, ZKC_OP_CHECK };

struct zkc_op {
	enum zkc_op_type type;
	const char *path;
	const char *data; /* CREATE, SET */
	size_t len;
	int flags;           /* CREATE: ZKC_EPHEMERAL, ZKC_SEQUENTIAL */
	int32_t version;     /* SET, DELETE, CHECK: expected, or ZKC_ANY_VERSION */
	int32_t new_version; /* out, SET: the znode's version after */
};

/* Applies all ops or none. On failure returns the errno of the op that
 * failed (CHECK or SET on a wrong version: -ESTALE) and sets *failed to
 * its index (-1 when no single op is to blame, e.g. connection loss);
 * failed may be NULL. */
int zkc_multi(struct zkc *zkc, struct zkc_op *ops, int n, int *failed);

#endif
