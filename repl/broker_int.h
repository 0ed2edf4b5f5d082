/*
 * broker_int.h — private to repl/: the broker's and the topic's insides,
 * shared by broker.c (lifecycle, orphan logs), topics.c (the catalog in
 * memory, topic attributes), partitions.c (partition logs, leading, the
 * engine's listeners), topic_config.c (.config), topic_read.c (the read
 * wrappers), scheduler.c and cleaner_thread.c (the background threads),
 * catalog.c (the topic metadata files), produce.c (the produce path,
 * partitioner) and broker_views.c (.state, .metrics).
 *
 * Locks, always taken in this order (never the other way round); the
 * group coordinator's locks (group_int.h) come between 1 and 2:
 *
 *   1. broker.admin_mu      serializes create / delete of topics
 *   2. topic.lock (rwlock)  readers: every call that uses the topic's
 *                           partitions or config; writers: delete, .config
 *                           writes, owner changes, broker_close, a
 *                           replica's log opened late (partitions_attach).
 *                           A writer
 *                           therefore waits for the readers in flight, so
 *                           no reader holds it across long I/O or a wait:
 *                           the produce path, the cleaner, the scheduler's
 *                           flushes and retention and topic_fsync take
 *                           what they need under the lock (a copy of the
 *                           config, a reference to the log: parts_ref,
 *                           part_log, produce.c's produce_begin) and
 *                           release it before log_append, linger.ms,
 *                           buffer.memory and commit waits, log_clean,
 *                           log_flush, retention; a log dropped meanwhile
 *                           answers -ENOENT or nothing, and its drop
 *                           (outside the lock, under admin_mu) waits for a
 *                           clean in progress.
 *   3. partition.produce_mu the partition's group-commit queue (produce.c);
 *                           held only to queue, pick a commit group or
 *                           complete it (released while waiting on
 *                           produce_cv), never across log_append, the
 *                           fsync or the hw move; taken under topic.lock
 *                           (write) only by a delete, to wake an appender
 *                           waiting out linger.ms
 *   4. broker.cat_lock      the sorted topic array; held only to look up,
 *                           insert or remove, never while doing I/O
 *   5. broker.hw_mu         guards hw_fn, hw_arg; held while the listener
 *                           runs, which takes coord.wake_mu (group_int.h)
 *   5a. broker.removed_mu   guards removed_fn, removed_arg; held while the
 *                           removal listener runs, which is called with no
 *                           other repl lock held (it may block in the
 *                           kernel: the mount invalidates its page cache)
 *   6. leaves: broker.pool_mu, broker.sched_mu, broker.orphan_mu,
 *      broker.buf_mu, broker.pp_mu, produce_tracker.mu, partition.commit_mu,
 *      coord.wake_mu, coord.connect_mu (group_int.h)
 *
 * The engine's locks come after all of these: repl calls the engine with
 * any of them held, and the engine calls back (the hw listener) with none
 * of its own held.
 *
 * The rwlocks prefer writers (so a stream of producers cannot starve a
 * delete); no function takes topic.lock for reading twice.
 *
 * log_set_hw() and so the hw listener (broker_hw_moved) run: on the
 * produce path, in the appender with no repl lock held (neither
 * topic.lock nor produce_mu); when a partition becomes leader
 * (become_leader), under admin_mu or topic.lock (write) for a grow, before
 * the listener is installed. The listener takes partition.commit_mu
 * (produce_hw_moved), then hw_mu and, in the group coordinator's
 * listener, coord.wake_mu; it must not call topic_*(): it may only queue
 * work or wake a thread.
 */
#ifndef MQFS_REPL_BROKER_INT_H
#define MQFS_REPL_BROKER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "repl/cluster.h"
#include "repl/config.h"
#include "repl/kbuf.h"
#include "repl/producer_state.h"
#include "repl/repl.h"
#include "repl/zkdata.h"
#include "util/fdroom.h"

#define TOPIC_NAME_MAX      249
/* On a single node every partition has this broker as leader, epoch 0. */
#define BROKER_LEADER_EPOCH 0

