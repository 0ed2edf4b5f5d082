/*
 * snappy.c — the snappy codec of Kafka record batches (attributes codec 2).
 *
 * A raw snappy block:
 *
 *   ulen      varint, 1..5 bytes, 7 bits a byte, least significant first:
 *             the length of the decompressed block (< 2^32)
 *   elements  until ulen bytes are produced, each a tag byte whose low two
 *             bits say what it is:
 *     00 literal   tag>>2 < 60: the next (tag>>2)+1 bytes are copied out;
 *                  60..63: 1..4 bytes (little-endian) follow holding the
 *                  length-1, then the bytes
 *     01 copy      length 4 + ((tag>>2) & 7), offset ((tag>>5) << 8) | the
 *                  next byte (11 bits)
 *     10 copy      length (tag>>2)+1, offset in the next 2 bytes (LE)
 *     11 copy      length (tag>>2)+1, offset in the next 4 bytes (LE)
 *   A copy repeats length bytes starting offset bytes back in this block's
 *   output; offset < length repeats a run (the copy reads what it writes).
 *
 * A block is valid when: the varint ends within 5 bytes and fits 32 bits;
 * every element lies within the input; a literal or copy never produces
 * past ulen; a copy's offset is at least 1 and at most what the block has
 * produced; the elements produce exactly ulen bytes and end exactly at the
 * end of the input. Anything else is -EBADMSG, checked before any byte is
 * read or written. Since no element produces more than 64 bytes from 3 of
 * input, a ulen above 64/3 of the block's size is refused before any
 * output memory is taken for it.
 *
 * Kafka's two framings of a batch's payload:
 *   xerial   what Java clients (snappy-java's SnappyOutputStream, Kafka's
 *            SnappyFactory) write and Kafka's broker writes when it
 *            recompresses: a 16-byte header, the magic 0x82 'S' 'N' 'A' 'P'
 *            'P' 'Y' 0 then version and compatible version (big-endian
 *            int32, both 1), then blocks, each [length: big-endian int32]
 *            [a raw snappy block of that many bytes], each block decoding
 *            alone (snappy-java writes 32 KiB of input a block, as we
 *            do; any size is read). A header met where a block length
 *            should be starts another stream (concatenated streams, as
 *            snappy-java reads them); the version fields are not checked
 *            (as librdkafka).
 *   raw      one raw snappy block, what librdkafka writes.
 * A payload that starts with the 8 magic bytes is xerial (as both
 * snappy-java and librdkafka decide), else raw. We write xerial.
 *
 * The compressor is a greedy one: a hash of the next 4 bytes finds an
 * earlier position with the same 4 bytes; a match is extended as far as
 * it goes and written as copies, the bytes between matches as literals.
 * Stateless; callable from any thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/batch.h"
#include "engine/compress_int.h"

#define XERIAL_HDR_LEN 16
#define XERIAL_BLOCK   (32u << 10) /* snappy-java's default block size */
static const uint8_t xerial_magic[8] = { 0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0 };

/* ---- decoding ---- */

