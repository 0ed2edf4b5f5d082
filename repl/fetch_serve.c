/*
 * fetch_serve.c — the leader's Fetch and OffsetForLeaderEpoch handlers and
 * the fetch purgatory (Kafka's ReplicaManager.fetchMessages, DelayedFetch,
 * and the leader's half of AbstractFetcherThread's truncation).
 *
 * A Fetch, per partition, in this order (the first that applies answers):
 *   1. no local replica, none any more (StopReplica with delete, or its
 *      log dropped, also while the fetch is parked: part_gone), as
 *      Kafka's getPartitionOrError: a partition the cluster's metadata
 *      names (fetch_serve_set_known; a replica moved away):
 *                                             NOT_LEADER_OR_FOLLOWER,
 *      else (a topic deleted: its metadata goes first):
 *                                             UNKNOWN_TOPIC_OR_PARTITION
 *   2. current_leader_epoch (>= 0) below ours: FENCED_LEADER_EPOCH,
 *      above ours:                            UNKNOWN_LEADER_EPOCH
 *      ("ours": the epoch a follower follows too, as Kafka checks it
 *      before the leadership)
 *   3. not the leader:                        NOT_LEADER_OR_FOLLOWER,
 *      but for a fetch a follower may serve (follower_may_serve: a
 *      consumer's v11+, as Kafka's fetchOnlyFromLeader), which a
 *      follower reads as the leader would, up to its own hw
 *   3a. the leader, for a consumer's v11+ with a replica.selector.class
 *      (fetch_serve_set_selector) that picks another replica (KIP-392,
 *      replica_select.h): preferred_read_replica, no records, the hw,
 *      log start and last stable offset (Kafka's readFromLog skips the
 *      read, and the rules below)
 *   3b. a follower (replica_id >= 0) with a last_fetched_epoch (v12),
 *      before the offset, as Kafka's Partition.readRecords: an epoch we
 *      cannot end (above our latest: undefined) or a fetch_offset below
 *      the log start:                          OFFSET_OUT_OF_RANGE;
 *      one we end earlier than it thinks, or than its fetch_offset (past
 *      our LEO too): diverging_epoch = our (largest epoch <= it, its end
 *      offset), no records, its state untouched (it will truncate and
 *      fetch again)
 *   4. fetch_offset outside [log start, LEO]: OFFSET_OUT_OF_RANGE; below
 *      the log start, with the log start's line position (the response
 *      partition's tag log_start_line, proto_fetch.c) and log_start_offset
 *      as always: a follower or read copy starts its log there
 *      (fetcher.c)
 *   4b. a consumer's Fetch below v10 of a topic whose compression.type is
 *      zstd (zstd_refused):                   UNSUPPORTED_COMPRESSION_TYPE
 *   5. a negative partition_max_bytes with records to read (Kafka's
 *      LogSegment.read refuses it):            UNKNOWN_SERVER_ERROR
 *   6. records: whole batches from the one holding fetch_offset, below the
 *      LEO for a follower, below the hw for anyone else (nothing above the
 *      hw reaches a consumer), partition_max_bytes each and max_bytes in
 *      all (the first partition with data gets at least one batch, limits
 *      of 0 included, as Kafka's minOneMessage); none for a follower
 *      while the leader's replication throttle holds the partition back
 *      (part_held, throttle.h), and then its records do not make the
 *      fetch ready either: it waits out max_wait_ms as in Kafka.
 * A follower's fetch first updates its state on the leader (LEO, caught
 * up times), which may expand the ISR and move the hw.
 *
 * Sessions (KIP-227, fetch_session.h), v7+, before the rules: a full
 * fetch (session_epoch 0 or -1) closes the session it names, and with
 * epoch 0 its answer opens a new one of the partitions answered (its
 * session_id; 0 when the cache has no room). An incremental fetch (a
 * session's id and the epoch it expects) adds or updates the partitions
 * it names, drops its forgotten ones, and is then a fetch of all the
 * session's partitions with what each last asked (its fetch_offset, so a
 * follower's LEO counts as if named), parked as any; its answer holds
 * only the partitions with news (records, a changed hw or log start, an
 * error, a diverging epoch). An unknown id is FETCH_SESSION_ID_NOT_FOUND,
 * another epoch INVALID_FETCH_SESSION_EPOCH: the error at the top, no
 * partitions, session_id 0; the fetcher starts again with a full fetch.
 *
 * Records go out as file ranges (sendfile): each range holds a reference
 * of its log (raw_release) until the response was sent or the connection
 * went (net_req_on_done).
 *
 * The purgatory. A fetch where no partition has records or an error, with
 * max_wait_ms > 0, is parked (NET_PARKED) with a deadline. One thread owns
 * the parked list: fetch_serve_wake (the LEO and hw listeners) sets a flag
 * and signals it; it takes the whole list out, looks at each fetch without
 * its mutex (so a listener called under a partition's lock never waits
 * for it), answers those with data, an error, a passed deadline or a gone
 * connection (whose end wakes it too), and puts the others back.
 * It is ready once its partitions hold min_bytes of records it may read,
 * each partition's counted up to its partition_max_bytes (Kafka's
 * DelayedFetch: a consumer's fetch.min.bytes waits for that much, or
 * max_wait_ms); followers send min_bytes 1, so any record answers them,
 * without measuring. One with min_bytes 0 or below is never parked (an
 * empty answer meets it, as in Kafka).
 *
 * The thread wakes only for news: a wake-up, or the earliest deadline of
 * the fetches it holds (sleep_until, exactly, on the monotonic clock; a
 * clock a test replaces is polled every 10 ms instead), or with nothing
 * parked every PURGATORY_IDLE_MS; once a whole idle tick passed with
 * nothing parked (a single node without consumers, a broker that leads
 * nothing), not at all: sleep_until is INT64_MAX, so the next park
 * signals it. Parking a fetch signals it only when it
 * must look: a wake-up came between the fetch's readiness check and its
 * parking (wakes moved: the change it announced may be one the check did
 * not see), or the new deadline comes before the one the thread sleeps
 * until. A follower's fetch (replica.fetch.wait.max.ms, 500 ms) parked
 * after the purgatory emptied thus needs no signal: the thread learns
 * its deadline at its next idle tick, which comes before it. A wake-up
 * while nothing is parked only moves wakes. On a leader under a
 * streaming acks=all write that is two wake-ups per append: its LEO, and
 * the hw that the last follower's fetch moves.
 *
 * The kick. The produce path, after an append to a partition this broker
 * leads, holding no lock, calls fetch_serve_kick: it takes the parked
 * list and answers what is ready on its own thread, as the thread would.
 * On a loaded machine the purgatory's thread waited most of a millisecond
 * for a core after its wake-up (perf sched), on the path of every
 * acks=all write: append, records to the followers, their next fetch, hw.
 * The kick and the thread may scan at once, each with the fetches it took
 * off the list; a kick that puts fetches back after a wake-up came (the
 * thread may have found the list empty) or with a due time earlier than
 * the thread's sleep signals the thread, so nothing waits on a scan that
 * missed it.
 *
 * A follower's fetch is also answered, without records, when the leader's
 * hw is above the one its last response carried (partition_note_hw_sent):
 * a follower learns the hw from Fetch responses only, so without this a
 * record committed by the follower's own fetch (the last of the ISR to
 * fetch past it moves the hw) would reach its mount's readers only with
 * the next record, or after max_wait_ms when none comes. Every change of
 * the hw wakes the purgatory (the hw listener).
 *
 * The hw linger. When that follower's last response carried at least
 * FETCH_HW_LINGER_BYTES of records (a stream of big writes, such as
 * `dd bs=1M`), news of the hw alone waits up to FETCH_HW_LINGER_MS for
 * records to go with it (hw_due_ms, from when the fetch was first found
 * behind; a record, an error or max_wait_ms still answer at once). In
 * such a stream the writer's next write is appended moments after the
 * hw move that acknowledged its last one, so each follower fetches once
 * per write, as Kafka's followers do, instead of twice (once for the
 * records, once for the hw): half the Fetch round trips, each of which
 * took both cores' time from the leader's next append. The hw itself is
 * moved by the fetch that reports the follower's LEO, never by a
 * response, so acks=all waits no longer; only a follower's mount learns
 * the end of a stream up to FETCH_HW_LINGER_MS later. After small
 * records (a writer of one record at a time, whose reader on a
 * follower's mount waits for each) the hw goes out at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "repl/client_quota.h"
#include "repl/fetch_serve.h"
#include "repl/fetch_session.h"
#include "repl/kafka_authz.h"
#include "repl/named_parts.h"
#include "repl/replica_select.h"
#include "repl/throttle.h"
#include "util/clock.h"
#include "util/diaglog.h"

/* The purgatory's tick with nothing parked: the latest a deadline it was
 * not told about is learnt (below any follower's max_wait_ms default). */
#define PURGATORY_IDLE_MS 100

/* The hw linger (above): after a response of this many record bytes, the
 * hw alone waits this long for records. */
#define FETCH_HW_LINGER_BYTES (64 << 10)
#define FETCH_HW_LINGER_MS    20

/* A parked fetch answered this long past its deadline is logged (late_log):
 * a scan (the thread's or a kick's) held it, or none came, and a follower's
 * fetch that late has held acks=all writes of its partitions as long. */
#define FETCH_LATE_MS 5000

