/*
 * proto_hdr.c — Kafka protocol frames and headers, the table of supported
 * APIs, ApiVersions, Kafka's error codes, and the decoder of any request
 * frame. The layouts are written down in proto.h.
 *
 * ApiVersions (18), the first request of every Kafka client:
 *   request  v0-v2: empty body
 *            v3:    client_software_name COMPACT_STRING,
 *                   client_software_version COMPACT_STRING, TAGGED_FIELDS
 *   response error_code INT16,
 *            api_keys ARRAY of (api_key INT16, min_version INT16,
 *                               max_version INT16, [v3: TAGGED_FIELDS]),
 *            throttle_time_ms INT32 (v1+), [v3: TAGGED_FIELDS]
 * Its response header is always v0 (no tagged fields), whatever the
 * version. A request of a version above ours gets error_code
 * UNSUPPORTED_VERSION in a v0 body that still lists our APIs, so the
 * client can retry with a version both sides know (Kafka's KIP-511
 * behaviour).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/proto.h"

static const char *const err_names[] = {
	[PROTO_ERR_UNKNOWN_SERVER_ERROR + 1] = "UNKNOWN_SERVER_ERROR",
	[PROTO_ERR_NONE + 1] = "NONE",
	[PROTO_ERR_OFFSET_OUT_OF_RANGE + 1] = "OFFSET_OUT_OF_RANGE",
	[PROTO_ERR_CORRUPT_MESSAGE + 1] = "CORRUPT_MESSAGE",
	[PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION + 1] = "UNKNOWN_TOPIC_OR_PARTITION",
	[PROTO_ERR_INVALID_FETCH_SIZE + 1] = "INVALID_FETCH_SIZE",
	[PROTO_ERR_LEADER_NOT_AVAILABLE + 1] = "LEADER_NOT_AVAILABLE",
	[PROTO_ERR_NOT_LEADER_OR_FOLLOWER + 1] = "NOT_LEADER_OR_FOLLOWER",
	[PROTO_ERR_REQUEST_TIMED_OUT + 1] = "REQUEST_TIMED_OUT",
	[PROTO_ERR_BROKER_NOT_AVAILABLE + 1] = "BROKER_NOT_AVAILABLE",
	[PROTO_ERR_REPLICA_NOT_AVAILABLE + 1] = "REPLICA_NOT_AVAILABLE",
	[PROTO_ERR_MESSAGE_TOO_LARGE + 1] = "MESSAGE_TOO_LARGE",
	[PROTO_ERR_STALE_CONTROLLER_EPOCH + 1] = "STALE_CONTROLLER_EPOCH",
	[PROTO_ERR_OFFSET_METADATA_TOO_LARGE + 1] = "OFFSET_METADATA_TOO_LARGE",
	[PROTO_ERR_NETWORK_EXCEPTION + 1] = "NETWORK_EXCEPTION",
	[PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS + 1] = "COORDINATOR_LOAD_IN_PROGRESS",
	[PROTO_ERR_COORDINATOR_NOT_AVAILABLE + 1] = "COORDINATOR_NOT_AVAILABLE",
	[PROTO_ERR_NOT_COORDINATOR + 1] = "NOT_COORDINATOR",
	[PROTO_ERR_INVALID_TOPIC_EXCEPTION + 1] = "INVALID_TOPIC_EXCEPTION",
	[PROTO_ERR_RECORD_LIST_TOO_LARGE + 1] = "RECORD_LIST_TOO_LARGE",
	[PROTO_ERR_NOT_ENOUGH_REPLICAS + 1] = "NOT_ENOUGH_REPLICAS",
	[PROTO_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND + 1] = "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
	[PROTO_ERR_INVALID_REQUIRED_ACKS + 1] = "INVALID_REQUIRED_ACKS",
	[PROTO_ERR_ILLEGAL_GENERATION + 1] = "ILLEGAL_GENERATION",
	[PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL + 1] = "INCONSISTENT_GROUP_PROTOCOL",
	[PROTO_ERR_INVALID_GROUP_ID + 1] = "INVALID_GROUP_ID",
	[PROTO_ERR_UNKNOWN_MEMBER_ID + 1] = "UNKNOWN_MEMBER_ID",
	[PROTO_ERR_INVALID_SESSION_TIMEOUT + 1] = "INVALID_SESSION_TIMEOUT",
	[PROTO_ERR_REBALANCE_IN_PROGRESS + 1] = "REBALANCE_IN_PROGRESS",
	[PROTO_ERR_INVALID_COMMIT_OFFSET_SIZE + 1] = "INVALID_COMMIT_OFFSET_SIZE",
	[PROTO_ERR_TOPIC_AUTHORIZATION_FAILED + 1] = "TOPIC_AUTHORIZATION_FAILED",
	[PROTO_ERR_GROUP_AUTHORIZATION_FAILED + 1] = "GROUP_AUTHORIZATION_FAILED",
	[PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED + 1] = "CLUSTER_AUTHORIZATION_FAILED",
	[PROTO_ERR_INVALID_TIMESTAMP + 1] = "INVALID_TIMESTAMP",
	[PROTO_ERR_UNSUPPORTED_SASL_MECHANISM + 1] = "UNSUPPORTED_SASL_MECHANISM",
	[PROTO_ERR_ILLEGAL_SASL_STATE + 1] = "ILLEGAL_SASL_STATE",
	[PROTO_ERR_UNSUPPORTED_VERSION + 1] = "UNSUPPORTED_VERSION",
	[PROTO_ERR_TOPIC_ALREADY_EXISTS + 1] = "TOPIC_ALREADY_EXISTS",
	[PROTO_ERR_INVALID_PARTITIONS + 1] = "INVALID_PARTITIONS",
	[PROTO_ERR_INVALID_REPLICATION_FACTOR + 1] = "INVALID_REPLICATION_FACTOR",
	[PROTO_ERR_INVALID_REPLICA_ASSIGNMENT + 1] = "INVALID_REPLICA_ASSIGNMENT",
	[PROTO_ERR_INVALID_CONFIG + 1] = "INVALID_CONFIG",
	[PROTO_ERR_NOT_CONTROLLER + 1] = "NOT_CONTROLLER",
	[PROTO_ERR_INVALID_REQUEST + 1] = "INVALID_REQUEST",
	[PROTO_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT + 1] = "UNSUPPORTED_FOR_MESSAGE_FORMAT",
	[PROTO_ERR_POLICY_VIOLATION + 1] = "POLICY_VIOLATION",
	[PROTO_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER + 1] = "OUT_OF_ORDER_SEQUENCE_NUMBER",
	[PROTO_ERR_DUPLICATE_SEQUENCE_NUMBER + 1] = "DUPLICATE_SEQUENCE_NUMBER",
	[PROTO_ERR_INVALID_PRODUCER_EPOCH + 1] = "INVALID_PRODUCER_EPOCH",
	[PROTO_ERR_INVALID_TXN_STATE + 1] = "INVALID_TXN_STATE",
	[PROTO_ERR_INVALID_PRODUCER_ID_MAPPING + 1] = "INVALID_PRODUCER_ID_MAPPING",
	[PROTO_ERR_INVALID_TRANSACTION_TIMEOUT + 1] = "INVALID_TRANSACTION_TIMEOUT",
	[PROTO_ERR_CONCURRENT_TRANSACTIONS + 1] = "CONCURRENT_TRANSACTIONS",
	[PROTO_ERR_TRANSACTION_COORDINATOR_FENCED + 1] = "TRANSACTION_COORDINATOR_FENCED",
	[PROTO_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED + 1] =
		"TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
	[PROTO_ERR_SECURITY_DISABLED + 1] = "SECURITY_DISABLED",
	[PROTO_ERR_OPERATION_NOT_ATTEMPTED + 1] = "OPERATION_NOT_ATTEMPTED",
	[PROTO_ERR_KAFKA_STORAGE_ERROR + 1] = "KAFKA_STORAGE_ERROR",
	[PROTO_ERR_LOG_DIR_NOT_FOUND + 1] = "LOG_DIR_NOT_FOUND",
	[PROTO_ERR_SASL_AUTHENTICATION_FAILED + 1] = "SASL_AUTHENTICATION_FAILED",
	[PROTO_ERR_UNKNOWN_PRODUCER_ID + 1] = "UNKNOWN_PRODUCER_ID",
	[PROTO_ERR_REASSIGNMENT_IN_PROGRESS + 1] = "REASSIGNMENT_IN_PROGRESS",
	[PROTO_ERR_DELEGATION_TOKEN_AUTH_DISABLED + 1] = "DELEGATION_TOKEN_AUTH_DISABLED",
	[PROTO_ERR_DELEGATION_TOKEN_NOT_FOUND + 1] = "DELEGATION_TOKEN_NOT_FOUND",
	[PROTO_ERR_DELEGATION_TOKEN_OWNER_MISMATCH + 1] = "DELEGATION_TOKEN_OWNER_MISMATCH",
	[PROTO_ERR_DELEGATION_TOKEN_REQUEST_NOT_ALLOWED + 1] =
		"DELEGATION_TOKEN_REQUEST_NOT_ALLOWED",
	[PROTO_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED + 1] =
		"DELEGATION_TOKEN_AUTHORIZATION_FAILED",
	[PROTO_ERR_DELEGATION_TOKEN_EXPIRED + 1] = "DELEGATION_TOKEN_EXPIRED",
	[PROTO_ERR_INVALID_PRINCIPAL_TYPE + 1] = "INVALID_PRINCIPAL_TYPE",
	[PROTO_ERR_NON_EMPTY_GROUP + 1] = "NON_EMPTY_GROUP",
	[PROTO_ERR_GROUP_ID_NOT_FOUND + 1] = "GROUP_ID_NOT_FOUND",
	[PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND + 1] = "FETCH_SESSION_ID_NOT_FOUND",
	[PROTO_ERR_INVALID_FETCH_SESSION_EPOCH + 1] = "INVALID_FETCH_SESSION_EPOCH",
	[PROTO_ERR_LISTENER_NOT_FOUND + 1] = "LISTENER_NOT_FOUND",
	[PROTO_ERR_TOPIC_DELETION_DISABLED + 1] = "TOPIC_DELETION_DISABLED",
	[PROTO_ERR_FENCED_LEADER_EPOCH + 1] = "FENCED_LEADER_EPOCH",
	[PROTO_ERR_UNKNOWN_LEADER_EPOCH + 1] = "UNKNOWN_LEADER_EPOCH",
	[PROTO_ERR_UNSUPPORTED_COMPRESSION_TYPE + 1] = "UNSUPPORTED_COMPRESSION_TYPE",
	[PROTO_ERR_STALE_BROKER_EPOCH + 1] = "STALE_BROKER_EPOCH",
	[PROTO_ERR_OFFSET_NOT_AVAILABLE + 1] = "OFFSET_NOT_AVAILABLE",
	[PROTO_ERR_MEMBER_ID_REQUIRED + 1] = "MEMBER_ID_REQUIRED",
	[PROTO_ERR_PREFERRED_LEADER_NOT_AVAILABLE + 1] = "PREFERRED_LEADER_NOT_AVAILABLE",
	[PROTO_ERR_GROUP_MAX_SIZE_REACHED + 1] = "GROUP_MAX_SIZE_REACHED",
	[PROTO_ERR_FENCED_INSTANCE_ID + 1] = "FENCED_INSTANCE_ID",
	[PROTO_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE + 1] = "ELIGIBLE_LEADERS_NOT_AVAILABLE",
	[PROTO_ERR_ELECTION_NOT_NEEDED + 1] = "ELECTION_NOT_NEEDED",
	[PROTO_ERR_NO_REASSIGNMENT_IN_PROGRESS + 1] = "NO_REASSIGNMENT_IN_PROGRESS",
	[PROTO_ERR_GROUP_SUBSCRIBED_TO_TOPIC + 1] = "GROUP_SUBSCRIBED_TO_TOPIC",
	[PROTO_ERR_INVALID_RECORD + 1] = "INVALID_RECORD",
	[PROTO_ERR_UNSTABLE_OFFSET_COMMIT + 1] = "UNSTABLE_OFFSET_COMMIT",
	[PROTO_ERR_THROTTLING_QUOTA_EXCEEDED + 1] = "THROTTLING_QUOTA_EXCEEDED",
	[PROTO_ERR_PRODUCER_FENCED + 1] = "PRODUCER_FENCED",
	[PROTO_ERR_RESOURCE_NOT_FOUND + 1] = "RESOURCE_NOT_FOUND",
	[PROTO_ERR_DUPLICATE_RESOURCE + 1] = "DUPLICATE_RESOURCE",
	[PROTO_ERR_UNACCEPTABLE_CREDENTIAL + 1] = "UNACCEPTABLE_CREDENTIAL",
	[PROTO_ERR_INCONSISTENT_VOTER_SET + 1] = "INCONSISTENT_VOTER_SET",
	[PROTO_ERR_INVALID_UPDATE_VERSION + 1] = "INVALID_UPDATE_VERSION",
	[PROTO_ERR_FEATURE_UPDATE_FAILED + 1] = "FEATURE_UPDATE_FAILED",
	[PROTO_ERR_PRINCIPAL_DESERIALIZATION_FAILURE + 1] = "PRINCIPAL_DESERIALIZATION_FAILURE",
	[PROTO_ERR_SNAPSHOT_NOT_FOUND + 1] = "SNAPSHOT_NOT_FOUND",
	[PROTO_ERR_UNKNOWN_TOPIC_ID + 1] = "UNKNOWN_TOPIC_ID",
	[PROTO_ERR_DUPLICATE_BROKER_REGISTRATION + 1] = "DUPLICATE_BROKER_REGISTRATION",
	[PROTO_ERR_BROKER_ID_NOT_REGISTERED + 1] = "BROKER_ID_NOT_REGISTERED",
	[PROTO_ERR_INCONSISTENT_TOPIC_ID + 1] = "INCONSISTENT_TOPIC_ID",
	[PROTO_ERR_INCONSISTENT_CLUSTER_ID + 1] = "INCONSISTENT_CLUSTER_ID",
	[PROTO_ERR_TRANSACTIONAL_ID_NOT_FOUND + 1] = "TRANSACTIONAL_ID_NOT_FOUND",
	[PROTO_ERR_FETCH_SESSION_TOPIC_ID_ERROR + 1] = "FETCH_SESSION_TOPIC_ID_ERROR",
	[PROTO_ERR_INELIGIBLE_REPLICA + 1] = "INELIGIBLE_REPLICA",
	[PROTO_ERR_NEW_LEADER_ELECTED + 1] = "NEW_LEADER_ELECTED",
	[PROTO_ERR_MISMATCHED_ENDPOINT_TYPE + 1] = "MISMATCHED_ENDPOINT_TYPE",
	[PROTO_ERR_UNSUPPORTED_ENDPOINT_TYPE + 1] = "UNSUPPORTED_ENDPOINT_TYPE",
};

const char *proto_err_name(int16_t code)
{
	size_t i = (size_t)(code + 1);

	if (code < -1 || i >= sizeof(err_names) / sizeof(err_names[0]) || !err_names[i])
		return "UNKNOWN_ERROR_CODE";
	return err_names[i];
}

int16_t proto_err_from_errno(int err)
{
	switch (err) {
	case 0: return PROTO_ERR_NONE;
	case -ERANGE: return PROTO_ERR_OFFSET_OUT_OF_RANGE;
	case -EBADMSG: return PROTO_ERR_CORRUPT_MESSAGE;
	case -ENOENT: return PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	case -EREMOTE: return PROTO_ERR_NOT_LEADER_OR_FOLLOWER;
	case -ETIMEDOUT: return PROTO_ERR_REQUEST_TIMED_OUT;
	case -EMSGSIZE: return PROTO_ERR_MESSAGE_TOO_LARGE;
	case -EAGAIN: return PROTO_ERR_NOT_ENOUGH_REPLICAS;
	case -ESTALE: return PROTO_ERR_FENCED_LEADER_EPOCH;
	case -EL2NSYNC: return PROTO_ERR_UNKNOWN_LEADER_EPOCH;
	case -EIO:
	case -ENXIO:  /* an offline replica: its log directory failed */
	case -EMFILE: /* Kafka: the log directory's IOException */
	case -ENFILE:
	case -ENOSPC:
	case -EROFS: return PROTO_ERR_KAFKA_STORAGE_ERROR;
	case -EINVAL: return PROTO_ERR_INVALID_REQUEST;
	case -EOPNOTSUPP: return PROTO_ERR_UNSUPPORTED_VERSION;
	case -EEXIST: return PROTO_ERR_TOPIC_ALREADY_EXISTS;
	case -EACCES: return PROTO_ERR_SASL_AUTHENTICATION_FAILED;
	case -EPERM: return PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED;
	case -EALREADY: return PROTO_ERR_ILLEGAL_SASL_STATE;
	case -ENOTCONN: return PROTO_ERR_LEADER_NOT_AVAILABLE;
	default: return PROTO_ERR_UNKNOWN_SERVER_ERROR;
	}
}

