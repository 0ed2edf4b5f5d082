/*
 * locks.c — the lock table: fcntl and flock locks kept per file, and the
 * waiters parked on them (the semantics are described in locks.h).
 *
 * A file that has locks or waiters has an entry in a fixed chained hash
 * keyed by file id; the entry holds its locks of both domains in one
 * unordered list of records, and its waiters in a FIFO. Locked files are
 * few at a time, so the hash never grows.
 *
 * Invariants, under lt->mu:
 *   an entry with no locks and no waiters is unlinked and freed
 *   every record has type F_RDLCK or F_WRLCK and 0 <= start <= end
 *   the POSIX records of one owner never overlap, and two of one type never
 *     touch (end + 1 == start): they are merged
 *   an owner has at most one FLOCK record per file, over [0, INT64_MAX]
 *   locks of different owners in one domain do not conflict
 *   every parked waiter conflicts with some lock of its file (granting is
 *     tried after every change that can unblock one)
 *   a parked waiter holds the records its grant needs (w->spare), so
 *     granting never allocates and cannot fail
 *
 * Allocation comes first: lock_set allocates the records a change can need
 * (a POSIX lock: one for itself, one for the right part of a lock it
 * splits) and the file entry before it takes the mutex, so -ENOMEM leaves
 * the table as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "fs/locks.h"

#define LOCK_BUCKETS 64 /* power of two */

struct lock_rec {
	struct lock_span span;
	enum lock_domain domain;
	struct lock_rec *next;
};

struct lock_file {
	uint64_t file;
	struct lock_rec *locks;
	size_t nlocks;
	struct lock_waiter *wait_head;
	struct lock_waiter **wait_tail;
	struct lock_file *next; /* hash chain */
};

struct lock_table {
	pthread_mutex_t mu;
	struct lock_file *buckets[LOCK_BUCKETS];
	size_t nfiles;
};

static struct lock_file **lock_bucket(struct lock_table *lt, uint64_t file)
{
	uint64_t x = file;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return &lt->buckets[x & (LOCK_BUCKETS - 1)];
}

static struct lock_file *lock_find(struct lock_table *lt, uint64_t file)
{
	struct lock_file *lf = *lock_bucket(lt, file);

	while (lf && lf->file != file)
		lf = lf->next;
	return lf;
}

static void lock_file_link(struct lock_table *lt, struct lock_file *lf, uint64_t file)
{
	struct lock_file **head = lock_bucket(lt, file);

	*lf = (struct lock_file){ .file = file, .next = *head };
	lf->wait_tail = &lf->wait_head;
	*head = lf;
	lt->nfiles++;
}

/* Frees lf if nothing keeps it. */
static void lock_file_maybe_free(struct lock_table *lt, struct lock_file *lf)
{
	struct lock_file **pp;

	if (lf->locks || lf->wait_head)
		return;
	for (pp = lock_bucket(lt, lf->file); *pp != lf; pp = &(*pp)->next)
		;
	*pp = lf->next;
	lt->nfiles--;
	free(lf);
}

static void lock_spare_free(struct lock_rec **spare)
{
	for (int i = 0; i < 2; i++) {
		free(spare[i]);
		spare[i] = NULL;
	}
}

/* One of the records allocated in advance; a change takes no more than
 * lock_set allocated for it, so there is always one. */
static struct lock_rec *lock_spare_take(struct lock_rec **spare)
{
	int i = spare[0] ? 0 : 1;
	struct lock_rec *rec = spare[i];

	spare[i] = NULL;
	return rec;
}

static void lock_insert(struct lock_file *lf, struct lock_rec *rec, enum lock_domain domain,
			const struct lock_span *span)
{
	rec->span = *span;
	rec->domain = domain;
	rec->next = lf->locks;
	lf->locks = rec;
	lf->nlocks++;
}

/* Unlinks and frees *pp; *pp is then the record that followed. */
static void lock_remove(struct lock_file *lf, struct lock_rec **pp)
{
	struct lock_rec *rec = *pp;

	*pp = rec->next;
	lf->nlocks--;
	free(rec);
}

static bool lock_conflict(const struct lock_span *a, const struct lock_span *b)
{
	return a->owner != b->owner && a->start <= b->end && b->start <= a->end &&
	       (a->type == F_WRLCK || b->type == F_WRLCK);
}

