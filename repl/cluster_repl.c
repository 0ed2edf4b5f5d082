/*
 * cluster_repl.c — replication in a ZooKeeper broker (cluster_repl.h): the
 * replica manager over the engine's logs, the Fetch handlers, the
 * controller and its channel to the brokers over the listener protocol.
 *
 * The three tables the replica manager needs (replica_mgr.h):
 *   logs      logmgr_get_log (creating DATA/<topic>-<p>) with the
 *             engine's table (partition_engine_ops) and a reference of
 *             ours; the LEO and hw listeners wake the fetch purgatory; a
 *             deleted replica's files go when the broker deletes the
 *             topic (it left /brokers/topics), never here;
 *   isr       /brokers/topics/<t>/partitions/<p>/state written only at the
 *             version the leader last saw (zkmeta_update_partition_state),
 *             then /isr_change_notification so the controller tells the
 *             other brokers; a moved version is read back;
 *   endpoint  the broker's advertised endpoint on the listener named like
 *             our first listener of security.inter.broker.protocol, from
 *             the metadata cache (/brokers/ids).
 *
 * A broker that stops follows nothing from then on (replica_mgr_stop_following:
 * caught up, it would rejoin the new leaders' ISRs and hold their acks=all
 * writes until its session closed), then asks the controller (Kafka's
 * ControlledShutdown request, up to CS_ATTEMPTS times) to move its
 * leaderships to other in-sync replicas, so writes move on at once
 * instead of after the session timeout. The controller answers once its
 * LeaderAndIsr requests went out (ctrl_queue_flush, cs_handler).
 *
 * The controller's channel (controller.h) queues each request for its
 * broker (ctrl_queue.h: one sender thread per broker, so that a broker
 * cut off the network holds up neither the controller nor the others);
 * a sender sends LeaderAndIsr, UpdateMetadata, StopReplica over a
 * connection kept per broker (SASL with the broker's own credentials
 * when the inter-broker protocol is SASL_PLAINTEXT), at the highest
 * version both sides know. A failed send closes the
 * connection and is tried once more on a new one; a second failure is
 * logged and dropped (the broker learns the state from the next request:
 * the controller sends every partition again when a broker registers).
 *
 * Requests of the controller are served only to the broker's own SCRAM
 * user on a SASL listener (Kafka's CLUSTER_ACTION: an authenticated client
 * cannot move leaders); on a PLAINTEXT listener anyone on the network can,
 * as in Kafka without ACLs.
 *
 * Locks: zk_mu guards the handle (held across each ISR write and read, so
 * a new session's set_zk waits for them). conns_mu (a leaf) guards the
 * list of the channel's connections, never held across a network call:
 * each connection is used by its broker's sender thread only. cq_mu
 * guards cq against its free at stop: a ControlledShutdown holds it
 * across its flush of the queue (up to CS_FLUSH_MS), the queue's own
 * lock under it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl/cluster_repl.h"
#include "repl/kafka_authz.h"
#include "repl/throttle.h"
#include "repl/config.h"
#include "repl/controller.h"
#include "repl/ctrl_queue.h"
#include "repl/fetch_serve.h"
#include "repl/ineligible.h"
#include "repl/offsets_serve.h"
#include "repl/metadata_cache.h"
#include "repl/partition.h"
#include "repl/producer_ids.h"
#include "repl/proto.h"
#include "repl/replica_mgr.h"
#include "repl/zkmeta.h"
#include "util/clock.h"
#include "util/diaglog.h"
#include "util/pause.h"

#define CHANNEL_CONNECT_MS 3000
#define CHANNEL_REQUEST_MS 10000
#define CREATE_POLL_MS     20
#define CS_ATTEMPTS        3 /* controlled.shutdown.max.retries */
#define CS_BACKOFF_MS      1000
#define CS_FLUSH_MS        3000 /* under CHANNEL_REQUEST_MS: the asker waits */

struct conn {
	int32_t id;
	int64_t epoch; /* the broker's registration it reaches */
	struct net_client *c;
};

struct log_slot {
	struct log_slot *next;
	struct log *l;
	void (*changed)(void *arg);
	void *arg;
};

struct cluster_repl {
	const struct broker_config *cfg;
	const struct cluster_config *cc;
	struct cluster_local local;
	struct metadata_cache *mc;
	struct replica_mgr *rm;
	/* rm's log directory failure, kept by cluster_repl_close_logs when it
	 * frees rm: the broker's stop reads it after (its marker). */
	int log_dir_err;
	struct fetch_serve *fs;
	struct offsets_serve os; /* ListOffsets over the same replicas */
	/* Set once by cluster_repl_start_controller, after the listener
	 * and the ZooKeeper session started: read by their threads with
	 * ctl_get. */
	struct controller *ctl;
	struct controller_config ctl_cfg;
	/* unclean.leader.election.enable with the dynamic settings
	 * (cluster_repl_unclean_default). */
	atomic_bool unclean_default;
	char listener_name[NET_MAX_NAME + 1];
	const char *user, *password; /* inter-broker SASL, or NULL */
	enum sasl_mech mech;         /* ... with sasl.mechanism.inter.broker.protocol */

	pthread_mutex_t zk_mu;
	struct zkc *zk;

	pthread_mutex_t slots_mu; /* a leaf */
	struct log_slot *slots;   /* listeners of each open log */

	pthread_mutex_t conns_mu;
	struct conn *conns; /* one per broker, each used by its sender */
	int n_conns;
	pthread_mutex_t cq_mu;
	struct ctrl_queue *cq; /* set before ctl; taken out under cq_mu at stop */
	_Atomic int64_t broker_epoch;
	bool stopped; /* read by request threads' waits: __atomic */
	_Atomic int64_t sent, send_errors;
	/* The partitions this broker registers as not eligible as leader
	 * (ineligible.h), and who rewrites the registration when they change. */
	struct ineligible *inel;
	void (*inel_changed)(void *arg);
	void *inel_arg;
	void (*leaders_changed)(void *arg);
	void *leaders_arg;
	void (*replica_state)(void *arg, const char *topic, int32_t partition);
	void *replica_state_arg;
};

/* The controller, NULL before it started: from a thread that may run
 * before cluster_repl_start_controller (the listener's, the ZooKeeper
 * session watcher's). */
static struct controller *ctl_get(struct cluster_repl *cr)
{
	return __atomic_load_n(&cr->ctl, __ATOMIC_ACQUIRE);
}

/* ---- logs ---- */

/* l was found damaged at its open (log_state.damaged). */
static bool log_damaged(struct log *l)
{
	struct log_state st;

	log_get_state(l, &st);
	return st.damaged;
}

/* (topic, partition) is no longer ineligible as leader (why: "caught
 * up", "deleted"): the registration is to be rewritten. Any thread. */
static void inel_drop(struct cluster_repl *cr, const char *topic, int32_t partition,
		      const char *why)
{
	if (!cr->inel || ineligible_remove(cr->inel, topic, partition) <= 0)
		return;
	mq_log(MQ_INFO, "%s-%d: eligible as leader again (%s); the registration says so", topic,
	       (int)partition, why);
	if (cr->inel_changed)
		cr->inel_changed(cr->inel_arg);
}

static void on_eligible(void *arg, const char *topic, int32_t partition)
{
	inel_drop(arg, topic, partition, "caught up");
}

static bool is_ineligible(void *arg, const char *topic, int32_t partition)
{
	struct cluster_repl *cr = arg;

	return cr->inel && ineligible_has(cr->inel, topic, partition);
}

/* After an unclean start, every local log of a replicated topic may lack
 * records it acknowledged: all of them (those of the data directory at
 * its open) start ineligible. */
static int inel_fill(struct cluster_repl *cr)
{
	int n, rc = 0;
	const struct log_name *found = logmgr_found(cr->local.m, &n);

	for (int i = 0; rc == 0 && i < n; i++)
		if (!cluster_topic_local_only(found[i].topic))
			rc = ineligible_add(cr->inel, found[i].topic, found[i].partition);
	return rc;
}

static void on_log(void *arg, struct log *l)
{
	struct log_slot *s = arg;

	(void)l;
	s->changed(s->arg);
}

/* The settings of a log made for a replica whose topic this broker has
 * not made yet (a LeaderAndIsr ahead of the cluster thread's read of the
 * topic, a broker started on an empty data directory): as Kafka's log
 * manager does, the topic's overrides in ZooKeeper over the broker's
 * defaults, so that its first records are taken under the topic's
 * key.separator and line.format (fixed once it has records). The
 * defaults when they cannot be read, logged. */
static void new_log_config(struct cluster_repl *cr, const char *topic, struct log_config *lc)
{
	struct topic_config tc;
	struct zk_config zc = { 0 };
	char why[ZK_WHY_LEN] = "", err[256] = "";
	int rc;

	pthread_mutex_lock(&cr->zk_mu);
	rc = cr->zk ? zkmeta_topic_config(cr->zk, topic, &zc, NULL, why) : -ENOTCONN;
	pthread_mutex_unlock(&cr->zk_mu);
	if (rc < 0 && rc != -ENOENT)
		mq_log_limited(MQ_WARN,
			       "%s: a new replica: /config/topics/%s not read (%s): the broker's "
			       "defaults until the topic's settings apply",
			       topic, topic, rc == -EBADMSG ? why : strerror(-rc));
	if (topic_config_of_overrides(cr->cfg, rc == 0 ? &zc : NULL, &tc, err, sizeof(err)) < 0)
		mq_log_limited(MQ_WARN,
			       "%s: a new replica: /config/topics/%s: %s; the broker's defaults",
			       topic, topic, err);
	if (rc == 0)
		zk_config_clear(&zc);
	*lc = tc.log;
}

/* The fetchers' before_append: the broker's lines_fix. */
static int fetch_lines_fix(void *arg, const char *topic, void *log, char *wait, size_t cap)
{
	struct cluster_repl *cr = arg;
	const struct cluster_topic_hooks *h = &cr->local.topics;

	return h->lines_fix ? h->lines_fix(h->arg, topic, log, wait, cap) : 0;
}

/* The fetchers' after_cut: the broker's checkpoints. */
static void fetch_cut(void *arg, const char *topic, int32_t partition)
{
	struct cluster_repl *cr = arg;
	const struct cluster_topic_hooks *h = &cr->local.topics;

	if (h->cut)
		h->cut(h->arg, topic, partition);
}

/* The fetchers' after_append: the broker's producer state. */
static void fetch_appended(void *arg, const char *topic, int32_t partition, void *log,
			   const uint8_t *records, size_t len)
{
	struct cluster_repl *cr = arg;
	const struct cluster_topic_hooks *h = &cr->local.topics;

	if (h->appended)
		h->appended(h->arg, topic, partition, log, records, len);
}

/* The topic id beside a replica's log (partition.metadata), written at
 * its first LeaderAndIsr with one. A log of another id here means the
 * broker's removal of an earlier topic failed: the replica is refused
 * rather than served. */
static int topic_id_keep(struct cluster_repl *cr, const char *topic, int32_t partition,
			 const char *topic_id)
{
	char had[64];
	int rc = logmgr_topic_id(cr->local.m, topic, partition, had, sizeof(had));

	if (rc == 0 || rc == -EBADMSG)
		rc = logmgr_set_topic_id(cr->local.m, topic, partition, topic_id);
	else if (rc == 1 && strcmp(had, topic_id) != 0)
		rc = -EEXIST;
	else if (rc == 1)
		rc = 0;
	if (rc < 0)
		mq_log(MQ_ERR, "%s-%d: topic id %s not kept beside the log: %s", topic,
		       (int)partition, topic_id,
		       rc == -EEXIST ? "it holds an earlier topic's records" : strerror(-rc));
	return rc;
}

