/*
 * group_remote.c — a mount member (an open `consume` file) of a group that
 * another broker coordinates: it is a member there, in the coordinator's
 * list with the coordinator's own consume files and those of every other
 * broker, and the group's assignor hands it its partitions; it reads them
 * here, from this broker's replicas, exactly as a local member reads.
 *
 * The group object here is a proxy of the coordinator's (g->proxy,
 * group_coord.c): it holds this mount's members, their positions and
 * cursors, and writes nothing to __consumer_offsets.
 *
 * The conversation is Kafka's group protocol over the brokers' listener
 * (authenticated as the brokers' own user), protocol type "mqfs": the
 * coordinator assigns (group_guest.c is that side).
 *
 *   open      JoinGroup (member id "", subscription of the topic, user
 *             data "pid@broker") -> member id, generation; SyncGroup ->
 *             the partitions; OffsetFetch -> their committed offsets,
 *             where the reads start, read as the coordinator's mount
 *             reads them (group_start_offset: a -1, committed or none,
 *             is auto.offset.reset, and then the group's settings are
 *             read from the coordinator too, DescribeConfigs; -2 the log
 *             start). An OffsetFetch without an answer for every
 *             partition fails the join: no start is guessed. Then the
 *             member is in g->members here (g->nremote counts it: no
 *             local assignor runs for the group on this broker). While
 *             the coordinator moves (not reached: killed, frozen, cut
 *             off; NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, loading)
 *             or none is known (an election), the open asks again who
 *             coordinates and joins there, for request.timeout.ms, its
 *             calls cut to what is left of it (rem_open); then EAGAIN,
 *             never the connection's errno. When the answer is this
 *             broker (it loaded the group), group_join joins it here.
 *   every GREM_HEARTBEAT_MS
 *             Heartbeat. REBALANCE_IN_PROGRESS or ILLEGAL_GENERATION:
 *             JoinGroup with its id, SyncGroup, OffsetFetch, and the new
 *             partitions replace the old (rem_apply: a partition it keeps
 *             keeps its position, a new one starts at the commit).
 *             UNKNOWN_MEMBER_ID (its session expired there, or the
 *             coordinator changed): joins anew. The connection failing,
 *             NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE: asks who
 *             coordinates now (the kafka_coordinator hook, FindCoordinator's
 *             answer) and joins there; none yet (GROUP_COORD_NONE: no
 *             leader, or this broker still loading): asks again at the
 *             next heartbeat; if this broker does (it loaded the group,
 *             the proxy is its group now), the member becomes a local
 *             member and the local assignor runs from the loaded commits.
 *   a read    commits as a local member's does, with OffsetCommit; the
 *             coordinator takes a partition's offset only from its owner
 *             there, so a member that has not yet heard of a rebalance
 *             commits nothing for a partition it lost (its records come
 *             again to the new owner: at-least-once, as a local rebalance).
 *   close     LeaveGroup; the coordinator rebalances at once.
 *
 * While the coordinator cannot be reached the member keeps its partitions
 * and reads them; its commits fail (logged) and are made by a later read
 * or by the next owner's reads.
 *
 * Threads and locks: one thread per member (its heartbeats); group.mu,
 * then rm->conn_mu (the connection: a commit under group.mu, the thread
 * without group.mu), then coord.connect_mu (the hook that connects, a
 * leaf; never coord.mu, which comes before group.mu); rm->mu (stop, a
 * leaf). The thread applies what it learnt under group.mu after
 * releasing conn_mu.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "repl/group_int.h"
#include "repl/proto.h"
#include "util/clock.h"
#include "util/diaglog.h"
#include "util/pause.h"

#define GREM_HEARTBEAT_MS  1000
#define GREM_TIMEOUT_MS    5000 /* of one call, connect included */
#define GREM_SYNC_TRIES    10   /* joins in a row that a rebalance overtook */
/* A join waits up to request.timeout.ms for a coordinator that is
 * loading the group's offsets partition (COORDINATOR_LOAD_IN_PROGRESS: it
 * just became its leader, as every broker does once after a cluster
 * starts) or whose __consumer_offsets is still being created
 * (COORDINATOR_NOT_AVAILABLE, at the first group of a new cluster), and
 * an open's join also for one that moves (rem_open), asking again every
 * GREM_LOAD_PAUSE_MS, as Kafka's consumers retry them. */
#define GREM_LOAD_PAUSE_MS 100

struct grem {
	struct group_member *m;
	pthread_mutex_t conn_mu;
	struct net_client *c; /* NULL: connect before the next call */
	int32_t node;         /* the coordinator */
	char member_id[64];   /* its id there; "" before the first join */
	int32_t generation;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	bool stop;
	bool local;    /* this broker coordinates now */
	int64_t until; /* an open's deadline (monotonic ms), which its calls
			* do not pass; 0: none (GREM_TIMEOUT_MS each) */
	int wake[2];   /* a pipe: ends a call in flight at stop */
	pthread_t th;
	bool running;
};

/* What a join learnt: the partitions and their committed offsets. */
struct grem_asg {
	int32_t generation;
	char member_id[64];
	int n;
	int32_t *parts;
	int64_t *committed;
};

static void asg_free(struct grem_asg *a)
{
	free(a->parts);
	free(a->committed);
	memset(a, 0, sizeof(*a));
}

/* ---- calls (rm->conn_mu held) ---- */

/* The timeout of rm's next call: GREM_TIMEOUT_MS, cut to what is left of
 * an open's wait (at least GREM_LOAD_PAUSE_MS: a call needs a chance). */
