/*
 * topic_config.c — a topic's .config: reading it, and writing it all or
 * nothing (parse, refuse with a log line naming the reason, grow the
 * partitions, reconfigure the logs, write the metadata file, log each
 * setting that changed). The parsing and rendering of the settings are
 * config.c's.
 *
 * A replicated topic's settings are the cluster's: a write is checked
 * here (without changing anything), more partitions go to its
 * assignment (cluster_topic_add_partitions), its overrides to ZooKeeper
 * (cluster_topic_config_set: /config/topics/<t> and a /config/changes
 * notification), and then it is applied here. Every broker, this one
 * included, applies the overrides it reads from ZooKeeper over its own
 * defaults (topics_cluster_config, on the cluster thread: a key there is
 * an override, one not there a "-key" line); a write that
 * changes nothing rewrites nothing, so the notification of a change
 * already applied here is a no-op.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/broker_int.h"

int topic_config_text(struct topic *t, char **out, size_t *len)
{
	int rc;

	pthread_rwlock_rdlock(&t->lock);
	rc = atomic_load(&t->deleted) ? -ENOENT : topic_config_render(&t->cfg, out, len);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* The line "key=..." of a rendered config, or NULL. */
static const char *config_line(const char *text, size_t len, const char *key, size_t keylen,
			       size_t *linelen)
{
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (l > keylen && p[keylen] == '=' && memcmp(p, key, keylen) == 0) {
			*linelen = l;
			return p;
		}
		p += l + 1;
	}
	return NULL;
}

/* Logs every setting whose rendered line changed. */
static void config_log_changes(struct topic *t, const struct topic_config *old,
			       const struct topic_config *nc)
{
	char *a = NULL, *z = NULL;
	size_t alen = 0, zlen = 0;

	if (topic_config_render(old, &a, &alen) < 0 || topic_config_render(nc, &z, &zlen) < 0)
		goto out;
	for (const char *p = z, *end = z + zlen; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), ol = 0;
		const char *eq = memchr(p, '=', l), *o;

		if (eq) {
			size_t k = (size_t)(eq - p);

			o = config_line(a, alen, p, k, &ol);
			if (!o || ol != l || memcmp(o, p, l) != 0)
				mq_log(MQ_INFO, "topic %s: %.*s (was %.*s)", t->name, (int)l, p,
				       o ? (int)(ol - k - 1) : 0, o ? o + k + 1 : "");
		}
		p += l + 1;
	}
out:
	free(a);
	free(z);
}

