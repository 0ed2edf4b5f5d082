/*
 * render.c — segment files as people read them (the .segments views).
 *
 *   .index      "offset: 194 position: 5124"           one line per entry
 *   .timeindex  "timestamp: 1700000000000 offset: 194" one line per entry
 *   .dump       per batch:
 *     "baseOffset: 0 lastOffset: 2 count: 3 position: 0 size: 98
 *      baseTimestamp: ... maxTimestamp: ... partitionLeaderEpoch: 0
 *      producerId: -1 producerEpoch: -1 baseSequence: -1
 *      codec: none crc: 0x1a2b3c4d valid: yes"               (one line)
 *               then per record:
 *     "| offset: 0 timestamp: ... key: null value: hello"
 *     and, for a record with headers, " headers: k=v,k2=v2" (as a Kafka
 *     client sent them; the first DUMP_PAYLOAD_MAX bytes of them)
 *     (keys and values printed with C-style escapes for bytes outside
 *     printable ASCII; a record line is cut at 200 bytes of payload with
 *     "..." and the full sizes given)
 *
 * A batch that is not valid as a reader would check it (header, CRC-32C,
 * payload: batch_iter_init) gets "valid: no" and none of its records; it
 * is reported once (log_corrupt) and the dump goes on with the next batch
 * when its length still leads to one.
 *
 * Rendering is chunked: a cursor (entry index, or .log position for
 * .dump) lets a reader stream a rendering far larger than memory should
 * hold. The rendering is a function of the bytes of the file it reads (and
 * only grows as that file grows), so its size, which stat reports so that
 * tar and rsync copy the whole text, is computed once per file size and
 * kept in the segment (log_segment_size).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log_int.h"

#define DUMP_PAYLOAD_MAX 200
#define RENDER_CHUNK     (256 * 1024)
#define RENDER_STRIPES   16

/* Guards the render_key/render_size pairs of segments (hashed by
 * address): a pair must change as one. */
static pthread_mutex_t render_mu[RENDER_STRIPES] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER,
};

static ssize_t render_kind(struct log *l, struct seg *s, enum seg_file kind, int64_t *cursor,
			   char *buf, size_t size);

/* What a rendering depends on: the length of the file it reads. */
static int64_t render_source_size(struct seg *s, enum seg_file kind)
{
	if (kind == SEG_DUMP)
		return atomic_load(&s->size);
	return seg_fsize(s, kind == SEG_INDEX ? SEG_FD_INDEX : SEG_FD_TIMEINDEX);
}

/* The rendering's size: from the cache, or rendered whole (and cached if
 * the file did not grow meanwhile). */
static int64_t render_size(struct log *l, struct seg *s, enum seg_file kind)
{
	pthread_mutex_t *mu = &render_mu[((uintptr_t)s >> 6) % RENDER_STRIPES];
	int k = (int)kind - 1;
	int64_t key = render_source_size(s, kind), total = 0, cursor = 0;
	if (key < 0)
		return key;
	pthread_mutex_lock(mu);
	bool hit = s->render_key[k] == key + 1;
	int64_t cached = s->render_size[k];
	pthread_mutex_unlock(mu);
	if (hit)
		return cached;
	char *buf = malloc(RENDER_CHUNK);
	if (!buf)
		return -ENOMEM;
	ssize_t n;
	while ((n = render_kind(l, s, kind, &cursor, buf, RENDER_CHUNK)) > 0)
		total += n;
	free(buf);
	if (n < 0)
		return n;
	if (render_source_size(s, kind) == key) {
		pthread_mutex_lock(mu);
		s->render_key[k] = key + 1;
		s->render_size[k] = total;
		pthread_mutex_unlock(mu);
	}
	return total;
}

int64_t log_segment_size(struct log *l, int64_t base, enum seg_file kind)
{
	struct seg *s = log_seg_get(l, base);
	if (!s)
		return -ENOENT;
	int64_t n = kind == SEG_LOG                         ? atomic_load(&s->size)
		    : kind >= SEG_INDEX && kind <= SEG_DUMP ? render_size(l, s, kind)
							    : -EINVAL;
	seg_unref(s);
	return n;
}

ssize_t log_segment_read_raw(struct log *l, int64_t base, char *buf, size_t size, int64_t off)
{
	struct seg *s = log_seg_get(l, base);
	if (!s)
		return -ENOENT;
	int64_t end = atomic_load(&s->size);
	ssize_t n = 0;
	if (off < end) {
		if ((int64_t)size > end - off)
			size = (size_t)(end - off);
		n = seg_pread(s, SEG_FD_LOG, buf, size, off);
	}
	seg_unref(s);
	return n;
}

