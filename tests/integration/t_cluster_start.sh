#!/bin/sh
# t_cluster_start.sh — three brokers and a real ZooKeeper on loopback, with
# mounts: every broker registers and every root .state lists all three; a
# broker with a taken broker.id is refused, naming the id; the SASL
# listener refuses a wrong password (logged) and lets the right one
# through (kcat's debug output), answers an unknown user's first SCRAM
# message as a known one's, with the same salt on every broker; a
# ZooKeeper crash and restart is
# survived (registrations back); a broker killed with -9 leaves
# /brokers/ids after the session timeout and the others show it gone; one
# started again at once waits for its old registration to go, its
# listener answering no client meanwhile (kcat -L is not told a topic has
# no partitions). A
# topic of three partitions with one replica each: every mount lists the
# three, each broker keeps a log for its own replica only, and the mount
# of a broker that holds no replica of a partition reads it through a
# read copy (the replica's bytes and st_size; t_cluster_observer.sh has
# the rest), keeps no log of it among its replicas, and forwards its
# writes to the replica.

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

# One replica per partition here (the last line of a key wins).
CLUSTER_CONF="default.replication.factor=1
min.insync.replicas=1
num.partitions=3"
zk_cluster_start
cluster_start3
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
check "after waiting out a session timeout for it" \
	grep -q "broker.id 2: /brokers/ids/2 is held by ZooKeeper session .* waiting up to 6000 ms" "$MQ_TMP/b4.out"
check "its last words name ZooKeeper, not the data" \
	sh -c "tail -n 1 '$MQ_TMP/b4.out' | grep -q 'registered in ZooKeeper by another live broker'"
check "broker 2 is still registered" poll 30 alive_on "$MQ_TMP/mnt1" 3

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
	check "the broker logs the refusal" poll 30 grep -q "SaslAuthenticate refused" "$LOG"
	: >"$MQ_TMP/before-right"
	cp "$LOG" "$MQ_TMP/before-right"
	kc admin-secret >"$MQ_TMP/kc-right.out" 2>&1
	if poll 30 grep -q "authenticated as admin" "$LOG"; then
		ok "kcat with the right password: the broker logs the authentication"
	else
		fail "kcat with the right password" "not authenticated: $(tail -n 5 "$MQ_TMP/kc-right.out")"
	fi
else
	skip "kcat not installed: SASL checks"
fi
# An unknown user's first message is answered as a known one's, with a
# made-up salt every broker agrees on, as they agree on a real user's:
# neither the answer nor a comparison between brokers tells who exists.
first_of() {
	timeout -k 2 15 python3 "$LIBDIR/kafka_raw.py" scram-first 127.0.0.1 "$1" "$2" 2>&1
}
for u in admin nobody; do
	f1=$(first_of "$PORT1" $u)
	f2=$(first_of "$PORT2" $u)
	case $f1 in
	"salt "*" iterations 4096") ok "SCRAM client-first for $u: a salt and 4096 iterations" ;;
	*) fail "SCRAM client-first for $u" "$f1" ;;
	esac
	expect_eq "SCRAM client-first for $u: brokers 1 and 2 give the same salt" "$f1" "$f2"
done

# ---- logs for this broker's replicas only ----------------------------------
expect_ok "mkdir mnt1/spread (3 partitions, 1 replica each)" mkdir "$MQ_TMP/mnt1/spread"
# replica_of MNT P: the replica of spread's partition P, as MNT/.state says.
replica_of() {
	timeout 5 awk -v p="$2" '$1 == p { print $7 }' "$1/spread/.state" 2>/dev/null | tr -d '[]'
}
all_listed() {
	[ "$(timeout 5 ls "$1/spread" 2>/dev/null | tr '\n' ' ')" = "0 1 2 " ]
}
known() {
	for _p in 0 1 2; do
		case $(replica_of "$1" $_p) in 1|2|3) ;; *) return 1 ;; esac
	done
}
for n in 1 2 3; do
	check "mnt$n lists the three partitions" poll 20 all_listed "$MQ_TMP/mnt$n"
	check "mnt$n knows each partition's replica" poll 20 known "$MQ_TMP/mnt$n"
