/*
 * test_locks.c — the lock table (fs/locks.c): POSIX ranges that share,
 * conflict, split and merge; flock replacement; the two domains apart;
 * waiters granted in FIFO order from the call that unblocks them, and
 * cancelled; file entries freed; mutual exclusion under threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "fs/locks.h"

#define FILE_ID 42
#define POSIX   LOCK_DOMAIN_POSIX
#define FLOCK   LOCK_DOMAIN_FLOCK

static struct lock_span span(int type, int64_t start, int64_t end, uint64_t owner)
{
	return (struct lock_span){ .type = type,
				   .start = start,
				   .end = end,
				   .owner = owner,
				   .pid = (int32_t)(1000 + owner) };
}

static int set(struct lock_table *lt, int type, int64_t start, int64_t end, uint64_t owner)
{
	struct lock_span s = span(type, start, end, owner);

	return lock_set(lt, FILE_ID, POSIX, &s, NULL);
}

/* What owner would be told by F_GETLK for type over [start, end]. */
static struct lock_span get(struct lock_table *lt, int type, int64_t start, int64_t end,
			    uint64_t owner)
{
	struct lock_span s = span(type, start, end, owner);

	assert_int_equal(lock_get(lt, FILE_ID, POSIX, &s), 0);
	return s;
}

static void assert_span(struct lock_span s, int type, int64_t start, int64_t end, uint64_t owner)
{
	assert_int_equal(s.type, type);
	if (type == F_UNLCK)
		return;
	assert_int_equal(s.start, start);
	assert_int_equal(s.end, end);
	assert_int_equal(s.owner, owner);
	assert_int_equal(s.pid, 1000 + owner);
}

/* Grants, in the order they came; from inside the callback, what another
 * owner's F_GETLK over the waiter's range saw at that moment. */
struct grant_log {
	struct lock_table *lt;
	int n;
	struct lock_waiter *order[8];
	struct lock_span seen[8];
};

static void on_granted(struct lock_waiter *w)
{
	struct grant_log *log = w->arg;
	struct lock_span s = span(F_WRLCK, w->want.start, w->want.end, 999);

	/* No table lock is held here: calling in must not deadlock. */
	assert_int_equal(lock_get(log->lt, w->file, w->domain, &s), 0);
	log->seen[log->n] = s;
	log->order[log->n++] = w;
}

static int wait_for(struct lock_table *lt, struct lock_waiter *w, struct grant_log *log,
		    enum lock_domain domain, int type, int64_t start, int64_t end, uint64_t owner)
{
	struct lock_span s = span(type, start, end, owner);

	*w = (struct lock_waiter){ .granted = on_granted, .arg = log };
	return lock_set(lt, FILE_ID, domain, &s, w);
}

static void test_read_locks_share(void **state)
{
	struct lock_table *lt;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(set(lt, F_RDLCK, 0, 99, 1), 0);
	assert_int_equal(set(lt, F_RDLCK, 50, 149, 2), 0);
	assert_int_equal(set(lt, F_RDLCK, 0, 0, 3), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 3);
	assert_span(get(lt, F_RDLCK, 0, INT64_MAX, 4), F_UNLCK, 0, 0, 0);
	/* The conflict with the lowest start is reported, with its pid. */
	assert_span(get(lt, F_WRLCK, 60, 60, 4), F_RDLCK, 0, 99, 1);
	assert_span(get(lt, F_WRLCK, 100, 200, 4), F_RDLCK, 50, 149, 2);
	/* An owner's own locks never conflict with it. */
	assert_span(get(lt, F_WRLCK, 0, 0, 3), F_RDLCK, 0, 99, 1);
	assert_span(get(lt, F_WRLCK, 100, 100, 2), F_UNLCK, 0, 0, 0);
	lock_table_free(lt);
}

