/*
 * group_int.h — private to repl/: the consumer group coordinator's insides,
 * shared by its files and their unit test. Each file owns one seam:
 *
 *   group_store.c      the __consumer_offsets records: their format, the
 *                      replay at open, every write (commits, group
 *                      settings, tombstones)
 *   group_coord.c      the coordinator's life (open, close) and its groups:
 *                      find, create, delete, bind to a topic, drop with
 *                      the topic; the lock-and-check prologue
 *   group_rebalance.c  members, generations and the assignment: join,
 *                      leave, rebalance (the assignors are assign.c)
 *   group_offsets.c    offsets and line positions of a group's partitions:
 *                      lookups through the topic, where an owner starts,
 *                      the committed offset and its reset
 *   group_consume.c    a member's stream: consume reads, the file position
 *                      as the commit position, re-delivery
 *   group_notify.c     parked reads: arming, the hw listener and the
 *                      notifier thread that wakes members
 *   group_views.c      .state and .config of a group, and its metrics
 *   group_guest.c      on the coordinator: the mount members of other
 *                      brokers, joined over the listener's group APIs
 *   group_remote.c     on the other brokers: their members of a group the
 *                      coordinator assigns, heartbeats, commits there
 *   group_admin.c      on the other brokers: a mount's mkdir, reset,
 *                      .config and rmdir of a group, sent to its
 *                      coordinator as Kafka's admin requests
 *   group_admin_serve.c on the coordinator: DescribeGroups, DeleteGroups
 *                      and the group resource of IncrementalAlterConfigs
 *   group_list.c       on every broker: a .groups listing that asks the
 *                      other brokers for the groups they coordinate
 *                      (ListGroups), cached for a moment
 *   group_list_serve.c on the coordinator: ListGroups
 *   offsets_topic.c    a cluster's replicated __consumer_offsets: made on
 *                      first need, the coordinator rule (the leader of a
 *                      group's partition), the loader thread that loads
 *                      and drops the groups of the partitions led here
 *
 * Locks, in this order (after broker.admin_mu, before topic.lock):
 *
 *   0. coord.list_mu   the listing's cache of the other brokers' groups
 *                      (group_list.c): held across its ListGroups calls,
 *                      so that readdirs at once ask once; takes call_mu
 *                      and mu (making and dropping proxies) under it
 *   0. coord.loader_mu a leaf: the loader thread's pass counter, waited
 *                      on by offsets_coordinator_wait with no other lock
 *   1. coord.call_mu   held by the notifier while it calls members' wake
 *                      callbacks, or by an appender's group_notify_flush
 *                      (taken with trylock under wake_mu: on failure the
 *                      notifier does the calls); group_leave() and
 *                      group_member_disarm()
 *                      take it (with no other lock) to wait out a call in
 *                      flight on their member; group_topic_deleted() takes
 *                      it under admin_mu to wake the members of the groups
 *                      it drops; the offsets loader takes it (then mu) to
 *                      drop the groups of a partition led elsewhere now
 *   2. coord.mu        the list of groups; held across a mount member's
 *                      join (group_join), so that its check of Kafka
 *                      members and its joining are one step
 *   2a. group_serve.mu Kafka's consumer groups (group_serve.c): taken
 *                      under coord.mu by the kafka_active hook and by
 *                      JoinGroup; takes no group or topic lock itself
 *   2b. metadata cache  its own mutex, a leaf: taken under coord.mu by the
 *                      kafka_coordinator hook (the live brokers)
 *   3. group.mu        members, assignment, positions, committed offsets;
 *                      held across reads of the topic and commits to
 *                      __consumer_offsets (which take topic locks: 4.)
 *   3a. grem.conn_mu   a remote member's connection to its coordinator
 *                      (group_remote.c): an OffsetCommit under group.mu;
 *                      its heartbeat thread takes it without group.mu;
 *                      it reads the connection hook under connect_mu
 *                      (5.), never under coord.mu
 *   4. topic.lock ...  (broker_int.h)
 *   5. coord.wake_mu   a leaf. The hw listener takes it and nothing else:
 *                      log_set_hw() calls the listener after dropping the
 *                      log's lock, from the partition's appender, which
 *                      holds no repl lock (neither topic.lock nor
 *                      produce_mu), or when a partition becomes leader
 *                      (under admin_mu, or topic.lock for writing in a
 *                      grow), and through broker_hw_moved(), which holds
 *                      broker.hw_mu. So the listener only queues an event
 *                      here, for the notifier thread, or for the appender's
 *                      own flush when it deferred (group_notify.c).
 *   5. coord.connect_mu a leaf: with coord.mu, guards the connection
 *                      hook (connect, connect_arg) for the callers that
 *                      hold group.mu or grem.conn_mu
 */
#ifndef MQFS_REPL_GROUP_INT_H
#define MQFS_REPL_GROUP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "repl/assign.h"
#include "repl/broker_int.h"
#include "repl/net.h"

#define GROUP_OFFSETS_TOPIC "__consumer_offsets"
#define GROUP_EVENTS        256

struct group_member;

/* A committed offset is kept as it was committed: Kafka's OffsetCommit
 * takes any value and OffsetFetch answers it as given (kafkajs's
 * admin.resetOffsets commits -2 for earliest, -1 for latest). Where the
 * mount starts from one is group_start_offset's: >= 0 there; -2 the log
 * start, as librdkafka reads it (OFFSET_BEGINNING); any other negative,
 * -1 among them (also what a partition never committed holds), none: the
 * group's auto.offset.reset, as every Kafka consumer reads -1. */
