/*
 * proto.h — Kafka's wire protocol, the part the broker listener speaks:
 * frames, request/response headers, ApiVersions, Fetch,
 * OffsetForLeaderEpoch, SaslHandshake, SaslAuthenticate, the controller's
 * APIs, and the client APIs (Produce, Metadata, offsets, consumer groups,
 * admin), and Kafka's error codes. Private to repl/ (the listener, the fetcher and their tests).
 * Field names are Kafka's (the JSON schemas of clients/src/main/resources/common/message),
 * in snake_case.
 *
 * Framing. Every request and response is INT32 size, then size bytes.
 *
 *   request  = size, header, body       response = size, header, body
 *   header v0: api_key INT16, api_version INT16, correlation_id INT32
 *   header v1: v0 + client_id NULLABLE_STRING
 *   header v2: v1 + TAGGED_FIELDS (client_id stays a non-compact string)
 *   response header v0: correlation_id INT32;  v1: v0 + TAGGED_FIELDS
 *
 * A request uses header v2 when its API version is flexible, else v1 —
 * except ControlledShutdown v0, whose request header is v0 (Kafka's only
 * user of it). A response header is v1 when flexible, else v0 — except
 * ApiVersions, whose response header is always v0 so that a client that
 * does not yet know the broker's versions can read the error (as Kafka
 * does).
 *
 * Flexible versions (Kafka's "flexibleVersions") write strings, bytes and
 * arrays in their compact forms and end every struct with TAGGED_FIELDS;
 * unknown tags are skipped on read.
 *
 * Supported APIs (proto_api_table), min-max, flexible from:
 *   Produce (0)                3-9,  9       clients, forwarded writes
 *   Fetch (1)                  4-12, 12      replication, later clients
 *   ListOffsets (2)            0-7,  6       clients
 *   Metadata (3)               0-12, 9       clients
 *   LeaderAndIsr (4)           0-7,  4       controller -> brokers
 *   StopReplica (5)            0-4,  2       controller -> brokers
 *   UpdateMetadata (6)         0-8,  6       controller -> brokers
 *   ControlledShutdown (7)     0-3,  3       broker -> controller
 *   OffsetCommit (8)           0-8,  8       consumers
 *   OffsetFetch (9)            0-8,  6       consumers
 *   FindCoordinator (10)       0-4,  3       consumers
 *   JoinGroup (11)             0-9,  6       consumers
 *   Heartbeat (12)             0-4,  4       consumers
 *   LeaveGroup (13)            0-5,  4       consumers
 *   SyncGroup (14)             0-5,  4       consumers
 *   OffsetForLeaderEpoch (23)  0-4,  4       follower truncation
 *   SaslHandshake (17)         0-1,  none
 *   ApiVersions (18)           0-3,  3
 *   CreateTopics (19)          0-7,  5       admin clients
 *   DeleteTopics (20)          0-6,  4       admin clients
 *   DescribeConfigs (32)       0-4,  4       admin clients
 *   AlterConfigs (33)          0-2,  2       admin clients
 *   DescribeLogDirs (35)       0-4,  2       admin clients
 *   SaslAuthenticate (36)      0-2,  2
 *   CreatePartitions (37)      0-3,  2       admin clients
 *   ElectLeaders (43)          0-2,  2       admin clients
 *   IncrementalAlterConfigs (44) 0-1, 1      admin clients
 *   DescribeCluster (60)       0-1,  0       admin clients
 *   DescribeProducers (61)     0,    0       admin clients
 * An ApiVersions request of a version we do not know is answered with
 * UNSUPPORTED_VERSION and a v0 body listing our versions; any other
 * unknown API or version is -EOPNOTSUPP to the caller, which answers or
 * closes as Kafka would.
 *
 * Decoding. Decoders take a kbuf_r over the body and return 0 or -EBADMSG
 * (-EOPNOTSUPP for a version outside the table). Strings (struct kstr)
 * point into the frame, so the frame must outlive the decoded struct.
 * Arrays are allocated, bounded twice: every count is checked against the
 * bytes left before allocating (so a decoder allocates at most a small
 * multiple of the frame), and the counts per request are capped:
 *   PROTO_MAX_TOPICS      topics in one request or response
 *   PROTO_MAX_PARTITIONS  partitions in one request or response, summed
 *                         over its topics (forgotten topics included)
 * A decoded struct is released by its _free function; _free(NULL) is fine.
 *
 * Encoding. Encoders append the body to a kbuf_w, whose limit bounds the
 * response; framing (size + header) is added by proto_req_begin /
 * proto_resp_begin and proto_frame_end. A Fetch response is the exception:
 * it goes to a struct proto_out so that record bytes are never copied.
 *
 * struct proto_out, the zero-copy response. A response is a list of
 * pieces sent in order; each piece is either bytes of the output's own
 * buffer (header, metadata, lengths) or a range of a file (fd, offset,
 * length: record batches in a segment), which the sender passes to
 * sendfile(2) so batches go from the page cache to the socket untouched.
 *
 *     out.w.buf: [size|hdr|topic..partition..records len]  [partition 2 ...]
 *     pieces:     MEM(0, 57)   FILE(fd 7, 4096, 16384)  MEM(57, 40)  FILE...
 *
 * Memory pieces are kept as offsets into out.w.buf (it may move while
 * growing) and adjacent ones are merged. The frame size at the start
 * counts the file pieces too. Invariants: pieces cover out.w.buf exactly
 * once, in order; a file piece's length is what its records field
 * declared. The fds are the caller's: proto_out neither dups nor closes
 * them, so the segment must stay open (referenced) until the response is
 * sent; a file shorter than declared (truncated meanwhile) is the
 * sender's to detect (sendfile returns short) and answer by closing the
 * connection, since the frame size was already promised.
 *
 * Threads: nothing here keeps state beyond its arguments.
 */
#ifndef MQFS_REPL_PROTO_H
#define MQFS_REPL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "repl/kbuf.h"

#define PROTO_MAX_TOPICS     10000
#define PROTO_MAX_PARTITIONS 200000
/* Brokers in one message (live brokers, live leaders, Metadata's broker
 * list), and broker ids in one replica list (replicas, isr, ...). */
#define PROTO_MAX_BROKERS    1000
/* Endpoints (listeners) of one broker in UpdateMetadata. */
#define PROTO_MAX_ENDPOINTS  16
/* Largest frame the decoders accept by default (Kafka's
 * socket.request.max.bytes is 100 MiB; ours is for replication fetches
 * and SASL, far smaller). The listener may pass its own. */
#define PROTO_MAX_FRAME      (64 << 20)

enum proto_api_key {
	PROTO_API_PRODUCE = 0,
	PROTO_API_FETCH = 1,
	PROTO_API_LIST_OFFSETS = 2,
	PROTO_API_METADATA = 3,
	PROTO_API_LEADER_AND_ISR = 4,
	PROTO_API_STOP_REPLICA = 5,
	PROTO_API_UPDATE_METADATA = 6,
	PROTO_API_CONTROLLED_SHUTDOWN = 7,
	PROTO_API_OFFSET_COMMIT = 8,
	PROTO_API_OFFSET_FETCH = 9,
	PROTO_API_FIND_COORDINATOR = 10,
	PROTO_API_JOIN_GROUP = 11,
	PROTO_API_HEARTBEAT = 12,
	PROTO_API_LEAVE_GROUP = 13,
	PROTO_API_SYNC_GROUP = 14,
	PROTO_API_DESCRIBE_GROUPS = 15,
	PROTO_API_LIST_GROUPS = 16,
	PROTO_API_SASL_HANDSHAKE = 17,
	PROTO_API_API_VERSIONS = 18,
	PROTO_API_CREATE_TOPICS = 19,
	PROTO_API_DELETE_TOPICS = 20,
	PROTO_API_DELETE_RECORDS = 21,
	PROTO_API_INIT_PRODUCER_ID = 22,
	PROTO_API_OFFSET_FOR_LEADER_EPOCH = 23,
	PROTO_API_DESCRIBE_ACLS = 29,
	PROTO_API_CREATE_ACLS = 30,
	PROTO_API_DELETE_ACLS = 31,
	PROTO_API_DESCRIBE_CONFIGS = 32,
	PROTO_API_ALTER_CONFIGS = 33,
	PROTO_API_DESCRIBE_LOG_DIRS = 35,
	PROTO_API_SASL_AUTHENTICATE = 36,
	PROTO_API_CREATE_PARTITIONS = 37,
	PROTO_API_CREATE_DELEGATION_TOKEN = 38,
	PROTO_API_RENEW_DELEGATION_TOKEN = 39,
	PROTO_API_EXPIRE_DELEGATION_TOKEN = 40,
	PROTO_API_DESCRIBE_DELEGATION_TOKEN = 41,
	PROTO_API_DELETE_GROUPS = 42,
	PROTO_API_ELECT_LEADERS = 43,
	PROTO_API_INCREMENTAL_ALTER_CONFIGS = 44,
	PROTO_API_ALTER_PARTITION_REASSIGNMENTS = 45,
	PROTO_API_LIST_PARTITION_REASSIGNMENTS = 46,
	PROTO_API_OFFSET_DELETE = 47,
	PROTO_API_DESCRIBE_CLIENT_QUOTAS = 48,
	PROTO_API_ALTER_CLIENT_QUOTAS = 49,
	PROTO_API_DESCRIBE_USER_SCRAM_CREDENTIALS = 50,
	PROTO_API_ALTER_USER_SCRAM_CREDENTIALS = 51,
	PROTO_API_DESCRIBE_CLUSTER = 60,
	PROTO_API_DESCRIBE_PRODUCERS = 61,
};

