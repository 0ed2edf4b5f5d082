/*
 * repl.h — the broker: the only thing fs/ talks to. The one public header
 * of repl/.
 *
 * A broker owns the topic catalog (names, partition counts, per-topic
 * config overrides, owner and mode), persisted as one small file per topic
 * under DATA/meta/topics/<topic>.properties (tmp + fsync + rename), and the
 * partitions' logs through the engine's log manager. On a single node it is
 * the leader of every partition with leader epoch 0 and itself as the only
 * replica and ISR; the cluster implements the same calls.
 *
 * Produce path: topic_produce() takes complete lines, splits them into
 * records (key<sep>value when the topic has key.separator), appends them
 * to the partition's log, and returns when they are acknowledged according
 * to acks (appended, then committed: see "produce" below).
 *
 * Ownership: struct topic is reference counted. broker_topic_get() returns
 * a reference the caller drops with topic_put(). A deleted topic stays
 * valid for holders of a reference; every call on it then fails -ENOENT.
 *
 * Threads: every function is thread-safe.
 */
#ifndef MQFS_REPL_REPL_H
#define MQFS_REPL_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/diaglog.h"

/* ---- configuration (repl/config.c) ----
 * Kafka's server.properties form: "key=value" lines, '#' or '!' comments,
 * blank lines, whitespace around key and value trimmed. The settings
 * themselves are the broker's business (repl/config.h); fs holds them
 * only to name the data directory and to pass them to broker_open. */
struct broker_config;
/* A config with every default set; -ENOMEM. Free with broker_config_free. */
int broker_config_new(struct broker_config **out);
void broker_config_free(struct broker_config *c);
/* Reads a server.properties file over c. On error returns -EINVAL (or the
 * file's -errno) and writes a message naming the file and the line
 * ("FILE: line 3: unknown key 'foo'") into err. */
int broker_config_load(struct broker_config *c, const char *path, char *err, size_t errlen);
/* The data directory (log.dirs): get, set (-ENAMETOOLONG). */
const char *broker_config_data_dir(const struct broker_config *c);
int broker_config_set_data_dir(struct broker_config *c, const char *dir);
/* True when the settings hold a password (the broker's SCRAM user in
 * sasl.jaas.config): its file must not be readable by every user. */
bool broker_config_has_password(const struct broker_config *c);

/* ---- SCRAM users (repl/scram_admin.c) ----
 * Kafka's SCRAM users live in ZooKeeper (/config/users/<user>), created
 * before the brokers start, as kafka-configs.sh does. connect is
 * zookeeper.connect's form; mechanism "SCRAM-SHA-256" (also NULL) or
 * "SCRAM-SHA-512". add writes (or replaces) the user's salted credential
 * of that mechanism (4096 iterations, a fresh salt), beside one of the
 * other mechanism; delete removes it. -EINVAL bad name or mechanism,
 * -ENOENT (delete) no such user or no credential of that mechanism,
 * ZooKeeper's errors; err says what failed. */
int scram_admin_add(const char *connect, const char *mechanism, const char *user,
		    const char *password, char *err, size_t errlen);
int scram_admin_delete(const char *connect, const char *mechanism, const char *user, char *err,
		       size_t errlen);

/* ---- broker ---- */
struct broker;
struct topic;

/* Opens the data directory named in cfg (log manager, catalog, recovery). */
int broker_open(const struct broker_config *cfg, struct broker **out);
/* Clean shutdown: flush, checkpoints, clean-shutdown marker. Frees b in
 * every case; -errno (logged, naming what failed) when the logs or the
 * checkpoints could not be made durable: then no marker was written. */
int broker_close(struct broker *b);

/* Kafka topic name rules: [A-Za-z0-9._-]{1,249}, not "." or "..". */
bool topic_name_valid(const char *name);
/* Why a user (mkdir, CreateTopics, auto-creation) may not make a topic of
 * this name: the name rules, and no leading '.' (the mount's views) or
 * "__" (the internal topics'); NULL when it may. */
