/*
 * corrupt.c — what a reader does when a batch on disk is not valid.
 *
 * Every path that decodes batches for a reader (the line view cursor, the
 * offset/position/time lookups, the cleaner, .dump) checks each batch in
 * full (batch_iter_init: header, CRC-32C, payload; then every record) and
 * on failure calls log_corrupt with the segment and the batch's position.
 * The read fails there with -EBADMSG; what came before it was good and
 * has been returned already.
 *
 * Once per batch: a reader retries (cat after cat, a consumer polling), so
 * each segment remembers up to SEG_BAD_SLOTS positions it has reported.
 * The first reader to claim a free slot for a position (compare and swap
 * from 0 to pos + 1) counts the batch in l->corrupt_batches and calls the
 * log's listener; everyone else finds the position and returns. A segment
 * with more bad batches than slots has the first SEG_BAD_SLOTS reported
 * and counted; its last report says so.
 *
 * Threads: lock-free (atomics only), so it may be called with the log's
 * lock held (lookups) or not (the cursor, the cleaner, .dump).
 *
 * Checked batches. A batch is only found bad when a reader decodes it, and
 * a clean open decodes none, so a log opened from disk may hold bad batches
 * nobody has met yet. A reader through the kernel's page cache cannot
 * stop at one: the kernel asks for whole pages and takes a short reply for
 * the end of the file, so its read that meets one fails whole, records
 * before it included. l->line_checked says how much is known good: every
 * batch with a line below it was checked whole since the log was opened.
 *   - At open it is the line base of the first segment (nothing checked),
 *     or the line end when the log holds no record. l->line_open_end,
 *     the line end at open, bounds what is unchecked: every batch from
 *     it on was appended since, checked (a truncation or reset below it
 *     lowers it: what follows the cut is appended too). So a log whose
 *     mark reaches line_open_end holds no unchecked batch, and a reader
 *     of records appended since the open never measures them.
 *   - An append (log_write_batchesv) writes batches it has checked (every
 *     path encodes or decodes them first): when the mark was at the line
 *     end, it follows the append.
 *   - A read of the line view returns only records of batches checked
 *     whole: when the mark is inside what it returned, the mark moves to
 *     its end (log_checked_read). A read that starts above the mark moves
 *     nothing: the batches between are unknown.
 * It never passes a bad batch (no read returns a byte of one), and a
 * truncation or a reset needs nothing: what the positions above the new
 * end hold next is appended. So line_checked >= line_end says the log
 * holds no bad batch: log_state.line_checked, which decides whether a
 * partition file may be read through the page cache (repl/topic_read.c,
 * topic_line_whole).
 *
 * Moved entries. A .lines entry whose line position changed on disk by a
 * few bytes, still increasing, passes the open's checks unless one of the
 * batches it borders is among those sampled (seg_check_lines), and a read
 * would then show its records at the wrong positions (a gap before them,
 * or lines that overlap the batch before). The rule it breaks holds in
 * every log: a batch's lines end at or before the line position of the
 * batch after it, since appends place batches end to end and compaction
 * only removes records, which leaves the survivors where they were (so
 * the room between two entries can only grow). An entry moved up by d
 * leaves its own batch d bytes short of room; moved down by d, the batch
 * before it. So the cursor (cursor.c, cur_fit) measures the lines of every
 * batch it opens above the mark, once, before it returns any of them, and
 * compares them with the next entry's line position (for the last batch
 * of a closed segment, the next segment's line base). A batch that does
 * not fit is a bad batch like any other (log_corrupt_lines): the read
 * stops before it, a read in it fails with -EBADMSG, the mark stays below
 * it, so no byte at a moved position reaches the page cache. Below the mark
 * the check is done: a page-cache reader's batches are all below it. What
 * stays unseen: an entry moved down into a gap compaction left (the lines
 * still fit; its records read d bytes early), and the last entry of the
 * active segment of a compacted log, which nothing follows (the open
 * derives the log's line end from it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "engine/log_int.h"

/* 1 if this call is the first to report pos in s, 2 if it is and it took
 * the last free slot, 0 if pos was reported before (or no slot is left). */
