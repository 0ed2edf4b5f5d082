/*
 * proto_fetch.c — the replication APIs: Fetch (1) v4-v12 and
 * OffsetForLeaderEpoch (23) v0-v4, and struct proto_out, the response made
 * of memory pieces and file ranges (written down in proto.h).
 *
 * Fetch request (flexible from v12: compact forms, TAGGED_FIELDS at the end
 * of every struct; top-level tag 0 is cluster_id COMPACT_NULLABLE_STRING):
 *   replica_id INT32, max_wait_ms INT32, min_bytes INT32, max_bytes INT32,
 *   isolation_level INT8, session_id INT32 (v7+), session_epoch INT32 (v7+),
 *   topics ARRAY of
 *     topic STRING, partitions ARRAY of
 *       partition INT32, current_leader_epoch INT32 (v9+),
 *       fetch_offset INT64, last_fetched_epoch INT32 (v12+),
 *       log_start_offset INT64 (v5+), partition_max_bytes INT32
 *   forgotten_topics_data ARRAY (v7+) of topic STRING, partitions ARRAY INT32
 *   rack_id STRING (v11+)
 *
 * Fetch response:
 *   throttle_time_ms INT32, error_code INT16 (v7+), session_id INT32 (v7+),
 *   responses ARRAY of
 *     topic STRING, partitions ARRAY of
 *       partition_index INT32, error_code INT16, high_watermark INT64,
 *       last_stable_offset INT64, log_start_offset INT64 (v5+),
 *       aborted_transactions NULLABLE ARRAY of (producer_id INT64,
 *         first_offset INT64), preferred_read_replica INT32 (v11+),
 *       records NULLABLE_BYTES (record batches, as in the segment),
 *       v12 tags: 0 diverging_epoch (epoch INT32, end_offset INT64),
 *                 1 current_leader (leader_id INT32, leader_epoch INT32),
 *                 2 snapshot_id (skipped on read, never written),
 *                 1000 log_start_line INT64 (mqfs's own, not Kafka's):
 *                   the line position of log_start_offset, written only
 *                   with OFFSET_OUT_OF_RANGE for a fetch_offset below the
 *                   log start. A follower or read copy whose log ends
 *                   there empties its log and starts it at (log start,
 *                   that position), as Kafka's follower does
 *                   (truncateFullyAndStartAt): line positions are not
 *                   in the batches, and a copy's must be the leader's.
 *                   Kafka clients skip the unknown tag.
 *                 1001 first_line INT64 (mqfs's own): the line position
 *                   of the records' first batch, written only when that
 *                   batch starts past fetch_offset (the leader's
 *                   compaction removed the records in between); a
 *                   follower or read copy puts the batch there, leaving
 *                   the leader's gap in its line view.
 *
 * OffsetForLeaderEpoch (flexible from v4):
 *   request  replica_id INT32 (v3+), topics ARRAY of topic STRING,
 *            partitions ARRAY of partition INT32,
 *            current_leader_epoch INT32 (v2+), leader_epoch INT32
 *   response throttle_time_ms INT32 (v2+), topics ARRAY of topic STRING,
 *            partitions ARRAY of error_code INT16, partition INT32,
 *            leader_epoch INT32 (v1+), end_offset INT64
 *
 * Decoding allocation: every array count is checked against the bytes left
 * (at the smallest size of one element of that version) and against
 * PROTO_MAX_TOPICS / PROTO_MAX_PARTITIONS before calloc, so the memory of a
 * decoded request is at most a few times its frame and never more than
 * those caps allow. On any error the partial struct is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

/* ---- Fetch request ---- */

static int fetch_req_tag(void *arg, uint32_t tag, struct kbuf_r *field)
{
	struct proto_fetch_req *req = arg;

	if (tag == PROTO_FETCH_TAG_LINE_COPY) {
		req->line_copy = true;
		return 1;
	}
	if (tag != 0)
		return 0;
	req->cluster_id = kbuf_read_cnstr(field);
	return 1;
}

static size_t fetch_part_min(int16_t v)
{
	return 4 + (v >= 9 ? 4 : 0) + 8 + (v >= 12 ? 4 : 0) + (v >= 5 ? 8 : 0) + 4 +
	       (v >= 12 ? 1 : 0);
}

