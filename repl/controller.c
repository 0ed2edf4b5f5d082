/*
 * controller.c — the cluster controller (Kafka's KafkaController with its
 * PartitionStateMachine, ReplicaStateMachine and ControllerEventManager,
 * ZooKeeper era). The pure decisions come first; the controller object
 * after them. The API is controller.h's; the znodes and the write guards
 * are zkdata.h's and zkmeta.h's.
 *
 * THE CONTROLLER'S STATES (ctl->state, changed on the event thread only)
 *
 *            controller_start            zkmeta_elect() == 0
 *                   |               +-----------------------> FOLLOWER
 *                   v               |                            |
 *   +--------> CANDIDATE -----------+    /controller watch fires |
 *   |               |    ^  ^            (ctrl_elect)            |
 *   |               |    |  +------------------------------------+
 *   |  zkmeta_elect |    |
 *   |      == 1     |    | ctrl_resign: /controller is no longer ours,
 *   |               v    | a guarded write was fenced (-EPERM), or a
 *   |            ACTIVE -+ ZooKeeper error (re-elected after a backoff)
 *   |               |
 *   |               | ZKC_EXPIRED (controller_session_event): ctrl_resign
 *   |               v
 *   +---------- DETACHED   (from any state; controller_reconnect gives the
 *   controller_reconnect    new handle and goes back to CANDIDATE)
 *
 *   any state --controller_stop--> STOPPED (ACTIVE first runs a controlled
 *                                  shutdown of its own broker)
 *
 * While ACTIVE (ctrl_become_active: read brokers, topics, states, start
 * the partitions without state, elect where leaders are gone, tell every
 * broker everything), events are handled one at a time:
 *   /brokers/ids children         ctrl_on_brokers: dead brokers leave ISRs,
 *                                 partitions they led get new leaders
 *                                 (offline election), offline partitions
 *                                 come back with a returning broker, new
 *                                 brokers get all their partitions; a
 *                                 broker whose registration is newer
 *                                 than the one seen (restarted between
 *                                 two reads) is both: gone, then new
 *                                 (ctrl_bounce); a registration's data
 *                                 changed (its ineligible partitions):
 *                                 elect again where that changes a choice
 *   /brokers/topics children      ctrl_on_topics: new partitions get their
 *   (and each topic's data: its   first state (leader = first live replica,
 *   assignment grew)              ISR = live replicas, leader epoch 0)
 *   /admin/delete_topics children ctrl_on_deletions: StopReplica with
 *                                 delete to the replicas, znodes removed
 *   /isr_change_notification      ctrl_on_isr_change: re-read the states a
 *                                 leader changed, UpdateMetadata to all
 *   /log_dir_event_notification   ctrl_on_log_dir_events: a broker's log
 *                                 directory failed (Kafka's
 *                                 onBrokerLogDirFailure): the notices are
 *                                 deleted and that broker is sent a
 *                                 LeaderAndIsr of all its partitions,
 *                                 whose KAFKA_STORAGE_ERROR answers take
 *                                 its replicas offline (ctrl_on_answers)
 *   controlled shutdown request   ctrl_on_controlled_shutdown: its
 *                                 leaderships move (it is told), it stops
 *                                 following the rest and leaves their ISRs
 *   leader.imbalance timer        ctrl_on_rebalance: preferred elections
 *                                 for the brokers above the imbalance
 *                                 (moving partitions left out)
 *   /admin/reassign_partitions    ctrl_on_reassign: each partition moves
 *   (and AlterPartitionReassign-  (ctrl_move, Kafka's onPartitionReassign-
 *   ments: ctrl_on_alter)         ment): RS = TRS + ORS with adding and
 *                                 removing written to the topic znode, a
 *                                 new leader epoch told to RS; once TRS is
 *                                 in the ISR (checked after ISR changes
 *                                 and broker changes: ctrl_moves_check)
 *                                 the leader is one of TRS, the ISR and
 *                                 the assignment become TRS's, RR's
 *                                 replicas get StopReplica with delete and
 *                                 the partition leaves the admin znode.
 *                                 A cancel or a new target that drops
 *                                 the leader's replica elects among the
 *                                 new RS, offline (leader -1) when none
 *                                 of it can lead (Kafka's outcome).
 *                                 A move lives in its topic znode only:
 *                                 a new controller resumes it from there
 *   /admin/preferred_replica_     ctrl_on_preferred: ElectLeaders'
 *   election (made; and read on   preferred election for each partition
 *   taking office)                named, then the znode deleted
 *   LeaderAndIsr answers          ctrl_on_answers: replicas a broker could
 *   (controller_lisr_answer)      not host (its log did not open, or its
 *                                 log directory failed) go offline there
 *                                 and their partitions elect without them
 *
 * INVARIANTS
 *   1. Only the event thread calls zkc or the channel and touches the
 *      cache (live brokers, topics with their states). zkc callbacks only
 *      set a bit in ctl->pending and signal; the caller-facing calls that
 *      need an answer queue an event on the stack and wait for it.
 *   2. Every partition state the controller writes names the znode version
 *      it read and the epoch version it won with (zkmeta.h guards 2 and 3).
 *      -ESTALE means someone (a leader changing its ISR) wrote in between:
 *      re-read and decide again. -EPERM means another controller was
 *      elected: resign at once, write nothing more.
 *   3. Every state written differs from the one read and carries leader
 *      epoch + 1 and the controller's epoch.
 *   4. A leader comes from ISR ∩ live brokers minus the replicas their
 *      broker's registration names ineligible (an unclean restart not
 *      caught up yet: Kafka's KIP-966), unless
 *      unclean.leader.election.enable (the topic's override, else the
 *      broker's; then logged as possible data loss).
 *      A replica its broker answered it cannot host (KAFKA_STORAGE_ERROR
 *      to a LeaderAndIsr: its log did not open, the broker's log
 *      directory failed since, or its log is gone while the ISR names it:
 *      replica_mgr.h, rule 7) counts as dead for its
 *      partition until that broker takes it or its life ends (Kafka's
 *      replicasOnOfflineDirs, KIP-112): it neither leads nor stays in
 *      the ISR.
 *   5. The controller never empties an ISR: a dead sole member stays, and
 *      the partition is offline (leader -1) until it returns.
 *   6. The channel hears a state only after it is written, only while
 *      ACTIVE, with the epoch of that office.
 *   7. The cache is a copy of ZooKeeper, re-read on every takeover: the
 *      controller keeps nothing that ZooKeeper does not hold.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "repl/controller.h"
#include "repl/zkmeta.h"
#include "repl/zkwatch.h"
#include "util/clock.h"
#include "util/diaglog.h"

/* ---- pure decisions ---- */

static bool has(const int32_t *set, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (set[i] == id)
			return true;
	return false;
}

static int rand_below(int n)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)time(NULL);
	return (int)(r % (uint32_t)n);
}

/* Kafka's replicaIndex: the k-th try for a follower of the replica at
 * first, shift places further on with each lap (never first itself). */
static int follower_index(int first, int shift, int k, int n)
{
	return (first + 1 + (shift + k) % (n - 1)) % n;
}

/* Kafka's getRackAlternatedBrokerList: the racks sorted, each rack's
 * brokers by id, taken one from each rack in turn (a rack out of brokers
 * is skipped), so that neighbours in the list sit in different racks as
 * long as racks have brokers left. out[k] is an index into brokers.
 * Returns the number of distinct racks, or -ENOMEM. */
static int rack_alternated(const char *const *racks, int n, int *out)
{
	const char **names = malloc((size_t)n * sizeof(*names));
	int *next = calloc((size_t)n, sizeof(*next)); /* per rack: next broker to look at */
	int n_racks = 0, k = 0, r = 0;

	if (!names || !next) {
		free(names);
		free(next);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		int j = 0;

		while (j < n_racks && strcmp(names[j], racks[i]))
			j++;
		if (j < n_racks)
			continue;
		/* insertion in sorted place (Java's String order is strcmp's
		 * for the ASCII names racks have) */
		for (j = n_racks++; j > 0 && strcmp(names[j - 1], racks[i]) > 0; j--)
			names[j] = names[j - 1];
		names[j] = racks[i];
	}
	while (k < n) {
		int i = next[r];

		while (i < n && strcmp(racks[i], names[r]))
			i++;
		if (i < n) {
			out[k++] = i;
			next[r] = i + 1;
		} else {
			next[r] = n;
		}
		r = (r + 1) % n_racks;
	}
	free(names);
	free(next);
	return n_racks;
}

/* Kafka's assignReplicasToBrokersRackAware over the rack-alternated list:
 * the first replica as without racks, each follower the next candidate
 * (Kafka's replicaIndex with the shift times the number of racks) that
 * is neither in a rack already holding a replica while some rack holds
 * none, nor a broker already holding one. */
static int assign_rack_aware(const int32_t *brokers, const char *const *racks, int n,
			     int first_partition, int n_partitions, int rf, int start, int shift,
			     int32_t *replicas)
{
	int *list = malloc((size_t)n * sizeof(*list));
	int *chosen = malloc((size_t)rf * sizeof(*chosen)); /* indexes into brokers */
	int n_racks, rc = 0;

	if (!list || !chosen) {
		rc = -ENOMEM;
		goto out;
	}
	if ((n_racks = rack_alternated(racks, n, list)) < 0) {
		rc = n_racks;
		goto out;
	}
	for (int p = first_partition; p < first_partition + n_partitions; p++) {
		int first = (p + start) % n, n_chosen = 1, racks_used = 1, k = 0;
		int32_t *out = replicas + (size_t)(p - first_partition) * rf;

		if (p > 0 && p % n == 0)
			shift++;
		chosen[0] = list[first];
		while (n_chosen < rf) {
			int b = list[follower_index(first, shift * n_racks, k++, n)];
			bool rack_taken = false, taken = false;

			for (int j = 0; j < n_chosen; j++) {
				rack_taken = rack_taken || !strcmp(racks[chosen[j]], racks[b]);
				taken = taken || chosen[j] == b;
			}
			if ((rack_taken && racks_used < n_racks) || (taken && n_chosen < n))
				continue;
			racks_used += !rack_taken;
			chosen[n_chosen++] = b;
		}
		for (int j = 0; j < rf; j++)
			out[j] = brokers[chosen[j]];
	}
out:
	free(list);
	free(chosen);
	return rc;
}

int controller_assign_replicas(const int32_t *brokers, const char *const *racks, int n_brokers,
			       int first_partition, int n_partitions, int replication_factor,
			       int start_index, int replica_shift, int32_t *replicas)
{
	int n = n_brokers, rf = replication_factor, start, shift, p, j, i, with_rack = 0;

	if (first_partition < 0 || n_partitions <= 0 || rf <= 0 || rf > n)
		return -EINVAL;
	for (i = 1; i < n; i++)
		if (brokers[i] <= brokers[i - 1])
			return -EINVAL;
	for (i = 0; racks && i < n; i++)
		with_rack += racks[i] != NULL;
	/* As Kafka: racks on some brokers but not all is refused rather than
	 * placed as if there were none (an operator half way through setting
	 * broker.rack would otherwise get layouts that ignore them). */
	if (with_rack > 0 && with_rack < n)
		return -ENOTSUP;
	start = start_index >= 0 ? start_index % n : rand_below(n);
	shift = replica_shift >= 0 ? replica_shift % n : rand_below(n);
	if (with_rack > 0)
		return assign_rack_aware(brokers, racks, n, first_partition, n_partitions, rf,
					 start, shift, replicas);
	for (p = first_partition; p < first_partition + n_partitions; p++) {
		int first = (p + start) % n;
		int32_t *out = replicas + (size_t)(p - first_partition) * rf;

		/* Each lap around the brokers moves the followers one further,
		 * so that a broker's partitions do not all follow the same
		 * next broker. */
		if (p > 0 && p % n == 0)
			shift++;
		out[0] = brokers[first];
		for (j = 0; j < rf - 1; j++)
			out[1 + j] = brokers[follower_index(first, shift, j, n)];
	}
	return 0;
}

/* Fills next when (leader, isr) differs from cur, or with force (a new
 * leader epoch for the same leader): 1, else 0; -ENOMEM. */
static int next_state_of(const struct zk_partition_state *cur, int32_t leader, const int32_t *isr,
			 int n_isr, bool force, struct zk_partition_state *next)
{
	memset(next, 0, sizeof(*next));
	if (!force && leader == cur->leader && n_isr == cur->n_isr &&
	    (n_isr == 0 || !memcmp(isr, cur->isr, (size_t)n_isr * sizeof(*isr))))
		return 0;
	next->isr = malloc(((size_t)n_isr + 1) * sizeof(*isr));
	if (!next->isr)
		return -ENOMEM;
	if (n_isr)
		memcpy(next->isr, isr, (size_t)n_isr * sizeof(*isr));
	next->n_isr = n_isr;
	next->leader = leader;
	next->leader_epoch = cur->leader_epoch + 1;
	next->controller_epoch = cur->controller_epoch;
	next->leader_recovery_state = cur->leader_recovery_state;
	return 1;
}

static int next_state(const struct zk_partition_state *cur, int32_t leader, const int32_t *isr,
		      int n_isr, struct zk_partition_state *next)
{
	return next_state_of(cur, leader, isr, n_isr, false, next);
}

/* The members of cur's ISR that are registered and, with drop_shutting,
 * not shutting down, in ISR order; when none is left, the ISR's last
 * member (the ISR is never emptied). out has room for cur->n_isr. */
static int isr_keep(const struct zk_partition_state *cur, const struct controller_brokers *b,
		    bool drop_shutting, int32_t *out)
{
	int i, n = 0;

	for (i = 0; i < cur->n_isr; i++) {
		int32_t r = cur->isr[i];

		if (has(b->live, b->n_live, r) &&
		    !(drop_shutting && has(b->shutting, b->n_shutting, r)))
			out[n++] = r;
	}
	if (n == 0 && cur->n_isr > 0)
		out[n++] = cur->isr[cur->n_isr - 1];
	return n;
}

/* The first replica that is registered, not shutting down and (unless
 * any_replica: the unclean election) in cur's ISR and eligible: Kafka's
 * offline, reassignment and controlled shutdown elections, which differ
 * only in the sets they look at. */
static int32_t first_eligible(const struct zk_partition_state *cur, const int32_t *replicas,
			      int n_replicas, const struct controller_brokers *b, bool any_replica)
{
	for (int i = 0; i < n_replicas; i++) {
		int32_t r = replicas[i];

		if (has(b->live, b->n_live, r) && !has(b->shutting, b->n_shutting, r) &&
		    (any_replica || (has(cur->isr, cur->n_isr, r) &&
				     !(b->ineligible && has(b->ineligible, b->n_ineligible, r)))))
			return r;
	}
	return ZK_LEADER_NONE;
}

int controller_decide_live(const struct zk_partition_state *cur, const int32_t *replicas,
			   int n_replicas, const struct controller_brokers *b, bool unclean_enable,
			   struct zk_partition_state *next, bool *unclean, bool *recovery)
{
	int32_t leader = cur->leader, *isr;
	bool recovered = false;
	int n, rc;

	if (unclean)
		*unclean = false;
	if (recovery)
		*recovery = false;
	isr = malloc(((size_t)cur->n_isr + 1) * sizeof(*isr));
	if (!isr)
		return -ENOMEM;
	n = isr_keep(cur, b, false, isr);
	/* A leader that its own registration names ineligible restarted
	 * uncleanly since it was elected (all brokers went down, and the
	 * controller that would have seen it go went with them): it refuses
	 * to lead in that epoch, so it is elected again like a dead one. */
	if (leader == ZK_LEADER_NONE || !has(b->live, b->n_live, leader) ||
	    (b->ineligible && has(b->ineligible, b->n_ineligible, leader))) {
		leader = first_eligible(cur, replicas, n_replicas, b, false);
		/* Every live ISR member restarted uncleanly (all brokers killed
		 * or cut off at once): none can catch up without a leader, so
		 * waiting would keep the partition offline for good. The first
		 * of them in replica order leads (KIP-966's aggressive unclean
		 * recovery, within the ISR) in a new epoch, RECOVERING: the
		 * state that lets an ineligible replica take the leadership. */
		for (int i = 0; i < n_replicas && leader == ZK_LEADER_NONE; i++)
			if (has(isr, n, replicas[i]) && has(b->live, b->n_live, replicas[i]) &&
			    !has(b->shutting, b->n_shutting, replicas[i])) {
				leader = replicas[i];
				recovered = true;
				if (recovery)
					*recovery = true;
			}
		if (leader == ZK_LEADER_NONE && unclean_enable) {
			leader = first_eligible(cur, replicas, n_replicas, b, true);
			if (leader != ZK_LEADER_NONE) {
				/* It starts from its own log: the ISR is it. */
				isr[0] = leader;
				n = 1;
				if (unclean)
					*unclean = true;
			}
		}
	}
	rc = next_state_of(cur, leader, isr, n, recovered, next);
	/* A leader from outside the ISR recovers its log before it takes
	 * followers into the ISR (Kafka's leader recovery state). */
	if (rc == 1 && leader != ZK_LEADER_NONE &&
	    (recovered || (leader != cur->leader && !has(cur->isr, cur->n_isr, leader))))
		next->leader_recovery_state = ZK_RECOVERY_RECOVERING;
	free(isr);
	return rc;
}

int controller_decide_controlled_shutdown(const struct zk_partition_state *cur,
					  const int32_t *replicas, int n_replicas,
					  const struct controller_brokers *b,
					  struct zk_partition_state *next)
{
	int32_t leader = cur->leader, *isr;
	int n, rc;

	if (has(b->shutting, b->n_shutting, leader)) {
		leader = first_eligible(cur, replicas, n_replicas, b, false);
		if (leader == ZK_LEADER_NONE) {
			/* Nobody to take over: it keeps leading, and the
			 * caller reports the partition as still led by it. */
			memset(next, 0, sizeof(*next));
			return 0;
		}
	}
	isr = malloc(((size_t)cur->n_isr + 1) * sizeof(*isr));
	if (!isr)
		return -ENOMEM;
	n = isr_keep(cur, b, true, isr);
	rc = next_state(cur, leader, isr, n, next);
	free(isr);
	return rc;
}

int controller_decide_preferred(const struct zk_partition_state *cur, const int32_t *replicas,
				int n_replicas, const struct controller_brokers *b,
				struct zk_partition_state *next)
{
	int32_t pref = n_replicas > 0 ? replicas[0] : ZK_LEADER_NONE;

