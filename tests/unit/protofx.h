/*
 * protofx.h — what the codec tests of each API group share: decoding a
 * message at every truncation, and a round trip that must give back the
 * same bytes. A decoder is wrapped as protofx_dec_fn so one helper serves
 * every request and response type.
 */
#ifndef MQFS_TESTS_PROTOFX_H
#define MQFS_TESTS_PROTOFX_H

#include <stddef.h>
#include <stdint.h>

#include "repl/proto.h"

#define PROTOFX_BYTES(...) \
	((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

/* Big-endian INT32 / INT64 bytes, for hand-built frames. */
#define PI32(x)                                                         \
	(uint8_t)((uint32_t)(x) >> 24), (uint8_t)((uint32_t)(x) >> 16), \
		(uint8_t)((uint32_t)(x) >> 8), (uint8_t)(x)
#define PI64(x) PI32((uint64_t)(x) >> 32), PI32(x)

/* Decodes buf[0..len) as version v into out (a decoded struct); frees
 * with the matching _free when it returns an error itself. */
typedef int (*protofx_dec_fn)(const uint8_t *buf, size_t len, int16_t v, void *out);
typedef void (*protofx_free_fn)(void *out);

/* Asserts that every strict prefix of buf (copied to a buffer of exactly
 * that size, so ASan sees an over-read) fails with -EBADMSG, then decodes
 * the whole of it into out and returns the decoder's result. */
int protofx_cuts(protofx_dec_fn dec, protofx_free_fn fr, const uint8_t *buf, size_t len, int16_t v,
		 void *out);

/* The same for a whole request frame (without its size) through
 * proto_req_decode. */
int protofx_req_cuts(const uint8_t *frame, size_t len, struct proto_req *req);

/* Asserts that buf decodes (at v, with every truncation refused), that
 * encode(decoded) writes exactly buf again, and leaves the decoded struct
 * in out for field checks (freed by the caller). */
typedef int (*protofx_enc_fn)(struct kbuf_w *w, int16_t v, const void *in);
void protofx_same_bytes(protofx_dec_fn dec, protofx_enc_fn enc, protofx_free_fn fr,
			const uint8_t *buf, size_t len, int16_t v, void *out);

/* A request body encoder, and how to find the body in a decoded request. */
typedef int (*protofx_req_enc_fn)(struct kbuf_w *w, int16_t v, const void *body);
typedef const void *(*protofx_body_fn)(const struct proto_req *req);

/* The request frame of (hdr, body) without its size field, in *buf (the
 * caller frees it); returns its length. */
size_t protofx_frame_of(const struct proto_req_hdr *hdr, protofx_req_enc_fn enc, const void *body,
			uint8_t **buf);
/* Decodes frame (every truncation refused) into req and encodes it again:
 * asserts the same bytes. req is the caller's to free. */
void protofx_req_same_bytes(const uint8_t *frame, size_t len, protofx_req_enc_fn enc,
			    protofx_body_fn body, struct proto_req *req);

/* name_dec, name_renc (PROTOFX_RESP_DEC_ENC) and name_free
 * (PROTOFX_RESP_CODEC) over proto_<type>_resp_{decode,encode,free}, in
 * the shapes above. */
#define PROTOFX_RESP_DEC_ENC(name, type)                                        \
	static int name##_dec(const uint8_t *b, size_t n, int16_t v, void *out) \
	{                                                                       \
		struct kbuf_r r;                                                \
		kbuf_r_init(&r, b, n);                                          \
		return proto_##type##_resp_decode(&r, v, out);                  \
	}                                                                       \
	static int name##_renc(struct kbuf_w *w, int16_t v, const void *in)     \
	{                                                                       \
		return proto_##type##_resp_encode(w, v, in);                    \
	}
#define PROTOFX_RESP_CODEC(name, type)       \
	PROTOFX_RESP_DEC_ENC(name, type)     \
	static void name##_free(void *p)     \
	{                                    \
		proto_##type##_resp_free(p); \
	}

/* A request body of api at version v, framed (header "c"), through
 * protofx_req_same_bytes; *frame (which req's strings point into) is the
 * caller's to free after req. */
void protofx_req_round(int16_t api, int16_t v, protofx_req_enc_fn enc, protofx_body_fn body,
		       const void *in, struct proto_req *req, uint8_t **frame);
/* A response body encoded at v, through protofx_same_bytes into out;
 * *buf the same way. */
void protofx_resp_round(protofx_dec_fn dec, protofx_enc_fn enc, protofx_free_fn fr, int16_t v,
			const void *in, void *out, uint8_t **buf);

/* A Fetch of partition 0 of one topic, as a follower (replica_id >= 0) or
 * a consumer (-1) sends it: min_bytes 1, 1 MiB per partition and in all,
 * no session. The three parts point at each other: f must not move. */
struct protofx_fetch {
	struct proto_fetch_part part;
	struct proto_fetch_topic topic;
	struct proto_fetch_req req;
};
void protofx_fetch_init(struct protofx_fetch *f, const char *topic, int32_t replica_id,
			int32_t current_leader_epoch, int64_t fetch_offset,
			int32_t last_fetched_epoch, int32_t max_wait_ms);

#endif
