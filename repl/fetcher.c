/*
 * fetcher.c — the replica fetcher thread of fetcher.h: connect (SASL when
 * configured), then rounds of: truncate the partitions that must, one
 * Fetch for the others, append what came back. Kafka's
 * AbstractFetcherThread (maybeTruncate, processFetchRequest,
 * processPartitionData) and ReplicaFetcherThread, in one loop.
 *
 * A round works on a snapshot of the partition list (each with a
 * reference of the round's), so that no lock is held across a network
 * call: a leader that stopped answering (cut off the network) must not
 * hold up a LeaderAndIsr that moves its partitions to another leader,
 * since that removes them from this fetcher (Kafka's fetcher, likewise,
 * sends its fetch outside partitionMapLock).
 *
 * Locks, in this order: f->round, held by the thread across each call
 * that changes a partition (append, truncate) and by fetcher_remove, so
 * that once fetcher_remove returns the thread makes no such call on the
 * partition (apply_begin finds it gone and drops the answer); f->lock,
 * the partition list, the stats and the stop flag. Neither is held across
 * a network call or a wait for the backoff. Partition calls take only the
 * partition's lock.
 *
 * The follower's replication throttle (throttle.h) leaves a throttled
 * partition that is not in sync out of a round's Fetch while its quota is
 * exceeded; a round with nothing else to fetch waits
 * replica.fetch.backoff.ms, as Kafka's fetcher does.
 *
 * The Fetch session (KIP-227), as Kafka's ReplicaFetcherThread through
 * its FetchSessionHandler: the first Fetch is a full one (session_epoch
 * 0, every partition); when the leader answers it with a session id,
 * the next ones are incremental: they name only the partitions added or
 * whose fetch position, epochs or log start changed since the last one
 * the leader answered, and forget those the round no longer fetches (one
 * backing off, truncating, moved to another leader, held by the
 * throttle); the leader answers only the partitions with news. After a
 * session error (FETCH_SESSION_ID_NOT_FOUND: a full fetch opening a new
 * session; INVALID_FETCH_SESSION_EPOCH, another top-level error or a
 * failed request: a full fetch that also closes the old one) the next
 * round starts again with a full fetch, at once.
 *
 * A partition added (or the stop) pokes the thread through an eventfd
 * that the connection's waits also watch: the request in flight, which
 * may be a Fetch parked at the leader for replica.fetch.wait.max.ms
 * without the new partition, is given up with its connection, and the
 * next round, on a new connection, fetches the new partition at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "repl/fetch_session.h"
#include "repl/fetcher.h"
#include "repl/throttle.h"
#include "util/clock.h"
#include "util/diaglog.h"

#define FETCHER_MAX_PARTS      1024
#define FETCHER_MAX_ROUNDS     16  /* truncation rounds in one go */
#define FETCHER_SETTLE_MS      10  /* retries while the leader settles, */
#define FETCHER_SETTLE_FLAT_MS 100 /* for this long; then they double */

struct fpart {
	struct partition *p;
	int64_t backoff_until_ms;
	int64_t settle_ms; /* the waits so far while settling, 0 none */
	/* The leader's hw minus our next fetch offset after the last
	 * response that brought records (or the first): -1 not known yet.
	 * 0 is Kafka's isReplicaInSync, which the follower's throttle spares. */
	int64_t lag;
	/* What the partition's records wait for (before_append's -EAGAIN),
	 * as last logged: "" none. A new cause is logged, the same one not
	 * again, each retry of backoff_ms meeting it. */
	char waiting[160];
	/* The leader answered OFFSET_OUT_OF_RANGE at or above its log start:
	 * the next round asks its log end first (fetch_offset_and_truncate). */
	bool out_of_range;
};

/* A partition of the fetch session as its leader last took it (Kafka's
 * FetchSessionHandler sessionPartitions): named by topic and index, as
 * the leader's session keys it. */
struct sess_part {
	char *topic;
	struct proto_fetch_part data;
};

struct fetcher {
	struct fetcher_config cfg;
	char *user, *password;
	pthread_mutex_t lock;
	pthread_mutex_t round;
	pthread_cond_t cond;
	pthread_t thread;
	bool stopping;
	int n;
	struct fpart parts[FETCHER_MAX_PARTS];
	uint64_t removals; /* fetcher_remove calls that found their partition */
	/* the round's snapshot: the thread's own */
	int n_snap;
	struct fpart snap[FETCHER_MAX_PARTS];
	uint64_t snap_removals; /* removals when the snapshot was taken */
	/* A round is on (snapshot taken, not released): a partition added
	 * now is not in its request, so fetcher_add pokes it. Under lock. */
	bool in_round;
	struct net_client *conn;
	/* The last connection failed: ask where the source is before the
	 * next (the thread's own). */
	bool relookup;
	int wake; /* eventfd: a partition added, or stopping (fetcher_poke) */
	struct fetcher_stats stats;
	/* The fetch session (the thread's own): sess_id 0 none; sess_epoch
	 * the next to send, 0 a full fetch (which closes sess_id's session
	 * at the leader, if any, and opens another). */
	int32_t sess_id;
	int32_t sess_epoch;
	int n_sess;
	struct sess_part sess[FETCHER_MAX_PARTS];
	/* The round's last request to the leader and when it went (the
	 * thread's own): a failed round's line names it, so a request the
	 * leader never answered is told from the others ("" none yet). */
	char call[320]; /* a topic name is at most 249 bytes */
	int64_t call_ms;
};

void fetcher_config_default(struct fetcher_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->backoff_ms = 1000;
	cfg->max_wait_ms = 500;
	cfg->min_bytes = 1;
	cfg->max_bytes = 10 << 20;
	cfg->partition_max_bytes = 4 << 20;
	cfg->request_timeout_ms = 30000;
}

/* The replica_id of our requests: -1 (a consumer's) for an observer. */
static int32_t fetch_replica_id(const struct fetcher *f)
{
	return f->cfg.observer ? -1 : f->cfg.broker_id;
}

static void stat_add(struct fetcher *f, int64_t *field, int64_t n)
{
	pthread_mutex_lock(&f->lock);
	*field += n;
	pthread_mutex_unlock(&f->lock);
}

/* Waits ms or until stopped (or a partition is added); true when stopping. */
static bool pause_ms(struct fetcher *f, int64_t ms)
{
	struct timespec ts;
	bool stop;

	deadline_from_ms(CLOCK_MONOTONIC, ms, &ts);
	pthread_mutex_lock(&f->lock);
	if (!f->stopping)
		pthread_cond_timedwait(&f->cond, &f->lock, &ts);
	stop = f->stopping;
	pthread_mutex_unlock(&f->lock);
	return stop;
}

/* Where the source listens now. A broker started again with other
 * listeners (a changed port) registers them anew; a fetcher that kept the
 * address it was made with would knock at the old one for as long as it
 * ran, its partitions out of the ISR for good and the leader's acks=all
 * writes refused once the ISR is below min.insync.replicas. */
static void source_relookup(struct fetcher *f)
{
	char host[NET_MAX_HOST + 1];
	int port;

	if (!f->relookup || !f->cfg.endpoint)
		return;
	f->relookup = false;
	if (f->cfg.endpoint(f->cfg.endpoint_arg, f->cfg.source_id, host, &port) < 0 ||
	    (port == f->cfg.port && !strcmp(host, f->cfg.host)))
		return;
	mq_log(MQ_INFO, "fetcher: broker %d now listens at %s:%d (was %s:%d)", f->cfg.source_id,
	       host, port, f->cfg.host, f->cfg.port);
	snprintf(f->cfg.host, sizeof(f->cfg.host), "%s", host);
	f->cfg.port = port;
}