struct fs_part {
	struct partition *p; /* referenced, or NULL */
	const struct proto_fetch_part *req;
	bool replaced; /* a later entry of the request names it: not served */
	int16_t error;
	bool diverging;
	bool on_follower;  /* read from a replica this broker follows (rule 3) */
	int32_t preferred; /* rule 3a's preferred read replica, -1 none */
	int32_t diverging_epoch;
	int64_t diverging_end;
	struct partition_raw raw;
	/* part_bytes' measure while parked: the record bytes counted below
	 * counted_next (the offset after the last batch counted; 0 before the
	 * first measure), so each wake-up reads only what came since. */
	int64_t counted_next;
	int64_t counted_bytes;
};

/* A Fetch's session (fetch_session.h), as Kafka's FetchContext: */
enum fs_mode {
	FS_SESSIONLESS, /* below v7, epoch -1, or a session emptied */
	FS_FULL,        /* epoch 0: opens a session with its answer */
	FS_INCR,        /* epoch > 0: the session's partitions, its news */
};

struct fs_fetch {
	struct fetch_serve *fs;
	struct net_req *req;
	/* The request, or for FS_INCR sess_req: the request's fields with
	 * the session's partitions (view) for its topics. */
	const struct proto_fetch_req *msg;
	enum fs_mode mode;
	struct fetch_session_view view;
	struct proto_fetch_req sess_req;
	int n;
	struct fs_part *parts; /* in request order, topic by topic */
	int64_t deadline_ms;
	int64_t hw_due_ms; /* when news of the hw alone answers it (linger) */
	struct fs_fetch *next;
};

struct fetch_serve {
	fetch_serve_lookup_fn lookup;
	void *lookup_arg;
	fetch_serve_known_fn known; /* NULL: a single node */
	void *known_arg;
	int64_t (*now_ms)(void);
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started;
	bool stopping;
	bool woken;
	uint64_t wakes;      /* fetch_serve_wake calls (lock) */
	int64_t sleep_until; /* the thread's wait: a deadline, INT64_MAX none,
			      * INT64_MIN awake (lock) */
	int64_t scans;       /* times the thread looked at its list (lock) */
	int n_parked;
	struct fs_fetch *parked;
	_Atomic int64_t replica_bytes_out;   /* record bytes sent to followers */
	const char *replica_user;            /* fetch_serve_set_replica_user */
	struct throttle_quota *quota;        /* fetch_serve_set_throttle, or NULL */
	struct client_quotas *client_quotas; /* fetch_serve_set_client_quotas */
	struct fetch_sessions *sessions;     /* fetch_serve_set_sessions */
	enum replica_selector selector;      /* fetch_serve_set_selector */
	replica_rack_fn rack;
	void *rack_arg;
	_Atomic int64_t follower_fetches;   /* consumer Fetches read on a follower */
	_Atomic int64_t follower_bytes_out; /* their record bytes */
	_Atomic int64_t preferred_answers;  /* rule 3a's answers, per partition */
};

void fetch_serve_set_selector(struct fetch_serve *fs, enum replica_selector s, replica_rack_fn rack,
			      void *arg)
{
	fs->selector = rack ? s : REPLICA_SELECTOR_NONE;
	fs->rack = rack;
	fs->rack_arg = arg;
}

void fetch_serve_follower_stats(struct fetch_serve *fs, struct fetch_serve_follower_stats *st)
{
	st->consumer_fetches = fs ? atomic_load(&fs->follower_fetches) : 0;
	st->consumer_bytes_out = fs ? atomic_load(&fs->follower_bytes_out) : 0;
	st->preferred_answers = fs ? atomic_load(&fs->preferred_answers) : 0;
}

int fetch_serve_set_sessions(struct fetch_serve *fs, int32_t slots, int64_t eviction_ms)
{
	struct fetch_sessions *c;
	int rc = fetch_sessions_new(slots, eviction_ms, &c);

	if (rc)
		return rc;
	fetch_sessions_free(fs->sessions);
	fs->sessions = c;
	return 0;
}

int32_t fetch_serve_sessions(struct fetch_serve *fs)
{
	return fetch_sessions_count(fs->sessions);
}

int32_t fetch_serve_session_partitions(struct fetch_serve *fs)
{
	return fetch_sessions_partitions(fs->sessions);
}

void fetch_serve_set_client_quotas(struct fetch_serve *fs, struct client_quotas *q)
{
	fs->client_quotas = q;
}

void fetch_serve_set_throttle(struct fetch_serve *fs, struct throttle_quota *quota)
{
	fs->quota = quota;
}

/* Whether the leader's throttle holds back fp's records from this
 * follower now (Kafka's shouldLeaderThrottle): fp throttled here, the
 * follower out of the (maximal) ISR, the leader quota exceeded (the quota's clock
 * is the monotonic one, whatever clock a test gives the purgatory). */
static bool part_held(const struct fs_fetch *f, const struct fs_part *fp)
{
	const char *topic;

	if (!f->fs->quota || f->msg->replica_id < 0 || !fp->p)
		return false;
	topic = partition_topic(fp->p);
	/* The throttled partitions first: the ISR needs the partition's
	 * lock, and most fetches throttle nothing. */
	if (!throttle_quota_is_throttled(f->fs->quota, topic, strlen(topic),
					 partition_index(fp->p)))
		return false;
	return throttle_quota_holds(f->fs->quota, topic, strlen(topic), partition_index(fp->p),
				    partition_maximal_isr_has(fp->p, f->msg->replica_id),
				    now_mono_ms());
}

/* Record bytes of a throttled partition sent to a follower count against
 * the leader quota, in sync or not (Kafka's sizeOfThrottledPartitions). */
static void part_sent(const struct fs_fetch *f, const struct fs_part *fp, int64_t bytes)
{
	const char *topic;

	if (!f->fs->quota || f->msg->replica_id < 0 || bytes <= 0)
		return;
	topic = partition_topic(fp->p);
	if (throttle_quota_is_throttled(f->fs->quota, topic, strlen(topic), partition_index(fp->p)))
		throttle_quota_record(f->fs->quota, bytes, now_mono_ms());
}

void fetch_serve_set_replica_user(struct fetch_serve *fs, const char *user)
{
	fs->replica_user = user && user[0] ? user : NULL;
}

void fetch_serve_set_known(struct fetch_serve *fs, fetch_serve_known_fn known, void *arg)
{
	fs->known = known;
	fs->known_arg = arg;
}

int16_t fetch_serve_no_replica(fetch_serve_known_fn known, void *arg, struct kstr topic,
			       int32_t index)
{
	return known && known(arg, topic, index) ? PROTO_ERR_NOT_LEADER_OR_FOLLOWER
						 : PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
}

/* Whether req may fetch as a follower (see fetch_serve.h); logged if not. */
static bool replica_allowed(const struct fetch_serve *fs, struct net_req *req)
{
	const char *user = net_req_user(req);

	/* With the authorizer its CLUSTER_ACTION decides (kafka_authorize_fetch). */
	if (net_req_authz(req) || !fs->replica_user || !user || !strcmp(user, fs->replica_user))
		return true;
	mq_log_limited(MQ_WARN,
		       "Fetch from %s (user %s) as replica %d refused "
		       "(TOPIC_AUTHORIZATION_FAILED): not the brokers' user",
		       net_req_peer(req), user, (int)net_req_msg(req)->u.fetch.replica_id);
	return false;
}

static int64_t mono_ms(void)
{
	return now_mono_ms();
}

static void fetch_free(struct fs_fetch *f)
{
	for (int i = 0; i < f->n; i++) {
		struct fs_part *fp = &f->parts[i];

		if (fp->p && fp->raw.ref)
			partition_log_ops(fp->p)->raw_release(partition_log(fp->p), &fp->raw);
		partition_unref(fp->p);
	}
	free(f->parts);
	fetch_session_view_free(&f->view);
	free(f);
}

/* A response whose records could not be sent because a read of their
 * file failed (the disk's EIO: net_req_file_error) fails that replica's
 * log directory as a failed read of the response's making would
 * (partition_read_failed); the connection is closed already, logged
 * with the errno. */
static void fetch_done(void *arg, struct net_req *req, int status)
{
	struct fs_fetch *f = arg;
	int fd, err = status ? net_req_file_error(req, &fd) : 0;

	for (int i = 0; err == -EIO && i < f->n; i++)
		if (f->parts[i].p && f->parts[i].raw.ref && f->parts[i].raw.fd == fd) {
			partition_read_failed(f->parts[i].p, err);
			break;
		}
	fetch_free(f);
}

int16_t fetch_serve_epoch_check(struct partition *p, int32_t current_leader_epoch)
{
	int32_t epoch;

	int rc;

	if (!p)
		return PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	/* An offline replica (its log directory failed) is Kafka's
	 * KAFKA_STORAGE_ERROR: the follower or consumer waits for the
	 * controller to move the leadership. */
	rc = partition_leader_epoch(p, &epoch);
	if (rc == -ENXIO)
		return PROTO_ERR_KAFKA_STORAGE_ERROR;
	/* The epoch before the leadership, as Kafka's Partition.getLocalLog:
	 * a follower asked in an epoch older than the one it follows (a
	 * client that missed a leader change) answers FENCED_LEADER_EPOCH,
	 * in a newer one (the new leader not told yet) UNKNOWN_LEADER_EPOCH,
	 * which the client retries there without a metadata refresh. Only
	 * -1 is no epoch (Kafka's NO_PARTITION_LEADER_EPOCH, as its
	 * OffsetForLeaderEpoch and ListOffsets read it): -2 is older than
	 * any, fenced. */
	if (epoch >= 0 && current_leader_epoch != -1 && current_leader_epoch < epoch)
		return PROTO_ERR_FENCED_LEADER_EPOCH;
	if (epoch >= 0 && current_leader_epoch > epoch)
		return PROTO_ERR_UNKNOWN_LEADER_EPOCH;
	return rc ? PROTO_ERR_NOT_LEADER_OR_FOLLOWER : 0;
}

