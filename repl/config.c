/*
 * config.c — the broker's server.properties and a topic's .config settings.
 * See repl.h, section "configuration".
 *
 * Text format (both)
 * ------------------
 * A subset of java.util.Properties as Kafka reads server.properties:
 *
 *   - lines end at '\n' (a '\r' before it is whitespace); lines are
 *     numbered from 1 for error messages;
 *   - blank lines and lines whose first non-blank byte is '#' or '!' are
 *     comments;
 *   - every other line is  key '=' value  or  key ':' value; the key ends at
 *     the first '=' or ':'; whitespace (space, tab, CR, FF, VT) around key
 *     and value is trimmed;
 *   - no line continuation and no backslash escapes, except in the value of
 *     key.separator: \t (tab), \s (space), \\ (backslash);
 *   - a key given twice: the last line wins; a NUL byte anywhere in a
 *     setting line is an error;
 *   - a topic's text only: a line  '-' key  (no value) removes the key's
 *     override, the key then takes the broker's default (struct
 *     topic_config, overrides; topic_config_apply_def).
 *
 * Values: integers are decimal digits only (no sign, no "0x", no suffix,
 * no junk), and must lie in the key's range, but for the limits where
 * Kafka reads a negative number as "no limit": -1 for retention.ms of a
 * topic (Kafka's atLeast(-1)), any negative integer for retention.bytes
 * (Kafka's "can be negative") and for the broker's log.retention.ms,
 * .minutes and .hours (Kafka's broker turns a negative retention into
 * -1), kept as -1; booleans are true or false in any case (Kafka's
 * equalsIgnoreCase); acks is all, -1, 0 or 1;
 * compression.type is producer, none, gzip, snappy, lz4 or zstd
 * ("uncompressed", Kafka's broker-side name, means none); message.format.version a version Kafka knows (parse_mfv);
 * leader/follower.replication.throttled.replicas "*" or partition:broker
 * pairs as Kafka validates them (throttle_list_check), kept canonical.
 *
 * Errors: the first bad line makes the whole text fail with -EINVAL and a
 * message in err, one of
 *   "line N: unknown key 'k'"
 *   "line N: bad value for 'k': 'v' (expected ...)" ('[hidden]' for v when
 *     it may hold a password: cluster_config_secret)
 *   "line N: Invalid value v for configuration k: Not a number of type
 *     LONG" (or INT: Kafka's type) for an integer setting whose value is
 *     no integer at all, in the words of Kafka's ConfigDef
 *   "line N: expected key=value: 'text'"
 *   "line N: missing key: 'text'"
 *   "line N: NUL byte"
 *   "line N: expected -key (a setting to remove): 'text'"
 *   "line N: cannot remove 'k' (why)"
 * and the config is left exactly as it was (parsing writes to a copy).
 *
 * Precedence (as in Kafka): within one text, log.roll.ms wins over
 * log.roll.hours and log.dirs over log.dir, whatever their order.
 *
 * Rendering writes every setting, one "key=value\n" line each, in the
 * fixed order of broker_render_order / the code of topic_config_render,
 * values in canonical form (acks=all, the codec's name, key.separator
 * escaped), so that parsing the rendered text back changes nothing.
 *
 * Threads: no shared state; callers own the structs they pass.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "repl/config.h"
#include "repl/throttle.h"

#define CFG_MAX_PARTITIONS 10000
#define CFG_MAX_FILE       (16 * 1024 * 1024)
#define CFG_MAX_BATCH      (64 * 1024 * 1024)
#define CFG_SHOW_KEY       100 /* bytes of a key quoted in a message */
#define CFG_SHOW_VALUE     200 /* bytes of a value quoted in a message */

enum cfg_kind {
	KIND_INT,
	KIND_ACKS,
	KIND_CODEC,
	KIND_SEP,
	KIND_PATH,
	KIND_INT_M1,
	KIND_POLICY,
	KIND_RATIO,
	KIND_BOOL,
	KIND_STR,
	KIND_LFMT,
	KIND_TSTYPE,
	KIND_MFV,
	KIND_THROTTLE
};

enum cfg_id {
	ID_BROKER_ID,
	ID_LOG_DIRS,
	ID_LOG_DIR,
	ID_NUM_PARTITIONS,
	ID_PARTITIONS,
	ID_SEGMENT_BYTES,
	ID_SEGMENT_MS,
	ID_ROLL_HOURS,
	ID_INDEX_BYTES,
	ID_INDEX_INTERVAL,
	ID_MAX_MESSAGE,
	ID_FLUSH_MESSAGES,
	ID_FLUSH_MS,
	ID_FLUSH_SCHED_MS,
	ID_CHECKPOINT_MS,
	ID_COMPRESSION,
	ID_BATCH_SIZE,
	ID_ACKS,
	ID_BUFFER_MEMORY,
	ID_KEY_SEP,
	ID_LINE_FORMAT,
	ID_LINGER_MS,
	ID_REQUEST_TIMEOUT_MS,
	ID_AUTO_CREATE,
	ID_GROUP_MIN_SESSION,
	ID_GROUP_MAX_SESSION,
	ID_GROUP_MAX_SIZE,
	ID_GROUP_INITIAL_DELAY,
	ID_OFFSETS_RETENTION_CHECK_MS,
	ID_OFFSETS_RETENTION_MINUTES,
	ID_OFFSET_METADATA_MAX,
	ID_PRODUCER_ID_EXPIRATION_MS,
	/* retention and compaction */
	ID_RETENTION_MS,
	ID_RETENTION_MINUTES,
	ID_RETENTION_HOURS,
	ID_RETENTION_BYTES,
	ID_CLEANUP_POLICY,
	ID_DELETE_RETENTION_MS,
	ID_MIN_DIRTY_RATIO,
	ID_MIN_LAG_MS,
	ID_RETENTION_CHECK_MS,
	ID_CLEANER_ENABLE,
	ID_CLEANER_BACKOFF_MS,
	ID_CLEANER_DEDUPE,
	ID_SEGMENT_FD_CACHE,
	ID_TIMESTAMP_TYPE,
	ID_SEGMENT_JITTER_MS,
	ID_ROLL_JITTER_HOURS,
	ID_MAX_LAG_MS,
	ID_TS_DIFFERENCE_MS,
	ID_TS_BEFORE_MS,
	ID_TS_AFTER_MS,
	ID_PREALLOCATE,
	ID_FILE_DELETE_DELAY_MS,
	ID_MESSAGE_FORMAT_VERSION,
	ID_DOWNCONVERSION,
	/* topic settings of replication */
	ID_MIN_ISR,
	ID_UNCLEAN,
	ID_LEADER_THROTTLED,
	ID_FOLLOWER_THROTTLED,
	/* a cluster setting, handed to cluster_config_set */
	ID_CLUSTER,
};

struct cfg_spec {
	enum cfg_kind kind;
	int64_t min, max; /* KIND_INT, KIND_INT_M1: the valid range */
	/* KIND_INT, KIND_INT_M1: Kafka's ConfigDef type is LONG (else INT),
	 * the word of its refusal of a value that is no number. */
	bool is_long;
	/* KIND_INT_M1: any negative integer (whose magnitude fits an
	 * int64_t) also means no limit, kept as -1, in a .config (topic)
	 * and a server.properties (broker); otherwise -1 only. */
	bool neg_topic, neg_broker;
};

/* A name a setting goes by (log.roll.ms in server.properties is
 * segment.ms in a .config). */
struct cfg_key {
	const char *name;
	enum cfg_id id;
};

/* What each setting's value may be, once per setting whatever its name in
 * server.properties or a .config. */
