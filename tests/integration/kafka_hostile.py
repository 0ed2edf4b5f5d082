#!/usr/bin/env python3
# kafka_hostile.py — compressed record batches a hostile client sends on
# purpose: a CRC-32C that matches bytes which do not decompress, decompress
# to far more than a batch may hold, or decompress to records that lie.
# The framing is kafka_raw.py's; the codecs come from Python's zlib, the
# lz4 and zstd programs, and snappy written here (literals and copies,
# which is all a snappy block is).
#
#   python3 kafka_hostile.py [--sasl USER:PASSWORD] COMMAND ...
#       With --sasl, each connection authenticates first (SCRAM-SHA-256,
#       as kafka_raw.py does).
#   python3 kafka_hostile.py list
#       Prints the names of the attacks, one a line.
#   python3 kafka_hostile.py send HOST PORT TOPIC PARTITION NAME...
#       Sends each named attack as Produce v7 (acks -1) of one batch and
#       prints "NAME error E" with the partition's error code (0:
#       appended); the attacks travel over one connection, so a broker that
#       closes it or stops answering fails the run.
#   python3 kafka_hostile.py good HOST PORT TOPIC PARTITION CODEC TAG N [WANT]
#       Produce v7 (acks -1) of one valid CODEC batch of N keyed records
#       "TAG-i" (key "k-i"); prints "error E base B". Once appended, the
#       records as the line view shows them ("k-i:TAG-i", key.separator
#       ":") are added to the file WANT. CODEC is none, gzip,
#       snappy, lz4, zstd, or zstd-frames: the records in two zstd frames
#       back to back (also valid, unlike two gzip members or lz4 frames).
#   python3 kafka_hostile.py parallel HOST PORT TOPIC PARTITION NAME N
#       Sends attack NAME on N connections at once; prints "NAME error E"
#       for each answer, in the order they come.
# Exit 1 on anything unexpected, with the reason.
import os
import struct
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from kafka_raw import Conn, produce_v3, sasl_scram, uvarint, varint  # noqa: E402

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}

_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 if _c & 1 else 0)
    _TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    t = _TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def record(delta, key, value, headers=(), length=None, ts_delta=0):
    """One record; length: the length field to write instead of the true
    one (a lie)."""
    body = b"\x00" + varint(ts_delta) + varint(delta)
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(len(headers))
    for hk, hv in headers:
        body += varint(len(hk)) + hk + varint(len(hv)) + hv
    return varint(len(body) if length is None else length) + body


def records(n, tag):
    return b"".join(record(i, b"k-%d" % i, b"%s-%d" % (tag.encode(), i)) for i in range(n))


def batch_of(payload, codec, count, last_delta=None):
    """A batch v2 whose records are the payload as it is (compressed or
    not, true or not), with a CRC-32C that matches it."""
    now = int(time.time() * 1000)
    if last_delta is None:
        last_delta = count - 1
    tail = struct.pack(">hiqqqhii", codec, last_delta, now, now, -1, -1, -1, count) + payload
    body = struct.pack(">ibI", -1, 2, crc32c(tail)) + tail
    return struct.pack(">qi", 0, len(body)) + body


# ---- codecs ----

def gzip_c(data):
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def tool(argv, data):
    return subprocess.run(argv, input=data, stdout=subprocess.PIPE, check=True).stdout


def lz4_c(data, *opts):
    return tool(["lz4", "-c", "-q"] + list(opts), data)


def zstd_c(data, *opts):
    return tool(["zstd", "-c", "-q"] + list(opts), data)


def snappy_raw(data):
    """A raw snappy block of data as literals of at most 60 bytes."""
    out = bytearray(uvarint(len(data)))
    for i in range(0, len(data), 60):
        piece = data[i:i + 60]
        out.append((len(piece) - 1) << 2)
        out += piece
    return bytes(out)


XERIAL = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)


def snappy_xerial(data):
    blk = snappy_raw(data)
    return XERIAL + struct.pack(">i", len(blk)) + blk


def snappy_bomb_block(ulen):
    """ulen bytes of 'a' from one literal byte and copies of 64 (3 bytes
    of input each): the most snappy expands."""
    out = bytearray(uvarint(ulen))
    out += b"\x00a"
    left = ulen - 1
    while left >= 64:
        out += bytes([2 | 63 << 2, 1, 0])
        left -= 64
    while left > 0:
        out += bytes([2 | 0 << 2, 1, 0])
        left -= 1
    return bytes(out)


def gzip_bomb(size):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    out = b"".join(z.compress(chunk) for _ in range(size >> 20))
    return out + z.flush()


