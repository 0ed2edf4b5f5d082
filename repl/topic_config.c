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
 *
 * key.separator and line.format (a record's line position depends on
 * them) are fixed once the topic has records; in a cluster the topic's
 * znode decides it for every broker, in one order of conditional writes:
 *   1. before a broker's first records of the topic (a leader's append,
 *      a fetch into a replica or an observer's copy) topic_lines_fix
 *      marks the znode fixed (ZK_LINES_FIXED) with the values it names
 *      and takes those here, before the records, also when their change
 *      notification has not come yet;
 *   2. a .config write that changes them is refused (EBUSY, logged) once
 *      the znode is fixed with others, on whichever broker it is written
 *      (one without a replica has no records to look at);
 *   3. a change notification never changes them once they are fixed here
 *      (a notification read before the fix is stale), under lines_mu.
 * So no two brokers take records under different ones, and none shows a
 * topic's lines differently from another.
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

/* Whether a and b have the same key.separator and line.format. */
static bool lines_same(const struct log_config *a, const struct log_config *b)
{
	return a->key_sep_len == b->key_sep_len &&
	       !memcmp(a->key_sep, b->key_sep, (size_t)a->key_sep_len) &&
	       a->line_format == b->line_format;
}

/* tc's key.separator and line.format, rendered, into *out (cleared
 * first): the form a topic's znode keeps them in. */
static int lines_of(const struct topic_config *tc, struct zk_config *out)
{
	static const char *const keys[] = { "key.separator", "line.format" };
	char *text = NULL;
	size_t len = 0;
	struct kstr v;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = topic_config_render(tc, &text, &len);
	for (int i = 0; rc == 0 && i < 2; i++) {
		rc = topic_kv_find(text, len, keys[i], &v);
		if (rc == 0)
			rc = zk_config_put(out, keys[i], strlen(keys[i]), v.ptr, (size_t)v.len);
	}
	free(text);
	if (rc < 0)
		zk_config_clear(out);
	return rc;
}

