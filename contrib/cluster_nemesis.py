#!/usr/bin/env python3
"""cluster_nemesis.py — mixed, overlapping faults on a three-broker cluster
under three kinds of clients at once, and after every round a check that
nothing acknowledged was lost, doubled or reordered, that the replicas
agree and that offsets never went back.

    python3 contrib/cluster_nemesis.py [--mqfs build/mqfs] [--rounds 5]
                                       [--run 20] [--writers 6]
                                       [--session-ms 4000] [--seed N]
                                       [--keep]

Set-up: cluster_killstorm.py's (ZooKeeper, SCRAM user admin, three SASL
brokers, replication factor 3, min.insync.replicas=2, acks=all), with
replica.lag.time.max.ms=3000, replica.socket.timeout.ms=2000 and each
broker advertising the port of a netfault_proxy.py route in front of its
listener: the other brokers' replica fetchers, the controller's requests
and the mounts' forwarded writes reach it through the proxy. Topics
"storm" (2 partitions, the mount writers and the group) and "idem" (the
idempotent producer's partition 0).

Clients, all at once, during each round:
  - mount writers (cluster_killstorm.py's AnyMountWriter: "w<w>-<seq>"
    records, one per write(), writer w through broker 1 + w % 3's mount,
    another live one while that one is down; a failed write's seq is in
    doubt, never sent again);
  - an idempotent producer (raw protocol, kafka_raw.py: InitProducerId,
    Produce v3 acks=-1 of one-record batches "i-<pid>-<seq>"), straight to
    the leader's own listener; a batch that failed or was not answered is
    sent again, the very same bytes, until it is acknowledged (what a
    Kafka client does); OUT_OF_ORDER_SEQUENCE or UNKNOWN_PRODUCER_ID is
    noted and a new producer id taken (the old one's last batch in doubt);
  - a consumer of the group "nem": reads of storm/.groups/nem/consume
    (O_NONBLOCK) on a live broker's mount, each read committing what it
    returned; moved to another mount when its broker goes.
A monitor polls, every 0.2 s, the group's committed offsets (OffsetFetch
at the coordinator FindCoordinator names: a mount's offset file shows that
broker's last known offset while the coordinator does not answer), then
each reachable mount's storm/.state (hw and log end per partition) and
the size of each partition file (st_size: what a reader of the mount
sees, promised never to decrease).

Faults, overlapping, started every 1 to 5 s while the clients run, each
for 2 to 10 s: kill -9 of any broker (restarted after), SIGSTOP of a
broker for longer than zookeeper.session.timeout.ms (then SIGCONT), a
ZooKeeper restart, a reassignment of a storm partition to another order
of the same three brokers (kafkajs admin) followed by a preferred-leader
election (ElectLeaders), a preferred election alone, and a black hole
both ways of one broker's proxy route. At most two brokers are down or
stopped at once.

After each round the faults end (every broker running, ZooKeeper up, the
proxy forwarding), the cluster is polled until every replica of both
topics is in the ISR, the clients stop, and then:
  - storm: killstorm.py's Checker through each leader's mount (every
    acknowledged record once, in order; nothing garbled or unknown);
  - idem: every acknowledged batch's record present, none twice (not
    even one in doubt), each producer's seqs increasing;
  - replicas of both topics byte-identical (cluster_killstorm.py's
    check_replicas: the .log files and indexes);
  - committed offsets never went back and were never above the log end
    (the leader's, as .state showed it just after, and at the end), and
    reach each partition's hw within 90 s once the writers stopped (a
    commit refused while the coordinator moved must be sent again:
    README, "The coordinator dies or moves");
  - st_size of a partition file on a mount never decreased while that
    broker ran; .state's hw of a partition as one broker shows it never
    went back while it led the partition.
The exit status is 0 only when every check of every round passed.
Only processes started here are stopped, by pid; mounts and directories
are removed at the end (unless --keep, or a failure: its logs stay).
"""
import argparse
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "integration"))
from cluster_killstorm import (TOPIC, AnyMountWriter, Broker,  # noqa: E402
                               Cluster, LeaderChecker, Worker, ZooKeeper,
                               check_replicas, free_port, read_text,
                               start_cluster, stop_all, storm_main)
