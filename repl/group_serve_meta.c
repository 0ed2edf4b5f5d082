/*
 * group_serve_meta.c — the Kafka groups' GroupMetadata records (layout:
 * group_meta.c): what the coordinator writes of a group and what a new
 * coordinator makes of them, as Kafka's GroupMetadataManager does, so
 * that its members keep their member ids, generation and assignments
 * when the coordinator moves (no UNKNOWN_MEMBER_ID, no rebalance).
 *
 *   written   when a generation's SyncGroup completes: the leader's
 *             SyncGroup writes the group with every member's subscription
 *             and the assignment it brings, and the members are answered
 *             once the record is committed (group_serve.c, sync_store);
 *             when the group becomes Empty: no members, protocol and
 *             leader null (kg_queue_empty; the timer thread writes it);
 *             a tombstone by DeleteGroups (group_admin_serve.c, through
 *             the kafka_delete hook) and by the cleanup of an Empty group
 *             without offsets (kg_queue_tombstone).
 *   ordered   the records of one group reach the log in the order they
 *             were made (kg_ticket numbers each under gs->mu, as the
 *             group's state changes): kg_write appends one at a time per
 *             group and drops one older than an append already started.
 *             Without it, the timer's Empty record, taken from the queue
 *             just before a new member's JoinGroup and its leader's
 *             SyncGroup came, could be appended after that generation's
 *             record, and a new coordinator would load the group Empty
 *             (its members told UNKNOWN_MEMBER_ID, rejoining).
 *   loaded    by the broker that becomes the coordinator (kafka_load, the
 *             coord's hook, right after the replay of the partition):
 *             each group with members is made Stable at the record's
 *             generation, protocol and leader, every member with its
 *             ids, timeouts, subscription and assignment, its session
 *             timer started afresh (heard from now); one with more members
 *             than group.max.size rebalances then (kg_loaded, Kafka's
 *             onGroupLoaded). A record of an Empty
 *             group makes the group Empty, at its generation and protocol
 *             type, as Kafka loads it: listed, described and deleted until
 *             the cleanup removes it (group_serve.c). A group this broker
 *             has already (with members or not), or a
 *             group whose consume files are members (the mount's group
 *             is the group then), is left as it is; a record whose
 *             fields pass the coordinator's bounds is skipped; each with
 *             a log line.
 *
 * Threads and locks: kg_meta_value, kg_queue_empty and the tickets need
 * gs->mu; kg_write and kg_writes_flush (the timer thread) hold it but
 * across each append; kg_meta_load runs with coord.mu held (the
 * kafka_load hook), asks the mount's groups (their locks) first, then
 * takes gs->mu (the usual order).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_meta.h"
#include "repl/group_serve_int.h"
#include "util/clock.h"

static const struct kproto *proto_of(const struct kmember *m, const char *name)
{
	for (int i = 0; i < m->nprotos; i++)
		if (!strcmp(m->protos[i].name, name))
			return &m->protos[i];
	return NULL;
}

/* The assignment the leader's SyncGroup req gives member id, or an empty
 * one. */
static struct kstr req_assignment(const struct proto_sync_req *req, const char *id)
{
	for (int32_t i = 0; req && i < req->n_assignments; i++)
		if (kg_kstr_is(req->assignments[i].member_id, id) &&
		    req->assignments[i].assignment.len >= 0)
			return req->assignments[i].assignment;
	return kstr_of("");
}

int kg_meta_value(const struct kgroup *g, const struct proto_sync_req *req, struct kbuf_w *w)
{
	struct group_meta gm = { .protocol_type = kstr_of(g->ptype),
				 .generation = g->generation,
				 .protocol = g->nmembers ? kstr_of(g->proto) : KSTR_NULL,
				 .leader = g->nmembers ? kstr_of(g->leader) : KSTR_NULL,
				 .current_state_timestamp = g->nmembers == 0 && g->empty_since > 0
								    ? g->empty_since
								    : engine_now_ms(),
				 .n_members = g->nmembers };
	int i = 0;

	gm.members = calloc((size_t)g->nmembers + 1, sizeof(*gm.members));
	if (!gm.members)
		return -ENOMEM;
	for (const struct kmember *m = g->members; m && i < g->nmembers; m = m->next, i++) {
		const struct kproto *p = proto_of(m, g->proto);
		struct group_meta_member *gmm = &gm.members[i];

		gmm->member_id = kstr_of(m->id);
		gmm->instance_id = m->instance_id[0] ? kstr_of(m->instance_id) : KSTR_NULL;
		gmm->client_id = kstr_of(m->client_id);
		gmm->client_host = kstr_of(m->client_host);
		gmm->rebalance_timeout = m->rebalance_ms;
		gmm->session_timeout = m->session_ms;
		gmm->subscription =
			p ? (struct kstr){ (const char *)p->meta, p->len } : kstr_of("");
		gmm->assignment = req ? req_assignment(req, m->id)
				      : (struct kstr){ m->asg ? (const char *)m->asg : "",
						       m->asg ? m->asg_len : 0 };
	}
	group_meta_value_encode(w, &gm);
	free(gm.members);
	return kbuf_w_err(w);
}

