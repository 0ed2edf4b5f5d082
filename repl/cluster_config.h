/*
 * cluster_config.h — private to repl/: the broker's cluster settings
 * (ZooKeeper, the listener, SASL, replication), Kafka's names and defaults,
 * parsed line by line for config.c and checked together once a whole text
 * is read.
 *
 *   zookeeper.connect                      "" (single node, no ZooKeeper)
 *   zookeeper.session.timeout.ms           18000
 *   zookeeper.connection.timeout.ms        the session timeout
 *   listeners, advertised.listeners,       repl/net_config.c (net.h); a
 *   num.network.threads, ...               single node opens a listener only
 *                                          when `listeners` is given
 *   security.inter.broker.protocol         PLAINTEXT | SASL_PLAINTEXT
 *   sasl.mechanism.inter.broker.protocol   SCRAM-SHA-256 | SCRAM-SHA-512
 *   sasl.jaas.config, and
 *   listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config,
 *   listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config
 *                                          the broker's own credentials
 *                                          (the key of the inter-broker
 *                                          mechanism first, as Kafka's):
 *       org.apache.kafka.common.security.scram.ScramLoginModule required
 *       username="admin" password="admin-secret";
 *   default.replication.factor 1, min.insync.replicas 1,
 *   offsets.topic.num.partitions 10, offsets.topic.replication.factor 3
 *   (__consumer_offsets when the cluster first needs it: group_store.c),
 *   replica.lag.time.max.ms 30000, replica.fetch.max.bytes 4194304 (Kafka's
 *   1048576: one write() through a mount is up to 1 MiB of lines, whose
 *   batches are larger, and a follower would fetch each in two),
 *   replica.fetch.wait.max.ms 500, replica.fetch.min.bytes 1,
 *   replica.socket.timeout.ms 30000 (a follower's connect, SASL exchange
 *   and each request other than a Fetch; a Fetch waits
 *   replica.fetch.wait.max.ms more),
 *   num.replica.fetchers 1, unclean.leader.election.enable false,
 *   controlled.shutdown.enable true, auto.leader.rebalance.enable true,
 *   leader.imbalance.per.broker.percentage 10,
 *   leader.imbalance.check.interval.seconds 300,
 *   delegation.token.secret.key (alias delegation.token.master.key, the
 *   former winning when both are set; unset or empty: delegation tokens
 *   are disabled, as Kafka), delegation.token.max.lifetime.ms 604800000,
 *   delegation.token.expiry.time.ms 86400000,
 *   delegation.token.expiry.check.interval.ms 3600000 (deleg_token.h)
 *
 * Checks across keys (cluster_config_check), each failing with a message
 * that names the key:
 *   - zookeeper.connect parses (zkc_parse_connect);
 *   - zookeeper.connection.timeout.ms >= 1 when given;
 *   - every advertised listener names a listener of `listeners`, and none
 *     advertises the wildcard host (a peer could not connect to it);
 *   - security.inter.broker.protocol names the protocol of a listener
 *     (when ZooKeeper or listeners are set, as Kafka requires it);
 *   - SASL_PLAINTEXT anywhere needs a SCRAM mechanism in
 *     sasl.enabled.mechanisms, SASL_PLAINTEXT between brokers the
 *     inter-broker one (Kafka's rule);
 *     SASL_PLAINTEXT between brokers needs the broker's jaas credentials;
 *   - replica.fetch.wait.max.ms below replica.lag.time.max.ms (Kafka's
 *     rule: otherwise followers drop out of the ISR while they wait);
 *   - replica.socket.timeout.ms at least replica.fetch.wait.max.ms
 *     (Kafka's rule).
 */
#ifndef MQFS_REPL_CLUSTER_CONFIG_H
#define MQFS_REPL_CLUSTER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "repl/net.h"

#define CLUSTER_CONNECT_MAX      1024
#define CLUSTER_RACK_MAX         256 /* broker.rack, its NUL included */
#define CLUSTER_SUPER_USERS_MAX  4096
#define CLUSTER_ACL_AUTHORIZER   "kafka.security.authorizer.AclAuthorizer"
#define CLUSTER_TOKEN_SECRET_MAX 1024 /* a delegation token secret, its NUL included */