/* Kafka's error codes (Errors.java), Kafka's names. */
enum proto_err {
	PROTO_ERR_UNKNOWN_SERVER_ERROR = -1,
	PROTO_ERR_NONE = 0,
	PROTO_ERR_OFFSET_OUT_OF_RANGE = 1,
	PROTO_ERR_CORRUPT_MESSAGE = 2,
	PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
	PROTO_ERR_INVALID_FETCH_SIZE = 4,
	PROTO_ERR_LEADER_NOT_AVAILABLE = 5,
	PROTO_ERR_NOT_LEADER_OR_FOLLOWER = 6,
	PROTO_ERR_REQUEST_TIMED_OUT = 7,
	PROTO_ERR_BROKER_NOT_AVAILABLE = 8,
	PROTO_ERR_REPLICA_NOT_AVAILABLE = 9,
	PROTO_ERR_MESSAGE_TOO_LARGE = 10,
	PROTO_ERR_STALE_CONTROLLER_EPOCH = 11,
	PROTO_ERR_OFFSET_METADATA_TOO_LARGE = 12,
	PROTO_ERR_NETWORK_EXCEPTION = 13,
	PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS = 14,
	PROTO_ERR_COORDINATOR_NOT_AVAILABLE = 15,
	PROTO_ERR_NOT_COORDINATOR = 16,
	PROTO_ERR_INVALID_TOPIC_EXCEPTION = 17,
	PROTO_ERR_RECORD_LIST_TOO_LARGE = 18,
	PROTO_ERR_NOT_ENOUGH_REPLICAS = 19,
	PROTO_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
	PROTO_ERR_INVALID_REQUIRED_ACKS = 21,
	PROTO_ERR_ILLEGAL_GENERATION = 22,
	PROTO_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
	PROTO_ERR_INVALID_GROUP_ID = 24,
	PROTO_ERR_UNKNOWN_MEMBER_ID = 25,
	PROTO_ERR_INVALID_SESSION_TIMEOUT = 26,
	PROTO_ERR_REBALANCE_IN_PROGRESS = 27,
	PROTO_ERR_INVALID_COMMIT_OFFSET_SIZE = 28,
	PROTO_ERR_TOPIC_AUTHORIZATION_FAILED = 29,
	PROTO_ERR_GROUP_AUTHORIZATION_FAILED = 30,
	PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED = 31,
	PROTO_ERR_INVALID_TIMESTAMP = 32,
	PROTO_ERR_UNSUPPORTED_SASL_MECHANISM = 33,
	PROTO_ERR_ILLEGAL_SASL_STATE = 34,
	PROTO_ERR_UNSUPPORTED_VERSION = 35,
	PROTO_ERR_TOPIC_ALREADY_EXISTS = 36,
	PROTO_ERR_INVALID_PARTITIONS = 37,
	PROTO_ERR_INVALID_REPLICATION_FACTOR = 38,
	PROTO_ERR_INVALID_REPLICA_ASSIGNMENT = 39,
	PROTO_ERR_INVALID_CONFIG = 40,
	PROTO_ERR_NOT_CONTROLLER = 41,
	PROTO_ERR_INVALID_REQUEST = 42,
	PROTO_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
	PROTO_ERR_POLICY_VIOLATION = 44,
	PROTO_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	PROTO_ERR_DUPLICATE_SEQUENCE_NUMBER = 46,
	PROTO_ERR_INVALID_PRODUCER_EPOCH = 47,
	PROTO_ERR_INVALID_TXN_STATE = 48,
	PROTO_ERR_INVALID_PRODUCER_ID_MAPPING = 49,
	PROTO_ERR_INVALID_TRANSACTION_TIMEOUT = 50,
	PROTO_ERR_CONCURRENT_TRANSACTIONS = 51,
	PROTO_ERR_TRANSACTION_COORDINATOR_FENCED = 52,
	PROTO_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
	PROTO_ERR_SECURITY_DISABLED = 54,
	PROTO_ERR_OPERATION_NOT_ATTEMPTED = 55,
	PROTO_ERR_KAFKA_STORAGE_ERROR = 56,
	PROTO_ERR_LOG_DIR_NOT_FOUND = 57,
	PROTO_ERR_SASL_AUTHENTICATION_FAILED = 58,
	PROTO_ERR_UNKNOWN_PRODUCER_ID = 59,
	PROTO_ERR_REASSIGNMENT_IN_PROGRESS = 60,
	PROTO_ERR_DELEGATION_TOKEN_AUTH_DISABLED = 61,
	PROTO_ERR_DELEGATION_TOKEN_NOT_FOUND = 62,
	PROTO_ERR_DELEGATION_TOKEN_OWNER_MISMATCH = 63,
	PROTO_ERR_DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = 64,
	PROTO_ERR_DELEGATION_TOKEN_AUTHORIZATION_FAILED = 65,
	PROTO_ERR_DELEGATION_TOKEN_EXPIRED = 66,
	PROTO_ERR_INVALID_PRINCIPAL_TYPE = 67,
	PROTO_ERR_NON_EMPTY_GROUP = 68,
	PROTO_ERR_GROUP_ID_NOT_FOUND = 69,
	PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND = 70,
	PROTO_ERR_INVALID_FETCH_SESSION_EPOCH = 71,
	PROTO_ERR_LISTENER_NOT_FOUND = 72,
	PROTO_ERR_TOPIC_DELETION_DISABLED = 73,
	PROTO_ERR_FENCED_LEADER_EPOCH = 74,
	PROTO_ERR_UNKNOWN_LEADER_EPOCH = 75,
	PROTO_ERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
	PROTO_ERR_STALE_BROKER_EPOCH = 77,
	PROTO_ERR_OFFSET_NOT_AVAILABLE = 78,
	PROTO_ERR_MEMBER_ID_REQUIRED = 79,
	PROTO_ERR_PREFERRED_LEADER_NOT_AVAILABLE = 80,
	PROTO_ERR_GROUP_MAX_SIZE_REACHED = 81,
	PROTO_ERR_FENCED_INSTANCE_ID = 82,
	PROTO_ERR_ELIGIBLE_LEADERS_NOT_AVAILABLE = 83,
	PROTO_ERR_ELECTION_NOT_NEEDED = 84,
	PROTO_ERR_NO_REASSIGNMENT_IN_PROGRESS = 85,
	PROTO_ERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
	PROTO_ERR_INVALID_RECORD = 87,
	PROTO_ERR_UNSTABLE_OFFSET_COMMIT = 88,
	PROTO_ERR_THROTTLING_QUOTA_EXCEEDED = 89,
	PROTO_ERR_PRODUCER_FENCED = 90,
	PROTO_ERR_RESOURCE_NOT_FOUND = 91,
	PROTO_ERR_DUPLICATE_RESOURCE = 92,
	PROTO_ERR_UNACCEPTABLE_CREDENTIAL = 93,
	PROTO_ERR_INCONSISTENT_VOTER_SET = 94,
	PROTO_ERR_INVALID_UPDATE_VERSION = 95,
	PROTO_ERR_FEATURE_UPDATE_FAILED = 96,
	PROTO_ERR_PRINCIPAL_DESERIALIZATION_FAILURE = 97,
	PROTO_ERR_SNAPSHOT_NOT_FOUND = 98,
	PROTO_ERR_UNKNOWN_TOPIC_ID = 100,
	PROTO_ERR_DUPLICATE_BROKER_REGISTRATION = 101,
	PROTO_ERR_BROKER_ID_NOT_REGISTERED = 102,
	PROTO_ERR_INCONSISTENT_TOPIC_ID = 103,
	PROTO_ERR_INCONSISTENT_CLUSTER_ID = 104,
	PROTO_ERR_TRANSACTIONAL_ID_NOT_FOUND = 105,
	PROTO_ERR_FETCH_SESSION_TOPIC_ID_ERROR = 106,
	PROTO_ERR_INELIGIBLE_REPLICA = 107,
	PROTO_ERR_NEW_LEADER_ELECTED = 108,
	PROTO_ERR_MISMATCHED_ENDPOINT_TYPE = 114,
	PROTO_ERR_UNSUPPORTED_ENDPOINT_TYPE = 115,
};

/* The authorized operations a client asks for (Metadata, DescribeCluster,
 * DescribeGroups), as bit fields of Kafka's AclOperation codes (READ 3,
 * WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
 * DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12). With no
 * ACLs every operation Kafka defines on the resource type is allowed, and
 * a Kafka broker without an authorizer answers all of them
 * (AuthHelper.authorizedOperations over AclEntry.supportedOperations);
 * INT32_MIN is the answer when not asked. */
#define PROTO_OPS_TOPIC \
	((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11))
#define PROTO_OPS_GROUP ((1 << 3) | (1 << 6) | (1 << 8))
#define PROTO_OPS_CLUSTER \
	((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12))

/* The error_message of a KAFKA_STORAGE_ERROR whose cause was a full disk
 * (strerror(ENOSPC), which a Kafka broker's IOException carries too):
 * the one storage error after which nothing was appended and a retry
 * once there is room is safe, so a broker that forwarded the write gives
 * its writer ENOSPC rather than EIO. */
#define PROTO_MSG_DISK_FULL "No space left on device"

/* The error_message of a KAFKA_STORAGE_ERROR from a replica whose log
 * directory failed (replica_mgr.h): nothing of the request was
 * committed there, the controller is moving the leadership, and a broker
 * that forwarded a write sends it again to the next leader (Kafka's
 * clients retry a KafkaStorageException after a metadata refresh). */
#define PROTO_MSG_LOG_DIR_OFFLINE "the replica's log directory is offline"

/* Kafka's name of an error code ("NOT_LEADER_OR_FOLLOWER"), or
 * "UNKNOWN_ERROR_CODE" for a code not in the enum. */
const char *proto_err_name(int16_t code);

/* Our -errno (0 or negative) as the Kafka error a response carries, so
 * that one convention runs from the engine to the wire:
 *   0 NONE; -ERANGE OFFSET_OUT_OF_RANGE (offset outside the log);
 *   -EBADMSG CORRUPT_MESSAGE; -ENOENT UNKNOWN_TOPIC_OR_PARTITION;
 *   -EREMOTE NOT_LEADER_OR_FOLLOWER (the partition is led elsewhere);
 *   -ETIMEDOUT REQUEST_TIMED_OUT; -EMSGSIZE MESSAGE_TOO_LARGE;
 *   -EAGAIN NOT_ENOUGH_REPLICAS (fewer in-sync replicas than
 *   min.insync.replicas, nothing appended); -ESTALE FENCED_LEADER_EPOCH
 *   (the request's epoch is older than ours); -EL2NSYNC
 *   UNKNOWN_LEADER_EPOCH (newer than ours: we have not caught up);
 *   -EIO, -ENOSPC, -EROFS, -EMFILE, -ENFILE KAFKA_STORAGE_ERROR (as Kafka's
 *   log directory errors), -ENXIO too (a replica whose log directory
 *   failed: replica_mgr.h); -EINVAL INVALID_REQUEST;
 *   -EOPNOTSUPP UNSUPPORTED_VERSION; -EEXIST TOPIC_ALREADY_EXISTS;
 *   -EACCES SASL_AUTHENTICATION_FAILED; -EPERM CLUSTER_AUTHORIZATION_FAILED;
 *   -EALREADY ILLEGAL_SASL_STATE; -ENOTCONN LEADER_NOT_AVAILABLE;
 *   anything else UNKNOWN_SERVER_ERROR. */
int16_t proto_err_from_errno(int err);

/* ---- the API table ---- */

struct proto_api {
	int16_t api_key;
	int16_t min_version;
	int16_t max_version;
	int16_t flexible_from; /* first flexible version; INT16_MAX: none */
	const char *name;      /* Kafka's name, "Fetch" */
};

/* The supported APIs, in api_key order; *n gets their count. */
const struct proto_api *proto_api_table(size_t *n);
/* The entry of api_key, or NULL. */
const struct proto_api *proto_api_find(int16_t api_key);
/* True when api_key is supported at version. */
bool proto_api_supported(int16_t api_key, int16_t version);
/* True when that version of that API is flexible (false when unknown). */
bool proto_is_flexible(int16_t api_key, int16_t version);
/* Header versions for a supported (api_key, version): request 1 or 2 (0
 * for ControlledShutdown v0), response 0 or 1. */
int proto_req_hdr_version(int16_t api_key, int16_t version);
int proto_resp_hdr_version(int16_t api_key, int16_t version);

/* ---- frames and headers ---- */

/* Looks at the first bytes received: 0 with *frame_len (the bytes after
 * the size field) when the size is known (n >= 4), -EAGAIN when fewer than
 * 4 bytes, -EBADMSG for a negative size, -EMSGSIZE above max. */
int proto_frame_peek(const uint8_t *buf, size_t n, size_t max, size_t *frame_len);

struct proto_req_hdr {
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	struct kstr client_id; /* null allowed */
};

/* Decodes the header at the start of a frame (after its size) and leaves
 * r at the body. Returns 0; -EBADMSG malformed; -EOPNOTSUPP for an API or
 * version outside the table, with api_key, api_version and correlation_id
 * filled so the caller can answer (the body is then not reachable, since
 * its header version is unknown). An ApiVersions request of a newer
 * version than ours decodes as header v2 (v1 below 3) and returns 0:
 * proto_api_versions_req_decode then says -EOPNOTSUPP. */
int proto_req_hdr_decode(struct kbuf_r *r, struct proto_req_hdr *hdr);
/* Writes the size placeholder and the header; returns the frame position
 * for proto_frame_end. */
size_t proto_req_begin(struct kbuf_w *w, const struct proto_req_hdr *hdr);
/* Response frame start for a request of (api_key, api_version). */
size_t proto_resp_begin(struct kbuf_w *w, int16_t api_key, int16_t api_version,
			int32_t correlation_id);
/* Patches the frame's size; returns kbuf_w_err(w). */
int proto_frame_end(struct kbuf_w *w, size_t pos);
/* Decodes a response header of that API/version (after the frame size). */
int proto_resp_hdr_decode(struct kbuf_r *r, int16_t api_key, int16_t api_version,
			  int32_t *correlation_id);

/* ---- ApiVersions (18) ---- */

struct proto_api_versions_req {
	struct kstr client_software_name;    /* v3+ */
	struct kstr client_software_version; /* v3+ */
};

struct proto_api_versions_resp {
	int16_t error_code;
	int32_t n_api_keys;
	struct proto_api *api_keys; /* name NULL; owned (decode) */
	int32_t throttle_time_ms;   /* v1+ */
};

/* -EOPNOTSUPP when version is above ours (answer with
 * proto_api_versions_resp_encode(w, 0, UNSUPPORTED_VERSION, 0)). */
int proto_api_versions_req_decode(struct kbuf_r *r, int16_t version,
				  struct proto_api_versions_req *req);
int proto_api_versions_req_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_api_versions_req *req);
/* Kafka's ApiVersionsRequest.isValid: from v3 the client's software name
 * and version each match [a-zA-Z0-9]([a-zA-Z0-9.-]*[a-zA-Z0-9])?; an
 * answer to one that does not is INVALID_REQUEST. */
bool proto_api_versions_req_valid(int16_t version, const struct proto_api_versions_req *req);
/* Our answer: error_code and the table of supported APIs. */
int proto_api_versions_resp_encode(struct kbuf_w *w, int16_t version, int16_t error_code,
				   int32_t throttle_time_ms);
/* The same listing only the APIs for which served(arg, api_key) is true:
 * a listener advertises what it answers, not everything the codec knows,
 * or a client would send requests it then sees refused. */
int proto_api_versions_resp_encode_served(struct kbuf_w *w, int16_t version, int16_t error_code,
					  int32_t throttle_time_ms,
					  bool (*served)(void *arg, int16_t api_key), void *arg);
int proto_api_versions_resp_decode(struct kbuf_r *r, int16_t version,
				   struct proto_api_versions_resp *resp);
void proto_api_versions_resp_free(struct proto_api_versions_resp *resp);

/* ---- Fetch (1), proto_fetch.c ---- */

struct proto_fetch_part {
	int32_t partition;
	int32_t current_leader_epoch; /* v9+, -1 */
	int64_t fetch_offset;
	int32_t last_fetched_epoch; /* v12+, -1 */
	int64_t log_start_offset;   /* v5+, -1 */
	int32_t partition_max_bytes;
};

struct proto_fetch_topic {
	struct kstr topic;
	int32_t n_partitions;
	struct proto_fetch_part *partitions;
};

struct proto_forgotten_topic {
	struct kstr topic;
	int32_t n_partitions;
	int32_t *partitions;
};

