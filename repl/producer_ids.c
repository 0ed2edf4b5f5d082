/*
 * producer_ids.c — the producer id blocks of producer_ids.h: read the
 * latest block and its znode version, write the next one at that version
 * (or create the znode when there is none); a concurrent writer makes the
 * write fail (-ESTALE, -EEXIST) and the broker reads again.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/producer_ids.h"
#include "util/diaglog.h"

#define TAKE_ATTEMPTS 16

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

int producer_id_block_take(struct zkc *zk, int32_t broker_id, int64_t *first, int64_t *last)
{
	for (int attempt = 0; attempt < TAKE_ATTEMPTS; attempt++) {
		struct zkc_stat st;
		char *data = NULL, doc[160];
		size_t len = 0;
		int64_t end = -1;
		int n, rc = zkc_get(zk, PRODUCER_ID_BLOCK_PATH, &data, &len, &st, NULL, NULL);

		if (rc < 0 && rc != -ENOENT)
			return rc;
		if (rc == 0 && len > 0 && block_end_of(data, len, &end) < 0) {
			mq_log(MQ_ERR, "%s: not a producer id block: '%.*s'; no producer ids",
			       PRODUCER_ID_BLOCK_PATH, (int)(len > 120 ? 120 : len), data);
			free(data);
			return -EBADMSG;
		}
		free(data);
		if (end > INT64_MAX - PRODUCER_ID_BLOCK - 1)
			return -EOVERFLOW;
		*first = end + 1;
		*last = end + PRODUCER_ID_BLOCK;
		n = snprintf(doc, sizeof(doc),
			     "{\"version\":1,\"broker\":%d,\"block_start\":\"%" PRId64
			     "\",\"block_end\":\"%" PRId64 "\"}",
			     (int)broker_id, *first, *last);
		if (rc == -ENOENT)
			rc = zkc_create(zk, PRODUCER_ID_BLOCK_PATH, doc, (size_t)n, ZKC_PERSISTENT,
					NULL, 0);
		else
			rc = zkc_set(zk, PRODUCER_ID_BLOCK_PATH, doc, (size_t)n, st.version, NULL);
		if (rc == 0)
			return 0;
		if (rc != -ESTALE && rc != -EEXIST)
			return rc;
	}
	return -EAGAIN;
}
