/*
 * test_replica_log.c — the engine's support for replication: raw batch
 * reads for the fetch path (Kafka's rules, references that outlive
 * retention), the follower's append (validation, leader's bytes kept,
 * .log/.index/.timeindex/.lines and leader-epoch-checkpoint byte-identical
 * to the leader's across rolls and codecs), the end offset for an epoch
 * (KIP-101, KIP-279), durable truncation under simulated power cuts, the
 * hw and LEO listener lists, the follower's hw.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/batch.h"
#include "engine/engine.h"
#include "tests/unit/elog.h"
#include "tests/unit/logfx.h"

/* A leader and a follower log, each with its own manager and directory. */
struct pair {
	struct logfx *l, *f;
};

static void tune_small(struct log_config *cfg)
{
	cfg->segment_bytes = 1024;
	cfg->index_interval_bytes = 300;
	cfg->batch_bytes = 512;
	memcpy(cfg->key_sep, "=", 2);
	cfg->key_sep_len = 1;
}

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	void *a, *b;

	assert_non_null(p);
	engine_helper_threads = 0;
	logfx_setup(&a, "repl-l", tune_small);
	logfx_setup(&b, "repl-f", tune_small);
	p->l = a;
	p->f = b;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;
	void *a = p->l, *b = p->f;

	logfx_teardown(&a);
	logfx_teardown(&b);
	free(p);
	return 0;
}

/* n records "<prefix>-<i>" (every third keyed "k<i%5>=") as one leader
 * append in epoch; timestamps from the fake clock, moved on each call. */
static void put(struct log *l, int n, int32_t epoch, const char *prefix)
{
	static char vals[256][48];
	struct rec_in r[256];

	assert_true(n <= 256);
	fake_now += 7;
	for (int i = 0; i < n; i++) {
		int len = snprintf(vals[i], sizeof(vals[i]), "%s-%d", prefix, i);
		r[i] = (struct rec_in){ NULL, -1, vals[i], len, fake_now + i % 3 };
		if (i % 3 == 0) {
			r[i].key = "k";
			r[i].key_len = 1;
		}
	}
	assert_int_equal(log_append(l, r, n, epoch, NULL), 0);
}

/* put, with every record keyed: key "k" for every third from the first,
 * a key of its own ("u<n>") for the others, so that a clean removes the
 * "k" records but the newest and leaves the rest (a compacted log drops
 * records without a key). */
static void put_keyed(struct log *l, int n, int32_t epoch, const char *prefix)
{
	static char vals[256][48], keys[256][16];
	static int next_key;
	struct rec_in r[256];

	assert_true(n <= 256);
	fake_now += 7;
	for (int i = 0; i < n; i++) {
		int len = snprintf(vals[i], sizeof(vals[i]), "%s-%d", prefix, i);
		int kl = snprintf(keys[i], sizeof(keys[i]), "u%d", next_key++);

		r[i] = (struct rec_in){ keys[i], kl, vals[i], len, fake_now + i % 3 };
		if (i % 3 == 0) {
			r[i].key = "k";
			r[i].key_len = 1;
		}
	}
	assert_int_equal(log_append(l, r, n, epoch, NULL), 0);
}

static int64_t leo(struct log *l)
{
	struct log_state st;

	log_get_state(l, &st);
	return st.log_end_offset;
}

static int64_t hw(struct log *l)
{
	struct log_state st;

	log_get_state(l, &st);
	return st.hw;
}

/* The bytes of a raw range, read from its descriptor. */
static uint8_t *raw_bytes(const struct log_raw *r)
{
	uint8_t *b = malloc((size_t)r->len + 1);

	assert_non_null(b);
	assert_int_equal(pread(r->fd, b, (size_t)r->len, r->pos), r->len);
	return b;
}

/* One fetch of the follower from the leader, as the fetcher does it:
 * from the follower's LEO, up to the leader's LEO, max_bytes. Returns the
 * batches appended. */
static int replicate_once(struct log *leader, struct log *follower, size_t max_bytes)
{
	struct log_raw r;
	int n = 0;

	assert_int_equal(log_read_raw_copy(leader, leo(follower), -1, max_bytes, &r), 0);
	if (r.len > 0) {
		uint8_t *b = raw_bytes(&r);
		int64_t last;

		n = log_append_batches(follower, b, (size_t)r.len,
				       r.base_offset > leo(follower) ? r.first_line_pos : -1,
				       &last);
		assert_int_equal(n, r.batches);
		assert_int_equal(last, r.last_offset);
		free(b);
	}
	log_raw_release(&r);
	return n;
}

static void replicate_all(struct log *leader, struct log *follower, size_t max_bytes)
{
	while (leo(follower) < leo(leader))
		assert_true(replicate_once(leader, follower, max_bytes) > 0);
}

/* ---- 1. raw reads ---- */

static void test_raw_read_rules(void **state)
{
	struct pair *p = *state;
	struct log *l = p->l->l;
	struct log_raw r, r2;

	log_assign_epoch(l, 2, 0);
	for (int i = 0; i < 6; i++)
		put(l, 4, 2, "a"); /* batches of 4: 0..3, 4..7, ... */
	assert_int_equal(log_set_hw(l, 12), 0);
	/* Inside a batch: the whole batch from its start. */
	assert_int_equal(log_read_raw(l, 5, -1, 1, &r), 0);
	assert_int_equal(r.base_offset, 4);
	assert_int_equal(r.last_offset, 7);
	assert_int_equal(r.batches, 1); /* max_bytes 1: still one batch */
	assert_int_equal(r.last_epoch, 2);
	uint8_t *b = raw_bytes(&r);
	struct batch_hdr h;
	assert_int_equal(batch_hdr_decode(b, (size_t)r.len, &h), 0);
	assert_int_equal(h.base_offset, 4);
	assert_int_equal(batch_validate(b, (size_t)r.len), 0);
	free(b);
	/* The consumer's read stops at the hw (12), the follower's at the LEO. */
	assert_int_equal(log_read_raw(l, 0, hw(l), 1 << 20, &r2), 0);
	assert_int_equal(r2.base_offset, 0);
	assert_int_equal(r2.last_offset, 11);
	assert_int_equal(r2.batches, 3);
	assert_int_equal(r2.pos, 0);
	log_raw_release(&r2);
	assert_int_equal(log_read_raw(l, 12, hw(l), 1 << 20, &r2), 0);
	assert_int_equal(r2.len, 0);
	assert_int_equal(r2.fd, -1);
	assert_int_equal(log_read_raw(l, 0, -1, 1 << 20, &r2), 0);
	assert_int_equal(r2.last_offset, 23);
	/* max_bytes: as many whole batches as fit. */
	int64_t one = r.len;
	log_raw_release(&r);
	log_raw_release(&r2);
	assert_int_equal(log_read_raw(l, 0, -1, (size_t)(2 * one + one / 2), &r), 0);
	assert_int_equal(r.batches, 2);
	assert_int_equal(r.len, 2 * one);
	log_raw_release(&r);
	/* At the LEO: nothing; past it: OFFSET_OUT_OF_RANGE. */
	assert_int_equal(log_read_raw(l, 24, -1, 1 << 20, &r), 0);
	assert_int_equal(r.len, 0);
	assert_int_equal(log_read_raw(l, 25, -1, 1 << 20, &r), -ERANGE);
	assert_int_equal(log_read_raw(l, -1, -1, 1 << 20, &r), -ERANGE);
	assert_null(r.seg);
	log_raw_release(&r); /* an empty result is fine */
}

