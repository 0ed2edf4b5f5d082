/*
 * pool.c — helper threads (see pool.h).
 *
 * One slot per helper: a job is only ever given to a helper that is idle
 * at that moment (idle > 0), so the queue never holds more jobs than there
 * are idle helpers and a job starts as soon as its helper wakes. Helpers
 * block every signal: the mount's signal handling stays with the threads
 * libfuse knows.
 *
 * Waiting (pool_wait): the waiter spins a while on
 * the job's atomics before it sleeps on done_cv, since the helper is
 * often about to finish. The spin is adaptive: each wait spins at most
 * p->spin pause instructions (POOL_SPIN_MIN..POOL_SPIN_MAX); a wait that
 * spun in vain halves it, one that ended while spinning moves it towards
 * twice what that wait took. On a machine whose cores are busy (the
 * brokers of a cluster on two cores) the helper is seldom running when
 * its result is waited for, and a fixed spin burnt CPU the other
 * processes needed; where the helper keeps pace the spin stays.
 *
 * Idle helpers poll before they sleep. A helper that finished a job looks
 * for the next one without the lock (queued_a) for a while
 * (idle_spin) before it sleeps on work_cv, and pool_try_run signals
 * work_cv only when a helper sleeps. Waking a sleeping helper means a
 * futex wake, and on a virtual machine whose other CPU has gone idle, its
 * wake-up as well: 10 to 150 us on the machine of README's benchmarks,
 * most of the time a big read gives its helper to decode the next one.
 * The poll is adaptive too: it follows the gaps between a helper's jobs
 * (from the start of its wait to the job), the median of the last
 * POOL_IDLE_GAPS, so that a few long ones do not count. While that median
 * is at most POOL_IDLE_GAP_MAX_NS, an idle helper polls four times it (at
 * least POOL_IDLE_SPIN_MIN_NS, at most POOL_IDLE_SPIN_MAX_NS); above, it
 * sleeps at once. A stream of big reads or writes thus keeps its helper
 * awake, while a helper whose jobs come seldom costs no polling. The
 * 1 MiB writes of a `dd` come 0.5 to 1.3 ms apart, as `dd` reads its own
 * input between them, and the helper's gaps are about 0.5 ms at the
 * median. With a poll of twice the last gap, capped at 1 ms and none after
 * a longer gap, the helper was asleep at 57 % of them, which then took
 * 423 us in the daemon against 308 (`perf record -e
 * raw_syscalls:*,sched:sched_switch` on the daemon): one long gap cost two
 * wake-ups, and a helper woken by the appender is often put on the
 * appender's own CPU, where the two take turns instead of encoding side
 * by side. Now it sleeps at 9 of 254 writes, the first ones. The leader
 * of a cluster on two cores gets a write's parts every 2 ms or so, while
 * the other brokers need the CPU: its helper sleeps (polling for gaps of
 * up to 3 ms, the leader's CPU per MiB written nearly doubled and the
 * cluster wrote no faster: README, "Layout of the code"). Past its
 * first POOL_IDLE_PAUSE_NS a poll yields the CPU between looks, so that a
 * thread that is ready on the same CPU runs first.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/pool.h"
#include "util/clock.h"
#include "util/pause.h"

#define POOL_SPIN_MIN         16
#define POOL_SPIN_MAX         4096
#define POOL_IDLE_GAPS        8
#define POOL_IDLE_GAP_MAX_NS  1000000
#define POOL_IDLE_SPIN_MIN_NS 100000
#define POOL_IDLE_SPIN_MAX_NS 4000000
#define POOL_IDLE_PAUSE_NS    100000

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work_cv;  /* helpers: a job was queued, or stop */
	pthread_cond_t done_cv;  /* callers: a job finished */
	struct pool_job **queue; /* n slots, used as a stack */
	int queued;
	int idle;          /* helpers waiting, minus jobs queued */
	_Atomic bool stop; /* also read without mu by polling helpers */
	pthread_t *threads;
	int n;
	_Atomic int spin;                  /* the spin budget of a wait (see above) */
	int sleeping;                      /* helpers waiting on work_cv */
	_Atomic int queued_a;              /* queued, for polling helpers (written under mu) */
	int64_t idle_gaps[POOL_IDLE_GAPS]; /* the last gaps before a job (under mu) */
	int idle_gaps_next;
	_Atomic int64_t signals; /* work_cv signals sent (tests) */
};

/* Polls for a queued job (or the stop) for ns nanoseconds: true when one
 * came. Yields the CPU between looks after POOL_IDLE_PAUSE_NS. */
static bool idle_poll(struct pool *p, int64_t ns)
{
	struct poll_wait w;

	poll_wait_start(&w, ns, POOL_IDLE_PAUSE_NS);
	do {
		if (atomic_load_explicit(&p->queued_a, memory_order_acquire) > 0 ||
		    atomic_load_explicit(&p->stop, memory_order_relaxed))
			return true;
	} while (poll_wait_step(&w));
	return false;
}

/* How long an idle helper polls, from the median of the last gaps (under
 * p->mu; gaps not seen yet count as 0). */
static int64_t idle_spin(const struct pool *p)
{
	int64_t v[POOL_IDLE_GAPS];

	for (int i = 0; i < POOL_IDLE_GAPS; i++) { /* insertion sort */
		int k = i;
		for (; k > 0 && v[k - 1] > p->idle_gaps[i]; k--)
			v[k] = v[k - 1];
		v[k] = p->idle_gaps[i];
	}
	int64_t g = v[POOL_IDLE_GAPS / 2];

	if (g > POOL_IDLE_GAP_MAX_NS)
		return 0;
	return 4 * g < POOL_IDLE_SPIN_MIN_NS   ? POOL_IDLE_SPIN_MIN_NS
	       : 4 * g > POOL_IDLE_SPIN_MAX_NS ? POOL_IDLE_SPIN_MAX_NS
					       : 4 * g;
}

