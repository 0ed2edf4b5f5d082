#!/bin/sh
# t_cluster_data_dirs.sh — a data directory started in the other mode:
# ZooKeeper on loopback and one SASL broker (replication factor 1).
#   - a single node's data directory (topic a, 300 records) given to a
#     cluster broker: refused at the start (exit 1, the log names the log
#     without a topic id), where the broker used to take a, which
#     ZooKeeper does not list, as deleted and remove its log with every
#     record; started as a single node again, a holds every record;
#   - a cluster broker's data directory (topic c, 200 records written
#     through its mount) started as a single node: refused (exit 1, the
#     log names DATA/meta/zk-cluster.id), where the single node used to
#     take writes the cluster's replicas never see; the broker started
#     again on it serves every record and takes writes;
#   - broker 2's data directory given to broker 4 (its config's log.dirs):
#     refused (exit 1, the log names DATA/meta/broker.id and both ids),
#     where broker 4 used to hold broker 2's replicas as its own;
#   - broker 2's data directory as an mqfs that kept no topic ids left
#     it (no partition.metadata, zk-cluster.id nor broker.id): ZooKeeper
#     lists c with broker 2 as its replica, so it starts (logged), serves
#     every record and keeps the three files again; a single node's log
#     of c given to broker 5, which ZooKeeper does not list among c's
#     replicas, is still refused;
#   - a fresh single node's data directory (no topic but
#     __consumer_offsets) may become a broker's.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# start_refused NAME MNT CMD...: CMD (a daemon that would mount MNT) exits
# 1 before mounting; one that mounts after all is a failure, unmounted.
start_refused() {
	_sn=$1
	_sm=$2
	shift 2
	mkdir -p "$_sm"
	echo "# start expected to be refused: $* (log $LOG)" >>"$LOG"
	mq_bg sh -c 'log=$1; shift; exec "$@" >>"$log" 2>&1 </dev/null' sh "$LOG" "$@"
	_sp=$MQ_LAST_PID
	proc_wait_mounted "$_sm" "$_sp" 60
	if [ $? = 1 ]; then
		_mq_wait_exit "$_sp" 5
		expect_eq "$_sn: exit 1 before mounting" 1 "$MQ_RC"
	else
		fail "$_sn" "it mounted (or is still starting after 60 s)"
		mq_umount "$_sm" "$_sp"
	fi
}

CLUSTER_CONF="default.replication.factor=1
min.insync.replicas=1
num.partitions=1"
zk_cluster_start

# single_node_refused N TOPIC WANT NAME: a single node's data directory
# MQ_TMP/bN/data whose TOPIC holds the lines of the file WANT (written
# through its mount), then started as broker N: refused (start_refused
# NAME). PORTN is broker N's port.
single_node_refused() {
	mkdir -p "$MQ_TMP/b$1"
	mq_mount_cmd "$MQ_TMP/mnt$1" "$MQFS" -f --data "$MQ_TMP/b$1/data" "$MQ_TMP/mnt$1"
	expect_ok "single node $1: mkdir $2" mkdir "$MQ_TMP/mnt$1/$2"
	expect_ok "single node $1: records in $2" sh -c 'cat "$1" > "$2"' sh "$3" "$MQ_TMP/mnt$1/$2/0"
	mq_umount "$MQ_TMP/mnt$1"
	eval "PORT$1=\$(zk_free_port)"
	eval "conf $1 \$PORT$1"
	start_refused "$4" "$MQ_TMP/mnt$1" \
		"$MQFS" -f --config "$MQ_TMP/b$1/server.properties" "$MQ_TMP/mnt$1"
}

# ---- a single node's data directory to a cluster broker -----------------------
D1=$MQ_TMP/b1/data
seq 1 300 >"$MQ_TMP/want-a"
single_node_refused 1 a "$MQ_TMP/want-a" "a single node's data directory as broker 1's"
expect_ok "the log names the log without a topic id" \
	grep -q "$D1: the log a-0 has no topic id (partition.metadata) and the directory no meta/zk-cluster.id" "$LOG"
expect_ok "a-0 is still there" test -d "$D1/a-0"
expect_fail "no zk-cluster.id was written" test -e "$D1/meta/zk-cluster.id"
mq_mount_cmd "$MQ_TMP/mnt1" "$MQFS" -f --data "$D1" "$MQ_TMP/mnt1"
expect_same "as a single node again: every record of a" "$MQ_TMP/want-a" "$MQ_TMP/mnt1/a/0"
mq_umount "$MQ_TMP/mnt1"

# ---- a cluster broker's data directory to a single node -----------------------
PORT2=$(zk_free_port)
conf 2 "$PORT2"
D2=$MQ_TMP/b2/data
broker_start 2
check "broker 2 is alive" poll 30 alive_on "$MQ_TMP/mnt2" 1
expect_ok "broker 2: mkdir c" mkdir "$MQ_TMP/mnt2/c"
seq 1 200 >"$MQ_TMP/want-c"
expect_ok "broker 2: 200 records" sh -c 'seq 1 200 > "$1"' sh "$MQ_TMP/mnt2/c/0"
check "broker 2 stops cleanly" broker_stop 2
_mq_del MQ_MOUNTS "$MQ_TMP/mnt2"
_mq_del MQ_DAEMONS "$PID2"
_mq_del MQ_PIDS "$PID2"
expect_ok "broker 2 kept its cluster's id" test -s "$D2/meta/zk-cluster.id"
cp -r "$D2/c-0" "$MQ_TMP/c-0.before"
start_refused "broker 2's data directory as a single node's" "$MQ_TMP/mnt2" \
	"$MQFS" -f --data "$D2" "$MQ_TMP/mnt2"
