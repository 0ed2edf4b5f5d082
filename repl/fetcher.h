/*
 * fetcher.h — a replica fetcher: one thread per source broker
 * (num.replica.fetchers = 1) that keeps the local follower replicas of the
 * partitions that broker leads in step with it (Kafka's
 * ReplicaFetcherThread). Private to repl/; the cluster wiring makes one
 * per leader broker, adds a partition after partition_make_follower
 * returned 1 and removes it when the partition's leader changes (the
 * fetcher also drops, by itself, a partition that is no longer following
 * this source).
 *
 * Per partition: truncate first (partition_follow_state says
 * PARTITION_TRUNCATING), then fetch from the LEO. Truncation (Kafka's
 * KIP-101 and KIP-279), one round:
 *   ask the leader (OffsetForLeaderEpoch) for its end offset of our
 *   latest epoch E: it answers (E', end) with E' its largest epoch <= E;
 *   our own end offset for E' is (F, fend);
 *   F == E': truncate to min(end, fend), done;
 *   else:    truncate to min(fend, LEO) and ask again with our new latest
 *            epoch (the logs diverged before E').
 *   The leader answers UNDEFINED_EPOCH_OFFSET (end -1: E is above all
 *   its epochs, or it has none), or we have no epoch to ask about:
 *   truncate to our hw, done (Kafka's AbstractFetcherThread: its initial
 *   fetch offset, the hw).
 * A fetch the leader answers OFFSET_OUT_OF_RANGE: below its log start,
 * our log is emptied and starts there; otherwise the next round asks its
 * log end (ListOffsets as a replica) and, when that is below ours,
 * truncates to it, below our hw too (Kafka's fetchOffsetAndTruncate: an
 * unclean election elected a replica that lacks records our hw covers),
 * logged as a warning; when not, the partition waits the backoff.
 * With truncate_on_fetch (Fetch v12 on both sides) the question is not
 * asked: the fetch carries last_fetched_epoch and the leader answers a
 * divergence in the fetch response (diverging_epoch), taken as one round
 * of the same rule. Every truncation is durable before the next fetch.
 *
 * Errors: a failed connection or request closes the connection and waits
 * replica.fetch.backoff.ms before connecting again; after a connection
 * that failed, the source's address is asked for again (cfg.endpoint): a
 * broker started again with other listeners is found where it is now. A
 * partition error
 * holds that partition back while the others go on: for the same time,
 * or, for the errors of a leader and a follower that have not both
 * applied the controller's latest LeaderAndIsr yet (FENCED_LEADER_EPOCH,
 * UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER,
 * UNKNOWN_TOPIC_OR_PARTITION), 50 ms doubling up to it while they last.
 */
#ifndef MQFS_REPL_FETCHER_H
#define MQFS_REPL_FETCHER_H

#include <stdint.h>

#include "repl/net.h"
#include "repl/partition.h"

struct fetcher_config {
	int32_t broker_id; /* this broker: the fetch's replica_id */
	int32_t source_id; /* the leader broker fetched from */
	char host[NET_MAX_HOST + 1];
	int port;
	const char *sasl_user; /* NULL: PLAINTEXT listener */
	const char *sasl_password;
	enum sasl_mech sasl_mech;    /* sasl.mechanism.inter.broker.protocol */
	int64_t backoff_ms;          /* replica.fetch.backoff.ms (1000) */
	int32_t max_wait_ms;         /* replica.fetch.wait.max.ms (500) */
	int32_t min_bytes;           /* replica.fetch.min.bytes (1) */
	int32_t max_bytes;           /* replica.fetch.response.max.bytes (10 MiB) */
	int32_t partition_max_bytes; /* replica.fetch.max.bytes (4 MiB; 0: a batch a fetch) */
	int64_t request_timeout_ms;  /* replica.socket.timeout.ms (30000): a connect,
				      * the SASL exchange, each request; a Fetch
				      * has max_wait_ms more */
	bool truncate_on_fetch;      /* diverging epochs instead of OffsetForLeaderEpoch */
	/* Fetch as a consumer (replica_id -1, read_committed): the leader
	 * sends records below its hw only and keeps no follower state for
	 * us. An observer's fetcher (observer.h). */
	bool observer;
	/* The follower's replication throttle (throttle.h), NULL none: a
	 * throttled partition not in sync is left out of the Fetch while
	 * the quota is exceeded; the records of throttled partitions count
	 * against it. Outlives the fetcher. */
	struct throttle_quota *throttle;
	/* Called before a partition's fetched records are appended, with
	 * its topic and its log (the partition's, partition_log): -errno
	 * keeps them out this time, tried again after backoff_ms; -EAGAIN
	 * with what they wait for in wait (cap bytes, "" none), which the
	 * fetcher logs at WARN once per cause rather than as an error.
	 * NULL: none. The broker fixes the topic's line settings there
	 * before a replica's first records (cluster_repl_topic_lines_fix). */
	int (*before_append)(void *arg, const char *topic, void *log, char *wait, size_t cap);
	void *before_append_arg;
	/* Called after a truncation cut records of a partition (the leader's
	 * epochs end below this log's end), or emptied its log to start at
	 * the leader's log start, on the fetcher's thread, no lock held,
	 * before anything is fetched at the cut offsets. NULL: none. The
	 * broker writes its checkpoints there (cluster_repl.c), as Kafka's
	 * truncateTo writes the cleaner's at once, and rebuilds the
	 * replica's producer state from the log (Kafka's truncateAndReload). */
	void (*after_cut)(void *arg, const char *topic, int32_t partition);
	void *after_cut_arg;
	/* Called after the leader's batches records[0..len) (whole ones)
	 * were appended to a partition's log (the partition's, partition_log),
	 * on the fetcher's thread, no lock held: those of a fetch's answer
	 * the log took (an append stops at a gap compaction left), and none
	 * when the partition's role changed meanwhile. NULL: none. The broker
	 * keeps the replica's producer state there (cluster_repl.c). */
	void (*after_append)(void *arg, const char *topic, int32_t partition, void *log,
			     const uint8_t *records, size_t len);
	void *after_append_arg;
	/* Where source_id listens now, asked from the fetcher's thread
	 * before it connects again after a connection to host:port failed:
	 * 0 with the new host and port, or -errno (host:port kept). NULL:
	 * host:port fixed. A fetcher_set's fetchers get the set's. */
	int (*endpoint)(void *arg, int32_t broker_id, char *host, int *port);
	void *endpoint_arg;
};