struct partition {
	int index;
	/* Owned by the logmgr. NULL when this broker holds no replica of
	 * the partition (a replicated topic: only the replicas' brokers
	 * keep a log), or once the topic is deleted. */
	struct log *log;
	/* A replica here whose log found no room when its topic was made
	 * (topics.c, topic_made_without_logs), under the topic's lock: the
	 * log is attached once a LeaderAndIsr has opened it, never made
	 * empty here (nothing would fetch into it before that). */
	bool no_room;
	/* The leader epoch a topic that is not replicated appends in: the
	 * latest of its log's epoch cache at open, BROKER_LEADER_EPOCH at
	 * least (a log written in later epochs keeps its latest, since the
	 * engine refuses an append behind it: LOG_EPOCH_BEHIND). */
	int32_t local_epoch;
	struct broker *b;  /* for the hw listener (group_notify.c) */
	const char *topic; /* the topic's name (outlives the partition) */
	pthread_mutex_t produce_mu;
	/* Counters: written by the appender (relaxed atomics), read by anyone. */
	_Atomic int64_t records_in;
	_Atomic int64_t bytes_in;       /* record payload bytes (key + value) */
	_Atomic int64_t batches_in;     /* batches written to the log */
	_Atomic int64_t last_append_ms; /* 0: none since open */
	_Atomic int64_t last_flush_ms;  /* monotonic (flush.ms is an interval) */
	/* The scheduler's last flush error of this partition, logged once:
	 * a failed fsync stays failed until a restart (seg.c), and the flush
	 * that returns it again each second adds nothing. Its thread only. */
	int sched_flush_err;
	_Atomic int64_t payload_in; /* key + value bytes of the records */
	/* Delivered to readers (partition files, consume files); relaxed
	 * atomics added by the readers' threads. */
	_Atomic int64_t records_out; /* lines ended by a returned '\n' */
	_Atomic int64_t bytes_out;   /* bytes of the line view returned */
	/* The largest st_size shown (topic_file_size): it never decreases. */
	_Atomic int64_t size_shown;
	/* 1 + the observers' generation taken before the last full check
	 * that found the replica here serving the mount's reads (0: none):
	 * stat, page-cache opens and the groups' reads skip the check while
	 * the generation has not moved (part_serves, topic_read.c). */
	_Atomic uint64_t served_gen;
	/* No replica here (log NULL), or one out of the ISR, and a consumer
	 * group reads it: the read copy's log (observer_pin, observer.h), a
	 * reference held until the partition is freed; set once
	 * (compare-and-swap), never changed: the groups read it from then on. */
	struct log *_Atomic obs_log;
	/* The group-commit queue (produce.c), under produce_mu. */
	pthread_cond_t produce_cv; /* a request done, or a leader chosen */
	struct produce_req *q_head, *q_tail;
	int64_t q_bytes;
	bool appending;           /* a writer is the appender */
	bool lingering;           /* it waits for more (linger.ms) */
	struct rec_in *join_recs; /* the appender's commit-group array */
	int join_cap;
	/* Writers waiting for the hw to cover their records (acks=all). */
	pthread_mutex_t commit_mu; /* a leaf, with commit_cv */
	pthread_cond_t commit_cv;  /* the hw moved (CLOCK_MONOTONIC) */
	atomic_int commit_waiters;
	/* Kafka clients' acks=-1 writes parked in the produce purgatory
	 * (produce.c) for this partition: a hw move wakes its thread. */
	atomic_int commit_parked;
	/* Idempotent producers' batches in this partition, for the leader's
	 * duplicate check (producer_state.h; topic_produce_batches). */
	struct producer_state pstate;
	/* This broker as a producer of forwarded writes (forward.c): the
	 * epoch and next sequence of its producer id here. The partition's
	 * appender only (one at a time). */
	int16_t fwd_epoch;
	int32_t fwd_seq;
	int64_t fwd_pid; /* the producer id they belong to; -1: none yet */
	/* Reads of this mount see its own writes (forward_read_floor): the
	 * offset after the last acks=all write forwarded from here, which
	 * this replica's hw is waited for to reach, until read_floor_until
	 * (CLOCK_MONOTONIC ms). Only grows; read without a lock. */
	_Atomic int64_t read_floor;
	_Atomic int64_t read_floor_until;
};

struct topic {
	atomic_int refs;
	struct broker *b;
	char name[TOPIC_NAME_MAX + 1];
	char meta_file[256]; /* file name in DATA/meta/topics/ */
	uint64_t id;
	int64_t ctime_ms;
	/* The cluster's topic id its logs were found to agree with
	 * (topics_cluster_incarnation, under the broker's admin_mu and this
	 * lock), "" before and on one node. */
	char cluster_id[32];
	/* The id of the cluster's topic this broker's mkdir (or CreateTopics)
	 * made, "" for one made otherwise (under the broker's admin_mu and
	 * this lock). A deletion remembers it (broker.gone_ids) as it does
	 * cluster_id: the cluster thread may have read the topic before its
	 * deletion and not yet have given it its cluster_id, and must not
	 * make it here again from that read. Not cluster_id itself, which
	 * says the logs' files were checked against the id. */
	char made_id[32];
	pthread_rwlock_t lock;
	/* Under lock: */
	atomic_bool deleted; /* deleted, or broker closed */
	struct topic_config cfg;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int nparts;
	struct partition **parts; /* pointers: growing moves no partition */
	_Atomic uint32_t rr_next; /* round-robin counter of .produce */
	/* The latest read_floor_until of its partitions, 0 once it has
	 * passed: a read's one look when no write was forwarded lately. */
	_Atomic int64_t read_floor_until;
	/* A replicated topic: its key.separator and line.format are the
	 * ones /config/topics/<t> fixed (topic_lines_fix), set once under
	 * lines_mu, which orders the fix and the appliance of a change
	 * notification (topics_cluster_config). */
	pthread_mutex_t lines_mu;
	atomic_bool lines_fixed;
};

/* A reusable array of records for one produce call (see produce.c). */
struct recbuf {
	struct recbuf *next;
	int cap;
	struct rec_in *recs;
	struct rec_in *sorted; /* .produce: recs grouped by partition */
	int32_t *part;         /* .produce: partition of each record */
};

/* Producer metrics of the broker (produce.c; rendered by broker_views.c). */
#define PRODUCE_LAT_BUCKETS 14
extern const double produce_lat_bounds[PRODUCE_LAT_BUCKETS]; /* seconds */
struct produce_metrics {
	_Atomic int64_t lat_count[PRODUCE_LAT_BUCKETS + 1]; /* last: +Inf */
	_Atomic int64_t lat_sum_ns;
	_Atomic int64_t buffer_full;  /* writes refused (EAGAIN) or blocked */
	_Atomic int64_t acks0_queued; /* acks=0 writes returned before their append */
	_Atomic int64_t parked;       /* requests in the produce purgatory */
};

/* A log found in the data directory that no topic claims. */
struct orphan {
	char *topic;
	int partition;
};

struct produce_parked;

