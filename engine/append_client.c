/*
 * append_client.c — appending record batches as a Kafka client wrote them
 * (log_append_client): the records of one partition of a Produce request.
 *
 * Kafka's LogValidator, in-place case: a v2 batch whose records need no
 * conversion keeps its bytes. Only the fields outside the CRC change:
 *
 *   baseOffset (0..7)             the log end offset at the append
 *   partitionLeaderEpoch (12..15) the leader's epoch
 *
 * and maxTimestamp, inside it, when the client's is not the largest of
 * its records' timestamps (with message.timestamp.type=LogAppendTime:
 * attribute bit 3 and the append time): the CRC is computed again, as
 * Kafka's LogValidator does (setMaxTimestamp). Headers, producer id,
 * producer epoch and base sequence stay as the client sent them.
 *
 * What is checked, every batch, before anything is written (the input is
 * from the network: validated, never trusted):
 *   1. magic 2 (Produce v3 and later carry nothing else; byte 16 is the
 *      magic of every message format, so an old message set, magic 0 or
 *      1, is named so whatever its lengths)                      -EPROTO;
 *      a magic no format has (below 0, above 2), as Kafka's "Invalid
 *      magic" CorruptRecordException                             -EBADMSG;
 *   2. at least 12 bytes left, batchLength >= 49 and the batch within the
 *      input; the input is batches back to back, nothing after the last
 *                                                                -EBADMSG;
 *   3. the CRC-32C over attributes..end                          -EBADMSG;
 *   4. codec none, gzip, snappy, lz4 or zstd; another number   -EBADMSG;
 *   5. neither transactional nor control (no transaction
 *      coordinator here, and clients never write control batches) -EPERM;
 *   6. recordsCount >= 1, lastOffsetDelta = recordsCount - 1, every record
 *      decodes (decompressed when compressed, in Kafka's framing: one gzip
 *      member, one lz4 frame; decompress_client) with offsetDelta = its
 *      index: the offsets the log gives are then base .. base + count - 1
 *                                                                -EBADMSG;
 *   7. the batch's size within max.message.bytes               -EMSGSIZE;
 *      (and again once recompressed, see below)
 *   8. in a compacted log (cleanup.policy has compact), every record has
 *      a key: the cleaner keeps the last record of each key, and Kafka
 *      refuses a keyless one there                              -ENOKEY;
 *   9. timestamps (Kafka's LogValidator.validateTimestamp): with
 *      message.timestamp.type=CreateTime, every record's timestamp but -1
 *      (none) within [now - before, now + after] (log_ts_bounds); and no
 *      batch with the LogAppendTime attribute (only the broker sets it)
 *                                                                -ERANGE;
 *  10. the batch as stored (recompressed or not) within segment.bytes
 *      (Kafka's UnifiedLog.append: RecordBatchTooLargeException) -E2BIG.
 *      Kafka sums the request's batches of the partition; this counts
 *      each batch: a Kafka producer sends one batch per partition in a
 *      request, and a broker forwarding a mount's write sends several, each
 *      within segment.bytes (log_batch_cap), whose sum may pass it. A
 *      follower's append (append_follower.c) is never checked so: it takes
 *      what its leader took, also after segment.bytes was lowered.
 *
 * Recompression (Kafka's LogValidator.buildRecordsAndAssignOffsets): a
 * topic whose compression.type is not producer stores every batch in its
 * codec, so a client's batch in another (gzip sent to an lz4 topic, none
 * to a gzip one, either to a none one) is written again: the same records
 * (keys, values, headers, timestamps) in one batch of the topic's codec,
 * its producer id, epoch and base sequence kept (the producer state judges
 * resends by those, never by bytes), the CRC computed for the new bytes.
 * Step 7 applies to the batch as sent and again to the one stored, as
 * Kafka's Log.append checks a batch whose size changed. Its line view is
 * the same (the same records), so are its line bytes. Transactional and
 * control batches, which Kafka never recompresses, are refused here
 * anyway (step 5). Followers copy the stored batch unchanged.
 *
 * The check computes what the append needs of each batch (struct
 * batch_meta: its line bytes in the log's line.format, its max timestamp),
 * so the log's lock is taken only to give offsets and write.
 *
 * Locking: the checks run without any lock, on the caller's bytes and a
 * copy of the log's line format; the append takes l->lock as log_append
 * does and checks the line format again first (it may change while the
 * log is empty: then the lines are counted again).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log_int.h"

/* -EBADMSG, with what was wrong in why. */
__attribute__((format(printf, 3, 4))) static int refuse(char *why, size_t whylen, const char *fmt,
							...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/* A batch whose magic is not 2 (step 1): -EPROTO for an old message set
 * (magic 0 or 1), -EBADMSG for a byte that is no magic at all. */
static int magic_refusal(uint8_t magic, char *why, size_t whylen)
{
	if (magic <= 1)
		return -EPROTO;
	return refuse(why, whylen, "magic %d does not exist", (int)(int8_t)magic);
}

/* Step 9 for one record (index n of its batch): -ERANGE, why says which
 * and the range, as Kafka's message does. */
static int ts_check(const struct log_config *cfg, const struct batch_hdr *h, const struct rec *r,
		    int32_t n, int64_t now, char *why, size_t whylen)
{
	int64_t before, after;
	__int128 diff = (__int128)now - r->timestamp; /* no overflow at any timestamp */

	log_ts_bounds(cfg, &before, &after);
	if (!cfg->log_append_time && r->timestamp != -1 && (diff > before || -diff > after)) {
		__int128 lo = (__int128)now - before, hi = (__int128)now + after;

		snprintf(why, whylen,
			 "timestamp %lld of record %d is out of range: it should be within "
			 "[%lld, %lld] (message.timestamp.before.max.ms / .after.max.ms)",
			 (long long)r->timestamp, (int)n,
			 (long long)(lo < INT64_MIN ? INT64_MIN : lo),
			 (long long)(hi > INT64_MAX ? INT64_MAX : hi));
		return -ERANGE;
	}
	if (h->attributes & BATCH_ATTR_LOG_APPEND_TIME) {
		snprintf(why, whylen,
			 "the batch has the LogAppendTime attribute: a producer should not set "
			 "it");
		return -ERANGE;
	}
	return 0;
}

/* Checks one batch of exactly len bytes (steps 2-9) and fills *m with
 * offsets relative to 0; -EBADMSG and -ERANGE say why. */
static int client_batch_check(const struct log_config *cfg, const struct line_fmt *lf,
			      const uint8_t *b, size_t len, int64_t now, struct batch_iter *it,
			      struct batch_meta *m, int64_t *payload, size_t *rec_bytes, char *why,
			      size_t whylen)
{
	struct batch_hdr h;
	struct rec r;
	int32_t n = 0;
	int rc;

	if (b[BATCH_OFF_MAGIC] != BATCH_MAGIC)
		return magic_refusal(b[BATCH_OFF_MAGIC], why, whylen);
	/* The caller framed it: magic 2 and batchLength >= 49 hold, so only
	 * the count can fail the decode. */
	if (batch_hdr_decode(b, len, &h) < 0)
		return refuse(why, whylen, "recordsCount %d is negative",
			      (int)be32_get(b + BATCH_OFF_COUNT));
	uint32_t crc = crc32c(0, b + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES);
	if (crc != h.crc)
		return refuse(why, whylen,
			      "CRC-32C 0x%08x stored, 0x%08x computed over the batch's %zu bytes "
			      "from its attributes",
			      h.crc, crc, len - BATCH_OFF_ATTRIBUTES);
	int codec = h.attributes & BATCH_CODEC_MASK;
	if (codec > BATCH_CODEC_ZSTD)
		return refuse(why, whylen, "compression codec %d does not exist", codec);
	if (h.attributes & (BATCH_ATTR_TRANSACTIONAL | BATCH_ATTR_CONTROL))
		return -EPERM;
	if (h.records_count < 1 || h.last_offset_delta != h.records_count - 1)
		return refuse(why, whylen,
			      "recordsCount %d and lastOffsetDelta %d (a producer's batch holds "
			      "records 0..recordsCount-1)",
			      (int)h.records_count, (int)h.last_offset_delta);
	if ((int64_t)len > cfg->max_message_bytes) {
		snprintf(why, whylen, "%zu bytes, over max.message.bytes %d", len,
			 (int)cfg->max_message_bytes);
		return -EMSGSIZE;
	}
	rc = batch_iter_init_client(it, b, len);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0 && codec == BATCH_CODEC_NONE)
		return refuse(why, whylen, "its records do not decode");
	if (rc < 0)
		return refuse(why, whylen,
			      "its %s payload does not decompress, or to more than %u MiB",
			      codec_name(codec), COMPRESS_MAX_OUT >> 20);
	m->line_bytes = 0;
	m->max_ts = -1;
	m->max_ts_offset = 0;
	*rec_bytes = 0;
	while ((rc = batch_iter_next(it, &r)) == 1) {
		if (r.offset - h.base_offset != n)
			return refuse(why, whylen, "record %d has offsetDelta %lld", (int)n,
				      (long long)(r.offset - h.base_offset));
		if (r.key_len < 0 && (cfg->cleanup_policy & LOG_CLEANUP_COMPACT))
			return -ENOKEY;
		rc = ts_check(cfg, &h, &r, n, now, why, whylen);
		if (rc < 0)
			return rc;
		m->line_bytes += line_len(lf, &r);
		batch_meta_note_ts(m, r.timestamp, n);
		*payload += (r.key_len > 0 ? r.key_len : 0) + (r.value_len > 0 ? r.value_len : 0);
		/* + 4: batch_record_max_size counts a headersCount of one byte */
		*rec_bytes += batch_record_max_size(r.key_len, r.value_len) + 4 +
			      (size_t)(r.headers_end - r.headers);
		n++;
	}
	if (rc < 0)
		return refuse(why, whylen,
			      "record %d does not decode (a length or varint past the batch's end, "
			      "or bytes after the last record)",
			      (int)n);
	if (n != h.records_count)
		return refuse(why, whylen, "%d records, recordsCount says %d", (int)n,
			      (int)h.records_count);
	m->base_offset = 0;
	m->last_offset = h.last_offset_delta;
	m->size = (int64_t)len;
	return 0;
}

