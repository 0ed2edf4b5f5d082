/*
 * test_ctrl_queue.c — the controller's per-broker request queues
 * (repl/ctrl_queue.c) over an inner channel of the test's that records
 * each call and can hold the calls for one broker (a broker that does not
 * answer): the other brokers' requests go on meanwhile, each broker's in
 * order, the arguments copied, requests for an older registration
 * dropped, the queue bounded, what is queued at the stop sent first, a
 * flush that returns only once everything queued before it was sent, and
 * a send that did not get through sent again until it does.
 * Waits poll against deadlines.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>

#include "repl/ctrl_queue.h"
#include "util/clock.h"

#define MAX_CALLS 1024

struct call {
	char kind; /* 'L', 'U', 'S' */
	int32_t id;
	int64_t broker_epoch;
	int32_t controller_epoch;
	char topic[32];
	int32_t isr0, n_live;
	int32_t offline0; /* UpdateMetadata: the first offline replica, -1 none */
};

struct rec {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int32_t held;    /* calls for this broker wait until released */
	bool entered;    /* a held call is waiting */
	int32_t fail_id; /* this broker's next fail_left calls fail with fail_rc */
	int fail_left, fail_rc;
	int n;
	struct call calls[MAX_CALLS];
};

static struct rec rec;

static void record(char kind, int32_t id, int64_t be, int32_t ce, const char *topic, int32_t isr0,
		   int32_t n_live)
{
	pthread_mutex_lock(&rec.mu);
	while (rec.held == id) {
		rec.entered = true;
		pthread_cond_broadcast(&rec.cond);
		pthread_cond_wait(&rec.cond, &rec.mu);
	}
	if (rec.n < MAX_CALLS) {
		struct call *c = &rec.calls[rec.n++];

		*c = (struct call){ kind, id, be, ce, "", isr0, n_live, -1 };
		snprintf(c->topic, sizeof(c->topic), "%s", topic);
	}
	pthread_mutex_unlock(&rec.mu);
}

static int in_lisr(void *arg, int32_t id, int64_t be, int32_t ce,
		   const struct controller_partition_state *st, int n)
{
	(void)arg;
	int rc = 0;

	record('L', id, be, ce, n ? st[0].topic : "", n && st[0].n_isr ? st[0].isr[0] : -1, 0);
	pthread_mutex_lock(&rec.mu);
	if (id == rec.fail_id && rec.fail_left > 0) {
		rec.fail_left--;
		rc = rec.fail_rc;
	}
	pthread_mutex_unlock(&rec.mu);
	return rc;
}

static int in_um(void *arg, int32_t id, int64_t be, int32_t ce, const int32_t *live, int n_live,
		 const struct controller_partition_state *st, int n)
{
	(void)arg;
	(void)live;
	record('U', id, be, ce, n ? st[0].topic : "", n && st[0].n_isr ? st[0].isr[0] : -1, n_live);
	pthread_mutex_lock(&rec.mu);
	if (rec.n > 0 && n && st[0].n_offline_replicas)
		rec.calls[rec.n - 1].offline0 = st[0].offline_replicas[0];
	pthread_mutex_unlock(&rec.mu);
	return 0;
}

static int in_stop(void *arg, int32_t id, int64_t be, int32_t ce,
		   const struct controller_stop_replica *sr, int n)
{
	(void)arg;
	record('S', id, be, ce, n ? sr[0].topic : "", -1, 0);
	return 0;
}

static const struct controller_channel inner = { in_lisr, in_um, in_stop, NULL, NULL };

static int setup(void **state)
{
	(void)state;
	memset(&rec, 0, sizeof(rec));
	pthread_mutex_init(&rec.mu, NULL);
	pthread_cond_init(&rec.cond, NULL);
	rec.held = -1;
	rec.fail_id = -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pthread_cond_destroy(&rec.cond);
	pthread_mutex_destroy(&rec.mu);
	return 0;
}

static void hold(int32_t id)
{
	pthread_mutex_lock(&rec.mu);
	rec.held = id;
	rec.entered = false;
	pthread_mutex_unlock(&rec.mu);
}

static void release(void)
{
	pthread_mutex_lock(&rec.mu);
	rec.held = -1;
	pthread_cond_broadcast(&rec.cond);
	pthread_mutex_unlock(&rec.mu);
}

