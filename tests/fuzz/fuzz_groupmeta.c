/*
 * fuzz_groupmeta.c — libFuzzer target: Kafka's GroupMetadata record of
 * __consumer_offsets (repl/group_meta.c), as a new coordinator reads it
 * from whatever the partition holds. The input is one value, and also
 * taken as a key and as a line of the topic's line view.
 *
 * Properties checked (abort() on a violation):
 *   - a value that decodes, written again (version 3) and decoded, gives
 *     the same fields (its members' ids, timeouts, subscriptions and
 *     assignments to the byte), and the bytes written decode to the same
 *     bytes written again (the encoding is a fixed point);
 *   - every string and byte field a decoded value points at lies inside
 *     the input (read whole, for ASan);
 *   - the input as a record's key and value, made an escaped line
 *     (group_meta_line), parses back (group_meta_line_parse) to exactly
 *     those bytes, and the input parsed as a line never reads outside it.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address, and by `make
 * test` with the corpus replay driver (replay.c).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "repl/group_meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static bool same(struct kstr a, struct kstr b)
{
	return a.len == b.len && (a.len <= 0 || !memcmp(a.ptr, b.ptr, (size_t)a.len));
}

static void touch(struct kstr s, const uint8_t *data, size_t size)
{
	if (s.len <= 0)
		return;
	if ((const uint8_t *)s.ptr < data || (const uint8_t *)s.ptr + s.len > data + size)
		abort();
	for (int32_t i = 0; i < s.len; i++)
		sink ^= (uint8_t)s.ptr[i];
}

static void check_value(const uint8_t *data, size_t size)
{
	struct group_meta a, b;
	struct kbuf_w w1, w2;

	if (group_meta_value_decode(data, size, &a) < 0)
		return;
	touch(a.protocol_type, data, size);
	touch(a.protocol, data, size);
	touch(a.leader, data, size);
	for (int32_t i = 0; i < a.n_members; i++) {
		touch(a.members[i].member_id, data, size);
		touch(a.members[i].instance_id, data, size);
		touch(a.members[i].client_id, data, size);
		touch(a.members[i].client_host, data, size);
		touch(a.members[i].subscription, data, size);
		touch(a.members[i].assignment, data, size);
	}
	kbuf_w_init(&w1, 2 * size + 64);
	group_meta_value_encode(&w1, &a);
	if (kbuf_w_err(&w1) || group_meta_value_decode(w1.buf, w1.len, &b) < 0)
		abort();
	if (!same(a.protocol_type, b.protocol_type) || a.generation != b.generation ||
	    !same(a.protocol, b.protocol) || !same(a.leader, b.leader) ||
	    a.current_state_timestamp != b.current_state_timestamp || a.n_members != b.n_members)
		abort();
	for (int32_t i = 0; i < a.n_members; i++) {
		const struct group_meta_member *x = &a.members[i], *y = &b.members[i];

		if (!same(x->member_id, y->member_id) || !same(x->instance_id, y->instance_id) ||
		    !same(x->client_id, y->client_id) || !same(x->client_host, y->client_host) ||
		    x->rebalance_timeout != y->rebalance_timeout ||
		    x->session_timeout != y->session_timeout ||
		    !same(x->subscription, y->subscription) || !same(x->assignment, y->assignment))
			abort();
	}
	kbuf_w_init(&w2, 2 * size + 64);
	group_meta_value_encode(&w2, &b);
	if (kbuf_w_err(&w2) || w2.len != w1.len || memcmp(w1.buf, w2.buf, w1.len))
		abort();
	group_meta_free(&a);
	group_meta_free(&b);
	kbuf_w_free(&w1);
	kbuf_w_free(&w2);
}

static void check_line(const uint8_t *data, size_t size)
{
	struct line_scratch scratch = { 0 };
	size_t half = size / 2, len;
	char *line = group_meta_line(data, half, data + half, size - half, &len);
	struct rec_in r;
	char name[256];

	if (!line)
		abort();
	if (group_meta_line_parse(line, len - 1, &scratch, &r) < 0 || r.key_len != (int32_t)half ||
	    memcmp(r.key, data, half) ||
	    (size - half ? r.value_len != (int32_t)(size - half) ||
				   memcmp(r.value, data + half, size - half)
			 : r.value_len != -1))
		abort();
	free(line);
	/* The input as a line (its own first byte the mark or not). */
	line = malloc(size + 1);
	if (!line)
		abort();
	memcpy(line, data, size);
	line[0] = '\\';
	if (size && group_meta_line_parse(line, size, &scratch, &r) == 0 && r.key_len >= 0)
		(void)group_meta_key_decode((const uint8_t *)r.key, (size_t)r.key_len, name,
					    sizeof(name));
	free(line);
	line_scratch_free(&scratch);
	(void)group_meta_key_decode(data, size, name, sizeof(name));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_value(data, size);
	check_line(data, size);
	return 0;
}
