/*
 * test_allocfail.c — the engine, the broker's requests and the mount's
 * operations under allocation failure. This binary is linked with --wrap
 * for malloc, calloc, realloc, strdup, strndup and posix_memalign
 * (Makefile), so every allocation mqfs's code (and this file) makes goes
 * through a countdown: armed with N, the Nth allocation from then on
 * returns NULL (ENOMEM). Each sweep runs one operation with
 * N = 1, 2, ... on a fresh log until the operation no longer reaches its
 * Nth allocation, and after each run checks what must hold whatever the
 * operation answered: the log still appends (no lock left held), it
 * closes and opens again, and every record acknowledged (an append that
 * returned 0) is there, in order, and nothing else. LeakSanitizer (make
 * asan) finds what an unwinding path forgot to free. The ACL store's
 * change notices are checked alone: one that removes bindings takes
 * effect with no memory at all.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <execinfo.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/batch.h"
#include "engine/engine.h"
#include "fs/fs.h"
#include "repl/acl.h"
#include "repl/proto.h"
#include "repl/repl.h"
#include "tests/unit/brokerfx.h"
#include "tests/unit/logfx.h"
#include "tests/unit/protofx.h"
#include "util/diaglog.h"

/* >0: the countdown; the allocation that takes it to 0 fails. */
static atomic_int af_countdown;
static atomic_int af_failed; /* failures injected since the last arm */
/* Set: only the allocations of other threads count (a broker's, while
 * this thread plays its client). */
static bool af_others;
static pthread_t af_self;

static void af_arm(int n)
{
	atomic_store(&af_failed, 0);
	atomic_store(&af_countdown, n);
}

static void af_arm_others(int n)
{
	af_self = pthread_self();
	af_others = true;
	af_arm(n);
}

/* Disarms; true when the armed failure happened. */
static bool af_disarm(void)
{
	atomic_store(&af_countdown, 0);
	af_others = false;
	return atomic_load(&af_failed) > 0;
}

static bool af_fail(void)
{
	int c = atomic_load(&af_countdown);
	if (c > 0 && af_others && pthread_equal(pthread_self(), af_self))
		return false;
	while (c > 0) {
		if (atomic_compare_exchange_weak(&af_countdown, &c, c - 1)) {
			if (c == 1) {
				atomic_fetch_add(&af_failed, 1);
				if (getenv("ALLOCFAIL_BT")) {
					void *bt[16];
					backtrace_symbols_fd(bt, backtrace(bt, 16), 2);
				}
				errno = ENOMEM;
				return true;
			}
			return false;
		}
	}
	return false;
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
int __real_posix_memalign(void **out, size_t align, size_t n);

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
int __wrap_posix_memalign(void **out, size_t align, size_t n);

void *__wrap_malloc(size_t n)
{
	return af_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t a, size_t b)
{
	return af_fail() ? NULL : __real_calloc(a, b);
}

void *__wrap_realloc(void *p, size_t n)
{
	return af_fail() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s)
{
	return af_fail() ? NULL : __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
	return af_fail() ? NULL : __real_strndup(s, n);
}

int __wrap_posix_memalign(void **out, size_t align, size_t n)
{
	return af_fail() ? ENOMEM : __real_posix_memalign(out, align, n);
}

/* ------------------------------------------------------------------ */

#define PREP   40 /* records every sweep's log starts with */
#define MAXREC 20000

/* Record i is acknowledged for i < acked: "value-<i>" without a key, or
 * in a log of nkeys keys "k<key[i]>=v<i>". */
struct sweep {
	struct logfx *f;
	int acked;
	int nkeys;
	int key[MAXREC];
};

static int rec_line(const struct sweep *s, int i, char *out, size_t cap)
{
	if (s->nkeys)
		return snprintf(out, cap, "k%d=v%d\n", s->key[i], i);
	return snprintf(out, cap, "value-%d\n", i);
}

/* Compaction may remove record i: a later acked one has its key. */
static bool superseded(const struct sweep *s, int i)
{
	for (int j = i + 1; s->nkeys && j < s->acked; j++)
		if (s->key[j] == s->key[i])
			return true;
	return false;
}

static void tune_small(struct log_config *cfg)
{
	cfg->segment_bytes = 1024; /* a roll every few appends */
	cfg->index_interval_bytes = 100;
}

static void tune_compact(struct log_config *cfg)
{
	tune_small(cfg);
	cfg->cleanup_policy = LOG_CLEANUP_COMPACT;
	cfg->retention_ms = -1;
	cfg->key_sep[0] = '=';
	cfg->key_sep_len = 1;
}

static void tune_retain(struct log_config *cfg)
{
	tune_small(cfg);
	cfg->retention_ms = -1;
	cfg->retention_bytes = 512;
}

static void tune_lz4(struct log_config *cfg)
{
	tune_small(cfg);
	cfg->codec = BATCH_CODEC_LZ4;
}

/* batch.size's batches (the mount cuts its batches within segment.bytes
 * too), a few a segment: the big append still rolls inside. */
static void tune_lz4_big(struct log_config *cfg)
{
	tune_lz4(cfg);
	cfg->segment_bytes = 16 << 10;
}

static void tune_zstd(struct log_config *cfg)
{
	tune_small(cfg);
	cfg->codec = BATCH_CODEC_ZSTD;
}

/* n records value-from .. value-(from+n-1), per an append; the return of
 * the first append that fails (its records and the rest not acked). */
static int put(struct sweep *s, int n, int per)
{
	char vals[64][32], keys[64][16];
	struct rec_in r[64];
	assert_true(s->acked + n <= MAXREC);
	for (int i = 0; i < n;) {
		int k = 0;
		for (; k < per && i < n; k++, i++) {
			int o = s->acked + k;
			int len = snprintf(vals[k], sizeof(vals[k]), s->nkeys ? "v%d" : "value-%d",
					   o);
			r[k] = (struct rec_in){ NULL, -1, vals[k], len, fake_now + o };
			if (s->nkeys) {
				s->key[o] = o % s->nkeys;
				r[k].key = keys[k];
				r[k].key_len = snprintf(keys[k], sizeof(keys[k]), "k%d", s->key[o]);
			}
		}
		int rc = log_append(s->f->l, r, k, 0, NULL);
		if (rc)
			return rc;
		s->acked += k;
		struct log_state st;
		log_get_state(s->f->l, &st);
		assert_int_equal(st.log_end_offset, s->acked);
		rc = log_set_hw(s->f->l, st.log_end_offset);
		if (rc)
			return rc;
	}
	return 0;
}

/* The line view from the log start: every acked record from there on,
 * in order, but for those compaction may have removed. */
static void expect_all(struct sweep *s)
{
	size_t cap = (size_t)s->acked * 16 + 64, got = 0;
	char *buf = __real_malloc(cap);
	assert_non_null(buf);
	struct log_cursor *c = log_cursor_new(s->f->l);
	assert_non_null(c);
	int64_t pos = 0;
	for (;;) {
		int64_t at = pos;
		ssize_t n = log_read_lines(s->f->l, c, pos, buf + got, cap - got, &at);
		assert_true(n >= 0);
		if (n == 0)
			break;
		got += (size_t)n;
		pos = at + n;
		assert_true(got < cap);
	}
	log_cursor_free(c);
	size_t at = 0;
	int64_t start = log_get_start(s->f->l);
	for (int i = (int)start; i < s->acked; i++) {
		char line[48];
		int len = rec_line(s, i, line, sizeof(line));
		if (at + (size_t)len <= got && !memcmp(buf + at, line, (size_t)len)) {
			at += (size_t)len;
			continue;
		}
		if (superseded(s, i))
			continue;
		fprintf(stderr,
			"record %d of %d (start %" PRId64
			") missing or different at line byte %zu\n",
			i, s->acked, start, at);
		fail();
	}
	assert_int_equal(at, got);
	free(buf);
}

/* What must hold after any run, failed or not: the log appends, closes
 * cleanly, opens again (recovering nothing lost) with every acked record. */
static void check_after(struct sweep *s)
{
	if (!s->f->m)
		logfx_open(s->f);
	assert_int_equal(put(s, 3, 2), 0);
	expect_all(s);
	assert_int_equal(logmgr_close(s->f->m), 0);
	s->f->m = NULL;
	logfx_open(s->f);
	expect_all(s);
}

typedef int sweep_op(struct sweep *s);

/* The nkeys of the next sweeps' logs (0: records without keys). */
static int sweep_keys;

/* Runs op on a fresh log of PREP records (tune's config) with the Nth
 * allocation failing, for N = 1, 2, ... until a run no longer reaches it,
 * and checks each. Returns how many runs had a failure injected. */
static int sweep_prep(const char *tag, void (*tune)(struct log_config *cfg), sweep_op *prep,
		      sweep_op *op)
{
	int runs = 0;
	for (int nth = 1;; nth++) {
		void *state;
		assert_int_equal(logfx_setup(&state, tag, tune), 0);
		struct sweep *sp = __real_calloc(1, sizeof(*sp));
		assert_non_null(sp);
		struct sweep s_ = { .f = state, .acked = 0 };
		*sp = s_;
		struct sweep *s = sp;
		s->nkeys = sweep_keys;
		assert_int_equal(put(s, PREP, 3), 0);
		if (prep)
			assert_int_equal(prep(s), 0);
		af_arm(nth);
		int rc = op(s);
		bool hit = af_disarm();
		if (getenv("ALLOCFAIL_VERBOSE"))
			fprintf(stderr, "%s: allocation %d failed: %d\n", tag, nth, rc);
		if (!hit)
			assert_int_equal(rc, 0);
		check_after(s);
		free(s);
		assert_int_equal(logfx_teardown(&state), 0);
		if (!hit)
			return runs;
		runs++;
	}
}

static int sweep(const char *tag, void (*tune)(struct log_config *cfg), sweep_op *op)
{
	return sweep_prep(tag, tune, NULL, op);
}

/* ---- operations ---- */

static int op_append(struct sweep *s)
{
	return put(s, 30, 4);
}

static int op_append_lines(struct sweep *s)
{
	char buf[2048];
	size_t len = 0;
	int n = 40;
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "value-%d\n", s->acked + i);
	int rc = log_append_lines(s->f->l, NULL, 0, buf, len, fake_now, 0, NULL);
	if (rc)
		return rc;
	s->acked += n;
	return log_set_hw(s->f->l, s->acked);
}

