#!/bin/sh
# t_cluster_quotas.sh — Kafka's client quotas: ZooKeeper and two brokers
# (SASL, the brokers' user admin), topic q with one partition, one
# replica. Through AlterClientQuotas (kafka_raw.py, as kafka-configs.sh
# --bootstrap-server sends it) on broker 1: producer_byte_rate=1024 for
# client id c1, consumer_byte_rate=2048 for (admin, the default client),
# a default client's quota; DescribeClientQuotas through broker 2 shows
# each entity with its value (exact, default, any and strict filters).
# Kafka's refusals, INVALID_REQUEST each with the daemon's log line: an
# unknown key, a fractional byte rate, request_percentage (not
# enforced), an empty entity, an ip entity, a type twice; validate_only
# writes nothing. The quotas sit beside SCRAM credentials in
# /config/users/<u>: bob's credential set, a quota for bob, the
# credential deleted: the quota stays; carol's quota set, then her
# credential: the quota stays; DescribeUserScramCredentials of every
# user lists admin and carol only; admin still authenticates after its
# own quota. DescribeClientQuotas' other refusals: a custom type
# (UNSUPPORTED_VERSION), ip with user, an empty type. On q's leader, a
# producer with client id c1 gets
# a throttle_time_ms above 0 once past 1024 bytes/s (20 KB records),
# one with another client id none; the quota removed, c1 is not
# throttled any more; the throttle is logged. A Produce counts its
# whole size (Kafka's request.sizeInBytes): one of a 1-byte record from
# a 200-byte client id at 10 bytes/s is throttled. A consumer (client id c4)
# past its consumer_byte_rate gets a throttle time and an answer without
# partitions, as Kafka's (the leader's .metrics counts both kinds of
# throttle and their times); a fetch session's (c7) throttled
# incremental fetch names no partition and keeps its session; one (c6)
# with a backlog past its quota window gets records, capped to it; one
# (c8, 10 bytes/s) fetching an empty partition is throttled, the whole
# answer counted as Kafka counts it.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1
default.replication.factor=1
min.insync.replicas=1"
zk_cluster_start
for _n in 1 2; do
	eval "PORT$_n=\$(zk_free_port)"
	eval "conf $_n \$PORT$_n"
	broker_start "$_n"
done
for _n in 1 2; do
	check "mnt$_n: two live brokers" poll 30 alive_on "$MQ_TMP/mnt$_n" 2
done

raw() { # raw N CMD ARGS...: kafka_raw.py CMD against broker N as admin
	_p=$(eval "echo \$PORT$1")
	_c=$2
	shift 2
	timeout -k 5 60 python3 "$LIBDIR/kafka_raw.py" "$_c" 127.0.0.1 "$_p" admin admin-secret "$@" 2>&1
}
alter() { raw 1 quota-alter "$@"; }
describe() { raw 2 quota-describe "$@"; }

expect_eq "producer_byte_rate for client c1" "error 0 -" \
	"$(alter client-id=c1 producer_byte_rate=1024)"
expect_eq "consumer_byte_rate for admin's default client" "error 0 -" \
	"$(alter 'user=admin,client-id=<default>' consumer_byte_rate=2048)"
expect_eq "a default client's quota" "error 0 -" \
	"$(alter 'client-id=<default>' producer_byte_rate=1048576)"

expect_eq "describe client c1 (exact)" "error 0
client-id=c1 producer_byte_rate=1024" "$(describe client-id=c1)"
expect_eq "describe the default client (strict)" "error 0
client-id=<default> producer_byte_rate=1.04858e+06" "$(describe 'client-id=<default>' strict)"
expect_eq "describe any user" "error 0
user=admin,client-id=<default> consumer_byte_rate=2048" "$(describe 'user=*')"
expect_eq "describe any client, strict: not the user's pair" "error 0
client-id=<default> producer_byte_rate=1.04858e+06
client-id=c1 producer_byte_rate=1024" "$(describe 'client-id=*' strict)"
expect_eq "describe with a type twice" "error 42" \
	"$(describe 'user=*,user=admin' | head -n 1)"
