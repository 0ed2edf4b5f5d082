/*
 * producer.c — the idempotent producer's fields of record batch v2
 * (producerId, producerEpoch, baseSequence: bytes 43..56 of the header,
 * inside the CRC; see batch.h) for the layers above: encoding records
 * into batches that carry them (log_encode_batches), reading them out of
 * a buffer of batches (log_batches_producers) and out of a log's segments
 * (log_scan_producers).
 *
 * Sequences: a batch of count records with baseSequence s covers s ..
 * s + count - 1, wrapping past INT32_MAX to 0 as Kafka's
 * DefaultRecordBatch.incrementSequence does; batches encoded together get
 * consecutive ranges.
 *
 * The scan reads only the 61-byte headers of the batches (one pread each),
 * through log_read_raw's references, so retention or a roll meanwhile
 * cannot pull a segment from under it. A header that does not decode ends
 * the scan with -EBADMSG (a reader of that batch reports it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/batch.h"
#include "engine/engine.h"

#define SCAN_MAX_BYTES (8u << 20)

int32_t batch_seq_add(int32_t seq, int32_t n)
{
	int64_t s = (int64_t)seq + n;

	return s > INT32_MAX ? (int32_t)(s - INT32_MAX - 1) : (int32_t)s;
}

/* Encodes recs[0..n) into one batch at bb (already initialised). */
static int64_t encode_one(struct batch_builder *bb, const struct rec_in *recs, int n,
			  const struct batch_producer *pr, int32_t seq)
{
	for (int i = 0; i < n; i++) {
		int rc = batch_builder_add(bb, recs[i].key, recs[i].key_len, recs[i].value,
					   recs[i].value_len, recs[i].timestamp);
		if (rc < 0)
			return rc;
	}
	bb->producer_id = pr->producer_id;
	bb->producer_epoch = pr->producer_epoch;
	bb->base_sequence = seq;
	return batch_builder_finish(bb, 0, -1);
}

int log_encode_batches(const struct log_config *cfg, const struct rec_in *recs, int n,
		       const struct batch_producer *pr, uint8_t **out, size_t *out_len,
		       int32_t *batches)
{
	size_t cap = 0, used = 0;
	uint8_t *buf = NULL;
	int32_t seq = pr->base_sequence, nb = 0;
	int i = 0, rc = 0;

	if (n <= 0)
		return -EINVAL;
	for (int k = 0; k < n; k++)
		cap += BATCH_HDR_SIZE + batch_record_max_size(recs[k].key_len, recs[k].value_len);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	/* Batches of at most log_batch_cap bytes (at least one record each),
	 * as log_append cuts them: a forwarded write of many records must not
	 * make a batch over max.message.bytes or segment.bytes, which the
	 * leader refuses. */
	while (i < n) {
		size_t bytes = batch_record_max_size(recs[i].key_len, recs[i].value_len);
		int j = i + 1, k;
		struct batch_builder bb;
		int64_t size;

		while (j < n) {
			size_t r = batch_record_max_size(recs[j].key_len, recs[j].value_len);

			if (BATCH_HDR_SIZE + bytes + r > log_batch_cap(cfg))
				break;
			bytes += r;
			j++;
		}
		k = j - i;
		/* A producer's batches are CreateTime whatever the topic's
		 * type: the leader stamps LogAppendTime (and refuses a batch
		 * that has it already, as Kafka does). The builder's cap is
		 * what these records take at most uncompressed (within
		 * log_batch_cap, or one record's batch, which its size check
		 * kept within max.message.bytes), so records that grow when
		 * compressed are kept uncompressed within it. */
		batch_builder_init(&bb, buf + used, BATCH_HDR_SIZE + bytes,
				   log_codec_own(cfg->codec));
		size = encode_one(&bb, recs + i, k, pr, seq);
		if (size < 0) {
			rc = (int)size;
			goto out;
		}
		if (size > log_batch_limit(cfg, NULL)) {
			rc = -EMSGSIZE;
			goto out;
		}
		used += (size_t)size;
		seq = batch_seq_add(seq, k);
		nb++;
		i = j;
	}
out:
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*out_len = used;
	if (batches)
		*batches = nb;
	return 0;
}

