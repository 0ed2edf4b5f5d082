#!/bin/sh
# t_cluster_acls.sh — Kafka's ZooKeeper-era ACL authorizer: ZooKeeper and
# three brokers with SASL and authorizer.class.name=AclAuthorizer (the
# brokers' user admin, a super user without being named). Two SCRAM users,
# alice and bob. With no ACL nobody but admin may use topic t
# (allow.everyone.if.no.acl.found false): kcat as alice is refused
# producing. CreateAcls through broker 1 (kafka_raw.py, what
# kafka-acls.sh --bootstrap-server sends): alice may WRITE and READ t;
# the binding is in ZooKeeper as Kafka writes it (/kafka-acl/Topic/t,
# a notice in /kafka-acl-changes), DescribeAcls through brokers 2 and 3
# shows it (their caches follow the notice), Metadata as alice through
# broker 2 stops answering TOPIC_AUTHORIZATION_FAILED. kcat as alice
# produces and consumes; as bob it gets TOPIC_AUTHORIZATION_FAILED both
# ways (logged as Kafka's authorizer logs a denial). An OffsetCommit of
# group ga as alice: GROUP_AUTHORIZATION_FAILED until a READ on the
# group, then committed; bob with the group's READ but not the topic's:
# TOPIC_AUTHORIZATION_FAILED. A DENY of WRITE for alice wins over her
# ALLOW; DeleteAcls of the deny lets her write again, of her READ stops
# her reading. A PREFIXED WRITE on p- for bob (its znode under
# /kafka-acl-extended, its notice in /kafka-acl-extended-changes,
# followed by broker 3) lets him produce to p-1, not to t. kcat as
# alice to a new topic n1 is refused (auto-creation needs CREATE) and
# makes nothing, until she has CREATE on it. bob may not create ACLs (CLUSTER_AUTHORIZATION_FAILED
# without ALTER on the cluster); a CLUSTER resource not named
# kafka-cluster is INVALID_REQUEST. Broker 3, killed and started again,
# reads every ACL before it serves: bob's prefixed WRITE lets him see
# p-1, not t.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

acl_cluster_start
expect_eq "alice's credential" "alice 0" "$(raw 1 admin scram-alter set alice alice-secret 4096)"
expect_eq "bob's credential" "bob 0" "$(raw 1 admin scram-alter set bob bob-secret 4096)"
expect_ok "mkdir mnt1/t" mkdir "$MQ_TMP/mnt1/t"
t_led() { [ -n "$(t_field "$MQ_TMP/mnt1" 5)" ] && [ "$(t_field "$MQ_TMP/mnt1" 5)" != -1 ]; }
check "t has a leader" poll 30 t_led

kcat_as() { # kcat_as USER BROKER_N ARGS...
	_u=$1 _p=$(eval "echo \$PORT$2")
	shift 2
	timeout -k 5 30 kcat -b "127.0.0.1:$_p" -X security.protocol=SASL_PLAINTEXT \
		-X sasl.mechanism=SCRAM-SHA-256 -X sasl.username="$_u" -X sasl.password="$_u-secret" \
		"$@" 2>&1
}
produce_as() { # produce_as USER VALUE: kcat's output (nothing when delivered)
	echo "$2" | kcat_as "$1" 1 -P -t t -p 0 -X message.timeout.ms=10000
}
consume_as() { # consume_as USER: t's values, or kcat's error
	kcat_as "$1" 1 -C -t t -p 0 -o beginning -e -q -f '%s\n'
}
refused_write() { produce_as "$1" "$2" | grep -q "Topic authorization failed"; }
wrote() { [ -z "$(produce_as "$1" "$2")" ]; }

check "alice, without any ACL, is refused producing" refused_write alice x0

# ---- CreateAcls through broker 1 ----
expect_eq "CreateAcls as admin: alice WRITE and READ on t" "result 0
result 0" "$(raw 1 admin acl-create topic,literal,t,User:alice,*,write,allow \
	topic,literal,t,User:alice,*,read,allow)"
check "ZooKeeper holds them as Kafka writes them" zhas /kafka-acl/Topic/t \
	'"principal":"User:alice","permissionType":"Allow","operation":"Write","host":"*"'