# Kafka's other refusals of a filter: a type it does not know is
# UNSUPPORTED_VERSION, ip with user or client-id and an empty type
# INVALID_REQUEST; each logged.
expect_eq "describe a custom type: UNSUPPORTED_VERSION" "error 35" \
	"$(describe 'group=*' | head -n 1)"
check "logged: the custom type" grep -q \
	"DescribeClientQuotas from .* refused: Custom entity type 'group' not supported" "$LOG"
expect_eq "describe ip with user" "error 42" "$(describe 'ip=*,user=*' | head -n 1)"
check "logged: the combination" grep -q \
	"DescribeClientQuotas from .* refused: Invalid entity filter component combination" "$LOG"
expect_eq "describe an empty type" "error 42" "$(describe '=*' | head -n 1)"
expect_eq "describe ip alone: none kept" "error 0" "$(describe 'ip=*')"

# Kafka's refusals, each logged.
refused() { # refused NAME ENTITY OPS: INVALID_REQUEST
	_out=$(alter "$2" "$3")
	case $_out in
	"error 42 "*) ok "$1 refused: ${_out#error 42 }" ;;
	*) fail "$1 refused" "got '$_out'" ;;
	esac
}
refused "an unknown key" client-id=c2 produce_rate=10
refused "a fractional byte rate" client-id=c2 producer_byte_rate=1.5
expect_eq "its message, Kafka's" "error 42 Configuration producer_byte_rate must be a LONG value" \
	"$(alter client-id=c2 producer_byte_rate=1.5)"
refused "request_percentage" client-id=c2 request_percentage=50
refused "an empty entity" "" producer_byte_rate=10
refused "an ip entity" ip=127.0.0.1 producer_byte_rate=10
refused "a type twice" client-id=a,client-id=b producer_byte_rate=10
check "logged: a refusal with its reason" grep -q \
	"AlterClientQuotas from .* as admin: produce_rate=10 refused: Invalid configuration key produce_rate" "$LOG"
expect_eq "validate_only" "error 0 -" "$(alter client-id=c3 producer_byte_rate=10 validate)"
expect_eq "validate_only wrote nothing" "error 0" "$(describe client-id=c3)"

# Beside SCRAM credentials: /config/users/<u> holds both.
expect_eq "bob's credential set" "bob 0" "$(raw 1 scram-alter set bob bob-secret 4096)"
expect_eq "bob's quota" "error 0 -" "$(alter user=bob producer_byte_rate=4096)"
expect_eq "bob's credential still there" "error 0
bob 0 1:4096" "$(raw 2 scram-describe bob)"
expect_eq "bob's credential deleted" "bob 0" "$(raw 1 scram-alter delete bob x 4096)"
expect_eq "bob's quota stays" "error 0
user=bob producer_byte_rate=4096" "$(describe user=bob)"
expect_eq "carol's quota first" "error 0 -" "$(alter user=carol consumer_byte_rate=512)"
expect_eq "then carol's credential" "carol 0" "$(raw 1 scram-alter set carol c-secret 4096)"
expect_eq "carol's quota kept" "error 0
user=carol consumer_byte_rate=512" "$(describe user=carol)"
expect_eq "every SCRAM user: not bob (quotas only) nor <default>" "error 0
admin 0 1:4096
carol 0 1:4096" "$(raw 2 scram-describe -)"
expect_eq "admin's credential beside its quota" "error 0
admin 0 1:4096" "$(raw 2 scram-describe admin)"

# Throttling on q's leader (the only replica).
expect_ok "mkdir mnt1/q" mkdir "$MQ_TMP/mnt1/q"
leader_known() {
	LEADER=$(timeout 5 awk '$1 == "0" { print $5 }' "$MQ_TMP/mnt1/q/.state" 2>/dev/null)
	[ "$LEADER" = 1 ] || [ "$LEADER" = 2 ]
}
check "q has a leader" poll 20 leader_known
throttled() { # throttled CLIENT: a Produce of CLIENT gets a throttle time
	_t=$(raw "$LEADER" produce-throttle "$1" q 0 20000 20)
	echo "# $(date +%T.%N) $1: $_t" >>"$LOG"
	case $_t in "throttle 0 "* | "") return 1 ;; "throttle "*) return 0 ;; esac
	return 1
}
not_throttled() { # not_throttled CLIENT: 20 Produce requests, none throttled
	_t=$(raw "$LEADER" produce-throttle "$1" q 0 20000 20)
	echo "# $(date +%T.%N) $1: $_t" >>"$LOG"
	[ "$_t" = "throttle 0 after 20" ]
}
check "client c1 past 1024 bytes/s is throttled" poll 30 throttled c1
check "another client id is not (its default: 1 MiB/s)" not_throttled other
check "logged: the throttle" grep -q \
	"client quota: Produce from .* (user admin, client-id 'c1') over its producer_byte_rate: throttled" \
	"$LOG"