/* ---- the table ---- */

#define NOT_FLEXIBLE INT16_MAX

/* Versions from the JSON schemas' validVersions/flexibleVersions, cut to
 * what the codecs here implement. Kept in api_key order.
 *
 * What the clients of Debian and npm pick (the highest version both sides
 * know): librdkafka 2.0 (kcat 1.7) asks for Produce up to v7 (v3 at least
 * once it writes record batch v2) and Metadata up to v4; kafkajs 2.2 for
 * Produce up to v7 and Metadata up to v6. Both are inside the ranges here,
 * and both fall back to lower versions as the broker lists them. Produce
 * starts at v0 as in Kafka 3.x although only v3 and later carry record
 * batch v2 (the only format mqfs stores; older message sets get
 * INVALID_RECORD): librdkafka before 2.11.1 sends a batch compressed only
 * to a broker whose Produce range includes v0.
 *
 * The consumer group, offset and admin APIs, librdkafka 2.0 / kafkajs 2.2
 * at most: ListOffsets v2 / v3, OffsetCommit v7 / v5, OffsetFetch v7 /
 * v4, FindCoordinator v2 / v2, JoinGroup v5 / v5, Heartbeat v3 / v3,
 * LeaveGroup v1 / v3, SyncGroup v3 / v3, CreateTopics v4 / v3,
 * DeleteTopics v1 / v1, CreatePartitions v0 / v1, DescribeConfigs v1 /
 * v2, AlterConfigs v0 / v1 (IncrementalAlterConfigs: librdkafka's admin
 * API from 2.2). The ranges here reach Kafka 3.x's clients too (flexible
 * versions, FindCoordinator v4's batched keys, OffsetFetch v8's groups). */