static int64_t rem_timeout(const struct grem *rm)
{
	int64_t left = rm->until ? rm->until - now_mono_ms() : GREM_TIMEOUT_MS;

	return left > GREM_TIMEOUT_MS      ? GREM_TIMEOUT_MS
	       : left < GREM_LOAD_PAUSE_MS ? GREM_LOAD_PAUSE_MS
					   : left;
}

/* Connects to rm->node when not connected. */
static int rem_conn(struct grem *rm)
{
	struct group_coord *gc = rm->m->g->gc;
	int (*fn)(void *, int32_t, int64_t, struct net_client **);
	void *arg;
	int rc;

	if (rm->c)
		return 0;
	/* connect_mu, not coord.mu: conn_mu is held here, and coord.mu comes
	 * before group.mu, which a commit holds while it waits for conn_mu. */
	pthread_mutex_lock(&gc->connect_mu);
	fn = gc->connect;
	arg = gc->connect_arg;
	pthread_mutex_unlock(&gc->connect_mu);
	if (!fn)
		return -EAGAIN; /* stopping, or not a cluster */
	rc = fn(arg, rm->node, rem_timeout(rm), &rm->c);
	if (rc == 0)
		net_client_set_wake(rm->c, rm->wake[0]);
	return rc;
}

/* One request of api (the largest version both sides speak) whose body
 * w holds (encoded for *v, chosen here by the caller's encode). The
 * connection is closed after any error. */
static int rem_call(struct grem *rm, int16_t api, int16_t v, struct kbuf_w *w,
		    struct net_resp *resp)
{
	int rc = kbuf_w_err(w);

	if (rc == 0)
		rc = net_client_call(rm->c, api, v, w->buf, w->len, 0, rem_timeout(rm), resp);
	kbuf_w_free(w);
	if (rc < 0) {
		net_client_close(rm->c);
		rm->c = NULL;
	}
	return rc;
}

/* The version of api to speak, connecting first. */
static int rem_version(struct grem *rm, int16_t api)
{
	int rc = rem_conn(rm);

	return rc < 0 ? rc : net_client_version(rm->c, api);
}

/* Kafka's error code as the errno of a join or a commit. */
static int rem_errno(int16_t err)
{
	switch (err) {
	case PROTO_ERR_NONE: return 0;
	case PROTO_ERR_NOT_COORDINATOR:
	case PROTO_ERR_COORDINATOR_NOT_AVAILABLE:
	case PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS: return -EAGAIN;
	case PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL: return -EBUSY;
	case PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION: return -ENOENT;
	case PROTO_ERR_INVALID_GROUP_ID: return -EINVAL;
	default: return -EPROTO;
	}
}

static int rem_join(struct grem *rm, struct grem_asg *a, int16_t *err)
{
	struct group *g = rm->m->g;
	char ud[32];
	struct kstr topic = kstr_of(g->topic);
	struct proto_consumer_sub sub = { .version = 0, .n_topics = 1, .topics = &topic };
	struct proto_join_protocol proto = { .name = kstr_of(GROUP_GUEST_PTYPE) };
	struct proto_join_req req = { .group_id = kstr_of(g->name),
				      .session_timeout_ms = g->session_timeout_ms,
				      .rebalance_timeout_ms = g->session_timeout_ms,
				      .member_id = kstr_of(rm->member_id),
				      .group_instance_id = KSTR_NULL,
				      .protocol_type = kstr_of(GROUP_GUEST_PTYPE),
				      .n_protocols = 1,
				      .protocols = &proto,
				      .reason = KSTR_NULL };
	struct proto_join_resp r;
	struct net_resp resp;
	struct kbuf_w sw, w;
	int v = rem_version(rm, PROTO_API_JOIN_GROUP), rc;

	if (v < 0)
		return v;
	snprintf(ud, sizeof(ud), "%d@%d", (int)rm->m->pid, (int)broker_cfg(g->gc->b)->broker_id);
	sub.user_data = kstr_of(ud);
	kbuf_w_init(&sw, 4096);
	proto_consumer_sub_encode(&sw, &sub);
	if ((rc = kbuf_w_err(&sw)) < 0) {
		kbuf_w_free(&sw);
		return rc;
	}
	proto.metadata = (struct kstr){ (const char *)sw.buf, (int32_t)sw.len };
	kbuf_w_init(&w, 1u << 16);
	proto_join_req_encode(&w, (int16_t)v, &req);
	rc = rem_call(rm, PROTO_API_JOIN_GROUP, (int16_t)v, &w, &resp);
	kbuf_w_free(&sw);
	if (rc < 0)
		return rc;
	rc = proto_join_resp_decode(&resp.body, (int16_t)v, &r);
	if (rc == 0) {
		*err = r.error_code;
		a->generation = r.generation_id;
		snprintf(a->member_id, sizeof(a->member_id), "%.*s",
			 r.member_id.len > 0 ? (int)r.member_id.len : 0,
			 r.member_id.ptr ? r.member_id.ptr : "");
		proto_join_resp_free(&r);
	}
	net_resp_free(&resp);
	return rc;
}

