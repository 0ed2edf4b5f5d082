/*
 * test_proto_offsets.c — ListOffsets, OffsetCommit and OffsetFetch
 * (repl/proto_offsets.c), DeleteRecords (repl/proto_records.c): frames
 * hand-built from the JSON schemas at an old
 * version (what kafkajs 2.2 and librdkafka 2.0 send) and a flexible one,
 * every truncation refused, a round trip at every version that must give
 * back the same bytes, the version-dependent defaults, OffsetFetch's one
 * group before v8 and groups in v8, and the caps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "repl/kbuf.h"
#include "repl/proto.h"
#include "tests/unit/protofx.h"

static int lo_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_list_offsets_req_encode(w, v, b);
}
static int oc_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_offset_commit_req_encode(w, v, b);
}
static int of_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_offset_fetch_req_encode(w, v, b);
}
static const void *lo_of(const struct proto_req *r)
{
	return &r->u.list_offsets;
}
static const void *oc_of(const struct proto_req *r)
{
	return &r->u.offset_commit;
}
static const void *of_of(const struct proto_req *r)
{
	return &r->u.offset_fetch;
}

static int dr_enc(struct kbuf_w *w, int16_t v, const void *b)
{
	return proto_delete_records_req_encode(w, v, b);
}
static const void *dr_of(const struct proto_req *r)
{
	return &r->u.delete_records;
}

PROTOFX_RESP_CODEC(lo, list_offsets)
PROTOFX_RESP_CODEC(dr, delete_records)
PROTOFX_RESP_CODEC(oc, offset_commit)
PROTOFX_RESP_CODEC(of, offset_fetch)

/* ---- ListOffsets ---- */

/* v1 as kafkajs sends it: earliest of partition 0, a time for 1. */
static const uint8_t lo_v1[] = {
	0x00,    0x02, 0x00, 0x01, PI32(3), 0x00,    0x01,     'k',     PI32(-1),
	PI32(1), 0x00, 0x01, 't',  PI32(2), PI32(0), PI64(-2), PI32(1), PI64(1700000000000),
};
/* v7: flexible, read_committed, leader epoch, the max timestamp (-3). */
static const uint8_t lo_v7[] = {
	0x00, 0x02, 0x00, 0x07, PI32(4), 0x00,    0x01,     'k',  0x00, PI32(-1), 0x01,
	0x02, 0x02, 't',  0x02, PI32(0), PI32(5), PI64(-3), 0x00, 0x00, 0x00,
};