void fetcher_config_default(struct fetcher_config *cfg);

struct fetcher_stats {
	int64_t connects;
	int64_t errors;      /* failed connections and requests */
	int64_t fetches;     /* Fetch responses handled */
	int64_t incremental; /* of them, incremental ones of a fetch session */
	int64_t bytes;       /* record bytes appended */
	int64_t truncations; /* truncation rounds (OffsetForLeaderEpoch or diverging) */
	int partitions;
};

struct fetcher;

/* Starts the thread (it connects on its own). cfg is copied; the SASL
 * strings too. -EINVAL, -ENOMEM, -errno of pthread_create. */
int fetcher_new(const struct fetcher_config *cfg, struct fetcher **out);
/* Follows p (a reference is taken). -EEXIST already there. */
int fetcher_add(struct fetcher *f, struct partition *p);
/* Stops following p. Returns without waiting for a request in flight
 * (its leader may not answer); from then on the thread makes no call
 * that changes p, though a round in progress may hold a reference to p
 * until it ends. */
void fetcher_remove(struct fetcher *f, struct partition *p);
void fetcher_get_stats(struct fetcher *f, struct fetcher_stats *st);
/* Stops the thread, drops every partition, frees. NULL is fine. */
void fetcher_free(struct fetcher *f);

/* The fetchers of one owner, one per broker it fetches from, started at
 * the first partition that broker leads for it: a replica manager's
 * (replica_mgr.h) and the observers' (observer.h). Not locked: the
 * owner's lock guards it. */
typedef int (*fetcher_endpoint_fn)(void *arg, int32_t broker_id, char *host, int *port);

struct fetcher_source {
	int32_t id;
	struct fetcher *f;
};

struct fetcher_set {
	/* Every fetcher's config but source_id, host and port; its SASL
	 * strings point at user and password. Fixed from init on: read
	 * without the owner's lock too (an observer's own SASL connection). */
	struct fetcher_config cfg;
	fetcher_endpoint_fn endpoint; /* where a broker's listener is: 0 or -errno */
	void *endpoint_arg;
	const char *what;      /* "replica", "observer": names the fetchers in log lines */
	char *user, *password; /* the set's copies; NULL: PLAINTEXT */
	struct fetcher_source *v;
	int n;
};

/* An empty set whose fetchers fetch for broker_id with cfg (its
 * broker_id, source_id, host and port are not read), finding brokers
 * through endpoint(arg). The SASL strings are copied (a user without a
 * password gets ""): the caller's may go. -ENOMEM (s is then empty and
 * needs no fetcher_set_clear). */
int fetcher_set_init(struct fetcher_set *s, const struct fetcher_config *cfg, int32_t broker_id,
		     fetcher_endpoint_fn endpoint, void *arg, const char *what);
/* The fetcher of broker id, started if there is none: NULL when the
 * broker's endpoint is not known or it cannot start (logged). */
struct fetcher *fetcher_set_get(struct fetcher_set *s, int32_t id);
/* p stops being fetched from broker id (id < 0: from none). */
void fetcher_set_remove(struct fetcher_set *s, int32_t id, struct partition *p);
/* Stops and frees every fetcher and the SASL copies: s is as before
 * fetcher_set_init. A zeroed set is fine. */
void fetcher_set_clear(struct fetcher_set *s);

#endif
