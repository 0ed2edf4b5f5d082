/*
 * group_serve.c — Kafka's consumer group APIs on the broker listener:
 * FindCoordinator (10), JoinGroup (11), SyncGroup (14), Heartbeat (12) and
 * LeaveGroup (13), in the shape of Kafka's GroupCoordinator (the classic
 * protocol: the leader member assigns); OffsetCommit (8) and OffsetFetch
 * (9) are group_serve_offsets.c, the state both share group_serve_int.h.
 *
 * Two kinds of members, one name space, one truth for offsets:
 *
 *   - A Kafka group G (any topics, as its members subscribe) keeps its
 *     members here: ids, protocols, generation, leader, assignments.
 *   - Its committed offsets are those of the mount's groups named G of
 *     each topic (MNT/<topic>/.groups/G/): group_serve_offsets.c.
 *   - The members of a group are a Kafka group here, or the members of
 *     the mount's groups G (consume files of any broker's mount, and the
 *     Kafka consumers that joined them: group_guest.c), never both: while
 *     a mount group G has members, a "consumer" JoinGroup with no member
 *     id joins it (any other protocol type is INCONSISTENT_GROUP_PROTOCOL,
 *     and an OffsetCommit outside a generation UNKNOWN_MEMBER_ID, as Kafka
 *     answers for a group with members); a consume file opening while G
 *     has Kafka members here ends that Kafka group (kafka_dissolve: they
 *     are told UNKNOWN_MEMBER_ID and join again, into the mount's). Both
 *     run under coord.mu, so neither can slip past the other.
 *
 * Group states (Kafka's names) and the functions that move them:
 *
 *      Empty --join--> PreparingRebalance --all joined or rebalance
 *        ^                ^        |       timeout (join_complete)-->
 *        |                |        v
 *        |   join, leave, expiry   CompletingRebalance --leader's sync-->
 *        |   (prepare)             (AwaitingSync)      (sync_complete)
 *        |                                                   |
 *        +--last member gone--  Stable  <--------------------+
 *
 *   join_complete: dynamic members that did not rejoin are dropped (a
 *     static one stays, with its protocols, as in Kafka); generation
 *     + 1; the protocol is the one every member offers with the most
 *     first-choice votes; the leader (kept if still a member that rejoined,
 *     else the first that did) gets every member's metadata, the others none.
 *   sync_complete: the leader's assignments are kept per member and every
 *     parked SyncGroup is answered with its own (empty if none).
 *   A member's session expires session_timeout_ms after it was last heard
 *     (where Kafka completes its heartbeat: a Heartbeat of its generation,
 *     an accepted OffsetCommit, its SyncGroup answered, the JoinGroup
 *     round completing; not a request refused for its generation, nor a
 *     JoinGroup answered at once), except while its JoinGroup or
 *     SyncGroup is parked; the timer thread drops it and the group
 *     rebalances. A member in no generation yet is dropped
 *     KG_NEW_MEMBER_MS after it joined unless a JoinGroup round it was
 *     in completed, parked or not (Kafka's NewMemberJoinTimeoutMs). A
 *     rebalance not complete within the largest
 *     rebalance_timeout_ms drops the dynamic members that did not rejoin
 *     (PreparingRebalance); that long after JoinGroup completed, the
 *     members that sent no SyncGroup of the generation are dropped
 *     (Kafka's pending sync members), in CompletingRebalance or Stable.
 *   A dynamic member's JoinGroup v4+ without a member id only hands one
 *     out (MEMBER_ID_REQUIRED, a pending member until its next JoinGroup
 *     brings it back or its session timeout passes). The first
 *     rebalance from Empty waits group.initial.rebalance.delay.ms.
 *   An Empty group stays, as in Kafka's GroupMetadataManager: listed,
 *     described Empty, and deleted by DeleteGroups (Dead, its tombstone
 *     written: kg_delete); every offsets.retention.check.interval.ms the
 *     cleanup (kg_cleanup) first expires the committed offsets of groups
 *     without members (offsets.retention.minutes after the later of
 *     their commit and the group's last member leaving:
 *     kg_remove_expired_offsets), and of a Stable "consumer" group those
 *     of the topics its members no longer subscribe to (after their
 *     commit: KIP-496), then removes the Empty groups without
 *     committed offsets, with their tombstones, so no coordinator loads
 *     them again.
 *
 * Errors (Kafka's): NOT_COORDINATOR for a group another broker
 * coordinates; INVALID_GROUP_ID for a name the mount cannot hold ([A-Za-z0-9._-],
 * 1-249, not starting with . or __), but for the empty id "" where Kafka
 * takes it (kg_empty_id_ok: OffsetCommit, OffsetFetch, FindCoordinator;
 * JoinGroup, SyncGroup, Heartbeat, LeaveGroup refuse it); INVALID_SESSION_TIMEOUT outside
 * group.min/max.session.timeout.ms; UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
 * REBALANCE_IN_PROGRESS, INCONSISTENT_GROUP_PROTOCOL, GROUP_MAX_SIZE_REACHED
 * (a group over group.max.size members, at most KG_MAX_MEMBERS, as
 * Kafka's acceptJoiningMember counts them; KG_GROUP_BYTES of their protocol
 * metadata or of its leader's assignments; all groups over KG_MAX_ALL
 * members or KG_ALL_BYTES of both: what the coordinator holds is bounded
 * whatever clients send). Each refusal is one log line.
 *
 * The coordinator of G: on one node this broker; in a cluster the leader
 * of G's partition of the replicated __consumer_offsets
 * (offsets_coordinator, offsets_topic.c), which the first FindCoordinator
 * makes: every broker answers FindCoordinator alike, the others answer
 * NOT_COORDINATOR, and the leader answers COORDINATOR_LOAD_IN_PROGRESS
 * until it has loaded the partition's groups (but, as Kafka, a Heartbeat
 * NONE and a SyncGroup REBALANCE_IN_PROGRESS). When another broker takes
 * the partition over, the kafka_drop hook removes its groups' members here
 * (parked requests answered NOT_COORDINATOR). The mount's members of G
 * follow the same broker (the kafka_coordinator hook names it): on the
 * others they are members of a proxy group there and join the coordinator
 * with the protocol type "mqfs" (group_remote.c), which the handlers here
 * hand to group_guest.c by their member ids; their mkdir, resets, .config
 * and rmdir of G come here as Kafka's admin requests (group_admin.c, and
 * group_admin_serve.c on this side).
 *
 * Threads and locks: listener workers run the handlers; the timer thread
 * expires sessions, writes the queued metadata records (in each group's
 * order: kg_write) and runs the cleanup (coord.mu, then gs->mu). gs->mu
 * guards every Kafka group; it nests inside coord.mu (JoinGroup's check
 * of mount members, the kafka_active hook) and takes no group or topic
 * lock (OffsetCommit checks the member under gs->mu and releases it
 * before it commits). Parked requests are answered (net_req_complete)
 * under gs->mu, never touched after.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "repl/broker_int.h"
#include "repl/config.h"
#include "repl/group_int.h"
#include "repl/group_serve_int.h"
#include "repl/kafka_authz.h"
#include "util/clock.h"
#include "util/diaglog.h"

static const char *const kg_state_names[] = { "Empty", "PreparingRebalance", "CompletingRebalance",
					      "Stable" };

const char *kg_state_name(enum kg_state s)
{
	return kg_state_names[s];
}

/* ---- members and groups (gs->mu) ---- */

struct kgroup *kg_find(struct group_serve *gs, const char *name)
{
	for (struct kgroup *g = gs->groups; g; g = g->next)
		if (!strcmp(g->name, name))
			return g;
	return NULL;
}

void kg_group_free(struct kgroup *g)
{
	while (g->pending) {
		struct kpending *p = g->pending;

		g->pending = p->next;
		g->gs->npending--;
		free(p);
	}
	free(g);
}

/* g's pending member of that id, or NULL (g may be NULL). Needs gs->mu. */
static struct kpending *kg_pending(struct kgroup *g, struct kstr id)
{
	if (!g || id.len <= 0)
		return NULL;
	for (struct kpending *p = g->pending; p; p = p->next)
		if ((size_t)id.len == strlen(p->id) && !memcmp(p->id, id.ptr, (size_t)id.len))
			return p;
	return NULL;
}

/* Unlinks and frees p, one of g's pending members. Needs gs->mu. */
static void kg_pending_drop(struct kgroup *g, struct kpending *p)
{
	for (struct kpending **pp = &g->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	g->gs->npending--;
	free(p);
}

struct kmember *kg_member(struct kgroup *g, struct kstr id)
{
	if (!g || id.len <= 0)
		return NULL;
	for (struct kmember *m = g->members; m; m = m->next)
		if ((size_t)id.len == strlen(m->id) && !memcmp(m->id, id.ptr, (size_t)id.len))
			return m;
	return NULL;
}

static void protos_free(struct kmember *m)
{
	for (int i = 0; i < m->nprotos; i++)
		free(m->protos[i].meta);
	free(m->protos);
	m->protos = NULL;
	m->nprotos = 0;
}

static int64_t protos_bytes(const struct kmember *m)
{
	int64_t n = 0;

	for (int i = 0; i < m->nprotos; i++)
		n += m->protos[i].len;
	return n;
}

static int64_t req_protos_bytes(const struct proto_join_req *req)
{
	int64_t n = 0;

	for (int32_t i = 0; i < req->n_protocols; i++)
		n += req->protocols[i].metadata.len > 0 ? req->protocols[i].metadata.len : 0;
	return n;
}

bool kg_kstr_is(struct kstr s, const char *c)
{
	return s.len >= 0 && (size_t)s.len == strlen(c) && !memcmp(s.ptr, c, (size_t)s.len);
}

static const struct kproto *member_proto(const struct kmember *m, const char *name)
{
	for (int i = 0; i < m->nprotos; i++)
		if (!strcmp(m->protos[i].name, name))
			return &m->protos[i];
	return NULL;
}

/* Whether the version 0 ConsumerProtocolSubscription in [meta, meta +
 * len) names topic: 1, 0, or -1 when it does not parse. Kafka reads
 * every member's metadata so (computeSubscribedTopics: every later
 * version starts with version 0's fields, so the header's version is
 * skipped, not checked, and what follows user_data is ignored). */
static int sub_v0_names(const uint8_t *meta, int32_t len, struct kstr topic)
{
	struct kbuf_r r;
	int32_t n, ud;
	int has = 0;

	kbuf_r_init(&r, meta, len > 0 ? (size_t)len : 0);
	kbuf_read_i16(&r);
	n = kbuf_read_i32(&r);
	if (n < 0)
		return -1;
	for (int32_t i = 0; i < n && !kbuf_r_err(&r); i++) {
		int16_t l = kbuf_read_i16(&r);

		if (l < 0 || (size_t)l > kbuf_r_left(&r))
			return -1;
		if (l == topic.len && !memcmp(r.p, topic.ptr, (size_t)l))
			has = 1;
		kbuf_r_skip(&r, (size_t)l);
	}
	ud = kbuf_read_i32(&r); /* user_data: nullable, any negative is null */
	if (ud > 0)
		kbuf_r_skip(&r, (size_t)ud);
	return kbuf_r_err(&r) ? -1 : has;
}

bool kg_subscribes(const struct kgroup *g, struct kstr topic)
{
	if (strcmp(g->ptype, "consumer"))
		return true;
	if (g->nmembers == 0)
		return false;
	if (!g->proto[0])
		return true;
	for (const struct kmember *m = g->members; m; m = m->next) {
		const struct kproto *kp = member_proto(m, g->proto);

		if (!kp || sub_v0_names(kp->meta, kp->len, topic) != 0)
			return true; /* named, or not known: as if named */
	}
	return false;
}

/* True when every member offers a protocol of req. */
static bool protos_compatible(const struct kgroup *g, const struct proto_join_req *req)
{
	for (int32_t i = 0; i < req->n_protocols; i++) {
		char name[KG_NAME_MAX + 1];
		bool all = true;

		if (req->protocols[i].name.len < 0 || req->protocols[i].name.len > KG_NAME_MAX)
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)req->protocols[i].name.len,
			 req->protocols[i].name.ptr);
		for (const struct kmember *m = g->members; m && all; m = m->next)
			if (!member_proto(m, name))
				all = false;
		if (all)
			return true;
	}
	return false;
}

/* Kafka's MemberMetadata.matches: req offers the member's protocols, in
 * its order, with the same metadata. */
static bool member_protos_match(const struct kmember *m, const struct proto_join_req *req)
{
	if (req->n_protocols != m->nprotos)
		return false;
	for (int i = 0; i < m->nprotos; i++) {
		const struct proto_join_protocol *p = &req->protocols[i];
		int32_t len = p->metadata.len > 0 ? p->metadata.len : 0;

		if (!kg_kstr_is(p->name, m->protos[i].name) || len != m->protos[i].len ||
		    (len && memcmp(p->metadata.ptr, m->protos[i].meta, (size_t)len)))
			return false;
	}
	return true;
}

/* The member's protocols from its JoinGroup, copied (the frame goes with
 * the request). */
