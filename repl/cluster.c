/*
 * cluster.c — the broker in cluster mode: its ZooKeeper session and
 * registration, the Kafka-protocol listener with SCRAM, and the metadata
 * cache of the brokers, the controller and the cluster id (cluster.h).
 *
 * Start (cluster_open), in Kafka's order (KafkaServer.startup):
 *   1. open the session (zookeeper.connect, zookeeper.session.timeout.ms,
 *      waiting up to zookeeper.connection.timeout.ms); steps 1-3 try
 *      their calls again while the connection is lost, for as long
 *      again (zk_start_again: ZooKeeper restarting under the start);
 *   2. ensure the persistent paths, read or create /cluster/id;
 *   3. read the SCRAM users (/config/users/<user>) into the credential
 *      table the listener's lookup reads, and with authorizer.class.name
 *      every ACL into the cache the handlers ask (acl_zk_follow), so
 *      that no request is served unchecked, and with
 *      delegation.token.secret.key every delegation token into the
 *      cache the listener authenticates them from (dtoken_zk_follow);
 *   4. start the listener, so that the advertised ports are bound ones
 *      (port 0 in `listeners` is a free port the kernel picks); it
 *      accepts connections only once the cluster thread has read the
 *      topics after the registration (cluster_work), as Kafka's
 *      startProcessingRequests;
 *   5. register /brokers/ids/<broker.id> (ephemeral) with the advertised
 *      endpoints. An id another session holds is waited for, up to
 *      zookeeper.session.timeout.ms and REGISTER_WAIT_EXTRA_MS: after a
 *      crash (kill -9, a power cut) the broker's own znode lives on until
 *      ZooKeeper expires its session, and a restart at once (systemd's
 *      Restart=, make cluster's) must not fail for it. Kafka refuses at
 *      once; a znode still there after the wait is another live
 *      broker's, and the start is refused then (ENOTUNIQ, logged with
 *      the owner's session). The broker epoch is the registration
 *      znode's czxid, as in Kafka;
 *   6. read the brokers and the controller, watching both;
 *   7. start the cluster thread.
 *   8. start the controller (controller.c, through cluster_repl.c): the
 *      session and the registration it needs exist from here on. The
 *      replica manager and the Fetch and controller-request handlers
 *      (cluster_repl.c) are made before the listener starts (step 4).
 *
 * The cluster thread ("mqfs-cluster") does every ZooKeeper call after the
 * start. zkc's callbacks run on its completion thread and must not call
 * the server (zkc.h, "Threads"): they only set bits in c->events and
 * signal c->cv. The thread then, per bit:
 *
 *   EV_SESSION   the session expired: close the handle, open a new one
 *                (retrying every CLUSTER_RETRY_MS), then EV_REGISTER and
 *                every read below, which re-arm the watches the old
 *                session lost;
 *   EV_REGISTER  register again (the broker epoch changes; logged);
 *   EV_BROKERS   /brokers/ids changed: re-read the brokers (this one's
 *                own registration gone while its session lives:
 *                EV_REGISTER);
 *   EV_CONTROLLER /controller changed: re-read it;
 *   EV_USERS     /config/users or /config/changes changed: re-read the
 *                users, apply the overrides of every topic a new
 *                change notification names, and re-read the dynamic
 *                broker settings (/config/brokers/<id> and <default>:
 *                the replication throttle rates) and the client quotas
 *                (/config/clients, /config/users);
 *   EV_TOPICS    /brokers/topics changed, or a topic's assignment (its
 *                data, watched per topic): every topic made or grown
 *                here, with its overrides; topics gone are removed;
 *   EV_ACLS      /kafka-acl-changes or /kafka-acl-extended-changes
 *                changed (authorizer.class.name set): each resource a
 *                new notice names read again into the ACL cache (acl.h;
 *                a new session reads every resource again);
 *   EV_TOKENS    /delegation_token/token_changes changed (tokens on:
 *                delegation.token.secret.key set): each token a new
 *                notice names read again into the token cache
 *                (dtoken_zk_follow; a new session reads them all);
 *   (timer)      the active controller deletes the expired tokens every
 *                delegation.token.expiry.check.interval.ms (expire_tokens);
 *   EV_REGDATA   the partitions this broker may not lead yet shrank
 *                (cluster_repl_ineligible): rewrite the registration's
 *                document (same znode, same broker epoch).
 * A read that fails (connection lost meanwhile) keeps its bit and is
 * tried again after CLUSTER_RETRY_MS, so nothing is missed while
 * ZooKeeper is away: watches that survive a reconnection fire then, and
 * the retried read re-arms the rest.
 *
 * Locks: c->mu guards events and stop (a leaf); c->cred_mu guards the
 * credential table (a leaf, taken by the listener's loop threads, which
 * must not block: the table is in memory). The zkc handle belongs to the
 * thread (and to cluster_open before it runs): no lock.
 *
 * Stop (broker_close): cluster_stop first stops the listener and the
 * thread; cluster_close, after the logs are shut down, closes the session,
 * which deletes the registration at once (Kafka's controlled shutdown
 * would move leadership away before: the controller's part).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "repl/acl_zk.h"
#include "repl/dtoken_zk.h"
#include "repl/broker_int.h"
#include "repl/cluster.h"
#include "repl/cluster_repl.h"
#include "repl/forward.h"
#include "repl/observer.h"
#include "repl/producer_ids.h"
#include "repl/config.h"
#include "repl/client_quota.h"
#include "repl/client_quota_zk.h"
#include "repl/group_int.h"
#include "repl/group_serve.h"
#include "repl/ineligible.h"
#include "repl/kafka_api.h"
#include "repl/local_replicas.h"
#include "repl/metadata_cache.h"
#include "repl/net.h"
#include "repl/replica_mgr.h"
#include "repl/throttle.h"
#include "repl/zkmeta.h"
#include "repl/zkwatch.h"
#include "util/clock.h"
#include "util/diaglog.h"
#include "util/pause.h"

#define CLUSTER_RETRY_MS 500

enum {
	EV_SESSION = 1 << 0,
	EV_REGISTER = 1 << 1,
	EV_BROKERS = 1 << 2,
	EV_CONTROLLER = 1 << 3,
	EV_USERS = 1 << 4,
	EV_TOPICS = 1 << 5,
	EV_REGDATA = 1 << 6, /* the registration's ineligible partitions changed */
	EV_ACLS = 1 << 7,
	EV_TOKENS = 1 << 8,
	EV_READS = EV_BROKERS | EV_CONTROLLER | EV_USERS | EV_TOPICS | EV_ACLS | EV_TOKENS,
};

/* ZooKeeper session state, for .state and .metrics. */
enum { ZK_STATE_NONE, ZK_STATE_CONNECTED, ZK_STATE_DISCONNECTED, ZK_STATE_EXPIRED };

struct cred_entry {
	char user[SASL_MAX_USER + 1];
	struct sasl_user_creds creds;
};

static int observers_start(struct cluster *c);
static void on_replica_state(void *arg, const char *topic, int32_t partition);

struct cluster {
	const struct broker_config *cfg; /* the broker's copy: outlives c */
	struct zkc *zk;
	struct net_server *srv;
	struct kafka_api ka;       /* the client APIs on srv */
	struct local_replicas *lr; /* a single node's Fetch and ListOffsets */
	struct group_serve *gs;    /* the consumer group APIs on srv */
	struct metadata_cache *mc;
	struct cluster_repl *cr;   /* zookeeper mode: replication */
	struct forwarder *fwd;     /* zookeeper mode: writes to other leaders */
	struct observers *obs;     /* zookeeper mode: read copies (observer.h) */
	bool group_hooked;         /* gc->connect is ours (group_connect_hook) */
	struct producer_ids *pids; /* InitProducerId and the forwarder */
	struct cluster_local local;

	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	unsigned events;
	bool stop;
	pthread_t th;
	bool th_running;

	pthread_mutex_t cred_mu;
	struct cred_entry *creds;
	int ncreds;

	/* The partitions whose replicas move (their topic znode's adding and
	 * removing replicas, as the cluster thread last read it), for .state.
	 * Under mu. */
	struct cluster_move *moves;
	int n_moves;

	atomic_int zk_state;
	_Atomic int64_t broker_epoch;
	_Atomic int64_t expirations;   /* sessions lost and replaced */
	bool session_retry;            /* a new session failed: tried again (cluster thread) */
	_Atomic int64_t registrations; /* registrations made */
	/* The newest /config/changes notification handled (-1: none), on
	 * the cluster thread. The first read handles none (changes_read
	 * false): the topics' reads apply every topic's overrides. */
	int64_t changes_seen;
	bool changes_read;
	/* The listener accepts connections (zookeeper mode: once the broker
	 * is registered and has read the topics; cluster thread). */
	bool accepting;
	bool topics_read; /* a read_topics succeeded (cluster thread) */
	/* The data of each /brokers/topics/<t>: its assignment grew. */
	struct zkwatch_set topic_watches;
	/* Topics read_topics has made here with their overrides in this
	 * session, used as a set of names: while one's data watch has not
	 * fired, nothing of it changed but its settings, which
	 * /config/changes brings (EV_USERS). */
	struct zkwatch_set topics_done;
	/* The dynamic broker settings last read (read_broker_configs):
	 * /config/brokers/<broker.id> and /config/brokers/<default>. dyn_mu
	 * (a leaf) guards them: the cluster thread writes, DescribeConfigs
	 * reads. */
	pthread_mutex_t dyn_mu;
	struct zk_config dyn_self, dyn_default;
	/* The client quotas (client_quota.h): the cluster thread replaces
	 * their table from ZooKeeper; a single node's stays empty. */
	struct client_quotas *quotas;
	/* The ACL cache (authorizer.class.name set, else NULL) and what of
	 * ZooKeeper's notices it followed (the cluster thread). */
	struct acl_store *acls;
	struct acl_follow acl_follow;
	/* The delegation tokens (delegation.token.secret.key set in a
	 * cluster, else NULL) and what of their notices the cache followed
	 * (the cluster thread). */
	struct dtoken_store *tokens;
	struct dtoken_follow token_follow;
	/* When the controller next deletes expired tokens (monotonic ms;
	 * the cluster thread). */
	int64_t token_check_at;
};

static void post(struct cluster *c, unsigned ev)
{
	pthread_mutex_lock(&c->mu);
	c->events |= ev;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

/* ---- zkc callbacks (completion thread: post only) ---- */

static void on_session(void *arg, enum zkc_session ev)
{
	struct cluster *c = arg;

	switch (ev) {
	case ZKC_CONNECTED:
		if (atomic_exchange(&c->zk_state, ZK_STATE_CONNECTED) == ZK_STATE_DISCONNECTED)
			mq_log(MQ_INFO, "ZooKeeper: connected again, session kept");
		break;
	case ZKC_DISCONNECTED:
		atomic_store(&c->zk_state, ZK_STATE_DISCONNECTED);
		mq_log(MQ_WARN, "ZooKeeper: connection lost, reconnecting");
		break;
	case ZKC_EXPIRED:
	case ZKC_AUTH_FAILED:
		atomic_store(&c->zk_state, ZK_STATE_EXPIRED);
		post(c, EV_SESSION);
		break;
	}
	/* c->cr is set after the session started (zk_start). */
	cluster_repl_session_event(__atomic_load_n(&c->cr, __ATOMIC_ACQUIRE), ev);
}

static void on_brokers(void *arg, enum zkc_watch ev, const char *path)
{
	(void)ev;
	(void)path;
	post(arg, EV_BROKERS);
}

static void on_controller(void *arg, enum zkc_watch ev, const char *path)
{
	(void)ev;
	(void)path;
	post(arg, EV_CONTROLLER);
}

static void on_acls(void *arg, enum zkc_watch ev, const char *path)
{
	(void)ev;
	(void)path;
	post(arg, EV_ACLS);
}

static void on_tokens(void *arg, enum zkc_watch ev, const char *path)
{
	(void)ev;
	(void)path;
	post(arg, EV_TOKENS);
}

static void on_users(void *arg, enum zkc_watch ev, const char *path)
{
	(void)ev;
	(void)path;
	post(arg, EV_USERS);
}

static void on_ineligible(void *arg)
{
	post(arg, EV_REGDATA);
}

static void on_topics(void *arg, enum zkc_watch ev, const char *path)
{
	(void)ev;
	(void)path;
	post(arg, EV_TOPICS);
}

static void on_topic_data(void *arg, enum zkc_watch ev, const char *path)
{
	struct cluster *c = arg;

	(void)ev;
	zkwatch_fired(&c->topic_watches, path);
	post(c, EV_TOPICS);
}

/* ---- credentials (the listener's lookup: a loop thread, no blocking) ---- */

static int cred_lookup(void *arg, const char *user, enum sasl_mech mech, struct sasl_cred *cred)
{
	struct cluster *c = arg;
	int rc = -ENOENT;

	pthread_mutex_lock(&c->cred_mu);
	for (int i = 0; i < c->ncreds; i++)
		if (!strcmp(c->creds[i].user, user)) {
			if (c->creds[i].creds.by_mech[mech].iterations) {
				*cred = c->creds[i].creds.by_mech[mech];
				rc = 0;
			}
			break;
		}
	pthread_mutex_unlock(&c->cred_mu);
	return rc;
}

/* A delegation token's credential and owner (tokenauth=true): the
 * listener's loop thread, the cache in memory. */
static int token_lookup(void *arg, const char *id, enum sasl_mech mech, struct sasl_cred *cred,
			char *owner, size_t owner_size, int64_t *expiry_ms)
{
	struct cluster *c = arg;

	return dtoken_store_cred(c->tokens, id, mech, cred, owner, owner_size, expiry_ms);
}

static void creds_replace(struct cluster *c, struct cred_entry *creds, int n)
{
	struct cred_entry *old;

	pthread_mutex_lock(&c->cred_mu);
	old = c->creds;
	c->creds = creds;
	c->ncreds = n;
	pthread_mutex_unlock(&c->cred_mu);
	free(old);
}

static int user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cluster_scram_user *)a)->user,
		      ((const struct cluster_scram_user *)b)->user);
}

