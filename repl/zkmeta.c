/*
 * zkmeta.c — broker registration, controller election, topics and
 * partition states on ZooKeeper. The guards these operations keep are
 * numbered in zkmeta.h; the documents are zkdata.h's.
 *
 * Retries: a call that loses its connection (-ECONNRESET) does not know
 * whether its write happened. The operations that must be idempotent check
 * the outcome when they meet the node they tried to create: registration
 * compares the ephemeral owner with this session, the election compares
 * the controller's id and owner with this broker and session. Everything
 * else reports the error and the caller re-reads.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/sasl.h"
#include "repl/zkmeta.h"

/* Rounds of the election when /controller vanishes between our failed
 * create and our read of it: each round means another broker's session
 * ended in between, so a few rounds are plenty. */
#define ZKMETA_ELECT_ROUNDS 8

int zkmeta_ensure_paths(struct zkc *zkc)
{
	static const char *const paths[] = {
		ZK_BROKER_IDS_PATH,     ZK_BROKER_TOPICS_PATH,  ZK_BROKER_SEQID_PATH,
		ZK_CONFIG_TOPICS_PATH,  ZK_CONFIG_CHANGES_PATH, ZK_DELETE_TOPICS_PATH,
		ZK_ISR_CHANGE_PATH,     ZK_CONFIG_USERS_PATH,   ZK_LOG_DIR_EVENT_PATH,
		ZK_CONFIG_BROKERS_PATH,
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		rc = zkc_create(zkc, paths[i], NULL, 0, ZKC_PARENTS, NULL, 0);
		if (rc && rc != -EEXIST)
			return rc;
	}
	return 0;
}

int zkmeta_register_broker(struct zkc *zkc, int32_t broker_id, const struct zk_broker *b)
{
	char path[ZK_PATH_MAX], *doc;
	struct zkc_stat st;
	int rc, tries;

	if ((rc = zk_path_broker(path, sizeof(path), broker_id)) < 0)
		return rc;
	if (!(doc = zk_broker_encode(b)))
		return -ENOMEM;
	for (tries = 0; tries < 2; tries++) {
		rc = zkc_create(zkc, path, doc, strlen(doc), ZKC_EPHEMERAL | ZKC_PARENTS, NULL, 0);
		if (rc != -EEXIST)
			break;
		/* Ours from an earlier try whose answer was lost? Or one
		 * whose session just ended (then try once more)? */
		rc = zkc_exists(zkc, path, &st, NULL, NULL);
		if (rc == 0)
			rc = st.ephemeral_owner == zkc_session_id(zkc) ? 0 : -EEXIST;
		if (rc == 0)
			rc = zkc_set(zkc, path, doc, strlen(doc), st.version, NULL);
		if (rc != -ENOENT)
			break;
	}
	free(doc);
	return rc;
}

static int id_cmp(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return (x > y) - (x < y);
}

int zkmeta_broker_ids(struct zkc *zkc, int32_t **ids, zkc_watch_fn *watch, void *arg)
{
	char **names = NULL;
	int32_t *out;
	int n, i, k = 0;

	n = zkc_children(zkc, ZK_BROKER_IDS_PATH, &names, watch, arg);
	if (n < 0)
		return n;
	out = malloc(((size_t)n + 1) * sizeof(*out));
	for (i = 0; out && i < n; i++) {
		char *end;
		long v = strtol(names[i], &end, 10);

		/* Only ids: anything else under /brokers/ids is not a broker. */
		if (*end || end == names[i] || v < 0 || v > INT32_MAX)
			continue;
		out[k++] = (int32_t)v;
	}
	zkc_names_free(names, n);
	if (!out)
		return -ENOMEM;
	qsort(out, (size_t)k, sizeof(*out), id_cmp);
	*ids = out;
	return k;
}

