/*
 * replfx.c — the shared parts of the replication tests (replfx.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

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
