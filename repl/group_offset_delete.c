/*
 * group_offset_delete.c — OffsetDelete (47) v0 on the coordinator, as
 * Kafka's GroupCoordinator.handleDeleteOffsets: the committed offsets of
 * some partitions of a group removed (kafka-consumer-groups.sh
 * --delete-offsets, librdkafka's DeleteConsumerGroupOffsets).
 *
 * The group id is one of group_admin_serve.c's two forms: "<g>", Kafka's
 * whole group (every topic's mount group <g>, and the Kafka consumers of
 * <g>), or "<topic>/<g>", the mount group <g> of that topic alone (a
 * partition of another topic has no offset in it: NONE, nothing done).
 *
 * Rules, in this order; each refusal is Kafka's code and one log line
 * naming the peer:
 *   1. the id is neither form: INVALID_GROUP_ID; another broker
 *      coordinates <g>, or none does now: NOT_COORDINATOR; loading it:
 *      COORDINATOR_LOAD_IN_PROGRESS;
 *   2. no such group (no topic's group of the id here, and for "<g>" no
 *      Kafka group <g>, with members or Empty): GROUP_ID_NOT_FOUND, as
 *      Kafka answers a Dead or unknown group;
 *   3. Kafka members of a protocol type other than "consumer" (Kafka
 *      Connect's workers...): NON_EMPTY_GROUP. A group-level error is the
 *      whole answer: no topics in it, as Kafka's (its merge drops them);
 *   4. per topic: an unknown topic, or a partition it does not have:
 *      UNKNOWN_TOPIC_OR_PARTITION;
 *   5. a topic the group is subscribed to, its partitions
 *      GROUP_SUBSCRIBED_TO_TOPIC: members of the topic's mount group
 *      (consume files of any broker's mount, which are the coordinator's
 *      guests, and the Kafka consumers that joined them) subscribe it to
 *      that topic, as DeleteGroups counts them; a Kafka consumer to the
 *      topics of its subscription (to every topic while its group has no
 *      protocol chosen yet or a subscription cannot be read, as Kafka's
 *      isSubscribedToTopic);
 *   6. else (an Empty group, or a topic its members do not consume): NONE,
 *      the offsets deleted: a tombstone of each partition's commit record
 *      ("<g>/<topic>/<p>" TAB, empty: group_store.c), the record Kafka's
 *      offset removal writes, and the partition is as one never
 *      committed: OffsetFetch answers -1 (and lists it no more), the
 *      mount's .groups/<g>/<p> reads where auto.offset.reset starts and
 *      .state shows "-" as after mkdir. A partition without an offset is
 *      NONE too (Kafka's removeOffsets). The group itself stays, with its
 *      settings (a mount group is a directory until rmdir; a Kafka group
 *      left without offsets goes at its cleanup, group_serve.c). The
 *      tombstone not taken: NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT,
 *      NOT_COORDINATOR or KAFKA_STORAGE_ERROR (kg_store_error).
 * Other brokers' mounts ask the coordinator for the offsets they show
 * (group_offset, OffsetFetch), so they see the deletion at their next
 * read; a coordinator that takes the group over replays the tombstone.
 *
 * Threads: listener workers. The group is looked at under coord.mu and
 * gs->mu (a Kafka group's members), each topic's group deleted from
 * under its own mu, where a mount member cannot join meanwhile (its
 * members are checked again there). A Kafka consumer that joins between
 * the look and the deletion (gs->mu comes before group.mu, so it cannot
 * be held there) finds the offset gone, as one joining right after
 * would; Kafka's coordinator too removes the offsets after its check,
 * in a step of its own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "repl/group_serve_int.h"
#include "repl/kafka_authz.h"
#include "repl/proto.h"
#include "util/diaglog.h"

/* The group an OffsetDelete names, as found under coord.mu. */
struct od_group {
	int ngroups;                       /* the topics' groups of the id */
	bool kafka_known;                  /* a Kafka group <g> (members or Empty) */
	char kafka_other[KG_NAME_MAX + 1]; /* its members' protocol type when not
					   * "consumer", else "" */
	bool *kafka_sub;                   /* per request topic: a Kafka member subscribes to it */
};

/* Marks the request's topics the Kafka consumers of kg subscribe to, as
 * Kafka's isSubscribedToTopic (kg_subscribes). Needs gs->mu. */
static void kafka_subscribed(const struct kgroup *kg, const struct proto_offset_delete_req *m,
			     bool *sub)
{
	for (int32_t t = 0; t < m->n_topics; t++)
		sub[t] = kg_subscribes(kg, m->topics[t].name);
}

