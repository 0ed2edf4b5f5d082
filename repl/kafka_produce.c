/*
 * kafka_produce.c — the Produce API (0) for Kafka clients: each
 * partition's record batches appended as the client wrote them
 * (topic_produce_batches, log_append_client), so they appear at once in
 * the partition files, .segments and .state, beside the mount's writes.
 *
 * Per partition, in this order, the first failure answers it (Kafka's
 * error codes, and in v8+ an error_message and the refused batch's index
 * in record_errors):
 *   acks other than -1, 0, 1                 INVALID_REQUIRED_ACKS
 *   unknown topic or partition (Produce never creates a topic: clients ask
 *   Metadata first, which may)               UNKNOWN_TOPIC_OR_PARTITION
 *   this broker does not lead it             NOT_LEADER_OR_FOLLOWER
 *   acks=-1 with an ISR smaller than min.insync.replicas
 *                                            NOT_ENOUGH_REPLICAS
 *   a batch not whole, bad CRC, records that do not decode, a magic
 *   byte no format has (above 2, negative)
 *                                            CORRUPT_MESSAGE
 *   magic 0 or 1 (old message sets), transactional or control
 *   batches, a producer id with a negative base sequence, no batch
 *                                            INVALID_RECORD
 *   zstd in a Produce below v7 (Kafka's KIP-110: clients that old
 *   could not be told of the codec)          UNSUPPORTED_COMPRESSION_TYPE
 *   a batch over max.message.bytes           MESSAGE_TOO_LARGE
 *   a batch (as stored) over segment.bytes   RECORD_LIST_TOO_LARGE
 *   a CreateTime timestamp outside message.timestamp.before.max.ms /
 *   .after.max.ms, or a batch with the LogAppendTime attribute
 *                                            INVALID_TIMESTAMP
 *   disk full, I/O error                     KAFKA_STORAGE_ERROR
 *   an idempotent producer's batch whose sequence does not follow
 *   (producer_state.h)                       OUT_OF_ORDER_SEQUENCE_NUMBER
 *   an older epoch of that producer          INVALID_PRODUCER_EPOCH
 *   acks=-1, not committed within the request's timeout_ms (appended)
 *                                            REQUEST_TIMED_OUT
 *   acks=-1, leadership lost while waiting for the commit (appended, may
 *   be truncated by the new leader)          NOT_LEADER_OR_FOLLOWER
 *   acks=-1, committed once the ISR had shrunk below
 *   min.insync.replicas (appended)           NOT_ENOUGH_REPLICAS_AFTER_APPEND
 * A batch an idempotent producer sent before (same producer id, epoch and
 * sequences as one of its last 5) is not appended again: the answer is
 * NONE with the offset it got the first time.
 * A partition's batches are all appended or none; partitions are
 * independent (one failing leaves the others appended), as in Kafka. A
 * partition named twice in one request is taken from its last entry only
 * (Kafka keeps the request's partitions in a map, so the last replaces
 * the others): the others are neither appended nor answered, and a line
 * is logged.
 *
 * acks=0 gets no response; when a partition fails, the connection is
 * closed instead (Kafka does the same, so that the client notices and
 * refreshes its metadata).
 *
 * The request frame is the listener's heap buffer, ours until the
 * response is sent: base offsets and leader epochs are written into it in
 * place before the bytes go to the log. A parked request lets go of it
 * once its partitions are appended (Kafka's clearPartitionRecords): its
 * topic names, all its answer still takes from the frame, are copied
 * into the produce_later first, and the listener frees the frame
 * (net_req_drop_frame), so parked writes hold their answers, not their
 * records.
 *
 * Threads: a listener worker. An acks=-1 request whose commit is not
 * there when its partitions are appended is parked (NET_PARKED) in the
 * produce purgatory (produce_park, broker_int.h), Kafka's DelayedProduce:
 * the worker is free for other requests, and the purgatory's thread
 * answers it once each of its waiting partitions is settled (committed,
 * its leadership lost, its topic deleted, timeout_ms passed), with the
 * answers above. The connection reads nothing more until then (one
 * request at a time), so its responses keep their order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "repl/client_quota.h"
#include "repl/cluster.h"
#include "repl/config.h"
#include "repl/acl.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/named_parts.h"
#include "repl/partition.h"
#include "util/diaglog.h"

int16_t kafka_produce_error(int err, const char **message)
{
	*message = NULL;
	switch (err) {
	case 0: return PROTO_ERR_NONE;
	case -EBADMSG:
		*message = "record batch not valid (length, CRC-32C or records)";
		return PROTO_ERR_CORRUPT_MESSAGE;
	case -EPROTO: *message = "record batches of magic 2 only"; return PROTO_ERR_INVALID_RECORD;
	case -EPERM:
		*message = "transactional and control batches are not supported";
		return PROTO_ERR_INVALID_RECORD;
	case -EINVAL: *message = "no record batch"; return PROTO_ERR_INVALID_RECORD;
	case -ENOKEY:
		*message = "a compacted topic takes no record without a key";
		return PROTO_ERR_INVALID_RECORD;
	case -ERANGE:
		*message = "one or more records have been rejected due to invalid timestamp";
		return PROTO_ERR_INVALID_TIMESTAMP;
	case -ENOTSUP:
		*message = "Produce requests below version 7 may not use ZStandard compression";
		return PROTO_ERR_UNSUPPORTED_COMPRESSION_TYPE;
	case -EMSGSIZE: return PROTO_ERR_MESSAGE_TOO_LARGE;
	case -E2BIG: return PROTO_ERR_RECORD_LIST_TOO_LARGE;             /* over segment.bytes */
	case -EKEYREJECTED: return PROTO_ERR_TOPIC_AUTHORIZATION_FAILED; /* no WRITE (acl.h) */
	case -EACCES:
		*message = "an internal topic: only the broker writes it";
		return PROTO_ERR_INVALID_TOPIC_EXCEPTION;
	case -ENOENT: return PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	case -EREMOTE: return PROTO_ERR_NOT_LEADER_OR_FOLLOWER;
	case -EAGAIN: return PROTO_ERR_NOT_ENOUGH_REPLICAS;
	case -ETIMEDOUT: return PROTO_ERR_REQUEST_TIMED_OUT;
	case -EL2NSYNC:
		*message = "appended, but the ISR shrank below min.insync.replicas before "
			   "it was committed";
		return PROTO_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND;
	case -EDOM: return PROTO_ERR_INVALID_REQUIRED_ACKS;
	case -EILSEQ:
		*message = "not the next sequence of this producer";
		return PROTO_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER;
	case -ESTALE:
		*message = "an older epoch of this producer";
		return PROTO_ERR_INVALID_PRODUCER_EPOCH;
	case -ENOSPC: *message = PROTO_MSG_DISK_FULL; return PROTO_ERR_KAFKA_STORAGE_ERROR;
	case -ENXIO: *message = PROTO_MSG_LOG_DIR_OFFLINE; return PROTO_ERR_KAFKA_STORAGE_ERROR;
	case -EIO: return PROTO_ERR_KAFKA_STORAGE_ERROR;
	default: return proto_err_from_errno(err);
	}
}

