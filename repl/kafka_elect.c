/*
 * kafka_elect.c — ElectLeaders (43) on the broker listener: what
 * kafka-leader-election.sh and Admin.electLeaders send, answered as Kafka
 * answers it in ZooKeeper mode.
 *
 * In a cluster the controller runs the elections (controller_elect_leaders,
 * the same decisions as its preferred-leader rebalance and its offline
 * election); a broker that is not the controller answers each partition
 * NOT_CONTROLLER, so that the admin client asks the controller Metadata
 * names. A single node leads every partition it has, its only replica:
 * nothing is ever to elect (ELECTION_NOT_NEEDED), as Kafka's single broker
 * answers.
 *
 * A null topic list means every partition of every topic this broker
 * knows, the internal ones too (Kafka's metadataCache.getAllPartitions),
 * and its answer leaves out the partitions that needed no election, as
 * Kafka's handleElectLeaders does: what is left is what was elected or
 * failed. Each partition's outcome other than an election done is logged
 * with the asker (a null list's left-out ones are not).
 *
 * Threads: a listener worker; the controller call waits for the
 * controller's event thread and then for the brokers to be told (a few
 * seconds at most).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/cluster.h"
#include "repl/controller.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/proto.h"
#include "repl/repl.h"
#include "util/diaglog.h"

/* The partitions asked for, flat, with the topic each belongs to. */
struct elect_ask {
	struct controller_election *e;
	int n, cap;
	char **names; /* the topics of a null list (broker_topic_list) */
	int n_names;
	/* The request named no election type Kafka knows: every partition
	 * asked, and the answer itself, UNKNOWN_SERVER_ERROR. */
	bool bad_type;    /* refused whole: bad_code for it and each partition */
	int16_t bad_code; /* UNKNOWN_SERVER_ERROR, CLUSTER_AUTHORIZATION_FAILED */
};

static int ask_push(struct elect_ask *a, struct kstr topic, int32_t partition)
{
	struct controller_election *e;

	if (a->n == a->cap) {
		int cap = a->cap ? 2 * a->cap : 16;

		if (!(e = realloc(a->e, (size_t)cap * sizeof(*e))))
			return -ENOMEM;
		a->e = e;
		a->cap = cap;
	}
	e = &a->e[a->n++];
	memset(e, 0, sizeof(*e));
	/* A name longer than any topic's stays unknown: cut, it names none. */
	if (topic.len > ZK_TOPIC_MAX) {
		e->result = -ENOENT;
		topic.len = 0;
	}
	memcpy(e->topic, topic.ptr, (size_t)topic.len);
	e->partition = partition;
	return 0;
}

/* Every partition of every topic: Kafka's null topic_partitions. */
static int ask_all(struct kafka_api *ka, struct elect_ask *a)
{
	int rc = broker_topic_list(ka->b, true, &a->names, &a->n_names);

	for (int i = 0; rc == 0 && i < a->n_names; i++) {
		struct topic *t = NULL;
		int np;

		if (kafka_topic_find(ka, kstr_of(a->names[i]), false, &t) < 0)
			continue; /* deleted since the list */
		np = topic_partitions(t);
		topic_put(t);
		for (int32_t p = 0; rc == 0 && p < np; p++)
			rc = ask_push(a, kstr_of(a->names[i]), p);
	}
	return rc;
}

/* One node: the partitions that exist need no election. */
static void elect_single(struct kafka_api *ka, struct elect_ask *a)
{
	for (int i = 0; i < a->n; i++) {
		struct controller_election *e = &a->e[i];
		struct topic *t = NULL;

		if (e->result)
			continue;
		if (kafka_topic_find(ka, kstr_of(e->topic), false, &t) < 0) {
			e->result = -ENOENT;
			continue;
		}
		e->result = e->partition >= 0 && e->partition < topic_partitions(t) ? -EALREADY
										    : -ENOENT;
		topic_put(t);
	}
}

static int16_t elect_error(int result, bool unclean, const char **msg)
{
	*msg = NULL;
	switch (result) {
	case 0: return PROTO_ERR_NONE;
	case -EALREADY:
		*msg = unclean ? "the partition has a live leader"
			       : "the preferred replica is the leader";
		return PROTO_ERR_ELECTION_NOT_NEEDED;
	case -ENOENT: return PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	case -EAGAIN: *msg = "this broker is not the controller"; return PROTO_ERR_NOT_CONTROLLER;
	case -EHOSTUNREACH:
		if (unclean) {
			*msg = "no live replica";
			return PROTO_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE;
		}
		*msg = "the preferred replica is not live or not in the ISR";
		return PROTO_ERR_PREFERRED_LEADER_NOT_AVAILABLE;
	}
	return proto_err_from_errno(result);
}

/* The response: one result per partition asked, grouped by topic as the
 * request (or the topic list) gave them; for a null list (all) none of
 * those that needed no election. */
