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
 * MNT/.state in a ZooKeeper cluster: broker.id, then cluster_state_text's
 * lines (broker.epoch, zookeeper.*, cluster.id, controller, brokers, one
 * broker.<id>=alive|gone <endpoints> line per broker known), then the
 * node's own as on a single node.
 *
 * MNT/.metrics: Prometheus text exposition format 0.0.4; every metric has
 * its # HELP and # TYPE lines and all its samples together; label values
 * are escaped (\\, \", \n).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repl/broker_int.h"
#include "util/clock.h"

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
	"partition",  "log_start_offset", "high_watermark", "log_end_offset",
	"leader",     "leader_epoch",     "replicas",       "isr",
	"size_bytes", "segments",         "dirty_ratio",
};

int topic_state_text(struct topic *t, char **out, size_t *len)
{
	struct log_state *st = NULL;
	bool *local = NULL;   /* false: no replica (no log) here */
	double *dirty = NULL; /* -1: not a compacted topic */
	char(*cells)[STATE_COLS][24] = NULL;
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
		local = calloc((size_t)n + 1, sizeof(*local));
		if (!st || !dirty || !local)
			rc = -ENOMEM;
		for (int p = 0; rc == 0 && p < n; p++) {
			dirty[p] = -1;
			local[p] = t->parts[p]->log != NULL;
			if (!local[p])
				continue;
			log_get_state(t->parts[p]->log, &st[p]);
			if (t->cfg.log.cleanup_policy & LOG_CLEANUP_COMPACT)
				log_dirty_ratio(t->parts[p]->log, engine_now_ms(), &dirty[p]);
		}
	}
	pthread_rwlock_unlock(&t->lock);
	if (rc < 0)
		goto out; /* what was allocated of st, dirty, local goes */
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
		if (broker_replicated(t->b, t->name)) {
			cluster_partition_cells(t->b->cluster, t->name, p, cells[p][4], cells[p][5],
						cells[p][6], cells[p][7]);
		} else {
			snprintf(cells[p][4], 24, "%d", id);
			snprintf(cells[p][5], 24, "%d", BROKER_LEADER_EPOCH);
			snprintf(cells[p][6], 24, "[%d]", id);
			snprintf(cells[p][7], 24, "[%d]", id);
		}
		snprintf(cells[p][8], 24, "%" PRId64, st[p].size_bytes);
		snprintf(cells[p][9], 24, "%d", st[p].segments);
		if (dirty[p] < 0)
			snprintf(cells[p][10], 24, "-");
		else
			snprintf(cells[p][10], 24, "%.2f", dirty[p]);
		/* No replica here: nothing local to show but who holds it. */
		for (int c = 1; !local[p] && c < STATE_COLS; c++)
			if (c < 4 || c > 7)
				snprintf(cells[p][c], 24, "-");
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
	/* On the leader of a replicated partition: each follower's LEO and
	 * lag, below the table. */
	for (int p = 0; broker_replicated(t->b, t->name) && p < n; p++)
		cluster_partition_followers(t->b->cluster, t->name, p, f);
	rc = memstream_done(f, &buf, &blen, out, len);
out:
	free(st);
	free(local);
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
	if (cluster_zk_mode(b->cluster)) {
		fprintf(f, "broker.id=%d\n", id);
		cluster_state_text(b->cluster, f);
		fprintf(f, "metadata.store=zookeeper\n");
	} else {
		fprintf(f, "broker.id=%d\ncontroller=%d\nbrokers=[%d]\nmetadata.store=local\n", id,
			id, id);
	}
	/* uptime on the monotonic clock: a step of the wall clock neither
	 * makes it negative nor adds a day to it. */
	fprintf(f,
		"data.dir=%s\ntopics=%d\ninternal.topics=%d\npartitions=%d\n"
		"last.shutdown=%s\nuptime.ms=%" PRId64 "\nversion=%s\n",
		logmgr_dir(b->m), user, n - user, parts,
		b->fresh                 ? "none"
		: logmgr_was_clean(b->m) ? "clean"
					 : "unclean",
		now_mono_ms() - b->open_mono_ms, MQFS_VERSION);
	return memstream_done(f, &buf, &blen, out, len);
}

/* MNT/.config: the settings in effect, the dynamic broker settings of a
 * cluster (DescribeConfigs' precedence, broker_config_dynamic_effective)
 * over the file's, then the
 * dynamic-only ones set (the throttle rates), as DescribeConfigs of the
 * broker lists them. */