/* One partition of the request (of the given Produce version) into its
 * response entry. */
static int produce_partition(struct kafka_api *ka, const struct proto_produce_req *m,
			     int16_t version, struct topic *t, const struct proto_produce_part *pd,
			     struct produce_batches_result *res, struct produce_wait *wait)
{
	struct kafka_part_state st;
	int rc;

	res->base_offset = res->log_start_offset = res->log_append_time = -1;
	res->bad_batch = -1;
	res->why[0] = '\0';
	if (m->acks != -1 && m->acks != 0 && m->acks != 1)
		return -EDOM;
	if (!t)
		return -ENOENT;
	rc = kafka_partition_state(ka, t, pd->index, &st);
	if (rc < 0)
		return rc;
	/* As Kafka's ProduceRequest.validateRecords, before leadership. */
	if (version < 7 && pd->records_len > 0 &&
	    batches_hold_codec(pd->records, (size_t)pd->records_len, BATCH_CODEC_ZSTD))
		return -ENOTSUP;
	/* In a ZooKeeper cluster the append checks the partition's own
	 * leadership and ISR (topic_produce_batches); here, those of a single
	 * node. */
	if (!cluster_zk_mode(ka->c)) {
		if (st.leader != kafka_broker_id(ka))
			return -EREMOTE;
		pthread_rwlock_rdlock(&t->lock);
		int32_t min_isr = t->cfg.min_insync_replicas;
		pthread_rwlock_unlock(&t->lock);
		if (m->acks == -1 && st.n_isr < partition_effective_min_isr(min_isr, st.n_replicas))
			return -EAGAIN;
	}
	if (pd->records_len <= 0)
		return -EINVAL;
	/* The frame is ours (see the top): patched in place. */
	return topic_produce_batches(t, pd->index, (uint8_t *)(uintptr_t)pd->records,
				     (size_t)pd->records_len, m->acks,
				     m->timeout_ms > 0 ? m->timeout_ms : 0, res, wait);
}

