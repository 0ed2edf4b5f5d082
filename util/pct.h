/*
 * pct.h — decoding of %XX escapes, the reverse of the percent-escaping
 * two stores write: quota entity names in ZooKeeper (Kafka's Sanitizer,
 * repl/client_quota.c) and the member and metadata fields of commit
 * records in __consumer_offsets (repl/group_store.c). Each escapes its own
 * set of bytes; either decodes the same way: "%XX" (two hex digits, either
 * case) is the byte XX, every other byte stands for itself. Header only.
 */
#ifndef MQFS_UTIL_PCT_H
#define MQFS_UTIL_PCT_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>

/* The value of hex digit c, or -1. */
static inline int pct_hex(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
				      : -1;
}

/* [s, s + len) decoded into out, at most cap bytes (a decoding is never
 * longer than its text, so cap = len always fits; no NUL is added): its
 * length, -EBADMSG for a '%' without two hex digits after it, or -ENOSPC
 * when it does not fit cap. */
static inline ssize_t pct_decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi = i + 2 < len ? pct_hex(s[i + 1]) : -1;
			int lo = hi >= 0 ? pct_hex(s[i + 2]) : -1;

			if (lo < 0)
				return -EBADMSG;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (o >= cap)
			return -ENOSPC;
		out[o++] = c;
	}
	return (ssize_t)o;
}

#endif