/* The partitions of g->topic in a consumer protocol assignment. */
static int asg_parts(const struct group *g, const struct kstr bytes, struct grem_asg *a)
{
	struct proto_consumer_asg ca;
	int rc = proto_consumer_asg_decode((const uint8_t *)bytes.ptr,
					   bytes.len > 0 ? (size_t)bytes.len : 0, &ca);

	if (rc < 0)
		return rc;
	for (int32_t i = 0; i < ca.n_assigned && rc == 0; i++) {
		const struct proto_topic_partitions *tp = &ca.assigned_partitions[i];
		int32_t *np;

		if (tp->topic.len != (int32_t)strlen(g->topic) ||
		    memcmp(tp->topic.ptr, g->topic, (size_t)tp->topic.len))
			continue;
		np = realloc(a->parts, (size_t)(a->n + tp->n_partitions + 1) * sizeof(*np));
		if (!np) {
			rc = -ENOMEM;
			break;
		}
		a->parts = np;
		for (int32_t j = 0; j < tp->n_partitions; j++)
			a->parts[a->n++] = tp->partitions[j];
	}
	proto_consumer_asg_free(&ca);
	return rc;
}

static int rem_sync(struct grem *rm, struct grem_asg *a, int16_t *err)
{
	struct group *g = rm->m->g;
	struct proto_sync_req req = { .group_id = kstr_of(g->name),
				      .generation_id = a->generation,
				      .member_id = kstr_of(a->member_id),
				      .group_instance_id = KSTR_NULL,
				      .protocol_type = kstr_of(GROUP_GUEST_PTYPE),
				      .protocol_name = kstr_of(GROUP_GUEST_PTYPE) };
	struct proto_sync_resp r;
	struct net_resp resp;
	struct kbuf_w w;
	int v = rem_version(rm, PROTO_API_SYNC_GROUP), rc;

	if (v < 0)
		return v;
	kbuf_w_init(&w, 1u << 16);
	proto_sync_req_encode(&w, (int16_t)v, &req);
	rc = rem_call(rm, PROTO_API_SYNC_GROUP, (int16_t)v, &w, &resp);
	if (rc < 0)
		return rc;
	rc = proto_sync_resp_decode(&resp.body, (int16_t)v, &r);
	if (rc == 0) {
		*err = r.error_code;
		if (!r.error_code)
			rc = asg_parts(g, r.assignment, a);
	}
	net_resp_free(&resp);
	return rc;
}

/* The committed offsets of partitions parts[0..n) of g at the connected
 * coordinator into offs, as it holds them (-1 where none). 0 with *err
 * set: Kafka's error for the group or for one of the partitions. An
 * answer that leaves out a partition asked is -EBADMSG: every offset
 * returned is the coordinator's, none a guess. */
static int rem_fetch(struct grem *rm, const int32_t *parts, int n, int64_t *offs, int16_t *err)
{
	struct group *g = rm->m->g;
	struct proto_offset_fetch_topic ft = { .name = kstr_of(g->topic),
					       .n_partition_indexes = n,
					       .partition_indexes = (int32_t *)parts };
	struct proto_offset_fetch_group fg = { .group_id = kstr_of(g->name),
					       .n_topics = 1,
					       .topics = &ft };
	struct proto_offset_fetch_req req = { .n_groups = 1, .groups = &fg };
	struct proto_offset_fetch_resp r;
	struct net_resp resp;
	struct kbuf_w w;
	bool *seen;
	int v, rc, got = 0;

	*err = PROTO_ERR_NONE;
	if (n == 0)
		return 0;
	v = rem_version(rm, PROTO_API_OFFSET_FETCH);
	if (v < 0)
		return v;
	seen = calloc((size_t)n, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	kbuf_w_init(&w, 1u << 16);
	proto_offset_fetch_req_encode(&w, (int16_t)v, &req);
	rc = rem_call(rm, PROTO_API_OFFSET_FETCH, (int16_t)v, &w, &resp);
	if (rc < 0)
		goto out;
	/* r's names point into resp. */
	rc = proto_offset_fetch_resp_decode(&resp.body, (int16_t)v, &r);
	if (rc < 0)
		goto out_resp;
	if (r.n_groups != 1)
		rc = -EBADMSG;
	else
		*err = r.groups[0].error_code;
	for (int32_t i = 0; rc == 0 && !*err && i < r.groups[0].n_topics; i++) {
		const struct proto_offset_fetch_resp_topic *t = &r.groups[0].topics[i];

		if (!kstr_eq(t->name, g->topic))
			continue;
		for (int32_t j = 0; j < t->n_partitions && !*err; j++) {
			const struct proto_offset_fetch_resp_part *rp = &t->partitions[j];

			for (int k = 0; k < n && !*err; k++) {
				if (parts[k] != rp->partition_index)
					continue;
				*err = rp->error_code;
				offs[k] = rp->committed_offset;
				got += !seen[k];
				seen[k] = true;
			}
		}
	}
	if (rc == 0 && !*err && got < n)
		rc = -EBADMSG;
	proto_offset_fetch_resp_free(&r);
out_resp:
	net_resp_free(&resp);
out:
	free(seen);
	return rc;
}

/* An answer that leaves a start to auto.offset.reset (a -1, or another
 * negative but -2) is read with the coordinator's setting, as its mount
 * reads it: a proxy's copy is only as new as its last .config read. A
 * coordinator that does not answer leaves that copy (logged). No lock
 * held. */
static void rem_settings(struct group *g, int32_t node, const int64_t *offs, int n)
{
	for (int i = 0; i < n; i++) {
		if (offs[i] < 0 && offs[i] != GROUP_OFFSET_EARLIEST) {
			(void)group_admin_fetch_config(g, node);
			return;
		}
	}
}

/* JoinGroup, SyncGroup, OffsetFetch at rm->node, into a: 0 with Kafka's
 * error in *err (NONE: a holds the partitions and their commits), or
 * -errno (the coordinator not reached, or its answer malformed). A
 * coordinator loading the group's partition or still making
 * __consumer_offsets is asked again until until (monotonic ms);
 * UNKNOWN_MEMBER_ID joins anew once. Logs nothing: the caller does.
 * Needs rm->conn_mu. */
static int rem_join_try(struct grem *rm, struct grem_asg *a, int64_t until, int16_t *err)
{
	int rc;

	*err = PROTO_ERR_NONE;
	for (int round = 0;; round++) {
		rc = rem_join(rm, a, err);
		if (rc == 0 &&
		    (*err == PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
		     *err == PROTO_ERR_COORDINATOR_NOT_AVAILABLE) &&
		    now_mono_ms() < until) {
			pause_ms(GREM_LOAD_PAUSE_MS);
			round--; /* not a rebalance overtaking the join */
			continue;
		}
		if (rc == 0 && *err == PROTO_ERR_UNKNOWN_MEMBER_ID && rm->member_id[0]) {
			rm->member_id[0] = '\0'; /* its session there ended: a new member */
			rc = rem_join(rm, a, err);
		}
		/* A member there now: a retry rejoins as it, a failure leaves. */
		if (rc == 0 && !*err)
			snprintf(rm->member_id, sizeof(rm->member_id), "%s", a->member_id);
		if (rc == 0 && !*err)
			rc = rem_sync(rm, a, err);
		/* Another member joined between the two: the next generation. */
		if (rc == 0 && round < GREM_SYNC_TRIES &&
		    (*err == PROTO_ERR_ILLEGAL_GENERATION ||
		     *err == PROTO_ERR_REBALANCE_IN_PROGRESS)) {
			a->n = 0;
			continue;
		}
		break;
	}
	if (rc == 0 && !*err) {
		a->committed = calloc((size_t)a->n + 1, sizeof(*a->committed));
		rc = a->committed ? rem_fetch(rm, a->parts, a->n, a->committed, err) : -ENOMEM;
	}
	return rc;
}

/* One log line for a join that failed at node (its answer err, or the
 * call's rc) and the errno it gives. */
static int rem_join_failed(struct group *g, int32_t node, int rc, int16_t err)
{
	if (rc == 0) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: joining at broker %d (the coordinator): %s",
			       g->name, g->topic, (int)node, proto_err_name(err));
		return rem_errno(err);
	}
	mq_log_limited(MQ_WARN, "group %s of topic %s: joining at broker %d (the coordinator): %s",
		       g->name, g->topic, (int)node, strerror(-rc));
	return rc;
}