#define GROUP_OFFSET_NONE     (-1)
#define GROUP_OFFSET_EARLIEST (-2)

struct gpart {
	struct group_member *owner; /* NULL: unassigned */
	int64_t committed;          /* as committed (above); -1: none yet */
	int64_t commit_ts;          /* ms of the commit */
	/* Wall ms the offset expires at (a version 2-4 OffsetCommit's
	 * retention_time_ms, Kafka's expireTimestamp), whatever its commit or
	 * the group's idle time; -1: offsets.retention.minutes counts. */
	int64_t expire_ts;
	/* The leader epoch committed with the offset (OffsetCommit v6+'s
	 * committed_leader_epoch, Kafka's OffsetAndMetadata.leaderEpoch),
	 * answered by OffsetFetch v5+ for a client's position check after a
	 * leader change (KIP-320); -1: none. */
	int32_t leader_epoch;
	char *metadata; /* a Kafka commit's metadata string,
					 * mdlen bytes (malloc'd, NUL-ended); NULL:
					 * none, "" */
	size_t mdlen;
	bool stored;               /* a commit record holds committed, -1
					 * included (Kafka's offsets map): OffsetFetch
					 * of all topics lists it and a delete
					 * tombstones it; false: never committed, or
					 * tombstoned. Not kept by a proxy (a load
					 * clears it before the replay). */
	struct log_cursor *cursor; /* the owner's reads (belongs to the group) */
	int64_t pos;               /* owner's next line position, may be inside a
					 * line; -1: not known yet (the lookup of the
					 * committed offset failed, retried by a read) */
	int64_t commit_pos;        /* line position the owner last committed */
	uint32_t epoch;            /* bumped whenever the owner changes */
	/* A remote owner's commit that the coordinator did not take (it
	 * moved, loading, not reached): the offset, its line position and
	 * leader epoch, for the owner's epoch pend_epoch. Its heartbeat
	 * thread sends it again (rem_recommit) while it still owns the
	 * partition: its reader may have read all there is, and no later
	 * read would commit. pend_bound <= commit_pos: none. */
	int64_t pend_off, pend_bound;
	int32_t pend_leader_epoch;
	uint32_t pend_epoch;
	/* A follower's copy ends below committed (a Kafka client may commit
	 * past the log end): the owner waits (pos -1) for ask_leader, the
	 * committed offset it asks the partition's leader about, and
	 * leader_end is the leader's log end offset answered for it (-1
	 * none yet; group_past_end_check). ask_leader -1: nothing asked. */
	int64_t ask_leader;
	int64_t leader_end;
};

/* Bytes [soff, soff + len) of a member's stream are the line view of
 * partition part at [lpos, lpos + len), returned while the member owned
 * part in epoch epoch. last_nl: bytes of the piece up to and including its
 * last '\n' (0: it holds none), so that a read at the piece's end needs no
 * look at the log to find the records it passed. */
struct gpiece {
	int64_t soff;
	int64_t lpos;
	int64_t len;
	int64_t last_nl;
	/* The offset of the record after the piece's last line when the read
	 * that made it ended at the high watermark (line_hw then, whose offset
	 * is hw then: positions never move); -1 unknown. A commit of the whole
	 * piece then needs no position lookup, which takes the log's lock and
	 * reads its sidecar while the appender waits for that lock. */
	int64_t end_off;
	int part;
	uint32_t epoch;
};

struct group_member {
	struct group *g;
	char id[64];
	pid_t pid;
	bool active; /* in g->members */
	/* The member's stream (the consume file's bytes): [start, end) is
	 * what was returned and is not yet passed by a read's offset, kept as
	 * pieces (positions, not bytes: a read before end re-reads the log).
	 * Invariants: start <= end; pieces are in stream order, contiguous,
	 * and cover exactly [start, end); all come from the last read at end,
	 * so there are at most as many as partitions. */
	int64_t start, end;
	struct gpiece *pieces;
	int npieces, cap;
	int rr; /* partition a read starts with */
	/* The last read at end returned a record of partition cont_part in
	 * part (it was longer than the buffer), up to line position
	 * cont_lpos, in the partition's epoch cont_epoch: the next read at
	 * end starts with the rest of that record, also when the partition
	 * has moved since (that rest is then not committed here). */
	bool cont;
	int cont_part;
	uint32_t cont_epoch;
	int64_t cont_lpos;
	void (*wake)(void *arg);
	void *wake_arg;
	bool armed; /* wake wanted when data may be there */
	/* On the coordinator: a member of another broker's mount, joined over
	 * JoinGroup (group_guest.c); the assignor counts it like a local one,
	 * its reads and wakes happen on its broker. last_heard: monotonic ms
	 * of its last request, for session.timeout.ms. */
	bool guest;
	int64_t last_heard;
	int32_t session_ms; /* a Kafka consumer's own; 0: the group's */
	/* On another broker: a member whose group another broker coordinates
	 * (group_remote.c); its partitions are what that coordinator assigned
	 * it, its commits go there. NULL for every other member. */
	struct grem *rm;
	struct group_member *next;
};

