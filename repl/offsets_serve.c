/*
 * offsets_serve.c — ListOffsets (Kafka's ReplicaManager.fetchOffset and
 * Partition.fetchOffsetForTimestamp) over the local replicas.
 *
 * Per partition, the first that applies answers:
 *   0. v1+: a partition the request names more than once, every entry
 *      of it:                                  INVALID_REQUEST (Kafka's
 *      duplicatePartitions), logged
 *   1-3. as a Fetch (fetch_serve_epoch_check, fetch_serve_no_replica): no
 *      local replica (NOT_LEADER_OR_FOLLOWER for one the cluster's
 *      metadata names, os->known), a fenced
 *      or unknown current_leader_epoch (v4+; a follower's too), not the
 *      leader
 *   4. the offset, bounded by what the asker may fetch: the hw for a
 *      consumer (replica_id < 0; both isolation levels, since there are no
 *      transactions the last stable offset is the hw), the LEO for a
 *      replica:
 *        -2 earliest          the log start offset
 *        -1 latest            the bound
 *        -3 max timestamp (v7) the record with the largest timestamp
 *                             (the earliest of equals) and that timestamp:
 *                             each segment's largest timestamp picks the
 *                             segment, its time index the batch; none
 *                             below the bound: offset and timestamp -1
 *                             without error, as Kafka; a log that keeps no
 *                             timestamps (no such op) UNSUPPORTED_VERSION
 *        t >= 0               the first record with timestamp >= t below
 *                             the bound (time index, then a scan of one
 *                             batch run), with its timestamp; none: offset
 *                             and timestamp -1 without error, as Kafka
 *        other negatives      INVALID_REQUEST
 *      For a consumer (v1+), a leader whose hw is still below the offset
 *      its leader epoch began at (a new leader learns the hw from its
 *      followers' next fetches; until then its hw may be lower than what
 *      the old leader had acknowledged and answered) answers -1, and a
 *      time whose record is not below that hw, OFFSET_NOT_AVAILABLE, a
 *      retriable error, as Kafka's Partition.fetchOffsetForTimestamp: a
 *      client's end offset never goes back across a failover.
 *      -3 and t count the records from the log start on only (the engine's
 *      lookups skip what DeleteRecords left below it in its segment).
 *      v0 answers old_style_offsets: the offset alone (max_num_offsets 0:
 *      none), -1 for none found. v1+ answer timestamp (-1 for -1/-2) and
 *      offset; v4+ the leader epoch, as Kafka's: the partition's for
 *      -1, for the others the epoch the offset found was written in
 *      (the epoch cache's epochForOffset: for -2 the log start's), -1
 *      when none was found.
 *
 * DeleteRecords (Kafka's ReplicaManager.deleteRecords and
 * DelayedDeleteRecords). Per partition, the first that applies answers:
 *   0. an internal ("__") topic:               INVALID_TOPIC_EXCEPTION
 *   1. no local replica:                       UNKNOWN_TOPIC_OR_PARTITION
 *   2. not the leader:                         NOT_LEADER_OR_FOLLOWER
 *   3. offset above the hw, or below -1 (-1 is the hw):
 *                                              OFFSET_OUT_OF_RANGE
 *   4. a topic compacted only (no delete in cleanup.policy):
 *                                              POLICY_VIOLATION
 *   5. the leader's log start moves up to the offset (the engine's
 *      log_delete_records: the segments wholly below go, readers start at
 *      it, the start is checkpointed by the broker's start listener);
 *      then the answer waits, up to timeout_ms, until the low watermark
 *      (partition_low_watermark: the lowest log start of the leader and
 *      every follower on a live broker, in the ISR or not, each
 *      follower's as its Fetch requests tell it) reaches
 *      the offset: the followers move theirs when a Fetch response
 *      carries the leader's. Past timeout_ms (at most
 *      DELETE_RECORDS_MAX_WAIT_MS): REQUEST_TIMED_OUT (the
 *      leader's start has moved all the same, and the followers' follow).
 *      Leadership lost meanwhile: NOT_LEADER_OR_FOLLOWER.
 * The answer's low_watermark is the low watermark reached, -1 with an
 * error. Every refusal and every move is logged with the asker.
 *
 * Threads: a listener worker (DeleteRecords may wait on it, polling the
 * partitions every DELETE_RECORDS_POLL_MS, as Produce waits for acks=all),
 * but for a follower's ListOffsets of the log start or end, which runs on
 * the listener's loop (list_offsets_pick); the replica's log takes its
 * own locks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "repl/kafka_authz.h"
#include "repl/named_parts.h"
#include "repl/offsets_serve.h"
#include "repl/proto.h"
#include "util/clock.h"
#include "util/diaglog.h"
#include "util/pause.h"

#define DELETE_RECORDS_POLL_MS     5
/* The longest wait a DeleteRecords gets, whatever its timeout_ms: the
 * wait holds a listener worker (Kafka parks it in a purgatory), so a
 * client asking for days must not keep one. */