/* A rejoin (a heartbeat's answer called for it): rem_join_try, then the
 * coordinator's settings when a start is left to auto.offset.reset.
 * Kafka's error is logged and returned as errno. */
static int rem_join_sync(struct grem *rm, struct grem_asg *a)
{
	struct group *g = rm->m->g;
	int64_t until = now_mono_ms() + broker_cfg(g->gc->b)->request_timeout_ms;
	int16_t err;
	int32_t node;
	int rc;

	pthread_mutex_lock(&rm->conn_mu);
	rc = rem_join_try(rm, a, until, &err);
	node = rm->node;
	pthread_mutex_unlock(&rm->conn_mu);
	if (rc < 0 || err)
		return rem_join_failed(g, node, rc, err);
	rem_settings(g, node, a->committed, a->n);
	return 0;
}

bool group_remote_moving(int rc, int16_t err)
{
	if (rc == 0)
		return err == PROTO_ERR_NOT_COORDINATOR ||
		       err == PROTO_ERR_COORDINATOR_NOT_AVAILABLE ||
		       err == PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS;
	switch (-rc) {
	case ECONNREFUSED: /* killed: nothing listens */
	case ETIMEDOUT:    /* frozen or cut off: no answer */
	case ECONNRESET:   /* died during the call */
	case ECONNABORTED:
	case EPIPE:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENOTCONN: /* no ZooKeeper session to find its endpoint */
	case ENOENT: /* no longer registered: its session expired */ return true;
	default: return false;
	}
}

/* rm joins at node from now on (the coordinator moved): a new member
 * there. Needs rm->conn_mu. */
static void rem_retarget(struct grem *rm, int32_t node)
{
	struct group *g = rm->m->g;

	if (rm->node >= 0)
		mq_log(MQ_INFO, "group %s of topic %s: broker %d coordinates it now (was %d)",
		       g->name, g->topic, (int)node, (int)rm->node);
	else
		mq_log(MQ_INFO, "group %s of topic %s: broker %d coordinates it now", g->name,
		       g->topic, (int)node);
	net_client_close(rm->c);
	rm->c = NULL;
	rm->node = node;
	rm->member_id[0] = '\0';
}

static int32_t rem_lookup(struct group *g);

/* The join of an open: rem_join_try at the coordinator, and while it is
 * moving (group_remote_moving: killed, frozen, cut off, or answering that
 * it does not coordinate the group, or not yet) or no broker coordinates
 * the group (GROUP_COORD_NONE: an election, or this broker loading),
 * asking again every GREM_LOAD_PAUSE_MS who coordinates and joining
 * there, for request.timeout.ms, as Kafka's consumers find the
 * coordinator again after these answers and failed connections. 0
 * joined (a), GREM_LOCAL this broker coordinates the group now (the
 * caller joins it here), -errno (one log line naming the coordinator and
 * its answer): -EAGAIN when none answered in time. The member is not in
 * the group yet, so conn_mu, held across each try, has no other user. */
