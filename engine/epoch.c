/*
 * epoch.c — the leader epoch cache (Kafka's LeaderEpochFileCache): the
 * first offset of each leader epoch of this log, oldest first, kept in
 * memory (l->epochs) and in DIR/leader-epoch-checkpoint.
 *
 * leader-epoch-checkpoint (Kafka's text format):
 *
 *     0                  version
 *     2                  number of entries
 *     0 0                epoch start_offset, oldest first
 *     3 1204
 *
 * Invariants: epochs strictly increase, start offsets never decrease,
 * neither is negative. The file is replaced durably (tmp, fsync, rename,
 * fsync dir) after every change; it is read at open by checkpoint.c's
 * ckpt_read (the reader of Kafka's checkpoint format, shared with
 * logmgr.c): a missing file is an empty cache, one that does not parse
 * refuses the partition at open (-EBADMSG, logged with the line and the
 * reason).
 *
 * Locking: l->lock, held by the caller (truncation, the follower's
 * append) or taken here (log_assign_epoch, log_end_offset_for_epoch);
 * epoch_cache_load runs at open, before the log is shared.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/log_int.h"

static int epochs_write(struct log *l)
{
	size_t cap = 32 + (size_t)l->nepochs * 40;
	char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	int n = snprintf(buf, cap, "0\n%d\n", l->nepochs);
	for (int i = 0; i < l->nepochs; i++)
		n += snprintf(buf + n, cap - (size_t)n, "%" PRId32 " %" PRId64 "\n",
			      l->epochs[i].epoch, l->epochs[i].start_offset);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", l->dir);
	int rc = io_write_file_atomic(l->io, path, buf, (size_t)n);
	free(buf);
	return rc;
}

static int epochs_begin(void *arg, int count)
{
	struct log *l = arg;

	l->epochs = calloc((size_t)count + 1, sizeof(*l->epochs));
	return l->epochs ? 0 : -ENOMEM;
}

/* "epoch start_offset", both increasing */
static int epochs_entry(void *arg, const char *p, int *used, const char **why)
{
	struct log *l = arg;
	const char *s = p;
	struct epoch_ent e;
	int64_t epoch;

	if (ckpt_num(&s, INT32_MIN, INT32_MAX, &epoch) < 0 ||
	    ckpt_num(&s, INT64_MIN, INT64_MAX, &e.start_offset) < 0)
		*why = "not \"epoch start_offset\"";
	else if (epoch < 0 || e.start_offset < 0)
		*why = "negative epoch or offset";
	else if (l->nepochs > 0 && (epoch <= l->epochs[l->nepochs - 1].epoch ||
				    e.start_offset < l->epochs[l->nepochs - 1].start_offset))
		*why = "epochs and start offsets must increase";
	if (*why)
		return -EBADMSG;
	e.epoch = (int32_t)epoch;
	*used = (int)(s - p);
	l->epochs[l->nepochs++] = e;
	return 0;
}

int epoch_cache_load(struct log *l)
{
	char path[PATH_MAX + 32];
	const char *why = NULL;
	int line = 0, rc;

	snprintf(path, sizeof(path), "%s/leader-epoch-checkpoint", l->dir);
	rc = ckpt_read(l->io, path, 1000000, epochs_begin, epochs_entry, l, &why, &line);
	if (rc == -EBADMSG)
		ENGINE_REPORT(ENGINE_LOG_ERR,
			      "%s: line %d: %s; partition refused (Kafka's format: "
			      "0, the count, then \"epoch start_offset\" lines; a missing file "
			      "is rebuilt)",
			      path, line, why);
	return rc;
}

int epoch_cache_assign(struct log *l, int32_t epoch, int64_t start_offset)
{
	if (epoch <= epoch_cache_latest(l))
		return 0;
	struct epoch_ent *ne = realloc(l->epochs, (size_t)(l->nepochs + 1) * sizeof(*ne));
	if (!ne)
		return -ENOMEM;
	l->epochs = ne;
	l->epochs[l->nepochs++] = (struct epoch_ent){ epoch, start_offset };
	int rc = epochs_write(l);
	if (rc < 0)
		l->nepochs--; /* the cache says what the file says */
	return rc;
}