const char *topic_name_refusal(const char *name);
/* -EINVAL bad name, -EEXIST exists, -ENOSPC/-EIO. *out may be NULL. */
int broker_topic_create(struct broker *b, const char *name, uid_t uid, gid_t gid, mode_t mode,
			struct topic **out);
/* Deletes the topic and its data; -ENOENT. */
int broker_topic_delete(struct broker *b, const char *name);
/* A new reference, or -ENOENT. */
int broker_topic_get(struct broker *b, const char *name, struct topic **out);
/* Sorted names of the topics (the internal ones, starting "__", only
 * with internal); *names and each name malloc'ed, free with
 * broker_names_free. */
int broker_topic_list(struct broker *b, bool internal, char ***names, int *n);
void broker_names_free(char **names, int n);
/* Root views: MNT/.state, MNT/.config, MNT/.metrics (malloc'ed text). */
int broker_state_text(struct broker *b, char **out, size_t *len);
int broker_config_text(struct broker *b, char **out, size_t *len);
int broker_metrics_text(struct broker *b, char **out, size_t *len);

void topic_get(struct topic *t);
void topic_put(struct topic *t);
const char *topic_name(struct topic *t);
/* The topic's id in the cluster (Kafka's topic id, as ZooKeeper holds
 * it) into out: false when it has none (one node, or not yet read). */
bool topic_cluster_id(struct topic *t, char *out, size_t cap);
/* The topic of that cluster id, with a reference: 0, -ENOENT. */
int broker_topic_by_cluster_id(struct broker *b, const char *id, struct topic **out);
uint64_t topic_id(struct topic *t); /* unique for the life of the broker */
bool topic_deleted(struct topic *t);
int topic_partitions(struct topic *t);
void topic_owner(struct topic *t, uid_t *uid, gid_t *gid, mode_t *mode);
int topic_set_owner(struct topic *t, uid_t uid, gid_t gid, mode_t mode);
int64_t topic_ctime(struct topic *t); /* ms */
int64_t topic_mtime(struct topic *t); /* ms: last append to any partition */
/* .config: read all settings; write key=value lines (all or nothing,
 * -EINVAL with a log line naming the bad line; partitions may only grow;
 * key.separator only before the first record: -EBUSY). A replicated
 * topic's settings are written to ZooKeeper first (its overrides and a
 * change notification every broker applies; more partitions: its
 * assignment, waiting for their leaders, -ETIMEDOUT; too few live
 * brokers -EINVAL), then here; ZooKeeper's errors (-ENOTCONN, ...) leave
 * the settings as they were. */
int topic_config_text(struct topic *t, char **out, size_t *len);
int topic_config_write(struct topic *t, const char *text, size_t len);
/* What topic_config_write would refuse of the text pre + text, as it
 * refuses it (the same error and log line), without changing anything;
 * pre holds lines checked before (as topic_config_compact keeps them,
 * NULL: none) and text the lines after them, numbered in messages from
 * line0 + 1: the cost is that of text, not of everything written since
 * the open. */
int topic_config_check_more(struct topic *t, const char *pre, size_t plen, const char *text,
			    size_t len, int line0);
/* The setting lines of a then b with only the last line of each key (a
 * topic's settings each have one name, and the last line wins), blank
 * and comment lines left out, into *out (malloc'ed, NUL-terminated):
 * what a .config text applies, in at most one line per setting. -ENOMEM. */
int topic_config_compact(const char *a, size_t alen, const char *b, size_t blen, char **out,
			 size_t *outlen);
/* .state: header row, one row per partition. */
int topic_state_text(struct topic *t, char **out, size_t *len);

