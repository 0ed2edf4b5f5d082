/*
 * test_fdcache.c — the descriptors of closed segments: a log with many more
 * closed segments than the manager keeps open is opened, read whole through
 * cursors and .dump, made durable and reopened with the number of
 * open descriptors bounded all along; a reader of a segment retention
 * removed reopens its renamed files, never a file that replaced them; a
 * reader of a segment the cleaner replaced reads the old files on;
 * running out of descriptors (EMFILE
 * from the I/O table) fails a read or an append cleanly, appends nothing,
 * and everything works again once descriptors are free.
 */
#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/log_int.h"
#include "tests/unit/logfx.h"

enum { NREC = 600, CACHE = 8 };

static void small_segments(struct log_config *cfg)
{
	cfg->segment_bytes = 400; /* two or three batches a segment */
}

static int setup(void **state)
{
	return logfx_setup(state, "fdcache", small_segments);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own descriptor */
}

/* Appends NREC records, one batch each; returns the line view. */
static char *fill(struct log *l, size_t *len)
{
	size_t cap = NREC * 64, n = 0;
	char *want = malloc(cap);
	assert_non_null(want);
	for (int i = 0; i < NREC; i++) {
		char v[64];
		int k = snprintf(v, sizeof(v), "record %05d of the descriptor cache test", i);
		struct rec_in r = { NULL, -1, v, k, 1 };
		assert_int_equal(log_append(l, &r, 1, 0, NULL), 0);
		memcpy(want + n, v, (size_t)k);
		n += (size_t)k;
		want[n++] = '\n';
	}
	struct log_state st;
	log_get_state(l, &st);
	assert_int_equal(log_set_hw(l, st.log_end_offset), 0);
	*len = n;
	return want;
}

static void read_all(struct log *l, const char *want, size_t len)
{
	char *got = malloc(len + 1);
	struct log_cursor *c = log_cursor_new(l);
	size_t at = 0;
	assert_non_null(got);
	assert_non_null(c);
	while (at < len) {
		ssize_t n = log_read_lines(l, c, (int64_t)at, got + at, 1000, NULL);
		assert_true(n > 0);
		at += (size_t)n;
	}
	assert_memory_equal(got, want, len);
	log_cursor_free(c);
	free(got);
}

/* Every segment's .dump names each of its records. */
static void dump_all(struct log *l, int fd_bound)
{
	int64_t *bases;
	int n;
	static char buf[1 << 20];
	int seen = 0;
	assert_int_equal(log_segments(l, &bases, &n), 0);
	for (int i = 0; i < n; i++) {
		int64_t cur = 0;
		ssize_t k;
		while ((k = log_segment_render(l, bases[i], SEG_DUMP, &cur, buf, sizeof(buf) - 1)) >
		       0) {
			buf[k] = '\0';
			for (char *p = buf; (p = strstr(p, "record ")); p++)
				seen++;
		}
		assert_int_equal(k, 0);
		assert_true(log_segment_size(l, bases[i], SEG_INDEX) >= 0);
		assert_true(open_fds() <= fd_bound);
	}
	assert_int_equal(seen, NREC);
	free(bases);
}

/* Hundreds of closed segments, CACHE idle sets kept open: the open, the
 * reads, the .dump views, a restart and more appends all stay within a
 * bound that does not grow with the number of segments. */
static void test_many_segments_bounded(void **state)
{
	struct logfx *f = *state;
	size_t len;
	int64_t *bases, open_sets, evictions;
	int nsegs;

	logmgr_set_fd_cache(f->m, CACHE);
	int base_fds = open_fds();
	char *want = fill(f->l, &len);
	assert_int_equal(log_segments(f->l, &bases, &nsegs), 0);
	free(bases);
	assert_true(nsegs > 150);
	/* The active set, CACHE idle ones; nothing is in use between calls. */
	int bound = base_fds + (CACHE + 1) * 4;
	assert_true(open_fds() <= bound);
	logmgr_fd_stats(f->m, &open_sets, &evictions);
	assert_true(open_sets <= CACHE + 1);
	assert_true(evictions >= nsegs - CACHE - 1);

	read_all(f->l, want, len);
	assert_true(open_fds() <= bound);
	dump_all(f->l, bound);
	/* The closed segments made durable, each reopened for its fsync. */
	assert_int_equal(log_flush(f->l, -1), 0);
	assert_true(open_fds() <= bound);

	/* A restart opens every segment to check it, keeping CACHE of them. */
	assert_int_equal(logmgr_close(f->m), 0);
	assert_int_equal(logmgr_open(f->dir, &f->fio.ops, &f->m), 0);
	logmgr_set_fd_cache(f->m, CACHE);
	assert_int_equal(logmgr_get_log(f->m, "t", 0, &f->cfg, true, &f->l), 0);
	assert_true(open_fds() <= bound);
	read_all(f->l, want, len);
	struct rec_in r = { NULL, -1, "after", 5, 1 };
	assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	assert_true(open_fds() <= bound);
	free(want);
}

