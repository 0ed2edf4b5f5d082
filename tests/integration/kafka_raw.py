#!/usr/bin/env python3
# kafka_raw.py — one Kafka request written byte by byte from the protocol
# guide, for what a real client never sends on purpose (a Produce to a
# broker that does not lead the partition: clients route by Metadata).
#
#   python3 kafka_raw.py produce HOST PORT USER PASSWORD TOPIC PARTITION VALUE [ACKS]
#       Authenticates with SASL SCRAM-SHA-256 (SaslHandshake v1,
#       SaslAuthenticate v0) unless USER is "-", then sends Produce v3
#       (acks ACKS, default 1; timeout_ms 60000 for acks=-1, or
#       KAFKA_RAW_TIMEOUT_MS from the environment) with one record batch v2
#       of one record and prints "error N" with the partition's error code
#       (0: appended).
#   python3 kafka_raw.py produce-ts HOST PORT TOPIC PARTITION TIMESTAMP COUNT
#       Without SASL, COUNT Produce v3 (acks 1) of one batch each of one
#       100-byte record stamped TIMESTAMP (-1: none, which Kafka clients
#       may send); prints "appended COUNT" or the first "error E".
#   python3 kafka_raw.py coordinator HOST PORT USER PASSWORD GROUP
#       Authenticates as above, sends FindCoordinator v1 for GROUP and
#       prints "error E node N" (the coordinator's broker id).
#   python3 kafka_raw.py metadata HOST PORT USER PASSWORD TOPIC
#       Authenticates as above, sends Metadata v5 for TOPIC and prints one
#       line per partition: "P error E leader L replicas R isr I offline O"
#       (R, I, O comma-separated broker ids, "-" for none); "topic error E"
#       for a topic refused whole (no partition).
#   python3 kafka_raw.py brokers HOST PORT USER PASSWORD
#       Authenticates as above, sends Metadata v5 for no topic and prints
#       one line per broker: "ID rack R" (R "-" for a null rack).
#   python3 kafka_raw.py create HOST PORT USER PASSWORD TOPIC PARTITIONS RF
#       Authenticates as above, sends CreateTopics v1 of TOPIC (no manual
#       assignment, no config, validate_only false) and prints "error E
#       MESSAGE" (MESSAGE "-" for null).
#   python3 kafka_raw.py elect HOST PORT USER PASSWORD TYPE TOPIC PARTITION
#       (TOPIC "-": a null list, every partition; one line "topic partition
#       error" per partition answered, "none" for none)
#       Authenticates as above, sends ElectLeaders v1 of election type TYPE
#       (0 preferred, 1 unclean) for TOPIC-PARTITION and prints "error E"
#       with the partition's error code (0: elected).
#   python3 kafka_raw.py logdirs HOST PORT USER PASSWORD TOPIC PARTITION
#       Authenticates as above, sends DescribeLogDirs v1 for TOPIC-PARTITION
#       and prints "error E partitions N" with the error of the broker's
#       log directory and how many partitions it lists (0 or 1).
#   python3 kafka_raw.py incalter HOST PORT USER PASSWORD BROKER OP KEY [VALUE]
#       Authenticates as above, sends IncrementalAlterConfigs v0 of the
#       broker resource BROKER ("" for every broker's default) with one
#       config KEY, operation OP (0 SET, 1 DELETE), and prints "error E"
#       with the resource's error code (0: changed); with
#       KAFKA_RAW_MESSAGE=1 in the environment "error E MESSAGE" (None
#       for a null message).
#   python3 kafka_raw.py describe HOST PORT USER PASSWORD TYPE NAME KEY
#       Authenticates as above, sends DescribeConfigs v1 with synonyms of
#       KEY of the resource TYPE (2 topic, 4 broker) NAME to this broker
#       (as it sees it, unlike kafkajs's, which picks the broker) and
#       prints "KEY=VALUE source=N readonly=B synonyms=NAME:SOURCE,...",
#       or "error E".
#   python3 kafka_raw.py commit HOST PORT GROUP TOPIC PARTITION OFFSET
#       OffsetCommit v7 of OFFSET outside any generation; prints "error E".
#   python3 kafka_raw.py commit-epoch HOST PORT USER PASSWORD GROUP TOPIC PARTITION OFFSET EPOCH
#       Authenticates as above (USER "-": not), then the same commit with
#       committed_leader_epoch EPOCH; prints "error E".
#   python3 kafka_raw.py committed HOST PORT USER PASSWORD GROUP TOPIC PARTITION
#       Authenticates as above, sends OffsetFetch v5 of TOPIC-PARTITION and
#       prints "error E offset O epoch L" (the partition's error, its
#       committed offset and committed_leader_epoch; E the group's when
#       that is not 0).
#   python3 kafka_raw.py initpid HOST PORT PRODUCER_ID EPOCH
#       InitProducerId v3 without a transactional id, naming PRODUCER_ID and
#       EPOCH; prints "error E pid P epoch X".
#   python3 kafka_raw.py frame HOST PORT HEX
#       Sends the bytes HEX as they are and prints "closed" when the broker
#       closes the connection, "answered N" when N bytes come back first
#       (within 20 s).
#   python3 kafka_raw.py flood HOST PORT STOPFILE
#       Opens connections one at a time, each asking ApiVersions v0, until
#       the broker closes one unanswered: prints "refused after N" (N
#       answered and held), or "stuck after N" when one is neither
#       answered nor closed within 5 s, or "open N" after 5000; then holds
#       the connections until STOPFILE exists (60 s at most) and closes them.
#   python3 kafka_raw.py slot-wait HOST PORT N
#       Against max.connections=N: opens N connections answered ApiVersions
#       v0, then one more whose ApiVersions must go unanswered for 1 s (it
#       waits in the backlog); closes the first and prints "past the limit:
#       unanswered, then answered once one closed" (or "... then stuck" /
#       "closed", "past the limit: closed at once", "connection I closed").
#   python3 kafka_raw.py offsets-many HOST PORT TOPIC N
#       ListOffsets v1 (latest) of partitions 0..N-1 of TOPIC on one
#       connection; prints "answered N" with the partitions answered, or
#       "closed".
#   python3 kafka_raw.py parked HOST PORT TOPIC PARTITION OFFSET WAIT_MS [MIN_BYTES]
#       Fetch v4 (no SASL) of TOPIC-PARTITION at OFFSET with max_wait_ms
#       WAIT_MS and min_bytes MIN_BYTES (default 1), prints "ready" once the
#       request is sent, then "error E after S s" with the partition's
#       error code and the whole seconds the answer took. With
#       KAFKA_RAW_SCRAM=USER:PASSWORD in the environment it authenticates
#       first, as produce does.
#   python3 kafka_raw.py scram-describe HOST PORT USER PASSWORD NAMES
#       Authenticates as above, sends DescribeUserScramCredentials v0 for
#       NAMES (comma-separated; "" an empty list, "-" null) and prints
#       "error E" (the message's), then "name error mech:iterations" per
#       user ("-" for no credential).
#   python3 kafka_raw.py scram-alter HOST PORT USER PASSWORD set|delete NAME SECRET ITERATIONS [MECH]
#       Authenticates as above, sends AlterUserScramCredentials v0: an
#       upsertion of MECH (SCRAM-SHA-256, the default, or SCRAM-SHA-512)
#       for NAME with password SECRET salted here (ITERATIONS), or its
#       deletion; prints "name error" per user.
#   python3 kafka_raw.py cancel HOST PORT USER PASSWORD TOPIC PARTITION
#       Authenticates as above, sends AlterPartitionReassignments v0 for
#       TOPIC-PARTITION with null replicas (cancel its move: kafkajs cannot
#       send null) and prints "error T P" with the top-level and the
#       partition's error codes (P "-" when the answer names none).
#   python3 kafka_raw.py quota-alter HOST PORT USER PASSWORD ENTITY OPS [validate]
#       Authenticates as above, sends AlterClientQuotas v1 of one entry:
#       ENTITY "type=name,..." ("user=alice,client-id=c1"; a name
#       "<default>" is sent null; "" an empty entity), OPS "key=value,..."
#       ("key=-" removes key); "validate" sets validate_only. Prints
#       "error E MESSAGE" ("-" for no message).
#   python3 kafka_raw.py quota-describe HOST PORT USER PASSWORD FILTER [strict]
#       Authenticates as above, sends DescribeClientQuotas v1 with FILTER
#       "type=name,..." (name "<default>": match the default, "*": any
#       name, else exact); prints "error E", then one line per entity,
#       sorted: "type=name,... key=value,..." (the default as <default>).
#   python3 kafka_raw.py produce-throttle HOST PORT USER PASSWORD CLIENT_ID TOPIC PARTITION BYTES N
#       Authenticates as above, then sends Produce v3 (acks 1) of one
#       record of BYTES bytes as client CLIENT_ID, up to N times, until a
#       response carries a throttle_time_ms above 0; prints "throttle T
#       after K" (T 0 when none was).
#   python3 kafka_raw.py fetch-throttle HOST PORT USER PASSWORD CLIENT_ID TOPIC PARTITION N
#       Authenticates as above, then sends Fetch v4 of TOPIC-PARTITION from
#       offset 0 (1 MiB at most) as client CLIENT_ID, up to N times, until a
#       response carries a throttle_time_ms above 0; prints "throttle T
#       after K records B" with the record bytes of that response (T 0 when
#       none was throttled, B the last response's), or "throttle T after K
#       no partitions" when the throttled response names no partition.
#   python3 kafka_raw.py fetch-session-throttle HOST PORT USER PASSWORD CLIENT_ID TOPIC PARTITION
#       Authenticates as above, then as client CLIENT_ID a full Fetch v7 of
#       TOPIC-PARTITION from offset 0 (1 MiB at most), which opens a
#       session; a record of one byte produced (Produce v3, acks 1); an
#       incremental Fetch of that session (epoch 1, no partition named).
#       Prints "full throttle T error E session yes|no topics N", then
#       "incremental throttle 0|above0 error E session same|other topics N".
#   python3 kafka_raw.py scram-first HOST PORT USER
#       SaslHandshake v1, then only SCRAM-SHA-256's client-first for USER
#       in SaslAuthenticate v0; prints "salt S iterations I" from the
#       server-first, or "error E" when the broker refuses at once.
#   python3 kafka_raw.py reauth-expired HOST PORT USER PASSWORD
#       Authenticates in SaslAuthenticate v1, sends ApiVersions v0 (answered),
#       waits past the session_lifetime_ms answered, sends ApiVersions again
#       and prints "lifetime L closed" when the broker closes the connection
#       unanswered ("answered" otherwise).
#   python3 kafka_raw.py reauth HOST PORT USER PASSWORD USER2 PASSWORD2
#       Authenticates as USER in SaslAuthenticate v1, then re-authenticates
#       on the same connection as USER2 (SaslHandshake, SaslAuthenticate);
#       prints "error 0 lifetime L" when that passed and an ApiVersions is
#       answered after it, else "error E MESSAGE closed|open".
#   python3 kafka_raw.py silent HOST PORT
#       Connects, sends nothing, prints "closed after S s" once the broker
#       closes the connection (at most 60 s).
#   python3 kafka_raw.py acl-create HOST PORT USER PASSWORD BINDING...
#       Authenticates as above, sends CreateAcls v1 of the BINDINGs
#       "type,pattern,name,principal,host,op,perm" (lower-case names of
#       Kafka's codes, e.g. topic,literal,t,User:alice,*,read,allow);
#       prints "result E [MESSAGE]" for each.
#   python3 kafka_raw.py acl-describe HOST PORT USER PASSWORD FILTER
#       DescribeAcls v1 of FILTER (a binding whose "-" strings are null,
#       codes any/match allowed); prints "error E", then one line per
#       binding "type,pattern,name,principal,host,op,perm" in codes.
#   python3 kafka_raw.py acl-delete HOST PORT USER PASSWORD FILTER...
#       DeleteAcls v1; prints "filter E N" for each filter, then the N
#       bindings it deleted as acl-describe prints them.
#   python3 kafka_raw.py errcode HOST PORT USER PASSWORD API VERSION HEX
#       Authenticates as above, sends request API VERSION (a header v1, not
#       flexible) with the body HEX and prints "error E" with the first
#       INT16 of the answer (LeaderAndIsr, StopReplica, UpdateMetadata,
#       ControlledShutdown v1 and ListGroups v0 begin with their error).
#   python3 kafka_raw.py create5 HOST PORT USER PASSWORD TOPIC [validate]
#       Authenticates as above, sends CreateTopics v5 of TOPIC (default
#       partitions and replication factor, no config) and prints "error E
#       cfgerror C partitions N rf R configs K" (C the tagged
#       topic_config_error_code, 0 when absent).
#   python3 kafka_raw.py initpid-as HOST PORT USER PASSWORD
#       Authenticates as above, sends InitProducerId v3 without a
#       transactional id; prints "error E".
#   python3 kafka_raw.py list-groups HOST PORT USER PASSWORD
#       Authenticates as above, sends ListGroups v0; prints "error E", then
#       each group's id, sorted.
#   python3 kafka_raw.py describe-group HOST PORT USER PASSWORD GROUP
#       Authenticates as above, sends DescribeGroups v3 of GROUP asking for
#       the authorized operations; prints "error E ops O".
#   python3 kafka_raw.py delete-records HOST PORT USER PASSWORD TOPIC PARTITION OFFSET
#       Authenticates as above, sends DeleteRecords v0; prints "error E".
#   python3 kafka_raw.py list-offsets HOST PORT USER PASSWORD TOPIC PARTITION
#       Authenticates as above, sends ListOffsets v1 (latest); prints "error E".
#   python3 kafka_raw.py named-errors HOST PORT USER PASSWORD API NAME [GROUP]
#       Authenticates as above and sends, for NAME: DeleteTopics v1,
#       CreatePartitions v0 (to 2 partitions, validate only), DeleteGroups
#       v1 (API delete-topics, create-partitions, delete-groups), or
#       OffsetDelete v0 of NAME's partition 0 in GROUP (offset-delete);
#       prints "error E" (OffsetDelete: "error G P", the group's and the
#       partition's, P "-" when none is answered).
#   python3 kafka_raw.py list-reassign HOST PORT USER PASSWORD TOPIC PARTITION
#       Authenticates as above, sends ListPartitionReassignments v0 for
#       TOPIC-PARTITION; prints "error E", then "TOPIC P replicas R" per
#       partition answered (R comma-separated, "-" for none).
#   python3 kafka_raw.py describe-configs HOST PORT USER PASSWORD TYPE NAME
#       Authenticates as above, sends DescribeConfigs v1 of resource TYPE
#       (2 topic, 4 broker) NAME, every key; prints "error E".
#   python3 kafka_raw.py metadata-ops HOST PORT USER PASSWORD TOPIC
#       Authenticates as above, sends Metadata v8 of TOPIC (auto-creation
#       allowed) asking for the authorized operations; prints "error E ops
#       O cluster C" (the topic's error and operations, the cluster's).
#   python3 kafka_raw.py controller HOST PORT USER PASSWORD
#       Authenticates as above, sends Metadata v5 for no topic and prints
#       its controller_id: where a client sends CreateTopics, DeleteTopics
#       and CreatePartitions.
#   python3 kafka_raw.py grow HOST PORT USER PASSWORD TOPIC COUNT
#       Authenticates as above, sends CreatePartitions v1 of TOPIC to COUNT
#       partitions (validate_only false); prints "error E MESSAGE" (MESSAGE
#       "-" for null).
#   python3 kafka_raw.py delete-id HOST PORT USER PASSWORD TOPIC_ID [NAME]
#       Authenticates as above, sends DeleteTopics v6 of the topic whose id
#       is TOPIC_ID (base64url, as in its znode), its name null or NAME;
#       prints "name N id I error E message M" (N and M "-" for null, I
#       base64url).
#   python3 kafka_raw.py describe-producers HOST PORT USER PASSWORD TOPIC PARTITION
#       Authenticates as above, sends DescribeProducers v0 of
#       TOPIC-PARTITION; prints "error E" (the partition's), then one line
#       per active producer: "producer ID epoch E last_sequence S
#       last_timestamp T coordinator_epoch C txn_start_offset O".
#   python3 kafka_raw.py ofle HOST PORT USER PASSWORD TOPIC PARTITION REPLICA_ID
#       Authenticates as above, sends OffsetForLeaderEpoch v3 of
#       TOPIC-PARTITION (epoch 0) as REPLICA_ID (-1 a consumer); prints
#       "error E".
#   python3 kafka_raw.py token-create HOST PORT USER PASSWORD VERSION RENEWERS MAX_LIFETIME [OWNER]
#       Authenticates as above, sends CreateDelegationToken VERSION (0-3)
#       with RENEWERS ("User:a,User:b", "-" none), MAX_LIFETIME ms and, in
#       v3, OWNER ("User:x"; left out: null, the requester); prints "error
#       E owner O requester R issue I expiry X max M id ID hmac H" (R "-"
#       before v3, H base64).
#   python3 kafka_raw.py token-renew HOST PORT USER PASSWORD VERSION HMAC PERIOD
#   python3 kafka_raw.py token-expire HOST PORT USER PASSWORD VERSION HMAC PERIOD
#       Authenticates as above, sends RenewDelegationToken or
#       ExpireDelegationToken VERSION (0-2) of the token whose HMAC is HMAC
#       (base64) with PERIOD ms; prints "error E expiry X".
#   python3 kafka_raw.py token-describe HOST PORT USER PASSWORD VERSION OWNERS
#       Authenticates as above, sends DescribeDelegationToken VERSION (0-3)
#       for OWNERS ("User:a,User:b"; "-" null: every token; "" an empty
#       list); prints "error E", then per token "id ID owner O requester R
#       renewers A,B issue I expiry X max M hmac H" (R "-" before v3,
#       renewers "-" for none).
#   A USER of the form token:ID authenticates with the delegation token
#   ID, its base64 HMAC as PASSWORD (SCRAM's tokenauth=true extension).
#   A USER prefixed SCRAM-SHA-512: ("SCRAM-SHA-512:alice",
#   "SCRAM-SHA-512:token:ID") authenticates with SCRAM-SHA-512 instead.
# Exit 1 on anything unexpected, with the reason. Other scripts import
# its framing (Conn, batch, produce_v3), e.g. kafka_idempotent.py.
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys
import time


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def uvarint(n):
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def varint(n):
    return uvarint((n << 1) ^ (n >> 63))  # zigzag


