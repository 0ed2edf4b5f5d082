/*
 * test_reset.c — a log started again at an offset and a line position
 * (engine/reset.c, log_reset_start): a follower ("f") whose end is below
 * its leader's ("t") log start resets to the leader's (log start, line
 * start), fetches the rest as a follower does, and then reads byte for
 * byte as the leader, across a reopen too; refusals change nothing; a
 * kill -9 (power cut) at every mutating step of the reset opens as the
 * old log or the new one, never anything between.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "tests/unit/logfx.h"

static void tune(struct log_config *cfg)
{
	cfg->segment_bytes = 2048;
	cfg->retention_ms = 60000;
}

static int setup(void **state)
{
	return logfx_setup(state, "reset", tune);
}

static struct log *follower(struct logfx *f)
{
	struct log *l;

	assert_int_equal(logmgr_get_log(f->m, "f", 0, &f->cfg, true, &l), 0);
	return l;
}

/* The follower's fetch loop: the leader's batches from the follower's
 * end up to the leader's hw, appended unchanged; hw follows. */
static void fetch_all(struct log *leader, struct log *fl)
{
	struct log_state ls, fs;

	for (;;) {
		struct log_raw raw;
		log_get_state(leader, &ls);
		log_get_state(fl, &fs);
		if (fs.log_end_offset >= ls.hw)
			break;
		assert_int_equal(log_read_raw(leader, fs.log_end_offset, ls.hw, 1 << 16, &raw), 0);
		assert_true(raw.len > 0);
		uint8_t *b = malloc((size_t)raw.len);
		assert_int_equal(pread(raw.fd, b, (size_t)raw.len, raw.pos), raw.len);
		assert_true(log_append_batches(fl, b, (size_t)raw.len, -1, NULL) > 0);
		free(b);
		log_raw_release(&raw);
	}
	assert_int_equal(log_set_follower_hw(fl, ls.hw), 0);
}

/* The whole line view read from position 0: the bytes and where the
 * first one came from. */
static size_t read_view(struct log *l, char *buf, size_t cap, int64_t *first)
{
	struct log_cursor *c = log_cursor_new(l);
	size_t n = 0;
	int64_t pos = 0, actual = 0;

	*first = -1;
	for (;;) {
		ssize_t g = log_read_lines(l, c, pos, buf + n, cap - n, &actual);
		assert_true(g >= 0);
		if (g == 0)
			break;
		if (*first < 0)
			*first = actual;
		n += (size_t)g;
		pos = actual + g;
	}
	log_cursor_free(c);
	return n;
}

/* The leader with records 0..499 whose retention removed the first
 * segments: its state. */
static void leader_with_start(struct logfx *f, struct log_state *ls)
{
	logfx_put(f, 0, 300, 10);
	fake_now += 120000;
	logfx_put(f, 300, 200, 10);
	assert_true(log_retention_run(f->l, fake_now, NULL) > 0);
	log_get_state(f->l, ls);
	assert_true(ls->log_start_offset > 50);
	assert_true(ls->line_start > 0);
}

static void check_same_view(struct logfx *f, struct log *fl)
{
	static char a[1 << 16], b[1 << 16];
	int64_t fa, fb;
	size_t na = read_view(f->l, a, sizeof(a), &fa);
	size_t nb = read_view(fl, b, sizeof(b), &fb);
	struct log_state ls, fs;

	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na);
	assert_int_equal(fa, fb);
	log_get_state(f->l, &ls);
	log_get_state(fl, &fs);
	assert_int_equal(fs.line_hw, ls.line_hw);
	assert_int_equal(fs.line_start, ls.line_start);
	assert_int_equal(fs.log_start_offset, ls.log_start_offset);
}

static void check_same(struct logfx *f, struct log *fl)
{
	check_same_view(f, fl);
	/* A position below the start continues at the first record, as on
	 * the leader. */
	int64_t pa, pb;
	assert_int_equal(log_pos_to_offset(f->l, 1, &pa), 0);
	assert_int_equal(log_pos_to_offset(fl, 1, &pb), 0);
	assert_int_equal(pa, pb);
}

