/*
 * kafka_metadata.c — the Metadata API (3) for Kafka clients, and the
 * partition and broker lookups every client API shares (kafka_api.h).
 *
 * A Metadata response, as Kafka's KafkaApis.handleTopicMetadataRequest:
 *   brokers      every broker with an endpoint of the listener name the
 *                request came in on (advertised.listeners, else
 *                listeners; a port 0 listener shows its bound port, an
 *                empty host this machine's name);
 *   cluster_id   (v2+) ZooKeeper's /cluster/id, or a single node's own;
 *   controller   (v1+) the controller; a single node is its own;
 *   topics       all of them for a null list (v0: an empty one), internal
 *                ones ("__" names, is_internal true) only when asked by
 *                name; an unknown name is created when the request allows
 *                it (v4+, always before) and auto.create.topics.enable is
 *                true, with the broker's defaults, owned by root, mode
 *                0755 (who asked is a network peer, not a local user);
 *                else UNKNOWN_TOPIC_OR_PARTITION; an invalid name
 *                INVALID_TOPIC_EXCEPTION. Each with its topic id (v10+):
 *                the cluster's (ZooKeeper's, as every replica keeps it),
 *                zero on one node, which gives topics no ids. Asked by
 *                topic id (v12, a null name): that topic, else
 *                UNKNOWN_TOPIC_ID; a v10-v11 request with a topic id or
 *                a null name is INVALID_REQUEST for each topic, as Kafka.
 *                A v12 request with any non-zero id is answered by its
 *                ids alone, each once (a name beside an id, and an entry
 *                with none, not looked at), the unknown ones first, as
 *                Kafka's useTopicId.
 *   partitions   leader, leader epoch, replicas, ISR
 *                (kafka_partition_state: in a cluster the replication
 *                state this broker knows, as .state shows it; no leader:
 *                LEADER_NOT_AVAILABLE, as Kafka; no state yet, before
 *                the controller's first request: the same, with no
 *                replicas; after it, a topic with no partition's state:
 *                UNKNOWN_TOPIC_OR_PARTITION, not in Kafka's cache yet),
 *                and (v5+) the offline
 *                replicas: those the controller's UpdateMetadata names
 *                (a broker that cannot host its replica: its log did not
 *                open, its log directory failed, or its log is gone) and those whose
 *                broker is not registered alive (Kafka's controller
 *                sends every broker the replicas that are not online, a
 *                dead broker's among them, and kafka-topics.sh
 *                --describe shows them as Offline).
 *
 * Threads: a listener worker; the catalog and topic locks are taken by the
 * broker calls; no lock is held across the encoding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl/broker_int.h"
#include "repl/cluster.h"
#include "repl/config.h"
#include "repl/kafka_api.h"
#include "repl/kafka_authz.h"
#include "repl/metadata_cache.h"
#include "repl/partition.h"
#include "repl/zkdata.h"
#include "util/diaglog.h"

int32_t kafka_broker_id(struct kafka_api *ka)
{
	return cluster_cfg(ka->c)->broker_id;
}

int kafka_partition_log(struct topic *t, int32_t p, struct log **out)
{
	struct partition *pt;

	if (p < 0)
		return -ENOENT;
	return part_log(t, p, &pt, out);
}

int kafka_partition_state(struct kafka_api *ka, struct topic *t, int32_t p,
			  struct kafka_part_state *st)
{
	int rc = 0;

	pthread_rwlock_rdlock(&t->lock);
	if (atomic_load(&t->deleted) || p < 0 || p >= t->nparts)
		rc = -ENOENT;
	pthread_rwlock_unlock(&t->lock);
	if (rc < 0)
		return rc;
	if (broker_replicated(t->b, t->name)) {
		/* What the cluster says, so that clients find the leader from
		 * any broker and Produce judges leadership and the ISR as a
		 * mount write does. */
		struct partition_state ps;

		rc = cluster_partition_state(ka->c, t->name, p, &ps);
		if (rc < 0)
			return rc;
		st->leader = ps.leader;
		st->leader_epoch = ps.leader_epoch;
		st->n_replicas =
			ps.n_replicas < KAFKA_MAX_REPLICAS ? ps.n_replicas : KAFKA_MAX_REPLICAS;
		st->n_isr = ps.n_isr < KAFKA_MAX_REPLICAS ? ps.n_isr : KAFKA_MAX_REPLICAS;
		memcpy(st->replicas, ps.replicas, (size_t)st->n_replicas * sizeof(int32_t));
		memcpy(st->isr, ps.isr, (size_t)st->n_isr * sizeof(int32_t));
		st->n_offline =
			ps.n_offline < KAFKA_MAX_REPLICAS ? ps.n_offline : KAFKA_MAX_REPLICAS;
		memcpy(st->offline, ps.offline, (size_t)st->n_offline * sizeof(int32_t));
		return 0;
	}
	st->leader = kafka_broker_id(ka);
	st->leader_epoch = BROKER_LEADER_EPOCH;
	st->n_offline = 0;
	st->n_replicas = st->n_isr = 1;
	st->replicas[0] = st->isr[0] = st->leader;
	return 0;
}

