/*
 * test_cleaner.c — compaction (engine/cleaner.c): a known sequence of keys,
 * values and tombstones; survivors keep offsets and line positions; reads
 * at removed positions continue at the next survivor; the tombstone
 * horizon; keyless records; dirty ratio, min.cleanable.dirty.ratio and
 * min.compaction.lag.ms; recovery keeps the gaps; a crash at every
 * mutating step of a clean loses no surviving record; an idempotent
 * producer's batches keep their producer fields, its last batch stays
 * whole, and the producer state rebuilt from the compacted log still
 * answers a resend of that batch as a duplicate; the page that holds the
 * end of a cleaned range keeps its removed bytes for page-cache readers;
 * a truncation below the cleaned range makes what follows it dirty again.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/log_int.h"
#include "repl/producer_state.h"
#include "tests/unit/logfx.h"

#define MAXREC 4000

/* What was written: offset -> key index (-1 none), tombstone, ts. */
static struct written {
	int key[MAXREC];
	bool tomb[MAXREC];
	int64_t ts[MAXREC];
	int64_t pos[MAXREC]; /* line position, recorded at write */
	char line[MAXREC][32];
	/* A tombstone's delete horizon, as the first clean that kept it set
	 * it (0: none yet), and whether a clean came at or past it (it may
	 * be gone). */
	int64_t hz[MAXREC];
	bool past_hz[MAXREC];
	int n;
} wr;

/* log_clean, and the model of the tombstones' delete horizons (Kafka's
 * KIP-534): a tombstone goes at a clean at or past the horizon that the
 * first clean keeping it set to its time + delete.retention.ms. */
static int clean_noted(struct log *l, int64_t now, int64_t map_bytes, bool force,
		       struct log_clean_stats *st)
{
	struct log_state s;

	for (int o = 0; o < wr.n; o++)
		if (wr.tomb[o] && wr.hz[o] && now >= wr.hz[o])
			wr.past_hz[o] = true;
	int rc = log_clean(l, now, map_bytes, force, st);
	int64_t drm = l->cfg.delete_retention_ms;
	log_get_state(l, &s);
	for (int o = 0; o < wr.n && o < s.first_dirty_offset; o++)
		if (wr.tomb[o] && !wr.hz[o] && rc == 1) /* at most 2^63-1, as the cleaner's */
			wr.hz[o] = drm < INT64_MAX - now ? now + drm : INT64_MAX;
	return rc;
}
#define log_clean clean_noted

static void tune(struct log_config *cfg)
{
	cfg->segment_bytes = 1024;
	cfg->index_interval_bytes = 200;
	cfg->cleanup_policy = LOG_CLEANUP_COMPACT;
	cfg->retention_ms = -1;
	cfg->delete_retention_ms = 10000;
	cfg->key_sep[0] = '=';
	cfg->key_sep_len = 1;
}

static int setup(void **state)
{
	memset(&wr, 0, sizeof(wr));
	/* Reads take whole batches at once (cursor.c) even on these small
	 * logs, so the gaps compaction leaves are met on that path too. */
	engine_batch_read_min = 64;
	return logfx_setup(state, "clean", tune);
}

/* Appends records in batches of `per`: key k (or none if k < 0) with value
 * "v<offset>", or a tombstone (null value, as the mount writes key<sep>)
 * when tomb. */
static void put(struct logfx *f, const int *keys, const bool *tombs, int n, int per)
{
	struct rec_in r[64];
	char kb[64][16], vb[64][16];
	for (int i = 0; i < n;) {
		int k = 0;
		for (; k < per && i < n; k++, i++) {
			int o = wr.n + i;
			int kl = snprintf(kb[k], sizeof(kb[k]), "k%d", keys[i]);
			int vl = tombs[i] ? -1 : snprintf(vb[k], sizeof(vb[k]), "v%d", o);
			r[k] = (struct rec_in){ keys[i] < 0 ? NULL : kb[k], keys[i] < 0 ? -1 : kl,
						tombs[i] ? NULL : vb[k], vl, fake_now };
			wr.key[o] = keys[i];
			wr.tomb[o] = tombs[i];
			wr.ts[o] = fake_now;
			if (keys[i] < 0)
				snprintf(wr.line[o], sizeof(wr.line[o]), "v%d\n", o);
			else if (tombs[i])
				snprintf(wr.line[o], sizeof(wr.line[o]), "k%d=\n", keys[i]);
			else
				snprintf(wr.line[o], sizeof(wr.line[o]), "k%d=v%d\n", keys[i], o);
			wr.pos[o] = o ? wr.pos[o - 1] + (int64_t)strlen(wr.line[o - 1]) : 0;
		}
		assert_int_equal(log_append(f->l, r, k, 0, NULL), 0);
	}
	wr.n += n;
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, wr.n);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	/* What the broker's scheduler does: closed segments become durable,
	 * and it checkpoints before cleaning (only segments below the
	 * checkpointed recovery point are cleanable). */
	assert_int_equal(log_flush_closed(f->l), 0);
	assert_int_equal(logmgr_checkpoint(f->m), 0);
}

/* nkeys keys written rounds times, round-robin; tombstones for the keys in
 * tomb_keys on the last round. */
static void put_rounds(struct logfx *f, int nkeys, int rounds, int tomb_every)
{
	int keys[MAXREC];
	bool tombs[MAXREC];
	int n = 0;
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < nkeys; k++, n++) {
			keys[n] = k;
			tombs[n] = tomb_every && r == rounds - 1 && k % tomb_every == 0;
		}
	put(f, keys, tombs, n, 7);
}

struct seen {
	int64_t pos[MAXREC];
	char line[MAXREC][32];
	int n;
};

/* The whole line view, record by record with its position, through one
 * cursor in chunks (positions from *actual_pos). */
static void read_view(struct log *l, struct seen *s)
{
	struct log_cursor *c = log_cursor_new(l);
	static char buf[1 << 17];
	size_t have = 0;
	int64_t pos = 0, start = 0, actual;
	s->n = 0;
	for (;;) {
		ssize_t g = log_read_lines(l, c, pos, buf + have, 333, &actual);
		assert_true(g >= 0);
		if (g == 0)
			break;
		if (have == 0)
			start = actual;
		else
			assert_int_equal(actual, pos); /* a jump comes at a line start */
		have += (size_t)g;
		pos = actual + g;
		/* Cut complete lines. */
		char *p = buf, *nl;
		while ((nl = memchr(p, '\n', have - (size_t)(p - buf)))) {
			size_t len = (size_t)(nl - p) + 1;
			assert_true(len < 32);
			s->pos[s->n] = start;
			memcpy(s->line[s->n], p, len);
			s->line[s->n][len] = '\0';
			s->n++;
			start += (int64_t)len;
			p = nl + 1;
		}
		have -= (size_t)(p - buf);
		memmove(buf, p, have);
	}
	assert_int_equal(have, 0);
	log_cursor_free(c);
}

/* Which records a clean must keep, given the first uncleanable offset. */
static bool must_keep(struct logfx *f, int o, int64_t uncleanable)
{
	if (o >= uncleanable)
		return true;
	if (wr.key[o] < 0)
		return false; /* Kafka's cleaner drops a record without a key */
	for (int j = o + 1; j < uncleanable; j++)
		if (wr.key[j] == wr.key[o])
			return false;
	(void)f;
	return !(wr.tomb[o] && wr.past_hz[o]);
}

/* Every line read is an original record at its original position, in
 * order; every record in must_keep is among them. */
static void check_view(struct logfx *f, int64_t uncleanable, bool exact)
{
	static struct seen s;
	read_view(f->l, &s);
	int o = 0;
	for (int i = 0; i < s.n; i++) {
		while (o < wr.n && wr.pos[o] != s.pos[i]) {
			assert_false(must_keep(f, o, uncleanable));
			o++;
		}
		assert_true(o < wr.n);
		assert_string_equal(s.line[i], wr.line[o]);
		if (exact)
			assert_true(must_keep(f, o, uncleanable));
		int64_t p;
		assert_int_equal(log_offset_to_pos(f->l, o, &p), 0);
		assert_int_equal(p, wr.pos[o]);
		o++;
	}
	for (; o < wr.n; o++)
		assert_false(must_keep(f, o, uncleanable));
}