from killstorm import is_mounted, wait_for  # noqa: E402
import kafka_raw  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IDEM = "idem"
GROUP = "nem"
PARTITIONS = 2
IDEM_LINE = re.compile(rb"^i-(\d+)-(\d+)$")
# Errors after which the same batch is sent again (Kafka's retriable ones).
RETRIABLE = {-1, 3, 5, 6, 7, 8, 13, 14, 15, 19, 20, 56, 74, 75}


class NemBroker(Broker):
    """A broker that may be SIGSTOPped: a stopped one is not alive for the
    clients (their next look-up goes elsewhere, not into its frozen
    mount)."""
    stopped = False
    starts = 0
    refused = 0     # starts that failed at once (all brokers)

    def alive(self):
        return super().alive() and not self.stopped

    def start(self):
        """Daemon.start, again while the process exits at once (counted
        in `refused`, printed at the end: a start that gives up, such as
        one that met a ZooKeeper restart before t_cluster_zk_reset_start.sh's
        fix, should not happen), so that the run goes on. A process that
        runs and never mounts is a hang."""
        self.starts += 1
        for _ in range(10):
            logf = open(self.log, "ab")
            self.proc = subprocess.Popen(self.argv(), stdout=logf,
                                         stderr=logf, stdin=subprocess.DEVNULL)
            logf.close()
            end = time.monotonic() + self.mount_wait
            while time.monotonic() < end and self.proc.poll() is None:
                if is_mounted(self.mnt) and os.path.exists(
                        os.path.join(self.mnt, ".state")):
                    return
                time.sleep(0.05)
            if self.proc.poll() is None:
                raise RuntimeError("broker %d: no mount after %d s" %
                                   (self.id, self.mount_wait))
            NemBroker.refused += 1
            print("# broker %d's start failed (status %d): started again" %
                  (self.id, self.proc.returncode), flush=True)
            time.sleep(1)
        raise RuntimeError("broker %d: ten starts failed" % self.id)


class Proxy:
    def __init__(self, tmp, routes):
        self.ctl = os.path.join(tmp, "proxy.ctl")
        self.out = os.path.join(tmp, "proxy.out")
        with open(self.out, "wb") as f:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(ROOT, "tests", "integration",
                                              "netfault_proxy.py"), self.ctl]
                + ["p%d=%d:127.0.0.1:%d" % r for r in routes],
                stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: "ready" in read_text(self.out), 20, "the proxy")

    def cmd(self, *words):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(self.ctl)
        s.sendall((" ".join(words) + "\n").encode())
        ans = s.makefile().readline().strip()
        s.close()
        if not ans.startswith("ok"):
            raise RuntimeError("proxy %s: %s" % (" ".join(words), ans))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def state_rows(b, topic):
    """{p: (hw, leo, leader, isr set)} from broker b's .state of topic."""
    out = {}
    for line in read_text(os.path.join(b.mnt, topic, ".state")).splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].isdigit() and f[4].lstrip("-").isdigit():
            out[int(f[0])] = (int(f[2]), int(f[3]), int(f[4]),
                              {int(x) for x in f[7].strip("[]").split(",") if x})
    return out


