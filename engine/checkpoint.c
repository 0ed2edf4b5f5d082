/*
 * checkpoint.c — reading Kafka's checkpoint files, the one parser of their
 * text format for the offset checkpoints of the data directory (logmgr.c:
 * "topic partition value" entries) and each log's leader-epoch-checkpoint
 * (epoch.c: "epoch start_offset" entries):
 *
 *     0            version; Kafka has no other
 *     N            number of entries, 0..max
 *     <entry>\n    N lines, whose fields the caller's entry function reads
 *
 * A missing file is an empty checkpoint. Anything else that does not match
 * (another version, a count out of range, an entry the caller refuses,
 * fewer or more entries than the count) is -EBADMSG with the reason and its line
 * (1-based) for the caller's report; the caller undoes what its functions
 * built.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/log_int.h"

static int ckpt_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

int ckpt_num(const char **p, int64_t min, int64_t max, int64_t *out)
{
	const char *s = *p;
	char *end;
	long long v;

	while (ckpt_space(*s))
		s++;
	/* strtoll alone would take leading blanks again, and "0x" or
	 * nothing at all as 0. */
	if (!(*s >= '0' && *s <= '9') && !((*s == '-' || *s == '+') && s[1] >= '0' && s[1] <= '9'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || (*end && !ckpt_space(*end)) || v < min || v > max)
		return -1;
	while (ckpt_space(*end))
		end++;
	*out = v;
	*p = end;
	return 0;
}

int ckpt_read(const struct io_ops *io, const char *path, int max,
	      int (*begin)(void *arg, int count),
	      int (*entry)(void *arg, const char *p, int *used, const char **why), void *arg,
	      const char **why, int *line)
{
	char *text = NULL;
	int64_t version = -1, count = -1;
	int used = 0;
	const char *p;
	int rc = io_read_file(io, path, &text, NULL);

	*why = NULL;
	*line = 1;
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	p = text;
	if (ckpt_num(&p, INT64_MIN, INT64_MAX, &version) < 0 ||
	    ckpt_num(&p, INT64_MIN, INT64_MAX, &count) < 0) {
		*why = "no version and count lines";
	} else if (version != 0) {
		*why = "unknown version (not 0)";
	} else if (count < 0 || count > max) {
		*line = 2;
		*why = "entry count out of range";
	}
	if (*why) {
		rc = -EBADMSG;
		goto out;
	}
	rc = begin(arg, (int)count);
	for (int i = 0; i < count && rc == 0; i++) {
		*line = 3 + i;
		used = 0;
		rc = entry(arg, p, &used, why);
		p += used;
	}
	if (rc == -EBADMSG && !*why)
		*why = "malformed entry";
	/* Entries past the count would be ignored: the count is wrong, or
	 * they are. */
	while (rc == 0 && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	if (rc == 0 && *p) {
		*line = 3 + (int)count;
		*why = "more entries than the count (line 2) says";
		rc = -EBADMSG;
	}
out:
	free(text);
	return rc;
}