static int claim(struct seg *s, int64_t pos)
{
	for (int i = 0; i < SEG_BAD_SLOTS; i++) {
		int64_t want = 0;

		if (atomic_compare_exchange_strong(&s->bad_seen[i], &want, pos + 1))
			return i == SEG_BAD_SLOTS - 1 ? 2 : 1;
		if (want == pos + 1)
			return 0;
	}
	return 0;
}

/* The listener told of the batch at pos of s, claim c (claim's answer)
 * given: why (cap bytes, at least 64 past its text) gets the slots' note. */
static void report(struct log *l, struct seg *s, int64_t pos, int c, char *why, size_t cap)
{
	char file[PATH_MAX + 32];
	log_corrupt_fn *fn = __atomic_load_n(&l->corrupt_fn, __ATOMIC_ACQUIRE);

	if (!fn)
		return;
	if (c == 2)
		snprintf(why + strlen(why), cap - strlen(why),
			 " (further bad batches of this segment are not reported)");
	snprintf(file, sizeof(file), "%s.log%s", s->path, s->sfx);
	fn(l->corrupt_arg, l, file, pos, why);
}

void log_corrupt(struct log *l, struct seg *s, int64_t pos, const uint8_t *buf, size_t len)
{
	char why[224];
	int c = claim(s, pos);

	if (!c)
		return;
	atomic_fetch_add(&l->corrupt_batches, 1);
	if (!__atomic_load_n(&l->corrupt_fn, __ATOMIC_ACQUIRE))
		return;
	if (buf)
		batch_explain(buf, len, why, 160);
	else
		why[0] = '\0';
	if (!why[0])
		snprintf(why, 160, "%s",
			 buf ? "records do not match the .lines index"
			     : "batchLength does not give a whole batch inside the file");
	report(l, s, pos, c, why, sizeof(why));
}

void log_corrupt_lines(struct log *l, struct seg *s, int64_t pos, int64_t offset, int64_t line_pos,
		       int64_t line_bytes, int64_t next_line_pos)
{
	char why[PATH_MAX + 320];
	int c = claim(s, pos);

	if (!c)
		return;
	atomic_fetch_add(&l->corrupt_batches, 1);
	snprintf(why, sizeof(why) - 64,
		 "its records (from offset %" PRId64 ") take %" PRId64
		 " bytes of lines from line position %" PRId64 " (its .lines entry), past %" PRId64
		 ", where the next batch's lines begin: %s.lines%s is damaged",
		 offset, line_bytes, line_pos, next_line_pos, s->path, s->sfx);
	report(l, s, pos, c, why, sizeof(why));
}

void log_set_corrupt_listener(struct log *l, log_corrupt_fn *fn, void *arg)
{
	l->corrupt_arg = arg;
	__atomic_store_n(&l->corrupt_fn, fn, __ATOMIC_RELEASE);
}

void log_checked_locked(struct log *l, int64_t from, int64_t to)
{
	int64_t at = atomic_load(&l->line_checked);

	if (at >= from && at < to)
		atomic_store(&l->line_checked, to);
}

bool log_line_unchecked(struct log *l, int64_t line_pos)
{
	return line_pos >= atomic_load(&l->line_checked) &&
	       line_pos < atomic_load(&l->line_open_end);
}

void log_checked_cut(struct log *l, int64_t line_pos)
{
	if (atomic_load(&l->line_open_end) > line_pos)
		atomic_store(&l->line_open_end, line_pos);
}

void log_checked_read(struct log *l, int64_t from, int64_t to)
{
	int64_t at = atomic_load(&l->line_checked);

	/* The common case, a log checked to its end, takes no lock. */
	if (at < from || at >= to)
		return;
	pthread_mutex_lock(&l->lock);
	log_checked_locked(l, from, to);
	pthread_mutex_unlock(&l->lock);
}