static void test_list_offsets(void **state)
{
	struct proto_req req;
	struct proto_list_offsets_req *l = &req.u.list_offsets;
	struct proto_list_offsets_resp resp;
	struct proto_list_offsets_part parts[2] = { { 0, 4, -1, 1 }, { 3, -1, 1234, 1 } };
	struct proto_list_offsets_topic tops[2] = { { kstr_of("a"), 2, parts },
						    { kstr_of("b"), 0, NULL } };
	struct proto_list_offsets_req in = { -1, PROTO_READ_COMMITTED, 2, tops };
	int64_t old[2] = { 42, 0 };
	struct proto_list_offsets_resp_part rparts[2] = {
		{ 0, 0, 2, old, 99, 42, 7 },
		{ 1, PROTO_ERR_NOT_LEADER_OR_FOLLOWER, 0, NULL, -1, -1, -1 },
	};
	struct proto_list_offsets_resp_topic rtops[1] = { { kstr_of("a"), 2, rparts } };
	struct proto_list_offsets_resp rin = { 10, 1, rtops };
	struct kbuf_w w;
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(lo_v1, sizeof(lo_v1), lo_enc, lo_of, &req);
	assert_int_equal(l->replica_id, -1);
	assert_int_equal(l->isolation_level, PROTO_READ_UNCOMMITTED);
	assert_int_equal(l->topics[0].n_partitions, 2);
	assert_true(l->topics[0].partitions[0].timestamp == PROTO_LIST_OFFSETS_EARLIEST);
	assert_int_equal(l->topics[0].partitions[0].current_leader_epoch, -1);
	assert_true(l->topics[0].partitions[1].timestamp == 1700000000000);
	proto_req_free(&req);
	protofx_req_same_bytes(lo_v7, sizeof(lo_v7), lo_enc, lo_of, &req);
	assert_int_equal(l->isolation_level, PROTO_READ_COMMITTED);
	assert_int_equal(l->topics[0].partitions[0].current_leader_epoch, 5);
	assert_true(l->topics[0].partitions[0].timestamp == PROTO_LIST_OFFSETS_MAX_TIMESTAMP);
	proto_req_free(&req);

	/* v0: max_num_offsets; the answer is a list of old style offsets. */
	protofx_same_bytes(lo_dec, lo_renc, lo_free,
			   PROTOFX_BYTES(PI32(1), 0x00, 0x01, 't', PI32(1), PI32(0), 0x00, 0x00,
					 PI32(2), PI64(42), PI64(0)),
			   0, &resp);
	assert_int_equal(resp.topics[0].partitions[0].n_old_style_offsets, 2);
	assert_true(resp.topics[0].partitions[0].old_style_offsets[0] == 42);
	assert_true(resp.topics[0].partitions[0].offset == -1);
	proto_list_offsets_resp_free(&resp);
	/* v6: flexible, timestamp, offset, leader epoch. */
	protofx_same_bytes(lo_dec, lo_renc, lo_free,
			   PROTOFX_BYTES(PI32(0), 0x02, 0x02, 't', 0x02, PI32(0), 0x00, 0x00,
					 PI64(-1), PI64(42), PI32(3), 0x00, 0x00, 0x00),
			   6, &resp);
	assert_true(resp.topics[0].partitions[0].offset == 42);
	assert_true(resp.topics[0].partitions[0].timestamp == -1);
	assert_int_equal(resp.topics[0].partitions[0].leader_epoch, 3);
	proto_list_offsets_resp_free(&resp);

	for (int16_t v = 0; v <= 7; v++) {
		protofx_req_round(PROTO_API_LIST_OFFSETS, v, lo_enc, lo_of, &in, &req, &frame);
		assert_int_equal(l->n_topics, 2);
		assert_int_equal(l->isolation_level, v >= 2 ? PROTO_READ_COMMITTED : 0);
		assert_int_equal(l->topics[0].partitions[0].current_leader_epoch, v >= 4 ? 4 : -1);
		assert_true(l->topics[0].partitions[1].timestamp == 1234);
		assert_int_equal(l->topics[0].partitions[1].max_num_offsets, 1);
		assert_int_equal(l->topics[1].n_partitions, 0);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(lo_dec, lo_renc, lo_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, v >= 2 ? 10 : 0);
		assert_int_equal(resp.topics[0].partitions[0].n_old_style_offsets, v == 0 ? 2 : 0);
		assert_true(resp.topics[0].partitions[0].offset == (v >= 1 ? 42 : -1));
		assert_int_equal(resp.topics[0].partitions[0].leader_epoch, v >= 4 ? 7 : -1);
		assert_int_equal(resp.topics[0].partitions[1].error_code,
				 PROTO_ERR_NOT_LEADER_OR_FOLLOWER);
		proto_list_offsets_resp_free(&resp);
		free(frame);
	}
	/* The max timestamp needs v7: an older broker would read a time. */
	parts[0].timestamp = PROTO_LIST_OFFSETS_MAX_TIMESTAMP;
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_list_offsets_req_encode(&w, 6, &in), -EINVAL);
	kbuf_w_free(&w);
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_list_offsets_req_encode(&w, 7, &in), 0);
	kbuf_w_free(&w);
}

/* ---- DeleteRecords ---- */