static int connect_source(struct fetcher *f)
{
	int rc;

	source_relookup(f);
	rc = net_client_connect(f->cfg.host, f->cfg.port, f->cfg.request_timeout_ms, &f->conn);
	if (!rc && f->user)
		rc = net_client_sasl(f->conn, f->cfg.sasl_mech, f->user, f->password,
				     f->cfg.request_timeout_ms);
	if (rc) {
		mq_log_limited(4, "fetcher: broker %d at %s:%d: %s", f->cfg.source_id, f->cfg.host,
			       f->cfg.port, strerror(-rc));
		net_client_close(f->conn);
		f->conn = NULL;
		f->relookup = true;
		return rc;
	}
	stat_add(f, &f->stats.connects, 1);
	net_client_set_wake(f->conn, f->wake);
	return 0;
}

/* Notes the request the round sends now (f->call): what, and for p when
 * it is one partition's (NULL: the Fetch of the session's). */
static void call_note(struct fetcher *f, const char *what, const struct partition *p)
{
	if (p)
		snprintf(f->call, sizeof(f->call), "%s of %s-%d", what, partition_topic(p),
			 (int)partition_index(p));
	else
		snprintf(f->call, sizeof(f->call), "%s", what);
	f->call_ms = now_mono_ms();
}

/* Ends the thread's wait for a response (fetcher_main reconnects at once):
 * a Fetch parked at the leader would hold a partition just added for up
 * to replica.fetch.wait.max.ms, and the stop for as long. */
static void fetcher_poke(struct fetcher *f)
{
	uint64_t one = 1;
	/* Only EAGAIN can fail it: the counter is full, readable already. */
	ssize_t k = write(f->wake, &one, sizeof(one));

	(void)k;
}

/* Clears pokes as a round's list is read (under f->lock): a partition
 * added later pokes its request; one added before is in the list, and
 * its poke would only end the request it is in. */
static void fetcher_unpoke(struct fetcher *f)
{
	uint64_t n;
	/* EAGAIN: nothing pending. */
	ssize_t k = read(f->wake, &n, sizeof(n));

	(void)k;
}

/* Takes f->round for a call that changes p, one of the round's snapshot.
 * false (f->round not held) when fetcher_remove took p out since the
 * snapshot: the answer for it is dropped. */
static bool apply_begin(struct fetcher *f, const struct partition *p)
{
	bool in = true;

	pthread_mutex_lock(&f->round);
	pthread_mutex_lock(&f->lock);
	if (f->removals != f->snap_removals) {
		in = false;
		for (int i = 0; i < f->n && !in; i++)
			in = f->parts[i].p == p;
	}
	pthread_mutex_unlock(&f->lock);
	if (!in)
		pthread_mutex_unlock(&f->round);
	return in;
}

static void apply_end(struct fetcher *f)
{
	pthread_mutex_unlock(&f->round);
}

/* One round of the truncation rule (fetcher.h) given the leader's answer
 * (leader_epoch, end) for our epoch. Returns 1 when done, 0 when another
 * round is needed, -errno. */
static int truncate_step(struct fetcher *f, struct partition *p, const struct partition_follow *fw,
			 int32_t leader_epoch, int64_t end)
{
	const struct partition_log_ops *ops = partition_log_ops(p);
	struct partition_offsets o;
	int32_t fe;
	int64_t fend, target;
	bool done;
	int rc;

	if (!apply_begin(f, p))
		return -ESTALE;
	ops->offsets(partition_log(p), &o);
	if (end < 0) {
		target = o.hw;
		done = true;
	} else {
		ops->end_offset_for_epoch(partition_log(p), leader_epoch, &fe, &fend);
		done = fe == leader_epoch || fe < 0;
		if (fe < 0)
			target = end < o.log_end_offset ? end : o.log_end_offset;
		else if (done)
			target = end < fend ? end : fend;
		else
			target = fend < o.log_end_offset ? fend : o.log_end_offset;
	}
	rc = partition_follower_truncate(p, fw->generation, target, done);
	apply_end(f);
	/* Records above a leader's epoch end were never committed: an
	 * operator sees where a replica that led on its own cut its log.
	 * The leader's UNDEFINED_EPOCH_OFFSET (end -1: our latest epoch is
	 * above all of its, or it has none) is Kafka's rule too: the hw. */
	if (!rc && target < o.log_end_offset && f->cfg.after_cut)
		f->cfg.after_cut(f->cfg.after_cut_arg, partition_topic(p), partition_index(p));
	if (!rc && target < o.log_end_offset)
		mq_log(MQ_INFO,
		       "%s-%d: truncated to offset %" PRId64 " (log end was %" PRId64 "): %s",
		       partition_topic(p), (int)partition_index(p), target, o.log_end_offset,
		       end >= 0                     ? "where the leader's epoch ends"
		       : fw->last_fetched_epoch < 0 ? "the high watermark, no epoch to ask about"
						    : "the high watermark, the leader has no "
						      "epoch as late as this log's latest");
	return rc ? rc : done;
}

/* How long a partition whose fetch failed with error waits. The errors of
 * a leader and a follower that have not both applied the controller's
 * latest LeaderAndIsr (sent to every replica at once: a new partition's
 * leader may answer its follower's first fetch before it knows it leads)
 * settle within moments: retried every 10 ms for the first 100 ms (a new
 * topic's leader takes tens of milliseconds to create its log, and the
 * first acks=all write into it waits for the followers), then after as
 * long as they have waited so far (the waits double), up to
 * replica.fetch.backoff.ms while they last. Any other error waits
 * replica.fetch.backoff.ms. */
static int64_t retry_wait(struct fetcher *f, struct fpart *fp, int16_t error)
{
	bool settling = error == PROTO_ERR_NOT_LEADER_OR_FOLLOWER ||
			error == PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION ||
			error == PROTO_ERR_UNKNOWN_LEADER_EPOCH ||
			error == PROTO_ERR_FENCED_LEADER_EPOCH;

	if (!settling)
		return f->cfg.backoff_ms;
	int64_t wait = fp->settle_ms < FETCHER_SETTLE_FLAT_MS ? FETCHER_SETTLE_MS : fp->settle_ms;

	if (wait > f->cfg.backoff_ms)
		wait = f->cfg.backoff_ms;
	fp->settle_ms += wait;
	return wait;
}

/* KIP-101/279 by OffsetForLeaderEpoch until done. 0, -errno (connection),
 * or 1: a partition-level refusal, fp backed off (retry_wait: a leader
 * that does not know yet that it leads is asked again within moments,
 * as its Fetch would be). */