static int member_set_protos(struct kmember *m, const struct proto_join_req *req)
{
	struct kproto *v = calloc((size_t)req->n_protocols + 1, sizeof(*v));
	int n = 0;

	if (!v)
		return -ENOMEM;
	for (int32_t i = 0; i < req->n_protocols; i++) {
		const struct proto_join_protocol *p = &req->protocols[i];
		int32_t len = p->metadata.len > 0 ? p->metadata.len : 0;

		if (p->name.len < 0 || p->name.len > KG_NAME_MAX)
			continue;
		snprintf(v[n].name, sizeof(v[n].name), "%.*s", (int)p->name.len, p->name.ptr);
		v[n].meta = malloc((size_t)len + 1);
		if (!v[n].meta) {
			for (int k = 0; k < n; k++)
				free(v[k].meta);
			free(v);
			return -ENOMEM;
		}
		if (len)
			memcpy(v[n].meta, p->metadata.ptr, (size_t)len);
		v[n].len = len;
		n++;
	}
	protos_free(m);
	m->protos = v;
	m->nprotos = n;
	return 0;
}

/* member_set_protos, counting the bytes in g and gs. */
static int member_set_protos_counted(struct kgroup *g, struct kmember *m,
				     const struct proto_join_req *req)
{
	int64_t old = protos_bytes(m);
	int rc = member_set_protos(m, req);

	if (rc == 0) {
		g->meta_bytes += protos_bytes(m) - old;
		g->gs->bytes += protos_bytes(m) - old;
	}
	return rc;
}

/* ---- answers of parked requests (gs->mu) ---- */

static void finish(struct net_req *req, int rc, size_t pos)
{
	if (rc == 0)
		rc = net_req_end(req, pos);
	net_req_complete(req, rc);
}

/* Answers m's parked JoinGroup: err, or the group as it is now, naming
 * leader as its leader, with every member's metadata if list, and (v9+)
 * skip_assignment skip. */
static void join_answer_as(struct kgroup *g, struct kmember *m, int16_t err, const char *leader,
			   bool list, bool skip)
{
	struct net_req *req = m->join;
	int16_t v;
	struct proto_join_resp r = { 0 };
	struct proto_join_member *mv = NULL;
	size_t pos;
	int rc = 0;

	if (!req)
		return;
	m->join = NULL;
	/* Its session or join timeout counts again from here. */
	kg_timer_at(g->gs, m->new_until ? m->new_until : m->last_heard + m->session_ms);
	v = net_req_msg(req)->hdr.api_version;
	r.error_code = err;
	r.generation_id = err ? -1 : g->generation;
	r.protocol_type = v >= 7 && !err ? kstr_of(g->ptype) : KSTR_NULL;
	r.protocol_name = err ? (v >= 7 ? KSTR_NULL : kstr_of("")) : kstr_of(g->proto);
	r.leader = kstr_of(err ? "" : leader);
	r.skip_assignment = !err && skip;
	/* Kafka's removeMemberAndUpdateGroup answers a removed member's
	 * JoinGroup UNKNOWN_MEMBER_ID without its id: it joins afresh. */
	r.member_id = kstr_of(err == PROTO_ERR_UNKNOWN_MEMBER_ID ? "" : m->id);
	if (!err && list) {
		mv = calloc((size_t)g->nmembers + 1, sizeof(*mv));
		if (!mv) {
			rc = -ENOMEM;
		} else {
			for (struct kmember *x = g->members; x; x = x->next) {
				const struct kproto *p = member_proto(x, g->proto);

				mv[r.n_members].member_id = kstr_of(x->id);
				mv[r.n_members].group_instance_id =
					x->instance_id[0] ? kstr_of(x->instance_id) : KSTR_NULL;
				mv[r.n_members].metadata =
					(struct kstr){ (const char *)(p ? p->meta : NULL),
						       p ? p->len : 0 };
				if (!p)
					mv[r.n_members].metadata = kstr_of("");
				r.n_members++;
			}
			r.members = mv;
		}
	}
	pos = net_req_begin(req);
	if (rc == 0)
		rc = proto_join_resp_encode(&net_req_out(req)->w, v, &r);
	finish(req, rc, pos);
	free(mv);
}

/* Answers m's parked JoinGroup: err, or the group as it is now (the
 * members' metadata if m leads). */
static void join_answer(struct kgroup *g, struct kmember *m, int16_t err)
{
	join_answer_as(g, m, err, g->leader, !strcmp(g->leader, m->id), false);
}

/* Answers m's parked SyncGroup: err, or its assignment. Its session
 * starts again then, as Kafka's propagateAssignment (and a Stable
 * group's SyncGroup) completes the member's heartbeat: a follower that
 * waited for the leader's SyncGroup longer than its session timeout is
 * not dropped at once. */
static void sync_answer(struct kgroup *g, struct kmember *m, int16_t err)
{
	struct net_req *req = m->sync;
	struct proto_sync_resp r = { 0 };
	int16_t v;
	size_t pos;

	if (!req)
		return;
	m->sync = NULL;
	m->last_heard = now_mono_ms();
	kg_timer_at(g->gs, m->last_heard + m->session_ms);
	v = net_req_msg(req)->hdr.api_version;
	r.error_code = err;
	r.protocol_type = v >= 5 && !err ? kstr_of(g->ptype) : KSTR_NULL;
	r.protocol_name = v >= 5 && !err ? kstr_of(g->proto) : KSTR_NULL;
	r.assignment = (struct kstr){ (const char *)(m->asg && !err ? m->asg : (uint8_t *)""),
				      !err ? m->asg_len : 0 };
	pos = net_req_begin(req);
	finish(req, proto_sync_resp_encode(&net_req_out(req)->w, v, &r), pos);
}

void kg_member_free(struct kmember *m)
{
	protos_free(m);
	free(m->asg);
	free(m);
}

/* Unlinks m, answering its parked requests with err. */
static void kg_remove(struct kgroup *g, struct kmember *m, int16_t err, const char *why)
{
	for (struct kmember **pp = &g->members; *pp; pp = &(*pp)->next) {
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	}
	g->nmembers--;
	g->gs->members--;
	g->meta_bytes -= protos_bytes(m);
	g->gs->bytes -= protos_bytes(m) + m->asg_len;
	join_answer(g, m, err);
	sync_answer(g, m, err);
	mq_log(MQ_INFO, "Kafka group %s: member %s removed (%s), %d left", g->name, m->id, why,
	       g->nmembers);
	if (!strcmp(g->leader, m->id))
		g->leader[0] = '\0';
	kg_member_free(m);
}

static int32_t kg_rebalance_ms(const struct kgroup *g)
{
	int32_t ms = 0;

	for (const struct kmember *m = g->members; m; m = m->next)
		if (m->rebalance_ms > ms)
			ms = m->rebalance_ms;
	return ms;
}

/* The last member is gone: the next generation, Empty, and its record
 * (Kafka writes one with no members, so a new coordinator does not bring
 * the old members back). */
static void kg_empty(struct kgroup *g)
{
	g->state = KG_EMPTY;
	g->sync_deadline = 0;
	g->initial_delay = false;
	g->empty_since = engine_now_ms();
	g->generation++;
	g->proto[0] = '\0';
	g->leader[0] = '\0';
	kg_queue_empty(g);
}

/* The protocol every member offers with the most first-choice votes (a
 * member votes for the first of its protocols that all offer; a tie goes
 * to the first member's order). O(members x protocols^2). */
static const char *kg_choose(const struct kgroup *g)
{
	const struct kmember *first = g->members;
	bool common[PROTO_MAX_PROTOCOLS] = { false };
	int votes[PROTO_MAX_PROTOCOLS] = { 0 }, best = -1;

	if (!first)
		return NULL;
	for (int i = 0; i < first->nprotos && i < PROTO_MAX_PROTOCOLS; i++) {
		common[i] = true;
		for (const struct kmember *m = first->next; m && common[i]; m = m->next)
			common[i] = member_proto(m, first->protos[i].name) != NULL;
	}
	for (const struct kmember *m = g->members; m; m = m->next) {
		bool voted = false;

		for (int k = 0; k < m->nprotos && !voted; k++) {
			for (int i = 0; i < first->nprotos && i < PROTO_MAX_PROTOCOLS; i++) {
				if (common[i] &&
				    !strcmp(first->protos[i].name, m->protos[k].name)) {
					votes[i]++;
					voted = true;
					break;
				}
			}
		}
	}
	for (int i = 0; i < first->nprotos && i < PROTO_MAX_PROTOCOLS; i++)
		if (common[i] && (best < 0 || votes[i] > votes[best]))
			best = i;
	return best >= 0 ? first->protos[best].name : NULL;
}

/* PreparingRebalance is over: dynamic members that did not rejoin go, the
 * next generation starts and every JoinGroup is answered. A static member
 * (group.instance.id, KIP-345) that did not rejoin stays, as Kafka's
 * onCompleteJoin keeps it: in the new generation with its protocols as
 * they were, so the leader assigns it its share again, and a member that
 * was slow (a consumer busy past its rebalance timeout) takes it back
 * without another rebalance when it comes back (its heartbeat hears
 * ILLEGAL_GENERATION, its JoinGroup gets this generation); its session
 * timeout, or the sync timeout, still remove it. The leader is a member
 * that rejoined (Kafka's maybeElectNewJoinedLeader); none rejoined: the
 * rebalance waits another rebalance timeout. */
static void join_complete(struct kgroup *g)
{
	struct kmember *joined = NULL, *leader;
	const char *proto;

	for (struct kmember *m = g->members, *next; m; m = next) {
		next = m->next;
		if (!m->join && !m->instance_id[0])
			kg_remove(g, m, PROTO_ERR_UNKNOWN_MEMBER_ID,
				  "did not rejoin within the rebalance timeout");
	}
	if (g->nmembers == 0) {
		kg_empty(g);
		return;
	}
	for (struct kmember *m = g->members; m && !joined; m = m->next)
		if (m->join)
			joined = m;
	if (!joined) {
		g->deadline = now_mono_ms() + kg_rebalance_ms(g);
		kg_timer_at(g->gs, g->deadline);
		mq_log(MQ_INFO,
		       "Kafka group %s: no member rejoined within the rebalance timeout (%d static "
		       "members wait): the rebalance waits on",
		       g->name, g->nmembers);
		return;
	}
	proto = kg_choose(g);
	snprintf(g->proto, sizeof(g->proto), "%s", proto ? proto : "");
	leader = kg_member(g, kstr_of(g->leader));
	if (!leader || !leader->join)
		snprintf(g->leader, sizeof(g->leader), "%s", joined->id);
	g->generation++;
	g->state = KG_AWAIT_SYNC;
	g->sync_deadline = now_mono_ms() + kg_rebalance_ms(g);
	kg_timer_at(g->gs, g->sync_deadline);
	mq_log(MQ_INFO, "Kafka group %s: generation %d, protocol %s, leader %s, %d members",
	       g->name, (int)g->generation, g->proto, g->leader, g->nmembers);
	for (struct kmember *m = g->members; m; m = m->next) {
		g->gs->bytes -= m->asg_len;
		free(m->asg);
		m->asg = NULL;
		m->asg_len = 0;
		m->last_heard = now_mono_ms();
		m->new_until = 0;       /* Kafka's isNew = false: in a generation now */
		m->pending_sync = true; /* Kafka's addPendingSyncMember */
		join_answer(g, m, PROTO_ERR_NONE);
	}
}

/* Kafka's hasAllMembersJoined: the JoinGroup round completes before its
 * deadline once every member's JoinGroup waits and no member id handed
 * out with MEMBER_ID_REQUIRED is still to come back (a consumer that
 * starts meanwhile joins this generation rather than rebalance the
 * next one; its id is forgotten at its session timeout, or a LeaveGroup
 * naming it, which try again). */
static void join_try_complete(struct kgroup *g)
{
	/* Kafka's InitialDelayedJoin never completes early. */
	if (g->state != KG_PREPARING || g->initial_delay || g->pending)
		return;
	for (struct kmember *m = g->members; m; m = m->next)
		if (!m->join)
			return;
	join_complete(g);
}

/* Starts a rebalance: parked SyncGroups learn it, members rejoin. */
static void kg_prepare(struct group_serve *gs, struct kgroup *g, const char *why)
{
	if (g->nmembers == 0) {
		if (g->state != KG_EMPTY)
			kg_empty(g);
		return;
	}
	/* Kafka's removeSyncExpiration: the generation's SyncGroups are no
	 * longer awaited. */
	g->sync_deadline = 0;
	for (struct kmember *m = g->members; m; m = m->next) {
		m->pending_sync = false;
		sync_answer(g, m, PROTO_ERR_REBALANCE_IN_PROGRESS);
	}
	if (g->state != KG_PREPARING) {
		mq_log(MQ_INFO, "Kafka group %s: %s: %s -> %s", g->name, why,
		       kg_state_names[g->state], kg_state_names[KG_PREPARING]);
		int32_t delay = broker_cfg(gs->ka->b)->group_initial_delay_ms;

		/* From Empty: Kafka's InitialDelayedJoin, so that the
		 * members of a group that starts together join one
		 * generation rather than one rebalance each. */
		g->initial_delay = g->state == KG_EMPTY && delay > 0;
		g->new_member_added = false;
		g->initial_left = kg_rebalance_ms(g) > delay ? kg_rebalance_ms(g) - delay : 0;
		g->state = KG_PREPARING;
		g->deadline = now_mono_ms() + (g->initial_delay ? delay : kg_rebalance_ms(g));
		kg_timer_at(gs, g->deadline);
	}
	join_try_complete(g);
}