static struct kseq *kseq_find(struct group_serve *gs, const char *name)
{
	for (struct kseq *q = gs->kseqs; q; q = q->next)
		if (!strcmp(q->name, name))
			return q;
	return NULL;
}

uint64_t kg_ticket(struct group_serve *gs, const char *name)
{
	struct kseq *q = kseq_find(gs, name);

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q) {
			mq_log(MQ_ERR, "Kafka group %s: a metadata record not written: %s", name,
			       strerror(ENOMEM));
			return 0;
		}
		snprintf(q->name, sizeof(q->name), "%s", name);
		q->next = gs->kseqs;
		gs->kseqs = q;
	}
	q->pending++;
	return ++gs->wseq;
}

void kg_ticket_drop(struct group_serve *gs, const char *name)
{
	for (struct kseq **pp = &gs->kseqs; *pp; pp = &(*pp)->next) {
		struct kseq *q = *pp;

		if (strcmp(q->name, name))
			continue;
		/* No record of the group is outstanding: any made from now
		 * on is newer than every one appended, so the order needs
		 * nothing kept. */
		if (--q->pending == 0) {
			*pp = q->next;
			free(q);
		}
		return;
	}
}

int kg_write(struct group_serve *gs, const char *name, uint64_t seq, const uint8_t *value,
	     size_t len)
{
	struct kseq *q = kseq_find(gs, name);
	int rc;

	/* q stays: this ticket is pending until kg_ticket_drop below. */
	if (q->writing) {
		q->waiting++;
		while (q->writing)
			pthread_cond_wait(&gs->store_cv, &gs->mu);
		q->waiting--;
	}
	if (seq < q->last) {
		rc = q->last_rc;
		mq_log(MQ_INFO,
		       "Kafka group %s: a metadata record not written: a newer one of the "
		       "group was written first",
		       name);
	} else {
		q->writing = true;
		q->last = seq;
		pthread_mutex_unlock(&gs->mu);
		if (gs->store_hook)
			gs->store_hook(gs->store_hook_arg, name, value, len);
		rc = group_store_kafka(gs->gc, name, value, len);
		pthread_mutex_lock(&gs->mu);
		q->writing = false;
		q->last_rc = rc;
		pthread_cond_broadcast(&gs->store_cv);
	}
	kg_ticket_drop(gs, name);
	return rc;
}

/* Queues record value (taken over; NULL: a tombstone) of group name. */
static void queue_write(struct group_serve *gs, const char *name, uint8_t *value, size_t len)
{
	struct kwrite *kw = calloc(1, sizeof(*kw));
	uint64_t seq = kw ? kg_ticket(gs, name) : 0;

	if (!seq) {
		mq_log(MQ_ERR, "Kafka group %s: its %s not written: %s", name,
		       value ? "Empty metadata record" : "metadata tombstone", strerror(ENOMEM));
		free(kw);
		free(value);
		return;
	}
	snprintf(kw->name, sizeof(kw->name), "%s", name);
	kw->value = value;
	kw->len = len;
	kw->seq = seq;
	kw->next = gs->writes;
	gs->writes = kw;
	kg_timer_kick(gs);
}

void kg_queue_empty(struct kgroup *g)
{
	struct kbuf_w w;

	if (!g->ptype[0])
		return; /* never had a member that joined */
	kbuf_w_init(&w, 4096);
	if (kg_meta_value(g, NULL, &w) < 0) {
		mq_log(MQ_ERR, "Kafka group %s: its Empty metadata record not written: %s", g->name,
		       strerror(ENOMEM));
		kbuf_w_free(&w);
		return;
	}
	queue_write(g->gs, g->name, w.buf, w.len); /* w.buf taken over */
}

void kg_queue_tombstone(struct group_serve *gs, const char *name)
{
	queue_write(gs, name, NULL, 0);
}

void kg_writes_flush(struct group_serve *gs)
{
	/* Newest first in gs->writes: the oldest is written first. Records
	 * queued while one is appended wait for the next flush. */
	struct kwrite *all = gs->writes, *list = NULL;

	gs->writes = NULL;
	while (all) {
		struct kwrite *kw = all;

		all = kw->next;
		kw->next = list;
		list = kw;
	}
	while (list) {
		struct kwrite *kw = list;
		int rc = kg_write(gs, kw->name, kw->seq, kw->value, kw->len);

		if (rc < 0)
			mq_log(MQ_WARN,
			       "Kafka group %s: its %s not written (%s): a new coordinator %s",
			       kw->name, kw->value ? "Empty metadata record" : "metadata tombstone",
			       strerror(-rc),
			       kw->value ? "would load its last members, which then expire"
					 : "would load it Empty, until its own cleanup");
		list = kw->next;
		free(kw->value);
		free(kw);
	}
}

