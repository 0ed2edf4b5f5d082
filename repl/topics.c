/*
 * topics.c — the topic catalog in memory and the topic attributes: names,
 * topic objects and their references, create / delete / look up / list,
 * building a topic from its metadata file at open, owner and mode,
 * times, and the line limits of produce.
 *
 * The catalog is a sorted array of struct topic * under broker.cat_lock
 * (lookups: binary search). Its files are catalog.c's business; the
 * partitions' logs belong to the engine's log manager (partitions.c opens
 * them). Lock order and what each lock guards: broker_int.h.
 *
 * Order of durable steps, so that a crash between any two leaves a state
 * the next open handles:
 *
 *   create:  1. metadata file written (atomic)   crash: topic exists, its
 *            2. partition logs created             logs are created at open
 *   delete:  1. metadata file removed (durable)  crash: the logs are left
 *            2. partition logs dropped             over as orphans (logged
 *                                                  at open), dropped when a
 *                                                  topic of that name is
 *                                                  created again
 *   grow (topic_config.c): 1. new partition logs created  crash: empty
 *            2. metadata file rewritten            orphan logs, dropped by
 *                                                  the next grow
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "repl/broker_int.h"
#include "repl/throttle.h"
#include "repl/observer.h"
#include "util/bsearch.h"

/* ------------------------------------------------------------------ */
/* Names */

bool topic_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n < 1 || n > TOPIC_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