static int logs_open(void *arg, const char *topic, int32_t partition, const char *topic_id,
		     void (*changed)(void *), void *changed_arg,
		     const struct partition_log_ops **ops, void **log)
{
	struct cluster_repl *cr = arg;
	const struct cluster_topic_hooks *h = &cr->local.topics;
	struct log_slot *s;
	int rc;

	/* A log here of an earlier topic of the name goes first (the
	 * broker's topic with it): never a replica of the new one. */
	if (topic_id[0] && h->incarnation)
		h->incarnation(h->arg, topic, partition, topic_id);
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	struct log_config lc = cr->cfg->log;

	lc.replica = true; /* see engine.h: its hw at open */
	rc = logmgr_get_log(cr->local.m, topic, partition, &lc, false, &s->l);
	if (rc == -ENOENT && h->fd_take && h->fd_take(h->arg, topic, 1) < 0) {
		rc = -EMFILE; /* KAFKA_STORAGE_ERROR: the controller leaves it out */
	} else if (rc == -ENOENT) {
		new_log_config(cr, topic, &lc);
		lc.replica = true;
		rc = logmgr_get_log(cr->local.m, topic, partition, &lc, true, &s->l);
		if (h->fd_done)
			h->fd_done(h->arg, 1);
		if (rc == 0 && h->hosted)
			h->hosted(h->arg, topic, partition);
	}
	if (rc == 0 && log_damaged(s->l)) {
		/* Served up to the damage, writes refused (engine.h): as a
		 * leader it would hide the records after it from every
		 * replica, as a follower it could never append. A replica its
		 * broker cannot host (KAFKA_STORAGE_ERROR), as Kafka's log
		 * directory that fails: the controller elects without it. */
		mq_log_limited(MQ_ERR,
			       "%s-%d: replica refused: its log is damaged on disk (logged at the "
			       "start); the partition elects without it until the files are "
			       "repaired",
			       topic, (int)partition);
		rc = -EIO;
	}
	if (rc == 0 && topic_id[0])
		rc = topic_id_keep(cr, topic, partition, topic_id);
	if (rc < 0) {
		free(s);
		return rc;
	}
	/* Our reference: the broker's rmdir may drop the log while a fetch
	 * or the fetcher still uses it. */
	log_ref(s->l);
	s->changed = changed;
	s->arg = changed_arg;
	rc = log_add_hw_listener(s->l, on_log, s);
	if (rc == 0) {
		rc = log_add_leo_listener(s->l, on_log, s);
		if (rc < 0)
			log_remove_hw_listener(s->l, on_log, s);
	}
	if (rc < 0) {
		log_unref(s->l);
		free(s);
		return rc;
	}
	pthread_mutex_lock(&cr->slots_mu);
	s->next = cr->slots;
	cr->slots = s;
	pthread_mutex_unlock(&cr->slots_mu);
	*ops = &partition_engine_ops;
	*log = s->l;
	return 0;
}

/* Whether this broker had a log of topic-partition at its start
 * (replica_mgr.h, rule 7; the replica manager looks at its open replicas
 * first). A log made since, by the topic's read or an empty replica,
 * holds nothing the ISR counts on. */
static int32_t logs_min_isr(void *arg, const char *topic)
{
	const struct cluster_topic_hooks *h = &((struct cluster_repl *)arg)->local.topics;

	return h->min_isr ? h->min_isr(h->arg, topic) : 0;
}

static bool logs_has(void *arg, const char *topic, int32_t partition)
{
	struct cluster_repl *cr = arg;
	struct log_name key = { .topic = (char *)topic, .partition = partition };
	const struct log_name *found;
	int n;

	if (!cr->local.m)
		return true;
	found = logmgr_found(cr->local.m, &n);
	return n > 0 && bsearch(&key, found, (size_t)n, sizeof(key), log_name_cmp) != NULL;
}

static int logs_close(void *arg, const char *topic, int32_t partition, void *log, bool del)
{
	struct cluster_repl *cr = arg;
	struct log_slot *s, **pp;
	int rc = 0;

	pthread_mutex_lock(&cr->slots_mu);
	for (pp = &cr->slots; *pp && (*pp)->l != log; pp = &(*pp)->next)
		;
	s = *pp;
	if (s)
		*pp = s->next;
	pthread_mutex_unlock(&cr->slots_mu);
	if (!s)
		return -ENOENT;
	log_remove_leo_listener(s->l, on_log, s);
	log_remove_hw_listener(s->l, on_log, s);
	/* A deleted replica's files go with the broker's own topic, when the
	 * topic leaves /brokers/topics (cluster.h's retain hook): the
	 * broker's partitions use the log without a reference of their own,
	 * so only its deletion may drop it. A deleted one has nothing left
	 * to lose: not ineligible any more. */
	if (del)
		inel_drop(cr, topic, partition, "deleted");
	log_unref(s->l);
	free(s);
	/* A replica moved to other brokers: its log goes now, with its
	 * topic staying here (cluster.h's moved_away). */
	if (del && cr->local.topics.replica_deleted)
		cr->local.topics.replica_deleted(cr->local.topics.arg, topic, partition);
	return rc;
}

/* ---- the partition state in ZooKeeper ---- */

/* The replica manager's notice of a failed log directory (Kafka's
 * propagateLogDirEvent): the controller reads it and asks this broker
 * about its replicas. */
static int log_dir_failed(void *arg, int err)
{
	struct cluster_repl *cr = arg;
	int rc;

	(void)err;
	pthread_mutex_lock(&cr->zk_mu);
	rc = cr->zk ? zkmeta_notify_log_dir_failure(cr->zk, cr->cfg->broker_id) : -ENOTCONN;
	pthread_mutex_unlock(&cr->zk_mu);
	return rc;
}

static int isr_write(void *arg, const char *topic, int32_t partition, int32_t controller_epoch,
		     const struct partition_state *proposed)
{
	struct cluster_repl *cr = arg;
	struct zk_partition_state zs = {
		.controller_epoch = controller_epoch,
		.leader = proposed->leader,
		.leader_epoch = proposed->leader_epoch,
		.isr = (int32_t *)proposed->isr,
		.n_isr = proposed->n_isr,
	};
	struct zk_tp tp = { .topic = (char *)topic, .partition = partition };
	struct zk_isr_change ch = { .partitions = &tp, .n = 1 };
	int32_t version = -1;
	int rc;

	pthread_mutex_lock(&cr->zk_mu);
	if (!cr->zk) {
		rc = -ENOTCONN;
	} else {
		rc = zkmeta_update_partition_state(cr->zk, topic, partition, &zs,
						   proposed->partition_epoch, ZKC_ANY_VERSION,
						   &version);
		/* The controller re-reads the states named here and tells
		 * every broker; without the notice only this leader knows. */
		if (rc == 0 && zkmeta_notify_isr_change(cr->zk, &ch) < 0)
			mq_log(MQ_WARN, "%s-%d: ISR written, change notification failed", topic,
			       (int)partition);
	}
	pthread_mutex_unlock(&cr->zk_mu);
	return rc < 0 ? rc : version;
}

static int isr_read(void *arg, const char *topic, int32_t partition, struct partition_state *cur)
{
	struct cluster_repl *cr = arg;
	char path[ZK_PATH_MAX], why[ZK_WHY_LEN], *data = NULL;
	struct zk_partition_state zs;
	struct zkc_stat st;
	size_t len;
	int rc;

	rc = zk_path_partition_state(path, sizeof(path), topic, partition);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&cr->zk_mu);
	rc = cr->zk ? zkc_get(cr->zk, path, &data, &len, &st, NULL, NULL) : -ENOTCONN;
	pthread_mutex_unlock(&cr->zk_mu);
	if (rc < 0)
		return rc;
	rc = zk_partition_state_decode(data, len, &zs, why);
	free(data);
	if (rc < 0)
		return rc;
	if (zs.n_isr > PARTITION_MAX_REPLICAS) {
		zk_partition_state_clear(&zs);
		return -EBADMSG;
	}
	cur->leader = zs.leader;
	cur->leader_epoch = zs.leader_epoch;
	cur->partition_epoch = st.version;
	cur->n_isr = zs.n_isr;
	memcpy(cur->isr, zs.isr, sizeof(int32_t) * (size_t)zs.n_isr);
	zk_partition_state_clear(&zs);
	return 0;
}

/* ---- where brokers listen ---- */

/* From the registration itself, when the cache has not seen it yet (the
 * controller hears of a broker that came back before our cluster thread
 * re-reads /brokers/ids). */
static int endpoint_zk(struct cluster_repl *cr, int32_t id, char host[NET_MAX_HOST + 1], int *port)
{
	char path[ZK_PATH_MAX], why[ZK_WHY_LEN], *data = NULL;
	struct zk_broker zb;
	size_t len;
	int rc;

	zk_path_broker(path, sizeof(path), id);
	pthread_mutex_lock(&cr->zk_mu);
	rc = cr->zk ? zkc_get(cr->zk, path, &data, &len, NULL, NULL, NULL) : -ENOTCONN;
	pthread_mutex_unlock(&cr->zk_mu);
	if (rc < 0)
		return rc;
	rc = zk_broker_decode(data, len, &zb, why);
	free(data);
	if (rc < 0)
		return rc;
	rc = -ENOENT;
	for (int i = 0; i < zb.n_endpoints; i++)
		if (!strcmp(zb.endpoints[i].listener, cr->listener_name)) {
			snprintf(host, NET_MAX_HOST + 1, "%s", zb.endpoints[i].host);
			*port = zb.endpoints[i].port;
			rc = 0;
			break;
		}
	zk_broker_clear(&zb);
	return rc;
}

static int endpoint(void *arg, int32_t id, char host[NET_MAX_HOST + 1], int *port)
{
	struct cluster_repl *cr = arg;
	struct net_endpoint eps[NET_MAX_LISTENERS];
	struct metadata_broker *bs = NULL;
	int n, rc = -ENOENT;

	n = metadata_cache_brokers(cr->mc, &bs);
	for (int i = 0; i < n && rc == -ENOENT; i++) {
		int k;

		if (bs[i].id != id || !bs[i].alive)
			continue;
		k = net_listeners_parse(bs[i].endpoints, eps, NET_MAX_LISTENERS);
		for (int j = 0; j < k; j++)
			if (!strcmp(eps[j].name, cr->listener_name)) {
				snprintf(host, NET_MAX_HOST + 1, "%s", eps[j].host);
				*port = eps[j].port;
				rc = 0;
				break;
			}
	}
	free(bs);
	if (rc == -ENOENT || n < 0)
		rc = endpoint_zk(cr, id, host, port);
	return rc;
}

/* ---- the controller's channel (broker id's sender thread) ---- */

static void conn_drop(struct cluster_repl *cr, int32_t id)
{
	struct net_client *c = NULL;

	pthread_mutex_lock(&cr->conns_mu);
	for (int i = 0; i < cr->n_conns; i++)
		if (cr->conns[i].id == id) {
			c = cr->conns[i].c;
			cr->conns[i] = cr->conns[--cr->n_conns];
			break;
		}
	pthread_mutex_unlock(&cr->conns_mu);
	net_client_close(c);
}

/* A connection to broker id in its registration epoch (a broker that came
 * back is a new process: the old connection is dead). */