/* The conflicting lock with the lowest start, or NULL. */
static struct lock_rec *lock_first_conflict(struct lock_file *lf, enum lock_domain domain,
					    const struct lock_span *want)
{
	struct lock_rec *rec, *first = NULL;

	for (rec = lf->locks; rec; rec = rec->next)
		if (rec->domain == domain && lock_conflict(&rec->span, want) &&
		    (!first || rec->span.start < first->span.start))
			first = rec;
	return first;
}

/*
 * Replaces want->owner's POSIX locks over [start, end] by want (nothing,
 * for F_UNLCK). Each of the owner's records that overlaps or touches the
 * range is, in one pass:
 *   same type:   absorbed (the range grows to cover it, the record goes)
 *   other type:  cut back to what lies outside the range; one that covers
 *                the range with bytes to spare on both sides is split in two
 * Growing the range mid-pass is safe: the absorbed record overlaps none of
 * the owner's others, so what it adds was no other record's.
 */
static void lock_posix_apply(struct lock_file *lf, const struct lock_span *want,
			     struct lock_rec **spare)
{
	struct lock_span span = *want;
	struct lock_rec **pp = &lf->locks, *rec;

	while ((rec = *pp)) {
		struct lock_span *s = &rec->span;

		/* s->start - 1 and span.start - 1 cannot overflow: starts are >= 0. */
		if (rec->domain != LOCK_DOMAIN_POSIX || s->owner != span.owner ||
		    s->end < span.start - 1 || s->start - 1 > span.end) {
			pp = &rec->next;
			continue;
		}
		if (s->type == span.type) {
			span.start = s->start < span.start ? s->start : span.start;
			span.end = s->end > span.end ? s->end : span.end;
			lock_remove(lf, pp);
			continue;
		}
		if (s->end < span.start || s->start > span.end) {
			pp = &rec->next; /* only touches, another type: kept */
			continue;
		}
		if (s->start < span.start && s->end > span.end) {
			struct lock_span right = *s;

			right.start = span.end + 1;
			s->end = span.start - 1;
			lock_insert(lf, lock_spare_take(spare), LOCK_DOMAIN_POSIX, &right);
		} else if (s->start < span.start) {
			s->end = span.start - 1;
		} else if (s->end > span.end) {
			s->start = span.end + 1;
		} else {
			lock_remove(lf, pp);
			continue;
		}
		pp = &rec->next;
	}
	if (span.type != F_UNLCK)
		lock_insert(lf, lock_spare_take(spare), LOCK_DOMAIN_POSIX, &span);
}

/* The owner's FLOCK record, as the link that points at it, or NULL. */
static struct lock_rec **lock_flock_find(struct lock_file *lf, uint64_t owner)
{
	struct lock_rec **pp;

	for (pp = &lf->locks; *pp; pp = &(*pp)->next)
		if ((*pp)->domain == LOCK_DOMAIN_FLOCK && (*pp)->span.owner == owner)
			return pp;
	return NULL;
}

/* Applies want without a conflict check (the caller made it). */
static void lock_apply(struct lock_file *lf, enum lock_domain domain, const struct lock_span *want,
		       struct lock_rec **spare)
{
	struct lock_rec **pp;

	if (domain == LOCK_DOMAIN_POSIX) {
		lock_posix_apply(lf, want, spare);
		return;
	}
	pp = lock_flock_find(lf, want->owner);
	if (pp)
		lock_remove(lf, pp);
	if (want->type != F_UNLCK)
		lock_insert(lf, lock_spare_take(spare), LOCK_DOMAIN_FLOCK, want);
}

/* Queues w behind lf's waiters, with the records its grant will need. */
static void lock_park(struct lock_file *lf, struct lock_waiter *w, enum lock_domain domain,
		      const struct lock_span *want, struct lock_rec **spare)
{
	w->file = lf->file;
	w->domain = domain;
	w->want = *want;
	w->next = NULL;
	w->spare[0] = spare[0];
	w->spare[1] = spare[1];
	spare[0] = spare[1] = NULL;
	*lf->wait_tail = w;
	lf->wait_tail = &w->next;
}