/* A refused batch's error_message with what was wrong in it. */
#define PRODUCE_MSG_LEN (LOG_WHY_LEN + 64)

struct produce_build {
	struct proto_produce_resp resp;
	struct proto_record_error *rec_errs; /* one per partition */
	/* Refused batches' messages, one per record error, allocated only
	 * when a batch is refused (a request with none allocates nothing). */
	char (*msgs)[PRODUCE_MSG_LEN];
	int32_t nparts;
	int failed; /* partitions answered with an error */
};

/* An acks=-1 request's partitions whose commit is ahead (PRODUCE_PENDING),
 * parked in the produce purgatory: their entries are answered when all
 * are settled, on the purgatory's thread. */
struct produce_later {
	struct kafka_api *ka;
	struct net_req *req;
	struct produce_build pb; /* owned from the park on */
	int n;
	struct produce_wait *w;               /* n of nparts */
	struct proto_produce_resp_topic **rt; /* each wait's topic entry */
	struct proto_produce_resp_part **rp;  /* and partition entry */
	/* The response's topic names (pb.resp's names point here once the
	 * frame is dropped: produce_later_keep_names). */
	char *names;
};

/* The message of record error i (of rec_errs) for a batch refused with
 * why; NULL (the generic one) when out of memory. */
static const char *produce_why(struct produce_build *pb, int32_t i, int bad_batch, const char *why)
{
	if (!pb->msgs && !(pb->msgs = calloc((size_t)pb->nparts, sizeof(*pb->msgs))))
		return NULL;
	snprintf(pb->msgs[i], PRODUCE_MSG_LEN, "record batch %d not valid: %s", bad_batch, why);
	return pb->msgs[i];
}

static void produce_build_free(struct produce_build *pb)
{
	for (int32_t i = 0; i < pb->resp.n_topics; i++)
		free(pb->resp.responses[i].partition_responses);
	free(pb->resp.responses);
	free(pb->rec_errs);
	free(pb->msgs);
}

/* ---- a partition named twice ---- */

/* Sets mark[pos] (named_parts.h) for each partition entry of m; -ENOMEM. */
static int produce_replaced(const struct proto_produce_req *m, int32_t nparts, uint8_t *mark)
{
	struct named_part *refs;
	int32_t k = 0;

	refs = malloc((size_t)nparts * sizeof(*refs) + 1);
	if (!refs)
		return -ENOMEM;
	for (int32_t i = 0; i < m->n_topics; i++)
		for (int32_t j = 0; j < m->topic_data[i].n_partitions; j++, k++)
			refs[k] =
				(struct named_part){ m->topic_data[i].name,
						     m->topic_data[i].partition_data[j].index, k };
	named_parts_mark(refs, nparts, mark);
	free(refs);
	return 0;
}