struct proto_fetch_req {
	struct kstr cluster_id; /* v12+ tag 0, null */
	int32_t replica_id;     /* -1 for a consumer */
	int32_t max_wait_ms;
	int32_t min_bytes;
	int32_t max_bytes;      /* v3+ */
	int8_t isolation_level; /* v4+: 0 read_uncommitted, 1 read_committed */
	int32_t session_id;     /* v7+, 0 */
	int32_t session_epoch;  /* v7+, -1 */
	int32_t n_topics;
	struct proto_fetch_topic *topics;
	int32_t n_forgotten; /* v7+ */
	struct proto_forgotten_topic *forgotten;
	struct kstr rack_id; /* v11+, "" */
	/* v12+ tag PROTO_FETCH_TAG_LINE_COPY (mqfs's own, no data): the asker
	 * is a follower or read copy, which keeps the leader's line
	 * positions: a compacted log's records end at each gap (raw.c). */
	bool line_copy;
};

/* The Fetch request's tag for line_copy, which Kafka brokers skip. */
#define PROTO_FETCH_TAG_LINE_COPY 1000

/* Decoding allocates the topic arrays (owned, freed by _free); at most
 * PROTO_MAX_TOPICS topics and PROTO_MAX_PARTITIONS partitions in all. */
int proto_fetch_req_decode(struct kbuf_r *r, int16_t version, struct proto_fetch_req *req);
void proto_fetch_req_free(struct proto_fetch_req *req);
int proto_fetch_req_encode(struct kbuf_w *w, int16_t version, const struct proto_fetch_req *req);

struct proto_aborted {
	int64_t producer_id;
	int64_t first_offset;
};

struct proto_fetch_resp_part {
	int32_t partition_index;
	int16_t error_code;
	int64_t high_watermark;
	int64_t last_stable_offset; /* v4+, -1 */
	int64_t log_start_offset;   /* v5+, -1 */
	bool has_diverging_epoch;   /* v12+ tag 0 */
	int32_t diverging_epoch;
	int64_t diverging_end_offset;
	bool has_current_leader; /* v12+ tag 1 */
	int32_t current_leader_id;
	int32_t current_leader_epoch;
	/* v12+ tag PROTO_FETCH_TAG_LOG_START_LINE (mqfs's own): the line
	 * position of log_start_offset, sent with OFFSET_OUT_OF_RANGE below
	 * the log start, so that a follower or read copy can start there. */
	bool has_log_start_line;
	int64_t log_start_line;
	/* v12+ tag PROTO_FETCH_TAG_FIRST_LINE (mqfs's own): the line
	 * position of the records' first batch, sent when that batch starts
	 * past fetch_offset (compaction removed the records in between), so
	 * that a follower or read copy places it where the leader has it. */
	bool has_first_line;
	int64_t first_line;
	/* v4+: -1 null, else the count (we write null or empty: mqfs has no
	 * transactions; decoding allocates them, owned). */
	int32_t n_aborted;
	struct proto_aborted *aborted;
	int32_t preferred_read_replica; /* v11+, -1 */
	/* Records: records_len -1 null. On encode, from the file range
	 * (records_fd, records_offset, records_len) when records_fd >= 0,
	 * else from records (memory); on decode, records points into the frame. */
	int32_t records_len;
	const uint8_t *records;
	int records_fd;
	off_t records_offset;
};

/* The Fetch response partition's tag for log_start_line: far above
 * Kafka's own (0-2), which Kafka clients skip as an unknown tag. */
#define PROTO_FETCH_TAG_LOG_START_LINE 1000
/* ... and for first_line. */
#define PROTO_FETCH_TAG_FIRST_LINE     1001

struct proto_fetch_resp_topic {
	struct kstr topic;
	int32_t n_partitions;
	struct proto_fetch_resp_part *partitions;
};

struct proto_fetch_resp {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;       /* v7+ */
	int32_t session_id;       /* v7+ */
	int32_t n_topics;
	struct proto_fetch_resp_topic *topics;
};


enum proto_piece_kind { PROTO_PIECE_MEM, PROTO_PIECE_FILE };

struct proto_piece {
	enum proto_piece_kind kind;
	int fd;       /* FILE */
	off_t offset; /* MEM: into out.w.buf; FILE: into the file */
	size_t len;
};

struct proto_out {
	struct kbuf_w w; /* the bytes of every MEM piece */
	struct proto_piece *pieces;
	size_t n_pieces;
	size_t cap_pieces;
	size_t mem_done; /* w.len covered by pieces so far */
	size_t total;    /* bytes of the whole response, size field included */
};

/* limit bounds the memory part (not the file ranges). */
void proto_out_init(struct proto_out *out, size_t limit);
void proto_out_free(struct proto_out *out);
/* Appends a file range piece after what w holds so far; 0 or -errno. */
int proto_out_add_file(struct proto_out *out, int fd, off_t offset, size_t len);
/* Closes the piece list (the bytes of w after the last file piece) and
 * patches the frame size at pos (from proto_resp_begin on &out->w). */
int proto_out_finish(struct proto_out *out, size_t pos);
/* The whole response in one buffer, the file pieces read with pread:
 * for tests and for a transport that cannot sendfile. The caller frees
 * *buf. -EIO when a file is shorter than its piece. */
int proto_out_flatten(const struct proto_out *out, uint8_t **buf, size_t *len);

/* The whole Fetch response frame (size, header, body) into out. File
 * ranges become FILE pieces; nothing of them is read. */
int proto_fetch_resp_encode(struct proto_out *out, int16_t version, int32_t correlation_id,
			    const struct proto_fetch_resp *resp);
/* Decodes a Fetch response body (after its header). */
int proto_fetch_resp_decode(struct kbuf_r *r, int16_t version, struct proto_fetch_resp *resp);
void proto_fetch_resp_free(struct proto_fetch_resp *resp);

/* ---- OffsetForLeaderEpoch (23), proto_fetch.c ---- */

struct proto_ofle_part {
	int32_t partition;
	int32_t current_leader_epoch; /* v2+, -1 */
	int32_t leader_epoch;
};

struct proto_ofle_topic {
	struct kstr topic;
	int32_t n_partitions;
	struct proto_ofle_part *partitions;
};

struct proto_ofle_req {
	int32_t replica_id; /* v3+, -2 (a consumer's debug request) */
	int32_t n_topics;
	struct proto_ofle_topic *topics;
};

struct proto_ofle_resp_part {
	int16_t error_code;
	int32_t partition;
	int32_t leader_epoch; /* v1+, -1 */
	int64_t end_offset;
};

struct proto_ofle_resp_topic {
	struct kstr topic;
	int32_t n_partitions;
	struct proto_ofle_resp_part *partitions;
};

struct proto_ofle_resp {
	int32_t throttle_time_ms; /* v2+ */
	int32_t n_topics;
	struct proto_ofle_resp_topic *topics;
};

int proto_ofle_req_decode(struct kbuf_r *r, int16_t version, struct proto_ofle_req *req);
void proto_ofle_req_free(struct proto_ofle_req *req);
int proto_ofle_req_encode(struct kbuf_w *w, int16_t version, const struct proto_ofle_req *req);
int proto_ofle_resp_decode(struct kbuf_r *r, int16_t version, struct proto_ofle_resp *resp);
void proto_ofle_resp_free(struct proto_ofle_resp *resp);
int proto_ofle_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_ofle_resp *resp);

/* ---- SaslHandshake (17), SaslAuthenticate (36), proto_sasl.c ---- */

#define PROTO_MAX_MECHANISMS 16

struct proto_sasl_handshake_req {
	struct kstr mechanism;
};

struct proto_sasl_handshake_resp {
	int16_t error_code;
	int32_t n_mechanisms;
	struct kstr mechanisms[PROTO_MAX_MECHANISMS];
};

struct proto_sasl_auth_req {
	struct kstr auth_bytes;
};

struct proto_sasl_auth_resp {
	int16_t error_code;
	struct kstr error_message; /* null allowed */
	struct kstr auth_bytes;
	int64_t session_lifetime_ms; /* v1+, 0 */
};

int proto_sasl_handshake_req_decode(struct kbuf_r *r, int16_t version,
				    struct proto_sasl_handshake_req *req);
int proto_sasl_handshake_req_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_sasl_handshake_req *req);
/* More than PROTO_MAX_MECHANISMS mechanisms: -EBADMSG. */
int proto_sasl_handshake_resp_decode(struct kbuf_r *r, int16_t version,
				     struct proto_sasl_handshake_resp *resp);
int proto_sasl_handshake_resp_encode(struct kbuf_w *w, int16_t version,
				     const struct proto_sasl_handshake_resp *resp);
int proto_sasl_auth_req_decode(struct kbuf_r *r, int16_t version, struct proto_sasl_auth_req *req);
int proto_sasl_auth_req_encode(struct kbuf_w *w, int16_t version,
			       const struct proto_sasl_auth_req *req);
int proto_sasl_auth_resp_decode(struct kbuf_r *r, int16_t version,
				struct proto_sasl_auth_resp *resp);
int proto_sasl_auth_resp_encode(struct kbuf_w *w, int16_t version,
				const struct proto_sasl_auth_resp *resp);

/* ---- controller APIs of the ZooKeeper era, proto_ctrl.c ----
 *
 * LeaderAndIsr (4) and UpdateMetadata (6) carry partition states, grouped
 * by topic from LeaderAndIsr v2 / UpdateMetadata v5 and one flat list with
 * the topic name in each before. Both forms decode to topics: consecutive
 * ungrouped states of one name become one topic (whose partition_states
 * then point into one block the request owns), and encoding an old version
 * writes every state of every topic with its topic's name. */

struct proto_part_state {
	int32_t partition_index;
	int32_t controller_epoch;
	int32_t leader;
	int32_t leader_epoch;
	int32_t n_isr;
	int32_t *isr;
	/* The ZooKeeper version of the state znode: LeaderAndIsr's
	 * partition_epoch, UpdateMetadata's zk_version. */
	int32_t partition_epoch;
	int32_t n_replicas;
	int32_t *replicas;
	/* LeaderAndIsr only. */
	int32_t n_adding_replicas; /* v3+ */
	int32_t *adding_replicas;
	int32_t n_removing_replicas; /* v3+ */
	int32_t *removing_replicas;
	bool is_new;                  /* v1+ */
	int8_t leader_recovery_state; /* v6+: 1 after an unclean election */
	/* UpdateMetadata only. */
	int32_t n_offline_replicas; /* v4+ */
	int32_t *offline_replicas;
};

struct proto_topic_state {
	struct kstr topic_name;
	uint8_t topic_id[16]; /* LeaderAndIsr v5+, UpdateMetadata v7+ */
	int32_t n_partitions;
	struct proto_part_state *partition_states;
};

struct proto_live_leader {
	int32_t broker_id;
	struct kstr host_name;
	int32_t port;
};

enum proto_lisr_type {
	PROTO_LISR_INCREMENTAL = 0, /* only the partitions that changed */
	PROTO_LISR_FULL = 1,        /* every partition this broker hosts */
};

struct proto_lisr_req {
	int32_t controller_id;
	bool is_kraft_controller; /* v7+ */
	int32_t controller_epoch;
	int64_t broker_epoch; /* v2+, -1 */
	int8_t type;          /* v5+, enum proto_lisr_type */
	int32_t n_topics;
	struct proto_topic_state *topic_states;
	int32_t n_live_leaders;
	struct proto_live_leader *live_leaders;
	struct proto_part_state *ungrouped; /* decode of v0-1: owns the states */
};

struct proto_lisr_part_error {
	struct kstr topic_name; /* v0-4 */
	int32_t partition_index;
	int16_t error_code;
};

struct proto_lisr_topic_error {
	uint8_t topic_id[16];
	int32_t n_partition_errors;
	struct proto_lisr_part_error *partition_errors;
};

/* v0-4: partition_errors, each with its topic_name; v5+: topics by id. */
struct proto_lisr_resp {
	int16_t error_code;
	int32_t n_partition_errors;
	struct proto_lisr_part_error *partition_errors;
	int32_t n_topics;
	struct proto_lisr_topic_error *topics;
};

struct proto_um_endpoint {
	int32_t port;
	struct kstr host;
	struct kstr listener;      /* v3+, "" before */
	int16_t security_protocol; /* 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL */
};

/* v0 has exactly one endpoint (v0_host, v0_port), decoded as an endpoint
 * with listener "" and PLAINTEXT; encoding v0 needs exactly one. */
struct proto_um_broker {
	int32_t id;
	int32_t n_endpoints;
	struct proto_um_endpoint *endpoints;
	struct kstr rack; /* v2+, null */
};

struct proto_um_req {
	int32_t controller_id;
	bool is_kraft_controller; /* v8+ */
	int8_t type;              /* v8+ tag 0, enum proto_lisr_type */
	int32_t controller_epoch;
	int64_t broker_epoch; /* v5+, -1 */
	int32_t n_topics;
	struct proto_topic_state *topic_states;
	int32_t n_live_brokers;
	struct proto_um_broker *live_brokers;
	struct proto_part_state *ungrouped; /* decode of v0-4 */
};

struct proto_um_resp {
	int16_t error_code;
};