/* Over 2 * 64 KiB: encoded in parts, with the helper thread writing. */
static int op_append_big(struct sweep *s)
{
	int n = 16000;
	size_t cap = (size_t)n * 16, len = 0;
	char *buf = __real_malloc(cap);
	assert_non_null(buf);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "value-%d\n", s->acked + i);
	int rc = log_append_lines(s->f->l, NULL, 0, buf, len, fake_now, 0, NULL);
	free(buf);
	if (rc)
		return rc;
	s->acked += n;
	return log_set_hw(s->f->l, s->acked);
}

/* The codec clients compress their batches with. */
static int client_codec = BATCH_CODEC_NONE;

/* Encodes records value-acked .. value-(acked+n-1) as a client would
 * (uncompressed batches of about 200 bytes, no producer): *out malloc'ed. */
static int encode(struct sweep *s, int n, uint8_t **out, size_t *len)
{
	char vals[20][32];
	struct rec_in r[20];
	assert_true(n <= 20);
	for (int i = 0; i < n; i++) {
		int l = snprintf(vals[i], sizeof(vals[i]), "value-%d", s->acked + i);
		r[i] = (struct rec_in){ NULL, -1, vals[i], l, fake_now };
	}
	struct log_config cfg = s->f->cfg;
	cfg.codec = client_codec;
	cfg.batch_bytes = 200;
	struct batch_producer pr = { -1, -1, -1 };
	return log_encode_batches(&cfg, r, n, &pr, out, len, NULL);
}

/* Batches as a client sends them (uncompressed, the topic's codec lz4:
 * written again), through log_append_client. */
static int op_append_client(struct sweep *s)
{
	uint8_t *b = NULL;
	size_t len = 0;
	int rc = encode(s, 20, &b, &len);
	if (rc)
		return rc;
	rc = log_append_client(s->f->l, b, len, 0, -1, NULL, NULL);
	free(b);
	if (rc)
		return rc;
	s->acked += 20;
	return log_set_hw(s->f->l, s->acked);
}

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int k = 0; k < bytes; k++)
		p[k] = (uint8_t)(v >> (8 * (bytes - 1 - k)));
}

static int64_t get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int k = 0; k < bytes; k++)
		v = v << 8 | p[k];
	return (int64_t)v;
}

/* A follower's append: the batches as its leader has them, base offsets
 * from the log end and leader epoch 0 (both outside the CRC). */
