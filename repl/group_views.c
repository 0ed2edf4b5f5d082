/*
 * group_views.c — what a group shows as text: its .state (members, the
 * assignment, and per partition the committed offset, the log end and the
 * lag, laid out as kafka-consumer-groups.sh --describe), its .config
 * (the settings, one key=value per line; a write is all or nothing,
 * durable before it takes effect, and a strategy change rebalances), and
 * the consumer group families of .metrics (lag, committed offset,
 * members per group).
 *
 * Texts are built under group.mu; the metrics copy the groups' offsets
 * under coord.mu and group.mu, then read the logs' states without them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/group_int.h"

/* Closes the stream; only then are *buf and *blen final. */
static int memstream_done(FILE *f, char **out, size_t *len, char **buf, size_t *blen)
{
	if (fclose(f) != 0) {
		free(*buf);
		return -ENOMEM;
	}
	*out = *buf;
	*len = *blen;
	return 0;
}

int group_state_text(struct group *g, char **out, size_t *len)
{
	char *buf = NULL, kafka[4096] = "";
	size_t blen = 0;
	FILE *f;
	int rc;

	/* The Kafka members of the group's name (group_serve.c), taken
	 * before group.mu: coord.mu comes first. */
	pthread_mutex_lock(&g->gc->mu);
	if (g->gc->kafka_describe)
		g->gc->kafka_describe(g->gc->kafka_arg, g->name, g->topic, kafka, sizeof(kafka));
	pthread_mutex_unlock(&g->gc->mu);
	/* Another broker coordinates the group: the committed offsets are
	 * its, -1 included (as .groups/<g>/<p> reads them, group_offset);
	 * not answering, what this broker knows. */
	int32_t node = group_kafka_coordinator(g);
	int np = node >= 0 ? topic_partitions(g->t) : 0;

	/* The settings too are the coordinator's, as .config shows them: a
	 * proxy's own copy is only as new as its last .config read (a proxy
	 * made by a lookup starts with the defaults). Not answering within
	 * a second: the copy. */
	if (node >= 0)
		(void)group_admin_fetch_config(g, node);
	int32_t *parts = np > 0 ? malloc(sizeof(*parts) * (size_t)np) : NULL;
	int64_t *remote = parts ? malloc(sizeof(*remote) * (size_t)np) : NULL;

	for (int p = 0; remote && p < np; p++)
		parts[p] = p;
	if (remote && group_remote_offsets(g, node, parts, np, remote) < 0) {
		free(remote);
		remote = NULL;
	}
	rc = group_lock_live(g);
	if (rc == 0 && remote)
		group_remote_learn(g, parts, remote, np);
	free(parts);
	if (rc < 0) {
		free(remote);
		return rc;
	}
	f = open_memstream(&buf, &blen);
	if (!f) {
		pthread_mutex_unlock(&g->mu);
		free(remote);
		return -ENOMEM;
	}
	fprintf(f,
		"group %s\ntopic %s\nstate %s\ngeneration %d\n"
		"partition.assignment.strategy %s\nmembers %d\n",
		g->name, g->topic, g->nmembers ? "Stable" : "Empty", (int)g->generation,
		assign_strategy_name(g->strategy), g->nmembers);
	for (struct group_member *m = g->members; m; m = m->next) {
		bool any = false;

		fprintf(f, "member %s pid %d partitions ", m->id, (int)m->pid);
		for (int p = 0; p < g->nparts; p++) {
			if (g->parts[p].owner == m) {
				fprintf(f, "%s%d", any ? "," : "", p);
				any = true;
			}
		}
		fprintf(f, "%s\n", any ? "" : "-");
	}
	fputs(kafka, f);
	fprintf(f, "%-9s %-14s %-14s %-8s %s\n", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET",
		"LAG", "CONSUMER-ID");
	for (int p = 0; p < g->nparts && p < topic_partitions(g->t); p++) {
		struct log_state st;
		char cur[24];

		if (topic_log_state(g->t, p, &st) < 0)
			continue;
		int64_t committed = remote && p < np ? remote[p] : g->parts[p].committed;

		if (committed >= 0)
			snprintf(cur, sizeof(cur), "%" PRId64, committed);
		else
			snprintf(cur, sizeof(cur), "-");
		fprintf(f, "%-9d %-14s %-14" PRId64 " %-8" PRId64 " %s\n", p, cur, st.hw,
			group_lag(g->gc->b, g->topic, p, committed, g->reset_latest, &st),
			g->parts[p].owner ? g->parts[p].owner->id : "-");
	}
	pthread_mutex_unlock(&g->mu);
	free(remote);
	return memstream_done(f, out, len, &buf, &blen);
}