/* The endpoint named name among eps, or NULL. */
static const struct net_endpoint *ep_named(const struct net_endpoint *eps, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(eps[i].name, name))
			return &eps[i];
	return NULL;
}

static int node_cmp(const void *a, const void *b)
{
	const struct kafka_node *x = a, *y = b;

	return (x->node_id > y->node_id) - (x->node_id < y->node_id);
}

/* This broker, as a client of listener i reaches it. */
static void self_node(struct kafka_api *ka, int i, struct kafka_node *n)
{
	const struct net_config *nc = &cluster_cfg(ka->c)->cluster.net;
	const struct net_endpoint *l = &nc->listeners[i];
	const struct net_endpoint *adv = ep_named(nc->advertised, nc->n_advertised, l->name);

	n->node_id = kafka_broker_id(ka);
	if (adv) {
		snprintf(n->host, sizeof(n->host), "%s", adv->host);
		n->port = adv->port ? adv->port : cluster_listener_port(ka->c, i);
	} else {
		snprintf(n->host, sizeof(n->host), "%s", l->host);
		n->port = cluster_listener_port(ka->c, i);
	}
	if (!n->host[0] && gethostname(n->host, sizeof(n->host) - 1) < 0)
		snprintf(n->host, sizeof(n->host), "localhost");
	snprintf(n->rack, sizeof(n->rack), "%s", cluster_cfg(ka->c)->cluster.rack);
}

int kafka_brokers(struct kafka_api *ka, int listener, struct kafka_node **out)
{
	const struct net_config *nc = &cluster_cfg(ka->c)->cluster.net;
	const char *name = nc->listeners[listener].name;
	struct metadata_broker *mb = NULL;
	struct kafka_node *v;
	int n = 0, k = 0;

	if (cluster_zk_mode(ka->c)) {
		n = metadata_cache_brokers(cluster_metadata(ka->c), &mb);
		if (n < 0)
			return n;
	}
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v) {
		free(mb);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct net_endpoint eps[NET_MAX_LISTENERS];
		const struct net_endpoint *e;
		int ne;

		if (!mb[i].alive || mb[i].id == kafka_broker_id(ka))
			continue;
		ne = net_listeners_parse(mb[i].endpoints, eps, NET_MAX_LISTENERS);
		if (ne < 0 || !(e = ep_named(eps, ne, name)))
			continue;
		v[k].node_id = mb[i].id;
		snprintf(v[k].host, sizeof(v[k].host), "%s", e->host);
		v[k].port = e->port;
		if (mb[i].has_rack)
			snprintf(v[k].rack, sizeof(v[k].rack), "%s", mb[i].rack);
		k++;
	}
	free(mb);
	self_node(ka, listener, &v[k++]);
	qsort(v, (size_t)k, sizeof(*v), node_cmp);
	*out = v;
	return k;
}

