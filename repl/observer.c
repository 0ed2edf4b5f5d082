/*
 * observer.c — read copies of partitions without a replica on this broker
 * (observer.h): the table of observers, their fetchers (one per leader
 * broker, fetching as a consumer), the barrier that makes an open see
 * every record committed before it, and the manager thread that follows
 * leader changes, runs retention and deletes idle copies.
 *
 * Each observer is a struct partition in the follower role over its own
 * log, so the replica fetcher (fetcher.c) keeps it in step exactly as it
 * keeps a follower: truncation by leader epoch, the leader's batches
 * appended unchanged, hw = min(leader's hw, LEO). The fetcher's observer
 * flag makes it fetch as a consumer; nothing on the leader changes.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/net.h"
#include "repl/observer.h"
#include "repl/proto.h"
#include "util/clock.h"
#include "util/diaglog.h"
#include "util/pause.h"

#define OBSERVER_MAX       4096 /* partitions observed at once */
#define OBSERVER_RETRY_MS  100  /* the barrier's pause between attempts */
#define OBSERVER_LIST_WAIT 2000 /* the longest ListOffsets round trip */

struct obs {
	struct observers *o;
	char topic[PARTITION_MAX_TOPIC + 1];
	int partition;
	struct log *log;      /* the manager's; a reference of ours */
	struct partition *p;  /* follower over log */
	int32_t source;       /* the leader followed, -1 none */
	int32_t leader_epoch; /* of the state followed */
	int opens;
	int64_t last_used_ms;
	int64_t last_retention_ms;
	/* observer_reads_copy compared this copy's hw with a replica's that
	 * serves reads: from then on each hw move of the copy moves
	 * reads_gen (on_hw), as it may put the copy ahead. */
	atomic_bool replica_compared;
};

struct observers {
	struct observer_config cfg;
	char dir[4200];
	struct logmgr *m;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* the thread's tick, and its stop */
	struct obs *tab[OBSERVER_MAX];
	int n;
	struct fetcher_set sources; /* mu */
	bool stopping;
	/* The thread sleeps without a deadline: no copy to follow, expire or
	 * drop (obs_new wakes it). */
	bool asleep;
	pthread_t thread;
	bool running;
	/* Barriers wait here for an observer's hw (hw listener). */
	pthread_mutex_t wait_mu;
	pthread_cond_t wait_cv;
	/* Counters for .metrics. */
	int64_t started, dropped, idle_dropped, barrier_failures, leader_changes;
	/* Our part of observer_reads_gen: copies made, and hw moves of
	 * those compared with a replica (obs.replica_compared). */
	_Atomic uint64_t reads_gen;
};

bool observer_idle(int opens, int64_t last_used_ms, int64_t now_ms, int64_t idle_ms)
{
	return opens == 0 && now_ms - last_used_ms >= idle_ms;
}

int observer_follow_state(const struct partition_state *st, int32_t broker_id,
			  struct partition_state *out)
{
	bool in = false;

	if (st->leader < 0 || st->leader == broker_id)
		return -EINVAL;
	*out = *st;
	for (int i = 0; i < out->n_replicas; i++)
		in = in || out->replicas[i] == broker_id;
	if (!in) {
		if (out->n_replicas >= PARTITION_MAX_REPLICAS)
			return -EINVAL;
		out->replicas[out->n_replicas++] = broker_id;
	}
	return 0;
}

/* ---- the table (o->mu held) ---- */

static struct obs *obs_find(struct observers *o, const char *topic, int partition)
{
	for (int i = 0; i < o->n; i++)
		if (o->tab[i]->partition == partition && !strcmp(o->tab[i]->topic, topic))
			return o->tab[i];
	return NULL;
}

static void unfollow(struct observers *o, struct obs *ob)
{
	fetcher_set_remove(&o->sources, ob->source, ob->p);
	ob->source = -1;
}

/* Follows the leader of st (the metadata's, read without o->mu: its
 * locks come after ours nowhere), if it changed. 0; -ENOENT the
 * partition is gone (rc). A copy of a partition this broker holds a
 * replica of (one that lags out of the ISR, or whose log found no room)
 * follows its leader as any copy does: the replica's fetcher and the
 * copy's fetch from the same leader, each into its own log. */
