/*
 * fuzz_groupctl.c — libFuzzer target: the writable files of a consumer
 * group on the mount, MNT/<topic>/.groups/<g>/<p> (a reset: "N",
 * "earliest", "latest", "@<time>") and .groups/<g>/.config
 * ("key=value" lines), as any writer may write them. A write goes the
 * way the kernel's does: fs_lookup, fs_file_open, fs_file_write
 * (fs/groups.c, repl/group_offsets.c, repl/group_views.c), on a broker
 * opened once per process in a directory under /tmp, whose topic t holds
 * ten records and whose group g has no member.
 *
 * The input's first byte chooses the file (even: the offset file of
 * partition 0, odd: .config); the rest is one write().
 *
 * Properties checked (abort() on a violation):
 *   - a write is taken whole (it returns its size) or refused with
 *     EINVAL, no other error; the file reads as before a refused one
 *     (and a write of nothing), byte for byte;
 *   - a reset taken is one of the values the file takes, blanks around
 *     it aside: the offset file then reads "N\n" with N the decimal
 *     written (at most the log end), the log start for "earliest", the
 *     high watermark for "latest", one in [log start, hw] for "@<time>";
 *   - a .config taken reads back as text that, written again, is taken
 *     and reads the same.
 * After each input the offset is put back at 0 and the settings to what
 * they were, through the same files.
 *
 * Built by `make fuzz` with clang -fsanitize=fuzzer,address, and by `make
 * test` with the corpus replay driver (replay.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "repl/broker_int.h"
#include "tests/fuzz/fuzzdir.h"
#include "util/diaglog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct mqfs fs;
static fuse_ino_t offset_ino, config_ino;
static char config0[4096];
static size_t config0_len;

static fuse_ino_t lookup(fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	if (fs_lookup(&fs, parent, name, 1, &e) != 0)
		abort();
	return e.ino;
}

/* The file's text as a read from 0 shows it, into buf (cap bytes). */
static size_t read_file(fuse_ino_t ino, char *buf, size_t cap)
{
	struct fs_file *f;
	const char *data;
	ssize_t n;

	if (fs_file_open(&fs, ino, O_RDONLY, 1, &f) != 0)
		abort();
	n = fs_file_read(f, cap, 0, false, &data);
	if (n < 0 || (size_t)n >= cap)
		abort();
	memcpy(buf, data, (size_t)n);
	buf[n] = '\0';
	fs_file_release(&fs, f);
	return (size_t)n;
}

/* One write() of buf to the file: its size, or -errno. */
static ssize_t write_file(fuse_ino_t ino, const char *buf, size_t size)
{
	struct fs_file *f;
	ssize_t n;

	if (fs_file_open(&fs, ino, O_WRONLY, 1, &f) != 0)
		abort();
	n = fs_file_write(f, buf, size, 0, O_WRONLY, 0);
	fs_file_release(&fs, f);
	return n;
}

static void init(void)
{
	struct broker_config *cfg = calloc(1, sizeof(*cfg));
	struct io_ops io;
	struct topic *t;
	struct group *g;
	fuse_ino_t ti, gi;

	fuzzdir_init(dir, sizeof(dir), "groupctl", &io);
	mq_log_init(MQ_ERR, false);
	if (!cfg)
		abort();
	broker_config_defaults(cfg);
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "%s/data", dir);
	if (broker_open(cfg, &fs.broker) != 0 || inode_table_new(topic_put, &fs.inodes) != 0)
		abort();
	pthread_mutex_init(&fs.files_lock, NULL);
	pthread_mutex_init(&fs.cache_mu, NULL);
	fs.root_mode = 0755;
	if (broker_topic_create(fs.broker, "t", 0, 0, 0755, &t) != 0)
		abort();
	for (int i = 0; i < 10; i++)
		if (topic_produce(t, 0, "a record\n", 9, 0) != 0)
			abort();
	if (group_open(t, "g", 1, &g) != 0)
		abort();
	group_put(g);
	topic_put(t);
	ti = lookup(FUSE_ROOT_ID, "t");
	gi = lookup(lookup(ti, ".groups"), "g");
	offset_ino = lookup(gi, "0");
	config_ino = lookup(gi, ".config");
	config0_len = read_file(config_ino, config0, sizeof(config0));
	free(cfg);
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void check_reset(const char *in, size_t n, int64_t start, int64_t hw, int64_t leo)
{
	char before[64], after[64], *v, *end;
	size_t len;
	ssize_t rc;
	long long got;

	read_file(offset_ino, before, sizeof(before));
	rc = write_file(offset_ino, in, n);
	read_file(offset_ino, after, sizeof(after));
	/* Refused, or a write of nothing (write(fd, "", 0) is 0 everywhere). */
	if (rc < 0 || n == 0) {
		if ((n == 0 ? rc != 0 : rc != -EINVAL) || strcmp(before, after))
			abort();
		return;
	}
	if ((size_t)rc != n)
		abort();
	/* What was taken, blanks around it aside. */
	got = strtoll(after, &end, 10);
	if (end == after || strcmp(end, "\n"))
		abort();
	v = malloc(n + 1);
	if (!v)
		abort();
	memcpy(v, in, n);
	v[n] = '\0';
	len = n;
	while (len > 0 && blank(v[len - 1]))
		v[--len] = '\0';
	char *s = v;
	while (blank(*s))
		s++;
	len = strlen(s);
	if (!strcmp(s, "earliest")) {
		if (got != start)
			abort();
	} else if (!strcmp(s, "latest")) {
		if (got != hw)
			abort();
	} else if (s[0] == '@') {
		if (got < start || got > hw)
			abort();
	} else {
		if (strspn(s, "0123456789") != len || len == 0 || strtoll(s, NULL, 10) != got ||
		    got > leo)
			abort();
	}
	free(v);
	if (write_file(offset_ino, "0\n", 2) != 2)
		abort();
}

static void check_config(const char *in, size_t n)
{
	static char before[4096], after[4096], again[4096];
	size_t bl, al;
	ssize_t rc;

	bl = read_file(config_ino, before, sizeof(before));
	rc = write_file(config_ino, in, n);
	al = read_file(config_ino, after, sizeof(after));
	if (rc < 0 || n == 0) {
		if ((n == 0 ? rc != 0 : rc != -EINVAL) || bl != al || memcmp(before, after, bl))
			abort();
		return;
	}
	if ((size_t)rc != n)
		abort();
	/* What it reads now, written again, is taken and reads the same. */
	if (write_file(config_ino, after, al) != (ssize_t)al)
		abort();
	if (read_file(config_ino, again, sizeof(again)) != al || memcmp(after, again, al))
		abort();
	if (write_file(config_ino, config0, config0_len) != (ssize_t)config0_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct topic *t;
	struct log_state st;

	if (size < 1)
		return 0;
	if (!dir[0])
		init();
	if (broker_topic_get(fs.broker, "t", &t) != 0)
		abort();
	log_get_state(t->parts[0]->log, &st);
	topic_put(t);
	if (data[0] & 1)
		check_config((const char *)data + 1, size - 1);
	else
		check_reset((const char *)data + 1, size - 1, st.log_start_offset, st.hw,
			    st.log_end_offset);
	return 0;
}
