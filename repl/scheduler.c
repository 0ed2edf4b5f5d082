/*
 * scheduler.c — the scheduler thread ("mqfs-sched"): wakes every
 * min(log.flush.scheduler.interval.ms, log.retention.check.interval.ms,
 * 1 s); unlinks the files of segments removed file.delete.delay.ms ago
 * (log_delete_due); flushes the closed segments of every log, and each log whose
 * flush.ms has passed since its last flush and that has unflushed
 * records; every log.retention.check.interval.ms runs retention and
 * forgets the idempotent producers expired (producer.id.expiration.ms); every
 * log.flush.offset.checkpoint.interval.ms (and at once after retention
 * deleted a segment) writes the checkpoint files. It works on log
 * references taken with parts_ref, without the topic's lock. A flush,
 * a retention or a checkpoint that fails is logged and, in a cluster,
 * fails the log directory when the disk failed (broker_storage_failed);
 * the thread goes on either way. Once the directory is offline it writes
 * nothing there any more (broker_dir_offline, checked before each
 * partition and before the checkpoints): no flush, no retention, no
 * delayed unlink, no checkpoint (the files waiting for their delay go at
 * the stop, with the logs), as Kafka's LogManager leaves an offline directory's logs
 * out of its scheduled work. What lives in memory goes on: the expiry of
 * idempotent producers, and letting go of the groups' read copies.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/broker_int.h"
#include "util/clock.h"

/* Whether rc is a flush error of pt not logged yet: a failed fsync is
 * returned again by every flush until a restart (seg.c), and the engine
 * said what it means when it happened. */
static bool sched_flush_err_new(struct partition *pt, int rc)
{
	if (pt->sched_flush_err == rc)
		return false;
	pt->sched_flush_err = rc;
	return true;
}

/* now: the wall clock (log_delete_due compares it with the times the
 * engine kept); mono: the monotonic clock, which last_flush_ms is on;
 * ckpt_budget: the tick's bytes of batch headers for the producer
 * checkpoints of segments just rolled (log_producer_checkpoint_rolled). */
static void sched_flush_topic(struct topic *t, int64_t now, int64_t mono, int64_t *ckpt_budget)
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

		if (!r[p].log)
			continue; /* no replica here */
		/* A copy the groups read while this replica lagged out of the
		 * ISR is let go once the replica serves reads again, also when
		 * no group reads the partition meanwhile. */
		if (atomic_load(&pt->obs_log))
			(void)topic_group_settle(t, p);
		if (broker_dir_offline(t->b, BROKER_DIR_SCHEDULER))
			continue;
		/* Files of removed segments, once file.delete.delay.ms is out. */
		(void)log_delete_due(r[p].log, now);
		/* Rolled segments are made durable here, not by the append. */
		rc = log_flush_closed(r[p].log);
		if (rc < 0 && rc != -ENOENT) {
			if (sched_flush_err_new(pt, rc))
				mq_log_limited(
					MQ_ERR,
					"topic %s partition %d: flush of closed segments: %s",
					t->name, p, strerror(-rc));
			(void)broker_storage_failed(t->b, t->name, p, rc);
		}
		/* The producer checkpoint of a segment just closed behind the
		 * hw and flushed, its headers likely still in the page cache
		 * (prodsnap.c); logs further behind catch up at the retention
		 * checks' budget. A failure counts as the retention check's. */
		if (rc >= 0) {
			int crc = log_producer_checkpoint_rolled(r[p].log, ckpt_budget);
			if (crc < 0 && crc != -ENOENT)
				(void)broker_storage_failed(t->b, t->name, p, crc);
		}
		bool closed_ok = rc >= 0 || rc == -ENOENT;
		if (cfg.log.flush_ms == INT64_MAX ||
		    mono - atomic_load(&pt->last_flush_ms) < cfg.log.flush_ms) {
			if (closed_ok)
				pt->sched_flush_err = 0;
			continue;
		}
		log_get_state(r[p].log, &st);
		if (st.log_end_offset > st.recovery_point) {
			rc = log_flush(r[p].log, -1);
			if (rc < 0) {
				if (sched_flush_err_new(pt, rc))
					mq_log_limited(MQ_ERR, "topic %s partition %d: flush: %s",
						       t->name, p, strerror(-rc));
				(void)broker_storage_failed(t->b, t->name, p, rc);
				continue;
			}
		}
		if (closed_ok)
			pt->sched_flush_err = 0;
		atomic_store(&pt->last_flush_ms, mono);
	}
	parts_unref(r, n);
}

/* Forgets the idempotent producers of partition p that have not written
 * for producer.id.expiration.ms (producer_state.h). */
static void sched_expire_producers(struct broker *b, struct topic *t, int p,
				   struct producer_state *ps, int64_t now)
{
	int gone;

	pthread_mutex_lock(&ps->mu);
	gone = producer_state_expire(ps, now, b->cfg.producer_id_expiration_ms);
	pthread_mutex_unlock(&ps->mu);
	if (gone > 0)
		mq_log(MQ_INFO,
		       "topic %s partition %d: %d producer id(s) forgotten: no batch for "
		       "producer.id.expiration.ms (%" PRId64 ")",
		       t->name, p, gone, b->cfg.producer_id_expiration_ms);
}

/* Retention of every partition of t (cleanup.policy with delete; the
 * engine checks the policy and the limits), and the expiry of its
 * idempotent producers. Returns segments deleted. */