def zeros_through(argv, size):
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    out = []

    def reader():
        out.append(p.stdout.read())

    th = threading.Thread(target=reader)
    th.start()
    chunk = bytes(1 << 20)
    for _ in range(size >> 20):
        p.stdin.write(chunk)
    p.stdin.close()
    th.join()
    if p.wait() != 0:
        sys.exit("%s failed" % argv[0])
    return out[0]


# ---- attacks: name -> function returning one batch's bytes ----

GOOD = records(3, "x")
BIG = 1 << 30  # what a bomb expands to: far past the 64 MiB a batch may


def lz4_with_content_size(data, size):
    """An LZ4 frame with a content size field (FLG bit 3) saying size."""
    f = bytearray(lz4_c(data, "--no-frame-crc", "-B4"))
    # magic(4) FLG BD HC; set content size: FLG |= 0x08, insert 8 bytes
    flg = f[4] | 0x08
    hdr = bytes([flg, f[5]]) + struct.pack("<Q", size)
    hc = (xxh32(hdr) >> 8) & 0xFF
    return bytes(f[:4]) + hdr + bytes([hc]) + bytes(f[7:])


def xxh32(data, seed=0):
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF

    def rotl(x, r):
        return ((x << r) | (x >> (32 - r))) & m

    n = len(data)
    i = 0
    if n >= 16:
        v = [(seed + p1 + p2) & m, (seed + p2) & m, seed, (seed - p1) & m]
        while i + 16 <= n:
            for k in range(4):
                w = struct.unpack_from("<I", data, i + 4 * k)[0]
                v[k] = (rotl((v[k] + w * p2) & m, 13) * p1) & m
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & m
    else:
        h = (seed + p5) & m
    h = (h + n) & m
    while i + 4 <= n:
        h = (rotl((h + struct.unpack_from("<I", data, i)[0] * p3) & m, 17) * p4) & m
        i += 4
    while i < n:
        h = (rotl((h + data[i] * p5) & m, 11) * p1) & m
        i += 1
    h ^= h >> 15
    h = (h * p2) & m
    h ^= h >> 13
    h = (h * p3) & m
    h ^= h >> 16
    return h


def zstd_wrong_size(data, size):
    """A zstd frame whose Frame_Content_Size field says size (8 bytes)."""
    f = zstd_c(data, "--no-check")
    fhd = f[4]
    if fhd & 0xC0 != 0 or not fhd & 0x20:
        # single segment with a 1-byte size: rewrite as 8-byte size
        dict_flag = fhd & 0x03
        assert dict_flag == 0
        rest = f[6:]
        new_fhd = 0xC0 | 0x20 | (fhd & 0x04)
        return f[:4] + bytes([new_fhd]) + struct.pack("<Q", size) + rest
    sys.exit("unexpected zstd frame header")