int kafka_topic_find(struct kafka_api *ka, struct kstr name, bool create, struct topic **out)
{
	char s[TOPIC_NAME_MAX + 1];
	int rc;

	if (!name.ptr || name.len <= 0 || name.len > TOPIC_NAME_MAX)
		return -EINVAL;
	memcpy(s, name.ptr, (size_t)name.len);
	s[name.len] = '\0';
	if (!topic_name_valid(s))
		return -EINVAL;
	rc = broker_topic_get(ka->b, s, out);
	/* Never a name mkdir and CreateTopics refuse ("__", dot-names). */
	if (rc != -ENOENT || !create || !broker_cfg(ka->b)->auto_create_topics ||
	    topic_name_refusal(s))
		return rc;
	uid_t uid;
	gid_t gid;

	broker_client_topic_owner(&uid, &gid);
	rc = broker_topic_create(ka->b, s, uid, gid, CLIENT_TOPIC_MODE, out);
	if (rc == -EEXIST) /* made meanwhile by another request */
		return broker_topic_get(ka->b, s, out);
	if (rc == 0)
		mq_log(MQ_INFO,
		       "topic %s: created by a Kafka client's Metadata request "
		       "(auto.create.topics.enable)",
		       s);
	return rc;
}

/* The brokers alive now, as the cluster's ZooKeeper registrations say
 * (none on one node, where this broker is the only replica). */
struct live_brokers {
	struct metadata_broker *mb;
	int n;
};