static void fetch_topic_decode(struct kmsg_dec *d, int16_t v, struct proto_fetch_topic *t)
{
	struct kbuf_r *r = d->r;

	t->topic = kmsg_str(d);
	t->n_partitions = kmsg_parts(d, fetch_part_min(v));
	t->partitions = kmsg_alloc(d, t->n_partitions, sizeof(*t->partitions));
	for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
		struct proto_fetch_part *p = &t->partitions[j];

		p->partition = kbuf_read_i32(r);
		p->current_leader_epoch = v >= 9 ? kbuf_read_i32(r) : -1;
		p->fetch_offset = kbuf_read_i64(r);
		p->last_fetched_epoch = v >= 12 ? kbuf_read_i32(r) : -1;
		p->log_start_offset = v >= 5 ? kbuf_read_i64(r) : -1;
		p->partition_max_bytes = kbuf_read_i32(r);
		kmsg_tags(d);
	}
	kmsg_tags(d);
}

static void forgotten_decode(struct kmsg_dec *d, struct proto_forgotten_topic *f)
{
	f->topic = kmsg_str(d);
	f->n_partitions = kmsg_parts(d, 4);
	f->partitions = kmsg_alloc(d, f->n_partitions, sizeof(*f->partitions));
	for (int32_t j = 0; j < f->n_partitions && !d->r->err; j++)
		f->partitions[j] = kbuf_read_i32(d->r);
	kmsg_tags(d);
}

int proto_fetch_req_decode(struct kbuf_r *r, int16_t v, struct proto_fetch_req *req)
{
	struct kmsg_dec d;
	size_t topic_min;
	int rc;

	memset(req, 0, sizeof(*req));
	req->cluster_id = KSTR_NULL;
	req->rack_id = (struct kstr){ "", 0 };
	req->session_epoch = -1;
	if (!proto_api_supported(PROTO_API_FETCH, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_FETCH, v));
	topic_min = kmsg_topic_min(d.flex);
	req->replica_id = kbuf_read_i32(r);
	req->max_wait_ms = kbuf_read_i32(r);
	req->min_bytes = kbuf_read_i32(r);
	req->max_bytes = kbuf_read_i32(r);
	/* Any value is decoded: one Kafka does not define is answered
	 * UNKNOWN_SERVER_ERROR by the handler (fetch_serve.c), as Kafka. */
	req->isolation_level = kbuf_read_i8(r);
	if (v >= 7) {
		req->session_id = kbuf_read_i32(r);
		req->session_epoch = kbuf_read_i32(r);
	}
	req->n_topics = kmsg_count(&d, false, topic_min, PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++)
		fetch_topic_decode(&d, v, &req->topics[i]);
	if (v >= 7) {
		req->n_forgotten = kmsg_count(&d, false, topic_min, PROTO_MAX_TOPICS);
		req->forgotten = kmsg_alloc(&d, req->n_forgotten, sizeof(*req->forgotten));
		for (int32_t i = 0; i < req->n_forgotten && !r->err; i++)
			forgotten_decode(&d, &req->forgotten[i]);
	}
	if (v >= 11)
		req->rack_id = kmsg_str(&d);
	if (d.flex)
		kbuf_read_tags(r, fetch_req_tag, req);
	rc = kmsg_end(&d);
	if (rc)
		proto_fetch_req_free(req);
	return rc;
}

void proto_fetch_req_free(struct proto_fetch_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->topics && i < req->n_topics; i++)
		free(req->topics[i].partitions);
	for (int32_t i = 0; req->forgotten && i < req->n_forgotten; i++)
		free(req->forgotten[i].partitions);
	KMSG_FREE(req->topics, req->n_topics);
	KMSG_FREE(req->forgotten, req->n_forgotten);
}

/* A COMPACT_NULLABLE_STRING as tagged field tag. */
static void write_str_tag(struct kbuf_w *w, uint32_t tag, struct kstr s)
{
	uint32_t len = s.ptr ? (uint32_t)s.len : 0;
	uint32_t size = (uint32_t)kbuf_uvarint_size(s.ptr ? len + 1 : 0) + len;

	kbuf_write_tag_hdr(w, tag, size);
	kbuf_write_string(w, s, true, true);
}

