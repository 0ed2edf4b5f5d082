/*
 * cluster_config.c — the broker's cluster settings (cluster_config.h):
 * one key at a time for config.c's parser, the checks across keys once a
 * text is read, and their rendering for MNT/.config.
 *
 * The JAAS value Kafka takes for a SCRAM login (one line):
 *
 *   org.apache.kafka.common.security.scram.ScramLoginModule required
 *       username="admin" password="admin-secret";
 *
 * module name, the control flag "required", then options name="value"
 * (a backslash in a value quotes the next character), then ';'. Only
 * username and password are used; other options are accepted and ignored,
 * as Kafka passes them to the module.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "repl/acl.h"
#include "repl/cluster_config.h"
#include "repl/replica_select.h"
#include "repl/zkc.h"

#define SCRAM_MODULE "org.apache.kafka.common.security.scram.ScramLoginModule"

enum ckind {
	C_STR,
	C_SECRET,
	C_MS,
	C_INT,
	C_BOOL,
	C_PROTO,
	C_MECH,
	C_JAAS,
	C_NET,
	C_SEL,
	C_AUTHORIZER
};

struct ckey {
	const char *name;
	enum ckind kind;
	size_t at;        /* offset of the field in struct cluster_config */
	int64_t min, max; /* C_MS, C_INT; C_STR: max is the field's size */
};

#define F(f) offsetof(struct cluster_config, f)