#define DELETE_RECORDS_MAX_WAIT_MS 60000

/* The leader epoch an answer names for offset (v4+), as Kafka's: the
 * epoch its record was written in (the epoch cache's epochForOffset; the
 * partition's epoch when the log keeps none). */
static int32_t offset_epoch(struct partition *p, int64_t offset, int32_t leader_epoch)
{
	const struct partition_log_ops *ops = partition_log_ops(p);

	return ops->epoch_for_offset ? ops->epoch_for_offset(partition_log(p), offset)
				     : leader_epoch;
}

/* Rule 4 for one partition whose replica passed rules 1-3 and leads in
 * leader_epoch; *found_epoch the answer's leader epoch. */
static int16_t part_offset(struct partition *p, int16_t version, int32_t replica_id,
			   int64_t timestamp, int32_t leader_epoch, int64_t *offset,
			   int64_t *found_ts, int32_t *found_epoch)
{
	const struct partition_log_ops *ops = partition_log_ops(p);
	struct partition_offsets o;
	struct partition_info info;
	int64_t bound;
	bool lagging;
	int rc = 0;

	ops->offsets(partition_log(p), &o);
	partition_get_info(p, &info);
	bound = replica_id >= 0 ? o.log_end_offset : o.hw;
	/* Kafka asks it of client requests of v1+ (those with an isolation
	 * level); v0 and replicas are answered as they are. */
	lagging = replica_id < 0 && version >= 1 && info.leader_epoch_start_offset > o.hw;
	*offset = -1;
	*found_ts = -1;
	*found_epoch = -1;
	if (timestamp == PROTO_LIST_OFFSETS_EARLIEST) {
		*offset = o.log_start_offset;
		*found_epoch = offset_epoch(p, *offset, leader_epoch);
		return 0;
	}
	if (timestamp == PROTO_LIST_OFFSETS_LATEST) {
		if (lagging)
			return PROTO_ERR_OFFSET_NOT_AVAILABLE;
		*offset = bound;
		*found_epoch = leader_epoch;
		return 0;
	}
	if (timestamp == PROTO_LIST_OFFSETS_MAX_TIMESTAMP) {
		if (!ops->offset_for_max_time)
			return PROTO_ERR_UNSUPPORTED_VERSION;
		rc = ops->offset_for_max_time(partition_log(p), offset, found_ts);
	} else if (!ops->offset_for_time) {
		return PROTO_ERR_UNSUPPORTED_VERSION;
	} else if (timestamp < 0) {
		return PROTO_ERR_INVALID_REQUEST;
	} else {
		rc = ops->offset_for_time(partition_log(p), timestamp, offset, found_ts);
	}
	if (rc == -ERANGE || (rc == 0 && *offset >= bound)) {
		*offset = -1;
		*found_ts = -1;
		if (lagging)
			return PROTO_ERR_OFFSET_NOT_AVAILABLE;
		return 0;
	}
	if (rc == 0 && *offset >= 0)
		*found_epoch = offset_epoch(p, *offset, leader_epoch);
	return rc ? proto_err_from_errno(rc) : 0;
}

/* Rule 0: marks (named_parts.h) the entries of partitions m names more
 * than once; 1 when there are any, 0 none, -ENOMEM. */
