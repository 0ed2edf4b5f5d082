/*
 * main.c — the mqfs daemon: command line, broker config, daemonizing, the
 * FUSE session and its multi-threaded loop, clean shutdown.
 *
 *   mqfs [-f] [-d] [--data DIR] [--config FILE] [-o OPT[,OPT...]] MOUNTPOINT
 *
 * Order of settings: broker_config_defaults(), data dir ./mqfs-data, then
 * the --config file (its log.dirs), then --data.
 *
 * Daemonizing: the broker starts threads (flush, retention, ...) and fork()
 * keeps only the calling thread, so the broker must be opened in the
 * process that stays. Like fuse_daemonize(), the parent waits on a pipe;
 * unlike it, the child reports whether opening the data directory and
 * mounting succeeded, so `mqfs MNT` exits 1 on failure and returns 0 only
 * once the mount is ready. Messages up to then go to the terminal; after
 * that to syslog.
 *
 * Shutdown: SIGINT, SIGTERM, SIGHUP (fuse_set_signal_handlers) or
 * `fusermount3 -u MNT` end the loop; then unmount, drop the inode table's
 * topic references, broker_close() (which writes the clean-shutdown
 * marker).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs.h"

#ifndef MQFS_VERSION
#define MQFS_VERSION "unknown"
#endif

struct mqfs_opts {
	bool foreground;
	bool debug;
	const char *data;
	const char *config;
	const char *mountpoint;
	char mnt[PATH_MAX];                 /* mountpoint, absolute */
	struct fuse_args fuse_args;         /* argv[0], -o fsname=..., user's -o */
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [options] MOUNTPOINT\n"
		"\n"
		"Mounts a message log with Kafka's design: topics are directories,\n"
		"partitions are append-only files of lines.\n"
		"\n"
		"options:\n"
		"  -f                 stay in the foreground, log to stderr\n"
		"  -d                 debug logging\n"
		"  --data DIR         data directory (default ./mqfs-data; wins over log.dirs)\n"
		"  --config FILE      broker settings, server.properties form\n"
		"  -o OPT[,OPT...]    FUSE mount options (allow_other, default_permissions, ...)\n"
		"  -h, --help         this help\n"
		"  -V, --version      version\n"
		"\n", prog);
}

