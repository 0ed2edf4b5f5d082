/*
 * acl_zk.h — private to repl/: the ACLs' znodes (acl.h has the layout),
 * read and written as Kafka's AclAuthorizer does. Errors are zkc's
 * (zkc.h) and -ENOMEM; a resource znode that does not decode is logged
 * and holds no ACL.
 *
 * Threads: any thread that may call ZooKeeper; no state.
 */
#ifndef MQFS_REPL_ACL_ZK_H
#define MQFS_REPL_ACL_ZK_H

#include <stdbool.h>
#include <stdint.h>

#include "repl/acl.h"
#include "repl/zkc.h"

/* /kafka-acl, /kafka-acl-extended/prefixed and both change paths, made
 * when missing (AclAuthorizer.configure's createAclPaths). */
int acl_zk_ensure_paths(struct zkc *zk);
/* The bindings of one resource and its znode version (-1, no binding:
 * no znode). */
int acl_zk_read_resource(struct zkc *zk, int rtype, int pattern, const char *name,
			 struct acl_entry **v, int *n, int32_t *version);
/* Every resource's bindings (AclAuthorizer.loadCache). */
int acl_zk_read_all(struct zkc *zk, struct acl_entry **out, int *n);
/* One resource's znode updated conditionally: the bindings drop() takes
 * (drop may be NULL) removed, copied to *removed; add's bindings added
 * (once). Read, changed and written at the version read, again when
 * another writer came between (-ESTALE after ACL_UPDATE_TRIES); an empty
 * set deletes the znode. When anything changed a change notice is
 * written, so that every broker re-reads the resource. *now: the set
 * written (the cache's new bindings of the resource); both malloc'd
 * (acl_entries_free) on success. */
int acl_zk_update(struct zkc *zk, int rtype, int pattern, const char *name,
		  const struct acl_entry *add, int n_add,
		  bool (*drop)(void *arg, const struct acl_entry *e), void *arg,
		  struct acl_entry **removed, int *n_removed, struct acl_entry **now, int *n_now);
/* The resource a change notice (a child of /kafka-acl-changes, or of
 * /kafka-acl-extended-changes when extended) names: *name malloc'd.
 * -ENOENT (purged meanwhile), -EBADMSG (logged). */
int acl_zk_read_notice(struct zkc *zk, bool extended, const char *child, int *rtype, int *pattern,
		       char **name);
/* Deletes notices older than max_age_ms (zkmeta_purge_notices). */
int acl_zk_purge_notices(struct zkc *zk, bool extended, char *const *names, int n, int64_t now_ms,
			 int64_t max_age_ms);

/* What a broker's cache has followed: the newest notice handled of each
 * change path, and whether every resource was read (a new session reads
 * them all again: loaded false). */
struct acl_follow {
	int64_t seen[2]; /* literal, extended; -1: none */
	bool loaded;
};
#define ACL_FOLLOW_INIT           \
	{                         \
		{ -1, -1 }, false \
	}
/* Lists both change paths (arming watch on each), then: the first time
 * every resource into the store (AclAuthorizer.loadCache), later each
 * resource a newer notice names; notices older than max_age_ms deleted
 * (logged when that fails). 0, or zkc's error (to be tried again: what
 * was not handled stays newer than seen). */
int acl_zk_follow(struct acl_follow *f, struct zkc *zk, struct acl_store *s, zkc_watch_fn *watch,
		  void *arg, int64_t now_ms, int64_t max_age_ms);

#endif
