/*
 * main.c — the mqfs daemon: command line, broker config, daemonizing, the
 * FUSE session and its multi-threaded loop, clean shutdown.
 *
 *   mqfs [-f] [-d] [--data DIR] [--config FILE] [-o OPT[,OPT...]] [SOURCE] MOUNTPOINT
 *   mqfs --zookeeper HOST:PORT[/chroot] [--scram-mechanism M] --add-scram-user NAME  < password-line
 *   mqfs --zookeeper HOST:PORT[/chroot] [--scram-mechanism M] --delete-scram-user NAME
 *
 * The last two manage a cluster's SCRAM users (scram_admin_add / _delete
 * in repl.h; M SCRAM-SHA-256, the default, or SCRAM-SHA-512) as Kafka's
 * kafka-configs.sh does, and mount nothing.
 *
 * mount.fuse3 (mount -t fuse.mqfs DATA MNT -o OPTS, or the /etc/fstab
 * line `DATA MNT fuse.mqfs OPTS 0 0`) runs `mqfs DATA MNT -o OPTS`: SOURCE
 * is the data directory. Inside -o, mqfs takes its own options (config=,
 * data=, debug, and as tmpfs has them mode=, uid=, gid= for the root of
 * the mount) and hands every other one to libfuse, whose
 * fuse_session_new() refuses those it does not know, naming them, before
 * anything is created on disk.
 *
 * Order of settings: broker_config_defaults(), data dir ./mqfs-data, then
 * the config file (its log.dirs), then SOURCE, then --data / data=.
 *
 * Daemonizing: the broker starts threads (flush, retention, ...) and fork()
 * keeps only the calling thread, so the broker must be opened in the
 * process that stays. Like fuse_daemonize(), the parent waits on a pipe;
 * unlike it, the child reports whether opening the data directory and
 * mounting succeeded, so `mqfs MNT` exits 1 on failure and returns 0 only
 * once the mount is ready (which is what mount(8) needs). Messages up to
 * then go to the terminal; after that to syslog (facility daemon), or,
 * on a machine without a syslog socket, to DATA/mqfs.log. With -f,
 * everything goes to stderr.
 *
 * Before the broker opens (daemon.c): the open-files limit is raised, a
 * dead mount left on MOUNTPOINT by a killed daemon is found, and the
 * three stop signals get their default disposition back. The dead mount
 * is detached only just before mounting, once the broker is open (logs
 * recovered, a cluster broker registered): meanwhile it answers ENOTCONN
 * rather than leaving a bare directory that would take writes.
 *
 * Shutdown: SIGINT, SIGTERM, SIGHUP (fuse_set_signal_handlers, whatever
 * the process inherited), `umount MNT` or `fusermount3 -u MNT` end the
 * loop; then unmount, drop the inode table's topic references,
 * broker_close() (which writes the clean-shutdown marker). The exit status
 * is 0 only when that close made everything durable and wrote the marker.
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
	const char *data;   /* --data or -o data= */
	const char *config; /* --config or -o config= */
	const char *source; /* SOURCE of `mqfs SOURCE MOUNTPOINT` */
	const char *mountpoint;
	char mnt[PATH_MAX]; /* mountpoint, absolute */
	bool dead_mount;    /* mnt is a killed daemon's: detach before mounting */
	bool root_uid_set, root_gid_set;
	uid_t root_uid; /* -o uid=, gid=, mode= (as tmpfs) */
	gid_t root_gid;
	mode_t root_mode;
	bool allow_other, default_permissions;
	bool page_cache; /* fs/cache.c; off with -o no_page_cache */
	bool uring;      /* fs/uring.c; off with -o no_uring */
	char *fuse_opts; /* the -o options that are libfuse's */
	char **bufs;     /* copies of the -o lists: own values point here */
	int nbufs;
	struct fuse_args fuse_args;         /* built by fuse_args_build() */
	rlim_t nofile_was, nofile_now;      /* soft RLIMIT_NOFILE before and after raising */
	int nofile_rc;                      /* daemon_raise_nofile()'s result */
	const char *zookeeper;              /* --zookeeper */
	const char *add_user, *delete_user; /* --add-scram-user, --delete-scram-user */
	const char *scram_mechanism;        /* --scram-mechanism, NULL: SCRAM-SHA-256 */
};

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [options] [SOURCE] MOUNTPOINT\n"
		"\n"
		"Mounts a message log with Kafka's design: topics are directories,\n"
		"partitions are append-only files of lines. SOURCE is the data\n"
		"directory (as mount.fuse3 passes it: mount -t fuse.mqfs DATA MNT).\n"
		"\n"
		"options:\n"
		"  -f                 stay in the foreground, log to stderr\n"
		"  -d                 debug logging\n"
		"  --data DIR         data directory (default ./mqfs-data; wins over\n"
		"                     SOURCE and log.dirs)\n"
		"  --config FILE      broker settings, server.properties form\n"
		"  -o OPT[,OPT...]    mount options:\n"
		"      config=FILE, data=DIR, debug   as --config, --data, -d\n"
		"      mode=MODE, uid=N, gid=N        mode (octal) and owner of the mount's\n"
		"                                     root (default 0755, the daemon's user)\n"
		"      no_page_cache                  read-only opens of partition files\n"
		"                                     use direct I/O too (by default they\n"
		"                                     read through the page cache)\n"
		"      page_cache                     the default: accepted, changes nothing\n"
		"      no_uring                       requests through /dev/fuse only, not\n"
		"                                     the kernel's io_uring transport\n"
		"      uring                          the default: accepted, changes nothing\n"
		"      allow_other, default_permissions, ro, ... (FUSE options below)\n"
		"  -h, --help         this help\n"
		"  -V, --version      version\n"
		"\n"
		"SCRAM users of a cluster (no mount; the password is read from stdin,\n"
		"one line):\n"
		"  --zookeeper HOST:PORT[/chroot] --add-scram-user NAME\n"
		"  --zookeeper HOST:PORT[/chroot] --delete-scram-user NAME\n"
		"  --scram-mechanism MECH  with either: SCRAM-SHA-256 (the default)\n"
		"                     or SCRAM-SHA-512\n"
		"\n",
		prog);
}

