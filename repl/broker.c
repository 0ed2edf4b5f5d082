/*
 * broker.c — the broker's lifecycle: open (log manager, meta directory,
 * catalog load, orphan logs, group coordinator, the scheduler and cleaner
 * threads, then with zookeeper.connect or listeners the cluster: cluster.c)
 * and close (stop the listener, stop the threads, make every topic answer
 * -ENOENT, clean shutdown of the logs, with no clean-shutdown marker once
 * the directory failed, then leave the cluster), and the orphan logs (logs
 * in the data directory that no topic claims).
 *
 * Where the rest lives: topics.c (catalog in memory, topic attributes),
 * partitions.c (partition logs, leading, engine listeners), topic_config.c
 * (.config), topic_read.c (read wrappers), produce.c (the produce path),
 * scheduler.c and cleaner_thread.c (the two background threads),
 * catalog.c (metadata files), broker_views.c (.state, .metrics). Lock
 * order: broker_int.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "repl/broker_int.h"
#include "util/clock.h"
#include "repl/throttle.h"
#include "repl/cluster_repl.h"
#include "util/pause.h"

static int mkdir_p2(const struct io_ops *io, const char *parent, const char *dir)
{
	int rc = io->mkdir(io->ctx, dir, 0755);

	if (rc == -EEXIST)
		return 0;
	if (rc < 0)
		return rc;
	rc = io->fsync_dir(io->ctx, parent);
	return rc < 0 ? rc : 1;
}

/* Orphans: logs in the data directory that no topic claims (an
 * interrupted delete or grow, a drop that failed). They are kept, never
 * deleted behind the user's back, until a topic of that name is created
 * (or grows over them): then they are dropped so that no old record shows
 * up in the new topic. */
void orphan_add(struct broker *b, const char *topic, int partition)
{
	struct orphan *no;
	char *name = strdup(topic);

	pthread_mutex_lock(&b->orphan_mu);
	no = name ? realloc(b->orphans, (size_t)(b->norphans + 1) * sizeof(*no)) : NULL;
	if (no) {
		b->orphans = no;
		b->orphans[b->norphans].topic = name;
		b->orphans[b->norphans].partition = partition;
		b->norphans++;
	} else {
		free(name);
	}
	pthread_mutex_unlock(&b->orphan_mu);
}

/* Drops the orphan logs of topic with partition >= from. Fails if one
 * cannot be dropped: the caller must not then open a log of that name,
 * which would bring its old records back. */
int orphans_drop(struct broker *b, const char *topic, int from)
{
	int err = 0;

	pthread_mutex_lock(&b->orphan_mu);
	for (int i = 0; i < b->norphans;) {
		struct orphan *o = &b->orphans[i];
		struct log *l;
		int rc;

		if (strcmp(o->topic, topic) != 0 || o->partition < from) {
			i++;
			continue;
		}
		/* The log manager opens logs on demand: open it to drop it. */
		rc = logmgr_get_log(b->m, o->topic, o->partition, &b->cfg.log, false, &l);
		if (rc == 0)
			rc = logmgr_drop_log(b->m, o->topic, o->partition);
		if (rc < 0 && rc != -ENOENT) {
			mq_log(MQ_ERR, "topic %s: cannot drop old log %s-%d: %s", topic, o->topic,
			       o->partition, strerror(-rc));
			err = err ? err : rc;
			i++;
			continue;
		}
		mq_log(MQ_INFO, "topic %s: dropped old log %s-%d", topic, o->topic, o->partition);
		free(o->topic);
		b->orphans[i] = b->orphans[--b->norphans];
	}
	pthread_mutex_unlock(&b->orphan_mu);
	return err;
}

/* One line per topic name for its orphans (an interrupted rmdir of a
 * topic of many partitions leaves many). */