struct broker {
	struct broker_config cfg;
	/* The settings a topic takes for what it does not override: cfg's
	 * under the dynamic broker settings of the cluster
	 * (/config/brokers/<default> and <broker.id>, topic_dynamic.c), as
	 * last read; cfg's alone until then and on a single node. Under
	 * dyn_mu, a leaf. */
	pthread_mutex_t dyn_mu;
	struct topic_config dyn_defaults;
	/* The whole config in effect, cfg's under the dynamic levels, as
	 * broker_config_dynamic_effective last accepted them (MNT/.config
	 * renders it); NULL: cfg's. Under dyn_mu. */
	struct broker_config *dyn_cfg;
	/* Kafka's other reconfigurable settings in effect (cfg's until the
	 * dynamic ones apply, topic_dynamic.c): read by the cleaner thread,
	 * the scheduler and Produce at each use, written by the cluster
	 * thread; atomic. */
	_Atomic int64_t cleaner_backoff_ms;
	_Atomic int64_t cleaner_dedupe_bytes;
	int64_t producer_id_expiration_ms; /* __atomic: its address is the trim listener's */
	struct logmgr *m;
	/* The replication throttles (throttle.h): their throttled
	 * partitions follow every topic's settings (topic_throttle_note). */
	struct repl_throttle *throttle;
	char meta_dir[4200];  /* DATA/meta/topics */
	int64_t open_mono_ms; /* now_mono_ms() at the open: .state's uptime */
	bool fresh;           /* the data directory was new */

	pthread_mutex_t admin_mu;
	/* Under admin_mu: the cluster topic ids of the topics removed here
	 * lately, a ring of the last GONE_IDS. The cluster thread may have
	 * read a topic's znodes just before its deletion (an rmdir here
	 * removes the topic at once, the controller deletes the znodes
	 * after): it must not make that topic here again, which an rmdir
	 * right after a mkdir would find (ENOENT) and a mkdir refuse
	 * (EEXIST) until the deletion reached this broker. A topic id is
	 * never reused, so one kept is never wrong. */
#define GONE_IDS 32
	char gone_ids[GONE_IDS][32];
	int gone_next;
	/* Descriptors a topic creation or grow may take (util/fdroom.h);
	 * its mutex is a leaf. */
	struct fd_room fd_room;
	pthread_rwlock_t cat_lock;
	struct topic **topics; /* sorted by name */
	int ntopics, cap_topics;
	_Atomic uint64_t next_topic_id;
	pthread_mutex_t orphan_mu; /* a leaf, guards: */
	struct orphan *orphans;
	int norphans;

	pthread_mutex_t pool_mu;
	struct recbuf *pool;
	int pool_len;

	/* buffer.memory (produce.c): bytes accepted, not yet appended. */
	_Atomic int64_t buf_used;
	_Atomic int64_t buf_unfinished; /* mount writers' unfinished lines */
	pthread_mutex_t buf_mu;         /* a leaf; with buf_cv, for waiters */
	pthread_cond_t buf_cv;
	atomic_int buf_waiters;
	struct produce_metrics pm;
	/* The produce purgatory (produce.c): Kafka clients' acks=-1 writes
	 * waiting for their commit without a listener worker. pp_mu (a leaf)
	 * guards the rest; the thread is started by the first park. */
	pthread_mutex_t pp_mu;
	pthread_cond_t pp_cv; /* CLOCK_MONOTONIC */
	struct produce_parked *pp_head;
	bool pp_news; /* a park or a hw move since the thread's last scan */
	bool pp_running, pp_stop;
	pthread_t pp_thread;

	pthread_t sched;
	bool sched_running;
	pthread_mutex_t sched_mu;
	pthread_cond_t sched_cv;
	bool sched_stop;
	bool sched_kicked; /* under sched_mu: broker_sched_kick */
	/* The length of the scheduler's last sleep in ms (-1: without a
	 * deadline), for tests: it sleeps to its next deadline. */
	_Atomic int64_t sched_sleep_ms;

	/* Retention (on the scheduler thread, scheduler.c) and the log
	 * cleaner thread ("mqfs-cleaner", cleaner_thread.c). Both work on log references, without
	 * the topic's lock (see the lock order above). Counters for
	 * MNT/.metrics, written by those threads, read by anyone. */
	pthread_t cleaner;
	bool cleaner_running;
	bool cleaner_stop;         /* under sched_mu; cleaner_cv wakes it */
	bool cleaner_reconfigured; /* under sched_mu: cleaner_reconfigure */
	pthread_cond_t cleaner_cv;
	_Atomic int64_t retention_segments; /* segments deleted by retention */
	_Atomic int64_t retention_bytes;    /* their bytes */
	_Atomic int64_t cleaner_runs;       /* cleans done */
	_Atomic int64_t cleaner_bytes_read;
	_Atomic int64_t cleaner_bytes_written;
	_Atomic int64_t cleaner_records_removed;
	_Atomic int64_t cleaner_ms; /* time spent cleaning */
	_Atomic int64_t cleaner_errors;
	/* Passes of each thread's loop done so far: a test's handshake that
	 * a whole pass ran after something it did. */
	_Atomic int64_t sched_passes;
	_Atomic int64_t cleaner_passes;
	/* Bits of enum broker_dir_user: the users that logged that they
	 * stopped using the offline log directory (broker_dir_offline). */
	atomic_uint dir_offline_said;

	/* Consumer groups (group_*.c) and the broker's hw listener. */
	struct group_coord *gc;
	pthread_mutex_t hw_mu; /* a leaf: guards hw_fn, hw_arg */
	void (*hw_fn)(void *arg, const char *topic, int partition);
	void *hw_arg;
	void (*hw_wake_fn)(void *arg); /* kafka_set_hw_waker; under hw_mu */
	void *hw_wake_arg;
	/* The removal listener (broker_set_removed_listener). */
	pthread_mutex_t removed_mu;
	void (*removed_fn)(void *arg, struct topic *t, int partition);
	void *removed_arg;

	/* ZooKeeper, the listener (cluster.c): NULL on a single node
	 * without `listeners`. Set once by broker_open (a release store)
	 * after the group coordinator's threads started: those read it with
	 * an acquire load. */
	struct cluster *cluster;
};