/* A Fetch's current_leader_epoch for fetch_serve_epoch_check: any
 * negative one is none, as Kafka's FetchRequest reads it (optionalEpoch),
 * where OffsetForLeaderEpoch and ListOffsets fence all but -1. */
static int32_t fetch_epoch(const struct proto_fetch_part *rq)
{
	return rq->current_leader_epoch < 0 ? -1 : rq->current_leader_epoch;
}

/* Whether a follower may serve f (Kafka's FetchParams: not
 * fetchOnlyFromLeader): a consumer's Fetch v11+, which carries its client
 * metadata (rack_id; empty or not), or another non-broker one (a debug
 * replica id); never a follower's, nor a consumer's below v11. */
static bool follower_may_serve(const struct fs_fetch *f)
{
	int32_t id = f->msg->replica_id;

	return id < 0 && (id != -1 || net_req_msg(f->req)->hdr.api_version >= 11);
}

/* Rules 1-3 for fp now (fetch_serve_epoch_check), a follower serving
 * what follower_may_serve allows: fp->on_follower then. */
static int16_t part_check(const struct fs_fetch *f, struct fs_part *fp)
{
	struct partition_follow fw;
	int16_t e = fetch_serve_epoch_check(fp->p, fetch_epoch(fp->req));

	fp->on_follower = e == PROTO_ERR_NOT_LEADER_OR_FOLLOWER && follower_may_serve(f) &&
			  partition_follow_state(fp->p, &fw) == 0;
	return fp->on_follower ? 0 : e;
}

/* Rule 3a: the preferred read replica for a consumer's fetch of fp on
 * the leader, -1 none (Kafka's findPreferredReadReplica runs for a
 * fetch with client metadata, v11+, from a non-broker). */
static int32_t part_preferred(const struct fs_fetch *f, const struct fs_part *fp, int64_t now)
{
	struct partition_info info;

	if (f->fs->selector == REPLICA_SELECTOR_NONE || f->msg->replica_id >= 0 ||
	    net_req_msg(f->req)->hdr.api_version < 11 || fp->on_follower)
		return -1;
	partition_get_info(fp->p, &info);
	return replica_preferred_read(f->fs->selector, f->msg->rack_id, &info,
				      fp->req->fetch_offset, now, f->fs->rack, f->fs->rack_arg,
				      net_req_listener(f->req));
}

/* The partition's replica left this broker since the lookup (StopReplica
 * with delete in a cluster: its topic deleted or the replica moved away;
 * its log dropped on one node; o: its offsets, read already): rule 1
 * (Kafka answers a delayed fetch so when its partition goes). */
static bool part_gone(const struct fs_part *fp, const struct partition_offsets *o)
{
	return o->dropped || partition_deleted(fp->p);
}

/* Rule 1's answer for a partition part_gone finds gone: a fetch that
 * found no replica would get it (Kafka's delayed fetch meets
 * getPartitionOrError when it completes). */
static int16_t gone_error(const struct fs_fetch *f, const struct fs_part *fp)
{
	return fetch_serve_no_replica(f->fs->known, f->fs->known_arg,
				      kstr_of(partition_topic(fp->p)), partition_index(fp->p));
}

/* Rule 4b: a consumer's Fetch below v10 (a client before Kafka 2.1,
 * which cannot read zstd batches) of a topic whose compression.type is
 * zstd, as Kafka's KafkaApis refuses it; logged. A topic that keeps its
 * producers' codecs may hold zstd batches too and is served, as Kafka
 * serves it. */
static bool zstd_refused(const struct fs_fetch *f, const struct fs_part *fp)
{
	const struct partition_log_ops *ops = partition_log_ops(fp->p);

	if (net_req_msg(f->req)->hdr.api_version >= 10 || !ops->codec ||
	    ops->codec(partition_log(fp->p)) != BATCH_CODEC_ZSTD)
		return false;
	mq_log_limited(MQ_WARN,
		       "Fetch v%d from %s of %s-%d refused (UNSUPPORTED_COMPRESSION_TYPE): "
		       "the topic's compression.type is zstd, which a Fetch below v10 "
		       "cannot carry",
		       (int)net_req_msg(f->req)->hdr.api_version, net_req_peer(f->req),
		       partition_topic(fp->p), (int)partition_index(fp->p));
	return true;
}

/* Rules 1-5 for one partition, at the fetch's arrival (3b included). */
static void part_validate(struct fs_fetch *f, struct fs_part *fp, int64_t now)
{
	const struct proto_fetch_part *rq = fp->req;
	struct partition_offsets o;
	void *log;
	const struct partition_log_ops *ops;
	int rc;

	fp->error = part_check(f, fp);
	if (fp->error == PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION)
		return;
	log = partition_log(fp->p);
	ops = partition_log_ops(fp->p);
	ops->offsets(log, &o);
	if (part_gone(fp, &o))
		fp->error = gone_error(f, fp);
	if (fp->error)
		return;
	fp->preferred = part_preferred(f, fp, now);
	if (fp->preferred >= 0)
		return;
	/* A follower's divergence first, as Kafka's Partition.readRecords:
	 * an epoch this log cannot end (above its latest: undefined) is
	 * OFFSET_OUT_OF_RANGE, and so is an offset below the log start; a
	 * follower past this log's end in an epoch that ended before it is
	 * told where (diverging), not refused. */
	if (f->msg->replica_id >= 0 && rq->last_fetched_epoch >= 0) {
		int32_t e;
		int64_t end;

		ops->end_offset_for_epoch(log, rq->last_fetched_epoch, &e, &end);
		if (e < 0 || end < 0 || rq->fetch_offset < o.log_start_offset) {
			fp->error = PROTO_ERR_OFFSET_OUT_OF_RANGE;
			return;
		}
		if (e < rq->last_fetched_epoch || end < rq->fetch_offset) {
			fp->diverging = true;
			fp->diverging_epoch = e;
			fp->diverging_end = end;
			return;
		}
	}
	if (rq->fetch_offset < o.log_start_offset || rq->fetch_offset > o.log_end_offset) {
		fp->error = PROTO_ERR_OFFSET_OUT_OF_RANGE;
		return;
	}
	if (f->msg->replica_id < 0) {
		if (zstd_refused(f, fp))
			fp->error = PROTO_ERR_UNSUPPORTED_COMPRESSION_TYPE;
		return;
	}
	rc = partition_update_follower_fetch_state(fp->p, f->msg->replica_id, rq->fetch_offset,
						   rq->log_start_offset, now);
	if (rc == -ENOENT)
		fp->error = PROTO_ERR_NOT_LEADER_OR_FOLLOWER;
	else if (rc < 0 && rc != -ESTALE)
		fp->error = proto_err_from_errno(rc);
}

/* A read of fp's records that failed with rc, answered code: logged as
 * a failed read through the mount is, but for the answers that are no
 * fault (a partition gone or moved, an offset out of range) and a corrupt
 * batch (reported once by the engine, where it is met). */
static void fetch_read_failed(const struct fs_fetch *f, const struct fs_part *fp, int rc,
			      int16_t code)
{
	if (code != PROTO_ERR_KAFKA_STORAGE_ERROR && code != PROTO_ERR_UNKNOWN_SERVER_ERROR)
		return;
	mq_log_limited(MQ_WARN, "Fetch from %s of %s-%d at offset %lld: %s (%s)",
		       net_req_peer(f->req), partition_topic(fp->p), (int)partition_index(fp->p),
		       (long long)fp->req->fetch_offset, strerror(-rc), proto_err_name(code));
}

/* What a fetch may read of fp now: the offset it stops below. */
static int64_t part_upper(const struct fs_fetch *f, const struct fs_part *fp,
			  struct partition_offsets *o)
{
	partition_log_ops(fp->p)->offsets(partition_log(fp->p), o);
	return f->msg->replica_id >= 0 ? o->log_end_offset : o->hw;
}

/* True when a follower's hw news should go out now (the hw linger): at
 * once after small records, else from hw_due_ms on, set when the fetch
 * is first found behind. */
static bool hw_news_due(struct fs_fetch *f, int64_t bytes_sent, int64_t now)
{
	if (bytes_sent < FETCH_HW_LINGER_BYTES)
		return true;
	if (f->hw_due_ms == INT64_MAX)
		f->hw_due_ms = now + FETCH_HW_LINGER_MS;
	return now >= f->hw_due_ms;
}

/* The record bytes fp may read now below upper, counted up to want (at
 * most its partition_max_bytes); what a read fails on adds nothing (the
 * response will say why). A read stops at a batch over want or at its
 * segment's end: with records left below upper, there is want (Kafka's
 * DelayedFetch counts a partition whose hw is in a later segment as its
 * max bytes). The count goes on from the last measure's end (committed
 * records below the hw do not change while the fetch is parked; a
 * removal or a lost leadership answers it anyway), so a fetch parked
 * while records come one by one reads each batch's index entry once,
 * not the whole range again at every wake-up. */
