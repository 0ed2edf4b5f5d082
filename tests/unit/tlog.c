/*
 * tlog.c — the test replica log of tlog.h: batches in one file, indexed in
 * memory (base offset, last offset, epoch, position of every batch), an
 * epoch cache with Kafka's endOffsetFor rule, fsync on every truncation.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/batch.h"
#include "tests/unit/replfx.h"
#include "tests/unit/tlog.h"

#define TLOG_MAX_BATCHES 4096
#define TLOG_MAX_EPOCHS  256

struct tlog_batch {
	int64_t base;
	int64_t last;
	int32_t epoch;
	int64_t pos;
	int64_t len;
};

struct tlog_epoch {
	int32_t epoch;
	int64_t start;
};

struct tlog {
	pthread_mutex_t lock;
	char path[PATH_MAX];
	int fd;
	int n;
	struct tlog_batch b[TLOG_MAX_BATCHES];
	int n_epochs;
	struct tlog_epoch e[TLOG_MAX_EPOCHS];
	int64_t hw;
	int64_t start; /* tlog_set_start */
	int refs;
	int64_t batches_read; /* batches in the ranges read_raw handed out */
	int truncations;
	int append_err; /* tlog_fail_appends */
	struct replfx_notify notify;
};

static int64_t leo_locked(const struct tlog *t)
{
	return t->n ? t->b[t->n - 1].last + 1 : 0;
}

static int64_t end_pos_locked(const struct tlog *t)
{
	return t->n ? t->b[t->n - 1].pos + t->b[t->n - 1].len : 0;
}

