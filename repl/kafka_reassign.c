/*
 * kafka_reassign.c — AlterPartitionReassignments (45) and
 * ListPartitionReassignments (46) on the broker listener: what
 * kafka-reassign-partitions.sh --bootstrap-server and
 * Admin.alterPartitionReassignments / listPartitionReassignments send,
 * answered as Kafka answers them in ZooKeeper mode.
 *
 * In a cluster the controller moves the replicas
 * (controller_alter_reassignments: the moves of the /admin/reassign_partitions
 * znode, without the znode; a partition asked for here leaves that znode)
 * and lists the partitions moving (their topic
 * znodes' adding and removing replicas). A broker that is not the
 * controller answers NOT_CONTROLLER at the top level, as Kafka's does,
 * so that the client asks the controller Metadata names. A single node
 * holds each partition's only replica: nothing is moving, and a move
 * elsewhere names brokers that do not exist (INVALID_REPLICA_ASSIGNMENT).
 *
 * Each refusal is logged by the controller (the partition, the target,
 * why); a NOT_CONTROLLER answer here, with the asker.
 *
 * Threads: a listener worker; the controller call waits for the
 * controller's event thread and then for the brokers to be told.
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

static int16_t alter_error(int result, const char **msg)
{
	*msg = NULL;
	switch (result) {
	case 0: return PROTO_ERR_NONE;
	case -ENOENT: return PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	case -EINVAL:
		*msg = "empty replica list, or a broker id repeated or negative";
		return PROTO_ERR_INVALID_REPLICA_ASSIGNMENT;
	case -EHOSTUNREACH:
		*msg = "a broker to add is not alive";
		return PROTO_ERR_INVALID_REPLICA_ASSIGNMENT;
	case -EALREADY: return PROTO_ERR_NO_REASSIGNMENT_IN_PROGRESS;
	}
	return proto_err_from_errno(result);
}

/* One node: no move can be asked for but the one to where it is. */
static void alter_single(struct kafka_api *ka, struct controller_reassignment *v, int n)
{
	for (int i = 0; i < n; i++) {
		struct topic *t = NULL;
		bool here;

		if (v[i].result)
			continue;
		if (kafka_topic_find(ka, kstr_of(v[i].topic), false, &t) < 0) {
			v[i].result = -ENOENT;
			continue;
		}
		here = v[i].partition >= 0 && v[i].partition < topic_partitions(t);
		topic_put(t);
		if (!here)
			v[i].result = -ENOENT;
		else if (!v[i].replicas)
			v[i].result = -EALREADY;
		else if (v[i].n_replicas != 1 || v[i].replicas[0] != kafka_broker_id(ka))
			v[i].result = v[i].n_replicas < 1 ? -EINVAL : -EHOSTUNREACH;
	}
}

/* A top-level error answer, no partition. */
static int answer_top(struct net_req *req, int16_t api, int16_t code, const char *msg)
{
	const struct proto_req *pr = net_req_msg(req);
	struct proto_reassign_resp resp = {
		.error_code = code,
		.error_message = msg ? kstr_of(msg) : KSTR_NULL,
	};
	size_t pos;
	int rc;

	pos = net_req_begin(req);
	rc = proto_reassign_resp_encode(&net_req_out(req)->w, api, pr->hdr.api_version, &resp);
	return rc ? rc : net_req_end(req, pos);
}

/* The top-level answer of a broker that is not the controller. */
static int answer_not_controller(struct net_req *req, int16_t api, const char *what, int rc)
{
	mq_log_limited(MQ_INFO, "%s from %s: NOT_CONTROLLER%s%s", what, net_req_peer(req),
		       rc != -EAGAIN ? " (the office was lost on the way: " : "",
		       rc != -EAGAIN ? strerror(-rc) : "");
	return answer_top(req, api, PROTO_ERR_NOT_CONTROLLER, "this broker is not the controller");
}

