/*
 * fuzz_request.c — libFuzzer entry point for the broker's request decoder
 * (repl/proto_hdr.c proto_req_decode, every API of the table): the input
 * is one request frame without its INT32 size, of any API. The decoder
 * must return 0, -EBADMSG, -EOPNOTSUPP, -E2BIG (an array over mqfs's
 * bounds) or -ENOMEM, and never read outside the input; a decoded
 * request is encoded back and decoded again to the same fields, so the
 * encoders run under the fuzzer too. Seeds: corpus/fuzz_request/ (one
 * valid frame per API and version family).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repl/proto.h"

/* Produce goes through struct proto_out (records may be file ranges):
 * flattened, it must decode to the same records. */
static void produce_roundtrip(const struct proto_req *req)
{
	const struct proto_produce_req *p = &req->u.produce;
	struct proto_out out;
	struct proto_req again;
	uint8_t *buf = NULL;
	size_t len;

	proto_out_init(&out, PROTO_MAX_FRAME);
	if (proto_produce_req_encode(&out, &req->hdr, p) != 0 ||
	    proto_out_flatten(&out, &buf, &len) != 0) {
		proto_out_free(&out);
		return;
	}
	if (proto_req_decode(buf + 4, len - 4, &again) != 0 ||
	    again.u.produce.n_topics != p->n_topics || again.u.produce.acks != p->acks)
		abort();
	for (int32_t i = 0; i < p->n_topics; i++) {
		const struct proto_produce_topic *a = &p->topic_data[i];
		const struct proto_produce_topic *b = &again.u.produce.topic_data[i];

		if (a->n_partitions != b->n_partitions)
			abort();
		for (int32_t j = 0; j < a->n_partitions; j++)
			if (a->partition_data[j].records_len != b->partition_data[j].records_len ||
			    (a->partition_data[j].records_len > 0 &&
			     memcmp(a->partition_data[j].records, b->partition_data[j].records,
				    (size_t)a->partition_data[j].records_len)))
				abort();
	}
	proto_req_free(&again);
	free(buf);
	proto_out_free(&out);
}