/* ---- produce ----
 * A write is acknowledged in two steps, "appended" then "committed":
 *   1. appended: its records are in the partition's log (and, when
 *      flush.messages asks for it, synced), in one append serialised per
 *      partition (group commit, produce.c), under no topic-wide lock;
 *   2. committed (acks=all): it waits, holding no lock, until the high
 *      watermark covers its last offset, at most request.timeout.ms. On
 *      one node the ISR is this broker, so the hw moves with the append
 *      and this step ends at once.
 * acks=1 returns after step 1, acks=0 may return before it (see
 * produce_tracker).
 *
 * The input is one or two runs of lines: lines holds complete lines, each
 * ended by '\n', except that with PRODUCE_FINAL the last one may lack it
 * (a partial line flushed at close or fsync); head, if any, is appended
 * just before them as one write (complete lines: e.g. a partial line
 * completed by this write), which saves the mount from copying a whole
 * write behind a partial line. partition -1 = the partitioner (.produce).
 * Returns 0 when all records are acknowledged per acks, or:
 *   -ENOENT topic or partition deleted, -EINVAL a run not ended by '\n'
 *   (or a keyless record in a compacted topic), -EMSGSIZE a record over
 *   max.message.bytes (nothing appended), -ENOSPC disk full (nothing
 *   appended), -EAGAIN not appended, safe to retry (O_NONBLOCK and
 *   buffer.memory full; in a cluster also fewer in-sync replicas than
 *   min.insync.replicas, or no leader within request.timeout.ms),
 *   -ETIMEDOUT appended (a forwarded write: maybe appended) but not
 *   confirmed committed within request.timeout.ms, -EIO. In a cluster a
 *   partition led by another broker gets the records forwarded to its
 *   leader (forward.h), with the same results. */
#define PRODUCE_FINAL    0x1
#define PRODUCE_NONBLOCK 0x2
struct produce_input {
	const char *head; /* may be NULL (head_len 0) */
	size_t head_len;
	const char *lines;
	size_t len;
};
/* acks=0 writes through one open file: such a write may return before its
 * records are appended (when another append to the partition is in
 * progress, the appender takes it along); the tracker counts such writes
 * and keeps the first error one of them met, so that fsync() and close()
 * can wait for them and report it. */
struct produce_tracker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending; /* acks=0 writes not yet appended */
	int error;   /* first -errno among them, 0 */
	/* Set by each topic_produce_file with this tracker, for the file's
	 * fsync: the offset after the write's last record when all of them
	 * were appended here before it returned (the file's earlier acks=0
	 * writes, queued ahead of it, are below it), -1 when not known (the
	 * write was queued, forwarded to the leader, or failed). */
	int64_t end;
};
void produce_tracker_init(struct produce_tracker *tr);
/* Waits until every write tracked is appended; returns the first error
 * (and clears it) or 0. */
int produce_tracker_wait(struct produce_tracker *tr);
/* Waits as produce_tracker_wait, then frees. */
void produce_tracker_destroy(struct produce_tracker *tr);
/* A write through an open file: both runs, and the file's tracker (NULL:
 * none; acks=0 then appends before it returns). */
int topic_produce_file(struct topic *t, int partition, const struct produce_input *in, int flags,
		       struct produce_tracker *tr);
/* One run of lines, no tracker: writers that are not an open file (the
 * group coordinator's commits, tests). */
int topic_produce(struct topic *t, int partition, const char *lines, size_t len, int flags);
/* The topic's max.message.bytes. */
int32_t topic_max_message_bytes(struct topic *t);
/* The largest batch the topic's leader takes (log_batch_limit): its
 * bytes, and in *name the setting that binds (max.message.bytes, or
 * segment.bytes when lower), for a refusal's log line. */
int32_t topic_batch_limit(struct topic *t, const char **name);
/* buffer.memory for what mount writers hold between writes (an unfinished
 * line, a .config's text): take n bytes more, never waiting (the holders
 * free them only at their own next write or close, so a wait could last
 * for ever): 0, or -ENOBUFS when the held lines and the writes in flight
 * would pass buffer.memory (unless nothing else is held). Appends never
 * wait for these bytes. */
int topic_unfinished_take(struct topic *t, int64_t n);
void topic_unfinished_give(struct topic *t, int64_t n);
/* 0 if the line of len bytes (its '\n' not counted) can be one record,
 * -EMSGSIZE if not. ended: line holds the whole line; otherwise the line
 * is unfinished (more may follow): only len and its first byte (whether it
 * is an escaped line) count, and line may be NULL when len is 0. */
