#!/bin/sh
# t_cluster_delegation_tokens.sh — Kafka's delegation tokens (KIP-48) in
# a two-broker SASL cluster on a real ZooKeeper, with the ACL authorizer
# (allow.everyone.if.no.acl.found=true) and
# delegation.token.secret.key set; raw requests from kafka_raw.py.
#
# alice creates a token on broker 1 (v3, bob its renewer): its znode is
# Kafka's JSON; with the token (SCRAM, tokenauth=true) a client
# authenticates on broker 2, as alice, and produces and reads Metadata; a
# wrong HMAC, a token id no token has and a user's password with
# tokenauth are refused. Describe (every version) lists it for alice and
# bob, an owner filter of another user lists nothing, an empty one too;
# with ACLs on the DelegationToken and User resources, carol sees it only
# once she has DESCRIBE_TOKENS on User:alice.
# Renew by bob moves the expiry (capped at the max time), by carol
# DELEGATION_TOKEN_OWNER_MISMATCH, with a made-up HMAC
# DELEGATION_TOKEN_NOT_FOUND. Refused as Kafka:
# DELEGATION_TOKEN_REQUEST_NOT_ALLOWED on the PLAINTEXT listener and on a
# token's connection; an owner other than self without CREATE_TOKENS on
# that user DELEGATION_TOKEN_AUTHORIZATION_FAILED (with it: created,
# requester admin); a renewer that is not a User INVALID_PRINCIPAL_TYPE;
# each refusal logged with the peer. Expire with a negative period
# deletes the token: its znode goes, broker 2 refuses it. A broker
# started after a token was made authenticates it (tokens read at
# start). A token's session ends at the token's expiry (told in
# SaslAuthenticate's session_lifetime_ms; the connection is closed at its
# next request after it), a user's has no end. The controller deletes a
# token past its expiry (delegation.token.expiry.check.interval.ms).
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# rawp N USER PASSWORD CMD ARGS...: kafka_raw.py CMD to broker N
# (N "p1": broker 1's PLAINTEXT listener) as USER with PASSWORD.
rawp() {
	_p=$(eval "echo \$PORT$1")
	_u=$2 _pw=$3 _c=$4
	shift 4
	timeout -k 5 60 python3 "$LIBDIR/kafka_raw.py" "$_c" 127.0.0.1 "$_p" "$_u" "$_pw" "$@" 2>&1
}
# field NAME LINE: the word after NAME in LINE.
field() { echo "$2" | sed -n "s/.* $1 \([^ ]*\).*/\1/p"; }

zk_cluster_start
for u in alice bob carol; do
	echo "$u-secret" | mq_run "$MQFS" --zookeeper "$ZK" --add-scram-user "$u" >>"$LOG" 2>&1
	expect_eq "mqfs --add-scram-user $u" "0" "$?"
done
CLUSTER_CONF="authorizer.class.name=kafka.security.authorizer.AclAuthorizer
allow.everyone.if.no.acl.found=true
default.replication.factor=2
min.insync.replicas=1
offsets.topic.replication.factor=2
delegation.token.secret.key=t0ken-s3cret
delegation.token.expiry.check.interval.ms=500
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512"
PORT1=$(zk_free_port)
PORTp1=$(zk_free_port)
PORT2=$(zk_free_port)
conf 1 "$PORT1"
conf 2 "$PORT2"
# Broker 1 has a PLAINTEXT listener besides (clients only).
sed -i "s|^listeners=.*|listeners=SASL_PLAINTEXT://127.0.0.1:$PORT1,PLAINTEXT://127.0.0.1:$PORTp1|" \
	"$MQ_TMP/b1/server.properties"
broker_start 1
check "mnt1: one live broker" poll 30 alive_on "$MQ_TMP/mnt1" 1

# ---- create on broker 1 ----
C=$(rawp 1 alice alice-secret token-create 3 User:bob -1)
expect_eq "CreateDelegationToken v3 as alice: created" "error 0 owner User:alice requester User:alice" \
	"$(echo "$C" | cut -d' ' -f1-6)"
