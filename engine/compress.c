/*
 * compress.c — the compression codecs of a record batch's payload (the
 * records after the 61-byte header, compressed as one unit; batch.h).
 *
 * Framing, as Kafka writes it:
 *   gzip  a gzip stream (RFC 1952) from zlib's deflate at the default level,
 *         like Java's GZIPOutputStream. A client's payload
 *         (decompress_client) must be exactly one gzip member: a zlib
 *         stream (RFC 1950) is an error, as Java's GZIPInputStream and
 *         kafkajs refuse it, and so is anything after the member, even
 *         another member (librdkafka reads the first member only: the
 *         records of the others would be acknowledged, then silently
 *         missing for its consumers). What is stored (decompress_buf) is
 *         read as it always was: gzip or zlib, members back to back.
 *   lz4   one LZ4 frame (lz4frame.h) with independent 64 KiB blocks, no
 *         block checksums, no content size and no content checksum: what
 *         Kafka's KafkaLZ4BlockOutputStream writes, readable by `lz4 -d`.
 *         Any one frame liblz4 reads is accepted (dependent blocks,
 *         checksums, a content size that matches); after its end, a
 *         client's payload has nothing, another frame neither:
 *         librdkafka's consumers read one frame and fail on the rest,
 *         stuck at that batch for good. What is stored is read with every
 *         frame back to back, as it always was.
 *   snappy  snappy-java's "xerial" framing of raw snappy blocks, what
 *         Kafka's Java client and broker write; reading also takes one raw
 *         block, what librdkafka writes (snappy.c, our own codec).
 *   zstd  one zstd frame (libzstd at its default level 3, Kafka's default),
 *         with its content size. Any sequence of frames libzstd reads is
 *         accepted (skippable frames, checksums, no content size), read
 *         as a stream into our buffer, which grows only as output comes
 *         (a frame's claimed content size does not size it); libzstd's
 *         own window is limited to 2^27 bytes (its default), reserved but
 *         touched only as far as the frame decodes.
 *   none  a plain copy (so callers need not special-case it).
 *
 * The payload of a batch comes from disk or the network and is not trusted:
 * every malformed input is -EBADMSG, never a crash, and decompression stops
 * with -EBADMSG once the output would exceed COMPRESS_MAX_OUT (64 MiB), so a
 * small hostile batch cannot make us allocate without bound. (Kafka's own
 * limit on a batch is message.max.bytes, about 1 MB by default.) An output
 * of exactly COMPRESS_MAX_OUT bytes is accepted.
 *
 * Errors: -EBADMSG corrupt or oversized input, -ENOMEM, -EINVAL
 * (compress_buf with a codec number that does not exist),
 * -EIO (the compression library failed on valid input; should not happen).
 *
 * Callable from any thread. Apart from the caller's buffers, the only state
 * is each thread's lz4 and zstd decoding contexts (dec_ctx), reset before
 * every use.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "engine/batch.h"
#include "engine/compress_int.h"

/* Four times the input, at least 4 KiB, at most COMPRESS_MAX_OUT. */
size_t compress_first_cap(size_t n)
{
	size_t c = n > COMPRESS_MAX_OUT / 4 ? COMPRESS_MAX_OUT : 4 * n;

	return c < 4096 ? 4096 : c;
}

int compress_grow(uint8_t **out, size_t *cap, size_t want)
{
	size_t ncap;
	uint8_t *n;

	if (*cap >= COMPRESS_MAX_OUT)
		return -EBADMSG;
	ncap = *cap * 2 > want ? *cap * 2 : want;
	if (ncap > COMPRESS_MAX_OUT)
		ncap = COMPRESS_MAX_OUT;
	n = realloc(*out, ncap);
	if (!n)
		return -ENOMEM;
	*out = n;
	*cap = ncap;
	return 0;
}

/* Room for want more bytes of output after done, as far as
 * COMPRESS_MAX_OUT allows (at the limit, whatever room is left: the rest
 * may be only a frame's end). lz4 and zstd decode a block straight into
 * the output only when it has room for the whole block, and through a
 * buffer of their own otherwise: a 1 MB zstd frame decoded into an output
 * grown from a few KiB took 7 ms instead of 0.1. 0 or -ENOMEM. */