done
logs_of() {
	(cd "$MQ_TMP/b$1/data" && ls -d spread-* 2>/dev/null | tr '\n' ' ')
}
# shows_pq FILE P: the partition file holds pP then qP.
shows_pq() {
	[ "$(timeout 5 cat "$1" 2>/dev/null)" = "$(printf 'p%s\nq%s' "$2" "$2")" ]
}
for p in 0 1 2; do
	R=$(replica_of "$MQ_TMP/mnt1" $p)
	O=$((R % 3 + 1))
	case " $(logs_of "$R") " in *" spread-$p "*) ok "broker $R keeps the log of its replica spread-$p" ;;
	*) fail "broker $R keeps the log of spread-$p" "it has: $(logs_of "$R")" ;; esac
	case " $(logs_of "$O") " in *" spread-$p "*) fail "broker $O keeps no log of spread-$p" "it has: $(logs_of "$O")" ;;
	*) ok "broker $O, no replica of spread-$p, keeps no log of it" ;; esac
	printf 'p%s\n' "$p" >>"$MQ_TMP/mnt$R/spread/$p"
	expect_eq "a write on the replica's mount (mnt$R)" "0" "$?"
	expect_eq "and a read there" "p$p" "$(timeout 5 cat "$MQ_TMP/mnt$R/spread/$p")"
	expect_eq "mnt$O (no replica there): the replica's st_size" "3" \
		"$(stat -c %s "$MQ_TMP/mnt$O/spread/$p")"
	expect_eq "mnt$O: a read through its read copy" "p$p" "$(timeout 5 cat "$MQ_TMP/mnt$O/spread/$p")"
	printf 'q%s\n' "$p" >>"$MQ_TMP/mnt$O/spread/$p"
	expect_eq "mnt$O: a write is forwarded to the replica, its leader" "0" "$?"
	check "mnt$R shows it after the first" poll 30 shows_pq "$MQ_TMP/mnt$R/spread/$p" "$p"
	expect_eq "mnt$O/.state: no local offsets" "-" \
		"$(timeout 5 awk -v p="$p" '$1 == p { print $3 }' "$MQ_TMP/mnt$O/spread/.state")"
done
check "the read copies are logged" grep -q "observer spread-0: made" "$LOG"

# Partitions added later get a log on their replica's broker only: the
# other brokers learn the new assignment from ZooKeeper's watch before
# the controller's LeaderAndIsr, and must not open logs for them then.
expect_ok "echo partitions=6 > mnt2/spread/.config" \
	sh -c "echo partitions=6 > '$MQ_TMP/mnt2/spread/.config'"
all6() {
	[ "$(timeout 5 ls "$1/spread" 2>/dev/null | tr '\n' ' ')" = "0 1 2 3 4 5 " ] &&
		for _p in 3 4 5; do
			case $(replica_of "$1" $_p) in 1|2|3) ;; *) return 1 ;; esac
		done
}
for n in 1 2 3; do
	check "mnt$n lists and places the six partitions" poll 20 all6 "$MQ_TMP/mnt$n"
done
for p in 3 4 5; do
	R=$(replica_of "$MQ_TMP/mnt1" $p)
	for n in 1 2 3; do
		case " $(logs_of "$n") " in
		*" spread-$p "*) [ "$n" = "$R" ] && ok "broker $n keeps the log of its new replica spread-$p" ||
			fail "broker $n, no replica of the new spread-$p, keeps no log of it" "it has: $(logs_of "$n")" ;;
		*) [ "$n" = "$R" ] && fail "broker $n keeps the log of its new replica spread-$p" "it has: $(logs_of "$n")" ||
			ok "broker $n, no replica of the new spread-$p, keeps no log of it" ;;
		esac
	done
done

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
	check "mnt$n/.state: two live brokers" poll 30 alive_on "$MQ_TMP/mnt$n" 2
done
check "mnt1/.state: brokers=[1,2]" state_has "$MQ_TMP/mnt1" '^brokers=\[1,2\]$'

# ---- kill -9 of broker 2, started again at once -----------------------------
# Its registration lives until ZooKeeper expires the dead session: the new
# process waits for it rather than refuse the id (a restart by systemd or
# make cluster comes within the session timeout).
mq_kill9 "$MQ_TMP/mnt2" "$PID2"
# Meanwhile its listener is bound but processes nothing, as Kafka's broker
# before its registration: the clients still send the dead broker's
# partitions there, and an answer from a broker that knows no topic yet
# (UNKNOWN_TOPIC_OR_PARTITION) makes librdkafka drop the topic's
# partitions and fail every record it holds for them.
ask_while_waiting() {
	poll 30 grep -q "broker.id 2: /brokers/ids/2 is held by ZooKeeper session" "$LOG" || return 1
	# shellcheck disable=SC2086
	timeout 20 kcat -b "127.0.0.1:$PORT2" $SASL -m 3 -L -t spread >"$MQ_TMP/waiting-md.out" 2>&1
	return 0
}
if command -v kcat >/dev/null 2>&1; then
	mq_bg ask_while_waiting
	ASKER=$MQ_LAST_PID
fi
broker_start 2
if [ -n "${ASKER:-}" ]; then
	mq_wait "$ASKER" 40
	expect_eq "kcat -L asked the restarted broker 2 while it waited" "0" "$MQ_RC"
	if grep -qi -e 'unknown topic' -e 'with 0 partitions' "$MQ_TMP/waiting-md.out"; then
		fail "and was not told that spread has no partitions" "$(cat "$MQ_TMP/waiting-md.out")"
	else
		ok "and was not told that spread has no partitions"
	fi
fi
check "the restarted broker 2 waited for its old registration" \
	grep -q "broker.id 2: /brokers/ids/2 is held by ZooKeeper session 0x[0-9a-f]*, not this broker's: waiting" "$LOG"
check "and registered once it went" grep -q "broker.id 2: the earlier registration went after" "$LOG"
for n in 1 2; do
	check "mnt$n/.state: brokers 1 and 2 alive" poll 30 alive_on "$MQ_TMP/mnt$n" 2
done

mq_done
