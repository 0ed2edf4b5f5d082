/*
 * proto_sasl.c — the SASL APIs of Kafka's protocol; the mechanism itself
 * (SCRAM-SHA-256) is sasl.c.
 *
 * SaslHandshake (17), v0-v1, never flexible:
 *   request  mechanism STRING
 *   response error_code INT16, mechanisms ARRAY of STRING
 * v1 announces that the tokens follow in SaslAuthenticate requests; after a
 * v0 handshake a client sends them as bare INT32-framed tokens instead,
 * outside Kafka's request framing.
 *
 * SaslAuthenticate (36), v0-v2, flexible from v2:
 *   request  auth_bytes BYTES
 *   response error_code INT16, error_message NULLABLE_STRING,
 *            auth_bytes BYTES, session_lifetime_ms INT64 (v1+)
 */
#include <errno.h>
#include <string.h>

#include "repl/proto.h"

int proto_sasl_handshake_req_decode(struct kbuf_r *r, int16_t v,
				    struct proto_sasl_handshake_req *req)
{
	req->mechanism = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_SASL_HANDSHAKE, v))
		return -EOPNOTSUPP;
	req->mechanism = kbuf_read_str(r);
	return kbuf_r_done(r);
}

int proto_sasl_handshake_req_encode(struct kbuf_w *w, int16_t v,
				    const struct proto_sasl_handshake_req *req)
{
	if (!proto_api_supported(PROTO_API_SASL_HANDSHAKE, v))
		return -EOPNOTSUPP;
	kbuf_write_string(w, req->mechanism, false, false);
	return kbuf_w_err(w);
}

int proto_sasl_handshake_resp_decode(struct kbuf_r *r, int16_t v,
				     struct proto_sasl_handshake_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_SASL_HANDSHAKE, v))
		return -EOPNOTSUPP;
	resp->error_code = kbuf_read_i16(r);
	resp->n_mechanisms = kbuf_read_array_len(r, false, false, 2);
	if (resp->n_mechanisms > PROTO_MAX_MECHANISMS)
		kbuf_r_fail(r);
	for (int32_t i = 0; i < resp->n_mechanisms && !r->err; i++)
		resp->mechanisms[i] = kbuf_read_str(r);
	if (kbuf_r_done(r)) {
		resp->n_mechanisms = 0;
		return -EBADMSG;
	}
	return 0;
}

int proto_sasl_handshake_resp_encode(struct kbuf_w *w, int16_t v,
				     const struct proto_sasl_handshake_resp *resp)
{
	if (!proto_api_supported(PROTO_API_SASL_HANDSHAKE, v))
		return -EOPNOTSUPP;
	if (resp->n_mechanisms < 0 || resp->n_mechanisms > PROTO_MAX_MECHANISMS)
		return -EINVAL;
	kbuf_write_i16(w, resp->error_code);
	kbuf_write_array_len(w, resp->n_mechanisms, false);
	for (int32_t i = 0; i < resp->n_mechanisms; i++)
		kbuf_write_string(w, resp->mechanisms[i], false, false);
	return kbuf_w_err(w);
}

int proto_sasl_auth_req_decode(struct kbuf_r *r, int16_t v, struct proto_sasl_auth_req *req)
{
	bool flex = v >= 2;

	req->auth_bytes = KSTR_NULL;
	if (!proto_api_supported(PROTO_API_SASL_AUTHENTICATE, v))
		return -EOPNOTSUPP;
	req->auth_bytes = kbuf_read_bytes(r, flex, false);
	if (flex)
		kbuf_read_tags(r, NULL, NULL);
	return kbuf_r_done(r);
}

int proto_sasl_auth_req_encode(struct kbuf_w *w, int16_t v, const struct proto_sasl_auth_req *req)
{
	bool flex = v >= 2;

	if (!proto_api_supported(PROTO_API_SASL_AUTHENTICATE, v))
		return -EOPNOTSUPP;
	kbuf_write_bytes(w, req->auth_bytes, flex, false);
	if (flex)
		kbuf_write_tags_empty(w);
	return kbuf_w_err(w);
}

int proto_sasl_auth_resp_decode(struct kbuf_r *r, int16_t v, struct proto_sasl_auth_resp *resp)
{
	bool flex = v >= 2;

	memset(resp, 0, sizeof(*resp));
	if (!proto_api_supported(PROTO_API_SASL_AUTHENTICATE, v))
		return -EOPNOTSUPP;
	resp->error_code = kbuf_read_i16(r);
	resp->error_message = kbuf_read_string(r, flex, true);
	resp->auth_bytes = kbuf_read_bytes(r, flex, false);
	if (v >= 1)
		resp->session_lifetime_ms = kbuf_read_i64(r);
	if (flex)
		kbuf_read_tags(r, NULL, NULL);
	return kbuf_r_done(r);
}

int proto_sasl_auth_resp_encode(struct kbuf_w *w, int16_t v,
				const struct proto_sasl_auth_resp *resp)
{
	bool flex = v >= 2;

	if (!proto_api_supported(PROTO_API_SASL_AUTHENTICATE, v))
		return -EOPNOTSUPP;
	kbuf_write_i16(w, resp->error_code);
	kbuf_write_string(w, resp->error_message, flex, true);
	kbuf_write_bytes(w, resp->auth_bytes.ptr ? resp->auth_bytes : (struct kstr){ "", 0 }, flex,
			 false);
	if (v >= 1)
		kbuf_write_i64(w, resp->session_lifetime_ms);
	if (flex)
		kbuf_write_tags_empty(w);
	return kbuf_w_err(w);
}