/* The counts a re-encoded client API request must keep. */
static bool client_api_same(const struct proto_req *a, const struct proto_req *b)
{
	switch (a->hdr.api_key) {
	case PROTO_API_LIST_OFFSETS:
		return a->u.list_offsets.n_topics == b->u.list_offsets.n_topics;
	case PROTO_API_OFFSET_COMMIT:
		return a->u.offset_commit.n_topics == b->u.offset_commit.n_topics;
	case PROTO_API_OFFSET_FETCH:
		return a->u.offset_fetch.n_groups == b->u.offset_fetch.n_groups;
	case PROTO_API_FIND_COORDINATOR: return a->u.find_coord.n_keys == b->u.find_coord.n_keys;
	case PROTO_API_JOIN_GROUP: return a->u.join.n_protocols == b->u.join.n_protocols;
	case PROTO_API_SYNC_GROUP: return a->u.sync.n_assignments == b->u.sync.n_assignments;
	case PROTO_API_LEAVE_GROUP: return a->u.leave.n_members == b->u.leave.n_members;
	case PROTO_API_CREATE_TOPICS:
		return a->u.create_topics.n_topics == b->u.create_topics.n_topics;
	case PROTO_API_DELETE_TOPICS:
		return a->u.delete_topics.n_topics == b->u.delete_topics.n_topics;
	case PROTO_API_CREATE_PARTITIONS:
		return a->u.create_parts.n_topics == b->u.create_parts.n_topics;
	case PROTO_API_DESCRIBE_CONFIGS:
		return a->u.describe_configs.n_resources == b->u.describe_configs.n_resources;
	case PROTO_API_ALTER_CONFIGS:
	case PROTO_API_INCREMENTAL_ALTER_CONFIGS:
		return a->u.alter_configs.n_resources == b->u.alter_configs.n_resources;
	case PROTO_API_DESCRIBE_GROUPS:
		return a->u.describe_groups.n_groups == b->u.describe_groups.n_groups;
	case PROTO_API_LIST_GROUPS:
		return a->u.list_groups.n_states_filter == b->u.list_groups.n_states_filter &&
		       a->u.list_groups.n_types_filter == b->u.list_groups.n_types_filter;
	case PROTO_API_DELETE_GROUPS:
		return a->u.delete_groups.n_groups == b->u.delete_groups.n_groups;
	case PROTO_API_OFFSET_DELETE:
		return a->u.offset_delete.n_topics == b->u.offset_delete.n_topics &&
		       kstr_same(a->u.offset_delete.group_id, b->u.offset_delete.group_id);
	case PROTO_API_DELETE_RECORDS:
		return a->u.delete_records.n_topics == b->u.delete_records.n_topics &&
		       a->u.delete_records.timeout_ms == b->u.delete_records.timeout_ms;
	case PROTO_API_ELECT_LEADERS:
		return a->u.elect.n_topics == b->u.elect.n_topics &&
		       a->u.elect.election_type == b->u.elect.election_type;
	case PROTO_API_DESCRIBE_LOG_DIRS:
		return a->u.describe_log_dirs.n_topics == b->u.describe_log_dirs.n_topics;
	case PROTO_API_DESCRIBE_PRODUCERS:
		return a->u.describe_producers.n_topics == b->u.describe_producers.n_topics;
	case PROTO_API_CREATE_DELEGATION_TOKEN:
		return a->u.create_token.n_renewers == b->u.create_token.n_renewers &&
		       a->u.create_token.max_lifetime_ms == b->u.create_token.max_lifetime_ms &&
		       kstr_same(a->u.create_token.owner_name, b->u.create_token.owner_name);
	case PROTO_API_RENEW_DELEGATION_TOKEN:
	case PROTO_API_EXPIRE_DELEGATION_TOKEN:
		return kstr_same(a->u.renew_token.hmac, b->u.renew_token.hmac) &&
		       a->u.renew_token.period_ms == b->u.renew_token.period_ms;
	case PROTO_API_DESCRIBE_DELEGATION_TOKEN:
		return a->u.describe_tokens.n_owners == b->u.describe_tokens.n_owners;
	case PROTO_API_DESCRIBE_CLIENT_QUOTAS:
		return a->u.describe_quotas.n_components == b->u.describe_quotas.n_components &&
		       a->u.describe_quotas.strict == b->u.describe_quotas.strict;
	case PROTO_API_ALTER_CLIENT_QUOTAS:
		return a->u.alter_quotas.n_entries == b->u.alter_quotas.n_entries &&
		       a->u.alter_quotas.validate_only == b->u.alter_quotas.validate_only;
	case PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS:
		return a->u.describe_scram.n_users == b->u.describe_scram.n_users;
	case PROTO_API_ALTER_USER_SCRAM_CREDENTIALS:
		return a->u.alter_scram.n_deletions == b->u.alter_scram.n_deletions &&
		       a->u.alter_scram.n_upsertions == b->u.alter_scram.n_upsertions;
	case PROTO_API_CREATE_ACLS:
		return a->u.create_acls.n_creations == b->u.create_acls.n_creations;
	case PROTO_API_DELETE_ACLS: return a->u.delete_acls.n_filters == b->u.delete_acls.n_filters;
	case PROTO_API_ALTER_PARTITION_REASSIGNMENTS:
	case PROTO_API_LIST_PARTITION_REASSIGNMENTS:
		return a->u.reassign.n_topics == b->u.reassign.n_topics &&
		       a->u.reassign.timeout_ms == b->u.reassign.timeout_ms;
	case PROTO_API_INIT_PRODUCER_ID:
		return a->u.init_pid.transaction_timeout_ms ==
			       b->u.init_pid.transaction_timeout_ms &&
		       a->u.init_pid.producer_id == b->u.init_pid.producer_id &&
		       a->u.init_pid.producer_epoch == b->u.init_pid.producer_epoch &&
		       kstr_same(a->u.init_pid.transactional_id, b->u.init_pid.transactional_id);
	}
	return true;
}

