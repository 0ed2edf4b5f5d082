/*
 * pause.h — the one way every layer waits a fixed time before it tries
 * again (a coordinator still loading, a write poll, a lost race on a
 * ZooKeeper version): no condition to wait on, only time; and the one way
 * a thread polls, with a deadline, for another's progress (poll_wait).
 *
 * A pause is all of its length: a signal handler that runs meanwhile (the
 * daemon's, a profiler's) does not cut it short, and it is measured on the
 * monotonic clock, so a step of the wall clock neither lengthens nor
 * shortens it. Where a thread must be woken early, it waits on a
 * condition variable (clock.h's deadline_from_ms) instead.
 */
#ifndef MQFS_UTIL_PAUSE_H
#define MQFS_UTIL_PAUSE_H

#include <stdbool.h>
#include <stdint.h>

/* Sleeps ns nanoseconds; ns <= 0 returns at once. */
void pause_ns(int64_t ns);

static inline void pause_ms(int64_t ms)
{
	pause_ns(ms * 1000000);
}

/* How long to pause before retry number attempt (0: the first): step_ns
 * times attempt, growing no further than max_steps steps, so that
 * retriers that collided once spread out without one of them waiting long.
 * attempt < 0 counts as 0. */
int64_t backoff_ns(int attempt, int64_t step_ns, int max_steps);

/* One step of a spin-wait loop: the CPU's pause hint (x86), which lets
 * the other hyperthread run and eases the loop's exit; nothing elsewhere. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* A poll with a deadline, for a thread that waits for another to change
 * something it looks at between steps, where a sleep and its wake-up
 * would cost more than the wait (README, "Benchmarks": a thread woken for
 * an idle CPU of this kind of machine runs 10 to 150 us later). Each step
 * pauses the CPU (cpu_relax); every 64th reads the monotonic clock, yields
 * the CPU (sched_yield: a thread ready on this CPU, maybe the one waited
 * for, runs first) once yield_after_ns have passed, and ends the poll once
 * for_ns have:
 *
 *	struct poll_wait w;
 *	poll_wait_start(&w, 20000, -1);
 *	while (!ready())
 *		if (!poll_wait_step(&w))
 *			break; (then sleep, or give up)
 */
struct poll_wait {
	int64_t until, yield_at;
	unsigned steps;
};
/* yield_after_ns < 0: never yields. */
void poll_wait_start(struct poll_wait *w, int64_t for_ns, int64_t yield_after_ns);
bool poll_wait_clock(struct poll_wait *w);
/* One step: false once the poll has lasted for_ns (seen every 64 steps;
 * every step after that says false again at its 64th). */
static inline bool poll_wait_step(struct poll_wait *w)
{
	cpu_relax();
	return ++w->steps % 64 != 0 || poll_wait_clock(w);
}

#endif