static void test_compact_sequence(void **state)
{
	struct logfx *f = *state;
	put_rounds(f, 20, 10, 5); /* 200 records, k0 k5 k10 k15 tombstoned */
	int keyless[10];
	bool no[10] = { 0 };
	for (int i = 0; i < 10; i++)
		keyless[i] = -1;
	put(f, keyless, no, 10, 3);
	put_rounds(f, 20, 1, 0); /* fills on; the active segment */
	struct log_state st0, st;
	log_get_state(f->l, &st0);
	assert_true(st0.segments > 4);
	double ratio;
	assert_int_equal(log_dirty_ratio(f->l, fake_now, &ratio), 0);
	assert_true(ratio == 1.0);
	struct log_clean_stats cs;
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, &cs), 1);
	int64_t *bases;
	int nb;
	assert_int_equal(log_segments(f->l, &bases, &nb), 0);
	int64_t uncleanable = bases[nb - 1];
	free(bases);
	assert_int_equal(cs.first_dirty_offset, uncleanable);
	assert_true(cs.records_removed > 100);
	assert_true(cs.segments_rewritten > 0);
	assert_true(cs.bytes_written < cs.bytes_read);
	log_get_state(f->l, &st);
	assert_int_equal(st.first_dirty_offset, uncleanable);
	assert_int_equal(st.line_hw, st0.line_hw);
	assert_int_equal(st.log_start_offset, 0);
	check_view(f, uncleanable, true);
	/* Tombstones are still there (inside delete.retention.ms). */
	int64_t p;
	assert_int_equal(log_offset_to_pos(f->l, 180, &p), 0); /* k0's tombstone */
	assert_int_equal(p, wr.pos[180]);
	/* A read at a removed record's position continues at the next
	 * survivor. */
	struct log_cursor *c = log_cursor_new(f->l);
	char buf[64];
	int64_t actual;
	assert_true(log_read_lines(f->l, c, wr.pos[3] + 1, buf, sizeof(buf), &actual) > 0);
	assert_int_equal(actual, wr.pos[180]);
	log_cursor_free(c);
	/* Nothing dirty: no clean unless forced, and then nothing changes. */
	assert_int_equal(log_dirty_ratio(f->l, fake_now, &ratio), 0);
	assert_true(ratio == 0.0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, NULL), 0);
	/* Past the horizon, with new dirty data, the tombstones go. */
	fake_now += 20000;
	put_rounds(f, 20, 6, 0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, &cs), 1);
	check_view(f, cs.first_dirty_offset, true);
	assert_false(log_offset_to_pos(f->l, 180, &p) == 0 && p == wr.pos[180]);
	/* Gaps survive a reopen that rescans every segment. */
	static struct seen before, after;
	read_view(f->l, &before);
	logmgr_abandon(f->m);
	char path[400];
	snprintf(path, sizeof(path), "%s/recovery-point-offset-checkpoint", f->dir);
	unlink(path);
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_true(st.recovered_segments > 3);
	read_view(f->l, &after);
	assert_int_equal(after.n, before.n);
	for (int i = 0; i < before.n; i++) {
		assert_int_equal(after.pos[i], before.pos[i]);
		assert_string_equal(after.line[i], before.line[i]);
	}
}

/* delete.retention.ms at its largest (2^63-1, which Kafka accepts) keeps
 * tombstones for ever: timestamp + delete.retention.ms must not wrap
 * below now and remove them at the first clean. */
static void test_tombstones_kept_forever(void **state)
{
	struct logfx *f = *state;
	struct log_clean_stats cs;
	int64_t p;

	f->cfg.delete_retention_ms = INT64_MAX;
	log_reconfigure(f->l, &f->cfg);
	put_rounds(f, 20, 10, 5); /* k0 k5 k10 k15 tombstoned at 180.. */
	fake_now += 10LL * 365 * 24 * 3600 * 1000;
	/* Later records of other keys: dirty data for a clean, without
	 * superseding the tombstones. */
	int keys[120];
	bool no[120] = { 0 };
	for (int i = 0; i < 120; i++)
		keys[i] = 100 + i % 20;
	put(f, keys, no, 120, 7);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, &cs), 1);
	assert_true(cs.records_removed > 0);
	/* The tombstones of k0, k5, k10, k15 are all still there. */
	for (int o = 180; o < 200; o += 5) {
		assert_true(wr.tomb[o]);
		assert_int_equal(log_offset_to_pos(f->l, o, &p), 0);
		assert_int_equal(p, wr.pos[o]);
	}
	check_view(f, cs.first_dirty_offset, true);
}

/* The bytes of the page that holds the end of the range a clean
 * rewrote, below that end, stay readable through log_read_head (a
 * caught-up reader through the page cache asks for that page whole);
 * a truncation below them drops them. */
static void test_end_page_kept(void **state)
{
	struct logfx *f = *state;
	static char before[64 << 10], got[8192];
	int64_t page = sysconf(_SC_PAGESIZE);
	struct log_state st;

	put_rounds(f, 20, 30, 0); /* 600 records, 20 keys */
	log_get_state(f->l, &st);
	assert_true(st.line_hw < (int64_t)sizeof(before));
	struct log_cursor *c = log_cursor_new(f->l);
	for (int64_t pos = 0; pos < st.line_hw;) {
		int64_t actual = -1;
		ssize_t n = log_read_lines(f->l, c, pos, before + pos, (size_t)(st.line_hw - pos),
					   &actual);
		assert_true(n > 0);
		assert_int_equal(actual, pos);
		pos += n;
	}
	log_cursor_free(c);
	assert_int_equal(log_read_head(f->l, 0, got, sizeof(got)), 0); /* nothing removed */
	struct log_clean_stats cs;
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, &cs), 1);
	assert_true(cs.segments_rewritten > 0);
	int64_t e = wr.pos[cs.first_dirty_offset], fl = e - e % page;
	assert_true(e > fl);
	/* A removed record in that page: a plain read skips it. */
	int64_t gap = -1;
	for (int i = 0; i < cs.first_dirty_offset && gap < 0; i++) {
		int64_t p2 = -1;
		if (wr.pos[i] >= fl && (log_offset_to_pos(f->l, i, &p2) < 0 || p2 != wr.pos[i]))
			gap = wr.pos[i];
	}
	assert_true(gap >= 0);
	assert_int_equal(log_read_head(f->l, fl, got, sizeof(got)), e - fl);
	assert_memory_equal(got, before + fl, (size_t)(e - fl));
	assert_int_equal(log_read_head(f->l, gap, got, 5), 5);
	assert_memory_equal(got, before + gap, 5);
	assert_int_equal(log_read_head(f->l, e, got, sizeof(got)), 0);
	if (fl > 0)
		assert_int_equal(log_read_head(f->l, fl - 1, got, sizeof(got)), 0);
	/* A cut below the page's end: those positions will hold others. */
	assert_int_equal(log_truncate_to(f->l, cs.first_dirty_offset - 1), 0);
	assert_int_equal(log_read_head(f->l, fl, got, sizeof(got)), 0);
}

/* A key map too small for one dirty segment's keys: -ENOBUFS (the
 * broker's cue to raise log.cleaner.dedupe.buffer.size; not ENOSPC, which
 * is the disk's), and the log as it was. */
static void test_map_too_small(void **state)
{
	struct logfx *f = *state;
	struct log_state st0, st;

	/* The map holds at least 921 keys (1024 entries at 9/10): a closed
	 * segment of 2000 distinct keys does not fit in the smallest. */
	f->cfg.segment_bytes = 48 << 10;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	put_rounds(f, 2500, 1, 0);
	log_get_state(f->l, &st0);
	assert_true(st0.segments >= 2);
	assert_int_equal(log_clean(f->l, fake_now, 48, false, NULL), -ENOBUFS);
	log_get_state(f->l, &st);
	assert_int_equal(st.size_bytes, st0.size_bytes);
	assert_int_equal(st.first_dirty_offset, st0.first_dirty_offset);
}

/* A map that holds some dirty segments' keys but not all: the clean goes
 * up to the first that does not fit, says so, and the next pass goes on
 * from there until all is clean. */
