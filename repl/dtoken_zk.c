/*
 * dtoken_zk.c — the delegation tokens' znodes (dtoken.h has the layout),
 * read and written as Kafka's KafkaZkClient and DelegationTokenManagerZk
 * do, and a broker's cache kept up to their change notices with the same
 * follow-the-notices shape as the ACLs' (acl_zk_follow): list the notice
 * directory with a watch, read again what each newer notice names, purge
 * the old notices (zkmeta_purge_notices); the first time (and after a
 * new session) read every token.
 *
 * Threads: any thread that may call ZooKeeper; the follow state belongs
 * to its caller's thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/dtoken.h"
#include "repl/dtoken_zk.h"
#include "repl/zkc.h"
#include "repl/zkdata.h"
#include "repl/zkmeta.h"
#include "util/diaglog.h"

int dtoken_zk_ensure_paths(struct zkc *zk)
{
	static const char *const paths[] = { DTOKEN_TOKENS_PATH, DTOKEN_CHANGES_PATH };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int rc = zkc_create(zk, paths[i], NULL, 0, ZKC_PERSISTENT | ZKC_PARENTS, NULL, 0);

		if (rc < 0 && rc != -EEXIST)
			return rc;
	}
	return 0;
}

/* A token id that is one znode name: no '/', not "." or "..". */
static bool id_ok(const char *id)
{
	return id[0] && strlen(id) <= DTOKEN_ID_MAX && !strchr(id, '/') && strcmp(id, ".") &&
	       strcmp(id, "..");
}

int dtoken_zk_read(struct zkc *zk, const char *id, struct dtoken *t)
{
	char path[ZK_PATH_MAX], why[ZK_WHY_LEN] = "", *data = NULL;
	size_t len;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!id_ok(id))
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/%s", DTOKEN_TOKENS_PATH, id);
	rc = zkc_get(zk, path, &data, &len, NULL, NULL, NULL);
	if (rc < 0)
		return rc;
	rc = dtoken_json_decode(data, len, id, t, why);
	free(data);
	if (rc == -EBADMSG)
		mq_log_limited(MQ_WARN, "delegation token %s does not decode (%s): ignored", path,
			       why);
	return rc;
}