/* Whether a batch of codec is written again under the topic's
 * compression.type topic_codec (Kafka: not producer, and another codec). */
static bool recompressed(int topic_codec, int codec)
{
	return topic_codec != LOG_CODEC_PRODUCER && topic_codec != codec;
}

/* The output of client_batches_check when a batch is recompressed: every
 * batch of the input as it is stored, back to back (malloc'ed). */
struct client_out {
	uint8_t *buf;
	size_t len, cap;
};

/* Room for n more bytes at the end of o. */
static int out_reserve(struct client_out *o, size_t n)
{
	uint8_t *nb;

	if (n <= o->cap - o->len)
		return 0;
	nb = engine_grow(o->buf, &o->cap, o->len + n, 1, 4096);
	if (!nb)
		return -ENOMEM;
	o->buf = nb;
	return 0;
}

/* The checked batch b (len bytes, its records rec_bytes at most when
 * encoded by batch_builder) written again in codec at the end of o: the
 * same records, producer id, epoch and base sequence; base offset 0 and
 * leader epoch -1 until the append gives them. Its size within
 * max.message.bytes (step 7 again, as Kafka's Log.append checks a batch
 * whose size changed); the new size in *size. */
static int client_batch_recompress(const struct log_config *cfg, const uint8_t *b, size_t len,
				   size_t rec_bytes, int codec, struct batch_iter *it,
				   struct client_out *o, int64_t *size, char *why, size_t whylen)
{
	struct batch_builder bb;
	struct batch_hdr h;
	struct rec r;
	int rc;

