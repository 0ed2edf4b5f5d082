/*
 * zkdata.c — Kafka's ZooKeeper documents, encoded and decoded with jansson.
 * The layout and the invariants are written down in zkdata.h.
 *
 * Decoding takes the bytes of a znode, which any client of the ensemble may
 * have written: every field is checked for presence, type and range, and a
 * refusal names the field (the reason goes to the caller's `why` buffer).
 * Parsing refuses duplicate keys and NUL bytes (jansson's defaults plus
 * JSON_REJECT_DUPLICATES), so a document means one thing.
 *
 * Encoding builds a jansson tree in the key order Kafka's documentation
 * shows and dumps it compact, which is what Kafka's Jackson writes (Kafka's
 * own order follows a Scala map and is not specified; readers must not
 * depend on it, and neither do our decoders).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include <jansson.h>

#include "repl/net.h"
#include "repl/sasl.h"
#include "repl/zkdata.h"

/* ---- errors and small helpers ---- */

int zk_bad(char *why, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		vsnprintf(why, ZK_WHY_LEN, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static char *dump(json_t *root)
{
	char *s = NULL;

	if (root)
		s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	return s;
}

/* Parses a document whose top level must be an object. */
static int load_object(const char *buf, size_t len, json_t **out, char *why)
{
	json_error_t err;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);

	if (!root)
		return zk_bad(why, "not JSON: %s at byte %d", err.text, err.position);
	if (!json_is_object(root)) {
		json_decref(root);
		return zk_bad(why, "not a JSON object");
	}
	*out = root;
	return 0;
}

static int get_i32(json_t *obj, const char *key, int need, int64_t min, int32_t *out, char *why);

/* Parses an object whose "version" must be `version` (documents that
 * have had only one version). */
static int load_version(const char *buf, size_t len, int32_t version, const char *what,
			json_t **out, char *why)
{
	int32_t v;
	int rc;

	if ((rc = load_object(buf, len, out, why)))
		return rc;
	if ((rc = get_i32(*out, "version", 1, 1, &v, why)) == 0 && v != version)
		rc = zk_bad(why, "unsupported %s version %d", what, (int)v);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* Reads an int32 field; -ENOENT when absent (and `need` is 0). */
static int get_i32(json_t *obj, const char *key, int need, int64_t min, int32_t *out, char *why)
{
	json_t *v = json_object_get(obj, key);
	json_int_t i;

	if (!v)
		return need ? zk_bad(why, "\"%s\" missing", key) : -ENOENT;
	if (!json_is_integer(v))
		return zk_bad(why, "\"%s\" is not an integer", key);
	i = json_integer_value(v);
	if (i < min || i > INT32_MAX)
		return zk_bad(why, "\"%s\" out of range: %lld", key, (long long)i);
	*out = (int32_t)i;
	return 0;
}

/* A decimal int64 >= 0 written as a string (Kafka's timestamps). */
static int parse_ms(const char *s, int64_t *out)
{
	int64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = v;
	return 0;
}

/* Optional "timestamp":"<ms>" field. */
static int get_timestamp(json_t *obj, int64_t *out, char *why)
{
	json_t *v = json_object_get(obj, "timestamp");

	*out = 0;
	if (!v)
		return 0;
	if (!json_is_string(v) || parse_ms(json_string_value(v), out) < 0)
		return zk_bad(why, "\"timestamp\" is not a decimal string");
	return 0;
}

static json_t *ms_string(int64_t ms)
{
	char tmp[24];

	snprintf(tmp, sizeof(tmp), "%" PRId64, ms);
	return json_string(tmp);
}

/* An array of distinct int32 >= 0 (replica lists, ISRs). */
static int get_ids(json_t *arr, const char *what, int32_t **out, int *n, char *why)
{
	size_t i, j, count;
	int32_t *ids;

	if (!json_is_array(arr))
		return zk_bad(why, "%s is not an array", what);
	count = json_array_size(arr);
	ids = malloc((count ? count : 1) * sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		json_t *v = json_array_get(arr, i);
		json_int_t x;

		if (!json_is_integer(v) || (x = json_integer_value(v)) < 0 || x > INT32_MAX) {
			free(ids);
			return zk_bad(why, "%s holds a value that is not a broker id", what);
		}
		ids[i] = (int32_t)x;
		for (j = 0; j < i; j++)
			if (ids[j] == ids[i]) {
				free(ids);
				return zk_bad(why, "%s names broker %d twice", what, (int)x);
			}
	}
	*out = ids;
	*n = (int)count;
	return 0;
}

static json_t *ids_array(const int32_t *ids, int n)
{
	json_t *arr = json_array();
	int i;

	for (i = 0; arr && i < n; i++)
		if (json_array_append_new(arr, json_integer(ids[i])) < 0) {
			json_decref(arr);
			return NULL;
		}
	return arr;
}

json_t *zk_json_put(json_t *root, const char *key, json_t *v)
{
	if (!root) {
		json_decref(v);
		return NULL;
	}
	/* json_object_set_new takes v even when it fails. */
	if (!v || json_object_set_new(root, key, v) < 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

void zk_ids_text(char *buf, size_t size, const int32_t *ids, int n)
{
	size_t at = (size_t)snprintf(buf, size, "[");

	for (int i = 0; i < n && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, "%s%d", i ? "," : "", (int)ids[i]);
	if (at < size)
		snprintf(buf + at, size - at, "]");
}

/* ---- paths and names ---- */

int zk_topic_name_valid(const char *topic)
{
	size_t n = topic ? strlen(topic) : 0;
	size_t i;

	if (n == 0 || n > ZK_TOPIC_MAX || !strcmp(topic, ".") || !strcmp(topic, ".."))
		return 0;
	for (i = 0; i < n; i++) {
		char c = topic[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

static int path_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

int zk_path_broker(char *buf, size_t size, int32_t broker_id)
{
	if (broker_id < 0)
		return -EINVAL;
	return path_fmt(buf, size, ZK_BROKER_IDS_PATH "/%d", (int)broker_id);
}

int zk_path_topic(char *buf, size_t size, const char *topic)
{
	if (!zk_topic_name_valid(topic))
		return -EINVAL;
	return path_fmt(buf, size, ZK_BROKER_TOPICS_PATH "/%s", topic);
}

int zk_path_partitions(char *buf, size_t size, const char *topic)
{
	if (!zk_topic_name_valid(topic))
		return -EINVAL;
	return path_fmt(buf, size, ZK_BROKER_TOPICS_PATH "/%s/partitions", topic);
}

int zk_path_partition(char *buf, size_t size, const char *topic, int32_t partition)
{
	if (!zk_topic_name_valid(topic) || partition < 0)
		return -EINVAL;
	return path_fmt(buf, size, ZK_BROKER_TOPICS_PATH "/%s/partitions/%d", topic,
			(int)partition);
}

int zk_path_partition_state(char *buf, size_t size, const char *topic, int32_t partition)
{
	if (!zk_topic_name_valid(topic) || partition < 0)
		return -EINVAL;
	return path_fmt(buf, size, ZK_BROKER_TOPICS_PATH "/%s/partitions/%d/state", topic,
			(int)partition);
}

int zk_user_name_valid(const char *user)
{
	size_t n = strlen(user);

	if (n == 0 || n > SASL_MAX_USER || !strcmp(user, ".") || !strcmp(user, ".."))
		return 0;
	for (; *user; user++)
		if (!((*user >= 'a' && *user <= 'z') || (*user >= 'A' && *user <= 'Z') ||
		      (*user >= '0' && *user <= '9') || strchr("._@-", *user)))
			return 0;
	return 1;
}

int zk_path_user(char *buf, size_t size, const char *user)
{
	if (!zk_user_name_valid(user))
		return -EINVAL;
	return path_fmt(buf, size, ZK_CONFIG_USERS_PATH "/%s", user);
}

int zk_path_topic_config(char *buf, size_t size, const char *topic)
{
	if (!zk_topic_name_valid(topic))
		return -EINVAL;
	return path_fmt(buf, size, ZK_CONFIG_TOPICS_PATH "/%s", topic);
}

int zk_path_broker_config(char *buf, size_t size, const char *name)
{
	size_t n = strlen(name);

	if (strcmp(name, ZK_BROKER_DEFAULT) != 0) {
		if (n == 0 || n > 10 || strspn(name, "0123456789") != n)
			return -EINVAL;
	}
	return path_fmt(buf, size, ZK_CONFIG_BROKERS_PATH "/%s", name);
}

int zk_path_delete_topic(char *buf, size_t size, const char *topic)
{
	if (!zk_topic_name_valid(topic))
		return -EINVAL;
	return path_fmt(buf, size, ZK_DELETE_TOPICS_PATH "/%s", topic);
}

/* ---- ids: Kafka's Uuid.toString, url-safe base64 of 16 bytes ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;

	return p ? (int)(p - b64url) : -1;
}

int zk_uuid_valid(const char *s)
{
	int i, zero = 1;

	if (!s || strlen(s) != ZK_UUID_LEN)
		return 0;
	for (i = 0; i < ZK_UUID_LEN; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return 0;
		if (v)
			zero = 0;
		/* 22 characters carry 132 bits; the last 4 must be 0 for
		 * the string to be the canonical form of 16 bytes. */
		if (i == ZK_UUID_LEN - 1 && (v & 0x0f))
			return 0;
	}
	return !zero;
}

void zk_uuid_bytes(const char *s, uint8_t out[16])
{
	uint32_t acc = 0;
	int bits = 0, o = 0;

	memset(out, 0, 16);
	if (!zk_uuid_valid(s))
		return;
	/* 22 characters of 6 bits: 128 bits of id, then 4 zero bits. */
	for (int i = 0; i < ZK_UUID_LEN && o < 16; i++) {
		acc = acc << 6 | (uint32_t)b64_value(s[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
}

void zk_uuid_string(const uint8_t b[16], char out[ZK_UUID_LEN + 1])
{
	uint32_t acc = 0;
	int bits = 0, o = 0, zero = 1;

	for (int i = 0; i < 16; i++)
		zero &= b[i] == 0;
	out[0] = '\0';
	if (zero)
		return;
	for (int i = 0; i < 16; i++) {
		acc = acc << 8 | b[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64url[acc >> bits & 63];
		}
		acc &= (1u << bits) - 1;
	}
	out[o++] = b64url[acc << (6 - bits) & 63]; /* the last 4 bits, padded */
	out[o] = '\0';
}

int zk_uuid_new(char out[ZK_UUID_LEN + 1])
{
	uint8_t b[16];

	do {
		size_t got = 0;

		while (got < 16) {
			ssize_t r = getrandom(b + got, 16 - got, 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			got += (size_t)r;
		}
		zk_uuid_string(b, out);
		/* Kafka never hands out ids starting with '-' (they read as
		 * command-line options) nor the reserved all-zero id. */
	} while (out[0] == '-' || !zk_uuid_valid(out));
	return 0;
}

/* ---- /brokers/ids/<id> ---- */

static const char *const protocols[] = {
	"PLAINTEXT",
	"SSL",
	"SASL_PLAINTEXT",
	"SASL_SSL",
};

static int protocol_known(const char *p)
{
	size_t i;

	for (i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcmp(p, protocols[i]))
			return 1;
	return 0;
}

/* "LISTENER://host:port", host possibly "[v6]" or empty (all interfaces). */
static int endpoint_parse(const char *s, struct zk_endpoint *ep, char *why)
{
	const char *sep = strstr(s, "://"), *h, *hend, *colon;
	char *end;
	long port;

	if (!sep || sep == s)
		return zk_bad(why, "endpoint \"%.60s\" has no listener name", s);
	h = sep + 3;
	if (*h == '[') {
		hend = strchr(++h, ']');
		if (!hend || hend[1] != ':')
			return zk_bad(why, "endpoint \"%.60s\" has a bad IPv6 host", s);
		colon = hend + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon)
			return zk_bad(why, "endpoint \"%.60s\" has no port", s);
		hend = colon;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || port < 0 || port > 65535)
		return zk_bad(why, "endpoint \"%.60s\" has a bad port", s);
	/* As Kafka's parser: anything else ('/', '[', ']', a blank) could
	 * not be written back as an endpoint that reads the same ("h]:1:2"
	 * would become "[h]:1]:2"). */
	if (!net_host_valid(h, (size_t)(hend - h)))
		return zk_bad(why, "endpoint \"%.60s\" has a bad host", s);
	ep->listener = strndup(s, (size_t)(sep - s));
	ep->host = strndup(h, (size_t)(hend - h));
	ep->port = (int32_t)port;
	if (!ep->listener || !ep->host)
		return -ENOMEM;
	return 0;
}

/* {"topic": [partitions], ...}; NULL on allocation failure. */
static json_t *ineligible_encode(const struct zk_broker *b)
{
	json_t *map = json_object();

	for (int i = 0; map && i < b->n_ineligible; i++) {
		const struct zk_tp *tp = &b->ineligible[i];
		json_t *arr = json_object_get(map, tp->topic);

		if (!arr) {
			arr = json_array();
			if (json_object_set_new(map, tp->topic, arr) < 0)
				goto fail;
		}
		if (json_array_append_new(arr, json_integer(tp->partition)) < 0)
			goto fail;
	}
	return map;
fail:
	json_decref(map);
	return NULL;
}

static int ineligible_decode(json_t *root, struct zk_broker *b, char *why)
{
	json_t *map = json_object_get(root, "ineligible_partitions"), *arr;
	const char *topic;
	size_t n = 0, i;

	if (!map)
		return 0;
	if (!json_is_object(map))
		return zk_bad(why, "\"ineligible_partitions\" is not an object");
	json_object_foreach(map, topic, arr)
	{
		if (!zk_topic_name_valid(topic) || !json_is_array(arr))
			return zk_bad(why,
				      "\"ineligible_partitions\": \"%.64s\" is not a topic "
				      "with an array of partitions",
				      topic);
		n += json_array_size(arr);
	}
	b->ineligible = calloc(n + 1, sizeof(*b->ineligible));
	if (!b->ineligible)
		return -ENOMEM;
	json_object_foreach(map, topic, arr)
	{
		for (i = 0; i < json_array_size(arr); i++) {
			json_t *v = json_array_get(arr, i);
			struct zk_tp *tp = &b->ineligible[b->n_ineligible];

			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > INT32_MAX)
				return zk_bad(why,
					      "\"ineligible_partitions\": a partition of "
					      "\"%.64s\" is not a partition number",
					      topic);
			if (!(tp->topic = strdup(topic)))
				return -ENOMEM;
			tp->partition = (int32_t)json_integer_value(v);
			b->n_ineligible++;
		}
	}
	return 0;
}

char *zk_broker_encode(const struct zk_broker *b)
{
	json_t *root = json_object(), *map = json_object(), *eps = json_array();
	json_t *feats = json_object();
	const struct zk_endpoint *plain = NULL;
	int i;

	if (!root || !map || !eps || !feats || b->n_endpoints < 1)
		goto fail;
	for (i = 0; i < b->n_endpoints; i++) {
		const struct zk_endpoint *ep = &b->endpoints[i];
		char tmp[600];
		int v6 = strchr(ep->host, ':') != NULL;

		if (snprintf(tmp, sizeof(tmp), "%s://%s%s%s:%d", ep->listener, v6 ? "[" : "",
			     ep->host, v6 ? "]" : "", (int)ep->port) >= (int)sizeof(tmp))
			goto fail;
		if (json_array_append_new(eps, json_string(tmp)) < 0 ||
		    json_object_set_new(map, ep->listener, json_string(ep->security_protocol)) < 0)
			goto fail;
		if (!plain && !strcmp(ep->security_protocol, "PLAINTEXT"))
			plain = ep;
	}
	for (i = 0; i < b->n_features; i++) {
		json_t *f = json_pack("{s:i,s:i}", "min_version", (int)b->features[i].min_version,
				      "max_version", (int)b->features[i].max_version);

		if (json_object_set_new(feats, b->features[i].name, f) < 0)
			goto fail;
	}
	root = zk_json_put(root, "listener_security_protocol_map", map);
	root = zk_json_put(root, "endpoints", eps);
	map = eps = NULL;
	root = zk_json_put(root, "jmx_port", json_integer(b->jmx_port));
	root = zk_json_put(root, "features", feats);
	feats = NULL;
	root = zk_json_put(root, "host", plain ? json_string(plain->host) : json_null());
	root = zk_json_put(root, "timestamp", ms_string(b->timestamp));
	root = zk_json_put(root, "port", json_integer(plain ? plain->port : -1));
	root = zk_json_put(root, "version", json_integer(5));
	if (b->rack)
		root = zk_json_put(root, "rack", json_string(b->rack));
	if (b->n_ineligible > 0)
		root = zk_json_put(root, "ineligible_partitions", ineligible_encode(b));
	return dump(root);
fail:
	json_decref(root);
	json_decref(map);
	json_decref(eps);
	json_decref(feats);
	return NULL;
}

static int broker_endpoints(json_t *root, struct zk_broker *b, char *why)
{
	json_t *eps = json_object_get(root, "endpoints");
	json_t *map = json_object_get(root, "listener_security_protocol_map");
	size_t i;
	int rc;

	if (!eps)
		return zk_bad(why, "\"endpoints\" missing");
	if (!json_is_array(eps) || json_array_size(eps) == 0)
		return zk_bad(why, "\"endpoints\" is not a non-empty array");
	if (map && !json_is_object(map))
		return zk_bad(why, "\"listener_security_protocol_map\" is not an object");
	b->endpoints = calloc(json_array_size(eps), sizeof(*b->endpoints));
	if (!b->endpoints)
		return -ENOMEM;
	for (i = 0; i < json_array_size(eps); i++) {
		json_t *e = json_array_get(eps, i);
		struct zk_endpoint *ep = &b->endpoints[i];
		const char *proto;

		if (!json_is_string(e))
			return zk_bad(why, "an endpoint is not a string");
		b->n_endpoints++;
		rc = endpoint_parse(json_string_value(e), ep, why);
		if (rc)
			return rc;
		if (map) {
			json_t *p = json_object_get(map, ep->listener);

			if (!json_is_string(p))
				return zk_bad(why, "listener %.40s has no security protocol",
					      ep->listener);
			proto = json_string_value(p);
		} else {
			proto = ep->listener;
		}
		if (!protocol_known(proto))
			return zk_bad(why, "unknown security protocol %.40s", proto);
		ep->security_protocol = strdup(proto);
		if (!ep->security_protocol)
			return -ENOMEM;
	}
	return 0;
}

static int broker_features(json_t *root, struct zk_broker *b, char *why)
{
	json_t *feats = json_object_get(root, "features"), *f;
	const char *name;
	int32_t lo, hi;
	int rc;

	if (!feats || json_is_null(feats))
		return 0;
	if (!json_is_object(feats))
		return zk_bad(why, "\"features\" is not an object");
	b->features = calloc(json_object_size(feats) + 1, sizeof(*b->features));
	if (!b->features)
		return -ENOMEM;
	json_object_foreach(feats, name, f)
	{
		if (!json_is_object(f))
			return zk_bad(why, "feature %.40s is not an object", name);
		if ((rc = get_i32(f, "min_version", 1, 0, &lo, why)) ||
		    (rc = get_i32(f, "max_version", 1, 0, &hi, why)))
			return rc;
		if (hi > INT16_MAX || lo > hi)
			return zk_bad(why, "feature %.40s has a bad version range", name);
		b->features[b->n_features].name = strdup(name);
		if (!b->features[b->n_features].name)
			return -ENOMEM;
		b->features[b->n_features].min_version = (int16_t)lo;
		b->features[b->n_features].max_version = (int16_t)hi;
		b->n_features++;
	}
	return 0;
}

int zk_broker_decode(const char *buf, size_t len, struct zk_broker *b, char *why)
{
	json_t *root = NULL, *v;
	int rc;

	memset(b, 0, sizeof(*b));
	b->port = -1;
	if ((rc = load_object(buf, len, &root, why)))
		return rc;
	if ((rc = get_i32(root, "version", 1, 1, &b->version, why)) ||
	    (rc = get_i32(root, "jmx_port", 1, -1, &b->jmx_port, why)) ||
	    (rc = get_timestamp(root, &b->timestamp, why)))
		goto out;
	if (b->version > 5) {
		rc = zk_bad(why, "unsupported broker registration version %d", (int)b->version);
		goto out;
	}
	v = json_object_get(root, "host");
	if (v && !json_is_null(v) && !json_is_string(v)) {
		rc = zk_bad(why, "\"host\" is not a string");
		goto out;
	}
	if (json_is_string(v) && !(b->host = strdup(json_string_value(v)))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = get_i32(root, "port", b->version == 1, -1, &b->port, why);
	if (rc && rc != -ENOENT)
		goto out;
	if (b->version == 1) {
		/* Only host and port: one PLAINTEXT endpoint. */
		if (!b->host) {
			rc = zk_bad(why, "\"host\" missing");
			goto out;
		}
		/* What its endpoint would be refused for (see endpoint_parse). */
		if (!net_host_valid(b->host, strlen(b->host)) || b->port < 0 || b->port > 65535) {
			rc = zk_bad(why, "\"host\" %.60s or \"port\" %d is not an endpoint's",
				    b->host, (int)b->port);
			goto out;
		}
		b->endpoints = calloc(1, sizeof(*b->endpoints));
		if (!b->endpoints) {
			rc = -ENOMEM;
			goto out;
		}
		b->n_endpoints = 1;
		b->endpoints->listener = strdup("PLAINTEXT");
		b->endpoints->security_protocol = strdup("PLAINTEXT");
		b->endpoints->host = strdup(b->host);
		b->endpoints->port = b->port;
		rc = b->endpoints->listener && b->endpoints->security_protocol && b->endpoints->host
			     ? 0
			     : -ENOMEM;
	} else {
		rc = broker_endpoints(root, b, why);
	}
	if (rc)
		goto out;
	v = json_object_get(root, "rack");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v)) {
			rc = zk_bad(why, "\"rack\" is not a string");
			goto out;
		}
		if (!(b->rack = strdup(json_string_value(v)))) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = broker_features(root, b, why);
	if (rc == 0)
		rc = ineligible_decode(root, b, why);
out:
	json_decref(root);
	if (rc)
		zk_broker_clear(b);
	return rc;
}

void zk_broker_clear(struct zk_broker *b)
{
	int i;

	for (i = 0; i < b->n_endpoints; i++) {
		free(b->endpoints[i].listener);
		free(b->endpoints[i].security_protocol);
		free(b->endpoints[i].host);
	}
	for (i = 0; i < b->n_features; i++)
		free(b->features[i].name);
	for (i = 0; i < b->n_ineligible; i++)
		free(b->ineligible[i].topic);
	free(b->endpoints);
	free(b->features);
	free(b->ineligible);
	free(b->host);
	free(b->rack);
	memset(b, 0, sizeof(*b));
}

/* ---- /controller, /controller_epoch ---- */

char *zk_controller_encode(const struct zk_controller *c)
{
	json_t *root = json_object();

	root = zk_json_put(root, "version", json_integer(1));
	root = zk_json_put(root, "brokerid", json_integer(c->broker_id));
	root = zk_json_put(root, "timestamp", ms_string(c->timestamp));
	return dump(root);
}

int zk_controller_decode(const char *buf, size_t len, struct zk_controller *c, char *why)
{
	json_t *root = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	c->kraft_controller_epoch = -1;
	if ((rc = load_object(buf, len, &root, why)))
		return rc;
	if ((rc = get_i32(root, "version", 1, 1, &c->version, why)) ||
	    (rc = get_i32(root, "brokerid", 1, 0, &c->broker_id, why)) ||
	    (rc = get_timestamp(root, &c->timestamp, why)))
		goto out;
	if (c->version > 2) {
		rc = zk_bad(why, "unsupported controller version %d", (int)c->version);
		goto out;
	}
	rc = get_i32(root, "kraftControllerEpoch", 0, -1, &c->kraft_controller_epoch, why);
	if (rc == -ENOENT)
		rc = 0;
out:
	json_decref(root);
	return rc;
}

char *zk_controller_epoch_encode(int32_t epoch)
{
	char *s = malloc(12);

	if (s)
		snprintf(s, 12, "%d", (int)(epoch < 0 ? 0 : epoch));
	return s;
}

int zk_controller_epoch_decode(const char *buf, size_t len, int32_t *epoch, char *why)
{
	int64_t v = 0;
	size_t i;

	if (len == 0 || len > 10 || (buf[0] == '0' && len > 1))
		return zk_bad(why, "controller epoch is not a decimal integer");
	for (i = 0; i < len; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return zk_bad(why, "controller epoch is not a decimal integer");
		v = v * 10 + (buf[i] - '0');
	}
	if (v > INT32_MAX)
		return zk_bad(why, "controller epoch out of range");
	*epoch = (int32_t)v;
	return 0;
}

/* ---- /brokers/topics/<t> ---- */

char *zk_topic_encode(const struct zk_topic *t)
{
	json_t *root = json_object(), *parts = json_object();
	json_t *adding = json_object(), *removing = json_object();
	int i, fail = !root || !parts || !adding || !removing;

	for (i = 0; !fail && i < t->n_partitions; i++) {
		const struct zk_assignment *a = &t->partitions[i];
		char key[12];

		snprintf(key, sizeof(key), "%d", i);
		if (json_object_set_new(parts, key, ids_array(a->replicas, a->n_replicas)) < 0 ||
		    (a->n_adding &&
		     json_object_set_new(adding, key, ids_array(a->adding, a->n_adding)) < 0) ||
		    (a->n_removing &&
		     json_object_set_new(removing, key, ids_array(a->removing, a->n_removing)) < 0))
			fail = 1;
	}
	if (fail) {
		json_decref(root);
		json_decref(parts);
		json_decref(adding);
		json_decref(removing);
		return NULL;
	}
	root = zk_json_put(root, "version", json_integer(3));
	root = zk_json_put(root, "partitions", parts);
	root = zk_json_put(root, "adding_replicas", adding);
	root = zk_json_put(root, "removing_replicas", removing);
	if (t->topic_id[0])
		root = zk_json_put(root, "topic_id", json_string(t->topic_id));
	return dump(root);
}

/* Partition keys are "0".."n-1", decimal without leading zeros. */
static int partition_key(const char *key, int n)
{
	long v = 0;
	const char *p;

	if (!*key || (key[0] == '0' && key[1]) || strlen(key) > 10)
		return -1;
	for (p = key; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v < n ? (int)v : -1;
}

/* "adding_replicas" / "removing_replicas": optional, keys must be partitions. */
static int topic_moves(json_t *root, const char *field, struct zk_topic *t, int adding, char *why)
{
	json_t *obj = json_object_get(root, field), *v;
	const char *key;
	int rc, p;

	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return zk_bad(why, "\"%s\" is not an object", field);
	json_object_foreach(obj, key, v)
	{
		struct zk_assignment *a;

		p = partition_key(key, t->n_partitions);
		if (p < 0)
			return zk_bad(why, "\"%s\" names partition \"%.20s\" the topic lacks",
				      field, key);
		a = &t->partitions[p];
		rc = adding ? get_ids(v, field, &a->adding, &a->n_adding, why)
			    : get_ids(v, field, &a->removing, &a->n_removing, why);
		if (rc)
			return rc;
	}
	return 0;
}

int zk_topic_decode(const char *buf, size_t len, struct zk_topic *t, char *why)
{
	json_t *root = NULL, *parts, *v;
	const char *key;
	int rc, p;

	memset(t, 0, sizeof(*t));
	if ((rc = load_object(buf, len, &root, why)))
		return rc;
	if ((rc = get_i32(root, "version", 1, 1, &t->version, why)))
		goto out;
	if (t->version > 3) {
		rc = zk_bad(why, "unsupported topic version %d", (int)t->version);
		goto out;
	}
	parts = json_object_get(root, "partitions");
	if (!json_is_object(parts) || json_object_size(parts) == 0) {
		rc = zk_bad(why, "\"partitions\" is not a non-empty object");
		goto out;
	}
	t->partitions = calloc(json_object_size(parts), sizeof(*t->partitions));
	if (!t->partitions) {
		rc = -ENOMEM;
		goto out;
	}
	t->n_partitions = (int)json_object_size(parts);
	json_object_foreach(parts, key, v)
	{
		struct zk_assignment *a;

		/* n keys, each a distinct number below n: exactly 0..n-1. */
		p = partition_key(key, t->n_partitions);
		if (p < 0 || t->partitions[p].replicas) {
			rc = zk_bad(why, "partition \"%.20s\" is not one of 0..%d", key,
				    t->n_partitions - 1);
			goto out;
		}
		a = &t->partitions[p];
		if ((rc = get_ids(v, "a replica list", &a->replicas, &a->n_replicas, why)))
			goto out;
		if (a->n_replicas == 0) {
			rc = zk_bad(why, "partition %d has no replicas", p);
			goto out;
		}
	}
	if ((rc = topic_moves(root, "adding_replicas", t, 1, why)) ||
	    (rc = topic_moves(root, "removing_replicas", t, 0, why)))
		goto out;
	v = json_object_get(root, "topic_id");
	if (v && !json_is_null(v)) {
		if (!json_is_string(v) || !zk_uuid_valid(json_string_value(v))) {
			rc = zk_bad(why, "\"topic_id\" is not a topic id");
			goto out;
		}
		memcpy(t->topic_id, json_string_value(v), ZK_UUID_LEN + 1);
	}
out:
	json_decref(root);
	if (rc)
		zk_topic_clear(t);
	return rc;
}

void zk_topic_clear(struct zk_topic *t)
{
	int i;

	for (i = 0; t->partitions && i < t->n_partitions; i++) {
		free(t->partitions[i].replicas);
		free(t->partitions[i].adding);
		free(t->partitions[i].removing);
	}
	free(t->partitions);
	memset(t, 0, sizeof(*t));
}

/* ---- /brokers/topics/<t>/partitions/<p>/state ---- */

char *zk_partition_state_encode(const struct zk_partition_state *s)
{
	json_t *root = json_object();

	root = zk_json_put(root, "controller_epoch", json_integer(s->controller_epoch));
	root = zk_json_put(root, "leader", json_integer(s->leader));
	root = zk_json_put(root, "version", json_integer(1));
	root = zk_json_put(root, "leader_epoch", json_integer(s->leader_epoch));
	root = zk_json_put(root, "isr", ids_array(s->isr, s->n_isr));
	if (s->leader_recovery_state != ZK_RECOVERY_RECOVERED)
		root = zk_json_put(root, "leader_recovery_state",
				   json_integer(s->leader_recovery_state));
	return dump(root);
}

int zk_partition_state_decode(const char *buf, size_t len, struct zk_partition_state *s, char *why)
{
	json_t *root = NULL, *isr;
	int32_t recovery = ZK_RECOVERY_RECOVERED;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = load_version(buf, len, 1, "partition state", &root, why)))
		return rc;
	if ((rc = get_i32(root, "controller_epoch", 1, 0, &s->controller_epoch, why)) ||
	    (rc = get_i32(root, "leader", 1, ZK_LEADER_NONE, &s->leader, why)) ||
	    (rc = get_i32(root, "leader_epoch", 1, 0, &s->leader_epoch, why)))
		goto out;
	rc = get_i32(root, "leader_recovery_state", 0, 0, &recovery, why);
	if (rc == -ENOENT)
		rc = 0;
	if (rc)
		goto out;
	if (recovery > ZK_RECOVERY_RECOVERING) {
		rc = zk_bad(why, "unknown leader_recovery_state %d", (int)recovery);
		goto out;
	}
	s->leader_recovery_state = (int8_t)recovery;
	isr = json_object_get(root, "isr");
	if (!isr) {
		rc = zk_bad(why, "\"isr\" missing");
		goto out;
	}
	rc = get_ids(isr, "\"isr\"", &s->isr, &s->n_isr, why);
out:
	json_decref(root);
	if (rc)
		zk_partition_state_clear(s);
	return rc;
}

void zk_partition_state_clear(struct zk_partition_state *s)
{
	free(s->isr);
	memset(s, 0, sizeof(*s));
}

/* ---- /config/topics/<t> ---- */

char *zk_config_encode(const struct zk_config *c)
{
	json_t *root = json_object(), *cfg = json_object();
	int i;

	for (i = 0; cfg && i < c->n; i++)
		if (json_object_set_new(cfg, c->keys[i], json_string(c->values[i])) < 0) {
			json_decref(cfg);
			cfg = NULL;
		}
	root = zk_json_put(root, "version", json_integer(1));
	root = zk_json_put(root, "config", cfg);
	return dump(root);
}

int zk_config_decode(const char *buf, size_t len, struct zk_config *c, char *why)
{
	json_t *root = NULL, *cfg, *v;
	const char *key;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = load_version(buf, len, 1, "config", &root, why)))
		return rc;
	cfg = json_object_get(root, "config");
	if (!json_is_object(cfg)) {
		rc = zk_bad(why, "\"config\" is not an object");
		goto out;
	}
	c->keys = calloc(json_object_size(cfg) + 1, sizeof(char *));
	c->values = calloc(json_object_size(cfg) + 1, sizeof(char *));
	if (!c->keys || !c->values) {
		rc = -ENOMEM;
		goto out;
	}
	json_object_foreach(cfg, key, v)
	{
		if (!json_is_string(v)) {
			rc = zk_bad(why, "config \"%.60s\" is not a string", key);
			goto out;
		}
		c->keys[c->n] = strdup(key);
		c->values[c->n] = strdup(json_string_value(v));
		c->n++;
		if (!c->keys[c->n - 1] || !c->values[c->n - 1]) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	json_decref(root);
	if (rc)
		zk_config_clear(c);
	return rc;
}

const char *zk_config_get(const struct zk_config *c, const char *key)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (!strcmp(c->keys[i], key))
			return c->values[i];
	return NULL;
}

void zk_config_clear(struct zk_config *c)
{
	int i;

	for (i = 0; i < c->n; i++) {
		free(c->keys[i]);
		free(c->values[i]);
	}
	free(c->keys);
	free(c->values);
	memset(c, 0, sizeof(*c));
}

int zk_config_del(struct zk_config *c, const char *key)
{
	for (int i = 0; i < c->n; i++) {
		if (strcmp(c->keys[i], key))
			continue;
		free(c->keys[i]);
		free(c->values[i]);
		c->keys[i] = c->keys[c->n - 1];
		c->values[i] = c->values[c->n - 1];
		c->n--;
		return 1;
	}
	return 0;
}

int zk_config_put(struct zk_config *c, const char *key, size_t klen, const char *value, size_t vlen)
{
	char *k = strndup(key, klen), *v = strndup(value, vlen), **nk, **nv;

	if (!k || !v)
		goto nomem;
	for (int i = 0; i < c->n; i++) {
		if (!strcmp(c->keys[i], k)) {
			free(k);
			free(c->values[i]);
			c->values[i] = v;
			return 0;
		}
	}
	nk = realloc(c->keys, (size_t)(c->n + 1) * sizeof(*nk));
	if (!nk)
		goto nomem;
	c->keys = nk;
	nv = realloc(c->values, (size_t)(c->n + 1) * sizeof(*nv));
	if (!nv)
		goto nomem;
	c->values = nv;
	c->keys[c->n] = k;
	c->values[c->n] = v;
	c->n++;
	return 0;
nomem:
	free(k);
	free(v);
	return -ENOMEM;
}

/* ---- /isr_change_notification/isr_change_<seq> ---- */

char *zk_isr_change_encode(const struct zk_isr_change *c)
{
	json_t *root = json_object(), *arr = json_array();
	int i;

	for (i = 0; arr && i < c->n; i++)
		if (json_array_append_new(arr, json_pack("{s:s,s:i}", "topic",
							 c->partitions[i].topic, "partition",
							 (int)c->partitions[i].partition)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	root = zk_json_put(root, "version", json_integer(1));
	root = zk_json_put(root, "partitions", arr);
	return dump(root);
}

/* A {"version":1,"partitions":[...]} document (an ISR change notice, a
 * preferred replica election, a reassignment request): its root (the caller's to drop) and the array. */
static int load_partitions(const char *buf, size_t len, const char *what, json_t **root,
			   json_t **arr, char *why)
{
	int rc = load_version(buf, len, 1, what, root, why);

	if (rc)
		return rc;
	*arr = json_object_get(*root, "partitions");
	return json_is_array(*arr) ? 0 : zk_bad(why, "\"partitions\" is not an array");
}

/* An entry's "topic" (a topic name, strdup'd into *topic) and
 * "partition". */
static int tp_decode(json_t *e, char **topic, int32_t *partition, char *why)
{
	json_t *t = json_object_get(e, "topic");
	int rc;

	if (!json_is_object(e))
		return zk_bad(why, "a partition is not an object");
	if (!json_is_string(t) || !zk_topic_name_valid(json_string_value(t)))
		return zk_bad(why, "\"topic\" is not a topic name");
	if ((rc = get_i32(e, "partition", 1, 0, partition, why)))
		return rc;
	return (*topic = strdup(json_string_value(t))) ? 0 : -ENOMEM;
}

/* A {"version":1,"partitions":[{"topic":..,"partition":..},...]}
 * document (an ISR change notice, a preferred replica election). */
static int tp_list_decode(const char *buf, size_t len, const char *what, struct zk_isr_change *c,
			  char *why)
{
	json_t *root = NULL, *arr;
	size_t i;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = load_partitions(buf, len, what, &root, &arr, why)))
		goto out;
	c->partitions = calloc(json_array_size(arr) + 1, sizeof(*c->partitions));
	if (!c->partitions) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		struct zk_tp *tp = &c->partitions[c->n];

		if ((rc = tp_decode(json_array_get(arr, i), &tp->topic, &tp->partition, why)))
			goto out;
		c->n++;
	}
out:
	json_decref(root);
	if (rc)
		zk_isr_change_clear(c);
	return rc;
}

int zk_isr_change_decode(const char *buf, size_t len, struct zk_isr_change *c, char *why)
{
	return tp_list_decode(buf, len, "isr change", c, why);
}

int zk_preferred_election_decode(const char *buf, size_t len, struct zk_isr_change *c, char *why)
{
	return tp_list_decode(buf, len, "preferred replica election", c, why);
}

void zk_isr_change_clear(struct zk_isr_change *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		free(c->partitions[i].topic);
	free(c->partitions);
	memset(c, 0, sizeof(*c));
}

/* ---- /admin/reassign_partitions ---- */

char *zk_reassign_encode(const struct zk_reassign *r)
{
	json_t *root = json_object(), *arr = json_array();
	int i;

	for (i = 0; arr && i < r->n; i++) {
		const struct zk_reassign_part *rp = &r->parts[i];
		json_t *ids = ids_array(rp->replicas, rp->n_replicas);

		if (!ids || json_array_append_new(
				    arr, json_pack("{s:s,s:i,s:o}", "topic", rp->topic, "partition",
						   (int)rp->partition, "replicas", ids)) < 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	root = zk_json_put(root, "version", json_integer(1));
	root = zk_json_put(root, "partitions", arr);
	return dump(root);
}

/* "replicas": any int32s, in order (see zkdata.h). */
static int reassign_replicas(json_t *arr, struct zk_reassign_part *rp, char *why)
{
	size_t i, count;

	if (!json_is_array(arr))
		return zk_bad(why, "\"replicas\" is not an array");
	count = json_array_size(arr);
	if (!(rp->replicas = malloc((count ? count : 1) * sizeof(*rp->replicas))))
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		json_t *v = json_array_get(arr, i);
		json_int_t x;

		if (!json_is_integer(v) || (x = json_integer_value(v)) < INT32_MIN || x > INT32_MAX)
			return zk_bad(why, "\"replicas\" holds a value that is not an integer");
		rp->replicas[rp->n_replicas++] = (int32_t)x;
	}
	return 0;
}

int zk_reassign_decode(const char *buf, size_t len, struct zk_reassign *r, char *why)
{
	json_t *root = NULL, *arr;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = load_partitions(buf, len, "reassignment", &root, &arr, why)))
		goto out;
	r->parts = calloc(json_array_size(arr) + 1, sizeof(*r->parts));
	if (!r->parts) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < json_array_size(arr); i++) {
		json_t *e = json_array_get(arr, i);
		struct zk_reassign_part *rp = &r->parts[r->n];

		if ((rc = tp_decode(e, &rp->topic, &rp->partition, why)))
			goto out;
		r->n++; /* owned from here: cleared on failure */
		if ((rc = reassign_replicas(json_object_get(e, "replicas"), rp, why)))
			goto out;
	}
out:
	json_decref(root);
	if (rc)
		zk_reassign_clear(r);
	return rc;
}