static const struct ckey ckeys[] = {
	{ "zookeeper.connect", C_STR, F(zk_connect), 0, CLUSTER_CONNECT_MAX },
	/* Any string, as KafkaConfig's (no validator); "" is none. */
	{ "broker.rack", C_STR, F(rack), 0, CLUSTER_RACK_MAX },
	{ "zookeeper.session.timeout.ms", C_MS, F(zk_session_timeout_ms), 1, INT32_MAX },
	{ "zookeeper.connection.timeout.ms", C_MS, F(zk_connection_timeout_ms), 1, INT32_MAX },
	{ "security.inter.broker.protocol", C_PROTO, F(inter_broker), 0, 0 },
	{ "sasl.mechanism.inter.broker.protocol", C_MECH, F(inter_mech), 0, 0 },
	/* min: the slot of jaas_given the key fills. */
	{ "sasl.jaas.config", C_JAAS, F(jaas_given), CLUSTER_JAAS_ANY, 0 },
	{ "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config", C_JAAS, F(jaas_given),
	  CLUSTER_JAAS_MECH + SASL_SHA_256, 0 },
	{ "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config", C_JAAS, F(jaas_given),
	  CLUSTER_JAAS_MECH + SASL_SHA_512, 0 },
	{ "default.replication.factor", C_INT, F(default_replication_factor), 1, INT16_MAX },
	{ "min.insync.replicas", C_INT, F(min_insync_replicas), 1, INT16_MAX },
	{ "offsets.topic.num.partitions", C_INT, F(offsets_topic_num_partitions), 1, 1000 },
	{ "offsets.topic.replication.factor", C_INT, F(offsets_topic_replication_factor), 1,
	  INT16_MAX },
	{ "replica.lag.time.max.ms", C_MS, F(replica_lag_time_max_ms), 1, INT32_MAX },
	{ "replica.fetch.max.bytes", C_INT, F(replica_fetch_max_bytes), 0, INT32_MAX },
	{ "replica.fetch.wait.max.ms", C_INT, F(replica_fetch_wait_max_ms), 0, INT32_MAX },
	{ "replica.fetch.min.bytes", C_INT, F(replica_fetch_min_bytes), 1, INT32_MAX },
	{ "replica.socket.timeout.ms", C_MS, F(replica_socket_timeout_ms), 1, INT32_MAX },
	{ "replica.fetch.backoff.ms", C_MS, F(replica_fetch_backoff_ms), 0, INT32_MAX },
	/* Static in Kafka too (not a dynamic broker config). */
	{ "replica.selector.class", C_SEL, F(replica_selector), 0, 0 },
	{ "num.replica.fetchers", C_INT, F(num_replica_fetchers), 1, NET_MAX_THREADS },
	{ "max.incremental.fetch.session.cache.slots", C_INT, F(fetch_session_cache_slots), 0,
	  INT32_MAX },
	{ "min.incremental.fetch.session.eviction.ms", C_MS, F(fetch_session_eviction_ms), 0,
	  INT32_MAX },
	{ "unclean.leader.election.enable", C_BOOL, F(unclean_leader_election), 0, 0 },
	{ "controlled.shutdown.enable", C_BOOL, F(controlled_shutdown), 0, 0 },
	{ "auto.leader.rebalance.enable", C_BOOL, F(auto_leader_rebalance), 0, 0 },
	{ "leader.imbalance.per.broker.percentage", C_INT, F(leader_imbalance_pct), 0, 100 },
	{ "leader.imbalance.check.interval.seconds", C_MS, F(leader_imbalance_check_s), 1,
	  INT32_MAX },
	{ "config.change.expiration.ms", C_MS, F(config_change_expiration_ms), 1, INT32_MAX },
	{ "observer.idle.ms", C_MS, F(observer_idle_ms), 0, INT32_MAX },
	{ "replication.quota.window.num", C_INT, F(replication_quota_window_num), 1, 1000 },
	{ "replication.quota.window.size.seconds", C_INT, F(replication_quota_window_s), 1, 86400 },
	{ "quota.window.num", C_INT, F(quota_window_num), 1, 1000 },
	{ "quota.window.size.seconds", C_INT, F(quota_window_s), 1, 86400 },
	{ "authorizer.class.name", C_AUTHORIZER, F(authorizer), 0, 0 },
	{ "super.users", C_STR, F(super_users), 0, CLUSTER_SUPER_USERS_MAX },
	{ "allow.everyone.if.no.acl.found", C_BOOL, F(allow_everyone_if_no_acl), 0, 0 },
	/* Kafka's PASSWORD settings (any string; "" is none). */
	{ "delegation.token.secret.key", C_SECRET, F(token_secret), 0, CLUSTER_TOKEN_SECRET_MAX },
	{ "delegation.token.master.key", C_SECRET, F(token_master_key), 0,
	  CLUSTER_TOKEN_SECRET_MAX },
	{ "delegation.token.max.lifetime.ms", C_MS, F(token_max_lifetime_ms), 1, INT64_MAX },
	{ "delegation.token.expiry.time.ms", C_MS, F(token_expiry_time_ms), 1, INT64_MAX },
	{ "delegation.token.expiry.check.interval.ms", C_MS, F(token_expiry_check_ms), 1,
	  INT64_MAX },
	/* net_config_set's keys, handed through. */
	{ "listeners", C_NET, 0, 0, 0 },
	{ "advertised.listeners", C_NET, 0, 0, 0 },
	{ "sasl.enabled.mechanisms", C_NET, 0, 0, 0 },
	{ "num.network.threads", C_NET, 0, 0, 0 },
	{ "num.io.threads", C_NET, 0, 0, 0 },
	{ "socket.request.max.bytes", C_NET, 0, 0, 0 },
	{ "socket.response.max.bytes", C_NET, 0, 0, 0 },
	{ "sasl.server.max.receive.size", C_NET, 0, 0, 0 },
	{ "max.connections", C_NET, 0, 0, 0 },
	{ "max.connections.per.ip", C_NET, 0, 0, 0 },
	{ "connections.max.idle.ms", C_NET, 0, 0, 0 },
	{ "connection.failed.authentication.delay.ms", C_NET, 0, 0, 0 },
	{ "connections.max.reauth.ms", C_NET, 0, 0, 0 },
	{ "listener.name.sasl_plaintext.connections.max.reauth.ms", C_NET, 0, 0, 0 },
	{ "listener.name.sasl_plaintext.scram-sha-256.connections.max.reauth.ms", C_NET, 0, 0, 0 },
	{ "listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms", C_NET, 0, 0, 0 },
	{ "queued.max.requests", C_NET, 0, 0, 0 },
	{ "queued.max.request.bytes", C_NET, 0, 0, 0 },
};

#define NCKEYS (sizeof(ckeys) / sizeof(ckeys[0]))
_Static_assert(NCKEYS <= CLUSTER_CONFIG_NKEYS, "cluster_config_key_index: a bit per key");