int cluster_scram_users(struct cluster *c, struct cluster_scram_user **users)
{
	struct cluster_scram_user *v;
	int n;

	pthread_mutex_lock(&c->cred_mu);
	n = c->ncreds;
	v = calloc((size_t)n + 1, sizeof(*v));
	for (int i = 0; v && i < n; i++) {
		snprintf(v[i].user, sizeof(v[i].user), "%s", c->creds[i].user);
		v[i].creds = c->creds[i].creds;
	}
	pthread_mutex_unlock(&c->cred_mu);
	if (!v)
		return -ENOMEM;
	qsort(v, (size_t)n, sizeof(*v), user_cmp);
	*users = v;
	return n;
}

bool cluster_is_brokers_user(const struct cluster *c, const char *user)
{
	return c->cfg->cluster.jaas_user[0] && !strcmp(c->cfg->cluster.jaas_user, user);
}

int cluster_with_zk(struct cluster *c, int (*fn)(struct zkc *zk, void *arg), void *arg)
{
	return cluster_zk_mode(c) ? cluster_repl_with_zk(c->cr, fn, arg) : -EOPNOTSUPP;
}

/* A single node has no user store: its one SCRAM user is the broker's
 * own, from its JAAS setting, with a credential of each mechanism. */
static int creds_local(struct cluster *c)
{
	struct cred_entry *e;
	int rc = 0;

	if (!c->cfg->cluster.jaas_user[0])
		return 0;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	snprintf(e->user, sizeof(e->user), "%s", c->cfg->cluster.jaas_user);
	for (int m = 0; rc == 0 && m < SASL_N_MECH; m++)
		rc = sasl_cred_from_password((enum sasl_mech)m, c->cfg->cluster.jaas_password, NULL,
					     0, SASL_MIN_ITERATIONS, &e->creds.by_mech[m]);
	if (rc < 0) {
		free(e);
		return rc;
	}
	creds_replace(c, e, 1);
	return 0;
}

/* A topic's /config/topics/<t> (broker false) or /config/brokers/<name>
 * into *zc: empty when there is none, or when it does not decode (logged:
 * the defaults apply). */
static int config_read_zk(struct cluster *c, bool broker, const char *name, struct zk_config *zc)
{
	char why[ZK_WHY_LEN] = "";
	int rc = broker ? zkmeta_broker_config(c->zk, name, zc, NULL, why)
			: zkmeta_topic_config(c->zk, name, zc, NULL, why);

	if (rc == -EBADMSG)
		mq_log_limited(MQ_WARN, "%s/%s does not decode (%s): ignored",
			       broker ? ZK_CONFIG_BROKERS_PATH : ZK_CONFIG_TOPICS_PATH, name, why);
	if (rc == -EBADMSG || rc == -ENOENT) { /* none: every setting is the default */
		*zc = (struct zk_config){ 0 };
		rc = 0;
	}
	return rc;
}

/* The overrides of a topic from its config znode, applied to the local
 * topic (the broker's hook). */
static int topic_config_apply_zk(struct cluster *c, const char *topic)
{
	const struct cluster_topic_hooks *h = &c->local.topics;
	struct zk_config zc;
	int rc;

	if (!h->config || !cluster_replicated(c, topic))
		return 0;
	rc = config_read_zk(c, false, topic, &zc);
	if (rc < 0)
		return rc;
	h->config(h->arg, topic, &zc);
	zk_config_clear(&zc);
	return 0;
}

/* Handles the notifications in /config/changes (names sorted) newer than
 * the last handled: each "topics/<t>" applies that topic's overrides. */
static int config_changes(struct cluster *c, char **names, int n)
{
	size_t plen = strlen(ZK_CONFIG_CHANGE_PREFIX) - strlen(ZK_CONFIG_CHANGES_PATH "/");
	int64_t newest = c->changes_seen;

	for (int i = 0; i < n; i++) {
		char path[ZK_PATH_MAX], ent[ZK_PATH_MAX], why[ZK_WHY_LEN] = "", *data = NULL;
		size_t len;
		int64_t seq;
		int rc;

		if (strlen(names[i]) <= plen)
			continue;
		seq = strtoll(names[i] + plen, NULL, 10);
		if (seq <= c->changes_seen)
			continue;
		if (seq > newest)
			newest = seq;
		if (!c->changes_read)
			continue;
		snprintf(path, sizeof(path), "%s/%s", ZK_CONFIG_CHANGES_PATH, names[i]);
		rc = zkc_get(c->zk, path, &data, &len, NULL, NULL, NULL);
		if (rc == 0 && zk_config_change_decode(data, len, ent, sizeof(ent), why) == 0 &&
		    !strncmp(ent, "topics/", 7)) {
			rc = topic_config_apply_zk(c, ent + 7);
			cluster_repl_topic_config_changed(c->cr);
		}
		free(data);
		if (rc < 0 && rc != -ENOENT)
			return rc; /* retried: changes_seen not moved */
	}
	c->changes_seen = newest;
	c->changes_read = true;
	/* Processed: notifications older than config.change.expiration.ms
	 * go, or they would pile up in ZooKeeper for ever. A failure is
	 * logged, not retried: the next change's read purges again. */
	int rc = zkmeta_purge_config_changes(c->zk, names, n, now_real_ms(),
					     c->cfg->cluster.config_change_expiration_ms);
	if (rc > 0)
		mq_log(MQ_INFO, "%s: %d notification(s) older than %" PRId64 " ms deleted",
		       ZK_CONFIG_CHANGES_PATH, rc, c->cfg->cluster.config_change_expiration_ms);
	else if (rc < 0)
		mq_log_limited(MQ_WARN, "%s: deleting old notifications failed: %s",
			       ZK_CONFIG_CHANGES_PATH, strerror(-rc));
	return 0;
}

/* A throttle rate: this broker's dynamic setting, else the dynamic
 * default, else unbounded (Kafka's BrokerConfigHandler). A value that is
 * not a rate (written by another tool) is logged and taken as unbounded. */
static int64_t dyn_rate(const struct zk_config *self, const struct zk_config *def, const char *key)
{
	const char *v = zk_config_get(self, key);
	char why[128];
	int64_t rate;

	if (!v)
		v = zk_config_get(def, key);
	if (!v)
		return THROTTLE_UNBOUNDED;
	if (throttle_rate_parse(v, &rate, why, sizeof(why)) == 0)
		return rate;
	mq_log_limited(MQ_WARN, "dynamic broker setting %s='%s' ignored: %s", key, v, why);
	return THROTTLE_UNBOUNDED;
}

/* Reads this broker's and the default dynamic settings and applies the
 * replication throttle rates, without a restart (Kafka's
 * DynamicConfigManager with the brokers' entity). */
static int read_broker_configs(struct cluster *c)
{
	struct zk_config self, def, old_self, old_def;
	struct cluster_config *eff;
	char id[16];
	int rc;

	snprintf(id, sizeof(id), "%d", (int)c->cfg->broker_id);
	rc = config_read_zk(c, true, id, &self);
	if (rc < 0)
		return rc;
	rc = config_read_zk(c, true, ZK_BROKER_DEFAULT, &def);
	if (rc < 0) {
		zk_config_clear(&self);
		return rc;
	}
	repl_throttle_set_rates(c->local.throttle, dyn_rate(&self, &def, THROTTLE_LEADER_RATE),
				dyn_rate(&self, &def, THROTTLE_FOLLOWER_RATE));
	/* The topic defaults (log.retention.ms, ...) of every topic here; a
	 * failure (out of memory) is retried with the next read. */
	/* The cluster settings in effect: the file's under the dynamic ones
	 * the broker accepted (topics_cluster_broker_defaults). */
	eff = malloc(sizeof(*eff));
	if (!eff) {
		zk_config_clear(&self);
		zk_config_clear(&def);
		return -ENOMEM;
	}
	*eff = c->cfg->cluster;
	if (c->local.topics.broker_defaults)
		(void)c->local.topics.broker_defaults(c->local.topics.arg, &self, &def, eff);
	if (c->srv)
		net_server_set_limits(c->srv, eff->net.max_connections,
				      eff->net.max_connections_per_ip);
	/* The controller's default for topics without an override (Kafka's
	 * KafkaController.enableDefaultUncleanLeaderElection once it turns
	 * on). */
	cluster_repl_unclean_default(c->cr, eff->unclean_leader_election);
	free(eff);
	pthread_mutex_lock(&c->dyn_mu);
	old_self = c->dyn_self;
	old_def = c->dyn_default;
	c->dyn_self = self;
	c->dyn_default = def;
	pthread_mutex_unlock(&c->dyn_mu);
	zk_config_clear(&old_self);
	zk_config_clear(&old_def);
	return 0;
}

/* zc as "key=value" lines into f (a value over lines left out). */
static void dyn_lines(FILE *f, const struct zk_config *zc)
{
	for (int i = 0; i < zc->n; i++)
		if (!strchr(zc->keys[i], '\n') && !strchr(zc->values[i], '\n'))
			fprintf(f, "%s=%s\n", zc->keys[i], zc->values[i]);
}

int cluster_broker_dynamic_texts(struct cluster *c, char **self, size_t *slen, char **def,
				 size_t *dlen)
{
	FILE *fs = open_memstream(self, slen), *fd = open_memstream(def, dlen);
	int rc = 0;

	if (!fs || !fd) {
		if (fs && fclose(fs) == 0)
			free(*self);
		if (fd && fclose(fd) == 0)
			free(*def);
		*self = *def = NULL;
		return -ENOMEM;
	}
	if (c) {
		pthread_mutex_lock(&c->dyn_mu);
		dyn_lines(fs, &c->dyn_self);
		dyn_lines(fd, &c->dyn_default);
		pthread_mutex_unlock(&c->dyn_mu);
	}
	if (fclose(fs) != 0)
		rc = -ENOMEM;
	if (fclose(fd) != 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(*self);
		free(*def);
		*self = *def = NULL;
	}
	return rc;
}

int cluster_broker_config_alter(struct cluster *c, const char *name, const struct zk_config *set,
				const char *const *del, int n_del, bool replace)
{
	if (!c || !c->cr || !cluster_config_zk(&c->cfg->cluster))
		return -EOPNOTSUPP;
	return cluster_repl_set_broker_config(c->cr, name, set, del, n_del, replace);
}

/* The client quota entities, the table Produce and Fetch consult. */
static int read_client_quotas(struct cluster *c)
{
	struct client_quota_entity *ents;
	int n, rc = client_quota_zk_read(c->zk, &ents, &n);

	if (rc == 0)
		client_quotas_replace(c->quotas, ents, n);
	return rc;
}

struct acl_store *cluster_acls(struct cluster *c)
{
	return c ? c->acls : NULL;
}

/* The ACL cache brought up to ZooKeeper's notices (acl_zk_follow). */
static int read_acls(struct cluster *c)
{
	if (!c->acls)
		return 0;
	return acl_zk_follow(&c->acl_follow, c->zk, c->acls, on_acls, c, now_real_ms(),
			     c->cfg->cluster.config_change_expiration_ms);
}

struct dtoken_store *cluster_tokens(struct cluster *c)
{
	return c ? c->tokens : NULL;
}

/* The token cache brought up to ZooKeeper's notices (dtoken_zk_follow). */
static int read_tokens(struct cluster *c)
{
	if (!c->tokens)
		return 0;
	return dtoken_zk_follow(&c->token_follow, c->zk, c->tokens, on_tokens, c, now_real_ms(),
				c->cfg->cluster.config_change_expiration_ms);
}

struct client_quotas *cluster_client_quotas(struct cluster *c)
{
	return c ? c->quotas : NULL;
}

/* Re-reads every SCRAM user. Watches /config/users (users added or
 * removed) and /config/changes (Kafka's notice of a changed user). */