class IdemProducer(Worker):
    wait = 120      # a batch in flight is sent for up to 60 s
    what = "the idempotent producer"

    def __init__(self, nem):
        self.nem = nem
        self.acked = set()          # (pid, seq)
        self.doubt = set()
        self.anomalies = []
        self.pid, self.seq = None, 0
        self.stop = threading.Event()
        self.thread = None
        self.conns = {}

    def conn(self, bid):
        c = self.conns.get(bid)
        if c is None:
            c = kafka_raw.Conn("127.0.0.1", self.nem.ports[bid], timeout=15)
            kafka_raw.sasl_scram(c, "admin", "admin-secret")
            self.conns[bid] = c
        return c

    def drop(self, bid):
        c = self.conns.pop(bid, None)
        if c is not None:
            c.s.close()

    def leader(self):
        for b in self.nem.cluster.brokers.values():
            if b.alive():
                row = state_rows(b, IDEM).get(0)
                if row and row[2] in self.nem.cluster.brokers and \
                        self.nem.cluster.brokers[row[2]].alive():
                    return row[2]
        return None

    def init_pid(self, bid):
        r = self.conn(bid).call(22, 0, struct.pack(">hi", -1, 60000))
        _, err, pid, epoch = struct.unpack(">ihqh", r[:16])
        if err:
            raise OSError("InitProducerId error %d" % err)
        self.pid, self.seq = pid, 0

    def _loop(self):
        pending = None      # the batch being sent: (pid, seq, bytes)
        give_up = None
        while True:
            if self.stop.is_set():
                if pending is None:
                    return
                # A batch in flight is sent until answered, for a while.
                give_up = give_up or time.monotonic() + 60
                if time.monotonic() > give_up:
                    self.doubt.add(pending[:2])
                    return
            bid = self.leader()
            if bid is None:
                time.sleep(0.05)
                continue
            try:
                if self.pid is None:
                    self.init_pid(bid)
                if pending is None:
                    pending = (self.pid, self.seq, kafka_raw.batch(
                        [b"i-%d-%d" % (self.pid, self.seq)], self.pid, 0,
                        self.seq))
                err, _ = kafka_raw.produce_v3(self.conn(bid), IDEM, 0,
                                              pending[2], -1, 10000)
            except (OSError, SystemExit, struct.error):
                self.drop(bid)
                time.sleep(0.05)
                continue
            if err == 0:
                self.acked.add(pending[:2])
                self.seq += 1
                pending = None
            elif err in RETRIABLE:
                time.sleep(0.05)
            else:
                self.anomalies.append("pid %d seq %d: error %d" %
                                      (pending[0], pending[1], err))
                self.doubt.add(pending[:2])
                pending, self.pid = None, None

    def check(self, path):
        """lost, duplicated, out of order, garbled of partition 0's file."""
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")[:-1]
        seen, last = set(), {}
        dup = order = garbled = 0
        for line in lines:
            m = IDEM_LINE.match(line)
            if not m:
                garbled += 1
                continue
            key = (int(m.group(1)), int(m.group(2)))
            if key in seen:
                dup += 1
                continue
            seen.add(key)
            if key[1] <= last.get(key[0], -1):
                order += 1
            last[key[0]] = key[1]
        lost = len(self.acked - seen)
        return dict(acked=len(self.acked), lost=lost, duplicated=dup,
                    reordered=order, garbled=garbled)


class Consumer(Worker):
    what = "the consumer"

    def __init__(self, nem):
        self.nem = nem
        self.stop = threading.Event()
        self.records = 0
        self.errors = {}
        self.thread = None
        self.at = None              # the broker whose mount it reads
        self.eagain = 0
        self.last_data = None       # when a read last returned records

    def _loop(self):
        fd, at = None, None
        path = os.path.join(TOPIC, ".groups", GROUP, "consume")
        while not self.stop.is_set():
            brokers = self.nem.cluster.brokers
            if fd is not None and not brokers[at].alive():
                self._close(fd)
                fd = None
            if fd is None:
                live = [b for b in sorted(brokers) if brokers[b].alive()]
                if not live:
                    time.sleep(0.1)
                    continue
                at = self.nem.rnd_c.choice(live)
                self.at = at
                try:
                    fd = os.open(os.path.join(brokers[at].mnt, path),
                                 os.O_RDONLY | os.O_NONBLOCK)
                except OSError as e:
                    self._note(e)
                    time.sleep(0.1)
                    continue
            try:
                data = os.read(fd, 65536)
                self.records += data.count(b"\n")
                if data:
                    self.last_data = time.monotonic()
            except OSError as e:
                if e.errno == 11:
                    self.eagain += 1
                else:
                    self._note(e)
                    self._close(fd)
                    fd = None
                time.sleep(0.05)
        if fd is not None:
            self._close(fd)

    def _note(self, e):
        name = os.strerror(e.errno) if e.errno else str(e)
        self.errors[name] = self.errors.get(name, 0) + 1

    @staticmethod
    def _close(fd):
        try:
            os.close(fd)
        except OSError:
            pass


