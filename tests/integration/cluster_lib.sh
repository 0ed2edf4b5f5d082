# cluster_lib.sh — what the cluster tests share: a ZooKeeper of their own,
# brokers with SASL listeners on loopback, checks that poll with deadlines
# (lib.sh's poll), and a cleanup that unmounts and stops the brokers
# before ZooKeeper. Sourced after lib.sh and tests/zk.sh, once mq_setup
# has run.

ZKDIR=$MQ_TMP/zk
# Processes a test froze (freeze_pid, stop_broker) and did not thaw.
FROZEN=""
# The frozen are continued first (a broker's clean stop writes to
# ZooKeeper), the brokers leave before ZooKeeper does (their sessions
# close cleanly), then the harness's own cleanup runs. A script with
# more to undo once the brokers are gone (the filesystems their data is
# on) puts it in AFTER_BROKERS, a command run then.
AFTER_BROKERS=""
t_cleanup() {
	# shellcheck disable=SC2086 # a list of pids
	[ -n "$FROZEN" ] && kill -CONT $FROZEN 2>/dev/null
	for m in $MQ_MOUNTS; do
		timeout 10 fusermount3 -u "$m" 2>/dev/null
	done
	for p in $MQ_DAEMONS; do
		proc_wait_exit "$p" 10 || kill -KILL "$p" 2>/dev/null
	done
	[ -n "$AFTER_BROKERS" ] && eval "$AFTER_BROKERS"
	zk_stop "$ZKDIR"
	_mq_cleanup "$1"
}
trap 't_cleanup $?' EXIT
trap 't_cleanup 130' INT
trap 't_cleanup 143' TERM

# alive_on MNT N: MNT/.state lists N brokers alive.
alive_on() {
	[ "$(timeout 5 grep -c '^broker\.[0-9]*=alive ' "$1/.state" 2>/dev/null)" = "$2" ]
}

# listed MNT NAME: NAME is in MNT's listing (a topic's directory).
listed() {
	timeout 5 ls "$1" 2>/dev/null | grep -qx "$2"
}

# cluster_mkdir TOPIC: mkdir of TOPIC on mnt1, then the topic is listed on
# mnt2 and mnt3 (each broker has seen it in ZooKeeper).
cluster_mkdir() {
	expect_ok "mkdir mnt1/$1" mkdir "$MQ_TMP/mnt1/$1"
	for _cn in 2 3; do
		check "$1 is listed on mnt$_cn" poll 20 listed "$MQ_TMP/mnt$_cn" "$1"
	done
}

# controller: the broker (1..3) whose mount says it is the active
# controller; fails when none does. A broker FROZE names is not asked
# (frozen, its mount does not answer).
controller() {
	for _n in 1 2 3; do
		[ "$_n" = "${FROZE:-}" ] && continue
		timeout 5 grep -qx 'controller.active=yes' "$MQ_TMP/mnt$_n/.state" 2>/dev/null &&
			echo "$_n" && return 0
	done
	return 1
}

# has_controller: a mount says its broker is the active controller.
has_controller() { [ -n "$(controller)" ]; }

# zget PATH: zkCli's get of PATH under the /mqfs chroot; zgone PATH: no
# such znode; zhas PATH TEXT: its data holds TEXT.
zget() { zk_cli "$ZKPORT" get "/mqfs$1"; }
zgone() { zget "$1" | grep -q 'does not exist'; }
zhas() { zget "$1" | grep -qF "$2"; }

# replicas_are N TOPIC "[a,b]": mntN's .state names these replicas of
# TOPIC's partition 0, in order.
replicas_are() {
	[ "$(p0_field "$MQ_TMP/mnt$1" "$2" 7)" = "$3" ]
}

