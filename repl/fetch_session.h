/*
 * fetch_session.h — the leader's cache of incremental fetch sessions
 * (Kafka's KIP-227, FetchSession.scala's FetchSessionCache and
 * FetchSession). Private to repl/; fetch_serve.c owns one.
 *
 * A session keeps, per partition, what its fetcher last asked (the
 * request's partition fields) and what it was last told (hw, log start),
 * so that an incremental Fetch names only the partitions whose request
 * changed and is answered only the partitions with news (records, a
 * changed hw or log start, an error, a diverging epoch). Epochs, as
 * Kafka's FetchMetadata: a Fetch's session_epoch 0 is a full fetch that
 * opens a session, -1 a full fetch that opens none (either closes the
 * session it names); above 0 an incremental fetch of the session, whose
 * epoch the session expects next (1 after its opening, then +1,
 * wrapping from INT32_MAX to 1).
 *
 * The cache holds at most `slots` sessions. A new one takes the place of
 * (tryEvict): the least recently used, if unused for eviction_ms; else
 * the least valuable of the evictable ones (valued by privileged, a
 * follower's, then by partitions) when the new one is worth as much. A
 * session becomes evictable when touched after eviction_ms of life, a
 * consumer's one always evictable by a follower's.
 *
 * Every function takes the cache's own lock; none calls out with it.
 */
#ifndef MQFS_REPL_FETCH_SESSION_H
#define MQFS_REPL_FETCH_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "repl/proto.h"

/* Kafka's max.incremental.fetch.session.cache.slots and
 * min.incremental.fetch.session.eviction.ms defaults. */
#define FETCH_SESSION_SLOTS_DEFAULT       1000
#define FETCH_SESSION_EVICTION_MS_DEFAULT 120000

struct fetch_sessions;

/* slots 0: no session is ever made (every full fetch is answered with
 * session_id 0). -ENOMEM. */
int fetch_sessions_new(int32_t slots, int64_t eviction_ms, struct fetch_sessions **out);
void fetch_sessions_free(struct fetch_sessions *c);
/* Sessions held now (tests, metrics). */
int32_t fetch_sessions_count(struct fetch_sessions *c);
/* Partitions the sessions hold, all told (Kafka's
 * NumIncrementalFetchPartitionsCached). */
int32_t fetch_sessions_partitions(struct fetch_sessions *c);
/* Closes session id; whether there was one. */
bool fetch_sessions_remove(struct fetch_sessions *c, int32_t id);

/* One partition of a full fetch's answer, for fetch_sessions_create. */
struct fetch_session_entry {
	struct kstr topic;
	const struct proto_fetch_part *req;
	int64_t hw;        /* the answer's high_watermark */
	int64_t log_start; /* the answer's log_start_offset */
};

/* Opens a session of the n partitions a full fetch (epoch 0) was
 * answered, if the cache has room (above); privileged: a follower's.
 * Returns its id (> 0), 0 when none was made, -ENOMEM. */
int32_t fetch_sessions_create(struct fetch_sessions *c, bool privileged, int64_t now_ms, int n,
			      const struct fetch_session_entry *e);

/* An incremental fetch's view of its session: every partition of the
 * session, in the session's order, as a request's topics (owned). */
struct fetch_session_view {
	int32_t id;    /* 0: no session (the request closed it) */
	int32_t epoch; /* the epoch the session expects after this fetch */
	int32_t n_topics;
	struct proto_fetch_topic *topics;
	struct proto_fetch_part *parts; /* the topics' partitions, n of them */
	int n;
	int64_t *hw;        /* per partition, what the session last told */
	int64_t *log_start; /* likewise */
	char *names;
};

/* Applies an incremental fetch (m->session_id, m->session_epoch > 0):
 * its partitions added or updated, then its forgotten ones removed.
 * Returns 0 and *v (free with fetch_session_view_free) with v->id the
 * session's, or v->id 0 when that left it empty (the session closed: the
 * request is served without one, as Kafka's); or
 * PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND, PROTO_ERR_INVALID_FETCH_SESSION_EPOCH
 * (nothing changed); -ENOMEM. */
int fetch_sessions_update(struct fetch_sessions *c, const struct proto_fetch_req *m, int64_t now_ms,
			  struct fetch_session_view *v);
void fetch_session_view_free(struct fetch_session_view *v);

/* One partition of an incremental fetch's answer, in the view's order. */
struct fetch_session_answer {
	int64_t hw;
	int64_t log_start;
	bool records;   /* records_len > 0 */
	bool error;     /* error_code != 0 */
	bool diverging; /* has_diverging_epoch */
	bool preferred; /* preferred_read_replica >= 0 */
	bool include;   /* out: answered (Kafka's maybeUpdateResponseData) */
};

/* Decides which of the view's partitions the answer includes and
 * remembers what they tell; a partition with records goes to the end of
 * the session's order (the next fetch reads the others first, for
 * max_bytes' fairness). PROTO_ERR_INVALID_FETCH_SESSION_EPOCH when
 * another fetch of the session came meanwhile (a duplicate request: the
 * answer goes without partitions); 0 otherwise (a session evicted
 * meanwhile is answered from the view). */
int16_t fetch_sessions_answer(struct fetch_sessions *c, const struct fetch_session_view *v,
			      struct fetch_session_answer *a);
/* As fetch_sessions_answer, remembering and moving nothing: what the
 * answer would include now (Kafka's IncrementalFetchContext.
 * getResponseSize, which sizes the answer before the client quota
 * decides whether it is sent). */
int16_t fetch_sessions_peek(struct fetch_sessions *c, const struct fetch_session_view *v,
			    struct fetch_session_answer *a);

/* PROTO_ERR_INVALID_FETCH_SESSION_EPOCH when another fetch of v's
 * session came since v was taken (fetch_sessions_answer's check alone,
 * for an answer that names no partition: a throttled one, as Kafka's
 * getThrottledResponse checks it); 0 otherwise (a session evicted
 * meanwhile too). */
int16_t fetch_sessions_epoch_check(struct fetch_sessions *c, const struct fetch_session_view *v);

/* Calls fn for each partition of session id (false ends it early);
 * false when there is no such session. */
bool fetch_sessions_each(struct fetch_sessions *c, int32_t id,
			 bool (*fn)(void *arg, struct kstr topic, int32_t partition), void *arg);

/* Kafka's FetchMetadata.nextEpoch. */
int32_t fetch_session_next_epoch(int32_t epoch);

#endif
