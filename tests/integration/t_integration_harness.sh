#!/bin/sh
# t_integration_harness.sh — how the harness fails a script on a
# sanitizer's report that no check of the script sees (a daemon's at
# unmount, its exit status unread), with programs built with
# -fsanitize=address,undefined as make asan builds mqfs:
#   - run.sh with SANITIZER_DIR (make asan): a program that leaks fails
#     its script, which exits 0, with the report shown; a clean one passes;
#   - lib.sh: a UBSan report in $LOG, where the daemons' stderr goes (UBSan
#     beside ASan writes to stderr whatever its log_path), fails the script
#     at cleanup, with or without SANITIZER_DIR.
# Without SANITIZER_DIR the leak passes: the failure is the check's.
# And with INTEGRATION_JOBS=2 two scripts run side by side, while one
# marked "# integration: alone" runs with nothing beside it. A script
# that times out shows its daemons' last errors and warnings. Needs no
# mount.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
mq_setup

suite=$MQ_TMP/suite
mkdir -p "$suite"
cat >"$MQ_TMP/leak.c" <<'EOC'
#include <stdlib.h>
void *volatile kept;
int main(void)
{
	kept = malloc(64);
	kept = NULL; /* the only pointer to it gone: a leak */
	return 0;
}
EOC
cat >"$MQ_TMP/ub.c" <<'EOC'
#include <limits.h>
int main(int argc, char **argv)
{
	volatile int big = INT_MAX;
	(void)argv;
	return (big + argc) == 0; /* signed overflow */
}
EOC
cat >"$MQ_TMP/clean.c" <<'EOC'
#include <stdlib.h>
int main(void)
{
	free(malloc(64));
	return 0;
}
EOC
for p in leak ub clean; do
	expect_ok "cc -fsanitize=address,undefined $p.c" cc -O0 -g -fsanitize=address,undefined \
		-o "$MQ_TMP/$p" "$MQ_TMP/$p.c"
	# Exit 0 whatever the program's status: what the check sees is the report.
	printf '#!/bin/sh\n"%s" || true\nexit 0\n' "$MQ_TMP/$p" >"$suite/t_$p.sh"
done
# The UBSan program as a daemon runs: its output in lib.sh's $LOG.
cat >"$suite/t_ub.sh" <<EOC
#!/bin/sh
LIBDIR=$LIBDIR
. "\$LIBDIR/lib.sh"
mq_setup
"$MQ_TMP/ub" >>"\$LOG" 2>&1
ok "ub ran"
mq_done
EOC

# Each run without the caller's sanitizer settings: the outer run.sh's
# log_path would catch these reports as this script's.
run_suite() {
	env -u ASAN_OPTIONS -u UBSAN_OPTIONS -u SANITIZER_DIR INTEGRATION_DIR="$suite" "$@" \
		sh "$LIBDIR/run.sh" "${MQFS:-/bin/true}" >"$MQ_TMP/out" 2>&1
}

fails=$MQ_FAIL
run_suite SANITIZER_DIR="$MQ_TMP/san"
expect_eq "with SANITIZER_DIR: run.sh fails" "1" "$?"
expect_eq "the clean script passes" "1" "$(grep -c '^--- t_clean.sh: PASS' "$MQ_TMP/out")"
expect_eq "the leaking script fails on its report" "1" \
	"$(grep -c '^--- t_leak.sh: FAIL (sanitizer report' "$MQ_TMP/out")"
expect_eq "the UBSan script fails at its cleanup" "1" \
	"$(grep -c '^--- t_ub.sh: FAIL (exit status 1' "$MQ_TMP/out")"
expect_eq "the leak report is shown" "yes" \
	"$(grep -q '^# .*ERROR: LeakSanitizer: detected memory leaks' "$MQ_TMP/out" && echo yes || echo no)"
expect_eq "the UBSan report is shown" "yes" \
	"$(grep -q '^    | .*runtime error: signed integer overflow' "$MQ_TMP/out" && echo yes || echo no)"
expect_eq "the summary counts them" "1" \
	"$(grep -c '^integration: 1 passed, 2 failed$' "$MQ_TMP/out")"
[ "$MQ_FAIL" -eq "$fails" ] || sed 's/^/# run.sh: /' "$MQ_TMP/out"