	/* Records that do not compress come out larger: zlib's deflateBound
	 * adds n/4096 + n/16384 + n/2^25 + 13 and 18 bytes of gzip framing;
	 * an LZ4 frame stores such a block as it is, 4 bytes per block of 64
	 * KiB, with at most 19 of header and 4 of end mark. n/1024 + 64 is
	 * more than either. */
	size_t cap = BATCH_HDR_SIZE + rec_bytes + rec_bytes / 1024 + 64;

	rc = out_reserve(o, cap);
	if (rc < 0)
		return rc;
	(void)batch_hdr_decode(b, len, &h); /* checked: it decodes */
	rc = batch_iter_init(it, b, len);
	if (rc < 0)
		return rc;
	batch_builder_init(&bb, o->buf + o->len, cap, codec);
	bb.producer_id = h.producer_id;
	bb.producer_epoch = h.producer_epoch;
	bb.base_sequence = h.base_sequence;
	while ((rc = batch_iter_next(it, &r)) == 1) {
		rc = batch_builder_add_headers(&bb, r.key, r.key_len, r.value, r.value_len,
					       r.timestamp, r.headers_count, r.headers,
					       (size_t)(r.headers_end - r.headers));
		if (rc < 0)
			return rc == -ENOSPC ? -EMSGSIZE : rc;
	}
	if (rc < 0)
		return rc;
	*size = batch_builder_finish(&bb, 0, -1);
	if (*size < 0)
		return (int)*size;
	if (*size > cfg->max_message_bytes) {
		snprintf(why, whylen,
			 "%lld bytes once recompressed to %s (%zu as sent), over "
			 "max.message.bytes %d",
			 (long long)*size, codec_name(codec), len, (int)cfg->max_message_bytes);
		return -EMSGSIZE;
	}
	o->len += (size_t)*size;
	return 0;
}

