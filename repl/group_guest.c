/*
 * group_guest.c — on a group's coordinator, the mount members of the other
 * brokers ("guests"): a `consume` file opened on mnt2 of a group that
 * broker 1 coordinates is a member of broker 1's group, in the same list
 * as broker 1's own consume files, and the group's assignor hands out the
 * partitions over all of them.
 *
 * The member's broker speaks Kafka's group protocol to the coordinator
 * (group_remote.c is that side) with the protocol type "mqfs", as Kafka
 * Connect uses "connect": the coordinator, not a leader member, assigns.
 *
 *   JoinGroup   metadata: a consumer protocol subscription (v0) of the
 *               group's one topic, user_data "pid@broker". member_id ""
 *               adds a guest and rebalances at once (nothing to wait for:
 *               the assignor runs here); a known member_id rejoins
 *               without a rebalance, and learns the generation. The
 *               answer names the member itself as leader, with no member
 *               list: there is nothing for it to assign.
 *   SyncGroup   its partitions of the generation, as a consumer protocol
 *               assignment (v0); ILLEGAL_GENERATION for an older one.
 *   Heartbeat   REBALANCE_IN_PROGRESS once the generation moved on (a
 *               member joined or left, here or on any broker): the
 *               member's broker then rejoins and syncs.
 *   LeaveGroup  removes it and rebalances.
 *   OffsetCommit (group_serve_offsets.c) is taken for the partitions the
 *               guest owns now (group_guest_owns), whatever the
 *               generation: the rule of the local members, whose commits
 *               count only while they own the partition.
 *
 * A guest not heard from (any of the above) within the group's
 * session.timeout.ms is dropped (group_guests_expire, from the listener's
 * group timer) and the group rebalances: so a broker killed with its
 * members loses their partitions to the others after that long.
 *
 * Kafka consumers (protocol type "consumer", one topic) that join a group
 * while consume files are its members are guests too: the same rules,
 * with their own session timeout, answered as followers of
 * "mqfs-coordinator" (they assign nothing) and with ids
 * "consumer-<seq>-<client id>@kafka".
 *
 * Errors (Kafka's): UNKNOWN_MEMBER_ID (not a guest of the group: dropped,
 * or never joined), ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
 * INCONSISTENT_GROUP_PROTOCOL (the metadata is not a subscription of one
 * topic), UNKNOWN_TOPIC_OR_
 * PARTITION, GROUP_MAX_SIZE_REACHED; each refusal one log line.
 *
 * Locks: coord.mu (the groups, and the check of Kafka members through the
 * kafka_active hook), then group.mu; listener workers and the group timer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_int.h"
#include "repl/proto.h"
#include "util/clock.h"
#include "util/diaglog.h"

#define GUEST_MAX_MEMBERS 1000 /* of one group, as Kafka groups (group_serve) */

bool group_guest_id(const char *id, int32_t len)
{
	return id && len > 0 && memchr(id, '@', (size_t)len) != NULL;
}

/* The guest of that id in a group of that name, with its group locked
 * (g->mu), or NULL with nothing locked. Needs coord.mu. */
static struct group_member *guest_find(struct group_coord *gc, const char *name, const char *member)
{
	for (int i = 0; i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];

		if (strcmp(g->name, name))
			continue;
		pthread_mutex_lock(&g->mu);
		for (struct group_member *m = g->members; m; m = m->next)
			if (m->guest && !strcmp(m->id, member))
				return m; /* g->mu held */
		pthread_mutex_unlock(&g->mu);
	}
	return NULL;
}

/* The topic of a subscription of exactly one topic, and the pid and
 * broker of its user_data; -EBADMSG otherwise. */
