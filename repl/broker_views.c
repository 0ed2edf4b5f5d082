/*
 * broker_views.c — the broker's text views: MNT/<topic>/.state, MNT/.state,
 * MNT/.config, MNT/.metrics. Every view is rendered whole into a malloc'ed
 * buffer from a snapshot taken under the locks, then formatted without
 * them.
 *
 * MNT/<topic>/.state, aligned like `column -t` (two spaces between
 * columns, left-aligned, so awk '{print $3}' works):
 *
 *   partition  log_start_offset  high_watermark  log_end_offset  leader  ...
 *   0          0                 1200            1200            0       ...
 *
 * columns: partition log_start_offset high_watermark log_end_offset leader
 * leader_epoch replicas isr size_bytes segments dirty_ratio; replicas and
 * isr are broker ids in brackets ("[0]"); dirty_ratio is the cleaner's
 * (0.00-1.00) for compacted topics, "-" otherwise.
 *
 * MNT/.metrics: Prometheus text exposition format 0.0.4; every metric has
 * its # HELP and # TYPE lines and all its samples together; label values
 * are escaped (\\, \", \n).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl/broker_int.h"

#ifndef MQFS_VERSION
#define MQFS_VERSION "unknown"
#endif

static int memstream_done(FILE *f, char **buf, size_t *len, char **out, size_t *outlen)
{
	if (fclose(f) != 0) {
		free(*buf);
		return -ENOMEM;
	}
	*out = *buf;
	*outlen = *len;
	return 0;
}

/* ------------------------------------------------------------------ */
/* MNT/<topic>/.state */

#define STATE_COLS 11
static const char *const state_hdr[STATE_COLS] = {
	"partition", "log_start_offset", "high_watermark", "log_end_offset", "leader",
	"leader_epoch", "replicas", "isr", "size_bytes", "segments", "dirty_ratio",
};

int topic_state_text(struct topic *t, char **out, size_t *len)
{
	struct log_state *st = NULL;
	double *dirty = NULL;            /* -1: not a compacted topic */
	char (*cells)[STATE_COLS][24] = NULL;
	int w[STATE_COLS], n, id = t->b->cfg.broker_id, rc = 0;
	char *buf = NULL;
	size_t blen = 0;
	FILE *f;

	pthread_rwlock_rdlock(&t->lock);
	n = t->nparts;
	if (atomic_load(&t->deleted)) {
		rc = -ENOENT;
	} else {
		st = calloc((size_t)n + 1, sizeof(*st));
		dirty = calloc((size_t)n + 1, sizeof(*dirty));
		if (!st || !dirty)
			rc = -ENOMEM;
		for (int p = 0; rc == 0 && p < n; p++) {
			log_get_state(t->parts[p]->log, &st[p]);
			dirty[p] = -1;
			if (t->cfg.log.cleanup_policy & LOG_CLEANUP_COMPACT)
				log_dirty_ratio(t->parts[p]->log, engine_now_ms(), &dirty[p]);
		}
	}
	pthread_rwlock_unlock(&t->lock);
	if (rc < 0)
		return rc;
	cells = calloc((size_t)n + 1, sizeof(*cells));
	if (!cells) {
		rc = -ENOMEM;
		goto out;
	}
	for (int c = 0; c < STATE_COLS; c++)
		w[c] = (int)strlen(state_hdr[c]);
	for (int p = 0; p < n; p++) {
		/* One node: this broker leads every partition, is its only
		 * replica and the whole ISR, in epoch 0. */
		snprintf(cells[p][0], 24, "%d", p);
		snprintf(cells[p][1], 24, "%" PRId64, st[p].log_start_offset);
		snprintf(cells[p][2], 24, "%" PRId64, st[p].hw);
		snprintf(cells[p][3], 24, "%" PRId64, st[p].log_end_offset);
		snprintf(cells[p][4], 24, "%d", id);
		snprintf(cells[p][5], 24, "%d", BROKER_LEADER_EPOCH);
		snprintf(cells[p][6], 24, "[%d]", id);
		snprintf(cells[p][7], 24, "[%d]", id);
		snprintf(cells[p][8], 24, "%" PRId64, st[p].size_bytes);
		snprintf(cells[p][9], 24, "%d", st[p].segments);
		if (dirty[p] < 0)
			snprintf(cells[p][10], 24, "-");
		else
			snprintf(cells[p][10], 24, "%.2f", dirty[p]);
		for (int c = 0; c < STATE_COLS; c++)
			if ((int)strlen(cells[p][c]) > w[c])
				w[c] = (int)strlen(cells[p][c]);
	}
	f = open_memstream(&buf, &blen);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	for (int p = -1; p < n; p++) {
		for (int c = 0; c < STATE_COLS; c++) {
			const char *s = p < 0 ? state_hdr[c] : cells[p][c];

			if (c == STATE_COLS - 1)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%-*s  ", w[c], s);
		}
	}
	rc = memstream_done(f, &buf, &blen, out, len);
out:
	free(st);
	free(dirty);
	free(cells);
	return rc;
}

