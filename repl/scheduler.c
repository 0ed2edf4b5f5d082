/*
 * scheduler.c — the scheduler thread ("mqfs-sched"): sleeps to its next
 * deadline (sched_main), and while a log has work for it (a roll, a
 * removal: the logs' work listener wakes it) passes every
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

/* What a pass found still to do: the next one's time. */
struct sched_next {
	bool tick;         /* work for the next tick (a second at most) */
	int64_t mono_due;  /* the earliest flush.ms, monotonic ms */
	int64_t wall_due;  /* the earliest file deletion, wall-clock ms */
	int64_t flush_min; /* no flush.ms deadline before it: the tick's */
};

/* Notes in nx what pt's log has left to do after the pass (log_sched_next)
 * and when its flush.ms comes. */
static void sched_note_next(struct partition *pt, struct log *l, const struct topic_config *cfg,
			    struct sched_next *nx)
{
	int64_t due;

	nx->tick |= log_sched_next(l, &due);
	if (due < nx->wall_due)
		nx->wall_due = due;
	if (cfg->log.flush_ms == INT64_MAX)
		return;
	due = atomic_load(&pt->last_flush_ms);
	due = cfg->log.flush_ms < INT64_MAX - due ? due + cfg->log.flush_ms : INT64_MAX;
	if (due < nx->flush_min)
		due = nx->flush_min;
	if (due < nx->mono_due)
		nx->mono_due = due;
}

/* now: the wall clock (log_delete_due compares it with the times the
 * engine kept); mono: the monotonic clock, which last_flush_ms is on;
 * ckpt_budget: the tick's bytes of batch headers for the producer
 * checkpoints of segments just rolled (log_producer_checkpoint_rolled);
 * nx: what is left, for the next pass's time. */
static void sched_flush_topic(struct topic *t, int64_t now, int64_t mono, int64_t *ckpt_budget,
			      struct sched_next *nx)
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
		if (atomic_load(&pt->obs_log)) {
			(void)topic_group_settle(t, p);
			nx->tick |= atomic_load(&pt->obs_log) != NULL;
		}
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
			sched_note_next(pt, r[p].log, &cfg, nx);
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
				nx->tick = true; /* tried again at the next tick */
				continue;
			}
		}
		if (closed_ok)
			pt->sched_flush_err = 0;
		atomic_store(&pt->last_flush_ms, mono);
		sched_note_next(pt, r[p].log, &cfg, nx);
	}
	parts_unref(r, n);
}

/* Forgets the idempotent producers of partition p that have not written
 * for producer.id.expiration.ms (producer_state.h). */
static void sched_expire_producers(struct broker *b, struct topic *t, int p,
				   struct producer_state *ps, int64_t now)
{
	/* The value in effect at this check (a dynamic change applies at the
	 * next one, as Kafka's ProducerStateManager reads its config). */
	int64_t expiration = __atomic_load_n(&b->producer_id_expiration_ms, __ATOMIC_RELAXED);
	int gone;