static int guest_sub(const uint8_t *meta, size_t len, char topic[TOPIC_NAME_MAX + 1], int *pid,
		     int *broker)
{
	struct proto_consumer_sub sub;
	char ud[32] = "";
	int rc = proto_consumer_sub_decode(meta, len, &sub);

	if (rc < 0)
		return rc;
	if (sub.n_topics != 1 || sub.topics[0].len <= 0 || sub.topics[0].len > TOPIC_NAME_MAX) {
		rc = -EBADMSG;
		goto out;
	}
	snprintf(topic, TOPIC_NAME_MAX + 1, "%.*s", (int)sub.topics[0].len, sub.topics[0].ptr);
	if (strlen(topic) != (size_t)sub.topics[0].len)
		rc = -EBADMSG;
	if (sub.user_data.len > 0 && sub.user_data.len < (int32_t)sizeof(ud))
		memcpy(ud, sub.user_data.ptr, (size_t)sub.user_data.len);
	if (pid && sscanf(ud, "%d@%d", pid, broker) != 2)
		rc = -EBADMSG;
out:
	proto_consumer_sub_free(&sub);
	return rc;
}

void group_client_tag(struct kstr client, char *tag, size_t cap, const char *none)
{
	size_t n = 0;

	for (int32_t i = 0; client.ptr && i < client.len && n + 1 < cap; i++) {
		char ch = client.ptr[i];

		tag[n++] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')
				   ? ch
				   : '_';
	}
	tag[n] = '\0';
	if (!n)
		snprintf(tag, cap, "%s", none);
}

/* Adds a guest to g and rebalances: a mount member of broker (client
 * NULL) or a Kafka consumer. Needs g->mu. */
