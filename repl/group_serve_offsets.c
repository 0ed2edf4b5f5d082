/*
 * group_serve_offsets.c — OffsetCommit (8) and OffsetFetch (9) for Kafka
 * consumers: the committed offsets of a Kafka group G are those of the
 * mount's groups named G (MNT/<topic>/.groups/G/, group_store.c), one
 * truth for both kinds of member (group_serve.c).
 *
 * OffsetCommit: the group-level checks first (kg_check, which takes
 * "<topic>/G" too: an admin's commit outside any generation to that
 * topic's group G, any other topic UNKNOWN_TOPIC_OR_PARTITION, a
 * generation or member id INVALID_GROUP_ID; then, under
 * gs->mu, a member of this generation not awaiting its assignment, or a
 * commit outside any generation (generation -1; no member id, or any
 * while the group has none) only while the Kafka group has no members; a generation >= 0 for a group this
 * coordinator does not have is ILLEGAL_GENERATION, as Kafka answers
 * it); gs->mu is released before the commit,
 * which takes the mount group's locks. Per topic, the mount group G of it
 * is made if missing; refused while consume files are its members for a
 * commit outside a generation (UNKNOWN_MEMBER_ID, as Kafka answers a
 * group with members). Per partition, in this order:
 *   no such topic (or an internal __ one) or partition
 *                                     UNKNOWN_TOPIC_OR_PARTITION
 *   metadata over offset.metadata.max.bytes (4096; in UTF-16 units,
 *   as Kafka's String.length())
 *                                     OFFSET_METADATA_TOO_LARGE
 *   __consumer_offsets refused the record
 *                                     NOT_ENOUGH_REPLICAS (fewer in-sync
 *                                     replicas than min.insync.replicas),
 *                                     REQUEST_TIMED_OUT (appended, not
 *                                     committed in request.timeout.ms),
 *                                     NOT_COORDINATOR (its leadership
 *                                     moved), else KAFKA_STORAGE_ERROR
 * The partitions of one topic that pass are one record batch. What is
 * kept is the offset, any value as Kafka keeps it: kafkajs's
 * admin.resetOffsets commits -2 (earliest) or -1 (latest), OffsetFetch
 * answers them as given and each client reads them its way (Java's and
 * kafkajs's consumers as none, librdkafka's -2 as its beginning); the
 * mount reads -2 as the log start, other negatives as none
 * (group_start_offset). With it are kept, in its record (group_store.c),
 * the metadata string (OffsetFetch answers it, "" when none), the leader
 * epoch (version 6+'s committed_leader_epoch; OffsetFetch v5+ answers it,
 * -1 when none: -1 or an older version's commit), the commit
 * time (a version 1 commit's commit_timestamp, -1 now) and, for a
 * version 2-4 commit whose retention_time_ms is not -1, the time it
 * expires at, now + retention_time_ms, as Kafka's expireTimestamp; the
 * record names the member ("kafka" outside a generation).
 *
 * A commit by a mount member of another broker (a guest, group_guest.c:
 * its member id holds '@') is taken per partition it owns now, whatever
 * the generation; a partition it does not own is ILLEGAL_GENERATION.
 *
 * OffsetFetch: per group (v8: several), the committed offset of each
 * partition asked, -1 without error when none (an unknown topic too, as
 * Kafka); with null topics (v2+) every committed partition of every
 * topic's group G, a committed -1 too, as Kafka lists every offset it
 * keeps (a partition never committed, or whose offset was deleted, is not
 * listed). A group id "<topic>/G" (the mount group G of that topic alone,
 * as ListGroups lists it) answers that topic's offsets of G: its
 * committed partitions for null topics, -1 for any other topic asked.
 * A group's error (kg_check) is its error code from v2 on; v0 and v1,
 * which have none, carry it on each partition asked, as Kafka.
 *
 * Threads: listener workers; no lock is held across another group's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "repl/group_serve_int.h"
#include "repl/kafka_authz.h"
#include "util/clock.h"
#include "util/diaglog.h"

/* ---- OffsetCommit ---- */