/* A read never crosses a segment: the next one continues in the next. */
static void test_raw_read_segments(void **state)
{
	struct pair *p = *state;
	struct log *l = p->l->l;
	struct log_raw r;
	int64_t *bases;
	int n;

	for (int i = 0; i < 40; i++)
		put(l, 5, 0, "seg");
	assert_int_equal(log_segments(l, &bases, &n), 0);
	assert_true(n >= 3);
	assert_int_equal(log_read_raw(l, 0, -1, 1 << 20, &r), 0);
	assert_int_equal(r.last_offset + 1, bases[1]);
	assert_int_equal(r.len, log_segment_size(l, 0, SEG_LOG));
	log_raw_release(&r);
	assert_int_equal(log_read_raw(l, bases[1] + 2, -1, 1 << 20, &r), 0);
	assert_int_equal(r.base_offset, bases[1]);
	assert_int_equal(r.pos, 0);
	assert_int_equal(r.last_offset + 1, bases[2]);
	log_raw_release(&r);
	free(bases);
}

/* nb batches of per records each (epoch 3) in one segment of fx's log. */
static void one_segment(struct logfx *fx, int nb, int per)
{
	struct log_config cfg = fx->cfg;
	int64_t *bases;
	int n;

	cfg.segment_bytes = 1 << 22;
	assert_int_equal(log_reconfigure(fx->l, &cfg), 0);
	log_assign_epoch(fx->l, 3, 0);
	for (int i = 0; i < nb; i++)
		put(fx->l, per, 3, "many");
	assert_int_equal(log_segments(fx->l, &bases, &n), 0);
	free(bases);
	assert_int_equal(n, 1);
}

/* A read of many batches in one segment measures the range on .lines
 * entries, reading headers only at its ends: a few preads, not two per
 * batch. Where the hw cuts a batch, that batch stays out; where a .lines
 * entry disagrees with its batch, the header-by-header scan answers. */
static void test_raw_read_few_preads(void **state)
{
	struct pair *p = *state;
	struct logfx *fx = p->l;
	struct log *l = fx->l;
	struct log_raw r;
	int before;

	one_segment(fx, 200, 4); /* batch i: offsets 4i .. 4i+3 */

	before = fx->fio.preads;
	assert_int_equal(log_read_raw(l, 0, -1, 1 << 20, &r), 0);
	assert_true(fx->fio.preads - before <= 24);
	assert_int_equal(r.batches, 200);
	assert_int_equal(r.base_offset, 0);
	assert_int_equal(r.last_offset, 799);
	assert_int_equal(r.last_epoch, 3);
	assert_int_equal(r.pos, 0);
	assert_int_equal(r.len, log_segment_size(l, 0, SEG_LOG));
	uint8_t *all = raw_bytes(&r);
	int64_t one = batch_total_size(all);
	log_raw_release(&r);

	/* The hw inside batch 100 (400..403): batches 0..99 only, from any
	 * offset below it; from inside batch 100, nothing. */
	assert_int_equal(log_set_hw(l, 402), 0);
	assert_int_equal(log_read_raw(l, 0, hw(l), 1 << 20, &r), 0);
	assert_int_equal(r.batches, 100);
	assert_int_equal(r.last_offset, 399);
	log_raw_release(&r);
	assert_int_equal(log_read_raw(l, 397, hw(l), 1 << 20, &r), 0);
	assert_int_equal(r.batches, 1);
	assert_int_equal(r.base_offset, 396);
	log_raw_release(&r);
	assert_int_equal(log_read_raw(l, 401, hw(l), 1 << 20, &r), 0);
	assert_int_equal(r.len, 0);
	/* max_bytes in the middle: as many whole batches as fit. */
	assert_int_equal(log_read_raw(l, 9, -1, (size_t)(10 * one + one / 2), &r), 0);
	assert_int_equal(r.batches, 10);
	assert_int_equal(r.base_offset, 8);
	assert_int_equal(r.last_offset, 47);
	assert_int_equal(r.pos, 2 * one);
	uint8_t *mid = raw_bytes(&r);
	assert_memory_equal(mid, all + 2 * one, (size_t)(10 * one));
	free(mid);
	log_raw_release(&r);

	/* Entry 12's position moved on by one byte: measured on the entries,
	 * 13 batches' worth ends with "batch 12" one byte late, whose header
	 * is not there; header by header, the read stops before it. */
	char path[512];
	uint8_t pos[4];
	snprintf(path, sizeof(path), "%s/t-0/00000000000000000000.lines", fx->dir);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, pos, 4, 16 + 12 * 16 + 4), 4);
	pos[3]++;
	assert_int_equal(pwrite(fd, pos, 4, 16 + 12 * 16 + 4), 4);
	close(fd);
	assert_int_equal(log_read_raw(l, 0, -1, (size_t)(13 * one), &r), 0);
	assert_int_equal(r.batches, 12);
	assert_int_equal(r.last_offset, 47);
	assert_int_equal(r.len, 12 * one);
	log_raw_release(&r);
	free(all);
}

/* Two followers fetching in turn from the end of a segment of many
 * batches: each fetch starts where the last one began or ended, and finds
 * its batch there with one read of .lines entries, without a binary
 * search. Whatever the last fetches left behind (a truncation, another
 * reader elsewhere), each fetch still starts at the batch holding its
 * offset. */
