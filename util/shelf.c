/*
 * shelf.c — big buffers kept between their users (shelf.h).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/shelf.h"

static pthread_mutex_t shelf_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	void *buf;
	size_t cap;
} shelf[SHELF_SLOTS];
static size_t shelf_used; /* bytes shelved */

void *shelf_take(size_t want, size_t *cap)
{
	void *buf = NULL;
	int best = -1;

	if (want < SHELF_MIN)
		return NULL;
	pthread_mutex_lock(&shelf_mu);
	for (int i = 0; i < SHELF_SLOTS; i++)
		if (shelf[i].buf && shelf[i].cap >= want && shelf[i].cap / 2 <= want &&
		    (best < 0 || shelf[i].cap < shelf[best].cap))
			best = i;
	if (best >= 0) {
		buf = shelf[best].buf;
		*cap = shelf[best].cap;
		shelf[best].buf = NULL;
		shelf_used -= *cap;
	}
	pthread_mutex_unlock(&shelf_mu);
	return buf;
}

void *shelf_grow(void *buf, size_t *cap, size_t want)
{
	size_t got;
	void *n = shelf_take(want, &got);

	if (n) {
		if (buf) {
			memcpy(n, buf, *cap);
			shelf_give(buf, *cap);
		}
	} else {
		n = realloc(buf, want);
		got = want;
	}
	if (n)
		*cap = got;
	return n;
}

void shelf_give(void *buf, size_t cap)
{
	if (!buf)
		return;
	if (cap >= SHELF_MIN) {
		pthread_mutex_lock(&shelf_mu);
		for (int i = 0; i < SHELF_SLOTS && shelf_used + cap <= SHELF_BYTES; i++)
			if (!shelf[i].buf) {
				shelf[i].buf = buf;
				shelf[i].cap = cap;
				shelf_used += cap;
				buf = NULL;
				break;
			}
		pthread_mutex_unlock(&shelf_mu);
	}
	free(buf);
}

void shelf_clear(void)
{
	pthread_mutex_lock(&shelf_mu);
	for (int i = 0; i < SHELF_SLOTS; i++) {
		free(shelf[i].buf);
		shelf[i].buf = NULL;
	}
	shelf_used = 0;
	pthread_mutex_unlock(&shelf_mu);
}

size_t shelf_bytes(void)
{
	pthread_mutex_lock(&shelf_mu);
	size_t n = shelf_used;
	pthread_mutex_unlock(&shelf_mu);
	return n;
}
