/*
 * logfx.c — see logfx.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/logfx.h"

#define FAKE_EPOCH 1700000000000LL

int64_t fake_now = FAKE_EPOCH;

static int64_t fake_clock(void)
{
	return fake_now;
}

char logfx_reports[8192];

static void logfx_report(int level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	size_t n = strlen(logfx_reports);
	snprintf(logfx_reports + n, sizeof(logfx_reports) - n, "%d %s\n", level, line);
	if (getenv("LOGFX_VERBOSE"))
		fprintf(stderr, "engine: %d %s\n", level, line);
}

void logfx_put(struct logfx *f, int from, int n, int per)
{
	static char vals[4096][32];
	struct rec_in r[4096];
	assert_true(per <= 4096);
	for (int i = 0; i < n;) {
		int k = 0;
		for (; k < per && i < n; k++, i++) {
			int len = snprintf(vals[k], sizeof(vals[k]), "value-%d", from + i);
			r[k] = (struct rec_in){ NULL, -1, vals[k], len, fake_now + from + i };
		}
		/* In the log's latest epoch, as its leader would (the engine
		 * refuses an append behind it: LOG_EPOCH_BEHIND). */
		struct log_offsets lo;
		log_get_offsets(f->l, &lo);
		assert_int_equal(
			log_append(f->l, r, k, lo.leader_epoch > 0 ? lo.leader_epoch : 0, NULL), 0);
	}
	struct log_state st;
	log_get_state(f->l, &st);
	assert_int_equal(log_set_hw(f->l, st.log_end_offset), 0);
}

void logfx_open(struct logfx *f)
{
	assert_int_equal(logmgr_open(f->dir, &f->fio.ops, &f->m), 0);
	assert_int_equal(logmgr_get_log(f->m, "t", 0, &f->cfg, true, &f->l), 0);
}

/* The shell command cmd (a copy or a removal of a test directory). */
static void run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

void logfx_keep(struct logfx *f)
{
	char cmd[1200];

	logmgr_close(f->m);
	f->m = NULL;
	snprintf(cmd, sizeof(cmd), "rm -rf %s-orig && cp -a %s %s-orig", f->dir, f->dir, f->dir);
	run(cmd);
}

void logfx_restore(struct logfx *f, int point)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -a %s-orig %s", f->dir, f->dir, f->dir);
	run(cmd);
	faultio_free(&f->fio);
	faultio_init(&f->fio);
	logfx_open(f);
	f->fio.die_countdown = point;
}

void logfx_power_cut(struct logfx *f, unsigned seed)
{
	logmgr_abandon(f->m);
	faultio_crash(&f->fio, 1, seed);
	f->fio.dead = false;
	f->fio.die_countdown = 0;
	logfx_open(f);
}

void logfx_drop_copy(struct logfx *f)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf %s-orig", f->dir);
	run(cmd);
}

int logfx_setup(void **state, const char *tag, void (*tune)(struct log_config *cfg))
{
	struct logfx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mqfs-test-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(f->dir));
	faultio_init(&f->fio);
	log_config_defaults(&f->cfg);
	if (tune)
		tune(&f->cfg);
	fake_now = FAKE_EPOCH;
	engine_now_ms = fake_clock;
	engine_log = logfx_report;
	logfx_reports[0] = '\0';
	logfx_open(f);
	*state = f;
	return 0;
}

int logfx_teardown(void **state)
{
	struct logfx *f = *state;
	if (f->m)
		logmgr_close(f->m);
	faultio_free(&f->fio);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}