int zkmeta_broker_racks(struct zkc *zkc, int32_t **ids, char ***racks)
{
	int32_t *all = NULL;
	char **r;
	int n, k = 0, rc = 0;

	*ids = NULL;
	*racks = NULL;
	if ((n = zkmeta_broker_ids(zkc, &all, NULL, NULL)) < 0)
		return n;
	if (!(r = calloc((size_t)n + 1, sizeof(*r)))) {
		free(all);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		char path[ZK_PATH_MAX], why[ZK_WHY_LEN] = "", *data = NULL;
		struct zk_broker zb;
		size_t len;

		zk_path_broker(path, sizeof(path), all[i]);
		rc = zkc_get(zkc, path, &data, &len, NULL, NULL, NULL);
		if (rc == -ENOENT)
			continue; /* gone meanwhile: not live */
		if (rc < 0)
			break;
		rc = zk_broker_decode(data, len, &zb, why);
		free(data);
		all[k] = all[i];
		r[k] = NULL;
		if (rc == 0) {
			r[k] = zb.rack;
			zb.rack = NULL;
			zk_broker_clear(&zb);
		} else if (rc != -EBADMSG) {
			break;
		}
		rc = 0;
		k++;
	}
	if (rc < 0) {
		zkmeta_broker_racks_free(all, r, k);
		return rc;
	}
	*ids = all;
	*racks = r;
	return k;
}

void zkmeta_broker_racks_free(int32_t *ids, char **racks, int n)
{
	for (int i = 0; racks && i < n; i++)
		free(racks[i]);
	free(racks);
	free(ids);
}

/* ---- controller ---- */

/* Reads /controller_epoch, creating it at epoch 0 when missing (as Kafka's
 * first controller does). */
static int read_epoch(struct zkc *zkc, int32_t *epoch, int32_t *zk_version, char *why)
{
	struct zkc_stat st;
	char *data = NULL;
	size_t len;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		rc = zkc_get(zkc, ZK_CONTROLLER_EPOCH_PATH, &data, &len, &st, NULL, NULL);
		if (rc != -ENOENT)
			break;
		rc = zkc_create(zkc, ZK_CONTROLLER_EPOCH_PATH, "0", 1, ZKC_PERSISTENT, NULL, 0);
		if (rc && rc != -EEXIST)
			return rc;
	}
	if (rc)
		return rc;
	rc = zk_controller_epoch_decode(data, len, epoch, why);
	*zk_version = st.version;
	free(data);
	return rc;
}

/* Who is the controller now: 0 and *c, or -ENOENT when nobody is. */
static int read_controller(struct zkc *zkc, struct zk_controller *c, struct zkc_stat *st,
			   zkc_watch_fn *watch, void *arg, char *why)
{
	char *data = NULL;
	size_t len;
	int rc;

	rc = zkc_get(zkc, ZK_CONTROLLER_PATH, &data, &len, st, watch, arg);
	if (rc)
		return rc;
	rc = zk_controller_decode(data, len, c, why);
	free(data);
	return rc;
}

