/*
 * client_quota_zk.c — the client quota entities as ZooKeeper holds them
 * (zkdata.h: /config/clients/<c>, /config/users/<u>,
 * /config/users/<u>/clients/<c>), read whole: by the cluster thread when
 * a /config/changes notice arrives (the table every Produce and Fetch
 * consults) and by DescribeClientQuotas.
 *
 * A value that is not a whole number of bytes per second >= 0 (written
 * by another tool) is logged and left out, as the entity's other keys
 * still apply. The SCRAM credential beside a user's quotas is not
 * looked at.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/client_quota.h"
#include "repl/client_quota_zk.h"
#include "repl/zkc.h"
#include "repl/zkdata.h"
#include "repl/zkmeta.h"
#include "util/diaglog.h"

struct ent_list {
	struct client_quota_entity *v;
	int n, cap;
};

/* A byte rate as the znode keeps it: -1 when absent or not one. */
static int64_t rate_of(const struct zk_config *c, const char *key, const char *entity)
{
	const char *s = zk_config_get(c, key);
	char *end;
	long long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		mq_log_limited(MQ_WARN, "client quota %s: %s='%s' is not a byte rate: ignored",
			       entity, key, s);
		return -1;
	}
	return v;
}

/* Reads /config/<entity> and adds it (user, client: its parts, NULL
 * absent) when it sets a quota. A znode gone meanwhile is skipped. */
static int add_entity(struct zkc *zk, struct ent_list *l, const char *entity, const char *user,
		      const char *client)
{
	struct client_quota_entity e = { NULL, NULL, -1, -1 };
	char why[ZK_WHY_LEN] = "";
	struct zk_config c;
	int rc = zkmeta_entity_config(zk, entity, &c, NULL, why);

	if (rc == -ENOENT)
		return 0;
	if (rc == -EBADMSG) {
		mq_log_limited(MQ_WARN, "client quota /config/%s does not decode (%s): ignored",
			       entity, why);
		return 0;
	}
	if (rc < 0)
		return rc;
	e.producer_byte_rate = rate_of(&c, CLIENT_QUOTA_PRODUCER, entity);
	e.consumer_byte_rate = rate_of(&c, CLIENT_QUOTA_CONSUMER, entity);
	zk_config_clear(&c);
	if (e.producer_byte_rate < 0 && e.consumer_byte_rate < 0)
		return 0;
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 16;
		struct client_quota_entity *v = realloc(l->v, (size_t)cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	e.user = user ? strdup(user) : NULL;
	e.client = client ? strdup(client) : NULL;
	if ((user && !e.user) || (client && !e.client)) {
		free(e.user);
		free(e.client);
		return -ENOMEM;
	}
	l->v[l->n++] = e;
	return 0;
}

/* The children of /config/<dir>; none when it does not exist. */
static int children(struct zkc *zk, const char *dir, char ***names)
{
	char path[ZK_PATH_MAX];
	int n;

	*names = NULL;
	if (snprintf(path, sizeof(path), "/config/%s", dir) >= (int)sizeof(path))
		return 0;
	n = zkc_children(zk, path, names, NULL, NULL);
	return n == -ENOENT ? 0 : n;
}

/* A user's own entity and its (user, client) ones. */
static int add_user(struct zkc *zk, struct ent_list *l, const char *user)
{
	char ent[ZK_PATH_MAX], **clients;
	int n, rc;

	snprintf(ent, sizeof(ent), "users/%s", user);
	rc = add_entity(zk, l, ent, user, NULL);
	if (rc < 0)
		return rc;
	snprintf(ent, sizeof(ent), "users/%s/clients", user);
	n = children(zk, ent, &clients);
	if (n < 0)
		return n;
	for (int i = 0; i < n && rc == 0; i++) {
		char one[ZK_PATH_MAX];

		if (snprintf(one, sizeof(one), "users/%s/clients/%s", user, clients[i]) <
		    (int)sizeof(one))
			rc = add_entity(zk, l, one, user, clients[i]);
	}
	zkc_names_free(clients, n);
	return rc;
}

int client_quota_zk_read(struct zkc *zk, struct client_quota_entity **out, int *n_out)
{
	struct ent_list l = { 0 };
	char **names;
	int n, rc = 0;

	n = children(zk, "clients", &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n && rc == 0; i++) {
		char ent[ZK_PATH_MAX];

		if (snprintf(ent, sizeof(ent), "clients/%s", names[i]) < (int)sizeof(ent))
			rc = add_entity(zk, &l, ent, NULL, names[i]);
	}
	zkc_names_free(names, n);
	if (rc == 0) {
		n = children(zk, "users", &names);
		if (n < 0)
			rc = n;
		for (int i = 0; i < n && rc == 0; i++)
			rc = add_user(zk, &l, names[i]);
		/* An empty listing is an array too (names NULL on an error). */
		zkc_names_free(names, n > 0 ? n : 0);
	}
	if (rc < 0) {
		client_quota_entities_free(l.v, l.n);
		return rc;
	}
	*out = l.v;
	*n_out = l.n;
	return 0;
}