static int op_append_follower(struct sweep *s)
{
	uint8_t *b = NULL;
	size_t len = 0;
	int n = 20;
	/* The leader's encoding is not what this sweeps: out of the count. */
	int countdown = atomic_exchange(&af_countdown, 0);
	assert_int_equal(encode(s, n, &b, &len), 0);
	atomic_store(&af_countdown, countdown);
	int64_t off = s->acked, line = 0, last = -1;
	for (size_t pos = 0; pos < len;) {
		put_be(b + pos, (uint64_t)off, 8);
		put_be(b + pos + 12, 0, 4);
		off += get_be(b + pos + 57, 4);
		pos += 12 + (size_t)get_be(b + pos + 8, 4);
	}
	log_get_hw(s->f->l, NULL, &line);
	int rc = log_append_batches(s->f->l, b, len, line, &last);
	free(b);
	if (rc < 0)
		return rc;
	assert_int_equal(last, off - 1);
	s->acked += n;
	return log_set_hw(s->f->l, s->acked);
}

static int op_sync(struct sweep *s)
{
	int rc = put(s, 6, 3);
	if (rc)
		return rc;
	rc = log_sync(s->f->l, -1);
	if (rc)
		return rc;
	rc = log_flush_closed(s->f->l);
	if (rc)
		return rc;
	return log_flush(s->f->l, -1);
}

/* The manager and the log opened as the daemon opens them: a manager
 * that opened but whose log did not is closed again. */
static int open_log(struct sweep *s)
{
	int rc = logmgr_open(s->f->dir, &s->f->fio.ops, &s->f->m);
	if (rc) {
		s->f->m = NULL;
		return rc;
	}
	rc = logmgr_get_log(s->f->m, "t", 0, &s->f->cfg, true, &s->f->l);
	if (rc) {
		logmgr_close(s->f->m);
		s->f->m = NULL;
	}
	return rc;
}

/* Opening after an unclean stop: recovery of every segment after the
 * recovery point. */
static int op_recover(struct sweep *s)
{
	logmgr_abandon(s->f->m);
	s->f->m = NULL;
	return open_log(s);
}

/* A clean close, then every .index and .timeindex removed. */
static int prep_noindex(struct sweep *s)
{
	assert_int_equal(logmgr_close(s->f->m), 0);
	s->f->m = NULL;
	char dir[600];
	snprintf(dir, sizeof(dir), "%s/t-0", s->f->dir);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if ((l > 6 && !strcmp(de->d_name + l - 6, ".index")) ||
		    (l > 10 && !strcmp(de->d_name + l - 10, ".timeindex"))) {
			char p[1200];
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	}
	closedir(d);
	return 0;
}

/* The open that rebuilds them. */
static int op_reindex(struct sweep *s)
{
	return open_log(s);
}

static int op_read(struct sweep *s)
{
	char buf[256];
	struct log_cursor *c = log_cursor_new(s->f->l);
	if (!c)
		return -ENOMEM;
	int64_t pos = 0;
	ssize_t n;
	while ((n = log_read_lines(s->f->l, c, pos, buf, sizeof(buf), NULL)) > 0)
		pos += n;
	log_cursor_free(c);
	return n < 0 ? (int)n : 0;
}

static int op_lookup(struct sweep *s)
{
	int64_t off, pos, ts;
	int rc = log_offset_to_pos(s->f->l, 17, &pos);
	if (!rc)
		rc = log_pos_to_offset(s->f->l, pos, &off);
	if (!rc)
		rc = log_time_lookup(s->f->l, fake_now + 20, &off, &ts);
	return rc;
}

static int op_raw(struct sweep *s)
{
	struct log_raw raw;
	int rc = log_read_raw(s->f->l, 5, -1, 4096, &raw);
	if (rc)
		return rc;
	log_raw_release(&raw);
	return 0;
}

/* What the broker's scheduler does before a clean: the closed segments
 * durable and checkpointed (only those below the recovery point are
 * cleanable); then more records, each key written again. */
static int prep_clean(struct sweep *s)
{
	assert_int_equal(put(s, 30, 3), 0);
	assert_int_equal(log_flush_closed(s->f->l), 0);
	return logmgr_checkpoint(s->f->m);
}

static int op_clean(struct sweep *s)
{
	struct log_clean_stats cs;
	int rc = log_clean(s->f->l, fake_now + 1000, 1 << 20, false, &cs);
	return rc < 0 ? rc : 0;
}

/* Some segments for retention to delete. */
static int prep_more(struct sweep *s)
{
	return put(s, 200, 3);
}

static int op_retention(struct sweep *s)
{
	struct log_retention_result res;
	int rc = log_retention_run(s->f->l, fake_now, &res);
	if (rc < 0)
		return rc;
	assert_true(res.segments > 0);
	return log_delete_due(s->f->l, fake_now + 3600 * 1000) < 0 ? -EIO : 0;
}

static int op_delete_records(struct sweep *s)
{
	int64_t start;
	return log_delete_records(s->f->l, 25, false, &start);
}

/* A follower's truncation: the records from acked - 10 on go, now or,
 * when the cut fails, at the next append (the log is fenced there). */
static int op_truncate(struct sweep *s)
{
	int rc = log_truncate_durable(s->f->l, s->acked - 10);
	s->acked -= 10;
	return rc;
}

/* A clean close (checkpoints, the clean-shutdown marker). */
static int op_close(struct sweep *s)
{
	int rc = logmgr_close(s->f->m);
	s->f->m = NULL;
	return rc;
}

static int op_checkpoint(struct sweep *s)
{
	return logmgr_checkpoint(s->f->m);
}

static void test_append(void **state)
{
	(void)state;
	assert_true(sweep("afappend", tune_small, op_append) > 0);
}

static void test_append_lz4(void **state)
{
	(void)state;
	assert_true(sweep("afappendlz4", tune_lz4, op_append) > 0);
}

static void test_append_zstd(void **state)
{
	(void)state;
	assert_true(sweep("afappendzstd", tune_zstd, op_append) > 0);
}

static void test_append_lines(void **state)
{
	(void)state;
	assert_true(sweep("aflines", tune_small, op_append_lines) > 0);
}

static void test_sync(void **state)
{
	(void)state;
	sweep("afsync", tune_small, op_sync);
}

static void test_recover(void **state)
{
	(void)state;
	assert_true(sweep("afrecover", tune_small, op_recover) > 0);
}