static void test_write_conflicts(void **state)
{
	struct lock_table *lt;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(set(lt, F_WRLCK, 10, 19, 1), 0);
	assert_int_equal(set(lt, F_RDLCK, 15, 15, 2), -EAGAIN);
	assert_int_equal(set(lt, F_WRLCK, 0, 10, 2), -EAGAIN);
	assert_int_equal(set(lt, F_WRLCK, 19, 30, 2), -EAGAIN);
	assert_int_equal(set(lt, F_WRLCK, 20, 29, 2), 0); /* touches, no overlap */
	assert_int_equal(set(lt, F_RDLCK, 0, 9, 2), 0);
	assert_int_equal(set(lt, F_WRLCK, 5, 5, 3), -EAGAIN); /* write against read */
	assert_span(get(lt, F_RDLCK, 0, 100, 3), F_WRLCK, 10, 19, 1);
	assert_int_equal(lock_count(lt, FILE_ID), 3);
	lock_table_free(lt);
}

static void test_split_and_merge(void **state)
{
	struct lock_table *lt;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(set(lt, F_RDLCK, 0, 99, 1), 0);
	assert_int_equal(set(lt, F_WRLCK, 10, 19, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 3);
	assert_span(get(lt, F_WRLCK, 0, INT64_MAX, 2), F_RDLCK, 0, 9, 1);
	assert_span(get(lt, F_RDLCK, 0, INT64_MAX, 2), F_WRLCK, 10, 19, 1);
	assert_span(get(lt, F_WRLCK, 20, 20, 2), F_RDLCK, 20, 99, 1);

	assert_int_equal(set(lt, F_UNLCK, 10, 19, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 2);
	assert_span(get(lt, F_WRLCK, 10, 19, 2), F_UNLCK, 0, 0, 0);
	assert_span(get(lt, F_WRLCK, 9, 19, 2), F_RDLCK, 0, 9, 1);

	/* Read over the hole: one record again. */
	assert_int_equal(set(lt, F_RDLCK, 10, 19, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 1);
	assert_span(get(lt, F_WRLCK, 50, 50, 2), F_RDLCK, 0, 99, 1);
	/* Adjacent and overlapping locks of one type merge. */
	assert_int_equal(set(lt, F_RDLCK, 100, 109, 1), 0);
	assert_int_equal(set(lt, F_RDLCK, 105, 200, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 1);
	assert_span(get(lt, F_WRLCK, 0, 0, 2), F_RDLCK, 0, 200, 1);
	/* Upgrade and downgrade of the whole. */
	assert_int_equal(set(lt, F_WRLCK, 0, 200, 1), 0);
	assert_span(get(lt, F_RDLCK, 0, 0, 2), F_WRLCK, 0, 200, 1);
	assert_int_equal(set(lt, F_RDLCK, 0, 200, 1), 0);
	assert_span(get(lt, F_WRLCK, 0, 0, 2), F_RDLCK, 0, 200, 1);
	assert_int_equal(lock_count(lt, FILE_ID), 1);
	/* A write over the gap between two reads cuts both back. */
	assert_int_equal(set(lt, F_UNLCK, 50, 59, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 2);
	assert_int_equal(set(lt, F_WRLCK, 40, 70, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 3);
	assert_span(get(lt, F_RDLCK, 0, INT64_MAX, 2), F_WRLCK, 40, 70, 1);
	assert_span(get(lt, F_WRLCK, 71, INT64_MAX, 2), F_RDLCK, 71, 200, 1);
	lock_table_free(lt);
}

static void test_conflict_changes_nothing(void **state)
{
	struct lock_table *lt;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(set(lt, F_RDLCK, 0, 99, 1), 0);
	assert_int_equal(set(lt, F_RDLCK, 50, 59, 2), 0);
	assert_int_equal(set(lt, F_WRLCK, 0, 99, 1), -EAGAIN);
	assert_int_equal(lock_count(lt, FILE_ID), 2);
	assert_span(get(lt, F_WRLCK, 0, 0, 3), F_RDLCK, 0, 99, 1);
	assert_span(get(lt, F_WRLCK, 0, INT64_MAX, 1), F_RDLCK, 50, 59, 2);
	lock_table_free(lt);
}

static void test_unlock_part(void **state)
{
	struct lock_table *lt;
	struct lock_span s = span(F_UNLCK, 0, INT64_MAX, 1);

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(set(lt, F_WRLCK, 0, 99, 1), 0);
	assert_int_equal(set(lt, F_UNLCK, 0, 9, 1), 0);
	assert_span(get(lt, F_RDLCK, 0, INT64_MAX, 2), F_WRLCK, 10, 99, 1);
	assert_int_equal(set(lt, F_UNLCK, 90, INT64_MAX, 1), 0);
	assert_span(get(lt, F_RDLCK, 0, INT64_MAX, 2), F_WRLCK, 10, 89, 1);
	assert_int_equal(set(lt, F_UNLCK, 50, 59, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 2);
	assert_span(get(lt, F_RDLCK, 20, INT64_MAX, 2), F_WRLCK, 10, 49, 1);
	assert_span(get(lt, F_RDLCK, 50, INT64_MAX, 2), F_WRLCK, 60, 89, 1);
	assert_int_equal(set(lt, F_WRLCK, 50, 59, 2), 0);
	/* Another owner's unlock removes nothing of 1's. */
	assert_int_equal(set(lt, F_UNLCK, 0, INT64_MAX, 3), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 3);
	/* An unlock where nothing is held, on a file never locked. */
	assert_int_equal(lock_set(lt, 7, POSIX, &s, NULL), 0);
	assert_int_equal(lock_file_count(lt), 1);
	lock_table_free(lt);
}

static void test_to_end_of_file(void **state)
{
	struct lock_table *lt;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(set(lt, F_WRLCK, 100, INT64_MAX, 1), 0);
	assert_int_equal(set(lt, F_WRLCK, INT64_MAX, INT64_MAX, 2), -EAGAIN);
	assert_int_equal(set(lt, F_RDLCK, 0, 99, 2), 0);
	assert_span(get(lt, F_RDLCK, 1000000, 1000000, 3), F_WRLCK, 100, INT64_MAX, 1);
	/* Merging and splitting next to INT64_MAX. */
	assert_int_equal(set(lt, F_WRLCK, INT64_MAX - 1, INT64_MAX, 1), 0);
	assert_int_equal(set(lt, F_RDLCK, INT64_MAX, INT64_MAX, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 3);
	assert_span(get(lt, F_WRLCK, INT64_MAX, INT64_MAX, 3), F_RDLCK, INT64_MAX, INT64_MAX, 1);
	assert_int_equal(set(lt, F_UNLCK, 0, INT64_MAX, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 1);
	lock_table_free(lt);
}

static void test_domains_apart(void **state)
{
	struct lock_table *lt;
	struct lock_span s = span(F_WRLCK, 0, INT64_MAX, 2);

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(set(lt, F_WRLCK, 0, INT64_MAX, 1), 0);
	assert_int_equal(lock_set(lt, FILE_ID, FLOCK, &s, NULL), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 2);
	s = span(F_WRLCK, 5, 5, 1);
	assert_int_equal(lock_get(lt, FILE_ID, FLOCK, &s), 0);
	assert_span(s, F_WRLCK, 0, INT64_MAX, 2);
	assert_span(get(lt, F_RDLCK, 0, 0, 2), F_WRLCK, 0, INT64_MAX, 1);
	/* Each domain's release leaves the other's locks. */
	lock_release_owner(lt, FILE_ID, FLOCK, 1);
	lock_release_owner(lt, FILE_ID, POSIX, 2);
	assert_int_equal(lock_count(lt, FILE_ID), 2);
	lock_release_owner(lt, FILE_ID, POSIX, 1);
	assert_int_equal(lock_count(lt, FILE_ID), 1);
	lock_table_free(lt);
}

static int flock_set(struct lock_table *lt, int type, uint64_t owner)
{
	/* The range is not flock's: it is ignored. */
	struct lock_span s = span(type, 7, 8, owner);

	return lock_set(lt, FILE_ID, FLOCK, &s, NULL);
}

static void test_flock_replace(void **state)
{
	struct lock_table *lt;
	struct lock_span s;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(flock_set(lt, F_RDLCK, 1), 0);
	assert_int_equal(flock_set(lt, F_RDLCK, 2), 0);
	assert_int_equal(flock_set(lt, F_RDLCK, 2), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 2);
	/* A conversion that fails has dropped the old lock first, as Linux. */
	assert_int_equal(flock_set(lt, F_WRLCK, 1), -EAGAIN);
	assert_int_equal(lock_count(lt, FILE_ID), 1);
	s = span(F_WRLCK, 0, 0, 3);
	assert_int_equal(lock_get(lt, FILE_ID, FLOCK, &s), 0);
	assert_span(s, F_RDLCK, 0, INT64_MAX, 2);
	/* Alone, 2 converts in place: one record, now exclusive. */
	assert_int_equal(flock_set(lt, F_WRLCK, 2), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 1);
	assert_int_equal(flock_set(lt, F_RDLCK, 1), -EAGAIN);
	assert_int_equal(flock_set(lt, F_RDLCK, 2), 0);
	assert_int_equal(flock_set(lt, F_RDLCK, 1), 0);
	assert_int_equal(flock_set(lt, F_UNLCK, 1), 0);
	assert_int_equal(flock_set(lt, F_UNLCK, 1), 0);
	assert_int_equal(flock_set(lt, F_UNLCK, 2), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 0);
	assert_int_equal(lock_file_count(lt), 0);
	lock_table_free(lt);
}

static void test_granted_on_unlock(void **state)
{
	struct lock_table *lt;
	struct grant_log log = { 0 };
	struct lock_waiter w;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	log.lt = lt;
	assert_int_equal(set(lt, F_WRLCK, 0, 9, 1), 0);
	assert_int_equal(wait_for(lt, &w, &log, POSIX, F_WRLCK, 5, 5, 2), 1);
	assert_int_equal(w.file, FILE_ID);
	assert_int_equal(w.domain, POSIX);
	assert_int_equal(w.want.start, 5);
	assert_int_equal(log.n, 0);
	assert_int_equal(set(lt, F_UNLCK, 0, 4, 1), 0); /* 1 still holds 5 */
	assert_int_equal(log.n, 0);
	assert_int_equal(set(lt, F_RDLCK, 5, 9, 1), 0); /* a downgrade: still in the way */
	assert_int_equal(log.n, 0);
	assert_int_equal(set(lt, F_UNLCK, 5, 9, 1), 0);
	assert_int_equal(log.n, 1);
	assert_ptr_equal(log.order[0], &w);
	/* Called after the lock was taken for the waiter. */
	assert_span(log.seen[0], F_WRLCK, 5, 5, 2);
	assert_span(get(lt, F_RDLCK, 0, INT64_MAX, 1), F_WRLCK, 5, 5, 2);
	assert_int_equal(lock_count(lt, FILE_ID), 1);
	assert_int_equal(set(lt, F_UNLCK, 0, INT64_MAX, 2), 0);
	assert_int_equal(log.n, 1);
	lock_table_free(lt);
}

static void test_granted_on_release_owner(void **state)
{
	struct lock_table *lt;
	struct grant_log log = { 0 };
	struct lock_waiter wp, wf;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	log.lt = lt;
	assert_int_equal(set(lt, F_RDLCK, 0, 9, 1), 0);
	assert_int_equal(set(lt, F_WRLCK, 20, 29, 1), 0);
	assert_int_equal(flock_set(lt, F_WRLCK, 1), 0);
	assert_int_equal(wait_for(lt, &wp, &log, POSIX, F_WRLCK, 0, INT64_MAX, 2), 1);
	assert_int_equal(wait_for(lt, &wf, &log, FLOCK, F_RDLCK, 0, 0, 2), 1);

	lock_release_owner(lt, FILE_ID, POSIX, 1);
	assert_int_equal(log.n, 1);
	assert_ptr_equal(log.order[0], &wp);
	assert_span(log.seen[0], F_WRLCK, 0, INT64_MAX, 2);
	lock_release_owner(lt, FILE_ID, FLOCK, 1);
	assert_int_equal(log.n, 2);
	assert_ptr_equal(log.order[1], &wf);
	assert_span(log.seen[1], F_RDLCK, 0, INT64_MAX, 2);
	assert_int_equal(lock_count(lt, FILE_ID), 2);
	lock_table_free(lt);
}

static void test_fifo(void **state)
{
	struct lock_table *lt;
	struct grant_log log = { 0 };
	struct lock_waiter w2, w3, w4;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	log.lt = lt;
	assert_int_equal(set(lt, F_WRLCK, 0, 0, 1), 0);
	assert_int_equal(wait_for(lt, &w2, &log, POSIX, F_WRLCK, 0, 0, 2), 1);
	assert_int_equal(wait_for(lt, &w3, &log, POSIX, F_WRLCK, 0, 0, 3), 1);
	/* A reader free to go when 1 unlocks, but 2 came first and takes a
	 * write lock in its way. */
	assert_int_equal(wait_for(lt, &w4, &log, POSIX, F_RDLCK, 0, 0, 4), 1);
	assert_int_equal(set(lt, F_UNLCK, 0, 0, 1), 0);
	assert_int_equal(log.n, 1);
	assert_ptr_equal(log.order[0], &w2);
	assert_int_equal(set(lt, F_UNLCK, 0, 0, 2), 0);
	assert_int_equal(log.n, 2);
	assert_ptr_equal(log.order[1], &w3);
	lock_release_owner(lt, FILE_ID, POSIX, 3);
	assert_int_equal(log.n, 3);
	assert_ptr_equal(log.order[2], &w4);
	lock_table_free(lt);
}

/* A grant that downgrades its owner's lock frees an earlier waiter's way:
 * that one is granted in the same call. */
static void test_grant_unblocks_earlier(void **state)
{
	struct lock_table *lt;
	struct grant_log log = { 0 };
	struct lock_waiter w3, w1;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	log.lt = lt;
	assert_int_equal(set(lt, F_WRLCK, 0, 9, 1), 0);
	assert_int_equal(set(lt, F_WRLCK, 10, 19, 2), 0);
	assert_int_equal(wait_for(lt, &w3, &log, POSIX, F_RDLCK, 0, 5, 3), 1);
	assert_int_equal(wait_for(lt, &w1, &log, POSIX, F_RDLCK, 0, 19, 1), 1);
	assert_int_equal(set(lt, F_UNLCK, 0, INT64_MAX, 2), 0);
	assert_int_equal(log.n, 2);
	assert_ptr_equal(log.order[0], &w1);
	assert_ptr_equal(log.order[1], &w3);
	assert_int_equal(lock_count(lt, FILE_ID), 2);
	lock_table_free(lt);
}

static void test_cancel(void **state)
{
	struct lock_table *lt;
	struct grant_log log = { 0 };
	struct lock_waiter w, never = { 0 };

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	log.lt = lt;
	assert_int_equal(lock_cancel(lt, &never), 0);
	assert_int_equal(set(lt, F_WRLCK, 0, 0, 1), 0);
	assert_int_equal(wait_for(lt, &w, &log, POSIX, F_WRLCK, 0, 0, 2), 1);
	assert_int_equal(lock_cancel(lt, &w), 1);
	assert_int_equal(lock_cancel(lt, &w), 0);
	assert_int_equal(set(lt, F_UNLCK, 0, 0, 1), 0);
	assert_int_equal(log.n, 0);
	assert_int_equal(lock_file_count(lt), 0);

	assert_int_equal(set(lt, F_WRLCK, 0, 0, 1), 0);
	assert_int_equal(wait_for(lt, &w, &log, POSIX, F_WRLCK, 0, 0, 2), 1);
	assert_int_equal(set(lt, F_UNLCK, 0, 0, 1), 0);
	assert_int_equal(log.n, 1);
	assert_int_equal(lock_cancel(lt, &w), 0);
	assert_int_equal(lock_count(lt, FILE_ID), 1);
	lock_table_free(lt);
}

/* A file's records are bounded: past LOCK_MAX_RECORDS a new lock is
 * -ENOLCK and changes nothing (one that conflicts is -EAGAIN as ever);
 * removals and replacements still work. */
static void test_records_bounded(void **state)
{
	struct lock_table *lt;
	int64_t i, n = 0;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	/* One owner's read locks on every other byte never merge. */
	for (i = 0; set(lt, F_RDLCK, 2 * i, 2 * i, 1) == 0; i++)
		n++;
	assert_int_equal(set(lt, F_RDLCK, 2 * i, 2 * i, 1), -ENOLCK);
	assert_true(n >= LOCK_MAX_RECORDS - 2 && n <= LOCK_MAX_RECORDS);
	assert_int_equal(lock_count(lt, FILE_ID), (size_t)n);
	/* Another owner, another domain: the same bound (the file's). */
	assert_int_equal(set(lt, F_RDLCK, 1, 1, 2), -ENOLCK);
	assert_int_equal(flock_set(lt, F_RDLCK, 3), -ENOLCK);
	/* A request that conflicts is told so (EAGAIN), full or not. */
	assert_int_equal(set(lt, F_WRLCK, 0, 0, 2), -EAGAIN);
	assert_int_equal(flock_set(lt, F_WRLCK, 3), -ENOLCK); /* flock: no conflict */
	assert_int_equal(lock_count(lt, FILE_ID), (size_t)n);
	/* Removing is always allowed, and frees room. */
	assert_int_equal(set(lt, F_UNLCK, 0, 9, 1), 0);
	assert_int_equal(lock_count(lt, FILE_ID), (size_t)n - 5);
	assert_int_equal(set(lt, F_RDLCK, 1, 1, 2), 0);
	lock_release_owner(lt, FILE_ID, LOCK_DOMAIN_POSIX, 1);
	lock_release_owner(lt, FILE_ID, LOCK_DOMAIN_POSIX, 2);
	assert_int_equal(lock_count(lt, FILE_ID), 0);
	assert_int_equal(lock_file_count(lt), 0);
	lock_table_free(lt);
}

static void test_einval(void **state)
{
	struct lock_table *lt;
	struct lock_waiter w = { 0 };
	struct lock_span s;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(set(lt, F_WRLCK, -1, 5, 1), -EINVAL);
	assert_int_equal(set(lt, F_WRLCK, 6, 5, 1), -EINVAL);
	assert_int_equal(set(lt, F_UNLCK, 6, 5, 1), -EINVAL);
	assert_int_equal(set(lt, 99, 0, 5, 1), -EINVAL);
	s = span(F_RDLCK, 6, 5, 1);
	assert_int_equal(lock_set(lt, FILE_ID, POSIX, &s, &w), -EINVAL);
	assert_int_equal(lock_get(lt, FILE_ID, POSIX, &s), -EINVAL);
	s = span(F_UNLCK, 0, 5, 1);
	assert_int_equal(lock_get(lt, FILE_ID, POSIX, &s), -EINVAL);
	s = span(99, 0, 0, 1);
	assert_int_equal(lock_set(lt, FILE_ID, FLOCK, &s, NULL), -EINVAL);
	assert_int_equal(lock_file_count(lt), 0);
	lock_table_free(lt);
}

static void test_entries_freed(void **state)
{
	struct lock_table *lt;
	struct grant_log log = { 0 };
	struct lock_waiter w;
	struct lock_span s = span(F_WRLCK, 0, 0, 1);
	struct lock_span unlock = span(F_UNLCK, 0, 0, 1);

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	log.lt = lt;
	for (uint64_t f = 1; f <= 200; f++)
		assert_int_equal(lock_set(lt, f, POSIX, &s, NULL), 0);
	assert_int_equal(lock_file_count(lt), 200);
	for (uint64_t f = 1; f <= 200; f += 2)
		lock_release_owner(lt, f, POSIX, 1);
	assert_int_equal(lock_file_count(lt), 100);
	assert_int_equal(lock_count(lt, 1), 0);
	assert_int_equal(lock_count(lt, 2), 1);
	for (uint64_t f = 2; f <= 200; f += 2)
		assert_int_equal(lock_set(lt, f, POSIX, &unlock, NULL), 0);
	assert_int_equal(lock_file_count(lt), 0);

	/* The entry stays while a granted waiter holds its lock. */
	assert_int_equal(set(lt, F_WRLCK, 0, 0, 1), 0);
	assert_int_equal(wait_for(lt, &w, &log, POSIX, F_WRLCK, 0, 0, 2), 1);
	lock_release_owner(lt, FILE_ID, POSIX, 1);
	assert_int_equal(lock_file_count(lt), 1);
	lock_release_owner(lt, FILE_ID, POSIX, 2);
	assert_int_equal(lock_file_count(lt), 0);
	/* A cancelled waiter leaves nothing behind. */
	assert_int_equal(flock_set(lt, F_WRLCK, 1), 0);
	assert_int_equal(wait_for(lt, &w, &log, FLOCK, F_WRLCK, 0, 0, 2), 1);
	assert_int_equal(flock_set(lt, F_RDLCK, 1), 0);
	assert_int_equal(lock_file_count(lt), 1);
	assert_int_equal(lock_cancel(lt, &w), 1);
	assert_int_equal(flock_set(lt, F_UNLCK, 1), 0);
	assert_int_equal(lock_file_count(lt), 0);
	lock_table_free(lt);
}

static void free_granted(struct lock_waiter *w)
{
	int *calls = w->arg;

	(*calls)++;
	free(w);
}

static void test_callback_frees_waiter(void **state)
{
	struct lock_table *lt;
	struct lock_span s = span(F_RDLCK, 0, 9, 2);
	struct lock_waiter parked;
	struct grant_log log = { 0 };
	int calls = 0;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	assert_int_equal(set(lt, F_WRLCK, 0, 99, 1), 0);
	for (int i = 0; i < 3; i++) {
		struct lock_waiter *w = calloc(1, sizeof(*w));

		assert_non_null(w);
		w->granted = free_granted;
		w->arg = &calls;
		s.owner = 2 + (uint64_t)i;
		assert_int_equal(lock_set(lt, FILE_ID, POSIX, &s, w), 1);
	}
	assert_int_equal(set(lt, F_UNLCK, 0, 99, 1), 0);
	assert_int_equal(calls, 3);
	assert_int_equal(lock_count(lt, FILE_ID), 3);
	/* Freed with waiters still parked: dropped, never called. */
	assert_int_equal(set(lt, F_WRLCK, 50, 59, 9), 0);
	log.lt = lt;
	assert_int_equal(wait_for(lt, &parked, &log, POSIX, F_WRLCK, 0, INT64_MAX, 10), 1);
	lock_table_free(lt);
	assert_int_equal(log.n, 0);
}

/* Threads take write and read locks over one range, waiting when they
 * must; a counter checks that a writer is always alone. */
enum { WORKERS = 6, ROUNDS = 3000 };

struct worker {
	struct lock_table *lt;
	uint64_t owner;
	sem_t granted;
	struct lock_waiter w;
	int *writers, *readers;
	int bad;
	int waits;
};

static void worker_granted(struct lock_waiter *w)
{
	struct worker *wk = w->arg;

	sem_post(&wk->granted);
}

static void *worker_run(void *p)
{
	struct worker *wk = p;

	for (int i = 0; i < ROUNDS; i++) {
		int type = i % 3 == 0 ? F_RDLCK : F_WRLCK;
		/* Overlapping ranges, not all the same, so grants split hairs. */
		struct lock_span s = span(type, (int64_t)(wk->owner % 3), INT64_MAX, wk->owner);
		int r;

		wk->w = (struct lock_waiter){ .granted = worker_granted, .arg = wk };
		r = lock_set(wk->lt, FILE_ID, POSIX, &s, &wk->w);
		if (r == 1) {
			wk->waits++;
			while (sem_wait(&wk->granted) != 0)
				;
		} else if (r != 0) {
			wk->bad++;
		}
		if (type == F_WRLCK) {
			if (__atomic_add_fetch(wk->writers, 1, __ATOMIC_SEQ_CST) != 1 ||
			    __atomic_load_n(wk->readers, __ATOMIC_SEQ_CST) != 0)
				wk->bad++;
		} else {
			__atomic_add_fetch(wk->readers, 1, __ATOMIC_SEQ_CST);
			if (__atomic_load_n(wk->writers, __ATOMIC_SEQ_CST) != 0)
				wk->bad++;
		}
		if (i % 7 == 0)
			sched_yield();
		if (type == F_WRLCK)
			__atomic_sub_fetch(wk->writers, 1, __ATOMIC_SEQ_CST);
		else
			__atomic_sub_fetch(wk->readers, 1, __ATOMIC_SEQ_CST);
		s.type = F_UNLCK;
		if (lock_set(wk->lt, FILE_ID, POSIX, &s, NULL) != 0)
			wk->bad++;
	}
	return NULL;
}

static void test_threads_exclusive(void **state)
{
	struct lock_table *lt;
	struct worker wk[WORKERS];
	pthread_t th[WORKERS];
	int writers = 0, readers = 0, waits = 0;

	(void)state;
	assert_int_equal(lock_table_new(&lt), 0);
	for (int t = 0; t < WORKERS; t++) {
		wk[t] = (struct worker){
			.lt = lt, .owner = (uint64_t)t + 1, .writers = &writers, .readers = &readers
		};
		assert_int_equal(sem_init(&wk[t].granted, 0, 0), 0);
	}
	for (int t = 0; t < WORKERS; t++)
		assert_int_equal(pthread_create(&th[t], NULL, worker_run, &wk[t]), 0);
	for (int t = 0; t < WORKERS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(wk[t].bad, 0);
		waits += wk[t].waits;
		sem_destroy(&wk[t].granted);
	}
	assert_true(waits > 0); /* the waiters were exercised */
	assert_int_equal(lock_count(lt, FILE_ID), 0);
	assert_int_equal(lock_file_count(lt), 0);
	lock_table_free(lt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_locks_share),
		cmocka_unit_test(test_write_conflicts),
		cmocka_unit_test(test_split_and_merge),
		cmocka_unit_test(test_conflict_changes_nothing),
		cmocka_unit_test(test_unlock_part),
		cmocka_unit_test(test_to_end_of_file),
		cmocka_unit_test(test_domains_apart),
		cmocka_unit_test(test_flock_replace),
		cmocka_unit_test(test_granted_on_unlock),
		cmocka_unit_test(test_granted_on_release_owner),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_grant_unblocks_earlier),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_einval),
		cmocka_unit_test(test_records_bounded),
		cmocka_unit_test(test_entries_freed),
		cmocka_unit_test(test_callback_frees_waiter),
		cmocka_unit_test(test_threads_exclusive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
