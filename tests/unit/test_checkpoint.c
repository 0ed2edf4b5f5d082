/*
 * test_checkpoint.c — the one reader of Kafka's checkpoint text format
 * (engine/checkpoint.c), used for the data directory's offset checkpoints
 * and each log's leader-epoch-checkpoint: the entries reach the caller in
 * order, a missing file is empty, and every malformed header or entry,
 * entries beyond the count, and numbers that do not fit their field, are
 * -EBADMSG.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/log_int.h"

struct seen {
	int count; /* from begin; -1: not called */
	int n;
	int64_t a[8], b[8];
};

static int begin(void *arg, int count)
{
	struct seen *s = arg;

	s->count = count;
	return 0;
}

static int entry(void *arg, const char *p, int *used, const char **why)
{
	struct seen *s = arg;
	long long a, b;

	if (s->n == 8 || sscanf(p, "%lld %lld\n%n", &a, &b, used) < 2) {
		*why = "not two numbers";
		return -EBADMSG;
	}
	s->a[s->n] = a;
	s->b[s->n++] = b;
	return 0;
}

static const char *last_why;
static int last_line;

/* ckpt_read of a file holding text (NULL: no file). */
static int read_text(const char *text, struct seen *s)
{
	char path[] = "/tmp/mqfs-test-ckpt.XXXXXX";
	int fd = mkstemp(path), rc;

	assert_true(fd >= 0);
	if (text)
		assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	if (!text)
		unlink(path);
	memset(s, 0, sizeof(*s));
	s->count = -1;
	rc = ckpt_read(&io_posix, path, 4, begin, entry, s, &last_why, &last_line);
	unlink(path);
	return rc;
}

static void test_entries_in_order(void **state)
{
	struct seen s;

	(void)state;
	assert_int_equal(read_text("0\n3\n0 0\n1 120\n4 9000\n", &s), 0);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.a[2], 4);
	assert_int_equal(s.b[2], 9000);
	assert_int_equal(read_text("0\n0\n", &s), 0);
	assert_int_equal(s.count, 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(read_text("0\n1\n5 5\n\n", &s), 0); /* blank lines after */
	assert_int_equal(s.n, 1);
}

static void test_missing_is_empty(void **state)
{
	struct seen s;

	(void)state;
	assert_int_equal(read_text(NULL, &s), 0);
	assert_int_equal(s.count, -1);
}

static void test_malformed(void **state)
{
	static const struct {
		const char *text, *why;
		int line;
	} bad[] = {
		{ "", "no version and count lines", 1 },
		{ "zero\n1\n0 0\n", "no version and count lines", 1 },
		{ "1\n1\n0 0\n", "unknown version (not 0)", 1 },
		{ "0\n-1\n", "entry count out of range", 2 },
		{ "0\n5\n0 0\n1 1\n2 2\n3 3\n4 4\n", "entry count out of range", 2 },
		{ "0\n2\n0 0\n", "not two numbers", 4 }, /* fewer entries than the count */
		{ "0\n2\n0 0\nx 0\n", "not two numbers", 4 },
		/* more than the count: the count or the extra lines are wrong */
		{ "0\n1\n0 0\n1 1\n", "more entries than the count (line 2) says", 4 },
		{ "0\n0\n7 7\n", "more entries than the count (line 2) says", 3 },
	};
	struct seen s;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(read_text(bad[i].text, &s), -EBADMSG);
		assert_string_equal(last_why, bad[i].why);
		assert_int_equal(last_line, bad[i].line);
	}
}

/* A number that does not fit its field is refused, not wrapped: glibc's
 * sscanf took "4294967296" as version 0 and an epoch 4294967297 as 1. */
static void test_numbers_do_not_wrap(void **state)
{
	static const struct {
		const char *text;
		int64_t min, max;
		int ok;
		int64_t want;
		size_t used;
	} cases[] = {
		{ "7 8", 0, INT32_MAX, 1, 7, 2 },
		{ "  \n+5\n\n", 0, INT32_MAX, 1, 5, 7 },
		{ "-0", 0, 0, 1, 0, 2 },
		{ "2147483647", INT32_MIN, INT32_MAX, 1, INT32_MAX, 10 },
		{ "2147483648", INT32_MIN, INT32_MAX, 0, 0, 0 },
		{ "4294967297", INT32_MIN, INT32_MAX, 0, 0, 0 },
		{ "-2147483649", INT32_MIN, INT32_MAX, 0, 0, 0 },
		{ "9223372036854775807", INT64_MIN, INT64_MAX, 1, INT64_MAX, 19 },
		{ "9223372036854775808", INT64_MIN, INT64_MAX, 0, 0, 0 },
		{ "99999999999999999999", INT64_MIN, INT64_MAX, 0, 0, 0 },
		{ "12x", 0, 100, 0, 0, 0 },
		{ "0x10", 0, 100, 0, 0, 0 },
		{ "", 0, 100, 0, 0, 0 },
		{ "-", INT64_MIN, INT64_MAX, 0, 0, 0 },
		{ " - 1", INT64_MIN, INT64_MAX, 0, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = cases[i].text;
		int64_t v = -42;

		assert_int_equal(ckpt_num(&p, cases[i].min, cases[i].max, &v),
				 cases[i].ok ? 0 : -1);
		assert_int_equal(v, cases[i].ok ? cases[i].want : -42);
		assert_int_equal((size_t)(p - cases[i].text), cases[i].used);
	}
}

static void test_header_does_not_wrap(void **state)
{
	struct seen s;

	(void)state;
	assert_int_equal(read_text("4294967296\n0\n", &s), -EBADMSG);
	assert_string_equal(last_why, "unknown version (not 0)");
	assert_int_equal(read_text("0\n4294967297\n0 0\n", &s), -EBADMSG);
	assert_string_equal(last_why, "entry count out of range");
	assert_int_equal(last_line, 2);
	assert_int_equal(read_text("0\n99999999999999999999\n", &s), -EBADMSG);
	assert_int_equal(s.count, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries_in_order),
		cmocka_unit_test(test_missing_is_empty),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_numbers_do_not_wrap),
		cmocka_unit_test(test_header_does_not_wrap),
	};
	return cmocka_run_group_tests_name("checkpoint", tests, NULL, NULL);
}
