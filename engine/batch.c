/*
 * batch.c — Kafka record batch v2: header decoding, validation, the builder
 * and the record iterator. The format (header fields byte by byte, the
 * record layout) is written down in batch.h; this file keeps to it.
 *
 * Validity, in the order it is checked:
 *   1. batch_hdr_decode: at least 61 bytes, magic 2, batchLength >= 49,
 *      recordsCount >= 0.
 *   2. batch_validate: batchLength + 12 is exactly the length given,
 *      lastOffsetDelta >= 0, CRC-32C of bytes 21..end equals the crc field.
 *   3. batch_iter_init: the CRC-32C matches (as in 2: every reader checks
 *      it, so a byte flipped on disk is never served as a record); the
 *      payload decompresses (when attributes name a codec) to at most
 *      COMPRESS_MAX_OUT bytes; recordsCount <= lastOffsetDelta + 1, since deltas are
 *      distinct and in 0..lastOffsetDelta (fewer records than that is
 *      fine: compaction removes records but keeps lastOffsetDelta).
 *   4. batch_iter_next, per record: each varint is complete and inside the
 *      record, the record's length is exactly the bytes its fields take,
 *      key/value lengths are >= -1, header keys are not null, offset deltas
 *      strictly increase from >= 0 and never pass lastOffsetDelta, and the
 *      payload holds exactly recordsCount records, no bytes left over.
 *
 * Offsets and timestamps are base + delta with two's-complement wrap (as in
 * Java); a hostile batch can make them odd but never undefined behaviour.
 *
 * Hot path: the builder and the iterator run once per record (about ten
 * million per GiB of small records), so neither allocates per record nor
 * calls through pointers. The varints of a small record are one or two
 * bytes; those are written and read by inline copies of varint.c's code
 * below, longer ones on the read side go to varint.c.
 *
 * Nothing here keeps global state. A builder or an iterator belongs to one
 * thread at a time; the batch bytes they read may be shared read-only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/ctlscan.h"

#define BATCH_HAVE_AVX2 CTL_HAVE_AVX2

/* Smallest possible record: length, attributes, timestampDelta,
 * offsetDelta, keyLength, valueLength, headersCount, one byte each. */
#define REC_MIN_SIZE 7

/* Readers: read a varint from *pp, not past end, and advance *pp; 0 or
 * -EBADMSG. One- and two-byte varints inline, longer ones in varint.c. */
static inline int get_vi64(const uint8_t **pp, const uint8_t *end, int64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t z;
	int n;

	if (p < end && p[0] < 0x80) {
		z = p[0];
		*v = (int64_t)((z >> 1) ^ -(z & 1));
		*pp = p + 1;
		return 0;
	}
	if (end - p >= 2 && p[1] < 0x80) {
		z = (p[0] & 0x7fu) | (uint64_t)p[1] << 7;
		*v = (int64_t)((z >> 1) ^ -(z & 1));
		*pp = p + 2;
		return 0;
	}
	n = varint_get64(p, (size_t)(end - p), v);
	if (n < 0)
		return n;
	*pp = p + n;
	return 0;
}

static inline int get_vi32(const uint8_t **pp, const uint8_t *end, int32_t *v)
{
	const uint8_t *p = *pp;
	int64_t w;
	int rc;

	/* At most 5 bytes, and the value must fit an int32 (as varint_get32). */
	rc = get_vi64(pp, end - p > 5 ? p + 5 : end, &w);
	if (rc < 0)
		return rc;
	if (w < INT32_MIN || w > INT32_MAX) {
		*pp = p;
		return -EBADMSG;
	}
	*v = (int32_t)w;
	return 0;
}

/* Reads a length (>= -1) and skips that many bytes, which must lie before
 * end. *data is NULL for -1. 0 or -EBADMSG. */
static inline int get_bytes(const uint8_t **pp, const uint8_t *end, const uint8_t **data,
			    int32_t *len)
{
	const uint8_t *p = *pp;

	if (get_vi32(&p, end, len) < 0 || *len < -1)
		return -EBADMSG;
	if (*len < 0) {
		*data = NULL;
	} else {
		if (*len > end - p)
			return -EBADMSG;
		*data = p;
		p += *len;
	}
	*pp = p;
	return 0;
}

static inline int64_t add_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