static int conn_get(struct cluster_repl *cr, int32_t id, int64_t epoch, struct net_client **out)
{
	char host[NET_MAX_HOST + 1];
	struct net_client *c = NULL;
	struct conn *nc;
	int port, rc;
	bool stale = false;

	pthread_mutex_lock(&cr->conns_mu);
	for (int i = 0; i < cr->n_conns; i++)
		if (cr->conns[i].id == id) {
			c = cr->conns[i].c;
			stale = cr->conns[i].epoch != epoch;
			break;
		}
	pthread_mutex_unlock(&cr->conns_mu);
	*out = c && !stale ? c : NULL;
	if (*out)
		return 0;
	if (c)
		conn_drop(cr, id);
	rc = endpoint(cr, id, host, &port);
	if (rc == 0)
		rc = net_client_connect(host, port, CHANNEL_CONNECT_MS, &c);
	if (rc == 0 && cr->user) {
		rc = net_client_sasl(c, cr->mech, cr->user, cr->password, CHANNEL_CONNECT_MS);
		if (rc < 0)
			net_client_close(c);
	}
	if (rc < 0) {
		mq_log_limited(MQ_WARN, "controller: cannot reach broker %d: %s", (int)id,
			       strerror(-rc));
		return rc;
	}
	pthread_mutex_lock(&cr->conns_mu);
	nc = realloc(cr->conns, sizeof(*nc) * (size_t)(cr->n_conns + 1));
	if (nc) {
		cr->conns = nc;
		nc[cr->n_conns++] = (struct conn){ id, epoch, c };
	}
	pthread_mutex_unlock(&cr->conns_mu);
	if (!nc) {
		net_client_close(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

typedef int (*encode_fn)(struct kbuf_w *w, int16_t version, const void *req);
/* Decodes the response; out (may be NULL) gets what the caller wants. */
typedef int (*check_fn)(struct net_resp *resp, int16_t version, void *out);

/* One request on connection c at the highest version both sides know. */
static int call_once(struct net_client *c, int16_t api, encode_fn enc, const void *req,
		     check_fn check, void *out)
{
	struct net_resp resp = { 0 };
	struct kbuf_w w;
	int v = net_client_version(c, api), rc;

	if (v < 0)
		return v;
	kbuf_w_init(&w, 64u << 20);
	rc = enc(&w, (int16_t)v, req);
	if (rc == 0)
		rc = net_client_call(c, api, (int16_t)v, w.buf, w.len, 0, CHANNEL_REQUEST_MS,
				     &resp);
	kbuf_w_free(&w);
	if (rc == 0)
		rc = check(&resp, (int16_t)v, out);
	net_resp_free(&resp);
	return rc;
}

/* Sends one request to broker id, on a new connection once more if the
 * first fails. Broker id's sender thread only (its connection). The
 * error returned and logged is the last attempt's (a connection that
 * could not be made after the first failed, say), not the first's. */
static int channel_send(struct cluster_repl *cr, int32_t id, int64_t epoch, int16_t api,
			encode_fn enc, const void *req, check_fn check, void *out)
{
	int rc = -ENOTCONN;

	for (int attempt = 0; attempt < 2; attempt++) {
		struct net_client *c;

		rc = conn_get(cr, id, epoch, &c);
		if (rc < 0)
			break;
		rc = call_once(c, api, enc, req, check, out);
		if (rc == 0 || rc == -EPROTO)
			break;
		conn_drop(cr, id);
	}
	if (rc == 0) {
		atomic_fetch_add(&cr->sent, 1);
	} else {
		atomic_fetch_add(&cr->send_errors, 1);
		mq_log_limited(MQ_WARN, "controller: %s to broker %d failed: %s",
			       proto_api_find(api)->name, (int)id, strerror(-rc));
	}
	return rc;
}

/* The partition states as topics (consecutive states of one topic
 * share one), pointing into states. */
static int topic_states(const struct controller_partition_state *s, int n,
			struct proto_topic_state **topics, struct proto_part_state **parts)
{
	struct proto_topic_state *t = calloc((size_t)n + 1, sizeof(*t));
	struct proto_part_state *p = calloc((size_t)n + 1, sizeof(*p));
	int nt = 0;

	if (!t || !p) {
		free(t);
		free(p);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		if (!nt || strcmp(t[nt - 1].topic_name.ptr, s[i].topic)) {
			t[nt].topic_name = kstr_of(s[i].topic);
			zk_uuid_bytes(s[i].topic_id, t[nt].topic_id);
			t[nt].partition_states = &p[i];
			nt++;
		}
		t[nt - 1].n_partitions++;
		p[i] = (struct proto_part_state){
			.partition_index = s[i].partition,
			.controller_epoch = s[i].controller_epoch,
			.leader = s[i].leader,
			.leader_epoch = s[i].leader_epoch,
			.n_isr = s[i].n_isr,
			.isr = (int32_t *)s[i].isr,
			.partition_epoch = s[i].partition_epoch,
			.n_replicas = s[i].n_replicas,
			.replicas = (int32_t *)s[i].replicas,
			.is_new = s[i].is_new,
			.leader_recovery_state = s[i].leader_recovery_state,
			.n_offline_replicas = s[i].n_offline_replicas,
			.offline_replicas = (int32_t *)s[i].offline_replicas,
		};
	}
	*topics = t;
	*parts = p;
	return nt;
}

static int enc_lisr(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_lisr_req_encode(w, v, req);
}

/* A LeaderAndIsr answer's partitions, named (check_lisr for ch_lisr):
 * those the broker could not host (KAFKA_STORAGE_ERROR) and those it
 * took. */
struct lisr_answer {
	const struct proto_lisr_req *req; /* names the v5+ answer's topic ids */
	struct controller_tp *failed, *ok;
	int n_failed, n_ok;
};

static void answer_add(struct lisr_answer *a, struct kstr topic, int32_t partition, int16_t err)
{
	struct controller_tp *tp;

	if (err == PROTO_ERR_KAFKA_STORAGE_ERROR)
		tp = &a->failed[a->n_failed++];
	else if (err == PROTO_ERR_NONE)
		tp = &a->ok[a->n_ok++];
	else
		return;
	snprintf(tp->topic, sizeof(tp->topic), "%.*s", (int)topic.len, topic.ptr);
	tp->partition = partition;
}

/* The request's name of a topic id (v5+ answers name topics by id). */
static struct kstr lisr_topic_name(const struct proto_lisr_req *req, const uint8_t *id)
{
	for (int i = 0; i < req->n_topics; i++)
		if (!memcmp(req->topic_states[i].topic_id, id, 16))
			return req->topic_states[i].topic_name;
	return KSTR_NULL;
}

static int check_lisr(struct net_resp *resp, int16_t v, void *out)
{
	struct proto_lisr_resp r = { 0 };
	struct lisr_answer *a = out;
	int rc = proto_lisr_resp_decode(&resp->body, v, &r), n = 0, i, j;

	if (rc == 0 && r.error_code)
		rc = -EPROTO;
	if (rc == 0 && a) {
		n = r.n_partition_errors;
		for (i = 0; i < r.n_topics; i++)
			n += r.topics[i].n_partition_errors;
		a->failed = calloc((size_t)n + 1, sizeof(*a->failed));
		a->ok = calloc((size_t)n + 1, sizeof(*a->ok));
		if (!a->failed || !a->ok)
			n = 0; /* nothing learnt: the next answer tells */
	}
	for (i = 0; i < n && i < r.n_partition_errors; i++)
		answer_add(a, r.partition_errors[i].topic_name,
			   r.partition_errors[i].partition_index, r.partition_errors[i].error_code);
	for (i = 0; n > 0 && i < r.n_topics; i++) {
		struct kstr name = lisr_topic_name(a->req, r.topics[i].topic_id);

		for (j = 0; name.ptr && j < r.topics[i].n_partition_errors; j++)
			answer_add(a, name, r.topics[i].partition_errors[j].partition_index,
				   r.topics[i].partition_errors[j].error_code);
	}
	proto_lisr_resp_free(&r);
	return rc;
}

static int ch_lisr(void *arg, int32_t id, int64_t broker_epoch, int32_t controller_epoch,
		   const struct controller_partition_state *states, int n)
{
	struct cluster_repl *cr = arg;
	struct proto_lisr_req req = {
		.controller_id = cr->cfg->broker_id,
		.controller_epoch = controller_epoch,
		.broker_epoch = broker_epoch,
		.type = PROTO_LISR_INCREMENTAL,
	};
	struct lisr_answer ans = { .req = &req };
	struct proto_part_state *parts = NULL;
	struct controller *ctl = ctl_get(cr);
	int rc;

	rc = topic_states(states, n, &req.topic_states, &parts);
	if (rc < 0)
		return rc;
	req.n_topics = rc;
	rc = channel_send(cr, id, broker_epoch, PROTO_API_LEADER_AND_ISR, enc_lisr, &req,
			  check_lisr, &ans);
	/* Kafka's LeaderAndIsrResponseReceived: the replicas it could not
	 * host go offline there (controller.h). */
	if (rc == 0 && ctl && (ans.n_failed || ans.n_ok))
		controller_lisr_answer(ctl, id, broker_epoch, ans.failed, ans.n_failed, ans.ok,
				       ans.n_ok);
	free(ans.failed);
	free(ans.ok);
	free(req.topic_states);
	free(parts);
	return rc;
}

static int enc_um(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_um_req_encode(w, v, req);
}

static int check_um(struct net_resp *resp, int16_t v, void *out)
{
	struct proto_um_resp r = { 0 };
	int rc = proto_um_resp_decode(&resp->body, v, &r);

	(void)out;
	return rc == 0 && r.error_code ? -EPROTO : rc;
}

static int ch_um(void *arg, int32_t id, int64_t broker_epoch, int32_t controller_epoch,
		 const int32_t *live, int n_live, const struct controller_partition_state *states,
		 int n)
{
	struct cluster_repl *cr = arg;
	struct proto_um_req req = {
		.controller_id = cr->cfg->broker_id,
		.controller_epoch = controller_epoch,
		.broker_epoch = broker_epoch,
		.n_live_brokers = n_live,
	};
	struct proto_part_state *parts = NULL;
	int rc;

	req.live_brokers = calloc((size_t)n_live + 1, sizeof(*req.live_brokers));
	if (!req.live_brokers)
		return -ENOMEM;
	for (int i = 0; i < n_live; i++)
		req.live_brokers[i] = (struct proto_um_broker){ .id = live[i], .rack = KSTR_NULL };
	rc = topic_states(states, n, &req.topic_states, &parts);
	if (rc >= 0) {
		req.n_topics = rc;
		rc = channel_send(cr, id, broker_epoch, PROTO_API_UPDATE_METADATA, enc_um, &req,
				  check_um, NULL);
	}
	free(req.live_brokers);
	free(req.topic_states);
	free(parts);
	return rc;
}

static int enc_stop(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_stop_req_encode(w, v, req);
}

static int check_stop(struct net_resp *resp, int16_t v, void *out)
{
	struct proto_stop_resp r = { 0 };
	int rc = proto_stop_resp_decode(&resp->body, v, &r);

	(void)out;
	if (rc == 0 && r.error_code)
		rc = -EPROTO;
	proto_stop_resp_free(&r);
	return rc;
}

static int ch_stop(void *arg, int32_t id, int64_t broker_epoch, int32_t controller_epoch,
		   const struct controller_stop_replica *parts, int n)
{
	struct cluster_repl *cr = arg;
	struct proto_stop_req req = {
		.controller_id = cr->cfg->broker_id,
		.controller_epoch = controller_epoch,
		.broker_epoch = broker_epoch,
	};
	struct proto_stop_topic *t = calloc((size_t)n + 1, sizeof(*t));
	struct proto_stop_part *p = calloc((size_t)n + 1, sizeof(*p));
	int nt = 0, rc;

	if (!t || !p) {
		free(t);
		free(p);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		if (!nt || strcmp(t[nt - 1].topic_name.ptr, parts[i].topic)) {
			t[nt].topic_name = kstr_of(parts[i].topic);
			t[nt].partition_states = &p[i];
			nt++;
		}
		t[nt - 1].n_partitions++;
		p[i] = (struct proto_stop_part){ .partition_index = parts[i].partition,
						 .leader_epoch = parts[i].leader_epoch,
						 .delete_partition = parts[i].delete_partition };
		/* Before v3 one flag covers the request: the controller sends
		 * deletions and stops in separate calls. */
		req.delete_partitions = parts[i].delete_partition;
	}
	req.n_topics = nt;
	req.topics = t;
	rc = channel_send(cr, id, broker_epoch, PROTO_API_STOP_REPLICA, enc_stop, &req, check_stop,
			  NULL);
	free(t);
	free(p);
	return rc;
}

/* ---- the controller's requests on our listener (worker threads) ---- */

/* With the authorizer: CLUSTER_ACTION on the cluster (KafkaApis; the
 * brokers' user is a super user). Without: only the broker's own user
 * may act as the controller on SASL. */
static int controller_allowed(struct cluster_repl *cr, struct net_req *req)
{
	const char *user = net_req_user(req);

	if (net_req_authz(req))
		return kafka_authorize_cluster(req, ACL_OP_CLUSTER_ACTION) ? 0 : -EPERM;
	if (user && cr->cc->jaas_user[0] && strcmp(user, cr->cc->jaas_user)) {
		mq_log_limited(MQ_WARN, "%s from %s (user %s) refused: not the brokers' user",
			       proto_api_find(net_req_msg(req)->hdr.api_key)->name,
			       net_req_peer(req), user);
		return -EPERM;
	}
	return 0;
}

/* The request's partition states with NUL-terminated topic names: names
 * and states are malloc'd (one block for the names). */
static int states_of(const struct proto_topic_state *t, int nt,
		     struct controller_partition_state **out, char **names)
{
	struct controller_partition_state *s;
	size_t bytes = 0;
	char *nb, *at;
	int n = 0, k = 0;

	for (int i = 0; i < nt; i++) {
		if (t[i].topic_name.len < 0 || t[i].n_partitions < 0)
			return -EBADMSG;
		bytes += (size_t)t[i].topic_name.len + 1 + ZK_UUID_LEN + 1;
		n += t[i].n_partitions;
	}
	s = calloc((size_t)n + 1, sizeof(*s));
	nb = malloc(bytes + 1);
	if (!s || !nb) {
		free(s);
		free(nb);
		return -ENOMEM;
	}
	at = nb;
	for (int i = 0; i < nt; i++) {
		char *id = at + t[i].topic_name.len + 1;

		memcpy(at, t[i].topic_name.ptr, (size_t)t[i].topic_name.len);
		at[t[i].topic_name.len] = '\0';
		zk_uuid_string(t[i].topic_id, id); /* "" before v5 */
		for (int j = 0; j < t[i].n_partitions; j++, k++) {
			const struct proto_part_state *p = &t[i].partition_states[j];

			s[k] = (struct controller_partition_state){
				.topic = at,
				.topic_id = id,
				.partition = p->partition_index,
				.controller_epoch = p->controller_epoch,
				.leader = p->leader,
				.leader_epoch = p->leader_epoch,
				.leader_recovery_state = p->leader_recovery_state,
				.isr = p->isr,
				.n_isr = p->n_isr,
				.partition_epoch = p->partition_epoch,
				.replicas = p->replicas,
				.n_replicas = p->n_replicas,
				.is_new = p->is_new,
				.offline_replicas = p->offline_replicas,
				.n_offline_replicas = p->n_offline_replicas,
			};
		}
		at = id + ZK_UUID_LEN + 1;
	}
	*out = s;
	*names = nb;
	return n;
}

static int16_t err_of(int rc)
{
	return rc == -ESTALE    ? PROTO_ERR_STALE_CONTROLLER_EPOCH
	       : rc == -EREMCHG ? PROTO_ERR_STALE_BROKER_EPOCH
	       : rc == -ENOENT  ? PROTO_ERR_NONE
				: proto_err_from_errno(rc);
}

/* After a LeaderAndIsr or UpdateMetadata applied: each state that names
 * this broker among the replicas may have taken its replica out of the
 * ISR or back (its mount's reads move between the replica and a read
 * copy: topic_read.c), which no hw move of the stuck replica would tell. */
static void replica_states_applied(struct cluster_repl *cr,
				   const struct controller_partition_state *s, int n)
{
	for (int i = 0; cr->replica_state && i < n; i++)
		for (int k = 0; k < s[i].n_replicas; k++)
			if (s[i].replicas[k] == cr->cfg->broker_id) {
				cr->replica_state(cr->replica_state_arg, s[i].topic,
						  s[i].partition);
				break;
			}
}

static int lisr_handler(void *arg, struct net_req *req)
{
	struct cluster_repl *cr = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_lisr_req *m = &pr->u.lisr;
	struct controller_partition_state *s = NULL;
	struct proto_lisr_resp resp = { 0 };
	struct proto_lisr_part_error *pe = NULL;
	char *names = NULL;
	int *errs = NULL, n, rc;
	size_t pos;

	rc = controller_allowed(cr, req);
	n = rc < 0 ? 0 : states_of(m->topic_states, m->n_topics, &s, &names);
	if (n < 0)
		return n;
	errs = calloc((size_t)n + 1, sizeof(*errs));
	pe = calloc((size_t)n + 1, sizeof(*pe));
	resp.topics = calloc((size_t)m->n_topics + 1, sizeof(*resp.topics));
	if (!errs || !pe || !resp.topics) {
		rc = -ENOMEM;
		goto out;
	}
	if (rc == 0)
		rc = replica_mgr_leader_and_isr(cr->rm, m->controller_epoch, m->broker_epoch, s, n,
						errs);
	if (rc == 0 && cr->leaders_changed)
		cr->leaders_changed(cr->leaders_arg);
	if (rc == 0)
		replica_states_applied(cr, s, n);
	resp.error_code =
		rc < 0 ? (rc == -EPERM ? PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED : err_of(rc))
		       : PROTO_ERR_NONE;
	for (int i = 0, k = 0; rc == 0 && i < m->n_topics; i++) {
		resp.topics[i].n_partition_errors = m->topic_states[i].n_partitions;
		resp.topics[i].partition_errors = &pe[k];
		memcpy(resp.topics[i].topic_id, m->topic_states[i].topic_id, 16);
		for (int j = 0; j < m->topic_states[i].n_partitions; j++, k++)
			pe[k] = (struct proto_lisr_part_error){
				.topic_name = m->topic_states[i].topic_name,
				.partition_index = s[k].partition,
				.error_code = err_of(errs[k])
			};
	}
	if (rc == 0) {
		resp.n_partition_errors = n;
		resp.partition_errors = pe;
		resp.n_topics = m->n_topics;
	}
	pos = net_req_begin(req);
	rc = proto_lisr_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (!rc)
		rc = net_req_end(req, pos);
out:
	free(resp.topics);
	free(pe);
	free(errs);
	free(s);
	free(names);
	return rc;
}

static int um_handler(void *arg, struct net_req *req)
{
	struct cluster_repl *cr = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_um_req *m = &pr->u.um;
	struct controller_partition_state *s = NULL;
	struct proto_um_resp resp = { 0 };
	int32_t *live = NULL;
	char *names = NULL;
	int n, rc;
	size_t pos;

	rc = controller_allowed(cr, req);
	n = rc < 0 ? 0 : states_of(m->topic_states, m->n_topics, &s, &names);
	if (n < 0)
		return n;
	live = calloc((size_t)m->n_live_brokers + 1, sizeof(*live));
	if (!live) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < m->n_live_brokers; i++)
		live[i] = m->live_brokers[i].id;
	if (rc == 0)
		rc = replica_mgr_update_metadata(cr->rm, m->controller_epoch, m->broker_epoch, live,
						 m->n_live_brokers, s, n);
	if (rc == 0 && cr->leaders_changed)
		cr->leaders_changed(cr->leaders_arg);
	if (rc == 0)
		replica_states_applied(cr, s, n);
	resp.error_code = rc == -EPERM ? PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED : err_of(rc);
	pos = net_req_begin(req);
	rc = proto_um_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (!rc)
		rc = net_req_end(req, pos);
out:
	free(live);
	free(s);
	free(names);
	return rc;
}

/* The topics a StopReplica deletes (cluster.h's deleted hook), each
 * once: the request lists a topic's partitions together. */
static void topics_deleted(struct cluster_repl *cr, const struct controller_stop_replica *s, int n)
{
	const struct cluster_topic_hooks *h = &cr->local.topics;
	const char *last = NULL;

	for (int i = 0; h->deleted && i < n; i++)
		if (s[i].delete_partition && s[i].leader_epoch == CONTROLLER_EPOCH_DURING_DELETE &&
		    (!last || strcmp(s[i].topic, last))) {
			h->deleted(h->arg, s[i].topic);
			last = s[i].topic;
		}
}

static int stop_handler(void *arg, struct net_req *req)
{
	struct cluster_repl *cr = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_stop_req *m = &pr->u.stop;
	struct controller_stop_replica *s = NULL;
	struct proto_topic_part_error *pe = NULL;
	struct proto_stop_resp resp = { 0 };
	char *names = NULL, *at;
	size_t bytes = 1, pos;
	int *errs = NULL, n = 0, k = 0, rc;

	rc = controller_allowed(cr, req);
	for (int i = 0; i < m->n_topics; i++) {
		if (m->topics[i].topic_name.len < 0 || m->topics[i].n_partitions < 0)
			return -EBADMSG;
		bytes += (size_t)m->topics[i].topic_name.len + 1;
		n += m->topics[i].n_partitions;
	}
	s = calloc((size_t)n + 1, sizeof(*s));
	errs = calloc((size_t)n + 1, sizeof(*errs));
	pe = calloc((size_t)n + 1, sizeof(*pe));
	names = malloc(bytes);
	if (!s || !errs || !pe || !names) {
		rc = -ENOMEM;
		goto out;
	}
	at = names;
	for (int i = 0; i < m->n_topics; i++) {
		const struct proto_stop_topic *t = &m->topics[i];

		memcpy(at, t->topic_name.ptr, (size_t)t->topic_name.len);
		at[t->topic_name.len] = '\0';
		for (int j = 0; j < t->n_partitions; j++, k++) {
			s[k] = (struct controller_stop_replica){
				.topic = at,
				.partition = t->partition_states[j].partition_index,
				.leader_epoch = t->partition_states[j].leader_epoch,
				.delete_partition = t->partition_states[j].delete_partition ||
						    m->delete_partitions
			};
			pe[k] = (struct proto_topic_part_error){ .topic_name = t->topic_name,
								 .partition_index =
									 s[k].partition };
		}
		at += t->topic_name.len + 1;
	}
	if (rc == 0)
		rc = replica_mgr_stop_replica(cr->rm, m->controller_epoch, m->broker_epoch, s, n,
					      errs);
	if (rc == 0)
		topics_deleted(cr, s, n);
	resp.error_code = rc == -EPERM ? PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED : err_of(rc);
	for (int i = 0; rc == 0 && i < n; i++)
		pe[i].error_code = err_of(errs[i]);
	if (rc == 0) {
		resp.n_partition_errors = n;
		resp.partition_errors = pe;
	}
	pos = net_req_begin(req);
	rc = proto_stop_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (!rc)
		rc = net_req_end(req, pos);
out:
	free(s);
	free(errs);
	free(pe);
	free(names);
	return rc;
}

/* ---- controlled shutdown ---- */

/* ControlledShutdown on the controller's listener: the controller moves
 * the broker's leaderships away and answers those it still leads, as
 * Kafka does only once the LeaderAndIsr requests of the moves went out:
 * the new leaders lead before the stopping broker stops serving, and the
 * stopping broker, a follower now, fails the acks=all writes waiting on
 * it (NOT_LEADER_OR_FOLLOWER: their producers send them to the new
 * leader) instead of holding them until request.timeout.ms. A broker
 * that does not answer holds the answer up CS_FLUSH_MS at most. */
static int cs_handler(void *arg, struct net_req *req)
{
	struct cluster_repl *cr = arg;
	const struct proto_req *pr = net_req_msg(req);
	struct proto_cs_resp resp = { 0 };
	struct controller_tp *left = NULL;
	int rc, n = 0, flushed = 0;
	size_t pos;

	rc = controller_allowed(cr, req);
	if (rc == 0) {
		struct controller *ctl = ctl_get(cr);

		rc = ctl ? controller_controlled_shutdown(ctl, pr->u.cs.broker_id, &left) : -EAGAIN;
	}
	/* Under cq_mu: a stop of this broker (cluster_repl_stop) frees the
	 * queue meanwhile, the listener still serving. */
	if (rc >= 0) {
		pthread_mutex_lock(&cr->cq_mu);
		flushed = ctrl_queue_flush(cr->cq, CS_FLUSH_MS);
		pthread_mutex_unlock(&cr->cq_mu);
	}
	if (flushed < 0)
		mq_log(MQ_WARN,
		       "controller: controlled shutdown of broker %d: answered before every "
		       "broker was told (a request still in flight after %d ms)",
		       (int)pr->u.cs.broker_id, CS_FLUSH_MS);
	if (rc >= 0) {
		n = rc;
		resp.remaining_partitions =
			calloc((size_t)n + 1, sizeof(*resp.remaining_partitions));
		if (!resp.remaining_partitions) {
			free(left);
			return -ENOMEM;
		}
		for (int i = 0; i < n; i++)
			resp.remaining_partitions[i] = (struct proto_topic_part_error){
				.topic_name = kstr_of(left[i].topic),
				.partition_index = left[i].partition
			};
		resp.n_remaining = n;
	} else {
		resp.error_code = rc == -EAGAIN   ? PROTO_ERR_NOT_CONTROLLER
				  : rc == -EPERM  ? PROTO_ERR_CLUSTER_AUTHORIZATION_FAILED
				  : rc == -ENOENT ? PROTO_ERR_BROKER_NOT_AVAILABLE
						  : proto_err_from_errno(rc);
	}
	pos = net_req_begin(req);
	rc = proto_cs_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (!rc)
		rc = net_req_end(req, pos);
	free(resp.remaining_partitions);
	free(left);
	return rc;
}

static int enc_cs(struct kbuf_w *w, int16_t v, const void *req)
{
	return proto_cs_req_encode(w, v, req);
}

static int check_cs(struct net_resp *resp, int16_t v, void *out)
{
	struct proto_cs_resp r = { 0 };
	int rc = proto_cs_resp_decode(&resp->body, v, &r);

	if (rc == 0)
		rc = r.error_code ? -EPROTO : 0;
	*(int *)out = r.n_remaining;
	proto_cs_resp_free(&r);
	return rc;
}

/* One ControlledShutdown to the controller id on a connection of its own
 * (the controller thread's may be in use); *left: partitions still led. */
static int cs_send(struct cluster_repl *cr, int32_t id, const struct proto_cs_req *req, int *left)
{
	char host[NET_MAX_HOST + 1];
	struct net_client *c;
	int port, rc;

	rc = endpoint(cr, id, host, &port);
	if (rc == 0)
		rc = net_client_connect(host, port, CHANNEL_CONNECT_MS, &c);
	if (rc < 0)
		return rc;
	if (cr->user)
		rc = net_client_sasl(c, cr->mech, cr->user, cr->password, CHANNEL_CONNECT_MS);
	if (rc == 0)
		rc = call_once(c, PROTO_API_CONTROLLED_SHUTDOWN, enc_cs, req, check_cs, left);
	net_client_close(c);
	return rc;
}

/* Kafka's controlled shutdown from a broker that is not the controller:
 * asks the controller to move its leaderships away, a few times while
 * it still leads some, then goes anyway. The controller's own broker is
 * handled by controller_stop. */
/* What the controller decided for a caller is told to the brokers before
 * the caller hears of it, so that its next Metadata names leaders that
 * already lead. Under cq_mu: see cs_handler. */
static void tell_before_answer(struct cluster_repl *cr, const char *what)
{
	pthread_mutex_lock(&cr->cq_mu);
	if (ctrl_queue_flush(cr->cq, CS_FLUSH_MS) < 0)
		mq_log(MQ_WARN,
		       "controller: %s answered before every broker was told (a request still in "
		       "flight after %d ms)",
		       what, CS_FLUSH_MS);
	pthread_mutex_unlock(&cr->cq_mu);
}

int cluster_repl_alter_reassignments(struct cluster_repl *cr, struct controller_reassignment *parts,
				     int n)
{
	struct controller *ctl = ctl_get(cr);
	int rc = ctl ? controller_alter_reassignments(ctl, parts, n) : -EAGAIN;

	if (rc == 0)
		tell_before_answer(cr, "partition reassignment");
	return rc;
}

int cluster_repl_list_reassignments(struct cluster_repl *cr, struct controller_moving **out)
{
	struct controller *ctl = ctl_get(cr);

	*out = NULL;
	return ctl ? controller_list_reassignments(ctl, out) : -EAGAIN;
}

int cluster_repl_elect_leaders(struct cluster_repl *cr, bool unclean,
			       struct controller_election *parts, int n)
{
	struct controller *ctl = ctl_get(cr);
	int rc = ctl ? controller_elect_leaders(ctl, unclean, parts, n) : -EAGAIN;

	/* As the answer to a ControlledShutdown. */
	if (rc == 0)
		tell_before_answer(cr, "leader election");
	return rc;
}

static void controlled_shutdown(struct cluster_repl *cr)
{
	struct proto_cs_req req = { .broker_id = cr->cfg->broker_id,
				    .broker_epoch = atomic_load(&cr->broker_epoch) };
	struct controller_info ci = { 0 };

	if (!cr->cc->controlled_shutdown || !cr->ctl)
		return;
	controller_get_info(cr->ctl, &ci);
	if (ci.active)
		return;
	for (int attempt = 0; attempt < CS_ATTEMPTS; attempt++) {
		int32_t id = metadata_cache_controller(cr->mc);
		int rc, left = -1;

		if (id < 0 || id == cr->cfg->broker_id)
			break;
		rc = cs_send(cr, id, &req, &left);
		if (rc == 0 && left == 0) {
			mq_log(MQ_INFO, "controlled shutdown: controller %d moved our leaderships",
			       (int)id);
			return;
		}
		mq_log(MQ_WARN, "controlled shutdown: %s%s", rc < 0 ? strerror(-rc) : "",
		       rc == 0 ? "partitions still led here; asking again" : "");
		pause_ms(CS_BACKOFF_MS);
	}
	mq_log(MQ_WARN, "controlled shutdown: going without it; the session timeout moves "
			"what is still led here");
}

/* replica_rack_fn over the brokers this broker knows (the ones Metadata
 * answers, metadata_cache.h): alive with an endpoint named as listener
 * i, Kafka's getPartitionReplicaEndpoints. */
static bool replica_rack(void *arg, int32_t id, int listener, char *rack, size_t cap)
{
	struct cluster_repl *cr = arg;
	struct net_endpoint eps[NET_MAX_LISTENERS];
	struct metadata_broker b;
	int n;

	if (listener < 0 || listener >= cr->cc->net.n_listeners ||
	    !metadata_cache_broker(cr->mc, id, &b) || !b.alive)
		return false;
	n = net_listeners_parse(b.endpoints, eps, NET_MAX_LISTENERS);
	for (int i = 0; i < n; i++)
		if (!strcmp(eps[i].name, cr->cc->net.listeners[listener].name)) {
			snprintf(rack, cap, "%s", b.has_rack ? b.rack : "");
			return true;
		}
	return false;
}

/* ---- lifecycle ---- */

int cluster_repl_new(const struct broker_config *cfg, const struct cluster_local *local,
		     struct metadata_cache *mc, struct cluster_repl **out)
{
	const struct cluster_config *cc = &cfg->cluster;
	struct replica_mgr_config rc_cfg;
	struct cluster_repl *cr;
	int rc;

	*out = NULL;
	cr = calloc(1, sizeof(*cr));
	if (!cr)
		return -ENOMEM;
	cr->cfg = cfg;
	cr->cc = cc;
	cr->local = *local;
	cr->mc = mc;
	pthread_mutex_init(&cr->zk_mu, NULL);
	pthread_mutex_init(&cr->conns_mu, NULL);
	pthread_mutex_init(&cr->cq_mu, NULL);
	pthread_mutex_init(&cr->slots_mu, NULL);
	for (int i = 0; i < cc->net.n_listeners; i++)
		if (cc->net.listeners[i].security == cc->inter_broker) {
			snprintf(cr->listener_name, sizeof(cr->listener_name), "%s",
				 cc->net.listeners[i].name);
			break;
		}
	if (cc->inter_broker == NET_SASL_PLAINTEXT) {
		cr->user = cc->jaas_user;
		cr->password = cc->jaas_password;
	}
	cr->mech = cc->inter_mech;
	rc_cfg = (struct replica_mgr_config){
		.broker_id = cfg->broker_id,
		.replica_lag_time_max_ms = cc->replica_lag_time_max_ms,
		.min_insync_replicas = cc->min_insync_replicas,
		.unclean_restart = local->unclean,
		.logs = { logs_open, logs_close, cr, logs_has, logs_min_isr },
		.isr = { isr_write, isr_read, cr },
		.endpoint = endpoint,
		.endpoint_arg = cr,
		.eligible = on_eligible,
		.ineligible = is_ineligible,
		.eligible_arg = cr,
		.states_changed = cr->local.topics.states_changed,
		.states_changed_arg = cr->local.topics.arg,
		.tick_thread = true,
		.log_dir = cfg->data_dir,
		.log_dir_failed = log_dir_failed,
		.log_dir_arg = cr,
	};
	fetcher_config_default(&rc_cfg.fetch);
	rc_cfg.fetch.max_wait_ms = cc->replica_fetch_wait_max_ms;
	rc_cfg.fetch.min_bytes = cc->replica_fetch_min_bytes;
	rc_cfg.fetch.request_timeout_ms = cc->replica_socket_timeout_ms;
	rc_cfg.fetch.backoff_ms = cc->replica_fetch_backoff_ms;
	rc_cfg.fetch.partition_max_bytes = cc->replica_fetch_max_bytes;
	rc_cfg.fetch.sasl_user = cr->user;
	rc_cfg.fetch.sasl_password = cr->password;
	rc_cfg.fetch.sasl_mech = cr->mech;
	rc_cfg.fetch.throttle = local->throttle ? &local->throttle->follower : NULL;
	rc_cfg.fetch.before_append = fetch_lines_fix;
	rc_cfg.fetch.before_append_arg = cr;
	rc_cfg.fetch.after_cut = fetch_cut;
	rc_cfg.fetch.after_cut_arg = cr;
	rc_cfg.fetch.after_append = fetch_appended;
	rc_cfg.fetch.after_append_arg = cr;
	rc = ineligible_new(&cr->inel);
	if (rc == 0 && local->unclean && local->m)
		rc = inel_fill(cr);
	if (rc == 0)
		rc = replica_mgr_new(&rc_cfg, &cr->rm);
	if (rc == 0)
		rc = fetch_serve_new(replica_mgr_lookup, cr->rm, NULL, &cr->fs);
	if (rc == 0)
		rc = fetch_serve_set_sessions(cr->fs, cc->fetch_session_cache_slots,
					      cc->fetch_session_eviction_ms);
	if (rc < 0) {
		cluster_repl_free(cr);
		return rc;
	}
	replica_mgr_set_fetch_serve(cr->rm, cr->fs);
	fetch_serve_set_replica_user(cr->fs, cc->jaas_user);
	fetch_serve_set_known(cr->fs, replica_mgr_known, cr->rm);
	fetch_serve_set_selector(cr->fs, (enum replica_selector)cc->replica_selector, replica_rack,
				 cr);
	if (local->throttle)
		fetch_serve_set_throttle(cr->fs, &local->throttle->leader);
	cr->ctl_cfg = (struct controller_config){
		.broker_id = cfg->broker_id,
		.default_replication_factor = cc->default_replication_factor,
		.unclean_leader_election_enable = cc->unclean_leader_election,
		.auto_leader_rebalance_enable = cc->auto_leader_rebalance,
		.leader_imbalance_per_broker_percentage = cc->leader_imbalance_pct,
		.leader_imbalance_check_interval_seconds = (int32_t)cc->leader_imbalance_check_s,
		.controlled_shutdown_enable = cc->controlled_shutdown,
	};
	atomic_init(&cr->unclean_default, cc->unclean_leader_election);
	*out = cr;
	return 0;
}

void cluster_repl_set_client_quotas(struct cluster_repl *cr, struct client_quotas *q)
{
	fetch_serve_set_client_quotas(cr->fs, q);
}

int cluster_repl_register(struct cluster_repl *cr, struct net_server *srv)
{
	int rc = fetch_serve_register(cr->fs, srv);

	cr->os = (struct offsets_serve){ replica_mgr_lookup, cr->rm, replica_mgr_known, cr->rm };
	if (rc == 0)
		rc = offsets_serve_register(&cr->os, srv);
	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_LEADER_AND_ISR, lisr_handler, cr);
	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_UPDATE_METADATA, um_handler, cr);
	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_STOP_REPLICA, stop_handler, cr);
	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_CONTROLLED_SHUTDOWN, cs_handler, cr);
	return rc;
}