static const struct proto_api api_table[] = {
	{ PROTO_API_PRODUCE, 0, 9, 9, "Produce" },
	{ PROTO_API_FETCH, 4, 12, 12, "Fetch" },
	{ PROTO_API_LIST_OFFSETS, 0, 7, 6, "ListOffsets" },
	{ PROTO_API_METADATA, 0, 12, 9, "Metadata" },
	{ PROTO_API_LEADER_AND_ISR, 0, 7, 4, "LeaderAndIsr" },
	{ PROTO_API_STOP_REPLICA, 0, 4, 2, "StopReplica" },
	{ PROTO_API_UPDATE_METADATA, 0, 8, 6, "UpdateMetadata" },
	{ PROTO_API_CONTROLLED_SHUTDOWN, 0, 3, 3, "ControlledShutdown" },
	{ PROTO_API_OFFSET_COMMIT, 0, 8, 8, "OffsetCommit" },
	{ PROTO_API_OFFSET_FETCH, 0, 8, 6, "OffsetFetch" },
	{ PROTO_API_FIND_COORDINATOR, 0, 4, 3, "FindCoordinator" },
	{ PROTO_API_JOIN_GROUP, 0, 9, 6, "JoinGroup" },
	{ PROTO_API_HEARTBEAT, 0, 4, 4, "Heartbeat" },
	{ PROTO_API_LEAVE_GROUP, 0, 5, 4, "LeaveGroup" },
	{ PROTO_API_SYNC_GROUP, 0, 5, 4, "SyncGroup" },
	{ PROTO_API_DESCRIBE_GROUPS, 0, 5, 5, "DescribeGroups" },
	{ PROTO_API_LIST_GROUPS, 0, 5, 3, "ListGroups" },
	{ PROTO_API_SASL_HANDSHAKE, 0, 1, NOT_FLEXIBLE, "SaslHandshake" },
	{ PROTO_API_API_VERSIONS, 0, 3, 3, "ApiVersions" },
	{ PROTO_API_CREATE_TOPICS, 0, 7, 5, "CreateTopics" },
	{ PROTO_API_DELETE_TOPICS, 0, 6, 4, "DeleteTopics" },
	{ PROTO_API_DELETE_RECORDS, 0, 2, 2, "DeleteRecords" },
	{ PROTO_API_INIT_PRODUCER_ID, 0, 4, 2, "InitProducerId" },
	{ PROTO_API_OFFSET_FOR_LEADER_EPOCH, 0, 4, 4, "OffsetForLeaderEpoch" },
	{ PROTO_API_DESCRIBE_ACLS, 0, 3, 2, "DescribeAcls" },
	{ PROTO_API_CREATE_ACLS, 0, 3, 2, "CreateAcls" },
	{ PROTO_API_DELETE_ACLS, 0, 3, 2, "DeleteAcls" },
	{ PROTO_API_DESCRIBE_CONFIGS, 0, 4, 4, "DescribeConfigs" },
	{ PROTO_API_ALTER_CONFIGS, 0, 2, 2, "AlterConfigs" },
	{ PROTO_API_DESCRIBE_LOG_DIRS, 0, 4, 2, "DescribeLogDirs" },
	{ PROTO_API_SASL_AUTHENTICATE, 0, 2, 2, "SaslAuthenticate" },
	{ PROTO_API_CREATE_PARTITIONS, 0, 3, 2, "CreatePartitions" },
	{ PROTO_API_CREATE_DELEGATION_TOKEN, 0, 3, 2, "CreateDelegationToken" },
	{ PROTO_API_RENEW_DELEGATION_TOKEN, 0, 2, 2, "RenewDelegationToken" },
	{ PROTO_API_EXPIRE_DELEGATION_TOKEN, 0, 2, 2, "ExpireDelegationToken" },
	{ PROTO_API_DESCRIBE_DELEGATION_TOKEN, 0, 3, 2, "DescribeDelegationToken" },
	{ PROTO_API_DELETE_GROUPS, 0, 2, 2, "DeleteGroups" },
	{ PROTO_API_ELECT_LEADERS, 0, 2, 2, "ElectLeaders" },
	{ PROTO_API_INCREMENTAL_ALTER_CONFIGS, 0, 1, 1, "IncrementalAlterConfigs" },
	{ PROTO_API_ALTER_PARTITION_REASSIGNMENTS, 0, 0, 0, "AlterPartitionReassignments" },
	{ PROTO_API_LIST_PARTITION_REASSIGNMENTS, 0, 0, 0, "ListPartitionReassignments" },
	{ PROTO_API_OFFSET_DELETE, 0, 0, NOT_FLEXIBLE, "OffsetDelete" },
	{ PROTO_API_DESCRIBE_CLIENT_QUOTAS, 0, 1, 1, "DescribeClientQuotas" },
	{ PROTO_API_ALTER_CLIENT_QUOTAS, 0, 1, 1, "AlterClientQuotas" },
	{ PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, 0, 0, "DescribeUserScramCredentials" },
	{ PROTO_API_ALTER_USER_SCRAM_CREDENTIALS, 0, 0, 0, "AlterUserScramCredentials" },
	{ PROTO_API_DESCRIBE_CLUSTER, 0, 1, 0, "DescribeCluster" },
	{ PROTO_API_DESCRIBE_PRODUCERS, 0, 0, 0, "DescribeProducers" },
};