ID=$(field id "$C")
HMAC=$(field hmac "$C")
ISSUE=$(field issue "$C")
EXPIRY=$(field expiry "$C")
MAX=$(field max "$C")
expect_eq "a 22-character id" 22 "${#ID}"
expect_eq "an HMAC of 64 bytes (88 in base64)" 88 "${#HMAC}"
expect_eq "the HMAC is HmacSHA512(secret, id)" "$HMAC" "$(python3 -c '
import base64, hashlib, hmac, sys
print(base64.b64encode(hmac.new(b"t0ken-s3cret", sys.argv[1].encode(), hashlib.sha512).digest()).decode())' "$ID")"
expect_eq "expiry = issue + delegation.token.expiry.time.ms" 86400000 "$((EXPIRY - ISSUE))"
expect_eq "max = issue + delegation.token.max.lifetime.ms" 604800000 "$((MAX - ISSUE))"
check "its znode, Kafka's JSON" zhas "/delegation_token/tokens/$ID" \
	"{\"version\":3,\"owner\":\"User%3Aalice\",\"tokenRequester\":\"User%3Aalice\",\"renewers\":[\"User%3Abob\"],\"issueTimestamp\":$ISSUE,\"maxTimestamp\":$MAX,\"expiryTimestamp\":$EXPIRY,\"tokenId\":\"$ID\"}"
notice_names() { # a notice of /delegation_token/token_changes holds the id
	for _n in $(zk_cli "$ZKPORT" ls /mqfs/delegation_token/token_changes | tr -d '[],' | tail -n 1); do
		zget "/delegation_token/token_changes/$_n" | grep -qx "$1" && return 0
	done
	return 1
}
check "a change notice names it" notice_names "$ID"

# ---- a broker started now reads the token at start ----
broker_start 2
for n in 1 2; do
	check "mnt$n: two live brokers" poll 30 alive_on "$MQ_TMP/mnt$n" 2
done
expect_ok "mkdir mnt1/t" mkdir "$MQ_TMP/mnt1/t"
t_led() { [ -n "$(t_field "$MQ_TMP/mnt1" 5)" ] && [ "$(t_field "$MQ_TMP/mnt1" 5)" != -1 ]; }
check "t has a leader" poll 30 t_led
L=$(t_field "$MQ_TMP/mnt1" 5)

# ---- the token authenticates on broker 2, as alice ----
expect_eq "Metadata on broker 2 with the token" "0 error 0" \
	"$(rawp 2 "token:$ID" "$HMAC" metadata t | cut -d' ' -f1-3)"
expect_ok "logged: broker 2 authenticated alice by the token" \
	grep -q "authenticated as alice (SCRAM-SHA-256, delegation token)" "$LOG"
# A token has a credential of each SCRAM mechanism, as Kafka's.
expect_eq "Metadata on broker 2 with the token, SCRAM-SHA-512" "0 error 0" \
	"$(rawp 2 "SCRAM-SHA-512:token:$ID" "$HMAC" metadata t | cut -d' ' -f1-3)"
expect_ok "logged: by the token with SCRAM-SHA-512" \
	grep -q "authenticated as alice (SCRAM-SHA-512, delegation token)" "$LOG"
expect_eq "a wrong HMAC with SCRAM-SHA-512: refused" "SaslAuthenticate: error 58" \
	"$(rawp 2 "SCRAM-SHA-512:token:$ID" "x$HMAC" metadata t)"
expect_eq "Produce to the leader (broker $L) with the token" "error 0" \
	"$(rawp "$L" "token:$ID" "$HMAC" produce t 0 by-token)"
check "the record is in t" poll 10 grep -q by-token "$MQ_TMP/mnt2/t/0"
expect_eq "a wrong HMAC: SaslAuthenticate refused" "SaslAuthenticate: error 58" \
	"$(rawp 2 "token:$ID" "x$HMAC" metadata t)"
expect_eq "a token id no token has: refused" "SaslAuthenticate: error 58" \
	"$(rawp 2 "token:nosuchtoken" "$HMAC" metadata t)"
expect_ok "logged as Kafka's" grep -q "Token Authentication failed: Invalid tokenId" "$LOG"
expect_eq "a user's own password with tokenauth: refused" "SaslAuthenticate: error 58" \
	"$(rawp 2 "token:alice" alice-secret metadata t)"