struct proto_stop_part {
	int32_t partition_index;
	int32_t leader_epoch;  /* v3+; -1 before, or to skip the check */
	bool delete_partition; /* v3+; before, the request's flag */
};

struct proto_stop_topic {
	struct kstr topic_name;
	int32_t n_partitions;
	struct proto_stop_part *partition_states;
};

/* v0 lists (topic, partition) pairs, v1-2 topics with partition indexes,
 * both with one delete_partitions flag; v3+ a state per partition. All
 * decode to topics (v0 grouped as LeaderAndIsr v0-1 are). */
struct proto_stop_req {
	int32_t controller_id;
	bool is_kraft_controller; /* v4+ */
	int32_t controller_epoch;
	int64_t broker_epoch;   /* v1+, -1 */
	bool delete_partitions; /* v0-2 */
	int32_t n_topics;
	struct proto_stop_topic *topics;
	struct proto_stop_part *ungrouped; /* decode of v0 */
};

struct proto_topic_part_error {
	struct kstr topic_name;
	int32_t partition_index;
	int16_t error_code;
};

struct proto_stop_resp {
	int16_t error_code;
	int32_t n_partition_errors;
	struct proto_topic_part_error *partition_errors;
};

struct proto_cs_req {
	int32_t broker_id;
	int64_t broker_epoch; /* v2+, -1 */
};

/* The partitions the broker still leads (error_code NONE) or all of them
 * (on error); error_code of the entries is unused. */
struct proto_cs_resp {
	int16_t error_code;
	int32_t n_remaining;
	struct proto_topic_part_error *remaining_partitions;
};

int proto_lisr_req_decode(struct kbuf_r *r, int16_t version, struct proto_lisr_req *req);
int proto_lisr_req_encode(struct kbuf_w *w, int16_t version, const struct proto_lisr_req *req);
void proto_lisr_req_free(struct proto_lisr_req *req);
int proto_lisr_resp_decode(struct kbuf_r *r, int16_t version, struct proto_lisr_resp *resp);
int proto_lisr_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_lisr_resp *resp);
void proto_lisr_resp_free(struct proto_lisr_resp *resp);

int proto_um_req_decode(struct kbuf_r *r, int16_t version, struct proto_um_req *req);
/* -EINVAL for a v0 broker without exactly one endpoint. */
int proto_um_req_encode(struct kbuf_w *w, int16_t version, const struct proto_um_req *req);
void proto_um_req_free(struct proto_um_req *req);
int proto_um_resp_decode(struct kbuf_r *r, int16_t version, struct proto_um_resp *resp);
int proto_um_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_um_resp *resp);

int proto_stop_req_decode(struct kbuf_r *r, int16_t version, struct proto_stop_req *req);
int proto_stop_req_encode(struct kbuf_w *w, int16_t version, const struct proto_stop_req *req);
void proto_stop_req_free(struct proto_stop_req *req);
int proto_stop_resp_decode(struct kbuf_r *r, int16_t version, struct proto_stop_resp *resp);
int proto_stop_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_stop_resp *resp);
void proto_stop_resp_free(struct proto_stop_resp *resp);

int proto_cs_req_decode(struct kbuf_r *r, int16_t version, struct proto_cs_req *req);
int proto_cs_req_encode(struct kbuf_w *w, int16_t version, const struct proto_cs_req *req);
int proto_cs_resp_decode(struct kbuf_r *r, int16_t version, struct proto_cs_resp *resp);
int proto_cs_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_cs_resp *resp);
void proto_cs_resp_free(struct proto_cs_resp *resp);

/* ---- InitProducerId (22), proto_producer_id.c ---- */

struct proto_init_pid_req {
	struct kstr transactional_id; /* null: an idempotent producer */
	int32_t transaction_timeout_ms;
	int64_t producer_id;    /* v3+, -1 */
	int16_t producer_epoch; /* v3+, -1 */
};

struct proto_init_pid_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	int64_t producer_id;
	int16_t producer_epoch;
};

int proto_init_pid_req_decode(struct kbuf_r *r, int16_t version, struct proto_init_pid_req *req);
int proto_init_pid_req_encode(struct kbuf_w *w, int16_t version,
			      const struct proto_init_pid_req *req);
int proto_init_pid_resp_decode(struct kbuf_r *r, int16_t version, struct proto_init_pid_resp *resp);
int proto_init_pid_resp_encode(struct kbuf_w *w, int16_t version,
			       const struct proto_init_pid_resp *resp);

/* ---- Produce (0), proto_produce.c ---- */

struct proto_produce_part {
	int32_t index;
	/* Record batches, as Fetch's records: records_len -1 null; on encode
	 * from the file range (records_fd, records_offset, records_len) when
	 * records_fd >= 0, else from records; on decode, records points into
	 * the frame (records_fd -1). The bytes are not parsed here: the
	 * batches are validated where they are appended (engine/batch.c). */
	int32_t records_len;
	const uint8_t *records;
	int records_fd;
	off_t records_offset;
};

struct proto_produce_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_produce_part *partition_data;
};

struct proto_produce_req {
	struct kstr transactional_id; /* null */
	int16_t acks;                 /* -1 all, 0 none, 1 leader: not checked here */
	int32_t timeout_ms;
	int32_t n_topics;
	struct proto_produce_topic *topic_data;
};

struct proto_record_error {
	int32_t batch_index;
	struct kstr batch_index_error_message; /* null */
};

struct proto_produce_resp_part {
	int32_t index;
	int16_t error_code;
	int64_t base_offset;
	int64_t log_append_time_ms; /* -1 unless LogAppendTime */
	int64_t log_start_offset;   /* v5+, -1 */
	int32_t n_record_errors;    /* v8+ */
	struct proto_record_error *record_errors;
	struct kstr error_message; /* v8+, null */
};

struct proto_produce_resp_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_produce_resp_part *partition_responses;
};

struct proto_produce_resp {
	int32_t n_topics;
	struct proto_produce_resp_topic *responses;
	int32_t throttle_time_ms;
};

/* The whole request frame (size, header hdr, body) into out; file ranges
 * become FILE pieces, so forwarded batches are never copied. */
int proto_produce_req_encode(struct proto_out *out, const struct proto_req_hdr *hdr,
			     const struct proto_produce_req *req);
/* The body only (after the request header), as net_client_call sends it;
 * records from memory stay in out->w. */
int proto_produce_req_body(struct proto_out *out, int16_t version,
			   const struct proto_produce_req *req);
int proto_produce_req_decode(struct kbuf_r *r, int16_t version, struct proto_produce_req *req);
void proto_produce_req_free(struct proto_produce_req *req);
int proto_produce_resp_encode(struct kbuf_w *w, int16_t version,
			      const struct proto_produce_resp *resp);
int proto_produce_resp_decode(struct kbuf_r *r, int16_t version, struct proto_produce_resp *resp);
void proto_produce_resp_free(struct proto_produce_resp *resp);

/* ---- Metadata (3), proto_meta.c ---- */

struct proto_meta_req_topic {
	uint8_t topic_id[16]; /* v10+, zero */
	struct kstr name;     /* null allowed v10+ (asked by id) */
};

struct proto_meta_req {
	/* -1: every topic (null in v1+, an empty array in v0, which cannot
	 * ask for none); 0: brokers only (v1+). */
	int32_t n_topics;
	struct proto_meta_req_topic *topics;
	bool allow_auto_topic_creation;             /* v4+, true before */
	bool include_cluster_authorized_operations; /* v8-10 */
	bool include_topic_authorized_operations;   /* v8+ */
};

struct proto_meta_broker {
	int32_t node_id;
	struct kstr host;
	int32_t port;
	struct kstr rack; /* v1+, null */
};

struct proto_meta_part {
	int16_t error_code;
	int32_t partition_index;
	int32_t leader_id;
	int32_t leader_epoch; /* v7+, -1 */
	int32_t n_replica_nodes;
	int32_t *replica_nodes;
	int32_t n_isr_nodes;
	int32_t *isr_nodes;
	int32_t n_offline_replicas; /* v5+ */
	int32_t *offline_replicas;
};

struct proto_meta_topic {
	int16_t error_code;
	struct kstr name;     /* null allowed v12+ */
	uint8_t topic_id[16]; /* v10+ */
	bool is_internal;     /* v1+ */
	int32_t n_partitions;
	struct proto_meta_part *partitions;
	int32_t topic_authorized_operations; /* v8+, INT32_MIN: not asked */
};

struct proto_meta_resp {
	int32_t throttle_time_ms; /* v3+ */
	int32_t n_brokers;
	struct proto_meta_broker *brokers;
	struct kstr cluster_id; /* v2+, null */
	int32_t controller_id;  /* v1+, -1 */
	int32_t n_topics;
	struct proto_meta_topic *topics;
	int32_t cluster_authorized_operations; /* v8-10, INT32_MIN */
};

int proto_meta_req_decode(struct kbuf_r *r, int16_t version, struct proto_meta_req *req);
/* -EINVAL for n_topics 0 in v0 (it would mean every topic). */
int proto_meta_req_encode(struct kbuf_w *w, int16_t version, const struct proto_meta_req *req);
void proto_meta_req_free(struct proto_meta_req *req);
int proto_meta_resp_decode(struct kbuf_r *r, int16_t version, struct proto_meta_resp *resp);
int proto_meta_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_meta_resp *resp);
void proto_meta_resp_free(struct proto_meta_resp *resp);

/* ---- ListOffsets (2), OffsetCommit (8), OffsetFetch (9), proto_offsets.c ---- */

/* ListOffsets' special timestamps: the offset after the last record, the
 * log start offset, and (v7+) the offset of the record with the largest
 * timestamp. Any other value asks for the first offset whose timestamp is
 * at least that. */
#define PROTO_LIST_OFFSETS_LATEST        (-1)
#define PROTO_LIST_OFFSETS_EARLIEST      (-2)
#define PROTO_LIST_OFFSETS_MAX_TIMESTAMP (-3)

/* Old style offsets in one ListOffsets v0 answer. */
#define PROTO_MAX_OLD_OFFSETS   1000
/* Groups in one OffsetFetch v8+ request or response. */
#define PROTO_MAX_GROUPS        1000
/* Groups in one ListGroups answer (a broker lists every group it
 * coordinates, which is more than one request names). */
#define PROTO_MAX_LISTED_GROUPS 100000

enum proto_isolation_level {
	PROTO_READ_UNCOMMITTED = 0,
	PROTO_READ_COMMITTED = 1,
};

struct proto_list_offsets_part {
	int32_t partition_index;
	int32_t current_leader_epoch; /* v4+, -1 */
	int64_t timestamp;            /* or PROTO_LIST_OFFSETS_* */
	int32_t max_num_offsets;      /* v0, 1 */
};

struct proto_list_offsets_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_list_offsets_part *partitions;
};

struct proto_list_offsets_req {
	int32_t replica_id;     /* -1 for a consumer */
	int8_t isolation_level; /* v2+, enum proto_isolation_level */
	int32_t n_topics;
	struct proto_list_offsets_topic *topics;
};

struct proto_list_offsets_resp_part {
	int32_t partition_index;
	int16_t error_code;
	int32_t n_old_style_offsets; /* v0 */
	int64_t *old_style_offsets;
	int64_t timestamp;    /* v1+, -1 */
	int64_t offset;       /* v1+, -1 */
	int32_t leader_epoch; /* v4+, -1 */
};

struct proto_list_offsets_resp_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_list_offsets_resp_part *partitions;
};

struct proto_list_offsets_resp {
	int32_t throttle_time_ms; /* v2+ */
	int32_t n_topics;
	struct proto_list_offsets_resp_topic *topics;
};

/* -EINVAL for PROTO_LIST_OFFSETS_MAX_TIMESTAMP below v7 (an older broker
 * would take it for a timestamp). */
int proto_list_offsets_req_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_list_offsets_req *req);
int proto_list_offsets_req_decode(struct kbuf_r *r, int16_t version,
				  struct proto_list_offsets_req *req);
void proto_list_offsets_req_free(struct proto_list_offsets_req *req);
int proto_list_offsets_resp_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_list_offsets_resp *resp);
int proto_list_offsets_resp_decode(struct kbuf_r *r, int16_t version,
				   struct proto_list_offsets_resp *resp);
void proto_list_offsets_resp_free(struct proto_list_offsets_resp *resp);

struct proto_offset_commit_part {
	int32_t partition_index;
	int64_t committed_offset;
	int32_t committed_leader_epoch; /* v6+, -1 */
	int64_t commit_timestamp;       /* v1 only, -1 */
	struct kstr committed_metadata; /* null allowed */
};

struct proto_offset_commit_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_offset_commit_part *partitions;
};

struct proto_offset_commit_req {
	struct kstr group_id;
	int32_t generation_id;         /* v1+, -1 (GenerationIdOrMemberEpoch) */
	struct kstr member_id;         /* v1+, "" */
	struct kstr group_instance_id; /* v7+, null */
	int64_t retention_time_ms;     /* v2-4, -1: the broker's default */
	int32_t n_topics;
	struct proto_offset_commit_topic *topics;
};

struct proto_offset_commit_resp_part {
	int32_t partition_index;
	int16_t error_code;
};