static int obs_follow(struct observers *o, struct obs *ob, int rc,
		      const struct partition_state *stp)
{
	struct partition_state st = *stp, fs;
	struct fetcher *f;

	if (rc < 0)
		return rc;
	if (st.leader == ob->source && st.leader_epoch == ob->leader_epoch)
		return 0;
	if (ob->source >= 0)
		o->leader_changes++;
	unfollow(o, ob);
	if (observer_follow_state(&st, o->cfg.broker_id, &fs) < 0)
		return 0; /* no leader now: follow the next one */
	rc = partition_make_follower(ob->p, &fs);
	if (rc < 0) {
		mq_log_limited(MQ_WARN, "observer %s-%d: cannot follow broker %d (epoch %d): %s",
			       ob->topic, ob->partition, (int)st.leader, (int)st.leader_epoch,
			       strerror(-rc));
		return 0;
	}
	f = fetcher_set_get(&o->sources, st.leader);
	if (f && fetcher_add(f, ob->p) == 0) {
		ob->source = st.leader;
		ob->leader_epoch = st.leader_epoch;
		mq_log(MQ_INFO, "observer %s-%d: following broker %d (leader epoch %d)", ob->topic,
		       ob->partition, (int)st.leader, (int)st.leader_epoch);
	}
	return 0;
}

/* A change that can make observer_reads_copy answer true where it
 * answered false: after it is visible (observer_reads_gen). */
static void reads_changed(struct observers *o)
{
	atomic_fetch_add_explicit(&o->reads_gen, 1, memory_order_release);
}

static void on_hw(void *arg, struct log *l)
{
	struct obs *ob = arg;
	struct observers *o = ob->o;

	(void)l;
	/* The copy's hw is stored (this listener runs after it): this fence
	 * and observer_reads_copy's, each between a store and a load, make
	 * either that call see the new hw or this load see its flag. */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&ob->replica_compared, memory_order_relaxed))
		reads_changed(o);
	pthread_mutex_lock(&o->wait_mu);
	pthread_cond_broadcast(&o->wait_cv);
	pthread_mutex_unlock(&o->wait_mu);
	if (o->cfg.hw_moved)
		o->cfg.hw_moved(o->cfg.hw_arg, ob->topic, ob->partition);
}

static void log_release(void *log)
{
	log_unref(log);
}

static int obs_new(struct observers *o, const char *topic, int partition,
		   const struct log_config *cfg, struct obs **out)
{
	struct partition_config pc = { .broker_id = o->cfg.broker_id,
				       .replica_lag_time_max_ms = 30000,
				       .min_insync_replicas = 1 };
	struct obs *ob;
	int rc;

	if (o->n == OBSERVER_MAX || strlen(topic) > PARTITION_MAX_TOPIC)
		return -ENOSPC;
	ob = calloc(1, sizeof(*ob));
	if (!ob)
		return -ENOMEM;
	ob->o = o;
	strcpy(ob->topic, topic);
	ob->partition = partition;
	ob->source = -1;
	ob->leader_epoch = -1;
	ob->last_used_ms = ob->last_retention_ms = now_mono_ms();
	rc = logmgr_get_log(o->m, topic, partition, cfg, true, &ob->log);
	if (rc < 0)
		goto fail;
	log_ref(ob->log);
	rc = log_add_hw_listener(ob->log, on_hw, ob);
	if (rc == 0) {
		rc = partition_new(topic, partition, &pc, &partition_engine_ops, ob->log, &ob->p);
		if (rc < 0)
			log_remove_hw_listener(ob->log, on_hw, ob);
	}
	if (rc < 0) {
		log_unref(ob->log);
		logmgr_drop_log(o->m, topic, partition);
		goto fail;
	}
	/* The partition owns a reference of the log: a fetch round may hold
	 * the partition after the observer is gone. */
	log_ref(ob->log);
	partition_set_log_release(ob->p, log_release);
	o->tab[o->n++] = ob;
	o->started++;
	if (o->asleep)
		pthread_cond_signal(&o->cv);
	/* A replica's reader that found no copy may find one ahead now. */
	reads_changed(o);
	mq_log(MQ_INFO, "observer %s-%d: made (a read copy from the leader)", topic, partition);
	*out = ob;
	return 0;
fail:
	mq_log_limited(MQ_ERR, "observer %s-%d: cannot make its log: %s", topic, partition,
		       strerror(-rc));
	free(ob);
	return rc;
}

