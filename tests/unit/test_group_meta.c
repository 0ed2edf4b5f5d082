/*
 * test_group_meta.c — Kafka's GroupMetadata record of __consumer_offsets
 * (repl/group_meta.c): the key and the version 3 value written byte for
 * byte as Kafka lays them out (a Kafka tool reading the topic decodes
 * them); values of versions 0, 1 and 2 as older Kafka brokers wrote them
 * read back with their defaults; every truncation, a trailing byte, an
 * unknown version, a negative count refused (-EBADMSG); an offset
 * commit's key told apart (-ENOENT); and the escaped line of the topic's
 * line view taken back by the engine's unescaper as exactly the record's
 * bytes (backslash, newline, tab, NUL, 0x7f, 0xff).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "repl/group_meta.h"

static const uint8_t key_g1[] = { 0, 2, 0, 2, 'g', '1' };

/* One member, version 3, every field distinct. */
static const uint8_t value_v3[] = {
	0,    3,                                              /* version */
	0,    8,    'c',  'o',  'n', 's', 'u', 'm', 'e', 'r', /* protocol_type */
	0,    0,    0,    5,                                  /* generation */
	0,    5,    'r',  'a',  'n', 'g', 'e',                /* protocol */
	0,    2,    'm',  '1',                                /* leader */
	1,    2,    3,    4,    5,   6,   7,   8,             /* current_state_timestamp */
	0,    0,    0,    1,                                  /* members */
	0,    2,    'm',  '1',                                /* member_id */
	0xff, 0xff,                                           /* group_instance_id null */
	0,    1,    'c',                                      /* client_id */
	0,    2,    '/',  'h',                                /* client_host */
	0,    0x04, 0x93, 0xe0,                               /* rebalance_timeout 300000 */
	0,    0,    0xaf, 0xc8,                               /* session_timeout 45000 */
	0,    0,    0,    2,    1,   2,                       /* subscription */
	0,    0,    0,    1,    3,                            /* assignment */
};

static struct group_meta sample(struct group_meta_member *m)
{
	static const uint8_t sub[] = { 1, 2 }, asg[] = { 3 };

	*m = (struct group_meta_member){ .member_id = kstr_of("m1"),
					 .instance_id = KSTR_NULL,
					 .client_id = kstr_of("c"),
					 .client_host = kstr_of("/h"),
					 .rebalance_timeout = 300000,
					 .session_timeout = 45000,
					 .subscription = { (const char *)sub, 2 },
					 .assignment = { (const char *)asg, 1 } };
	return (struct group_meta){ .protocol_type = kstr_of("consumer"),
				    .generation = 5,
				    .protocol = kstr_of("range"),
				    .leader = kstr_of("m1"),
				    .current_state_timestamp = 0x0102030405060708LL,
				    .n_members = 1,
				    .members = m };
}

static void test_key(void **state)
{
	static const uint8_t commit_key[] = { 0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 0 };
	struct kbuf_w w;
	char name[16];

	(void)state;
	kbuf_w_init(&w, 64);
	group_meta_key_encode(&w, "g1");
	assert_int_equal(kbuf_w_err(&w), 0);
	assert_int_equal(w.len, sizeof(key_g1));
	assert_memory_equal(w.buf, key_g1, sizeof(key_g1));
	kbuf_w_free(&w);
	assert_int_equal(group_meta_key_decode(key_g1, sizeof(key_g1), name, sizeof(name)), 0);
	assert_string_equal(name, "g1");
	/* An offset commit's key (version 0 or 1) is not one. */
	assert_int_equal(group_meta_key_decode(commit_key, sizeof(commit_key), name, sizeof(name)),
			 -ENOENT);
	/* Cut short, one byte more, another version, a name that does not
	 * fit, no name. */
	for (size_t n = 0; n < sizeof(key_g1); n++)
		assert_int_equal(group_meta_key_decode(key_g1, n, name, sizeof(name)), -EBADMSG);
	{
		uint8_t k[sizeof(key_g1) + 1];

		memcpy(k, key_g1, sizeof(key_g1));
		k[sizeof(key_g1)] = 'x';
		assert_int_equal(group_meta_key_decode(k, sizeof(k), name, sizeof(name)), -EBADMSG);
		memcpy(k, key_g1, sizeof(key_g1));
		k[1] = 3;
		assert_int_equal(group_meta_key_decode(k, sizeof(key_g1), name, sizeof(name)),
				 -EBADMSG);
		assert_int_equal(group_meta_key_decode(key_g1, sizeof(key_g1), name, 2), -EBADMSG);
		k[1] = 2;
		k[3] = 0;
		assert_int_equal(group_meta_key_decode(k, 4, name, sizeof(name)), -EBADMSG);
	}
}

