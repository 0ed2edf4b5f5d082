/*
 * fuzz_client.c — libFuzzer target: record batches from a Kafka client
 * (the records of one partition of a Produce request) appended with
 * log_append_client (engine/append_client.c), then shown through the line
 * view (engine/linefmt.c) and written back as lines.
 *
 * The input is a flag byte, then the records field. Flag bit 0 set: the
 * CRC-32C of each batch is computed first (as far as the lengths lead),
 * so that mutations reach the records and the line view rather than stop
 * at the CRC. The log has key.separator ":" and line.format=escape, so
 * every escaping rule is reachable.
 *
 * Properties checked (abort() on a violation):
 *   - a refused input leaves the log as it was (log end, line end, size);
 *   - an accepted one adds exactly its records: the log end grows by the
 *     records counted, the line end by the bytes the view then returns,
 *     and the view of them reads back whole, in small and big reads;
 *   - the view written back as lines (log_append_lines, the mount's path)
 *     into a second log shows the same bytes: rendering then parsing then
 *     rendering changes nothing, so `cat p > f; cat f > .produce` gives
 *     back what `cat p` showed.
 * Both logs are emptied (log_truncate_to 0) before every input.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/batch.h"
#include "engine/engine.h"
#include "tests/fuzz/fuzzdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct io_ops io;
static struct logmgr *m;
static struct log *lc, *ll; /* the client's log, the lines' log */

static void cleanup(void)
{
	if (m)
		logmgr_close(m);
}

static void init(void)
{
	struct log_config cfg;

	fuzzdir_init(dir, sizeof(dir), "client", &io);
	atexit(cleanup); /* runs first: the log closed, then the dir goes */
	engine_helper_threads = 0;
	log_config_defaults(&cfg);
	memcpy(cfg.key_sep, ":", 2);
	cfg.key_sep_len = 1;
	cfg.line_format = LINE_FORMAT_ESCAPE;
	if (logmgr_open(dir, &io, &m) < 0 || logmgr_get_log(m, "c", 0, &cfg, true, &lc) < 0 ||
	    logmgr_get_log(m, "l", 0, &cfg, true, &ll) < 0)
		abort();
}

/* Writes the CRC of every batch of b[0..len) the lengths lead to. */
static void fix_crcs(uint8_t *b, size_t len)
{
	size_t pos = 0;

	while (len - pos >= BATCH_HDR_SIZE) {
		int64_t total = batch_total_size(b + pos);

		if (total < BATCH_HDR_SIZE || (uint64_t)total > len - pos)
			return;
		be32_put(b + pos + BATCH_OFF_CRC, crc32c(0, b + pos + BATCH_OFF_ATTRIBUTES,
							 (size_t)total - BATCH_OFF_ATTRIBUTES));
		pos += (size_t)total;
	}
}

/* The whole view [from, line_hw) of l in reads of size, into *out
 * (malloc'ed); its length, or -1. */
static int64_t view(struct log *l, int64_t from, size_t size, char **out)
{
	struct log_state st;
	struct log_cursor *c = log_cursor_new(l);
	int64_t want, got = 0;
	char *buf;

	log_get_state(l, &st);
	want = st.line_hw - from;
	buf = malloc((size_t)want + 1);
	if (!c || !buf)
		abort();
	while (got < want) {
		size_t n = (size_t)(want - got) < size ? (size_t)(want - got) : size;
		ssize_t r = log_read_lines(l, c, from + got, buf + got, n, NULL);
		if (r <= 0)
			break;
		got += r;
	}
	log_cursor_free(c);
	*out = buf;
	return got == want ? got : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log_state before, after, lines;
	struct log_append_info info;
	uint8_t *copy;
	char *small, *big, *again;

	if (!m)
		init();
	if (size == 0)
		return 0;
	bool fix = data[0] & 1;
	data++;
	size--;
	if (log_truncate_to(lc, 0) < 0 || log_truncate_to(ll, 0) < 0)
		abort();
	log_get_state(lc, &before);
	copy = malloc(size ? size : 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	if (fix)
		fix_crcs(copy, size);
	int rc = log_append_client(lc, copy, size, 3, -1, &info, NULL);
	free(copy);
	log_get_state(lc, &after);
	if (rc < 0) {
		if (after.log_end_offset != before.log_end_offset ||
		    after.line_end != before.line_end || after.size_bytes != before.size_bytes)
			abort();
		return 0;
	}
	if (info.first_offset != before.log_end_offset ||
	    info.last_offset + 1 != after.log_end_offset || info.line_end != after.line_end)
		abort();
	if (log_set_hw(lc, after.log_end_offset) < 0)
		abort();
	int64_t n = view(lc, 0, 7, &small);
	if (n != after.line_end || view(lc, 0, 1 << 20, &big) != n || memcmp(small, big, (size_t)n))
		abort();
	/* The view back as lines, then viewed again. */
	if (n > 0) {
		if (log_append_lines(ll, NULL, 0, big, (size_t)n, 1, 0, NULL) < 0)
			abort();
		log_get_state(ll, &lines);
		if (log_set_hw(ll, lines.log_end_offset) < 0 || view(ll, 0, 1 << 20, &again) != n ||
		    memcmp(again, big, (size_t)n))
			abort();
		free(again);
	}
	free(small);
	free(big);
	return 0;
}
