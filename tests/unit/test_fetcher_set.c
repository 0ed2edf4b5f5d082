/*
 * test_fetcher_set.c — the set of fetchers one owner keeps by source
 * broker (repl/fetcher.h, struct fetcher_set): init copies the config and
 * owns copies of the SASL strings (the caller's may go; a user without a
 * password gets ""), sets this broker's id; get starts one fetcher per
 * broker whose endpoint is known and hands the same one back after;
 * clear stops them and frees the copies (ASan's leak check sees a string
 * left behind), and a zeroed set clears too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "repl/fetcher.h"

struct endpoints {
	int port;  /* broker 2's: a bound socket that does not listen */
	int calls; /* endpoint lookups */
};

static int endpoint(void *arg, int32_t broker_id, char *host, int *port)
{
	struct endpoints *e = arg;

	e->calls++;
	if (broker_id != 2)
		return -ENOENT;
	snprintf(host, NET_MAX_HOST + 1, "127.0.0.1");
	*port = e->port;
	return 0;
}

static void test_init_copies_sasl(void **state)
{
	struct fetcher_config cfg;
	struct fetcher_set s;
	char user[16] = "alice", password[16] = "s3cret";

	(void)state;
	fetcher_config_default(&cfg);
	cfg.sasl_user = user;
	cfg.sasl_password = password;
	cfg.max_wait_ms = 123;
	assert_int_equal(fetcher_set_init(&s, &cfg, 4, endpoint, NULL, "replica"), 0);
	/* The caller's strings go; the set's stay. */
	memset(user, 'x', sizeof(user) - 1);
	memset(password, 'y', sizeof(password) - 1);
	assert_ptr_not_equal(s.cfg.sasl_user, user);
	assert_string_equal(s.cfg.sasl_user, "alice");
	assert_string_equal(s.cfg.sasl_password, "s3cret");
	assert_ptr_equal(s.cfg.sasl_user, s.user);
	assert_ptr_equal(s.cfg.sasl_password, s.password);
	assert_int_equal(s.cfg.broker_id, 4);
	assert_int_equal(s.cfg.max_wait_ms, 123);
	assert_string_equal(s.what, "replica");
	assert_int_equal(s.n, 0);
	fetcher_set_clear(&s);
	assert_null(s.user);
	assert_null(s.password);
	assert_null(s.cfg.sasl_user);
	assert_null(s.cfg.sasl_password);

	/* A user without a password: an empty one. */
	cfg.sasl_password = NULL;
	assert_int_equal(fetcher_set_init(&s, &cfg, 4, endpoint, NULL, "observer"), 0);
	assert_string_equal(s.cfg.sasl_password, "");
	fetcher_set_clear(&s);

	/* PLAINTEXT: nothing copied. */
	cfg.sasl_user = NULL;
	assert_int_equal(fetcher_set_init(&s, &cfg, 4, endpoint, NULL, "observer"), 0);
	assert_null(s.user);
	assert_null(s.cfg.sasl_user);
	assert_null(s.cfg.sasl_password);
	fetcher_set_clear(&s);

	/* A zeroed set (an owner that failed before init) clears. */
	memset(&s, 0, sizeof(s));
	fetcher_set_clear(&s);
}

static void test_get_one_per_broker(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	struct endpoints e = { 0 };
	struct fetcher_config cfg;
	struct fetcher_set s;
	struct fetcher *f;
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	e.port = ntohs(sa.sin_port);

	fetcher_config_default(&cfg);
	cfg.sasl_user = "bob";
	cfg.sasl_password = "pw";
	assert_int_equal(fetcher_set_init(&s, &cfg, 1, endpoint, &e, "replica"), 0);
	/* No endpoint known: no fetcher, nothing kept. */
	assert_null(fetcher_set_get(&s, 3));
	assert_int_equal(s.n, 0);
	f = fetcher_set_get(&s, 2);
	assert_non_null(f);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v[0].id, 2);
	assert_int_equal(e.calls, 2);
	/* The same fetcher again, without asking where broker 2 is. */
	assert_ptr_equal(fetcher_set_get(&s, 2), f);
	assert_int_equal(e.calls, 2);
	fetcher_set_remove(&s, -1, NULL); /* from none: nothing to do */
	fetcher_set_clear(&s);
	assert_int_equal(s.n, 0);
	assert_null(s.v);
	assert_null(s.user);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_copies_sasl),
		cmocka_unit_test(test_get_one_per_broker),
	};
	return cmocka_run_group_tests_name("fetcher_set", tests, NULL, NULL);
}