int zkmeta_elect(struct zkc *zkc, int32_t broker_id, int64_t now_ms, struct zkmeta_controller *out,
		 zkc_watch_fn *watch, void *arg, char *why)
{
	struct zk_controller me = { .broker_id = broker_id, .timestamp = now_ms };
	char *doc = zk_controller_encode(&me), *next = NULL;
	int rc = -EAGAIN, round, failed;

	memset(out, 0, sizeof(*out));
	if (!doc)
		return -ENOMEM;
	for (round = 0; round < ZKMETA_ELECT_ROUNDS && rc == -EAGAIN; round++) {
		struct zkc_op ops[2];
		struct zk_controller c;
		struct zkc_stat st;
		int32_t epoch, version;

		free(next);
		next = NULL;
		if ((rc = read_epoch(zkc, &epoch, &version, why)))
			break;
		if (!(next = zk_controller_epoch_encode(epoch + 1))) {
			rc = -ENOMEM;
			break;
		}
		/* Guard 2: /controller and epoch + 1, both or neither. */
		ops[0] = (struct zkc_op){ .type = ZKC_OP_CREATE,
					  .path = ZK_CONTROLLER_PATH,
					  .data = doc,
					  .len = strlen(doc),
					  .flags = ZKC_EPHEMERAL };
		ops[1] = (struct zkc_op){ .type = ZKC_OP_SET,
					  .path = ZK_CONTROLLER_EPOCH_PATH,
					  .data = next,
					  .len = strlen(next),
					  .version = version };
		rc = zkc_multi(zkc, ops, 2, &failed);
		if (rc == 0) {
			out->controller_id = broker_id;
			out->epoch = epoch + 1;
			out->epoch_zk_version = ops[1].new_version;
			rc = 1;
			break;
		}
		if (rc != -EEXIST && rc != -ESTALE && rc != -ECONNRESET)
			break;
		/* Someone else won, or we did and the answer was lost. */
		rc = read_controller(zkc, &c, &st, watch, arg, why);
		if (rc == -ENOENT || rc == -ECONNRESET) {
			rc = -EAGAIN; /* gone again: another round */
			continue;
		}
		if (rc)
			break;
		out->controller_id = c.broker_id;
		if (c.broker_id != broker_id || st.ephemeral_owner != zkc_session_id(zkc)) {
			rc = 0;
			break;
		}
		/* Ours: the epoch we wrote is current. */
		rc = read_epoch(zkc, &out->epoch, &out->epoch_zk_version, why);
		rc = rc ? rc : 1;
	}
	free(doc);
	free(next);
	return rc;
}

/* ---- topics ---- */

static int read_state(struct zkc *zkc, const char *topic, int32_t p, struct zkmeta_partition *part,
		      char *why)
{
	char path[ZK_PATH_MAX], *data = NULL;
	struct zkc_stat st;
	size_t len;
	int rc;

	if ((rc = zk_path_partition_state(path, sizeof(path), topic, p)) < 0)
		return rc;
	rc = zkc_get(zkc, path, &data, &len, &st, NULL, NULL);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	rc = zk_partition_state_decode(data, len, &part->state, why);
	free(data);
	if (rc == 0) {
		part->present = 1;
		part->zk_version = st.version;
		part->czxid = st.czxid;
	} else if (rc == -EBADMSG) {
		/* One bad znode must not hide the topic's other partitions
		 * (nor, for the controller, every other topic). */
		memset(&part->state, 0, sizeof(part->state));
		if (!(part->unreadable = strdup(why && why[0] ? why : "does not decode")))
			return -ENOMEM;
		rc = 0;
	}
	return rc;
}

int zkmeta_read_topic(struct zkc *zkc, const char *topic, struct zkmeta_topic *t, char *why)
{
	char path[ZK_PATH_MAX], *data = NULL;
	size_t len;
	int rc, p;

	memset(t, 0, sizeof(*t));
	if ((rc = zk_path_topic(path, sizeof(path), topic)) < 0)
		return rc;
	snprintf(t->name, sizeof(t->name), "%s", topic);
	if ((rc = zkc_get(zkc, path, &data, &len, NULL, NULL, NULL)))
		return rc;
	rc = zk_topic_decode(data, len, &t->assignment, why);
	free(data);
	if (rc)
		return rc;
	t->partitions = calloc((size_t)t->assignment.n_partitions, sizeof(*t->partitions));
	if (!t->partitions) {
		zkmeta_topic_clear(t);
		return -ENOMEM;
	}
	for (p = 0; p < t->assignment.n_partitions; p++)
		if ((rc = read_state(zkc, topic, p, &t->partitions[p], why))) {
			zkmeta_topic_clear(t);
			return rc;
		}
	return 0;
}

void zkmeta_topic_clear(struct zkmeta_topic *t)
{
	int p;

	for (p = 0; t->partitions && p < t->assignment.n_partitions; p++) {
		zk_partition_state_clear(&t->partitions[p].state);
		free(t->partitions[p].unreadable);
	}
	free(t->partitions);
	zk_topic_clear(&t->assignment);
	memset(t, 0, sizeof(*t));
}

void zkmeta_topics_free(struct zkmeta_topic *topics, int n)
{
	int i;

	for (i = 0; topics && i < n; i++)
		zkmeta_topic_clear(&topics[i]);
	free(topics);
}

