/*
 * fdroom.c — descriptors open and the reserve kept free (fdroom.h).
 */
#include "util/fdroom.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/resource.h>

#include "util/clock.h"

int64_t fd_count_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int64_t n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	/* Less the directory's own descriptor. */
	return n > 0 ? n - 1 : 0;
}

int64_t fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)INT64_MAX
		       ? INT64_MAX
		       : (int64_t)rl.rlim_cur;
}

int64_t fd_room_reserve(int64_t limit)
{
	int64_t r = limit / 8;

	return r < 16 ? 16 : r > 1024 ? 1024 : r;
}

void fd_room_init(struct fd_room *r)
{
	pthread_mutex_init(&r->mu, NULL);
	r->counted = 0;
	r->cached = 0;
	r->granted = 0;
	r->inflight = 0;
	r->counted_ms = 0;
}

void fd_room_destroy(struct fd_room *r)
{
	pthread_mutex_destroy(&r->mu);
}

void fd_room_done(struct fd_room *r, int64_t need)
{
	if (need <= 0)
		return;
	pthread_mutex_lock(&r->mu);
	r->inflight -= need;
	if (r->inflight < 0)
		r->inflight = 0;
	r->granted += need; /* open now, or failed: the next count tells */
	pthread_mutex_unlock(&r->mu);
}

void fd_room_closed(struct fd_room *r)
{
	pthread_mutex_lock(&r->mu);
	r->counted_ms = 0;
	pthread_mutex_unlock(&r->mu);
}

/* (mu held) */
static int recount(struct fd_room *r, int64_t now, int64_t cached)
{
	int64_t n = fd_count_open();

	if (n < 0)
		return (int)n;
	r->counted = n;
	r->cached = cached;
	r->granted = 0;
	r->counted_ms = now;
	return 0;
}

int fd_room_take(struct fd_room *r, int64_t need, int64_t cached, int64_t reclaimable,
		 int64_t *open, int64_t *limit, int64_t *reclaim)
{
	int64_t lim = fd_limit(), now = now_mono_ms(), reserve, in_use, other;
	bool fresh = false, refused = false;
	int rc = 0;

	if (reclaim)
		*reclaim = 0;
	if (need < 0)
		need = 0;
	if (cached < 0)
		cached = 0;
	if (reclaimable < 0)
		reclaimable = 0;
	if (reclaimable > cached)
		reclaimable = cached;
	pthread_mutex_lock(&r->mu);
	if (lim < 0 || lim == INT64_MAX) {
		rc = lim < 0 ? (int)lim : 0;
		goto out;
	}
	reserve = fd_room_reserve(lim);
	if (!r->counted_ms || now - r->counted_ms >= FD_ROOM_RECOUNT_MS) {
		rc = recount(r, now, cached);
		fresh = rc == 0;
	}
	while (rc == 0) {
		/* Outside the cache as counted, the cache as it is now. */
		other = r->counted > r->cached ? r->counted - r->cached : 0;
		in_use = other + cached - reclaimable + r->granted + r->inflight;
		/* Within twice the reserve of the limit the estimate is not
		 * enough (others open descriptors too): counted again, once
		 * per take, unless nothing was granted since a count of this
		 * period (a burst of refusals counts only that often). */
		if (in_use + need > lim - 2 * reserve && !fresh &&
		    !(r->granted == 0 && now - r->counted_ms < FD_ROOM_RECOUNT_MS)) {
			rc = recount(r, now, cached);
			fresh = rc == 0;
			continue;
		}
		if (in_use + need > lim - reserve) {
			*open = other + cached + r->inflight;
			*limit = lim;
			refused = true;
		} else if (reclaim && in_use + reclaimable + need > lim - reserve) {
			/* Granted on the idle files: so many of them go first. */
			*reclaim = in_use + reclaimable + need - (lim - reserve);
		}
		break;
	}
	if (refused) {
		rc = -EMFILE;
	} else if (rc == -EMFILE || rc == -ENFILE) {
		/* No descriptor left to count with: the process (or the
		 * system) is at its limit, far within the reserve. Refused,
		 * and the caller's line says so instead of "0 of the limit of
		 * 0"; the process's own limit means all of it is open. */
		other = r->counted > r->cached ? r->counted - r->cached : 0;
		*open = rc == -EMFILE ? lim : other + cached + r->granted + r->inflight;
		*limit = lim;
		rc = -EMFILE;
	}
out:
	/* Held until fd_room_done, also when the count failed (the step
	 * goes ahead then). */
	if (rc != -EMFILE)
		r->inflight += need;
	pthread_mutex_unlock(&r->mu);
	return rc;
}
