/*
 * proto.h — Kafka's wire protocol, the part the broker listener speaks:
 * frames, request/response headers, ApiVersions, Fetch,
 * OffsetForLeaderEpoch, SaslHandshake, SaslAuthenticate, and Kafka's error
 * codes. Private to repl/ (the listener, the fetcher and their tests).
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
 *   Metadata (3)               0-12, 9       clients
 *   LeaderAndIsr (4)           0-7,  4       controller -> brokers
 *   StopReplica (5)            0-4,  2       controller -> brokers
 *   UpdateMetadata (6)         0-8,  6       controller -> brokers
 *   ControlledShutdown (7)     0-3,  3       broker -> controller
 *   OffsetForLeaderEpoch (23)  0-4,  4       follower truncation
 *   SaslHandshake (17)         0-1,  none
 *   ApiVersions (18)           0-3,  3
 *   SaslAuthenticate (36)      0-2,  2
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

#define PROTO_MAX_TOPICS      1000
#define PROTO_MAX_PARTITIONS  10000
/* Brokers in one message (live brokers, live leaders, Metadata's broker
 * list), and broker ids in one replica list (replicas, isr, ...). */
#define PROTO_MAX_BROKERS     1000
/* Endpoints (listeners) of one broker in UpdateMetadata. */
#define PROTO_MAX_ENDPOINTS   16
/* Largest frame the decoders accept by default (Kafka's
 * socket.request.max.bytes is 100 MiB; ours is for replication fetches
 * and SASL, far smaller). The listener may pass its own. */
#define PROTO_MAX_FRAME       (64 << 20)

enum proto_api_key {
	PROTO_API_PRODUCE = 0,
	PROTO_API_FETCH = 1,
	PROTO_API_METADATA = 3,
	PROTO_API_LEADER_AND_ISR = 4,
	PROTO_API_STOP_REPLICA = 5,
	PROTO_API_UPDATE_METADATA = 6,
	PROTO_API_CONTROLLED_SHUTDOWN = 7,
	PROTO_API_SASL_HANDSHAKE = 17,
	PROTO_API_API_VERSIONS = 18,
	PROTO_API_OFFSET_FOR_LEADER_EPOCH = 23,
	PROTO_API_SASL_AUTHENTICATE = 36,
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
};

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
 *   -EIO, -ENOSPC, -EROFS KAFKA_STORAGE_ERROR; -EINVAL INVALID_REQUEST;
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
	int16_t flexible_from;  /* first flexible version; INT16_MAX: none */
	const char *name;       /* Kafka's name, "Fetch" */
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
	struct kstr client_id;  /* null allowed */
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
	struct kstr client_software_name;     /* v3+ */
	struct kstr client_software_version;  /* v3+ */
};

struct proto_api_versions_resp {
	int16_t error_code;
	int32_t n_api_keys;
	struct proto_api *api_keys;  /* name NULL; owned (decode) */
	int32_t throttle_time_ms;    /* v1+ */
};

/* -EOPNOTSUPP when version is above ours (answer with
 * proto_api_versions_resp_encode(w, 0, UNSUPPORTED_VERSION, 0)). */
int proto_api_versions_req_decode(struct kbuf_r *r, int16_t version,
				  struct proto_api_versions_req *req);
int proto_api_versions_req_encode(struct kbuf_w *w, int16_t version,
				  const struct proto_api_versions_req *req);
/* Our answer: error_code and the table of supported APIs. */
int proto_api_versions_resp_encode(struct kbuf_w *w, int16_t version,
				   int16_t error_code, int32_t throttle_time_ms);
/* The same listing only the APIs for which served(arg, api_key) is true:
 * a listener advertises what it answers, not everything the codec knows,
 * or a client would send requests it then sees refused. */
int proto_api_versions_resp_encode_served(struct kbuf_w *w, int16_t version,
					  int16_t error_code, int32_t throttle_time_ms,
					  bool (*served)(void *arg, int16_t api_key), void *arg);
int proto_api_versions_resp_decode(struct kbuf_r *r, int16_t version,
				   struct proto_api_versions_resp *resp);
void proto_api_versions_resp_free(struct proto_api_versions_resp *resp);

/* ---- Fetch (1), proto_fetch.c ---- */