/* ---- catalog.c: DATA/meta/topics/<topic>.properties ---- */
/* The default topic config of the broker (num.partitions, acks, log.*). */
void catalog_default_config(struct broker *b, struct topic_config *tc);
/* File name (no directory) of the topic's metadata file. */
void catalog_file_name(const char *topic, char *out, size_t outlen);
/* Writes the topic's file durably from the given values. */
int catalog_write(struct broker *b, const struct topic *t, const struct topic_config *tc, uid_t uid,
		  gid_t gid, mode_t mode);
/* Removes it durably (unlink + fsync of the directory). */
int catalog_remove(struct broker *b, const char *meta_file);
/* Parsed contents of one metadata file. */
struct catalog_entry {
	char name[TOPIC_NAME_MAX + 1];
	struct topic_config cfg;
	uid_t uid;
	gid_t gid;
	mode_t mode;
	int64_t ctime_ms;
};
/* Parses one file's text. -EBADMSG with a message in err. */
int catalog_parse(struct broker *b, const char *text, size_t len, struct catalog_entry *e,
		  char *err, size_t errlen);
/* Reads every metadata file: calls fn for each; stops at the first error.
 * A file that does not parse: -EBADMSG, logged with its path. */
int catalog_load(struct broker *b,
		 int (*fn)(struct broker *b, const struct catalog_entry *e, const char *file,
			   void *arg),
		 void *arg);

/* ---- produce.c ---- */
/* Kafka's Utils.murmur2 (the Java client's partitioner hash). */
uint32_t broker_murmur2(const void *data, size_t len);
void broker_pool_free(struct broker *b);
/* Queue and buffer state: with broker_part_new / broker_open, and their
 * frees (nothing may be queued then). */
void produce_partition_init(struct partition *pt);
void produce_partition_destroy(struct partition *pt);
void produce_broker_init(struct broker *b);
void produce_broker_destroy(struct broker *b);
/* The partition's hw moved: wakes the writers waiting for their commit
 * (cheap when none waits). Called by the hw listener; takes commit_mu. */
void produce_hw_moved(struct partition *pt);
/* Waits, holding no lock but commit_mu (released while it sleeps), until
 * the hw of l (pt's log, referenced by the caller) reaches end, or the
 * CLOCK_MONOTONIC time until_ms, or the topic is deleted. Whether it
 * got there. */
bool produce_hw_reach(struct topic *t, struct partition *pt, struct log *l, int64_t end,
		      int64_t until_ms);
/* The acknowledgement step of an acks=all write (see repl.h "produce"):
 * waits, holding no lock but commit_mu (released while it sleeps), until
 * the hw of l (pt's log, referenced by the caller) is above last_offset
 * and the record there is still the one appended in leader epoch epoch
 * (-1: not checked). 0; -ETIMEDOUT after timeout_ms, or at once when the
 * record was taken back (this broker lost the leadership), both
 * appended, not confirmed committed, logged; -ENOENT when t is deleted
 * meanwhile. */
int produce_commit_wait(struct topic *t, struct partition *pt, struct log *l, int64_t last_offset,
			int32_t epoch, int64_t timeout_ms);
/* Appends the record batches a Kafka client sent for one partition
 * (log_append_client: checked whole, offsets assigned, kept as sent),
 * moves the hw as any append does, and with acks -1 waits for the commit
 * up to timeout_ms. 0, or the engine's errors (nothing appended: -EBADMSG,
 * -EPROTO, -EPERM, -EMSGSIZE, -EINVAL; -ENOSPC, -EIO), -EPERM
 * also for a batch with a producer id and a negative base sequence (why
 * says so), -ENOENT
 * (no such partition, or the topic deleted), -ETIMEDOUT (appended, not
 * confirmed committed); on a replicated topic -EREMOTE (not the leader:
 * nothing appended; or, with acks -1, appended and then the leadership
 * lost while waiting, as Kafka answers NOT_LEADER_OR_FOLLOWER), -EAGAIN
 * (fewer in-sync replicas than min.insync.replicas, nothing appended).
 * res is filled as far as the call got. */
struct produce_batches_result {
	int64_t base_offset;      /* the first offset given, -1 */
	int64_t log_start_offset; /* after the append, -1 */
	int64_t log_append_time;  /* LogAppendTime: the batches' time, else -1 */
	int bad_batch;            /* index of the batch refused, -1 */
	char why[LOG_WHY_LEN]; /* -EBADMSG, -EPERM, -ERANGE, -EMSGSIZE: what is wrong with it, or "" */
};
/* A Kafka client's acks=-1 append whose commit is still ahead, as
 * topic_produce_batches leaves it to the produce purgatory (Kafka's
 * DelayedProduce): t and log referenced until produce_wait_release. */
struct produce_wait {
	struct topic *t;
	struct partition *pt;
	struct log *log;
	int64_t last;       /* the last offset appended */
	int32_t epoch;      /* the leader epoch it was appended in */
	int32_t lead_epoch; /* the leadership the request was answered in */
	int64_t timeout_ms;
	/* The purgatory's (CLOCK_MONOTONIC ms): */
	int64_t deadline_ms, check_ms;
	/* The outcome: topic_produce_batches' rc after its commit wait
	 * (0, -ETIMEDOUT, -EREMOTE, -ENOENT, -EL2NSYNC), and the log start
	 * offset then; done once settled. */
	int rc;
	int64_t log_start_offset;
	bool done;
};
/* topic_produce_batches with acks -1 and a wait: appended, the commit
 * not there yet; *wait is filled in, the caller parks it. */
#define PRODUCE_PENDING 1
int topic_produce_batches(struct topic *t, int partition, uint8_t *batches, size_t len, int acks,
			  int64_t timeout_ms, struct produce_batches_result *res,
			  struct produce_wait *wait);