struct group {
	atomic_int refs;
	struct group_coord *gc;
	uint64_t id;
	char topic[TOPIC_NAME_MAX + 1];
	char name[TOPIC_NAME_MAX + 1];
	pthread_mutex_t mu;
	/* Under mu: */
	struct topic *t; /* reference, NULL until first used */
	bool deleted;
	bool moved; /* another broker coordinates it now (offsets_topic.c) */
	/* A proxy of the group another broker coordinates (a cluster): it
	 * holds this mount's members of it (group_remote.c), their positions
	 * and cursors, and nothing durable: it writes nothing to
	 * __consumer_offsets, and its offsets and settings are the
	 * coordinator's. The loader makes it this broker's own group when
	 * this broker loads its partition, and turns a loaded group into a
	 * proxy when another broker leads the partition. */
	bool proxy;
	int64_t made_ms;   /* monotonic: when made here (a listing spares newer
			  * proxies its coordinator did not list yet) */
	int strategy;      /* enum assign_strategy */
	bool reset_latest; /* auto.offset.reset=latest */
	int32_t session_timeout_ms;
	int32_t generation;
	/* Wall ms (engine_now_ms) when its last member left; 0: not known
	 * (none did since it was made, or its record is older than the
	 * field). Its offsets' retention counts from this or their commit,
	 * whichever is later (group_serve.c). Kept in its settings record
	 * (idle.since.ms, group_store.c) as Kafka keeps a group's Empty time
	 * in its Empty record: idle_unsaved while the record does not say
	 * yet whether the group has members and since when it has none. */
	int64_t idle_since;
	bool idle_unsaved;
	uint64_t next_member;
	struct group_member *members; /* join order */
	int nmembers;
	int nremote; /* members with rm: the coordinator elsewhere assigns */
	struct gpart *parts;
	int nparts;
};

struct group_event {
	char topic[TOPIC_NAME_MAX + 1];
	int partition; /* -1: every member of the topic's groups */
};

/* A partition of a replicated __consumer_offsets as this broker's
 * coordinator sees it (offsets_topic.c). */
enum offsets_load { OFFSETS_NONE, OFFSETS_LOADING, OFFSETS_LOADED };

struct group_kmeta;
struct group_coord {
	struct broker *b;
	/* __consumer_offsets. In a cluster NULL until the topic exists; set
	 * once under mu, never changed after. */
	struct topic *offsets;
	/* A cluster: __consumer_offsets is replicated and this broker holds
	 * the groups of the partitions it leads only. */
	bool cluster;
	/* Per partition of the replicated __consumer_offsets (noffsets of
	 * them, set with offsets): enum offsets_load, and the leader epoch
	 * it was loaded at. Written by the loader thread under mu, read
	 * without it. */
	_Atomic int *load;
	int32_t *load_epoch;
	int noffsets;
	pthread_t loader;
	bool loader_running;
	pthread_mutex_t loader_mu;
	pthread_cond_t loader_cv; /* CLOCK_MONOTONIC: stop, or a pass done */
	bool loader_stop;
	uint64_t loader_passes;
	/* offsets_loader_kick since the pass began; the loader sleeps
	 * without a deadline (loader_asleep) only when no kick came and its
	 * pass found nothing to wait for. */
	bool loader_kicked;
	bool loader_asleep;
	/* A FindCoordinator found no __consumer_offsets here
	 * (offsets_topic_request): the loader's next pass asks ZooKeeper
	 * for it. Under loader_mu. */
	bool make_asked;
	pthread_mutex_t call_mu;
	pthread_mutex_t mu;
	struct group **groups;
	int ngroups, cap;
	uint64_t next_id;
	atomic_int armed;    /* armed members: the listener's fast path */
	atomic_int deferred; /* appenders between group_notify_defer and
			      * _flush: the queue is theirs to run */
	/* Groups whose idle_unsaved was set since the last
	 * group_store_idle_flush: it skips the walk while 0. */
	atomic_int idle_unsaved;
	/* The group timer's sleep (group_serve.c, timer_main), to its
	 * earliest deadline: timer_mu is a leaf lock, so that whatever
	 * gives the timer new work (a deadline sooner than the one it sleeps
	 * to, a record to write, a guest, an idle group to record, a leader
	 * to ask for its log end) wakes it under any lock it holds
	 * (group_timer_kick). */
	pthread_mutex_t timer_mu;
	pthread_cond_t timer_cv; /* CLOCK_MONOTONIC */
	bool timer_kicked;       /* under timer_mu */
	/* Set (under mu) by group_serve.c while the listener serves Kafka's
	 * group APIs: true when the Kafka consumer group of that name has
	 * members. Called with mu held. */
	bool (*kafka_active)(void *arg, const char *group);
	/* The mount's listener of groups that go (group_set_gone_listener),
	 * under mu: called with mu held by group_coord_remove, so it may
	 * only queue. */
	void (*gone_fn)(void *arg, const char *topic, const char *group);
	void *gone_arg;
	/* Ends the Kafka consumer group of that name (its members learn
	 * UNKNOWN_MEMBER_ID and join again, into the mount's group): a
	 * consume file opens while Kafka consumers are members. Called with
	 * mu held. */
	void (*kafka_dissolve)(void *arg, const char *group);
	/* Lines describing the Kafka group of that name for topic's .state
	 * (nothing when it has no members), into buf. Called with mu held. */
	void (*kafka_describe)(void *arg, const char *group, const char *topic, char *buf,
			       size_t cap);
	/* The id of the broker that coordinates the group of that name when
	 * it is another one (FindCoordinator sends Kafka clients there), -1
	 * when this broker does (loaded), GROUP_COORD_NONE when none does now
	 * (no leader of its __consumer_offsets partition, or this broker is
	 * still loading it). Called with mu held. */
	int32_t (*kafka_coordinator)(void *arg, const char *group);
	/* Drops the Kafka groups of partition p (of n) of __consumer_offsets,
	 * which another broker leads now: their members are answered
	 * NOT_COORDINATOR and find the new one. Called with mu held. */
	void (*kafka_drop)(void *arg, int p, int n);
	/* Makes the Kafka groups of the n GroupMetadata records a replay
	 * found (the last of each group; group_meta.h), with their members
	 * Stable, as Kafka's loadGroupsAndOffsets does. Called with mu held,
	 * right after the replay; a group that has members here already is
	 * left as it is. */
	void (*kafka_load)(void *arg, const struct group_kmeta *recs, int n);
	void *kafka_arg;
	/* The GroupMetadata records the last replay found that no kafka_load
	 * hook took yet (one node: the replay at open runs before the
	 * listener hooks in, and group_serve_new takes them). Under mu. */
	struct group_kmeta *kmeta;
	int nkmeta;
	/* Set by the cluster under mu and connect_mu both, so read under
	 * either: a connection, authenticated, to broker node's listener,
	 * for the members of groups that broker coordinates
	 * (group_remote.c). NULL on a single node. Called with no lock held.
	 * A caller holding a group's lock or grem.conn_mu reads them under
	 * connect_mu (a leaf), never under mu, which comes before those. */
	pthread_mutex_t connect_mu;
	int (*connect)(void *arg, int32_t node, int64_t timeout_ms, struct net_client **out);
	void *connect_arg;
	/* Set with the kafka_ hooks: the ids of the live brokers other than
	 * this one (*ids malloc'ed), their count or -ENOMEM. Called with mu
	 * held. */
	int (*kafka_others)(void *arg, int32_t **ids);