struct tlog *tlog_open(const char *dir)
{
	struct tlog *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	snprintf(t->path, sizeof(t->path), "%s/00000000000000000000.log", dir);
	t->fd = open(t->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (t->fd < 0) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	replfx_notify_init(&t->notify);
	return t;
}

void tlog_close(struct tlog *t)
{
	if (!t)
		return;
	close(t->fd);
	replfx_notify_destroy(&t->notify);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

void tlog_set_start(struct tlog *t, int64_t start)
{
	pthread_mutex_lock(&t->lock);
	t->start = start;
	pthread_mutex_unlock(&t->lock);
}

void tlog_set_listener(struct tlog *t, void (*fn)(void *arg), void *arg)
{
	replfx_notify_set(&t->notify, fn, arg);
}

/* Under the lock: a new epoch enters the cache when above the latest. */
static void epoch_note(struct tlog *t, int32_t epoch, int64_t start)
{
	if (epoch < 0 || (t->n_epochs && t->e[t->n_epochs - 1].epoch >= epoch) ||
	    t->n_epochs == TLOG_MAX_EPOCHS)
		return;
	t->e[t->n_epochs].epoch = epoch;
	t->e[t->n_epochs++].start = start;
}

/* Under the lock: appends whole valid batches starting at the LEO. */
static int append_locked(struct tlog *t, const uint8_t *buf, size_t len)
{
	size_t at = 0;
	int64_t pos = end_pos_locked(t), expect = leo_locked(t);
	int n = t->n;

	while (at < len) {
		struct batch_hdr h;
		int64_t sz;

		if (len - at < BATCH_HDR_SIZE || batch_hdr_decode(buf + at, len - at, &h))
			return -EBADMSG;
		sz = batch_total_size(buf + at);
		if (sz > (int64_t)(len - at) || batch_validate(buf + at, (size_t)sz) ||
		    h.base_offset != expect || n == TLOG_MAX_BATCHES)
			return -EBADMSG;
		expect = h.base_offset + h.last_offset_delta + 1;
		at += (size_t)sz;
		n++;
	}
	if (pwrite(t->fd, buf, len, pos) != (ssize_t)len)
		return -EIO;
	for (at = 0; at < len;) {
		struct batch_hdr h;
		struct tlog_batch *b = &t->b[t->n++];

		batch_hdr_decode(buf + at, len - at, &h);
		b->base = h.base_offset;
		b->last = h.base_offset + h.last_offset_delta;
		b->epoch = h.partition_leader_epoch;
		b->pos = pos;
		b->len = batch_total_size(buf + at);
		epoch_note(t, b->epoch, b->base);
		pos += b->len;
		at += (size_t)b->len;
	}
	return 0;
}

int64_t tlog_append(struct tlog *t, int n, int32_t epoch, const char *prefix)
{
	uint8_t buf[65536];
	struct batch_builder bb;
	int64_t base, sz;
	int rc;

	batch_builder_init(&bb, buf, sizeof(buf), BATCH_CODEC_NONE);
	for (int i = 0; i < n; i++) {
		char v[64];
		int l = replfx_value(v, sizeof(v), prefix, i);

		if (batch_builder_add(&bb, NULL, -1, v, l, REPLFX_TS0 + i))
			return -ENOSPC;
	}
	pthread_mutex_lock(&t->lock);
	base = leo_locked(t);
	sz = batch_builder_finish(&bb, base, epoch);
	rc = sz < 0 ? (int)sz : append_locked(t, buf, (size_t)sz);
	pthread_mutex_unlock(&t->lock);
	if (rc)
		return rc;
	replfx_notify_fire(&t->notify);
	return base;
}

static void op_offsets(void *log, struct partition_offsets *o)
{
	struct tlog *t = log;

	pthread_mutex_lock(&t->lock);
	o->log_start_offset = t->start;
	o->line_start = t->start ? -1 : 0;
	o->hw = t->hw;
	o->log_end_offset = leo_locked(t);
	o->dropped = false;
	pthread_mutex_unlock(&t->lock);
}

static int op_set_hw(void *log, int64_t hw)
{
	struct tlog *t = log;
	bool moved = false;

	pthread_mutex_lock(&t->lock);
	if (hw > leo_locked(t))
		hw = leo_locked(t);
	if (hw > t->hw) {
		t->hw = hw;
		moved = true;
	}
	pthread_mutex_unlock(&t->lock);
	if (moved)
		replfx_notify_fire(&t->notify);
	return 0;
}

static int op_assign_epoch(void *log, int32_t epoch, int64_t start_offset)
{
	struct tlog *t = log;

	pthread_mutex_lock(&t->lock);
	epoch_note(t, epoch, start_offset);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static int32_t op_latest_epoch(void *log)
{
	struct tlog *t = log;
	int32_t e;

	pthread_mutex_lock(&t->lock);
	e = t->n_epochs ? t->e[t->n_epochs - 1].epoch : -1;
	pthread_mutex_unlock(&t->lock);
	return e;
}

static void op_end_offset_for_epoch(void *log, int32_t epoch, int32_t *found, int64_t *end)
{
	struct tlog *t = log;
	int i;

	pthread_mutex_lock(&t->lock);
	*found = -1;
	*end = -1;
	if (epoch == -1 || !t->n_epochs)
		goto out;
	if (t->e[t->n_epochs - 1].epoch == epoch) {
		*found = epoch;
		*end = leo_locked(t);
		goto out;
	}
	for (i = 0; i < t->n_epochs && t->e[i].epoch <= epoch; i++)
		;
	/* i: the first entry above epoch; none: above the latest, undefined */
	if (i == t->n_epochs)
		goto out;
	*found = i == 0 ? epoch : t->e[i - 1].epoch;
	*end = t->e[i].start;
out:
	pthread_mutex_unlock(&t->lock);
}

static int op_read_raw(void *log, int64_t offset, int64_t max_offset, size_t max_bytes,
		       struct partition_raw *raw)
{
	struct tlog *t = log;
	int i, j;

	memset(raw, 0, sizeof(*raw));
	raw->fd = -1;
	raw->last_epoch = -1;
	raw->last_offset = -1;
	raw->base_offset = -1;
	raw->first_line_pos = -1;
	pthread_mutex_lock(&t->lock);
	if (offset < 0 || offset > leo_locked(t)) {
		pthread_mutex_unlock(&t->lock);
		return -ERANGE;
	}
	for (i = 0; i < t->n && t->b[i].last < offset; i++)
		;
	for (j = i; j < t->n && t->b[j].last < max_offset; j++) {
		int64_t len = t->b[j].pos + t->b[j].len - t->b[i].pos;

		if (j > i && len > (int64_t)max_bytes)
			break;
	}
	if (j > i) {
		raw->fd = t->fd;
		raw->offset = t->b[i].pos;
		raw->len = (size_t)(t->b[j - 1].pos + t->b[j - 1].len - t->b[i].pos);
		raw->last_epoch = t->b[j - 1].epoch;
		raw->last_offset = t->b[j - 1].last;
		raw->ref = t;
		t->refs++;
		t->batches_read += j - i;
	}
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static void op_raw_release(void *log, struct partition_raw *raw)
{
	struct tlog *t = log;

	if (!raw->ref)
		return;
	pthread_mutex_lock(&t->lock);
	t->refs--;
	pthread_mutex_unlock(&t->lock);
	raw->ref = NULL;
}

static int op_append_batches(void *log, const uint8_t *buf, size_t len, int64_t first_line_pos)
{
	struct tlog *t = log;
	int rc;

	(void)first_line_pos; /* no line view, no compaction */
	pthread_mutex_lock(&t->lock);
	rc = t->append_err ? t->append_err : append_locked(t, buf, len);
	pthread_mutex_unlock(&t->lock);
	if (!rc)
		replfx_notify_fire(&t->notify);
	return rc;
}

void tlog_fail_appends(struct tlog *t, int err)
{
	pthread_mutex_lock(&t->lock);
	t->append_err = err;
	pthread_mutex_unlock(&t->lock);
}

static int op_truncate_to(void *log, int64_t offset)
{
	struct tlog *t = log;
	int i, rc = 0;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n && t->b[i].last < offset; i++)
		;
	/* Batches are whole: a cut inside one keeps none of it. */
	if (i < t->n && t->b[i].base < offset)
		rc = -EINVAL;
	if (!rc) {
		t->n = i;
		if (ftruncate(t->fd, end_pos_locked(t)) || fsync(t->fd))
			rc = -EIO;
		while (t->n_epochs && t->e[t->n_epochs - 1].start >= leo_locked(t))
			t->n_epochs--;
		if (t->hw > leo_locked(t))
			t->hw = leo_locked(t);
		t->truncations++;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

const struct partition_log_ops tlog_ops = {
	.offsets = op_offsets,
	.set_hw = op_set_hw,
	.assign_epoch = op_assign_epoch,
	.latest_epoch = op_latest_epoch,
	.end_offset_for_epoch = op_end_offset_for_epoch,
	.read_raw = op_read_raw,
	.raw_release = op_raw_release,
	.append_batches = op_append_batches,
	.truncate_to = op_truncate_to,
};

int64_t tlog_batches_read(struct tlog *t)
{
	int64_t n;

	pthread_mutex_lock(&t->lock);
	n = t->batches_read;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int tlog_refs(struct tlog *t)
{
	int n;

	pthread_mutex_lock(&t->lock);
	n = t->refs;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int tlog_truncations(struct tlog *t)
{
	int n;

	pthread_mutex_lock(&t->lock);
	n = t->truncations;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int64_t tlog_pos_of(struct tlog *t, int64_t offset)
{
	int64_t pos;
	int i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n && t->b[i].last < offset; i++)
		;
	pos = i < t->n ? t->b[i].pos : end_pos_locked(t);
	pthread_mutex_unlock(&t->lock);
	return pos;
}

const char *tlog_path(struct tlog *t)
{
	return t->path;
}

int tlog_value_at(struct tlog *t, int64_t offset, char *buf, size_t cap)
{
	uint8_t *b = NULL;
	int rc = -ERANGE, i;
	int64_t pos = 0, len = 0;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->n && t->b[i].last < offset; i++)
		;
	if (i < t->n) {
		pos = t->b[i].pos;
		len = t->b[i].len;
	}
	pthread_mutex_unlock(&t->lock);
	if (len && (b = malloc((size_t)len)) && pread(t->fd, b, (size_t)len, pos) == len &&
	    replfx_value_in(b, (size_t)len, offset, buf, cap) == 0)
		rc = 0;
	free(b);
	return rc;
}