static int decomp_room(uint8_t **out, size_t *cap, size_t done, size_t want)
{
	int err;

	if (*cap - done >= want)
		return 0;
	err = compress_grow(out, cap, done + want);
	return err == -ENOMEM ? err : 0;
}

/* Each thread keeps its lz4 and zstd decoding contexts between calls:
 * a fresh one allocates its buffers (lz4's 128 KiB, zstd's window) and
 * touches their pages, which costs several times the decoding of a
 * small batch. Reset before each use, so nothing a failed input left in
 * one carries over; freed when the thread ends (the key's destructor).
 * Without a key (its creation failed) each call has contexts of its own.
 * An lz4 context that failed on a frame is freed, not reset (liblz4's
 * reset does not clear all of a frame's state: lz4_decompress).
 *
 * A context keeps the buffers of the largest frame it has met, and the
 * pages a frame touched stay resident: one zstd frame asking for a 128
 * MiB window (windowLog 27, our limit) that decodes to 64 MiB would leave
 * 64 MiB held by each listener thread that met one, long after the batch
 * was refused; an lz4 frame of 4 MiB blocks, 8 MiB. So a zstd context
 * over DEC_KEEP_MAX (a 4 MiB window and its blocks: zstd's levels up to
 * 15, more than producers use) and an lz4 context that met blocks over
 * Kafka's 64 KiB are freed after the call instead of kept; the next
 * frame on that thread starts a fresh one. */
struct dec_ctx {
	LZ4F_dctx *lz4;
	ZSTD_DStream *zstd;
};

#define LZ4_BLOCK_ROOM (64u << 10) /* Kafka's lz4 block size */
#define DEC_KEEP_MAX   ((4u << 20) + (512u << 10))

static pthread_key_t dec_key;
static pthread_once_t dec_once = PTHREAD_ONCE_INIT;
static bool dec_key_ok;

static void dec_ctx_free(void *arg)
{
	struct dec_ctx *d = arg;

	LZ4F_freeDecompressionContext(d->lz4);
	ZSTD_freeDStream(d->zstd);
	free(d);
}

static void dec_key_make(void)
{
	dec_key_ok = pthread_key_create(&dec_key, dec_ctx_free) == 0;
}

/* The thread's contexts, NULL when it cannot have any (no key, no memory). */
static struct dec_ctx *dec_ctx_get(void)
{
	struct dec_ctx *d;

	pthread_once(&dec_once, dec_key_make);
	if (!dec_key_ok)
		return NULL;
	d = pthread_getspecific(dec_key);
	if (!d && (d = calloc(1, sizeof(*d))) && pthread_setspecific(dec_key, d) != 0) {
		free(d);
		d = NULL;
	}
	return d;
}

/* The end of a zstd decoding with the thread's context d (NULL: ds was
 * the call's own): frees ds unless d keeps it, and d keeps it only when
 * it is within DEC_KEEP_MAX. */
static void dec_zstd_done(struct dec_ctx *d, ZSTD_DStream *ds)
{
	if (d && ZSTD_sizeof_DStream(ds) <= DEC_KEEP_MAX)
		return;
	if (d)
		d->zstd = NULL;
	ZSTD_freeDStream(ds);
}

size_t compress_kept_bytes(void)
{
	struct dec_ctx *d;
	size_t n = 0;

	pthread_once(&dec_once, dec_key_make);
	d = dec_key_ok ? pthread_getspecific(dec_key) : NULL;
	if (d && d->zstd)
		n += ZSTD_sizeof_DStream(d->zstd);
	if (d && d->lz4)
		n += 2 * LZ4_BLOCK_ROOM; /* its buffers, for 64 KiB blocks at most */
	return n;
}


/* ---- gzip ---- */

static int64_t gzip_compress(const uint8_t *in, size_t len, uint8_t **out)
{
	z_stream zs;
	uint8_t *buf = NULL;
	size_t bound;
	int64_t ret;
	int zret;

	memset(&zs, 0, sizeof(zs));
	zret = deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zret != Z_OK)
		return zret == Z_MEM_ERROR ? -ENOMEM : -EIO;
	/* deflateBound knows about the gzip wrapper once deflateInit2 ran. It
	 * takes a uLong; on hosts where that is 32 bits batches are smaller. */
	bound = deflateBound(&zs, (uLong)len);
	buf = malloc(bound);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	zs.next_in = (Bytef *)in; /* zlib does not write through next_in */
	zs.next_out = buf;
	do {
		/* avail_* are uInt: feed in pieces for inputs over 4 GiB. */
		size_t in_left = len - (size_t)((const uint8_t *)zs.next_in - in);
		size_t out_left = bound - (size_t)(zs.next_out - buf);

		zs.avail_in = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
		zs.avail_out = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
		zret = deflate(&zs, in_left > UINT_MAX ? Z_NO_FLUSH : Z_FINISH);
	} while (zret == Z_OK);
	if (zret != Z_STREAM_END) {
		ret = -EIO;
		goto out;
	}
	ret = (int64_t)(zs.next_out - buf);
	*out = buf;
	buf = NULL;