void cluster_repl_set_zk(struct cluster_repl *cr, struct zkc *zk)
{
	pthread_mutex_lock(&cr->zk_mu);
	cr->zk = zk;
	pthread_mutex_unlock(&cr->zk_mu);
	if (zk && cr->ctl)
		controller_reconnect(cr->ctl, zk);
}

void cluster_repl_topic_config_changed(struct cluster_repl *cr)
{
	struct controller *ctl = cr ? ctl_get(cr) : NULL;

	if (ctl)
		controller_topic_config_changed(ctl);
}

void cluster_repl_unclean_default(struct cluster_repl *cr, bool on)
{
	struct controller *ctl;

	if (!cr)
		return;
	/* Kept for a controller started later (cluster_repl_start_controller
	 * copies it), and told to a running one. */
	atomic_store(&cr->unclean_default, on);
	ctl = ctl_get(cr);
	if (ctl)
		controller_set_unclean_default(ctl, on);
}

void cluster_repl_session_event(struct cluster_repl *cr, enum zkc_session ev)
{
	struct controller *ctl = cr ? ctl_get(cr) : NULL;

	if (ctl)
		controller_session_event(ctl, ev);
}

void cluster_repl_set_broker_epoch(struct cluster_repl *cr, int64_t epoch)
{
	atomic_store(&cr->broker_epoch, epoch);
	replica_mgr_set_broker_epoch(cr->rm, epoch);
}

