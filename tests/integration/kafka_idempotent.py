#!/usr/bin/env python3
"""kafka_idempotent.py — Produce requests of an idempotent producer, built
byte by byte from Kafka's protocol (InitProducerId v0, Produce v3, record
batch v2 with its CRC-32C; the framing is kafka_raw.py's), for
t_kafka_idempotent.sh: what a client's retry looks like on the wire.

    kafka_idempotent.py HOST:PORT TOPIC [PRODUCER_ID]
    kafka_idempotent.py HOST:PORT TOPIC mix PID:NEXT_SEQ PID_NEW
    kafka_idempotent.py HOST:PORT TOPIC fence PID EPOCH

With KAFKA_SASL_USER and KAFKA_SASL_PASSWORD in the environment it first
logs in with SASL SCRAM-SHA-256 (a cluster's listener).

Asks InitProducerId for a producer id (or goes on as PRODUCER_ID, epoch 0), sends batch A (sequence 0, two
records) and the very same bytes again, then batch B (sequence 2), then a
batch with sequence 9 (a gap), then one with sequence -1. Prints one
line per answer:

    pid <id> <epoch>
    A <error> <base offset>
    A-again <error> <base offset>
    B <error> <base offset>
    gap <error> <base offset>
    negseq <error> <base offset>

With mix: one request for the partition holding two producers' batches
(a new producer's sequence 0, then producer PID's next sequence,
NEXT_SEQ), the same request again, and one whose first batch
was sent before and whose second is new:

    mix <error> <base offset>
    mix-again <error> <base offset>
    part <error> <base offset>

With fence, producer PID's epoch rules (Kafka's ProducerAppendInfo): a
batch of epoch EPOCH+1 at sequence 1 (a new epoch must start at 0), the
same at sequence 0, then one of EPOCH again (older than the log's):

    bump-seq1 <error> <base offset>
    bump <error> <base offset>
    old-epoch <error> <base offset>
"""
import os
import struct
import sys

from kafka_raw import Conn, batch, produce_v3, sasl_scram


def produce(c, topic, records):
    return produce_v3(c, topic, 0, records, -1)


def main():
    hostport, topic = sys.argv[1], sys.argv[2]
    host, port = hostport.rsplit(":", 1)
    c = Conn(host, int(port), timeout=30)
    if os.environ.get("KAFKA_SASL_USER"):
        sasl_scram(c, os.environ["KAFKA_SASL_USER"], os.environ["KAFKA_SASL_PASSWORD"])
    if len(sys.argv) > 3 and sys.argv[3] == "mix":
        old_pid, seq = (int(x) for x in sys.argv[4].split(":"))
        new_pid = int(sys.argv[5])
        two = batch([b"mix-new"], new_pid, 0, 0) + batch([b"mix-old"], old_pid, 0, seq)
        print("mix %d %d" % produce(c, topic, two))
        print("mix-again %d %d" % produce(c, topic, two))
        part = batch([b"mix-new"], new_pid, 0, 0) + batch([b"part"], old_pid, 0, seq + 1)
        print("part %d %d" % produce(c, topic, part))
        return
    if len(sys.argv) > 3 and sys.argv[3] == "fence":
        pid, epoch = int(sys.argv[4]), int(sys.argv[5])
        print("bump-seq1 %d %d" % produce(c, topic, batch([b"bump-1"], pid, epoch + 1, 1)))
        print("bump %d %d" % produce(c, topic, batch([b"bump-0"], pid, epoch + 1, 0)))
        print("old-epoch %d %d" % produce(c, topic, batch([b"old"], pid, epoch, 3)))
        return
    if len(sys.argv) > 3:
        pid, epoch = int(sys.argv[3]), 0
    else:
        r = c.call(22, 0, struct.pack(">hi", -1, 60000))
        _, err, pid, epoch = struct.unpack(">ihqh", r[:16])
    print("pid %d %d" % (pid, epoch))
    a = batch([b"idem-1", b"idem-2"], pid, epoch, 0)
    print("A %d %d" % produce(c, topic, a))
    print("A-again %d %d" % produce(c, topic, a))
    print("B %d %d" % produce(c, topic, batch([b"idem-3"], pid, epoch, 2)))
    print("gap %d %d" % produce(c, topic, batch([b"idem-gap"], pid, epoch, 9)))
    # The producer id with a negative first sequence: a batch no producer
    # writes (Kafka's LogValidator: INVALID_RECORD).
    print("negseq %d %d" % produce(c, topic, batch([b"idem-neg"], pid, epoch, -1)))


main()
