/*
 * kafka_producers.c — DescribeProducers (61) on the broker listener: what
 * `kafka-transactions.sh describe-producers` and Admin.describeProducers
 * send to a partition's leader (or to any replica of it), to see the
 * idempotent producers that write to it (Kafka's
 * KafkaApis.handleDescribeProducersRequest and
 * ReplicaManager.activeProducerState).
 *
 * Per topic, the first that applies answers each of its partitions
 * asked, with Kafka's message:
 *   1. a name Kafka refuses (Topic.validate): INVALID_TOPIC_EXCEPTION,
 *      "Topic name is invalid: <why>";
 *   2. no READ on the topic (with the authorizer):
 *      TOPIC_AUTHORIZATION_FAILED;
 *   3. no such topic: UNKNOWN_TOPIC_OR_PARTITION.
 * Then per partition (no message):
 *   4. no such partition: UNKNOWN_TOPIC_OR_PARTITION;
 *   5. its replica here offline (a failed log directory):
 *      KAFKA_STORAGE_ERROR;
 *   6. no replica here (neither leader nor follower):
 *      NOT_LEADER_OR_FOLLOWER;
 *   7. the replica's producer state, the leader's or a follower's (a
 *      follower keeps its own from the batches it appends,
 *      producer_state.h, as Kafka's; it is loaded from the log first
 *      when it may be stale: a leader's when no idempotent batch has
 *      come in this leader epoch): every producer it keeps, by producer
 *      id, with its epoch, the last sequence and the max timestamp of its
 *      newest batch, coordinator epoch -1 and current txn start offset -1
 *      (there are no transactions).
 * Every refusal is logged, one line per topic or partition, with the peer.
 *
 * Threads: a listener worker; the topic's lock briefly, then the
 * partition's producer state lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/proto.h"
#include "util/diaglog.h"

#define MSG_MAX 400

/* Kafka's Topic.validate reason for a name it refuses into msg, or false
 * when the name is legal. */
static bool topic_name_invalid(struct kstr name, char *msg, size_t size)
{
	int len = name.ptr ? (int)name.len : 0;
	const char *s = name.ptr ? name.ptr : "";
	char cname[TOPIC_NAME_MAX + 1];

	if (len <= 0) {
		snprintf(msg, size, "Topic name is invalid: the empty string is not allowed");
		return true;
	}
	if (len > TOPIC_NAME_MAX) {
		snprintf(msg, size,
			 "Topic name is invalid: the length of '%.*s' is longer than the max "
			 "allowed length %d",
			 len, s, TOPIC_NAME_MAX);
		return true;
	}
	memcpy(cname, s, (size_t)len);
	cname[len] = '\0';
	if (topic_name_valid(cname))
		return false;
	if (!strcmp(cname, ".") || !strcmp(cname, ".."))
		snprintf(msg, size, "Topic name is invalid: '%s' is not allowed", cname);
	else
		snprintf(msg, size,
			 "Topic name is invalid: '%s' contains one or more characters other than "
			 "ASCII alphanumerics, '.', '_' and '-'",
			 cname);
	return true;
}

/* Rules 1-3 for one topic: its error (msg its message) or 0 with *t a
 * reference to it. */
static int16_t topic_check(struct kafka_api *ka, const struct net_req *req, struct kstr name,
			   char *msg, size_t size, struct topic **t)
{
	*t = NULL;
	if (topic_name_invalid(name, msg, size))
		return PROTO_ERR_INVALID_TOPIC_EXCEPTION;
	if (!kafka_authorize(req, ACL_OP_READ, ACL_RES_TOPIC, name)) {
		snprintf(msg, size, "Topic authorization failed.");
		return PROTO_ERR_TOPIC_AUTHORIZATION_FAILED;
	}
	if (kafka_topic_find(ka, name, false, t) < 0) {
		*t = NULL;
		snprintf(msg, size, "This server does not host this topic-partition.");
		return PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	}
	return 0;
}

/* Rules 4-7 for partition rp->partition_index of t: its error, or 0 with
 * its producers in rp (allocated). -ENOMEM: no answer at all. */