void cluster_repl_channel(struct cluster_repl *cr, struct controller_channel *ch)
{
	*ch = (struct controller_channel){ .leader_and_isr = ch_lisr,
					   .update_metadata = ch_um,
					   .stop_replica = ch_stop,
					   .arg = cr };
}

int cluster_repl_start_controller(struct cluster_repl *cr)
{
	struct controller_channel ch;
	struct controller *ctl;
	struct zkc *zk;
	int rc;

	cluster_repl_channel(cr, &ch);
	pthread_mutex_lock(&cr->zk_mu);
	zk = cr->zk;
	pthread_mutex_unlock(&cr->zk_mu);
	if (!zk)
		return -ENOTCONN;
	rc = ctrl_queue_new(&ch, &cr->cq);
	if (rc < 0)
		return rc;
	ctrl_queue_channel(cr->cq, &ch);
	cr->ctl_cfg.unclean_leader_election_enable = atomic_load(&cr->unclean_default);
	rc = controller_start(zk, &cr->ctl_cfg, &ch, &ctl);
	if (rc < 0) {
		ctrl_queue_free(cr->cq, 0);
		cr->cq = NULL;
		return rc;
	}
	/* Published whole, with cq: the ZooKeeper session watcher and the
	 * listener, running already, read it (ctl_get). */
	__atomic_store_n(&cr->ctl, ctl, __ATOMIC_RELEASE);
	/* A dynamic change read between the copy above and the publication. */
	controller_set_unclean_default(ctl, atomic_load(&cr->unclean_default));
	return rc;
}