	memset(next, 0, sizeof(*next));
	if (pref == ZK_LEADER_NONE || pref == cur->leader || !has(b->live, b->n_live, pref) ||
	    has(b->shutting, b->n_shutting, pref) || !has(cur->isr, cur->n_isr, pref) ||
	    (b->ineligible && has(b->ineligible, b->n_ineligible, pref)))
		return 0;
	return next_state(cur, pref, cur->isr, cur->n_isr, next);
}

void controller_move_clear(struct controller_move *m)
{
	free(m->replicas);
	memset(m, 0, sizeof(*m));
}

int controller_move_target(const struct zk_assignment *a, int32_t *out)
{
	int n = 0;

	for (int i = 0; i < a->n_replicas; i++)
		if (!has(a->removing, a->n_removing, a->replicas[i]))
			out[n++] = a->replicas[i];
	return n;
}

int controller_plan_move(const struct zk_assignment *cur, const int32_t *target, int n_target,
			 const int32_t *live, int n_live, struct controller_move *out)
{
	int32_t *ors, *v;
	int n_ors = 0, i, room = cur->n_replicas + (n_target > 0 ? n_target : 0) + 1;

	memset(out, 0, sizeof(*out));
	if (!target && cur->n_adding == 0 && cur->n_removing == 0)
		return -EALREADY;
	if (target && n_target <= 0)
		return -EINVAL;
	for (i = 0; target && i < n_target; i++)
		if (target[i] < 0 || has(target, i, target[i]))
			return -EINVAL;
	/* ORS, then RS, AR, RR and the dropped ones, each at most room. */
	if (!(v = malloc((size_t)room * 5 * sizeof(*v))))
		return -ENOMEM;
	ors = v;
	out->replicas = v + room;
	out->adding = v + 2 * room;
	out->removing = v + 3 * room;
	out->dropped = v + 4 * room;
	for (i = 0; i < cur->n_replicas; i++)
		if (!has(cur->adding, cur->n_adding, cur->replicas[i]))
			ors[n_ors++] = cur->replicas[i];
	if (!target) {
		target = ors;
		n_target = n_ors;
	}
	for (i = 0; i < n_target; i++)
		out->replicas[out->n_replicas++] = target[i];
	for (i = 0; i < n_ors; i++)
		if (!has(target, n_target, ors[i])) {
			out->replicas[out->n_replicas++] = ors[i];
			out->removing[out->n_removing++] = ors[i];
		}
	for (i = 0; i < n_target; i++)
		if (!has(ors, n_ors, target[i]))
			out->adding[out->n_adding++] = target[i];
	for (i = 0; i < cur->n_replicas; i++)
		if (!has(out->replicas, out->n_replicas, cur->replicas[i]))
			out->dropped[out->n_dropped++] = cur->replicas[i];
	/* Only the replicas new to the partition must be registered: one
	 * already holding it, or already being added by the move this one
	 * repeats (a new controller reading the request again), may be down
	 * for now. */
	for (i = 0; i < out->n_adding; i++)
		if (!has(live, n_live, out->adding[i]) &&
		    !has(cur->replicas, cur->n_replicas, out->adding[i])) {
			free(v);
			memset(out, 0, sizeof(*out));
			return -EHOSTUNREACH;
		}
	/* out->replicas is the block (controller_move_clear frees it). */
	memmove(v, out->replicas, (size_t)out->n_replicas * sizeof(*v));
	out->replicas = v;
	return 0;
}

bool controller_move_caught_up(const struct zk_assignment *a, const struct zk_partition_state *cur)
{
	for (int i = 0; i < a->n_replicas; i++)
		if (!has(a->removing, a->n_removing, a->replicas[i]) &&
		    !has(cur->isr, cur->n_isr, a->replicas[i]))
			return false;
	return true;
}

int controller_decide_move(const struct zk_partition_state *cur, const int32_t *replicas,
			   int n_replicas, const struct controller_brokers *b,
			   struct zk_partition_state *next)
{
	int32_t leader = cur->leader, *isr;
	int n = 0, rc;

	memset(next, 0, sizeof(*next));
	if (leader == ZK_LEADER_NONE || !has(replicas, n_replicas, leader) ||
	    !has(b->live, b->n_live, leader) ||
	    (b->ineligible && has(b->ineligible, b->n_ineligible, leader)))
		leader = first_eligible(cur, replicas, n_replicas, b, false);
	if (leader == ZK_LEADER_NONE)
		return -EAGAIN;
	if (!(isr = malloc(((size_t)cur->n_isr + 1) * sizeof(*isr))))
		return -ENOMEM;
	for (int i = 0; i < cur->n_isr; i++)
		if (has(replicas, n_replicas, cur->isr[i]))
			isr[n++] = cur->isr[i];
	if (!has(isr, n, leader))
		isr[n++] = leader; /* a live leader kept is in its own ISR */
	rc = next_state_of(cur, leader, isr, n, true, next);
	free(isr);
	return rc;
}

int controller_decide_move_start(const struct zk_partition_state *cur, const int32_t *replicas,
				 int n_replicas, const struct controller_brokers *b,
				 struct zk_partition_state *next)
{
	int32_t leader = cur->leader, *isr;
	int n = 0, rc = controller_decide_move(cur, replicas, n_replicas, b, next);

	if (rc != -EAGAIN)
		return rc;
	/* No replica of RS can lead. The replicas no longer in RS are
	 * stopped (Kafka's OfflineReplica): each leaves the ISR unless it is
	 * its last member (the ISR is never emptied), and a leader among
	 * them takes the leadership with it (leader -1), since its broker
	 * deletes the partition. A leader of RS (dead, or ineligible) stays:
	 * Kafka's reassignment election, failing, writes nothing more. */
	if (!(isr = malloc(((size_t)cur->n_isr + 1) * sizeof(*isr))))
		return -ENOMEM;
	for (int i = 0; i < cur->n_isr; i++)
		if (has(replicas, n_replicas, cur->isr[i]))
			isr[n++] = cur->isr[i];
	if (n == 0 && cur->n_isr > 0)
		isr[n++] = cur->isr[cur->n_isr - 1];
	if (leader != ZK_LEADER_NONE && !has(replicas, n_replicas, leader))
		leader = ZK_LEADER_NONE;
	rc = next_state(cur, leader, isr, n, next);
	free(isr);
	return rc;
}

struct pref_led {
	int32_t preferred;
	int led; /* 1: the preferred replica leads */
};

static int pref_led_cmp(const void *a, const void *b)
{
	int32_t x = ((const struct pref_led *)a)->preferred;
	int32_t y = ((const struct pref_led *)b)->preferred;

	return (x > y) - (x < y);
}

int controller_imbalanced_brokers(const int32_t *preferred, const int32_t *leader, int n,
				  int percentage, int32_t *out)
{
	struct pref_led *v;
	int i, j, k = 0;

	if (n <= 0)
		return 0;
	if (!(v = malloc((size_t)n * sizeof(*v))))
		return -ENOMEM;
	for (i = 0; i < n; i++)
		v[i] = (struct pref_led){ preferred[i], leader[i] == preferred[i] };
	qsort(v, (size_t)n, sizeof(*v), pref_led_cmp);
	for (i = 0; i < n; i = j) {
		int64_t total = 0, not_led = 0;

		for (j = i; j < n && v[j].preferred == v[i].preferred; j++) {
			total++;
			not_led += !v[j].led;
		}
		/* not_led / total > percentage / 100, in integers. */
		if (not_led * 100 > (int64_t)percentage * total)
			out[k++] = v[i].preferred;
	}
	free(v);
	return k;
}

/* ---- the controller ---- */

enum ctrl_state { CTRL_CANDIDATE, CTRL_FOLLOWER, CTRL_ACTIVE, CTRL_DETACHED, CTRL_STOPPED };

/* Events from zkc callbacks: bits of ctl->pending, so that a callback
 * never allocates and a burst of one kind is handled once (every handler
 * re-reads what it needs). */
enum {
	EV_ELECT = 1 << 0, /* /controller changed; or retry */
	EV_BROKERS = 1 << 1,
	EV_TOPICS = 1 << 2,
	EV_DELETIONS = 1 << 3,
	EV_ISR_CHANGE = 1 << 4,
	EV_EXPIRED = 1 << 5,
	EV_ANSWERS = 1 << 6,    /* LeaderAndIsr answers queued (ctl->answers) */
	EV_CONFIG = 1 << 7,     /* a topic's overrides changed */
	EV_LOG_DIR = 1 << 8,    /* /log_dir_event_notification children */
	EV_REASSIGN = 1 << 9,   /* /admin/reassign_partitions made, changed or gone */
	EV_PREFERRED = 1 << 10, /* /admin/preferred_replica_election made, changed or gone */
};

/* A broker's answer to a LeaderAndIsr (controller_lisr_answer), queued
 * for the event thread: one allocation, the partitions after it. */
struct ctrl_answer {
	struct ctrl_answer *next;
	int32_t broker_id;
	int64_t broker_epoch;
	int n_failed, n_ok;
	struct controller_tp tps[]; /* the failed ones, then the ok ones */
};

/* A replica its broker could not host (KAFKA_STORAGE_ERROR in its
 * LeaderAndIsr answer: its log did not open, or its log directory
 * failed), for that life of the broker
 * (Kafka's replicasOnOfflineDirs). */
struct ctrl_offline {
	int32_t broker_id;
	int64_t broker_epoch;
	struct controller_tp tp;
};

/* Events a caller waits for (on its stack). */
enum ctrl_call_type { CALL_RECONNECT, CALL_SHUTDOWN, CALL_STOP, CALL_ELECT, CALL_ALTER, CALL_LIST };

struct ctrl_call {
	enum ctrl_call_type type;
	int32_t broker_id;                     /* CALL_SHUTDOWN */
	struct controller_tp **remaining;      /* CALL_SHUTDOWN, may be NULL */
	struct zkc *zkc;                       /* CALL_RECONNECT */
	bool unclean;                          /* CALL_ELECT */
	struct controller_election *elect;     /* CALL_ELECT */
	int n_elect;                           /* CALL_ELECT */
	struct controller_reassignment *alter; /* CALL_ALTER */
	int n_alter;                           /* CALL_ALTER */
	struct controller_moving **moving;     /* CALL_LIST */
	bool done;
	int rc;
	struct ctrl_call *next;
};

/* One request to one broker about one partition, before grouping. */
struct ctrl_send {
	int32_t broker_id;
	int t; /* index in ctl->topics */
	int32_t p;
	bool is_new;
	bool delete_partition;
	bool topic_deleted; /* StopReplica of a topic deletion: EpochDuringDelete */
};

struct ctrl_sends {
	struct ctrl_send *v;
	int n, cap;
};

/* What one event tells the brokers, sent at its end (ctrl_flush). */
struct ctrl_batch {
	struct ctrl_sends lisr; /* LeaderAndIsr, per broker */
	struct ctrl_sends meta; /* UpdateMetadata: partitions (broker unused) */
	bool meta_all;          /* UpdateMetadata: every partition */
	struct ctrl_sends stop; /* StopReplica, per broker */
	int err;                /* -ENOMEM while collecting */
};

/* A replica its broker's registration names as not eligible as leader. */
struct ctrl_inel {
	int32_t broker_id;
	struct zk_tp tp;
};

#define PARTITION_INEL_MAX 64  /* ineligible replicas of one partition looked at */
#define PARTITION_LIVE_MAX 256 /* live brokers an election without offline replicas takes */
#define CTRL_RETRY_MS      200 /* back-off before re-entering the election */
#define CTRL_WRITE_TRIES   5   /* re-reads of a state that keeps changing */

struct controller {
	struct controller_config cfg;
	/* cfg's unclean.leader.election.enable as the dynamic settings make
	 * it (controller_set_unclean_default); any thread. */
	atomic_bool unclean_default;
	struct controller_channel ch;
	pthread_t thread;

	pthread_mutex_t lock; /* pending, calls, info, closed */
	pthread_cond_t cond;  /* work for the thread; a call is done */
	bool closed;          /* stopped: callbacks and calls are refused */
	int pending;
	struct ctrl_call *calls, **calls_tail;
	struct ctrl_answer *answers; /* queued, oldest first */
	struct ctrl_answer **answers_tail;
	struct controller_info info;

	/* Event thread only (invariant 1). */
	struct zkc *zkc;
	enum ctrl_state state;
	int32_t epoch, epoch_zk_version;
	int32_t *live;        /* sorted */
	int64_t *live_epochs; /* broker epochs (czxid), as live */
	int n_live;
	int32_t *shutting;
	int n_shutting;
	struct zkwatch_set topic_watches;  /* data of each /brokers/topics/<t> */
	struct zkwatch_set broker_watches; /* /brokers/ids and each registration */
	/* The "ineligible_partitions" of the live brokers' registrations,
	 * one (broker, topic, partition) per entry, in the order read. */
	struct ctrl_inel *inel;
	int n_inel;
	/* Replicas their brokers answered they cannot host: such a replica
	 * counts as dead for its partition's elections and ISR until its
	 * broker answers that it took it, or that broker's life ends. Kept
	 * in memory only, as Kafka's: a new controller learns them again
	 * from the answers to the LeaderAndIsr it sends every broker when it
	 * takes over (the one exception to invariant 7). */
	struct ctrl_offline *offline;
	int n_offline;
	struct zkmeta_topic *topics;
	int n_topics;
	int64_t retry_at_ms;     /* 0: no retry due */
	int64_t rebalance_at_ms; /* 0: no check due */
};

static void ctrl_post(struct controller *ctl, int bits)
{
	pthread_mutex_lock(&ctl->lock);
	if (!ctl->closed) {
		ctl->pending |= bits;
		pthread_cond_broadcast(&ctl->cond);
	}
	pthread_mutex_unlock(&ctl->lock);
}

/* Every watch of the controller: runs on the completion thread, so it only
 * posts the event its path stands for. */
static void ctrl_watch(void *arg, enum zkc_watch ev, const char *path)
{
	struct controller *ctl = arg;

	(void)ev;
	if (!strcmp(path, ZK_CONTROLLER_PATH))
		ctrl_post(ctl, EV_ELECT);
	else if (!strncmp(path, ZK_BROKER_IDS_PATH, strlen(ZK_BROKER_IDS_PATH))) {
		/* the list, or one registration's data */
		zkwatch_fired(&ctl->broker_watches, path);
		ctrl_post(ctl, EV_BROKERS);
	} else if (!strcmp(path, ZK_BROKER_TOPICS_PATH))
		ctrl_post(ctl, EV_TOPICS);
	else if (!strncmp(path, ZK_BROKER_TOPICS_PATH "/", strlen(ZK_BROKER_TOPICS_PATH) + 1)) {
		/* a topic's assignment changed (partitions added) or went */
		zkwatch_fired(&ctl->topic_watches, path);
		ctrl_post(ctl, EV_TOPICS);
	} else if (!strcmp(path, ZK_DELETE_TOPICS_PATH))
		ctrl_post(ctl, EV_DELETIONS);
	else if (!strcmp(path, ZK_ISR_CHANGE_PATH))
		ctrl_post(ctl, EV_ISR_CHANGE);
	else if (!strcmp(path, ZK_LOG_DIR_EVENT_PATH))
		ctrl_post(ctl, EV_LOG_DIR);
	else if (!strcmp(path, ZK_REASSIGN_PATH))
		ctrl_post(ctl, EV_REASSIGN);
	else if (!strcmp(path, ZK_PREFERRED_PATH))
		ctrl_post(ctl, EV_PREFERRED);
}

void controller_topic_config_changed(struct controller *ctl)
{
	ctrl_post(ctl, EV_CONFIG);
}

void controller_set_unclean_default(struct controller *ctl, bool on)
{
	if (atomic_exchange(&ctl->unclean_default, on) != on && on)
		ctrl_post(ctl, EV_CONFIG);
}

void controller_session_event(struct controller *ctl, enum zkc_session ev)
{
	if (ev == ZKC_EXPIRED || ev == ZKC_AUTH_FAILED)
		ctrl_post(ctl, EV_EXPIRED);
}

/* Publishes what controller_get_info shows. */
static void ctrl_publish(struct controller *ctl)
{
	int t, p, offline = 0;

	for (t = 0; t < ctl->n_topics; t++)
		for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++)
			offline += ctl->topics[t].partitions[p].present &&
				   ctl->topics[t].partitions[p].state.leader == ZK_LEADER_NONE;
	pthread_mutex_lock(&ctl->lock);
	ctl->info.active = ctl->state == CTRL_ACTIVE;
	ctl->info.epoch = ctl->info.active ? ctl->epoch : 0;
	ctl->info.epoch_zk_version = ctl->info.active ? ctl->epoch_zk_version : 0;
	ctl->info.offline_partitions = ctl->info.active ? offline : 0;
	pthread_mutex_unlock(&ctl->lock);
}

static void inel_free(struct ctrl_inel *v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i].tp.topic);
	free(v);
}

/* Same entries in the same order. */
static bool inel_same(const struct ctrl_inel *a, int na, const struct ctrl_inel *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (a[i].broker_id != b[i].broker_id || a[i].tp.partition != b[i].tp.partition ||
		    strcmp(a[i].tp.topic, b[i].tp.topic))
			return false;
	return true;
}

static void ctrl_clear_cache(struct controller *ctl)
{
	zkmeta_topics_free(ctl->topics, ctl->n_topics);
	ctl->topics = NULL;
	ctl->n_topics = 0;
	free(ctl->live);
	free(ctl->live_epochs);
	ctl->live = NULL;
	ctl->live_epochs = NULL;
	ctl->n_live = 0;
	free(ctl->shutting);
	ctl->shutting = NULL;
	ctl->n_shutting = 0;
	inel_free(ctl->inel, ctl->n_inel);
	ctl->inel = NULL;
	ctl->n_inel = 0;
	free(ctl->offline);
	ctl->offline = NULL;
	ctl->n_offline = 0;
}

/* ACTIVE -> CANDIDATE: forget everything (invariant 7); stale watches
 * that fire later find the controller not ACTIVE and do nothing. */