struct proto_offset_commit_resp_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_offset_commit_resp_part *partitions;
};

struct proto_offset_commit_resp {
	int32_t throttle_time_ms; /* v3+ */
	int32_t n_topics;
	struct proto_offset_commit_resp_topic *topics;
};

int proto_offset_commit_req_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_offset_commit_req *req);
int proto_offset_commit_req_decode(struct kbuf_r *r, int16_t version,
				   struct proto_offset_commit_req *req);
void proto_offset_commit_req_free(struct proto_offset_commit_req *req);
int proto_offset_commit_resp_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_offset_commit_resp *resp);
int proto_offset_commit_resp_decode(struct kbuf_r *r, int16_t version,
				    struct proto_offset_commit_resp *resp);
void proto_offset_commit_resp_free(struct proto_offset_commit_resp *resp);

/* OffsetFetch asks for one group in v0-7 and for several (groups) in v8;
 * both decode to groups, and encoding v0-7 needs exactly one. */
struct proto_offset_fetch_topic {
	struct kstr name;
	int32_t n_partition_indexes;
	int32_t *partition_indexes;
};

struct proto_offset_fetch_group {
	struct kstr group_id;
	/* -1 (null, v2+): every partition the group has committed. */
	int32_t n_topics;
	struct proto_offset_fetch_topic *topics;
};

struct proto_offset_fetch_req {
	int32_t n_groups;
	struct proto_offset_fetch_group *groups;
	bool require_stable; /* v7+ */
};

struct proto_offset_fetch_resp_part {
	int32_t partition_index;
	int64_t committed_offset;       /* -1: none */
	int32_t committed_leader_epoch; /* v5+, -1 */
	struct kstr metadata;           /* null allowed */
	int16_t error_code;
};

struct proto_offset_fetch_resp_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_offset_fetch_resp_part *partitions;
};

/* v0-7: one group, group_id not on the wire (null on decode), its
 * error_code the response's (v2+, NONE before). */
struct proto_offset_fetch_resp_group {
	struct kstr group_id;
	int32_t n_topics;
	struct proto_offset_fetch_resp_topic *topics;
	int16_t error_code;
};

struct proto_offset_fetch_resp {
	int32_t throttle_time_ms; /* v3+ */
	int32_t n_groups;
	struct proto_offset_fetch_resp_group *groups;
};

/* -EINVAL below v8 unless exactly one group, and for null topics below v2. */
int proto_offset_fetch_req_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_offset_fetch_req *req);
int proto_offset_fetch_req_decode(struct kbuf_r *r, int16_t version,
				  struct proto_offset_fetch_req *req);
void proto_offset_fetch_req_free(struct proto_offset_fetch_req *req);
/* -EINVAL below v8 unless exactly one group. */
int proto_offset_fetch_resp_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_offset_fetch_resp *resp);
int proto_offset_fetch_resp_decode(struct kbuf_r *r, int16_t version,
				   struct proto_offset_fetch_resp *resp);
void proto_offset_fetch_resp_free(struct proto_offset_fetch_resp *resp);

/* ---- FindCoordinator (10), JoinGroup (11), Heartbeat (12),
 * LeaveGroup (13), SyncGroup (14) and the consumer protocol's embedded
 * formats, proto_group.c ---- */

/* Protocols one JoinGroup member offers, members in one group answer,
 * keys in one FindCoordinator v4 request. */
#define PROTO_MAX_PROTOCOLS  64
#define PROTO_MAX_MEMBERS    10000
#define PROTO_MAX_COORD_KEYS 1000

enum proto_coord_key_type {
	PROTO_COORD_GROUP = 0,
	PROTO_COORD_TRANSACTION = 1,
};

/* v0-3 ask for one key, v4 for several (coordinator_keys); both decode
 * to keys, and encoding v0-3 needs exactly one. */
struct proto_find_coord_req {
	int8_t key_type; /* v1+, enum proto_coord_key_type */
	int32_t n_keys;
	struct kstr *keys;
};

struct proto_coordinator {
	struct kstr key; /* v4+; null on decode of v0-3 */
	int32_t node_id;
	struct kstr host;
	int32_t port;
	int16_t error_code;
	struct kstr error_message; /* v1+, null */
};

/* v0-3 answer one coordinator, v4 one per key; encoding v0-3 needs
 * exactly one. */
struct proto_find_coord_resp {
	int32_t throttle_time_ms; /* v1+ */
	int32_t n_coordinators;
	struct proto_coordinator *coordinators;
};

int proto_find_coord_req_encode(struct kbuf_w *w, int16_t version,
				const struct proto_find_coord_req *req);
int proto_find_coord_req_decode(struct kbuf_r *r, int16_t version,
				struct proto_find_coord_req *req);
void proto_find_coord_req_free(struct proto_find_coord_req *req);
int proto_find_coord_resp_encode(struct kbuf_w *w, int16_t version,
				 const struct proto_find_coord_resp *resp);
int proto_find_coord_resp_decode(struct kbuf_r *r, int16_t version,
				 struct proto_find_coord_resp *resp);
void proto_find_coord_resp_free(struct proto_find_coord_resp *resp);

/* Bytes fields (metadata, assignment) point into the frame like strings:
 * ptr is really const uint8_t *. */
struct proto_join_protocol {
	struct kstr name;
	struct kstr metadata;
};

struct proto_join_req {
	struct kstr group_id;
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms;  /* v1+, -1 (v0: the session timeout) */
	struct kstr member_id;         /* "" on the first join */
	struct kstr group_instance_id; /* v5+, null */
	struct kstr protocol_type;     /* "consumer" */
	int32_t n_protocols;
	struct proto_join_protocol *protocols;
	struct kstr reason; /* v8+, null */
};

struct proto_join_member {
	struct kstr member_id;
	struct kstr group_instance_id; /* v5+, null */
	struct kstr metadata;
};

struct proto_join_resp {
	int32_t throttle_time_ms; /* v2+ */
	int16_t error_code;
	int32_t generation_id;
	struct kstr protocol_type; /* v7+, null */
	struct kstr protocol_name; /* null allowed v7+ */
	struct kstr leader;
	bool skip_assignment; /* v9+ */
	struct kstr member_id;
	int32_t n_members; /* the leader's answer only */
	struct proto_join_member *members;
};

int proto_join_req_encode(struct kbuf_w *w, int16_t version, const struct proto_join_req *req);
int proto_join_req_decode(struct kbuf_r *r, int16_t version, struct proto_join_req *req);
void proto_join_req_free(struct proto_join_req *req);
/* -EINVAL for a null protocol_name below v7. */
int proto_join_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_join_resp *resp);
int proto_join_resp_decode(struct kbuf_r *r, int16_t version, struct proto_join_resp *resp);
void proto_join_resp_free(struct proto_join_resp *resp);

struct proto_sync_assignment {
	struct kstr member_id;
	struct kstr assignment;
};

struct proto_sync_req {
	struct kstr group_id;
	int32_t generation_id;
	struct kstr member_id;
	struct kstr group_instance_id; /* v3+, null */
	struct kstr protocol_type;     /* v5+, null */
	struct kstr protocol_name;     /* v5+, null */
	int32_t n_assignments;         /* the leader's request only */
	struct proto_sync_assignment *assignments;
};

struct proto_sync_resp {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;
	struct kstr protocol_type; /* v5+, null */
	struct kstr protocol_name; /* v5+, null */
	struct kstr assignment;
};

int proto_sync_req_encode(struct kbuf_w *w, int16_t version, const struct proto_sync_req *req);
int proto_sync_req_decode(struct kbuf_r *r, int16_t version, struct proto_sync_req *req);
void proto_sync_req_free(struct proto_sync_req *req);
int proto_sync_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_sync_resp *resp);
int proto_sync_resp_decode(struct kbuf_r *r, int16_t version, struct proto_sync_resp *resp);

struct proto_heartbeat_req {
	struct kstr group_id;
	int32_t generation_id;
	struct kstr member_id;
	struct kstr group_instance_id; /* v3+, null */
};

struct proto_heartbeat_resp {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;
};

int proto_heartbeat_req_encode(struct kbuf_w *w, int16_t version,
			       const struct proto_heartbeat_req *req);
int proto_heartbeat_req_decode(struct kbuf_r *r, int16_t version, struct proto_heartbeat_req *req);
int proto_heartbeat_resp_encode(struct kbuf_w *w, int16_t version,
				const struct proto_heartbeat_resp *resp);
int proto_heartbeat_resp_decode(struct kbuf_r *r, int16_t version,
				struct proto_heartbeat_resp *resp);

struct proto_leave_member {
	struct kstr member_id;
	struct kstr group_instance_id; /* null */
	struct kstr reason;            /* request v5+, null */
	int16_t error_code;            /* response only */
};

/* v0-2 name one member_id, v3+ a list of members; both decode to members
 * and encoding v0-2 needs exactly one. */
struct proto_leave_req {
	struct kstr group_id;
	int32_t n_members;
	struct proto_leave_member *members;
};

struct proto_leave_resp {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;
	int32_t n_members; /* v3+ */
	struct proto_leave_member *members;
};

int proto_leave_req_encode(struct kbuf_w *w, int16_t version, const struct proto_leave_req *req);
int proto_leave_req_decode(struct kbuf_r *r, int16_t version, struct proto_leave_req *req);
void proto_leave_req_free(struct proto_leave_req *req);
int proto_leave_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_leave_resp *resp);
int proto_leave_resp_decode(struct kbuf_r *r, int16_t version, struct proto_leave_resp *resp);
void proto_leave_resp_free(struct proto_leave_resp *resp);

/* The consumer protocol: what a "consumer" member puts in JoinGroup's
 * protocol metadata (a subscription) and what the leader hands each member
 * in SyncGroup (an assignment). Each starts with its INT16 version and is
 * never flexible. A version above ours is read as ours and its remaining
 * bytes ignored (newer fields are appended), as Kafka's consumers do. */
#define PROTO_CONSUMER_PROTOCOL_MAX_VERSION 3

struct proto_topic_partitions {
	struct kstr topic;
	int32_t n_partitions;
	int32_t *partitions;
};

struct proto_consumer_sub {
	int16_t version;
	int32_t n_topics;
	struct kstr *topics;
	struct kstr user_data;      /* null allowed */
	int32_t n_owned_partitions; /* v1+ */
	struct proto_topic_partitions *owned_partitions;
	int32_t generation_id; /* v2+, -1 */
	struct kstr rack_id;   /* v3+, null */
};

struct proto_consumer_asg {
	int16_t version;
	int32_t n_assigned;
	struct proto_topic_partitions *assigned_partitions;
	struct kstr user_data; /* null allowed */
};

/* Encoders write sub->version (0..3; else -EOPNOTSUPP). Decoders take the
 * whole bytes field (metadata / assignment): 0, -EBADMSG, -ENOMEM. */
int proto_consumer_sub_encode(struct kbuf_w *w, const struct proto_consumer_sub *sub);
int proto_consumer_sub_decode(const uint8_t *buf, size_t len, struct proto_consumer_sub *sub);
void proto_consumer_sub_free(struct proto_consumer_sub *sub);
int proto_consumer_asg_encode(struct kbuf_w *w, const struct proto_consumer_asg *asg);
int proto_consumer_asg_decode(const uint8_t *buf, size_t len, struct proto_consumer_asg *asg);
void proto_consumer_asg_free(struct proto_consumer_asg *asg);

/* ---- CreateTopics (19), DeleteTopics (20), DescribeConfigs (32),
 * AlterConfigs (33), CreatePartitions (37), IncrementalAlterConfigs (44),
 * proto_admin.c ---- */

/* Configs in one resource or topic, keys asked of one resource, broker
 * ids in one replica assignment (PROTO_MAX_BROKERS), synonyms of one
 * config. */
#define PROTO_MAX_CONFIGS  1000
#define PROTO_MAX_SYNONYMS 16

enum proto_resource_type {
	PROTO_RESOURCE_TOPIC = 2,
	PROTO_RESOURCE_BROKER = 4,
	PROTO_RESOURCE_BROKER_LOGGER = 8,
	PROTO_RESOURCE_GROUP = 32, /* Kafka's group configs */
};

enum proto_config_op {
	PROTO_CONFIG_SET = 0,
	PROTO_CONFIG_DELETE = 1,
	PROTO_CONFIG_APPEND = 2,
	PROTO_CONFIG_SUBTRACT = 3,
};

/* A config name and value (null allowed), and for IncrementalAlterConfigs
 * the operation. */
struct proto_config {
	struct kstr name;
	struct kstr value;
	int8_t config_operation; /* IncrementalAlterConfigs only */
};

struct proto_replica_assignment {
	int32_t partition_index; /* CreateTopics only */
	int32_t n_broker_ids;
	int32_t *broker_ids;
};

struct proto_creatable_topic {
	struct kstr name;
	int32_t num_partitions;     /* -1: the broker's default */
	int16_t replication_factor; /* -1: the broker's default */
	int32_t n_assignments;
	struct proto_replica_assignment *assignments;
	int32_t n_configs;
	struct proto_config *configs;
};

