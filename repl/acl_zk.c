/*
 * acl_zk.c — the ACLs in ZooKeeper as Kafka's AclAuthorizer keeps them
 * (the layout is in acl.h): reading every resource's znode into the
 * cache, a conditional update of one resource's znode (the version read
 * is the version written, tried again when another broker or tool wrote
 * between, as AclAuthorizer.updateResourceAcls), and the change notices
 * every broker's cache follows.
 *
 * Threads: any thread that may make ZooKeeper calls (the cluster thread,
 * a worker under cluster_with_zk); no state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/acl.h"
#include "repl/acl_zk.h"
#include "repl/zkc.h"
#include "repl/zkdata.h"
#include "repl/zkmeta.h"
#include "util/diaglog.h"

/* Tries of one conditional update before giving up (Kafka's
 * maxUpdateRetries). */
#define ACL_UPDATE_TRIES 10

int acl_zk_ensure_paths(struct zkc *zk)
{
	static const char *const paths[] = { ACL_PATH, ACL_EXT_PATH, ACL_CHANGES, ACL_EXT_CHANGES };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int rc = zkc_create(zk, paths[i], NULL, 0, ZKC_PERSISTENT | ZKC_PARENTS, NULL, 0);

		if (rc < 0 && rc != -EEXIST)
			return rc;
	}
	return 0;
}

int acl_zk_read_resource(struct zkc *zk, int rtype, int pattern, const char *name,
			 struct acl_entry **v, int *n, int32_t *version)
{
	char *path, why[ZK_WHY_LEN] = "", *data = NULL;
	struct zkc_stat st;
	size_t len;
	int rc;

	*v = NULL;
	*n = 0;
	*version = -1;
	if ((rc = acl_znode_path(&path, rtype, pattern, name)) < 0)
		return rc;
	rc = zkc_get(zk, path, &data, &len, &st, NULL, NULL);
	if (rc < 0) {
		free(path);
		return rc == -ENOENT ? 0 : rc; /* no znode: no bindings */
	}
	*version = st.version;
	rc = acl_json_decode(data, len, rtype, pattern, name, v, n, why);
	free(data);
	if (rc == -EBADMSG) {
		/* Another tool's document we cannot read: its ACLs do not
		 * apply, and the next update of the resource rewrites it. */
		mq_log_limited(MQ_WARN, "ACLs %s do not decode (%s): ignored", path, why);
		rc = 0;
	}
	free(path);
	return rc;
}

/* Appends the bindings of every resource under root/<Type>/. */
static int read_root(struct zkc *zk, const char *root, int pattern, struct acl_entry **all,
		     int *n_all)
{
	for (int t = ACL_RES_TOPIC; t <= ACL_RES_USER; t++) {
		char path[ZK_PATH_MAX], **names = NULL;
		int nn;

		snprintf(path, sizeof(path), "%s/%s", root, acl_type_path_name(t));
		nn = zkc_children(zk, path, &names, NULL, NULL);
		if (nn == -ENOENT)
			continue;
		if (nn < 0)
			return nn;
		for (int i = 0; i < nn; i++) {
			struct acl_entry *v, *grown;
			int n, rc;
			int32_t ver;

			rc = acl_zk_read_resource(zk, t, pattern, names[i], &v, &n, &ver);
			if (rc < 0) {
				zkc_names_free(names, nn);
				return rc;
			}
			grown = realloc(*all, (size_t)(*n_all + n + 1) * sizeof(*grown));
			if (!grown) {
				acl_entries_free(v, n);
				zkc_names_free(names, nn);
				return -ENOMEM;
			}
			if (n)
				memcpy(grown + *n_all, v, (size_t)n * sizeof(*v));
			free(v);
			*all = grown;
			*n_all += n;
		}
		zkc_names_free(names, nn);
	}
	return 0;
}

int acl_zk_read_all(struct zkc *zk, struct acl_entry **out, int *n)
{
	struct acl_entry *all = NULL;
	int n_all = 0, rc;

	rc = read_root(zk, ACL_PATH, ACL_PAT_LITERAL, &all, &n_all);
	if (rc == 0)
		rc = read_root(zk, ACL_EXT_PATH, ACL_PAT_PREFIXED, &all, &n_all);
	if (rc < 0) {
		acl_entries_free(all, n_all);
		return rc;
	}
	*out = all;
	*n = n_all;
	return 0;
}

static bool same_binding(const struct acl_entry *a, const struct acl_entry *b)
{
	return a->operation == b->operation && a->permission == b->permission &&
	       !strcmp(a->principal, b->principal) && !strcmp(a->host, b->host);
}

/* The next set: cur without what drop() takes (copied to *removed), with
 * add's bindings not already there. */