# move_off_controller TOPIC: K the controller, D and M the two other
# brokers; TOPIC's partition 0 moved to [D,M] through
# /admin/reassign_partitions, and the move done (the request deleted).
move_off_controller() {
	check "a controller" poll 20 has_controller
	K=$(controller)
	D=$((K % 3 + 1))
	M=$((D % 3 + 1))
	zk_cli "$ZKPORT" create /mqfs/admin/reassign_partitions \
		"{\"version\":1,\"partitions\":[{\"topic\":\"$1\",\"partition\":0,\"replicas\":[$D,$M]}]}" \
		>>"$LOG" 2>&1
	check "$1 moved to [$D,$M]" poll 30 replicas_are "$M" "$1" "[$D,$M]"
	check "/admin/reassign_partitions deleted" poll 20 zgone /admin/reassign_partitions
}

# all_stopped PID: every thread of PID is in the stopped state. A SIGSTOP
# stops the threads only as each is next scheduled: on a loaded machine a
# fetcher thread can still answer a response and fetch again after kill
# has returned, so a test that needs the process frozen waits for this.
all_stopped() {
	for _st in /proc/"$1"/task/*/stat; do
		# the state is the field after the ")" that ends the thread's name
		case $(sed 's/.*) //' "$_st" 2>/dev/null | cut -c1) in
		T | t) ;;
		*) return 1 ;;
		esac
	done
}

# freeze_pid PID...: SIGSTOP, continued by the cleanup unless thawed.
freeze_pid() {
	for _fz in "$@"; do
		FROZEN="$FROZEN $_fz"
	done
	kill -STOP "$@"
}

# thaw_pid PID...: SIGCONT, and the cleanup leaves them be.
thaw_pid() {
	kill -CONT "$@"
	for _fz in "$@"; do
		FROZEN=$(echo " $FROZEN " | sed "s/ $_fz / /g")
	done
}

# stop_broker PID: freeze_pid and wait until the whole process is frozen.
stop_broker() {
	freeze_pid "$1" && poll 20 all_stopped "$1"
}

# zk_cluster_start: ZooKeeper on a free port, $ZK its connect string with
# the /mqfs chroot, and the SCRAM user admin the brokers authenticate as.
zk_cluster_start() {
	ZKPORT=$(zk_free_port)
	zk_start "$ZKDIR" "$ZKPORT"
	expect_eq "ZooKeeper on 127.0.0.1:$ZKPORT" "0" "$?"
	ZK=127.0.0.1:$ZKPORT/mqfs
	echo admin-secret | mq_run "$MQFS" --zookeeper "$ZK" --add-scram-user admin >>"$LOG" 2>&1
	expect_eq "mqfs --add-scram-user admin" "0" "$?"
}

# conf N PORT: broker N's config file; CLUSTER_CONF adds lines.
conf() {
	mkdir -p "$MQ_TMP/b$1"
	cat >"$MQ_TMP/b$1/server.properties" <<EOC
broker.id=$1
log.dirs=$MQ_TMP/b$1/data
zookeeper.connect=$ZK
zookeeper.session.timeout.ms=${CLUSTER_SESSION_MS:-4000}
zookeeper.connection.timeout.ms=20000
listeners=SASL_PLAINTEXT://127.0.0.1:$2
security.inter.broker.protocol=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";
default.replication.factor=3
min.insync.replicas=2
${CLUSTER_CONF:-}
EOC
}

# broker_start N: mounts MQ_TMP/mntN by broker N (its conf written
# before); PIDN is its pid.
broker_start() {
	MQ_MOUNT_WAIT=40 mq_mount_cmd "$MQ_TMP/mnt$1" "$MQFS" -f --config "$MQ_TMP/b$1/server.properties" "$MQ_TMP/mnt$1"
	eval "PID$1=\$MQ_PID"
}

# cluster_start3: brokers 1..3 on free ports (PORTN), mounted, each mount
# listing three live brokers.
cluster_start3() {
	for _cn in 1 2 3; do
		eval "PORT$_cn=\$(zk_free_port)"
		eval "conf $_cn \$PORT$_cn"
		broker_start "$_cn"
	done
	for _cn in 1 2 3; do
		check "mnt$_cn: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$_cn" 3
	done
}

# proxy_start NAME=LPORT:HOST:PORT...: netfault_proxy.py with these
# routes, a background process of the script, its control socket CTL;
# returns once it listens.
proxy_start() {
	CTL=$MQ_TMP/proxy.ctl
	mq_bg python3 "$LIBDIR/netfault_proxy.py" "$CTL" "$@" >"$MQ_TMP/proxy.out" 2>&1
	check "the proxy listens" poll 10 proxy_ready
}
proxy_ready() { grep -qx ready "$MQ_TMP/proxy.out"; }

# px COMMAND...: one line to the proxy's control socket; its answer.
px() {
	timeout 10 python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall((" ".join(sys.argv[2:]) + "\n").encode())
print(s.makefile().readline().strip())' "$CTL" "$@"
}

# same_file A B: the two files read the same (each read whole, under
# timeout): a partition file on two brokers' mounts.
same_file() {
	timeout 10 cat "$1" >"$MQ_TMP/sa" 2>/dev/null &&
		timeout 10 cat "$2" >"$MQ_TMP/sb" 2>/dev/null && cmp -s "$MQ_TMP/sa" "$MQ_TMP/sb"
}

# group_coordinated_by N PREFIX: the first of PREFIX1..PREFIX20 that
# broker N coordinates (FindCoordinator through its listener) into G;
# fails when none is (yet: __consumer_offsets is made by the first ask).
group_coordinated_by() {
	G=""
	eval "_gport=\$PORT$1"
	for _gn in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
		_ga=$(timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" coordinator 127.0.0.1 \
			"$_gport" admin admin-secret "$2$_gn" 2>&1)
		[ "$_ga" = "error 0 node $1" ] && G=$2$_gn && return 0
	done
	return 1
}

# The SCRAM client settings of kcat and librdkafka tools for the brokers'
# SASL_PLAINTEXT listeners.
SASL="-X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=admin -X sasl.password=admin-secret"

# group_coordinator GROUP [N]: the id of the broker that coordinates
# GROUP (FindCoordinator sent to broker N, default 1), or what it
# answered instead.
group_coordinator() {
	eval "_gp=\$PORT${2:-1}"
	_gc=$(timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" coordinator 127.0.0.1 "$_gp" \
		admin admin-secret "$1" 2>&1)
	echo "${_gc#error 0 node }"
}

# admin N ARGS...: kafkajs's admin client (kafkajs_admin.js) on broker N
# (kafkajs_setup first; KAFKA_SASL_USER and KAFKA_SASL_PASSWORD for its
# SCRAM login).
admin() {
	_p=$(eval "echo \$PORT$1")
	shift
	timeout -k 5 60 node "$LIBDIR/kafkajs_admin.js" "127.0.0.1:$_p" "$@" 2>&1
}
# kc BROKER_N ARGS...: kcat bootstrapped from broker N.
kc() {
	_b=$1
	shift
	# shellcheck disable=SC2086
	eval "mq_run kcat -b 127.0.0.1:\$PORT$_b $SASL \"\$@\""
}

# The tests of topic t: t_field MNT F: field F of partition 0's row of
# MNT/t/.state (partition, log start, hw, leo, leader, leader epoch,
# replicas, isr, ...); set_of TEXT: "[3,1,2]" -> "1,2,3" (the controller
# keeps assignment order); t_isr_is MNT SET.
t_field() {
	timeout 5 awk -v f="$2" '$1 == "0" { print $f }' "$1/t/.state" 2>/dev/null
}
set_of() {
	echo "$1" | tr -d '[]' | tr ',' '\n' | sort -n | paste -sd, -
}
t_isr_is() {
	[ "$(set_of "$(t_field "$1" 8)")" = "$2" ]
}

# p0_field MNT TOPIC N: field N of partition 0's row of MNT/TOPIC/.state;
# p0_isr_is MNT TOPIC SET: its ISR is SET ("1,3").
p0_field() {
	timeout 5 awk -v f="$3" '$1 == "0" { print $f }' "$1/$2/.state" 2>/dev/null
}
p0_isr_is() {
	[ "$(set_of "$(p0_field "$1" "$2" 8)")" = "$3" ]
}

# roles2 TOPIC: partition 0 of TOPIC (two replicas, made before) as seen
# on mnt1: L its leader, R the other replica, O the broker without one;
# the script ends when it is not so.
roles2() {
	L=$(p0_field "$MQ_TMP/mnt1" "$1" 5)
	_rs=$(p0_field "$MQ_TMP/mnt1" "$1" 7 | tr -d '[]' | tr ',' ' ')
	O=""
	R=""
	for _rn in 1 2 3; do
		case " $_rs " in
		*" $_rn "*) [ "$_rn" != "$L" ] && R=$_rn ;;
		*) O=$_rn ;;
		esac
	done
	case "$L:$R:$O" in
	[123]:[123]:[123]) ok "$1: leader $L, follower $R, no replica on $O" ;;
	*) fail "$1: two replicas and a broker without one" "leader '$L' replicas '$_rs'"; mq_done ;;
	esac
}

# t_make3: topic t made through mnt1 (num.partitions=1 in CLUSTER_CONF:
# one partition), listed on every mount with three replicas in its ISR;
# L its leader, F and G the other two brokers.
t_make3() {
	cluster_mkdir t
	check "three replicas in the ISR" poll 20 t_isr_is "$MQ_TMP/mnt1" "1,2,3"
	L=$(t_field "$MQ_TMP/mnt1" 5)
	case $L in
	1 | 2 | 3) ok "a leader: broker $L" ;;
	*) fail "a leader" "leader '$L'"; mq_done ;;
	esac
	F=$((L % 3 + 1))
	G=$((F % 3 + 1))
}

# numbered N FILE: FILE holds the records r-1 .. r-N, one a line.
numbered() {
	_nb=1
	while [ "$_nb" -le "$1" ]; do
		echo "r-$_nb"
		_nb=$((_nb + 1))
	done >"$2"
}

# small_disks WHAT: each broker's data directory on a 32 MiB tmpfs of its
# own (SMALL1..SMALL3, before cluster_start3), unmounted once the
# brokers are gone (AFTER_BROKERS); where no tmpfs can be mounted (not
# root) the script is skipped, WHAT naming it.
small_disks() {
	SMALLS=""
	# shellcheck disable=SC2016 # expanded by t_cleanup's eval
	AFTER_BROKERS='for d in $SMALLS; do umount -l "$d" 2>/dev/null; rmdir "$d" 2>/dev/null; done'
	for _sd in 1 2 3; do
		_sdir=$(mktemp -d /tmp/mqfs-full.XXXXXX) || exit 1
		if ! mount -t tmpfs -o size=32m tmpfs "$_sdir" 2>/dev/null; then
			rmdir "$_sdir"
			skip "$1" "cannot mount a tmpfs (root needed)"
			mq_done
		fi
		SMALLS="$SMALLS $_sdir"
		eval "SMALL$_sd=\$_sdir"
		mkdir -p "$MQ_TMP/b$_sd"
		ln -s "$_sdir" "$MQ_TMP/b$_sd/data"
	done
}

# t_small_cluster WHAT: small_disks WHAT, ZooKeeper and three brokers
# (one partition a topic, request.timeout.ms=15000,
# replica.lag.time.max.ms=3000, and the lines of SMALL_CONF), topic t
# made (t_make3: L, F, G), and MQ_TMP/want empty for t_put.
t_small_cluster() {
	small_disks "$1"
	CLUSTER_CONF="num.partitions=1
request.timeout.ms=15000
replica.lag.time.max.ms=3000
${SMALL_CONF:-}"
	zk_cluster_start
	cluster_start3
	t_make3
	: >"$MQ_TMP/want"
}

# fill_disk DIR: a file DIR/filler takes all but 1 MiB of DIR's
# filesystem.
fill_disk() {
	_av=$(df --output=avail -k "$1" | tail -1)
	dd if=/dev/zero of="$1/filler" bs=1k count=$((_av - 1024)) 2>/dev/null
	_av=$(df --output=avail -k "$1" | tail -1)
	[ "$_av" -le 1100 ]
}

# t_put MNT TAG N [SIZE]: N acks=all writes of SIZE-byte records (1000)
# TAG-i-<random hex> (no compression shrinks them) through MNT/t/0, one
# write() each; the acknowledged go to MQ_TMP/want, the errno names of
# the others to MQ_TMP/err.TAG. Prints the count acknowledged.
t_put() {
	python3 - "$MQ_TMP/$1/t/0" "$2" "$3" "$MQ_TMP/want" "$MQ_TMP/err.$2" "${4:-1000}" <<'EOP'
import errno, os, sys
path, tag, n, want, err = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
size = int(sys.argv[6])
acked = 0
with open(want, "a") as w, open(err, "a") as e:
    for i in range(n):
        rec = "%s-%d-" % (tag, i)
        rec = (rec + os.urandom(size // 2).hex())[:size - 1] + "\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, rec.encode())
            finally:
                os.close(fd)
            w.write(rec)
            w.flush()
            acked += 1
        except OSError as x:
            e.write(errno.errorcode.get(x.errno, str(x.errno)) + "\n")
print(acked)
EOP
}

# t_has N: MQ_TMP/mntN/t/0 reads MQ_TMP/want (every acknowledged record
# once, in order).
t_has() {
	timeout 10 cat "$MQ_TMP/mnt$1/t/0" >"$MQ_TMP/got$1" 2>/dev/null && cmp -s "$MQ_TMP/got$1" "$MQ_TMP/want"
}

# broker_stop N: broker N unmounted, its process gone (a clean stop).
broker_stop() {
	eval "_sp=\$PID$1"
	timeout 20 fusermount3 -u "$MQ_TMP/mnt$1" && proc_wait_exit "$_sp" 20
}

# acl_cluster_start: ZooKeeper and three SASL brokers with Kafka's
# AclAuthorizer (the brokers' user admin a super user); raw N USER CMD
# ARGS... then runs kafka_raw.py CMD against broker N as USER (password
# USER-secret; a script's own raw, defined after this file, replaces it).
acl_cluster_start() {
	CLUSTER_CONF="authorizer.class.name=kafka.security.authorizer.AclAuthorizer
min.insync.replicas=1
offsets.topic.replication.factor=3"
	zk_cluster_start
	cluster_start3
}
raw() {
	_p=$(eval "echo \$PORT$1")
	_u=$2 _c=$3
	shift 3
	timeout -k 5 60 python3 "$LIBDIR/kafka_raw.py" "$_c" 127.0.0.1 "$_p" "$_u" "$_u-secret" "$@" 2>&1
}

# incalter N NAME OP KEY [VALUE]: IncrementalAlterConfigs of the broker
# resource NAME (an id, "" the default) sent to broker N as admin
# (kafka_raw.py); prints "error E".
incalter() {
	_p=$(eval "echo \$PORT$1")
	shift
	timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" incalter 127.0.0.1 "$_p" admin admin-secret "$@" 2>&1
}

# described N TYPE NAME KEY LINE: DescribeConfigs of KEY of resource TYPE
# (2 topic, 4 broker) NAME sent to broker N (kafka_raw.py: kafkajs picks
# the broker it asks) is LINE.
described() {
	_p=$(eval "echo \$PORT$1")
	_d=$(timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" describe 127.0.0.1 "$_p" admin \
		admin-secret "$2" "$3" "$4" 2>&1)
	echo "# $(date +%T.%N) DescribeConfigs to broker $1: $_d" >>"$LOG"
	[ "$_d" = "$5" ]
}