/* Its append is acks=all: answered once the hw covers it. */
int16_t kg_store_error(int rc)
{
	switch (rc) {
	case -EAGAIN: /* fewer in-sync replicas than min.insync.replicas */
		return PROTO_ERR_NOT_ENOUGH_REPLICAS;
	case -ETIMEDOUT: /* appended, not committed within request.timeout.ms */
		return PROTO_ERR_REQUEST_TIMED_OUT;
	case -EREMOTE: /* the partition's leadership moved away */ return PROTO_ERR_NOT_COORDINATOR;
	default: return PROTO_ERR_KAFKA_STORAGE_ERROR;
	}
}

/* Commits one topic's partitions of the request to the mount's group name
 * of that topic, filling their error codes. simple: a commit outside any
 * generation (refused while the mount's group has members). */
static void commit_topic(struct group_serve *gs, const char *name, const char *member, bool simple,
			 bool guest, int64_t retention_ms,
			 const struct proto_offset_commit_topic *td,
			 struct proto_offset_commit_resp_part *rp, const char *peer)
{
	int32_t md_max = broker_cfg(gs->ka->b)->offset_metadata_max_bytes;
	char tname[TOPIC_NAME_MAX + 1];
	struct topic *t = NULL;
	struct group *g = NULL;
	struct group_commit *c = NULL;
	int n = 0, rc = 0;
	int16_t all = PROTO_ERR_NONE;

	for (int32_t j = 0; j < td->n_partitions; j++)
		rp[j].partition_index = td->partitions[j].partition_index;
	if (td->name.len <= 0 || td->name.len > TOPIC_NAME_MAX) {
		all = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		snprintf(tname, sizeof(tname), "?");
	} else {
		snprintf(tname, sizeof(tname), "%.*s", (int)td->name.len, td->name.ptr);
		if (!topic_name_valid(tname) || (tname[0] == '_' && tname[1] == '_') ||
		    broker_topic_get(gs->ka->b, tname, &t) < 0)
			all = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	if (!all) {
		rc = group_open(t, name, GROUP_CREATE, &g);
		if (rc == 0)
			rc = group_lock_live(g);
		else
			g = NULL;
		if (rc < 0)
			all = rc == -ENOENT    ? PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION
			      : rc == -EREMOTE ? PROTO_ERR_NOT_COORDINATOR
			      : rc == -EAGAIN  ? PROTO_ERR_COORDINATOR_NOT_AVAILABLE
					       : proto_err_from_errno(rc);
	}
	if (all) {
		if (all == PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION)
			mq_log_limited(MQ_INFO,
				       "OffsetCommit from %s for group %s: unknown topic %s", peer,
				       name, tname);
		goto answer_all;
	}
	if (simple && g->nmembers > 0) {
		pthread_mutex_unlock(&g->mu);
		all = PROTO_ERR_UNKNOWN_MEMBER_ID;
		mq_log_limited(MQ_INFO,
			       "OffsetCommit from %s for group %s of topic %s refused: consume "
			       "files of the mount are its members",
			       peer, name, tname);
		goto answer_all;
	}
	c = calloc((size_t)td->n_partitions + 1, sizeof(*c));
	if (!c) {
		pthread_mutex_unlock(&g->mu);
		all = PROTO_ERR_UNKNOWN_SERVER_ERROR;
		goto answer_all;
	}
	for (int32_t j = 0; j < td->n_partitions; j++) {
		const struct proto_offset_commit_part *pd = &td->partitions[j];

		if (pd->partition_index < 0 || pd->partition_index >= topic_partitions(g->t)) {
			rp[j].error_code = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			mq_log_limited(MQ_INFO,
				       "OffsetCommit from %s for group %s: topic %s has no "
				       "partition %d",
				       peer, name, tname, (int)pd->partition_index);
		} else if (pd->committed_metadata.len > 0 &&
			   group_java_length(pd->committed_metadata.ptr,
					     (size_t)pd->committed_metadata.len) > md_max) {
			/* Kafka's validateOffsetMetadataLength: String.length() */
			rp[j].error_code = PROTO_ERR_OFFSET_METADATA_TOO_LARGE;
			mq_log_limited(MQ_INFO,
				       "OffsetCommit from %s for group %s: metadata of %d bytes "
				       "(offset.metadata.max.bytes %d)",
				       peer, name, (int)pd->committed_metadata.len, (int)md_max);
		} else if (guest && !group_guest_owns(g, member, pd->partition_index)) {
			rp[j].error_code = PROTO_ERR_ILLEGAL_GENERATION;
			mq_log_limited(MQ_INFO,
				       "OffsetCommit from %s for group %s: %s does not own %s-%d "
				       "(any more)",
				       peer, name, member, tname, (int)pd->partition_index);
		} else {
			c[n++] = (struct group_commit){
				.part = pd->partition_index,
				.offset = pd->committed_offset,
				.leader_epoch = pd->committed_leader_epoch,
				.commit_ts = pd->commit_timestamp,
				.retention_ms = retention_ms,
				.metadata = pd->committed_metadata.ptr,
				.mdlen = pd->committed_metadata.len > 0
						 ? (size_t)pd->committed_metadata.len
						 : 0,
			};
		}
	}
	rc = n ? group_store_commits(g, c, n, member) : 0;
	pthread_mutex_unlock(&g->mu);
	if (rc < 0) {
		mq_log_limited(MQ_ERR, "OffsetCommit from %s for group %s of topic %s: %s", peer,
			       name, tname, strerror(-rc));
		for (int32_t j = 0; j < td->n_partitions; j++)
			if (!rp[j].error_code)
				rp[j].error_code = kg_store_error(rc);
	}
	goto out;
answer_all:
	for (int32_t j = 0; j < td->n_partitions; j++)
		rp[j].error_code = all;
out:
	free(c);
	if (g)
		group_put(g);
	if (t)
		topic_put(t);
}

static int commit_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_offset_commit_req *m = &pr->u.offset_commit;
	struct proto_offset_commit_resp r = { .n_topics = m->n_topics };
	struct proto_offset_commit_resp_part *parts;
	char name[TOPIC_NAME_MAX + 1], member[KG_ID_MAX + 1] = "kafka";
	char scope[TOPIC_NAME_MAX + 1];
	const char *only = NULL;
	bool simple = m->generation_id < 0 && m->member_id.len <= 0, guest = false;
	int16_t err;
	int n = 0, k = 0, rc;
	size_t pos;

