/*
 * zkmeta.h — the cluster's metadata operations on ZooKeeper, as Kafka's
 * KafkaZkClient and controller do them before KRaft: broker registration,
 * controller election with its epoch, topics with their assignments and
 * partition states, and the guarded writes that keep a deposed controller
 * or a stale leader from overwriting newer state. Documents and paths are
 * zkdata.h's; the client is zkc.h. Private to repl/.
 *
 * The guards (the invariants this file keeps):
 *   1. A broker id is held by one session: /brokers/ids/<id> is ephemeral,
 *      created only if absent; it disappears with the session.
 *   2. At most one controller: /controller is ephemeral and created in the
 *      same transaction that moves /controller_epoch from e to e+1 under a
 *      check of its znode version. The winner keeps that version (call it
 *      the epoch version) and puts a check of it in front of every write it
 *      makes; once another broker wins, that check fails (-EPERM here), so
 *      a deposed controller can change nothing.
 *   3. A partition state changes only from the version that was read: a
 *      write names the znode version it was based on, and a concurrent
 *      change makes it fail (-ESTALE); the writer re-reads and decides again.
 *
 * All calls are synchronous zkc calls: never from a zkc callback (zkc.h,
 * "Threads"). Errors are zkc's, plus -EBADMSG (a znode holds a document
 * that does not decode; `why` says what) and -EPERM (guard 2).
 */
#ifndef MQFS_REPL_ZKMETA_H
#define MQFS_REPL_ZKMETA_H

#include <stdint.h>

#include "repl/sasl.h"
#include "repl/zkc.h"
#include "repl/zkdata.h"

/* The persistent paths every broker expects (Kafka creates them at start):
 * /brokers/ids, /brokers/topics, /brokers/seqid, /config/topics,
 * /config/changes, /admin/delete_topics, /isr_change_notification,
 * /config/users, /log_dir_event_notification. */
int zkmeta_ensure_paths(struct zkc *zkc);

/* Registers b as /brokers/ids/<broker_id> (ephemeral). -EEXIST when another
 * session holds the id; 0 also when this session already does (a retry
 * after a lost connection, or a new document for the same registration:
 * the data is rewritten, the czxid and so the broker epoch stay). */
int zkmeta_register_broker(struct zkc *zkc, int32_t broker_id, const struct zk_broker *b);

/* Sorted ids of the registered brokers; watch (may be NULL) fires when the
 * set changes. Returns the count; *ids is malloc'd. */
int zkmeta_broker_ids(struct zkc *zkc, int32_t **ids, zkc_watch_fn *watch, void *arg);

/* Sorted ids of the registered brokers and each one's broker.rack (NULL:
 * none, or a registration that does not decode), as Kafka's
 * getAllBrokersInCluster gives replica placement. A broker gone between
 * the listing and its read is left out. Returns the count; *ids and
 * *racks are malloc'd, free them with zkmeta_broker_racks_free. */
int zkmeta_broker_racks(struct zkc *zkc, int32_t **ids, char ***racks);
void zkmeta_broker_racks_free(int32_t *ids, char **racks, int n);

struct zkmeta_controller {
	int32_t controller_id;    /* the elected broker */
	int32_t epoch;            /* controller epoch: set when this broker won */
	int32_t epoch_zk_version; /* the epoch version of guard 2: idem */
};

/* Tries to become the controller. 1: this broker won (out holds the new
 * epoch and the epoch version); 0: another broker is the controller
 * (out->controller_id), and watch (may be NULL) is armed on /controller:
 * it fires when the controller changes or goes, and the owner then calls
 * zkmeta_elect again. */
int zkmeta_elect(struct zkc *zkc, int32_t broker_id, int64_t now_ms, struct zkmeta_controller *out,
		 zkc_watch_fn *watch, void *arg, char *why);

struct zkmeta_partition {
	int present; /* 0: no state yet (a new topic), or one that does not decode */
	struct zk_partition_state state;
	int32_t zk_version; /* the state znode's version */
	/* The state znode's czxid (its making), 0 when unknown: a broker
	 * registered before it (a lower broker epoch) cannot have held a
	 * log of the partition in that life. */
	int64_t czxid;
	/* Why the state znode there does not decode (any client of the
	 * ensemble may write it: an operator's zkCli), malloc'd; NULL when
	 * it was read or is absent. Such a partition is neither new nor
	 * known: a reader leaves it as it is. */
	char *unreadable;
};