static int16_t guest_add(struct group *g, int pid, int broker, const char *client,
			 int32_t session_ms, const char *peer, struct group_member **out)
{
	struct group_member *m;
	int rc;

	if (g->nmembers >= GUEST_MAX_MEMBERS) {
		mq_log_limited(MQ_WARN, "JoinGroup from %s for group %s: %d members already", peer,
			       g->name, g->nmembers);
		return PROTO_ERR_GROUP_MAX_SIZE_REACHED;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return PROTO_ERR_UNKNOWN_SERVER_ERROR;
	m->g = g;
	m->pid = pid;
	m->guest = true;
	m->active = true;
	m->last_heard = now_mono_ms();
	/* The local members' order: ids sort in join order. */
	if (client) {
		char tag[25];

		group_client_tag(kstr_of(client), tag, sizeof(tag), "kafka");
		m->session_ms = session_ms;
		snprintf(m->id, sizeof(m->id), "consumer-%06" PRIu64 "-%s@kafka", ++g->next_member,
			 tag);
	} else {
		snprintf(m->id, sizeof(m->id), "consumer-%06" PRIu64 "-%d@%d", ++g->next_member,
			 pid, broker);
	}
	rc = group_member_add(g, m);
	if (rc < 0) {
		free(m);
		return proto_err_from_errno(rc);
	}
	if (client)
		mq_log(MQ_INFO,
		       "group %s of topic %s: %s (Kafka consumer %s from %s) joined, generation %d",
		       g->name, g->topic, m->id, client, peer, (int)g->generation);
	else
		mq_log(MQ_INFO,
		       "group %s of topic %s: %s (pid %d on broker %d, from %s) joined, "
		       "generation %d",
		       g->name, g->topic, m->id, pid, broker, peer, (int)g->generation);
	*out = m;
	return PROTO_ERR_NONE;
}

bool group_guest_mount_active(struct group_coord *gc, const char *name)
{
	bool any = false;

	for (int i = 0; i < gc->ngroups && !any; i++) {
		struct group *g = gc->groups[i];

		if (strcmp(g->name, name))
			continue;
		pthread_mutex_lock(&g->mu);
		any = g->nmembers > 0;
		pthread_mutex_unlock(&g->mu);
	}
	return any;
}

int16_t group_guest_join(struct group_coord *gc, const char *name, const char *member,
			 const char *client, int32_t session_ms, const uint8_t *meta,
			 size_t meta_len, const char *peer, int32_t *generation, char *member_out)
{
	char topic[TOPIC_NAME_MAX + 1];
	struct group_member *m = NULL;
	struct topic *t = NULL;
	struct group *g = NULL;
	int pid, broker, rc;
	int16_t err = PROTO_ERR_NONE;

	if (member[0]) {
		pthread_mutex_lock(&gc->mu);
		m = guest_find(gc, name, member);
		pthread_mutex_unlock(&gc->mu);
		if (!m) {
			mq_log_limited(MQ_INFO, "JoinGroup from %s for group %s: unknown member %s",
				       peer, name, member);
			return PROTO_ERR_UNKNOWN_MEMBER_ID;
		}
		m->last_heard = now_mono_ms();
		*generation = m->g->generation;
		snprintf(member_out, sizeof(m->id), "%s", m->id);
		pthread_mutex_unlock(&m->g->mu);
		return PROTO_ERR_NONE;
	}
	pid = broker = 0;
	if (guest_sub(meta, meta_len, topic, client ? NULL : &pid, &broker) < 0) {
		if (client)
			mq_log_limited(MQ_WARN,
				       "JoinGroup from %s for group %s refused: consume files are "
				       "its members, and a Kafka consumer joins them with a "
				       "subscription of one topic",
				       peer, name);
		else
			mq_log_limited(MQ_WARN,
				       "JoinGroup from %s for group %s: protocol type %s needs a "
				       "subscription of one topic and user data pid@broker",
				       peer, name, GROUP_GUEST_PTYPE);
		return PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL;
	}
	if (!topic_name_valid(topic) || broker_topic_get(gc->b, topic, &t) < 0) {
		mq_log_limited(MQ_WARN, "JoinGroup from %s for group %s: unknown topic %s", peer,
			       name, topic);
		return PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	rc = group_open(t, name, GROUP_CREATE, &g);
	if (rc < 0) {
		err = rc == -ENOENT ? PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION
				    : proto_err_from_errno(rc);
		goto out;
	}
	/* coord.mu across the check and the join, as group_join: Kafka
	 * consumers of a group of their own join this one instead. */
	pthread_mutex_lock(&gc->mu);
	if (gc->kafka_active && gc->kafka_active(gc->kafka_arg, name) && gc->kafka_dissolve)
		gc->kafka_dissolve(gc->kafka_arg, name);
	rc = group_lock_live(g);
	if (rc < 0) {
		pthread_mutex_unlock(&gc->mu);
		err = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		goto out;
	}
	err = guest_add(g, pid, broker, client, session_ms, peer, &m);
	if (!err) {
		*generation = g->generation;
		snprintf(member_out, sizeof(m->id), "%s", m->id);
	}
	pthread_mutex_unlock(&g->mu);
	pthread_mutex_unlock(&gc->mu);
out:
	group_put(g);
	if (t)
		topic_put(t);
	return err;
}

/* The guest of that id, heard from now, with its group locked; or an
 * error (logged) with nothing locked. */
static int16_t guest_lookup(struct group_coord *gc, const char *name, const char *member,
			    const char *api, const char *peer, struct group_member **out)
{
	pthread_mutex_lock(&gc->mu);
	*out = guest_find(gc, name, member);
	pthread_mutex_unlock(&gc->mu);
	if (!*out) {
		mq_log_limited(MQ_INFO, "%s from %s for group %s: unknown member %s", api, peer,
			       name, member);
		return PROTO_ERR_UNKNOWN_MEMBER_ID;
	}
	(*out)->last_heard = now_mono_ms();
	return PROTO_ERR_NONE;
}

int16_t group_guest_sync(struct group_coord *gc, const char *name, const char *member,
			 int32_t generation, const char *peer, uint8_t **asg, size_t *asg_len)
{
	struct proto_topic_partitions tp = { 0 };
	struct proto_consumer_asg a = { .version = 0, .n_assigned = 1, .assigned_partitions = &tp };
	struct group_member *m;
	struct group *g;
	struct kbuf_w w;
	int16_t err = guest_lookup(gc, name, member, "SyncGroup", peer, &m);

	*asg = NULL;
	*asg_len = 0;
	if (err)
		return err;
	g = m->g;
	if (generation != g->generation) {
		mq_log_limited(MQ_INFO,
			       "SyncGroup from %s for group %s: generation %d, the group is at %d",
			       peer, name, (int)generation, (int)g->generation);
		err = PROTO_ERR_ILLEGAL_GENERATION;
		goto out;
	}
	tp.topic = kstr_of(g->topic);
	tp.partitions = calloc((size_t)g->nparts + 1, sizeof(*tp.partitions));
	if (!tp.partitions) {
		err = PROTO_ERR_UNKNOWN_SERVER_ERROR;
		goto out;
	}
	for (int p = 0; p < g->nparts; p++)
		if (g->parts[p].owner == m)
			tp.partitions[tp.n_partitions++] = p;
	a.user_data = KSTR_NULL;
	kbuf_w_init(&w, 1u << 20);
	if (proto_consumer_asg_encode(&w, &a) < 0 || kbuf_w_err(&w)) {
		kbuf_w_free(&w);
		err = PROTO_ERR_UNKNOWN_SERVER_ERROR;
		goto out;
	}
	*asg = w.buf;
	*asg_len = w.len;
out:
	pthread_mutex_unlock(&g->mu);
	free(tp.partitions);
	return err;
}

int16_t group_guest_heartbeat(struct group_coord *gc, const char *name, const char *member,
			      int32_t generation, const char *peer)
{
	struct group_member *m;
	int16_t err = guest_lookup(gc, name, member, "Heartbeat", peer, &m);

	if (err)
		return err;
	/* A rebalance here is instant: an older generation means one
	 * happened, and the member must rejoin to learn its partitions. */
	if (generation != m->g->generation)
		err = PROTO_ERR_REBALANCE_IN_PROGRESS;
	pthread_mutex_unlock(&m->g->mu);
	return err;
}

/* Removes guest m from its group (g->mu held, released here). */
static void guest_drop(struct group_member *m, const char *why)
{
	struct group *g = m->g;

	mq_log(MQ_INFO, "group %s of topic %s: %s %s", g->name, g->topic, m->id, why);
	group_member_remove(m);
	pthread_mutex_unlock(&g->mu);
	free(m->pieces);
	free(m);
	group_put(g);
}

int16_t group_guest_leave(struct group_coord *gc, const char *name, const char *member,
			  const char *peer)
{
	struct group_member *m;
	int16_t err = guest_lookup(gc, name, member, "LeaveGroup", peer, &m);

	if (!err)
		guest_drop(m, "leaves (LeaveGroup)");
	return err;
}

bool group_guest_owns(struct group *g, const char *member, int p)
{
	struct group_member *m = p >= 0 && p < g->nparts ? g->parts[p].owner : NULL;

	return m && m->guest && !strcmp(m->id, member);
}

void group_guests_drop(struct group *g, const char *why)
{
	struct group_member *m = g->members, *nx;

	for (; m; m = nx) {
		nx = m->next;
		if (!m->guest)
			continue;
		guest_drop(m, why); /* releases g->mu and m's reference */
		pthread_mutex_lock(&g->mu);
		nx = g->members; /* the list changed */
	}
}

int64_t group_guests_expire(struct group_coord *gc, int64_t max_ms)
{
	int64_t now = now_mono_ms(), next = max_ms;

	pthread_mutex_lock(&gc->mu);
	for (int i = 0; i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];
		struct group_member *m, *nx;

		pthread_mutex_lock(&g->mu);
		for (m = g->members; m; m = nx) {
			int64_t due = m->last_heard +
				      (m->session_ms ? m->session_ms : g->session_timeout_ms);

			nx = m->next;
			if (!m->guest)
				continue;
			if (now >= due) {
				atomic_fetch_add(&g->refs, 1); /* guest_drop puts m's */
				guest_drop(m,
					   "left: session.timeout.ms passed without a heartbeat");
				pthread_mutex_lock(&g->mu);
				group_put(g);
				nx = g->members; /* the list changed */
			} else if (due - now < next) {
				next = due - now;
			}
		}
		pthread_mutex_unlock(&g->mu);
	}
	pthread_mutex_unlock(&gc->mu);
	return next;
}