static const struct cfg_spec cfg_specs[] = {
	[ID_BROKER_ID] = { .kind = KIND_INT, .min = 0, .max = INT32_MAX },
	[ID_LOG_DIRS] = { .kind = KIND_PATH, .min = 0, .max = 0 },
	[ID_LOG_DIR] = { .kind = KIND_PATH, .min = 0, .max = 0 },
	[ID_NUM_PARTITIONS] = { .kind = KIND_INT, .min = 1, .max = CFG_MAX_PARTITIONS },
	/* .index positions are u32: a segment stays below 2 GiB. The
	 * minimums are Kafka 3.x's (LegacyRecord.RECORD_OVERHEAD_V0 and 4),
	 * so a Kafka tool's value is not INVALID_CONFIG here: an index that
	 * holds no entry rolls at every batch (append.c's should_roll), as
	 * Kafka's does; a leader refuses a batch larger than segment.bytes,
	 * as Kafka (RECORD_LIST_TOO_LARGE), a follower takes it in a segment
	 * of its own. */
	[ID_SEGMENT_BYTES] = { .kind = KIND_INT, .min = 14, .max = INT32_MAX },
	[ID_SEGMENT_MS] = { .kind = KIND_INT, .min = 1, .max = INT64_MAX, .is_long = true },
	[ID_ROLL_HOURS] = { .kind = KIND_INT, .min = 1, .max = INT32_MAX },
	[ID_INDEX_BYTES] = { .kind = KIND_INT, .min = 4, .max = INT32_MAX },
	[ID_INDEX_INTERVAL] = { .kind = KIND_INT, .min = 0, .max = INT32_MAX },
	[ID_MAX_MESSAGE] = { .kind = KIND_INT, .min = 0, .max = INT32_MAX },
	[ID_FLUSH_MESSAGES] = { .kind = KIND_INT, .min = 1, .max = INT64_MAX, .is_long = true },
	[ID_FLUSH_MS] = { .kind = KIND_INT, .min = 0, .max = INT64_MAX, .is_long = true },
	[ID_FLUSH_SCHED_MS] = { .kind = KIND_INT, .min = 1, .max = INT64_MAX, .is_long = true },
	[ID_CHECKPOINT_MS] = { .kind = KIND_INT, .min = 1, .max = INT64_MAX },
	[ID_COMPRESSION] = { .kind = KIND_CODEC, .min = 0, .max = 0 },
	[ID_BATCH_SIZE] = { .kind = KIND_INT, .min = 1, .max = CFG_MAX_BATCH },
	/* A write() waits out its linger: a minute is already absurd. */
	[ID_LINGER_MS] = { .kind = KIND_INT, .min = 0, .max = 60000, .is_long = true },
	[ID_ACKS] = { .kind = KIND_ACKS, .min = 0, .max = 0 },
	[ID_BUFFER_MEMORY] = { .kind = KIND_INT, .min = 1024, .max = INT64_MAX, .is_long = true },
	[ID_REQUEST_TIMEOUT_MS] = { .kind = KIND_INT, .min = 1, .max = INT32_MAX },
	[ID_KEY_SEP] = { .kind = KIND_SEP, .min = 0, .max = 0 },
	[ID_LINE_FORMAT] = { .kind = KIND_LFMT, .min = 0, .max = 0 },
	[ID_AUTO_CREATE] = { .kind = KIND_BOOL, .min = 0, .max = 0 },
	[ID_GROUP_MIN_SESSION] = { .kind = KIND_INT, .min = 1, .max = INT32_MAX },
	[ID_GROUP_MAX_SESSION] = { .kind = KIND_INT, .min = 1, .max = INT32_MAX },
	/* At most KG_MAX_MEMBERS (group_serve_int.h): what one group may
	 * hold whatever is set. */
	[ID_GROUP_MAX_SIZE] = { .kind = KIND_INT, .min = 1, .max = 1000 },
	[ID_GROUP_INITIAL_DELAY] = { .kind = KIND_INT, .min = 0, .max = INT32_MAX },
	[ID_OFFSETS_RETENTION_CHECK_MS] = { .kind = KIND_INT,
					    .min = 1,
					    .max = INT32_MAX,
					    .is_long = true },
	[ID_OFFSETS_RETENTION_MINUTES] = { .kind = KIND_INT, .min = 1, .max = INT32_MAX },
	/* Kafka's has no bound. Here a commit record is one record of
	 * __consumer_offsets, its metadata escaped (up to nine bytes a UTF-16
	 * unit): 65536 units keep it under that topic's max.message.bytes. */
	[ID_OFFSET_METADATA_MAX] = { .kind = KIND_INT, .min = 0, .max = 65536 },
	[ID_PRODUCER_ID_EXPIRATION_MS] = { .kind = KIND_INT, .min = 1, .max = INT32_MAX },
	/* Retention and compaction: KIND_INT_M1 also takes -1 (unlimited). */
	[ID_RETENTION_MS] = { .kind = KIND_INT_M1,
			      .min = 0,
			      .max = INT64_MAX,
			      .neg_topic = false,
			      .neg_broker = true,
			      .is_long = true },
	[ID_RETENTION_MINUTES] = { .kind = KIND_INT_M1,
				   .min = 0,
				   .max = INT32_MAX,
				   .neg_topic = true,
				   .neg_broker = true },
	[ID_RETENTION_HOURS] = { .kind = KIND_INT_M1,
				 .min = 0,
				 .max = INT32_MAX,
				 .neg_topic = true,
				 .neg_broker = true },
	[ID_RETENTION_BYTES] = { .kind = KIND_INT_M1,
				 .min = 0,
				 .max = INT64_MAX,
				 .neg_topic = true,
				 .neg_broker = true,
				 .is_long = true },
	[ID_RETENTION_CHECK_MS] = { .kind = KIND_INT, .min = 1, .max = INT64_MAX, .is_long = true },
	[ID_CLEANUP_POLICY] = { .kind = KIND_POLICY, .min = 0, .max = 0 },
	[ID_CLEANER_ENABLE] = { .kind = KIND_BOOL, .min = 0, .max = 0 },
	/* Kafka's atLeast(0): 0, passes one after another (cleaner_main). */
	[ID_CLEANER_BACKOFF_MS] = { .kind = KIND_INT, .min = 0, .max = INT64_MAX, .is_long = true },
	/* Kafka's type takes any long; its bound, over 1 MiB for the one
	 * cleaner thread, is a check of the whole config (broker_cross_check),
	 * with Kafka's message, negative values included. */
	[ID_CLEANER_DEDUPE] = { .kind = KIND_INT,
				.min = INT64_MIN,
				.max = INT64_MAX,
				.is_long = true },
	[ID_SEGMENT_FD_CACHE] = { .kind = KIND_INT, .min = 0, .max = INT32_MAX },
	[ID_DELETE_RETENTION_MS] = { .kind = KIND_INT,
				     .min = 0,
				     .max = INT64_MAX,
				     .is_long = true },
	[ID_MIN_DIRTY_RATIO] = { .kind = KIND_RATIO, .min = 0, .max = 0 },
	[ID_MIN_LAG_MS] = { .kind = KIND_INT, .min = 0, .max = INT64_MAX, .is_long = true },
	[ID_TIMESTAMP_TYPE] = { .kind = KIND_TSTYPE, .min = 0, .max = 0 },
	[ID_SEGMENT_JITTER_MS] = { .kind = KIND_INT, .min = 0, .max = INT64_MAX, .is_long = true },
	[ID_ROLL_JITTER_HOURS] = { .kind = KIND_INT, .min = 0, .max = INT32_MAX },
	[ID_MAX_LAG_MS] = { .kind = KIND_INT, .min = 1, .max = INT64_MAX, .is_long = true },
	[ID_TS_DIFFERENCE_MS] = { .kind = KIND_INT, .min = 0, .max = INT64_MAX, .is_long = true },
	[ID_TS_BEFORE_MS] = { .kind = KIND_INT, .min = 0, .max = INT64_MAX, .is_long = true },
	[ID_TS_AFTER_MS] = { .kind = KIND_INT, .min = 0, .max = INT64_MAX, .is_long = true },
	[ID_PREALLOCATE] = { .kind = KIND_BOOL, .min = 0, .max = 0 },
	[ID_FILE_DELETE_DELAY_MS] = { .kind = KIND_INT,
				      .min = 0,
				      .max = INT64_MAX,
				      .is_long = true },
	[ID_MESSAGE_FORMAT_VERSION] = { .kind = KIND_MFV, .min = 0, .max = 0 },
	[ID_DOWNCONVERSION] = { .kind = KIND_BOOL, .min = 0, .max = 0 },
	[ID_PARTITIONS] = { .kind = KIND_INT, .min = 1, .max = CFG_MAX_PARTITIONS },
	[ID_MIN_ISR] = { .kind = KIND_INT, .min = 1, .max = INT16_MAX },
	[ID_UNCLEAN] = { .kind = KIND_BOOL, .min = 0, .max = 0 },
	[ID_LEADER_THROTTLED] = { .kind = KIND_THROTTLE, .min = 0, .max = 0 },
	[ID_FOLLOWER_THROTTLED] = { .kind = KIND_THROTTLE, .min = 0, .max = 0 },
	[ID_CLUSTER] = { .kind = KIND_STR, .min = 0, .max = 0 },
};
_Static_assert(sizeof(cfg_specs) / sizeof(cfg_specs[0]) == ID_CLUSTER + 1,
	       "every setting has its spec");
_Static_assert(ID_CLUSTER < 128, "struct broker_config's file_set.ids: a bit per setting");

static const struct cfg_key broker_keys[] = {
	{ "broker.id", ID_BROKER_ID },
	{ "log.dirs", ID_LOG_DIRS },
	{ "log.dir", ID_LOG_DIR },
	{ "num.partitions", ID_NUM_PARTITIONS },
	{ "log.segment.bytes", ID_SEGMENT_BYTES },
	{ "log.roll.ms", ID_SEGMENT_MS },
	{ "log.roll.hours", ID_ROLL_HOURS },
	{ "log.index.size.max.bytes", ID_INDEX_BYTES },
	{ "log.index.interval.bytes", ID_INDEX_INTERVAL },
	{ "message.max.bytes", ID_MAX_MESSAGE },
	{ "max.message.bytes", ID_MAX_MESSAGE },
	{ "log.flush.interval.messages", ID_FLUSH_MESSAGES },
	{ "log.flush.interval.ms", ID_FLUSH_MS },
	{ "log.flush.scheduler.interval.ms", ID_FLUSH_SCHED_MS },
	{ "log.flush.offset.checkpoint.interval.ms", ID_CHECKPOINT_MS },
	{ "compression.type", ID_COMPRESSION },
	{ "batch.size", ID_BATCH_SIZE },
	{ "linger.ms", ID_LINGER_MS },
	{ "acks", ID_ACKS },
	{ "buffer.memory", ID_BUFFER_MEMORY },
	{ "request.timeout.ms", ID_REQUEST_TIMEOUT_MS },
	{ "key.separator", ID_KEY_SEP },
	{ "line.format", ID_LINE_FORMAT },
	{ "auto.create.topics.enable", ID_AUTO_CREATE },
	{ "group.min.session.timeout.ms", ID_GROUP_MIN_SESSION },
	{ "group.max.session.timeout.ms", ID_GROUP_MAX_SESSION },
	{ "group.max.size", ID_GROUP_MAX_SIZE },
	{ "group.initial.rebalance.delay.ms", ID_GROUP_INITIAL_DELAY },
	{ "offsets.retention.check.interval.ms", ID_OFFSETS_RETENTION_CHECK_MS },
	{ "offsets.retention.minutes", ID_OFFSETS_RETENTION_MINUTES },
	{ "offset.metadata.max.bytes", ID_OFFSET_METADATA_MAX },
	{ "producer.id.expiration.ms", ID_PRODUCER_ID_EXPIRATION_MS },
	{ "log.retention.ms", ID_RETENTION_MS },
	{ "log.retention.minutes", ID_RETENTION_MINUTES },
	{ "log.retention.hours", ID_RETENTION_HOURS },
	{ "log.retention.bytes", ID_RETENTION_BYTES },
	{ "log.retention.check.interval.ms", ID_RETENTION_CHECK_MS },
	{ "log.cleanup.policy", ID_CLEANUP_POLICY },
	{ "log.cleaner.enable", ID_CLEANER_ENABLE },
	{ "log.cleaner.backoff.ms", ID_CLEANER_BACKOFF_MS },
	{ "log.cleaner.dedupe.buffer.size", ID_CLEANER_DEDUPE },
	{ "log.segment.fd.cache", ID_SEGMENT_FD_CACHE },
	{ "log.cleaner.delete.retention.ms", ID_DELETE_RETENTION_MS },
	{ "log.cleaner.min.cleanable.ratio", ID_MIN_DIRTY_RATIO },
	{ "log.cleaner.min.compaction.lag.ms", ID_MIN_LAG_MS },
	{ "log.message.timestamp.type", ID_TIMESTAMP_TYPE },
	{ "log.roll.jitter.ms", ID_SEGMENT_JITTER_MS },
	{ "log.roll.jitter.hours", ID_ROLL_JITTER_HOURS },
	{ "log.cleaner.max.compaction.lag.ms", ID_MAX_LAG_MS },
	{ "log.message.timestamp.difference.max.ms", ID_TS_DIFFERENCE_MS },
	{ "log.message.timestamp.before.max.ms", ID_TS_BEFORE_MS },
	{ "log.message.timestamp.after.max.ms", ID_TS_AFTER_MS },
	{ "log.preallocate", ID_PREALLOCATE },
	{ "log.segment.delete.delay.ms", ID_FILE_DELETE_DELAY_MS },
	{ "log.message.format.version", ID_MESSAGE_FORMAT_VERSION },
	{ "log.message.downconversion.enable", ID_DOWNCONVERSION },
};