int topic_line_check(struct topic *t, const char *line, size_t len, bool ended);
/* Makes everything appended to the partition durable (fsync): one
 * fdatasync of its .log, shared by concurrent callers (log_sync). */
int topic_fsync(struct topic *t, int partition);
/* The same for the records below upto only (upto < 0: all): a caller whose
 * records an earlier sync covered returns without an fdatasync. */
int topic_fsync_upto(struct topic *t, int partition, int64_t upto);

/* ---- the line view of a partition (the partition files) ----
 * Each record is one line (value, or key<sep>value, then '\n') at a line
 * position that never changes; nothing at or above the high watermark is
 * returned. */
/* The line position of the high watermark now (0 without a replica
 * here). */
int64_t topic_line_size(struct topic *t, int partition);
/* st_size of the partition file: topic_line_size, but never less than
 * what this broker showed before (the largest it returned). The hw's line
 * position moves back only when a replica truncates below its hw, which an
 * unclean leader election can make it do; a reader then sees st_size stay
 * and reads end at the (lower) hw until records pass it again. -ENOENT. */
int64_t topic_file_size(struct topic *t, int partition);
/* Waits until this broker's replica knows as committed the writes this
 * broker forwarded to the leader and returned from (read your own writes
 * through one mount: they are committed, and this replica, in the ISR,
 * learns it a fetch round trip later); at most a second, logged when
 * that passes. At once when nothing was forwarded from here lately, on a
 * single node, and for a partition read through its read copy.
 * topic_file_size and topic_reader_read do it first; the mount calls it
 * at an open that reads through the page cache. */
void topic_read_own_writes(struct topic *t, int partition);
/* 1 when every record of the line view from position 0 up to the high
 * watermark is still there (no retention or compaction removed any) and
 * readable (no reader met a corrupt batch, the log was not found
 * damaged, a replicated topic that allows an unclean leader election,
 * whose new leader may lack records below this replica's hw), so that the
 * bytes at each position are the same for every reader and stay so; 0
 * otherwise; -ENOENT. */
int topic_line_whole(struct topic *t, int partition);
/* A reader of one partition's line view, one per open partition file: it
 * keeps the place of its last read so that the next one continues there
 * without a lookup. It outlives a delete of its topic. */
struct topic_reader;
int topic_reader_new(struct topic *t, int partition, struct topic_reader **out);
void topic_reader_free(struct topic_reader *r);
/* Copies up to size bytes of the line view from line position pos; 0 at
 * or after the high watermark. When pos falls in a gap (records removed
 * by retention or compaction) it starts at the next record present and
 * *actual_pos (if not NULL) says where. The lines returned count as
 * delivered (.metrics). -ENOENT, -EBADMSG, -EIO, -EREMOTE (a cluster:
 * this broker holds no replica of the partition, whose file is listed
 * with size 0). next: NULL, or the reader's other buffer of size bytes,
 * which the engine may decode the following bytes into meanwhile (see
 * log_read_lines_ahead: the caller leaves it alone until its next read). */
ssize_t topic_reader_read(struct topic *t, int partition, struct topic_reader *r, int64_t pos,
			  char *buf, size_t size, int64_t *actual_pos, char *next);
/* A reader through the page cache at a removed position pos (a gap that
 * topic_reader_read skipped): the bytes kept there from the page of the
 * log start (log_read_head), 0 if none. */
size_t topic_reader_head(struct topic *t, int partition, struct topic_reader *r, int64_t pos,
			 char *buf, size_t size);

/* ---- .segments ----
 * The files of a partition's segments: <base>.log raw, the others
 * rendered as text (.index, .timeindex, and .dump: a line per batch, then
 * a line per record). In a cluster, a partition without a replica on
 * this broker shows the segments of its read copy (made as a read makes
 * it: a listing waits until the copy holds what the leader committed),
 * and topic_segments_copy_text says so. */
