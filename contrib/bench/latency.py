"""contrib/bench/latency.py — one-record end-to-end latency client for the
benchmarks (python3, standard library only).

    python3 latency.py mqfs WRITE_PATH READ_PATH N
    python3 latency.py redis PORT KEY N
    python3 latency.py rdkafka RDK_PERF BROKER TOPIC READ_PATH N

A producer sends N records of 100 bytes one at a time, each carrying its
send time (CLOCK_MONOTONIC ns, 20 digits, then padding and '\\n'), and waits
for each send to complete before the next; a reader, parked before the
first record, timestamps each arrival. Every 1000 records the producer
pauses 1 ms. The reader runs in a child process of its own (fork), the
producer in this one: two threads of one Python process would take turns
at its interpreter lock, and a reader woken while the producer holds it
waits for the producer's next system call or for the lock's switch
interval (5 ms), a delay of the client, not of the target. Both targets
run under the same client, and CLOCK_MONOTONIC is the same clock in both
processes.

  mqfs   the producer write()s each record to WRITE_PATH (O_APPEND; write()
         returns once the record is committed); the reader read()s
         READ_PATH, a group's consume file, which parks until records come,
         1 MiB at a time into one buffer it keeps.
  redis  the producer sends XADD KEY * v RECORD (the record without its
         '\\n') on one connection and waits for the reply; the reader
         repeats XREAD COUNT 1000 BLOCK 0 STREAMS KEY LAST_ID on a second
         connection. The producer starts once the server counts the reader
         as blocked (INFO clients: blocked_clients), not after a delay.
         RESP2 over a raw socket to 127.0.0.1:PORT.
  rdkafka the producer is librdkafka: RDK_PERF (contrib/bench/rdk_perf.c)
         latency TOPIC N against BROKER, which stamps and sends the
         records the same way (acks=all, each delivered before the next);
         the reader is the mqfs one, on READ_PATH.

The reader names itself lat-reader and the mqfs producer lat-writer
(PR_SET_NAME), for a scheduler trace of the run (latency_trace.sh).

Prints one line:
    records N  p50 X us  p99 Y us  p99.9 Z us  max W us
Exit status 1 if fewer than N records arrived within 60 s of the last send.
"""
import ctypes
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

PAD = b"x" * 78


def record(ns):
    return b"%020d " % ns + PAD + b"\n"


def sent_at(rec):
    return int(rec[:20])


