/*
 * compress_int.h — what the codec files share (private to engine/):
 * compress.c's output buffer growth, and the snappy codec of snappy.c,
 * which compress_buf / decompress_buf (batch.h) call for
 * BATCH_CODEC_SNAPPY.
 *
 * Output rules, for every codec: a decompressor writes into *out (realloc'ed,
 * *cap its size, both still valid on failure) and never past
 * COMPRESS_MAX_OUT bytes; a compressor returns a malloc'ed *out.
 */
#ifndef MQFS_ENGINE_COMPRESS_INT_H
#define MQFS_ENGINE_COMPRESS_INT_H

#include <stddef.h>
#include <stdint.h>

/* First guess for the output of decompressing n bytes. */
size_t compress_first_cap(size_t n);
/* Makes room in *out: at least doubles *cap, and to at least want, up to
 * COMPRESS_MAX_OUT. 0, -EBADMSG when already at the limit, -ENOMEM. On
 * failure *out and *cap are unchanged and still valid. */
int compress_grow(uint8_t **out, size_t *cap, size_t want);

/* Bytes the calling thread's decoding contexts keep between calls (0:
 * none kept; lz4's counted as its buffers for Kafka's 64 KiB blocks): at
 * most 4.5 MiB + 128 KiB after any call (compress.c). For tests. */
size_t compress_kept_bytes(void);

/* Kafka's snappy payload as snappy-java's SnappyOutputStream writes it
 * (the "xerial" framing, snappy.c's top comment). Output length,
 * -ENOMEM. */
int64_t snappy_compress(const uint8_t *in, size_t len, uint8_t **out);
/* Either framing (xerial, or one raw snappy block as librdkafka writes).
 * Output length, -EBADMSG (malformed, or over COMPRESS_MAX_OUT), -ENOMEM. */
int64_t snappy_decompress(const uint8_t *in, size_t len, uint8_t **out, size_t *cap);

#endif