static void test_map_partly_full(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	int passes = 0;

	/* Some 350 keys a segment: the smallest map (921 keys) holds a few
	 * of the 11 closed segments, not all. */
	f->cfg.segment_bytes = 8 << 10;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	put_rounds(f, 1800, 2, 0);
	int64_t *bases;
	int nb;
	assert_int_equal(log_segments(f->l, &bases, &nb), 0);
	int64_t active = bases[nb - 1];
	free(bases);
	assert_true(nb >= 5);
	logfx_reports[0] = '\0';
	assert_int_equal(log_clean(f->l, fake_now, 48, true, NULL), 1);
	assert_non_null(strstr(logfx_reports, "the cleaner's offset map (48 bytes"));
	assert_non_null(strstr(logfx_reports, "log.cleaner.dedupe.buffer.size"));
	log_get_state(f->l, &st);
	assert_true(st.first_dirty_offset > 0 && st.first_dirty_offset < active);
	while (st.first_dirty_offset < active && passes++ < 20) {
		assert_int_equal(log_clean(f->l, fake_now, 48, true, NULL), 1);
		log_get_state(f->l, &st);
	}
	assert_true(passes < 20);
	check_view(f, active, false);
}

/* Appends r[0..n-1] and makes them cleanable as put() does. */
static void put_recs(struct logfx *f, struct rec_in *r, int n)
{
	struct log_state st;

	assert_int_equal(log_append(f->l, r, n, 0, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
	assert_int_equal(log_flush_closed(f->l), 0);
	assert_int_equal(logmgr_checkpoint(f->m), 0);
}

/* An empty value is a value, not a tombstone: Kafka's LogCleaner removes
 * only records without a value, so a Kafka client's "" stays the latest
 * value of its key for ever, while a null value (what the mount writes
 * for key<sep>) goes once delete.retention.ms has passed. */
static void test_empty_value_kept(void **state)
{
	struct logfx *f = *state;
	struct rec_in two[2] = {
		{ "e", 1, "", 0, fake_now },    /* offset 0: "e=\n" at 0 */
		{ "t", 1, NULL, -1, fake_now }, /* offset 1: "t=\n" at 3 */
	};
	struct rec_in fill[10];
	char vb[10][32];
	int64_t p;

	put_recs(f, two, 2);
	for (int round = 0; round < 2; round++) {
		for (int k = 0; k < 20; k++) {
			for (int i = 0; i < 10; i++) {
				int vl = snprintf(vb[i], sizeof(vb[i]), "filler-%d-%d-xxxxxxxx", k,
						  i);

				fill[i] = (struct rec_in){ "f", 1, vb[i], vl, fake_now };
			}
			put_recs(f, fill, 10);
		}
		fake_now += 20000; /* past delete.retention.ms (10000) */
		if (round > 0)
			continue;
		/* The first clean that keeps the tombstone, older than
		 * delete.retention.ms as it is, gives it its delete horizon
		 * (Kafka's KIP-534): it stays until the next clean past that. */
		assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
		assert_true(log_offset_to_pos(f->l, 1, &p) == 0 && p == 3);
	}
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	/* The tombstone went, the empty value stayed where it was. */
	assert_false(log_offset_to_pos(f->l, 1, &p) == 0 && p == 3);
	assert_int_equal(log_offset_to_pos(f->l, 0, &p), 0);
	assert_int_equal(p, 0);
	{
		struct log_cursor *c = log_cursor_new(f->l);
		char buf[8];
		int64_t actual;

		assert_int_equal(log_read_lines(f->l, c, 0, buf, 3, &actual), 3);
		assert_int_equal(actual, 0);
		assert_memory_equal(buf, "e=\n", 3);
		log_cursor_free(c);
	}
}

/* 20 batches of fillers (key f), so that the segments before them close,
 * and a clean of the whole cleanable range. */
static void fill_and_clean(struct logfx *f)
{
	struct rec_in fill[10];
	char vb[10][32];

	for (int k = 0; k < 20; k++) {
		for (int i = 0; i < 10; i++) {
			int vl = snprintf(vb[i], sizeof(vb[i]), "filler-%d-%d-xxxxxxxx", k, i);

			fill[i] = (struct rec_in){ "f", 1, vb[i], vl, fake_now };
		}
		put_recs(f, fill, 10);
	}
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
}

/* The first segment's .log (up to 64 KiB) into a static buffer, *seg;
 * its size. */
static size_t first_seg_bytes(struct logfx *f, uint8_t **seg)
{
	static uint8_t buf[1 << 16];
	char path[400];
	size_t got;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/t-0/00000000000000000000.log", f->dir);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	got = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	*seg = buf;
	return got;
}

/* The batch in the first segment's file that holds offset: its header
 * into *h and its first two records' timestamps into ts; false if gone. */
static bool batch_at(struct logfx *f, int64_t offset, struct batch_hdr *h, int64_t ts[2])
{
	uint8_t *seg;
	size_t got = first_seg_bytes(f, &seg), pos = 0;
	bool found = false;

	while (!found && pos + BATCH_HDR_SIZE <= got) {
		int64_t size = batch_total_size(seg + pos);
		struct batch_iter it = { 0 };
		struct rec r;
		int i = 0;

		assert_true(size > 0 && pos + (size_t)size <= got);
		assert_int_equal(batch_iter_init(&it, seg + pos, (size_t)size), 0);
		while (batch_iter_next(&it, &r) == 1) {
			found = found || r.offset == offset;
			if (i < 2)
				ts[i++] = r.timestamp;
		}
		if (found)
			*h = it.hdr;
		batch_iter_free(&it);
		pos += (size_t)size;
	}
	return found;
}

/* Kafka's delete horizon (KIP-534): the first clean that keeps a
 * tombstone writes its batch again marked with the horizon, that clean's
 * time + delete.retention.ms, in the batch's baseTimestamp (attribute bit
 * 6), the records' timestamps unchanged (an old one and none, -1); the
 * tombstone goes at the first clean at or past the horizon, however old
 * its own timestamp, so a reader has delete.retention.ms after the clean
 * that removed the key's older values to meet it. */
static void test_tombstone_delete_horizon(void **state)
{
	struct logfx *f = *state;
	struct rec_in two[2] = {
		{ "t", 1, NULL, -1, fake_now - 50000 }, /* offset 0: a tombstone, long past */
		{ "u", 1, "x", 1, -1 },                 /* offset 1: no timestamp */
	};
	struct batch_hdr h;
	int64_t ts[2], t0;

	put_recs(f, two, 2);
	assert_true(batch_at(f, 0, &h, ts));
	assert_int_equal(h.attributes & BATCH_ATTR_DELETE_HORIZON, 0);
	t0 = fake_now;
	fill_and_clean(f);
	assert_true(batch_at(f, 0, &h, ts));
	assert_int_not_equal(h.attributes & BATCH_ATTR_DELETE_HORIZON, 0);
	assert_int_equal(batch_hdr_delete_horizon(&h), t0 + f->cfg.delete_retention_ms);
	assert_int_equal(ts[0], t0 - 50000);
	assert_int_equal(ts[1], -1);
	/* A later clean before the horizon keeps it, and the horizon. */
	fake_now += f->cfg.delete_retention_ms - 1;
	fill_and_clean(f);
	assert_true(batch_at(f, 0, &h, ts));
	assert_int_equal(batch_hdr_delete_horizon(&h), t0 + f->cfg.delete_retention_ms);
	fake_now += 1;
	fill_and_clean(f);
	assert_false(batch_at(f, 0, &h, ts));
	assert_true(batch_at(f, 1, &h, ts)); /* u's value stays */
	assert_int_equal(ts[0], -1);
}

/* The headers of the record at offset in the first segment's file, as
 * their raw encoding into out (count in *n): 1 when found, 0 when gone. */
static uint16_t found_attributes; /* of the batch headers_at found */

static int headers_at(struct logfx *f, int64_t offset, uint8_t *out, size_t cap, size_t *len,
		      int32_t *n)
{
	uint8_t *seg;
	size_t got = first_seg_bytes(f, &seg), pos = 0;
	int found = 0;

	while (!found && pos + BATCH_HDR_SIZE <= got) {
		int64_t size = batch_total_size(seg + pos);
		struct batch_iter it = { 0 };
		struct rec r;

		assert_true(size > 0 && pos + (size_t)size <= got);
		assert_int_equal(batch_iter_init(&it, seg + pos, (size_t)size), 0);
		while (batch_iter_next(&it, &r) == 1)
			if (r.offset == offset) {
				*n = r.headers_count;
				*len = r.headers_count ? (size_t)(r.headers_end - r.headers) : 0;
				assert_true(*len <= cap);
				memcpy(out, r.headers, *len);
				found_attributes = it.hdr.attributes;
				found = 1;
			}
		batch_iter_free(&it);
		pos += (size_t)size;
	}
	return found;
}

/* Key a written again ("new"), then 20 batches of fillers so that the
 * segments holding the first batch close, and one clean: the cleaner
 * rewrites the batch that held a's older record. */
static void supersede_a_and_clean(struct logfx *f)
{
	struct rec_in again = { "a", 1, "new", 3, fake_now };

	put_recs(f, &again, 1);
	fill_and_clean(f);
}

/* A Kafka client's batch that loses a record to a later one of its key is
 * re-encoded: its survivors keep their headers, as Kafka's cleaner keeps
 * every survivor's record whole, and the batch its timestamp type
 * (LogAppendTime here: appended with the broker's time) and its codec
 * (codec: the client's batch's, which the cleaner compresses again). */
static void headers_kept_in(struct logfx *f, int codec)
{
	/* One header, "trace" = "abc": keyLength, key, valueLength, value
	 * (zigzag varints). */
	static const uint8_t hdr[] = { 10, 't', 'r', 'a', 'c', 'e', 6, 'a', 'b', 'c' };
	static uint8_t buf[512];
	uint8_t got[64];
	size_t len;
	int32_t n;
	struct batch_builder bb;
	struct log_append_info info;
	int64_t size;

	batch_builder_init(&bb, buf, sizeof(buf), codec);
	assert_int_equal(
		batch_builder_add_headers(&bb, "a", 1, "old", 3, fake_now, 1, hdr, sizeof(hdr)), 0);
	assert_int_equal(
		batch_builder_add_headers(&bb, "b", 1, "keep", 4, fake_now, 1, hdr, sizeof(hdr)),
		0);
	size = batch_builder_finish(&bb, 0, 0);
	assert_true(size > 0);
	assert_int_equal(log_append_client(f->l, buf, (size_t)size, 0, fake_now + 7, &info, NULL),
			 0);
	assert_int_equal(headers_at(f, 1, got, sizeof(got), &len, &n), 1);
	assert_int_equal(n, 1);
	assert_int_not_equal(found_attributes & BATCH_ATTR_LOG_APPEND_TIME, 0);
	supersede_a_and_clean(f);                                          /* offset 0 superseded */
	assert_int_equal(headers_at(f, 0, got, sizeof(got), &len, &n), 0); /* rewritten */
	assert_int_equal(headers_at(f, 1, got, sizeof(got), &len, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(len, sizeof(hdr));
	assert_memory_equal(got, hdr, sizeof(hdr));
	assert_int_not_equal(found_attributes & BATCH_ATTR_LOG_APPEND_TIME, 0);
	assert_int_equal(found_attributes & BATCH_CODEC_MASK, codec);
}

/* A survivor whose records the codec cannot shrink is kept uncompressed:
 * the cleaner sizes a rewritten batch by its records as they are, and
 * gzip's framing around 600 KB of random bytes (stored blocks) is larger
 * than that. Its value comes back byte for byte from the cleaned log,
 * its batch marked without a codec (readers decode by that mark). */
static void test_incompressible_kept_uncompressed(void **state)
{
	struct logfx *f = *state;
	enum { BIG = 600 << 10 };
	uint8_t *big = malloc(BIG), *buf = malloc(BIG + 4096), *seg = NULL;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	struct batch_builder bb;
	struct log_append_info info;
	char path[400];
	int64_t size;
	size_t got = 0, pos = 0;
	int found = 0;
	FILE *fp;

	assert_non_null(big);
	assert_non_null(buf);
	f->cfg.segment_bytes = 4 << 20; /* a batch over segment.bytes is refused */
	log_reconfigure(f->l, &f->cfg);
	for (size_t i = 0; i < BIG; i++) { /* xorshift64: no pattern to find */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		big[i] = (uint8_t)x;
	}
	batch_builder_init(&bb, buf, BIG + 4096, BATCH_CODEC_GZIP);
	assert_int_equal(batch_builder_add(&bb, "a", 1, "old", 3, fake_now), 0);
	assert_int_equal(batch_builder_add(&bb, "b", 1, (const char *)big, BIG, fake_now), 0);
	size = batch_builder_finish(&bb, 0, 0);
	assert_true(size > 0);
	assert_int_equal(BATCH_CODEC_GZIP, buf[BATCH_OFF_ATTRIBUTES + 1] & BATCH_CODEC_MASK);
	assert_int_equal(log_append_client(f->l, buf, (size_t)size, 0, fake_now, &info, NULL), 0);
	f->cfg.segment_bytes = 1024; /* the next appends roll */
	log_reconfigure(f->l, &f->cfg);
	supersede_a_and_clean(f); /* offset 0 superseded: its batch is rewritten */
	snprintf(path, sizeof(path), "%s/t-0/00000000000000000000.log", f->dir);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	seg = malloc(2 * BIG);
	assert_non_null(seg);
	got = fread(seg, 1, 2 * BIG, fp);
	fclose(fp);
	while (pos + BATCH_HDR_SIZE <= got) {
		int64_t bsize = batch_total_size(seg + pos);
		struct batch_iter it = { 0 };
		struct rec r;

		assert_true(bsize > 0 && pos + (size_t)bsize <= got);
		assert_int_equal(batch_iter_init(&it, seg + pos, (size_t)bsize), 0);
		while (batch_iter_next(&it, &r) == 1) {
			assert_int_not_equal(r.offset, 0); /* superseded: gone */
			if (r.offset != 1)
				continue;
			found = 1;
			assert_int_equal(it.hdr.attributes & BATCH_CODEC_MASK, BATCH_CODEC_NONE);
			assert_int_equal(r.value_len, BIG);
			assert_memory_equal(r.value, big, BIG);
		}
		batch_iter_free(&it);
		pos += (size_t)bsize;
	}
	assert_int_equal(found, 1);
	free(seg);
	free(buf);
	free(big);
}

static void test_headers_kept(void **state)
{
	headers_kept_in(*state, BATCH_CODEC_NONE);
}

static void test_headers_kept_snappy(void **state)
{
	headers_kept_in(*state, BATCH_CODEC_SNAPPY);
}

static void test_headers_kept_zstd(void **state)
{
	headers_kept_in(*state, BATCH_CODEC_ZSTD);
}

/* 20 batches of keys a0..a9 stamped ts. */
static void put_stamped(struct logfx *f, int64_t ts)
{
	struct rec_in r[10];
	char kb[10][8], vb[10][32];

	for (int b = 0; b < 20; b++) {
		for (int i = 0; i < 10; i++) {
			int kl = snprintf(kb[i], sizeof(kb[i]), "a%d", i);
			int vl = snprintf(vb[i], sizeof(vb[i]), "stamped-%d-%d-xxxxxxxx", b, i);

			r[i] = (struct rec_in){ kb[i], kl, vb[i], vl, ts };
		}
		put_recs(f, r, 10);
	}
}

/* min.compaction.lag.ms holds back dirty segments only, as Kafka's
 * cleanableOffsets: segments already cleaned whose records are stamped
 * ahead of the clock do not keep the older dirty ones after them from
 * the clean. */
static void test_lag_dirty_only(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	double ratio;

	put_stamped(f, fake_now + 3600000); /* an hour ahead */
	pthread_mutex_lock(&f->l->lock);
	assert_int_equal(log_roll_locked(f->l), 0);
	pthread_mutex_unlock(&f->l->lock);
	assert_int_equal(log_flush_closed(f->l), 0);
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	log_get_state(f->l, &st);
	int64_t cleaned = st.first_dirty_offset;
	assert_int_equal(cleaned, st.log_end_offset);
	f->cfg.min_compaction_lag_ms = 60000;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	put_stamped(f, fake_now - 120000); /* two minutes old: past the lag */
	assert_int_equal(log_dirty_ratio(f->l, fake_now, &ratio), 0);
	assert_true(ratio > 0.0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	log_get_state(f->l, &st);
	assert_true(st.first_dirty_offset > cleaned);
}

/* max.compaction.lag.ms counts only first batches stamped after the
 * epoch, as Kafka's maxCompactionDelay (filter(_ > 0)): records stamped 0
 * make no segment due (the dirty ratio alone cleans them); older records
 * stamped after it do. */
static void test_max_lag_epoch_stamp(void **state)
{
	struct logfx *f = *state;

	f->cfg.min_cleanable_dirty_ratio = 1.0; /* never by the ratio */
	f->cfg.max_compaction_lag_ms = 5000;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	put_stamped(f, 0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, NULL), 0);
	put_stamped(f, fake_now - 10000);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, NULL), 1);
}

/* min.compaction.lag.ms above max.compaction.lag.ms (a topic override
 * under a broker default lowered since: Kafka and mqfs load it): as
 * Kafka's grabFilthiestCompactedLog, any dirty closed segment whose first
 * batch is older than the max makes the log due whatever its ratio, and
 * what is cleaned then is what the min lets be (cleanableOffsets):
 * nothing inside it, the segments before it that are past it. */
static void test_min_lag_over_max(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	int64_t *bases;
	int nb;

	f->cfg.min_cleanable_dirty_ratio = 1.0; /* never by the ratio */
	f->cfg.min_compaction_lag_ms = 60000;
	f->cfg.max_compaction_lag_ms = 5000;
	assert_int_equal(log_reconfigure(f->l, &f->cfg), 0);
	/* Stamped 0 (the epoch): past the min, but makes no segment due. */
	put_stamped(f, 0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, NULL), 0);
	/* 10 s old: past the max, inside the min. */
	put_stamped(f, fake_now - 10000);
	assert_int_equal(log_segments(f->l, &bases, &nb), 0);
	free(bases);
	assert_true(nb > 4);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, NULL), 1);
	log_get_state(f->l, &st);
	assert_true(st.first_dirty_offset > 0);
	/* The segments inside the min stay dirty, due or not... */
	assert_true(st.first_dirty_offset <= 200);
	int64_t dirty = st.first_dirty_offset;

	assert_int_equal(log_clean(f->l, fake_now + 40000, 1 << 20, false, NULL), 0);
	log_get_state(f->l, &st);
	assert_int_equal(st.first_dirty_offset, dirty);
	/* ...until it has passed: then cleaned below the ratio. */
	assert_int_equal(log_clean(f->l, fake_now + 51000, 1 << 20, false, NULL), 1);
	log_get_state(f->l, &st);
	assert_true(st.first_dirty_offset > 200);
}

