/*
 * zkdata.h — the znodes of a Kafka cluster coordinated by ZooKeeper (Kafka
 * before KRaft) and the JSON documents they hold, so that Kafka's own
 * ZooKeeper tools read what mqfs writes and the other way round. Private to
 * repl/ (and its unit tests).
 *
 * The layout (paths under the chroot of `zookeeper.connect`):
 *
 *   /brokers/ids/<id>          ephemeral, one per live broker (version 5):
 *       {"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},
 *        "endpoints":["PLAINTEXT://host:9092"],"jmx_port":-1,
 *        "features":{},"host":"host","timestamp":"1700000000000",
 *        "port":9092,"version":5}              ("rack":"r1" when set;
 *        "ineligible_partitions":{"t":[0]} after an unclean restart)
 *   /controller                ephemeral, the elected controller:
 *       {"version":1,"brokerid":1,"timestamp":"1700000000000"}
 *   /controller_epoch          persistent, a plain decimal integer ("3");
 *                              its znode version guards every write a
 *                              controller makes (a deposed controller's
 *                              writes fail their check of this version)
 *   /brokers/topics/<t>        persistent, replica assignment:
 *       {"version":3,"partitions":{"0":[1,2,3],"1":[2,3,1]},
 *        "adding_replicas":{},"removing_replicas":{},
 *        "topic_id":"<22 chars of url-safe base64, 16 bytes>"}
 *   /brokers/topics/<t>/partitions/<p>/state   persistent, leader and ISR:
 *       {"controller_epoch":1,"leader":1,"version":1,"leader_epoch":0,
 *        "isr":[1,2,3]}       ("leader_recovery_state":1 while RECOVERING)
 *   /config/topics/<t>         persistent, topic overrides:
 *       {"version":1,"config":{"retention.ms":"1000"}}
 *   /admin/delete_topics/<t>   persistent, no data: a deletion request
 *   /admin/reassign_partitions persistent, replicas to move (Kafka's
 *       kafka-reassign-partitions.sh writes it; the controller removes
 *       each partition once moved, the znode once empty):
 *       {"version":1,"partitions":[{"topic":"t","partition":0,
 *        "replicas":[2,3]}]}
 *   /admin/preferred_replica_election  persistent, partitions whose
 *       preferred replica should lead (Kafka's
 *       kafka-preferred-replica-election.sh --zookeeper writes it; the
 *       controller deletes it once it tried them, or when it does not
 *       decode): {"version":1,"partitions":[{"topic":"t","partition":0}]}
 *   /isr_change_notification/isr_change_<10-digit seq>  persistent sequential:
 *       {"version":1,"partitions":[{"topic":"t","partition":0}]}
 *   /log_dir_event_notification/log_dir_event_<10-digit seq>  persistent
 *       sequential, a broker's log directory failed (event 1, Kafka's
 *       only one): {"version":1,"broker":2,"event":1}; the controller
 *       deletes it once read and asks that broker about its replicas
 *   /brokers/seqid             persistent, no data: its znode version
 *                              numbers generated broker ids
 *   /cluster/id                persistent: {"version":"1","id":"<base64 uuid>"}
 *   /config/users/<user>       persistent, a SCRAM user's credential:
 *       {"version":1,"config":{"SCRAM-SHA-256":
 *        "salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=4096"}}
 *       Client quotas share the same config map:
 *       {"version":1,"config":{"SCRAM-SHA-256":"...",
 *        "producer_byte_rate":"1024"}}; /config/users/<default> holds
 *       every user's default quotas
 *   /config/users/<user>/clients/<client-id>, /config/clients/<client-id>
 *       persistent, the quotas of a (user, client id) pair and of a
 *       client id: {"version":1,"config":{"consumer_byte_rate":"2048"}};
 *       names sanitized as Kafka's Sanitizer (URL-encoded), <default>
 *       for the default entity
 *   /config/brokers/<id>, /config/brokers/<default>  persistent, a
 *       broker's dynamic settings and every broker's default ones (Kafka's
 *       ConfigEntityZNode): {"version":1,"config":
 *       {"leader.replication.throttled.rate":"262144"}}
 *   /config/changes/config_change_<10-digit seq>  persistent sequential:
 *       {"version":2,"entity_path":"users/<user>"}  tells Kafka's brokers
 *       that a user's config changed; "topics/<t>" that a topic's
 *       overrides in /config/topics/<t> changed (every broker applies them);
 *       "brokers/<id>" or "brokers/<default>" that a broker's dynamic
 *       settings changed
 *
 * Invariants the decoders enforce (anything else is -EBADMSG with a reason):
 *   - every required field is present with its JSON type (integers are
 *     JSON integers in int32 range, strings are strings), unknown fields are
 *     ignored (newer Kafka versions add some), duplicate keys are refused;
 *   - a topic's partitions are exactly 0..n-1, every partition has at least
 *     one replica and no broker twice; adding/removing replicas name only
 *     partitions of the topic;
 *   - broker ids and partitions are >= 0; a leader is a broker id or -1
 *     (none); epochs are >= 0; an ISR holds no broker twice;
 *   - a topic or cluster id is 22 characters of url-safe base64 without
 *     padding encoding 16 bytes.
 *
 * Encoders return a malloc'd NUL-terminated compact JSON string (the caller
 * frees it) or NULL when out of memory. Decoded structs own their memory:
 * release them with the matching _clear() (which also accepts a zeroed
 * struct). Nothing here keeps state; every function is thread-safe.
 */
