/*
 * metadata_cache.h — private to repl/: what this broker knows of the
 * cluster, as Kafka's MetadataCache: the brokers (registered ones alive,
 * with their advertised endpoints; ones seen before and gone since kept,
 * marked gone, so an operator sees who left), the controller and the
 * cluster id. Filled by cluster.c from ZooKeeper's /brokers/ids,
 * /controller and /cluster/id; read by the views.
 *
 * Threads: every function takes the cache's own mutex (a leaf); any thread.
 */
#ifndef MQFS_REPL_METADATA_CACHE_H
#define MQFS_REPL_METADATA_CACHE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define METADATA_ENDPOINTS_MAX 1024
#define METADATA_RACK_MAX      256 /* as CLUSTER_RACK_MAX: a longer one is cut */

struct metadata_broker {
	int32_t id;
	bool alive;
	bool has_rack;                          /* its registration has "rack" */
	char endpoints[METADATA_ENDPOINTS_MAX]; /* "NAME://host:port,..." */
	char rack[METADATA_RACK_MAX];           /* broker.rack, when has_rack */
};

struct metadata_cache;

int metadata_cache_new(struct metadata_cache **out);
void metadata_cache_free(struct metadata_cache *mc);
/* The registered brokers now (any order, ids distinct): each becomes
 * alive with its endpoints; a broker known before and not among them is
 * kept, marked gone. -EINVAL (nothing changed) for a negative or repeated
 * id, -ENOMEM. */
int metadata_cache_set_brokers(struct metadata_cache *mc, const struct metadata_broker *live,
			       int n);
/* The controller's broker id, -1 when none. */
void metadata_cache_set_controller(struct metadata_cache *mc, int32_t id);
int32_t metadata_cache_controller(struct metadata_cache *mc);
void metadata_cache_set_cluster_id(struct metadata_cache *mc, const char *id);
/* The cluster id into buf ("" before it is known). */
void metadata_cache_cluster_id(struct metadata_cache *mc, char *buf, size_t cap);
/* A copy of every broker known, sorted by id (malloc'd; free()). Returns
 * the count or -ENOMEM. */
int metadata_cache_brokers(struct metadata_cache *mc, struct metadata_broker **out);
/* A copy of broker id into out; false when it is not known. */
bool metadata_cache_broker(struct metadata_cache *mc, int32_t id, struct metadata_broker *out);
/* Whether some live brokers have a rack and some do not: Kafka's
 * AdminUtils then refuses any replica placement ("Not all brokers have
 * rack information"). */
bool metadata_cache_racks_mixed(struct metadata_cache *mc);
/* Writes the cache for MNT/.state:
 *   cluster.id=<id>
 *   controller=<id or -1>
 *   brokers=[1,2,3]                          (alive ones)
 *   broker.<id>=alive|gone <endpoints>[ rack=<rack>]  (one line per
 *                                            broker known; rack= when it
 *                                            registered a broker.rack) */
void metadata_cache_render(struct metadata_cache *mc, FILE *f);

#endif
