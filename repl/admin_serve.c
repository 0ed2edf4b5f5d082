/*
 * admin_serve.c — the admin APIs of Kafka clients on the broker listener:
 * CreateTopics (19), DeleteTopics (20), CreatePartitions (37),
 * DescribeConfigs (32), AlterConfigs (33), IncrementalAlterConfigs (44),
 * every version of proto_admin.c. They act through the same calls as the
 * mount: a topic made here is a `mkdir` (broker_topic_create_cfg), a
 * deletion an `rmdir` (broker_topic_delete), a change of settings or
 * partitions a write of `.config` (topic_config_write), so on one node
 * and in a cluster (ZooKeeper) alike; but in a cluster CreateTopics,
 * DeleteTopics and CreatePartitions are served by the active controller
 * alone, as Kafka's ZooKeeper mode: any other broker answers
 * NOT_CONTROLLER for every topic named, before anything else (no
 * message; the names and topic ids as asked), and the client asks the
 * controller its Metadata names. The mount's mkdir and rmdir and
 * Metadata's auto-creation are no Kafka admin request: every broker
 * serves them.
 *
 * Rules per topic or resource, each refusal answered with Kafka's code, an
 * error_message, and one log line naming the peer, the topic and why:
 *   - a topic named twice in one request, Kafka's handling per API:
 *     CreateTopics INVALID_REQUEST for each entry ("Found multiple
 *     entries for this topic."), CreatePartitions one INVALID_REQUEST
 *     answer ("Duplicate topic in request."), DeleteTopics no refusal
 *     (each entry checked, the topic deleted once, the outcome at its
 *     first entry); AlterConfigs and IncrementalAlterConfigs a resource
 *     (type and name) twice INVALID_REQUEST for each ("Each resource
 *     must appear at most once."), a key twice in one resource
 *     INVALID_REQUEST ("Error due to duplicate config keys"), both
 *     before any authorization;
 *   - a name Kafka refuses, or a "__" name (internal topics', refused by
 *     mkdir too): INVALID_TOPIC_EXCEPTION;
 *   - CreateTopics: an existing topic TOPIC_ALREADY_EXISTS; a name that
 *     differs from an existing one's only in '.' for '_' (Kafka's
 *     metric names collide) INVALID_TOPIC_EXCEPTION; partitions
 *     -1 (num.partitions) or 1..10000, else INVALID_PARTITIONS;
 *     replication factor -1 (default.replication.factor) or 1..live
 *     brokers (one node: 1), else INVALID_REPLICATION_FACTOR; manual
 *     assignments only together with -1/-1 (INVALID_REQUEST), on one node
 *     naming this broker alone, partitions 0..n-1, and in a cluster not
 *     at all (INVALID_REPLICA_ASSIGNMENT); configs are topic settings
 *     (README "Topic"): an unknown key or a bad value INVALID_CONFIG, a
 *     null value INVALID_REQUEST, `partitions` INVALID_CONFIG (it is
 *     num_partitions);
 *   - DeleteTopics: an unknown topic UNKNOWN_TOPIC_OR_PARTITION, by id
 *     (v6) the topic of that cluster id (its name in the answer), else
 *     UNKNOWN_TOPIC_ID (a single node gives topics no ids), neither a
 *     name nor an id TOPIC_AUTHORIZATION_FAILED (Kafka authorizes
 *     named entries alone), an internal one ("__") POLICY_VIOLATION;
 *     an entry with both a name and an id
 *     refuses the whole request as Kafka's throw does: every entry
 *     INVALID_REQUEST without a message, nothing deleted, one log line
 *     ("Topic name and topic ID can not both be specified.");
 *   - CreatePartitions: the count must grow (INVALID_PARTITIONS, with
 *     Kafka's messages); assignments as CreateTopics; in a cluster the new
 *     partitions get the replication factor of partition 0 over the live
 *     brokers (too few: INVALID_REPLICATION_FACTOR);
 *   - DescribeConfigs: topics with every setting but `partitions` (the
 *     partition count is Metadata's), each with its source: TOPIC_CONFIG
 *     (1) when it was set (an override, kept even when equal to the
 *     broker's default) or differs from the broker's default (the one
 *     with the dynamic settings), DYNAMIC_BROKER_CONFIG (2) /
 *     DYNAMIC_DEFAULT_BROKER_CONFIG (3) when its broker key has a dynamic
 *     value of this broker's / of the cluster default, STATIC_BROKER_CONFIG
 *     (4) when the broker's config file set its broker key (whatever the
 *     value), else DEFAULT_CONFIG (5); synonyms in that order when asked;
 *     key.separator and line.format read-only once the topic has records.
 *     The broker "" (the cluster's dynamic default): the keys set there
 *     alone, DYNAMIC_DEFAULT_BROKER_CONFIG, as Kafka's.
 *     The broker by its id: every broker setting with its value in
 *     effect, read-only but the dynamic ones in a cluster, its dynamic
 *     value's source where one is set, else STATIC_BROKER_CONFIG where
 *     the config file set it (an alias too: log.dir is log.dirs), even
 *     to the built-in default, else DEFAULT_CONFIG (a key Kafka defines
 *     without a default, log.retention.ms, ..., null where no level sets
 *     it); the time aliases (log.retention.hours, ...) as settings of
 *     their own with the file's values as given (describe_aliases),
 *     advertised.listeners unset null from DEFAULT_CONFIG (no default
 *     in Kafka), the JAAS config sensitive (value null), then the
 *     dynamic-only ones set (the replication throttle rates);
 *   - AlterConfigs: the topic's settings become exactly those given, the
 *     rest the broker's defaults, no longer overrides (but key.separator
 *     and line.format, kept unless given); IncrementalAlterConfigs: SET,
 *     DELETE (the override removed: back to the default); APPEND and SUBTRACT INVALID_CONFIG (not
 *     even for the throttled-replicas lists: SET the whole list); a broker resource on a single
 *     node INVALID_REQUEST (its settings are the --config file's); in a
 *     cluster (alter_broker) its id or "" (the default), another id
 *     INVALID_REQUEST, the dynamic broker settings only (the topic
 *     defaults of broker_config_dynamic_key and Kafka's other
 *     reconfigurable settings of broker_config_reconfigurable_key, each
 *     value checked as its static key's, then the whole config with the
 *     other level's and the file's, and the two throttle rates; another
 *     key, a value the static key refuses, a combination that does not
 *     check, a rate outside 0..2^63-1: INVALID_CONFIG), into
 *     /config/brokers/<id> or <default>;
 *   - validate_only: every check, nothing changed.
 * timeout_ms bounds the wait of a creation for its leaders in a cluster
 * (<= 0: request.timeout.ms); past it REQUEST_TIMED_OUT (the topic is
 * made all the same, as Kafka's).
 *
 * One handler serves them all (admin_handler) over a table of the APIs
 * (admin_apis): each API names how to build one answer per request entry
 * and how to encode the response; the loop, the refusal's log line and
 * the answer's error fields are the same for all.
 *
 * Threads: a listener worker; the broker calls take their own locks.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "repl/cluster.h"
#include "repl/config.h"
#include "repl/group_serve.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/metadata_cache.h"
#include "repl/throttle.h"
#include "repl/zkdata.h"
#include "util/diaglog.h"

#define MSG_MAX 256

enum {
	SRC_TOPIC = 1,
	SRC_DYNAMIC_BROKER = 2,
	SRC_DYNAMIC_DEFAULT = 3,
	SRC_STATIC_BROKER = 4,
	SRC_DEFAULT = 5,
	SRC_DYNAMIC_BROKER_LOGGER = 6,
};

/* Kafka's ConfigType of DescribeConfigs v3+. */
enum {
	TYPE_BOOLEAN = 1,
	TYPE_STRING = 2,
	TYPE_INT = 3,
	TYPE_LONG = 5,
	TYPE_DOUBLE = 6,
	TYPE_LIST = 7
};

/* A per-topic answer being built: the code and its message. */
struct verdict {
	int16_t code;
	char msg[MSG_MAX];
};