/* ListPartitionReassignments refused (no DESCRIBE on the cluster), as
 * Kafka's error answer (ListPartitionReassignmentsRequest.getErrorResponse):
 * CLUSTER_AUTHORIZATION_FAILED, and each topic asked with its partitions'
 * indexes and empty lists. 0 or -ENOMEM. */
static int list_refusal(const struct proto_reassign_req *rr, struct proto_reassign_resp *resp,
			struct proto_reassign_partition **parts)
{
	int32_t nt = rr->n_topics > 0 ? rr->n_topics : 0;
	int n = 0, k = 0;

	for (int32_t i = 0; i < nt; i++)
		n += rr->topics[i].n_partitions;
	resp->error_code = PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
	resp->topics = calloc((size_t)nt + 1, sizeof(*resp->topics));
	*parts = calloc((size_t)n + 1, sizeof(**parts));
	if (!resp->topics || !*parts)
		return -ENOMEM;
	for (int32_t i = 0; i < nt; i++) {
		resp->topics[i].name = rr->topics[i].name;
		resp->topics[i].n_partitions = rr->topics[i].n_partitions;
		resp->topics[i].partitions = &(*parts)[k];
		for (int32_t j = 0; j < rr->topics[i].n_partitions; j++, k++)
			(*parts)[k].partition_index = rr->topics[i].partitions[j].partition_index;
	}
	resp->n_topics = nt;
	return 0;
}

static int alter_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_reassign_req *rr = &pr->u.reassign;
	struct controller_reassignment *v;
	struct proto_reassign_resp resp = { 0 };
	struct proto_reassign_partition *parts = NULL;
	int n = 0, k = 0, rc = 0;
	size_t pos;
	/* ALTER on the cluster (KafkaApis); refused, Kafka's error answer
	 * (AlterPartitionReassignmentsRequest.getErrorResponse) carries the
	 * CLUSTER_AUTHORIZATION_FAILED at the top and in every partition
	 * asked, and nothing is reassigned. */
	bool denied = !kafka_authorize_cluster(req, ACL_OP_ALTER);

	for (int32_t i = 0; i < rr->n_topics; i++)
		n += rr->topics[i].n_partitions;
	v = calloc((size_t)n + 1, sizeof(*v));
	resp.topics = calloc((size_t)rr->n_topics + 1, sizeof(*resp.topics));
	parts = calloc((size_t)n + 1, sizeof(*parts));
	if (!v || !resp.topics || !parts) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t i = 0; i < rr->n_topics; i++)
		for (int32_t j = 0; j < rr->topics[i].n_partitions; j++, k++) {
			const struct proto_reassign_partition *p = &rr->topics[i].partitions[j];
			struct kstr name = rr->topics[i].name;

			/* A name longer than any topic's names none. */
			if (name.len > ZK_TOPIC_MAX) {
				v[k].result = -ENOENT;
				name.len = 0;
			}
			memcpy(v[k].topic, name.ptr, (size_t)name.len);
			v[k].partition = p->partition_index;
			v[k].replicas = p->n_replicas < 0 ? NULL : p->replicas;
			v[k].n_replicas = p->n_replicas < 0 ? 0 : p->n_replicas;
			/* An empty list decodes without an array. */
			if (v[k].replicas == NULL && p->n_replicas == 0)
				v[k].replicas = (const int32_t *)&v[k].n_replicas;
		}
	if (denied) {
		resp.error_code = PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
	} else {
		mq_log(MQ_INFO, "AlterPartitionReassignments from %s: %d partition(s)",
		       net_req_peer(req), n);
		if (!cluster_zk_mode(ka->c)) {
			alter_single(ka, v, n);
		} else if ((rc = cluster_alter_reassignments(ka->c, v, n)) < 0) {
			rc = answer_not_controller(req, PROTO_API_ALTER_PARTITION_REASSIGNMENTS,
						   "AlterPartitionReassignments", rc);
			goto out;
		}
	}
	k = 0;
	for (int32_t i = 0; i < rr->n_topics; i++) {
		resp.topics[i].name = rr->topics[i].name;
		resp.topics[i].n_partitions = rr->topics[i].n_partitions;
		resp.topics[i].partitions = &parts[k];
		for (int32_t j = 0; j < rr->topics[i].n_partitions; j++, k++) {
			const char *msg = NULL;

			parts[k].partition_index = v[k].partition;
			parts[k].error_code = denied ? PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED
						     : alter_error(v[k].result, &msg);
			parts[k].error_message = msg ? kstr_of(msg) : KSTR_NULL;
		}
	}
	resp.n_topics = rr->n_topics;
	pos = net_req_begin(req);
	rc = proto_reassign_resp_encode(&net_req_out(req)->w,
					PROTO_API_ALTER_PARTITION_REASSIGNMENTS,
					pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(v);
	free(resp.topics);
	free(parts);
	return rc;
}

