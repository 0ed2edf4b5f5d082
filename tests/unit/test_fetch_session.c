/*
 * test_fetch_session.c — the incremental fetch session cache
 * (repl/fetch_session.h) on its own: Kafka's epochs, an incremental
 * fetch's updates and forgotten partitions, which partitions an answer
 * includes (FetchSession.scala's maybeUpdateResponseData) and the order
 * it reads them in, a duplicate request's epoch error, and the cache's
 * eviction (tryEvict). Through the Fetch handler: test_partition.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "repl/fetch_session.h"

/* A request in session (id, epoch) of topic "t" partitions parts[0..n)
 * at offsets 10 * partition, forgetting forget[0..nf). */
struct req {
	struct proto_fetch_part parts[8];
	struct proto_fetch_topic topic;
	int32_t forget[8];
	struct proto_forgotten_topic fg;
	struct proto_fetch_req m;
};

static const struct proto_fetch_req *req_of(struct req *r, int32_t id, int32_t epoch, int n,
					    const int32_t *parts, int nf, const int32_t *forget)
{
	memset(r, 0, sizeof(*r));
	for (int i = 0; i < n; i++)
		r->parts[i] = (struct proto_fetch_part){ .partition = parts[i],
							 .current_leader_epoch = -1,
							 .fetch_offset = 10 * parts[i],
							 .last_fetched_epoch = -1,
							 .log_start_offset = -1,
							 .partition_max_bytes = 100 };
	r->topic = (struct proto_fetch_topic){ kstr_of("t"), n, r->parts };
	for (int i = 0; i < nf; i++)
		r->forget[i] = forget[i];
	r->fg = (struct proto_forgotten_topic){ kstr_of("t"), nf, r->forget };
	r->m = (struct proto_fetch_req){ .session_id = id,
					 .session_epoch = epoch,
					 .n_topics = n > 0,
					 .topics = &r->topic,
					 .n_forgotten = nf > 0,
					 .forgotten = &r->fg };
	return &r->m;
}

/* A session of topic "t" partitions 0..n-1, each told hw 5, log start 0. */
static int32_t open_n(struct fetch_sessions *c, bool privileged, int64_t now, int n)
{
	struct fetch_session_entry e[8];
	struct proto_fetch_part p[8];

	for (int i = 0; i < n; i++) {
		p[i] = (struct proto_fetch_part){ .partition = i, .fetch_offset = 0 };
		e[i] = (struct fetch_session_entry){ kstr_of("t"), &p[i], 5, 0 };
	}
	return fetch_sessions_create(c, privileged, now, n, e);
}

/* The partitions of v, in its order, into idx; returns how many. */
static int view_parts(const struct fetch_session_view *v, int32_t *idx)
{
	int k = 0;

	for (int32_t t = 0; t < v->n_topics; t++) {
		assert_true(kstr_eq(v->topics[t].topic, "t"));
		for (int32_t j = 0; j < v->topics[t].n_partitions; j++)
			idx[k++] = v->topics[t].partitions[j].partition;
	}
	assert_int_equal(k, v->n);
	return k;
}

static void test_next_epoch(void **state)
{
	(void)state;
	assert_int_equal(fetch_session_next_epoch(0), 1);
	assert_int_equal(fetch_session_next_epoch(1), 2);
	assert_int_equal(fetch_session_next_epoch(INT32_MAX), 1);
	assert_int_equal(fetch_session_next_epoch(-1), -1);
}

/* An incremental fetch adds what it names anew (hw -1: answered once),
 * updates what it names again, drops what it forgets; the session
 * expects the next epoch; an empty session closes. */
static void test_update(void **state)
{
	struct fetch_sessions *c;
	struct fetch_session_view v;
	struct req r;
	int32_t id, idx[8];
	const int32_t p2[] = { 2 }, p0[] = { 0 }, p1[] = { 1 };

	(void)state;
	assert_int_equal(fetch_sessions_new(10, 1000, &c), 0);
	id = open_n(c, false, 0, 2);
	assert_true(id > 0);
	assert_int_equal(fetch_sessions_count(c), 1);
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id, 2, 0, NULL, 0, NULL), 0, &v),
			 PROTO_ERR_INVALID_FETCH_SESSION_EPOCH);
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id + 1, 1, 0, NULL, 0, NULL), 0, &v),
			 PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND);
	/* Epoch 1: partition 2 added, 0 updated (offset 0 -> 0, max 100). */
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id, 1, 1, p2, 0, NULL), 0, &v), 0);
	assert_int_equal(v.id, id);
	assert_int_equal(v.epoch, 2);
	assert_int_equal(view_parts(&v, idx), 3);
	assert_int_equal(idx[2], 2);
	assert_int_equal(v.parts[2].fetch_offset, 20);
	assert_int_equal(v.hw[2], -1);
	assert_int_equal(v.hw[0], 5);
	fetch_session_view_free(&v);
	/* Epoch 2: 0 forgotten, 1 updated. */
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id, 2, 1, p1, 1, p0), 0, &v), 0);
	assert_int_equal(view_parts(&v, idx), 2);
	assert_int_equal(idx[0], 1);
	assert_int_equal(v.parts[0].fetch_offset, 10);
	assert_int_equal(v.parts[0].partition_max_bytes, 100);
	fetch_session_view_free(&v);
	/* Epoch 3 forgets the rest: the session closes, no view. */
	const int32_t rest[] = { 1, 2 };
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id, 3, 0, NULL, 2, rest), 0, &v), 0);
	assert_int_equal(v.id, 0);
	assert_int_equal(fetch_sessions_count(c), 0);
	fetch_sessions_free(c);
}