int group_config_text(struct group *g, char **out, size_t *len)
{
	char *buf = malloc(256);
	int32_t node;
	int n;

	if (!buf)
		return -ENOMEM;
	/* The settings are the coordinator's: a proxy shows what it says
	 * (or, when it does not answer, the last it knew). */
	pthread_mutex_lock(&g->gc->mu);
	node = group_remote_node(g);
	pthread_mutex_unlock(&g->gc->mu);
	if (node >= 0)
		(void)group_admin_fetch_config(g, node);
	pthread_mutex_lock(&g->mu);
	n = snprintf(buf, 256,
		     "partition.assignment.strategy=%s\nauto.offset.reset=%s\n"
		     "session.timeout.ms=%d\n",
		     assign_strategy_name(g->strategy), g->reset_latest ? "latest" : "earliest",
		     (int)g->session_timeout_ms);
	pthread_mutex_unlock(&g->mu);
	*out = buf;
	*len = (size_t)n;
	return 0;
}

int group_config_write(struct group *g, const char *text, size_t len)
{
	char why[200] = "";
	int strategy, rc;
	bool latest;
	int32_t session, node;

again:
	pthread_mutex_lock(&g->gc->mu);
	node = group_remote_node(g);
	pthread_mutex_unlock(&g->gc->mu);
	rc = group_lock_live(g);
	if (rc < 0)
		return rc;
	strategy = g->strategy;
	latest = g->reset_latest;
	session = g->session_timeout_ms;
	rc = group_settings_apply(text, len, '\n', &strategy, &latest, &session, why, sizeof(why));
	if (rc < 0) {
		mq_log_limited(MQ_WARN, "group %s of topic %s: .config refused: %s", g->name,
			       g->topic, why);
		goto out;
	}
	if (node != -1) {
		/* The settings are the coordinator's, whose members use
		 * them: set there (checked here alike), then kept here as
		 * the proxy's copy, which its .config shows. */
		pthread_mutex_unlock(&g->mu);
		rc = group_admin_forward_config(g, node, text, len);
		if (rc == GADM_LOCAL)
			goto again;
		if (rc < 0)
			return rc;
		pthread_mutex_lock(&g->mu);
		g->strategy = strategy;
		g->reset_latest = latest;
		g->session_timeout_ms = session;
		group_timer_kick(g->gc); /* a shorter session */
		goto out;
	}
	if (strategy == g->strategy && latest == g->reset_latest &&
	    session == g->session_timeout_ms)
		goto out;
	{
		struct group tmp;

		/* Durable first; memory only once the record is in. */
		memcpy(tmp.name, g->name, sizeof(tmp.name));
		memcpy(tmp.topic, g->topic, sizeof(tmp.topic));
		tmp.gc = g->gc;
		tmp.strategy = strategy;
		tmp.reset_latest = latest;
		tmp.session_timeout_ms = session;
		tmp.nmembers = g->nmembers;
		tmp.idle_since = g->idle_since;
		rc = group_store_meta(&tmp);
	}
	if (rc < 0)
		goto out;
	if (strategy != g->strategy) {
		mq_log(MQ_INFO, "group %s of topic %s: partition.assignment.strategy %s -> %s",
		       g->name, g->topic, assign_strategy_name(g->strategy),
		       assign_strategy_name(strategy));
		g->strategy = strategy;
		rc = group_rebalance(g);
	}
	g->reset_latest = latest;
	g->session_timeout_ms = session;
	group_timer_kick(g->gc); /* a shorter session */
out:
	pthread_mutex_unlock(&g->mu);
	return rc;
}

struct gsnap {
	char topic[TOPIC_NAME_MAX + 1];
	char name[TOPIC_NAME_MAX + 1];
	bool latest;
	int nmembers;
	int n;
	int64_t *committed; /* [n], -1: none */
	int64_t *lag;       /* [n], -1: partition unreadable */
};