/* A decimal id for uid= / gid=. */
static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	return (errno || end == s || *end || *s == '-' || *out >= (unsigned long)UINT32_MAX)
		       ? -EINVAL
		       : 0;
}

/* One option of a -o list: mqfs's own are taken (their values point into
 * o->bufs, which live as long as o), the rest are libfuse's and are
 * collected in o->fuse_opts for fuse_session_new(), which refuses the
 * ones it does not know, naming them. opt points into o->bufs. */
static int opt_one(struct mqfs_opts *o, char *opt)
{
	char *val = strchr(opt, '=');
	unsigned long id;

	if (val)
		val++;
	if (!strncmp(opt, "config=", 7) || !strncmp(opt, "data=", 5)) {
		if (!*val) {
			fprintf(stderr, "mqfs: option '%s' needs a value\n", opt);
			return -EINVAL;
		}
		if (opt[0] == 'c')
			o->config = val;
		else
			o->data = val;
		return 0;
	}
	if (!strcmp(opt, "debug")) {
		o->debug = true;
		return 0;
	}
	if (!strcmp(opt, "page_cache") || !strcmp(opt, "no_page_cache")) {
		o->page_cache = opt[0] == 'p';
		return 0;
	}
	if (!strcmp(opt, "uring") || !strcmp(opt, "no_uring")) {
		o->uring = opt[0] == 'u';
		return 0;
	}
	if (!strncmp(opt, "uid=", 4) || !strncmp(opt, "gid=", 4)) {
		if (parse_id(val, &id) < 0) {
			fprintf(stderr, "mqfs: option '%s': not a numeric id\n", opt);
			return -EINVAL;
		}
		if (opt[0] == 'u')
			o->root_uid = (uid_t)id, o->root_uid_set = true;
		else
			o->root_gid = (gid_t)id, o->root_gid_set = true;
		return 0;
	}
	if (!strncmp(opt, "mode=", 5)) {
		char *end;
		unsigned long m = strtoul(val, &end, 8);

		if (end == val || *end || m > 07777) {
			fprintf(stderr, "mqfs: option '%s': not an octal mode\n", opt);
			return -EINVAL;
		}
		o->root_mode = (mode_t)m;
		return 0;
	}
	if (!strcmp(opt, "allow_other"))
		o->allow_other = true;
	if (!strcmp(opt, "default_permissions"))
		o->default_permissions = true;
	return fuse_opt_add_opt_escaped(&o->fuse_opts, opt) < 0 ? -ENOMEM : 0;
}

