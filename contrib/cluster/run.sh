#!/bin/sh
# contrib/cluster/run.sh BUILD — what `make cluster` runs: a local ZooKeeper
# and three brokers on loopback, mounted, in the foreground until SIGINT
# (Ctrl-C), SIGTERM or SIGHUP.
#
#   CLUSTER_DIR/zk            ZooKeeper's data, zoo.cfg and zk.log
#   CLUSTER_DIR/bN/           broker N's server.properties, data/ and mqfs.log
#   CLUSTER_DIR/local.properties, CLUSTER_DIR/bN/local.properties
#                             the user's settings, added to every broker's /
#                             broker N's server.properties at each start
#   CLUSTER_DIR/mntN          broker N's mount
#
# CLUSTER_DIR defaults to ./cluster, ZooKeeper's port to 2181
# (CLUSTER_ZK_PORT), so that `mqfs --zookeeper 127.0.0.1:2181/mqfs ...`
# reaches it; the brokers' SASL_PLAINTEXT listeners take free ports, written
# into their configs at each start (the data stays). The SCRAM user admin
# (password admin-secret) is written to ZooKeeper before the brokers start:
# they authenticate to each other as it.
#
# Order matters both ways. ZooKeeper first, and the brokers only once it
# answers; at the stop the brokers first (each unmounts, closes its session
# and, with controlled shutdown, hands its leaderships over), ZooKeeper
# last, so that no broker waits for a server that is gone. The brokers and
# ZooKeeper run in sessions of their own (setsid): a terminal's Ctrl-C
# reaches make and this script only, and this script stops the others in
# that order. Anything that fails to start stops what was started and
# exits 1 naming it. A broker that exits by itself later is started again
# (the loop at the end).

set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
MQFS=$(cd "$BUILD" 2>/dev/null && pwd -P)/mqfs
DIR=${CLUSTER_DIR:-./cluster}
ZKPORT=${CLUSTER_ZK_PORT:-2181}
# shellcheck source=tests/zk.sh
. "$ROOT/tests/zk.sh"

say() { echo "make cluster: $*"; }
die() {
	say "$*" >&2
	stop
	exit 1
}

[ -x "$MQFS" ] || {
	say "no $MQFS: build it first (make)" >&2
	exit 1
}
# A non-interactive shell starts its background jobs with SIGINT ignored,
# and a shell cannot trap a signal ignored at its start: such a run (make
# cluster & in a script) would take a SIGINT, or a Ctrl-C of the terminal,
# without a word and go on running. Say so, and what stops it instead.
sigint_ignored() {
	_ign=$(sed -n 's/^SigIgn:[[:space:]]*//p' "/proc/$$/status" 2>/dev/null)
	[ -n "$_ign" ] && [ $((0x$_ign & 2)) != 0 ]
}
if sigint_ignored; then
	say "SIGINT is ignored in this process (started in the background by a shell without job control), so Ctrl-C will not stop it: kill -TERM $$ (or make's pid) will" >&2
fi
mkdir -p "$DIR" || exit 1
DIR=$(cd "$DIR" && pwd -P)

PIDS=""
ZK_UP=no
# alive PID: running, not a zombie (an exited child of this shell stays a
# zombie until waited for, and kill -0 still finds it).
alive() {
	[ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]
}
# stop: every broker gets SIGTERM (a clean stop: unmount, checkpoints,
# clean-shutdown marker) and is waited for, then ZooKeeper; a broker still
# running after 60 s is killed, its mount detached, and the stop fails.
stop() {
	trap '' INT TERM HUP
	rc=0
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null
	done
	for n in 1 2 3; do
		eval "p=\${PID$n:-}"
		[ -n "$p" ] || continue
		end=$(($(date +%s) + 60))
		while alive "$p" && [ "$(date +%s)" -lt "$end" ]; do
			sleep 0.1
		done
		if alive "$p"; then
			say "broker $n (pid $p) did not stop in 60 s: killed" >&2
			kill -KILL "$p" 2>/dev/null
			fusermount3 -u -z "$DIR/mnt$n" 2>/dev/null
			rc=1
		else
			wait "$p" 2>/dev/null
			brc=$?
			if [ "$brc" = 0 ]; then
				say "broker $n stopped, $DIR/mnt$n unmounted"
			else
				say "broker $n exited $brc (see $DIR/b$n/mqfs.log)" >&2
				rc=1
			fi
		fi
	done
	if [ "$ZK_UP" = yes ]; then
		zk_stop "$DIR/zk"
		say "ZooKeeper stopped"
	fi
	[ "$rc" != 0 ] || rm -f "$DIR/pids" "$DIR/run.pid"
	return $rc
}

