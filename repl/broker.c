/*
 * broker.c — the broker on a single node: lifecycle, the topic catalog in
 * memory, topic settings and owner, the read-side wrappers, and the
 * scheduler thread.
 *
 * The catalog is a sorted array of struct topic * under broker.cat_lock
 * (lookups: binary search). Its files are catalog.c's business; the
 * partitions' logs belong to the engine's log manager. Lock order and what
 * each lock guards: broker_int.h.
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
 *   grow:    1. new partition logs created       crash: empty orphan logs,
 *            2. metadata file rewritten            dropped by the next grow
 *
 * Scheduler thread ("mqfs-sched"): wakes every
 * min(log.flush.scheduler.interval.ms, 1 s); flushes each log whose flush.ms
 * has passed since its last flush and that has unflushed records; every
 * log.flush.offset.checkpoint.interval.ms writes the checkpoint files.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/broker_int.h"

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

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Topic objects */

static void rwlock_init_wpref(pthread_rwlock_t *l)
{
	pthread_rwlockattr_t a;

	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(l, &a);
	pthread_rwlockattr_destroy(&a);
}

static struct partition *partition_new(int index)
{
	struct partition *pt = calloc(1, sizeof(*pt));

	if (!pt)
		return NULL;
	pt->index = index;
	pthread_mutex_init(&pt->produce_mu, NULL);
	produce_partition_init(pt);
	atomic_store(&pt->last_flush_ms, engine_now_ms());
	return pt;
}

static void partition_free(struct partition *pt)
{
	if (!pt)
		return;
	produce_partition_destroy(pt);
	pthread_mutex_destroy(&pt->produce_mu);
	free(pt);
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
		atomic_init(&t->rr_next, (uint32_t)((uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL >> 32) ^
			    (uint32_t)t->id);
	}
	t->ctime_ms = ctime_ms;
	rwlock_init_wpref(&t->lock);
	t->cfg = *tc;
	t->uid = uid;
	t->gid = gid;
	t->mode = mode & 07777;
	return t;
}