/* Takes ob out of the table and deletes it (o->mu held). */
static void obs_drop(struct observers *o, int i, const char *why)
{
	struct obs *ob = o->tab[i];

	o->tab[i] = o->tab[--o->n];
	o->dropped++;
	unfollow(o, ob);
	partition_make_none(ob->p, false);
	log_remove_hw_listener(ob->log, on_hw, ob);
	partition_unref(ob->p);
	logmgr_drop_log(o->m, ob->topic, ob->partition);
	log_unref(ob->log);
	mq_log(MQ_INFO, "observer %s-%d: deleted (%s)", ob->topic, ob->partition, why);
	free(ob);
}

/* ---- the barrier (invariant 2) ---- */

/* The leader's hw by ListOffsets (latest), as a consumer asks. 0,
 * -ENOENT no leader known, the call's -errno, or -EPROTO with *err the
 * partition's error code. */
static int leader_hw(struct observers *o, const char *topic, int partition, int32_t *leader,
		     int64_t *hw, int16_t *err)
{
	char host[NET_MAX_HOST + 1];
	struct partition_state st;
	struct net_client *c = NULL;
	int port, rc;

	*err = 0;
	rc = o->cfg.state(o->cfg.arg, topic, partition, &st);
	*leader = rc == 0 ? st.leader : -1;
	if (rc == 0 && st.leader < 0)
		rc = -ENOENT;
	if (rc == 0)
		rc = o->cfg.endpoint(o->cfg.arg, st.leader, host, &port);
	if (rc == 0)
		rc = net_client_connect(host, port, OBSERVER_LIST_WAIT, &c);
	if (rc == 0 && o->sources.user)
		rc = net_client_sasl(c, o->sources.cfg.sasl_mech, o->sources.user,
				     o->sources.password, OBSERVER_LIST_WAIT);
	if (rc == 0) {
		rc = net_client_list_latest(c, topic, partition, -1, -1, OBSERVER_LIST_WAIT, hw,
					    err);
		if (rc == 0 && *err)
			rc = -EPROTO;
	}
	net_client_close(c);
	return rc;
}

/* Waits until the copy's log l (referenced by the caller) has its hw at
 * target, or the deadline. p: the copy's partition (referenced), whose
 * failing appends end the wait at once: a copy on a full disk cannot
 * take the leader's records however long it is given. 0, -ETIMEDOUT, or
 * the append's -errno. */