/*
 * Grants every parked waiter of lf that no longer conflicts, in FIFO
 * order, and returns them as a list for lock_deliver (after the unlock).
 * Passes repeat until one grants nothing: a grant can itself unblock an
 * earlier waiter (a POSIX grant that turns its owner's write lock into a
 * read lock).
 */
static struct lock_waiter *lock_wake(struct lock_file *lf)
{
	struct lock_waiter *granted = NULL, **tail = &granted, **pp, *w;
	bool progress = true;

	while (progress) {
		progress = false;
		pp = &lf->wait_head;
		while ((w = *pp)) {
			if (lock_first_conflict(lf, w->domain, &w->want)) {
				pp = &w->next;
				continue;
			}
			*pp = w->next;
			if (!*pp)
				lf->wait_tail = pp;
			lock_apply(lf, w->domain, &w->want, w->spare);
			lock_spare_free(w->spare);
			w->next = NULL;
			*tail = w;
			tail = &w->next;
			progress = true;
		}
	}
	return granted;
}

/* Calls granted() of each waiter of the list; the callback may free it. */
static void lock_deliver(struct lock_waiter *w)
{
	struct lock_waiter *next;

	for (; w; w = next) {
		next = w->next;
		w->granted(w);
	}
}

/* Validates span into *want (a flock range is the whole file). */
static int lock_check(enum lock_domain domain, const struct lock_span *span, struct lock_span *want)
{
	if (span->type != F_RDLCK && span->type != F_WRLCK && span->type != F_UNLCK)
		return -EINVAL;
	if (domain != LOCK_DOMAIN_POSIX && domain != LOCK_DOMAIN_FLOCK)
		return -EINVAL;
	*want = *span;
	if (domain == LOCK_DOMAIN_FLOCK) {
		want->start = 0;
		want->end = INT64_MAX;
	} else if (span->start < 0 || span->start > span->end) {
		return -EINVAL;
	}
	return 0;
}

int lock_table_new(struct lock_table **out)
{
	struct lock_table *lt = calloc(1, sizeof(*lt));

	if (!lt)
		return -ENOMEM;
	pthread_mutex_init(&lt->mu, NULL);
	*out = lt;
	return 0;
}

void lock_table_free(struct lock_table *lt)
{
	if (!lt)
		return;
	for (size_t i = 0; i < LOCK_BUCKETS; i++) {
		struct lock_file *lf, *next;

		for (lf = lt->buckets[i]; lf; lf = next) {
			next = lf->next;
			while (lf->locks)
				lock_remove(lf, &lf->locks);
			for (struct lock_waiter *w = lf->wait_head; w; w = w->next)
				lock_spare_free(w->spare);
			free(lf);
		}
	}
	pthread_mutex_destroy(&lt->mu);
	free(lt);
}

int lock_get(struct lock_table *lt, uint64_t file, enum lock_domain domain, struct lock_span *want)
{
	struct lock_span span;
	struct lock_file *lf;
	struct lock_rec *rec = NULL;
	int err = lock_check(domain, want, &span);

	if (err)
		return err;
	if (span.type == F_UNLCK)
		return -EINVAL;
	pthread_mutex_lock(&lt->mu);
	lf = lock_find(lt, file);
	if (lf)
		rec = lock_first_conflict(lf, domain, &span);
	if (rec)
		*want = rec->span;
	else
		want->type = F_UNLCK;
	pthread_mutex_unlock(&lt->mu);
	return 0;
}