/* v1 as kafkajs 2.2 sends it: below 50 in partition 0, the hw in 1. */
static const uint8_t dr_v1[] = {
	0x00, 0x15, 0x00, 0x01,    PI32(8), 0x00,     0x01,    'k',      PI32(1),
	0x00, 0x01, 't',  PI32(2), PI32(0), PI64(50), PI32(1), PI64(-1), PI32(5000),
};
/* v2: flexible. */
static const uint8_t dr_v2[] = {
	0x00, 0x15, 0x00, 0x02,    PI32(9), 0x00, 0x01, 'k',       0x00, 0x02,
	0x02, 't',  0x02, PI32(0), PI64(7), 0x00, 0x00, PI32(100), 0x00,
};

static void test_delete_records(void **state)
{
	struct proto_req req;
	struct proto_delete_records_req *d = &req.u.delete_records;
	struct proto_delete_records_resp resp;
	struct proto_delete_records_part parts[2] = { { 0, 50 }, { 3, PROTO_DELETE_RECORDS_HW } };
	struct proto_delete_records_topic tops[2] = { { kstr_of("a"), 2, parts },
						      { kstr_of("b"), 0, NULL } };
	struct proto_delete_records_req in = { 2, tops, 30000 };
	struct proto_delete_records_resp_part rparts[2] = {
		{ 0, 50, 0 },
		{ 3, -1, PROTO_ERR_OFFSET_OUT_OF_RANGE },
	};
	struct proto_delete_records_resp_topic rtops[1] = { { kstr_of("a"), 2, rparts } };
	struct proto_delete_records_resp rin = { 10, 1, rtops };
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(dr_v1, sizeof(dr_v1), dr_enc, dr_of, &req);
	assert_int_equal(d->n_topics, 1);
	assert_int_equal(d->topics[0].n_partitions, 2);
	assert_true(d->topics[0].partitions[0].offset == 50);
	assert_true(d->topics[0].partitions[1].offset == PROTO_DELETE_RECORDS_HW);
	assert_int_equal(d->timeout_ms, 5000);
	proto_req_free(&req);
	protofx_req_same_bytes(dr_v2, sizeof(dr_v2), dr_enc, dr_of, &req);
	assert_true(d->topics[0].partitions[0].offset == 7);
	assert_int_equal(d->timeout_ms, 100);
	proto_req_free(&req);
	/* Responses as a broker sends them, v0 and v2. */
	protofx_same_bytes(dr_dec, dr_renc, dr_free,
			   PROTOFX_BYTES(PI32(0), PI32(1), 0x00, 0x01, 't', PI32(1), PI32(0),
					 PI64(50), 0x00, 0x00),
			   0, &resp);
	assert_true(resp.topics[0].partitions[0].low_watermark == 50);
	proto_delete_records_resp_free(&resp);
	protofx_same_bytes(dr_dec, dr_renc, dr_free,
			   PROTOFX_BYTES(PI32(0), 0x02, 0x02, 't', 0x02, PI32(0), PI64(-1), 0x00,
					 0x07, 0x00, 0x00, 0x00),
			   2, &resp);
	assert_int_equal(resp.topics[0].partitions[0].error_code, PROTO_ERR_REQUEST_TIMED_OUT);
	proto_delete_records_resp_free(&resp);
	for (int16_t v = 0; v <= 2; v++) {
		protofx_req_round(PROTO_API_DELETE_RECORDS, v, dr_enc, dr_of, &in, &req, &frame);
		assert_int_equal(d->n_topics, 2);
		assert_true(d->topics[0].partitions[1].offset == PROTO_DELETE_RECORDS_HW);
		assert_int_equal(d->topics[1].n_partitions, 0);
		assert_int_equal(d->timeout_ms, 30000);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(dr_dec, dr_renc, dr_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, 10);
		assert_true(resp.topics[0].partitions[0].low_watermark == 50);
		assert_int_equal(resp.topics[0].partitions[1].error_code,
				 PROTO_ERR_OFFSET_OUT_OF_RANGE);
		proto_delete_records_resp_free(&resp);
		free(frame);
	}
}

/* ---- OffsetCommit ---- */