static int calls_for(int32_t id)
{
	int k = 0;

	pthread_mutex_lock(&rec.mu);
	for (int i = 0; i < rec.n; i++)
		k += rec.calls[i].id == id;
	pthread_mutex_unlock(&rec.mu);
	return k;
}

static bool wait_calls(int32_t id, int n)
{
	for (int64_t end = now_mono_ms() + 30000; now_mono_ms() < end; usleep(1000))
		if (calls_for(id) >= n)
			return true;
	return false;
}

static bool wait_entered(void)
{
	for (int64_t end = now_mono_ms() + 30000; now_mono_ms() < end; usleep(1000)) {
		bool e;

		pthread_mutex_lock(&rec.mu);
		e = rec.entered;
		pthread_mutex_unlock(&rec.mu);
		if (e)
			return true;
	}
	return false;
}

static struct controller_partition_state state_of(const char *topic, int32_t *isr)
{
	return (struct controller_partition_state){ .topic = topic,
						    .topic_id = "",
						    .leader = isr[0],
						    .isr = isr,
						    .n_isr = 2,
						    .replicas = isr,
						    .n_replicas = 2 };
}

/* Broker 2 does not answer: broker 3's requests go out meanwhile, in the
 * order queued; broker 2's follow once it answers. */
static void test_silent_broker_holds_up_only_itself(void **state)
{
	struct ctrl_queue *q;
	struct controller_channel ch;
	int32_t isr[2] = { 1, 3 }, live[3] = { 1, 2, 3 };
	struct controller_partition_state st = state_of("orders", isr);

	(void)state;
	assert_int_equal(ctrl_queue_new(&inner, &q), 0);
	ctrl_queue_channel(q, &ch);
	hold(2);
	assert_int_equal(ch.update_metadata(ch.arg, 2, 7, 1, live, 3, &st, 1), 0);
	assert_true(wait_entered());
	assert_int_equal(ch.leader_and_isr(ch.arg, 2, 7, 1, &st, 1), 0);
	for (int e = 1; e <= 5; e++)
		assert_int_equal(ch.leader_and_isr(ch.arg, 3, 9, e, &st, 1), 0);
	assert_int_equal(ch.update_metadata(ch.arg, 3, 9, 6, live, 3, &st, 1), 0);
	assert_true(wait_calls(3, 6));
	assert_int_equal(calls_for(2), 0);
	assert_int_equal(ctrl_queue_pending(q, 2), 1);
	pthread_mutex_lock(&rec.mu);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(rec.calls[i].id, 3);
		assert_int_equal(rec.calls[i].controller_epoch, i + 1);
		assert_int_equal(rec.calls[i].kind, i < 5 ? 'L' : 'U');
	}
	assert_int_equal(rec.calls[5].n_live, 3);
	pthread_mutex_unlock(&rec.mu);
	release();
	assert_true(wait_calls(2, 2));
	ctrl_queue_free(q, 10000);
}

/* The controller's arrays may change once a call returns: the queue sent
 * what they held at the call. */
static void test_arguments_copied(void **state)
{
	struct ctrl_queue *q;
	struct controller_channel ch;
	char topic[16] = "orders";
	int32_t isr[2] = { 4, 5 }, offline[1] = { 5 }, live[2] = { 4, 5 };
	struct controller_partition_state st = state_of(topic, isr);
	struct controller_stop_replica sr = { .topic = topic, .partition = 0 };

	(void)state;
	st.offline_replicas = offline;
	st.n_offline_replicas = 1;
	assert_int_equal(ctrl_queue_new(&inner, &q), 0);
	ctrl_queue_channel(q, &ch);
	hold(4);
	assert_int_equal(ch.stop_replica(ch.arg, 4, 1, 1, &sr, 1), 0);
	assert_true(wait_entered());
	assert_int_equal(ch.leader_and_isr(ch.arg, 4, 1, 2, &st, 1), 0);
	assert_int_equal(ch.update_metadata(ch.arg, 4, 1, 2, live, 2, &st, 1), 0);
	strcpy(topic, "other");
	isr[0] = 99;
	offline[0] = 98;
	release();
	assert_true(wait_calls(4, 3));
	pthread_mutex_lock(&rec.mu);
	assert_int_equal(rec.calls[1].kind, 'L');
	assert_string_equal(rec.calls[1].topic, "orders");
	assert_int_equal(rec.calls[1].isr0, 4);
	assert_int_equal(rec.calls[2].kind, 'U');
	assert_int_equal(rec.calls[2].offline0, 5);
	pthread_mutex_unlock(&rec.mu);
	ctrl_queue_free(q, 10000);
}

