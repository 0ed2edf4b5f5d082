#!/bin/sh
# t_make_cluster.sh — what `make cluster` runs (contrib/cluster/run.sh), as
# README's "A local cluster" tells a user to use it: started in the
# foreground of a terminal (its own process group, SIGINT not ignored), it
# prints the ZooKeeper and the three brokers it started; each mount's root
# .state lists three live brokers, with the settings of the user's
# local.properties files; README's --add-scram-user line works
# against its ZooKeeper, for SCRAM-SHA-512 too (--scram-mechanism, with
# local.properties enabling it), and kcat logs in with either mechanism; a topic made on one mount is written through a
# second and followed by tail -f on the third, every mount's st_mtime
# moving with it; a broker killed with -9 is
# started again and comes back while the others go on; then Ctrl-C (SIGINT to the
# process group, as a terminal sends it) stops every broker cleanly
# (clean-shutdown markers, nothing mounted) and then ZooKeeper, and
# nothing it started is left running. A second run beside a live one
# says to Ctrl-C it; one beside the processes of a run killed with -9
# says they outlived it.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup
ROOT=$(cd "$LIBDIR/../.." && pwd -P)
CL=$MQ_TMP/cluster
OUT=$MQ_TMP/run.out
ZKPORT=$(zk_free_port)

expect_ok "make cluster runs contrib/cluster/run.sh" \
	grep -q 'sh contrib/cluster/run.sh' "$ROOT/Makefile"

# Whatever happens, nothing the script started outlives the test: the
# script itself by SIGTERM (its own clean stop), then the pids it printed
# and those of CL/pids (a run that should have refused at once and started
# a cluster instead). Only a pid that is still one of them is signalled:
# pids wrap within minutes on a busy machine (32768 of them), and one
# printed before a kill -9 or a stop may be another program's by now.
started_pids() {
	sed -n 's/.*(pid \([0-9]*\)[,)].*/\1/p' "$OUT" 2>/dev/null | sort -u
}
# names PID TEXT: the command line of PID holds TEXT.
names() {
	grep -q "$2" "/proc/$1/cmdline" 2>/dev/null
}
t_cleanup() {
	if [ -n "${RUNPID:-}" ] && names "$RUNPID" cluster/run.sh; then
		kill -TERM "$RUNPID" 2>/dev/null
		proc_wait_exit "$RUNPID" 60
	fi
	for p in $(started_pids) $(cat "$CL/pids" 2>/dev/null); do
		names "$p" "$CL" && kill -KILL "$p" 2>/dev/null
	done
	for n in 1 2 3; do
		mountpoint -q "$CL/mnt$n" 2>/dev/null && fusermount3 -u -z "$CL/mnt$n"
	done
	_mq_cleanup "$1"
}
trap 't_cleanup $?' EXIT
trap 't_cleanup 130' INT
trap 't_cleanup 143' TERM

CLUSTER_DIR=$CL
CLUSTER_ZK_PORT=$ZKPORT
export CLUSTER_DIR CLUSTER_ZK_PORT
# The user's settings (README: local.properties), which the run adds to
# the server.properties it writes: a selector and both SCRAM mechanisms
# for every broker, a rack each.
mkdir -p "$CL/b1" "$CL/b2" "$CL/b3"
printf '%s\n' replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector \
	sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512 >"$CL/local.properties"
for n in 1 2 3; do
	printf 'broker.rack=r%s' "$n" >"$CL/b$n/local.properties" # no last newline
done
# A terminal runs make in a process group of its own with SIGINT at its
# default (a background job of this shell would have it ignored, and a
# shell cannot trap a signal ignored at its start).
python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setpgid(0, 0)
os.execvp("sh", ["sh", sys.argv[1], sys.argv[2]])' \
	"$ROOT/contrib/cluster/run.sh" "$(dirname "$MQFS")" >"$OUT" 2>&1 </dev/null &
RUNPID=$!