void cluster_repl_stop(struct cluster_repl *cr)
{
	struct ctrl_queue *cq;

	if (!cr || cr->stopped)
		return;
	__atomic_store_n(&cr->stopped, true, __ATOMIC_RELEASE);
	replica_mgr_stop_following(cr->rm);
	controlled_shutdown(cr);
	if (cr->ctl)
		controller_stop(cr->ctl);
	/* Nothing queues any more: what the controller queued last (its own
	 * leaderships moved away) goes out first, within a request's time.
	 * Taken out under cq_mu: a ControlledShutdown answered just before
	 * the controller stopped may still flush it. */
	pthread_mutex_lock(&cr->cq_mu);
	cq = cr->cq;
	cr->cq = NULL;
	pthread_mutex_unlock(&cr->cq_mu);
	ctrl_queue_free(cq, CHANNEL_REQUEST_MS);
	fetch_serve_stop(cr->fs);
}

void cluster_repl_close_logs(struct cluster_repl *cr)
{
	if (!cr)
		return;
	if (cr->rm)
		cr->log_dir_err = replica_mgr_log_dir_failure(cr->rm);
	replica_mgr_free(cr->rm);
	cr->rm = NULL;
}

int cluster_repl_log_dir_failure(struct cluster_repl *cr)
{
	if (!cr)
		return 0;
	return cr->rm ? replica_mgr_log_dir_failure(cr->rm) : cr->log_dir_err;
}

void cluster_repl_free(struct cluster_repl *cr)
{
	if (!cr)
		return;
	cluster_repl_stop(cr);
	cluster_repl_close_logs(cr);
	controller_free(cr->ctl);
	fetch_serve_free(cr->fs);
	for (int i = 0; i < cr->n_conns; i++)
		net_client_close(cr->conns[i].c);
	free(cr->conns);
	pthread_mutex_destroy(&cr->conns_mu);
	pthread_mutex_destroy(&cr->cq_mu);
	ineligible_free(cr->inel);
	pthread_mutex_destroy(&cr->zk_mu);
	pthread_mutex_destroy(&cr->slots_mu);
	free(cr);
}

int cluster_repl_ineligible(struct cluster_repl *cr, struct zk_tp **out)
{
	*out = NULL;
	return cr && cr->inel ? ineligible_copy(cr->inel, out) : 0;
}

void cluster_repl_set_ineligible_listener(struct cluster_repl *cr, void (*fn)(void *arg), void *arg)
{
	cr->inel_changed = fn;
	cr->inel_arg = arg;
}

void cluster_repl_set_leaders_listener(struct cluster_repl *cr, void (*fn)(void *arg), void *arg)
{
	cr->leaders_changed = fn;
	cr->leaders_arg = arg;
}

void cluster_repl_set_replica_state_listener(struct cluster_repl *cr,
					     void (*fn)(void *arg, const char *topic,
							int32_t partition),
					     void *arg)
{
	cr->replica_state = fn;
	cr->replica_state_arg = arg;
}

struct replica_mgr *cluster_repl_replicas(struct cluster_repl *cr)
{
	return cr ? cr->rm : NULL;
}

/* ---- topics ---- */

static bool topic_ready(struct cluster_repl *cr, const char *topic, int n)
{
	if (replica_mgr_partitions(cr->rm, topic) < n)
		return false;
	for (int p = 0; p < n; p++) {
		struct partition_state st;

		if (replica_mgr_partition_meta(cr->rm, topic, p, &st) < 0 || st.leader < 0)
			return false;
	}
	return true;
}

/* Whether this broker is stopping: a request's wait for the controller
 * ends then. Its listener stops only once its requests are answered, and
 * its ZooKeeper session (the /controller znode, when it held the office)
 * closes after that: a wait to the end of request.timeout.ms would keep
 * the cluster without a controller all that time, where Kafka's
 * shutdown leaves its delayed CreateTopics and DeleteTopics unanswered
 * and goes on. */
static bool repl_stopping(struct cluster_repl *cr)
{
	return __atomic_load_n(&cr->stopped, __ATOMIC_ACQUIRE);
}

/* The controller creates the states and tells every broker; the topic
 * (or its new partitions) is usable here once our metadata has a leader
 * for each: 0, -ETIMEDOUT at end (monotonic ms), or -ESHUTDOWN once this
 * broker stops (the controller carries it out all the same). */
static int topic_wait_ready(struct cluster_repl *cr, const char *topic, int n, int64_t end)
{
	while (!topic_ready(cr, topic, n)) {
		if (repl_stopping(cr))
			return -ESHUTDOWN;
		if (now_mono_ms() >= end)
			return -ETIMEDOUT;
		pause_ms(CREATE_POLL_MS);
	}
	return 0;
}

int cluster_repl_request_topic(struct cluster_repl *cr, const char *topic, int n_partitions,
			       int replication_factor, const struct zk_config *config,
			       char *topic_id)
{
	int rc;

	pthread_mutex_lock(&cr->zk_mu);
	rc = cr->zk ? controller_create_topic(cr->zk, &cr->ctl_cfg, topic, n_partitions,
					      replication_factor, config, topic_id)
		    : -ENOTCONN;
	pthread_mutex_unlock(&cr->zk_mu);
	return rc;
}

int cluster_repl_create_topic(struct cluster_repl *cr, const char *topic, int n_partitions,
			      int replication_factor, const struct zk_config *config,
			      int64_t timeout_ms, char *topic_id)
{
	int64_t end = now_mono_ms() + timeout_ms;
	int rc = cluster_repl_request_topic(cr, topic, n_partitions, replication_factor, config,
					    topic_id);

	return rc < 0 ? rc : topic_wait_ready(cr, topic, n_partitions, end);
}

int cluster_repl_add_partitions(struct cluster_repl *cr, const char *topic, int n_partitions,
				int64_t timeout_ms)
{
	int64_t end = now_mono_ms() + timeout_ms;
	int rc = -ESTALE;

	pthread_mutex_lock(&cr->zk_mu);
	for (int tries = 0; rc == -ESTALE && tries < 5; tries++)
		rc = cr->zk ? controller_add_partitions(cr->zk, topic, n_partitions) : -ENOTCONN;
	pthread_mutex_unlock(&cr->zk_mu);
	return rc < 0 ? rc : topic_wait_ready(cr, topic, n_partitions, end);
}

int cluster_repl_with_zk(struct cluster_repl *cr, int (*fn)(struct zkc *zk, void *arg), void *arg)
{
	int rc;

	pthread_mutex_lock(&cr->zk_mu);
	rc = cr->zk ? fn(cr->zk, arg) : -ENOTCONN;
	pthread_mutex_unlock(&cr->zk_mu);
	return rc;
}

/* Builds a config znode's new content from its old one (empty when there
 * is none, or one that does not decode: replaced whole) into merged: 0 to
 * write it, 1 to write nothing, or -errno (nothing written). */
typedef int (*config_merge_fn)(const void *arg, const struct zk_config *old,
			       struct zk_config *merged);

/* Read, merge, write at the version read, of a topic's (broker false) or
 * a broker's config znode. A concurrent writer's change is never lost,
 * only merged over again (5 tries): the merge decides against the
 * znode's content as it is when the write succeeds. */
static int config_merge_write(struct cluster_repl *cr, bool broker, const char *name,
			      config_merge_fn merge, const void *arg)
{
	char why[ZK_WHY_LEN] = "";
	int rc = -ESTALE;

	pthread_mutex_lock(&cr->zk_mu);
	for (int tries = 0; rc == -ESTALE && tries < 5; tries++) {
		struct zk_config old = { 0 }, merged = { 0 };
		int32_t version = ZKC_ANY_VERSION;

		if (!cr->zk) {
			rc = -ENOTCONN;
			break;
		}
		rc = broker ? zkmeta_broker_config(cr->zk, name, &old, &version, why)
			    : zkmeta_topic_config(cr->zk, name, &old, &version, why);
		if (rc == -ENOENT || rc == -EBADMSG) {
			/* none yet, or one we cannot read: replaced whole */
			zk_config_clear(&old);
			version = ZKC_ANY_VERSION;
			rc = 0;
		}
		if (rc == 0)
			rc = merge(arg, &old, &merged);
		if (rc == 0)
			rc = broker ? zkmeta_set_broker_config(cr->zk, name, &merged, version)
				    : zkmeta_set_topic_config(cr->zk, name, &merged, version);
		zk_config_clear(&old);
		zk_config_clear(&merged);
	}
	pthread_mutex_unlock(&cr->zk_mu);
	return rc > 0 ? 0 : rc;
}

/* Which keys of an entity's old config a merge keeps (those the new set
 * does not name): keep(arg, key). */
typedef bool (*config_keep_fn)(const void *arg, const char *key);

/* The usual merge: set's keys, then the old keys not in set that keep
 * keeps. */
struct merge_keep {
	const struct zk_config *set;
	config_keep_fn keep;
	const void *arg;
};

static int merge_keep(const void *arg, const struct zk_config *old, struct zk_config *merged)
{
	const struct merge_keep *m = arg;
	const struct zk_config *set = m->set;
	int rc = 0;

	for (int i = 0; rc == 0 && i < set->n; i++)
		rc = zk_config_put(merged, set->keys[i], strlen(set->keys[i]), set->values[i],
				   strlen(set->values[i]));
	for (int i = 0; rc == 0 && i < old->n; i++)
		if (!zk_config_get(set, old->keys[i]) && m->keep(m->arg, old->keys[i]))
			rc = zk_config_put(merged, old->keys[i], strlen(old->keys[i]),
					   old->values[i], strlen(old->values[i]));
	return rc;
}

/* A topic's znode keeps what the new overrides do not name of: owner,
 * mode, mqfs.lines.fixed, keys of Kafka's mqfs does not know; with
 * keep_settings (arg non-NULL) the topic's settings too. */
static bool topic_keep(const void *arg, const char *key)
{
	return arg || !topic_config_broker_key(key);
}

/* The line settings of a topic's znode. */
static const char *const line_keys[] = { "key.separator", "line.format" };