def attacks():
    a = {}
    n = 3

    def add(name, payload, codec, count=n, last_delta=None):
        a[name] = (lambda p=payload, c=codec, k=count, d=last_delta:
                   batch_of(p() if callable(p) else p, c, k, d))

    # -- payloads that are not what the attributes say --
    add("gzip-truncated", lambda: gzip_c(GOOD)[:-9], 1)
    add("gzip-garbage", os.urandom(200), 1)
    add("gzip-trailing-garbage", lambda: gzip_c(GOOD) + b"junk!junk", 1)
    add("gzip-trailing-zeros", lambda: gzip_c(GOOD) + bytes(16), 1)
    add("gzip-bad-crc32", lambda: gzip_c(GOOD)[:-8] + b"\0\0\0\0" + gzip_c(GOOD)[-4:], 1)
    add("gzip-bad-isize", lambda: gzip_c(GOOD)[:-4] + b"\x01\0\0\0", 1)
    add("gzip-zlib-stream", lambda: zlib.compress(GOOD), 1)
    add("gzip-two-members", lambda: gzip_c(GOOD[:10]) + gzip_c(GOOD[10:]), 1)
    add("gzip-empty", b"", 1)
    add("lz4-truncated", lambda: lz4_c(GOOD)[:-6], 3)
    add("lz4-garbage", os.urandom(200), 3)
    add("lz4-bad-content-checksum",
        lambda: lz4_c(GOOD, "--content-size")[:-4] + b"\x00\x00\x00\x00", 3)
    add("lz4-content-size-too-small", lambda: lz4_with_content_size(GOOD, 5), 3)
    add("lz4-content-size-too-big", lambda: lz4_with_content_size(GOOD, len(GOOD) + 100), 3)
    add("lz4-content-size-huge", lambda: lz4_with_content_size(GOOD, 1 << 40), 3)
    add("lz4-two-frames", lambda: lz4_c(GOOD[:10]) + lz4_c(GOOD[10:]), 3)
    add("lz4-two-frames-trailing-garbage", lambda: lz4_c(GOOD) + b"\x04\x22\x4d", 3)
    add("lz4-block-checksum-bad",
        lambda: (lambda f: f[:-8] + bytes([f[-8] ^ 0xFF]) + f[-7:])(
            lz4_c(GOOD, "-BX", "--no-frame-crc")), 3)
    add("lz4-empty", b"", 3)
    add("zstd-truncated", lambda: zstd_c(GOOD)[:-5], 4)
    add("zstd-garbage", os.urandom(200), 4)
    add("zstd-bad-checksum", lambda: zstd_c(GOOD, "--check")[:-4] + b"\0\0\0\0", 4)
    add("zstd-content-size-too-small", lambda: zstd_wrong_size(GOOD, 4), 4)
    add("zstd-content-size-too-big", lambda: zstd_wrong_size(GOOD, len(GOOD) + 1000), 4)
    add("zstd-content-size-huge", lambda: zstd_wrong_size(GOOD, 1 << 50), 4)
    add("zstd-trailing-garbage", lambda: zstd_c(GOOD) + b"\x28\xb5\x2f", 4)
    add("zstd-skippable-huge", lambda: zstd_c(GOOD) + struct.pack("<II", 0x184D2A50, 0xFFFFFFF0), 4)
    add("zstd-empty", b"", 4)
    add("snappy-garbage", os.urandom(200), 2)
    add("snappy-xerial-chunk-huge", lambda: XERIAL + struct.pack(">I", 0x7FFFFFFF) + b"abc", 2)
    add("snappy-xerial-chunk-negative", lambda: XERIAL + struct.pack(">i", -5) + b"abcdefgh", 2)
    add("snappy-xerial-chunk-short",
        lambda: XERIAL + struct.pack(">i", 1000) + snappy_raw(GOOD), 2)
    add("snappy-xerial-trailing-garbage", lambda: snappy_xerial(GOOD) + b"\x00\x01", 2)
    add("snappy-xerial-header-only-cut", XERIAL[:12], 2)
    add("snappy-ulen-lies", lambda: uvarint(1 << 31) + snappy_raw(GOOD)[2:], 2)
    add("snappy-copy-before-start", lambda: uvarint(10) + bytes([2 | 9 << 2, 5, 0]), 2)
    add("snappy-empty", b"", 2)
    # -- a different codec than the attributes say --
    add("gzip-says-lz4", lambda: gzip_c(GOOD), 3)
    add("lz4-says-zstd", lambda: lz4_c(GOOD), 4)
    add("zstd-says-snappy", lambda: zstd_c(GOOD), 2)
    add("snappy-says-gzip", lambda: snappy_xerial(GOOD), 1)
    add("codec-5", lambda: GOOD, 5)
    add("codec-7", lambda: GOOD, 7)
    # -- bombs: a few KiB or MiB that expand to far past 64 MiB --
    add("gzip-bomb", lambda: gzip_bomb(256 << 20), 1)
    add("zstd-bomb", lambda: zeros_through(["zstd", "-c", "-q", "-19"], BIG), 4)
    add("zstd-bomb-long-window", lambda: zeros_through(["zstd", "-c", "-q", "--long=27"], 512 << 20), 4)
    add("lz4-bomb", lambda: zeros_through(["lz4", "-c", "-q", "-9"], 256 << 20), 3)
    add("snappy-bomb", lambda: XERIAL + b"".join(
        struct.pack(">i", len(b)) + b for b in [snappy_bomb_block(16 << 20)] * 5), 2)
    add("snappy-raw-bomb", lambda: snappy_bomb_block(80 << 20), 2)
    # -- payloads that decode but whose records lie --
    add("gzip-count-more", lambda: gzip_c(GOOD), 1, count=4, last_delta=3)
    add("gzip-count-less", lambda: gzip_c(GOOD), 1, count=2, last_delta=1)
    add("lz4-count-huge", lambda: lz4_c(GOOD), 3, count=0x7FFFFFFF, last_delta=0x7FFFFFFE)
    add("zstd-length-past-end",
        lambda: zstd_c(GOOD + record(3, b"k", b"v", length=1000)), 4, count=4)
    add("snappy-length-negative",
        lambda: snappy_xerial(GOOD + record(3, b"k", b"v", length=-3)), 2, count=4)
    add("gzip-key-length-past-end", lambda: gzip_c(
        GOOD + varint(8) + b"\x00\x00" + varint(3) + varint(100) + b"abc"), 1, count=4)
    add("lz4-value-length-negative", lambda: lz4_c(
        GOOD + varint(6) + b"\x00\x00" + varint(3) + varint(1) + b"k" + varint(-7)), 3, count=4)
    add("zstd-delta-out-of-order", lambda: zstd_c(
        record(0, b"a", b"0") + record(2, b"b", b"2") + record(1, b"c", b"1")), 4)
    add("snappy-delta-repeated", lambda: snappy_xerial(
        record(0, b"a", b"0") + record(0, b"b", b"2") + record(1, b"c", b"1")), 2)
    add("gzip-headers-count-huge", lambda: gzip_c(
        GOOD + record(3, b"k", b"v", headers=[(b"h", b"v")])[:-5] +
        varint(0x3FFFFFFF) + b"\x02h\x02v"), 1, count=4)
    add("lz4-headers-count-huge", lambda: lz4_c(
        GOOD + varint(9) + b"\x00\x00" + varint(3) + varint(1) + b"k" + varint(1) + b"v" +
        varint(0x7FFFFFFF)), 3, count=4)
    add("zstd-varint-endless", lambda: zstd_c(GOOD + b"\xff" * 20), 4, count=4)
    add("snappy-bytes-after-last", lambda: snappy_xerial(GOOD + b"\x00"), 2)
    add("gzip-delta-past-last", lambda: gzip_c(GOOD + record(9, b"k", b"v")), 1, count=4,
        last_delta=3)
    add("lz4-header-key-null", lambda: lz4_c(
        GOOD + varint(10) + b"\x00\x00" + varint(3) + varint(1) + b"k" + varint(1) + b"v" +
        varint(1) + varint(-1) + varint(0)), 3, count=4)
    return a


