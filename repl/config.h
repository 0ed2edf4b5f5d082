/*
 * config.h — private to repl/: the broker's and the topics' settings
 * (parsed and rendered by config.c), with their engine parts (struct
 * log_config, the I/O table). fs sees struct broker_config only as an
 * opaque type (repl.h); tests and repl/ fill it here.
 */
#ifndef MQFS_REPL_CONFIG_H
#define MQFS_REPL_CONFIG_H

#include "engine/engine.h"
#include "repl/cluster_config.h"
#include "repl/repl.h"

struct broker_config {
	char data_dir[4096];
	int32_t broker_id;      /* broker.id (0) */
	int32_t num_partitions; /* num.partitions (1) */
	struct log_config log;  /* log.segment.bytes, log.roll.ms, ... */
	int acks;               /* acks default for topics: 0, 1, -1 (all) */
	int64_t buffer_memory;  /* buffer.memory (32 MiB) */
	int64_t linger_ms;      /* linger.ms default for topics (0) */
	/* request.timeout.ms (30000): longest wait of an acks=all write for
	 * the high watermark to cover its records (-ETIMEDOUT). */
	int64_t request_timeout_ms;
	/* The engine's file I/O (NULL: io_posix); tests pass a fault table. */
	const struct io_ops *io;
	int64_t flush_scheduler_ms;     /* log.flush.scheduler.interval.ms */
	int64_t checkpoint_interval_ms; /* log.flush.offset.checkpoint.interval.ms (60000) */
	/* Retention and compaction. */
	int64_t retention_check_ms; /* log.retention.check.interval.ms (300000) */
	bool cleaner_enable;        /* log.cleaner.enable (true) */
	bool auto_create_topics;    /* auto.create.topics.enable (true):
					     * Metadata and Produce of a client
					     * create an unknown topic */
	/* group.min/max.session.timeout.ms (6000, 1800000): the session
	 * timeouts a Kafka consumer group member may ask for. */
	int32_t group_min_session_ms;
	int32_t group_max_session_ms;
	int32_t group_max_size; /* group.max.size: members of one Kafka group */
	/* group.initial.rebalance.delay.ms (0): how long an Empty group's
	 * first rebalance waits for more members (Kafka's default is 3000). */
	int32_t group_initial_delay_ms;
	/* offsets.retention.check.interval.ms (600000): how often the group
	 * coordinator expires committed offsets (offsets.retention.minutes)
	 * and removes its Empty Kafka groups without committed offsets
	 * (group_serve.c, as Kafka's offsets cleanup does). */
	int64_t offsets_retention_check_ms;
	/* offsets.retention.minutes (10080, 1..2^31-1 as Kafka's): how long
	 * a committed offset of a group without members is kept, counted from
	 * its commit or from when the group's last member left, whichever is
	 * later; and (KIP-496) a Stable Kafka group's offset of a topic none
	 * of its members subscribes to, counted from its commit
	 * (group_serve.c). */
	int32_t offsets_retention_minutes;
	/* offset.metadata.max.bytes (4096, Kafka's; 0..65536): the longest
	 * metadata string an OffsetCommit keeps with an offset, in UTF-16
	 * code units as Kafka's String.length(); a longer one is
	 * OFFSET_METADATA_TOO_LARGE for its partition (group_serve_offsets.c). */
	int32_t offset_metadata_max_bytes;
	/* producer.id.expiration.ms (86400000): an idempotent producer whose
	 * last batch is older than this is forgotten by a leader's producer
	 * state (checked every log.retention.check.interval.ms and when the
	 * state is rebuilt from the log). */
	int64_t producer_id_expiration_ms;
	int64_t cleaner_backoff_ms;   /* log.cleaner.backoff.ms (15000) */
	int64_t cleaner_dedupe_bytes; /* log.cleaner.dedupe.buffer.size (128 MiB) */
	/* log.segment.fd.cache: idle closed segments whose descriptors stay
	 * open (0: a quarter of RLIMIT_NOFILE / 4, at least 16). */
	int64_t segment_fd_cache;
	/* ZooKeeper, the listener, SASL, replication (cluster_config.h). */
	struct cluster_config cluster;
	/* The settings a parsed text (the --config file) gave, one bit per
	 * setting under the name DescribeConfigs reports it by (log.roll.hours
	 * is log.roll.ms's, log.dir log.dirs', ...): as Kafka's originals,
	 * STATIC_BROKER_CONFIG is a key's presence, not a value other than
	 * the built-in default (broker_config_file_set). ids: config.c's
	 * setting ids; cluster: cluster_config_key_index's. */
	struct {
		uint64_t ids[2], cluster[2];
	} file_set;
	/* The time aliases as the text gave them, valid where file_set has
	 * their bit (their own, not the .ms key's): DescribeConfigs lists
	 * them under their own names, as Kafka's STATIC_BROKER_CONFIG
	 * synonyms (broker_config_render_aliases). */
	struct {
		int64_t retention_minutes, retention_hours, roll_hours, roll_jitter_hours;
	} alias;
};
void broker_config_defaults(struct broker_config *c);
/* Parses a server.properties text. On error returns -EINVAL and writes a
 * message naming the line ("line 3: unknown key 'foo'") into err, or for
 * the cluster settings' checks across keys (cluster_config_check) the key
 * ("security.inter.broker.protocol: no SASL_PLAINTEXT listener ..."). */