/* How config_write_local runs. */
enum {
	CFG_DRY_RUN = 1,       /* the checks only (the new settings in *nc_out) */
	CFG_CLUSTER_PARTS = 2, /* the cluster's partition count: may change */
	CFG_INHERIT = 4,       /* text ignored: every setting the topic does not
				* override takes the defaults again (under the
				* topic's lock, so an override set meanwhile
				* stays one); a load (CFG_LOAD) */
	CFG_LOAD = 8,          /* settings set elsewhere (the cluster's overrides,
				* its partition count, new broker defaults): taken
				* without the checks across settings, as Kafka's
				* LogConfig.fromProps (topic_conflict_note) */
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
	char err[256], *inherit = NULL;
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
	if (how & CFG_INHERIT) {
		rc = topic_config_inherited_text(&t->cfg, &inherit, &len);
		if (rc < 0)
			goto out;
		text = inherit;
	}
	if (before)
		rc = topic_config_apply_more(&nc, &def, before->pre, before->plen, text, len,
					     before->line0, err, sizeof(err));
	else if (how & (CFG_LOAD | CFG_INHERIT))
		rc = topic_config_load(&nc, &def, text, len, err, sizeof(err));
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
	if (!lines_same(&nc.log, &t->cfg.log)) {
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
	topic_conflict_note(t->name, &t->cfg, &nc);
	t->cfg = nc;
	broker_sched_kick(b); /* flush.ms, its new partitions */
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
	free(inherit);
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
	struct topic_config nc, def, cur;
	struct zk_config over, lines = { 0 };
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
	rc = topic_config_get(t, &cur);
	if (rc == 0)
		rc = topic_overrides_diff(&nc, &def, NULL, &over);
	if (rc < 0)
		return rc;
	rc = lines_of(&nc, &lines);
	if (rc == 0)
		rc = cluster_topic_config_set(
			b->cluster, t->name, &over, &lines,
			topic_config_text_names(text, len, "key.separator") ||
				topic_config_text_names(text, len, "line.format") ||
				!lines_same(&nc.log, &cur.log));
	zk_config_clear(&over);
	zk_config_clear(&lines);
	if (rc == -EBUSY) {
		/* The znode decides (cluster_repl_set_topic_config): a
		 * replica of the topic, on this broker or another, fixed
		 * them before its first records. */
		mq_log_limited(MQ_WARN,
			       "topic %s: .config refused: key.separator and line.format are fixed "
			       "once the topic has records (a replica of it took records: "
			       "%s/%s says so)",
			       t->name, ZK_CONFIG_TOPICS_PATH, t->name);
		return rc;
	}
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

void topic_conflict_note(const char *topic, const struct topic_config *old,
			 const struct topic_config *nc)
{
	char err[160], was[160];

	if (topic_config_check(nc, err, sizeof(err)) == 0)
		return;
	/* Said once per pair taken, not at each load of an unchanged one. */
	if (old && topic_config_check(old, was, sizeof(was)) < 0 && !strcmp(err, was))
		return;
	mq_log(MQ_WARN,
	       "topic %s: %s: taken as it is, as Kafka takes settings it loads; its cleaner "
	       "compacts a record only once min.compaction.lag.ms has passed, and a .config "
	       "write that leaves the two so is refused",
	       topic, err);
}

int topic_config_inherit(struct topic *t)
{
	return config_write_local(t, NULL, 0, CFG_INHERIT, NULL, NULL);
}

int topic_grow_local(struct topic *t, int n_partitions, const bool *local)
{
	char text[40];

	if (topic_partitions(t) >= n_partitions)
		return 0;
	snprintf(text, sizeof(text), "partitions=%d\n", n_partitions);
	return config_write_local(t, text, strlen(text), CFG_CLUSTER_PARTS | CFG_LOAD, local, NULL);
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
	/* Under lines_mu: a fix (topic_lines_fix) is not undone by a
	 * notification read before it; once fixed here they are the
	 * znode's for good, and a notification's are not looked at. */
	pthread_mutex_lock(&t->lines_mu);
	if (rc == 0 && atomic_load(&t->lines_fixed))
		len = strip_line_settings(text, len);
	if (rc == 0)
		rc = config_write_local(t, text, len, CFG_LOAD, NULL, NULL);
	/* A znode fixed already (by any broker) whose values this broker
	 * took: its first records need no ZooKeeper (topic_lines_fix), also
	 * after a restart, once the cluster thread has read the topic. */
	if (rc == 0 && zk_config_get(zc, ZK_LINES_FIXED) && zk_config_get(zc, "key.separator") &&
	    zk_config_get(zc, "line.format"))
		atomic_store(&t->lines_fixed, true);
	/* key.separator and line.format are fixed here once this replica has
	 * records (EBUSY): the other settings apply all the same, or one
	 * refused line would keep every later change of the topic from this
	 * broker, silently. */
	if (rc == -EBUSY) {
		size_t kept = strip_line_settings(text, len);
		int r = config_write_local(t, text, kept, CFG_LOAD, NULL, NULL);

		mq_log_limited(MQ_WARN,
			       "topic %s: the cluster's key.separator or line.format not applied "
			       "here (this replica has records: they are fixed)%s",
			       topic, r == 0 ? "; its other settings applied" : "");
		rc = r;
	}
	pthread_mutex_unlock(&t->lines_mu);
	if (rc < 0)
		mq_log_limited(MQ_WARN, "topic %s: the cluster's settings not applied here: %s",
			       topic, strerror(-rc));
	free(text);
	topic_put(t);
	return rc;
}

/* topic_lines_fix's part under t->lines_mu, once: the fix in ZooKeeper,
 * then the fixed settings here. */
static int lines_fix_locked(struct topic *t, char *wait, size_t cap)
{
	struct broker *b = t->b;
	struct zk_config ours = { 0 }, fixed = { 0 };
	struct topic_config cur;
	const char *sep, *fmt;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc = topic_config_get(t, &cur);

	if (rc == 0)
		rc = lines_of(&cur, &ours);
	/* Records here under ours already (written before the cluster
	 * fixed them): ours win, unless the znode is fixed already. */
	if (rc == 0)
		rc = cluster_topic_lines_fix(b->cluster, t->name, &ours, topic_has_records(t),
					     &fixed);
	zk_config_clear(&ours);
	if (rc < 0 && wait && rc != -ENOMEM)
		snprintf(wait, cap,
			 "its key.separator and line.format to be fixed in ZooKeeper (%s)",
			 strerror(-rc));
	else if (rc < 0)
		mq_log_limited(MQ_WARN,
			       "topic %s: key.separator and line.format not fixed in ZooKeeper "
			       "(%s): its first records here wait",
			       t->name, strerror(-rc));
	if (rc < 0)
		return rc == -ENOMEM ? rc : -EAGAIN;
	sep = zk_config_get(&fixed, "key.separator");
	fmt = zk_config_get(&fixed, "line.format");
	f = open_memstream(&text, &len);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	if (sep)
		fprintf(f, "key.separator=%s\n", sep);
	if (fmt)
		fprintf(f, "line.format=%s\n", fmt);
	if (fclose(f) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	rc = config_write_local(t, text, len, CFG_LOAD, NULL, NULL);
	if (rc == -EBUSY) {
		/* Only records written here before the cluster fixed its
		 * settings, under others: they stay readable as they are. */
		mq_log_limited(MQ_ERR,
			       "topic %s: this broker's replicas hold records under another "
			       "key.separator or line.format than the cluster fixed "
			       "(key.separator=%s, line.format=%s): they keep theirs here",
			       t->name, sep ? sep : "", fmt ? fmt : "");
		rc = 0;
	}
	if (rc == 0)
		atomic_store(&t->lines_fixed, true);
out:
	free(text);
	zk_config_clear(&fixed);
	return rc;
}

/* Gives log (no records yet) the topic's line settings. */
static int log_lines_take(struct topic *t, struct log *log)
{
	struct log_config lc;
	int rc = 0;

	pthread_rwlock_rdlock(&t->lock);
	log_get_config(log, &lc);
	if (!lines_same(&lc, &t->cfg.log)) {
		memcpy(lc.key_sep, t->cfg.log.key_sep, sizeof(lc.key_sep));
		lc.key_sep_len = t->cfg.log.key_sep_len;
		lc.line_format = t->cfg.log.line_format;
		rc = log_reconfigure(log, &lc);
	}
	pthread_rwlock_unlock(&t->lock);
	if (rc == -EBUSY) /* records of its own: kept as they are */
		rc = 0;
	return rc;
}

int topic_lines_fix(struct topic *t, struct log *log, char *wait, size_t cap)
{
	int rc = 0;

	if (!t->b->cluster || !broker_replicated(t->b, t->name) || !strncmp(t->name, "__", 2))
		return 0;
	if (!atomic_load(&t->lines_fixed)) {
		pthread_mutex_lock(&t->lines_mu);
		if (!atomic_load(&t->lines_fixed))
			rc = lines_fix_locked(t, wait, cap);
		pthread_mutex_unlock(&t->lines_mu);
	}
	/* A log with records keeps its own (the engine refuses others). */
	if (rc == 0 && log && !log_ever_written(log))
		rc = log_lines_take(t, log);
	return rc;
}

int topics_cluster_lines_fix(void *arg, const char *topic, void *log, char *wait, size_t cap)
{
	struct broker *b = arg;
	struct topic *t;
	int rc;

	if (broker_topic_get(b, topic, &t) < 0) {
		if (strncmp(topic, "__", 2) == 0)
			return 0;
		snprintf(wait, cap, "topic %s to be made on this broker", topic);
		return -EAGAIN;
	}
	rc = topic_lines_fix(t, log, wait, cap);
	topic_put(t);
	return rc;
}
