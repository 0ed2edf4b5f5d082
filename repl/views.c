/*
 * views.c — the broker's text views: MNT/<topic>/.state, MNT/.state,
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
 * leader_epoch replicas isr size_bytes segments; replicas and isr are
 * broker ids in brackets ("[0]").
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

#define STATE_COLS 10
static const char *const state_hdr[STATE_COLS] = {
	"partition", "log_start_offset", "high_watermark", "log_end_offset", "leader",
	"leader_epoch", "replicas", "isr", "size_bytes", "segments",
};

int topic_state_text(struct topic *t, char **out, size_t *len)
{
	struct log_state *st = NULL;
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
		if (!st)
			rc = -ENOMEM;
		for (int p = 0; st && p < n; p++)
			log_get_state(t->parts[p]->log, &st[p]);
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
	int64_t records_in, bytes_in, batches_in;
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

enum { M_LSO, M_HW, M_LEO, M_SIZE, M_SEGS, M_REC, M_BYTES, M_BATCHES };

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
	metric_head(f, "mqfs_topics", "gauge", "Topics, internal ones included.");
	fprintf(f, "mqfs_topics %d\n", n);
	metric_head(f, "mqfs_last_shutdown_clean", "gauge",
		    "0 if the broker started after an unclean shutdown (logs recovered).");
	fprintf(f, "mqfs_last_shutdown_clean %d\n", b->fresh || logmgr_was_clean(b->m) ? 1 : 0);
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