# A ZooKeeper left running by an earlier run that was killed: say so
# rather than start a second server on a port that is taken.
# The processes of an earlier run in this directory (DIR/pids, kept while
# it runs) outlive a kill -9 of it, each in its own session: name them
# rather than start beside them.
left=""
for p in $(cat "$DIR/pids" 2>/dev/null); do
	grep -q "$DIR" "/proc/$p/cmdline" 2>/dev/null && left="$left $p"
done
if [ -n "$left" ]; then
	# Ctrl-C stops them only while the run that started them lives
	# (DIR/run.pid); after a kill -9 of it they are on their own.
	runpid=$(cat "$DIR/run.pid" 2>/dev/null)
	if [ -n "$runpid" ] && grep -q "cluster/run.sh" "/proc/$runpid/cmdline" 2>/dev/null; then
		say "an earlier make cluster in $DIR is still running (pids$left): Ctrl-C it, or kill$left" >&2
	else
		say "the brokers and ZooKeeper of an earlier make cluster in $DIR outlived it (pids$left): kill$left" >&2
	fi
	exit 1
fi
echo $$ >"$DIR/run.pid"
if zk_ruok "$ZKPORT"; then
	say "a ZooKeeper already answers on 127.0.0.1:$ZKPORT: stop it, or set CLUSTER_ZK_PORT" >&2
	exit 1
fi

trap 'stop; exit $?' INT TERM HUP

# zk_start runs the server as a background child; setsid keeps it out of
# the terminal's process group (no pid change: a child of a shell without
# job control is no group leader, so setsid execs in place).
zk_exec() {
	zk_config "$1" "$2" || return 1
	cp=$(zk_classpath) || return 1
	exec setsid java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-cp "$cp" org.apache.zookeeper.server.ZooKeeperServerMain \
		"$1/zoo.cfg" >>"$1/zk.log" 2>&1
}
zk_start "$DIR/zk" "$ZKPORT" || die "ZooKeeper did not start on 127.0.0.1:$ZKPORT (see $DIR/zk/zk.log)"
ZK_UP=yes
cat "$DIR/zk/zk.pid" >"$DIR/pids"
ZK=127.0.0.1:$ZKPORT/mqfs
say "ZooKeeper on 127.0.0.1:$ZKPORT (pid $(cat "$DIR/zk/zk.pid"), data $DIR/zk)"

echo admin-secret | "$MQFS" --zookeeper "$ZK" --add-scram-user admin >"$DIR/zk/scram.log" 2>&1 ||
	die "could not write the SCRAM user admin: $(cat "$DIR/zk/scram.log")"

# broker_run N: starts broker N in the background (its config written
# before), PIDN its pid; PIDS and DIR/pids list every pid.
broker_run() {
	setsid "$MQFS" -f --config "$DIR/b$1/server.properties" "$DIR/mnt$1" \
		>>"$DIR/b$1/mqfs.log" 2>&1 </dev/null &
	eval "PID$1=$!"
	PIDS=""
	for _n in 1 2 3; do
		eval "PIDS=\"\$PIDS \${PID$_n:-}\""
	done
	{ cat "$DIR/zk/zk.pid" && for _p in $PIDS; do echo "$_p"; done; } >"$DIR/pids"
}