def kstr(s):
    if s is None:
        return struct.pack(">h", -1)
    b = s.encode()
    return struct.pack(">h", len(b)) + b


class Conn:
    def __init__(self, host, port, timeout=20, client_id="kafka_raw"):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.corr = 0
        self.client_id = client_id

    def call(self, api_key, version, body, flexible=False):
        """flexible: request header v2 and response header v1 (their
        tagged fields, none sent, any skipped as one empty section)."""
        self.corr += 1
        hdr = struct.pack(">hhi", api_key, version, self.corr) + kstr(self.client_id)
        if flexible:
            hdr += b"\x00"
        frame = hdr + body
        self.s.sendall(struct.pack(">i", len(frame)) + frame)
        size = struct.unpack(">i", self.read(4))[0]
        resp = self.read(size)
        if struct.unpack(">i", resp[:4])[0] != self.corr:
            sys.exit("correlation id mismatch")
        return resp[5:] if flexible else resp[4:]

    def read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                sys.exit("connection closed by the broker")
            buf += chunk
        return buf


def sasl_scram(c, user, password):
    err, msg, _ = sasl_scram_v(c, user, password, 0)
    if err:
        sys.exit("SaslAuthenticate: error %d" % err)


class SaslRefused(Exception):
    pass


def sasl_scram_v(c, user, password, version):
    """SaslHandshake v1 and the SCRAM exchange in SaslAuthenticate
    VERSION (0 or 1): (error, error message, session_lifetime_ms of the
    last answer; 0 in v0)."""
    mech = "SCRAM-SHA-256"
    if user.startswith("SCRAM-SHA-512:"):
        mech, user = "SCRAM-SHA-512", user[len("SCRAM-SHA-512:"):]
    resp = c.call(17, 1, kstr(mech))
    if struct.unpack(">h", resp[:2])[0] != 0:
        sys.exit("SaslHandshake refused: error %d" % struct.unpack(">h", resp[:2])[0])
    last = {}

    def auth(data):
        r = c.call(36, version, struct.pack(">i", len(data)) + data)
        err = struct.unpack(">h", r[:2])[0]
        mlen = struct.unpack(">h", r[2:4])[0]
        off = 4 + max(mlen, 0)
        msg = r[4:off].decode()
        if err:
            raise SaslRefused(err, msg)
        blen = struct.unpack(">i", r[off:off + 4])[0]
        if version >= 1:
            last["lifetime"] = struct.unpack(">q", r[off + 4 + blen:off + 12 + blen])[0]
        return r[off + 4:off + 4 + blen]

    try:
        scram_exchange(auth, user, password, hashlib.sha512 if mech == "SCRAM-SHA-512" else hashlib.sha256)
    except SaslRefused as e:
        return e.args[0], e.args[1], 0
    return 0, "", last.get("lifetime", 0)