/* Logs a partition's refusal (a timeout is logged where it is seen). */
static void produce_refused(const char *peer, struct kstr name,
			    const struct proto_produce_resp_part *rp, int rc, const char *msg)
{
	if (rc == -ETIMEDOUT)
		return;
	mq_log_limited(MQ_INFO, "Produce from %s to %.*s-%d refused: %s%s%s", peer,
		       name.len > 0 ? (int)name.len : 0, name.ptr ? name.ptr : "", rp->index,
		       proto_err_name(rp->error_code), msg ? ": " : "", msg ? msg : "");
}

static int produce_topic(struct kafka_api *ka, const struct proto_produce_req *m, int16_t version,
			 const struct proto_produce_topic *td, struct proto_produce_resp_topic *rt,
			 struct proto_record_error **errs, struct produce_build *pb,
			 const uint8_t *replaced, const char *peer, bool allowed,
			 struct produce_later *later)
{
	struct topic *t = NULL;
	int failed = 0;

	rt->name = td->name;
	rt->partition_responses =
		calloc((size_t)td->n_partitions + 1, sizeof(*rt->partition_responses));
	if (!rt->partition_responses)
		return -ENOMEM;
	if (!allowed || kafka_topic_find(ka, td->name, false, &t) < 0)
		t = NULL;
	/* As Kafka: __consumer_offsets holds the group coordinators' records,
	 * which a client's could forge or erase. */
	bool internal = t && !strncmp(topic_name(t), "__", 2);
	for (int32_t j = 0; j < td->n_partitions; j++) {
		const struct proto_produce_part *pd = &td->partition_data[j];
		struct proto_produce_resp_part *rp = &rt->partition_responses[rt->n_partitions];
		struct produce_batches_result res = { .base_offset = -1,
						      .log_start_offset = -1,
						      .log_append_time = -1,
						      .bad_batch = -1 };
		const char *msg;
		int rc;

		if (replaced[j] == NAMED_AGAIN) {
			mq_log_limited(
				MQ_INFO,
				"Produce from %s names %.*s-%d more than once: only its last "
				"entry is appended and answered",
				peer, td->name.len > 0 ? (int)td->name.len : 0,
				td->name.ptr ? td->name.ptr : "", pd->index);
			continue;
		}
		rc = !allowed   ? -EKEYREJECTED
		     : internal ? -EACCES
				: produce_partition(ka, m, version, t, pd, &res,
						    later ? &later->w[later->n] : NULL);
		rt->n_partitions++;
		rp->index = pd->index;
		if (rc == PRODUCE_PENDING) { /* answered once settled */
			rp->base_offset = res.base_offset;
			rp->log_append_time_ms = res.log_append_time;
			later->rt[later->n] = rt;
			later->rp[later->n++] = rp;
			continue;
		}
		rp->error_code = kafka_produce_error(rc, &msg);
		if ((rc == -EBADMSG || rc == -EPERM || rc == -ERANGE || rc == -EMSGSIZE ||
		     rc == -E2BIG) &&
		    res.why[0]) {
			/* Its record error (bad_batch >= 0) is the next one:
			 * the same index for its message. */
			const char *why = produce_why(pb, (int32_t)(*errs - pb->rec_errs),
						      res.bad_batch, res.why);

			msg = why ? why : msg;
		}
		rp->base_offset = res.base_offset;
		rp->log_append_time_ms = rc == 0 ? res.log_append_time : -1;
		rp->log_start_offset = res.log_start_offset;
		rp->error_message = kstr_of(msg);
		if (rc < 0 && res.bad_batch >= 0) {
			(*errs)->batch_index = res.bad_batch;
			(*errs)->batch_index_error_message = kstr_of(msg);
			rp->record_errors = (*errs)++;
			rp->n_record_errors = 1;
		}
		if (rc < 0) {
			failed++;
			produce_refused(peer, td->name, rp, rc, msg);
		}
	}
	if (t)
		topic_put(t);
	return failed;
}

/* Kafka records the whole request's size against the producer's quota
 * (request.sizeInBytes) when it answers, whatever became of its
 * partitions: its records alone would let a client that sends many empty
 * or tiny ones, or long names, go unbounded. */
static void produce_throttle(struct kafka_api *ka, struct net_req *req, struct produce_build *pb)
{
	pb->resp.throttle_time_ms =
		client_quotas_record_req(cluster_client_quotas(ka->c), req, CLIENT_QUOTA_PRODUCE,
					 (int64_t)net_req_size(req), false);
}