static void test_raw_read_followers_hint(void **state)
{
	struct pair *p = *state;
	struct logfx *fx = p->l;
	struct log *l = fx->l;
	struct log_raw r;
	int before;

	one_segment(fx, 1024, 2); /* batch i: offsets 2i, 2i+1 */

	int64_t at = leo(l);
	for (int round = 0; round < 8; round++) {
		for (int i = 0; i < 16; i++)
			put(l, 2, 3, "more");
		for (int f = 0; f < 2; f++) {
			before = fx->fio.preads;
			assert_int_equal(log_read_raw(l, at, -1, 1 << 20, &r), 0);
			/* One block of entries and two headers; a binary search
			 * over 1040 entries alone takes ten (the first fetch,
			 * with no fetch before it to start from). */
			if (round > 0 || f > 0)
				assert_true(fx->fio.preads - before <= 3);
			else
				assert_true(fx->fio.preads - before >= 10);
			assert_int_equal(r.base_offset, at);
			assert_int_equal(r.last_offset, leo(l) - 1);
			assert_int_equal(r.batches, 16);
			log_raw_release(&r);
		}
		at = leo(l);
	}
	/* Offsets far from the hints, inside batches: the batch's base, found
	 * by the binary search after the two tries (a scan measured on the
	 * entries, not header by header after a second search). */
	int64_t probe[] = { 1, 7, 1001, 2047, 333, at - 1, 0 };
	for (size_t k = 0; k < sizeof(probe) / sizeof(probe[0]); k++) {
		before = fx->fio.preads;
		assert_int_equal(log_read_raw(l, probe[k], -1, 1, &r), 0);
		assert_true(fx->fio.preads - before <= 16);
		assert_int_equal(r.base_offset, probe[k] & ~(int64_t)1);
		assert_int_equal(r.batches, 1);
		log_raw_release(&r);
	}
	/* Cut back and refilled with batches of three records: the entries
	 * the hints name now hold other batches, or are gone. */
	assert_int_equal(log_read_raw(l, 1500, -1, 64, &r), 0);
	log_raw_release(&r);
	assert_int_equal(log_truncate_to(l, 1200), 0);
	for (int i = 0; i < 200; i++)
		put(l, 3, 3, "cut"); /* batch 600 + i: offsets 1200 + 3i .. */
	for (int64_t o = 1190; o < leo(l); o += 7) {
		int64_t base = o < 1200 ? (o & ~(int64_t)1) : 1200 + (o - 1200) / 3 * 3;
		assert_int_equal(log_read_raw(l, o, -1, 1, &r), 0);
		assert_int_equal(r.base_offset, base);
		log_raw_release(&r);
	}
}

/* A follower's hw moves to where one of its last fetches' records began
 * (the LEO it reported): the line position there is known from that
 * append, with no search of .lines and no batch read. After a truncation
 * the search answers again; either way the position is the leader's. */
static void test_follower_hw_from_append(void **state)
{
	struct pair *p = *state;
	struct log *f = p->f->l;
	struct log_config cfg = p->f->cfg;
	struct log_state st;
	int64_t pos, starts[64], before;
	int k = 0;

	one_segment(p->l, 300, 3);
	cfg.segment_bytes = 1 << 22;
	assert_int_equal(log_reconfigure(f, &cfg), 0);
	while (leo(f) < leo(p->l->l)) {
		assert_true(k < 64);
		starts[k] = leo(f);
		assert_true(replicate_once(p->l->l, f, 2000) > 0);
		if (k >= 2) { /* the hw two fetches behind */
			before = p->f->fio.preads;
			assert_int_equal(log_set_follower_hw(f, starts[k - 2]), 0);
			assert_int_equal(p->f->fio.preads, before);
			log_get_state(f, &st);
			assert_int_equal(st.hw, starts[k - 2]);
			assert_int_equal(log_offset_to_pos(p->l->l, starts[k - 2], &pos), 0);
			assert_int_equal(st.line_hw, pos);
		}
		k++;
	}
	assert_true(k >= 4);
	/* Cut back to where the last fetch began: what the fetch before noted
	 * is searched again. */
	assert_int_equal(log_truncate_to(f, starts[k - 1]), 0);
	before = p->f->fio.preads;
	assert_int_equal(log_set_follower_hw(f, starts[k - 2]), 0);
	assert_true(p->f->fio.preads > before);
	log_get_state(f, &st);
	assert_int_equal(log_offset_to_pos(p->l->l, starts[k - 2], &pos), 0);
	assert_int_equal(st.line_hw, pos);
}

/* Retention deletes a segment a fetch is sending: the bytes stay readable
 * until the range is released, then the files go. */
static void test_raw_ref_outlives_retention(void **state)
{
	struct pair *p = *state;
	struct logfx *fx = p->l;
	struct log *l = fx->l;
	struct log_raw r;
	struct log_retention_result res;
	struct log_config cfg = fx->cfg;
	char path[512];
	struct stat st;

	for (int i = 0; i < 40; i++)
		put(l, 5, 0, "ret");
	assert_int_equal(log_set_hw(l, leo(l)), 0);
	assert_int_equal(log_read_raw(l, 0, -1, 1 << 20, &r), 0);
	uint8_t *before = raw_bytes(&r);
	cfg.retention_bytes = 1;
	cfg.file_delete_delay_ms = 0; /* the files go with the last reference */
	assert_int_equal(log_reconfigure(l, &cfg), 0);
	assert_true(log_retention_run(l, fake_now, &res) > 0);
	struct log_raw gone;
	assert_int_equal(log_read_raw(l, 0, -1, 1 << 20, &gone), -ERANGE);
	snprintf(path, sizeof(path), "%s/t-0/00000000000000000000.log.deleted", fx->dir);
	assert_int_equal(stat(path, &st), 0);
	uint8_t *after = raw_bytes(&r);
	assert_memory_equal(before, after, (size_t)r.len);
	log_raw_release(&r);
	assert_int_equal(stat(path, &st), -1);
	free(before);
	free(after);
}

/* ---- 2. the follower's append ---- */

static void assert_dirs_identical(const char *da, const char *db)
{
	char why[1200];

	if (elog_dirs_identical(da, db, why, sizeof(why)) != 0)
		fail_msg("%s", why);
}

static void close_both(struct pair *p)
{
	assert_int_equal(logmgr_close(p->l->m), 0);
	assert_int_equal(logmgr_close(p->f->m), 0);
	p->l->m = p->f->m = NULL;
}