int zkmeta_read_listed(struct zkc *zkc, const char *name, struct zkmeta_topic *t, char *why)
{
	if (!zk_topic_name_valid(name))
		return 0;
	int rc = zkmeta_read_topic(zkc, name, t, why);

	return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

int zkmeta_read_topics(struct zkc *zkc, struct zkmeta_topic **topics, zkc_watch_fn *watch,
		       void *arg, char *why)
{
	struct zkmeta_topic *out;
	char **names = NULL;
	int n, i, k = 0, rc = 0;

	n = zkc_children(zkc, ZK_BROKER_TOPICS_PATH, &names, watch, arg);
	if (n < 0)
		return n;
	out = calloc((size_t)n + 1, sizeof(*out));
	if (!out)
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < n; i++) {
		rc = zkmeta_read_listed(zkc, names[i], &out[k], why);
		if (rc > 0) {
			k++;
			rc = 0;
		}
	}
	zkc_names_free(names, n);
	if (rc) {
		zkmeta_topics_free(out, k);
		return rc;
	}
	*topics = out;
	return k;
}

int zkmeta_create_topic(struct zkc *zkc, const char *topic, const struct zk_topic *assignment,
			const struct zk_config *config)
{
	static const struct zk_config none = { NULL, NULL, 0 };
	char tpath[ZK_PATH_MAX], cpath[ZK_PATH_MAX];
	char *tdoc = NULL, *cdoc = NULL;
	struct zkc_op ops[2];
	int rc, failed;

	if ((rc = zk_path_topic(tpath, sizeof(tpath), topic)) < 0 ||
	    (rc = zk_path_topic_config(cpath, sizeof(cpath), topic)) < 0)
		return rc;
	tdoc = zk_topic_encode(assignment);
	cdoc = zk_config_encode(config ? config : &none);
	if (!tdoc || !cdoc) {
		rc = -ENOMEM;
		goto out;
	}
	ops[0] = (struct zkc_op){
		.type = ZKC_OP_CREATE, .path = tpath, .data = tdoc, .len = strlen(tdoc)
	};
	ops[1] = (struct zkc_op){
		.type = ZKC_OP_CREATE, .path = cpath, .data = cdoc, .len = strlen(cdoc)
	};
	rc = zkc_multi(zkc, ops, 2, &failed);
	if (rc == -EEXIST && failed == 1) {
		/* A config left by an earlier topic of that name: ours
		 * replaces it, still in the same transaction. */
		ops[1].type = ZKC_OP_SET;
		ops[1].version = ZKC_ANY_VERSION;
		rc = zkc_multi(zkc, ops, 2, &failed);
	}
out:
	free(tdoc);
	free(cdoc);
	return rc;
}

/* Guard 2 in front of ops: a check of the epoch version. */
static struct zkc_op epoch_check(int32_t epoch_zk_version)
{
	return (struct zkc_op){ .type = ZKC_OP_CHECK,
				.path = ZK_CONTROLLER_EPOCH_PATH,
				.version = epoch_zk_version };
}

static int create_state(struct zkc *zkc, const char *topic, int32_t p,
			const struct zk_partition_state *s, int32_t epoch_zk_version)
{
	char ppath[ZK_PATH_MAX], spath[ZK_PATH_MAX], *doc;
	struct zkc_op ops[3];
	int rc, failed;

	if ((rc = zk_path_partition(ppath, sizeof(ppath), topic, p)) < 0 ||
	    (rc = zk_path_partition_state(spath, sizeof(spath), topic, p)) < 0)
		return rc;
	if (!(doc = zk_partition_state_encode(s)))
		return -ENOMEM;
	ops[0] = epoch_check(epoch_zk_version);
	ops[1] = (struct zkc_op){ .type = ZKC_OP_CREATE, .path = ppath };
	ops[2] = (struct zkc_op){
		.type = ZKC_OP_CREATE, .path = spath, .data = doc, .len = strlen(doc)
	};
	rc = zkc_multi(zkc, ops, 3, &failed);
	if (rc == -EEXIST && failed == 1) {
		/* The partition node survived an earlier try; its state
		 * is what is missing. */
		ops[1] = ops[2];
		rc = zkc_multi(zkc, ops, 2, &failed);
	}
	if (rc && failed == 0)
		rc = -EPERM;
	free(doc);
	return rc;
}