	pthread_mutex_lock(&ps->mu);
	gone = producer_state_expire(ps, now, expiration);
	pthread_mutex_unlock(&ps->mu);
	if (gone > 0)
		mq_log(MQ_INFO,
		       "topic %s partition %d: %d producer id(s) forgotten: no batch for "
		       "producer.id.expiration.ms (%" PRId64 ")",
		       t->name, p, gone, expiration);
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

void broker_sched_kick(struct broker *b)
{
	pthread_mutex_lock(&b->sched_mu);
	b->sched_kicked = true;
	/* Not once the stop began (sched_stop, set under sched_mu): the
	 * stop destroys sched_cv after the join, while the cluster's
	 * threads, stopped after the scheduler, may still kick (a roll, a
	 * failed log directory). */
	if (!b->sched_stop)
		pthread_cond_signal(&b->sched_cv);
	pthread_mutex_unlock(&b->sched_mu);
}

void broker_sched_log_work(void *arg)
{
	broker_sched_kick(arg);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Waits, sched_mu held, until monotonic ms wake, a stop, or a kick that
 * brings it to within the tick of the last pass (pass) and then to
 * that. */
static void sched_sleep(struct broker *b, int64_t wake, int64_t pass, int64_t tick)
{
	struct timespec ts;

	atomic_store(&b->sched_sleep_ms, wake == INT64_MAX ? -1 : wake - now_mono_ms());
	for (;;) {
		int64_t now;

		if (b->sched_kicked) {
			b->sched_kicked = false;
			wake = min64(wake, pass + tick);
		}
		now = now_mono_ms();
		if (b->sched_stop || now >= wake)
			return;
		if (wake == INT64_MAX) {
			pthread_cond_wait(&b->sched_cv, &b->sched_mu);
			continue;
		}
		deadline_from_ms(CLOCK_MONOTONIC, wake - now, &ts);
		(void)pthread_cond_timedwait(&b->sched_cv, &b->sched_mu, &ts);
	}
}

/* The scheduler sleeps to its next deadline (the retention check, the
 * checkpoint, a flush.ms, a removed segment's file deletion), as Kafka's
 * KafkaScheduler runs each task at its time; a log's work (a roll, a
 * removal: the work listener), a new partition or topic settings wake
 * it to its tick, which it keeps while a pass leaves work (closed
 * segments to flush, a rolled checkpoint waiting for the hw, a groups'
 * copy to let go, a flush to try again). */
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
	int64_t last_pass = last_ckpt;

	if (b->cfg.retention_check_ms < tick)
		tick = b->cfg.retention_check_ms;
	if (tick < 10)
		tick = 10;
	pthread_mutex_lock(&b->sched_mu);
	/* The first pass a tick after the start, as before any deadline is
	 * known. */
	sched_sleep(b, last_pass + tick, last_pass, tick);
	while (!b->sched_stop) {
		struct topic **topics;
		int64_t now, mono, wake;
		int n;

		b->sched_kicked = false; /* this pass sees what it was for */
		pthread_mutex_unlock(&b->sched_mu);

		now = engine_now_ms();
		mono = now_mono_ms();
		last_pass = mono;
		bool retention = mono - last_retention >= b->cfg.retention_check_ms;
		int deleted = 0;
		struct sched_next nx = { .mono_due = INT64_MAX,
					 .wall_due = INT64_MAX,
					 .flush_min = mono + tick };
		/* The batch headers the producer checkpoints of one retention
		 * check may read (prodsnap.c): logs that have none yet are
		 * caught up over several checks, a few seconds each at most. */
		int64_t ckpt_budget = LOG_CHECKPOINT_SCAN_BYTES,
			rolled_budget = LOG_CHECKPOINT_SCAN_BYTES;
		if (broker_topics_snapshot(b, &topics, &n) == 0) {
			for (int i = 0; i < n; i++)
				sched_flush_topic(topics[i], now, mono, &rolled_budget, &nx);
			for (int i = 0; i < n && retention; i++)
				deleted += sched_retention_topic(b, topics[i], now, &ckpt_budget);
			broker_topics_release(topics, n);
		} else {
			nx.tick = true; /* no memory: the next tick */
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

		wake = min64(last_retention + b->cfg.retention_check_ms, nx.mono_due);
		if (!broker_dir_offline(b, BROKER_DIR_SCHEDULER))
			wake = min64(wake, last_ckpt + b->cfg.checkpoint_interval_ms);
		if (nx.tick)
			wake = min64(wake, mono + tick);
		if (nx.wall_due != INT64_MAX) {
			/* On the monotonic clock from here: a step of the wall
			 * clock meanwhile moves it by that much, as it moved
			 * the deletion before (each pass looks again). */
			int64_t in = nx.wall_due - engine_now_ms();

			wake = min64(wake, now_mono_ms() + (in > 10 ? in : 10));
		}
		pthread_mutex_lock(&b->sched_mu);
		sched_sleep(b, wake, last_pass, tick);
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
