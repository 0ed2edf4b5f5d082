/*
 * test_producer_state.c — a replica's idempotent producer state
 * (repl/producer_state.c) and the batch fields under it
 * (engine/producer.c): a duplicate is recognised with its offsets, a gap
 * or a replay is out of order, only the last 5 batches are kept, an epoch
 * bump starts at 0 and fences the older epoch, the sequence wraps, and the
 * state rebuilt from a real log's batches (encoded with the producer
 * fields, appended as a client's batches, reopened) answers as the live
 * one did; producers whose batches DeleteRecords and retention removed
 * are still known after a reopen (the producer snapshot, engine/prodsnap.c),
 * at every crash point of the removal too, and a damaged snapshot is
 * refused with an error line. A follower's appends keep its state
 * (producer_state_follow): a new leader judges by it without a load, a
 * truncation reloads it, and a hook out of order with a load neither
 * doubles nor loses a batch.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/batch.h"
#include "repl/producer_state.h"
#include "tests/unit/logfx.h"

static struct batch_producer_info bat(int64_t pid, int16_t epoch, int32_t seq, int32_t n,
				      int64_t base)
{
	return (struct batch_producer_info){ .base_offset = base,
					     .last_offset = base + n - 1,
					     .records = n,
					     .producer_id = pid,
					     .producer_epoch = epoch,
					     .base_sequence = seq };
}

/* Checks b; when it is to be appended, keeps it (as the leader does). */
static int offer(struct producer_state *ps, struct batch_producer_info b, int64_t *first,
		 int64_t *last)
{
	int32_t e;
	int bad;
	int rc = producer_state_check(ps, &b, 1, first, last, &e, &bad);

	if (rc == 0)
		assert_int_equal(producer_state_update(ps, &b, 1), 0);
	return rc;
}

static void test_duplicate_and_gap(void **state)
{
	struct producer_state ps;
	int64_t f = -1, l = -1;

	(void)state;
	producer_state_init(&ps);
	assert_int_equal(offer(&ps, bat(7, 0, 0, 3, 100), &f, &l), 0);
	assert_int_equal(offer(&ps, bat(7, 0, 3, 2, 103), &f, &l), 0);
	/* the first batch again: its offsets, not appended */
	assert_int_equal(offer(&ps, bat(7, 0, 0, 3, 999), &f, &l), 1);
	assert_int_equal(f, 100);
	assert_int_equal(l, 102);
	assert_int_equal(offer(&ps, bat(7, 0, 3, 2, 999), &f, &l), 1);
	assert_int_equal(f, 103);
	assert_int_equal(l, 104);
	/* a gap, and a range that overlaps without matching */
	assert_int_equal(offer(&ps, bat(7, 0, 6, 1, 105), &f, &l), -EILSEQ);
	assert_int_equal(offer(&ps, bat(7, 0, 4, 2, 105), &f, &l), -EILSEQ);
	/* the next one, and other producers are apart */
	assert_int_equal(offer(&ps, bat(7, 0, 5, 1, 105), &f, &l), 0);
	assert_int_equal(offer(&ps, bat(9, 0, 0, 1, 106), &f, &l), 0);
	assert_int_equal(offer(&ps, bat(3, 0, 42, 1, 107), &f, &l), 0); /* unknown: any */
	assert_int_equal(producer_state_count(&ps), 3);
	/* no producer id: always appended, never kept */
	assert_int_equal(offer(&ps, bat(-1, -1, -1, 4, 108), &f, &l), 0);
	assert_int_equal(producer_state_count(&ps), 3);
	producer_state_destroy(&ps);
}

static void test_window_of_five(void **state)
{
	struct producer_state ps;
	int64_t f, l;

	(void)state;
	producer_state_init(&ps);
	/* other records between them: each batch is kept on its own */
	for (int i = 0; i < 7; i++)
		assert_int_equal(offer(&ps, bat(1, 0, i, 1, 2 * i), &f, &l), 0);
	/* batches 2..6 are kept: duplicates; 0 and 1 fell out: out of order */
	for (int i = 2; i < 7; i++) {
		assert_int_equal(offer(&ps, bat(1, 0, i, 1, -1), &f, &l), 1);
		assert_int_equal(f, 2 * i);
	}
	assert_int_equal(offer(&ps, bat(1, 0, 0, 1, -1), &f, &l), -EILSEQ);
	assert_int_equal(offer(&ps, bat(1, 0, 1, 1, -1), &f, &l), -EILSEQ);
	producer_state_destroy(&ps);
}

static void test_epoch_bump(void **state)
{
	struct producer_state ps;
	int64_t f, l;

	(void)state;
	producer_state_init(&ps);
	assert_int_equal(offer(&ps, bat(5, 0, 0, 2, 0), &f, &l), 0);
	assert_int_equal(offer(&ps, bat(5, 0, 2, 2, 2), &f, &l), 0);
	/* a new epoch must start at 0 */
	assert_int_equal(offer(&ps, bat(5, 1, 4, 1, 4), &f, &l), -EILSEQ);
	assert_int_equal(offer(&ps, bat(5, 1, 0, 1, 4), &f, &l), 0);
	/* the old epoch is fenced, even its duplicates */
	assert_int_equal(offer(&ps, bat(5, 0, 0, 2, -1), &f, &l), -ESTALE);
	assert_int_equal(offer(&ps, bat(5, 0, 4, 1, -1), &f, &l), -ESTALE);
	assert_int_equal(offer(&ps, bat(5, 1, 0, 1, -1), &f, &l), 1);
	assert_int_equal(f, 4);
	assert_int_equal(offer(&ps, bat(5, 1, 1, 1, 5), &f, &l), 0);
	producer_state_destroy(&ps);
}

static void test_wrap_and_chain(void **state)
{
	struct producer_state ps;
	struct batch_producer_info two[2];
	int64_t f, l;
	int32_t e;
	int bad;

	(void)state;
	producer_state_init(&ps);
	assert_int_equal(batch_seq_add(INT32_MAX, 1), 0);
	assert_int_equal(batch_seq_add(INT32_MAX - 1, 3), 1);
	assert_int_equal(offer(&ps, bat(2, 0, INT32_MAX - 1, 2, 0), &f, &l), 0);
	assert_int_equal(offer(&ps, bat(2, 0, 0, 1, 2), &f, &l), 0);
	/* a batch that wraps inside itself */
	assert_int_equal(offer(&ps, bat(4, 0, INT32_MAX, 3, 3), &f, &l), 0);
	assert_int_equal(offer(&ps, bat(4, 0, 2, 1, 6), &f, &l), 0);
	/* a request of two batches: they must follow each other */
	two[0] = bat(8, 0, 0, 2, 10);
	two[1] = bat(8, 0, 3, 1, 12);
	assert_int_equal(producer_state_check(&ps, two, 2, &f, &l, &e, &bad), -EILSEQ);
	two[1] = bat(8, 0, 2, 1, 12);
	assert_int_equal(producer_state_check(&ps, two, 2, &f, &l, &e, &bad), 0);
	assert_int_equal(producer_state_update(&ps, two, 2), 0);
	assert_int_equal(producer_state_check(&ps, two, 2, &f, &l, &e, &bad), 1);
	assert_int_equal(f, 10);
	assert_int_equal(l, 12);
	producer_state_destroy(&ps);
}

/* The request r of n batches is refused with rc, naming batch bad. */
static void refused(const struct producer_state *ps, const struct batch_producer_info *r, int n,
		    int rc, int bad)
{
	int64_t f, l;
	int32_t e;
	int b;

	assert_int_equal(producer_state_check(ps, r, n, &f, &l, &e, &b), rc);
	assert_int_equal(b, bad);
}

/* One request may hold batches of several producers, and batches without
 * one (Kafka's ProducerAppendInfo per producer): each producer follows its
 * own state and its own earlier batches in the request; a refusal names
 * the batch. */