static void test_ratio_and_lag(void **state)
{
	struct logfx *f = *state;
	f->cfg.min_cleanable_dirty_ratio = 0.99;
	f->cfg.min_compaction_lag_ms = 60000;
	log_reconfigure(f->l, &f->cfg);
	put_rounds(f, 10, 20, 0);
	double ratio;
	/* Within the lag nothing is cleanable. */
	log_dirty_ratio(f->l, fake_now, &ratio);
	assert_true(ratio == 0.0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 0);
	fake_now += 61000;
	put_rounds(f, 10, 2, 0);
	log_dirty_ratio(f->l, fake_now, &ratio);
	assert_true(ratio == 1.0);
	/* At 1 the ratio never cleans (nothing is above it). */
	f->cfg.min_cleanable_dirty_ratio = 1.0;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, NULL), 0);
	f->cfg.min_cleanable_dirty_ratio = 0.99;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, NULL), 1);
	struct log_state st;
	log_get_state(f->l, &st);
	check_view(f, st.first_dirty_offset, true);
	/* Newer segments (inside the lag) were left alone: their records are
	 * all there. */
	for (int o = 200; o < wr.n; o++) {
		int64_t p;
		assert_int_equal(log_offset_to_pos(f->l, o, &p), 0);
		assert_int_equal(p, wr.pos[o]);
	}
	/* Some dirty data: a clean only above the ratio, as Kafka's
	 * grabFilthiestCompactedLog (cleanableRatio > minCleanableRatio):
	 * not at it. */
	fake_now += 61000;
	put_rounds(f, 10, 8, 0);
	fake_now += 61000;
	log_dirty_ratio(f->l, fake_now, &ratio);
	assert_true(ratio > 0.0 && ratio < 1.0);
	f->cfg.min_cleanable_dirty_ratio = ratio;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, NULL), 0);
	f->cfg.min_cleanable_dirty_ratio = ratio - 0.001;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, NULL), 1);
	log_get_state(f->l, &st);
	check_view(f, st.first_dirty_offset, true);
	/* delete policy only: the cleaner does nothing. */
	f->cfg.cleanup_policy = LOG_CLEANUP_DELETE;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 0);
}