static void test_value_v3(void **state)
{
	struct group_meta_member m;
	struct group_meta gm = sample(&m), back;
	struct kbuf_w w;

	(void)state;
	kbuf_w_init(&w, 4096);
	group_meta_value_encode(&w, &gm);
	assert_int_equal(kbuf_w_err(&w), 0);
	assert_int_equal(w.len, sizeof(value_v3));
	assert_memory_equal(w.buf, value_v3, sizeof(value_v3));
	kbuf_w_free(&w);

	assert_int_equal(group_meta_value_decode(value_v3, sizeof(value_v3), &back), 0);
	assert_true(kstr_eq(back.protocol_type, "consumer"));
	assert_int_equal(back.generation, 5);
	assert_true(kstr_eq(back.protocol, "range"));
	assert_true(kstr_eq(back.leader, "m1"));
	assert_int_equal(back.current_state_timestamp, 0x0102030405060708LL);
	assert_int_equal(back.n_members, 1);
	assert_true(kstr_eq(back.members[0].member_id, "m1"));
	assert_int_equal(back.members[0].instance_id.len, -1);
	assert_true(kstr_eq(back.members[0].client_id, "c"));
	assert_true(kstr_eq(back.members[0].client_host, "/h"));
	assert_int_equal(back.members[0].rebalance_timeout, 300000);
	assert_int_equal(back.members[0].session_timeout, 45000);
	assert_int_equal(back.members[0].subscription.len, 2);
	assert_memory_equal(back.members[0].subscription.ptr, "\x01\x02", 2);
	assert_int_equal(back.members[0].assignment.len, 1);
	assert_memory_equal(back.members[0].assignment.ptr, "\x03", 1);
	group_meta_free(&back);

	/* A static member and an Empty group (protocol, leader null). */
	m.instance_id = kstr_of("inst-1");
	kbuf_w_init(&w, 4096);
	group_meta_value_encode(&w, &gm);
	assert_int_equal(group_meta_value_decode(w.buf, w.len, &back), 0);
	assert_true(kstr_eq(back.members[0].instance_id, "inst-1"));
	group_meta_free(&back);
	kbuf_w_free(&w);
	gm.n_members = 0;
	gm.protocol = KSTR_NULL;
	gm.leader = KSTR_NULL;
	kbuf_w_init(&w, 4096);
	group_meta_value_encode(&w, &gm);
	assert_int_equal(group_meta_value_decode(w.buf, w.len, &back), 0);
	assert_int_equal(back.n_members, 0);
	assert_int_equal(back.protocol.len, -1);
	assert_int_equal(back.leader.len, -1);
	group_meta_free(&back);
	kbuf_w_free(&w);
}

/* value_v3 as version v (0..2) writes it: without the instance id (v < 3),
 * the timestamp (v < 2), the rebalance timeout (v < 1). */
static size_t older(int v, uint8_t *out)
{
	size_t n = 0;

	for (size_t i = 0; i < sizeof(value_v3); i++) {
		bool ts = i >= 27 && i < 35, inst = i >= 43 && i < 45, reb = i >= 52 && i < 56;

		if ((ts && v < 2) || (inst && v < 3) || (reb && v < 1))
			continue;
		out[n++] = value_v3[i];
	}
	out[1] = (uint8_t)v;
	return n;
}