static int rem_open(struct grem *rm, struct grem_asg *a, pid_t pid)
{
	struct group *g = rm->m->g;
	int64_t wait_ms = broker_cfg(g->gc->b)->request_timeout_ms;
	int64_t until = now_mono_ms() + wait_ms;
	int16_t err = PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
	int32_t node = rm->node;
	int rc = 0;

	for (;;) {
		if (node >= 0) {
			pthread_mutex_lock(&rm->conn_mu);
			rm->until = until;
			rc = rem_join_try(rm, a, until, &err);
			rm->until = 0; /* the heartbeats' calls: GREM_TIMEOUT_MS */
			pthread_mutex_unlock(&rm->conn_mu);
			if (!group_remote_moving(rc, err))
				break;
		}
		if (now_mono_ms() >= until)
			break;
		asg_free(a);
		pause_ms(GREM_LOAD_PAUSE_MS);
		node = rem_lookup(g);
		if (node == -1) {
			mq_log(MQ_INFO,
			       "group %s of topic %s: consume by pid %d: this broker coordinates "
			       "the group now: it joins here",
			       g->name, g->topic, (int)pid);
			return GREM_LOCAL;
		}
		if (node >= 0 && node != rm->node) {
			pthread_mutex_lock(&rm->conn_mu);
			rem_retarget(rm, node);
			pthread_mutex_unlock(&rm->conn_mu);
		}
	}
	if (node < 0) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: consume by pid %d refused: no broker "
			       "coordinates the group (its %s partition has no leader, or is being "
			       "loaded) within %" PRId64 " ms: retry",
			       g->name, g->topic, (int)pid, GROUP_OFFSETS_TOPIC, wait_ms);
		return -EAGAIN;
	}
	if (group_remote_moving(rc, err)) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: consume by pid %d refused: broker %d (the "
			       "coordinator) %s%s for %" PRId64 " ms: retry",
			       g->name, g->topic, (int)pid, (int)node,
			       rc < 0 ? "not reached: " : "answers ",
			       rc < 0 ? strerror(-rc) : proto_err_name(err), wait_ms);
		return -EAGAIN;
	}
	if (rc < 0 || err)
		return rem_join_failed(g, node, rc, err);
	rem_settings(g, node, a->committed, a->n);
	return 0;
}

/* ---- the member here (group.mu) ---- */

/* Takes what a join learnt: partitions a gives to m, the others it had
 * go. Needs g->mu. */
static void rem_apply(struct grem *rm, const struct grem_asg *a)
{
	struct group_member *m = rm->m;
	struct group *g = m->g;

	snprintf(rm->member_id, sizeof(rm->member_id), "%s", a->member_id);
	snprintf(m->id, sizeof(m->id), "%s", a->member_id);
	rm->generation = a->generation;
	g->generation = a->generation;
	for (int p = 0; p < g->nparts; p++) {
		int k = -1;

		for (int i = 0; i < a->n; i++)
			if (a->parts[i] == p)
				k = i;
		if (k >= 0 && g->parts[p].owner != m) {
			/* Where the new owner starts: the coordinator's commit
			 * as it answered it, read as on its own mount
			 * (group_start_offset: -1 none, -2 the log start). */
			g->parts[p].committed = a->committed[k];
			group_part_assign(g, p, m);
		} else if (k < 0 && g->parts[p].owner == m) {
			group_part_assign(g, p, NULL);
		}
	}
	for (int i = 0; i < a->n; i++)
		if (a->parts[i] < 0 || a->parts[i] >= g->nparts)
			mq_log_limited(
				MQ_WARN,
				"group %s of topic %s: broker %d assigns partition %d, which "
				"this broker does not know yet",
				g->name, g->topic, (int)rm->node, (int)a->parts[i]);
	mq_log(MQ_INFO,
	       "group %s of topic %s: %s has %d partitions of generation %d (broker %d "
	       "coordinates)",
	       g->name, g->topic, m->id, a->n, (int)a->generation, (int)rm->node);
	/* Its reader may be parked: new partitions may have records. */
	group_notify_queue(g->gc, g->topic, -1);
}

/* The coordinator of g as this broker sees it now: -1 this one,
 * GROUP_COORD_NONE none now. */
static int32_t rem_lookup(struct group *g)
{
	struct group_coord *gc = g->gc;
	int32_t node;

	pthread_mutex_lock(&gc->mu);
	node = gc->kafka_coordinator ? gc->kafka_coordinator(gc->kafka_arg, g->name) : -1;
	pthread_mutex_unlock(&gc->mu);
	return node;
}

/* This broker coordinates g now: m becomes a local member, and the local
 * assignor takes over (when no other member waits for a coordinator). */
static void rem_go_local(struct grem *rm)
{
	struct group *g = rm->m->g;

	pthread_mutex_lock(&g->mu);
	if (!rm->local) {
		rm->local = true;
		if (g->nremote > 0)
			g->nremote--;
		mq_log(MQ_INFO,
		       "group %s of topic %s: this broker coordinates it now: %s is a local member",
		       g->name, g->topic, rm->m->id);
		if (g->nremote == 0 && group_live(g) == 0)
			group_rebalance(g);
	}
	pthread_mutex_unlock(&g->mu);
}