static const struct cfg_key topic_keys[] = {
	{ "partitions", ID_PARTITIONS },
	{ "acks", ID_ACKS },
	{ "segment.bytes", ID_SEGMENT_BYTES },
	{ "segment.ms", ID_SEGMENT_MS },
	{ "segment.index.bytes", ID_INDEX_BYTES },
	{ "index.interval.bytes", ID_INDEX_INTERVAL },
	{ "max.message.bytes", ID_MAX_MESSAGE },
	{ "flush.messages", ID_FLUSH_MESSAGES },
	{ "flush.ms", ID_FLUSH_MS },
	{ "compression.type", ID_COMPRESSION },
	{ "batch.size", ID_BATCH_SIZE },
	{ "linger.ms", ID_LINGER_MS },
	{ "key.separator", ID_KEY_SEP },
	{ "line.format", ID_LINE_FORMAT },
	{ "retention.ms", ID_RETENTION_MS },
	{ "retention.bytes", ID_RETENTION_BYTES },
	{ "cleanup.policy", ID_CLEANUP_POLICY },
	{ "delete.retention.ms", ID_DELETE_RETENTION_MS },
	{ "min.cleanable.dirty.ratio", ID_MIN_DIRTY_RATIO },
	{ "min.compaction.lag.ms", ID_MIN_LAG_MS },
	{ "message.timestamp.type", ID_TIMESTAMP_TYPE },
	{ "segment.jitter.ms", ID_SEGMENT_JITTER_MS },
	{ "max.compaction.lag.ms", ID_MAX_LAG_MS },
	{ "message.timestamp.difference.max.ms", ID_TS_DIFFERENCE_MS },
	{ "message.timestamp.before.max.ms", ID_TS_BEFORE_MS },
	{ "message.timestamp.after.max.ms", ID_TS_AFTER_MS },
	{ "preallocate", ID_PREALLOCATE },
	{ "min.insync.replicas", ID_MIN_ISR },
	{ "unclean.leader.election.enable", ID_UNCLEAN },
	{ "file.delete.delay.ms", ID_FILE_DELETE_DELAY_MS },
	{ "message.format.version", ID_MESSAGE_FORMAT_VERSION },
	{ "message.downconversion.enable", ID_DOWNCONVERSION },
	{ THROTTLE_LEADER_REPLICAS, ID_LEADER_THROTTLED },
	{ THROTTLE_FOLLOWER_REPLICAS, ID_FOLLOWER_THROTTLED },
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))
_Static_assert(NKEYS(topic_keys) <= 64, "struct topic_config's overrides: a bit per setting");

/* compression.type values: the batch codecs and the broker's two names
 * that are not one (producer, and uncompressed for none). */
static const struct {
	const char *name;
	int codec;
} codec_names[] = {
	{ "none", BATCH_CODEC_NONE },         { "gzip", BATCH_CODEC_GZIP },
	{ "snappy", BATCH_CODEC_SNAPPY },     { "lz4", BATCH_CODEC_LZ4 },
	{ "zstd", BATCH_CODEC_ZSTD },         { "producer", LOG_CODEC_PRODUCER },
	{ "uncompressed", BATCH_CODEC_NONE },
};

/* A parsed value: an integer (KIND_INT, KIND_ACKS, KIND_CODEC) or bytes
 * (KIND_SEP: len bytes; KIND_PATH: NUL-terminated). */
struct cfg_val {
	int64_t i;
	size_t len;
	char s[sizeof(((struct broker_config *)0)->data_dir)];
};

typedef int (*cfg_set_fn)(void *arg, const struct cfg_key *k, const struct cfg_val *v, char *why,
			  size_t whylen);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool cfg_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && cfg_space((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && cfg_space((*s)[*n - 1]))
		(*n)--;
}

static int show(size_t n, size_t limit)
{
	return (int)(n < limit ? n : limit);
}

/* Whether a KIND_INT_M1 setting takes any negative integer for -1 in
 * this scope (broker: server.properties, otherwise a .config). */
static bool neg_any(const struct cfg_key *k, bool broker)
{
	return broker ? cfg_specs[k->id].neg_broker : cfg_specs[k->id].neg_topic;
}

/* A value that is no integer of 64 bits (no digits, another character,
 * too many digits): -EDOM, with the reason of Kafka's ConfigDef
 * ("Not a number of type LONG"), which cfg_apply_text words as Kafka's
 * ConfigException. */
static int not_a_number(const struct cfg_key *k, char *why, size_t whylen)
{
	snprintf(why, whylen, "Not a number of type %s", cfg_specs[k->id].is_long ? "LONG" : "INT");
	return -EDOM;
}

/* An integer outside the key's range: -EINVAL with the range. */
static int out_of_range(const struct cfg_key *k, bool broker, char *why, size_t whylen)
{
	snprintf(why, whylen, "expected %san integer from %lld to %lld",
		 cfg_specs[k->id].kind != KIND_INT_M1 ? ""
		 : neg_any(k, broker)                 ? "a negative integer (no limit) or "
						      : "-1 (no limit) or ",
		 (long long)cfg_specs[k->id].min, (long long)cfg_specs[k->id].max);
	return -EINVAL;
}

/* Decimal digits after an optional sign, as Java's Integer.parseInt and
 * Long.parseLong read a Kafka setting: "+2048" is 2048 and "-0" is 0,
 * which Kafka takes (AlterConfigs included), so refusing them would be an
 * INVALID_CONFIG Kafka does not give. Every KIND_INT minimum but
 * log.cleaner.dedupe.buffer.size's is 0 or more, so a negative value
 * other than 0 fails the range check below (its magnitude may overflow:
 * refused all the same). */
static int parse_int(const char *s, size_t n, const struct cfg_key *k, bool broker, int64_t *out,
		     char *why, size_t whylen)
{
	bool neg = n > 0 && s[0] == '-';
	size_t i = n > 0 && (s[0] == '+' || neg) ? 1 : 0;
	int64_t v = 0;
	bool ok = n > i;

	/* Toward the sign, so that the most negative long parses too. */
	for (; ok && i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
		    (neg ? __builtin_sub_overflow(v, s[i] - '0', &v)
			 : __builtin_add_overflow(v, s[i] - '0', &v)))
			ok = false;
	}
	if (!ok)
		return not_a_number(k, why, whylen);
	if (v < cfg_specs[k->id].min || v > cfg_specs[k->id].max)
		return out_of_range(k, broker, why, whylen);
	*out = v;
	return 0;
}

static bool is(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

static int parse_acks(const char *s, size_t n, int64_t *out, char *why, size_t whylen)
{
	if (is(s, n, "all") || is(s, n, "-1"))
		*out = -1;
	else if (is(s, n, "0"))
		*out = 0;
	else if (is(s, n, "1"))
		*out = 1;
	else {
		snprintf(why, whylen, "expected all, -1, 0 or 1");
		return -EINVAL;
	}
	return 0;
}

static int parse_codec(const char *s, size_t n, int64_t *out, char *why, size_t whylen)
{
	for (size_t i = 0; i < NKEYS(codec_names); i++) {
		if (!is(s, n, codec_names[i].name))
			continue;
		*out = codec_names[i].codec;
		return 0;
	}
	snprintf(why, whylen, "expected producer, none, gzip, snappy, lz4 or zstd");
	return -EINVAL;
}

/* key.separator: at most 15 bytes after unescaping \t \s \\; no newline
 * and no control byte other than tab (it could not be written back). */
static int parse_sep(const char *s, size_t n, struct cfg_val *v, char *why, size_t whylen)
{
	const size_t max = sizeof(((struct log_config *)0)->key_sep) - 1;

	v->len = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\') {
			char e = i + 1 < n ? s[++i] : '\0';

			if (e == 't')
				c = '\t';
			else if (e == 's')
				c = ' ';
			else if (e == '\\')
				c = '\\';
			else if (e == 'n') {
				snprintf(why, whylen, "a separator may not contain a newline");
				return -EINVAL;
			} else {
				snprintf(why, whylen, "expected the escapes \\t, \\s or \\\\ only");
				return -EINVAL;
			}
		} else if (((unsigned char)c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(why, whylen, "expected no control characters");
			return -EINVAL;
		}
		if (v->len == max) {
			snprintf(why, whylen, "expected at most %zu bytes", max);
			return -EINVAL;
		}
		v->s[v->len++] = c;
	}
	return 0;
}

/* log.dirs / log.dir: Kafka's comma-separated list, here of exactly one. */
static int parse_path(const char *s, size_t n, struct cfg_val *v, char *why, size_t whylen)
{
	if (n == 0 || n >= sizeof(v->s)) {
		snprintf(why, whylen, "expected a directory path of 1 to %zu bytes",
			 sizeof(v->s) - 1);
		return -EINVAL;
	}
	if (memchr(s, ',', n)) {
		snprintf(why, whylen, "expected one directory: mqfs uses a single log dir");
		return -EINVAL;
	}
	memcpy(v->s, s, n);
	v->s[n] = '\0';
	v->len = n;
	return 0;
}

/* cleanup.policy: delete, compact, or both comma-separated (Kafka's list). */
static int parse_policy(const char *s, size_t n, int64_t *out, char *why, size_t whylen)
{
	int64_t pol = 0;
	while (n > 0) {
		const char *comma = memchr(s, ',', n);
		size_t w = comma ? (size_t)(comma - s) : n;
		const char *t = s;
		size_t tn = w;
		trim(&t, &tn);
		if (is(t, tn, "delete"))
			pol |= LOG_CLEANUP_DELETE;
		else if (is(t, tn, "compact"))
			pol |= LOG_CLEANUP_COMPACT;
		else {
			pol = 0;
			break;
		}
		s += w + (comma ? 1 : 0);
		n -= w + (comma ? 1 : 0);
		if (comma && n == 0)
			pol = 0;
	}
	if (!pol) {
		snprintf(why, whylen, "expected delete, compact or compact,delete");
		return -EINVAL;
	}
	*out = pol;
	return 0;
}

/* A ratio 0..1 as decimal digits with at most one '.' and an optional
 * sign, no exponent (as Java's parseDouble then Kafka's range check: "-0"
 * is 0, "-0.1" and "1.0000001" are out of range); kept in v->i as
 * millionths so the value round-trips exactly (digits past the sixth are
 * dropped). */
static int parse_ratio(const char *s, size_t n, int64_t *out, char *why, size_t whylen)
{
	int64_t whole = 0, frac = 0, scale = 1000000;
	size_t i = 0;
	bool ok, digits = false, neg = false, beyond = false;

	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i = 1;
	}
	ok = n > i;
	for (; ok && i < n && s[i] != '.'; i++, digits = true)
		ok = s[i] >= '0' && s[i] <= '9' && (whole = whole * 10 + (s[i] - '0')) <= 1;
	if (ok && i < n) {
		for (i++; ok && i < n; i++, digits = true) {
			ok = s[i] >= '0' && s[i] <= '9';
			if (ok && scale > 1) {
				scale /= 10;
				frac += (s[i] - '0') * scale;
			} else if (ok && s[i] != '0') {
				beyond = true;
			}
		}
	}
	/* A value past 1 by digits the millionths drop, or below 0. */
	if (ok && whole * 1000000 + frac == 1000000 && beyond)
		ok = false;
	if (ok && neg && (whole || frac || beyond))
		ok = false;
	if (!ok || !digits || whole * 1000000 + frac > 1000000) {
		snprintf(why, whylen, "expected a number from 0 to 1");
		return -EINVAL;
	}
	*out = whole * 1000000 + frac;
	return 0;
}

