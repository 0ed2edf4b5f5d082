/*
 * topic_read.c — the read side of a topic's partitions: thin wrappers
 * over the engine that check the topic and partition under the topic's
 * lock (part_begin) or take a log reference for long I/O (part_log): the
 * line view (size, state, cursors, reads), .segments (list, sizes, raw
 * and rendered files), the delivered-records counters, and topic_fsync,
 * which like the reads only needs a reference to the log.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/broker_int.h"
#include "repl/observer.h"
#include "util/clock.h"

int topic_fsync(struct topic *t, int partition)
{
	return topic_fsync_upto(t, partition, -1);
}

int topic_fsync_upto(struct topic *t, int partition, int64_t upto)
{
	struct partition *pt;
	struct log *l;
	int rc = part_log(t, partition, &pt, &l);

	/* A write on a replicated topic may have been forwarded to the leader
	 * and fetched here after it returned: the offsets its writer saw
	 * locally do not cover it, so its fsync takes everything here. */
	if (upto >= 0 && cluster_replicated(t->b->cluster, t->name))
		upto = -1;

	if (rc == -EREMOTE)
		return 0; /* no replica here: nothing of it written here */
	if (rc < 0)
		return rc;
	rc = log_sync(l, upto);
	if (rc == 0)
		atomic_store(&pt->last_flush_ms, now_mono_ms());
	else if (rc != -ENOENT) { /* the topic went meanwhile */
		mq_log_limited(MQ_ERR,
			       "topic %s partition %d: fsync: %s (the records written "
			       "since the last sync may not be on disk)",
			       t->name, partition, strerror(-rc));
		/* Kafka's flush that meets an IOException fails the log
		 * directory. The caller still gets the errno itself: what it
		 * asked, its records on this disk, did not happen; the
		 * records the ISR committed stay with the next leader. */
		(void)broker_storage_failed(t->b, t->name, partition, rc);
	}
	log_unref(l);
	return rc;
}

/* A read of a partition this broker holds no replica of: refused, with
 * the one line that says where to read it. */
static int partition_remote(struct topic *t, int partition)
{
	mq_log_limited(MQ_WARN,
		       "topic %s partition %d: read refused: no replica on this broker "
		       "(read it on the mount of one of its replicas, which .state names)",
		       t->name, partition);
	return -EREMOTE;
}

/* A partition without a replica here is read from its observer, a read
 * copy that follows the leader (observer.h); on a single node there is
 * none. */
static struct observers *part_observers(struct topic *t)
{
	return t->b->cluster ? cluster_observers(t->b->cluster) : NULL;
}

/* Whether this mount reads a partition whose replica has its log here
 * from the read copy instead: while that replica is a follower out of the
 * ISR, whose records end at its own hw, behind the leader's for as long
 * as it lags, and after it rejoined until its hw reached the copy's
 * (observer_reads_copy). Never on a single node, nor for the internal
 * topics, which get no copies. Without the topic's lock. */
static bool reads_copy(struct topic *t, int partition)
{
	struct observers *o = part_observers(t);

	return o && strncmp(t->name, "__", 2) && observer_reads_copy(o, t->name, partition);
}

/* Whether the mount reads partition from its replica here (pt has a log):
 * !reads_copy, by the full check unless the partition's last one found so
 * and the observers' generation has not moved since: the invariant of
 * reader_settle, kept for the partition instead of one reader (the
 * generation taken before the check, stored only with the answer "the
 * replica"; an answer "the copy" is checked again each time, as its
 * hand-back waits for the replica's hw, which moves no generation). */
static bool part_serves(struct topic *t, struct partition *pt, int partition)
{
	struct observers *o = part_observers(t);
	uint64_t gen;

	if (!o)
		return true;
	gen = observer_reads_gen(o);
	if (atomic_load_explicit(&pt->served_gen, memory_order_acquire) == gen + 1)
		return true;
	if (reads_copy(t, partition))
		return false;
	/* A check that raced with a change stores a generation already
	 * passed: nothing matches it any more. */
	atomic_store_explicit(&pt->served_gen, gen + 1, memory_order_release);
	return true;
}