/* Drops the references of a wait that was not parked, or was settled. */
void produce_wait_release(struct produce_wait *w);
/* Called on the purgatory's thread, once every wait of a park settled
 * (their rc and log_start_offset set, references still held). */
typedef void (*produce_parked_fn)(void *arg);
/* Whether the request's client is gone (its connection closed); any
 * thread, until produce_parked_fn is called. */
typedef bool (*produce_gone_fn)(void *arg);
/* Parks the n waits (of one request) until each is settled: its hw
 * passes its records and the ISR check (commit_isr_check) answers, its
 * leadership is lost, its topic is deleted or its timeout_ms passes, as
 * topic_produce_batches' blocking wait answers; then done(arg) on the
 * purgatory's thread, which may free the waits. 0, or -errno (no thread:
 * the caller settles them with produce_wait_settle; -ESHUTDOWN: the
 * purgatory is stopped, the caller closes the connection). A request
 * whose client is gone (gone(arg), looked at when the purgatory is
 * kicked) or still parked when the purgatory stops has its unsettled
 * waits' rc -ESHUTDOWN: never answered, the connection closed, as
 * Kafka's shutdown leaves its DelayedProduce. */
int produce_park(struct broker *b, struct produce_wait *w, int n, produce_parked_fn done,
		 produce_gone_fn gone, void *arg);
/* Has the purgatory look at its requests now (a client gone). */
void produce_purgatory_kick(struct broker *b);
/* Settles every parked request (see produce_park) and stops its thread;
 * later parks are refused. Before the listener stops, whose stop waits
 * for the parked requests. */
void produce_purgatory_stop(struct broker *b);
/* Settles w on this thread, waiting as topic_produce_batches would. */
void produce_wait_settle(struct produce_wait *w);
/* The idempotent producers of partition's replica here, leader or
 * follower, as its producer state knows them (producer_state.h; loaded
 * from the log first when it may be stale: a leader's when no produce has
 * loaded it in this leader epoch, a follower's when its appends have not
 * kept it), into *out (malloc'ed, NULL for none). The count; -ENOENT no
 * such partition (or the topic deleted); -EREMOTE no replica here (or
 * one neither leader nor follower); -ENXIO the replica is offline; -EIO
 * the state could not be rebuilt from the log (logged); -ENOMEM. Takes
 * t's lock briefly, then the partition's pstate.mu. */
int topic_active_producers(struct topic *t, int partition, struct producer_summary **out);
/* ---- replica_producers.c: a follower replica's producer state ----
 * The cluster hooks (cluster_topic_hooks.appended, and .cut through
 * broker_replica_cut): the leader's batches a follower appended to the
 * log of topic-partition enter its producer state; a truncation rebuilds
 * it from the log. On the fetcher's thread, no lock held. */
void replica_producers_appended(void *arg, const char *topic, int32_t partition, void *log,
				const uint8_t *records, size_t len);
void replica_producers_cut(struct broker *b, const char *topic, int32_t partition);
/* The topic is deleted (t->deleted set): ends an appender's linger wait
 * and the writers' commit waits at once. Takes produce_mu, commit_mu. */
void produce_partition_wake(struct partition *pt);

/* ---- broker.c: orphan logs ----
 * Logs in the data directory that no topic claims (an interrupted delete
 * or grow, a drop that failed). Kept, never deleted behind the user's
 * back, until a topic of that name is created (or grows over them). */
void orphan_add(struct broker *b, const char *topic, int partition);
/* Drops the orphan logs of topic with partition >= from. Fails if one
 * cannot be dropped: the caller must not then open a log of that name. */
int orphans_drop(struct broker *b, const char *topic, int from);

/* ---- topics.c: the catalog in memory ---- */
/* A rwlock that prefers writers (see the lock order above). */
void rwlock_init_wpref(pthread_rwlock_t *l);
/* Index of name in b->topics, or -(insertion point) - 1. Needs cat_lock
 * or admin_mu. */
int cat_find(struct broker *b, const char *name);
/* Takes over the caller's reference; -EEXIST. Needs admin_mu (or the
 * broker not yet shared). */
int cat_insert(struct broker *b, struct topic *t);
/* Sets a topic's owner and mode here only (the catalog and the topic):
 * a cluster's change, read from its config znode. 0, -ENOENT (deleted),
 * the catalog's write error. */
int topic_apply_owner(struct topic *t, uid_t uid, gid_t gid, mode_t mode);
/* catalog_load's callback at broker_open. */
/* True when the topic is replicated through ZooKeeper (zookeeper.connect
 * given, a name not starting with "__" but __consumer_offsets): the
 * replica manager, not this broker alone, decides its leader epoch and
 * high watermark. */
static inline bool broker_replicated(const struct broker *b, const char *topic)
{
	return cluster_config_zk(&b->cfg.cluster) && !cluster_topic_local_only(topic);
}
/* The cluster's topic hooks (cluster.h), on the cluster thread. */
int topics_cluster_appeared(void *arg, const char *topic, int n_partitions, const bool *local,
			    uid_t uid, gid_t gid, mode_t mode, const struct zk_config *zc,
			    const char *topic_id);
int topics_cluster_incarnation(void *arg, const char *topic, int32_t partition,
			       const char *topic_id);
int topics_cluster_fd_take(void *arg, const char *topic, int n_partitions);
void topics_cluster_fd_done(void *arg, int n_partitions);
void topics_cluster_hosted(void *arg, const char *topic, int32_t partition);
int32_t topics_cluster_min_isr(void *arg, const char *topic);
void topics_cluster_replica_deleted(void *arg, const char *topic, int32_t partition);
void topics_cluster_deleted(void *arg, const char *topic);
/* broker_topic_delete's removal here of the topic instance id it asked the
 * cluster to delete: 0 also when it is gone or made again meanwhile. */
