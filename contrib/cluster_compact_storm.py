#!/usr/bin/env python3
"""cluster_compact_storm.py — a compacted topic of a three-broker cluster
under faults, checked as Kafka promises compaction.

    python3 contrib/cluster_compact_storm.py [SEED [ROUNDS [POLICY]]]
    (MQFS: the binary, build/mqfs by default; DRMS: delete.retention.ms,
    25000; LAG: min.compaction.lag.ms, 0; POLICY compact or compact,delete)

Set-up: cluster_killstorm.py's (ZooKeeper, three SASL brokers, replication
factor 3, min.insync.replicas=2, acks=all) with log.segment.bytes=1024 and
log.cleaner.backoff.ms=200, one partition of "storm" compacted
(min.cleanable.dirty.ratio=0.01): the cleaner runs all the time, on the
leader and the followers each on its own.

Writers (4) write through their own broker's mount, one record a write:
writer w's record seq s has key w<w>g<s // 60>k<s % 6>, value s; the last 6
seqs of each generation of 60 are tombstones of its 6 keys, never written
again. A failed write's seq is in doubt.

Each round: writers and a tail -f on every mount run 1-3 s; then one
fault: kill -9 or SIGTERM of the leader (restarted after 2-6 s), SIGSTOP
of a follower for 5-10 s, or kill -9 of a follower for 6-12 s (kept
below delete.retention.ms: a replica away longer may keep values whose
tombstone its leader removed meanwhile, as in Kafka); every replica back
in the ISR; writers stopped. Checks:
  - every mount's file, and kcat from offset 0 at the leader: lines
    parse, each writer's seqs increase, none unknown; each key's last
    record is at least its newest acknowledged value, or, its tombstone
    acknowledged, a tombstone or nothing (no deleted key back);
  - the replicas' .log files: offsets never go back; a record at an
    offset two replicas both hold is the same; each key's last record
    the same on all (absent only against a tombstone);
  - one st_size on every mount; a pread at a record's line position (its
    replica's .lines) gives its line; the tail -f outputs are in order.
The exit status is 0 when every round passed; a failed run keeps its
directory. Only processes started here are stopped."""
import os, sys, time, random, struct, signal, threading, subprocess, tempfile, shutil, errno
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster_killstorm as cks
from cluster_killstorm import (ZooKeeper, Broker, Cluster, start_cluster, stop_all,
                               AnyMountWriter, close_quiet, read_text)
from killstorm import wait_for

TOPIC = cks.TOPIC
G, K = 60, 6   # generation length, keys per generation (last K seqs: tombstones)
DRMS = int(os.environ.get("DRMS", "25000"))