/* Fills og: how many topics' groups the id names, and what the Kafka
 * group of the name is. 0 or -ENOMEM. Takes coord.mu and gs->mu. */
static int od_find(struct group_serve *gs, const char *topic, const char *name,
		   const struct proto_offset_delete_req *m, struct od_group *og)
{
	struct group_coord *gc = gs->gc;
	struct kgroup *kg;

	og->kafka_sub = calloc((size_t)m->n_topics + 1, sizeof(*og->kafka_sub));
	if (!og->kafka_sub)
		return -ENOMEM;
	pthread_mutex_lock(&gc->mu);
	for (int i = 0; i < gc->ngroups; i++)
		og->ngroups += group_admin_named(gc->groups[i], topic, name);
	pthread_mutex_lock(&gs->mu);
	kg = kg_find(gs, name);
	og->kafka_known = kg != NULL;
	if (kg && kg->nmembers > 0 && strcmp(kg->ptype, "consumer"))
		snprintf(og->kafka_other, sizeof(og->kafka_other), "%s", kg->ptype);
	else if (kg && kg->nmembers > 0)
		kafka_subscribed(kg, m, og->kafka_sub);
	pthread_mutex_unlock(&gs->mu);
	pthread_mutex_unlock(&gc->mu);
	return 0;
}

/* Rules 2 and 3: NONE or the group's error, logged. */
static int16_t od_group_error(const struct od_group *og, const char *topic, const char *name,
			      const char *peer)
{
	if (og->ngroups == 0 && (topic[0] || !og->kafka_known)) {
		mq_log_limited(MQ_INFO, "OffsetDelete from %s: group %s%s%s: GROUP_ID_NOT_FOUND",
			       peer, topic, topic[0] ? "/" : "", name);
		return PROTO_ERR_GROUP_ID_NOT_FOUND;
	}
	if (og->kafka_other[0]) {
		mq_log_limited(MQ_INFO,
			       "OffsetDelete from %s: group %s%s%s: NON_EMPTY_GROUP (members of "
			       "protocol type %s)",
			       peer, topic, topic[0] ? "/" : "", name, og->kafka_other);
		return PROTO_ERR_NON_EMPTY_GROUP;
	}
	return PROTO_ERR_NONE;
}

/* Rules 4 to 6 for one topic of the request: rp[j] answers
 * td->partitions[j]. kafka_sub: a Kafka member subscribes to it. scope:
 * the topic of a "<topic>/<g>" id, else "". */
static void od_topic(struct group_serve *gs, const char *scope, const char *name, bool kafka_sub,
		     const struct proto_offset_delete_topic *td,
		     struct proto_offset_commit_resp_part *rp, const char *peer)
{
	char tname[TOPIC_NAME_MAX + 1] = "?";
	struct topic *t = NULL;
	struct group *g = NULL;
	int *del = NULL, ndel = 0, nparts, unknown = 0, rc = 0;
	bool busy;