static void test_value_older_versions(void **state)
{
	(void)state;
	for (int v = 0; v <= 2; v++) {
		uint8_t buf[sizeof(value_v3)];
		size_t n = older(v, buf);
		struct group_meta gm;

		assert_int_equal(group_meta_value_decode(buf, n, &gm), 0);
		assert_int_equal(gm.generation, 5);
		assert_true(kstr_eq(gm.leader, "m1"));
		assert_int_equal(gm.current_state_timestamp, v >= 2 ? 0x0102030405060708LL : -1);
		assert_int_equal(gm.n_members, 1);
		assert_true(kstr_eq(gm.members[0].member_id, "m1"));
		assert_int_equal(gm.members[0].instance_id.len, -1);
		assert_true(kstr_eq(gm.members[0].client_host, "/h"));
		/* Version 0 has none: the session timeout, as Kafka reads it. */
		assert_int_equal(gm.members[0].rebalance_timeout, v >= 1 ? 300000 : 45000);
		assert_int_equal(gm.members[0].session_timeout, 45000);
		assert_int_equal(gm.members[0].assignment.len, 1);
		group_meta_free(&gm);
	}
}

static void test_value_damaged(void **state)
{
	uint8_t buf[sizeof(value_v3) + 1];
	struct group_meta gm;

	(void)state;
	for (size_t n = 0; n < sizeof(value_v3); n++)
		assert_int_equal(group_meta_value_decode(value_v3, n, &gm), -EBADMSG);
	memcpy(buf, value_v3, sizeof(value_v3));
	buf[sizeof(value_v3)] = 0;
	assert_int_equal(group_meta_value_decode(buf, sizeof(buf), &gm), -EBADMSG);
	buf[1] = 4; /* a version this reader does not know */
	assert_int_equal(group_meta_value_decode(buf, sizeof(value_v3), &gm), -EBADMSG);
	memcpy(buf, value_v3, sizeof(value_v3));
	memset(buf + 35, 0xff, 4); /* members -1 */
	assert_int_equal(group_meta_value_decode(buf, sizeof(value_v3), &gm), -EBADMSG);
	memcpy(buf, value_v3, sizeof(value_v3));
	buf[38] = 200; /* more members than bytes */
	assert_int_equal(group_meta_value_decode(buf, sizeof(value_v3), &gm), -EBADMSG);
	memcpy(buf, value_v3, sizeof(value_v3));
	buf[2] = 0xff; /* a protocol type of negative length */
	buf[3] = 0xff;
	assert_int_equal(group_meta_value_decode(buf, sizeof(value_v3), &gm), -EBADMSG);
}

/* The line of the record as __consumer_offsets' line view shows it comes
 * back through the produce path's unescaper as the very bytes. */
static void test_line(void **state)
{
	static const uint8_t val[] = { '\\', '\n', '\t', 0, 0x7f, 0xff, 'a', '\r', '\\', 'x' };
	struct line_scratch scratch = { 0 };
	struct rec_in r;
	size_t len;
	char *line;

	(void)state;
	line = group_meta_line(key_g1, sizeof(key_g1), val, sizeof(val), &len);
	assert_non_null(line);
	assert_int_equal(line[0], '\\');
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1)); /* one line */
	/* The mark, then the key as \x00\x02\x00\x02g1 (18 bytes), then the
	 * separator: a TAB inside key or value is escaped. */
	assert_int_equal((char *)memchr(line, '\t', len) - line, 19);
	assert_memory_equal(line, "\\\\x00\\x02\\x00\\x02g1\t", 20);
	assert_int_equal(group_meta_line_parse(line, len - 1, &scratch, &r), 0);
	assert_int_equal(r.key_len, sizeof(key_g1));
	assert_memory_equal(r.key, key_g1, sizeof(key_g1));
	assert_int_equal(r.value_len, sizeof(val));
	assert_memory_equal(r.value, val, sizeof(val));
	free(line);
	/* A tombstone: the key and no value. */
	line = group_meta_line(key_g1, sizeof(key_g1), NULL, 0, &len);
	assert_int_equal(group_meta_line_parse(line, len - 1, &scratch, &r), 0);
	assert_int_equal(r.key_len, sizeof(key_g1));
	assert_int_equal(r.value_len, -1);
	free(line);
	/* A line with no key (no separator) is no record of it. */
	line = group_meta_line(key_g1, sizeof(key_g1), NULL, 0, &len);
	line[len - 2] = 'x';
	assert_int_equal(group_meta_line_parse(line, len - 1, &scratch, &r), -EBADMSG);
	free(line);
	line_scratch_free(&scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_value_v3),
		cmocka_unit_test(test_value_older_versions),
		cmocka_unit_test(test_value_damaged),
		cmocka_unit_test(test_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