/* ------------------------------------------------------------------ */
/* MNT/.state, MNT/.config */

int broker_state_text(struct broker *b, char **out, size_t *len)
{
	struct topic **ts;
	int n, rc, user = 0, parts = 0, id = b->cfg.broker_id;
	char *buf = NULL;
	size_t blen = 0;
	FILE *f;

	rc = broker_topics_snapshot(b, &ts, &n);
	if (rc < 0)
		return rc;
	for (int i = 0; i < n; i++) {
		user += strncmp(ts[i]->name, "__", 2) != 0;
		parts += topic_partitions(ts[i]);
	}
	broker_topics_release(ts, n);
	f = open_memstream(&buf, &blen);
	if (!f)
		return -ENOMEM;
	fprintf(f, "broker.id=%d\ncontroller=%d\nbrokers=[%d]\nmetadata.store=local\n"
		"data.dir=%s\ntopics=%d\ninternal.topics=%d\npartitions=%d\n"
		"last.shutdown=%s\nuptime.ms=%" PRId64 "\nversion=%s\n",
		id, id, id, logmgr_dir(b->m), user, n - user, parts,
		b->fresh ? "none" : logmgr_was_clean(b->m) ? "clean" : "unclean",
		engine_now_ms() - b->open_ms,
		MQFS_VERSION);
	return memstream_done(f, &buf, &blen, out, len);
}

int broker_config_text(struct broker *b, char **out, size_t *len)
{
	return broker_config_render(&b->cfg, out, len);
}

/* ------------------------------------------------------------------ */
/* MNT/.metrics */

struct msnap_part {
	struct log_state st;
	int64_t records_in, bytes_in, batches_in, payload_in;
	int64_t records_out, bytes_out;
};

struct msnap_topic {
	const char *name;       /* valid while the snapshot holds the topic */
	int n;
	struct msnap_part *p;
};