/* Which partitions an answer includes: records, a changed hw or log
 * start, an error (whose hw is forgotten: answered again once it is
 * gone), a diverging epoch, a preferred read replica; a partition with records goes to the end of
 * the order. A view of an epoch the session left (a duplicate request)
 * gets INVALID_FETCH_SESSION_EPOCH. */
/* A session of 4 partitions (hw 5) and its first incremental fetch's
 * view in *v, its answers in a (hw 5, records for the second): its id. */
static int32_t answer_begin(struct fetch_sessions **c, struct fetch_session_view *v,
			    struct fetch_session_answer a[4])
{
	struct req r;
	int32_t id;

	assert_int_equal(fetch_sessions_new(10, 1000, c), 0);
	id = open_n(*c, true, 0, 4);
	assert_int_equal(fetch_sessions_update(*c, req_of(&r, id, 1, 0, NULL, 0, NULL), 0, v), 0);
	for (int i = 0; i < 4; i++)
		a[i] = (struct fetch_session_answer){ .hw = 5, .log_start = 0 };
	a[1].records = true;
	return id;
}

static void test_answer(void **state)
{
	struct fetch_sessions *c;
	struct fetch_session_view v, old;
	struct fetch_session_answer a[4];
	struct req r;
	int32_t id, idx[8];

	(void)state;
	id = answer_begin(&c, &v, a);
	a[2].hw = 6;
	a[3].error = true;
	assert_int_equal(fetch_sessions_answer(c, &v, a), 0);
	assert_false(a[0].include);
	assert_true(a[1].include);
	assert_true(a[2].include);
	assert_true(a[3].include);
	fetch_session_view_free(&v);
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id, 2, 0, NULL, 0, NULL), 0, &v), 0);
	/* 1 had records: last now. 2 keeps hw 6; 3's error forgot its hw. */
	assert_int_equal(view_parts(&v, idx), 4);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 2);
	assert_int_equal(idx[2], 3);
	assert_int_equal(idx[3], 1);
	assert_int_equal(v.hw[1], 6);
	assert_int_equal(v.hw[2], -1);
	for (int i = 0; i < 4; i++)
		a[i] = (struct fetch_session_answer){ .hw = i == 1 ? 6 : 5, .log_start = 0 };
	a[0].log_start = 3;
	a[3].diverging = true;
	assert_int_equal(fetch_sessions_answer(c, &v, a), 0);
	assert_true(a[0].include);  /* log start moved */
	assert_false(a[1].include); /* hw 6 told already */
	assert_true(a[2].include);  /* the error gone */
	assert_true(a[3].include);  /* diverging */
	/* A preferred read replica (KIP-392) is news too, hw unchanged. */
	fetch_session_view_free(&v);
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id, 3, 0, NULL, 0, NULL), 0, &v), 0);
	for (int i = 0; i < 4; i++)
		a[i] = (struct fetch_session_answer){ .hw = v.hw[i], .log_start = v.log_start[i] };
	a[1].preferred = true;
	assert_int_equal(fetch_sessions_answer(c, &v, a), 0);
	assert_false(a[0].include);
	assert_true(a[1].include);
	/* A later fetch of the session, then the old view answers. */
	old = v;
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id, 4, 0, NULL, 0, NULL), 0, &v), 0);
	assert_int_equal(fetch_sessions_answer(c, &old, a), PROTO_ERR_INVALID_FETCH_SESSION_EPOCH);
	fetch_session_view_free(&old);
	fetch_session_view_free(&v);
	/* A session closed meanwhile: answered from the view, no error. */
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id, 5, 0, NULL, 0, NULL), 0, &v), 0);
	assert_true(fetch_sessions_remove(c, id));
	for (int i = 0; i < 4; i++)
		a[i] = (struct fetch_session_answer){ .hw = v.hw[i], .log_start = v.log_start[i] };
	assert_int_equal(fetch_sessions_answer(c, &v, a), 0);
	assert_false(a[0].include);
	fetch_session_view_free(&v);
	fetch_sessions_free(c);
}

