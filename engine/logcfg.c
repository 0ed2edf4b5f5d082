/*
 * logcfg.c — defaults of the per-log settings (Kafka's topic defaults).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/batch.h"

void log_config_defaults(struct log_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->segment_bytes = 1073741824;          /* 1 GiB */
	cfg->segment_ms = 7LL * 24 * 3600 * 1000; /* 7 days */
	cfg->segment_index_bytes = 10485760;      /* 10 MiB */
	cfg->index_interval_bytes = 4096;
	cfg->max_message_bytes = 1048588;
	cfg->flush_messages = INT64_MAX;
	cfg->flush_ms = INT64_MAX;
	cfg->batch_bytes = 16384;
	cfg->codec = LOG_CODEC_PRODUCER;
	cfg->key_sep[0] = '\0';
	cfg->key_sep_len = 0;
	cfg->line_format = LINE_FORMAT_ESCAPE;
	cfg->retention_ms = 7LL * 24 * 3600 * 1000; /* 7 days */
	cfg->retention_bytes = -1;
	cfg->cleanup_policy = LOG_CLEANUP_DELETE;
	cfg->delete_retention_ms = 24LL * 3600 * 1000; /* 1 day */
	cfg->min_cleanable_dirty_ratio = 0.5;
	cfg->min_compaction_lag_ms = 0;
	cfg->log_append_time = false;
	cfg->segment_jitter_ms = 0;
	cfg->max_compaction_lag_ms = INT64_MAX;
	cfg->ts_difference_max_ms = INT64_MAX;
	cfg->ts_before_max_ms = INT64_MAX;
	cfg->ts_after_max_ms = INT64_MAX;
	cfg->preallocate = false;
	cfg->file_delete_delay_ms = 60000;
	snprintf(cfg->message_format_version, sizeof(cfg->message_format_version), "3.0-IV1");
	cfg->message_downconversion = true;
}

void log_ts_bounds(const struct log_config *cfg, int64_t *before, int64_t *after)
{
	*before = cfg->ts_before_max_ms != INT64_MAX ? cfg->ts_before_max_ms
						     : cfg->ts_difference_max_ms;
	*after = cfg->ts_after_max_ms != INT64_MAX ? cfg->ts_after_max_ms
						   : cfg->ts_difference_max_ms;
}

int64_t log_roll_age_ms(const struct log_config *cfg, const char *dir, int64_t base_offset)
{
	int64_t age = cfg->segment_ms, span;
	uint64_t h = 1469598103934665603ULL; /* FNV-1a of dir, then the offset */

	if ((cfg->cleanup_policy & LOG_CLEANUP_COMPACT) && cfg->max_compaction_lag_ms < age)
		age = cfg->max_compaction_lag_ms;
	span = cfg->segment_jitter_ms < age ? cfg->segment_jitter_ms : age;
	if (span <= 0)
		return age;
	for (const char *p = dir; p && *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ULL;
	for (int i = 0; i < 8; i++)
		h = (h ^ (uint8_t)((uint64_t)base_offset >> (8 * i))) * 1099511628211ULL;
	h ^= h >> 33; /* FNV's low bits mix poorly: fold the high ones in */
	return age - (int64_t)(h % (uint64_t)span);
}

int32_t log_batch_limit(const struct log_config *cfg, const char **name)
{
	bool seg = cfg->segment_bytes < cfg->max_message_bytes;

	if (name)
		*name = seg ? "segment.bytes" : "max.message.bytes";
	return seg ? (int32_t)cfg->segment_bytes : cfg->max_message_bytes;
}

int64_t log_max_record_payload(const struct log_config *cfg)
{
	return (int64_t)log_batch_limit(cfg, NULL) - BATCH_HDR_SIZE -
	       (int64_t)batch_record_max_size(0, 0);
}

size_t log_batch_cap(const struct log_config *cfg)
{
	int32_t lim = log_batch_limit(cfg, NULL);
	int32_t cap = cfg->batch_bytes < lim ? cfg->batch_bytes : lim;

	return cap > 0 ? (size_t)cap : 1;
}