static int list_offsets_named_again(const struct proto_list_offsets_req *m, int32_t n,
				    uint8_t *mark)
{
	struct named_part *refs = malloc((size_t)n * sizeof(*refs) + 1);
	int32_t k = 0, again;

	if (!refs)
		return -ENOMEM;
	for (int32_t t = 0; t < m->n_topics; t++)
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, k++)
			refs[k] = (struct named_part){ m->topics[t].name,
						       m->topics[t].partitions[j].partition_index,
						       k };
	again = named_parts_mark(refs, n, mark);
	free(refs);
	return again > 0;
}

static int list_offsets_handler(void *arg, struct net_req *req)
{
	struct offsets_serve *os = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_list_offsets_req *m = &pr->u.list_offsets;
	struct proto_list_offsets_resp resp = { .n_topics = m->n_topics };
	struct proto_list_offsets_resp_part *parts;
	int64_t *old;
	uint8_t *mark;
	int n = 0, k = 0, rc, again = 0;
	size_t pos;

	for (int32_t t = 0; t < m->n_topics; t++)
		n += m->topics[t].n_partitions;
	resp.topics = calloc((size_t)m->n_topics + 1, sizeof(*resp.topics));
	parts = calloc((size_t)n + 1, sizeof(*parts));
	old = calloc((size_t)n + 1, sizeof(*old));
	mark = calloc((size_t)n + 1, 1);
	if (!resp.topics || !parts || !old || !mark ||
	    (pr->hdr.api_version >= 1 && (again = list_offsets_named_again(m, n, mark)) < 0)) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t t = 0; t < m->n_topics; t++) {
		resp.topics[t].name = m->topics[t].name;
		resp.topics[t].n_partitions = m->topics[t].n_partitions;
		resp.topics[t].partitions = &parts[k];
		bool denied =
			!kafka_authorize(req, ACL_OP_DESCRIBE, ACL_RES_TOPIC, m->topics[t].name);
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, k++) {
			const struct proto_list_offsets_part *rq = &m->topics[t].partitions[j];
			struct proto_list_offsets_resp_part *rp = &parts[k];
			struct partition *p =
				os->lookup(os->arg, m->topics[t].name, rq->partition_index);
			int32_t epoch = -1;

			rp->partition_index = rq->partition_index;
			rp->timestamp = -1;
			rp->offset = -1;
			rp->leader_epoch = -1;
			if (denied) {
				rp->error_code = PROTO_ERR_TOPIC_AUTHORIZATION_FAILED;
				partition_unref(p);
				continue;
			}
			/* An isolation level Kafka does not define (neither 0 nor
			 * 1) in a consumer's request fails Kafka's
			 * IsolationLevel.forId: its error response answers each
			 * partition UNKNOWN_SERVER_ERROR. */
			if (pr->hdr.api_version >= 2 && m->replica_id == -1 &&
			    m->isolation_level != 0 && m->isolation_level != 1) {
				rp->error_code = PROTO_ERR_UNKNOWN_SERVER_ERROR;
				if (k == 0)
					mq_log_limited(MQ_WARN,
						       "ListOffsets from %s: isolation level %d, "
						       "which Kafka does not define: "
						       "UNKNOWN_SERVER_ERROR",
						       net_req_peer(req), (int)m->isolation_level);
				partition_unref(p);
				continue;
			}
			if (again && mark[k] != NAMED_ONCE) {
				rp->error_code = PROTO_ERR_INVALID_REQUEST;
				if (mark[k] == NAMED_LAST)
					mq_log_limited(
						MQ_WARN,
						"ListOffsets from %s names %.*s-%d more than "
						"once: INVALID_REQUEST for each entry, as Kafka",
						net_req_peer(req),
						m->topics[t].name.len > 0
							? (int)m->topics[t].name.len
							: 0,
						m->topics[t].name.ptr ? m->topics[t].name.ptr : "",
						(int)rq->partition_index);
				partition_unref(p);
				continue;
			}
			rp->error_code =
				p ? fetch_serve_epoch_check(p, rq->current_leader_epoch)
				  : fetch_serve_no_replica(os->known, os->known_arg,
							   m->topics[t].name, rq->partition_index);
			if (!rp->error_code && partition_leader_epoch(p, &epoch))
				rp->error_code = PROTO_ERR_NOT_LEADER_OR_FOLLOWER;
			if (!rp->error_code)
				rp->error_code = part_offset(p, pr->hdr.api_version, m->replica_id,
							     rq->timestamp, epoch, &rp->offset,
							     &rp->timestamp, &rp->leader_epoch);
			partition_unref(p);
			if (rp->error_code) {
				rp->offset = -1;
				rp->timestamp = -1;
				rp->leader_epoch = -1;
				continue;
			}
			if (rp->offset >= 0 && rq->max_num_offsets > 0) {
				old[k] = rp->offset;
				rp->n_old_style_offsets = 1;
				rp->old_style_offsets = &old[k];
			}
		}
	}
	pos = net_req_begin(req);
	rc = proto_list_offsets_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (!rc)
		rc = net_req_end(req, pos);