/* Re-encodes a decoded body and decodes it again; aborts on a mismatch. */
static void roundtrip(const struct proto_req *req)
{
	struct proto_req again;
	int16_t v = req->hdr.api_version;
	struct kbuf_w w;
	size_t pos;
	int rc;

	if (req->hdr.api_key == PROTO_API_PRODUCE) {
		produce_roundtrip(req);
		return;
	}
	kbuf_w_init(&w, PROTO_MAX_FRAME);
	pos = proto_req_begin(&w, &req->hdr);
	switch (req->hdr.api_key) {
	case PROTO_API_FETCH:
		rc = proto_fetch_req_encode(&w, req->hdr.api_version, &req->u.fetch);
		break;
	case PROTO_API_OFFSET_FOR_LEADER_EPOCH:
		rc = proto_ofle_req_encode(&w, req->hdr.api_version, &req->u.ofle);
		break;
	case PROTO_API_API_VERSIONS:
		rc = proto_api_versions_req_encode(&w, req->hdr.api_version, &req->u.api_versions);
		break;
	case PROTO_API_SASL_HANDSHAKE:
		rc = proto_sasl_handshake_req_encode(&w, req->hdr.api_version,
						     &req->u.sasl_handshake);
		break;
	case PROTO_API_METADATA:
		rc = proto_meta_req_encode(&w, req->hdr.api_version, &req->u.meta);
		break;
	case PROTO_API_LEADER_AND_ISR:
		rc = proto_lisr_req_encode(&w, req->hdr.api_version, &req->u.lisr);
		break;
	case PROTO_API_STOP_REPLICA:
		rc = proto_stop_req_encode(&w, req->hdr.api_version, &req->u.stop);
		break;
	case PROTO_API_UPDATE_METADATA:
		rc = proto_um_req_encode(&w, req->hdr.api_version, &req->u.um);
		break;
	case PROTO_API_CONTROLLED_SHUTDOWN:
		rc = proto_cs_req_encode(&w, req->hdr.api_version, &req->u.cs);
		break;
	case PROTO_API_LIST_OFFSETS:
		rc = proto_list_offsets_req_encode(&w, v, &req->u.list_offsets);
		break;
	case PROTO_API_OFFSET_COMMIT:
		rc = proto_offset_commit_req_encode(&w, v, &req->u.offset_commit);
		break;
	case PROTO_API_OFFSET_FETCH:
		rc = proto_offset_fetch_req_encode(&w, v, &req->u.offset_fetch);
		break;
	case PROTO_API_FIND_COORDINATOR:
		rc = proto_find_coord_req_encode(&w, v, &req->u.find_coord);
		break;
	case PROTO_API_JOIN_GROUP: rc = proto_join_req_encode(&w, v, &req->u.join); break;
	case PROTO_API_SYNC_GROUP: rc = proto_sync_req_encode(&w, v, &req->u.sync); break;
	case PROTO_API_HEARTBEAT: rc = proto_heartbeat_req_encode(&w, v, &req->u.heartbeat); break;
	case PROTO_API_LEAVE_GROUP: rc = proto_leave_req_encode(&w, v, &req->u.leave); break;
	case PROTO_API_CREATE_TOPICS:
		rc = proto_create_topics_req_encode(&w, v, &req->u.create_topics);
		break;
	case PROTO_API_DELETE_TOPICS:
		rc = proto_delete_topics_req_encode(&w, v, &req->u.delete_topics);
		break;
	case PROTO_API_CREATE_PARTITIONS:
		rc = proto_create_parts_req_encode(&w, v, &req->u.create_parts);
		break;
	case PROTO_API_DESCRIBE_CONFIGS:
		rc = proto_describe_configs_req_encode(&w, v, &req->u.describe_configs);
		break;
	case PROTO_API_ALTER_CONFIGS:
		rc = proto_alter_configs_req_encode(&w, v, &req->u.alter_configs);
		break;
	case PROTO_API_INCREMENTAL_ALTER_CONFIGS:
		rc = proto_incr_alter_configs_req_encode(&w, v, &req->u.alter_configs);
		break;
	case PROTO_API_DESCRIBE_GROUPS:
		rc = proto_describe_groups_req_encode(&w, v, &req->u.describe_groups);
		break;
	case PROTO_API_LIST_GROUPS:
		rc = proto_list_groups_req_encode(&w, v, &req->u.list_groups);
		break;
	case PROTO_API_DELETE_GROUPS:
		rc = proto_delete_groups_req_encode(&w, v, &req->u.delete_groups);
		break;
	case PROTO_API_OFFSET_DELETE:
		rc = proto_offset_delete_req_encode(&w, v, &req->u.offset_delete);
		break;
	case PROTO_API_DELETE_RECORDS:
		rc = proto_delete_records_req_encode(&w, v, &req->u.delete_records);
		break;
	case PROTO_API_INIT_PRODUCER_ID:
		rc = proto_init_pid_req_encode(&w, v, &req->u.init_pid);
		break;
	case PROTO_API_SASL_AUTHENTICATE:
		rc = proto_sasl_auth_req_encode(&w, req->hdr.api_version, &req->u.sasl_auth);
		break;
	case PROTO_API_ELECT_LEADERS: rc = proto_elect_req_encode(&w, v, &req->u.elect); break;
	case PROTO_API_DESCRIBE_CLUSTER:
		rc = proto_describe_cluster_req_encode(&w, v, &req->u.describe_cluster);
		break;
	case PROTO_API_DESCRIBE_LOG_DIRS:
		rc = proto_describe_log_dirs_req_encode(&w, v, &req->u.describe_log_dirs);
		break;
	case PROTO_API_DESCRIBE_PRODUCERS:
		rc = proto_describe_producers_req_encode(&w, v, &req->u.describe_producers);
		break;
	case PROTO_API_DESCRIBE_CLIENT_QUOTAS:
		rc = proto_describe_quotas_req_encode(&w, v, &req->u.describe_quotas);
		break;
	case PROTO_API_ALTER_CLIENT_QUOTAS:
		rc = proto_alter_quotas_req_encode(&w, v, &req->u.alter_quotas);
		break;
	case PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS:
		rc = proto_describe_scram_req_encode(&w, v, &req->u.describe_scram);
		break;
	case PROTO_API_ALTER_USER_SCRAM_CREDENTIALS:
		rc = proto_alter_scram_req_encode(&w, v, &req->u.alter_scram);
		break;
	case PROTO_API_DESCRIBE_ACLS:
		rc = proto_describe_acls_req_encode(&w, v, &req->u.describe_acls);
		break;
	case PROTO_API_CREATE_ACLS:
		rc = proto_create_acls_req_encode(&w, v, &req->u.create_acls);
		break;
	case PROTO_API_DELETE_ACLS:
		rc = proto_delete_acls_req_encode(&w, v, &req->u.delete_acls);
		break;
	case PROTO_API_ALTER_PARTITION_REASSIGNMENTS:
	case PROTO_API_LIST_PARTITION_REASSIGNMENTS:
		rc = proto_reassign_req_encode(&w, req->hdr.api_key, v, &req->u.reassign);
		break;
	case PROTO_API_CREATE_DELEGATION_TOKEN:
		rc = proto_create_token_req_encode(&w, v, &req->u.create_token);
		break;
	case PROTO_API_RENEW_DELEGATION_TOKEN:
	case PROTO_API_EXPIRE_DELEGATION_TOKEN:
		rc = proto_renew_token_req_encode(&w, req->hdr.api_key, v, &req->u.renew_token);
		break;
	case PROTO_API_DESCRIBE_DELEGATION_TOKEN:
		rc = proto_describe_tokens_req_encode(&w, v, &req->u.describe_tokens);
		break;
	default:
		/* Every API the decoder takes has its case above: one added
		 * to the decoder without one here would be encoded as
		 * something else and fail the round trip for nothing. */
		abort();
	}
	if (!rc)
		rc = proto_frame_end(&w, pos);
	if (rc) {
		kbuf_w_free(&w);
		return;
	}
	if (proto_req_decode(w.buf + 4, w.len - 4, &again) != 0 ||
	    again.hdr.api_key != req->hdr.api_key ||
	    again.hdr.correlation_id != req->hdr.correlation_id)
		abort();
	if (req->hdr.api_key == PROTO_API_FETCH &&
	    (again.u.fetch.n_topics != req->u.fetch.n_topics ||
	     again.u.fetch.max_wait_ms != req->u.fetch.max_wait_ms))
		abort();
	if (req->hdr.api_key == PROTO_API_LEADER_AND_ISR &&
	    (again.u.lisr.n_topics != req->u.lisr.n_topics ||
	     again.u.lisr.n_live_leaders != req->u.lisr.n_live_leaders))
		abort();
	if (req->hdr.api_key == PROTO_API_UPDATE_METADATA &&
	    (again.u.um.n_topics != req->u.um.n_topics ||
	     again.u.um.n_live_brokers != req->u.um.n_live_brokers))
		abort();
	if (req->hdr.api_key == PROTO_API_STOP_REPLICA &&
	    again.u.stop.n_topics != req->u.stop.n_topics)
		abort();
	if (req->hdr.api_key == PROTO_API_METADATA && again.u.meta.n_topics != req->u.meta.n_topics)
		abort();
	if (!client_api_same(req, &again))
		abort();
	proto_req_free(&again);
	kbuf_w_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_req req;
	uint8_t *copy = malloc(size ? size : 1);
	int rc;

	/* A copy of exactly size bytes, so ASan sees any over-read. */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	rc = proto_req_decode(copy, size, &req);
	if (rc != 0 && rc != -EBADMSG && rc != -EOPNOTSUPP && rc != -E2BIG && rc != -ENOMEM)
		abort();
	if (rc == 0)
		roundtrip(&req);
	proto_req_free(&req);
	free(copy);
	return 0;
}
