/*
 * partition.c — one partition replica on this broker: its role, leader
 * epoch, replicas, ISR, the high watermark, and on the leader each
 * follower's fetch state; the rules of partition.h (invariants 1-9) in
 * the fewest lines, named after Kafka's Partition.scala.
 *
 * An ISR change goes in three steps so that no lock is held across the
 * ZooKeeper write:
 *   1. under the lock: compute the new ISR, mark it pending (the maximal
 *      ISR now includes it: invariant 7), copy the proposal;
 *   2. no lock: the owner's writer makes it durable (or, with no writer,
 *      the local metadata store of a single node: the next partition
 *      epoch);
 *   3. under the lock: apply it if the partition is still led by us in
 *      the same leader and partition epoch, clear the pending mark, and
 *      see whether the hw can move.
 * One change is pending at a time; a rule that finds one pending waits
 * for the next fetch or the next expiration tick.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "repl/partition.h"
#include "util/diaglog.h"

struct partition {
	pthread_mutex_t lock;
	int refs;
	bool deleted; /* lock: partition_make_none(p, true) */
	char topic[PARTITION_MAX_TOPIC + 1];
	int32_t index;
	struct partition_config cfg;
	const struct partition_log_ops *ops;
	void *log;
	partition_isr_write_fn isr_write;
	void *isr_write_arg;
	partition_change_fn on_change;
	void *on_change_arg;
	partition_storage_fn on_storage;
	void *on_storage_arg;
	partition_alive_fn alive; /* NULL: every broker counts as alive */
	void *alive_arg;
	/* partition_mark_offline: its log directory failed; never cleared
	 * (the broker restarts to bring the replica back, as Kafka's). */
	bool offline;
	void (*log_release)(void *log);

	enum partition_role role;
	struct partition_state st;
	/* leader */
	int64_t leader_epoch_start_offset;
	int n_followers;
	struct partition_replica followers[PARTITION_MAX_REPLICAS];
	bool isr_pending;
	struct partition_state pending;
	int64_t isr_shrinks;
	int64_t isr_expands;
	/* follower */
	enum partition_fetch_state fetch_state;
	uint64_t generation;
	/* invariant 9: set at open after an unclean shutdown; the leader's hw
	 * at the first fetch after it (-1: not fetched yet) */
	bool unclean;
	int64_t unclean_target;
	/* The -errno of the last append of fetched records that failed (a
	 * full disk), 0 once one succeeds: read without the lock by a read
	 * copy's barrier (observer.c), which waits under a lock the hw
	 * listener takes inside this one. */
	atomic_int append_error;
	/* partition_set_min_isr; cfg.min_insync_replicas until then */
	atomic_int min_isr;
};

int partition_new(const char *topic, int32_t index, const struct partition_config *cfg,
		  const struct partition_log_ops *ops, void *log, struct partition **out)
{
	struct partition *p;

	if (!topic || !*topic || strlen(topic) > PARTITION_MAX_TOPIC || index < 0 || !ops ||
	    cfg->replica_lag_time_max_ms < 0 || cfg->min_insync_replicas < 1)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->refs = 1;
	strcpy(p->topic, topic);
	p->index = index;
	p->cfg = *cfg;
	p->ops = ops;
	p->log = log;
	p->role = PARTITION_NONE;
	p->st.leader = -1;
	p->st.leader_epoch = -1;
	p->st.partition_epoch = -1;
	p->leader_epoch_start_offset = -1;
	p->unclean = cfg->unclean_restart;
	p->unclean_target = -1;
	atomic_init(&p->min_isr, cfg->min_insync_replicas);
	*out = p;
	return 0;
}

void partition_ref(struct partition *p)
{
	__atomic_add_fetch(&p->refs, 1, __ATOMIC_ACQ_REL);
}

int partition_refs(struct partition *p)
{
	return __atomic_load_n(&p->refs, __ATOMIC_ACQUIRE);
}