/* Steps 1-9 over the whole input: the count of batches, *metas malloc'ed;
 * -EBADMSG and -ERANGE say why. When the topic's compression.type
 * recompresses a batch, out->buf holds every batch as stored (the others
 * copied as they are) and the metas give their stored sizes; out->buf
 * NULL otherwise: the input is stored. */
static int client_batches_check(struct log *l, const struct line_fmt *lf, const uint8_t *buf,
				size_t len, struct batch_meta **metas, int64_t *payload,
				struct client_out *out, int *bad, char *why, size_t whylen)
{
	struct batch_iter it = { 0 };
	struct batch_meta *m = NULL;
	size_t pos = 0, cap = 0, rec_bytes = 0;
	int64_t now = engine_now_ms();
	int nb = 0, rc = 0;

	while (pos < len) {
		int64_t total;

		/* Byte 16 is the magic in every message format: an old
		 * message set is named for what it is, whatever its length. */
		if (len - pos > BATCH_OFF_MAGIC && buf[pos + BATCH_OFF_MAGIC] != BATCH_MAGIC) {
			rc = magic_refusal(buf[pos + BATCH_OFF_MAGIC], why, whylen);
			break;
		}
		if (len - pos < BATCH_LOG_OVERHEAD) {
			rc = refuse(
				why, whylen,
				"%zu bytes after the last whole batch, not a batch's offset and "
				"length",
				len - pos);
			break;
		}
		total = batch_total_size(buf + pos);
		if (total < BATCH_HDR_SIZE || (uint64_t)total > len - pos) {
			rc = refuse(why, whylen,
				    total < BATCH_HDR_SIZE
					    ? "batchLength %lld, below the %d bytes of a header"
					    : "batchLength %lld runs past the records' end "
					      "(%d bytes of offset and length, then %zu left)",
				    (long long)(total - BATCH_LOG_OVERHEAD),
				    total < BATCH_HDR_SIZE ? BATCH_HDR_SIZE - BATCH_LOG_OVERHEAD
							   : BATCH_LOG_OVERHEAD,
				    len - pos - BATCH_LOG_OVERHEAD);
			break;
		}
		if ((size_t)nb == cap) {
			struct batch_meta *nm = engine_grow(m, &cap, (size_t)nb + 1, sizeof(*m), 8);
			if (!nm) {
				rc = -ENOMEM;
				break;
			}
			m = nm;
		}
		rc = client_batch_check(&l->cfg, lf, buf + pos, (size_t)total, now, &it, &m[nb],
					payload, &rec_bytes, why, whylen);
		if (rc < 0)
			break;
		int codec = buf[pos + BATCH_OFF_ATTRIBUTES + 1] & BATCH_CODEC_MASK;
		if (recompressed(l->cfg.codec, codec)) {
			/* The batches before it, as they are, first (room for
			 * this one too: never an empty buffer, even at pos 0). */
			if (!out->buf && (rc = out_reserve(out, pos + (size_t)total)) == 0) {
				memcpy(out->buf, buf, pos);
				out->len = pos;
			}
			if (rc == 0)
				rc = client_batch_recompress(&l->cfg, buf + pos, (size_t)total,
							     rec_bytes, l->cfg.codec, &it, out,
							     &m[nb].size, why, whylen);
			if (rc < 0)
				break;
		} else if (out->buf) {
			rc = out_reserve(out, (size_t)total);
			if (rc < 0)
				break;
			memcpy(out->buf + out->len, buf + pos, (size_t)total);
			out->len += (size_t)total;
		}
		if (m[nb].size > l->cfg.segment_bytes) { /* step 10 */
			snprintf(why, whylen,
				 "Message batch size is %lld bytes, which exceeds the maximum "
				 "configured segment size of %lld (segment.bytes)",
				 (long long)m[nb].size, (long long)l->cfg.segment_bytes);
			rc = -E2BIG; /* no I/O error: -EFBIG could be the disk's */
			break;
		}
		pos += (size_t)total;
		nb++;
	}
	batch_iter_free(&it);
	if (rc == 0 && nb == 0)
		rc = -EINVAL;
	if (rc < 0) {
		if (bad)
			*bad = nb;
		free(m);
		free(out->buf);
		*out = (struct client_out){ 0 };
		return rc;
	}
	*metas = m;
	return nb;
}