void topic_read_own_writes(struct topic *t, int partition)
{
	int64_t until = atomic_load(&t->read_floor_until), floor;
	struct partition *pt;
	struct log *l;

	/* One load when nothing was forwarded from here lately. */
	if (until == 0)
		return;
	if (now_mono_ms() >= until) {
		/* A later forward_read_floor moved it: its CAS wins. */
		atomic_compare_exchange_strong(&t->read_floor_until, &until, 0);
		return;
	}
	if (part_log(t, partition, &pt, &l) < 0)
		return;
	floor = atomic_load(&pt->read_floor);
	until = atomic_load(&pt->read_floor_until);
	/* A replica out of the ISR is not read (the copy is, which the write
	 * waited for: forward_records). */
	if (floor > 0 && now_mono_ms() < until && part_serves(t, pt, partition) &&
	    !produce_hw_reach(t, pt, l, floor, until)) {
		/* The next reads do not wait again for it (a later forwarded
		 * write sets a new deadline). */
		atomic_compare_exchange_strong(&pt->read_floor_until, &until, 0);
		mq_log_limited(MQ_INFO,
			       "topic %s partition %d: a read of this mount goes on without "
			       "this broker's last write (offsets below %" PRId64 "): this "
			       "replica has not learnt that it is committed",
			       t->name, partition, floor);
	}
	log_unref(l);
}

/* The read copy's log of a partition without a replica here (or with one
 * out of the ISR), pinned for the consumer groups' reads (observer_pin):
 * made at the first call, kept in pt->obs_log until the partition goes
 * (or the replica serves reads again: part_unpin). NULL on a single
 * node, or when the copy cannot be made (logged). */
static struct log *part_pinned_log(struct topic *t, int partition)
{
	struct observers *o = part_observers(t);
	struct partition *pt;
	struct log_config cfg;
	struct log *l, *none = NULL;

	/* Internal topics ("__consumer_offsets") keep their own rules: a
	 * broker reads only its own partitions of them. */
	if (!o || !strncmp(t->name, "__", 2) || part_begin(t, partition, &pt) < 0)
		return NULL;
	l = atomic_load(&pt->obs_log);
	cfg = t->cfg.log;
	pthread_rwlock_unlock(&t->lock);
	if (l || observer_pin(o, t->name, partition, &cfg, &l) < 0)
		return l;
	/* Two first readers: one pin is kept, the other's goes. */
	if (!atomic_compare_exchange_strong(&pt->obs_log, &none, l)) {
		observer_close(o, t->name, partition, l);
		log_unref(l);
		l = none;
	} else {
		broker_sched_kick(t->b); /* it lets the copy go (topic_group_settle) */
	}
	return l;
}

/* The groups' copy of a partition whose replica here serves its reads
 * again (back in the ISR, caught up with the copy: reads_copy) is let
 * go: the groups' cursors move back to the replica's log at their next
 * read (group_consume.c), and the observer deletes the copy once nothing
 * has it open. Under the topic's write lock: group_part_lock's callers
 * use the log it gives without a reference of their own. */
static void part_unpin(struct topic *t, int partition)
{
	struct observers *o = part_observers(t);
	struct log *l = NULL;

	pthread_rwlock_wrlock(&t->lock);
	if (!atomic_load(&t->deleted) && partition < t->nparts && t->parts[partition]->log)
		l = atomic_exchange(&t->parts[partition]->obs_log, NULL);
	pthread_rwlock_unlock(&t->lock);
	if (!l)
		return;
	observer_close(o, t->name, partition, l);
	log_unref(l);
}

/* The line position of the hw: the local replica's, else (no replica
 * here, or one that does not serve reads: reads_copy) the observer's.
 * start: make the observer (and wait until it caught up) when there is
 * none yet: a stat of the file, not the group machinery's checks. */
static int64_t line_size(struct topic *t, int partition, bool start)
{
	struct partition *pt;
	struct log_state st;
	struct log_config cfg;
	struct observers *o = part_observers(t);
	struct log *l;
	int64_t local = 0;
	bool has_log;
	int rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	has_log = pt->log != NULL;
	if (has_log)
		log_get_hw(pt->log, NULL, &local);
	cfg = t->cfg.log;
	pthread_rwlock_unlock(&t->lock);
	if (has_log && part_serves(t, pt, partition))
		return local;
	st.line_hw = local;
	/* With a replica here both logs hold committed records only: the
	 * larger hw is the one some reader can read (a copy that could not
	 * catch up leaves its readers on the replica's log). */
	if (!o || observer_log_state(o, t->name, partition, &st) || !start)
		return st.line_hw > local ? st.line_hw : local;
	/* A copy that cannot be made (logged) shows an empty file, or the
	 * lagging replica's records: the reads say why. */
	if (observer_open(o, t->name, partition, &cfg, &l) < 0)
		return local;
	log_get_state(l, &st);
	observer_close(o, t->name, partition, l);
	log_unref(l);
	return st.line_hw > local ? st.line_hw : local;
}