static int part_producers(struct topic *t, struct proto_producers_part *rp)
{
	struct producer_summary *ps = NULL;
	int n = topic_active_producers(t, rp->partition_index, &ps);

	if (n == -ENOMEM)
		return n;
	if (n < 0) {
		rp->error_code = n == -ENOENT    ? PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION
				 : n == -EREMOTE ? PROTO_ERR_NOT_LEADER_OR_FOLLOWER
				 : n == -ENXIO   ? PROTO_ERR_KAFKA_STORAGE_ERROR
						 : proto_err_from_errno(n);
		return 0;
	}
	rp->producers = calloc((size_t)n + 1, sizeof(*rp->producers));
	if (!rp->producers) {
		free(ps);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		rp->producers[i] = (struct proto_producer_desc){
			.producer_id = ps[i].producer_id,
			.producer_epoch = ps[i].epoch,
			.last_sequence = ps[i].last_seq,
			.last_timestamp = ps[i].last_timestamp,
			.coordinator_epoch = -1,
			.current_txn_start_offset = -1,
		};
	rp->n_producers = n;
	free(ps);
	return 0;
}

/* One topic's answer into rt, whose partitions are parts (one per id
 * asked); msg the topic's error message, if any. 0 or -ENOMEM. */
static int topic_answer(struct kafka_api *ka, struct net_req *req,
			const struct proto_elect_topic *rq, struct proto_producers_topic *rt,
			struct proto_producers_part *parts, char *msg)
{
	struct topic *t;
	int16_t err = topic_check(ka, req, rq->topic, msg, MSG_MAX, &t);
	int rc = 0;

	rt->name = rq->topic;
	rt->n_partitions = rq->n_partitions;
	rt->partitions = parts;
	if (err)
		mq_log_limited(MQ_WARN, "DescribeProducers from %s: topic '%.*s' refused: %s: %s",
			       net_req_peer(req), rq->topic.ptr ? (int)rq->topic.len : 0,
			       rq->topic.ptr ? rq->topic.ptr : "", proto_err_name(err), msg);
	for (int32_t j = 0; j < rq->n_partitions && rc == 0; j++) {
		struct proto_producers_part *rp = &parts[j];

		rp->partition_index = rq->partitions[j].partition_id;
		if (err) {
			rp->error_code = err;
			rp->error_message = kstr_of(msg);
			continue;
		}
		rc = part_producers(t, rp);
		if (rc == 0 && rp->error_code)
			mq_log_limited(MQ_WARN, "DescribeProducers from %s: %s-%d refused: %s%s",
				       net_req_peer(req), t->name, (int)rp->partition_index,
				       proto_err_name(rp->error_code),
				       rp->error_code == PROTO_ERR_NOT_LEADER_OR_FOLLOWER
					       ? " (no replica of it here)"
					       : "");
	}
	if (t)
		topic_put(t);
	return rc;
}

static int describe_producers_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_describe_producers_req *m = &pr->u.describe_producers;
	struct proto_describe_producers_resp resp = { .n_topics = m->n_topics };
	struct proto_producers_part *parts;
	char *msgs;
	int32_t n = 0, k = 0;
	int rc = 0;
	size_t pos;

	for (int32_t i = 0; i < m->n_topics; i++)
		n += m->topics[i].n_partitions;
	resp.topics = calloc((size_t)m->n_topics + 1, sizeof(*resp.topics));
	parts = calloc((size_t)n + 1, sizeof(*parts));
	msgs = calloc((size_t)m->n_topics + 1, MSG_MAX);
	if (!resp.topics || !parts || !msgs) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t i = 0; i < m->n_topics && rc == 0; i++) {
		rc = topic_answer(ka, req, &m->topics[i], &resp.topics[i], &parts[k],
				  msgs + (size_t)i * MSG_MAX);
		k += m->topics[i].n_partitions;
	}
	if (rc < 0)
		goto out;
	pos = net_req_begin(req);
	rc = proto_describe_producers_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	for (int32_t j = 0; parts && j < n; j++)
		free(parts[j].producers);
	free(parts);
	free(resp.topics);
	free(msgs);
	return rc;
}

int kafka_producers_register(struct kafka_api *ka, struct net_server *srv)
{
	return net_server_handle(srv, PROTO_API_DESCRIBE_PRODUCERS, describe_producers_handler, ka);
}