/* A label value, escaped per the exposition format. */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f), fputc(*s, f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void metric_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum { M_LSO, M_HW, M_LEO, M_SIZE, M_SEGS, M_REC, M_BYTES, M_BATCHES, M_RECOV_SEGS,
       M_RECOV_CUT, M_PAYLOAD, M_REC_OUT, M_BYTES_OUT, M_CORRUPT };

static int64_t part_value(const struct msnap_part *p, int which)
{
	switch (which) {
	case M_LSO: return p->st.log_start_offset;
	case M_HW: return p->st.hw;
	case M_LEO: return p->st.log_end_offset;
	case M_SIZE: return p->st.size_bytes;
	case M_SEGS: return p->st.segments;
	case M_REC: return p->records_in;
	case M_BYTES: return p->bytes_in;
	case M_PAYLOAD: return p->payload_in;
	case M_REC_OUT: return p->records_out;
	case M_BYTES_OUT: return p->bytes_out;
	case M_RECOV_SEGS: return p->st.recovered_segments;
	case M_RECOV_CUT: return p->st.recovery_truncated;
	case M_CORRUPT: return p->st.corrupt_batches;
	default: return p->batches_in;
	}
}

static void metric_parts(FILE *f, const struct msnap_topic *mt, int nt, int which,
			 const char *name, const char *help)
{
	metric_head(f, name, "gauge", help);
	for (int i = 0; i < nt; i++) {
		for (int p = 0; p < mt[i].n; p++) {
			fprintf(f, "%s{topic=\"", name);
			put_label(f, mt[i].name);
			fprintf(f, "\",partition=\"%d\"} %" PRId64 "\n", p,
				part_value(&mt[i].p[p], which));
		}
	}
}

static void metric_topics(FILE *f, const struct msnap_topic *mt, int nt, int which,
			  const char *name, const char *help)
{
	metric_head(f, name, "counter", help);
	for (int i = 0; i < nt; i++) {
		int64_t sum = 0;

		for (int p = 0; p < mt[i].n; p++)
			sum += part_value(&mt[i].p[p], which);
		fprintf(f, "%s{topic=\"", name);
		put_label(f, mt[i].name);
		fprintf(f, "\"} %" PRId64 "\n", sum);
	}
}

/* Logs are opened one after the other at start: the broker's recovery
 * time is the sum of the open times of the logs that needed recovery. */
static double recovery_seconds(const struct msnap_topic *mt, int nt)
{
	int64_t ms = 0;

	for (int i = 0; i < nt; i++) {
		for (int p = 0; p < mt[i].n; p++) {
			const struct log_state *st = &mt[i].p[p].st;

			if (st->recovered_segments > 0 || st->recovery_truncated > 0)
				ms += st->recovery_ms;
		}
	}
	return (double)ms / 1000.0;
}

/* The producer path: compression ratio per topic, buffer, append latency. */
static void produce_metrics_text(FILE *f, struct broker *b, const struct msnap_topic *mt, int nt)
{
	int64_t cum = 0;

	metric_head(f, "mqfs_compression_ratio", "gauge",
		    "Record payload bytes per byte of batches written (above 1: the log is "
		    "smaller than the records), since the broker started.");
	for (int i = 0; i < nt; i++) {
		int64_t pl = 0, by = 0;

		for (int p = 0; p < mt[i].n; p++) {
			pl += mt[i].p[p].payload_in;
			by += mt[i].p[p].bytes_in;
		}
		fprintf(f, "mqfs_compression_ratio{topic=\"");
		put_label(f, mt[i].name);
		fprintf(f, "\"} %.4f\n", by > 0 ? (double)pl / (double)by : 0.0);
	}
	metric_head(f, "mqfs_buffer_memory_used_bytes", "gauge",
		    "Bytes written and accepted but not yet appended (buffer.memory).");
	fprintf(f, "mqfs_buffer_memory_used_bytes %" PRId64 "\n", atomic_load(&b->buf_used));
	metric_head(f, "mqfs_buffer_full_total", "counter",
		    "Writes that found buffer.memory full (blocked, or EAGAIN with O_NONBLOCK).");
	fprintf(f, "mqfs_buffer_full_total %" PRId64 "\n", atomic_load(&b->pm.buffer_full));
	metric_head(f, "mqfs_acks0_queued_total", "counter",
		    "acks=0 writes that returned before their records were appended.");
	fprintf(f, "mqfs_acks0_queued_total %" PRId64 "\n", atomic_load(&b->pm.acks0_queued));
	metric_head(f, "mqfs_append_latency_seconds", "histogram",
		    "Time of one append to a partition's log (a group of writes), "
		    "flush.messages fsync included.");
	for (int i = 0; i <= PRODUCE_LAT_BUCKETS; i++) {
		cum += atomic_load(&b->pm.lat_count[i]);
		if (i < PRODUCE_LAT_BUCKETS)
			fprintf(f, "mqfs_append_latency_seconds_bucket{le=\"%g\"} %" PRId64 "\n",
				produce_lat_bounds[i], cum);
		else
			fprintf(f, "mqfs_append_latency_seconds_bucket{le=\"+Inf\"} %" PRId64 "\n",
				cum);
	}
	fprintf(f, "mqfs_append_latency_seconds_sum %.6f\n",
		(double)atomic_load(&b->pm.lat_sum_ns) / 1e9);
	fprintf(f, "mqfs_append_latency_seconds_count %" PRId64 "\n", cum);
}

static int64_t process_rss(void)
{
	long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : (int64_t)resident * sysconf(_SC_PAGESIZE);
}

static int64_t process_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int64_t n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1;           /* not the one reading the directory */
}