static int wait_hw(struct observers *o, struct log *l, struct partition *p, int64_t target,
		   int64_t deadline)
{
	struct log_state ls;
	int rc = 0;

	pthread_mutex_lock(&o->wait_mu);
	for (;;) {
		log_get_state(l, &ls);
		if (ls.hw >= target)
			break;
		rc = partition_follower_append_error(p);
		if (rc < 0)
			break;
		if (now_mono_ms() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		struct timespec ts;

		/* The hw listener wakes us; the bound covers a copy deleted
		 * meanwhile, which never moves again. */
		deadline_from_ms(CLOCK_MONOTONIC, OBSERVER_RETRY_MS, &ts);
		pthread_cond_timedwait(&o->wait_cv, &o->wait_mu, &ts);
	}
	pthread_mutex_unlock(&o->wait_mu);
	return rc;
}

static int barrier(struct observers *o, const char *topic, int partition, struct log *l,
		   struct partition *p)
{
	int64_t deadline = now_mono_ms() + o->cfg.request_timeout_ms, hw = 0;
	int32_t leader = -1;
	int16_t err = 0;
	int rc;

	for (;;) {
		rc = leader_hw(o, topic, partition, &leader, &hw, &err);
		if (rc == 0 || now_mono_ms() + OBSERVER_RETRY_MS >= deadline)
			break;
		/* A leader that died or moved: the metadata names the next. */
		pause_ms(OBSERVER_RETRY_MS);
	}
	if (rc < 0) {
		mq_log_limited(MQ_WARN,
			       "observer %s-%d: leader broker %d unreachable for %" PRId64
			       " ms (%s): read refused with ETIMEDOUT",
			       topic, partition, (int)leader, o->cfg.request_timeout_ms,
			       rc == -EPROTO   ? proto_err_name(err)
			       : rc == -ENOENT ? "no leader known"
					       : strerror(-rc));
		rc = -ETIMEDOUT;
		goto out;
	}
	/* A leader whose log starts past the copy's end answers its fetch
	 * with where it starts (offset and line position): the fetcher
	 * starts the copy there, and the hw follows. */
	rc = wait_hw(o, l, p, hw, deadline);
	if (rc == -ETIMEDOUT)
		mq_log_limited(MQ_WARN,
			       "observer %s-%d: not caught up with broker %d's high watermark "
			       "%" PRId64 " within %" PRId64 " ms: read refused with ETIMEDOUT",
			       topic, partition, (int)leader, hw, o->cfg.request_timeout_ms);
	else if (rc < 0)
		mq_log_limited(MQ_WARN,
			       "observer %s-%d: the copy cannot take broker %d's records (%s): "
			       "read refused",
			       topic, partition, (int)leader, strerror(-rc));
out:
	if (rc < 0) {
		pthread_mutex_lock(&o->mu);
		o->barrier_failures++;
		pthread_mutex_unlock(&o->mu);
	}
	return rc;
}

/* ---- the public calls ---- */

/* Finds or makes the observer of topic-partition and counts one open
 * file; *out: a reference of its log; *pout (when not NULL): a reference
 * of its partition. */
static int obs_get(struct observers *o, const char *topic, int partition,
		   const struct log_config *cfg, struct log **out, struct partition **pout)
{
	struct partition_state st;
	struct obs *ob;
	int rs = o->cfg.state(o->cfg.arg, topic, partition, &st), rc = 0;

	pthread_mutex_lock(&o->mu);
	ob = obs_find(o, topic, partition);
	if (!ob) {
		rc = obs_new(o, topic, partition, cfg, &ob);
		if (rc == 0 && obs_follow(o, ob, rs, &st) == -ENOENT) {
			obs_drop(o, o->n - 1, "no such partition");
			rc = -ENOENT;
		}
	}
	if (rc == 0) {
		ob->opens++;
		ob->last_used_ms = now_mono_ms();
		*out = ob->log;
		log_ref(*out);
		if (pout) {
			*pout = ob->p;
			partition_ref(ob->p);
		}
	}
	pthread_mutex_unlock(&o->mu);
	return rc;
}

int observer_open(struct observers *o, const char *topic, int partition,
		  const struct log_config *cfg, struct log **out)
{
	struct partition *p = NULL;
	struct log *l = NULL;
	int rc = obs_get(o, topic, partition, cfg, &l, &p);

	if (rc < 0)
		return rc;
	rc = barrier(o, topic, partition, l, p);
	partition_unref(p);
	if (rc < 0) {
		observer_close(o, topic, partition, l);
		log_unref(l);
		return rc;
	}
	*out = l;
	return 0;
}

int observer_pin(struct observers *o, const char *topic, int partition,
		 const struct log_config *cfg, struct log **out)
{
	return obs_get(o, topic, partition, cfg, out, NULL);
}

void observer_close(struct observers *o, const char *topic, int partition, const struct log *l)
{
	struct obs *ob;

	pthread_mutex_lock(&o->mu);
	ob = obs_find(o, topic, partition);
	/* Only the copy that was opened: one dropped meanwhile (its topic
	 * deleted, its partition gone) may have a successor of the same
	 * name, whose readers' opens are not this one's to count down. */
	if (ob && ob->log == l && ob->opens > 0) {
		ob->opens--;
		ob->last_used_ms = now_mono_ms();
	}
	pthread_mutex_unlock(&o->mu);
}

int observer_wait(struct observers *o, const char *topic, int partition, int64_t offset,
		  int64_t deadline)
{
	struct obs *ob;
	struct partition *p = NULL;
	struct log *l = NULL;
	int rc;

	if (!o)
		return 0;
	pthread_mutex_lock(&o->mu);
	ob = obs_find(o, topic, partition);
	if (ob) {
		l = ob->log;
		log_ref(l);
		p = ob->p;
		partition_ref(p);
	}
	pthread_mutex_unlock(&o->mu);
	if (!l)
		return 0;
	rc = wait_hw(o, l, p, offset, deadline);
	if (rc < 0)
		mq_log_limited(MQ_WARN,
			       "observer %s-%d: a forwarded write committed up to offset %" PRId64
			       " is not in this mount's read copy yet (%s)",
			       topic, partition, offset,
			       rc == -ETIMEDOUT ? "the leader is not reached" : strerror(-rc));
	partition_unref(p);
	log_unref(l);
	return rc < 0 ? -ETIMEDOUT : 0;
}

int observer_log_state(struct observers *o, const char *topic, int partition, struct log_state *st)
{
	struct obs *ob;

	pthread_mutex_lock(&o->mu);
	ob = obs_find(o, topic, partition);
	if (ob) {
		ob->last_used_ms = now_mono_ms();
		log_get_state(ob->log, st);
	}
	pthread_mutex_unlock(&o->mu);
	return ob != NULL;
}

int observer_get(struct observers *o, const char *topic, int partition, struct log **out,
		 int32_t *leader, int32_t *leader_epoch)
{
	struct obs *ob;

	pthread_mutex_lock(&o->mu);
	ob = obs_find(o, topic, partition);
	if (ob) {
		ob->last_used_ms = now_mono_ms();
		*leader = ob->source;
		*leader_epoch = ob->leader_epoch;
		if (out) {
			*out = ob->log;
			log_ref(*out);
		}
	}
	pthread_mutex_unlock(&o->mu);
	return ob ? 0 : -ENOENT;
}

/* Whether ob holds committed records that a replica with high
 * watermark hw lacks (o->mu held). */
static bool copy_ahead(const struct obs *ob, int64_t hw)
{
	struct log_state ls;

	log_get_state(ob->log, &ls);
	return ls.hw > hw;
}

bool observer_reads_copy(struct observers *o, const char *topic, int partition)
{
	struct obs *ob;
	int64_t hw = -1;
	bool copy;

	if (!o->cfg.replica_reads)
		return false;
	if (!o->cfg.replica_reads(o->cfg.arg, topic, partition, &hw))
		return true;
	pthread_mutex_lock(&o->mu);
	ob = obs_find(o, topic, partition);
	if (ob) {
		/* Before the copy's hw is read: see on_hw. */
		atomic_store_explicit(&ob->replica_compared, true, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
	}
	copy = ob && copy_ahead(ob, hw);
	pthread_mutex_unlock(&o->mu);
	return copy;
}

uint64_t observer_reads_gen(struct observers *o)
{
	uint64_t gen = atomic_load_explicit(&o->reads_gen, memory_order_acquire);

	/* A sum of two counts that only grow: it moves when either does. */
	return o->cfg.states_gen ? gen + o->cfg.states_gen(o->cfg.arg) : gen;
}

void observer_reads_moved(struct observers *o)
{
	if (o)
		reads_changed(o);
}

void observer_drop(struct observers *o, const char *topic, int partition)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->tab[i]->topic, topic) &&
		    (partition < 0 || o->tab[i]->partition == partition))
			obs_drop(o, i--, "the topic was deleted");
	pthread_mutex_unlock(&o->mu);
}

