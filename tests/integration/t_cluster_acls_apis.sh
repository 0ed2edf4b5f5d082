#!/bin/sh
# t_cluster_acls_apis.sh — API by API, what Kafka 3.7's KafkaApis asks of
# its AclAuthorizer: raw requests (kafka_raw.py) as bob, a SCRAM user and
# no super user, in three SASL brokers with authorizer.class.name set,
# first without the ACL each API needs, then with it.
#
# DescribeConfigs: TOPIC_AUTHORIZATION_FAILED for a topic,
# CLUSTER_AUTHORIZATION_FAILED for a broker until DESCRIBE_CONFIGS.
# Without: Metadata v8 TOPIC_AUTHORIZATION_FAILED with the topic's
# operations left at the schema's default (as for a topic it may describe
# and not auto-create); InitProducerId CLUSTER_AUTHORIZATION_FAILED; OffsetForLeaderEpoch
# TOPIC_AUTHORIZATION_FAILED, a follower's too;
# AlterPartitionReassignments CLUSTER_AUTHORIZATION_FAILED at the top and
# in every partition named (Kafka's error answer), ListPartitionReassignments
# too, each partition asked listed empty; CreateTopics v5
# TOPIC_AUTHORIZATION_FAILED with the settings' error too; LeaderAndIsr,
# StopReplica, UpdateMetadata, ControlledShutdown, ElectLeaders,
# DescribeUserScramCredentials (one result per user named, nameless, as
# Kafka's error answer), DescribeClientQuotas CLUSTER_AUTHORIZATION_FAILED;
# DescribeLogDirs v1 no directory; ListOffsets, DeleteRecords,
# DescribeProducers (READ, which WRITE does not imply)
# TOPIC_AUTHORIZATION_FAILED; ListGroups none; DescribeGroups
# GROUP_AUTHORIZATION_FAILED with the operations omitted. The delegation
# token APIs DELEGATION_TOKEN_AUTH_DISABLED (no delegation.token.secret.key).
# With the topic's and group's ACLs (no cluster one): InitProducerId
# (WRITE on some topic), ListOffsets, DeleteRecords, a follower's
# OffsetForLeaderEpoch (DESCRIBE) allowed; ListGroups
# lists only the group bob may describe, DescribeGroups its operations
# (DESCRIBE); CreateTopics with CREATE alone creates but hides the
# settings, partitions and replication factor (TOPIC_AUTHORIZATION_FAILED
# as the settings' error), with DESCRIBE_CONFIGS shows them;
# AlterPartitionReassignments still refused. With the cluster's ALTER,
# DESCRIBE, DESCRIBE_CONFIGS: reassignments, elections, log dirs, SCRAM
# users, quotas, every group answered; alice with CLUSTER_ACTION alone: a
# consumer's OffsetForLeaderEpoch, StopReplica, LeaderAndIsr.
#
# Hostile ACL input: a 1,000-character topic name and prefix and a
# 32,000-byte group name are stored, seen by the other brokers and
# deleted, as Kafka; a huge principal is stored; a principal without "User:"
# and unknown resource, pattern, operation and permission codes in a
# creation are INVALID_REQUEST; the UNKNOWN code (0) in a creation or a
# filter closes the connection unanswered (as Kafka's request does not
# parse), another unknown code in a filter matches nothing; 10,000 ACLs on one resource in one CreateAcls are all
# stored and read by another broker. A znode of bad JSON written straight
# into ZooKeeper with its notice: logged, the resource then has no ACL (as
# Kafka reads a document it cannot parse), the broker serves, the next
# CreateAcls rewrites it. ACL changes racing produce requests: each answer
# allowed or refused, the brokers serve.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