#define N_APIS (sizeof(api_table) / sizeof(api_table[0]))

const struct proto_api *proto_api_table(size_t *n)
{
	*n = N_APIS;
	return api_table;
}

const struct proto_api *proto_api_find(int16_t api_key)
{
	for (size_t i = 0; i < N_APIS; i++)
		if (api_table[i].api_key == api_key)
			return &api_table[i];
	return NULL;
}

bool proto_api_supported(int16_t api_key, int16_t version)
{
	const struct proto_api *a = proto_api_find(api_key);

	return a && version >= a->min_version && version <= a->max_version;
}

bool proto_is_flexible(int16_t api_key, int16_t version)
{
	const struct proto_api *a = proto_api_find(api_key);

	return a && version >= a->flexible_from;
}

int proto_req_hdr_version(int16_t api_key, int16_t version)
{
	/* Kafka's one request with header v0, kept as it was. */
	if (api_key == PROTO_API_CONTROLLED_SHUTDOWN && version == 0)
		return 0;
	return proto_is_flexible(api_key, version) ? 2 : 1;
}

int proto_resp_hdr_version(int16_t api_key, int16_t version)
{
	if (api_key == PROTO_API_API_VERSIONS)
		return 0;
	return proto_is_flexible(api_key, version) ? 1 : 0;
}