fails=$MQ_FAIL
run_suite
expect_eq "without SANITIZER_DIR: run.sh fails" "1" "$?"
expect_eq "on the UBSan report in \$LOG only" "1" \
	"$(grep -c '^integration: 2 passed, 1 failed$' "$MQ_TMP/out")"
expect_eq "the leak passes" "1" "$(grep -c '^--- t_leak.sh: PASS' "$MQ_TMP/out")"
[ "$MQ_FAIL" -eq "$fails" ] || sed 's/^/# run.sh: /' "$MQ_TMP/out"

# A script that run.sh's timeout ends (TERM) shows its daemons' last
# errors and warnings, which its own output would not name.
hang=$MQ_TMP/hang
mkdir -p "$hang"
cat >"$hang/t_hang.sh" <<EOC
#!/bin/sh
LIBDIR=$LIBDIR
. "\$LIBDIR/lib.sh"
mq_setup
echo "2026-12-07 10:55:50.055 ERROR fuse: the requests refused get no answer" >>"\$LOG"
echo "2026-12-07 10:55:51.000 WARN fetcher: broker 2 unreachable" >>"\$LOG"
echo "2026-12-07 10:55:52.000 INFO an ordinary line" >>"\$LOG"
sleep 60
EOC
env -u SANITIZER_DIR INTEGRATION_DIR="$hang" INTEGRATION_TIMEOUT=2 \
	sh "$LIBDIR/run.sh" "${MQFS:-/bin/true}" >"$MQ_TMP/out" 2>&1
expect_eq "a script that times out fails" "1" "$(grep -c '^--- t_hang.sh: FAIL (timed out' "$MQ_TMP/out")"
expect_eq "its daemons' error is shown" "1" \
	"$(grep -c '^#   .* ERROR fuse: the requests refused get no answer$' "$MQ_TMP/out")"
expect_eq "and their warning" "1" "$(grep -c '^#   .* WARN fetcher: broker 2 unreachable$' "$MQ_TMP/out")"
expect_eq "not the other lines" "0" "$(grep -c 'an ordinary line' "$MQ_TMP/out")"
grep -q 'ERROR fuse' "$MQ_TMP/out" || sed 's/^/# run.sh: /' "$MQ_TMP/out"

# Side by side: t_a and t_b each wait for the other to have started; t_c,
# alone, watches for a start beside it (it lingers 3 s for one to show),
# and t_d checks that t_c had ended when it began.
par=$MQ_TMP/par
mkdir -p "$par/suite"
for x in a b; do
	y=$([ $x = a ] && echo b || echo a)
	cat >"$par/suite/t_$x.sh" <<EOC
#!/bin/sh
: >"$par/started.$x"
i=0
until [ -e "$par/started.$y" ]; do
	i=\$((i + 1)); [ \$i -le 200 ] || { echo "t_$y never ran beside t_$x"; exit 1; }
	sleep 0.1
done
EOC
done
cat >"$par/suite/t_c.sh" <<EOC
#!/bin/sh
# integration: alone (the harness's own check)
i=0
while [ \$i -lt 30 ]; do
	[ -e "$par/started.d" ] && { echo "t_d started beside t_c"; exit 1; }
	i=\$((i + 1)); sleep 0.1
done
: >"$par/done.c"
EOC
cat >"$par/suite/t_d.sh" <<EOC
#!/bin/sh
: >"$par/started.d"
[ -e "$par/done.c" ] || { echo "t_d began before t_c ended"; exit 1; }
EOC
env -u SANITIZER_DIR INTEGRATION_DIR="$par/suite" INTEGRATION_JOBS=2 \
	sh "$LIBDIR/run.sh" "${MQFS:-/bin/true}" >"$MQ_TMP/out" 2>&1
expect_eq "INTEGRATION_JOBS=2: run.sh passes" "0" "$?"
expect_eq "two scripts side by side, one alone" "1" \
	"$(grep -c '^integration: 4 passed, 0 failed$' "$MQ_TMP/out")"
grep -q '^integration: 4 passed' "$MQ_TMP/out" || sed 's/^/# run.sh: /' "$MQ_TMP/out"

mq_done