/* message.format.version: a version Kafka 3.x knows (its
 * MetadataVersion.fromVersionString): the string is cut after its third
 * '.'-separated part when it starts with "0.", else after its second
 * ("2.8.1" is 2.8, "0.10.0.1" is 0.10.0), and must then be a release or
 * one of its inter-broker protocol steps ("3.0-IV1"). Kafka 3.x ignores
 * the setting (every batch is magic 2) and so does mqfs. */
static int parse_mfv(const char *s, size_t n, struct cfg_val *v, char *why, size_t whylen)
{
	/* Each release, with the number of its -IVn steps. */
	static const struct {
		const char *name;
		int ivs;
	} versions[] = {
		{ "0.8.0", 0 },  { "0.8.1", 0 },  { "0.8.2", 0 },  { "0.9.0", 0 }, { "0.10.0", 2 },
		{ "0.10.1", 3 }, { "0.10.2", 1 }, { "0.11.0", 3 }, { "1.0", 1 },   { "1.1", 1 },
		{ "2.0", 2 },    { "2.1", 3 },    { "2.2", 2 },    { "2.3", 2 },   { "2.4", 2 },
		{ "2.5", 1 },    { "2.6", 1 },    { "2.7", 3 },    { "2.8", 2 },   { "3.0", 2 },
		{ "3.1", 1 },    { "3.2", 1 },    { "3.3", 4 },    { "3.4", 1 },   { "3.5", 3 },
		{ "3.6", 3 },    { "3.7", 5 },    { "3.8", 1 },    { "3.9", 1 },
	};
	const size_t max = sizeof(((struct log_config *)0)->message_format_version) - 1;
	size_t parts = n >= 2 && !memcmp(s, "0.", 2) ? 3 : 2, k = 0, seen = 0;
	bool known = false;

	while (k < n && !(s[k] == '.' && ++seen == parts))
		k++;
	for (size_t i = 0; !known && i < NKEYS(versions); i++) {
		size_t vl = strlen(versions[i].name);

		if (k < vl || memcmp(s, versions[i].name, vl) != 0)
			continue;
		known = k == vl || (k == vl + 4 && !memcmp(s + vl, "-IV", 3) && s[vl + 3] >= '0' &&
				    s[vl + 3] < '0' + versions[i].ivs);
	}
	if (known && n <= max) {
		memcpy(v->s, s, n);
		v->len = n;
		return 0;
	}
	snprintf(why, whylen, "expected a Kafka version such as 2.8, 3.0-IV1 or 0.10.0");
	return -EINVAL;
}

/* A KIND_INT_M1 value with a minus sign, as Java's Long.parseLong reads
 * it: "-0" is 0, -1 and (where neg_any) every other negative integer
 * down to -2^63 mean no limit, kept as -1. */
static int parse_negative(const char *s, size_t n, const struct cfg_key *k, bool broker,
			  int64_t *out, char *why, size_t whylen)
{
	uint64_t m = 0;
	bool ok = n > 1;

	for (size_t i = 1; ok && i < n; i++)
		ok = s[i] >= '0' && s[i] <= '9' && m <= (UINT64_C(1) << 63) / 10 &&
		     (m = m * 10 + (uint64_t)(s[i] - '0')) <= (UINT64_C(1) << 63);
	if (!ok)
		return not_a_number(k, why, whylen);
	if (m <= 1 || neg_any(k, broker)) {
		*out = m == 0 ? 0 : -1;
		return 0;
	}
	return out_of_range(k, broker, why, whylen);
}

static int parse_value(const struct cfg_key *k, const char *s, size_t n, bool broker,
		       struct cfg_val *v, char *why, size_t whylen)
{
	switch (cfg_specs[k->id].kind) {
	case KIND_INT_M1:
		if (n > 0 && s[0] == '-')
			return parse_negative(s, n, k, broker, &v->i, why, whylen);
		return parse_int(s, n, k, broker, &v->i, why, whylen);
	case KIND_POLICY: return parse_policy(s, n, &v->i, why, whylen);
	case KIND_RATIO: return parse_ratio(s, n, &v->i, why, whylen);
	case KIND_BOOL:
		/* In any case, as Kafka's ConfigDef reads a boolean. */
		if ((n == 4 && !strncasecmp(s, "true", 4)) ||
		    (n == 5 && !strncasecmp(s, "false", 5))) {
			v->i = n == 4;
			return 0;
		}
		snprintf(why, whylen, "expected true or false");
		return -EINVAL;
	case KIND_INT: return parse_int(s, n, k, broker, &v->i, why, whylen);
	case KIND_ACKS: return parse_acks(s, n, &v->i, why, whylen);
	case KIND_CODEC: return parse_codec(s, n, &v->i, why, whylen);
	case KIND_SEP: return parse_sep(s, n, v, why, whylen);
	case KIND_LFMT:
		v->i = line_format_parse(s, n);
		if (v->i >= 0)
			return 0;
		snprintf(why, whylen, "expected raw or escape");
		return -EINVAL;
	case KIND_TSTYPE:
		/* As Kafka's ValidString: these two, in this case. */
		if ((n == 10 && !memcmp(s, "CreateTime", 10)) ||
		    (n == 13 && !memcmp(s, "LogAppendTime", 13))) {
			v->i = n == 13;
			return 0;
		}
		snprintf(why, whylen, "expected CreateTime or LogAppendTime");
		return -EINVAL;
	case KIND_PATH: return parse_path(s, n, v, why, whylen);
	case KIND_MFV: return parse_mfv(s, n, v, why, whylen);
	case KIND_THROTTLE:
		if (throttle_list_check(s, n, why, whylen) < 0)
			return -EINVAL;
		if (throttle_list_canon(s, n, v->s, TOPIC_THROTTLE_LIST_MAX) < 0) {
			snprintf(why, whylen, "longer than %d bytes", TOPIC_THROTTLE_LIST_MAX - 1);
			return -EINVAL;
		}
		v->len = strlen(v->s);
		return 0;
	case KIND_STR:
		if (n >= sizeof(v->s)) {
			snprintf(why, whylen, "longer than %zu bytes", sizeof(v->s) - 1);
			return -EINVAL;
		}
		memcpy(v->s, s, n);
		v->s[n] = '\0';
		v->len = n;
		return 0;
	}
	return -EINVAL;
}

/* Settings shared by both scopes, stored in a struct log_config. Returns
 * false if k is not one of them. */
static bool set_log_key(struct log_config *log, const struct cfg_key *k, const struct cfg_val *v)
{
	switch (k->id) {
	case ID_SEGMENT_BYTES: log->segment_bytes = v->i; break;
	case ID_SEGMENT_MS: log->segment_ms = v->i; break;
	case ID_INDEX_BYTES: log->segment_index_bytes = (int32_t)v->i; break;
	case ID_INDEX_INTERVAL: log->index_interval_bytes = (int32_t)v->i; break;
	case ID_MAX_MESSAGE: log->max_message_bytes = (int32_t)v->i; break;
	case ID_FLUSH_MESSAGES: log->flush_messages = v->i; break;
	case ID_FLUSH_MS: log->flush_ms = v->i; break;
	case ID_COMPRESSION: log->codec = (int)v->i; break;
	case ID_BATCH_SIZE: log->batch_bytes = (int32_t)v->i; break;
	case ID_RETENTION_MS: log->retention_ms = v->i; break;
	case ID_RETENTION_BYTES: log->retention_bytes = v->i; break;
	case ID_CLEANUP_POLICY: log->cleanup_policy = (int)v->i; break;
	case ID_DELETE_RETENTION_MS: log->delete_retention_ms = v->i; break;
	case ID_MIN_DIRTY_RATIO: log->min_cleanable_dirty_ratio = (double)v->i / 1e6; break;
	case ID_MIN_LAG_MS: log->min_compaction_lag_ms = v->i; break;
	case ID_LINE_FORMAT: log->line_format = (int)v->i; break;
	case ID_TIMESTAMP_TYPE: log->log_append_time = v->i != 0; break;
	case ID_SEGMENT_JITTER_MS: log->segment_jitter_ms = v->i; break;
	case ID_MAX_LAG_MS: log->max_compaction_lag_ms = v->i; break;
	case ID_TS_DIFFERENCE_MS: log->ts_difference_max_ms = v->i; break;
	case ID_TS_BEFORE_MS: log->ts_before_max_ms = v->i; break;
	case ID_TS_AFTER_MS: log->ts_after_max_ms = v->i; break;
	case ID_PREALLOCATE: log->preallocate = v->i != 0; break;
	case ID_FILE_DELETE_DELAY_MS: log->file_delete_delay_ms = v->i; break;
	case ID_DOWNCONVERSION: log->message_downconversion = v->i != 0; break;
	case ID_MESSAGE_FORMAT_VERSION:
		memcpy(log->message_format_version, v->s, v->len);
		log->message_format_version[v->len] = '\0';
		break;
	case ID_KEY_SEP:
		memset(log->key_sep, 0, sizeof(log->key_sep));
		memcpy(log->key_sep, v->s, v->len);
		log->key_sep_len = (int)v->len;
		break;
	default: return false;
	}
	return true;
}

/* A topic's "-key" line (s, n bytes, trimmed): set with no value, which
 * removes the override. */
static int cfg_remove_line(const char *s, size_t n, const char *at, const struct cfg_key *keys,
			   size_t nkeys, cfg_set_fn set, void *arg, char *err, size_t errlen)
{
	const char *key = s + 1;
	size_t klen = n - 1;
	char why[160] = "";

	trim(&key, &klen);
	for (size_t i = 0; i < nkeys; i++) {
		if (!is(key, klen, keys[i].name))
			continue;
		if (set(arg, &keys[i], NULL, why, sizeof(why)) < 0) {
			set_err(err, errlen, "%s: cannot remove '%s' (%s)", at, keys[i].name, why);
			return -EINVAL;
		}
		return 0;
	}
	set_err(err, errlen, "%s: expected -key (a setting to remove): '%.*s'", at,
		show(n, CFG_SHOW_VALUE), s);
	return -EINVAL;
}

/* Runs every line of text through parse_value and set. Stops at the first
 * bad line: -EINVAL with the message in err. cluster: a server.properties
 * (the broker's keys, the cluster's too), not a topic's .config. Lines
 * are numbered in messages from line0 + 1; line0 < 0: not numbered
 * ("an earlier line"), for lines checked before whose numbers are lost. */