struct cluster_config {
	char zk_connect[CLUSTER_CONNECT_MAX]; /* zookeeper.connect ("") */
	char rack[CLUSTER_RACK_MAX];          /* broker.rack ("": none) */
	int64_t zk_session_timeout_ms;        /* 18000 */
	int64_t zk_connection_timeout_ms;     /* -1: the session timeout */
	bool listeners_set;                   /* `listeners` was given */
	struct net_config net;                /* listeners and their limits */
	enum net_security inter_broker;       /* security.inter.broker.protocol */
	enum sasl_mech inter_mech;            /* sasl.mechanism.inter.broker.protocol */
	/* As given: sasl.jaas.config, then the listener's key of each
	 * mechanism (CLUSTER_JAAS_ANY, CLUSTER_JAAS_MECH + mech). */
	struct cluster_jaas {
		char user[SASL_MAX_USER + 1]; /* "": not given */
		char password[SASL_MAX_MSG];
	} jaas_given[1 + SASL_N_MECH];
	/* The broker's own credentials, those it logs in to the others with:
	 * the inter-broker mechanism's key when given, else sasl.jaas.config
	 * (Kafka's precedence), kept so by cluster_config_set whatever the
	 * order of the lines ("": none). */
	char jaas_user[SASL_MAX_USER + 1];
	char jaas_password[SASL_MAX_MSG];
	int32_t default_replication_factor;       /* 1 */
	int32_t min_insync_replicas;              /* 1 */
	int32_t offsets_topic_num_partitions;     /* 10 */
	int32_t offsets_topic_replication_factor; /* 3 */
	int64_t replica_lag_time_max_ms;          /* 30000 */
	int32_t replica_fetch_max_bytes;          /* 4194304 */
	int32_t replica_fetch_wait_max_ms;        /* 500 */
	int32_t replica_fetch_min_bytes;          /* 1 */
	int64_t replica_socket_timeout_ms;        /* 30000 */
	int64_t replica_fetch_backoff_ms;         /* 1000 */
	int32_t num_replica_fetchers;             /* 1 */
	/* replica.selector.class: an enum replica_selector (replica_select.h),
	 * REPLICA_SELECTOR_NONE (0) unless set: consumers read from leaders. */
	int replica_selector;
	/* max.incremental.fetch.session.cache.slots (1000, 0: none) and
	 * min.incremental.fetch.session.eviction.ms (120000): the Fetch
	 * sessions' cache (fetch_session.h), Kafka's names and defaults. */
	int32_t fetch_session_cache_slots;
	int64_t fetch_session_eviction_ms;
	bool unclean_leader_election;        /* false */
	bool controlled_shutdown;            /* true */
	bool auto_leader_rebalance;          /* true */
	int32_t leader_imbalance_pct;        /* 10 */
	int64_t leader_imbalance_check_s;    /* 300 */
	int64_t config_change_expiration_ms; /* 900000 */
	/* observer.idle.ms (300000): a read copy of a partition without a
	 * replica here (observer.h) is deleted after this long with no open
	 * file. */
	int64_t observer_idle_ms;
	/* replication.quota.window.num (11), replication.quota.window.size.seconds
	 * (1): the samples of the replication throttles' rates (throttle.h). */
	int32_t replication_quota_window_num;
	int32_t replication_quota_window_s;
	/* quota.window.num (11), quota.window.size.seconds (1): the client
	 * quotas' rates (client_quota.h), Kafka's names and defaults. */
	int32_t quota_window_num;
	int32_t quota_window_s;
	/* authorizer.class.name ("": none; AclAuthorizer: acl.h),
	 * super.users ("User:a;User:b"), allow.everyone.if.no.acl.found
	 * (false): Kafka's names and defaults. */
	bool authorizer;
	char super_users[CLUSTER_SUPER_USERS_MAX];
	bool allow_everyone_if_no_acl;
	/* delegation.token.secret.key and its older name
	 * delegation.token.master.key (Kafka's PASSWORD settings: never
	 * shown, not even in MNT/.config); cluster_config_token_secret says
	 * which one is in effect. */
	char token_secret[CLUSTER_TOKEN_SECRET_MAX];
	char token_master_key[CLUSTER_TOKEN_SECRET_MAX];
	int64_t token_max_lifetime_ms; /* 604800000 (7 days) */
	int64_t token_expiry_time_ms;  /* 86400000 (1 day) */
	int64_t token_expiry_check_ms; /* 3600000 (1 hour) */
};

void cluster_config_defaults(struct cluster_config *cc);
/* The known key named by key[0..klen), as a NUL-terminated static string,
 * or NULL. */
const char *cluster_config_key(const char *key, size_t klen);
/* The known keys' count, and the index of key[0..klen) among them (0 to
 * CLUSTER_CONFIG_NKEYS - 1), or -1: a bit per key in a set of them. */
#define CLUSTER_CONFIG_NKEYS 128

#define CLUSTER_JAAS_ANY  0 /* jaas_given: sasl.jaas.config */
#define CLUSTER_JAAS_MECH 1 /* jaas_given: + enum sasl_mech */
int cluster_config_key_index(const char *key, size_t klen);
/* Whether the value of key name holds a password (the JAAS lines): a
 * message about it never quotes the value, as Kafka prints a PASSWORD
 * setting as [hidden], since refusals reach stderr and the log. */
bool cluster_config_secret(const char *name);
/* Sets key (one cluster_config_key returned) from its text. 0, or -EINVAL
 * with what was expected in why; cc is unchanged on error. */
int cluster_config_set(struct cluster_config *cc, const char *key, const char *value, char *why,
		       size_t whylen);
/* The checks across keys listed above: 0, or -EINVAL with a message that
 * names the key in err. */
int cluster_config_check(const struct cluster_config *cc, char *err, size_t errlen);
/* The delegation tokens' secret in effect: delegation.token.secret.key
 * when set, else delegation.token.master.key (Kafka's order); NULL when
 * neither is set or it is empty (tokens disabled, as Kafka's
 * tokenAuthEnabled). */
const char *cluster_config_token_secret(const struct cluster_config *cc);
/* True when the broker joins a cluster (zookeeper.connect given). */
bool cluster_config_zk(const struct cluster_config *cc);
/* The effective connection timeout (the session timeout when unset). */
int64_t cluster_config_connect_timeout(const struct cluster_config *cc);
/* Appends the settings as key=value lines, in the order of the table at
 * the top (the jaas config with the password shown as "[hidden]"), to f.
 * ports: the port each listener is bound to (NULL: not started), which
 * advertised.listeners shows for a port 0, as Metadata answers it. */
void cluster_config_render(const struct cluster_config *cc, const int *ports, FILE *f);
/* Parses a JAAS line of Kafka's ScramLoginModule: username and password
 * into user/password (sizes as in struct cluster_config). -EINVAL with
 * why: another login module, no "required", an option without a quoted
 * value, a missing username or password, no final ';'. */
int cluster_jaas_parse(const char *text, char *user, size_t usize, char *password, size_t psize,
		       char *why, size_t whylen);

#endif
