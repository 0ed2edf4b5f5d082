/*
 * client_quota.h — Kafka's client quotas (ClientQuotaManager with the
 * default quota callback): byte-rate bounds on what clients produce and
 * fetch, per user (the connection's SASL principal, ANONYMOUS on
 * PLAINTEXT), per client id (the request header's), or per pair, with
 * defaults. Private to repl/.
 *
 * The entities are those of ZooKeeper's /config/users/<u>,
 * /config/users/<u>/clients/<c> and /config/clients/<c>, names as Kafka
 * writes them there: sanitized (client_quota_sanitize) and "<default>"
 * for the default entity. The cluster thread hands the whole table over
 * (client_quotas_replace) whenever a /config/changes notice arrives.
 *
 * Resolution, for user U and client C, per key (each key independently,
 * the first entity that sets it wins; Kafka's DefaultQuotaCallback):
 *   1 users/U/clients/C          5 users/<default>/clients/<default>
 *   2 users/U/clients/<default>  6 users/<default>
 *   3 users/U                    7 clients/C
 *   4 users/<default>/clients/C  8 clients/<default>
 * An empty client id (null is empty, as Kafka's RequestHeader) is bound
 * by steps 3 and 6 only: Kafka's callback resolves it through metric
 * tags with no client id, which no client-id entity matches.
 * The rate is measured per metric entity, the (user, client) pair with
 * the parts the matched entity does not name left empty (Kafka's metric
 * tags): a client-id quota is shared by every user of that client id.
 *
 * Throttle (Kafka's QuotaUtils.throttleTime): after recording the bytes,
 * while the measured rate is above the bound,
 *   throttle_time_ms = (rate - bound) / bound * span
 * span being the rate's window (throttle_rate_span_ms, Kafka's Rate:
 * at least quota.window.num - 1 windows): how long the client must
 * stay silent for its rate to come back to the bound.
 *
 * Threads: every function takes the table's mutex (a leaf); callable
 * from any listener worker and the cluster thread.
 */
#ifndef MQFS_REPL_CLIENT_QUOTA_H
#define MQFS_REPL_CLIENT_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLIENT_QUOTA_DEFAULT   "<default>" /* Kafka's ConfigEntityName.Default */
#define CLIENT_QUOTA_ANONYMOUS "ANONYMOUS" /* the user of a PLAINTEXT connection */
#define CLIENT_QUOTA_PRODUCER  "producer_byte_rate"
#define CLIENT_QUOTA_CONSUMER  "consumer_byte_rate"
#define CLIENT_QUOTA_REQUEST   "request_percentage"
#define CLIENT_QUOTA_MUTATION  "controller_mutation_rate"
#define CLIENT_QUOTA_MAX_NAME  1024 /* a sanitized name, bytes, longer refused */

enum client_quota_kind { CLIENT_QUOTA_PRODUCE, CLIENT_QUOTA_FETCH };

/* One entity's settings as ZooKeeper holds them (names sanitized; NULL:
 * the entity has no such part). A bound of -1: not set here. */
struct client_quota_entity {
	char *user;
	char *client;
	int64_t producer_byte_rate;
	int64_t consumer_byte_rate;
};

struct client_quotas;

/* An empty table (no quota: nothing throttled) measuring over samples
 * windows of window_ms. -EINVAL (samples outside 1..1000, window_ms < 1),
 * -ENOMEM. */
int client_quotas_new(int samples, int64_t window_ms, struct client_quotas **out);
void client_quotas_free(struct client_quotas *q);

/* Takes over ents[0..n) (and the strings they point to) in every case,
 * replacing the table; the rates measured so far are kept for the metric
 * entities that remain. */
void client_quotas_replace(struct client_quotas *q, struct client_quota_entity *ents, int n);
/* Frees an entity array as client_quotas_replace would. */
void client_quota_entities_free(struct client_quota_entity *ents, int n);

/* Records bytes of kind from (user, client_id) at now_ms (both names as
 * the connection has them; user NULL: ANONYMOUS) and returns the throttle
 * time in ms, 0 when no quota applies or the rate is within it. With
 * take_back, bytes that make a throttle are taken out again (Kafka's
 * unrecordQuotaSensor: a throttled Fetch is answered without records). */
int32_t client_quotas_record(struct client_quotas *q, enum client_quota_kind kind, const char *user,
			     const char *client_id, int64_t bytes, bool take_back, int64_t now_ms);
/* client_quotas_record for a request on the listener: its connection's
 * user and its header's client id, now on the monotonic clock. A
 * throttled request's connection is muted for the throttle time once
 * its response is out (net_req_mute), and it is logged (rate-limited)
 * with the peer. q NULL: 0. From whoever owns req (net.h). */
struct net_req;
int32_t client_quotas_record_req(struct client_quotas *q, struct net_req *req,
				 enum client_quota_kind kind, int64_t bytes, bool take_back);
/* The most bytes of kind that (user, client_id) can take in one response
 * without being throttled for them alone (Kafka's
 * getMaxValueInQuotaWindow: the bound over quota.window.num - 1 windows);
 * INT64_MAX when no quota applies. A consumer's Fetch is capped to it,
 * or a backlog bigger than that would be read, throttled, taken back
 * and answered empty at every fetch, and the consumer would never move. */
int64_t client_quotas_window_max(struct client_quotas *q, enum client_quota_kind kind,
				 const char *user, const char *client_id);
/* client_quotas_window_max of req's user and client id (INT64_MAX for a
 * broker's own request, as client_quotas_record_req). */
int64_t client_quotas_window_max_req(struct client_quotas *q, struct net_req *req,
				     enum client_quota_kind kind);
/* The requests of kind throttled since start and the sum of their
 * throttle times (ms), for .metrics (Kafka's throttle-time sensors). */
void client_quotas_stats(struct client_quotas *q, enum client_quota_kind kind, int64_t *throttled,
			 int64_t *throttle_ms);
/* The brokers' own requests to each other (client id NET_CLIENT_ID from
 * user, the brokers' SASL user; "" on a PLAINTEXT cluster): forwarded
 * mount writes, read copies' fetches. They are never client-quota'd, as
 * Kafka's inter-broker traffic is not: a quota on every user or client
 * would otherwise hold back the mounts' own writers and readers. */
void client_quotas_exempt(struct client_quotas *q, const char *user);
/* The bound that applies to (user, client_id) for kind, -1: none; which
 * (may be NULL) gets the resolution step 1..8 that set it. */
int64_t client_quotas_bound(struct client_quotas *q, enum client_quota_kind kind, const char *user,
			    const char *client_id, int *which);

/* Kafka's Sanitizer: s (n bytes) URL-encoded (UTF-8 bytes; A-Z a-z 0-9 .
 * - _ kept, space as %20, everything else %XX in upper case) into out.
 * The length, or -ENAMETOOLONG when it does not fit size. */
int client_quota_sanitize(const char *s, size_t n, char *out, size_t size);
/* The reverse: -EINVAL for a malformed %XX. */
int client_quota_desanitize(const char *s, char *out, size_t size);

/* Kafka's check of one AlterClientQuotas op value for key: 0 and the
 * text the znode keeps in out; -EINVAL (why: Kafka's message) for an
 * unknown key, a byte rate that is not a whole number, a value not > 0;
 * -EOPNOTSUPP for a key Kafka knows that this broker does not enforce
 * (request_percentage, controller_mutation_rate). */
int client_quota_value_text(const char *key, double value, char *out, size_t size, char *why,
			    size_t whylen);

#endif
