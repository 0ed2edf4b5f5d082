/*
 * test_open_files.c — partition files through fs/open_files.c on a real
 * broker in a tmpdir, without a kernel: where a writer not opened O_APPEND
 * may write. Its first write is taken at st_size, the size the mount shows
 * (topic_file_size), which never decreases: after a truncation below the
 * high watermark (what a replica does after an unclean leader election)
 * that is more than the hw's line position now.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "repl/broker_int.h"
#include "engine/log_int.h"

struct fx {
	char dir[64];
	struct broker_config cfg;
	struct mqfs fs;
};

static int64_t setup_buffer_memory; /* 0: the default */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/mqfs-test-open-files.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	broker_config_defaults(&f->cfg);
	if (setup_buffer_memory)
		f->cfg.buffer_memory = setup_buffer_memory;
	snprintf(f->cfg.data_dir, sizeof(f->cfg.data_dir), "%s/data", f->dir);
	if (broker_open(&f->cfg, &f->fs.broker) != 0)
		return -1;
	if (inode_table_new(topic_put, &f->fs.inodes) != 0)
		return -1;
	pthread_mutex_init(&f->fs.files_lock, NULL);
	pthread_mutex_init(&f->fs.cache_mu, NULL);
	f->fs.root_mode = 0755;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	fs_file_release_all(&f->fs);
	inode_table_free(f->fs.inodes);
	broker_close(f->fs.broker);
	pthread_mutex_destroy(&f->fs.files_lock);
	pthread_mutex_destroy(&f->fs.cache_mu);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Opens MNT/<topic>/<p> as open(2) would, through lookups. */
static struct fs_file *open_part(struct fx *f, const char *topic, const char *p, int flags)
{
	struct fuse_entry_param e;
	struct fs_file *file;

	assert_int_equal(fs_lookup(&f->fs, FUSE_ROOT_ID, topic, 1, &e), 0);
	assert_int_equal(fs_lookup(&f->fs, e.ino, p, 1, &e), 0);
	assert_int_equal(fs_file_open(&f->fs, e.ino, flags, 1, &file), 0);
	return file;
}

static int64_t shown_size(struct fx *f, const char *topic, const char *p)
{
	struct fuse_entry_param e;

	assert_int_equal(fs_lookup(&f->fs, FUSE_ROOT_ID, topic, 1, &e), 0);
	assert_int_equal(fs_lookup(&f->fs, e.ino, p, 1, &e), 0);
	return (int64_t)e.attr.st_size;
}

static void test_first_write_at_shown_size(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	struct fs_file *w;

	assert_int_equal(broker_topic_create(f->fs.broker, "orders", 0, 0, 0755, &t), 0);
	/* Two batches: a truncation cuts whole batches. */
	assert_int_equal(topic_produce(t, 0, "a\nbb\n", 5, 0), 0);
	assert_int_equal(topic_produce(t, 0, "\nccc\n", 5, 0), 0);
	assert_int_equal(shown_size(f, "orders", "0"), 10);
	assert_int_equal(log_truncate_to(t->parts[0]->log, 2), 0);
	assert_int_equal(topic_line_size(t, 0), 5);
	assert_int_equal(shown_size(f, "orders", "0"), 10);

	/* A writer that lseeks to the end (st_size) writes there. */
	w = open_part(f, "orders", "0", O_WRONLY);
	assert_int_equal(fs_file_write(w, "dd\n", 3, 10, O_WRONLY, 0), 3);
	assert_int_equal(fs_file_write(w, "e\n", 2, 13, O_WRONLY, 0), 2);
	assert_int_equal(fs_file_flush(w, 0, 0), 0);
	fs_file_release(&f->fs, w);
	assert_int_equal(topic_line_size(t, 0), 10);

	/* The hw's line position now, below st_size, is not the end. */
	assert_int_equal(log_truncate_to(t->parts[0]->log, 2), 0);
	w = open_part(f, "orders", "0", O_WRONLY);
	assert_int_equal(fs_file_write(w, "x\n", 2, 5, O_WRONLY, 0), -ESPIPE);
	fs_file_release(&f->fs, w);
	assert_int_equal(topic_line_size(t, 0), 5);
	topic_put(t);
}

/* An unfinished line is a record at its writer's close, not at the close
 * of a copy of the descriptor by another process (a child that inherited
 * it: another lock owner), which leaves it to be continued. */