/* The leader appends through the normal path (records in, batches
 * encoded, several codecs, keys, epochs); the follower appends the
 * leader's raw bytes in fetches of odd sizes. Same config: every file
 * comes out the same, across many segment rolls. */
static void test_follower_files_identical(void **state)
{
	struct pair *p = *state;
	struct log *l = p->l->l, *f = p->f->l;
	struct log_config cfg = p->l->cfg;
	char da[400], db[400];
	int64_t *bases;
	int nsegs;

	assert_int_equal(log_assign_epoch(l, 0, 0), 0);
	for (int i = 0; i < 30; i++)
		put(l, 1 + i % 9, 0, "plain");
	replicate_once(l, f, 1000);
	cfg.codec = BATCH_CODEC_GZIP;
	assert_int_equal(log_reconfigure(l, &cfg), 0);
	assert_int_equal(log_assign_epoch(l, 3, leo(l)), 0);
	for (int i = 0; i < 30; i++)
		put(l, 1 + i % 11, 3, "gzip");
	cfg.codec = BATCH_CODEC_LZ4;
	assert_int_equal(log_reconfigure(l, &cfg), 0);
	assert_int_equal(log_assign_epoch(l, 4, leo(l)), 0);
	for (int i = 0; i < 30; i++)
		put(l, 1 + i % 7, 4, "lz4");
	replicate_all(l, f, 777);
	assert_int_equal(leo(f), leo(l));
	struct log_state sl, sf;
	log_get_state(l, &sl);
	log_get_state(f, &sf);
	assert_int_equal(sf.line_end, sl.line_end);
	assert_int_equal(sf.leader_epoch, 4);
	assert_int_equal(sf.segments, sl.segments);
	assert_int_equal(log_segments(l, &bases, &nsegs), 0);
	assert_true(nsegs >= 5);
	free(bases);
	/* The follower's line view is the leader's. */
	assert_int_equal(log_set_follower_hw(f, leo(l)), 0);
	assert_int_equal(log_set_hw(l, leo(l)), 0);
	struct log_cursor *cl = log_cursor_new(l), *cf = log_cursor_new(f);
	static char bl[1 << 16], bf[1 << 16];
	ssize_t nl = log_read_lines(l, cl, 0, bl, sizeof(bl), NULL);
	ssize_t nf = log_read_lines(f, cf, 0, bf, sizeof(bf), NULL);
	assert_true(nl > 0);
	assert_int_equal(nf, nl);
	assert_memory_equal(bl, bf, (size_t)nl);
	log_cursor_free(cl);
	log_cursor_free(cf);
	snprintf(da, sizeof(da), "%s/t-0", p->l->dir);
	snprintf(db, sizeof(db), "%s/t-0", p->f->dir);
	close_both(p);
	assert_dirs_identical(da, db);
}

/* A replica restarted (the process killed, or stopped cleanly) or cut back
 * by a truncation carries on with its indexes where the other replica's
 * are: an index entry comes index.interval.bytes after the previous one
 * however the bytes since were written, and a time index entry names the
 * first record with the segment's largest timestamp, whichever replica
 * wrote or rebuilt it. Client batches (header max timestamp, several
 * records of one timestamp, LogAppendTime) and leader-encoded ones mixed. */
static void reopen(struct logfx *x, bool kill)
{
	if (kill)
		logmgr_abandon(x->m);
	else
		assert_int_equal(logmgr_close(x->m), 0);
	x->m = NULL;
	logfx_open(x);
}

static void test_indexes_identical_after_restarts(void **state)
{
	struct pair *p = *state;
	char da[400], db[400];
	uint8_t cb[4096];

	p->l->cfg.segment_bytes = 4096;
	p->f->cfg.segment_bytes = 4096;
	assert_int_equal(log_reconfigure(p->l->l, &p->l->cfg), 0);
	assert_int_equal(log_reconfigure(p->f->l, &p->f->cfg), 0);
	assert_int_equal(log_assign_epoch(p->l->l, 0, 0), 0);
	for (int round = 0; round < 24; round++) {
		struct log *l = p->l->l;
		for (int i = 0; i < 3; i++)
			put(l, 1 + (round * 5 + i) % 13, 0, "r");
		/* A client's batch: five records of one timestamp. */
		struct batch_builder bb;
		batch_builder_init(&bb, cb, sizeof(cb), BATCH_CODEC_NONE);
		for (int i = 0; i < 5; i++)
			assert_int_equal(
				batch_builder_add(&bb, NULL, -1, "client", 6, fake_now + 9), 0);
		int64_t sz = batch_builder_finish(&bb, 0, 0);
		assert_true(sz > 0);
		assert_int_equal(log_append_client(l, cb, (size_t)sz, 0,
						   round % 4 == 3 ? fake_now + 20 : -1, NULL, NULL),
				 0);
		replicate_once(l, p->f->l, 200 + (size_t)round * 37 % 500);
		switch (round % 5) {
		case 0: /* the follower killed */ reopen(p->f, true); break;
		case 1: /* the follower stopped cleanly */ reopen(p->f, false); break;
		case 2: /* the leader killed; the follower catches up first */
			replicate_all(l, p->f->l, 300);
			reopen(p->l, true);
			break;
		case 3: /* the follower cut back its last batch (epoch truncation) */
			if (leo(p->f->l) > 0) {
				struct log_raw r;
				assert_int_equal(log_read_raw(p->f->l, leo(p->f->l) - 1, -1, 1, &r),
						 0);
				assert_int_equal(log_truncate_to(p->f->l, r.base_offset), 0);
				log_raw_release(&r);
			}
			break;
		default: /* the leader stopped cleanly */
			replicate_all(l, p->f->l, 300);
			reopen(p->l, false);
		}
	}
	replicate_all(p->l->l, p->f->l, 1 << 20);
	snprintf(da, sizeof(da), "%s/t-0", p->l->dir);
	snprintf(db, sizeof(db), "%s/t-0", p->f->dir);
	close_both(p);
	assert_dirs_identical(da, db);
}

/* A replica whose whole active segment is cut away (the old leader of a
 * new log, back as a follower: "truncated to offset 0") must forget the
 * cut records' timestamps: kept as the segment's largest, they named the
 * first .timeindex entry after the cut (a removed record's time and
 * offset), held back every later entry until a record was newer, and
 * stood as the segment's max timestamp for retention and ListOffsets -3.
 * Its files must end up the leader's, as if it had never held them. */