	/* The other brokers' groups as the last listing found them
	 * (group_list.c), under list_mu. */
	pthread_mutex_t list_mu;
	int64_t list_at; /* monotonic ms of that listing; 0: none */
	/* Groups removed from this broker's list (any reason): counted
	 * without a lock; a listing made at another count is not reused,
	 * so that it does not bring back a proxy just dropped. */
	atomic_uint list_gen;
	unsigned list_gen_at; /* list_gen when that listing was asked */
	char **list_ids;      /* "<topic>/<group>" they coordinate */
	int list_n;
	int32_t *list_from; /* the brokers that answered it */
	int list_nfrom;

	pthread_t thr;
	bool running;
	pthread_mutex_t wake_mu;
	pthread_cond_t wake_cv;
	bool stop;
	bool all;               /* the queue overflowed: wake everyone */
	bool busy;              /* the notifier is calling what it took off the queue */
	pthread_cond_t idle_cv; /* signalled when it is done (wake_mu) */
	struct group_event ev[GROUP_EVENTS];
	int nev;
};

/* ---- group_store.c: __consumer_offsets ---- */
/* A Kafka group's GroupMetadata record as a replay found it (the last
 * one of the group in its partition). */
struct group_kmeta {
	char name[TOPIC_NAME_MAX + 1];
	uint8_t *value; /* GroupMetadataValue, malloc'ed; NULL: a tombstone */
	size_t len;
};
/* Hands gc->kmeta to the kafka_load hook (when set) and frees them.
 * Needs gc->mu. */
void group_store_kmeta_deliver(struct group_coord *gc);
/* Frees recs[0..n) and recs. */
void group_kmeta_free(struct group_kmeta *recs, int n);
/* Appends the Kafka group's GroupMetadata record (value [val, val +
 * vlen), GroupMetadataValue; vlen 0: a tombstone) to its partition of
 * __consumer_offsets, as group_store_append. No lock needed. */
int group_store_kafka(struct group_coord *gc, const char *group, const uint8_t *val, size_t vlen);
/* Java's String.hashCode of the name (UTF-8 decoded to UTF-16 units). */
int32_t group_java_hash(const char *s);
/* String.length() of the Java String Kafka decodes from the UTF-8 bytes
 * [s, s + len): its UTF-16 code units (offset.metadata.max.bytes counts
 * them). */
int64_t group_java_length(const char *s, size_t len);
/* Kafka's Utils.abs(groupId.hashCode()) % partitions. */
int group_offsets_partition(const char *group, int partitions);
/* On one node, finds (or makes, compacted and keyed by TAB)
 * __consumer_offsets and replays it into gc->groups; in a cluster does
 * nothing (offsets_topic.c). At open, before any other thread. */
int group_store_open(struct group_coord *gc);
/* Replays partition p (-1: all) of gc->offsets into gc->groups. Needs
 * gc->mu (or no other thread yet). */
int group_store_replay(struct group_coord *gc, int p);
/* The settings __consumer_offsets is made with in a cluster, into tc. */
int group_store_topic_config(struct broker *b, struct topic_config *tc);
/* Appends lines (whole records) to the group's partition of
 * __consumer_offsets; a failure is logged. */
int group_store_append(struct group_coord *gc, const char *group, const char *lines, size_t len);
/* The group's settings record (name, topic, strategy, reset_latest and
 * session_timeout_ms of g, and whether it has members or since when it
 * has none: nmembers, idle_since). */
int group_store_meta(const struct group *g);
/* Marks g's membership changed: it gained its first member or lost its
 * last (group_store_idle_flush records that). Needs g->mu. */
void group_idle_mark(struct group *g);
/* Writes the settings record of each group marked (group_idle_mark) since
 * the last call, with what its members are now; one not written (the
 * append failed) stays marked. Takes coord.mu, then each group's mu;
 * none held on entry. The group coordinator's timer thread calls it. */
void group_store_idle_flush(struct group_coord *gc);
/* Wakes the group timer (group_serve.c) at once: it looks at what is due
 * and sleeps to the earliest deadline again. Any locks held. */