int64_t topic_line_size(struct topic *t, int partition)
{
	return line_size(t, partition, false);
}

int64_t topic_file_size(struct topic *t, int partition)
{
	int64_t now, shown;
	struct partition *pt;

	topic_read_own_writes(t, partition);
	now = line_size(t, partition, true);
	if (now < 0 || part_begin(t, partition, &pt) < 0)
		return now;
	shown = atomic_load(&pt->size_shown);
	while (now > shown && !atomic_compare_exchange_weak(&pt->size_shown, &shown, now))
		;
	pthread_rwlock_unlock(&t->lock);
	/* Another stat may have read a later position and shown it between
	 * this one's read and its look at size_shown: read again. Only a
	 * position still below is one that went back. */
	if (now < shown) {
		int64_t again = line_size(t, partition, false);

		if (again < 0)
			return shown;
		now = again;
	}
	if (now < shown) {
		mq_log_limited(MQ_WARN,
			       "topic %s partition %d: the high watermark's line position went "
			       "back from %" PRId64 " to %" PRId64 " (a truncation below it: an "
			       "unclean leader election?); st_size stays at %" PRId64,
			       t->name, partition, shown, now, shown);
		return shown;
	}
	return now;
}

int topic_line_whole(struct topic *t, int partition)
{
	struct partition *pt;
	struct log_state st;
	bool compact, unclean;
	int rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	if (!pt->log) {
		pthread_rwlock_unlock(&t->lock);
		return 0;
	}
	log_get_state(pt->log, &st);
	compact = (t->cfg.log.cleanup_policy & LOG_CLEANUP_COMPACT) != 0;
	unclean = t->cfg.unclean_leader_election && cluster_replicated(t->b->cluster, t->name);
	pthread_rwlock_unlock(&t->lock);
	/* Read through the copy, as a partition without a replica here: its
	 * readers may move to the replica's log and back, each with a
	 * cursor of its own, which pages shared by every open cannot. */
	if (!part_serves(t, pt, partition))
		return 0;
	/* A log that starts above 0 lost the records before its start; one
	 * that is compacted, or was (its cleaner checkpoint; a crash may lose
	 * that, not the policy), may have lost records anywhere; one with a
	 * corrupt batch is read byte by byte around it, not by pages, and so
	 * is one that may hold one: batches read from disk since the start
	 * are known good only once a read has checked them (engine/corrupt.c,
	 * "Checked batches"), and the page cache's read that meets a bad one
	 * fails whole, the records before it too. A follower truncates only
	 * records above its hw, which no reader saw, unless an unclean
	 * election chose a leader without them: a topic that allows one may
	 * lose records below the hw too. */
	return st.line_start == 0 && !compact && !unclean && st.first_dirty_offset <= 0 &&
	       st.corrupt_batches == 0 && !st.damaged && st.line_checked >= st.line_end;
}

/* The log consumer groups read now (pt->obs_log, else pt->log), a
 * reference, or NULL. */
static struct log *group_log_now(struct topic *t, int partition, int *err)
{
	struct partition *pt;
	struct log *l;

	*err = part_begin(t, partition, &pt);
	if (*err < 0)
		return NULL;
	l = atomic_load(&pt->obs_log);
	if (!l)
		l = pt->log;
	if (l)
		log_ref(l);
	pthread_rwlock_unlock(&t->lock);
	return l;
}

/* The log a consumer group reads, as the partition file is read: with no
 * replica here, the read copy (pinned at the first call, for good); with
 * one, the copy while the mount reads the partition from it (reads_copy:
 * the replica out of the ISR, or back but behind the copy), else the
 * replica's log (the copy let go: part_unpin). A group's cursor moves to
 * the log given here at its next read (group_consume.c): line positions
 * and offsets are the same in both. A reference (log_unref), or NULL: no
 * replica and no copy (a single node cannot lack one). */