static void test_truncate_to_start_forgets_timestamps(void **state)
{
	struct pair *p = *state;
	char da[400], db[400];
	int64_t t0 = fake_now;

	/* Epoch 0: the follower led and appended records stamped a minute
	 * ahead, which nobody else got. */
	assert_int_equal(log_assign_epoch(p->f->l, 0, 0), 0);
	fake_now = t0 + 60000;
	put(p->f->l, 3, 0, "lost");
	/* Epoch 1: the new leader's own records, all older than those. */
	fake_now = t0;
	assert_int_equal(log_assign_epoch(p->l->l, 1, 0), 0);
	for (int i = 0; i < 40; i++)
		put(p->l->l, 1 + i % 5, 1, "kept");
	assert_int_equal(log_truncate_to(p->f->l, 0), 0);
	replicate_all(p->l->l, p->f->l, 700);
	snprintf(da, sizeof(da), "%s/t-0", p->l->dir);
	snprintf(db, sizeof(db), "%s/t-0", p->f->dir);
	close_both(p);
	assert_dirs_identical(da, db);
}

/* n records as one batch built by hand at base, stamped epoch. */
static size_t mkbatch(uint8_t *buf, size_t cap, int64_t base, int32_t epoch, int n)
{
	struct batch_builder bb;

	batch_builder_init(&bb, buf, cap, BATCH_CODEC_NONE);
	for (int i = 0; i < n; i++)
		assert_int_equal(batch_builder_add(&bb, NULL, -1, "v", 1, 1000 + i), 0);
	int64_t sz = batch_builder_finish(&bb, base, epoch);
	assert_true(sz > 0);
	return (size_t)sz;
}

static void test_append_batches_validation(void **state)
{
	struct pair *p = *state;
	struct log *f = p->f->l;
	uint8_t buf[4096];
	int64_t last = 0;
	size_t a = mkbatch(buf, sizeof(buf), 0, 1, 3);
	size_t b = mkbatch(buf + a, sizeof(buf) - a, 3, 1, 2);

	/* Only part of a batch: nothing, no error. */
	assert_int_equal(log_append_batches(f, buf, a - 1, -1, &last), 0);
	assert_int_equal(last, -1);
	assert_int_equal(log_append_batches(f, buf, 30, -1, NULL), 0);
	/* Not at the LEO. */
	assert_int_equal(log_append_batches(f, buf + a, b, -1, NULL), -EBADMSG);
	/* A bad CRC anywhere refuses the whole buffer. */
	buf[a + b - 1] ^= 1;
	assert_int_equal(log_append_batches(f, buf, a + b, -1, NULL), -EBADMSG);
	buf[a + b - 1] ^= 1;
	/* Bad magic. */
	buf[a + 16] = 1;
	assert_int_equal(log_append_batches(f, buf, a + b, -1, NULL), -EBADMSG);
	buf[a + 16] = 2;
	/* Offsets going back between batches (a gap, compaction's, ends the
	 * input instead: test_follower_copies_compacted). */
	batch_set_base(buf + a, 2, 1);
	assert_int_equal(log_append_batches(f, buf, a + b, -1, NULL), -EBADMSG);
	batch_set_base(buf + a, 3, 1);
	/* An epoch going back within the buffer. */
	batch_set_base(buf + a, 3, 0);
	assert_int_equal(log_append_batches(f, buf, a + b, -1, NULL), -EBADMSG);
	batch_set_base(buf + a, 3, 1);
	assert_int_equal(leo(f), 0);
	/* Whole batches and a partial one: the whole ones. */
	assert_int_equal(log_append_batches(f, buf, a + b - 5, -1, &last), 1);
	assert_int_equal(last, 2);
	assert_int_equal(log_append_batches(f, buf + a, b, -1, &last), 1);
	assert_int_equal(last, 4);
	assert_int_equal(leo(f), 5);
	assert_int_equal(hw(f), 0); /* the append does not commit */
	/* An epoch below the cache's latest (1). */
	size_t c = mkbatch(buf, sizeof(buf), 5, 0, 1);
	assert_int_equal(log_append_batches(f, buf, c, -1, NULL), -EBADMSG);
	c = mkbatch(buf, sizeof(buf), 5, 6, 1);
	assert_int_equal(log_append_batches(f, buf, c, -1, NULL), 1);
	int32_t e;
	int64_t end;
	log_end_offset_for_epoch(f, 1, &e, &end);
	assert_int_equal(e, 1);
	assert_int_equal(end, 5);
	log_end_offset_for_epoch(f, 6, &e, &end);
	assert_int_equal(e, 6);
	assert_int_equal(end, 6);
}

/* Offsets past 2^31 from a segment's base (a gap of a compacted leader's
 * log, which its follower copies): the batch that would not fit the 32-bit relative
 * offsets of .index starts a new segment, in one append's run too, as
 * Kafka rolls when offset - baseOffset would pass Int.MaxValue; the log
 * reads whole and opens again after a kill. */