running() { grep -q 'running; Ctrl-C stops' "$OUT" 2>/dev/null; }
check "the cluster is up" poll 150 running
cat "$OUT"
expect_ok "it prints ZooKeeper's address" grep -q "^make cluster: ZooKeeper on 127.0.0.1:$ZKPORT (pid [0-9]*" "$OUT"
expect_eq "it prints three brokers" 3 "$(grep -c '^make cluster: broker [123] (pid [0-9]*): SASL_PLAINTEXT://127.0.0.1:[0-9]*, mounted on ' "$OUT")"

# A second make cluster in the same directory names the running one.
# Each run below must refuse at once; one that does not would start a
# cluster and run until stopped: bounded (SIGTERM is its clean stop), so
# that it fails its check with its output instead of taking the script's
# whole time. The refusal takes a second, even under ASan on a loaded
# machine (nothing it runs before it is built with ASan).
refusing() {
	timeout -k 30 60 "$@"
}
refusing sh "$ROOT/contrib/cluster/run.sh" "$(dirname "$MQFS")" >"$MQ_TMP/second.out" 2>&1 </dev/null
expect_eq "a second run exits 1" 1 "$?"
expect_ok "a second run names the pids still running" \
	grep -q "an earlier make cluster in $CL is still running (pids [0-9 ]*): Ctrl-C it, or kill [0-9 ]*\$" "$MQ_TMP/second.out"

# Started with SIGINT ignored (make cluster & in a script: a shell without
# job control starts its background jobs so), Ctrl-C cannot stop it, and
# it says so with what will; with SIGINT at its default it says nothing.
run_sigint() {
	refusing python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, getattr(signal, sys.argv[1]))
os.execvp("sh", ["sh", sys.argv[2], sys.argv[3]])' "$1" \
		"$ROOT/contrib/cluster/run.sh" "$(dirname "$MQFS")" </dev/null 2>&1
}
run_sigint SIG_IGN >"$MQ_TMP/ign.out"
expect_ok "started with SIGINT ignored: it says Ctrl-C will not stop it, and what will" \
	grep -q "^make cluster: SIGINT is ignored in this process (.*), so Ctrl-C will not stop it: kill -TERM [0-9]* (or make's pid) will\$" "$MQ_TMP/ign.out"
run_sigint SIG_DFL >"$MQ_TMP/dfl.out"
expect_ok "started with SIGINT at its default: no such line" sh -c "! grep -q 'SIGINT is ignored' '$MQ_TMP/dfl.out'"
expect_ok "the running line names the pid to kill from another shell" \
	grep -q "^make cluster: running; Ctrl-C stops the brokers, then ZooKeeper (from another shell: kill $RUNPID)\$" "$OUT"

for n in 1 2 3; do
	expect_eq "mnt$n/.state lists three live brokers" 3 \
		"$(mq_run grep -c '^broker\.[0-9]*=alive SASL_PLAINTEXT' "$CL/mnt$n/.state")"
	# Its config holds admin's password: readable by root alone, and so
	# without the broker's warning of a password every user may read.
	expect_eq "b$n/server.properties is 0600" 600 "$(stat -c %a "$CL/b$n/server.properties")"
	expect_ok "mnt1/.state: broker $n in its rack r$n, from b$n/local.properties" \
		grep -q "^broker\.$n=alive SASL_PLAINTEXT://127.0.0.1:[0-9]* rack=r$n\$" \
		"$CL/mnt1/.state"
	expect_ok "mnt$n/.config: the selector of local.properties" grep -qx \
		replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector \
		"$CL/mnt$n/.config"
	expect_ok "broker $n logs no warning of a readable password" \
		sh -c "! grep -q 'holds a password' '$CL/b$n/mqfs.log'"
done
# README's SCRAM user lines: a user added is let in by the listeners,
# one deleted is not (the brokers' own admin stays).
PORT1=$(sed -n 's/^make cluster: broker 1 (pid [0-9]*): SASL_PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p' "$OUT")
kcat_alice() {
	timeout 20 kcat -L -b "127.0.0.1:$PORT1" -m 5 -X security.protocol=SASL_PLAINTEXT \
		-X sasl.mechanism=SCRAM-SHA-256 -X sasl.username=alice -X sasl.password=alice-secret \
		>/dev/null 2>&1
}
expect_ok "README's --add-scram-user line" sh -c \
	"echo alice-secret | timeout 30 '$MQFS' --zookeeper 127.0.0.1:$ZKPORT/mqfs --add-scram-user alice"
