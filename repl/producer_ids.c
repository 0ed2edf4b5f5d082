/*
 * producer_ids.c — the producer id blocks of producer_ids.h: read the
 * latest block and its znode version, write the next one at that version
 * (or create the znode when there is none); a concurrent writer makes the
 * write fail (-ESTALE, -EEXIST) and the broker reads again, after a pause
 * that grows with its losses (a few hundred microseconds at most), so that
 * a broker whose round trips are slower is not starved by a faster one.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "repl/producer_ids.h"
#include "util/diaglog.h"
#include "util/pause.h"

/* Every lost conditional write means another broker took a block, so
 * the brokers as a whole always progress; one broker can lose as many
 * times in a row as others take blocks meanwhile (Kafka retries without
 * bound). The bound only stops a broker whose writes never land. */
#define TAKE_ATTEMPTS 1000

/* A bound written as a string (Kafka) or a number: 0, or -EBADMSG. */
static int bound_get(json_t *doc, const char *key, int64_t *v)
{
	json_t *x = json_object_get(doc, key);
	char *end;

	if (json_is_integer(x)) {
		*v = (int64_t)json_integer_value(x);
		return *v >= 0 ? 0 : -EBADMSG;
	}
	if (!json_is_string(x))
		return -EBADMSG;
	errno = 0;
	long long n = strtoll(json_string_value(x), &end, 10);
	if (errno || end == json_string_value(x) || *end || n < 0)
		return -EBADMSG;
	*v = n;
	return 0;
}

/* The last id of the block in data, or -EBADMSG. */
static int block_end_of(const char *data, size_t len, int64_t *end)
{
	json_error_t err;
	json_t *doc = json_loadb(data, len, 0, &err);
	int64_t start;
	int rc;

	if (!json_is_object(doc)) {
		json_decref(doc);
		return -EBADMSG;
	}
	rc = bound_get(doc, "block_start", &start);
	if (rc == 0)
		rc = bound_get(doc, "block_end", end);
	if (rc == 0 && *end < start)
		rc = -EBADMSG;
	json_decref(doc);
	return rc;
}

/* The block after the one ending at end, as Kafka's document in doc. */
static int block_next(int64_t end, int32_t broker_id, int64_t *first, int64_t *last, char *doc,
		      size_t cap)
{
	if (end > INT64_MAX - PRODUCER_ID_BLOCK - 1)
		return -EOVERFLOW;
	*first = end + 1;
	*last = end + PRODUCER_ID_BLOCK;
	return snprintf(doc, cap,
			"{\"version\":1,\"broker\":%d,\"block_start\":\"%" PRId64
			"\",\"block_end\":\"%" PRId64 "\"}",
			(int)broker_id, *first, *last);
}

/* The next block's document from what was read at where (rc: the read's
 * result, -ENOENT: nothing yet); frees data. Its length, or -errno. */
static int block_read(const char *where, int rc, char *data, size_t len, int32_t broker_id,
		      int64_t *first, int64_t *last, char *doc, size_t cap)
{
	int64_t end = -1;

	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (rc == 0 && len > 0 && block_end_of(data, len, &end) < 0) {
		mq_log(MQ_ERR, "%s: not a producer id block: '%.*s'; no producer ids", where,
		       (int)(len > 120 ? 120 : len), data);
		free(data);
		return -EBADMSG;
	}
	free(data);
	return block_next(end, broker_id, first, last, doc, cap);
}

int producer_id_block_take(struct zkc *zk, int32_t broker_id, int64_t *first, int64_t *last)
{
	for (int attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
		struct zkc_stat st;
		char *data = NULL, doc[160];
		size_t len = 0;
		int n, rc = zkc_get(zk, PRODUCER_ID_BLOCK_PATH, &data, &len, &st, NULL, NULL);

		n = block_read(PRODUCER_ID_BLOCK_PATH, rc, data, len, broker_id, first, last, doc,
			       sizeof(doc));
		if (n < 0)
			return n;
		if (rc == -ENOENT)
			rc = zkc_create(zk, PRODUCER_ID_BLOCK_PATH, doc, (size_t)n, ZKC_PERSISTENT,
					NULL, 0);
		else
			rc = zkc_set(zk, PRODUCER_ID_BLOCK_PATH, doc, (size_t)n, st.version, NULL);
		if (rc == 0)
			return 0;
		if (rc != -ESTALE && rc != -EEXIST)
			return rc;
		pause_ns(backoff_ns(attempt, 50000, 8));
	}
	return -EAGAIN;
}

int producer_id_block_take_file(const char *path, int32_t broker_id, int64_t *first, int64_t *last)
{
	char *data = NULL, doc[160];
	size_t len = 0;
	int n, rc = io_read_file(&io_posix, path, &data, &len);

	n = block_read(path, rc, data, len, broker_id, first, last, doc, sizeof(doc));
	if (n < 0)
		return n;
	return io_write_file_atomic(&io_posix, path, doc, (size_t)n);
}

struct producer_ids {
	pthread_mutex_t mu;
	producer_block_fn *take;
	void *arg;
	int64_t next, last; /* next > last: none left */
};

int producer_ids_new(producer_block_fn *take, void *arg, struct producer_ids **out)
{
	struct producer_ids *pi = calloc(1, sizeof(*pi));

	if (!pi)
		return -ENOMEM;
	pthread_mutex_init(&pi->mu, NULL);
	pi->take = take;
	pi->arg = arg;
	pi->next = 0;
	pi->last = -1;
	*out = pi;
	return 0;
}

void producer_ids_free(struct producer_ids *pi)
{
	if (!pi)
		return;
	pthread_mutex_destroy(&pi->mu);
	free(pi);
}

int producer_ids_prefetch(struct producer_ids *pi)
{
	int rc = 0;

	pthread_mutex_lock(&pi->mu);
	if (pi->next > pi->last)
		rc = pi->take(pi->arg, &pi->next, &pi->last);
	if (rc < 0) {
		pi->next = 0;
		pi->last = -1;
	}
	pthread_mutex_unlock(&pi->mu);
	if (rc < 0)
		mq_log(MQ_ERR,
		       "producer ids: no block taken at the start: %s (taken at the first "
		       "forwarded write instead)",
		       strerror(-rc));
	return rc;
}

int producer_ids_next(struct producer_ids *pi, int64_t *id)
{
	int rc = 0;

	pthread_mutex_lock(&pi->mu);
	if (pi->next > pi->last)
		rc = pi->take(pi->arg, &pi->next, &pi->last);
	if (rc == 0) {
		*id = pi->next++;
	} else {
		pi->next = 0;
		pi->last = -1;
	}
	pthread_mutex_unlock(&pi->mu);
	if (rc < 0)
		mq_log_limited(MQ_ERR, "producer ids: no new block: %s", strerror(-rc));
	return rc;
}