static int64_t part_bytes(struct fs_part *fp, int64_t upper, int64_t want)
{
	const struct partition_log_ops *ops = partition_log_ops(fp->p);
	struct partition_raw raw = { .fd = -1 };
	int64_t from =
		fp->counted_next > fp->req->fetch_offset ? fp->counted_next : fp->req->fetch_offset;
	int64_t bytes = fp->counted_bytes;
	int rc;

	if (fp->req->partition_max_bytes < 0)
		return want; /* answered at once: refused (part_max_refused) */
	if (want > fp->req->partition_max_bytes)
		want = fp->req->partition_max_bytes;
	if (want <= 0)
		return 0;
	rc = bytes < want && from < upper ? ops->read_raw(partition_log(fp->p), from, upper,
							  (size_t)(want - bytes), &raw)
					  : -EAGAIN;
	/* The disk's error takes the log directory offline now: the parked
	 * fetch is then answered (its replica offline) rather than waiting
	 * out max_wait_ms. */
	partition_read_failed(fp->p, rc);
	if (rc == 0) {
		if (raw.len > 0 && raw.last_offset + 1 < upper) {
			bytes = want;
		} else if (raw.len > 0) {
			fp->counted_next = raw.last_offset + 1;
			fp->counted_bytes += (int64_t)raw.len;
			bytes = fp->counted_bytes;
		}
	}
	if (raw.ref)
		ops->raw_release(partition_log(fp->p), &raw);
	return bytes < want ? bytes : want;
}

/* True when the fetch should be answered now (rule: min_bytes of records,
 * any error, news of the hw for a follower). Called by one thread at a
 * time: the handler before parking f, then the purgatory. */
static bool fetch_ready(struct fs_fetch *f, int64_t now)
{
	bool hw_news = false;
	int64_t min_bytes = f->msg->min_bytes, bytes = 0;

	for (int i = 0; i < f->n; i++) {
		struct fs_part *fp = &f->parts[i];
		struct partition_offsets o;
		int64_t bytes_sent = 0, upper;

		if (fp->replaced)
			continue;
		if (fp->error || fp->diverging || fp->preferred >= 0)
			return true;
		/* Lost leadership while parked (its topic deleted too), or the
		 * replica a follower-served fetch reads, or its epoch moved
		 * (Kafka's DelayedFetch, cases A-E). */
		if (part_check(f, fp))
			return true;
		upper = part_upper(f, fp, &o);
		if (o.dropped)
			return true;
		/* A held partition's records do not make the fetch ready (Kafka's
		 * DelayedFetch does not count them): it waits out max_wait_ms. */
		if (upper > fp->req->fetch_offset && !part_held(f, fp)) {
			if (min_bytes <= 1)
				return true;
			bytes += part_bytes(fp, upper, min_bytes - bytes);
			if (bytes >= min_bytes)
				return true;
		}
		if (f->msg->replica_id >= 0 &&
		    partition_follower_hw_behind(fp->p, f->msg->replica_id, &bytes_sent) &&
		    hw_news_due(f, bytes_sent, now))
			hw_news = true;
	}
	return hw_news;
}

/* The earlier of f's deadline and its hw news' (purgatory lock). */
static int64_t fetch_due(const struct fs_fetch *f)
{
	return f->hw_due_ms < f->deadline_ms ? f->hw_due_ms : f->deadline_ms;
}

/* A follower's response: the hw it carries and its record bytes. */
static void note_sent(const struct fs_fetch *f, struct fs_part *fp,
		      const struct proto_fetch_resp_part *rp, int64_t bytes)
{
	if (f->msg->replica_id >= 0 && fp->p && rp->high_watermark >= 0)
		partition_note_hw_sent(fp->p, f->msg->replica_id, rp->high_watermark, bytes);
}

/* A negative partition_max_bytes with records to read below upper: it
 * would bound nothing (a whole segment's range sent), and Kafka's
 * LogSegment.read refuses it, the partition answered UNKNOWN_SERVER_ERROR
 * (none at the end, where nothing is read); logged. */
static bool part_max_refused(const struct fs_fetch *f, const struct fs_part *fp, int64_t upper)
{
	if (fp->req->partition_max_bytes >= 0 || upper <= fp->req->fetch_offset)
		return false;
	mq_log_limited(MQ_WARN,
		       "Fetch from %s of %s-%d at offset %lld refused (UNKNOWN_SERVER_ERROR): "
		       "partition_max_bytes %d is negative",
		       net_req_peer(f->req), partition_topic(fp->p), (int)partition_index(fp->p),
		       (long long)fp->req->fetch_offset, (int)fp->req->partition_max_bytes);
	return true;
}

/* A full fetch's answer (epoch 0) opens a session of its partitions, if
 * the cache has room (Kafka's FullFetchContext); a throttled one opens
 * none, as Kafka's, and neither does one whose client went while it was
 * parked: nobody would learn the session's id, which would hold a slot
 * until evicted (a follower's, privileged, for
 * min.incremental.fetch.session.eviction.ms unused), and a follower
 * gives up its parked Fetch whenever a partition joins its fetcher. The
 * answer carries its id, or 0. -ENOMEM. */
static int session_open(struct fs_fetch *f, struct proto_fetch_resp *resp, int n)
{
	struct fetch_session_entry *e = calloc((size_t)n + 1, sizeof(*e));
	int k = 0, i = 0;
	int32_t id;

	if (!e)
		return -ENOMEM;
	for (int32_t t = 0; t < resp->n_topics; t++)
		for (int32_t j = 0; j < resp->topics[t].n_partitions; j++, i++) {
			const struct proto_fetch_resp_part *rp = &resp->topics[t].partitions[j];

			while (f->parts[k].replaced)
				k++;
			e[i] = (struct fetch_session_entry){ resp->topics[t].topic,
							     f->parts[k++].req, rp->high_watermark,
							     rp->log_start_offset };
		}
	id = fetch_sessions_create(f->fs->sessions, f->msg->replica_id >= 0, f->fs->now_ms(), i, e);
	free(e);
	if (id < 0)
		return id;
	resp->session_id = id;
	return 0;
}

/* An incremental fetch's answer: only its session's partitions with
 * news (fetch_sessions_answer), topics without any left out; or, when
 * another fetch of the session came meanwhile, INVALID_FETCH_SESSION_EPOCH
 * without partitions, as Kafka's IncrementalFetchContext. parts: the n
 * answers, in the view's order. update false: the session remembers
 * nothing of it (fetch_sessions_peek). -ENOMEM. */
static int session_news(struct fs_fetch *f, struct proto_fetch_resp *resp,
			struct proto_fetch_resp_part *parts, int n, bool update)
{
	struct fetch_session_answer *a = calloc((size_t)n + 1, sizeof(*a));
	int32_t nt = 0;
	int w = 0, k = 0;

	if (!a)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		a[i] = (struct fetch_session_answer){
			.hw = parts[i].high_watermark,
			.log_start = parts[i].log_start_offset,
			.records = parts[i].records_len > 0,
			.error = parts[i].error_code != 0,
			.diverging = parts[i].has_diverging_epoch,
			.preferred = parts[i].preferred_read_replica >= 0,
		};
	resp->session_id = f->view.id;
	resp->error_code = (update ? fetch_sessions_answer : fetch_sessions_peek)(f->fs->sessions,
										  &f->view, a);
	if (resp->error_code)
		resp->n_topics = 0;
	/* Compacted in place: the kept ones only move forward. */
	for (int32_t t = 0; !resp->error_code && t < resp->n_topics; t++) {
		struct proto_fetch_resp_topic rt = resp->topics[t];

		resp->topics[nt].topic = rt.topic;
		resp->topics[nt].partitions = &parts[w];
		resp->topics[nt].n_partitions = 0;
		for (int32_t j = 0; j < rt.n_partitions; j++, k++)
			if (a[k].include) {
				parts[w++] = parts[k];
				resp->topics[nt].n_partitions++;
			}
		if (resp->topics[nt].n_partitions > 0)
			nt++;
	}
	if (!resp->error_code)
		resp->n_topics = nt;
	free(a);
	return 0;
}

/* Kafka's fetchContext.getResponseSize, which the consumer_byte_rate
 * records: 4 plus the body of the answer about to be sent, records
 * included, at the request's version; an incremental fetch's with only
 * the partitions the session would include (peeked, nothing
 * remembered), an empty one's when its epoch is stale. parts: resp's n
 * answers. -ENOMEM. */