check "kcat -L as alice" poll 30 kcat_alice
expect_ok "README's --delete-scram-user line" \
	"$MQFS" --zookeeper "127.0.0.1:$ZKPORT/mqfs" --delete-scram-user alice
not_alice() { ! kcat_alice; }
check "alice is refused once deleted" poll 30 not_alice
# The same through the listener (kafka-configs.sh --bootstrap-server's
# AlterUserScramCredentials and DescribeUserScramCredentials): only the
# brokers' user may change users; a user set so is let in by kcat.
# Only the active controller alters users (Kafka's ZooKeeper mode): the
# others answer NOT_CONTROLLER, and a client (kafka-configs.sh, kcat's
# librdkafka) sends the request again to the controller Metadata names;
# alter goes to the broker whose mount says it is the controller.
port_of() { sed -n "s/^make cluster: broker $1 (pid [0-9]*): SASL_PLAINTEXT:\/\/127.0.0.1:\([0-9]*\),.*/\1/p" "$OUT"; }
controller() {
	for _n in 1 2 3; do
		grep -qx 'controller.active=yes' "$CL/mnt$_n/.state" 2>/dev/null && echo "$_n" && return 0
	done
	return 1
}
check "a controller" poll 30 controller
C=$(controller)
OTHER=$((C % 3 + 1))
scram_at() { # scram_at PORT describe|alter AS PASSWORD ARGS...
	_p=$1 _c=$2 _u=$3 _pw=$4
	shift 4
	timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" "scram-$_c" 127.0.0.1 "$_p" "$_u" "$_pw" "$@" 2>&1
}
scram() { scram_at "$(port_of "$(controller || echo "$C")")" "$@"; } # the controller now
expect_eq "AlterUserScramCredentials to broker $OTHER (not the controller): NOT_CONTROLLER" "alice 41" \
	"$(scram_at "$(port_of "$OTHER")" alter admin admin-secret set alice alice-secret 8192)"
check "NOT_CONTROLLER logged" grep -q "AlterUserScramCredentials from 127.0.0.1:[0-9]*: NOT_CONTROLLER" "$CL/b$OTHER/mqfs.log"
expect_eq "AlterUserScramCredentials as admin: alice set" "alice 0" \
	"$(scram alter admin admin-secret set alice alice-secret 8192)"
check "kcat -L as alice, set through the listener" poll 30 kcat_alice
expect_eq "DescribeUserScramCredentials: every user, sorted, SCRAM-SHA-256 (1) with iterations" \
	"error 0|admin 0 1:4096|alice 0 1:8192" "$(scram describe admin admin-secret - | paste -sd'|' -)"
expect_eq "DescribeUserScramCredentials of alice, bob (none) and alice again" \
	"error 0|alice 92 -|bob 91 -" "$(scram describe alice alice-secret alice,bob,alice | paste -sd'|' -)"
expect_eq "alice may not change users: CLUSTER_AUTHORIZATION_FAILED" "bob 31" \
	"$(scram alter alice alice-secret set bob bob-secret 4096)"
check "logged" grep -q "AlterUserScramCredentials from 127.0.0.1:[0-9]* (user alice) refused: only the brokers' user may change SCRAM users" "$CL/b$C/mqfs.log"
expect_eq "too few iterations: UNACCEPTABLE_CREDENTIAL" "bob 93" \
	"$(scram alter admin admin-secret set bob bob-secret 100)"
expect_eq "alice deleted through the listener" "alice 0" \
	"$(scram alter admin admin-secret delete alice - 0)"
check "alice is refused once deleted through the listener" poll 30 not_alice
expect_eq "deleting her again: RESOURCE_NOT_FOUND" "alice 91" \
	"$(scram alter admin admin-secret delete alice - 0)"

