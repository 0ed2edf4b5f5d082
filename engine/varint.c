/*
 * varint.c — the variable-length integers of Kafka's record format v2
 * (ByteUtils.writeVarint / writeVarlong), declared in batch.h.
 *
 * A value is first zigzag-mapped so that small magnitudes of either sign
 * become small unsigned numbers:
 *
 *    0 -> 0,  -1 -> 1,  1 -> 2,  -2 -> 3, ...,  INT32_MIN -> 0xFFFFFFFF
 *
 * then written as LEB128: 7 bits per byte, least significant group first,
 * the top bit of each byte set when another byte follows. A 32-bit value
 * takes 1..5 bytes, a 64-bit value 1..10.
 *
 * Decoding rules (what the get functions accept):
 *   - the input may end early: -EBADMSG, nothing is read past avail;
 *   - at most 5 (10) bytes; the last possible byte may only carry the bits
 *     that are left (4 for 32-bit, 1 for 64-bit) and no continuation bit,
 *     anything else overflows the type: -EBADMSG;
 *   - non-minimal encodings (0x80 0x00 for 0) are accepted, as Kafka does.
 *
 * Stateless; callable from any thread.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/batch.h"

static inline uint32_t zigzag32(int32_t v)
{
	return ((uint32_t)v << 1) ^ -((uint32_t)v >> 31);
}

static inline uint64_t zigzag64(int64_t v)
{
	return ((uint64_t)v << 1) ^ -((uint64_t)v >> 63);
}

static inline int32_t unzigzag32(uint32_t z)
{
	return (int32_t)((z >> 1) ^ -(z & 1));
}

static inline int64_t unzigzag64(uint64_t z)
{
	return (int64_t)((z >> 1) ^ -(z & 1));
}

int varint_put32(uint8_t *p, int32_t v)
{
	uint32_t z = zigzag32(v);
	int n = 0;

	while (z >= 0x80) {
		p[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}

int varint_put64(uint8_t *p, int64_t v)
{
	uint64_t z = zigzag64(v);
	int n = 0;

	while (z >= 0x80) {
		p[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}

int varint_get32(const uint8_t *p, size_t avail, int32_t *v)
{
	uint32_t z = 0;

	for (size_t i = 0; i < 5; i++) {
		if (i == avail)
			return -EBADMSG;
		uint8_t b = p[i];
		/* 4 * 7 = 28 bits so far: the 5th byte holds the last 4. */
		if (i == 4 && b > 0x0f)
			return -EBADMSG;
		z |= (uint32_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = unzigzag32(z);
			return (int)i + 1;
		}
	}
	return -EBADMSG;   /* not reached: the 5th byte always ends the loop */
}

int varint_get64(const uint8_t *p, size_t avail, int64_t *v)
{
	uint64_t z = 0;

	for (size_t i = 0; i < 10; i++) {
		if (i == avail)
			return -EBADMSG;
		uint8_t b = p[i];
		/* 9 * 7 = 63 bits so far: the 10th byte holds the last 1. */
		if (i == 9 && b > 0x01)
			return -EBADMSG;
		z |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			*v = unzigzag64(z);
			return (int)i + 1;
		}
	}
	return -EBADMSG;
}

int varint_size32(int32_t v)
{
	uint32_t z = zigzag32(v);
	int n = 1;

	while (z >= 0x80) {
		z >>= 7;
		n++;
	}
	return n;
}

int varint_size64(int64_t v)
{
	uint64_t z = zigzag64(v);
	int n = 1;

	while (z >= 0x80) {
		z >>= 7;
		n++;
	}
	return n;
}