int zkmeta_create_partition_states(struct zkc *zkc, const char *topic,
				   const struct zk_partition_state *states, int n,
				   int32_t epoch_zk_version)
{
	char path[ZK_PATH_MAX];
	int rc, p;

	if ((rc = zk_path_partitions(path, sizeof(path), topic)) < 0)
		return rc;
	rc = zkc_create(zkc, path, NULL, 0, ZKC_PERSISTENT, NULL, 0);
	if (rc && rc != -EEXIST)
		return rc;
	for (p = 0; p < n; p++)
		if ((rc = create_state(zkc, topic, p, &states[p], epoch_zk_version)))
			return rc;
	return 0;
}

int zkmeta_update_partition_state(struct zkc *zkc, const char *topic, int32_t partition,
				  const struct zk_partition_state *state, int32_t zk_version,
				  int32_t epoch_zk_version, int32_t *new_zk_version)
{
	char path[ZK_PATH_MAX], *doc;
	struct zkc_op ops[2];
	struct zkc_stat st;
	int rc, failed;

	if ((rc = zk_path_partition_state(path, sizeof(path), topic, partition)) < 0)
		return rc;
	if (zk_version < 0)
		return -EINVAL; /* guard 3 always names a version */
	if (!(doc = zk_partition_state_encode(state)))
		return -ENOMEM;
	if (epoch_zk_version == ZKC_ANY_VERSION) {
		rc = zkc_set(zkc, path, doc, strlen(doc), zk_version, &st);
		if (rc == 0 && new_zk_version)
			*new_zk_version = st.version;
	} else {
		ops[0] = epoch_check(epoch_zk_version);
		ops[1] = (struct zkc_op){ .type = ZKC_OP_SET,
					  .path = path,
					  .data = doc,
					  .len = strlen(doc),
					  .version = zk_version };
		rc = zkc_multi(zkc, ops, 2, &failed);
		if (rc == 0 && new_zk_version)
			*new_zk_version = ops[1].new_version;
		if (rc && failed == 0)
			rc = -EPERM;
	}
	free(doc);
	return rc;
}

int zkmeta_request_delete_topic(struct zkc *zkc, const char *topic)
{
	char tpath[ZK_PATH_MAX], dpath[ZK_PATH_MAX];
	int rc;

	if ((rc = zk_path_topic(tpath, sizeof(tpath), topic)) < 0 ||
	    (rc = zk_path_delete_topic(dpath, sizeof(dpath), topic)) < 0)
		return rc;
	if ((rc = zkc_exists(zkc, tpath, NULL, NULL, NULL)))
		return rc;
	return zkc_create(zkc, dpath, NULL, 0, ZKC_PARENTS, NULL, 0);
}

