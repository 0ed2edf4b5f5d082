#!/usr/bin/env python3
"""kafka_idempotent.py — Produce requests of an idempotent producer, built
byte by byte from Kafka's protocol (InitProducerId v0, Produce v3, record
batch v2 with its CRC-32C), for t_kafka_idempotent.sh: what a client's
retry looks like on the wire.

    kafka_idempotent.py HOST:PORT TOPIC [PRODUCER_ID]

Asks InitProducerId for a producer id (or goes on as PRODUCER_ID, epoch 0), sends batch A (sequence 0, two
records) and the very same bytes again, then batch B (sequence 2), then a
batch with sequence 9 (a gap). Prints one line per answer:

    pid <id> <epoch>
    A <error> <base offset>
    A-again <error> <base offset>
    B <error> <base offset>
    gap <error> <base offset>
"""
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


def varint(n):
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def batch(pid, epoch, seq, values):
    now = int(time.time() * 1000)
    recs = b""
    for i, v in enumerate(values):
        body = (b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v
                + varint(0))
        recs += varint(len(body)) + body
    after_crc = (struct.pack(">hiqqqhii", 0, len(values) - 1, now, now, pid,
                             epoch, seq, len(values)) + recs)
    crc = crc32c(after_crc)
    rest = struct.pack(">ibI", -1, 2, crc) + after_crc
    return struct.pack(">qi", 0, len(rest)) + rest


class Conn:
    def __init__(self, hostport):
        host, port = hostport.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=30)
        self.corr = 0

    def call(self, api, ver, body):
        self.corr += 1
        hdr = struct.pack(">hhih", api, ver, self.corr, 4) + b"test"
        msg = hdr + body
        self.s.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", self.recv(4))[0]
        resp = self.recv(size)
        if struct.unpack(">i", resp[:4])[0] != self.corr:
            raise RuntimeError("correlation id")
        return resp[4:]

    def recv(self, n):
        out = b""
        while len(out) < n:
            k = self.s.recv(n - len(out))
            if not k:
                raise RuntimeError("connection closed")
            out += k
        return out


def produce(c, topic, records):
    t = topic.encode()
    body = (struct.pack(">hhi", -1, -1, 10000) + struct.pack(">i", 1)
            + struct.pack(">h", len(t)) + t + struct.pack(">i", 1)
            + struct.pack(">i", 0) + struct.pack(">i", len(records)) + records)
    r = c.call(0, 3, body)
    # responses[1]: name, partitions[1]: index, error, base offset, ...
    pos = 4
    nlen = struct.unpack(">h", r[pos:pos + 2])[0]
    pos += 2 + nlen + 4 + 4
    err, base = struct.unpack(">hq", r[pos:pos + 10])
    return err, base


def main():
    hostport, topic = sys.argv[1], sys.argv[2]
    c = Conn(hostport)
    if len(sys.argv) > 3:
        pid, epoch = int(sys.argv[3]), 0
    else:
        r = c.call(22, 0, struct.pack(">hi", -1, 60000))
        _, err, pid, epoch = struct.unpack(">ihqh", r[:16])
    print("pid %d %d" % (pid, epoch))
    a = batch(pid, epoch, 0, [b"idem-1", b"idem-2"])
    print("A %d %d" % produce(c, topic, a))
    print("A-again %d %d" % produce(c, topic, a))
    print("B %d %d" % produce(c, topic, batch(pid, epoch, 2, [b"idem-3"])))
    print("gap %d %d" % produce(c, topic, batch(pid, epoch, 9, [b"idem-gap"])))


main()