static int opts_parse(int argc, char **argv, struct mqfs_opts *o)
{
	static const struct option longopts[] = {
		{ "data",    required_argument, NULL, 'D' },
		{ "config",  required_argument, NULL, 'C' },
		{ "help",    no_argument,       NULL, 'h' },
		{ "version", no_argument,       NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	if (fuse_opt_add_arg(&o->fuse_args, argv[0]) < 0 ||
	    fuse_opt_add_arg(&o->fuse_args, "-o") < 0 ||
	    fuse_opt_add_arg(&o->fuse_args, "fsname=mqfs,subtype=mqfs") < 0)
		return -ENOMEM;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "fdo:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = true; break;
		case 'd': o->debug = true; break;
		case 'D': o->data = optarg; break;
		case 'C': o->config = optarg; break;
		case 'o':
			if (fuse_opt_add_arg(&o->fuse_args, "-o") < 0 ||
			    fuse_opt_add_arg(&o->fuse_args, optarg) < 0)
				return -ENOMEM;
			break;
		case 'h':
			usage(stdout, argv[0]);
			printf("FUSE options:\n");
			fflush(stdout);
			fuse_lowlevel_help();
			exit(0);
		case 'V':
			printf("mqfs %s (libfuse %s)\n", MQFS_VERSION, fuse_pkgversion());
			exit(0);
		default:
			fprintf(stderr, "mqfs: unknown or incomplete option '%s'\n",
				argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "mqfs: %s\n", optind >= argc ? "no mount point given"
							       : "more than one mount point given");
		return -EINVAL;
	}
	o->mountpoint = argv[optind];
	return 0;
}

/* mkdir -p. */
static int mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Broker settings, the data directory made absolute (we chdir to /). */
static int config_prepare(const struct mqfs_opts *o, struct broker_config *cfg)
{
	char err[512] = "";
	char abs[PATH_MAX];
	int rc;

	broker_config_defaults(cfg);
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./mqfs-data");
	if (o->config) {
		rc = broker_config_load(cfg, o->config, err, sizeof(err));
		if (rc < 0) {
			/* err names the file and the line */
			if (err[0])
				fprintf(stderr, "mqfs: %s\n", err);
			else
				fprintf(stderr, "mqfs: %s: %s\n", o->config, strerror(-rc));
			return rc;
		}
	}
	if (o->data)
		snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", o->data);
	rc = mkdir_p(cfg->data_dir, 0755);
	if (rc < 0 || !realpath(cfg->data_dir, abs)) {
		rc = rc < 0 ? rc : -errno;
		fprintf(stderr, "mqfs: data directory %s: %s\n", cfg->data_dir, strerror(-rc));
		return rc;
	}
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s", abs);
	return 0;
}

/* Forks; the parent waits for the child's verdict and exits with it. In
 * the child, returns the write end of the pipe. */
static int daemon_fork(void)
{
	int pipefd[2];
	char status = 1;

	if (pipe(pipefd) < 0) {
		perror("mqfs: pipe");
		return -errno;
	}
	switch (fork()) {
	case -1:
		perror("mqfs: fork");
		return -errno;
	case 0:
		close(pipefd[0]);
		if (setsid() < 0)
			perror("mqfs: setsid");
		return pipefd[1];
	default:
		close(pipefd[1]);
		if (read(pipefd[0], &status, 1) != 1)
			status = 1;             /* the child died before reporting */
		_exit(status);
	}
}

/* In the child, once mounted: detach from the terminal, tell the parent. */
static void daemon_ready(int fd, int level)
{
	char ok = 0;
	int nullfd = open("/dev/null", O_RDWR);

	if (nullfd >= 0) {
		dup2(nullfd, STDIN_FILENO);
		dup2(nullfd, STDOUT_FILENO);
		dup2(nullfd, STDERR_FILENO);
		if (nullfd > STDERR_FILENO)
			close(nullfd);
	}
	mq_log_init(level, true);
	if (write(fd, &ok, 1) != 1)
		mq_log(MQ_WARN, "could not tell the starting process we are mounted");
	close(fd);
}

static void daemon_failed(int fd)
{
	char fail = 1;

	if (fd >= 0) {
		if (write(fd, &fail, 1) != 1)
			perror("mqfs: pipe");
		close(fd);
	}
}

static int run(struct mqfs_opts *o, const struct broker_config *cfg, int ready_fd)
{
	struct mqfs fs = { 0 };
	struct fuse_session *se = NULL;
	struct fuse_loop_config loop = { .clone_fd = 0, .max_idle_threads = 10 };
	int level = o->debug ? MQ_DEBUG : MQ_INFO;
	const char *mnt = o->mnt;
	int rc;

	snprintf(fs.data_dir, sizeof(fs.data_dir), "%s", cfg->data_dir);
	pthread_mutex_init(&fs.files_lock, NULL);
	fs.uid = getuid();
	fs.gid = getgid();
	clock_gettime(CLOCK_REALTIME, &fs.start_time);

	rc = broker_open(cfg, &fs.broker);
	if (rc < 0) {
		fprintf(stderr, "mqfs: cannot open %s: %s\n", cfg->data_dir, strerror(-rc));
		return 1;
	}
	rc = inode_table_new(topic_put, &fs.inodes);
	if (rc < 0) {
		fprintf(stderr, "mqfs: %s\n", strerror(-rc));
		goto out;
	}
	se = fuse_session_new(&o->fuse_args, &fs_ops, sizeof(fs_ops), &fs);
	if (!se) {
		rc = -EINVAL;                   /* libfuse printed why */
		goto out;
	}
	if (fuse_set_signal_handlers(se) != 0) {
		rc = -EIO;
		goto out;
	}
	if (fuse_session_mount(se, mnt) != 0) {
		rc = -EIO;
		goto out_signals;
	}
	if (chdir("/") < 0)
		mq_log(MQ_WARN, "chdir /: %s", strerror(errno));
	if (ready_fd >= 0) {
		daemon_ready(ready_fd, level);
		ready_fd = -1;
	}
	mq_log(MQ_INFO, "mqfs %s: %s mounted on %s", MQFS_VERSION, fs.data_dir, mnt);

	rc = fuse_session_loop_mt(se, &loop);
	/* A signal ends the loop with its number: a clean stop. */
	rc = rc < 0 ? rc : 0;
	mq_log(MQ_INFO, "unmounting %s", mnt);
	mq_log(MQ_DEBUG, "inode table: %zu nodes still known", inode_count(fs.inodes));
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	fs_file_release_all(&fs);
	inode_table_free(fs.inodes);
	broker_close(fs.broker);
	if (rc == 0)
		mq_log(MQ_INFO, "stopped cleanly");
	daemon_failed(ready_fd);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct mqfs_opts o = { .fuse_args = FUSE_ARGS_INIT(0, NULL) };
	struct broker_config cfg;
	int ready_fd = -1;
	int rc;

	if (opts_parse(argc, argv, &o) < 0) {
		fprintf(stderr, "Try '%s --help'.\n", argv[0]);
		fuse_opt_free_args(&o.fuse_args);
		return 1;
	}
	if (!realpath(o.mountpoint, o.mnt)) {
		fprintf(stderr, "mqfs: mount point %s: %s\n", o.mountpoint, strerror(errno));
		fuse_opt_free_args(&o.fuse_args);
		return 1;
	}
	mq_log_init(o.debug ? MQ_DEBUG : MQ_INFO, false);
	if (config_prepare(&o, &cfg) < 0) {
		fuse_opt_free_args(&o.fuse_args);
		return 1;
	}
	if (!o.foreground) {
		ready_fd = daemon_fork();
		if (ready_fd < 0) {
			fuse_opt_free_args(&o.fuse_args);
			return 1;
		}
	}
	rc = run(&o, &cfg, ready_fd);
	fuse_opt_free_args(&o.fuse_args);
	return rc;
}
