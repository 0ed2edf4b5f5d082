/*
 * kafka_producer_id.c — InitProducerId (22) for Kafka clients with
 * enable.idempotence (librdkafka, kafkajs idempotent: true, Java's
 * default since 3.0): a producer id of this broker's blocks
 * (producer_ids.h) and epoch 0, which its batches then carry and which
 * each partition's leader checks (producer_state.h), so a retried batch
 * is appended once.
 *
 * Answers:
 *   transactional_id null                a new producer id, epoch 0, also
 *     for v3+ with the client's producer id and epoch (KIP-360's bump is
 *     the transaction coordinator's, for a transactional id: as Kafka,
 *     an idempotent producer gets a fresh id, for an id and epoch named by
 *     a client may be ones this broker never gave, or will give later to
 *     another producer, whose batches the leaders would then refuse)
 *   transactional_id set                 TRANSACTIONAL_ID_AUTHORIZATION_FAILED
 *     (there is no transaction coordinator; the client fails at once, as
 *     with a broker that refuses it the transactional id)
 *   no block of ids to be had (ZooKeeper down, the block file unwritable)
 *                                        COORDINATOR_NOT_AVAILABLE (retried)
 * Each refusal logs one line.
 *
 * Threads: a listener worker; producer_ids_next may call ZooKeeper (one
 * block in 1000 requests).
 */
#include <errno.h>
#include <string.h>

#include "repl/cluster.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/net.h"
#include "repl/producer_ids.h"
#include "repl/proto.h"
#include "util/diaglog.h"

static int init_pid_answer(struct kafka_api *ka, const struct net_req *req,
			   const struct proto_init_pid_req *m, struct proto_init_pid_resp *resp,
			   const char *peer)
{
	resp->producer_id = -1;
	resp->producer_epoch = -1;
	if (m->transactional_id.ptr) {
		mq_log_limited(MQ_INFO,
			       "InitProducerId from %s refused: transactional id '%.*s': "
			       "transactions are not supported",
			       peer, m->transactional_id.len > 0 ? (int)m->transactional_id.len : 0,
			       m->transactional_id.ptr);
		return PROTO_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	}
	/* An idempotent producer: IDEMPOTENT_WRITE on the cluster, or WRITE
	 * on some topic (Kafka 3.0+, KIP-679). */
	if (!kafka_may(req, ACL_OP_IDEMPOTENT_WRITE, ACL_RES_CLUSTER, kstr_of(ACL_CLUSTER_NAME)) &&
	    !kafka_authorize_any(req, ACL_OP_WRITE, ACL_RES_TOPIC)) {
		mq_log_limited(MQ_INFO,
			       "InitProducerId from %s refused: neither IdempotentWrite on the "
			       "cluster nor Write on any topic (CLUSTER_AUTHORIZATION_FAILED)",
			       peer);
		return PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
	}
	if (producer_ids_next(cluster_producer_ids(ka->c), &resp->producer_id) < 0) {
		resp->producer_id = -1;
		mq_log_limited(MQ_WARN, "InitProducerId from %s: no producer id to give", peer);
		return PROTO_ERR_COORDINATOR_NOT_AVAILABLE;
	}
	resp->producer_epoch = 0;
	return PROTO_ERR_NONE;
}

static int init_pid_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	struct proto_init_pid_resp resp = { 0 };
	size_t pos;
	int rc;

	resp.error_code =
		(int16_t)init_pid_answer(ka, req, &pr->u.init_pid, &resp, net_req_peer(req));
	pos = net_req_begin(req);
	rc = proto_init_pid_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	return rc ? rc : net_req_end(req, pos);
}

int kafka_producer_id_register(struct kafka_api *ka, struct net_server *srv)
{
	return net_server_handle(srv, PROTO_API_INIT_PRODUCER_ID, init_pid_handler, ka);
}