void group_timer_kick(struct group_coord *gc);
/* The group timer's sleep: up to ms (< 0: no deadline), or until a
 * group_timer_kick, which it takes. No lock held but what the caller
 * may hold before timer_mu (any). */
void group_timer_sleep(struct group_coord *gc, int64_t ms);
/* Commits offs[i] for partitions parts[i] (n of them) by member (the
 * member id, or "reset") with leader epochs epochs[i] (NULL: none, -1),
 * then sets them in g, without Kafka metadata, commit timestamp or
 * retention. Needs g->mu. */
int group_store_commit(struct group *g, const int *parts, const int64_t *offs,
		       const int32_t *epochs, int n, const char *member);
/* One partition's commit as a Kafka OffsetCommit makes it. */
struct group_commit {
	int part;
	int64_t offset;
	int32_t leader_epoch; /* version 6+; -1: none */
	int64_t commit_ts;    /* wall ms (version 1); -1: now */
	int64_t retention_ms; /* versions 2-4: expires this long after now;
			       * -1: offsets.retention.minutes counts */
	const char *metadata; /* NULL: none (Kafka keeps "") */
	size_t mdlen;
};
/* Commits c[0..n) by member in one append, then sets them in g (their
 * metadata copied). Needs g->mu. */
int group_store_commits(struct group *g, const struct group_commit *c, int n, const char *member);
/* Forgets gp's committed offset, as a replay does after its tombstone. */
void gpart_forget(struct gpart *gp);
/* Tombstones for g's committed offsets and for g itself. Needs g->mu. */
int group_store_tombstones(struct group *g);
/* Tombstones for g's committed offsets of partitions parts[0..n) (those
 * it keeps: gpart.stored), then forgets them in g (committed -1, not
 * stored), as a replay would after them: the count written, or the
 * append's error (g unchanged). Needs g->mu. */
int group_store_offsets_delete(struct group *g, const int *parts, int n);
/* Applies "key=value" settings separated by sep ('\n' for .config, ' '
 * in a settings record) to the copies; -EINVAL with a reason in why. */
int group_settings_apply(const char *text, size_t len, char sep, int *strategy, bool *latest,
			 int32_t *session, char *why, size_t whylen);
/* Calls fn for each "key=value" of text (sep-separated; blank and '#'
 * lines skipped; spaces around key and value trimmed): -EINVAL with why
 * for a line without '=', or fn's first nonzero return. */
int group_settings_each(const char *text, size_t len, char sep,
			int (*fn)(const char *k, size_t kl, const char *v, size_t vl, void *arg,
				  char *why, size_t whylen),
			void *arg, char *why, size_t whylen);

/* ---- group_coord.c: the groups ---- */
/* The broker that coordinates g when it is another one (its id), or
 * GROUP_COORD_NONE when none does now; -1 when this broker does (or a
 * single node). Needs coord.mu. */
int32_t group_remote_node(struct group *g);
/* Drops the proxy of group name of topic when it has no members (its
 * group is gone at the coordinator), logged with why. Takes call_mu and
 * coord.mu: no lock may be held. */
void group_proxy_drop(struct group_coord *gc, const char *topic, const char *name, const char *why);
#define GROUP_COORD_NONE (-2)
/* Makes the proxy of group name of t that another broker's ListGroups
 * listed, unless t has a group of that name here or no other broker
 * coordinates it now: 1 made, 0 not, -errno. Takes coord.mu. */
int group_proxy_listed(struct group_coord *gc, struct topic *t, const char *name);
struct group *group_new(struct group_coord *gc, const char *topic, const char *name);
/* Makes g->parts hold n partitions. */
int group_parts_grow(struct group *g, int n);
/* Index in gc->groups, or -1. Needs gc->mu. */
int group_coord_find(struct group_coord *gc, const char *topic, const char *name);
/* Takes over the caller's reference. Needs gc->mu. */
int group_coord_insert(struct group_coord *gc, struct group *g);
/* Takes gc->groups[i] out of the table (not its reference). gone: the
 * group is deleted (not moved to another coordinator), which the gone
 * listener hears. Needs gc->mu. */
void group_coord_remove(struct group_coord *gc, int i, bool gone);
/* Drops the groups match() selects: tombstoned (deleted) or only
 * forgotten here (moved); see group_coord.c. Needs gc->mu. */
void group_coord_drop(struct group_coord *gc, bool (*match)(const struct group *g, const void *arg),
		      const void *arg, bool tombstone, const char *why, struct group_member ***fire,
		      int *nfire);
/* -ENOENT unless g and its topic still exist; refreshes the partition
 * count. Needs g->mu. */
int group_live(struct group *g);
/* The prologue of a group's public functions: takes g->mu and checks
 * group_live(); when the topic's partition count grew since the group
 * last looked, rebalances its members over the new count. Returns 0 with
 * g->mu held, -errno with g->mu released. */
int group_lock_live(struct group *g);
/* group_lock_live(), and -ENOENT unless the topic has the partition;
 * 0 with g->mu held. */
int group_lock_part(struct group *g, int partition);

/* ---- group_list.c: a listing in a cluster ----
 * Makes the groups of t that the other live brokers coordinate (their
 * ListGroups answers, asked at most once a second) visible here as
 * proxies, and drops the idle proxies of t their coordinator no longer
 * lists. Nothing on a single node or without the cluster's group hooks.
 * Takes list_mu, call_mu, coord.mu: no lock may be held. */
void group_list_sync(struct group_coord *gc, struct topic *t);

