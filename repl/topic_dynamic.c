/*
 * topic_dynamic.c — the dynamic broker settings that are topic defaults
 * (Kafka 3.7's DynamicLogConfig: log.retention.ms, log.segment.bytes,
 * min.insync.replicas, ...), set with AlterConfigs on a broker resource
 * and kept in ZooKeeper (/config/brokers/<id>, <default>).
 *
 * The cluster thread reads both znodes at its start and after each
 * /config/changes notification and hands them here
 * (topics_cluster_broker_defaults): the broker's topic defaults become
 * its --config file's under the cluster default under its own
 * (broker_config_dynamic_defaults), and when they changed every topic
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/broker_int.h"
#include "repl/zkdata.h"

/* zc's topic-default keys as "key=value" lines (the throttle rates, and
 * a value over lines another tool wrote, left out). */
static int dynamic_text(const struct zk_config *zc, char **text, size_t *len)
{
	FILE *f = open_memstream(text, len);

	if (!f)
		return -ENOMEM;
	for (int i = 0; zc && i < zc->n; i++)
		if (broker_config_dynamic_key(zc->keys[i], strlen(zc->keys[i])) &&
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

int topics_cluster_broker_defaults(void *arg, const struct zk_config *self,
				   const struct zk_config *def)
{
	struct broker *b = arg;
	struct topic_config nd, old;
	char *st = NULL, *dt = NULL, **names = NULL;
	size_t sl = 0, dl = 0;
	int n = 0, rc;

	rc = dynamic_text(self, &st, &sl);
	if (rc == 0)
		rc = dynamic_text(def, &dt, &dl);
	if (rc == 0)
		rc = broker_config_dynamic_defaults(&b->cfg, dt, dl, st, sl, &nd, dynamic_bad,
						    NULL);
	free(st);
	free(dt);
	if (rc < 0)
		return rc;
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