# ---- describe ----
for v in 0 1 2 3; do
	D=$(rawp 2 alice alice-secret token-describe "$v" -)
	want_req=User:alice
	[ "$v" -lt 3 ] && want_req=-
	expect_eq "DescribeDelegationToken v$v as alice: the token" "error 0
id $ID owner User:alice requester $want_req renewers User:bob issue $ISSUE expiry $EXPIRY max $MAX hmac $HMAC" "$D"
done
expect_eq "as bob, the renewer, for owner alice" "$ID" \
	"$(rawp 1 bob bob-secret token-describe 3 User:alice | sed -n 's/^id \([^ ]*\) .*/\1/p')"
expect_eq "for owner carol: none" "error 0" "$(rawp 1 alice alice-secret token-describe 3 User:carol)"
expect_eq "an empty owner list: none" "error 0" "$(rawp 1 alice alice-secret token-describe 3 "")"
# Once DelegationToken and User:alice have ACLs (admin's), carol, neither
# owner nor renewer, sees the token only with DESCRIBE_TOKENS on User:alice.
expect_eq "ACLs on every DelegationToken and on User:alice" "result 0
result 0" "$(rawp 1 admin admin-secret acl-create "6,literal,*,User:admin,*,describe,allow" \
	"7,literal,User:alice,User:admin,*,14,allow")"
hidden_from_carol() { [ "$(rawp 2 carol carol-secret token-describe 3 -)" = "error 0" ]; }
check "carol sees no token" poll 10 hidden_from_carol
expect_ok "the denial logged as Kafka's authorizer logs it" grep -q \
	"Principal = User:carol is Denied Operation = DescribeTokens from host = 127.0.0.1 on resource = User:LITERAL:User:alice" "$LOG"
expect_eq "DESCRIBE_TOKENS on User:alice for carol" "result 0" \
	"$(rawp 1 admin admin-secret acl-create "7,literal,User:alice,User:carol,*,14,allow")"
carol_sees() { rawp 2 carol carol-secret token-describe 3 - | grep -q "^id $ID owner User:alice "; }
check "carol sees alice's token" poll 10 carol_sees

# ---- refusals ----
expect_eq "Create on the PLAINTEXT listener: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED" \
	"error 64 owner User:ANONYMOUS requester User:ANONYMOUS issue -1 expiry -1 max -1 id - hmac -" \
	"$(rawp p1 - - token-create 3 - -1)"
expect_ok "logged with the peer" grep -q \
	"CreateDelegationToken from 127.0.0.1:[0-9]* (User:ANONYMOUS) refused: DELEGATION_TOKEN_REQUEST_NOT_ALLOWED" "$LOG"
expect_eq "Describe on the PLAINTEXT listener: refused" "error 64" "$(rawp p1 - - token-describe 1 -)"
expect_eq "Create with the token's own connection: refused" \
	"error 64 owner User:alice requester User:alice" \
	"$(rawp 2 "token:$ID" "$HMAC" token-create 3 - -1 | cut -d' ' -f1-6)"
expect_eq "Renew with the token's own connection: refused" "error 64 expiry -1" \
	"$(rawp 2 "token:$ID" "$HMAC" token-renew 2 "$HMAC" -1)"
expect_eq "a renewer that is not a User: INVALID_PRINCIPAL_TYPE" "error 67" \
	"$(rawp 1 alice alice-secret token-create 3 Group:g -1 | cut -d' ' -f1-2)"
# Owner other than self: CREATE_TOKENS on User:bob.
expect_eq "only admin may create bob's tokens" "result 0" \
	"$(rawp 1 admin admin-secret acl-create "7,literal,User:bob,User:admin,*,13,allow")"
alice_for_bob() {
	[ "$(rawp 1 alice alice-secret token-create 3 - -1 User:bob | cut -d' ' -f1-6)" = \
		"error 65 owner User:bob requester User:alice" ]
}
check "alice may not: DELEGATION_TOKEN_AUTHORIZATION_FAILED" poll 10 alice_for_bob
B=$(rawp 1 admin admin-secret token-create 3 - 3600000 User:bob)
expect_eq "admin may: created, owner bob, requester admin" \
	"error 0 owner User:bob requester User:admin" "$(echo "$B" | cut -d' ' -f1-6)"