struct proto_create_topics_req {
	int32_t n_topics;
	struct proto_creatable_topic *topics;
	int32_t timeout_ms;
	bool validate_only; /* v1+ */
};

struct proto_topic_config_desc {
	struct kstr name;
	struct kstr value; /* null allowed */
	bool read_only;
	int8_t config_source; /* -1 unknown */
	bool is_sensitive;
};

struct proto_creatable_topic_result {
	struct kstr name;
	uint8_t topic_id[16]; /* v7+ */
	int16_t error_code;
	struct kstr error_message;       /* v1+, null */
	int16_t topic_config_error_code; /* v5+ tag 0, NONE */
	int32_t num_partitions;          /* v5+, -1 */
	int16_t replication_factor;      /* v5+, -1 */
	int32_t n_configs;               /* v5+, -1 null */
	struct proto_topic_config_desc *configs;
};

struct proto_create_topics_resp {
	int32_t throttle_time_ms; /* v2+ */
	int32_t n_topics;
	struct proto_creatable_topic_result *topics;
};

int proto_create_topics_req_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_create_topics_req *req);
int proto_create_topics_req_decode(struct kbuf_r *r, int16_t version,
				   struct proto_create_topics_req *req);
void proto_create_topics_req_free(struct proto_create_topics_req *req);
int proto_create_topics_resp_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_create_topics_resp *resp);
int proto_create_topics_resp_decode(struct kbuf_r *r, int16_t version,
				    struct proto_create_topics_resp *resp);
void proto_create_topics_resp_free(struct proto_create_topics_resp *resp);

/* v0-5 name topics; v6 names or ids (name null when by id). */
struct proto_delete_topic {
	struct kstr name;
	uint8_t topic_id[16]; /* v6+ */
};

struct proto_delete_topics_req {
	int32_t n_topics;
	struct proto_delete_topic *topics;
	int32_t timeout_ms;
};

struct proto_delete_topic_result {
	struct kstr name;     /* null allowed v6+ */
	uint8_t topic_id[16]; /* v6+ */
	int16_t error_code;
	struct kstr error_message; /* v5+, null */
};

struct proto_delete_topics_resp {
	int32_t throttle_time_ms; /* v1+ */
	int32_t n_responses;
	struct proto_delete_topic_result *responses;
};

/* -EINVAL for a null name below v6. */
int proto_delete_topics_req_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_delete_topics_req *req);
int proto_delete_topics_req_decode(struct kbuf_r *r, int16_t version,
				   struct proto_delete_topics_req *req);
void proto_delete_topics_req_free(struct proto_delete_topics_req *req);
/* -EINVAL for a null name below v6. */
int proto_delete_topics_resp_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_delete_topics_resp *resp);
int proto_delete_topics_resp_decode(struct kbuf_r *r, int16_t version,
				    struct proto_delete_topics_resp *resp);
void proto_delete_topics_resp_free(struct proto_delete_topics_resp *resp);

struct proto_create_parts_topic {
	struct kstr name;
	int32_t count;                                /* the new total */
	int32_t n_assignments;                        /* -1 null: the broker assigns */
	struct proto_replica_assignment *assignments; /* partition_index unused */
};

struct proto_create_parts_req {
	int32_t n_topics;
	struct proto_create_parts_topic *topics;
	int32_t timeout_ms;
	bool validate_only;
};

/* A per-resource answer: CreatePartitions' results and AlterConfigs'
 * responses (resource_type unused in CreatePartitions). */
struct proto_resource_result {
	int16_t error_code;
	struct kstr error_message; /* null */
	int8_t resource_type;
	struct kstr resource_name;
};

struct proto_create_parts_resp {
	int32_t throttle_time_ms;
	int32_t n_results;
	struct proto_resource_result *results;
};

int proto_create_parts_req_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_create_parts_req *req);
int proto_create_parts_req_decode(struct kbuf_r *r, int16_t version,
				  struct proto_create_parts_req *req);
void proto_create_parts_req_free(struct proto_create_parts_req *req);
int proto_create_parts_resp_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_create_parts_resp *resp);
int proto_create_parts_resp_decode(struct kbuf_r *r, int16_t version,
				   struct proto_create_parts_resp *resp);
void proto_create_parts_resp_free(struct proto_create_parts_resp *resp);

struct proto_describe_configs_resource {
	int8_t resource_type; /* enum proto_resource_type */
	struct kstr resource_name;
	int32_t n_configuration_keys; /* -1 null: every config */
	struct kstr *configuration_keys;
};

struct proto_describe_configs_req {
	int32_t n_resources;
	struct proto_describe_configs_resource *resources;
	bool include_synonyms;      /* v1+ */
	bool include_documentation; /* v3+ */
};

struct proto_config_synonym {
	struct kstr name;
	struct kstr value; /* null allowed */
	int8_t source;
};

struct proto_describe_configs_entry {
	struct kstr name;
	struct kstr value; /* null allowed */
	bool read_only;
	bool is_default;      /* v0 */
	int8_t config_source; /* v1+, -1 */
	bool is_sensitive;
	int32_t n_synonyms; /* v1+ */
	struct proto_config_synonym *synonyms;
	int8_t config_type;        /* v3+, 0 unknown */
	struct kstr documentation; /* v3+, null */
};

struct proto_describe_configs_result {
	int16_t error_code;
	struct kstr error_message; /* null */
	int8_t resource_type;
	struct kstr resource_name;
	int32_t n_configs;
	struct proto_describe_configs_entry *configs;
};

struct proto_describe_configs_resp {
	int32_t throttle_time_ms;
	int32_t n_results;
	struct proto_describe_configs_result *results;
};

int proto_describe_configs_req_encode(struct kbuf_w *w, int16_t version,
				      const struct proto_describe_configs_req *req);
int proto_describe_configs_req_decode(struct kbuf_r *r, int16_t version,
				      struct proto_describe_configs_req *req);
void proto_describe_configs_req_free(struct proto_describe_configs_req *req);
int proto_describe_configs_resp_encode(struct kbuf_w *w, int16_t version,
				       const struct proto_describe_configs_resp *resp);
int proto_describe_configs_resp_decode(struct kbuf_r *r, int16_t version,
				       struct proto_describe_configs_resp *resp);
void proto_describe_configs_resp_free(struct proto_describe_configs_resp *resp);

/* AlterConfigs (whole sets) and IncrementalAlterConfigs (an operation per
 * config) share their structs; the _incr_ functions are the latter. */
struct proto_alter_configs_resource {
	int8_t resource_type;
	struct kstr resource_name;
	int32_t n_configs;
	struct proto_config *configs;
};

struct proto_alter_configs_req {
	int32_t n_resources;
	struct proto_alter_configs_resource *resources;
	bool validate_only;
};

struct proto_alter_configs_resp {
	int32_t throttle_time_ms;
	int32_t n_responses;
	struct proto_resource_result *responses;
};

int proto_alter_configs_req_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_alter_configs_req *req);
int proto_alter_configs_req_decode(struct kbuf_r *r, int16_t version,
				   struct proto_alter_configs_req *req);
int proto_incr_alter_configs_req_encode(struct kbuf_w *w, int16_t version,
					const struct proto_alter_configs_req *req);
int proto_incr_alter_configs_req_decode(struct kbuf_r *r, int16_t version,
					struct proto_alter_configs_req *req);
void proto_alter_configs_req_free(struct proto_alter_configs_req *req);
int proto_alter_configs_resp_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_alter_configs_resp *resp);
int proto_alter_configs_resp_decode(struct kbuf_r *r, int16_t version,
				    struct proto_alter_configs_resp *resp);
int proto_incr_alter_configs_resp_encode(struct kbuf_w *w, int16_t version,
					 const struct proto_alter_configs_resp *resp);
int proto_incr_alter_configs_resp_decode(struct kbuf_r *r, int16_t version,
					 struct proto_alter_configs_resp *resp);
void proto_alter_configs_resp_free(struct proto_alter_configs_resp *resp);

/* ---- DescribeGroups (15), DeleteGroups (42), proto_group_admin.c ---- */

struct proto_describe_groups_req {
	int32_t n_groups;
	struct kstr *groups;
	bool include_authorized_operations; /* v3+ */
};

struct proto_described_member {
	struct kstr member_id;
	struct kstr group_instance_id; /* v4+, null */
	struct kstr client_id;
	struct kstr client_host;
	struct kstr member_metadata;   /* BYTES */
	struct kstr member_assignment; /* BYTES */
};

struct proto_described_group {
	int16_t error_code;
	struct kstr group_id;
	struct kstr group_state;
	struct kstr protocol_type;
	struct kstr protocol_data;
	int32_t n_members;
	struct proto_described_member *members;
	int32_t authorized_operations; /* v3+ */
};

struct proto_describe_groups_resp {
	int32_t throttle_time_ms; /* v1+ */
	int32_t n_groups;
	struct proto_described_group *groups;
};

int proto_describe_groups_req_encode(struct kbuf_w *w, int16_t version,
				     const struct proto_describe_groups_req *req);
int proto_describe_groups_req_decode(struct kbuf_r *r, int16_t version,
				     struct proto_describe_groups_req *req);
void proto_describe_groups_req_free(struct proto_describe_groups_req *req);
int proto_describe_groups_resp_encode(struct kbuf_w *w, int16_t version,
				      const struct proto_describe_groups_resp *resp);
int proto_describe_groups_resp_decode(struct kbuf_r *r, int16_t version,
				      struct proto_describe_groups_resp *resp);
void proto_describe_groups_resp_free(struct proto_describe_groups_resp *resp);

struct proto_delete_groups_req {
	int32_t n_groups;
	struct kstr *groups_names;
};

struct proto_deletable_group_result {
	struct kstr group_id;
	int16_t error_code;
};

struct proto_delete_groups_resp {
	int32_t throttle_time_ms;
	int32_t n_results;
	struct proto_deletable_group_result *results;
};

int proto_delete_groups_req_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_delete_groups_req *req);
int proto_delete_groups_req_decode(struct kbuf_r *r, int16_t version,
				   struct proto_delete_groups_req *req);
void proto_delete_groups_req_free(struct proto_delete_groups_req *req);
int proto_delete_groups_resp_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_delete_groups_resp *resp);
int proto_delete_groups_resp_decode(struct kbuf_r *r, int16_t version,
				    struct proto_delete_groups_resp *resp);
void proto_delete_groups_resp_free(struct proto_delete_groups_resp *resp);

/* ---- OffsetDelete (47) v0, proto_group_admin.c ---- */

struct proto_offset_delete_topic {
	struct kstr name;
	int32_t n_partitions;
	int32_t *partitions; /* partition_index of each */
};

struct proto_offset_delete_req {
	struct kstr group_id;
	int32_t n_topics;
	struct proto_offset_delete_topic *topics;
};

/* The answer's topics are OffsetCommit's: (name, (partition_index,
 * error_code)...). With a top-level error, Kafka sends no topics. */
struct proto_offset_delete_resp {
	int16_t error_code;
	int32_t throttle_time_ms;
	int32_t n_topics;
	struct proto_offset_commit_resp_topic *topics;
};

int proto_offset_delete_req_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_offset_delete_req *req);
int proto_offset_delete_req_decode(struct kbuf_r *r, int16_t version,
				   struct proto_offset_delete_req *req);
void proto_offset_delete_req_free(struct proto_offset_delete_req *req);
int proto_offset_delete_resp_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_offset_delete_resp *resp);
int proto_offset_delete_resp_decode(struct kbuf_r *r, int16_t version,
				    struct proto_offset_delete_resp *resp);
void proto_offset_delete_resp_free(struct proto_offset_delete_resp *resp);

/* ---- ListGroups (16), proto_group_list.c ---- */

struct proto_list_groups_req {
	int32_t n_states_filter; /* v4+ */
	struct kstr *states_filter;
	int32_t n_types_filter; /* v5+ */
	struct kstr *types_filter;
};

struct proto_listed_group {
	struct kstr group_id;
	struct kstr protocol_type;
	struct kstr group_state; /* v4+ */
	struct kstr group_type;  /* v5+ */
};

struct proto_list_groups_resp {
	int32_t throttle_time_ms; /* v1+ */
	int16_t error_code;
	int32_t n_groups;
	struct proto_listed_group *groups;
};

int proto_list_groups_req_encode(struct kbuf_w *w, int16_t version,
				 const struct proto_list_groups_req *req);
int proto_list_groups_req_decode(struct kbuf_r *r, int16_t version,
				 struct proto_list_groups_req *req);
void proto_list_groups_req_free(struct proto_list_groups_req *req);
int proto_list_groups_resp_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_list_groups_resp *resp);
int proto_list_groups_resp_decode(struct kbuf_r *r, int16_t version,
				  struct proto_list_groups_resp *resp);
void proto_list_groups_resp_free(struct proto_list_groups_resp *resp);

/* ---- DeleteRecords (proto_records.c) ---- */

#define PROTO_DELETE_RECORDS_HW (-1) /* offset: the high watermark */