/* Encodes the response of pb to req's request. */
static int produce_respond(struct net_req *req, struct produce_build *pb)
{
	size_t pos = net_req_begin(req);
	int rc = proto_produce_resp_encode(&net_req_out(req)->w, net_req_msg(req)->hdr.api_version,
					   &pb->resp);

	return rc ? rc : net_req_end(req, pos);
}

/* The settled waits of later into their partitions' entries, their
 * references dropped. */
static void produce_later_answer(struct produce_later *later)
{
	for (int i = 0; i < later->n; i++) {
		struct produce_wait *w = &later->w[i];
		struct proto_produce_resp_part *rp = later->rp[i];
		const char *msg;

		rp->error_code = kafka_produce_error(w->rc, &msg);
		rp->error_message = kstr_of(msg);
		rp->log_start_offset = w->log_start_offset;
		if (w->rc < 0) {
			rp->log_append_time_ms = -1;
			produce_refused(net_req_peer(later->req), later->rt[i]->name, rp, w->rc,
					msg);
		}
		produce_wait_release(w);
	}
}

static void produce_later_free(struct produce_later *later)
{
	if (!later)
		return;
	for (int i = 0; i < later->n; i++)
		produce_wait_release(&later->w[i]);
	free(later->w);
	free(later->rt);
	free(later->rp);
	free(later->names);
	free(later);
}

/* Copies the topic names of later's response out of the request frame
 * (its entries point into it), so that the frame can go before the
 * answer. Returns 0, or -ENOMEM with the names untouched. */
static int produce_later_keep_names(struct produce_later *later)
{
	struct proto_produce_resp *resp = &later->pb.resp;
	size_t total = 0, at = 0;

	for (int32_t i = 0; i < resp->n_topics; i++)
		total += resp->responses[i].name.len > 0 ? (size_t)resp->responses[i].name.len : 0;
	later->names = malloc(total + 1);
	if (!later->names)
		return -ENOMEM;
	for (int32_t i = 0; i < resp->n_topics; i++) {
		struct kstr *name = &resp->responses[i].name;

		if (!name->ptr)
			continue;
		if (name->len > 0)
			memcpy(later->names + at, name->ptr, (size_t)name->len);
		name->ptr = later->names + at;
		at += name->len > 0 ? (size_t)name->len : 0;
	}
	return 0;
}

/* produce_parked_fn: every wait of the request settled. */
static void produce_later_done(void *arg)
{
	struct produce_later *later = arg;
	struct net_req *req = later->req;
	int rc = 0;

	/* Its client gone, or the broker stopping: no answer, the
	 * connection closed (the records stay, not acknowledged). */
	for (int i = 0; i < later->n; i++)
		if (later->w[i].rc == -ESHUTDOWN)
			rc = -ESHUTDOWN;
	if (rc == 0) {
		produce_later_answer(later);
		produce_throttle(later->ka, req, &later->pb);
		rc = produce_respond(req, &later->pb);
	}
	produce_build_free(&later->pb);
	/* The waits' references too, answered or not (a released wait is
	 * released again as a no-op). */
	produce_later_free(later);
	net_req_complete(req, rc);
}

/* produce_gone_fn */
static bool produce_later_gone(void *arg)
{
	const struct produce_later *later = arg;

	return net_req_cancelled(later->req);
}

/* net_cancel_fn (the loop's thread): the purgatory looks at once. Its
 * argument is the broker, which outlives the request. */
static void produce_conn_gone(void *arg)
{
	produce_purgatory_kick(arg);
}

static struct produce_later *produce_later_new(struct net_req *req, int32_t nparts)
{
	struct produce_later *later = calloc(1, sizeof(*later));

	if (!later)
		return NULL;
	later->req = req;
	later->w = calloc((size_t)nparts + 1, sizeof(*later->w));
	later->rt = calloc((size_t)nparts + 1, sizeof(*later->rt));
	later->rp = calloc((size_t)nparts + 1, sizeof(*later->rp));
	if (!later->w || !later->rt || !later->rp) {
		produce_later_free(later);
		return NULL;
	}
	return later;
}