/* Splits "a,b=c\,d,e" (fuse's escaping: backslash quotes the next
 * character) into options, in a copy kept in o->bufs so that the values
 * stay valid. */
static int opt_list(struct mqfs_opts *o, const char *list)
{
	char *buf = malloc(strlen(list) + 1), *w = buf, *start = buf;
	char **bufs = realloc(o->bufs, (o->nbufs + 1) * sizeof(*bufs));
	int rc = 0;

	if (bufs)
		o->bufs = bufs;
	if (!buf || !bufs) {
		free(buf);
		return -ENOMEM;
	}
	o->bufs[o->nbufs++] = buf;
	for (const char *r = list;; r++) {
		if (*r == '\\' && r[1]) {
			*w++ = *++r;
			continue;
		}
		if (*r != ',' && *r != '\0') {
			*w++ = *r;
			continue;
		}
		*w++ = '\0';
		if (*start)
			rc = opt_one(o, start);
		start = w;
		if (rc < 0 || *r == '\0')
			return rc;
	}
}

static int opts_parse(int argc, char **argv, struct mqfs_opts *o)
{
	static const struct option longopts[] = {
		{ "data", required_argument, NULL, 'D' },
		{ "config", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "zookeeper", required_argument, NULL, 'Z' },
		{ "add-scram-user", required_argument, NULL, 'A' },
		{ "delete-scram-user", required_argument, NULL, 'X' },
		{ "scram-mechanism", required_argument, NULL, 'M' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	opterr = 0;
	/* GNU getopt permutes: mount.fuse3's `mqfs SOURCE MNT -o OPTS` parses
	 * like `mqfs -o OPTS SOURCE MNT`. */
	while ((c = getopt_long(argc, argv, "fdo:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = true; break;
		case 'd': o->debug = true; break;
		case 'D': o->data = optarg; break;
		case 'C': o->config = optarg; break;
		case 'Z': o->zookeeper = optarg; break;
		case 'A': o->add_user = optarg; break;
		case 'X': o->delete_user = optarg; break;
		case 'M': o->scram_mechanism = optarg; break;
		case 'o':
			rc = opt_list(o, optarg);
			if (rc < 0)
				return rc;
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
	if (o->add_user || o->delete_user || o->zookeeper || o->scram_mechanism) {
		if (!o->zookeeper || !!o->add_user == !!o->delete_user || optind != argc) {
			fprintf(stderr, "mqfs: --zookeeper goes with exactly one of "
					"--add-scram-user NAME or --delete-scram-user NAME, and "
					"--scram-mechanism, nothing else\n");
			return -EINVAL;
		}
		return 0;
	}
	switch (argc - optind) {
	case 1: break;
	case 2: o->source = argv[optind++]; break;
	default:
		fprintf(stderr, "mqfs: %s\n",
			optind >= argc ? "no mount point given"
				       : "too many arguments (expected [SOURCE] MOUNTPOINT)");
		return -EINVAL;
	}
	o->mountpoint = argv[optind];
	return 0;
}

static void opts_free(struct mqfs_opts *o)
{
	for (int i = 0; i < o->nbufs; i++)
		free(o->bufs[i]);
	free(o->bufs);
	free(o->fuse_opts);
	fuse_opt_free_args(&o->fuse_args);
}

/* mkdir -p: the missing parents with mode parents, the last one with
 * mode leaf. */
static int mkdir_p(const char *path, mode_t parents, mode_t leaf)
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
		if (mkdir(buf, parents) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, leaf) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Broker settings; the data directory: log.dirs of the config file, then
 * SOURCE, then --data / data=. Touches nothing on disk. */
static int config_load(const struct mqfs_opts *o, struct broker_config *cfg)
{
	const char *dir = o->data ? o->data : o->source;
	char err[512] = "";
	int rc;

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
	if (!dir)
		return 0;
	rc = broker_config_set_data_dir(cfg, dir);
	if (rc < 0)
		fprintf(stderr, "mqfs: data directory %s: %s\n", dir, strerror(-rc));
	return rc;
}

/* Creates the data directory when missing and makes its name absolute
 * (the daemon chdirs to /). */
static int data_dir_prepare(struct broker_config *cfg)
{
	char abs[PATH_MAX];
	int rc;

	/* The data directory is the daemon's alone: every topic's records
	 * are in it whatever the topic's mode, so a mode the mount shows
	 * would protect nothing if others could read the files. */
	rc = mkdir_p(broker_config_data_dir(cfg), 0755, 0700);
	if (rc < 0 || !realpath(broker_config_data_dir(cfg), abs)) {
		rc = rc < 0 ? rc : -errno;
		fprintf(stderr, "mqfs: data directory %s: %s\n", broker_config_data_dir(cfg),
			strerror(-rc));
		return rc;
	}
	return broker_config_set_data_dir(cfg, abs);
}

/* The mount point against the data directory, both absolute (realpath):
 * 0 or -ENOTDIR, -EINVAL, said on stderr. A FUSE mount over a file
 * succeeds, but the kernel then answers every access with EIO (our root
 * is a directory): a daemon that starts and serves nothing. A data
 * directory at or under the mount point is hidden by the mount, and
 * every file the daemon opens there is a request to its own mount: the
 * first mkdir hangs the daemon and the caller, unkillable. */
static int mount_point_check(const char *mnt, const char *data_dir)
{
	size_t n = strlen(mnt);
	struct stat st;

	if (stat(mnt, &st) == 0 && !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "mqfs: mount point %s: %s (mqfs mounts a directory tree)\n", mnt,
			strerror(ENOTDIR));
		return -ENOTDIR;
	}
	if (!strncmp(data_dir, mnt, n) &&
	    (data_dir[n] == '\0' || data_dir[n] == '/' || (n == 1 && mnt[0] == '/'))) {
		fprintf(stderr,
			"mqfs: data directory %s %s the mount point %s: the mount would hide "
			"it and the daemon would reach its own files through its own mount, "
			"and hang; put the data directory elsewhere\n",
			data_dir, data_dir[n] == '\0' ? "is" : "is inside", mnt);
		return -EINVAL;
	}
	return 0;
}

/* A broker_open refusal whose reason the log has given: true, and one
 * line on stderr naming the data directory; false for another rc. */
static bool open_refused(int rc, const char *data_dir)
{
	static const struct {
		int rc;
		const char *before, *after;
	} refusals[] = {
		{ -EWOULDBLOCK, "cannot open ", ": in use by another mqfs" },
		{ -ESTALE, "", " belongs to another cluster than ZooKeeper's" },
		{ -ENOTEMPTY, "", " holds directories named like logs, but no mqfs data" },
		{ -EMEDIUMTYPE, "",
		  " is another broker's data directory, or a single node's and this a "
		  "cluster broker, or the other way round" },
	};

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (refusals[i].rc == rc) {
			fprintf(stderr, "mqfs: %s%s%s (see above)\n", refusals[i].before, data_dir,
				refusals[i].after);
			return true;
		}
	return false;
}

/* The arguments for fuse_session_new(): our fsname (the data directory, as
 * mount(8) and df show it) and subtype first, so the user's -o may
 * override them, then the user's libfuse options. */
static int fuse_args_build(struct mqfs_opts *o, const char *prog, const char *data_dir)
{
	char cwd[PATH_MAX], name[2 * PATH_MAX + 16];
	char *std = NULL;
	int rc = -ENOMEM;

	if (data_dir[0] != '/' && getcwd(cwd, sizeof(cwd)))
		snprintf(name, sizeof(name), "fsname=%s/%s", cwd, data_dir);
	else
		snprintf(name, sizeof(name), "fsname=%s", data_dir);
	if (fuse_opt_add_opt_escaped(&std, name) < 0 || fuse_opt_add_opt(&std, "subtype=mqfs") < 0)
		goto out;
	if (fuse_opt_add_arg(&o->fuse_args, prog) < 0 ||
	    fuse_opt_add_arg(&o->fuse_args, "-o") < 0 || fuse_opt_add_arg(&o->fuse_args, std) < 0)
		goto out;
	if (o->fuse_opts && (fuse_opt_add_arg(&o->fuse_args, "-o") < 0 ||
			     fuse_opt_add_arg(&o->fuse_args, o->fuse_opts) < 0))
		goto out;
	rc = 0;
out:
	free(std);
	return rc;
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
	case -1: perror("mqfs: fork"); return -errno;
	case 0:
		close(pipefd[0]);
		if (setsid() < 0)
			perror("mqfs: setsid");
		return pipefd[1];
	default:
		close(pipefd[1]);
		if (read(pipefd[0], &status, 1) != 1)
			status = 1; /* the child died before reporting */
		_exit(status);
	}
}

/* Where a daemon without syslog logs: a machine (a container, a minimal
 * install) with no syslog daemon has no socket at /dev/log, and syslog(3)
 * would drop every line. Then the log is DATA/mqfs.log (its name is no
 * topic's directory), opened before detaching so that a failure to open
 * it still reaches the terminal; -1 when syslog is there or the file
 * cannot be opened (then syslog, as before). */
static int daemon_log_file(const char *data_dir)
{
	char path[PATH_MAX + 16];
	struct stat st;
	int fd;

	if (stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode))
		return -1;
	snprintf(path, sizeof(path), "%s/mqfs.log", data_dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		fprintf(stderr,
			"mqfs: no syslog (/dev/log) and cannot open %s: %s: the daemon's log is lost\n",
			path, strerror(errno));
	else
		fprintf(stderr, "mqfs: no syslog (/dev/log): the daemon logs to %s\n", path);
	return fd;
}

/* In the child, once mounted: detach from the terminal, tell the parent. */
static void daemon_ready(int fd, int level, const char *data_dir)
{
	char ok = 0;
	int nullfd = open("/dev/null", O_RDWR);
	int logfd = daemon_log_file(data_dir);

	if (nullfd >= 0) {
		dup2(nullfd, STDIN_FILENO);
		dup2(nullfd, STDOUT_FILENO);
		dup2(logfd >= 0 ? logfd : nullfd, STDERR_FILENO);
		if (nullfd > STDERR_FILENO)
			close(nullfd);
	}
	if (logfd > STDERR_FILENO)
		close(logfd);
	mq_log_init(level, logfd < 0);
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

/* libfuse's own messages (an option it refuses, an unmount that failed)
 * as lines of the daemon's log, with its time and level, not bare lines
 * on stderr. Its levels are syslog's, as ours. */
static void fuse_log_ours(enum fuse_log_level level, const char *fmt, va_list ap)
{
	/* libfuse writes one message in pieces (fuse_log calls), the last
	 * ending in a newline: they are gathered per thread. */
	static __thread char line[1024];
	static __thread size_t len;
	int n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);

	if (n < 0)
		return;
	len += (size_t)n < sizeof(line) - len ? (size_t)n : sizeof(line) - len - 1;
	if (len == 0 || (line[len - 1] != '\n' && len < sizeof(line) - 1))
		return;
	while (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	mq_log((int)level < MQ_ERR ? MQ_ERR : (int)level, "libfuse: %s", line);
	len = 0;
}

/* The session: validates the libfuse options (an unknown one is refused
 * here, named by libfuse, before anything is created on disk). The
 * session's userdata is fs, whose broker is opened later by run(). */
static int session_new(struct mqfs_opts *o, struct mqfs *fs, struct fuse_session **se)
{
	int rc;

	fuse_set_log_func(fuse_log_ours);
	rc = fs_metrics_new(&fs_ops, &fs->metrics);
	if (rc < 0) {
		fprintf(stderr, "mqfs: %s\n", strerror(-rc));
		return rc;
	}
	*se = fuse_session_new(&o->fuse_args, fs_metrics_ops(fs->metrics),
			       sizeof(struct fuse_lowlevel_ops), fs);
	if (!*se) {
		fprintf(stderr, "mqfs: mount options refused (see mqfs(8) and --help)\n");
		return -EINVAL;
	}
	return 0;
}

/* In the process that stays: opens the broker, mounts, runs the loop,
 * shuts down. Returns the exit status. */
static int run(struct mqfs_opts *o, struct mqfs *fs, struct fuse_session *se,
	       const struct broker_config *cfg, int ready_fd)
{
	struct fuse_loop_config loop = { .clone_fd = 0, .max_idle_threads = 10 };
	int level = o->debug ? MQ_DEBUG : MQ_INFO;
	const char *mnt = o->mnt;
	bool signals = false;
	int rc;

	rc = broker_open(cfg, &fs->broker);
	if (open_refused(rc, broker_config_data_dir(cfg)))
		goto out;
	if (rc == -ENOTUNIQ) { /* cluster.c logged the registration's owner */
		fprintf(stderr, "mqfs: this broker.id is registered in ZooKeeper by another "
				"live broker (see above)\n");
		goto out;
	}
	if (rc < 0) {
		fprintf(stderr, "mqfs: cannot open %s: %s\n", broker_config_data_dir(cfg),
			strerror(-rc));
		goto out;
	}
	rc = inode_table_new(topic_put, &fs->inodes);
	if (rc == 0)
		rc = fs_locks_open(fs);
	if (rc < 0) {
		fprintf(stderr, "mqfs: %s\n", strerror(-rc));
		goto out;
	}
	if (daemon_signals_reset() < 0 || fuse_set_signal_handlers(se) != 0) {
		rc = -EIO;
		goto out;
	}
	signals = true;
	if (o->dead_mount && daemon_detach_dead_mount(mnt) < 0) {
		rc = -ENOTCONN; /* the message says what to run */
		goto out;
	}
	if (fuse_session_mount(se, mnt) != 0) {
		/* libfuse or fusermount3 printed why on stderr; the log,
		 * which may be a file, says that the mount failed and where. */
		mq_log(MQ_ERR,
		       "mounting %s failed (the reason is on stderr: libfuse's or fusermount3's)",
		       mnt);
		rc = -EIO;
		goto out;
	}
	if (chdir("/") < 0)
		mq_log(MQ_WARN, "chdir /: %s", strerror(errno));
	if (ready_fd >= 0) {
		daemon_ready(ready_fd, level, fs->data_dir);
		ready_fd = -1;
	}
	mq_log(MQ_INFO, "mqfs %s: %s mounted on %s (root %04o uid %u gid %u)", MQFS_VERSION,
	       fs->data_dir, mnt, (unsigned)fs->root_mode, (unsigned)fs->uid, (unsigned)fs->gid);
	if (o->nofile_rc < 0)
		mq_log(MQ_WARN, "open files limit stays %llu: cannot raise it: %s",
		       (unsigned long long)o->nofile_was, strerror(-o->nofile_rc));
	else if (o->nofile_now != o->nofile_was)
		mq_log(MQ_INFO, "open files limit raised from %llu to %llu (the hard limit)",
		       (unsigned long long)o->nofile_was, (unsigned long long)o->nofile_now);
	else
		mq_log(MQ_INFO, "open files limit %llu", (unsigned long long)o->nofile_now);
	if (o->allow_other && !o->default_permissions)
		mq_log(MQ_WARN, "allow_other without default_permissions: the kernel checks no "
				"modes, every user may read and write every topic");

	__atomic_store_n(&fs->se, se, __ATOMIC_RELEASE);
	fs->mnt = mnt;
	if (fd_held_new(mnt, fs_file_paths, fs, &fs->held) < 0)
		mq_log(MQ_WARN, "no memory to keep what closing processes hold: every close of "
				"an unfinished line reads its /proc/PID/fd");
	if (o->uring)
		fs->uring = fs_uring_open(se, FS_MAX_WRITE);
	if (fs_names_open(fs) < 0)
		mq_log(MQ_WARN,
		       "no thread to drop deleted topics' and groups' names from the kernel's "
		       "cache: one deleted elsewhere may stat as there for up to %g s",
		       FS_ENTRY_TIMEOUT);
	broker_set_removed_listener(fs->broker, fs_removed, fs);
	group_set_gone_listener(fs->broker, fs_group_gone, fs);
	rc = fuse_session_loop_mt(se, &loop);
	group_set_gone_listener(fs->broker, NULL, NULL);
	broker_set_removed_listener(fs->broker, NULL, NULL);
	fs_names_close(fs); /* after the listener: no name is queued any more */
	/* The ring's threads may still serve a request (until fs_uring_close):
	 * cache.c reads it once per notification, and se lives on until
	 * fuse_session_destroy. */
	__atomic_store_n(&fs->se, NULL, __ATOMIC_RELEASE);
	fs_groups_shutdown(fs);    /* parked consume reads: EINTR */
	fs_locks_shutdown(fs);     /* parked lock requests: EINTR */
	fs_uring_close(fs->uring); /* after the replies above: its threads commit them */
	fs->uring = NULL;
	/* A signal ends the loop with its number: a clean stop. */
	rc = rc < 0 ? rc : 0;
	mq_log(MQ_INFO, "unmounting %s", mnt);
	mq_log(MQ_DEBUG, "inode table: %zu nodes still known", inode_count(fs->inodes));
	fuse_session_unmount(se);
out:
	if (signals)
		fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	fs_file_release_all(fs);
	fd_held_free(fs->held);
	fs->held = NULL;
	fs_locks_close(fs);
	inode_table_free(fs->inodes);
	/* broker_close logged what it could not make durable. */
	if (broker_close(fs->broker) < 0 && rc == 0)
		rc = -EIO;
	fs_metrics_free(fs->metrics);
	if (rc == 0)
		mq_log(MQ_INFO, "stopped cleanly");
	daemon_failed(ready_fd);
	return rc < 0 ? 1 : 0;
}

/* --add-scram-user / --delete-scram-user: the exit status. */
static int scram_user(const struct mqfs_opts *o)
{
	char err[512] = "", *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc;

	if (o->delete_user) {
		rc = scram_admin_delete(o->zookeeper, o->scram_mechanism, o->delete_user, err,
					sizeof(err));
		if (rc == 0)
			printf("SCRAM user %s deleted (%s)\n", o->delete_user,
			       o->scram_mechanism ? o->scram_mechanism : "SCRAM-SHA-256");
	} else {
		n = getline(&line, &cap, stdin);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n <= 0) {
			fprintf(stderr, "mqfs: --add-scram-user: expected the password on stdin "
					"(one line)\n");
			free(line);
			return 1;
		}
		rc = scram_admin_add(o->zookeeper, o->scram_mechanism, o->add_user, line, err,
				     sizeof(err));
		explicit_bzero(line, (size_t)n);
		free(line);
		if (rc == 0)
			printf("SCRAM user %s written (%s, 4096 iterations)\n", o->add_user,
			       o->scram_mechanism ? o->scram_mechanism : "SCRAM-SHA-256");
	}
	if (rc < 0)
		fprintf(stderr, "mqfs: %s\n", err);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct mqfs_opts o = { .fuse_args = FUSE_ARGS_INIT(0, NULL),
			       .root_mode = 0755,
			       .page_cache = true,
			       .uring = true };
	struct mqfs fs = { 0 };
	struct fuse_session *se = NULL;
	struct broker_config *cfg = NULL;
	int ready_fd = -1;
	int rc = 1;

	if (opts_parse(argc, argv, &o) < 0) {
		fprintf(stderr, "Try '%s --help'.\n", argv[0]);
		goto out;
	}
	/* A SCRAM user command says what failed in one line of its own; the
	 * ZooKeeper library's retries of an unreachable server (a score of
	 * lines before the timeout) only with -d. */
	mq_log_init(o.debug ? MQ_DEBUG : o.zookeeper ? MQ_ERR : MQ_INFO, false);
	if (o.zookeeper) {
		rc = scram_user(&o);
		goto out;
	}
	rc = daemon_dead_mount(o.mountpoint, o.mnt, sizeof(o.mnt));
	if (rc < 0) {
		rc = 1;
		goto out;
	}
	o.dead_mount = rc == 1;
	rc = 1;
	o.nofile_rc = daemon_raise_nofile(&o.nofile_was, &o.nofile_now);
	if (!o.dead_mount && !realpath(o.mountpoint, o.mnt)) {
		fprintf(stderr, "mqfs: mount point %s: %s\n", o.mountpoint, strerror(errno));
		goto out;
	}
	if (broker_config_new(&cfg) < 0) {
		fprintf(stderr, "mqfs: %s\n", strerror(ENOMEM));
		goto out;
	}
	if (config_load(&o, cfg) < 0)
		goto out;
	if (fuse_args_build(&o, argv[0], broker_config_data_dir(cfg)) < 0) {
		fprintf(stderr, "mqfs: %s\n", strerror(ENOMEM));
		goto out;
	}
	fs.uid = o.root_uid_set ? o.root_uid : getuid();
	fs.gid = o.root_gid_set ? o.root_gid : getgid();
	fs.root_mode = o.root_mode;
	fs.page_cache = o.page_cache;
	pthread_mutex_init(&fs.files_lock, NULL);
	pthread_mutex_init(&fs.cache_mu, NULL);
	clock_gettime(CLOCK_REALTIME, &fs.start_time);
	if (session_new(&o, &fs, &se) < 0 || data_dir_prepare(cfg) < 0)
		goto out;
	if (!o.dead_mount && (mount_point_check(o.mnt, broker_config_data_dir(cfg)) < 0 ||
			      daemon_live_mount(o.mnt) < 0))
		goto out;
	snprintf(fs.data_dir, sizeof(fs.data_dir), "%s", broker_config_data_dir(cfg));
	daemon_exposure_check(fs.data_dir, o.config, broker_config_has_password(cfg),
			      o.allow_other);
	if (!o.foreground) {
		ready_fd = daemon_fork();
		if (ready_fd < 0)
			goto out;
	}
	rc = run(&o, &fs, se, cfg, ready_fd);
	se = NULL; /* run() destroyed it */
	fs.metrics = NULL;
out:
	if (se)
		fuse_session_destroy(se);
	fs_metrics_free(fs.metrics);
	broker_config_free(cfg);
	opts_free(&o);
	return rc;
}
