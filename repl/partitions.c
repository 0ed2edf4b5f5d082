/*
 * partitions.c — a topic's partitions on this broker: the partition
 * objects, opening their logs (in a cluster, of this broker's replicas
 * only: the others have no log, pt->log NULL) and, on a single node,
 * leading them (epoch 0, hw at the log end), the listeners the engine calls on each log (hw moved, corruption
 * found: the one log line naming the file and position), and the ways
 * the other files reach a partition's log under or outside the topic's
 * lock (part_begin, part_log, parts_ref). Lock order: broker_int.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/broker_int.h"
#include "repl/kafka_api.h"
#include "repl/observer.h"
#include "repl/producer_state.h"
#include "util/clock.h"

struct partition *broker_part_new(int index)
{
	struct partition *pt = calloc(1, sizeof(*pt));

	if (!pt)
		return NULL;
	pt->index = index;
	pthread_mutex_init(&pt->produce_mu, NULL);
	produce_partition_init(pt);
	atomic_store(&pt->last_flush_ms, now_mono_ms());
	return pt;
}

void broker_part_free(struct partition *pt)
{
	if (!pt)
		return;
	produce_partition_destroy(pt);
	pthread_mutex_destroy(&pt->produce_mu);
	if (atomic_load(&pt->obs_log))
		log_unref(atomic_load(&pt->obs_log));
	free(pt);
}

/* One line per recovery action (the engine does not log), for a single
 * node's logs and a cluster's replicas alike. */
static void note_recovery(const char *name, int p, struct log *l)
{
	struct log_state st;

	log_get_state(l, &st);
	if (st.recovered_segments > 0 || st.recovery_truncated > 0)
		mq_log(MQ_WARN,
		       "log %s-%d: recovered (an unclean shutdown, or index files that "
		       "did not match the log): %d segment%s "
		       "checked, %" PRId64 " invalid byte%s cut from the tail, %" PRId64 " ms",
		       name, p, st.recovered_segments, st.recovered_segments == 1 ? "" : "s",
		       st.recovery_truncated, st.recovery_truncated == 1 ? "" : "s",
		       st.recovery_ms);
}

/* This broker leads every partition, in epoch 0.
 *
 * On one node the ISR is this broker alone, so hw = min LEO over the ISR
 * = its own LEO. The engine reopens a log at its checkpointed hw (which
 * lags by up to a checkpoint interval after a crash); every record the
 * recovered log still has was appended, hence committed: move the hw up. */
static int become_leader(const char *name, int p, struct log *l, int32_t *epoch)
{
	struct log_state st;
	struct log_offsets lo;
	int rc;

	log_get_state(l, &st);
	if (st.damaged)
		mq_log(MQ_ERR,
		       "topic %s partition %d: damaged on disk (see above): served up to "
		       "offset %" PRId64 ", writes refused with EIO until the files are repaired",
		       name, p, st.log_end_offset);
	/* As Kafka's Partition.makeLeader: the epoch starts at the LEO
	 * (a no-op when the cache already has it). */
	rc = log_assign_epoch(l, BROKER_LEADER_EPOCH, st.log_end_offset);
	log_get_offsets(l, &lo);
	*epoch = lo.leader_epoch > BROKER_LEADER_EPOCH ? lo.leader_epoch : BROKER_LEADER_EPOCH;
	if (rc < 0 || st.hw >= st.log_end_offset)
		return rc;
	mq_log(MQ_INFO, "topic %s partition %d: high watermark %" PRId64 " -> %" PRId64, name, p,
	       st.hw, st.log_end_offset);
	return log_set_hw(l, st.log_end_offset);
}

/* pt's last append (its file's mtime) is at least ms: never moves back,
 * whoever moves it meanwhile. */
static void part_mtime_at_least(struct partition *pt, int64_t ms)
{
	int64_t cur = atomic_load(&pt->last_append_ms);

	while (ms > cur && !atomic_compare_exchange_weak(&pt->last_append_ms, &cur, ms))
		;
}