/* Appends 300 records without a timestamp (-1, as a Kafka client may
 * send), key "k<keys[i]>" and value "v<i>" for record i, ten a batch, and
 * makes them cleanable as put() does. */
static void put_untimed(struct logfx *f, const int *keys)
{
	struct rec_in r[10];
	char kb[10][16], vb[10][16];

	for (int i = 0; i < 300;) {
		int k = 0;

		for (; k < 10; k++, i++)
			r[k] = (struct rec_in){ kb[k],
						snprintf(kb[k], sizeof(kb[k]), "k%d", keys[i]),
						vb[k], snprintf(vb[k], sizeof(vb[k]), "v%d", i),
						-1 };
		put_recs(f, r, k);
	}
}

/* min.compaction.lag.ms for records without a timestamp (-1, as a Kafka
 * client may send): they wait from their segment's last append, as Kafka's
 * lastModified, rather than being cleanable at once. */
static void test_lag_no_timestamp(void **state)
{
	struct logfx *f = *state;
	struct log_state st;

	f->cfg.min_cleanable_dirty_ratio = 0;
	f->cfg.min_compaction_lag_ms = 60000;
	log_reconfigure(f->l, &f->cfg);
	int keys[300];

	for (int i = 0; i < 300; i++)
		keys[i] = i % 5;
	put_untimed(f, keys);
	log_get_state(f->l, &st);
	assert_true(st.segments > 3);
	/* Appended just now: inside the lag, nothing is cleanable. */
	assert_int_equal(log_clean(f->l, fake_now + 1000, 1 << 20, true, NULL), 0);
	int64_t p;

	assert_int_equal(log_offset_to_pos(f->l, 0, &p), 0);
	assert_int_equal(p, 0);
	/* Past it, the closed segments are cleaned. */
	assert_int_equal(log_clean(f->l, fake_now + 61000, 1 << 20, true, NULL), 1);
	log_get_state(f->l, &st);
	assert_true(st.first_dirty_offset > 0);
}

/* A tombstone without a timestamp (-1) stays delete.retention.ms from its
 * segment's last append, not gone at the first clean. */
static void test_tombstone_no_timestamp(void **state)
{
	struct logfx *f = *state;
	struct rec_in r[10];
	char kb[10][16], vb[10][16];
	int64_t p;

	f->cfg.min_cleanable_dirty_ratio = 0;
	log_reconfigure(f->l, &f->cfg);
	/* k0..k4 with values, then a tombstone of k0 at offset 100 in a
	 * closed segment, then more of k1..k4. */
	for (int i = 0; i < 300;) {
		int k = 0;

		for (; k < 10; k++, i++) {
			int key = i == 100 ? 0 : i < 100 ? i % 5 : 1 + i % 4;

			r[k] = (struct rec_in){ kb[k], snprintf(kb[k], sizeof(kb[k]), "k%d", key),
						i == 100 ? NULL : vb[k],
						i == 100 ? -1
							 : snprintf(vb[k], sizeof(vb[k]), "v%d", i),
						-1 };
		}
		put_recs(f, r, k);
	}
	assert_true(log_offset_to_pos(f->l, 100, &p) == 0);
	int64_t pos100 = p;

	/* Within delete.retention.ms (10 s) of the append: kept. */
	assert_int_equal(log_clean(f->l, fake_now + 1000, 1 << 20, true, NULL), 1);
	assert_int_equal(log_offset_to_pos(f->l, 100, &p), 0);
	assert_int_equal(p, pos100);
	/* Past it, at the next clean: gone. */
	fake_now += 20000;
	for (int i = 0; i < 10; i++)
		r[i] = (struct rec_in){ "k7", 2, "x", 1, fake_now };
	put_recs(f, r, 10);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	assert_int_equal(log_offset_to_pos(f->l, 100, &p), 0);
	assert_true(p > pos100);
}

/* A cleaned segment of records without a timestamp keeps the age of the
 * one it replaced across a restart: its .log takes the old mtime, so
 * retention (compact,delete) removes it when it would have. */