/* Escaped copy of a payload; returns bytes written (always < cap). */
static size_t esc(char *out, size_t cap, const uint8_t *p, int32_t len)
{
	if (len < 0)
		return (size_t)snprintf(out, cap, "null");
	size_t n = 0;
	int32_t shown = len > DUMP_PAYLOAD_MAX ? DUMP_PAYLOAD_MAX : len;
	for (int32_t i = 0; i < shown && n + 8 < cap; i++) {
		uint8_t ch = p[i];
		if (ch == '\\')
			n += (size_t)snprintf(out + n, cap - n, "\\\\");
		else if (ch >= 0x20 && ch < 0x7f)
			out[n++] = (char)ch;
		else if (ch == '\n')
			n += (size_t)snprintf(out + n, cap - n, "\\n");
		else if (ch == '\t')
			n += (size_t)snprintf(out + n, cap - n, "\\t");
		else
			n += (size_t)snprintf(out + n, cap - n, "\\x%02x", ch);
	}
	if (shown < len && n + 4 < cap)
		n += (size_t)snprintf(out + n, cap - n, "...");
	out[n] = '\0';
	return n;
}

/* " headers: k=v,k2=v2" of a record with headers ("" without), escaped;
 * cut with "..." once DUMP_PAYLOAD_MAX bytes of them, or cap, is reached. */
static void headers_text(char *out, size_t cap, const struct rec *r)
{
	const uint8_t *p = r->headers, *hk, *hv;
	int32_t hkl, hvl, budget = DUMP_PAYLOAD_MAX;
	char e[2][DUMP_PAYLOAD_MAX * 4 + 8];
	size_t n;

	out[0] = '\0';
	if (r->headers_count <= 0)
		return;
	n = (size_t)snprintf(out, cap, " headers: ");
	for (int32_t i = 0; i < r->headers_count &&
			    batch_header_next(&p, r->headers_end, &hk, &hkl, &hv, &hvl) == 1;
	     i++) {
		size_t need;

		/* Each header spends at least one byte of the budget. */
		esc(e[0], sizeof(e[0]), hk, hkl < budget ? hkl : budget);
		budget -= hkl > 0 ? hkl : 1;
		esc(e[1], sizeof(e[1]), hv,
		    hvl < 0        ? -1
		    : hvl < budget ? hvl
		    : budget > 0   ? budget
				   : 0);
		budget -= hvl > 0 ? hvl : 1;
		need = strlen(e[0]) + strlen(e[1]) + 2;
		if (budget < 0 || n + need + 4 >= cap) {
			snprintf(out + n, cap - n, "...");
			return;
		}
		n += (size_t)snprintf(out + n, cap - n, "%s%s=%s", i ? "," : "", e[0], e[1]);
	}
}

static ssize_t render_index(struct seg *s, bool time, int64_t *cursor, char *buf, size_t size)
{
	size_t esz = time ? TIMEINDEX_ENT_SIZE : INDEX_ENT_SIZE;
	enum seg_fd fd = time ? SEG_FD_TIMEINDEX : SEG_FD_INDEX;
	int64_t total = seg_fsize(s, fd);
	if (total < 0)
		return total;
	int64_t count = total / (int64_t)esz;
	size_t n = 0;
	uint8_t b[12];
	while (*cursor < count && n + 80 < size) {
		ssize_t got = seg_pread(s, fd, b, esz, *cursor * (int64_t)esz);
		if (got < 0)
			return got;
		if (got != (ssize_t)esz)
			return -EIO;
		if (time)
			n += (size_t)snprintf(
				buf + n, size - n, "timestamp: %" PRId64 " offset: %" PRId64 "\n",
				(int64_t)be64_get(b), s->base_offset + be32_get(b + 8));
		else
			n += (size_t)snprintf(buf + n, size - n,
					      "offset: %" PRId64 " position: %" PRIu32 "\n",
					      s->base_offset + be32_get(b), be32_get(b + 4));
		(*cursor)++;
	}
	return (ssize_t)n;
}

/* The .dump cursor: low 32 bits the batch position in .log, high bits the
 * index of the next record to print in that batch (0: the batch line too). */