notice() { zk_cli "$ZKPORT" ls /mqfs/kafka-acl-changes | grep -q acl_changes_; }
check "a change notice in /kafka-acl-changes" poll 10 notice
on2() { raw 2 admin acl-describe topic,any,t,-,-,any,any | grep -q "^2,3,t,User:alice,\*,4,3$"; }
check "DescribeAcls through broker 2 shows alice's WRITE" poll 30 on2
on3() { raw 3 admin acl-describe topic,match,t,User:alice,-,read,allow | grep -q "^2,3,t,User:alice,\*,3,3$"; }
check "DescribeAcls through broker 3 (MATCH) shows alice's READ" poll 30 on3
meta2() { raw 2 alice metadata t | grep -q "^0 error 0 "; }
check "Metadata of t as alice through broker 2: allowed" poll 30 meta2
expect_eq "Metadata of t as bob through broker 2" "topic error 29" "$(raw 2 bob metadata t)"

# ---- Produce and Fetch ----
check "kcat as alice produces" poll 30 wrote alice a1
expect_eq "kcat as alice consumes" "a1" "$(consume_as alice)"
check "kcat as bob is refused producing (TOPIC_AUTHORIZATION_FAILED)" refused_write bob b1
check "kcat as bob is refused consuming (TOPIC_AUTHORIZATION_FAILED)" sh -c \
	"$(command -v timeout) -k 5 30 kcat -b 127.0.0.1:$PORT1 -X security.protocol=SASL_PLAINTEXT \
	-X sasl.mechanism=SCRAM-SHA-256 -X sasl.username=bob -X sasl.password=bob-secret \
	-C -t t -p 0 -o beginning -e 2>&1 | grep -q 'Topic authorization failed'"
expect_eq "Produce v3 as bob, to any broker: TOPIC_AUTHORIZATION_FAILED" "error 29" \
	"$(raw 1 bob produce t 0 b2)"
check "logged as Kafka's authorizer logs a denial" grep -q \
	"Principal = User:bob is Denied Operation = Write from host = 127.0.0.1 on resource = Topic:LITERAL:t" "$LOG"

# ---- a consumer group ----
expect_eq "FindCoordinator of group ga as alice: GROUP_AUTHORIZATION_FAILED" "error 30 node -1" \
	"$(raw 1 alice coordinator ga)"
expect_eq "OffsetCommit of group ga as alice: GROUP_AUTHORIZATION_FAILED" "error 30" \
	"$(raw 1 alice commit-epoch ga t 0 1 -1)"
expect_eq "CreateAcls: READ on group ga for alice and bob" "result 0
result 0" "$(raw 1 admin acl-create group,literal,ga,User:alice,*,read,allow \
	group,literal,ga,User:bob,*,read,allow)"
coord() { # GC: ga's coordinator, as alice may now ask
	GC=$(raw 1 alice coordinator ga)
	case $GC in "error 0 node "*) GC=${GC#error 0 node } ;; *) return 1 ;; esac
}
check "then FindCoordinator of group ga as alice names its coordinator" poll 60 coord
committed() { [ "$(raw "$GC" alice commit-epoch ga t 0 1 -1)" = "error 0" ]; }
check "and alice's commit of group ga is taken" poll 30 committed
expect_eq "bob, with the group's READ and not the topic's: TOPIC_AUTHORIZATION_FAILED" \
	"error 29" "$(raw "$GC" bob commit-epoch ga t 0 1 -1)"

# ---- a DENY wins; DeleteAcls ----
expect_eq "CreateAcls: DENY WRITE on t for alice" "result 0" \
	"$(raw 1 admin acl-create topic,literal,t,User:alice,*,write,deny)"
check "alice is refused producing: the deny wins" poll 30 refused_write alice a2
expect_eq "DeleteAcls through broker 2: the deny" "filter 0 1
2,3,t,User:alice,*,4,2" "$(raw 2 admin acl-delete topic,literal,t,User:alice,-,any,deny)"
check "alice produces again" poll 30 wrote alice a3
expect_eq "DeleteAcls: alice's READ on t" "filter 0 1
2,3,t,User:alice,*,3,3" "$(raw 1 admin acl-delete topic,any,t,User:alice,*,read,any)"
unread() { consume_as alice | grep -q "Topic authorization failed"; }
check "alice is refused consuming once her READ is gone" poll 30 unread
only_write() {
	zget /kafka-acl/Topic/t >"$MQ_TMP/t.acl"
	grep -q '"operation":"Write"' "$MQ_TMP/t.acl" && ! grep -q '"operation":"Read"' "$MQ_TMP/t.acl"
}
check "ZooKeeper's /kafka-acl/Topic/t: only alice's WRITE left" only_write
expect_eq "DescribeAcls of t through broker 3" "error 0
2,3,t,User:alice,*,4,3" "$(raw 3 admin acl-describe topic,literal,t,-,-,any,any)"