static void test_clean_keeps_age(void **state)
{
	struct logfx *f = *state;
	struct log_state st;

	f->cfg.cleanup_policy = LOG_CLEANUP_COMPACT | LOG_CLEANUP_DELETE;
	f->cfg.retention_ms = 60000;
	f->cfg.min_cleanable_dirty_ratio = 0;
	log_reconfigure(f->l, &f->cfg);
	int keys[300];

	for (int i = 0; i < 300; i++)
		keys[i] = i % 2 ? 1000 + i % 50 : i;
	put_untimed(f, keys);
	/* Odd records are superseded but the last 100: the segments are
	 * rewritten, none emptied. */
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	logmgr_close(f->m);
	logfx_open(f);
	/* The appends were at the fake clock, years before the real one that
	 * stamps the files a clean writes. */
	assert_true(log_retention_run(f->l, fake_now + 120000, NULL) > 0);
	log_get_state(f->l, &st);
	assert_true(st.log_start_offset > 0);
}

/* A segment that compaction emptied ages by its last append, as Kafka's
 * LogSegment.largestTimestamp falls back to the file's lastModified: it is
 * not expired for retention (compact,delete) at once, nor after a restart
 * (its .log keeps the replaced one's mtime), only retention.ms after it. */
static void test_emptied_segment_ages(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	int empty = 0;

	f->cfg.cleanup_policy = LOG_CLEANUP_COMPACT | LOG_CLEANUP_DELETE;
	f->cfg.retention_ms = 60000;
	f->cfg.min_cleanable_dirty_ratio = 0;
	log_reconfigure(f->l, &f->cfg);
	put_rounds(f, 10, 30, 0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	pthread_mutex_lock(&f->l->lock);
	for (int i = 0; i + 1 < f->l->nsegs; i++)
		empty += atomic_load(&f->l->segs[i]->size) == 0;
	pthread_mutex_unlock(&f->l->lock);
	assert_true(empty > 0);
	for (int reopen = 0; reopen < 2; reopen++) {
		if (reopen) {
			logmgr_close(f->m);
			logfx_open(f);
		}
		assert_int_equal(log_retention_run(f->l, fake_now + 30000, NULL), 0);
		log_get_state(f->l, &st);
		assert_int_equal(st.log_start_offset, 0);
	}
	assert_true(log_retention_run(f->l, fake_now + 120000, NULL) > 0);
	log_get_state(f->l, &st);
	assert_true(st.log_start_offset > 0);
}

/* max.compaction.lag.ms: a log below min.cleanable.dirty.ratio is cleaned
 * once its oldest dirty record (the first batch of its first dirty
 * segment) has waited longer than the lag, and not before. */
static void test_max_lag(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	double ratio;

	f->cfg.min_cleanable_dirty_ratio = 0.99;
	log_reconfigure(f->l, &f->cfg);
	put_rounds(f, 10, 20, 0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	fake_now += 1000;
	put_rounds(f, 10, 8, 0); /* dirty, written at t */
	log_dirty_ratio(f->l, fake_now, &ratio);
	assert_true(ratio > 0.0 && ratio < 0.99);
	assert_int_equal(log_clean(f->l, fake_now + 3600000, 1 << 20, false, NULL), 0);
	f->cfg.max_compaction_lag_ms = 5000;
	log_reconfigure(f->l, &f->cfg);
	assert_int_equal(log_clean(f->l, fake_now + 4000, 1 << 20, false, NULL), 0);
	log_get_state(f->l, &st);
	int64_t dirty0 = st.first_dirty_offset;
	assert_int_equal(log_clean(f->l, fake_now + 6000, 1 << 20, false, NULL), 1);
	log_get_state(f->l, &st);
	assert_true(st.first_dirty_offset > dirty0);
	check_view(f, st.first_dirty_offset, true);
}

static void test_crash_points(void **state)
{
	struct logfx *f = *state;
	put_rounds(f, 15, 12, 4);
	fake_now += 20000; /* tombstones past the horizon */
	put_rounds(f, 15, 1, 0);
	int64_t *bases;
	int nb;
	assert_int_equal(log_segments(f->l, &bases, &nb), 0);
	int64_t uncleanable = bases[nb - 1]; /* the active segment's base */
	free(bases);
	logfx_keep(f);
	char cmd[1200];
	bool finished = false;
	int points = 0;
	for (int point = 1; !finished && point < 2000; point++, points++) {
		logfx_restore(f, point);
		struct log_clean_stats cs;
		int rc = log_clean(f->l, fake_now, 1 << 20, true, &cs);
		finished = !f->fio.dead;
		if (finished)
			assert_int_equal(rc, 1);
		else
			assert_true(rc < 0);
		/* A power cut too: unsynced bytes are lost or torn. */
		logfx_power_cut(f, (unsigned)point);
		check_view(f, uncleanable, finished);
		/* The directory holds no leftovers of the swap. */
		snprintf(cmd, sizeof(cmd), "ls %s/t-0 | grep -q -e cleaned -e swap", f->dir);
		assert_int_not_equal(system(cmd), 0);
		logmgr_close(f->m);
		f->m = NULL;
	}
	assert_true(finished);
	assert_true(points > 20);
	logfx_drop_copy(f);
}

/* The cleaner rewrites only segments below the *checkpointed* recovery
 * point: recovery cuts an unsynced segment that ends early (log_open.c's
 * prefix rule), and a compacted one ends early too. A clean, then kill -9 before
 * any further checkpoint, must lose nothing. */
static void test_clean_only_checkpointed(void **state)
{
	struct logfx *f = *state;
	put_rounds(f, 20, 10, 0); /* flushed and checkpointed */
	/* More rounds: fsynced, but the checkpoint file is not rewritten. */
	int keys[MAXREC];
	int n = 0;
	for (int r = 0; r < 10; r++)
		for (int k = 0; k < 20; k++, n++)
			keys[n] = k;
	struct rec_in r[8];
	char kb[8][16], vb[8][16];
	for (int i = 0; i < n;) {
		int c = 0;
		for (; c < 7 && i < n; c++, i++) {
			int o = wr.n + i;
			int kl = snprintf(kb[c], sizeof(kb[c]), "k%d", keys[i]);
			int vl = snprintf(vb[c], sizeof(vb[c]), "v%d", o);
			r[c] = (struct rec_in){ kb[c], kl, vb[c], vl, fake_now };
		}
		assert_int_equal(log_append(f->l, r, c, 0, NULL), 0);
	}
	struct log_state st;
	log_get_state(f->l, &st);
	log_set_hw(f->l, st.log_end_offset);
	assert_int_equal(log_flush_closed(f->l), 0);
	log_get_state(f->l, &st);
	int64_t end = st.log_end_offset;
	struct log_clean_stats cs;
	int rc = log_clean(f->l, fake_now, 1 << 20, true, &cs);
	assert_true(rc >= 0);
	log_get_state(f->l, &st);
	/* Nothing at or above the checkpointed recovery point was touched. */
	assert_true(st.first_dirty_offset <= wr.n);
	/* kill -9, then recovery with the old checkpoint: every record of the
	 * unsynced-as-far-as-the-checkpoint-knows segments is still there. */
	logmgr_abandon(f->m);
	f->m = NULL;
	logfx_open(f);
	log_get_state(f->l, &st);
	assert_int_equal(st.log_end_offset, end);
}

/* A follower's truncation below what its cleaner compacted (its leader
 * changed uncleanly, or the cut reached under the hw) is followed by the
 * new leader's records at those offsets: they are dirty, as Kafka's
 * maybeTruncateCheckpoint makes them. Left counted as cleaned, their
 * keys never reached the offset map: values below the cut that a new
 * tombstone deletes stayed, and once the tombstone passed
 * delete.retention.ms it went, bringing the deleted keys back. */
static void test_truncate_below_cleaned(void **state)
{
	struct logfx *f = *state;
	struct log_clean_stats cs;
	struct log_state st;
	int keys[MAXREC];
	bool tombs[MAXREC] = { 0 };
	int64_t p;

	put_rounds(f, 20, 10, 0); /* k0..k19's newest at 180..199 */
	for (int i = 0; i < 60; i++)
		keys[i] = 100 + i % 20;
	put(f, keys, tombs, 60, 7); /* 200..259: rolls past them */
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, &cs), 1);
	assert_true(cs.first_dirty_offset > 200);
	/* The new leader has nothing past 200: its records come instead. */
	assert_int_equal(log_truncate_to(f->l, 200), 0);
	wr.n = 200;
	log_get_state(f->l, &st);
	assert_true(st.first_dirty_offset <= 200);
	for (int i = 0; i < 20; i++) {
		keys[i] = i;
		tombs[i] = true; /* 200..219: k0..k19 deleted */
	}
	for (int i = 20; i < 80; i++) {
		keys[i] = 100 + i % 20;
		tombs[i] = false;
	}
	put(f, keys, tombs, 80, 7);
	assert_true(log_clean(f->l, fake_now, 1 << 20, true, &cs) >= 0);
	/* Past the tombstones' horizon, with more dirty records, a clean
	 * removes them: the values they deleted must be gone before. */
	fake_now += 20000;
	put(f, keys + 20, tombs + 20, 60, 7);
	assert_true(log_clean(f->l, fake_now, 1 << 20, true, &cs) >= 0);
	for (int o = 180; o < 200; o++)
		assert_false(log_offset_to_pos(f->l, o, &p) == 0 && p == wr.pos[o]);
	check_view(f, cs.first_dirty_offset, true);
}