expect_eq "c1's quota removed" "error 0 -" "$(alter client-id=c1 producer_byte_rate=-)"
check "c1 is not throttled any more" poll 30 not_throttled c1
check "logged: the change" grep -q "client quota clients/c1: -producer_byte_rate by" "$LOG"
# The brokers' own requests (client id mqfs as their user: forwarded
# mount writes, read copies' fetches) are never client-quota'd.
# The leader has the quota once a client id set after it (canary) is
# throttled: each notice makes it read every quota again.
expect_eq "a quota on client id mqfs" "error 0 -" "$(alter client-id=mqfs producer_byte_rate=1)"
expect_eq "and on canary" "error 0 -" "$(alter client-id=canary producer_byte_rate=1)"
check "canary is throttled" poll 30 throttled canary
check "the brokers' own client id is not throttled" not_throttled mqfs
expect_eq "mqfs's quota removed" "error 0 -" "$(alter client-id=mqfs producer_byte_rate=-)"

# Kafka counts a Produce's whole size against producer_byte_rate, not
# its records alone. A client id of 200 bytes at 10 bytes/s: one Produce
# of a 1-byte record (a 69-byte batch, about 300 bytes with the header
# and names) is already past 10 bytes/s over the 10 s span (its records
# alone would not be: 6.9 bytes/s). Its quota is set before canary2's, so
# it is in effect once canary2 is throttled.
LONGID=$(printf 'L%.0s' $(seq 200))
expect_eq "a quota on a long client id" "error 0 -" \
	"$(alter "client-id=$LONGID" producer_byte_rate=10)"
expect_eq "and on canary2" "error 0 -" "$(alter client-id=canary2 producer_byte_rate=1)"
check "canary2 is throttled" poll 30 throttled canary2
_t=$(raw "$LEADER" produce-throttle "$LONGID" q 0 1 1)
case $_t in
"throttle 0 "* | "") fail "one small Produce of the long client id is throttled" "got '$_t'" ;;
"throttle "*" after 1") ok "one small Produce of the long client id is throttled: $_t" ;;
*) fail "one small Produce of the long client id is throttled" "got '$_t'" ;;
esac

# Fetch: consumer_byte_rate for client c4. q holds more than 20 records
# of 20 KB: each Fetch reads up to 1 MiB from offset 0. Once past 2048
# bytes/s the answer has a throttle time and no partition; another client
# id reads them unthrottled; the leader's .metrics counts the produce
# and fetch throttles and their times. A follower's fetch is never client-quota'd
# (q has no follower here; the replication tests cover theirs).
expect_eq "consumer_byte_rate for client c4" "error 0 -" \
	"$(alter client-id=c4 consumer_byte_rate=2048)"
# c7's quota, for the fetch session below, in effect once c4's is.
expect_eq "consumer_byte_rate for client c7" "error 0 -" \
	"$(alter client-id=c7 consumer_byte_rate=3000)"
# admin's default client (users/admin/clients/<default>) comes before
# clients/c4 in Kafka's order: its quota goes first.
expect_eq "admin's default-client quota removed" "error 0 -" \
	"$(alter 'user=admin,client-id=<default>' consumer_byte_rate=-)"
fetch_throttled() { # fetch_throttled N CLIENT TOPIC: within 20 Fetches on broker N, one throttled
	_t=$(raw "$1" fetch-throttle "$2" "$3" 0 20)
	echo "# $(date +%T.%N) $2: $_t" >>"$LOG"
	case $_t in "throttle 0 "* | "") return 1 ;; "throttle "*" no partitions") return 0 ;; esac
	return 1
}
check "client c4 past 2048 bytes/s: throttled, no partition in the answer" \
	poll 30 fetch_throttled "$LEADER" c4 q