static void test_recover_lz4(void **state)
{
	(void)state;
	assert_true(sweep("afrecoverlz4", tune_lz4, op_recover) > 0);
}

static void test_reindex(void **state)
{
	(void)state;
	assert_true(sweep_prep("afreindex", tune_small, prep_noindex, op_reindex) > 0);
}

static void test_read(void **state)
{
	(void)state;
	assert_true(sweep("afread", tune_lz4, op_read) > 0);
}

static void test_lookup(void **state)
{
	(void)state;
	sweep("aflookup", tune_small, op_lookup);
}

static void test_raw(void **state)
{
	(void)state;
	sweep("afraw", tune_small, op_raw);
}

static void test_checkpoint(void **state)
{
	(void)state;
	sweep("afckpt", tune_small, op_checkpoint);
}

static void test_append_big(void **state)
{
	(void)state;
	engine_helper_threads = 1;
	int runs = sweep("afbig", tune_lz4_big, op_append_big);
	engine_helper_threads = -1;
	assert_true(runs > 0);
}

static void test_append_client(void **state)
{
	(void)state;
	assert_true(sweep("afclient", tune_lz4, op_append_client) > 0);
}

static void tune_producer(struct log_config *cfg)
{
	tune_small(cfg);
	cfg->codec = LOG_CODEC_PRODUCER;
}

/* zstd batches kept as the client sent them (compression.type
 * producer): each is decompressed to be checked. */
static void test_append_client_zstd(void **state)
{
	(void)state;
	client_codec = BATCH_CODEC_ZSTD;
	int runs = sweep("afclientzstd", tune_producer, op_append_client);
	client_codec = BATCH_CODEC_NONE;
	assert_true(runs > 0);
}

static void test_append_follower(void **state)
{
	(void)state;
	assert_true(sweep("affollower", tune_small, op_append_follower) > 0);
}

static void test_clean(void **state)
{
	(void)state;
	sweep_keys = 7;
	int runs = sweep_prep("afclean", tune_compact, prep_clean, op_clean);
	sweep_keys = 0;
	assert_true(runs > 0);
}

static void test_retention(void **state)
{
	(void)state;
	assert_true(sweep_prep("afretain", tune_retain, prep_more, op_retention) > 0);
}

static void test_delete_records(void **state)
{
	(void)state;
	sweep("afdelrec", tune_small, op_delete_records);
}

static void test_truncate(void **state)
{
	(void)state;
	sweep("aftrunc", tune_small, op_truncate);
}

static void test_close(void **state)
{
	(void)state;
	sweep("afclose", tune_small, op_close);
}

/* ---- the broker: Produce and Fetch requests ---- */

/* One batch of n records "value-<first + i>" as a client sends it. */
static size_t client_batch(uint8_t *buf, size_t cap, int first, int n)
{
	struct batch_builder bb;
	char v[32];

	batch_builder_init(&bb, buf, cap, BATCH_CODEC_NONE);
	for (int i = 0; i < n; i++) {
		int l = snprintf(v, sizeof(v), "value-%d", first + i);
		assert_int_equal(batch_builder_add(&bb, NULL, -1, v, l, 1700000000000LL), 0);
	}
	int64_t size = batch_builder_finish(&bb, 0, -1);
	assert_true(size > 0);
	return (size_t)size;
}

static int fetch_all(struct brokerfx *f, int acked, int64_t *hw);

/* Produce v9, acks=1, of n records after the acked ones to partition 0 of
 * "t": its error code, or -1 when no answer came (the connection closed:
 * f->c is connected again). A request unanswered may have been appended
 * whole (its answer could not be made): never in part; then its records
 * count as acked (a client would send them again). */
static int produce_to(struct brokerfx *f, const char *topic, int *acked, int n)
{
	uint8_t b[4096];
	struct proto_produce_part p = { .index = 0, .records = b, .records_fd = -1 };
	p.records_len = (int32_t)client_batch(b, sizeof(b), *acked, n);
	struct proto_produce_topic topics[] = { { kstr_of(topic), 1, &p } };
	struct proto_produce_req req = { .transactional_id = KSTR_NULL,
					 .acks = 1,
					 .timeout_ms = 5000,
					 .n_topics = 1,
					 .topic_data = topics };
	struct proto_req_hdr hdr = { .api_key = PROTO_API_PRODUCE,
				     .api_version = 9,
				     .correlation_id = 1,
				     .client_id = KSTR_NULL };
	struct proto_out out;
	uint8_t *frame;
	size_t len, hl = 4 + 8 + 2 + 1;

	proto_out_init(&out, 1 << 20);
	assert_int_equal(proto_produce_req_encode(&out, &hdr, &req), 0);
	assert_int_equal(proto_out_flatten(&out, &frame, &len), 0);
	proto_out_free(&out);
	struct net_resp raw;
	int rc = net_client_call(f->c, PROTO_API_PRODUCE, 9, frame + hl, len - hl, 0,
				 BROKERFX_DEADLINE_MS, &raw);
	free(frame);
	if (rc) {
		net_client_close(f->c);
		f->c = brokerfx_connect(f);
		int64_t hw = -1;
		int countdown = atomic_exchange(&af_countdown, 0);
		assert_string_equal(topic, "t");
		assert_int_equal(fetch_all(f, 0, &hw), 0);
		atomic_store(&af_countdown, countdown);
		assert_true(hw == *acked || hw == *acked + n);
		*acked = (int)hw;
		return -1;
	}
	struct proto_produce_resp r;
	assert_int_equal(proto_produce_resp_decode(&raw.body, 9, &r), 0);
	assert_int_equal(r.n_topics, 1);
	int err = r.responses[0].partition_responses[0].error_code;
	if (err == 0) {
		assert_int_equal(r.responses[0].partition_responses[0].base_offset, *acked);
		*acked += n;
	}
	proto_produce_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

static int produce_n(struct brokerfx *f, int *acked, int n)
{
	return produce_to(f, "t", acked, n);
}

/* Fetch v12 from offset 0 of "t": its error code (-1: no answer), with
 * 0 records there if acked, and the high watermark in *hw (may be NULL). */
static int fetch_all(struct brokerfx *f, int acked, int64_t *hw)
{
	struct protofx_fetch pf;
	protofx_fetch_init(&pf, "t", -1, -1, 0, -1, 0);
	struct kbuf_w w;
	struct net_resp raw;
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_fetch_req_encode(&w, 12, &pf.req), 0);
	int rc = net_client_call(f->c, PROTO_API_FETCH, 12, w.buf, w.len, 0, BROKERFX_DEADLINE_MS,
				 &raw);
	kbuf_w_free(&w);
	if (rc) {
		net_client_close(f->c);
		f->c = brokerfx_connect(f);
		return -1;
	}
	struct proto_fetch_resp fr;
	assert_int_equal(proto_fetch_resp_decode(&raw.body, 12, &fr), 0);
	int err = fr.error_code;
	if (!err) {
		assert_int_equal(fr.n_topics, 1);
		assert_int_equal(fr.topics[0].n_partitions, 1);
		err = fr.topics[0].partitions[0].error_code;
	}
	if (!err && acked)
		assert_true(fr.topics[0].partitions[0].records_len > 0);
	if (!err && hw)
		*hw = fr.topics[0].partitions[0].high_watermark;
	proto_fetch_resp_free(&fr);
	net_resp_free(&raw);
	return err;
}