int proto_fetch_req_encode(struct kbuf_w *w, int16_t v, const struct proto_fetch_req *req)
{
	bool flex = v >= 12;

	if (!proto_api_supported(PROTO_API_FETCH, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, req->replica_id);
	kbuf_write_i32(w, req->max_wait_ms);
	kbuf_write_i32(w, req->min_bytes);
	kbuf_write_i32(w, req->max_bytes);
	kbuf_write_i8(w, req->isolation_level);
	if (v >= 7) {
		kbuf_write_i32(w, req->session_id);
		kbuf_write_i32(w, req->session_epoch);
	}
	kmsg_write_len(w, flex, req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		const struct proto_fetch_topic *t = &req->topics[i];

		kmsg_write_str(w, flex, t->topic);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			const struct proto_fetch_part *p = &t->partitions[j];

			kbuf_write_i32(w, p->partition);
			if (v >= 9)
				kbuf_write_i32(w, p->current_leader_epoch);
			kbuf_write_i64(w, p->fetch_offset);
			if (v >= 12)
				kbuf_write_i32(w, p->last_fetched_epoch);
			if (v >= 5)
				kbuf_write_i64(w, p->log_start_offset);
			kbuf_write_i32(w, p->partition_max_bytes);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	if (v >= 7) {
		kmsg_write_len(w, flex, req->n_forgotten);
		for (int32_t i = 0; i < req->n_forgotten; i++) {
			const struct proto_forgotten_topic *f = &req->forgotten[i];

			kmsg_write_str(w, flex, f->topic);
			kmsg_write_i32s(w, flex, f->n_partitions, f->partitions);
			kmsg_write_tags(w, flex);
		}
	}
	if (v >= 11)
		kmsg_write_str(w, flex, req->rack_id.ptr ? req->rack_id : (struct kstr){ "", 0 });
	if (flex) {
		kbuf_write_uvarint(w, (uint32_t)((req->cluster_id.ptr != NULL) + req->line_copy));
		if (req->cluster_id.ptr)
			write_str_tag(w, 0, req->cluster_id);
		if (req->line_copy)
			kbuf_write_tag_hdr(w, PROTO_FETCH_TAG_LINE_COPY, 0);
	}
	return kbuf_w_err(w);
}

/* ---- proto_out ---- */

void proto_out_init(struct proto_out *out, size_t limit)
{
	memset(out, 0, sizeof(*out));
	kbuf_w_init(&out->w, limit);
}

void proto_out_free(struct proto_out *out)
{
	if (!out)
		return;
	kbuf_w_free(&out->w);
	free(out->pieces);
	out->pieces = NULL;
	out->n_pieces = out->cap_pieces = 0;
}

static int out_push(struct proto_out *out, struct proto_piece pc)
{
	if (out->n_pieces == out->cap_pieces) {
		size_t cap = out->cap_pieces ? out->cap_pieces * 2 : 8;
		struct proto_piece *np = realloc(out->pieces, cap * sizeof(*np));

		if (!np)
			return -ENOMEM;
		out->pieces = np;
		out->cap_pieces = cap;
	}
	out->pieces[out->n_pieces++] = pc;
	return 0;
}

/* Covers the bytes written to w since the last piece with a MEM piece. */
static int out_flush_mem(struct proto_out *out)
{
	struct proto_piece *last = out->n_pieces ? &out->pieces[out->n_pieces - 1] : NULL;
	size_t n = out->w.len - out->mem_done;
	int rc = 0;

	if (!n)
		return 0;
	if (last && last->kind == PROTO_PIECE_MEM &&
	    (size_t)last->offset + last->len == out->mem_done)
		last->len += n;
	else
		rc = out_push(out,
			      (struct proto_piece){ PROTO_PIECE_MEM, -1, (off_t)out->mem_done, n });
	if (!rc)
		out->mem_done = out->w.len;
	return rc;
}

int proto_out_add_file(struct proto_out *out, int fd, off_t offset, size_t len)
{
	int rc = kbuf_w_err(&out->w);

	if (rc)
		return rc;
	if (fd < 0 || offset < 0)
		return -EINVAL;
	if (!len)
		return 0;
	rc = out_flush_mem(out);
	if (!rc)
		rc = out_push(out, (struct proto_piece){ PROTO_PIECE_FILE, fd, offset, len });
	if (!rc)
		out->total += len;
	return rc;
}

int proto_out_finish(struct proto_out *out, size_t pos)
{
	int rc = kbuf_w_err(&out->w);

	if (rc)
		return rc;
	/* total holds the file bytes so far; the frame size counts them. */
	kbuf_w_frame_end(&out->w, pos, out->total);
	rc = kbuf_w_err(&out->w);
	if (!rc)
		rc = out_flush_mem(out);
	if (!rc)
		out->total += out->w.len;
	return rc;
}

int proto_out_flatten(const struct proto_out *out, uint8_t **buf, size_t *len)
{
	uint8_t *b = malloc(out->total ? out->total : 1);
	size_t at = 0;

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < out->n_pieces; i++) {
		const struct proto_piece *pc = &out->pieces[i];

		if (pc->kind == PROTO_PIECE_MEM) {
			memcpy(b + at, out->w.buf + pc->offset, pc->len);
			at += pc->len;
			continue;
		}
		for (size_t done = 0; done < pc->len;) {
			ssize_t n = pread(pc->fd, b + at, pc->len - done, pc->offset + (off_t)done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				free(b);
				return n < 0 ? -errno : -EIO;
			}
			done += (size_t)n;
			at += (size_t)n;
		}
	}
	*buf = b;
	*len = at;
	return 0;
}

/* ---- Fetch response ---- */

static void fetch_part_encode(struct proto_out *out, int16_t v,
			      const struct proto_fetch_resp_part *p, int *rc)
{
	struct kbuf_w *w = &out->w;
	bool flex = v >= 12;

	kbuf_write_i32(w, p->partition_index);
	kbuf_write_i16(w, p->error_code);
	kbuf_write_i64(w, p->high_watermark);
	kbuf_write_i64(w, p->last_stable_offset);
	if (v >= 5)
		kbuf_write_i64(w, p->log_start_offset);
	kmsg_write_len(w, flex, p->n_aborted < 0 ? -1 : p->n_aborted);
	for (int32_t i = 0; i < p->n_aborted; i++) {
		kbuf_write_i64(w, p->aborted[i].producer_id);
		kbuf_write_i64(w, p->aborted[i].first_offset);
		kmsg_write_tags(w, flex);
	}
	if (v >= 11)
		kbuf_write_i32(w, p->preferred_read_replica);
	*rc = kmsg_write_records(out, flex, p->records_len, p->records, p->records_fd,
				 p->records_offset);
	if (!flex)
		return;
	kbuf_write_uvarint(w, (uint32_t)(p->has_diverging_epoch + p->has_current_leader +
					 p->has_log_start_line + p->has_first_line));
	if (p->has_diverging_epoch) {
		kbuf_write_tag_hdr(w, 0, 4 + 8 + 1);
		kbuf_write_i32(w, p->diverging_epoch);
		kbuf_write_i64(w, p->diverging_end_offset);
		kbuf_write_tags_empty(w);
	}
	if (p->has_current_leader) {
		kbuf_write_tag_hdr(w, 1, 4 + 4 + 1);
		kbuf_write_i32(w, p->current_leader_id);
		kbuf_write_i32(w, p->current_leader_epoch);
		kbuf_write_tags_empty(w);
	}
	if (p->has_log_start_line) {
		kbuf_write_tag_hdr(w, PROTO_FETCH_TAG_LOG_START_LINE, 8);
		kbuf_write_i64(w, p->log_start_line);
	}
	if (p->has_first_line) {
		kbuf_write_tag_hdr(w, PROTO_FETCH_TAG_FIRST_LINE, 8);
		kbuf_write_i64(w, p->first_line);
	}
}

int proto_fetch_resp_encode(struct proto_out *out, int16_t v, int32_t correlation_id,
			    const struct proto_fetch_resp *resp)
{
	struct kbuf_w *w = &out->w;
	bool flex = v >= 12;
	size_t pos;
	int rc = 0;

	if (!proto_api_supported(PROTO_API_FETCH, v))
		return -EOPNOTSUPP;
	pos = proto_resp_begin(w, PROTO_API_FETCH, v, correlation_id);
	kbuf_write_i32(w, resp->throttle_time_ms);
	if (v >= 7) {
		kbuf_write_i16(w, resp->error_code);
		kbuf_write_i32(w, resp->session_id);
	}
	kmsg_write_len(w, flex, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics && !rc; i++) {
		const struct proto_fetch_resp_topic *t = &resp->topics[i];

		kmsg_write_str(w, flex, t->topic);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions && !rc; j++)
			fetch_part_encode(out, v, &t->partitions[j], &rc);
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return rc ? rc : proto_out_finish(out, pos);
}

static int fetch_part_tag(void *arg, uint32_t tag, struct kbuf_r *f)
{
	struct proto_fetch_resp_part *p = arg;

	if (tag == 0) {
		p->has_diverging_epoch = true;
		p->diverging_epoch = kbuf_read_i32(f);
		p->diverging_end_offset = kbuf_read_i64(f);
	} else if (tag == 1) {
		p->has_current_leader = true;
		p->current_leader_id = kbuf_read_i32(f);
		p->current_leader_epoch = kbuf_read_i32(f);
	} else if (tag == PROTO_FETCH_TAG_LOG_START_LINE) {
		p->log_start_line = kbuf_read_i64(f);
		/* A position is never negative: a bad one is no position. */
		p->has_log_start_line = p->log_start_line >= 0;
		return 1;
	} else if (tag == PROTO_FETCH_TAG_FIRST_LINE) {
		p->first_line = kbuf_read_i64(f);
		p->has_first_line = p->first_line >= 0;
		return 1;
	} else {
		return 0;
	}
	kbuf_read_tags(f, NULL, NULL);
	return 1;
}

static size_t fetch_resp_part_min(int16_t v)
{
	bool flex = v >= 12;

	return 4 + 2 + 8 + 8 + (v >= 5 ? 8 : 0) + kmsg_arr_min(flex) + (v >= 11 ? 4 : 0) +
	       kmsg_arr_min(flex) + flex;
}

static void fetch_resp_part_decode(struct kmsg_dec *d, int16_t v, struct proto_fetch_resp_part *p)
{
	struct kbuf_r *r = d->r;

	p->records_fd = -1;
	p->partition_index = kbuf_read_i32(r);
	p->error_code = kbuf_read_i16(r);
	p->high_watermark = kbuf_read_i64(r);
	p->last_stable_offset = kbuf_read_i64(r);
	p->log_start_offset = v >= 5 ? kbuf_read_i64(r) : -1;
	p->n_aborted = kmsg_count(d, true, 16 + d->flex, INT32_MAX);
	p->aborted = kmsg_alloc(d, p->n_aborted, sizeof(*p->aborted));
	for (int32_t i = 0; i < p->n_aborted && !r->err; i++) {
		p->aborted[i].producer_id = kbuf_read_i64(r);
		p->aborted[i].first_offset = kbuf_read_i64(r);
		kmsg_tags(d);
	}
	p->preferred_read_replica = v >= 11 ? kbuf_read_i32(r) : -1;
	p->records_len = kmsg_records(d, &p->records);
	if (d->flex)
		kbuf_read_tags(r, fetch_part_tag, p);
}

int proto_fetch_resp_decode(struct kbuf_r *r, int16_t v, struct proto_fetch_resp *resp)
{
	struct kmsg_dec d;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_FETCH, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_FETCH, v));
	resp->throttle_time_ms = kbuf_read_i32(r);
	if (v >= 7) {
		resp->error_code = kbuf_read_i16(r);
		resp->session_id = kbuf_read_i32(r);
	}
	resp->n_topics = kmsg_count(&d, false, kmsg_topic_min(d.flex), PROTO_MAX_TOPICS);
	resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++) {
		struct proto_fetch_resp_topic *t = &resp->topics[i];

		t->topic = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, fetch_resp_part_min(v));
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++)
			fetch_resp_part_decode(&d, v, &t->partitions[j]);
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_fetch_resp_free(resp);
	return rc;
}