int lock_set(struct lock_table *lt, uint64_t file, enum lock_domain domain,
	     const struct lock_span *span, struct lock_waiter *w)
{
	struct lock_rec *spare[2] = { NULL, NULL };
	struct lock_file *fresh = NULL, *lf;
	struct lock_waiter *granted = NULL;
	struct lock_span want;
	int nspare, err = lock_check(domain, span, &want);
	struct lock_rec **pp;

	if (err)
		return err;
	/* A POSIX set may split one record and add one; an unlock may split
	 * one; a flock set adds one; a flock unlock only removes. */
	if (domain == LOCK_DOMAIN_POSIX)
		nspare = want.type == F_UNLCK ? 1 : 2;
	else
		nspare = want.type == F_UNLCK ? 0 : 1;
	for (int i = 0; i < nspare; i++)
		if (!(spare[i] = malloc(sizeof(*spare[i]))))
			err = -ENOMEM;
	if (want.type != F_UNLCK && !(fresh = malloc(sizeof(*fresh))))
		err = -ENOMEM;
	if (err)
		goto out_free;

	pthread_mutex_lock(&lt->mu);
	lf = lock_find(lt, file);
	if (!lf && want.type == F_UNLCK)
		goto out_unlock; /* nothing held, nobody waits */
	if (!lf) {
		lf = fresh;
		fresh = NULL;
		lock_file_link(lt, lf, file);
	}
	/* Memory is the daemon's: a file's records are bounded, as the
	 * kernel bounds nothing but its own memory. A request that conflicts
	 * goes on (EAGAIN, or it waits): it adds no record now, and its
	 * answer must not depend on how many locks others hold. */
	if (want.type != F_UNLCK && lf->nlocks + 2 > LOCK_MAX_RECORDS &&
	    !lock_first_conflict(lf, domain, &want)) {
		err = -ENOLCK;
		lock_file_maybe_free(lt, lf);
		goto out_unlock;
	}
	if (domain == LOCK_DOMAIN_FLOCK && want.type != F_UNLCK) {
		pp = lock_flock_find(lf, want.owner);
		if (pp && (*pp)->span.type == want.type)
			goto out_unlock; /* already held: Linux changes nothing */
		/* Linux drops the old lock before it tries the new one, so a
		 * conversion that fails or waits holds nothing meanwhile. */
		if (pp)
			lock_remove(lf, pp);
	}
	if (want.type != F_UNLCK && lock_first_conflict(lf, domain, &want)) {
		/* w stays parked through the wake below: nothing changed but,
		 * for flock, the owner's dropped lock, and the flock waiters
		 * that unblocks only add locks or turn their owner's read lock
		 * into a write lock (no more can a waiting owner hold). */
		if (w)
			lock_park(lf, w, domain, &want, spare);
		err = w ? 1 : -EAGAIN;
	} else {
		lock_apply(lf, domain, &want, spare);
	}
	granted = lock_wake(lf);
	lock_file_maybe_free(lt, lf);
out_unlock:
	pthread_mutex_unlock(&lt->mu);
out_free:
	lock_spare_free(spare);
	free(fresh);
	lock_deliver(granted);
	return err;
}

int lock_cancel(struct lock_table *lt, struct lock_waiter *w)
{
	struct lock_waiter **pp;
	struct lock_file *lf;
	int removed = 0;

	pthread_mutex_lock(&lt->mu);
	lf = lock_find(lt, w->file);
	if (lf) {
		for (pp = &lf->wait_head; *pp && *pp != w; pp = &(*pp)->next)
			;
		if (*pp) {
			*pp = w->next;
			if (!*pp)
				lf->wait_tail = pp;
			lock_spare_free(w->spare);
			removed = 1;
			lock_file_maybe_free(lt, lf);
		}
	}
	pthread_mutex_unlock(&lt->mu);
	return removed;
}

void lock_release_owner(struct lock_table *lt, uint64_t file, enum lock_domain domain,
			uint64_t owner)
{
	struct lock_waiter *granted = NULL;
	struct lock_file *lf;
	struct lock_rec **pp;

	pthread_mutex_lock(&lt->mu);
	lf = lock_find(lt, file);
	if (lf) {
		pp = &lf->locks;
		while (*pp) {
			if ((*pp)->domain == domain && (*pp)->span.owner == owner)
				lock_remove(lf, pp);
			else
				pp = &(*pp)->next;
		}
		granted = lock_wake(lf);
		lock_file_maybe_free(lt, lf);
	}
	pthread_mutex_unlock(&lt->mu);
	lock_deliver(granted);
}

size_t lock_count(struct lock_table *lt, uint64_t file)
{
	struct lock_file *lf;
	size_t n;

	pthread_mutex_lock(&lt->mu);
	lf = lock_find(lt, file);
	n = lf ? lf->nlocks : 0;
	pthread_mutex_unlock(&lt->mu);
	return n;
}

size_t lock_file_count(struct lock_table *lt)
{
	size_t n;

	pthread_mutex_lock(&lt->mu);
	n = lt->nfiles;
	pthread_mutex_unlock(&lt->mu);
	return n;
}