	for (int32_t t = 0; t < m->n_topics; t++)
		n += m->topics[t].n_partitions;
	r.topics = calloc((size_t)m->n_topics + 1, sizeof(*r.topics));
	parts = calloc((size_t)n + 1, sizeof(*parts));
	if (!r.topics || !parts) {
		rc = -ENOMEM;
		goto out;
	}
	err = kg_check(gs, req, m->group_id, name, "OffsetCommit");
	/* "<topic>/<group>" (kg_check took it, name its group): an admin's
	 * commit outside any generation to that topic's group alone; a
	 * member commits under its group's own id. */
	if (!err && memchr(m->group_id.ptr, '/', (size_t)m->group_id.len)) {
		const char *why;

		if (group_scoped_name(m->group_id, scope, name, &why) < 0 || !simple) {
			err = PROTO_ERR_INVALID_GROUP_ID;
			mq_log_limited(MQ_INFO,
				       "OffsetCommit from %s for group %.*s refused: a generation "
				       "or member id with a <topic>/<group> id",
				       net_req_peer(req), (int)m->group_id.len, m->group_id.ptr);
		} else {
			only = scope;
		}
	}
	if (!err) {
		struct kgroup *g;
		struct kmember *mem;

		pthread_mutex_lock(&gs->mu);
		g = kg_find(gs, name);
		mem = kg_member(g, m->member_id);
		/* Kafka's validateOffsetCommit (3.3.1+, KAFKA-14201): a
		 * generation < 0 commits to an Empty group (or one not there)
		 * whatever member or instance id it names: a consumer that
		 * left its group, or one that assigns its partitions itself
		 * with a group.instance.id set. */
		if (!simple && m->generation_id < 0 && (!g || g->nmembers == 0) &&
		    !group_guest_id(m->member_id.ptr, m->member_id.len))
			simple = true;
		if (simple && g && g->nmembers > 0) {
			err = PROTO_ERR_UNKNOWN_MEMBER_ID;
			mq_log_limited(MQ_INFO,
				       "OffsetCommit from %s for group %s: no member id, and the "
				       "group has members",
				       net_req_peer(req), name);
		} else if (group_guest_id(m->member_id.ptr, m->member_id.len)) {
			/* A mount member of another broker: each partition is
			 * checked against its owner (commit_topic). */
			snprintf(member, sizeof(member), "%.*s", (int)m->member_id.len,
				 m->member_id.ptr);
			guest = true;
		} else if (!simple && !g && m->generation_id >= 0) {
			/* Kafka's handleCommitOffsets: a generation for a group
			 * the coordinator does not have comes from an older
			 * generation (or another coordinator's). */
			err = PROTO_ERR_ILLEGAL_GENERATION;
			mq_log_limited(
				MQ_INFO,
				"OffsetCommit from %s for group %s: generation %d, the group "
				"has none here",
				net_req_peer(req), name, (int)m->generation_id);
		} else if (!simple) {
			err = kg_member_check(g, mem, m->group_instance_id, m->generation_id,
					      "OffsetCommit", net_req_peer(req), name);
			if (!err && g->state == KG_AWAIT_SYNC)
				err = PROTO_ERR_REBALANCE_IN_PROGRESS;
			/* Only an accepted commit starts the member's session
			 * again (Kafka's doCommitOffsets, Stable or
			 * PreparingRebalance). */
			if (!err) {
				mem->last_heard = now_mono_ms();
				snprintf(member, sizeof(member), "%s", mem->id);
			}
		}
		pthread_mutex_unlock(&gs->mu);
	}
	for (int32_t t = 0; t < m->n_topics; t++) {
		const struct proto_offset_commit_topic *td = &m->topics[t];
		int16_t terr = err;

		r.topics[t].name = td->name;
		r.topics[t].n_partitions = td->n_partitions;
		r.topics[t].partitions = &parts[k];
		/* After the group's READ, before anything else: READ on the
		 * topic (KafkaApis.handleOffsetCommitRequest). */
		if (terr != PROTO_ERR_GROUP_AUTHORIZATION_FAILED &&
		    !kafka_authorize(req, ACL_OP_READ, ACL_RES_TOPIC, td->name))
			terr = PROTO_ERR_TOPIC_AUTHORIZATION_FAILED;
		/* the group of one topic holds no other topic's offsets */
		if (!terr && only && !kstr_eq(td->name, only))
			terr = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		if (terr) {
			for (int32_t j = 0; j < td->n_partitions; j++) {
				parts[k + j].partition_index = td->partitions[j].partition_index;
				parts[k + j].error_code = terr;
			}
		} else {
			commit_topic(gs, name, member, simple, guest, m->retention_time_ms, td,
				     &parts[k], net_req_peer(req));
		}
		k += td->n_partitions;
	}
	pos = net_req_begin(req);
	rc = proto_offset_commit_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &r);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(r.topics);
	free(parts);
	return rc;
}