void kg_loaded(struct group_serve *gs, struct kgroup *g)
{
	int32_t max = broker_cfg(gs->ka->b)->group_max_size;
	char why[96];

	if (g->nmembers <= max)
		return;
	/* Kafka's onGroupLoaded: the members rejoin, and JoinGroup takes
	 * back no more than max of them (kg_accepts); each rejoins with
	 * its member id, so it may commit its offsets meanwhile. */
	snprintf(why, sizeof(why), "loaded with %d members, over group.max.size %d", g->nmembers,
		 (int)max);
	kg_prepare(gs, g, why);
}

/* The leader's SyncGroup came: each member gets its assignment. */
static int sync_complete(struct kgroup *g, const struct proto_sync_req *req)
{
	for (int32_t i = 0; i < req->n_assignments; i++) {
		struct kmember *m = kg_member(g, req->assignments[i].member_id);
		int32_t len = req->assignments[i].assignment.len;
		uint8_t *a;

		if (!m || len < 0)
			continue;
		a = malloc((size_t)len + 1);
		if (!a)
			return -ENOMEM;
		memcpy(a, req->assignments[i].assignment.ptr, (size_t)len);
		g->gs->bytes += len - m->asg_len;
		free(m->asg);
		m->asg = a;
		m->asg_len = len;
	}
	g->state = KG_STABLE;
	for (struct kmember *m = g->members; m; m = m->next)
		sync_answer(g, m, PROTO_ERR_NONE);
	return 0;
}

/* ---- the coordinator of a group ---- */

/* -1 when this broker coordinates name, else the coordinator's node (in
 * *node), the leader of the group's partition of __consumer_offsets
 * (offsets_coordinator; on one node this broker); -EAGAIN none now,
 * -EINPROGRESS this broker is loading the group's partition. */
static int coordinator_of(struct group_serve *gs, int listener, const char *name,
			  struct kafka_node *node)
{
	struct kafka_node *nodes = NULL;
	int32_t leader = -1;
	int n, rc = offsets_coordinator(gs->gc, name, &leader);

	if (rc == 1)
		return -1;
	if (rc < 0)
		return rc;
	n = kafka_brokers(gs->ka, listener, &nodes);
	if (n < 0)
		return n;
	rc = -EAGAIN; /* the leader is not alive (or has no such listener) */
	for (int i = 0; i < n; i++) {
		if (nodes[i].node_id == leader) {
			*node = nodes[i];
			rc = 0;
		}
	}
	free(nodes);
	return rc;
}

/* Kafka's checks before any group request: this broker coordinates it, the
 * name can be the mount's group, the server is not stopping. */
int16_t kg_check(struct group_serve *gs, struct net_req *req, struct kstr id, char *name,
		 const char *api)
{
	struct kafka_node node;
	const char *why = NULL;
	int rc;

	/* KafkaApis asks first: DESCRIBE on the group for FindCoordinator
	 * and OffsetFetch, READ for the rest. */
	if (!kafka_authorize(req,
			     !strcmp(api, "FindCoordinator") || !strcmp(api, "OffsetFetch")
				     ? ACL_OP_DESCRIBE
				     : ACL_OP_READ,
			     ACL_RES_GROUP, id))
		return PROTO_ERR_GROUP_AUTHORIZATION_FAILED;
	if ((!strcmp(api, "FindCoordinator") || !strcmp(api, "OffsetFetch") ||
	     !strcmp(api, "OffsetCommit")) &&
	    id.ptr && id.len > 0 && memchr(id.ptr, '/', (size_t)id.len)) {
		char topic[TOPIC_NAME_MAX + 1];

		/* "<topic>/<group>", the mount group of one topic that the
		 * admin APIs take (group_admin_serve.c) and ListGroups lists:
		 * <group>'s coordinator; OffsetFetch and OffsetCommit of it
		 * (what `kafka-consumer-groups.sh --describe` and
		 * `--reset-offsets` send for a listed group) read and set
		 * that topic's offsets (group_serve_offsets.c). */
		if (group_scoped_name(id, topic, name, &why) < 0 && !why)
			why = "not <topic>/<group>";
		/* A commit may make the group: mkdir's name rules (a group
		 * made before them is still read and deleted). */
		if (!why && !strcmp(api, "OffsetCommit"))
			why = group_name_refusal(name);
	} else if (id.len == 0 && kg_empty_id_ok(api)) {
		name[0] = '\0'; /* the simple consumers' group (kg_empty_id_ok) */
	} else if (id.len <= 0 || id.len > TOPIC_NAME_MAX) {
		why = "empty or over 249 bytes";
	} else {
		snprintf(name, TOPIC_NAME_MAX + 1, "%.*s", (int)id.len, id.ptr);
		if (strlen(name) != (size_t)id.len)
			why = "holds a NUL";
		else
			why = group_name_refusal(name);
	}
	if (why) {
		mq_log_limited(MQ_WARN, "%s from %s: group id refused: %s", api, net_req_peer(req),
			       why);
		return PROTO_ERR_INVALID_GROUP_ID;
	}
	if (gs->stop)
		return PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
	rc = coordinator_of(gs, net_req_listener(req), name, &node);
	if (rc == -1)
		return PROTO_ERR_NONE;
	if (rc == -EINPROGRESS) {
		/* Heartbeat and SyncGroup answer it their own way (their
		 * handlers), so the line names the state, not the error. */
		mq_log_limited(MQ_INFO, "%s from %s for group %s: its %s partition is loading here",
			       api, net_req_peer(req), name, GROUP_OFFSETS_TOPIC);
		return PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS;
	}
	/* No coordinator now: no __consumer_offsets yet, or no live leader
	 * of the group's partition. FindCoordinator says so
	 * (COORDINATOR_NOT_AVAILABLE, as Kafka's); any other group request
	 * is NOT_COORDINATOR, as Kafka's GroupCoordinator.validateGroupStatus
	 * answers on a broker that does not own the group's partition
	 * (isCoordinatorForGroup), topic or not. Clients take both alike:
	 * they look the coordinator up again. */
	if (rc < 0) {
		bool find = !strcmp(api, "FindCoordinator");

		mq_log_limited(MQ_INFO,
			       "%s from %s for group %s: %s (no leader of its %s partition "
			       "alive)",
			       api, net_req_peer(req), name,
			       find ? "COORDINATOR_NOT_AVAILABLE" : "NOT_COORDINATOR",
			       GROUP_OFFSETS_TOPIC);
		return find ? PROTO_ERR_COORDINATOR_NOT_AVAILABLE : PROTO_ERR_NOT_COORDINATOR;
	}
	/* FindCoordinator names it; any other request is misdirected. */
	if (strcmp(api, "FindCoordinator"))
		mq_log_limited(MQ_INFO,
			       "%s from %s for group %s: NOT_COORDINATOR, broker %d "
			       "coordinates it",
			       api, net_req_peer(req), name, (int)node.node_id);
	return PROTO_ERR_NOT_COORDINATOR;
}

/* ---- FindCoordinator ---- */

static int find_coord_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_find_coord_req *m = &pr->u.find_coord;
	struct proto_find_coord_resp r = { 0 };
	struct kafka_node *nodes;
	size_t pos;
	int rc;

	r.coordinators = calloc((size_t)m->n_keys + 1, sizeof(*r.coordinators));
	nodes = calloc((size_t)m->n_keys + 1, sizeof(*nodes));
	if (!r.coordinators || !nodes) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t i = 0; i < m->n_keys; i++) {
		struct proto_coordinator *c = &r.coordinators[i];
		char name[TOPIC_NAME_MAX + 1];

		c->key = pr->hdr.api_version >= 4 ? m->keys[i] : KSTR_NULL;
		c->node_id = -1;
		c->host = kstr_of("");
		c->port = -1;
		c->error_message = KSTR_NULL;
		if (m->key_type == PROTO_COORD_TRANSACTION) {
			c->error_code = PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
			c->error_message = kstr_of("transactions are not supported");
			mq_log_limited(MQ_INFO,
				       "FindCoordinator from %s: key type 1 (transaction) refused: "
				       "transactions are not supported",
				       net_req_peer(req));
		} else if (m->key_type != PROTO_COORD_GROUP) {
			/* Kafka's CoordinatorType.forId: no such type. */
			c->error_code = PROTO_ERR_INVALID_REQUEST;
			c->error_message = kstr_of("unknown coordinator key type");
			mq_log_limited(MQ_INFO,
				       "FindCoordinator from %s: key type %d refused: not a key "
				       "type (0 group, 1 transaction)",
				       net_req_peer(req), (int)m->key_type);
		} else {
			c->error_code = kg_check(gs, req, m->keys[i], name, "FindCoordinator");
			/* Kafka makes __consumer_offsets on the first
			 * FindCoordinator of a group the client may describe,
			 * and answers it (and every one until the topic's
			 * leaders are here, or while fewer brokers are alive
			 * than its replication factor) COORDINATOR_NOT_AVAILABLE
			 * at once: the client asks again. No listener worker
			 * waits for the controller. */
			if (c->error_code == PROTO_ERR_COORDINATOR_NOT_AVAILABLE)
				offsets_topic_request(gs->gc);
			/* Another broker, or this one loading: name it. */
			if (c->error_code == PROTO_ERR_NOT_COORDINATOR ||
			    c->error_code == PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS)
				c->error_code = PROTO_ERR_NONE;
			if (!c->error_code) {
				rc = coordinator_of(gs, net_req_listener(req), name, &nodes[i]);
				if (rc == -1 || rc == -EINPROGRESS) {
					struct kafka_node *all = NULL;
					int n = kafka_brokers(gs->ka, net_req_listener(req), &all);

					for (int k = 0; k < n; k++)
						if (all[k].node_id == kafka_broker_id(gs->ka))
							nodes[i] = all[k];
					free(all);
				} else if (rc < 0) {
					c->error_code = PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
				}
			}
			if (!c->error_code) {
				c->node_id = nodes[i].node_id;
				c->host = kstr_of(nodes[i].host);
				c->port = nodes[i].port;
			}
		}
		r.n_coordinators++;
	}
	pos = net_req_begin(req);
	rc = proto_find_coord_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &r);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(r.coordinators);
	free(nodes);
	return rc;
}

/* ---- JoinGroup ---- */

/* A consume file opens in group name: its Kafka consumers leave (and,
 * told UNKNOWN_MEMBER_ID, join again into the mount's group). */
static void kafka_dissolve(void *arg, const char *name)
{
	struct group_serve *gs = arg;
	struct kgroup *g;

	pthread_mutex_lock(&gs->mu);
	g = kg_find(gs, name);
	while (g && g->members)
		kg_remove(g, g->members, PROTO_ERR_UNKNOWN_MEMBER_ID,
			  "consume files join the group: its consumers join them");
	if (g)
		kg_prepare(gs, g, "consume files join the group");
	pthread_mutex_unlock(&gs->mu);
}

static bool kafka_active(void *arg, const char *name)
{
	struct group_serve *gs = arg;
	struct kgroup *g;
	bool any;

	pthread_mutex_lock(&gs->mu);
	g = kg_find(gs, name);
	any = g && g->nmembers > 0;
	pthread_mutex_unlock(&gs->mu);
	return any;
}

/* For the mount's members and admin operations (group_remote_node): the coordinator
 * that Kafka clients of the first listener are sent to. Every broker of a
 * cluster has the same listener names, so any listener gives the same
 * broker. */
static int32_t kafka_coordinator(void *arg, const char *name)
{
	struct kafka_node node;
	int rc = coordinator_of(arg, 0, name, &node);

	return rc == 0 ? node.node_id : rc == -1 ? -1 : GROUP_COORD_NONE;
}

/* The coordinator's kafka_others hook: the live brokers but this one. */
static int kafka_others(void *arg, int32_t **ids)
{
	struct group_serve *gs = arg;
	struct kafka_node *nodes = NULL;
	int n = kafka_brokers(gs->ka, 0, &nodes), k = 0;

	if (n < 0)
		return n;
	*ids = calloc((size_t)n + 1, sizeof(**ids));
	for (int i = 0; *ids && i < n; i++)
		if (nodes[i].node_id != kafka_broker_id(gs->ka))
			(*ids)[k++] = nodes[i].node_id;
	free(nodes);
	return *ids ? k : -ENOMEM;
}

/* The coordinator's kafka_drop hook: another broker leads partition p (of
 * n) of __consumer_offsets now. Its groups' members are dropped here,
 * their parked requests answered NOT_COORDINATOR; their next requests get
 * NOT_COORDINATOR too, and the clients find the new coordinator. */
static void kafka_drop(void *arg, int p, int n)
{
	struct group_serve *gs = arg;

	pthread_mutex_lock(&gs->mu);
	for (struct kgroup **pp = &gs->groups; *pp;) {
		struct kgroup *g = *pp;

		if (group_offsets_partition(g->name, n) != p) {
			pp = &g->next;
			continue;
		}
		while (g->members)
			kg_remove(g, g->members, PROTO_ERR_NOT_COORDINATOR,
				  "another broker coordinates the group now");
		*pp = g->next;
		kg_group_free(g);
	}
	pthread_mutex_unlock(&gs->mu);
}

/* For the mount's .state of group name of topic: the Kafka group's state
 * and members, with the partitions of topic their assignment gives them
 * (decoded when the protocol type is "consumer"). */