static void test_partial_line_kept_at_others_close(void **state)
{
	struct fx *f = *state;
	struct topic *t;
	struct fs_file *w;

	assert_int_equal(broker_topic_create(f->fs.broker, "lines", 0, 0, 0755, &t), 0);
	w = open_part(f, "lines", "0", O_WRONLY | O_APPEND);
	assert_int_equal(fs_file_write(w, "abc", 3, 0, O_WRONLY | O_APPEND, 7), 3);
	assert_int_equal(fs_file_flush(w, 8, 0), 0); /* a child's exit */
	assert_int_equal(topic_line_size(t, 0), 0);
	assert_int_equal(fs_file_write(w, "def\n", 4, 3, O_WRONLY | O_APPEND, 7), 4);
	assert_int_equal(topic_line_size(t, 0), 7); /* one record: abcdef */
	assert_int_equal(fs_file_write(w, "gh", 2, 7, O_WRONLY | O_APPEND, 7), 2);
	assert_int_equal(fs_file_flush(w, 8, 0), 0);
	assert_int_equal(topic_line_size(t, 0), 7);
	assert_int_equal(fs_file_flush(w, 7, 0), 0); /* the writer's own close */
	assert_int_equal(topic_line_size(t, 0), 10);
	assert_int_equal(fs_file_write(w, "ij", 2, 10, O_WRONLY | O_APPEND, 7), 2);
	fs_file_release(&f->fs, w); /* no close of its own came: released */
	assert_int_equal(topic_line_size(t, 0), 13);
	topic_put(t);
}

/* buffer.memory of 64 KiB: two unfinished lines of 20,000 bytes hold it
 * all (each buffer a power of two: 32 KiB). */
static int setup_small_buffer(void **state)
{
	setup_buffer_memory = 64 << 10;
	int rc = setup(state);

	setup_buffer_memory = 0;
	return rc;
}

/* A write that goes on with an unfinished line and fails (ENOBUFS here:
 * buffer.memory full) keeps nothing of itself; the writer that closes
 * then has not written that line's front alone, so the close drops it
 * (and says the error again) rather than append a record cut short.
 * Made again once there is room, the write is taken and the line is
 * whole. */
static void test_failed_continuation_drops_line(void **state)
{
	struct fx *f = *state;
	static char a[20000], b[20000];
	struct topic *t;
	struct fs_file *w1, *w2;
	const int fl = O_WRONLY | O_APPEND;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	assert_int_equal(broker_topic_create(f->fs.broker, "big", 0, 0, 0755, &t), 0);
	w1 = open_part(f, "big", "0", fl);
	w2 = open_part(f, "big", "0", fl);
	assert_int_equal(fs_file_write(w1, a, sizeof(a), 0, fl, 7), (ssize_t)sizeof(a));
	assert_int_equal(fs_file_write(w2, b, sizeof(b), 0, fl, 8), (ssize_t)sizeof(b));
	/* w1's line would need 64 KiB: refused. */
	assert_int_equal(fs_file_write(w1, a, sizeof(a), sizeof(a), fl, 7), -ENOBUFS);
	assert_int_equal(fs_file_flush(w1, 7, 0), -ENOBUFS); /* its close */
	assert_int_equal(topic_line_size(t, 0), 0);
	fs_file_release(&f->fs, w1);
	assert_int_equal(topic_line_size(t, 0), 0);

	/* The same refusal, then the write made again once w2's line has
	 * ended: one record of both writes. */
	w1 = open_part(f, "big", "0", fl);
	assert_int_equal(fs_file_write(w1, a, sizeof(a), 0, fl, 7), (ssize_t)sizeof(a));
	assert_int_equal(fs_file_write(w1, a, sizeof(a), sizeof(a), fl, 7), -ENOBUFS);
	assert_int_equal(fs_file_write(w2, "\n", 1, 0, fl, 8), 1); /* frees its 32 KiB */
	assert_int_equal(topic_line_size(t, 0), sizeof(b) + 1);
	assert_int_equal(fs_file_write(w1, a, sizeof(a), sizeof(a), fl, 7), (ssize_t)sizeof(a));
	assert_int_equal(fs_file_flush(w1, 7, 0), 0);
	assert_int_equal(topic_line_size(t, 0), sizeof(b) + 1 + 2 * sizeof(a) + 1);
	fs_file_release(&f->fs, w1);
	fs_file_release(&f->fs, w2);
	topic_put(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_write_at_shown_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_line_kept_at_others_close, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_continuation_drops_line,
						setup_small_buffer, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