static void ctrl_resign(struct controller *ctl)
{
	if (ctl->state == CTRL_ACTIVE) {
		mq_log(MQ_INFO, "controller: broker %d resigns (epoch %d)", ctl->cfg.broker_id,
		       ctl->epoch);
		pthread_mutex_lock(&ctl->lock);
		ctl->info.resignations++;
		pthread_mutex_unlock(&ctl->lock);
	}
	ctrl_clear_cache(ctl);
	ctl->rebalance_at_ms = 0;
	if (ctl->state != CTRL_DETACHED && ctl->state != CTRL_STOPPED)
		ctl->state = CTRL_CANDIDATE;
}

/* The one reaction to a failed step (invariant 2): fenced, re-elect now;
 * session gone, wait for a new handle; anything else, re-elect after a
 * back-off (the election re-reads everything). */
static void ctrl_fail(struct controller *ctl, int rc, const char *what)
{
	if (ctl->state == CTRL_ACTIVE || rc != -ENOTCONN)
		mq_log(rc == -EPERM ? MQ_INFO : MQ_WARN, "controller: broker %d: %s: %s",
		       ctl->cfg.broker_id, what, strerror(-rc));
	ctrl_resign(ctl);
	if (rc == -ENOTCONN) {
		ctl->state = CTRL_DETACHED;
		return;
	}
	ctl->retry_at_ms = now_mono_ms() + (rc == -EPERM ? 0 : CTRL_RETRY_MS);
}

static int ctrl_flush(struct controller *ctl, struct ctrl_batch *b);

/* ctrl_fail, and the batch of the failed step is dropped: it may name
 * topics of a cache that is gone (ctrl_flush sends nothing unless ACTIVE). */
static void ctrl_abort(struct controller *ctl, struct ctrl_batch *b, int rc, const char *what)
{
	ctrl_fail(ctl, rc, what);
	ctrl_flush(ctl, b);
}

/* ---- the batch of requests ---- */