/* Takes the numbers of every topic; the names stay valid through ts. */
static int metrics_snapshot(struct topic **ts, int n, struct msnap_topic *mt)
{
	for (int i = 0; i < n; i++) {
		struct topic *t = ts[i];

		mt[i].name = t->name;
		pthread_rwlock_rdlock(&t->lock);
		if (!atomic_load(&t->deleted)) {
			mt[i].p = calloc((size_t)t->nparts, sizeof(*mt[i].p));
			if (!mt[i].p) {
				pthread_rwlock_unlock(&t->lock);
				return -ENOMEM;
			}
			mt[i].n = t->nparts;
			for (int p = 0; p < t->nparts; p++) {
				struct partition *pt = t->parts[p];

				log_get_state(pt->log, &mt[i].p[p].st);
				mt[i].p[p].records_in = atomic_load(&pt->records_in);
				mt[i].p[p].bytes_in = atomic_load(&pt->bytes_in);
				mt[i].p[p].batches_in = atomic_load(&pt->batches_in);
				mt[i].p[p].payload_in = atomic_load(&pt->payload_in);
				mt[i].p[p].records_out = atomic_load(&pt->records_out);
				mt[i].p[p].bytes_out = atomic_load(&pt->bytes_out);
			}
		}
		pthread_rwlock_unlock(&t->lock);
	}
	return 0;
}

