/*
 * fuzz_batch.c — libFuzzer target: the record batch decoder (engine/batch.c
 * and the codecs of compress.c). The input is one batch as it would lie in
 * a .log file, possibly followed by other bytes.
 *
 * Each input is decoded twice: as every reader does (batch_iter_init, CRC
 * checked) and without the CRC (batch_iter_init_nocrc), since a mutated
 * input rarely keeps a matching CRC and the payload and record decoders
 * behind it are what needs the fuzzing. Every key, value and header byte a
 * decoded record points at is read, so that ASan sees any pointer outside
 * the input or the decompressed payload.
 *
 * Properties checked (abort() on a violation, which libFuzzer reports):
 *   - no more records than recordsCount, offsets strictly increasing and
 *     within base .. base + lastOffsetDelta;
 *   - batch_explain says "" exactly when the batch is valid for a reader
 *     (iter_init with CRC succeeds and every record decodes);
 *   - nothing an input did stays behind in the thread's decoders: after
 *     each input, a valid batch of each codec still decodes whole (an
 *     lz4 frame cut short once made every later lz4 batch fail).
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address, and by `make
 * test` with the corpus replay driver (replay.c) and the normal compiler.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/batch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void touch(const uint8_t *p, int32_t len)
{
	uint8_t x = 0;

	for (int32_t i = 0; i < len; i++)
		x ^= p[i];
	sink ^= x;
}

/* 1 if the batch decodes fully (all records), 0 if not. */
static int decode(struct batch_iter *it, const uint8_t *data, size_t size, int crc)
{
	struct rec r;
	int64_t n = 0, last = 0;
	int rc = crc ? batch_iter_init(it, data, size) : batch_iter_init_nocrc(it, data, size);

	if (rc < 0)
		return 0;
	while ((rc = batch_iter_next(it, &r)) == 1) {
		int64_t delta = (int64_t)((uint64_t)r.offset - (uint64_t)it->hdr.base_offset);

		if (++n > it->hdr.records_count || delta < 0 || delta > it->hdr.last_offset_delta ||
		    (n > 1 && r.offset <= last))
			abort();
		last = r.offset;
		if (r.key_len > 0)
			touch(r.key, r.key_len);
		if (r.value_len > 0)
			touch(r.value, r.value_len);
	}
	return rc == 0;
}

/* A valid batch of each codec (built once): after any input, each must
 * still decode whole. */
static void check_codecs_clean(struct batch_iter *it)
{
	static uint8_t refs[BATCH_CODEC_ZSTD + 1][256];
	static size_t ref_len[BATCH_CODEC_ZSTD + 1];

	for (int c = BATCH_CODEC_NONE; c <= BATCH_CODEC_ZSTD; c++) {
		if (!ref_len[c]) {
			struct batch_builder bb;
			int64_t n;

			batch_builder_init(&bb, refs[c], sizeof(refs[c]), c);
			if (batch_builder_add(&bb, "k", 1, "value", 5, 0) < 0 ||
			    (n = batch_builder_finish(&bb, 0, 0)) < 0)
				abort();
			ref_len[c] = (size_t)n;
		}
		if (!decode(it, refs[c], ref_len[c], 1))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct batch_iter it = { 0 };
	struct batch_hdr h;
	char why[160];
	int valid;

	decode(&it, data, size, 0);
	valid = decode(&it, data, size, 1);
	check_codecs_clean(&it);
	batch_iter_free(&it);
	batch_explain(data, size, why, sizeof(why));
	if (valid != (why[0] == '\0'))
		abort();
	if (batch_hdr_decode(data, size, &h) == 0 &&
	    (uint64_t)h.batch_length + BATCH_LOG_OVERHEAD <= size)
		(void)batch_validate(data, (size_t)h.batch_length + BATCH_LOG_OVERHEAD);
	return 0;
}