static inline int64_t sub_wrap(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

/* ---- header ---- */

int batch_hdr_decode(const uint8_t *buf, size_t len, struct batch_hdr *h)
{
	if (len < BATCH_HDR_SIZE)
		return -EBADMSG;
	h->base_offset = (int64_t)be64_get(buf + BATCH_OFF_BASE_OFFSET);
	h->batch_length = (int32_t)be32_get(buf + BATCH_OFF_LENGTH);
	h->partition_leader_epoch = (int32_t)be32_get(buf + BATCH_OFF_LEADER_EPOCH);
	h->magic = (int8_t)buf[BATCH_OFF_MAGIC];
	h->crc = be32_get(buf + BATCH_OFF_CRC);
	h->attributes = (int16_t)be16_get(buf + BATCH_OFF_ATTRIBUTES);
	h->last_offset_delta = (int32_t)be32_get(buf + BATCH_OFF_LAST_DELTA);
	h->base_timestamp = (int64_t)be64_get(buf + BATCH_OFF_BASE_TS);
	h->max_timestamp = (int64_t)be64_get(buf + BATCH_OFF_MAX_TS);
	h->producer_id = (int64_t)be64_get(buf + 43);
	h->producer_epoch = (int16_t)be16_get(buf + 51);
	h->base_sequence = (int32_t)be32_get(buf + 53);
	h->records_count = (int32_t)be32_get(buf + BATCH_OFF_COUNT);
	if (h->magic != BATCH_MAGIC || h->batch_length < BATCH_HDR_SIZE - BATCH_LOG_OVERHEAD ||
	    h->records_count < 0)
		return -EBADMSG;
	return 0;
}

int batch_validate(const uint8_t *buf, size_t len)
{
	struct batch_hdr h;

	if (batch_hdr_decode(buf, len, &h) < 0)
		return -EBADMSG;
	if ((uint64_t)h.batch_length + BATCH_LOG_OVERHEAD != len || h.last_offset_delta < 0)
		return -EBADMSG;
	if (crc32c(0, buf + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES) != h.crc)
		return -EBADMSG;
	return 0;
}

void batch_set_base(uint8_t *buf, int64_t base_offset, int32_t leader_epoch)
{
	be64_put(buf + BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
	be32_put(buf + BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
}

/* ---- builder ---- */

void batch_builder_init(struct batch_builder *bb, uint8_t *buf, size_t cap, int codec)
{
	bb->buf = buf;
	bb->cap = cap;
	bb->len = BATCH_HDR_SIZE;
	bb->codec = codec;
	bb->count = 0;
	bb->base_timestamp = 0;
	bb->max_timestamp = 0;
	bb->producer_id = -1;
	bb->producer_epoch = -1;
	bb->base_sequence = -1;
	bb->log_append_time = false;
	bb->delete_horizon = -1;
}

void batch_builder_set_delete_horizon(struct batch_builder *bb, int64_t ms)
{
	bb->delete_horizon = ms;
	bb->base_timestamp = ms;
}

size_t batch_record_max_size(int32_t key_len, int32_t value_len)
{
	/* length 5, attributes 1, timestampDelta 10, offsetDelta 5,
	 * keyLength 5, valueLength 5, headersCount 1 */
	return 32 + (size_t)(key_len > 0 ? key_len : 0) + (size_t)(value_len > 0 ? value_len : 0);
}

int batch_builder_add(struct batch_builder *bb, const void *key, int32_t key_len, const void *value,
		      int32_t value_len, int64_t timestamp)
{
	return batch_builder_add_headers(bb, key, key_len, value, value_len, timestamp, 0, NULL, 0);
}

int batch_builder_add_headers(struct batch_builder *bb, const void *key, int32_t key_len,
			      const void *value, int32_t value_len, int64_t timestamp,
			      int32_t headers_count, const uint8_t *headers, size_t headers_len)
{
	uint64_t body, need;
	int64_t ts_delta;
	uint8_t *p;

	if (key_len < -1 || value_len < -1 || (key_len > 0 && !key) || (value_len > 0 && !value) ||
	    headers_count < 0 || (headers_len > 0 && !headers) || headers_len > INT32_MAX ||
	    (headers_count == 0 && headers_len > 0))
		return -EINVAL;
	if (bb->count == INT32_MAX)
		return -ENOSPC; /* offsetDelta would overflow */
	ts_delta =
		bb->count || bb->delete_horizon >= 0 ? sub_wrap(timestamp, bb->base_timestamp) : 0;

	/* attributes + timestampDelta + offsetDelta + key + value + headersCount
	 * + headers */
	body = 1 + (uint64_t)size_vi64(ts_delta) + (uint64_t)size_vi32(bb->count) +
	       (uint64_t)size_vi32(key_len) + (uint64_t)(key_len > 0 ? key_len : 0) +
	       (uint64_t)size_vi32(value_len) + (uint64_t)(value_len > 0 ? value_len : 0) +
	       (uint64_t)size_vi32(headers_count) + (uint64_t)headers_len;
	if (body > INT32_MAX)
		return -ENOSPC;
	need = (uint64_t)size_vi32((int32_t)body) + body;
	/* Must fit the buffer, and batchLength (an int32) must stay valid. */
	if (bb->len > bb->cap || need > bb->cap - bb->len ||
	    bb->len - BATCH_LOG_OVERHEAD + need > INT32_MAX)
		return -ENOSPC;

	p = bb->buf + bb->len;
	p += varint_put32(p, (int32_t)body);
	*p++ = 0; /* attributes */
	p += varint_put64(p, ts_delta);
	p += varint_put32(p, bb->count); /* offsetDelta */
	p += varint_put32(p, key_len);
	if (key_len > 0) {
		memcpy(p, key, (size_t)key_len);
		p += key_len;
	}
	p += varint_put32(p, value_len);
	if (value_len > 0) {
		memcpy(p, value, (size_t)value_len);
		p += value_len;
	}
	p += varint_put32(p, headers_count);
	if (headers_len > 0)
		memcpy(p, headers, headers_len);

	bb->len += (size_t)need;
	if (bb->count == 0) {
		if (bb->delete_horizon < 0)
			bb->base_timestamp = timestamp;
		bb->max_timestamp = timestamp;
	} else if (timestamp > bb->max_timestamp) {
		bb->max_timestamp = timestamp;
	}
	bb->count++;
	return 0;
}

int64_t batch_builder_finish(struct batch_builder *bb, int64_t base_offset, int32_t leader_epoch)
{
	uint8_t *buf = bb->buf;
	size_t len = bb->len;

	if (bb->count == 0)
		return -EINVAL;
	if (len - BATCH_HDR_SIZE > COMPRESS_MAX_OUT)
		bb->codec = BATCH_CODEC_NONE; /* see batch.h: no reader could take it */
	if (bb->codec != BATCH_CODEC_NONE) {
		uint8_t *z = NULL;
		int64_t zlen =
			compress_buf(bb->codec, buf + BATCH_HDR_SIZE, len - BATCH_HDR_SIZE, &z);

		if (zlen < 0)
			return zlen;
		/* add() only made sure the uncompressed records fit. The
		 * records in buf stay intact when the compressed ones do not,
		 * and are kept as they are: a batch over the caller's cap
		 * would pass the bound it stands for (see batch.h). */
		if ((uint64_t)zlen > bb->cap - BATCH_HDR_SIZE) {
			bb->codec = BATCH_CODEC_NONE;
		} else {
			memcpy(buf + BATCH_HDR_SIZE, z, (size_t)zlen);
			len = BATCH_HDR_SIZE + (size_t)zlen;
		}
		free(z);
	}
	if (len - BATCH_LOG_OVERHEAD > INT32_MAX)
		return -EMSGSIZE;

	be64_put(buf + BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
	be32_put(buf + BATCH_OFF_LENGTH, (uint32_t)(len - BATCH_LOG_OVERHEAD));
	be32_put(buf + BATCH_OFF_LEADER_EPOCH, (uint32_t)leader_epoch);
	buf[BATCH_OFF_MAGIC] = BATCH_MAGIC;
	be16_put(buf + BATCH_OFF_ATTRIBUTES,
		 (uint16_t)((bb->codec & BATCH_CODEC_MASK) |
			    (bb->log_append_time ? BATCH_ATTR_LOG_APPEND_TIME : 0) |
			    (bb->delete_horizon >= 0 ? BATCH_ATTR_DELETE_HORIZON : 0)));
	be32_put(buf + BATCH_OFF_LAST_DELTA, (uint32_t)(bb->count - 1));
	be64_put(buf + BATCH_OFF_BASE_TS, (uint64_t)bb->base_timestamp);
	be64_put(buf + BATCH_OFF_MAX_TS, (uint64_t)bb->max_timestamp);
	be64_put(buf + BATCH_OFF_PRODUCER_ID, (uint64_t)bb->producer_id);
	be16_put(buf + BATCH_OFF_PRODUCER_EPOCH, (uint16_t)bb->producer_epoch);
	be32_put(buf + BATCH_OFF_BASE_SEQUENCE, (uint32_t)bb->base_sequence);
	be32_put(buf + BATCH_OFF_COUNT, (uint32_t)bb->count);
	be32_put(buf + BATCH_OFF_CRC,
		 crc32c(0, buf + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
	bb->len = len;
	return (int64_t)len;
}

bool batches_hold_codec(const uint8_t *b, size_t len, int codec)
{
	size_t at = 0;

	/* The header up to its attributes shows the codec. */
	while (len - at >= BATCH_OFF_ATTRIBUTES + 2) {
		const uint8_t *h = b + at;
		int64_t total = batch_total_size(h);

		if (h[BATCH_OFF_MAGIC] == 2 &&
		    (be16_get(h + BATCH_OFF_ATTRIBUTES) & BATCH_CODEC_MASK) == codec)
			return true;
		if (total <= BATCH_LOG_OVERHEAD || (uint64_t)total > len - at)
			break;
		at += (size_t)total;
	}
	return false;
}

/* ---- iterator ---- */

/* The iterator must start zeroed (or be one that was used before): owned
 * and owned_cap carry over between batches. */
static int iter_init(struct batch_iter *it, const uint8_t *batch, size_t len, bool check_crc,
		     bool client)
{
	int64_t total, n;
	int codec;

	it->p = it->end = NULL;
	it->remaining = 0;
	it->last_delta = -1;
	if (batch_hdr_decode(batch, len, &it->hdr) < 0)
		return -EBADMSG;
	/* Only the batch's own bytes, when len covers more. */
	total = (int64_t)it->hdr.batch_length + BATCH_LOG_OVERHEAD;
	if ((uint64_t)total > len || it->hdr.last_offset_delta < 0 ||
	    (int64_t)it->hdr.records_count > (int64_t)it->hdr.last_offset_delta + 1)
		return -EBADMSG;
	if (check_crc && crc32c(0, batch + BATCH_OFF_ATTRIBUTES,
				(size_t)total - BATCH_OFF_ATTRIBUTES) != it->hdr.crc)
		return -EBADMSG;

	codec = it->hdr.attributes & BATCH_CODEC_MASK;
	if (codec == BATCH_CODEC_NONE) {
		it->p = batch + BATCH_HDR_SIZE;
		it->end = batch + total;
	} else {
		n = (client ? decompress_client : decompress_buf)(codec, batch + BATCH_HDR_SIZE,
								  (size_t)total - BATCH_HDR_SIZE,
								  &it->owned, &it->owned_cap);
		if (n < 0)
			return (int)n;
		it->p = it->owned;
		it->end = it->owned + n;
	}
	if (it->hdr.records_count > (it->end - it->p) / REC_MIN_SIZE) {
		it->p = it->end = NULL;
		return -EBADMSG;
	}
	it->remaining = it->hdr.records_count;
	return 0;
}

int batch_iter_init(struct batch_iter *it, const uint8_t *batch, size_t len)
{
	return iter_init(it, batch, len, true, false);
}

int batch_iter_init_client(struct batch_iter *it, const uint8_t *batch, size_t len)
{
	return iter_init(it, batch, len, true, true);
}

int batch_iter_init_nocrc(struct batch_iter *it, const uint8_t *batch, size_t len)
{
	return iter_init(it, batch, len, false, false);
}

/* The record at it->p into *r, checked as the file header's rule 4 says,
 * and the iterator moved past it. 1, 0 at the end, -EBADMSG. Shared by
 * batch_iter_next and batch_iter_plain_lines, inlined into both. */
static inline __attribute__((always_inline)) int iter_rec(struct batch_iter *it, struct rec *r)
{
	const uint8_t *p = it->p, *end = it->end, *rec_end;
	const uint8_t *key, *value, *hk, *hv;
	int32_t length, offset_delta, key_len, value_len, headers_count;
	int32_t hk_len, hv_len;
	int64_t ts_delta;

	if (it->remaining <= 0)
		return p == end ? 0 : -EBADMSG; /* bytes after the last record */

	if (get_vi32(&p, end, &length) < 0 || length < 0 || length > end - p)
		return -EBADMSG;
	rec_end = p + length;
	if (p == rec_end)
		return -EBADMSG;
	p++; /* attributes: unused */
	if (get_vi64(&p, rec_end, &ts_delta) < 0 || get_vi32(&p, rec_end, &offset_delta) < 0)
		return -EBADMSG;
	if (offset_delta <= it->last_delta || offset_delta > it->hdr.last_offset_delta)
		return -EBADMSG;
	if (get_bytes(&p, rec_end, &key, &key_len) < 0 ||
	    get_bytes(&p, rec_end, &value, &value_len) < 0 ||
	    get_vi32(&p, rec_end, &headers_count) < 0 || headers_count < 0)
		return -EBADMSG;
	r->headers = p;
	/* Each header takes at least 2 bytes, so this loop is bounded by
	 * the record's length whatever headers_count claims. */
	for (int32_t i = 0; i < headers_count; i++) {
		if (get_bytes(&p, rec_end, &hk, &hk_len) < 0 || hk_len < 0 ||
		    get_bytes(&p, rec_end, &hv, &hv_len) < 0)
			return -EBADMSG;
	}
	if (p != rec_end)
		return -EBADMSG;

	r->offset = add_wrap(it->hdr.base_offset, offset_delta);
	/* LogAppendTime: every record's time is the batch's (as Kafka reads it). */
	r->timestamp = it->hdr.attributes & BATCH_ATTR_LOG_APPEND_TIME
			       ? it->hdr.max_timestamp
			       : add_wrap(it->hdr.base_timestamp, ts_delta);
	r->key = key;
	r->key_len = key_len;
	r->value = value;
	r->value_len = value_len;
	r->headers_count = headers_count;
	r->headers_end = p;
	it->p = p;
	it->last_delta = offset_delta;
	it->remaining--;
	return 1;
}

int batch_iter_next(struct batch_iter *it, struct rec *r)
{
	return iter_rec(it, r);
}

/* A one- or two-byte varint at *pp, not past end, as get_vi64 reads it;
 * false for any other. */
static inline bool get_vi2(const uint8_t **pp, const uint8_t *end, int32_t *v)
{
	const uint8_t *p = *pp;
	uint32_t z;

	if (p < end && p[0] < 0x80) {
		z = p[0];
		*pp = p + 1;
	} else if (end - p >= 2 && p[1] < 0x80) {
		z = (p[0] & 0x7fu) | (uint32_t)p[1] << 7;
		*pp = p + 2;
	} else {
		return false;
	}
	*v = (int32_t)((z >> 1) ^ (0u - (z & 1)));
	return true;
}

/* The record at it->p when it has the form of a written line: key null, a
 * value, no headers, its varints of one or two bytes. Gives its value and
 * moves the iterator past it exactly as iter_rec would (the same checks,
 * in the order of its fields); false, with nothing moved, for any other
 * record, which iter_rec then reads or refuses. */
static inline __attribute__((always_inline)) bool line_rec(struct batch_iter *it,
							   const uint8_t **value,
							   int32_t *value_len,
							   int32_t *ts_delta_out,
							   int32_t *offset_delta_out)
{
	const uint8_t *p = it->p, *end = it->end, *rec_end;
	int32_t length, ts_delta, offset_delta, vl;

	if (it->remaining <= 0 || !get_vi2(&p, end, &length) || length < 0 || length > end - p)
		return false;
	rec_end = p + length;
	if (p == rec_end)
		return false;
	p++; /* attributes: unused */
	if (!get_vi2(&p, rec_end, &ts_delta) || !get_vi2(&p, rec_end, &offset_delta) ||
	    offset_delta <= it->last_delta || offset_delta > it->hdr.last_offset_delta)
		return false;
	if (p >= rec_end || *p != 0x01) /* keyLength -1 */
		return false;
	p++;
	if (!get_vi2(&p, rec_end, &vl) || vl < 0 || vl != rec_end - p - 1 || p[vl] != 0)
		return false; /* not followed by headersCount 0 alone */
	*value = p;
	*value_len = vl;
	*ts_delta_out = ts_delta;
	*offset_delta_out = offset_delta;
	it->p = rec_end;
	it->last_delta = offset_delta;
	it->remaining--;
	return true;
}

/* One loop over the records with the line written as each is checked: no
 * call and no struct rec handed out per record, which is most of a read's
 * decoding time for small records. Records in the form of written lines
 * (line_rec) take a shorter path still: their value is copied 32 bytes
 * at a time where the output and the batch have room for the overrun. */
int64_t batch_iter_plain_lines(struct batch_iter *it, const char *sep, int sep_len, char *out,
			       int64_t room, int64_t *records)
{
	int64_t used = 0, n = 0;
	struct rec r;
	const uint8_t *v;
	int32_t vl, tsd, od;
	int rc;

	for (;;) {
		if (line_rec(it, &v, &vl, &tsd, &od)) {
			char *o = out + used;

			if (vl + 1 > room - used)
				return -ENOSPC;
			if (room - used >= vl + 32 && it->end - v >= vl + 32) {
				for (int32_t k = 0; k < vl; k += 32)
					memcpy(o + k, v + k, 32);
			} else {
				memcpy(o, v, (size_t)vl);
			}
			o[vl] = '\n';
			used += vl + 1;
			n++;
			continue;
		}
		if ((rc = iter_rec(it, &r)) != 1)
			break;
		bool keyed = sep_len > 0 && r.key_len >= 0;
		int64_t vl = r.value_len > 0 ? r.value_len : 0;
		int64_t len = vl + 1 + (keyed ? r.key_len + sep_len : 0);
		char *o = out + used;

		if (len > room - used)
			return -ENOSPC;
		if (keyed) {
			if (r.key_len > 0)
				memcpy(o, r.key, (size_t)r.key_len);
			o += r.key_len;
			memcpy(o, sep, (size_t)sep_len);
			o += sep_len;
		}
		if (vl > 0) /* a null value has no pointer to copy from */
			memcpy(o, r.value, (size_t)vl);
		o[vl] = '\n';
		used += len;
		n++;
	}
	if (rc < 0)
		return rc;
	*records = n;
	return used;
}

#if BATCH_HAVE_AVX2
/* !ctl_any(v, n, -1) 32 bytes at a time; lim: how far past v the buffer
 * may be read (the tail is read as a whole block, masked, when it is
 * below lim). */
__attribute__((target("avx2"))) static inline bool value_clean_avx2(const uint8_t *v, int32_t n,
								    const uint8_t *lim)
{
	const __m256i tab = _mm256_set1_epi8('\t');
	__m256i acc = _mm256_setzero_si256();
	int32_t i = 0;

	for (; i + 32 <= n; i += 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(v + i));
		acc = _mm256_or_si256(
			acc, _mm256_andnot_si256(_mm256_cmpeq_epi8(x, tab), ctl_hits_avx2(x)));
	}
	if (!_mm256_testz_si256(acc, acc))
		return false;
	if (i == n)
		return true;
	if (lim - (v + i) < 32)
		return !ctl_any(v + i, n - i, -1);
	__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(v + i));
	unsigned m = (unsigned)_mm256_movemask_epi8(
		_mm256_andnot_si256(_mm256_cmpeq_epi8(x, tab), ctl_hits_avx2(x)));

	return (m & ((1u << (n - i)) - 1)) == 0; /* n - i < 32 */
}
#endif

/* batch_iter_line_sum's loop; avx2: value_clean_avx2 for the values. */
static inline __attribute__((always_inline)) int line_sum(struct batch_iter *it, bool check,
							  struct line_sum *ls, struct rec *r,
							  bool avx2)
{
	const uint8_t *v;
	int32_t vl, tsd, od;
	bool append_time = it->hdr.attributes & BATCH_ATTR_LOG_APPEND_TIME;

	while (line_rec(it, &v, &vl, &tsd, &od)) {
		int64_t ts =
			append_time ? it->hdr.max_timestamp : add_wrap(it->hdr.base_timestamp, tsd);
		int64_t off = add_wrap(it->hdr.base_offset, od);

#if BATCH_HAVE_AVX2
		bool clean = avx2 ? value_clean_avx2(v, vl, it->end) : !ctl_any(v, vl, -1);
#else
		bool clean = !ctl_any(v, vl, -1);
		(void)avx2;
#endif
		if (check && ((vl > 0 && v[0] == '\\') || !clean)) {
			/* Escaped: the caller measures it. */
			*r = (struct rec){ .offset = off,
					   .timestamp = ts,
					   .key = NULL,
					   .key_len = -1,
					   .value = v,
					   .value_len = vl,
					   .headers = v + vl + 1,
					   .headers_count = 0,
					   .headers_end = v + vl + 1 };
			return 1;
		}
		ls->line_bytes += vl + 1;
		if (ts > ls->max_ts) {
			ls->max_ts = ts;
			ls->max_ts_offset = off;
		}
		ls->records++;
	}
	return iter_rec(it, r);
}

#if BATCH_HAVE_AVX2
__attribute__((target("avx2"))) static int line_sum_avx2(struct batch_iter *it, bool check,
							 struct line_sum *ls, struct rec *r)
{
	return line_sum(it, check, ls, r, true);
}
#endif

int batch_iter_line_sum(struct batch_iter *it, bool check, struct line_sum *ls, struct rec *r)
{
#if BATCH_HAVE_AVX2
	if (!batch_lines_portable && __builtin_cpu_supports("avx2"))
		return line_sum_avx2(it, check, ls, r);
#endif
	return line_sum(it, check, ls, r, false);
}

int batch_header_next(const uint8_t **p, const uint8_t *end, const uint8_t **key, int32_t *key_len,
		      const uint8_t **value, int32_t *value_len)
{
	if (*p >= end || get_bytes(p, end, key, key_len) < 0 ||
	    get_bytes(p, end, value, value_len) < 0)
		return 0;
	return 1;
}

void batch_iter_free(struct batch_iter *it)
{
	free(it->owned);
	it->owned = NULL;
	it->owned_cap = 0;
	it->p = it->end = NULL;
	it->remaining = 0;
}

/* ---- diagnosis ---- */

void batch_explain(const uint8_t *buf, size_t len, char *out, size_t cap)
{
	struct batch_iter it = { 0 };
	struct batch_hdr h;
	struct rec r;
	int64_t total;
	int32_t n = 0;
	int rc;

	out[0] = '\0';
	if (len < BATCH_HDR_SIZE) {
		snprintf(out, cap, "%zu bytes, shorter than a batch header", len);
		return;
	}
	total = batch_total_size(buf);
	batch_hdr_decode(buf, len, &h);
	if (h.magic != BATCH_MAGIC) {
		snprintf(out, cap, "magic %d, not %d", h.magic, BATCH_MAGIC);
	} else if (total < BATCH_HDR_SIZE || (uint64_t)total > len) {
		snprintf(out, cap, "batchLength %" PRId32 " does not fit the %zu bytes there",
			 h.batch_length, len);
	} else if (h.records_count < 0 || h.last_offset_delta < 0 ||
		   (int64_t)h.records_count > (int64_t)h.last_offset_delta + 1) {
		snprintf(out, cap, "recordsCount %" PRId32 " does not fit lastOffsetDelta %" PRId32,
			 h.records_count, h.last_offset_delta);
	} else {
		uint32_t crc =
			crc32c(0, buf + BATCH_OFF_ATTRIBUTES, (size_t)total - BATCH_OFF_ATTRIBUTES);

		if (crc != h.crc) {
			snprintf(out, cap,
				 "CRC-32C mismatch: stored 0x%08" PRIx32 ", computed 0x%08" PRIx32,
				 h.crc, crc);
		} else if ((rc = iter_init(&it, buf, (size_t)total, false, false)) < 0) {
			snprintf(out, cap, "%s payload does not decode: %s",
				 codec_name(h.attributes & BATCH_CODEC_MASK), strerror(-rc));
		} else {
			while ((rc = batch_iter_next(&it, &r)) == 1)
				n++;
			if (rc < 0)
				snprintf(out, cap, "record %" PRId32 " of %" PRId32 " is malformed",
					 n, h.records_count);
		}
	}
	batch_iter_free(&it);
}