static int64_t fetch_resp_size(struct fs_fetch *f, const struct proto_fetch_resp *resp,
			       const struct proto_fetch_resp_part *parts, int n)
{
	const struct proto_req *pr = net_req_msg(f->req);
	struct proto_fetch_resp r = *resp;
	struct proto_fetch_resp_topic *topics = NULL;
	struct proto_fetch_resp_part *p = NULL;
	struct proto_out out;
	int64_t size = -ENOMEM;

	if (f->mode == FS_INCR) { /* session_news compacts: on copies */
		topics = calloc((size_t)resp->n_topics + 1, sizeof(*topics));
		p = calloc((size_t)n + 1, sizeof(*p));
		if (!topics || !p)
			goto out;
		memcpy(p, parts, (size_t)n * sizeof(*p));
		for (int32_t t = 0; t < resp->n_topics; t++) {
			topics[t] = resp->topics[t];
			topics[t].partitions = p + (resp->topics[t].partitions - parts);
		}
		r.topics = topics;
		if (session_news(f, &r, p, n, false) < 0)
			goto out;
	}
	/* Only the memory part is built (records stay file pieces). */
	proto_out_init(&out, (size_t)INT32_MAX);
	if (proto_fetch_resp_encode(&out, pr->hdr.api_version, 0, &r) == 0)
		/* The frame less its header: correlation id, tags from v12. */
		size = (int64_t)out.total -
		       (proto_is_flexible(PROTO_API_FETCH, pr->hdr.api_version) ? 5 : 4);
	proto_out_free(&out);
out:
	free(topics);
	free(p);
	return size;
}

/* A consumer's consumer_byte_rate (client_quota.h): the response's size
 * recorded as Kafka records it (fetch_resp_size: headers, offsets and
 * records, so that even empty answers count); when that throttles, it
 * is taken back and the answer names no partition at all, only the
 * throttle time (Kafka's getThrottledResponse; the caller keeps the
 * session as it was, so that the next answer tells what this one did
 * not). A follower's fetch is never client-quota'd. */
static void fetch_client_quota(struct fs_fetch *f, struct proto_fetch_resp *resp,
			       struct proto_fetch_resp_part *parts, int n)
{
	int64_t bytes;

	if (!f->fs->client_quotas || f->msg->replica_id >= 0)
		return;
	bytes = fetch_resp_size(f, resp, parts, n);
	if (bytes < 0) { /* no memory to size it: its records at least */
		bytes = 0;
		for (int i = 0; i < n; i++)
			bytes += parts[i].records_len > 0 ? parts[i].records_len : 0;
	}
	resp->throttle_time_ms = client_quotas_record_req(f->fs->client_quotas, f->req,
							  CLIENT_QUOTA_FETCH, bytes, true);
	if (resp->throttle_time_ms <= 0)
		return;
	for (int i = 0; i < n; i++) {
		parts[i].records_fd = -1;
		parts[i].records = (const uint8_t *)"";
		parts[i].records_len = 0;
	}
	resp->n_topics = 0;
}

/* The end of a response to f: resp encoded into the request's output
 * when rc is 0 (else rc, nothing encoded), then resp's topics and parts,
 * the array its topics' partitions point into, freed. */
static int fetch_answer(struct fs_fetch *f, struct proto_fetch_resp *resp,
			struct proto_fetch_resp_part *parts, int rc)
{
	const struct proto_req *pr = net_req_msg(f->req);

	if (rc == 0)
		rc = proto_fetch_resp_encode(net_req_out(f->req), pr->hdr.api_version,
					     pr->hdr.correlation_id, resp);
	free(resp->topics);
	free(parts);
	return rc;
}

/* A consumer's OFFSET_OUT_OF_RANGE carries no hw, as Kafka's
 * (createLogReadResult: -1): librdkafka goes back from a follower to the
 * leader only when its offset is above the answer's hw, and resets its
 * position otherwise; a follower's own hw there (an offset below the log
 * start its retention moved before the leader's did) would lose or
 * repeat records the leader still serves. The log start stays: a read
 * copy starts there (fetcher.c). */
static void out_of_range_offsets(const struct fs_fetch *f, struct proto_fetch_resp_part *rp)
{
	if (rp->error_code == PROTO_ERR_OFFSET_OUT_OF_RANGE && f->msg->replica_id < 0) {
		rp->high_watermark = -1;
		rp->last_stable_offset = -1;
	}
}

/* Rule 6 and the response frame into the request's output. */
static int fetch_respond(struct fs_fetch *f)
{
	const struct proto_fetch_req *m = f->msg;
	struct proto_fetch_resp_topic *topics = calloc((size_t)m->n_topics + 1, sizeof(*topics));
	struct proto_fetch_resp_part *parts = calloc((size_t)f->n + 1, sizeof(*parts));
	struct proto_fetch_resp resp = { .n_topics = m->n_topics,
					 .topics = topics,
					 .session_id = 0 };
	int64_t budget = m->max_bytes > 0 ? m->max_bytes : 0;
	bool taken = false;       /* a partition of this response has records */
	bool on_follower = false; /* a partition was read on a follower */
	int k = 0, kout = 0, rc;

	/* A consumer's response stays within what its consumer_byte_rate
	 * takes in one quota window (fetch_client_quota). */
	if (f->fs->client_quotas && m->replica_id < 0) {
		int64_t cap = client_quotas_window_max_req(f->fs->client_quotas, f->req,
							   CLIENT_QUOTA_FETCH);

		if (cap < budget)
			budget = cap;
	}

	/* From here on the request's done callback frees f, whatever
	 * happens (a failed handler gets it with -ECONNRESET). */
	net_req_on_done(f->req, fetch_done, f);
	if (!topics || !parts)
		return fetch_answer(f, &resp, parts, -ENOMEM);
	resp.n_topics = 0;
	for (int32_t t = 0; t < m->n_topics; t++) {
		struct proto_fetch_resp_topic *rt = &topics[resp.n_topics];

		rt->topic = m->topics[t].topic;
		rt->n_partitions = 0; /* a slot an unanswered entry left */
		rt->partitions = &parts[kout];
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, k++) {
			struct fs_part *fp = &f->parts[k];
			struct proto_fetch_resp_part *rp;
			struct partition_offsets o = { -1, -1, -1, -1, false };
			bool gone = false;
			int64_t upper;
			size_t max;

			if (fp->replaced)
				continue;
			rp = &parts[kout++];
			rt->n_partitions++;
			rp->partition_index = fp->req->partition;
			rp->n_aborted = -1;
			rp->preferred_read_replica = -1;
			rp->records_fd = -1;
			rp->records = (const uint8_t *)"";
			rp->error_code = fp->error;
			if (fp->p) {
				partition_log_ops(fp->p)->offsets(partition_log(fp->p), &o);
				gone = part_gone(fp, &o);
			}
			if (!rp->error_code && gone)
				rp->error_code = gone_error(f, fp);
			if (!rp->error_code && fp->p)
				rp->error_code = part_check(f, fp);
			/* A replica gone: the offsets of none, as a fetch that
			 * found no replica is answered. */
			if (gone || rp->error_code == PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
			    rp->error_code == PROTO_ERR_UNSUPPORTED_COMPRESSION_TYPE)
				o = (struct partition_offsets){ -1, -1, -1, -1, false };
			rp->high_watermark = o.hw;
			rp->last_stable_offset = o.hw;
			rp->log_start_offset = o.log_start_offset;
			out_of_range_offsets(f, rp);
			/* Below the log start: where it starts in the line view
			 * too, for a follower or read copy to start there. */
			if (rp->error_code == PROTO_ERR_OFFSET_OUT_OF_RANGE &&
			    fp->req->fetch_offset < o.log_start_offset && o.line_start >= 0) {
				rp->has_log_start_line = true;
				rp->log_start_line = o.line_start;
			}
			if (rp->error_code) {
				note_sent(f, fp, rp, 0);
				continue;
			}
			/* As Kafka's readFromLog, again when the fetch is
			 * answered (a parked one too). */
			fp->preferred = part_preferred(f, fp, f->fs->now_ms());
			if (fp->preferred >= 0) {
				rp->preferred_read_replica = fp->preferred;
				atomic_fetch_add_explicit(&f->fs->preferred_answers, 1,
							  memory_order_relaxed);
				continue;
			}
			if (fp->diverging) {
				rp->has_diverging_epoch = true;
				rp->diverging_epoch = fp->diverging_epoch;
				rp->diverging_end_offset = fp->diverging_end;
				note_sent(f, fp, rp, 0);
				continue;
			}
			on_follower |= fp->on_follower;
			upper = part_upper(f, fp, &o);
			if (part_max_refused(f, fp, upper)) {
				rp->error_code = PROTO_ERR_UNKNOWN_SERVER_ERROR;
				note_sent(f, fp, rp, 0);
				continue;
			}
			max = (size_t)(fp->req->partition_max_bytes < budget
					       ? fp->req->partition_max_bytes
					       : budget);
			/* Kafka's minOneMessage: the first partition with
			 * records gets its first batch whatever the limits (0
			 * included), or a fetch could never progress. */
			if (max == 0 && !taken)
				max = 1;
			if (upper <= fp->req->fetch_offset || max == 0 || part_held(f, fp)) {
				note_sent(f, fp, rp, 0);
				continue;
			}
			const struct partition_log_ops *ops = partition_log_ops(fp->p);
			/* A follower or read copy keeps our line positions. */
			rc = (f->msg->line_copy && ops->read_raw_copy ? ops->read_raw_copy
								      : ops->read_raw)(
				partition_log(fp->p), fp->req->fetch_offset, upper, max, &fp->raw);
			note_sent(f, fp, rp, rc ? 0 : (int64_t)fp->raw.len);
			if (rc) {
				rp->error_code = proto_err_from_errno(rc);
				out_of_range_offsets(f, rp);
				fetch_read_failed(f, fp, rc, rp->error_code);
				/* After the line naming the read: the directory's
				 * failure (a cluster's replica) is logged next. */
				partition_read_failed(fp->p, rc);
				continue;
			}
			if (fp->raw.len) {
				part_sent(f, fp, (int64_t)fp->raw.len);
				taken = true;
				rp->records_fd = fp->raw.fd;
				rp->records_offset = fp->raw.offset;
				rp->records_len = (int32_t)fp->raw.len;
				/* Past the offset asked for: compaction's gap,
				 * which a follower leaves in its line view too;
				 * below it: the log start lies inside the batch,
				 * where a follower's log, empty there, starts
				 * again (partition_follower_append_at). */
				if (fp->raw.base_offset != fp->req->fetch_offset &&
				    fp->raw.first_line_pos >= 0) {
					rp->has_first_line = true;
					rp->first_line = fp->raw.first_line_pos;
				}
				if (f->msg->replica_id >= 0)
					atomic_fetch_add_explicit(&f->fs->replica_bytes_out,
								  (int64_t)fp->raw.len,
								  memory_order_relaxed);
				if (fp->on_follower)
					atomic_fetch_add_explicit(&f->fs->follower_bytes_out,
								  (int64_t)fp->raw.len,
								  memory_order_relaxed);
				budget -= (int64_t)fp->raw.len;
				if (budget < 0)
					budget = 0;
			}
		}
		/* A topic entry whose partitions later entries all name
		 * again is not answered either (as Produce's). */
		if (rt->n_partitions > 0 || m->topics[t].n_partitions == 0)
			resp.n_topics++;
	}
	if (on_follower)
		atomic_fetch_add_explicit(&f->fs->follower_fetches, 1, memory_order_relaxed);
	fetch_client_quota(f, &resp, parts, kout);
	rc = 0;
	if (resp.throttle_time_ms > 0) {
		/* Throttled: an incremental fetch's session keeps its id and
		 * what it last told (nothing was); a full fetch opens none.
		 * A session another fetch moved on meanwhile (a duplicate
		 * request) is INVALID_FETCH_SESSION_EPOCH here too, as Kafka's
		 * getThrottledResponse checks it. */
		if (f->mode == FS_INCR) {
			resp.session_id = f->view.id;
			resp.error_code = fetch_sessions_epoch_check(f->fs->sessions, &f->view);
			if (resp.error_code)
				mq_log_limited(
					MQ_INFO,
					"Incremental fetch session %d expected epoch %d, but "
					"got another. Possible duplicate request.",
					(int)f->view.id, (int)f->view.epoch);
		}
	} else if (f->mode == FS_INCR) {
		rc = session_news(f, &resp, parts, kout, true);
	} else if (f->mode == FS_FULL && !net_req_cancelled(f->req)) {
		rc = session_open(f, &resp, kout);
	}
	return fetch_answer(f, &resp, parts, rc < 0 ? rc : 0);
}