static void test_two_producers_in_one_request(void **state)
{
	struct producer_state ps;
	struct batch_producer_info r[4];
	int64_t f = -1, l = -1;
	int32_t e;
	int bad;

	(void)state;
	producer_state_init(&ps);
	assert_int_equal(offer(&ps, bat(7, 0, 0, 3, 100), &f, &l), 0);
	assert_int_equal(offer(&ps, bat(9, 1, 0, 1, 103), &f, &l), 0);
	r[0] = bat(7, 0, 3, 2, 104);
	r[1] = bat(9, 1, 1, 1, 106);
	r[2] = bat(-1, -1, -1, 1, 107);
	r[3] = bat(7, 0, 5, 1, 108);
	assert_int_equal(producer_state_check(&ps, r, 4, &f, &l, &e, &bad), 0);
	assert_int_equal(bad, -1);
	assert_int_equal(producer_state_update(&ps, r, 4), 0);
	/* Sent again, the producers' batches only: a duplicate. */
	assert_int_equal(producer_state_check(&ps, r, 2, &f, &l, &e, &bad), 1);
	assert_int_equal(f, 104);
	assert_int_equal(l, 106);
	/* With a batch that has no producer it cannot be one, nor new. */
	refused(&ps, r, 3, -EILSEQ, 0);
	/* Producer 9 out of order, producer 7 in order: refused, batch 1. */
	r[0] = bat(7, 0, 6, 1, 0);
	r[1] = bat(9, 1, 5, 1, 0);
	refused(&ps, r, 2, -EILSEQ, 1);
	/* An older epoch of producer 9 after a good batch of 7. */
	r[1] = bat(9, 0, 2, 1, 0);
	refused(&ps, r, 2, -ESTALE, 1);
	/* A producer's second batch in the request must follow its first,
	 * with another producer's between them. */
	r[1] = bat(9, 1, 2, 1, 0);
	r[2] = bat(7, 0, 8, 1, 0);
	refused(&ps, r, 3, -EILSEQ, 2);
	r[2] = bat(7, 0, 7, 1, 0);
	assert_int_equal(producer_state_check(&ps, r, 3, &f, &l, &e, &bad), 0);
	/* A batch without a producer first, then a producer's. */
	r[0] = bat(-1, -1, -1, 2, 0);
	r[1] = bat(7, 0, 6, 1, 0);
	assert_int_equal(producer_state_check(&ps, r, 2, &f, &l, &e, &bad), 0);
	producer_state_destroy(&ps);
}

/* One write forwarded from a mount is one request of many batches of one
 * producer (repl/forward.c), more than PRODUCER_BATCHES: batches back to
 * back in sequences and offsets, of one leader epoch, are kept as one run,
 * so that the whole request sent again is a duplicate (rule 2), and one
 * whose first batches only are here appends the rest (rule 6). */
static void test_forwarded_request_runs(void **state)
{
	struct producer_state ps;
	struct batch_producer_info r[12];
	int64_t f = -1, l = -1;
	int32_t e;
	int bad;

	(void)state;
	producer_state_init(&ps);
	for (int i = 0; i < 12; i++)
		r[i] = bat(30, 0, 4 * i, 4, 100 + 4 * i);
	assert_int_equal(producer_state_check(&ps, r, 12, &f, &l, &e, &bad), 0);
	assert_int_equal(producer_state_update(&ps, r, 12), 0);
	assert_int_equal(producer_state_check(&ps, r, 12, &f, &l, &e, &bad), 1);
	assert_int_equal(f, 100);
	assert_int_equal(l, 147);
	/* any batch of it on its own, with its own offsets */
	assert_int_equal(producer_state_check(&ps, &r[1], 1, &f, &l, &e, &bad), 1);
	assert_int_equal(f, 104);
	assert_int_equal(l, 107);
	/* the next request: its first 3 batches here, then all 10 again */
	for (int i = 0; i < 10; i++)
		r[i] = bat(30, 0, 48 + 4 * i, 4, 148 + 4 * i);
	assert_int_equal(producer_state_update(&ps, r, 3), 0);
	assert_int_equal(producer_state_check(&ps, r, 10, &f, &l, &e, &bad), 2);
	assert_int_equal(bad, 3);
	assert_int_equal(f, 148);
	assert_int_equal(producer_state_update(&ps, r + 3, 7), 0);
	assert_int_equal(producer_state_check(&ps, r, 10, &f, &l, &e, &bad), 1);
	assert_int_equal(f, 148);
	assert_int_equal(l, 187);
	/* the duplicates must come first, and the rest follow the newest */
	r[0] = bat(30, 0, 88, 4, -1);
	refused(&ps, r, 1, 0, -1);
	r[0] = bat(30, 0, 80, 4, -1);
	r[1] = bat(30, 0, 84, 4, -1);
	r[2] = bat(30, 0, 88, 4, -1);
	assert_int_equal(producer_state_check(&ps, r, 3, &f, &l, &e, &bad), 2);
	r[0] = bat(30, 0, 76, 4, -1); /* all three here: a duplicate */
	r[1] = bat(30, 0, 80, 4, -1);
	r[2] = bat(30, 0, 84, 4, -1);
	assert_int_equal(producer_state_check(&ps, r, 3, &f, &l, &e, &bad), 1);
	/* another producer's batches after the duplicates: refused */
	r[0] = bat(30, 0, 84, 4, -1);
	r[1] = bat(31, 0, 0, 1, -1);
	refused(&ps, r, 2, -EILSEQ, 0);
	/* records between two batches (another producer's): two runs */
	assert_int_equal(offer(&ps, bat(30, 0, 88, 4, 200), &f, &l), 0);
	assert_int_equal(offer(&ps, bat(30, 0, 92, 4, 204), &f, &l), 0);
	r[0] = bat(30, 0, 88, 4, -1);
	r[1] = bat(30, 0, 92, 4, -1);
	assert_int_equal(producer_state_check(&ps, r, 2, &f, &l, &e, &bad), 1);
	assert_int_equal(f, 200);
	assert_int_equal(l, 207);
	/* a new leader epoch starts a new run */
	r[0] = bat(30, 0, 96, 4, 208);
	r[0].leader_epoch = 3;
	assert_int_equal(producer_state_update(&ps, r, 1), 0);
	assert_int_equal(producer_state_check(&ps, r, 1, &f, &l, &e, &bad), 1);
	assert_int_equal(e, 3);
	r[0] = bat(30, 0, 92, 4, -1);
	assert_int_equal(producer_state_check(&ps, r, 1, &f, &l, &e, &bad), 1);
	assert_int_equal(e, 0);
	producer_state_destroy(&ps);
}

/* producer.id.expiration.ms: a producer whose newest batch is that old is
 * forgotten; the others keep their batches and their sequence. */
static void test_expiry(void **state)
{
	struct producer_state ps;
	struct batch_producer_info b;
	int64_t f, l;

	(void)state;
	producer_state_init(&ps);
	b = bat(5, 0, 0, 2, 10);
	b.max_timestamp = 1000;
	assert_int_equal(offer(&ps, b, &f, &l), 0);
	b = bat(6, 0, 0, 1, 12);
	b.max_timestamp = 5000;
	assert_int_equal(offer(&ps, b, &f, &l), 0);
	b = bat(5, 0, 2, 1, 13); /* producer 5 writes again later */
	b.max_timestamp = 3000;
	assert_int_equal(offer(&ps, b, &f, &l), 0);
	assert_int_equal(producer_state_expire(&ps, 3999, 1000), 0);
	assert_int_equal(producer_state_expire(&ps, 4000, 1000), 1); /* >= : Kafka's */
	assert_int_equal(producer_state_count(&ps), 1);
	/* producer 5 is unknown now: a sequence out of its old order goes in */
	assert_int_equal(offer(&ps, bat(5, 0, 40, 1, 14), &f, &l), 0);
	/* producer 6 still knows its batch */
	assert_int_equal(offer(&ps, bat(6, 0, 0, 1, 99), &f, &l), 1);
	assert_int_equal(f, 12);
	assert_int_equal(offer(&ps, bat(6, 0, 5, 1, 99), &f, &l), -EILSEQ);
	assert_int_equal(producer_state_expire(&ps, 5500, 1000), 1);
	assert_int_equal(producer_state_count(&ps), 1); /* 5 came back at ts 0 */
	producer_state_destroy(&ps);
}

/* The expiry clock is the newest batch's maxTimestamp, not the greatest
 * a producer ever sent (Kafka's ProducerStateEntry.addBatch sets
 * lastTimestamp to each batch's): a client whose clock went back, or
 * that sent one batch stamped in the future, is forgotten
 * producer.id.expiration.ms after its last batch's time, as by Kafka. */