static int truncate_by_ofle(struct fetcher *f, struct fpart *fp, int64_t now)
{
	struct partition *p = fp->p;

	for (int round = 0; round < FETCHER_MAX_ROUNDS; round++) {
		struct partition_follow fw;
		struct proto_ofle_part rp;
		struct proto_ofle_topic rt;
		struct proto_ofle_req rq = { .replica_id = fetch_replica_id(f),
					     .n_topics = 1,
					     .topics = &rt };
		struct proto_ofle_resp resp = { 0 };
		struct net_resp nr = { 0 };
		struct kbuf_w w;
		int v = net_client_version(f->conn, PROTO_API_OFFSET_FOR_LEADER_EPOCH), rc;

		if (partition_follow_state(p, &fw) || fw.state != PARTITION_TRUNCATING)
			return 0;
		if (fw.last_fetched_epoch < 0) {
			/* No epoch of ours to ask about: the hw is all we know. */
			rc = truncate_step(f, p, &fw, -1, -1);
			return rc < 0 && rc != -ESTALE ? rc : 0;
		}
		if (v < 0)
			return v;
		rp = (struct proto_ofle_part){ .partition = partition_index(p),
					       .current_leader_epoch = fw.leader_epoch,
					       .leader_epoch = fw.last_fetched_epoch };
		rt = (struct proto_ofle_topic){ kstr_of(partition_topic(p)), 1, &rp };
		kbuf_w_init(&w, 1 << 16);
		rc = proto_ofle_req_encode(&w, (int16_t)v, &rq);
		if (!rc) {
			call_note(f, "OffsetForLeaderEpoch", p);
			rc = net_client_call(f->conn, PROTO_API_OFFSET_FOR_LEADER_EPOCH, (int16_t)v,
					     w.buf, w.len, 0, f->cfg.request_timeout_ms, &nr);
		}
		kbuf_w_free(&w);
		if (!rc)
			rc = proto_ofle_resp_decode(&nr.body, (int16_t)v, &resp);
		if (!rc && (resp.n_topics != 1 || resp.topics[0].n_partitions != 1))
			rc = -EBADMSG;
		if (!rc) {
			const struct proto_ofle_resp_part *a = &resp.topics[0].partitions[0];

			stat_add(f, &f->stats.truncations, 1);
			if (a->error_code) {
				mq_log_limited(4, "fetcher: %s-%d: OffsetForLeaderEpoch: %s",
					       partition_topic(p), partition_index(p),
					       proto_err_name(a->error_code));
				fp->backoff_until_ms = now + retry_wait(f, fp, a->error_code);
				rc = 1;
			} else {
				rc = truncate_step(f, p, &fw, a->leader_epoch, a->end_offset);
				rc = rc == 1 ? 0 : rc == 0 ? 2 : rc;
			}
		}
		proto_ofle_resp_free(&resp);
		net_resp_free(&nr);
		if (rc != 2)
			return rc == -ESTALE ? 0 : rc;
	}
	fp->backoff_until_ms = now + f->cfg.backoff_ms;
	return 1;
}

/* Whole batches at the start of records (a response may end inside one:
 * Kafka cuts at max bytes). */
static size_t whole_batches(const uint8_t *b, size_t len)
{
	size_t at = 0;

	while (len - at >= 12) {
		int32_t bl = (int32_t)((uint32_t)b[at + 8] << 24 | (uint32_t)b[at + 9] << 16 |
				       (uint32_t)b[at + 10] << 8 | b[at + 11]);

		if (bl < 0 || (size_t)bl + 12 > len - at)
			break;
		at += (size_t)bl + 12;
	}
	return at;
}

/* The bytes of the whole batches at the front of b[0..len) that end
 * below offset end. */
static size_t batches_below(const uint8_t *b, size_t len, int64_t end)
{
	size_t at = 0;

	while (len - at >= 27) {
		uint64_t base = 0;
		uint32_t size = 0, delta = 0;

		for (int i = 0; i < 8; i++)
			base = base << 8 | b[at + i];
		for (int i = 0; i < 4; i++) {
			size = size << 8 | b[at + 8 + i];
			delta = delta << 8 | b[at + 23 + i];
		}
		if ((size_t)size + 12 > len - at || (int64_t)base + (int32_t)delta >= end)
			break;
		at += (size_t)size + 12;
	}
	return at;
}

/* After_append for the batches of records[0..len) that p's log took: the
 * append stops at a gap the leader's compaction left (the rest comes with
 * the next fetch), so those below its end now. None when the role
 * changed meanwhile (a new generation): the state of a replica that
 * leads now is rebuilt where it is behind its log (producer_state.h). */
static void appended_note(struct fetcher *f, struct partition *p, const struct partition_follow *fw,
			  const uint8_t *records, size_t len)
{
	struct partition_follow now;

	if (partition_follow_state(p, &now) < 0 || now.generation != fw->generation)
		return;
	len = batches_below(records, len, now.fetch_offset);
	if (len > 0)
		f->cfg.after_append(f->cfg.after_append_arg, partition_topic(p), partition_index(p),
				    partition_log(p), records, len);
}

/* The leader's log starts above our fetch offset (its retention removed
 * records we never had): our log is emptied and starts at its log start
 * and that line position (Kafka's truncateFullyAndStartAt), and the next
 * round fetches from there. */
static void reset_start(struct fetcher *f, struct fpart *fp, const struct partition_follow *fw,
			const struct proto_fetch_resp_part *a, int64_t now)
{
	struct partition *p = fp->p;
	int rc;

	if (!apply_begin(f, p))
		return;
	rc = partition_follower_reset_start(p, fw->generation, a->log_start_offset,
					    a->log_start_line);
	apply_end(f);
	if (rc == 0) {
		stat_add(f, &f->stats.truncations, 1);
		/* Every record of the log went, as with a truncation. */
		if (f->cfg.after_cut)
			f->cfg.after_cut(f->cfg.after_cut_arg, partition_topic(p),
					 partition_index(p));
		mq_log(MQ_INFO,
		       "%s-%d: broker %d's log starts at offset %" PRId64 " (line position %" PRId64
		       "), past this log's end %" PRId64
		       " (records removed there that this log never had): emptied and started there",
		       partition_topic(p), (int)partition_index(p), (int)f->cfg.source_id,
		       a->log_start_offset, a->log_start_line, fw->fetch_offset);
		return;
	}
	if (rc == -ESTALE)
		return;
	mq_log_limited(MQ_ERR,
		       "%s-%d: cannot start this log at broker %d's log start %" PRId64
		       " (line position %" PRId64 "): %s",
		       partition_topic(p), (int)partition_index(p), (int)f->cfg.source_id,
		       a->log_start_offset, a->log_start_line, strerror(-rc));
	fp->backoff_until_ms = now + f->cfg.backoff_ms;
}

/* Kafka's fetchOffsetAndTruncate, for a fetch offset the leader answered
 * OFFSET_OUT_OF_RANGE at or above its log start (below it: reset_start).
 * A leader whose log ends below ours lacks our records past its end (an
 * unclean election made it leader, and this log had no epoch to find the
 * divergence by: the truncation went to our hw): they go, below the hw
 * too, as Kafka's (it warns), and fetching goes on from the leader's end.
 * A leader whose log does not end below ours: the fetch is tried again
 * after replica.fetch.backoff.ms. 0, 1 (fp backed off) or -errno (the
 * connection). */