/* Whether the request asks for (topic, partition): a null list asks for
 * every partition. */
static bool list_asked(const struct proto_reassign_req *rr, const char *topic, int32_t partition)
{
	if (rr->n_topics < 0)
		return true;
	for (int32_t i = 0; i < rr->n_topics; i++) {
		if (!kstr_eq(rr->topics[i].name, topic))
			continue;
		for (int32_t j = 0; j < rr->topics[i].n_partitions; j++)
			if (rr->topics[i].partitions[j].partition_index == partition)
				return true;
	}
	return false;
}

static int list_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_reassign_req *rr = &pr->u.reassign;
	struct proto_reassign_resp resp = { 0 };
	struct proto_reassign_partition *parts = NULL;
	struct controller_moving *v = NULL;
	int n = 0, k = 0, rc = 0;
	size_t pos;

	if (!kafka_authorize_cluster(req, ACL_OP_DESCRIBE)) {
		if ((rc = list_refusal(rr, &resp, &parts)) < 0)
			goto out;
		goto answer;
	}
	if (cluster_zk_mode(ka->c) && (n = cluster_list_reassignments(ka->c, &v)) < 0)
		return answer_not_controller(req, PROTO_API_LIST_PARTITION_REASSIGNMENTS,
					     "ListPartitionReassignments", n);
	resp.topics = calloc((size_t)n + 1, sizeof(*resp.topics));
	parts = calloc((size_t)n + 1, sizeof(*parts));
	if (!resp.topics || !parts) {
		rc = -ENOMEM;
		goto out;
	}
	/* The controller lists a topic's partitions together. */
	for (int i = 0; i < n; i++) {
		struct proto_reassign_partition *p = &parts[k];

		if (!list_asked(rr, v[i].topic, v[i].partition))
			continue;
		if (resp.n_topics == 0 ||
		    !kstr_eq(resp.topics[resp.n_topics - 1].name, v[i].topic)) {
			resp.topics[resp.n_topics].name = kstr_of(v[i].topic);
			resp.topics[resp.n_topics++].partitions = p;
		}
		resp.topics[resp.n_topics - 1].n_partitions++;
		p->partition_index = v[i].partition;
		p->n_replicas = v[i].a.n_replicas;
		p->replicas = v[i].a.replicas;
		p->n_adding = v[i].a.n_adding;
		p->adding = v[i].a.adding;
		p->n_removing = v[i].a.n_removing;
		p->removing = v[i].a.removing;
		k++;
	}
answer:
	pos = net_req_begin(req);
	rc = proto_reassign_resp_encode(&net_req_out(req)->w,
					PROTO_API_LIST_PARTITION_REASSIGNMENTS, pr->hdr.api_version,
					&resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	free(resp.topics);
	free(parts);
	controller_moving_free(v, n);
	return rc;
}

int kafka_reassign_register(struct kafka_api *ka, struct net_server *srv)
{
	int rc = net_server_handle(srv, PROTO_API_ALTER_PARTITION_REASSIGNMENTS, alter_handler, ka);

	return rc ? rc
		  : net_server_handle(srv, PROTO_API_LIST_PARTITION_REASSIGNMENTS, list_handler,
				      ka);
}