# SCRAM-SHA-512, enabled by local.properties: a user's credential of each
# mechanism lets kcat in with that mechanism only, from mqfs
# --scram-mechanism or through the listener (Kafka's mechanism 2, keys of
# 64 bytes), kept beside each other in /config/users/<user>.
kcat_as() { # kcat_as MECHANISM USER PASSWORD
	timeout 20 kcat -L -b "127.0.0.1:$PORT1" -m 5 -X security.protocol=SASL_PLAINTEXT \
		-X sasl.mechanism="$1" -X sasl.username="$2" -X sasl.password="$3" >/dev/null 2>&1
}
not_kcat_as() { ! kcat_as "$@"; }
expect_ok "--scram-mechanism SCRAM-SHA-512 --add-scram-user carol" sh -c \
	"echo carol-secret | timeout 30 '$MQFS' --zookeeper 127.0.0.1:$ZKPORT/mqfs --scram-mechanism SCRAM-SHA-512 --add-scram-user carol"
check "kcat -L as carol with SCRAM-SHA-512" poll 30 kcat_as SCRAM-SHA-512 carol carol-secret
check "carol has no SCRAM-SHA-256 credential: refused" not_kcat_as SCRAM-SHA-256 carol carol-secret
check "a wrong password with SCRAM-SHA-512: refused" not_kcat_as SCRAM-SHA-512 carol carol-secrets
check "logged with its mechanism" grep -q "authenticated as carol (SCRAM-SHA-512)" \
	"$CL/b1/mqfs.log"
expect_eq "DescribeUserScramCredentials of carol: SCRAM-SHA-512 (2)" "error 0|carol 0 2:4096" \
	"$(scram describe admin admin-secret carol | paste -sd'|' -)"
expect_eq "AlterUserScramCredentials: carol's SCRAM-SHA-256 beside it" "carol 0" \
	"$(scram alter admin admin-secret set carol carol-256 8192 SCRAM-SHA-256)"
check "kcat -L as carol with SCRAM-SHA-256" poll 30 kcat_as SCRAM-SHA-256 carol carol-256
check "and still with SCRAM-SHA-512" kcat_as SCRAM-SHA-512 carol carol-secret
expect_eq "both described, SCRAM-SHA-256 first" "error 0|carol 0 1:8192,2:4096" \
	"$(scram describe admin admin-secret carol | paste -sd'|' -)"
expect_eq "AlterUserScramCredentials: carol's SCRAM-SHA-512 set again" "carol 0" \
	"$(scram alter admin admin-secret set carol carol-512 16384 SCRAM-SHA-512)"
check "kcat -L as carol with the new SCRAM-SHA-512 password" poll 30 \
	kcat_as SCRAM-SHA-512 carol carol-512
expect_eq "too many iterations for SCRAM-SHA-512: UNACCEPTABLE_CREDENTIAL" "carol 93" \
	"$(scram alter admin admin-secret set carol carol-512 16385 SCRAM-SHA-512)"
expect_eq "--delete-scram-user carol's SCRAM-SHA-512" "SCRAM user carol deleted (SCRAM-SHA-512)" \
	"$("$MQFS" --zookeeper "127.0.0.1:$ZKPORT/mqfs" --scram-mechanism SCRAM-SHA-512 \
		--delete-scram-user carol 2>&1)"
check "carol is refused with SCRAM-SHA-512 once deleted" poll 30 \
	not_kcat_as SCRAM-SHA-512 carol carol-512
check "and let in with SCRAM-SHA-256" kcat_as SCRAM-SHA-256 carol carol-256
OUT512=$("$MQFS" --zookeeper "127.0.0.1:$ZKPORT/mqfs" --scram-mechanism SCRAM-SHA-512 \
	--delete-scram-user carol 2>&1)
expect_eq "deleting it again: exit 1, said" \
	"mqfs: /config/users/carol: no such user with a credential of SCRAM-SHA-512|1" "$OUT512|$?"
OUT512=$("$MQFS" --zookeeper "127.0.0.1:$ZKPORT/mqfs" --scram-mechanism SCRAM-SHA-1 \
	--delete-scram-user carol 2>&1)
expect_eq "--scram-mechanism of another name: exit 1, said" \
	"mqfs: mechanism 'SCRAM-SHA-1': expected SCRAM-SHA-256 or SCRAM-SHA-512|1" "$OUT512|$?"