/* ---- frames and headers ---- */

int proto_frame_peek(const uint8_t *buf, size_t n, size_t max, size_t *frame_len)
{
	struct kbuf_r r;
	int32_t size;

	if (n < 4)
		return -EAGAIN;
	kbuf_r_init(&r, buf, 4);
	size = kbuf_read_i32(&r);
	if (size < 0)
		return -EBADMSG;
	if ((size_t)size > max)
		return -EMSGSIZE;
	*frame_len = (size_t)size;
	return 0;
}

int proto_req_hdr_decode(struct kbuf_r *r, struct proto_req_hdr *hdr)
{
	int hv;

	memset(hdr, 0, sizeof(*hdr));
	hdr->client_id = KSTR_NULL;
	hdr->api_key = kbuf_read_i16(r);
	hdr->api_version = kbuf_read_i16(r);
	hdr->correlation_id = kbuf_read_i32(r);
	if (r->err)
		return r->err;
	if (hdr->api_key == PROTO_API_API_VERSIONS && hdr->api_version > 0) {
		/* A newer ApiVersions must still be answered: its header is
		 * v2 from v3 on, in every version Kafka has defined. */
		hv = hdr->api_version >= 3 ? 2 : 1;
	} else if (proto_api_supported(hdr->api_key, hdr->api_version)) {
		hv = proto_req_hdr_version(hdr->api_key, hdr->api_version);
	} else {
		return -EOPNOTSUPP;
	}
	if (hv >= 1)
		hdr->client_id = kbuf_read_nstr(r);
	if (hv >= 2)
		kbuf_read_tags(r, NULL, NULL);
	return r->err;
}

size_t proto_req_begin(struct kbuf_w *w, const struct proto_req_hdr *hdr)
{
	size_t pos = kbuf_w_frame_begin(w);

	kbuf_write_i16(w, hdr->api_key);
	kbuf_write_i16(w, hdr->api_version);
	kbuf_write_i32(w, hdr->correlation_id);
	if (proto_req_hdr_version(hdr->api_key, hdr->api_version) >= 1)
		kbuf_write_string(w, hdr->client_id, false, true);
	if (proto_req_hdr_version(hdr->api_key, hdr->api_version) >= 2)
		kbuf_write_tags_empty(w);
	return pos;
}