static int16_t rem_heartbeat(struct grem *rm)
{
	struct group *g = rm->m->g;
	struct proto_heartbeat_req req = { .group_id = kstr_of(g->name),
					   .generation_id = rm->generation,
					   .member_id = kstr_of(rm->member_id),
					   .group_instance_id = KSTR_NULL };
	struct proto_heartbeat_resp r = { .error_code = PROTO_ERR_COORDINATOR_NOT_AVAILABLE };
	struct net_resp resp;
	struct kbuf_w w;
	int v, rc;

	pthread_mutex_lock(&rm->conn_mu);
	v = rem_version(rm, PROTO_API_HEARTBEAT);
	if (v >= 0) {
		kbuf_w_init(&w, 4096);
		proto_heartbeat_req_encode(&w, (int16_t)v, &req);
		rc = rem_call(rm, PROTO_API_HEARTBEAT, (int16_t)v, &w, &resp);
		if (rc == 0) {
			if (proto_heartbeat_resp_decode(&resp.body, (int16_t)v, &r) < 0)
				r.error_code = PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
			net_resp_free(&resp);
		}
	}
	pthread_mutex_unlock(&rm->conn_mu);
	return r.error_code;
}

/* The commits of m's partitions that the coordinator did not take
 * (gpart.pend_*), sent again while m still owns them in the same epoch, as
 * Kafka's consumer commits its position again at the next auto-commit: a
 * reader that had read all there was when the coordinator moved would
 * otherwise leave the group's offset behind what it read until new
 * records came, and a later owner would read them again. */
static void rem_recommit(struct grem *rm)
{
	struct group_member *m = rm->m;
	struct group *g = m->g;
	int *parts, n = 0;
	int64_t *offs, *bounds;
	int32_t *epochs;

	pthread_mutex_lock(&g->mu);
	parts = malloc(((size_t)g->nparts + 1) * sizeof(*parts));
	offs = malloc(((size_t)g->nparts + 1) * sizeof(*offs));
	bounds = malloc(((size_t)g->nparts + 1) * sizeof(*bounds));
	epochs = malloc(((size_t)g->nparts + 1) * sizeof(*epochs));
	for (int p = 0; parts && offs && bounds && epochs && !rm->local && p < g->nparts; p++) {
		struct gpart *gp = &g->parts[p];

		if (gp->owner != m || gp->pend_bound <= gp->commit_pos ||
		    gp->pend_epoch != gp->epoch)
			continue;
		parts[n] = p;
		offs[n] = gp->pend_off;
		bounds[n] = gp->pend_bound;
		epochs[n++] = gp->pend_leader_epoch;
	}
	if (n > 0)
		(void)group_remote_commit(m, parts, offs, epochs, n);
	for (int i = 0; i < n; i++)
		if (g->parts[parts[i]].committed == offs[i] &&
		    g->parts[parts[i]].commit_pos < bounds[i])
			g->parts[parts[i]].commit_pos = bounds[i];
	pthread_mutex_unlock(&g->mu);
	free(parts);
	free(offs);
	free(bounds);
	free(epochs);
}

/* One heartbeat and what it calls for. */
static void rem_tick(struct grem *rm)
{
	struct group *g = rm->m->g;
	struct grem_asg a = { 0 };
	int16_t err = rem_heartbeat(rm);
	int rc;

	if (err == PROTO_ERR_NONE) {
		rem_recommit(rm);
		return;
	}
	if (err == PROTO_ERR_COORDINATOR_NOT_AVAILABLE || err == PROTO_ERR_NOT_COORDINATOR) {
		int32_t node = rem_lookup(g);

		/* None now (no leader of the group's __consumer_offsets
		 * partition, or this broker still loading it): keep the
		 * partitions and ask again at the next heartbeat, so a member
		 * turned local starts from the loaded commits. */
		if (node == GROUP_COORD_NONE)
			return;
		if (node < 0) {
			rem_go_local(rm);
			return;
		}
		if (node != rm->node) {
			pthread_mutex_lock(&rm->conn_mu);
			rem_retarget(rm, node);
			pthread_mutex_unlock(&rm->conn_mu);
		}
	}
	/* REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, a
	 * new coordinator: (re)join and take the new partitions. */
	rc = rem_join_sync(rm, &a);
	if (rc == 0) {
		pthread_mutex_lock(&g->mu);
		if (!rm->local && group_live(g) == 0)
			rem_apply(rm, &a);
		pthread_mutex_unlock(&g->mu);
	}
	asg_free(&a);
	if (rc == 0)
		rem_recommit(rm);
}

static void *rem_main(void *arg)
{
	struct grem *rm = arg;
	/* A member handed over by group_remote_adopt joins at once. */
	bool now = !rm->member_id[0];

	pthread_mutex_lock(&rm->mu);
	while (!rm->stop && !rm->local) {
		struct timespec ts;

		deadline_from_ms(CLOCK_MONOTONIC, now ? 0 : GREM_HEARTBEAT_MS, &ts);
		now = false;
		pthread_cond_timedwait(&rm->cv, &rm->mu, &ts);
		if (rm->stop)
			break;
		pthread_mutex_unlock(&rm->mu);
		rem_tick(rm);
		pthread_mutex_lock(&rm->mu);
	}
	pthread_mutex_unlock(&rm->mu);
	return NULL;
}

static void rem_free(struct grem *rm)
{
	if (!rm)
		return;
	net_client_close(rm->c);
	if (rm->wake[0] >= 0)
		close(rm->wake[0]);
	if (rm->wake[1] >= 0)
		close(rm->wake[1]);
	pthread_mutex_destroy(&rm->conn_mu);
	pthread_mutex_destroy(&rm->mu);
	pthread_cond_destroy(&rm->cv);
	free(rm);
}

static struct grem *rem_new(struct group_member *m, int32_t node)
{
	struct grem *rm = calloc(1, sizeof(*rm));
	pthread_condattr_t ca;

