/*
 * elog.c — see elog.h. Each operation is partition_engine_ops' with the
 * log taken out of the struct elog, plus the counting.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/batch.h"
#include "engine/engine.h"
#include "tests/unit/elog.h"
#include "tests/unit/replfx.h"

struct elog {
	struct logmgr *m;
	struct log *l;
	char dir[PATH_MAX];
	atomic_int refs;
	atomic_int truncations;
	struct replfx_notify notify;
};

static void elog_fire(void *arg, struct log *l)
{
	struct elog *e = arg;

	(void)l;
	replfx_notify_fire(&e->notify);
}

struct elog *elog_open(const char *dir)
{
	struct elog *e = calloc(1, sizeof(*e));
	struct log_config cfg;

	if (!e)
		return NULL;
	log_config_defaults(&cfg);
	replfx_notify_init(&e->notify);
	snprintf(e->dir, sizeof(e->dir), "%s/orders-0", dir);
	if (logmgr_open(dir, &io_posix, &e->m) < 0) {
		replfx_notify_destroy(&e->notify);
		free(e);
		return NULL;
	}
	if (logmgr_get_log(e->m, "orders", 0, &cfg, true, &e->l) < 0 ||
	    log_add_hw_listener(e->l, elog_fire, e) < 0 ||
	    log_add_leo_listener(e->l, elog_fire, e) < 0) {
		logmgr_close(e->m);
		replfx_notify_destroy(&e->notify);
		free(e);
		return NULL;
	}
	return e;
}

void elog_close(struct elog *e)
{
	if (!e)
		return;
	log_remove_hw_listener(e->l, elog_fire, e);
	log_remove_leo_listener(e->l, elog_fire, e);
	logmgr_close(e->m);
	replfx_notify_destroy(&e->notify);
	free(e);
}

void elog_set_listener(struct elog *e, void (*fn)(void *arg), void *arg)
{
	replfx_notify_set(&e->notify, fn, arg);
}

int64_t elog_append(struct elog *e, int n, int32_t epoch, const char *prefix)
{
	static _Thread_local char vals[256][64];
	struct rec_in r[256];
	struct log_append_info info;
	int rc;

	if (n > 256)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		int len = replfx_value(vals[i], sizeof(vals[i]), prefix, i);
		r[i] = (struct rec_in){ NULL, -1, vals[i], len, REPLFX_TS0 + i };
	}
	struct log_state st;

	log_get_state(e->l, &st);
	rc = st.leader_epoch < epoch ? log_assign_epoch(e->l, epoch, st.log_end_offset) : 0;
	rc = rc ? rc : log_append(e->l, r, n, epoch, &info);
	return rc ? rc : info.first_offset;
}

int elog_refs(struct elog *e)
{
	return atomic_load(&e->refs);
}

int elog_truncations(struct elog *e)
{
	return atomic_load(&e->truncations);
}

struct log *elog_log(struct elog *e)
{
	return e->l;
}

const char *elog_dir(struct elog *e)
{
	return e->dir;
}

static int read_batch_at(struct elog *e, int64_t offset, uint8_t **buf, size_t *len)
{
	struct log_raw r;
	int rc = log_read_raw(e->l, offset, -1, 1, &r);

	if (rc == 0 && r.len == 0)
		rc = -ERANGE;
	if (rc == 0) {
		*buf = malloc((size_t)r.len);
		if (!*buf || pread(r.fd, *buf, (size_t)r.len, r.pos) != r.len)
			rc = -EIO;
		*len = (size_t)r.len;
	}
	log_raw_release(&r);
	return rc;
}

int elog_value_at(struct elog *e, int64_t offset, char *out, size_t cap)
{
	uint8_t *b = NULL;
	size_t len = 0;
	int rc = read_batch_at(e, offset, &b, &len);

	if (rc == 0)
		rc = replfx_value_in(b, len, offset, out, cap);
	free(b);
	return rc;
}

uint8_t *elog_bytes_below(struct elog *e, int64_t offset, size_t *len)
{
	uint8_t *all = NULL;
	size_t n = 0;
	int64_t at = 0;

	while (at < offset) {
		struct log_raw r;
		if (log_read_raw(e->l, at, offset, 1 << 20, &r) < 0 || r.len == 0) {
			log_raw_release(&r);
			break;
		}
		uint8_t *na = realloc(all, n + (size_t)r.len);
		if (!na || pread(r.fd, na + n, (size_t)r.len, r.pos) != r.len) {
			log_raw_release(&r);
			free(na ? na : all);
			return NULL;
		}
		all = na;
		n += (size_t)r.len;
		at = r.last_offset + 1;
		log_raw_release(&r);
	}
	*len = n;
	return all ? all : malloc(1);
}

static int same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;

	while (same) {
		int ca = fgetc(fa), cb = fgetc(fb);
		same = ca == cb;
		if (ca == EOF || cb == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* Every file of a that the comparison covers is in b, the same bytes. */
