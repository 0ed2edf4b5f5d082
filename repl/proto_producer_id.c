/*
 * proto_producer_id.c — InitProducerId (22) v0-v4: how a Kafka client
 * with enable.idempotence gets its producer id and epoch. Structs in
 * proto.h.
 *
 * Request
 *   transactional_id NULLABLE_STRING (null: idempotent, not transactional),
 *   transaction_timeout_ms INT32,
 *   producer_id INT64 (v3+, -1), producer_epoch INT16 (v3+, -1)
 * Response
 *   throttle_time_ms INT32, error_code INT16, producer_id INT64,
 *   producer_epoch INT16
 * v2 and later are flexible (compact string, TAGGED_FIELDS at the end);
 * v1 is v0, v4 is v3 (it only adds PRODUCER_FENCED to the error codes).
 */
#include <errno.h>
#include <string.h>

#include "repl/kmsg.h"
#include "repl/proto.h"

int proto_init_pid_req_decode(struct kbuf_r *r, int16_t v, struct proto_init_pid_req *req)
{
	struct kmsg_dec d;

	memset(req, 0, sizeof(*req));
	req->producer_id = -1;
	req->producer_epoch = -1;
	if (!proto_api_supported(PROTO_API_INIT_PRODUCER_ID, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_INIT_PRODUCER_ID, v));
	req->transactional_id = kmsg_nstr(&d);
	req->transaction_timeout_ms = kbuf_read_i32(r);
	if (v >= 3) {
		req->producer_id = kbuf_read_i64(r);
		req->producer_epoch = kbuf_read_i16(r);
	}
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_init_pid_req_encode(struct kbuf_w *w, int16_t v, const struct proto_init_pid_req *req)
{
	bool flex = proto_is_flexible(PROTO_API_INIT_PRODUCER_ID, v);

	if (!proto_api_supported(PROTO_API_INIT_PRODUCER_ID, v))
		return -EOPNOTSUPP;
	kmsg_write_nstr(w, flex, req->transactional_id);
	kbuf_write_i32(w, req->transaction_timeout_ms);
	if (v >= 3) {
		kbuf_write_i64(w, req->producer_id);
		kbuf_write_i16(w, req->producer_epoch);
	}
	kmsg_write_tags(w, flex);
	return kbuf_w_err(w);
}

int proto_init_pid_resp_decode(struct kbuf_r *r, int16_t v, struct proto_init_pid_resp *resp)
{
	struct kmsg_dec d;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_INIT_PRODUCER_ID, v))
		return -EOPNOTSUPP;
	kmsg_dec_init(&d, r, proto_is_flexible(PROTO_API_INIT_PRODUCER_ID, v));
	resp->throttle_time_ms = kbuf_read_i32(r);
	resp->error_code = kbuf_read_i16(r);
	resp->producer_id = kbuf_read_i64(r);
	resp->producer_epoch = kbuf_read_i16(r);
	kmsg_tags(&d);
	return kmsg_end(&d);
}

int proto_init_pid_resp_encode(struct kbuf_w *w, int16_t v, const struct proto_init_pid_resp *resp)
{
	if (!proto_api_supported(PROTO_API_INIT_PRODUCER_ID, v))
		return -EOPNOTSUPP;
	kbuf_write_i32(w, resp->throttle_time_ms);
	kbuf_write_i16(w, resp->error_code);
	kbuf_write_i64(w, resp->producer_id);
	kbuf_write_i16(w, resp->producer_epoch);
	kmsg_write_tags(w, proto_is_flexible(PROTO_API_INIT_PRODUCER_ID, v));
	return kbuf_w_err(w);
}