/* Whether broker id is up: this broker, or one registered alive. */
static bool has_id(const int32_t *ids, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool broker_up(struct kafka_api *ka, const struct live_brokers *live, int32_t id)
{
	if (id == kafka_broker_id(ka))
		return true;
	for (int i = 0; i < live->n; i++)
		if (live->mb[i].id == id)
			return live->mb[i].alive;
	return false;
}

/* One topic of the response; t NULL: only its error. */
static int topic_fill(struct kafka_api *ka, struct topic *t, struct proto_meta_topic *mt,
		      struct kafka_part_state **states, const struct live_brokers *live)
{
	int n = topic_partitions(t);

	char id[64];

	mt->name = kstr_of(topic_name(t));
	if (topic_cluster_id(t, id, sizeof(id)))
		zk_uuid_bytes(id, mt->topic_id);
	mt->is_internal = !strncmp(topic_name(t), "__", 2);
	mt->topic_authorized_operations = INT32_MIN;
	mt->partitions = calloc((size_t)n + 1, sizeof(*mt->partitions));
	*states = calloc((size_t)n + 1, sizeof(**states));
	if (!mt->partitions || !*states)
		return -ENOMEM;
	int known = 0; /* partitions with a state */

	for (int p = 0; p < n; p++) {
		struct proto_meta_part *mp = &mt->partitions[mt->n_partitions];
		struct kafka_part_state *st = &(*states)[mt->n_partitions];

		int rc = kafka_partition_state(ka, t, p, st);

		if (rc < 0 && (rc != -ENOENT || atomic_load(&t->deleted)))
			continue;
		/* A partition of a topic this broker has read from ZooKeeper
		 * but of which it has no state yet: a broker that has just
		 * started, before the controller's UpdateMetadata (a new
		 * broker holds no replica to be told of in LeaderAndIsr).
		 * Left out, the topic would read as having fewer partitions,
		 * none at first, and librdkafka takes that count: it fails
		 * the records it holds for the missing ones and its consumers
		 * lose their assignment. Without a leader instead, as
		 * Kafka's cache answers one, the client asks again. */
		if (rc < 0)
			*st = (struct kafka_part_state){ .leader = -1, .leader_epoch = -1 };
		else
			known++;
		mp->partition_index = p;
		/* In a cluster between a leader's loss and the election. */
		if (st->leader < 0)
			mp->error_code = PROTO_ERR_LEADER_NOT_AVAILABLE;
		mp->leader_id = st->leader;
		mp->leader_epoch = st->leader_epoch;
		mp->n_replica_nodes = st->n_replicas;
		mp->replica_nodes = st->replicas;
		mp->n_isr_nodes = st->n_isr;
		mp->isr_nodes = st->isr;
		/* The controller's (a replica whose broker cannot host it)
		 * and those of brokers not alive here. */
		for (int32_t r = 0; r < st->n_replicas; r++)
			if (!broker_up(ka, live, st->replicas[r]) &&
			    !has_id(st->offline, st->n_offline, st->replicas[r]))
				st->offline[st->n_offline++] = st->replicas[r];
		mp->n_offline_replicas = st->n_offline;
		mp->offline_replicas = st->offline;
		mt->n_partitions++;
	}
	/* A topic none of whose partitions has a state yet on a broker the
	 * controller has already reached: one just made, before the
	 * controller's LeaderAndIsr and UpdateMetadata (which come with its
	 * leaders elected). Kafka's metadata cache does not hold it yet:
	 * UNKNOWN_TOPIC_OR_PARTITION, which clients wait out (kafkajs's
	 * admin calls retry it; they give up on LEADER_NOT_AVAILABLE). */
	if (n > 0 && known == 0 && mt->n_partitions > 0 && cluster_heard_controller(ka->c)) {
		mt->error_code = PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		mt->n_partitions = 0;
	}
	return 0;
}

struct meta_build {
	struct proto_meta_resp resp;
	struct topic **topics; /* referenced, one per response topic */
	struct kafka_part_state **states;
	struct kafka_node *nodes;
	char cluster_id[64];
};

static void meta_build_free(struct meta_build *mb)
{
	for (int32_t i = 0; i < mb->resp.n_topics; i++) {
		if (mb->topics && mb->topics[i])
			topic_put(mb->topics[i]);
		if (mb->states)
			free(mb->states[i]);
		free(mb->resp.topics[i].partitions);
	}
	free(mb->topics);
	free(mb->states);
	free(mb->resp.topics);
	free(mb->resp.brokers);
	free(mb->nodes);
}

/* Whether a v10-v11 request names a topic by id or leaves a name null:
 * those versions carry the fields but take topics by name only. Kafka
 * refuses the request (handleTopicMetadataRequest's
 * InvalidRequestException); a null name could not even be answered, as
 * a response's name is nullable from v12 only. */
static bool meta_ids_refused(const struct proto_meta_req *m, int16_t v)
{
	static const uint8_t zero[16];

	if (v < 10 || v > 11)
		return false;
	for (int32_t i = 0; i < m->n_topics; i++)
		if (!m->topics[i].name.ptr || memcmp(m->topics[i].topic_id, zero, sizeof(zero)))
			return true;
	return false;
}

/* Whether a request names any topic by a non-zero id (v12: v10-v11 ones
 * are refused first). Kafka then answers the ids only
 * (handleTopicMetadataRequest's useTopicId): a name beside an id, and an
 * entry with a zero id, are not looked at. */
static bool meta_by_ids(const struct proto_meta_req *m)
{
	static const uint8_t zero[16];

	for (int32_t i = 0; i < m->n_topics; i++)
		if (memcmp(m->topics[i].topic_id, zero, sizeof(zero)))
			return true;
	return false;
}

/* Whether entry i is answered when the request is by ids: a non-zero id
 * not named by an earlier entry (Kafka takes the ids as a set). */
static bool meta_id_first(const struct proto_meta_req *m, int32_t i)
{
	static const uint8_t zero[16];

	if (!memcmp(m->topics[i].topic_id, zero, sizeof(zero)))
		return false;
	for (int32_t j = 0; j < i; j++)
		if (!memcmp(m->topics[j].topic_id, m->topics[i].topic_id, sizeof(zero)))
			return false;
	return true;
}

/* Moves the unknown ids' topics to the front of mb's answer, in their
 * order, as Kafka lists them (unknownTopicIdsTopicMetadata first);
 * -ENOMEM. */
static int meta_unknown_ids_first(struct meta_build *mb)
{
	int32_t n = mb->resp.n_topics, k = 0;
	struct proto_meta_topic *rt = malloc(((size_t)n + 1) * sizeof(*rt));
	struct topic **tt = malloc(((size_t)n + 1) * sizeof(*tt));
	struct kafka_part_state **st = malloc(((size_t)n + 1) * sizeof(*st));
	int rc = -ENOMEM;

	if (!rt || !tt || !st)
		goto out;
	for (int pass = 0; pass < 2; pass++)
		for (int32_t i = 0; i < n; i++) {
			if ((mb->resp.topics[i].error_code == PROTO_ERR_UNKNOWN_TOPIC_ID) !=
			    (pass == 0))
				continue;
			rt[k] = mb->resp.topics[i];
			tt[k] = mb->topics[i];
			st[k++] = mb->states[i];
		}
	memcpy(mb->resp.topics, rt, (size_t)n * sizeof(*rt));
	memcpy(mb->topics, tt, (size_t)n * sizeof(*tt));
	memcpy(mb->states, st, (size_t)n * sizeof(*st));
	rc = 0;
out:
	free(rt);
	free(tt);
	free(st);
	return rc;
}

/* The topics asked for (or every one) into mb; 1 when the request is
 * refused (meta_ids_refused): each topic INVALID_REQUEST, as Kafka's
 * MetadataRequest.getErrorResponse answers them. */
static int meta_topics(struct kafka_api *ka, const struct net_req *req,
		       const struct proto_meta_req *m, int16_t v, struct meta_build *mb)
{
	char **names = NULL;
	struct live_brokers live = { 0 };
	int n, rc = 0;
	bool all = m->n_topics < 0 || (v == 0 && m->n_topics == 0);
	bool by_ids;

	if (meta_ids_refused(m, v)) {
		mb->resp.topics = calloc((size_t)m->n_topics + 1, sizeof(*mb->resp.topics));
		if (!mb->resp.topics)
			return -ENOMEM;
		for (int32_t i = 0; i < m->n_topics; i++) {
			struct proto_meta_topic *mt = &mb->resp.topics[i];

			mt->error_code = PROTO_ERR_INVALID_REQUEST;
			mt->name = m->topics[i].name.ptr ? m->topics[i].name : kstr_of("");
			memcpy(mt->topic_id, m->topics[i].topic_id, sizeof(mt->topic_id));
			mt->topic_authorized_operations = INT32_MIN;
		}
		mb->resp.n_topics = m->n_topics;
		return 1;
	}
	by_ids = !all && meta_by_ids(m);

	if (cluster_zk_mode(ka->c)) {
		live.n = metadata_cache_brokers(cluster_metadata(ka->c), &live.mb);
		if (live.n < 0)
			return live.n;
	}

	if (all) {
		rc = broker_topic_list(ka->b, false, &names, &n);
		if (rc < 0)
			return rc;
	} else {
		n = m->n_topics;
	}
	mb->resp.topics = calloc((size_t)n + 1, sizeof(*mb->resp.topics));
	mb->topics = calloc((size_t)n + 1, sizeof(*mb->topics));
	mb->states = calloc((size_t)n + 1, sizeof(*mb->states));
	if (!mb->resp.topics || !mb->topics || !mb->states) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n && rc == 0; i++) {
		if (by_ids && !meta_id_first(m, i))
			continue;
		struct proto_meta_topic *mt = &mb->resp.topics[mb->resp.n_topics++];
		struct topic *t = NULL;
		struct kstr name = all ? kstr_of(names[i]) : by_ids ? KSTR_NULL : m->topics[i].name;
		bool create = !all && (v < 4 || m->allow_auto_topic_creation);
		int err;

		mt->name = name;
		mt->topic_authorized_operations = INT32_MIN;
		if (!name.ptr) {
			char id[ZK_UUID_LEN + 1];

			zk_uuid_string(m->topics[i].topic_id, id);
			err = broker_topic_by_cluster_id(ka->b, id, &t);
			if (err < 0) {
				mt->error_code = PROTO_ERR_UNKNOWN_TOPIC_ID;
				memcpy(mt->topic_id, m->topics[i].topic_id, sizeof(mt->topic_id));
				continue;
			}
		} else if (!all && !kafka_authorize(req, ACL_OP_DESCRIBE, ACL_RES_TOPIC, name)) {
			mt->error_code = PROTO_ERR_TOPIC_AUTHORIZATION_FAILED;
			continue;
		} else {
			err = kafka_topic_find(ka, name, false, &t);
			/* Auto-creation (asked for and auto.create.topics.enable)
			 * needs CREATE on the cluster or the topic (KafkaApis). */
			if (err == -ENOENT && create && broker_cfg(ka->b)->auto_create_topics &&
			    !kafka_may(req, ACL_OP_CREATE, ACL_RES_CLUSTER,
				       kstr_of(ACL_CLUSTER_NAME)) &&
			    !kafka_authorize(req, ACL_OP_CREATE, ACL_RES_TOPIC, name)) {
				mt->error_code = PROTO_ERR_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
			if (err == -ENOENT && create)
				err = kafka_topic_find(ka, name, true, &t);
		}
		/* Every topic, or one asked by id: left out (by id: unknown)
		 * without DESCRIBE, as Kafka filters them. */
		if (err == 0 && (all || !name.ptr) &&
		    !kafka_may(req, ACL_OP_DESCRIBE, ACL_RES_TOPIC, kstr_of(topic_name(t)))) {
			topic_put(t);
			t = NULL;
			if (all) {
				*mt = (struct proto_meta_topic){ 0 };
				mb->resp.n_topics--;
				continue;
			}
			mt->error_code = PROTO_ERR_TOPIC_AUTHORIZATION_FAILED;
			memcpy(mt->topic_id, m->topics[i].topic_id, sizeof(mt->topic_id));
			continue;
		}
		if (err == -ENOENT && all) {
			/* deleted since the list: not in the answer */
			*mt = (struct proto_meta_topic){ 0 };
			mb->resp.n_topics--;
			continue;
		}
		if (err < 0) {
			mt->error_code = err == -EINVAL   ? PROTO_ERR_INVALID_TOPIC_EXCEPTION
					 : err == -ENOENT ? PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION
							  : proto_err_from_errno(err);
			continue;
		}
		mb->topics[mb->resp.n_topics - 1] = t;
		rc = topic_fill(ka, t, mt, &mb->states[mb->resp.n_topics - 1], &live);
		/* Every topic asked for: one not in Kafka's cache (no partition
		 * state: just made, or deleted by the controller and not yet
		 * removed here) is left out, as Kafka lists the topics its
		 * cache holds. kafkajs asks so after each admin call and
		 * gives up on any topic's error: its DeleteTopics failed
		 * UNKNOWN_TOPIC_OR_PARTITION on a broker that still listed
		 * the topic it had just deleted. */
		if (rc == 0 && all && mt->error_code == PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION) {
			int32_t last = --mb->resp.n_topics;

			topic_put(t);
			mb->topics[last] = NULL;
			free(mb->states[last]);
			mb->states[last] = NULL;
			free(mt->partitions);
			*mt = (struct proto_meta_topic){ 0 };
		}
	}
	if (rc == 0 && by_ids)
		rc = meta_unknown_ids_first(mb);
	/* Asked for: every topic's but an unknown id's and a refused one's
	 * (no DESCRIBE, or no CREATE for its auto-creation: those keep the
	 * schema's default), as Kafka sets them on the topics it looked up
	 * by name, errors included. */
	for (int32_t i = 0;
	     v >= 8 && m->include_topic_authorized_operations && i < mb->resp.n_topics; i++)
		if (mb->resp.topics[i].error_code != PROTO_ERR_UNKNOWN_TOPIC_ID &&
		    mb->resp.topics[i].error_code != PROTO_ERR_TOPIC_AUTHORIZATION_FAILED)
			mb->resp.topics[i].topic_authorized_operations =
				kafka_authorized_ops(req, ACL_RES_TOPIC, mb->resp.topics[i].name);
out:
	if (names)
		broker_names_free(names, n);
	free(live.mb);
	return rc;
}

/* What Metadata and DescribeCluster both tell: the brokers a client of
 * listener reaches (*nodes holds their hosts; both arrays malloc'ed, the
 * caller frees them), the cluster id ("" when none) and the controller.
 * The count of brokers, or -ENOMEM. */
static int cluster_view(struct kafka_api *ka, int listener, struct kafka_node **nodes,
			struct proto_meta_broker **brokers, char id[64], int32_t *controller)
{
	int n = kafka_brokers(ka, listener, nodes);

	*brokers = NULL;
	if (n < 0)
		return n;
	if (!(*brokers = calloc((size_t)n + 1, sizeof(**brokers)))) {
		free(*nodes);
		*nodes = NULL;
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		(*brokers)[i] = (struct proto_meta_broker){
			.node_id = (*nodes)[i].node_id,
			.host = kstr_of((*nodes)[i].host),
			.port = (*nodes)[i].port,
			.rack = (*nodes)[i].rack[0] ? kstr_of((*nodes)[i].rack) : KSTR_NULL
		};
	cluster_id(ka->c, id, 64);
	*controller = cluster_controller_id(ka->c);
	return n;
}

static int metadata_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	int16_t v = pr->hdr.api_version;
	struct meta_build mb = { 0 };
	int n, rc;

	n = cluster_view(ka, net_req_listener(req), &mb.nodes, &mb.resp.brokers, mb.cluster_id,
			 &mb.resp.controller_id);
	if (n < 0)
		return n;
	mb.resp.n_brokers = n;
	mb.resp.cluster_id = mb.cluster_id[0] ? kstr_of(mb.cluster_id) : KSTR_NULL;
	mb.resp.cluster_authorized_operations =
		v >= 8 && v <= 10 && pr->u.meta.include_cluster_authorized_operations
			? kafka_authorized_ops(req, ACL_RES_CLUSTER, kstr_of(ACL_CLUSTER_NAME))
			: INT32_MIN;
	rc = meta_topics(ka, req, &pr->u.meta, v, &mb);
	if (rc < 0)
		goto out;
	if (rc == 1) {
		/* Kafka's error response: the topics' errors alone, no broker,
		 * cluster id or controller. */
		mq_log_limited(MQ_WARN,
			       "Metadata v%d from %s: a topic by id or a null name, which v%d "
			       "does not take: INVALID_REQUEST",
			       (int)v, net_req_peer(req), (int)v);
		mb.resp.n_brokers = 0;
		mb.resp.cluster_id = KSTR_NULL;
		mb.resp.controller_id = -1;
		mb.resp.cluster_authorized_operations = INT32_MIN;
	}
	size_t pos = net_req_begin(req);
	rc = proto_meta_resp_encode(&net_req_out(req)->w, v, &mb.resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
out:
	meta_build_free(&mb);
	return rc;
}

/* DescribeCluster (60): Metadata's brokers, cluster id and controller,
 * as Kafka's admin client (describeCluster, kafka-cluster.sh) asks for
 * them; no topics. Only brokers' endpoints are served here (v1's
 * endpoint_type CONTROLLER is a KRaft controller's). */
static int describe_cluster_handler(void *arg, struct net_req *req)
{
	struct kafka_api *ka = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_describe_cluster_req *dc = &pr->u.describe_cluster;
	/* The answer's endpoint type is the endpoint described, a broker's,
	 * whatever was asked (a refusal's is the schema's default, also
	 * BROKER), as Kafka's computeDescribeClusterResponse answers. */
	struct proto_describe_cluster_resp resp = { .endpoint_type = PROTO_ENDPOINT_BROKER,
						    .controller_id = -1,
						    .cluster_authorized_operations = INT32_MIN };
	struct kafka_node *nodes = NULL;
	char id[64] = "", msg[128];
	size_t pos;
	int n, rc;

	if (dc->endpoint_type != PROTO_ENDPOINT_BROKER) {
		bool known = dc->endpoint_type == PROTO_ENDPOINT_CONTROLLER;

		mq_log_limited(MQ_WARN,
			       "DescribeCluster from %s: endpoint type %d refused: a broker "
			       "serves broker endpoints (1) only",
			       net_req_peer(req), (int)dc->endpoint_type);
		/* As Kafka: a type it does not define (EndpointType UNKNOWN) is
		 * UNSUPPORTED_ENDPOINT_TYPE, a controller's MISMATCHED. */
		if (known)
			snprintf(msg, sizeof(msg),
				 "The request was sent to an endpoint of type BROKER, "
				 "but we wanted an endpoint of type CONTROLLER");
		else
			snprintf(msg, sizeof(msg), "Unsupported endpoint type %d",
				 (int)dc->endpoint_type);
		resp.error_code = known ? PROTO_ERR_MISMATCHED_ENDPOINT_TYPE
					: PROTO_ERR_UNSUPPORTED_ENDPOINT_TYPE;
		resp.error_message = kstr_of(msg);
		resp.cluster_id = kstr_of("");
	} else {
		n = cluster_view(ka, net_req_listener(req), &nodes, &resp.brokers, id,
				 &resp.controller_id);
		if (n < 0)
			return n;
		resp.n_brokers = n;
		resp.cluster_id = kstr_of(id);
		if (dc->include_cluster_authorized_operations)
			resp.cluster_authorized_operations = kafka_authorized_ops(
				req, ACL_RES_CLUSTER, kstr_of(ACL_CLUSTER_NAME));
	}
	pos = net_req_begin(req);
	rc = proto_describe_cluster_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (rc == 0)
		rc = net_req_end(req, pos);
	free(resp.brokers);
	free(nodes);
	return rc;
}

int kafka_api_register(struct kafka_api *ka, struct net_server *srv)
{
	int rc = net_server_handle(srv, PROTO_API_METADATA, metadata_handler, ka);

	if (rc == 0)
		rc = net_server_handle(srv, PROTO_API_DESCRIBE_CLUSTER, describe_cluster_handler,
				       ka);

	if (rc == 0)
		rc = admin_serve_register(ka, srv);
	if (rc == 0)
		rc = kafka_producer_id_register(ka, srv);
	if (rc == 0)
		rc = kafka_elect_register(ka, srv);
	if (rc == 0)
		rc = kafka_reassign_register(ka, srv);
	if (rc == 0)
		rc = kafka_log_dirs_register(ka, srv);
	if (rc == 0)
		rc = kafka_producers_register(ka, srv);
	if (rc == 0)
		rc = kafka_scram_register(ka, srv);
	/* Tokens live in ZooKeeper: a single node does not serve them. */
	if (rc == 0 && cluster_zk_mode(ka->c))
		rc = kafka_dtoken_register(ka, srv);
	if (rc == 0)
		rc = kafka_acls_register(ka, srv);
	if (rc == 0)
		rc = kafka_quotas_register(ka, srv);
	return rc ? rc : kafka_produce_register(ka, srv);
}