struct proto_fetch_part {
	int32_t partition;
	int32_t current_leader_epoch;  /* v9+, -1 */
	int64_t fetch_offset;
	int32_t last_fetched_epoch;    /* v12+, -1 */
	int64_t log_start_offset;      /* v5+, -1 */
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
	struct kstr cluster_id;        /* v12+ tag 0, null */
	int32_t replica_id;            /* -1 for a consumer */
	int32_t max_wait_ms;
	int32_t min_bytes;
	int32_t max_bytes;             /* v3+ */
	int8_t isolation_level;        /* v4+: 0 read_uncommitted, 1 read_committed */
	int32_t session_id;            /* v7+, 0 */
	int32_t session_epoch;         /* v7+, -1 */
	int32_t n_topics;
	struct proto_fetch_topic *topics;
	int32_t n_forgotten;           /* v7+ */
	struct proto_forgotten_topic *forgotten;
	struct kstr rack_id;           /* v11+, "" */
};

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
	int64_t last_stable_offset;      /* v4+, -1 */
	int64_t log_start_offset;        /* v5+, -1 */
	bool has_diverging_epoch;        /* v12+ tag 0 */
	int32_t diverging_epoch;
	int64_t diverging_end_offset;
	bool has_current_leader;         /* v12+ tag 1 */
	int32_t current_leader_id;
	int32_t current_leader_epoch;
	/* v4+: -1 null, else the count (we write null or empty: mqfs has no
	 * transactions; decoding allocates them, owned). */
	int32_t n_aborted;
	struct proto_aborted *aborted;
	int32_t preferred_read_replica;  /* v11+, -1 */
	/* Records: records_len -1 null. On encode, from the file range
	 * (records_fd, records_offset, records_len) when records_fd >= 0,
	 * else from records (memory); on decode, records points into the frame. */
	int32_t records_len;
	const uint8_t *records;
	int records_fd;
	off_t records_offset;
};

struct proto_fetch_resp_topic {
	struct kstr topic;
	int32_t n_partitions;
	struct proto_fetch_resp_part *partitions;
};

struct proto_fetch_resp {
	int32_t throttle_time_ms;  /* v1+ */
	int16_t error_code;        /* v7+ */
	int32_t session_id;        /* v7+ */
	int32_t n_topics;
	struct proto_fetch_resp_topic *topics;
};


enum proto_piece_kind { PROTO_PIECE_MEM, PROTO_PIECE_FILE };

struct proto_piece {
	enum proto_piece_kind kind;
	int fd;          /* FILE */
	off_t offset;    /* MEM: into out.w.buf; FILE: into the file */
	size_t len;
};

struct proto_out {
	struct kbuf_w w;           /* the bytes of every MEM piece */
	struct proto_piece *pieces;
	size_t n_pieces;
	size_t cap_pieces;
	size_t mem_done;           /* w.len covered by pieces so far */
	size_t total;              /* bytes of the whole response, size field included */
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
	int32_t current_leader_epoch;  /* v2+, -1 */
	int32_t leader_epoch;
};

struct proto_ofle_topic {
	struct kstr topic;
	int32_t n_partitions;
	struct proto_ofle_part *partitions;
};

struct proto_ofle_req {
	int32_t replica_id;            /* v3+, -2 (a consumer's debug request) */
	int32_t n_topics;
	struct proto_ofle_topic *topics;
};

struct proto_ofle_resp_part {
	int16_t error_code;
	int32_t partition;
	int32_t leader_epoch;          /* v1+, -1 */
	int64_t end_offset;
};

struct proto_ofle_resp_topic {
	struct kstr topic;
	int32_t n_partitions;
	struct proto_ofle_resp_part *partitions;
};

struct proto_ofle_resp {
	int32_t throttle_time_ms;      /* v2+ */
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
	struct kstr error_message;     /* null allowed */
	struct kstr auth_bytes;
	int64_t session_lifetime_ms;   /* v1+, 0 */
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
	int32_t n_adding_replicas;     /* v3+ */
	int32_t *adding_replicas;
	int32_t n_removing_replicas;   /* v3+ */
	int32_t *removing_replicas;
	bool is_new;                   /* v1+ */
	int8_t leader_recovery_state;  /* v6+: 1 after an unclean election */
	/* UpdateMetadata only. */
	int32_t n_offline_replicas;    /* v4+ */
	int32_t *offline_replicas;
};

struct proto_topic_state {
	struct kstr topic_name;
	uint8_t topic_id[16];          /* LeaderAndIsr v5+, UpdateMetadata v7+ */
	int32_t n_partitions;
	struct proto_part_state *partition_states;
};

struct proto_live_leader {
	int32_t broker_id;
	struct kstr host_name;
	int32_t port;
};

enum proto_lisr_type {
	PROTO_LISR_INCREMENTAL = 0,  /* only the partitions that changed */
	PROTO_LISR_FULL = 1,         /* every partition this broker hosts */
};

struct proto_lisr_req {
	int32_t controller_id;
	bool is_kraft_controller;      /* v7+ */
	int32_t controller_epoch;
	int64_t broker_epoch;          /* v2+, -1 */
	int8_t type;                   /* v5+, enum proto_lisr_type */
	int32_t n_topics;
	struct proto_topic_state *topic_states;
	int32_t n_live_leaders;
	struct proto_live_leader *live_leaders;
	struct proto_part_state *ungrouped;  /* decode of v0-1: owns the states */
};

struct proto_lisr_part_error {
	struct kstr topic_name;        /* v0-4 */
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
	struct kstr listener;          /* v3+, "" before */
	int16_t security_protocol;     /* 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL */
};

/* v0 has exactly one endpoint (v0_host, v0_port), decoded as an endpoint
 * with listener "" and PLAINTEXT; encoding v0 needs exactly one. */
struct proto_um_broker {
	int32_t id;
	int32_t n_endpoints;
	struct proto_um_endpoint *endpoints;
	struct kstr rack;              /* v2+, null */
};