def key_of(w, s):
    return b"w%dg%dk%d" % (w, s // G, s % K)


def rec_of(w, s):
    if s % G >= G - K:
        return key_of(w, s) + b":\n"        # tombstone
    return key_of(w, s) + b":%d\n" % s


def seq_of_line(line):
    """(w, seq, key, is_tomb) or None"""
    try:
        k, v = line.split(b":", 1)
        w = int(k[1:k.index(b"g")])
        g = int(k[k.index(b"g") + 1:k.index(b"k")])
        j = int(k[k.index(b"k") + 1:])
        if v == b"":
            return w, g * G + G - K + j, k, True
        s = int(v)
        if key_of(w, s) != k:
            return None
        return w, s, k, False
    except Exception:
        return None


class KWriter(AnyMountWriter):
    def _write(self):
        fd, at = None, None
        while not self.stop.is_set():
            bid = self.target()
            if bid is None:
                time.sleep(0.05)
                continue
            if fd is None or at != bid:
                if fd is not None:
                    close_quiet(fd)
                    fd = None
                path = os.path.join(self.storm.cluster.brokers[bid].mnt, TOPIC, "0")
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                    at = bid
                except OSError:
                    time.sleep(0.05)
                    continue
            seq = self.next_seq
            self.next_seq += 1
            rec = rec_of(self.wid, seq)
            try:
                n = os.write(fd, rec)
            except OSError as e:
                self.doubt.add(seq)
                self.storm.note_error(e.errno)
                close_quiet(fd)
                fd = None
                time.sleep(0.05)
                continue
            if n != len(rec):
                self.doubt.add(seq)
                continue
            time.sleep(self.storm.pace)
        if fd is not None:
            close_quiet(fd)


class St:
    def __init__(self):
        self.lock = threading.Lock()
        self.errors = {}
        self.cluster = None
        self.pace = 0.0

    def note_error(self, e):
        with self.lock:
            n = errno.errorcode.get(e, str(e))
            self.errors[n] = self.errors.get(n, 0) + 1


def check_lines(data, writers, label):
    """Checks a full read of the partition file. Returns list of problems."""
    probs = []
    byid = {w.wid: w for w in writers}
    last_seq = {}
    last_of_key = {}
    end = data.rfind(b"\n") + 1
    for line in data[:end].split(b"\n")[:-1]:
        p = seq_of_line(line)
        if p is None or p[0] not in byid:
            probs.append("%s garbled %r" % (label, line[:60]))
            continue
        w, s, k, tomb = p
        if s <= last_seq.get(w, 0):
            probs.append("%s out of order w%d %d after %d" % (label, w, s, last_seq[w]))
        last_seq[w] = s
        if s >= byid[w].next_seq:
            probs.append("%s unknown w%d-%d" % (label, w, s))
        last_of_key[k] = (s, tomb)
    # per key expectations
    for w in writers:
        acked_max = {}
        tomb_acked = set()
        tomb_doubt = set()
        for s in range(1, w.next_seq):
            k = key_of(w.wid, s)
            if s in w.doubt:
                if s % G >= G - K:
                    tomb_doubt.add(k)
                continue
            if s % G >= G - K:
                tomb_acked.add(k)
            else:
                acked_max[k] = s
        for k, s in acked_max.items():
            got = last_of_key.get(k)
            if k in tomb_acked:
                if got is not None and not got[1]:
                    probs.append("%s resurrected %s (tombstone acked, last %r)" % (label, k, got))
                continue
            if got is None:
                if k not in tomb_doubt:
                    probs.append("%s lost key %s (acked %d)" % (label, k, s))
            elif got[0] < s:
                probs.append("%s stale key %s: last %r, acked %d" % (label, k, got, s))
    return probs


def varint(b, i):
    shift = r = 0
    while True:
        c = b[i]; i += 1
        r |= (c & 0x7f) << shift
        shift += 7
        if not c & 0x80:
            break
    return (r >> 1) ^ -(r & 1), i


def parse_log_dir(d):
    """{offset: (key, value)} of every record in the dir's .log files, and
    batches list of (base, last, epoch)."""
    recs, batches = {}, []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".log"):
            continue
        b = open(os.path.join(d, name), "rb").read()
        lp = {}
        try:
            lb = open(os.path.join(d, name[:-4] + ".lines"), "rb").read()
            for e in range(16, len(lb) - 15, 16):
                ro, po, lpos = struct.unpack(">IIq", lb[e:e + 16])
                lp[po] = lpos
        except OSError:
            pass
        i = 0
        while i + 61 <= len(b):
            base, blen = struct.unpack(">qi", b[i:i + 12])
            if blen <= 0:
                break
            epoch = struct.unpack(">i", b[i + 12:i + 16])[0]
            attrs = struct.unpack(">h", b[i + 21:i + 23])[0]
            lod = struct.unpack(">i", b[i + 23:i + 27])[0]
            cnt = struct.unpack(">i", b[i + 57:i + 61])[0]
            batches.append((base, base + lod, epoch, name))
            if attrs & 7:
                i += 12 + blen
                continue
            j = i + 61
            linepos = lp.get(i, -1)
            for _ in range(cnt):
                ln, j = varint(b, j)
                jend = j + ln
                j += 1
                _, j = varint(b, j)
                od, j = varint(b, j)
                kl, j = varint(b, j)
                key = b[j:j + kl] if kl >= 0 else None
                j += max(kl, 0)
                vl, j = varint(b, j)
                val = b[j:j + vl] if vl >= 0 else None
                recs[base + od] = (key, val, linepos)
                linepos += len(key) + 2 + (len(val) if val else 0)
                j = jend
            i += 12 + blen
    return recs, batches


def state_row(b):
    t = read_text(os.path.join(b.mnt, TOPIC, ".state"))
    for line in t.splitlines():
        f = line.split()
        if f and f[0] == "0":
            return f
    return None