void proto_fetch_resp_free(struct proto_fetch_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++) {
		struct proto_fetch_resp_topic *t = &resp->topics[i];

		for (int32_t j = 0; t->partitions && j < t->n_partitions; j++)
			free(t->partitions[j].aborted);
		free(t->partitions);
	}
	KMSG_FREE(resp->topics, resp->n_topics);
}

/* ---- OffsetForLeaderEpoch ---- */

int proto_ofle_req_decode(struct kbuf_r *r, int16_t v, struct proto_ofle_req *req)
{
	struct kmsg_dec d;
	size_t part_min;
	int rc;

	memset(req, 0, sizeof(*req));
	req->replica_id = -2;
	if (!proto_api_supported(PROTO_API_OFFSET_FOR_LEADER_EPOCH, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_OFFSET_FOR_LEADER_EPOCH, v));
	part_min = 4 + (v >= 2 ? 4 : 0) + 4 + d.flex;
	if (v >= 3)
		req->replica_id = kbuf_read_i32(r);
	req->n_topics = kmsg_count(&d, false, kmsg_topic_min(d.flex), PROTO_MAX_TOPICS);
	req->topics = kmsg_alloc(&d, req->n_topics, sizeof(*req->topics));
	for (int32_t i = 0; i < req->n_topics && !r->err; i++) {
		struct proto_ofle_topic *t = &req->topics[i];

		t->topic = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, part_min);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			struct proto_ofle_part *p = &t->partitions[j];

			p->partition = kbuf_read_i32(r);
			p->current_leader_epoch = v >= 2 ? kbuf_read_i32(r) : -1;
			p->leader_epoch = kbuf_read_i32(r);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_ofle_req_free(req);
	return rc;
}