fetch_free() { # c5 reads records, not throttled (its entities set no consumer rate)
	_t=$(raw "$LEADER" fetch-throttle c5 q 0 3)
	echo "# $(date +%T.%N) c5: $_t" >>"$LOG"
	case $_t in "throttle 0 after 3 records "*) [ "${_t##* }" -gt 0 ] ;; *) return 1 ;; esac
}
check "another client reads unthrottled" poll 30 fetch_free
check "logged: the fetch throttle" grep -q \
	"client quota: Fetch from .* (user admin, client-id 'c4') over its consumer_byte_rate" "$LOG"
# The leader's .metrics counts the throttles and their times by kind.
metric_above0() { # metric_above0 NAME: NAME's value in the leader's .metrics is > 0
	_v=$(awk -v k="$1" '$1 == k { print $2 }' "$MQ_TMP/mnt$LEADER/.metrics")
	echo "# $1 $_v" >>"$LOG"
	[ -n "$_v" ] && [ "$_v" -gt 0 ]
}
for _k in produce fetch; do
	check ".metrics: $_k throttles counted" \
		metric_above0 "mqfs_client_quota_throttled_total{quota=\"$_k\"}"
	check ".metrics: $_k throttle times summed" \
		metric_above0 "mqfs_client_quota_throttle_ms_total{quota=\"$_k\"}"
done

# A fetch session (Fetch v7) of client c7 at 3000 bytes/s: its full
# fetch from offset 0 gets the first 20 KB record (about 2007 bytes/s
# over the 10 s span), unthrottled, and opens the session; a record is
# produced (the high watermark moves); the incremental fetch reads the
# same 20 KB again, is throttled, and names no partition, not even the
# new high watermark: its session keeps its id and what it last told.
expect_eq "c7: a full fetch opens a session; the throttled incremental one names no partition" \
	"full throttle 0 error 0 session yes topics 1
incremental throttle above0 error 0 session same topics 0" \
	"$(raw "$LEADER" fetch-session-throttle c7 q 0)"

# A consumer with 10240 bytes/s and more than 400 KB to read: its Fetch
# of up to 1 MiB is capped to what the quota takes in its window (10
# windows of 1 s: 102400 bytes; Kafka's getMaxValueInQuotaWindow), so
# its first answer has records, about five of 20 KB, and no throttle.
# Uncapped it would read all, be throttled and get none, every time.
expect_eq "consumer_byte_rate for client c6" "error 0 -" \
	"$(alter client-id=c6 consumer_byte_rate=10240)"
fetch_capped() {
	_t=$(raw "$LEADER" fetch-throttle c6 q 0 1)
	echo "# $(date +%T.%N) c6: $_t" >>"$LOG"
	case $_t in
	"throttle 0 after 1 records "*)
		[ "${_t##* }" -gt 0 ] && [ "${_t##* }" -le $((102400 + 21000)) ] ;;
	*) return 1 ;;
	esac
}
check "client c6: its first Fetch gets records within its quota window, unthrottled" \
	poll 30 fetch_capped

# The consumer_byte_rate counts a Fetch's whole answer, as Kafka records
# its response's size (getResponseSize), not its records alone: a client
# (c8, 10 bytes/s) fetching an empty partition of topic e again and again
# is throttled by the answers' headers and offsets alone.
expect_ok "mkdir mnt1/e" mkdir "$MQ_TMP/mnt1/e"
e_leader_known() {
	ELEADER=$(timeout 5 awk '$1 == "0" { print $5 }' "$MQ_TMP/mnt1/e/.state" 2>/dev/null)
	[ "$ELEADER" = 1 ] || [ "$ELEADER" = 2 ]
}
check "e has a leader" poll 20 e_leader_known
expect_eq "consumer_byte_rate for client c8" "error 0 -" \
	"$(alter client-id=c8 consumer_byte_rate=10)"
check "client c8 at 10 bytes/s: Fetches of an empty partition are throttled" \
	poll 30 fetch_throttled "$ELEADER" c8 e

mq_done