/* Why member m of a record cannot be a member here, or NULL. */
static const char *member_refusal(const struct group_meta *gm, const struct group_meta_member *m)
{
	if (m->member_id.len <= 0 || m->member_id.len > KG_ID_MAX)
		return "a member id empty or too long";
	if (m->instance_id.len > KG_ID_MAX)
		return "a group.instance.id too long";
	if (m->client_id.len > KG_CLIENT_ID_MAX || m->client_host.len > KG_CLIENT_HOST_MAX)
		return "a client id or host too long";
	if (m->session_timeout <= 0 || m->rebalance_timeout <= 0)
		return "a timeout not positive";
	if (m->subscription.len > KG_GROUP_BYTES || m->assignment.len > KG_GROUP_BYTES)
		return "a subscription or assignment too big";
	(void)gm;
	return NULL;
}

/* Why the record cannot make a group here, or NULL. */
static const char *meta_refusal(const struct group_meta *gm)
{
	if (gm->protocol_type.len <= 0 || gm->protocol_type.len > KG_NAME_MAX)
		return "its protocol type empty or too long";
	if (gm->protocol.len <= 0 || gm->protocol.len > KG_NAME_MAX)
		return "its protocol null, empty or too long";
	if (gm->leader.len <= 0 || gm->leader.len > KG_ID_MAX)
		return "its leader null, empty or too long";
	if (gm->n_members > KG_MAX_MEMBERS)
		return "more members than a group may have";
	for (int32_t i = 0; i < gm->n_members; i++) {
		const char *why = member_refusal(gm, &gm->members[i]);

		if (why)
			return why;
	}
	return NULL;
}

static void copy_kstr(char *dst, size_t cap, struct kstr s)
{
	snprintf(dst, cap, "%.*s", s.len > 0 ? (int)s.len : 0, s.ptr ? s.ptr : "");
}

/* One member of a record, heard from now. NULL: -ENOMEM. */
static struct kmember *member_load(const struct group_meta *gm, const struct group_meta_member *x)
{
	struct kmember *m = calloc(1, sizeof(*m));
	int32_t sl = x->subscription.len, al = x->assignment.len;

	if (!m)
		return NULL;
	copy_kstr(m->id, sizeof(m->id), x->member_id);
	copy_kstr(m->instance_id, sizeof(m->instance_id), x->instance_id);
	copy_kstr(m->client_id, sizeof(m->client_id), x->client_id);
	copy_kstr(m->client_host, sizeof(m->client_host), x->client_host);
	m->session_ms = x->session_timeout;
	m->rebalance_ms = x->rebalance_timeout;
	m->last_heard = now_mono_ms();
	m->protos = calloc(1, sizeof(*m->protos));
	m->asg = malloc((size_t)al + 1);
	if (m->protos)
		m->protos[0].meta = malloc((size_t)sl + 1);
	if (!m->protos || !m->asg || !m->protos[0].meta) {
		if (m->protos)
			m->nprotos = 1;
		kg_member_free(m);
		return NULL;
	}
	/* Kafka keeps, of a loaded member, the one protocol of the group
	 * with its subscription: a rejoin offering it matches. */
	m->nprotos = 1;
	copy_kstr(m->protos[0].name, sizeof(m->protos[0].name), gm->protocol);
	memcpy(m->protos[0].meta, x->subscription.ptr ? x->subscription.ptr : "", (size_t)sl);
	m->protos[0].len = sl;
	memcpy(m->asg, x->assignment.ptr ? x->assignment.ptr : "", (size_t)al);
	m->asg_len = al;
	return m;
}

/* The group of record gm, Stable, into gs->groups. 0, or -ENOMEM with
 * nothing added. Needs gs->mu. */