static int fetch_offset_and_truncate(struct fetcher *f, struct fpart *fp,
				     const struct partition_follow *fw, int64_t now)
{
	struct partition *p = fp->p;
	struct partition_offsets o;
	int64_t end = -1;
	int16_t err = 0;
	int rc;

	fp->out_of_range = false;
	/* The leader's end as a replica sees it (Kafka's fetchLatestOffset),
	 * in our leader epoch. */
	call_note(f, "ListOffsets", p);
	rc = net_client_list_latest(f->conn, partition_topic(p), partition_index(p),
				    fetch_replica_id(f), fw->leader_epoch,
				    f->cfg.request_timeout_ms, &end, &err);
	if (rc < 0)
		return rc;
	if (err || end >= fw->fetch_offset || end < 0) {
		mq_log_limited(4,
			       "fetcher: %s-%d: offset %" PRId64 " out of range at broker %d "
			       "(its log end: %" PRId64 "%s%s)",
			       partition_topic(p), partition_index(p), fw->fetch_offset,
			       f->cfg.source_id, end, err ? ", " : "",
			       err ? proto_err_name(err) : "");
		fp->backoff_until_ms =
			now + (err ? retry_wait(f, fp, err) : (int64_t)f->cfg.backoff_ms);
		return 1;
	}
	if (!apply_begin(f, p))
		return 0;
	partition_log_ops(p)->offsets(partition_log(p), &o);
	rc = partition_follower_truncate(p, fw->generation, end, true);
	apply_end(f);
	if (rc == -ESTALE)
		return 0;
	if (rc) {
		mq_log_limited(MQ_ERR, "%s-%d: cannot truncate to offset %" PRId64 ": %s",
			       partition_topic(p), (int)partition_index(p), end, strerror(-rc));
		fp->backoff_until_ms = now + f->cfg.backoff_ms;
		return 1;
	}
	stat_add(f, &f->stats.truncations, 1);
	if (f->cfg.after_cut)
		f->cfg.after_cut(f->cfg.after_cut_arg, partition_topic(p), partition_index(p));
	mq_log(MQ_WARN,
	       "%s-%d: broker %d's log ends at offset %" PRId64 ", below this log's end %" PRId64
	       " (high watermark %" PRId64 "): truncated to it%s, fetching from there",
	       partition_topic(p), (int)partition_index(p), (int)f->cfg.source_id, end,
	       o.log_end_offset, o.hw, end < o.hw ? ", below the high watermark" : "");
	/* Our log start above the leader's end (nothing was cut below it):
	 * the fetch would be out of range again at once. */
	partition_log_ops(p)->offsets(partition_log(p), &o);
	if (o.log_end_offset > end)
		fp->backoff_until_ms = now + f->cfg.backoff_ms;
	return 0;
}

/* After an append of len bytes: the lag (Kafka updates it only when
 * records came, or the first time), and the bytes of a throttled
 * partition against the follower quota, in sync or not. */
static void follower_throttle_note(struct fetcher *f, struct fpart *fp, size_t len,
				   int64_t leader_hw)
{
	const char *topic = partition_topic(fp->p);
	struct partition_follow nfw;

	if (!f->cfg.throttle)
		return;
	if ((len > 0 || fp->lag < 0) && partition_follow_state(fp->p, &nfw) == 0)
		fp->lag = leader_hw > nfw.fetch_offset ? leader_hw - nfw.fetch_offset : 0;
	if (len > 0 && throttle_quota_is_throttled(f->cfg.throttle, topic, strlen(topic),
						   partition_index(fp->p)))
		throttle_quota_record(f->cfg.throttle, (int64_t)len, now_mono_ms());
}

/* Whether the follower's throttle leaves fp out of this round's Fetch
 * (Kafka's shouldFollowerThrottle): throttled here, not in sync, the
 * follower quota exceeded. */
static bool follower_held(struct fetcher *f, const struct fpart *fp)
{
	const char *topic;

	if (!f->cfg.throttle)
		return false;
	topic = partition_topic(fp->p);
	return throttle_quota_holds(f->cfg.throttle, topic, strlen(topic), partition_index(fp->p),
				    fp->lag == 0, now_mono_ms());
}

/* Applies one partition of a Fetch response. */
static void sess_reset(struct fetcher *f, bool keep_id);

static void fetch_apply(struct fetcher *f, struct fpart *fp, const struct partition_follow *fw,
			const struct proto_fetch_resp_part *a, int64_t now)
{
	struct partition *p = fp->p;
	char wait[sizeof(fp->waiting)] = "";
	int rc = 0;

	if (a->error_code == PROTO_ERR_OFFSET_OUT_OF_RANGE && a->has_log_start_line &&
	    fw->fetch_offset < a->log_start_offset) {
		reset_start(f, fp, fw, a, now);
		return;
	}
	/* At once, and without its backoff: the next round asks the
	 * leader's end before it fetches. */
	if (a->error_code == PROTO_ERR_OFFSET_OUT_OF_RANGE) {
		fp->out_of_range = true;
		return;
	}
	if (a->error_code) {
		mq_log_limited(4, "fetcher: %s-%d from broker %d: %s", partition_topic(p),
			       partition_index(p), f->cfg.source_id, proto_err_name(a->error_code));
		fp->backoff_until_ms = now + retry_wait(f, fp, a->error_code);
		return;
	}
	fp->settle_ms = 0;
	if (a->has_diverging_epoch) {
		stat_add(f, &f->stats.truncations, 1);
		rc = truncate_step(f, p, fw, a->diverging_epoch, a->diverging_end_offset);
		rc = rc > 0 ? 0 : rc;
	} else if (apply_begin(f, p)) {
		size_t len =
			a->records_len > 0 ? whole_batches(a->records, (size_t)a->records_len) : 0;

		if (len > 0 && f->cfg.before_append)
			rc = f->cfg.before_append(f->cfg.before_append_arg, partition_topic(p),
						  partition_log(p), wait, sizeof(wait));
		if (rc == 0)
			rc = partition_follower_append_at(p, fw->generation, a->records, len,
							  a->has_first_line ? a->first_line : -1,
							  a->high_watermark, a->log_start_offset);
		apply_end(f);
		if (rc >= 0 && len > 0 && f->cfg.after_append)
			appended_note(f, p, fw, a->records, len);
		/* The leader's log start not taken yet (the log was busy): a
		 * full fetch next, whose answer names every partition with its
		 * log start, as an incremental one would not while nothing
		 * else about this one changes. */
		if (rc == 1) {
			if (f->sess_epoch > 0)
				sess_reset(f, true);
			rc = 0;
		}
		if (!rc) {
			if (len > 0) /* the wait is over: a later one is told */
				fp->waiting[0] = '\0';
			stat_add(f, &f->stats.bytes, (int64_t)len);
			follower_throttle_note(f, fp, len, a->high_watermark);
		}
	}
	if (rc == -EAGAIN && wait[0]) {
		/* A wait, not a failure: said once per cause. */
		if (strcmp(wait, fp->waiting) != 0)
			mq_log(MQ_WARN,
			       "fetcher: %s-%d: the records fetched from broker %d wait for %s "
			       "(tried again every %lld ms)",
			       partition_topic(p), partition_index(p), f->cfg.source_id, wait,
			       (long long)f->cfg.backoff_ms);
		memcpy(fp->waiting, wait, sizeof(wait));
	} else if (rc && rc != -ESTALE) {
		mq_log_limited(3, "fetcher: %s-%d: %s", partition_topic(p), partition_index(p),
			       strerror(-rc));
	}
	if (rc && rc != -ESTALE)
		fp->backoff_until_ms = now + f->cfg.backoff_ms;
}

/* Whether fp is the partition (topic, index). */
static bool asked(const struct fpart *fp, struct kstr topic, int32_t index)
{
	return partition_index(fp->p) == index && kstr_eq(topic, partition_topic(fp->p));
}

/* ---- the fetch session (Kafka's FetchSessionHandler) ---- */

#define SESS_SLOTS (2 * FETCHER_MAX_PARTS) /* sess_index's table */

/* The next Fetch is a full one: with keep_id Kafka's nextCloseExisting
 * (it closes the session at the leader), else its INITIAL. */