out:
	free(resp.topics);
	free(parts);
	free(old);
	free(mark);
	return rc;
}

/* Rules 1-5 but the wait, for one partition: the error, or 0 with *p
 * held (a reference) and *target the offset the low watermark must reach. */
static int16_t delete_one(struct offsets_serve *os, struct net_req *req, struct kstr topic,
			  const struct proto_delete_records_part *rq, struct partition **p,
			  int64_t *target)
{
	int64_t start = -1;
	int16_t err = 0;
	int rc;

	*p = NULL;
	/* Kafka's ReplicaManager refuses an internal topic before anything
	 * else: __consumer_offsets holds the coordinators' records. */
	if (topic.len >= 2 && !memcmp(topic.ptr, "__", 2)) {
		err = PROTO_ERR_INVALID_TOPIC_EXCEPTION;
		goto refused;
	}
	*p = os->lookup(os->arg, topic, rq->partition_index);
	if (!*p) {
		err = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		goto refused;
	}
	rc = partition_delete_records(*p, rq->offset, &start);
	if (rc == 0) {
		*target = rq->offset == PROTO_DELETE_RECORDS_HW ? start : rq->offset;
		mq_log(MQ_INFO,
		       "DeleteRecords from %s: %.*s-%d: records below offset %" PRId64
		       " deleted, the log starts at %" PRId64,
		       net_req_peer(req), (int)topic.len, topic.ptr, (int)rq->partition_index,
		       *target, start);
		return 0;
	}
	partition_unref(*p);
	*p = NULL;
	err = rc == -EREMOTE   ? PROTO_ERR_NOT_LEADER_OR_FOLLOWER
	      : rc == -ERANGE  ? PROTO_ERR_OFFSET_OUT_OF_RANGE
	      : rc == -EPERM   ? PROTO_ERR_POLICY_VIOLATION
	      : rc == -ENOENT  ? PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION
	      : rc == -ENOTSUP ? PROTO_ERR_UNSUPPORTED_VERSION
			       : proto_err_from_errno(rc);
refused:
	mq_log_limited(
		MQ_WARN, "DeleteRecords from %s: %.*s-%d below offset %" PRId64 " refused: %s%s",
		net_req_peer(req), (int)topic.len, topic.ptr, (int)rq->partition_index, rq->offset,
		proto_err_name(err),
		err == PROTO_ERR_OFFSET_OUT_OF_RANGE ? " (above the high watermark, or below -1)"
		: err == PROTO_ERR_INVALID_TOPIC_EXCEPTION
			? " (an internal topic: its records are the group coordinators')"
		: err == PROTO_ERR_POLICY_VIOLATION
			? " (cleanup.policy=compact: records are removed by compaction only)"
			: "");
	return err;
}

/* Rule 5's wait: until every held partition's low watermark reaches its
 * target, or the deadline. Each answered partition is released. */