static int cfg_apply_text(const char *text, size_t len, const struct cfg_key *keys, size_t nkeys,
			  bool cluster, int line0, cfg_set_fn set, void *arg, char *err,
			  size_t errlen)
{
	struct cfg_key ck = { NULL, ID_CLUSTER };
	struct cfg_val *v;
	char why[160], at[32];
	size_t pos = 0;
	int line = line0 > 0 ? line0 : 0, rc = 0;

	v = malloc(sizeof(*v));
	if (!v)
		return -ENOMEM;
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		const char *key, *val, *sep = NULL;
		size_t klen, vlen;
		const struct cfg_key *k = NULL;

		pos += n + (nl ? 1 : 0);
		line++;
		if (line0 >= 0)
			snprintf(at, sizeof(at), "line %d", line);
		else
			snprintf(at, sizeof(at), "an earlier line");
		trim(&s, &n);
		if (n == 0 || s[0] == '#' || s[0] == '!')
			continue;
		if (memchr(s, '\0', n)) {
			set_err(err, errlen, "%s: NUL byte", at);
			rc = -EINVAL;
			goto out;
		}
		if (!cluster && s[0] == '-') {
			rc = cfg_remove_line(s, n, at, keys, nkeys, set, arg, err, errlen);
			if (rc < 0)
				goto out;
			continue;
		}
		for (size_t i = 0; i < n && !sep; i++)
			if (s[i] == '=' || s[i] == ':')
				sep = s + i;
		if (!sep) {
			set_err(err, errlen, "%s: expected key=value: '%.*s'", at,
				show(n, CFG_SHOW_VALUE), s);
			rc = -EINVAL;
			goto out;
		}
		key = s;
		klen = (size_t)(sep - s);
		val = sep + 1;
		vlen = n - klen - 1;
		trim(&key, &klen);
		trim(&val, &vlen);
		if (klen == 0) {
			set_err(err, errlen, "%s: missing key: '%.*s'", at, show(n, CFG_SHOW_VALUE),
				s);
			rc = -EINVAL;
			goto out;
		}
		for (size_t i = 0; i < nkeys && !k; i++)
			if (is(key, klen, keys[i].name))
				k = &keys[i];
		if (!k && cluster && (ck.name = cluster_config_key(key, klen)))
			k = &ck;
		if (!k) {
			set_err(err, errlen, "%s: unknown key '%.*s'", at, show(klen, CFG_SHOW_KEY),
				key);
			rc = -EINVAL;
			goto out;
		}
		why[0] = '\0';
		rc = parse_value(k, val, vlen, cluster, v, why, sizeof(why));
		if (rc == -EDOM) {
			/* No number: Kafka's ConfigDef words it so. */
			set_err(err, errlen, "%s: Invalid value %.*s for configuration %s: %s", at,
				show(vlen, CFG_SHOW_VALUE), val, k->name, why);
			rc = -EINVAL;
			goto out;
		}
		if (rc < 0 || set(arg, k, v, why, sizeof(why)) < 0) {
			bool secret = cluster && cluster_config_secret(k->name);

			set_err(err, errlen, "%s: bad value for '%s': '%.*s' (%s)", at, k->name,
				secret ? 8 : show(vlen, CFG_SHOW_VALUE), secret ? "[hidden]" : val,
				why);
			rc = -EINVAL;
			goto out;
		}
	}
out:
	free(v);
	return rc;
}

/* Kafka's LogConfig.validateValues across settings: a record cannot
 * have to be compacted (max) before it may be (min). Its words name the
 * topic keys for the broker's defaults too (Kafka's LogManager checks
 * the broker's as a topic config map at its start). */
static int lag_check(const struct log_config *log, char *err, size_t errlen)
{
	if (log->min_compaction_lag_ms <= log->max_compaction_lag_ms)
		return 0;
	set_err(err, errlen,
		"conflict topic config setting min.compaction.lag.ms (%lld) > "
		"max.compaction.lag.ms (%lld)",
		(long long)log->min_compaction_lag_ms, (long long)log->max_compaction_lag_ms);
	return -EINVAL;
}

/* ---- broker ---- */

void broker_config_defaults(struct broker_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->data_dir, sizeof(c->data_dir), "%s", "./mqfs-data");
	c->broker_id = 0;
	c->num_partitions = 1;
	log_config_defaults(&c->log);
	c->acks = -1;
	c->buffer_memory = 33554432;
	c->request_timeout_ms = 30000;
	c->flush_scheduler_ms = INT64_MAX;
	c->checkpoint_interval_ms = 60000;
	c->retention_check_ms = 300000;
	c->cleaner_enable = true;
	c->auto_create_topics = true;
	c->group_min_session_ms = 6000;
	c->group_max_session_ms = 1800000;
	c->group_max_size = 1000;
	c->offsets_retention_check_ms = 600000;
	c->offsets_retention_minutes = 10080;
	c->offset_metadata_max_bytes = 4096;
	c->producer_id_expiration_ms = 86400000;
	c->cleaner_backoff_ms = 15000;
	c->cleaner_dedupe_bytes = 134217728;
	cluster_config_defaults(&c->cluster);
}

struct broker_parse {
	struct broker_config c;         /* the copy being changed */
	bool roll_ms_seen;              /* log.roll.ms in this text */
	bool jitter_ms_seen;            /* log.roll.jitter.ms in this text */
	bool ret_ms_seen, ret_min_seen; /* log.retention.ms / .minutes in this text */
	bool dirs_seen;                 /* log.dirs in this text */
};

/* The setting DescribeConfigs reports an alias's value under: the one
 * broker_config_render writes it as. The time aliases (log.roll.hours,
 * log.retention.hours, ...) are their own settings to it, as to Kafka,
 * which lists them under their names and not as the .ms key's. */
static enum cfg_id reported_id(enum cfg_id id)
{
	return id == ID_LOG_DIR ? ID_LOG_DIRS : id;
}

/* Records k as given by the text (struct broker_config, file_set). */
static void mark_file_set(struct broker_config *c, const struct cfg_key *k)
{
	if (k->id == ID_CLUSTER) {
		int i = cluster_config_key_index(k->name, strlen(k->name));

		if (i >= 0)
			c->file_set.cluster[i / 64] |= UINT64_C(1) << (i % 64);
		return;
	}
	c->file_set.ids[reported_id(k->id) / 64] |= UINT64_C(1) << (reported_id(k->id) % 64);
}

int broker_config_render_aliases(const struct broker_config *c, char **text, size_t *len)
{
	const struct {
		enum cfg_id id;
		const char *name;
		int64_t v;
	} a[] = {
		{ ID_RETENTION_MINUTES, "log.retention.minutes", c->alias.retention_minutes },
		{ ID_RETENTION_HOURS, "log.retention.hours", c->alias.retention_hours },
		{ ID_ROLL_HOURS, "log.roll.hours", c->alias.roll_hours },
		{ ID_ROLL_JITTER_HOURS, "log.roll.jitter.hours", c->alias.roll_jitter_hours },
	};
	char *buf = malloc(sizeof(a) / sizeof(a[0]) * 48 + 1);
	size_t n = 0;

	if (!buf)
		return -ENOMEM;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		if (c->file_set.ids[a[i].id / 64] >> (a[i].id % 64) & 1)
			n += (size_t)sprintf(buf + n, "%s=%lld\n", a[i].name, (long long)a[i].v);
	*text = buf;
	*len = n;
	return 0;
}

bool broker_config_file_set(const struct broker_config *c, const char *key, size_t klen)
{
	int i;

	for (size_t j = 0; j < NKEYS(broker_keys); j++)
		if (is(key, klen, broker_keys[j].name)) {
			enum cfg_id id = broker_keys[j].id;

			return c->file_set.ids[id / 64] >> (id % 64) & 1;
		}
	i = cluster_config_key_index(key, klen);
	return i >= 0 && (c->file_set.cluster[i / 64] >> (i % 64) & 1);
}

static int broker_set(void *arg, const struct cfg_key *k, const struct cfg_val *v, char *why,
		      size_t whylen)
{
	struct broker_parse *p = arg;
	struct broker_config *c = &p->c;

	mark_file_set(c, k);
	switch (k->id) {
	case ID_BROKER_ID: c->broker_id = (int32_t)v->i; break;
	case ID_NUM_PARTITIONS: c->num_partitions = (int32_t)v->i; break;
	case ID_ACKS: c->acks = (int)v->i; break;
	case ID_BUFFER_MEMORY: c->buffer_memory = v->i; break;
	case ID_LINGER_MS: c->linger_ms = v->i; break;
	case ID_REQUEST_TIMEOUT_MS: c->request_timeout_ms = v->i; break;
	case ID_FLUSH_SCHED_MS: c->flush_scheduler_ms = v->i; break;
	case ID_CHECKPOINT_MS: c->checkpoint_interval_ms = v->i; break;
	case ID_LOG_DIRS:
		p->dirs_seen = true;
		memcpy(c->data_dir, v->s, v->len + 1);
		break;
	case ID_LOG_DIR:
		if (!p->dirs_seen)
			memcpy(c->data_dir, v->s, v->len + 1);
		break;
	case ID_SEGMENT_MS:
		p->roll_ms_seen = true;
		c->log.segment_ms = v->i;
		break;
	case ID_ROLL_HOURS:
		c->alias.roll_hours = v->i;
		if (!p->roll_ms_seen)
			c->log.segment_ms = v->i * 3600 * 1000;
		break;
	case ID_SEGMENT_JITTER_MS:
		p->jitter_ms_seen = true;
		c->log.segment_jitter_ms = v->i;
		break;
	case ID_ROLL_JITTER_HOURS:
		c->alias.roll_jitter_hours = v->i;
		if (!p->jitter_ms_seen)
			c->log.segment_jitter_ms = v->i * 3600 * 1000;
		break;
	/* Kafka's precedence: log.retention.ms, then .minutes, then .hours,
	 * whatever their order; -1 in any of them means unlimited. */
	case ID_RETENTION_MS:
		p->ret_ms_seen = true;
		c->log.retention_ms = v->i;
		break;
	case ID_RETENTION_MINUTES:
		p->ret_min_seen = true;
		c->alias.retention_minutes = v->i;
		if (!p->ret_ms_seen)
			c->log.retention_ms = v->i < 0 ? -1 : v->i * 60 * 1000;
		break;
	case ID_RETENTION_HOURS:
		c->alias.retention_hours = v->i;
		if (!p->ret_ms_seen && !p->ret_min_seen)
			c->log.retention_ms = v->i < 0 ? -1 : v->i * 3600 * 1000;
		break;
	case ID_RETENTION_CHECK_MS: c->retention_check_ms = v->i; break;
	case ID_CLEANER_ENABLE: c->cleaner_enable = v->i != 0; break;
	case ID_AUTO_CREATE: c->auto_create_topics = v->i != 0; break;
	case ID_GROUP_MIN_SESSION: c->group_min_session_ms = (int32_t)v->i; break;
	case ID_GROUP_MAX_SESSION: c->group_max_session_ms = (int32_t)v->i; break;
	case ID_GROUP_MAX_SIZE: c->group_max_size = (int32_t)v->i; break;
	case ID_GROUP_INITIAL_DELAY: c->group_initial_delay_ms = (int32_t)v->i; break;
	case ID_OFFSETS_RETENTION_CHECK_MS: c->offsets_retention_check_ms = v->i; break;
	case ID_OFFSETS_RETENTION_MINUTES: c->offsets_retention_minutes = (int32_t)v->i; break;
	case ID_OFFSET_METADATA_MAX: c->offset_metadata_max_bytes = (int32_t)v->i; break;
	case ID_PRODUCER_ID_EXPIRATION_MS: c->producer_id_expiration_ms = v->i; break;
	case ID_CLEANER_BACKOFF_MS: c->cleaner_backoff_ms = v->i; break;
	case ID_CLEANER_DEDUPE: c->cleaner_dedupe_bytes = v->i; break;
	case ID_SEGMENT_FD_CACHE: c->segment_fd_cache = v->i; break;
	case ID_CLUSTER: return cluster_config_set(&c->cluster, k->name, v->s, why, whylen);
	default: set_log_key(&c->log, k, v); break;
	}
	return 0;
}

