/*
 * pause.c — fixed-length pauses and polls with a deadline (pause.h).
 * Pauses: clock_nanosleep against an absolute monotonic deadline: after a
 * signal the sleep resumes toward the same deadline, so the pauses never
 * add up to less (a relative nanosleep restarted with what is left would,
 * and one not restarted ends early).
 */
#include <errno.h>
#include <sched.h>
#include <time.h>

#include "util/clock.h"
#include "util/pause.h"

void pause_ns(int64_t ns)
{
	struct timespec until;

	if (ns <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ns / 1000000000);
	until.tv_nsec += (long)(ns % 1000000000);
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	/* clock_nanosleep returns the error number itself, not -1. */
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR)
		;
}

int64_t backoff_ns(int attempt, int64_t step_ns, int max_steps)
{
	if (attempt < 0)
		attempt = 0;
	if (attempt > max_steps)
		attempt = max_steps;
	return step_ns * attempt;
}

void poll_wait_start(struct poll_wait *w, int64_t for_ns, int64_t yield_after_ns)
{
	int64_t now = now_mono_ns();

	w->until = now + for_ns;
	w->yield_at = yield_after_ns < 0 ? INT64_MAX : now + yield_after_ns;
	w->steps = 0;
}

bool poll_wait_clock(struct poll_wait *w)
{
	int64_t t = now_mono_ns();

	if (t >= w->until)
		return false;
	if (t >= w->yield_at)
		sched_yield();
	return true;
}