/* ---- group_admin.c: a proxy's admin operations, at the coordinator ----
 * Each returns 0, -errno as the local operation would (Kafka's answer
 * mapped by group_admin_errno, logged with the coordinator), or
 * GADM_LOCAL when this broker turned out to coordinate the group (the
 * caller then does the operation here). They wait (up to
 * request.timeout.ms) while the coordinator moves, cannot be reached
 * (group_remote_moving) or loads; then -EAGAIN. No lock held. GADM_LOCAL
 * is 2: group_admin_remote_exists answers 1 for a group that exists. */
#define GADM_LOCAL 2
int group_admin_errno(int16_t err);
/* rmdir: DeleteGroups of "<topic>/<name>" at node. */
int group_admin_forward_delete(struct group_coord *gc, const char *topic, const char *name,
			       int32_t node);
/* mkdir: -EEXIST when node has the group, else makes it there. */
int group_admin_forward_create(struct group_coord *gc, const char *topic, const char *name,
			       int32_t node);
/* 1 when node has group name of topic, 0 when not; without wait, one
 * short question (a lookup of a proxy this broker has), no waiting for a
 * moving coordinator. */
int group_admin_remote_exists(struct group_coord *gc, const char *topic, const char *name,
			      int32_t node, bool wait);
/* .config: the keys of text (checked by the caller) set at node. */
int group_admin_forward_config(struct group *g, int32_t node, const char *text, size_t len);
/* A reset: off committed for partition p at node, outside a generation. */
int group_admin_forward_commit(struct group *g, int32_t node, int p, int64_t off);
/* A .config read: g's settings as node has them (DescribeConfigs) into
 * g's copy; one short question, the copy unchanged on failure. */
int group_admin_fetch_config(struct group *g, int32_t node);

/* One request to another broker and the Kafka error of its answer. */
struct gadm_call {
	int16_t api;
	const char *what; /* for the log: "rmdir", ".config" */
	int (*encode)(struct kbuf_w *w, int16_t v, const void *req);
	const void *req;
	/* Decodes the response: its error (and message into msg). */
	int (*decode)(struct kbuf_r *r, int16_t v, void *ctx, int16_t *err, char *msg, size_t cap);
	void *ctx;
	int64_t timeout_ms;
};
/* The call at node once, over a connection of its own (the version the
 * broker and node share): 0 with Kafka's error in *err, or -errno (node
 * not reached, -EOPNOTSUPP it lacks the API, or its answer malformed).
 * No lock held. */
int group_admin_once(struct group_coord *gc, int32_t node, const struct gadm_call *call,
		     int16_t *err, char *msg, size_t cap);

/* A name a group of the coordinator may have: a topic name (one made
 * before the name rules too), or "", the group of Kafka's simple
 * consumers that OffsetCommit makes (kg_empty_id_ok), which no mount
 * directory shows (group_list leaves it out). */
bool group_name_kept(const char *name);

/* ---- group_admin_serve.c: the group admin APIs (coordinator) ---- */
/* A group id of the admin APIs: "<g>" (topic "") or "<topic>/<g>", into
 * topic and name (TOPIC_NAME_MAX + 1 bytes each); -EINVAL with *why. */
int group_scoped_name(struct kstr id, char *topic, char *name, const char **why);
/* NONE when this broker coordinates group name, else Kafka's
 * NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS or
 * COORDINATOR_NOT_AVAILABLE (logged with api and peer). No lock held. */
int16_t group_admin_coord_check(struct group_coord *gc, const char *name, const char *api,
				const char *peer);

/* ---- offsets_topic.c: the replicated __consumer_offsets ---- */
/* Makes sure __consumer_offsets exists in a cluster: 0 when it does (or
 * on one node, or another broker or a FindCoordinator made it and the
 * loader takes it once here: offsets_coordinator_wait waits for that);
 * else creates it through ZooKeeper with
 * offsets.topic.num.partitions and .replication.factor: -EAGAIN while
 * fewer brokers than that are alive (logged), or the creation's errors.
 * Takes admin_mu: no group lock may be held. */
int offsets_topic_ensure(struct group_coord *gc);
/* Kafka's auto-creation of __consumer_offsets on a FindCoordinator, which
 * answers COORDINATOR_NOT_AVAILABLE meanwhile: when the topic is not
 * here, the loader thread writes it to ZooKeeper (too few brokers alive:
 * logged, not made, asked again by the next call) and the cluster thread
 * makes it here once the controller has elected its leaders. Returns at
 * once; any thread, no lock but leaves held. */
void offsets_topic_request(struct group_coord *gc);
/* Who coordinates group: 1 this broker (its groups are loaded), 0 another
 * broker (*leader), -EAGAIN none now (no topic, no leader),
 * -EINPROGRESS this broker leads the partition and is loading it. Any
 * lock may be held (reads the metadata and gc->load). */
int offsets_coordinator(struct group_coord *gc, const char *group, int32_t *leader);
/* Waits up to timeout_ms until group's coordinator is loaded here or is
 * another broker; offsets_coordinator's answer then. No lock held. */
int offsets_coordinator_wait(struct group_coord *gc, const char *group, int64_t timeout_ms,
			     int32_t *leader);
/* The loader thread (a cluster): follows the leadership of the offsets
 * partitions, loading and dropping their groups. */
int offsets_loader_start(struct group_coord *gc);
void offsets_loader_stop(struct group_coord *gc);
/* One pass of the loader (tests call it to not wait for the thread):
 * true when it has nothing to wait for (the cluster and the topic known,
 * no partition loading), so that only a kick brings news. */
