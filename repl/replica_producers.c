/*
 * replica_producers.c — a follower replica's producer state
 * (producer_state.h), kept by the fetcher's hooks as Kafka's follower
 * keeps its ProducerStateManager (UnifiedLog.appendAsFollower):
 *   - replica_producers_appended: the leader's batches appended to the
 *     replica's log enter its state from their headers (producer id,
 *     epoch, base sequence, last offset delta, max timestamp; the records
 *     are not read);
 *   - replica_producers_cut: a truncation (or a log emptied to start at
 *     the leader's start) rebuilds it from the log as it is now.
 * So DescribeProducers on a follower lists its own log's producers, and a
 * follower that becomes leader judges a resent batch by a state that is
 * current without reading its log (producer_state_load takes it as is).
 *
 * The partition of the broker's topic is found by name; a topic this
 * broker does not know yet (its metadata comes after its replica's first
 * fetch) is left: its state is loaded from the log when first used.
 *
 * Threads: the fetcher's, no lock held on entry; the catalog's and the
 * topic's locks briefly, then the partition's pstate.mu (the log's locks
 * inside it, as on the leader's append path).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "util/diaglog.h"

#define HEADERS_ON_STACK 16

/* Partition partition of topic, when its replica here has log l (NULL:
 * any), with a reference to the topic (*t) and to its log (*lp). 0 or
 * -ENOENT. */
static int replica_take(struct broker *b, const char *topic, int32_t partition, const void *l,
			struct topic **t, struct partition **pt, struct log **lp)
{
	int rc = broker_topic_get(b, topic, t);

	if (rc < 0)
		return rc;
	rc = -ENOENT;
	pthread_rwlock_rdlock(&(*t)->lock);
	if (!atomic_load(&(*t)->deleted) && partition >= 0 && partition < (*t)->nparts) {
		*pt = (*t)->parts[partition];
		*lp = (*pt)->log;
		if (*lp && (!l || *lp == l)) {
			log_ref(*lp);
			rc = 0;
		}
	}
	pthread_rwlock_unlock(&(*t)->lock);
	if (rc < 0)
		topic_put(*t);
	return rc;
}

static int64_t expiration(const struct broker *b)
{
	return __atomic_load_n(&b->producer_id_expiration_ms, __ATOMIC_RELAXED);
}

void replica_producers_appended(void *arg, const char *topic, int32_t partition, void *log,
				const uint8_t *records, size_t len)
{
	struct broker *b = arg;
	struct batch_producer_info stack[HEADERS_ON_STACK], *bi;
	struct topic *t;
	struct partition *pt;
	struct log *l;
	int n, rc;

	/* Not the broker's replica log (an observer's copy is not fetched
	 * through here), or a topic not known yet: nothing kept. */
	if (replica_take(b, topic, partition, log, &t, &pt, &l) < 0)
		return;
	/* Outside the lock: the headers of bytes the log took whole. */
	n = producer_state_headers(records, len, stack, HEADERS_ON_STACK, &bi);
	pthread_mutex_lock(&pt->pstate.mu);
	if (n > 0) {
		rc = producer_state_follow(&pt->pstate, l, bi, n, engine_now_ms(), expiration(b));
	} else {
		producer_state_clear(&pt->pstate); /* loaded from the log when used */
		rc = n < 0 ? n : -EBADMSG;
	}
	pthread_mutex_unlock(&pt->pstate.mu);
	if (rc < 0)
		mq_log_limited(MQ_ERR,
			       "topic %s partition %d: follower's producer state not kept: %s; "
			       "loaded from the log when next used",
			       topic, (int)partition, strerror(-rc));
	if (bi != stack)
		free(bi);
	log_unref(l);
	topic_put(t);
}

void replica_producers_cut(struct broker *b, const char *topic, int32_t partition)
{
	struct topic *t;
	struct partition *pt;
	struct log *l;
	int rc;

	if (replica_take(b, topic, partition, NULL, &t, &pt, &l) < 0)
		return;
	pthread_mutex_lock(&pt->pstate.mu);
	rc = producer_state_reload(&pt->pstate, l, engine_now_ms(), expiration(b));
	pthread_mutex_unlock(&pt->pstate.mu);
	if (rc < 0)
		mq_log_limited(MQ_ERR,
			       "topic %s partition %d: producer state not rebuilt after the "
			       "truncation: %s; rebuilt when next used",
			       topic, (int)partition, strerror(-rc));
	log_unref(l);
	topic_put(t);
}