static int16_t refuse(struct verdict *v, int16_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int16_t refuse(struct verdict *v, int16_t code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	v->code = code;
	return code;
}

/* Both non-null and the same bytes (kstr_same counts two nulls the same). */
static bool kstr_set_same(struct kstr a, struct kstr b)
{
	return a.ptr && b.ptr && a.len == b.len && !memcmp(a.ptr, b.ptr, (size_t)a.len);
}

/* One log line per refusal: who asked, which API, what and why (a
 * request refused whole: admin_handler's one line for all its entries). */
static void log_refusal(struct net_req *req, const char *api, struct kstr name,
			const struct verdict *v)
{
	if (v->code == PROTO_ERR_NONE)
		return;
	mq_log_limited(MQ_WARN, "%s from %s: '%.*s' refused: %s: %s", api, net_req_peer(req),
		       name.ptr ? (int)name.len : 0, name.ptr ? name.ptr : "",
		       proto_err_name(v->code), v->msg);
}

/* Puts the verdict into a response entry's fields; a verdict without a
 * message (a request refused whole, as Kafka's) has a null one. */
static void answer(const struct verdict *v, int16_t *error_code, struct kstr *error_message)
{
	*error_code = v->code;
	*error_message = v->code == PROTO_ERR_NONE || !v->msg[0] ? KSTR_NULL : kstr_of(v->msg);
}

/* Whether entry i of a request's n entries (each size bytes, its name a
 * struct kstr at name_off) has a name an earlier or later one has too:
 * then v is INVALID_REQUEST with Kafka's words for that API, msg. */
static bool named_twice(const void *entries, size_t size, size_t name_off, int32_t n, int32_t i,
			const char *msg, struct verdict *v)
{
	const char *base = entries;
	const struct kstr *a = (const void *)(base + (size_t)i * size + name_off);

	for (int32_t j = 0; j < n; j++) {
		const struct kstr *b = (const void *)(base + (size_t)j * size + name_off);

		if (j != i && kstr_set_same(*a, *b)) {
			refuse(v, PROTO_ERR_INVALID_REQUEST, "%s", msg);
			return true;
		}
	}
	return false;
}

/* Whether entry i's name is an earlier entry's too (named_twice's
 * layout): an API that answers once per distinct name gives entry i no
 * answer of its own. */
static bool named_before(const void *entries, size_t size, size_t name_off, int32_t i)
{
	const char *base = entries;
	const struct kstr *a = (const void *)(base + (size_t)i * size + name_off);

	for (int32_t j = 0; j < i; j++)
		if (kstr_set_same(*a, *(const struct kstr *)(const void *)(base + (size_t)j * size +
									   name_off)))
			return true;
	return false;
}

/* name as a C string into buf: 0, or -EINVAL (null, too long, not a
 * legal topic name). */
static int topic_cname(struct kstr name, char *buf, size_t size)
{
	if (!name.ptr || name.len <= 0 || (size_t)name.len >= size)
		return -EINVAL;
	memcpy(buf, name.ptr, (size_t)name.len);
	buf[name.len] = '\0';
	return topic_name_valid(buf) ? 0 : -EINVAL;
}

/* The request an admin handler answers. */
struct admin_req {
	struct kafka_api *ka;
	const struct proto_req *pr;
	const char *peer;
	const struct net_req *req; /* whose principal kafka_authorize asks of */
	/* Kafka's error response to the whole request (refused_all), 0 if
	 * none: a controller_only API on another broker, or an API's
	 * refuse_all. */
	int16_t refused_all;
	/* The answers built so far, in the API's struct, and every entry's
	 * hold (admin_handler's arrays: with no FILL_NONE, entry j's are the
	 * j-th; a hold is hold_size bytes). */
	const void *answers;
	char *holds;
	size_t hold_size;
};

/* Whether the request is refused whole: then v is the code of Kafka's
 * error response for every entry, without a message (its
 * getErrorResponse), decided before anything else, authorization and
 * validate_only included. NOT_CONTROLLER: the API is the active
 * controller's alone and this broker is not it (KafkaApis in ZooKeeper
 * mode), and the client asks again the controller its Metadata names;
 * else the API's refuse_all. */
static bool refused_all(const struct admin_req *ar, struct verdict *v)
{
	if (!ar->refused_all)
		return false;
	v->code = ar->refused_all;
	v->msg[0] = '\0';
	return true;
}

/* KafkaApis' authorization of one entry: true, with the refusal in v,
 * when op on the resource is not allowed (a topic's
 * TOPIC_AUTHORIZATION_FAILED, the cluster's CLUSTER_AUTHORIZATION_FAILED,
 * with Kafka's messages). */
static bool denied(const struct admin_req *ar, int op, int rtype, struct kstr name,
		   struct verdict *v)
{
	if (kafka_authorize(ar->req, op, rtype, name))
		return false;
	if (rtype == ACL_RES_TOPIC)
		refuse(v, PROTO_ERR_TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed.");
	else
		refuse(v, PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED, "Cluster authorization failed.");
	return true;
}

/* A config resource's: DESCRIBE_CONFIGS (or ALTER_CONFIGS) on the topic,
 * on the cluster for a broker, a broker logger, and the consumer groups'
 * settings (the coordinator's, which Kafka 3.7 has no group ACL for). */
static bool config_denied(const struct admin_req *ar, bool alter, int8_t type, struct kstr name,
			  struct verdict *v)
{
	int op = alter ? ACL_OP_ALTER_CONFIGS : ACL_OP_DESCRIBE_CONFIGS;

	if (type == PROTO_RESOURCE_TOPIC)
		return denied(ar, op, ACL_RES_TOPIC, name, v);
	return denied(ar, op, ACL_RES_CLUSTER, kstr_of(ACL_CLUSTER_NAME), v);
}

/* One admin API's shape: its response is an array of answers, one per
 * request entry (the entry count an int32_t at count_off in struct
 * proto_req), each a struct of size bytes with a name, an error_code and
 * an error_message at the offsets given. */
/* An admin_api's fill: the entry is answered with an earlier one. */
#define FILL_NONE 1

struct admin_api {
	int16_t key;
	const char *name;     /* for the log */
	bool incremental;     /* AlterConfigs: IncrementalAlterConfigs */
	bool controller_only; /* served by the active controller alone */
	size_t count_off, size, name_off, code_off, msg_off;
	size_t hold_size; /* per answer, zeroed: what it points into until sent */
	/* Builds the answer of request entry i (zeroed) and decides its
	 * verdict; 0, FILL_NONE (entry i has no answer of its own: the slot
	 * is given to the next entry), or -errno to send no response. */
	int (*fill)(const struct admin_req *ar, const struct admin_api *api, int32_t i,
		    void *answer, void *hold, struct verdict *v);
	/* NULL, or the check of a request Kafka's handler refuses whole
	 * (it throws): the error code of every entry, with the reason for
	 * the log in *why, or 0 to go on. Made after NOT_CONTROLLER, before
	 * any fill. */
	int16_t (*refuse_all)(const struct proto_req *pr, const char **why);
	/* Encodes the response of the n answers at version ver. */
	int (*encode)(struct kbuf_w *w, int16_t ver, void *answers, int32_t n);
	/* Frees what answer i and its hold hold (NULL: nothing to free). */
	void (*release)(void *answer, void *hold);
};

/* The brokers a new topic's replicas may go to. */
static int live_brokers(struct kafka_api *ka)
{
	struct metadata_broker *mb = NULL;
	int n, live = 0;

	if (!cluster_zk_mode(ka->c))
		return 1;
	n = metadata_cache_brokers(cluster_metadata(ka->c), &mb);
	for (int i = 0; i < n; i++)
		live += mb[i].alive;
	free(mb);
	return live;
}

/* Kafka's AdminUtils refusal: some live brokers have a broker.rack and
 * some do not, so no rack-aware placement can be made (and Kafka will not
 * place replicas as if there were no racks). */
static bool racks_mixed(struct kafka_api *ka)
{
	return cluster_zk_mode(ka->c) && metadata_cache_racks_mixed(cluster_metadata(ka->c));
}

#define RACKS_MIXED_CREATE \
	"Not all brokers have rack information for replica rack aware assignment."
#define RACKS_MIXED_GROW                                                                      \
	"Not all brokers have rack information. Add --disable-rack-aware in command line to " \
	"make replica assignment without rack information."

/* Appends "key=value\n" to f from a request's config: INVALID_REQUEST for
 * a null value, INVALID_CONFIG for `partitions` or a value over lines. */
/* Whether a client's config name can only be read back as itself from
 * its "name=value" line: setting names are [a-z0-9.-]. Anything else (a
 * '#' or '!' that makes the line a comment, a ':' that ends the key
 * early, blanks the parser trims) would be read as no setting or as
 * another one: "#x" taken as a silent no-op, "retention.ms " as
 * retention.ms, and then, not counted as given, put back to its default
 * by an AlterConfigs. Such a name is unknown to Kafka too. */
static bool config_name_plain(struct kstr name)
{
	if (!name.ptr || name.len <= 0)
		return false;
	for (int32_t i = 0; i < name.len; i++) {
		char ch = name.ptr[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '-'))
			return false;
	}
	return true;
}

static int16_t config_line(FILE *f, const struct proto_config *c, struct verdict *v)
{
	if (!config_name_plain(c->name))
		return refuse(v, PROTO_ERR_INVALID_CONFIG,
			      "config name '%.*s' is not a setting name",
			      c->name.ptr ? (int)(c->name.len < 100 ? c->name.len : 100) : 0,
			      c->name.ptr ? c->name.ptr : "");
	if (!c->value.ptr)
		return refuse(v, PROTO_ERR_INVALID_REQUEST,
			      "null value not supported for topic config '%.*s'", (int)c->name.len,
			      c->name.ptr);
	if (kstr_eq(c->name, "partitions"))
		return refuse(v, PROTO_ERR_INVALID_CONFIG,
			      "'partitions' is not a topic config: the partition count is "
			      "num_partitions (CreateTopics) or CreatePartitions");
	if (memchr(c->value.ptr, '\n', (size_t)c->value.len))
		return refuse(v, PROTO_ERR_INVALID_CONFIG, "value of '%.*s' spans lines",
			      (int)c->name.len, c->name.ptr);
	fprintf(f, "%.*s=%.*s\n", (int)c->name.len, c->name.ptr, (int)c->value.len, c->value.ptr);
	return 0;
}

/* Checks text over base (a copy), def the defaults a "-key" line takes:
 * INVALID_CONFIG with the parser's reason. */
static int16_t config_check(struct topic_config *base, const struct topic_config *def,
			    const char *text, size_t len, struct verdict *v)
{
	char err[200] = "";

	if (topic_config_apply_def(base, def, text, len, err, sizeof(err)) < 0)
		return refuse(v, PROTO_ERR_INVALID_CONFIG, "%s", err);
	return 0;
}

/* A broker error of a topic call as Kafka's code. */
static int16_t topic_errno(int rc, const char *what, struct verdict *v)
{
	int16_t code;

	switch (rc) {
	case -EEXIST: code = PROTO_ERR_TOPIC_ALREADY_EXISTS; break;
	case -ENOENT: code = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION; break;
	/* Asked of the controller, not seen done: it goes on (this broker
	 * stopping ended the wait, or its time did). */
	case -ESHUTDOWN:
		return refuse(v, PROTO_ERR_REQUEST_TIMED_OUT,
			      "%s: this broker stops before the controller is done; it goes on",
			      what);
	case -ETIMEDOUT: code = PROTO_ERR_REQUEST_TIMED_OUT; break;
	case -EBUSY: code = PROTO_ERR_INVALID_CONFIG; break;
	case -EINVAL: code = PROTO_ERR_INVALID_REQUEST; break;
	default: code = proto_err_from_errno(rc); break;
	}
	return refuse(v, code, "%s: %s", what, strerror(-rc));
}

/* Manual assignments: on one node, each partition 0..n-1 on this broker
 * alone; *n the partitions they make. */
static int16_t assignments_check(struct kafka_api *ka, int32_t na,
				 const struct proto_replica_assignment *a, bool indexed, int32_t *n,
				 struct verdict *v)
{
	if (cluster_zk_mode(ka->c))
		return refuse(v, PROTO_ERR_INVALID_REPLICA_ASSIGNMENT,
			      "manual replica assignment is not supported in a cluster: give "
			      "the partition count and replication factor");
	for (int32_t i = 0; i < na; i++) {
		if (indexed && a[i].partition_index != i)
			return refuse(v, PROTO_ERR_INVALID_REPLICA_ASSIGNMENT,
				      "partitions must be 0..%d in order", (int)na - 1);
		if (a[i].n_broker_ids != 1 || a[i].broker_ids[0] != kafka_broker_id(ka))
			return refuse(v, PROTO_ERR_INVALID_REPLICA_ASSIGNMENT,
				      "a single node's replicas are broker %d alone",
				      (int)kafka_broker_id(ka));
	}
	*n = na;
	return 0;
}

/* ---- CreateTopics ---- */

struct created;
static int created_configs(struct kafka_api *ka, const struct topic_config *tc,
			   struct proto_creatable_topic_result *r, struct created *c);

/* 0 or a refusal's code in v; -errno (out of memory) sends no answer. */
static int create_one(struct kafka_api *ka, const struct proto_creatable_topic *ct,
		      bool validate_only, int32_t timeout_ms,
		      struct proto_creatable_topic_result *r, struct created *c, struct verdict *v)
{
	struct broker *b = ka->b;
	char name[TOPIC_NAME_MAX + 1], other[TOPIC_NAME_MAX + 1], pl[32], *text = NULL;
	size_t len = 0;
	struct topic_config tc;
	struct topic *t;
	int32_t nparts = ct->num_partitions;
	int rf = ct->replication_factor, live;
	uid_t uid;
	gid_t gid;
	FILE *f;
	int rc;

	if (topic_cname(ct->name, name, sizeof(name)) < 0)
		return refuse(v, PROTO_ERR_INVALID_TOPIC_EXCEPTION, "not a legal topic name");
	/* As mkdir: "__" names are the internal topics' (made here, one would
	 * be neither replicated nor deletable), dot-names the mount's views'. */
	const char *why = topic_name_refusal(name);
	if (why)
		return refuse(v, PROTO_ERR_INVALID_TOPIC_EXCEPTION, "%s", why);
	if (broker_topic_get(b, name, &t) == 0) {
		topic_put(t);
		return refuse(v, PROTO_ERR_TOPIC_ALREADY_EXISTS, "topic '%s' already exists", name);
	}
	if (broker_topic_collides(b, name, other, sizeof(other)))
		return refuse(v, PROTO_ERR_INVALID_TOPIC_EXCEPTION,
			      "Topic '%s' collides with existing topics: %s", name, other);
	if (ct->n_assignments > 0) {
		if (nparts != -1 || rf != -1)
			return refuse(v, PROTO_ERR_INVALID_REQUEST,
				      "both num_partitions or replication_factor and "
				      "assignments were set");
		if (assignments_check(ka, ct->n_assignments, ct->assignments, true, &nparts, v))
			return v->code;
		rf = 1;
	}
	topic_config_defaults_of(broker_cfg(b), &tc);
	if (nparts == -1)
		nparts = tc.partitions;
	if (nparts < 1)
		return refuse(v, PROTO_ERR_INVALID_PARTITIONS,
			      "number of partitions must be larger than 0");
	/* The parser's range check, from 1 (a topic's count may only grow). */
	tc.partitions = 1;
	snprintf(pl, sizeof(pl), "partitions=%d\n", (int)nparts);
	/* config_check wrote the parser's reason into v->msg: only the code
	 * changes (refusing with v->msg as its own argument would print it
	 * over itself). */
	if (config_check(&tc, NULL, pl, strlen(pl), v)) {
		v->code = PROTO_ERR_INVALID_PARTITIONS;
		return v->code;
	}
	live = live_brokers(ka);
	if (rf == -1)
		rf = cluster_zk_mode(ka->c) ? broker_cfg(b)->cluster.default_replication_factor : 1;
	if (rf < 1)
		return refuse(v, PROTO_ERR_INVALID_REPLICATION_FACTOR,
			      "replication factor must be larger than 0");
	if (rf > live)
		return refuse(v, PROTO_ERR_INVALID_REPLICATION_FACTOR,
			      "replication factor: %d larger than available brokers: %d", rf, live);
	/* As Kafka's ZkAdminManager: the assignment (validate_only too) throws
	 * AdminOperationException, answered as UNKNOWN_SERVER_ERROR. The
	 * code is the answer's, not this call's (-1 would read as -EPERM and
	 * close the connection). */
	if (racks_mixed(ka)) {
		refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR, RACKS_MIXED_CREATE);
		return 0;
	}
	f = open_memstream(&text, &len);
	if (!f)
		return refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
	for (int32_t i = 0; i < ct->n_configs && !v->code; i++)
		config_line(f, &ct->configs[i], v);
	fclose(f);
	if (!v->code)
		config_check(&tc, NULL, text, len, v);
	free(text);
	if (v->code)
		return v->code;
	r->num_partitions = nparts;
	r->replication_factor = (int16_t)rf;
	if (validate_only)
		return created_configs(ka, &tc, r, c);
	broker_client_topic_owner(&uid, &gid);
	rc = broker_topic_create_cfg(
		b, name, uid, gid, CLIENT_TOPIC_MODE, &tc, rf,
		timeout_ms > 0 ? timeout_ms : broker_cfg(b)->request_timeout_ms, NULL);
	if (rc == -EINVAL && cluster_zk_mode(ka->c))
		return refuse(v, PROTO_ERR_INVALID_REPLICATION_FACTOR,
			      "replication factor %d: not enough live brokers", rf);
	if (rc == -ENOTSUP && cluster_zk_mode(ka->c)) {
		refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR, RACKS_MIXED_CREATE);
		return 0;
	}
	if (rc < 0)
		return topic_errno(rc, "creation failed", v);
	mq_log(MQ_INFO, "topic %s: created by a Kafka client (%s), %d partitions, %d replicas",
	       name, "CreateTopics", (int)nparts, rf);
	return created_configs(ka, &tc, r, c);
}