/* Kafka 3.7's DynamicLogConfig.ReconfigurableConfigs (the first broker
 * synonym of each topic setting, ServerTopicConfigSynonyms, but
 * log.message.format.version) that mqfs has: the broker settings an
 * AlterConfigs of a broker changes without a restart, as the default of
 * every topic that does not override its topic key. Kafka's others
 * (log.local.retention.*: no tiered storage here) are not settings here. */
static const char *const dynamic_log_keys[] = {
	"log.segment.bytes",
	"log.roll.ms",
	"log.roll.jitter.ms",
	"log.index.size.max.bytes",
	"log.flush.interval.messages",
	"log.flush.interval.ms",
	"log.retention.bytes",
	"log.retention.ms",
	"message.max.bytes",
	"log.index.interval.bytes",
	"log.cleaner.delete.retention.ms",
	"log.cleaner.min.compaction.lag.ms",
	"log.cleaner.max.compaction.lag.ms",
	"log.segment.delete.delay.ms",
	"log.cleaner.min.cleanable.ratio",
	"log.cleanup.policy",
	"unclean.leader.election.enable",
	"min.insync.replicas",
	"compression.type",
	"log.preallocate",
	"log.message.timestamp.type",
	"log.message.timestamp.difference.max.ms",
	"log.message.timestamp.before.max.ms",
	"log.message.timestamp.after.max.ms",
	"log.message.downconversion.enable",
};

/* Kafka 3.7's other reconfigurable broker settings that mqfs has:
 * LogCleaner.ReconfigurableConfigs (its threads, io buffers and io rate
 * are not settings here), SocketServer.ReconfigurableConfigs (no
 * per-ip overrides nor creation rate here) and
 * ProducerStateManagerConfig's. None is per-broker only in Kafka
 * (PerBrokerConfigs are its listener and SSL ones): each may be set for
 * one broker or as the cluster's default. */
static const char *const dynamic_broker_keys[] = {
	"log.cleaner.backoff.ms", "log.cleaner.dedupe.buffer.size", "producer.id.expiration.ms",
	"max.connections",        "max.connections.per.ip",
};

bool broker_config_dynamic_key(const char *key, size_t klen)
{
	for (size_t i = 0; i < NKEYS(dynamic_log_keys); i++)
		if (is(key, klen, dynamic_log_keys[i]))
			return true;
	return false;
}

const char *broker_config_dynamic_key_at(size_t i)
{
	return i < NKEYS(dynamic_log_keys) ? dynamic_log_keys[i] : NULL;
}

const char *broker_config_reconfigurable_key_at(size_t i)
{
	if (i < NKEYS(dynamic_log_keys))
		return dynamic_log_keys[i];
	i -= NKEYS(dynamic_log_keys);
	return i < NKEYS(dynamic_broker_keys) ? dynamic_broker_keys[i] : NULL;
}

bool broker_config_reconfigurable_key(const char *key, size_t klen)
{
	const char *k;

	for (size_t i = 0; (k = broker_config_reconfigurable_key_at(i)); i++)
		if (is(key, klen, k))
			return true;
	return false;
}

/* broker_set for a dynamic text: its keys only, and not counted as the
 * file's (STATIC_BROKER_CONFIG is the file's keys alone). */
static int dynamic_set(void *arg, const struct cfg_key *k, const struct cfg_val *v, char *why,
		       size_t whylen)
{
	struct broker_parse *p = arg;
	__typeof__(p->c.file_set) kept = p->c.file_set;
	int rc;

	if (!broker_config_reconfigurable_key(k->name, strlen(k->name))) {
		snprintf(why, whylen, "not a dynamic broker setting");
		return -EINVAL;
	}
	rc = broker_set(arg, k, v, why, whylen);
	p->c.file_set = kept;
	return rc;
}

/* The checks across keys of a whole broker config, as Kafka's KafkaConfig
 * makes them when it is built (from the file, or from the file and the
 * dynamic levels together). */
static int broker_cross_check(const struct broker_config *c, char *err, size_t errlen)
{
	int rc = cluster_config_check(&c->cluster, err, errlen);

	/* Kafka's require in KafkaConfig: the buffer over the cleaner
	 * threads (mqfs has one) must be above 1 MiB, whose refusal Kafka
	 * words "requirement failed: ..." (Scala's require). */
	if (rc == 0 && c->cleaner_dedupe_bytes <= 1024 * 1024) {
		set_err(err, errlen,
			BROKER_CONFIG_REQUIREMENT
			"log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread.");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = lag_check(&c->log, err, errlen);
	/* Kafka's require: 0 is for an address without an override, and
	 * mqfs has no max.connections.per.ip.overrides, so 0 never checks. */
	if (rc == 0 && c->cluster.net.max_connections_per_ip == 0) {
		set_err(err, errlen,
			BROKER_CONFIG_REQUIREMENT
			"max.connections.per.ip can be set to zero only if "
			"max.connections.per.ip.overrides property is set.");
		rc = -EINVAL;
	}
	return rc;
}

/* broker_config_parse, or with dynamic its dynamic keys only; with
 * check the checks across keys too (without: a line of one dynamic
 * level, the whole checked once every level is in). */
static int broker_parse_text(struct broker_config *c, const char *text, size_t len, bool dynamic,
			     bool check, char *err, size_t errlen)
{
	struct broker_parse *p;
	int rc;

	/* struct broker_config is over 4 KiB: the copy lives on the heap. */
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = *c;
	rc = cfg_apply_text(text, len, broker_keys, NKEYS(broker_keys), true, 0,
			    dynamic ? dynamic_set : broker_set, p, err, errlen);
	if (rc == 0 && check)
		rc = broker_cross_check(&p->c, err, errlen);
	if (rc == 0)
		*c = p->c;
	free(p);
	return rc;
}

int broker_config_parse(struct broker_config *c, const char *text, size_t len, char *err,
			size_t errlen)
{
	return broker_parse_text(c, text, len, false, true, err, errlen);
}

int broker_config_apply_dynamic(struct broker_config *c, const char *text, size_t len, char *err,
				size_t errlen)
{
	return broker_parse_text(c, text, len, true, true, err, errlen);
}

int broker_config_apply_dynamic_value(struct broker_config *c, const char *text, size_t len,
				      char *err, size_t errlen)
{
	return broker_parse_text(c, text, len, true, false, err, errlen);
}

/* Applies each line of text alone to c (a bad one skipped, told to bad),
 * as Kafka drops each stored value its type or range refuses
 * (DynamicBrokerConfig.removeInvalidConfigs); the checks across keys
 * are the caller's, on the whole. */
static int dynamic_lines(struct broker_config *c, const char *text, size_t len,
			 void (*bad)(void *arg, const char *line, size_t n, const char *why),
			 void *arg)
{
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char err[256] = "";
		int rc = broker_parse_text(c, p, n, true, false, err, sizeof(err));

		if (rc == -ENOMEM)
			return rc;
		if (rc < 0 && bad)
			bad(arg, p, n, err);
		p += n + 1;
	}
	return 0;
}

