/*
 * test_diaglog.c — util/diaglog.c: one message is one line on stderr, with
 * the time and the level; control bytes in it (but tab) are written as
 * \xNN, so that an argument cannot forge a line; a message longer than the
 * stack buffer is written whole; trailing newlines come out as one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/diaglog.h"

/* Runs fn with stderr sent to a file; returns what it wrote (caller frees). */
static char *captured(void (*fn)(void))
{
	char path[] = "/tmp/mqfs-test-diaglog.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	char *buf = calloc(1, 1 << 17);
	ssize_t n;

	assert_true(fd >= 0 && saved >= 0 && buf);
	unlink(path); /* read through fd */
	dup2(fd, 2);
	fn();
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, (1 << 17) - 1, 0);
	assert_true(n >= 0);
	close(fd);
	return buf;
}

static void log_forged(void)
{
	mq_log(MQ_WARN, "mkdir %s: refused",
	       "evil\n2026-12-03 00:00:00.000 INFO fake\x1b[31m\tx\x7f");
}

static void test_control_bytes_escaped(void **state)
{
	char *out = captured(log_forged);
	const char *want = " WARN mkdir evil\\x0a2026-12-03 00:00:00.000 INFO "
			   "fake\\x1b[31m\tx\\x7f: refused\n";

	(void)state;
	/* "YYYY-MM-DD HH:MM:SS.mmm" then the rest, on one line. */
	assert_true(strlen(out) > 23);
	assert_string_equal(out + 23, want);
	assert_int_equal(strchr(out, '\n') - out, (ptrdiff_t)(strlen(out) - 1));
	free(out);
}

static void log_long(void)
{
	char *big = malloc(5001);

	assert_non_null(big);
	memset(big, 'a', 5000);
	big[4000] = '\n';
	big[5000] = '\0';
	mq_log(MQ_ERR, "%s", big);
	free(big);
}

static void test_long_message_whole(void **state)
{
	char *out = captured(log_long);

	(void)state;
	/* 5000 bytes, the newline in the middle as \x0a: 5003 after the
	 * prefix, then the one newline. */
	char *msg = strstr(out, " ERROR ");
	assert_non_null(msg);
	msg += strlen(" ERROR ");
	assert_int_equal(strlen(msg), 5000 + 3 + 1);
	assert_memory_equal(msg + 4000, "\\x0a", 4);
	assert_int_equal(msg[strlen(msg) - 1], '\n');
	assert_ptr_equal(strchr(msg, '\n'), msg + strlen(msg) - 1);
	free(out);
}

static void log_trailing_newlines(void)
{
	mq_log(MQ_INFO, "done\n\n");
}

static void test_trailing_newlines_one(void **state)
{
	char *out = captured(log_trailing_newlines);

	(void)state;
	assert_string_equal(out + 23, " INFO done\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_bytes_escaped),
		cmocka_unit_test(test_long_message_whole),
		cmocka_unit_test(test_trailing_newlines_one),
	};
	mq_log_init(MQ_INFO, false);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