static struct log *group_log(struct topic *t, int partition, int *err)
{
	struct partition *pt;
	struct log *l, *pinned;
	bool has_log, copy;

	*err = part_begin(t, partition, &pt);
	if (*err < 0)
		return NULL;
	has_log = pt->log != NULL;
	pthread_rwlock_unlock(&t->lock);
	l = group_log_now(t, partition, err);
	if (*err < 0 || (has_log && !atomic_load(&pt->obs_log) && !part_observers(t)))
		return l;
	copy = !has_log || !part_serves(t, pt, partition);
	if (copy == (l && l != pt->log))
		return l; /* already there */
	log_unref(l);
	if (!copy) {
		part_unpin(t, partition);
		return group_log_now(t, partition, err);
	}
	pinned = part_pinned_log(t, partition);
	if (!pinned) /* the replica's, if any: a copy that cannot be made is logged */
		return group_log_now(t, partition, err);
	log_ref(pinned);
	return pinned;
}

int topic_group_settle(struct topic *t, int partition)
{
	int rc;
	struct log *l = group_log(t, partition, &rc);

	log_unref(l);
	return rc;
}

int64_t topic_group_line_hw(struct topic *t, int partition)
{
	struct partition *pt;
	struct log *l;
	int64_t line_hw = 0;
	int rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	l = atomic_load(&pt->obs_log);
	if (!l)
		l = pt->log;
	if (l)
		log_get_hw(l, NULL, &line_hw);
	pthread_rwlock_unlock(&t->lock);
	return line_hw;
}

int topic_log_state(struct topic *t, int partition, struct log_state *st)
{
	int rc;
	struct log *l = group_log(t, partition, &rc);

	memset(st, 0, sizeof(*st));
	if (l) {
		log_get_state(l, st);
		log_unref(l);
	}
	return rc;
}

int topic_cursor_new(struct topic *t, int partition, struct log_cursor **out)
{
	int rc;
	struct log *l = group_log(t, partition, &rc);

	if (rc < 0)
		return rc;
	if (!l)
		return partition_remote(t, partition);
	*out = log_cursor_new(l);
	log_unref(l);
	return *out ? 0 : -ENOMEM;
}

void topic_cursor_free(struct topic *t, int partition, struct log_cursor *c)
{
	/* A cursor outlives its log (the engine keeps the files it holds). */
	(void)t;
	(void)partition;
	log_cursor_free(c);
}

/* A read of the line view through c, over obs (a read copy) or else the
 * partition's own log, counted as delivered. */
static ssize_t read_counted(struct topic *t, int partition, struct log *obs, struct log_cursor *c,
			    int64_t pos, char *buf, size_t size, int64_t *actual_pos, char *next)
{
	struct partition *pt;
	ssize_t rc = part_begin(t, partition, &pt);
	struct log *l;

	if (rc < 0)
		return rc;
	l = obs ? obs : pt->log;
	if (!l || !c) {
		pthread_rwlock_unlock(&t->lock);
		return partition_remote(t, partition);
	}
	int64_t lines = log_cursor_lines(c);
	rc = log_read_lines_ahead(l, c, pos, buf, size, actual_pos, next);
	if (rc > 0)
		partition_count_out(pt, log_cursor_lines(c) - lines, (size_t)rc);
	pthread_rwlock_unlock(&t->lock);
	/* A replica's read that met the disk's error fails its log directory
	 * as a Fetch's does (Kafka's readFromLocalLog); the reader still gets
	 * the errno, which is what its read met. A read copy is no replica:
	 * its errors are the read's alone. */
	if (rc < 0 && !obs)
		(void)broker_storage_failed(t->b, t->name, partition, (int)rc);
	return rc;
}

ssize_t topic_read_lines(struct topic *t, int partition, struct log_cursor *c, int64_t pos,
			 char *buf, size_t size, int64_t *actual_pos)
{
	return read_counted(t, partition, NULL, c, pos, buf, size, actual_pos, NULL);
}