static void test_expiry_by_newest_batch(void **state)
{
	struct producer_state ps;
	struct batch_producer_info b;
	int64_t f, l;

	(void)state;
	producer_state_init(&ps);
	b = bat(8, 0, 0, 1, 10);
	b.max_timestamp = 900000; /* stamped far ahead */
	assert_int_equal(offer(&ps, b, &f, &l), 0);
	b = bat(8, 0, 1, 1, 11);
	b.max_timestamp = 1000; /* its clock set right again */
	assert_int_equal(offer(&ps, b, &f, &l), 0);
	assert_int_equal(producer_state_expire(&ps, 1999, 1000), 0);
	assert_int_equal(producer_state_expire(&ps, 2000, 1000), 1);
	assert_int_equal(producer_state_count(&ps), 0);
	/* rebuilt from batches in that order: the same */
	b = bat(9, 0, 0, 1, 12);
	b.max_timestamp = 900000;
	assert_int_equal(producer_state_update(&ps, &b, 1), 0);
	b = bat(9, 0, 1, 1, 13);
	b.max_timestamp = 1000;
	assert_int_equal(producer_state_update(&ps, &b, 1), 0);
	assert_int_equal(producer_state_expire(&ps, 2000, 1000), 1);
	producer_state_destroy(&ps);
}

static int setup(void **state)
{
	return logfx_setup(state, "pstate", NULL);
}

/* Appends n records as one producer's batch, as a client's, stamped with
 * leader_epoch, leaving the hw where it is (a replica's uncommitted
 * records): its first offset. */
static int64_t client_append(struct logfx *fx, int64_t pid, int16_t epoch, int32_t seq, int n,
			     int32_t leader_epoch, struct log_append_info *info)
{
	struct rec_in recs[16];
	char vals[16][16];
	struct batch_producer pr = { pid, epoch, seq };
	uint8_t *buf;
	size_t len;
	int32_t nb;

	for (int i = 0; i < n; i++) {
		snprintf(vals[i], sizeof(vals[i]), "v%d-%d", (int)seq, i);
		recs[i] = (struct rec_in){ .key = NULL,
					   .key_len = -1,
					   .value = vals[i],
					   .value_len = (int32_t)strlen(vals[i]),
					   .timestamp = 1000 + i };
	}
	assert_int_equal(log_encode_batches(&fx->cfg, recs, n, &pr, &buf, &len, &nb), 0);
	assert_int_equal(nb, 1);
	assert_int_equal(log_append_client(fx->l, buf, len, leader_epoch, -1, info, NULL), 0);
	free(buf);
	return info->first_offset;
}

/* client_append, and the hw moved past the batch: its first offset. */
static int64_t client_put(struct logfx *fx, int64_t pid, int16_t epoch, int32_t seq, int n,
			  int32_t leader_epoch)
{
	struct log_append_info info;
	int64_t first = client_append(fx, pid, epoch, seq, n, leader_epoch, &info);

	assert_int_equal(log_set_hw(fx->l, info.last_offset + 1), 0);
	return first;
}