static void orphans_report(struct broker *b)
{
	pthread_mutex_lock(&b->orphan_mu);
	for (int i = 0; i < b->norphans; i++) {
		const char *name = b->orphans[i].topic;
		int count = 0, lo = INT_MAX, hi = -1;
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = strcmp(b->orphans[j].topic, name) == 0;
		if (seen)
			continue;
		for (int j = i; j < b->norphans; j++) {
			if (strcmp(b->orphans[j].topic, name) != 0)
				continue;
			count++;
			lo = b->orphans[j].partition < lo ? b->orphans[j].partition : lo;
			hi = b->orphans[j].partition > hi ? b->orphans[j].partition : hi;
		}
		mq_log(MQ_WARN,
		       "%d log(s) of %s (partitions %d to %d) belong to no topic (interrupted "
		       "delete?): left in place, dropped when a topic %s is made",
		       count, name, lo, hi, name);
	}
	pthread_mutex_unlock(&b->orphan_mu);
}

static void find_orphans(struct broker *b)
{
	int n;
	const struct log_name *found = logmgr_found(b->m, &n);

	for (int i = 0; i < n; i++) {
		int ti = cat_find(b, found[i].topic);

		if (!(ti >= 0 && found[i].partition < b->topics[ti]->nparts))
			orphan_add(b, found[i].topic, found[i].partition);
	}
	orphans_report(b);
}

/* A data directory without meta/ has never been mqfs's (meta/ is made at
 * the first start, before any log): a directory in it named like a log
 * ("photos-1") is someone else's, which mqfs would keep as an orphan and
 * delete with everything in it once a topic of that name is made. So such
 * a start is refused, before meta/ is made (which would make the
 * directory look like mqfs's at the next start): -ENOTEMPTY, logged;
 * else 0. meta is DATA/meta. */
static int foreign_logs(struct broker *b, const char *meta)
{
	int n;
	const struct log_name *found = logmgr_found(b->m, &n);
	struct stat st;

	if (stat(meta, &st) == 0 || errno != ENOENT)
		return 0; /* mqfs's; or meta/'s own error comes at its mkdir */
	if (n > 0)
		mq_log(MQ_ERR,
		       "data directory %s holds %s-%d%s but no meta/: it is not an mqfs "
		       "data directory (or its meta/ was removed); "
		       "mqfs would take them for logs of no topic and delete them when a "
		       "topic of their name is made; refusing to start (name an empty or "
		       "new directory)",
		       logmgr_dir(b->m), found[0].topic, (int)found[0].partition,
		       n > 1 ? " and more directories named like logs" : "");
	return n > 0 ? -ENOTEMPTY : 0;
}

/* The failure goes to the cluster's replica manager only when another
 * broker can take over: a topic replicated through ZooKeeper, or
 * (partition < 0) the directory's own files in a cluster. */
int broker_storage_failed(struct broker *b, const char *topic, int partition, int err)
{
	bool replicated =
		partition >= 0 ? broker_replicated(b, topic) : cluster_config_zk(&b->cfg.cluster);
	struct cluster *c = __atomic_load_n(&b->cluster, __ATOMIC_ACQUIRE);

	if (!replicated || !c)
		return err;
	return cluster_storage_failed(c, topic, partition, err);
}

bool broker_dir_offline(struct broker *b, enum broker_dir_user user)
{
	static const char *const who[] = {
		[BROKER_DIR_SCHEDULER] = "scheduler",
		[BROKER_DIR_CLEANER] = "log cleaner",
		[BROKER_DIR_CHECKPOINTS] = "checkpoints",
	};
	static const char *const stopped[] = {
		[BROKER_DIR_SCHEDULER] = "no flush, retention or checkpoint there",
		[BROKER_DIR_CLEANER] = "its logs are not cleaned",
		[BROKER_DIR_CHECKPOINTS] = "none written there",
	};
	struct cluster *c = __atomic_load_n(&b->cluster, __ATOMIC_ACQUIRE);
	int err = cluster_log_dir_failure(c);

	if (!err)
		return false;
	/* Once per user: the failure itself was logged where it happened. */
	if (!(atomic_fetch_or(&b->dir_offline_said, (unsigned)user) & (unsigned)user))
		mq_log(MQ_WARN, "%s: log dir %s is offline (%s): %s until a restart", who[user],
		       logmgr_dir(b->m), strerror(-err), stopped[user]);
	return true;
}

/* The replica manager's states changed (cluster_local's states_changed):
 * the offsets loader looks again, and a log directory just gone offline
 * wakes the scheduler, which otherwise sleeps to its next deadline (the
 * checkpoint, a minute off) when the failure came after its last pass,
 * and so would say it stopped using the directory only then. */