static void sess_reset(struct fetcher *f, bool keep_id)
{
	for (int i = 0; i < f->n_sess; i++)
		free(f->sess[i].topic);
	f->n_sess = 0;
	if (!keep_id)
		f->sess_id = 0;
	f->sess_epoch = 0;
}

/* Whether the leader's session holds a partition's fetch as d asks it
 * (Kafka's PartitionData equality, what an incremental fetch resends). */
static bool sess_same(const struct proto_fetch_part *a, const struct proto_fetch_part *d)
{
	return a->fetch_offset == d->fetch_offset && a->log_start_offset == d->log_start_offset &&
	       a->partition_max_bytes == d->partition_max_bytes &&
	       a->current_leader_epoch == d->current_leader_epoch &&
	       a->last_fetched_epoch == d->last_fetched_epoch;
}

static uint32_t sess_hash(const char *topic, size_t len, int32_t index)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)topic[i]) * 16777619u;
	return ((h ^ (uint32_t)index) * 16777619u) & (SESS_SLOTS - 1);
}

/* Places 0..n-1 of names (topic, index) into tab (open addressing, -1
 * empty), for slot_find. */
static void slots_fill(int16_t *tab, int n, const char *(*topic)(const void *arg, int i),
		       int32_t (*index)(const void *arg, int i), const void *arg)
{
	for (int i = 0; i < SESS_SLOTS; i++)
		tab[i] = -1;
	for (int j = 0; j < n; j++) {
		const char *t = topic(arg, j);
		uint32_t h = sess_hash(t, strlen(t), index(arg, j));

		while (tab[h] >= 0)
			h = (h + 1) & (SESS_SLOTS - 1);
		tab[h] = (int16_t)j;
	}
}

static int slot_find(const int16_t *tab, struct kstr name, int32_t index,
		     const char *(*topic)(const void *arg, int i),
		     int32_t (*index_of)(const void *arg, int i), const void *arg)
{
	size_t len = name.len > 0 ? (size_t)name.len : 0;

	for (uint32_t h = sess_hash(name.ptr, len, index); tab[h] >= 0;
	     h = (h + 1) & (SESS_SLOTS - 1))
		if (index_of(arg, tab[h]) == index && kstr_eq(name, topic(arg, tab[h])))
			return tab[h];
	return -1;
}

static const char *sess_topic(const void *arg, int i)
{
	return ((const struct fetcher *)arg)->sess[i].topic;
}

static int32_t sess_part_index(const void *arg, int i)
{
	return ((const struct fetcher *)arg)->sess[i].data.partition;
}

static const char *ready_topic(const void *arg, int i)
{
	return partition_topic(((struct fpart *const *)arg)[i]->p);
}

static int32_t ready_index(const void *arg, int i)
{
	return partition_index(((struct fpart *const *)arg)[i]->p);
}

/* An incremental fetch's plan: for each partition of the full request
 * (rq, in its order), its place in the session or -1 (found); which of
 * the session's it names (seen); and the request sent (inc): those added
 * or changed, the session's others forgotten. */
struct sess_plan {
	int16_t tab[SESS_SLOTS];
	int *found;
	bool *seen;
	struct proto_fetch_topic *topics;
	struct proto_fetch_part *parts;
	struct proto_forgotten_topic *forgotten;
	int32_t *forgotten_parts;
	struct proto_fetch_req inc;
};

static void sess_plan_free(struct sess_plan *sp)
{
	free(sp->found);
	free(sp->seen);
	free(sp->topics);
	free(sp->parts);
	free(sp->forgotten);
	free(sp->forgotten_parts);
}

/* Builds sp from the full request rq of n partitions (topic_of: each
 * one's topic): the Fetch to send is sp->inc when the session is on,
 * else rq with the session's id and epoch 0. -ENOMEM. */
static int sess_plan(struct fetcher *f, const struct proto_fetch_req *rq, int n,
		     const char *const *topic_of, struct sess_plan *sp)
{
	int k = 0, w = 0, nf = 0, nfp = 0;

	sp->found = calloc((size_t)n + 1, sizeof(*sp->found));
	sp->seen = calloc((size_t)f->n_sess + 1, sizeof(*sp->seen));
	sp->topics = calloc((size_t)n + 1, sizeof(*sp->topics));
	sp->parts = calloc((size_t)n + 1, sizeof(*sp->parts));
	sp->forgotten = calloc((size_t)f->n_sess + 1, sizeof(*sp->forgotten));
	sp->forgotten_parts = calloc((size_t)f->n_sess + 1, sizeof(*sp->forgotten_parts));
	if (!sp->found || !sp->seen || !sp->topics || !sp->parts || !sp->forgotten ||
	    !sp->forgotten_parts)
		return -ENOMEM;
	slots_fill(sp->tab, f->n_sess, sess_topic, sess_part_index, f);
	sp->inc = *rq;
	sp->inc.session_id = f->sess_id;
	sp->inc.session_epoch = f->sess_epoch;
	sp->inc.n_topics = 0;
	sp->inc.topics = sp->topics;
	for (int32_t t = 0; t < rq->n_topics; t++)
		for (int32_t j = 0; j < rq->topics[t].n_partitions; j++, k++) {
			const struct proto_fetch_part *d = &rq->topics[t].partitions[j];
			int at = f->sess_epoch > 0
					 ? slot_find(sp->tab, kstr_of(topic_of[k]), d->partition,
						     sess_topic, sess_part_index, f)
					 : -1;

			sp->found[k] = at;
			if (at >= 0)
				sp->seen[at] = true;
			if (at >= 0 && sess_same(&f->sess[at].data, d))
				continue;
			/* Added or changed: named, in its topic's entry (the
			 * last one, as the full request groups by topic). */
			if (sp->inc.n_topics == 0 ||
			    sp->topics[sp->inc.n_topics - 1].topic.ptr != rq->topics[t].topic.ptr)
				sp->topics[sp->inc.n_topics++] =
					(struct proto_fetch_topic){ rq->topics[t].topic, 0,
								    &sp->parts[w] };
			sp->topics[sp->inc.n_topics - 1].n_partitions++;
			sp->parts[w++] = *d;
		}
	for (int j = 0; f->sess_epoch > 0 && j < f->n_sess; j++) {
		if (sp->seen[j])
			continue;
		/* Forgotten, a topic's run of them in one entry, whose
		 * partitions are consecutive in forgotten_parts (kept ones of
		 * the topic may lie between them in the session). */
		if (nf == 0 || strcmp(sp->forgotten[nf - 1].topic.ptr, f->sess[j].topic))
			sp->forgotten[nf++] =
				(struct proto_forgotten_topic){ kstr_of(f->sess[j].topic), 0,
								&sp->forgotten_parts[nfp] };
		sp->forgotten_parts[nfp++] = f->sess[j].data.partition;
		sp->forgotten[nf - 1].n_partitions++;
	}
	sp->inc.n_forgotten = nf;
	sp->inc.forgotten = sp->forgotten;
	return 0;
}

/* The session after the leader answered a Fetch of the plan sp (rq the
 * full request, topic_of as for sess_plan), as Kafka's
 * FetchSessionHandler.handleResponse: 0, or -EPROTO for a top-level
 * error that is no session's (the connection is closed and the round
 * backs off); -ENOMEM. */