static void test_rebuild_from_log(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	struct batch_producer_info b;
	int64_t f, l;
	int32_t e;
	int bad;

	producer_state_init(&ps);
	logfx_put(fx, 0, 3, 3); /* a mount's records: no producer */
	for (int i = 0; i < 7; i++)
		client_put(fx, 11, 0, i * 2, 2, i < 6 ? 1 : 2); /* offsets 3 + 2i */
	client_put(fx, 12, 3, 0, 1, 2);
	/* as a broker that restarts after kill -9, or a replica now leader */
	logmgr_abandon(fx->m);
	fx->m = NULL;
	logfx_open(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 4, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 2);
	/* producer 11's batches are known with their offsets: the six back
	 * to back in leader epoch 1 as one run, the last one apart */
	b = bat(11, 0, 12, 2, -1);
	assert_int_equal(producer_state_check(&ps, &b, 1, &f, &l, &e, &bad), 1);
	assert_int_equal(f, 15);
	assert_int_equal(l, 16);
	assert_int_equal(e, 2); /* the leader epoch its batch was appended in */
	b = bat(11, 0, 4, 2, -1);
	assert_int_equal(producer_state_check(&ps, &b, 1, &f, &l, &e, &bad), 1);
	assert_int_equal(f, 7);
	assert_int_equal(e, 1);
	b = bat(11, 0, 0, 2, -1); /* the run's first batch */
	assert_int_equal(producer_state_check(&ps, &b, 1, &f, &l, &e, &bad), 1);
	assert_int_equal(f, 3);
	b = bat(11, 0, 10, 4, -1); /* across the two: neither holds it */
	assert_int_equal(producer_state_check(&ps, &b, 1, &f, &l, &e, &bad), -EILSEQ);
	b = bat(11, 0, 14, 1, -1);
	assert_int_equal(producer_state_check(&ps, &b, 1, &f, &l, &e, &bad), 0);
	b = bat(12, 2, 0, 1, -1);
	assert_int_equal(producer_state_check(&ps, &b, 1, &f, &l, &e, &bad), -ESTALE);
	/* loaded once per leader epoch; another epoch loads again */
	producer_state_update(&ps, &(struct batch_producer_info){ .producer_id = 99, .records = 1 },
			      1);
	assert_int_equal(producer_state_load(&ps, fx->l, 4, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 3);
	assert_int_equal(producer_state_load(&ps, fx->l, 5, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 2);
	/* rebuilt a day after the batches' timestamps (1000..1001): every
	 * producer has expired, and producer 11 may start anywhere */
	assert_int_equal(producer_state_load(&ps, fx->l, 6, 1001 + 86400000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 0);
	b = bat(11, 0, 77, 1, -1);
	assert_int_equal(producer_state_check(&ps, &b, 1, &f, &l, &e, &bad), 0);
	assert_int_equal(producer_state_load(&ps, fx->l, 7, 1000 + 86400000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 1); /* producer 11's last is at 1001 */
	producer_state_destroy(&ps);
}

static void snap_tune(struct log_config *cfg)
{
	cfg->segment_bytes = 1024; /* several segments */
	cfg->retention_ms = 60000;
	cfg->file_delete_delay_ms = 0;
}

static int setup_snap(void **state)
{
	return logfx_setup(state, "psnap", snap_tune);
}

static void snap_reopen(struct logfx *fx)
{
	logmgr_close(fx->m);
	fx->m = NULL;
	logfx_open(fx);
	log_set_trim_listener(fx->l, producer_state_trim, NULL);
}

static int check1(struct producer_state *ps, int64_t pid, int16_t epoch, int32_t seq, int n,
		  int64_t *f)
{
	struct batch_producer_info b = bat(pid, epoch, seq, n, -1);
	int64_t l;
	int32_t e;
	int bad;

	return producer_state_check(ps, &b, 1, f, &l, &e, &bad);
}

/* ---- a follower's state (producer_state_follow) ---- */

/* The follower's log "f"-0 beside the fixture's leader log. */
static struct log *follower_open(struct logfx *fx)
{
	struct log *f;

	assert_int_equal(logmgr_get_log(fx->m, "f", 0, &fx->cfg, true, &f), 0);
	return f;
}

/* The leader's batches from the follower's end up to offset to (-1: the
 * leader's end) appended to the follower, as its fetcher does (one fetch
 * of up to max_bytes at a time); with hook, each fetch's batches then go
 * to producer_state_follow, as the broker's hook gives them. */
static void follow(struct logfx *fx, struct log *f, struct producer_state *ps, int64_t to,
		   size_t max_bytes, bool hook)
{
	if (to < 0)
		to = log_get_end(fx->l);
	while (log_get_end(f) < to) {
		struct batch_producer_info stack[4], *bi;
		struct log_raw r;
		uint8_t *b;
		int n;

		assert_int_equal(log_read_raw(fx->l, log_get_end(f), to, max_bytes, &r), 0);
		assert_true(r.len > 0);
		b = malloc((size_t)r.len);
		assert_non_null(b);
		assert_int_equal(pread(r.fd, b, (size_t)r.len, r.pos), r.len);
		assert_int_equal(log_append_batches(f, b, (size_t)r.len, -1, NULL), r.batches);
		n = producer_state_headers(b, (size_t)r.len, stack, 4, &bi);
		assert_int_equal(n, r.batches);
		if (hook)
			assert_int_equal(producer_state_follow(ps, f, bi, n, 2000, 86400000), 0);
		if (bi != stack)
			free(bi);
		free(b);
		log_raw_release(&r);
	}
}

/* The leader's log leads in epoch from its end on (the mount's records
 * that logfx_put appends take it). */
static void lead(struct logfx *fx, int32_t epoch)
{
	assert_int_equal(log_assign_epoch(fx->l, epoch, log_get_end(fx->l)), 0);
}

/* The last sequence DescribeProducers would list for pid, -2: none. */
static int32_t listed_last_seq(const struct producer_state *ps, int64_t pid)
{
	struct producer_summary *s;
	int n = producer_state_list(ps, &s);
	int32_t seq = -2;

	assert_true(n >= 0);
	for (int i = 0; i < n; i++)
		if (s[i].producer_id == pid)
			seq = s[i].last_seq;
	free(s);
	return seq;
}

/* A follower's appends keep its state as the leader's: each fetch's
 * batches (many to one fetch, and one at a time) enter it; DescribeProducers
 * lists them; when it becomes leader the state is taken as it is (producer
 * 99, which no log holds, stays: nothing was loaded) and judges a batch
 * sent again as a duplicate at its offsets, and a gap as out of order. */
static void test_follower_keeps_state(void **state)
{
	struct logfx *fx = *state;
	struct log *f = follower_open(fx);
	struct producer_state ps;
	int64_t at[8], fo;

	producer_state_init(&ps);
	lead(fx, 1);
	logfx_put(fx, 0, 3, 3); /* a mount's records: no producer */
	for (int i = 0; i < 4; i++) {
		at[i] = client_put(fx, 11, 0, i * 2, 2, 1);
		logfx_put(fx, 10 + i, 1, 1); /* apart: each batch its own */
	}
	follow(fx, f, &ps, -1, 1 << 20, true);
	assert_true(ps.loaded);
	assert_int_equal(producer_state_count(&ps), 1);
	assert_int_equal(listed_last_seq(&ps, 11), 7);
	lead(fx, 2);
	for (int i = 4; i < 8; i++)
		at[i] = client_put(fx, i < 6 ? 11 : 12, 0, i < 6 ? i * 2 : (i - 6) * 3,
				   i < 6 ? 2 : 3, 2);
	follow(fx, f, &ps, -1, 1, true); /* a batch a fetch */
	assert_int_equal(producer_state_count(&ps), 2);
	assert_int_equal(listed_last_seq(&ps, 11), 11);
	assert_int_equal(listed_last_seq(&ps, 12), 5);
	/* becomes leader in epoch 3: taken as it is */
	assert_int_equal(
		producer_state_update(
			&ps, &(struct batch_producer_info){ .producer_id = 99, .records = 1 }, 1),
		0);
	assert_int_equal(producer_state_load(&ps, f, 3, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 3);
	assert_int_equal(check1(&ps, 11, 0, 10, 2, &fo), 1); /* sent again */
	assert_int_equal(fo, at[5]);
	assert_int_equal(check1(&ps, 11, 0, 2, 2, &fo), 1);
	assert_int_equal(fo, at[1]);
	assert_int_equal(check1(&ps, 12, 0, 3, 3, &fo), 1);
	assert_int_equal(fo, at[7]);
	assert_int_equal(check1(&ps, 11, 0, 14, 1, &fo), -EILSEQ); /* 12 and 13 missing */
	assert_int_equal(check1(&ps, 11, 0, 12, 1, &fo), 0);
	producer_state_destroy(&ps);
}

/* A truncation of the follower's log (producer_state_reload, the
 * fetcher's after_cut) leaves the state as the cut log says: the cut
 * batch is taken again, not answered as a duplicate, the one before is
 * still a duplicate. A hook that comes after a load which read its
 * batches already (a DescribeProducers between the append and the hook)
 * adds nothing twice: the oldest of five kept batches is still known.
 * A batch appended without its hook (missed) is found by the next hook,
 * which rebuilds the state. */
static void test_follower_truncation_and_order(void **state)
{
	struct logfx *fx = *state;
	struct log *f = follower_open(fx);
	struct producer_state ps;
	int64_t at[6], fo;

	producer_state_init(&ps);
	lead(fx, 1);
	for (int i = 0; i < 6; i++) {
		at[i] = client_put(fx, 11, 0, i * 2, 2, 1);
		logfx_put(fx, 10 + i, 1, 1);
	}
	follow(fx, f, &ps, at[5], 1, true);
	assert_int_equal(listed_last_seq(&ps, 11), 9);
	assert_int_equal(log_truncate_to(f, at[4]), 0);
	assert_int_equal(producer_state_reload(&ps, f, 2000, 86400000), 0);
	assert_int_equal(listed_last_seq(&ps, 11), 7);
	assert_int_equal(check1(&ps, 11, 0, 8, 2, &fo), 0);
	assert_int_equal(check1(&ps, 11, 0, 6, 2, &fo), 1);
	assert_int_equal(fo, at[3]);
	/* batch 4 appended, read by a load (a DescribeProducers), then its
	 * hook: batches 0..4 stay the five kept */
	follow(fx, f, &ps, at[4] + 2, 1, false);
	producer_state_clear(&ps);
	assert_int_equal(producer_state_load(&ps, f, -1, 2000, 86400000), 0);
	{
		struct batch_producer_info b = bat(11, 0, 8, 2, at[4]);

		b.leader_epoch = 1;
		assert_int_equal(producer_state_follow(&ps, f, &b, 1, 2000, 86400000), 0);
	}
	assert_int_equal(check1(&ps, 11, 0, 0, 2, &fo), 1);
	assert_int_equal(fo, at[0]);
	/* the mount's record after it and batch 5 appended with no hook
	 * (missed), then producer 12's batch: its hook finds the gap and
	 * reads the log */
	follow(fx, f, &ps, -1, 1 << 20, false);
	client_put(fx, 12, 0, 0, 1, 1);
	follow(fx, f, &ps, -1, 1 << 20, true);
	assert_int_equal(listed_last_seq(&ps, 12), 0);
	assert_int_equal(listed_last_seq(&ps, 11), 11);
	assert_int_equal(check1(&ps, 11, 0, 10, 2, &fo), 1);
	assert_int_equal(fo, at[5]);
	producer_state_destroy(&ps);
}

/* A leader's state (loaded in epoch 2) whose log then takes a follower's
 * appends: the records between its load and the first batch fetched are
 * the leader's own (its idempotent ones would be in the state), so the
 * state is kept, not rebuilt (producer 99 stays); a new leadership after
 * takes it as it is; one loaded in another epoch with no follower append
 * since is rebuilt. */
static void test_follower_after_leading(void **state)
{
	struct logfx *fx = *state;
	struct log *f = follower_open(fx);
	struct producer_state ps;
	int64_t a, fo;

	producer_state_init(&ps);
	lead(fx, 1);
	client_put(fx, 11, 0, 0, 2, 1);
	follow(fx, f, &ps, -1, 1 << 20, false);
	assert_int_equal(producer_state_load(&ps, f, 2, 2000, 86400000), 0);
	assert_int_equal(
		producer_state_update(
			&ps, &(struct batch_producer_info){ .producer_id = 99, .records = 1 }, 1),
		0);
	logfx_put(fx, 5, 2, 1); /* as the leader's own mount writes */
	follow(fx, f, &ps, -1, 1 << 20, false);
	lead(fx, 3);
	a = client_put(fx, 11, 0, 2, 2, 3);
	follow(fx, f, &ps, -1, 1 << 20, true);
	assert_int_equal(producer_state_count(&ps), 2);
	assert_int_equal(producer_state_load(&ps, f, 4, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 2);
	assert_int_equal(check1(&ps, 11, 0, 2, 2, &fo), 1);
	assert_int_equal(fo, a);
	assert_int_equal(producer_state_load(&ps, f, 5, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 1); /* rebuilt: 99 gone */
	producer_state_destroy(&ps);
}

/* The retention check's checkpoint once the scheduler's flush of closed
 * segments has run: 1 written, 0 nothing to do. */
static int ckpt_try(struct logfx *fx)
{
	int64_t budget = LOG_CHECKPOINT_SCAN_BYTES;

	return log_producer_checkpoint(fx->l, &budget);
}

static int ckpt_now(struct logfx *fx)
{
	assert_int_equal(log_flush_closed(fx->l), 0);
	return ckpt_try(fx);
}

/* Producers whose batches all left the log (DeleteRecords, then
 * retention) are still known to a state rebuilt after a reopen, from the
 * producer snapshot written before each removal, the second one merged
 * with the first. */
static void test_snapshot_keeps_removed_producers(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	struct log_state st;
	int64_t at11[3], at12, at13, start, f;
	char path[400];

	producer_state_init(&ps);
	log_set_trim_listener(fx->l, producer_state_trim, NULL);
	for (int i = 0; i < 3; i++)
		at11[i] = client_put(fx, 11, 0, i * 2, 2, i + 1); /* apart: 3 kept batches */
	at12 = client_put(fx, 12, 3, 0, 1, 4);
	logfx_put(fx, 0, 40, 1);
	assert_int_equal(log_delete_records(fx->l, at12 + 2, false, &start), 0);
	assert_int_equal(start, at12 + 2);
	snprintf(path, sizeof(path), "%s/t-0/producer-snapshot", fx->dir);
	assert_int_equal(access(path, F_OK), 0);
	at13 = client_put(fx, 13, 0, 5, 1, 4);
	logfx_put(fx, 40, 40, 1);
	assert_true(log_retention_run(fx->l, fake_now + 86400000, NULL) > 0);
	log_get_state(fx->l, &st);
	assert_true(st.log_start_offset > at13);

	snap_reopen(fx);
	log_get_state(fx->l, &st);
	assert_true(st.log_start_offset > at13);
	assert_int_equal(producer_state_load(&ps, fx->l, 5, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 3);
	/* a resend of a removed batch is a duplicate, with its offsets */
	assert_int_equal(check1(&ps, 11, 0, 4, 2, &f), 1);
	assert_int_equal(f, at11[2]);
	assert_int_equal(check1(&ps, 11, 0, 0, 2, &f), 1);
	assert_int_equal(f, at11[0]);
	assert_int_equal(check1(&ps, 13, 0, 5, 1, &f), 1);
	assert_int_equal(f, at13);
	/* the next batch must follow the last one, of the kept epoch */
	assert_int_equal(check1(&ps, 11, 0, 6, 1, &f), 0);
	assert_int_equal(check1(&ps, 11, 0, 7, 1, &f), -EILSEQ);
	assert_int_equal(check1(&ps, 12, 2, 1, 1, &f), -ESTALE);
	assert_int_equal(check1(&ps, 12, 3, 2, 1, &f), -EILSEQ);
	assert_int_equal(check1(&ps, 12, 3, 1, 1, &f), 0);
	/* expired producers are left out of a rebuilt state */
	assert_int_equal(producer_state_load(&ps, fx->l, 6, 1001 + 86400000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 0);
	producer_state_destroy(&ps);
}

/* A follower's log emptied and started again at its leader's start
 * (reset.c) loses its snapshot, as Kafka empties the producer state
 * there: producer 11 may have written after what the file says, in the
 * batches this log skipped, and a stale sequence would refuse its next
 * batch. Unknown, any sequence is taken. So too when a reset cut short
 * is finished by the next open. */
static void test_snapshot_reset(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	struct log_state st;
	int64_t at11, start, f;
	char path[400], marker[400], ckpt[400];
	FILE *fp;

	producer_state_init(&ps);
	log_set_trim_listener(fx->l, producer_state_trim, NULL);
	assert_int_equal(log_assign_epoch(fx->l, 1, 0), 0);
	at11 = client_put(fx, 11, 0, 0, 2, 1);
	logfx_put(fx, 0, 40, 1);
	assert_int_equal(log_delete_records(fx->l, at11 + 3, false, &start), 0);
	assert_int_equal(ckpt_now(fx), 1);
	snprintf(path, sizeof(path), "%s/t-0/producer-snapshot", fx->dir);
	snprintf(ckpt, sizeof(ckpt), "%s/t-0/producer-checkpoint", fx->dir);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(access(ckpt, F_OK), 0);
	log_get_state(fx->l, &st);
	assert_int_equal(log_reset_start(fx->l, st.log_end_offset + 100, st.line_end + 1000), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(ckpt, F_OK), -1);
	snap_reopen(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 2, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 0);
	assert_int_equal(check1(&ps, 11, 0, 40, 1, &f), 0);

	/* A snapshot beside a reset's marker (the reset was cut short
	 * before it unlinked the file): the open finishes the reset, the
	 * file with it. */
	assert_int_equal(log_assign_epoch(fx->l, 2, st.log_end_offset + 100), 0);
	client_put(fx, 12, 0, 0, 1, 2);
	logfx_put(fx, 0, 40, 1);
	assert_int_equal(ckpt_now(fx), 1);
	assert_int_equal(access(ckpt, F_OK), 0);
	log_get_state(fx->l, &st);
	assert_int_equal(log_delete_records(fx->l, st.log_end_offset, false, &start), 0);
	assert_int_equal(access(path, F_OK), 0);
	log_get_state(fx->l, &st);
	snprintf(marker, sizeof(marker), "%s/t-0/log-start-reset", fx->dir);
	fp = fopen(marker, "w");
	assert_non_null(fp);
	fprintf(fp, "%lld %lld\n", (long long)st.log_end_offset + 100,
		(long long)st.line_end + 1000);
	fclose(fp);
	snap_reopen(fx);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(ckpt, F_OK), -1);
	assert_int_equal(access(marker, F_OK), -1);
	producer_state_destroy(&ps);
}

/* A damaged snapshot is refused with an error line, and the state is
 * rebuilt from the log alone; the next removal writes a good one. */
static void test_snapshot_damaged(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	int64_t at11, start, f;
	char path[400];
	FILE *fp;

	producer_state_init(&ps);
	log_set_trim_listener(fx->l, producer_state_trim, NULL);
	at11 = client_put(fx, 11, 0, 0, 2, 1);
	logfx_put(fx, 0, 40, 1);
	assert_int_equal(log_delete_records(fx->l, at11 + 3, false, &start), 0);
	snap_reopen(fx);
	snprintf(path, sizeof(path), "%s/t-0/producer-snapshot", fx->dir);
	fp = fopen(path, "r+");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 30, SEEK_SET), 0);
	fputc('X', fp); /* inside the entry: the CRC no longer matches */
	fclose(fp);
	logfx_reports[0] = '\0';
	assert_int_equal(producer_state_load(&ps, fx->l, 2, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 0);
	assert_non_null(strstr(logfx_reports, "producer-snapshot: refused (CRC mismatch)"));
	/* cut short */
	assert_int_equal(truncate(path, 10), 0);
	logfx_reports[0] = '\0';
	assert_int_equal(producer_state_load(&ps, fx->l, 3, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 0);
	assert_non_null(strstr(logfx_reports, "producer-snapshot: refused"));
	/* a later removal replaces it: producer 12 known again */
	client_put(fx, 12, 0, 0, 1, 2);
	logfx_put(fx, 40, 40, 1);
	assert_true(log_retention_run(fx->l, fake_now + 86400000, NULL) > 0);
	assert_int_equal(producer_state_load(&ps, fx->l, 4, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 1);
	assert_int_equal(check1(&ps, 12, 0, 0, 1, &f), 1);
	producer_state_destroy(&ps);
}

/* A snapshot that cannot be written keeps the records: DeleteRecords and
 * retention fail, logged, the log start stays; once it can, they go. */
static void test_snapshot_write_fails(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	struct log_state st0, st;
	int64_t at11, start, f;

	producer_state_init(&ps);
	log_set_trim_listener(fx->l, producer_state_trim, NULL);
	at11 = client_put(fx, 11, 0, 0, 2, 1);
	logfx_put(fx, 0, 40, 1);
	log_get_state(fx->l, &st0);
	fx->fio.fail_path = "producer-snapshot";
	logfx_reports[0] = '\0';
	assert_int_equal(log_delete_records(fx->l, at11 + 30, false, &start), -EIO);
	assert_int_equal(start, st0.log_start_offset);
	assert_non_null(strstr(logfx_reports, "producer snapshot up to offset"));
	assert_true(log_retention_run(fx->l, fake_now + 86400000, NULL) < 0);
	log_get_state(fx->l, &st);
	assert_int_equal(st.log_start_offset, st0.log_start_offset);
	/* Nothing went; the expired active segment was rolled first (an
	 * empty one at the log end), as Kafka's retention rolls before it
	 * deletes. */
	assert_int_equal(st.segments, st0.segments + 1);
	fx->fio.fail_path = NULL;
	assert_int_equal(log_delete_records(fx->l, at11 + 30, false, &start), 0);
	assert_int_equal(start, at11 + 30);
	snap_reopen(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 2, 2000, 86400000), 0);
	assert_int_equal(check1(&ps, 11, 0, 0, 2, &f), 1);
	assert_int_equal(f, at11);
	producer_state_destroy(&ps);
}

/* A crash at every mutating call of a DeleteRecords that removes every
 * batch of two producers, then a power cut: after the reopen the rebuilt
 * state knows both, from the log (the removal did not happen) or from the
 * snapshot (it did), never neither. */
static void test_snapshot_crash_points(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	int64_t at11[3], at12, start, f;
	bool died = true;
	struct log_state st;
	int points = 0;

	producer_state_init(&ps);
	for (int i = 0; i < 3; i++)
		at11[i] = client_put(fx, 11, 0, i * 2, 2, i + 1);
	at12 = client_put(fx, 12, 3, 0, 1, 4);
	logfx_put(fx, 0, 40, 1);
	logfx_keep(fx);
	for (int point = 1; died; point++) {
		if (fx->m) { /* the log the last power cut reopened */
			logmgr_close(fx->m);
			fx->m = NULL;
		}
		logfx_restore(fx, point);
		log_set_trim_listener(fx->l, producer_state_trim, NULL);
		(void)log_delete_records(fx->l, at12 + 40, false, &start);
		died = fx->fio.dead;
		logfx_power_cut(fx, (unsigned)point);
		assert_int_equal(producer_state_load(&ps, fx->l, point, 2000, 86400000), 0);
		assert_int_equal(producer_state_count(&ps), 2);
		assert_int_equal(check1(&ps, 11, 0, 4, 2, &f), 1);
		assert_int_equal(f, at11[2]);
		assert_int_equal(check1(&ps, 12, 3, 1, 1, &f), 0);
		assert_true(point < 100);
		points = point;
	}
	/* the last run was whole: the batches are gone, the snapshot kept
	 * them, and the crashes hit its write and the removal */
	log_get_state(fx->l, &st);
	assert_true(st.log_start_offset > at12);
	assert_true(points > 4);
	logfx_drop_copy(fx);
	producer_state_destroy(&ps);
}

/* The log's segments up to its active one, filled with producer 11's
 * batches (seq 0, 2, 4, ...: two records each) and lines between them, in
 * leader epoch 1; the offsets of producer 11's batches in at (n of them).
 * The producer state's trim listener is set first, as the broker sets it
 * on every log. */
static void ckpt_fill(struct logfx *fx, int64_t *at, int n)
{
	log_set_trim_listener(fx->l, producer_state_trim, NULL);
	assert_int_equal(log_assign_epoch(fx->l, 1, 0), 0);
	for (int i = 0; i < n; i++) {
		at[i] = client_put(fx, 11, 0, i * 2, 2, 1);
		logfx_put(fx, i * 10, 10, 1);
	}
}

/* Reads of the log's first segment fail from now on. */
static void ckpt_fail_first_segment(struct logfx *fx)
{
	fx->fio.pread_fail_path = "00000000000000000000.log";
	fx->fio.pread_errno = EIO;
	fx->fio.pread_fails = 1 << 30;
}

/* The producer checkpoint bounds a load's scan: written at the newest
 * segment behind the hw, it lets a reopened log's state be rebuilt
 * without reading the segments below it (their reads fail here), and
 * know producer 11's batches there. A second check with no new segment
 * writes nothing. */
static void test_checkpoint_bounds_load(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	struct log_state st;
	int64_t at[6], f;
	char path[400];

	producer_state_init(&ps);
	ckpt_fill(fx, at, 6);
	log_get_state(fx->l, &st);
	assert_true(st.segments > 2);
	/* none above what a power cut keeps: the closed segments are not
	 * on disk before the scheduler's flush */
	assert_int_equal(ckpt_try(fx), 0);
	assert_int_equal(ckpt_now(fx), 1);
	assert_int_equal(ckpt_now(fx), 0);
	snprintf(path, sizeof(path), "%s/t-0/producer-checkpoint", fx->dir);
	assert_int_equal(access(path, F_OK), 0);
	snap_reopen(fx);
	assert_int_equal(ckpt_try(fx), 0); /* the file's end is read */
	ckpt_fail_first_segment(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 2, 2000, 86400000), 0);
	assert_int_equal(producer_state_count(&ps), 1);
	assert_int_equal(check1(&ps, 11, 0, 10, 2, &f), 1); /* the last batch */
	assert_int_equal(f, at[5]);
	assert_int_equal(check1(&ps, 11, 0, 12, 1, &f), 0);
	/* a new segment behind the hw: a new checkpoint (the old one is
	 * read, not the segments below it) */
	logfx_put(fx, 100, 40, 1);
	assert_int_equal(ckpt_now(fx), 1);
	producer_state_destroy(&ps);
}

/* A check's budget bounds the headers it reads: with room for less than
 * a segment, each check moves the checkpoint up by one segment and
 * spends its budget, and one with none left does nothing; the
 * checkpoint gets to the newest segment in as many checks as there are
 * closed segments. */
static void test_checkpoint_budget(void **state)
{
	struct logfx *fx = *state;
	struct log_state st;
	struct batch_producer_info *bi;
	int64_t at[6], budget, end, prev = -1;
	int32_t epoch;
	int n, checks = 0;

	ckpt_fill(fx, at, 6);
	assert_int_equal(log_flush_closed(fx->l), 0);
	log_get_state(fx->l, &st);
	assert_true(st.segments > 3);
	budget = 0;
	assert_int_equal(log_producer_checkpoint(fx->l, &budget), 0);
	for (;;) {
		budget = 1;
		int rc = log_producer_checkpoint(fx->l, &budget);

		if (rc == 0)
			break;
		assert_int_equal(rc, 1);
		assert_true(budget <= 0);
		assert_int_equal(log_producer_checkpoint(fx->l, &budget), 0);
		assert_int_equal(
			log_producer_snapshot_read(fx->l, LOG_SNAP_CKPT, &end, &epoch, &bi, &n), 0);
		free(bi);
		assert_true(end > prev);
		prev = end;
		checks++;
	}
	assert_int_equal(checks, st.segments - 1);
}

/* The scheduler tick's checkpoint (log_producer_checkpoint_rolled): not
 * for a log more than LOG_CHECKPOINT_ROLLED_SEGS segments behind (left to
 * the budgeted retention check), then one for each roll; past the tick's
 * budget only as its first log. */
static void test_checkpoint_rolled(void **state)
{
	struct logfx *fx = *state;
	struct log_state st;
	int64_t at[6], budget;
	int segs, from = 1000;

	ckpt_fill(fx, at, 6);
	for (log_get_state(fx->l, &st); st.segments <= LOG_CHECKPOINT_ROLLED_SEGS + 2;
	     log_get_state(fx->l, &st), from += 10)
		logfx_put(fx, from, 10, 1);
	assert_int_equal(log_flush_closed(fx->l), 0);
	budget = LOG_CHECKPOINT_SCAN_BYTES;
	assert_int_equal(log_producer_checkpoint_rolled(fx->l, &budget), 0);
	assert_int_equal(budget, LOG_CHECKPOINT_SCAN_BYTES);
	assert_int_equal(ckpt_try(fx), 1); /* the retention check's */
	segs = st.segments;
	while (log_get_state(fx->l, &st), st.segments == segs) {
		logfx_put(fx, from, 10, 1);
		from += 10;
	}
	assert_int_equal(log_flush_closed(fx->l), 0);
	budget = 1; /* spent by an earlier log of the tick */
	assert_int_equal(log_producer_checkpoint_rolled(fx->l, &budget), 0);
	budget = LOG_CHECKPOINT_SCAN_BYTES;
	assert_int_equal(log_producer_checkpoint_rolled(fx->l, &budget), 1);
	assert_true(budget < LOG_CHECKPOINT_SCAN_BYTES);
	assert_int_equal(log_producer_checkpoint_rolled(fx->l, &budget), 0);
}

/* fx's log, its producer checkpoint past at[k] (producer 11's batch of
 * sequences 2k and 2k + 1, as ckpt_fill numbers them), cut at at[k] (an
 * unclean election cuts below the hw): a load (in leader epoch epoch)
 * does not take the checkpoint, so that batch is taken, not answered as a
 * duplicate, and the one before it still is; nor (in epoch + 1) once
 * fills batches of epoch 2 have filled the log again past it. */
static void cut_leaves_checkpoint(struct logfx *fx, struct producer_state *ps, const int64_t *at,
				  int k, int32_t epoch, int fills)
{
	int64_t f;

	assert_int_equal(log_truncate_to(fx->l, at[k]), 0);
	assert_int_equal(producer_state_load(ps, fx->l, epoch, 2000, 86400000), 0);
	assert_int_equal(check1(ps, 11, 0, 2 * k, 2, &f), 0);
	assert_int_equal(check1(ps, 11, 0, 2 * k - 2, 2, &f), 1);
	assert_int_equal(f, at[k - 1]);
	assert_int_equal(log_assign_epoch(fx->l, 2, at[k]), 0);
	for (int i = 0; i < fills; i++)
		logfx_put(fx, 200 + i * 10, 10, 1);
	snap_reopen(fx);
	assert_int_equal(producer_state_load(ps, fx->l, epoch + 1, 2000, 86400000), 0);
	assert_int_equal(check1(ps, 11, 0, 2 * k, 2, &f), 0);
}

/* A checkpoint above a truncation (an unclean election cuts below the
 * hw) is not taken: producer 11's batches it counted are gone, and its
 * batch after the last one left must be taken, not refused out of
 * order. Neither while the log ends below the checkpoint, nor once
 * records of a later epoch fill it again. */
static void test_checkpoint_after_truncation(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	int64_t at[6], f;

	producer_state_init(&ps);
	ckpt_fill(fx, at, 6);
	assert_int_equal(ckpt_now(fx), 1);
	cut_leaves_checkpoint(fx, &ps, at, 2, 2, 6); /* seq 0 and 2 stay */
	/* the next check writes one that holds */
	assert_int_equal(ckpt_now(fx), 1);
	snap_reopen(fx);
	ckpt_fail_first_segment(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 4, 2000, 86400000), 0);
	assert_int_equal(check1(&ps, 11, 0, 4, 2, &f), 0);
	producer_state_destroy(&ps);
}

/* Removals around a checkpoint: below it, the front snapshot is still
 * built from the front one and the log, and the load takes the
 * checkpoint; at its end exactly, a front snapshot is written all the
 * same (a checkpoint may be lost to a truncation, the front snapshot must
 * not lean on it); past it, the front snapshot is built from the
 * checkpoint and the segments after it, and the load takes it. */
static void test_checkpoint_and_removals(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	struct log_state st;
	struct batch_producer_info *bi;
	int64_t at[6], start, f, end, front;
	int32_t epoch;
	int n;

	producer_state_init(&ps);
	ckpt_fill(fx, at, 6);
	assert_int_equal(ckpt_now(fx), 1);
	assert_int_equal(log_delete_records(fx->l, at[1] + 2, false, &start), 0);
	snap_reopen(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 2, 2000, 86400000), 0);
	/* removed, still known (the oldest of the 5 batches kept) */
	assert_int_equal(check1(&ps, 11, 0, 2, 2, &f), 1);
	assert_int_equal(f, at[1]);
	assert_int_equal(check1(&ps, 11, 0, 12, 2, &f), 0);
	/* up to the checkpoint's end exactly: a front snapshot there too */
	assert_int_equal(log_producer_snapshot_read(fx->l, LOG_SNAP_CKPT, &end, &epoch, &bi, &n),
			 0);
	free(bi);
	assert_int_equal(epoch, 1);
	assert_int_equal(log_delete_records(fx->l, end, false, &start), 0);
	assert_int_equal(start, end);
	assert_int_equal(log_producer_snapshot_read(fx->l, LOG_SNAP_FRONT, &front, &epoch, &bi, &n),
			 0);
	free(bi);
	assert_int_equal(front, end);
	assert_int_equal(n, 5);
	/* every batch of producer 11 removed, past the checkpoint */
	log_get_state(fx->l, &st);
	assert_int_equal(log_delete_records(fx->l, st.log_end_offset, false, &start), 0);
	snap_reopen(fx);
	ckpt_fail_first_segment(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 3, 2000, 86400000), 0);
	assert_int_equal(check1(&ps, 11, 0, 10, 2, &f), 1);
	assert_int_equal(f, at[5]);
	assert_int_equal(check1(&ps, 11, 0, 12, 2, &f), 0);
	producer_state_destroy(&ps);
}

/* A load in leader epoch epoch after a reopen, with every segment's reads
 * failing (the checkpoint at the log end alone gives the state): producer
 * 11's batch of sequences seq..seq+1 is known at offset at, and its next
 * batch is taken. The reads work again after it. */
static void load_from_stop_checkpoint(struct logfx *fx, struct producer_state *ps, int32_t epoch,
				      int32_t seq, int64_t at)
{
	int64_t f;

	snap_reopen(fx);
	fx->fio.pread_fail_path = ".log";
	fx->fio.pread_errno = EIO;
	fx->fio.pread_fails = 1 << 30;
	assert_int_equal(producer_state_load(ps, fx->l, epoch, 2000, 86400000), 0);
	assert_int_equal(check1(ps, 11, 0, seq, 2, &f), 1);
	assert_int_equal(f, at);
	assert_int_equal(check1(ps, 11, 0, seq + 2, 1, &f), 0);
	fx->fio.pread_fails = 0;
}

/* A clean stop's checkpoint (producer_state_stop_checkpoint): the loaded
 * state at the log end, so that the next load reads no batch header at
 * all (every segment's reads fail here); a state never loaded writes
 * nothing and says so (0, where a loaded one's gives 1: the broker's stop
 * then rebuilds it from the log, log_producer_checkpoint_at_stop). */
static void test_stop_checkpoint(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps, ps2;
	int64_t at[3];
	char path[400];

	producer_state_init(&ps);
	producer_state_init(&ps2);
	assert_int_equal(log_assign_epoch(fx->l, 1, 0), 0);
	for (int i = 0; i < 3; i++)
		at[i] = client_put(fx, 11, 0, i * 2, 2, 1);
	assert_int_equal(producer_state_stop_checkpoint(&ps, fx->l, NULL), 0);
	snprintf(path, sizeof(path), "%s/t-0/producer-checkpoint", fx->dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(producer_state_load(&ps, fx->l, 1, 2000, 86400000), 0);
	assert_int_equal(log_flush(fx->l, -1), 0);
	assert_int_equal(producer_state_stop_checkpoint(&ps, fx->l, NULL), 1);
	assert_int_equal(access(path, F_OK), 0);
	load_from_stop_checkpoint(fx, &ps2, 2, 4, at[2]);
	producer_state_destroy(&ps);
	producer_state_destroy(&ps2);
}

/* A clean stop's checkpoint of a replicated partition
 * (log_producer_checkpoint_at_stop): rebuilt from the periodic checkpoint
 * and the headers after it, at the hw, below the two batches above it,
 * once the log is on disk there and within the budget. After the
 * restart:
 *   - with the log as it was, a load reads the headers above the hw
 *     only: the producer's last batch is known;
 *   - cut at the hw (its next leader does not have the two batches), a
 *     load reads no batch header (every segment's reads fail), and the
 *     producer's batch after the cut is taken, not answered as a
 *     duplicate of what was cut;
 *   - cut below the hw (an unclean election), the checkpoint is not
 *     taken, nor once the log is filled again past it in epoch 2. */
static void test_checkpoint_at_stop(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	struct log_append_info info;
	struct batch_producer_info *bi;
	struct log_state st;
	int64_t at[8], budget, end, f;
	int32_t epoch;
	int n;

	producer_state_init(&ps);
	ckpt_fill(fx, at, 6);
	assert_int_equal(ckpt_now(fx), 1);
	log_get_state(fx->l, &st);
	/* two batches above the hw, not on disk yet */
	at[6] = client_append(fx, 11, 0, 12, 2, 1, &info);
	at[7] = client_append(fx, 11, 0, 14, 2, 1, &info);
	budget = LOG_CHECKPOINT_SCAN_BYTES;
	assert_int_equal(log_producer_checkpoint_at_stop(fx->l, &budget), 0);
	assert_int_equal(log_flush(fx->l, -1), 0);
	budget = 1; /* less than the segments after the checkpoint */
	assert_int_equal(log_producer_checkpoint_at_stop(fx->l, &budget), 0);
	assert_int_equal(budget, 1);
	budget = LOG_CHECKPOINT_SCAN_BYTES;
	assert_int_equal(log_producer_checkpoint_at_stop(fx->l, &budget), 1);
	assert_true(budget < LOG_CHECKPOINT_SCAN_BYTES);
	assert_int_equal(log_producer_checkpoint_at_stop(fx->l, &budget), 0);
	assert_int_equal(log_producer_snapshot_read(fx->l, LOG_SNAP_CKPT, &end, &epoch, &bi, &n),
			 0);
	free(bi);
	assert_int_equal(end, st.hw);
	assert_true(end <= at[6]);
	assert_int_equal(epoch, 1);
	snap_reopen(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 2, 2000, 86400000), 0);
	assert_int_equal(check1(&ps, 11, 0, 14, 2, &f), 1);
	assert_int_equal(f, at[7]);
	/* the restart's cut to the next leader's log, at the hw */
	assert_int_equal(log_truncate_to(fx->l, end), 0);
	producer_state_clear(&ps);
	fx->fio.pread_fail_path = ".log";
	fx->fio.pread_errno = EIO;
	fx->fio.pread_fails = 1 << 30;
	assert_int_equal(producer_state_load(&ps, fx->l, 3, 2000, 86400000), 0);
	fx->fio.pread_fails = 0;
	assert_int_equal(check1(&ps, 11, 0, 10, 2, &f), 1);
	assert_int_equal(f, at[5]);
	assert_int_equal(check1(&ps, 11, 0, 12, 2, &f), 0);
	/* an unclean cut below the hw, then filled again past it */
	producer_state_clear(&ps);
	cut_leaves_checkpoint(fx, &ps, at, 5, 4, 3);
	assert_true(log_get_end(fx->l) > end);
	producer_state_destroy(&ps);
}

/* A cut below the producer checkpoint (a follower's truncation, an
 * unclean election) removes it, as Kafka's truncateAndReload deletes the
 * snapshots above the new log end: the next checkpoint is written at
 * the newest segment below the cut at once, not only once the log has
 * passed the old one's end again, and a load after a reopen takes it. */
static void test_cut_drops_checkpoint(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	struct batch_producer_info *bi;
	int64_t at[6], end, cut, f;
	int32_t epoch;
	char path[400];
	int n;

	producer_state_init(&ps);
	ckpt_fill(fx, at, 6);
	assert_int_equal(ckpt_now(fx), 1);
	assert_int_equal(log_producer_snapshot_read(fx->l, LOG_SNAP_CKPT, &end, &epoch, &bi, &n),
			 0);
	free(bi);
	assert_true(end > at[2]);
	cut = at[2] + 2; /* producer 11's batch at at[2] stays */
	assert_int_equal(log_truncate_to(fx->l, cut), 0);
	snprintf(path, sizeof(path), "%s/t-0/producer-checkpoint", fx->dir);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(ckpt_now(fx), 1);
	assert_int_equal(log_producer_snapshot_read(fx->l, LOG_SNAP_CKPT, &end, &epoch, &bi, &n),
			 0);
	free(bi);
	assert_true(end > 0 && end <= cut);
	snap_reopen(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 2, 2000, 86400000), 0);
	assert_int_equal(check1(&ps, 11, 0, 4, 2, &f), 1);
	assert_int_equal(f, at[2]);
	assert_int_equal(check1(&ps, 11, 0, 6, 2, &f), 0);
	producer_state_destroy(&ps);
}

/* A front snapshot of format version 1 (24-byte header, no epoch) is
 * read. */
static void test_snapshot_version1(void **state)
{
	struct logfx *fx = *state;
	struct producer_state ps;
	uint8_t buf[24 + 46] = { 0 };
	int64_t at, start, f;
	char path[400];
	FILE *fp;

	producer_state_init(&ps);
	at = client_put(fx, 11, 0, 0, 2, 1);
	logfx_put(fx, 0, 40, 1);
	assert_int_equal(log_delete_records(fx->l, at + 3, false, &start), 0);
	memcpy(buf, "MQPS", 4);
	be32_put(buf + 4, 1u << 16);
	be64_put(buf + 8, (uint64_t)(at + 3));
	be32_put(buf + 16, 1);
	be64_put(buf + 24, 11);               /* producer id */
	be64_put(buf + 24 + 8, (uint64_t)at); /* base offset */
	be64_put(buf + 24 + 16, (uint64_t)at + 1);
	be64_put(buf + 24 + 24, 1001); /* max timestamp */
	be32_put(buf + 24 + 32, 1);    /* leader epoch */
	be32_put(buf + 24 + 36, 2);    /* records */
	be32_put(buf + 24 + 40, 0);    /* base sequence */
	be32_put(buf + 20, crc32c(crc32c(0, buf, 20), buf + 24, 46));
	snprintf(path, sizeof(path), "%s/t-0/producer-snapshot", fx->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, sizeof(buf), fp), sizeof(buf));
	fclose(fp);
	snap_reopen(fx);
	assert_int_equal(producer_state_load(&ps, fx->l, 2, 2000, 86400000), 0);
	assert_int_equal(check1(&ps, 11, 0, 0, 2, &f), 1);
	assert_int_equal(f, at);
	producer_state_destroy(&ps);
}

/* A front snapshot is written in format version 1, as an mqfs that reads
 * version 1 alone reads it (a downgrade): its 24-byte header, the CRC of
 * bytes 0..19 and the entries, the producer whose batches left the log. */
static void test_front_snapshot_written_as_version1(void **state)
{
	struct logfx *fx = *state;
	int64_t at, start;
	uint8_t buf[256];
	char path[400];
	size_t len;
	FILE *fp;

	log_set_trim_listener(fx->l, producer_state_trim, NULL);
	at = client_put(fx, 11, 0, 0, 2, 1);
	logfx_put(fx, 0, 40, 1);
	assert_int_equal(log_delete_records(fx->l, at + 3, false, &start), 0);
	snprintf(path, sizeof(path), "%s/t-0/producer-snapshot", fx->dir);
	fp = fopen(path, "r");
	assert_non_null(fp);
	len = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	assert_int_equal(len, 24 + 46);
	assert_memory_equal(buf, "MQPS", 4);
	assert_int_equal(be32_get(buf + 4), 1u << 16);
	assert_int_equal((int64_t)be64_get(buf + 8), at + 3);
	assert_int_equal(be32_get(buf + 16), 1);
	assert_int_equal(be32_get(buf + 20), crc32c(crc32c(0, buf, 20), buf + 24, 46));
	assert_int_equal((int64_t)be64_get(buf + 24), 11);     /* producer id */
	assert_int_equal((int64_t)be64_get(buf + 24 + 8), at); /* base offset */
}

static void test_encode_fields(void **state)
{
	struct logfx *fx = *state;
	struct rec_in recs[40];
	struct batch_producer pr = { 77, 3, INT32_MAX - 5 };
	struct batch_producer_info bi[8], big[40];
	uint8_t *buf;
	size_t len;
	int32_t nb;
	char v[600];

	memset(v, 'x', sizeof(v));
	for (int i = 0; i < 40; i++)
		recs[i] = (struct rec_in){ .key = NULL,
					   .key_len = -1,
					   .value = v,
					   .value_len = (int32_t)sizeof(v),
					   .timestamp = 5 };
	fx->cfg.batch_bytes = 4096; /* several batches */
	assert_int_equal(log_encode_batches(&fx->cfg, recs, 40, &pr, &buf, &len, &nb), 0);
	assert_true(nb > 1);
	assert_int_equal(log_batches_producers(buf, len, bi, 8), nb);
	int32_t seq = INT32_MAX - 5, total = 0;
	for (int i = 0; i < nb; i++) {
		assert_int_equal(bi[i].producer_id, 77);
		assert_int_equal(bi[i].producer_epoch, 3);
		assert_int_equal(bi[i].base_sequence, seq);
		seq = batch_seq_add(seq, bi[i].records);
		total += bi[i].records;
	}
	assert_int_equal(total, 40);
	assert_int_equal(log_batches_producers(buf, len, bi, 1), -E2BIG);
	assert_int_equal(log_batches_producers(buf, len - 1, bi, 8), -EBADMSG);
	/* max.message.bytes below batch.size cuts the batches by it: one
	 * record each here, none over the limit the leader enforces. */
	fx->cfg.max_message_bytes = 1000;
	free(buf);
	assert_int_equal(log_encode_batches(&fx->cfg, recs, 40, &pr, &buf, &len, &nb), 0);
	assert_int_equal(nb, 40);
	assert_int_equal(log_batches_producers(buf, len, big, 40), 40);
	for (int i = 0; i < nb; i++)
		assert_true(big[i].size <= 1000);
	free(buf);
	/* A record that alone passes the limit is refused. */
	fx->cfg.max_message_bytes = 600;
	assert_int_equal(log_encode_batches(&fx->cfg, recs, 40, &pr, &buf, &len, &nb), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duplicate_and_gap),
		cmocka_unit_test(test_window_of_five),
		cmocka_unit_test(test_epoch_bump),
		cmocka_unit_test(test_wrap_and_chain),
		cmocka_unit_test(test_two_producers_in_one_request),
		cmocka_unit_test(test_forwarded_request_runs),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_expiry_by_newest_batch),
		cmocka_unit_test_setup_teardown(test_rebuild_from_log, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_encode_fields, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_follower_keeps_state, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_follower_truncation_and_order, setup,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_follower_after_leading, setup, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_keeps_removed_producers, setup_snap,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_reset, setup_snap, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_rolled, setup_snap, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_damaged, setup_snap, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_write_fails, setup_snap,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_crash_points, setup_snap,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_bounds_load, setup_snap,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_budget, setup_snap, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_after_truncation, setup_snap,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_and_removals, setup_snap,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_version1, setup_snap, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_front_snapshot_written_as_version1, setup_snap,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_stop_checkpoint, setup_snap, logfx_teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_at_stop, setup_snap,
						logfx_teardown),
		cmocka_unit_test_setup_teardown(test_cut_drops_checkpoint, setup_snap,
						logfx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