static uint32_t le_get(const uint8_t *p, int n)
{
	uint32_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The block's ulen varint at in[0..n): its byte count, or -EBADMSG. */
static int snappy_ulen(const uint8_t *in, size_t n, uint32_t *ulen)
{
	uint64_t v = 0;

	for (int i = 0; i < 5; i++) {
		if ((size_t)i >= n)
			return -EBADMSG;
		v |= (uint64_t)(in[i] & 0x7f) << (7 * i);
		if (!(in[i] & 0x80)) {
			if (v > UINT32_MAX)
				return -EBADMSG;
			*ulen = (uint32_t)v;
			return i + 1;
		}
	}
	return -EBADMSG; /* a sixth byte would pass 32 bits */
}

/* The elements of one block, in[0..n), into dst[0..ulen): 0 or -EBADMSG. */
static int snappy_elements(const uint8_t *in, size_t n, uint8_t *dst, size_t ulen)
{
	size_t ip = 0, op = 0;

	while (ip < n) {
		uint8_t tag = in[ip++];
		size_t len, off;

		if ((tag & 3) == 0) {
			len = (size_t)(tag >> 2) + 1;
			if (len > 60) {
				int nb = (int)len - 60; /* 1..4 length bytes */

				if (n - ip < (size_t)nb)
					return -EBADMSG;
				len = (size_t)le_get(in + ip, nb) + 1;
				ip += (size_t)nb;
			}
			if (len > n - ip || len > ulen - op)
				return -EBADMSG;
			memcpy(dst + op, in + ip, len);
			ip += len;
			op += len;
			continue;
		}
		if ((tag & 3) == 1) {
			if (n - ip < 1)
				return -EBADMSG;
			len = 4 + ((tag >> 2) & 7);
			off = (size_t)(tag >> 5) << 8 | in[ip];
			ip += 1;
		} else {
			int nb = (tag & 3) == 2 ? 2 : 4;

			if (n - ip < (size_t)nb)
				return -EBADMSG;
			len = (size_t)(tag >> 2) + 1;
			off = le_get(in + ip, nb);
			ip += (size_t)nb;
		}
		if (off == 0 || off > op || len > ulen - op)
			return -EBADMSG;
		if (off >= len) {
			memcpy(dst + op, dst + op - off, len);
		} else {
			/* A run: each byte copied may be one this copy wrote. */
			for (size_t i = 0; i < len; i++)
				dst[op + i] = dst[op - off + i];
		}
		op += len;
	}
	return op == ulen ? 0 : -EBADMSG;
}

/* One raw block in[0..n) appended to *out at *done. */
static int snappy_block_decode(const uint8_t *in, size_t n, uint8_t **out, size_t *cap,
			       size_t *done)
{
	uint32_t ulen;
	int vlen, err;

	vlen = snappy_ulen(in, n, &ulen);
	if (vlen < 0)
		return vlen;
	/* 64 bytes from every 3 is the most any element makes: a larger
	 * claim is a lie, refused before memory is taken for it. */
	if ((uint64_t)ulen * 3 > (uint64_t)(n - (size_t)vlen) * 64)
		return -EBADMSG;
	if (ulen > COMPRESS_MAX_OUT - *done)
		return -EBADMSG;
	if (*cap - *done < ulen && (err = compress_grow(out, cap, *done + ulen)) < 0)
		return err;
	err = snappy_elements(in + vlen, n - (size_t)vlen, *out + *done, ulen);
	if (err < 0)
		return err;
	*done += ulen;
	return 0;
}

static uint32_t be_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The xerial blocks after the first header. */
static int xerial_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *cap, size_t *done)
{
	size_t pos = XERIAL_HDR_LEN;

	while (pos < len) {
		uint32_t blen;
		int err;

		if (len - pos < 4)
			return -EBADMSG;
		if (memcmp(in + pos, xerial_magic, 4) == 0) {
			/* Another stream's header (its length would be
			 * negative as a Java int). */
			if (len - pos < XERIAL_HDR_LEN ||
			    memcmp(in + pos, xerial_magic, sizeof(xerial_magic)) != 0)
				return -EBADMSG;
			pos += XERIAL_HDR_LEN;
			continue;
		}
		blen = be_get32(in + pos);
		pos += 4;
		if (blen == 0 || blen > len - pos)
			return -EBADMSG;
		err = snappy_block_decode(in + pos, blen, out, cap, done);
		if (err < 0)
			return err;
		pos += blen;
	}
	return 0;
}

int64_t snappy_decompress(const uint8_t *in, size_t len, uint8_t **out, size_t *cap)
{
	size_t done = 0;
	int err;

	if (*cap == 0 && (err = compress_grow(out, cap, compress_first_cap(len))) < 0)
		return err;
	if (len >= sizeof(xerial_magic) && memcmp(in, xerial_magic, sizeof(xerial_magic)) == 0) {
		if (len < XERIAL_HDR_LEN)
			return -EBADMSG;
		err = xerial_decode(in, len, out, cap, &done);
	} else {
		err = snappy_block_decode(in, len, out, cap, &done);
	}
	return err < 0 ? err : (int64_t)done;
}

/* ---- encoding ---- */

#define HASH_BITS 12

/* The most one block of n input bytes takes: the varint, the input as
 * literals with a 1..3-byte tag per 60 bytes at worst, and copies never
 * longer than what they stand for. */