out:
	deflateEnd(&zs);
	free(buf);
	return ret;
}

/* client: Kafka's framing only (see the top). */
static int64_t gzip_decompress(const uint8_t *in, size_t len, uint8_t **out, size_t *cap,
			       bool client)
{
	z_stream zs;
	size_t done = 0, in_left = len;
	int64_t ret;
	int zret, err;

	memset(&zs, 0, sizeof(zs));
	zret = inflateInit2(&zs, client ? 15 + 16 : 15 + 32); /* gzip only, or gzip or zlib */
	if (zret != Z_OK)
		return zret == Z_MEM_ERROR ? -ENOMEM : -EIO;
	if (*cap == 0 && (err = compress_grow(out, cap, compress_first_cap(len))) < 0) {
		ret = err;
		goto out;
	}
	zs.next_in = (Bytef *)in;
	for (;;) {
		size_t out_left;
		uInt in_chunk, out_chunk;

		/* At the limit, go on with no output room: what is left may be
		 * just the gzip trailer. If it needs room instead, inflate
		 * makes no progress and says Z_BUF_ERROR. */
		if (done == *cap && (err = compress_grow(out, cap, 0)) == -ENOMEM) {
			ret = err;
			goto out;
		}
		out_left = *cap - done;
		in_chunk = in_left > UINT_MAX ? UINT_MAX : (uInt)in_left;
		out_chunk = out_left > UINT_MAX ? UINT_MAX : (uInt)out_left;
		zs.avail_in = in_chunk;
		zs.next_out = *out + done;
		zs.avail_out = out_chunk;
		zret = inflate(&zs, Z_NO_FLUSH);
		in_left -= in_chunk - zs.avail_in;
		done += out_chunk - zs.avail_out;
		if (zret == Z_STREAM_END) {
			if (in_left == 0)
				break;
			if (client) {
				ret = -EBADMSG; /* bytes after the member */
				goto out;
			}
			/* Another member follows (or junk, which the header
			 * check of the next round rejects). */
			if (inflateReset(&zs) != Z_OK) {
				ret = -EIO;
				goto out;
			}
			continue;
		}
		if (zret == Z_OK)
			continue; /* progress made */
		if (zret == Z_BUF_ERROR && zs.avail_out == 0 && *cap < COMPRESS_MAX_OUT)
			continue; /* output full: grow and go on */
		/* Z_BUF_ERROR otherwise: the input ended mid-stream, or the
		 * output would pass the limit. */
		ret = zret == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
		goto out;
	}
	ret = (int64_t)done;
out:
	inflateEnd(&zs);
	return ret;
}

/* ---- lz4 ---- */

static void lz4_prefs(LZ4F_preferences_t *prefs)
{
	memset(prefs, 0, sizeof(*prefs));
	prefs->frameInfo.blockSizeID = LZ4F_max64KB;
	prefs->frameInfo.blockMode = LZ4F_blockIndependent;
	prefs->frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
	prefs->frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
	prefs->frameInfo.contentSize = 0; /* Kafka's reader wants none */
	prefs->compressionLevel = 0;      /* liblz4's fast default */
}

static int64_t lz4_compress(const uint8_t *in, size_t len, uint8_t **out)
{
	LZ4F_preferences_t prefs;
	size_t bound, n;
	uint8_t *buf;

	lz4_prefs(&prefs);
	bound = LZ4F_compressFrameBound(len, &prefs);
	buf = malloc(bound);
	if (!buf)
		return -ENOMEM;
	n = LZ4F_compressFrame(buf, bound, in, len, &prefs);
	if (LZ4F_isError(n)) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	return (int64_t)n;
}