static void broker_states_changed(void *arg)
{
	struct broker *b = arg;
	struct cluster *c = __atomic_load_n(&b->cluster, __ATOMIC_ACQUIRE);

	group_coord_states_changed(b);
	if (cluster_log_dir_failure(c) &&
	    !(atomic_load(&b->dir_offline_said) & (unsigned)BROKER_DIR_SCHEDULER))
		broker_sched_kick(b);
}

/* A follower's truncation cut records of topic-partition: the checkpoints
 * follow at once (the cleaner's first dirty offset went back to the cut
 * segment's base: records fetched there next are a new leader's, which a
 * crash before the next checkpoint would take as cleaned; Kafka's
 * truncateTo writes the cleaner's checkpoint at once). A failure is
 * broker_checkpoint's (the log directory goes offline). The replica's
 * producer state is rebuilt from the cut log (replica_producers.c). */
static void broker_replica_cut(void *arg, const char *topic, int32_t partition)
{
	char why[320]; /* a topic name is at most 249 bytes */

	replica_producers_cut(arg, topic, partition);
	snprintf(why, sizeof(why), "topic %s partition %d: truncated", topic, (int)partition);
	(void)broker_checkpoint(arg, why);
}

int broker_checkpoint(struct broker *b, const char *why)
{
	const char *file = NULL;
	int rc;

	/* The replicas' storage errors are the controller's now (their
	 * leaderships moved): KAFKA_STORAGE_ERROR, as broker_storage_failed
	 * answers. */
	if (broker_dir_offline(b, BROKER_DIR_CHECKPOINTS))
		return -ENXIO;
	rc = logmgr_write_checkpoints(b->m, &file);
	if (rc < 0) {
		if (!file)
			file = "files";
		mq_log_limited(MQ_ERR, "%s: checkpoint %s: %s", why, file, strerror(-rc));
		rc = broker_storage_failed(b, file, -1, rc);
	}
	return rc;
}

/* The background threads wait on their own condition variable (on the
 * monotonic clock, for deadline_from_ms) under sched_mu. */
int broker_thread_start(struct broker *b, pthread_t *th, pthread_cond_t *cv, void *(*fn)(void *),
			const char *name)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(th, NULL, fn, b);
	if (rc != 0) {
		pthread_cond_destroy(cv);
		return -rc;
	}
	pthread_setname_np(*th, name);
	return 0;
}

void broker_thread_stop(struct broker *b, pthread_t th, bool *stop, pthread_cond_t *cv)
{
	pthread_mutex_lock(&b->sched_mu);
	*stop = true;
	pthread_cond_signal(cv);
	pthread_mutex_unlock(&b->sched_mu);
	pthread_join(th, NULL);
	pthread_cond_destroy(cv);
}

static int broker_free(struct broker *b, bool abandon);

/* pid is being killed or exiting: SIGKILL pending, or a zombie. A daemon
 * killed with -9 holds the data directory's lock until its last thread
 * has exited, which on a busy mount (FUSE and io_uring teardown) takes up
 * to a second: a restart at once waits that out rather than refuse. */
static bool pid_exiting(int pid)
{
	char path[64], line[128];
	unsigned long long mask;
	bool exiting = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return true; /* gone already: the lock goes with it */
	while (!exiting && fgets(line, sizeof(line), f)) {
		char state;

		if (sscanf(line, "State: %c", &state) == 1)
			exiting = state == 'Z' || state == 'X';
		else if (sscanf(line, "ShdPnd: %llx", &mask) == 1 ||
			 sscanf(line, "SigPnd: %llx", &mask) == 1)
			exiting = (mask >> (SIGKILL - 1)) & 1;
	}
	fclose(f);
	return exiting;
}

/* The longest a start waits for a killed daemon to let go of the lock. */
#define LOCK_EXIT_WAIT_MS 10000
#define LOCK_POLL_MS      50

