/*
 * pause.h — the one way every layer waits a fixed time before it tries
 * again (a coordinator still loading, a write poll, a lost race on a
 * ZooKeeper version): no condition to wait on, only time.
 *
 * A pause is all of its length: a signal handler that runs meanwhile (the
 * daemon's, a profiler's) does not cut it short, and it is measured on the
 * monotonic clock, so a step of the wall clock neither lengthens nor
 * shortens it. Where a thread must be woken early, it waits on a
 * condition variable (clock.h's deadline_from_ms) instead.
 */
#ifndef MQFS_UTIL_PAUSE_H
#define MQFS_UTIL_PAUSE_H

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

#endif