void proto_ofle_req_free(struct proto_ofle_req *req)
{
	if (!req)
		return;
	for (int32_t i = 0; req->topics && i < req->n_topics; i++)
		free(req->topics[i].partitions);
	KMSG_FREE(req->topics, req->n_topics);
}

int proto_ofle_req_encode(struct kbuf_w *w, int16_t v, const struct proto_ofle_req *req)
{
	bool flex = v >= 4;

	if (!proto_api_supported(PROTO_API_OFFSET_FOR_LEADER_EPOCH, v))
		return -EOPNOTSUPP;
	if (v >= 3)
		kbuf_write_i32(w, req->replica_id);
	kmsg_write_len(w, flex, req->n_topics);
	for (int32_t i = 0; i < req->n_topics; i++) {
		const struct proto_ofle_topic *t = &req->topics[i];

		kmsg_write_str(w, flex, t->topic);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			kbuf_write_i32(w, t->partitions[j].partition);
			if (v >= 2)
				kbuf_write_i32(w, t->partitions[j].current_leader_epoch);
			kbuf_write_i32(w, t->partitions[j].leader_epoch);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_ofle_resp_decode(struct kbuf_r *r, int16_t v, struct proto_ofle_resp *resp)
{
	struct kmsg_dec d;
	size_t part_min;
	int rc;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_OFFSET_FOR_LEADER_EPOCH, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_OFFSET_FOR_LEADER_EPOCH, v));
	part_min = 2 + 4 + (v >= 1 ? 4 : 0) + 8 + d.flex;
	if (v >= 2)
		resp->throttle_time_ms = kbuf_read_i32(r);
	resp->n_topics = kmsg_count(&d, false, kmsg_topic_min(d.flex), PROTO_MAX_TOPICS);
	resp->topics = kmsg_alloc(&d, resp->n_topics, sizeof(*resp->topics));
	for (int32_t i = 0; i < resp->n_topics && !r->err; i++) {
		struct proto_ofle_resp_topic *t = &resp->topics[i];

		t->topic = kmsg_str(&d);
		t->n_partitions = kmsg_parts(&d, part_min);
		t->partitions = kmsg_alloc(&d, t->n_partitions, sizeof(*t->partitions));
		for (int32_t j = 0; j < t->n_partitions && !r->err; j++) {
			struct proto_ofle_resp_part *p = &t->partitions[j];

			p->error_code = kbuf_read_i16(r);
			p->partition = kbuf_read_i32(r);
			p->leader_epoch = v >= 1 ? kbuf_read_i32(r) : -1;
			p->end_offset = kbuf_read_i64(r);
			kmsg_tags(&d);
		}
		kmsg_tags(&d);
	}
	kmsg_tags(&d);
	rc = kmsg_end(&d);
	if (rc)
		proto_ofle_resp_free(resp);
	return rc;
}