/* fetch_sessions_peek decides as fetch_sessions_answer and remembers
 * nothing (the client quota sizes the answer before it is sent):
 * answered after it, the same news is still news and a partition with
 * records moves only then. fetch_sessions_epoch_check: a view another
 * fetch of the session overtook is INVALID_FETCH_SESSION_EPOCH. */
static void test_peek_and_epoch_check(void **state)
{
	struct fetch_sessions *c;
	struct fetch_session_view v, old;
	struct fetch_session_answer a[4];
	struct req r;
	int32_t id, idx[8];

	(void)state;
	id = answer_begin(&c, &v, a);
	assert_int_equal(fetch_sessions_epoch_check(c, &v), 0);
	a[2].hw = 6;
	for (int round = 0; round < 2; round++) {
		assert_int_equal(fetch_sessions_peek(c, &v, a), 0);
		assert_false(a[0].include);
		assert_true(a[1].include);
		assert_true(a[2].include);
		assert_false(a[3].include);
	}
	assert_int_equal(fetch_sessions_answer(c, &v, a), 0);
	assert_true(a[2].include); /* hw 6 still news after the peeks */
	old = v;
	assert_int_equal(fetch_sessions_update(c, req_of(&r, id, 2, 0, NULL, 0, NULL), 0, &v), 0);
	assert_int_equal(view_parts(&v, idx), 4);
	assert_int_equal(idx[3], 1); /* moved by the answer, once */
	assert_int_equal(fetch_sessions_epoch_check(c, &old),
			 PROTO_ERR_INVALID_FETCH_SESSION_EPOCH);
	assert_int_equal(fetch_sessions_peek(c, &old, a), PROTO_ERR_INVALID_FETCH_SESSION_EPOCH);
	assert_int_equal(fetch_sessions_epoch_check(c, &v), 0);
	/* A session closed meanwhile: no error, as fetch_sessions_answer. */
	assert_true(fetch_sessions_remove(c, id));
	assert_int_equal(fetch_sessions_epoch_check(c, &old), 0);
	fetch_session_view_free(&old);
	fetch_session_view_free(&v);
	fetch_sessions_free(c);
}

/* Whether session id is still there; an update at now (touched). */
static bool still(struct fetch_sessions *c, int32_t id, int32_t epoch, int64_t now)
{
	struct fetch_session_view v;
	struct req r;
	int rc = fetch_sessions_update(c, req_of(&r, id, epoch, 0, NULL, 0, NULL), now, &v);

	fetch_session_view_free(&v);
	return rc != PROTO_ERR_FETCH_SESSION_ID_NOT_FOUND;
}

/* Kafka's tryEvict, 2 slots, eviction after 1000 ms: a young session is
 * kept from a consumer's; a follower's takes a consumer's place (the
 * smallest); once the least recently used is unused past 1000 ms any new
 * session takes its place; a session touched after 1000 ms of life is
 * evictable by anyone's worth more (bigger), not by a smaller one. */
static void test_eviction(void **state)
{
	struct fetch_sessions *c;
	int32_t small, big, f1, f2, f3, f4;

	(void)state;
	assert_int_equal(fetch_sessions_new(2, 1000, &c), 0);
	small = open_n(c, false, 0, 1);
	big = open_n(c, false, 0, 2);
	assert_true(small > 0 && big > 0);
	assert_int_equal(open_n(c, false, 10, 8), 0);
	f1 = open_n(c, true, 10, 1);
	assert_true(f1 > 0);
	assert_false(still(c, small, 1, 20));
	assert_true(still(c, big, 1, 20));
	assert_int_equal(fetch_sessions_count(c), 2);
	/* At 1100 f1 (last used 10) is stale: a small consumer's takes it. */
	f2 = open_n(c, false, 1100, 1);
	assert_true(f2 > 0);
	assert_false(still(c, f1, 1, 1100));
	/* big touched at 1500, past its 1000 ms: evictable by a bigger
	 * session, not by a smaller or an equal one. */
	assert_true(still(c, big, 2, 1500));
	assert_int_equal(open_n(c, false, 1600, 1), 0);
	assert_int_equal(open_n(c, false, 1600, 2), 0);
	f3 = open_n(c, false, 1600, 8);
	assert_true(f3 > 0);
	assert_false(still(c, big, 3, 1600));
	/* A follower's takes the smallest consumer's, young or not. */
	f4 = open_n(c, true, 1600, 1);
	assert_true(f4 > 0);
	assert_false(still(c, f2, 1, 1600));
	assert_true(still(c, f3, 1, 1600));
	fetch_sessions_free(c);
	/* No slots: no session. */
	assert_int_equal(fetch_sessions_new(0, 1000, &c), 0);
	assert_int_equal(open_n(c, true, 0, 1), 0);
	fetch_sessions_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_epoch), cmocka_unit_test(test_update),
		cmocka_unit_test(test_answer),     cmocka_unit_test(test_peek_and_epoch_check),
		cmocka_unit_test(test_eviction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