bool offsets_loader_pass(struct group_coord *gc);
/* The partitions' states changed (the replica manager's states_changed:
 * a LeaderAndIsr, StopReplica, UpdateMetadata, a failed log directory):
 * the loader makes a pass. Any thread, no lock but leaves held. */
void offsets_loader_kick(struct group_coord *gc);
/* Whether the loader sleeps until a kick (tests). */
bool offsets_loader_asleep(struct group_coord *gc);

/* ---- group_rebalance.c ---- */
/* Runs the group's assignor over its members (nothing while g->nremote:
 * the coordinator on another broker assigns them). Needs g->mu. */
int group_rebalance(struct group *g);
/* Gives partition p to m (NULL: nobody): a new owner starts at the
 * committed offset, the same owner keeps its position. Needs g->mu. */
void group_part_assign(struct group *g, int p, struct group_member *m);
/* Appends m to g->members (a reference on g for it) and rebalances;
 * on failure nothing changed. Needs g->mu. */
int group_member_add(struct group *g, struct group_member *m);
/* Takes m out of g->members (its partitions unowned) and rebalances.
 * Needs g->mu. */
void group_member_remove(struct group_member *m);

/* ---- group_guest.c: members of other brokers' mounts (coordinator) ----
 * Member ids of guests hold '@' ("consumer-000007-4242@2": sequence, pid,
 * broker), which Kafka member ids made here never do; the listener's group
 * APIs send them here. Each returns a Kafka error code, logged. */
#define GROUP_GUEST_PTYPE "mqfs"
bool group_guest_id(const char *id, int32_t len);
/* A Kafka client id as it goes into member ids and commit records: kept
 * to [A-Za-z0-9._-] (others become '_'), cut to cap - 1 bytes; none when
 * empty. */
void group_client_tag(struct kstr client, char *tag, size_t cap, const char *none);
/* JoinGroup of a guest: metadata is a consumer protocol subscription of
 * one topic. client NULL: a mount member of another broker (protocol
 * type GROUP_GUEST_PTYPE), its user_data "pid@broker"; else a Kafka
 * consumer ("consumer") of that client id, joining a group whose consume
 * files are members, with its own session_ms. An empty member_id joins
 * (and rebalances), a known one rejoins without a rebalance. Out: the
 * generation and the member id (64 bytes). */
int16_t group_guest_join(struct group_coord *gc, const char *name, const char *member,
			 const char *client, int32_t session_ms, const uint8_t *meta,
			 size_t meta_len, const char *peer, int32_t *generation, char *member_out);
/* True when consume files (of any broker's mount) or Kafka consumers
 * joined with them are members of a group of that name: a Kafka
 * consumer's JoinGroup then joins them (group_guest_join). Needs
 * coord.mu. */
bool group_guest_mount_active(struct group_coord *gc, const char *name);
/* SyncGroup: the member's partitions as a consumer protocol assignment,
 * malloc'ed in *asg. */
int16_t group_guest_sync(struct group_coord *gc, const char *name, const char *member,
			 int32_t generation, const char *peer, uint8_t **asg, size_t *asg_len);
int16_t group_guest_heartbeat(struct group_coord *gc, const char *name, const char *member,
			      int32_t generation, const char *peer);
int16_t group_guest_leave(struct group_coord *gc, const char *name, const char *member,
			  const char *peer);
/* True when member is the guest that owns partition p of g (a commit of p
 * by it is taken). Needs g->mu. */
bool group_guest_owns(struct group *g, const char *member, int p);
/* Drops guests not heard from within the group's session.timeout.ms;
 * returns ms until the next may expire (at most max_ms). Takes coord.mu
 * and group.mu. */
int64_t group_guests_expire(struct group_coord *gc, int64_t max_ms);
/* Removes every guest of g (this broker stops coordinating it: they find
 * the new coordinator at their next heartbeat). Needs g->mu (kept) and a
 * reference on g besides the guests'. */
void group_guests_drop(struct group *g, const char *why);

/* ---- group_remote.c: members of groups coordinated elsewhere ---- */
/* group_join for a group that broker node coordinates (GROUP_COORD_NONE:
 * none does now): joins there (JoinGroup, SyncGroup, OffsetFetch of its
 * partitions) before it returns, then heartbeats from a thread of its
 * own. While the coordinator moves (group_remote_moving) or none is
 * known, it asks again who coordinates and joins there, for up to
 * request.timeout.ms. GREM_LOCAL: this broker coordinates the group now
 * (nothing done: the caller joins it here). -EAGAIN no coordinator
 * answered in time or it is not ready, -EBUSY Kafka consumers are the
 * group's members, -EPROTO another refusal (each logged). No lock held. */
#define GREM_LOCAL 1
int group_remote_join(struct group *g, int32_t node, pid_t pid, void (*wake)(void *arg), void *arg,
		      struct group_member **out);
/* Whether a call to a group's coordinator that failed with rc (< 0: not
 * answered) or was answered with Kafka's err (rc 0) calls for asking
 * again who coordinates and trying there: the coordinator was not
 * reached (refused: killed; timed out: frozen or cut off; reset; no
 * longer registered) or says it does not coordinate the group, or not
 * yet (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE,
 * COORDINATOR_LOAD_IN_PROGRESS), as Kafka's clients take these. */
bool group_remote_moving(int rc, int16_t err);
/* Stops m's thread and sends LeaveGroup (m stays in g). No lock held. */
void group_remote_stop(struct group_member *m);
/* True when m's group is assigned by a coordinator on another broker
 * (m->rm, not turned local since). Needs g->mu. */
