/*
 * zksrv.c — a real ZooKeeper server for unit tests (see zksrv.h). The java
 * command line lives in tests/zk.sh alone; this file runs it and watches it.
 */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/unit/zksrv.h"
#include "util/diaglog.h"

#define ZKSRV_START_SECONDS 60
#define ZKSRV_PORT_TRIES    3
#define ZKSRV_MAX           8

/* Servers alive, for the atexit handler. */
static pid_t live[ZKSRV_MAX];

static void kill_live(void)
{
	int i;

	for (i = 0; i < ZKSRV_MAX; i++)
		if (live[i] > 0) {
			kill(live[i], SIGKILL);
			waitpid(live[i], NULL, 0);
			live[i] = 0;
		}
}

static void track(pid_t pid, int add)
{
	static int registered;
	int i;

	if (!registered && atexit(kill_live) == 0)
		registered = 1;
	for (i = 0; i < ZKSRV_MAX; i++)
		if (add ? live[i] == 0 : live[i] == pid) {
			live[i] = add ? pid : 0;
			return;
		}
}

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -errno;

	if (fd < 0)
		return port;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	else
		port = -errno;
	close(fd);
	return port;
}

/* 1 when the server answers "imok" to "ruok". */
static int ruok(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 1, 0 };
	char buf[4];
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;
	ssize_t n = 0, r;

	if (fd < 0)
		return 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && write(fd, "ruok", 4) == 4) {
		while (n < 4 && (r = read(fd, buf + n, (size_t)(4 - n))) > 0)
			n += r;
		ok = n == 4 && !memcmp(buf, "imok", 4);
	}
	close(fd);
	return ok;
}

static pid_t spawn(const char *script, const char *dir, int port)
{
	pid_t parent = getpid(), pid;
	char portstr[16];

	snprintf(portstr, sizeof(portstr), "%d", port);
	pid = fork();
	if (pid != 0)
		return pid;
	/* The server dies with the test, whatever kills the test. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	execl("/bin/sh", "sh", "-c", ". \"$0\" && zk_exec \"$1\" \"$2\"", script, dir, portstr,
	      (char *)NULL);
	_exit(127);
}

static void show_log(const struct zksrv *s)
{
	char path[128], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/zk.log", s->dir);
	fprintf(stderr, "zksrv: ZooKeeper on port %d did not start; %s:\n", s->port, path);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			fputs(line, stderr);
		fclose(f);
	}
}

static int script_path(char *buf, size_t size)
{
	const char *src = getenv("MQFS_SRC");

	snprintf(buf, size, "%s/tests/zk.sh", src ? src : ".");
	if (access(buf, R_OK) < 0) {
		fprintf(stderr, "zksrv: %s: %s (run from the source tree or set MQFS_SRC)\n", buf,
			strerror(errno));
		return -ENOENT;
	}
	return 0;
}

/* Spawns the server on s->port and waits until it answers: 0, or
 * -EADDRINUSE (it exited: the port was taken), -ETIMEDOUT, -errno. */
static int run(struct zksrv *s, const char *script)
{
	time_t end = time(NULL) + ZKSRV_START_SECONDS;
	int status;

	if ((s->pid = spawn(script, s->dir, s->port)) < 0)
		return -errno;
	track(s->pid, 1);
	for (;;) {
		if (ruok(s->port))
			return 0;
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			track(s->pid, 0);
			s->pid = 0;
			return -EADDRINUSE;
		}
		if (time(NULL) >= end)
			return -ETIMEDOUT;
		usleep(50 * 1000);
	}
}

int zksrv_start(struct zksrv *s)
{
	char script[512];
	int tries, rc;

	memset(s, 0, sizeof(*s));
	if ((rc = script_path(script, sizeof(script))))
		return rc;
	strcpy(s->dir, "/tmp/mqfs-zk.XXXXXX");
	if (!mkdtemp(s->dir))
		return -errno;
	/* Another port when ours was taken between our test and its bind;
	 * a slow JVM (-ETIMEDOUT) is not helped by one. */
	rc = -EADDRINUSE;
	for (tries = 0; tries < ZKSRV_PORT_TRIES && rc == -EADDRINUSE; tries++) {
		if ((s->port = free_port()) < 0) {
			rc = s->port;
			break;
		}
		rc = run(s, script);
	}
	if (rc == 0) {
		snprintf(s->connect, sizeof(s->connect), "127.0.0.1:%d", s->port);
		return 0;
	}
	show_log(s);
	zksrv_stop(s);
	return rc;
}

int zksrv_restart(struct zksrv *s)
{
	char script[512];
	int rc;

	if ((rc = script_path(script, sizeof(script))))
		return rc;
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		track(s->pid, 0);
		s->pid = 0;
	}
	rc = run(s, script);
	if (rc)
		show_log(s);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path); /* best effort: a leftover is only a tmp file */
	return 0;
}

void zksrv_stop(struct zksrv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		track(s->pid, 0);
		s->pid = 0;
	}
	if (s->dir[0]) {
		nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		s->dir[0] = '\0';
	}
}

/* The server of zksrv_group_setup, for the whole binary. */
static struct zksrv group_srv;

int zksrv_group_setup(void **state)
{
	(void)state;
	mq_log_init(MQ_ERR, false);
	return zksrv_start(&group_srv) == 0 ? 0 : -1;
}

int zksrv_group_teardown(void **state)
{
	(void)state;
	zksrv_stop(&group_srv);
	return 0;
}

struct zksrv *zksrv_group(void)
{
	return &group_srv;
}
