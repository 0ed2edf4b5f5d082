/*
 * logcfg.c — defaults of the per-log settings (Kafka's topic defaults).
 */
#include <stdint.h>
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
	cfg->codec = BATCH_CODEC_NONE;
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
}

int64_t log_max_record_payload(const struct log_config *cfg)
{
	return (int64_t)cfg->max_message_bytes - BATCH_HDR_SIZE -
	       (int64_t)batch_record_max_size(0, 0);
}