# ---- auto-creation needs CREATE ----
n1_refused() { echo n | kcat_as alice 1 -P -t n1 -X message.timeout.ms=10000 | grep -q "Topic authorization failed"; }
check "kcat as alice to a new topic n1: refused without CREATE" n1_refused
expect_ok "n1 was not made" test ! -e "$MQ_TMP/mnt1/n1"
expect_eq "CreateAcls: CREATE and WRITE on n1 for alice" "result 0
result 0" "$(raw 1 admin acl-create topic,literal,n1,User:alice,*,create,allow \
	topic,literal,n1,User:alice,*,write,allow)"
n1_wrote() { [ -z "$(echo n | kcat_as alice 1 -P -t n1 -X message.timeout.ms=10000)" ]; }
check "then kcat as alice makes n1 and writes it" poll 30 n1_wrote
expect_ok "n1 is on the mount" test -d "$MQ_TMP/mnt1/n1"

# ---- a PREFIXED pattern (its znode and notices are the extended ones) ----
expect_eq "CreateAcls: bob may WRITE every topic starting p-" "result 0" \
	"$(raw 1 admin acl-create topic,prefixed,p-,User:bob,*,write,allow)"
check "ZooKeeper: /kafka-acl-extended/prefixed/Topic/p-" zhas /kafka-acl-extended/prefixed/Topic/p- \
	'"principal":"User:bob","permissionType":"Allow","operation":"Write"'
ext_notice() { zk_cli "$ZKPORT" ls /mqfs/kafka-acl-extended-changes | grep -q acl_changes_; }
check "a notice in /kafka-acl-extended-changes" poll 10 ext_notice
pre3() { raw 3 admin acl-describe topic,match,p-1,-,-,any,any | grep -q "^2,4,p-,User:bob,\*,4,3$"; }
check "DescribeAcls (MATCH p-1) through broker 3 shows it" poll 30 pre3
expect_ok "mkdir mnt1/p-1" mkdir "$MQ_TMP/mnt1/p-1"
pwrote() { [ -z "$(echo b3 | kcat_as bob 1 -P -t p-1 -p 0 -X message.timeout.ms=10000)" ]; }
check "kcat as bob produces to p-1" poll 30 pwrote
expect_eq "but not to t" "error 29" "$(raw 2 bob produce t 0 b4)"

# ---- who may change ACLs, and what is refused ----
expect_eq "CreateAcls as bob: CLUSTER_AUTHORIZATION_FAILED" "result 31" \
	"$(raw 1 bob acl-create topic,literal,t,User:bob,*,write,allow)"
expect_eq "DescribeAcls as bob: CLUSTER_AUTHORIZATION_FAILED" "error 31" \
	"$(raw 1 bob acl-describe any,any,-,-,-,any,any)"
expect_eq "a CLUSTER resource not named kafka-cluster: INVALID_REQUEST" \
	"result 42 The only valid name for the CLUSTER resource is kafka-cluster" \
	"$(raw 1 admin acl-create cluster,literal,c,User:bob,*,alter,allow)"

# ---- a broker restarted reads every ACL before it serves ----
mq_kill9 "$MQ_TMP/mnt3" "$PID3"
broker_start 3
check "mnt3: three live brokers again" poll 40 alive_on "$MQ_TMP/mnt3" 3
meta3() { raw 3 bob metadata p-1 | grep -q "^0 error 0 "; }
check "restarted broker 3: Metadata of p-1 as bob allowed (his prefixed WRITE)" poll 30 meta3
expect_eq "restarted broker 3: Metadata of t as bob refused" "topic error 29" "$(raw 3 bob metadata t)"
check "logged: the ACLs read at start" grep -q "ACLs: 6 binding(s) read from ZooKeeper" "$LOG"

mq_done