/* Waits under p->mu for a job or the stop: polls first (idle_spin), then
 * sleeps; then notes the gap this wait lasted among the last ones. */
static void helper_idle(struct pool *p)
{
	int64_t from = now_mono_ns(), spin = idle_spin(p);

	if (spin > 0) {
		pthread_mutex_unlock(&p->mu);
		(void)idle_poll(p, spin);
		pthread_mutex_lock(&p->mu);
	}
	while (!p->stop && p->queued == 0) {
		p->sleeping++;
		pthread_cond_wait(&p->work_cv, &p->mu);
		p->sleeping--;
	}
	if (p->stop)
		return;
	p->idle_gaps[p->idle_gaps_next] = now_mono_ns() - from;
	p->idle_gaps_next = (p->idle_gaps_next + 1) % POOL_IDLE_GAPS;
}

static void *helper_main(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		if (!p->stop && p->queued == 0)
			helper_idle(p);
		if (p->queued == 0)
			break; /* stop, and nothing left to run */
		struct pool_job *j = p->queue[--p->queued];
		atomic_store_explicit(&p->queued_a, p->queued, memory_order_relaxed);
		pthread_mutex_unlock(&p->mu);
		j->fn(j->arg);
		pthread_mutex_lock(&p->mu);
		j->done = true;
		p->idle++;
		pthread_cond_broadcast(&p->done_cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int pool_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;

	return n < 0 ? 0 : n > 3 ? 3 : (int)n;
}

int pool_create(int n, struct pool **out)
{
	struct pool *p = calloc(1, sizeof(*p));
	sigset_t all, old;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->done_cv, NULL);
	if (n > 0) {
		p->queue = calloc((size_t)n, sizeof(*p->queue));
		p->threads = calloc((size_t)n, sizeof(*p->threads));
		if (!p->queue || !p->threads) {
			pool_destroy(p);
			return -ENOMEM;
		}
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (; p->n < n; p->n++) {
		rc = -pthread_create(&p->threads[p->n], NULL, helper_main, p);
		if (rc < 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		pool_destroy(p);
		return rc;
	}
	p->idle = p->n;
	atomic_init(&p->spin, POOL_SPIN_MAX / 4);
	*out = p;
	return 0;
}

void pool_destroy(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++)
		pthread_join(p->threads[i], NULL);
	pthread_cond_destroy(&p->done_cv);
	pthread_cond_destroy(&p->work_cv);
	pthread_mutex_destroy(&p->mu);
	free(p->threads);
	free(p->queue);
	free(p);
}

bool pool_try_run(struct pool *p, struct pool_job *j)
{
	bool ok = false;

	if (!p || p->n == 0)
		return false;
	pthread_mutex_lock(&p->mu);
	if (p->idle > 0 && !p->stop) {
		p->idle--;
		j->done = false;
		p->queue[p->queued++] = j;
		atomic_store_explicit(&p->queued_a, p->queued, memory_order_release);
		if (p->sleeping > 0) {
			pthread_cond_signal(&p->work_cv);
			atomic_fetch_add_explicit(&p->signals, 1, memory_order_relaxed);
		}
		ok = true;
	}
	pthread_mutex_unlock(&p->mu);
	return ok;
}

bool pool_try_cancel(struct pool *p, struct pool_job *j)
{
	bool found = false;

	pthread_mutex_lock(&p->mu);
	for (int i = 0; i < p->queued && !found; i++) {
		if (p->queue[i] != j)
			continue;
		p->queue[i] = p->queue[--p->queued];
		atomic_store_explicit(&p->queued_a, p->queued, memory_order_relaxed);
		p->idle++;
		found = true;
	}
	pthread_mutex_unlock(&p->mu);
	return found;
}

bool pool_finished(const struct pool_job *j)
{
	return atomic_load_explicit(&j->done, memory_order_acquire);
}

/* Spins until j has finished within the pool's budget, and adapts the
 * budget: true when it finished meanwhile. */
static bool pool_spin(struct pool *p, struct pool_job *j)
{
	int budget = atomic_load_explicit(&p->spin, memory_order_relaxed);

	for (int i = 0; i < budget; i++) {
		if (pool_finished(j)) {
			int want = 2 * i < POOL_SPIN_MIN   ? POOL_SPIN_MIN
				   : 2 * i > POOL_SPIN_MAX ? POOL_SPIN_MAX
							   : 2 * i;
			atomic_store_explicit(&p->spin, budget + (want - budget) / 8,
					      memory_order_relaxed);
			return true;
		}
		cpu_relax();
	}
	atomic_store_explicit(&p->spin, budget / 2 < POOL_SPIN_MIN ? POOL_SPIN_MIN : budget / 2,
			      memory_order_relaxed);
	return pool_finished(j);
}

int64_t pool_wakes(struct pool *p)
{
	return atomic_load_explicit(&p->signals, memory_order_relaxed);
}

int pool_spin_budget(struct pool *p)
{
	return atomic_load_explicit(&p->spin, memory_order_relaxed);
}

void pool_wait(struct pool *p, struct pool_job *j)
{
	if (pool_spin(p, j))
		return;
	pthread_mutex_lock(&p->mu);
	while (!j->done)
		pthread_cond_wait(&p->done_cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