	if (!rm)
		return NULL;
	rm->m = m;
	rm->node = node;
	rm->wake[0] = rm->wake[1] = -1;
	pthread_mutex_init(&rm->conn_mu, NULL);
	pthread_mutex_init(&rm->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rm->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pipe2(rm->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rem_free(rm);
		return NULL;
	}
	return rm;
}

/* LeaveGroup of rm's member at the coordinator (best effort: its session
 * ends there anyway). */
static void rem_leave(struct grem *rm)
{
	struct group *g = rm->m->g;
	struct proto_leave_member lm = { .member_id = kstr_of(rm->member_id),
					 .group_instance_id = KSTR_NULL,
					 .reason = KSTR_NULL };
	struct proto_leave_req req = { .group_id = kstr_of(g->name),
				       .n_members = 1,
				       .members = &lm };
	struct net_resp resp;
	struct kbuf_w w;
	int v, rc;

	pthread_mutex_lock(&rm->conn_mu);
	if (!rm->member_id[0])
		goto out;
	v = rem_version(rm, PROTO_API_LEAVE_GROUP);
	rc = v;
	if (v >= 0) {
		kbuf_w_init(&w, 4096);
		proto_leave_req_encode(&w, (int16_t)v, &req);
		rc = rem_call(rm, PROTO_API_LEAVE_GROUP, (int16_t)v, &w, &resp);
		if (rc == 0)
			net_resp_free(&resp);
	}
	if (rc < 0)
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: %s: LeaveGroup at broker %d: %s; it leaves "
			       "there after session.timeout.ms",
			       g->name, g->topic, rm->member_id, (int)rm->node, strerror(-rc));
out:
	pthread_mutex_unlock(&rm->conn_mu);
}

int group_remote_join(struct group *g, int32_t node, pid_t pid, void (*wake)(void *arg), void *arg,
		      struct group_member **out)
{
	struct group_member *m = calloc(1, sizeof(*m));
	struct grem_asg a = { 0 };
	int rc;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->g = g;
	m->pid = pid;
	m->wake = wake;
	m->wake_arg = arg;
	m->rm = rem_new(m, node);
	if (!m->rm) {
		free(m);
		return -ENOMEM;
	}
	rc = rem_open(m->rm, &a, pid);
	if (rc != 0)
		goto fail; /* GREM_LOCAL too: nothing joined elsewhere is kept */
	rc = group_lock_live(g);
	if (rc < 0)
		goto fail;
	m->active = true;
	rc = group_member_add(g, m); /* no local rebalance: m->rm */
	if (rc < 0) {
		pthread_mutex_unlock(&g->mu);
		goto fail;
	}
	rem_apply(m->rm, &a);
	rc = pthread_create(&m->rm->th, NULL, rem_main, m->rm);
	if (rc) {
		group_member_remove(m);
		pthread_mutex_unlock(&g->mu);
		group_put(g);
		rc = -rc;
		goto fail;
	}
	pthread_setname_np(m->rm->th, "mqfs-gremote");
	m->rm->running = true;
	mq_log(MQ_INFO, "group %s of topic %s: %s (pid %d) joined at broker %d, generation %d",
	       g->name, g->topic, m->id, (int)pid, (int)m->rm->node, (int)g->generation);
	pthread_mutex_unlock(&g->mu);
	asg_free(&a);
	*out = m;
	return 0;
fail:
	rem_leave(m->rm);
	asg_free(&a);
	rem_free(m->rm);
	free(m->pieces);
	free(m);
	return rc;
}

void group_remote_stop(struct group_member *m)
{
	struct grem *rm = m->rm;
	char b = 1;

	pthread_mutex_lock(&rm->mu);
	rm->stop = true;
	pthread_cond_signal(&rm->cv);
	pthread_mutex_unlock(&rm->mu);
	/* A heartbeat or join in flight ends now, not at its timeout. */
	if (write(rm->wake[1], &b, 1) < 0) {
		/* full: a wake is pending already */
	}
	if (rm->running) {
		pthread_join(rm->th, NULL);
		rm->running = false;
	}
	/* The call cut short left the connection closed; LeaveGroup opens
	 * one of its own. */
	while (read(rm->wake[0], &b, 1) == 1)
		;
	if (!rm->local)
		rem_leave(rm);
}

bool group_remote_active(const struct group_member *m)
{
	return m->rm && !m->rm->local;
}

void group_remote_free(struct group_member *m)
{
	if (m->rm) {
		rem_free(m->rm);
		m->rm = NULL;
	}
}