size_t proto_resp_begin(struct kbuf_w *w, int16_t api_key, int16_t api_version,
			int32_t correlation_id)
{
	size_t pos = kbuf_w_frame_begin(w);

	kbuf_write_i32(w, correlation_id);
	if (proto_resp_hdr_version(api_key, api_version) >= 1)
		kbuf_write_tags_empty(w);
	return pos;
}

int proto_frame_end(struct kbuf_w *w, size_t pos)
{
	kbuf_w_frame_end(w, pos, 0);
	return kbuf_w_err(w);
}

int proto_resp_hdr_decode(struct kbuf_r *r, int16_t api_key, int16_t api_version,
			  int32_t *correlation_id)
{
	*correlation_id = kbuf_read_i32(r);
	if (proto_resp_hdr_version(api_key, api_version) >= 1)
		kbuf_read_tags(r, NULL, NULL);
	return r->err;
}

/* ---- ApiVersions ---- */

int proto_api_versions_req_decode(struct kbuf_r *r, int16_t version,
				  struct proto_api_versions_req *req)
{
	req->client_software_name = KSTR_NULL;
	req->client_software_version = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_API_VERSIONS, version))
		return -EOPNOTSUPP;
	if (version >= 3) {
		req->client_software_name = kbuf_read_cstr(r);
		req->client_software_version = kbuf_read_cstr(r);
		kbuf_read_tags(r, NULL, NULL);
	}
	return kbuf_r_done(r);
}

static bool ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool software_word(struct kstr s)
{
	if (s.len <= 0 || !ascii_alnum(s.ptr[0]) || !ascii_alnum(s.ptr[s.len - 1]))
		return false;
	for (int32_t i = 1; i < s.len - 1; i++)
		if (!ascii_alnum(s.ptr[i]) && s.ptr[i] != '-' && s.ptr[i] != '.')
			return false;
	return true;
}

bool proto_api_versions_req_valid(int16_t version, const struct proto_api_versions_req *req)
{
	return version < 3 || (software_word(req->client_software_name) &&
			       software_word(req->client_software_version));
}

int proto_api_versions_req_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_api_versions_req *req)
{
	if (!proto_api_supported(PROTO_API_API_VERSIONS, version))
		return -EOPNOTSUPP;
	if (version >= 3) {
		kbuf_write_string(w, req->client_software_name, true, false);
		kbuf_write_string(w, req->client_software_version, true, false);
		kbuf_write_tags_empty(w);
	}
	return kbuf_w_err(w);
}

int proto_api_versions_resp_encode(struct kbuf_w *w, int16_t version, int16_t error_code,
				   int32_t throttle_time_ms)
{
	return proto_api_versions_resp_encode_served(w, version, error_code, throttle_time_ms, NULL,
						     NULL);
}

int proto_api_versions_resp_encode_served(struct kbuf_w *w, int16_t version, int16_t error_code,
					  int32_t throttle_time_ms,
					  bool (*served)(void *arg, int16_t api_key), void *arg)
{
	bool flex = version >= 3;
	int32_t n = 0;

	if (!proto_api_supported(PROTO_API_API_VERSIONS, version))
		return -EOPNOTSUPP;
	for (size_t i = 0; i < N_APIS; i++)
		n += !served || served(arg, api_table[i].api_key);
	kbuf_write_i16(w, error_code);
	kbuf_write_array_len(w, n, flex);
	for (size_t i = 0; i < N_APIS; i++) {
		if (served && !served(arg, api_table[i].api_key))
			continue;
		kbuf_write_i16(w, api_table[i].api_key);
		kbuf_write_i16(w, api_table[i].min_version);
		kbuf_write_i16(w, api_table[i].max_version);
		if (flex)
			kbuf_write_tags_empty(w);
	}
	if (version >= 1)
		kbuf_write_i32(w, throttle_time_ms);
	if (flex)
		kbuf_write_tags_empty(w);
	return kbuf_w_err(w);
}

int proto_api_versions_resp_decode(struct kbuf_r *r, int16_t version,
				   struct proto_api_versions_resp *resp)
{
	bool flex = version >= 3;
	int32_t n;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_API_VERSIONS, version))
		return -EOPNOTSUPP;
	resp->error_code = kbuf_read_i16(r);
	n = kbuf_read_array_len(r, flex, false, flex ? 7 : 6);
	if (r->err)
		return r->err;
	resp->api_keys = calloc((size_t)n + 1, sizeof(*resp->api_keys));
	if (!resp->api_keys)
		return -ENOMEM;
	resp->n_api_keys = n;
	for (int32_t i = 0; i < n; i++) {
		struct proto_api *a = &resp->api_keys[i];

		a->api_key = kbuf_read_i16(r);
		a->min_version = kbuf_read_i16(r);
		a->max_version = kbuf_read_i16(r);
		a->flexible_from = NOT_FLEXIBLE;
		if (flex)
			kbuf_read_tags(r, NULL, NULL);
	}
	if (version >= 1)
		resp->throttle_time_ms = kbuf_read_i32(r);
	if (flex)
		kbuf_read_tags(r, NULL, NULL);
	if (kbuf_r_done(r)) {
		proto_api_versions_resp_free(resp);
		return -EBADMSG;
	}
	return 0;
}

void proto_api_versions_resp_free(struct proto_api_versions_resp *resp)
{
	if (!resp)
		return;
	free(resp->api_keys);
	resp->api_keys = NULL;
	resp->n_api_keys = 0;
}

/* ---- any request ---- */