def replica_check(cluster, out):
    probs = []
    views = {}
    for bid, b in cluster.brokers.items():
        d = os.path.join(b.data, "%s-0" % TOPIC)
        views[bid] = parse_log_dir(d)
    ids = sorted(views)
    # batches overlap/order
    for bid in ids:
        prev = -1
        for base, last, ep, name in views[bid][1]:
            if base <= prev:
                probs.append("b%d offsets go back: batch %d-%d after %d (%s)" % (bid, base, last, prev, name))
            prev = last
    for a in ids:
        for c in ids:
            if a >= c:
                continue
            ra, rc = views[a][0], views[c][0]
            common = set(ra) & set(rc)
            diff = [o for o in common if ra[o] != rc[o]]
            if diff:
                o = min(diff)
                probs.append("b%d/b%d differ at %d offsets, first %d: %r vs %r" % (a, c, len(diff), o, ra[o], rc[o]))
            # last value per key
            la, lc = {}, {}
            for o in sorted(ra): la[ra[o][0]] = (o, ra[o][1])
            for o in sorted(rc): lc[rc[o][0]] = (o, rc[o][1])
            # only within both HWs'/log ends: the tail may be not yet fetched

            for k in set(la) | set(lc):
                x, y = la.get(k), lc.get(k)
                if x != y:
                    # a key absent on one replica is fine only when its last is a tombstone on the other
                    if x is None and y[1] is None or y is None and x[1] is None:
                        continue
                    probs.append("b%d/b%d key %r last %r vs %r" % (a, c, k, x, y))
                    break
    return probs, {bid: (len(v[0]), max(v[0]) if v[0] else -1) for bid, v in views.items()}


def positions_check(cluster):
    """Every mount can read its partition file, and all give one st_size
    (the log end's line position)."""
    probs, sizes = [], {}
    for bid, b in cluster.brokers.items():
        path = os.path.join(b.mnt, TOPIC, "0")
        try:
            with open(path, "rb") as f:
                f.read()
            sizes[bid] = os.stat(path).st_size
        except OSError as e:
            probs.append("b%d read %s" % (bid, e))
    if len(set(sizes.values())) > 1:
        probs.append("st_size differs %r" % sizes)
    return probs, None


def pread_check(cluster, leader):
    """On each mount, a pread at the line position of a record of its own
    replica (from the .log and .lines files) gives that record's line,
    unless the cleaner removed it meanwhile."""
    probs = []
    for bid, b in cluster.brokers.items():
        recs, _ = parse_log_dir(os.path.join(b.data, "%s-0" % TOPIC))
        fd = os.open(os.path.join(b.mnt, TOPIC, "0"), os.O_RDONLY)
        offs = sorted(recs)
        rnd = random.Random(bid)
        for o in rnd.sample(offs, min(300, len(offs))):
            k, v, lpos = recs[o]
            want = k + b":" + (v or b"") + b"\n"
            got = os.pread(fd, len(want), lpos)
            if got != want:
                again, _ = parse_log_dir(os.path.join(b.data, "%s-0" % TOPIC))
                if again.get(o) != recs[o]:
                    continue    # cleaned meanwhile
                probs.append("mnt%d pread at %d (offset %d) %r want %r" % (bid, lpos, o, got, want))
                break
        os.close(fd)
    return probs