static void delete_wait(struct partition **ps, const int64_t *target,
			struct proto_delete_records_resp_part *rp, int n, int64_t deadline)
{
	for (;;) {
		int pending = 0;

		for (int k = 0; k < n; k++) {
			int64_t low = -1;

			if (!ps[k])
				continue;
			if (partition_low_watermark(ps[k], &low) < 0) {
				rp[k].error_code = PROTO_ERR_NOT_LEADER_OR_FOLLOWER;
			} else if (low >= target[k]) {
				rp[k].low_watermark = low;
			} else {
				pending++;
				continue;
			}
			partition_unref(ps[k]);
			ps[k] = NULL;
		}
		if (!pending)
			return;
		if (now_mono_ms() >= deadline)
			break;
		pause_ms(DELETE_RECORDS_POLL_MS);
	}
	for (int k = 0; k < n; k++)
		if (ps[k]) {
			rp[k].error_code = PROTO_ERR_REQUEST_TIMED_OUT;
			partition_unref(ps[k]);
			ps[k] = NULL;
		}
}

static int delete_records_handler(void *arg, struct net_req *req)
{
	struct offsets_serve *os = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_delete_records_req *m = &pr->u.delete_records;
	struct proto_delete_records_resp resp = { .n_topics = m->n_topics };
	struct proto_delete_records_resp_part *parts;
	struct partition **ps;
	int64_t *target;
	int n = 0, k = 0, rc;
	size_t pos;

	for (int32_t t = 0; t < m->n_topics; t++)
		n += m->topics[t].n_partitions;
	resp.topics = calloc((size_t)m->n_topics + 1, sizeof(*resp.topics));
	parts = calloc((size_t)n + 1, sizeof(*parts));
	ps = calloc((size_t)n + 1, sizeof(*ps));
	target = calloc((size_t)n + 1, sizeof(*target));
	if (!resp.topics || !parts || !ps || !target) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t t = 0; t < m->n_topics; t++) {
		resp.topics[t].name = m->topics[t].name;
		resp.topics[t].n_partitions = m->topics[t].n_partitions;
		resp.topics[t].partitions = &parts[k];
		bool denied =
			!kafka_authorize(req, ACL_OP_DELETE, ACL_RES_TOPIC, m->topics[t].name);
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, k++) {
			const struct proto_delete_records_part *rq = &m->topics[t].partitions[j];

			parts[k].partition_index = rq->partition_index;
			parts[k].low_watermark = -1;
			parts[k].error_code = denied ? PROTO_ERR_TOPIC_AUTHORIZATION_FAILED
						     : delete_one(os, req, m->topics[t].name, rq,
								  &ps[k], &target[k]);
		}
	}
	int64_t wait = m->timeout_ms > 0 ? m->timeout_ms : 0;

	if (wait > DELETE_RECORDS_MAX_WAIT_MS)
		wait = DELETE_RECORDS_MAX_WAIT_MS;
	delete_wait(ps, target, parts, n, now_mono_ms() + wait);
	pos = net_req_begin(req);
	rc = proto_delete_records_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (!rc)
		rc = net_req_end(req, pos);
out:
	for (int i = 0; ps && i < n; i++)
		if (ps[i])
			partition_unref(ps[i]);
	free(resp.topics);
	free(parts);
	free(ps);
	free(target);
	return rc;
}

/* A follower's ListOffsets of the log start or end (its fetcher's, after
 * an out-of-range fetch offset) runs on the loop, as its Fetch and
 * OffsetForLeaderEpoch do (fetch_serve.c's ofle_pick: its fetcher
 * fetches nothing from this leader until answered, while acks=all writes
 * wait on the workers for its next fetch). Those read the log's offsets
 * only; a timestamp's lookup reads the time index and stays on the
 * workers, as every consumer's does. */
static bool list_offsets_pick(void *arg, const struct net_req *req)
{
	const struct proto_list_offsets_req *m = &net_req_msg(req)->u.list_offsets;

	(void)arg;
	if (m->replica_id < 0)
		return false;
	for (int32_t t = 0; t < m->n_topics; t++)
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++) {
			int64_t ts = m->topics[t].partitions[j].timestamp;

			if (ts != PROTO_LIST_OFFSETS_LATEST && ts != PROTO_LIST_OFFSETS_EARLIEST)
				return false;
		}
	return true;
}

int offsets_serve_register(struct offsets_serve *os, struct net_server *srv)
{
	int rc = net_server_handle_picked(srv, PROTO_API_LIST_OFFSETS, list_offsets_handler, os,
					  list_offsets_pick);

	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_DELETE_RECORDS, delete_records_handler, os);
	return rc;
}
