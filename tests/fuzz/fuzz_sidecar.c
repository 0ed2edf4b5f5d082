/*
 * fuzz_sidecar.c — libFuzzer target: a segment's sidecars as a crash, a
 * full disk or a hand edit left them (.lines, .index, .timeindex, read
 * at open by seg.c and log_open.c), beside a valid .log.
 *
 * Once per process a log t-0 is written (several segments, small index
 * intervals, distinct timestamps) and closed cleanly; its files are kept
 * in memory, with what it reads: the line view, the line position of
 * every offset, the offset answered for every timestamp. Per input the
 * data directory is made again from them, with one sidecar replaced: the
 * input's first byte chooses the segment (bits 0-3), the file (bits 4-5:
 * .lines, .index, .timeindex, or 3: the .lines removed), whether the stop
 * was clean (bit 6 clear: the clean-shutdown marker kept) or not, and
 * what the rest is (bit 7 clear: the file's content; set: bytes XORed
 * into the file as written, those past its end appended), so that a seed
 * can flip one bit of a real sidecar.
 *
 * Properties checked (abort() on a violation):
 *   - the open succeeds, or refuses with -EBADMSG (or, for a .lines
 *     header of another format version, "MQLINES" and another digit,
 *     -EPROTONOSUPPORT) and a line in the log (or -ENOMEM): no other
 *     error;
 *   - an opened log reads exactly what was written, as it did with its
 *     sidecars intact (and as it does with the sidecar removed, which
 *     the corpus holds): the same log end and line view in small and big
 *     reads, the same line position for every offset, the same offset
 *     for every timestamp;
 *   - it stays writable: a line appended then reads back after them.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address, and by `make
 * test` with the corpus replay driver (replay.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#define LINES     30 /* lines written, one append (one batch) each */
#define MAX_FILES 48

static char dir[64];
static struct io_ops io;
static int refusals; /* lines the engine logged at ENGINE_LOG_ERR */

/* The log as closed cleanly: its directory's files (paths under dir). */
static struct {
	char path[64];
	uint8_t *bytes;
	size_t len;
} files[MAX_FILES];
static int nfiles;
/* What it reads. */
static char view[1 << 16];
static int64_t view_len, leo, pos_of[LINES + 1], ts_found[LINES + 2];
static int64_t bases[16];
static int nbases;

static void note(int level, const char *fmt, ...)
{
	(void)fmt;
	if (level == ENGINE_LOG_ERR)
		refusals++;
}

static void config(struct log_config *cfg)
{
	log_config_defaults(cfg);
	cfg->segment_bytes = 512;
	cfg->index_interval_bytes = 100;
}

/* Reads [line_start, line_hw) in reads of size into out (cap bytes); the
 * bytes read, or -1 on an error. */
static int64_t read_all(struct log *l, size_t size, char *out, size_t cap)
{
	static char buf[1 << 16];
	struct log_cursor *c = log_cursor_new(l);
	struct log_state st;
	int64_t pos, total = 0, actual;
	ssize_t n;

	if (!c)
		abort();
	log_get_state(l, &st);
	pos = st.line_start;
	while ((n = log_read_lines(l, c, pos, buf, size < sizeof(buf) ? size : sizeof(buf),
				   &actual)) > 0) {
		if ((size_t)(total + n) > cap)
			abort();
		memcpy(out + total, buf, (size_t)n);
		pos = actual + n;
		total += n;
	}
	log_cursor_free(c);
	return n < 0 ? -1 : total;
}

/* The offset log_time_to_offset answers for line i's timestamp (and one
 * past the last), -1 for -ERANGE, -2 for another error. */
static int64_t time_answer(struct log *l, int i)
{
	int64_t off;
	int rc = log_time_to_offset(l, 1000 + 10 * (int64_t)i, &off);

	return rc == 0 ? off : rc == -ERANGE ? -1 : -2;
}

static int keep_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	int fd;

	(void)ftw;
	if (flag != FTW_F || strstr(path, "/.lock"))
		return 0;
	if (nfiles == MAX_FILES)
		abort();
	snprintf(files[nfiles].path, sizeof(files[nfiles].path), "%s", path + strlen(dir) + 1);
	files[nfiles].len = (size_t)st->st_size;
	files[nfiles].bytes = malloc(files[nfiles].len + 1);
	fd = open(path, O_RDONLY);
	if (fd < 0 || !files[nfiles].bytes ||
	    read(fd, files[nfiles].bytes, files[nfiles].len) != (ssize_t)files[nfiles].len)
		abort();
	close(fd);
	nfiles++;
	return 0;
}