/* ---- OffsetFetch ---- */

/* Group refs and the answer being built for one request. */
struct fetch_build {
	struct group **refs;
	int nrefs, caprefs;
	struct proto_offset_fetch_resp_topic *topics;
	int ntopics, captopics;
	struct proto_offset_fetch_resp_part *parts;
	int nparts, capparts;
	struct topic **tops;
	int ntops, captops;
	char **mds; /* the metadata answered, copied under their groups' locks */
	int nmds, capmds;
};

#define GROW(arr, n, cap)                                                         \
	do {                                                                      \
		if ((n) == (cap)) {                                               \
			int nc_ = (cap) ? (cap)*2 : 16;                           \
			void *np_ = realloc((arr), (size_t)nc_ * sizeof(*(arr))); \
			if (!np_)                                                 \
				return -ENOMEM;                                   \
			(arr) = np_;                                              \
			(cap) = nc_;                                              \
		}                                                                 \
	} while (0)

/* Part indexes are kept as offsets into fb->parts (it may move) and fixed
 * up at the end. */
static int fetch_add_part_err(struct fetch_build *fb, int32_t index, int64_t off, int16_t err)
{
	GROW(fb->parts, fb->nparts, fb->capparts);
	fb->parts[fb->nparts++] =
		(struct proto_offset_fetch_resp_part){ .partition_index = index,
						       .committed_offset = off,
						       .committed_leader_epoch = -1,
						       .metadata = kstr_of(""),
						       .error_code = err };
	return 0;
}