static int next_set(const struct acl_entry *cur, int n_cur, const struct acl_entry *add, int n_add,
		    bool (*drop)(void *arg, const struct acl_entry *e), void *arg,
		    struct acl_entry **next, int *n_next, struct acl_entry **removed,
		    int *n_removed)
{
	struct acl_entry *v = calloc((size_t)(n_cur + n_add) + 1, sizeof(*v));
	struct acl_entry *r = calloc((size_t)n_cur + 1, sizeof(*r));
	int k = 0, kr = 0, rc = 0;

	if (!v || !r)
		rc = -ENOMEM;
	for (int i = 0; rc == 0 && i < n_cur; i++) {
		if (drop && drop(arg, &cur[i]))
			rc = acl_entry_copy(&cur[i], &r[kr++]);
		else
			rc = acl_entry_copy(&cur[i], &v[k++]);
	}
	for (int i = 0; rc == 0 && i < n_add; i++) {
		bool have = false;

		for (int j = 0; j < k && !have; j++)
			have = same_binding(&v[j], &add[i]);
		if (!have)
			rc = acl_entry_copy(&add[i], &v[k++]);
	}
	if (rc) {
		acl_entries_free(v, k);
		acl_entries_free(r, kr);
		return rc;
	}
	*next = v;
	*n_next = k;
	*removed = r;
	*n_removed = kr;
	return 0;
}

/* Writes the set (or deletes the znode when empty) if the znode is still
 * at version (-1: absent). -ESTALE when it moved. */
static int write_set(struct zkc *zk, const char *path, const struct acl_entry *v, int n,
		     int32_t version)
{
	char *doc;
	int rc;

	if (n == 0) {
		if (version < 0)
			return 0;
		rc = zkc_delete(zk, path, version);
		return rc == -ENOENT ? -ESTALE : rc;
	}
	doc = acl_json_encode(v, n);
	if (!doc)
		return -ENOMEM;
	if (version < 0) {
		rc = zkc_create(zk, path, doc, strlen(doc), ZKC_PERSISTENT | ZKC_PARENTS, NULL, 0);
		if (rc == -EEXIST)
			rc = -ESTALE;
	} else {
		rc = zkc_set(zk, path, doc, strlen(doc), version, NULL);
		if (rc == -ENOENT)
			rc = -ESTALE;
	}
	free(doc);
	return rc;
}

/* acl_zk_update of the resource's znode path. */
static int update_at(struct zkc *zk, const char *path, int rtype, int pattern, const char *name,
		     const struct acl_entry *add, int n_add,
		     bool (*drop)(void *arg, const struct acl_entry *e), void *arg,
		     struct acl_entry **removed, int *n_removed, struct acl_entry **now, int *n_now)
{
	int rc;

	for (int tries = 0; tries < ACL_UPDATE_TRIES; tries++) {
		struct acl_entry *cur, *next = NULL, *rem = NULL;
		int n_cur, n_next = 0, n_rem = 0;
		int32_t version;

		rc = acl_zk_read_resource(zk, rtype, pattern, name, &cur, &n_cur, &version);
		if (rc < 0)
			return rc;
		rc = next_set(cur, n_cur, add, n_add, drop, arg, &next, &n_next, &rem, &n_rem);
		if (rc < 0) {
			acl_entries_free(cur, n_cur);
			return rc;
		}
		/* Nothing to write: no notice either, as Kafka. */
		if (n_next == n_cur && n_rem == 0) {
			acl_entries_free(cur, n_cur);
			*now = next;
			*n_now = n_next;
			acl_entries_free(rem, n_rem);
			return 0;
		}
		acl_entries_free(cur, n_cur);
		rc = write_set(zk, path, next, n_next, version);
		if (rc == 0) {
			char *note = acl_change_encode(rtype, pattern, name);
			char npath[ZK_PATH_MAX];

			snprintf(npath, sizeof(npath), "%s/%s",
				 pattern == ACL_PAT_LITERAL ? ACL_CHANGES : ACL_EXT_CHANGES,
				 ACL_CHANGE_PREFIX);
			rc = note ? zkc_create(zk, npath, note, strlen(note),
					       ZKC_PERSISTENT | ZKC_SEQUENTIAL, NULL, 0)
				  : -ENOMEM;
			free(note);
			*removed = rem;
			*n_removed = n_rem;
			*now = next;
			*n_now = n_next;
			return rc;
		}
		acl_entries_free(next, n_next);
		acl_entries_free(rem, n_rem);
		if (rc != -ESTALE)
			return rc;
	}
	mq_log_limited(MQ_WARN, "ACLs %s: changed by others %d times in a row, not updated", path,
		       ACL_UPDATE_TRIES);
	return -ESTALE;
}