static void topic_free(struct topic *t)
{
	for (int p = 0; p < t->nparts; p++)
		partition_free(t->parts[p]);
	free(t->parts);
	pthread_rwlock_destroy(&t->lock);
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

/* This broker leads every partition, in epoch 0.
 *
 * On one node the ISR is this broker alone, so hw = min LEO over the ISR
 * = its own LEO. The engine reopens a log at its checkpointed hw (which
 * lags by up to a checkpoint interval after a crash); every record the
 * recovered log still has was appended, hence committed: move the hw up. */
static int become_leader(const char *name, int p, struct log *l)
{
	struct log_state st;
	int rc;

	log_get_state(l, &st);
	/* One line per recovery action (the engine does not log). */
	if (st.recovered_segments > 0 || st.recovery_truncated > 0)
		mq_log(MQ_WARN, "log %s-%d: recovered after an unclean shutdown: %d segment%s "
		       "checked, %" PRId64 " invalid byte%s cut from the tail, %" PRId64 " ms",
		       name, p, st.recovered_segments, st.recovered_segments == 1 ? "" : "s",
		       st.recovery_truncated, st.recovery_truncated == 1 ? "" : "s",
		       st.recovery_ms);
	if (st.damaged)
		mq_log(MQ_ERR, "topic %s partition %d: damaged on disk (see above): served up to "
		       "offset %" PRId64 ", writes refused with EIO until the files are repaired",
		       name, p, st.log_end_offset);
	/* As Kafka's Partition.makeLeader: the epoch starts at the LEO
	 * (a no-op when the cache already has it). */
	rc = log_assign_epoch(l, BROKER_LEADER_EPOCH, st.log_end_offset);
	if (rc < 0 || st.hw >= st.log_end_offset)
		return rc;
	mq_log(MQ_INFO, "topic %s partition %d: high watermark %" PRId64 " -> %" PRId64,
	       name, p, st.hw, st.log_end_offset);
	return log_set_hw(l, st.log_end_offset);
}

/* The hw listener of every log: wakes the partition's writers waiting for
 * their commit, and hands (topic, partition) to the broker's listener
 * (group_notify.c). What it may do: see broker_int.h. */
static void broker_hw_moved(void *arg, struct log *l)
{
	struct partition *pt = arg;
	struct broker *b = pt->b;

	(void)l;
	produce_hw_moved(pt);
	pthread_mutex_lock(&b->hw_mu);
	if (b->hw_fn)
		b->hw_fn(b->hw_arg, pt->topic, pt->index);
	pthread_mutex_unlock(&b->hw_mu);
}

void broker_set_hw_listener(struct broker *b, void (*fn)(void *arg, const char *topic,
							   int partition), void *arg)
{
	pthread_mutex_lock(&b->hw_mu);
	b->hw_fn = fn;
	b->hw_arg = arg;
	pthread_mutex_unlock(&b->hw_mu);
}

/* The engine found a corrupt batch (once per batch): the one line that
 * tells the operator where it is. Any thread, maybe under the log's lock. */
static void broker_corrupt_found(void *arg, struct log *l, const char *file, int64_t pos,
				 const char *why)
{
	const struct partition *part = arg;

	(void)l;
	mq_log(MQ_ERR, "topic %s partition %d: corrupt batch in %s at position %" PRId64
	       ": %s; reads that reach it fail with EBADMSG", part->topic, part->index, file,
	       pos, why);
}

/* Opens (creating) the logs of partitions [from, to) into parts[]. On
 * failure frees the structs and, if fresh (the partitions are new, not
 * the existing ones of a topic being loaded), drops the logs it opened. */
static int partitions_open(struct broker *b, const char *name, const struct log_config *lc,
			   struct partition **parts, int from, int to, bool fresh)
{
	int p, rc = 0;

	for (p = from; p < to; p++) {
		bool opened;

		parts[p] = partition_new(p);
		if (!parts[p]) {
			rc = -ENOMEM;
			break;
		}
		rc = logmgr_get_log(b->m, name, p, lc, true, &parts[p]->log);
		opened = rc >= 0;
		if (rc >= 0) {
			parts[p]->topic = name;
			log_set_corrupt_listener(parts[p]->log, broker_corrupt_found, parts[p]);
			/* An already open log keeps the settings it was opened
			 * with: make it take the topic's. */
			rc = log_reconfigure(parts[p]->log, lc);
		}
		if (rc == 0)
			rc = become_leader(name, p, parts[p]->log);
		if (rc == 0) {
			parts[p]->b = b;
			parts[p]->topic = name;
			log_set_hw_listener(parts[p]->log, broker_hw_moved, parts[p]);
		}
		if (rc < 0) {
			mq_log(MQ_ERR, "topic %s: cannot open partition %d: %s", name, p,
			       strerror(-rc));
			/* Opened but not usable: the log manager must not keep
			 * it, nor its files stay for a later create to find. */
			if (opened && fresh)
				logmgr_drop_log(b->m, name, p);
			partition_free(parts[p]);
			parts[p] = NULL;
			break;
		}
	}
	if (rc < 0) {
		while (--p >= from) {
			if (fresh)
				logmgr_drop_log(b->m, name, p);
			partition_free(parts[p]);
			parts[p] = NULL;
		}
	}
	return rc;
}

/* Takes t->lock for reading and checks the topic and the partition; on
 * success the caller calls pthread_rwlock_unlock(&t->lock) when done. */
static int part_begin(struct topic *t, int partition, struct partition **out)
{
	pthread_rwlock_rdlock(&t->lock);
	if (atomic_load(&t->deleted) || partition < 0 || partition >= t->nparts) {
		pthread_rwlock_unlock(&t->lock);
		return -ENOENT;
	}
	*out = t->parts[partition];
	return 0;
}

/* part_begin, then a reference to the partition's log and the lock
 * released: for calls that do long I/O on the log (fsync). log_unref when
 * done. */
static int part_log(struct topic *t, int partition, struct partition **pt, struct log **l)
{
	int rc = part_begin(t, partition, pt);

	if (rc < 0)
		return rc;
	*l = (*pt)->log;
	log_ref(*l);
	pthread_rwlock_unlock(&t->lock);
	return 0;
}

/* Every partition of t with a reference to its log, and a copy of the
 * config, taken under t->lock: the scheduler and the cleaner then flush,
 * delete segments and clean without it, so that a .config write, chmod or
 * rmdir (which take the lock for writing, and make every later reader wait
 * behind them) never waits for that I/O. -ENOENT if t is deleted. Free
 * with parts_unref. */
struct part_ref {
	struct partition *pt;            /* lives as long as the topic */
	struct log *log;                 /* referenced */
};

static int parts_ref(struct topic *t, struct part_ref **out, int *n, struct topic_config *cfg)
{
	struct part_ref *r;
	int rc = 0;

	pthread_rwlock_rdlock(&t->lock);
	if (atomic_load(&t->deleted)) {
		rc = -ENOENT;
		goto out;
	}
	r = calloc((size_t)t->nparts + 1, sizeof(*r));
	if (!r) {
		rc = -ENOMEM;
		goto out;
	}
	for (int p = 0; p < t->nparts; p++) {
		r[p].pt = t->parts[p];
		r[p].log = t->parts[p]->log;
		log_ref(r[p].log);
	}
	*out = r;
	*n = t->nparts;
	*cfg = t->cfg;
out:
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

static void parts_unref(struct part_ref *r, int n)
{
	for (int p = 0; r && p < n; p++)
		log_unref(r[p].log);
	free(r);
}

/* ------------------------------------------------------------------ */
/* The catalog in memory */

/* Index of name, or -(insertion point) - 1. Needs cat_lock or admin_mu. */
static int cat_find(struct broker *b, const char *name)
{
	int lo = 0, hi = b->ntopics - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2, c = strcmp(b->topics[mid]->name, name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

/* Takes over the caller's reference. Needs admin_mu (or the broker not
 * yet shared). */
static int cat_insert(struct broker *b, struct topic *t)
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
	memmove(b->topics + i, b->topics + i + 1, (size_t)(b->ntopics - i - 1) * sizeof(*b->topics));
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

/* ------------------------------------------------------------------ */
/* Scheduler */

static void sched_flush_topic(struct topic *t, int64_t now)
{
	struct topic_config cfg;
	struct part_ref *r;
	int n;

	if (parts_ref(t, &r, &n, &cfg) < 0)
		return;
	for (int p = 0; p < n; p++) {
		struct partition *pt = r[p].pt;
		struct log_state st;
		int rc;

		/* Rolled segments are made durable here, not by the append. */
		rc = log_flush_closed(r[p].log);
		if (rc < 0 && rc != -ENOENT)
			mq_log_limited(MQ_ERR, "topic %s partition %d: flush of closed segments: %s",
				       t->name, p, strerror(-rc));
		if (cfg.log.flush_ms == INT64_MAX ||
		    now - atomic_load(&pt->last_flush_ms) < cfg.log.flush_ms)
			continue;
		log_get_state(r[p].log, &st);
		if (st.log_end_offset > st.recovery_point) {
			rc = log_flush(r[p].log, -1);
			if (rc < 0) {
				mq_log_limited(MQ_ERR, "topic %s partition %d: flush: %s",
					       t->name, p, strerror(-rc));
				continue;
			}
		}
		atomic_store(&pt->last_flush_ms, now);
	}
	parts_unref(r, n);
}

/* Retention of every partition of t (cleanup.policy with delete; the
 * engine checks the policy and the limits). Returns segments deleted. */
static int sched_retention_topic(struct broker *b, struct topic *t, int64_t now)
{
	struct topic_config cfg;
	struct part_ref *r;
	int n, deleted = 0;

	if (parts_ref(t, &r, &n, &cfg) < 0)
		return 0;
	for (int p = 0; p < n; p++) {
		struct log_retention_result res;
		int rc = log_retention_run(r[p].log, now, &res);

		if (rc < 0) {
			mq_log_limited(MQ_ERR, "topic %s partition %d: retention: %s",
				       t->name, p, strerror(-rc));
			continue;
		}
		if (rc == 0)
			continue;
		deleted += rc;
		atomic_fetch_add(&b->retention_segments, rc);
		atomic_fetch_add(&b->retention_bytes, res.bytes);
		mq_log(MQ_INFO, "topic %s partition %d: retention deleted %d segment(s), "
		       "%" PRId64 " bytes; log start offset %" PRId64, t->name, p, rc,
		       res.bytes, res.log_start_offset);
	}
	parts_unref(r, n);
	return deleted;
}

static void *sched_main(void *arg)
{
	struct broker *b = arg;
	int64_t tick = b->cfg.flush_scheduler_ms > 0 && b->cfg.flush_scheduler_ms < 1000
		       ? b->cfg.flush_scheduler_ms : 1000;
	int64_t last_ckpt = engine_now_ms();
	int64_t last_retention = last_ckpt;
	struct timespec ts;

	if (b->cfg.retention_check_ms < tick)
		tick = b->cfg.retention_check_ms;
	if (tick < 10)
		tick = 10;
	pthread_mutex_lock(&b->sched_mu);
	while (!b->sched_stop) {
		struct topic **topics;
		int64_t now;
		int n, rc;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += tick / 1000;
		ts.tv_nsec += (tick % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		while (!b->sched_stop &&
		       pthread_cond_timedwait(&b->sched_cv, &b->sched_mu, &ts) != ETIMEDOUT)
			;
		if (b->sched_stop)
			break;
		pthread_mutex_unlock(&b->sched_mu);

		now = engine_now_ms();
		bool retention = now - last_retention >= b->cfg.retention_check_ms;
		int deleted = 0;
		if (broker_topics_snapshot(b, &topics, &n) == 0) {
			for (int i = 0; i < n; i++)
				sched_flush_topic(topics[i], now);
			for (int i = 0; i < n && retention; i++)
				deleted += sched_retention_topic(b, topics[i], now);
			broker_topics_release(topics, n);
		}
		if (retention)
			last_retention = now;
		/* A new log start offset is checkpointed at once (Kafka does the
		 * same after deleting segments). */
		if (deleted > 0 || now - last_ckpt >= b->cfg.checkpoint_interval_ms) {
			rc = logmgr_checkpoint(b->m);
			if (rc < 0)
				mq_log_limited(MQ_ERR, "checkpoint: %s", strerror(-rc));
			last_ckpt = now;
		}
		pthread_mutex_lock(&b->sched_mu);
	}
	pthread_mutex_unlock(&b->sched_mu);
	return NULL;
}

static int sched_start(struct broker *b)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->sched_cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&b->sched, NULL, sched_main, b);
	if (rc != 0)
		return -rc;
	pthread_setname_np(b->sched, "mqfs-sched");
	b->sched_running = true;
	return 0;
}

static void sched_stop(struct broker *b)
{
	if (!b->sched_running)
		return;
	pthread_mutex_lock(&b->sched_mu);
	b->sched_stop = true;
	pthread_cond_signal(&b->sched_cv);
	pthread_mutex_unlock(&b->sched_mu);
	pthread_join(b->sched, NULL);
	b->sched_running = false;
}

/* ------------------------------------------------------------------ */
/* Log cleaner thread ("mqfs-cleaner"): every log.cleaner.backoff.ms, each
 * partition of a topic whose cleanup.policy has compact gets one log_clean
 * (the engine decides from min.cleanable.dirty.ratio and
 * min.compaction.lag.ms whether there is work); when something was
 * cleaned it looks again at once, as Kafka's cleaner does. It cleans
 * without the topic's lock, on references to the logs (parts_ref); a
 * delete meanwhile stops the clean (logmgr_drop_log). */

static int cleaner_topic(struct broker *b, struct topic *t)
{
	struct topic_config cfg;
	struct part_ref *r;
	int n, cleaned = 0;

	if (parts_ref(t, &r, &n, &cfg) < 0)
		return 0;
	for (int p = 0; p < n && (cfg.log.cleanup_policy & LOG_CLEANUP_COMPACT); p++) {
		struct log_clean_stats cs;
		/* The cleaner rewrites only segments below the recovery point;
		 * recovery must know that point too, so it is checkpointed first. */
		int rc = logmgr_checkpoint(b->m);
		if (rc == 0)
			rc = log_clean(r[p].log, engine_now_ms(), b->cfg.cleaner_dedupe_bytes,
				       false, &cs);

		if (rc == -ENOENT)
			break;                  /* the topic was deleted meanwhile */
		if (rc < 0) {
			atomic_fetch_add(&b->cleaner_errors, 1);
			mq_log_limited(MQ_ERR, "topic %s partition %d: log cleaner: %s%s", t->name, p,
				       strerror(-rc), rc == -ENOSPC ?
				       " (too many keys: raise log.cleaner.dedupe.buffer.size)" :
				       rc == -EBADMSG ? " (a corrupt batch: not compacted from its "
				       "segment on, nothing removed)" : "");
			continue;
		}
		if (rc == 0)
			continue;
		cleaned++;
		atomic_fetch_add(&b->cleaner_runs, 1);
		atomic_fetch_add(&b->cleaner_bytes_read, cs.bytes_read);
		atomic_fetch_add(&b->cleaner_bytes_written, cs.bytes_written);
		atomic_fetch_add(&b->cleaner_records_removed, cs.records_removed);
		atomic_fetch_add(&b->cleaner_ms, cs.elapsed_ms);
		mq_log(MQ_INFO, "topic %s partition %d: cleaned %d of %d segment(s): read %"
		       PRId64 " bytes, wrote %" PRId64 ", %" PRId64 " records removed, %" PRId64
		       " ms", t->name, p, cs.segments_rewritten, cs.segments_read, cs.bytes_read,
		       cs.bytes_written, cs.records_removed, cs.elapsed_ms);
	}
	parts_unref(r, n);
	return cleaned;
}

static void *cleaner_main(void *arg)
{
	struct broker *b = arg;
	int64_t wait = b->cfg.cleaner_backoff_ms;
	struct timespec ts;

	pthread_mutex_lock(&b->sched_mu);
	while (!b->cleaner_stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait / 1000;
		ts.tv_nsec += (wait % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		while (!b->cleaner_stop && wait > 0 &&
		       pthread_cond_timedwait(&b->cleaner_cv, &b->sched_mu, &ts) != ETIMEDOUT)
			;
		if (b->cleaner_stop)
			break;
		pthread_mutex_unlock(&b->sched_mu);

		struct topic **topics;
		int n, cleaned = 0;
		if (broker_topics_snapshot(b, &topics, &n) == 0) {
			for (int i = 0; i < n; i++)
				cleaned += cleaner_topic(b, topics[i]);
			broker_topics_release(topics, n);
		}
		wait = cleaned ? 0 : b->cfg.cleaner_backoff_ms;
		pthread_mutex_lock(&b->sched_mu);
	}
	pthread_mutex_unlock(&b->sched_mu);
	return NULL;
}

static int cleaner_start(struct broker *b)
{
	pthread_condattr_t ca;
	int rc;

	if (!b->cfg.cleaner_enable)
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cleaner_cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&b->cleaner, NULL, cleaner_main, b);
	if (rc != 0) {
		pthread_cond_destroy(&b->cleaner_cv);
		return -rc;
	}
	pthread_setname_np(b->cleaner, "mqfs-cleaner");
	b->cleaner_running = true;
	return 0;
}

static void cleaner_stop(struct broker *b)
{
	if (!b->cleaner_running)
		return;
	pthread_mutex_lock(&b->sched_mu);
	b->cleaner_stop = true;
	pthread_cond_signal(&b->cleaner_cv);
	pthread_mutex_unlock(&b->sched_mu);
	pthread_join(b->cleaner, NULL);
	pthread_cond_destroy(&b->cleaner_cv);
	b->cleaner_running = false;
}

/* ------------------------------------------------------------------ */
/* Open and close */

static int load_one(struct broker *b, const struct catalog_entry *e, const char *file, void *arg)
{
	struct topic *t;
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
	rc = partitions_open(b, t->name, &t->cfg.log, t->parts, 0, e->cfg.partitions, false);
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
static void orphan_add(struct broker *b, const char *topic, int partition)
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
static int orphans_drop(struct broker *b, const char *topic, int from)
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
			mq_log(MQ_ERR, "topic %s: cannot drop old log %s-%d: %s", topic,
			       o->topic, o->partition, strerror(-rc));
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

static int find_orphans(struct broker *b)
{
	char **topics = NULL;
	int *parts = NULL, n = 0, rc;

	rc = logmgr_found(b->m, &topics, &parts, &n);
	if (rc < 0)
		return rc;
	for (int i = 0; i < n; i++) {
		int ti = cat_find(b, topics[i]);

		if (!(ti >= 0 && parts[i] < b->topics[ti]->nparts)) {
			mq_log(MQ_WARN, "log %s-%d belongs to no topic (interrupted delete?): "
			       "left in place", topics[i], parts[i]);
			orphan_add(b, topics[i], parts[i]);
		}
		free(topics[i]);
	}
	free(topics);
	free(parts);
	return 0;
}

static int broker_free(struct broker *b, bool abandon);

int broker_open(const struct broker_config *cfg, struct broker **out)
{
	struct broker *b;
	const struct io_ops *io;
	char dir[sizeof(b->meta_dir)];
	int rc;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->cfg = *cfg;
	b->open_ms = engine_now_ms();
	atomic_init(&b->next_topic_id, 1);
	pthread_mutex_init(&b->admin_mu, NULL);
	rwlock_init_wpref(&b->cat_lock);
	pthread_mutex_init(&b->pool_mu, NULL);
	pthread_mutex_init(&b->sched_mu, NULL);
	pthread_mutex_init(&b->orphan_mu, NULL);
	pthread_mutex_init(&b->hw_mu, NULL);

	produce_broker_init(b);
	/* What the engine finds on disk goes to the daemon's log. */
	engine_log = mq_log;
	rc = logmgr_open(cfg->data_dir, cfg->io ? cfg->io : &io_posix, &b->m);
	if (rc == -EWOULDBLOCK) {
		int pid = logmgr_lock_owner(cfg->data_dir);

		if (pid > 0)
			mq_log(MQ_ERR, "data directory %s is in use by another mqfs (pid %d holds "
			       "%s/.lock): not starting a second one on it", cfg->data_dir, pid,
			       cfg->data_dir);
		else
			mq_log(MQ_ERR, "data directory %s is in use by another mqfs (%s/.lock is "
			       "locked): not starting a second one on it", cfg->data_dir,
			       cfg->data_dir);
		goto fail;
	}
	if (rc < 0) {
		mq_log(MQ_ERR, "cannot open data directory %s: %s", cfg->data_dir, strerror(-rc));
		goto fail;
	}
	io = logmgr_io(b->m);
	if (snprintf(dir, sizeof(dir), "%s/meta", logmgr_dir(b->m)) >= (int)sizeof(dir) - 16 ||
	    snprintf(b->meta_dir, sizeof(b->meta_dir), "%s/topics", dir) >=
	    (int)sizeof(b->meta_dir)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	rc = mkdir_p2(io, logmgr_dir(b->m), dir);
	/* No meta/ yet: a new data directory, not an unclean shutdown. */
	b->fresh = rc == 1;
	if (rc >= 0)
		rc = mkdir_p2(io, dir, b->meta_dir);
	if (rc < 0) {
		mq_log(MQ_ERR, "cannot create %s: %s", b->meta_dir, strerror(-rc));
		goto fail;
	}
	rc = catalog_load(b, load_one, NULL);
	if (rc < 0)
		goto fail;
	rc = find_orphans(b);
	if (rc < 0)
		goto fail;
	rc = group_coord_open(b);
	if (rc < 0)
		goto fail;
	rc = sched_start(b);
	if (rc == 0)
		rc = cleaner_start(b);
	if (rc < 0)
		goto fail;
	mq_log(MQ_INFO, "broker %d: %s opened, %d topics, %s", cfg->broker_id,
	       logmgr_dir(b->m), b->ntopics, b->fresh ? "new data directory" :
	       logmgr_was_clean(b->m) ? "last shutdown clean" :
	       "last shutdown unclean: logs recovered");
	*out = b;
	return 0;
fail:
	/* Not logmgr_close(): its checkpoints would list only the logs
	 * opened so far. Nothing was appended: the data directory is as the
	 * open found it, clean-shutdown marker included. */
	broker_free(b, true);
	return rc;
}

int broker_close(struct broker *b)
{
	return broker_free(b, false);
}

static int broker_free(struct broker *b, bool abandon)
{
	char why[2 * PATH_MAX + 128];
	int rc = 0;

	if (!b)
		return 0;
	cleaner_stop(b);
	sched_stop(b);
	group_coord_close(b);
	/* Holders of a reference from now on get -ENOENT; taking each lock
	 * for writing waits for the calls in flight. */
	for (int i = 0; i < b->ntopics; i++) {
		struct topic *t = b->topics[i];

		pthread_rwlock_wrlock(&t->lock);
		atomic_store(&t->deleted, true);
		pthread_rwlock_unlock(&t->lock);
		topic_put(t);
	}
	free(b->topics);
	if (b->m && abandon) {
		logmgr_close_refused(b->m);
	} else if (b->m) {
		rc = logmgr_shutdown(b->m, why, sizeof(why));
		if (rc < 0)
			mq_log(MQ_ERR, "clean stop failed: %s; no clean-shutdown marker written, "
			       "the next start recovers the logs", why);
	}
	for (int i = 0; i < b->norphans; i++)
		free(b->orphans[i].topic);
	free(b->orphans);
	broker_pool_free(b);
	produce_broker_destroy(b);
	pthread_mutex_destroy(&b->admin_mu);
	pthread_rwlock_destroy(&b->cat_lock);
	pthread_mutex_destroy(&b->pool_mu);
	pthread_mutex_destroy(&b->sched_mu);
	pthread_mutex_destroy(&b->orphan_mu);
	pthread_mutex_destroy(&b->hw_mu);
	if (b->sched_running)
		pthread_cond_destroy(&b->sched_cv);
	free(b);
	return rc;
}

const struct broker_config *broker_cfg(struct broker *b)
{
	return &b->cfg;
}

/* ------------------------------------------------------------------ */
/* Create, delete, look up */

int broker_topic_create(struct broker *b, const char *name, uid_t uid, gid_t gid,
			mode_t mode, struct topic **out)
{
	struct topic_config tc;
	struct topic *t = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (!topic_name_valid(name))
		return -EINVAL;
	pthread_mutex_lock(&b->admin_mu);
	if (cat_find(b, name) >= 0) {
		rc = -EEXIST;
		goto out;
	}
	catalog_default_config(b, &tc);
	t = topic_new(b, name, &tc, uid, gid, mode, engine_now_ms());
	if (!t) {
		rc = -ENOMEM;
		goto out;
	}
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
	rc = partitions_open(b, t->name, &t->cfg.log, t->parts, 0, tc.partitions, true);
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
	t = NULL;                      /* the catalog's reference now */
out:
	pthread_mutex_unlock(&b->admin_mu);
	topic_put(t);
	return rc;
}

int broker_topic_delete(struct broker *b, const char *name)
{
	struct topic *t;
	int i, rc, nparts;

	pthread_mutex_lock(&b->admin_mu);
	i = cat_find(b, name);
	if (i < 0) {
		pthread_mutex_unlock(&b->admin_mu);
		return -ENOENT;
	}
	t = b->topics[i];
	pthread_rwlock_wrlock(&t->lock);
	rc = catalog_remove(b, t->meta_file);
	if (rc < 0) {
		mq_log(MQ_ERR, "topic %s: cannot remove its metadata: %s", name, strerror(-rc));
		pthread_rwlock_unlock(&t->lock);
		pthread_mutex_unlock(&b->admin_mu);
		return rc;
	}
	atomic_store(&t->deleted, true);
	cat_remove(b, i);
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
	/* Still under admin_mu: no topic of the name can be made before its
	 * groups are gone. */
	group_topic_deleted(b, name);
	pthread_mutex_unlock(&b->admin_mu);
	mq_log(MQ_INFO, "topic %s: deleted", name);
	topic_put(t);
	return 0;
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

int broker_topic_list(struct broker *b, char ***names, int *n)
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
		if (strncmp(b->topics[i]->name, "__", 2) == 0)
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

int topic_set_owner(struct topic *t, uid_t uid, gid_t gid, mode_t mode)
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

int topic_line_check(struct topic *t, const char *line, size_t len, bool ended)
{
	struct line_rules lr;
	struct rec_in r;
	int rc = 0;

	pthread_rwlock_rdlock(&t->lock);
	lr.sep = t->cfg.log.key_sep;
	lr.sep_len = t->cfg.log.key_sep_len;
	lr.max = log_max_record_payload(&t->cfg.log);
	/* An unfinished line only grows: past the limit plus a separator (a
	 * keyed line's separator is not payload) it can never fit. */
	if (!ended)
		rc = (int64_t)len > lr.max + lr.sep_len ? -EMSGSIZE : 0;
	else if ((int64_t)len > lr.max && !line_to_rec(&lr, line, line + len, &r))
		rc = -EMSGSIZE;
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

/* ------------------------------------------------------------------ */
/* .config */

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

int topic_config_write(struct topic *t, const char *text, size_t len)
{
	struct broker *b = t->b;
	struct topic_config nc;
	struct partition **parts = NULL;
	char err[256];
	int rc, old_n, new_n, p = 0;
	bool log_changed;

	pthread_rwlock_wrlock(&t->lock);
	if (atomic_load(&t->deleted)) {
		rc = -ENOENT;
		goto out;
	}
	nc = t->cfg;
	err[0] = '\0';
	rc = topic_config_apply(&nc, text, len, err, sizeof(err));
	if (rc < 0) {
		mq_log_limited(MQ_WARN, "topic %s: .config refused: %s", t->name, err);
		goto out;
	}
	if (nc.log.key_sep_len != t->cfg.log.key_sep_len ||
	    memcmp(nc.log.key_sep, t->cfg.log.key_sep, (size_t)nc.log.key_sep_len) != 0) {
		for (int i = 0; i < t->nparts; i++) {
			if (log_ever_written(t->parts[i]->log)) {
				mq_log_limited(MQ_WARN, "topic %s: .config refused: key.separator "
					       "is fixed once the topic has records", t->name);
				rc = -EBUSY;
				goto out;
			}
		}
	}
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
		rc = orphans_drop(b, t->name, old_n);
		if (rc == 0)
			rc = partitions_open(b, t->name, &nc.log, parts, old_n, new_n, true);
		if (rc < 0)
			goto out;
	}
	/* 2. the existing logs take the new settings */
	log_changed = memcmp(&nc.log, &t->cfg.log, sizeof(nc.log)) != 0;
	for (p = 0; log_changed && p < old_n; p++) {
		rc = log_reconfigure(parts[p]->log, &nc.log);
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
	free(t->parts);
	t->parts = parts;
	t->nparts = new_n;
	parts = NULL;
	goto out;
undo:
	while (--p >= 0)
		log_reconfigure(parts[p]->log, &t->cfg.log);
	for (p = old_n; p < new_n; p++) {
		logmgr_drop_log(b->m, t->name, p);
		partition_free(parts[p]);
	}
out:
	pthread_rwlock_unlock(&t->lock);
	free(parts);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reading: thin wrappers with the partition checks */

int topic_fsync(struct topic *t, int partition)
{
	struct partition *pt;
	struct log *l;
	int rc = part_log(t, partition, &pt, &l);

	if (rc < 0)
		return rc;
	rc = log_flush(l, -1);
	if (rc == 0)
		atomic_store(&pt->last_flush_ms, engine_now_ms());
	log_unref(l);
	return rc;
}

int64_t topic_line_size(struct topic *t, int partition)
{
	struct partition *pt;
	struct log_state st;
	int rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	log_get_state(pt->log, &st);
	pthread_rwlock_unlock(&t->lock);
	return st.line_hw;
}

int topic_log_state(struct topic *t, int partition, struct log_state *st)
{
	struct partition *pt;
	int rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	log_get_state(pt->log, st);
	pthread_rwlock_unlock(&t->lock);
	return 0;
}

int topic_cursor_new(struct topic *t, int partition, struct log_cursor **out)
{
	struct partition *pt;
	int rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	*out = log_cursor_new(pt->log);
	pthread_rwlock_unlock(&t->lock);
	return *out ? 0 : -ENOMEM;
}

void topic_cursor_free(struct topic *t, int partition, struct log_cursor *c)
{
	/* A cursor outlives its log (the engine keeps the files it holds). */
	(void)t;
	(void)partition;
	log_cursor_free(c);
}

ssize_t topic_read_lines(struct topic *t, int partition, struct log_cursor *c,
			 int64_t pos, char *buf, size_t size, int64_t *actual_pos)
{
	struct partition *pt;
	ssize_t rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	int64_t lines = log_cursor_lines(c);
	rc = log_read_lines(pt->log, c, pos, buf, size, actual_pos);
	if (rc > 0)
		partition_count_out(pt, log_cursor_lines(c) - lines, (size_t)rc);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

void partition_count_out(struct partition *pt, int64_t lines, size_t n)
{
	atomic_fetch_add_explicit(&pt->records_out, lines, memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->bytes_out, (int64_t)n, memory_order_relaxed);
}

int topic_segments(struct topic *t, int partition, int64_t **bases, int *n)
{
	struct partition *pt;
	int rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	rc = log_segments(pt->log, bases, n);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int64_t topic_segment_size(struct topic *t, int partition, int64_t base, enum seg_file kind)
{
	struct partition *pt;
	struct log *l;
	int64_t rc = part_log(t, partition, &pt, &l);

	if (rc < 0)
		return rc;
	/* Without the topic's lock: a rendering's size may read a segment. */
	rc = log_segment_size(l, base, kind);
	log_unref(l);
	return rc;
}

ssize_t topic_segment_read_raw(struct topic *t, int partition, int64_t base, char *buf,
			       size_t size, int64_t off)
{
	struct partition *pt;
	ssize_t rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	rc = log_segment_read_raw(pt->log, base, buf, size, off);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

ssize_t topic_segment_render(struct topic *t, int partition, int64_t base,
			     enum seg_file kind, int64_t *cursor, char *buf, size_t size)
{
	struct partition *pt;
	ssize_t rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	rc = log_segment_render(pt->log, base, kind, cursor, buf, size);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}