acl_cluster_start
acl() { # acl SPEC...: CreateAcls as admin through broker 1, each taken
	_want=$(for _s in "$@"; do echo "result 0"; done)
	expect_eq "CreateAcls $*" "$_want" "$(raw 1 admin acl-create "$@")"
}
is() { # is WANT N USER CMD ARGS...: raw's answer is WANT (for poll)
	_w=$1
	shift
	[ "$(raw "$@")" = "$_w" ]
}
# Only the controller alters SCRAM users (the others: NOT_CONTROLLER).
check "a controller" poll 30 has_controller
C=$(controller)
expect_eq "bob's credential" "bob 0" "$(raw "$C" admin scram-alter set bob bob-secret 4096)"
expect_eq "alice's credential" "alice 0" "$(raw "$C" admin scram-alter set alice alice-secret 4096)"
expect_ok "mkdir mnt1/t" mkdir "$MQ_TMP/mnt1/t"
expect_ok "mkdir mnt1/d1" mkdir "$MQ_TMP/mnt1/d1"
t_led() { [ -n "$(t_field "$MQ_TMP/mnt1" 5)" ] && [ "$(t_field "$MQ_TMP/mnt1" 5)" != -1 ]; }
check "t has a leader" poll 30 t_led
L=$(t_field "$MQ_TMP/mnt1" 5)
check "a controller" poll 30 has_controller
C=$(controller)
# The first FindCoordinator makes __consumer_offsets and is answered
# COORDINATOR_NOT_AVAILABLE (Kafka's auto-creation): asked until named.
ga_known() {
	GC=$(group_coordinator ga)
	case $GC in 1 | 2 | 3) return 0 ;; *) return 1 ;; esac
}
check "FindCoordinator ga names a broker" poll 40 ga_known
expect_eq "admin commits group ga" "error 0" "$(raw "$GC" admin commit-epoch ga t 0 0 -1)"

# ---- bob without any ACL ----
expect_eq "InitProducerId: CLUSTER_AUTHORIZATION_FAILED" "error 31" "$(raw 1 bob initpid-as)"
expect_eq "InitProducerId as alice: CLUSTER_AUTHORIZATION_FAILED" "error 31" "$(raw 1 alice initpid-as)"
expect_eq "AlterPartitionReassignments: refused at the top and in the partition" "error 31 31" \
	"$(raw "$C" bob cancel t 0)"
expect_eq "ListPartitionReassignments: refused, the partition asked listed empty" "error 31
t 0 replicas -" "$(raw "$C" bob list-reassign t 0)"
expect_eq "CreateTopics v5: TOPIC_AUTHORIZATION_FAILED, the settings' error too" \
	"error 29 cfgerror 29 partitions -1 rf -1 configs 0" "$(raw "$C" bob create5 c1)"
expect_ok "c1 was not made" test ! -e "$MQ_TMP/mnt1/c1"
expect_eq "LeaderAndIsr v0: CLUSTER_AUTHORIZATION_FAILED" "error 31" \
	"$(raw 1 bob errcode 4 0 00000001000000010000000000000000)"
expect_eq "StopReplica v0: CLUSTER_AUTHORIZATION_FAILED" "error 31" \
	"$(raw 1 bob errcode 5 0 00000001000000010000000000)"
expect_eq "UpdateMetadata v0: CLUSTER_AUTHORIZATION_FAILED" "error 31" \
	"$(raw 1 bob errcode 6 0 00000001000000010000000000000000)"
expect_eq "ControlledShutdown v1: CLUSTER_AUTHORIZATION_FAILED" "error 31" \
	"$(raw "$C" bob errcode 7 1 00000001)"
check "and the three brokers are still live" alive_on "$MQ_TMP/mnt2" 3
expect_eq "ElectLeaders: CLUSTER_AUTHORIZATION_FAILED" "ElectLeaders: error 31, 1 topics" \
	"$(raw "$C" bob elect 0 t 0)"
expect_eq "DescribeLogDirs v1: no directory" "DescribeLogDirs: 0 log directories" \
	"$(raw 1 bob logdirs t 0)"
expect_eq "DescribeUserScramCredentials: refused, one nameless result per user named" "error 31
 31 -
 31 -" "$(raw 1 bob scram-describe bob,alice)"
expect_eq "DescribeClientQuotas: CLUSTER_AUTHORIZATION_FAILED" "error 31" \
	"$(raw 1 bob quota-describe 'user=*')"
expect_eq "ListOffsets: TOPIC_AUTHORIZATION_FAILED" "error 29" "$(raw "$L" bob list-offsets t 0)"
expect_eq "DeleteRecords: TOPIC_AUTHORIZATION_FAILED" "error 29" \
	"$(raw "$L" bob delete-records t 0 0)"
expect_eq "DescribeProducers: TOPIC_AUTHORIZATION_FAILED" "error 29" \
	"$(raw "$L" bob describe-producers t 0)"
expect_ok "that refusal logged" grep -q \
	"DescribeProducers from .*: topic 't' refused: TOPIC_AUTHORIZATION_FAILED: Topic authorization failed." \
	"$LOG"