static void sends_push(struct ctrl_batch *b, struct ctrl_sends *s, struct ctrl_send one)
{
	if (s->n == s->cap) {
		int cap = s->cap ? 2 * s->cap : 16;
		struct ctrl_send *v = realloc(s->v, (size_t)cap * sizeof(*v));

		if (!v) {
			b->err = -ENOMEM;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = one;
}

static int send_cmp(const void *a, const void *b)
{
	const struct ctrl_send *x = a, *y = b;

	if (x->broker_id != y->broker_id)
		return x->broker_id < y->broker_id ? -1 : 1;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return (x->p > y->p) - (x->p < y->p);
}

static bool ctrl_is_live(const struct controller *ctl, int32_t id)
{
	return has(ctl->live, ctl->n_live, id);
}

/* The broker epoch of a live broker, -1 (Kafka's unknown) for another. */
static int64_t ctrl_broker_epoch(const struct controller *ctl, int32_t id)
{
	for (int i = 0; i < ctl->n_live; i++)
		if (ctl->live[i] == id)
			return ctl->live_epochs[i];
	return -1;
}

static bool ctrl_is_shutting(const struct controller *ctl, int32_t id)
{
	return has(ctl->shutting, ctl->n_shutting, id);
}

/* Whether broker id, in its current life, answered that it cannot host
 * (t, p). */
static bool ctrl_is_offline(const struct controller *ctl, int32_t id, int t, int32_t p)
{
	for (int i = 0; i < ctl->n_offline; i++) {
		const struct ctrl_offline *o = &ctl->offline[i];

		if (o->broker_id == id && o->tp.partition == p &&
		    o->broker_epoch == ctrl_broker_epoch(ctl, id) &&
		    !strcmp(o->tp.topic, ctl->topics[t].name))
			return true;
	}
	return false;
}

/* Whether some live broker cannot host (t, p). */
static bool ctrl_offline_here(const struct controller *ctl, int t, int32_t p)
{
	for (int i = 0; i < ctl->n_offline; i++)
		if (ctrl_is_offline(ctl, ctl->offline[i].broker_id, t, p))
			return true;
	return false;
}

/* Drops the marks of brokers no longer in the life they were made in, and
 * those of topic (NULL: none), for a topic deleted (a topic made again
 * under the name starts with none). */
static void ctrl_offline_purge(struct controller *ctl, const char *topic)
{
	int k = 0;

	for (int i = 0; i < ctl->n_offline; i++) {
		const struct ctrl_offline *o = &ctl->offline[i];

		if (o->broker_epoch != ctrl_broker_epoch(ctl, o->broker_id))
			continue;
		if (topic && !strcmp(o->tp.topic, topic))
			continue;
		ctl->offline[k++] = *o;
	}
	ctl->n_offline = k;
}

/* LeaderAndIsr for (t, p) to one replica. */
static void batch_lisr(struct ctrl_batch *b, int32_t broker_id, int t, int32_t p, bool is_new)
{
	sends_push(b, &b->lisr, (struct ctrl_send){ broker_id, t, p, is_new, false, false });
}

/* A changed partition: LeaderAndIsr to its live replicas, UpdateMetadata
 * to everyone. A replica shutting down hears only that it no longer leads
 * (old_leader); where it follows, it gets StopReplica instead. */
static void batch_partition(struct controller *ctl, struct ctrl_batch *b, int t, int32_t p,
			    bool is_new, int32_t old_leader)
{
	const struct zk_assignment *a = &ctl->topics[t].assignment.partitions[p];

	for (int i = 0; i < a->n_replicas; i++) {
		int32_t r = a->replicas[i];

		if (ctrl_is_live(ctl, r) && (!ctrl_is_shutting(ctl, r) || r == old_leader))
			batch_lisr(b, r, t, p, is_new);
	}
	sends_push(b, &b->meta, (struct ctrl_send){ -1, t, p, is_new, false, false });
}

/* Whether broker id, in its current life, cannot have held a log of the
 * partition: it registered (its broker epoch, a czxid) before the
 * partition's state znode was made, and a broker keeps its registration
 * only while it runs. Its LeaderAndIsr says the replica is new, as the
 * partition's first one does: when the controller that made the
 * partition died (or the broker missed that first request) and an
 * election moved the epoch on, a replica the ISR names without a log
 * makes one, rather than refusing it as lost (a data directory wiped
 * while the broker was down, which needs a restart and so a later
 * broker epoch). Such a replica holds no committed record: none could
 * be committed while it was in the ISR without its fetching. */
static bool ctrl_never_hosted(const struct controller *ctl, int32_t id,
			      const struct zkmeta_partition *part)
{
	int64_t epoch = ctrl_broker_epoch(ctl, id);

	return epoch >= 0 && part->czxid > 0 && epoch < part->czxid;
}

static void fill_state(const struct controller *ctl, const struct ctrl_send *s,
		       struct controller_partition_state *out)
{
	const struct zkmeta_topic *tp = &ctl->topics[s->t];
	const struct zkmeta_partition *part = &tp->partitions[s->p];
	const struct zk_assignment *a = &tp->assignment.partitions[s->p];

	*out = (struct controller_partition_state){
		.topic = tp->name,
		.topic_id = tp->assignment.topic_id,
		.partition = s->p,
		.controller_epoch = part->state.controller_epoch,
		.leader = part->state.leader,
		.leader_epoch = part->state.leader_epoch,
		.leader_recovery_state = part->state.leader_recovery_state,
		.isr = part->state.isr,
		.n_isr = part->state.n_isr,
		.partition_epoch = part->zk_version,
		.replicas = a->replicas,
		.n_replicas = a->n_replicas,
		.is_new = s->is_new || ctrl_never_hosted(ctl, s->broker_id, part),
	};
}

/* Sorts and removes repeats (the same partition twice to one broker). */
static void sends_sort(struct ctrl_sends *s)
{
	int i, k = 0;

	if (s->n == 0)
		return;
	qsort(s->v, (size_t)s->n, sizeof(*s->v), send_cmp);
	for (i = 1; i < s->n; i++) {
		if (send_cmp(&s->v[k], &s->v[i]) == 0) {
			s->v[k].is_new |= s->v[i].is_new;
			continue;
		}
		s->v[++k] = s->v[i];
	}
	s->n = k + 1;
}

static void report(const char *req, int32_t broker_id, int rc)
{
	if (rc)
		mq_log_limited(MQ_WARN, "controller: %s to broker %d failed: %s", req, broker_id,
			       strerror(rc < 0 ? -rc : rc));
}

/* The end of the run of (sorted) sends to v[i]'s broker. */
static int run_end(const struct ctrl_sends *s, int i)
{
	int j = i;

	while (j < s->n && s->v[j].broker_id == s->v[i].broker_id)
		j++;
	return j;
}

/* The states of the partitions of v[0..n) that have one. With off (room
 * for every replica of them), each names its offline replicas there, as
 * UpdateMetadata carries them. */
static int fill_states(const struct controller *ctl, const struct ctrl_send *v, int n,
		       struct controller_partition_state *st, int32_t *off)
{
	int i, j, k = 0;

	for (i = 0; i < n; i++) {
		const struct zk_assignment *a = &ctl->topics[v[i].t].assignment.partitions[v[i].p];

		if (!ctl->topics[v[i].t].partitions[v[i].p].present)
			continue;
		fill_state(ctl, &v[i], &st[k]);
		if (off) {
			st[k].offline_replicas = off;
			for (j = 0; j < a->n_replicas; j++)
				if (!ctrl_is_live(ctl, a->replicas[j]) ||
				    ctrl_is_offline(ctl, a->replicas[j], v[i].t, v[i].p))
					off[st[k].n_offline_replicas++] = a->replicas[j];
			off += st[k].n_offline_replicas;
		}
		k++;
	}
	return k;
}

static int flush_lisr(struct controller *ctl, struct ctrl_batch *b)
{
	struct controller_partition_state *st;
	int i, j, k;

	sends_sort(&b->lisr);
	if (!(st = malloc(((size_t)b->lisr.n + 1) * sizeof(*st))))
		return -ENOMEM;
	for (i = 0; i < b->lisr.n; i = j) {
		int32_t id = b->lisr.v[i].broker_id;

		j = run_end(&b->lisr, i);
		k = fill_states(ctl, &b->lisr.v[i], j - i, st, NULL);
		if (k && ctl->ch.leader_and_isr)
			report("LeaderAndIsr", id,
			       ctl->ch.leader_and_isr(ctl->ch.arg, id, ctrl_broker_epoch(ctl, id),
						      ctl->epoch, st, k));
	}
	free(st);
	return 0;
}

static int flush_meta(struct controller *ctl, struct ctrl_batch *b)
{
	struct controller_partition_state *st;
	int32_t *off;
	int i, k, t, p, n_off = 0;

	if (b->meta_all) {
		b->meta.n = 0;
		for (t = 0; t < ctl->n_topics; t++)
			for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++)
				sends_push(b, &b->meta,
					   (struct ctrl_send){ -1, t, p, false, false, false });
		if (b->err)
			return b->err;
	}
	sends_sort(&b->meta);
	if (!b->meta_all && b->meta.n == 0)
		return 0;
	for (i = 0; i < b->meta.n; i++)
		n_off += ctl->topics[b->meta.v[i].t]
				 .assignment.partitions[b->meta.v[i].p]
				 .n_replicas;
	st = malloc(((size_t)b->meta.n + 1) * sizeof(*st));
	off = malloc(((size_t)n_off + 1) * sizeof(*off));
	if (!st || !off) {
		free(st);
		free(off);
		return -ENOMEM;
	}
	k = fill_states(ctl, b->meta.v, b->meta.n, st, off);
	for (i = 0; i < ctl->n_live && ctl->ch.update_metadata; i++)
		report("UpdateMetadata", ctl->live[i],
		       ctl->ch.update_metadata(ctl->ch.arg, ctl->live[i], ctl->live_epochs[i],
					       ctl->epoch, ctl->live, ctl->n_live, st, k));
	free(st);
	free(off);
	return 0;
}

static int flush_stop(struct controller *ctl, struct ctrl_batch *b)
{
	struct controller_stop_replica *sr;
	int i, j, k;

	sends_sort(&b->stop);
	if (!(sr = malloc(((size_t)b->stop.n + 1) * sizeof(*sr))))
		return -ENOMEM;
	for (i = 0; i < b->stop.n; i = j) {
		int32_t id = b->stop.v[i].broker_id;

		j = run_end(&b->stop, i);
		for (k = 0; k < j - i; k++) {
			const struct ctrl_send *s = &b->stop.v[i + k];
			const struct zkmeta_partition *part = &ctl->topics[s->t].partitions[s->p];

			sr[k] = (struct controller_stop_replica){
				.topic = ctl->topics[s->t].name,
				.partition = s->p,
				.leader_epoch = s->topic_deleted ? CONTROLLER_EPOCH_DURING_DELETE
						: part->present  ? part->state.leader_epoch
								 : 0,
				.delete_partition = s->delete_partition,
			};
		}
		if (ctl->ch.stop_replica)
			report("StopReplica", id,
			       ctl->ch.stop_replica(ctl->ch.arg, id, ctrl_broker_epoch(ctl, id),
						    ctl->epoch, sr, k));
	}
	free(sr);
	return 0;
}

/* Sends what the batch holds (invariant 6: only while ACTIVE) and empties
 * it. */
static int ctrl_flush(struct controller *ctl, struct ctrl_batch *b)
{
	int rc = b->err;

	if (rc == 0 && ctl->state == CTRL_ACTIVE) {
		rc = flush_stop(ctl, b);
		if (rc == 0)
			rc = flush_lisr(ctl, b);
		if (rc == 0)
			rc = flush_meta(ctl, b);
	}
	b->lisr.n = b->meta.n = b->stop.n = 0;
	b->meta_all = false;
	b->err = 0;
	return rc;
}

static void batch_free(struct ctrl_batch *b)
{
	free(b->lisr.v);
	free(b->meta.v);
	free(b->stop.v);
}

/* ---- partition states ---- */

/* Re-reads one partition's state into the cache (a write of ours met a
 * newer version, or a leader announced an ISR change). */
static int ctrl_reread_state(struct controller *ctl, int t, int32_t p)
{
	struct zkmeta_partition *part = &ctl->topics[t].partitions[p];
	struct zk_partition_state s;
	char path[ZK_PATH_MAX], why[ZK_WHY_LEN] = "", *data = NULL;
	struct zkc_stat st;
	size_t len;
	int rc;

	if ((rc = zk_path_partition_state(path, sizeof(path), ctl->topics[t].name, p)) < 0)
		return rc;
	rc = zkc_get(ctl->zkc, path, &data, &len, &st, NULL, NULL);
	if (rc == -ENOENT)
		return 0; /* not created yet, or being deleted: nothing to learn */
	if (rc)
		return rc;
	memset(&s, 0, sizeof(s));
	rc = zk_partition_state_decode(data, len, &s, why);
	free(data);
	if (rc == -EBADMSG) {
		/* Not a reason to resign (every other partition would go
		 * without a controller): this one is left as it is, as a
		 * takeover leaves it (ctrl_log_unreadable). */
		mq_log(MQ_ERR,
		       "controller: %s: %s; the partition is left as it is (no election, no ISR "
		       "change) until its znode is repaired",
		       path, why);
		free(part->unreadable);
		if (!(part->unreadable = strdup(why)))
			return -ENOMEM;
		zk_partition_state_clear(&part->state);
		part->present = 0;
		return 0;
	}
	if (rc)
		return rc;
	zk_partition_state_clear(&part->state);
	free(part->unreadable);
	part->unreadable = NULL;
	part->state = s;
	part->zk_version = st.version;
	part->czxid = st.czxid;
	part->present = 1;
	return 0;
}

/* Topic t's unclean.leader.election.enable, as Kafka's controller reads
 * it for an offline election: its override in /config/topics/<t>, else
 * (none, or not readable: logged) the broker's. */
static bool ctrl_topic_unclean(struct controller *ctl, int t)
{
	char why[ZK_WHY_LEN] = "";
	struct zk_config zc;
	bool on = atomic_load(&ctl->unclean_default);
	int rc = zkmeta_topic_config(ctl->zkc, ctl->topics[t].name, &zc, NULL, why);

	if (rc < 0) {
		if (rc != -ENOENT)
			mq_log_limited(MQ_WARN,
				       "controller: /config/topics/%s not read (%s %s): the "
				       "broker's unclean.leader.election.enable",
				       ctl->topics[t].name, strerror(-rc), why);
		return on;
	}
	for (int i = 0; i < zc.n; i++)
		if (!strcmp(zc.keys[i], "unclean.leader.election.enable"))
			on = !strcmp(zc.values[i], "true");
	zk_config_clear(&zc);
	return on;
}

/* The elections of Kafka's PartitionStateMachine the controller runs. */
enum ctrl_election {
	ELECT_LIVE,       /* offline election, dead replicas leave ISRs */
	ELECT_SHUTDOWN,   /* controlled shutdown */
	ELECT_PREFERRED,  /* preferred leader (rebalance, ElectLeaders) */
	ELECT_UNCLEAN,    /* ElectLeaders UNCLEAN: the offline election with
			   * unclean.leader.election.enable whatever it says */
	ELECT_MOVE,       /* a replica move completes: a new leader epoch,
			   * the leader among the cached replicas (TRS) */
	ELECT_MOVE_START, /* a move starts, is replaced or is cancelled: as
			   * ELECT_MOVE among the cached replicas (the new
			   * RS), the replicas dropped from it stopped */
};

/* zk_ids_text, returning buf: for the log lines. */
static const char *ids_str(char *buf, size_t size, const int32_t *v, int n)
{
	zk_ids_text(buf, size, v, n);
	return buf;
}

static const char *election_name(enum ctrl_election kind)
{
	switch (kind) {
	case ELECT_LIVE: return "offline";
	case ELECT_SHUTDOWN: return "controlled shutdown";
	case ELECT_PREFERRED: return "preferred";
	case ELECT_UNCLEAN: return "unclean";
	case ELECT_MOVE:
	case ELECT_MOVE_START: return "reassignment";
	}
	return "?";
}

/* The pure decision of that kind for the cached state of (t, p). */
static int ctrl_decide(struct controller *ctl, int t, int32_t p, enum ctrl_election kind,
		       struct zk_partition_state *next)
{
	const struct zk_assignment *a = &ctl->topics[t].assignment.partitions[p];
	const struct zk_partition_state *cur = &ctl->topics[t].partitions[p].state;
	int32_t inel[PARTITION_INEL_MAX];
	struct controller_brokers b = { ctl->live,       ctl->n_live, ctl->shutting,
					ctl->n_shutting, inel,        0 };
	bool unclean = false, recovery = false;
	int rc;

	int32_t live[PARTITION_LIVE_MAX];

	for (int i = 0; i < ctl->n_inel && b.n_ineligible < PARTITION_INEL_MAX; i++)
		if (ctl->inel[i].tp.partition == p &&
		    !strcmp(ctl->inel[i].tp.topic, ctl->topics[t].name))
			inel[b.n_ineligible++] = ctl->inel[i].broker_id;
	/* A replica its broker cannot host is dead for this partition. */
	if (ctrl_offline_here(ctl, t, p) && ctl->n_live <= PARTITION_LIVE_MAX) {
		int n = 0;

		for (int i = 0; i < ctl->n_live; i++)
			if (!ctrl_is_offline(ctl, ctl->live[i], t, p))
				live[n++] = ctl->live[i];
		b.live = live;
		b.n_live = n;
	}

	switch (kind) {
	case ELECT_SHUTDOWN:
		return controller_decide_controlled_shutdown(cur, a->replicas, a->n_replicas, &b,
							     next);
	case ELECT_PREFERRED:
		return controller_decide_preferred(cur, a->replicas, a->n_replicas, &b, next);
	case ELECT_MOVE:
		/* No replica of the set can lead yet: nothing is written. */
		rc = controller_decide_move(cur, a->replicas, a->n_replicas, &b, next);
		return rc == -EAGAIN ? 0 : rc;
	case ELECT_MOVE_START:
		rc = controller_decide_move_start(cur, a->replicas, a->n_replicas, &b, next);
		if (rc == 1 && next->leader == ZK_LEADER_NONE && cur->leader != ZK_LEADER_NONE) {
			char rs[96], isr[96];

			mq_log(MQ_WARN,
			       "controller: %s-%d: offline: its leader %d is no longer one of its "
			       "replicas %s and none of them is live and in the ISR %s; it waits "
			       "for one (an unclean election, unclean.leader.election.enable or "
			       "ElectLeaders UNCLEAN, can take one from outside the ISR)",
			       ctl->topics[t].name, p, cur->leader,
			       ids_str(rs, sizeof(rs), a->replicas, a->n_replicas),
			       ids_str(isr, sizeof(isr), next->isr, next->n_isr));
		}
		return rc;
	case ELECT_LIVE:
	case ELECT_UNCLEAN: break;
	}
	rc = controller_decide_live(cur, a->replicas, a->n_replicas, &b, false, next, &unclean,
				    &recovery);
	/* Left without a leader in the ISR: unclean.leader.election.enable,
	 * the topic's when it sets it, else the broker's, may allow one from
	 * outside (the topic's read only then: an offline partition is rare,
	 * a ZooKeeper read per election is not). */
	if (rc >= 0 && (rc == 1 ? next->leader : cur->leader) == ZK_LEADER_NONE &&
	    (kind == ELECT_UNCLEAN || ctrl_topic_unclean(ctl, t))) {
		if (rc == 1)
			zk_partition_state_clear(next);
		rc = controller_decide_live(cur, a->replicas, a->n_replicas, &b, true, next,
					    &unclean, &recovery);
	}
	if (rc == 1 && recovery)
		mq_log(MQ_WARN,
		       "controller: %s-%d: every live in-sync replica restarted uncleanly: broker "
		       "%d leads (none could catch up without a leader); records that none of them "
		       "had on disk are lost",
		       ctl->topics[t].name, p, next->leader);
	if (rc == 1 && unclean) {
		mq_log(MQ_WARN,
		       "controller: %s-%d: unclean leader election: broker %d leads "
		       "from outside the ISR; records the old ISR acknowledged may be lost",
		       ctl->topics[t].name, p, next->leader);
	}
	return rc;
}

/* Decides, writes under both guards, and on success puts the new state in
 * the cache and the batch: 1 changed, 0 nothing to change, -errno
 * (-EPERM: fenced). Invariants 2 and 3. */
static int ctrl_change(struct controller *ctl, int t, int32_t p, enum ctrl_election kind,
		       struct ctrl_batch *b)
{
	struct zkmeta_partition *part = &ctl->topics[t].partitions[p];
	struct zk_partition_state next;
	int32_t version;
	int rc, tries;

	for (tries = 0; tries < CTRL_WRITE_TRIES; tries++) {
		if (!part->present)
			return 0;
		if ((rc = ctrl_decide(ctl, t, p, kind, &next)) <= 0)
			return rc;
		next.controller_epoch = ctl->epoch;
		rc = zkmeta_update_partition_state(ctl->zkc, ctl->topics[t].name, p, &next,
						   part->zk_version, ctl->epoch_zk_version,
						   &version);
		if (rc == 0) {
			int32_t old_leader = part->state.leader;
			/* Unclean: the new leader was not in the ISR read (an
			 * offline election that the topic's or the broker's
			 * unclean.leader.election.enable let go outside it too). */
			bool unclean = next.leader != ZK_LEADER_NONE &&
				       !has(part->state.isr, part->state.n_isr, next.leader);

			if (next.leader != old_leader && next.leader != ZK_LEADER_NONE) {
				pthread_mutex_lock(&ctl->lock);
				ctl->info.leader_elections++;
				ctl->info.unclean_elections += unclean;
				pthread_mutex_unlock(&ctl->lock);
			}
			/* One line per leadership change, as Kafka's
			 * state-change log: which election moved it where. */
			if (next.leader != old_leader)
				mq_log(MQ_INFO,
				       "controller: %s-%d: leader %d -> %d (%s election, leader "
				       "epoch %d, isr %d replica(s))",
				       ctl->topics[t].name, p, old_leader, next.leader,
				       unclean ? "unclean" : election_name(kind), next.leader_epoch,
				       next.n_isr);
			zk_partition_state_clear(&part->state);
			part->state = next;
			part->zk_version = version;
			batch_partition(ctl, b, t, p, false, old_leader);
			return 1;
		}
		zk_partition_state_clear(&next);
		if (rc != -ESTALE)
			return rc;
		if ((rc = ctrl_reread_state(ctl, t, p)))
			return rc;
	}
	return -ESTALE;
}

/* Writes the first state of a new partition, guarded by the epoch. */
static int ctrl_create_state(struct controller *ctl, int t, int32_t p,
			     const struct zk_partition_state *s, int64_t *czxid)
{
	char ppath[ZK_PATH_MAX], spath[ZK_PATH_MAX], *doc;
	const char *topic = ctl->topics[t].name;
	struct zkc_op ops[2];
	struct zkc_stat st;
	int rc, failed = -1;

	if ((rc = zk_path_partition(ppath, sizeof(ppath), topic, p)) < 0 ||
	    (rc = zk_path_partition_state(spath, sizeof(spath), topic, p)) < 0)
		return rc;
	/* The partition's own znode holds nothing worth guarding. */
	rc = zkc_create(ctl->zkc, ppath, NULL, 0, ZKC_PARENTS, NULL, 0);
	if (rc && rc != -EEXIST)
		return rc;
	if (!(doc = zk_partition_state_encode(s)))
		return -ENOMEM;
	ops[0] = (struct zkc_op){ .type = ZKC_OP_CHECK,
				  .path = ZK_CONTROLLER_EPOCH_PATH,
				  .version = ctl->epoch_zk_version };
	ops[1] = (struct zkc_op){
		.type = ZKC_OP_CREATE, .path = spath, .data = doc, .len = strlen(doc)
	};
	rc = zkc_multi(ctl->zkc, ops, 2, &failed);
	free(doc);
	if (rc && failed == 0)
		return -EPERM;
	if (rc)
		return rc;
	/* The multi does not say when the znode was made: read it (gone
	 * already, being deleted: unknown). */
	*czxid = 0;
	rc = zkc_exists(ctl->zkc, spath, &st, NULL, NULL);
	if (rc == 0)
		*czxid = st.czxid;
	return rc == -ENOENT ? 0 : rc;
}

/* Kafka's NewPartition -> OnlinePartition: every partition without a
 * state gets leader = first live replica, ISR = live replicas, leader
 * epoch 0. One with no live replica waits for one to come up. */
static int ctrl_start_partitions(struct controller *ctl, struct ctrl_batch *b)
{
	int t, p, i, rc;

	for (t = 0; t < ctl->n_topics; t++) {
		struct zkmeta_topic *tp = &ctl->topics[t];

		for (p = 0; p < tp->assignment.n_partitions; p++) {
			const struct zk_assignment *a = &tp->assignment.partitions[p];
			struct zkmeta_partition *part = &tp->partitions[p];
			struct zk_partition_state s = { .controller_epoch = ctl->epoch,
							.leader = ZK_LEADER_NONE };
			int32_t *isr;

			if (part->present || part->unreadable)
				continue;
			if (!(isr = malloc(((size_t)a->n_replicas + 1) * sizeof(*isr))))
				return -ENOMEM;
			for (i = 0; i < a->n_replicas; i++)
				if (ctrl_is_live(ctl, a->replicas[i]))
					isr[s.n_isr++] = a->replicas[i];
			if (s.n_isr == 0) {
				free(isr);
				continue;
			}
			s.leader = isr[0];
			s.isr = isr;
			rc = ctrl_create_state(ctl, t, p, &s, &part->czxid);
			if (rc == 0) {
				part->state = s;
				part->zk_version = 0;
				part->present = 1;
				batch_partition(ctl, b, t, p, true, ZK_LEADER_NONE);
				continue;
			}
			free(isr);
			/* Created by an earlier controller whose answer was
			 * lost: what it wrote is the state. */
			if (rc == -EEXIST)
				rc = ctrl_reread_state(ctl, t, p);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Offline election and ISR cleanup over every partition. */
static int ctrl_elect_all(struct controller *ctl, struct ctrl_batch *b)
{
	int t, p, rc;

	for (t = 0; t < ctl->n_topics; t++)
		for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++)
			if ((rc = ctrl_change(ctl, t, p, ELECT_LIVE, b)) < 0)
				return rc;
	return 0;
}

/* ---- events ---- */

/* Adds the ineligible partitions of broker id's registration (data) to
 * *v; a registration that does not decode names none (logged). */
static int inel_collect(int32_t id, const char *path, const char *data, size_t len,
			struct ctrl_inel **v, int *n)
{
	char why[ZK_WHY_LEN] = "";
	struct zk_broker zb;
	struct ctrl_inel *nv;
	int rc = zk_broker_decode(data, len, &zb, why);

	if (rc == -EBADMSG) {
		mq_log_limited(MQ_WARN, "controller: %s does not decode (%s): taken as eligible",
			       path, why);
		return 0;
	}
	if (rc)
		return rc;
	if (zb.n_ineligible > 0) {
		nv = realloc(*v, ((size_t)*n + (size_t)zb.n_ineligible) * sizeof(*nv));
		if (!nv) {
			zk_broker_clear(&zb);
			return -ENOMEM;
		}
		*v = nv;
		for (int i = 0; i < zb.n_ineligible; i++) {
			nv[*n].broker_id = id;
			nv[*n].tp = zb.ineligible[i];
			zb.ineligible[i].topic = NULL; /* moved */
			(*n)++;
		}
	}
	zk_broker_clear(&zb);
	return 0;
}

/* Reads the live brokers, their broker epochs (the czxid of their
 * registration: a broker that restarted between two reads has a new one)
 * and the partitions their registrations name ineligible, and re-arms the
 * watches (the list, and each registration's data, which a broker rewrites
 * when its ineligible partitions change). */
static int ctrl_read_brokers(struct controller *ctl)
{
	char path[ZK_PATH_MAX], *data;
	struct zkc_stat st;
	struct ctrl_inel *inel = NULL;
	int32_t *ids = NULL;
	int64_t *epochs;
	size_t len;
	int n, i, k = 0, n_inel = 0, rc = 0, arm;

	/* Each watch is armed only when the last one on its path has fired:
	 * a read caused by one registration's change would otherwise stack
	 * one more never-fired watch on the list and every other one. */
	arm = zkwatch_claim(&ctl->broker_watches, ZK_BROKER_IDS_PATH);
	if (arm < 0)
		return arm;
	n = zkmeta_broker_ids(ctl->zkc, &ids, arm ? ctrl_watch : NULL, ctl);
	if (n < 0) {
		if (arm)
			zkwatch_fired(&ctl->broker_watches, ZK_BROKER_IDS_PATH);
		return n;
	}
	if (!(epochs = malloc(((size_t)n + 1) * sizeof(*epochs)))) {
		free(ids);
		return -ENOMEM;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if ((rc = zk_path_broker(path, sizeof(path), ids[i])) < 0)
			break;
		data = NULL;
		if ((arm = zkwatch_claim(&ctl->broker_watches, path)) < 0) {
			rc = arm;
			break;
		}
		rc = zkc_get(ctl->zkc, path, &data, &len, &st, arm ? ctrl_watch : NULL, ctl);
		if (rc < 0 && arm)
			zkwatch_fired(&ctl->broker_watches, path); /* not armed */
		if (rc == 0) {
			ids[k] = ids[i];
			epochs[k++] = st.czxid;
			rc = inel_collect(ids[i], path, data, len, &inel, &n_inel);
		} else if (rc == -ENOENT) {
			rc = 0; /* gone since the listing: the watch has fired */
		}
		free(data);
	}
	if (rc) {
		free(ids);
		free(epochs);
		inel_free(inel, n_inel);
		return rc;
	}
	free(ctl->live);
	free(ctl->live_epochs);
	ctl->live = ids;
	ctl->live_epochs = epochs;
	ctl->n_live = k;
	inel_free(ctl->inel, ctl->n_inel);
	ctl->inel = inel;
	ctl->n_inel = n_inel;
	/* A broker that left is no longer shutting down. */
	for (i = 0, k = 0; i < ctl->n_shutting; i++)
		if (ctrl_is_live(ctl, ctl->shutting[i]))
			ctl->shutting[k++] = ctl->shutting[i];
	ctl->n_shutting = k;
	return 0;
}

/* Kafka's onBrokerFailure for brokers that restarted between two reads
 * (bounced): elections run as if they were gone, so they lose their
 * leaderships and ISR places and then come up as new brokers. */
static int ctrl_bounce(struct controller *ctl, const int32_t *bounced, int n_bounced,
		       struct ctrl_batch *b)
{
	int32_t *all = ctl->live, *rest;
	int n_all = ctl->n_live, i, k = 0, rc;

	if (!(rest = malloc(((size_t)n_all + 1) * sizeof(*rest))))
		return -ENOMEM;
	for (i = 0; i < n_all; i++)
		if (!has(bounced, n_bounced, all[i]))
			rest[k++] = all[i];
	ctl->live = rest;
	ctl->n_live = k;
	rc = ctrl_elect_all(ctl, b);
	ctl->live = all;
	ctl->n_live = n_all;
	free(rest);
	return rc;
}

static int find_topic(const struct controller *ctl, const char *name);

/* Logs each partition of t whose state znode did not decode: the
 * controller leaves it as it is, neither new (its first state would be
 * refused, the znode being there) nor known (no election may be based on
 * a state it cannot read). An ISR change notification for it, or the
 * next controller, reads it again once repaired. */
static void ctrl_log_unreadable(const struct zkmeta_topic *t)
{
	for (int p = 0; p < t->assignment.n_partitions; p++)
		if (t->partitions[p].unreadable)
			mq_log(MQ_ERR,
			       "controller: /brokers/topics/%s/partitions/%d/state: %s; the "
			       "partition is left as it is (no election, no ISR change) until "
			       "its znode is repaired",
			       t->name, p, t->partitions[p].unreadable);
}

/* The topics and their partition states, into ctl->topics. full: read
 * every topic (on becoming the controller); else, as Kafka's
 * TopicChangeHandler, only the topics new or changed since the last read
 * (their data watch fired): the others' states are kept up to date in
 * memory by the controller's own writes and the ISR change notifications
 * (ctrl_reread_state), and reading every topic's znodes on each change
 * cost a request per partition of the cluster per mkdir. */
static int ctrl_read_topics(struct controller *ctl, bool full)
{
	struct zkmeta_topic *topics;
	char why[ZK_WHY_LEN] = "", path[ZK_PATH_MAX];
	char **names = NULL;
	int *from, n, k = 0, rc = 0;

	n = zkc_children(ctl->zkc, ZK_BROKER_TOPICS_PATH, &names, ctrl_watch, ctl);
	if (n < 0)
		return n;
	topics = calloc((size_t)n + 1, sizeof(*topics));
	from = calloc((size_t)n + 1, sizeof(*from)); /* its old index, or -1: read */
	if (!topics || !from)
		rc = -ENOMEM;
	for (int i = 0; rc == 0 && i < n; i++) {
		/* A name that is not a topic is not ours to read. */
		if (!zk_topic_name_valid(names[i]) ||
		    zk_path_topic(path, sizeof(path), names[i]) < 0)
			continue;
		/* The listing keeps its order from read to read: the entry at
		 * the same place first, a search only when it moved. */
		from[k] = -1;
		if (!full)
			from[k] = k < ctl->n_topics && !strcmp(ctl->topics[k].name, names[i])
					  ? k
					  : find_topic(ctl, names[i]);
		if (from[k] >= 0 && zkwatch_armed(&ctl->topic_watches, path)) {
			k++; /* unchanged: taken over below */
			continue;
		}
		from[k] = -1;
		/* Armed before the read: a change after it fires again. */
		zkwatch_arm(&ctl->topic_watches, ctl->zkc, path, ctrl_watch, ctl);
		rc = zkmeta_read_listed(ctl->zkc, names[i], &topics[k], why);
		if (rc == -EBADMSG) {
			/* Any client of the ensemble may write the znode (an
			 * operator's zkCli): one that does not decode must not
			 * keep the controller from every other topic. The
			 * topic is left as it is (no election, no new state)
			 * until a write repairs it, which its armed watch
			 * brings here again. Kafka's controller, whose JSON
			 * parse gives nothing for it, does the same. */
			mq_log(MQ_ERR,
			       "controller: /brokers/topics/%s: %s; the topic is left out until "
			       "its znode is repaired",
			       names[i], why);
			rc = 0;
			continue;
		}
		if (rc > 0) {
			ctrl_log_unreadable(&topics[k]);
			k++;
			rc = 0;
		}
	}
	zkc_names_free(names, n);
	if (rc) {
		if (rc == -EBADMSG)
			mq_log(MQ_ERR, "controller: reading topics: %s", why);
		for (int i = 0; from && i < k; i++)
			if (from[i] < 0)
				zkmeta_topic_clear(&topics[i]);
		free(topics);
		free(from);
		return rc;
	}
	for (int i = 0; i < k; i++)
		if (from[i] >= 0) {
			topics[i] = ctl->topics[from[i]];
			memset(&ctl->topics[from[i]], 0, sizeof(ctl->topics[from[i]]));
		}
	free(from);
	zkmeta_topics_free(ctl->topics, ctl->n_topics);
	ctl->topics = topics;
	ctl->n_topics = k;
	return 0;
}

static int find_topic(const struct controller *ctl, const char *name)
{
	for (int t = 0; t < ctl->n_topics; t++)
		if (!strcmp(ctl->topics[t].name, name))
			return t;
	return -1;
}

/* Removes a path's descendants (not the path). */
static int delete_children(struct zkc *zkc, const char *path)
{
	char **names = NULL, child[ZK_PATH_MAX];
	int n, i, rc = 0;

	n = zkc_children(zkc, path, &names, NULL, NULL);
	if (n == -ENOENT)
		return 0;
	if (n < 0)
		return n;
	for (i = 0; i < n && rc == 0; i++) {
		if (snprintf(child, sizeof(child), "%s/%s", path, names[i]) >= (int)sizeof(child)) {
			rc = -ENAMETOOLONG;
			break;
		}
		rc = delete_children(zkc, child);
		if (rc == 0) {
			rc = zkc_delete(zkc, child, ZKC_ANY_VERSION);
			if (rc == -ENOENT)
				rc = 0;
		}
	}
	zkc_names_free(names, n);
	return rc;
}

/* Kafka's TopicDeletionManager, without waiting for dead replicas (they
 * find the topic gone when they come back): StopReplica with delete to the
 * live replicas, and once they have answered (each has removed the topic
 * then: EpochDuringDelete), the topic's znodes, the last ones guarded by
 * the epoch, then the request; so once the deletion is done, which an
 * rmdir or a DeleteTopics waits for, no replica's mount shows the name.
 * A live replica that does not answer within CTRL_DELETE_WAIT_MS (frozen,
 * cut off) is not waited for: it finds the topic gone from
 * /brokers/topics, and *waited_out spares the pass's later deletions
 * the same wait. */
#define CTRL_DELETE_WAIT_MS 3000
static int ctrl_delete_topic(struct controller *ctl, const char *name, struct ctrl_batch *b,
			     bool *waited_out)
{
	char tpath[ZK_PATH_MAX], cpath[ZK_PATH_MAX], dpath[ZK_PATH_MAX];
	struct zkc_op ops[4];
	int t = find_topic(ctl, name), p, i, n = 0, rc, failed = -1;
	bool assigned = t >= 0, configured;

	if ((rc = zk_path_topic(tpath, sizeof(tpath), name)) < 0 ||
	    (rc = zk_path_topic_config(cpath, sizeof(cpath), name)) < 0 ||
	    (rc = zk_path_delete_topic(dpath, sizeof(dpath), name)) < 0)
		return rc;
	ops[n++] = (struct zkc_op){ .type = ZKC_OP_CHECK,
				    .path = ZK_CONTROLLER_EPOCH_PATH,
				    .version = ctl->epoch_zk_version };
	if (t >= 0) {
		const struct zk_topic *a = &ctl->topics[t].assignment;

		for (p = 0; p < a->n_partitions; p++)
			for (i = 0; i < a->partitions[p].n_replicas; i++)
				if (ctrl_is_live(ctl, a->partitions[p].replicas[i]))
					sends_push(
						b, &b->stop,
						(struct ctrl_send){
							.broker_id = a->partitions[p].replicas[i],
							.t = t,
							.p = p,
							.delete_partition = true,
							.topic_deleted = true });
		if ((rc = ctrl_flush(ctl, b)))
			return rc;
		if (ctl->ch.flush && !*waited_out &&
		    ctl->ch.flush(ctl->ch.arg, CTRL_DELETE_WAIT_MS) < 0) {
			*waited_out = true;
			mq_log(MQ_WARN,
			       "controller: topic %s: a replica has not answered its StopReplica "
			       "within %d ms: the topic's znodes go all the same (that broker "
			       "finds it gone from /brokers/topics)",
			       name, CTRL_DELETE_WAIT_MS);
		}
	} else {
		/* Not in the cache: none such, or one whose assignment does
		 * not decode (left out, ctrl_read_topics). That one goes all
		 * the same, without StopReplica (its replicas are unknown
		 * here): each broker stops its own when the topic leaves
		 * /brokers/topics. */
		rc = zkc_exists(ctl->zkc, tpath, NULL, NULL, NULL);
		if (rc < 0 && rc != -ENOENT)
			return rc;
		assigned = rc == 0;
	}
	if (assigned) {
		if ((rc = delete_children(ctl->zkc, tpath)))
			return rc;
		ops[n++] = (struct zkc_op){ .type = ZKC_OP_DELETE,
					    .path = tpath,
					    .version = ZKC_ANY_VERSION };
	}
	configured = zkc_exists(ctl->zkc, cpath, NULL, NULL, NULL) == 0;
	if (configured)
		ops[n++] = (struct zkc_op){ .type = ZKC_OP_DELETE,
					    .path = cpath,
					    .version = ZKC_ANY_VERSION };
	ops[n++] =
		(struct zkc_op){ .type = ZKC_OP_DELETE, .path = dpath, .version = ZKC_ANY_VERSION };
	rc = zkc_multi(ctl->zkc, ops, n, &failed);
	if (rc && failed == 0)
		return -EPERM;
	if (rc)
		return rc;
	if (assigned || configured)
		mq_log(MQ_INFO, "controller: topic %s deleted", name);
	else
		mq_log(MQ_WARN, "controller: %s: no such topic; the request is removed", dpath);
	ctrl_offline_purge(ctl, name);
	if (t >= 0) {
		zkmeta_topic_clear(&ctl->topics[t]);
		memmove(&ctl->topics[t], &ctl->topics[t + 1],
			(size_t)(ctl->n_topics - t - 1) * sizeof(*ctl->topics));
		ctl->n_topics--;
	}
	return 0;
}

static int ctrl_reassign_prune(struct controller *ctl, const struct controller_tp *refused,
			       int n_refused);

static int ctrl_on_deletions(struct controller *ctl, struct ctrl_batch *b)
{
	char **names = NULL;
	bool waited_out = false;
	int n, i, rc = 0;

	n = zkc_children(ctl->zkc, ZK_DELETE_TOPICS_PATH, &names, ctrl_watch, ctl);
	if (n < 0)
		return n;
	for (i = 0; i < n && rc == 0; i++) {
		if (!zk_topic_name_valid(names[i])) {
			mq_log(MQ_WARN, "controller: %s/%s: not a topic name, ignored",
			       ZK_DELETE_TOPICS_PATH, names[i]);
			continue;
		}
		rc = ctrl_delete_topic(ctl, names[i], b, &waited_out);
	}
	zkc_names_free(names, n);
	/* A deleted topic's moves asked for in /admin/reassign_partitions
	 * are settled: they leave it (Kafka's). */
	return rc == 0 && n > 0 ? ctrl_reassign_prune(ctl, NULL, 0) : rc;
}

/* The notices under parent (watched: a new one posts the event of that
 * path): each is read and handed to fn (its path and data), and deleted
 * once fn returns 0; one deleted meanwhile is skipped. Stops at the
 * first error, leaving the rest for the next run. */
static int ctrl_each_notice(struct controller *ctl, const char *parent,
			    int (*fn)(struct controller *ctl, const char *path, const char *data,
				      size_t len, void *arg),
			    void *arg)
{
	char **names = NULL, path[ZK_PATH_MAX], *data;
	int n, i, rc = 0;

	n = zkc_children(ctl->zkc, parent, &names, ctrl_watch, ctl);
	if (n < 0)
		return n;
	for (i = 0; i < n && rc == 0; i++) {
		size_t len;

		snprintf(path, sizeof(path), "%s/%s", parent, names[i]);
		rc = zkc_get(ctl->zkc, path, &data, &len, NULL, NULL, NULL);
		if (rc == -ENOENT) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		rc = fn(ctl, path, data, len, arg);
		free(data);
		if (rc == 0) {
			rc = zkc_delete(ctl->zkc, path, ZKC_ANY_VERSION);
			if (rc == -ENOENT)
				rc = 0;
		}
	}
	zkc_names_free(names, n);
	return rc;
}

/* One ISR change notice: its states re-read, UpdateMetadata queued. */
static int isr_notice(struct controller *ctl, const char *path, const char *data, size_t len,
		      void *arg)
{
	struct ctrl_batch *b = arg;
	struct zk_isr_change c = { NULL, 0 };
	char why[ZK_WHY_LEN] = "";
	int j, rc = 0;

	if (zk_isr_change_decode(data, len, &c, why))
		mq_log(MQ_WARN, "controller: %s: %s; dropped", path, why);
	for (j = 0; j < c.n && rc == 0; j++) {
		int t = find_topic(ctl, c.partitions[j].topic);
		int32_t p = c.partitions[j].partition;

		if (t < 0 || p >= ctl->topics[t].assignment.n_partitions)
			continue;
		if ((rc = ctrl_reread_state(ctl, t, p)) == 0 &&
		    ctl->topics[t].partitions[p].present)
			sends_push(b, &b->meta,
				   (struct ctrl_send){ -1, t, p, false, false, false });
	}
	zk_isr_change_clear(&c);
	return rc;
}

/* A leader changed an ISR and said so: re-read those states and tell
 * every broker (the leader's own write is the decision). */
static int ctrl_moves_check(struct controller *ctl, struct ctrl_batch *b);

/* A move waiting for its new replicas to join the ISR learns it here. */
static int ctrl_on_isr_change(struct controller *ctl, struct ctrl_batch *b)
{
	int rc = ctrl_each_notice(ctl, ZK_ISR_CHANGE_PATH, isr_notice, b);

	return rc ? rc : ctrl_moves_check(ctl, b);
}

/* The brokers named by the log dir event notices read so far. */
struct ctrl_ids {
	int32_t *v;
	int n;
};

static int log_dir_notice(struct controller *ctl, const char *path, const char *data, size_t len,
			  void *arg)
{
	struct ctrl_ids *ids = arg;
	char why[ZK_WHY_LEN] = "";
	int32_t id = -1, event = 0, *v;

	(void)ctl;
	if (zk_log_dir_event_decode(data, len, &id, &event, why)) {
		mq_log(MQ_WARN, "controller: %s: %s; deleted", path, why);
		return 0;
	}
	if (event != ZK_LOG_DIR_FAILURE) {
		mq_log(MQ_WARN, "controller: %s: unknown log dir event %d of broker %d; deleted",
		       path, (int)event, (int)id);
		return 0;
	}
	if (has(ids->v, ids->n, id))
		return 0;
	if (!(v = realloc(ids->v, ((size_t)ids->n + 1) * sizeof(*v))))
		return -ENOMEM;
	ids->v = v;
	ids->v[ids->n++] = id;
	return 0;
}

/* Kafka's LogDirEventNotification and onBrokerLogDirFailure: each notice
 * names a broker whose log directory failed; it is read, deleted, and
 * that broker (when live) is sent a LeaderAndIsr of every partition it
 * is a replica of. It answers KAFKA_STORAGE_ERROR for the replicas on
 * the failed directory, and those answers (ctrl_on_answers) take them
 * offline and elect without them: the decision is the broker's, as for
 * a replica whose log did not open. A notice that does not decode is
 * logged and deleted (it names no broker to ask). */
static int ctrl_on_log_dir_events(struct controller *ctl, struct ctrl_batch *b)
{
	struct ctrl_ids ids = { NULL, 0 };
	int i, t, p, j;
	int rc = ctrl_each_notice(ctl, ZK_LOG_DIR_EVENT_PATH, log_dir_notice, &ids);

	for (i = 0; i < ids.n && rc == 0; i++) {
		if (!ctrl_is_live(ctl, ids.v[i])) {
			mq_log(MQ_INFO,
			       "controller: broker %d reported a log directory failure but is gone "
			       "(its replicas left with it)",
			       (int)ids.v[i]);
			continue;
		}
		mq_log(MQ_WARN,
		       "controller: broker %d reported a log directory failure: asking it about "
		       "its replicas (LeaderAndIsr)",
		       (int)ids.v[i]);
		for (t = 0; t < ctl->n_topics; t++)
			for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++) {
				const struct zk_assignment *a =
					&ctl->topics[t].assignment.partitions[p];

				for (j = 0; j < a->n_replicas; j++)
					if (a->replicas[j] == ids.v[i] &&
					    ctl->topics[t].partitions[p].present)
						batch_lisr(b, ids.v[i], t, p, false);
			}
	}
	free(ids.v);
	return rc;
}

static int ctrl_on_brokers(struct controller *ctl, struct ctrl_batch *b, bool all)
{
	int32_t *old = ctl->live, *added = NULL;
	int64_t *old_epochs = ctl->live_epochs;
	struct ctrl_inel *old_inel = ctl->inel;
	int n_old = ctl->n_live, n_old_inel = ctl->n_inel, n_added = 0, n_bounced = 0, n_dead = 0;
	int i, t, p, j, rc;
	bool inel_moved;

	ctl->live = NULL;
	ctl->live_epochs = NULL;
	ctl->n_live = 0;
	ctl->inel = NULL;
	ctl->n_inel = 0;
	if ((rc = ctrl_read_brokers(ctl))) {
		ctl->live = old;
		ctl->live_epochs = old_epochs;
		ctl->n_live = n_old;
		ctl->inel = old_inel;
		ctl->n_inel = n_old_inel;
		return rc;
	}
	/* A replica that became eligible may lead a partition left offline
	 * for want of one: elect again. */
	inel_moved = !inel_same(old_inel, n_old_inel, ctl->inel, ctl->n_inel);
	inel_free(old_inel, n_old_inel);
	if (!(added = malloc(((size_t)ctl->n_live + 1) * sizeof(*added)))) {
		rc = -ENOMEM;
		goto out;
	}
	/* Bounced brokers first in added[], then the new ones. */
	for (i = 0; i < ctl->n_live; i++)
		for (j = 0; j < n_old; j++)
			if (old[j] == ctl->live[i] && old_epochs[j] != ctl->live_epochs[i]) {
				added[n_bounced++] = ctl->live[i];
				mq_log(MQ_INFO, "controller: broker %d restarted", ctl->live[i]);
			}
	n_added = n_bounced;
	for (i = 0; i < ctl->n_live; i++)
		if (!has(old, n_old, ctl->live[i])) {
			added[n_added++] = ctl->live[i];
			if (!all)
				mq_log(MQ_INFO, "controller: broker %d is up", ctl->live[i]);
		}
	for (i = 0; i < n_old; i++)
		if (!ctrl_is_live(ctl, old[i])) {
			n_dead++;
			mq_log(MQ_INFO, "controller: broker %d is gone", old[i]);
		}
	rc = n_bounced ? ctrl_bounce(ctl, added, n_bounced, b) : 0;
	if (rc == 0 && (n_added || n_dead || all || inel_moved)) {
		rc = ctrl_start_partitions(ctl, b);
		if (rc == 0)
			rc = ctrl_elect_all(ctl, b);
	}
	/* A broker that comes up (or every broker, at takeover) hears about
	 * all of its partitions, and everyone about every partition. */
	for (t = 0; rc == 0 && t < ctl->n_topics; t++)
		for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++) {
			const struct zk_assignment *a = &ctl->topics[t].assignment.partitions[p];

			for (j = 0; j < a->n_replicas; j++)
				if (all ? ctrl_is_live(ctl, a->replicas[j])
					: has(added, n_added, a->replicas[j]))
					batch_lisr(b, a->replicas[j], t, p, false);
		}
	if (n_added || all)
		b->meta_all = true;
out:
	free(added);
	free(old);
	free(old_epochs);
	return rc;
}

static int ctrl_on_topics(struct controller *ctl, struct ctrl_batch *b)
{
	int rc = ctrl_read_topics(ctl, false);

	return rc ? rc : ctrl_start_partitions(ctl, b);
}

/* Kafka's doControlledShutdown. Partitions with more than one replica:
 * those broker_id leads get a controlled-shutdown election, those it
 * follows a StopReplica and its removal from the ISR. The answer is every
 * partition it still leads (single replicas included, as Kafka answers):
 * their count, and the list in *remaining (malloc'd; may be NULL). */
static int ctrl_on_controlled_shutdown(struct controller *ctl, int32_t broker_id,
				       struct ctrl_batch *b, struct controller_tp **remaining)
{
	struct controller_tp *left;
	int t, p, rc, n = 0;

	if (ctl->state != CTRL_ACTIVE)
		return -EAGAIN;
	if (!ctrl_is_live(ctl, broker_id))
		return -ENOENT;
	if (!ctrl_is_shutting(ctl, broker_id)) {
		int32_t *v = realloc(ctl->shutting, ((size_t)ctl->n_shutting + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		ctl->shutting = v;
		ctl->shutting[ctl->n_shutting++] = broker_id;
	}
	mq_log(MQ_INFO, "controller: controlled shutdown of broker %d", broker_id);
	for (t = 0; t < ctl->n_topics; t++)
		for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++) {
			const struct zk_assignment *a = &ctl->topics[t].assignment.partitions[p];
			const struct zkmeta_partition *part = &ctl->topics[t].partitions[p];
			bool followed;

			if (!part->present || a->n_replicas < 2 ||
			    !has(a->replicas, a->n_replicas, broker_id))
				continue;
			followed = part->state.leader != broker_id;
			if ((rc = ctrl_change(ctl, t, p, ELECT_SHUTDOWN, b)) < 0)
				return rc;
			if (followed)
				sends_push(
					b, &b->stop,
					(struct ctrl_send){ broker_id, t, p, false, false, false });
		}
	for (t = 0; t < ctl->n_topics; t++)
		for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++)
			n += ctl->topics[t].partitions[p].present &&
			     ctl->topics[t].partitions[p].state.leader == broker_id;
	if (!remaining)
		return n;
	if (!(left = malloc(((size_t)n + 1) * sizeof(*left))))
		return -ENOMEM;
	n = 0;
	for (t = 0; t < ctl->n_topics; t++)
		for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++)
			if (ctl->topics[t].partitions[p].present &&
			    ctl->topics[t].partitions[p].state.leader == broker_id) {
				snprintf(left[n].topic, sizeof(left[n].topic), "%s",
					 ctl->topics[t].name);
				left[n++].partition = p;
			}
	*remaining = left;
	return n;
}