enum segment_file { SEGMENT_LOG, SEGMENT_INDEX, SEGMENT_TIMEINDEX, SEGMENT_DUMP };
/* Base offsets of the segments, oldest first; *bases malloc'ed. */
int topic_segments(struct topic *t, int partition, int64_t **bases, int *n);
/* The file's size: .log its bytes, the others their rendering's. */
int64_t topic_segment_size(struct topic *t, int partition, int64_t base, enum segment_file kind);
ssize_t topic_segment_read_raw(struct topic *t, int partition, int64_t base, char *buf, size_t size,
			       int64_t off);
/* One chunk of a rendering: *cursor starts at 0 and is advanced; returns
 * bytes written into buf (at least 64 KiB), 0 when done. */
ssize_t topic_segment_render(struct topic *t, int partition, int64_t base, enum segment_file kind,
			     int64_t *cursor, char *buf, size_t size);
/* For a partition read through a read copy here: a malloc'ed text that
 * names the leader broker the copy follows, its leader epoch and the
 * copy's log start, line start and hw. -ENOENT when this broker holds a
 * replica (or on a single node), -ETIMEDOUT the copy cannot be made. */
int topic_segments_copy_text(struct topic *t, int partition, char **out, size_t *len);

/* ---- high watermark listener ----
 * fn(arg, topic, partition) after any partition's high watermark moved.
 * It may run with a topic's lock held (a grow) and with the broker's
 * hw_mu: it may only queue work or wake a thread, never call topic_*().
 * One listener (the group coordinator). */
void broker_set_hw_listener(struct broker *b,
			    void (*fn)(void *arg, const char *topic, int partition), void *arg);

/* ---- removal listener ----
 * fn(arg, topic, partition) after records below the high watermark of a
 * partition were removed: retention deleted segments, or the cleaner
 * rewrote segments without some records. Line positions of the records
 * left do not change, but a read at a removed position now continues at
 * the next record present. A topic's deletion, however it comes (here,
 * through a Kafka client, or from the cluster), calls it for each of the
 * topic's partitions too, topic_deleted(t) then true. It runs in the
 * scheduler, the cleaner or the deleting thread with no repl lock held,
 * so it may block (the mount invalidates the kernel's page cache of the
 * partition file). Setting it (or NULL) waits
 * for a call in progress. One listener (the mount). */
void broker_set_removed_listener(struct broker *b,
				 void (*fn)(void *arg, struct topic *t, int partition), void *arg);

/* ---- consumer groups (repl/group_*.c, private header group_int.h) ----
 * A group belongs to one topic (MNT/<topic>/.groups/<group>/); names follow
 * the topic name rules (group_name_refusal). Committed offsets and the group's settings are
 * records in the internal topic __consumer_offsets, replayed at
 * broker_open. A member is one open consume file: joining or leaving
 * rebalances the partitions with the group's partition.assignment.strategy
 * (the assignors of repl/assign.c). Delivery is at-least-once, and a member's
 * read offset is its commit position: see group_consume(); a member that
 * leaves commits nothing more.
 * struct group is reference counted (group_put); every function is
 * thread-safe. Errors: -EINVAL bad name or value, -ENOENT no such group
 * (or topic/partition), -EEXIST, -EBUSY the group has active members,
 * -ENOMEM, and the produce errors of a commit. */
struct group;
struct group_member;
/* The broker that coordinates the group named group: in a cluster the
 * leader of its partition of __consumer_offsets (Kafka's partitionFor),
 * on one node this broker. 0 with its id in *broker_id and, when endpoint
 * is not NULL, its first advertised listener as "host:port" (len bytes;
 * "" when not known); -EAGAIN no coordinator now (__consumer_offsets not
 * made yet or no leader); -EINPROGRESS this broker is the coordinator and
 * still loading the group's partition. Takes no group lock. */
int group_coordinator_of(struct broker *b, const char *group, int32_t *broker_id, char *endpoint,
			 size_t len);
#define GROUP_LOOKUP      0 /* find only */
#define GROUP_CREATE      1 /* find or create */
#define GROUP_CREATE_EXCL 2 /* create; -EEXIST if it exists (mkdir) */
int group_open(struct topic *t, const char *name, int create, struct group **out);
/* Why a new group may not have this name (the topic name rules, and no
 * leading '.' or "__"), or NULL when it may. */