#ifndef MQFS_REPL_ZKDATA_H
#define MQFS_REPL_ZKDATA_H

#include <stddef.h>
#include <stdint.h>

#define ZK_WHY_LEN   160 /* room for the reason a document was refused */
#define ZK_UUID_LEN  22  /* url-safe base64 of 16 bytes, no padding */
#define ZK_TOPIC_MAX 249 /* Kafka's longest topic name */
#define ZK_PATH_MAX  512

/* Writes the reason (printf) into why (ZK_WHY_LEN; NULL: none) and
 * returns -EBADMSG: how every decoder refuses a document. */
int zk_bad(char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets key of object root to v, taking v (jansson's json_t); on failure
 * (root NULL, v NULL, no memory) drops root and returns NULL, so that a
 * document is built by a chain of calls checked once at the end. */
struct json_t;
struct json_t *zk_json_put(struct json_t *root, const char *key, struct json_t *v);

/* ---- paths ---- */

#define ZK_BROKER_IDS_PATH       "/brokers/ids"
#define ZK_BROKER_TOPICS_PATH    "/brokers/topics"
#define ZK_BROKER_SEQID_PATH     "/brokers/seqid"
#define ZK_CONTROLLER_PATH       "/controller"
#define ZK_CONTROLLER_EPOCH_PATH "/controller_epoch"
#define ZK_CONFIG_TOPICS_PATH    "/config/topics"
#define ZK_CONFIG_CHANGES_PATH   "/config/changes"
#define ZK_DELETE_TOPICS_PATH    "/admin/delete_topics"
#define ZK_REASSIGN_PATH         "/admin/reassign_partitions"
#define ZK_PREFERRED_PATH        "/admin/preferred_replica_election"
#define ZK_ISR_CHANGE_PATH       "/isr_change_notification"
#define ZK_ISR_CHANGE_PREFIX     "/isr_change_notification/isr_change_"
#define ZK_LOG_DIR_EVENT_PATH    "/log_dir_event_notification"
#define ZK_LOG_DIR_EVENT_PREFIX  "/log_dir_event_notification/log_dir_event_"
#define ZK_CLUSTER_ID_PATH       "/cluster/id"
#define ZK_CONFIG_USERS_PATH     "/config/users"
#define ZK_CONFIG_CLIENTS_PATH   "/config/clients"
#define ZK_CONFIG_CHANGE_PREFIX  "/config/changes/config_change_"
#define ZK_CONFIG_BROKERS_PATH   "/config/brokers"
#define ZK_BROKER_DEFAULT        "<default>" /* /config/brokers/<default>: every broker's */

/* "[1,2,3]": n broker ids as the JSON documents write them (.state, log
 * lines), cut to size bytes (always terminated). */
void zk_ids_text(char *buf, size_t size, const int32_t *ids, int n);

/* Kafka's legal topic names: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
int zk_topic_name_valid(const char *topic);

/* Each writes the path into buf (ZK_PATH_MAX is always enough for a valid
 * topic name) and returns its length; -EINVAL for an invalid topic name or
 * a negative id, -ENAMETOOLONG when buf is too small. */
int zk_path_broker(char *buf, size_t size, int32_t broker_id);
int zk_path_topic(char *buf, size_t size, const char *topic);
int zk_path_partitions(char *buf, size_t size, const char *topic);
int zk_path_partition(char *buf, size_t size, const char *topic, int32_t partition);
int zk_path_partition_state(char *buf, size_t size, const char *topic, int32_t partition);
int zk_path_topic_config(char *buf, size_t size, const char *topic);
int zk_path_delete_topic(char *buf, size_t size, const char *topic);
/* /config/brokers/<name>: name a broker id (decimal) or ZK_BROKER_DEFAULT,
 * else -EINVAL. */
int zk_path_broker_config(char *buf, size_t size, const char *name);
/* /config/users/<user>: -EINVAL unless zk_user_name_valid. */
int zk_path_user(char *buf, size_t size, const char *user);

/* A SCRAM user name mqfs writes as a znode: 1..255 of [A-Za-z0-9._@-],
 * not "." or ".." (the characters Kafka's URL-encoding of user names
 * leaves as they are, so Kafka's tools find the same znode). */
int zk_user_name_valid(const char *user);

/* ---- ids ---- */

/* A new random id in Kafka's Uuid.toString form (never starting with '-',
 * never the all-zero id). 0 or -errno from getrandom(2). */
int zk_uuid_new(char out[ZK_UUID_LEN + 1]);
/* 1 when s is a valid id of that form, else 0. */
int zk_uuid_valid(const char *s);
/* The 16 bytes of an id, as the protocol carries them (Kafka's UUID
 * type): all zero for "" or an invalid string, Kafka's ZERO_UUID. */
void zk_uuid_bytes(const char *s, uint8_t out[16]);
/* The string of 16 bytes: "" for all zero (no id). */
void zk_uuid_string(const uint8_t b[16], char out[ZK_UUID_LEN + 1]);

/* ---- /brokers/ids/<id> ---- */

struct zk_endpoint {
	char *listener;          /* listener name: "PLAINTEXT", "CLIENT" */
	char *security_protocol; /* "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" */
	char *host;              /* without IPv6 brackets */
	int32_t port;
};

struct zk_feature {
	char *name;
	int16_t min_version, max_version;
};

struct zk_tp {
	char *topic;
	int32_t partition;
};

struct zk_broker {
	int32_t version;   /* decoded; the encoder always writes 5 */
	char *host;        /* first PLAINTEXT endpoint's, or NULL */
	int32_t port;      /* its port, or -1 */
	int32_t jmx_port;  /* -1: none */
	int64_t timestamp; /* registration time, ms since the epoch */
	char *rack;        /* NULL: none */
	struct zk_endpoint *endpoints;
	int n_endpoints;
	struct zk_feature *features;
	int n_features;
	/* mqfs's own field "ineligible_partitions" ({"topic": [0, 2], ...};
	 * Kafka's tools ignore fields they do not know): the partitions
	 * whose local replica restarted without a clean shutdown and may
	 * have lost records it acknowledged as a follower, so that the
	 * controller does not elect it leader until it has caught up again
	 * (the rule of Kafka's KIP-966). Absent when none. */
	struct zk_tp *ineligible;
	int n_ineligible;
};

/* host and port of the first PLAINTEXT endpoint are derived from endpoints,
 * as Kafka does for old clients (broker's own host/port are ignored). At
 * least one endpoint; every field of it set. */
char *zk_broker_encode(const struct zk_broker *b);
/* Versions 1..5; version 1 has only host and port (one PLAINTEXT endpoint).
 * Without listener_security_protocol_map a listener name must be a security
 * protocol, as in Kafka. -EBADMSG, -ENOMEM. */
int zk_broker_decode(const char *buf, size_t len, struct zk_broker *b, char *why);
void zk_broker_clear(struct zk_broker *b);

/* ---- /controller, /controller_epoch ---- */

struct zk_controller {
	int32_t version; /* 1; Kafka 3.4+ writes 2 during a KRaft migration */
	int32_t broker_id;
	int64_t timestamp;
	int32_t kraft_controller_epoch; /* version 2 only; -1 otherwise */
};

char *zk_controller_encode(const struct zk_controller *c);
int zk_controller_decode(const char *buf, size_t len, struct zk_controller *c, char *why);

/* A plain non-negative decimal int32, no sign, no spaces, no leading zeros. */
char *zk_controller_epoch_encode(int32_t epoch);
int zk_controller_epoch_decode(const char *buf, size_t len, int32_t *epoch, char *why);

/* ---- /brokers/topics/<t> ---- */

struct zk_assignment {
	int32_t *replicas;
	int n_replicas; /* first one is the preferred leader */
	int32_t *adding;
	int n_adding; /* reassignment in progress */
	int32_t *removing;
	int n_removing;
};

struct zk_topic {
	int32_t version;                /* decoded (1..3); the encoder writes 3 */
	char topic_id[ZK_UUID_LEN + 1]; /* "" when the document has none */
	struct zk_assignment *partitions;
	int n_partitions;
};

char *zk_topic_encode(const struct zk_topic *t);
int zk_topic_decode(const char *buf, size_t len, struct zk_topic *t, char *why);
void zk_topic_clear(struct zk_topic *t);

/* ---- /brokers/topics/<t>/partitions/<p>/state ---- */

#define ZK_LEADER_NONE         (-1)
#define ZK_RECOVERY_RECOVERED  0
#define ZK_RECOVERY_RECOVERING 1

struct zk_partition_state {
	int32_t controller_epoch;
	int32_t leader; /* broker id, or ZK_LEADER_NONE */
	int32_t leader_epoch;
	int32_t *isr;
	int n_isr;
	int8_t leader_recovery_state; /* written only when not RECOVERED, as Kafka */
};

char *zk_partition_state_encode(const struct zk_partition_state *s);
int zk_partition_state_decode(const char *buf, size_t len, struct zk_partition_state *s, char *why);
void zk_partition_state_clear(struct zk_partition_state *s);

/* ---- /config/topics/<t> ---- */

struct zk_config {
	char **keys;
	char **values;
	int n;
};

char *zk_config_encode(const struct zk_config *c);
int zk_config_decode(const char *buf, size_t len, struct zk_config *c, char *why);
/* The value of key, or NULL. */
const char *zk_config_get(const struct zk_config *c, const char *key);
/* Sets key to value in c (replacing it, or appended): 0, -ENOMEM. */
int zk_config_put(struct zk_config *c, const char *key, size_t klen, const char *value,
		  size_t vlen);
void zk_config_clear(struct zk_config *c);
/* Removes key from c: 1 when it was there, else 0. */
int zk_config_del(struct zk_config *c, const char *key);

/* ---- /isr_change_notification/isr_change_<seq> ---- */

struct zk_isr_change {
	struct zk_tp *partitions;
	int n;
};

char *zk_isr_change_encode(const struct zk_isr_change *c);
int zk_isr_change_decode(const char *buf, size_t len, struct zk_isr_change *c, char *why);
void zk_isr_change_clear(struct zk_isr_change *c);

/* ---- /admin/preferred_replica_election ---- */

/* Kafka's PreferredReplicaElectionZNode, the partitions whose preferred
 * replica (the first of the assignment) should lead: the document of an
 * ISR change notice, {"version":1,"partitions":[{"topic":"t",
 * "partition":0}]} (zk_isr_change_encode writes it; a partition named
 * twice is there twice). Cleared with zk_isr_change_clear. */
int zk_preferred_election_decode(const char *buf, size_t len, struct zk_isr_change *c, char *why);

/* ---- /admin/reassign_partitions ---- */

/* One partition to move to `replicas` (the target, in the order the
 * operator gave: the first is the preferred leader). */
struct zk_reassign_part {
	char *topic;
	int32_t partition;
	int32_t *replicas;
	int n_replicas;
};

struct zk_reassign {
	struct zk_reassign_part *parts;
	int n;
};

/* Kafka's ReassignPartitionsZNode. The decoder checks the document's
 * shape only (version 1, topic names, partitions >= 0, replicas an array
 * of int32): an empty list, a repeated or negative broker id is the
 * controller's to refuse for that partition (Kafka's
 * INVALID_REPLICA_ASSIGNMENT), not a reason to drop the others. */
char *zk_reassign_encode(const struct zk_reassign *r);
int zk_reassign_decode(const char *buf, size_t len, struct zk_reassign *r, char *why);
void zk_reassign_clear(struct zk_reassign *r);

/* ---- /log_dir_event_notification/log_dir_event_<seq> ---- */

#define ZK_LOG_DIR_FAILURE 1 /* the event of a failed log directory */

/* Kafka's LogDirEventNotificationSequenceZNode: broker_id's log
 * directory had event (ZK_LOG_DIR_FAILURE). */
char *zk_log_dir_event_encode(int32_t broker_id, int32_t event);
/* *broker_id and *event (ZK_LOG_DIR_FAILURE when the field is absent: a
 * Kafka controller reads only "broker"). -EBADMSG with why. */
int zk_log_dir_event_decode(const char *buf, size_t len, int32_t *broker_id, int32_t *event,
			    char *why);

/* ---- /config/users/<user>, /config/changes ---- */

struct sasl_cred;
struct sasl_user_creds;
/* The user's document holding cred under its mechanism's name
 * ("SCRAM-SHA-256" or "SCRAM-SHA-512"). */
char *zk_user_scram_encode(const struct sasl_cred *cred);
/* The SCRAM credentials of a user's document into *creds; one the
 * document lacks has iterations 0. -ENOENT when it has none (a user with
 * other settings only), -EBADMSG when the document or any credential does
 * not decode (*creds zeroed). */
int zk_user_scram_decode(const char *buf, size_t len, struct sasl_user_creds *creds, char *why);
/* {"version":2,"entity_path":"users/<user>"} */
char *zk_config_change_user_encode(const char *user);
/* {"version":2,"entity_path":entity_path} ("topics/<t>", "users/<u>") */
char *zk_config_change_encode(const char *entity_path);
/* The entity_path of a version 2 notification into entity_path (size
 * bytes): 0, -EBADMSG (another version, no entity_path, too long). */
int zk_config_change_decode(const char *buf, size_t len, char *entity_path, size_t size, char *why);

/* ---- /cluster/id ---- */

char *zk_cluster_id_encode(const char *id);
int zk_cluster_id_decode(const char *buf, size_t len, char id[ZK_UUID_LEN + 1], char *why);

#endif
