/*
 * diaglog.h — the daemon's diagnostic log (the message log is the engine's),
 * for every layer: how it writes is told in util/diaglog.c.
 *
 * Levels as syslog's. To stderr in the foreground, to syslog (facility
 * daemon) when daemonized. mq_log_limited() drops messages from one call
 * site beyond 20 per 10 s, then reports how many it dropped.
 */
#ifndef MQFS_UTIL_DIAGLOG_H
#define MQFS_UTIL_DIAGLOG_H

#include <stdbool.h>
#include <stdint.h>

enum { MQ_ERR = 3, MQ_WARN = 4, MQ_INFO = 6, MQ_DEBUG = 7 };
/* Before it: level MQ_INFO, to stderr. */
void mq_log_init(int level, bool use_syslog);
/* The level now, and a change of it at run time (DescribeConfigs and
 * IncrementalAlterConfigs of Kafka's broker logger): an atomic, which
 * each message reads once, so a message written meanwhile is written or
 * dropped whole. Clamped to 0..MQ_DEBUG. */
int mq_log_level(void);
void mq_log_set_level(int level);
void mq_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define mq_log_limited(level, ...)                  \
	do {                                        \
		static struct mq_ratelimit mq_rl_;  \
		if (mq_ratelimit_ok(&mq_rl_))       \
			mq_log(level, __VA_ARGS__); \
	} while (0)
struct mq_ratelimit {
	int64_t window_start;
	int count;
	int suppressed;
	int lock;
};
bool mq_ratelimit_ok(struct mq_ratelimit *rl);

#endif