int log_assign_epoch(struct log *l, int32_t epoch, int64_t start_offset)
{
	pthread_mutex_lock(&l->lock);
	int rc = epoch_cache_assign(l, epoch, start_offset);
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* Kafka's truncateFromEnd: entries starting at or after end_offset go
 * (all of them for 0: a log emptied holds no epoch). */
int epoch_cache_truncate_from_end(struct log *l, int64_t end_offset)
{
	int k = l->nepochs;
	while (k > 0 && l->epochs[k - 1].start_offset >= end_offset)
		k--;
	if (k == l->nepochs)
		return 0;
	l->nepochs = k;
	return epochs_write(l);
}

int epoch_cache_truncate_above(struct log *l, int32_t epoch)
{
	int k = l->nepochs;
	while (k > 0 && l->epochs[k - 1].epoch > epoch)
		k--;
	if (k == l->nepochs)
		return 0;
	l->nepochs = k;
	return epochs_write(l);
}

/*
 * Kafka's LeaderEpochFileCache.endOffsetFor. With the cache
 * [0@0, 1@10, 3@20] and the LEO 25:
 *
 *   epoch asked   answer    why
 *   -1            (-1, -1)  UNDEFINED_EPOCH: undefined
 *   0             (0, 10)   epoch 1 starts at 10
 *   1             (1, 20)
 *   2             (1, 20)   no epoch 2 here: the largest below, 1, ends at 20
 *   3             (3, 25)   the latest runs to the LEO
 *   4, 7          (-1, -1)  above the latest: no epoch here ends it
 *
 * and with [2@5, ...] asked for 1 (or -2): (1, 5) ((-2, 5)), the start of
 * the first; an empty cache answers (-1, -1) to every epoch. Above the
 * latest is not the latest's end: a follower or consumer that holds an
 * epoch this log never had learns that nothing here ends it (Kafka's
 * UNDEFINED_EPOCH_OFFSET; the follower then truncates to its high
 * watermark), where (latest, LEO) would have it keep records of that
 * epoch up to this log's end.
 */
/* log_end_offset_for_epoch's answer; the log's lock held. */
static void epoch_end_locked(struct log *l, int32_t epoch, int32_t *out_epoch, int64_t *out_end)
{
	int i = 0; /* the first entry above epoch (the cache is short) */

	*out_epoch = -1;
	*out_end = -1;
	if (epoch == -1 || l->nepochs == 0)
		return;
	if (l->epochs[l->nepochs - 1].epoch == epoch) {
		*out_epoch = epoch;
		*out_end = log_leo(l);
		return;
	}
	while (i < l->nepochs && l->epochs[i].epoch <= epoch)
		i++;
	if (i == l->nepochs)
		return;
	*out_epoch = i == 0 ? epoch : l->epochs[i - 1].epoch;
	*out_end = l->epochs[i].start_offset;
}

int log_end_offset_for_epoch(struct log *l, int32_t epoch, int32_t *out_epoch, int64_t *out_end)
{
	pthread_mutex_lock(&l->lock);
	epoch_end_locked(l, epoch, out_epoch, out_end);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int32_t log_epoch_for_offset(struct log *l, int64_t offset)
{
	int32_t epoch = -1;

	pthread_mutex_lock(&l->lock);
	for (int i = 0; i < l->nepochs && l->epochs[i].start_offset <= offset; i++)
		epoch = l->epochs[i].epoch;
	pthread_mutex_unlock(&l->lock);
	return epoch;
}

int64_t log_get_hw_epoch(struct log *l, int32_t epoch, int32_t *out_epoch, int64_t *out_end,
			 int32_t *out_latest)
{
	pthread_mutex_lock(&l->lock);
	int64_t hw = l->hw;
	epoch_end_locked(l, epoch, out_epoch, out_end);
	*out_latest = l->nepochs > 0 ? l->epochs[l->nepochs - 1].epoch : -1;
	pthread_mutex_unlock(&l->lock);
	return hw;
}