void zk_reassign_clear(struct zk_reassign *r)
{
	for (int i = 0; i < r->n; i++) {
		free(r->parts[i].topic);
		free(r->parts[i].replicas);
	}
	free(r->parts);
	memset(r, 0, sizeof(*r));
}

/* ---- /log_dir_event_notification/log_dir_event_<seq> ---- */

char *zk_log_dir_event_encode(int32_t broker_id, int32_t event)
{
	json_t *root = json_object();

	root = zk_json_put(root, "version", json_integer(1));
	root = zk_json_put(root, "broker", json_integer(broker_id));
	root = zk_json_put(root, "event", json_integer(event));
	return dump(root);
}

int zk_log_dir_event_decode(const char *buf, size_t len, int32_t *broker_id, int32_t *event,
			    char *why)
{
	json_t *root = NULL;
	int rc;

	if ((rc = load_version(buf, len, 1, "log dir event", &root, why)))
		return rc;
	rc = get_i32(root, "broker", 1, 0, broker_id, why);
	if (rc == 0) {
		rc = get_i32(root, "event", 0, 0, event, why);
		if (rc == -ENOENT) {
			*event = ZK_LOG_DIR_FAILURE;
			rc = 0;
		}
	}
	json_decref(root);
	return rc;
}

/* ---- /cluster/id ---- */

