/*
 * test_pool.c — the engine's helper threads: jobs run on a helper, a busy
 * or empty pool refuses at once (the caller then does the work), a job's
 * end can be polled, a queued job can be taken back, destroy joins.
 */
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <cmocka.h>

#include "engine/pool.h"

struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open;
	pthread_t ran_on;
	atomic_int runs;
};

static void gate_init(struct gate *g)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->open = false;
	atomic_init(&g->runs, 0);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

/* A job that waits for its gate: holds its helper busy until released. */
static void gated_job(void *arg)
{
	struct gate *g = arg;

	g->ran_on = pthread_self();
	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	atomic_fetch_add(&g->runs, 1);
}

static void test_no_helpers_refuse(void **state)
{
	struct pool *p;
	struct gate g;
	struct pool_job j = { .fn = gated_job, .arg = &g };

	(void)state;
	gate_init(&g);
	assert_false(pool_try_run(NULL, &j));
	assert_int_equal(pool_create(0, &p), 0);
	assert_false(pool_try_run(p, &j));
	pool_destroy(p);
	pool_destroy(NULL);
	assert_int_equal(atomic_load(&g.runs), 0);
	assert_true(pool_default_threads() >= 0 && pool_default_threads() <= 3);
}

static void test_runs_on_helper_and_refuses_when_busy(void **state)
{
	struct pool *p;
	struct gate g1, g2;
	struct pool_job j1 = { .fn = gated_job, .arg = &g1 };
	struct pool_job j2 = { .fn = gated_job, .arg = &g2 };

	(void)state;
	gate_init(&g1);
	gate_init(&g2);
	assert_int_equal(pool_create(1, &p), 0);
	assert_true(pool_try_run(p, &j1));
	/* The only helper has j1 (blocked on its gate): j2 is refused. */
	assert_false(pool_try_run(p, &j2));
	gate_open(&g1);
	pool_wait(p, &j1);
	assert_int_equal(atomic_load(&g1.runs), 1);
	assert_false(pthread_equal(g1.ran_on, pthread_self()));
	/* Idle again: the next job is taken. */
	gate_open(&g2);
	assert_true(pool_try_run(p, &j2));
	pool_wait(p, &j2);
	assert_int_equal(atomic_load(&g2.runs), 1);
	pool_destroy(p);
}

/* pool_finished: false while the job runs, true once it has returned,
 * and then its effects are visible (no pool_wait needed). */
struct marked {
	struct gate g;
	int result;
};

static void marking_job(void *arg)
{
	struct marked *m = arg;

	gated_job(&m->g);
	m->result = 42;
}

static void test_finished_polls(void **state)
{
	struct pool *p;
	struct marked m = { .result = 0 };
	struct pool_job j = { .fn = marking_job, .arg = &m };

	(void)state;
	gate_init(&m.g);
	assert_int_equal(pool_create(1, &p), 0);
	assert_true(pool_try_run(p, &j));
	assert_false(pool_finished(&j));
	gate_open(&m.g);
	while (!pool_finished(&j))
		sched_yield();
	assert_int_equal(m.result, 42);
	/* The helper is idle again once the job is seen finished. */
	struct marked m2 = { .result = 0 };
	struct pool_job j2 = { .fn = marking_job, .arg = &m2 };
	gate_init(&m2.g);
	gate_open(&m2.g);
	assert_true(pool_try_run(p, &j2));
	pool_wait(p, &j2);
	assert_int_equal(m2.result, 42);
	pool_destroy(p);
}

/* Opens the gate once the waiter's spin has given up: the budget then
 * drops below what it was when the wait began. */
struct opener {
	struct pool *p;
	struct gate *g;
	int before;
};

static void *open_after_spin(void *arg)
{
	struct opener *o = arg;

	while (pool_spin_budget(o->p) >= o->before)
		sched_yield();
	gate_open(o->g);
	return NULL;
}

/* The spin before a wait sleeps adapts: every wait whose job was not done
 * within it halves it, down to a floor (a loaded machine, where helpers
 * seldom keep pace, burns little), and jobs done at once keep it there;
 * every wait still returns once its job is done. */
static void test_spin_adapts(void **state)
{
	struct pool *p;
	int first, floor = -1;

	(void)state;
	assert_int_equal(pool_create(1, &p), 0);
	first = pool_spin_budget(p);
	assert_true(first > 16);
	for (int i = 0; i < 12; i++) {
		struct gate g;
		struct pool_job j = { .fn = gated_job, .arg = &g };
		struct opener o = { p, &g, pool_spin_budget(p) };
		pthread_t th;

		gate_init(&g);
		assert_true(pool_try_run(p, &j));
		if (o.before > 16) {
			assert_int_equal(pthread_create(&th, NULL, open_after_spin, &o), 0);
			pool_wait(p, &j);
			pthread_join(th, NULL);
			assert_true(pool_spin_budget(p) <= o.before / 2 ||
				    pool_spin_budget(p) == 16);
		} else {
			floor = o.before;
			gate_open(&g);
			pool_wait(p, &j);
		}
		assert_int_equal(atomic_load(&g.runs), 1);
		assert_true(pool_spin_budget(p) >= 16);
	}
	assert_int_equal(floor, 16);
	pool_destroy(p);
}