void cluster_config_defaults(struct cluster_config *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->zk_session_timeout_ms = 18000;
	cc->zk_connection_timeout_ms = -1;
	net_config_default(&cc->net);
	cc->inter_broker = NET_PLAINTEXT;
	cc->inter_mech = SASL_SHA_256;
	cc->default_replication_factor = 1;
	cc->min_insync_replicas = 1;
	/* Kafka's 50 is for thousands of groups; each partition here is a
	 * directory, open segment files and a follower fetch on every broker
	 * that holds it, so a mount starts with fewer. */
	cc->offsets_topic_num_partitions = 10;
	cc->offsets_topic_replication_factor = 3;
	cc->replica_lag_time_max_ms = 30000;
	cc->replica_fetch_max_bytes = 4194304;
	cc->replica_fetch_wait_max_ms = 500;
	cc->replica_fetch_min_bytes = 1;
	cc->replica_socket_timeout_ms = 30000;
	cc->replica_fetch_backoff_ms = 1000;
	cc->num_replica_fetchers = 1;
	cc->fetch_session_cache_slots = 1000;
	cc->fetch_session_eviction_ms = 120000;
	cc->unclean_leader_election = false;
	cc->controlled_shutdown = true;
	cc->auto_leader_rebalance = true;
	cc->leader_imbalance_pct = 10;
	cc->leader_imbalance_check_s = 300;
	cc->config_change_expiration_ms = 15 * 60 * 1000; /* Kafka's changeExpirationMs */
	cc->observer_idle_ms = 300000;
	cc->replication_quota_window_num = 11;
	cc->replication_quota_window_s = 1;
	cc->quota_window_num = 11;
	cc->quota_window_s = 1;
	cc->token_max_lifetime_ms = 7 * 24 * 3600 * 1000LL;
	cc->token_expiry_time_ms = 24 * 3600 * 1000LL;
	cc->token_expiry_check_ms = 3600 * 1000LL;
}

static const struct ckey *ckey_find(const char *key, size_t klen)
{
	for (size_t i = 0; i < NCKEYS; i++)
		if (strlen(ckeys[i].name) == klen && !memcmp(ckeys[i].name, key, klen))
			return &ckeys[i];
	return NULL;
}

const char *cluster_config_key(const char *key, size_t klen)
{
	const struct ckey *k = ckey_find(key, klen);

	return k ? k->name : NULL;
}

int cluster_config_key_index(const char *key, size_t klen)
{
	const struct ckey *k = ckey_find(key, klen);

	return k ? (int)(k - ckeys) : -1;
}

bool cluster_config_secret(const char *name)
{
	const struct ckey *k = ckey_find(name, strlen(name));

	return k && (k->kind == C_JAAS || k->kind == C_SECRET);
}