def scram_exchange(auth, user, password, h=hashlib.sha256):
    nonce = base64.b64encode(os.urandom(18)).decode()
    bare = "n=%s,r=%s" % (user, nonce)
    if user.startswith("token:"):  # a delegation token: its id, tokenauth=true
        bare = "n=%s,r=%s,tokenauth=true" % (user[6:], nonce)
    server_first = auth(("n,," + bare).encode()).decode()
    fields = dict(kv.split("=", 1) for kv in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(h().name, password.encode(),
                                 base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", h).digest()
    stored_key = h(client_key).digest()
    no_proof = "c=biws,r=" + fields["r"]
    message = ",".join([bare, server_first, no_proof]).encode()
    sig = hmac.new(stored_key, message, h).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    auth((no_proof + ",p=" + base64.b64encode(proof).decode()).encode())


def batch(values, producer_id=-1, producer_epoch=-1, base_sequence=-1, timestamp=None):
    """One record batch v2 (uncompressed) of values (bytes), the records at
    offset deltas 0.., stamped with the producer's id, epoch and first
    sequence (-1: not an idempotent producer's), and with timestamp (None:
    the clock's now; -1: none)."""
    recs = b""
    for i, v in enumerate(values):
        rec = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        recs += varint(len(rec)) + rec
    now = int(time.time() * 1000) if timestamp is None else timestamp
    tail = struct.pack(">hiqqqhii", 0, len(values) - 1, now, now, producer_id, producer_epoch,
                       base_sequence, len(values)) + recs
    crc = crc32c(tail)
    body = struct.pack(">ibI", -1, 2, crc) + tail
    return struct.pack(">qi", 0, len(body)) + body


def produce_v3(c, topic, partition, records, acks, timeout_ms=10000, version=3):
    """Produce v3 (or version, 3..8: the same request, and a response that
    starts alike) of the batch bytes records to topic-partition; returns
    the partition's (error_code, base_offset)."""
    body = (kstr(None) + struct.pack(">hi", acks, timeout_ms) + struct.pack(">i", 1) + kstr(topic) +
            struct.pack(">ii", 1, partition) + struct.pack(">i", len(records)) + records)
    r = c.call(0, version, body)
    # responses: [name, [index, error_code, base_offset, log_append_time]]
    off = 4
    nlen = struct.unpack(">h", r[off:off + 2])[0]
    off += 2 + nlen + 4
    _, err, base = struct.unpack(">ihq", r[off:off + 14])
    return err, base


def produce(host, port, user, password, topic, partition, value, acks="1"):
    acks = int(acks)
    c = Conn(host, int(port), timeout=90 if acks == -1 else 20)
    if user != "-":
        sasl_scram(c, user, password)
    err, _ = produce_v3(c, topic, int(partition), batch([value.encode()]), acks,
                        int(os.environ.get("KAFKA_RAW_TIMEOUT_MS", "60000")) if acks == -1
                        else 10000)
    print("error %d" % err)


def produce_ts(host, port, topic, partition, timestamp, count):
    """count batches of one 100-byte record ("rec-<i>" padded with dots),
    each stamped timestamp, acks=1, no SASL; prints "appended N" or the
    first "error E"."""
    c = Conn(host, int(port))
    for i in range(int(count)):
        v = ("rec-%06d" % i).ljust(100, ".").encode()
        err, _ = produce_v3(c, topic, int(partition), batch([v], timestamp=int(timestamp)), 1)
        if err:
            print("error %d" % err)
            return
    print("appended %d" % int(count))


def coordinator(host, port, user, password, group):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    r = c.call(10, 1, kstr(group) + struct.pack(">b", 0))
    # throttle_time_ms, error_code, error_message, node_id, host, port
    _, err, mlen = struct.unpack(">ihh", r[:8])
    off = 8 + max(mlen, 0)
    node = struct.unpack(">i", r[off:off + 4])[0]
    print("error %d node %d" % (err, node))


def metadata(host, port, user, password, topic):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    # topics [name], allow_auto_topic_creation false
    r = c.call(3, 5, struct.pack(">i", 1) + kstr(topic) + b"\x00")
    off = 4  # throttle_time_ms
    (nb,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    for _ in range(nb):  # node_id, host, port, rack
        off += 4
        (hl,) = struct.unpack(">h", r[off:off + 2])
        off += 2 + hl + 4
        (rl,) = struct.unpack(">h", r[off:off + 2])
        off += 2 + max(rl, 0)
    (cl,) = struct.unpack(">h", r[off:off + 2])  # cluster_id
    off += 2 + max(cl, 0) + 4  # controller_id
    (nt,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    for _ in range(nt):  # error_code, name, is_internal, partitions
        terr, nl = struct.unpack(">hh", r[off:off + 4])
        off += 4 + nl + 1
        (n_parts,) = struct.unpack(">i", r[off:off + 4])
        off += 4
        if terr and n_parts == 0:
            print("topic error %d" % terr)
        for _ in range(n_parts):
            err, index, leader = struct.unpack(">hii", r[off:off + 10])
            off += 10
            ids = []
            for _ in range(3):  # replicas, isr, offline_replicas
                (n,) = struct.unpack(">i", r[off:off + 4])
                off += 4
                ids.append(",".join(str(x) for x in struct.unpack(">%di" % n, r[off:off + 4 * n])) or "-")
                off += 4 * n
            print("%d error %d leader %d replicas %s isr %s offline %s" % (index, err, leader, *ids))


def brokers(host, port, user, password):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    r = c.call(3, 5, struct.pack(">i", 0) + b"\x00")  # no topic, no creation
    off = 4  # throttle_time_ms
    (nb,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    for _ in range(nb):  # node_id, host, port, rack
        (node,) = struct.unpack(">i", r[off:off + 4])
        off += 4
        (hl,) = struct.unpack(">h", r[off:off + 2])
        off += 2 + hl + 4
        (rl,) = struct.unpack(">h", r[off:off + 2])
        off += 2
        rack = r[off:off + rl].decode() if rl >= 0 else "-"
        off += max(rl, 0)
        print("%d rack %s" % (node, rack))


def create(host, port, user, password, topic, partitions, rf):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    body = (struct.pack(">i", 1) + kstr(topic) + struct.pack(">ih", int(partitions), int(rf)) +
            struct.pack(">ii", 0, 0) + struct.pack(">i", 30000) + b"\x00")
    r = c.call(19, 1, body)
    off = 4  # one topic
    (nl,) = struct.unpack(">h", r[off:off + 2])
    off += 2 + nl
    err, ml = struct.unpack(">hh", r[off:off + 4])
    off += 4
    print("error %d %s" % (err, r[off:off + ml].decode() if ml >= 0 else "-"))


def elect(host, port, user, password, etype, topic, partition):
    c = Conn(host, int(port), timeout=60)
    if user != "-":
        sasl_scram(c, user, password)
    # election_type, topic_partitions [topic, [partition]] (TOPIC "-":
    # null, every partition), timeout_ms
    if topic == "-":
        parts = struct.pack(">i", -1)
    else:
        parts = struct.pack(">i", 1) + kstr(topic) + struct.pack(">ii", 1, int(partition))
    r = c.call(43, 1, struct.pack(">b", int(etype)) + parts + struct.pack(">i", 30000))
    throttle, top, nt = struct.unpack(">ihi", r[:10])
    if top != 0 or (topic != "-" and nt != 1):
        sys.exit("ElectLeaders: error %d, %d topics" % (top, nt))
    off, results = 10, []
    for _ in range(nt):
        (nl,) = struct.unpack(">h", r[off:off + 2])
        name = r[off + 2:off + 2 + nl].decode()
        (n_parts,) = struct.unpack(">i", r[off + 2 + nl:off + 6 + nl])
        off += 6 + nl
        for _ in range(n_parts):
            index, err, ml = struct.unpack(">ihh", r[off:off + 8])
            off += 8 + max(ml, 0)
            results.append((name, index, err))
    if topic != "-":
        if len(results) != 1 or results[0][1] != int(partition):
            sys.exit("ElectLeaders: %d partitions" % len(results))
        print("error %d" % results[0][2])
        return
    # Null: one line per partition answered, "none" for none.
    for name, index, err in results:
        print("%s %d %d" % (name, index, err))
    if not results:
        print("none")


def uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def read_uvarint(buf, off):
    n = shift = 0
    while True:
        b = buf[off]
        off += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, off


def cancel(host, port, user, password, topic, partition):
    c = Conn(host, int(port), timeout=60)
    if user != "-":
        sasl_scram(c, user, password)
    name = topic.encode()
    # timeout_ms, topics [name, partitions [partition_index, replicas null,
    # tags], tags], tags: compact forms (flexible v0)
    body = (struct.pack(">i", 30000) + uvarint(2) + uvarint(len(name) + 1) + name + uvarint(2) +
            struct.pack(">i", int(partition)) + uvarint(0) + b"\x00" + b"\x00" + b"\x00")
    r = c.call(45, 0, body, flexible=True)
    throttle, top = struct.unpack(">ih", r[:6])
    n, off = read_uvarint(r, 6)  # error_message, compact nullable
    off += max(n - 1, 0)
    nt, off = read_uvarint(r, off)
    if nt - 1 < 1:
        print("error %d -" % top)
        return
    n, off = read_uvarint(r, off)
    off += n - 1
    n_parts, off = read_uvarint(r, off)
    index, err = struct.unpack(">ih", r[off:off + 6])
    if n_parts - 1 != 1 or index != int(partition):
        sys.exit("AlterPartitionReassignments: %d partitions, partition %d" % (n_parts - 1, index))
    print("error %d %d" % (top, err))


def incalter(host, port, user, password, broker, op, key, value=None):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    # resources [resource_type 4 (broker), name, configs [name, op, value]],
    # validate_only
    body = (struct.pack(">ib", 1, 4) + kstr(broker) + struct.pack(">i", 1) + kstr(key) +
            struct.pack(">b", int(op)) + kstr(value) + struct.pack(">b", 0))
    r = c.call(44, 0, body)
    # throttle_time_ms, responses [error_code, error_message, type, name]
    (n,) = struct.unpack(">i", r[4:8])
    if n != 1:
        sys.exit("IncrementalAlterConfigs: %d responses" % n)
    (err,) = struct.unpack(">h", r[8:10])
    if os.environ.get("KAFKA_RAW_MESSAGE"):
        msg, _ = read_nstr(r, 10)
        print("error %d %s" % (err, msg))
        return
    print("error %d" % err)


def read_nstr(r, off):
    """A nullable int16-length string at off: (str or None, next offset)."""
    (n,) = struct.unpack(">h", r[off:off + 2])
    if n < 0:
        return None, off + 2
    return r[off + 2:off + 2 + n].decode(), off + 2 + n


def describe(host, port, user, password, rtype, name, key):
    """DescribeConfigs v1 with synonyms of one key of resource (rtype 2
    topic, 4 broker) name, to this broker; prints as kafkajs_admin.js's
    describe: "key=value source=N readonly=B synonyms=a:S,b:S", or
    "error E" for the resource's error."""
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    body = (struct.pack(">ib", 1, int(rtype)) + kstr(name) + struct.pack(">i", 1) + kstr(key) +
            struct.pack(">b", 1))
    r = c.call(32, 1, body)
    # throttle_time_ms, results [error_code, error_message, type, name, configs]
    (n,) = struct.unpack(">i", r[4:8])
    if n != 1:
        sys.exit("DescribeConfigs: %d results" % n)
    (err,) = struct.unpack(">h", r[8:10])
    _, off = read_nstr(r, 10)
    _, off = read_nstr(r, off + 1)
    if err:
        print("error %d" % err)
        return
    (nc,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    for _ in range(nc):  # name, value, read_only, source, sensitive, synonyms
        cname, off = read_nstr(r, off)
        value, off = read_nstr(r, off)
        ro, src, _sens = struct.unpack(">bbb", r[off:off + 3])
        (ns,) = struct.unpack(">i", r[off + 3:off + 7])
        off += 7
        syn = []
        for _ in range(ns):
            sname, off = read_nstr(r, off)
            _sv, off = read_nstr(r, off)
            syn.append("%s:%d" % (sname, r[off]))
            off += 1
        print("%s=%s source=%d readonly=%s synonyms=%s" %
              (cname, value, src, "true" if ro else "false", ",".join(syn)))


def logdirs(host, port, user, password, topic, partition):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    # topics [topic, [partition]]
    r = c.call(35, 1, struct.pack(">i", 1) + kstr(topic) + struct.pack(">ii", 1, int(partition)))
    throttle, nr = struct.unpack(">ii", r[:8])
    if nr != 1:
        sys.exit("DescribeLogDirs: %d log directories" % nr)
    (err, dl) = struct.unpack(">hh", r[8:12])
    off = 12 + dl
    (nt,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    parts = 0
    for _ in range(nt):  # name, partitions of (index, size, lag, is_future)
        (nl,) = struct.unpack(">h", r[off:off + 2])
        off += 2 + nl
        (n,) = struct.unpack(">i", r[off:off + 4])
        off += 4 + n * 21
        parts += n
    print("error %d partitions %d" % (err, parts))


def commit(host, port, group, topic, partition, offset, epoch=-1, user="-", password=None):
    """OffsetCommit v7 of one offset with committed_leader_epoch epoch,
    outside any generation (-1, as a client that assigns itself); prints
    "error E"."""
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    body = (kstr(group) + struct.pack(">i", -1) + kstr("") + kstr(None) + struct.pack(">i", 1) +
            kstr(topic) + struct.pack(">iiqi", 1, int(partition), int(offset), int(epoch)) +
            kstr(None))
    r = c.call(8, 7, body)
    # throttle_time_ms, [name, [partition_index, error_code]]
    off = 8
    nlen = struct.unpack(">h", r[off:off + 2])[0]
    off += 2 + nlen + 4
    _, err = struct.unpack(">ih", r[off:off + 6])
    print("error %d" % err)


def commit_epoch(host, port, user, password, group, topic, partition, offset, epoch):
    commit(host, port, group, topic, partition, offset, epoch, user, password)


def committed(host, port, user, password, group, topic, partition):
    """OffsetFetch v5 of one partition: "error E offset O epoch L"."""
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    r = c.call(9, 5, kstr(group) + struct.pack(">i", 1) + kstr(topic) +
               struct.pack(">ii", 1, int(partition)))
    # throttle_time_ms, [name, [partition_index, committed_offset,
    # committed_leader_epoch, metadata, error_code]], error_code
    (ntopics,) = struct.unpack(">i", r[4:8])
    if ntopics == 0:  # a group's error, no topics
        print("error %d offset -1 epoch -1" % struct.unpack(">h", r[8:10]))
        return
    off = 8
    nlen = struct.unpack(">h", r[off:off + 2])[0]
    off += 2 + nlen + 4
    _, offset, epoch, mlen = struct.unpack(">iqih", r[off:off + 18])
    off += 18 + max(mlen, 0)
    (err,) = struct.unpack(">h", r[off:off + 2])
    (gerr,) = struct.unpack(">h", r[off + 2:off + 4])
    print("error %d offset %d epoch %d" % (gerr or err, offset, epoch))


def initpid(host, port, producer_id, epoch):
    """InitProducerId v3 (flexible) without a transactional id, naming
    producer_id and epoch as a client that goes on after an error does."""
    c = Conn(host, int(port))
    body = b"\x00" + struct.pack(">iqh", 60000, int(producer_id), int(epoch)) + b"\x00"
    r = c.call(22, 3, body, flexible=True)
    _, err, pid, ep = struct.unpack(">ihqh", r[:16])
    print("error %d pid %d epoch %d" % (err, pid, ep))


def frame(host, port, hexbytes):
    s = socket.create_connection((host, int(port)), timeout=20)
    s.sendall(bytes.fromhex(hexbytes))
    try:
        got = s.recv(65536)
    except ConnectionResetError:
        got = b""
    print("answered %d" % len(got) if got else "closed")


def flood(host, port, stopfile):
    held, n, why = [], 0, None
    while n < 5000 and why is None:
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(struct.pack(">ihhih", 10, 18, 0, n, -1))
        try:
            got = s.recv(4)
        except socket.timeout:
            why = "stuck"
        except ConnectionResetError:
            got = b""
        if why is None and not got:
            why = "refused"
        elif why is None:
            size = struct.unpack(">i", got)[0]
            while size > 0:
                size -= len(s.recv(size))
            held.append(s)
            n += 1
    print("%s after %d" % (why, n) if why else "open %d" % n, flush=True)
    end = time.monotonic() + 60
    while not os.path.exists(stopfile) and time.monotonic() < end:
        time.sleep(0.05)
    for s in held:
        s.close()


def slot_wait(host, port, n):
    """With max.connections=n: n connections answered; the next connects
    (the kernel's backlog) but its ApiVersions is not answered in 1 s;
    once one of the n closes it is answered."""
    def api_versions(s, corr):
        s.sendall(struct.pack(">ihhih", 10, 18, 0, corr, -1))

    def answered(s):
        try:
            got = s.recv(4)
        except socket.timeout:
            return "stuck"
        except ConnectionResetError:
            return "closed"
        if not got:
            return "closed"
        size = struct.unpack(">i", got)[0]
        while size > 0:
            size -= len(s.recv(size))
        return "answered"

    held = []
    for i in range(int(n)):
        s = socket.create_connection((host, int(port)), timeout=20)
        api_versions(s, i)
        why = answered(s)
        if why != "answered":
            print("connection %d %s" % (i, why))
            return
        held.append(s)
    extra = socket.create_connection((host, int(port)), timeout=1)
    api_versions(extra, 99)
    why = answered(extra)
    if why != "stuck":
        print("past the limit: %s at once" % why)
        return
    held.pop(0).close()
    extra.settimeout(20)
    print("past the limit: unanswered, then %s once one closed" % answered(extra))
    for s in held + [extra]:
        s.close()


def offsets_many(host, port, topic, n):
    c = Conn(host, int(port))
    body = struct.pack(">i", -1) + struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", int(n))
    body += b"".join(struct.pack(">iq", p, -1) for p in range(int(n)))
    try:
        r = c.call(2, 1, body)
    except (SystemExit, ConnectionResetError):
        print("closed")
        return
    print("answered %d" % struct.unpack(">i", r[struct.calcsize(">i") + 2 + len(topic):][:4])[0])


def parked(host, port, topic, partition, offset, wait_ms, min_bytes=1):
    c = Conn(host, int(port), timeout=int(wait_ms) // 1000 + 30)
    if os.environ.get("KAFKA_RAW_SCRAM"):
        user, password = os.environ["KAFKA_RAW_SCRAM"].split(":", 1)
        sasl_scram(c, user, password)
    body = struct.pack(">iiiib", -1, int(wait_ms), int(min_bytes), 1 << 20, 0)
    body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", 1)
    body += struct.pack(">iqi", int(partition), int(offset), 1 << 20)
    print("ready", flush=True)
    t0 = time.monotonic()
    r = c.call(1, 4, body)
    # throttle_time, [topic, [partition, error_code, ...]]
    n = struct.unpack(">h", r[8:10])[0]
    err = struct.unpack(">h", r[10 + n + 4 + 4:10 + n + 4 + 6])[0]
    print("error %d after %d s" % (err, int(time.monotonic() - t0)))


def cstr(b):
    """COMPACT_STRING / COMPACT_BYTES of b (bytes)."""
    return uvarint(len(b) + 1) + b


def read_uvarint(r, off):
    n, shift = 0, 0
    while True:
        b = r[off]
        off += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, off


def read_cstr(r, off):
    n, off = read_uvarint(r, off)
    if n == 0:
        return None, off
    return r[off:off + n - 1].decode(), off + n - 1


def scram_describe(host, port, user, password, names):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    # users COMPACT_NULLABLE_ARRAY (NAMES "-": null) of (name, tags), tags
    if names == "-":
        body = b"\x00"
    else:
        lst = names.split(",") if names else []
        body = uvarint(len(lst) + 1) + b"".join(cstr(n.encode()) + b"\x00" for n in lst)
    r = c.call(50, 0, body + b"\x00", flexible=True)
    throttle, err = struct.unpack(">ih", r[:6])
    msg, off = read_cstr(r, 6)
    n, off = read_uvarint(r, off)
    print("error %d" % err)
    for _ in range(n - 1):
        name, off = read_cstr(r, off)
        (uerr,) = struct.unpack(">h", r[off:off + 2])
        umsg, off = read_cstr(r, off + 2)
        ni, off = read_uvarint(r, off)
        infos = []
        for _ in range(ni - 1):
            mech, iters = struct.unpack(">bi", r[off:off + 5])
            off += 6  # and its tags
            infos.append("%d:%d" % (mech, iters))
        off += 1  # the result's tags
        print("%s %d %s" % (name, uerr, ",".join(infos) or "-"))


def scram_alter(host, port, user, password, op, name, secret, iterations, mech="SCRAM-SHA-256"):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    # deletions [(name, mechanism)], upsertions [(name, mechanism,
    # iterations, salt, salted_password)]; mechanism 1 SCRAM-SHA-256, 2
    # SCRAM-SHA-512
    mtype, hname = {"SCRAM-SHA-256": (1, "sha256"), "SCRAM-SHA-512": (2, "sha512")}[mech]
    if op == "delete":
        body = uvarint(2) + cstr(name.encode()) + struct.pack(">b", mtype) + b"\x00" + uvarint(1)
    else:
        salt = os.urandom(16)
        salted = hashlib.pbkdf2_hmac(hname, secret.encode(), salt, int(iterations))
        body = (uvarint(1) + uvarint(2) + cstr(name.encode()) +
                struct.pack(">bi", mtype, int(iterations)) + cstr(salt) + cstr(salted) + b"\x00")
    r = c.call(51, 0, body + b"\x00", flexible=True)
    n, off = read_uvarint(r, 4)
    for _ in range(n - 1):
        uname, off = read_cstr(r, off)
        (uerr,) = struct.unpack(">h", r[off:off + 2])
        umsg, off = read_cstr(r, off + 2)
        off += 1
        print("%s %d" % (uname, uerr))


def quota_entity(text):
    """type=name,... as the compact (entity_type, entity_name, tags) array."""
    parts = [p.split("=", 1) for p in text.split(",")] if text else []
    out = uvarint(len(parts) + 1)
    for t, n in parts:
        out += cstr(t.encode()) + (b"\x00" if n == "<default>" else cstr(n.encode())) + b"\x00"
    return out


def read_quota_entity(r, off):
    n, off = read_uvarint(r, off)
    parts = []
    for _ in range(n - 1):
        t, off = read_cstr(r, off)
        name, off = read_cstr(r, off)
        off += 1  # tags
        parts.append("%s=%s" % (t, "<default>" if name is None else name))
    return ",".join(parts), off


def quota_alter(host, port, user, password, entity, ops, validate=""):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    oplist = [o.split("=", 1) for o in ops.split(",")] if ops else []
    body = uvarint(2) + quota_entity(entity) + uvarint(len(oplist) + 1)
    for k, v in oplist:
        rm = v == "-"
        body += cstr(k.encode()) + struct.pack(">d?", 0.0 if rm else float(v), rm) + b"\x00"
    body += b"\x00" + struct.pack(">?", validate == "validate") + b"\x00"
    r = c.call(49, 1, body, flexible=True)
    n, off = read_uvarint(r, 4)
    for _ in range(n - 1):
        (err,) = struct.unpack(">h", r[off:off + 2])
        msg, off = read_cstr(r, off + 2)
        _, off = read_quota_entity(r, off)
        off += 1
        print("error %d %s" % (err, msg if msg is not None else "-"))


def quota_describe(host, port, user, password, filt, strict=""):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    comps = [p.split("=", 1) for p in filt.split(",")] if filt else []
    body = uvarint(len(comps) + 1)
    for t, n in comps:
        if n == "<default>":
            body += cstr(t.encode()) + b"\x01\x00\x00"
        elif n == "*":
            body += cstr(t.encode()) + b"\x02\x00\x00"
        else:
            body += cstr(t.encode()) + b"\x00" + cstr(n.encode()) + b"\x00"
    body += struct.pack(">?", strict == "strict") + b"\x00"
    r = c.call(48, 1, body, flexible=True)
    _, err = struct.unpack(">ih", r[:6])
    _, off = read_cstr(r, 6)
    n, off = read_uvarint(r, off)
    print("error %d" % err)
    lines = []
    for _ in range(max(n - 1, 0)):
        ent, off = read_quota_entity(r, off)
        nv, off = read_uvarint(r, off)
        vals = []
        for _ in range(nv - 1):
            k, off = read_cstr(r, off)
            (v,) = struct.unpack(">d", r[off:off + 8])
            off += 9  # and its tags
            vals.append("%s=%g" % (k, v))
        off += 1
        lines.append("%s %s" % (ent, ",".join(sorted(vals))))
    for line in sorted(lines):
        print(line)


def produce_throttle(host, port, user, password, client_id, topic, partition, nbytes, n):
    c = Conn(host, int(port), client_id=client_id)
    if user != "-":
        sasl_scram(c, user, password)
    value = b"x" * int(nbytes)
    for k in range(1, int(n) + 1):
        body = (kstr(None) + struct.pack(">hi", 1, 10000) + struct.pack(">i", 1) + kstr(topic) +
                struct.pack(">ii", 1, int(partition)) + (lambda b: struct.pack(">i", len(b)) + b)(batch([value])))
        r = c.call(0, 3, body)
        # responses [name, [index, error_code, base_offset, log_append_time]], throttle_time_ms
        off = 4
        nlen = struct.unpack(">h", r[off:off + 2])[0]
        off += 2 + nlen + 4
        _, err = struct.unpack(">ih", r[off:off + 6])
        if err:
            sys.exit("Produce: error %d" % err)
        (throttle,) = struct.unpack(">i", r[-4:])
        if throttle > 0:
            print("throttle %d after %d" % (throttle, k))
            return
    print("throttle 0 after %s" % n)


def fetch_throttle(host, port, user, password, client_id, topic, partition, n):
    c = Conn(host, int(port), client_id=client_id)
    if user != "-":
        sasl_scram(c, user, password)
    body = struct.pack(">iiiib", -1, 0, 0, 1 << 20, 0)
    body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", 1)
    body += struct.pack(">iqi", int(partition), 0, 1 << 20)
    throttle, nbytes = 0, 0
    for k in range(1, int(n) + 1):
        r = c.call(1, 4, body)
        # throttle_time_ms, [topic, [partition, error_code, high_watermark,
        # last_stable_offset, aborted_transactions, records]]
        (throttle, ntopics) = struct.unpack(">ii", r[:8])
        if ntopics == 0:  # a throttled answer names no partition (Kafka's)
            print("throttle %d after %d no partitions" % (throttle, k))
            return
        tlen = struct.unpack(">h", r[8:10])[0]
        off = 10 + tlen + 4
        _, err = struct.unpack(">ih", r[off:off + 6])
        if err:
            sys.exit("Fetch: error %d" % err)
        off += 22
        (naborted,) = struct.unpack(">i", r[off:off + 4])
        off += 4 + 16 * max(naborted, 0)
        (nbytes,) = struct.unpack(">i", r[off:off + 4])
        if throttle > 0:
            print("throttle %d after %d records %d" % (throttle, k, max(nbytes, 0)))
            return
    print("throttle 0 after %s records %d" % (n, max(nbytes, 0)))


def fetch_session_throttle(host, port, user, password, client_id, topic, partition):
    """A full Fetch v7 from offset 0 (opens a session), a record produced,
    then an incremental Fetch of the session (the same offset)."""
    c = Conn(host, int(port), client_id=client_id)
    if user != "-":
        sasl_scram(c, user, password)

    def fetch(session_id, epoch, parts):
        body = struct.pack(">iiiibii", -1, 0, 0, 1 << 20, 0, session_id, epoch)
        if parts:
            body += struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", 1)
            body += struct.pack(">iqqi", int(partition), 0, -1, 1 << 20)
        else:
            body += struct.pack(">i", 0)
        body += struct.pack(">i", 0)  # forgotten topics
        r = c.call(1, 7, body)
        # throttle_time_ms, error_code, session_id, [topic, [partition ...]]
        throttle, err, sid, ntopics = struct.unpack(">ihii", r[:14])
        return throttle, err, sid, ntopics

    t, err, sid, n = fetch(0, 0, True)
    print("full throttle %d error %d session %s topics %d" % (t, err, "yes" if sid > 0 else "no", n))
    body = (kstr(None) + struct.pack(">hi", 1, 10000) + struct.pack(">i", 1) + kstr(topic) +
            struct.pack(">ii", 1, int(partition)) + (lambda b: struct.pack(">i", len(b)) + b)(batch([b"x"])))
    c.call(0, 3, body)
    t, err, sid2, n = fetch(sid, 1, False)
    print("incremental throttle %s error %d session %s topics %d" %
          ("above0" if t > 0 else "0", err, "same" if sid2 == sid else "other", n))


def scram_first(host, port, user):
    c = Conn(host, int(port))
    resp = c.call(17, 1, kstr("SCRAM-SHA-256"))
    if struct.unpack(">h", resp[:2])[0] != 0:
        sys.exit("SaslHandshake refused")
    data = ("n,,n=%s,r=%s" % (user, base64.b64encode(os.urandom(18)).decode())).encode()
    r = c.call(36, 0, struct.pack(">i", len(data)) + data)
    err = struct.unpack(">h", r[:2])[0]
    if err:
        print("error %d" % err)
        return
    off = 4 + max(struct.unpack(">h", r[2:4])[0], 0)
    blen = struct.unpack(">i", r[off:off + 4])[0]
    fields = dict(kv.split("=", 1) for kv in r[off + 4:off + 4 + blen].decode().split(","))
    print("salt %s iterations %s" % (fields["s"], fields["i"]))


def closed_unanswered(c):
    """Whether the broker closes c before a byte of an answer."""
    try:
        return c.s.recv(1) == b""
    except ConnectionResetError:
        return True


def reauth_expired(host, port, user, password):
    c = Conn(host, int(port))
    err, msg, lifetime = sasl_scram_v(c, user, password, 1)
    if err or lifetime <= 0:
        sys.exit("authentication: error %d lifetime %d" % (err, lifetime))
    c.call(18, 0, b"")  # within the session: answered
    time.sleep(lifetime / 1000.0 + 0.3)
    c.corr += 1
    frame = struct.pack(">hhi", 18, 0, c.corr) + kstr(c.client_id)
    c.s.sendall(struct.pack(">i", len(frame)) + frame)
    print("lifetime %d %s" % (lifetime, "closed" if closed_unanswered(c) else "answered"))


def reauth(host, port, user, password, user2, password2):
    c = Conn(host, int(port))
    err, msg, lifetime = sasl_scram_v(c, user, password, 1)
    if err:
        sys.exit("authentication: error %d %s" % (err, msg))
    err, msg, lifetime = sasl_scram_v(c, user2, password2, 1)
    if err:
        print("error %d %s %s" % (err, msg, "closed" if closed_unanswered(c) else "open"))
        return
    c.call(18, 0, b"")  # still serving
    print("error 0 lifetime %d" % lifetime)


def silent(host, port):
    s = socket.create_connection((host, int(port)), timeout=60)
    t0 = time.monotonic()
    try:
        got = s.recv(1)
    except ConnectionResetError:
        got = b""
    if got:
        sys.exit("the broker sent something to a silent client")
    print("closed after %d s" % int(time.monotonic() - t0))

ACL_CODES = {
    "type": {"any": 1, "topic": 2, "group": 3, "cluster": 4, "transactional_id": 5},
    "pattern": {"any": 1, "match": 2, "literal": 3, "prefixed": 4},
    "op": {"any": 1, "all": 2, "read": 3, "write": 4, "create": 5, "delete": 6, "alter": 7,
           "describe": 8, "cluster_action": 9, "describe_configs": 10, "alter_configs": 11,
           "idempotent_write": 12},
    "perm": {"any": 1, "deny": 2, "allow": 3},
}


def acl_fields(spec):
    """type,pattern,name,principal,host,op,perm (names of ACL_CODES, a
    number for a code, "-" a null string) as a v1 binding or filter."""
    t, pat, name, principal, host, op, perm = spec.split(",")

    def code(kind, v):
        return int(v) if v.lstrip("-").isdigit() else ACL_CODES[kind][v]

    def ns(v):
        return kstr(None if v == "-" else v)
    return (struct.pack(">b", code("type", t)) + ns(name) + struct.pack(">b", code("pattern", pat)) +
            ns(principal) + ns(host) + struct.pack(">bb", code("op", op), code("perm", perm)))


def read_kstr(r, off):
    (n,) = struct.unpack(">h", r[off:off + 2])
    if n < 0:
        return None, off + 2
    return r[off + 2:off + 2 + n].decode(), off + 2 + n


def acl_conn(host, port, user, password):
    c = Conn(host, int(port))
    if user != "-":
        sasl_scram(c, user, password)
    return c


def acl_create(host, port, user, password, *specs):
    """CreateAcls v1: 'result ERR' for each binding."""
    c = acl_conn(host, port, user, password)
    r = c.call(30, 1, struct.pack(">i", len(specs)) + b"".join(acl_fields(s) for s in specs))
    (n,) = struct.unpack(">i", r[4:8])
    off = 8
    for _ in range(n):
        (err,) = struct.unpack(">h", r[off:off + 2])
        msg, off = read_kstr(r, off + 2)
        print("result %d%s" % (err, " " + msg if msg else ""))


def read_binding(r, off, with_error):
    if with_error:
        off += 2
        _, off = read_kstr(r, off)
    t = r[off]
    name, off = read_kstr(r, off + 1)
    pat = r[off]
    return t, name, pat, off + 1


def acl_describe(host, port, user, password, spec):
    """DescribeAcls v1: 'error E' then one line per binding."""
    c = acl_conn(host, port, user, password)
    r = c.call(29, 1, acl_fields(spec))
    (err,) = struct.unpack(">h", r[4:6])
    _, off = read_kstr(r, 6)
    print("error %d" % err)
    (n,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    for _ in range(n):
        t, name, pat, off = read_binding(r, off, False)
        (k,) = struct.unpack(">i", r[off:off + 4])
        off += 4
        for _ in range(k):
            principal, off = read_kstr(r, off)
            h, off = read_kstr(r, off)
            op, perm = struct.unpack(">bb", r[off:off + 2])
            off += 2
            print("%d,%d,%s,%s,%s,%d,%d" % (t, pat, name, principal, h, op, perm))


def acl_delete(host, port, user, password, *specs):
    """DeleteAcls v1: 'filter ERR N' for each filter, then its N bindings."""
    c = acl_conn(host, port, user, password)
    r = c.call(31, 1, struct.pack(">i", len(specs)) + b"".join(acl_fields(s) for s in specs))
    (n,) = struct.unpack(">i", r[4:8])
    off = 8
    for _ in range(n):
        (err,) = struct.unpack(">h", r[off:off + 2])
        _, off = read_kstr(r, off + 2)
        (k,) = struct.unpack(">i", r[off:off + 4])
        off += 4
        print("filter %d %d" % (err, k))
        for _ in range(k):
            t, name, pat, off = read_binding(r, off, True)
            principal, off = read_kstr(r, off)
            h, off = read_kstr(r, off)
            op, perm = struct.unpack(">bb", r[off:off + 2])
            off += 2
            print("%d,%d,%s,%s,%s,%d,%d" % (t, pat, name, principal, h, op, perm))


def errcode(host, port, user, password, api, version, hexbody):
    c = acl_conn(host, port, user, password)
    r = c.call(int(api), int(version), bytes.fromhex(hexbody))
    print("error %d" % struct.unpack(">h", r[:2])[0])


def cstr_c(s):
    """A COMPACT_STRING."""
    b = s.encode()
    return uvarint(len(b) + 1) + b


def create5(host, port, user, password, topic, validate=""):
    c = acl_conn(host, port, user, password)
    # topics: name, num_partitions -1, replication_factor -1, assignments
    # [], configs [], tags; timeout_ms, validate_only, tags
    body = (uvarint(2) + cstr_c(topic) + struct.pack(">ih", -1, -1) + uvarint(1) + uvarint(1) +
            b"\x00" + struct.pack(">i", 30000) + (b"\x01" if validate else b"\x00") + b"\x00")
    r = c.call(19, 5, body, flexible=True)
    off = 4  # throttle
    n, off = read_uvarint(r, off)
    if n != 2:
        sys.exit("CreateTopics: %d topics" % (n - 1))
    nl, off = read_uvarint(r, off)
    off += nl - 1
    (err,) = struct.unpack(">h", r[off:off + 2])
    ml, off = read_uvarint(r, off + 2)
    off += max(ml - 1, 0)
    parts, rf = struct.unpack(">ih", r[off:off + 6])
    nc, off = read_uvarint(r, off + 6)
    for _ in range(max(nc - 1, 0)):
        kl, off = read_uvarint(r, off)
        off += kl - 1
        vl, off = read_uvarint(r, off)
        off += max(vl - 1, 0) + 3  # read_only, source, is_sensitive
        nt, off = read_uvarint(r, off)
        for _ in range(nt):
            _, off = read_uvarint(r, off)
            sz, off = read_uvarint(r, off)
            off += sz
    cfgerr = 0
    nt, off = read_uvarint(r, off)
    for _ in range(nt):
        tag, off = read_uvarint(r, off)
        sz, off = read_uvarint(r, off)
        if tag == 0:
            (cfgerr,) = struct.unpack(">h", r[off:off + 2])
        off += sz
    print("error %d cfgerror %d partitions %d rf %d configs %d" % (err, cfgerr, parts, rf,
                                                                  max(nc - 1, -1)))


def initpid_as(host, port, user, password):
    c = acl_conn(host, port, user, password)
    body = b"\x00" + struct.pack(">iqh", 60000, -1, -1) + b"\x00"
    r = c.call(22, 3, body, flexible=True)
    print("error %d" % struct.unpack(">h", r[4:6])[0])


def list_groups(host, port, user, password):
    c = acl_conn(host, port, user, password)
    r = c.call(16, 0, b"")
    err, n = struct.unpack(">hi", r[:6])
    off, names = 6, []
    for _ in range(n):
        g, off = read_kstr(r, off)
        _, off = read_kstr(r, off)
        names.append(g)
    print("error %d" % err)
    for g in sorted(names):
        print(g)


def describe_group(host, port, user, password, group):
    c = acl_conn(host, port, user, password)
    r = c.call(15, 3, struct.pack(">i", 1) + kstr(group) + b"\x01")
    off = 8  # throttle, one group
    (err,) = struct.unpack(">h", r[off:off + 2])
    off += 2
    for _ in range(4):  # group_id, state, protocol_type, protocol_data
        _, off = read_kstr(r, off)
    (nm,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    for _ in range(nm):
        for _ in range(3):  # member_id, client_id, client_host
            _, off = read_kstr(r, off)
        for _ in range(2):  # metadata, assignment
            (bl,) = struct.unpack(">i", r[off:off + 4])
            off += 4 + max(bl, 0)
    (ops,) = struct.unpack(">i", r[off:off + 4])
    print("error %d ops %d" % (err, ops))


def delete_records(host, port, user, password, topic, partition, offset):
    c = acl_conn(host, port, user, password)
    body = (struct.pack(">i", 1) + kstr(topic) + struct.pack(">iiq", 1, int(partition), int(offset)) +
            struct.pack(">i", 30000))
    r = c.call(21, 0, body)
    off = 8
    _, off = read_kstr(r, off)
    print("error %d" % struct.unpack(">h", r[off + 4 + 4 + 8:off + 4 + 4 + 8 + 2])[0])


def list_offsets(host, port, user, password, topic, partition):
    c = acl_conn(host, port, user, password)
    body = (struct.pack(">i", -1) + struct.pack(">i", 1) + kstr(topic) +
            struct.pack(">iiq", 1, int(partition), -1))
    r = c.call(2, 1, body)
    off = 4
    _, off = read_kstr(r, off)
    print("error %d" % struct.unpack(">h", r[off + 8:off + 10])[0])


def ofle(host, port, user, password, topic, partition, replica_id):
    c = acl_conn(host, port, user, password)
    body = (struct.pack(">ii", int(replica_id), 1) + kstr(topic) +
            struct.pack(">iiii", 1, int(partition), -1, 0))
    r = c.call(23, 3, body)
    off = 8  # throttle, one topic
    _, off = read_kstr(r, off)
    print("error %d" % struct.unpack(">h", r[off + 4:off + 6])[0])


def metadata_ops(host, port, user, password, topic):
    c = acl_conn(host, port, user, password)
    r = c.call(3, 8, struct.pack(">i", 1) + kstr(topic) + b"\x01\x01\x01")
    (nb,) = struct.unpack(">i", r[4:8])
    off = 8
    for _ in range(nb):
        off += 4
        _, off = read_kstr(r, off)
        off += 4
        _, off = read_kstr(r, off)
    _, off = read_kstr(r, off)  # cluster id
    off += 4  # controller id
    (nt,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    out = []
    for _ in range(nt):
        (err,) = struct.unpack(">h", r[off:off + 2])
        _, off = read_kstr(r, off + 2)
        off += 1  # is_internal
        (np_,) = struct.unpack(">i", r[off:off + 4])
        off += 4
        for _ in range(np_):
            off += 2 + 4 + 4 + 4
            for _ in range(3):  # replicas, isr, offline
                (k,) = struct.unpack(">i", r[off:off + 4])
                off += 4 + 4 * max(k, 0)
        (ops,) = struct.unpack(">i", r[off:off + 4])
        off += 4
        out.append((err, ops))
    (cops,) = struct.unpack(">i", r[off:off + 4])
    for err, ops in out:
        print("error %d ops %d cluster %d" % (err, ops, cops))


def named_errors(host, port, user, password, api, name, group=None):
    c = acl_conn(host, port, user, password)
    if api == "offset-delete":
        r = c.call(47, 0, kstr(group) + struct.pack(">i", 1) + kstr(name) + struct.pack(">ii", 1, 0))
        gerr, _, nt = struct.unpack(">hii", r[:10])
        if nt < 1:
            print("error %d -" % gerr)
            return
        _, off = read_kstr(r, 10)
        print("error %d %d" % (gerr, struct.unpack(">h", r[off + 8:off + 10])[0]))
        return
    if api == "delete-topics":
        r = c.call(20, 1, struct.pack(">i", 1) + kstr(name) + struct.pack(">i", 30000))
    elif api == "create-partitions":
        r = c.call(37, 0, struct.pack(">i", 1) + kstr(name) + struct.pack(">ii", 2, -1) +
                   struct.pack(">i", 30000) + b"\x01")
    elif api == "delete-groups":
        r = c.call(42, 1, struct.pack(">i", 1) + kstr(name))
    else:
        sys.exit("named-errors: unknown API " + api)
    _, off = read_kstr(r, 8)  # throttle, one entry
    print("error %d" % struct.unpack(">h", r[off:off + 2])[0])


def controller(host, port, user, password):
    r = acl_conn(host, port, user, password).call(3, 5, struct.pack(">i", 0) + b"\x00")
    off = 4  # throttle_time_ms
    (nb,) = struct.unpack(">i", r[off:off + 4])
    off += 4
    for _ in range(nb):  # node_id, host, port, rack
        _, off = read_kstr(r, off + 4)
        _, off = read_kstr(r, off + 4)
    _, off = read_kstr(r, off)  # cluster_id
    print(struct.unpack(">i", r[off:off + 4])[0])


def grow(host, port, user, password, topic, count):
    c = acl_conn(host, port, user, password)
    r = c.call(37, 1, struct.pack(">i", 1) + kstr(topic) + struct.pack(">ii", int(count), -1) +
               struct.pack(">i", 30000) + b"\x00")
    _, off = read_kstr(r, 8)  # throttle, one result
    (err,) = struct.unpack(">h", r[off:off + 2])
    msg, _ = read_kstr(r, off + 2)
    print("error %d %s" % (err, "-" if msg is None else msg))


def delete_id(host, port, user, password, topic_id, name=None):
    c = acl_conn(host, port, user, password)
    uuid = base64.urlsafe_b64decode(topic_id + "=" * (-len(topic_id) % 4))
    # topics [name (null unless given), topic_id, tags], timeout_ms, tags
    body = (uvarint(2) + (uvarint(0) if name is None else cstr(name.encode())) + uuid + b"\x00" +
            struct.pack(">i", 30000) + b"\x00")
    r = c.call(20, 6, body, flexible=True)
    n, off = read_uvarint(r, 4)  # throttle
    if n != 2:
        sys.exit("DeleteTopics: %d answers" % (n - 1))
    nl, off = read_uvarint(r, off)
    name = r[off:off + nl - 1].decode() if nl else "-"
    off += max(nl - 1, 0)
    rid = base64.urlsafe_b64encode(r[off:off + 16]).decode().rstrip("=")
    (err,) = struct.unpack(">h", r[off + 16:off + 18])
    ml, off = read_uvarint(r, off + 18)
    msg = r[off:off + ml - 1].decode() if ml else "-"
    print("name %s id %s error %d message %s" % (name, rid, err, msg))


def list_reassign(host, port, user, password, topic, partition):
    c = acl_conn(host, port, user, password)
    body = (struct.pack(">i", 30000) + uvarint(2) + cstr(topic.encode()) + uvarint(2) +
            struct.pack(">i", int(partition)) + b"\x00" + b"\x00")
    r = c.call(46, 0, body, flexible=True)
    (err,) = struct.unpack(">h", r[4:6])
    _, off = read_cstr(r, 6)
    print("error %d" % err)
    nt, off = read_uvarint(r, off)
    for _ in range(nt - 1):
        name, off = read_cstr(r, off)
        np_, off = read_uvarint(r, off)
        for _ in range(np_ - 1):
            (idx,) = struct.unpack(">i", r[off:off + 4])
            off += 4
            lists = []
            for _ in range(3):
                k, off = read_uvarint(r, off)
                lists.append([struct.unpack(">i", r[off + 4 * i:off + 4 * i + 4])[0] for i in range(k - 1)])
                off += 4 * (k - 1)
            off += 1  # tags
            print("%s %d replicas %s" % (name, idx, ",".join(map(str, lists[0])) or "-"))
        off += 1


def describe_configs(host, port, user, password, rtype, name):
    c = acl_conn(host, port, user, password)
    body = struct.pack(">ib", 1, int(rtype)) + kstr(name) + struct.pack(">i", -1) + b"\x00"
    r = c.call(32, 1, body)
    print("error %d" % struct.unpack(">h", r[8:10])[0])


def describe_producers(host, port, user, password, topic, partition):
    c = acl_conn(host, port, user, password)
    # topics [name, partition_indexes [P], tags], tags
    body = (uvarint(2) + cstr(topic.encode()) + uvarint(2) + struct.pack(">i", int(partition)) +
            b"\x00" + b"\x00")
    r = c.call(61, 0, body, flexible=True)
    nt, off = read_uvarint(r, 4)  # throttle
    if nt != 2:
        sys.exit("DescribeProducers: %d topics answered" % (nt - 1))
    _, off = read_cstr(r, off)
    np_, off = read_uvarint(r, off)
    if np_ != 2:
        sys.exit("DescribeProducers: %d partitions answered" % (np_ - 1))
    _, err = struct.unpack(">ih", r[off:off + 6])
    _, off = read_cstr(r, off + 6)  # error_message
    print("error %d" % err)
    n, off = read_uvarint(r, off)
    for _ in range(n - 1):
        pid, epoch, seq, ts, coord, txn = struct.unpack(">qiiqiq", r[off:off + 36])
        off += 36 + 1  # tags
        print("producer %d epoch %d last_sequence %d last_timestamp %d coordinator_epoch %d "
              "txn_start_offset %d" % (pid, epoch, seq, ts, coord, txn))


def principal_fields(text, flex):
    """'Type:name' as two strings (compact when flex)."""
    ptype, name = text.split(":", 1)
    if flex:
        return cstr(ptype.encode()) + cstr(name.encode())
    return kstr(ptype) + kstr(name)


def read_any_str(r, off, flex):
    return read_cstr(r, off) if flex else read_kstr(r, off)


def read_bytes(r, off, flex):
    if flex:
        n, off = read_uvarint(r, off)
        return r[off:off + n - 1], off + n - 1
    (n,) = struct.unpack(">i", r[off:off + 4])
    return r[off + 4:off + 4 + n], off + 4 + n


def array_len(n, flex):
    return uvarint(n + 1) if flex else struct.pack(">i", n)


def read_array_len(r, off, flex):
    if flex:
        n, off = read_uvarint(r, off)
        return n - 1, off
    return struct.unpack(">i", r[off:off + 4])[0], off + 4


def read_token(r, off, v):
    """The fields a Create answer and a Describe entry share, in their
    order: owner, requester (v3+), issue, expiry, max, id, hmac."""
    flex = v >= 2
    t = {"req": "-"}
    otype, off = read_any_str(r, off, flex)
    oname, off = read_any_str(r, off, flex)
    t["owner"] = "%s:%s" % (otype, oname)
    if v >= 3:
        rtype, off = read_any_str(r, off, flex)
        rname, off = read_any_str(r, off, flex)
        t["req"] = "%s:%s" % (rtype, rname)
    t["issue"], t["expiry"], t["max"] = struct.unpack(">qqq", r[off:off + 24])
    t["id"], off = read_any_str(r, off + 24, flex)
    t["hmac"], off = read_bytes(r, off, flex)
    return t, off


def token_create(host, port, user, password, version, renewers, max_life, owner=None):
    v = int(version)
    flex = v >= 2
    c = acl_conn(host, port, user, password)
    body = b""
    if v >= 3:
        if owner:
            body += principal_fields(owner, True)
        else:
            body += b"\x00\x00"  # null type and name
    rl = [] if renewers == "-" else renewers.split(",")
    body += array_len(len(rl), flex)
    for p in rl:
        body += principal_fields(p, flex) + (b"\x00" if flex else b"")
    body += struct.pack(">q", int(max_life)) + (b"\x00" if flex else b"")
    r = c.call(38, v, body, flexible=flex)
    (err,) = struct.unpack(">h", r[:2])
    t, _ = read_token(r, 2, v)
    print("error %d owner %s requester %s issue %d expiry %d max %d id %s hmac %s" %
          (err, t["owner"], t["req"], t["issue"], t["expiry"], t["max"], t["id"] or "-",
           base64.b64encode(t["hmac"]).decode() or "-"))


def token_renew_expire(api, host, port, user, password, version, hmac_b64, period):
    v = int(version)
    flex = v >= 2
    c = acl_conn(host, port, user, password)
    h = base64.b64decode(hmac_b64)
    hb = (uvarint(len(h) + 1) if flex else struct.pack(">i", len(h))) + h
    r = c.call(api, v, hb + struct.pack(">q", int(period)) + (b"\x00" if flex else b""),
               flexible=flex)
    err, expiry = struct.unpack(">hq", r[:10])
    print("error %d expiry %d" % (err, expiry))


def token_renew(*args):
    token_renew_expire(39, *args)


def token_expire(*args):
    token_renew_expire(40, *args)


def token_describe(host, port, user, password, version, owners):
    v = int(version)
    flex = v >= 2
    c = acl_conn(host, port, user, password)
    if owners == "-":
        body = b"\x00" if flex else struct.pack(">i", -1)
    else:
        ol = owners.split(",") if owners else []
        body = array_len(len(ol), flex)
        for p in ol:
            body += principal_fields(p, flex) + (b"\x00" if flex else b"")
    r = c.call(41, v, body + (b"\x00" if flex else b""), flexible=flex)
    (err,) = struct.unpack(">h", r[:2])
    print("error %d" % err)
    n, off = read_array_len(r, 2, flex)
    for _ in range(n):
        t, off = read_token(r, off, v)
        nr, off = read_array_len(r, off, flex)
        rens = []
        for _ in range(nr):
            rt, off = read_any_str(r, off, flex)
            nm, off = read_any_str(r, off, flex)
            off += 1 if flex else 0
            rens.append("%s:%s" % (rt, nm))
        off += 1 if flex else 0
        print("id %s owner %s requester %s renewers %s issue %d expiry %d max %d hmac %s" %
              (t["id"], t["owner"], t["req"], ",".join(rens) or "-", t["issue"], t["expiry"],
               t["max"], base64.b64encode(t["hmac"]).decode()))


if __name__ == "__main__":
    cmds = {"produce": (9, produce), "produce-ts": (8, produce_ts), "coordinator": (7, coordinator), "frame": (5, frame), "silent": (4, silent),
            "initpid": (6, initpid), "parked": (8, parked), "commit": (8, commit),
            "commit-epoch": (11, commit_epoch), "committed": (9, committed),
            "metadata": (7, metadata), "elect": (9, elect), "cancel": (8, cancel),
            "brokers": (6, brokers), "create": (9, create),
            "logdirs": (8, logdirs), "scram-describe": (7, scram_describe),
            "scram-alter": (10, scram_alter), "incalter": (9, incalter),
            "describe": (9, describe),
            "quota-alter": (8, quota_alter), "quota-describe": (7, quota_describe),
            "produce-throttle": (11, produce_throttle), "fetch-throttle": (10, fetch_throttle),
            "fetch-session-throttle": (9, fetch_session_throttle),
            "flood": (5, flood), "slot-wait": (5, slot_wait), "offsets-many": (6, offsets_many),
            "scram-first": (5, scram_first), "reauth-expired": (6, reauth_expired),
            "reauth": (8, reauth), "acl-create": (7, acl_create),
            "acl-describe": (7, acl_describe), "acl-delete": (7, acl_delete),
            "errcode": (9, errcode), "create5": (7, create5), "initpid-as": (6, initpid_as),
            "list-groups": (6, list_groups), "describe-group": (7, describe_group),
            "delete-records": (9, delete_records), "list-offsets": (8, list_offsets),
            "ofle": (9, ofle), "metadata-ops": (7, metadata_ops),
            "named-errors": (8, named_errors), "list-reassign": (8, list_reassign),
            "describe-configs": (8, describe_configs), "controller": (6, controller),
            "grow": (8, grow), "delete-id": (7, delete_id),
            "describe-producers": (8, describe_producers),
            "token-create": (9, token_create), "token-renew": (9, token_renew),
            "token-expire": (9, token_expire), "token-describe": (8, token_describe)}
    optional = {"parked": 1, "produce": 1, "incalter": 1, "quota-alter": 1, "quota-describe": 1,
                "acl-create": 10000, "acl-delete": 8, "create5": 1, "named-errors": 1, "delete-id": 1,
                "token-create": 1, "scram-alter": 1}  # trailing arguments that may be left out
    if (len(sys.argv) < 2 or sys.argv[1] not in cmds or
            not cmds[sys.argv[1]][0] <= len(sys.argv) <= cmds[sys.argv[1]][0] + optional.get(sys.argv[1], 0)):
        sys.exit("usage: see the top of kafka_raw.py")
    cmds[sys.argv[1]][1](*sys.argv[2:])
