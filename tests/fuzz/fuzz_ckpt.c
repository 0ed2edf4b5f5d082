/*
 * fuzz_ckpt.c — libFuzzer target: the checkpoint files a data directory
 * is opened with (engine/checkpoint.c, the reader of Kafka's format, with
 * logmgr.c's "topic partition offset" entries and epoch.c's "epoch
 * start_offset" ones), as a crash, a full disk or a hand edit left them.
 *
 * The input's first byte chooses the file (recovery-point-offset-,
 * replication-offset-, log-start-offset-, cleaner-offset-checkpoint of the
 * data directory, or t-0/leader-epoch-checkpoint); the rest is its
 * content. The data directory is then opened (logmgr_open) and the log
 * t-0 (an empty segment) with it.
 *
 * Properties checked (abort() on a violation):
 *   - a checkpoint is taken or refused: the open gives 0, -EBADMSG (with
 *     the reason in the log) or -ENOMEM, no other error;
 *   - a checkpoint taken holds what the format allows, read as its
 *     whitespace-separated fields: the version 0, a count and exactly that
 *     many entries, every number a decimal that fits its field without
 *     wrapping (int32 partitions and epochs, int64 offsets, none
 *     negative), topic names of at most 255 bytes. A value that wraps
 *     (epoch 4294967297 taken as 1) would be another value than the file's.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address, and by `make
 * test` with the corpus replay driver (replay.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/engine.h"
#include "tests/fuzz/fuzzdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct io_ops io;
static int refusals; /* lines the engine logged at ENGINE_LOG_ERR */

static void note(int level, const char *fmt, ...)
{
	(void)fmt;
	if (level == ENGINE_LOG_ERR)
		refusals++;
}

static void init(void)
{
	fuzzdir_init(dir, sizeof(dir), "ckpt", &io);
	engine_helper_threads = 0;
	engine_log = note;
}

static const char *const files[] = {
	"recovery-point-offset-checkpoint", "replication-offset-checkpoint",
	"log-start-offset-checkpoint",      "cleaner-offset-checkpoint",
	"t-0/leader-epoch-checkpoint",
};

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* The next whitespace-separated field of text (NUL-terminated), its
 * length in *n; NULL at the end. */
static const char *field(const char **text, size_t *n)
{
	const char *s = *text, *e;

	while (space(*s))
		s++;
	if (!*s)
		return NULL;
	for (e = s; *e && !space(*e); e++)
		;
	*n = (size_t)(e - s);
	*text = e;
	return s;
}

/* Whether s (n bytes) is a decimal in [min, max], without wrapping. */
static bool number(const char *s, size_t n, int64_t min, int64_t max)
{
	char tmp[32], *end;
	long long v;

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	errno = 0;
	v = strtoll(tmp, &end, 10);
	return !errno && *end == '\0' && end != tmp && v >= min && v <= max;
}

/* What a taken checkpoint must be (see the head comment); text ends at
 * its first NUL, as the reader sees it. */
static void check_taken(const char *text, bool epochs)
{
	const char *f;
	size_t n;
	int64_t count;
	char tmp[32];

	if (!(f = field(&text, &n)) || !number(f, n, 0, 0))
		abort();
	if (!(f = field(&text, &n)) || !number(f, n, 0, INT32_MAX))
		abort();
	memcpy(tmp, f, n);
	tmp[n] = '\0';
	count = strtoll(tmp, NULL, 10);
	for (int64_t i = 0; i < count; i++) {
		if (!epochs && (!(f = field(&text, &n)) || n > 255))
			abort();
		if (!(f = field(&text, &n)) || !number(f, n, 0, INT32_MAX))
			abort();
		if (!(f = field(&text, &n)) || !number(f, n, 0, INT64_MAX))
			abort();
	}
	if (field(&text, &n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128], *text;
	struct log_config cfg;
	struct logmgr *m;
	struct log *l;
	int which;

	if (size < 1)
		return 0;
	if (!dir[0])
		init();
	fuzzdir_empty(dir);
	refusals = 0;
	which = data[0] % (int)(sizeof(files) / sizeof(files[0]));
	snprintf(path, sizeof(path), "%s/t-0", dir);
	if (mkdir(path, 0755) < 0)
		abort();
	fuzzdir_put(dir, "t-0/00000000000000000000.log", NULL, 0);
	fuzzdir_put(dir, files[which], data + 1, size - 1);

	log_config_defaults(&cfg);
	if (fuzzdir_open_t0(dir, &io, &cfg, &refusals, &m, &l))
		return 0;
	logmgr_abandon(m);
	/* Taken: as the reader saw it, up to a NUL. */
	text = malloc(size);
	if (!text)
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	check_taken(text, which == 4);
	free(text);
	return 0;
}