static int64_t lz4_decompress(const uint8_t *in, size_t len, uint8_t **out, size_t *cap,
			      bool client)
{
	struct dec_ctx *d = dec_ctx_get();
	LZ4F_dctx *dctx = d ? d->lz4 : NULL;
	size_t done = 0, in_left = len;
	int64_t ret;
	int err;
	/* The frame's block size (BD byte, bits 4-6: 4 is 64 KiB, 7 is 4
	 * MiB) sizes the context's buffers: over Kafka's, not kept. */
	bool big = len > 5 && !memcmp(in, "\x04\x22\x4d\x18", 4) && ((in[5] >> 4) & 7) > 4;

	if (dctx)
		LZ4F_resetDecompressionContext(dctx);
	else if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return -ENOMEM;
	else if (d)
		d->lz4 = dctx;
	for (;;) {
		size_t dst_n, src_n, hint;

		/* Room for a block of Kafka's frames (64 KiB, also liblz4's
		 * default); at the limit none may be left: the frame may only
		 * have its end mark left. If it needs room instead, no
		 * progress is made and it is refused below. */
		if ((err = decomp_room(out, cap, done, LZ4_BLOCK_ROOM)) < 0) {
			ret = err;
			goto out;
		}
		dst_n = *cap - done;
		src_n = in_left;
		hint = LZ4F_decompress(dctx, *out + done, &dst_n, in + (len - in_left), &src_n,
				       NULL);
		if (LZ4F_isError(hint)) {
			ret = -EBADMSG;
			goto out;
		}
		in_left -= src_n;
		done += dst_n;
		/* hint 0: a frame ended; the context is ready for another
		 * frame if any input is left, which a client's may not have. */
		if (hint == 0 && in_left == 0)
			break;
		if (hint == 0 && client) {
			ret = -EBADMSG;
			goto out;
		}
		if (src_n == 0 && dst_n == 0) {
			/* No progress: the input ended mid-frame, or the
			 * output would pass the limit. */
			ret = -EBADMSG;
			goto out;
		}
	}
	ret = (int64_t)done;
out:
	/* A failed frame's context is not kept: liblz4's reset leaves the
	 * count of content still due from a frame that declared its size,
	 * and every later frame without one (Kafka's) would then fail its
	 * end check; one hostile batch would make every lz4 batch this
	 * thread decodes afterwards corrupt. */
	if (d && (ret < 0 || big))
		d->lz4 = NULL;
	if (!d || ret < 0 || big)
		LZ4F_freeDecompressionContext(dctx);
	return ret;
}

/* ---- zstd ---- */

static int64_t zstd_compress(const uint8_t *in, size_t len, uint8_t **out)
{
	size_t bound = ZSTD_compressBound(len), n;
	uint8_t *buf;

	buf = malloc(bound);
	if (!buf)
		return -ENOMEM;
	n = ZSTD_compress(buf, bound, in, len, ZSTD_CLEVEL_DEFAULT);
	if (ZSTD_isError(n)) {
		free(buf);
		return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? -ENOMEM : -EIO;
	}
	*out = buf;
	return (int64_t)n;
}