	for (int32_t j = 0; j < td->n_partitions; j++)
		rp[j].partition_index = td->partitions[j];
	if (td->name.len > 0 && td->name.len <= TOPIC_NAME_MAX)
		snprintf(tname, sizeof(tname), "%.*s", (int)td->name.len, td->name.ptr);
	if (!topic_name_valid(tname) || strlen(tname) != (size_t)td->name.len ||
	    broker_topic_get(gs->ka->b, tname, &t) < 0) {
		mq_log_limited(MQ_INFO,
			       "OffsetDelete from %s for group %s: unknown topic %s: "
			       "UNKNOWN_TOPIC_OR_PARTITION",
			       peer, name, tname);
		for (int32_t j = 0; j < td->n_partitions; j++)
			rp[j].error_code = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		return;
	}
	nparts = topic_partitions(t);
	/* "<topic>/<g>" holds no offset of another topic: nothing to refuse,
	 * nothing to delete. The lookup binds a group the replay made to its
	 * topic (until then it is not live). */
	if (!scope[0] || !strcmp(scope, tname)) {
		if (group_open(t, name, GROUP_LOOKUP, &g) < 0)
			g = NULL; /* the topic has no such group: no offsets */
		else if (group_lock_live(g) < 0) {
			group_put(g);
			g = NULL; /* deleted meanwhile */
		}
	} else {
		kafka_sub = false;
	}
	del = calloc((size_t)td->n_partitions + 1, sizeof(*del));
	if (!del) {
		for (int32_t j = 0; j < td->n_partitions; j++)
			rp[j].error_code = PROTO_ERR_UNKNOWN_SERVER_ERROR;
	}
	busy = g && g->nmembers > 0;
	for (int32_t j = 0; del && j < td->n_partitions; j++) {
		int32_t p = td->partitions[j];

		if (p < 0 || p >= nparts) {
			rp[j].error_code = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			unknown++;
		} else if (busy || kafka_sub) {
			rp[j].error_code = PROTO_ERR_GROUP_SUBSCRIBED_TO_TOPIC;
		} else {
			del[ndel++] = p;
		}
	}
	if (g && ndel > 0)
		rc = group_store_offsets_delete(g, del, ndel);
	if (g) {
		pthread_mutex_unlock(&g->mu);
		group_put(g);
	}
	if (unknown)
		mq_log_limited(MQ_INFO,
			       "OffsetDelete from %s for group %s: topic %s has no partition "
			       "asked (%d of them): UNKNOWN_TOPIC_OR_PARTITION",
			       peer, name, tname, unknown);
	if (del && (busy || kafka_sub))
		mq_log_limited(MQ_INFO,
			       "OffsetDelete from %s for group %s: topic %s: "
			       "GROUP_SUBSCRIBED_TO_TOPIC (%s)",
			       peer, name, tname,
			       busy ? "consume files or consumers of the mount's group are its "
				      "members"
				    : "a Kafka consumer of the group subscribes to it");
	if (rc < 0) {
		mq_log_limited(MQ_ERR, "OffsetDelete from %s for group %s of topic %s: %s", peer,
			       name, tname, strerror(-rc));
		for (int32_t j = 0; j < td->n_partitions; j++)
			if (!rp[j].error_code)
				rp[j].error_code = kg_store_error(rc);
	} else if (rc > 0) {
		mq_log(MQ_INFO,
		       "OffsetDelete from %s: group %s: the committed offsets of %d partitions "
		       "of topic %s deleted",
		       peer, name, rc, tname);
	}
	free(del);
	topic_put(t);
}

static int offset_delete_handler(void *arg, struct net_req *req)
{
	struct group_serve *gs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_offset_delete_req *m = &pr->u.offset_delete;
	const char *peer = net_req_peer(req);
	struct proto_offset_delete_resp r = { 0 };
	struct od_group og = { 0 };
	char topic[TOPIC_NAME_MAX + 1], name[TOPIC_NAME_MAX + 1];
	int rc = 0;
	size_t pos;

	r.error_code = !kafka_authorize(req, ACL_OP_DELETE, ACL_RES_GROUP, m->group_id)
			       ? PROTO_ERR_GROUP_AUTHORIZATION_FAILED
			       : group_admin_id_check(gs->gc, m->group_id, topic, name,
						      "OffsetDelete", peer);
	if (!r.error_code) {
		rc = od_find(gs, topic, name, m, &og);
		if (rc < 0)
			goto out;
		r.error_code = od_group_error(&og, topic, name, peer);
	}
	/* The answer is built as the decoder builds one (each topic its own
	 * partitions), so proto_offset_delete_resp_free frees it. */
	if (!r.error_code && m->n_topics > 0) {
		r.topics = calloc((size_t)m->n_topics, sizeof(*r.topics));
		if (!r.topics) {
			rc = -ENOMEM;
			goto out;
		}
		r.n_topics = m->n_topics;
	}
	for (int32_t t = 0; t < r.n_topics; t++) {
		const struct proto_offset_delete_topic *td = &m->topics[t];
		struct proto_offset_commit_resp_topic *rt = &r.topics[t];

		rt->name = td->name;
		rt->partitions = calloc((size_t)td->n_partitions + 1, sizeof(*rt->partitions));
		if (!rt->partitions) {
			rc = -ENOMEM;
			goto out;
		}
		rt->n_partitions = td->n_partitions;
		/* READ on each topic (KafkaApis.handleOffsetDeleteRequest). */
		if (kafka_authorize(req, ACL_OP_READ, ACL_RES_TOPIC, td->name)) {
			od_topic(gs, topic, name, og.kafka_sub[t], td, rt->partitions, peer);
			continue;
		}
		for (int32_t j = 0; j < td->n_partitions; j++) {
			rt->partitions[j].partition_index = td->partitions[j];
			rt->partitions[j].error_code = PROTO_ERR_TOPIC_AUTHORIZATION_FAILED;
		}
	}
	pos = net_req_begin(req);
	rc = proto_offset_delete_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &r);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(og.kafka_sub);
	proto_offset_delete_resp_free(&r);
	return rc;
}

int group_offset_delete_register(struct group_serve *gs, struct net_server *srv)
{
	return net_server_handle(srv, PROTO_API_OFFSET_DELETE, offset_delete_handler, gs);
}