int broker_metrics_text(struct broker *b, char **out, size_t *len)
{
	struct topic **ts = NULL;
	struct msnap_topic *mt = NULL;
	int n = 0, rc;
	char *buf = NULL;
	size_t blen = 0;
	FILE *f;

	rc = broker_topics_snapshot(b, &ts, &n);
	if (rc < 0)
		return rc;
	mt = calloc((size_t)n + 1, sizeof(*mt));
	if (!mt) {
		rc = -ENOMEM;
		goto out;
	}
	rc = metrics_snapshot(ts, n, mt);
	if (rc < 0)
		goto out;
	f = open_memstream(&buf, &blen);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	metric_parts(f, mt, n, M_LSO, "mqfs_log_start_offset",
		     "First offset still in the partition's log.");
	metric_parts(f, mt, n, M_HW, "mqfs_high_watermark",
		     "Offset below which records are committed (readable).");
	metric_parts(f, mt, n, M_LEO, "mqfs_log_end_offset",
		     "Offset the next appended record gets.");
	metric_parts(f, mt, n, M_SIZE, "mqfs_log_size_bytes",
		     "Bytes of the partition's .log segment files.");
	metric_parts(f, mt, n, M_SEGS, "mqfs_log_segments",
		     "Segments of the partition's log.");
	metric_topics(f, mt, n, M_REC, "mqfs_records_in_total",
		      "Records appended by producers since the broker started.");
	metric_topics(f, mt, n, M_BYTES, "mqfs_bytes_in_total",
		      "Bytes of record batches appended since the broker started.");
	metric_topics(f, mt, n, M_BATCHES, "mqfs_batches_in_total",
		      "Record batches appended since the broker started.");
	metric_topics(f, mt, n, M_PAYLOAD, "mqfs_record_payload_bytes_in_total",
		      "Key and value bytes of the records appended since the broker started.");
	produce_metrics_text(f, b, mt, n);
	metric_topics(f, mt, n, M_REC_OUT, "mqfs_records_out_total",
		      "Records (whole lines) returned to readers of partition and consume files "
		      "since the broker started.");
	metric_topics(f, mt, n, M_BYTES_OUT, "mqfs_bytes_out_total",
		      "Bytes of the line view returned to readers of partition and consume "
		      "files since the broker started.");
	group_metrics_text(b, f);
	metric_parts(f, mt, n, M_RECOV_SEGS, "mqfs_log_recovered_segments",
		     "Segments checked by recovery when the log was opened (0: clean).");
	metric_parts(f, mt, n, M_RECOV_CUT, "mqfs_log_recovery_truncated_bytes",
		     "Invalid bytes recovery cut from the log's tail when it was opened.");
	metric_topics(f, mt, n, M_CORRUPT, "mqfs_corrupt_batches_total",
		      "Record batches found corrupt (CRC-32C or format) by reads, lookups, the "
		      "cleaner or .dump since the broker started; each counted once.");
	metric_head(f, "mqfs_recovery_seconds", "gauge",
		    "Time spent recovering logs at start (0 after a clean shutdown).");
	fprintf(f, "mqfs_recovery_seconds %.3f\n", recovery_seconds(mt, n));
	metric_head(f, "mqfs_topics", "gauge", "Topics, internal ones included.");
	fprintf(f, "mqfs_topics %d\n", n);
	metric_head(f, "mqfs_last_shutdown_clean", "gauge",
		    "0 if the broker started after an unclean shutdown (logs recovered).");
	fprintf(f, "mqfs_last_shutdown_clean %d\n", b->fresh || logmgr_was_clean(b->m) ? 1 : 0);
	/* Retention and the log cleaner (issue 4). */
	metric_head(f, "mqfs_retention_deleted_segments_total", "counter",
		    "Segments deleted by retention.");
	fprintf(f, "mqfs_retention_deleted_segments_total %" PRId64 "\n",
		atomic_load(&b->retention_segments));
	metric_head(f, "mqfs_retention_deleted_bytes_total", "counter",
		    "Bytes of segments deleted by retention.");
	fprintf(f, "mqfs_retention_deleted_bytes_total %" PRId64 "\n",
		atomic_load(&b->retention_bytes));
	metric_head(f, "mqfs_cleaner_runs_total", "counter", "Log cleanings done.");
	fprintf(f, "mqfs_cleaner_runs_total %" PRId64 "\n", atomic_load(&b->cleaner_runs));
	metric_head(f, "mqfs_cleaner_errors_total", "counter", "Log cleanings that failed.");
	fprintf(f, "mqfs_cleaner_errors_total %" PRId64 "\n", atomic_load(&b->cleaner_errors));
	metric_head(f, "mqfs_cleaner_read_bytes_total", "counter",
		    "Bytes of segments read by the log cleaner.");
	fprintf(f, "mqfs_cleaner_read_bytes_total %" PRId64 "\n",
		atomic_load(&b->cleaner_bytes_read));
	metric_head(f, "mqfs_cleaner_written_bytes_total", "counter",
		    "Bytes of cleaned segments written by the log cleaner.");
	fprintf(f, "mqfs_cleaner_written_bytes_total %" PRId64 "\n",
		atomic_load(&b->cleaner_bytes_written));
	metric_head(f, "mqfs_cleaner_reclaimed_bytes_total", "counter",
		    "Bytes reclaimed by the log cleaner (read minus written).");
	fprintf(f, "mqfs_cleaner_reclaimed_bytes_total %" PRId64 "\n",
		atomic_load(&b->cleaner_bytes_read) - atomic_load(&b->cleaner_bytes_written));
	metric_head(f, "mqfs_cleaner_removed_records_total", "counter",
		    "Records removed by the log cleaner (superseded and expired tombstones).");
	fprintf(f, "mqfs_cleaner_removed_records_total %" PRId64 "\n",
		atomic_load(&b->cleaner_records_removed));
	metric_head(f, "mqfs_cleaner_time_seconds_total", "counter",
		    "Time spent cleaning; read_bytes_total / this = cleaner throughput.");
	fprintf(f, "mqfs_cleaner_time_seconds_total %.3f\n",
		(double)atomic_load(&b->cleaner_ms) / 1000.0);
	metric_head(f, "mqfs_process_resident_memory_bytes", "gauge",
		    "Resident memory size in bytes.");
	fprintf(f, "mqfs_process_resident_memory_bytes %" PRId64 "\n", process_rss());
	metric_head(f, "mqfs_process_open_fds", "gauge", "Number of open file descriptors.");
	fprintf(f, "mqfs_process_open_fds %" PRId64 "\n", process_fds());
	rc = memstream_done(f, &buf, &blen, out, len);
out:
	for (int i = 0; mt && i < n; i++)
		free(mt[i].p);
	free(mt);
	broker_topics_release(ts, n);
	return rc;
}