/* The line view of "t"-0 of b is value-0 .. value-(acked-1). */
static void topic_expect(struct broker *b, int acked)
{
	struct topic *t;
	struct topic_reader *r;
	size_t cap = (size_t)acked * 16 + 64, got = 0;
	char *buf = __real_malloc(cap);
	assert_non_null(buf);
	assert_int_equal(broker_topic_get(b, "t", &t), 0);
	assert_int_equal(topic_reader_new(t, 0, &r), 0);
	for (;;) {
		int64_t at = (int64_t)got;
		ssize_t n =
			topic_reader_read(t, 0, r, (int64_t)got, buf + got, cap - got, &at, NULL);
		assert_true(n >= 0);
		assert_int_equal(at, (int64_t)got);
		if (n == 0)
			break;
		got += (size_t)n;
		assert_true(got < cap);
	}
	topic_reader_free(r);
	topic_put(t);
	size_t at = 0;
	for (int i = 0; i < acked; i++) {
		char line[32];
		int len = snprintf(line, sizeof(line), "value-%d\n", i);
		assert_true(at + (size_t)len <= got);
		assert_memory_equal(buf + at, line, (size_t)len);
		at += (size_t)len;
	}
	assert_int_equal(at, got);
	free(buf);
}

typedef int broker_op(struct brokerfx *f, int *acked);

/* sweep() for a request to a broker: the Nth allocation of the broker's
 * threads fails (this one's, the client's, never do); the answer is an
 * error code or none (the connection closed), never a hang nor a
 * crash; then the broker still takes records and serves them, and after
 * a clean stop and start holds every acknowledged one. */
static int broker_sweep(const char *tag, broker_op *op)
{
	int runs = 0;
	for (int nth = 1;; nth++) {
		void *state;
		assert_int_equal(brokerfx_setup(&state, tag, ""), 0);
		struct brokerfx *f = state;
		int acked = 0;
		assert_int_equal(broker_topic_create(f->b, "t", 0, 0, 0755, NULL), 0);
		assert_int_equal(produce_n(f, &acked, 10), 0);
		af_arm_others(nth);
		int rc = op(f, &acked);
		bool hit = af_disarm();
		if (getenv("ALLOCFAIL_VERBOSE"))
			fprintf(stderr, "%s: allocation %d failed: %d\n", tag, nth, rc);
		if (!hit)
			assert_int_equal(rc, 0);
		assert_int_equal(produce_n(f, &acked, 3), 0);
		assert_int_equal(fetch_all(f, acked, NULL), 0);
		topic_expect(f->b, acked);
		brokerfx_close(f);
		brokerfx_open(f);
		topic_expect(f->b, acked);
		assert_int_equal(brokerfx_teardown(&state), 0);
		if (!hit)
			return runs;
		runs++;
	}
}

static int op_produce(struct brokerfx *f, int *acked)
{
	return produce_n(f, acked, 20);
}

/* A Fetch: an error answered for a partition that is there
 * (UNKNOWN_TOPIC_OR_PARTITION: the lookup could not make its view) is
 * one the broker's log explains (what it writes to stderr meanwhile,
 * caught in a file). */
static int op_fetch(struct brokerfx *f, int *acked)
{
	char path[] = "/tmp/mqfs-test-affetch-log.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, 2), 2);
	int err = fetch_all(f, *acked, NULL);
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	char text[8192] = "";
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);
	assert_true(n >= 0);
	text[n] = '\0';
	close(fd);
	unlink(path);
	fputs(text, stderr);
	if (err == PROTO_ERR_UNKNOWN_TOPIC_OR_PARTITION)
		assert_non_null(strstr(text, "answered UNKNOWN_TOPIC_OR_PARTITION"));
	return err;
}

/* Metadata v12 of "t" and of a topic auto-created by the request. */
static int op_metadata(struct brokerfx *f, int *acked)
{
	struct proto_meta_req_topic t[2] = { { .name = kstr_of("t") }, { .name = kstr_of("new") } };
	struct proto_meta_req req = { .n_topics = 2,
				      .topics = t,
				      .allow_auto_topic_creation = true };
	struct kbuf_w w;
	struct net_resp raw;

	(void)acked;
	kbuf_w_init(&w, 4096);
	assert_int_equal(proto_meta_req_encode(&w, 12, &req), 0);
	int rc = net_client_call(f->c, PROTO_API_METADATA, 12, w.buf, w.len, 0,
				 BROKERFX_DEADLINE_MS, &raw);
	kbuf_w_free(&w);
	if (rc) {
		net_client_close(f->c);
		f->c = brokerfx_connect(f);
		return -1;
	}
	struct proto_meta_resp r;
	assert_int_equal(proto_meta_resp_decode(&raw.body, 12, &r), 0);
	int err = 0;
	for (int32_t i = 0; i < r.n_topics; i++)
		if (r.topics[i].error_code)
			err = r.topics[i].error_code;
	proto_meta_resp_free(&r);
	net_resp_free(&raw);
	return err;
}

/* Then the topic the request created, whatever became of it, takes
 * records (made again by a second request if it was not made). */
static int op_metadata_then_new(struct brokerfx *f, int *acked)
{
	int rc = op_metadata(f, acked);
	int countdown = atomic_exchange(&af_countdown, 0);
	int n = 0;
	assert_int_equal(op_metadata(f, &n), 0);
	assert_int_equal(produce_to(f, "new", &n, 2), 0);
	assert_int_equal(n, 2);
	atomic_store(&af_countdown, countdown);
	return rc;
}