/* fs's reader is an engine cursor of its own, over the replica's log
 * here or over the observer's (obs_log, referenced: the observer counts
 * the reader as an open file until it lets the copy go). A partition
 * without a replica here is read through the copy for good; one whose
 * replica is here moves between the two at a read (reader_settle), as
 * reads_copy says: line positions are the leader's in both (the same
 * batches, the same line index), so the next read goes on at the same
 * position with a new cursor, and each move goes to a log whose hw is at
 * or past the other's (the copy's barrier; reads_copy's hand-back), so
 * a reader never sees records go back, repeat or vanish. */
struct topic_reader {
	struct log_cursor *c;
	struct log *obs_log;
	struct observers *o;
	char *topic;
	int partition;
	/* A copy that could not be opened for a lagging replica's reader
	 * (logged by the observer): the replica's log until then. */
	int64_t copy_retry_ms;
	/* served: r reads the replica's log because the last full check
	 * (reads_copy) found that the replica serves reads; gen: the
	 * observers' generation (observer_reads_gen) taken before that
	 * check. See reader_settle. */
	bool served;
	uint64_t gen;
};

/* r reads the copy: a new cursor over its log (opened: the barrier). */
static int reader_observe(struct topic *t, int partition, struct topic_reader *r)
{
	struct partition *pt;
	struct log_config cfg;
	struct log *l;
	struct log_cursor *c;
	int rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	cfg = t->cfg.log;
	pthread_rwlock_unlock(&t->lock);
	if (!r->o)
		return partition_remote(t, partition);
	rc = observer_open(r->o, t->name, partition, &cfg, &l);
	if (rc < 0)
		return rc;
	c = log_cursor_new(l);
	if (!c) {
		observer_close(r->o, t->name, partition, l);
		log_unref(l);
		return -ENOMEM;
	}
	log_cursor_free(r->c);
	r->c = c;
	r->obs_log = l;
	return 0;
}

/* r reads the replica's log here: a new cursor over it; the copy, if r
 * read one, is let go. -EREMOTE no log here. */
static int reader_local(struct topic *t, int partition, struct topic_reader *r)
{
	struct partition *pt;
	struct log_cursor *c = NULL;
	int rc = part_begin(t, partition, &pt);

	if (rc < 0)
		return rc;
	if (pt->log)
		c = log_cursor_new(pt->log);
	rc = !pt->log ? -EREMOTE : c ? 0 : -ENOMEM;
	pthread_rwlock_unlock(&t->lock);
	if (rc < 0)
		return rc;
	log_cursor_free(r->c);
	r->c = c;
	if (r->obs_log) {
		observer_close(r->o, r->topic, r->partition, r->obs_log);
		log_unref(r->obs_log);
		r->obs_log = NULL;
	}
	return 0;
}

/* Moves r to the log copy says (the copy or the replica's). A copy
 * that cannot be opened (the leader unreachable, a full disk: logged)
 * leaves r on the replica's log, behind but there, and is not tried
 * again for request.timeout.ms. */
static int reader_move(struct topic *t, int partition, struct topic_reader *r, bool has_log,
		       bool copy)
{
	int rc;

	if (copy == (r->obs_log != NULL) && r->c)
		return 0;
	if (!copy)
		return reader_local(t, partition, r);
	if (has_log && r->c && now_mono_ms() < r->copy_retry_ms)
		return 0;
	rc = reader_observe(t, partition, r);
	if (rc < 0 && has_log) {
		r->copy_retry_ms = now_mono_ms() + t->b->cfg.request_timeout_ms;
		mq_log_limited(MQ_WARN,
			       "topic %s partition %d: read from this broker's replica, out of the "
			       "ISR (records up to its own high watermark): its read copy is not "
			       "there (%s)",
			       t->name, partition, strerror(-rc));
		rc = r->c ? 0 : reader_local(t, partition, r);
	}
	return rc;
}

/* Moves r to the log its partition is read from now (see struct
 * topic_reader), by the full check (reads_copy: the log manager's and
 * the replica manager's tables, the partition's locks, the observers').
 *
 * The invariant that lets a read skip it (reader_checked): the
 * generation is taken BEFORE the check, and every change that can make
 * the check answer "the copy" where it answered "the replica" (the
 * replica left the ISR or lost its leadership or its place, a copy made
 * or its hw moved ahead: observer_reads_gen) moves the generation
 * AFTER the change is visible. So while the generation is still the
 * one the reader took, every such change was visible to its check (it
 * moved the generation before the reader took it), and the answer "the
 * replica" holds. A change that races with the check moves the
 * generation past the one taken, and the next read checks again. Only
 * the answer "the replica" is kept: a reader on the copy (or left on the
 * replica because the copy could not be opened) checks at every read, as
 * the hand-back waits for the replica's hw, which moves no generation. */