/* Kafka's DefaultRecordBatch.setMaxTimestamp, as its LogValidator calls
 * it on every batch appended in place: maxTimestamp = ts (with
 * LogAppendTime, bit 3 set too), then the CRC again; nothing when the
 * batch says so already. With CreateTime ts is the largest of the
 * records' timestamps (-1: none has one): the header's field is the
 * client's word, which the segment's roll age (seg_first_append_load),
 * followers and consumers read, so a wrong one is not kept. */
static void set_max_timestamp(uint8_t *b, size_t len, bool append_time, int64_t ts)
{
	uint16_t attr = be16_get(b + BATCH_OFF_ATTRIBUTES);
	uint16_t want = append_time ? attr | BATCH_ATTR_LOG_APPEND_TIME : attr;

	if (want == attr && (int64_t)be64_get(b + BATCH_OFF_MAX_TS) == ts)
		return;
	be16_put(b + BATCH_OFF_ATTRIBUTES, want);
	be64_put(b + BATCH_OFF_MAX_TS, (uint64_t)ts);
	be32_put(b + BATCH_OFF_CRC,
		 crc32c(0, b + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES));
}

int log_append_client(struct log *l, uint8_t *batches, size_t len, int32_t leader_epoch,
		      int64_t log_append_time, struct log_append_info *info, int *bad)
{
	struct batch_meta *m = NULL;
	struct client_out out = { 0 };
	int64_t payload = 0;
	char own_why[LOG_WHY_LEN];
	char *why = info ? info->why : own_why; /* the reason goes to the caller's info */
	int nb, rc = 0;

	if (bad)
		*bad = -1;
	why[0] = '\0';
	if (!batches || len == 0)
		return -EINVAL;
	uint8_t *in = batches;
	size_t in_len = len;
again:
	pthread_mutex_lock(&l->lock);
	struct line_fmt lf = l->lf;
	pthread_mutex_unlock(&l->lock);
	payload = 0;
	nb = client_batches_check(l, &lf, batches, len, &m, &payload, &out, bad, why, LOG_WHY_LEN);
	if (nb < 0)
		return nb;
	if (out.buf) {
		/* Recompressed: what is stored, from here on. */
		batches = out.buf;
		len = out.len;
	}
	{
		size_t pos = 0;

		for (int i = 0; i < nb; i++) {
			if (log_append_time >= 0) {
				m[i].max_ts =
					log_append_time; /* on every record: the first holds it */
				m[i].max_ts_offset = 0;
			}
			set_max_timestamp(batches + pos, (size_t)m[i].size, log_append_time >= 0,
					  m[i].max_ts);
			pos += (size_t)m[i].size;
		}
	}
	pthread_mutex_lock(&l->lock);
	if (memcmp(&l->lf, &lf, sizeof(lf)) != 0) {
		/* line.format or key.separator changed (the log was empty):
		 * the line bytes were counted with the old ones. */
		pthread_mutex_unlock(&l->lock);
		free(m);
		m = NULL;
		if (out.buf) {
			/* Checked again from the caller's bytes. */
			batches = in;
			len = in_len;
			free(out.buf);
			out = (struct client_out){ 0 };
		}
		goto again;
	}
	if ((rc = log_leader_append_refused(l, leader_epoch)) < 0)
		goto out;
	if (l->fence >= 0 && (rc = log_fence_clear(l)) < 0)
		goto out;
	int64_t start = log_leo(l), off = start, line = log_line_end(l);
	int nsegs0 = l->nsegs;
	size_t pos = 0;
	for (int i = 0; i < nb; i++) {
		int64_t count = m[i].last_offset + 1;

		m[i].base_offset = off;
		m[i].last_offset = off + count - 1;
		m[i].max_ts_offset += off;
		m[i].first_line_pos = line;
		batch_set_base(batches + pos, off, leader_epoch);
		off += count;
		line += m[i].line_bytes;
		pos += (size_t)m[i].size;
	}
	rc = log_write_batches(l, batches, m, nb, engine_now_ms());
	if (rc < 0) {
		if (l->nsegs > nsegs0 || log_leo(l) > start)
			(void)log_append_rollback(l, start); /* fenced if it fails */
		goto out;
	}
	if (info) {
		info->first_offset = start;
		info->last_offset = log_leo(l) - 1;
		info->batches = nb;
		info->bytes = (int64_t)len;
		info->payload = payload;
		info->line_end = log_line_end(l);
	}
out:
	pthread_mutex_unlock(&l->lock);
	free(m);
	free(out.buf);
	/* As every append: the LEO listeners, outside the lock (a leader's
	 * parked follower fetches wait for them). */
	if (rc == 0)
		log_notify_leo(l);
	return rc;
}