struct zkmeta_topic {
	char name[ZK_TOPIC_MAX + 1];
	struct zk_topic assignment;
	struct zkmeta_partition *partitions; /* assignment.n_partitions of them */
};

/* Reads a topic's assignment and every partition's state. -ENOENT when
 * the topic does not exist; -EBADMSG (the reason in why) when its
 * assignment does not decode. A partition state that does not decode
 * fails only that partition: its unreadable says why, the rest is read. */
int zkmeta_read_topic(struct zkc *zkc, const char *topic, struct zkmeta_topic *t, char *why);
void zkmeta_topic_clear(struct zkmeta_topic *t);
/* A name of a /brokers/topics listing read as zkmeta_read_topic does: 1
 * read into *t; 0 when the name is no topic's (not ours to read) or the
 * topic went since the listing; -errno. */
int zkmeta_read_listed(struct zkc *zkc, const char *name, struct zkmeta_topic *t, char *why);

/* Reads every topic (sorted by name); watch (may be NULL) fires when topics
 * are added or removed. Returns the count; free with zkmeta_topics_free. A
 * topic deleted while it is read is left out. */
int zkmeta_read_topics(struct zkc *zkc, struct zkmeta_topic **topics, zkc_watch_fn *watch,
		       void *arg, char *why);
void zkmeta_topics_free(struct zkmeta_topic *topics, int n);

/* Creates the topic: its assignment and its config overrides (config may
 * be NULL: none), in one transaction. -EEXIST when the topic exists. */
int zkmeta_create_topic(struct zkc *zkc, const char *topic, const struct zk_topic *assignment,
			const struct zk_config *config);

/* The controller's half of a new topic: writes the initial state of each
 * of its n partitions (states[p]), each guarded by the epoch version.
 * -EPERM (guard 2), -EEXIST when a state exists already. */
int zkmeta_create_partition_states(struct zkc *zkc, const char *topic,
				   const struct zk_partition_state *states, int n,
				   int32_t epoch_zk_version);

/* Writes a partition's state if its znode still has version zk_version
 * (guard 3) and, when epoch_zk_version is not ZKC_ANY_VERSION, if the
 * writer is still the controller (guard 2). *new_zk_version (may be NULL)
 * gets the version after. -ESTALE, -EPERM, -ENOENT. */
int zkmeta_update_partition_state(struct zkc *zkc, const char *topic, int32_t partition,
				  const struct zk_partition_state *state, int32_t zk_version,
				  int32_t epoch_zk_version, int32_t *new_zk_version);

/* Asks the controller to delete a topic (/admin/delete_topics/<t>).
 * -ENOENT when no such topic, -EEXIST when already asked. */
int zkmeta_request_delete_topic(struct zkc *zkc, const char *topic);
/* Whether the deletion of topic is still asked for: 1 while
 * /admin/delete_topics/<t> is there (the controller removes it in the
 * transaction that removes the topic's znodes), 0 once it is gone. */
int zkmeta_delete_topic_pending(struct zkc *zkc, const char *topic);

/* Tells the controller that the ISR of these partitions changed (a
 * sequential /isr_change_notification/isr_change_ znode). */
int zkmeta_notify_isr_change(struct zkc *zkc, const struct zk_isr_change *c);

/* Tells the controller that broker_id's log directory failed (a
 * sequential /log_dir_event_notification/log_dir_event_ znode, Kafka's
 * propagateLogDirEvent). */
int zkmeta_notify_log_dir_failure(struct zkc *zkc, int32_t broker_id);

/* SCRAM users, as kafka-configs.sh --entity-type users writes them: the
 * credential in /config/users/<user> under its mechanism's name (created,
 * or put beside the znode's other settings: client quotas and the other
 * mechanism's credential), and a change notification for Kafka's
 * brokers. -EINVAL for a user name that is not zk_user_name_valid;
 * delete: -ENOENT when the user has no credential of mech (the znode goes
 * once nothing else is left in it). */
int zkmeta_scram_user_set(struct zkc *zkc, const char *user, const struct sasl_cred *cred);
int zkmeta_scram_user_delete(struct zkc *zkc, const char *user, enum sasl_mech mech);
/* Both at once, in one write, as Kafka alters a user's mechanisms
 * together: set[m] (NULL, or entries NULL: none) becomes the credential
 * of mechanism m, del[m] (NULL: none) deletes it; -ENOENT, nothing
 * written, when a credential to delete is not there. */