/* One write under the office's guard (invariant 2): op together with a
 * check of the epoch's znode version. 0, -EPERM (another controller was
 * elected), or op's error. */
static int ctrl_guarded(struct controller *ctl, const struct zkc_op *op)
{
	struct zkc_op ops[2] = { { .type = ZKC_OP_CHECK,
				   .path = ZK_CONTROLLER_EPOCH_PATH,
				   .version = ctl->epoch_zk_version },
				 *op };
	int failed = -1, rc = zkc_multi(ctl->zkc, ops, 2, &failed);

	return rc && failed == 0 ? -EPERM : rc;
}

/* Reads path (its data and stat) and watches it; an absent one has
 * its making watched, and ev posted when it was made meanwhile (the
 * handler runs again). 0, -ENOENT (absent), -errno. */
static int ctrl_get_watched(struct controller *ctl, const char *path, int ev, char **data,
			    size_t *len, struct zkc_stat *st)
{
	int rc = zkc_get(ctl->zkc, path, data, len, st, ctrl_watch, ctl);

	if (rc != -ENOENT)
		return rc;
	rc = zkc_exists(ctl->zkc, path, NULL, ctrl_watch, ctl);
	if (rc == 0)
		ctrl_post(ctl, ev);
	return rc == 0 ? -ENOENT : rc;
}

