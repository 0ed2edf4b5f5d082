/*
 * partition_log.c — the engine's log behind struct partition_log_ops
 * (partition.h): what a replica (partition.c, fetch_serve.c, fetcher.c)
 * calls on its local log, each operation one engine call. The file range
 * of read_raw is a referenced segment (struct log_raw) whose reference
 * rides in partition_raw.ref until raw_release.
 *
 * Threads: any; the engine's calls take the log's own locks.
 */
#include <errno.h>
#include <stdlib.h>

#include "engine/engine.h"
#include "repl/partition.h"

static void pl_offsets(void *log, struct partition_offsets *o)
{
	struct log_offsets st;

	log_get_offsets(log, &st);
	o->log_start_offset = st.log_start_offset;
	o->hw = st.hw;
	o->log_end_offset = st.log_end_offset;
	o->line_start = st.line_start;
	o->dropped = st.dropped;
}

static int pl_set_hw(void *log, int64_t hw)
{
	return log_set_follower_hw(log, hw);
}

static int pl_assign_epoch(void *log, int32_t epoch, int64_t start_offset)
{
	return log_assign_epoch(log, epoch, start_offset);
}

static int32_t pl_latest_epoch(void *log)
{
	struct log_offsets st;

	log_get_offsets(log, &st);
	return st.leader_epoch;
}

static void pl_end_offset_for_epoch(void *log, int32_t epoch, int32_t *found_epoch,
				    int64_t *end_offset)
{
	(void)log_end_offset_for_epoch(log, epoch, found_epoch, end_offset);
}

static int32_t pl_epoch_for_offset(void *log, int64_t offset)
{
	return log_epoch_for_offset(log, offset);
}

/* read_raw and read_raw_copy: fn is log_read_raw or log_read_raw_copy. */
static int pl_read(void *log, int64_t offset, int64_t max_offset, size_t max_bytes,
		   struct partition_raw *raw,
		   int (*fn)(struct log *, int64_t, int64_t, size_t, struct log_raw *))
{
	struct log_raw *r = malloc(sizeof(*r));
	int rc;

	raw->fd = -1;
	raw->offset = 0;
	raw->len = 0;
	raw->last_epoch = -1;
	raw->last_offset = -1;
	raw->ref = NULL;
	raw->base_offset = -1;
	raw->first_line_pos = -1;
	if (!r)
		return -ENOMEM;
	rc = fn(log, offset, max_offset, max_bytes, r);
	if (rc < 0 || r->len == 0) {
		free(r);
		return rc;
	}
	raw->fd = r->fd;
	raw->offset = (off_t)r->pos;
	raw->len = (size_t)r->len;
	raw->last_epoch = r->last_epoch;
	raw->last_offset = r->last_offset;
	raw->base_offset = r->base_offset;
	raw->first_line_pos = r->first_line_pos;
	raw->ref = r;
	return 0;
}

static int pl_read_raw(void *log, int64_t offset, int64_t max_offset, size_t max_bytes,
		       struct partition_raw *raw)
{
	return pl_read(log, offset, max_offset, max_bytes, raw, log_read_raw);
}

static int pl_read_raw_copy(void *log, int64_t offset, int64_t max_offset, size_t max_bytes,
			    struct partition_raw *raw)
{
	return pl_read(log, offset, max_offset, max_bytes, raw, log_read_raw_copy);
}

static void pl_raw_release(void *log, struct partition_raw *raw)
{
	(void)log;
	if (!raw->ref)
		return;
	log_raw_release(raw->ref);
	free(raw->ref);
	raw->ref = NULL;
}

static int pl_append_batches(void *log, const uint8_t *buf, size_t len, int64_t first_line_pos)
{
	int rc = log_append_batches(log, buf, len, first_line_pos, NULL);

	return rc < 0 ? rc : 0;
}

static int pl_truncate_to(void *log, int64_t offset)
{
	return log_truncate_durable(log, offset);
}

static int pl_reset_start(void *log, int64_t offset, int64_t line_pos)
{
	return log_reset_start(log, offset, line_pos);
}

static int pl_offset_for_time(void *log, int64_t ts_ms, int64_t *offset, int64_t *timestamp)
{
	return log_time_lookup(log, ts_ms, offset, timestamp);
}

static int pl_offset_for_max_time(void *log, int64_t *offset, int64_t *timestamp)
{
	return log_max_time_lookup(log, offset, timestamp);
}

static int pl_delete_records(void *log, int64_t offset, bool busy_ok, int64_t *start)
{
	return log_delete_records(log, offset, busy_ok, start);
}

static int pl_codec(void *log)
{
	struct log_config lc;

	log_get_config(log, &lc);
	return lc.codec;
}

const struct partition_log_ops partition_engine_ops = {
	.offsets = pl_offsets,
	.set_hw = pl_set_hw,
	.assign_epoch = pl_assign_epoch,
	.latest_epoch = pl_latest_epoch,
	.end_offset_for_epoch = pl_end_offset_for_epoch,
	.epoch_for_offset = pl_epoch_for_offset,
	.read_raw = pl_read_raw,
	.read_raw_copy = pl_read_raw_copy,
	.raw_release = pl_raw_release,
	.append_batches = pl_append_batches,
	.truncate_to = pl_truncate_to,
	.reset_start = pl_reset_start,
	.offset_for_time = pl_offset_for_time,
	.offset_for_max_time = pl_offset_for_max_time,
	.delete_records = pl_delete_records,
	.codec = pl_codec,
};