static int elect_answer(struct net_req *req, const struct elect_ask *a, bool unclean, bool all)
{
	const struct proto_req *pr = net_req_msg(req);
	struct proto_elect_resp resp = { 0 };
	struct proto_elect_partition *parts;
	size_t pos;
	const char *prev = NULL; /* the topic of the last entry answered */
	int rc = 0, k = 0;

	resp.error_code = a->bad_type ? a->bad_code : PROTO_ERR_NONE;
	resp.topics = calloc((size_t)a->n + 1, sizeof(*resp.topics));
	parts = calloc((size_t)a->n + 1, sizeof(*parts));
	if (!resp.topics || !parts) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < a->n; i++) {
		const struct controller_election *e = &a->e[i];
		struct proto_elect_topic *t;
		const char *msg = NULL;
		int16_t err = a->bad_type ? a->bad_code : elect_error(e->result, unclean, &msg);

		if (all && err == PROTO_ERR_ELECTION_NOT_NEEDED)
			continue;
		if (!prev || strcmp(e->topic, prev)) {
			prev = e->topic;
			resp.topics[resp.n_topics].topic = kstr_of(e->topic);
			resp.topics[resp.n_topics++].partitions = &parts[k];
		}
		t = &resp.topics[resp.n_topics - 1];
		parts[k].partition_id = e->partition;
		parts[k].error_code = err;
		parts[k].error_message = msg ? kstr_of(msg) : KSTR_NULL;
		t->n_partitions++;
		k++;
		if (err != PROTO_ERR_NONE && !a->bad_type)
			mq_log_limited(MQ_INFO, "ElectLeaders from %s: %s-%d: %s%s%s",
				       net_req_peer(req), e->topic, e->partition,
				       proto_err_name(err), msg ? ": " : "", msg ? msg : "");
	}
	pos = net_req_begin(req);
	rc = proto_elect_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(resp.topics);
	free(parts);
	return rc;
}

static int elect_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_elect_req *er = &net_req_msg(req)->u.elect;
	struct elect_ask a = { 0 };
	bool unclean = er->election_type == PROTO_ELECTION_UNCLEAN;
	int rc = 0;

	if (er->election_type != PROTO_ELECTION_PREFERRED && !unclean) {
		/* Kafka's ElectionType.valueOf throws, and its error response
		 * answers the request and each partition it names
		 * UNKNOWN_SERVER_ERROR (no message): the connection stays. */
		mq_log_limited(MQ_WARN,
			       "ElectLeaders from %s: unknown election type %d: answered "
			       "UNKNOWN_SERVER_ERROR",
			       net_req_peer(req), (int)er->election_type);
		a.bad_type = true;
		a.bad_code = PROTO_ERR_UNKNOWN_SERVER_ERROR;
	} else if (!kafka_authorize_cluster(req, ACL_OP_ALTER)) {
		/* KafkaApis: ALTER on the cluster, else the request and each
		 * partition it names CLUSTER_AUTHORIZATION_FAILED. */
		a.bad_type = true;
		a.bad_code = PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
	}
	if (er->n_topics < 0 && !a.bad_type)
		rc = ask_all(ka, &a);
	for (int32_t i = 0; rc == 0 && i < er->n_topics; i++)
		for (int32_t j = 0; rc == 0 && j < er->topics[i].n_partitions; j++)
			rc = ask_push(&a, er->topics[i].topic,
				      er->topics[i].partitions[j].partition_id);
	if (rc == 0 && a.n > 0 && !a.bad_type) {
		mq_log(MQ_INFO, "ElectLeaders from %s: %s election of %d partition(s)",
		       net_req_peer(req), unclean ? "unclean" : "preferred", a.n);
		if (!cluster_zk_mode(ka->c)) {
			elect_single(ka, &a);
		} else {
			int erc = cluster_elect_leaders(ka->c, unclean, a.e, a.n);

			/* The whole request failed: not the controller, or it
			 * lost the office on the way (a fenced or failed
			 * ZooKeeper write makes it resign): either way the
			 * client is to ask the controller Metadata names. */
			if (erc < 0 && erc != -EAGAIN)
				mq_log(MQ_WARN,
				       "ElectLeaders from %s: not carried out (%s): answered NOT_CONTROLLER",
				       net_req_peer(req), strerror(-erc));
			for (int i = 0; erc < 0 && i < a.n; i++)
				a.e[i].result = -EAGAIN;
		}
	}
	if (rc == 0)
		rc = elect_answer(req, &a, unclean, er->n_topics < 0);
	free(a.e);
	if (a.names)
		broker_names_free(a.names, a.n_names);
	return rc;
}

int kafka_elect_register(struct kafka_api *ka, struct net_server *srv)
{
	return net_server_handle(srv, PROTO_API_ELECT_LEADERS, elect_handler, ka);
}