int zkmeta_delete_topic_pending(struct zkc *zkc, const char *topic)
{
	char dpath[ZK_PATH_MAX];
	int rc;

	if ((rc = zk_path_delete_topic(dpath, sizeof(dpath), topic)) < 0)
		return rc;
	rc = zkc_exists(zkc, dpath, NULL, NULL, NULL);
	return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

/* A notice for the controller or the brokers: doc (malloc'd, taken
 * over; NULL: out of memory) in a sequential znode under prefix. */
static int notify(struct zkc *zkc, const char *prefix, char *doc)
{
	int rc;

	if (!doc)
		return -ENOMEM;
	rc = zkc_create(zkc, prefix, doc, strlen(doc), ZKC_SEQUENTIAL | ZKC_PARENTS, NULL, 0);
	free(doc);
	return rc;
}

int zkmeta_notify_isr_change(struct zkc *zkc, const struct zk_isr_change *c)
{
	return notify(zkc, ZK_ISR_CHANGE_PREFIX, zk_isr_change_encode(c));
}

int zkmeta_notify_log_dir_failure(struct zkc *zkc, int32_t broker_id)
{
	return notify(zkc, ZK_LOG_DIR_EVENT_PREFIX,
		      zk_log_dir_event_encode(broker_id, ZK_LOG_DIR_FAILURE));
}

int zkmeta_cluster_id_read(struct zkc *zkc, char id[ZK_UUID_LEN + 1], char *why)
{
	char *data = NULL;
	size_t len;
	int rc;

	rc = zkc_get(zkc, ZK_CLUSTER_ID_PATH, &data, &len, NULL, NULL, NULL);
	if (rc < 0)
		return rc;
	rc = zk_cluster_id_decode(data, len, id, why);
	free(data);
	return rc;
}

int zkmeta_cluster_id(struct zkc *zkc, char id[ZK_UUID_LEN + 1], char *why)
{
	char *doc;
	int rc, tries;

	for (tries = 0; tries < 2; tries++) {
		rc = zkmeta_cluster_id_read(zkc, id, why);
		if (rc != -ENOENT)
			return rc;
		/* First broker of the cluster: make one. If another broker
		 * makes it first, ours fails and theirs is read. */
		if ((rc = zk_uuid_new(id)))
			return rc;
		if (!(doc = zk_cluster_id_encode(id)))
			return -ENOMEM;
		rc = zkc_create(zkc, ZK_CLUSTER_ID_PATH, doc, strlen(doc), ZKC_PARENTS, NULL, 0);
		free(doc);
		if (rc == 0)
			return 0;
		if (rc != -EEXIST)
			return rc;
	}
	return rc;
}

/* Kafka's brokers learn of a changed user or topic config from a
 * notification znode. */
static int notify_change(struct zkc *zkc, char *doc)
{
	return notify(zkc, ZK_CONFIG_CHANGE_PREFIX, doc);
}

int zkmeta_purge_notices(struct zkc *zkc, const char *root, const char *prefix, char *const *names,
			 int n, int64_t now_ms, int64_t max_age_ms)
{
	size_t plen = strlen(prefix);
	int deleted = 0;

	for (int i = 0; i < n; i++) {
		char path[ZK_PATH_MAX];
		struct zkc_stat st;
		int rc;

		/* Only the notifications: anything else there is not ours. */
		if (strncmp(names[i], prefix, plen))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", root, names[i]) >= (int)sizeof(path))
			continue;
		rc = zkc_exists(zkc, path, &st, NULL, NULL);
		if (rc == 0 && now_ms - st.ctime > max_age_ms) {
			rc = zkc_delete(zkc, path, ZKC_ANY_VERSION);
			deleted += rc == 0;
		}
		if (rc < 0 && rc != -ENOENT)
			return rc;
	}
	return deleted;
}

int zkmeta_purge_config_changes(struct zkc *zkc, char *const *names, int n, int64_t now_ms,
				int64_t max_age_ms)
{
	/* The notifications' name prefix: "config_change_". */
	return zkmeta_purge_notices(zkc, ZK_CONFIG_CHANGES_PATH,
				    &ZK_CONFIG_CHANGE_PREFIX[strlen(ZK_CONFIG_CHANGES_PATH "/")],
				    names, n, now_ms, max_age_ms);
}

int zkmeta_scram_user(struct zkc *zkc, const char *user, struct sasl_user_creds *creds,
		      zkc_watch_fn *watch, void *arg, char *why)
{
	char path[ZK_PATH_MAX], *data = NULL;
	size_t len;
	int rc;

	if ((rc = zk_path_user(path, sizeof(path), user)) < 0)
		return rc;
	rc = zkc_get(zkc, path, &data, &len, NULL, watch, arg);
	if (rc == 0)
		rc = zk_user_scram_decode(data, len, creds, why);
	free(data);
	return rc;
}

/* An entity's config znode at path into *c, with its version. */
static int entity_config(struct zkc *zkc, const char *path, struct zk_config *c, int32_t *version,
			 char *why)
{
	char *data = NULL;
	struct zkc_stat st;
	size_t len;
	int rc;

	memset(c, 0, sizeof(*c));
	rc = zkc_get(zkc, path, &data, &len, &st, NULL, NULL);
	if (rc == 0)
		rc = zk_config_decode(data, len, c, why);
	if (rc == 0 && version)
		*version = st.version;
	free(data);
	return rc;
}

/* Writes an entity's config znode at path (at version, or created when
 * missing with ZKC_ANY_VERSION), then the notification naming ent. */
static int set_entity_config(struct zkc *zkc, const char *path, const char *ent,
			     const struct zk_config *c, int32_t version)
{
	char *doc;
	int rc;

	if (!(doc = zk_config_encode(c)))
		return -ENOMEM;
	if (version == ZKC_ANY_VERSION) {
		rc = zkc_create(zkc, path, doc, strlen(doc), ZKC_PARENTS, NULL, 0);
		if (rc == -EEXIST)
			rc = zkc_set(zkc, path, doc, strlen(doc), ZKC_ANY_VERSION, NULL);
	} else {
		rc = zkc_set(zkc, path, doc, strlen(doc), version, NULL);
	}
	free(doc);
	return rc ? rc : notify_change(zkc, zk_config_change_encode(ent));
}

/* The config znode of a topic (broker false) or a broker into path, and
 * the entity path its notifications name into ent (ZK_PATH_MAX each). */
static int entity_paths(bool broker, const char *name, char *path, char *ent)
{
	int rc = broker ? zk_path_broker_config(path, ZK_PATH_MAX, name)
			: zk_path_topic_config(path, ZK_PATH_MAX, name);

	snprintf(ent, ZK_PATH_MAX, "%s/%s", broker ? "brokers" : "topics", name);
	return rc;
}

static int config_of(struct zkc *zkc, bool broker, const char *name, struct zk_config *c,
		     int32_t *version, char *why)
{
	char path[ZK_PATH_MAX], ent[ZK_PATH_MAX];
	int rc = entity_paths(broker, name, path, ent);

	memset(c, 0, sizeof(*c));
	return rc < 0 ? rc : entity_config(zkc, path, c, version, why);
}

static int set_config_of(struct zkc *zkc, bool broker, const char *name, const struct zk_config *c,
			 int32_t version)
{
	char path[ZK_PATH_MAX], ent[ZK_PATH_MAX];
	int rc = entity_paths(broker, name, path, ent);

	return rc < 0 ? rc : set_entity_config(zkc, path, ent, c, version);
}

static int entity_path(const char *entity, char *path)
{
	int n = snprintf(path, ZK_PATH_MAX, "/config/%s", entity);

	return n < 0 || n >= ZK_PATH_MAX ? -ENAMETOOLONG : 0;
}

int zkmeta_entity_config(struct zkc *zkc, const char *entity, struct zk_config *c, int32_t *version,
			 char *why)
{
	char path[ZK_PATH_MAX];
	int rc = entity_path(entity, path);

	memset(c, 0, sizeof(*c));
	return rc < 0 ? rc : entity_config(zkc, path, c, version, why);
}

int zkmeta_edit_entity_config(struct zkc *zkc, const char *entity, zkmeta_edit_fn *edit, void *arg,
			      char *why)
{
	char path[ZK_PATH_MAX];
	int rc = entity_path(entity, path), tries = 0;

	if (rc < 0)
		return rc;
	do {
		struct zk_config c;
		int32_t version;

		rc = entity_config(zkc, path, &c, &version, why);
		if (rc == -ENOENT) {
			version = ZKC_ANY_VERSION; /* made by the write */
			rc = 0;
		}
		if (rc == 0)
			rc = edit(&c, arg);
		if (rc == ZKMETA_EDIT_DROP && c.n == 0 && version != ZKC_ANY_VERSION) {
			/* Nothing left: the znode goes; one with entities
			 * under it (a user's clients) stays, empty. */
			rc = zkc_delete(zkc, path, version);
			if (rc == 0)
				rc = notify_change(zkc, zk_config_change_encode(entity));
			else if (rc == -ENOTEMPTY)
				rc = set_entity_config(zkc, path, entity, &c, version);
		} else if (rc == 0 || rc == ZKMETA_EDIT_DROP) {
			rc = set_entity_config(zkc, path, entity, &c, version);
		}
		zk_config_clear(&c);
	} while (rc == -ESTALE && ++tries < 5);
	return rc;
}

/* What one write does to a user's SCRAM keys: per mechanism, the
 * document of a credential to set, or a deletion. */
struct scram_change {
	char *docs[SASL_N_MECH];
	bool del[SASL_N_MECH];
};

/* The SCRAM keys of a user's config set or deleted (-ENOENT, nothing
 * written, when a key to delete is not there). */
static int scram_edit(struct zk_config *c, void *arg)
{
	struct scram_change *ch = arg;
	char why[ZK_WHY_LEN];
	struct zk_config one;
	bool dropped = false;
	int rc = 0;

	for (int m = 0; m < SASL_N_MECH; m++) {
		if (!ch->del[m])
			continue;
		if (!zk_config_del(c, sasl_mech_name((enum sasl_mech)m)))
			return -ENOENT;
		dropped = true;
	}
	for (int m = 0; rc == 0 && m < SASL_N_MECH; m++) {
		if (!ch->docs[m])
			continue;
		/* The credential's value as its own document holds it. */
		rc = zk_config_decode(ch->docs[m], strlen(ch->docs[m]), &one, why);
		if (rc == 0)
			rc = zk_config_put(c, one.keys[0], strlen(one.keys[0]), one.values[0],
					   strlen(one.values[0]));
		zk_config_clear(&one);
	}
	return rc == 0 && dropped ? ZKMETA_EDIT_DROP : rc;
}

int zkmeta_scram_user_alter(struct zkc *zkc, const char *user, const struct sasl_cred *const *set,
			    const bool *del)
{
	char path[ZK_PATH_MAX], ent[ZK_PATH_MAX], why[ZK_WHY_LEN];
	struct scram_change ch = { 0 };
	int rc;

	/* zk_path_user: the path's length, or -EINVAL for a name no znode
	 * can have. */
	if ((rc = zk_path_user(path, sizeof(path), user)) < 0)
		return rc;
	rc = 0;
	snprintf(ent, sizeof(ent), "users/%s", user);
	for (int m = 0; rc == 0 && m < SASL_N_MECH; m++) {
		ch.del[m] = del && del[m];
		if (set && set[m] && !(ch.docs[m] = zk_user_scram_encode(set[m])))
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = zkmeta_edit_entity_config(zkc, ent, scram_edit, &ch, why);
	for (int m = 0; m < SASL_N_MECH; m++)
		free(ch.docs[m]);
	return rc;
}

int zkmeta_scram_user_set(struct zkc *zkc, const char *user, const struct sasl_cred *cred)
{
	const struct sasl_cred *set[SASL_N_MECH] = { 0 };

	set[cred->mech] = cred;
	return zkmeta_scram_user_alter(zkc, user, set, NULL);
}

int zkmeta_scram_user_delete(struct zkc *zkc, const char *user, enum sasl_mech mech)
{
	bool del[SASL_N_MECH] = { 0 };

	del[mech] = true;
	return zkmeta_scram_user_alter(zkc, user, NULL, del);
}

int zkmeta_topic_config(struct zkc *zkc, const char *topic, struct zk_config *c, int32_t *version,
			char *why)
{
	return config_of(zkc, false, topic, c, version, why);
}

int zkmeta_set_topic_config(struct zkc *zkc, const char *topic, const struct zk_config *c,
			    int32_t version)
{
	return set_config_of(zkc, false, topic, c, version);
}

int zkmeta_broker_config(struct zkc *zkc, const char *name, struct zk_config *c, int32_t *version,
			 char *why)
{
	return config_of(zkc, true, name, c, version, why);
}

int zkmeta_set_broker_config(struct zkc *zkc, const char *name, const struct zk_config *c,
			     int32_t version)
{
	return set_config_of(zkc, true, name, c, version);
}