int acl_zk_update(struct zkc *zk, int rtype, int pattern, const char *name,
		  const struct acl_entry *add, int n_add,
		  bool (*drop)(void *arg, const struct acl_entry *e), void *arg,
		  struct acl_entry **removed, int *n_removed, struct acl_entry **now, int *n_now)
{
	char *path;
	int rc;

	*removed = NULL;
	*n_removed = 0;
	if ((rc = acl_znode_path(&path, rtype, pattern, name)) < 0)
		return rc;
	rc = update_at(zk, path, rtype, pattern, name, add, n_add, drop, arg, removed, n_removed,
		       now, n_now);
	free(path);
	return rc;
}

int acl_zk_read_notice(struct zkc *zk, bool extended, const char *child, int *rtype, int *pattern,
		       char **name)
{
	char path[ZK_PATH_MAX], why[ZK_WHY_LEN] = "", *data = NULL;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", extended ? ACL_EXT_CHANGES : ACL_CHANGES, child);
	rc = zkc_get(zk, path, &data, &len, NULL, NULL, NULL);
	if (rc < 0)
		return rc;
	rc = acl_change_decode(data, len, extended, rtype, pattern, name, why);
	if (rc == -EBADMSG)
		mq_log_limited(MQ_WARN, "ACL change notice %s does not decode (%s): ignored", path,
			       why);
	free(data);
	return rc;
}

int acl_zk_purge_notices(struct zkc *zk, bool extended, char *const *names, int n, int64_t now_ms,
			 int64_t max_age_ms)
{
	return zkmeta_purge_notices(zk, extended ? ACL_EXT_CHANGES : ACL_CHANGES, ACL_CHANGE_PREFIX,
				    names, n, now_ms, max_age_ms);
}

/* The sequence number of a notice's name, -1 for another name. */
static int64_t notice_seq(const char *child)
{
	size_t plen = strlen(ACL_CHANGE_PREFIX);

	if (strncmp(child, ACL_CHANGE_PREFIX, plen) || !child[plen])
		return -1;
	return strtoll(child + plen, NULL, 10);
}

/* The notices of one change path newer than f->seen[extended]: each
 * resource named read again into the store. */
static int follow_one(struct acl_follow *f, struct zkc *zk, struct acl_store *s, bool extended,
		      zkc_watch_fn *watch, void *arg, int64_t now_ms, int64_t max_age_ms)
{
	char **names = NULL;
	int64_t newest = f->seen[extended];
	int n, rc = 0;

	n = zkc_children(zk, extended ? ACL_EXT_CHANGES : ACL_CHANGES, &names, watch, arg);
	if (n < 0)
		return n;
	for (int i = 0; i < n && rc == 0; i++) {
		int64_t seq = notice_seq(names[i]);
		struct acl_entry *v;
		int rtype, pattern, nv;
		int32_t ver;
		char *name;

		if (seq <= f->seen[extended])
			continue;
		if (seq > newest)
			newest = seq;
		if (!f->loaded)
			continue; /* the whole read below covers it */
		rc = acl_zk_read_notice(zk, extended, names[i], &rtype, &pattern, &name);
		if (rc == -ENOENT || rc == -EBADMSG) {
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = acl_zk_read_resource(zk, rtype, pattern, name, &v, &nv, &ver);
		if (rc == 0)
			acl_store_set_resource(s, rtype, pattern, name, v, nv);
		free(name);
	}
	if (rc == 0) {
		f->seen[extended] = newest;
		int purged = acl_zk_purge_notices(zk, extended, names, n, now_ms, max_age_ms);

		if (purged < 0)
			mq_log_limited(MQ_WARN, "%s: deleting old notices failed: %s",
				       extended ? ACL_EXT_CHANGES : ACL_CHANGES, strerror(-purged));
	}
	zkc_names_free(names, n);
	return rc;
}

int acl_zk_follow(struct acl_follow *f, struct zkc *zk, struct acl_store *s, zkc_watch_fn *watch,
		  void *arg, int64_t now_ms, int64_t max_age_ms)
{
	int rc = follow_one(f, zk, s, false, watch, arg, now_ms, max_age_ms);

	if (rc == 0)
		rc = follow_one(f, zk, s, true, watch, arg, now_ms, max_age_ms);
	if (rc == 0 && !f->loaded) {
		struct acl_entry *all;
		int n;

		/* After the notices were listed (and their watches armed): a
		 * change from here on is a notice this broker will read. */
		rc = acl_zk_read_all(zk, &all, &n);
		if (rc == 0) {
			acl_store_replace(s, all, n);
			f->loaded = true;
			mq_log(MQ_INFO, "ACLs: %d binding(s) read from ZooKeeper", n);
		}
	}
	return rc;
}