int broker_open(const struct broker_config *cfg, struct broker **out)
{
	struct broker *b;
	const struct io_ops *io;
	char dir[sizeof(b->meta_dir)];
	int rc, ntopics;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = *cfg;
	b->open_mono_ms = now_mono_ms();
	atomic_init(&b->next_topic_id, 1);
	pthread_mutex_init(&b->admin_mu, NULL);
	pthread_mutex_init(&b->dyn_mu, NULL);
	topic_config_defaults_of(&b->cfg, &b->dyn_defaults);
	b->cleaner_backoff_ms = b->cfg.cleaner_backoff_ms;
	b->cleaner_dedupe_bytes = b->cfg.cleaner_dedupe_bytes;
	b->producer_id_expiration_ms = b->cfg.producer_id_expiration_ms;
	fd_room_init(&b->fd_room);
	rwlock_init_wpref(&b->cat_lock);
	pthread_mutex_init(&b->pool_mu, NULL);
	pthread_mutex_init(&b->sched_mu, NULL);
	pthread_mutex_init(&b->orphan_mu, NULL);
	pthread_mutex_init(&b->hw_mu, NULL);
	pthread_mutex_init(&b->removed_mu, NULL);

	produce_broker_init(b);
	rc = repl_throttle_new(cfg->broker_id, cfg->cluster.replication_quota_window_num,
			       cfg->cluster.replication_quota_window_s, &b->throttle);
	if (rc < 0)
		goto fail;
	/* What the engine finds on disk goes to the daemon's log. */
	engine_log = mq_log;
	rc = logmgr_open(cfg->data_dir, cfg->io ? cfg->io : &io_posix, &b->m);
	for (int waited = 0, pid; rc == -EWOULDBLOCK && waited < LOCK_EXIT_WAIT_MS;
	     waited += LOCK_POLL_MS) {
		pid = logmgr_lock_owner(cfg->data_dir);
		if (pid <= 0 || !pid_exiting(pid))
			break;
		if (waited == 0)
			mq_log(MQ_INFO,
			       "data directory %s: pid %d, killed, still holds %s/.lock: "
			       "waiting for it to exit",
			       cfg->data_dir, pid, cfg->data_dir);
		pause_ms(LOCK_POLL_MS);
		rc = logmgr_open(cfg->data_dir, cfg->io ? cfg->io : &io_posix, &b->m);
	}
	if (rc == -EWOULDBLOCK) {
		int pid = logmgr_lock_owner(cfg->data_dir);

		if (pid > 0)
			mq_log(MQ_ERR,
			       "data directory %s is in use by another mqfs (pid %d holds "
			       "%s/.lock): not starting a second one on it",
			       cfg->data_dir, pid, cfg->data_dir);
		else
			mq_log(MQ_ERR,
			       "data directory %s is in use by another mqfs (%s/.lock is "
			       "locked): not starting a second one on it",
			       cfg->data_dir, cfg->data_dir);
		goto fail;
	}
	if (rc < 0) {
		mq_log(MQ_ERR, "cannot open data directory %s: %s", cfg->data_dir, strerror(-rc));
		goto fail;
	}
	logmgr_set_fd_cache(b->m, cfg->segment_fd_cache);
	io = logmgr_io(b->m);
	if (snprintf(dir, sizeof(dir), "%s/meta", logmgr_dir(b->m)) >= (int)sizeof(dir) - 16 ||
	    snprintf(b->meta_dir, sizeof(b->meta_dir), "%s/topics", dir) >=
		    (int)sizeof(b->meta_dir)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	rc = foreign_logs(b, dir);
	if (rc < 0)
		goto fail;
	rc = mkdir_p2(io, logmgr_dir(b->m), dir);
	/* No meta/ yet: a new data directory, not an unclean shutdown. */
	b->fresh = rc == 1;
	if (rc >= 0)
		rc = mkdir_p2(io, dir, b->meta_dir);
	if (rc < 0) {
		mq_log(MQ_ERR, "cannot create %s: %s", b->meta_dir, strerror(-rc));
		goto fail;
	}
	rc = cluster_data_dir_check(&b->cfg);
	if (rc < 0)
		goto fail;
	rc = catalog_load(b, topics_load_one, NULL);
	if (rc < 0)
		goto fail;
	find_orphans(b);
	rc = group_coord_open(b);
	if (rc < 0)
		goto fail;
	rc = scheduler_start(b);
	if (rc == 0)
		rc = cleaner_thread_start(b);
	if (rc < 0)
		goto fail;
	/* b->cfg, not cfg: the cluster keeps the pointer. */
	if (cluster_config_zk(&b->cfg.cluster) || b->cfg.cluster.listeners_set) {
		struct cluster *c;
		struct cluster_local local = {
			.m = b->m,
			.unclean = !b->fresh && !logmgr_was_clean(b->m),
			.topics = { .appeared = topics_cluster_appeared,
				    .retain = topics_cluster_retain,
				    .config = topics_cluster_config,
				    .broker_defaults = topics_cluster_broker_defaults,
				    .incarnation = topics_cluster_incarnation,
				    .fd_take = topics_cluster_fd_take,
				    .fd_done = topics_cluster_fd_done,
				    .hosted = topics_cluster_hosted,
				    .replica_deleted = topics_cluster_replica_deleted,
				    .deleted = topics_cluster_deleted,
				    .moved_away = topics_cluster_moved_away,
				    .lines_fix = topics_cluster_lines_fix,
				    .states_changed = broker_states_changed,
				    .cut = broker_replica_cut,
				    .appended = replica_producers_appended,
				    .min_isr = topics_cluster_min_isr,
				    .arg = b },
			.throttle = b->throttle,
		};

		/* Published whole: the offsets loader, started above, reads
		 * b->cluster without a lock (offsets_topic.c's cluster_get,
		 * an acquire load). */
		rc = cluster_open(&b->cfg, b, &local, &c);
		if (rc < 0)
			goto fail;
		__atomic_store_n(&b->cluster, c, __ATOMIC_RELEASE);
	}
	/* Under cat_lock: the listener serves already, and a LeaderAndIsr
	 * may be deleting a stale topic (topics_cluster_incarnation). */
	pthread_rwlock_rdlock(&b->cat_lock);
	ntopics = b->ntopics;
	pthread_rwlock_unlock(&b->cat_lock);
	mq_log(MQ_INFO, "broker %d: %s opened, %d topics, %s", cfg->broker_id, logmgr_dir(b->m),
	       ntopics,
	       b->fresh                 ? "new data directory"
	       : logmgr_was_clean(b->m) ? "last shutdown clean"
					: "last shutdown unclean: logs recovered");
	*out = b;
	return 0;
fail:
	/* Not logmgr_close(): its checkpoints would list only the logs
	 * opened so far. Nothing was appended: the data directory is as the
	 * open found it, clean-shutdown marker included. */
	broker_free(b, true);
	return rc;
}

/* At a clean stop, with no request served any more (the replica
 * manager's fetchers stopped too), once each log is flushed (a checkpoint
 * past what a power cut keeps could name records written again in the
 * same epoch): each of t's partitions gets its producer checkpoint at the
 * log end or near it, as Kafka's Log.close writes a snapshot on leaders
 * and followers alike, so that the next start's load reads no batch
 * header, or those of the records not committed at the stop only.
 * - A topic that is not replicated, where this broker was the only
 *   leader: from the producer state in memory, where one was loaded
 *   (producer_state_stop_checkpoint), which no read costs; where none was
 *   (no idempotent producer wrote there since the start, only the mount
 *   or plain producers), as a replicated one's below, else the next
 *   start's first idempotent Produce would read the headers after the
 *   last periodic checkpoint (the active segment at least) instead.
 * - A replicated one: rebuilt from the log's snapshots and the headers
 *   after the newest (log_producer_checkpoint_at_stop, the trim listener),
 *   within *budget bytes of segments over the whole stop. Not from
 *   memory: a follower's state follows its log a step behind (the
 *   fetcher's hook takes it after the append), and leaderships and
 *   truncations come between; the log's own rebuild is its end's. At
 *   the hw, not the log end: the records above it are the ones a
 *   restart may cut (its next leader's log is shorter), and a checkpoint
 *   past the cut would not be taken (prodsnap.c), leaving the next load
 *   the headers from the front snapshot on. Only an unclean election
 *   cuts below the hw: the load's check (the log reaches its end, the
 *   epoch cache gives the epoch it names there) leaves the checkpoint
 *   alone then, as it does a periodic one.
 * A failure is logged; the next load then reads the headers after the
 * last checkpoint. */
static void stop_checkpoints(struct broker *b, struct topic *t, int64_t *budget)
{
	bool replicated = broker_replicated(b, t->name);

	for (int p = 0; p < t->nparts; p++) {
		struct partition *pt = t->parts[p];
		int rc;

		if (!pt->log)
			continue;
		/* The stop's flush, which logmgr_shutdown then finds done (or
		 * failed again: it reports it). */
		if (log_flush(pt->log, -1) < 0)
			continue;
		if (!replicated) {
			rc = producer_state_stop_checkpoint(&pt->pstate, pt->log,
							    &b->producer_id_expiration_ms);
			if (rc < 0)
				mq_log(MQ_ERR,
				       "stop: topic %s partition %d: producer checkpoint: %s",
				       t->name, p, strerror(-rc));
			if (rc != 0)
				continue; /* loaded: written from memory, or failed */
		}
		/* a failure is the engine's to log */
		log_producer_checkpoint_at_stop(pt->log, budget);
	}
}

int broker_close(struct broker *b)
{
	return broker_free(b, false);
}

static int broker_free(struct broker *b, bool abandon)
{
	char why[2 * PATH_MAX + 128];
	int64_t ckpt_budget = LOG_CHECKPOINT_SCAN_BYTES;
	int rc = 0;

	if (!b)
		return 0;
	/* No request is served while the broker shuts down; the offsets
	 * loader, which reads the cluster's replicas, stops first. The
	 * cleaner and the scheduler stop before the cluster: a storage
	 * error of theirs goes to the replica manager (broker_storage_failed),
	 * which cluster_stop frees. */
	group_coord_stop(b);
	cleaner_thread_stop(b);
	scheduler_stop(b);
	cluster_stop(b->cluster);
	group_coord_close(b);
	/* Holders of a reference from now on get -ENOENT; taking each lock
	 * for writing waits for the calls in flight. */
	for (int i = 0; i < b->ntopics; i++) {
		struct topic *t = b->topics[i];

		pthread_rwlock_wrlock(&t->lock);
		atomic_store(&t->deleted, true);
		pthread_rwlock_unlock(&t->lock);
		if (!abandon && b->m && !cluster_log_dir_failure(b->cluster))
			stop_checkpoints(b, t, &ckpt_budget);
		topic_put(t);
	}
	free(b->topics);
	if (b->m && abandon) {
		logmgr_close_refused(b->m);
	} else if (b->m) {
		/* A directory that failed at run time gets nothing more
		 * written: no flush, no checkpoint, no clean-shutdown marker
		 * (Kafka's shutdown leaves its offline log directories alone
		 * too). Its logs may have lost writes the disk reported once
		 * (an fsync that returned EIO may return 0 later with the pages
		 * it dropped never written), so the next start recovers them. */
		int dir_err = cluster_log_dir_failure(b->cluster);

		if (dir_err) {
			mq_log(MQ_WARN,
			       "stop: log dir %s is offline (%s): nothing flushed or written "
			       "there, no clean-shutdown marker; the next start recovers the logs",
			       logmgr_dir(b->m), strerror(-dir_err));
			logmgr_close_offline(b->m);
		} else {
			rc = logmgr_shutdown(b->m, why, sizeof(why));
			if (rc < 0)
				mq_log(MQ_ERR,
				       "clean stop failed: %s; no clean-shutdown marker written, "
				       "the next start recovers the logs",
				       why);
		}
	}
	/* Leaving the cluster (the registration goes) after the local
	 * shutdown, as Kafka does. */
	cluster_close(b->cluster);
	repl_throttle_free(b->throttle);
	for (int i = 0; i < b->norphans; i++)
		free(b->orphans[i].topic);
	free(b->orphans);
	broker_pool_free(b);
	produce_broker_destroy(b);
	pthread_mutex_destroy(&b->admin_mu);
	free(b->dyn_cfg);
	pthread_mutex_destroy(&b->dyn_mu);
	fd_room_destroy(&b->fd_room);
	pthread_rwlock_destroy(&b->cat_lock);
	pthread_mutex_destroy(&b->pool_mu);
	pthread_mutex_destroy(&b->sched_mu);
	pthread_mutex_destroy(&b->orphan_mu);
	pthread_mutex_destroy(&b->hw_mu);
	pthread_mutex_destroy(&b->removed_mu);
	free(b);
	return rc;
}

const struct broker_config *broker_cfg(struct broker *b)
{
	return &b->cfg;
}