static int sess_answered(struct fetcher *f, const struct proto_fetch_req *rq,
			 const char *const *topic_of, const struct sess_plan *sp,
			 const struct proto_fetch_resp *resp)
{
	bool incremental = f->sess_epoch > 0;
	int k = 0, w = 0;

	if (resp->error_code) {
		bool not_found = resp->error_code == PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND;

		mq_log_limited(MQ_INFO,
			       "fetcher: broker %d: fetch session %d epoch %d: %s; a full fetch "
			       "next",
			       f->cfg.source_id, (int)f->sess_id, (int)f->sess_epoch,
			       proto_err_name(resp->error_code));
		sess_reset(f, !not_found);
		return not_found || resp->error_code == PROTO_ERR_INVALID_FETCH_SESSION_EPOCH
			       ? 0
			       : -EPROTO;
	}
	if (resp->session_id == 0) { /* none made, or closed by the leader */
		sess_reset(f, false);
		return 0;
	}
	if (!incremental)
		sess_reset(f, false);
	/* The session is now what the request asked: those named as named,
	 * the forgotten ones gone, then the new ones at the end. In this
	 * order: the session then never holds more than the request's
	 * partitions (at most FETCHER_MAX_PARTS), where the old session and
	 * the new ones together may hold more (a fetcher's partitions all
	 * removed, their leader moved, and others added before its next
	 * Fetch). */
	for (int32_t t = 0; incremental && t < rq->n_topics; t++)
		for (int32_t j = 0; j < rq->topics[t].n_partitions; j++, k++)
			if (sp->found[k] >= 0)
				f->sess[sp->found[k]].data = rq->topics[t].partitions[j];
	for (int j = 0; j < f->n_sess; j++) {
		if (incremental && !sp->seen[j]) {
			free(f->sess[j].topic);
			continue;
		}
		f->sess[w++] = f->sess[j];
	}
	f->n_sess = w;
	k = 0;
	for (int32_t t = 0; t < rq->n_topics; t++)
		for (int32_t j = 0; j < rq->topics[t].n_partitions; j++, k++) {
			if (incremental && sp->found[k] >= 0)
				continue;
			f->sess[f->n_sess].topic = strdup(topic_of[k]);
			if (!f->sess[f->n_sess].topic) {
				sess_reset(f, true);
				return -ENOMEM;
			}
			f->sess[f->n_sess++].data = rq->topics[t].partitions[j];
		}
	f->sess_id = resp->session_id;
	f->sess_epoch = fetch_session_next_epoch(f->sess_epoch);
	if (incremental)
		stat_add(f, &f->stats.incremental, 1);
	return 0;
}

/* One Fetch for every partition ready to fetch, waiting at the leader at
 * most max_wait_ms. 0 or -errno (connection). */
static int fetch_once(struct fetcher *f, struct fpart **ready, struct partition_follow *fws, int n,
		      int64_t now, int32_t max_wait_ms)
{
	struct proto_fetch_part *rps = calloc((size_t)n, sizeof(*rps));
	struct proto_fetch_topic *rts = calloc((size_t)n, sizeof(*rts));
	int *topic_of = calloc((size_t)n, sizeof(int));
	int *req_of = calloc((size_t)n, sizeof(int)); /* request order -> ready index */
	struct proto_fetch_req rq = { .cluster_id = KSTR_NULL,
				      .replica_id = fetch_replica_id(f),
				      .isolation_level = f->cfg.observer ? PROTO_READ_COMMITTED
									 : PROTO_READ_UNCOMMITTED,
				      .max_wait_ms = max_wait_ms,
				      .min_bytes = f->cfg.min_bytes,
				      .max_bytes = f->cfg.max_bytes,
				      .session_epoch = -1,
				      .topics = rts,
				      .rack_id = kstr_of(""),
				      /* Follower or read copy: the leader's
				       * line positions are kept. */
				      .line_copy = true };
	struct proto_fetch_resp resp = { 0 };
	struct net_resp nr = { 0 };
	struct kbuf_w w;
	int v = net_client_version(f->conn, PROTO_API_FETCH), rc = -ENOMEM, k = 0;
	/* The request's partitions' topics, in its order, and the session's
	 * plan (v7+: KIP-227). */
	const char **names = calloc((size_t)n + 1, sizeof(*names));
	struct sess_plan *sp = calloc(1, sizeof(*sp));
	const struct proto_fetch_req *send = &rq;
	bool sess = v >= 7;

	if (v < 0) {
		rc = v;
		goto out;
	}
	if (!rps || !rts || !topic_of || !req_of || !names || !sp)
		goto out;
	/* Partitions grouped by topic, each topic once. The list holds a
	 * topic's partitions together as a rule (they are added together), so
	 * the previous one's topic is tried first: with up to
	 * FETCHER_MAX_PARTS partitions a search of every topic for each
	 * would make the request's encoding quadratic. */
	for (int i = 0; i < n; i++) {
		const char *name = partition_topic(ready[i]->p);
		int t = i > 0 ? topic_of[i - 1] : 0;

		if (t >= rq.n_topics || !kstr_eq(rts[t].topic, name))
			for (t = 0; t < rq.n_topics && !kstr_eq(rts[t].topic, name); t++)
				;
		topic_of[i] = t;
		if (t == rq.n_topics)
			rts[rq.n_topics++].topic = kstr_of(partition_topic(ready[i]->p));
	}
	for (int t = 0; t < rq.n_topics; t++) {
		rts[t].partitions = &rps[k];
		for (int i = 0; i < n; i++) {
			if (topic_of[i] != t)
				continue;
			req_of[k] = i;
			names[k] = partition_topic(ready[i]->p);
			rps[k++] = (struct proto_fetch_part){
				.partition = partition_index(ready[i]->p),
				.current_leader_epoch = fws[i].leader_epoch,
				.fetch_offset = fws[i].fetch_offset,
				.last_fetched_epoch =
					f->cfg.truncate_on_fetch ? fws[i].last_fetched_epoch : -1,
				.log_start_offset = fws[i].log_start_offset,
				.partition_max_bytes = f->cfg.partition_max_bytes,
			};
			rts[t].n_partitions++;
		}
	}
	if (sess) {
		rc = sess_plan(f, &rq, k, names, sp);
		if (rc)
			goto out;
		/* A full fetch closes the session it names and opens one. */
		rq.session_id = f->sess_id;
		rq.session_epoch = 0;
		if (f->sess_epoch > 0)
			send = &sp->inc;
	}
	kbuf_w_init(&w, 1 << 20);
	rc = proto_fetch_req_encode(&w, (int16_t)v, send);
	if (!rc) {
		call_note(f, "Fetch", NULL);
		rc = net_client_call(f->conn, PROTO_API_FETCH, (int16_t)v, w.buf, w.len,
				     (size_t)f->cfg.max_bytes + (1 << 20),
				     f->cfg.max_wait_ms + f->cfg.request_timeout_ms, &nr);
	}
	kbuf_w_free(&w);
	if (!rc)
		rc = proto_fetch_resp_decode(&nr.body, (int16_t)v, &resp);
	/* Kafka's handleError: a request that failed closes the session,
	 * whatever the leader made of it. */
	if (rc && sess)
		sess_reset(f, true);
	else if (sess)
		rc = sess_answered(f, &rq, names, sp, &resp);
	else if (resp.error_code)
		rc = -EPROTO;
	/* A leader answers a full fetch in the request's order (Kafka's
	 * does): the r-th answer is tried against the r-th partition asked
	 * for first; an incremental one's answers, a few in the session's
	 * order, are looked up. */
	if (!rc && resp.n_topics > 0)
		slots_fill(sp->tab, n, ready_topic, ready_index, ready);
	for (int32_t t = 0, r = 0; !rc && t < resp.n_topics; t++)
		for (int32_t j = 0; j < resp.topics[t].n_partitions; j++, r++) {
			const struct proto_fetch_resp_part *a = &resp.topics[t].partitions[j];
			int i = r < k ? req_of[r] : 0;

			if (!asked(ready[i], resp.topics[t].topic, a->partition_index))
				i = slot_find(sp->tab, resp.topics[t].topic, a->partition_index,
					      ready_topic, ready_index, ready);
			if (i >= 0)
				fetch_apply(f, ready[i], &fws[i], a, now);
		}
	if (!rc)
		stat_add(f, &f->stats.fetches, 1);
out:
	proto_fetch_resp_free(&resp);
	net_resp_free(&nr);
	free(rps);
	free(rts);
	free(topic_of);
	free(req_of);
	free(names);
	if (sp)
		sess_plan_free(sp);
	free(sp);
	return rc;
}