/* Whether Kafka would read any partition of f: one known to the cluster
 * and allowed (handleFetchRequest's "interesting"); with none, Kafka
 * answers the partitions' errors without looking at the request's
 * isolation level. */
static bool fetch_reads_any(const struct fs_fetch *f)
{
	for (int k = 0; k < f->n; k++) {
		int16_t e = f->parts[k].error;

		if (!f->parts[k].replaced && e != PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION &&
		    e != PROTO_ERR_TOPIC_AUTHORIZATION_FAILED)
			return true;
	}
	return false;
}

/* Kafka's FetchRequest.getErrorResponse for the versions served here
 * (below 13): err at the top and for every entry of the request, as it
 * was sent (a partition named twice is answered twice; an incremental
 * fetch's, only those it named, not its session's others), with the
 * request's session id; the partitions' other fields Kafka's defaults
 * (-1 offsets, no aborted transactions, null records). */
static int fetch_refuse(struct fs_fetch *f, int16_t err)
{
	const struct proto_req *pr = net_req_msg(f->req);
	const struct proto_fetch_req *m = &pr->u.fetch;
	struct proto_fetch_resp_topic *topics = calloc((size_t)m->n_topics + 1, sizeof(*topics));
	struct proto_fetch_resp_part *parts;
	struct proto_fetch_resp resp = { .error_code = err,
					 .session_id = m->session_id,
					 .n_topics = m->n_topics,
					 .topics = topics };
	int k = 0, n = 0;

	for (int32_t t = 0; t < m->n_topics; t++)
		n += m->topics[t].n_partitions;
	parts = calloc((size_t)n + 1, sizeof(*parts));
	net_req_on_done(f->req, fetch_done, f);
	if (!topics || !parts)
		return fetch_answer(f, &resp, parts, -ENOMEM);
	for (int32_t t = 0; t < m->n_topics; t++) {
		topics[t].topic = m->topics[t].topic;
		topics[t].n_partitions = m->topics[t].n_partitions;
		topics[t].partitions = &parts[k];
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, k++)
			parts[k] = (struct proto_fetch_resp_part){
				.partition_index = m->topics[t].partitions[j].partition,
				.error_code = err,
				.high_watermark = -1,
				.last_stable_offset = -1,
				.log_start_offset = -1,
				.preferred_read_replica = -1,
				.records_fd = -1,
				.records_len = -1,
			};
	}
	return fetch_answer(f, &resp, parts, 0);
}

/* Marks the entries that a later entry of the request names again: Kafka
 * keeps a Fetch's partitions in a map, so a partition is read and
 * answered once, as its last entry asks; logged. -ENOMEM. */
static int fetch_mark_replaced(struct fs_fetch *f)
{
	const struct proto_fetch_req *m = f->msg;
	struct named_part *refs;
	uint8_t *mark;
	int32_t k = 0;
	int rc = 0;

	if (f->n < 2)
		return 0;
	refs = malloc((size_t)f->n * sizeof(*refs));
	mark = malloc((size_t)f->n);
	if (!refs || !mark) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t t = 0; t < m->n_topics; t++)
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, k++)
			refs[k] = (struct named_part){ m->topics[t].topic,
						       m->topics[t].partitions[j].partition, k };
	if (named_parts_mark(refs, f->n, mark) == 0)
		goto out;
	k = 0;
	for (int32_t t = 0; t < m->n_topics; t++)
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, k++) {
			struct kstr topic = m->topics[t].topic;

			if (mark[k] != NAMED_AGAIN)
				continue;
			f->parts[k].replaced = true;
			mq_log_limited(MQ_INFO,
				       "Fetch from %s names %.*s-%d more than once: only its "
				       "last entry is read and answered",
				       net_req_peer(f->req), topic.len > 0 ? (int)topic.len : 0,
				       topic.ptr ? topic.ptr : "",
				       (int)m->topics[t].partitions[j].partition);
		}
out:
	free(refs);
	free(mark);
	return rc;
}

/* A parked fetch's connection went (net_cancel_fn, loop thread). */
static void conn_gone(void *arg)
{
	fetch_serve_wake(arg);
}

/* A Fetch's session error (Kafka's SessionErrorContext): err at the top,
 * no partitions (which the fetch meant is not known), session_id 0. */
static int fetch_session_refuse(struct fs_fetch *f, int16_t err)
{
	const struct proto_req *pr = net_req_msg(f->req);
	struct proto_fetch_resp resp = { .error_code = err };

	net_req_on_done(f->req, fetch_done, f);
	return proto_fetch_resp_encode(net_req_out(f->req), pr->hdr.api_version,
				       pr->hdr.correlation_id, &resp);
}

/* Kafka's FetchManager.newContext: which session f's Fetch m belongs to
 * (fs_mode). A full fetch (epoch 0 or -1) closes the session it names;
 * an incremental one updates its session and fetches all of the
 * session's partitions (f->msg). 0, a session error (> 0), -ENOMEM. */
static int fetch_session_begin(struct fs_fetch *f, const struct proto_fetch_req *m, int64_t now)
{
	int rc;

	f->msg = m;
	f->mode = FS_SESSIONLESS;
	if (net_req_msg(f->req)->hdr.api_version < 7)
		return 0;
	if (m->session_epoch == 0 || m->session_epoch == -1) {
		if (m->session_id != 0)
			fetch_sessions_remove(f->fs->sessions, m->session_id);
		if (m->session_epoch == 0)
			f->mode = FS_FULL;
		return 0;
	}
	rc = fetch_sessions_update(f->fs->sessions, m, now, &f->view);
	if (rc != 0 || f->view.id == 0)
		return rc;
	f->mode = FS_INCR;
	f->sess_req = *m;
	f->sess_req.n_topics = f->view.n_topics;
	f->sess_req.topics = f->view.topics;
	f->sess_req.n_forgotten = 0;
	f->sess_req.forgotten = NULL;
	f->msg = &f->sess_req;
	return 0;
}