SASL = None  # (user, password) from --sasl USER:PASSWORD


def connect(host, port, timeout=60):
    c = Conn(host, int(port), timeout=timeout)
    if SASL:
        sasl_scram(c, *SASL)
    return c


def produce_v7(c, topic, partition, records):
    """Produce v7 (the first that may carry zstd), acks -1; the
    partition's (error_code, base_offset)."""
    return produce_v3(c, topic, int(partition), records, -1, 30000, version=7)


def send(host, port, topic, partition, names):
    table = attacks()
    for name in names:
        if name not in table:
            sys.exit("no attack %s" % name)
    # All built first: the broker meets them back to back.
    built = [table[name]() for name in names]
    c = connect(host, port)
    for name, b in zip(names, built):
        err, _ = produce_v7(c, topic, int(partition), b)
        print("%s error %d" % (name, err), flush=True)


def good(host, port, topic, partition, codec, tag, n, want=None):
    raw = records(int(n), tag)
    half = len(raw) // 2
    payload = {"none": lambda d: d, "gzip": gzip_c, "snappy": snappy_xerial,
               "lz4": lz4_c, "zstd": zstd_c,
               "zstd-frames": lambda d: zstd_c(d[:half]) + zstd_c(d[half:])}[codec](raw)
    c = connect(host, port)
    err, base = produce_v7(c, topic, int(partition),
                           batch_of(payload, CODECS[codec.split("-")[0]], int(n)))
    print("error %d base %d" % (err, base))
    if want and err == 0:
        with open(want, "a") as w:
            w.write("".join("k-%d:%s-%d\n" % (i, tag, i) for i in range(int(n))))


def parallel(host, port, topic, partition, name, n):
    b = attacks()[name]()
    conns = [connect(host, port, 120) for _ in range(int(n))]
    lock = threading.Lock()
    out = []

    def one(c):
        try:
            err, _ = produce_v7(c, topic, int(partition), b)
        except SystemExit as e:
            err = "closed (%s)" % e
        with lock:
            out.append(err)
            print("%s error %s" % (name, err), flush=True)

    ths = [threading.Thread(target=one, args=(c,)) for c in conns]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if len(out) != int(n):
        sys.exit("%d answers of %s" % (len(out), n))


def main():
    global SASL
    if len(sys.argv) >= 3 and sys.argv[1] == "--sasl":
        SASL = tuple(sys.argv[2].split(":", 1))
        del sys.argv[1:3]
    if len(sys.argv) >= 2 and sys.argv[1] == "list":
        print("\n".join(attacks()))
    elif len(sys.argv) >= 7 and sys.argv[1] == "send":
        send(*sys.argv[2:6], sys.argv[6:])
    elif len(sys.argv) in (9, 10) and sys.argv[1] == "good":
        good(*sys.argv[2:])
    elif len(sys.argv) == 8 and sys.argv[1] == "parallel":
        parallel(*sys.argv[2:])
    else:
        sys.exit(__doc__ or "usage: see the top of kafka_hostile.py")


if __name__ == "__main__":
    main()
