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

int varint_get32(const uint8_t *p, size_t avail, int32_t *v)
{
	/* The 64-bit decoder with the 32-bit limit: at most 5 bytes, and a
	 * value outside int32 (a 5th byte over 0x0f) overflows the type. */
	int64_t w;
	int n = varint_get64(p, avail < 5 ? avail : 5, &w);
	if (n < 0)
		return n;
	if (w < INT32_MIN || w > INT32_MAX)
		return -EBADMSG;
	*v = (int32_t)w;
	return n;
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