/* A segment that retention removed while a reader still holds it, with
 * its descriptors closed by the cache: the reader reopens the renamed
 * (.deleted) files and reads its batches; the files go with the reader's
 * reference. A segment whose .log was replaced under its name is not
 * reopened: the read fails and says why. */
static void test_reopen_deleted_or_replaced(void **state)
{
	struct logfx *f = *state;
	size_t len;
	uint8_t *b = NULL;
	size_t cap = 0;
	char p[PATH_MAX + 32], q[PATH_MAX + 32];

	logmgr_set_fd_cache(f->m, CACHE);
	char *want = fill(f->l, &len);
	struct seg *s0 = log_seg_get(f->l, 0), *s1;
	int64_t *bases;
	int n;
	assert_int_equal(log_segments(f->l, &bases, &n), 0);
	s1 = log_seg_get(f->l, bases[1]);
	free(bases);
	assert_non_null(s0);
	assert_non_null(s1);
	read_all(f->l, want, len); /* every set used since: s0's closed */
	assert_true(s0->log_fd < 0);
	assert_true(s1->log_fd < 0);

	f->cfg.retention_bytes = 1000;
	f->cfg.file_delete_delay_ms = 0; /* the files go with the last reference */
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	assert_true(log_retention_run(f->l, fake_now, NULL) > 2);
	snprintf(p, sizeof(p), "%s.log.deleted", s0->path);
	assert_int_equal(access(p, F_OK), 0);
	int64_t total = seg_read_batch(s0, 0, atomic_load(&s0->size), &b, &cap);
	assert_true(total > 0);
	assert_non_null(memmem(b, (size_t)total, "record 00000", 12));
	seg_unref(s0);
	assert_int_equal(access(p, F_OK), -1);

	/* s1's .log replaced by another file under the same (.deleted) name. */
	snprintf(p, sizeof(p), "%s.log.deleted", s1->path);
	snprintf(q, sizeof(q), "%s.log.other", s1->path);
	FILE *o = fopen(q, "w");
	assert_non_null(o);
	fputs("not the segment", o);
	fclose(o);
	assert_int_equal(rename(q, p), 0);
	logfx_reports[0] = '\0';
	assert_int_equal(seg_read_batch(s1, 0, atomic_load(&s1->size), &b, &cap), -ENOENT);
	assert_non_null(strstr(logfx_reports, "were replaced"));
	seg_unref(s1);
	free(b);
	free(want);
}

/* Out of descriptors: a read of a closed segment whose set was closed, and
 * an append that must open a new segment, fail with EMFILE; nothing is
 * appended; the failure is reported once; with descriptors free again both
 * work. One failed open is absorbed: the cache closes its idle sets and
 * tries again. */