/* Copies the partitions still following this source into f->snap, each
 * with a reference of the round's; drops the others from the list. */
static void snapshot_take(struct fetcher *f)
{
	pthread_mutex_lock(&f->lock);
	/* A stop's poke stays: the round ends at once. */
	if (!f->stopping)
		fetcher_unpoke(f);
	f->in_round = true;
	f->n_snap = 0;
	f->snap_removals = f->removals;
	for (int i = 0; i < f->n; i++) {
		struct fpart *fp = &f->parts[i];
		struct partition_follow fw;

		/* Not following this source any more: drop it. */
		if (partition_follow_state(fp->p, &fw) || fw.leader != f->cfg.source_id) {
			partition_unref(fp->p);
			f->parts[i--] = f->parts[--f->n];
			continue;
		}
		partition_ref(fp->p);
		f->snap[f->n_snap++] = *fp;
	}
	pthread_mutex_unlock(&f->lock);
}

/* Keeps the round's backoffs (and settling waits) for the partitions
 * still in the list, and drops the round's references. */
static void snapshot_release(struct fetcher *f)
{
	pthread_mutex_lock(&f->lock);
	f->in_round = false;
	/* The list is the snapshot, in its order, unless partitions came or
	 * went meanwhile: the same place is tried first. */
	for (int i = 0; i < f->n_snap; i++) {
		int j = i < f->n && f->parts[i].p == f->snap[i].p ? i : 0;

		if (j != i)
			while (j < f->n && f->parts[j].p != f->snap[i].p)
				j++;
		if (j < f->n) {
			f->parts[j].backoff_until_ms = f->snap[i].backoff_until_ms;
			f->parts[j].settle_ms = f->snap[i].settle_ms;
			f->parts[j].lag = f->snap[i].lag;
			f->parts[j].out_of_range = f->snap[i].out_of_range;
			memcpy(f->parts[j].waiting, f->snap[i].waiting,
			       sizeof(f->parts[j].waiting));
		}
	}
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < f->n_snap; i++)
		partition_unref(f->snap[i].p);
	f->n_snap = 0;
}

/* One round over the snapshot; 0, 1 (nothing to do now), 2 (nothing but
 * partitions the follower's throttle holds), or -errno. */
static int round_parts(struct fetcher *f)
{
	struct fpart *ready[FETCHER_MAX_PARTS];
	struct partition_follow fws[FETCHER_MAX_PARTS];
	int64_t now = now_mono_ms();
	int n = 0, rc = 0;

	for (int i = 0; i < f->n_snap; i++)
		if (f->snap[i].backoff_until_ms <= now)
			ready[n++] = &f->snap[i];
	for (int i = 0; i < n && !rc; i++) {
		if (partition_follow_state(ready[i]->p, &fws[i]))
			continue;
		/* A role change since: the truncation it brings comes first. */
		if (fws[i].state != PARTITION_FETCHING)
			ready[i]->out_of_range = false;
		if (ready[i]->out_of_range) {
			rc = fetch_offset_and_truncate(f, ready[i], &fws[i], now);
		} else if (fws[i].state == PARTITION_TRUNCATING && f->cfg.truncate_on_fetch &&
			   fws[i].last_fetched_epoch >= 0) {
			rc = -ESTALE;
			if (apply_begin(f, ready[i]->p)) {
				rc = partition_follower_truncate(ready[i]->p, fws[i].generation,
								 fws[i].fetch_offset, true);
				apply_end(f);
			}
		} else if (fws[i].state == PARTITION_TRUNCATING)
			rc = truncate_by_ofle(f, ready[i], now);
		if (rc == -ESTALE)
			ready[i]->backoff_until_ms = now;
		if (rc == 1 || rc == -ESTALE)
			rc = 0;
	}
	if (rc)
		return rc;
	/* Those fetching now, their positions after any truncation. */
	int m = 0;
	/* A partition still backing off joins the round after its backoff:
	 * the Fetch of the others waits at the leader no longer than that,
	 * or a partition whose leader was settling (retried 10 ms later)
	 * would wait for a round parked replica.fetch.wait.max.ms (500 ms)
	 * with nothing to fetch, and with it the first acks=all write into
	 * a new topic. */
	int64_t wait = f->cfg.max_wait_ms;
	bool backing = false, held = false;

	for (int i = 0; i < f->n_snap; i++) {
		backing = backing || f->snap[i].backoff_until_ms > now;
		if (f->snap[i].backoff_until_ms > now && f->snap[i].backoff_until_ms - now < wait)
			wait = f->snap[i].backoff_until_ms - now;
	}

	for (int i = 0; i < n; i++) {
		if (ready[i]->backoff_until_ms > now ||
		    partition_follow_state(ready[i]->p, &fws[m]) ||
		    fws[m].state != PARTITION_FETCHING)
			continue;
		if (follower_held(f, ready[i])) {
			held = true;
			continue;
		}
		ready[m++] = ready[i];
	}
	if (m)
		return fetch_once(f, ready, fws, m, now, (int32_t)wait);
	/* Only throttled partitions: Kafka's fetcher, with nothing to fetch,
	 * waits replica.fetch.backoff.ms before it looks again. */
	return held && !backing ? 2 : 1;
}

static int round_once(struct fetcher *f)
{
	int rc;

	snapshot_take(f);
	rc = round_parts(f);
	snapshot_release(f);
	return rc;
}

static void *fetcher_main(void *arg)
{
	struct fetcher *f = arg;

	for (;;) {
		int rc;

		pthread_mutex_lock(&f->lock);
		while (!f->stopping && f->n == 0)
			pthread_cond_wait(&f->cond, &f->lock);
		if (f->stopping) {
			pthread_mutex_unlock(&f->lock);
			break;
		}
		pthread_mutex_unlock(&f->lock);
		rc = f->conn ? 0 : connect_source(f);
		if (!rc) {
			f->call[0] = '\0';
			rc = round_once(f);
			/* A request that timed out (a leader that stopped
			 * answering: a black hole), a connection reset in the
			 * middle of a response, an answer that does not decode:
			 * said once here, as the failed connect is, so that a
			 * follower falling out of the ISR has its reason in its
			 * own log (Kafka's "Error in response for fetch
			 * request"). */
			if (rc < 0 && rc != -EINTR) {
				char sent[400] = "";

				if (f->call[0])
					snprintf(sent, sizeof(sent),
						 " (the %s sent %lld ms before)", f->call,
						 (long long)(now_mono_ms() - f->call_ms));
				mq_log_limited(MQ_WARN,
					       "fetcher: broker %d at %s:%d: fetch failed: %s; "
					       "connecting again in %lld ms%s",
					       f->cfg.source_id, f->cfg.host, f->cfg.port,
					       strerror(-rc), (long long)f->cfg.backoff_ms, sent);
			}
		}
		if (rc == -EINTR) {
			/* Poked: the request was given up, the connection
			 * with it; a new round, with the new partition. */
			net_client_close(f->conn);
			f->conn = NULL;
			continue;
		}
		if (rc < 0) {
			stat_add(f, &f->stats.errors, 1);
			net_client_close(f->conn);
			f->conn = NULL;
		}
		/* Nothing ready (all backing off or throttled) or an error:
		 * wait before the next round instead of spinning. */
		if (rc != 0 && pause_ms(f, rc < 0 || rc == 2 ? f->cfg.backoff_ms : 10))
			break;
	}
	net_client_close(f->conn);
	f->conn = NULL;
	return NULL;
}

