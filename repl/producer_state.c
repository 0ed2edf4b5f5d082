/*
 * producer_state.c — a replica's idempotent producer state
 * (producer_state.h): the rules there, over a sorted array of producers,
 * each with a ring of its last PRODUCER_BATCHES batches, and how far the
 * log was followed into it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "repl/producer_state.h"

void producer_state_init(struct producer_state *ps)
{
	memset(ps, 0, sizeof(*ps));
	pthread_mutex_init(&ps->mu, NULL);
	producer_state_clear(ps);
}

void producer_state_destroy(struct producer_state *ps)
{
	free(ps->e);
	ps->e = NULL;
	ps->n = ps->cap = 0;
	pthread_mutex_destroy(&ps->mu);
}

void producer_state_clear(struct producer_state *ps)
{
	ps->n = 0;
	ps->loaded = false;
	ps->loaded_epoch = -1;
	ps->end = -1;
	ps->end_epoch = -1;
}

/* Index of producer id, or -(insertion point) - 1. */
static int find(const struct producer_state *ps, int64_t id)
{
	int lo = 0, hi = ps->n;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (ps->e[mid].producer_id == id)
			return mid;
		if (ps->e[mid].producer_id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -lo - 1;
}

static int32_t last_seq_of(const struct batch_producer_info *bi)
{
	return batch_seq_add(bi->base_sequence, bi->records - 1);
}

#define RUN_MAX_SEQS ((int64_t)1 << 30) /* sequences a kept run spans at most */

/* Sequences from `from` forward to `to`, past INT32_MAX's wrap to 0. */
static int64_t seq_dist(int32_t from, int32_t to)
{
	int64_t d = (int64_t)to - from;

	return d < 0 ? d + (int64_t)INT32_MAX + 1 : d;
}

/* Whether kept batch k holds one record per offset from first_offset to
 * last_offset, sequence for sequence (a run of a producer's batches
 * appended back to back; a compacted batch may have fewer). */
static bool linear(const struct producer_batch *k)
{
	return k->last_offset - k->first_offset == seq_dist(k->first_seq, k->last_seq);
}

/* The kept batch holding the sequences first..last, with the offsets
 * they were appended at (*at), or NULL. A kept batch may be a run of
 * several (producer_state_update): a batch of the request is one when
 * its sequences lie inside such a run, whose offsets follow its
 * sequences one for one. */
static const struct producer_batch *kept(const struct producer_entry *pe, int32_t first,
					 int32_t last, struct producer_batch *at)
{
	for (int i = 0; i < pe->n; i++) {
		const struct producer_batch *k = &pe->b[i];
		int64_t d = seq_dist(k->first_seq, first);

		if (first == k->first_seq && last == k->last_seq) {
			*at = *k;
			return k;
		}
		if (linear(k) && d + seq_dist(first, last) <= seq_dist(k->first_seq, k->last_seq)) {
			*at = *k;
			at->first_seq = first;
			at->last_seq = last;
			at->first_offset = k->first_offset + d;
			at->last_offset = at->first_offset + seq_dist(first, last);
			return k;
		}
	}
	return NULL;
}

/* The newest kept batch. */
static const struct producer_batch *newest(const struct producer_entry *pe)
{
	return &pe->b[(pe->next + PRODUCER_BATCHES - 1) % PRODUCER_BATCHES];
}

/* The batch before i in the request from i's producer, or -1. */
static int prev_of(const struct batch_producer_info *bi, int i)
{
	int j = i - 1;

	while (j >= 0 && bi[j].producer_id != bi[i].producer_id)
		j--;
	return j;
}

/* Rule 5 for batch i: it follows its producer's previous batch in the
 * request, if any. */
static bool follows(const struct batch_producer_info *bi, int i)
{
	int j = prev_of(bi, i);

	return j < 0 || (bi[i].producer_epoch == bi[j].producer_epoch &&
			 bi[i].base_sequence == batch_seq_add(last_seq_of(&bi[j]), 1));
}

/* Rules 3 and 4 for the first batch of its producer in the request. */
static int judge_first(const struct producer_state *ps, const struct batch_producer_info *b)
{
	const struct producer_entry *pe;
	int i = find(ps, b->producer_id);

	if (i < 0)
		return 0; /* unknown: any sequence */
	pe = &ps->e[i];
	if (b->producer_epoch < pe->epoch)
		return -ESTALE;
	if (b->producer_epoch > pe->epoch)
		return b->base_sequence == 0 ? 0 : -EILSEQ;
	if (pe->n == 0)
		return 0;
	return b->base_sequence == batch_seq_add(newest(pe)->last_seq, 1) ? 0 : -EILSEQ;
}

/* Rule 2 for one batch: its kept copy (*at: its own sequences and
 * offsets), or NULL. */
static const struct producer_batch *duplicate_of(const struct producer_state *ps,
						 const struct batch_producer_info *b,
						 struct producer_batch *at)
{
	int i = find(ps, b->producer_id);

	if (i < 0 || ps->e[i].epoch != b->producer_epoch)
		return NULL;
	return kept(&ps->e[i], b->base_sequence, last_seq_of(b), at);
}

int producer_state_check(const struct producer_state *ps, const struct batch_producer_info *bi,
			 int n, int64_t *first, int64_t *last, int32_t *epoch, int *bad)
{
	int dups = 0, i, rc;
	bool prefix = true; /* the duplicates are the request's first batches */

	*bad = -1;
	for (i = 0; i < n; i++)
		if (bi[i].producer_id >= 0 && !follows(bi, i)) {
			*bad = i;
			return -EILSEQ;
		}
	for (i = 0; i < n; i++) {
		struct producer_batch at;
		const struct producer_batch *k =
			bi[i].producer_id >= 0 ? duplicate_of(ps, &bi[i], &at) : NULL;

		if (!k)
			continue;
		if (dups != i)
			prefix = false; /* a duplicate after a batch that is not */
		if (dups == 0) {
			*first = at.first_offset;
			*bad = i;
		}
		*last = at.last_offset;
		*epoch = at.leader_epoch;
		dups++;
	}
	if (dups == n) {
		*bad = -1;
		return 1;
	}
	/* Rule 6: the first batches of one producer's request sent again
	 * (the leader that took the request before had passed only those on
	 * to this one when it went), the rest following the last of them. */
	if (dups > 0 && prefix && bi[0].producer_id >= 0 &&
	    bi[n - 1].producer_id == bi[0].producer_id && judge_first(ps, &bi[dups]) == 0) {
		for (i = 1; i < n; i++)
			if (bi[i].producer_id != bi[0].producer_id)
				break;
		if (i == n) {
			*bad = dups;
			return 2;
		}
	}
	if (dups > 0)
		return -EILSEQ; /* some sent again, not all: *bad the first */
	for (i = 0; i < n; i++) {
		if (bi[i].producer_id < 0 || prev_of(bi, i) >= 0)
			continue;
		rc = judge_first(ps, &bi[i]);
		if (rc < 0) {
			*bad = i;
			return rc;
		}
	}
	return 0;
}

/* The entry of id, made when missing. */
static struct producer_entry *entry(struct producer_state *ps, int64_t id)
{
	int i = find(ps, id);

	if (i >= 0)
		return &ps->e[i];
	i = -i - 1;
	if (ps->n == ps->cap) {
		int cap = ps->cap ? ps->cap * 2 : 8;
		struct producer_entry *e = realloc(ps->e, (size_t)cap * sizeof(*e));

		if (!e)
			return NULL;
		ps->e = e;
		ps->cap = cap;
	}
	memmove(&ps->e[i + 1], &ps->e[i], (size_t)(ps->n - i) * sizeof(*ps->e));
	ps->n++;
	memset(&ps->e[i], 0, sizeof(ps->e[i]));
	ps->e[i].producer_id = id;
	ps->e[i].epoch = -1;
	ps->e[i].last_timestamp = INT64_MIN;
	return &ps->e[i];
}

int producer_state_update(struct producer_state *ps, const struct batch_producer_info *bi, int n)
{
	for (int i = 0; i < n; i++) {
		struct producer_entry *pe;

		if (bi[i].producer_id < 0)
			continue;
		pe = entry(ps, bi[i].producer_id);
		if (!pe)
			return -ENOMEM;
		if (bi[i].producer_epoch != pe->epoch) {
			pe->epoch = bi[i].producer_epoch;
			pe->n = pe->next = 0;
		}
		/* The newest batch's, as Kafka's ProducerStateEntry.addBatch:
		 * a client that once stamped a batch far ahead is not kept
		 * for that batch's sake. */
		pe->last_timestamp = bi[i].max_timestamp;
		/* A batch right after the newest one, in sequences and in
		 * offsets, of the same leader epoch, extends it: the batches of
		 * one write forwarded from a mount (one per batch.size bytes,
		 * often more than PRODUCER_BATCHES) stay known as a whole, so
		 * that all of them sent again is a duplicate however many. */
		if (pe->n > 0) {
			struct producer_batch *nw =
				&pe->b[(pe->next + PRODUCER_BATCHES - 1) % PRODUCER_BATCHES];

			/* Runs stay far below the 2^31 sequences after which a
			 * producer's sequences come round again. */
			if (linear(nw) && bi[i].base_sequence == batch_seq_add(nw->last_seq, 1) &&
			    seq_dist(nw->first_seq, last_seq_of(&bi[i])) < RUN_MAX_SEQS &&
			    bi[i].base_offset == nw->last_offset + 1 &&
			    bi[i].last_offset - bi[i].base_offset == bi[i].records - 1 &&
			    bi[i].leader_epoch == nw->leader_epoch) {
				nw->last_seq = last_seq_of(&bi[i]);
				nw->last_offset = bi[i].last_offset;
				continue;
			}
		}
		pe->b[pe->next] = (struct producer_batch){ .first_seq = bi[i].base_sequence,
							   .last_seq = last_seq_of(&bi[i]),
							   .first_offset = bi[i].base_offset,
							   .last_offset = bi[i].last_offset,
							   .leader_epoch = bi[i].leader_epoch };
		pe->next = (pe->next + 1) % PRODUCER_BATCHES;
		if (pe->n < PRODUCER_BATCHES)
			pe->n++;
	}
	return 0;
}

struct load_ctx {
	struct producer_state *ps;
	int rc;
};

static void load_one(void *arg, const struct batch_producer_info *bi)
{
	struct load_ctx *lc = arg;

	if (lc->rc == 0)
		lc->rc = producer_state_update(lc->ps, bi, 1);
}

int producer_state_list(const struct producer_state *ps, struct producer_summary **out)
{
	*out = NULL;
	if (ps->n == 0)
		return 0;
	*out = malloc((size_t)ps->n * sizeof(**out));
	if (!*out)
		return -ENOMEM;
	for (int i = 0; i < ps->n; i++) {
		const struct producer_entry *pe = &ps->e[i];

		(*out)[i] = (struct producer_summary){
			.producer_id = pe->producer_id,
			.epoch = pe->epoch,
			.last_seq = pe->n > 0 ? newest(pe)->last_seq : -1,
			.last_timestamp = pe->last_timestamp,
		};
	}
	return ps->n;
}

int producer_state_expire(struct producer_state *ps, int64_t now_ms, int64_t expiration_ms)
{
	int w = 0;

	for (int i = 0; i < ps->n; i++)
		if (ps->e[i].last_timestamp > now_ms - expiration_ms)
			ps->e[w++] = ps->e[i]; /* stays sorted */
	w = ps->n - w;
	ps->n -= w;
	return w;
}

/* Whether the producer checkpoint ending at end, written when offset
 * end - 1 had leader epoch epoch, is one of this log: the log still
 * reaches end, past its start, and its epoch cache still gives that epoch
 * there. A truncation below end (an unclean election) followed by new
 * records gives them a later epoch; one with none after it leaves the log
 * end below end. */
static bool ckpt_holds(struct log *l, int64_t end, int32_t epoch)
{
	return epoch >= 0 && end > log_get_start(l) && end <= log_get_end(l) &&
	       log_epoch_for_offset(l, end - 1) == epoch;
}

/* The newest producer snapshot (prodsnap.c) that ends at or below limit
 * (-1: any) into the empty ps: the checkpoint when it holds and is past
 * the front snapshot, else the front one. Returns the offset the log is to
 * be replayed from (-1: no snapshot, or damaged ones, which the engine
 * refused and logged: the log alone then), or -ENOMEM / -EIO; *front_end
 * the front snapshot's end (-1: none). Their entries are the kept batches
 * as producer_state_update keeps them, oldest first, so replaying them
 * gives the same rings and runs. */
static int64_t snapshot_apply(struct producer_state *ps, struct log *l, int64_t limit,
			      int64_t *front_end)
{
	struct batch_producer_info *bi[2] = { NULL, NULL };
	int64_t end[2];
	int32_t epoch[2];
	int n[2], rc = 0, use = -1;

	for (int k = LOG_SNAP_FRONT; k <= LOG_SNAP_CKPT && rc == 0; k++) {
		rc = log_producer_snapshot_read(l, (enum log_snap)k, &end[k], &epoch[k], &bi[k],
						&n[k]);
		if (rc == -ENOENT || rc == -EBADMSG) {
			end[k] = -1;
			rc = 0;
		}
	}
	*front_end = end[LOG_SNAP_FRONT];
	if (rc == 0) {
		if (end[LOG_SNAP_FRONT] >= 0)
			use = LOG_SNAP_FRONT;
		if (end[LOG_SNAP_CKPT] > end[LOG_SNAP_FRONT] &&
		    (limit < 0 || end[LOG_SNAP_CKPT] <= limit) &&
		    ckpt_holds(l, end[LOG_SNAP_CKPT], epoch[LOG_SNAP_CKPT]))
			use = LOG_SNAP_CKPT;
		if (use >= 0)
			rc = producer_state_update(ps, bi[use], n[use]);
	}
	free(bi[0]);
	free(bi[1]);
	return rc < 0 ? rc : use >= 0 ? end[use] : -1;
}

/* Rebuilds ps (emptied first) from the newest snapshot ending at or below
 * to and the log's batches after it, up to (excluding the batches that
 * end at or past) to (-1: the log end); *snap_end the snapshot's end (-1:
 * none), *front_end the front snapshot's. */
static int rebuild(struct producer_state *ps, struct log *l, int64_t to, int64_t *snap_end,
		   int64_t *front_end)
{
	for (int tries = 0;; tries++) {
		struct load_ctx lc = { ps, 0 };
		int64_t start = log_get_start(l), end;
		int rc;

		producer_state_clear(ps);
		end = snapshot_apply(ps, l, to, front_end);
		if (end < -1)
			return (int)end;
		rc = log_scan_producers(l, end, to, load_one, &lc);
		if (rc == 0)
			rc = lc.rc;
		/* A start that moved meanwhile (retention, DeleteRecords: the
		 * trim listener holds the log's maint_lock, a load does not)
		 * may have taken batches the snapshot read did not have yet:
		 * read both again. */
		if (log_get_start(l) != start && tries < 3)
			continue;
		*snap_end = end;
		return rc;
	}
}

/* The leader epoch of the batch before end, -1 when none is there. */
static int32_t epoch_before(struct log *l, int64_t end)
{
	return end > log_get_start(l) ? log_epoch_for_offset(l, end - 1) : -1;
}

/* Rebuilds ps from l up to its end now, as a state of leader epoch epoch
 * (-1: a follower's). The end is read before the scan: a follower's batch
 * appended meanwhile is after it, and its hook keeps it. */
static int load_now(struct producer_state *ps, struct log *l, int32_t epoch, int64_t now_ms,
		    int64_t expiration_ms)
{
	int64_t to = log_get_end(l), end = -1, front = -1;
	int rc = rebuild(ps, l, to, &end, &front);

	if (rc < 0) {
		producer_state_clear(ps);
		return rc;
	}
	producer_state_expire(ps, now_ms, expiration_ms);
	ps->loaded = true;
	ps->loaded_epoch = epoch;
	ps->end = to;
	ps->end_epoch = epoch_before(l, to);
	return 0;
}

int producer_state_load(struct producer_state *ps, struct log *l, int32_t epoch, int64_t now_ms,
			int64_t expiration_ms)
{
	if (ps->loaded && (epoch < 0 || ps->loaded_epoch == epoch))
		return 0;
	/* A follower's state brought to the log's end, the same batch still
	 * before it (no truncation since; one followed by new records gives
	 * them a later epoch): the new leader's as it is. */
	if (ps->loaded && ps->loaded_epoch < 0 && ps->end == log_get_end(l) &&
	    ps->end_epoch == epoch_before(l, ps->end)) {
		ps->loaded_epoch = epoch;
		return 0;
	}
	return load_now(ps, l, epoch, now_ms, expiration_ms);
}

int producer_state_follow(struct producer_state *ps, struct log *l,
			  const struct batch_producer_info *bi, int n, int64_t now_ms,
			  int64_t expiration_ms)
{
	int64_t base, last;
	int rc;

	if (n <= 0)
		return 0;
	base = bi[0].base_offset;
	last = bi[n - 1].last_offset;
	/* A load made after the append (a leadership, a DescribeProducers)
	 * read them from the log already. */
	if (ps->loaded && last < ps->end)
		return 0;
	/* Kept from where the state was brought, and past it only when the
	 * records in between are a leader's own appends (a leader's state
	 * holds every idempotent one of them); else the log has batches
	 * this state has not seen (a load is the only way to know them). */
	if (!ps->loaded || base < ps->end || (base > ps->end && ps->loaded_epoch < 0))
		return load_now(ps, l, -1, now_ms, expiration_ms);
	rc = producer_state_update(ps, bi, n);
	if (rc < 0) {
		producer_state_clear(ps);
		return rc;
	}
	ps->loaded_epoch = -1;
	ps->end = last + 1;
	ps->end_epoch = bi[n - 1].leader_epoch;
	return 0;
}

int producer_state_reload(struct producer_state *ps, struct log *l, int64_t now_ms,
			  int64_t expiration_ms)
{
	return load_now(ps, l, -1, now_ms, expiration_ms);
}

int producer_state_headers(const uint8_t *buf, size_t len, struct batch_producer_info *stack,
			   int n_stack, struct batch_producer_info **bi)
{
	/* A batch is 61 bytes at least (its header). */
	int max = (int)(len / 61 + 1), n = log_batches_producers(buf, len, stack, n_stack);

	*bi = stack;
	if (n != -E2BIG)
		return n < 0 ? 0 : n;
	*bi = malloc((size_t)max * sizeof(**bi));
	if (!*bi) {
		*bi = stack;
		return -ENOMEM;
	}
	n = log_batches_producers(buf, len, *bi, max);
	return n < 0 ? 0 : n;
}

/* Writes ps as the log's snapshot which up to offset, end_epoch the epoch
 * it names, leaving out the producers expired at now for *expiration_ms
 * (NULL: none expire). */
static int snapshot_put(const struct producer_state *ps, struct log *l, enum log_snap which,
			int64_t offset, int32_t end_epoch, const int64_t *expiration_ms)
{
	struct batch_producer_info *out;
	int64_t now = engine_now_ms();
	int rc, k = 0, total = 0;

	for (int i = 0; i < ps->n; i++)
		total += ps->e[i].n;
	out = calloc(total ? (size_t)total : 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (int i = 0; i < ps->n; i++) {
		const struct producer_entry *pe = &ps->e[i];

		if (expiration_ms &&
		    pe->last_timestamp <= now - __atomic_load_n(expiration_ms, __ATOMIC_RELAXED))
			continue; /* as producer_state_expire */
		for (int j = 0; j < pe->n; j++) {
			const struct producer_batch *b =
				&pe->b[(pe->next - pe->n + j + 2 * PRODUCER_BATCHES) %
				       PRODUCER_BATCHES];

			out[k++] = (struct batch_producer_info){
				.base_offset = b->first_offset,
				.last_offset = b->last_offset,
				.leader_epoch = b->leader_epoch,
				.records = (int32_t)(seq_dist(b->first_seq, b->last_seq) + 1),
				.producer_id = pe->producer_id,
				.producer_epoch = pe->epoch,
				.base_sequence = b->first_seq,
				.max_timestamp = pe->last_timestamp,
			};
		}
	}
	rc = log_producer_snapshot_write(l, which, offset, end_epoch, out, k);
	free(out);
	return rc;
}

int producer_state_trim(void *arg, struct log *l, int64_t offset, enum log_snap which)
{
	const int64_t *expiration_ms = arg;
	struct producer_state ps;
	int64_t end = -1, front = -1;
	int32_t end_epoch = -1;
	int rc = 0;

	producer_state_init(&ps);
	/* A checkpoint names the epoch of its last record, looked up before
	 * the scan: a truncation meanwhile leaves it naming an epoch the log
	 * no longer gives there, and the file is not taken (ckpt_holds). */
	if (which == LOG_SNAP_CKPT) {
		end_epoch = log_epoch_for_offset(l, offset - 1);
		if (end_epoch < 0)
			goto out; /* no epochs (nothing written since): nothing to name */
	}
	rc = rebuild(&ps, l, offset, &end, &front);
	if (rc < 0)
		goto out;
	/* Already kept up to there: the front snapshot by itself (a retry
	 * after a crash; a checkpoint may be lost to a truncation, the front
	 * snapshot never), the checkpoint by either. */
	if (which == LOG_SNAP_FRONT ? front >= offset : end >= offset)
		goto out;
	/* No producer to keep and none kept before: no front file, as before
	 * any idempotent producer wrote here. A checkpoint is written all
	 * the same: it tells the next load where to start its scan. */
	if (which == LOG_SNAP_FRONT && ps.n == 0 && end < 0)
		goto out;
	rc = snapshot_put(&ps, l, which, offset, end_epoch, expiration_ms);
out:
	producer_state_destroy(&ps);
	return rc;
}

int producer_state_stop_checkpoint(struct producer_state *ps, struct log *l,
				   const int64_t *expiration_ms)
{
	int64_t end = log_get_end(l);
	int32_t epoch = log_epoch_for_offset(l, end - 1);
	int rc = 0;

	pthread_mutex_lock(&ps->mu);
	if (ps->loaded && end > 0 && epoch >= 0)
		rc = snapshot_put(ps, l, LOG_SNAP_CKPT, end, epoch, expiration_ms);
	if (rc == 0 && ps->loaded)
		rc = 1;
	pthread_mutex_unlock(&ps->mu);
	return rc;
}