static void kafka_describe(void *arg, const char *name, const char *topic, char *buf, size_t cap)
{
	struct group_serve *gs = arg;
	struct kgroup *g;
	size_t n = 0;
	int w;

	buf[0] = '\0';
	pthread_mutex_lock(&gs->mu);
	g = kg_find(gs, name);
	if (!g || g->nmembers == 0)
		goto out;
	w = snprintf(buf, cap, "kafka-group %s generation %d protocol %s members %d\n",
		     kg_state_names[g->state], (int)g->generation, g->proto[0] ? g->proto : "-",
		     g->nmembers);
	n = w > 0 && (size_t)w < cap ? (size_t)w : 0;
	for (struct kmember *m = g->members; m && n < cap; m = m->next) {
		struct proto_consumer_asg a;
		char parts[256] = "-";
		size_t k = 0;

		if (m->asg && !strcmp(g->ptype, "consumer") &&
		    proto_consumer_asg_decode(m->asg, (size_t)m->asg_len, &a) == 0) {
			for (int32_t i = 0; i < a.n_assigned; i++) {
				const struct proto_topic_partitions *tp = &a.assigned_partitions[i];

				if (!kg_kstr_is(tp->topic, topic))
					continue;
				for (int32_t j = 0; j < tp->n_partitions && k + 12 < sizeof(parts);
				     j++)
					k += (size_t)snprintf(parts + k, sizeof(parts) - k, "%s%d",
							      k ? "," : "", (int)tp->partitions[j]);
			}
			proto_consumer_asg_free(&a);
			if (!k)
				snprintf(parts, sizeof(parts), "-");
		}
		w = snprintf(buf + n, cap - n, "kafka-member %s partitions %s\n", m->id, parts);
		if (w < 0 || (size_t)w >= cap - n) {
			buf[n] = '\0';
			break;
		}
		n += (size_t)w;
	}
out:
	pthread_mutex_unlock(&gs->mu);
}

/* A member id: Kafka's clientId-UUID, the client id kept to the
 * characters a commit record can hold. */
static void member_id_make(struct group_serve *gs, struct kstr client, char *id, size_t cap)
{
	char c[64];
	struct timespec ts;

	group_client_tag(client, c, sizeof(c), "member");
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(id, cap, "%s-%08" PRIx64 "-%08lx", c, ++gs->seq,
		 (unsigned long)((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20)) &
			 0xffffffffUL);
}

/* What DescribeGroups names a member by, as Kafka's GroupCoordinator
 * keeps them from the JoinGroup that made it: the request header's
 * client.id (null as empty) and the client's address as Java prints an
 * InetAddress, "/" and the address without the port ("127.0.0.1:40942"
 * is "/127.0.0.1", "[::1]:40942" "/::1"): kafka-consumer-groups.sh
 * --describe --members shows both as CLIENT-ID and HOST. */
static void member_client_set(struct kmember *mem, struct kstr client_id, const char *peer)
{
	const char *host = peer, *end = strrchr(peer, ':');
	size_t n;

	snprintf(mem->client_id, sizeof(mem->client_id), "%.*s",
		 client_id.len > 0 ? (int)client_id.len : 0, client_id.ptr ? client_id.ptr : "");
	if (peer[0] == '[') {
		host = peer + 1;
		end = strchr(host, ']');
	}
	n = end ? (size_t)(end - host) : strlen(host);
	snprintf(mem->client_host, sizeof(mem->client_host), "/%.*s", (int)n, host);
}

/* The member of g with group.instance.id id, or NULL. */
static struct kmember *kg_instance(struct kgroup *g, struct kstr id)
{
	if (!g || id.len <= 0 || id.len > KG_ID_MAX)
		return NULL;
	for (struct kmember *x = g->members; x; x = x->next)
		if ((size_t)id.len == strlen(x->instance_id) &&
		    !memcmp(x->instance_id, id.ptr, (size_t)id.len))
			return x;
	return NULL;
}

/* Kafka's acceptJoiningMember under group.max.size max: any member
 * while the group is Empty; while it rebalances (PreparingRebalance), a
 * member whose JoinGroup waits already, or any while fewer than max
 * have rejoined (so a member that comes back after max others is not
 * taken back); else (CompletingRebalance, Stable) a member, or a new one
 * while the group has fewer than max. */
static bool kg_accepts(const struct kgroup *g, const struct kmember *mem, int32_t max)
{
	int joined = 0;

	if (!g || g->state == KG_EMPTY)
		return true;
	if (g->state != KG_PREPARING)
		return mem || g->nmembers < max;
	if (mem && mem->join)
		return true;
	for (const struct kmember *m = g->members; m; m = m->next)
		joined += m->join != NULL;
	return joined < max;
}

/* Kafka's validateCurrentMember: with a group.instance.id, the member
 * that holds it must be mem (another: FENCED_INSTANCE_ID; none:
 * UNKNOWN_MEMBER_ID, even if mem is a member); without one, mem must be
 * a member. NONE or the error; the instance's member into *owner. */
static int16_t current_member_error(struct kgroup *g, struct kmember *mem, struct kstr instance,
				    struct kmember **owner)
{
	*owner = kg_instance(g, instance);
	if (instance.len > 0 && *owner != mem)
		return *owner ? PROTO_ERR_FENCED_INSTANCE_ID : PROTO_ERR_UNKNOWN_MEMBER_ID;
	return mem ? PROTO_ERR_NONE : PROTO_ERR_UNKNOWN_MEMBER_ID;
}

static int join_error(struct net_req *req, int16_t err, struct kstr member)
{
	const struct proto_req *pr = net_req_msg(req);
	int16_t v = pr->hdr.api_version;
	struct proto_join_resp r = { .error_code = err,
				     .generation_id = -1,
				     .protocol_type = KSTR_NULL,
				     .protocol_name = v >= 7 ? KSTR_NULL : kstr_of(""),
				     .leader = kstr_of(""),
				     .member_id = member.len >= 0 ? member : kstr_of("") };
	size_t pos = net_req_begin(req);
	int rc = proto_join_resp_encode(&net_req_out(req)->w, v, &r);

	return rc ? rc : net_req_end(req, pos);
}

/* JoinGroup of a guest (group_guest.c), answered at once: a mount member
 * of another broker, its own leader with nothing to assign; or a Kafka
 * consumer joining a group whose consume files are members, a follower
 * of GROUP_GUEST_LEADER (the coordinator assigns: its SyncGroup sends
 * no assignments and gets its own). */
#define GROUP_GUEST_LEADER "mqfs-coordinator"
static int guest_join(struct group_serve *gs, struct net_req *req, const char *name)
{
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_join_req *m = &pr->u.join;
	int16_t v = pr->hdr.api_version;
	char member[KG_ID_MAX + 1], id[64] = "";
	struct proto_join_resp r = { 0 };
	int32_t generation = -1;
	int16_t err;
	size_t pos;
	int rc;

	bool kafka = !kg_kstr_is(m->protocol_type, GROUP_GUEST_PTYPE);
	char client[64];

	snprintf(member, sizeof(member), "%.*s", m->member_id.len > 0 ? (int)m->member_id.len : 0,
		 m->member_id.ptr ? m->member_id.ptr : "");
	snprintf(client, sizeof(client), "%.*s",
		 pr->hdr.client_id.len > 0 ? (int)pr->hdr.client_id.len : 0,
		 pr->hdr.client_id.ptr ? pr->hdr.client_id.ptr : "");
	if (m->n_protocols < 1 || (!kafka && m->n_protocols != 1)) {
		mq_log_limited(MQ_WARN,
			       "JoinGroup from %s for group %s: protocol type %s offers %d "
			       "protocols, not one",
			       net_req_peer(req), name, GROUP_GUEST_PTYPE, (int)m->n_protocols);
		return join_error(req, PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL, m->member_id);
	}
	err = gs->stop ? PROTO_ERR_COORDINATOR_NOT_AVAILABLE
		       : group_guest_join(gs->gc, name, member, kafka ? client : NULL,
					  m->session_timeout_ms,
					  (const uint8_t *)m->protocols[0].metadata.ptr,
					  m->protocols[0].metadata.len > 0
						  ? (size_t)m->protocols[0].metadata.len
						  : 0,
					  net_req_peer(req), &generation, id);
	if (err)
		return join_error(req, err, m->member_id);
	r.generation_id = generation;
	r.protocol_type = v >= 7 ? m->protocol_type : KSTR_NULL;
	r.protocol_name = m->protocols[0].name;
	r.leader = kstr_of(kafka ? GROUP_GUEST_LEADER : id);
	r.member_id = kstr_of(id);
	pos = net_req_begin(req);
	rc = proto_join_resp_encode(&net_req_out(req)->w, v, &r);
	return rc ? rc : net_req_end(req, pos);
}

/* Kafka's error for a SyncGroup whose group record could not be written
 * (GroupCoordinator's storeGroup callback); also a static member's
 * JoinGroup's. */
static int16_t store_error(int rc)
{
	switch (rc) {
	case -EREMOTE: return PROTO_ERR_NOT_COORDINATOR;
	case -EMSGSIZE: return PROTO_ERR_UNKNOWN_SERVER_ERROR;
	default: return PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
	}
}

/* Writes group g's metadata record (the assignments of req, a leader's
 * SyncGroup, or NULL: the members' own) with gs->mu released, as the
 * append waits for the in-sync replicas; the rebalance timeout waits for
 * it meanwhile (storing). gs->mu held on entry and on return; the group
 * as found again then (NULL: dropped meanwhile), the append's result in
 * *rc. */
static struct kgroup *kg_store(struct group_serve *gs, struct kgroup *g,
			       const struct proto_sync_req *req, const char *name, int *rc)
{
	struct kbuf_w w;
	uint64_t seq = 0;

	kbuf_w_init(&w, 4 * (size_t)KG_GROUP_BYTES);
	*rc = kg_meta_value(g, req, &w);
	if (*rc == 0 && !(seq = kg_ticket(gs, name)))
		*rc = -ENOMEM;
	g->storing = *rc == 0;
	if (*rc == 0)
		*rc = kg_write(gs, name, seq, w.buf, w.len); /* gs->mu released meanwhile */
	kbuf_w_free(&w);
	g = kg_find(gs, name);
	if (g)
		g->storing = false;
	return g;
}

/* A static member (KIP-345) that comes back with a new member id (a
 * restarted client sends no LeaveGroup and its old id is lost): its old
 * member stale is replaced by mem at once (stale's requests get
 * FENCED_INSTANCE_ID), as Kafka replaces it, rather than the group
 * waiting session.timeout.ms for it. As Kafka's replaceStaticMember, in
 * every state mem takes stale's place in the member list, the
 * leadership if stale led (so a rebalance under way keeps it as its
 * leader: it has joined), whether it is new (its join timeout) and its
 * pending SyncGroup (a Stable group's member that has not synced must
 * still sync). In a Stable group whose chosen protocol stays the same
 * with mem's protocols, mem takes its assignment too (Kafka's
 * updateStaticMemberAndRebalance): true then, and no rebalance is
 * needed. Otherwise the caller rebalances the group: in
 * CompletingRebalance the leader may have assigned stale's id already,
 * which mem would never be given. mem is the group's last member.
 * gs->mu held. */
static bool static_replace(struct kgroup *g, struct kmember *stale, struct kmember *mem,
			   const char *peer)
{
	bool keep = g->state == KG_STABLE, led = !strcmp(g->leader, stale->id);
	struct kmember **pp;

	mq_log(MQ_INFO,
	       "Kafka group %s: group.instance.id %s joins again from %s: member %s replaced "
	       "by %s (its requests get FENCED_INSTANCE_ID)",
	       g->name, stale->instance_id, peer, stale->id, mem->id);
	for (pp = &g->members; *pp != mem; pp = &(*pp)->next)
		;
	*pp = NULL; /* mem was last */
	for (pp = &g->members; *pp != stale; pp = &(*pp)->next)
		;
	*pp = mem;
	mem->next = stale;
	mem->new_until = stale->new_until;
	mem->pending_sync = stale->pending_sync;
	if (keep) {
		/* The bytes stay counted: they move from one member to the
		 * other. */
		mem->asg = stale->asg;
		mem->asg_len = stale->asg_len;
		stale->asg = NULL;
		stale->asg_len = 0;
	}
	kg_remove(g, stale, PROTO_ERR_FENCED_INSTANCE_ID, "replaced by its instance");
	if (led)
		snprintf(g->leader, sizeof(g->leader), "%s", mem->id);
	if (!keep)
		return false;
	const char *chosen = kg_choose(g);

	if (!chosen || strcmp(chosen, g->proto)) {
		mq_log(MQ_INFO,
		       "Kafka group %s: its protocol would change with member %s's: "
		       "the group rebalances",
		       g->name, mem->id);
		return false;
	}
	return true;
}

/* The JoinGroup req of mem, which took a static member's place in a
 * Stable group (static_replace): the group's record, with mem in it, is
 * written first (gs->mu released; Kafka's storeGroup), then mem is
 * answered with the same generation and protocol, and its SyncGroup
 * gets the assignment it took over. As Kafka's
 * updateStaticMemberAndRebalance, a JoinGroup v9+ names the leader, with
 * the member list and skip_assignment if mem leads (it knows it leads,
 * but the Stable group's assignment stands: an assignor run would give
 * one no SyncGroup of a Stable group takes); an older one names
 * old_leader, the leader before the replacement, and no members, so
 * that a new leader does not run its assignor either. If the record
 * cannot be written, or the group moved on meanwhile, mem joins the
 * rebalance instead. gs->mu held; released here. */