void proto_ofle_resp_free(struct proto_ofle_resp *resp)
{
	if (!resp)
		return;
	for (int32_t i = 0; resp->topics && i < resp->n_topics; i++)
		free(resp->topics[i].partitions);
	KMSG_FREE(resp->topics, resp->n_topics);
}

int proto_ofle_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_ofle_resp *resp)
{
	bool flex = v >= 4;

	if (!proto_api_supported(PROTO_API_OFFSET_FOR_LEADER_EPOCH, v))
		return -EOPNOTSUPP;
	if (v >= 2)
		kbuf_write_i32(w, resp->throttle_time_ms);
	kmsg_write_len(w, flex, resp->n_topics);
	for (int32_t i = 0; i < resp->n_topics; i++) {
		const struct proto_ofle_resp_topic *t = &resp->topics[i];

		kmsg_write_str(w, flex, t->topic);
		kmsg_write_len(w, flex, t->n_partitions);
		for (int32_t j = 0; j < t->n_partitions; j++) {
			const struct proto_ofle_resp_part *p = &t->partitions[j];

			kbuf_write_i16(w, p->error_code);
			kbuf_write_i32(w, p->partition);
			if (v >= 1)
				kbuf_write_i32(w, p->leader_epoch);
			kbuf_write_i64(w, p->end_offset);
			kmsg_write_tags(w, flex);
		}
		kmsg_write_tags(w, flex);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}