static int parse_num(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	int64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++)
		if (*s < '0' || *s > '9' || __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, *s - '0', &v))
			return -EINVAL;
	if (v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A quoted value at *p ('"' ... '"', backslash quotes the next
 * character) into out; *p moves past it. */
static int jaas_quoted(const char **p, char *out, size_t size)
{
	const char *s = *p;
	size_t n = 0;

	if (*s++ != '"')
		return -EINVAL;
	while (*s && *s != '"') {
		if (*s == '\\' && s[1])
			s++;
		if (n + 1 >= size)
			return -EINVAL;
		out[n++] = *s++;
	}
	if (*s != '"')
		return -EINVAL;
	out[n] = '\0';
	*p = s + 1;
	return 0;
}

static const char *skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

int cluster_jaas_parse(const char *text, char *user, size_t usize, char *password, size_t psize,
		       char *why, size_t whylen)
{
	const char *p = skip_space(text);
	char name[64], value[SASL_MAX_MSG];
	bool got_user = false, got_pass = false;

	if (strncmp(p, SCRAM_MODULE, strlen(SCRAM_MODULE)) ||
	    !isspace((unsigned char)p[strlen(SCRAM_MODULE)])) {
		snprintf(why, whylen, "expected the login module %s", SCRAM_MODULE);
		return -EINVAL;
	}
	p = skip_space(p + strlen(SCRAM_MODULE));
	if (strncmp(p, "required", 8) || !(isspace((unsigned char)p[8]) || p[8] == ';')) {
		snprintf(why, whylen, "expected 'required' after the login module");
		return -EINVAL;
	}
	p = skip_space(p + 8);
	while (*p && *p != ';') {
		size_t n = 0;

		while (*p && *p != '=' && !isspace((unsigned char)*p) && n + 1 < sizeof(name))
			name[n++] = *p++;
		name[n] = '\0';
		p = skip_space(p);
		if (n == 0 || *p++ != '=') {
			snprintf(why, whylen, "expected option=\"value\" pairs");
			return -EINVAL;
		}
		p = skip_space(p);
		if (jaas_quoted(&p, value, sizeof(value)) < 0) {
			snprintf(why, whylen, "option %s: expected a quoted value", name);
			return -EINVAL;
		}
		if (!strcmp(name, "username")) {
			if (!value[0] || strlen(value) >= usize || strlen(value) > SASL_MAX_USER) {
				snprintf(why, whylen, "username: 1 to %d bytes", SASL_MAX_USER);
				return -EINVAL;
			}
			snprintf(user, usize, "%s", value);
			got_user = true;
		} else if (!strcmp(name, "password")) {
			if (strlen(value) >= psize) {
				snprintf(why, whylen, "password: too long");
				return -EINVAL;
			}
			snprintf(password, psize, "%s", value);
			got_pass = true;
		}
		p = skip_space(p);
	}
	if (*p != ';' || *skip_space(p + 1)) {
		snprintf(why, whylen, "expected ';' at the end");
		return -EINVAL;
	}
	if (!got_user || !got_pass) {
		snprintf(why, whylen, "expected username=\"...\" and password=\"...\"");
		return -EINVAL;
	}
	return 0;
}

/* jaas_user and jaas_password from jaas_given: the inter-broker
 * mechanism's listener key wins over sasl.jaas.config, as Kafka's
 * listener.name.<listener>.<mechanism>.sasl.jaas.config does for that
 * mechanism on that listener. Run after every key that changes either. */
static void jaas_effective(struct cluster_config *cc)
{
	const struct cluster_jaas *j = &cc->jaas_given[CLUSTER_JAAS_MECH + cc->inter_mech];

	if (!j->user[0])
		j = &cc->jaas_given[CLUSTER_JAAS_ANY];
	snprintf(cc->jaas_user, sizeof(cc->jaas_user), "%s", j->user);
	snprintf(cc->jaas_password, sizeof(cc->jaas_password), "%s", j->password);
}

int cluster_config_set(struct cluster_config *cc, const char *key, const char *value, char *why,
		       size_t whylen)
{
	const struct ckey *k = ckey_find(key, strlen(key));
	char *field;
	int64_t v;
	int rc;

	if (!k) {
		snprintf(why, whylen, "not a cluster setting");
		return -EINVAL;
	}
	field = (char *)cc + k->at;
	switch (k->kind) {
	case C_STR:
	case C_SECRET:
		if (strlen(value) >= (size_t)k->max) {
			snprintf(why, whylen, "longer than %d bytes", (int)k->max - 1);
			return -EINVAL;
		}
		snprintf(field, (size_t)k->max, "%s", value);
		return 0;
	case C_MS:
	case C_INT:
		if (parse_num(value, k->min, k->max, &v) < 0) {
			snprintf(why, whylen, "expected an integer from %" PRId64 " to %" PRId64,
				 k->min, k->max);
			return -EINVAL;
		}
		if (k->kind == C_MS)
			*(int64_t *)(void *)field = v;
		else
			*(int32_t *)(void *)field = (int32_t)v;
		return 0;
	case C_BOOL:
		/* In any case, as Kafka's ConfigDef reads a boolean. */
		if (strcasecmp(value, "true") && strcasecmp(value, "false")) {
			snprintf(why, whylen, "expected true or false");
			return -EINVAL;
		}
		*(bool *)field = !strcasecmp(value, "true");
		return 0;
	case C_PROTO:
		if (!strcmp(value, "PLAINTEXT"))
			cc->inter_broker = NET_PLAINTEXT;
		else if (!strcmp(value, "SASL_PLAINTEXT"))
			cc->inter_broker = NET_SASL_PLAINTEXT;
		else {
			snprintf(why, whylen, "expected PLAINTEXT or SASL_PLAINTEXT");
			return -EINVAL;
		}
		return 0;
	case C_MECH: {
		enum sasl_mech m;

		/* Kafka's names as written (Kafka compares the value with
		 * sasl.enabled.mechanisms case-sensitively); its other
		 * mechanisms (GSSAPI, PLAIN, OAUTHBEARER) mqfs has not. */
		if (sasl_mech_of(value, strlen(value), &m) < 0) {
			snprintf(why, whylen, "expected %s or %s, the mechanisms mqfs has",
				 SASL_SCRAM_SHA_256, SASL_SCRAM_SHA_512);
			return -EINVAL;
		}
		cc->inter_mech = m;
		jaas_effective(cc);
		return 0;
	}
	case C_SEL: {
		enum replica_selector sel;

		/* Kafka loads the class at start and stops on one it cannot
		 * load; mqfs has Kafka's two. */
		if (replica_selector_parse(value, &sel) < 0) {
			snprintf(why, whylen, "expected %s or %s (the classes mqfs has)",
				 REPLICA_SELECTOR_RACK_CLASS, REPLICA_SELECTOR_LEADER_CLASS);
			return -EINVAL;
		}
		*(int *)(void *)field = (int)sel;
		return 0;
	}
	case C_AUTHORIZER:
		/* Kafka's ZooKeeper-era AclAuthorizer is the one there is;
		 * "" is none, as Kafka's default. */
		if (value[0] && strcmp(value, CLUSTER_ACL_AUTHORIZER)) {
			snprintf(why, whylen, "expected %s or empty (none)",
				 CLUSTER_ACL_AUTHORIZER);
			return -EINVAL;
		}
		cc->authorizer = value[0] != '\0';
		return 0;
	case C_JAAS: {
		struct cluster_jaas j, *to = (struct cluster_jaas *)(void *)field + k->min;

		rc = cluster_jaas_parse(value, j.user, sizeof(j.user), j.password,
					sizeof(j.password), why, whylen);
		if (!rc) {
			*to = j;
			jaas_effective(cc);
		}
		explicit_bzero(j.password, sizeof(j.password));
		return rc;
	}
	case C_NET:
		rc = net_config_set(&cc->net, key, value);
		if (rc < 0) {
			snprintf(
				why, whylen, "%s",
				!strcmp(key, "sasl.enabled.mechanisms")
					? "expected SCRAM-SHA-256 and/or SCRAM-SHA-512, the mechanisms mqfs serves"
				: strstr(key, "listeners")
					? "expected a list of PLAINTEXT://host:port "
					  "or SASL_PLAINTEXT://host:port with distinct names"
					: "out of range");
			return -EINVAL;
		}
		if (!strcmp(key, "listeners"))
			cc->listeners_set = true;
		return 0;
	}
	return -EINVAL;
}

const char *cluster_config_token_secret(const struct cluster_config *cc)
{
	/* Kafka: Option(secret.key).getOrElse(master.key), then an empty
	 * one disables tokens. */
	const char *s = cc->token_secret[0] ? cc->token_secret : cc->token_master_key;

	return s[0] ? s : NULL;
}

bool cluster_config_zk(const struct cluster_config *cc)
{
	return cc->zk_connect[0] != '\0';
}

int64_t cluster_config_connect_timeout(const struct cluster_config *cc)
{
	return cc->zk_connection_timeout_ms > 0 ? cc->zk_connection_timeout_ms
						: cc->zk_session_timeout_ms;
}

static const char *security_name(enum net_security s)
{
	return s == NET_SASL_PLAINTEXT ? "SASL_PLAINTEXT" : "PLAINTEXT";
}

int cluster_config_check(const struct cluster_config *cc, char *err, size_t errlen)
{
	const struct net_config *nc = &cc->net;
	bool zk = cluster_config_zk(cc), any_sasl = false, inter_found = false;
	char *hosts = NULL, *chroot = NULL;

	if (zk) {
		int rc = zkc_parse_connect(cc->zk_connect, &hosts, &chroot);

		free(hosts);
		free(chroot);
		if (rc < 0) {
			snprintf(err, errlen,
				 "zookeeper.connect: '%s' is not "
				 "host:port[,host:port...][/chroot]",
				 cc->zk_connect);
			return -EINVAL;
		}
	}
	for (int i = 0; i < nc->n_listeners; i++) {
		any_sasl |= nc->listeners[i].security == NET_SASL_PLAINTEXT;
		inter_found |= nc->listeners[i].security == cc->inter_broker;
	}
	/* Without advertised.listeners the listeners are advertised (to
	 * peers, and to clients in Metadata), an empty host as this
	 * machine's name (cluster.c, kafka_metadata.c): 0.0.0.0 is still no
	 * host to connect to, as Kafka says of it. */
	for (int i = 0; !nc->n_advertised && (zk || cc->listeners_set) && i < nc->n_listeners;
	     i++) {
		if (!strcmp(nc->listeners[i].host, "0.0.0.0")) {
			snprintf(err, errlen,
				 "listeners: %s on 0.0.0.0 needs advertised.listeners: "
				 "peers could not connect to it",
				 nc->listeners[i].name);
			return -EINVAL;
		}
	}
	for (int i = 0; i < nc->n_advertised; i++) {
		bool named = false;

		for (int j = 0; j < nc->n_listeners; j++)
			named |= !strcmp(nc->advertised[i].name, nc->listeners[j].name);
		if (!named) {
			snprintf(err, errlen,
				 "advertised.listeners: %s is not a listener of "
				 "listeners",
				 nc->advertised[i].name);
			return -EINVAL;
		}
		if (!nc->advertised[i].host[0] || !strcmp(nc->advertised[i].host, "0.0.0.0")) {
			snprintf(err, errlen,
				 "advertised.listeners: %s advertises no host: "
				 "peers could not connect to it",
				 nc->advertised[i].name);
			return -EINVAL;
		}
	}
	if ((zk || cc->listeners_set) && !inter_found) {
		snprintf(err, errlen,
			 "security.inter.broker.protocol: no %s listener in "
			 "listeners",
			 security_name(cc->inter_broker));
		return -EINVAL;
	}
	if ((zk || cc->listeners_set) && any_sasl && !nc->sasl_scram[SASL_SHA_256] &&
	    !nc->sasl_scram[SASL_SHA_512]) {
		snprintf(err, errlen,
			 "sasl.enabled.mechanisms: a SASL_PLAINTEXT listener "
			 "needs SCRAM-SHA-256 or SCRAM-SHA-512");
		return -EINVAL;
	}
	/* Kafka's KafkaConfig check, in its words: the mechanism the brokers
	 * log in to each other with must be served. */
	if ((zk || cc->listeners_set) && cc->inter_broker == NET_SASL_PLAINTEXT &&
	    !nc->sasl_scram[cc->inter_mech]) {
		snprintf(err, errlen,
			 "sasl.mechanism.inter.broker.protocol must be included in "
			 "sasl.enabled.mechanisms when SASL is used for inter-broker "
			 "communication");
		return -EINVAL;
	}
	if (zk && cc->inter_broker == NET_SASL_PLAINTEXT && !cc->jaas_user[0]) {
		snprintf(err, errlen,
			 "security.inter.broker.protocol=SASL_PLAINTEXT needs the "
			 "broker's credentials: listener.name.sasl_plaintext.%s."
			 "sasl.jaas.config (or sasl.jaas.config)",
			 cc->inter_mech == SASL_SHA_512 ? "scram-sha-512" : "scram-sha-256");
		return -EINVAL;
	}
	/* The ACLs live in ZooKeeper, where every broker reads them and
	 * Kafka's tools write them: a single node has no store to keep
	 * them in nor a change notice to hear them by. */
	if (cc->authorizer && !zk) {
		snprintf(err, errlen,
			 "authorizer.class.name: the ACL authorizer needs zookeeper.connect "
			 "(the ACLs are kept in ZooKeeper)");
		return -EINVAL;
	}
	if (cc->super_users[0]) {
		char why[128] = "";
		struct acl_store *s = NULL;

		if (acl_store_new(cc->super_users, NULL, false, why, sizeof(why), &s) < 0) {
			snprintf(err, errlen, "super.users: %s", why);
			return -EINVAL;
		}
		acl_store_free(s);
	}
	if (cc->replica_fetch_wait_max_ms >= cc->replica_lag_time_max_ms) {
		snprintf(err, errlen,
			 "replica.fetch.wait.max.ms (%d) must be below "
			 "replica.lag.time.max.ms (%" PRId64 ")",
			 cc->replica_fetch_wait_max_ms, cc->replica_lag_time_max_ms);
		return -EINVAL;
	}
	/* Kafka's KafkaConfig: the delayed answer must not find the
	 * connection closed as idle. */
	if (cc->net.failed_auth_delay_ms >= cc->net.connections_max_idle_ms) {
		snprintf(err, errlen,
			 "connection.failed.authentication.delay.ms (%" PRId64 ") must be below "
			 "connections.max.idle.ms (%" PRId64 ")",
			 cc->net.failed_auth_delay_ms, cc->net.connections_max_idle_ms);
		return -EINVAL;
	}
	if (cc->replica_socket_timeout_ms < cc->replica_fetch_wait_max_ms) {
		snprintf(err, errlen,
			 "replica.socket.timeout.ms (%" PRId64 ") must be at least "
			 "replica.fetch.wait.max.ms (%d)",
			 cc->replica_socket_timeout_ms, cc->replica_fetch_wait_max_ms);
		return -EINVAL;
	}
	return 0;
}

static void put_listeners(FILE *f, const char *key, const struct net_endpoint *eps, int n)
{
	char buf[NET_MAX_LISTENERS * (NET_MAX_HOST + NET_MAX_NAME + 16)];

	if (net_listeners_format(eps, n, buf, sizeof(buf)) >= 0)
		fprintf(f, "%s=%s\n", key, buf);
}

/* Backslash and quote written back escaped, as jaas_quoted reads them. */
static void put_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* eps with each port 0 (bind any free port) replaced by the port its
 * listener is bound to (ports[i] for the listener named like eps[j]), as
 * Metadata advertises them (kafka_metadata.c's self_node). */
static void put_bound(FILE *f, const char *key, const struct net_config *nc,
		      const struct net_endpoint *eps, int n, const int *ports)
{
	struct net_endpoint adv[NET_MAX_LISTENERS];

	memcpy(adv, eps, (size_t)n * sizeof(adv[0]));
	for (int j = 0; ports && j < n; j++)
		for (int i = 0; !adv[j].port && i < nc->n_listeners; i++)
			if (!strcmp(adv[j].name, nc->listeners[i].name))
				adv[j].port = ports[i];
	put_listeners(f, key, adv, n);
}

void cluster_config_render(const struct cluster_config *cc, const int *ports, FILE *f)
{
	const struct net_config *nc = &cc->net;

	fprintf(f, "zookeeper.connect=%s\n", cc->zk_connect);
	fprintf(f, "broker.rack=%s\n", cc->rack);
	fprintf(f, "replica.selector.class=%s\n",
		replica_selector_name((enum replica_selector)cc->replica_selector));
	fprintf(f, "zookeeper.session.timeout.ms=%" PRId64 "\n", cc->zk_session_timeout_ms);
	fprintf(f, "zookeeper.connection.timeout.ms=%" PRId64 "\n",
		cluster_config_connect_timeout(cc));
	put_listeners(f, "listeners", nc->listeners, nc->n_listeners);
	if (nc->n_advertised) {
		put_bound(f, "advertised.listeners", nc, nc->advertised, nc->n_advertised, ports);
	} else {
		/* What is advertised (cluster.c): the listeners, an empty
		 * host as this machine's name. Written as is, the empty host
		 * would be refused when the text is read back ("advertises no
		 * host"). */
		struct net_endpoint adv[NET_MAX_LISTENERS];

		memcpy(adv, nc->listeners, sizeof(adv));
		for (int i = 0; i < nc->n_listeners; i++)
			if (!adv[i].host[0] && gethostname(adv[i].host, NET_MAX_HOST) < 0)
				adv[i].host[0] = '\0';
		put_bound(f, "advertised.listeners", nc, adv, nc->n_listeners, ports);
	}
	fprintf(f, "sasl.enabled.mechanisms=%s%s%s\n",
		nc->sasl_scram[SASL_SHA_256] ? SASL_SCRAM_SHA_256 : "",
		nc->sasl_scram[SASL_SHA_256] && nc->sasl_scram[SASL_SHA_512] ? "," : "",
		nc->sasl_scram[SASL_SHA_512] ? SASL_SCRAM_SHA_512 : "");
	fprintf(f, "security.inter.broker.protocol=%s\n", security_name(cc->inter_broker));
	fprintf(f, "sasl.mechanism.inter.broker.protocol=%s\n", sasl_mech_name(cc->inter_mech));
	if (cc->jaas_user[0]) {
		fprintf(f,
			"listener.name.sasl_plaintext.%s.sasl.jaas.config=" SCRAM_MODULE
			" required username=",
			cc->inter_mech == SASL_SHA_512 ? "scram-sha-512" : "scram-sha-256");
		put_quoted(f, cc->jaas_user);
		/* .config is readable by every user of the mount: the password
		 * stays out of it, as Kafka shows a sensitive setting. */
		fputs(" password=\"[hidden]\";\n", f);
	}
	fprintf(f, "num.network.threads=%d\nnum.io.threads=%d\n", nc->num_network_threads,
		nc->num_io_threads);
	fprintf(f, "socket.request.max.bytes=%" PRId64 "\nsocket.response.max.bytes=%" PRId64 "\n",
		nc->socket_request_max_bytes, nc->socket_response_max_bytes);
	fprintf(f, "sasl.server.max.receive.size=%" PRId64 "\n", nc->sasl_max_receive_bytes);
	fprintf(f, "max.connections=%d\nmax.connections.per.ip=%d\n", nc->max_connections,
		nc->max_connections_per_ip);
	fprintf(f, "connections.max.idle.ms=%" PRId64 "\nqueued.max.requests=%d\n",
		nc->connections_max_idle_ms, nc->queued_max_requests);
	fprintf(f, "queued.max.request.bytes=%" PRId64 "\n", nc->queued_max_request_bytes);
	fprintf(f, "connection.failed.authentication.delay.ms=%" PRId64 "\n",
		nc->failed_auth_delay_ms);
	fprintf(f, "connections.max.reauth.ms=%" PRId64 "\n", nc->connections_max_reauth_ms);
	if (nc->listener_reauth_ms >= 0)
		fprintf(f, "listener.name.sasl_plaintext.connections.max.reauth.ms=%" PRId64 "\n",
			nc->listener_reauth_ms);
	for (int m = 0; m < SASL_N_MECH; m++)
		if (nc->mechanism_reauth_ms[m] >= 0)
			fprintf(f,
				"listener.name.sasl_plaintext.%s.connections.max.reauth.ms=%" PRId64
				"\n",
				m == SASL_SHA_512 ? "scram-sha-512" : "scram-sha-256",
				nc->mechanism_reauth_ms[m]);
	fprintf(f, "default.replication.factor=%d\nmin.insync.replicas=%d\n",
		cc->default_replication_factor, cc->min_insync_replicas);
	fprintf(f, "offsets.topic.num.partitions=%d\noffsets.topic.replication.factor=%d\n",
		cc->offsets_topic_num_partitions, cc->offsets_topic_replication_factor);
	fprintf(f, "replica.lag.time.max.ms=%" PRId64 "\n", cc->replica_lag_time_max_ms);
	fprintf(f, "replica.fetch.max.bytes=%d\nreplica.fetch.wait.max.ms=%d\n",
		cc->replica_fetch_max_bytes, cc->replica_fetch_wait_max_ms);
	fprintf(f, "replica.fetch.min.bytes=%d\nnum.replica.fetchers=%d\n",
		cc->replica_fetch_min_bytes, cc->num_replica_fetchers);
	fprintf(f, "replica.socket.timeout.ms=%" PRId64 "\n", cc->replica_socket_timeout_ms);
	fprintf(f, "replica.fetch.backoff.ms=%" PRId64 "\n", cc->replica_fetch_backoff_ms);
	fprintf(f,
		"max.incremental.fetch.session.cache.slots=%d\n"
		"min.incremental.fetch.session.eviction.ms=%" PRId64 "\n",
		cc->fetch_session_cache_slots, cc->fetch_session_eviction_ms);
	fprintf(f, "unclean.leader.election.enable=%s\n",
		cc->unclean_leader_election ? "true" : "false");
	fprintf(f, "controlled.shutdown.enable=%s\n", cc->controlled_shutdown ? "true" : "false");
	fprintf(f, "auto.leader.rebalance.enable=%s\n",
		cc->auto_leader_rebalance ? "true" : "false");
	fprintf(f, "leader.imbalance.per.broker.percentage=%d\n", cc->leader_imbalance_pct);
	fprintf(f, "leader.imbalance.check.interval.seconds=%" PRId64 "\n",
		cc->leader_imbalance_check_s);
	fprintf(f, "config.change.expiration.ms=%" PRId64 "\n", cc->config_change_expiration_ms);
	fprintf(f, "observer.idle.ms=%" PRId64 "\n", cc->observer_idle_ms);
	fprintf(f, "replication.quota.window.num=%d\n", cc->replication_quota_window_num);
	fprintf(f, "replication.quota.window.size.seconds=%d\n", cc->replication_quota_window_s);
	fprintf(f, "quota.window.num=%d\n", cc->quota_window_num);
	fprintf(f, "quota.window.size.seconds=%d\n", cc->quota_window_s);
	fprintf(f, "authorizer.class.name=%s\n", cc->authorizer ? CLUSTER_ACL_AUTHORIZER : "");
	fprintf(f, "super.users=%s\n", cc->super_users);
	fprintf(f, "allow.everyone.if.no.acl.found=%s\n",
		cc->allow_everyone_if_no_acl ? "true" : "false");
	/* The secret itself is never shown (a reader of .config could mint
	 * tokens with it): only the lifetimes. */
	fprintf(f, "delegation.token.max.lifetime.ms=%" PRId64 "\n", cc->token_max_lifetime_ms);
	fprintf(f, "delegation.token.expiry.time.ms=%" PRId64 "\n", cc->token_expiry_time_ms);
	fprintf(f, "delegation.token.expiry.check.interval.ms=%" PRId64 "\n",
		cc->token_expiry_check_ms);
}