const char *group_name_refusal(const char *name);
/* The group with this id (stable for the life of the broker, never
 * reused), if it still exists and belongs to t. */
int group_by_id(struct topic *t, uint64_t id, struct group **out);
void group_put(struct group *g);
uint64_t group_id(struct group *g);
const char *group_name(struct group *g);
/* Names of t's groups, in creation order; free with broker_names_free;
 * with ids not NULL, their group_id()s too (*ids malloc'ed). In a
 * cluster also the groups other brokers coordinate (asked with ListGroups,
 * each broker given 1 s; answers kept for 1 s): a broker that does not
 * answer has its groups left out (logged), never an error. Takes no lock
 * the caller may hold. */
int group_list(struct topic *t, char ***names, uint64_t **ids, int *n);
/* Deletes the group and its offsets (tombstones); -EBUSY with members. */
int group_delete(struct topic *t, const char *name);
/* fn(arg, topic, group) when a group is deleted here, however (rmdir,
 * Kafka's DeleteGroups, the offsets' expiry, its tombstone replayed, its
 * topic deleted, a proxy whose coordinator no longer has it); not when it
 * only moves to another coordinator. Called with the coordinator's lock
 * held: fn may only queue work. Setting it (or NULL) waits for a call in
 * progress. One listener (the mount); none before the coordinator is
 * open. */
void group_set_gone_listener(struct broker *b,
			     void (*fn)(void *arg, const char *topic, const char *group),
			     void *arg);
/* The committed offset of a partition (the next to consume), or where
 * auto.offset.reset would start when none was committed. */
int group_offset(struct group *g, int partition, int64_t *offset);
/* value: "N" (0..log end offset), "earliest", "latest", "@<ISO-8601 or
 * epoch ms>" (first record at or after it, by the time index; the high
 * watermark when none). -EINVAL bad value, -EBUSY members active. */
int group_offset_reset(struct group *g, int partition, const char *value, size_t len);
/* .state (members, assignment, per partition committed/end/lag) and
 * .config (partition.assignment.strategy, auto.offset.reset,
 * session.timeout.ms); config writes are all or nothing (-EINVAL). */
int group_state_text(struct group *g, char **out, size_t *len);
int group_config_text(struct group *g, char **out, size_t *len);
int group_config_write(struct group *g, const char *text, size_t len);
/* Joins (rebalances). wake(arg) is called from the coordinator's notifier
 * thread, with no repl lock held, once per group_member_arm(), when one of
 * the member's partitions may have new records or the assignment changed. */
int group_join(struct group *g, pid_t pid, void (*wake)(void *arg), void *arg,
	       struct group_member **out);
/* Leaves (rebalances) and frees m; waits for a wake call in flight. */
void group_leave(struct group_member *m);
const char *group_member_id(struct group_member *m);
/* A member reads its stream: every byte it was ever returned, in order,
 * at stream offsets from 0 (the consume file's offsets). A read at off
 * first commits the records of the stream that end at or before off, then
 * returns: at the end of the stream, new whole lines of the member's
 * partitions (a record longer than size in part); before the end, the
 * same bytes as before from off. Returns bytes, 0 when nothing new is
 * ready (never blocks); -ENOENT; -ESPIPE before the stream's committed
 * part (nothing read again); -ERANGE past its end (nothing returned, all
 * of the stream committed: an end of file); -ENODATA when bytes to return
 * again were removed by retention or compaction; -EBADMSG, -EIO when a
 * lookup or read of the log fails (nothing committed past the records
 * delivered). */
ssize_t group_consume(struct group_member *m, int64_t off, char *buf, size_t size);
/* Asks for one wake; returns 1 if records are ready already (the wake
 * still comes), 0 armed, -ENOENT. */
int group_member_arm(struct group_member *m);
/* Cancels an armed wake; returns once no wake call is in flight. */
void group_member_disarm(struct group_member *m);

#endif