static int static_rejoin(struct group_serve *gs, struct net_req *req, struct kgroup *g,
			 struct kmember *mem, const char *old_leader)
{
	char name[TOPIC_NAME_MAX + 1], id[KG_ID_MAX + 1];
	int32_t generation = g->generation;
	int rc;

	snprintf(name, sizeof(name), "%s", g->name);
	snprintf(id, sizeof(id), "%s", mem->id);
	g = kg_store(gs, g, NULL, name, &rc);
	mem = kg_member(g, kstr_of(id));
	if (!mem) {
		/* Dropped here: another broker took the group over. */
		pthread_mutex_unlock(&gs->mu);
		return join_error(req, rc < 0 ? store_error(rc) : PROTO_ERR_NOT_COORDINATOR,
				  KSTR_NULL);
	}
	if (mem->join)
		join_answer(g, mem, PROTO_ERR_REBALANCE_IN_PROGRESS);
	mem->join = req;
	if (rc == 0 && g->state == KG_STABLE && g->generation == generation) {
		mq_log(MQ_INFO,
		       "Kafka group %s: member %s keeps its instance's assignment in generation "
		       "%d (no rebalance)",
		       name, id, (int)generation);
		if (net_req_msg(req)->hdr.api_version >= 9) {
			bool leads = !strcmp(g->leader, id);

			join_answer_as(g, mem, PROTO_ERR_NONE, g->leader, leads, leads);
		} else {
			join_answer_as(g, mem, PROTO_ERR_NONE, old_leader, false, false);
		}
	} else {
		if (rc < 0)
			mq_log(MQ_WARN,
			       "Kafka group %s: its metadata record with member %s was not "
			       "written (%s): the group rebalances",
			       name, id, strerror(-rc));
		kg_prepare(gs, g,
			   rc < 0 ? "its metadata record was not written" : "a member joins");
	}
	pthread_mutex_unlock(&gs->mu);
	return NET_PARKED;
}

static int join_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_join_req *m = &pr->u.join;
	const struct broker_config *cfg = broker_cfg(gs->ka->b);
	char name[TOPIC_NAME_MAX + 1];
	int32_t rebalance_ms;
	struct kgroup *g;
	struct kmember *mem;
	int16_t err;
	bool mount;

	err = kg_check(gs, req, m->group_id, name, "JoinGroup");
	if (err)
		return join_error(req, err, m->member_id);
	if (m->session_timeout_ms < cfg->group_min_session_ms ||
	    m->session_timeout_ms > cfg->group_max_session_ms) {
		mq_log_limited(MQ_WARN,
			       "JoinGroup from %s for group %s: session timeout %d ms outside "
			       "group.min/max.session.timeout.ms %d..%d",
			       net_req_peer(req), name, (int)m->session_timeout_ms,
			       (int)cfg->group_min_session_ms, (int)cfg->group_max_session_ms);
		return join_error(req, PROTO_ERR_INVALID_SESSION_TIMEOUT, m->member_id);
	}
	if (kg_kstr_is(m->protocol_type, GROUP_GUEST_PTYPE) ||
	    group_guest_id(m->member_id.ptr, m->member_id.len))
		return guest_join(gs, req, name);
	if (m->protocol_type.len <= 0 || m->protocol_type.len > KG_NAME_MAX ||
	    m->n_protocols <= 0) {
		mq_log_limited(MQ_WARN,
			       "JoinGroup from %s for group %s: no protocol type or none "
			       "offered",
			       net_req_peer(req), name);
		return join_error(req, PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL, m->member_id);
	}
	rebalance_ms = pr->hdr.api_version >= 1 ? m->rebalance_timeout_ms : m->session_timeout_ms;
	if (rebalance_ms <= 0)
		rebalance_ms = m->session_timeout_ms;

	pthread_mutex_lock(&gs->gc->mu);
	mount = group_guest_mount_active(gs->gc, name);
	pthread_mutex_lock(&gs->mu);
	pthread_mutex_unlock(&gs->gc->mu);
	g = kg_find(gs, name);
	mem = kg_member(g, m->member_id);
	/* A static member's old member, which a new member id of its
	 * instance replaces (static_replace). */
	struct kmember *owner = kg_instance(g, m->group_instance_id);
	struct kmember *stale = mem ? NULL : owner;
	/* Kafka's isPendingMember: the id of a MEMBER_ID_REQUIRED answer. */
	struct kpending *pend = mem ? NULL : kg_pending(g, m->member_id);
	if (gs->stop) {
		err = PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
	} else if (mount && !mem && kg_kstr_is(m->protocol_type, "consumer")) {
		/* consume files are members: a consumer joins them. */
		pthread_mutex_unlock(&gs->mu);
		return guest_join(gs, req, name);
	} else if (mount) {
		err = PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL;
		mq_log_limited(MQ_WARN,
			       "JoinGroup from %s for group %s refused: consume files are its "
			       "members, and only a consumer (protocol type consumer) joins them",
			       net_req_peer(req), name);
	} else if (m->member_id.len > 0 && !g) {
		/* Kafka's getOrMaybeCreateGroup: a member id makes no group. */
		err = PROTO_ERR_UNKNOWN_MEMBER_ID;
		mq_log_limited(MQ_INFO, "JoinGroup from %s for group %s: unknown member %.*s",
			       net_req_peer(req), name, (int)m->member_id.len, m->member_id.ptr);
	} else if (!kg_accepts(g, mem, cfg->group_max_size)) {
		err = PROTO_ERR_GROUP_MAX_SIZE_REACHED;
		mq_log_limited(MQ_WARN,
			       "JoinGroup from %s for group %s: %d members (%s) already, "
			       "group.max.size %d%s",
			       net_req_peer(req), name, g->nmembers,
			       g->state == KG_PREPARING ? "rejoined" : "in all",
			       (int)cfg->group_max_size,
			       mem    ? ": the member is removed"
			       : pend ? ": its member id is forgotten"
				      : "");
		/* Kafka removes a member it does not take back (group.remove),
		 * a pending one too: its id is no longer one a JoinGroup
		 * brings back, and holds no place among all groups' members. */
		if (mem) {
			kg_remove(g, mem, err, "over group.max.size");
			kg_prepare(gs, g, "a member over group.max.size was removed");
		} else if (pend) {
			kg_pending_drop(g, pend);
			join_try_complete(g);
		}
	} else if (g && g->nmembers > 0 &&
		   (!kg_kstr_is(m->protocol_type, g->ptype) || !protos_compatible(g, m))) {
		/* Kafka's supportsProtocols, before the member is looked
		 * at: the protocol type, and a protocol every member offers
		 * now, the joining one's present protocols counted too (a
		 * group's only member cannot change its protocol type or
		 * drop every protocol it offered). */
		err = PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL;
		mq_log_limited(MQ_WARN,
			       "JoinGroup from %s for group %s refused: protocol type %.*s or its "
			       "protocols do not match the members' (%s)",
			       net_req_peer(req), name, (int)m->protocol_type.len,
			       m->protocol_type.ptr, g->ptype);
	} else if (m->member_id.len > 0 && !pend &&
		   (err = current_member_error(g, mem, m->group_instance_id, &owner))) {
		/* Kafka's isStaticMemberFenced (FENCED_INSTANCE_ID): a
		 * member id of the instance that another member holds now
		 * (this client was replaced). UNKNOWN_MEMBER_ID would send it
		 * back without a member id, to replace the new one in turn,
		 * and the two would take the instance's partitions from each
		 * other forever. */
		mq_log_limited(MQ_INFO,
			       "JoinGroup from %s for group %s: member %.*s (group.instance.id "
			       "%.*s): %s",
			       net_req_peer(req), name, (int)m->member_id.len, m->member_id.ptr,
			       m->group_instance_id.len > 0 ? (int)m->group_instance_id.len : 1,
			       m->group_instance_id.len > 0 ? m->group_instance_id.ptr : "-",
			       err == PROTO_ERR_FENCED_INSTANCE_ID
				       ? "another member holds the instance"
				       : "unknown member");
	} else if (!mem && !pend && gs->members + gs->npending >= KG_MAX_ALL) {
		err = PROTO_ERR_GROUP_MAX_SIZE_REACHED;
		mq_log_limited(MQ_WARN,
			       "JoinGroup from %s for group %s: %d members and %d pending of all "
			       "groups already (at most %d)",
			       net_req_peer(req), name, gs->members, gs->npending, KG_MAX_ALL);
	} else {
		int64_t old = mem ? protos_bytes(mem) : 0, add = req_protos_bytes(m) - old;

		if ((g ? g->meta_bytes : 0) + add > KG_GROUP_BYTES ||
		    gs->bytes + add > KG_ALL_BYTES) {
			err = PROTO_ERR_GROUP_MAX_SIZE_REACHED;
			mq_log_limited(MQ_WARN,
				       "JoinGroup from %s for group %s: %lld bytes of protocol "
				       "metadata would pass the group's %d or all groups' %d",
				       net_req_peer(req), name, (long long)req_protos_bytes(m),
				       KG_GROUP_BYTES, KG_ALL_BYTES);
		}
	}
	if (err) {
		pthread_mutex_unlock(&gs->mu);
		/* GROUP_MAX_SIZE_REACHED: no member id, as Kafka answers. */
		return join_error(req, err,
				  err == PROTO_ERR_GROUP_MAX_SIZE_REACHED ? kstr_of("")
									  : m->member_id);
	}
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			goto nomem;
		snprintf(g->name, sizeof(g->name), "%s", name);
		g->gs = gs;
		g->next = gs->groups;
		gs->groups = g;
	}
	if (!mem && !pend && pr->hdr.api_version >= 4 && m->group_instance_id.len <= 0) {
		/* Kafka's requireKnownMemberId (JoinGroup v4+, KIP-394): a
		 * dynamic member without an id gets one with
		 * MEMBER_ID_REQUIRED and becomes a member when its next
		 * JoinGroup brings it back, so that a client that times out
		 * and retries leaves no member behind; the id is forgotten
		 * after the session timeout. */
		struct kpending *p = calloc(1, sizeof(*p));
		char id[KG_ID_MAX + 1];

		if (!p)
			goto nomem;
		member_id_make(gs, pr->hdr.client_id, p->id, sizeof(p->id));
		p->expires = now_mono_ms() + m->session_timeout_ms;
		p->next = g->pending;
		g->pending = p;
		gs->npending++;
		kg_timer_at(gs, p->expires);
		snprintf(id, sizeof(id), "%s", p->id);
		mq_log(MQ_INFO,
		       "Kafka group %s: member id %s handed out (MEMBER_ID_REQUIRED) to %s", name,
		       id, net_req_peer(req));
		pthread_mutex_unlock(&gs->mu);
		return join_error(req, PROTO_ERR_MEMBER_ID_REQUIRED, kstr_of(id));
	}
	if (!mem) {
		mem = calloc(1, sizeof(*mem));
		if (!mem)
			goto nomem;
		if (pend) {
			snprintf(mem->id, sizeof(mem->id), "%s", pend->id);
			kg_pending_drop(g, pend);
		} else {
			member_id_make(gs, pr->hdr.client_id, mem->id, sizeof(mem->id));
		}
		member_client_set(mem, pr->hdr.client_id, net_req_peer(req));
		if (m->group_instance_id.len > 0 && m->group_instance_id.len <= KG_ID_MAX)
			snprintf(mem->instance_id, sizeof(mem->instance_id), "%.*s",
				 (int)m->group_instance_id.len, m->group_instance_id.ptr);
		if (member_set_protos_counted(g, mem, m) < 0) {
			free(mem);
			goto nomem;
		}
		struct kmember **tail = &g->members;

		while (*tail)
			tail = &(*tail)->next;
		*tail = mem;
		g->nmembers++;
		gs->members++;
		/* Kafka's addMemberAndRebalance (NewMemberJoinTimeoutMs): a
		 * client whose JoinGroup timed out (a long rebalance) retries
		 * with no member id, which makes another member; each such
		 * defunct one would otherwise hold the rebalance until its
		 * end. A static member that replaces another takes its place
		 * instead (static_replace). */
		mem->new_until = now_mono_ms() + gs->new_member_ms;
		kg_timer_at(gs, mem->new_until);
		mq_log(MQ_INFO, "Kafka group %s: member %s joins from %s", name, mem->id,
		       net_req_peer(req));
		/* Kafka's newMemberAdded: the initial delay goes on. */
		if (g->state == KG_PREPARING && g->generation == 0)
			g->new_member_added = true;
	} else if (member_protos_match(mem, m) &&
		   (g->state == KG_AWAIT_SYNC ||
		    (g->state == KG_STABLE && strcmp(g->leader, mem->id)))) {
		/* Kafka's doCurrentMemberJoinGroup: a member that joins
		 * again with the same protocols (it lost the answer of its
		 * JoinGroup, or a follower whose subscription did not
		 * change) gets this generation as it is, and syncs; only
		 * the leader's JoinGroup in a Stable group, or changed
		 * protocols, rebalance it (the leader sees the topic
		 * changes the members' metadata do not show). A rebalance
		 * here would send every member back to JoinGroup, and a
		 * client that retries its JoinGroup keep the group from
		 * settling. As Kafka's, this answer neither takes the
		 * request's timeouts nor starts the member's session again:
		 * its heartbeats and SyncGroup do. */
		if (mem->join)
			join_answer(g, mem, PROTO_ERR_REBALANCE_IN_PROGRESS);
		mem->join = req;
		join_answer(g, mem, PROTO_ERR_NONE);
		pthread_mutex_unlock(&gs->mu);
		return NET_PARKED;
	} else if (member_set_protos_counted(g, mem, m) < 0) {
		goto nomem;
	}
	if (g->nmembers == 1)
		snprintf(g->ptype, sizeof(g->ptype), "%.*s", (int)m->protocol_type.len,
			 m->protocol_type.ptr);
	mem->session_ms = m->session_timeout_ms;
	mem->rebalance_ms = rebalance_ms;
	mem->last_heard = now_mono_ms();
	char old_leader[KG_ID_MAX + 1];

	snprintf(old_leader, sizeof(old_leader), "%s", g->leader);
	if (stale && static_replace(g, stale, mem, net_req_peer(req)))
		return static_rejoin(gs, req, g, mem, old_leader); /* unlocks gs->mu */
	if (mem->join)
		join_answer(g, mem, PROTO_ERR_REBALANCE_IN_PROGRESS);
	mem->join = req;
	/* From here req is the group's: it may be answered (and freed) at once. */
	kg_prepare(gs, g, "a member joins");
	pthread_mutex_unlock(&gs->mu);
	return NET_PARKED;