/* ---- the manager thread ---- */

/* The metadata's state of every observed partition, read without o->mu
 * (the table may change meanwhile: matched by name after). */
struct tick_state {
	char topic[PARTITION_MAX_TOPIC + 1];
	int partition;
	int rc;
	struct partition_state st;
	bool replica_reads; /* this broker's replica serves reads (cfg.replica_reads) */
	int64_t replica_hw;
};

static int tick_states(struct observers *o, struct tick_state **out)
{
	struct tick_state *ts;
	int n;

	pthread_mutex_lock(&o->mu);
	n = o->n;
	ts = calloc((size_t)n + 1, sizeof(*ts));
	for (int i = 0; ts && i < n; i++) {
		strcpy(ts[i].topic, o->tab[i]->topic);
		ts[i].partition = o->tab[i]->partition;
	}
	pthread_mutex_unlock(&o->mu);
	if (!ts)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		ts[i].rc = o->cfg.state(o->cfg.arg, ts[i].topic, ts[i].partition, &ts[i].st);
		ts[i].replica_reads = o->cfg.replica_reads &&
				      o->cfg.replica_reads(o->cfg.arg, ts[i].topic, ts[i].partition,
							   &ts[i].replica_hw);
	}
	*out = ts;
	return n;
}

static void tick(struct observers *o)
{
	int64_t now = now_mono_ms();
	struct log *ret[OBSERVER_MAX];
	struct tick_state *ts = NULL;
	int nret = 0, nts = tick_states(o, &ts);

	if (nts < 0)
		return;
	pthread_mutex_lock(&o->mu);
	for (int i = 0; i < o->n; i++) {
		struct obs *ob = o->tab[i];
		int rc = 0, k;

		if (observer_idle(ob->opens, ob->last_used_ms, now, o->cfg.idle_ms)) {
			o->idle_dropped++;
			obs_drop(o, i--, "idle: no open file for observer.idle.ms");
			continue;
		}
		for (k = 0; k < nts &&
			    (ts[k].partition != ob->partition || strcmp(ts[k].topic, ob->topic));
		     k++)
			;
		/* Made since the states were read: the next tick. A
		 * replica here that serves reads (one with its log now, or
		 * back in the ISR) and holds what the copy holds takes the
		 * readers over (observer_reads_copy); a copy still open (a
		 * reader that has not moved yet, a group's pinned one) stays
		 * and keeps following. */
		if (k < nts && ts[k].replica_reads && ob->opens == 0 &&
		    !copy_ahead(ob, ts[k].replica_hw)) {
			obs_drop(o, i--, "the replica here serves its reads");
			continue;
		}
		if (k < nts)
			rc = obs_follow(o, ob, ts[k].rc, &ts[k].st);
		if (rc != 0) {
			obs_drop(o, i--, "the partition is gone");
			continue;
		}
		if (now - ob->last_retention_ms >= o->cfg.retention_check_ms) {
			ob->last_retention_ms = now;
			log_ref(ob->log);
			ret[nret++] = ob->log;
		}
	}
	pthread_mutex_unlock(&o->mu);
	free(ts);
	/* Retention as a replica runs it (by the topic's settings, which the
	 * copy was made with), without o->mu: it deletes files. */
	for (int i = 0; i < nret; i++) {
		struct log_retention_result res;
		int rc = log_retention_run(ret[i], engine_now_ms(), &res);

		if (rc < 0 && rc != -ENOENT)
			mq_log_limited(MQ_WARN, "observer: retention: %s", strerror(-rc));
		log_unref(ret[i]);
	}
}