/* ---- the ACL store: a change notice updates it in place ---- */

/* An ALLOW (or DENY) of READ on topic name for User:u1 from any host. */
static struct acl_entry *acl_read(const char *name, int perm)
{
	struct acl_entry *v = calloc(1, sizeof(*v));

	assert_non_null(v);
	*v = (struct acl_entry){ ACL_RES_TOPIC, ACL_PAT_LITERAL,   ACL_OP_READ, (int8_t)perm,
				 strdup(name),  strdup("User:u1"), strdup("*") };
	assert_true(v->resource_name && v->principal && v->host);
	return v;
}

static bool acl_reads(struct acl_store *s, const char *name)
{
	return acl_authorize(s, "User:u1", "10.0.0.1", ACL_OP_READ, ACL_RES_TOPIC, name);
}

/* A notice that removes a resource's bindings, or replaces them by as
 * many, needs no memory: it takes effect even when none is left (a
 * removed ALLOW must stop allowing). One that adds bindings past the
 * store's room needs it: without, the store stays as it was. */
static void test_acl_update_in_place(void **state)
{
	struct acl_entry *v = calloc(3, sizeof(*v)), *e;
	struct acl_store *s;
	char why[64];

	(void)state;
	assert_non_null(v);
	assert_int_equal(acl_store_new("", "broker", false, why, sizeof(why), &s), 0);
	for (int i = 0; i < 3; i++) {
		e = acl_read((const char *[]){ "a", "b", "c" }[i], ACL_PERM_ALLOW);
		v[i] = *e;
		free(e);
	}
	acl_store_replace(s, v, 3);
	assert_true(acl_reads(s, "a") && acl_reads(s, "b") && acl_reads(s, "c"));

	e = calloc(1, sizeof(*e)); /* b's znode gone: no bindings */
	assert_non_null(e);
	af_arm(1);
	acl_store_set_resource(s, ACL_RES_TOPIC, ACL_PAT_LITERAL, "b", e, 0);
	assert_false(af_disarm());
	assert_false(acl_reads(s, "b"));
	assert_true(acl_reads(s, "a") && acl_reads(s, "c"));

	e = acl_read("a", ACL_PERM_DENY); /* a's ALLOW replaced by a DENY */
	af_arm(1);
	acl_store_set_resource(s, ACL_RES_TOPIC, ACL_PAT_LITERAL, "a", e, 1);
	assert_false(af_disarm());
	assert_false(acl_reads(s, "a"));

	e = acl_read("d", ACL_PERM_ALLOW); /* into the room b left */
	af_arm(1);
	acl_store_set_resource(s, ACL_RES_TOPIC, ACL_PAT_LITERAL, "d", e, 1);
	assert_false(af_disarm());
	assert_true(acl_reads(s, "d"));

	e = acl_read("e", ACL_PERM_ALLOW); /* past the room: refused */
	af_arm(1);
	acl_store_set_resource(s, ACL_RES_TOPIC, ACL_PAT_LITERAL, "e", e, 1);
	assert_true(af_disarm());
	assert_false(acl_reads(s, "e"));
	assert_true(acl_reads(s, "c") && acl_reads(s, "d"));
	assert_false(acl_reads(s, "a") || acl_reads(s, "b"));

	e = acl_read("e", ACL_PERM_ALLOW); /* with memory: there */
	acl_store_set_resource(s, ACL_RES_TOPIC, ACL_PAT_LITERAL, "e", e, 1);
	assert_true(acl_reads(s, "e"));
	acl_store_free(s);
}

static void test_broker_metadata(void **state)
{
	(void)state;
	assert_true(broker_sweep("afmeta", op_metadata_then_new) > 0);
}

static void test_broker_produce(void **state)
{
	(void)state;
	assert_true(broker_sweep("afproduce", op_produce) > 0);
}

static void test_broker_fetch(void **state)
{
	(void)state;
	assert_true(broker_sweep("affetch", op_fetch) > 0);
}

/* ---- the mount's operations (fs/), without a kernel ---- */

/* The daemon's log lines of WARN or worse written by the thread of the
 * mount's operation under test while it runs (fs_sweep): README "Errors",
 * every refused operation logs one line, ENOMEM included. mq_log and
 * mq_ratelimit_ok are wrapped (Makefile) so that the count sees each
 * line, the rate limit (20 a call site in 10 s, which a sweep's runs
 * would pass) letting every one through in this binary. */
static atomic_int af_warned;
static atomic_bool af_counting;
static pthread_t af_op_thread;

void __real_mq_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void __wrap_mq_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool __wrap_mq_ratelimit_ok(struct mq_ratelimit *rl);

void __wrap_mq_log(int level, const char *fmt, ...)
{
	int saved = errno;
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (level <= MQ_WARN && atomic_load(&af_counting) &&
	    pthread_equal(pthread_self(), af_op_thread))
		atomic_fetch_add(&af_warned, 1);
	errno = saved;
	__real_mq_log(level, "%s", line);
}

bool __wrap_mq_ratelimit_ok(struct mq_ratelimit *rl)
{
	(void)rl;
	return true;
}

struct fsfx {
	char dir[64];
	struct broker_config cfg;
	struct mqfs fs;
	int acked;
};

static void fsfx_open(struct fsfx *f)
{
	assert_int_equal(broker_open(&f->cfg, &f->fs.broker), 0);
	assert_int_equal(inode_table_new(topic_put, &f->fs.inodes), 0);
}

static void fsfx_close(struct fsfx *f)
{
	fs_file_release_all(&f->fs);
	inode_table_free(f->fs.inodes);
	broker_close(f->fs.broker);
}

/* Opens MNT/t/0 as open(2) would, through lookups: 0 or -errno. */
static int fs_open_part(struct fsfx *f, int flags, struct fs_file **out)
{
	struct fuse_entry_param e;
	int rc = fs_lookup(&f->fs, FUSE_ROOT_ID, "t", 1, &e);

	if (rc == 0)
		rc = fs_lookup(&f->fs, e.ino, "0", 1, &e);
	if (rc == 0)
		rc = fs_file_open(&f->fs, e.ino, flags, 1, out);
	return rc;
}

/* echo of n lines after the acked ones: open, one write, close. A write
 * refused appends nothing of itself; one taken is acked. */