static int dirs_one_way(const char *a, const char *b, char *why, size_t whylen)
{
	static const char *ext[] = { ".log", ".index", ".timeindex", ".lines" };
	DIR *d = opendir(a);
	struct dirent *de;
	int rc = d ? 0 : -1;

	snprintf(why, whylen, "%s: cannot list", a);
	while (rc == 0 && (de = readdir(d))) {
		const char *x = strrchr(de->d_name, '.');
		bool want = strcmp(de->d_name, "leader-epoch-checkpoint") == 0;
		for (int i = 0; i < 4 && x; i++)
			want = want || strcmp(x, ext[i]) == 0;
		if (!want)
			continue;
		char pa[PATH_MAX + 300], pb[PATH_MAX + 300];
		snprintf(pa, sizeof(pa), "%s/%s", a, de->d_name);
		snprintf(pb, sizeof(pb), "%s/%s", b, de->d_name);
		if (!same_file(pa, pb)) {
			snprintf(why, whylen, "%s and %s differ", pa, pb);
			rc = -1;
		}
	}
	if (d)
		closedir(d);
	return rc;
}

/* ---- the table ---- */

static void op_offsets(void *log, struct partition_offsets *o)
{
	partition_engine_ops.offsets(((struct elog *)log)->l, o);
}

static int op_set_hw(void *log, int64_t hw)
{
	return partition_engine_ops.set_hw(((struct elog *)log)->l, hw);
}

static int op_assign_epoch(void *log, int32_t epoch, int64_t start_offset)
{
	return partition_engine_ops.assign_epoch(((struct elog *)log)->l, epoch, start_offset);
}

static int32_t op_latest_epoch(void *log)
{
	return partition_engine_ops.latest_epoch(((struct elog *)log)->l);
}

static void op_end_offset_for_epoch(void *log, int32_t epoch, int32_t *found, int64_t *end)
{
	partition_engine_ops.end_offset_for_epoch(((struct elog *)log)->l, epoch, found, end);
}

static int op_read_raw(void *log, int64_t offset, int64_t max_offset, size_t max_bytes,
		       struct partition_raw *raw)
{
	struct elog *e = log;
	int rc = partition_engine_ops.read_raw(e->l, offset, max_offset, max_bytes, raw);

	if (rc == 0 && raw->ref)
		atomic_fetch_add(&e->refs, 1);
	return rc;
}

static void op_raw_release(void *log, struct partition_raw *raw)
{
	struct elog *e = log;

	if (raw->ref)
		atomic_fetch_sub(&e->refs, 1);
	partition_engine_ops.raw_release(e->l, raw);
}

static int op_append_batches(void *log, const uint8_t *buf, size_t len, int64_t first_line_pos)
{
	return partition_engine_ops.append_batches(((struct elog *)log)->l, buf, len,
						   first_line_pos);
}

static int op_truncate_to(void *log, int64_t offset)
{
	struct elog *e = log;
	int rc = partition_engine_ops.truncate_to(e->l, offset);

	if (rc == 0)
		atomic_fetch_add(&e->truncations, 1);
	return rc;
}

static int op_reset_start(void *log, int64_t offset, int64_t line_pos)
{
	return partition_engine_ops.reset_start(((struct elog *)log)->l, offset, line_pos);
}

static int op_offset_for_time(void *log, int64_t ts_ms, int64_t *offset, int64_t *timestamp)
{
	return partition_engine_ops.offset_for_time(((struct elog *)log)->l, ts_ms, offset,
						    timestamp);
}

static int op_offset_for_max_time(void *log, int64_t *offset, int64_t *timestamp)
{
	return partition_engine_ops.offset_for_max_time(((struct elog *)log)->l, offset, timestamp);
}

static int op_delete_records(void *log, int64_t offset, bool busy_ok, int64_t *start)
{
	return partition_engine_ops.delete_records(((struct elog *)log)->l, offset, busy_ok, start);
}

static int32_t op_epoch_for_offset(void *log, int64_t offset)
{
	return partition_engine_ops.epoch_for_offset(((struct elog *)log)->l, offset);
}

static int op_codec(void *log)
{
	return partition_engine_ops.codec(((struct elog *)log)->l);
}

const struct partition_log_ops elog_ops = {
	.offsets = op_offsets,
	.set_hw = op_set_hw,
	.assign_epoch = op_assign_epoch,
	.latest_epoch = op_latest_epoch,
	.end_offset_for_epoch = op_end_offset_for_epoch,
	.epoch_for_offset = op_epoch_for_offset,
	.read_raw = op_read_raw,
	.raw_release = op_raw_release,
	.append_batches = op_append_batches,
	.truncate_to = op_truncate_to,
	.reset_start = op_reset_start,
	.offset_for_time = op_offset_for_time,
	.offset_for_max_time = op_offset_for_max_time,
	.delete_records = op_delete_records,
	.codec = op_codec,
};

int elog_dirs_identical(const char *a, const char *b, char *why, size_t whylen)
{
	/* Both ways: a segment only one of them has is a difference too. */
	int rc = dirs_one_way(a, b, why, whylen);

	return rc ? rc : dirs_one_way(b, a, why, whylen);
}