# No delegation.token.secret.key here: tokens are disabled, as Kafka.
expect_eq "CreateDelegationToken: DELEGATION_TOKEN_AUTH_DISABLED" \
	"error 61 owner User:bob requester User:bob issue -1 expiry -1 max -1 id - hmac -" \
	"$(raw 1 bob token-create 3 - -1)"
expect_eq "DescribeDelegationToken: DELEGATION_TOKEN_AUTH_DISABLED" "error 61" \
	"$(raw 2 bob token-describe 0 -)"
expect_eq "RenewDelegationToken: DELEGATION_TOKEN_AUTH_DISABLED" "error 61 expiry -1" \
	"$(raw 3 bob token-renew 2 AAAA 1000)"
expect_eq "OffsetForLeaderEpoch as a follower (replica 1): TOPIC_AUTHORIZATION_FAILED" "error 29" \
	"$(raw "$L" bob ofle t 0 1)"
expect_eq "OffsetForLeaderEpoch as a consumer: TOPIC_AUTHORIZATION_FAILED" "error 29" \
	"$(raw "$L" bob ofle t 0 -1)"
expect_eq "Metadata v8 of t: TOPIC_AUTHORIZATION_FAILED, its operations left at the default" \
	"error 29 ops -2147483648 cluster 0" "$(raw 1 bob metadata-ops t)"
expect_eq "ListGroups: none" "error 0" "$(raw "$GC" bob list-groups)"
expect_eq "DescribeGroups: GROUP_AUTHORIZATION_FAILED, operations omitted" \
	"error 30 ops -2147483648" "$(raw "$GC" bob describe-group ga)"

expect_eq "DescribeConfigs of t: TOPIC_AUTHORIZATION_FAILED" "error 29" \
	"$(raw 1 bob describe-configs 2 t)"
expect_eq "DescribeConfigs of broker 1: CLUSTER_AUTHORIZATION_FAILED" "error 31" \
	"$(raw 1 bob describe-configs 4 1)"
expect_eq "IncrementalAlterConfigs of broker 1: CLUSTER_AUTHORIZATION_FAILED" "error 31" \
	"$(raw 1 bob incalter 1 0 log.cleaner.threads 2)"
expect_eq "AlterClientQuotas: CLUSTER_AUTHORIZATION_FAILED, a null message" "error 31 -" \
	"$(raw 1 bob quota-alter user=bob producer_byte_rate=1000 validate)"
expect_eq "AlterUserScramCredentials: CLUSTER_AUTHORIZATION_FAILED" "bob 31" \
	"$(raw "$C" bob scram-alter set bob bob-secret 4096)"
expect_eq "DeleteTopics: TOPIC_AUTHORIZATION_FAILED" "error 29" \
	"$(raw "$C" bob named-errors delete-topics d1)"
expect_eq "CreatePartitions: TOPIC_AUTHORIZATION_FAILED" "error 29" \
	"$(raw "$C" bob named-errors create-partitions t)"
expect_eq "DeleteGroups: GROUP_AUTHORIZATION_FAILED" "error 30" \
	"$(raw "$GC" bob named-errors delete-groups ga)"
expect_eq "OffsetDelete: GROUP_AUTHORIZATION_FAILED, no partition" "error 30 -" \
	"$(raw "$GC" bob named-errors offset-delete t ga)"
expect_eq "OffsetFetch: GROUP_AUTHORIZATION_FAILED" "error 30 offset -1 epoch -1" \
	"$(raw "$GC" bob committed ga t 0)"

# ---- the topics' and the group's ACLs ----
acl topic,literal,t,User:bob,*,write,allow topic,literal,t,User:bob,*,delete,allow \
	group,literal,ga,User:bob,*,describe,allow topic,literal,c1,User:bob,*,create,allow \
	topic,literal,c2,User:bob,*,create,allow topic,literal,c2,User:bob,*,describe_configs,allow
acl topic,literal,nx,User:bob,*,describe,allow topic,literal,d1,User:bob,*,delete,allow \
	topic,literal,t,User:bob,*,alter,allow
check "InitProducerId with WRITE on t" poll 30 is "error 0" 1 bob initpid-as
check "Metadata v8 of t: its operations (WRITE, DELETE, ALTER, DESCRIBE)" poll 30 is \
	"error 0 ops 464 cluster 0" 1 bob metadata-ops t
expect_eq "Metadata v8 of nx (DESCRIBE, not CREATE): refused, operations left at the default" \
	"error 29 ops -2147483648 cluster 0" "$(raw 1 bob metadata-ops nx)"