/* Whether old and lines differ in a line setting that old names. */
static bool lines_differ(const struct zk_config *old, const struct zk_config *lines)
{
	for (int i = 0; i < 2; i++) {
		const char *o = zk_config_get(old, line_keys[i]),
			   *l = zk_config_get(lines, line_keys[i]);

		if (o && l && strcmp(o, l) != 0)
			return true;
	}
	return false;
}

/* Puts the line settings into merged: those of from where it names them,
 * else those of lines. */
static int lines_put(struct zk_config *merged, const struct zk_config *from,
		     const struct zk_config *lines)
{
	int rc = 0;

	for (int i = 0; rc == 0 && i < 2; i++) {
		const char *v = zk_config_get(from, line_keys[i]);

		if (!v)
			v = zk_config_get(lines, line_keys[i]);
		if (v)
			rc = zk_config_put(merged, line_keys[i], strlen(line_keys[i]), v,
					   strlen(v));
	}
	return rc;
}

/* A .config write's merge: its overrides, the owner and other keys kept,
 * and the line settings by the rule of cluster_repl_set_topic_config. */
struct merge_settings {
	struct merge_keep keep;
	const struct zk_config *lines;
	bool lines_change;
};

static int merge_settings(const void *arg, const struct zk_config *old, struct zk_config *merged)
{
	const struct merge_settings *m = arg;
	bool fixed = zk_config_get(old, ZK_LINES_FIXED) != NULL;
	int rc;

	if (m->lines_change && fixed && lines_differ(old, m->lines))
		return -EBUSY;
	rc = merge_keep(&m->keep, old, merged);
	if (rc == 0 && m->lines)
		rc = lines_put(merged, m->lines_change ? m->lines : old, m->lines);
	return rc;
}

int cluster_repl_set_topic_config(struct cluster_repl *cr, const char *topic,
				  const struct zk_config *overrides, const struct zk_config *lines,
				  bool lines_change)
{
	struct merge_settings m = { { overrides, topic_keep, NULL }, lines, lines_change };

	return config_merge_write(cr, false, topic, merge_settings, &m);
}

int cluster_repl_set_topic_owner(struct cluster_repl *cr, const char *topic,
				 const struct zk_config *owner)
{
	struct merge_keep m = { owner, topic_keep, cr };

	return config_merge_write(cr, false, topic, merge_keep, &m);
}

/* The merge of cluster_repl_topic_lines_fix: nothing when old is fixed,
 * else old with the line settings (ours, or old's where it names them
 * and ours do not win) and ZK_LINES_FIXED. *out: the settings the znode
 * holds after the write. */
struct merge_fix {
	const struct zk_config *ours;
	bool ours_win;
	struct zk_config *out;
};

static int merge_fix(const void *arg, const struct zk_config *old, struct zk_config *merged)
{
	const struct merge_fix *m = arg;
	bool fixed = zk_config_get(old, ZK_LINES_FIXED) != NULL;
	int rc = 0;

	zk_config_clear(m->out);
	for (int i = 0; rc == 0 && i < old->n; i++)
		rc = zk_config_put(merged, old->keys[i], strlen(old->keys[i]), old->values[i],
				   strlen(old->values[i]));
	if (rc == 0)
		rc = lines_put(merged, m->ours_win && !fixed ? m->ours : old, m->ours);
	if (rc == 0)
		rc = lines_put(m->out, merged, m->ours);
	if (rc == 0 && !fixed)
		rc = zk_config_put(merged, ZK_LINES_FIXED, strlen(ZK_LINES_FIXED), "true", 4);
	return rc < 0 ? rc : fixed ? 1 : 0;
}

int cluster_repl_topic_lines_fix(struct cluster_repl *cr, const char *topic,
				 const struct zk_config *ours, bool ours_win, struct zk_config *out)
{
	struct merge_fix m = { ours, ours_win, out };
	int rc = config_merge_write(cr, false, topic, merge_fix, &m);

	if (rc < 0)
		zk_config_clear(out);
	return rc;
}

struct broker_keep {
	const char *const *del;
	int n_del;
	bool replace;
};

/* A broker's znode keeps, unless replaced whole, the keys not deleted. */
static bool broker_keep(const void *arg, const char *key)
{
	const struct broker_keep *k = arg;

	for (int j = 0; j < k->n_del; j++)
		if (!strcmp(k->del[j], key))
			return false;
	return !k->replace;
}

int cluster_repl_set_broker_config(struct cluster_repl *cr, const char *name,
				   const struct zk_config *set, const char *const *del, int n_del,
				   bool replace)
{
	struct broker_keep k = { del, n_del, replace };
	struct merge_keep m = { set, broker_keep, &k };

	return config_merge_write(cr, true, name, merge_keep, &m);
}

void cluster_repl_topic_gone(struct cluster_repl *cr, const char *topic)
{
	if (cr && cr->rm)
		(void)replica_mgr_drop_topic(cr->rm, topic);
}

int cluster_repl_delete_topic(struct cluster_repl *cr, const char *topic)
{
	int rc;

	pthread_mutex_lock(&cr->zk_mu);
	rc = cr->zk ? zkmeta_request_delete_topic(cr->zk, topic) : -ENOTCONN;
	pthread_mutex_unlock(&cr->zk_mu);
	return rc == -EEXIST ? 0 : rc;
}

/* Kafka's DeleteTopics answers once the controller has deleted the topic
 * (its DelayedDeleteTopics); until then /brokers/topics/<t> is there, and
 * a mkdir of the name, here or on any mount, would be EEXIST right after
 * an rmdir that succeeded. The controller removes the request's znode in
 * the transaction that removes the topic's, so its going is the end. A
 * ZooKeeper error is polled through like a pending request: the deletion
 * was asked for and goes on whatever this wait sees, also when it ends
 * with -ESHUTDOWN, this broker stopping. */
int cluster_repl_delete_topic_wait(struct cluster_repl *cr, const char *topic, int64_t timeout_ms)
{
	int64_t end = now_mono_ms() + timeout_ms;
	int rc;

	for (;;) {
		pthread_mutex_lock(&cr->zk_mu);
		rc = cr->zk ? zkmeta_delete_topic_pending(cr->zk, topic) : -ENOTCONN;
		pthread_mutex_unlock(&cr->zk_mu);
		if (rc == 0)
			return 0;
		if (repl_stopping(cr))
			return -ESHUTDOWN;
		if (now_mono_ms() >= end)
			return -ETIMEDOUT;
		pause_ms(CREATE_POLL_MS);
	}
}

/* ---- views ---- */

void cluster_repl_state_text(struct cluster_repl *cr, FILE *f)
{
	struct controller_info ci = { 0 };
	struct replica_mgr_stats st;

	if (cr->ctl)
		controller_get_info(cr->ctl, &ci);
	replica_mgr_get_stats(cr->rm, &st);
	/* The controller epoch: the office's own while this broker holds it,
	 * else the newest a controller request carried (-1: none yet). */
	fprintf(f,
		"controller.epoch=%d\ncontroller.active=%s\nreplicas=%d\nreplicas.leader=%d\n"
		"replicas.follower=%d\nreplica.fetchers=%d\npartitions.under_replicated=%d\n",
		ci.active ? (int)ci.epoch : (int)st.controller_epoch, ci.active ? "yes" : "no",
		st.partitions, st.leaders, st.followers, st.fetchers, st.under_replicated);
	if (ci.active)
		fprintf(f, "partitions.offline=%d\n", (int)ci.offline_partitions);
	/* log.dirs holds one directory; offline after a storage failure
	 * until the broker restarts. */
	if (st.log_dir_err)
		fprintf(f, "log.dir=offline (%s): replicas offline until a restart\n",
			strerror(-st.log_dir_err));
	else
		fprintf(f, "log.dir=online\n");
}

/* One row of cluster_repl_metrics_text. */
struct repl_metric {
	const char *name, *type, *help;
	int64_t v;
};

/* A replication throttle's measured rate, bytes/s (0: none). */
static int64_t throttled_rate(struct cluster_repl *cr, bool leader)
{
	struct repl_throttle *t = cr->local.throttle;

	if (!t)
		return 0;
	return (int64_t)throttle_quota_rate(leader ? &t->leader : &t->follower, now_mono_ms());
}

void cluster_repl_metrics_text(struct cluster_repl *cr, FILE *f)
{
	struct controller_info ci = { 0 };
	struct replica_mgr_stats st;
	struct fetch_serve_follower_stats fst;

	if (cr->ctl)
		controller_get_info(cr->ctl, &ci);
	replica_mgr_get_stats(cr->rm, &st);
	fetch_serve_follower_stats(cr->fs, &fst);
	const struct repl_metric rows[] = {
		{ "mqfs_replica_leaders", "gauge", "Local replicas that lead their partition.",
		  st.leaders },
		{ "mqfs_replica_followers", "gauge", "Local replicas that follow a leader.",
		  st.followers },
		{ "mqfs_under_replicated_partitions", "gauge",
		  "Partitions this broker leads whose ISR is smaller than their replicas "
		  "(Kafka's UnderReplicatedPartitions).",
		  st.under_replicated },
		{ "mqfs_offline_partitions", "gauge",
		  "Partitions without a leader, as the controller sees them; 0 on the other "
		  "brokers (Kafka's OfflinePartitionsCount).",
		  ci.active ? ci.offline_partitions : 0 },
		{ "mqfs_offline_log_directories", "gauge",
		  "Log directories of this broker taken offline by a storage failure, until "
		  "it restarts (Kafka's OfflineLogDirectoryCount).",
		  st.log_dir_err ? 1 : 0 },
		{ "mqfs_isr_writes_total", "counter", "ISR changes this broker wrote to ZooKeeper.",
		  st.isr_writes },
		{ "mqfs_isr_shrinks_total", "counter",
		  "ISR changes of partitions this broker leads that removed replicas, its own "
		  "or the controller's (Kafka's IsrShrinksPerSec).",
		  st.isr_shrinks },
		{ "mqfs_isr_expands_total", "counter",
		  "ISR changes of partitions this broker leads that added a replica (Kafka's "
		  "IsrExpandsPerSec).",
		  st.isr_expands },
		{ "mqfs_leader_elections_total", "counter",
		  "Partition leaders this broker elected as controller, a new leader each "
		  "(Kafka's LeaderElectionRateAndTimeMs count).",
		  ci.leader_elections },
		{ "mqfs_unclean_leader_elections_total", "counter",
		  "Of those, leaders taken from outside the ISR "
		  "(unclean.leader.election.enable; Kafka's UncleanLeaderElectionsPerSec).",
		  ci.unclean_elections },
		{ "mqfs_replica_leadership_changes_total", "counter",
		  "Times a local replica became its partition's leader or stopped leading it.",
		  st.leadership_changes },
		{ "mqfs_replica_fetch_bytes_in_total", "counter",
		  "Record batch bytes this broker's followers fetched and appended.",
		  st.fetch_bytes_in },
		{ "mqfs_replica_fetch_requests_total", "counter",
		  "Fetch requests this broker's followers sent and had answered (Kafka's "
		  "FetcherStats RequestsPerSec).",
		  st.fetch_requests },
		{ "mqfs_replica_fetch_bytes_out_total", "counter",
		  "Record batch bytes this broker served as leader to followers' fetches.",
		  fetch_serve_replica_bytes_out(cr->fs) },
		{ "mqfs_follower_consumer_fetches_total", "counter",
		  "Consumer Fetch requests (v11+) this broker answered from a replica it "
		  "follows, up to its own high watermark (KIP-392).",
		  fst.consumer_fetches },
		{ "mqfs_follower_consumer_fetch_bytes_total", "counter",
		  "Record batch bytes of those answers.", fst.consumer_bytes_out },
		{ "mqfs_preferred_read_replica_answers_total", "counter",
		  "Partitions of consumers' Fetches this broker answered as leader with a "
		  "preferred read replica (replica.selector.class).",
		  fst.preferred_answers },
		{ "mqfs_leader_replication_throttled_byte_rate", "gauge",
		  "Bytes/s of the throttled replicas' records this broker sent as leader, as "
		  "its leader replication throttle measures them (Kafka's LeaderReplication "
		  "byte-rate).",
		  throttled_rate(cr, true) },
		{ "mqfs_follower_replication_throttled_byte_rate", "gauge",
		  "Bytes/s of the throttled replicas' records this broker's followers "
		  "fetched, as its follower replication throttle measures them (Kafka's "
		  "FollowerReplication byte-rate).",
		  throttled_rate(cr, false) },
		{ "mqfs_replica_max_lag_messages", "gauge",
		  "The largest lag in records (leader's LEO - follower's LEO) over the "
		  "followers of the partitions this broker leads.",
		  st.max_lag },
		{ "mqfs_controller_requests_total", "counter", "Controller requests sent.",
		  atomic_load(&cr->sent) },
		{ "mqfs_controller_request_errors_total", "counter",
		  "Controller requests that failed.", atomic_load(&cr->send_errors) },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %" PRId64 "\n", rows[i].name,
			rows[i].help, rows[i].name, rows[i].type, rows[i].name, rows[i].v);
}