struct proto_delete_records_part {
	int32_t partition_index;
	int64_t offset; /* or PROTO_DELETE_RECORDS_HW */
};
struct proto_delete_records_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_delete_records_part *partitions;
};
struct proto_delete_records_req {
	int32_t n_topics;
	struct proto_delete_records_topic *topics;
	int32_t timeout_ms;
};
struct proto_delete_records_resp_part {
	int32_t partition_index;
	int64_t low_watermark; /* -1 with an error */
	int16_t error_code;
};
struct proto_delete_records_resp_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_delete_records_resp_part *partitions;
};
struct proto_delete_records_resp {
	int32_t throttle_time_ms;
	int32_t n_topics;
	struct proto_delete_records_resp_topic *topics;
};

int proto_delete_records_req_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_delete_records_req *req);
int proto_delete_records_req_decode(struct kbuf_r *r, int16_t version,
				    struct proto_delete_records_req *req);
void proto_delete_records_req_free(struct proto_delete_records_req *req);
int proto_delete_records_resp_encode(struct kbuf_w *w, int16_t version,
				     const struct proto_delete_records_resp *resp);
int proto_delete_records_resp_decode(struct kbuf_r *r, int16_t version,
				     struct proto_delete_records_resp *resp);
void proto_delete_records_resp_free(struct proto_delete_records_resp *resp);

/* ---- AlterPartitionReassignments (45), ListPartitionReassignments (46):
 * proto_reassign.c ---- */

/* One partition: the request's target (n_replicas -1: null, cancel),
 * the Alter response's error, the List response's assignment. */
struct proto_reassign_partition {
	int32_t partition_index;
	int32_t n_replicas; /* Alter request: -1 null */
	int32_t *replicas;
	int16_t error_code;        /* Alter response */
	struct kstr error_message; /* Alter response, nullable */
	int32_t n_adding;          /* List response */
	int32_t *adding;
	int32_t n_removing; /* List response */
	int32_t *removing;
};

struct proto_reassign_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_reassign_partition *partitions;
};

/* Alter: timeout_ms, topics with each partition's target replicas.
 * List: timeout_ms, topics (n_topics -1: null, every partition) with
 * partition indexes only. */
struct proto_reassign_req {
	int32_t timeout_ms;
	int32_t n_topics;
	struct proto_reassign_topic *topics;
};

/* Both responses: the top-level error, then the topics (Alter: each
 * partition's error; List: each moving partition's replicas, adding and
 * removing). */
struct proto_reassign_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message; /* nullable */
	int32_t n_topics;
	struct proto_reassign_topic *topics;
};

/* api: PROTO_API_ALTER_PARTITION_REASSIGNMENTS or
 * PROTO_API_LIST_PARTITION_REASSIGNMENTS. */
int proto_reassign_req_encode(struct kbuf_w *w, int16_t api, int16_t version,
			      const struct proto_reassign_req *req);
int proto_reassign_req_decode(struct kbuf_r *r, int16_t api, int16_t version,
			      struct proto_reassign_req *req);
void proto_reassign_req_free(struct proto_reassign_req *req);
int proto_reassign_resp_encode(struct kbuf_w *w, int16_t api, int16_t version,
			       const struct proto_reassign_resp *resp);
int proto_reassign_resp_decode(struct kbuf_r *r, int16_t api, int16_t version,
			       struct proto_reassign_resp *resp);
void proto_reassign_resp_free(struct proto_reassign_resp *resp);

/* ---- any request (proto_hdr.c) ---- */

/* A whole request frame (without its size field), decoded: the header and
 * the body of whichever supported API it is. */
/* ---- ElectLeaders (43), proto_elect.c ---- */

enum proto_election_type {
	PROTO_ELECTION_PREFERRED = 0,
	PROTO_ELECTION_UNCLEAN = 1,
};

/* A topic's partitions, in the request (error_codes unused) and in the
 * response's replica_election_results. */
struct proto_elect_partition {
	int32_t partition_id;
	int16_t error_code;
	struct kstr error_message; /* null */
};

struct proto_elect_topic {
	struct kstr topic;
	int32_t n_partitions;
	struct proto_elect_partition *partitions;
};

struct proto_elect_req {
	int8_t election_type; /* v1+; v0 is PREFERRED */
	int32_t n_topics;     /* -1: null, every partition */
	struct proto_elect_topic *topics;
	int32_t timeout_ms;
};

struct proto_elect_resp {
	int32_t throttle_time_ms;
	int16_t error_code; /* v1+ */
	int32_t n_topics;
	struct proto_elect_topic *topics;
};

/* A topics array of that shape (nullable: the request's, -1 for null;
 * with_errors: the response's partitions with their errors), shared with
 * DescribeLogDirs' request. */
struct kmsg_dec;
void proto_elect_topics_decode(struct kmsg_dec *d, bool nullable, bool with_errors, int32_t *n,
			       struct proto_elect_topic **out);
void proto_elect_topics_encode(struct kbuf_w *w, bool flex, bool with_errors, int32_t n,
			       const struct proto_elect_topic *ts);
void proto_elect_topics_free(int32_t *n, struct proto_elect_topic **ts);

int proto_elect_req_encode(struct kbuf_w *w, int16_t version, const struct proto_elect_req *req);
int proto_elect_req_decode(struct kbuf_r *r, int16_t version, struct proto_elect_req *req);
void proto_elect_req_free(struct proto_elect_req *req);
int proto_elect_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_elect_resp *resp);
int proto_elect_resp_decode(struct kbuf_r *r, int16_t version, struct proto_elect_resp *resp);
void proto_elect_resp_free(struct proto_elect_resp *resp);

/* ---- DescribeProducers (61) v0, proto_producers.c ---- */

#define PROTO_MAX_PRODUCERS 100000 /* active producers of one partition */

struct proto_describe_producers_req {
	int32_t n_topics;
	struct proto_elect_topic *topics; /* name and partition ids only */
};

/* One active producer of a partition (Kafka's ProducerState). */
struct proto_producer_desc {
	int64_t producer_id;
	int32_t producer_epoch;
	int32_t last_sequence;            /* -1: none */
	int64_t last_timestamp;           /* -1: none */
	int32_t coordinator_epoch;        /* -1: no transaction */
	int64_t current_txn_start_offset; /* -1: no transaction open */
};

struct proto_producers_part {
	int32_t partition_index;
	int16_t error_code;
	struct kstr error_message; /* null */
	int32_t n_producers;
	struct proto_producer_desc *producers;
};

struct proto_producers_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_producers_part *partitions;
};

struct proto_describe_producers_resp {
	int32_t throttle_time_ms;
	int32_t n_topics;
	struct proto_producers_topic *topics;
};

int proto_describe_producers_req_encode(struct kbuf_w *w, int16_t version,
					const struct proto_describe_producers_req *req);
int proto_describe_producers_req_decode(struct kbuf_r *r, int16_t version,
					struct proto_describe_producers_req *req);
void proto_describe_producers_req_free(struct proto_describe_producers_req *req);
int proto_describe_producers_resp_encode(struct kbuf_w *w, int16_t version,
					 const struct proto_describe_producers_resp *resp);
int proto_describe_producers_resp_decode(struct kbuf_r *r, int16_t version,
					 struct proto_describe_producers_resp *resp);
void proto_describe_producers_resp_free(struct proto_describe_producers_resp *resp);

/* ---- DescribeCluster (60), proto_cluster.c ---- */

enum proto_endpoint_type {
	PROTO_ENDPOINT_BROKER = 1,
	PROTO_ENDPOINT_CONTROLLER = 2,
};

struct proto_describe_cluster_req {
	bool include_cluster_authorized_operations;
	int8_t endpoint_type; /* v1+; v0 is BROKER */
};

struct proto_describe_cluster_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message; /* null */
	int8_t endpoint_type;      /* v1+ */
	struct kstr cluster_id;
	int32_t controller_id; /* -1: none */
	int32_t n_brokers;
	struct proto_meta_broker *brokers;     /* node_id is Kafka's broker_id */
	int32_t cluster_authorized_operations; /* INT32_MIN: not asked */
};

int proto_describe_cluster_req_encode(struct kbuf_w *w, int16_t version,
				      const struct proto_describe_cluster_req *req);
int proto_describe_cluster_req_decode(struct kbuf_r *r, int16_t version,
				      struct proto_describe_cluster_req *req);
int proto_describe_cluster_resp_encode(struct kbuf_w *w, int16_t version,
				       const struct proto_describe_cluster_resp *resp);
int proto_describe_cluster_resp_decode(struct kbuf_r *r, int16_t version,
				       struct proto_describe_cluster_resp *resp);
void proto_describe_cluster_resp_free(struct proto_describe_cluster_resp *resp);

/* ---- DescribeAcls (29), CreateAcls (30), DeleteAcls (31), proto_acls.c ---- */

#define PROTO_ACL_PATTERN_LITERAL 3

/* An ACL binding (CreateAcls) or binding filter (DescribeAcls, DeleteAcls:
 * its strings may be null). */
struct proto_acl {
	int8_t resource_type;
	struct kstr resource_name;
	int8_t pattern_type; /* v1+; v0 LITERAL */
	struct kstr principal;
	struct kstr host;
	int8_t operation;
	int8_t permission_type;
};

struct proto_describe_acls_req {
	struct proto_acl filter;
};

/* The bindings found, n_acls of them, grouped: consecutive entries of
 * the same resource (type, name, pattern) are written as one resource. */
struct proto_describe_acls_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message;
	int32_t n_acls;
	struct proto_acl *acls;
};

struct proto_create_acls_req {
	int32_t n_creations;
	struct proto_acl *creations;
};

struct proto_delete_acls_req {
	int32_t n_filters;
	struct proto_acl *filters;
};

/* One CreateAcls result or DeleteAcls filter result; a DeleteAcls
 * result names the bindings it deleted (each answered with no error). */
struct proto_acls_result {
	int16_t error_code;
	struct kstr error_message;
	int32_t n_matching;
	struct proto_acl *matching;
};
struct proto_acls_result_resp {
	int32_t throttle_time_ms;
	int32_t n_results;
	struct proto_acls_result *results;
};

int proto_describe_acls_req_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_describe_acls_req *req);
int proto_describe_acls_req_decode(struct kbuf_r *r, int16_t version,
				   struct proto_describe_acls_req *req);
int proto_describe_acls_resp_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_describe_acls_resp *resp);
int proto_describe_acls_resp_decode(struct kbuf_r *r, int16_t version,
				    struct proto_describe_acls_resp *resp);
void proto_describe_acls_resp_free(struct proto_describe_acls_resp *resp);
int proto_create_acls_req_encode(struct kbuf_w *w, int16_t version,
				 const struct proto_create_acls_req *req);
int proto_create_acls_req_decode(struct kbuf_r *r, int16_t version,
				 struct proto_create_acls_req *req);
void proto_create_acls_req_free(struct proto_create_acls_req *req);
int proto_create_acls_resp_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_acls_result_resp *resp);
int proto_create_acls_resp_decode(struct kbuf_r *r, int16_t version,
				  struct proto_acls_result_resp *resp);
void proto_create_acls_resp_free(struct proto_acls_result_resp *resp);
int proto_delete_acls_req_encode(struct kbuf_w *w, int16_t version,
				 const struct proto_delete_acls_req *req);
int proto_delete_acls_req_decode(struct kbuf_r *r, int16_t version,
				 struct proto_delete_acls_req *req);
void proto_delete_acls_req_free(struct proto_delete_acls_req *req);
int proto_delete_acls_resp_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_acls_result_resp *resp);
int proto_delete_acls_resp_decode(struct kbuf_r *r, int16_t version,
				  struct proto_acls_result_resp *resp);
void proto_delete_acls_resp_free(struct proto_acls_result_resp *resp);

/* ---- DescribeUserScramCredentials (50), AlterUserScramCredentials (51),
 * proto_scram.c ---- */

enum proto_scram_mechanism {
	PROTO_SCRAM_UNKNOWN = 0,
	PROTO_SCRAM_SHA_256 = 1,
	PROTO_SCRAM_SHA_512 = 2,
};

struct proto_describe_scram_req {
	int32_t n_users; /* -1: null; null or 0: every user */
	struct kstr *users;
};

struct proto_scram_user_result {
	struct kstr user;
	int16_t error_code;
	struct kstr error_message; /* null */
	int32_t n_infos;
	struct {
		int8_t mechanism;
		int32_t iterations;
	} infos[2];
};

struct proto_describe_scram_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message;
	int32_t n_results;
	struct proto_scram_user_result *results;
};

struct proto_scram_deletion {
	struct kstr name;
	int8_t mechanism;
};

struct proto_scram_upsertion {
	struct kstr name;
	int8_t mechanism;
	int32_t iterations;
	struct kstr salt;
	struct kstr salted_password;
};

struct proto_alter_scram_req {
	int32_t n_deletions;
	struct proto_scram_deletion *deletions;
	int32_t n_upsertions;
	struct proto_scram_upsertion *upsertions;
};

struct proto_alter_scram_result {
	struct kstr user;
	int16_t error_code;
	struct kstr error_message; /* null */
};

struct proto_alter_scram_resp {
	int32_t throttle_time_ms;
	int32_t n_results;
	struct proto_alter_scram_result *results;
};

int proto_describe_scram_req_encode(struct kbuf_w *w, int16_t version,
				    const struct proto_describe_scram_req *req);