/* A gauge family with one sample per partition of each group, of its
 * lag or its committed offset; a value < 0 has no sample. */
static void gauge_per_partition(FILE *f, const struct gsnap *gs, int n, bool lag, const char *name,
				const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (int i = 0; i < n; i++) {
		const int64_t *v = lag ? gs[i].lag : gs[i].committed;

		for (int p = 0; p < gs[i].n; p++)
			if (v[p] >= 0)
				fprintf(f,
					"%s{topic=\"%s\",group=\"%s\",partition=\"%d\"} %" PRId64
					"\n",
					name, gs[i].topic, gs[i].name, p, v[p]);
	}
}

/* Copies the groups' offsets under the locks, then reads the logs' states
 * without them. Group and topic names are [A-Za-z0-9._-]: no label value
 * needs escaping. Only the groups this broker coordinates: a proxy's
 * offsets are the coordinator's as it last asked them (a .state or an
 * offset file read), which a commit elsewhere leaves behind and which
 * outlive the group's deletion at the coordinator, and its members are
 * counted at the coordinator too (as guests); so each group has its
 * samples once in the cluster, on its coordinator's .metrics. */
void group_metrics_text(struct broker *b, FILE *f)
{
	struct group_coord *gc = b->gc;
	struct gsnap *gs = NULL;
	int n = 0;

	if (!gc)
		return;
	pthread_mutex_lock(&gc->mu);
	gs = calloc((size_t)gc->ngroups + 1, sizeof(*gs));
	for (int i = 0; gs && i < gc->ngroups; i++) {
		struct group *g = gc->groups[i];
		struct gsnap *s = &gs[n];

		/* group_remote_node: -1 when this broker coordinates it (or
		 * there is no cluster); it takes no group lock. */
		if (group_remote_node(g) != -1)
			continue;
		pthread_mutex_lock(&g->mu);
		if (g->proxy || g->moved || g->deleted) {
			pthread_mutex_unlock(&g->mu);
			continue;
		}
		snprintf(s->topic, sizeof(s->topic), "%s", g->topic);
		snprintf(s->name, sizeof(s->name), "%s", g->name);
		s->latest = g->reset_latest;
		s->nmembers = g->nmembers;
		s->committed = calloc((size_t)g->nparts + 1, sizeof(int64_t));
		s->lag = calloc((size_t)g->nparts + 1, sizeof(int64_t));
		if (s->committed && s->lag) {
			s->n = g->nparts;
			for (int p = 0; p < g->nparts; p++)
				s->committed[p] = g->parts[p].committed;
		}
		pthread_mutex_unlock(&g->mu);
		n++;
	}
	pthread_mutex_unlock(&gc->mu);
	for (int i = 0; i < n; i++) {
		struct topic *t;

		if (broker_topic_get(b, gs[i].topic, &t) < 0) {
			gs[i].n = 0;
			continue;
		}
		if (gs[i].n > topic_partitions(t))
			gs[i].n = topic_partitions(t);
		for (int p = 0; p < gs[i].n; p++) {
			struct log_state st;

			if (topic_log_state(t, p, &st) < 0) {
				gs[i].lag[p] = -1;
				continue;
			}
			gs[i].lag[p] =
				group_lag(b, gs[i].topic, p, gs[i].committed[p], gs[i].latest, &st);
		}
		topic_put(t);
	}
	gauge_per_partition(f, gs, n, true, "mqfs_consumer_group_lag",
			    "Records of the partition from where the group's next reader "
			    "starts (its committed offset; auto.offset.reset without one or "
			    "past the log end; the log start below it) to the high watermark.");
	gauge_per_partition(f, gs, n, false, "mqfs_consumer_group_committed_offset",
			    "The "
			    "group's committed offset (the next record to consume); partitions "
			    "with no commit have no sample.");
	fprintf(f, "# HELP mqfs_consumer_group_members Open consume files of the group.\n"
		   "# TYPE mqfs_consumer_group_members gauge\n");
	for (int i = 0; i < n; i++)
		fprintf(f, "mqfs_consumer_group_members{topic=\"%s\",group=\"%s\"} %d\n",
			gs[i].topic, gs[i].name, gs[i].nmembers);
	for (int i = 0; i < n; i++) {
		free(gs[i].committed);
		free(gs[i].lag);
	}
	free(gs);
}