/* Kafka's processReplicaLeaderElection for the partitions of an
 * ElectLeaders request: each gets its result (controller.h) from the same
 * elections the rebalance and the offline election run. */
static int ctrl_on_elect(struct controller *ctl, bool unclean, struct controller_election *e, int n,
			 struct ctrl_batch *b)
{
	if (ctl->state != CTRL_ACTIVE)
		return -EAGAIN;
	for (int i = 0; i < n; i++) {
		int t = find_topic(ctl, e[i].topic), rc;
		const struct zkmeta_partition *part;
		const struct zk_assignment *a;

		if (t < 0 || e[i].partition < 0 ||
		    e[i].partition >= ctl->topics[t].assignment.n_partitions ||
		    !ctl->topics[t].partitions[e[i].partition].present ||
		    ctl->topics[t].assignment.partitions[e[i].partition].n_replicas < 1) {
			e[i].result = -ENOENT;
			continue;
		}
		part = &ctl->topics[t].partitions[e[i].partition];
		a = &ctl->topics[t].assignment.partitions[e[i].partition];
		/* Kafka elects only where it is needed: the preferred replica
		 * not leading (PREFERRED), no live leader (UNCLEAN). */
		if (unclean ? part->state.leader != ZK_LEADER_NONE &&
				      ctrl_is_live(ctl, part->state.leader)
			    : part->state.leader == a->replicas[0]) {
			e[i].result = -EALREADY;
			continue;
		}
		rc = ctrl_change(ctl, t, e[i].partition, unclean ? ELECT_UNCLEAN : ELECT_PREFERRED,
				 b);
		if (rc < 0)
			return rc;
		e[i].result = part->state.leader != ZK_LEADER_NONE &&
					      (unclean || part->state.leader == a->replicas[0])
				      ? 0
				      : -EHOSTUNREACH;
		mq_log(MQ_INFO, "controller: %s election of %s-%d: %s (leader %d)",
		       unclean ? "unclean" : "preferred", e[i].topic, e[i].partition,
		       e[i].result ? "no eligible leader" : "done", part->state.leader);
	}
	return 0;
}

/* Kafka's ReplicaLeaderElection event from ZooKeeper (its
 * PreferredReplicaElectionHandler; processReplicaLeaderElection with
 * ZkTriggered), also run on taking office (onControllerFailover's
 * fetchPendingPreferredReplicaElections): /admin/preferred_replica_election
 * read and watched (made, changed or deleted runs this again), a
 * preferred election for each partition it names, as ElectLeaders'
 * (ctrl_on_elect: one that does not exist, or whose preferred replica
 * leads already, is skipped; one whose preferred replica is not live,
 * not in the ISR, shutting down or ineligible keeps its leader), the
 * brokers told, then the znode deleted under the office's guard whatever
 * came of the elections (Kafka's removePartitionsFromPreferredReplica-
 * Election), so that the next request can be made. A document that does
 * not decode is logged and deleted: Kafka reads one that is not JSON as
 * no partition and deletes it; left there, it would refuse every later
 * request (the tools make the znode, and fail while it exists). */
static int ctrl_on_preferred(struct controller *ctl, struct ctrl_batch *b)
{
	struct zk_isr_change c = { NULL, 0 };
	struct controller_election *e = NULL;
	char why[ZK_WHY_LEN] = "", *data = NULL;
	struct zkc_op op = { .type = ZKC_OP_DELETE,
			     .path = ZK_PREFERRED_PATH,
			     .version = ZKC_ANY_VERSION };
	size_t len;
	int rc, i;

	rc = ctrl_get_watched(ctl, ZK_PREFERRED_PATH, EV_PREFERRED, &data, &len, NULL);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = zk_preferred_election_decode(data, len, &c, why);
	free(data);
	if (rc == -EBADMSG)
		mq_log(MQ_ERR, "controller: %s: %s; removed (no election run)", ZK_PREFERRED_PATH,
		       why);
	else if (rc)
		return rc;
	else if (!(e = calloc((size_t)c.n + 1, sizeof(*e))))
		rc = -ENOMEM;
	for (i = 0; e && i < c.n; i++) {
		snprintf(e[i].topic, sizeof(e[i].topic), "%s", c.partitions[i].topic);
		e[i].partition = c.partitions[i].partition;
	}
	zk_isr_change_clear(&c);
	if (e) {
		rc = ctrl_on_elect(ctl, false, e, i, b);
		for (int j = 0; rc == 0 && j < i; j++)
			if (e[j].result == -ENOENT)
				mq_log(MQ_WARN,
				       "controller: %s: no partition %s-%d: no election for it",
				       ZK_PREFERRED_PATH, e[j].topic, e[j].partition);
		free(e);
	}
	if (rc == 0)
		rc = ctrl_flush(ctl, b);
	if (rc == 0 || rc == -EBADMSG) {
		rc = ctrl_guarded(ctl, &op);
		if (rc == 0)
			mq_log(MQ_INFO, "controller: %s done: removed", ZK_PREFERRED_PATH);
	}
	return rc == -ENOENT ? 0 : rc;
}

/* ---- replica moves (Kafka's onPartitionReassignment) ---- */

static bool ids_same(const int32_t *a, int na, const int32_t *b, int nb)
{
	return na == nb && (na == 0 || !memcmp(a, b, (size_t)na * sizeof(*a)));
}

/* A malloc'd copy of n ids (never NULL unless out of memory). */
static int32_t *ids_dup(const int32_t *v, int n)
{
	int32_t *d = malloc(((size_t)n + 1) * sizeof(*d));

	if (d && n)
		memcpy(d, v, (size_t)n * sizeof(*d));
	return d;
}

/* Puts (rs, ar, rr) into the cached assignment of (t, p). */
static int ctrl_cache_assignment(struct controller *ctl, int t, int32_t p, const int32_t *rs,
				 int n_rs, const int32_t *ar, int n_ar, const int32_t *rr, int n_rr)
{
	struct zk_assignment *a = &ctl->topics[t].assignment.partitions[p];
	int32_t *r = ids_dup(rs, n_rs), *ad = n_ar ? ids_dup(ar, n_ar) : NULL,
		*rm = n_rr ? ids_dup(rr, n_rr) : NULL;

	if (!r || (n_ar && !ad) || (n_rr && !rm)) {
		free(r);
		free(ad);
		free(rm);
		return -ENOMEM;
	}
	free(a->replicas);
	free(a->adding);
	free(a->removing);
	*a = (struct zk_assignment){ r, n_rs, ad, n_ar, rm, n_rr };
	return 0;
}

/* Writes partition p of topic t's assignment as (rs, ar, rr): the znode
 * read, that partition replaced, written back at the version read and
 * while the office holds (invariant 2: -ESTALE re-reads, -EPERM fenced),
 * then the cache. Kafka's updateReplicaAssignmentForPartition. */
static int ctrl_write_assignment(struct controller *ctl, int t, int32_t p, const int32_t *rs,
				 int n_rs, const int32_t *ar, int n_ar, const int32_t *rr, int n_rr)
{
	char path[ZK_PATH_MAX], why[ZK_WHY_LEN] = "";
	int rc, tries;

	if ((rc = zk_path_topic(path, sizeof(path), ctl->topics[t].name)) < 0)
		return rc;
	for (tries = 0; tries < CTRL_WRITE_TRIES; tries++) {
		struct zk_topic zt;
		struct zk_assignment saved;
		struct zkc_stat st;
		struct zkc_op ops[2];
		char *data = NULL, *doc;
		size_t len;
		int failed = -1;

		if ((rc = zkc_get(ctl->zkc, path, &data, &len, &st, NULL, NULL)) < 0)
			return rc;
		rc = zk_topic_decode(data, len, &zt, why);
		free(data);
		if (rc == -EBADMSG)
			mq_log(MQ_ERR, "controller: %s: %s; the move is not written", path, why);
		if (rc)
			return rc;
		if (p >= zt.n_partitions) {
			zk_topic_clear(&zt);
			return -ENOENT;
		}
		/* Ours for the encoding only: zk_topic_clear frees the saved. */
		saved = zt.partitions[p];
		zt.partitions[p] = (struct zk_assignment){ (int32_t *)rs, n_rs, (int32_t *)ar, n_ar,
							   (int32_t *)rr, n_rr };
		doc = zk_topic_encode(&zt);
		zt.partitions[p] = saved;
		zk_topic_clear(&zt);
		if (!doc)
			return -ENOMEM;
		ops[0] = (struct zkc_op){ .type = ZKC_OP_CHECK,
					  .path = ZK_CONTROLLER_EPOCH_PATH,
					  .version = ctl->epoch_zk_version };
		ops[1] = (struct zkc_op){ .type = ZKC_OP_SET,
					  .path = path,
					  .data = doc,
					  .len = strlen(doc),
					  .version = st.version };
		rc = zkc_multi(ctl->zkc, ops, 2, &failed);
		free(doc);
		if (rc && failed == 0)
			return -EPERM;
		if (rc == 0)
			return ctrl_cache_assignment(ctl, t, p, rs, n_rs, ar, n_ar, rr, n_rr);
		if (rc != -ESTALE)
			return rc;
	}
	return -ESTALE;
}

/* Whether entry e of /admin/reassign_partitions is settled: in done[]
 * (refused, or asked anew through AlterPartitionReassignments), or its
 * partition no longer moving with the entry's target as its replicas
 * (moved), or gone. */
static bool reassign_settled(const struct controller *ctl, const struct zk_reassign_part *e,
			     const struct controller_tp *done, int n_done)
{
	int t = find_topic(ctl, e->topic);
	const struct zk_assignment *a;

	for (int i = 0; i < n_done; i++)
		if (done[i].partition == e->partition && !strcmp(done[i].topic, e->topic))
			return true;
	if (t < 0 || e->partition >= ctl->topics[t].assignment.n_partitions)
		return true;
	a = &ctl->topics[t].assignment.partitions[e->partition];
	return !a->n_adding && !a->n_removing &&
	       ids_same(a->replicas, a->n_replicas, e->replicas, e->n_replicas);
}

/* Kafka's removePartitionsFromZkReassignment: the settled entries leave
 * /admin/reassign_partitions, which goes once empty; written at the
 * version read while the office holds. A change meanwhile (-ESTALE)
 * fires its watch, which runs this again. done[]: entries settled
 * whatever the partition's state (reassign_settled). */