struct proto_um_req {
	int32_t controller_id;
	bool is_kraft_controller;      /* v8+ */
	int8_t type;                   /* v8+ tag 0, enum proto_lisr_type */
	int32_t controller_epoch;
	int64_t broker_epoch;          /* v5+, -1 */
	int32_t n_topics;
	struct proto_topic_state *topic_states;
	int32_t n_live_brokers;
	struct proto_um_broker *live_brokers;
	struct proto_part_state *ungrouped;  /* decode of v0-4 */
};

struct proto_um_resp {
	int16_t error_code;
};

struct proto_stop_part {
	int32_t partition_index;
	int32_t leader_epoch;          /* v3+; -1 before, or to skip the check */
	bool delete_partition;         /* v3+; before, the request's flag */
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
	bool is_kraft_controller;      /* v4+ */
	int32_t controller_epoch;
	int64_t broker_epoch;          /* v1+, -1 */
	bool delete_partitions;        /* v0-2 */
	int32_t n_topics;
	struct proto_stop_topic *topics;
	struct proto_stop_part *ungrouped;  /* decode of v0 */
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
	int64_t broker_epoch;          /* v2+, -1 */
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
	struct kstr transactional_id;  /* null */
	int16_t acks;                  /* -1 all, 0 none, 1 leader: not checked here */
	int32_t timeout_ms;
	int32_t n_topics;
	struct proto_produce_topic *topic_data;
};

struct proto_record_error {
	int32_t batch_index;
	struct kstr batch_index_error_message;  /* null */
};

struct proto_produce_resp_part {
	int32_t index;
	int16_t error_code;
	int64_t base_offset;
	int64_t log_append_time_ms;    /* -1 unless LogAppendTime */
	int64_t log_start_offset;      /* v5+, -1 */
	int32_t n_record_errors;       /* v8+ */
	struct proto_record_error *record_errors;
	struct kstr error_message;     /* v8+, null */
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
int proto_produce_req_decode(struct kbuf_r *r, int16_t version, struct proto_produce_req *req);
void proto_produce_req_free(struct proto_produce_req *req);
int proto_produce_resp_encode(struct kbuf_w *w, int16_t version,
			      const struct proto_produce_resp *resp);
int proto_produce_resp_decode(struct kbuf_r *r, int16_t version, struct proto_produce_resp *resp);
void proto_produce_resp_free(struct proto_produce_resp *resp);

/* ---- Metadata (3), proto_meta.c ---- */

struct proto_meta_req_topic {
	uint8_t topic_id[16];          /* v10+, zero */
	struct kstr name;              /* null allowed v10+ (asked by id) */
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
	struct kstr rack;              /* v1+, null */
};

struct proto_meta_part {
	int16_t error_code;
	int32_t partition_index;
	int32_t leader_id;
	int32_t leader_epoch;          /* v7+, -1 */
	int32_t n_replica_nodes;
	int32_t *replica_nodes;
	int32_t n_isr_nodes;
	int32_t *isr_nodes;
	int32_t n_offline_replicas;    /* v5+ */
	int32_t *offline_replicas;
};

struct proto_meta_topic {
	int16_t error_code;
	struct kstr name;              /* null allowed v12+ */
	uint8_t topic_id[16];          /* v10+ */
	bool is_internal;              /* v1+ */
	int32_t n_partitions;
	struct proto_meta_part *partitions;
	int32_t topic_authorized_operations;  /* v8+, INT32_MIN: not asked */
};

struct proto_meta_resp {
	int32_t throttle_time_ms;      /* v3+ */
	int32_t n_brokers;
	struct proto_meta_broker *brokers;
	struct kstr cluster_id;        /* v2+, null */
	int32_t controller_id;         /* v1+, -1 */
	int32_t n_topics;
	struct proto_meta_topic *topics;
	int32_t cluster_authorized_operations;  /* v8-10, INT32_MIN */
};

int proto_meta_req_decode(struct kbuf_r *r, int16_t version, struct proto_meta_req *req);
/* -EINVAL for n_topics 0 in v0 (it would mean every topic). */
int proto_meta_req_encode(struct kbuf_w *w, int16_t version, const struct proto_meta_req *req);
void proto_meta_req_free(struct proto_meta_req *req);
int proto_meta_resp_decode(struct kbuf_r *r, int16_t version, struct proto_meta_resp *resp);
int proto_meta_resp_encode(struct kbuf_w *w, int16_t version, const struct proto_meta_resp *resp);
void proto_meta_resp_free(struct proto_meta_resp *resp);

/* ---- any request (proto_hdr.c) ---- */

/* A whole request frame (without its size field), decoded: the header and
 * the body of whichever supported API it is. */
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
	} u;
};

/* 0; -EBADMSG malformed; -EOPNOTSUPP unknown API or version (hdr filled
 * as proto_req_hdr_decode says). Strings point into frame. */
int proto_req_decode(const uint8_t *frame, size_t len, struct proto_req *req);
void proto_req_free(struct proto_req *req);

#endif