static int fetch_handler(void *arg, struct net_req *req)
{
	struct fetch_serve *fs = arg;
	const struct proto_fetch_req *m = &net_req_msg(req)->u.fetch;
	struct fs_fetch *f = calloc(1, sizeof(*f));
	int64_t now = fs->now_ms();
	int n = 0, k = 0, rc;
	uint64_t wakes;
	bool park;

	if (!f)
		return -ENOMEM;
	f->fs = fs;
	f->req = req;
	rc = fetch_session_begin(f, m, now);
	if (rc < 0) {
		free(f);
		return rc;
	}
	if (rc > 0)
		return fetch_session_refuse(f, (int16_t)rc);
	m = f->msg;
	for (int32_t t = 0; t < m->n_topics; t++)
		n += m->topics[t].n_partitions;
	f->n = n;
	f->parts = calloc((size_t)n + 1, sizeof(*f->parts));
	if (!f->parts || fetch_mark_replaced(f) < 0) {
		f->n = 0; /* no partition looked up yet */
		fetch_free(f);
		return -ENOMEM;
	}
	bool refused = m->replica_id >= 0 && !replica_allowed(fs, req);
	for (int32_t t = 0; t < m->n_topics; t++) {
		bool denied = refused ||
			      !kafka_authorize_fetch(req, m->replica_id >= 0, m->topics[t].topic);

		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, k++) {
			struct fs_part *fp = &f->parts[k];

			fp->req = &m->topics[t].partitions[j];
			fp->raw.fd = -1;
			fp->preferred = -1;
			if (fp->replaced)
				continue;
			if (denied) { /* nothing of the partition looked at */
				fp->error = PROTO_ERR_TOPIC_AUTHORIZATION_FAILED;
				continue;
			}
			fp->p = fs->lookup(fs->lookup_arg, m->topics[t].topic, fp->req->partition);
			part_validate(f, fp, now);
			if (!fp->p)
				fp->error = fetch_serve_no_replica(fs->known, fs->known_arg,
								   m->topics[t].topic,
								   fp->req->partition);
		}
	}
	/* An isolation level Kafka does not define (neither 0 nor 1) fails
	 * its IsolationLevel.forId once the request reads a partition
	 * (FetchIsolation.of in handleFetchRequest): the request's error
	 * response, UNKNOWN_SERVER_ERROR. */
	if (m->isolation_level != 0 && m->isolation_level != 1 && fetch_reads_any(f)) {
		mq_log_limited(MQ_WARN,
			       "Fetch from %s: isolation level %d, which Kafka does not "
			       "define: UNKNOWN_SERVER_ERROR",
			       net_req_peer(req), (int)m->isolation_level);
		return fetch_refuse(f, PROTO_ERR_UNKNOWN_SERVER_ERROR);
	}
	f->deadline_ms = now + (m->max_wait_ms > 0 ? m->max_wait_ms : 0);
	f->hw_due_ms = INT64_MAX;
	/* Readiness is looked at before the purgatory's lock (a partition's
	 * lock is never taken under it); a change in between is not lost: its
	 * wake-up moves wakes, and the parked fetch is then looked at again
	 * at once (woken). The connection's end is such a change (the hook,
	 * set first): a client gone does not leave its fetch parked, with
	 * its partitions, until max_wait_ms. */
	net_req_on_cancel(req, conn_gone, fs);
	pthread_mutex_lock(&fs->lock);
	wakes = fs->wakes;
	pthread_mutex_unlock(&fs->lock);
	/* min_bytes 0 or below is met by an empty answer: Kafka's
	 * ReplicaManager answers at once (bytesReadable >= minBytes), a
	 * poll that must not wait max_wait_ms. */
	park = m->max_wait_ms > 0 && m->min_bytes > 0 && n > 0 && !net_req_cancelled(req) &&
	       !fetch_ready(f, now);
	pthread_mutex_lock(&fs->lock);
	park = park && !fs->stopping;
	if (park) {
		f->next = fs->parked;
		fs->parked = f;
		fs->n_parked++;
		if (fs->wakes != wakes)
			fs->woken = true;
		if (fs->woken || fetch_due(f) < fs->sleep_until)
			pthread_cond_signal(&fs->cond);
	}
	pthread_mutex_unlock(&fs->lock);
	if (park)
		return NET_PARKED;
	return fetch_respond(f);
}

/* Answers a parked fetch (no lock held); its loop is woken at the
 * flush of *w. */
static void fetch_complete(struct fs_fetch *f, struct net_wakes *w)
{
	struct net_req *req = f->req;
	int rc = fetch_respond(f);

	net_req_complete_held(req, rc, w);
}

/* The line for a parked fetch answered FETCH_LATE_MS or more past its
 * deadline, with its peer and the partitions it names (the first few). */
static void late_log(const struct fs_fetch *f, int64_t now, bool kick)
{
	const struct proto_fetch_req *m = f->msg;
	char parts[512];
	size_t n = 0;
	int listed = 0, total = 0;

	parts[0] = '\0';
	for (int32_t t = 0; t < m->n_topics; t++)
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, total++) {
			struct kstr name = m->topics[t].topic;

			if (listed == 8 || n >= sizeof(parts) - 1)
				continue;
			n += (size_t)snprintf(parts + n, sizeof(parts) - n, "%s%.*s-%d",
					      listed ? ", " : "", name.len > 0 ? (int)name.len : 0,
					      name.ptr ? name.ptr : "",
					      (int)m->topics[t].partitions[j].partition);
			listed++;
		}
	mq_log_limited(MQ_WARN,
		       "Fetch from %s (replica %d) answered %lld ms past its max_wait_ms of %d by "
		       "%s: no scan looked at it in time; partitions %s%s (%d)",
		       net_req_peer(f->req), (int)m->replica_id, (long long)(now - f->deadline_ms),
		       (int)m->max_wait_ms, kick ? "a kick" : "the purgatory's thread",
		       listed ? parts : "none", total > listed ? ", ..." : "", total);
}

/* Looks at the fetches of list (taken off fs->parked, no lock held):
 * answers those ready, passed their deadline or cancelled (all with
 * stopping), and returns the others, *earliest their first due time.
 * kick: the caller is fetch_serve_kick (for the late line). */
static struct fs_fetch *scan_parked(struct fetch_serve *fs, struct fs_fetch *list, int64_t now,
				    bool stopping, bool kick, int64_t *earliest)
{
	struct fs_fetch *keep = NULL, *next;
	struct net_wakes w = { .n = 0 };

	for (struct fs_fetch *f = list; f; f = next) {
		next = f->next;
		if (stopping || now >= f->deadline_ms || net_req_cancelled(f->req) ||
		    fetch_ready(f, now)) {
			pthread_mutex_lock(&fs->lock);
			fs->n_parked--;
			pthread_mutex_unlock(&fs->lock);
			if (now - f->deadline_ms >= FETCH_LATE_MS && !stopping)
				late_log(f, now, kick);
			fetch_complete(f, &w);
			continue;
		}
		if (fetch_due(f) < *earliest)
			*earliest = fetch_due(f);
		f->next = keep;
		keep = f;
	}
	net_wakes_flush(&w);
	return keep;
}

/* Puts keep back on the parked list (lock held). */
static void park_again(struct fetch_serve *fs, struct fs_fetch *keep)
{
	while (keep) {
		struct fs_fetch *next = keep->next;

		keep->next = fs->parked;
		fs->parked = keep;
		keep = next;
	}
}