/* A queue whose broker id does not answer: a LeaderAndIsr (controller
 * epoch ce, broker epoch be) is in flight to it. */
static struct ctrl_queue *one_in_flight(struct controller_channel *ch, int32_t id, int64_t be,
					int32_t ce, const struct controller_partition_state *st)
{
	struct ctrl_queue *q;

	assert_int_equal(ctrl_queue_new(&inner, &q), 0);
	ctrl_queue_channel(q, ch);
	hold(id);
	assert_int_equal(ch->leader_and_isr(ch->arg, id, be, ce, st, 1), 0);
	assert_true(wait_entered());
	return q;
}

/* A request for a newer registration drops those queued for the older
 * one; a request for an older registration is not queued at all. */
static void test_older_registration_dropped(void **state)
{
	struct ctrl_queue *q;
	struct controller_channel ch;
	int32_t isr[2] = { 1, 2 };
	struct controller_partition_state st = state_of("orders", isr);

	(void)state;
	q = one_in_flight(&ch, 2, 10, 1, &st);
	assert_int_equal(ch.leader_and_isr(ch.arg, 2, 10, 2, &st, 1), 0);
	assert_int_equal(ch.leader_and_isr(ch.arg, 2, 10, 3, &st, 1), 0);
	assert_int_equal(ctrl_queue_pending(q, 2), 2);
	assert_int_equal(ch.leader_and_isr(ch.arg, 2, 11, 4, &st, 1), 0);
	assert_int_equal(ctrl_queue_pending(q, 2), 1);
	assert_int_equal(ch.leader_and_isr(ch.arg, 2, 10, 5, &st, 1), 0);
	assert_int_equal(ctrl_queue_pending(q, 2), 1);
	release();
	assert_true(wait_calls(2, 2));
	ctrl_queue_free(q, 10000);
	assert_int_equal(rec.n, 2);
	assert_int_equal(rec.calls[0].controller_epoch, 1);
	assert_int_equal(rec.calls[1].controller_epoch, 4);
	assert_int_equal(rec.calls[1].broker_epoch, 11);
}

/* At most CTRL_QUEUE_MAX wait: the oldest go. What is queued when the
 * queue stops is sent first (within the drain time). */
static void test_bounded_and_drained(void **state)
{
	struct ctrl_queue *q;
	struct controller_channel ch;
	int32_t isr[2] = { 1, 2 };
	struct controller_partition_state st = state_of("orders", isr);

	(void)state;
	q = one_in_flight(&ch, 2, 1, 0, &st);
	for (int e = 1; e <= CTRL_QUEUE_MAX + 10; e++)
		assert_int_equal(ch.leader_and_isr(ch.arg, 2, 1, e, &st, 1), 0);
	assert_int_equal(ctrl_queue_pending(q, 2), CTRL_QUEUE_MAX);
	release();
	ctrl_queue_free(q, 30000);
	assert_int_equal(rec.n, CTRL_QUEUE_MAX + 1);
	assert_int_equal(rec.calls[0].controller_epoch, 0);
	assert_int_equal(rec.calls[1].controller_epoch, 11);
	assert_int_equal(rec.calls[CTRL_QUEUE_MAX].controller_epoch, CTRL_QUEUE_MAX + 10);
}

struct flusher {
	struct ctrl_queue *q;
	int rc;
	int sent_to_2, sent_to_3; /* calls recorded when the flush returned */
};

static void *flush_main(void *arg)
{
	struct flusher *f = arg;

	f->rc = ctrl_queue_flush(f->q, 30000);
	f->sent_to_2 = calls_for(2);
	f->sent_to_3 = calls_for(3);
	return NULL;
}

/* A controlled shutdown is answered after its LeaderAndIsr went out: the
 * flush times out while broker 2 holds its requests, and returns 0 only
 * once the requests queued before it reached both brokers (one dropped
 * for a newer registration counts as done). */