expect_ok "nx was not made" test ! -e "$MQ_TMP/mnt1/nx"
check "ListGroups lists the group bob may describe" poll 30 is "error 0
ga" "$GC" bob list-groups
expect_eq "DescribeGroups: its operations (DESCRIBE)" "error 0 ops 256" \
	"$(raw "$GC" bob describe-group ga)"
check "ListOffsets (DESCRIBE: WRITE implies it)" poll 30 is "error 0" "$L" bob list-offsets t 0
expect_eq "DeleteRecords with DELETE" "error 0" "$(raw "$L" bob delete-records t 0 0)"
check "DeleteTopics of d1 with DELETE on it" poll 30 is "error 0" "$C" bob named-errors \
	delete-topics d1
check "CreatePartitions (validate) with ALTER on t" poll 30 is "error 0" "$C" bob named-errors \
	create-partitions t
expect_eq "OffsetFetch with DESCRIBE on the group and t" "error 0 offset 0 epoch -1" \
	"$(raw "$GC" bob committed ga t 0)"
expect_eq "DescribeProducers with WRITE, DELETE, ALTER on t but no READ: refused" "error 29" \
	"$(raw "$L" bob describe-producers t 0)"
expect_eq "OffsetForLeaderEpoch as a follower with DESCRIBE on t (KIP-320)" "error 0" \
	"$(raw "$L" bob ofle t 0 1)"
check "CreateTopics with CREATE alone: created, settings hidden" poll 30 is \
	"error 0 cfgerror 29 partitions -1 rf -1 configs 0" "$C" bob create5 c1
expect_ok "c1 was made" test -d "$MQ_TMP/mnt1/c1"
expect_eq "CreateTopics of c1 again: TOPIC_ALREADY_EXISTS, no settings' error (Kafka resets it)" \
	"error 36 cfgerror 0 partitions -1 rf -1 configs 0" "$(raw "$C" bob create5 c1)"
c2_shown() { raw "$C" bob create5 c2 validate | grep -q "^error 0 cfgerror 0 partitions 1 rf 3 configs [1-9]"; }
check "CreateTopics with DESCRIBE_CONFIGS too: settings shown" c2_shown
expect_eq "AlterPartitionReassignments still refused (no ALTER on the cluster)" "error 31 31" \
	"$(raw "$C" bob cancel t 0)"

# ---- the cluster's ----
acl cluster,literal,kafka-cluster,User:bob,*,alter,allow \
	cluster,literal,kafka-cluster,User:bob,*,describe,allow \
	cluster,literal,kafka-cluster,User:bob,*,describe_configs,allow \
	cluster,literal,kafka-cluster,User:alice,*,cluster_action,allow \
	cluster,literal,kafka-cluster,User:bob,*,alter_configs,allow group,literal,ga,User:bob,*,delete,allow \
	cluster,literal,kafka-cluster,User:alice,*,idempotent_write,allow
check "AlterPartitionReassignments with ALTER: NO_REASSIGNMENT_IN_PROGRESS" poll 30 is \
	"error 0 85" "$C" bob cancel t 0
expect_eq "ListPartitionReassignments with DESCRIBE: none in progress" "error 0" \
	"$(raw "$C" bob list-reassign t 0)"
expect_eq "ElectLeaders with ALTER: ELECTION_NOT_NEEDED" "error 84" "$(raw "$C" bob elect 0 t 0)"
check "DescribeLogDirs with DESCRIBE" poll 30 is "error 0 partitions 1" 1 bob logdirs t 0
expect_eq "DescribeUserScramCredentials with DESCRIBE" "error 0
bob 0 1:4096" "$(raw 1 bob scram-describe bob)"
expect_eq "DescribeClientQuotas with DESCRIBE_CONFIGS" "error 0" \
	"$(raw 1 bob quota-describe 'user=*')"
check "ListGroups with DESCRIBE on the cluster: every group" poll 30 is "error 0
ga
t/ga" "$GC" bob list-groups
expect_eq "Metadata v8: the cluster's operations (ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS)" \
	"error 0 ops 464 cluster 3456" "$(raw 1 bob metadata-ops t)"
check "InitProducerId as alice with IDEMPOTENT_WRITE on the cluster, no WRITE on a topic" poll 30 \
	is "error 0" 1 alice initpid-as
expect_eq "DescribeConfigs of broker 1 with DESCRIBE_CONFIGS on the cluster" "error 0" \
	"$(raw 1 bob describe-configs 4 1)"