class Monitor(Worker):
    """Offsets that must never go back, as the mounts show them."""
    what = "the monitor"

    def __init__(self, nem):
        self.nem = nem
        self.stop = threading.Event()
        self.thread = None
        self.violations = []
        self.size = {}          # (broker, starts, p) -> st_size
        self.hw = {}            # (broker, starts, p) -> hw while it leads p
        self.committed = {}     # p -> highest committed offset seen
        self.conns = {}
        self.polls = 0

    def bad(self, what):
        if len(self.violations) < 50:
            self.violations.append(what)
        print("# VIOLATION " + what, flush=True)

    def poll_once(self):
        """The committed offsets first, then the log ends: an offset
        committed before the .state read can be no higher than the
        leader's log end then (every record below it was committed, and
        a new leader has them all)."""
        self.polls += 1
        live = [b for b in list(self.nem.cluster.brokers.values())
                if b.alive()]
        seen = self.fetch_committed(live)
        for p, c in seen.items():
            if c < self.committed.get(p, -1):
                self.bad("committed offset of p%d %d after %d (OffsetFetch "
                         "at the coordinator)" % (p, c, self.committed[p]))
            self.committed[p] = max(c, self.committed.get(p, -1))
        leo = {}
        for b in live:
            rows = state_rows(b, TOPIC)
            for p, (hw, end, leader, _) in rows.items():
                if leader == b.id:
                    leo[p] = max(end, leo.get(p, 0))
                    k = (b.id, b.starts, p)
                    if hw < self.hw.get(k, 0):
                        self.bad("broker %d, leading p%d: hw %d after %d" %
                                 (b.id, p, hw, self.hw[k]))
                    self.hw[k] = max(hw, self.hw.get(k, 0))
                else:
                    self.hw.pop((b.id, b.starts, p), None)
            for p in range(PARTITIONS):
                try:
                    st = os.stat(os.path.join(b.mnt, TOPIC, str(p))).st_size
                except OSError:
                    continue
                k = (b.id, b.starts, p)
                if st < self.size.get(k, 0):
                    self.bad("broker %d's mount: st_size of p%d %d after %d" %
                             (b.id, p, st, self.size[k]))
                self.size[k] = max(st, self.size.get(k, 0))
        for p, c in seen.items():
            if p in leo and c > leo[p]:
                self.bad("committed offset of p%d %d above the leader's log "
                         "end %d read after it" % (p, c, leo[p]))

    def call(self, bid, api, version, body):
        """One request on a kept connection to broker bid's listener (not
        through the proxy); None when it fails."""
        try:
            c = self.conns.get(bid)
            if c is None:
                c = kafka_raw.Conn("127.0.0.1", self.nem.ports[bid], timeout=2)
                kafka_raw.sasl_scram(c, "admin", "admin-secret")
                self.conns[bid] = c
            return c.call(api, version, body)
        except (OSError, SystemExit, struct.error):
            c = self.conns.pop(bid, None)
            if c is not None:
                c.s.close()
            return None

    def fetch_committed(self, live):
        """{p: offset} as the group's coordinator answers OffsetFetch
        (FindCoordinator asked of a live broker first); {} when there is
        no clean answer. A mount's offset file is not used: while the
        coordinator does not answer it shows the last offset that broker
        knew (README, "Groups across the cluster's mounts")."""
        node = None
        for b in live:
            r = self.call(b.id, 10, 1, kafka_raw.kstr(GROUP) + b"\0")
            if r is None:
                continue
            _, err, mlen = struct.unpack(">ihh", r[:8])
            if err == 0:
                node = struct.unpack(">i", r[8 + max(mlen, 0):12 + max(
                    mlen, 0)])[0]
                break
        brokers = self.nem.cluster.brokers
        if node not in brokers or not brokers[node].alive():
            return {}
        body = kafka_raw.kstr(GROUP) + struct.pack(">i", 1) + \
            kafka_raw.kstr(TOPIC) + struct.pack(">i", PARTITIONS) + \
            b"".join(struct.pack(">i", p) for p in range(PARTITIONS))
        r = self.call(node, 9, 5, body)
        if r is None:
            return {}
        try:
            out = {}
            (nt,) = struct.unpack(">i", r[4:8])
            if nt != 1:
                return {}
            nlen = struct.unpack(">h", r[8:10])[0]
            off = 10 + nlen
            (np_,) = struct.unpack(">i", r[off:off + 4])
            off += 4
            for _ in range(np_):
                p, o, _, mlen = struct.unpack(">iqih", r[off:off + 18])
                off += 18 + max(mlen, 0)
                (err,) = struct.unpack(">h", r[off:off + 2])
                off += 2
                if err == 0 and o >= 0:
                    out[p] = o
            (gerr,) = struct.unpack(">h", r[off:off + 2])
            return {} if gerr else out
        except struct.error:
            return {}

    def _loop(self):
        while not self.stop.is_set():
            self.poll_once()
            time.sleep(0.2)