int broker_config_text(struct broker *b, char **out, size_t *len)
{
	struct cluster *c = __atomic_load_n(&b->cluster, __ATOMIC_ACQUIRE);
	int ports[NET_MAX_LISTENERS];
	struct broker_config *eff;
	char *file = NULL, *self = NULL, *def = NULL, *buf = NULL;
	size_t flen = 0, slen = 0, dlen = 0, blen = 0;
	const char *p;
	struct kstr k, v;
	FILE *f;
	int rc;

	/* A listener on port 0 is advertised with the port it is bound to
	 * (Metadata's), not 0, which no client could reach. */
	for (int i = 0; c && i < b->cfg.cluster.net.n_listeners; i++)
		ports[i] = cluster_listener_port(c, i);
	/* The config in effect: the file's under the dynamic levels as last
	 * accepted (a stored combination refused leaves the one before). */
	if (!(eff = malloc(sizeof(*eff))))
		return -ENOMEM;
	pthread_mutex_lock(&b->dyn_mu);
	*eff = b->dyn_cfg ? *b->dyn_cfg : b->cfg;
	pthread_mutex_unlock(&b->dyn_mu);
	rc = broker_config_render_bound(eff, c ? ports : NULL, &file, &flen);
	free(eff);
	if (rc < 0 || !c)
		goto done;
	if ((rc = cluster_broker_dynamic_texts(c, &self, &slen, &def, &dlen)) < 0)
		goto done;
	if (slen == 0 && dlen == 0)
		goto done;
	if (!(f = open_memstream(&buf, &blen))) {
		rc = -ENOMEM;
		goto done;
	}
	fwrite(file, 1, flen, f);
	/* The dynamic-only keys: this broker's, then the default's where
	 * this broker has none. */
	for (int lvl = 0; lvl < 2; lvl++) {
		const char *t = lvl ? def : self;
		size_t tl = lvl ? dlen : slen;

		for (p = t; topic_kv_next(&p, t + tl, &k, &v);) {
			struct kstr x;
			char key[128];

			if ((size_t)k.len >= sizeof(key))
				continue;
			memcpy(key, k.ptr, (size_t)k.len);
			key[k.len] = '\0';
			if (topic_kv_find(file, flen, key, &x) == 0 ||
			    (lvl && topic_kv_find(self, slen, key, &x) == 0))
				continue;
			fprintf(f, "%s=%.*s\n", key, (int)v.len, v.ptr);
		}
	}
	rc = memstream_done(f, &buf, &blen, out, len);
	free(file);
	file = NULL;
	if (rc == 0)
		goto out;
done:
	if (rc == 0) {
		*out = file;
		*len = flen;
		file = NULL;
	}
out:
	free(file);
	free(self);
	free(def);
	return rc;
}

/* ------------------------------------------------------------------ */
/* MNT/.metrics */

struct msnap_part {
	bool local; /* a replica (a log) here: per-partition gauges */
	struct log_state st;
	int64_t records_in, bytes_in, batches_in, payload_in;
	int64_t records_out, bytes_out;
};

struct msnap_topic {
	const char *name; /* valid while the snapshot holds the topic */
	int n;
	struct msnap_part *p;
};