expect_eq "carol's SCRAM-SHA-256 deleted through the listener" "carol 0" \
	"$(scram alter admin admin-secret delete carol - 0 SCRAM-SHA-256)"
check "carol is refused with SCRAM-SHA-256 too" poll 30 not_kcat_as SCRAM-SHA-256 carol carol-256

expect_ok "mkdir a topic on mnt1" mkdir "$CL/mnt1/orders"
check "mnt3 lists it" poll 30 test -e "$CL/mnt3/orders/0"
expect_ok "a write through mnt2" sh -c "echo hello >> '$CL/mnt2/orders/0'"
mq_bg sh -c "exec timeout 60 tail -f '$CL/mnt3/orders/0' > '$MQ_TMP/tail.out'"
TAILPID=$MQ_LAST_PID
check "tail -f on mnt3 shows it" poll 30 grep -qx hello "$MQ_TMP/tail.out"
# st_mtime is the latest append on every mount, the followers' too (whose
# records come from the leader, not from a write): ls -lt, find -newer and
# make see the file change wherever they look.
now_ms() { python3 -c 'import time; print(time.time_ns() // 1000000)'; }
mtime_ms() { python3 -c 'import os, sys; print(os.stat(sys.argv[1]).st_mtime_ns // 1000000)' "$1"; }
newer() { [ "$(mtime_ms "$1")" -ge "$2" ]; }
T0=$(now_ms)
expect_ok "a later write through mnt1" sh -c "echo world >> '$CL/mnt1/orders/0'"
check "tail -f on mnt3 follows it" poll 30 grep -qx world "$MQ_TMP/tail.out"
for n in 1 2 3; do
	check "mnt$n/orders/0: st_mtime moved to the write's time" poll 30 newer "$CL/mnt$n/orders/0" "$T0"
done

# A group's .state shows its settings as the coordinator has them on every
# mount, also on one whose proxy of it never read .config (made by this
# lookup, with the defaults): the strategy set through mnt1.
expect_ok "mkdir a group on mnt1" mkdir "$CL/mnt1/orders/.groups/s"
expect_ok "commit an offset through mnt1" sh -c "echo 1 > '$CL/mnt1/orders/.groups/s/0'"
expect_ok "set its strategy through mnt1" \
	sh -c "echo partition.assignment.strategy=sticky > '$CL/mnt1/orders/.groups/s/.config'"
for n in 1 2 3; do
	expect_eq "mnt$n/orders/.groups/s/.state shows the strategy" \
		"partition.assignment.strategy sticky" \
		"$(grep '^partition.assignment.strategy' "$CL/mnt$n/orders/.groups/s/.state")"
done
mq_stop "$TAILPID"

PIDS=$(started_pids)
expect_eq "four processes started" 4 "$(echo "$PIDS" | wc -w)"

# kill -9 of a broker: the script starts it again and the others go on;
# the new process waits out the dead one's ZooKeeper session (18 s by
# default) and mounts.
P3=$(sed -n 's/^make cluster: broker 3 (pid \([0-9]*\)):.*/\1/p' "$OUT")
kill -KILL "$P3"
back() { grep -q "^make cluster: broker 3 (pid [0-9]*) is back, mounted on $CL/mnt3\$" "$OUT"; }
restarted() { grep -q "^make cluster: broker 3 (pid $P3) exited 137 by itself; started again (pid [0-9]*)" "$OUT"; }
check "kill -9 of broker 3: started again" poll 30 restarted
# While the new process waits out the dead one's session, the dead mount
# still answers ENOTCONN: a bare directory in its place would take a mkdir
# (or a file) that the new mount then hides, acknowledged and lost.
check "broker 3 waits for its old registration to go" \
	poll 30 grep -q '/brokers/ids/3 is held by ZooKeeper session' "$CL/b3/mqfs.log"
if ! back; then
	if mkdir "$CL/mnt3/stray" 2>"$MQ_TMP/stray.err"; then
		back || fail "mnt3 refuses a mkdir while broker 3 restarts" \
			"it made a directory under the mount point"
	else
		expect_ok "mnt3 answers ENOTCONN while broker 3 restarts" \
			grep -q 'Transport endpoint is not connected' "$MQ_TMP/stray.err"
	fi