static ssize_t render_dump(struct log *l, struct seg *s, int64_t *cursor, char *buf, size_t size)
{
	int64_t end = atomic_load(&s->size);
	uint8_t *b = NULL;
	size_t cap = 0;
	struct batch_iter it = { 0 };
	size_t n = 0;
	char k[DUMP_PAYLOAD_MAX * 4 + 8], v[DUMP_PAYLOAD_MAX * 4 + 8];
	char hd[DUMP_PAYLOAD_MAX * 4 + 16];
	const size_t rec_max = sizeof(k) + sizeof(v) + sizeof(hd) + 160;
	for (;;) {
		int64_t pos = *cursor & 0xffffffffLL, skip = *cursor >> 32;
		if (pos >= end || n + rec_max + 400 > size)
			break;
		int64_t total = seg_read_batch(s, pos, end, &b, &cap);
		if (total <= 0) {
			if (total == -EBADMSG)
				log_corrupt(l, s, pos, NULL, 0);
			n += (size_t)snprintf(buf + n, size - n,
					      "position: %" PRId64 " invalid batch: %s\n", pos,
					      total < 0 ? strerror((int)-total) : "empty");
			*cursor = end;
			break;
		}
		/* Valid as every reader sees it: header, CRC, payload. */
		struct batch_hdr h;
		int rc = batch_validate(b, (size_t)total);
		if (rc == 0)
			rc = batch_iter_init(&it, b, (size_t)total);
		bool valid = rc == 0;
		if (rc == -EBADMSG)
			log_corrupt(l, s, pos, b, (size_t)total);
		if (batch_hdr_decode(b, (size_t)total, &h) < 0)
			valid = false;
		if (skip == 0)
			n += (size_t)snprintf(
				buf + n, size - n,
				"baseOffset: %" PRId64 " lastOffset: %" PRId64 " count: %" PRId32
				" position: %" PRId64 " size: %" PRId64 " baseTimestamp: %" PRId64
				" maxTimestamp: %" PRId64 " partitionLeaderEpoch: %" PRId32
				" producerId: %" PRId64 " producerEpoch: %d baseSequence: %" PRId32
				" codec: %s crc: 0x%08" PRIx32 " valid: %s\n",
				h.base_offset, h.base_offset + h.last_offset_delta, h.records_count,
				pos, total, h.base_timestamp, h.max_timestamp,
				h.partition_leader_epoch, h.producer_id, (int)h.producer_epoch,
				h.base_sequence, codec_name(h.attributes & BATCH_CODEC_MASK), h.crc,
				valid ? "yes" : "no");
		*cursor = pos + total;
		if (!valid) {
			/* The reason is in the daemon's log; here only that its
			 * records are not shown. */
			if (skip == 0 && rc != -EBADMSG)
				n += (size_t)snprintf(buf + n, size - n,
						      "| records unreadable: %s\n", strerror(-rc));
			continue;
		}
		struct rec r;
		int got;
		int64_t idx = 0;
		while ((got = batch_iter_next(&it, &r)) == 1) {
			if (idx++ < skip)
				continue;
			if (n + rec_max > size) {
				/* Resume at this record in the next chunk. */
				*cursor = pos | ((idx - 1) << 32);
				goto out;
			}
			esc(k, sizeof(k), r.key, r.key_len);
			esc(v, sizeof(v), r.value, r.value_len);
			headers_text(hd, sizeof(hd), &r);
			n += (size_t)snprintf(
				buf + n, size - n,
				"| offset: %" PRId64 " timestamp: %" PRId64 " keySize: %" PRId32
				" valueSize: %" PRId32 " key: %s value: %s%s\n",
				r.offset, r.timestamp, r.key_len, r.value_len, k, v, hd);
		}
		if (got < 0) {
			log_corrupt(l, s, pos, b, (size_t)total);
			n += (size_t)snprintf(buf + n, size - n, "| malformed record: %s\n",
					      strerror(-got));
		}
	}
out:
	batch_iter_free(&it);
	free(b);
	return (ssize_t)n;
}

ssize_t log_segment_render(struct log *l, int64_t base, enum seg_file kind, int64_t *cursor,
			   char *buf, size_t size)
{
	struct seg *s = log_seg_get(l, base);
	if (!s)
		return -ENOENT;
	ssize_t n = render_kind(l, s, kind, cursor, buf, size);
	seg_unref(s);
	return n;
}

static ssize_t render_kind(struct log *l, struct seg *s, enum seg_file kind, int64_t *cursor,
			   char *buf, size_t size)
{
	ssize_t n;
	switch (kind) {
	case SEG_INDEX: n = render_index(s, false, cursor, buf, size); break;
	case SEG_TIMEINDEX: n = render_index(s, true, cursor, buf, size); break;
	case SEG_DUMP: n = render_dump(l, s, cursor, buf, size); break;
	default: n = -EINVAL;
	}
	return n;
}
