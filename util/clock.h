/*
 * clock.h — the clocks every layer reads, in one place: now in ms or ns on
 * the monotonic clock (intervals, timeouts, rate windows), now in ms on
 * the wall clock (timestamps that are stored or shown), and the absolute
 * deadline ms from now that pthread_cond_timedwait wants, on the clock
 * its condition variable waits on (CLOCK_MONOTONIC when the condattr set
 * it, CLOCK_REALTIME by default).
 *
 * Header only: each is a few instructions around clock_gettime(2), which
 * cannot fail for these clocks.
 */
#ifndef MQFS_UTIL_CLOCK_H
#define MQFS_UTIL_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t now_ns_on(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t now_mono_ns(void)
{
	return now_ns_on(CLOCK_MONOTONIC);
}

static inline int64_t now_mono_ms(void)
{
	return now_ns_on(CLOCK_MONOTONIC) / 1000000;
}

static inline int64_t now_real_ms(void)
{
	return now_ns_on(CLOCK_REALTIME) / 1000000;
}

/* *ts = now on clk + ms (ms >= 0), normalised (tv_nsec < 1e9). */
static inline void deadline_from_ms(clockid_t clk, int64_t ms, struct timespec *ts)
{
	clock_gettime(clk, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

#endif