int proto_req_decode(const uint8_t *frame, size_t len, struct proto_req *req)
{
	struct kbuf_r r;
	int16_t v;
	int rc;

	memset(req, 0, sizeof(*req));
	kbuf_r_init(&r, frame, len);
	rc = proto_req_hdr_decode(&r, &req->hdr);
	if (rc)
		return rc;
	v = req->hdr.api_version;
	switch (req->hdr.api_key) {
	case PROTO_API_API_VERSIONS:
		return proto_api_versions_req_decode(&r, v, &req->u.api_versions);
	case PROTO_API_FETCH: return proto_fetch_req_decode(&r, v, &req->u.fetch);
	case PROTO_API_OFFSET_FOR_LEADER_EPOCH: return proto_ofle_req_decode(&r, v, &req->u.ofle);
	case PROTO_API_SASL_HANDSHAKE:
		return proto_sasl_handshake_req_decode(&r, v, &req->u.sasl_handshake);
	case PROTO_API_SASL_AUTHENTICATE:
		return proto_sasl_auth_req_decode(&r, v, &req->u.sasl_auth);
	case PROTO_API_PRODUCE: return proto_produce_req_decode(&r, v, &req->u.produce);
	case PROTO_API_METADATA: return proto_meta_req_decode(&r, v, &req->u.meta);
	case PROTO_API_LEADER_AND_ISR: return proto_lisr_req_decode(&r, v, &req->u.lisr);
	case PROTO_API_STOP_REPLICA: return proto_stop_req_decode(&r, v, &req->u.stop);
	case PROTO_API_UPDATE_METADATA: return proto_um_req_decode(&r, v, &req->u.um);
	case PROTO_API_CONTROLLED_SHUTDOWN: return proto_cs_req_decode(&r, v, &req->u.cs);
	case PROTO_API_INIT_PRODUCER_ID: return proto_init_pid_req_decode(&r, v, &req->u.init_pid);
	case PROTO_API_LIST_OFFSETS:
		return proto_list_offsets_req_decode(&r, v, &req->u.list_offsets);
	case PROTO_API_DELETE_RECORDS:
		return proto_delete_records_req_decode(&r, v, &req->u.delete_records);
	case PROTO_API_OFFSET_COMMIT:
		return proto_offset_commit_req_decode(&r, v, &req->u.offset_commit);
	case PROTO_API_OFFSET_FETCH:
		return proto_offset_fetch_req_decode(&r, v, &req->u.offset_fetch);
	case PROTO_API_FIND_COORDINATOR:
		return proto_find_coord_req_decode(&r, v, &req->u.find_coord);
	case PROTO_API_JOIN_GROUP: return proto_join_req_decode(&r, v, &req->u.join);
	case PROTO_API_SYNC_GROUP: return proto_sync_req_decode(&r, v, &req->u.sync);
	case PROTO_API_HEARTBEAT: return proto_heartbeat_req_decode(&r, v, &req->u.heartbeat);
	case PROTO_API_LEAVE_GROUP: return proto_leave_req_decode(&r, v, &req->u.leave);
	case PROTO_API_DESCRIBE_GROUPS:
		return proto_describe_groups_req_decode(&r, v, &req->u.describe_groups);
	case PROTO_API_DELETE_GROUPS:
		return proto_delete_groups_req_decode(&r, v, &req->u.delete_groups);
	case PROTO_API_OFFSET_DELETE:
		return proto_offset_delete_req_decode(&r, v, &req->u.offset_delete);
	case PROTO_API_LIST_GROUPS: return proto_list_groups_req_decode(&r, v, &req->u.list_groups);
	case PROTO_API_CREATE_TOPICS:
		return proto_create_topics_req_decode(&r, v, &req->u.create_topics);
	case PROTO_API_DELETE_TOPICS:
		return proto_delete_topics_req_decode(&r, v, &req->u.delete_topics);
	case PROTO_API_CREATE_PARTITIONS:
		return proto_create_parts_req_decode(&r, v, &req->u.create_parts);
	case PROTO_API_DESCRIBE_CONFIGS:
		return proto_describe_configs_req_decode(&r, v, &req->u.describe_configs);
	case PROTO_API_ALTER_CONFIGS:
		return proto_alter_configs_req_decode(&r, v, &req->u.alter_configs);
	case PROTO_API_INCREMENTAL_ALTER_CONFIGS:
		return proto_incr_alter_configs_req_decode(&r, v, &req->u.alter_configs);
	case PROTO_API_ELECT_LEADERS: return proto_elect_req_decode(&r, v, &req->u.elect);
	case PROTO_API_ALTER_PARTITION_REASSIGNMENTS:
	case PROTO_API_LIST_PARTITION_REASSIGNMENTS:
		return proto_reassign_req_decode(&r, req->hdr.api_key, v, &req->u.reassign);
	case PROTO_API_DESCRIBE_CLUSTER:
		return proto_describe_cluster_req_decode(&r, v, &req->u.describe_cluster);
	case PROTO_API_DESCRIBE_LOG_DIRS:
		return proto_describe_log_dirs_req_decode(&r, v, &req->u.describe_log_dirs);
	case PROTO_API_DESCRIBE_PRODUCERS:
		return proto_describe_producers_req_decode(&r, v, &req->u.describe_producers);
	case PROTO_API_DESCRIBE_CLIENT_QUOTAS:
		return proto_describe_quotas_req_decode(&r, v, &req->u.describe_quotas);
	case PROTO_API_ALTER_CLIENT_QUOTAS:
		return proto_alter_quotas_req_decode(&r, v, &req->u.alter_quotas);
	case PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS:
		return proto_describe_scram_req_decode(&r, v, &req->u.describe_scram);
	case PROTO_API_ALTER_USER_SCRAM_CREDENTIALS:
		return proto_alter_scram_req_decode(&r, v, &req->u.alter_scram);
	case PROTO_API_DESCRIBE_ACLS:
		return proto_describe_acls_req_decode(&r, v, &req->u.describe_acls);
	case PROTO_API_CREATE_ACLS: return proto_create_acls_req_decode(&r, v, &req->u.create_acls);
	case PROTO_API_DELETE_ACLS: return proto_delete_acls_req_decode(&r, v, &req->u.delete_acls);
	case PROTO_API_CREATE_DELEGATION_TOKEN:
		return proto_create_token_req_decode(&r, v, &req->u.create_token);
	case PROTO_API_RENEW_DELEGATION_TOKEN:
	case PROTO_API_EXPIRE_DELEGATION_TOKEN:
		return proto_renew_token_req_decode(&r, req->hdr.api_key, v, &req->u.renew_token);
	case PROTO_API_DESCRIBE_DELEGATION_TOKEN:
		return proto_describe_tokens_req_decode(&r, v, &req->u.describe_tokens);
	}
	return -EOPNOTSUPP;
}