static int read_users(struct cluster *c)
{
	struct cred_entry *creds = NULL;
	char **names = NULL, **changes = NULL, why[ZK_WHY_LEN];
	int n, nc, k = 0, rc;

	nc = zkc_children(c->zk, ZK_CONFIG_CHANGES_PATH, &changes, on_users, c);
	if (nc < 0)
		return nc;
	rc = config_changes(c, changes, nc);
	zkc_names_free(changes, nc);
	/* Any notification may be a broker's ("brokers/<id>", "brokers/
	 * <default>") or a quota entity's ("clients/<c>", "users/<u>",
	 * "users/<u>/clients/<c>"): all of them read again, rather than
	 * tracking which. */
	if (rc == 0)
		rc = read_broker_configs(c);
	if (rc == 0)
		rc = read_client_quotas(c);
	if (rc < 0)
		return rc;
	n = zkc_children(c->zk, ZK_CONFIG_USERS_PATH, &names, on_users, c);
	if (n < 0)
		return n;
	creds = calloc((size_t)n + 1, sizeof(*creds));
	if (!creds) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		why[0] = '\0';
		rc = zkmeta_scram_user(c->zk, names[i], &creds[k].creds, NULL, NULL, why);
		if (rc == -ENOENT || rc == -EINVAL)
			continue; /* gone meanwhile, no SCRAM credential, a name not ours */
		if (rc == -EBADMSG) {
			mq_log(MQ_WARN,
			       "SCRAM user %s: /config/users/%s does not decode (%s): "
			       "ignored",
			       names[i], names[i], why);
			continue;
		}
		if (rc < 0)
			goto out;
		snprintf(creds[k].user, sizeof(creds[k].user), "%s", names[i]);
		k++;
	}
	creds_replace(c, creds, k);
	creds = NULL;
	rc = 0;
out:
	free(creds);
	zkc_names_free(names, n);
	return rc;
}

/* ---- brokers, controller ---- */

static void endpoints_text(const struct zk_broker *zb, char *buf, size_t size)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; i < zb->n_endpoints && at < size; i++) {
		const struct zk_endpoint *e = &zb->endpoints[i];
		bool v6 = strchr(e->host, ':') != NULL;
		int w = snprintf(buf + at, size - at, "%s%s://%s%s%s:%d", i ? "," : "", e->listener,
				 v6 ? "[" : "", e->host, v6 ? "]" : "", (int)e->port);

		if (w < 0)
			break;
		at += (size_t)w;
	}
}

/* Reads the live brokers into the metadata cache: 0, or 1 when this
 * broker, registered before, is not among them while its session lives
 * (another client deleted /brokers/ids/<id>: an operator's zkCli). The
 * controller then counts it as gone (its replicas leave the ISRs, it
 * hears no LeaderAndIsr), and nothing else would ever register it again:
 * its replicas would stay fenced (the leaders answer FENCED_LEADER_EPOCH)
 * and its mount would read them, stale, until a restart. The caller
 * registers it again (a new broker epoch: the controller takes it as a
 * broker that restarted, and its replicas catch up and rejoin). */
static int read_brokers(struct cluster *c)
{
	struct metadata_broker *live = NULL;
	int32_t *ids = NULL;
	bool mine = false;
	int n, k = 0, rc;

	n = zkmeta_broker_ids(c->zk, &ids, on_brokers, c);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		mine = mine || ids[i] == c->cfg->broker_id;
	live = calloc((size_t)n + 1, sizeof(*live));
	if (!live) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		char path[ZK_PATH_MAX], why[ZK_WHY_LEN] = "", *data = NULL;
		struct zk_broker zb;
		size_t len;

		zk_path_broker(path, sizeof(path), ids[i]);
		rc = zkc_get(c->zk, path, &data, &len, NULL, NULL, NULL);
		if (rc == -ENOENT)
			continue; /* left meanwhile: the watch tells */
		if (rc < 0)
			goto out;
		rc = zk_broker_decode(data, len, &zb, why);
		free(data);
		live[k].id = ids[i];
		if (rc == 0) {
			endpoints_text(&zb, live[k].endpoints, sizeof(live[k].endpoints));
			if (zb.rack) {
				snprintf(live[k].rack, sizeof(live[k].rack), "%s", zb.rack);
				live[k].has_rack = true;
			}
			zk_broker_clear(&zb);
		} else {
			mq_log(MQ_WARN, "broker %d: %s does not decode (%s)", (int)ids[i], path,
			       why);
		}
		k++;
	}
	rc = metadata_cache_set_brokers(c->mc, live, k);
	if (rc == 0 && !mine && atomic_load(&c->registrations) > 0) {
		mq_log(MQ_WARN,
		       "broker %d: /brokers/ids/%d is gone while this broker's ZooKeeper session "
		       "lives (deleted by another client): registering again",
		       (int)c->cfg->broker_id, (int)c->cfg->broker_id);
		rc = 1;
	}
out:
	free(live);
	free(ids);
	return rc;
}

static int read_controller(struct cluster *c)
{
	char *data = NULL, why[ZK_WHY_LEN] = "";
	struct zk_controller zc;
	size_t len;
	int rc;

	for (;;) {
		rc = zkc_get(c->zk, ZK_CONTROLLER_PATH, &data, &len, NULL, on_controller, c);
		if (rc == 0)
			break;
		if (rc != -ENOENT)
			return rc;
		/* None now: watch for its creation; it may have come meanwhile. */
		rc = zkc_exists(c->zk, ZK_CONTROLLER_PATH, NULL, on_controller, c);
		if (rc == -ENOENT) {
			metadata_cache_set_controller(c->mc, -1);
			return 0;
		}
		if (rc < 0)
			return rc;
	}
	rc = zk_controller_decode(data, len, &zc, why);
	free(data);
	if (rc < 0) {
		mq_log(MQ_WARN, "%s does not decode (%s)", ZK_CONTROLLER_PATH, why);
		metadata_cache_set_controller(c->mc, -1);
		return 0;
	}
	metadata_cache_set_controller(c->mc, zc.broker_id);
	return 0;
}

/* ---- topics ---- */

bool cluster_replicated(const struct cluster *c, const char *topic)
{
	return cluster_zk_mode(c) && !cluster_topic_local_only(topic);
}

/* Owner and mode of a topic from its config znode (mqfs's keys); the
 * defaults of a topic made by Kafka's tools (root, 0755) when absent. */
static void topic_owner_of(const struct zk_config *zc, uid_t *uid, gid_t *gid, mode_t *mode)
{
	const char *v;

	*uid = 0;
	*gid = 0;
	*mode = 0755;
	if ((v = zk_config_get(zc, "mqfs.owner.uid")))
		*uid = (uid_t)strtoul(v, NULL, 10);
	if ((v = zk_config_get(zc, "mqfs.owner.gid")))
		*gid = (gid_t)strtoul(v, NULL, 10);
	if ((v = zk_config_get(zc, "mqfs.mode")))
		*mode = (mode_t)(strtoul(v, NULL, 8) & 07777);
}

/* mqfs's keys of a topic's owner and mode into zc (replacing them). */
static int owner_put(struct zk_config *zc, uid_t uid, gid_t gid, mode_t mode)
{
	char vu[24], vg[24], vm[24];
	int rc;

	snprintf(vu, sizeof(vu), "%u", (unsigned)uid);
	snprintf(vg, sizeof(vg), "%u", (unsigned)gid);
	snprintf(vm, sizeof(vm), "%04o", (unsigned)(mode & 07777));
	rc = zk_config_put(zc, "mqfs.owner.uid", 14, vu, strlen(vu));
	if (rc == 0)
		rc = zk_config_put(zc, "mqfs.owner.gid", 14, vg, strlen(vg));
	if (rc == 0)
		rc = zk_config_put(zc, "mqfs.mode", 9, vm, strlen(vm));
	return rc;
}

/* Whether /brokers/topics/<topic> exists now (a failed check counts as
 * there: a topic is never removed here on a doubt). */
static bool topic_still_there(void *arg, const char *topic)
{
	struct cluster *c = arg;
	char path[ZK_PATH_MAX];

	if (zk_path_topic(path, sizeof(path), topic) < 0)
		return true;
	return zkc_exists(c->zk, path, NULL, NULL, NULL) != -ENOENT;
}

/* Whether the mount makes logs for this broker's new replicas (a topic
 * made or grown): not once its log directory failed (replica_mgr.c). Their
 * LeaderAndIsr is refused then and the controller takes them offline, so
 * such a log would stay empty and the mount would read it as the
 * partition's records; without one the mount reads the partition from
 * its read copy and writes through the leader, as on a broker that holds
 * no replica of it. */
static bool makes_logs(struct cluster *c)
{
	return !cluster_log_dir_failure(c);
}

/* A partition moving, as its topic znode says (.state's line). */
struct cluster_move {
	char topic[ZK_TOPIC_MAX + 1];
	int32_t partition;
	char adding[64], removing[64]; /* "[3]" */
};

/* Topic's moves as its assignment a says, replacing those known of it
 * (none with a NULL a: the topic went). Out of memory the old ones stay
 * (a .state line late). */
static void moves_note(struct cluster *c, const char *topic, const struct zk_topic *a)
{
	struct cluster_move *v;
	int n = 0, k = 0;

	for (int p = 0; a && p < a->n_partitions; p++)
		n += a->partitions[p].n_adding || a->partitions[p].n_removing;
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < c->n_moves; i++)
		k += strcmp(c->moves[i].topic, topic) != 0;
	v = malloc(((size_t)k + (size_t)n + 1) * sizeof(*v));
	if (v) {
		k = 0;
		for (int i = 0; i < c->n_moves; i++)
			if (strcmp(c->moves[i].topic, topic))
				v[k++] = c->moves[i];
		for (int p = 0; a && p < a->n_partitions; p++) {
			const struct zk_assignment *pa = &a->partitions[p];

			if (!pa->n_adding && !pa->n_removing)
				continue;
			snprintf(v[k].topic, sizeof(v[k].topic), "%s", topic);
			v[k].partition = p;
			zk_ids_text(v[k].adding, sizeof(v[k].adding), pa->adding, pa->n_adding);
			zk_ids_text(v[k].removing, sizeof(v[k].removing), pa->removing,
				    pa->n_removing);
			k++;
		}
		free(c->moves);
		c->moves = v;
		c->n_moves = k;
	}
	pthread_mutex_unlock(&c->mu);
}

/* The moves of the topics no longer in /brokers/topics (keep[0..n), the
 * listing read) are forgotten: a topic deleted in the middle of its move
 * takes it along, and one made again under its name shows only its own
 * from its first read. */
static void moves_keep(struct cluster *c, char **keep, int n)
{
	int k = 0;

	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < c->n_moves; i++) {
		bool listed = false;

		for (int j = 0; j < n && !listed; j++)
			listed = !strcmp(c->moves[i].topic, keep[j]);
		if (listed)
			c->moves[k++] = c->moves[i];
	}
	c->n_moves = k;
	pthread_mutex_unlock(&c->mu);
}

/* Whether partition's log is open here without a replica of the replica
 * manager over it (stopped and deleted, or never given one). */
static bool replica_gone(struct cluster *c, const char *topic, int partition)
{
	struct partition *p;

	if (!cluster_repl_hosts(c->cr, topic, partition))
		return false;
	p = replica_mgr_get(cluster_repl_replicas(c->cr), topic, partition);
	if (p)
		partition_unref(p);
	return p == NULL;
}

void cluster_topic_reread(struct cluster *c, const char *topic)
{
	if (!c)
		return;
	zkwatch_fired(&c->topics_done, topic);
	post(c, EV_TOPICS);
}

/* Every topic in /brokers/topics becomes (or stays) a local topic; local
 * replicated topics no longer there go (the controller deleted them). */
