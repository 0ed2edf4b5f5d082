/*
 * zksrv.h — a real ZooKeeper server for unit tests: started by fork/exec of
 * tests/zk.sh's zk_exec (the same java command the shell tests use) on a
 * free port of 127.0.0.1, in a temporary directory, and killed by its pid.
 *
 * No server outlives the test binary: the server's process is killed by
 * the kernel when the thread that started it dies (PR_SET_PDEATHSIG, which
 * covers a crash or a `timeout` kill of the test), by an atexit handler on
 * a normal exit, and by zksrv_stop in the group teardown
 * (zksrv_group_teardown).
 */
#ifndef MQFS_TESTS_ZKSRV_H
#define MQFS_TESTS_ZKSRV_H

#include <sys/types.h>

struct zksrv {
	pid_t pid;
	int port;
	char dir[64];
	char connect[64]; /* "127.0.0.1:<port>" */
};

/* Starts a server and waits (up to 60 s, the JVM may be slow on a busy
 * machine) until it answers "ruok". Tries another port if the one picked
 * was taken meanwhile. 0 or -errno (the log is printed on failure). */
int zksrv_start(struct zksrv *s);
/* Kills the server (-9) and starts it again on the same port and data, as
 * a crash and restart would; waits until it answers. 0 or -errno. */
int zksrv_restart(struct zksrv *s);
/* Kills the server, waits for it and removes its directory. Idempotent. */
void zksrv_stop(struct zksrv *s);

/* One server for a whole test binary, as cmocka's group setup and
 * teardown: cmocka_run_group_tests(tests, zksrv_group_setup,
 * zksrv_group_teardown), or called from a binary's own pair. The setup
 * also sets the log level to MQ_ERR: the ZooKeeper library's session
 * messages and the INFO lines of the code under test are expected there;
 * errors still show. 0, or -1 when the server did not start (the group
 * fails). */
int zksrv_group_setup(void **state);
int zksrv_group_teardown(void **state);
/* The group's server (its connect string; zksrv_restart takes it). */
struct zksrv *zksrv_group(void);

#endif