int fetcher_new(const struct fetcher_config *cfg, struct fetcher **out)
{
	struct fetcher *f;
	pthread_condattr_t ca;
	int rc;

	/* A partition_max_bytes of 0 is replica.fetch.max.bytes=0, which
	 * Kafka takes and the config accepts: the leader still sends each
	 * partition's first batch (its minOneMessage), so the follower
	 * fetches a batch at a time and keeps up. */
	if (cfg->port <= 0 || cfg->port > 65535 || cfg->broker_id < 0 || cfg->source_id < 0 ||
	    cfg->backoff_ms < 0 || cfg->max_wait_ms < 0 || cfg->partition_max_bytes < 0 ||
	    cfg->max_bytes <= 0 || (cfg->sasl_user && !cfg->sasl_password))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->wake = -1;
	f->cfg = *cfg;
	if (cfg->sasl_user) {
		f->user = strdup(cfg->sasl_user);
		f->password = strdup(cfg->sasl_password);
		if (!f->user || !f->password) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	f->cfg.sasl_user = f->cfg.sasl_password = NULL;
	f->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->wake < 0) {
		rc = -errno;
		goto fail;
	}
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->round, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = -pthread_create(&f->thread, NULL, fetcher_main, f);
	if (rc) {
		pthread_cond_destroy(&f->cond);
		pthread_mutex_destroy(&f->round);
		pthread_mutex_destroy(&f->lock);
		goto fail;
	}
	/* One per leader broker: its id in the name, for top -H and perf. */
	char name[16];
	snprintf(name, sizeof(name), "mqfs-fetch-%u", (unsigned)cfg->source_id % 10000u);
	pthread_setname_np(f->thread, name);
	*out = f;
	return 0;
fail:
	if (f->wake >= 0)
		close(f->wake);
	free(f->user);
	free(f->password);
	free(f);
	return rc;
}

int fetcher_add(struct fetcher *f, struct partition *p)
{
	int rc = 0;

	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < f->n; i++)
		if (f->parts[i].p == p)
			rc = -EEXIST;
	if (!rc && f->n == FETCHER_MAX_PARTS)
		rc = -ENOSPC;
	if (!rc) {
		partition_ref(p);
		f->parts[f->n++] = (struct fpart){ .p = p, .lag = -1 };
		pthread_cond_signal(&f->cond);
		/* Under the lock, against snapshot_take: a poke for a round
		 * that already holds p would drop its connection, and leave
		 * its Fetch parked at the leader for nothing. */
		if (f->in_round)
			fetcher_poke(f);
	}
	pthread_mutex_unlock(&f->lock);
	return rc;
}

void fetcher_remove(struct fetcher *f, struct partition *p)
{
	bool found = false;

	/* Not after a round in progress (its network call may wait for a
	 * leader that is gone), only after a call that changes p. */
	pthread_mutex_lock(&f->round);
	pthread_mutex_lock(&f->lock);
	for (int i = 0; i < f->n; i++)
		if (f->parts[i].p == p) {
			f->parts[i] = f->parts[--f->n];
			f->removals++;
			found = true;
			break;
		}
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_unlock(&f->round);
	if (found)
		partition_unref(p);
}

void fetcher_get_stats(struct fetcher *f, struct fetcher_stats *st)
{
	pthread_mutex_lock(&f->lock);
	*st = f->stats;
	st->partitions = f->n;
	pthread_mutex_unlock(&f->lock);
}

void fetcher_free(struct fetcher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stopping = true;
	pthread_cond_broadcast(&f->cond);
	fetcher_poke(f);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	close(f->wake);
	sess_reset(f, false);
	for (int i = 0; i < f->n; i++)
		partition_unref(f->parts[i].p);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->round);
	pthread_mutex_destroy(&f->lock);
	free(f->user);
	free(f->password);
	free(f);
}

/* ---- the fetchers of one owner ---- */

int fetcher_set_init(struct fetcher_set *s, const struct fetcher_config *cfg, int32_t broker_id,
		     fetcher_endpoint_fn endpoint, void *arg, const char *what)
{
	*s = (struct fetcher_set){
		.cfg = *cfg, .endpoint = endpoint, .endpoint_arg = arg, .what = what
	};
	s->cfg.broker_id = broker_id;
	s->cfg.sasl_user = s->cfg.sasl_password = NULL;
	if (cfg->sasl_user) {
		s->user = strdup(cfg->sasl_user);
		s->password = strdup(cfg->sasl_password ? cfg->sasl_password : "");
		if (!s->user || !s->password) {
			fetcher_set_clear(s);
			return -ENOMEM;
		}
		s->cfg.sasl_user = s->user;
		s->cfg.sasl_password = s->password;
	}
	return 0;
}

struct fetcher *fetcher_set_get(struct fetcher_set *s, int32_t id)
{
	struct fetcher_config fc = s->cfg;
	struct fetcher_source *nv;
	int rc;

	for (int i = 0; i < s->n; i++)
		if (s->v[i].id == id)
			return s->v[i].f;
	fc.source_id = id;
	fc.endpoint = s->endpoint;
	fc.endpoint_arg = s->endpoint_arg;
	rc = s->endpoint(s->endpoint_arg, id, fc.host, &fc.port);
	if (rc < 0) {
		mq_log_limited(MQ_WARN,
			       "%s fetcher: broker %d has no inter-broker endpoint known: %s",
			       s->what, (int)id, strerror(-rc));
		return NULL;
	}
	nv = realloc(s->v, sizeof(*nv) * (size_t)(s->n + 1));
	if (!nv)
		return NULL;
	s->v = nv;
	rc = fetcher_new(&fc, &nv[s->n].f);
	if (rc < 0) {
		mq_log(MQ_ERR, "%s fetcher for broker %d: %s", s->what, (int)id, strerror(-rc));
		return NULL;
	}
	nv[s->n].id = id;
	mq_log(MQ_INFO, "%s fetcher for broker %d at %s:%d started", s->what, (int)id, fc.host,
	       fc.port);
	return nv[s->n++].f;
}

void fetcher_set_remove(struct fetcher_set *s, int32_t id, struct partition *p)
{
	for (int i = 0; id >= 0 && i < s->n; i++)
		if (s->v[i].id == id)
			fetcher_remove(s->v[i].f, p);
}

void fetcher_set_clear(struct fetcher_set *s)
{
	for (int i = 0; i < s->n; i++)
		fetcher_free(s->v[i].f);
	free(s->v);
	free(s->user);
	free(s->password);
	s->v = NULL;
	s->n = 0;
	s->user = s->password = NULL;
	s->cfg.sasl_user = s->cfg.sasl_password = NULL;
}
