/*
 * throttle.h — replication throttles (Kafka's ReplicationQuotaManager):
 * a byte rate bound per direction of replication on this broker, and the
 * partitions each bound applies to. Private to repl/.
 *
 * Two quotas per broker: the leader's (bytes it sends to followers) and
 * the follower's (bytes it fetches from leaders). Each has
 *   - a bound in bytes/s: leader.replication.throttled.rate and
 *     follower.replication.throttled.rate, dynamic broker settings
 *     (/config/brokers/<id>, then /config/brokers/<default>, else
 *     THROTTLE_UNBOUNDED, Kafka's Long.MAX_VALUE: no throttle);
 *   - the rate measured as Kafka's SimpleRate over
 *     replication.quota.window.num samples of
 *     replication.quota.window.size.seconds each (throttle_rate below);
 *   - the throttled partitions: per topic, those its
 *     leader.replication.throttled.replicas (resp. follower...) names
 *     with this broker's id, or all of them for "*".
 *
 * The decision (Kafka's shouldLeaderThrottle / shouldFollowerThrottle):
 * a partition's replication is held back when it is throttled on this
 * broker, the replica is not in sync, and the quota is exceeded now.
 * "In sync" is, on the leader, the fetching replica being in the ISR; on
 * the follower, its last fetch having reached the leader's high
 * watermark (Kafka's PartitionFetchState.isReplicaInSync: lag 0). Bytes
 * of throttled partitions are recorded whether or not the replica was
 * in sync (Kafka: in-sync traffic counts against the quota too), so a
 * busy in-sync replica can starve the catching-up ones but is itself
 * never held back. Kafka does not keep a throttled follower in the ISR:
 * one in the ISR but behind may be held back by its follower quota and
 * leave the ISR at replica.lag.time.max.ms, as in Kafka.
 *
 * Threads: every function but throttle_rate_* takes the quota's own
 * locks (leaves); throttle_rate_* need their caller's lock.
 */
#ifndef MQFS_REPL_THROTTLE_H
#define MQFS_REPL_THROTTLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THROTTLE_UNBOUNDED   INT64_MAX /* Kafka's Long.MAX_VALUE: no throttle */
#define THROTTLE_MAX_SAMPLES 1000      /* replication.quota.window.num's upper bound */

/* The two topic keys and the two broker keys, Kafka's names. */
#define THROTTLE_LEADER_REPLICAS   "leader.replication.throttled.replicas"
#define THROTTLE_FOLLOWER_REPLICAS "follower.replication.throttled.replicas"
#define THROTTLE_LEADER_RATE       "leader.replication.throttled.rate"
#define THROTTLE_FOLLOWER_RATE     "follower.replication.throttled.rate"

/* ---- the list of a topic key ---- */

/* Kafka's ThrottledReplicaListValidator: s (n bytes) is "*" or a
 * comma-separated list whose elements, trimmed, are each empty or
 * <partition>:<broker> in decimal digits (here also within int32).
 * 0, or -EINVAL with Kafka's message in why. */
int throttle_list_check(const char *s, size_t n, char *why, size_t whylen);
/* The canonical form of a valid list into out (size bytes): elements
 * trimmed, joined by ','. -ENAMETOOLONG when it does not fit. */
int throttle_list_canon(const char *s, size_t n, char *out, size_t size);
/* Whether a valid list (NUL-terminated) throttles partition on broker:
 * "*", or an element partition:broker. */
bool throttle_list_has(const char *list, int32_t partition, int32_t broker_id);

/* ---- the rate: Kafka's SimpleRate over a SampledStat ---- */

struct throttle_sample {
	double value;
	int64_t start_ms, last_event_ms;
};

/* samples windows of window_ms; one more slot than samples, the sample
 * overlapping the start of the measured span (Kafka's placeholder). */