expect_ok "the log names zk-cluster.id" \
	grep -q "$D2/meta/zk-cluster.id is there: this data directory is a cluster broker's" "$LOG"
expect_ok "c-0 is as it was" diff -r "$MQ_TMP/c-0.before" "$D2/c-0"
broker_start 2
check "broker 2 is back" poll 30 alive_on "$MQ_TMP/mnt2" 1
expect_same "broker 2 again: every record of c" "$MQ_TMP/want-c" "$MQ_TMP/mnt2/c/0"
expect_ok "broker 2 again: a write" sh -c 'echo 201 >> "$1"' sh "$MQ_TMP/mnt2/c/0"
seq 1 201 >"$MQ_TMP/want-c"
expect_same "read back" "$MQ_TMP/want-c" "$MQ_TMP/mnt2/c/0"

# ---- broker 2's data directory to broker 4 -------------------------------------
check "broker 2 stops cleanly again" broker_stop 2
_mq_del MQ_MOUNTS "$MQ_TMP/mnt2"
_mq_del MQ_DAEMONS "$PID2"
_mq_del MQ_PIDS "$PID2"
expect_eq "broker 2's data directory names it" 2 "$(cat "$D2/meta/broker.id")"
PORT4=$(zk_free_port)
CLUSTER_CONF="$CLUSTER_CONF
log.dirs=$D2" conf 4 "$PORT4"
cp -r "$D2/c-0" "$MQ_TMP/c-0.before2"
start_refused "broker 2's data directory as broker 4's" "$MQ_TMP/mnt4" \
	"$MQFS" -f --config "$MQ_TMP/b4/server.properties" "$MQ_TMP/mnt4"
expect_ok "the log names both brokers" \
	grep -q "$D2/meta/broker.id: this data directory is broker 2's, and this broker is 4" "$LOG"
expect_ok "c-0 is as it was" diff -r "$MQ_TMP/c-0.before2" "$D2/c-0"
broker_start 2
check "broker 2 is back again" poll 30 alive_on "$MQ_TMP/mnt2" 1
expect_same "broker 2: every record of c" "$MQ_TMP/want-c" "$MQ_TMP/mnt2/c/0"

# ---- a broker's data directory from an mqfs that kept no topic ids ----------
# Such a broker kept neither partition.metadata beside its logs nor
# meta/zk-cluster.id nor meta/broker.id: what a rolling upgrade finds on
# each broker. ZooKeeper lists the log's topic with this broker among
# its replicas, so the directory is the broker's, not a single node's:
# it starts, serves every record and keeps the ids from then on.
check "broker 2 stops cleanly for the upgrade" broker_stop 2
_mq_del MQ_MOUNTS "$MQ_TMP/mnt2"
_mq_del MQ_DAEMONS "$PID2"
_mq_del MQ_PIDS "$PID2"
cid=$(cat "$D2/meta/zk-cluster.id")
tid=$(cat "$D2/c-0/partition.metadata")
rm -f "$D2/c-0/partition.metadata" "$D2/meta/zk-cluster.id" "$D2/meta/broker.id"
broker_start 2
check "broker 2 without topic ids starts" poll 30 alive_on "$MQ_TMP/mnt2" 1
expect_ok "the log says the directory is taken as the broker's" \
	grep -q "$D2: 1 log(s) without a topic id (partition.metadata) that ZooKeeper lists as this broker's replicas" "$LOG"
expect_same "broker 2 without topic ids: every record of c" "$MQ_TMP/want-c" "$MQ_TMP/mnt2/c/0"
expect_eq "the cluster's id kept again" "$cid" "$(cat "$D2/meta/zk-cluster.id")"
expect_eq "broker.id kept again" 2 "$(cat "$D2/meta/broker.id")"
has_tid() { [ "$(cat "$D2/c-0/partition.metadata" 2>/dev/null)" = "$tid" ]; }
check "c-0's topic id kept again" poll 20 has_tid

# A single node's log of a topic the cluster has, but not on this broker
# (c's one replica is broker 2): still a single node's, refused.
D5=$MQ_TMP/b5/data
echo x >"$MQ_TMP/want-x"
single_node_refused 5 c "$MQ_TMP/want-x" "a single node's c-0 as broker 5's, c not on broker 5"
expect_ok "the log names c-0" \
	grep -q "$D5: the log c-0 has no topic id (partition.metadata) and the directory no meta/zk-cluster.id, and ZooKeeper does not list this broker" "$LOG"
expect_fail "no zk-cluster.id was written in 5" test -e "$D5/meta/zk-cluster.id"
expect_fail "no broker.id was written in 5" test -e "$D5/meta/broker.id"

# ---- a fresh single node's data directory may join ----------------------------
mkdir -p "$MQ_TMP/b3"
D3=$MQ_TMP/b3/data
mq_mount_cmd "$MQ_TMP/mnt3" "$MQFS" -f --data "$D3" "$MQ_TMP/mnt3"
mq_umount "$MQ_TMP/mnt3"
PORT3=$(zk_free_port)
conf 3 "$PORT3"
broker_start 3
check "a fresh single node's data directory joins as broker 3" poll 30 alive_on "$MQ_TMP/mnt3" 2
check "broker 3 lists c" poll 20 listed "$MQ_TMP/mnt3" c

mq_done
