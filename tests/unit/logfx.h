/*
 * logfx.h — the fixture the engine's log tests share: a temporary data
 * directory with a log manager and one log ("t", partition 0) opened through
 * the fault-injecting I/O table (faultio.h), and a fake clock.
 */
#ifndef MQFS_TESTS_LOGFX_H
#define MQFS_TESTS_LOGFX_H

#include "engine/engine.h"
#include "tests/unit/faultio.h"

struct logfx {
	char dir[256];
	struct faultio fio;
	struct logmgr *m;
	struct log *l;
	struct log_config cfg;
};

/* The engine's clock while a fixture is set up; tests move it. */
extern int64_t fake_now;

/* What the engine reported (engine_log) since the setup, a line each:
 * "<level> <text>". LOGFX_VERBOSE=1 in the environment prints them too. */
extern char logfx_reports[8192];

/* cmocka setup: a new fixture in *state, the log opened with the default
 * config changed by tune (may be NULL); tag names the temp directory. */
int logfx_setup(void **state, const char *tag, void (*tune)(struct log_config *cfg));
/* cmocka teardown: closes cleanly (if still open) and removes the dir. */
int logfx_teardown(void **state);
/* Appends records from..from+n-1 ("value-<i>", timestamp fake_now + i),
 * per records an append (per <= 4096) in the log's latest leader epoch
 * (0 when none is above), and commits them (hw = LEO). */
void logfx_put(struct logfx *f, int from, int n, int per);
/* (Re)opens the log manager and the log with f->cfg. */
void logfx_open(struct logfx *f);

/* Crash-point loops. logfx_keep closes the manager and copies the data
 * directory aside; logfx_restore puts that copy back and reopens with a
 * fresh I/O table that dies at the point-th mutating call from then on
 * (faultio's die_countdown); logfx_power_cut abandons the manager (a kill
 * -9), loses or tears what was not synced (faultio_crash with seed) and
 * reopens; logfx_drop_copy removes the copy. */
void logfx_keep(struct logfx *f);
void logfx_restore(struct logfx *f, int point);
void logfx_power_cut(struct logfx *f, unsigned seed);
void logfx_drop_copy(struct logfx *f);

#endif