int broker_config_dynamic_effective(const struct broker_config *st, const char *def_text,
				    size_t dlen, const char *self_text, size_t slen,
				    struct broker_config *out,
				    void (*bad)(void *arg, const char *line, size_t n,
						const char *why),
				    void *arg, char *err, size_t errlen)
{
	struct broker_config *c = malloc(sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	*c = *st;
	/* Kafka's precedence: this broker's dynamic value, then the
	 * cluster's dynamic default, then the file's, then the built-in;
	 * the result checked as one config (Kafka builds one KafkaConfig of
	 * them), so that a pair of values at two levels cannot disagree. */
	rc = dynamic_lines(c, def_text, dlen, bad, arg);
	if (rc == 0)
		rc = dynamic_lines(c, self_text, slen, bad, arg);
	if (rc == 0)
		rc = broker_cross_check(c, err, errlen);
	if (rc == 0)
		*out = *c;
	free(c);
	return rc;
}

/* Reads a whole (small) file into a malloc'ed buffer. */
static int read_small_file(const char *path, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = NULL, *nb;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (!buf || n == cap) {
			if (buf)
				cap *= 2;
			if (cap > CFG_MAX_FILE) {
				rc = -EFBIG;
				goto out;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

int broker_config_load(struct broker_config *c, const char *path, char *err, size_t errlen)
{
	char msg[512];
	char *text = NULL;
	size_t len = 0, off;
	int rc;

	rc = read_small_file(path, &text, &len);
	if (rc < 0) {
		set_err(err, errlen, "cannot read %s: %s", path,
			rc == -EFBIG ? "larger than 16 MiB" : strerror(-rc));
		return rc;
	}
	/* A UTF-8 byte order mark, which some editors write first, is no
	 * part of the first key: taken as one, the refusal would name a key
	 * that looks right ("unknown key 'broker.id'"). */
	off = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	rc = broker_config_parse(c, text + off, len - off, msg, sizeof(msg));
	if (rc < 0)
		set_err(err, errlen, "%s: %s", path, msg);
	free(text);
	return rc;
}

int broker_config_new(struct broker_config **out)
{
	*out = malloc(sizeof(**out));
	if (!*out)
		return -ENOMEM;
	broker_config_defaults(*out);
	return 0;
}

void broker_config_free(struct broker_config *c)
{
	free(c);
}

const char *broker_config_data_dir(const struct broker_config *c)
{
	return c->data_dir;
}

int broker_config_set_data_dir(struct broker_config *c, const char *dir)
{
	size_t n = strlen(dir);

	if (n >= sizeof(c->data_dir))
		return -ENAMETOOLONG;
	memcpy(c->data_dir, dir, n + 1);
	return 0;
}

bool broker_config_has_password(const struct broker_config *c)
{
	/* Any of the jaas keys, the one in effect or not. */
	for (int i = 0; i < 1 + SASL_N_MECH; i++)
		if (c->cluster.jaas_given[i].password[0])
			return true;
	return false;
}

static const char *codec_str(int codec)
{
	for (size_t i = 0; i < NKEYS(codec_names); i++)
		if (codec_names[i].codec == codec)
			return codec_names[i].name;
	return "none";
}

static const char *policy_str(int pol)
{
	return pol == (LOG_CLEANUP_DELETE | LOG_CLEANUP_COMPACT) ? "compact,delete"
	       : pol == LOG_CLEANUP_COMPACT                      ? "compact"
								 : "delete";
}

/* The ratio as parse_ratio reads it back: up to six decimals, no
 * trailing zeros ("0.5"). */
static const char *ratio_str(double r, char *buf, size_t cap)
{
	long long m = (long long)(r * 1e6 + 0.5);
	int n = snprintf(buf, cap, "%lld.%06lld", m / 1000000, m % 1000000);
	while (n > 2 && buf[n - 1] == '0' && buf[n - 2] != '.')
		buf[--n] = '\0';
	return buf;
}

static const char *acks_str(int acks)
{
	return acks == 0 ? "0" : acks == 1 ? "1" : "all";
}

/* key.separator in the escaped form parse_sep reads back. */
static void put_sep(FILE *f, const struct log_config *log)
{
	for (int i = 0; i < log->key_sep_len && i < (int)sizeof(log->key_sep); i++) {
		char c = log->key_sep[i];

		if (c == '\\')
			fputs("\\\\", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == ' ')
			fputs("\\s", f);
		else
			fputc(c, f);
	}
	fputc('\n', f);
}

/* Ends an open_memstream() render: *out gets the NUL-terminated text.
 * *bufp is the stream's buffer, only valid once the stream is closed. */
static int render_close(FILE *f, char **bufp, char **out)
{
	bool bad = ferror(f) != 0;

	if (fclose(f) != 0 || bad) {
		free(*bufp);
		return -ENOMEM;
	}
	*out = *bufp;
	return 0;
}

/* Rendering order (broker):
 *   broker.id, log.dirs, num.partitions, log.segment.bytes, log.roll.ms,
 *   log.index.size.max.bytes, log.index.interval.bytes, message.max.bytes,
 *   log.flush.interval.messages, log.flush.interval.ms,
 *   log.flush.scheduler.interval.ms, log.flush.offset.checkpoint.interval.ms,
 *   compression.type, batch.size, linger.ms, acks, buffer.memory,
 *   request.timeout.ms, key.separator, log.retention.ms, log.retention.bytes,
 *   log.retention.check.interval.ms,
 *   log.cleanup.policy, log.cleaner.enable, log.cleaner.backoff.ms,
 *   log.cleaner.dedupe.buffer.size, log.cleaner.delete.retention.ms,
 *   log.cleaner.min.cleanable.ratio, log.cleaner.min.compaction.lag.ms,
 *   log.message.timestamp.type, log.roll.jitter.ms,
 *   log.cleaner.max.compaction.lag.ms,
 *   log.message.timestamp.difference.max.ms, .before.max.ms, .after.max.ms,
 *   log.preallocate, log.segment.fd.cache, log.segment.delete.delay.ms,
 *   log.message.format.version, log.message.downconversion.enable,
 *   then, with zookeeper.connect or listeners set, cluster_config_render's */
int broker_config_render(const struct broker_config *c, char **out, size_t *len)
{
	return broker_config_render_bound(c, NULL, out, len);
}

int broker_config_render_bound(const struct broker_config *c, const int *ports, char **out,
			       size_t *len)
{
	char rb[32];
	char *buf = NULL;
	FILE *f;

	f = open_memstream(&buf, len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "broker.id=%d\n", c->broker_id);
	fprintf(f, "log.dirs=%s\n", c->data_dir);
	fprintf(f, "num.partitions=%d\n", c->num_partitions);
	fprintf(f, "log.segment.bytes=%lld\n", (long long)c->log.segment_bytes);
	fprintf(f, "log.roll.ms=%lld\n", (long long)c->log.segment_ms);
	fprintf(f, "log.index.size.max.bytes=%d\n", c->log.segment_index_bytes);
	fprintf(f, "log.index.interval.bytes=%d\n", c->log.index_interval_bytes);
	fprintf(f, "message.max.bytes=%d\n", c->log.max_message_bytes);
	fprintf(f, "log.flush.interval.messages=%lld\n", (long long)c->log.flush_messages);
	fprintf(f, "log.flush.interval.ms=%lld\n", (long long)c->log.flush_ms);
	fprintf(f, "log.flush.scheduler.interval.ms=%lld\n", (long long)c->flush_scheduler_ms);
	fprintf(f, "log.flush.offset.checkpoint.interval.ms=%lld\n",
		(long long)c->checkpoint_interval_ms);
	fprintf(f, "compression.type=%s\n", codec_str(c->log.codec));
	fprintf(f, "batch.size=%d\n", c->log.batch_bytes);
	fprintf(f, "linger.ms=%lld\n", (long long)c->linger_ms);
	fprintf(f, "acks=%s\n", acks_str(c->acks));
	fprintf(f, "buffer.memory=%lld\n", (long long)c->buffer_memory);
	fprintf(f, "request.timeout.ms=%lld\n", (long long)c->request_timeout_ms);
	fputs("key.separator=", f);
	put_sep(f, &c->log);
	fprintf(f, "line.format=%s\n", line_format_name(c->log.line_format));
	fprintf(f, "auto.create.topics.enable=%s\n", c->auto_create_topics ? "true" : "false");
	fprintf(f, "group.min.session.timeout.ms=%d\n", (int)c->group_min_session_ms);
	fprintf(f, "group.max.session.timeout.ms=%d\n", (int)c->group_max_session_ms);
	fprintf(f, "group.max.size=%d\n", (int)c->group_max_size);
	fprintf(f, "group.initial.rebalance.delay.ms=%d\n", (int)c->group_initial_delay_ms);
	fprintf(f, "offsets.retention.check.interval.ms=%lld\n",
		(long long)c->offsets_retention_check_ms);
	fprintf(f, "offsets.retention.minutes=%d\n", (int)c->offsets_retention_minutes);
	fprintf(f, "offset.metadata.max.bytes=%d\n", (int)c->offset_metadata_max_bytes);
	fprintf(f, "producer.id.expiration.ms=%lld\n", (long long)c->producer_id_expiration_ms);
	fprintf(f, "log.retention.ms=%lld\n", (long long)c->log.retention_ms);
	fprintf(f, "log.retention.bytes=%lld\n", (long long)c->log.retention_bytes);
	fprintf(f, "log.retention.check.interval.ms=%lld\n", (long long)c->retention_check_ms);
	fprintf(f, "log.cleanup.policy=%s\n", policy_str(c->log.cleanup_policy));
	fprintf(f, "log.cleaner.enable=%s\n", c->cleaner_enable ? "true" : "false");
	fprintf(f, "log.cleaner.backoff.ms=%lld\n", (long long)c->cleaner_backoff_ms);
	fprintf(f, "log.cleaner.dedupe.buffer.size=%lld\n", (long long)c->cleaner_dedupe_bytes);
	fprintf(f, "log.cleaner.delete.retention.ms=%lld\n", (long long)c->log.delete_retention_ms);
	fprintf(f, "log.cleaner.min.cleanable.ratio=%s\n",
		ratio_str(c->log.min_cleanable_dirty_ratio, rb, sizeof(rb)));
	fprintf(f, "log.cleaner.min.compaction.lag.ms=%lld\n",
		(long long)c->log.min_compaction_lag_ms);
	fprintf(f, "log.message.timestamp.type=%s\n",
		c->log.log_append_time ? "LogAppendTime" : "CreateTime");
	fprintf(f, "log.roll.jitter.ms=%lld\n", (long long)c->log.segment_jitter_ms);
	fprintf(f, "log.cleaner.max.compaction.lag.ms=%lld\n",
		(long long)c->log.max_compaction_lag_ms);
	fprintf(f, "log.message.timestamp.difference.max.ms=%lld\n",
		(long long)c->log.ts_difference_max_ms);
	fprintf(f, "log.message.timestamp.before.max.ms=%lld\n",
		(long long)c->log.ts_before_max_ms);
	fprintf(f, "log.message.timestamp.after.max.ms=%lld\n", (long long)c->log.ts_after_max_ms);
	fprintf(f, "log.preallocate=%s\n", c->log.preallocate ? "true" : "false");
	fprintf(f, "log.segment.fd.cache=%lld\n", (long long)c->segment_fd_cache);
	fprintf(f, "log.segment.delete.delay.ms=%lld\n", (long long)c->log.file_delete_delay_ms);
	fprintf(f, "log.message.format.version=%s\n", c->log.message_format_version);
	fprintf(f, "log.message.downconversion.enable=%s\n",
		c->log.message_downconversion ? "true" : "false");
	/* A single node without a listener shows what it always showed. */
	if (cluster_config_zk(&c->cluster) || c->cluster.listeners_set)
		cluster_config_render(&c->cluster, ports, f);
	return render_close(f, &buf, out);
}

/* ---- topic ---- */

struct topic_parse {
	struct topic_config tc;         /* the copy being changed */
	int32_t partitions_before;      /* partitions may only grow from this */
	const struct topic_config *def; /* what a "-key" line goes back to */
};

static int topic_set(void *arg, const struct cfg_key *k, const struct cfg_val *v, char *why,
		     size_t whylen);

/* The bit of k in struct topic_config's overrides, 0 for the settings
 * pinned to the topic. */
static uint64_t override_bit(const struct cfg_key *k)
{
	if (k->id == ID_PARTITIONS || k->id == ID_KEY_SEP || k->id == ID_LINE_FORMAT)
		return 0;
	return UINT64_C(1) << (k - topic_keys);
}

/* A "-key" line: k takes def's value, and is no longer an override. */
static int topic_unset(struct topic_parse *p, const struct cfg_key *k, char *why, size_t whylen)
{
	char *text = NULL;
	size_t len = 0;
	const char *pos;
	struct cfg_val *v = NULL;
	int rc = -EINVAL;

	if (k->id == ID_PARTITIONS) {
		snprintf(why, whylen, "the partition count is no override");
		return -EINVAL;
	}
	if (!p->def) {
		snprintf(why, whylen, "no default to go back to here");
		return -EINVAL;
	}
	v = malloc(sizeof(*v));
	if (!v || topic_config_render(p->def, &text, &len) < 0) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	for (pos = text; pos < text + len;) {
		const char *nl = memchr(pos, '\n', (size_t)(text + len - pos));
		size_t l = nl ? (size_t)(nl - pos) : (size_t)(text + len - pos);
		size_t kl = strlen(k->name);

		if (l > kl && pos[kl] == '=' && !memcmp(pos, k->name, kl)) {
			rc = parse_value(k, pos + kl + 1, l - kl - 1, false, v, why, whylen);
			if (rc == 0)
				rc = topic_set(p, k, v, why, whylen);
			break;
		}
		pos += l + 1;
	}
	p->tc.overrides &= ~override_bit(k);
out:
	free(v);
	free(text);
	return rc;
}

static int topic_set(void *arg, const struct cfg_key *k, const struct cfg_val *v, char *why,
		     size_t whylen)
{
	struct topic_parse *p = arg;

	if (!v)
		return topic_unset(p, k, why, whylen);
	p->tc.overrides |= override_bit(k);
	switch (k->id) {
	case ID_PARTITIONS:
		if (v->i < p->partitions_before) {
			snprintf(why, whylen, "partitions may only grow: now %d",
				 p->partitions_before);
			return -EINVAL;
		}
		p->tc.partitions = (int32_t)v->i;
		break;
	case ID_ACKS: p->tc.acks = (int)v->i; break;
	case ID_LINGER_MS: p->tc.linger_ms = v->i; break;
	case ID_MIN_ISR: p->tc.min_insync_replicas = (int32_t)v->i; break;
	case ID_UNCLEAN: p->tc.unclean_leader_election = v->i != 0; break;
	case ID_LEADER_THROTTLED: memcpy(p->tc.leader_throttled, v->s, v->len + 1); break;
	case ID_FOLLOWER_THROTTLED: memcpy(p->tc.follower_throttled, v->s, v->len + 1); break;
	default: set_log_key(&p->tc.log, k, v); break;
	}
	return 0;
}

/* topic_config_apply_more, with check the checks across settings too
 * (Kafka's LogConfig.validateValues), without them what a load takes
 * (Kafka's LogConfig.fromProps). */
static int topic_apply_text(struct topic_config *tc, const struct topic_config *def,
			    const char *pre, size_t plen, const char *text, size_t len, int line0,
			    bool check, char *err, size_t errlen)
{
	struct topic_parse p;
	int rc;

	p.tc = *tc;
	p.partitions_before = tc->partitions;
	p.def = def;
	rc = cfg_apply_text(pre, plen, topic_keys, NKEYS(topic_keys), false, -1, topic_set, &p, err,
			    errlen);
	if (rc == 0)
		rc = cfg_apply_text(text, len, topic_keys, NKEYS(topic_keys), false, line0,
				    topic_set, &p, err, errlen);
	if (rc == 0 && check)
		rc = lag_check(&p.tc.log, err, errlen);
	if (rc == 0)
		*tc = p.tc;
	return rc;
}

int topic_config_apply(struct topic_config *tc, const char *text, size_t len, char *err,
		       size_t errlen)
{
	return topic_apply_text(tc, NULL, NULL, 0, text, len, 0, true, err, errlen);
}

int topic_config_apply_def(struct topic_config *tc, const struct topic_config *def,
			   const char *text, size_t len, char *err, size_t errlen)
{
	return topic_apply_text(tc, def, NULL, 0, text, len, 0, true, err, errlen);
}

int topic_config_apply_more(struct topic_config *tc, const struct topic_config *def,
			    const char *pre, size_t plen, const char *text, size_t len, int line0,
			    char *err, size_t errlen)
{
	return topic_apply_text(tc, def, pre, plen, text, len, line0, true, err, errlen);
}

int topic_config_load(struct topic_config *tc, const struct topic_config *def, const char *text,
		      size_t len, char *err, size_t errlen)
{
	return topic_apply_text(tc, def, NULL, 0, text, len, 0, false, err, errlen);
}

int topic_config_check(const struct topic_config *tc, char *err, size_t errlen)
{
	return lag_check(&tc->log, err, errlen);
}

bool topic_config_key_set(const struct topic_config *tc, const char *key, size_t klen)
{
	for (size_t i = 0; i < NKEYS(topic_keys); i++)
		if (is(key, klen, topic_keys[i].name))
			return (tc->overrides & override_bit(&topic_keys[i])) != 0;
	return false;
}

/* One setting line of a text: its key (trimmed, up to the first '=' or
 * ':', as cfg_apply_text reads it), or false for a blank or comment. */
static bool setting_key(const char *s, size_t n, const char **key, size_t *klen)
{
	size_t k = 0;

	trim(&s, &n);
	if (n == 0 || s[0] == '#' || s[0] == '!')
		return false;
	while (k < n && s[k] != '=' && s[k] != ':')
		k++;
	*key = s;
	*klen = k;
	/* "-key" removes what "key=..." sets: one setting, the last wins. */
	if (*klen > 0 && s[0] == '-') {
		(*key)++;
		(*klen)--;
	}
	trim(key, klen);
	return true;
}

bool topic_config_text_names(const char *text, size_t len, const char *key)
{
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *k;
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), klen;

		if (setting_key(p, l, &k, &klen) && is(k, klen, key))
			return true;
		p += l + 1;
	}
	return false;
}

int topic_config_compact(const char *a, size_t alen, const char *b, size_t blen, char **out,
			 size_t *outlen)
{
	struct {
		const char *key, *line;
		size_t klen, len;
	} *e = NULL, *ne;
	size_t n = 0, cap = 0, total = 0;
	char *buf;
	int rc = 0;

	for (int part = 0; part < 2; part++) {
		const char *p = part ? b : a, *end = p ? p + (part ? blen : alen) : NULL;

		while (p && p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p)), *key;
			size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), klen, i;

			if (setting_key(p, l, &key, &klen)) {
				for (i = 0; i < n; i++)
					if (e[i].klen == klen && !memcmp(e[i].key, key, klen))
						break;
				if (i == n && n == cap) {
					cap = cap ? 2 * cap : 32;
					ne = realloc(e, cap * sizeof(*e));
					if (!ne) {
						rc = -ENOMEM;
						goto out;
					}
					e = ne;
				}
				if (i == n)
					n++;
				e[i].key = key;
				e[i].klen = klen;
				e[i].line = p;
				e[i].len = l;
			}
			p += l + 1;
		}
	}
	for (size_t i = 0; i < n; i++)
		total += e[i].len + 1;
	buf = malloc(total + 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	*outlen = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(buf + *outlen, e[i].line, e[i].len);
		*outlen += e[i].len;
		buf[(*outlen)++] = '\n';
	}
	buf[*outlen] = '\0';
	*out = buf;