static void test_flush_waits_for_sends(void **state)
{
	struct ctrl_queue *q;
	struct controller_channel ch;
	struct flusher f = { 0 };
	pthread_t th;
	int32_t isr[2] = { 2, 3 };
	struct controller_partition_state st = state_of("orders", isr);

	(void)state;
	assert_int_equal(ctrl_queue_flush(NULL, 10), 0);
	q = one_in_flight(&ch, 2, 1, 1, &st);
	assert_int_equal(ch.leader_and_isr(ch.arg, 2, 1, 2, &st, 1), 0);
	assert_int_equal(ch.leader_and_isr(ch.arg, 3, 1, 2, &st, 1), 0);
	assert_int_equal(ctrl_queue_flush(q, 50), -ETIMEDOUT);
	assert_int_equal(ch.leader_and_isr(ch.arg, 2, 2, 3, &st, 1), 0); /* drops ce 2 */
	f.q = q;
	assert_int_equal(pthread_create(&th, NULL, flush_main, &f), 0);
	release();
	pthread_join(th, NULL);
	assert_int_equal(f.rc, 0);
	assert_int_equal(f.sent_to_2, 2);
	assert_int_equal(f.sent_to_3, 1);
	assert_int_equal(ctrl_queue_flush(q, 10), 0);
	ctrl_queue_free(q, 10000);
	assert_int_equal(rec.n, 3);
}

static void fail_next(int32_t id, int n, int rc)
{
	pthread_mutex_lock(&rec.mu);
	rec.fail_id = id;
	rec.fail_left = n;
	rec.fail_rc = rc;
	pthread_mutex_unlock(&rec.mu);
}

/* A LeaderAndIsr that does not get through (no answer in time, the
 * connection reset) is sent again until it does, before what is queued
 * behind it, as Kafka's RequestSendThread retries: dropped, its leader
 * would never learn that it leads. An answer, even an error one, ends
 * it. */
static void test_failed_send_sent_again(void **state)
{
	struct ctrl_queue *q;
	struct controller_channel ch;
	int32_t isr[2] = { 3, 1 }, live[3] = { 1, 2, 3 };
	struct controller_partition_state st = state_of("orders", isr);

	(void)state;
	assert_int_equal(ctrl_queue_new(&inner, &q), 0);
	ctrl_queue_channel(q, &ch);
	fail_next(3, 2, -ETIMEDOUT);
	assert_int_equal(ch.leader_and_isr(ch.arg, 3, 5, 1, &st, 1), 0);
	assert_int_equal(ch.update_metadata(ch.arg, 3, 5, 1, live, 3, &st, 1), 0);
	assert_int_equal(ctrl_queue_flush(q, 30000), 0);
	pthread_mutex_lock(&rec.mu);
	assert_int_equal(rec.n, 4);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rec.calls[i].kind, 'L');
	assert_int_equal(rec.calls[3].kind, 'U');
	pthread_mutex_unlock(&rec.mu);
	fail_next(3, 1, -EPROTO);
	assert_int_equal(ch.leader_and_isr(ch.arg, 3, 5, 2, &st, 1), 0);
	assert_int_equal(ctrl_queue_flush(q, 30000), 0);
	assert_int_equal(calls_for(3), 5);
	ctrl_queue_free(q, 10000);
}

/* A send retried for a registration that a newer one replaced is given
 * up (rule 2): the broker gets the newer registration's requests. */
static void test_retry_ends_at_newer_registration(void **state)
{
	struct ctrl_queue *q;
	struct controller_channel ch;
	int32_t isr[2] = { 2, 1 };
	struct controller_partition_state st = state_of("orders", isr);

	(void)state;
	assert_int_equal(ctrl_queue_new(&inner, &q), 0);
	ctrl_queue_channel(q, &ch);
	fail_next(2, 1 << 30, -ECONNREFUSED);
	assert_int_equal(ch.leader_and_isr(ch.arg, 2, 7, 1, &st, 1), 0);
	assert_true(wait_calls(2, 3));
	fail_next(2, 0, 0);
	assert_int_equal(ch.leader_and_isr(ch.arg, 2, 8, 2, &st, 1), 0);
	assert_int_equal(ctrl_queue_flush(q, 30000), 0);
	pthread_mutex_lock(&rec.mu);
	assert_int_equal(rec.calls[rec.n - 1].broker_epoch, 8);
	assert_int_equal(rec.calls[rec.n - 1].controller_epoch, 2);
	for (int i = 0; i < rec.n - 1; i++)
		assert_int_equal(rec.calls[i].broker_epoch, 7);
	pthread_mutex_unlock(&rec.mu);
	ctrl_queue_free(q, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_silent_broker_holds_up_only_itself, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_arguments_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_older_registration_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded_and_drained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_waits_for_sends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_send_sent_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_ends_at_newer_registration, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