void partition_unref(struct partition *p)
{
	if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (p->log_release)
		p->log_release(p->log);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void partition_set_log_release(struct partition *p, void (*fn)(void *log))
{
	p->log_release = fn;
}

void partition_set_isr_writer(struct partition *p, partition_isr_write_fn fn, void *arg)
{
	pthread_mutex_lock(&p->lock);
	p->isr_write = fn;
	p->isr_write_arg = arg;
	pthread_mutex_unlock(&p->lock);
}

void partition_set_alive(struct partition *p, partition_alive_fn fn, void *arg)
{
	pthread_mutex_lock(&p->lock);
	p->alive = fn;
	p->alive_arg = arg;
	pthread_mutex_unlock(&p->lock);
}

void partition_set_listener(struct partition *p, partition_change_fn fn, void *arg)
{
	pthread_mutex_lock(&p->lock);
	p->on_change = fn;
	p->on_change_arg = arg;
	pthread_mutex_unlock(&p->lock);
}

void partition_set_storage_listener(struct partition *p, partition_storage_fn fn, void *arg)
{
	pthread_mutex_lock(&p->lock);
	p->on_storage = fn;
	p->on_storage_arg = arg;
	pthread_mutex_unlock(&p->lock);
}

bool partition_storage_failure(int err)
{
	return err == -EIO || err == -ENOSPC || err == -EDQUOT || err == -EROFS;
}

/* After a log operation failed with err (no lock held): a storage failure
 * goes to the owner, which takes the log directory offline. */
static void storage_check(struct partition *p, int err)
{
	partition_storage_fn fn;
	void *arg;

	if (!partition_storage_failure(err))
		return;
	pthread_mutex_lock(&p->lock);
	fn = p->on_storage;
	arg = p->on_storage_arg;
	pthread_mutex_unlock(&p->lock);
	if (fn)
		fn(arg, p, err);
}

void partition_read_failed(struct partition *p, int err)
{
	storage_check(p, err);
}

const char *partition_topic(const struct partition *p)
{
	return p->topic;
}
int32_t partition_index(const struct partition *p)
{
	return p->index;
}
void *partition_log(const struct partition *p)
{
	return p->log;
}
const struct partition_log_ops *partition_log_ops(const struct partition *p)
{
	return p->ops;
}

static void notify(struct partition *p)
{
	partition_change_fn fn;
	void *arg;

	pthread_mutex_lock(&p->lock);
	fn = p->on_change;
	arg = p->on_change_arg;
	pthread_mutex_unlock(&p->lock);
	if (fn)
		fn(arg, p);
}

static bool ids_have(const int32_t *ids, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* A state from the controller is well formed: replicas distinct and within
 * bounds, the ISR within the replicas, the leader (if any) a replica. */
static int state_check(const struct partition_state *st)
{
	if (st->n_replicas < 1 || st->n_replicas > PARTITION_MAX_REPLICAS || st->n_isr < 0 ||
	    st->n_isr > st->n_replicas || st->leader_epoch < 0)
		return -EINVAL;
	for (int i = 0; i < st->n_replicas; i++)
		if (st->replicas[i] < 0 || ids_have(st->replicas, i, st->replicas[i]))
			return -EINVAL;
	for (int i = 0; i < st->n_isr; i++)
		if (!ids_have(st->replicas, st->n_replicas, st->isr[i]) ||
		    ids_have(st->isr, i, st->isr[i]))
			return -EINVAL;
	if (st->leader >= 0 && !ids_have(st->replicas, st->n_replicas, st->leader))
		return -EINVAL;
	return 0;
}

/* Older than what we hold: a lower leader epoch, or the same one with a
 * lower partition epoch (a controller's late message). */
static bool state_stale(const struct partition *p, const struct partition_state *st)
{
	if (st->leader_epoch != p->st.leader_epoch)
		return st->leader_epoch < p->st.leader_epoch;
	return st->partition_epoch < p->st.partition_epoch;
}

static struct partition_replica *follower_find(struct partition *p, int32_t id)
{
	for (int i = 0; i < p->n_followers; i++)
		if (p->followers[i].broker_id == id)
			return &p->followers[i];
	return NULL;
}

/* Kafka's Replica.resetReplicaState: on a new leader epoch nothing of a
 * follower's fetches is known; one in the ISR counts as caught up now so
 * that it is not shrunk before it could fetch, one outside as never. */
static void replica_reset(struct partition_replica *r, int32_t id, bool in_isr, int64_t now_ms)
{
	r->broker_id = id;
	r->log_end_offset = -1;
	r->log_start_offset = -1;
	r->last_fetch_leader_leo = -1;
	r->last_fetch_ms = 0;
	r->last_caught_up_ms = in_isr ? now_ms : 0;
	r->hw_sent = -1;
	r->bytes_sent = 0;
}

/* The maximal ISR holds id: the ISR, or a pending change's. */
static bool in_maximal_isr(const struct partition *p, int32_t id)
{
	return ids_have(p->st.isr, p->st.n_isr, id) ||
	       (p->isr_pending && ids_have(p->pending.isr, p->pending.n_isr, id));
}

/* Kafka's hasAliveBroker over the owner's view (partition_set_alive). */
static bool broker_alive(const struct partition *p, int32_t id)
{
	return !p->alive || p->alive(p->alive_arg, id);
}

/* Kafka's shouldWaitForReplicaToJoinIsr: a follower outside the ISR that
 * is caught up (replica.lag.time.max.ms, as the shrink rule counts it) on
 * a live broker is about to join it, so the hw waits for it rather than
 * running ahead of it for ever (a follower whose LEO stays below a hw
 * that follows the leader's LEO never gets in sync). One that never
 * fetched (LEO -1) is not caught up. */
static bool waits_to_join(const struct partition *p, const struct partition_replica *r,
			  int64_t leader_leo, int64_t now_ms)
{
	return r->log_end_offset >= 0 &&
	       partition_replica_caught_up(r, leader_leo, now_ms, p->cfg.replica_lag_time_max_ms) &&
	       broker_alive(p, r->broker_id);
}

/* Under the lock: invariant 2. */
static int increment_hw_locked(struct partition *p, int64_t now_ms)
{
	struct partition_offsets o;
	int64_t hw;
	int rc;

	if (p->role != PARTITION_LEADER)
		return -EREMOTE;
	/* Under min.insync.replicas nothing is committed (invariant 2). The
	 * ISR as written, not the maximal one: as Kafka's isUnderMinIsr. */
	if (p->st.n_isr < partition_effective_min_isr(atomic_load(&p->min_isr), p->st.n_replicas))
		return 0;
	p->ops->offsets(p->log, &o);
	hw = o.log_end_offset;
	for (int i = 0; i < p->n_followers; i++) {
		const struct partition_replica *r = &p->followers[i];

		if (r->log_end_offset < hw && (in_maximal_isr(p, r->broker_id) ||
					       waits_to_join(p, r, o.log_end_offset, now_ms)))
			hw = r->log_end_offset;
	}
	if (hw <= o.hw)
		return 0;
	rc = p->ops->set_hw(p->log, hw);
	return rc < 0 ? rc : 1;
}

int partition_maybe_increment_leader_hw(struct partition *p, int64_t now_ms)
{
	int rc;

	pthread_mutex_lock(&p->lock);
	rc = increment_hw_locked(p, now_ms);
	pthread_mutex_unlock(&p->lock);
	if (rc > 0)
		notify(p);
	return rc;
}

int partition_make_leader(struct partition *p, const struct partition_state *st, int64_t now_ms)
{
	struct partition_replica old[PARTITION_MAX_REPLICAS];
	struct partition_offsets o;
	int n_old, rc, new_epoch;

	rc = state_check(st);
	if (rc)
		return rc;
	if (st->leader != p->cfg.broker_id || !ids_have(st->isr, st->n_isr, st->leader))
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->offline) {
		rc = -ENXIO;
		goto out;
	}
	if (state_stale(p, st)) {
		rc = -ESTALE;
		goto out;
	}
	if (p->unclean) {
		/* Invariant 9 as partition_follower_append checks it, with the
		 * ISR of this state (the controller elects from the ISR it
		 * read; the follower may not have heard of it yet): it has
		 * every record committed before it came back. */
		p->ops->offsets(p->log, &o);
		if (!st->recovering &&
		    (p->unclean_target < 0 || o.log_end_offset < p->unclean_target)) {
			rc = -EPERM;
			goto out;
		}
		p->unclean = false;
	}
	new_epoch = p->role != PARTITION_LEADER || st->leader_epoch != p->st.leader_epoch;
	p->ops->offsets(p->log, &o);
	if (new_epoch) {
		/* Epochs in the cache only grow: an epoch we already hold (a
		 * leader re-elected in the epoch it wrote) keeps its start. */
		if (p->ops->latest_epoch(p->log) < st->leader_epoch) {
			rc = p->ops->assign_epoch(p->log, st->leader_epoch, o.log_end_offset);
			if (rc)
				goto out;
		}
		p->leader_epoch_start_offset = o.log_end_offset;
	}
	n_old = new_epoch ? 0 : p->n_followers;
	memcpy(old, p->followers, sizeof(old));
	p->n_followers = 0;
	for (int i = 0; i < st->n_replicas; i++) {
		int32_t id = st->replicas[i];
		struct partition_replica *r = &p->followers[p->n_followers];
		int j;

		if (id == p->cfg.broker_id)
			continue;
		for (j = 0; j < n_old && old[j].broker_id != id; j++)
			;
		if (j < n_old)
			*r = old[j];
		else
			replica_reset(r, id, ids_have(st->isr, st->n_isr, id), now_ms);
		p->n_followers++;
	}
	p->st = *st;
	p->role = PARTITION_LEADER;
	p->isr_pending = false;
	rc = increment_hw_locked(p, now_ms);
	rc = rc < 0 ? rc : new_epoch;
out:
	pthread_mutex_unlock(&p->lock);
	if (rc >= 0)
		notify(p);
	else
		storage_check(p, rc); /* the epoch cache's write */
	return rc;
}

int partition_make_follower(struct partition *p, const struct partition_state *st)
{
	int rc;

	rc = state_check(st);
	if (rc)
		return rc;
	if (st->leader == p->cfg.broker_id ||
	    !ids_have(st->replicas, st->n_replicas, p->cfg.broker_id))
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->offline || state_stale(p, st)) {
		rc = p->offline ? -ENXIO : -ESTALE;
		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	rc = p->role != PARTITION_FOLLOWER || st->leader != p->st.leader ||
	     st->leader_epoch != p->st.leader_epoch;
	p->st = *st;
	p->role = PARTITION_FOLLOWER;
	p->n_followers = 0;
	p->isr_pending = false;
	p->leader_epoch_start_offset = -1;
	if (rc) {
		p->fetch_state = PARTITION_TRUNCATING;
		p->generation++;
	}
	/* Invariant 9 as partition_follower_append_at checks it, for a
	 * follower that caught up before this state put it in the ISR: the
	 * leader's next answer may not name the partition at all (a fetch
	 * session answers only partitions with news), so no append would
	 * look again until the next record. Not with a new leader or epoch:
	 * its truncation comes first. */
	if (!rc && p->unclean && p->unclean_target >= 0 &&
	    ids_have(st->isr, st->n_isr, p->cfg.broker_id)) {
		struct partition_offsets o;

		p->ops->offsets(p->log, &o);
		if (o.log_end_offset >= p->unclean_target)
			p->unclean = false;
	}
	pthread_mutex_unlock(&p->lock);
	notify(p);
	return rc;
}

/* To NONE; deleted and offline are kept once set. */
static void to_none(struct partition *p, bool deleted, bool offline)
{
	pthread_mutex_lock(&p->lock);
	p->deleted = p->deleted || deleted;
	p->offline = p->offline || offline;
	p->role = PARTITION_NONE;
	p->n_followers = 0;
	p->isr_pending = false;
	p->leader_epoch_start_offset = -1;
	p->generation++;
	pthread_mutex_unlock(&p->lock);
	notify(p);
}

void partition_make_none(struct partition *p, bool deleted)
{
	to_none(p, deleted, false);
}

void partition_mark_offline(struct partition *p)
{
	to_none(p, false, true);
}

bool partition_deleted(struct partition *p)
{
	bool d;

	pthread_mutex_lock(&p->lock);
	d = p->deleted;
	pthread_mutex_unlock(&p->lock);
	return d;
}

bool partition_replica_in_sync(const struct partition_replica *r, int64_t hw,
			       int64_t leader_epoch_start_offset)
{
	return r->log_end_offset >= 0 && r->log_end_offset >= hw &&
	       r->log_end_offset >= leader_epoch_start_offset;
}

bool partition_replica_caught_up(const struct partition_replica *r, int64_t leader_leo,
				 int64_t now_ms, int64_t lag_max_ms)
{
	return r->log_end_offset == leader_leo || now_ms - r->last_caught_up_ms <= lag_max_ms;
}

/* Called with the lock held, returns without it: the end of step 1 and
 * steps 2 and 3 of an ISR change (the file header). */
static int isr_change(struct partition *p, const struct partition_state *proposed, int64_t now_ms)
{
	partition_isr_write_fn fn = p->isr_write;
	void *arg = p->isr_write_arg;
	bool applied = false;
	int rc;

	p->pending = *proposed;
	p->isr_pending = true;
	pthread_mutex_unlock(&p->lock);
	rc = fn ? fn(arg, p, proposed) : proposed->partition_epoch + 1;
	pthread_mutex_lock(&p->lock);
	p->isr_pending = false;
	if (rc >= 0 && p->role == PARTITION_LEADER &&
	    p->st.leader_epoch == proposed->leader_epoch &&
	    p->st.partition_epoch == proposed->partition_epoch) {
		if (proposed->n_isr < p->st.n_isr)
			p->isr_shrinks++;
		else
			p->isr_expands++;
		memcpy(p->st.isr, proposed->isr, sizeof(p->st.isr));
		p->st.n_isr = proposed->n_isr;
		p->st.partition_epoch = rc;
		applied = true;
	}
	if (p->role == PARTITION_LEADER)
		increment_hw_locked(p, now_ms);
	pthread_mutex_unlock(&p->lock);
	if (applied)
		notify(p);
	return rc < 0 ? rc : applied ? 0 : -ESTALE;
}

int partition_update_follower_fetch_state(struct partition *p, int32_t replica_id,
					  int64_t fetch_offset, int64_t log_start_offset,
					  int64_t now_ms)
{
	struct partition_replica *r;
	struct partition_offsets o;
	int rc;

	pthread_mutex_lock(&p->lock);
	if (p->role != PARTITION_LEADER) {
		pthread_mutex_unlock(&p->lock);
		return -EREMOTE;
	}
	r = follower_find(p, replica_id);
	p->ops->offsets(p->log, &o);
	if (!r || fetch_offset > o.log_end_offset || fetch_offset < 0) {
		pthread_mutex_unlock(&p->lock);
		return r ? -ERANGE : -ENOENT;
	}
	/* Kafka's Replica.updateFetchState: caught up now when it fetched
	 * at our LEO; caught up as of its previous fetch when it fetched at
	 * least what our LEO was then. */
	if (fetch_offset >= o.log_end_offset) {
		if (now_ms > r->last_caught_up_ms)
			r->last_caught_up_ms = now_ms;
	} else if (fetch_offset >= r->last_fetch_leader_leo && r->last_fetch_leader_leo >= 0) {
		if (r->last_fetch_ms > r->last_caught_up_ms)
			r->last_caught_up_ms = r->last_fetch_ms;
	}
	r->log_end_offset = fetch_offset;
	r->log_start_offset = log_start_offset;
	r->last_fetch_leader_leo = o.log_end_offset;
	r->last_fetch_ms = now_ms;
	pthread_mutex_unlock(&p->lock);
	rc = partition_maybe_expand_isr(p, replica_id, now_ms);
	if (rc < 0 && rc != -ESTALE)
		return rc;
	rc = partition_maybe_increment_leader_hw(p, now_ms);
	return rc < 0 ? rc : 0;
}

void partition_note_hw_sent(struct partition *p, int32_t replica_id, int64_t hw, int64_t bytes_sent)
{
	struct partition_replica *r;

	pthread_mutex_lock(&p->lock);
	r = p->role == PARTITION_LEADER ? follower_find(p, replica_id) : NULL;
	if (r && hw > r->hw_sent)
		r->hw_sent = hw;
	if (r)
		r->bytes_sent = bytes_sent;
	pthread_mutex_unlock(&p->lock);
}

bool partition_follower_hw_behind(struct partition *p, int32_t replica_id, int64_t *bytes_sent)
{
	struct partition_replica *r;
	struct partition_offsets o;
	bool behind = false;

	pthread_mutex_lock(&p->lock);
	r = p->role == PARTITION_LEADER ? follower_find(p, replica_id) : NULL;
	if (r) {
		p->ops->offsets(p->log, &o);
		behind = o.hw > r->hw_sent;
		if (bytes_sent)
			*bytes_sent = r->bytes_sent;
	}
	pthread_mutex_unlock(&p->lock);
	return behind;
}

int partition_maybe_expand_isr(struct partition *p, int32_t replica_id, int64_t now_ms)
{
	struct partition_state proposed;
	struct partition_replica *r;
	struct partition_offsets o;
	int rc;

	pthread_mutex_lock(&p->lock);
	r = p->role == PARTITION_LEADER ? follower_find(p, replica_id) : NULL;
	if (!r || p->isr_pending || ids_have(p->st.isr, p->st.n_isr, replica_id)) {
		pthread_mutex_unlock(&p->lock);
		return p->role == PARTITION_LEADER ? 0 : -EREMOTE;
	}
	p->ops->offsets(p->log, &o);
	if (!partition_replica_in_sync(r, o.hw, p->leader_epoch_start_offset)) {
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	proposed = p->st;
	proposed.isr[proposed.n_isr++] = replica_id;
	rc = isr_change(p, &proposed, now_ms);
	return rc < 0 ? rc : 1;
}

int partition_maybe_shrink_isr(struct partition *p, int64_t now_ms)
{
	struct partition_state proposed;
	struct partition_offsets o;
	int removed = 0, rc;

	pthread_mutex_lock(&p->lock);
	if (p->role != PARTITION_LEADER || p->isr_pending) {
		rc = p->role == PARTITION_LEADER ? 0 : -EREMOTE;
		pthread_mutex_unlock(&p->lock);
		return rc;
	}
	p->ops->offsets(p->log, &o);
	proposed = p->st;
	proposed.n_isr = 0;
	for (int i = 0; i < p->st.n_isr; i++) {
		int32_t id = p->st.isr[i];
		struct partition_replica *r = follower_find(p, id);

		if (r && !partition_replica_caught_up(r, o.log_end_offset, now_ms,
						      p->cfg.replica_lag_time_max_ms)) {
			removed++;
			continue;
		}
		proposed.isr[proposed.n_isr++] = id;
	}
	if (!removed) {
		pthread_mutex_unlock(&p->lock);
		return 0;
	}
	/* The shrinking ISR still holds the hw back until it is written:
	 * the maximal ISR is the current, larger one. */
	rc = isr_change(p, &proposed, now_ms);
	return rc < 0 ? rc : removed;
}

int partition_check_append(struct partition *p, int acks)
{
	return partition_check_append_isr(p, acks, 0);
}

int partition_check_append_isr(struct partition *p, int acks, int32_t min_insync_replicas)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (min_insync_replicas <= 0)
		min_insync_replicas = atomic_load(&p->min_isr);
	min_insync_replicas = partition_effective_min_isr(min_insync_replicas, p->st.n_replicas);
	if (p->offline)
		rc = -ENXIO;
	else if (p->role != PARTITION_LEADER)
		rc = -EREMOTE;
	else if (acks == -1 && p->st.n_isr < min_insync_replicas)
		rc = -EAGAIN;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int partition_check_enough_replicas(struct partition *p, int32_t min_insync_replicas)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (min_insync_replicas <= 0)
		min_insync_replicas = atomic_load(&p->min_isr);
	min_insync_replicas = partition_effective_min_isr(min_insync_replicas, p->st.n_replicas);
	/* The maximal ISR: a pending expansion's (the ISR and the member
	 * being added), or the ISR in force while a shrink is written. */
	int maximal =
		p->isr_pending && p->pending.n_isr > p->st.n_isr ? p->pending.n_isr : p->st.n_isr;

	if (p->offline)
		rc = -ENXIO;
	else if (p->role != PARTITION_LEADER)
		rc = -EREMOTE;
	else if (maximal < min_insync_replicas)
		rc = -EAGAIN;
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void partition_set_min_isr(struct partition *p, int32_t min_insync_replicas)
{
	if (min_insync_replicas > 0)
		atomic_store(&p->min_isr, min_insync_replicas);
}

bool partition_under_min_isr(struct partition *p)
{
	bool under;

	pthread_mutex_lock(&p->lock);
	under = p->role == PARTITION_LEADER &&
		p->st.n_isr <
			partition_effective_min_isr(atomic_load(&p->min_isr), p->st.n_replicas);
	pthread_mutex_unlock(&p->lock);
	return under;
}

int partition_delete_records(struct partition *p, int64_t offset, int64_t *start)
{
	struct partition_offsets o;

	pthread_mutex_lock(&p->lock);
	bool leader = p->role == PARTITION_LEADER;
	p->ops->offsets(p->log, &o);
	pthread_mutex_unlock(&p->lock);
	*start = o.log_start_offset;
	if (!leader)
		return -EREMOTE;
	if (!p->ops->delete_records)
		return -ENOTSUP;
	if (offset == -1)
		offset = o.hw;
	if (offset < 0)
		return -ERANGE;
	/* Outside the lock, as the follower's (partition_follower_append):
	 * the start listener may wait for a read of the mount. */
	return p->ops->delete_records(p->log, offset, false, start);
}

int partition_low_watermark(struct partition *p, int64_t *low)
{
	struct partition_offsets o;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->role != PARTITION_LEADER) {
		rc = -EREMOTE;
	} else {
		p->ops->offsets(p->log, &o);
		*low = o.log_start_offset;
		for (int i = 0; i < p->n_followers; i++) {
			const struct partition_replica *r = &p->followers[i];

			if (r->log_start_offset < *low && broker_alive(p, r->broker_id))
				*low = r->log_start_offset;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

int partition_follow_state(struct partition *p, struct partition_follow *f)
{
	struct partition_offsets o;

	pthread_mutex_lock(&p->lock);
	if (p->role != PARTITION_FOLLOWER) {
		pthread_mutex_unlock(&p->lock);
		return -EREMOTE;
	}
	p->ops->offsets(p->log, &o);
	f->leader = p->st.leader;
	f->leader_epoch = p->st.leader_epoch;
	f->state = p->fetch_state;
	f->fetch_offset = o.log_end_offset;
	f->last_fetched_epoch = p->ops->latest_epoch(p->log);
	f->log_start_offset = o.log_start_offset;
	f->generation = p->generation;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

int partition_follower_truncate(struct partition *p, uint64_t generation, int64_t offset, bool done)
{
	struct partition_offsets o;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->role != PARTITION_FOLLOWER || p->generation != generation) {
		rc = -ESTALE;
		goto out;
	}
	p->ops->offsets(p->log, &o);
	if (offset < o.log_start_offset)
		offset = o.log_start_offset;
	/* An intermediate step at the log end (KIP-279: the leader answered
	 * with an epoch this log does not have) cuts no record, but the
	 * epochs that start at the end (led here, nothing appended) must go
	 * (engine.h), or the next question would be about the same epoch
	 * and get the same answer, for ever. */
	if (offset < o.log_end_offset || (offset == o.log_end_offset && !done))
		rc = p->ops->truncate_to(p->log, offset);
	if (!rc && done)
		p->fetch_state = PARTITION_FETCHING;
out:
	pthread_mutex_unlock(&p->lock);
	storage_check(p, rc);
	return rc;
}

int partition_follower_append(struct partition *p, uint64_t generation, const uint8_t *records,
			      size_t len, int64_t leader_hw, int64_t leader_start)
{
	return partition_follower_append_at(p, generation, records, len, -1, leader_hw,
					    leader_start);
}

/* The big-endian number of n bytes at b (a batch header's field). */
static uint64_t be_get(const uint8_t *b, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | b[i];
	return v;
}

int partition_follower_append_at(struct partition *p, uint64_t generation, const uint8_t *records,
				 size_t len, int64_t first_line_pos, int64_t leader_hw,
				 int64_t leader_start)
{
	struct partition_offsets o;
	bool eligible_now = false;
	int64_t start_to = -1;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->role != PARTITION_FOLLOWER || p->generation != generation) {
		rc = -ESTALE;
		goto out;
	}
	/* A log that holds no record (reset to its leader's log start) whose
	 * first batch fetched begins below its end: the leader's log start
	 * lies inside that batch (DeleteRecords or retention cut there) and a
	 * fetch at the start brings the batch whole. As Kafka's follower
	 * (Partition.appendRecordsToFollowerOrFutureReplica), the log starts
	 * again at the batch's base, at its line position (the leader's, in
	 * the answer), and takes it; the leader's start moves it up below. */
	if (len >= 27 && first_line_pos >= 0 && p->ops->reset_start) {
		int64_t base = (int64_t)be_get(records, 8);
		int64_t last = base + (int32_t)be_get(records + 23, 4); /* last_offset_delta */

		p->ops->offsets(p->log, &o);
		if (o.log_start_offset == o.log_end_offset && base < o.log_end_offset &&
		    last >= o.log_end_offset) {
			rc = p->ops->reset_start(p->log, base, first_line_pos);
			if (rc)
				goto out;
			mq_log(MQ_INFO,
			       "%s-%d: the leader's log start %" PRId64 " lies inside its batch at "
			       "offset %" PRId64 ": this replica's log, empty, starts again there "
			       "(line position %" PRId64 ")",
			       p->topic, (int)p->index, o.log_end_offset, base, first_line_pos);
		}
	}
	if (len > 0) {
		rc = p->ops->append_batches(p->log, records, len, first_line_pos);
		atomic_store(&p->append_error, rc < 0 ? rc : 0);
		if (rc)
			goto out;
	}
	p->ops->offsets(p->log, &o);
	rc = p->ops->set_hw(p->log, leader_hw < o.log_end_offset ? leader_hw : o.log_end_offset);
	if (rc)
		goto out;
	p->ops->offsets(p->log, &o);
	if (leader_start > o.log_start_offset && p->ops->delete_records)
		start_to = leader_start < o.hw ? leader_start : o.hw;
	if (p->unclean) {
		if (p->unclean_target < 0)
			p->unclean_target = leader_hw;
		if (o.log_end_offset >= p->unclean_target &&
		    ids_have(p->st.isr, p->st.n_isr, p->cfg.broker_id)) {
			p->unclean = false;
			eligible_now = true;
		}
	}
out:
	pthread_mutex_unlock(&p->lock);
	storage_check(p, rc);
	if (eligible_now)
		notify(p);
	/* Outside the lock: the log's start listener drops the mount's pages
	 * of the records that go, which may wait for a read in flight. A
	 * refusal leaves the start where it is: a compacted topic's for
	 * good; a maintenance of the log under way (a clean, a retention
	 * pass) for now, and 1 says so, for the fetcher to ask for it again
	 * (in a fetch session the leader names the partition again only
	 * with news of it, which an idle one never has: a DeleteRecords
	 * waiting for this replica's log start would time out). */
	if (rc == 0 && start_to > 0) {
		int64_t start;
		int r = p->ops->delete_records(p->log, start_to, true, &start);

		if (r == -EBUSY)
			rc = 1;
		else if (r < 0 && r != -EPERM)
			mq_log_limited(MQ_WARN,
				       "%s-%d: cannot move the log start to the leader's %" PRId64
				       ": %s",
				       p->topic, (int)p->index, start_to, strerror(-r));
	}
	return rc;
}

int partition_follower_reset_start(struct partition *p, uint64_t generation, int64_t offset,
				   int64_t line_pos)
{
	struct partition_offsets o;
	int rc;

	pthread_mutex_lock(&p->lock);
	if (p->role != PARTITION_FOLLOWER || p->generation != generation) {
		rc = -ESTALE;
		goto out;
	}
	p->ops->offsets(p->log, &o);
	if (offset <= o.log_end_offset)
		rc = -EINVAL;
	else
		rc = p->ops->reset_start ? p->ops->reset_start(p->log, offset, line_pos) : -ENOTSUP;
out:
	pthread_mutex_unlock(&p->lock);
	storage_check(p, rc);
	return rc;
}

void partition_get_info(struct partition *p, struct partition_info *info)
{
	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&p->lock);
	info->role = p->role;
	info->leader = p->st.leader;
	info->leader_epoch = p->st.leader_epoch;
	info->partition_epoch = p->st.partition_epoch;
	info->leader_epoch_start_offset = p->leader_epoch_start_offset;
	info->n_replicas = p->st.n_replicas;
	memcpy(info->replicas, p->st.replicas, sizeof(info->replicas));
	info->n_isr = p->st.n_isr;
	memcpy(info->isr, p->st.isr, sizeof(info->isr));
	info->n_followers = p->n_followers;
	memcpy(info->followers, p->followers, sizeof(info->followers));
	p->ops->offsets(p->log, &info->offsets);
	info->isr_write_pending = p->isr_pending;
	info->leader_eligible = !p->unclean;
	info->offline = p->offline;
	info->isr_shrinks = p->isr_shrinks;
	info->isr_expands = p->isr_expands;
	pthread_mutex_unlock(&p->lock);
}

bool partition_isr_has(struct partition *p, int32_t broker)
{
	bool in = false;

	pthread_mutex_lock(&p->lock);
	if (p->role == PARTITION_LEADER && !p->isr_pending)
		for (int i = 0; i < p->st.n_isr && !in; i++)
			in = p->st.isr[i] == broker;
	pthread_mutex_unlock(&p->lock);
	return in;
}

bool partition_maximal_isr_has(struct partition *p, int32_t broker)
{
	bool in;

	pthread_mutex_lock(&p->lock);
	in = p->role == PARTITION_LEADER && in_maximal_isr(p, broker);
	pthread_mutex_unlock(&p->lock);
	return in;
}

bool partition_out_of_isr(struct partition *p, int32_t broker)
{
	bool out = false;

	pthread_mutex_lock(&p->lock);
	if (p->role == PARTITION_FOLLOWER && p->st.leader >= 0 && p->st.leader != broker)
		out = !ids_have(p->st.isr, p->st.n_isr, broker);
	pthread_mutex_unlock(&p->lock);
	return out;
}

int partition_follower_append_error(struct partition *p)
{
	return atomic_load(&p->append_error);
}

bool partition_leader_eligible(struct partition *p)
{
	bool ok;

	pthread_mutex_lock(&p->lock);
	ok = !p->unclean && !p->offline;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

int partition_leader_epoch(struct partition *p, int32_t *epoch)
{
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	*epoch = p->role == PARTITION_NONE ? -1 : p->st.leader_epoch;
	if (p->role != PARTITION_LEADER)
		rc = p->offline ? -ENXIO : -EREMOTE;
	pthread_mutex_unlock(&p->lock);
	return rc;
}
