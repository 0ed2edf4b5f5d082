/*
 * diaglog.c — the daemon's diagnostic log (not the message log: that is
 * engine/), used by every layer. Interface: util/diaglog.h.
 *
 * Output
 *   foreground:  one line per message on stderr,
 *                  "2026-11-26 17:47:20.123 WARN <message>\n"
 *                written with a single write(2) so that lines from
 *                concurrent threads never interleave;
 *   daemonized:  syslog(3), ident "mqfs", facility LOG_DAEMON, the level
 *                as the syslog priority.
 * Messages above the level given to mq_log_init() are dropped. Before
 * mq_log_init() the level is MQ_INFO and output goes to stderr.
 *
 * Rate limiting (mq_ratelimit_ok, behind mq_log_limited): per call site, a
 * window of MQ_RL_WINDOW_MS opens at the first message; the first
 * MQ_RL_BURST messages of a window pass, the rest are counted in
 * `suppressed`. The first call after the window has ended opens a new
 * window and, if any were suppressed, logs "N messages suppressed" (at
 * MQ_WARN) before its own message.
 *
 * Threads: every function is thread-safe. The level and output choice are
 * atomics; a call site's counters are guarded by its own tiny spinlock
 * (struct mq_ratelimit.lock), held for a few instructions and never while
 * writing output. errno is preserved across mq_log(), so "%m" works.
 *
 * A message is one line: control bytes in it (but tab) are written as
 * \xNN, so a name or value from a user cannot forge a line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>

#include "util/clock.h"
#include "util/diaglog.h"

#define MQ_RL_WINDOW_MS 10000
#define MQ_RL_BURST     20

static int log_level = MQ_INFO; /* accessed with __atomic_* */
static int log_syslog;          /* bool, accessed with __atomic_* */

static const char *level_word(int level)
{
	static const char *const words[] = {
		"EMERG", "ALERT", "CRIT", "ERROR", "WARN", "NOTICE", "INFO", "DEBUG",
	};
	if (level < 0 || level > 7)
		return "DEBUG";
	return words[level];
}

int mq_log_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

void mq_log_set_level(int level)
{
	if (level < 0)
		level = 0;
	if (level > MQ_DEBUG)
		level = MQ_DEBUG;
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

void mq_log_init(int level, bool use_syslog)
{
	if (use_syslog)
		openlog("mqfs", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	mq_log_set_level(level);
	__atomic_store_n(&log_syslog, use_syslog ? 1 : 0, __ATOMIC_RELEASE);
}

/* Writes all of buf to stderr; a short write is continued, EINTR retried,
 * other errors dropped (there is nowhere left to report them). */
static void write_stderr(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* "YYYY-MM-DD HH:MM:SS.mmm " in local time; returns its length. */
static size_t format_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!localtime_r(&ts.tv_sec, &tm))
		memset(&tm, 0, sizeof(tm));
	n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, size - n, ".%03ld ", ts.tv_nsec / 1000000);
	return n < size ? n : size - 1;
}

/* A byte that must not reach the log as it is: C0 controls but tab, DEL. */
static bool is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

void mq_log(int level, const char *fmt, ...)
{
	int saved_errno = errno;
	char stackbuf[1024];
	char *msg = stackbuf, *heap = NULL;
	size_t prefix = 0, cap = sizeof(stackbuf);
	bool to_syslog;
	va_list ap;
	int n;

	if (level < 0)
		level = 0;
	if (level > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	to_syslog = __atomic_load_n(&log_syslog, __ATOMIC_ACQUIRE);

	if (!to_syslog) {
		prefix = format_time(stackbuf, cap);
		prefix +=
			(size_t)snprintf(stackbuf + prefix, cap - prefix, "%s ", level_word(level));
	}

	/* Room for the message, '\n' and NUL; a long message goes to the heap
	 * rather than being cut. errno is restored first for "%m". */
	errno = saved_errno;
	va_start(ap, fmt);
	n = vsnprintf(stackbuf + prefix, cap - prefix, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	if ((size_t)n + 2 > cap - prefix) {
		heap = malloc(prefix + (size_t)n + 2);
		if (heap) {
			memcpy(heap, stackbuf, prefix);
			errno = saved_errno;
			va_start(ap, fmt);
			vsnprintf(heap + prefix, (size_t)n + 1, fmt, ap);
			va_end(ap);
			msg = heap;
		} else {
			n = (int)(cap - prefix - 2); /* cut, but still log */
		}
	}
	/* Exactly one trailing newline, whatever the caller wrote. */
	while (n > 0 && msg[prefix + (size_t)n - 1] == '\n')
		n--;
	/* One message, one line: control bytes (a name from a user, a value
	 * read from a file) are written as \xNN, so that no argument can end
	 * the line and forge the next one, or reach a terminal as an escape
	 * sequence. */
	size_t ctl = 0;
	for (size_t i = prefix; i < prefix + (size_t)n; i++)
		ctl += is_ctl((unsigned char)msg[i]);
	if (ctl) {
		char *esc = malloc(prefix + (size_t)n + 3 * ctl + 2);

		if (esc) {
			size_t o = prefix;

			memcpy(esc, msg, prefix);
			for (size_t i = prefix; i < prefix + (size_t)n; i++) {
				unsigned char c = (unsigned char)msg[i];

				if (is_ctl(c))
					o += (size_t)sprintf(esc + o, "\\x%02x", c);
				else
					esc[o++] = (char)c;
			}
			free(heap);
			heap = msg = esc;
			n = (int)(o - prefix);
		} else {
			for (size_t i = prefix; i < prefix + (size_t)n; i++)
				if (is_ctl((unsigned char)msg[i]))
					msg[i] = '?';
		}
	}

	if (to_syslog) {
		msg[n] = '\0';
		syslog(LOG_DAEMON | level, "%s", msg);
	} else {
		msg[prefix + (size_t)n] = '\n';
		write_stderr(msg, prefix + (size_t)n + 1);
	}
out:
	free(heap);
	errno = saved_errno;
}

static void rl_lock(struct mq_ratelimit *rl)
{
	while (__atomic_exchange_n(&rl->lock, 1, __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&rl->lock, __ATOMIC_RELAXED))
			sched_yield();
	}
}

static void rl_unlock(struct mq_ratelimit *rl)
{
	__atomic_store_n(&rl->lock, 0, __ATOMIC_RELEASE);
}

bool mq_ratelimit_ok(struct mq_ratelimit *rl)
{
	int64_t now = now_mono_ms();
	int missed = 0;
	bool ok;

	rl_lock(rl);
	/* window_start == 0 with count == 0: a call site never used (static,
	 * zero-initialised); the monotonic clock may itself be small. */
	if ((rl->window_start == 0 && rl->count == 0) ||
	    now - rl->window_start >= MQ_RL_WINDOW_MS) {
		missed = rl->suppressed;
		rl->window_start = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < MQ_RL_BURST) {
		rl->count++;
		ok = true;
	} else {
		if (rl->suppressed < 0x7fffffff)
			rl->suppressed++;
		ok = false;
	}
	rl_unlock(rl);

	/* Outside the lock: output may block. */
	if (missed > 0)
		mq_log(MQ_WARN, "%d messages suppressed", missed);
	return ok;
}