static int64_t zstd_decompress(const uint8_t *in, size_t len, uint8_t **out, size_t *cap)
{
	struct dec_ctx *d = dec_ctx_get();
	ZSTD_DStream *ds = d ? d->zstd : NULL;
	ZSTD_inBuffer ib = { in, len, 0 };
	size_t done = 0, room = ZSTD_BLOCKSIZE_MAX;
	unsigned long long fcs;
	int64_t ret;
	int err;

	if (ds) {
		ZSTD_DCtx_reset(ds, ZSTD_reset_session_only); /* keeps the window limit */
	} else {
		ds = ZSTD_createDStream();
		if (!ds)
			return -ENOMEM;
		/* The window a frame may ask for: the library's default
		 * limit, written down. The buffer is reserved, not touched,
		 * beyond what the frame decodes, and we stop at
		 * COMPRESS_MAX_OUT. */
		if (ZSTD_isError(ZSTD_DCtx_setParameter(ds, ZSTD_d_windowLogMax, 27))) {
			ZSTD_freeDStream(ds);
			return -EIO;
		}
		if (d)
			d->zstd = ds;
	}
	/* A first frame that says it is smaller than a block (our own
	 * frames and librdkafka's say) needs no more room than that; the
	 * frames after it get a block's. (A skippable frame says 0.) */
	fcs = ZSTD_getFrameContentSize(in, len);
	if (fcs > 0 && fcs < ZSTD_BLOCKSIZE_MAX)
		room = (size_t)fcs;
	for (;;) {
		size_t in_before = ib.pos, hint;
		ZSTD_outBuffer ob;

		/* Room for a whole block; at the limit none may be left: what
		 * is left may be a frame's end or a skippable frame. If it
		 * needs room instead, no progress is made and it is refused
		 * below. */
		if ((err = decomp_room(out, cap, done, room)) < 0) {
			ret = err;
			goto out;
		}
		ob = (ZSTD_outBuffer){ *out + done, *cap - done, 0 };
		hint = ZSTD_decompressStream(ds, &ob, &ib);
		if (ZSTD_isError(hint)) {
			ret = ZSTD_getErrorCode(hint) == ZSTD_error_memory_allocation ? -ENOMEM
										      : -EBADMSG;
			goto out;
		}
		done += ob.pos;
		/* hint 0: a frame ended and all of it is out; the stream
		 * starts another frame if any input is left. */
		if (hint == 0 && ib.pos == ib.size)
			break;
		if (hint == 0)
			room = ZSTD_BLOCKSIZE_MAX;
		if (ob.pos == 0 && ib.pos == in_before) {
			/* No progress: the input ended mid-frame (an empty
			 * input is no frame), or the output would pass the
			 * limit. */
			ret = -EBADMSG;
			goto out;
		}
	}
	ret = (int64_t)done;
out:
	dec_zstd_done(d, ds);
	return ret;
}

/* ---- public ---- */

int64_t compress_buf(int codec, const uint8_t *in, size_t len, uint8_t **out)
{
	switch (codec) {
	case BATCH_CODEC_NONE: {
		uint8_t *buf = malloc(len ? len : 1);

		if (!buf)
			return -ENOMEM;
		if (len)
			memcpy(buf, in, len);
		*out = buf;
		return (int64_t)len;
	}
	case BATCH_CODEC_GZIP: return gzip_compress(in, len, out);
	case BATCH_CODEC_LZ4: return lz4_compress(in, len, out);
	case BATCH_CODEC_SNAPPY: return snappy_compress(in, len, out);
	case BATCH_CODEC_ZSTD: return zstd_compress(in, len, out);
	default: return -EINVAL;
	}
}

static int64_t decompress(int codec, const uint8_t *in, size_t len, uint8_t **out, size_t *cap,
			  bool client)
{
	int err;

	switch (codec) {
	case BATCH_CODEC_NONE:
		if (len > COMPRESS_MAX_OUT)
			return -EBADMSG;
		if (*cap < len && (err = compress_grow(out, cap, len)) < 0)
			return err;
		if (len)
			memcpy(*out, in, len);
		return (int64_t)len;
	case BATCH_CODEC_GZIP: return gzip_decompress(in, len, out, cap, client);
	case BATCH_CODEC_LZ4: return lz4_decompress(in, len, out, cap, client);
	case BATCH_CODEC_SNAPPY: return snappy_decompress(in, len, out, cap);
	case BATCH_CODEC_ZSTD: return zstd_decompress(in, len, out, cap);
	default: return -EBADMSG; /* codec bits 5..7: not a codec at all */
	}
}

int64_t decompress_buf(int codec, const uint8_t *in, size_t len, uint8_t **out, size_t *cap)
{
	return decompress(codec, in, len, out, cap, false);
}

int64_t decompress_client(int codec, const uint8_t *in, size_t len, uint8_t **out, size_t *cap)
{
	return decompress(codec, in, len, out, cap, true);
}

static const char *const codec_names[] = {
	[BATCH_CODEC_NONE] = "none", [BATCH_CODEC_GZIP] = "gzip", [BATCH_CODEC_SNAPPY] = "snappy",
	[BATCH_CODEC_LZ4] = "lz4",   [BATCH_CODEC_ZSTD] = "zstd",
};

const char *codec_name(int codec)
{
	if (codec < 0 || codec >= (int)(sizeof(codec_names) / sizeof(codec_names[0])))
		return "unknown";
	return codec_names[codec];
}

int codec_parse(const char *s)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i < (int)(sizeof(codec_names) / sizeof(codec_names[0])); i++)
		if (strcmp(s, codec_names[i]) == 0)
			return i;
	return -EINVAL;
}