expect_eq "DescribeConfigs of t still refused (none on t)" "error 29" \
	"$(raw 1 bob describe-configs 2 t)"
expect_eq "DescribeConfigs of c2 with DESCRIBE_CONFIGS on it: allowed, not made (validated only)" "error 3" \
	"$(raw 1 bob describe-configs 2 c2)"
check "AlterClientQuotas (validate) with ALTER_CONFIGS" poll 30 is "error 0 -" 1 bob \
	quota-alter user=bob producer_byte_rate=1000 validate
expect_eq "AlterUserScramCredentials with ALTER" "bob 0" \
	"$(raw "$C" bob scram-alter set bob bob-secret 4096)"
check "OffsetDelete with DELETE on the group, no READ on t: the partition refused" poll 30 is \
	"error 0 29" "$GC" bob named-errors offset-delete t ga
check "OffsetForLeaderEpoch as a consumer with CLUSTER_ACTION alone" poll 30 is "error 0" \
	"$L" alice ofle t 0 -1
taken() { raw "$@" | grep -qx "error 0\|error 11"; } # done, or a stale controller epoch
check "StopReplica v0 (no partition) with CLUSTER_ACTION: taken" taken 1 alice errcode 5 0 \
	00000001000000010000000000
check "LeaderAndIsr v0 (no partition) with CLUSTER_ACTION: taken" taken 1 alice errcode 4 0 \
	00000001000000010000000000000000

# ---- hostile ACL input ----
# Names of any length are stored, as Kafka stores them (its ZooKeeper
# paths have no bound; only a topic made is limited to 249 characters):
# a 1,000-character topic name and prefix made through broker 1, seen by
# broker 3 through the notice, deleted through broker 2.
K=$(python3 -c 'print("k" * 1000)')
for pat in literal prefixed; do
	code=3
	[ "$pat" = prefixed ] && code=4
	acl "topic,$pat,$K,User:alice,*,read,allow"
	check "broker 3 has the $pat ACL of the 1,000-character name" poll 30 is "error 0
2,$code,$K,User:alice,*,3,3" 3 admin acl-describe "topic,$pat,$K,-,-,any,any"
	expect_eq "DeleteAcls of it through broker 2" "filter 0 1
2,$code,$K,User:alice,*,3,3" "$(raw 2 admin acl-delete "topic,$pat,$K,-,-,any,any")"
	check "broker 3 no longer has it" poll 30 is "error 0" 3 admin \
		acl-describe "topic,$pat,$K,-,-,any,any"
done
BIG=$(python3 -c 'print("x" * 32000)')
expect_eq "CreateAcls of a 32000-byte group name: stored" "result 0" \
	"$(raw 1 admin acl-create "group,literal,$BIG,User:alice,*,read,allow")"
expect_eq "DeleteAcls of it" "filter 0 1" \
	"$(raw 1 admin acl-delete "group,literal,$BIG,-,-,any,any" | head -1)"
BIGP=$(python3 -c 'print("User:" + "y" * 20000)')
expect_eq "CreateAcls of a 20000-byte principal: stored" "result 0" \
	"$(raw 1 admin acl-create "topic,literal,t,$BIGP,*,read,allow")"
expect_eq "a principal without User:: INVALID_REQUEST" \
	"result 42 Invalid principal: expected Type:name" \
	"$(raw 1 admin acl-create topic,literal,t,alice,*,read,allow)"
expect_eq "unknown codes (99): INVALID_REQUEST each" "result 42 Invalid resource type
result 42 Invalid pattern type: only LITERAL and PREFIXED may be stored
result 42 Invalid operation
result 42 Invalid permission type" "$(raw 1 admin acl-create 99,literal,t,User:alice,*,read,allow \
	topic,99,t,User:alice,*,read,allow topic,literal,t,User:alice,*,99,allow \
	topic,literal,t,User:alice,*,read,99)"
# The UNKNOWN code (0) in a creation or filter: Kafka's request does not
# parse (validate() throws), and its broker closes the connection.
CLOSED="connection closed by the broker"
expect_eq "DescribeAcls of the UNKNOWN type (0): closed" "$CLOSED" \
	"$(raw 1 admin acl-describe 0,any,-,-,-,any,any)"
expect_eq "DescribeAcls of the UNKNOWN operation (0): closed" "$CLOSED" \
	"$(raw 1 admin acl-describe any,any,-,-,-,0,any)"