bool group_remote_active(const struct group_member *m);
/* Frees m->rm after group_remote_stop. */
void group_remote_free(struct group_member *m);
/* Commits offs[i] of partitions parts[i] with leader epochs epochs[i]
 * at the coordinator (OffsetCommit), then sets them in g. 0 when all
 * were taken. Needs g->mu. */
int group_remote_commit(struct group_member *m, const int *parts, const int64_t *offs,
			const int32_t *epochs, int n);
/* Local members of groups that another broker coordinates now (the
 * coordinator moved while they were open) join there, as members opened
 * now would. Takes coord.mu and group.mu; from the group timer. Whether
 * any local member is to be watched so (the timer looks again in a
 * second). */
bool group_remote_adopt(struct group_coord *gc);
/* The committed offsets offs[i] of partitions parts[i] at node, the
 * coordinator of g (one OffsetFetch), as it holds them: -1 where none or
 * where a Kafka client committed -1, read as GROUP_OFFSET_NONE says. When
 * one of them leaves the start to auto.offset.reset, g's settings are
 * read from node too (a .config read), so that this broker starts where
 * the coordinator's mount would. 0: every partition answered; < 0 (logged)
 * no answer (the connection, a timeout, a Kafka error of the group or of
 * a partition, a partition missing from the answer): offs is undefined,
 * and the caller keeps what it knew. No lock held. */
int group_remote_offsets(struct group *g, int32_t node, const int32_t *parts, int n, int64_t *offs);
/* Takes a coordinator's answer (group_remote_offsets) as this proxy's
 * last known commit of each partition that no member here owns: that
 * owner's own commits keep its partitions current, and an answer sent
 * before its latest commit would be older. Needs g->mu. */
void group_remote_learn(struct group *g, const int32_t *parts, const int64_t *offs, int n);
/* The node that coordinates g when it is another broker, else -1. Takes
 * coord.mu. */
int32_t group_kafka_coordinator(struct group *g);

/* ---- group_offsets.c: offsets and positions ---- */
/* topic.lock (read) and partition p's log (NULL: no replica here, an
 * empty partition to groups); -ENOENT when the topic or the partition is
 * gone. 0: the caller unlocks t->lock. */
int group_part_lock(struct topic *t, int p, struct log **l);
int group_off_to_pos(struct topic *t, int p, int64_t off, int64_t *pos);
int group_pos_to_off(struct topic *t, int p, int64_t pos, int64_t *off);
/* The leader epoch a consumer commits with offset off of partition p:
 * that of the last record consumed, off - 1, as the log's epoch cache
 * has it (Kafka's epochForOffset); -1 when off is 0 or less, no replica
 * is here, or the cache names none (a log that stamps no epochs). */
int32_t group_off_epoch(struct topic *t, int p, int64_t off);
/* The offset a partition committed at committed (as kept: see
 * GROUP_OFFSET_NONE) is read from, given its log's state and the group's
 * auto.offset.reset. */
int64_t group_start_offset(int64_t committed, bool reset_latest, const struct log_state *st);
/* The lag of partition p of topic (st its log's state) for a group that
 * committed committed: the records from where the group's next owner of p
 * starts to the high watermark, never below 0. A commit past the log end
 * counts from auto.offset.reset where this broker reads the partition's
 * own log (one node, its leader), as the owner starts there (past_end); a
 * follower's copy may only lag behind such a commit, so there it is 0. */
int64_t group_lag(struct broker *b, const char *topic, int p, int64_t committed, bool reset_latest,
		  const struct log_state *st);
/* Sets the position (and commit position) of p's owner from the committed
 * offset; on failure the position is -1 (unknown), and also while a
 * follower asks the partition's leader about a commit past its copy's end
 * (gpart.ask_leader). Needs g->mu. */
int group_part_resolve(struct group *g, int p);

/* ---- group_past_end.c: a follower's commits past its copy's end ---- */
/* Asks the leader of each partition whose owner waits on a commit past
 * this follower's log end (gpart.ask_leader) for its log end offset
 * (ListOffsets, latest, as a replica), then wakes the owner: a commit
 * past the leader's end starts at auto.offset.reset; one the copy lags
 * behind, or one the leader did not answer about, waits and is asked
 * again at the next call. Takes coord.mu and group.mu, then none across
 * the calls; from the group timer. Whether any partition was asked about
 * (the timer asks again in a second). */
bool group_past_end_check(struct group_coord *gc);

/* ---- group_consume.c ---- */
/* topic_read_lines without counting the bytes as delivered. */
ssize_t group_read_lines(struct topic *t, int p, struct log_cursor *c, int64_t pos, char *buf,
			 size_t size, int64_t *actual);

/* ---- group_notify.c: parked reads ---- */
/* Starts the notifier thread, then listens to the broker's hw moves. */
int group_notifier_start(struct group_coord *gc);
/* Stops listening, then stops the thread (if it runs). */
void group_notifier_stop(struct group_coord *gc);
/* Queues a wake of the armed members owning (topic, partition); -1: every
 * armed member of the topic's groups. Takes wake_mu (a leaf). */
void group_notify_queue(struct group_coord *gc, const char *topic, int partition);
/* Disarms m if armed. Needs g->mu. */
void group_member_unarm(struct group_member *m);
/* Returns once the notifier has run every event queued so far (and any
 * queued meanwhile) and is waiting for more: no wake of the notifier is
 * left to come. For callers that need to know who wakes a member next. */
void group_notify_settle(struct group_coord *gc);
/* Returns once no wake call is in flight. Takes call_mu: no other lock
 * may be held. */
void group_wait_calls(struct group_coord *gc);

#endif