static void info_from_hdr(const struct batch_hdr *h, struct batch_producer_info *bi)
{
	bi->base_offset = h->base_offset;
	bi->last_offset = h->base_offset + h->last_offset_delta;
	bi->leader_epoch = h->partition_leader_epoch;
	bi->records = h->records_count;
	bi->producer_id = h->producer_id;
	bi->producer_epoch = h->producer_epoch;
	bi->base_sequence = h->base_sequence;
	bi->max_timestamp = h->max_timestamp;
	bi->size = (int64_t)h->batch_length + BATCH_LOG_OVERHEAD;
}

int log_batches_producers(const uint8_t *buf, size_t len, struct batch_producer_info *out, int max)
{
	size_t pos = 0;
	int n = 0;

	while (pos < len) {
		struct batch_hdr h;
		int64_t total;

		if (len - pos < BATCH_HDR_SIZE)
			return -EBADMSG;
		total = batch_total_size(buf + pos);
		if (total < BATCH_HDR_SIZE || (uint64_t)total > len - pos ||
		    batch_hdr_decode(buf + pos, (size_t)total, &h) < 0)
			return -EBADMSG;
		if (n == max)
			return -E2BIG;
		info_from_hdr(&h, &out[n++]);
		pos += (size_t)total;
	}
	return n;
}

/* The headers of the batches in raw's range, in order, to fn. */
static int scan_range(const struct log_raw *raw, log_producer_fn *fn, void *arg, int64_t *next)
{
	int64_t pos = raw->pos, end = raw->pos + raw->len;

	while (pos < end) {
		uint8_t hdr[BATCH_HDR_SIZE];
		struct batch_producer_info bi;
		struct batch_hdr h;
		int64_t total;
		ssize_t k = pread(raw->fd, hdr, sizeof(hdr), pos);

		if (k < 0)
			return -errno;
		if ((size_t)k < sizeof(hdr))
			return -EBADMSG; /* cut by a truncation meanwhile */
		total = batch_total_size(hdr);
		if (total < BATCH_HDR_SIZE || batch_hdr_decode(hdr, sizeof(hdr), &h) < 0)
			return -EBADMSG;
		info_from_hdr(&h, &bi);
		fn(arg, &bi);
		*next = bi.last_offset + 1;
		pos += total;
	}
	return 0;
}

int log_scan_producers(struct log *l, int64_t from, int64_t to, log_producer_fn *fn, void *arg)
{
	struct log_state st;
	int64_t off, end;

	log_get_state(l, &st);
	off = from > st.log_start_offset ? from : st.log_start_offset;
	end = to >= 0 && to < st.log_end_offset ? to : st.log_end_offset;
	while (off < end) {
		struct log_raw raw;
		int64_t next = off;
		int rc = log_read_raw(l, off, end, SCAN_MAX_BYTES, &raw);

		if (rc < 0)
			return rc;
		if (raw.len == 0) {
			log_raw_release(&raw);
			break;
		}
		rc = scan_range(&raw, fn, arg, &next);
		log_raw_release(&raw);
		if (rc < 0)
			return rc;
		if (next <= off)
			return -EBADMSG;
		off = next;
	}
	return 0;
}

static void copy_one(void *arg, const struct batch_producer_info *bi)
{
	*(struct batch_producer_info *)arg = *bi;
}

int log_batch_producer_at(struct log *l, int64_t offset, struct batch_producer_info *out)
{
	struct log_state st;
	struct log_raw raw;
	int64_t next;
	int rc;

	log_get_state(l, &st);
	/* max_bytes 1: log_read_raw gives exactly the batch holding offset. */
	rc = log_read_raw(l, offset, st.log_end_offset, 1, &raw);
	if (rc < 0)
		return rc;
	rc = raw.len == 0 ? -ENOENT : scan_range(&raw, copy_one, out, &next);
	log_raw_release(&raw);
	return rc;
}