out:
	free(e);
	return rc;
}

int topic_config_inherited_text(const struct topic_config *tc, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < NKEYS(topic_keys); i++) {
		uint64_t bit = override_bit(&topic_keys[i]);

		if (bit && !(tc->overrides & bit))
			fprintf(f, "-%s\n", topic_keys[i].name);
	}
	if (fclose(f) != 0) {
		free(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

const char *topic_config_broker_key(const char *key)
{
	for (size_t i = 0; i < NKEYS(topic_keys); i++) {
		if (strcmp(topic_keys[i].name, key) != 0)
			continue;
		if (topic_keys[i].id == ID_PARTITIONS)
			return "num.partitions";
		/* The first broker name of a setting is Kafka's own; the
		 * cluster's settings (min.insync.replicas, unclean leader
		 * election) have the same name on both levels. */
		for (size_t j = 0; j < NKEYS(broker_keys); j++)
			if (broker_keys[j].id == topic_keys[i].id)
				return broker_keys[j].name;
		return topic_keys[i].name;
	}
	return NULL;
}

void topic_config_defaults_of(const struct broker_config *c, struct topic_config *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->partitions = c->num_partitions > 0 ? c->num_partitions : 1;
	tc->acks = c->acks;
	tc->linger_ms = c->linger_ms;
	tc->min_insync_replicas = c->cluster.min_insync_replicas;
	tc->unclean_leader_election = c->cluster.unclean_leader_election;
	tc->log = c->log;
}

/* Rendering order (topic):
 *   partitions, acks, segment.bytes, segment.ms, segment.index.bytes,
 *   index.interval.bytes, max.message.bytes, flush.messages, flush.ms,
 *   compression.type, batch.size, linger.ms, key.separator, retention.ms,
 *   retention.bytes, cleanup.policy, delete.retention.ms,
 *   min.cleanable.dirty.ratio, min.compaction.lag.ms, message.timestamp.type,
 *   segment.jitter.ms, max.compaction.lag.ms,
 *   message.timestamp.difference.max.ms, .before.max.ms, .after.max.ms,
 *   preallocate, min.insync.replicas,
 *   unclean.leader.election.enable, file.delete.delay.ms,
 *   message.format.version, message.downconversion.enable,
 *   leader.replication.throttled.replicas,
 *   follower.replication.throttled.replicas */
int topic_config_render(const struct topic_config *tc, char **out, size_t *len)
{
	char rb[32];
	char *buf = NULL;
	FILE *f;

	f = open_memstream(&buf, len);
	if (!f)
		return -ENOMEM;
	fprintf(f, "partitions=%d\n", tc->partitions);
	fprintf(f, "acks=%s\n", acks_str(tc->acks));
	fprintf(f, "segment.bytes=%lld\n", (long long)tc->log.segment_bytes);
	fprintf(f, "segment.ms=%lld\n", (long long)tc->log.segment_ms);
	fprintf(f, "segment.index.bytes=%d\n", tc->log.segment_index_bytes);
	fprintf(f, "index.interval.bytes=%d\n", tc->log.index_interval_bytes);
	fprintf(f, "max.message.bytes=%d\n", tc->log.max_message_bytes);
	fprintf(f, "flush.messages=%lld\n", (long long)tc->log.flush_messages);
	fprintf(f, "flush.ms=%lld\n", (long long)tc->log.flush_ms);
	fprintf(f, "compression.type=%s\n", codec_str(tc->log.codec));
	fprintf(f, "batch.size=%d\n", tc->log.batch_bytes);
	fprintf(f, "linger.ms=%lld\n", (long long)tc->linger_ms);
	fputs("key.separator=", f);
	put_sep(f, &tc->log);
	fprintf(f, "line.format=%s\n", line_format_name(tc->log.line_format));
	fprintf(f, "retention.ms=%lld\n", (long long)tc->log.retention_ms);
	fprintf(f, "retention.bytes=%lld\n", (long long)tc->log.retention_bytes);
	fprintf(f, "cleanup.policy=%s\n", policy_str(tc->log.cleanup_policy));
	fprintf(f, "delete.retention.ms=%lld\n", (long long)tc->log.delete_retention_ms);
	fprintf(f, "min.cleanable.dirty.ratio=%s\n",
		ratio_str(tc->log.min_cleanable_dirty_ratio, rb, sizeof(rb)));
	fprintf(f, "min.compaction.lag.ms=%lld\n", (long long)tc->log.min_compaction_lag_ms);
	fprintf(f, "message.timestamp.type=%s\n",
		tc->log.log_append_time ? "LogAppendTime" : "CreateTime");
	fprintf(f, "segment.jitter.ms=%lld\n", (long long)tc->log.segment_jitter_ms);
	fprintf(f, "max.compaction.lag.ms=%lld\n", (long long)tc->log.max_compaction_lag_ms);
	fprintf(f, "message.timestamp.difference.max.ms=%lld\n",
		(long long)tc->log.ts_difference_max_ms);
	fprintf(f, "message.timestamp.before.max.ms=%lld\n", (long long)tc->log.ts_before_max_ms);
	fprintf(f, "message.timestamp.after.max.ms=%lld\n", (long long)tc->log.ts_after_max_ms);
	fprintf(f, "preallocate=%s\n", tc->log.preallocate ? "true" : "false");
	fprintf(f, "min.insync.replicas=%d\n", tc->min_insync_replicas);
	fprintf(f, "unclean.leader.election.enable=%s\n",
		tc->unclean_leader_election ? "true" : "false");
	fprintf(f, "file.delete.delay.ms=%lld\n", (long long)tc->log.file_delete_delay_ms);
	fprintf(f, "message.format.version=%s\n", tc->log.message_format_version);
	fprintf(f, "message.downconversion.enable=%s\n",
		tc->log.message_downconversion ? "true" : "false");
	fprintf(f, THROTTLE_LEADER_REPLICAS "=%s\n", tc->leader_throttled);
	fprintf(f, THROTTLE_FOLLOWER_REPLICAS "=%s\n", tc->follower_throttled);
	return render_close(f, &buf, out);
}