static void test_append_batches_offset_overflow(void **state)
{
	struct pair *p = *state;
	struct log *f = p->f->l;
	struct log_state st;
	uint8_t buf[4096];
	int64_t last = 0, far = ((int64_t)1 << 31) + 10, *bases;
	int n;
	size_t a = mkbatch(buf, sizeof(buf), 0, 1, 3);
	/* Relative offset INT32_MAX exactly still fits the first segment. */
	size_t b = mkbatch(buf + a, sizeof(buf) - a, INT32_MAX - 1, 1, 2);
	size_t c = mkbatch(buf + a + b, sizeof(buf) - a - b, far, 1, 2);

	/* Gaps are compaction's: a log of another policy has none, and its
	 * recovery takes one between segments for records lost. */
	p->f->cfg.cleanup_policy = LOG_CLEANUP_COMPACT;
	assert_int_equal(log_reconfigure(f, &p->f->cfg), 0);
	assert_int_equal(log_append_batches(f, buf, a, -1, &last), 1);
	/* Both gaps' line positions: "v\n" a record. */
	assert_int_equal(log_append_batches(f, buf + a, b, 6, &last), 1);
	assert_int_equal(last, INT32_MAX);
	assert_int_equal(log_append_batches(f, buf + a + b, c, 10, &last), 1);
	assert_int_equal(last, far + 1);
	log_get_state(f, &st);
	assert_int_equal(st.segments, 2);
	assert_int_equal(log_segments(f, &bases, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(bases[1], far);
	free(bases);
	assert_int_equal(log_set_follower_hw(f, far + 2), 0);
	reopen(p->f, true);
	f = p->f->l;
	assert_int_equal(leo(f), far + 2);
	log_get_state(f, &st);
	assert_int_equal(st.segments, 2);
	assert_int_equal(st.line_end, 14);
}

/* A failed write appends nothing and leaves the epoch cache as it was. */
static void test_append_batches_io_error(void **state)
{
	struct pair *p = *state;
	struct log *f = p->f->l;
	uint8_t buf[4096];
	size_t a = mkbatch(buf, sizeof(buf), 0, 2, 3);

	faultio_no_map(&p->f->fio);
	p->f->fio.pwrite_countdown = 1;
	p->f->fio.pwrite_errno = ENOSPC;
	assert_int_equal(log_append_batches(f, buf, a, -1, NULL), -ENOSPC);
	assert_int_equal(leo(f), 0);
	struct log_state st;
	log_get_state(f, &st);
	assert_int_equal(st.leader_epoch, -1);
	assert_int_equal(log_append_batches(f, buf, a, -1, NULL), 1);
	log_get_state(f, &st);
	assert_int_equal(st.leader_epoch, 2);
}

/* ---- 3. the end offset for an epoch ---- */

static void test_end_offset_for_epoch_kip101(void **state)
{
	struct pair *p = *state;
	struct log *l = p->l->l;
	int32_t e;
	int64_t end;
	static const struct {
		int32_t ask, epoch;
		int64_t end;
	} want[] = {
		{ -1, -1, -1 }, { 0, 0, 10 },  { 1, 1, 20 },  { 2, 1, 20 },
		{ 3, 3, 25 },   { 4, -1, -1 }, { 7, -1, -1 }, { -2, -2, 0 },
	};

	log_end_offset_for_epoch(l, 0, &e, &end);
	assert_int_equal(e, -1); /* empty cache: undefined */
	assert_int_equal(end, -1);
	/* The leader's cache [0@0, 1@10, 3@20], LEO 25. */
	assert_int_equal(log_assign_epoch(l, 0, 0), 0);
	put(l, 10, 0, "e0");
	assert_int_equal(log_assign_epoch(l, 1, 10), 0);
	put(l, 10, 1, "e1");
	assert_int_equal(log_assign_epoch(l, 3, 20), 0);
	put(l, 5, 3, "e3");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		log_end_offset_for_epoch(l, want[i].ask, &e, &end);
		assert_int_equal(e, want[i].epoch);
		assert_int_equal(end, want[i].end);
	}
	/* A follower that asks for 2 (a leader it followed that never wrote)
	 * gets (1, 20): it keeps everything below 20 of epoch 1. One that
	 * asks for 4 or 7, epochs this log never had, gets (-1, -1), Kafka's
	 * UNDEFINED_EPOCH_OFFSET (not epoch 3's end, 25), and truncates to
	 * its hw; -2 is below the first epoch, as Kafka answers it. */
}

/* KIP-279 on two engine logs, the follower's rounds done by hand:
 *   follower: epoch 1 [0,1], epoch 2 [2,3], epoch 4 [4,5]
 *   leader:   epoch 1 [0,1], epoch 3 [2..6], epoch 5 [7] (it leads in 5,
 *             above every epoch of its followers, as Kafka's makeLeader
 *             starts its epoch in the cache)
 * round 1: ask 4 -> (3, 7); the follower's own answer for 3 is (2, 4):
 *          epochs differ, truncate to min(7, 4) = 4, ask again;
 * round 2: ask 2 -> (1, 2); own answer for 1: (1, 2): truncate to 2, done. */
static void test_kip279_rounds(void **state)
{
	struct pair *p = *state;
	struct log *l = p->l->l, *f = p->f->l;
	int32_t e, fe;
	int64_t end, fend;

	assert_int_equal(log_assign_epoch(l, 1, 0), 0);
	put(l, 2, 1, "x");
	replicate_all(l, f, 1 << 20);
	assert_int_equal(log_assign_epoch(l, 3, 2), 0);
	put(l, 5, 3, "l3");
	assert_int_equal(log_assign_epoch(l, 5, 7), 0);
	put(l, 1, 5, "l5");
	assert_int_equal(log_assign_epoch(f, 2, 2), 0);
	put(f, 2, 2, "f2");
	assert_int_equal(log_assign_epoch(f, 4, 4), 0);
	put(f, 2, 4, "f4");
	struct log_state st;
	log_get_state(f, &st);
	log_end_offset_for_epoch(l, st.leader_epoch, &e, &end);
	assert_int_equal(e, 3);
	assert_int_equal(end, 7);
	log_end_offset_for_epoch(f, e, &fe, &fend);
	assert_int_equal(fe, 2);
	assert_int_equal(fend, 4);
	assert_int_equal(log_truncate_durable(f, fend < end ? fend : end), 0);
	log_get_state(f, &st);
	assert_int_equal(st.log_end_offset, 4);
	assert_int_equal(st.leader_epoch, 2); /* epoch 4 started at 4: gone */
	log_end_offset_for_epoch(l, st.leader_epoch, &e, &end);
	assert_int_equal(e, 1);
	assert_int_equal(end, 2);
	log_end_offset_for_epoch(f, e, &fe, &fend);
	assert_int_equal(fe, 1);
	assert_int_equal(fend, 2);
	assert_int_equal(log_truncate_durable(f, 2), 0);
	log_get_state(f, &st);
	assert_int_equal(st.leader_epoch, 1);
	replicate_all(l, f, 100);
	log_get_state(f, &st);
	assert_int_equal(st.leader_epoch, 5);
	assert_int_equal(st.log_end_offset, 8);
	log_end_offset_for_epoch(f, 1, &fe, &fend);
	assert_int_equal(fend, 2);
	char da[400], db[400];
	snprintf(da, sizeof(da), "%s/t-0", p->l->dir);
	snprintf(db, sizeof(db), "%s/t-0", p->f->dir);
	close_both(p);
	assert_dirs_identical(da, db);
}

/* An epoch below every one in the cache: (epoch, start of the first). */
static void test_end_offset_below_earliest(void **state)
{
	struct pair *p = *state;
	struct log *l = p->l->l;
	int32_t e;
	int64_t end;

	assert_int_equal(log_assign_epoch(l, 2, 0), 0);
	put(l, 5, 2, "a");
	assert_int_equal(log_assign_epoch(l, 4, 5), 0);
	log_end_offset_for_epoch(l, 1, &e, &end);
	assert_int_equal(e, 1);
	assert_int_equal(end, 0);
	log_end_offset_for_epoch(l, 3, &e, &end);
	assert_int_equal(e, 2);
	assert_int_equal(end, 5);
	log_end_offset_for_epoch(l, 4, &e, &end);
	assert_int_equal(e, 4);
	assert_int_equal(end, 5);
}

/* ---- 4. durable truncation ---- */

/* Truncates at the base of a later segment (so the segments after it go
 * whole), cuts the power, reopens: the records must stay gone. With the
 * non-durable truncation they come back, which is what makes this test
 * able to fail. (No epoch starts in the cut range: rewriting the epoch
 * checkpoint would fsync the directory by the way.) */
static int64_t truncate_then_power_cut(struct logfx *fx, bool durable, int64_t *cut_at)
{
	int64_t *bases;
	int n;

	assert_int_equal(log_assign_epoch(fx->l, 1, 0), 0);
	for (int i = 0; i < 40; i++)
		put(fx->l, 5, 1, "d");
	assert_int_equal(log_flush(fx->l, -1), 0);
	assert_int_equal(logmgr_checkpoint(fx->m), 0);
	assert_int_equal(log_segments(fx->l, &bases, &n), 0);
	assert_true(n >= 4);
	*cut_at = bases[2];
	free(bases);
	assert_int_equal(durable ? log_truncate_durable(fx->l, *cut_at)
				 : log_truncate_to(fx->l, *cut_at),
			 0);
	struct log_state st;
	log_get_state(fx->l, &st);
	assert_int_equal(st.log_end_offset, *cut_at);
	assert_int_equal(st.leader_epoch, 1);
	logmgr_abandon(fx->m);
	faultio_crash(&fx->fio, 0, 1);
	logfx_open(fx);
	log_get_state(fx->l, &st);
	return st.log_end_offset;
}

static void test_truncate_durable_power_cut(void **state)
{
	struct pair *p = *state;
	int64_t cut;

	int64_t end = truncate_then_power_cut(p->l, true, &cut);
	assert_int_equal(end, cut);
	struct log_state st;
	log_get_state(p->l->l, &st);
	assert_int_equal(st.leader_epoch, 1);
	/* The same without durability: the power cut brings them back. */
	end = truncate_then_power_cut(p->f, false, &cut);
	assert_true(end > cut);
}

/* Inside a segment, with the mapped tail: the cut is durable too. */
static void test_truncate_durable_mid_segment(void **state)
{
	struct pair *p = *state;
	struct logfx *fx = p->l;

	assert_int_equal(log_assign_epoch(fx->l, 1, 0), 0);
	for (int i = 0; i < 3; i++)
		put(fx->l, 5, 1, "m");
	assert_int_equal(log_flush(fx->l, -1), 0);
	assert_int_equal(log_truncate_durable(fx->l, 5), 0);
	put(fx->l, 2, 1, "after"); /* not synced: may be lost, never the old */
	logmgr_abandon(fx->m);
	faultio_crash(&fx->fio, 0, 2);
	logfx_open(fx);
	assert_int_equal(leo(fx->l), 5);
}

/* ---- 5. listeners ---- */

struct counter {
	int calls;
};

static void count_cb(void *arg, struct log *l)
{
	(void)l;
	((struct counter *)arg)->calls++;
}

static void test_listeners(void **state)
{
	struct pair *p = *state;
	struct log *l = p->l->l, *f = p->f->l;
	struct counter h1 = { 0 }, h2 = { 0 }, leo1 = { 0 }, more[LOG_LISTENERS_MAX];
	uint8_t buf[1024];

	assert_int_equal(log_add_hw_listener(l, count_cb, &h1), 0);
	assert_int_equal(log_add_hw_listener(l, count_cb, &h2), 0);
	assert_int_equal(log_add_hw_listener(l, count_cb, &h2), -EEXIST);
	assert_int_equal(log_add_leo_listener(l, count_cb, &leo1), 0);
	put(l, 3, 0, "a");
	assert_int_equal(leo1.calls, 1);
	assert_int_equal(h1.calls, 0);
	assert_int_equal(log_set_hw(l, 3), 0);
	assert_int_equal(h1.calls, 1);
	assert_int_equal(h2.calls, 1);
	assert_int_equal(log_set_hw(l, 2), 0); /* never back: no call */
	assert_int_equal(h1.calls, 1);
	log_remove_hw_listener(l, count_cb, &h1);
	put(l, 1, 0, "b");
	assert_int_equal(log_set_hw(l, 4), 0);
	assert_int_equal(h1.calls, 1);
	assert_int_equal(h2.calls, 2);
	assert_int_equal(leo1.calls, 2);
	/* A refused append: no LEO call. */
	struct rec_in big = { NULL, -1, "x", (int32_t)p->l->cfg.max_message_bytes + 1, 0 };
	assert_int_equal(log_append(l, &big, 1, 0, NULL), -EMSGSIZE);
	assert_int_equal(leo1.calls, 2);
	/* Up to LOG_LISTENERS_MAX per kind. */
	for (int i = 1; i < LOG_LISTENERS_MAX; i++)
		assert_int_equal(log_add_hw_listener(l, count_cb, &more[i]), 0);
	assert_int_equal(log_add_hw_listener(l, count_cb, &more[0]), -ENOSPC);
	/* The follower's append calls the LEO listeners too. */
	assert_int_equal(log_add_leo_listener(f, count_cb, &leo1), 0);
	size_t a = mkbatch(buf, sizeof(buf), 0, 0, 2);
	assert_int_equal(log_append_batches(f, buf, a, -1, NULL), 1);
	assert_int_equal(leo1.calls, 3);
	log_remove_leo_listener(f, count_cb, &leo1);
	/* And a Kafka client's batches on the leader: a follower's parked
	 * fetch waits for this call (fetch_serve.c), as for the mount's. */
	a = mkbatch(buf, sizeof(buf), 0, -1, 2);
	assert_int_equal(log_append_client(l, buf, a, 0, -1, NULL, NULL), 0);
	assert_int_equal(leo1.calls, 4);
	a = mkbatch(buf, sizeof(buf), 0, -1, 2);
	buf[a - 1] ^= 1; /* its CRC no longer matches */
	assert_int_equal(log_append_client(l, buf, a, 0, -1, NULL, NULL), -EBADMSG);
	assert_int_equal(leo1.calls, 4); /* refused: no call */
	log_remove_leo_listener(l, count_cb, &leo1);
}

/* ---- 6. the follower's hw ---- */

static void test_follower_hw(void **state)
{
	struct pair *p = *state;
	struct log *f = p->f->l;
	uint8_t buf[1024];
	size_t a = mkbatch(buf, sizeof(buf), 0, 0, 4);

	assert_int_equal(log_append_batches(f, buf, a, -1, NULL), 1);
	/* The leader's hw is ahead of what we hold: ours stops at our LEO. */
	assert_int_equal(log_set_follower_hw(f, 10), 0);
	assert_int_equal(hw(f), 4);
	a = mkbatch(buf, sizeof(buf), 4, 0, 4);
	assert_int_equal(log_append_batches(f, buf, a, -1, NULL), 1);
	assert_int_equal(log_set_follower_hw(f, 6), 0);
	assert_int_equal(hw(f), 6);
	assert_int_equal(log_set_follower_hw(f, 5), 0); /* never back */
	assert_int_equal(hw(f), 6);
}

/* The whole line view of l as "@<position>:<bytes>" runs, read in small
 * chunks from position 0 (a read at a removed position goes on at the
 * next record: each run starts where a read landed). */
static size_t line_view(struct log *l, char *out, size_t cap)
{
	struct log_cursor *c = log_cursor_new(l);
	char buf[300];
	int64_t pos = 0, actual;
	size_t used = 0;
	ssize_t g;

	while ((g = log_read_lines(l, c, pos, buf, sizeof(buf), &actual)) > 0) {
		int h = snprintf(out + used, cap - used, "@%lld:", (long long)actual);
		assert_true(used + (size_t)h + (size_t)g < cap);
		used += (size_t)h;
		memcpy(out + used, buf, (size_t)g);
		used += (size_t)g;
		pos = actual + g;
	}
	assert_int_equal(g, 0);
	log_cursor_free(c);
	return used;
}

/* A follower (or read copy) that copies a compacted leader's log from
 * before its cleaned part: a new replica, one that was away while the
 * leader cleaned, a broker's read copy. The leader's ranges end at each
 * gap compaction left and name their first batch's line position; the
 * follower puts the batch there, so its line view, positions and offsets
 * are the leader's, also after a kill and restart. Without a line
 * position, a batch past the LEO is refused, logged. */
static void test_follower_copies_compacted(void **state)
{
	struct pair *p = *state;
	struct log *l = p->l->l, *f = p->f->l;
	struct log_clean_stats cs;
	struct log_raw r;
	static char vl[1 << 17], vf[1 << 17];

	/* The topic's config, the same on both replicas. */
	p->l->cfg.cleanup_policy = LOG_CLEANUP_COMPACT;
	p->f->cfg.cleanup_policy = LOG_CLEANUP_COMPACT;
	assert_int_equal(log_reconfigure(l, &p->l->cfg), 0);
	assert_int_equal(log_reconfigure(f, &p->f->cfg), 0);
	log_assign_epoch(l, 1, 0);
	for (int i = 0; i < 40; i++)
		put_keyed(l, 6, 1, "c");
	assert_int_equal(log_set_hw(l, leo(l)), 0);
	assert_int_equal(log_flush_closed(l), 0);
	assert_int_equal(logmgr_checkpoint(p->l->m), 0);
	assert_int_equal(log_clean(l, fake_now, 1 << 20, true, &cs), 1);
	assert_true(cs.records_removed > 0);
	/* A copy's range holds no gap: offset 0's batch lost its keyed
	 * record 0, and record 3 is gone too. A consumer's goes on. */
	assert_int_equal(log_read_raw_copy(l, 0, -1, 1 << 20, &r), 0);
	assert_int_equal(r.base_offset, 1);
	assert_int_equal(r.first_line_pos, 6); /* "k=c-0\n" removed */
	assert_int_equal(r.last_offset, 2);
	log_raw_release(&r);
	assert_int_equal(log_read_raw(l, 0, -1, 1 << 20, &r), 0);
	assert_int_equal(r.base_offset, 1);
	assert_true(r.last_offset > 6);
	log_raw_release(&r);
	/* No line position for a batch past the LEO: refused, logged. */
	assert_int_equal(log_read_raw_copy(l, 0, -1, 1 << 20, &r), 0);
	uint8_t *b = raw_bytes(&r);
	assert_int_equal(log_append_batches(f, b, (size_t)r.len, -1, NULL), -EBADMSG);
	assert_non_null(strstr(logfx_reports, "without a line position"));
	free(b);
	log_raw_release(&r);
	/* Part of it flushed and checkpointed: the follower's recovery point
	 * is inside the copy, and its segments above it hold gaps too. */
	for (int i = 0; i < 20; i++)
		assert_true(replicate_once(l, f, 1 << 20) > 0);
	assert_int_equal(log_flush_closed(f), 0);
	assert_int_equal(logmgr_checkpoint(p->f->m), 0);
	replicate_all(l, f, 1 << 20);
	assert_int_equal(leo(f), leo(l));
	assert_int_equal(log_set_follower_hw(f, leo(l)), 0);
	for (int round = 0; round < 2; round++) {
		struct log_state sl, sf;

		log_get_state(l, &sl);
		log_get_state(f, &sf);
		assert_int_equal(sf.line_end, sl.line_end);
		for (int64_t o = 0; o < leo(l); o++) {
			int64_t pl, pf;

			assert_int_equal(log_offset_to_pos(l, o, &pl), 0);
			assert_int_equal(log_offset_to_pos(f, o, &pf), 0);
			assert_int_equal(pf, pl);
		}
		size_t nl = line_view(l, vl, sizeof(vl)), nf = line_view(f, vf, sizeof(vf));
		assert_true(nl > 0);
		assert_int_equal(nf, nl);
		assert_memory_equal(vl, vf, nl);
		reopen(p->f, true); /* kill -9 and restart: the same */
		f = p->f->l;
		assert_int_equal(log_set_follower_hw(f, leo(l)), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_raw_read_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_read_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_read_few_preads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_read_followers_hint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_hw_from_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_raw_ref_outlives_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_files_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indexes_identical_after_restarts, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_truncate_to_start_forgets_timestamps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_batches_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_batches_offset_overflow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_batches_io_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_offset_for_epoch_kip101, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kip279_rounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_end_offset_below_earliest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_durable_power_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncate_durable_mid_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listeners, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_hw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_copies_compacted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