static void *purgatory_main(void *arg)
{
	struct fetch_serve *fs = arg;
	int empty_scans = 0; /* scans in a row that found nothing parked */

	pthread_mutex_lock(&fs->lock);
	for (;;) {
		struct fs_fetch *list, *keep;
		int64_t now = fs->now_ms(), earliest = INT64_MAX;
		bool stopping = fs->stopping;

		list = fs->parked;
		empty_scans = list ? 0 : empty_scans + 1;
		fs->parked = NULL;
		fs->woken = false;
		fs->scans++;
		pthread_mutex_unlock(&fs->lock);
		keep = scan_parked(fs, list, now, stopping, false, &earliest);
		pthread_mutex_lock(&fs->lock);
		park_again(fs, keep);
		if (stopping && !fs->parked)
			break;
		for (struct fs_fetch *f = fs->parked; f; f = f->next)
			if (fetch_due(f) < earliest)
				earliest = fetch_due(f);
		if (!fs->woken && !fs->stopping) {
			struct timespec ts;
			/* Until the earliest deadline on the monotonic clock, or
			 * with nothing parked for PURGATORY_IDLE_MS; a clock a
			 * test replaces is polled every 10 ms. */
			int64_t now = fs->now_ms();

			if (earliest == INT64_MAX && empty_scans >= 2) {
				/* Nothing parked through a whole idle tick: no
				 * stream of parks to spare signals for, so it
				 * sleeps until one (any deadline is before
				 * INT64_MAX: the park signals). */
				fs->sleep_until = INT64_MAX;
				pthread_cond_wait(&fs->cond, &fs->lock);
				fs->sleep_until = INT64_MIN;
				continue;
			}
			if (earliest == INT64_MAX)
				earliest = now + PURGATORY_IDLE_MS;
			int64_t wait = earliest - now;

			if (wait < 1)
				wait = 1;
			if (fs->now_ms != mono_ms && wait > 10)
				wait = 10;
			fs->sleep_until = earliest;
			deadline_from_ms(CLOCK_MONOTONIC, wait, &ts);
			pthread_cond_timedwait(&fs->cond, &fs->lock, &ts);
			fs->sleep_until = INT64_MIN;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

int fetch_serve_new(fetch_serve_lookup_fn lookup, void *arg, int64_t (*now_ms)(void),
		    struct fetch_serve **out)
{
	struct fetch_serve *fs = calloc(1, sizeof(*fs));
	pthread_condattr_t ca;
	int rc;

	if (!fs)
		return -ENOMEM;
	if (fetch_sessions_new(FETCH_SESSION_SLOTS_DEFAULT, FETCH_SESSION_EVICTION_MS_DEFAULT,
			       &fs->sessions)) {
		free(fs);
		return -ENOMEM;
	}
	fs->lookup = lookup;
	fs->lookup_arg = arg;
	fs->now_ms = now_ms ? now_ms : mono_ms;
	fs->sleep_until = INT64_MIN;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = -pthread_create(&fs->thread, NULL, purgatory_main, fs);
	if (rc) {
		pthread_cond_destroy(&fs->cond);
		pthread_mutex_destroy(&fs->lock);
		fetch_sessions_free(fs->sessions);
		free(fs);
		return rc;
	}
	pthread_setname_np(fs->thread, "mqfs-purgatory");
	fs->started = true;
	*out = fs;
	return 0;
}

/* ---- OffsetForLeaderEpoch: the leader's end offset for an epoch ---- */

static int ofle_handler(void *arg, struct net_req *req)
{
	struct fetch_serve *fs = arg;
	const struct proto_req *pr = net_req_msg(req);
	const struct proto_ofle_req *m = &pr->u.ofle;
	struct proto_ofle_resp resp = { .n_topics = m->n_topics };
	struct proto_ofle_resp_part *parts;
	int n = 0, k = 0, rc;
	size_t pos;

	for (int32_t t = 0; t < m->n_topics; t++)
		n += m->topics[t].n_partitions;
	resp.topics = calloc((size_t)m->n_topics + 1, sizeof(*resp.topics));
	parts = calloc((size_t)n + 1, sizeof(*parts));
	if (!resp.topics || !parts) {
		rc = -ENOMEM;
		goto out;
	}
	for (int32_t t = 0; t < m->n_topics; t++) {
		resp.topics[t].topic = m->topics[t].topic;
		resp.topics[t].n_partitions = m->topics[t].n_partitions;
		resp.topics[t].partitions = &parts[k];
		/* KafkaApis (KIP-320), whatever the replica id: CLUSTER_ACTION
		 * on the cluster, else DESCRIBE on the topic; refused:
		 * TOPIC_AUTHORIZATION_FAILED. */
		bool denied =
			!kafka_may(req, ACL_OP_CLUSTER_ACTION, ACL_RES_CLUSTER,
				   kstr_of(ACL_CLUSTER_NAME)) &&
			!kafka_authorize(req, ACL_OP_DESCRIBE, ACL_RES_TOPIC, m->topics[t].topic);
		for (int32_t j = 0; j < m->topics[t].n_partitions; j++, k++) {
			const struct proto_ofle_part *rq = &m->topics[t].partitions[j];
			struct proto_ofle_resp_part *rp = &parts[k];
			struct partition *p =
				denied ? NULL
				       : fs->lookup(fs->lookup_arg, m->topics[t].topic,
						    rq->partition);

			rp->partition = rq->partition;
			rp->leader_epoch = -1;
			rp->end_offset = -1;
			rp->error_code =
				denied ? PROTO_ERR_TOPIC_AUTHORIZATION_FAILED
				: p    ? fetch_serve_epoch_check(p, rq->current_leader_epoch)
				       : fetch_serve_no_replica(fs->known, fs->known_arg,
								m->topics[t].topic, rq->partition);
			if (!rp->error_code)
				partition_log_ops(p)->end_offset_for_epoch(
					partition_log(p), rq->leader_epoch, &rp->leader_epoch,
					&rp->end_offset);
			partition_unref(p);
		}
	}
	pos = net_req_begin(req);
	rc = proto_ofle_resp_encode(&net_req_out(req)->w, pr->hdr.api_version, &resp);
	if (!rc)
		rc = net_req_end(req, pos);
out:
	free(resp.topics);
	free(parts);
	return rc;
}

/* A follower's Fetch runs on the listener loop's thread, with no
 * hand-off to a worker and back on the path of every acks=all write,
 * when it can change no ISR: the follower is in the ISR of every
 * partition it asks for. An expansion writes to ZooKeeper, which must not
 * hold the loop; so does any other fetch (a consumer's may read old
 * segments from the disk). */
struct pick_ctx {
	struct fetch_serve *fs;
	int32_t replica_id;
	bool ok;
};

static bool pick_isr_has(void *arg, struct kstr topic, int32_t index)
{
	struct pick_ctx *x = arg;
	struct partition *p = x->fs->lookup(x->fs->lookup_arg, topic, index);

	x->ok = p && partition_isr_has(p, x->replica_id);
	partition_unref(p);
	return x->ok;
}

static bool fetch_pick(void *arg, const struct net_req *req)
{
	struct fetch_serve *fs = arg;
	const struct proto_fetch_req *m = &net_req_msg(req)->u.fetch;
	bool ok = m->replica_id >= 0;

	/* An incremental fetch reads every partition of its session, not
	 * only those it names (none, most of the time). */
	if (ok && net_req_msg(req)->hdr.api_version >= 7 && m->session_epoch > 0) {
		struct pick_ctx x = { fs, m->replica_id, true };

		fetch_sessions_each(fs->sessions, m->session_id, pick_isr_has, &x);
		ok = x.ok;
	}

	for (int32_t t = 0; ok && t < m->n_topics; t++)
		for (int32_t j = 0; ok && j < m->topics[t].n_partitions; j++) {
			struct partition *p = fs->lookup(fs->lookup_arg, m->topics[t].topic,
							 m->topics[t].partitions[j].partition);

			ok = p && partition_isr_has(p, m->replica_id);
			partition_unref(p);
		}
	return ok;
}

/* A follower's OffsetForLeaderEpoch runs on the loop too, and must: its
 * fetcher sends it (the truncation after a leader change, before it
 * fetches again) and fetches nothing from this leader until answered,
 * while acks=all writes hold workers (they wait in their handlers) until
 * that follower's next fetch moves the hw. On a worker, queued behind
 * num.io.threads such writes, it was answered only when they gave up at
 * request.timeout.ms. It reads the epoch cache, nothing that waits. A
 * consumer's (replica_id -1 or -2) stays on the workers. */
static bool ofle_pick(void *arg, const struct net_req *req)
{
	(void)arg;
	return net_req_msg(req)->u.ofle.replica_id >= 0;
}

int fetch_serve_register(struct fetch_serve *fs, struct net_server *srv)
{
	int rc = net_server_handle_picked(srv, PROTO_API_FETCH, fetch_handler, fs, fetch_pick);

	return rc ? rc
		  : net_server_handle_picked(srv, PROTO_API_OFFSET_FOR_LEADER_EPOCH, ofle_handler,
					     fs, ofle_pick);
}

void fetch_serve_wake(struct fetch_serve *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->wakes++;
	/* Nothing parked, nothing to look at: a fetch parking right now sees
	 * wakes moved and signals itself. A follower's own appends (its LEO
	 * and hw) wake nothing this way. */
	if (fs->n_parked > 0) {
		fs->woken = true;
		pthread_cond_signal(&fs->cond);
	}
	pthread_mutex_unlock(&fs->lock);
}

void fetch_serve_kick(struct fetch_serve *fs)
{
	struct fs_fetch *list, *keep;
	int64_t earliest = INT64_MAX;
	uint64_t wakes;

	pthread_mutex_lock(&fs->lock);
	if (fs->stopping || !fs->parked) {
		pthread_mutex_unlock(&fs->lock);
		return;
	}
	list = fs->parked;
	fs->parked = NULL;
	wakes = fs->wakes;
	fs->scans++;
	pthread_mutex_unlock(&fs->lock);
	keep = scan_parked(fs, list, fs->now_ms(), false, true, &earliest);
	pthread_mutex_lock(&fs->lock);
	park_again(fs, keep);
	/* A wake-up while the list was out may have been taken by the
	 * thread with an empty list: the fetches put back look again. A
	 * due time the scan brought forward (the hw linger) is one the
	 * thread must learn. */
	if (keep && (fs->wakes != wakes || earliest < fs->sleep_until)) {
		if (fs->wakes != wakes)
			fs->woken = true;
		pthread_cond_signal(&fs->cond);
	}
	pthread_mutex_unlock(&fs->lock);
}

int64_t fetch_serve_replica_bytes_out(struct fetch_serve *fs)
{
	return fs ? atomic_load(&fs->replica_bytes_out) : 0;
}

int64_t fetch_serve_scans(struct fetch_serve *fs)
{
	int64_t n;

	pthread_mutex_lock(&fs->lock);
	n = fs->scans;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

bool fetch_serve_asleep(struct fetch_serve *fs)
{
	bool asleep;

	pthread_mutex_lock(&fs->lock);
	asleep = fs->sleep_until == INT64_MAX;
	pthread_mutex_unlock(&fs->lock);
	return asleep;
}

int fetch_serve_parked(struct fetch_serve *fs)
{
	int n;

	pthread_mutex_lock(&fs->lock);
	n = fs->n_parked;
	pthread_mutex_unlock(&fs->lock);
	return n;
}

void fetch_serve_stop(struct fetch_serve *fs)
{
	if (!fs || !fs->started)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->stopping = true;
	pthread_cond_signal(&fs->cond);
	pthread_mutex_unlock(&fs->lock);
	pthread_join(fs->thread, NULL);
	fs->started = false;
}

void fetch_serve_free(struct fetch_serve *fs)
{
	if (!fs)
		return;
	fetch_serve_stop(fs);
	pthread_cond_destroy(&fs->cond);
	pthread_mutex_destroy(&fs->lock);
	fetch_sessions_free(fs->sessions);
	free(fs);
}