int group_remote_commit(struct group_member *m, const int *parts, const int64_t *offs,
			const int32_t *epochs, int n)
{
	struct grem *rm = m->rm;
	struct group *g = m->g;
	struct proto_offset_commit_part *cp = calloc((size_t)n + 1, sizeof(*cp));
	struct proto_offset_commit_topic ct = { .name = kstr_of(g->topic),
						.n_partitions = n,
						.partitions = cp };
	struct proto_offset_commit_req req = { .group_id = kstr_of(g->name),
					       .generation_id = rm->generation,
					       .member_id = kstr_of(rm->member_id),
					       .group_instance_id = KSTR_NULL,
					       .retention_time_ms = -1,
					       .n_topics = 1,
					       .topics = &ct };
	struct proto_offset_commit_resp r;
	struct net_resp resp;
	struct kbuf_w w;
	int v, rc, taken = 0;

	if (!cp)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		cp[i] = (struct proto_offset_commit_part){ .partition_index = parts[i],
							   .committed_offset = offs[i],
							   .committed_leader_epoch = epochs[i],
							   .commit_timestamp = -1,
							   .committed_metadata = KSTR_NULL };
	pthread_mutex_lock(&rm->conn_mu);
	v = rem_version(rm, PROTO_API_OFFSET_COMMIT);
	rc = v < 0 ? v : 0;
	if (rc == 0) {
		kbuf_w_init(&w, 1u << 16);
		proto_offset_commit_req_encode(&w, (int16_t)v, &req);
		rc = rem_call(rm, PROTO_API_OFFSET_COMMIT, (int16_t)v, &w, &resp);
	}
	if (rc == 0) {
		rc = proto_offset_commit_resp_decode(&resp.body, (int16_t)v, &r);
		for (int32_t i = 0; rc == 0 && i < r.n_topics; i++) {
			for (int32_t j = 0; j < r.topics[i].n_partitions; j++) {
				const struct proto_offset_commit_resp_part *rp =
					&r.topics[i].partitions[j];

				for (int k = 0; k < n; k++) {
					if (parts[k] != rp->partition_index)
						continue;
					if (rp->error_code) {
						mq_log_limited(
							MQ_INFO,
							"group %s of topic %s: partition %d: "
							"commit of %" PRId64
							" refused by broker %d: %s",
							g->name, g->topic, parts[k], offs[k],
							(int)rm->node,
							proto_err_name(rp->error_code));
						continue;
					}
					g->parts[parts[k]].committed = offs[k];
					g->parts[parts[k]].commit_ts = now_real_ms();
					taken++;
				}
			}
		}
		if (rc == 0)
			proto_offset_commit_resp_free(&r);
		net_resp_free(&resp);
	}
	pthread_mutex_unlock(&rm->conn_mu);
	free(cp);
	if (rc < 0) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: commit at broker %d: %s; not committed",
			       g->name, g->topic, (int)rm->node, strerror(-rc));
		return rc;
	}
	return taken == n ? 0 : -EPROTO;
}

int group_remote_offsets(struct group *g, int32_t node, const int32_t *parts, int n, int64_t *offs)
{
	struct group_member m = { .g = g };
	struct grem *rm = rem_new(&m, node);
	int16_t err;
	int rc;

	if (!rm)
		return -ENOMEM;
	pthread_mutex_lock(&rm->conn_mu);
	rc = rem_fetch(rm, parts, n, offs, &err);
	pthread_mutex_unlock(&rm->conn_mu);
	rem_free(rm);
	if (rc == 0 && err) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: the committed offsets at broker %d (the "
			       "coordinator): %s",
			       g->name, g->topic, (int)node, proto_err_name(err));
		return rem_errno(err);
	}
	if (rc < 0) {
		mq_log_limited(MQ_WARN,
			       "group %s of topic %s: the committed offsets at broker %d (the "
			       "coordinator): %s",
			       g->name, g->topic, (int)node, strerror(-rc));
		return rc;
	}
	rem_settings(g, node, offs, n);
	return 0;
}

void group_remote_learn(struct group *g, const int32_t *parts, const int64_t *offs, int n)
{
	for (int i = 0; i < n; i++)
		if (parts[i] >= 0 && parts[i] < g->nparts && !g->parts[parts[i]].owner)
			g->parts[parts[i]].committed = offs[i];
}

/* Local member m of g goes to node, which coordinates g now: its thread
 * joins there at once; meanwhile it keeps what it has. Needs g->mu. */
static void rem_adopt(struct group_member *m, int32_t node)
{
	struct group *g = m->g;
	struct grem *rm = m->rm;
	int rc;

	if (rm) {
		/* Remote once, local since (rem_go_local): its thread has
		 * passed its last use of group.mu and is ending. */
		if (rm->running)
			pthread_join(rm->th, NULL);
		rm->running = false;
		rm->local = false;
		rm->node = node;
		rm->member_id[0] = '\0';
		net_client_close(rm->c);
		rm->c = NULL;
	} else {
		m->rm = rem_new(m, node);
	}
	if (!m->rm) {
		mq_log_limited(MQ_ERR, "group %s of topic %s: %s cannot move to broker %d: %s",
			       g->name, g->topic, m->id, (int)node, strerror(ENOMEM));
		return;
	}
	g->nremote++;
	rc = pthread_create(&m->rm->th, NULL, rem_main, m->rm);
	if (rc) {
		mq_log_limited(MQ_ERR, "group %s of topic %s: %s cannot move to broker %d: %s",
			       g->name, g->topic, m->id, (int)node, strerror(rc));
		g->nremote--;
		m->rm->local = true; /* stays a local member */
		return;
	}
	pthread_setname_np(m->rm->th, "mqfs-gremote");
	m->rm->running = true;
	mq_log(MQ_INFO, "group %s of topic %s: broker %d coordinates it now: %s joins there",
	       g->name, g->topic, (int)node, m->id);
}

bool group_remote_adopt(struct group_coord *gc)
{
	bool watch = false;

	pthread_mutex_lock(&gc->mu);
	for (int i = 0; gc->connect && gc->kafka_coordinator && i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];
		int32_t node;
		bool any = false;

		pthread_mutex_lock(&g->mu);
		for (struct group_member *m = g->members; m && !any; m = m->next)
			any = !m->guest && !group_remote_active(m);
		pthread_mutex_unlock(&g->mu);
		if (!any)
			continue;
		watch = true;
		node = gc->kafka_coordinator(gc->kafka_arg, g->name);
		if (node < 0)
			continue;
		pthread_mutex_lock(&g->mu);
		for (struct group_member *m = g->members; m; m = m->next)
			if (!m->guest && !group_remote_active(m) && m->active)
				rem_adopt(m, node);
		pthread_mutex_unlock(&g->mu);
	}
	pthread_mutex_unlock(&gc->mu);
	return watch;
}
