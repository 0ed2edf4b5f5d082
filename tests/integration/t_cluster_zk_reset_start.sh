#!/bin/sh
# t_cluster_zk_reset_start.sh — ZooKeeper's connection lost under a
# broker's start (a ZooKeeper restart while a killed broker comes back):
# the start's calls are tried again once the client has reconnected to
# its session, as Kafka's start retries them until connected, rather than
# the broker exiting with "cannot open DATA: Connection reset by peer".
# The broker reaches ZooKeeper through netfault_proxy.py, which resets
# every connection 20 bytes into its answers after the 41-byte connect
# response (so after the session is open, inside the start's first
# requests); once the broker has reconnected twice the proxy forwards
# again, and the broker must be running and mounted with its cluster.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

zk_cluster_start

PZ=$(zk_free_port)
proxy_start "z=$PZ:127.0.0.1:$ZKPORT"
conns() { px stats z | sed -n 's/^ok conns=\([0-9]*\) .*/\1/p'; }

expect_eq "reset each connection 61 bytes into ZooKeeper's answers" "ok" \
	"$(px mode z rst s2c 61)"
ZK=127.0.0.1:$PZ/mqfs
conf 1 "$(zk_free_port)"
mkdir -p "$MQ_TMP/mnt1"
echo "# mount: broker 1 through the proxy (log $LOG)" >>"$LOG"
"$MQFS" -f --config "$MQ_TMP/b1/server.properties" "$MQ_TMP/mnt1" >>"$LOG" 2>&1 </dev/null &
PID1=$!
_mq_add MQ_PIDS "$PID1"
_mq_add MQ_DAEMONS "$PID1"
_mq_add MQ_MOUNTS "$MQ_TMP/mnt1"

three_conns() { [ "$(conns)" -ge 3 ] 2>/dev/null; }
check "the broker connects again after each reset (3 connections)" poll 30 three_conns
expect_eq "forward as it comes" "ok" "$(px mode z pass)"
check "broker 1 mounted with one live broker" poll 40 alive_on "$MQ_TMP/mnt1" 1
check "broker 1 still running" kill -0 "$PID1"
lost_logged() { grep -q "ZooKeeper: connection lost, reconnecting" "$LOG"; }
check "the lost connection is logged" lost_logged

mq_done