char *zk_cluster_id_encode(const char *id)
{
	json_t *root = json_object();

	root = zk_json_put(root, "version", json_string("1"));
	root = zk_json_put(root, "id", json_string(id));
	return dump(root);
}

int zk_cluster_id_decode(const char *buf, size_t len, char id[ZK_UUID_LEN + 1], char *why)
{
	json_t *root = NULL, *v;
	int rc;

	if ((rc = load_object(buf, len, &root, why)))
		return rc;
	v = json_object_get(root, "version");
	if (!json_is_string(v) || strcmp(json_string_value(v), "1")) {
		rc = zk_bad(why, "\"version\" is not \"1\"");
		goto out;
	}
	v = json_object_get(root, "id");
	if (!json_is_string(v) || !zk_uuid_valid(json_string_value(v))) {
		rc = zk_bad(why, "\"id\" is not a cluster id");
		goto out;
	}
	memcpy(id, json_string_value(v), ZK_UUID_LEN + 1);
out:
	json_decref(root);
	return rc;
}

/* ---- /config/users/<user>, /config/changes ---- */

char *zk_user_scram_encode(const struct sasl_cred *cred)
{
	char text[512], *bare, *end;
	char *keys[1] = { (char *)sasl_mech_name(cred->mech) }, *values[1];
	struct zk_config c = { keys, values, 1 };

	/* sasl_cred_format writes Kafka's command-line form
	 * "SCRAM-SHA-256=[...]"; the znode holds what is inside the brackets
	 * under the mechanism's name. */
	if (sasl_cred_format(cred, text, sizeof(text)) < 0)
		return NULL;
	bare = strchr(text, '[');
	end = strrchr(text, ']');
	if (!bare || !end || end < bare)
		return NULL;
	*end = '\0';
	values[0] = bare + 1;
	return zk_config_encode(&c);
}