/* v2: generation, member, retention; metadata null. */
static const uint8_t oc_v2[] = {
	0x00, 0x08,    0x00,    0x02,    PI32(5),   0xff, 0xff,     0x00,    0x01,
	'g',  PI32(3), 0x00,    0x02,    'm',       '1',  PI64(-1), PI32(1), 0x00,
	0x01, 't',     PI32(1), PI32(0), PI64(100), 0xff, 0xff,
};
/* v8: flexible, group_instance_id null, committed leader epoch. */
static const uint8_t oc_v8[] = {
	0x00,    0x08,      0x00,    0x08, PI32(6), 0x00, 0x01, 'c',  0x00, 0x02,
	'g',     PI32(3),   0x03,    'm',  '1',     0x00, 0x02, 0x02, 't',  0x02,
	PI32(0), PI64(100), PI32(7), 0x03, 'm',     'd',  0x00, 0x00, 0x00,
};

static void test_offset_commit(void **state)
{
	struct proto_req req;
	struct proto_offset_commit_req *c = &req.u.offset_commit;
	struct proto_offset_commit_resp resp;
	struct proto_offset_commit_part parts[2] = {
		{ 0, 10, 2, 555, kstr_of("x") },
		{ 1, 20, -1, -1, KSTR_NULL },
	};
	struct proto_offset_commit_topic tops[1] = { { kstr_of("t"), 2, parts } };
	struct proto_offset_commit_req in = {
		kstr_of("grp"), 4, kstr_of("m-1"), kstr_of("inst"), 60000, 1, tops,
	};
	struct proto_offset_commit_resp_part rparts[2] = { { 0, 0 },
							   { 1, PROTO_ERR_REBALANCE_IN_PROGRESS } };
	struct proto_offset_commit_resp_topic rtops[1] = { { kstr_of("t"), 2, rparts } };
	struct proto_offset_commit_resp rin = { 5, 1, rtops };
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(oc_v2, sizeof(oc_v2), oc_enc, oc_of, &req);
	assert_true(kstr_eq(c->group_id, "g"));
	assert_int_equal(c->generation_id, 3);
	assert_true(kstr_eq(c->member_id, "m1"));
	assert_true(c->retention_time_ms == -1);
	assert_null(c->group_instance_id.ptr);
	assert_true(c->topics[0].partitions[0].committed_offset == 100);
	assert_null(c->topics[0].partitions[0].committed_metadata.ptr);
	assert_int_equal(c->topics[0].partitions[0].committed_leader_epoch, -1);
	proto_req_free(&req);
	protofx_req_same_bytes(oc_v8, sizeof(oc_v8), oc_enc, oc_of, &req);
	assert_int_equal(c->topics[0].partitions[0].committed_leader_epoch, 7);
	assert_true(kstr_eq(c->topics[0].partitions[0].committed_metadata, "md"));
	proto_req_free(&req);

	protofx_same_bytes(
		oc_dec, oc_renc, oc_free,
		PROTOFX_BYTES(PI32(0), PI32(1), 0x00, 0x01, 't', PI32(1), PI32(0), 0x00, 25), 3,
		&resp);
	assert_int_equal(resp.topics[0].partitions[0].error_code, PROTO_ERR_UNKNOWN_MEMBER_ID);
	proto_offset_commit_resp_free(&resp);
	protofx_same_bytes(oc_dec, oc_renc, oc_free,
			   PROTOFX_BYTES(PI32(0), 0x02, 0x02, 't', 0x02, PI32(0), 0x00, 0x00, 0x00,
					 0x00, 0x00),
			   8, &resp);
	assert_int_equal(resp.n_topics, 1);
	proto_offset_commit_resp_free(&resp);

	for (int16_t v = 0; v <= 8; v++) {
		protofx_req_round(PROTO_API_OFFSET_COMMIT, v, oc_enc, oc_of, &in, &req, &frame);
		assert_true(kstr_eq(c->group_id, "grp"));
		assert_int_equal(c->generation_id, v >= 1 ? 4 : -1);
		assert_true(kstr_eq(c->member_id, v >= 1 ? "m-1" : ""));
		assert_true(v >= 7 ? kstr_eq(c->group_instance_id, "inst")
				   : !c->group_instance_id.ptr);
		assert_true(c->retention_time_ms == (v >= 2 && v <= 4 ? 60000 : -1));
		assert_int_equal(c->topics[0].partitions[0].committed_leader_epoch,
				 v >= 6 ? 2 : -1);
		assert_true(c->topics[0].partitions[0].commit_timestamp == (v == 1 ? 555 : -1));
		assert_true(kstr_eq(c->topics[0].partitions[0].committed_metadata, "x"));
		assert_null(c->topics[0].partitions[1].committed_metadata.ptr);
		proto_req_free(&req);
		free(frame);
		protofx_resp_round(oc_dec, oc_renc, oc_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, v >= 3 ? 5 : 0);
		assert_int_equal(resp.topics[0].partitions[1].error_code,
				 PROTO_ERR_REBALANCE_IN_PROGRESS);
		proto_offset_commit_resp_free(&resp);
		free(frame);
	}
}