static int fs_echo(struct fsfx *f, int n)
{
	const int fl = O_WRONLY | O_APPEND;
	char buf[1024];
	size_t len = 0;
	struct fs_file *w;
	int rc = fs_open_part(f, fl, &w);

	if (rc < 0)
		return rc;
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "value-%d\n", f->acked + i);
	ssize_t k = fs_file_write(w, buf, len, 0, fl, 7);
	if (k == (ssize_t)len)
		f->acked += n;
	rc = k < 0 ? (int)k : 0;
	int frc = fs_file_flush(w, 7, 1);
	fs_file_release(&f->fs, w);
	return rc ? rc : frc;
}

/* cat: the file read whole from 0 (through the page cache: paged),
 * each read's bytes those of lines. */
static int fs_cat_as(struct fsfx *f, bool paged)
{
	struct fs_file *r;
	int rc = fs_open_part(f, O_RDONLY, &r);
	off_t off = 0;

	if (rc < 0)
		return rc;
	for (;;) {
		const char *data;
		ssize_t n = fs_file_read(r, 4096, off, paged, &data);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			assert_true(data[i] == '\n' || data[i] == '-' ||
				    (data[i] >= '0' && data[i] <= 'z'));
		off += n;
	}
	fs_file_release(&f->fs, r);
	assert_true(rc < 0 || off >= (off_t)f->acked * 8);
	return rc;
}

static int fs_cat(struct fsfx *f)
{
	return fs_cat_as(f, false);
}

static int fs_cat_paged(struct fsfx *f)
{
	return fs_cat_as(f, true);
}

/* echo with O_DSYNC: each write made durable before it returns (the
 * group commit of log_sync). */
static int op_fs_dsync(struct fsfx *f)
{
	const int fl = O_WRONLY | O_APPEND | O_DSYNC;
	char buf[64];
	struct fs_file *w;
	int rc = fs_open_part(f, fl, &w);

	if (rc < 0)
		return rc;
	int len = snprintf(buf, sizeof(buf), "value-%d\nvalue-%d\n", f->acked, f->acked + 1);
	ssize_t k = fs_file_write(w, buf, (size_t)len, 0, fl, 7);
	if (k == len)
		f->acked += 2;
	rc = k < 0 ? (int)k : fs_file_fsync(w);
	int frc = fs_file_flush(w, 7, 1);
	fs_file_release(&f->fs, w);
	return rc ? rc : frc;
}

static int fs_ls(struct fsfx *f)
{
	struct fuse_entry_param e;
	struct fs_dir *d;
	int rc = fs_lookup(&f->fs, FUSE_ROOT_ID, "t", 1, &e);

	if (rc == 0)
		rc = fs_dir_open(&f->fs, e.ino, &d);
	if (rc == 0) {
		char buf[4096];
		ssize_t n = fs_dir_read(&f->fs, NULL, d, buf, sizeof(buf), 0);

		rc = n < 0 ? (int)n : 0;
		fs_dir_close(d);
	}
	return rc;
}

/* echo retention.ms=N > MNT/t/.config: open, one write, close (the
 * settings are applied at the close). */
static int op_fs_config(struct fsfx *f)
{
	const int fl = O_WRONLY | O_TRUNC;
	static const char text[] = "retention.ms=86400000\n";
	struct fuse_entry_param e;
	struct fs_file *w;
	int rc = fs_lookup(&f->fs, FUSE_ROOT_ID, "t", 1, &e);

	if (rc == 0)
		rc = fs_lookup(&f->fs, e.ino, ".config", 1, &e);
	if (rc == 0)
		rc = fs_file_open(&f->fs, e.ino, fl, 1, &w);
	if (rc < 0)
		return rc;
	ssize_t k = fs_file_write(w, text, sizeof(text) - 1, 0, fl, 7);
	rc = k < 0 ? (int)k : 0;
	int frc = fs_file_flush(w, 7, 1);
	fs_file_release(&f->fs, w);
	return rc ? rc : frc;
}

/* stat and cat of MNT/t/.state and of partition 0's first segment's
 * .dump (generated views: rendered text). */
static int op_fs_views(struct fsfx *f)
{
	static const char *const names[] = { ".state", ".segments" };
	struct fuse_entry_param e, t;
	int rc = fs_lookup(&f->fs, FUSE_ROOT_ID, "t", 1, &t);

	for (int i = 0; i < 2 && rc == 0; i++) {
		struct fs_file *r;
		struct stat st;
		double timeout;

		rc = fs_lookup(&f->fs, t.ino, names[i], 1, &e);
		if (rc == 0 && i == 1)
			rc = fs_lookup(&f->fs, e.ino, "0", 1, &e);
		if (rc == 0 && i == 1)
			rc = fs_lookup(&f->fs, e.ino, "00000000000000000000.dump", 1, &e);
		if (rc == 0)
			rc = fs_getattr(&f->fs, e.ino, &st, &timeout);
		if (rc == 0)
			rc = fs_file_open(&f->fs, e.ino, O_RDONLY, 1, &r);
		if (rc < 0)
			break;
		for (off_t off = 0;;) {
			const char *data;
			ssize_t n = fs_file_read(r, 4096, off, false, &data);

			if (n <= 0) {
				rc = (int)n;
				break;
			}
			off += n;
		}
		fs_file_release(&f->fs, r);
	}
	return rc;
}

typedef int fs_op(struct fsfx *f);

/* sweep() for the mount's operations on MNT/t/0: the Nth allocation
 * fails; the operation returns 0 or -errno (never a crash), then echo
 * and cat work, and every acked line is there, before and after a
 * restart. */