fi
check "and back, mounted" poll 90 back
expect_ok "the write through mnt2 goes on meanwhile" sh -c "echo again >> '$CL/mnt2/orders/0'"
check "mnt3/.state lists three live brokers again" \
	poll 60 sh -c "[ \"\$(timeout 5 grep -c '^broker\.[0-9]*=alive SASL' '$CL/mnt3/.state')\" = 3 ]"
check "mnt3 reads the three records" poll 60 sh -c "[ \"\$(timeout 5 cat '$CL/mnt3/orders/0' | tr '\n' ' ')\" = 'hello world again ' ]"
expect_ok "the script is still running" kill -0 "$RUNPID"
PIDS=$(started_pids)
expect_eq "five processes started, the restart among them" 5 "$(echo "$PIDS" | wc -w)"
# Ctrl-C: SIGINT to the foreground process group.
kill -INT -"$RUNPID"
if proc_wait_exit "$RUNPID" 120; then
	expect_eq "Ctrl-C: the script exits 0" 0 "$PROC_RC"
else
	fail "Ctrl-C: the script exits" "still running 120 s after SIGINT"
fi
cat "$OUT"
for n in 1 2 3; do
	expect_ok "broker $n stopped and unmounted" grep -q "^make cluster: broker $n stopped, " "$OUT"
	expect_ok "broker $n: nothing mounted on mnt$n" sh -c "! mountpoint -q '$CL/mnt$n'"
	if [ -e "$CL/b$n/data/.clean-shutdown" ]; then
		ok "broker $n: clean-shutdown marker"
	else
		fail "broker $n: clean-shutdown marker" "missing; the end of b$n/mqfs.log:
$(tail -n 25 "$CL/b$n/mqfs.log" 2>/dev/null)"
	fi
done
expect_ok "nothing was left under mnt3 while broker 3 restarted" test ! -e "$CL/mnt3/stray"
expect_ok "ZooKeeper stopped last" sh -c "tail -n 1 '$OUT' | grep -qx 'make cluster: ZooKeeper stopped'"
# With no server there, a SCRAM user command fails in one line of its own
# (the ZooKeeper library's retries stay out of the terminal).
"$MQFS" --zookeeper "127.0.0.1:$ZKPORT/mqfs" --delete-scram-user alice >/dev/null 2>"$MQ_TMP/noserver.err"
expect_eq "no ZooKeeper: --delete-scram-user exits 1" 1 "$?"
expect_eq "no ZooKeeper: one line saying so" \
	"mqfs: ZooKeeper 127.0.0.1:$ZKPORT/mqfs: Connection timed out" "$(cat "$MQ_TMP/noserver.err")"

left=""
for p in $PIDS; do
	[ -d "/proc/$p" ] && left="$left $p"
done
expect_eq "nothing left running" "" "$left"
expect_ok "a clean stop leaves no run.pid" test ! -e "$CL/run.pid"

# A run killed with -9 leaves its processes with no one to Ctrl-C: the
# next run says so. (A stand-in names the cluster directory as a broker
# does; the killed run's pid is one that has exited.)
mq_bg python3 -c 'import time; time.sleep(600)' "$CL"
STANDIN=$MQ_LAST_PID
sh -c 'exit 0' &
DEAD=$!
wait "$DEAD"
echo "$STANDIN" >"$CL/pids"
echo "$DEAD" >"$CL/run.pid"
check "the stand-in names the cluster directory" poll 10 grep -q "$CL" "/proc/$STANDIN/cmdline"
refusing sh "$ROOT/contrib/cluster/run.sh" "$(dirname "$MQFS")" >"$MQ_TMP/third.out" 2>&1 </dev/null
expect_eq "after a kill -9 of the run: exits 1" 1 "$?"
expect_eq "it names what outlived the killed run" \
	"make cluster: the brokers and ZooKeeper of an earlier make cluster in $CL outlived it (pids $STANDIN): kill $STANDIN" \
	"$(cat "$MQ_TMP/third.out")"
mq_stop "$STANDIN"
rm -f "$CL/pids" "$CL/run.pid"
mq_done