nomem:
	pthread_mutex_unlock(&gs->mu);
	return -ENOMEM;
}

/* ---- SyncGroup, Heartbeat, LeaveGroup ---- */

static int sync_error(struct net_req *req, int16_t err)
{
	struct proto_sync_resp r = { .error_code = err,
				     .protocol_type = KSTR_NULL,
				     .protocol_name = KSTR_NULL,
				     .assignment = kstr_of("") };
	size_t pos = net_req_begin(req);
	int rc =
		proto_sync_resp_encode(&net_req_out(req)->w, net_req_msg(req)->hdr.api_version, &r);

	return rc ? rc : net_req_end(req, pos);
}

/* Kafka's member checks of Sync, Heartbeat and OffsetCommit: a static
 * member's group.instance.id is not another member's (that member
 * replaced this one: FENCED_INSTANCE_ID, so that two clients of one
 * instance id do not take the partitions from each other in turn), the
 * member is known and of this generation. It does not start the
 * member's session again: each request does that only where Kafka's
 * completes the member's heartbeat (a request refused here does not).
 * Needs gs->mu. */
int16_t kg_member_check(struct kgroup *g, struct kmember *mem, struct kstr instance,
			int32_t generation, const char *api, const char *peer, const char *name)
{
	struct kmember *owner;
	int16_t err = current_member_error(g, mem, instance, &owner);

	if (err == PROTO_ERR_FENCED_INSTANCE_ID) {
		mq_log_limited(MQ_INFO,
			       "%s from %s for group %s: group.instance.id %s is member %s now "
			       "(FENCED_INSTANCE_ID)",
			       api, peer, name, owner->instance_id, owner->id);
		return err;
	}
	if (err) {
		mq_log_limited(MQ_INFO, "%s from %s for group %s: unknown member%s", api, peer,
			       name, mem ? " of that group.instance.id" : "");
		return err;
	}
	if (generation != g->generation) {
		mq_log_limited(MQ_INFO,
			       "%s from %s for group %s: generation %d, the group is at %d", api,
			       peer, name, (int)generation, (int)g->generation);
		return PROTO_ERR_ILLEGAL_GENERATION;
	}
	return PROTO_ERR_NONE;
}

/* SyncGroup of a guest: its partitions, assigned here. */
static int guest_sync(struct group_serve *gs, struct net_req *req, const char *name)
{
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_sync_req *m = &pr->u.sync;
	char member[KG_ID_MAX + 1];
	struct proto_sync_resp r = { 0 };
	uint8_t *asg = NULL;
	size_t len = 0, pos;
	int rc;

	snprintf(member, sizeof(member), "%.*s", (int)m->member_id.len, m->member_id.ptr);
	r.error_code = group_guest_sync(gs->gc, name, member, m->generation_id, net_req_peer(req),
					&asg, &len);
	if (r.error_code)
		return sync_error(req, r.error_code);
	r.protocol_type = pr->hdr.api_version >= 5 ? m->protocol_type : KSTR_NULL;
	r.protocol_name = pr->hdr.api_version >= 5 ? m->protocol_name : KSTR_NULL;
	r.assignment = (struct kstr){ (const char *)asg, (int32_t)len };
	pos = net_req_begin(req);
	rc = proto_sync_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &r);
	free(asg);
	return rc ? rc : net_req_end(req, pos);
}

/* The leader's SyncGroup of group g (gs->mu held; released here): the
 * generation's metadata record with the leader's assignments is written
 * first, without gs->mu (the append waits for the in-sync replicas), and
 * the members are answered once it is in, as Kafka's storeGroup does, so
 * that a coordinator that takes over knows every member that was
 * answered. If the group moved on meanwhile (a member joined or left),
 * the leader learns REBALANCE_IN_PROGRESS; if the record cannot be
 * written, every member gets the error and the group rebalances. */
static int sync_store(struct group_serve *gs, struct net_req *req, struct kgroup *g,
		      const char *name)
{
	const struct proto_sync_req *m = &net_req_msg(req)->u.sync;
	int32_t generation = g->generation;
	struct kmember *mem;
	int16_t err;
	int rc;

	g = kg_store(gs, g, m, name, &rc);
	mem = kg_member(g, m->member_id);
	if (!mem || g->state != KG_AWAIT_SYNC || g->generation != generation ||
	    strcmp(g->leader, mem->id)) {
		/* Moved on; or dropped here, when another broker took the
		 * group over (the append then says so). */
		err = rc < 0 && !mem ? store_error(rc) : PROTO_ERR_REBALANCE_IN_PROGRESS;
		pthread_mutex_unlock(&gs->mu);
		return sync_error(req, err);
	}
	if (rc == 0) {
		mem->sync = req;
		rc = sync_complete(g, m);
		if (rc < 0)
			mem->sync = NULL;
		pthread_mutex_unlock(&gs->mu);
		return rc < 0 ? rc : NET_PARKED;
	}
	err = store_error(rc);
	mq_log(MQ_WARN,
	       "Kafka group %s: generation %d not completed: its metadata record was not "
	       "written (%s): the members rejoin",
	       name, (int)generation, strerror(-rc));
	for (struct kmember *x = g->members; x; x = x->next)
		sync_answer(g, x, err);
	kg_prepare(gs, g, "its metadata record was not written");
	pthread_mutex_unlock(&gs->mu);
	return sync_error(req, err);
}

static int sync_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_sync_req *m = &pr->u.sync;
	char name[TOPIC_NAME_MAX + 1];
	struct kgroup *g;
	struct kmember *mem;
	int16_t err;

	err = kg_check(gs, req, m->group_id, name, "SyncGroup");
	/* Kafka's handleSyncGroup: a coordinator loading the group lost the
	 * rebalance this SyncGroup completes; REBALANCE_IN_PROGRESS sends
	 * the member back to JoinGroup here. Java's consumer takes
	 * COORDINATOR_LOAD_IN_PROGRESS from SyncGroup for a fatal error, its
	 * poll() throws. */
	if (err == PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS)
		err = PROTO_ERR_REBALANCE_IN_PROGRESS;
	if (err)
		return sync_error(req, err);
	if (group_guest_id(m->member_id.ptr, m->member_id.len))
		return guest_sync(gs, req, name);
	pthread_mutex_lock(&gs->mu);
	g = kg_find(gs, name);
	mem = kg_member(g, m->member_id);
	err = gs->stop ? PROTO_ERR_COORDINATOR_NOT_AVAILABLE
		       : kg_member_check(g, mem, m->group_instance_id, m->generation_id,
					 "SyncGroup", net_req_peer(req), name);
	if (!err && ((m->protocol_type.len >= 0 && !kg_kstr_is(m->protocol_type, g->ptype)) ||
		     (m->protocol_name.len >= 0 && !kg_kstr_is(m->protocol_name, g->proto)))) {
		err = PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL;
		mq_log_limited(MQ_WARN,
			       "SyncGroup from %s for group %s: protocol %.*s/%.*s, the group's is "
			       "%s/%s",
			       net_req_peer(req), name,
			       m->protocol_type.len > 0 ? (int)m->protocol_type.len : 0,
			       m->protocol_type.ptr ? m->protocol_type.ptr : "",
			       m->protocol_name.len > 0 ? (int)m->protocol_name.len : 0,
			       m->protocol_name.ptr ? m->protocol_name.ptr : "", g->ptype,
			       g->proto);
	}
	if (!err && g->state == KG_PREPARING)
		err = PROTO_ERR_REBALANCE_IN_PROGRESS;
	if (!err && g->state == KG_AWAIT_SYNC && !strcmp(g->leader, mem->id)) {
		int64_t add = 0;

		for (int32_t i = 0; i < m->n_assignments; i++)
			add += m->assignments[i].assignment.len > 0
				       ? m->assignments[i].assignment.len
				       : 0;
		if (add > KG_GROUP_BYTES || gs->bytes + add > KG_ALL_BYTES) {
			err = PROTO_ERR_GROUP_MAX_SIZE_REACHED;
			mq_log_limited(MQ_WARN,
				       "SyncGroup from %s for group %s: %lld bytes of assignments "
				       "would pass the group's %d or all groups' %d",
				       net_req_peer(req), name, (long long)add, KG_GROUP_BYTES,
				       KG_ALL_BYTES);
		}
	}
	if (err) {
		pthread_mutex_unlock(&gs->mu);
		return sync_error(req, err);
	}
	/* Kafka's removePendingSyncMember (CompletingRebalance or Stable):
	 * the member synced this generation, kg_sync_expire keeps it. */
	mem->pending_sync = false;
	if (g->state == KG_STABLE) {
		mem->sync = req;
		sync_answer(g, mem, PROTO_ERR_NONE);
		pthread_mutex_unlock(&gs->mu);
		return NET_PARKED;
	}
	if (mem->sync)
		sync_answer(g, mem, PROTO_ERR_REBALANCE_IN_PROGRESS);
	if (!strcmp(g->leader, mem->id))
		return sync_store(gs, req, g, name); /* unlocks gs->mu */
	mem->sync = req;
	pthread_mutex_unlock(&gs->mu);
	return NET_PARKED;
}

static int heartbeat_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_heartbeat_req *m = &pr->u.heartbeat;
	char name[TOPIC_NAME_MAX + 1];
	struct proto_heartbeat_resp r = { 0 };
	size_t pos;
	int rc;

	r.error_code = kg_check(gs, req, m->group_id, name, "Heartbeat");
	/* Kafka's handleHeartbeat: while the coordinator loads the group the
	 * member is answered NONE and keeps its session and generation; its
	 * next heartbeat, once loaded, hears whether it is still a member
	 * (a loaded Stable group keeps it). Java's consumer has no case for
	 * COORDINATOR_LOAD_IN_PROGRESS in a heartbeat. */
	if (r.error_code == PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS)
		r.error_code = PROTO_ERR_NONE;
	else if (!r.error_code && group_guest_id(m->member_id.ptr, m->member_id.len)) {
		char member[KG_ID_MAX + 1];

		snprintf(member, sizeof(member), "%.*s", (int)m->member_id.len, m->member_id.ptr);
		r.error_code = group_guest_heartbeat(gs->gc, name, member, m->generation_id,
						     net_req_peer(req));
	} else if (!r.error_code) {
		struct kgroup *g;

		pthread_mutex_lock(&gs->mu);
		g = kg_find(gs, name);
		r.error_code =
			kg_member_check(g, kg_member(g, m->member_id), m->group_instance_id,
					m->generation_id, "Heartbeat", net_req_peer(req), name);
		/* Kafka's handleHeartbeat: only PreparingRebalance asks the
		 * member to rejoin. In CompletingRebalance the member has
		 * this generation's JoinGroup answer and is syncing (Java's
		 * consumer heartbeats meanwhile): NONE, else it would rejoin
		 * and restart the rebalance it is completing. */
		if (!r.error_code && g->state == KG_PREPARING)
			r.error_code = PROTO_ERR_REBALANCE_IN_PROGRESS;
		/* Kafka's handleHeartbeat completes the member's heartbeat
		 * only past these checks: a member that heartbeats an old
		 * generation (it never rejoined) still expires. */
		if (!r.error_code || r.error_code == PROTO_ERR_REBALANCE_IN_PROGRESS)
			kg_member(g, m->member_id)->last_heard = now_mono_ms();
		pthread_mutex_unlock(&gs->mu);
	}
	pos = net_req_begin(req);
	rc = proto_heartbeat_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &r);
	return rc ? rc : net_req_end(req, pos);
}

