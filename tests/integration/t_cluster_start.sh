#!/bin/sh
# t_cluster_start.sh — three brokers and a real ZooKeeper on loopback, with
# mounts: every broker registers and every root .state lists all three; a
# broker with a taken broker.id is refused, naming the id; the SASL
# listener refuses a wrong password (logged) and lets the right one
# through (kcat's debug output); a ZooKeeper crash and restart is
# survived (registrations back); a broker killed with -9 leaves
# /brokers/ids after the session timeout and the others show it gone.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# state_has MNT REGEX
state_has() {
	timeout 5 grep -q "$2" "$1/.state" 2>/dev/null
}

zk_cluster_start

for n in 1 2 3; do
	eval "PORT$n=\$(zk_free_port)"
	eval "conf $n \$PORT$n"
	MQ_MOUNT_WAIT=40 mq_mount_cmd "$MQ_TMP/mnt$n" "$MQFS" -f --config "$MQ_TMP/b$n/server.properties" "$MQ_TMP/mnt$n"
	eval "PID$n=\$MQ_PID"
done

for n in 1 2 3; do
	check "mnt$n/.state lists three live brokers" poll 20 alive_on "$MQ_TMP/mnt$n" 3
done
check "mnt2/.state: broker 1 with its endpoint" \
	state_has "$MQ_TMP/mnt2" "^broker\.1=alive SASL_PLAINTEXT://127.0.0.1:$PORT1\$"
check "mnt1/.state: this broker's epoch" state_has "$MQ_TMP/mnt1" '^broker\.epoch=[1-9][0-9]*$'
check "mnt1/.state: the cluster id" state_has "$MQ_TMP/mnt1" '^cluster\.id=[A-Za-z0-9_-]\{22\}$'
check "mnt1/.state: metadata store" state_has "$MQ_TMP/mnt1" '^metadata\.store=zookeeper$'
id1=$(grep '^cluster.id=' "$MQ_TMP/mnt1/.state")
expect_eq "one cluster id on every broker" "$id1" "$(grep '^cluster.id=' "$MQ_TMP/mnt3/.state")"
expect_ok "mnt1/.metrics: the listener and the session" sh -c \
	"grep -q '^mqfs_zookeeper_connected 1\$' '$MQ_TMP/mnt1/.metrics' &&
	 grep -q '^mqfs_listener_auth_failures_total ' '$MQ_TMP/mnt1/.metrics'"

# ---- a taken broker.id ------------------------------------------------------
conf 4 "$(zk_free_port)"
sed -i 's/^broker.id=4/broker.id=2/' "$MQ_TMP/b4/server.properties"
mkdir -p "$MQ_TMP/mnt4"
MQ_TIMEOUT=40 mq_run "$MQFS" -f --config "$MQ_TMP/b4/server.properties" "$MQ_TMP/mnt4" \
	>"$MQ_TMP/b4.out" 2>&1
expect_eq "a second broker.id=2 exits 1" "1" "$?"
check "and says why" grep -q "broker.id 2 is taken" "$MQ_TMP/b4.out"
check "broker 2 is still registered" poll 5 alive_on "$MQ_TMP/mnt1" 3

# ---- SASL on the listener ---------------------------------------------------
if command -v kcat >/dev/null 2>&1; then
	kc() {
		timeout -k 2 15 kcat -b "127.0.0.1:$PORT1" -X security.protocol=SASL_PLAINTEXT \
			-X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=admin \
			-X sasl.password="$1" -X debug=security,broker -m 8 -L
	}
	kc wrong >"$MQ_TMP/kc-wrong.out" 2>&1
	check "kcat with a wrong password: refused" \
		grep -qi "authentication failed\|SASL_AUTHENTICATION_FAILED\|Authentication" "$MQ_TMP/kc-wrong.out"
	check "the broker logs the refusal" poll 5 grep -q "SaslAuthenticate refused" "$LOG"
	: >"$MQ_TMP/before-right"
	cp "$LOG" "$MQ_TMP/before-right"
	kc admin-secret >"$MQ_TMP/kc-right.out" 2>&1
	if poll 5 grep -q "authenticated as admin" "$LOG"; then
		ok "kcat with the right password: the broker logs the authentication"
	else
		fail "kcat with the right password" "not authenticated: $(tail -n 5 "$MQ_TMP/kc-right.out")"
	fi
else
	skip "kcat not installed: SASL checks"
fi

# ---- ZooKeeper crash and restart --------------------------------------------
zk_stop "$ZKDIR"
check "brokers see the connection lost" poll 15 grep -q "ZooKeeper: connection lost" "$LOG"
zk_start "$ZKDIR" "$ZKPORT"
expect_eq "ZooKeeper back on the same port" "0" "$?"
for n in 1 2 3; do
	check "after the restart, mnt$n/.state: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$n" 3
done
check "and connected again" poll 30 timeout 5 grep -q '^mqfs_zookeeper_connected 1$' "$MQ_TMP/mnt3/.metrics"

# ---- kill -9 of broker 3 ----------------------------------------------------
mq_kill9 "$MQ_TMP/mnt3" "$PID3"
for n in 1 2; do
	check "mnt$n/.state: broker 3 gone after its session timeout" \
		poll 20 state_has "$MQ_TMP/mnt$n" '^broker\.3=gone '
	check "mnt$n/.state: two live brokers" poll 5 alive_on "$MQ_TMP/mnt$n" 2
done
check "mnt1/.state: brokers=[1,2]" state_has "$MQ_TMP/mnt1" '^brokers=\[1,2\]$'

mq_done