/* Partition p of g (locked; NULL: none): its committed offset and the
 * leader epoch (-1: none) and metadata committed with it, "" when none,
 * as Kafka's NoMetadata (also for a partition without an offset, -1). */
static int fetch_add_part(struct fetch_build *fb, int32_t p, const struct group *g)
{
	const struct gpart *gp = g && p >= 0 && p < g->nparts ? &g->parts[p] : NULL;
	int rc = fetch_add_part_err(fb, p, gp ? gp->committed : -1, PROTO_ERR_NONE);
	char *md;

	if (rc < 0 || !gp || !gp->stored)
		return rc;
	fb->parts[fb->nparts - 1].committed_leader_epoch = gp->leader_epoch;
	if (!gp->metadata)
		return 0;
	GROW(fb->mds, fb->nmds, fb->capmds);
	md = malloc(gp->mdlen + 1);
	if (!md)
		return -ENOMEM;
	memcpy(md, gp->metadata, gp->mdlen + 1);
	fb->mds[fb->nmds++] = md;
	fb->parts[fb->nparts - 1].metadata = (struct kstr){ md, (int32_t)gp->mdlen };
	return 0;
}

static int fetch_add_topic(struct fetch_build *fb, struct kstr name)
{
	GROW(fb->topics, fb->ntopics, fb->captopics);
	fb->topics[fb->ntopics++] = (struct proto_offset_fetch_resp_topic){
		.name = name, .n_partitions = 0, .partitions = (void *)(intptr_t)fb->nparts
	};
	return 0;
}

static int fetch_keep_group(struct fetch_build *fb, struct group *g)
{
	GROW(fb->refs, fb->nrefs, fb->caprefs);
	fb->refs[fb->nrefs++] = g;
	return 0;
}

static int fetch_keep_topic(struct fetch_build *fb, struct topic *t)
{
	GROW(fb->tops, fb->ntops, fb->captops);
	fb->tops[fb->ntops++] = t;
	return 0;
}

/* A group the replay of __consumer_offsets made at open is bound to its
 * topic by its first lookup (group_open), not live until then: a broker
 * restarted with no reader of it yet would list none of its offsets.
 * Binds g (unbound, not deleted), keeping the references for the end of
 * the request; the bound group locked, or NULL. */
static struct group *fetch_bind(struct group_serve *gs, struct fetch_build *fb, struct group *g,
				const char *name)
{
	struct group *bound;
	struct topic *t;
	bool unbound;

	pthread_mutex_lock(&g->mu);
	unbound = !g->t && !g->deleted && !g->moved;
	pthread_mutex_unlock(&g->mu);
	if (!unbound || broker_topic_get(gs->ka->b, g->topic, &t) < 0)
		return NULL;
	if (fetch_keep_topic(fb, t) < 0) {
		topic_put(t);
		return NULL;
	}
	if (group_open(t, name, GROUP_LOOKUP, &bound) < 0)
		return NULL;
	if (fetch_keep_group(fb, bound) < 0) {
		group_put(bound);
		return NULL;
	}
	return group_lock_live(bound) == 0 ? bound : NULL;
}

/* Every committed partition of every topic's group name (only: of that
 * topic's, when set), with the offset stored, -1 too (Kafka's
 * fetchAllOffsets lists its whole offsets map). */