static int ctrl_reassign_prune(struct controller *ctl, const struct controller_tp *done, int n_done)
{
	struct zk_reassign r;
	struct zkc_stat st;
	struct zkc_op op;
	char why[ZK_WHY_LEN] = "", *data = NULL, *doc = NULL;
	size_t len;
	int rc, i, k = 0;

	rc = zkc_get(ctl->zkc, ZK_REASSIGN_PATH, &data, &len, &st, NULL, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = zk_reassign_decode(data, len, &r, why);
	free(data);
	if (rc == -EBADMSG)
		return 0; /* its own handler logs and removes it */
	if (rc)
		return rc;
	for (i = 0; i < r.n; i++) {
		if (reassign_settled(ctl, &r.parts[i], done, n_done)) {
			free(r.parts[i].topic);
			free(r.parts[i].replicas);
			continue;
		}
		r.parts[k++] = r.parts[i];
	}
	if (k == r.n) {
		zk_reassign_clear(&r);
		return 0;
	}
	r.n = k;
	if (k == 0) {
		op = (struct zkc_op){ .type = ZKC_OP_DELETE,
				      .path = ZK_REASSIGN_PATH,
				      .version = st.version };
	} else {
		if (!(doc = zk_reassign_encode(&r))) {
			zk_reassign_clear(&r);
			return -ENOMEM;
		}
		op = (struct zkc_op){ .type = ZKC_OP_SET,
				      .path = ZK_REASSIGN_PATH,
				      .data = doc,
				      .len = strlen(doc),
				      .version = st.version };
	}
	zk_reassign_clear(&r);
	rc = ctrl_guarded(ctl, &op);
	free(doc);
	if (rc == -EPERM)
		return rc;
	if (k == 0 && rc == 0)
		mq_log(MQ_INFO, "controller: %s done: removed", ZK_REASSIGN_PATH);
	return rc == -ESTALE || rc == -ENOENT ? 0 : rc;
}

/* StopReplica with delete to the live ones of v: their replica of (t, p)
 * goes, log and all (as a deleted topic's). */
static void batch_drop_replicas(struct controller *ctl, struct ctrl_batch *b, int t, int32_t p,
				const int32_t *v, int n)
{
	for (int i = 0; i < n; i++)
		if (ctrl_is_live(ctl, v[i]))
			sends_push(b, &b->stop,
				   (struct ctrl_send){ .broker_id = v[i],
						       .t = t,
						       .p = p,
						       .delete_partition = true });
}

/* Kafka's onPartitionReassignment, second half: once every replica of
 * TRS is in the ISR, the leader is one of TRS (kept, in a new epoch, or
 * elected from TRS), the ISR loses RR, the assignment becomes TRS, RR's
 * replicas are deleted and the partition leaves the admin znode. 1 done,
 * 0 not yet (not caught up, or no replica of TRS can lead), -errno. */
static int ctrl_move_check(struct controller *ctl, int t, int32_t p, struct ctrl_batch *b)
{
	struct zk_assignment *a = &ctl->topics[t].assignment.partitions[p], saved = *a;
	const struct zkmeta_partition *part = &ctl->topics[t].partitions[p];
	char from[96], to[96];
	int32_t *trs, *rr;
	int n, n_rr = saved.n_removing, rc;

	if ((!a->n_adding && !a->n_removing) || !part->present ||
	    !controller_move_caught_up(a, &part->state))
		return 0;
	trs = malloc(((size_t)a->n_replicas + 1) * sizeof(*trs));
	rr = ids_dup(a->removing, a->n_removing);
	if (!trs || !rr) {
		free(trs);
		free(rr);
		return -ENOMEM;
	}
	n = controller_move_target(a, trs);
	/* The election and the LeaderAndIsr it queues see TRS only: the
	 * replicas of RR hear StopReplica instead (Kafka's B2-B3). */
	*a = (struct zk_assignment){ trs, n, NULL, 0, NULL, 0 };
	rc = ctrl_change(ctl, t, p, ELECT_MOVE, b);
	if (rc <= 0) {
		*a = saved;
		free(trs);
		free(rr);
		return rc;
	}
	ids_str(from, sizeof(from), saved.replicas, saved.n_replicas);
	free(saved.replicas);
	free(saved.adding);
	free(saved.removing);
	rc = ctrl_write_assignment(ctl, t, p, trs, n, NULL, 0, NULL, 0);
	if (rc == 0) {
		batch_drop_replicas(ctl, b, t, p, rr, n_rr);
		mq_log(MQ_INFO,
		       "controller: %s-%d moved: replicas %s (were %s), leader %d in epoch %d",
		       ctl->topics[t].name, p, ids_str(to, sizeof(to), a->replicas, a->n_replicas),
		       from, part->state.leader, part->state.leader_epoch);
		rc = ctrl_reassign_prune(ctl, NULL, 0);
	}
	free(rr);
	return rc < 0 ? rc : 1;
}

/* Every partition being moved, checked (after ISR changes, broker
 * changes, and on taking over: the moves an earlier controller started
 * resume from their topic znodes). */
static int ctrl_moves_check(struct controller *ctl, struct ctrl_batch *b)
{
	for (int t = 0; t < ctl->n_topics; t++)
		for (int32_t p = 0; p < ctl->topics[t].assignment.n_partitions; p++) {
			int rc = ctrl_move_check(ctl, t, p, b);

			if (rc < 0)
				return rc;
		}
	return 0;
}

/* Kafka's onPartitionReassignment, first half, for (t, p) towards
 * target (NULL: cancel): RS, AR and RR written to the topic znode, the
 * replicas a replaced move added and no longer needs deleted, a new
 * leader epoch with RS told to every replica of RS (the new ones open
 * their log and fetch from the leader), and the move completed at once
 * when TRS is in the ISR already. *result: 0 or the refusal
 * (controller_plan_move, -ENOENT no such partition), logged. Returns 0
 * or the -errno that ends the office's step. */
static int ctrl_move(struct controller *ctl, const char *topic, int32_t p, const int32_t *target,
		     int n_target, struct ctrl_batch *b, int *result)
{
	int t = find_topic(ctl, topic), rc;
	struct controller_move m;
	struct zk_assignment *a;
	char buf[96], buf2[96], buf3[96];

	*result = 0;
	if (t < 0 || p < 0 || p >= ctl->topics[t].assignment.n_partitions ||
	    !ctl->topics[t].partitions[p].present)
		rc = -ENOENT;
	else
		rc = controller_plan_move(&ctl->topics[t].assignment.partitions[p], target,
					  n_target, ctl->live, ctl->n_live, &m);
	if (rc == -ENOMEM)
		return rc;
	if (rc) {
		*result = rc;
		mq_log(MQ_WARN, "controller: %s of %s-%d to %s refused: %s",
		       target ? "reassignment" : "cancel of the reassignment", topic, p,
		       target ? ids_str(buf, sizeof(buf), target, n_target) : "its replicas",
		       rc == -ENOENT         ? "no such partition (UNKNOWN_TOPIC_OR_PARTITION)"
		       : rc == -EALREADY     ? "no reassignment in progress"
		       : rc == -EHOSTUNREACH ? "a broker to add is not registered "
					       "(INVALID_REPLICA_ASSIGNMENT)"
					     : "empty, or a broker id repeated or negative "
					       "(INVALID_REPLICA_ASSIGNMENT)");
		return 0;
	}
	a = &ctl->topics[t].assignment.partitions[p];
	if (ids_same(a->replicas, a->n_replicas, m.replicas, m.n_replicas) &&
	    ids_same(a->adding, a->n_adding, m.adding, m.n_adding) &&
	    ids_same(a->removing, a->n_removing, m.removing, m.n_removing)) {
		controller_move_clear(&m); /* under way already (or nothing to move) */
		rc = ctrl_move_check(ctl, t, p, b);
		return rc < 0 ? rc : 0;
	}
	rc = ctrl_write_assignment(ctl, t, p, m.replicas, m.n_replicas, m.adding, m.n_adding,
				   m.removing, m.n_removing);
	if (rc == 0) {
		mq_log(MQ_INFO, "controller: %s-%d: %s: replicas %s, adding %s, removing %s", topic,
		       p, target ? "moving" : "cancelling its move",
		       ids_str(buf, sizeof(buf), m.replicas, m.n_replicas),
		       ids_str(buf2, sizeof(buf2), m.adding, m.n_adding),
		       ids_str(buf3, sizeof(buf3), m.removing, m.n_removing));
		batch_drop_replicas(ctl, b, t, p, m.dropped, m.n_dropped);
		rc = ctrl_change(ctl, t, p, ELECT_MOVE_START, b);
		/* Nothing to write (the leader is of RS and stays, though
		 * none can lead for now): the new ones hear the state as it
		 * is, and the move waits. */
		if (rc == 0)
			batch_partition(ctl, b, t, p, false, ZK_LEADER_NONE);
	}
	controller_move_clear(&m);
	if (rc >= 0)
		rc = ctrl_move_check(ctl, t, p, b);
	return rc < 0 ? rc : 0;
}

/* Kafka's PartitionReassignment event: /admin/reassign_partitions read
 * (and watched: made, changed or deleted runs this again), each entry
 * started, the refused ones logged and removed, the settled ones too. A
 * document that does not decode is logged and deleted: nothing of it can
 * be acted on, and left there it would block the next request. */
static int ctrl_on_reassign(struct controller *ctl, struct ctrl_batch *b)
{
	struct controller_tp *refused = NULL;
	struct zk_reassign r;
	struct zkc_stat st;
	char why[ZK_WHY_LEN] = "", *data = NULL;
	size_t len;
	int rc, i, n_refused = 0;

	rc = ctrl_get_watched(ctl, ZK_REASSIGN_PATH, EV_REASSIGN, &data, &len, &st);
	if (rc)
		return rc == -ENOENT ? 0 : rc;
	rc = zk_reassign_decode(data, len, &r, why);
	free(data);
	if (rc == -EBADMSG) {
		mq_log(MQ_ERR, "controller: %s: %s; removed (no partition of it moved)",
		       ZK_REASSIGN_PATH, why);
		rc = zkc_delete(ctl->zkc, ZK_REASSIGN_PATH, st.version);
		return rc == -ENOENT || rc == -ESTALE ? 0 : rc;
	}
	if (rc)
		return rc;
	if (!(refused = malloc(((size_t)r.n + 1) * sizeof(*refused)))) {
		zk_reassign_clear(&r);
		return -ENOMEM;
	}
	for (i = 0; i < r.n && rc == 0; i++) {
		int result = 0;

		rc = ctrl_move(ctl, r.parts[i].topic, r.parts[i].partition, r.parts[i].replicas,
			       r.parts[i].n_replicas, b, &result);
		if (rc == 0 && result) {
			snprintf(refused[n_refused].topic, sizeof(refused[n_refused].topic), "%s",
				 r.parts[i].topic);
			refused[n_refused++].partition = r.parts[i].partition;
		}
	}
	zk_reassign_clear(&r);
	if (rc == 0)
		rc = ctrl_reassign_prune(ctl, refused, n_refused);
	free(refused);
	return rc;
}

/* Kafka's ApiPartitionReassignment event (AlterPartitionReassignments).
 * The latest ask decides, as in Kafka: a partition moved or cancelled
 * here leaves /admin/reassign_partitions (maybeRemoveFromZkReassignment).
 * Left there, its older target would stay asked for: the next
 * controller reads the znode when it takes office and would start a
 * cancelled move again, and the znode would refuse the next
 * kafka-reassign-partitions.sh --zookeeper meanwhile. */
static int ctrl_on_alter(struct controller *ctl, struct controller_reassignment *v, int n,
			 struct ctrl_batch *b)
{
	struct controller_tp *taken;
	int rc = 0, n_taken = 0;

	if (ctl->state != CTRL_ACTIVE)
		return -EAGAIN;
	if (!(taken = malloc(((size_t)n + 1) * sizeof(*taken))))
		return -ENOMEM;
	for (int i = 0; i < n && rc == 0; i++) {
		rc = ctrl_move(ctl, v[i].topic, v[i].partition, v[i].replicas, v[i].n_replicas, b,
			       &v[i].result);
		if (rc == 0 && v[i].result == 0) {
			snprintf(taken[n_taken].topic, sizeof(taken[n_taken].topic), "%s",
				 v[i].topic);
			taken[n_taken++].partition = v[i].partition;
		}
	}
	if (rc == 0 && n_taken)
		rc = ctrl_reassign_prune(ctl, taken, n_taken);
	free(taken);
	return rc;
}

void controller_moving_free(struct controller_moving *v, int n)
{
	for (int i = 0; v && i < n; i++) {
		free(v[i].a.replicas);
		free(v[i].a.adding);
		free(v[i].a.removing);
	}
	free(v);
}

static int ctrl_on_list(struct controller *ctl, struct controller_moving **out)
{
	struct controller_moving *v;
	int t, p, n = 0;

	if (ctl->state != CTRL_ACTIVE)
		return -EAGAIN;
	for (t = 0; t < ctl->n_topics; t++)
		for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++)
			n += ctl->topics[t].assignment.partitions[p].n_adding ||
			     ctl->topics[t].assignment.partitions[p].n_removing;
	if (!(v = calloc((size_t)n + 1, sizeof(*v))))
		return -ENOMEM;
	n = 0;
	for (t = 0; t < ctl->n_topics; t++)
		for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++) {
			const struct zk_assignment *a = &ctl->topics[t].assignment.partitions[p];
			struct controller_moving *m = &v[n];

			if (!a->n_adding && !a->n_removing)
				continue;
			snprintf(m->topic, sizeof(m->topic), "%s", ctl->topics[t].name);
			m->partition = p;
			m->a = (struct zk_assignment){
				ids_dup(a->replicas, a->n_replicas), a->n_replicas,
				ids_dup(a->adding, a->n_adding),     a->n_adding,
				ids_dup(a->removing, a->n_removing), a->n_removing
			};
			n++;
			if (!m->a.replicas || !m->a.adding || !m->a.removing) {
				controller_moving_free(v, n);
				return -ENOMEM;
			}
		}
	*out = v;
	return n;
}

/* leader.imbalance.check: preferred elections for the partitions of every
 * broker above leader.imbalance.per.broker.percentage. */
/* The answers queued so far, oldest first, taken off the queue. */
static struct ctrl_answer *answers_take(struct controller *ctl)
{
	struct ctrl_answer *list;

	pthread_mutex_lock(&ctl->lock);
	list = ctl->answers;
	ctl->answers = NULL;
	ctl->answers_tail = &ctl->answers;
	pthread_mutex_unlock(&ctl->lock);
	return list;
}

/* One broker's answer, for its current life: the partitions it took are
 * hosted again; each it could not host, newly so, goes offline there and
 * its partition elects again without it (a leader gives way to another
 * in-sync replica, a follower leaves the ISR; the last ISR member stays,
 * invariant 5). */