int proto_describe_scram_req_decode(struct kbuf_r *r, int16_t version,
				    struct proto_describe_scram_req *req);
void proto_describe_scram_req_free(struct proto_describe_scram_req *req);
int proto_describe_scram_resp_encode(struct kbuf_w *w, int16_t version,
				     const struct proto_describe_scram_resp *resp);
int proto_describe_scram_resp_decode(struct kbuf_r *r, int16_t version,
				     struct proto_describe_scram_resp *resp);
void proto_describe_scram_resp_free(struct proto_describe_scram_resp *resp);
int proto_alter_scram_req_encode(struct kbuf_w *w, int16_t version,
				 const struct proto_alter_scram_req *req);
int proto_alter_scram_req_decode(struct kbuf_r *r, int16_t version,
				 struct proto_alter_scram_req *req);
void proto_alter_scram_req_free(struct proto_alter_scram_req *req);
int proto_alter_scram_resp_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_alter_scram_resp *resp);
int proto_alter_scram_resp_decode(struct kbuf_r *r, int16_t version,
				  struct proto_alter_scram_resp *resp);
void proto_alter_scram_resp_free(struct proto_alter_scram_resp *resp);

/* ---- DescribeLogDirs (35), proto_cluster.c ---- */

struct proto_describe_log_dirs_req {
	int32_t n_topics;                 /* -1: null, every partition */
	struct proto_elect_topic *topics; /* partition ids only */
};

struct proto_log_dir_partition {
	int32_t partition_index;
	int64_t partition_size;
	int64_t offset_lag;
	bool is_future_key;
};

struct proto_log_dir_topic {
	struct kstr name;
	int32_t n_partitions;
	struct proto_log_dir_partition *partitions;
};

struct proto_log_dir_result {
	int16_t error_code;
	struct kstr log_dir;
	int32_t n_topics;
	struct proto_log_dir_topic *topics;
	int64_t total_bytes;  /* v4+, -1 unknown */
	int64_t usable_bytes; /* v4+, -1 unknown */
};

struct proto_describe_log_dirs_resp {
	int32_t throttle_time_ms;
	int16_t error_code; /* v3+ */
	int32_t n_results;
	struct proto_log_dir_result *results;
};

int proto_describe_log_dirs_req_encode(struct kbuf_w *w, int16_t version,
				       const struct proto_describe_log_dirs_req *req);
int proto_describe_log_dirs_req_decode(struct kbuf_r *r, int16_t version,
				       struct proto_describe_log_dirs_req *req);
void proto_describe_log_dirs_req_free(struct proto_describe_log_dirs_req *req);
int proto_describe_log_dirs_resp_encode(struct kbuf_w *w, int16_t version,
					const struct proto_describe_log_dirs_resp *resp);
int proto_describe_log_dirs_resp_decode(struct kbuf_r *r, int16_t version,
					struct proto_describe_log_dirs_resp *resp);
void proto_describe_log_dirs_resp_free(struct proto_describe_log_dirs_resp *resp);

/* ---- DescribeClientQuotas (48), AlterClientQuotas (49): proto_quotas.c ---- */

#define PROTO_QUOTA_MAX_COMPONENTS 8  /* entity parts or filter components in one entry */
#define PROTO_QUOTA_MAX_VALUES     64 /* ops or values of one entity */

enum proto_quota_match {
	PROTO_QUOTA_MATCH_EXACT = 0,   /* match names the entity */
	PROTO_QUOTA_MATCH_DEFAULT = 1, /* the default entity (match null) */
	PROTO_QUOTA_MATCH_ANY = 2,     /* any entity but the default */
};

/* One component of a quota entity: ("user", "alice"), ("client-id",
 * null: the default). */
struct proto_quota_part {
	struct kstr entity_type;
	struct kstr entity_name; /* null: the default entity */
};

struct proto_quota_component {
	struct kstr entity_type;
	int8_t match_type;
	struct kstr match; /* null unless exact */
};

struct proto_describe_quotas_req {
	int32_t n_components;
	struct proto_quota_component components[PROTO_QUOTA_MAX_COMPONENTS];
	bool strict;
};

struct proto_quota_value {
	struct kstr key;
	double value;
};

struct proto_quota_entry {
	int32_t n_parts;
	struct proto_quota_part parts[PROTO_QUOTA_MAX_COMPONENTS];
	int32_t n_values;
	struct proto_quota_value *values;
};

struct proto_describe_quotas_resp {
	int32_t throttle_time_ms;
	int16_t error_code;
	struct kstr error_message;
	int32_t n_entries; /* -1: null (sent with an error) */
	struct proto_quota_entry *entries;
};

struct proto_quota_op {
	struct kstr key;
	double value;
	bool remove;
};

struct proto_alter_quotas_entry {
	int32_t n_parts;
	struct proto_quota_part parts[PROTO_QUOTA_MAX_COMPONENTS];
	int32_t n_ops;
	struct proto_quota_op *ops;
};

struct proto_alter_quotas_req {
	int32_t n_entries;
	struct proto_alter_quotas_entry *entries;
	bool validate_only;
};

struct proto_alter_quotas_result {
	int16_t error_code;
	struct kstr error_message; /* null */
	int32_t n_parts;
	struct proto_quota_part parts[PROTO_QUOTA_MAX_COMPONENTS];
};

struct proto_alter_quotas_resp {
	int32_t throttle_time_ms;
	int32_t n_results;
	struct proto_alter_quotas_result *results;
};

int proto_describe_quotas_req_encode(struct kbuf_w *w, int16_t version,
				     const struct proto_describe_quotas_req *req);
int proto_describe_quotas_req_decode(struct kbuf_r *r, int16_t version,
				     struct proto_describe_quotas_req *req);
int proto_describe_quotas_resp_encode(struct kbuf_w *w, int16_t version,
				      const struct proto_describe_quotas_resp *resp);
int proto_describe_quotas_resp_decode(struct kbuf_r *r, int16_t version,
				      struct proto_describe_quotas_resp *resp);
void proto_describe_quotas_resp_free(struct proto_describe_quotas_resp *resp);
int proto_alter_quotas_req_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_alter_quotas_req *req);
int proto_alter_quotas_req_decode(struct kbuf_r *r, int16_t version,
				  struct proto_alter_quotas_req *req);
void proto_alter_quotas_req_free(struct proto_alter_quotas_req *req);
int proto_alter_quotas_resp_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_alter_quotas_resp *resp);
int proto_alter_quotas_resp_decode(struct kbuf_r *r, int16_t version,
				   struct proto_alter_quotas_resp *resp);
void proto_alter_quotas_resp_free(struct proto_alter_quotas_resp *resp);

/* ---- Delegation tokens (KIP-48), proto_dtoken.c: CreateDelegationToken
 * (38) v0-3, RenewDelegationToken (39) v0-2, ExpireDelegationToken (40)
 * v0-2, DescribeDelegationToken (41) v0-3; flexible from v2. ---- */

#define PROTO_MAX_PRINCIPALS 10000  /* renewers or owners of one message */
#define PROTO_MAX_TOKENS     100000 /* tokens of a Describe answer */

struct proto_principal {
	struct kstr type; /* "User" */
	struct kstr name;
};

struct proto_create_token_req {
	struct kstr owner_type; /* v3+, nullable; KSTR_NULL before */
	struct kstr owner_name; /* v3+, nullable: null or "" is the requester */
	int32_t n_renewers;
	struct proto_principal *renewers;
	int64_t max_lifetime_ms; /* -1 (or <= 0): the broker's maximum */
};

struct proto_create_token_resp {
	int16_t error_code;
	struct proto_principal owner;
	struct proto_principal requester; /* v3+ */
	int64_t issue_timestamp_ms;
	int64_t expiry_timestamp_ms;
	int64_t max_timestamp_ms;
	struct kstr token_id;
	struct kstr hmac; /* BYTES */
	int32_t throttle_time_ms;
};

/* Renew (hmac, renew_period_ms) and Expire (hmac, expiry_time_period_ms)
 * have the same shape. */
struct proto_renew_token_req {
	struct kstr hmac;
	int64_t period_ms;
};

struct proto_renew_token_resp {
	int16_t error_code;
	int64_t expiry_timestamp_ms;
	int32_t throttle_time_ms;
};

struct proto_describe_tokens_req {
	int32_t n_owners; /* -1: null, every token */
	struct proto_principal *owners;
};

struct proto_token_desc {
	struct proto_principal owner;
	struct proto_principal requester; /* v3+ */
	int64_t issue_timestamp;
	int64_t expiry_timestamp;
	int64_t max_timestamp;
	struct kstr token_id;
	struct kstr hmac;
	int32_t n_renewers;
	struct proto_principal *renewers;
};

struct proto_describe_tokens_resp {
	int16_t error_code;
	int32_t n_tokens;
	struct proto_token_desc *tokens;
	int32_t throttle_time_ms;
};

int proto_create_token_req_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_create_token_req *req);
int proto_create_token_req_decode(struct kbuf_r *r, int16_t version,
				  struct proto_create_token_req *req);
void proto_create_token_req_free(struct proto_create_token_req *req);
int proto_create_token_resp_encode(struct kbuf_w *w, int16_t version,
				   const struct proto_create_token_resp *resp);
int proto_create_token_resp_decode(struct kbuf_r *r, int16_t version,
				   struct proto_create_token_resp *resp);
/* api_key: PROTO_API_RENEW_DELEGATION_TOKEN or _EXPIRE_. */
int proto_renew_token_req_encode(struct kbuf_w *w, int16_t api_key, int16_t version,
				 const struct proto_renew_token_req *req);
int proto_renew_token_req_decode(struct kbuf_r *r, int16_t api_key, int16_t version,
				 struct proto_renew_token_req *req);
int proto_renew_token_resp_encode(struct kbuf_w *w, int16_t api_key, int16_t version,
				  const struct proto_renew_token_resp *resp);
int proto_renew_token_resp_decode(struct kbuf_r *r, int16_t api_key, int16_t version,
				  struct proto_renew_token_resp *resp);
int proto_describe_tokens_req_encode(struct kbuf_w *w, int16_t version,
				     const struct proto_describe_tokens_req *req);
int proto_describe_tokens_req_decode(struct kbuf_r *r, int16_t version,
				     struct proto_describe_tokens_req *req);
void proto_describe_tokens_req_free(struct proto_describe_tokens_req *req);
int proto_describe_tokens_resp_encode(struct kbuf_w *w, int16_t version,
				      const struct proto_describe_tokens_resp *resp);
int proto_describe_tokens_resp_decode(struct kbuf_r *r, int16_t version,
				      struct proto_describe_tokens_resp *resp);
void proto_describe_tokens_resp_free(struct proto_describe_tokens_resp *resp);

struct proto_req {
	struct proto_req_hdr hdr;
	union {
		struct proto_api_versions_req api_versions;
		struct proto_fetch_req fetch;
		struct proto_ofle_req ofle;
		struct proto_sasl_handshake_req sasl_handshake;
		struct proto_sasl_auth_req sasl_auth;
		struct proto_produce_req produce;
		struct proto_meta_req meta;
		struct proto_lisr_req lisr;
		struct proto_stop_req stop;
		struct proto_um_req um;
		struct proto_cs_req cs;
		struct proto_init_pid_req init_pid;
		struct proto_list_offsets_req list_offsets;
		struct proto_delete_records_req delete_records;
		struct proto_offset_commit_req offset_commit;
		struct proto_offset_fetch_req offset_fetch;
		struct proto_find_coord_req find_coord;
		struct proto_join_req join;
		struct proto_sync_req sync;
		struct proto_heartbeat_req heartbeat;
		struct proto_leave_req leave;
		struct proto_describe_groups_req describe_groups;
		struct proto_delete_groups_req delete_groups;
		struct proto_offset_delete_req offset_delete;
		struct proto_list_groups_req list_groups;
		struct proto_create_topics_req create_topics;
		struct proto_delete_topics_req delete_topics;
		struct proto_create_parts_req create_parts;
		struct proto_describe_configs_req describe_configs;
		struct proto_alter_configs_req alter_configs; /* and incremental */
		struct proto_elect_req elect;
		struct proto_reassign_req reassign; /* Alter and List */
		struct proto_describe_cluster_req describe_cluster;
		struct proto_describe_log_dirs_req describe_log_dirs;
		struct proto_describe_producers_req describe_producers;
		struct proto_describe_scram_req describe_scram;
		struct proto_alter_scram_req alter_scram;
		struct proto_describe_quotas_req describe_quotas;
		struct proto_alter_quotas_req alter_quotas;
		struct proto_describe_acls_req describe_acls;
		struct proto_create_acls_req create_acls;
		struct proto_delete_acls_req delete_acls;
		struct proto_create_token_req create_token;
		struct proto_renew_token_req renew_token; /* and expire */
		struct proto_describe_tokens_req describe_tokens;
	} u;
};

/* 0; -EBADMSG malformed; -EOPNOTSUPP unknown API or version (hdr filled
 * as proto_req_hdr_decode says). Strings point into frame. */
int proto_req_decode(const uint8_t *frame, size_t len, struct proto_req *req);
void proto_req_free(struct proto_req *req);

#endif