int topic_delete_instance(struct broker *b, const char *name, uint64_t id);
void topics_cluster_moved_away(void *arg, const char *topic, int32_t partition);
void topics_cluster_retain(void *arg, char **names, int n,
			   bool (*still_there)(void *zarg, const char *topic), void *zarg);
/* The cluster's overrides of topic (its /config/topics znode) applied to
 * the local topic over the broker's defaults (topic_config.c); -ENOENT
 * no such local topic. */
int topics_cluster_config(void *arg, const char *topic, const struct zk_config *zc);
/* Before this broker's first records of a replicated topic (a leader's
 * append, a fetch into a replica or an observer's copy: log, or NULL for
 * the topic's own logs): fixes its key.separator and line.format in
 * ZooKeeper (cluster_topic_lines_fix), once, and takes the fixed ones
 * here, and on log while it has no records; so every replica, every
 * mount, takes records under the same ones. -EAGAIN when ZooKeeper
 * cannot say: nothing is to be appended; logged, or with wait (cap
 * bytes) what the records wait for written there for the caller to log
 * (a fetcher, which logs it once per cause). Internal topics ("__...",
 * whose settings mqfs sets) are left as they are. */
int topic_lines_fix(struct topic *t, struct log *log, char *wait, size_t cap);
/* The hook of cluster_topic_hooks: topic_lines_fix of the topic named
 * (wait as there, never NULL); -EAGAIN while it is not made here yet. */
int topics_cluster_lines_fix(void *arg, const char *topic, void *log, char *wait, size_t cap);
/* A topic other than name whose name equals name's with '.' and '_' taken
 * as one (Kafka refuses such a topic): true, its name in other. */
bool broker_topic_collides(struct broker *b, const char *name, char *other, size_t cap);
/* The owner of a topic a Kafka client makes (CreateTopics, a Metadata
 * request's auto-creation): the daemon's own user and group, mode 0755.
 * The asker is a network peer, not a local user; root when mqfs runs as
 * root, and the daemon's user otherwise, who could not chown a root-owned
 * topic and, under default_permissions, could not write it. */
#define CLIENT_TOPIC_MODE 0755
void broker_client_topic_owner(uid_t *uid, gid_t *gid);
/* broker_topic_create with the settings cfg (checked by the caller with
 * topic_config_apply; NULL: the broker's defaults, num.partitions),
 * replication_factor replicas (< 0: default.replication.factor) and, in a
 * cluster, waiting up to timeout_ms for the leaders. Errors as
 * broker_topic_create and cluster_topic_create. */
int broker_topic_create_cfg(struct broker *b, const char *name, uid_t uid, gid_t gid, mode_t mode,
			    const struct topic_config *cfg, int replication_factor,
			    int64_t timeout_ms, struct topic **out);
/* A replicated topic with the settings cfg written to ZooKeeper only
 * (cluster_topic_request): made here, as everywhere, once the
 * controller's states arrive. 0, -EEXIST, or cluster_topic_create's
 * errors. Takes no broker lock. */
int broker_topic_request(struct broker *b, const char *name, uid_t uid, gid_t gid, mode_t mode,
			 const struct topic_config *cfg, int replication_factor);
/* Grows a replicated topic's local copy to the cluster's n_partitions
 * (never shrinks), with logs for the new partitions whose local[p] is true
 * (this broker holds a replica, as the assignment says): 0, or
 * topic_config_write's errors. */
int topic_grow_local(struct topic *t, int n_partitions, const bool *local);
/* Every setting the topic does not override takes the broker's defaults
 * (catalog_default_config) again, on every partition's log here, leader
 * or follower, as Kafka's LogManager does on a change of its defaults:
 * 0, or topic_config_write's errors. */
int topic_config_inherit(struct topic *t);
/* Logs a WARN naming topic and its settings that do not agree with each
 * other (topic_config_check) when nc has such a pair and old (NULL: a
 * topic loaded at the start) had not that one: settings loaded, not set
 * (topic_config_load), as Kafka takes them. */
void topic_conflict_note(const char *topic, const struct topic_config *old,
			 const struct topic_config *nc);
/* The cluster's dynamic broker settings as read from ZooKeeper (self:
 * /config/brokers/<broker.id>, def: <default>; empty when none): the
 * config they give with the file's (broker_config_dynamic_effective)
 * becomes the broker's, its topic defaults taken by every topic where
 * it has no override, its cleaner, producer and listener settings
 * applied at once (topic_dynamic.c); a combination that does not check
 * is logged and the config in effect kept, as Kafka's. *eff gets the
 * cluster settings in effect (the listener's limits, ...). The cluster
 * thread's hook, after each read. */
int topics_cluster_broker_defaults(void *arg, const struct zk_config *self,
				   const struct zk_config *def, struct cluster_config *eff);
/* The replication throttles learn a topic's lists (tc NULL: the topic
 * is gone); a failure is logged. */
void topic_throttle_note(struct broker *b, const char *name, const struct topic_config *tc);
/* A copy of the topic's settings: 0, -ENOENT deleted. */
int topic_config_get(struct topic *t, struct topic_config *out);
/* Whether any partition of t ever had a record (key.separator and
 * line.format are fixed from then on). */
bool topic_has_records(struct topic *t);

/* ---- topic_overrides.c: settings as Kafka's overrides ---- */
/* Iterates "key=value" lines of text[..end): 1 and the next pair (lines
 * without '=' skipped), 0 at the end. */
int topic_kv_next(const char **p, const char *end, struct kstr *key, struct kstr *value);
/* The value of key in such lines: 0, -ENOENT. */
int topic_kv_find(const char *text, size_t len, const char *key, struct kstr *value);
/* The overrides of tc against the defaults def (every topic setting but
 * partitions given explicitly or whose rendered value differs), plus
 * keep's keys that are not
 * topic settings (keep may be NULL). *out cleared first; free it with
 * zk_config_clear. */