/* The hw listener of every log: wakes the partition's writers waiting for
 * their commit, and hands (topic, partition) to the broker's listener
 * (group_notify.c). What it may do: see broker_int.h. */
static void broker_hw_moved(void *arg, struct log *l)
{
	struct partition *pt = arg;
	struct broker *b = pt->b;

	(void)l;
	/* The partition file shows the records below the hw, so it changes
	 * when the hw moves: on a follower, whose records come from the
	 * fetcher and not the produce path, this is the only moment its
	 * mtime learns of them (the leader's was set at the append, a
	 * moment before). */
	part_mtime_at_least(pt, now_real_ms());
	produce_hw_moved(pt);
	broker_hw_notify(b, pt->topic, pt->index);
}

void broker_hw_notify(struct broker *b, const char *topic, int partition)
{
	pthread_mutex_lock(&b->hw_mu);
	if (b->hw_fn)
		b->hw_fn(b->hw_arg, topic, partition);
	if (b->hw_wake_fn)
		b->hw_wake_fn(b->hw_wake_arg);
	pthread_mutex_unlock(&b->hw_mu);
}

void broker_fetch_wake(struct broker *b)
{
	pthread_mutex_lock(&b->hw_mu);
	if (b->hw_wake_fn)
		b->hw_wake_fn(b->hw_wake_arg);
	pthread_mutex_unlock(&b->hw_mu);
}

void kafka_set_hw_waker(struct kafka_api *ka, void (*fn)(void *arg), void *arg)
{
	struct broker *b = ka->b;

	pthread_mutex_lock(&b->hw_mu);
	b->hw_wake_fn = fn;
	b->hw_wake_arg = arg;
	pthread_mutex_unlock(&b->hw_mu);
}

void broker_set_hw_listener(struct broker *b,
			    void (*fn)(void *arg, const char *topic, int partition), void *arg)
{
	pthread_mutex_lock(&b->hw_mu);
	b->hw_fn = fn;
	b->hw_arg = arg;
	pthread_mutex_unlock(&b->hw_mu);
}

void broker_set_removed_listener(struct broker *b,
				 void (*fn)(void *arg, struct topic *t, int partition), void *arg)
{
	pthread_mutex_lock(&b->removed_mu);
	b->removed_fn = fn;
	b->removed_arg = arg;
	pthread_mutex_unlock(&b->removed_mu);
}

void broker_records_removed(struct broker *b, struct topic *t, int partition)
{
	pthread_mutex_lock(&b->removed_mu);
	if (b->removed_fn)
		b->removed_fn(b->removed_arg, t, partition);
	pthread_mutex_unlock(&b->removed_mu);
}

/* The engine found a corrupt batch (once per batch): the one line that
 * tells the operator where it is. Any thread, maybe under the log's lock. */
static void broker_corrupt_found(void *arg, struct log *l, const char *file, int64_t pos,
				 const char *why)
{
	const struct partition *part = arg;

	(void)l;
	mq_log(MQ_ERR,
	       "topic %s partition %d: corrupt batch in %s at position %" PRId64
	       ": %s; reads that reach it fail with EBADMSG",
	       part->topic, part->index, file, pos, why);
}

/* The log start moved (DeleteRecords on a leader, or a follower's start
 * following its leader's): as after retention, the mount's cached pages
 * of the partition file go (the records-removed listener), and the new
 * start is checkpointed at once, so that a restart does not bring the
 * records back. Called with no lock of the log held. */
static void broker_start_moved(void *arg, const char *topic, int partition, int64_t start)
{
	struct broker *b = arg;
	struct topic *t;
	char why[320]; /* a topic name is at most 249 bytes */

	if (broker_topic_get(b, topic, &t) == 0) {
		broker_records_removed(b, t, partition);
		topic_put(t);
	}
	snprintf(why, sizeof(why), "topic %s partition %d: log start %" PRId64, topic, partition,
		 start);
	(void)broker_checkpoint(b, why);
}