void proto_req_free(struct proto_req *req)
{
	if (!req)
		return;
	switch (req->hdr.api_key) {
	case PROTO_API_FETCH: proto_fetch_req_free(&req->u.fetch); break;
	case PROTO_API_OFFSET_FOR_LEADER_EPOCH: proto_ofle_req_free(&req->u.ofle); break;
	case PROTO_API_PRODUCE: proto_produce_req_free(&req->u.produce); break;
	case PROTO_API_METADATA: proto_meta_req_free(&req->u.meta); break;
	case PROTO_API_LEADER_AND_ISR: proto_lisr_req_free(&req->u.lisr); break;
	case PROTO_API_STOP_REPLICA: proto_stop_req_free(&req->u.stop); break;
	case PROTO_API_UPDATE_METADATA: proto_um_req_free(&req->u.um); break;
	case PROTO_API_LIST_OFFSETS: proto_list_offsets_req_free(&req->u.list_offsets); break;
	case PROTO_API_DELETE_RECORDS: proto_delete_records_req_free(&req->u.delete_records); break;
	case PROTO_API_OFFSET_COMMIT: proto_offset_commit_req_free(&req->u.offset_commit); break;
	case PROTO_API_OFFSET_FETCH: proto_offset_fetch_req_free(&req->u.offset_fetch); break;
	case PROTO_API_FIND_COORDINATOR: proto_find_coord_req_free(&req->u.find_coord); break;
	case PROTO_API_JOIN_GROUP: proto_join_req_free(&req->u.join); break;
	case PROTO_API_SYNC_GROUP: proto_sync_req_free(&req->u.sync); break;
	case PROTO_API_LEAVE_GROUP: proto_leave_req_free(&req->u.leave); break;
	case PROTO_API_DESCRIBE_GROUPS:
		proto_describe_groups_req_free(&req->u.describe_groups);
		break;
	case PROTO_API_DELETE_GROUPS: proto_delete_groups_req_free(&req->u.delete_groups); break;
	case PROTO_API_OFFSET_DELETE: proto_offset_delete_req_free(&req->u.offset_delete); break;
	case PROTO_API_LIST_GROUPS: proto_list_groups_req_free(&req->u.list_groups); break;
	case PROTO_API_CREATE_TOPICS: proto_create_topics_req_free(&req->u.create_topics); break;
	case PROTO_API_DELETE_TOPICS: proto_delete_topics_req_free(&req->u.delete_topics); break;
	case PROTO_API_CREATE_PARTITIONS: proto_create_parts_req_free(&req->u.create_parts); break;
	case PROTO_API_ELECT_LEADERS: proto_elect_req_free(&req->u.elect); break;
	case PROTO_API_ALTER_PARTITION_REASSIGNMENTS:
	case PROTO_API_LIST_PARTITION_REASSIGNMENTS:
		proto_reassign_req_free(&req->u.reassign);
		break;
	case PROTO_API_DESCRIBE_LOG_DIRS:
		proto_describe_log_dirs_req_free(&req->u.describe_log_dirs);
		break;
	case PROTO_API_DESCRIBE_PRODUCERS:
		proto_describe_producers_req_free(&req->u.describe_producers);
		break;
	case PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS:
		proto_describe_scram_req_free(&req->u.describe_scram);
		break;
	case PROTO_API_ALTER_USER_SCRAM_CREDENTIALS:
		proto_alter_scram_req_free(&req->u.alter_scram);
		break;
	case PROTO_API_ALTER_CLIENT_QUOTAS:
		proto_alter_quotas_req_free(&req->u.alter_quotas);
		break;
	case PROTO_API_CREATE_ACLS: proto_create_acls_req_free(&req->u.create_acls); break;
	case PROTO_API_DELETE_ACLS: proto_delete_acls_req_free(&req->u.delete_acls); break;
	case PROTO_API_CREATE_DELEGATION_TOKEN:
		proto_create_token_req_free(&req->u.create_token);
		break;
	case PROTO_API_DESCRIBE_DELEGATION_TOKEN:
		proto_describe_tokens_req_free(&req->u.describe_tokens);
		break;
	case PROTO_API_DESCRIBE_CONFIGS:
		proto_describe_configs_req_free(&req->u.describe_configs);
		break;
	case PROTO_API_ALTER_CONFIGS:
	case PROTO_API_INCREMENTAL_ALTER_CONFIGS:
		proto_alter_configs_req_free(&req->u.alter_configs);
		break;
	}
	memset(req, 0, sizeof(*req));
}