/* ---- OffsetFetch ---- */

/* v1: one group, partitions asked by index (null not allowed yet). */
static const uint8_t of_v1[] = {
	0x00, 0x09, 0x00,    0x01, PI32(7), 0x00, 0x01,    'c',     0x00,
	0x01, 'g',  PI32(1), 0x00, 0x01,    't',  PI32(2), PI32(0), PI32(1),
};
/* v8: two groups, the first asking for everything (null topics). */
static const uint8_t of_v8[] = {
	0x00, 0x09, 0x00, 0x08, PI32(8), 0x00, 0x01, 'c',     0x00, 0x03, 0x02, 'a',  0x00,
	0x00, 0x02, 'b',  0x02, 0x02,    't',  0x02, PI32(0), 0x00, 0x00, 0x01, 0x00,
};

static void test_offset_fetch(void **state)
{
	struct proto_req req;
	struct proto_offset_fetch_req *f = &req.u.offset_fetch;
	struct proto_offset_fetch_resp resp;
	int32_t idx[3] = { 0, 1, 2 };
	struct proto_offset_fetch_topic tops[1] = { { kstr_of("t"), 3, idx } };
	struct proto_offset_fetch_group groups[2] = { { kstr_of("g"), 1, tops },
						      { kstr_of("h"), -1, NULL } };
	struct proto_offset_fetch_req in = { 1, groups, true };
	struct proto_offset_fetch_resp_part rparts[2] = {
		{ 0, 42, 3, kstr_of(""), 0 },
		{ 1, -1, -1, KSTR_NULL, 0 },
	};
	struct proto_offset_fetch_resp_topic rtops[1] = { { kstr_of("t"), 2, rparts } };
	struct proto_offset_fetch_resp_group rgroups[2] = {
		{ kstr_of("g"), 1, rtops, PROTO_ERR_NONE },
		{ kstr_of("h"), 0, NULL, PROTO_ERR_GROUP_AUTHORIZATION_FAILED },
	};
	struct proto_offset_fetch_resp rin = { 9, 1, rgroups };
	struct kbuf_w w;
	uint8_t *frame;

	(void)state;
	protofx_req_same_bytes(of_v1, sizeof(of_v1), of_enc, of_of, &req);
	assert_int_equal(f->n_groups, 1);
	assert_true(kstr_eq(f->groups[0].group_id, "g"));
	assert_int_equal(f->groups[0].topics[0].n_partition_indexes, 2);
	assert_int_equal(f->groups[0].topics[0].partition_indexes[1], 1);
	assert_false(f->require_stable);
	proto_req_free(&req);
	/* v1 has no null topics. */
	assert_int_equal(proto_req_decode(PROTOFX_BYTES(0x00, 0x09, 0x00, 0x01, PI32(7), 0xff, 0xff,
							0x00, 0x01, 'g', PI32(-1)),
					  &req),
			 -EBADMSG);
	assert_int_equal(proto_req_decode(PROTOFX_BYTES(0x00, 0x09, 0x00, 0x02, PI32(7), 0xff, 0xff,
							0x00, 0x01, 'g', PI32(-1)),
					  &req),
			 0);
	assert_int_equal(f->groups[0].n_topics, -1);
	proto_req_free(&req);
	protofx_req_same_bytes(of_v8, sizeof(of_v8), of_enc, of_of, &req);
	assert_int_equal(f->n_groups, 2);
	assert_int_equal(f->groups[0].n_topics, -1);
	assert_true(kstr_eq(f->groups[1].group_id, "b"));
	assert_int_equal(f->groups[1].topics[0].partition_indexes[0], 0);
	assert_true(f->require_stable);
	proto_req_free(&req);

	/* v2 response: the group's error after the topics; metadata "". */
	protofx_same_bytes(of_dec, of_renc, of_free,
			   PROTOFX_BYTES(PI32(1), 0x00, 0x01, 't', PI32(1), PI32(0), PI64(42), 0x00,
					 0x00, 0x00, 0x00, 0x00, 0x0e),
			   2, &resp);
	assert_int_equal(resp.n_groups, 1);
	assert_null(resp.groups[0].group_id.ptr);
	assert_true(resp.groups[0].topics[0].partitions[0].committed_offset == 42);
	assert_true(kstr_eq(resp.groups[0].topics[0].partitions[0].metadata, ""));
	assert_int_equal(resp.groups[0].error_code, PROTO_ERR_COORDINATOR_LOAD_IN_PROGRESS);
	proto_offset_fetch_resp_free(&resp);
	protofx_same_bytes(of_dec, of_renc, of_free,
			   PROTOFX_BYTES(PI32(0), 0x02, 0x02, 'g', 0x02, 0x02, 't', 0x02, PI32(0),
					 PI64(42), PI32(3), 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					 0x00, 0x00, 0x00),
			   8, &resp);
	assert_true(kstr_eq(resp.groups[0].group_id, "g"));
	assert_int_equal(resp.groups[0].topics[0].partitions[0].committed_leader_epoch, 3);
	assert_null(resp.groups[0].topics[0].partitions[0].metadata.ptr);
	proto_offset_fetch_resp_free(&resp);

	for (int16_t v = 0; v <= 8; v++) {
		in.n_groups = v >= 8 ? 2 : 1;
		/* Null topics from v2 (the second group is v8's alone). */
		groups[0].n_topics = v >= 2 && v % 2 ? -1 : 1;
		protofx_req_round(PROTO_API_OFFSET_FETCH, v, of_enc, of_of, &in, &req, &frame);
		assert_int_equal(f->n_groups, in.n_groups);
		assert_int_equal(f->groups[0].n_topics, groups[0].n_topics);
		if (groups[0].n_topics > 0)
			assert_int_equal(f->groups[0].topics[0].partition_indexes[2], 2);
		assert_int_equal(f->require_stable, v >= 7);
		proto_req_free(&req);
		free(frame);
		rin.n_groups = v >= 8 ? 2 : 1;
		protofx_resp_round(of_dec, of_renc, of_free, v, &rin, &resp, &frame);
		assert_int_equal(resp.throttle_time_ms, v >= 3 ? 9 : 0);
		assert_int_equal(resp.n_groups, rin.n_groups);
		assert_true(v >= 8 ? kstr_eq(resp.groups[0].group_id, "g")
				   : !resp.groups[0].group_id.ptr);
		assert_int_equal(resp.groups[0].topics[0].partitions[0].committed_leader_epoch,
				 v >= 5 ? 3 : -1);
		assert_null(resp.groups[0].topics[0].partitions[1].metadata.ptr);
		if (v >= 8)
			assert_int_equal(resp.groups[1].error_code,
					 PROTO_ERR_GROUP_AUTHORIZATION_FAILED);
		proto_offset_fetch_resp_free(&resp);
		free(frame);
	}
	/* Before v8 exactly one group; before v2 no null topics. */
	in.n_groups = 2;
	rin.n_groups = 2;
	groups[0].n_topics = -1;
	kbuf_w_init(&w, 1024);
	assert_int_equal(proto_offset_fetch_req_encode(&w, 7, &in), -EINVAL);
	assert_int_equal(proto_offset_fetch_resp_encode(&w, 7, &rin), -EINVAL);
	in.n_groups = 1;
	assert_int_equal(proto_offset_fetch_req_encode(&w, 1, &in), -EINVAL);
	kbuf_w_free(&w);
}