static int reader_settle(struct topic *t, int partition, struct topic_reader *r, bool has_log)
{
	uint64_t gen = r->o ? observer_reads_gen(r->o) : 0;
	bool copy = !has_log || reads_copy(t, partition);
	int rc = reader_move(t, partition, r, has_log, copy);

	r->served = rc == 0 && !copy && r->c && !r->obs_log;
	r->gen = gen;
	return rc;
}

/* Whether r reads the replica's log and nothing that can move it to the
 * copy happened since its last full check (reader_settle): its read
 * skips that check. */
static bool reader_checked(const struct topic_reader *r)
{
	return r->served && observer_reads_gen(r->o) == r->gen;
}

int topic_reader_new(struct topic *t, int partition, struct topic_reader **out)
{
	struct topic_reader *r = calloc(1, sizeof(*r));
	struct partition *pt;
	bool has_log;
	int rc;

	if (!r)
		return -ENOMEM;
	rc = part_begin(t, partition, &pt);
	if (rc < 0) {
		free(r);
		return rc;
	}
	has_log = pt->log != NULL;
	pthread_rwlock_unlock(&t->lock);
	r->o = part_observers(t);
	r->partition = partition;
	r->topic = strdup(t->name);
	/* No replica here: the observer's copy, made at the first read. */
	rc = r->topic ? reader_settle(t, partition, r, has_log) : -ENOMEM;
	if (rc < 0) {
		topic_reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void topic_reader_free(struct topic_reader *r)
{
	if (!r)
		return;
	if (r->c)
		log_cursor_free(r->c);
	if (r->obs_log) {
		observer_close(r->o, r->topic, r->partition, r->obs_log);
		log_unref(r->obs_log);
	}
	free(r->topic);
	free(r);
}

ssize_t topic_reader_read(struct topic *t, int partition, struct topic_reader *r, int64_t pos,
			  char *buf, size_t size, int64_t *actual_pos, char *next)
{
	struct partition *pt;
	bool has_log;

	topic_read_own_writes(t, partition);
	/* Only where a copy may serve a partition with a replica here. */
	if (r->o && strncmp(t->name, "__", 2) && !reader_checked(r) &&
	    part_begin(t, partition, &pt) == 0) {
		has_log = pt->log != NULL;
		pthread_rwlock_unlock(&t->lock);
		/* Without a log here a reader is on the copy: one that read
		 * the replica here until it moved away goes there now, at
		 * the same position (line positions are the leader's). */
		if (has_log || !r->obs_log) {
			int rc = reader_settle(t, partition, r, has_log);

			if (rc < 0)
				return rc;
		}
	}
	return read_counted(t, partition, r->obs_log, r->c, pos, buf, size, actual_pos, next);
}

size_t topic_reader_head(struct topic *t, int partition, struct topic_reader *r, int64_t pos,
			 char *buf, size_t size)
{
	struct partition *pt;
	size_t k = 0;

	if (part_begin(t, partition, &pt) < 0)
		return 0;
	struct log *l = r->obs_log ? r->obs_log : pt->log;
	if (l)
		k = log_read_head(l, pos, buf, size);
	pthread_rwlock_unlock(&t->lock);
	return k;
}

void partition_count_out(struct partition *pt, int64_t lines, size_t n)
{
	atomic_fetch_add_explicit(&pt->records_out, lines, memory_order_relaxed);
	atomic_fetch_add_explicit(&pt->bytes_out, (int64_t)n, memory_order_relaxed);
}

/* repl.h's names of the segment files, the engine's. */
static enum seg_file seg_kind(enum segment_file kind)
{
	switch (kind) {
	case SEGMENT_INDEX: return SEG_INDEX;
	case SEGMENT_TIMEINDEX: return SEG_TIMEINDEX;
	case SEGMENT_DUMP: return SEG_DUMP;
	case SEGMENT_LOG: break;
	}
	return SEG_LOG;
}

/* The log .segments shows: the replica's; without one here, the read
 * copy's (made and caught up as a read's open makes it when there is
 * none yet, or, with fresh, always: a listing shows what the leader has
 * committed now). A reference (log_unref). -EREMOTE no replica and no
 * copy (a single node cannot lack one; internal topics get none). */
static int segments_log(struct topic *t, int partition, bool fresh, struct log **out)
{
	struct observers *o = part_observers(t);
	struct partition *pt;
	struct log_config cfg;
	int32_t leader, epoch;
	int rc = part_log(t, partition, &pt, out);

	if (rc != -EREMOTE || !o || !strncmp(t->name, "__", 2))
		return rc;
	if (!fresh && observer_get(o, t->name, partition, out, &leader, &epoch) == 0)
		return 0;
	rc = part_begin(t, partition, &pt);
	if (rc < 0)
		return rc;
	cfg = t->cfg.log;
	pthread_rwlock_unlock(&t->lock);
	rc = observer_open(o, t->name, partition, &cfg, out);
	if (rc == 0)
		observer_close(o, t->name, partition, *out); /* kept for observer.idle.ms */
	return rc;
}

int topic_segments(struct topic *t, int partition, int64_t **bases, int *n)
{
	struct log *l;
	int rc = segments_log(t, partition, true, &l);

	*bases = NULL;
	*n = 0;
	if (rc == -EREMOTE)
		return 0; /* no replica, no copy: no segments */
	if (rc < 0)
		return rc;
	rc = log_segments(l, bases, n);
	log_unref(l);
	return rc;
}

int64_t topic_segment_size(struct topic *t, int partition, int64_t base, enum segment_file kind)
{
	struct log *l;
	int64_t rc = segments_log(t, partition, false, &l);

	if (rc < 0)
		return rc;
	/* Without the topic's lock: a rendering's size may read a segment. */
	rc = log_segment_size(l, base, seg_kind(kind));
	log_unref(l);
	return rc;
}

ssize_t topic_segment_read_raw(struct topic *t, int partition, int64_t base, char *buf, size_t size,
			       int64_t off)
{
	struct log *l;
	ssize_t rc = segments_log(t, partition, false, &l);

	if (rc < 0)
		return rc == -EREMOTE ? -ENOENT : rc;
	rc = log_segment_read_raw(l, base, buf, size, off);
	log_unref(l);
	return rc;
}

ssize_t topic_segment_render(struct topic *t, int partition, int64_t base, enum segment_file kind,
			     int64_t *cursor, char *buf, size_t size)
{
	struct log *l;
	ssize_t rc = segments_log(t, partition, false, &l);

	if (rc < 0)
		return rc == -EREMOTE ? -ENOENT : rc;
	rc = log_segment_render(l, base, seg_kind(kind), cursor, buf, size);
	log_unref(l);
	return rc;
}

int topic_segments_copy_text(struct topic *t, int partition, char **out, size_t *len)
{
	struct observers *o = part_observers(t);
	struct partition *pt;
	struct log_state ls;
	struct log *l;
	int32_t leader = -1, epoch = -1;
	int rc = part_log(t, partition, &pt, &l);

	*out = NULL;
	*len = 0;
	if (rc == 0)
		log_unref(l); /* a replica here: no copy to describe */
	if (rc != -EREMOTE)
		return rc < 0 ? rc : -ENOENT;
	rc = segments_log(t, partition, false, &l);
	if (rc < 0)
		return rc == -EREMOTE ? -ENOENT : rc;
	log_get_state(l, &ls);
	log_unref(l);
	if (o)
		(void)observer_get(o, t->name, partition, NULL, &leader, &epoch);
	*out = malloc(512);
	if (!*out)
		return -ENOMEM;
	*len = (size_t)snprintf(
		*out, 512,
		"read copy of leader broker %d's log (leader epoch %d): this broker "
		"holds no replica of %s-%d\n"
		"log_start %" PRId64 " line_start %" PRId64 " hw %" PRId64 " line_hw %" PRId64 "\n",
		(int)leader, (int)epoch, t->name, partition, ls.log_start_offset, ls.line_start,
		ls.hw, ls.line_hw);
	return 0;
}