static void init(void)
{
	struct log_config cfg;
	struct log_state st;
	struct logmgr *m;
	struct log *l;
	int64_t *b;

	fuzzdir_init(dir, sizeof(dir), "sidecar", &io);
	engine_helper_threads = 0;
	engine_log = note;
	config(&cfg);
	if (logmgr_open(dir, &io, &m) < 0 || logmgr_get_log(m, "t", 0, &cfg, true, &l) < 0)
		abort();
	for (int i = 0; i < LINES; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line), "line %d of the segment sidecar fuzz target\n",
				 i);

		if (log_append_lines(l, NULL, 0, line, (size_t)n, 1000 + 10 * (int64_t)i, 0, NULL) <
		    0)
			abort();
	}
	log_get_state(l, &st);
	if (log_set_hw(l, st.log_end_offset) < 0)
		abort();
	leo = st.log_end_offset;
	if (log_segments(l, &b, &nbases) < 0 || nbases < 3 || nbases > 16)
		abort();
	memcpy(bases, b, sizeof(*b) * (size_t)nbases);
	free(b);
	view_len = read_all(l, sizeof(view), view, sizeof(view));
	for (int64_t o = 0; o <= leo; o++)
		if (log_offset_to_pos(l, o, &pos_of[o]) < 0)
			pos_of[o] = -1;
	for (int i = 0; i < LINES + 2; i++)
		ts_found[i] = time_answer(l, i);
	if (view_len <= 0 || logmgr_close(m) < 0)
		abort();
	nftw(dir, keep_file, 16, FTW_PHYS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ext[] = { ".lines", ".index", ".timeindex" };
	static char got[sizeof(view) + 256];
	char path[128], sidecar[64];
	struct log_config cfg;
	struct log_state st;
	struct logmgr *m;
	struct log *l;
	bool clean;
	int which;

	if (size < 1)
		return 0;
	if (!dir[0])
		init();
	fuzzdir_empty(dir);
	refusals = 0;
	/* Byte 0: see the head comment. */
	which = (data[0] >> 4) & 3;
	snprintf(sidecar, sizeof(sidecar), "t-0/%020lld%s",
		 (long long)bases[(data[0] & 15) % nbases], ext[which % 3]);
	clean = !(data[0] & 64);
	snprintf(path, sizeof(path), "%s/t-0", dir);
	if (mkdir(path, 0755) < 0)
		abort();
	for (int i = 0; i < nfiles; i++) {
		if (!clean && strcmp(files[i].path, ".clean-shutdown") == 0)
			continue;
		if (strcmp(files[i].path, sidecar) != 0) {
			fuzzdir_put(dir, files[i].path, files[i].bytes, files[i].len);
			continue;
		}
		if (which == 3 || !(data[0] & 128))
			continue;
		/* XORed into the file as written. */
		size_t len = size - 1 > files[i].len ? size - 1 : files[i].len;
		uint8_t *b = malloc(len + 1);

		if (!b)
			abort();
		memset(b, 0, len);
		memcpy(b, files[i].bytes, files[i].len);
		for (size_t k = 0; k + 1 < size; k++)
			b[k] ^= data[k + 1];
		fuzzdir_put(dir, sidecar, b, len);
		free(b);
	}
	if (which != 3 && !(data[0] & 128))
		fuzzdir_put(dir, sidecar, data + 1, size - 1);

	config(&cfg);
	if (fuzzdir_open_t0(dir, &io, &cfg, &refusals, &m, &l))
		return 0;

	/* Taken: it reads what was written. */
	log_get_state(l, &st);
	if (st.log_end_offset != leo || st.hw != leo)
		abort();
	if (read_all(l, 97, got, sizeof(got)) != view_len || memcmp(got, view, (size_t)view_len))
		abort();
	if (read_all(l, sizeof(got), got, sizeof(got)) != view_len ||
	    memcmp(got, view, (size_t)view_len))
		abort();
	for (int64_t o = 0; o <= leo; o++) {
		int64_t pos;

		if (log_offset_to_pos(l, o, &pos) < 0)
			pos = -1;
		if (pos != pos_of[o])
			abort();
	}
	for (int i = 0; i < LINES + 2; i++)
		if (time_answer(l, i) != ts_found[i])
			abort();
	/* And stays writable. */
	if (log_append_lines(l, NULL, 0, "one more\n", 9, 5000, 0, NULL) < 0 ||
	    log_set_hw(l, leo + 1) < 0)
		abort();
	if (read_all(l, sizeof(got), got, sizeof(got)) != view_len + 9 ||
	    memcmp(got, view, (size_t)view_len) || memcmp(got + view_len, "one more\n", 9))
		abort();
	logmgr_abandon(m);
	return 0;
}