int broker_config_parse(struct broker_config *c, const char *text, size_t len, char *err,
			size_t errlen);
/* Renders the effective broker config as key=value lines (malloc'ed);
 * the cluster settings only when zookeeper.connect or listeners is set. */
int broker_config_render(const struct broker_config *c, char **out, size_t *len);
/* The same for a started broker whose listener i is bound to ports[i]:
 * an advertised port 0 shows the bound one (cluster_config_render). */
int broker_config_render_bound(const struct broker_config *c, const int *ports, char **out,
			       size_t *len);
/* Whether key (klen bytes) is a dynamic broker setting that is a topic
 * setting's default (Kafka 3.7's DynamicLogConfig keys that mqfs has:
 * log.retention.ms, log.segment.bytes, min.insync.replicas, ...); the
 * i-th of them (NULL past the last), for listing them. */
bool broker_config_dynamic_key(const char *key, size_t klen);
const char *broker_config_dynamic_key_at(size_t i);
/* Whether key (klen bytes) is any dynamic broker setting: the topic
 * defaults of broker_config_dynamic_key and Kafka 3.7's other
 * reconfigurable broker settings that mqfs has (log.cleaner.backoff.ms,
 * log.cleaner.dedupe.buffer.size, producer.id.expiration.ms,
 * max.connections, max.connections.per.ip); the i-th of them (NULL past
 * the last). */
bool broker_config_reconfigurable_key(const char *key, size_t klen);
const char *broker_config_reconfigurable_key_at(size_t i);
/* Applies the "key=value" lines of a dynamic broker config
 * (/config/brokers/<id> or <default>) to c, each checked as the same key
 * in a server.properties, all or nothing: -EINVAL with the reason in err
 * (a key that is not broker_config_reconfigurable_key's too). The file's
 * keys (broker_config_file_set) stay as they were. */
int broker_config_apply_dynamic(struct broker_config *c, const char *text, size_t len, char *err,
				size_t errlen);
/* The same without the checks across keys (a value's type and range
 * only): a value whose pair may be at another level, checked with the
 * levels together by broker_config_dynamic_effective. */
int broker_config_apply_dynamic_value(struct broker_config *c, const char *text, size_t len,
				      char *err, size_t errlen);
/* The config in effect (*out) of a broker whose config file gave st and
 * whose dynamic settings are def_text (/config/brokers/<default>, every
 * broker's) and self_text (its own, /config/brokers/<id>), "key=value"
 * lines: this broker's over the default over the file's, Kafka's
 * precedence. Each line is applied on its own: one that
 * broker_config_apply_dynamic refuses (written by another tool, or a key
 * that is no setting of the file: the throttle rates) is skipped and
 * given to bad (NULL: none) with the reason. The result is then checked
 * as one config, as a file would be (log.cleaner.min.compaction.lag.ms
 * not above the max, ...): -EINVAL with the reason in err when the
 * levels disagree (*out untouched), else 0; or -ENOMEM. A reason that
 * opens with BROKER_CONFIG_REQUIREMENT is one of Kafka's require checks
 * in building a KafkaConfig, whose words Kafka's AlterConfigs answer
 * carries as they are (not as an "Invalid dynamic configuration"). */
#define BROKER_CONFIG_REQUIREMENT "requirement failed: "
int broker_config_dynamic_effective(const struct broker_config *st, const char *def_text,
				    size_t dlen, const char *self_text, size_t slen,
				    struct broker_config *out,
				    void (*bad)(void *arg, const char *line, size_t n,
						const char *why),
				    void *arg, char *err, size_t errlen);
/* Whether a parsed text set the broker setting key (klen bytes, a name
 * broker_config_render writes), itself or by an alias of it. */
bool broker_config_file_set(const struct broker_config *c, const char *key, size_t klen);
/* The time aliases the parsed text set (log.retention.minutes,
 * log.retention.hours, log.roll.hours, log.roll.jitter.hours), one
 * "key=value\n" line each with the value as given, into *text
 * (malloc'ed; "" when none). 0 or -ENOMEM. */
int broker_config_render_aliases(const struct broker_config *c, char **text, size_t *len);

/* The longest throttled-replicas list a topic keeps, with its NUL. */
#define TOPIC_THROTTLE_LIST_MAX 2048

