/*
 * client_quota_zk.h — the client quota entities read from ZooKeeper
 * (client_quota_zk.c). Private to repl/.
 */
#ifndef MQFS_REPL_CLIENT_QUOTA_ZK_H
#define MQFS_REPL_CLIENT_QUOTA_ZK_H

struct client_quota_entity;
struct zkc;

/* Every entity under /config/clients and /config/users that sets
 * producer_byte_rate or consumer_byte_rate, into *out (n_out of them,
 * freed with client_quota_entities_free), names as the znodes have them.
 * 0, or zkc's -errno / -ENOMEM (nothing returned). Whoever owns zk. */
int client_quota_zk_read(struct zkc *zk, struct client_quota_entity **out, int *n_out);

#endif