/* ---- the produce path and the views ---- */

/* The local replica of topic-partition for the produce path's checks
 * (referenced), or -ENXIO (the log directory failed) or -EREMOTE. */
static int produce_replica(struct cluster_repl *cr, const char *topic, int partition,
			   struct partition **p)
{
	/* Between the failure and the tick's marking every replica is
	 * offline already (replica_mgr.c, step a); this covers a replica
	 * opened meanwhile too. */
	if (replica_mgr_log_dir_failure(cr->rm))
		return -ENXIO;
	*p = replica_mgr_get(cr->rm, topic, partition);
	return *p ? 0 : -EREMOTE; /* no replica here: not the leader either */
}

int cluster_repl_append_check(struct cluster_repl *cr, const char *topic, int partition, int acks,
			      int32_t min_insync_replicas, int32_t *epoch)
{
	struct partition *p;
	int rc = produce_replica(cr, topic, partition, &p);

	if (rc)
		return rc;
	rc = partition_check_append_isr(p, acks, min_insync_replicas);
	if (rc == 0)
		rc = partition_leader_epoch(p, epoch);
	partition_unref(p);
	return rc;
}

bool cluster_repl_follows(struct cluster_repl *cr, const char *topic, int partition)
{
	struct partition_info info;
	struct partition *p;

	if (produce_replica(cr, topic, partition, &p))
		return false;
	partition_get_info(p, &info);
	partition_unref(p);
	return info.role == PARTITION_FOLLOWER && !info.offline;
}

int cluster_repl_commit_check(struct cluster_repl *cr, const char *topic, int partition,
			      int32_t min_insync_replicas)
{
	struct partition *p;
	int rc = produce_replica(cr, topic, partition, &p);

	if (rc)
		return rc;
	rc = partition_check_enough_replicas(p, min_insync_replicas);
	partition_unref(p);
	return rc;
}

int cluster_repl_storage_failed(struct cluster_repl *cr, const char *topic, int partition, int err)
{
	return replica_mgr_storage_failed(cr->rm, topic, partition, err);
}

void cluster_repl_appended(struct cluster_repl *cr, const char *topic, int partition)
{
	struct partition *p = replica_mgr_get(cr->rm, topic, partition);

	if (p)
		partition_maybe_increment_leader_hw(p, now_mono_ms());
	partition_unref(p);
	/* The follower fetches the append made ready leave from this thread.
	 * Not for the internal topics: the group store appends its commits
	 * to __consumer_offsets under group.mu, and a scan takes partition
	 * and log locks; those fetches keep the purgatory's thread. */
	if (strncmp(topic, "__", 2) != 0)
		replica_mgr_kick_fetches(cr->rm);
}

bool cluster_repl_hosts(struct cluster_repl *cr, const char *topic, int partition)
{
	return logmgr_is_open(cr->local.m, topic, partition);
}

bool cluster_repl_replica_reads(struct cluster_repl *cr, const char *topic, int partition,
				int64_t *hw)
{
	struct partition *p;
	struct partition_info info;
	bool out;

	*hw = -1;
	if (!cluster_repl_hosts(cr, topic, partition))
		return false;
	p = replica_mgr_get(cr->rm, topic, partition);
	if (!p) {
		/* A log found at the start, before the controller's first
		 * LeaderAndIsr: read as it is, as before any replication. */
		*hw = INT64_MAX;
		return true;
	}
	out = partition_out_of_isr(p, cr->cfg->broker_id);
	partition_get_info(p, &info);
	partition_unref(p);
	*hw = info.offsets.hw;
	return !out;
}

void cluster_repl_commit_lag(struct cluster_repl *cr, const char *topic, int partition, char *buf,
			     size_t len)
{
	struct partition *p = cr ? replica_mgr_get(cr->rm, topic, partition) : NULL;
	struct partition_info info;
	int64_t now = now_mono_ms();
	size_t n = 0;

	if (len)
		buf[0] = '\0';
	if (!p)
		return;
	partition_get_info(p, &info);
	partition_unref(p);
	if (info.role != PARTITION_LEADER || len == 0)
		return;
	n += (size_t)snprintf(buf + n, len - n, "; ISR");
	for (int i = 0; i < info.n_isr && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%c%d", i ? ',' : ' ', (int)info.isr[i]);
	for (int i = 0; i < info.n_followers && n < len; i++) {
		const struct partition_replica *r = &info.followers[i];

		n += (size_t)snprintf(
			buf + n, len - n, "; broker %d at %lld, last fetch %lld ms ago",
			(int)r->broker_id, (long long)r->log_end_offset,
			r->last_fetch_ms > 0 ? (long long)(now - r->last_fetch_ms) : -1LL);
	}
}

bool cluster_repl_heard_controller(struct cluster_repl *cr)
{
	return cr && replica_mgr_heard_controller(cr->rm);
}

bool cluster_repl_is_controller(struct cluster_repl *cr)
{
	struct controller *ctl = cr ? ctl_get(cr) : NULL;
	struct controller_info ci = { 0 };

	if (ctl)
		controller_get_info(ctl, &ci);
	return ci.active;
}

int cluster_repl_partition_state(struct cluster_repl *cr, const char *topic, int partition,
				 struct partition_state *st)
{
	struct partition *p = replica_mgr_get(cr->rm, topic, partition);
	struct partition_info info;
	int rc = replica_mgr_partition_meta(cr->rm, topic, partition, st);

	if (p) {
		partition_get_info(p, &info);
		partition_unref(p);
	}
	/* Our own replica knows the newest state it was given, unless it is
	 * offline (its log directory failed): it takes no state any more,
	 * and the controller's UpdateMetadata names the leaders after it.
	 * The offline replicas are the controller's in either case. */
	if (p && !info.offline) {
		int n_off = rc == 0 ? st->n_offline : 0;
		int32_t off[PARTITION_MAX_REPLICAS];

		memcpy(off, st->offline, sizeof(off[0]) * (size_t)n_off);
		memset(st, 0, sizeof(*st));
		st->leader = info.leader;
		st->leader_epoch = info.leader_epoch;
		st->n_replicas = info.n_replicas;
		memcpy(st->replicas, info.replicas, sizeof(st->replicas));
		st->n_isr = info.n_isr;
		memcpy(st->isr, info.isr, sizeof(st->isr));
		st->n_offline = n_off;
		memcpy(st->offline, off, sizeof(off[0]) * (size_t)n_off);
		return 0;
	}
	return rc;
}

int cluster_repl_partition_cells(struct cluster_repl *cr, const char *topic, int partition,
				 char leader[24], char epoch[24], char replicas[24], char isr[24])
{
	struct partition_state st;
	int rc = cluster_repl_partition_state(cr, topic, partition, &st);

	if (rc < 0) {
		snprintf(leader, 24, "-");
		snprintf(epoch, 24, "-");
		snprintf(replicas, 24, "[]");
		snprintf(isr, 24, "[]");
		return rc;
	}
	snprintf(leader, 24, "%d", (int)st.leader);
	snprintf(epoch, 24, "%d", (int)st.leader_epoch);
	zk_ids_text(replicas, 24, st.replicas, st.n_replicas);
	zk_ids_text(isr, 24, st.isr, st.n_isr);
	return 0;
}

void cluster_repl_partition_followers(struct cluster_repl *cr, const char *topic, int partition,
				      FILE *f)
{
	struct partition *p = replica_mgr_get(cr->rm, topic, partition);
	struct partition_state st;
	struct partition_info info = { .offline = false };
	int64_t now = now_mono_ms();

	if (p) {
		partition_get_info(p, &info);
		partition_unref(p);
	}
	/* One line per replica at most: an offline one (this broker's own
	 * once its log directory failed, those the controller names, which
	 * replica_mgr keeps without repeats) gets no other line. */
	if (info.offline)
		fprintf(f, "replica %d %d: offline (this broker's log directory failed)\n",
			partition, (int)cr->cfg->broker_id);
	/* The replicas the controller counts offline (UpdateMetadata). */
	if (replica_mgr_partition_meta(cr->rm, topic, partition, &st) < 0)
		st.n_offline = 0;
	for (int i = 0; i < st.n_offline; i++)
		if (!info.offline || st.offline[i] != cr->cfg->broker_id)
			fprintf(f,
				"replica %d %d: offline (its broker is gone or cannot "
				"host it)\n",
				partition, (int)st.offline[i]);
	if (!p)
		return;
	if (info.role == PARTITION_FOLLOWER && !info.leader_eligible)
		fprintf(f,
			"replica %d %d: not eligible as leader (restarted without a clean "
			"shutdown, not yet back in the ISR)\n",
			partition, (int)cr->cfg->broker_id);
	if (info.role != PARTITION_LEADER)
		return;
	for (int i = 0; i < info.n_followers; i++) {
		const struct partition_replica *r = &info.followers[i];
		int64_t lag = r->log_end_offset < 0
				      ? info.offsets.log_end_offset
				      : info.offsets.log_end_offset - r->log_end_offset;

		/* Its last fetch is of no use once it is offline. */
		if (partition_state_names_offline(&st, r->broker_id))
			continue;
		fprintf(f,
			"replica %d %d: leo %" PRId64 " lag %" PRId64
			" last_caught_up_ms_ago %" PRId64 "\n",
			partition, (int)r->broker_id, r->log_end_offset, lag,
			r->last_caught_up_ms > 0 ? now - r->last_caught_up_ms : -1);
	}
}

/* ---- for forwarding (forward.c) ---- */

int cluster_repl_leader_of(struct cluster_repl *cr, const char *topic, int partition,
			   int32_t *leader)
{
	struct partition *p = replica_mgr_get(cr->rm, topic, partition);
	struct partition_state st;
	int rc = 0;

	if (p) {
		struct partition_info info;

		/* Our own replica knows the newest state it was given (an
		 * offline one: none since, as cluster_repl_partition_state). */
		partition_get_info(p, &info);
		partition_unref(p);
		*leader = info.leader;
		if (!info.offline)
			return 0;
	}
	rc = replica_mgr_partition_meta(cr->rm, topic, partition, &st);
	*leader = rc == 0 ? st.leader : -1;
	return rc;
}

int cluster_repl_endpoint(struct cluster_repl *cr, int32_t id, char host[NET_MAX_HOST + 1],
			  int *port)
{
	return endpoint(cr, id, host, port);
}

int cluster_repl_connect(struct cluster_repl *cr, int32_t id, int64_t timeout_ms,
			 struct net_client **out)
{
	char host[NET_MAX_HOST + 1];
	int port, rc = endpoint(cr, id, host, &port);

	*out = NULL;
	if (rc == 0)
		rc = net_client_connect(host, port, timeout_ms, out);
	if (rc == 0 && cr->user) {
		rc = net_client_sasl(*out, cr->mech, cr->user, cr->password, timeout_ms);
		if (rc < 0) {
			net_client_close(*out);
			*out = NULL;
		}
	}
	return rc;
}

void cluster_repl_credentials(struct cluster_repl *cr, enum sasl_mech *mech, const char **user,
			      const char **password)
{
	*mech = cr->mech;
	*user = cr->user;
	*password = cr->password;
}

int cluster_repl_producer_id_block(struct cluster_repl *cr, int64_t *first, int64_t *last)
{
	int rc;

	pthread_mutex_lock(&cr->zk_mu);
	rc = cr->zk ? producer_id_block_take(cr->zk, cr->cfg->broker_id, first, last) : -ENOTCONN;
	pthread_mutex_unlock(&cr->zk_mu);
	return rc;
}