static int leave_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_leave_req *m = &pr->u.leave;
	int16_t v = pr->hdr.api_version;
	char name[TOPIC_NAME_MAX + 1];
	struct proto_leave_resp r = { 0 };
	size_t pos;
	int rc;

	r.members = calloc((size_t)m->n_members + 1, sizeof(*r.members));
	if (!r.members)
		return -ENOMEM;
	r.error_code = kg_check(gs, req, m->group_id, name, "LeaveGroup");
	if (!r.error_code) {
		struct kgroup *g;
		bool left = false, forgot = false;

		/* Guests first: their groups' locks come before gs->mu. */
		for (int32_t i = 0; i < m->n_members; i++) {
			struct kstr id = m->members[i].member_id;
			char member[KG_ID_MAX + 1];

			if (!group_guest_id(id.ptr, id.len))
				continue;
			snprintf(member, sizeof(member), "%.*s", (int)id.len, id.ptr);
			r.members[i].error_code =
				group_guest_leave(gs->gc, name, member, net_req_peer(req));
		}
		pthread_mutex_lock(&gs->mu);
		g = kg_find(gs, name);
		for (int32_t i = 0; i < m->n_members; i++) {
			struct kstr id = m->members[i].member_id;
			struct kmember *owner = kg_instance(g, m->members[i].group_instance_id);
			struct kmember *mem = id.len > 0 ? kg_member(g, id) : owner;
			int16_t err = mem ? PROTO_ERR_NONE : PROTO_ERR_UNKNOWN_MEMBER_ID;

			r.members[i].member_id = m->members[i].member_id;
			r.members[i].group_instance_id = m->members[i].group_instance_id;
			r.members[i].reason = KSTR_NULL;
			if (group_guest_id(id.ptr, id.len))
				continue;
			/* Kafka's isPendingMember: its id is forgotten. */
			if (!mem && kg_pending(g, id)) {
				kg_pending_drop(g, kg_pending(g, id));
				r.members[i].error_code = PROTO_ERR_NONE;
				forgot = true;
				continue;
			}
			/* Kafka's handleLeaveGroup (v3+): no member id removes
			 * the static member of the instance id (an admin's
			 * removeMembersFromConsumerGroup, so that the group
			 * need not wait its session timeout); a member id
			 * with an instance id another member holds now is a
			 * replaced client: FENCED_INSTANCE_ID, nothing
			 * removed; one with an instance id no member holds,
			 * UNKNOWN_MEMBER_ID (validateCurrentMember). */
			if (id.len > 0)
				err = current_member_error(g, mem, m->members[i].group_instance_id,
							   &owner);
			if (err == PROTO_ERR_FENCED_INSTANCE_ID) {
				r.members[i].error_code = PROTO_ERR_FENCED_INSTANCE_ID;
				mq_log_limited(MQ_INFO,
					       "LeaveGroup from %s for group %s: member %.*s of "
					       "group.instance.id %s, which member %s is now "
					       "(FENCED_INSTANCE_ID)",
					       net_req_peer(req), name, (int)id.len, id.ptr,
					       owner->instance_id, owner->id);
				continue;
			}
			if (err) {
				r.members[i].error_code = PROTO_ERR_UNKNOWN_MEMBER_ID;
				struct kstr inst = m->members[i].group_instance_id;

				mq_log_limited(MQ_INFO,
					       "LeaveGroup from %s for group %s: unknown "
					       "member %.*s (group.instance.id %.*s)",
					       net_req_peer(req), name,
					       id.len > 0 ? (int)id.len : 0, id.ptr ? id.ptr : "",
					       inst.len > 0 ? (int)inst.len : 1,
					       inst.len > 0 ? inst.ptr : "-");
				continue;
			}
			kg_remove(g, mem, PROTO_ERR_UNKNOWN_MEMBER_ID, "it left");
			left = true;
		}
		if (left)
			kg_prepare(gs, g, "a member left");
		else if (forgot)
			join_try_complete(g);
		pthread_mutex_unlock(&gs->mu);
		r.n_members = m->n_members;
		/* v0-2 name one member: its error is the response's. */
		if (v < 3 && m->n_members == 1)
			r.error_code = r.members[0].error_code;
	}
	if (v < 3)
		r.n_members = 0;
	pos = net_req_begin(req);
	rc = proto_leave_resp_encode(&net_req_out(req)->w, v, &r);
	free(r.members);
	return rc ? rc : net_req_end(req, pos);
}

/* ---- the timer: sessions and rebalance timeouts ---- */

/* Kafka's onExpirePendingSync (KAFKA-13200's DelayedSync): the
 * rebalance timeout after JoinGroup completed, the members that sent no
 * SyncGroup of the generation since are removed and the group
 * rebalances, whether the leader's SyncGroup made it Stable or not:
 * their heartbeats keep their sessions, but they never learned their
 * assignment, so their partitions would go unread. Needs gs->mu. */
static void kg_sync_expire(struct group_serve *gs, struct kgroup *g)
{
	bool gone = false;

	g->sync_deadline = 0;
	for (struct kmember *m = g->members, *nx; m; m = nx) {
		nx = m->next;
		if (m->pending_sync) {
			kg_remove(g, m, PROTO_ERR_UNKNOWN_MEMBER_ID,
				  "did not sync within the rebalance timeout");
			gone = true;
		}
	}
	if (gone)
		kg_prepare(gs, g, "members did not sync");
}

/* Kafka's InitialDelayedJoin.onComplete: at the end of a delay during
 * which new members joined, another (group.initial.rebalance.delay.ms,
 * within what is left of the rebalance timeout); true then. Else the
 * delay is over (false): the JoinGroup round completes. Needs gs->mu. */
static bool kg_initial_delay_more(struct group_serve *gs, struct kgroup *g, int64_t now)
{
	int64_t delay = broker_cfg(gs->ka->b)->group_initial_delay_ms;

	if (!g->initial_delay)
		return false;
	if (!g->new_member_added || g->initial_left <= 0) {
		g->initial_delay = false;
		return false;
	}
	g->new_member_added = false;
	g->deadline = now + (delay < g->initial_left ? delay : g->initial_left);
	kg_timer_at(gs, g->deadline);
	g->initial_left = g->initial_left > delay ? g->initial_left - delay : 0;
	return true;
}

/* One pass over every group; returns the ms until the next deadline.
 * Needs gs->mu. */
void kg_timer_kick(struct group_serve *gs)
{
	/* Once stopped, the timer is gone or about to go, and the
	 * coordinator may be freed before a second stop. */
	if (!gs->stop)
		group_timer_kick(gs->gc);
}

void kg_timer_at(struct group_serve *gs, int64_t due)
{
	if (due < gs->wake_at) {
		gs->wake_at = due;
		kg_timer_kick(gs);
	}
}

/* The Kafka groups' deadlines that passed, acted on; the ms to the
 * earliest one still ahead (at least 1), INT64_MAX when none. Needs
 * gs->mu. */
static int64_t timer_pass(struct group_serve *gs)
{
	int64_t now = now_mono_ms(), next = INT64_MAX;

	for (struct kgroup **pp = &gs->groups; *pp;) {
		struct kgroup *g = *pp;
		const char *gone = NULL;
		bool forgot = false;

		for (struct kpending *p = g->pending, *pn; p; p = pn) {
			pn = p->next;
			if (now >= p->expires) {
				kg_pending_drop(g, p); /* never came back */
				forgot = true;
			} else if (p->expires - now < next) {
				next = p->expires - now;
			}
		}
		if (forgot)
			join_try_complete(g);
		for (struct kmember *m = g->members, *nx; m; m = nx) {
			/* Kafka's hasSatisfiedHeartbeat: a new member expires
			 * at its join timeout, its JoinGroup parked or not; a
			 * member of a generation never while it waits in a
			 * JoinGroup or SyncGroup. */
			int64_t due = m->new_until ? m->new_until : m->last_heard + m->session_ms;

			nx = m->next;
			if (!m->new_until && (m->join || m->sync))
				continue;
			if (now >= due) {
				gone = m->new_until ? "a new member's join timeout expired"
						    : "a member's session expired";
				kg_remove(g, m, PROTO_ERR_UNKNOWN_MEMBER_ID,
					  m->new_until ? "joined no generation within the new "
							 "member join timeout"
						       : "session timeout expired");
			} else if (due - now < next) {
				next = due - now;
			}
		}
		if (gone)
			kg_prepare(gs, g, gone);
		if (g->state == KG_PREPARING && !g->storing) {
			if (now >= g->deadline && !kg_initial_delay_more(gs, g, now))
				join_complete(g);
			else if (g->deadline - now < next)
				next = g->deadline - now;
		}
		/* The generation's SyncGroups, awaited in CompletingRebalance
		 * and in Stable alike (the leader's made it Stable, a
		 * follower's may still be missing); the append of the
		 * leader's record finishes first. */
		if (g->sync_deadline && (g->state == KG_AWAIT_SYNC || g->state == KG_STABLE) &&
		    !g->storing) {
			if (now >= g->sync_deadline)
				kg_sync_expire(gs, g);
			else if (g->sync_deadline - now < next)
				next = g->sync_deadline - now;
		}
		pp = &g->next;
	}
	return next < 1 ? 1 : next;
}

/* Whether group name has committed offsets here: a topic's group of
 * that name (the mount's groups hold a Kafka group's offsets). Needs
 * coord.mu. */
static bool kg_has_offsets(struct group_coord *gc, const char *name)
{
	for (int i = 0; i < gc->ngroups; i++)
		if (!strcmp(gc->groups[i]->name, name) && !gc->groups[i]->proxy)
			return true;
	return false;
}

/* Unlinks g from gs->groups and frees it (it has no members). Needs
 * gs->mu. */