/* What a metric is rendered from: the broker and the topics' snapshot. */
struct mctx {
	struct broker *b;
	const struct msnap_topic *mt;
	int nt;
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

enum {
	M_LSO,
	M_HW,
	M_LEO,
	M_SIZE,
	M_SEGS,
	M_REC,
	M_BYTES,
	M_BATCHES,
	M_RECOV_SEGS,
	M_RECOV_CUT,
	M_PAYLOAD,
	M_REC_OUT,
	M_BYTES_OUT,
	M_CORRUPT
};

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

static void metric_parts(FILE *f, const struct msnap_topic *mt, int nt, int which, const char *name,
			 const char *help)
{
	metric_head(f, name, "gauge", help);
	for (int i = 0; i < nt; i++) {
		for (int p = 0; p < mt[i].n; p++) {
			if (!mt[i].p[p].local)
				continue;
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
static double recovery_seconds(const struct mctx *c)
{
	int64_t ms = 0;

	for (int i = 0; i < c->nt; i++) {
		for (int p = 0; p < c->mt[i].n; p++) {
			const struct log_state *st = &c->mt[i].p[p].st;

			if (st->recovered_segments > 0 || st->recovery_truncated > 0)
				ms += st->recovery_ms;
		}
	}
	return (double)ms / 1000.0;
}

/* Record payload bytes per byte of batches written, per topic. */
static void compression_ratio_text(FILE *f, const struct mctx *c)
{
	metric_head(f, "mqfs_compression_ratio", "gauge",
		    "Record payload bytes per byte of batches written (above 1: the log is "
		    "smaller than the records), since the broker started.");
	for (int i = 0; i < c->nt; i++) {
		int64_t pl = 0, by = 0;

		for (int p = 0; p < c->mt[i].n; p++) {
			pl += c->mt[i].p[p].payload_in;
			by += c->mt[i].p[p].bytes_in;
		}
		fprintf(f, "mqfs_compression_ratio{topic=\"");
		put_label(f, c->mt[i].name);
		fprintf(f, "\"} %.4f\n", by > 0 ? (double)pl / (double)by : 0.0);
	}
}

static void append_latency_text(FILE *f, const struct mctx *c)
{
	const struct produce_metrics *pm = &c->b->pm;
	int64_t cum = 0;

	metric_head(f, "mqfs_append_latency_seconds", "histogram",
		    "Time of one append to a partition's log (a group of writes), "
		    "flush.messages fsync included.");
	for (int i = 0; i <= PRODUCE_LAT_BUCKETS; i++) {
		cum += atomic_load(&pm->lat_count[i]);
		if (i < PRODUCE_LAT_BUCKETS)
			fprintf(f, "mqfs_append_latency_seconds_bucket{le=\"%g\"} %" PRId64 "\n",
				produce_lat_bounds[i], cum);
		else
			fprintf(f, "mqfs_append_latency_seconds_bucket{le=\"+Inf\"} %" PRId64 "\n",
				cum);
	}
	fprintf(f, "mqfs_append_latency_seconds_sum %.6f\n",
		(double)atomic_load(&pm->lat_sum_ns) / 1e9);
	fprintf(f, "mqfs_append_latency_seconds_count %" PRId64 "\n", cum);
}

static void group_metrics_row(FILE *f, const struct mctx *c)
{
	group_metrics_text(c->b, f);
}

/* The listener's and ZooKeeper's metrics; nothing on a single node
 * without a listener. */
static void cluster_metrics_row(FILE *f, const struct mctx *c)
{
	if (c->b->cluster)
		cluster_metrics_text(c->b->cluster, f);
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
	return n - 1; /* not the one reading the directory */
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

				mt[i].p[p].local = pt->log != NULL;
				if (pt->log)
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

static int64_t topics_count(const struct mctx *c)
{
	return c->nt;
}

static int64_t last_shutdown_clean(const struct mctx *c)
{
	return c->b->fresh || logmgr_was_clean(c->b->m) ? 1 : 0;
}

static int64_t cleaner_reclaimed(const struct mctx *c)
{
	return atomic_load(&c->b->cleaner_bytes_read) - atomic_load(&c->b->cleaner_bytes_written);
}

static double cleaner_seconds(const struct mctx *c)
{
	return (double)atomic_load(&c->b->cleaner_ms) / 1000.0;
}

static int64_t process_rss_row(const struct mctx *c)
{
	(void)c;
	return process_rss();
}

static int64_t process_fds_row(const struct mctx *c)
{
	(void)c;
	return process_fds();
}

static int64_t segment_fd_sets(const struct mctx *c)
{
	int64_t open_sets, evictions;

	logmgr_fd_stats(c->b->m, &open_sets, &evictions);
	return open_sets;
}

static int64_t segment_fd_evictions(const struct mctx *c)
{
	int64_t open_sets, evictions;

	logmgr_fd_stats(c->b->m, &open_sets, &evictions);
	return evictions;
}

/* MNT/.metrics, one row per metric in the order rendered. */
enum metric_kind {
	MK_PART,    /* a gauge per partition: part_value(which) */
	MK_TOPIC,   /* a counter per topic: part_value(which) summed */
	MK_ATOMIC,  /* one value: the _Atomic int64_t at offset `at` of struct broker */
	MK_INT,     /* one value: get() */
	MK_SECONDS, /* one value: secs(), three decimals */
	MK_TEXT,    /* text() writes the metric(s) whole, # HELP and # TYPE included */
};

struct metric_row {
	enum metric_kind kind;
	const char *name, *type, *help;
	int which;
	size_t at;
	int64_t (*get)(const struct mctx *c);
	double (*secs)(const struct mctx *c);
	void (*text)(FILE *f, const struct mctx *c);
};

#define ROW_PART(w, n, h)                          \
	{                                          \
		MK_PART, n, "gauge", h, .which = w \
	}
#define ROW_TOPIC(w, n, h)                            \
	{                                             \
		MK_TOPIC, n, "counter", h, .which = w \
	}
#define ROW_ATOMIC(fld, n, t, h)                                       \
	{                                                              \
		MK_ATOMIC, n, t, h, .at = offsetof(struct broker, fld) \
	}
#define ROW_INT(fn, n, t, h)               \
	{                                  \
		MK_INT, n, t, h, .get = fn \
	}
#define ROW_SECONDS(fn, n, t, h)                \
	{                                       \
		MK_SECONDS, n, t, h, .secs = fn \
	}
#define ROW_TEXT(fn)                                  \
	{                                             \
		MK_TEXT, NULL, NULL, NULL, .text = fn \
	}

static const struct metric_row metric_rows[] = {
	ROW_PART(M_LSO, "mqfs_log_start_offset", "First offset still in the partition's log."),
	ROW_PART(M_HW, "mqfs_high_watermark",
		 "Offset below which records are committed (readable)."),
	ROW_PART(M_LEO, "mqfs_log_end_offset", "Offset the next appended record gets."),
	ROW_PART(M_SIZE, "mqfs_log_size_bytes", "Bytes of the partition's .log segment files."),
	ROW_PART(M_SEGS, "mqfs_log_segments", "Segments of the partition's log."),
	ROW_TOPIC(M_REC, "mqfs_records_in_total",
		  "Records appended by producers since the broker started."),
	ROW_TOPIC(M_BYTES, "mqfs_bytes_in_total",
		  "Bytes of record batches appended since the broker started."),
	ROW_TOPIC(M_BATCHES, "mqfs_batches_in_total",
		  "Record batches appended since the broker started."),
	ROW_TOPIC(M_PAYLOAD, "mqfs_record_payload_bytes_in_total",
		  "Key and value bytes of the records appended since the broker started."),
	ROW_TEXT(compression_ratio_text),
	ROW_ATOMIC(buf_used, "mqfs_buffer_memory_used_bytes", "gauge",
		   "Bytes written and accepted but not yet appended (buffer.memory)."),
	ROW_ATOMIC(buf_unfinished, "mqfs_buffer_memory_unfinished_bytes", "gauge",
		   "Bytes of buffer.memory that mount writers hold between writes: unfinished "
		   "lines, .config text."),
	ROW_ATOMIC(pm.buffer_full, "mqfs_buffer_full_total", "counter",
		   "Writes that found buffer.memory full (blocked, EAGAIN with O_NONBLOCK, or "
		   "ENOBUFS for an unfinished line)."),
	ROW_ATOMIC(pm.acks0_queued, "mqfs_acks0_queued_total", "counter",
		   "acks=0 writes that returned before their records were appended."),
	ROW_ATOMIC(pm.parked, "mqfs_produce_purgatory_size", "gauge",
		   "Kafka clients' acks=all Produce requests waiting in the produce purgatory "
		   "for their commit."),
	ROW_TEXT(append_latency_text),
	ROW_TOPIC(M_REC_OUT, "mqfs_records_out_total",
		  "Records (whole lines) returned to readers of partition and consume files "
		  "since the broker started."),
	ROW_TOPIC(M_BYTES_OUT, "mqfs_bytes_out_total",
		  "Bytes of the line view returned to readers of partition and consume "
		  "files since the broker started."),
	ROW_TEXT(group_metrics_row),
	ROW_PART(M_RECOV_SEGS, "mqfs_log_recovered_segments",
		 "Segments checked by recovery when the log was opened (0: clean)."),
	ROW_PART(M_RECOV_CUT, "mqfs_log_recovery_truncated_bytes",
		 "Invalid bytes recovery cut from the log's tail when it was opened."),
	ROW_TOPIC(M_CORRUPT, "mqfs_corrupt_batches_total",
		  "Record batches found corrupt (CRC-32C or format) by reads, lookups, the "
		  "cleaner or .dump since the broker started; each counted once."),
	ROW_SECONDS(recovery_seconds, "mqfs_recovery_seconds", "gauge",
		    "Time spent recovering logs at start (0 after a clean shutdown)."),
	ROW_INT(topics_count, "mqfs_topics", "gauge", "Topics, internal ones included."),
	ROW_INT(last_shutdown_clean, "mqfs_last_shutdown_clean", "gauge",
		"0 if the broker started after an unclean shutdown (logs recovered)."),
	ROW_ATOMIC(retention_segments, "mqfs_retention_deleted_segments_total", "counter",
		   "Segments deleted by retention."),
	ROW_ATOMIC(retention_bytes, "mqfs_retention_deleted_bytes_total", "counter",
		   "Bytes of segments deleted by retention."),
	ROW_ATOMIC(cleaner_runs, "mqfs_cleaner_runs_total", "counter", "Log cleanings done."),
	ROW_ATOMIC(cleaner_passes, "mqfs_cleaner_passes_total", "counter",
		   "Passes of the log cleaner over the compacted topics (one every "
		   "log.cleaner.backoff.ms while nothing is left to clean)."),
	ROW_ATOMIC(cleaner_errors, "mqfs_cleaner_errors_total", "counter",
		   "Log cleanings that failed."),
	ROW_ATOMIC(cleaner_bytes_read, "mqfs_cleaner_read_bytes_total", "counter",
		   "Bytes of segments read by the log cleaner."),
	ROW_ATOMIC(cleaner_bytes_written, "mqfs_cleaner_written_bytes_total", "counter",
		   "Bytes of cleaned segments written by the log cleaner."),
	ROW_INT(cleaner_reclaimed, "mqfs_cleaner_reclaimed_bytes_total", "counter",
		"Bytes reclaimed by the log cleaner (read minus written)."),
	ROW_ATOMIC(cleaner_records_removed, "mqfs_cleaner_removed_records_total", "counter",
		   "Records removed by the log cleaner (superseded and expired tombstones)."),
	ROW_SECONDS(cleaner_seconds, "mqfs_cleaner_time_seconds_total", "counter",
		    "Time spent cleaning; read_bytes_total / this = cleaner throughput."),
	ROW_TEXT(cluster_metrics_row),
	ROW_INT(process_rss_row, "mqfs_process_resident_memory_bytes", "gauge",
		"Resident memory size in bytes."),
	ROW_INT(process_fds_row, "mqfs_process_open_fds", "gauge",
		"Number of open file descriptors."),
	ROW_INT(segment_fd_sets, "mqfs_segment_fd_sets", "gauge",
		"Segments whose 4 files are open: active, in use, or idle (log.segment.fd.cache)."),
	ROW_INT(segment_fd_evictions, "mqfs_segment_fd_evictions_total", "counter",
		"Idle closed segments whose files were closed to stay within "
		"log.segment.fd.cache."),
};

static void metric_row_text(FILE *f, const struct metric_row *r, const struct mctx *c)
{
	switch (r->kind) {
	case MK_PART: metric_parts(f, c->mt, c->nt, r->which, r->name, r->help); return;
	case MK_TOPIC: metric_topics(f, c->mt, c->nt, r->which, r->name, r->help); return;
	case MK_TEXT: r->text(f, c); return;
	default: break;
	}
	metric_head(f, r->name, r->type, r->help);
	if (r->kind == MK_SECONDS)
		fprintf(f, "%s %.3f\n", r->name, r->secs(c));
	else
		fprintf(f, "%s %" PRId64 "\n", r->name,
			r->kind == MK_INT ? r->get(c)
					  : atomic_load((_Atomic int64_t *)((char *)c->b + r->at)));
}

int broker_metrics_text(struct broker *b, char **out, size_t *len)
{
	struct topic **ts = NULL;
	struct msnap_topic *mt = NULL;
	struct mctx c;
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
	c = (struct mctx){ .b = b, .mt = mt, .nt = n };
	for (size_t i = 0; i < sizeof(metric_rows) / sizeof(metric_rows[0]); i++)
		metric_row_text(f, &metric_rows[i], &c);
	rc = memstream_done(f, &buf, &blen, out, len);
out:
	for (int i = 0; mt && i < n; i++)
		free(mt[i].p);
	free(mt);
	broker_topics_release(ts, n);
	return rc;
}
