/*
 * fuzz_recovery.c — libFuzzer target: opening a log whose segment was left
 * by a crash (engine/log_open.c, seg.c recovery), then reading it all.
 *
 * The input is the bytes of DATA/t-0/00000000000000000000.log; there is no
 * .lines, .index or .timeindex, no checkpoint and no clean-shutdown marker,
 * so recovery validates the file batch by batch, cuts it at the first
 * invalid byte and rebuilds the indexes. Then, as the broker does, the hw
 * moves to the log end (a lookup by offset), and the whole line view is
 * read through a cursor, in small and in big reads.
 *
 * Properties checked (abort() on a violation):
 *   - recovery either refuses the log or opens it; an opened log reads
 *     from its line start to line_hw without an error and returns exactly
 *     line_hw - line_start bytes, the same in small and big reads;
 *   - nothing recovery keeps fails a reader's check (no EBADMSG), but a
 *     batch whose CRC matches and whose records do not decode, which it
 *     keeps and says so (seg.c, "Undecodable batches"): there reads fail
 *     (EBADMSG, ENOTSUP), at the same position in small and big reads.
 *
 * Durability plays no part here, so the I/O table is io_posix without the
 * fsyncs (they would only slow each run down). The data directory is made
 * once per process under /tmp and emptied before every input.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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
static int kept_undecodable; /* recovery said it kept such a batch */

static void note(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (strstr(line, "not a torn tail"))
		kept_undecodable = 1;
}

static void init(void)
{
	fuzzdir_init(dir, sizeof(dir), "recovery", &io);
	engine_helper_threads = 0;
	engine_log = note;
}

/* Reads [line_start, line_hw) in reads of size; the bytes read, and in
 * *err the error that stopped it (0 at the end). */
static int64_t read_all(struct log *l, const struct log_state *st, size_t size, char *buf, int *err)
{
	struct log_cursor *c = log_cursor_new(l);
	int64_t pos = st->line_start, total = 0, actual;
	ssize_t n;

	if (!c)
		abort();
	while ((n = log_read_lines(l, c, pos, buf, size, &actual)) > 0) {
		pos = actual + n;
		total += n;
	}
	log_cursor_free(c);
	*err = n < 0 ? (int)n : 0;
	return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1 << 20];
	char path[128];
	struct log_config cfg;
	struct log_state st;
	struct logmgr *m;
	struct log *l;
	int fd;

	if (!dir[0])
		init();
	kept_undecodable = 0;
	fuzzdir_empty(dir);
	snprintf(path, sizeof(path), "%s/t-0", dir);
	if (mkdir(path, 0755) < 0)
		abort();
	snprintf(path, sizeof(path), "%s/t-0/00000000000000000000.log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	close(fd);

	if (logmgr_open(dir, &io, &m) < 0)
		return 0;
	log_config_defaults(&cfg);
	cfg.key_sep[0] = '=';
	cfg.key_sep_len = 1;
	if (logmgr_get_log(m, "t", 0, &cfg, false, &l) == 0) {
		log_get_state(l, &st);
		if (log_set_hw(l, st.log_end_offset) < 0)
			abort();
		log_get_state(l, &st);
		int64_t want = st.line_hw - st.line_start;
		int e1, e2;
		int64_t n1 = read_all(l, &st, 7, buf, &e1),
			n2 = read_all(l, &st, sizeof(buf), buf, &e2);
		if (n1 != n2 || e1 != e2)
			abort();
		if (e1 == 0 ? n1 != want
			    : !kept_undecodable || (e1 != -EBADMSG && e1 != -ENOTSUP) || n1 >= want)
			abort();
	}
	logmgr_abandon(m);
	return 0;
}