def kcat_check(cluster, L, writers):
    b = cluster.brokers[L]
    port = None
    for line in open(b.conf):
        if line.startswith("listeners="):
            port = line.strip().rsplit(":", 1)[1]
    r = subprocess.run(["kcat", "-C", "-b", "127.0.0.1:" + port, "-t", TOPIC, "-p", "0", "-o", "beginning", "-e",
                        "-q", "-f", "%o %k:%s\n", "-X", "security.protocol=SASL_PLAINTEXT",
                        "-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=admin",
                        "-X", "sasl.password=admin-secret"], capture_output=True, timeout=120)
    if r.returncode != 0:
        return ["kcat rc %d %s" % (r.returncode, r.stderr[-300:])]
    lines, prev, probs = [], -1, []
    for ln in r.stdout.split(b"\n"):
        if not ln:
            continue
        o, rest = ln.split(b" ", 1)
        o = int(o)
        if o <= prev:
            probs.append("kcat offsets go back %d after %d" % (o, prev))
        prev = o
        lines.append(rest)
    probs += check_lines(b"\n".join(lines) + b"\n", writers, "kcat@b%d" % L)
    return probs[:5]


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else int(time.time())
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    policy = sys.argv[3] if len(sys.argv) > 3 else "compact"
    rnd = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="ccstorm.")
    out = sys.stdout
    print("seed", seed, "tmp", tmp, flush=True)
    mqfs = os.environ.get("MQFS", os.path.join(cks.ROOT, "build", "mqfs"))
    zk = ZooKeeper(os.path.join(tmp, "zk"))
    brokers, writers = [], []
    st = St()
    extra = ("replica.lag.time.max.ms=3000\nlog.segment.bytes=1024\n"
             "log.cleaner.backoff.ms=200\nrequest.timeout.ms=10000\n")
    failed = False
    try:
        cluster = start_cluster(mqfs, zk, brokers, Cluster, 1,
                                lambda i, zc: Broker(i, mqfs, tmp, zc, 4000, 1, extra=extra))
        st.cluster = cluster
        with open(os.path.join(brokers[0].mnt, TOPIC, ".config"), "w") as f:
            f.write("key.separator=:\ncleanup.policy=%s\nmin.cleanable.dirty.ratio=0.01\n"
                    "delete.retention.ms=%d\nmin.compaction.lag.ms=%s\n" % (policy, DRMS, os.environ.get("LAG", "0")))
        if policy == "compact,delete":
            with open(os.path.join(brokers[0].mnt, TOPIC, ".config"), "w") as f:
                f.write("retention.ms=-1\nretention.bytes=-1\n")
        time.sleep(1)
        writers = [KWriter(i, 0, st) for i in range(4)]
        for k in range(1, rounds + 1):
            for w in writers:
                w.start()
            tails = {}
            for bid, b in cluster.brokers.items():
                outp = os.path.join(tmp, "tail%d.r%d" % (bid, k))
                tails[bid] = (subprocess.Popen(["tail", "-s", "0.2", "-n", "+1", "-f",
                                                os.path.join(b.mnt, TOPIC, "0")],
                                               stdout=open(outp, "wb"), stderr=subprocess.DEVNULL), outp)
            time.sleep(rnd.uniform(1, 3))
            L = cluster.leader(0)
            fault = rnd.choice(["kill", "term", "freeze", "followerdown", "kill"])
            others = [b for b in cluster.brokers if b != L]
            t0 = time.monotonic()
            if fault in ("kill", "term"):
                v = cluster.brokers[L]
                if fault == "kill":
                    v.kill9()
                else:
                    v.term()
                time.sleep(rnd.uniform(2, 6))
                v.start()
                victim = L
            elif fault == "freeze":
                victim = rnd.choice(others)
                v = cluster.brokers[victim]
                os.kill(v.proc.pid, signal.SIGSTOP)
                time.sleep(rnd.uniform(5, 10))
                os.kill(v.proc.pid, signal.SIGCONT)
            else:
                victim = rnd.choice(others)
                v = cluster.brokers[victim]
                v.kill9()
                time.sleep(rnd.uniform(6, 12))
                v.start()
            survivor = min(b for b in cluster.brokers if b != victim)
            wait_for(lambda: all(cluster.in_all_isrs(b, survivor) for b in cluster.brokers)
                     and cluster.leader(0) is not None, 90,
                     "round %d: all back in ISR" % k)
            for w in writers:
                w.halt()
            # let followers catch up and cleaners run
            time.sleep(1.5)
            tail_probs = []
            for bid, (tp, outp) in tails.items():
                alive = tp.poll() is None
                tp.terminate(); tp.wait()
                data = open(outp, "rb").read()
                if bid == victim and fault in ("kill", "term", "followerdown"):
                    continue  # its mount went away under it
                tail_probs += [p for p in check_lines(data, writers, "tail%d" % bid)
                               if "garbled" in p or "order" in p or "unknown" in p]
                print("   tail on mnt%d: %d bytes, alive %s" % (bid, len(data), alive), flush=True)
            L = cluster.leader(0)
            probs = []
            for bid, b in cluster.brokers.items():
                try:
                    data = open(os.path.join(b.mnt, TOPIC, "0"), "rb").read()
                except OSError as e:
                    probs.append("b%d %s" % (bid, e)); continue
                probs += check_lines(data, writers, "mnt%d" % bid)
            # poll replica agreement
            end = time.monotonic() + 20
            while True:
                rp, summ = replica_check(cluster, out)
                pp, _ = positions_check(cluster)
                if not rp and not pp or time.monotonic() > end:
                    break
                time.sleep(0.5)
            probs += rp + pp + tail_probs
            probs += pread_check(cluster, L)
            probs += kcat_check(cluster, L, writers)
            rows = [state_row(b) for b in cluster.brokers.values()]
            acked = sum(w.next_seq - 1 - len(w.doubt) for w in writers)
            print("round %d %s b%d: leader now %d acked %d recs/last %r problems %d" %
                  (k, fault, victim, L, acked, summ, len(probs)), flush=True)
            for r in rows:
                print("   ", " ".join(r or []), flush=True)
            for p in probs[:15]:
                print("  PROBLEM", p, flush=True)
            if probs:
                failed = True
                break
    finally:
        stop_all(writers, brokers, zk)
        print("errors", st.errors)
    if failed:
        print("kept", tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