/* Topic-level settings: Kafka topic config names. */
struct topic_config {
	int32_t partitions;           /* partitions (num.partitions) */
	int acks;                     /* acks: 0, 1, -1 = all (default all) */
	int64_t linger_ms;            /* linger.ms (0) */
	int32_t min_insync_replicas;  /* min.insync.replicas (the broker's) */
	bool unclean_leader_election; /* unclean.leader.election.enable (the broker's) */
	struct log_config log;        /* segment.bytes, segment.ms, ... */
	/* leader.replication.throttled.replicas and
	 * follower.replication.throttled.replicas: "*" or partition:broker
	 * pairs in canonical form (throttle_list_canon), "" none (the
	 * default). Applied by the replication throttles (throttle.h). */
	char leader_throttled[TOPIC_THROTTLE_LIST_MAX];
	char follower_throttled[TOPIC_THROTTLE_LIST_MAX];
	/* The settings given explicitly (a "key=value" line applied), one bit
	 * per topic setting (topic_config_key_set): Kafka's topic overrides,
	 * kept as such even when equal to the broker's default, so that a
	 * later change of that default leaves them; a "-key" line clears the
	 * bit and takes the default again. partitions, key.separator and
	 * line.format have no bit: they are pinned to the topic whatever
	 * the default. */
	uint64_t overrides;
};
/* Applies "key=value" lines to *tc (a copy the caller owns). All or
 * nothing: on the first bad line returns -EINVAL with a message in err and
 * leaves *tc unchanged. Keys: see README.md "Topic settings". A "-key"
 * line (no value) removes the override: the key takes its value from def,
 * the broker's defaults (def NULL: such a line is refused). */
int topic_config_apply(struct topic_config *tc, const char *text, size_t len, char *err,
		       size_t errlen);
int topic_config_apply_def(struct topic_config *tc, const struct topic_config *def,
			   const char *text, size_t len, char *err, size_t errlen);
/* topic_config_apply_def of the lines pre (checked before, their errors
 * reported as "an earlier line") then text, whose lines are numbered in
 * messages from line0 + 1: what the whole text from the open of a .config
 * applies, when pre is its earlier lines as topic_config_compact keeps
 * them. */
int topic_config_apply_more(struct topic_config *tc, const struct topic_config *def,
			    const char *pre, size_t plen, const char *text, size_t len, int line0,
			    char *err, size_t errlen);
/* topic_config_apply_def without the checks across settings (a
 * min.compaction.lag.ms above max.compaction.lag.ms taken): how settings
 * already stored are loaded (a topic's catalog file at the start, its
 * overrides in ZooKeeper, new broker defaults under its overrides), as
 * Kafka's LogConfig.fromProps, which checks them only when they are set
 * (AlterConfigs, CreateTopics, a .config write). */
int topic_config_load(struct topic_config *tc, const struct topic_config *def, const char *text,
		      size_t len, char *err, size_t errlen);
/* The checks across settings of tc (Kafka's LogConfig.validateValues):
 * 0, or -EINVAL with Kafka's words in err ("conflict topic config
 * setting min.compaction.lag.ms (5000) > max.compaction.lag.ms (1000)"). */
int topic_config_check(const struct topic_config *tc, char *err, size_t errlen);
/* Whether the setting key (klen bytes) was given explicitly (see
 * struct topic_config, overrides). */
bool topic_config_key_set(const struct topic_config *tc, const char *key, size_t klen);
/* Whether a .config text has a setting line of key ("key=...", or
 * "-key"), as the parser reads its lines. */
bool topic_config_text_names(const char *text, size_t len, const char *key);
/* The "-key" lines (malloc'ed) of every setting of tc that is no
 * override (struct topic_config, overrides; partitions, key.separator and
 * line.format never: they are the topic's): applied over new defaults,
 * they give tc what a change of the broker's defaults gives it. */
int topic_config_inherited_text(const struct topic_config *tc, char **out, size_t *len);
/* Renders every topic setting as key=value lines (malloc'ed). */
int topic_config_render(const struct topic_config *tc, char **out, size_t *len);

/* The broker setting a topic setting defaults from ("segment.bytes":
 * "log.segment.bytes", "partitions": "num.partitions"), or NULL when key
 * is not a topic setting. */
const char *topic_config_broker_key(const char *key);
/* The settings a new topic gets from the broker config c. */
void topic_config_defaults_of(const struct broker_config *c, struct topic_config *tc);
/* The settings of a topic whose overrides (a cluster's /config/topics/<t>,
 * NULL: none) are zc, over the broker config c (topic_overrides.c), loaded
 * (topic_config_load: settings that disagree with each other are taken).
 * On a bad override -EINVAL with the reason in err, and *tc the defaults. */
struct zk_config;
int topic_config_of_overrides(const struct broker_config *c, const struct zk_config *zc,
			      struct topic_config *tc, char *err, size_t errlen);

/* The settings the broker was opened with. */
const struct broker_config *broker_cfg(struct broker *b);

#endif