static void count_job(void *arg)
{
	atomic_fetch_add((atomic_int *)arg, 1);
}

/* An idle helper polls for its next job a while before it sleeps
 * (pool.c): jobs that come one right after another are taken without a
 * wake-up, while after a pause longer than any poll the helper sleeps and
 * the next job wakes it. A stall of the test's thread (a loaded machine)
 * can cost a wake-up or two in the stream, not most of them. */
static void test_idle_helper_polls(void **state)
{
	struct pool *p;
	atomic_int runs;
	struct pool_job j = { .fn = count_job, .arg = &runs };

	(void)state;
	atomic_init(&runs, 0);
	assert_int_equal(pool_create(1, &p), 0);
	for (int i = 0; i < 200; i++) {
		assert_true(pool_try_run(p, &j));
		pool_wait(p, &j);
	}
	assert_int_equal(atomic_load(&runs), 200);
	int64_t streamed = pool_wakes(p);
	assert_true(streamed < 100);
	/* A pause well past any poll (POOL_IDLE_SPIN_MAX_NS): the helper sleeps. */
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	assert_true(pool_try_run(p, &j));
	pool_wait(p, &j);
	assert_int_equal(pool_wakes(p), streamed + 1);
	pool_destroy(p);
	assert_int_equal(atomic_load(&runs), 201);
}

/* Jobs that come more than POOL_IDLE_GAP_MAX_NS apart (2 ms here) find
 * their helper asleep once the median of its last gaps says so: it no
 * longer polls between them (a cluster's leader, whose CPU the other
 * brokers need). */
static void test_seldom_jobs_sleep(void **state)
{
	struct pool *p;
	atomic_int runs;
	struct pool_job j = { .fn = count_job, .arg = &runs };
	struct timespec gap = { 0, 2 * 1000 * 1000 };

	(void)state;
	atomic_init(&runs, 0);
	assert_int_equal(pool_create(1, &p), 0);
	for (int i = 0; i < 8; i++) { /* the helper learns the gaps */
		assert_true(pool_try_run(p, &j));
		pool_wait(p, &j);
		nanosleep(&gap, NULL);
	}
	int64_t wakes = pool_wakes(p);
	for (int i = 0; i < 8; i++) {
		assert_true(pool_try_run(p, &j));
		pool_wait(p, &j);
		nanosleep(&gap, NULL);
	}
	/* Each job woke it; a loaded machine may keep the helper from its
	 * sleep for a job or two. */
	assert_true(pool_wakes(p) - wakes >= 6);
	pool_destroy(p);
	assert_int_equal(atomic_load(&runs), 16);
}

/* Destroy waits for a running job and joins every helper. */
static void test_destroy_waits(void **state)
{
	struct pool *p;
	struct gate g;
	struct pool_job j = { .fn = gated_job, .arg = &g };

	(void)state;
	gate_init(&g);
	assert_int_equal(pool_create(3, &p), 0);
	assert_true(pool_try_run(p, &j));
	gate_open(&g);
	pool_destroy(p);
	assert_int_equal(atomic_load(&g.runs), 1);
}

/* A cancelled job never runs and gives its helper back (the next job is
 * taken); one that could not be cancelled runs exactly once. Whether the
 * helper got there first is up to the scheduler: every round checks
 * whichever happened. */
static void test_cancel(void **state)
{
	struct pool *p;
	atomic_int runs;
	int cancelled = 0, rounds = 2000;
	struct pool_job j = { .fn = count_job, .arg = &runs };

	(void)state;
	atomic_init(&runs, 0);
	assert_int_equal(pool_create(1, &p), 0);
	for (int i = 0; i < rounds; i++) {
		int before = atomic_load(&runs);
		assert_true(pool_try_run(p, &j));
		if (pool_try_cancel(p, &j)) {
			cancelled++;
			assert_false(pool_try_cancel(p, &j)); /* taken back once */
			continue;
		}
		pool_wait(p, &j);
		assert_int_equal(atomic_load(&runs), before + 1);
	}
	pool_destroy(p);
	assert_int_equal(atomic_load(&runs), rounds - cancelled);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_helpers_refuse),
		cmocka_unit_test(test_runs_on_helper_and_refuses_when_busy),
		cmocka_unit_test(test_finished_polls),
		cmocka_unit_test(test_destroy_waits),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_spin_adapts),
		cmocka_unit_test(test_idle_helper_polls),
		cmocka_unit_test(test_seldom_jobs_sleep),
	};
	return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
