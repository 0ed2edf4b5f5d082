/*
 * fuzz_request.c — libFuzzer entry point for the broker's request decoder
 * (repl/proto_hdr.c proto_req_decode): the input is one request frame
 * without its INT32 size, of any API. The decoder must return 0,
 * -EBADMSG or -EOPNOTSUPP and never read outside the input; a decoded
 * request is encoded back and decoded again to the same fields, so the
 * encoders run under the fuzzer too. Seeds: corpus/fuzz_request/ (one
 * valid frame per API and version family).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repl/proto.h"

/* Re-encodes a decoded body and decodes it again; aborts on a mismatch. */
static void roundtrip(const struct proto_req *req)
{
	struct proto_req again;
	struct kbuf_w w;
	size_t pos;
	int rc;

	kbuf_w_init(&w, PROTO_MAX_FRAME);
	pos = proto_req_begin(&w, &req->hdr);
	switch (req->hdr.api_key) {
	case PROTO_API_FETCH:
		rc = proto_fetch_req_encode(&w, req->hdr.api_version, &req->u.fetch);
		break;
	case PROTO_API_OFFSET_FOR_LEADER_EPOCH:
		rc = proto_ofle_req_encode(&w, req->hdr.api_version, &req->u.ofle);
		break;
	case PROTO_API_API_VERSIONS:
		rc = proto_api_versions_req_encode(&w, req->hdr.api_version, &req->u.api_versions);
		break;
	case PROTO_API_SASL_HANDSHAKE:
		rc = proto_sasl_handshake_req_encode(&w, req->hdr.api_version, &req->u.sasl_handshake);
		break;
	default:
		rc = proto_sasl_auth_req_encode(&w, req->hdr.api_version, &req->u.sasl_auth);
		break;
	}
	if (!rc)
		rc = proto_frame_end(&w, pos);
	if (rc) {
		kbuf_w_free(&w);
		return;
	}
	if (proto_req_decode(w.buf + 4, w.len - 4, &again) != 0 ||
	    again.hdr.api_key != req->hdr.api_key ||
	    again.hdr.correlation_id != req->hdr.correlation_id)
		abort();
	if (req->hdr.api_key == PROTO_API_FETCH &&
	    (again.u.fetch.n_topics != req->u.fetch.n_topics ||
	     again.u.fetch.max_wait_ms != req->u.fetch.max_wait_ms))
		abort();
	proto_req_free(&again);
	kbuf_w_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_req req;
	uint8_t *copy = malloc(size ? size : 1);
	int rc;

	/* A copy of exactly size bytes, so ASan sees any over-read. */
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	rc = proto_req_decode(copy, size, &req);
	if (rc != 0 && rc != -EBADMSG && rc != -EOPNOTSUPP && rc != -ENOMEM)
		abort();
	if (rc == 0)
		roundtrip(&req);
	proto_req_free(&req);
	free(copy);
	return 0;
}