expect_eq "DeleteAcls with a filter of the UNKNOWN permission (0): closed" "$CLOSED" \
	"$(raw 1 admin acl-delete any,any,-,-,-,any,any any,any,-,-,-,any,0)"
expect_eq "CreateAcls of the UNKNOWN operation (0): closed, nothing stored" "$CLOSED" \
	"$(raw 1 admin acl-create topic,literal,u0,User:alice,*,read,allow \
		topic,literal,u0,User:alice,*,0,allow)"
expect_eq "CreateAcls of the UNKNOWN permission (0): closed" "$CLOSED" \
	"$(raw 1 admin acl-create topic,literal,u0,User:alice,*,read,0)"
expect_eq "bob's (no ALTER) too: closed before authorization, as Kafka" "$CLOSED" \
	"$(raw 1 bob acl-create topic,literal,u0,User:alice,*,0,allow)"
check "each logged" grep -q \
	"CreateAcls from 127.0.0.1:[0-9]*.*entry 1 has the UNKNOWN operation (0)" "$LOG"
expect_eq "u0 has no ACL" "error 0" "$(raw 1 admin acl-describe topic,literal,u0,-,-,any,any)"
expect_eq "a filter with a code no type has (99): matches nothing" "error 0" \
	"$(raw 1 admin acl-describe 99,any,-,-,-,any,any)"
expect_eq "DeleteAcls with an operation code 99: deletes nothing" "filter 0 0" \
	"$(raw 1 admin acl-delete any,any,-,-,-,99,any)"
MANY=$(python3 -c 'print(" ".join("topic,literal,many,User:u%d,*,read,allow" % i for i in range(10000)))')
# shellcheck disable=SC2086
expect_eq "10,000 ACLs on one resource in one CreateAcls" "10000 result 0" \
	"$(raw 1 admin acl-create $MANY | sort | uniq -c | sed 's/^ *//')"
many3() { [ "$(raw 3 admin acl-describe topic,literal,many,-,-,any,any | wc -l)" = 10001 ]; }
check "broker 3 reads all 10,000" poll 30 many3
serves() { raw "$1" admin acl-describe topic,literal,t,-,-,any,any | head -1 | grep -qx "error 0"; }
check "broker 1 serves" serves 1

acl topic,literal,bj,User:alice,*,read,allow
bj3() { is "error 0
2,3,bj,User:alice,*,3,3" 3 admin acl-describe topic,literal,bj,-,-,any,any; }
check "broker 3 has alice's READ on bj" poll 30 bj3
expect_eq "DescribeProducers as alice with READ on bj: past the authorizer (no topic bj)" \
	"error 3" "$(raw 3 alice describe-producers bj 0)"
zk_cli "$ZKPORT" set /mqfs/kafka-acl/Topic/bj 'not json' >/dev/null
zk_cli "$ZKPORT" create -s /mqfs/kafka-acl-changes/acl_changes_ 'Topic:bj' >/dev/null
check "bad JSON in /kafka-acl/Topic/bj: logged" poll 30 grep -q "Topic/bj do not decode" "$LOG"
check "then bj has no ACL on broker 3, as Kafka reads it" poll 30 is "error 0" 3 admin \
	acl-describe topic,literal,bj,-,-,any,any
check "broker 3 serves" serves 3
acl topic,literal,bj,User:alice,*,write,allow
check "the next CreateAcls rewrites it" zhas /kafka-acl/Topic/bj '"operation":"Write"'

toggle() { # alice's WRITE on t created and deleted 10 times through brokers 2 and 3
	for _i in 1 2 3 4 5 6 7 8 9 10; do
		raw 2 admin acl-create topic,literal,t,User:alice,*,write,allow
		raw 3 admin acl-delete topic,literal,t,User:alice,*,write,allow
	done >"$MQ_TMP/toggle.out"
}
toggle &
TOGGLE=$!
: >"$MQ_TMP/race.out"
for _i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	raw "$L" alice produce t 0 r >>"$MQ_TMP/race.out"
done
wait "$TOGGLE"
expect_eq "racing ACL changes: every produce allowed or refused" "" \
	"$(grep -v '^error 0$\|^error 29$' "$MQ_TMP/race.out")"
expect_eq "and every change taken" "" \
	"$(grep -v '^result 0$\|^filter 0 1$\|^2,3,t,User:alice,\*,4,3$' "$MQ_TMP/toggle.out")"
check "the brokers serve" is "error 0" "$L" bob list-offsets t 0

mq_done