static int produce_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_produce_req *m = &pr->u.produce;
	struct produce_build pb = { 0 };
	struct proto_record_error *errs;
	struct produce_later *later = NULL;
	uint8_t *replaced;
	int32_t nparts = 0, at = 0;
	int16_t acks = m->acks; /* m is gone once a parked frame is dropped */
	int rc = 0;

	for (int32_t i = 0; i < m->n_topics; i++)
		nparts += m->topic_data[i].n_partitions;
	pb.resp.responses = calloc((size_t)m->n_topics + 1, sizeof(*pb.resp.responses));
	pb.rec_errs = calloc((size_t)nparts + 1, sizeof(*pb.rec_errs));
	replaced = calloc((size_t)nparts + 1, sizeof(*replaced));
	pb.nparts = nparts;
	/* acks=-1: a partition whose commit is ahead is answered later,
	 * the worker freed (Kafka's DelayedProduce). */
	if (acks == -1)
		later = produce_later_new(req, nparts);
	if (!pb.resp.responses || !pb.rec_errs || !replaced || (acks == -1 && !later) ||
	    produce_replaced(m, nparts, replaced) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	errs = pb.rec_errs;
	for (int32_t i = 0; i < m->n_topics; i++) {
		struct proto_produce_resp_topic *rt = &pb.resp.responses[pb.resp.n_topics];

		rc = produce_topic(
			ka, m, pr->hdr.api_version, &m->topic_data[i], rt, &errs, &pb,
			replaced + at, net_req_peer(req),
			kafka_authorize(req, ACL_OP_WRITE, ACL_RES_TOPIC, m->topic_data[i].name),
			later);
		at += m->topic_data[i].n_partitions;
		pb.resp.n_topics++;
		if (rc < 0)
			goto out;
		/* A topic entry whose partitions later entries all replaced
		 * is not answered either. */
		if (rt->n_partitions == 0 && m->topic_data[i].n_partitions > 0) {
			free(rt->partition_responses);
			*rt = (struct proto_produce_resp_topic){ 0 };
			pb.resp.n_topics--;
		}
		pb.failed += rc;
		rc = 0;
	}
	if (later && later->n > 0) {
		free(replaced);
		replaced = NULL;
		struct broker *b = later->w[0].t->b;

		later->ka = ka;
		later->pb = pb;
		net_req_on_cancel(req, produce_conn_gone, b);
		/* Appended, its records are not needed again: the frame goes,
		 * the names its answer gives back copied out first (m, the
		 * request's body, is not read after this). Out of memory, the
		 * frame stays until the answer, as before. */
		if (produce_later_keep_names(later) == 0)
			(void)net_req_drop_frame(req);
		/* Parked, its frame (if still held) leaves
		 * queued.max.request.bytes: the followers' Fetches that
		 * commit it must not wait for that memory. */
		net_req_unreserve(req);
		rc = produce_park(b, later->w, later->n, produce_later_done, produce_later_gone,
				  later);
		if (rc == 0)
			return NET_PARKED; /* later is the purgatory's now */
		if (rc == -ESHUTDOWN)      /* stopping: closed, as a parked one */
			goto out;
		rc = 0;
		/* No purgatory thread: waited for here, as it must be. */
		for (int i = 0; i < later->n; i++)
			produce_wait_settle(&later->w[i]);
		produce_later_answer(later);
	}
	produce_throttle(ka, req, &pb);
	if (acks == 0) {
		if (pb.failed) {
			rc = -EPROTO; /* closed: how acks=0 learns of it */
			goto out;
		}
		net_req_no_response(req);
		goto out;
	}
	rc = produce_respond(req, &pb);
out:
	produce_build_free(&pb);
	free(replaced);
	produce_later_free(later);
	return rc;
}

int kafka_produce_register(struct kafka_api *ka, struct net_server *srv)
{
	return net_server_handle(srv, PROTO_API_PRODUCE, produce_handler, ka);
}