static int answer_apply(struct controller *ctl, const struct ctrl_answer *a, struct ctrl_batch *b)
{
	const struct controller_tp *failed = a->tps, *ok = a->tps + a->n_failed;
	int i, k, rc;

	for (i = 0; i < a->n_ok; i++)
		for (k = 0; k < ctl->n_offline; k++) {
			struct ctrl_offline *o = &ctl->offline[k];

			if (o->broker_id != a->broker_id || o->tp.partition != ok[i].partition ||
			    strcmp(o->tp.topic, ok[i].topic))
				continue;
			mq_log(MQ_INFO, "controller: broker %d hosts %s-%d again", a->broker_id,
			       ok[i].topic, ok[i].partition);
			ctl->offline[k] = ctl->offline[--ctl->n_offline];
			break;
		}
	for (i = 0; i < a->n_failed; i++) {
		int t = find_topic(ctl, failed[i].topic);
		struct ctrl_offline *o;

		if (t < 0 || failed[i].partition < 0 ||
		    failed[i].partition >= ctl->topics[t].assignment.n_partitions ||
		    ctrl_is_offline(ctl, a->broker_id, t, failed[i].partition))
			continue;
		o = realloc(ctl->offline, ((size_t)ctl->n_offline + 1) * sizeof(*o));
		if (!o)
			return -ENOMEM;
		ctl->offline = o;
		ctl->offline[ctl->n_offline++] = (struct ctrl_offline){
			.broker_id = a->broker_id, .broker_epoch = a->broker_epoch, .tp = failed[i]
		};
		mq_log(MQ_WARN,
		       "controller: broker %d cannot host %s-%d (KAFKA_STORAGE_ERROR: its log did "
		       "not open, its log directory failed, or its log is gone: see its own log); its replica is offline until it "
		       "takes it or restarts, and the partition elects without it",
		       a->broker_id, failed[i].topic, failed[i].partition);
		rc = ctrl_change(ctl, t, failed[i].partition, ELECT_LIVE, b);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Kafka's LeaderAndIsrResponseReceived, for the answers queued since the
 * last run. */
static int ctrl_on_answers(struct controller *ctl, struct ctrl_batch *b)
{
	struct ctrl_answer *list = answers_take(ctl);
	int rc = 0;

	ctrl_offline_purge(ctl, NULL);
	while (list) {
		struct ctrl_answer *a = list;

		list = a->next;
		if (rc == 0 && a->broker_epoch == ctrl_broker_epoch(ctl, a->broker_id))
			rc = answer_apply(ctl, a, b);
		free(a);
	}
	return rc;
}

static int ctrl_on_rebalance(struct controller *ctl, struct ctrl_batch *b)
{
	int32_t *pref, *lead, *over;
	int t, p, n = 0, k, rc = 0;

	for (t = 0; t < ctl->n_topics; t++)
		n += ctl->topics[t].assignment.n_partitions;
	pref = malloc(((size_t)n + 1) * sizeof(*pref));
	lead = malloc(((size_t)n + 1) * sizeof(*lead));
	over = malloc(((size_t)n + 1) * sizeof(*over));
	if (!pref || !lead || !over) {
		rc = -ENOMEM;
		goto out;
	}
	n = 0;
	for (t = 0; t < ctl->n_topics; t++)
		for (p = 0; p < ctl->topics[t].assignment.n_partitions; p++)
			if (ctl->topics[t].partitions[p].present &&
			    ctl->topics[t].assignment.partitions[p].n_replicas > 0) {
				pref[n] = ctl->topics[t].assignment.partitions[p].replicas[0];
				lead[n++] = ctl->topics[t].partitions[p].state.leader;
			}
	k = controller_imbalanced_brokers(pref, lead, n,
					  ctl->cfg.leader_imbalance_per_broker_percentage, over);
	if (k < 0) {
		rc = k;
		goto out;
	}
	for (t = 0; rc >= 0 && k > 0 && t < ctl->n_topics; t++)
		for (p = 0; rc >= 0 && p < ctl->topics[t].assignment.n_partitions; p++) {
			const struct zk_assignment *a = &ctl->topics[t].assignment.partitions[p];

			/* A moving partition's leader is the move's to choose
			 * (Kafka leaves it out too). */
			if (a->n_replicas > 0 && has(over, k, a->replicas[0]) && !a->n_adding &&
			    !a->n_removing)
				rc = ctrl_change(ctl, t, p, ELECT_PREFERRED, b);
		}
	rc = rc < 0 ? rc : 0;
out:
	free(pref);
	free(lead);
	free(over);
	return rc;
}

/* CANDIDATE -> ACTIVE: read everything and tell everyone. */
static int ctrl_become_active(struct controller *ctl, const struct zkmeta_controller *mc,
			      struct ctrl_batch *b)
{
	int rc;

	ctl->state = CTRL_ACTIVE;
	ctl->epoch = mc->epoch;
	ctl->epoch_zk_version = mc->epoch_zk_version;
	pthread_mutex_lock(&ctl->lock);
	ctl->info.elections_won++;
	ctl->info.controller_id = ctl->cfg.broker_id;
	pthread_mutex_unlock(&ctl->lock);
	mq_log(MQ_INFO, "controller: broker %d is the controller (epoch %d)", ctl->cfg.broker_id,
	       ctl->epoch);
	/* The deletions an earlier controller left go first, before any
	 * partition is started or elected (Kafka's controller leaves a topic
	 * queued for deletion out of its partition state changes): one that
	 * died in the middle of ctrl_delete_topic left partitions without a
	 * state, which ctrl_start_partitions would start again at leader
	 * epoch 0, their live replicas opening the logs just deleted. They
	 * need the live brokers (StopReplica goes to those). */
	if ((rc = zkmeta_ensure_paths(ctl->zkc)) || (rc = ctrl_read_topics(ctl, true)) ||
	    (rc = ctrl_read_brokers(ctl)) || (rc = ctrl_on_deletions(ctl, b)) ||
	    (rc = ctrl_flush(ctl, b)) || (rc = ctrl_on_brokers(ctl, b, true)) ||
	    (rc = ctrl_flush(ctl, b)) || (rc = ctrl_on_isr_change(ctl, b)) ||
	    (rc = ctrl_flush(ctl, b)) || (rc = ctrl_on_log_dir_events(ctl, b)) ||
	    (rc = ctrl_flush(ctl, b)) || (rc = ctrl_on_reassign(ctl, b)) ||
	    (rc = ctrl_flush(ctl, b)) || (rc = ctrl_on_preferred(ctl, b)))
		return rc;
	if (ctl->cfg.auto_leader_rebalance_enable)
		ctl->rebalance_at_ms =
			now_mono_ms() +
			(int64_t)ctl->cfg.leader_imbalance_check_interval_seconds * 1000;
	return 0;
}

static void ctrl_elect(struct controller *ctl, struct ctrl_batch *b)
{
	struct zkmeta_controller mc;
	char why[ZK_WHY_LEN] = "";
	int won, rc;

	if (ctl->state == CTRL_DETACHED || ctl->state == CTRL_STOPPED)
		return;
	won = zkmeta_elect(ctl->zkc, ctl->cfg.broker_id, now_real_ms(), &mc, ctrl_watch, ctl, why);
	if (won < 0) {
		if (won == -EBADMSG)
			mq_log(MQ_ERR, "controller: election: %s", why);
		ctrl_fail(ctl, won, "election");
		return;
	}
	ctl->retry_at_ms = 0;
	/* Watch /controller in every case: a winner by creation has none. */
	rc = zkc_exists(ctl->zkc, ZK_CONTROLLER_PATH, NULL, ctrl_watch, ctl);
	if (rc && rc != -ENOENT) {
		ctrl_fail(ctl, rc, "watching /controller");
		return;
	}
	if (rc == -ENOENT)
		ctrl_post(ctl, EV_ELECT); /* gone already: run again */
	if (won && ctl->state == CTRL_ACTIVE && mc.epoch_zk_version == ctl->epoch_zk_version)
		return; /* still ours, the same office */
	ctrl_resign(ctl);
	if (!won) {
		ctl->state = CTRL_FOLLOWER;
		pthread_mutex_lock(&ctl->lock);
		ctl->info.controller_id = mc.controller_id;
		pthread_mutex_unlock(&ctl->lock);
		return;
	}
	if ((rc = ctrl_become_active(ctl, &mc, b)) || (rc = ctrl_flush(ctl, b)))
		ctrl_abort(ctl, b, rc, "taking over");
}

/* Runs one handler of an ACTIVE controller and sends what it decided; a
 * stale watch of an earlier office finds the controller not ACTIVE. */
static void ctrl_run(struct controller *ctl, struct ctrl_batch *b,
		     int (*handler)(struct controller *, struct ctrl_batch *), const char *what)
{
	int rc;

	if (ctl->state != CTRL_ACTIVE)
		return;
	rc = handler(ctl, b);
	if (rc == 0)
		rc = ctrl_flush(ctl, b);
	if (rc)
		ctrl_abort(ctl, b, rc, what);
}

/* A move whose leader left, or whose new leader came, may complete. */
static int ctrl_on_brokers_changed(struct controller *ctl, struct ctrl_batch *b)
{
	int rc = ctrl_on_brokers(ctl, b, false);

	return rc ? rc : ctrl_moves_check(ctl, b);
}

/* A call a caller waits for. */
static void ctrl_do_call(struct controller *ctl, struct ctrl_call *call, struct ctrl_batch *b)
{
	int rc;

	switch (call->type) {
	case CALL_RECONNECT:
		ctrl_resign(ctl);
		zkwatch_reset(&ctl->topic_watches); /* gone with the session */
		zkwatch_reset(&ctl->broker_watches);
		ctl->zkc = call->zkc;
		ctl->state = CTRL_CANDIDATE;
		ctl->retry_at_ms = 0;
		ctrl_post(ctl, EV_ELECT);
		call->rc = 0;
		break;
	case CALL_SHUTDOWN:
		rc = ctrl_on_controlled_shutdown(ctl, call->broker_id, b, call->remaining);
		if (rc >= 0) {
			int sent = ctrl_flush(ctl, b);

			if (sent && call->remaining) {
				free(*call->remaining);
				*call->remaining = NULL;
			}
			rc = sent ? sent : rc;
		}
		if (rc < 0 && rc != -EAGAIN && rc != -ENOENT)
			ctrl_abort(ctl, b, rc, "controlled shutdown");
		call->rc = rc;
		break;
	case CALL_ELECT:
		rc = ctrl_on_elect(ctl, call->unclean, call->elect, call->n_elect, b);
		if (rc == 0)
			rc = ctrl_flush(ctl, b);
		if (rc < 0 && rc != -EAGAIN)
			ctrl_abort(ctl, b, rc, "leader election");
		call->rc = rc;
		break;
	case CALL_ALTER:
		rc = ctrl_on_alter(ctl, call->alter, call->n_alter, b);
		if (rc == 0)
			rc = ctrl_flush(ctl, b);
		if (rc < 0 && rc != -EAGAIN)
			ctrl_abort(ctl, b, rc, "partition reassignment");
		call->rc = rc;
		break;
	case CALL_LIST: call->rc = ctrl_on_list(ctl, call->moving); break;
	case CALL_STOP:
		if (ctl->state == CTRL_ACTIVE && ctl->cfg.controlled_shutdown_enable) {
			rc = ctrl_on_controlled_shutdown(ctl, ctl->cfg.broker_id, b, NULL);
			if (rc >= 0)
				rc = ctrl_flush(ctl, b);
			if (rc < 0)
				mq_log(MQ_WARN, "controller: shutting down broker %d: %s",
				       ctl->cfg.broker_id, strerror(-rc));
		}
		ctrl_flush(ctl, b); /* empty, or what a failed step left */
		ctrl_resign(ctl);
		ctl->state = CTRL_STOPPED;
		call->rc = 0;
		break;
	}
	ctrl_publish(ctl);
	pthread_mutex_lock(&ctl->lock);
	call->done = true;
	if (call->type == CALL_STOP) {
		struct ctrl_call *c;

		/* Callbacks post nothing more; calls queued behind the stop
		 * are answered, not left waiting. */
		ctl->closed = true;
		for (c = ctl->calls; c; c = c->next) {
			c->rc = -ESHUTDOWN;
			c->done = true;
		}
		ctl->calls = NULL;
		ctl->calls_tail = &ctl->calls;
	}
	pthread_cond_broadcast(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
}

/* The next timer of the event thread: a retry of the election or the
 * imbalance check; 0 when none. */
static int64_t ctrl_deadline(const struct controller *ctl)
{
	int64_t d = ctl->retry_at_ms;

	if (ctl->rebalance_at_ms && (!d || ctl->rebalance_at_ms < d))
		d = ctl->rebalance_at_ms;
	return d;
}

static void ctrl_timers(struct controller *ctl, struct ctrl_batch *b)
{
	int64_t now = now_mono_ms();

	if (ctl->retry_at_ms && ctl->retry_at_ms <= now) {
		ctl->retry_at_ms = 0;
		ctrl_elect(ctl, b);
	}
	if (ctl->rebalance_at_ms && ctl->rebalance_at_ms <= now) {
		ctl->rebalance_at_ms =
			now + (int64_t)ctl->cfg.leader_imbalance_check_interval_seconds * 1000;
		ctrl_run(ctl, b, ctrl_on_rebalance, "leader rebalance");
	}
}

/* Answers to the LeaderAndIsr of an earlier office: its successor sends
 * its own to every broker. */
static void answers_drop(struct controller *ctl)
{
	struct ctrl_answer *list = answers_take(ctl);

	while (list) {
		struct ctrl_answer *a = list;

		list = a->next;
		free(a);
	}
}

/* Kafka's ControllerEventManager: one event at a time. */
static void *ctrl_thread(void *arg)
{
	struct controller *ctl = arg;
	struct ctrl_batch b;
	bool stopped = false;

	memset(&b, 0, sizeof(b));
	while (!stopped) {
		struct ctrl_call *call = NULL;
		int bits = 0;
		int64_t deadline = ctrl_deadline(ctl);

		pthread_mutex_lock(&ctl->lock);
		while (!ctl->calls && !ctl->pending && (!deadline || now_mono_ms() < deadline)) {
			if (deadline) {
				struct timespec ts = { deadline / 1000,
						       (deadline % 1000) * 1000000 };

				pthread_cond_timedwait(&ctl->cond, &ctl->lock, &ts);
			} else {
				pthread_cond_wait(&ctl->cond, &ctl->lock);
			}
		}
		if ((call = ctl->calls)) {
			if (!(ctl->calls = call->next))
				ctl->calls_tail = &ctl->calls;
		} else {
			bits = ctl->pending;
			ctl->pending = 0;
		}
		pthread_mutex_unlock(&ctl->lock);

		if (call) {
			stopped = call->type == CALL_STOP;
			ctrl_do_call(ctl, call, &b);
			continue;
		}
		if (bits & EV_EXPIRED) {
			if (ctl->state != CTRL_DETACHED)
				mq_log(MQ_WARN, "controller: broker %d: ZooKeeper session expired",
				       ctl->cfg.broker_id);
			ctrl_resign(ctl);
			ctl->state = CTRL_DETACHED;
			ctl->retry_at_ms = 0;
		}
		if (bits & EV_ELECT)
			ctrl_elect(ctl, &b);
		if (bits & EV_BROKERS)
			ctrl_run(ctl, &b, ctrl_on_brokers_changed, "broker change");
		if (bits & EV_TOPICS)
			ctrl_run(ctl, &b, ctrl_on_topics, "topic change");
		if (bits & EV_DELETIONS)
			ctrl_run(ctl, &b, ctrl_on_deletions, "topic deletion");
		if (bits & EV_ISR_CHANGE)
			ctrl_run(ctl, &b, ctrl_on_isr_change, "ISR change");
		if (bits & EV_LOG_DIR)
			ctrl_run(ctl, &b, ctrl_on_log_dir_events, "log dir event");
		if (bits & EV_REASSIGN)
			ctrl_run(ctl, &b, ctrl_on_reassign, "partition reassignment");
		if (bits & EV_PREFERRED)
			ctrl_run(ctl, &b, ctrl_on_preferred, "preferred replica election");
		/* unclean.leader.election.enable may now elect a leader
		 * where there was none (Kafka's TopicUncleanLeaderElectionEnable). */
		if (bits & EV_CONFIG)
			ctrl_run(ctl, &b, ctrl_elect_all, "topic config change");
		if (bits & EV_ANSWERS) {
			if (ctl->state == CTRL_ACTIVE)
				ctrl_run(ctl, &b, ctrl_on_answers, "LeaderAndIsr answers");
			else
				answers_drop(ctl);
		}
		ctrl_timers(ctl, &b);
		ctrl_publish(ctl);
	}
	batch_free(&b);
	return NULL;
}

/* Queues a call and waits until the event thread has done it. */
static int ctrl_call(struct controller *ctl, struct ctrl_call *call)
{
	pthread_mutex_lock(&ctl->lock);
	if (ctl->closed) {
		pthread_mutex_unlock(&ctl->lock);
		return -ESHUTDOWN;
	}
	call->next = NULL;
	call->done = false;
	*ctl->calls_tail = call;
	ctl->calls_tail = &call->next;
	pthread_cond_broadcast(&ctl->cond);
	while (!call->done)
		pthread_cond_wait(&ctl->cond, &ctl->lock);
	pthread_mutex_unlock(&ctl->lock);
	return call->rc;
}

int controller_start(struct zkc *zkc, const struct controller_config *cfg,
		     const struct controller_channel *ch, struct controller **out)
{
	struct controller *ctl;
	pthread_condattr_t ca;
	int rc;

	if (!zkc || cfg->broker_id < 0 || cfg->leader_imbalance_check_interval_seconds <= 0)
		return -EINVAL;
	if (!(ctl = calloc(1, sizeof(*ctl))))
		return -ENOMEM;
	ctl->cfg = *cfg;
	atomic_init(&ctl->unclean_default, cfg->unclean_leader_election_enable);
	ctl->ch = *ch;
	ctl->zkc = zkc;
	ctl->state = CTRL_CANDIDATE;
	ctl->calls_tail = &ctl->calls;
	ctl->answers_tail = &ctl->answers;
	ctl->info.controller_id = -1;
	ctl->pending = EV_ELECT;
	pthread_mutex_init(&ctl->lock, NULL);
	zkwatch_init(&ctl->topic_watches);
	zkwatch_init(&ctl->broker_watches);
	/* The timers are monotonic: a clock step must not fire or starve
	 * them. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctl->cond, &ca);
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&ctl->thread, NULL, ctrl_thread, ctl))) {
		pthread_cond_destroy(&ctl->cond);
		pthread_mutex_destroy(&ctl->lock);
		zkwatch_destroy(&ctl->topic_watches);
		zkwatch_destroy(&ctl->broker_watches);
		free(ctl);
		return -rc;
	}
	*out = ctl;
	return 0;
}

void controller_stop(struct controller *ctl)
{
	struct ctrl_call call = { .type = CALL_STOP };

	if (!ctl)
		return;
	if (ctrl_call(ctl, &call) == 0)
		pthread_join(ctl->thread, NULL);
}

void controller_free(struct controller *ctl)
{
	if (!ctl)
		return;
	ctrl_clear_cache(ctl);
	while (ctl->answers) {
		struct ctrl_answer *a = ctl->answers;

		ctl->answers = a->next;
		free(a);
	}
	pthread_cond_destroy(&ctl->cond);
	pthread_mutex_destroy(&ctl->lock);
	zkwatch_destroy(&ctl->topic_watches);
	zkwatch_destroy(&ctl->broker_watches);
	free(ctl);
}

int controller_reconnect(struct controller *ctl, struct zkc *zkc)
{
	struct ctrl_call call = { .type = CALL_RECONNECT, .zkc = zkc };

	if (!zkc)
		return -EINVAL;
	return ctrl_call(ctl, &call);
}

int controller_lisr_answer(struct controller *ctl, int32_t broker_id, int64_t broker_epoch,
			   const struct controller_tp *failed, int n_failed,
			   const struct controller_tp *ok, int n_ok)
{
	struct ctrl_answer *a;

	if (!ctl || n_failed < 0 || n_ok < 0)
		return -EINVAL;
	if (n_failed == 0 && n_ok == 0)
		return 0;
	a = malloc(sizeof(*a) + ((size_t)n_failed + (size_t)n_ok) * sizeof(a->tps[0]));
	if (!a)
		return -ENOMEM;
	a->next = NULL;
	a->broker_id = broker_id;
	a->broker_epoch = broker_epoch;
	a->n_failed = n_failed;
	a->n_ok = n_ok;
	if (n_failed)
		memcpy(a->tps, failed, (size_t)n_failed * sizeof(*failed));
	if (n_ok)
		memcpy(a->tps + n_failed, ok, (size_t)n_ok * sizeof(*ok));
	pthread_mutex_lock(&ctl->lock);
	if (ctl->closed) {
		pthread_mutex_unlock(&ctl->lock);
		free(a);
		return -ESHUTDOWN;
	}
	*ctl->answers_tail = a;
	ctl->answers_tail = &a->next;
	ctl->pending |= EV_ANSWERS;
	pthread_cond_broadcast(&ctl->cond);
	pthread_mutex_unlock(&ctl->lock);
	return 0;
}

int controller_controlled_shutdown(struct controller *ctl, int32_t broker_id,
				   struct controller_tp **remaining)
{
	struct ctrl_call call = { .type = CALL_SHUTDOWN,
				  .broker_id = broker_id,
				  .remaining = remaining };

	if (remaining)
		*remaining = NULL;
	return ctrl_call(ctl, &call);
}

int controller_elect_leaders(struct controller *ctl, bool unclean,
			     struct controller_election *parts, int n)
{
	struct ctrl_call call = {
		.type = CALL_ELECT, .unclean = unclean, .elect = parts, .n_elect = n
	};

	return ctrl_call(ctl, &call);
}

int controller_alter_reassignments(struct controller *ctl, struct controller_reassignment *parts,
				   int n)
{
	struct ctrl_call call = { .type = CALL_ALTER, .alter = parts, .n_alter = n };

	return ctrl_call(ctl, &call);
}

int controller_list_reassignments(struct controller *ctl, struct controller_moving **out)
{
	struct ctrl_call call = { .type = CALL_LIST, .moving = out };

	*out = NULL;
	return ctrl_call(ctl, &call);
}

void controller_get_info(struct controller *ctl, struct controller_info *info)
{
	pthread_mutex_lock(&ctl->lock);
	*info = ctl->info;
	pthread_mutex_unlock(&ctl->lock);
}

/* Says why the live brokers cannot take a rack-aware placement. */
static void log_racks_mixed(const char *topic, const char *what, const int32_t *ids,
			    char *const *racks, int n)
{
	char none[256] = "";
	size_t at = 0;

	for (int i = 0; i < n && at < sizeof(none); i++)
		if (!racks[i]) {
			int w = snprintf(none + at, sizeof(none) - at, "%s%d", at ? "," : "",
					 (int)ids[i]);

			if (w < 0)
				break;
			at += (size_t)w;
		}
	mq_log(MQ_WARN,
	       "topic %s: %s refused: not all brokers have rack information for replica rack "
	       "aware assignment (broker.rack unset on broker(s) %s)",
	       topic, what, none);
}

int controller_create_topic(struct zkc *zkc, const struct controller_config *cfg, const char *topic,
			    int n_partitions, int replication_factor,
			    const struct zk_config *config, char *topic_id)
{
	struct zk_topic t = { .version = 3 };
	int32_t *ids = NULL, *replicas = NULL;
	char **racks = NULL;
	int n, p,
		rf = replication_factor < 0 ? cfg->default_replication_factor : replication_factor,
		rc;

	if (!zk_topic_name_valid(topic))
		return -EINVAL;
	if ((n = zkmeta_broker_racks(zkc, &ids, &racks)) < 0)
		return n;
	rc = -ENOMEM;
	if (n_partitions > 0 && rf > 0 &&
	    !(replicas = malloc((size_t)n_partitions * (size_t)rf * sizeof(*replicas))))
		goto out;
	t.partitions = calloc(n_partitions > 0 ? (size_t)n_partitions : 1, sizeof(*t.partitions));
	if (!t.partitions)
		goto out;
	if (rf > n)
		mq_log(MQ_WARN,
		       "topic %s: replication factor %d larger than the live brokers (%d): not created",
		       topic, rf, n);
	rc = controller_assign_replicas(ids, (const char *const *)racks, n, 0, n_partitions, rf, -1,
					-1, replicas);
	if (rc == -ENOTSUP)
		log_racks_mixed(topic, "creation", ids, racks, n);
	if (rc)
		goto out;
	for (p = 0; p < n_partitions; p++)
		t.partitions[p] = (struct zk_assignment){ .replicas = replicas + (size_t)p * rf,
							  .n_replicas = rf };
	t.n_partitions = n_partitions;
	if ((rc = zk_uuid_new(t.topic_id)) == 0)
		rc = zkmeta_create_topic(zkc, topic, &t, config);
	if (rc == 0 && topic_id)
		memcpy(topic_id, t.topic_id, sizeof(t.topic_id));
out:
	free(t.partitions);
	free(replicas);
	zkmeta_broker_racks_free(ids, racks, n);
	return rc;
}

int controller_add_partitions(struct zkc *zkc, const char *topic, int n_partitions)
{
	struct zk_topic t = { 0 }, grown;
	struct zk_assignment *parts = NULL;
	struct zkc_stat st;
	char path[ZK_PATH_MAX], why[ZK_WHY_LEN], *data = NULL, *doc = NULL;
	int32_t *ids = NULL, *replicas = NULL;
	char **racks = NULL;
	size_t len;
	int n = 0, rf, added, start, rc;

	if ((rc = zk_path_topic(path, sizeof(path), topic)) < 0)
		return rc;
	if ((rc = zkc_get(zkc, path, &data, &len, &st, NULL, NULL)) < 0)
		return rc;
	rc = zk_topic_decode(data, len, &t, why);
	free(data);
	if (rc < 0)
		return rc;
	added = n_partitions - t.n_partitions;
	rf = t.n_partitions > 0 ? t.partitions[0].n_replicas : 0;
	rc = -EINVAL;
	if (added <= 0 || rf <= 0)
		goto out;
	if ((n = zkmeta_broker_racks(zkc, &ids, &racks)) < 0) {
		rc = n;
		n = 0;
		goto out;
	}
	rc = -ENOMEM;
	replicas = malloc((size_t)added * (size_t)rf * sizeof(*replicas));
	parts = calloc((size_t)n_partitions, sizeof(*parts));
	if (!replicas || !parts)
		goto out;
	/* As Kafka's addPartitions: the new partitions go on with the
	 * round-robin where partition 0's first replica started it (the first
	 * live broker from its id on), counted from the partition number, so
	 * that their leaders continue the spread of the existing ones instead
	 * of starting it again at a random broker. */
	if (rf > n)
		mq_log(MQ_WARN,
		       "topic %s: replication factor %d (partition 0's) larger than the live brokers "
		       "(%d): no partition added",
		       topic, rf, n);
	start = 0;
	while (start < n && ids[start] < t.partitions[0].replicas[0])
		start++;
	if (start == n)
		start = 0;
	rc = controller_assign_replicas(ids, (const char *const *)racks, n, t.n_partitions, added,
					rf, start, start, replicas);
	if (rc == -ENOTSUP)
		log_racks_mixed(topic, "adding partitions", ids, racks, n);
	if (rc)
		goto out;
	memcpy(parts, t.partitions, (size_t)t.n_partitions * sizeof(*parts));
	for (int p = 0; p < added; p++)
		parts[t.n_partitions + p] =
			(struct zk_assignment){ .replicas = replicas + (size_t)p * rf,
						.n_replicas = rf };
	grown = t;
	grown.partitions = parts;
	grown.n_partitions = n_partitions;
	rc = -ENOMEM;
	if ((doc = zk_topic_encode(&grown)))
		rc = zkc_set(zkc, path, doc, strlen(doc), st.version, NULL);
out:
	free(doc);
	free(parts);
	free(replicas);
	zkmeta_broker_racks_free(ids, racks, n);
	zk_topic_clear(&t);
	return rc;
}