static void *observer_main(void *arg)
{
	struct observers *o = arg;

	pthread_mutex_lock(&o->mu);
	while (!o->stopping) {
		struct timespec ts;

		/* Nothing to tick for: a broker whose mount reads no
		 * partition of another costs no wake-up at rest. */
		if (o->n == 0) {
			o->asleep = true;
			pthread_cond_wait(&o->cv, &o->mu);
			o->asleep = false;
			continue;
		}
		deadline_from_ms(CLOCK_MONOTONIC, OBSERVER_TICK_MS, &ts);
		pthread_cond_timedwait(&o->cv, &o->mu, &ts);
		if (o->stopping)
			break;
		pthread_mutex_unlock(&o->mu);
		tick(o);
		pthread_mutex_lock(&o->mu);
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

/* Deletes the copies an earlier run left (none is kept across a restart:
 * the leader may have moved on in any way meanwhile). */
static void clear_old(struct observers *o)
{
	int n;
	const struct log_name *found = logmgr_found(o->m, &n);

	for (int i = 0; i < n; i++)
		logmgr_drop_log(o->m, found[i].topic, found[i].partition);
	if (n)
		mq_log(MQ_INFO, "observer: deleted %d read copies left by the last run", n);
}

int observers_new(const struct observer_config *cfg, struct observers **out)
{
	struct observers *o = calloc(1, sizeof(*o));
	pthread_condattr_t ca;
	int rc;

	if (!o)
		return -ENOMEM;
	o->cfg = *cfg;
	snprintf(o->dir, sizeof(o->dir), "%s/" OBSERVER_DIR, cfg->data_dir);
	o->cfg.data_dir = NULL;
	o->cfg.fetch.sasl_user = o->cfg.fetch.sasl_password = NULL;
	if (fetcher_set_init(&o->sources, &cfg->fetch, cfg->broker_id, cfg->endpoint, cfg->arg,
			     "observer") < 0) {
		free(o);
		return -ENOMEM;
	}
	o->sources.cfg.observer = true;
	rc = logmgr_open(o->dir, cfg->io ? cfg->io : &io_posix, &o->m);
	if (rc < 0) {
		mq_log(MQ_ERR, "observer: cannot open %s: %s", o->dir, strerror(-rc));
		fetcher_set_clear(&o->sources);
		free(o);
		return rc;
	}
	/* The broker's own logs have the descriptor budget; a copy's closed
	 * segments keep few open. */
	logmgr_set_fd_cache(o->m, LOGMGR_FD_CACHE_MIN);
	clear_old(o);
	pthread_mutex_init(&o->mu, NULL);
	pthread_mutex_init(&o->wait_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&o->cv, &ca);
	pthread_cond_init(&o->wait_cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = -pthread_create(&o->thread, NULL, observer_main, o);
	o->running = rc == 0;
	if (o->running)
		pthread_setname_np(o->thread, "mqfs-observer");
	if (rc < 0) {
		observers_free(o);
		return rc;
	}
	*out = o;
	return 0;
}

void observers_free(struct observers *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	o->stopping = true;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
	if (o->running)
		pthread_join(o->thread, NULL);
	pthread_mutex_lock(&o->mu);
	while (o->n > 0)
		obs_drop(o, 0, "the broker stops");
	pthread_mutex_unlock(&o->mu);
	fetcher_set_clear(&o->sources);
	logmgr_close(o->m);
	pthread_cond_destroy(&o->cv);
	pthread_cond_destroy(&o->wait_cv);
	pthread_mutex_destroy(&o->mu);
	pthread_mutex_destroy(&o->wait_mu);
	free(o);
}

void observers_state_text(struct observers *o, FILE *f)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	fprintf(f, "observers=%d\n", o->n);
	for (int i = 0; i < o->n; i++) {
		struct obs *ob = o->tab[i];
		struct log_state ls;

		log_get_state(ob->log, &ls);
		fprintf(f,
			"observer %s-%d: leader %d epoch %d hw %" PRId64 " log_start %" PRId64
			" open_files %d\n",
			ob->topic, ob->partition, (int)ob->source, (int)ob->leader_epoch, ls.hw,
			ls.log_start_offset, ob->opens);
	}
	pthread_mutex_unlock(&o->mu);
}

bool observers_asleep(struct observers *o)
{
	bool asleep;

	pthread_mutex_lock(&o->mu);
	asleep = o->asleep;
	pthread_mutex_unlock(&o->mu);
	return asleep;
}

void observers_metrics_text(struct observers *o, FILE *f)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->mu);
	fprintf(f,
		"# HELP mqfs_observers Read copies of partitions without a replica here.\n"
		"# TYPE mqfs_observers gauge\nmqfs_observers %d\n"
		"# HELP mqfs_observers_started_total Read copies made.\n"
		"# TYPE mqfs_observers_started_total counter\nmqfs_observers_started_total "
		"%" PRId64 "\n"
		"# HELP mqfs_observers_dropped_total Read copies deleted (idle ones included).\n"
		"# TYPE mqfs_observers_dropped_total counter\nmqfs_observers_dropped_total "
		"%" PRId64 "\n"
		"# HELP mqfs_observers_idle_dropped_total Read copies deleted after "
		"observer.idle.ms without an open file.\n"
		"# TYPE mqfs_observers_idle_dropped_total counter\n"
		"mqfs_observers_idle_dropped_total %" PRId64 "\n"
		"# HELP mqfs_observer_leader_changes_total Read copies moved to a new leader.\n"
		"# TYPE mqfs_observer_leader_changes_total counter\n"
		"mqfs_observer_leader_changes_total %" PRId64 "\n"
		"# HELP mqfs_observer_read_refusals_total Opens refused: the leader not reached, "
		"or the copy not caught up with it, in time.\n"
		"# TYPE mqfs_observer_read_refusals_total counter\n"
		"mqfs_observer_read_refusals_total %" PRId64 "\n",
		o->n, o->started, o->dropped, o->idle_dropped, o->leader_changes,
		o->barrier_failures);
	pthread_mutex_unlock(&o->mu);
}