int topic_overrides_diff(const struct topic_config *tc, const struct topic_config *def,
			 const struct zk_config *keep, struct zk_config *out);
/* The .config text giving a topic def's settings with zc's overrides:
 * "key=value" for those, "-key" for the others (partitions left out;
 * key.separator and line.format only when zc names them); apply it with
 * def as the defaults. *text malloc'ed. */
int topic_overrides_text(const struct zk_config *zc, const struct topic_config *def, char **text,
			 size_t *len);
int topics_load_one(struct broker *b, const struct catalog_entry *e, const char *file, void *arg);
/* Snapshot of the catalog: a reference on each topic, sorted by name.
 * Free with broker_topics_release. */
int broker_topics_snapshot(struct broker *b, struct topic ***out, int *n);
void broker_topics_release(struct topic **ts, int n);

/* Whether nparts more partitions' files (4 descriptors each) leave the
 * reserve of descriptors free (util/fdroom.h): 0, or -EMFILE logged with
 * what was refused ("creation", "partitions=N"). */
int broker_fd_room(struct broker *b, const char *name, int nparts, const char *what);
/* After the step broker_fd_room let go ahead, whether it made them or
 * not. */
void broker_fd_room_done(struct broker *b, int nparts);

/* ---- partitions.c ---- */
struct partition *broker_part_new(int index);
void broker_part_free(struct partition *pt);
/* Tells the broker's hw listeners (group_notify.c, the Kafka fetch
 * waker) that topic-partition's hw moved: what a local log's hw listener
 * does, for the read copies' logs (observer.h). Same rules: no lock held
 * but what the caller's listener context holds. */
void broker_hw_notify(struct broker *b, const char *topic, int partition);
/* Wakes the Kafka fetch purgatory only (a topic deleted: its parked
 * fetches are answered at once). Any thread, any lock but hw_mu held. */
void broker_fetch_wake(struct broker *b);
/* Opens (creating) the logs of partitions [from, to) into parts[] and,
 * on a single node, leads them; with local (NULL: all), only those whose
 * local[p] is true, the others get no log. On failure frees the structs
 * and, if fresh (new partitions, not the existing ones of a topic being
 * loaded), drops the logs it opened. */
int partitions_open(struct broker *b, const char *name, const struct log_config *lc,
		    struct partition **parts, int from, int to, bool fresh, const bool *local);
/* Opens the logs of t's partitions without one whose local[p] is true
 * (this broker became, or always was, a replica: a start that found no
 * log). Takes t->lock for writing. */
int partitions_attach(struct broker *b, struct topic *t, const bool *local);
/* The replica of partition p moved to other brokers: t lets go of its
 * log (pt->log NULL: read from the read copy, written through the
 * leader) and the log's files are deleted. Readers that hold it keep
 * their descriptors until they move. Takes t->lock for writing. */
int partitions_detach(struct broker *b, struct topic *t, int p);
/* Takes t->lock for reading and checks the topic and the partition; on
 * success the caller calls pthread_rwlock_unlock(&t->lock) when done. */
int part_begin(struct topic *t, int partition, struct partition **out);
/* part_begin, then a reference to the partition's log and the lock
 * released: for calls that do long I/O on the log. log_unref when done.
 * -EREMOTE: no replica (no log) here. */
int part_log(struct topic *t, int partition, struct partition **pt, struct log **l);
/* Every partition of t with a reference to its log, and a copy of the
 * config, taken under t->lock: the scheduler and the cleaner then flush,
 * delete segments and clean without it, so that a .config write, chmod or
 * rmdir (which take the lock for writing, and make every later reader wait
 * behind them) never waits for that I/O. -ENOENT if t is deleted. Free
 * with parts_unref. */
struct part_ref {
	struct partition *pt; /* lives as long as the topic */
	struct log *log;      /* referenced; NULL: no replica here */
};
int parts_ref(struct topic *t, struct part_ref **out, int *n, struct topic_config *cfg);
/* Tells the removal listener that records of t's partition were removed
 * (retention, the cleaner). Called with no repl lock held. */
void broker_records_removed(struct broker *b, struct topic *t, int partition);
void parts_unref(struct part_ref *r, int n);

/* ---- topic_read.c ---- */
/* The line view for repl/ itself (group.c, tests): a partition's log
 * state, and engine cursors. topic_read_lines counts what it returns as
 * delivered; topic_reader_* (repl.h) wrap these for fs. */
int topic_log_state(struct topic *t, int partition, struct log_state *st);
/* The line position of the hw of the log consumer groups read (the read
 * copy pinned for them, else the replica's; 0 with neither, none made):
 * a partition file's st_size may come from another log (a copy while
 * the replica lags out of the ISR). -ENOENT. */
int64_t topic_group_line_hw(struct topic *t, int partition);
/* Moves the log consumer groups read (group_part_lock's) to the one the
 * mount reads the partition from: pins the read copy while the replica
 * here is out of the ISR (or behind the copy), lets it go once the
 * replica serves reads again. Without the topic's lock. 0, -ENOENT. */
int topic_group_settle(struct topic *t, int partition);
int topic_cursor_new(struct topic *t, int partition, struct log_cursor **out);
void topic_cursor_free(struct topic *t, int partition, struct log_cursor *c);
ssize_t topic_read_lines(struct topic *t, int partition, struct log_cursor *c, int64_t pos,
			 char *buf, size_t size, int64_t *actual_pos);
/* Counts n bytes of the line view in buf as delivered to a reader
 * (mqfs_records_out_total, mqfs_bytes_out_total); topic_read_lines does
 * it for partition files, group_consume.c for consume files. Any thread. */