int topic_config_get(struct topic *t, struct topic_config *out)
{
	int rc = 0;

	pthread_rwlock_rdlock(&t->lock);
	if (atomic_load(&t->deleted))
		rc = -ENOENT;
	else
		*out = t->cfg;
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* Whether any partition ever had a record; needs t->lock. */
static bool topic_has_records_locked(struct topic *t)
{
	for (int i = 0; i < t->nparts; i++)
		if (t->parts[i]->log && log_ever_written(t->parts[i]->log))
			return true;
	return false;
}

bool topic_has_records(struct topic *t)
{
	bool r;

	pthread_rwlock_rdlock(&t->lock);
	r = !atomic_load(&t->deleted) && topic_has_records_locked(t);
	pthread_rwlock_unlock(&t->lock);
	return r;
}

/* True when a and b render the same (no setting differs) with the same
 * overrides. */
static bool config_same(const struct topic_config *a, const struct topic_config *b)
{
	char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	bool same = a->overrides == b->overrides && topic_config_render(a, &x, &xl) == 0 &&
		    topic_config_render(b, &y, &yl) == 0 && xl == yl && !memcmp(x, y, xl);

	free(x);
	free(y);
	return same;
}

/* How config_write_local runs. */
enum {
	CFG_DRY_RUN = 1,       /* the checks only (the new settings in *nc_out) */
	CFG_CLUSTER_PARTS = 2, /* the cluster's partition count: may change */
};

/* The lines a check (CFG_DRY_RUN) applies before text: those checked
 * before it (topic_config_compact's), and the number of lines before text
 * for messages. */
struct cfg_before {
	const char *pre;
	size_t plen;
	int line0;
};

/* Applies text to this broker's copy of the topic, all or nothing. New
 * partitions of a replicated topic get a log here when local[p] (the
 * assignment read from ZooKeeper says this broker holds a replica), or,
 * with local NULL, when the replica manager's metadata names this broker
 * among their replicas. before (NULL: none): see struct cfg_before. */
static int config_write_before(struct topic *t, const struct cfg_before *before, const char *text,
			       size_t len, int how, const bool *local_in,
			       struct topic_config *nc_out)
{
	bool dry_run = how & CFG_DRY_RUN;
	struct broker *b = t->b;
	struct topic_config nc, def;
	struct partition **parts = NULL;
	char err[256];
	int rc, old_n, new_n, p = 0;
	bool log_changed;

	if (dry_run)
		pthread_rwlock_rdlock(&t->lock);
	else
		pthread_rwlock_wrlock(&t->lock);
	if (atomic_load(&t->deleted)) {
		rc = -ENOENT;
		goto out;
	}
	nc = t->cfg;
	err[0] = '\0';
	catalog_default_config(b, &def);
	if (before)
		rc = topic_config_apply_more(&nc, &def, before->pre, before->plen, text, len,
					     before->line0, err, sizeof(err));
	else
		rc = topic_config_apply_def(&nc, &def, text, len, err, sizeof(err));
	if (rc < 0) {
		mq_log_limited(MQ_WARN, "topic %s: .config refused: %s", t->name, err);
		goto out;
	}
	/* The partitions of a replicated topic are its assignment in
	 * ZooKeeper: they change here only as the cluster says. */
	if (nc.partitions != t->nparts && broker_replicated(b, t->name) &&
	    !(how & CFG_CLUSTER_PARTS)) {
		mq_log_limited(MQ_WARN,
			       "topic %s: .config refused: partitions of a replicated topic "
			       "change through ZooKeeper (now %d)",
			       t->name, t->nparts);
		rc = -EINVAL;
		goto out;
	}
	if (nc.log.key_sep_len != t->cfg.log.key_sep_len ||
	    memcmp(nc.log.key_sep, t->cfg.log.key_sep, (size_t)nc.log.key_sep_len) != 0 ||
	    nc.log.line_format != t->cfg.log.line_format) {
		if (topic_has_records_locked(t)) {
			mq_log_limited(MQ_WARN,
				       "topic %s: .config refused: %s is fixed "
				       "once the topic has records",
				       t->name,
				       nc.log.line_format != t->cfg.log.line_format
					       ? "line.format"
					       : "key.separator");
			rc = -EBUSY;
			goto out;
		}
	}
	if (nc_out)
		*nc_out = nc;
	if (dry_run || config_same(&nc, &t->cfg))
		goto out;
	old_n = t->nparts;
	new_n = nc.partitions > old_n ? nc.partitions : old_n;
	parts = calloc((size_t)new_n, sizeof(*parts));
	if (!parts) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(parts, t->parts, (size_t)old_n * sizeof(*parts));
	/* 1. new partitions' logs (over any orphan of an interrupted grow) */
	if (new_n > old_n) {
		/* A replicated topic's new partitions: logs for this broker's
		 * replicas, as far as its metadata knows them already. */
		bool *local = NULL;

		if (broker_replicated(b, t->name) && b->cluster) {
			local = calloc((size_t)new_n + 1, sizeof(*local));
			if (!local) {
				rc = -ENOMEM;
				goto out;
			}
			if (local_in)
				memcpy(local, local_in, (size_t)new_n * sizeof(*local));
			else
				cluster_local_replicas(b->cluster, t->name, new_n, local);
		}
		rc = orphans_drop(b, t->name, old_n);
		if (rc == 0)
			rc = partitions_open(b, t->name, &nc.log, parts, old_n, new_n, true, local);
		free(local);
		if (rc < 0)
			goto out;
	}
	/* 2. the existing logs take the new settings */
	log_changed = memcmp(&nc.log, &t->cfg.log, sizeof(nc.log)) != 0;
	for (p = 0; log_changed && p < old_n; p++) {
		rc = parts[p]->log ? log_reconfigure(parts[p]->log, &nc.log) : 0;
		if (rc < 0) {
			mq_log_limited(MQ_WARN, "topic %s: .config refused: partition %d: %s",
				       t->name, p, strerror(-rc));
			goto undo;
		}
	}
	/* 3. durable */
	rc = catalog_write(b, t, &nc, t->uid, t->gid, t->mode);
	if (rc < 0)
		goto undo;
	config_log_changes(t, &t->cfg, &nc);
	t->cfg = nc;
	topic_throttle_note(b, t->name, &nc);
	free(t->parts);
	t->parts = parts;
	t->nparts = new_n;
	parts = NULL;
	goto out;
undo:
	while (--p >= 0)
		if (parts[p]->log)
			log_reconfigure(parts[p]->log, &t->cfg.log);
	for (p = old_n; p < new_n; p++) {
		logmgr_drop_log(b->m, t->name, p);
		broker_part_free(parts[p]);
	}
out:
	pthread_rwlock_unlock(&t->lock);
	free(parts);
	return rc;
}

static int config_write_local(struct topic *t, const char *text, size_t len, int how,
			      const bool *local_in, struct topic_config *nc_out)
{
	return config_write_before(t, NULL, text, len, how, local_in, nc_out);
}

int topic_config_write(struct topic *t, const char *text, size_t len)
{
	struct broker *b = t->b;
	struct topic_config nc, def;
	struct zk_config over;
	int rc;

	if (!broker_replicated(b, t->name)) {
		/* More partitions: first whether their files leave the
		 * reserve of descriptors free. */
		int more = 0;

		rc = config_write_local(t, text, len, CFG_DRY_RUN, NULL, &nc);
		if (rc == 0 && nc.partitions > topic_partitions(t)) {
			more = nc.partitions - topic_partitions(t);
			rc = broker_fd_room(b, t->name, more, "more partitions");
			if (rc < 0)
				return rc;
		}
		if (rc == 0)
			rc = config_write_local(t, text, len, 0, NULL, NULL);
		broker_fd_room_done(b, more);
		return rc;
	}
	/* In a cluster the settings are the overrides in ZooKeeper: written
	 * there first (every broker applies them from the notification),
	 * then here at once, so that this mount reads them back. More
	 * partitions are a new assignment, also there first. */
	rc = config_write_local(t, text, len, CFG_DRY_RUN | CFG_CLUSTER_PARTS, NULL, &nc);
	if (rc < 0)
		return rc;
	if (nc.partitions > topic_partitions(t)) {
		int more = nc.partitions - topic_partitions(t);

		rc = broker_fd_room(b, t->name, more, "more partitions");
		if (rc < 0)
			return rc;
		/* This broker's new logs open with the assignment, while it
		 * waits for the leaders. */
		rc = cluster_topic_add_partitions(b->cluster, t->name, nc.partitions,
						  b->cfg.request_timeout_ms);
		broker_fd_room_done(b, more);
		if (rc < 0)
			return rc;
	}
	catalog_default_config(b, &def);
	rc = topic_overrides_diff(&nc, &def, NULL, &over);
	if (rc < 0)
		return rc;
	rc = cluster_topic_config_set(b->cluster, t->name, &over);
	zk_config_clear(&over);
	if (rc < 0) {
		mq_log_limited(MQ_ERR, "topic %s: .config not written to ZooKeeper: %s", t->name,
			       strerror(-rc));
		return rc;
	}
	return config_write_local(t, text, len, CFG_CLUSTER_PARTS, NULL, NULL);
}

int topic_config_check_more(struct topic *t, const char *pre, size_t plen, const char *text,
			    size_t len, int line0)
{
	bool replicated = broker_replicated(t->b, t->name);
	int how = CFG_DRY_RUN | (replicated ? CFG_CLUSTER_PARTS : 0);
	struct cfg_before before = { pre, plen, line0 };
	struct topic_config nc;
	int rc = config_write_before(t, &before, text, len, how, NULL, &nc);

	/* More partitions of a replicated topic that the cluster would
	 * refuse now: said at this write, which the shell reports, not at
	 * the close, which it does not. Outside the topic's lock. */
	if (rc == 0 && replicated && t->b->cluster && nc.partitions > topic_partitions(t))
		rc = cluster_topic_grow_check(t->b->cluster, t->name);
	return rc;
}

int topic_grow_local(struct topic *t, int n_partitions, const bool *local)
{
	char text[40];

	if (topic_partitions(t) >= n_partitions)
		return 0;
	snprintf(text, sizeof(text), "partitions=%d\n", n_partitions);
	return config_write_local(t, text, strlen(text), CFG_CLUSTER_PARTS, local, NULL);
}

/* Removes the key.separator= and line.format= lines of text (len bytes,
 * "key=value\n" lines), in place; the length left. */
static size_t strip_line_settings(char *text, size_t len)
{
	size_t in = 0, out = 0;

	while (in < len) {
		const char *nl = memchr(text + in, '\n', len - in);
		size_t n = nl ? (size_t)(nl - (text + in)) + 1 : len - in;

		if (!(n >= 14 && !memcmp(text + in, "key.separator=", 14)) &&
		    !(n >= 12 && !memcmp(text + in, "line.format=", 12))) {
			memmove(text + out, text + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

/* The owner and mode in the topic's config znode, where it names them
 * (a chmod or chown on any broker's mount), when they differ from this
 * broker's. */
static void apply_cluster_owner(struct topic *t, const struct zk_config *zc)
{
	uid_t uid, cuid;
	gid_t gid, cgid;
	mode_t mode, cmode;
	int rc;

	if (!zk_config_get(zc, "mqfs.mode") && !zk_config_get(zc, "mqfs.owner.uid") &&
	    !zk_config_get(zc, "mqfs.owner.gid"))
		return;
	cluster_topic_owner_of(zc, &cuid, &cgid, &cmode);
	topic_owner(t, &uid, &gid, &mode);
	if (uid == cuid && gid == cgid && (mode & 07777) == cmode)
		return;
	rc = topic_apply_owner(t, cuid, cgid, cmode);
	if (rc < 0)
		mq_log_limited(MQ_WARN,
			       "topic %s: the cluster's owner and mode not applied here: %s",
			       t->name, strerror(-rc));
	else
		mq_log(MQ_INFO, "topic %s: owner %u:%u mode %04o (was %u:%u %04o)", t->name,
		       (unsigned)cuid, (unsigned)cgid, (unsigned)cmode, (unsigned)uid,
		       (unsigned)gid, (unsigned)(mode & 07777));
}

int topics_cluster_config(void *arg, const char *topic, const struct zk_config *zc)
{
	struct broker *b = arg;
	struct topic_config def;
	struct topic *t;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (broker_topic_get(b, topic, &t) < 0)
		return -ENOENT;
	apply_cluster_owner(t, zc);
	catalog_default_config(b, &def);
	rc = topic_overrides_text(zc, &def, &text, &len);
	if (rc == 0)
		rc = config_write_local(t, text, len, 0, NULL, NULL);
	/* key.separator and line.format are fixed here once this replica has
	 * records (EBUSY): the other settings apply all the same, or one
	 * refused line would keep every later change of the topic from this
	 * broker, silently. */
	if (rc == -EBUSY) {
		size_t kept = strip_line_settings(text, len);
		int r = config_write_local(t, text, kept, 0, NULL, NULL);

		mq_log_limited(MQ_WARN,
			       "topic %s: the cluster's key.separator or line.format not applied "
			       "here (this replica has records: they are fixed)%s",
			       topic, r == 0 ? "; its other settings applied" : "");
		rc = r;
	}
	if (rc < 0)
		mq_log_limited(MQ_WARN, "topic %s: the cluster's settings not applied here: %s",
			       topic, strerror(-rc));
	free(text);
	topic_put(t);
	return rc;
}
