/*
 * protofx.c — shared checks of the codec tests (protofx.h).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/protofx.h"

int protofx_cuts(protofx_dec_fn dec, protofx_free_fn fr, const uint8_t *buf, size_t len, int16_t v,
		 void *out)
{
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);

		assert_non_null(copy);
		memcpy(copy, buf, cut);
		assert_int_equal(dec(copy, cut, v, out), -EBADMSG);
		fr(out);
		free(copy);
	}
	return dec(buf, len, v, out);
}

static int req_dec(const uint8_t *buf, size_t len, int16_t v, void *out)
{
	(void)v;
	return proto_req_decode(buf, len, out);
}

static void req_free(void *out)
{
	proto_req_free(out);
}

int protofx_req_cuts(const uint8_t *frame, size_t len, struct proto_req *req)
{
	return protofx_cuts(req_dec, req_free, frame, len, 0, req);
}

void protofx_same_bytes(protofx_dec_fn dec, protofx_enc_fn enc, protofx_free_fn fr,
			const uint8_t *buf, size_t len, int16_t v, void *out)
{
	struct kbuf_w w;

	assert_int_equal(protofx_cuts(dec, fr, buf, len, v, out), 0);
	kbuf_w_init(&w, len + 64);
	assert_int_equal(enc(&w, v, out), 0);
	assert_int_equal(w.len, len);
	assert_memory_equal(w.buf, buf, len);
	kbuf_w_free(&w);
}

size_t protofx_frame_of(const struct proto_req_hdr *hdr, protofx_req_enc_fn enc, const void *body,
			uint8_t **buf)
{
	struct kbuf_w w;
	size_t pos, len;

	kbuf_w_init(&w, PROTO_MAX_FRAME);
	pos = proto_req_begin(&w, hdr);
	assert_int_equal(enc(&w, hdr->api_version, body), 0);
	assert_int_equal(proto_frame_end(&w, pos), 0);
	len = w.len - 4;
	*buf = malloc(len);
	assert_non_null(*buf);
	memcpy(*buf, w.buf + 4, len);
	kbuf_w_free(&w);
	return len;
}

void protofx_req_same_bytes(const uint8_t *frame, size_t len, protofx_req_enc_fn enc,
			    protofx_body_fn body, struct proto_req *req)
{
	uint8_t *again;
	size_t n;

	assert_int_equal(protofx_req_cuts(frame, len, req), 0);
	n = protofx_frame_of(&req->hdr, enc, body(req), &again);
	assert_int_equal(n, len);
	assert_memory_equal(again, frame, len);
	free(again);
}

void protofx_req_round(int16_t api, int16_t v, protofx_req_enc_fn enc, protofx_body_fn body,
		       const void *in, struct proto_req *req, uint8_t **frame)
{
	struct proto_req_hdr hdr = { api, v, 100 + v, kstr_of("c") };
	size_t len = protofx_frame_of(&hdr, enc, in, frame);

	protofx_req_same_bytes(*frame, len, enc, body, req);
}

void protofx_fetch_init(struct protofx_fetch *f, const char *topic, int32_t replica_id,
			int32_t current_leader_epoch, int64_t fetch_offset,
			int32_t last_fetched_epoch, int32_t max_wait_ms)
{
	f->part = (struct proto_fetch_part){ .partition = 0,
					     .current_leader_epoch = current_leader_epoch,
					     .fetch_offset = fetch_offset,
					     .last_fetched_epoch = last_fetched_epoch,
					     .log_start_offset = -1,
					     .partition_max_bytes = 1 << 20 };
	f->topic = (struct proto_fetch_topic){ kstr_of(topic), 1, &f->part };
	f->req = (struct proto_fetch_req){ .cluster_id = KSTR_NULL,
					   .replica_id = replica_id,
					   .max_wait_ms = max_wait_ms,
					   .min_bytes = 1,
					   .max_bytes = 1 << 20,
					   .session_epoch = -1,
					   .n_topics = 1,
					   .topics = &f->topic,
					   .rack_id = kstr_of("") };
}

void protofx_resp_round(protofx_dec_fn dec, protofx_enc_fn enc, protofx_free_fn fr, int16_t v,
			const void *in, void *out, uint8_t **buf)
{
	struct kbuf_w w;

	kbuf_w_init(&w, 1 << 20);
	assert_int_equal(enc(&w, v, in), 0);
	*buf = malloc(w.len ? w.len : 1);
	assert_non_null(*buf);
	memcpy(*buf, w.buf, w.len);
	protofx_same_bytes(dec, enc, fr, *buf, w.len, v, out);
	kbuf_w_free(&w);
}