static int read_topics(struct cluster *c)
{
	const struct cluster_topic_hooks *h = &c->local.topics;
	char **names = NULL;
	int n, rc = 0;

	n = zkc_children(c->zk, ZK_BROKER_TOPICS_PATH, &names, on_topics, c);
	if (n < 0)
		return n;
	for (int i = 0; h->appeared && i < n; i++) {
		char why[ZK_WHY_LEN] = "", path[ZK_PATH_MAX];
		struct zkmeta_topic t;
		struct zk_config zc;
		bool *local;
		uid_t uid;
		gid_t gid;
		mode_t mode;
		int r;

		if (!cluster_replicated(c, names[i]))
			continue;
		if (zk_path_topic(path, sizeof(path), names[i]) < 0)
			continue;
		/* Unchanged since it was made here: no read (each change of
		 * /brokers/topics would otherwise read every topic's znodes on
		 * every broker). */
		if (zkwatch_armed(&c->topic_watches, path) &&
		    zkwatch_armed(&c->topics_done, names[i]))
			continue;
		zkwatch_fired(&c->topics_done, names[i]);
		if ((r = zkwatch_arm(&c->topic_watches, c->zk, path, on_topic_data, c)) < 0) {
			rc = r;
			break;
		}
		r = zkmeta_read_topic(c->zk, names[i], &t, why);
		if (r == -ENOENT) {
			moves_note(c, names[i], NULL); /* deleted meanwhile */
			continue;
		}
		if (r == -EBADMSG) {
			/* Written by another client of the ensemble (an
			 * operator's zkCli): it must not keep the topics after
			 * it in the listing from being made here, nor go
			 * unsaid. Its armed watch brings it back once
			 * repaired; a local topic of the name stays as it is
			 * (the name is still listed). */
			mq_log_limited(MQ_ERR,
				       "topic %s of the cluster: /brokers/topics/%s: %s; left "
				       "as it is until its znode is repaired",
				       names[i], names[i], why);
			continue;
		}
		if (r < 0) {
			rc = r;
			break;
		}
		moves_note(c, names[i], &t.assignment);
		/* Its overrides first: the topic is made here with them. */
		if ((r = config_read_zk(c, false, names[i], &zc)) < 0) {
			zkmeta_topic_clear(&t);
			rc = r;
			break;
		}
		/* A local topic of the name that is an earlier topic's goes
		 * first, and is made again below. */
		if (t.assignment.topic_id[0] && h->incarnation &&
		    h->incarnation(h->arg, names[i], -1, t.assignment.topic_id) == -ESTALE) {
			/* Removed here after this read: left unclaimed; the
			 * deletion of its znodes, which the controller carries
			 * out, takes the name from the listing. */
			zkmeta_topic_clear(&t);
			zk_config_clear(&zc);
			continue;
		}
		topic_owner_of(&zc, &uid, &gid, &mode);
		local = calloc((size_t)t.assignment.n_partitions + 1, sizeof(*local));
		if (!local) {
			zkmeta_topic_clear(&t);
			zk_config_clear(&zc);
			rc = -ENOMEM;
			break;
		}
		for (int p = 0; p < t.assignment.n_partitions && makes_logs(c); p++) {
			const struct zk_assignment *a = &t.assignment.partitions[p];

			for (int j = 0; j < a->n_replicas && !local[p]; j++)
				local[p] = a->replicas[j] == c->cfg->broker_id;
		}
		r = h->appeared(h->arg, names[i], t.assignment.n_partitions, local, uid, gid, mode,
				&zc, t.assignment.topic_id);
		/* A replica moved away (reassigned to other brokers): once the
		 * replica manager let it go (StopReplica with delete), its log
		 * goes too. Its StopReplica, when later, reads the topic again
		 * (replica_deleted). */
		for (int p = 0; (r >= 0 || r == -EEXIST) && h->moved_away && makes_logs(c) &&
				p < t.assignment.n_partitions;
		     p++) {
			if (local[p])
				continue;
			if (t.partitions[p].present)
				(void)replica_mgr_drop_stray(cluster_repl_replicas(c->cr), names[i],
							     p, t.partitions[p].state.leader_epoch);
			if (replica_gone(c, names[i], p))
				h->moved_away(h->arg, names[i], p);
		}
		free(local);
		bool made = r >= 0 || r == -EEXIST;
		/* -EMFILE: made, some replica's log still without room (the
		 * broker logged it); tried again, not claimed. -ESTALE: removed
		 * here after this read (the check above came before it), left
		 * unclaimed as there. */
		if (!made && r != -EMFILE && r != -ESTALE)
			mq_log(MQ_ERR, "topic %s of the cluster: cannot make it here: %s", names[i],
			       strerror(-r));
		zkmeta_topic_clear(&t);
		/* Its overrides on a topic known here already, also those
		 * changed while this broker was away (their notifications are
		 * not replayed). */
		if (h->config)
			h->config(h->arg, names[i], &zc);
		zk_config_clear(&zc);
		if (made && zkwatch_claim(&c->topics_done, names[i]) < 0) {
			rc = -ENOMEM;
			break;
		}
	}
	/* Names that left the listing go (a topic made again under the same
	 * name is read afresh). */
	if (rc == 0) {
		zkwatch_keep(&c->topics_done, names, n);
		moves_keep(c, names, n);
	}
	if (rc == 0 && h->retain)
		h->retain(h->arg, names, n, topic_still_there, c);
	zkc_names_free(names, n);
	return rc;
}

void cluster_topic_gone(struct cluster *c, const char *topic)
{
	if (c)
		cluster_repl_topic_gone(c->cr, topic);
}

void cluster_topics_recheck(struct cluster *c)
{
	post(c, EV_TOPICS);
}

/* cluster_topic_create and cluster_topic_request: wait_ms < 0 writes the
 * topic to ZooKeeper and does not wait for its leaders. */
static int topic_create(struct cluster *c, const char *topic, int n_partitions,
			int replication_factor, const struct zk_config *overrides, uid_t uid,
			gid_t gid, mode_t mode, int64_t wait_ms, char *topic_id)
{
	struct zk_config zc = { 0 };
	int rc = 0;

	for (int i = 0; rc == 0 && overrides && i < overrides->n; i++)
		rc = zk_config_put(&zc, overrides->keys[i], strlen(overrides->keys[i]),
				   overrides->values[i], strlen(overrides->values[i]));
	if (rc == 0)
		rc = owner_put(&zc, uid, gid, mode);
	if (rc == 0 && wait_ms < 0)
		rc = cluster_repl_request_topic(c->cr, topic, n_partitions, replication_factor, &zc,
						topic_id);
	else if (rc == 0)
		rc = cluster_repl_create_topic(c->cr, topic, n_partitions, replication_factor, &zc,
					       wait_ms, topic_id);
	zk_config_clear(&zc);
	if (rc < 0 && rc != -EEXIST)
		mq_log(MQ_ERR, "topic %s: cluster creation failed: %s", topic, strerror(-rc));
	return rc;
}

int cluster_topic_create(struct cluster *c, const char *topic, int n_partitions,
			 int replication_factor, const struct zk_config *overrides, uid_t uid,
			 gid_t gid, mode_t mode, int64_t timeout_ms, char *topic_id)
{
	return topic_create(c, topic, n_partitions, replication_factor, overrides, uid, gid, mode,
			    timeout_ms > 0 ? timeout_ms : 30000, topic_id);
}

int cluster_topic_request(struct cluster *c, const char *topic, int n_partitions,
			  int replication_factor, const struct zk_config *overrides, uid_t uid,
			  gid_t gid, mode_t mode)
{
	return topic_create(c, topic, n_partitions, replication_factor, overrides, uid, gid, mode,
			    -1, NULL);
}

int cluster_topic_grow_check(struct cluster *c, const char *topic)
{
	struct metadata_broker *mb = NULL;
	struct partition_state st;
	int n, live = 0;

	if (cluster_partition_state(c, topic, 0, &st) < 0 || st.n_replicas <= 0)
		return 0;
	if (metadata_cache_racks_mixed(cluster_metadata(c))) {
		mq_log_limited(MQ_WARN,
			       "topic %s: .config refused: not all brokers have rack information "
			       "for replica rack aware assignment (broker.rack set on some live "
			       "brokers only)",
			       topic);
		return -ENOTSUP;
	}
	n = metadata_cache_brokers(cluster_metadata(c), &mb);
	if (n < 0)
		return 0;
	for (int i = 0; i < n; i++)
		live += mb[i].alive;
	free(mb);
	if (st.n_replicas <= live)
		return 0;
	mq_log_limited(MQ_WARN,
		       "topic %s: .config refused: more partitions need %d live brokers "
		       "(the replication factor), %d are live",
		       topic, st.n_replicas, live);
	return -EINVAL;
}

int cluster_topic_add_partitions(struct cluster *c, const char *topic, int n_partitions,
				 int64_t timeout_ms)
{
	int rc = cluster_repl_add_partitions(c->cr, topic, n_partitions,
					     timeout_ms > 0 ? timeout_ms : 30000);

	if (rc < 0)
		mq_log(MQ_ERR, "topic %s: adding partitions (to %d) failed: %s", topic,
		       n_partitions, strerror(-rc));
	return rc;
}

int cluster_topic_config_set(struct cluster *c, const char *topic,
			     const struct zk_config *overrides, const struct zk_config *lines,
			     bool lines_change)
{
	return cluster_repl_set_topic_config(c->cr, topic, overrides, lines, lines_change);
}

int cluster_topic_lines_fix(struct cluster *c, const char *topic, const struct zk_config *ours,
			    bool ours_win, struct zk_config *out)
{
	return cluster_repl_topic_lines_fix(c->cr, topic, ours, ours_win, out);
}

int cluster_topic_owner_set(struct cluster *c, const char *topic, uid_t uid, gid_t gid, mode_t mode)
{
	struct zk_config zc = { 0 };
	int rc = owner_put(&zc, uid, gid, mode);

	if (rc == 0)
		rc = cluster_repl_set_topic_owner(c->cr, topic, &zc);
	zk_config_clear(&zc);
	if (rc < 0)
		mq_log(MQ_ERR, "topic %s: owner and mode not written to ZooKeeper: %s", topic,
		       strerror(-rc));
	return rc;
}

void cluster_topic_owner_of(const struct zk_config *zc, uid_t *uid, gid_t *gid, mode_t *mode)
{
	topic_owner_of(zc, uid, gid, mode);
}

void cluster_local_replicas(struct cluster *c, const char *topic, int n, bool *local)
{
	for (int p = 0; p < n; p++) {
		struct partition_state st;

		local[p] = makes_logs(c);
		if (!local[p])
			continue;
		if (replica_mgr_partition_meta(cluster_repl_replicas(c->cr), topic, p, &st) < 0)
			continue;
		local[p] = false;
		for (int j = 0; j < st.n_replicas && !local[p]; j++)
			local[p] = st.replicas[j] == c->cfg->broker_id;
	}
}

int cluster_topic_delete(struct cluster *c, const char *topic)
{
	return cluster_repl_delete_topic(c->cr, topic);
}

int cluster_topic_delete_wait(struct cluster *c, const char *topic, int64_t timeout_ms)
{
	return cluster_repl_delete_topic_wait(c->cr, topic, timeout_ms);
}

int cluster_append_check(struct cluster *c, const char *topic, int partition, int acks,
			 int32_t min_insync_replicas, int32_t *epoch)
{
	return cluster_repl_append_check(c->cr, topic, partition, acks, min_insync_replicas, epoch);
}

int cluster_commit_check(struct cluster *c, const char *topic, int partition,
			 int32_t min_insync_replicas)
{
	return cluster_repl_commit_check(c->cr, topic, partition, min_insync_replicas);
}

void cluster_topic_min_isr(struct cluster *c, const char *topic, int32_t min_insync_replicas)
{
	/* A single node's cluster (a listener only) has no replicas. */
	struct replica_mgr *rm = c ? cluster_repl_replicas(c->cr) : NULL;

	if (rm)
		replica_mgr_set_min_isr(rm, topic, min_insync_replicas);
}

void cluster_appended(struct cluster *c, const char *topic, int partition)
{
	cluster_repl_appended(c->cr, topic, partition);
}

bool cluster_follows(struct cluster *c, const char *topic, int partition)
{
	return c && cluster_repl_follows(c->cr, topic, partition);
}

void cluster_commit_lag(struct cluster *c, const char *topic, int partition, char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	if (c)
		cluster_repl_commit_lag(c->cr, topic, partition, buf, len);
}

int cluster_storage_failed(struct cluster *c, const char *topic, int partition, int err)
{
	return cluster_repl_storage_failed(c->cr, topic, partition, err);
}

int cluster_log_dir_failure(struct cluster *c)
{
	return c ? cluster_repl_log_dir_failure(c->cr) : 0;
}

int32_t cluster_leader(struct cluster *c, const char *topic, int partition)
{
	struct partition_state st;

	if (replica_mgr_partition_meta(cluster_repl_replicas(c->cr), topic, partition, &st) < 0)
		return -1;
	return st.leader;
}

bool cluster_leads(struct cluster *c, const char *topic, int partition)
{
	return cluster_leader(c, topic, partition) == c->cfg->broker_id;
}

int cluster_elect_leaders(struct cluster *c, bool unclean, struct controller_election *parts, int n)
{
	struct cluster_repl *cr = __atomic_load_n(&c->cr, __ATOMIC_ACQUIRE);

	return cr ? cluster_repl_elect_leaders(cr, unclean, parts, n) : -EAGAIN;
}

int cluster_alter_reassignments(struct cluster *c, struct controller_reassignment *parts, int n)
{
	struct cluster_repl *cr = __atomic_load_n(&c->cr, __ATOMIC_ACQUIRE);

	return cr ? cluster_repl_alter_reassignments(cr, parts, n) : -EAGAIN;
}

int cluster_list_reassignments(struct cluster *c, struct controller_moving **out)
{
	struct cluster_repl *cr = __atomic_load_n(&c->cr, __ATOMIC_ACQUIRE);

	*out = NULL;
	return cr ? cluster_repl_list_reassignments(cr, out) : -EAGAIN;
}

bool cluster_heard_controller(struct cluster *c)
{
	return c && cluster_repl_heard_controller(c->cr);
}

bool cluster_is_controller(struct cluster *c)
{
	if (!c->zk)
		return true;
	return cluster_repl_is_controller(__atomic_load_n(&c->cr, __ATOMIC_ACQUIRE));
}