/* ---- caps ---- */

static void test_offsets_caps(void **state)
{
	struct proto_list_offsets_topic *tops = calloc(PROTO_MAX_TOPICS + 1, sizeof(*tops));
	struct proto_list_offsets_part *parts =
		calloc(PROTO_MAX_PARTITIONS / 2 + 1, sizeof(*parts));
	struct proto_list_offsets_req in = { -1, 0, PROTO_MAX_TOPICS + 1, tops };
	struct proto_offset_fetch_group *groups = calloc(PROTO_MAX_GROUPS + 1, sizeof(*groups));
	struct proto_offset_fetch_req fin = { PROTO_MAX_GROUPS + 1, groups, false };
	struct proto_req req;
	uint8_t *buf;
	size_t len;

	(void)state;
	for (int i = 0; i <= PROTO_MAX_TOPICS; i++)
		tops[i] = (struct proto_list_offsets_topic){ kstr_of("t"), 0, NULL };
	for (int i = 0; i <= PROTO_MAX_GROUPS; i++)
		groups[i] = (struct proto_offset_fetch_group){ kstr_of("g"), -1, NULL };
	/* Topics over the cap. */
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_LIST_OFFSETS, 5, 1, KSTR_NULL },
			       lo_enc, &in, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
	free(buf);
	/* Two topics of half the partition cap each, plus one: over the
	 * message's allowance though each topic is under it. */
	for (int i = 0; i <= PROTO_MAX_PARTITIONS / 2; i++)
		parts[i] = (struct proto_list_offsets_part){ i, -1, -1, 1 };
	in.n_topics = 2;
	tops[0].n_partitions = PROTO_MAX_PARTITIONS / 2;
	tops[1].n_partitions = PROTO_MAX_PARTITIONS / 2;
	tops[0].partitions = tops[1].partitions = parts;
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_LIST_OFFSETS, 7, 1, KSTR_NULL },
			       lo_enc, &in, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), 0);
	proto_req_free(&req);
	free(buf);
	tops[1].n_partitions++;
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_LIST_OFFSETS, 7, 1, KSTR_NULL },
			       lo_enc, &in, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
	free(buf);
	/* Groups over the cap. */
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_OFFSET_FETCH, 8, 1, KSTR_NULL },
			       of_enc, &fin, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), -E2BIG);
	free(buf);
	fin.n_groups = PROTO_MAX_GROUPS;
	len = protofx_frame_of(&(struct proto_req_hdr){ PROTO_API_OFFSET_FETCH, 8, 1, KSTR_NULL },
			       of_enc, &fin, &buf);
	assert_int_equal(proto_req_decode(buf, len, &req), 0);
	assert_int_equal(req.u.offset_fetch.n_groups, PROTO_MAX_GROUPS);
	proto_req_free(&req);
	free(buf);
	/* A version outside the table. */
	assert_int_equal(
		proto_req_decode(PROTOFX_BYTES(0x00, 0x02, 0x00, 0x08, PI32(1), 0xff, 0xff, 0x00),
				 &req),
		-EOPNOTSUPP);
	free(groups);
	free(parts);
	free(tops);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_offsets),  cmocka_unit_test(test_delete_records),
		cmocka_unit_test(test_offset_commit), cmocka_unit_test(test_offset_fetch),
		cmocka_unit_test(test_offsets_caps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