struct throttle_rate {
	int samples;
	int64_t window_ms;
	/* The fewest whole windows the rate divides by: 1 for SimpleRate
	 * (replication), samples - 1 for Kafka's Rate (client quotas), so
	 * a client's first burst is spread over the whole span. */
	int min_windows;
	int n, current;
	struct throttle_sample s[THROTTLE_MAX_SAMPLES + 1];
};

void throttle_rate_init(struct throttle_rate *r, int samples, int64_t window_ms);
void throttle_rate_record(struct throttle_rate *r, double value, int64_t now_ms);
/* Bytes per second: the samples' sum over the time since the oldest
 * sample started, at least one window (so the first bytes do not read as
 * an enormous rate); samples without an event for samples * window_ms are
 * emptied first. */
double throttle_rate_measure(struct throttle_rate *r, int64_t now_ms);
/* The span (ms) throttle_rate_measure divides by now: with min_windows
 * 1, the time since the oldest sample started, at least one window;
 * above, Kafka's Rate.windowSize: that time plus the windows missing to
 * min_windows whole ones. */
int64_t throttle_rate_span_ms(const struct throttle_rate *r, int64_t now_ms);

/* ---- a quota ---- */

struct throttle_topic; /* a topic's throttled partitions on this broker */

struct throttle_quota {
	const char *what;   /* "leader", "follower": log lines */
	pthread_mutex_t mu; /* bound, rate */
	int64_t bound;      /* bytes/s; THROTTLE_UNBOUNDED: none */
	struct throttle_rate rate;
	pthread_rwlock_t topics_lock;
	struct throttle_topic *topics;
	int n_topics;
	/* n_topics as last written under topics_lock: 0 lets every fetch's
	 * question about every partition skip the lock (no throttle set, the
	 * usual case). A throttle set meanwhile applies from the next fetch. */
	atomic_int any_topics;
};

/* Whether (topic, partition) is throttled by q on this broker. */
bool throttle_quota_is_throttled(struct throttle_quota *q, const char *topic, size_t tlen,
				 int32_t partition);
/* Whether q's measured rate is above its bound now (never when unbounded). */
bool throttle_quota_exceeded(struct throttle_quota *q, int64_t now_ms);
/* Adds bytes of throttled partitions to q's rate. */
void throttle_quota_record(struct throttle_quota *q, int64_t bytes, int64_t now_ms);
/* The measured rate (bytes/s) and the bound, for .metrics. */
double throttle_quota_rate(struct throttle_quota *q, int64_t now_ms);
int64_t throttle_quota_bound(struct throttle_quota *q);
/* The decision: hold back (topic, partition) of a replica in_sync or not. */
bool throttle_quota_holds(struct throttle_quota *q, const char *topic, size_t tlen,
			  int32_t partition, bool in_sync, int64_t now_ms);

/* ---- the broker's pair ---- */

struct repl_throttle {
	int32_t broker_id;
	struct throttle_quota leader, follower;
};

/* Both quotas unbounded, no topic throttled. -EINVAL (samples outside
 * 1..THROTTLE_MAX_SAMPLES, window_s < 1), -ENOMEM. */
int repl_throttle_new(int32_t broker_id, int samples, int window_s, struct repl_throttle **out);
void repl_throttle_free(struct repl_throttle *t);
/* A topic's two lists (valid, NUL-terminated; NULL or "": none) as they
 * now are; both NULL when the topic is gone. 0, -ENOMEM (the old lists
 * kept). */
int repl_throttle_topic(struct repl_throttle *t, const char *topic, const char *leader_list,
			const char *follower_list);
/* New bounds (bytes/s, >= 0; THROTTLE_UNBOUNDED: none); logged when they
 * change. */
void repl_throttle_set_rates(struct repl_throttle *t, int64_t leader, int64_t follower);

/* A rate setting's value: decimal digits, 0..INT64_MAX (Kafka's LONG,
 * atLeast(0)). 0 or -EINVAL with why. */
int throttle_rate_parse(const char *s, int64_t *out, char *why, size_t whylen);

#endif