expect_eq "its max lifetime as asked (below the setting)" 3600000 \
	"$(($(field max "$B") - $(field issue "$B")))"

# ---- renew, expire ----
expect_eq "Renew by carol: DELEGATION_TOKEN_OWNER_MISMATCH" "error 63 expiry -1" \
	"$(rawp 2 carol carol-secret token-renew 2 "$HMAC" 1000)"
FAKE=$(python3 -c 'import base64; print(base64.b64encode(bytes(64)).decode())')
expect_eq "Renew of an unknown HMAC: DELEGATION_TOKEN_NOT_FOUND" "error 62 expiry -1" \
	"$(rawp 2 bob bob-secret token-renew 0 "$FAKE" 1000)"
expect_ok "logged" grep -q "RenewDelegationToken from .* (User:bob) refused: DELEGATION_TOKEN_NOT_FOUND" "$LOG"
R=$(rawp 2 bob bob-secret token-renew 1 "$HMAC" 9000000000000)
expect_eq "Renew by bob past the max: capped at the max" "error 0 expiry $MAX" "$R"
BH=$(field hmac "$B")
expect_eq "Expire of bob's token by alice: DELEGATION_TOKEN_OWNER_MISMATCH" "error 63 expiry -1" \
	"$(rawp 1 alice alice-secret token-expire 2 "$BH" -1)"
E=$(rawp 2 alice alice-secret token-expire 2 "$HMAC" -1)
expect_eq "Expire now by alice" "error 0" "$(echo "$E" | cut -d' ' -f1-2)"
check "the znode is gone" poll 10 zgone "/delegation_token/tokens/$ID"
tok_refused() { [ "$(rawp "$1" "token:$ID" "$HMAC" metadata t)" = "SaslAuthenticate: error 58" ]; }
check "broker 1 no longer authenticates it" poll 10 tok_refused 1
check "nor broker 2" poll 10 tok_refused 2
expect_eq "Renew of it: DELEGATION_TOKEN_NOT_FOUND" "error 62 expiry -1" \
	"$(rawp 1 alice alice-secret token-renew 2 "$HMAC" 1000)"

# ---- a token's session ends at its expiry (Kafka's session lifetime) ----
expect_eq "a user's session has no end (no connections.max.reauth.ms)" \
	"authentication: error 0 lifetime 0" "$(rawp 2 alice alice-secret reauth-expired)"
Q=$(rawp 1 alice alice-secret token-create 2 - 3000)
QID=$(field id "$Q")
QH=$(field hmac "$Q")
q_on_2() { rawp 2 "token:$QID" "$QH" metadata t | grep -q '^0 error 0'; }
check "broker 2 has the 3 s token" poll 10 q_on_2
QL=$(rawp 2 "token:$QID" "$QH" reauth-expired)
ends_with_token() { echo "$QL" | grep -q '^lifetime [0-9]* closed$' && [ "$(field lifetime " $QL")" -le 3000 ]; }
check "its session told to end with the token ($QL), then closed" ends_with_token

# ---- the controller deletes an expired token ----
S=$(rawp 1 alice alice-secret token-create 1 - 1500)
SID=$(field id "$S")
SH=$(field hmac "$S")
expect_eq "a token of 1.5 s" "error 0" "$(echo "$S" | cut -d' ' -f1-2)"
check "its znode" poll 5 zhas "/delegation_token/tokens/$SID" "$SID"
check "deleted once expired" poll 20 zgone "/delegation_token/tokens/$SID"
expect_ok "logged by the controller" grep -q "delegation token $SID of User:alice expired: deleted" "$LOG"
expect_eq "Renew of it: DELEGATION_TOKEN_NOT_FOUND" "error 62 expiry -1" \
	"$(rawp 2 alice alice-secret token-renew 2 "$SH" 1000)"
check "the brokers still serve" alive_on "$MQ_TMP/mnt2" 2

mq_done