class Nemesis:
    """Starts faults at random moments; each ends by itself."""

    def __init__(self, nem, rnd):
        self.nem, self.rnd = nem, rnd
        self.lock = threading.Lock()
        self.down = set()           # brokers killed or stopped
        self.zk_busy = self.hole_busy = False
        self.threads = []
        self.counts = {}
        self.stop = threading.Event()
        self.failures = []

    def note(self, what, kind=None):
        if kind is not None:
            with self.lock:
                self.counts[kind] = self.counts.get(kind, 0) + 1
        print("#   %6.1f %s" % (time.monotonic() - self.nem.t0, what),
              flush=True)

    def run_round(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.launch()
            time.sleep(self.rnd.uniform(1, 5))
        for t in self.threads:
            t.join(180)
            if t.is_alive():
                raise RuntimeError("a fault did not end")
        self.threads = []
        if self.failures:
            raise RuntimeError("fault: " + self.failures[0])

    def launch(self):
        kinds = ["kill", "stop", "zk", "reassign", "elect", "hole"]
        kind = self.rnd.choice(kinds)
        dur = self.rnd.uniform(2, 10)
        brokers = sorted(self.nem.cluster.brokers)
        with self.lock:
            if kind in ("kill", "stop"):
                free = [b for b in brokers if b not in self.down]
                if len(self.down) >= 2 or not free:
                    return
                bid = self.rnd.choice(free)
                self.down.add(bid)
                arg = bid
            elif kind == "zk":
                if self.zk_busy:
                    return
                self.zk_busy = True
                arg = None
            elif kind == "hole":
                if self.hole_busy:
                    return
                self.hole_busy = True
                arg = self.rnd.choice(brokers)
            elif kind == "reassign":
                order = brokers[:]
                self.rnd.shuffle(order)
                arg = (self.rnd.randrange(PARTITIONS), order)
            else:
                arg = None
        t = threading.Thread(target=self._fault, args=(kind, arg, dur),
                             daemon=True)
        self.threads.append(t)
        t.start()

    def _fault(self, kind, arg, dur):
        try:
            getattr(self, "f_" + kind)(arg, dur)
        except Exception as e:      # noqa: BLE001 reported by run_round
            self.failures.append("%s %r: %r" % (kind, arg, e))

    def f_kill(self, bid, dur):
        b = self.nem.cluster.brokers[bid]
        self.note("kill -9 broker %d for %.1f s" % (bid, dur), "kill -9")
        b.kill9()
        time.sleep(dur)
        b.start()
        with self.lock:
            self.down.discard(bid)

    def f_stop(self, bid, dur):
        b = self.nem.cluster.brokers[bid]
        dur += self.nem.a.session_ms / 1000
        self.note("SIGSTOP broker %d for %.1f s" % (bid, dur), "SIGSTOP")
        b.stopped = True
        b.proc.send_signal(signal.SIGSTOP)
        time.sleep(dur)
        b.proc.send_signal(signal.SIGCONT)
        # Its ZooKeeper session is gone: it sees so and registers again.
        b.starts += 1
        b.stopped = False
        with self.lock:
            self.down.discard(bid)

    def f_zk(self, _, dur):
        self.note("ZooKeeper restart, down %.1f s" % dur, "ZooKeeper restart")
        self.nem.zk.stop()
        time.sleep(dur)
        self.nem.zk.start()
        with self.lock:
            self.zk_busy = False

    def f_hole(self, bid, dur):
        self.note("black hole of broker %d's route for %.1f s" % (bid, dur),
                  "black hole")
        self.nem.proxy.cmd("mode", "p%d" % bid, "hole", "both")
        time.sleep(dur)
        self.nem.proxy.cmd("mode", "p%d" % bid, "pass")
        with self.lock:
            self.hole_busy = False

    def admin_broker(self):
        live = [b for b in self.nem.cluster.brokers.values() if b.alive()]
        return self.rnd.choice(live) if live else None

    def f_reassign(self, arg, _):
        p, order = arg
        b = self.admin_broker()
        if b is None:
            return
        self.note("reassign storm-%d to %s" % (p, order), "reassignment")
        r = subprocess.run(
            ["node", os.path.join(ROOT, "tests", "integration",
                                  "kafkajs_admin.js"),
             "127.0.0.1:%d" % self.nem.ports[b.id], "reassign", TOPIC,
             str(p), ",".join(map(str, order))],
            capture_output=True, timeout=60, env=self.nem.node_env)
        self.note("  reassign: %s" % (r.stdout.decode().strip() or
                                      r.stderr.decode().strip()[-200:]))
        self.f_elect(None, 0)

    def f_elect(self, _, __):
        for b in self.nem.cluster.brokers.values():
            if not b.alive():
                continue
            r = subprocess.run(
                [sys.executable, os.path.join(ROOT, "tests", "integration",
                                              "kafka_raw.py"), "elect",
                 "127.0.0.1", str(self.nem.ports[b.id]), "admin",
                 "admin-secret", "0", "-", "0"],
                capture_output=True, timeout=60)
            out = r.stdout.decode().split("\n")
            if r.returncode == 0 and not any(l.endswith(" 41") for l in out):
                self.note("preferred election via broker %d: %s" %
                          (b.id, " / ".join(x for x in out if x)),
                          "preferred election")
                return


class Nem:
    pass


def all_in_isr(nem):
    bs = nem.cluster.brokers
    for b in bs.values():
        if not b.alive():
            return False
    via = bs[1]
    for topic in (TOPIC, IDEM):
        rows = state_rows(via, topic)
        if len(rows) != PARTITIONS:
            return False
        if any(r[3] != set(bs) or r[2] not in bs for r in rows.values()):
            return False
    return True


def hws(nem):
    """{p: hw} of storm as broker 1 shows it."""
    return {p: r[0] for p, r in state_rows(nem.cluster.brokers[1],
                                           TOPIC).items()}


def group_caught_up(nem, mon):
    mon.poll_once()
    h = hws(nem)
    return len(h) == PARTITIONS and all(
        mon.committed.get(p, -1) >= h[p] for p in h)


def run(a, tmp, rnd, out):
    mqfs = os.path.abspath(a.mqfs)
    nem = Nem()
    nem.a = a
    nem.rnd_c = random.Random(a.seed + 1)
    nem.zk = ZooKeeper(os.path.join(tmp, "zk"))
    nem.ports = {i: free_port() for i in (1, 2, 3)}
    pports = {i: free_port() for i in (1, 2, 3)}
    nem.proxy = Proxy(tmp, [(i, pports[i], nem.ports[i]) for i in (1, 2, 3)])
    nem.node_env = dict(os.environ, KAFKA_SASL_USER="admin",
                        KAFKA_SASL_PASSWORD="admin-secret",
                        KAFKAJS_PATH=os.path.join(ROOT, "build", "npm",
                                                  "node_modules", "kafkajs"))
    brokers, writers = [], []
    extra = ("replica.lag.time.max.ms=3000\nreplica.socket.timeout.ms=2000\n"
             "request.timeout.ms=15000\n")

    def new_broker(i, zk_connect):
        return NemBroker(i, mqfs, tmp, zk_connect, a.session_ms, PARTITIONS,
                         listener=("127.0.0.1", nem.ports[i]),
                         extra=extra + "advertised.listeners=SASL_PLAINTEXT:"
                         "//127.0.0.1:%d\n" % pports[i])
    total = {}
    ok = True
    clients = []
    try:
        nem.cluster = start_cluster(mqfs, nem.zk, brokers, Cluster,
                                    PARTITIONS, new_broker)
        os.mkdir(os.path.join(brokers[0].mnt, IDEM))
        os.mkdir(os.path.join(brokers[0].mnt, TOPIC, ".groups", GROUP))
        wait_for(lambda: all_in_isr(nem), 60, "idem's replicas")
        writers = [AnyMountWriter(i, i % PARTITIONS, Storm0())
                   for i in range(a.writers)]
        for w in writers:
            w.storm.cluster = nem.cluster
        idem = IdemProducer(nem)
        cons = Consumer(nem)
        mon = Monitor(nem)
        clients = [idem, cons, mon]
        checker = LeaderChecker(nem.cluster, writers)
        nemesis = Nemesis(nem, rnd)
        nem.t0 = time.monotonic()
        for k in range(1, a.rounds + 1):
            for w in writers:
                w.start()
            for c in clients:
                c.start()
            nemesis.run_round(a.run)
            wait_for(lambda: all_in_isr(nem), 120,
                     "round %d: every replica back in the ISR" % k)
            for w in writers:
                w.halt()
            idem.halt()
            # The group must catch up once the writers stopped: its
            # committed offsets reach each partition's hw.
            caught = True
            try:
                wait_for(lambda: group_caught_up(nem, mon), 90,
                         "the group's commits")
            except RuntimeError:
                caught = False
                print("# the consumer reads broker %s's mount, %d EAGAIN, "
                      "last records %.1f s ago" %
                      (cons.at, cons.eagain, time.monotonic() -
                       (cons.last_data or 0)), file=out)
                for b in brokers:
                    print("# broker %d's .groups/%s/.state:\n%s" %
                          (b.id, GROUP, read_text(os.path.join(
                              b.mnt, TOPIC, ".groups", GROUP, ".state"))),
                          file=out, flush=True)
            cons.halt()
            mon.poll_once()
            mon.halt()
            res = checker.run(True)
            leader = state_rows(brokers[0], IDEM)[0][2]
            ires = idem.check(os.path.join(nem.cluster.brokers[leader].mnt,
                                           IDEM, "0"))
            notes = set()
            verd = check_replicas(nem.cluster, notes, out, True) + \
                check_replicas(nem.cluster, notes, out, True, IDEM, 1)
            for p in range(PARTITIONS):
                end = state_rows(brokers[0], TOPIC)[p][1]
                if mon.committed.get(p, -1) > end:
                    mon.bad("p%d committed %d above the log end %d" %
                            (p, mon.committed[p], end))
            bad = [k2 for k2, v in list(res.items()) + list(ires.items())
                   if k2 != "acked" and v] + \
                [v for v in verd if v != "same"] + mon.violations + \
                idem.anomalies + ([] if caught else [
                    "the group's commits stuck below the hw: %s, hw %s" %
                    (mon.committed, hws(nem))])
            print("round %d: storm %s; idem %s; replicas %s; consumer read "
                  "%d records, committed %s; %d monitor polls%s" %
                  (k, res, ires, verd, cons.records, mon.committed,
                   mon.polls, ("; BAD: %s" % bad) if bad else ""),
                  file=out, flush=True)
            total = dict(rounds=k, acked=res["acked"], idem=ires["acked"],
                         consumed=cons.records, polls=mon.polls)
            if bad:
                ok = False
                a.keep = True
                break
        print("seed %d: %s; faults %s; starts that failed at once %d; "
              "write errors %s; consumer errors %s" %
              (a.seed, total, nemesis.counts, NemBroker.refused,
               Storm0.errors, cons.errors), file=out, flush=True)
    finally:
        for c in clients:
            if c.thread is not None and c.thread.is_alive():
                c.stop.set()
        for b in brokers:
            if b.proc is not None and b.proc.poll() is None and b.stopped:
                b.proc.send_signal(signal.SIGCONT)
        stop_all(writers, brokers, nem.zk)
        nem.proxy.stop()
    return 0 if ok else 1


class Storm0:
    """The writers' shared tallies (cluster_killstorm.Storm's note_*)."""
    errors = {}
    lock = threading.Lock()
    cluster = None

    def note_ack(self, *_):
        pass

    def note_error(self, err):
        with Storm0.lock:
            n = os.strerror(err)
            Storm0.errors[n] = Storm0.errors.get(n, 0) + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mqfs", default=os.path.join(ROOT, "build", "mqfs"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--run", type=float, default=20,
                    help="seconds of faults in each round")
    ap.add_argument("--writers", type=int, default=6)
    ap.add_argument("--session-ms", type=int, default=4000)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    return storm_main("cluster_nemesis", "mqfs-nemesis.", a, run)


if __name__ == "__main__":
    sys.exit(main())
