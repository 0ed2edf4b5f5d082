/*
 * cleaner_thread.c — the log cleaner thread ("mqfs-cleaner"), which runs
 * the engine's compaction (log_clean) on the topics whose cleanup.policy
 * has compact, and counts its work for MNT/.metrics.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/broker_int.h"
#include "util/clock.h"

/* Every log.cleaner.backoff.ms, each
 * partition of a topic whose cleanup.policy has compact gets one log_clean
 * (the engine decides from min.cleanable.dirty.ratio and
 * min.compaction.lag.ms whether there is work); when something was
 * cleaned it looks again at once, as Kafka's cleaner does. It cleans
 * without the topic's lock, on references to the logs (parts_ref); a
 * delete meanwhile stops the clean (logmgr_drop_log). A clean or a
 * checkpoint that meets a storage failure is logged and counted
 * (mqfs_cleaner_errors_total) and, in a cluster, fails the log directory
 * (broker_storage_failed). Once the directory is offline the cleaner
 * skips every log there (broker_dir_offline, checked before each
 * partition's checkpoint and clean), as Kafka's cleaner aborts and skips
 * the logs of a failed directory (LogCleaner.handleLogDirFailure). */

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
		int rc;

		if (!r[p].log)
			continue; /* no replica here */
		if (broker_dir_offline(b, BROKER_DIR_CLEANER))
			break;
		rc = broker_checkpoint(b, "log cleaner");
		if (rc < 0) {
			atomic_fetch_add(&b->cleaner_errors, 1);
			continue;
		}
		rc = log_clean(r[p].log, engine_now_ms(), atomic_load(&b->cleaner_dedupe_bytes),
			       false, &cs);
		if (rc == -ENOENT)
			break; /* the topic was deleted meanwhile */
		if (rc < 0) {
			atomic_fetch_add(&b->cleaner_errors, 1);
			mq_log_limited(
				MQ_ERR, "topic %s partition %d: log cleaner: %s%s", t->name, p,
				strerror(-rc),
				rc == -ENOBUFS
					? " (too many keys: raise log.cleaner.dedupe.buffer.size)"
				: rc == -EBADMSG ? " (a corrupt batch: not compacted from its "
						   "segment on, nothing removed)"
						 : "");
			/* Kafka's cleaner fails the log directory on an
			 * IOException; a corrupt batch or too many keys are
			 * not the disk's. */
			(void)broker_storage_failed(b, t->name, p, rc);
			continue;
		}
		if (rc == 0)
			continue;
		cleaned++;
		if (cs.records_removed > 0)
			broker_records_removed(b, t, p);
		atomic_fetch_add(&b->cleaner_runs, 1);
		atomic_fetch_add(&b->cleaner_bytes_read, cs.bytes_read);
		atomic_fetch_add(&b->cleaner_bytes_written, cs.bytes_written);
		atomic_fetch_add(&b->cleaner_records_removed, cs.records_removed);
		atomic_fetch_add(&b->cleaner_ms, cs.elapsed_ms);
		mq_log(MQ_INFO,
		       "topic %s partition %d: cleaned %d of %d segment(s): read %" PRId64
		       " bytes, wrote %" PRId64 ", %" PRId64 " records removed, %" PRId64 " ms",
		       t->name, p, cs.segments_rewritten, cs.segments_read, cs.bytes_read,
		       cs.bytes_written, cs.records_removed, cs.elapsed_ms);
	}
	parts_unref(r, n);
	return cleaned;
}

static void *cleaner_main(void *arg)
{
	struct broker *b = arg;
	int64_t wait = atomic_load(&b->cleaner_backoff_ms);
	struct timespec ts;

	pthread_mutex_lock(&b->sched_mu);
	while (!b->cleaner_stop) {
		deadline_from_ms(CLOCK_MONOTONIC, wait, &ts);
		while (!b->cleaner_stop && !b->cleaner_reconfigured && wait > 0 &&
		       pthread_cond_timedwait(&b->cleaner_cv, &b->sched_mu, &ts) != ETIMEDOUT)
			;
		if (b->cleaner_stop)
			break;
		/* A dynamic change of its settings (cleaner_reconfigure) starts
		 * a pass at once, then the new backoff, as Kafka's cleaner
		 * threads, restarted on a change, begin with a pass. */
		b->cleaner_reconfigured = false;
		pthread_mutex_unlock(&b->sched_mu);

		struct topic **topics;
		int n, cleaned = 0;
		if (broker_topics_snapshot(b, &topics, &n) == 0) {
			for (int i = 0; i < n; i++)
				cleaned += cleaner_topic(b, topics[i]);
			broker_topics_release(topics, n);
		}
		wait = cleaned ? 0 : atomic_load(&b->cleaner_backoff_ms);
		atomic_fetch_add(&b->cleaner_passes, 1);
		pthread_mutex_lock(&b->sched_mu);
	}
	pthread_mutex_unlock(&b->sched_mu);
	return NULL;
}

void cleaner_reconfigure(struct broker *b, int64_t backoff_ms, int64_t dedupe_bytes)
{
	int64_t old_backoff = atomic_exchange(&b->cleaner_backoff_ms, backoff_ms);
	int64_t old_dedupe = atomic_exchange(&b->cleaner_dedupe_bytes, dedupe_bytes);

	if (old_backoff == backoff_ms && old_dedupe == dedupe_bytes)
		return;
	mq_log(MQ_INFO,
	       "log cleaner: reconfigured: log.cleaner.backoff.ms %" PRId64
	       ", log.cleaner.dedupe.buffer.size %" PRId64,
	       backoff_ms, dedupe_bytes);
	pthread_mutex_lock(&b->sched_mu);
	b->cleaner_reconfigured = true;
	pthread_cond_broadcast(&b->cleaner_cv);
	pthread_mutex_unlock(&b->sched_mu);
}

int cleaner_thread_start(struct broker *b)
{
	int rc;

	if (!b->cfg.cleaner_enable)
		return 0;
	rc = broker_thread_start(b, &b->cleaner, &b->cleaner_cv, cleaner_main, "mqfs-cleaner");
	b->cleaner_running = rc == 0;
	return rc;
}

void cleaner_thread_stop(struct broker *b)
{
	if (!b->cleaner_running)
		return;
	broker_thread_stop(b, b->cleaner, &b->cleaner_stop, &b->cleaner_cv);
	b->cleaner_running = false;
}