/* Opens (creating) the log of parts[p] and makes it usable: listeners,
 * the topic's settings, and on a single node the leadership. On failure
 * the log is dropped when fresh (new partitions) and pt->log is NULL. */
static int part_open_log(struct broker *b, const char *name, const struct log_config *lc,
			 struct partition *pt, bool fresh)
{
	int p = pt->index, rc;
	bool opened;
	struct log_config olc = *lc;

	olc.replica = broker_replicated(b, name); /* its hw at open */
	rc = logmgr_get_log(b->m, name, p, &olc, true, &pt->log);
	opened = rc >= 0;
	if (rc >= 0) {
		/* The partition file's mtime is its last append's: before any
		 * since this start, the log's own (topic_mtime). */
		part_mtime_at_least(pt, log_modified_ms(pt->log));
		log_set_corrupt_listener(pt->log, broker_corrupt_found, pt);
		log_set_start_listener(pt->log, broker_start_moved, b);
		log_set_work_listener(pt->log, broker_sched_log_work, b);
		/* Producers whose batches leave the log stay known (prodsnap.c),
		 * on a follower too: it may lead next. */
		log_set_trim_listener(pt->log, producer_state_trim, &b->producer_id_expiration_ms);
		/* An already open log keeps the settings it was opened with:
		 * make it take the topic's. */
		rc = log_reconfigure(pt->log, lc);
		note_recovery(name, p, pt->log);
		broker_sched_kick(b); /* its flush.ms, its closed segments */
	}
	/* A replicated topic's epochs and hw are the replica manager's
	 * (LeaderAndIsr), not this broker's alone. */
	if (rc == 0 && !broker_replicated(b, name))
		rc = become_leader(name, p, pt->log, &pt->local_epoch);
	if (rc == 0)
		rc = log_add_hw_listener(pt->log, broker_hw_moved, pt);
	if (rc < 0) {
		mq_log(MQ_ERR, "topic %s: cannot open partition %d: %s", name, p, strerror(-rc));
		/* Opened but not usable: the log manager must not keep it, nor
		 * its files stay for a later create to find. */
		if (opened && fresh)
			logmgr_drop_log(b->m, name, p);
		pt->log = NULL;
	}
	return rc;
}

/* Opens (creating) the logs of partitions [from, to) into parts[]; with
 * local, only those of partitions whose local[p] is true (the replicas of
 * this broker in a cluster): the others get a partition without a log
 * (pt->log NULL: listed, empty, read elsewhere). On failure frees the
 * structs and, if fresh (the partitions are new, not the existing ones
 * of a topic being loaded), drops the logs it opened. */
int partitions_open(struct broker *b, const char *name, const struct log_config *lc,
		    struct partition **parts, int from, int to, bool fresh, const bool *local)
{
	int p, rc = 0;

	for (p = from; p < to; p++) {
		parts[p] = broker_part_new(p);
		if (!parts[p]) {
			rc = -ENOMEM;
			break;
		}
		parts[p]->b = b;
		parts[p]->topic = name;
		if (local && !local[p])
			continue;
		rc = part_open_log(b, name, lc, parts[p], fresh);
		if (rc < 0) {
			broker_part_free(parts[p]);
			parts[p] = NULL;
			break;
		}
	}
	if (rc < 0) {
		while (--p >= from) {
			if (fresh && parts[p]->log)
				logmgr_drop_log(b->m, name, p);
			broker_part_free(parts[p]);
			parts[p] = NULL;
		}
	}
	return rc;
}