static int fetch_all(struct group_serve *gs, const struct net_req *req, struct fetch_build *fb,
		     const char *name, const char *only)
{
	struct group_coord *gc = gs->gc;
	int first = fb->nrefs, last, rc = 0;

	pthread_mutex_lock(&gc->mu);
	for (int i = 0; i < gc->ngroups && rc == 0; i++) {
		if (strcmp(gc->groups[i]->name, name) ||
		    (only && strcmp(gc->groups[i]->topic, only)))
			continue;
		rc = fetch_keep_group(fb, gc->groups[i]);
		if (rc == 0)
			atomic_fetch_add(&gc->groups[i]->refs, 1);
	}
	pthread_mutex_unlock(&gc->mu);
	last = fb->nrefs; /* fetch_bind keeps more: not visited again */
	for (int i = first; i < last && rc == 0; i++) {
		struct group *g = fb->refs[i];

		if (!kafka_may(req, ACL_OP_DESCRIBE, ACL_RES_TOPIC, kstr_of(g->topic)))
			continue;
		if (group_lock_live(g) < 0 && !(g = fetch_bind(gs, fb, g, name)))
			continue;
		rc = fetch_add_topic(fb, kstr_of(g->topic));
		for (int p = 0; p < g->nparts && rc == 0; p++)
			if (g->parts[p].stored)
				rc = fetch_add_part(fb, p, g);
		pthread_mutex_unlock(&g->mu);
		if (rc == 0)
			fb->topics[fb->ntopics - 1].n_partitions =
				fb->nparts - (int)(intptr_t)fb->topics[fb->ntopics - 1].partitions;
	}
	return rc;
}

/* The partitions of topic tq asked, of group name (only: the group of
 * that topic alone; any other topic has no offsets of it, -1). */
static int fetch_topic(struct group_serve *gs, struct fetch_build *fb, const char *name,
		       const char *only, const struct proto_offset_fetch_topic *tq)
{
	char tname[TOPIC_NAME_MAX + 1];
	struct topic *t = NULL;
	struct group *g = NULL;
	bool locked = false;
	int rc;

	rc = fetch_add_topic(fb, tq->name);
	if (rc < 0)
		return rc;
	if (tq->name.len > 0 && tq->name.len <= TOPIC_NAME_MAX) {
		snprintf(tname, sizeof(tname), "%.*s", (int)tq->name.len, tq->name.ptr);
		if (topic_name_valid(tname) && (!only || !strcmp(tname, only)) &&
		    broker_topic_get(gs->ka->b, tname, &t) == 0) {
			rc = fetch_keep_topic(fb, t);
			if (rc < 0) {
				topic_put(t);
				return rc;
			}
			if (group_open(t, name, 0, &g) == 0) {
				rc = fetch_keep_group(fb, g);
				if (rc < 0) {
					group_put(g);
					return rc;
				}
				locked = group_lock_live(g) == 0;
			}
		}
	}
	for (int32_t j = 0; j < tq->n_partition_indexes && rc == 0; j++) {
		int32_t p = tq->partition_indexes[j];

		rc = fetch_add_part(fb, p, locked ? g : NULL);
	}
	if (locked)
		pthread_mutex_unlock(&g->mu);
	fb->topics[fb->ntopics - 1].n_partitions =
		fb->nparts - (int)(intptr_t)fb->topics[fb->ntopics - 1].partitions;
	return rc;
}

/* A group-level error in v0/v1, which have no group error code: on every
 * partition asked, offset -1, as Kafka's getErrorResponse puts it. An
 * empty answer would read as "nothing committed", and a client would
 * reset its position on NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS
 * instead of finding the coordinator again and retrying. */
/* One topic asked for, each partition answered err. */
static int fetch_topic_error(struct fetch_build *fb, const struct proto_offset_fetch_topic *tq,
			     int16_t err)
{
	int rc = fetch_add_topic(fb, tq->name);

	for (int32_t j = 0; j < tq->n_partition_indexes && rc == 0; j++)
		rc = fetch_add_part_err(fb, tq->partition_indexes[j], -1, err);
	if (rc == 0)
		fb->topics[fb->ntopics - 1].n_partitions =
			fb->nparts - (int)(intptr_t)fb->topics[fb->ntopics - 1].partitions;
	return rc;
}