void partition_count_out(struct partition *pt, int64_t lines, size_t n);

/* ---- broker.c: the log directory's storage failures ----
 * Every write the broker makes in its data directory that fails goes
 * here, whichever thread met it (the produce path's append and
 * flush.messages, fsync through the mount, the scheduler's flushes,
 * retention and checkpoints, the cleaner), and the mount's reads of a
 * replica (a Fetch's reads go through partition_read_failed, Kafka's
 * readFromLocalLog handing its IOException to the same channel): in a cluster a storage
 * failure (partition_storage_failure: -EIO, -ENOSPC, -EDQUOT, -EROFS)
 * takes the whole directory offline, Kafka's LogDirFailureChannel
 * (cluster_storage_failed, replica_mgr.h), and becomes -ENXIO. A single
 * node, or a topic only this broker holds (cluster_topic_local_only), has
 * no other replica to take over: err comes back as it is, and the
 * caller, which has logged it, goes on. Any other err (-ENOENT of a
 * topic deleted meanwhile, -ENOMEM, -EBADMSG) comes back as it is
 * everywhere. No repl lock held. */
/* A replica's log operation on topic's partition; partition < 0: the
 * directory's own file named by topic. */
int broker_storage_failed(struct broker *b, const char *topic, int partition, int err);
/* Writes the directory's checkpoint files (logmgr_write_checkpoints);
 * a failure is logged ("checkpoint <file>: <error>" after why, which
 * says what the checkpoint was for) and goes to the directory's failure
 * as above. 0 or -errno (-ENXIO: the directory went offline). */
int broker_checkpoint(struct broker *b, const char *why);
/* The background users of the data directory, which stop writing there
 * once it is offline. */
enum broker_dir_user {
	BROKER_DIR_SCHEDULER = 1,  /* flushes, retention, periodic checkpoints */
	BROKER_DIR_CLEANER = 2,    /* the log cleaner */
	BROKER_DIR_CHECKPOINTS = 4 /* broker_checkpoint, whoever calls it */
};
/* Whether the broker's log directory is offline: a cluster broker's
 * storage failure took it offline (broker_storage_failed) until a
 * restart. Then user writes nothing there any more, as Kafka's LogManager
 * leaves an offline directory's logs out of its flushes, checkpoints and
 * retention and its cleaner aborts and skips them
 * (LogCleaner.handleLogDirFailure); the replicas' reads go on (the logs
 * stay open). The first call of each user that finds the directory
 * offline logs that it stopped using it. A single node's directory is
 * never offline: its failures come back as errno. Any thread, no lock. */
bool broker_dir_offline(struct broker *b, enum broker_dir_user user);

/* ---- scheduler.c, cleaner_thread.c: started last by broker_open,
 * stopped first by broker_close (cleaner, then scheduler). */
/* broker.c: starts fn(b) as the thread named name, with *cv initialised
 * on CLOCK_MONOTONIC; stops it: *stop set and *cv signalled under
 * sched_mu, then joined and *cv destroyed. */
int broker_thread_start(struct broker *b, pthread_t *th, pthread_cond_t *cv, void *(*fn)(void *),
			const char *name);
void broker_thread_stop(struct broker *b, pthread_t th, bool *stop, pthread_cond_t *cv);
int scheduler_start(struct broker *b);
void scheduler_stop(struct broker *b);
/* The scheduler has work or a deadline sooner than it sleeps to: a log
 * rolled or removed a segment (the logs' work listener), a partition
 * opened, a topic's settings changed, a groups' copy taken. It looks
 * within its tick (log.flush.scheduler.interval.ms, at most 1 s). Any
 * locks held (sched_mu is a leaf). */
void broker_sched_kick(struct broker *b);
/* The logs' work listener (log_set_work_listener): arg is the broker. */
void broker_sched_log_work(void *arg);
/* Does nothing unless log.cleaner.enable. */
int cleaner_thread_start(struct broker *b);
/* The cleaner's log.cleaner.backoff.ms and log.cleaner.dedupe.buffer.size
 * from now on (dynamic broker settings): a change is logged and starts
 * a pass at once, then the new backoff. Any thread. */
void cleaner_reconfigure(struct broker *b, int64_t backoff_ms, int64_t dedupe_bytes);
void cleaner_thread_stop(struct broker *b);

/* ---- group_coord.c, group_views.c ---- */
/* The group coordinator: creates __consumer_offsets if missing, replays
 * it, starts the notifier, installs the hw listener. After the catalog is
 * loaded; closed before the topics and logs. */
int group_coord_open(struct broker *b);
/* Stops the coordinator's offsets loader (a cluster), which reads the
 * cluster's replicas: before the cluster stops. */
void group_coord_stop(struct broker *b);
/* The replicas' states changed (cluster_topic_hooks.states_changed): the
 * offsets loader looks at the coordinators' partitions again. */
void group_coord_states_changed(void *broker);
void group_coord_close(struct broker *b);
/* Around an appender's hw move (group_notify.c): the consume reads it
 * wakes are woken at the flush, on the caller's thread, which must hold
 * no lock then. gc may be NULL (no coordinator yet): nothing happens. */
void group_notify_defer(struct group_coord *gc);
void group_notify_flush(struct group_coord *gc);
/* The topic was deleted (broker_topic_delete, under admin_mu, so no topic
 * of that name can be made meanwhile): its groups are tombstoned in
 * __consumer_offsets and dropped, so a topic made again under the name
 * starts with no groups, also after a restart. */
void group_topic_deleted(struct broker *b, const char *topic);
/* Appends the per-group metrics (lag, committed offset) to a .metrics
 * text. No lock held by the caller. */
void group_metrics_text(struct broker *b, FILE *f);

#endif