static int sched_retention_topic(struct broker *b, struct topic *t, int64_t now,
				 int64_t *ckpt_budget)
{
	struct topic_config cfg;
	struct part_ref *r;
	int n, deleted = 0;

	if (parts_ref(t, &r, &n, &cfg) < 0)
		return 0;
	for (int p = 0; p < n; p++) {
		struct log_retention_result res;
		int rc;

		sched_expire_producers(b, t, p, &r[p].pt->pstate, now);
		rc = r[p].log && !broker_dir_offline(b, BROKER_DIR_SCHEDULER)
			     ? log_retention_run(r[p].log, now, &res)
			     : 0;
		if (rc < 0) {
			/* -ENOENT: the topic was deleted meanwhile, no failure. */
			mq_log_limited(MQ_ERR, "topic %s partition %d: retention: %s", t->name, p,
				       strerror(-rc));
			(void)broker_storage_failed(b, t->name, p, rc);
			continue;
		}
		/* A producer state load after this scans only the segments
		 * from the newest one behind the hw (prodsnap.c). The engine
		 * logs a failure; in a cluster an I/O error there fails the
		 * log directory as retention's does (Kafka's snapshot write
		 * meeting an IOException). */
		if (r[p].log && !broker_dir_offline(b, BROKER_DIR_SCHEDULER)) {
			int crc = log_producer_checkpoint(r[p].log, ckpt_budget);

			if (crc < 0 && crc != -ENOENT)
				(void)broker_storage_failed(b, t->name, p, crc);
		}
		if (rc == 0)
			continue;
		deleted += rc;
		broker_records_removed(b, t, p);
		atomic_fetch_add(&b->retention_segments, rc);
		atomic_fetch_add(&b->retention_bytes, res.bytes);
		mq_log(MQ_INFO,
		       "topic %s partition %d: retention deleted %d segment(s), "
		       "%" PRId64 " bytes; log start offset %" PRId64,
		       t->name, p, rc, res.bytes, res.log_start_offset);
	}
	parts_unref(r, n);
	return deleted;
}

static void *sched_main(void *arg)
{
	struct broker *b = arg;
	int64_t tick = b->cfg.flush_scheduler_ms > 0 && b->cfg.flush_scheduler_ms < 1000
			       ? b->cfg.flush_scheduler_ms
			       : 1000;
	/* The intervals (retention check, checkpoint, flush.ms) are measured
	 * on the monotonic clock: on the wall clock a step back would hold
	 * them all off for as long as the step, a step forward would run them
	 * at once. The wall clock (now) is only what retention and the file
	 * deletion delay compare with the times they keep. */
	int64_t last_ckpt = now_mono_ms();
	int64_t last_retention = last_ckpt;
	struct timespec ts;

	if (b->cfg.retention_check_ms < tick)
		tick = b->cfg.retention_check_ms;
	if (tick < 10)
		tick = 10;
	pthread_mutex_lock(&b->sched_mu);
	while (!b->sched_stop) {
		struct topic **topics;
		int64_t now, mono;
		int n;

		deadline_from_ms(CLOCK_MONOTONIC, tick, &ts);
		while (!b->sched_stop &&
		       pthread_cond_timedwait(&b->sched_cv, &b->sched_mu, &ts) != ETIMEDOUT)
			;
		if (b->sched_stop)
			break;
		pthread_mutex_unlock(&b->sched_mu);

		now = engine_now_ms();
		mono = now_mono_ms();
		bool retention = mono - last_retention >= b->cfg.retention_check_ms;
		int deleted = 0;
		/* The batch headers the producer checkpoints of one retention
		 * check may read (prodsnap.c): logs that have none yet are
		 * caught up over several checks, a few seconds each at most. */
		int64_t ckpt_budget = LOG_CHECKPOINT_SCAN_BYTES,
			rolled_budget = LOG_CHECKPOINT_SCAN_BYTES;
		if (broker_topics_snapshot(b, &topics, &n) == 0) {
			for (int i = 0; i < n; i++)
				sched_flush_topic(topics[i], now, mono, &rolled_budget);
			for (int i = 0; i < n && retention; i++)
				deleted += sched_retention_topic(b, topics[i], now, &ckpt_budget);
			broker_topics_release(topics, n);
		}
		if (retention)
			last_retention = mono;
		/* A new log start offset is checkpointed at once (Kafka does the
		 * same after deleting segments). */
		if ((deleted > 0 || mono - last_ckpt >= b->cfg.checkpoint_interval_ms) &&
		    !broker_dir_offline(b, BROKER_DIR_SCHEDULER)) {
			(void)broker_checkpoint(b, "scheduler");
			last_ckpt = mono;
		}
		atomic_fetch_add(&b->sched_passes, 1);
		pthread_mutex_lock(&b->sched_mu);
	}
	pthread_mutex_unlock(&b->sched_mu);
	return NULL;
}

int scheduler_start(struct broker *b)
{
	int rc = broker_thread_start(b, &b->sched, &b->sched_cv, sched_main, "mqfs-sched");

	b->sched_running = rc == 0;
	return rc;
}

void scheduler_stop(struct broker *b)
{
	if (!b->sched_running)
		return;
	broker_thread_stop(b, b->sched, &b->sched_stop, &b->sched_cv);
	b->sched_running = false;
}