static int create_topics_fill(const struct admin_req *ar, const struct admin_api *api, int32_t i,
			      void *answer, void *hold, struct verdict *v)
{
	const struct proto_create_topics_req *m = &ar->pr->u.create_topics;
	struct proto_creatable_topic_result *r = answer;
	bool configs_ok;
	int rc;

	(void)api;
	r->name = m->topics[i].name;
	r->num_partitions = -1;
	r->replication_factor = -1;
	/* A refusal's configs: an empty list, as Kafka's (never null). */
	r->n_configs = 0;
	if (refused_all(ar, v))
		return 0;
	/* KafkaApis fills the created topic's settings, partitions and
	 * replication factor only for an asker with DESCRIBE_CONFIGS on the
	 * topic; another gets TOPIC_AUTHORIZATION_FAILED as the settings'
	 * error (v5+), also beside a refusal of its own. */
	configs_ok = kafka_may(ar->req, ACL_OP_DESCRIBE_CONFIGS, ACL_RES_TOPIC, m->topics[i].name);
	if (!configs_ok)
		r->topic_config_error_code = PROTO_ERR_TOPIC_AUTHORIZATION_FAILED;
	if (named_twice(m->topics, sizeof(*m->topics), offsetof(struct proto_creatable_topic, name),
			m->n_topics, i, "Found multiple entries for this topic.", v))
		return 0;
	/* CREATE on the cluster, else on the topic (KafkaApis). */
	if (!kafka_may(ar->req, ACL_OP_CREATE, ACL_RES_CLUSTER, kstr_of(ACL_CLUSTER_NAME)) &&
	    !kafka_authorize(ar->req, ACL_OP_CREATE, ACL_RES_TOPIC, r->name)) {
		refuse(v, PROTO_ERR_TOPIC_AUTHORIZATION_FAILED, "Authorization failed.");
		return 0;
	}
	rc = create_one(ar->ka, &m->topics[i], m->validate_only, m->timeout_ms, r, hold, v);
	if (v->code) {
		/* As Kafka resets a failed creation's answer, the settings'
		 * error too. */
		r->num_partitions = -1;
		r->replication_factor = -1;
		r->n_configs = 0;
		r->topic_config_error_code = PROTO_ERR_NONE;
	} else if (!configs_ok) {
		/* Created; r->configs stays for create_topics_release. */
		r->num_partitions = -1;
		r->replication_factor = -1;
		r->n_configs = 0;
	}
	return rc < 0 ? rc : 0;
}

static int create_topics_encode(struct kbuf_w *w, int16_t ver, void *answers, int32_t n)
{
	struct proto_create_topics_resp resp = { .n_topics = n, .topics = answers };

	return proto_create_topics_resp_encode(w, ver, &resp);
}

/* ---- DeleteTopics ---- */

/* Kafka's Uuid.ZERO_UUID: no topic id given. */
static bool topic_id_zero(const uint8_t id[16])
{
	static const uint8_t zero_id[16];

	return memcmp(id, zero_id, sizeof(zero_id)) == 0;
}