/* A truncation that comes while a clean is under way (a follower's, right
 * after its restart: the cleaner starts on the checkpointed state as the
 * fetcher asks its new leader where to cut) waits for the clean to end.
 * Were they to overlap, the clean would go on with segments the cut
 * removed or shortened: their cleaned files renamed back into the
 * directory (the records past the cut back at the next open), the
 * shortened one's cleaned copy swapped in whole, and its end raising the
 * first dirty offset the cut had lowered. */
static struct {
	struct log *l;
	int64_t at;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int rc;
} tc = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *trunc_thread(void *arg)
{
	(void)arg;
	int rc = log_truncate_to(tc.l, tc.at);
	pthread_mutex_lock(&tc.mu);
	tc.rc = rc;
	tc.done = true;
	pthread_cond_signal(&tc.cv);
	pthread_mutex_unlock(&tc.mu);
	return NULL;
}

/* engine_clean_hook: the truncation starts once the clean has taken its
 * segments. The clean goes on once the truncation is done, or after 1 s
 * (it waits for the clean, which must then finish first): either way
 * the outcome below must be the same. */
static void truncate_during_clean(struct log *l)
{
	struct timespec ts;

	engine_clean_hook = NULL;
	tc.l = l;
	tc.done = false;
	assert_int_equal(pthread_create(&tc.th, NULL, trunc_thread, NULL), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	pthread_mutex_lock(&tc.mu);
	while (!tc.done && pthread_cond_timedwait(&tc.cv, &tc.mu, &ts) == 0)
		;
	pthread_mutex_unlock(&tc.mu);
}

static void test_truncate_during_clean(void **state)
{
	struct logfx *f = *state;
	struct log_state st;
	int keys[MAXREC];
	bool tombs[MAXREC] = { 0 };
	int64_t p;

	put_rounds(f, 20, 10, 0);
	for (int i = 0; i < 60; i++)
		keys[i] = 100 + i % 20;
	put(f, keys, tombs, 60, 7); /* 200..259 */
	tc.at = 150;
	engine_clean_hook = truncate_during_clean;
	int rc = log_clean(f->l, fake_now, 1 << 20, true, NULL);
	engine_clean_hook = NULL;
	pthread_join(tc.th, NULL);
	assert_true(tc.done);
	assert_int_equal(tc.rc, 0);
	assert_true(rc >= 0);
	/* The cut ends the log at the last record below 150 the clean kept
	 * (a follower fetches the rest again). */
	log_get_state(f->l, &st);
	int64_t leo = st.log_end_offset;
	assert_true(leo > 100 && leo <= 150);
	assert_true(st.first_dirty_offset <= leo);
	for (int o = 150; o < 260; o++)
		assert_int_not_equal(log_offset_to_pos(f->l, o, &p), 0);
	/* Every line read is one written below the cut, at its position;
	 * so after a reopen (kill -9) too. */
	for (int pass = 0; pass < 2; pass++) {
		static struct seen s;
		read_view(f->l, &s);
		for (int i = 0, o = 0; i < s.n; i++, o++) {
			while (o < 150 && wr.pos[o] != s.pos[i])
				o++;
			assert_true(o < 150);
			assert_string_equal(s.line[i], wr.line[o]);
		}
		logmgr_abandon(f->m);
		f->m = NULL;
		logfx_open(f);
		log_get_state(f->l, &st);
		assert_int_equal(st.log_end_offset, leo);
	}
}

/* A pass over a log with nothing new writes no checkpoint file: the
 * cleaner checkpoints before every clean, and each write is a temp file,
 * two fsyncs and a rename. A change rewrites the files. */
static void test_checkpoint_unchanged(void **state)
{
	struct logfx *f = *state;
	put_rounds(f, 20, 10, 0); /* flushed and checkpointed */
	struct log_clean_stats cs;
	assert_true(log_clean(f->l, fake_now, 1 << 20, true, &cs) >= 0);
	assert_int_equal(logmgr_checkpoint(f->m), 0);
	int renames = f->fio.renames;
	for (int pass = 0; pass < 3; pass++) {
		assert_int_equal(logmgr_checkpoint(f->m), 0);
		assert_int_equal(log_clean(f->l, fake_now, 1 << 20, false, &cs), 0);
	}
	assert_int_equal(f->fio.renames, renames);
	int keys[1] = { 99 };
	bool tombs[1] = { false };
	put(f, keys, tombs, 1, 1); /* moves the hw: rewritten */
	assert_true(f->fio.renames > renames);
	char path[512], text[256] = "";
	snprintf(path, sizeof(path), "%s/replication-offset-checkpoint", f->dir);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	size_t n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	char want[64];
	snprintf(want, sizeof(want), "t 0 %d\n", wr.n);
	assert_non_null(strstr(text, want));
}

/* Appends one batch of producer pid (epoch 0) with base sequence seq, key
 * k<keys[i]> and value v<offset> per record, as a Kafka client's. */
static void put_producer(struct logfx *f, int64_t pid, int32_t seq, const int *keys, int n)
{
	struct rec_in r[8];
	char kb[8][16], vb[8][16];
	struct batch_producer pr = { pid, 0, seq };
	struct log_append_info info;
	uint8_t *buf;
	size_t len;
	int32_t nb;

	for (int i = 0; i < n; i++) {
		int o = wr.n + i;
		int kl = snprintf(kb[i], sizeof(kb[i]), "k%d", keys[i]);
		int vl = snprintf(vb[i], sizeof(vb[i]), "v%d", o);

		r[i] = (struct rec_in){ kb[i], kl, vb[i], vl, fake_now };
		wr.key[o] = keys[i];
		wr.ts[o] = fake_now;
	}
	assert_int_equal(log_encode_batches(&f->cfg, r, n, &pr, &buf, &len, &nb), 0);
	assert_int_equal(nb, 1);
	assert_int_equal(log_append_client(f->l, buf, len, 1, -1, &info, NULL), 0);
	free(buf);
	assert_int_equal(info.first_offset, wr.n);
	wr.n += n;
}

struct hdrs {
	struct batch_producer_info b[MAXREC];
	int n;
};

static void note_hdr(void *arg, const struct batch_producer_info *bi)
{
	struct hdrs *h = arg;

	h->b[h->n++] = *bi;
}

/* The batch whose records start at offset base, or NULL. */
static const struct batch_producer_info *hdr_at(const struct hdrs *h, int64_t base)
{
	for (int i = 0; i < h->n; i++)
		if (h->b[i].base_offset == base)
			return &h->b[i];
	return NULL;
}

static void test_producer_batches(void **state)
{
	struct logfx *f = *state;
	static struct hdrs h;
	struct producer_state ps;
	struct batch_producer_info b;
	int64_t first, last;
	int32_t e;
	int bad;
	/* 0..3: producer 7's first batch, k0 and k1 rewritten later, k10 and
	 * k11 never: two runs survive. 4..7: its next batch, every key
	 * rewritten later: kept whole, one of its last five, as are 11..14,
	 * four batches of one record. 8..10: producer 9's only batch, all
	 * rewritten, also its last: kept. */
	int a[4] = { 0, 10, 1, 11 }, bk[4] = { 0, 1, 2, 3 }, ck[3] = { 0, 1, 2 };

	put_producer(f, 7, 100, a, 4);
	put_producer(f, 7, 104, bk, 4);
	put_producer(f, 9, 0, ck, 3);
	for (int i = 0; i < 4; i++)
		put_producer(f, 7, 108 + i, &bk[i], 1);
	put_rounds(f, 4, 40, 0); /* k0..k3 again, in closed segments after */
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	logmgr_close(f->m); /* as a restart: all from the files */
	f->m = NULL;
	logfx_open(f);

	assert_int_equal(log_scan_producers(f->l, -1, -1, note_hdr, &h), 0);
	assert_null(hdr_at(&h, 0));
	assert_null(hdr_at(&h, 2));
	const struct batch_producer_info *r1 = hdr_at(&h, 1), *r3 = hdr_at(&h, 3),
					 *kb = hdr_at(&h, 4), *kc = hdr_at(&h, 8);
	assert_non_null(r1);
	assert_non_null(r3);
	assert_int_equal(r1->producer_id, 7);
	assert_int_equal(r1->base_sequence, 101); /* each record keeps its sequence */
	assert_int_equal(r1->records, 1);
	assert_int_equal(r3->base_sequence, 103);
	assert_non_null(kb);
	assert_int_equal(kb->last_offset, 7);
	assert_int_equal(kb->records, 4);
	assert_int_equal(kb->base_sequence, 104);
	assert_non_null(kc);
	assert_int_equal(kc->records, 3);
	assert_int_equal(kc->producer_id, 9);
	assert_non_null(hdr_at(&h, 14));
	/* The records the mount wrote were compacted: only the last round's
	 * survive below the active segment. */
	assert_null(hdr_at(&h, 15));

	/* A new leader (or a restart) rebuilds the state from this log. */
	producer_state_init(&ps);
	assert_int_equal(producer_state_load(&ps, f->l, 2, fake_now, 86400000), 0);
	b = (struct batch_producer_info){ .producer_id = 7, .base_sequence = 104, .records = 4 };
	assert_int_equal(producer_state_check(&ps, &b, 1, &first, &last, &e, &bad), 1);
	assert_int_equal(first, 4);
	assert_int_equal(last, 7);
	assert_int_equal(e, 1);
	b = (struct batch_producer_info){ .producer_id = 9, .base_sequence = 0, .records = 3 };
	assert_int_equal(producer_state_check(&ps, &b, 1, &first, &last, &e, &bad), 1);
	assert_int_equal(first, 8);
	b = (struct batch_producer_info){ .producer_id = 7, .base_sequence = 112, .records = 1 };
	assert_int_equal(producer_state_check(&ps, &b, 1, &first, &last, &e, &bad), 0);
	b.base_sequence = 114; /* a gap stays out of order */
	assert_int_equal(producer_state_check(&ps, &b, 1, &first, &last, &e, &bad), -EILSEQ);
	producer_state_destroy(&ps);
}

/* An idempotent producer has up to five requests in flight: after a
 * failover its client sends again every one the dead leader did not
 * answer, and the new leader, which rebuilds the producer state from its
 * log (producer_state_load), must answer each as a duplicate with its
 * offsets, as Kafka does from the five batches its state keeps. So a
 * clean keeps the last five batches of each producer whole: one re-encoded
 * into runs (or removed) would not match the sequences sent again, and
 * the resend would be refused as out of order (OUT_OF_ORDER_SEQUENCE_NUMBER)
 * where Kafka answers it as a duplicate. Producer 7 writes six batches
 * whose keys the mount writes again later; the first may go. */
static void test_producer_resend_after_clean(void **state)
{
	struct logfx *f = *state;
	static struct hdrs h;
	struct producer_state ps;
	struct batch_producer_info b;
	int64_t first, last;
	int32_t e;
	int bad, keys[3];

	for (int i = 0; i < 6; i++) {
		for (int j = 0; j < 3; j++)
			keys[j] = (i * 3 + j) % 4;
		put_producer(f, 7, 3 * i, keys, 3);
	}
	put_rounds(f, 4, 40, 0); /* k0..k3 again, in closed segments after */
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	/* The new leader answers each of the five sent again with its
	 * offsets. */
	producer_state_init(&ps);
	assert_int_equal(producer_state_load(&ps, f->l, 2, fake_now, 86400000), 0);
	for (int i = 1; i < 6; i++) {
		b = (struct batch_producer_info){ .producer_id = 7,
						  .base_sequence = 3 * i,
						  .records = 3 };
		assert_int_equal(producer_state_check(&ps, &b, 1, &first, &last, &e, &bad), 1);
		assert_int_equal(first, 3 * i);
		assert_int_equal(last, 3 * i + 2);
	}
	b = (struct batch_producer_info){ .producer_id = 7, .base_sequence = 18, .records = 1 };
	assert_int_equal(producer_state_check(&ps, &b, 1, &first, &last, &e, &bad), 0);
	producer_state_destroy(&ps);

	/* Kept byte for byte; the oldest went. */
	assert_int_equal(log_scan_producers(f->l, -1, -1, note_hdr, &h), 0);
	assert_null(hdr_at(&h, 0));
	for (int i = 1; i < 6; i++) {
		const struct batch_producer_info *k = hdr_at(&h, 3 * i);

		assert_non_null(k);
		assert_int_equal(k->records, 3);
		assert_int_equal(k->base_sequence, 3 * i);
	}
}

/* A producer's last batch stays whole (its records too): a tombstone of
 * a key that batch holds must stay with it, else once the tombstone's
 * delete.retention.ms passes the clean removes it and leaves the older
 * value alone in the log, the deleted key back for every reader from the
 * start (a consumer rebuilding a table). Producer 7 writes k5 and no more;
 * the mount deletes k5 later. */

/* rounds more of k0..k3 after what is there (closed segments), a clean,
 * and the log's batch headers into *h. */
static void clean_again(struct logfx *f, int rounds, struct hdrs *h)
{
	put_rounds(f, 4, rounds, 0);
	assert_int_equal(log_clean(f->l, fake_now, 1 << 20, true, NULL), 1);
	h->n = 0;
	assert_int_equal(log_scan_producers(f->l, -1, -1, note_hdr, h), 0);
}

static void test_tombstone_of_kept_producer_batch(void **state)
{
	struct logfx *f = *state;
	static struct hdrs h;
	int k5[1] = { 5 }, k6[1] = { 6 }, k9[1] = { 9 };
	bool tomb[1] = { true };

	put_producer(f, 7, 0, k5, 1); /* offset 0: k5=v0, producer 7's last batch */
	put(f, k5, tomb, 1, 7);       /* offset 1: k5's tombstone */
	put(f, k6, tomb, 1, 7);       /* offset 2: k6's tombstone, no kept batch holds k6 */
	fake_now += f->cfg.delete_retention_ms + 1;
	clean_again(f, 40, &h);
	assert_non_null(hdr_at(&h, 0)); /* the producer's batch, whole */
	assert_non_null(hdr_at(&h, 1)); /* so k5 stays deleted */
	assert_non_null(hdr_at(&h, 2)); /* given its delete horizon by this clean */
	/* and at the next clean past that horizon, with nothing new dirty but
	 * the same range */
	fake_now += f->cfg.delete_retention_ms;
	clean_again(f, 10, &h);
	assert_non_null(hdr_at(&h, 0));
	assert_non_null(hdr_at(&h, 1));
	assert_null(hdr_at(&h, 2)); /* other tombstones go as before */
	/* Producer 7 writes again: its old batch is no longer kept whole, but
	 * k5 is in no clean's map any more, so its value stays, and so must
	 * the tombstone after it. */
	put_producer(f, 7, 1, k9, 1);
	clean_again(f, 10, &h);
	assert_non_null(hdr_at(&h, 0));
	assert_non_null(hdr_at(&h, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_compact_sequence, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_incompressible_kept_uncompressed, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_end_page_kept, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_tombstones_kept_forever, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_tombstone_of_kept_producer_batch, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_map_too_small, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_map_partly_full, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_ratio_and_lag, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_lag_dirty_only, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_max_lag_epoch_stamp, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_min_lag_over_max, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_lag_no_timestamp, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_clean_keeps_age, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_tombstone_no_timestamp, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_max_lag, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_empty_value_kept, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_emptied_segment_ages, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_tombstone_delete_horizon, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_headers_kept, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_headers_kept_snappy, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_headers_kept_zstd, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_crash_points, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_clean_only_checkpointed, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_unchanged, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_truncate_below_cleaned, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_truncate_during_clean, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_producer_batches, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_producer_resend_after_clean, setup,
						logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
