/*
 * topic_dynamic.c — the dynamic broker settings that are topic defaults
 * (Kafka 3.7's DynamicLogConfig: log.retention.ms, log.segment.bytes,
 * min.insync.replicas, ...), set with AlterConfigs on a broker resource
 * and kept in ZooKeeper (/config/brokers/<id>, <default>).
 *
 * The cluster thread reads both znodes at its start and after each
 * /config/changes notification and hands them here
 * (topics_cluster_broker_defaults): the broker's config becomes its
 * --config file's under the cluster default under its own, checked as
 * one (broker_config_dynamic_effective; a combination that does not check
 * is logged and the config in effect kept, as Kafka's
 * DynamicBrokerConfig.updateCurrentConfig). The cleaner's, the producer
 * state's and the listener's settings take it at once (Kafka's
 * LogCleaner, DynamicProducerStateManagerConfig and
 * DynamicConnectionQuota reconfigure), and when the topic defaults
 * changed every topic
 * here takes them for each setting it does not override
 * (topic_config_inherit: the logs of its partitions, leader or follower,
 * reconfigured at once, its catalog file rewritten), as Kafka's
 * DynamicLogConfig.reconfigure updates every log without an override of
 * the key. A topic's override still wins; a value removed falls back to
 * the default's, then the file's, then the built-in one. A topic made or
 * opened later takes the new defaults from catalog_default_config.
 *
 * Invariant: b->dyn_defaults is only replaced here, on the cluster
 * thread, and before the topics take them, so a topic written meanwhile
 * (a .config write on another thread) already sees the new defaults.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "repl/zkdata.h"

/* zc's dynamic keys (broker_config_reconfigurable_key's) as "key=value"
 * lines (the throttle rates, and a value over lines another tool wrote,
 * left out). */
static int dynamic_text(const struct zk_config *zc, char **text, size_t *len)
{
	FILE *f = open_memstream(text, len);

	if (!f)
		return -ENOMEM;
	for (int i = 0; zc && i < zc->n; i++)
		if (broker_config_reconfigurable_key(zc->keys[i], strlen(zc->keys[i])) &&
		    !strchr(zc->values[i], '\n'))
			fprintf(f, "%s=%s\n", zc->keys[i], zc->values[i]);
	if (fclose(f) != 0) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	return 0;
}

static void dynamic_bad(void *arg, const char *line, size_t n, const char *why)
{
	(void)arg;
	mq_log_limited(MQ_WARN, "dynamic broker setting '%.*s' ignored: %s", (int)n, line, why);
}

/* Whether a and b give the same settings. */
static bool defaults_same(const struct topic_config *a, const struct topic_config *b)
{
	char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	bool same = topic_config_render(a, &x, &xl) == 0 && topic_config_render(b, &y, &yl) == 0 &&
		    xl == yl && !memcmp(x, y, xl);

	free(x);
	free(y);
	return same;
}

/* The config in effect from self and def over the file's into *nc: 0,
 * -EINVAL when the levels together do not check (logged), -ENOMEM. */
static int dynamic_effective(struct broker *b, const struct zk_config *self,
			     const struct zk_config *def, struct broker_config *nc)
{
	char *st = NULL, *dt = NULL, err[256] = "";
	size_t sl = 0, dl = 0;
	int rc;

	rc = dynamic_text(self, &st, &sl);
	if (rc == 0)
		rc = dynamic_text(def, &dt, &dl);
	if (rc == 0)
		rc = broker_config_dynamic_effective(&b->cfg, dt, dl, st, sl, nc, dynamic_bad, NULL,
						     err, sizeof(err));
	/* Kafka's DynamicBrokerConfig logs "Per-broker configs of <id>
	 * could not be applied" and keeps its current config. */
	if (rc == -EINVAL)
		mq_log_limited(MQ_ERR,
			       "dynamic broker settings could not be applied: %s; the settings in "
			       "effect stay",
			       err);
	free(st);
	free(dt);
	return rc;
}

int topics_cluster_broker_defaults(void *arg, const struct zk_config *self,
				   const struct zk_config *def, struct cluster_config *eff)
{
	struct broker *b = arg;
	struct broker_config *nc = malloc(sizeof(*nc)), *old_cfg;
	struct topic_config nd, old;
	char **names = NULL;
	int n = 0, rc;

	rc = nc ? dynamic_effective(b, self, def, nc) : -ENOMEM;
	pthread_mutex_lock(&b->dyn_mu);
	if (rc == 0) {
		old_cfg = b->dyn_cfg;
		b->dyn_cfg = nc;
		nc = old_cfg;
	}
	*eff = (b->dyn_cfg ? b->dyn_cfg : &b->cfg)->cluster;
	pthread_mutex_unlock(&b->dyn_mu);
	free(nc);
	if (rc < 0)
		return rc == -EINVAL ? 0 : rc;
	/* Only this thread replaces dyn_cfg: it stays while read here. The
	 * others take them at their next use (Kafka's
	 * DynamicProducerStateManagerConfig and LogCleaner.reconfigure). */
	cleaner_reconfigure(b, b->dyn_cfg->cleaner_backoff_ms, b->dyn_cfg->cleaner_dedupe_bytes);
	if (__atomic_exchange_n(&b->producer_id_expiration_ms,
				b->dyn_cfg->producer_id_expiration_ms,
				__ATOMIC_RELAXED) != b->dyn_cfg->producer_id_expiration_ms)
		mq_log(MQ_INFO, "dynamic broker settings: producer.id.expiration.ms is %" PRId64,
		       b->dyn_cfg->producer_id_expiration_ms);
	topic_config_defaults_of(b->dyn_cfg, &nd);
	catalog_default_config(b, &old);
	if (defaults_same(&old, &nd))
		return 0;
	pthread_mutex_lock(&b->dyn_mu);
	b->dyn_defaults = nd;
	pthread_mutex_unlock(&b->dyn_mu);
	mq_log(MQ_INFO, "dynamic broker settings: the topic defaults changed; every topic takes "
			"them where it has no override");
	rc = broker_topic_list(b, true, &names, &n);
	for (int i = 0; rc == 0 && i < n; i++) {
		struct topic *t;
		int r;

		if (broker_topic_get(b, names[i], &t) < 0)
			continue; /* removed meanwhile */
		r = topic_config_inherit(t);
		if (r < 0 && r != -ENOENT)
			mq_log_limited(MQ_WARN,
				       "topic %s: the new dynamic broker defaults not applied: %s",
				       names[i], strerror(-r));
		topic_put(t);
	}
	broker_names_free(names, n);
	return rc;
}