static void test_reset_then_follow(void **state)
{
	struct logfx *f = *state;
	struct log_state ls, fs;
	struct log *fl = follower(f);

	leader_with_start(f, &ls);
	/* The follower had the first 20 records, then was away. */
	assert_int_equal(log_assign_epoch(fl, 0, 0), 0);
	struct log *leader = f->l;
	f->l = fl;
	logfx_put(f, 0, 20, 10);
	f->l = leader;
	assert_int_equal(log_reset_start(fl, ls.log_start_offset, ls.line_start), 0);
	log_get_state(fl, &fs);
	assert_int_equal(fs.log_start_offset, ls.log_start_offset);
	assert_int_equal(fs.log_end_offset, ls.log_start_offset);
	assert_int_equal(fs.hw, ls.log_start_offset);
	assert_int_equal(fs.line_start, ls.line_start);
	assert_int_equal(fs.line_hw, ls.line_start);
	assert_int_equal(fs.line_end, ls.line_start);
	assert_int_equal(fs.leader_epoch, -1); /* the epochs come with the batches */
	assert_int_equal(fs.segments, 1);
	fetch_all(f->l, fl);
	check_same(f, fl);
	log_get_state(fl, &fs);
	assert_int_equal(fs.leader_epoch, 0);
	/* Durable: the same after a clean reopen, and after a kill -9. */
	logmgr_close(f->m);
	logfx_open(f);
	fl = follower(f);
	check_same(f, fl);
	logmgr_abandon(f->m);
	faultio_crash(&f->fio, 1, 7);
	logfx_open(f);
	fl = follower(f);
	check_same(f, fl);
	/* The follower goes on appending where the leader does. */
	logfx_put(f, 500, 30, 10);
	fetch_all(f->l, fl);
	check_same(f, fl);
}