int cluster_partition_state(struct cluster *c, const char *topic, int partition,
			    struct partition_state *st)
{
	return cluster_repl_partition_state(c->cr, topic, partition, st);
}

int cluster_partition_cells(struct cluster *c, const char *topic, int partition, char leader[24],
			    char epoch[24], char replicas[24], char isr[24])
{
	return cluster_repl_partition_cells(c->cr, topic, partition, leader, epoch, replicas, isr);
}

void cluster_partition_followers(struct cluster *c, const char *topic, int partition, FILE *f)
{
	cluster_repl_partition_followers(c->cr, topic, partition, f);
	/* A move in progress (Kafka's reassignment): the replicas column
	 * holds them all meanwhile. */
	pthread_mutex_lock(&c->mu);
	for (int i = 0; i < c->n_moves; i++)
		if (c->moves[i].partition == partition && !strcmp(c->moves[i].topic, topic))
			fprintf(f, "moving %d: adding %s removing %s\n", partition,
				c->moves[i].adding, c->moves[i].removing);
	pthread_mutex_unlock(&c->mu);
}

/* ---- registration ---- */

/* The endpoints to advertise: advertised.listeners, else listeners; a
 * port 0 becomes the port the listener of that name is bound to, an empty
 * host this machine's name. */
static int advertised(struct cluster *c, struct zk_endpoint *eps, char hosts[][NET_MAX_HOST + 1])
{
	const struct net_config *nc = &c->cfg->cluster.net;
	const struct net_endpoint *adv = nc->n_advertised ? nc->advertised : nc->listeners;
	int n = nc->n_advertised ? nc->n_advertised : nc->n_listeners;

	for (int i = 0; i < n; i++) {
		int port = adv[i].port;

		for (int j = 0; port == 0 && j < nc->n_listeners; j++)
			if (!strcmp(nc->listeners[j].name, adv[i].name))
				port = net_server_port(c->srv, j);
		if (port <= 0)
			return -EINVAL;
		snprintf(hosts[i], NET_MAX_HOST + 1, "%s", adv[i].host);
		if (!hosts[i][0] && gethostname(hosts[i], NET_MAX_HOST) < 0)
			return -errno;
		eps[i] = (struct zk_endpoint){
			.listener = (char *)adv[i].name,
			.security_protocol = adv[i].security == NET_SASL_PLAINTEXT
						     ? "SASL_PLAINTEXT"
						     : "PLAINTEXT",
			.host = hosts[i],
			.port = port,
		};
	}
	return n;
}

/* Registers (or, update: rewrites the document of) /brokers/ids/<id>
 * with the endpoints and the partitions not eligible as leader. */
static int register_broker(struct cluster *c, bool update)
{
	struct zk_endpoint eps[NET_MAX_LISTENERS];
	char hosts[NET_MAX_LISTENERS][NET_MAX_HOST + 1], path[ZK_PATH_MAX];
	int32_t id = c->cfg->broker_id;
	struct zk_tp *inel = NULL;
	struct zk_broker zb;
	struct zkc_stat st;
	int n, n_inel, rc;

	n = advertised(c, eps, hosts);
	if (n < 0)
		return n;
	n_inel = cluster_repl_ineligible(c->cr, &inel);
	if (n_inel < 0)
		return n_inel;
	zb = (struct zk_broker){ .version = 5,
				 .port = -1,
				 .jmx_port = -1,
				 .timestamp = now_real_ms(),
				 .endpoints = eps,
				 .n_endpoints = n,
				 .ineligible = inel,
				 .n_ineligible = n_inel };
	/* Kafka writes "rack" only when broker.rack is set. */
	if (c->cfg->cluster.rack[0])
		zb.rack = (char *)c->cfg->cluster.rack;
	rc = zkmeta_register_broker(c->zk, id, &zb);
	ineligible_copy_free(inel, n_inel);
	if (update) {
		if (rc == 0)
			mq_log(MQ_INFO,
			       "broker %d: registration rewritten, %d partitions not "
			       "eligible as leader",
			       (int)id, n_inel);
		return rc;
	}
	if (rc < 0)
		return rc; /* -EEXIST: the caller says so */
	zk_path_broker(path, sizeof(path), id);
	rc = zkc_exists(c->zk, path, &st, NULL, NULL);
	if (rc < 0)
		return rc;
	atomic_store(&c->broker_epoch, st.czxid);
	if (c->cr)
		cluster_repl_set_broker_epoch(c->cr, st.czxid);
	atomic_fetch_add(&c->registrations, 1);
	mq_log(MQ_INFO,
	       "broker %d registered at %s (broker epoch %" PRId64 ", session 0x%" PRIx64 ")",
	       (int)id, path, st.czxid, (uint64_t)zkc_session_id(c->zk));
	return 0;
}

/* The session that holds /brokers/ids/<broker.id>, 0 when none does (or
 * it could not be read). */
static uint64_t registration_owner(struct cluster *c)
{
	char path[ZK_PATH_MAX];
	struct zkc_stat st = { 0 };

	if (zk_path_broker(path, sizeof(path), c->cfg->broker_id) < 0 ||
	    zkc_exists(c->zk, path, &st, NULL, NULL) < 0)
		return 0;
	return (uint64_t)st.ephemeral_owner;
}

static void log_taken(struct cluster *c, int level, const char *what, int64_t waited_ms)
{
	mq_log(level,
	       "broker.id %d is taken: /brokers/ids/%d is registered by another live broker "
	       "(ZooKeeper session 0x%" PRIx64 ", %" PRId64 " ms after this broker's start); %s",
	       (int)c->cfg->broker_id, (int)c->cfg->broker_id, registration_owner(c), waited_ms,
	       what);
}

/* Beyond zookeeper.session.timeout.ms, how long the start waits for a
 * registration another session holds (header, step 5): ZooKeeper expires
 * a session up to a tick after its timeout, and the crashed broker may
 * have asked for a longer one than this broker. */
#define REGISTER_WAIT_EXTRA_MS 2000
#define REGISTER_POLL_MS       100
#define ZK_START_RETRY_MS      100 /* zk_start_again */

/* Step 5 of the start: registers, waiting for a registration of this id
 * that another session holds to go. -ENOTUNIQ: it did not. */
static int register_at_start(struct cluster *c)
{
	int64_t start = now_mono_ms(),
		end = start + c->cfg->cluster.zk_session_timeout_ms + REGISTER_WAIT_EXTRA_MS;
	int rc = register_broker(c, false);

	if (rc != -EEXIST)
		return rc;
	mq_log(MQ_WARN,
	       "broker.id %d: /brokers/ids/%d is held by ZooKeeper session 0x%" PRIx64
	       ", not this broker's: waiting up to %" PRId64 " ms for it to go (a crashed "
	       "broker's registration lasts until its session expires)",
	       (int)c->cfg->broker_id, (int)c->cfg->broker_id, registration_owner(c), end - start);
	while (rc == -EEXIST && now_mono_ms() < end) {
		pause_ms(REGISTER_POLL_MS);
		rc = register_broker(c, false);
	}
	if (rc == -EEXIST) {
		log_taken(c, MQ_ERR, "not starting a second broker with that id",
			  now_mono_ms() - start);
		return -ENOTUNIQ;
	}
	if (rc == 0)
		mq_log(MQ_INFO, "broker.id %d: the earlier registration went after %" PRId64 " ms",
		       (int)c->cfg->broker_id, now_mono_ms() - start);
	return rc;
}

/* A ZooKeeper call of the start failed for a lost connection (ZooKeeper
 * restarting: ZCONNECTIONLOSS, or no answer in time) and `until` has not
 * passed: pause, then the caller tries again. The client reconnects to
 * its session by itself, and Kafka's start retries its requests until
 * connected (retryRequestsUntilConnected): a ZooKeeper restart during a
 * broker's start must not end it ("cannot open DATA: Connection reset by
 * peer"). */
static bool zk_start_again(int rc, int64_t until)
{
	if ((rc != -ECONNRESET && rc != -ETIMEDOUT) || now_mono_ms() >= until)
		return false;
	pause_ms(ZK_START_RETRY_MS);
	return true;
}

/* The session, then the persistent paths. At the start (until not NULL)
 * *until is how long the start's calls may wait for a lost connection to
 * come back, zookeeper.connection.timeout.ms from the session's opening;
 * the cluster thread's new session (NULL) tries nothing again here: it
 * opens another session CLUSTER_RETRY_MS later, its events waiting. */
static int zk_connect(struct cluster *c, int64_t *until)
{
	const struct cluster_config *cc = &c->cfg->cluster;
	int64_t end;
	int rc;

	atomic_store(&c->zk_state, ZK_STATE_NONE);
	rc = zkc_open(cc->zk_connect, (int)cc->zk_session_timeout_ms,
		      (int)cluster_config_connect_timeout(cc), on_session, c, &c->zk);
	if (rc < 0)
		return rc;
	atomic_store(&c->zk_state, ZK_STATE_CONNECTED);
	end = now_mono_ms() + cluster_config_connect_timeout(cc);
	if (until)
		*until = end;
	do
		rc = zkmeta_ensure_paths(c->zk);
	while (until && zk_start_again(rc, end));
	return rc;
}

/* ---- the cluster this data directory belongs to ----
 *
 * A broker's data directory belongs to the cluster it first joined, whose
 * id it keeps in DATA/meta/zk-cluster.id (Kafka keeps it in
 * meta.properties and refuses to start against another cluster). An
 * ensemble whose /cluster/id is missing or another is not that cluster:
 * its data was lost (wiped, a new server on the old address) or
 * zookeeper.connect names another ensemble or chroot. Its empty
 * /brokers/topics would read as every topic deleted, and the broker would
 * remove its logs, acknowledged records and all (read_topics); so a
 * broker neither starts against it nor, on a new session, registers or
 * reads anything there. A data directory without the file (its first
 * start, or made before the file was kept) takes the ensemble's id, made
 * if there is none, unless it holds a single node's logs
 * (cluster_data_dir_check: their topics are not in ZooKeeper and would
 * be removed the same way). A single node's id, DATA/meta/cluster.id, is
 * another file. */
#define JOINED_CLUSTER_FILE "zk-cluster.id"
#define BROKER_ID_FILE      "broker.id"