static size_t snappy_block_bound(size_t n)
{
	return 32 + n + n / 6;
}

static uint8_t *put_literal(uint8_t *op, const uint8_t *p, size_t len)
{
	size_t n = len - 1;

	if (len == 0)
		return op;
	if (n < 60) {
		*op++ = (uint8_t)(n << 2);
	} else {
		int nb = n < 1u << 8 ? 1 : n < 1u << 16 ? 2 : n < 1u << 24 ? 3 : 4;

		*op++ = (uint8_t)((59 + nb) << 2);
		for (int i = 0; i < nb; i++)
			*op++ = (uint8_t)(n >> (8 * i));
	}
	memcpy(op, p, len);
	return op + len;
}

/* One copy element of len 1..64 (off < 65536: blocks are 32 KiB). */
static uint8_t *put_copy1(uint8_t *op, size_t off, size_t len)
{
	if (len >= 4 && len <= 11 && off < 2048) {
		*op++ = (uint8_t)(1 | (len - 4) << 2 | (off >> 8) << 5);
		*op++ = (uint8_t)off;
	} else {
		*op++ = (uint8_t)(2 | (len - 1) << 2);
		*op++ = (uint8_t)off;
		*op++ = (uint8_t)(off >> 8);
	}
	return op;
}

/* A match of any length (>= 4) as copies of at most 64, none left
 * shorter than 4 so the cheap form stays usable. */
static uint8_t *put_copy(uint8_t *op, size_t off, size_t len)
{
	while (len >= 68) {
		op = put_copy1(op, off, 64);
		len -= 64;
	}
	if (len > 64) {
		op = put_copy1(op, off, 60);
		len -= 60;
	}
	return put_copy1(op, off, len);
}

static uint32_t load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* One raw block of n <= XERIAL_BLOCK bytes into op (room for
 * snappy_block_bound(n)); returns the end of what it wrote. */
static uint8_t *snappy_block_encode(const uint8_t *in, size_t n, uint8_t *op)
{
	uint16_t table[1 << HASH_BITS];
	size_t ip = 0, lit = 0, skip = 32;
	size_t v = n;

	do {
		*op++ = (uint8_t)(v > 0x7f ? 0x80 | (v & 0x7f) : v);
		v >>= 7;
	} while (v);
	memset(table, 0, sizeof(table));
	while (n >= 4 && ip <= n - 4) {
		uint32_t cur = load32(in + ip);
		uint32_t h = (cur * 0x1e35a7bdu) >> (32 - HASH_BITS);
		size_t cand = table[h], m = 4;

		table[h] = (uint16_t)ip;
		if (cand >= ip || load32(in + cand) != cur) {
			/* Incompressible stretches are stepped over faster
			 * the longer they last. */
			ip += skip++ >> 5;
			continue;
		}
		while (ip + m < n && in[cand + m] == in[ip + m])
			m++;
		op = put_literal(op, in + lit, ip - lit);
		op = put_copy(op, ip - cand, m);
		ip += m;
		lit = ip;
		skip = 32;
	}
	return put_literal(op, in + lit, n - lit);
}

static void be_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int64_t snappy_compress(const uint8_t *in, size_t len, uint8_t **out)
{
	size_t nblocks = (len + XERIAL_BLOCK - 1) / XERIAL_BLOCK;
	size_t bound = XERIAL_HDR_LEN + nblocks * 4 + nblocks * snappy_block_bound(XERIAL_BLOCK);
	uint8_t *buf, *op;

	buf = malloc(bound);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, xerial_magic, sizeof(xerial_magic));
	be_put32(buf + 8, 1);  /* version */
	be_put32(buf + 12, 1); /* compatible version */
	op = buf + XERIAL_HDR_LEN;
	for (size_t at = 0; at < len; at += XERIAL_BLOCK) {
		size_t n = len - at < XERIAL_BLOCK ? len - at : XERIAL_BLOCK;
		uint8_t *end = snappy_block_encode(in + at, n, op + 4);

		be_put32(op, (uint32_t)(end - (op + 4)));
		op = end;
	}
	*out = buf;
	return (int64_t)(op - buf);
}