for n in 1 2 3; do
	port=$(zk_free_port) || die "no free port for broker $n"
	eval "PORT$n=$port"
	mkdir -p "$DIR/b$n" "$DIR/mnt$n" || die "cannot make $DIR/b$n"
	# The config holds admin's password (sasl.jaas.config): made 0600, as
	# the broker asks of such a file (it warns at start when every user
	# may read it). An earlier run's file keeps its mode through the
	# rewrite below, hence the chmod rather than a umask.
	: >"$DIR/b$n/server.properties" && chmod 0600 "$DIR/b$n/server.properties" ||
		die "cannot write $DIR/b$n/server.properties"
	cat >"$DIR/b$n/server.properties" <<EOF
# Written by make cluster at each start (the listener's port changes).
broker.id=$n
log.dirs=$DIR/b$n/data
zookeeper.connect=$ZK
listeners=SASL_PLAINTEXT://127.0.0.1:$port
security.inter.broker.protocol=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";
default.replication.factor=3
min.insync.replicas=2
EOF
	# The user's own settings, kept across starts: DIR/local.properties
	# for every broker, then DIR/bN/local.properties for broker N alone
	# (its broker.rack); appended, so a key set there wins over the line
	# above (the last line of a key wins).
	for f in "$DIR/local.properties" "$DIR/b$n/local.properties"; do
		[ -f "$f" ] || continue
		{ printf '# From %s:\n' "$f" && cat "$f" && echo; } >>"$DIR/b$n/server.properties" ||
			die "cannot add $f to $DIR/b$n/server.properties"
	done
	broker_run "$n"
done

# Each mount is ready when its root .state lists the three brokers alive.
for n in 1 2 3; do
	eval "p=\$PID$n"
	end=$(($(date +%s) + 90))
	until [ "$(timeout 5 grep -c '^broker\.[0-9]*=alive ' "$DIR/mnt$n/.state" 2>/dev/null)" = 3 ]; do
		alive "$p" || die "broker $n exited at start; its log: $DIR/b$n/mqfs.log
$(tail -n 5 "$DIR/b$n/mqfs.log")"
		[ "$(date +%s)" -lt "$end" ] || die "broker $n: $DIR/mnt$n does not list three live brokers after 90 s (see $DIR/b$n/mqfs.log)"
		sleep 0.2
	done
done
for n in 1 2 3; do
	eval "say \"broker $n (pid \$PID$n): SASL_PLAINTEXT://127.0.0.1:\$PORT$n, mounted on $DIR/mnt$n, log $DIR/b$n/mqfs.log\""
done
say "SCRAM user admin (password admin-secret); zookeeper.connect=$ZK"
say "running; Ctrl-C stops the brokers, then ZooKeeper (from another shell: kill $$)"

# Wait for a signal. A broker that exits by itself (kill -9, a crash) is
# started again, as systemd's Restart=on-failure does with the unit: the
# others go on meanwhile (its partitions fail over to them), and the new
# process detaches the dead mount, waits for the dead broker's ZooKeeper
# session to expire and rejoins. One that exits again before its mount
# answers failed at start (its log says why): that stops the cluster.
UP1=yes UP2=yes UP3=yes
while :; do
	for n in 1 2 3; do
		eval "p=\$PID$n; up=\$UP$n"
		if alive "$p"; then
			[ "$up" = yes ] && continue
			timeout 5 grep -q '^broker\.' "$DIR/mnt$n/.state" 2>/dev/null || continue
			eval "UP$n=yes"
			say "broker $n (pid $p) is back, mounted on $DIR/mnt$n"
			continue
		fi
		wait "$p" 2>/dev/null
		brc=$?
		if [ "$up" != yes ]; then
			die "broker $n (pid $p) exited $brc before it mounted; its log: $DIR/b$n/mqfs.log
$(tail -n 5 "$DIR/b$n/mqfs.log")"
		fi
		broker_run "$n"
		eval "UP$n=no"
		eval "say \"broker $n (pid $p) exited $brc by itself; started again (pid \$PID$n), log $DIR/b$n/mqfs.log\""
	done
	sleep 1 &
	wait $! 2>/dev/null
done