static int group_load(struct group_serve *gs, const char *name, const struct group_meta *gm)
{
	struct kgroup *g = calloc(1, sizeof(*g));
	struct kmember **tail;
	int64_t bytes = 0;

	if (!g)
		return -ENOMEM;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->gs = gs;
	g->state = gm->n_members > 0 ? KG_STABLE : KG_EMPTY;
	/* When it became Empty, as its coordinator wrote it: its offsets'
	 * retention counts from then here too (-1, a record before version
	 * 2: not known, they expire by their commit times). */
	g->empty_since = gm->n_members == 0 && gm->current_state_timestamp > 0
				 ? gm->current_state_timestamp
				 : 0;
	g->generation = gm->generation;
	copy_kstr(g->ptype, sizeof(g->ptype), gm->protocol_type);
	copy_kstr(g->proto, sizeof(g->proto), gm->protocol);
	copy_kstr(g->leader, sizeof(g->leader), gm->leader);
	tail = &g->members;
	for (int32_t i = 0; i < gm->n_members; i++) {
		struct kmember *m = member_load(gm, &gm->members[i]);

		if (!m) {
			while (g->members) {
				struct kmember *x = g->members;

				g->members = x->next;
				kg_member_free(x);
			}
			kg_group_free(g);
			return -ENOMEM;
		}
		*tail = m;
		tail = &m->next;
		g->nmembers++;
		g->meta_bytes += m->protos[0].len;
		bytes += m->protos[0].len + m->asg_len;
	}
	gs->members += g->nmembers;
	gs->bytes += bytes;
	g->next = gs->groups;
	gs->groups = g;
	return 0;
}

/* Why the record of an Empty group cannot make one here, or NULL. */
static const char *empty_refusal(const char *name, const struct group_meta *gm)
{
	if (group_name_refusal(name))
		return "its name is not one a group may have";
	if (gm->protocol_type.len <= 0 || gm->protocol_type.len > KG_NAME_MAX)
		return "its protocol type empty or too long";
	return NULL;
}

/* Whether a group of gm's members and bytes stays within what the
 * coordinator holds of all groups. Needs gs->mu. */
static bool fits(const struct group_serve *gs, const struct group_meta *gm)
{
	int64_t sub = 0, asg = 0;

	for (int32_t i = 0; i < gm->n_members; i++) {
		sub += gm->members[i].subscription.len;
		asg += gm->members[i].assignment.len;
	}
	return sub <= KG_GROUP_BYTES && asg <= KG_GROUP_BYTES &&
	       gs->members + gm->n_members <= KG_MAX_ALL && gs->bytes + sub + asg <= KG_ALL_BYTES;
}

void kg_meta_load(void *arg, const struct group_kmeta *recs, int n)
{
	struct group_serve *gs = arg;
	bool *mount = calloc((size_t)n + 1, sizeof(*mount));
	int loaded = 0;

	if (!mount) {
		mq_log(MQ_ERR, "%d Kafka groups' metadata records not loaded: %s", n,
		       strerror(ENOMEM));
		return;
	}
	/* The mount's groups first: their locks are not taken under gs->mu. */
	for (int i = 0; i < n; i++)
		mount[i] = recs[i].value && group_guest_mount_active(gs->gc, recs[i].name);
	pthread_mutex_lock(&gs->mu);
	for (int i = 0; i < n; i++) {
		const struct group_kmeta *k = &recs[i];
		struct kgroup *g = kg_find(gs, k->name);
		const char *why = NULL;
		struct group_meta gm;
		int rc;

		if (!k->value)
			continue; /* deleted */
		/* Decoded at the replay already: this one cannot fail but for
		 * memory. */
		rc = group_meta_value_decode(k->value, k->len, &gm);
		if (rc < 0) {
			mq_log(MQ_ERR, "Kafka group %s: its metadata record not loaded: %s",
			       k->name, strerror(-rc));
			continue;
		}
		if (g)
			why = g->nmembers > 0 ? "it has members on this broker already"
					      : "the group is on this broker already";
		else if (gm.n_members == 0)
			why = empty_refusal(k->name, &gm);
		else if (mount[i])
			why = "consume files are its members (the mount's group is the group)";
		else if (group_name_refusal(k->name))
			why = "its name is not one a group may have";
		else if ((why = meta_refusal(&gm)) == NULL && !fits(gs, &gm))
			why = "its members pass what the coordinator holds";
		if (why) {
			mq_log(MQ_WARN, "Kafka group %s: its metadata record not loaded: %s",
			       k->name, why);
		} else if (group_load(gs, k->name, &gm) < 0) {
			mq_log(MQ_ERR, "Kafka group %s: its metadata record not loaded: %s",
			       k->name, strerror(ENOMEM));
		} else if (gm.n_members == 0) {
			/* Kept as Kafka keeps it: listed, described, deleted,
			 * until the cleanup (group_serve.c) removes it. */
			mq_log(MQ_INFO, "Kafka group %s: loaded Empty, generation %d", k->name,
			       (int)gm.generation);
		} else {
			mq_log(MQ_INFO,
			       "Kafka group %s: loaded Stable, generation %d, protocol %s, "
			       "leader %.*s, %d members",
			       k->name, (int)gm.generation, gs->groups->proto, (int)gm.leader.len,
			       gm.leader.ptr, (int)gm.n_members);
			kg_loaded(gs, gs->groups);
			loaded++;
		}
		group_meta_free(&gm);
	}
	if (loaded)
		kg_timer_kick(gs); /* the timer: their sessions */
	pthread_mutex_unlock(&gs->mu);
	free(mount);
}