int zk_user_scram_decode(const char *buf, size_t len, struct sasl_user_creds *creds, char *why)
{
	struct zk_config c;
	const char *v;
	int rc, found = 0;

	memset(creds, 0, sizeof(*creds));
	if ((rc = zk_config_decode(buf, len, &c, why)))
		return rc;
	for (int m = 0; rc == 0 && m < SASL_N_MECH; m++) {
		v = zk_config_get(&c, sasl_mech_name((enum sasl_mech)m));
		if (!v)
			continue;
		found++;
		if (sasl_cred_parse((enum sasl_mech)m, v, &creds->by_mech[m]) < 0)
			rc = zk_bad(why,
				    "%s is not salt=..,stored_key=..,server_key=..,"
				    "iterations=N with keys of %zu bytes",
				    sasl_mech_name((enum sasl_mech)m),
				    sasl_key_len((enum sasl_mech)m));
	}
	if (rc == 0 && !found)
		rc = -ENOENT;
	if (rc)
		memset(creds, 0, sizeof(*creds));
	zk_config_clear(&c);
	return rc;
}

char *zk_config_change_encode(const char *entity_path)
{
	json_t *root = json_object();

	root = zk_json_put(root, "version", json_integer(2));
	root = zk_json_put(root, "entity_path", json_string(entity_path));
	return dump(root);
}

char *zk_config_change_user_encode(const char *user)
{
	char path[ZK_PATH_MAX];

	if (path_fmt(path, sizeof(path), "users/%s", user) < 0)
		return NULL;
	return zk_config_change_encode(path);
}

int zk_config_change_decode(const char *buf, size_t len, char *entity_path, size_t size, char *why)
{
	json_t *root = NULL, *v;
	int rc;

	if ((rc = load_version(buf, len, 2, "config change", &root, why)))
		return rc;
	v = json_object_get(root, "entity_path");
	if (!json_is_string(v))
		rc = zk_bad(why, "\"entity_path\" missing or not a string");
	else if (snprintf(entity_path, size, "%s", json_string_value(v)) >= (int)size)
		rc = zk_bad(why, "\"entity_path\" too long");
	json_decref(root);
	return rc;
}
