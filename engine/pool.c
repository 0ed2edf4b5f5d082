/*
 * pool.c — helper threads (see pool.h).
 *
 * One slot per helper: a job is only ever given to a helper that is idle
 * at that moment (idle > 0), so the queue never holds more jobs than there
 * are idle helpers and a job starts as soon as its helper wakes. Helpers
 * block every signal: the mount's signal handling stays with the threads
 * libfuse knows.
 *
 * Waiting (pool_wait, pool_wait_progress): the waiter spins a while on
 * the job's atomics before it sleeps on done_cv, since the helper is
 * often about to finish. The spin is adaptive: each wait spins at most
 * p->spin pause instructions (POOL_SPIN_MIN..POOL_SPIN_MAX); a wait that
 * spun in vain halves it, one that ended while spinning moves it towards
 * twice what that wait took. On a machine whose cores are busy (the
 * brokers of a cluster on two cores) the helper is seldom running when
 * its result is waited for, and a fixed spin burnt CPU the other
 * processes needed; where the helper keeps pace the spin stays.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/pool.h"

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t work_cv;  /* helpers: a job was queued, or stop */
	pthread_cond_t done_cv;  /* callers: a job finished */
	struct pool_job **queue; /* n slots, used as a stack */
	int queued;
	int idle; /* helpers waiting, minus jobs queued */
	bool stop;
	pthread_t *threads;
	int n;
	_Atomic int spin; /* the spin budget of a wait (see above) */
};

#define POOL_SPIN_MIN 16
#define POOL_SPIN_MAX 4096

static void *helper_main(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->queued == 0)
			pthread_cond_wait(&p->work_cv, &p->mu);
		if (p->queued == 0)
			break; /* stop, and nothing left to run */
		struct pool_job *j = p->queue[--p->queued];
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
	p->stop = true;
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
		atomic_store(&j->progress, 0);
		p->queue[p->queued++] = j;
		pthread_cond_signal(&p->work_cv);
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
		p->idle++;
		found = true;
	}
	pthread_mutex_unlock(&p->mu);
	return found;
}

/* Whether j has finished (k < 0) or reported k pieces. */
static bool job_ready(struct pool_job *j, int k)
{
	if (atomic_load_explicit(&j->done, memory_order_acquire))
		return true;
	return k >= 0 && atomic_load_explicit(&j->progress, memory_order_acquire) >= k;
}

/* Spins until job_ready(j, k) within the pool's budget, and adapts the
 * budget: true when it became ready meanwhile. */
static bool pool_spin(struct pool *p, struct pool_job *j, int k)
{
	int budget = atomic_load_explicit(&p->spin, memory_order_relaxed);

	for (int i = 0; i < budget; i++) {
		if (job_ready(j, k)) {
			int want = 2 * i < POOL_SPIN_MIN   ? POOL_SPIN_MIN
				   : 2 * i > POOL_SPIN_MAX ? POOL_SPIN_MAX
							   : 2 * i;
			atomic_store_explicit(&p->spin, budget + (want - budget) / 8,
					      memory_order_relaxed);
			return true;
		}
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	atomic_store_explicit(&p->spin, budget / 2 < POOL_SPIN_MIN ? POOL_SPIN_MIN : budget / 2,
			      memory_order_relaxed);
	return job_ready(j, k);
}

int pool_spin_budget(struct pool *p)
{
	return atomic_load_explicit(&p->spin, memory_order_relaxed);
}

void pool_wait(struct pool *p, struct pool_job *j)
{
	if (pool_spin(p, j, -1))
		return;
	pthread_mutex_lock(&p->mu);
	while (!j->done)
		pthread_cond_wait(&p->done_cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void pool_progress(struct pool *p, struct pool_job *j, int k)
{
	atomic_store_explicit(&j->progress, k, memory_order_release);
	pthread_mutex_lock(&p->mu);
	pthread_cond_broadcast(&p->done_cv);
	pthread_mutex_unlock(&p->mu);
}

/* The waiter is usually writing out the previous piece while the helper
 * encodes this one, so the piece is often ready or nearly: a short spin
 * saves a sleep and a wake-up. */
void pool_wait_progress(struct pool *p, struct pool_job *j, int k)
{
	if (pool_spin(p, j, k))
		return;
	pthread_mutex_lock(&p->mu);
	while (!j->done && atomic_load_explicit(&j->progress, memory_order_acquire) < k)
		pthread_cond_wait(&p->done_cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