/* The notice every broker reads: token_change_<seq> holding the id. */
static int notify(struct zkc *zk, const char *id)
{
	char path[ZK_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", DTOKEN_CHANGES_PATH, DTOKEN_CHANGE_PREFIX);
	return zkc_create(zk, path, id, strlen(id), ZKC_PERSISTENT | ZKC_SEQUENTIAL, NULL, 0);
}

int dtoken_zk_write(struct zkc *zk, const struct dtoken *t)
{
	char path[ZK_PATH_MAX], *doc;
	int rc;

	if (!id_ok(t->id))
		return -EINVAL;
	doc = dtoken_json_encode(t);
	if (!doc)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", DTOKEN_TOKENS_PATH, t->id);
	/* Kafka's setOrCreateDelegationToken: set, else create. */
	rc = zkc_set(zk, path, doc, strlen(doc), ZKC_ANY_VERSION, NULL);
	if (rc == -ENOENT)
		rc = zkc_create(zk, path, doc, strlen(doc), ZKC_PERSISTENT | ZKC_PARENTS, NULL, 0);
	free(doc);
	return rc < 0 ? rc : notify(zk, t->id);
}

int dtoken_zk_delete(struct zkc *zk, const char *id)
{
	char path[ZK_PATH_MAX];
	int rc;

	if (!id_ok(id))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%s", DTOKEN_TOKENS_PATH, id);
	rc = zkc_delete(zk, path, ZKC_ANY_VERSION);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	return notify(zk, id);
}

/* Every token into the store; those no longer in ZooKeeper dropped. */
static int read_all(struct zkc *zk, struct dtoken_store *s)
{
	char **ids = NULL;
	int n = zkc_children(zk, DTOKEN_TOKENS_PATH, &ids, NULL, NULL), rc = 0, loaded = 0;

	if (n == -ENOENT)
		n = 0;
	if (n < 0)
		return n;
	for (int i = 0; i < n && rc == 0; i++) {
		struct dtoken t;

		rc = dtoken_zk_read(zk, ids[i], &t);
		if (rc == -ENOENT || rc == -EBADMSG) {
			rc = 0;
			continue;
		}
		if (rc == 0)
			rc = dtoken_store_put(s, &t);
		if (rc == 0)
			loaded++;
		dtoken_clear(&t);
	}
	if (rc == 0) {
		dtoken_store_keep(s, ids, n);
		mq_log(MQ_INFO, "delegation tokens: %d read from ZooKeeper", loaded);
	}
	zkc_names_free(ids, n);
	return rc;
}

/* The sequence number of a notice's name, -1 for another name. */
static int64_t notice_seq(const char *child)
{
	size_t plen = strlen(DTOKEN_CHANGE_PREFIX);

	if (strncmp(child, DTOKEN_CHANGE_PREFIX, plen) || !child[plen])
		return -1;
	return strtoll(child + plen, NULL, 10);
}

/* The token a notice names, read again: in the store, or dropped from it
 * when its znode is gone (Kafka's TokenChangedNotificationHandler). */
static int apply_notice(struct zkc *zk, struct dtoken_store *s, const char *child)
{
	char path[ZK_PATH_MAX], id[DTOKEN_ID_MAX + 1], *data = NULL;
	struct dtoken t;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", DTOKEN_CHANGES_PATH, child);
	rc = zkc_get(zk, path, &data, &len, NULL, NULL, NULL);
	if (rc == -ENOENT)
		return 0; /* purged meanwhile: a whole read covers it when it matters */
	if (rc < 0)
		return rc;
	if (len == 0 || len > DTOKEN_ID_MAX || memchr(data, '\0', len)) {
		mq_log_limited(MQ_WARN, "delegation token notice %s names no token id: ignored",
			       path);
		free(data);
		return 0;
	}
	memcpy(id, data, len);
	id[len] = '\0';
	free(data);
	rc = dtoken_zk_read(zk, id, &t);
	if (rc == 0) {
		rc = dtoken_store_put(s, &t);
		dtoken_clear(&t);
	} else if (rc == -ENOENT || rc == -EBADMSG) {
		if (dtoken_store_remove(s, id))
			mq_log(MQ_INFO, "delegation token %s removed", id);
		rc = 0;
	}
	return rc;
}

int dtoken_zk_follow(struct dtoken_follow *f, struct zkc *zk, struct dtoken_store *s,
		     zkc_watch_fn *watch, void *arg, int64_t now_ms, int64_t max_age_ms)
{
	char **names = NULL;
	int64_t newest = f->seen;
	int n, rc = 0;

	n = zkc_children(zk, DTOKEN_CHANGES_PATH, &names, watch, arg);
	if (n < 0)
		return n;
	for (int i = 0; i < n && rc == 0; i++) {
		int64_t seq = notice_seq(names[i]);

		if (seq <= f->seen)
			continue;
		if (seq > newest)
			newest = seq;
		if (f->loaded)
			rc = apply_notice(zk, s, names[i]);
	}
	/* After the notices were listed (and their watch armed): a change
	 * from here on is a notice this broker will read. */
	if (rc == 0 && !f->loaded) {
		rc = read_all(zk, s);
		f->loaded = rc == 0;
	}
	if (rc == 0) {
		f->seen = newest;
		int purged = zkmeta_purge_notices(zk, DTOKEN_CHANGES_PATH, DTOKEN_CHANGE_PREFIX,
						  names, n, now_ms, max_age_ms);

		if (purged < 0)
			mq_log_limited(MQ_WARN, "%s: deleting old notices failed: %s",
				       DTOKEN_CHANGES_PATH, strerror(-purged));
	}
	zkc_names_free(names, n);
	return rc;
}