static int16_t delete_one(struct kafka_api *ka, struct kstr kname, struct verdict *v)
{
	char name[TOPIC_NAME_MAX + 1];
	int rc;

	if (!kname.ptr)
		return refuse(v, PROTO_ERR_UNKNOWN_TOPIC_ID, "no topic has that id");
	if (topic_cname(kname, name, sizeof(name)) < 0)
		return refuse(v, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no such topic");
	if (!strncmp(name, "__", 2))
		return refuse(v, PROTO_ERR_POLICY_VIOLATION, "internal topics are not deleted");
	rc = broker_topic_delete(ka->b, name);
	if (rc == -ENOENT)
		return refuse(v, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no such topic");
	if (rc < 0)
		return topic_errno(rc, "deletion failed", v);
	mq_log(MQ_INFO, "topic %s: deleted by a Kafka client (DeleteTopics)", name);
	return 0;
}

/* The answer of the first entry before entry i of a DeleteTopics that
 * named name too (by name or by an id of it); NULL: none, or no name.
 * Its fill never answers an entry with another's (FILL_NONE): entry j's
 * answer is ar->answers' j-th. */
static const struct proto_delete_topic_result *deleted_before(const struct admin_req *ar, int32_t i,
							      struct kstr name)
{
	const struct proto_delete_topic_result *done = ar->answers;

	for (int32_t j = 0; name.ptr && j < i; j++)
		if (kstr_set_same(done[j].name, name))
			return &done[j];
	return NULL;
}

/* Each by-id entry's topic name into its hold ("" for an unknown id),
 * all before the first deletion. */
static void delete_resolve_ids(const struct admin_req *ar)
{
	const struct proto_delete_topics_req *m = &ar->pr->u.delete_topics;

	for (int32_t j = 0; j < m->n_topics; j++) {
		char id[ZK_UUID_LEN + 1];
		struct topic *t;

		if (m->topics[j].name.ptr)
			continue;
		zk_uuid_string(m->topics[j].topic_id, id);
		if (broker_topic_by_cluster_id(ar->ka->b, id, &t) == 0) {
			snprintf(ar->holds + (size_t)j * ar->hold_size, ar->hold_size, "%s",
				 topic_name(t));
			topic_put(t);
		}
	}
}

static int delete_topics_fill(const struct admin_req *ar, const struct admin_api *api, int32_t i,
			      void *answer, void *hold, struct verdict *v)
{
	const struct proto_delete_topics_req *m = &ar->pr->u.delete_topics;
	struct proto_delete_topic_result *r = answer;
	const struct proto_delete_topic_result *first;

	(void)api;
	r->name = m->topics[i].name;
	memcpy(r->topic_id, m->topics[i].topic_id, sizeof(r->topic_id));
	/* A request refused whole (another broker than the controller, an
	 * entry with a name and an id) answers the names and ids as asked:
	 * by id, no name. */
	if (refused_all(ar, v))
		return 0;
	/* By id (v6): the name of the topic that had it before this
	 * request deleted any, as Kafka resolves them all first. */
	if (i == 0)
		delete_resolve_ids(ar);
	if (!r->name.ptr && ((const char *)hold)[0])
		r->name = kstr_of(hold);
	/* Neither a name nor an id: Kafka's authorization takes the named
	 * entries alone, so this one is not authorized (not an unknown id:
	 * there is none). */
	if (!r->name.ptr && topic_id_zero(r->topic_id)) {
		refuse(v, PROTO_ERR_TOPIC_AUTHORIZATION_FAILED, "Topic authorization failed.");
		return 0;
	}
	if (r->name.ptr && denied(ar, ACL_OP_DELETE, ACL_RES_TOPIC, r->name, v))
		return 0;
	/* A topic named again (by name or id): Kafka has no refusal for it.
	 * Its KafkaApis checks each entry (the ACL above, the topic known)
	 * before deleting each name once, and sets the deletion's outcome
	 * on the name's first entry only (results.find): a later one keeps
	 * the first's refusal when that came before any deletion (the topic
	 * unknown), and no error otherwise. */
	first = deleted_before(ar, i, r->name);
	if (first) {
		if (first->error_code == PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION)
			refuse(v, first->error_code, "%.*s",
			       first->error_message.ptr ? (int)first->error_message.len : 0,
			       first->error_message.ptr ? first->error_message.ptr : "");
		return 0;
	}
	delete_one(ar->ka, r->name, v);
	return 0;
}

/* Kafka's handleDeleteTopicsRequest throws on an entry (v6) with both a
 * name and a topic id other than zero, wherever it is, before it checks
 * any entry or deletes anything: its error response answers every entry
 * INVALID_REQUEST, with no message, the names and ids as asked. */
static int16_t delete_topics_refuse_all(const struct proto_req *pr, const char **why)
{
	const struct proto_delete_topics_req *m = &pr->u.delete_topics;

	for (int32_t i = 0; i < m->n_topics; i++)
		if (m->topics[i].name.ptr && !topic_id_zero(m->topics[i].topic_id)) {
			*why = "Topic name and topic ID can not both be specified.";
			return PROTO_ERR_INVALID_REQUEST;
		}
	return 0;
}

static int delete_topics_encode(struct kbuf_w *w, int16_t ver, void *answers, int32_t n)
{
	struct proto_delete_topics_resp resp = { .n_responses = n, .responses = answers };

	return proto_delete_topics_resp_encode(w, ver, &resp);
}

/* ---- CreatePartitions ---- */

static int16_t create_parts_one(struct kafka_api *ka, const struct proto_create_parts_topic *pt,
				bool validate_only, struct verdict *v)
{
	char name[TOPIC_NAME_MAX + 1], text[48];
	struct topic_config tc;
	struct topic *t = NULL;
	int32_t now, added;
	int rc;

	/* Kafka's createPartitions reads the brokers (getBrokerMetadatas,
	 * rack-aware mode enforced) before any topic: its refusal comes first. */
	if (racks_mixed(ka))
		return refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR, RACKS_MIXED_GROW);
	if (topic_cname(pt->name, name, sizeof(name)) < 0 || broker_topic_get(ka->b, name, &t) < 0)
		return refuse(v, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no such topic");
	now = topic_partitions(t);
	if (pt->count < now) {
		refuse(v, PROTO_ERR_INVALID_PARTITIONS,
		       "topic currently has %d partitions, which is higher than the requested %d",
		       (int)now, (int)pt->count);
		goto out;
	}
	if (pt->count == now) {
		refuse(v, PROTO_ERR_INVALID_PARTITIONS, "topic already has %d partitions",
		       (int)now);
		goto out;
	}
	if (pt->n_assignments >= 0) {
		if (assignments_check(ka, pt->n_assignments, pt->assignments, false, &added, v))
			goto out;
		if (added != pt->count - now) {
			refuse(v, PROTO_ERR_INVALID_REPLICA_ASSIGNMENT,
			       "%d assignments for %d new partitions", (int)added,
			       (int)(pt->count - now));
			goto out;
		}
	}
	snprintf(text, sizeof(text), "partitions=%d\n", (int)pt->count);
	if (topic_config_get(t, &tc) < 0) {
		refuse(v, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no such topic");
		goto out;
	}
	if (config_check(&tc, NULL, text, strlen(text), v)) {
		v->code = PROTO_ERR_INVALID_PARTITIONS;
		goto out;
	}
	if (validate_only)
		goto out;
	rc = topic_config_write(t, text, strlen(text));
	if (rc == -EINVAL && broker_replicated(ka->b, name))
		refuse(v, PROTO_ERR_INVALID_REPLICATION_FACTOR,
		       "fewer live brokers than the topic's replication factor");
	else if (rc == -ENOTSUP && broker_replicated(ka->b, name))
		refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR, RACKS_MIXED_GROW);
	else if (rc < 0)
		topic_errno(rc, "adding partitions failed", v);
	else
		mq_log(MQ_INFO, "topic %s: %d partitions now, by a Kafka client (CreatePartitions)",
		       name, (int)pt->count);
out:
	topic_put(t);
	return v->code;
}

static int create_parts_fill(const struct admin_req *ar, const struct admin_api *api, int32_t i,
			     void *answer, void *hold, struct verdict *v)
{
	const struct proto_create_parts_req *m = &ar->pr->u.create_parts;
	struct proto_resource_result *r = answer;

	(void)api;
	(void)hold;
	/* Kafka's handleCreatePartitionsRequest answers with a map by topic
	 * name: one result per distinct name, NOT_CONTROLLER too, and a
	 * name given more than once is INVALID_REQUEST, once (it is left
	 * out of the rest: no partitions added). Here in the order the
	 * names first appear. */
	if (named_before(m->topics, sizeof(*m->topics),
			 offsetof(struct proto_create_parts_topic, name), i))
		return FILL_NONE;
	r->resource_name = m->topics[i].name;
	if (refused_all(ar, v))
		return 0;
	if (named_twice(m->topics, sizeof(*m->topics),
			offsetof(struct proto_create_parts_topic, name), m->n_topics, i,
			"Duplicate topic in request.", v))
		return 0;
	if (!denied(ar, ACL_OP_ALTER, ACL_RES_TOPIC, r->resource_name, v))
		create_parts_one(ar->ka, &m->topics[i], m->validate_only, v);
	return 0;
}

static int create_parts_encode(struct kbuf_w *w, int16_t ver, void *answers, int32_t n)
{
	struct proto_create_parts_resp resp = { .n_results = n, .results = answers };

	return proto_create_parts_resp_encode(w, ver, &resp);
}

/* ---- DescribeConfigs ---- */

static int8_t config_type(struct kstr k)
{
	static const char *const ints[] = { "segment.bytes",        "segment.index.bytes",
					    "index.interval.bytes", "max.message.bytes",
					    "batch.size",           "min.insync.replicas" };

	if (kstr_eq(k, "unclean.leader.election.enable"))
		return TYPE_BOOLEAN;
	if (kstr_eq(k, "cleanup.policy") || kstr_eq(k, THROTTLE_LEADER_REPLICAS) ||
	    kstr_eq(k, THROTTLE_FOLLOWER_REPLICAS))
		return TYPE_LIST;
	if (kstr_eq(k, "min.cleanable.dirty.ratio"))
		return TYPE_DOUBLE;
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
		if (kstr_eq(k, ints[i]))
			return TYPE_INT;
	if ((k.len > 3 && !memcmp(k.ptr + k.len - 3, ".ms", 3)) || kstr_eq(k, "retention.bytes") ||
	    kstr_eq(k, "flush.messages"))
		return TYPE_LONG;
	return TYPE_STRING;
}

/* What a described resource holds on to until the response is out. */
struct described {
	/* A topic: its settings, the defaults it takes (the broker's with
	 * the dynamic ones), the built-in defaults, the --config file's
	 * defaults; both: the dynamic broker configs, this broker's and the
	 * default (DT_SELF, DT_DEFAULT, "key=value" lines). */
	char *texts[7];
	struct proto_config_synonym *syn;
	char (*names)[96]; /* broker synonym names */
};

/* DT_ALIAS: the time aliases the --config file set, as it gave them
 * (broker_config_render_aliases). */
enum { DT_SELF = 4, DT_DEFAULT = 5, DT_ALIAS = 6, DT_N };

/* The synonyms one entry can have: the topic's, the two dynamic levels,
 * the file's key and its two aliases, the default. */
#define SYN_MAX 8

static void described_free(struct described *d)
{
	for (int i = 0; i < DT_N; i++)
		free(d->texts[i]);
	free(d->syn);
	free(d->names);
}

/* Whether key is asked for (keys null or empty: every one, as Kafka's
 * ConfigHelper.createResponseConfig). */
static bool key_asked(const struct proto_describe_configs_resource *res, struct kstr key)
{
	if (!res || res->n_configuration_keys <= 0)
		return true;
	for (int32_t i = 0; i < res->n_configuration_keys; i++)
		if (kstr_set_same(res->configuration_keys[i], key))
			return true;
	return false;
}

/* A dynamic broker setting's values in d (DT_SELF, DT_DEFAULT): *mine
 * this broker's, *all the cluster default's (null where not set). */
static void dynamic_values(const struct described *d, const size_t *lens, struct kstr k,
			   struct kstr *mine, struct kstr *all)
{
	char key[96];

	*mine = *all = KSTR_NULL;
	if ((size_t)k.len >= sizeof(key))
		return;
	memcpy(key, k.ptr, (size_t)k.len);
	key[k.len] = '\0';
	/* topic_kv_find leaves its value at the last line's when it finds
	 * none: only what it found counts. */
	if (topic_kv_find(d->texts[DT_SELF], lens[DT_SELF], key, mine) < 0)
		*mine = KSTR_NULL;
	if (topic_kv_find(d->texts[DT_DEFAULT], lens[DT_DEFAULT], key, all) < 0)
		*all = KSTR_NULL;
}

/* The synonyms of a dynamic broker setting's levels set, Kafka's order
 * (this broker's, then the cluster default's) into e. */
static void dynamic_synonyms(struct proto_describe_configs_entry *e, struct kstr k,
			     struct kstr mine, struct kstr all)
{
	if (mine.ptr)
		e->synonyms[e->n_synonyms++] =
			(struct proto_config_synonym){ k, mine, SRC_DYNAMIC_BROKER };
	if (all.ptr)
		e->synonyms[e->n_synonyms++] =
			(struct proto_config_synonym){ k, all, SRC_DYNAMIC_DEFAULT };
}

/* The time aliases of a broker key (Kafka's
 * DynamicBrokerConfig.brokerConfigSynonyms after the key itself), in
 * Kafka's order, and the built-in default of each (NULL: none, as
 * Kafka's log.retention.minutes). */
static const struct {
	const char *key, *alias, *builtin;
} time_aliases[] = {
	{ "log.retention.ms", "log.retention.minutes", NULL },
	{ "log.retention.ms", "log.retention.hours", "168" },
	{ "log.roll.ms", "log.roll.hours", "168" },
	{ "log.roll.jitter.ms", "log.roll.jitter.hours", "0" },
};

/* The file's values of the aliases of broker key k that follow name in
 * Kafka's list (name k: every alias), as STATIC_BROKER_CONFIG synonyms
 * into e, where the list has begun (entries past from: Kafka's list
 * starts at the name described, the dropWhile of
 * ConfigHelper.configSynonyms). */
static void alias_synonyms(struct proto_describe_configs_entry *e, int32_t from, struct kstr k,
			   const char *name, const struct described *d, size_t alen)
{
	bool after = kstr_eq(k, name);

	for (size_t i = 0; i < sizeof(time_aliases) / sizeof(time_aliases[0]); i++) {
		struct kstr v;

		if (!kstr_eq(k, time_aliases[i].key))
			continue;
		after |= !strcmp(name, time_aliases[i].alias);
		if (!after ||
		    topic_kv_find(d->texts[DT_ALIAS], alen, time_aliases[i].alias, &v) < 0)
			continue;
		if (e->n_synonyms > from || !strcmp(name, time_aliases[i].alias))
			e->synonyms[e->n_synonyms++] =
				(struct proto_config_synonym){ kstr_of(time_aliases[i].alias), v,
							       SRC_STATIC_BROKER };
	}
}

/* The DEFAULT_CONFIG synonym of the broker key k (bv its built-in
 * default) into e, as Kafka 3.7's ConfigHelper.configSynonyms lists it.
 * Kafka defines log.retention.ms (and .minutes), log.roll.ms,
 * log.roll.jitter.ms and log.flush.interval.ms without a default (null):
 * their default is that of the synonym they fall back to, listed under
 * its own name (log.retention.hours=168, ...), and the list starts at the
 * key's own name (the dropWhile there), so that synonym shows only after
 * a level that sets the key itself (own names of earlier levels in e,
 * from `from` on), and nothing shows otherwise. */
static void default_synonym(struct proto_describe_configs_entry *e, int32_t from, struct kstr k,
			    struct kstr bv)
{
	static const struct {
		const char *key, *alias, *value;
	} fallback[] = {
		{ "log.retention.ms", "log.retention.hours", "168" },
		{ "log.roll.ms", "log.roll.hours", "168" },
		{ "log.roll.jitter.ms", "log.roll.jitter.hours", "0" },
		{ "log.flush.interval.ms", "log.flush.scheduler.interval.ms",
		  "9223372036854775807" },
	};

	for (size_t i = 0; i < sizeof(fallback) / sizeof(fallback[0]); i++) {
		if (!kstr_eq(k, fallback[i].key))
			continue;
		if (e->n_synonyms > from)
			e->synonyms[e->n_synonyms++] = (struct proto_config_synonym){
				kstr_of(fallback[i].alias), kstr_of(fallback[i].value), SRC_DEFAULT
			};
		return;
	}
	e->synonyms[e->n_synonyms++] = (struct proto_config_synonym){ k, bv, SRC_DEFAULT };
}

/* The settings of a topic whose config is tc (fixed: it has records, so
 * its line format is read-only), as DescribeConfigs lists them: the keys
 * res asks for (res NULL: every one), with synonyms if asked. The entries
 * point into d. */
static int describe_topic_config(struct kafka_api *ka, const struct topic_config *tc, bool fixed,
				 const struct proto_describe_configs_resource *res, bool synonyms,
				 struct proto_describe_configs_result *out, struct described *d)
{
	struct topic_config cfgs[4];
	struct broker_config *builtin = NULL;
	size_t lens[DT_N] = { 0 };
	const char *p;
	struct kstr k, val;
	int n = 0, rc = 0;

	cfgs[0] = *tc;
	catalog_default_config(ka->b, &cfgs[1]);
	if ((rc = broker_config_new(&builtin)) < 0)
		goto out;
	topic_config_defaults_of(builtin, &cfgs[2]);
	topic_config_defaults_of(broker_cfg(ka->b), &cfgs[3]);
	for (int i = 0; i < 4 && rc == 0; i++)
		rc = topic_config_render(&cfgs[i], &d->texts[i], &lens[i]);
	if (rc == 0)
		rc = cluster_broker_dynamic_texts(ka->b->cluster, &d->texts[DT_SELF],
						  &lens[DT_SELF], &d->texts[DT_DEFAULT],
						  &lens[DT_DEFAULT]);
	if (rc == 0)
		rc = broker_config_render_aliases(broker_cfg(ka->b), &d->texts[DT_ALIAS],
						  &lens[DT_ALIAS]);
	if (rc < 0)
		goto out;
	out->configs = calloc(64, sizeof(*out->configs));
	d->syn = calloc(64 * SYN_MAX, sizeof(*d->syn));
	d->names = calloc(64, sizeof(*d->names));
	if (!out->configs || !d->syn || !d->names) {
		rc = -ENOMEM;
		goto out;
	}
	for (p = d->texts[0]; n < 64 && topic_kv_next(&p, d->texts[0] + lens[0], &k, &val);) {
		struct proto_describe_configs_entry *e = &out->configs[n];
		struct kstr dv = KSTR_NULL, bv = KSTR_NULL, sv = KSTR_NULL, mine = KSTR_NULL,
			    all = KSTR_NULL;
		const char *bk;
		bool in_file, dyn;
		char key[96];

		if (kstr_eq(k, "partitions") || !key_asked(res, k) || (size_t)k.len >= sizeof(key))
			continue;
		memcpy(key, k.ptr, (size_t)k.len);
		key[k.len] = '\0';
		topic_kv_find(d->texts[1], lens[1], key, &dv);
		topic_kv_find(d->texts[2], lens[2], key, &bv);
		topic_kv_find(d->texts[3], lens[3], key, &sv);
		e->name = k;
		e->value = val;
		e->read_only = fixed && (kstr_eq(k, "key.separator") || kstr_eq(k, "line.format"));
		bk = topic_config_broker_key(key);
		snprintf(d->names[n], sizeof(d->names[n]), "%s", bk ? bk : key);
		/* The dynamic broker values of its broker key (Kafka's
		 * DynamicLogConfig keys only: their first synonym). */
		dyn = broker_config_dynamic_key(d->names[n], strlen(d->names[n]));
		if (dyn)
			dynamic_values(d, lens, kstr_of(d->names[n]), &mine, &all);
		/* As Kafka's: a key of the topic's overrides is TOPIC_CONFIG
		 * whatever its value; one inherited is, in Kafka's order of
		 * precedence, DYNAMIC_BROKER_CONFIG when this broker has a
		 * dynamic value of its broker key, DYNAMIC_DEFAULT_BROKER_CONFIG
		 * when the cluster's default has one, STATIC_BROKER_CONFIG when
		 * the broker's file set it (even to the built-in default), else
		 * DEFAULT_CONFIG. */
		in_file =
			broker_config_file_set(broker_cfg(ka->b), d->names[n], strlen(d->names[n]));
		e->config_source = !kstr_set_same(val, dv) || topic_config_key_set(&cfgs[0], k.ptr,
										   (size_t)k.len)
					   ? SRC_TOPIC
				   : mine.ptr ? SRC_DYNAMIC_BROKER
				   : all.ptr  ? SRC_DYNAMIC_DEFAULT
				   : in_file  ? SRC_STATIC_BROKER
					      : SRC_DEFAULT;
		e->is_default = e->config_source == SRC_DEFAULT;
		e->config_type = config_type(k);
		e->documentation = KSTR_NULL;
		if (synonyms) {
			struct proto_config_synonym *s = &d->syn[n * SYN_MAX];
			struct kstr bn = kstr_of(d->names[n]);

			e->synonyms = s;
			if (e->config_source == SRC_TOPIC)
				s[e->n_synonyms++] =
					(struct proto_config_synonym){ k, val, SRC_TOPIC };
			if (mine.ptr)
				s[e->n_synonyms++] =
					(struct proto_config_synonym){ bn, mine,
								       SRC_DYNAMIC_BROKER };
			if (all.ptr)
				s[e->n_synonyms++] =
					(struct proto_config_synonym){ bn, all,
								       SRC_DYNAMIC_DEFAULT };
			if (in_file)
				s[e->n_synonyms++] =
					(struct proto_config_synonym){ bn, sv, SRC_STATIC_BROKER };
			alias_synonyms(e, e->config_source == SRC_TOPIC, bn, d->names[n], d,
				       lens[DT_ALIAS]);
			default_synonym(e, e->config_source == SRC_TOPIC, bn, bv);
		}
		n++;
	}
	out->n_configs = n;
out:
	broker_config_free(builtin);
	return rc;
}

/* What a CreateTopics answer holds on to until it is sent. */
struct created {
	struct described d;
	struct proto_describe_configs_result desc;
};

/* A created (or validated) topic's settings in its answer (v5+), as
 * Kafka's CreateTopics lists them: every topic setting with its value and
 * source, as DescribeConfigs gives them. Java's admin client reads this
 * list of every topic created without an error (a null one is a
 * NullPointerException that fails its createTopics). */
static int created_configs(struct kafka_api *ka, const struct topic_config *tc,
			   struct proto_creatable_topic_result *r, struct created *c)
{
	int rc = describe_topic_config(ka, tc, false, NULL, false, &c->desc, &c->d);

	if (rc < 0)
		return rc;
	r->configs = calloc((size_t)c->desc.n_configs + 1, sizeof(*r->configs));
	if (!r->configs)
		return -ENOMEM;
	for (int32_t i = 0; i < c->desc.n_configs; i++) {
		const struct proto_describe_configs_entry *e = &c->desc.configs[i];

		r->configs[i] = (struct proto_topic_config_desc){
			.name = e->name,
			.value = e->value,
			.read_only = e->read_only,
			.config_source = e->config_source,
			.is_sensitive = e->is_sensitive,
		};
	}
	r->n_configs = c->desc.n_configs;
	return 0;
}

static void create_topics_release(void *answer, void *hold)
{
	struct proto_creatable_topic_result *r = answer;
	struct created *c = hold;

	free(r->configs);
	free(c->desc.configs);
	described_free(&c->d);
}

static int describe_topic(struct kafka_api *ka, const struct proto_describe_configs_resource *res,
			  bool synonyms, struct proto_describe_configs_result *out,
			  struct described *d, struct verdict *v)
{
	char name[TOPIC_NAME_MAX + 1];
	struct topic_config tc;
	struct topic *t = NULL;
	int rc;

	if (topic_cname(res->resource_name, name, sizeof(name)) < 0 ||
	    broker_topic_get(ka->b, name, &t) < 0 || topic_config_get(t, &tc) < 0) {
		topic_put(t);
		refuse(v, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no such topic");
		return 0;
	}
	rc = describe_topic_config(ka, &tc, topic_has_records(t), res, synonyms, out, d);
	topic_put(t);
	return rc;
}

/* The built-in defaults of every broker setting, as broker_config_render
 * writes them, the cluster's too (rendered as for a broker with a
 * listener), into *text: what DEFAULT_CONFIG means. */
static int builtin_broker_text(char **text, size_t *len)
{
	struct broker_config *builtin = NULL;
	int rc = broker_config_new(&builtin);

	if (rc < 0)
		return rc;
	builtin->cluster.listeners_set = true;
	rc = broker_config_render(builtin, text, len);
	broker_config_free(builtin);
	return rc;
}

/* The cluster's dynamic default (the broker resource ""), as Kafka's
 * ConfigHelper answers it: the keys set there only, each
 * DYNAMIC_DEFAULT_BROKER_CONFIG with that one synonym, not this broker's
 * settings in effect. kafka-configs.sh --entity-default keeps the
 * entries of that source from this answer and sends them back with its
 * change as the whole set (AlterConfigs): a key this broker sets for
 * itself, answered from another source, would be dropped from the
 * default. */
static int describe_broker_default(struct kafka_api *ka,
				   const struct proto_describe_configs_resource *res, bool synonyms,
				   struct proto_describe_configs_result *out, struct described *d)
{
	size_t lens[6] = { 0 };
	const char *p, *end;
	struct kstr k, val;
	int n = 0, cap = 0;
	int rc = cluster_broker_dynamic_texts(ka->b->cluster, &d->texts[DT_SELF], &lens[DT_SELF],
					      &d->texts[DT_DEFAULT], &lens[DT_DEFAULT]);

	if (rc < 0)
		return rc;
	end = d->texts[DT_DEFAULT] + lens[DT_DEFAULT];
	for (p = d->texts[DT_DEFAULT]; topic_kv_next(&p, end, &k, &val);)
		cap++;
	out->configs = calloc((size_t)cap + 1, sizeof(*out->configs));
	d->syn = calloc((size_t)cap + 1, sizeof(*d->syn));
	if (!out->configs || !d->syn)
		return -ENOMEM;
	for (p = d->texts[DT_DEFAULT]; n < cap && topic_kv_next(&p, end, &k, &val);) {
		struct proto_describe_configs_entry *e = &out->configs[n];

		if (!key_asked(res, k))
			continue;
		e->name = k;
		e->value = val;
		e->config_source = SRC_DYNAMIC_DEFAULT;
		e->config_type = TYPE_STRING;
		e->documentation = KSTR_NULL;
		if (synonyms) {
			e->synonyms = &d->syn[n];
			dynamic_synonyms(e, k, KSTR_NULL, val);
		}
		n++;
	}
	out->n_configs = n;
	return 0;
}

/* Whether Kafka defines broker key k without a default (its value
 * null where no level sets it): the keys default_synonym falls back
 * for. */
static bool no_builtin(struct kstr k)
{
	return kstr_eq(k, "log.retention.ms") || kstr_eq(k, "log.roll.ms") ||
	       kstr_eq(k, "log.roll.jitter.ms") || kstr_eq(k, "log.flush.interval.ms");
}

/* The time aliases as broker settings of their own, as Kafka lists them
 * (read-only, INT): the file's value as it gave it, STATIC_BROKER_CONFIG,
 * else the built-in default (log.retention.minutes has none: null),
 * DEFAULT_CONFIG; synonyms from the alias's own name on (Kafka's
 * dropWhile): the file's, a later alias's, the default hours. Into
 * out->configs from n; returns the new count. */
static int describe_aliases(const struct proto_describe_configs_resource *res, bool synonyms,
			    struct proto_describe_configs_result *out, int n,
			    const struct described *d, size_t alen)
{
	for (size_t i = 0; i < sizeof(time_aliases) / sizeof(time_aliases[0]); i++) {
		struct proto_describe_configs_entry *e = &out->configs[n];
		struct kstr name = kstr_of(time_aliases[i].alias), v;
		bool in_file =
			topic_kv_find(d->texts[DT_ALIAS], alen, time_aliases[i].alias, &v) >= 0;

		if (!key_asked(res, name))
			continue;
		e->name = name;
		e->value = in_file                   ? v
			   : time_aliases[i].builtin ? kstr_of(time_aliases[i].builtin)
						     : KSTR_NULL;
		e->read_only = true;
		e->config_source = in_file ? SRC_STATIC_BROKER : SRC_DEFAULT;
		e->is_default = !in_file;
		e->config_type = TYPE_INT;
		e->documentation = KSTR_NULL;
		if (synonyms) {
			struct kstr k = kstr_of(time_aliases[i].key);

			e->synonyms = &d->syn[n * SYN_MAX];
			alias_synonyms(e, 0, k, time_aliases[i].alias, d, alen);
			/* the default: the last alias's (hours) */
			for (size_t j = i; j < sizeof(time_aliases) / sizeof(time_aliases[0]); j++)
				if (kstr_eq(k, time_aliases[j].key) &&
				    (j + 1 == sizeof(time_aliases) / sizeof(time_aliases[0]) ||
				     !kstr_eq(k, time_aliases[j + 1].key)) &&
				    (e->n_synonyms > 0 || j == i))
					e->synonyms[e->n_synonyms++] =
						(struct proto_config_synonym){
							kstr_of(time_aliases[j].alias),
							kstr_of(time_aliases[j].builtin),
							SRC_DEFAULT
						};
		}
		n++;
	}
	return n;
}

/* The broker's own settings: its id names it. Each with its value
 * in effect, Kafka's precedence: this broker's dynamic value
 * (DYNAMIC_BROKER_CONFIG), the cluster's dynamic default
 * (DYNAMIC_DEFAULT_BROKER_CONFIG), the --config file's
 * (STATIC_BROKER_CONFIG, where the file set the key, as Kafka's, by
 * presence in its originals), else DEFAULT_CONFIG (is_default in v0);
 * read-only but the dynamic ones (broker_config_reconfigurable_key's and
 * the throttle rates, listed after the others when set); synonyms, when
 * asked, every level set, in that order, then the built-in default. */
static int describe_broker(struct kafka_api *ka, const struct proto_describe_configs_resource *res,
			   bool synonyms, struct proto_describe_configs_result *out,
			   struct described *d, struct verdict *v)
{
	static const char *const rates[] = { THROTTLE_LEADER_RATE, THROTTLE_FOLLOWER_RATE };
	char id[16];
	size_t lens[DT_N] = { 0 }, blen = 0;
	const char *p;
	struct kstr k, val;
	int n = 0, cap = 0, rc;

	if (res->resource_name.len <= 0)
		return describe_broker_default(ka, res, synonyms, out, d);
	snprintf(id, sizeof(id), "%d", (int)kafka_broker_id(ka));
	if (!kstr_eq(res->resource_name, id)) {
		refuse(v, PROTO_ERR_INVALID_REQUEST, "this is broker %s", id);
		return 0;
	}
	rc = broker_config_render(broker_cfg(ka->b), &d->texts[0], &lens[0]);
	if (rc == 0)
		rc = cluster_broker_dynamic_texts(ka->b->cluster, &d->texts[DT_SELF],
						  &lens[DT_SELF], &d->texts[DT_DEFAULT],
						  &lens[DT_DEFAULT]);
	if (rc == 0)
		rc = builtin_broker_text(&d->texts[2], &blen);
	if (rc == 0)
		rc = broker_config_render_aliases(broker_cfg(ka->b), &d->texts[DT_ALIAS],
						  &lens[DT_ALIAS]);
	if (rc < 0)
		return rc;
	for (p = d->texts[0]; topic_kv_next(&p, d->texts[0] + lens[0], &k, &val);)
		cap++;
	cap += (int)(sizeof(time_aliases) / sizeof(time_aliases[0])) + 2;
	out->configs = calloc((size_t)cap + 1, sizeof(*out->configs));
	d->syn = calloc(((size_t)cap + 1) * SYN_MAX, sizeof(*d->syn));
	if (!out->configs || !d->syn)
		return -ENOMEM;
	for (p = d->texts[0]; topic_kv_next(&p, d->texts[0] + lens[0], &k, &val);) {
		struct proto_describe_configs_entry *e = &out->configs[n];
		bool secret = k.len >= 11 && !memcmp(k.ptr + k.len - 11, "jaas.config", 11);
		/* advertised.listeners has no default in Kafka (null): unset,
		 * it is described null from DEFAULT_CONFIG, not with the
		 * listeners it falls back to (the rendered text, which .config
		 * shows, has those), and its default synonym is null. */
		bool no_default = kstr_eq(k, "advertised.listeners");
		bool unset = no_default && !broker_cfg(ka->b)->cluster.net.n_advertised;
		bool dyn = broker_config_reconfigurable_key(k.ptr, (size_t)k.len);
		struct kstr bv = KSTR_NULL, mine = KSTR_NULL, all = KSTR_NULL;
		struct kstr file = secret || unset ? KSTR_NULL : val;
		char key[96] = "";

		if (!key_asked(res, k))
			continue;
		if (!no_default && (size_t)k.len < sizeof(key)) {
			memcpy(key, k.ptr, (size_t)k.len);
			key[k.len] = '\0';
			topic_kv_find(d->texts[2], blen, key, &bv);
		}
		if (dyn)
			dynamic_values(d, lens, k, &mine, &all);
		/* Kafka's static source is the key's presence in the file
		 * (its originals), not a value other than the default; an
		 * alias (log.retention.hours) is a setting of its own. */
		bool in_file =
			!unset && broker_config_file_set(broker_cfg(ka->b), k.ptr, (size_t)k.len);
		/* A key Kafka defines without a default (log.retention.ms,
		 * ...) that no level sets is null from DEFAULT_CONFIG, as
		 * Kafka's KafkaConfig value of it; its aliases say what
		 * applies. */
		if (!in_file && !mine.ptr && !all.ptr && no_builtin(k))
			file = KSTR_NULL;
		e->name = k;
		e->value = mine.ptr ? mine : all.ptr ? all : file;
		e->is_sensitive = secret;
		/* Kafka's: not read-only when dynamic; a single node has
		 * no dynamic settings (alter_broker). */
		e->read_only =
			!(dyn && ka->b->cluster && cluster_config_zk(&broker_cfg(ka->b)->cluster));
		e->config_source = mine.ptr  ? SRC_DYNAMIC_BROKER
				   : all.ptr ? SRC_DYNAMIC_DEFAULT
				   : in_file ? SRC_STATIC_BROKER
					     : SRC_DEFAULT;
		e->is_default = e->config_source == SRC_DEFAULT;
		e->config_type = TYPE_STRING;
		e->documentation = KSTR_NULL;
		if (synonyms) {
			/* as Kafka's: the dynamic values, the file's, then the
			 * built-in default (a secret's neither) */
			e->synonyms = &d->syn[n * SYN_MAX];
			dynamic_synonyms(e, k, mine, all);
			if (in_file)
				e->synonyms[e->n_synonyms++] =
					(struct proto_config_synonym){ k, file, SRC_STATIC_BROKER };
			alias_synonyms(e, 0, k, key, d, lens[DT_ALIAS]);
			if ((bv.ptr && secret) || no_default)
				e->synonyms[e->n_synonyms++] =
					(struct proto_config_synonym){ k, KSTR_NULL, SRC_DEFAULT };
			else if (bv.ptr)
				default_synonym(e, 0, k, bv);
		}
		n++;
	}
	n = describe_aliases(res, synonyms, out, n, d, lens[DT_ALIAS]);
	/* The throttle rates: dynamic only, listed where set. */
	for (int i = 0; i < 2; i++) {
		struct proto_describe_configs_entry *e = &out->configs[n];
		struct kstr mine, all;

		k = kstr_of(rates[i]);
		dynamic_values(d, lens, k, &mine, &all);
		if ((!mine.ptr && !all.ptr) || !key_asked(res, k))
			continue;
		e->name = k;
		e->value = mine.ptr ? mine : all;
		e->config_source = mine.ptr ? SRC_DYNAMIC_BROKER : SRC_DYNAMIC_DEFAULT;
		e->config_type = TYPE_LONG;
		e->documentation = KSTR_NULL;
		if (synonyms) {
			e->synonyms = &d->syn[n * SYN_MAX];
			dynamic_synonyms(e, k, mine, all);
		}
		n++;
	}
	out->n_configs = n;
	return 0;
}

/* The znode name of a broker resource: "" the default of every broker,
 * else this broker's id (Kafka's ZkAdminManager.getBrokerId). */
static int16_t broker_entity(struct kafka_api *ka, struct kstr rname, char *name, size_t size,
			     struct verdict *v)
{
	int32_t self = kafka_broker_id(ka);
	int64_t id = 0;

	if (rname.len <= 0) {
		snprintf(name, size, "%s", ZK_BROKER_DEFAULT);
		return 0;
	}
	for (int32_t i = 0; i < rname.len && id <= INT32_MAX; i++) {
		if (rname.ptr[i] < '0' || rname.ptr[i] > '9')
			return refuse(v, PROTO_ERR_INVALID_REQUEST,
				      "Broker id must be an integer, but it is: %.*s",
				      (int)(rname.len < 40 ? rname.len : 40), rname.ptr);
		id = id * 10 + (rname.ptr[i] - '0');
	}
	if (id != self)
		return refuse(v, PROTO_ERR_INVALID_REQUEST,
			      "Unexpected broker id, expected %d, but received %.*s", (int)self,
			      (int)(rname.len < 40 ? rname.len : 40), rname.ptr);
	snprintf(name, size, "%d", (int)self);
	return 0;
}

/* ---- the broker's logger (resource type BROKER_LOGGER) ----
 *
 * The daemon has one log with one level (-d, the debug option: DEBUG,
 * else INFO), Kafka's root logger: "root" (Log4jController.ROOT_LOGGER),
 * its level in Kafka's words. Setting it changes the running daemon's
 * level until it stops, as Kafka's (log4j's, not kept across a restart). */
#define ROOT_LOGGER "root"

static const char *logger_word(int level)
{
	if (level >= MQ_DEBUG)
		return "DEBUG";
	if (level >= MQ_WARN + 1) /* NOTICE lines show at INFO */
		return "INFO";
	if (level >= MQ_WARN)
		return "WARN";
	if (level >= MQ_ERR)
		return "ERROR";
	return "FATAL";
}

/* The level of one of Kafka's words (LogLevelConfig.VALID_LOG_LEVELS, as
 * spelt there); -1 for any other. TRACE is DEBUG: mqfs has no finer one. */
static int logger_level(struct kstr word)
{
	static const struct {
		const char *word;
		int level;
	} words[] = { { "FATAL", MQ_ERR - 1 }, { "ERROR", MQ_ERR },   { "WARN", MQ_WARN },
		      { "INFO", MQ_INFO },     { "DEBUG", MQ_DEBUG }, { "TRACE", MQ_DEBUG } };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (kstr_set_same(word, kstr_of(words[i].word)))
			return words[i].level;
	return -1;
}

/* A BROKER_LOGGER resource names this broker by its id, never "" (Kafka's
 * ConfigHelper and RuntimeLoggerManager: INVALID_REQUEST). */
static int16_t logger_entity(struct kafka_api *ka, struct kstr rname, struct verdict *v)
{
	char name[24];

	if (rname.len <= 0)
		return refuse(v, PROTO_ERR_INVALID_REQUEST, "Broker id must not be empty");
	return broker_entity(ka, rname, name, sizeof(name), v);
}

/* DescribeConfigs of the broker's logger: the root logger and its level,
 * as Kafka lists a logger (DYNAMIC_BROKER_LOGGER_CONFIG, not read-only,
 * no synonyms, type and documentation left at the schema's defaults). */
static void describe_logger(struct kafka_api *ka, const struct proto_describe_configs_resource *res,
			    struct proto_describe_configs_result *out, struct verdict *v)
{
	struct proto_describe_configs_entry *e;

	if (logger_entity(ka, res->resource_name, v) || !key_asked(res, kstr_of(ROOT_LOGGER)))
		return;
	out->configs = calloc(1, sizeof(*out->configs));
	if (!out->configs) {
		refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
		return;
	}
	e = &out->configs[0];
	e->name = kstr_of(ROOT_LOGGER);
	e->value = kstr_of(logger_word(mq_log_level()));
	e->config_source = SRC_DYNAMIC_BROKER_LOGGER;
	e->documentation = kstr_of("");
	out->n_configs = 1;
}

static int describe_configs_fill(const struct admin_req *ar, const struct admin_api *api, int32_t i,
				 void *answer, void *hold, struct verdict *v)
{
	const struct proto_describe_configs_req *m = &ar->pr->u.describe_configs;
	const struct proto_describe_configs_resource *res = &m->resources[i];
	struct proto_describe_configs_result *r = answer;
	struct described *d = hold;
	int rc = 0;

	(void)api;
	r->resource_type = res->resource_type;
	r->resource_name = res->resource_name;
	if (config_denied(ar, false, res->resource_type, res->resource_name, v))
		;
	else if (res->resource_type == PROTO_RESOURCE_TOPIC)
		rc = describe_topic(ar->ka, res, m->include_synonyms, r, d, v);
	else if (res->resource_type == PROTO_RESOURCE_BROKER)
		rc = describe_broker(ar->ka, res, m->include_synonyms, r, d, v);
	else if (res->resource_type == PROTO_RESOURCE_BROKER_LOGGER)
		describe_logger(ar->ka, res, r, v);
	else if (res->resource_type == PROTO_RESOURCE_GROUP)
		v->code = group_admin_describe_configs(ar->ka->b, res->resource_name, ar->peer, r,
						       v->msg, sizeof(v->msg));
	else
		refuse(v, PROTO_ERR_INVALID_REQUEST, "unsupported resource type %d",
		       (int)res->resource_type);
	if (v->code)
		r->n_configs = 0;
	return rc;
}

static int describe_configs_encode(struct kbuf_w *w, int16_t ver, void *answers, int32_t n)
{
	struct proto_describe_configs_resp resp = { .n_results = n, .results = answers };

	return proto_describe_configs_resp_encode(w, ver, &resp);
}

static void describe_configs_release(void *answer, void *hold)
{
	struct proto_describe_configs_result *r = answer;

	free(r->configs);
	described_free(hold);
}

/* ---- AlterConfigs, IncrementalAlterConfigs ---- */

/* The .config text of one resource's changes into f. */
static int16_t alter_text(FILE *f, const struct proto_alter_configs_resource *res, bool incremental,
			  const char *defaults, size_t dlen, struct verdict *v)
{
	for (int32_t i = 0; i < res->n_configs; i++) {
		const struct proto_config *c = &res->configs[i];
		struct kstr dv;
		char key[96];

		if (!incremental || c->config_operation == PROTO_CONFIG_SET) {
			if (config_line(f, c, v))
				return v->code;
			continue;
		}
		if (c->config_operation == PROTO_CONFIG_APPEND ||
		    c->config_operation == PROTO_CONFIG_SUBTRACT)
			return refuse(
				v, PROTO_ERR_INVALID_CONFIG,
				"'%.*s': APPEND and SUBTRACT are not supported (SET the whole value)",
				(int)c->name.len, c->name.ptr);
		if (c->config_operation != PROTO_CONFIG_DELETE)
			return refuse(v, PROTO_ERR_INVALID_REQUEST, "unknown config operation %d",
				      (int)c->config_operation);
		if (!c->name.ptr || (size_t)c->name.len >= sizeof(key) ||
		    kstr_eq(c->name, "partitions"))
			return refuse(v, PROTO_ERR_INVALID_CONFIG, "'%.*s' is not a topic config",
				      c->name.ptr ? (int)c->name.len : 0,
				      c->name.ptr ? c->name.ptr : "");
		memcpy(key, c->name.ptr, (size_t)c->name.len);
		key[c->name.len] = '\0';
		if (topic_kv_find(defaults, dlen, key, &dv) < 0)
			return refuse(v, PROTO_ERR_INVALID_CONFIG, "unknown topic config '%s'",
				      key);
		fprintf(f, "-%s\n", key); /* no override: the default */
	}
	if (incremental)
		return 0;
	/* AlterConfigs sets the whole set: what is not given is the
	 * default again (but the settings fixed once records exist). */
	for (const char *p = defaults; true;) {
		struct kstr k, dv;
		bool given = false;

		if (!topic_kv_next(&p, defaults + dlen, &k, &dv))
			break;
		if (kstr_eq(k, "partitions") || kstr_eq(k, "key.separator") ||
		    kstr_eq(k, "line.format"))
			continue;
		for (int32_t i = 0; i < res->n_configs && !given; i++)
			given = kstr_set_same(k, res->configs[i].name);
		if (!given)
			fprintf(f, "-%.*s\n", (int)k.len, k.ptr);
	}
	return 0;
}

/* The name of a dynamic broker setting (the replication throttle rates,
 * and broker_config_reconfigurable_key's: the topic defaults and Kafka's
 * other reconfigurable settings mqfs has, which this broker changes
 * without a restart), as a string that lives on; NULL for
 * any other. */
static const char *broker_key_dynamic(struct kstr name)
{
	const char *key;

	if (kstr_eq(name, THROTTLE_LEADER_RATE))
		return THROTTLE_LEADER_RATE;
	if (kstr_eq(name, THROTTLE_FOLLOWER_RATE))
		return THROTTLE_FOLLOWER_RATE;
	for (size_t i = 0; name.ptr && (key = broker_config_reconfigurable_key_at(i)); i++)
		if (kstr_eq(name, key))
			return key;
	return NULL;
}

/* The level's stored "key=value" lines (text, len) with the change: for
 * replace the set alone, else the stored ones but those set or deleted,
 * then the set. Into *out (malloc'ed). 0 or -ENOMEM. */
static int level_changed(const char *text, size_t len, const struct zk_config *set,
			 const char *const *del, int n_del, bool replace, char **out, size_t *olen)
{
	FILE *f = open_memstream(out, olen);
	const char *p = text;
	struct kstr k, v;

	if (!f)
		return -ENOMEM;
	while (!replace && topic_kv_next(&p, text + len, &k, &v)) {
		char key[128];
		bool gone = false;

		if ((size_t)k.len >= sizeof(key))
			continue; /* no dynamic key is that long */
		memcpy(key, k.ptr, (size_t)k.len);
		key[k.len] = '\0';
		for (int i = 0; i < n_del && !gone; i++)
			gone = !strcmp(del[i], key);
		if (!gone && !zk_config_get(set, key))
			fprintf(f, "%s=%.*s\n", key, (int)v.len, v.ptr);
	}
	for (int i = 0; i < set->n; i++)
		fprintf(f, "%s=%s\n", set->keys[i], set->values[i]);
	return fclose(f) == 0 ? 0 : -ENOMEM;
}

/* The whole config this broker would have with the change to the level
 * named (its id or <default>), checked as one, as Kafka's
 * DynamicBrokerConfig.validate builds one KafkaConfig of the file's,
 * the default's and this broker's (the other level as stored; a stored
 * value that does not parse skipped, as Kafka drops it): 0, or -EINVAL
 * with why when the levels together do not check (a min compaction lag
 * above another level's max, ...), or -ENOMEM. */
static int broker_combined_check(struct kafka_api *ka, const char *name,
				 const struct zk_config *set, const char *const *del, int n_del,
				 bool replace, char *why, size_t size)
{
	bool dflt = !strcmp(name, ZK_BROKER_DEFAULT);
	char *self = NULL, *def = NULL, *lvl = NULL;
	size_t slen = 0, dlen = 0, llen = 0;
	struct broker_config *c = malloc(sizeof(*c));
	int rc = c ? cluster_broker_dynamic_texts(ka->b->cluster, &self, &slen, &def, &dlen)
		   : -ENOMEM;

	if (rc == 0)
		rc = level_changed(dflt ? def : self, dflt ? dlen : slen, set, del, n_del, replace,
				   &lvl, &llen);
	if (rc == 0)
		rc = broker_config_dynamic_effective(broker_cfg(ka->b), dflt ? lvl : def,
						     dflt ? llen : dlen, dflt ? self : lvl,
						     dflt ? slen : llen, c, NULL, NULL, why, size);
	free(self);
	free(def);
	free(lvl);
	free(c);
	return rc;
}

/* Checks one dynamic value as its static key's in a --config file would
 * be, its type and range (the throttle rates: 0..2^63-1): 0, or -EINVAL
 * with why. */
static int broker_value_check(struct kafka_api *ka, const char *key, const char *value, char *why,
			      size_t size)
{
	struct broker_config *c;
	char line[256];
	int64_t rate;
	int rc;

	if (!strcmp(key, THROTTLE_LEADER_RATE) || !strcmp(key, THROTTLE_FOLLOWER_RATE))
		return throttle_rate_parse(value, &rate, why, size);
	c = malloc(sizeof(*c));
	if (!c) {
		snprintf(why, size, "out of memory");
		return -ENOMEM;
	}
	*c = *broker_cfg(ka->b);
	snprintf(line, sizeof(line), "%s=%s", key, value);
	/* The value alone: its pairs (a min and max compaction lag) may be
	 * at another level, checked with all of them (broker_combined_check). */
	rc = broker_config_apply_dynamic_value(c, line, strlen(line), why, size);
	free(c);
	/* The parser's reason without its "line 1: " (one line here). */
	if (rc < 0 && !strncmp(why, "line 1: ", 8))
		memmove(why, why + 8, strlen(why + 8) + 1);
	return rc;
}

/* The most dynamic keys a request may name: each once. */
#define BROKER_DYNAMIC_MAX 40

/* AlterConfigs / IncrementalAlterConfigs of a broker: the dynamic
 * settings into /config/brokers/<id> or <default> (Kafka's
 * alterBrokerConfigs), every broker applying them from the notification.
 * Each value is checked as the static key's, then the whole config
 * with the other level and the file's (broker_combined_check: Kafka
 * builds its new KafkaConfig of them), for this broker's and the
 * default alike. */
static int16_t alter_broker(struct kafka_api *ka, const struct proto_alter_configs_resource *res,
			    bool incremental, bool validate_only, struct verdict *v)
{
	struct broker *b = ka->b;
	struct zk_config set = { 0 };
	const char *del[BROKER_DYNAMIC_MAX];
	char name[24], value[128], why[200], rname[32];
	int n_del = 0, rc;

	if (!b->cluster || !cluster_config_zk(&broker_cfg(b)->cluster))
		return refuse(v, PROTO_ERR_INVALID_REQUEST,
			      "broker settings are read-only here: they come from the --config "
			      "file (dynamic broker settings need zookeeper.connect)");
	if (broker_entity(ka, res->resource_name, name, sizeof(name), v))
		return v->code;
	/* Kafka's messages name the resource as its ConfigResource prints. */
	snprintf(rname, sizeof(rname), "%s", strcmp(name, ZK_BROKER_DEFAULT) ? name : "");
	for (int32_t i = 0; i < res->n_configs; i++) {
		const struct proto_config *c = &res->configs[i];
		const char *key = broker_key_dynamic(c->name);

		if (!key)
			return refuse(
				v, PROTO_ERR_INVALID_CONFIG,
				"Invalid config value for resource ConfigResource(type=BROKER, "
				"name='%s'): Cannot update these configs dynamically: "
				"Set(%.*s)",
				rname,
				c->name.ptr ? (int)(c->name.len < 100 ? c->name.len : 100) : 0,
				c->name.ptr ? c->name.ptr : "");
		if (incremental && c->config_operation == PROTO_CONFIG_DELETE) {
			/* Each key once (refused above when twice): at most
			 * every dynamic key. */
			if (n_del >= BROKER_DYNAMIC_MAX)
				return refuse(v, PROTO_ERR_INVALID_REQUEST, "too many configs");
			del[n_del++] = key;
			continue;
		}
		if (incremental && c->config_operation != PROTO_CONFIG_SET)
			return refuse(v, PROTO_ERR_INVALID_CONFIG,
				      "'%s' is not a list: APPEND and SUBTRACT do not apply", key);
		if (!c->value.ptr)
			return refuse(v, PROTO_ERR_INVALID_REQUEST, "null value for '%s'", key);
		snprintf(value, sizeof(value), "%.*s",
			 (int)(c->value.len < (int32_t)sizeof(value) ? c->value.len
								     : (int32_t)sizeof(value) - 1),
			 c->value.ptr);
		why[0] = '\0';
		if (c->value.len >= (int32_t)sizeof(value) ||
		    memchr(c->value.ptr, '\n', (size_t)c->value.len) ||
		    broker_value_check(ka, key, value, why, sizeof(why)) < 0) {
			/* No number: the parser's words are already Kafka's
			 * ConfigException's, the value and key in them. */
			if (!strncmp(why, "Invalid value ", 14))
				return refuse(v, PROTO_ERR_INVALID_CONFIG,
					      "Invalid config value for resource "
					      "ConfigResource(type=BROKER, name='%s'): %s",
					      rname, why);
			return refuse(
				v, PROTO_ERR_INVALID_CONFIG,
				"Invalid config value for resource ConfigResource(type=BROKER, "
				"name='%s'): Invalid value %.*s for configuration %s: %s",
				rname, (int)(c->value.len < 40 ? c->value.len : 40), c->value.ptr,
				key, why[0] ? why : "not a value of it");
		}
		if (zk_config_put(&set, key, strlen(key), value, strlen(value)) < 0) {
			zk_config_clear(&set);
			return refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
		}
	}
	why[0] = '\0';
	rc = broker_combined_check(ka, name, &set, del, n_del, !incremental, why, sizeof(why));
	if (rc < 0) {
		zk_config_clear(&set);
		if (rc != -EINVAL)
			return refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
		/* Kafka's require checks fail building the KafkaConfig, before
		 * the reconfiguration whose failures it words "Invalid dynamic
		 * configuration". */
		return refuse(
			v, PROTO_ERR_INVALID_CONFIG,
			"Invalid config value for resource ConfigResource(type=BROKER, "
			"name='%s'): %s%s",
			rname,
			strncmp(why, BROKER_CONFIG_REQUIREMENT, strlen(BROKER_CONFIG_REQUIREMENT))
				? "Invalid dynamic configuration: "
				: "",
			why);
	}
	if (!validate_only) {
		rc = cluster_broker_config_alter(b->cluster, name, &set, del, n_del, !incremental);
		if (rc < 0)
			refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR,
			       "%s/%s not written to ZooKeeper: %s", ZK_CONFIG_BROKERS_PATH, name,
			       strerror(-rc));
	}
	zk_config_clear(&set);
	return v->code;
}

/* IncrementalAlterConfigs of the broker's logger, as Kafka's
 * ConfigAdminManager.preprocess and RuntimeLoggerManager: every change
 * checked before any is made; SET of the root logger to one of Kafka's
 * level words; DELETE of it (Kafka's root cannot be unset), APPEND and
 * SUBTRACT INVALID_REQUEST; another logger name, or another word,
 * INVALID_CONFIG. The change is logged at WARN, as Kafka's. */
static int16_t alter_logger(struct kafka_api *ka, const struct proto_alter_configs_resource *res,
			    bool validate_only, const char *peer, struct verdict *v)
{
	int level = -1;

	for (int32_t i = 0; i < res->n_configs; i++) {
		const struct proto_config *c = &res->configs[i];
		int n = c->name.ptr ? (int)(c->name.len < 100 ? c->name.len : 100) : 0;

		if (c->config_operation != PROTO_CONFIG_DELETE && !c->value.ptr)
			return refuse(v, PROTO_ERR_INVALID_REQUEST,
				      "Null value not supported for : %.*s", n,
				      c->name.ptr ? c->name.ptr : "");
	}
	if (logger_entity(ka, res->resource_name, v))
		return v->code;
	for (int32_t i = 0; i < res->n_configs; i++) {
		const struct proto_config *c = &res->configs[i];
		int n = c->name.ptr ? (int)(c->name.len < 100 ? c->name.len : 100) : 0;
		const char *name = c->name.ptr ? c->name.ptr : "";

		if (c->config_operation == PROTO_CONFIG_APPEND ||
		    c->config_operation == PROTO_CONFIG_SUBTRACT)
			return refuse(v, PROTO_ERR_INVALID_REQUEST,
				      "%s operation is not allowed for the BROKER_LOGGER resource",
				      c->config_operation == PROTO_CONFIG_APPEND ? "APPEND"
										 : "SUBTRACT");
		if (c->config_operation != PROTO_CONFIG_SET &&
		    c->config_operation != PROTO_CONFIG_DELETE)
			return refuse(v, PROTO_ERR_INVALID_REQUEST,
				      "Unknown operation type %d is not allowed for the "
				      "BROKER_LOGGER resource",
				      (int)c->config_operation);
		if (!kstr_set_same(c->name, kstr_of(ROOT_LOGGER)))
			return refuse(v, PROTO_ERR_INVALID_CONFIG, "Logger %.*s does not exist!", n,
				      name);
		if (c->config_operation == PROTO_CONFIG_DELETE)
			return refuse(v, PROTO_ERR_INVALID_REQUEST,
				      "Removing the log level of the " ROOT_LOGGER
				      " logger is not allowed");
		level = logger_level(c->value);
		if (level < 0)
			return refuse(v, PROTO_ERR_INVALID_CONFIG,
				      "Cannot set the log level of %s to %.*s as it is not a "
				      "supported log level. Valid log levels are DEBUG, ERROR, "
				      "FATAL, INFO, TRACE, WARN",
				      ROOT_LOGGER, (int)(c->value.len < 40 ? c->value.len : 40),
				      c->value.ptr);
	}
	if (!validate_only && level >= 0) {
		mq_log_set_level(level);
		mq_log(MQ_WARN, "Updated the log level of %s to %s (by %s)", ROOT_LOGGER,
		       logger_word(level), peer);
	}
	return 0;
}

static int16_t alter_one(struct kafka_api *ka, const struct proto_alter_configs_resource *res,
			 bool incremental, bool validate_only, struct verdict *v)
{
	char name[TOPIC_NAME_MAX + 1], *defaults = NULL, *text = NULL;
	size_t dlen = 0, len = 0;
	struct topic_config tc, def, cur;
	struct topic *t = NULL;
	FILE *f;
	int rc;

	if (res->resource_type == PROTO_RESOURCE_BROKER)
		return alter_broker(ka, res, incremental, validate_only, v);
	if (res->resource_type != PROTO_RESOURCE_TOPIC)
		return refuse(v, PROTO_ERR_INVALID_REQUEST, "unsupported resource type %d",
			      (int)res->resource_type);
	if (topic_cname(res->resource_name, name, sizeof(name)) < 0 ||
	    broker_topic_get(ka->b, name, &t) < 0)
		return refuse(v, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no such topic");
	topic_config_defaults_of(broker_cfg(ka->b), &def);
	if (topic_config_get(t, &tc) < 0 || topic_config_render(&def, &defaults, &dlen) < 0) {
		refuse(v, PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION, "no such topic");
		goto out;
	}
	f = open_memstream(&text, &len);
	if (!f) {
		refuse(v, PROTO_ERR_UNKNOWN_SERVER_ERROR, "out of memory");
		goto out;
	}
	alter_text(f, res, incremental, defaults, dlen, v);
	fclose(f);
	cur = tc;
	if (v->code || config_check(&tc, &def, text, len, v))
		goto out;
	if ((cur.log.line_format != tc.log.line_format ||
	     cur.log.key_sep_len != tc.log.key_sep_len ||
	     memcmp(cur.log.key_sep, tc.log.key_sep, (size_t)tc.log.key_sep_len)) &&
	    topic_has_records(t)) {
		refuse(v, PROTO_ERR_INVALID_CONFIG,
		       "key.separator and line.format are fixed once the topic has records");
		goto out;
	}
	if (validate_only)
		goto out;
	rc = topic_config_write(t, text, len);
	if (rc < 0)
		topic_errno(rc, "settings not changed", v);
out:
	free(defaults);
	free(text);
	topic_put(t);
	return v->code;
}

static int alter_fill(const struct admin_req *ar, const struct admin_api *api, int32_t i,
		      void *answer, void *hold, struct verdict *v)
{
	const struct proto_alter_configs_req *m = &ar->pr->u.alter_configs;
	const struct proto_alter_configs_resource *res = &m->resources[i];
	struct proto_resource_result *r = answer;

	(void)hold;
	r->resource_type = res->resource_type;
	r->resource_name = res->resource_name;
	/* Kafka's ConfigAdminManager.preprocess: a resource (type and name)
	 * named twice is refused at each of its entries, before anything
	 * else; a topic and a broker may share a name. */
	for (int32_t j = 0; j < m->n_resources; j++)
		if (j != i && m->resources[j].resource_type == res->resource_type &&
		    kstr_set_same(m->resources[j].resource_name, res->resource_name)) {
			refuse(v, PROTO_ERR_INVALID_REQUEST,
			       "Each resource must appear at most once.");
			return 0;
		}
	/* Then a key given twice, whatever the resource (every alter_* below
	 * sees each key once). */
	for (int32_t k = 0; k < res->n_configs; k++)
		for (int32_t j = 0; j < k; j++)
			if (kstr_set_same(res->configs[k].name, res->configs[j].name)) {
				refuse(v, PROTO_ERR_INVALID_REQUEST,
				       "Error due to duplicate config keys");
				return 0;
			}
	if (config_denied(ar, true, res->resource_type, res->resource_name, v))
		return 0;
	if (res->resource_type == PROTO_RESOURCE_GROUP) {
		/* The consumer groups' settings: the coordinator's. */
		v->code = group_admin_alter(ar->ka->b, res, api->incremental, m->validate_only,
					    ar->peer, v->msg, sizeof(v->msg));
		if (!v->code && !m->validate_only)
			mq_log(MQ_INFO, "group %.*s: settings changed by %s (%s)",
			       (int)res->resource_name.len, res->resource_name.ptr, ar->peer,
			       api->name);
		return 0;
	}
	if (res->resource_type == PROTO_RESOURCE_BROKER_LOGGER && api->incremental) {
		alter_logger(ar->ka, res, m->validate_only, ar->peer, v);
		return 0;
	}
	alter_one(ar->ka, res, api->incremental, m->validate_only, v);
	if (v->code || m->validate_only)
		return 0;
	if (res->resource_type == PROTO_RESOURCE_BROKER) {
		/* Which entity's znode, and who: "" is every broker's (a
		 * name that was taken is this broker's id). */
		struct kstr e = res->resource_name.len > 0 ? res->resource_name
							   : kstr_of(ZK_BROKER_DEFAULT);

		mq_log(MQ_INFO, "%s/%.*s: dynamic broker settings (%s) changed by %s (%s)",
		       ZK_CONFIG_BROKERS_PATH, (int)e.len, e.ptr,
		       res->resource_name.len > 0 ? "this broker's own" : "every broker's default",
		       ar->peer, api->name);
	} else
		mq_log(MQ_INFO, "topic %.*s: settings changed by a Kafka client (%s)",
		       (int)res->resource_name.len, res->resource_name.ptr, api->name);
	return 0;
}

static int alter_configs_encode(struct kbuf_w *w, int16_t ver, void *answers, int32_t n)
{
	struct proto_alter_configs_resp resp = { .n_responses = n, .responses = answers };

	return proto_alter_configs_resp_encode(w, ver, &resp);
}

static int incr_alter_configs_encode(struct kbuf_w *w, int16_t ver, void *answers, int32_t n)
{
	struct proto_alter_configs_resp resp = { .n_responses = n, .responses = answers };

	return proto_incr_alter_configs_resp_encode(w, ver, &resp);
}

/* ---- the body every admin handler shares ---- */

/* The answer fields of struct type, its name in name_field. */
#define ANSWER_OF(type, name_field)                                                 \
	.size = sizeof(struct type), .name_off = offsetof(struct type, name_field), \
	.code_off = offsetof(struct type, error_code),                              \
	.msg_off = offsetof(struct type, error_message)

static const struct admin_api admin_apis[] = {
	{ .key = PROTO_API_CREATE_TOPICS,
	  .name = "CreateTopics",
	  .controller_only = true,
	  .count_off = offsetof(struct proto_req, u.create_topics.n_topics),
	  ANSWER_OF(proto_creatable_topic_result, name),
	  .hold_size = sizeof(struct created),
	  .fill = create_topics_fill,
	  .encode = create_topics_encode,
	  .release = create_topics_release },
	{ .key = PROTO_API_DELETE_TOPICS,
	  .name = "DeleteTopics",
	  .controller_only = true,
	  .count_off = offsetof(struct proto_req, u.delete_topics.n_topics),
	  ANSWER_OF(proto_delete_topic_result, name),
	  .hold_size = TOPIC_NAME_MAX + 1, /* a name found by topic id */
	  .fill = delete_topics_fill,
	  .refuse_all = delete_topics_refuse_all,
	  .encode = delete_topics_encode },
	{ .key = PROTO_API_CREATE_PARTITIONS,
	  .name = "CreatePartitions",
	  .controller_only = true,
	  .count_off = offsetof(struct proto_req, u.create_parts.n_topics),
	  ANSWER_OF(proto_resource_result, resource_name),
	  .fill = create_parts_fill,
	  .encode = create_parts_encode },
	{ .key = PROTO_API_DESCRIBE_CONFIGS,
	  .name = "DescribeConfigs",
	  .count_off = offsetof(struct proto_req, u.describe_configs.n_resources),
	  ANSWER_OF(proto_describe_configs_result, resource_name),
	  .hold_size = sizeof(struct described),
	  .fill = describe_configs_fill,
	  .encode = describe_configs_encode,
	  .release = describe_configs_release },
	{ .key = PROTO_API_ALTER_CONFIGS,
	  .name = "AlterConfigs",
	  .count_off = offsetof(struct proto_req, u.alter_configs.n_resources),
	  ANSWER_OF(proto_resource_result, resource_name),
	  .fill = alter_fill,
	  .encode = alter_configs_encode },
	{ .key = PROTO_API_INCREMENTAL_ALTER_CONFIGS,
	  .name = "IncrementalAlterConfigs",
	  .incremental = true,
	  .count_off = offsetof(struct proto_req, u.alter_configs.n_resources),
	  ANSWER_OF(proto_resource_result, resource_name),
	  .fill = alter_fill,
	  .encode = incr_alter_configs_encode },
};

/* Every admin API's handler: one answer per request entry built by its
 * fill (but the entries a fill answers with an earlier one, FILL_NONE),
 * each verdict logged and put into its answer's error fields, then the
 * response encoded. -ENOMEM, or a fill's or the encoder's error: no
 * response (the listener closes the connection). */
static int admin_handler(void *arg, struct net_req *req)
{
	struct admin_req ar = {
		.ka = arg, .pr = net_req_msg(req), .peer = net_req_peer(req), .req = req
	};
	const struct admin_api *api = NULL;
	char *answers = NULL, *holds = NULL;
	const char *why = NULL;
	struct verdict *vs = NULL;
	size_t pos, hold_size;
	int32_t n = 0, n_answers = 0;
	int rc = 0;

	for (size_t k = 0; k < sizeof(admin_apis) / sizeof(admin_apis[0]); k++)
		if (admin_apis[k].key == ar.pr->hdr.api_key)
			api = &admin_apis[k];
	if (!api)
		return -EINVAL;
	memcpy(&n, (const char *)ar.pr + api->count_off, sizeof(n));
	/* A single node is its own controller. */
	if (api->controller_only && cluster_zk_mode(ar.ka->c) && !cluster_is_controller(ar.ka->c)) {
		ar.refused_all = PROTO_ERR_NOT_CONTROLLER;
		mq_log_limited(MQ_INFO, "%s from %s: NOT_CONTROLLER", api->name, ar.peer);
	} else if (api->refuse_all && (ar.refused_all = api->refuse_all(ar.pr, &why))) {
		mq_log_limited(MQ_WARN, "%s from %s: refused whole, every entry %s: %s", api->name,
			       ar.peer, proto_err_name(ar.refused_all), why);
	}
	hold_size = api->hold_size ? api->hold_size : 1;
	answers = calloc((size_t)n + 1, api->size);
	holds = calloc((size_t)n + 1, hold_size);
	vs = calloc((size_t)n + 1, sizeof(*vs));
	if (!answers || !holds || !vs) {
		rc = -ENOMEM;
		goto out;
	}
	ar.answers = answers;
	ar.holds = holds;
	ar.hold_size = hold_size;
	for (int32_t i = 0; i < n && rc == 0; i++) {
		char *a = answers + (size_t)n_answers * api->size;
		char *h = holds + (size_t)n_answers * hold_size;

		rc = api->fill(&ar, api, i, a, h, &vs[n_answers]);
		if (rc == FILL_NONE) {
			/* The slot is the next entry's: zeroed again. */
			memset(a, 0, api->size);
			memset(h, 0, hold_size);
			memset(&vs[n_answers], 0, sizeof(vs[n_answers]));
			rc = 0;
			continue;
		}
		if (!ar.refused_all)
			log_refusal(req, api->name,
				    *(const struct kstr *)(const void *)(a + api->name_off),
				    &vs[n_answers]);
		answer(&vs[n_answers], (int16_t *)(void *)(a + api->code_off),
		       (struct kstr *)(void *)(a + api->msg_off));
		n_answers++;
	}
	if (rc < 0)
		goto out;
	pos = net_req_begin(req);
	rc = api->encode(&net_req_out(req)->w, ar.pr->hdr.api_version, answers, n_answers);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	for (int32_t i = 0; api->release && answers && holds && i < n; i++)
		api->release(answers + (size_t)i * api->size, holds + (size_t)i * hold_size);
	free(answers);
	free(holds);
	free(vs);
	return rc;
}

int admin_serve_register(struct kafka_api *ka, struct net_server *srv)
{
	int rc = 0;

	for (size_t k = 0; k < sizeof(admin_apis) / sizeof(admin_apis[0]) && rc == 0; k++)
		rc = net_server_handle(srv, admin_apis[k].key, admin_handler, ka);
	return rc;
}