def set_name(name):
    """Names the calling process (PR_SET_NAME) so that a scheduler trace
    (latency_trace.sh) can tell the reader from the producer."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(15, ctypes.c_char_p(name))
    except (OSError, AttributeError):
        pass


# ---- Redis: RESP2 ----------------------------------------------------------

def resp_cmd(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def resp_read(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise EOFError("redis: connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest
    if kind == b"-":
        raise RuntimeError("redis: " + rest.decode(errors="replace"))
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        if len(data) != n + 2:
            raise EOFError("redis: connection closed in a reply")
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise RuntimeError("redis: unexpected reply %r" % line[:40])


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.settimeout(None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.sock.makefile("rb")

    def call(self, *args):
        self.sock.sendall(resp_cmd(*args))
        return resp_read(self.f)

    def close(self):
        self.f.close()
        self.sock.close()


# ---- the two targets -------------------------------------------------------

class Reader:
    """reader(lat, ready) in a forked child: it appends each arrival's
    latency (ns) to lat and calls ready() once it is about to park; the
    child sends lat back through a pipe when done (or when it fails)."""

    def __init__(self, reader):
        rd, wr = os.pipe()
        res_r, res_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            # Dies with the parent (PR_SET_PDEATHSIG): a benchmark stopped
            # by a signal leaves no reader behind.
            try:
                ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
            except (OSError, AttributeError):
                pass
            os.close(rd)
            os.close(res_r)
            set_name(b"lat-reader")
            lat, err = [], ""
            try:
                reader(lat, lambda: os.write(wr, b"r"))
            except Exception as e:    # reported by the parent
                err = "%s" % e
            with os.fdopen(res_w, "wb") as f:
                f.write(json.dumps({"lat": lat, "err": err}).encode())
            os._exit(0)
        os.close(wr)
        os.close(res_w)
        self.ready_fd, self.res_fd = rd, res_r

    def wait_ready(self, timeout):
        if not select.select([self.ready_fd], [], [], timeout)[0] or \
                not os.read(self.ready_fd, 1):
            self.kill()
            sys.exit("latency: the reader never got ready")

    def result(self, timeout):
        """The child's latencies; [] and the child killed if it has not
        finished within timeout seconds."""
        deadline = time.monotonic() + timeout
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.res_fd], [], [], left)[0]:
                self.kill()
                return []
            chunk = os.read(self.res_fd, 1 << 16)
            if not chunk:
                break
            data += chunk
        os.waitpid(self.pid, 0)
        res = json.loads(data) if data else {"lat": [], "err": "no result"}
        if res["err"]:
            sys.exit("latency: reader: %s" % res["err"])
        return res["lat"]

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)


def run_mqfs(write_path, read_path, n, lat, produce=None):
    def reader(lat, ready):
        fd = os.open(read_path, os.O_RDONLY)
        # One buffer for every read, as a C reader or Redis's buffered
        # socket keeps one: os.read would allocate a fresh 1 MiB object
        # per call (mmap, then a page fault per page the kernel pins for
        # the direct-I/O read), about a millisecond of the client's own
        # per read on a loaded machine.
        rbuf = memoryview(bytearray(1 << 20))
        ready()
        buf = b""
        while len(lat) < n:
            got = os.readv(fd, [rbuf])
            now = time.monotonic_ns()
            if not got:
                break
            buf += rbuf[:got]
            *lines, buf = buf.split(b"\n")
            for rec in lines:
                lat.append(now - sent_at(rec))
        os.close(fd)

    r = Reader(reader)
    r.wait_ready(60)
    set_name(b"lat-writer")
    # The consume file gives no sign that its reader is parked; the open
    # returned, and the first read parks well within this.
    time.sleep(0.2)
    if produce:
        produce()
    else:
        fd = os.open(write_path, os.O_WRONLY | os.O_APPEND)
        for i in range(n):
            os.write(fd, record(time.monotonic_ns()))
            if i % 1000 == 999:
                time.sleep(0.001)
        os.close(fd)
    lat.extend(r.result(60))


def run_redis(port, key, n, lat):
    def reader(lat, ready):
        c = Conn(port)
        ready()
        last = b"0-0"
        while len(lat) < n:
            reply = c.call("XREAD", "COUNT", "1000", "BLOCK", "0",
                           "STREAMS", key, last)
            now = time.monotonic_ns()
            for entry_id, fields in reply[0][1]:
                lat.append(now - sent_at(fields[1]))
                last = entry_id
        c.close()

    r = Reader(reader)
    r.wait_ready(60)
    prod = Conn(port)
    deadline = time.monotonic() + 60
    while b"blocked_clients:1" not in prod.call("INFO", "clients"):
        if time.monotonic() > deadline:
            r.kill()
            sys.exit("latency: the XREAD reader never blocked")
        time.sleep(0.01)
    for i in range(n):
        prod.call("XADD", key, "*", "v", record(time.monotonic_ns())[:-1])
        if i % 1000 == 999:
            time.sleep(0.001)
    prod.close()
    lat.extend(r.result(60))


def main():
    a = sys.argv[1:]
    lat = []
    if len(a) == 4 and a[0] == "mqfs":
        n = int(a[3])
        run_mqfs(a[1], a[2], n, lat)
    elif len(a) == 4 and a[0] == "redis":
        n = int(a[3])
        run_redis(int(a[1]), a[2], n, lat)
    elif len(a) == 6 and a[0] == "rdkafka":
        n = int(a[5])

        def produce():
            subprocess.run([a[1], "-b", a[2], "latency", a[3], str(n)], check=True)
        run_mqfs(None, a[4], n, lat, produce)
    else:
        sys.exit(__doc__)
    if len(lat) < n:
        sys.exit("latency: %d of %d records arrived" % (len(lat), n))
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p / 100.0))] / 1000.0

    print("records %d  p50 %.0f us  p99 %.0f us  p99.9 %.0f us  max %.0f us" %
          (len(lat), pct(50), pct(99), pct(99.9), lat[-1] / 1000.0))


if __name__ == "__main__":
    main()