static void test_reset_refused(void **state)
{
	struct logfx *f = *state;
	struct log_state before, after;

	logfx_put(f, 0, 50, 10);
	memset(&before, 0, sizeof(before));
	memset(&after, 0, sizeof(after));
	log_get_state(f->l, &before);
	assert_int_equal(log_reset_start(f->l, before.log_end_offset, before.line_end + 10),
			 -EINVAL);
	assert_int_equal(log_reset_start(f->l, 10, 1000000), -EINVAL);
	assert_int_equal(log_reset_start(f->l, before.log_end_offset + 5, before.line_end - 1),
			 -EINVAL);
	log_get_state(f->l, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	/* Equal positions are fine: the next record may start right there. */
	assert_int_equal(log_reset_start(f->l, before.log_end_offset + 5, before.line_end), 0);
}

/* A power cut at every mutating step of a reset: the log opens as the
 * old one whole or as the new one, empty at (offset, line position). */
static void test_reset_crash_points(void **state)
{
	struct logfx *f = *state;
	bool finished = false;
	int olds = 0, news = 0;

	logfx_put(f, 0, 300, 10);
	assert_int_equal(log_assign_epoch(f->l, 3, 0), 0);
	struct log_state orig;
	log_get_state(f->l, &orig);
	const int64_t O = 1000, L = orig.line_end + 5000;
	logfx_keep(f);
	for (int point = 1; !finished && point < 200; point++) {
		logfx_restore(f, point);
		int rc = log_reset_start(f->l, O, L);
		finished = !f->fio.dead;
		if (finished)
			assert_int_equal(rc, 0);
		logfx_power_cut(f, (unsigned)point);
		struct log_state st;
		log_get_state(f->l, &st);
		assert_false(st.damaged);
		if (st.log_end_offset == orig.log_end_offset) {
			olds++;
			assert_int_equal(st.log_start_offset, 0);
			assert_int_equal(st.line_end, orig.line_end);
			assert_int_equal(st.leader_epoch, 3);
		} else {
			news++;
			assert_int_equal(st.log_start_offset, O);
			assert_int_equal(st.log_end_offset, O);
			assert_int_equal(st.line_start, L);
			assert_int_equal(st.line_end, L);
			assert_int_equal(st.line_hw, L);
			assert_int_equal(st.segments, 1);
			assert_int_equal(st.leader_epoch, -1);
		}
		/* Either way the log takes the reset (again) and appends. */
		if (st.log_end_offset != O)
			assert_int_equal(log_reset_start(f->l, O, L), 0);
		logfx_put(f, 0, 5, 5);
		log_get_state(f->l, &st);
		assert_int_equal(st.log_end_offset, O + 5);
		logmgr_close(f->m);
	}
	assert_true(finished);
	assert_true(olds > 0 && news > 0);
	f->m = NULL;
	logfx_drop_copy(f);
}

/* The leader's log start inside a batch (DeleteRecords at 45, batches of
 * 10): a follower with nothing reset to (45, its line position); the
 * leader's read at 45 brings the batch at 40 whole, with its line
 * position; the follower's log, one empty segment, starts again at 40
 * (Kafka's UnexpectedAppendOffset case), takes the batches, and follows
 * the leader's start to 45: the same view as the leader's. A log that
 * holds records, or whose new start would be above its line end, is not
 * moved back; a power cut at every step of the move opens as the log at
 * 45 or at 40, empty either way. */
static void test_reset_back_inside_batch(void **state)
{
	struct logfx *f = *state;
	struct log_state ls, fs;
	struct log_raw raw;
	struct log *leader = follower(f), *fl = f->l; /* here "f" leads "t" */
	int64_t start;

	f->l = leader;
	logfx_put(f, 0, 100, 10);
	f->l = fl;
	assert_int_equal(log_delete_records(leader, 45, false, &start), 0);
	log_get_state(leader, &ls);
	assert_int_equal(ls.log_start_offset, 45);
	assert_int_equal(log_reset_start(fl, 45, ls.line_start), 0);
	assert_int_equal(log_read_raw(leader, 45, ls.hw, 1 << 16, &raw), 0);
	assert_int_equal(raw.base_offset, 40);
	assert_true(raw.first_line_pos >= 0 && raw.first_line_pos < ls.line_start);
	int64_t line40 = raw.first_line_pos;
	size_t len = (size_t)raw.len;
	uint8_t *b = malloc(len);
	assert_int_equal(pread(raw.fd, b, len, raw.pos), raw.len);
	log_raw_release(&raw);
	/* Taken as it is, it starts below the end: refused. */
	assert_int_equal(log_append_batches(fl, b, len, line40, NULL), -EBADMSG);
	/* Not above the line end. */
	assert_int_equal(log_reset_start(fl, 40, ls.line_start + 1), -EINVAL);
	logfx_keep(f);
	bool finished = false;
	int at45 = 0, at40 = 0;
	for (int point = 1; !finished && point < 200; point++) {
		logfx_restore(f, point);
		int rc = log_reset_start(f->l, 40, line40);
		finished = !f->fio.dead;
		if (finished)
			assert_int_equal(rc, 0);
		logfx_power_cut(f, (unsigned)point);
		log_get_state(f->l, &fs);
		assert_false(fs.damaged);
		assert_int_equal(fs.segments, 1);
		assert_int_equal(fs.log_end_offset, fs.log_start_offset);
		if (fs.log_start_offset == 45) {
			at45++;
			assert_int_equal(fs.line_end, ls.line_start);
		} else {
			at40++;
			assert_int_equal(fs.log_start_offset, 40);
			assert_int_equal(fs.line_end, line40);
		}
		logmgr_close(f->m);
	}
	assert_true(finished);
	assert_true(at45 > 0 && at40 > 0);
	logfx_restore(f, 100000);
	fl = f->l;
	leader = follower(f);
	assert_int_equal(log_reset_start(fl, 40, line40), 0);
	assert_true(log_append_batches(fl, b, len, line40, NULL) > 0);
	free(b);
	log_get_state(fl, &fs);
	assert_int_equal(fs.log_start_offset, 40);
	/* A log that holds records is not moved back. */
	assert_int_equal(log_reset_start(fl, 30, line40 - 1), -EINVAL);
	fetch_all(leader, fl);
	assert_int_equal(log_delete_records(fl, 45, false, &start), 0);
	f->l = leader;
	/* (Below the start, the leader's segment still holds 0..44, the
	 * follower's 40..44: a position there is nothing either reads.) */
	check_same_view(f, fl);
	f->l = fl;
	logmgr_close(f->m);
	f->m = NULL;
	logfx_drop_copy(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_then_follow, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_reset_refused, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_reset_crash_points, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_reset_back_inside_batch, setup,
						logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