/* (cluster.h) */
int cluster_id_file_read(const char *data_dir, const char *name, char *id)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (snprintf(path, sizeof(path), "%s/meta/%s", data_dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = io_read_file(&io_posix, path, &text, &len);
	if (rc < 0)
		return rc;
	/* The id and its newline (id_file_write), nothing else: a longer
	 * text whose first 22 bytes read as an id is another id, or none. */
	rc = -EBADMSG;
	if (len == ZK_UUID_LEN || (len == ZK_UUID_LEN + 1 && text[ZK_UUID_LEN] == '\n')) {
		memcpy(id, text, ZK_UUID_LEN);
		id[ZK_UUID_LEN] = '\0';
		if (zk_uuid_valid(id))
			rc = 0;
	}
	free(text);
	return rc;
}

/* Whether ZooKeeper lists this broker among the replicas of topic's
 * partition (its assignment, or a reassignment adding it): 1, 0 (the
 * topic or the partition is not there, or not this broker's), -errno. */
static int zk_lists_replica(struct cluster *c, const char *topic, int32_t partition)
{
	char path[ZK_PATH_MAX], why[ZK_WHY_LEN] = "", *data = NULL;
	struct zk_topic t;
	size_t len;
	int rc;

	if ((rc = zk_path_topic(path, sizeof(path), topic)) < 0)
		return rc;
	rc = zkc_get(c->zk, path, &data, &len, NULL, NULL, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	rc = zk_topic_decode(data, len, &t, why);
	free(data);
	if (rc < 0) /* not a topic this broker can be a replica of */
		return rc == -EBADMSG ? 0 : rc;
	rc = 0;
	if (partition < t.n_partitions) {
		const struct zk_assignment *a = &t.partitions[partition];

		for (int i = 0; i < a->n_replicas && !rc; i++)
			rc = a->replicas[i] == c->cfg->broker_id;
		for (int i = 0; i < a->n_adding && !rc; i++)
			rc = a->adding[i] == c->cfg->broker_id;
	}
	zk_topic_clear(&t);
	return rc;
}

/* A log found in the data directory of a topic a cluster replicates but
 * without the topic id every replica's log keeps (partition.metadata),
 * whose topic ZooKeeper does not list with this broker among the
 * partition's replicas: a single node's, which keeps no topic id. A log
 * without an id that ZooKeeper lists as this broker's is a replica
 * written by an mqfs that kept no topic ids (nor meta/zk-cluster.id):
 * the broker's first LeaderAndIsr of it writes the id (topic_id_keep in
 * cluster_repl.c). 1 with the single node's log in name, 0 none (*old
 * the count of a replica's logs without an id), -errno.
 * __consumer_offsets is left out: without topics of its own a single
 * node's holds nothing a cluster would miss. */
static int single_node_log(struct cluster *c, char *name, size_t cap, int *old)
{
	struct logmgr *m = c->local.m;
	int n, rc;
	const struct log_name *found = logmgr_found(m, &n);
	char id[64];

	*old = 0;
	for (int i = 0; i < n; i++) {
		if (cluster_topic_local_only(found[i].topic) ||
		    strcmp(found[i].topic, GROUP_OFFSETS_TOPIC) == 0)
			continue;
		rc = logmgr_topic_id(m, found[i].topic, found[i].partition, id, sizeof(id));
		/* A file that does not parse is a replica's too. */
		if (rc == -EBADMSG || rc > 0)
			continue;
		if (rc == 0)
			rc = zk_lists_replica(c, found[i].topic, found[i].partition);
		if (rc < 0)
			return rc;
		if (rc == 0) {
			snprintf(name, cap, "%s-%d", found[i].topic, (int)found[i].partition);
			return 1;
		}
		(*old)++;
	}
	return 0;
}

/* The broker.id of the cluster broker this data directory is, kept in
 * DATA/meta/broker.id at its first start in a cluster (Kafka keeps it in
 * meta.properties and refuses another): another broker started on it
 * would hold its replicas' logs as its own, in its own ISRs, with
 * records it never had and without records it acknowledged, and could
 * be elected on them. A directory without the file takes id. 0,
 * -EMEDIUMTYPE (another broker's), -EBADMSG (not an id), -errno; each
 * logged. */
static int broker_id_check(const char *dir, int32_t id)
{
	char path[PATH_MAX], line[16], *text = NULL, *end;
	size_t len = 0;
	long kept;
	int rc;

	if (snprintf(path, sizeof(path), "%s/meta/" BROKER_ID_FILE, dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = io_read_file(&io_posix, path, &text, &len);
	if (rc == -ENOENT) {
		snprintf(line, sizeof(line), "%d\n", (int)id);
		rc = io_write_file_atomic(&io_posix, path, line, strlen(line));
		if (rc < 0)
			mq_log(MQ_ERR, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (rc < 0) {
		mq_log(MQ_ERR, "%s: %s; refusing to start", path, strerror(-rc));
		return rc;
	}
	/* Decimal digits and the newline this function writes, nothing
	 * else: strtol alone would also take a sign, leading blanks and
	 * whatever follows a first line ("7\n8" as 7). */
	errno = 0;
	kept = strtol(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || end == text ||
	    (size_t)(end - text) + (*end == '\n') != len || errno || kept > INT32_MAX) {
		mq_log(MQ_ERR,
		       "%s: not a broker id; refusing to start (repair or remove the file: it "
		       "names the broker this data directory belongs to)",
		       path);
		rc = -EBADMSG;
	} else if (kept != id) {
		mq_log(MQ_ERR,
		       "%s: this data directory is broker %ld's, and this broker is %d "
		       "(broker.id): its replicas' logs would count as broker %d's, with "
		       "records it never had and without records it acknowledged; refusing "
		       "to start (give each broker its own data directory)",
		       path, kept, (int)id, (int)id);
		rc = -EMEDIUMTYPE;
	}
	free(text);
	return rc;
}

int cluster_data_dir_check(const struct broker_config *cfg)
{
	const char *dir = broker_config_data_dir(cfg);
	char id[ZK_UUID_LEN + 1];
	int rc;

	rc = cluster_id_file_read(dir, JOINED_CLUSTER_FILE, id);
	if (rc < 0 && rc != -ENOENT && rc != -EBADMSG) {
		mq_log(MQ_ERR, "%s/meta/" JOINED_CLUSTER_FILE ": %s; refusing to start", dir,
		       strerror(-rc));
		return rc;
	}
	if (!cluster_config_zk(&cfg->cluster)) {
		if (rc == -ENOENT)
			return 0;
		mq_log(MQ_ERR,
		       "%s/meta/" JOINED_CLUSTER_FILE " is there: this data directory is a "
		       "cluster broker's (%s); a single node would take writes on its "
		       "replicas that the other brokers never see, and the replicas would "
		       "differ when it goes back to the cluster; refusing to start without "
		       "zookeeper.connect (start it with its cluster's config)",
		       dir, rc == 0 ? id : "a cluster id that does not read");
		return -EMEDIUMTYPE;
	}
	/* The cluster id, when there is one, is checked against ZooKeeper's
	 * once connected (cluster_id_at_start); without one, the logs'
	 * topic ids are checked against ZooKeeper there too, and broker.id
	 * kept only once the directory is taken (a refused start leaves it
	 * as it was). */
	if (rc != -ENOENT)
		return broker_id_check(dir, cfg->broker_id);
	return 0;
}

/* A data directory that has not joined a cluster yet (no
 * meta/zk-cluster.id) becomes this broker's unless it holds a single
 * node's logs (single_node_log): 0 (broker.id kept), -EMEDIUMTYPE
 * (logged), -errno. */
static int data_dir_take(struct cluster *c)
{
	const char *dir = broker_config_data_dir(c->cfg);
	char log[NAME_MAX + 16] = "";
	int old, rc;

	rc = single_node_log(c, log, sizeof(log), &old);
	if (rc < 0) {
		mq_log(MQ_ERR, "%s: cannot read its logs' topic ids: %s", dir, strerror(-rc));
		return rc;
	}
	if (rc > 0) {
		mq_log(MQ_ERR,
		       "%s: the log %s has no topic id (partition.metadata) and the directory "
		       "no meta/" JOINED_CLUSTER_FILE ", and ZooKeeper does not list this "
		       "broker among its replicas: this data directory is a single node's "
		       "(mqfs without zookeeper.connect); as a cluster broker it would take "
		       "its topics, which ZooKeeper does not list, as deleted and remove "
		       "their logs; refusing to start (start it as a single node, or give "
		       "this broker an empty data directory)",
		       dir, log);
		return -EMEDIUMTYPE;
	}
	if (old > 0)
		mq_log(MQ_WARN,
		       "%s: %d log(s) without a topic id (partition.metadata) that ZooKeeper "
		       "lists as this broker's replicas: a cluster broker's data directory "
		       "from an mqfs that kept no topic ids; taken as this broker's (meta/" JOINED_CLUSTER_FILE
		       " written), each log's topic id kept at its first "
		       "LeaderAndIsr",
		       dir, old);
	return broker_id_check(dir, c->cfg->broker_id);
}

/* Replaces DATA/meta/<name> by id and a newline, durably. */
static int id_file_write(struct cluster *c, const char *name, const char *id)
{
	char path[PATH_MAX], line[ZK_UUID_LEN + 2];

	if (snprintf(path, sizeof(path), "%s/meta/%s", broker_config_data_dir(c->cfg), name) >=
	    (int)sizeof(path))
		return -ENAMETOOLONG;
	snprintf(line, sizeof(line), "%s\n", id);
	return io_write_file_atomic(&io_posix, path, line, strlen(line));
}

/* Whether c->zk's ensemble is cluster joined. 0: it is; -ESTALE: it is
 * not (logged: at the start as the refusal, after a new session limited,
 * as the broker tries again); another -errno: /cluster/id could not be
 * read (connection lost meanwhile). */
static int cluster_id_verify(struct cluster *c, const char *joined, bool at_start)
{
	const char *zk = c->cfg->cluster.zk_connect;
	char id[ZK_UUID_LEN + 1] = "", why[ZK_WHY_LEN] = "", holds[ZK_WHY_LEN + 64];
	int rc;

	rc = zkmeta_cluster_id_read(c->zk, id, why);
	if (rc == 0 && !strcmp(id, joined))
		return 0;
	if (rc < 0 && rc != -ENOENT && rc != -EBADMSG)
		return rc;
	if (rc == -ENOENT)
		snprintf(holds, sizeof(holds), "holds no cluster id");
	else if (rc == -EBADMSG)
		snprintf(holds, sizeof(holds), "holds a /cluster/id that does not decode (%s)",
			 why);
	else
		snprintf(holds, sizeof(holds), "holds cluster %s", id);
	if (at_start)
		mq_log(MQ_ERR,
		       "ZooKeeper %s %s, but this broker's data directory belongs to cluster %s "
		       "(%s/meta/" JOINED_CLUSTER_FILE "): the ensemble lost its data or "
		       "zookeeper.connect names another one; refusing to start (its topics "
		       "would be taken as deleted and their logs removed)",
		       zk, holds, joined, broker_config_data_dir(c->cfg));
	else
		mq_log_limited(MQ_ERR,
			       "ZooKeeper %s %s since this broker's session expired, but this "
			       "broker belongs to cluster %s: the ensemble lost its data or was "
			       "replaced; not registering nor reading its topics (they would be "
			       "taken as deleted and their logs removed) until it holds cluster "
			       "%s; the replicas here keep their logs and mounts read them",
			       zk, holds, joined, joined);
	return -ESTALE;
}

/* At the start: the cluster id, the one this data directory joined
 * (checked against ZooKeeper's) or, at its first start, ZooKeeper's
 * (made if none), then kept. */
static int cluster_id_at_start(struct cluster *c, char id[ZK_UUID_LEN + 1])
{
	const char *zk = c->cfg->cluster.zk_connect;
	char why[ZK_WHY_LEN] = "";
	int rc;

	rc = cluster_id_file_read(broker_config_data_dir(c->cfg), JOINED_CLUSTER_FILE, id);
	if (rc == 0)
		return cluster_id_verify(c, id, true);
	if (rc != -ENOENT) {
		mq_log(MQ_ERR,
		       "%s/meta/" JOINED_CLUSTER_FILE ": %s; refusing to start (repair or "
		       "remove the file: it names the cluster this data directory joined)",
		       broker_config_data_dir(c->cfg),
		       rc == -EBADMSG ? "not a cluster id" : strerror(-rc));
		return rc;
	}
	rc = data_dir_take(c);
	if (rc < 0)
		return rc;
	rc = zkmeta_cluster_id(c->zk, id, why);
	if (rc < 0) {
		mq_log(MQ_ERR, "ZooKeeper %s: cluster id: %s %s", zk, strerror(-rc), why);
		return rc;
	}
	rc = id_file_write(c, JOINED_CLUSTER_FILE, id);
	if (rc < 0)
		mq_log(MQ_ERR, "%s/meta/" JOINED_CLUSTER_FILE ": %s",
		       broker_config_data_dir(c->cfg), strerror(-rc));
	return rc;
}

/* ---- the cluster thread ---- */

/* Runs the work of the bits in ev; returns the bits still to do. */
static unsigned cluster_work(struct cluster *c, unsigned ev)
{
	if (ev & EV_SESSION) {
		struct zkc *old = c->zk;
		char joined[ZK_UUID_LEN + 1];

		/* Said once per expiry, not at each try again. */
		if (!c->session_retry) {
			atomic_fetch_add(&c->expirations, 1);
			mq_log(MQ_WARN, "ZooKeeper session expired: its registration and watches "
					"are gone; opening a new session");
		}
		/* The old handle stays until the controller has moved to the
		 * new one (controller_reconnect). */
		c->zk = NULL;
		metadata_cache_cluster_id(c->mc, joined, sizeof(joined));
		if (zk_connect(c, NULL) < 0 || cluster_id_verify(c, joined, false) < 0) {
			zkc_close(c->zk);
			c->zk = old;
			atomic_store(&c->zk_state, ZK_STATE_EXPIRED);
			c->session_retry = true;
			return ev;
		}
		c->session_retry = false;
		cluster_repl_set_zk(c->cr, c->zk);
		zkc_close(old);
		mq_log(MQ_INFO, "ZooKeeper: new session 0x%" PRIx64,
		       (uint64_t)zkc_session_id(c->zk));
		ev = (ev & ~EV_SESSION) | EV_REGISTER | EV_READS;
		c->acl_follow.loaded = false; /* its watches went with the session */
		c->token_follow.loaded = false;
		zkwatch_reset(&c->topic_watches); /* gone with the old session */
		zkwatch_reset(&c->topics_done);   /* and what changed meanwhile */
	}
	if (ev & EV_REGISTER) {
		int rc = register_broker(c, false);

		if (rc == 0)
			ev &= ~(EV_REGISTER | EV_REGDATA);
		else if (rc == -EEXIST)
			log_taken(c, MQ_ERR, "not registered; trying again", 0);
	}
	if ((ev & EV_REGDATA) && register_broker(c, true) == 0)
		ev &= ~EV_REGDATA;
	if (ev & EV_BROKERS) {
		int rc = read_brokers(c);

		if (rc >= 0)
			ev &= ~EV_BROKERS;
		if (rc == 1)
			ev |= EV_REGISTER; /* at the next pass, CLUSTER_RETRY_MS on */
	}
	if ((ev & EV_CONTROLLER) && read_controller(c) == 0)
		ev &= ~EV_CONTROLLER;
	if ((ev & EV_USERS) && read_users(c) == 0)
		ev &= ~EV_USERS;
	if ((ev & EV_ACLS) && read_acls(c) == 0)
		ev &= ~EV_ACLS;
	if ((ev & EV_TOKENS) && read_tokens(c) == 0)
		ev &= ~EV_TOKENS;
	if ((ev & EV_TOPICS) && read_topics(c) == 0) {
		ev &= ~EV_TOPICS;
		c->topics_read = true;
	}
	/* The first EV_TOPICS is posted after the registration (zk_start). */
	if (!c->accepting && c->topics_read && !(ev & EV_REGISTER)) {
		int rc = net_server_accept(c->srv);

		if (rc == 0)
			mq_log(MQ_INFO,
			       "broker %d: registered, topics read: the listener accepts "
			       "connections",
			       c->cfg->broker_id);
		else if (rc == -ESHUTDOWN) /* stopped before it was registered */
			mq_log(MQ_INFO,
			       "broker %d: the listener accepts no connection: the broker "
			       "is stopping",
			       c->cfg->broker_id);
		else
			mq_log(MQ_ERR, "broker %d: the listener cannot accept: %s",
			       c->cfg->broker_id, strerror(-rc));
		c->accepting = true;
	}
	return ev;
}

/* The active controller deletes the tokens past their expiry or max
 * time, every delegation.token.expiry.check.interval.ms (Kafka's
 * controller's "delete-expired-tokens" task, DelegationTokenManager's
 * expireTokens): their znodes and a notice each, so that every broker
 * drops them. A deletion that fails is logged and tried at the next
 * check. */
static void expire_tokens(struct cluster *c)
{
	int64_t now = now_real_ms(), interval = c->cfg->cluster.token_expiry_check_ms;
	struct dtoken *v;
	uint8_t *hmacs;
	int n;

	if (__builtin_add_overflow(now_mono_ms(), interval, &c->token_check_at))
		c->token_check_at = INT64_MAX;
	if (!cluster_is_controller(c))
		return;
	n = dtoken_store_list(c->tokens, &v, &hmacs);
	for (int i = 0; i < n; i++) {
		int rc;

		if (!dtoken_expired(&v[i], now))
			continue;
		rc = dtoken_zk_delete(c->zk, v[i].id);
		if (rc == 0) {
			dtoken_store_remove(c->tokens, v[i].id);
			mq_log(MQ_INFO, "delegation token %s of %s expired: deleted", v[i].id,
			       v[i].owner);
		} else {
			mq_log_limited(MQ_WARN,
				       "delegation token %s of %s expired: not deleted: %s",
				       v[i].id, v[i].owner, strerror(-rc));
		}
	}
	if (n > 0)
		dtoken_list_free(v, hmacs, n);
}

static void *cluster_main(void *arg)
{
	struct cluster *c = arg;
	unsigned pending = 0;

	pthread_mutex_lock(&c->mu);
	while (!c->stop) {
		unsigned ev;

		if (!c->events) {
			/* -1: until an event; else a retry, or the next token
			 * expiry check, whichever is first. */
			int64_t wait_ms = pending ? CLUSTER_RETRY_MS : -1;

			if (c->tokens) {
				int64_t d = c->token_check_at - now_mono_ms();

				/* Bounded: a timespec holds no 2^63 ms. */
				d = d < 0 ? 0 : d > 60000 ? 60000 : d;
				wait_ms = wait_ms < 0 || d < wait_ms ? d : wait_ms;
			}
			if (wait_ms >= 0) {
				struct timespec ts;

				deadline_from_ms(CLOCK_MONOTONIC, wait_ms, &ts);
				pthread_cond_timedwait(&c->cv, &c->mu, &ts);
			} else {
				pthread_cond_wait(&c->cv, &c->mu);
			}
			if (c->stop)
				break;
		}
		ev = c->events | pending;
		c->events = 0;
		pthread_mutex_unlock(&c->mu);
		pending = cluster_work(c, ev);
		if (c->tokens && now_mono_ms() >= c->token_check_at)
			expire_tokens(c);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- lifecycle ---- */

/* The mount members of groups another broker coordinates reach it
 * (group_remote.c) as this broker reaches leaders: the inter-broker
 * listener, authenticated. */
static int group_connect(void *arg, int32_t node, int64_t timeout_ms, struct net_client **out)
{
	struct cluster *c = arg;

	return cluster_repl_connect(c->cr, node, timeout_ms, out);
}

static void group_connect_hook(struct cluster *c, bool on)
{
	struct group_coord *gc = c->ka.b->gc;

	/* Unhooked once, before the coordinator closes (cluster_stop may
	 * run again after it did). */
	if (on == c->group_hooked)
		return;
	c->group_hooked = on;
	pthread_mutex_lock(&gc->mu);
	pthread_mutex_lock(&gc->connect_mu);
	gc->connect = on ? group_connect : NULL;
	gc->connect_arg = on ? c : NULL;
	pthread_mutex_unlock(&gc->connect_mu);
	pthread_mutex_unlock(&gc->mu);
}

static int listener_start(struct cluster *c)
{
	const struct net_config *nc = &c->cfg->cluster.net;
	char text[NET_MAX_LISTENERS * (NET_MAX_HOST + NET_MAX_NAME + 16)];
	int rc;

	/* Every broker of the cluster has this password: they agree on an
	 * unknown user's made-up salt (sasl.h). */
	rc = c->cfg->cluster.jaas_password[0] ? sasl_mock_secret_set(c->cfg->cluster.jaas_password)
					      : 0;
	if (rc == 0)
		rc = net_server_new(nc, cred_lookup, c, &c->srv);
	if (rc == 0) /* a Fetch's records are sent from the logs' files */
		net_server_set_io(c->srv, c->cfg->io);
	/* The brokers' own connections (replication, the controller's) do
	 * not wait behind clients' for a max.connections slot, as Kafka's
	 * inter-broker listener (when there are others). */
	for (int i = 0; rc == 0 && i < nc->n_listeners; i++)
		if (nc->listeners[i].security == c->cfg->cluster.inter_broker)
			net_server_protect_listener(c->srv, i);
	if (rc == 0) /* every handler asks it (kafka_authorize) */
		net_server_set_authz(c->srv, c->acls);
	if (rc == 0 && c->tokens)
		net_server_set_tokens(c->srv, token_lookup, c);
	if (rc == 0 && c->cr)
		cluster_repl_set_client_quotas(c->cr, c->quotas);
	if (rc == 0 && c->cr)
		rc = cluster_repl_register(c->cr, c->srv);
	if (rc == 0 && c->ka.b)
		rc = kafka_api_register(&c->ka, c->srv);
	if (rc == 0 && c->ka.b)
		rc = group_serve_new(&c->ka, &c->gs);
	if (rc == 0 && c->gs)
		rc = group_serve_register(c->gs, c->srv);
	if (rc == 0 && c->gs && c->cr)
		group_connect_hook(c, true);
	if (rc == 0 && c->ka.b && !cluster_zk_mode(c))
		rc = local_replicas_start(&c->ka, c->srv, &c->lr);
	/* In a cluster, requests are processed only once the broker is
	 * registered and knows the topics (cluster_work), as Kafka's
	 * startProcessingRequests: during the wait for a crashed
	 * predecessor's registration to expire, clients still route that
	 * predecessor's partitions here, and an answer from a broker that
	 * knows no topic (UNKNOWN_TOPIC_OR_PARTITION) makes librdkafka drop
	 * the topic's partitions and fail every queued record. */
	if (rc == 0 && cluster_zk_mode(c))
		net_server_hold_accepts(c->srv);
	if (rc == 0)
		rc = net_server_start(c->srv);
	if (rc < 0) {
		net_listeners_format(nc->listeners, nc->n_listeners, text, sizeof(text));
		mq_log(MQ_ERR, "listeners %s: cannot listen: %s", text, strerror(-rc));
		return rc;
	}
	for (int i = 0; i < nc->n_listeners; i++)
		mq_log(MQ_INFO, "listening on %s://%s:%d", nc->listeners[i].name,
		       nc->listeners[i].host, net_server_port(c->srv, i));
	return 0;
}

/* Producer id blocks (producer_ids.h): ZooKeeper's, or on a single node
 * DATA/meta/latest_producer_id_block. */
static int pid_block_zk(void *arg, int64_t *first, int64_t *last)
{
	struct cluster *c = arg;

	return cluster_repl_producer_id_block(c->cr, first, last);
}

static int pid_block_file(void *arg, int64_t *first, int64_t *last)
{
	struct cluster *c = arg;
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/meta/latest_producer_id_block",
		     broker_config_data_dir(c->cfg)) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	return producer_id_block_take_file(path, c->cfg->broker_id, first, last);
}

struct producer_ids *cluster_producer_ids(struct cluster *c)
{
	return c->pids;
}

static int zk_start(struct cluster *c)
{
	const struct cluster_config *cc = &c->cfg->cluster;
	char id[ZK_UUID_LEN + 1];
	struct cluster_repl *cr;
	int64_t until = 0;
	int rc;

	rc = zk_connect(c, &until);
	if (rc < 0) {
		mq_log(MQ_ERR, "ZooKeeper %s: %s%s", cc->zk_connect, strerror(-rc),
		       rc == -ETIMEDOUT ? " (no session within zookeeper.connection.timeout.ms)"
					: "");
		return rc;
	}
	do
		rc = cluster_id_at_start(c, id);
	while (zk_start_again(rc, until));
	if (rc < 0)
		return rc;
	metadata_cache_set_cluster_id(c->mc, id);
	rc = cluster_repl_new(c->cfg, &c->local, c->mc, &cr);
	/* Published whole: the session watcher (on_session) runs already. */
	if (rc == 0)
		__atomic_store_n(&c->cr, cr, __ATOMIC_RELEASE);
	if (rc == 0)
		rc = producer_ids_new(pid_block_zk, c, &c->pids);
	if (rc == 0)
		rc = forwarder_new(c->cr, c->pids, c->cfg->broker_id, &c->fwd);
	if (rc == 0)
		rc = observers_start(c);
	if (rc < 0)
		return rc;
	cluster_repl_set_zk(c->cr, c->zk);
	/* The first producer id block now, while ZooKeeper answers: a
	 * forwarded write then needs no ZooKeeper (a failure is logged; the
	 * first write tries again). */
	(void)producer_ids_prefetch(c->pids);
	cluster_repl_set_ineligible_listener(c->cr, on_ineligible, c);
	cluster_repl_set_leaders_listener(c->cr, forwarder_leaders_moved, c->fwd);
	cluster_repl_set_replica_state_listener(c->cr, on_replica_state, c->ka.b);
	do
		rc = read_users(c);
	while (zk_start_again(rc, until));
	/* The ACLs before the listener: no request is served unchecked. */
	while (rc == 0 && c->acls) {
		rc = acl_zk_ensure_paths(c->zk);
		if (rc == 0)
			rc = read_acls(c);
		if (!zk_start_again(rc, until))
			break;
		rc = 0;
	}
	/* The tokens too: a client's token works on every broker from its
	 * start (Kafka's loadCache). */
	while (rc == 0 && c->tokens) {
		rc = dtoken_zk_ensure_paths(c->zk);
		if (rc == 0)
			rc = read_tokens(c);
		if (!zk_start_again(rc, until))
			break;
		rc = 0;
	}
	if (rc == 0)
		rc = listener_start(c);
	if (rc == 0)
		rc = register_at_start(c);
	if (rc == 0)
		rc = read_brokers(c);
	if (rc == 0)
		rc = read_controller(c);
	if (rc == 0)
		rc = cluster_repl_start_controller(c->cr);
	if (rc < 0)
		return rc;
	/* The topics on the cluster thread: the broker's hooks take its
	 * locks, and the broker is not shared yet. */
	post(c, EV_TOPICS);
	mq_log(MQ_INFO, "broker %d joined cluster %s (ZooKeeper %s)", c->cfg->broker_id, id,
	       cc->zk_connect);
	return 0;
}

/* A single node's cluster id: DATA/meta/cluster.id, made at its first
 * start with a listener (Kafka keeps it in meta.properties). */
static int local_cluster_id(struct cluster *c)
{
	char id[ZK_UUID_LEN + 1];
	int rc;

	rc = cluster_id_file_read(broker_config_data_dir(c->cfg), "cluster.id", id);
	if (rc == -EBADMSG)
		mq_log(MQ_WARN, "%s/meta/cluster.id: not a cluster id: a new one is made",
		       broker_config_data_dir(c->cfg));
	else if (rc != 0 && rc != -ENOENT)
		return rc;
	if (rc != 0) {
		if ((rc = zk_uuid_new(id)) < 0 || (rc = id_file_write(c, "cluster.id", id)) < 0)
			return rc;
	}
	metadata_cache_set_cluster_id(c->mc, id);
	return 0;
}

int cluster_open(const struct broker_config *cfg, struct broker *b,
		 const struct cluster_local *local, struct cluster **out)
{
	pthread_condattr_t ca;
	struct cluster *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->changes_seen = -1;
	c->cfg = cfg;
	c->local = *local;
	c->ka.b = b;
	c->ka.c = c;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->cred_mu, NULL);
	pthread_mutex_init(&c->dyn_mu, NULL);
	zkwatch_init(&c->topic_watches);
	zkwatch_init(&c->topics_done);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = metadata_cache_new(&c->mc);
	if (rc == 0)
		rc = client_quotas_new(cfg->cluster.quota_window_num,
				       (int64_t)cfg->cluster.quota_window_s * 1000, &c->quotas);
	if (rc == 0)
		client_quotas_exempt(c->quotas, cfg->cluster.jaas_user);
	c->acl_follow = (struct acl_follow)ACL_FOLLOW_INIT;
	c->token_follow = (struct dtoken_follow)DTOKEN_FOLLOW_INIT;
	/* Tokens live in ZooKeeper: a single node has none (its token APIs
	 * are not served). */
	if (rc == 0 && cluster_config_zk(&cfg->cluster) &&
	    cluster_config_token_secret(&cfg->cluster))
		rc = dtoken_store_new(cluster_config_token_secret(&cfg->cluster), &c->tokens);
	if (rc == 0 && cfg->cluster.authorizer) {
		char why[160] = "";

		/* The brokers' own user is a super user without being named
		 * (Kafka needs it in super.users): the controller's requests
		 * and the replica fetches must pass whatever ACLs say. */
		rc = acl_store_new(cfg->cluster.super_users, cfg->cluster.jaas_user,
				   cfg->cluster.allow_everyone_if_no_acl, why, sizeof(why),
				   &c->acls);
		if (rc == -EINVAL)
			mq_log(MQ_ERR, "super.users: %s", why);
	}
	if (rc < 0)
		goto fail;
	if (!cluster_config_zk(&cfg->cluster)) {
		rc = creds_local(c);
		if (rc == 0)
			rc = local_cluster_id(c);
		if (rc == 0)
			rc = producer_ids_new(pid_block_file, c, &c->pids);
		if (rc == 0)
			rc = listener_start(c);
		if (rc < 0)
			goto fail;
		*out = c;
		return 0;
	}
	rc = zk_start(c);
	if (rc < 0)
		goto fail;
	rc = pthread_create(&c->th, NULL, cluster_main, c);
	if (rc != 0) {
		rc = -rc;
		goto fail;
	}
	pthread_setname_np(c->th, "mqfs-cluster");
	c->th_running = true;
	*out = c;
	return 0;
fail:
	cluster_close(c);
	return rc;
}

void cluster_stop(struct cluster *c)
{
	if (!c)
		return;
	/* The controller first: it may move this broker's leaderships away
	 * (controlled shutdown) while the listener still serves. */
	cluster_repl_stop(c->cr);
	/* Parked fetches answered while their connections are still up. */
	local_replicas_stop(c->lr);
	/* Parked JoinGroup and SyncGroup requests likewise. */
	if (c->gs && c->cr)
		group_connect_hook(c, false);
	group_serve_stop(c->gs);
	/* Parked acks=all Produce requests: their connections closed, as
	 * Kafka's shutdown leaves its produce purgatory. */
	if (c->ka.b)
		produce_purgatory_stop(c->ka.b);
	if (c->srv)
		net_server_stop(c->srv);
	/* The mount is gone: no reader uses a read copy any more. */
	observers_free(c->obs);
	c->obs = NULL;
	if (c->th_running) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->th, NULL);
		c->th_running = false;
	}
	/* No log is held once the broker shuts the engine down. */
	cluster_repl_close_logs(c->cr);
}

void cluster_close(struct cluster *c)
{
	if (!c)
		return;
	cluster_stop(c);
	net_server_free(c->srv);
	if (c->cr)
		cluster_repl_set_zk(c->cr, NULL);
	local_replicas_free(c->lr);
	group_serve_free(c->gs);
	if (c->zk) {
		zkc_close(c->zk);
		mq_log(MQ_INFO, "broker %d: ZooKeeper session closed%s", c->cfg->broker_id,
		       atomic_load(&c->registrations) > 0 ? ", registration removed" : "");
	}
	forwarder_free(c->fwd);
	producer_ids_free(c->pids);
	cluster_repl_free(c->cr);
	metadata_cache_free(c->mc);
	client_quotas_free(c->quotas);
	acl_store_free(c->acls);
	dtoken_store_free(c->tokens);
	free(c->creds);
	free(c->moves);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->cred_mu);
	pthread_mutex_destroy(&c->dyn_mu);
	zk_config_clear(&c->dyn_self);
	zk_config_clear(&c->dyn_default);
	zkwatch_destroy(&c->topic_watches);
	zkwatch_destroy(&c->topics_done);
	free(c);
}

/* ---- read copies of partitions without a replica here ---- */

static int obs_state(void *arg, const char *topic, int partition, struct partition_state *st)
{
	return cluster_repl_partition_state(arg, topic, partition, st);
}

static bool obs_replica_reads(void *arg, const char *topic, int partition, int64_t *hw)
{
	return cluster_repl_replica_reads(arg, topic, partition, hw);
}

static uint64_t obs_states_gen(void *arg)
{
	return replica_mgr_states_gen(cluster_repl_replicas(arg));
}

static int obs_endpoint(void *arg, int32_t id, char *host, int *port)
{
	return cluster_repl_endpoint(arg, id, host, port);
}

static void obs_hw_moved(void *arg, const char *topic, int partition)
{
	broker_hw_notify(arg, topic, partition);
}

/* A replica here that left the ISR does not move its hw: the parked
 * consume reads of its partition look again (group_consume.c moves a
 * group to the read copy then). */
static void on_replica_state(void *arg, const char *topic, int32_t partition)
{
	broker_hw_notify(arg, topic, partition);
}

/* The observers' fetchers' before_append: the broker's lines_fix, as a
 * replica's (an observer's copy shows the line view too). */
static int obs_lines_fix(void *arg, const char *topic, void *log, char *wait, size_t cap)
{
	struct cluster *c = arg;
	const struct cluster_topic_hooks *h = &c->local.topics;

	return h->lines_fix ? h->lines_fix(h->arg, topic, log, wait, cap) : 0;
}

static int observers_start(struct cluster *c)
{
	const struct cluster_config *cc = &c->cfg->cluster;
	struct observer_config oc = {
		.broker_id = c->cfg->broker_id,
		.data_dir = c->cfg->data_dir,
		.io = c->cfg->io,
		.idle_ms = cc->observer_idle_ms,
		.request_timeout_ms = c->cfg->request_timeout_ms,
		.retention_check_ms = c->cfg->retention_check_ms,
		.state = obs_state,
		.replica_reads = obs_replica_reads,
		.states_gen = obs_states_gen,
		.endpoint = obs_endpoint,
		.arg = c->cr,
		.hw_moved = obs_hw_moved,
		.hw_arg = c->ka.b,
	};

	fetcher_config_default(&oc.fetch);
	oc.fetch.max_wait_ms = cc->replica_fetch_wait_max_ms;
	oc.fetch.request_timeout_ms = cc->replica_socket_timeout_ms;
	oc.fetch.backoff_ms = cc->replica_fetch_backoff_ms;
	oc.fetch.partition_max_bytes = cc->replica_fetch_max_bytes;
	oc.fetch.before_append = obs_lines_fix;
	oc.fetch.before_append_arg = c;
	cluster_repl_credentials(c->cr, &oc.fetch.sasl_mech, &oc.fetch.sasl_user,
				 &oc.fetch.sasl_password);
	return observers_new(&oc, &c->obs);
}

struct observers *cluster_observers(struct cluster *c)
{
	return c ? c->obs : NULL;
}

struct forwarder *cluster_forwarder(struct cluster *c)
{
	return c ? c->fwd : NULL;
}

int cluster_zk_mode(const struct cluster *c)
{
	return c && cluster_config_zk(&c->cfg->cluster);
}

static const char *zk_state_name(int s)
{
	switch (s) {
	case ZK_STATE_CONNECTED: return "connected";
	case ZK_STATE_DISCONNECTED: return "disconnected";
	case ZK_STATE_EXPIRED: return "expired";
	default: return "none";
	}
}

void cluster_state_text(struct cluster *c, FILE *f)
{
	fprintf(f, "broker.epoch=%" PRId64 "\nzookeeper.connect=%s\nzookeeper.session=%s\n",
		atomic_load(&c->broker_epoch), c->cfg->cluster.zk_connect,
		zk_state_name(atomic_load(&c->zk_state)));
	metadata_cache_render(c->mc, f);
	if (c->cr)
		cluster_repl_state_text(c->cr, f);
	observers_state_text(c->obs, f);
}

static void metric(FILE *f, const char *name, const char *type, const char *help, int64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %" PRId64 "\n", name, help, name, type, name, v);
}

/* The client quotas' throttles by kind (Kafka's Produce and Fetch
 * throttle-time sensors): how often and how long clients were held. */
static void client_quota_metrics(struct client_quotas *q, FILE *f)
{
	static const char *const names[] = { "mqfs_client_quota_throttled_total",
					     "mqfs_client_quota_throttle_ms_total" };
	static const char *const helps[] = {
		"Produce and Fetch responses throttled by a client quota (their connection "
		"muted).",
		"Throttle times given to clients over their quotas, ms.",
	};

	for (int m = 0; m < 2; m++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", names[m], helps[m], names[m]);
		for (int k = CLIENT_QUOTA_PRODUCE; k <= CLIENT_QUOTA_FETCH; k++) {
			int64_t n, ms;

			client_quotas_stats(q, (enum client_quota_kind)k, &n, &ms);
			fprintf(f, "%s{quota=\"%s\"} %" PRId64 "\n", names[m],
				k == CLIENT_QUOTA_PRODUCE ? "produce" : "fetch", m ? ms : n);
		}
	}
}

void cluster_metrics_text(struct cluster *c, FILE *f)
{
	struct net_stats st;

	net_server_stats(c->srv, &st);
	metric(f, "mqfs_listener_connections", "gauge", "Connections open on the broker listener.",
	       st.connections);
	metric(f, "mqfs_listener_accepted_total", "counter",
	       "Connections accepted by the broker listener.", st.accepted);
	metric(f, "mqfs_listener_refused_total", "counter",
	       "Connections closed at accept: max.connections.per.ip, descriptors kept.",
	       st.refused);
	metric(f, "mqfs_listener_auth_failures_total", "counter",
	       "SASL authentications refused, and requests refused before authentication.",
	       st.auth_failures);
	metric(f, "mqfs_listener_requests_total", "counter",
	       "Requests decoded by the broker listener.", st.requests);
	metric(f, "mqfs_listener_parked_frame_bytes", "gauge",
	       "Request frames held by parked requests, out of queued.max.request.bytes.",
	       st.parked_frame_bytes);
	metric(f, "mqfs_listener_frames_dropped_total", "counter",
	       "Request frames freed before their answer: parked Produce requests, once appended.",
	       st.frames_dropped);
	metric(f, "mqfs_listener_accept_pauses_total", "counter",
	       "Times the listener stopped accepting for 100 ms, out of descriptors or memory.",
	       st.accept_pauses);
	metric(f, "mqfs_listener_reauthentications_total", "counter",
	       "SASL re-authentications that passed (connections.max.reauth.ms).", st.reauths);
	metric(f, "mqfs_listener_expired_connections_killed_total", "counter",
	       "Connections closed by a request after the end of their SASL session.",
	       st.closed_expired);
	metric(f, "mqfs_listener_excess_connections_closed_total", "counter",
	       "Connections closed while more were open than max.connections.", st.closed_excess);
	fprintf(f,
		"# HELP mqfs_listener_accept_blocked_ms_total Time the listener accepted nothing "
		"at max.connections while a connection waited, ms.\n"
		"# TYPE mqfs_listener_accept_blocked_ms_total counter\n");
	for (int i = 0; i < st.n_listeners; i++)
		fprintf(f, "mqfs_listener_accept_blocked_ms_total{listener=\"%s\"} %" PRId64 "\n",
			c->cfg->cluster.net.listeners[i].name, st.accept_blocked_ms[i]);
	if (!cluster_zk_mode(c))
		return;
	metric(f, "mqfs_zookeeper_connected", "gauge",
	       "1 while the ZooKeeper session is connected.",
	       atomic_load(&c->zk_state) == ZK_STATE_CONNECTED);
	metric(f, "mqfs_zookeeper_expired_sessions_total", "counter",
	       "ZooKeeper sessions that expired and were replaced (the broker registered "
	       "again).",
	       atomic_load(&c->expirations));
	metric(f, "mqfs_broker_registrations_total", "counter",
	       "Registrations of this broker in /brokers/ids.", atomic_load(&c->registrations));
	client_quota_metrics(c->quotas, f);
	cluster_repl_metrics_text(c->cr, f);
	observers_metrics_text(c->obs, f);
}

void cluster_id(struct cluster *c, char *buf, size_t cap)
{
	metadata_cache_cluster_id(c->mc, buf, cap);
}

int32_t cluster_controller_id(struct cluster *c)
{
	return c->zk ? metadata_cache_controller(c->mc) : c->cfg->broker_id;
}

struct metadata_cache *cluster_metadata(struct cluster *c)
{
	return c->mc;
}

const struct broker_config *cluster_cfg(const struct cluster *c)
{
	return c->cfg;
}

int cluster_listener_port(const struct cluster *c, int i)
{
	return net_server_port(c->srv, i);
}