const char *topic_name_refusal(const char *name)
{
	if (!topic_name_valid(name))
		return "a topic name is 1-249 of [A-Za-z0-9._-], not . or ..";
	if (name[0] == '.')
		return "dot-names are kept for the mount's metadata";
	if (name[0] == '_' && name[1] == '_')
		return "\"__\" names are kept for internal topics";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Topic objects */

void rwlock_init_wpref(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
}

void topic_throttle_note(struct broker *b, const char *name, const struct topic_config *tc)
{
	int rc = repl_throttle_topic(b->throttle, name, tc ? tc->leader_throttled : NULL,
				     tc ? tc->follower_throttled : NULL);

	/* The replicas' min.insync.replicas rides along (a replica the
	 * controller opened before the topic was made here has the
	 * broker's until now). */
	if (tc)
		cluster_topic_min_isr(__atomic_load_n(&b->cluster, __ATOMIC_ACQUIRE), name,
				      tc->min_insync_replicas);

	if (rc < 0)
		mq_log_limited(MQ_ERR, "topic %s: replication throttle lists not applied: %s", name,
			       strerror(-rc));
}

static struct topic *topic_new(struct broker *b, const char *name, const struct topic_config *tc,
			       uid_t uid, gid_t gid, mode_t mode, int64_t ctime_ms)
{
	struct topic *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->b = b;
	snprintf(t->name, sizeof(t->name), "%s", name);
	catalog_file_name(name, t->meta_file, sizeof(t->meta_file));
	t->id = atomic_fetch_add(&b->next_topic_id, 1);
	/* Keyless records of .produce: round-robin from a random partition
	 * (the clock's nanoseconds, mixed with the id). */
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		atomic_init(&t->rr_next,
			    (uint32_t)((uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL >> 32) ^
				    (uint32_t)t->id);
	}
	t->ctime_ms = ctime_ms;
	rwlock_init_wpref(&t->lock);
	pthread_mutex_init(&t->lines_mu, NULL);
	t->cfg = *tc;
	topic_throttle_note(b, name, tc);
	t->uid = uid;
	t->gid = gid;
	t->mode = mode & 07777;
	return t;
}

static void topic_free(struct topic *t)
{
	for (int p = 0; p < t->nparts; p++)
		broker_part_free(t->parts[p]);
	free(t->parts);
	pthread_rwlock_destroy(&t->lock);
	pthread_mutex_destroy(&t->lines_mu);
	free(t);
}

void topic_get(struct topic *t)
{
	atomic_fetch_add(&t->refs, 1);
}

void topic_put(struct topic *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		topic_free(t);
}

/* ------------------------------------------------------------------ */
/* The catalog in memory */

static const char *cat_name_at(const void *arg, int i)
{
	return ((const struct broker *)arg)->topics[i]->name;
}

/* Index of name, or -(insertion point) - 1. Needs cat_lock or admin_mu. */
int cat_find(struct broker *b, const char *name)
{
	return bsearch_name(b->ntopics, name, cat_name_at, b);
}

/* Takes over the caller's reference. Needs admin_mu (or the broker not
 * yet shared). */
int cat_insert(struct broker *b, struct topic *t)
{
	int i = cat_find(b, t->name), rc = 0;

	if (i >= 0)
		return -EEXIST;
	i = -i - 1;
	pthread_rwlock_wrlock(&b->cat_lock);
	if (b->ntopics == b->cap_topics) {
		int cap = b->cap_topics ? b->cap_topics * 2 : 16;
		struct topic **nt = realloc(b->topics, (size_t)cap * sizeof(*nt));

		if (!nt) {
			rc = -ENOMEM;
			goto out;
		}
		b->topics = nt;
		b->cap_topics = cap;
	}
	memmove(b->topics + i + 1, b->topics + i, (size_t)(b->ntopics - i) * sizeof(*b->topics));
	b->topics[i] = t;
	b->ntopics++;
out:
	pthread_rwlock_unlock(&b->cat_lock);
	return rc;
}

static void cat_remove(struct broker *b, int i)
{
	pthread_rwlock_wrlock(&b->cat_lock);
	memmove(b->topics + i, b->topics + i + 1,
		(size_t)(b->ntopics - i - 1) * sizeof(*b->topics));
	b->ntopics--;
	pthread_rwlock_unlock(&b->cat_lock);
}

int broker_topics_snapshot(struct broker *b, struct topic ***out, int *n)
{
	struct topic **ts;
	int rc = 0;

	pthread_rwlock_rdlock(&b->cat_lock);
	ts = malloc((size_t)(b->ntopics ? b->ntopics : 1) * sizeof(*ts));
	if (!ts) {
		rc = -ENOMEM;
	} else {
		for (int i = 0; i < b->ntopics; i++) {
			ts[i] = b->topics[i];
			topic_get(ts[i]);
		}
		*n = b->ntopics;
		*out = ts;
	}
	pthread_rwlock_unlock(&b->cat_lock);
	return rc;
}

void broker_topics_release(struct topic **ts, int n)
{
	for (int i = 0; i < n; i++)
		topic_put(ts[i]);
	free(ts);
}

/* catalog_load's callback: the topic of one metadata file, its partitions
 * opened, into the catalog. Before the broker is shared. */
/* A replicated topic keeps logs for this broker's replicas only: at a
 * start, those whose directory is there (a replica whose log was not made
 * yet gets it when the cluster thread sees the topic: partitions_attach).
 * NULL: no memory. */
static bool *logs_present(struct broker *b, const char *name, int n)
{
	bool *local = calloc((size_t)n + 1, sizeof(*local));
	char path[PATH_MAX];
	struct stat st;

	for (int p = 0; local && p < n; p++)
		local[p] = snprintf(path, sizeof(path), "%s/%s-%d", logmgr_dir(b->m), name, p) <
				   (int)sizeof(path) &&
			   stat(path, &st) == 0;
	return local;
}

int topics_load_one(struct broker *b, const struct catalog_entry *e, const char *file, void *arg)
{
	struct topic *t;
	bool *local;
	int rc;

	(void)arg;
	t = topic_new(b, e->name, &e->cfg, e->uid, e->gid, e->mode, e->ctime_ms);
	if (!t)
		return -ENOMEM;
	t->parts = calloc((size_t)e->cfg.partitions, sizeof(*t->parts));
	if (!t->parts) {
		rc = -ENOMEM;
		goto fail;
	}
	local = broker_replicated(b, e->name) ? logs_present(b, e->name, e->cfg.partitions) : NULL;
	if (broker_replicated(b, e->name) && !local) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = partitions_open(b, t->name, &t->cfg.log, t->parts, 0, e->cfg.partitions, false, local);
	free(local);
	if (rc < 0)
		goto fail;
	t->nparts = e->cfg.partitions;
	rc = cat_insert(b, t);
	if (rc < 0) {
		mq_log(MQ_ERR, "catalog: %s: topic %s twice", file, t->name);
		rc = -EBADMSG;
		goto fail;
	}
	return 0;
fail:
	topic_put(t);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Create, delete, look up */

/* (admin_mu held) Whether the cluster's topic id was removed here lately
 * (broker.gone_ids): a read of the cluster's topics from before its
 * deletion must not make it here again. */
static bool id_gone_here(struct broker *b, const char *topic, const char *topic_id)
{
	for (int k = 0; k < GONE_IDS; k++) {
		if (!strcmp(b->gone_ids[k], topic_id)) {
			mq_log(MQ_INFO,
			       "topic %s: topic id %s was removed here: not made again (its "
			       "deletion has not reached this broker's reads yet)",
			       topic, topic_id);
			return true;
		}
	}
	return false;
}

/* The topic in this broker's catalog and data directory, with the
 * settings in cfg (NULL: the broker's defaults); nparts > 0 overrides the
 * partitions of either; local (NULL: all): the partitions that get a log.
 * collide: refuse (-EINVAL) a name that collides on '.' and '_' with a
 * topic of the catalog, checked under admin_mu (for a creation decided
 * here; a cluster's topic was checked where it was created). tid: the id
 * of the cluster's topic this makes ("" or NULL: none known), its
 * made_id; -ESTALE when that topic was removed here since the caller read
 * it. Checked here, under admin_mu with the creation: the cluster
 * thread's own check (topics_cluster_incarnation) comes before its call,
 * and an rmdir or a StopReplica may remove the topic in between; made
 * again, the name would be taken (EEXIST to a mkdir) until the cluster
 * thread reads the deletion. */
static int topic_create_local(struct broker *b, const char *name, uid_t uid, gid_t gid, mode_t mode,
			      const struct topic_config *cfg, int nparts, const bool *local,
			      bool collide, const char *tid, struct topic **out)
{
	char other[TOPIC_NAME_MAX + 1];
	struct topic_config tc;
	struct topic *t = NULL;
	int rc;

	pthread_mutex_lock(&b->admin_mu);
	if (cat_find(b, name) >= 0) {
		rc = -EEXIST;
		goto out;
	}
	if (tid && tid[0] && id_gone_here(b, name, tid)) {
		rc = -ESTALE;
		goto out;
	}
	/* Again here, where creations are one at a time: the caller's check
	 * ran before admin_mu, while the creation of a colliding name could
	 * be under way (it enters the catalog only once its files are made),
	 * and both topics would have been made. */
	if (collide && broker_topic_collides(b, name, other, sizeof(other))) {
		mq_log_limited(MQ_WARN,
			       "topic %s: refused: it collides with the topic %s ('.' and '_' are "
			       "the same in Kafka's metric names)",
			       name, other);
		rc = -EINVAL;
		goto out;
	}
	if (cfg)
		tc = *cfg;
	else
		catalog_default_config(b, &tc);
	if (nparts > 0)
		tc.partitions = nparts;
	t = topic_new(b, name, &tc, uid, gid, mode, engine_now_ms());
	if (!t) {
		rc = -ENOMEM;
		goto out;
	}
	/* Before the catalog has it: a deletion from then on remembers it. */
	if (tid)
		snprintf(t->made_id, sizeof(t->made_id), "%s", tid);
	t->parts = calloc((size_t)tc.partitions, sizeof(*t->parts));
	if (!t->parts) {
		rc = -ENOMEM;
		goto out;
	}
	rc = orphans_drop(b, name, 0);
	if (rc == 0)
		rc = catalog_write(b, t, &t->cfg, t->uid, t->gid, t->mode);
	if (rc < 0)
		goto out;
	rc = partitions_open(b, t->name, &t->cfg.log, t->parts, 0, tc.partitions, true, local);
	if (rc < 0) {
		catalog_remove(b, t->meta_file);
		goto out;
	}
	t->nparts = tc.partitions;
	rc = cat_insert(b, t);
	if (rc < 0) {
		for (int p = 0; p < t->nparts; p++)
			logmgr_drop_log(b->m, name, p);
		catalog_remove(b, t->meta_file);
		goto out;
	}
	mq_log(MQ_INFO, "topic %s: created, %d partitions, uid %u gid %u mode %04o", name,
	       t->nparts, (unsigned)uid, (unsigned)gid, (unsigned)mode);
	if (out) {
		topic_get(t);
		*out = t;
	}
	t = NULL; /* the catalog's reference now */
out:
	pthread_mutex_unlock(&b->admin_mu);
	topic_put(t);
	return rc;
}

/* Kafka's metric names turn '.' into '_', so it refuses a topic whose
 * name differs from an existing one's only there ("collides with existing
 * topics"). The name of such a topic goes to other. */
bool broker_topic_collides(struct broker *b, const char *name, char *other, size_t cap)
{
	bool found = false;

	pthread_rwlock_rdlock(&b->cat_lock);
	for (int i = 0; i < b->ntopics && !found; i++) {
		const char *x = b->topics[i]->name, *y = name;

		while (*x && *y &&
		       (*x == *y || ((*x == '.' || *x == '_') && (*y == '.' || *y == '_'))))
			x++, y++;
		if (*x == '\0' && *y == '\0' && strcmp(b->topics[i]->name, name) != 0) {
			snprintf(other, cap, "%s", b->topics[i]->name);
			found = true;
		}
	}
	pthread_rwlock_unlock(&b->cat_lock);
	return found;
}

void broker_fd_room_done(struct broker *b, int nparts)
{
	fd_room_done(&b->fd_room, 4 * (int64_t)nparts);
}

int broker_fd_room(struct broker *b, const char *name, int nparts, const char *what)
{
	int64_t open = 0, limit = 0, need = 4 * (int64_t)nparts, sets, idle, reclaim = 0;
	int rc;

	/* Segment files as open now (the cache closes and reopens sets
	 * between counts); an idle closed segment's four close when needed:
	 * free. Granted on them, they close now: not every open of a
	 * creation closes idle sets when out of descriptors (directories,
	 * checkpoints), and the reserve is the others'. */
	logmgr_fd_sets(b->m, &sets, &idle);
	rc = fd_room_take(&b->fd_room, need, 4 * sets, 4 * idle, &open, &limit, &reclaim);
	if (rc != -EMFILE) {
		if (reclaim > 0)
			logmgr_fd_close_idle(b->m, (reclaim + 3) / 4);
		return 0;
	}
	mq_log_limited(MQ_WARN,
		       "topic %s: %s refused: %s: %d partition(s) need %lld file descriptors, "
		       "%lld of the limit of %lld are open and %lld are kept free for "
		       "connections and reads (see \"Open files\" in README.md)",
		       name, what, strerror(EMFILE), nparts, (long long)need, (long long)open,
		       (long long)limit, (long long)fd_room_reserve(limit));
	return rc;
}

int topics_cluster_fd_take(void *arg, const char *topic, int n_partitions)
{
	return broker_fd_room(arg, topic, n_partitions, "replica");
}

void topics_cluster_fd_done(void *arg, int n_partitions)
{
	broker_fd_room_done(arg, n_partitions);
}

void broker_client_topic_owner(uid_t *uid, gid_t *gid)
{
	*uid = geteuid();
	*gid = getegid();
}

int broker_topic_create(struct broker *b, const char *name, uid_t uid, gid_t gid, mode_t mode,
			struct topic **out)
{
	return broker_topic_create_cfg(b, name, uid, gid, mode, NULL, -1, b->cfg.request_timeout_ms,
				       out);
}

static int topic_create_held(struct broker *b, const char *name, uid_t uid, gid_t gid, mode_t mode,
			     const struct topic_config *cfg, const struct topic_config *tc_in,
			     const struct topic_config *def, int replication_factor,
			     int64_t timeout_ms, struct topic **out);

int broker_topic_create_cfg(struct broker *b, const char *name, uid_t uid, gid_t gid, mode_t mode,
			    const struct topic_config *cfg, int replication_factor,
			    int64_t timeout_ms, struct topic **out)
{
	struct topic_config def, tc;
	char other[TOPIC_NAME_MAX + 1];
	int rc;

	if (out)
		*out = NULL;
	if (!topic_name_valid(name))
		return -EINVAL;
	if (broker_topic_collides(b, name, other, sizeof(other))) {
		mq_log_limited(MQ_WARN,
			       "topic %s: refused: it collides with the topic %s ('.' and '_' are "
			       "the same in Kafka's metric names)",
			       name, other);
		return -EINVAL;
	}
	catalog_default_config(b, &def);
	tc = cfg ? *cfg : def;
	rc = broker_fd_room(b, name, tc.partitions, "creation");
	if (rc < 0)
		return rc;
	rc = topic_create_held(b, name, uid, gid, mode, cfg, &tc, &def, replication_factor,
			       timeout_ms, out);
	broker_fd_room_done(b, tc.partitions);
	return rc;
}

int broker_topic_request(struct broker *b, const char *name, uid_t uid, gid_t gid, mode_t mode,
			 const struct topic_config *cfg, int replication_factor)
{
	struct topic_config def;
	struct zk_config over = { 0 };
	int rc;

	if (!broker_replicated(b, name) || !topic_name_valid(name))
		return -EINVAL;
	catalog_default_config(b, &def);
	rc = topic_overrides_diff(cfg, &def, NULL, &over);
	if (rc == 0)
		rc = cluster_topic_request(b->cluster, name, cfg->partitions, replication_factor,
					   &over, uid, gid, mode);
	zk_config_clear(&over);
	return rc;
}

/* The cluster's topic made here just now (a mkdir, CreateTopics or the
 * cluster thread) had the id id: its deletion remembers it (made_id). */
static void topic_note_made(struct broker *b, const char *name, const char *id)
{
	struct topic *t;

	if (!id || !id[0])
		return;
	pthread_mutex_lock(&b->admin_mu);
	if (broker_topic_get(b, name, &t) == 0) {
		pthread_rwlock_wrlock(&t->lock);
		snprintf(t->made_id, sizeof(t->made_id), "%s", id);
		pthread_rwlock_unlock(&t->lock);
		topic_put(t);
	}
	pthread_mutex_unlock(&b->admin_mu);
}

/* broker_topic_create_cfg once the descriptors are held: tc the topic's
 * settings (cfg's, or def, the defaults, when cfg is NULL). */
static int topic_create_held(struct broker *b, const char *name, uid_t uid, gid_t gid, mode_t mode,
			     const struct topic_config *cfg, const struct topic_config *tc_in,
			     const struct topic_config *def, int replication_factor,
			     int64_t timeout_ms, struct topic **out)
{
	struct topic_config tc = *tc_in;
	struct zk_config over = { 0 };
	char made_id[ZK_UUID_LEN + 1] = "";
	bool *local;
	int rc;

	if (!broker_replicated(b, name))
		return topic_create_local(b, name, uid, gid, mode, cfg, -1, NULL, true, NULL, out);
	pthread_rwlock_rdlock(&b->cat_lock);
	rc = cat_find(b, name) >= 0 ? -EEXIST : 0;
	pthread_rwlock_unlock(&b->cat_lock);
	/* The cluster first: the topic exists once ZooKeeper has it and
	 * this broker's metadata shows its leaders. Its settings other than
	 * the broker's defaults go to its config znode, where every broker
	 * reads them when it makes the topic. */
	if (rc == 0)
		rc = topic_overrides_diff(&tc, def, NULL, &over);
	if (rc == 0)
		rc = cluster_topic_create(b->cluster, name, tc.partitions, replication_factor,
					  &over, uid, gid, mode, timeout_ms, made_id);
	zk_config_clear(&over);
	if (rc < 0)
		return rc;
	/* Logs for this broker's replicas only (its metadata has them all:
	 * cluster_topic_create waited for it). */
	local = calloc((size_t)tc.partitions + 1, sizeof(*local));
	if (!local)
		return -ENOMEM;
	cluster_local_replicas(b->cluster, name, tc.partitions, local);
	rc = topic_create_local(b, name, uid, gid, mode, &tc, -1, local, false, made_id, out);
	free(local);
	/* The cluster thread saw it in /brokers/topics first and made it. */
	if (rc == -EEXIST)
		rc = out ? broker_topic_get(b, name, out) : 0;
	if (rc == 0)
		topic_note_made(b, name, made_id);
	return rc;
}

/* A topic of the cluster whose local replicas' files find no room here:
 * made without their logs (listed on the mount, its partitions read from
 * their read copies and written through their leaders, as on a broker
 * that holds no replica), its local replicas marked no_room, and -EMFILE:
 * the cluster thread claims it only once they are attached (see
 * topics_cluster_hosted). The controller elects without them meanwhile
 * (their LeaderAndIsr answers KAFKA_STORAGE_ERROR). */
static int topic_made_without_logs(struct broker *b, const char *topic, int n_partitions,
				   const bool *local, uid_t uid, gid_t gid, mode_t mode,
				   const struct topic_config *tc, const char *topic_id)
{
	bool *none = calloc((size_t)n_partitions + 1, sizeof(*none));
	struct topic *t;
	int rc;

	if (!none)
		return -ENOMEM;
	rc = topic_create_local(b, topic, uid, gid, mode, tc, n_partitions, none, false, topic_id,
				&t);
	free(none);
	if (rc < 0)
		return rc == -EEXIST ? -EMFILE : rc;
	pthread_rwlock_wrlock(&t->lock);
	for (int p = 0; p < t->nparts && p < n_partitions; p++)
		t->parts[p]->no_room = local && local[p];
	pthread_rwlock_unlock(&t->lock);
	topic_put(t);
	mq_log(MQ_WARN,
	       "topic %s: made here without its replicas' logs (no room for their files): "
	       "read and written through other brokers until a LeaderAndIsr opens them",
	       topic);
	return -EMFILE;
}

/* Whether a replica of t here still waits for its log (no_room). */
static bool topic_lacks_room(struct topic *t)
{
	bool lacks = false;

	pthread_rwlock_rdlock(&t->lock);
	for (int p = 0; p < t->nparts && !lacks; p++)
		lacks = t->parts[p]->no_room && !t->parts[p]->log;
	pthread_rwlock_unlock(&t->lock);
	return lacks;
}

void topics_cluster_replica_deleted(void *arg, const char *topic, int32_t partition)
{
	struct broker *b = arg;

	(void)partition;
	/* Not here, under the replica manager's call: the cluster thread
	 * reads the topic's assignment and lets go of the log when this
	 * broker is no longer a replica (topics_cluster_moved_away). */
	cluster_topic_reread(__atomic_load_n(&b->cluster, __ATOMIC_ACQUIRE), topic);
}

void topics_cluster_moved_away(void *arg, const char *topic, int32_t partition)
{
	struct broker *b = arg;
	struct topic *t;

	if (broker_topic_get(b, topic, &t) < 0)
		return;
	(void)partitions_detach(b, t, partition);
	topic_put(t);
}

int32_t topics_cluster_min_isr(void *arg, const char *topic)
{
	struct broker *b = arg;
	struct topic *t;
	int32_t n;

	if (broker_topic_get(b, topic, &t) < 0)
		return 0;
	pthread_rwlock_rdlock(&t->lock);
	n = t->cfg.min_insync_replicas;
	pthread_rwlock_unlock(&t->lock);
	topic_put(t);
	return n;
}

void topics_cluster_hosted(void *arg, const char *topic, int32_t partition)
{
	struct broker *b = arg;
	struct partition *pt;
	struct topic *t;
	bool lacking = false;

	if (broker_topic_get(b, topic, &t) < 0) {
		/* Not made here yet, or just removed as an earlier topic's
		 * copy by this LeaderAndIsr (topics_cluster_incarnation): the
		 * cluster thread makes it from a read of /brokers/topics, which
		 * nothing else may ask for (the topic's znode does not change). */
		if (b->cluster)
			cluster_topics_recheck(b->cluster);
		return;
	}
	if (part_begin(t, partition, &pt) == 0) {
		lacking = pt->log == NULL;
		pthread_rwlock_unlock(&t->lock);
	}
	topic_put(t);
	/* The cluster thread attaches it (topics_cluster_appeared, on a
	 * topic it has not claimed yet): not here, under the replica
	 * manager's call. */
	if (lacking && b->cluster)
		cluster_topics_recheck(b->cluster);
}

static int appeared_here(struct broker *b, const char *topic, int n_partitions, const bool *local,
			 uid_t uid, gid_t gid, mode_t mode, const struct zk_config *zc,
			 const char *topic_id);

int topics_cluster_appeared(void *arg, const char *topic, int n_partitions, const bool *local,
			    uid_t uid, gid_t gid, mode_t mode, const struct zk_config *zc,
			    const char *topic_id)
{
	int rc = appeared_here(arg, topic, n_partitions, local, uid, gid, mode, zc, topic_id);

	/* The offsets loader sleeps while the topic is missing: its
	 * LeaderAndIsr may have come before it was made here. */
	if (!strcmp(topic, "__consumer_offsets"))
		group_coord_states_changed(arg);
	return rc;
}

static int appeared_here(struct broker *b, const char *topic, int n_partitions, const bool *local,
			 uid_t uid, gid_t gid, mode_t mode, const struct zk_config *zc,
			 const char *topic_id)
{
	struct topic_config tc;
	struct topic *t;
	char err[256] = "";
	int rc = -ENOENT, n_local = 0;

	if (!topic_name_valid(topic) || n_partitions <= 0)
		return -EINVAL;
	/* Made with the cluster's settings, not the defaults first: a
	 * replica that took records before they applied could not take
	 * key.separator or line.format any more. */
	if (topic_config_of_overrides(&b->cfg, zc, &tc, err, sizeof(err)) < 0)
		mq_log_limited(MQ_WARN, "topic %s: /config/topics/%s: %s; made with the defaults",
			       topic, topic, err);
	if (broker_topic_get(b, topic, &t) == 0) {
		topic_put(t);
	} else {
		/* A topic new here opens its local replicas' files: within
		 * the descriptor reserve, as a creation here is. Refused, the
		 * replicas' LeaderAndIsr finds no room either and answers
		 * KAFKA_STORAGE_ERROR: the controller leaves them out. */
		for (int p = 0; p < n_partitions; p++)
			n_local += local && local[p];
		if (broker_fd_room(b, topic, n_local, "replica") < 0)
			return topic_made_without_logs(b, topic, n_partitions, local, uid, gid,
						       mode, &tc, topic_id);
		rc = topic_create_local(b, topic, uid, gid, mode, &tc, n_partitions, local, false,
					topic_id, NULL);
		broker_fd_room_done(b, n_local);
		if (rc == 0)
			topic_conflict_note(topic, NULL, &tc);
		if (rc != -EEXIST)
			return rc;
	}
	if (broker_topic_get(b, topic, &t) < 0)
		return rc;
	/* Known here: its assignment may have grown (CreatePartitions), and
	 * a replica of it may still lack its log here. */
	rc = topic_grow_local(t, n_partitions, local);
	if (rc == 0 && topic_partitions(t) == n_partitions)
		rc = partitions_attach(b, t, local);
	if (rc == 0 && topic_lacks_room(t))
		rc = -EMFILE; /* not claimed: tried again (topics_cluster_hosted) */
	topic_put(t);
	return rc < 0 ? rc : -EEXIST;
}

static int topic_delete_local(struct broker *b, const char *name);

/* A topic the cluster deleted goes here: its replicas first (with its
 * znodes deleted by another client no StopReplica comes, and they would
 * go on fetching, and leading, a topic gone here), then the topic. */
static void cluster_deleted(struct broker *b, const char *topic, const char *how)
{
	cluster_topic_gone(b->cluster, topic);
	if (topic_delete_local(b, topic) == 0)
		mq_log(MQ_INFO, "topic %s: deleted in the cluster, removed here (%s)", topic, how);
}

void topics_cluster_retain(void *arg, char **names, int n,
			   bool (*still_there)(void *zarg, const char *topic), void *zarg)
{
	struct broker *b = arg;
	char **local = NULL;
	int nl = 0;

	if (broker_topic_list(b, false, &local, &nl) < 0)
		return;
	for (int i = 0; i < nl; i++) {
		bool there = false;

		for (int j = 0; j < n && !there; j++)
			there = !strcmp(local[i], names[j]);
		if (!there && broker_replicated(b, local[i]) &&
		    !(still_there && still_there(zarg, local[i])))
			cluster_deleted(b, local[i], "gone from /brokers/topics");
	}
	broker_names_free(local, nl);
}

void topics_cluster_deleted(void *arg, const char *topic)
{
	struct broker *b = arg;

	if (broker_replicated(b, topic))
		cluster_deleted(b, topic, "the controller's StopReplica");
}

int broker_topic_delete(struct broker *b, const char *name)
{
	bool asked = false;
	uint64_t id = 0;
	int rc, i;

	if (broker_replicated(b, name)) {
		pthread_rwlock_rdlock(&b->cat_lock);
		i = cat_find(b, name);
		rc = i >= 0 ? 0 : -ENOENT;
		if (i >= 0)
			id = b->topics[i]->id;
		pthread_rwlock_unlock(&b->cat_lock);
		/* The controller deletes it everywhere (StopReplica, then the
		 * znodes, which every broker watches). */
		if (rc == 0)
			rc = cluster_topic_delete(b->cluster, name);
		if (rc < 0 && rc != -ENOENT)
			return rc;
		asked = rc == 0;
	}
	rc = asked ? topic_delete_instance(b, name, id) : topic_delete_local(b, name);
	/* Removed here first, then answered once the controller is done:
	 * the name can be made again as soon as this returns 0. */
	if (rc == 0 && asked) {
		rc = cluster_topic_delete_wait(b->cluster, name, b->cfg.request_timeout_ms);
		if (rc == -ESHUTDOWN)
			mq_log(MQ_WARN,
			       "topic %s: deleted here; this broker stops before the controller "
			       "has deleted it in the cluster: it goes on",
			       name);
		else if (rc < 0)
			mq_log(MQ_WARN,
			       "topic %s: deleted here; the controller has not deleted it in the "
			       "cluster within request.timeout.ms (%lld ms): it goes on, and the "
			       "name cannot be made again until it is done",
			       name, (long long)b->cfg.request_timeout_ms);
	}
	return rc;
}

static int topic_delete_locked(struct broker *b, const char *name, struct topic **gone);
static void topic_gone(struct broker *b, struct topic *t);

/* The topic instance id (struct topic.id, from 1) removed here, for an
 * rmdir that has asked the controller to delete it: the controller's
 * StopReplica to this broker may remove it before the rmdir's thread
 * comes back from ZooKeeper (it is then gone here, which is what the
 * rmdir wants: 0), and once the deletion is done another mount may make
 * the name again, an instance this must not touch (0 too). id 0: the
 * instance the name has, if any (-ENOENT when none). */
int topic_delete_instance(struct broker *b, const char *name, uint64_t id)
{
	struct topic *gone = NULL;
	int rc = 0, i;

	pthread_mutex_lock(&b->admin_mu);
	i = cat_find(b, name);
	if (!id || (i >= 0 && b->topics[i]->id == id))
		rc = topic_delete_locked(b, name, &gone);
	pthread_mutex_unlock(&b->admin_mu);
	topic_gone(b, gone);
	return rc;
}

static int topic_delete_local(struct broker *b, const char *name)
{
	return topic_delete_instance(b, name, 0);
}

/* (admin_mu held) On success *gone takes over the catalog's reference
 * to the deleted topic, for topic_gone once admin_mu is released. */
static int topic_delete_locked(struct broker *b, const char *name, struct topic **gone)
{
	struct topic *t;
	int i, rc, nparts;

	i = cat_find(b, name);
	if (i < 0)
		return -ENOENT;
	t = b->topics[i];
	pthread_rwlock_wrlock(&t->lock);
	rc = catalog_remove(b, t->meta_file);
	if (rc < 0) {
		mq_log(MQ_ERR, "topic %s: cannot remove its metadata: %s", name, strerror(-rc));
		pthread_rwlock_unlock(&t->lock);
		return rc;
	}
	atomic_store(&t->deleted, true);
	for (int k = 0; k < 2; k++) {
		const char *id = k ? t->made_id : t->cluster_id;

		if (!id[0] || (k && !strcmp(t->made_id, t->cluster_id)))
			continue;
		memcpy(b->gone_ids[b->gone_next], id, sizeof(b->gone_ids[0]));
		b->gone_next = (b->gone_next + 1) % GONE_IDS;
	}
	cat_remove(b, i);
	topic_throttle_note(b, name, NULL);
	for (int p = 0; p < t->nparts; p++) {
		produce_partition_wake(t->parts[p]);
		t->parts[p]->log = NULL;
	}
	nparts = t->nparts;
	pthread_rwlock_unlock(&t->lock);
	/* Without the topic's lock: a drop waits for a clean in progress. No
	 * caller reaches the logs through t any more (deleted), and admin_mu
	 * keeps the name from being made again before they are gone. */
	for (int p = 0; p < nparts; p++) {
		int r = logmgr_drop_log(b->m, name, p);

		if (r < 0 && r != -ENOENT) {
			mq_log(MQ_ERR, "topic %s: cannot drop partition %d: %s", name, p,
			       strerror(-r));
			orphan_add(b, name, p);
		}
	}
	fd_room_closed(&b->fd_room);
	/* Kafka fetches parked on its partitions: answered now
	 * (UNKNOWN_TOPIC_OR_PARTITION), not at their max_wait_ms. */
	broker_fetch_wake(b);
	/* Still under admin_mu: no topic of the name can be made before its
	 * groups are gone. */
	group_topic_deleted(b, name);
	/* Its read copies too (observer.h), before a topic of the name can
	 * be made again. */
	if (b->cluster)
		observer_drop(cluster_observers(b->cluster), name, -1);
	*gone = t;
	return 0;
}

/* Every record of a deleted topic t is gone: the removal listener hears
 * it for each partition, so that a mount drops the pages it cached of
 * them (an open file of t would otherwise go on reading its records from
 * there, where every read must be -ENOENT); the deletion is logged after
 * that. With no repl lock held, as the listener wants (broker_int.h).
 * Drops the reference; t NULL: none. */
static void topic_gone(struct broker *b, struct topic *t)
{
	int nparts;

	if (!t)
		return;
	pthread_rwlock_rdlock(&t->lock);
	nparts = t->nparts;
	pthread_rwlock_unlock(&t->lock);
	for (int p = 0; p < nparts; p++)
		broker_records_removed(b, t, p);
	mq_log(MQ_INFO, "topic %s: deleted", t->name);
	topic_put(t);
}

/* Whether the log of topic-partition here belongs to another topic id
 * than id (its partition.metadata says so); into had. */
static bool log_of_other_id(struct broker *b, const char *topic, int partition, const char *id,
			    char *had, size_t cap)
{
	int r = logmgr_topic_id(b->m, topic, partition, had, cap);

	if (r < 0 && r != -EBADMSG)
		mq_log_limited(MQ_WARN, "%s-%d: its partition.metadata not read: %s", topic,
			       partition, strerror(-r));
	return r == 1 && strcmp(had, id) != 0;
}

/* The topic here agrees with id already and holds the partition (any,
 * partition < 0). */
static bool incarnation_known(struct broker *b, const char *topic, int32_t partition,
			      const char *id)
{
	struct topic *t;
	bool same;

	/* The topic's lock comes before cat_lock (broker_int.h): a delete
	 * holds it while it removes the name; so a reference, not cat_lock,
	 * keeps t while its lock is taken. A topic deleted meanwhile has no
	 * logs: not known, the caller looks again under admin_mu. */
	if (broker_topic_get(b, topic, &t) < 0)
		return false;
	pthread_rwlock_rdlock(&t->lock);
	same = strcmp(t->cluster_id, id) == 0 &&
	       (partition < 0 || (partition < t->nparts && t->parts[partition]->log));
	pthread_rwlock_unlock(&t->lock);
	topic_put(t);
	return same;
}

int topics_cluster_incarnation(void *arg, const char *topic, int32_t partition,
			       const char *topic_id)
{
	struct broker *b = arg;
	char had[64] = "";
	struct topic *t = NULL, *gone = NULL;
	bool stale = false, held = false;
	int i, removed = 0;

	if (!topic_id || !topic_id[0])
		return 0;
	/* Each LeaderAndIsr comes here: the common case without admin_mu,
	 * which a deletion may hold for long (its groups' tombstones wait
	 * for their commit), while the controller's requests wait. */
	if (incarnation_known(b, topic, partition, topic_id))
		return 0;
	pthread_mutex_lock(&b->admin_mu);
	/* The cluster thread's read of a topic removed here since (see
	 * broker.gone_ids): not made again. */
	if (partition < 0 && id_gone_here(b, topic, topic_id)) {
		pthread_mutex_unlock(&b->admin_mu);
		return -ESTALE;
	}
	i = cat_find(b, topic);
	if (i >= 0) {
		t = b->topics[i];
		pthread_rwlock_rdlock(&t->lock);
		/* Each log's file is read once per topic made here: t->cluster_id
		 * is the id they were found to agree with (a topic's id never
		 * changes: another one is another topic's, files or not). */
		if (t->cluster_id[0] && strcmp(t->cluster_id, topic_id) != 0) {
			stale = true;
			snprintf(had, sizeof(had), "%s", t->cluster_id);
		}
		if (strcmp(t->cluster_id, topic_id) != 0)
			for (int p = 0; p < t->nparts && !stale; p++)
				stale = t->parts[p]->log &&
					log_of_other_id(b, topic, p, topic_id, had, sizeof(had));
		held = partition >= 0 && partition < t->nparts && t->parts[partition]->log;
		pthread_rwlock_unlock(&t->lock);
	}
	if (stale) {
		mq_log(MQ_WARN,
		       "topic %s: the local copy is of an earlier topic of that name (topic id %s, "
		       "the cluster's %s): removed here, made again empty",
		       topic, had, topic_id);
		if (topic_delete_locked(b, topic, &gone) == 0)
			removed = 1;
		held = false;
	} else if (t) {
		pthread_rwlock_wrlock(&t->lock);
		snprintf(t->cluster_id, sizeof(t->cluster_id), "%s", topic_id);
		pthread_rwlock_unlock(&t->lock);
	}
	/* A replica's log the topic here does not hold (made by a
	 * LeaderAndIsr before the topic, or left by a removed topic). */
	if (partition >= 0 && !held &&
	    log_of_other_id(b, topic, partition, topic_id, had, sizeof(had))) {
		struct log_config lc = b->cfg.log;
		struct log *l;

		mq_log(MQ_WARN,
		       "%s-%d: the local log is of an earlier topic of that name (topic id %s, the "
		       "cluster's %s): dropped",
		       topic, (int)partition, had, topic_id);
		if (logmgr_get_log(b->m, topic, partition, &lc, false, &l) == 0 &&
		    logmgr_drop_log(b->m, topic, partition) == 0)
			removed = 1;
	}
	pthread_mutex_unlock(&b->admin_mu);
	topic_gone(b, gone);
	return removed;
}

bool topic_cluster_id(struct topic *t, char *out, size_t cap)
{
	pthread_rwlock_rdlock(&t->lock);
	snprintf(out, cap, "%s", t->cluster_id);
	pthread_rwlock_unlock(&t->lock);
	return out[0] != '\0';
}

int broker_topic_by_cluster_id(struct broker *b, const char *id, struct topic **out)
{
	struct topic **ts;
	int n, rc;

	*out = NULL;
	if (!id[0])
		return -ENOENT;
	/* Each topic's lock is taken on a snapshot, outside cat_lock: the
	 * lock order is topic.lock, then cat_lock (broker_int.h). */
	rc = broker_topics_snapshot(b, &ts, &n);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	for (int i = 0; i < n; i++) {
		struct topic *t = ts[i];

		if (rc < 0 && !atomic_load(&t->deleted)) {
			pthread_rwlock_rdlock(&t->lock);
			if (strcmp(t->cluster_id, id) == 0) {
				topic_get(t);
				*out = t;
				rc = 0;
			}
			pthread_rwlock_unlock(&t->lock);
		}
	}
	broker_topics_release(ts, n);
	return rc;
}

int broker_topic_get(struct broker *b, const char *name, struct topic **out)
{
	int i, rc = -ENOENT;

	*out = NULL;
	pthread_rwlock_rdlock(&b->cat_lock);
	i = cat_find(b, name);
	if (i >= 0) {
		*out = b->topics[i];
		topic_get(*out);
		rc = 0;
	}
	pthread_rwlock_unlock(&b->cat_lock);
	return rc;
}

int broker_topic_list(struct broker *b, bool internal, char ***names, int *n)
{
	char **v;
	int k = 0, rc = 0;

	pthread_rwlock_rdlock(&b->cat_lock);
	v = calloc((size_t)b->ntopics + 1, sizeof(*v));
	if (!v) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < b->ntopics; i++) {
		if (!internal && strncmp(b->topics[i]->name, "__", 2) == 0)
			continue;
		v[k] = strdup(b->topics[i]->name);
		if (!v[k]) {
			broker_names_free(v, k);
			v = NULL;
			rc = -ENOMEM;
			goto out;
		}
		k++;
	}
	*names = v;
	*n = k;
out:
	pthread_rwlock_unlock(&b->cat_lock);
	return rc;
}

void broker_names_free(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* ------------------------------------------------------------------ */
/* Topic attributes */

const char *topic_name(struct topic *t)
{
	return t->name;
}

uint64_t topic_id(struct topic *t)
{
	return t->id;
}

bool topic_deleted(struct topic *t)
{
	return atomic_load(&t->deleted);
}

int topic_partitions(struct topic *t)
{
	int n;

	pthread_rwlock_rdlock(&t->lock);
	n = t->nparts;
	pthread_rwlock_unlock(&t->lock);
	return n;
}

void topic_owner(struct topic *t, uid_t *uid, gid_t *gid, mode_t *mode)
{
	pthread_rwlock_rdlock(&t->lock);
	*uid = t->uid;
	*gid = t->gid;
	*mode = t->mode;
	pthread_rwlock_unlock(&t->lock);
}

int topic_apply_owner(struct topic *t, uid_t uid, gid_t gid, mode_t mode)
{
	int rc;

	pthread_rwlock_wrlock(&t->lock);
	if (atomic_load(&t->deleted)) {
		rc = -ENOENT;
		goto out;
	}
	rc = catalog_write(t->b, t, &t->cfg, uid, gid, mode & 07777);
	if (rc < 0)
		goto out;
	t->uid = uid;
	t->gid = gid;
	t->mode = mode & 07777;
out:
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int topic_set_owner(struct topic *t, uid_t uid, gid_t gid, mode_t mode)
{
	/* A cluster's topic has one owner and mode, in its config znode:
	 * published first (every broker applies it, this one too), so that
	 * a mount never shows a mode the others do not enforce. */
	if (broker_replicated(t->b, t->name)) {
		int rc = cluster_topic_owner_set(t->b->cluster, t->name, uid, gid, mode);

		if (rc < 0)
			return rc;
	}
	return topic_apply_owner(t, uid, gid, mode);
}

int64_t topic_ctime(struct topic *t)
{
	return t->ctime_ms;
}

int64_t topic_mtime(struct topic *t)
{
	int64_t m = t->ctime_ms;

	pthread_rwlock_rdlock(&t->lock);
	for (int p = 0; p < t->nparts; p++) {
		int64_t a = atomic_load(&t->parts[p]->last_append_ms);

		if (a > m)
			m = a;
	}
	pthread_rwlock_unlock(&t->lock);
	return m;
}

int32_t topic_max_message_bytes(struct topic *t)
{
	int32_t v;

	pthread_rwlock_rdlock(&t->lock);
	v = t->cfg.log.max_message_bytes;
	pthread_rwlock_unlock(&t->lock);
	return v;
}

int32_t topic_batch_limit(struct topic *t, const char **name)
{
	int32_t v;

	pthread_rwlock_rdlock(&t->lock);
	v = log_batch_limit(&t->cfg.log, name);
	pthread_rwlock_unlock(&t->lock);
	return v;
}

int topic_line_check(struct topic *t, const char *line, size_t len, bool ended)
{
	struct line_rules lr;
	struct rec_in r;
	int rc = 0;

	if (!ended && len == 0)
		return 0; /* nothing unfinished (each whole-line write asks) */
	pthread_rwlock_rdlock(&t->lock);
	lr.sep = t->cfg.log.key_sep;
	lr.sep_len = t->cfg.log.key_sep_len;
	lr.max = log_max_record_payload(&t->cfg.log);
	lr.format = t->cfg.log.line_format;
	lr.scratch = NULL; /* a size check: taken literally */
	/* An escaped line (line.format=escape, a leading backslash) is
	 * measured by its record: \xHH is one byte of it, so such a line may
	 * be four times the limit (the view of a Kafka client's record of
	 * control bytes, copied back through the mount). */
	bool esc = lr.format == LINE_FORMAT_ESCAPE && len > 0 && line[0] == '\\';
	/* An unfinished line only grows: past the limit plus a separator (a
	 * keyed line's separator is not payload), or four times that and the
	 * mark for an escaped one, it can never fit. */
	if (!ended)
		rc = (int64_t)len > (esc ? 4 * (lr.max + lr.sep_len) + 1 : lr.max + lr.sep_len)
			     ? -EMSGSIZE
			     : 0;
	else if ((int64_t)len > lr.max && !(esc ? line_unescaped_fits(&lr, line, len)
						: line_to_rec(&lr, line, line + len, &r) != NULL))
		rc = -EMSGSIZE;
	pthread_rwlock_unlock(&t->lock);
	return rc;
}