static void kg_unlink(struct group_serve *gs, struct kgroup *g)
{
	for (struct kgroup **pp = &gs->groups; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	kg_group_free(g);
}

/* Since when the offsets of g (a topic's group) may age (wall ms, 0:
 * only their commit times count), or -1 when none expires now. As
 * Kafka's removeExpiredOffsets: while its Kafka group has members, only
 * when it is a Stable "consumer" group none of whose members subscribes
 * to g's topic (KIP-496; *unsubscribed set), by their commit times alone;
 * an Empty one with a protocol type (consumers joined it) from when it
 * became Empty; one without (standalone commits) by the commit times.
 * Needs coord.mu (a join takes it: the answer holds while it is held);
 * takes gs->mu. */
static int64_t kg_idle_since(struct group_serve *gs, const struct group *g, bool *unsubscribed)
{
	struct kgroup *kg;
	int64_t since = 0;

	*unsubscribed = false;
	pthread_mutex_lock(&gs->mu);
	kg = kg_find(gs, g->name);
	if (kg && kg->state == KG_STABLE && !kg->storing && !kg_subscribes(kg, kstr_of(g->topic)))
		*unsubscribed = true;
	else if (kg && (kg->nmembers > 0 || kg->state != KG_EMPTY || kg->storing))
		since = -1;
	else if (kg && kg->ptype[0])
		since = kg->empty_since;
	pthread_mutex_unlock(&gs->mu);
	return since;
}

/* Expires g's committed offsets whose retention (ret ms) counted from
 * since or their commit, whichever is later, has passed at now, or whose
 * commit gave its own expiry time (expire_ts) now reached: their
 * tombstones are written before memory forgets them, so that no replay
 * or new coordinator brings them back. The count expired (*left: whether
 * g keeps any), or the append's error (logged; tried again at the next
 * check). Needs g->mu. */
static int expire_offsets(struct group *g, int64_t since, int64_t now, int64_t ret, bool *left)
{
	int *parts = malloc((size_t)g->nparts * sizeof(*parts) + 1);
	int n = 0, rc;

	*left = false;
	if (!parts) {
		mq_log(MQ_ERR, "group %s of topic %s: its offsets not expired: %s", g->name,
		       g->topic, strerror(ENOMEM));
		return -ENOMEM;
	}
	for (int p = 0; p < g->nparts; p++) {
		const struct gpart *gp = &g->parts[p];
		int64_t base = gp->commit_ts > since ? gp->commit_ts : since;

		if (!gp->stored)
			continue;
		/* A commit with its own retention (Kafka's expireTimestamp)
		 * expires at its time, whatever since: getExpiredOffsets. */
		if (gp->expire_ts >= 0 ? now >= gp->expire_ts : now - base >= ret)
			parts[n++] = p;
		else
			*left = true;
	}
	rc = n > 0 ? group_store_offsets_delete(g, parts, n) : 0;
	free(parts);
	if (rc < 0)
		mq_log(MQ_ERR,
		       "group %s of topic %s: %d expired offsets not removed (%s): tried again "
		       "at the next check",
		       g->name, g->topic, n, strerror(-rc));
	return rc < 0 ? rc : n;
}

/* Removes g, whose offsets all expired, with its tombstone (as rmdir
 * writes it), as Kafka's cleanup removes the Empty group its expiry left
 * without offsets; unless a member came or a commit made since (it then
 * stays). 0 removed, -EBUSY, or the append's error. Takes coord.mu, gs->mu
 * (briefly), then g->mu. */
static int remove_emptied(struct group_serve *gs, struct group *g)
{
	struct group_coord *gc = gs->gc;
	bool unsubscribed;
	int i, rc = -EBUSY;

	pthread_mutex_lock(&gc->mu);
	for (i = 0; i < gc->ngroups && gc->groups[i] != g; i++)
		;
	if (i == gc->ngroups || kg_idle_since(gs, g, &unsubscribed) < 0) {
		pthread_mutex_unlock(&gc->mu);
		return -EBUSY;
	}
	pthread_mutex_lock(&g->mu);
	if (!g->deleted && !g->moved && g->nmembers == 0) {
		rc = 0;
		for (int p = 0; p < g->nparts && rc == 0; p++)
			if (g->parts[p].stored)
				rc = -EBUSY;
	}
	rc = rc == 0 ? group_store_tombstones(g) : rc;
	if (rc == 0) {
		g->deleted = true;
		group_coord_remove(gc, i, true);
	}
	pthread_mutex_unlock(&g->mu);
	pthread_mutex_unlock(&gc->mu);
	if (rc == 0)
		group_put(g); /* the coordinator's reference */
	return rc;
}

/* Kafka's expiry of committed offsets (GroupMetadata.removeExpiredOffsets,
 * KIP-211), every offsets.retention.check.interval.ms: of each group this
 * broker coordinates that has no members, neither consume files nor Kafka
 * consumers, the offsets older than offsets.retention.minutes, counted
 * from their commit (the timestamp of its record, kept across a restart
 * or a move) or from when the group last lost its last member, whichever
 * is later: a consumer that stays away that long starts again at
 * auto.offset.reset, as in Kafka. And (KIP-496) of a Stable "consumer"
 * group, the offsets of each topic none of its members subscribes to,
 * by their commit times alone (kg_idle_since); nothing of a group whose
 * subscriptions cannot be read. A topic's group left without offsets
 * goes (its Kafka group, Stable, stays). One
 * log line per group that lost any. The groups are listed under coord.mu,
 * then each is expired under its own lock only, so that the appends (they
 * wait for the replicas) do not hold up every group's lookups; a member
 * that joins meanwhile finds the offsets there or not, as it would a
 * moment earlier or later. Takes coord.mu, gs->mu, each group's lock;
 * none held on entry. */
static void kg_remove_expired_offsets(struct group_serve *gs)
{
	struct group_coord *gc = gs->gc;
	int64_t now = engine_now_ms();
	int64_t ret = (int64_t)broker_cfg(gs->ka->b)->offsets_retention_minutes * 60000;
	struct expiring {
		struct group *g;
		int64_t since;
		bool unsubscribed;
	} * cand;
	int n = 0;

	pthread_mutex_lock(&gc->mu);
	cand = malloc((size_t)gc->ngroups * sizeof(*cand) + 1);
	for (int i = 0; cand && i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];

		if (g->proxy || (cand[n].since = kg_idle_since(gs, g, &cand[n].unsubscribed)) < 0)
			continue;
		atomic_fetch_add(&g->refs, 1);
		cand[n++].g = g;
	}
	pthread_mutex_unlock(&gc->mu);
	if (!cand)
		mq_log(MQ_ERR, "committed offsets not expired: %s", strerror(ENOMEM));
	for (int k = 0; k < n; k++) {
		struct group *g = cand[k].g;
		int64_t since = cand[k].since;
		const char *why = cand[k].unsubscribed
					  ? "; no member of its Kafka group subscribes "
					    "to the topic"
					  : "";
		bool left = true;
		int x = 0, rc = 0;

		pthread_mutex_lock(&g->mu);
		/* A Stable group's offsets of a topic it no longer reads count
		 * from their commits alone (Kafka's commitTimestamp): the
		 * mount's members leaving was not the group becoming Empty. */
		if (!cand[k].unsubscribed && g->idle_since > since)
			since = g->idle_since;
		if (!g->deleted && !g->moved && g->nmembers == 0)
			x = expire_offsets(g, since, now, ret, &left);
		pthread_mutex_unlock(&g->mu);
		if (x > 0 && !left && (rc = remove_emptied(gs, g)) == 0)
			mq_log(MQ_INFO,
			       "group %s of topic %s: %d committed offsets expired "
			       "(offsets.retention.minutes%s): removed with its tombstones",
			       g->name, g->topic, x, why);
		else if (x > 0)
			mq_log(MQ_INFO,
			       "group %s of topic %s: %d committed offsets expired "
			       "(offsets.retention.minutes%s), their tombstones written%s%s",
			       g->name, g->topic, x, why,
			       left ? "" : "; the group stays: ", left ? "" : strerror(-rc));
		group_put(g);
	}
	free(cand);
}

/* Kafka's offsets cleanup (GroupMetadataManager.cleanupGroupMetadata,
 * every offsets.retention.check.interval.ms): the offsets expire first
 * (kg_remove_expired_offsets); then a group Empty now and without committed
 * offsets goes Dead and is removed, its tombstone written (queued, in
 * order after its Empty record), so that no coordinator loads it again.
 * Until then it stays, as in Kafka: listed, described, deleted
 * (DeleteGroups answers NONE). Takes coord.mu, then gs->mu. */
static void kg_cleanup(struct group_serve *gs)
{
	struct group_coord *gc = gs->gc;

	kg_remove_expired_offsets(gs);
	pthread_mutex_lock(&gc->mu);
	pthread_mutex_lock(&gs->mu);
	for (struct kgroup *g = gs->groups, *nx; g; g = nx) {
		nx = g->next;
		if (g->nmembers > 0 || g->storing || kg_has_offsets(gc, g->name))
			continue;
		mq_log(MQ_INFO,
		       "Kafka group %s: Empty without committed offsets: removed (Dead), its "
		       "metadata tombstone written",
		       g->name);
		kg_queue_tombstone(gs, g->name);
		kg_unlink(gs, g);
	}
	pthread_mutex_unlock(&gs->mu);
	pthread_mutex_unlock(&gc->mu);
}

int kg_delete(struct group_serve *gs, const char *name)
{
	struct kgroup *g;
	uint64_t seq;
	int rc;

	pthread_mutex_lock(&gs->mu);
	g = kg_find(gs, name);
	if (g && g->nmembers > 0) {
		pthread_mutex_unlock(&gs->mu);
		return -EBUSY;
	}
	if (g)
		kg_unlink(gs, g); /* Dead */
	seq = kg_ticket(gs, name);
	rc = seq ? kg_write(gs, name, seq, NULL, 0) : -ENOMEM;
	pthread_mutex_unlock(&gs->mu);
	return rc;
}

/* The timer thread: the deadlines of the Kafka groups (sessions,
 * rebalances, SyncGroups, pending members), the guests' sessions, the
 * offsets cleanup every offsets.retention.check.interval.ms, the records
 * to write. It sleeps to the earliest deadline, as Kafka's timing wheel
 * of DelayedOperations does, and is woken by what sets a sooner one
 * (kg_timer_at, group_timer_kick). What it polls for lack of an event
 * (a coordinator that moved away from a consume file's group in a
 * cluster, a leader to ask for its log end, an idle group's record to
 * write again) keeps it to a second while there is any. */
static void *timer_main(void *arg)
{
	struct group_serve *gs = arg;
	int64_t every = broker_cfg(gs->ka->b)->offsets_retention_check_ms;

	pthread_mutex_lock(&gs->mu);
	gs->cleanup_at = now_mono_ms() + every;
	while (!gs->stop) {
		int64_t next, pass, now;
		bool poll;

		/* Awake: a deadline set from here on is seen by the pass. */
		gs->wake_at = 0;
		/* The records' appends wait for the replicas (gs->mu is let
		 * go during each). */
		kg_writes_flush(gs);
		/* The mount members of other brokers (group_guest.c) and the
		 * cleanup take coord.mu, which comes before gs->mu. */
		pthread_mutex_unlock(&gs->mu);
		next = group_guests_expire(gs->gc, INT64_MAX);
		poll = group_remote_adopt(gs->gc);
		poll |= group_past_end_check(gs->gc);
		group_store_idle_flush(gs->gc);
		poll |= atomic_load(&gs->gc->idle_unsaved) > 0; /* a failed write */
		now = now_mono_ms();
		if (now >= gs->cleanup_at) {
			kg_cleanup(gs);
			atomic_fetch_add(&gs->cleanups, 1);
			gs->cleanup_at = now + every;
		}
		if (gs->cleanup_at - now < next)
			next = gs->cleanup_at - now;
		if (poll && KG_TICK_MAX_MS < next)
			next = KG_TICK_MAX_MS;
		pthread_mutex_lock(&gs->mu);
		if (gs->stop)
			break;
		pass = timer_pass(gs);
		if (pass < next)
			next = pass;
		if (gs->writes)
			continue; /* queued while gs->mu was let go */
		if (next < 1)
			next = 1;
		gs->wake_at = now_mono_ms() + next;
		atomic_store(&gs->sleep_ms, next);
		atomic_fetch_add(&gs->sleeps, 1);
		pthread_mutex_unlock(&gs->mu);
		group_timer_sleep(gs->gc, next);
		pthread_mutex_lock(&gs->mu);
	}
	/* The records queued last: the broker is still open. */
	kg_writes_flush(gs);
	pthread_mutex_unlock(&gs->mu);
	return NULL;
}

/* ---- life ---- */

int group_serve_new(struct kafka_api *ka, struct group_serve **out)
{
	struct group_serve *gs = calloc(1, sizeof(*gs));
	int rc;

	*out = NULL;
	if (!gs)
		return -ENOMEM;
	gs->ka = ka;
	gs->gc = ka->b->gc;
	gs->new_member_ms = KG_NEW_MEMBER_MS;
	if (!gs->gc) { /* a broker without groups (unit tests of the listener) */
		free(gs);
		return 0;
	}
	pthread_mutex_init(&gs->mu, NULL);
	pthread_cond_init(&gs->store_cv, NULL);
	rc = pthread_create(&gs->th, NULL, timer_main, gs);
	if (rc) {
		pthread_cond_destroy(&gs->store_cv);
		pthread_mutex_destroy(&gs->mu);
		free(gs);
		return -rc;
	}
	pthread_setname_np(gs->th, "mqfs-groups");
	gs->running = true;
	pthread_mutex_lock(&gs->gc->mu);
	gs->gc->kafka_active = kafka_active;
	gs->gc->kafka_dissolve = kafka_dissolve;
	gs->gc->kafka_describe = kafka_describe;
	gs->gc->kafka_coordinator = kafka_coordinator;
	gs->gc->kafka_drop = kafka_drop;
	gs->gc->kafka_others = kafka_others;
	gs->gc->kafka_load = kg_meta_load;
	gs->gc->kafka_arg = gs;
	/* One node: the groups the replay at open found. */
	group_store_kmeta_deliver(gs->gc);
	pthread_mutex_unlock(&gs->gc->mu);
	gs->hooked = true;
	*out = gs;
	return 0;
}

int group_serve_register(struct group_serve *gs, struct net_server *srv)
{
	static const struct {
		int16_t key;
		net_handler_fn fn;
	} apis[] = {
		{ PROTO_API_FIND_COORDINATOR, find_coord_handler },
		{ PROTO_API_JOIN_GROUP, join_handler },
		{ PROTO_API_SYNC_GROUP, sync_handler },
		{ PROTO_API_HEARTBEAT, heartbeat_handler },
		{ PROTO_API_LEAVE_GROUP, leave_handler },
	};
	int rc = 0;

	for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]) && rc == 0; i++)
		rc = net_server_handle(srv, apis[i].key, apis[i].fn, gs);
	rc = rc ? rc : group_admin_serve_register(gs, srv);
	rc = rc ? rc : group_list_serve_register(gs, srv);
	return rc ? rc : group_serve_offsets_register(gs, srv);
}

void group_serve_stop(struct group_serve *gs)
{
	if (!gs)
		return;
	if (gs->hooked) {
		pthread_mutex_lock(&gs->gc->mu);
		gs->gc->kafka_active = NULL;
		gs->gc->kafka_dissolve = NULL;
		gs->gc->kafka_describe = NULL;
		gs->gc->kafka_coordinator = NULL;
		gs->gc->kafka_drop = NULL;
		gs->gc->kafka_others = NULL;
		gs->gc->kafka_load = NULL;
		gs->gc->kafka_arg = NULL;
		pthread_mutex_unlock(&gs->gc->mu);
		gs->hooked = false;
	}
	pthread_mutex_lock(&gs->mu);
	gs->stop = true;
	for (struct kgroup *g = gs->groups; g; g = g->next) {
		for (struct kmember *m = g->members; m; m = m->next) {
			join_answer(g, m, PROTO_ERR_COORDINATOR_NOT_AVAILABLE);
			sync_answer(g, m, PROTO_ERR_COORDINATOR_NOT_AVAILABLE);
		}
	}
	if (gs->running)
		group_timer_kick(gs->gc);
	pthread_mutex_unlock(&gs->mu);
	if (gs->running) {
		pthread_join(gs->th, NULL);
		gs->running = false;
	}
}

void group_serve_free(struct group_serve *gs)
{
	if (!gs)
		return;
	group_serve_stop(gs);
	while (gs->writes) {
		struct kwrite *kw = gs->writes;

		gs->writes = kw->next;
		free(kw->value);
		free(kw);
	}
	while (gs->groups) {
		struct kgroup *g = gs->groups;

		gs->groups = g->next;
		while (g->members) {
			struct kmember *m = g->members;

			g->members = m->next;
			kg_member_free(m);
		}
		kg_group_free(g);
	}
	while (gs->kseqs) {
		struct kseq *q = gs->kseqs;

		gs->kseqs = q->next;
		free(q);
	}
	pthread_cond_destroy(&gs->store_cv);
	pthread_mutex_destroy(&gs->mu);
	free(gs);
}