int partitions_attach(struct broker *b, struct topic *t, const bool *local)
{
	int rc = 0, lacking = 0;

	/* Room only for the logs that open files here: those LeaderAndIsr
	 * has opened already are taken as they are. */
	pthread_rwlock_rdlock(&t->lock);
	for (int p = 0; p < t->nparts; p++)
		lacking += local[p] && !t->parts[p]->log && !t->parts[p]->no_room &&
			   !logmgr_is_open(b->m, t->name, p);
	pthread_rwlock_unlock(&t->lock);
	if (lacking > 0 && broker_fd_room(b, t->name, lacking, "replica") < 0)
		return -EMFILE;
	pthread_rwlock_wrlock(&t->lock);
	for (int p = 0; !atomic_load(&t->deleted) && rc == 0 && p < t->nparts; p++) {
		if (!local[p] || t->parts[p]->log)
			continue;
		/* Refused its room at the topic's making: only the log a
		 * LeaderAndIsr opened since (the replica manager follows it).
		 * A log open already is the replica manager's: never dropped
		 * here should its attaching fail. */
		bool open = logmgr_is_open(b->m, t->name, p);

		if (t->parts[p]->no_room && !open)
			continue;
		rc = part_open_log(b, t->name, &t->cfg.log, t->parts[p], !open);
		if (rc == 0) {
			t->parts[p]->no_room = false;
			mq_log(MQ_INFO, "topic %s partition %d: a replica here now, its log opened",
			       t->name, p);
		}
	}
	pthread_rwlock_unlock(&t->lock);
	if (lacking > 0)
		broker_fd_room_done(b, lacking);
	return rc;
}

int partitions_detach(struct broker *b, struct topic *t, int p)
{
	struct partition *pt;
	struct log *l = NULL;
	int rc;

	pthread_rwlock_wrlock(&t->lock);
	if (!atomic_load(&t->deleted) && p >= 0 && p < t->nparts) {
		pt = t->parts[p];
		l = pt->log;
		if (l) {
			log_remove_hw_listener(l, broker_hw_moved, pt);
			pt->log = NULL;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	/* A log a LeaderAndIsr opened that the topic never took (the move
	 * cancelled before): the log manager's alone, dropped all the same. */
	if (!l && !logmgr_is_open(b->m, t->name, p))
		return 0;
	/* Readers that checked the replica before it went look again: the
	 * observers' generation moves after pt->log is gone (topic_read.c's
	 * reader_settle). */
	if (b->cluster)
		observer_reads_moved(cluster_observers(b->cluster));
	rc = logmgr_drop_log(b->m, t->name, p);
	if (rc < 0 && rc != -ENOENT)
		mq_log(MQ_ERR, "topic %s partition %d: deleting the moved replica's log: %s",
		       t->name, p, strerror(-rc));
	else
		mq_log(MQ_INFO,
		       "topic %s partition %d: its replicas moved to other brokers: the log here "
		       "is deleted, the mount reads the partition from its read copy",
		       t->name, p);
	return rc == -ENOENT ? 0 : rc;
}

/* Takes t->lock for reading and checks the topic and the partition; on
 * success the caller calls pthread_rwlock_unlock(&t->lock) when done. */
int part_begin(struct topic *t, int partition, struct partition **out)
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
int part_log(struct topic *t, int partition, struct partition **pt, struct log **l)
{
	int rc = part_begin(t, partition, pt);

	if (rc < 0)
		return rc;
	*l = (*pt)->log;
	if (*l)
		log_ref(*l);
	pthread_rwlock_unlock(&t->lock);
	return *l ? 0 : -EREMOTE;
}

/* The caller's view of the topic's partitions, without its lock: see
 * struct part_ref in broker_int.h. */
int parts_ref(struct topic *t, struct part_ref **out, int *n, struct topic_config *cfg)
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
		if (r[p].log)
			log_ref(r[p].log);
	}
	*out = r;
	*n = t->nparts;
	*cfg = t->cfg;
out:
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

void parts_unref(struct part_ref *r, int n)
{
	for (int p = 0; r && p < n; p++)
		if (r[p].log)
			log_unref(r[p].log);
	free(r);
}
