/*
 * pool.h — helper threads for the engine's CPU-bound work (private to
 * engine/).
 *
 * An append of many records has a helper write its batches while the
 * appending thread encodes them (append_leader.c), and a big read has one
 * decode the batches of the next read (cursor.c). The
 * pool never queues: pool_try_run() hands a job to an idle helper or
 * refuses at once, and the caller then does the work itself. So a busy pool
 * costs nothing but the lost parallelism, and no caller ever waits for
 * another caller's job.
 */
#ifndef MQFS_ENGINE_POOL_H
#define MQFS_ENGINE_POOL_H

#include <stdbool.h>
#include <stdint.h>

struct pool;

struct pool_job {
	void (*fn)(void *arg);
	void *arg;
	/* private */
	_Atomic bool done; /* set under the pool's lock */
};

/* A pool of n helper threads (n <= 0: none; every pool_try_run refuses).
 * -errno on failure. */
int pool_create(int n, struct pool **out);
/* Helpers to use on this machine: online CPUs - 1, at most 3. */
int pool_default_threads(void);
/* Waits for running jobs, stops and joins the helpers. NULL is a no-op. */
void pool_destroy(struct pool *p);
/* Starts j->fn(j->arg) on an idle helper and returns true; false (nothing
 * started) when none is idle or p is NULL. */
bool pool_try_run(struct pool *p, struct pool_job *j);
/* Takes back a job pool_try_run queued that no helper has started yet:
 * true (it will not run), false (it runs or ran: pool_wait for it). */
bool pool_try_cancel(struct pool *p, struct pool_job *j);
/* Returns once a job started by pool_try_run has finished. */
void pool_wait(struct pool *p, struct pool_job *j);
/* Whether a job started by pool_try_run has finished, without waiting:
 * true means the same as pool_wait's return (its effects are visible and
 * the helper is done with j), for a caller that polls. */
bool pool_finished(const struct pool_job *j);
/* The pause instructions a wait spins at most before it sleeps now
 * (adaptive, pool.c): for tests. */
int pool_spin_budget(struct pool *p);
/* Jobs pool_try_run had to wake a sleeping helper for (the others were
 * taken by a helper polling for its next job, pool.c): for tests. */
int64_t pool_wakes(struct pool *p);

#endif
