/*
 * replfx.c — the shared parts of the replication tests (replfx.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "tests/unit/replfx.h"

int replfx_mkdtemp(char *dir, size_t cap, const char *tag)
{
	snprintf(dir, cap, "/tmp/mqfs-test-%s.XXXXXX", tag);
	return mkdtemp(dir) ? 0 : -1;
}

int replfx_rmrf(const char *dir)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

void replfx_listener_new(bool sasl, int port, sasl_lookup_fn lookup, void *lookup_arg,
			 struct net_server **srv)
{
	struct net_config cfg;
	char spec[64];

	net_config_default(&cfg);
	snprintf(spec, sizeof(spec), "%s://127.0.0.1:%d", sasl ? "SASL_PLAINTEXT" : "PLAINTEXT",
		 port);
	assert_int_equal(net_config_set(&cfg, "listeners", spec), 0);
	cfg.num_network_threads = 1;
	cfg.num_io_threads = 2;
	assert_int_equal(net_server_new(&cfg, lookup, lookup_arg, srv), 0);
}

int replfx_listener_start(struct net_server *srv)
{
	int port;

	assert_int_equal(net_server_start(srv), 0);
	port = net_server_port(srv, 0);
	assert_true(port > 0);
	return port;
}

struct partition_info replfx_info(struct replica_mgr *rm, const char *topic, int32_t partition)
{
	struct partition *p = replica_mgr_get(rm, topic, partition);
	struct partition_info info;

	assert_non_null(p);
	partition_get_info(p, &info);
	partition_unref(p);
	return info;
}

int replfx_value(char *buf, size_t cap, const char *prefix, int i)
{
	return snprintf(buf, cap, "%s-%d", prefix, i);
}

void replfx_notify_init(struct replfx_notify *nt)
{
	pthread_mutex_init(&nt->mu, NULL);
	nt->fn = NULL;
	nt->arg = NULL;
}

void replfx_notify_destroy(struct replfx_notify *nt)
{
	pthread_mutex_destroy(&nt->mu);
}

void replfx_notify_set(struct replfx_notify *nt, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&nt->mu);
	nt->fn = fn;
	nt->arg = arg;
	pthread_mutex_unlock(&nt->mu);
}

void replfx_notify_fire(struct replfx_notify *nt)
{
	void (*fn)(void *);
	void *arg;

	pthread_mutex_lock(&nt->mu);
	fn = nt->fn;
	arg = nt->arg;
	pthread_mutex_unlock(&nt->mu);
	if (fn)
		fn(arg);
}

int replfx_value_in(const uint8_t *buf, size_t len, int64_t offset, char *out, size_t cap)
{
	struct batch_iter it = { 0 };
	struct rec r;
	int rc = -ERANGE;

	if (batch_iter_init(&it, buf, len) < 0) {
		batch_iter_free(&it);
		return -EBADMSG;
	}
	while (batch_iter_next(&it, &r) == 1)
		if (r.offset == offset && r.value_len >= 0 && (size_t)r.value_len < cap) {
			memcpy(out, r.value, (size_t)r.value_len);
			out[r.value_len] = 0;
			rc = 0;
		}
	batch_iter_free(&it);
	return rc;
}