static int fetch_group_error(struct fetch_build *fb, const struct proto_offset_fetch_group *gq,
			     int16_t err)
{
	int rc = 0;

	for (int32_t t = 0; t < gq->n_topics && rc == 0; t++)
		rc = fetch_topic_error(fb, &gq->topics[t], err);
	return rc;
}

static int fetch_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_offset_fetch_req *m = &pr->u.offset_fetch;
	struct proto_offset_fetch_resp r = { .n_groups = m->n_groups };
	struct fetch_build fb = { 0 };
	int *tfirst = NULL, rc = 0;
	size_t pos;

	r.groups = calloc((size_t)m->n_groups + 1, sizeof(*r.groups));
	tfirst = calloc((size_t)m->n_groups + 1, sizeof(*tfirst));
	if (!r.groups || !tfirst) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t i = 0; i < m->n_groups && rc == 0; i++) {
		const struct proto_offset_fetch_group *gq = &m->groups[i];
		char name[TOPIC_NAME_MAX + 1], topic[TOPIC_NAME_MAX + 1];
		const char *only = NULL, *why;

		r.groups[i].group_id = gq->group_id;
		tfirst[i] = fb.ntopics;
		r.groups[i].error_code = kg_check(gs, req, gq->group_id, name, "OffsetFetch");
		if (r.groups[i].error_code) {
			if (pr->hdr.api_version < 2)
				rc = fetch_group_error(&fb, gq, r.groups[i].error_code);
			continue;
		}
		/* kg_check took "<topic>/<group>" (name its group): the
		 * mount group of that topic alone. */
		if (memchr(gq->group_id.ptr, '/', (size_t)gq->group_id.len) &&
		    group_scoped_name(gq->group_id, topic, name, &why) == 0)
			only = topic;
		if (gq->n_topics < 0)
			rc = fetch_all(gs, req, &fb, name, only);
		/* A topic asked for needs DESCRIBE (KafkaApis: else
		 * TOPIC_AUTHORIZATION_FAILED); every topic's, those it has. */
		for (int32_t t = 0; t < gq->n_topics && rc == 0; t++)
			rc = kafka_authorize(req, ACL_OP_DESCRIBE, ACL_RES_TOPIC,
					     gq->topics[t].name)
				     ? fetch_topic(gs, &fb, name, only, &gq->topics[t])
				     : fetch_topic_error(&fb, &gq->topics[t],
							 PROTO_ERR_TOPIC_AUTHORIZATION_FAILED);
	}
	if (rc < 0)
		goto out;
	for (int k = 0; k < fb.ntopics; k++)
		fb.topics[k].partitions = fb.parts + (intptr_t)fb.topics[k].partitions;
	for (int32_t i = 0; i < m->n_groups; i++) {
		int end = i + 1 < m->n_groups ? tfirst[i + 1] : fb.ntopics;

		r.groups[i].topics = fb.topics + tfirst[i];
		r.groups[i].n_topics = end - tfirst[i];
	}
	pos = net_req_begin(req);
	rc = proto_offset_fetch_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &r);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	for (int i = 0; i < fb.nrefs; i++)
		group_put(fb.refs[i]);
	for (int i = 0; i < fb.ntops; i++)
		topic_put(fb.tops[i]);
	free(fb.refs);
	free(fb.tops);
	for (int i = 0; i < fb.nmds; i++)
		free(fb.mds[i]);
	free(fb.mds);
	free(fb.topics);
	free(fb.parts);
	free(r.groups);
	free(tfirst);
	return rc;
}

int group_serve_offsets_register(struct group_serve *gs, struct net_server *srv)
{
	int rc = net_server_handle(srv, PROTO_API_OFFSET_COMMIT, commit_handler, gs);

	return rc ? rc : net_server_handle(srv, PROTO_API_OFFSET_FETCH, fetch_handler, gs);
}
