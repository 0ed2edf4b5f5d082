/*
 * local_replicas.c — a single node's partitions as leader replicas for the
 * fetch path (local_replicas.h).
 *
 * Why an object per request rather than one per partition: the broker
 * owns its partitions and their logs (topics.c, partitions.c) and deletes
 * or grows them under its own locks; an object made at the lookup from a
 * log reference needs no second table to keep in step with the catalog,
 * and a topic deleted while a fetch is parked keeps its log readable until
 * that fetch is answered. The cost is a calloc and a lock per partition
 * and request.
 *
 * Threads: listener workers and the purgatory thread call the lookup; it
 * takes the catalog's and the topic's locks briefly (kafka_topic_find,
 * kafka_partition_log), none across the object's making.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "repl/local_replicas.h"
#include "repl/offsets_serve.h"
#include "repl/partition.h"
#include "repl/repl.h"
#include "util/clock.h"
#include "util/diaglog.h"

struct local_replicas {
	struct kafka_api *ka;
	struct fetch_serve *fs;
	struct offsets_serve os;
	bool waking;
};

/* The produce path moves the hw on one node (see local_replicas.h). */
static int local_set_hw(void *log, int64_t hw)
{
	(void)log;
	(void)hw;
	return 0;
}

static struct partition_log_ops local_ops;

static void local_ops_init(void)
{
	local_ops = partition_engine_ops;
	local_ops.set_hw = local_set_hw;
}

static void log_release(void *log)
{
	log_unref(log);
}

struct partition *local_replicas_lookup(void *arg, struct kstr topic, int32_t index)
{
	struct kafka_api *ka = arg;
	struct partition_config cfg = { .broker_id = kafka_broker_id(ka),
					.replica_lag_time_max_ms = 0,
					.min_insync_replicas = 1 };
	struct partition_state st = { .partition_epoch = 0 };
	struct kafka_part_state ks;
	struct partition *p = NULL;
	struct topic *t;
	struct log *l;
	int rc;

	if (kafka_topic_find(ka, topic, false, &t))
		return NULL;
	rc = kafka_partition_state(ka, t, index, &ks);
	if (rc == 0)
		rc = kafka_partition_log(t, index, &l);
	if (rc == 0) {
		rc = partition_new(topic_name(t), index, &cfg, &local_ops, l, &p);
		if (rc) {
			log_unref(l);
			/* The partition is there: the answer the caller makes
			 * of NULL (UNKNOWN_TOPIC_OR_PARTITION) is not the
			 * reason, which the log says. */
			mq_log_limited(MQ_ERR,
				       "topic %s partition %d: a request's view of the replica "
				       "not made: %s; answered UNKNOWN_TOPIC_OR_PARTITION",
				       topic_name(t), (int)index, strerror(-rc));
		} else {
			partition_set_log_release(p, log_release);
		}
	}
	topic_put(t);
	if (rc)
		return NULL;
	st.leader = ks.leader;
	st.leader_epoch = ks.leader_epoch;
	st.n_replicas = ks.n_replicas;
	st.n_isr = ks.n_isr;
	for (int i = 0; i < ks.n_replicas && i < PARTITION_MAX_REPLICAS; i++)
		st.replicas[i] = ks.replicas[i];
	for (int i = 0; i < ks.n_isr && i < PARTITION_MAX_REPLICAS; i++)
		st.isr[i] = ks.isr[i];
	rc = partition_make_leader(p, &st, now_mono_ms());
	if (rc < 0) {
		mq_log_limited(MQ_ERR,
			       "topic %.*s partition %d: a request's view of the replica not "
			       "made: %s; answered UNKNOWN_TOPIC_OR_PARTITION",
			       (int)topic.len, topic.ptr, (int)index, strerror(-rc));
		partition_unref(p);
		return NULL;
	}
	return p;
}

static void wake(void *arg)
{
	fetch_serve_wake(arg);
}

int local_replicas_start(struct kafka_api *ka, struct net_server *srv, struct local_replicas **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct local_replicas *lr = calloc(1, sizeof(*lr));
	int rc;

	if (!lr)
		return -ENOMEM;
	pthread_once(&once, local_ops_init);
	lr->ka = ka;
	lr->os.lookup = local_replicas_lookup;
	lr->os.arg = ka;
	rc = fetch_serve_new(local_replicas_lookup, ka, NULL, &lr->fs);
	if (rc) {
		free(lr);
		return rc;
	}
	rc = fetch_serve_register(lr->fs, srv);
	if (rc == 0)
		rc = offsets_serve_register(&lr->os, srv);
	if (rc) {
		local_replicas_free(lr);
		return rc;
	}
	kafka_set_hw_waker(ka, wake, lr->fs);
	lr->waking = true;
	*out = lr;
	return 0;
}

void local_replicas_stop(struct local_replicas *lr)
{
	if (!lr)
		return;
	if (lr->waking)
		kafka_set_hw_waker(lr->ka, NULL, NULL);
	lr->waking = false;
	fetch_serve_stop(lr->fs);
}

int local_replicas_parked(struct local_replicas *lr)
{
	return fetch_serve_parked(lr->fs);
}

void local_replicas_free(struct local_replicas *lr)
{
	if (!lr)
		return;
	local_replicas_stop(lr);
	fetch_serve_free(lr->fs);
	free(lr);
}