static void test_emfile(void **state)
{
	struct logfx *f = *state;
	size_t len;
	char buf[4096];
	struct log_state st0, st;
	int64_t open_sets, ev0, ev1;

	logmgr_set_fd_cache(f->m, 2);
	char *want = fill(f->l, &len);
	struct log_cursor *c = log_cursor_new(f->l);
	assert_non_null(c);

	f->fio.open_errno = EMFILE;
	f->fio.open_fails = 1000000;
	logfx_reports[0] = '\0';
	assert_int_equal(log_read_lines(f->l, c, 0, buf, sizeof(buf), NULL), -EMFILE);
	assert_int_equal(log_read_lines(f->l, c, 0, buf, sizeof(buf), NULL), -EMFILE);
	log_get_state(f->l, &st0);
	/* Within segment.bytes (a batch over it is refused), over what the
	 * active segment has left: a roll. */
	struct rec_in big = { NULL, -1, buf, 300, 1 };
	memset(buf, 'x', 300);
	assert_int_equal(log_append(f->l, &big, 1, 0, NULL), -EMFILE);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, st0.log_end_offset);
	/* Reported once (rate limited), naming the segment. */
	char *first = strstr(logfx_reports, "cannot open the segment's files");
	assert_non_null(first);
	assert_non_null(strstr(logfx_reports, "00000000000000000000.log"));
	assert_null(strstr(first + 1, "cannot open the segment's files"));

	/* One open fails: the idle sets go and the second try works. */
	logmgr_fd_stats(f->m, &open_sets, &ev0);
	f->fio.open_fails = 1;
	ssize_t n = log_read_lines(f->l, c, 0, buf, 100, NULL);
	assert_int_equal(n, 100);
	assert_memory_equal(buf, want, 100);
	logmgr_fd_stats(f->m, &open_sets, &ev1);
	assert_int_equal(f->fio.open_fails, 0);

	/* Free again: the append goes through, the log reads whole. */
	assert_int_equal(log_append(f->l, &big, 1, 0, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, st0.log_end_offset + 1);

	/* A roll whose directory fsync finds no descriptor free (others took
	 * the ones its files' opens freed): the idle sets go and it is
	 * tried again, the append goes through. */
	int32_t segs0 = st.segments;
	f->fio.dir_open_fails = 1;
	assert_int_equal(log_append(f->l, &big, 1, 0, NULL), 0);
	assert_int_equal(f->fio.dir_open_fails, 0);
	log_get_state(f->l, &st);
	assert_true(st.segments > segs0);
	assert_int_equal(st.log_end_offset, st0.log_end_offset + 2);
	read_all(f->l, want, len);
	log_cursor_free(c);
	free(want);
}

static void compacted(struct log_config *cfg)
{
	cfg->segment_bytes = 1024;
	cfg->cleanup_policy = LOG_CLEANUP_COMPACT;
	cfg->retention_ms = -1;
	cfg->key_sep[0] = '=';
	cfg->key_sep_len = 1;
}

static int setup_compacted(void **state)
{
	return logfx_setup(state, "fdcache-clean", compacted);
}

/* A reader holding a segment that the cleaner replaces keeps reading the
 * old files, even with the cache closing every idle set: the cleaner keeps
 * the old segment's descriptors, since its names now hold the new files. */
static void test_cleaned_segment_keeps_fds(void **state)
{
	struct logfx *f = *state;
	uint8_t *b = NULL, *before = NULL;
	size_t cap = 0, bcap = 0;

	for (int i = 0; i < 300; i++) {
		char k[8], v[16];
		int kl = snprintf(k, sizeof(k), "k%d", i % 5);
		int vl = snprintf(v, sizeof(v), "v%d", i);
		struct rec_in r = { k, kl, v, vl, fake_now };
		assert_int_equal(log_append(f->l, &r, 1, 0, NULL), 0);
	}
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	assert_int_equal(log_flush_closed(f->l), 0);
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	struct seg *s0 = log_seg_get(f->l, 0);
	assert_non_null(s0);
	int64_t size0 = atomic_load(&s0->size);
	int64_t n0 = seg_read_batch(s0, 0, size0, &before, &bcap);
	assert_true(n0 > 0);
	seg_cache_set_max(f->l->fdc, 0);
	assert_true(s0->log_fd < 0);
	struct log_clean_stats cs;
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, &cs), 1);
	assert_true(cs.segments_rewritten > 0);
	seg_cache_set_max(f->l->fdc, 0);
	assert_int_equal(seg_read_batch(s0, 0, size0, &b, &cap), n0);
	assert_memory_equal(b, before, (size_t)n0);
	seg_unref(s0);
	free(b);
	free(before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_segments_bounded, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_reopen_deleted_or_replaced, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_emfile, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_cleaned_segment_keeps_fds, setup_compacted,
						logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