static int fs_sweep(const char *tag, fs_op *op)
{
	int runs = 0;
	for (int nth = 1;; nth++) {
		struct fsfx *f = __real_calloc(1, sizeof(*f));
		assert_non_null(f);
		snprintf(f->dir, sizeof(f->dir), "/tmp/mqfs-test-%s.XXXXXX", tag);
		assert_non_null(mkdtemp(f->dir));
		broker_config_defaults(&f->cfg);
		snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/data", f->dir);
		pthread_mutex_init(&f->fs.files_lock, NULL);
		pthread_mutex_init(&f->fs.cache_mu, NULL);
		f->fs.root_mode = 0755;
		fsfx_open(f);
		assert_int_equal(broker_topic_create(f->fs.broker, "t", 0, 0, 0755, NULL), 0);
		assert_int_equal(fs_echo(f, 10), 0);
		af_op_thread = pthread_self();
		atomic_store(&af_warned, 0);
		atomic_store(&af_counting, true);
		af_arm(nth);
		int rc = op(f);
		bool hit = af_disarm();
		atomic_store(&af_counting, false);
		if (getenv("ALLOCFAIL_VERBOSE"))
			fprintf(stderr, "%s: allocation %d failed: %d\n", tag, nth, rc);
		if (!hit)
			assert_int_equal(rc, 0);
		assert_true(rc <= 0);
		/* A refusal is logged, whichever allocation failed. */
		if (rc < 0 && atomic_load(&af_warned) == 0)
			fail_msg("%s: allocation %d failed: %s, and nothing was logged", tag, nth,
				 strerror(-rc));
		assert_int_equal(fs_echo(f, 3), 0);
		assert_int_equal(fs_cat(f), 0);
		topic_expect(f->fs.broker, f->acked);
		fsfx_close(f);
		fsfx_open(f);
		topic_expect(f->fs.broker, f->acked);
		fsfx_close(f);
		pthread_mutex_destroy(&f->fs.files_lock);
		pthread_mutex_destroy(&f->fs.cache_mu);
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		assert_int_equal(system(cmd), 0);
		free(f);
		if (!hit)
			return runs;
		runs++;
	}
}

static int op_fs_echo(struct fsfx *f)
{
	return fs_echo(f, 20);
}

/* A line written in two parts ("value-N", then its '\n'), the second
 * only if the first was taken: the record is appended whole or not at
 * all, whatever failed (a close after a failed part drops the front). */
static int op_fs_parts(struct fsfx *f)
{
	const int fl = O_WRONLY | O_APPEND;
	char line[32];
	struct fs_file *w;
	struct topic *t;
	int len = snprintf(line, sizeof(line), "value-%d\n", f->acked);
	int countdown = atomic_exchange(&af_countdown, 0);
	assert_int_equal(broker_topic_get(f->fs.broker, "t", &t), 0);
	int64_t before = topic_line_size(t, 0);
	atomic_store(&af_countdown, countdown);
	int rc = fs_open_part(f, fl, &w);
	if (rc == 0) {
		ssize_t k = fs_file_write(w, line, (size_t)len - 1, 0, fl, 7);
		if (k == len - 1)
			k = fs_file_write(w, line + len - 1, 1, (off_t)len - 1, fl, 7);
		rc = k < 0 ? (int)k : 0;
		int frc = fs_file_flush(w, 7, 1);
		rc = rc ? rc : frc;
		fs_file_release(&f->fs, w);
	}
	int64_t after = topic_line_size(t, 0);
	topic_put(t);
	assert_true(after == before || after == before + len);
	if (after > before)
		f->acked++;
	return rc;
}

static void test_fs_parts(void **state)
{
	(void)state;
	assert_true(fs_sweep("afparts", op_fs_parts) > 0);
}

static void test_fs_echo(void **state)
{
	(void)state;
	assert_true(fs_sweep("afecho", op_fs_echo) > 0);
}

static void test_fs_cat(void **state)
{
	(void)state;
	assert_true(fs_sweep("afcat", fs_cat) > 0);
}

static void test_fs_cat_paged(void **state)
{
	(void)state;
	assert_true(fs_sweep("afcatpaged", fs_cat_paged) > 0);
}

static void test_fs_dsync(void **state)
{
	(void)state;
	assert_true(fs_sweep("afdsync", op_fs_dsync) > 0);
}

static void test_fs_ls(void **state)
{
	(void)state;
	assert_true(fs_sweep("afls", fs_ls) > 0);
}

static void test_fs_config(void **state)
{
	(void)state;
	assert_true(fs_sweep("afconfig", op_fs_config) > 0);
}

static void test_fs_views(void **state)
{
	(void)state;
	assert_true(fs_sweep("afviews", op_fs_views) > 0);
}

/* A failed assertion leaves a sweep armed: the next test starts clean. */
static int disarm(void **state)
{
	(void)state;
	af_disarm();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_append, disarm),
		cmocka_unit_test_teardown(test_append_lz4, disarm),
		cmocka_unit_test_teardown(test_append_zstd, disarm),
		cmocka_unit_test_teardown(test_append_lines, disarm),
		cmocka_unit_test_teardown(test_sync, disarm),
		cmocka_unit_test_teardown(test_recover, disarm),
		cmocka_unit_test_teardown(test_recover_lz4, disarm),
		cmocka_unit_test_teardown(test_reindex, disarm),
		cmocka_unit_test_teardown(test_read, disarm),
		cmocka_unit_test_teardown(test_lookup, disarm),
		cmocka_unit_test_teardown(test_raw, disarm),
		cmocka_unit_test_teardown(test_checkpoint, disarm),
		cmocka_unit_test_teardown(test_close, disarm),
		cmocka_unit_test_teardown(test_append_big, disarm),
		cmocka_unit_test_teardown(test_append_client, disarm),
		cmocka_unit_test_teardown(test_append_follower, disarm),
		cmocka_unit_test_teardown(test_clean, disarm),
		cmocka_unit_test_teardown(test_retention, disarm),
		cmocka_unit_test_teardown(test_delete_records, disarm),
		cmocka_unit_test_teardown(test_append_client_zstd, disarm),
		cmocka_unit_test_teardown(test_broker_produce, disarm),
		cmocka_unit_test_teardown(test_broker_fetch, disarm),
		cmocka_unit_test_teardown(test_broker_metadata, disarm),
		cmocka_unit_test_teardown(test_acl_update_in_place, disarm),
		cmocka_unit_test_teardown(test_fs_echo, disarm),
		cmocka_unit_test_teardown(test_fs_parts, disarm),
		cmocka_unit_test_teardown(test_fs_cat, disarm),
		cmocka_unit_test_teardown(test_fs_ls, disarm),
		cmocka_unit_test_teardown(test_fs_config, disarm),
		cmocka_unit_test_teardown(test_fs_views, disarm),
		cmocka_unit_test_teardown(test_fs_cat_paged, disarm),
		cmocka_unit_test_teardown(test_fs_dsync, disarm),
		cmocka_unit_test_teardown(test_truncate, disarm),
	};
	/* AF_ONLY=pattern runs those whose name matches (cmocka's filter). */
	if (getenv("AF_ONLY"))
		cmocka_set_test_filter(getenv("AF_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