int zkmeta_scram_user_alter(struct zkc *zkc, const char *user, const struct sasl_cred *const *set,
			    const bool *del);
/* Reads a user's credentials (zk_user_scram_decode); watch (may be NULL)
 * fires when the znode changes or goes. -ENOENT no such user (or no
 * SCRAM credential), -EBADMSG. */
int zkmeta_scram_user(struct zkc *zkc, const char *user, struct sasl_user_creds *creds,
		      zkc_watch_fn *watch, void *arg, char *why);

/* A client quota entity's config, entity "users/<u>", "clients/<c>" or
 * "users/<u>/clients/<c>" (sanitized names or <default>): as
 * zkmeta_topic_config for /config/<entity>. */
int zkmeta_entity_config(struct zkc *zkc, const char *entity, struct zk_config *c, int32_t *version,
			 char *why);
/* Changes an entity's config (entity as above) in place: reads it (empty
 * when the znode is missing), lets edit change it, and writes it at the
 * version read (made when it was missing), with the notice; all again
 * when another writer came between (up to 5 times). The keys edit does
 * not touch stay as they were (a user's SCRAM credential beside its
 * quotas). edit returns 0 to write, -errno to write nothing (returned),
 * or ZKMETA_EDIT_DROP: the znode is deleted if nothing is left in it
 * and nothing under it, else written. why: a document that does not
 * decode (-EBADMSG). */
#define ZKMETA_EDIT_DROP 1
typedef int zkmeta_edit_fn(struct zk_config *c, void *arg);
int zkmeta_edit_entity_config(struct zkc *zkc, const char *entity, zkmeta_edit_fn *edit, void *arg,
			      char *why);

/* A topic's overrides (/config/topics/<t>) and the znode's version
 * (version may be NULL). -ENOENT, -EBADMSG (why says what). */
int zkmeta_topic_config(struct zkc *zkc, const char *topic, struct zk_config *c, int32_t *version,
			char *why);
/* Writes a topic's overrides at version (ZKC_ANY_VERSION: created when
 * missing) and then the notification
 * /config/changes/config_change_<seq> {"version":2,"entity_path":
 * "topics/<t>"}, as kafka-configs.sh does. -ESTALE (another write came
 * between), -EINVAL bad name. */
int zkmeta_set_topic_config(struct zkc *zkc, const char *topic, const struct zk_config *c,
			    int32_t version);

/* A broker's dynamic config (/config/brokers/<name>, name a broker id
 * or ZK_BROKER_DEFAULT) and its version: as zkmeta_topic_config. */
int zkmeta_broker_config(struct zkc *zkc, const char *name, struct zk_config *c, int32_t *version,
			 char *why);
/* Writes it (as zkmeta_set_topic_config), then the notification
 * {"version":2,"entity_path":"brokers/<name>"}, as kafka-configs.sh
 * --entity-type brokers does. */
int zkmeta_set_broker_config(struct zkc *zkc, const char *name, const struct zk_config *c,
			     int32_t version);

/* Deletes the notifications among names (children of /config/changes, as
 * listed) created more than max_age_ms before now_ms (the server's ctime
 * against this broker's clock, as Kafka's brokers purge them after
 * processing). One that is gone meanwhile (another broker's purge) is
 * not an error. The count deleted, or -errno of the first failure. */
/* The same for any notices' directory root and name prefix (the ACL
 * change notices, acl_zk.c). */
int zkmeta_purge_notices(struct zkc *zkc, const char *root, const char *prefix, char *const *names,
			 int n, int64_t now_ms, int64_t max_age_ms);
int zkmeta_purge_config_changes(struct zkc *zkc, char *const *names, int n, int64_t now_ms,
				int64_t max_age_ms);

/* The cluster id, created on first use by whichever broker comes first. */
int zkmeta_cluster_id(struct zkc *zkc, char id[ZK_UUID_LEN + 1], char *why);

/* The cluster id as /cluster/id holds it, never created: -ENOENT when the
 * ensemble has none (new, or its data lost), -EBADMSG (why says) when it
 * does not decode. */
int zkmeta_cluster_id_read(struct zkc *zkc, char id[ZK_UUID_LEN + 1], char *why);

#endif
