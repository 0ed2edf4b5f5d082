#!/usr/bin/env python3
"""cluster_killstorm.py — kill -9 the leader of a replicated partition again
and again under acks=all writers, and check after every round that nothing
acknowledged was lost, duplicated or garbled and that the replicas agree.

    python3 contrib/cluster_killstorm.py [--mqfs build/mqfs] [--kills 20]
                                         [--writers 6] [--partitions 2]
                                         [--min-run 0.5] [--max-run 2]
                                         [--session-ms 4000] [--seed N]
                                         [--stop kill|term|alternate]
                                         [--keep]

Set-up: a ZooKeeper of its own (tests/zk.sh's zk_exec: Debian's server
class and a zoo.cfg on a free loopback port), the SCRAM user admin, three
brokers with SASL_PLAINTEXT listeners on free loopback ports and mounts,
default.replication.factor=3, min.insync.replicas=2, acks=all (the
default), zookeeper.session.timeout.ms=--session-ms. One topic "storm" with
--partitions partitions, made by mkdir on broker 1's mount.

Writers (killstorm.py's Writer state: "w<w>-<seq>" records, seq 1, 2, ...,
one record per write(), never a retry). Writer w writes partition
w % partitions through the mount of broker 1 + w % 3, whether it leads the
partition or not (a non-leader forwards the write to the leader), and
through another live broker's while that one is down. A write that
returned in full is acknowledged. A write that failed (EAGAIN: no leader
took it, or fewer in-sync replicas than min.insync.replicas; ENOTCONN/EIO:
the broker of the mount died; ETIMEDOUT: maybe appended, not confirmed;
anything else) or was cut short leaves its seq in doubt; the writer goes
on with the next seq. A forwarded write resent by mqfs after a failover
must still land once: duplicated counts it otherwise.

One round:
  1. writers run for a random time in [min-run, max-run] s;
  2. kill -9 the leader L of partition 0, clear its dead mount; or, with
     --stop term (every round) or alternate (every second round, the
     others kill -9), a clean stop: SIGTERM, and L's process must exit
     within 60 s (controlled.shutdown.enable: the controller moves its
     leaderships away first); the time to its exit is recorded;
  3. poll a survivor's .state (deadline: session timeout + 30 s) until
     partition 0 has a leader other than L, taken from the ISR; the time
     from the kill (or SIGTERM) to the first acknowledged write on
     partition 0 begun after it is recorded;
  4. restart L on its data directory and mount, poll until it is back in
     the ISR of every partition and eligible as leader again;
  5. stop the writers (so that no write is in flight), then check:
     - through each partition's leader's mount, killstorm.py's Checker:
       every acknowledged record present exactly once, in its writer's
       order, no garbled line, no seq that was never written;
     - divergence: for each partition, every segment file (.log, .index,
       .timeindex) the three data directories share must be byte-identical
       over their common length, once the followers have caught up (polled
       with a deadline: a quiet moment with the writers stopped). A
       follower still behind after the deadline is reported as "behind",
       one whose bytes differ as "divergent".

The summary prints kills, acknowledged records checked, lost, duplicated,
garbled, unknown, divergent replicas and the kill-to-first-ack times
(median, max), those of the clean stops apart, with their exit times; the exit status is 0 only when lost, duplicated, garbled,
unknown and divergent are all 0 and every round found a new leader.

Only processes this script starts are killed, by pid; the mounts are
unmounted and the directories removed at the end, also on Ctrl-C or
SIGTERM (unless --keep).
"""
import errno
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from killstorm import (Checker, Daemon, Writer, is_mounted,  # noqa: E402
                       storm_args, wait_for)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPIC = "storm"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def zk_ruok(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), 1) as s:
            s.settimeout(1)
            s.sendall(b"ruok")
            return s.recv(4) == b"imok"
    except OSError:
        return False


class ZooKeeper:
    """The server through tests/zk.sh's zk_exec, which execs java: the pid
    of the shell started here is the server's. `wrap` runs it elsewhere
    (nsenter into a network namespace) and `ruok` then asks from there."""

    def __init__(self, dir_, host="127.0.0.1", port=None, wrap=(), ruok=None):
        self.dir, self.host, self.proc = dir_, host, None
        self.port = port if port is not None else free_port()
        self.wrap = list(wrap)
        self.ruok = ruok or (lambda: zk_ruok(self.port, self.host))

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        self.proc = subprocess.Popen(
            self.wrap + ["sh", "-c", '. "$0"; zk_exec "$1" "$2"',
                         os.path.join(ROOT, "tests", "zk.sh"), self.dir,
                         str(self.port)],
            stdin=subprocess.DEVNULL, env=dict(os.environ, ZK_ADDRESS=self.host))
        wait_for(lambda: self.proc.poll() is None and self.ruok(),
                 90, "ZooKeeper on port %d" % self.port)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Broker(Daemon):
    """killstorm.py's daemon (kill9, stop) started with a broker config;
    `listener` (host, port), `extra` config lines and `wrap` (a command
    that execs the daemon, such as nsenter) for other set-ups."""
    mount_wait = 60     # a broker joins ZooKeeper before it mounts

    def __init__(self, bid, mqfs, tmp, zk_connect, session_ms, partitions,
                 listener=None, extra="", wrap=()):
        self.id, self.dir = bid, os.path.join(tmp, "b%d" % bid)
        self.wrap = list(wrap)
        host, port = listener or ("127.0.0.1", free_port())
        super().__init__(mqfs, os.path.join(self.dir, "data"),
                         os.path.join(tmp, "mnt%d" % bid),
                         os.path.join(self.dir, "broker.log"))
        self.conf = os.path.join(self.dir, "server.properties")
        os.makedirs(self.data)
        os.makedirs(self.mnt)
        with open(self.conf, "w") as f:
            f.write("""broker.id=%d
log.dirs=%s
zookeeper.connect=%s
zookeeper.session.timeout.ms=%d
zookeeper.connection.timeout.ms=20000
listeners=SASL_PLAINTEXT://%s:%d
security.inter.broker.protocol=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";
default.replication.factor=3
min.insync.replicas=2
num.partitions=%d
%s""" % (bid, self.data, zk_connect, session_ms, host, port, partitions,
         extra))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def argv(self):
        return self.wrap + [self.mqfs, "-f", "--config", self.conf, self.mnt]

    def term(self, limit=60):
        """A clean stop (SIGTERM): the seconds until the process exited.
        RuntimeError when it is still running after `limit` s (it is
        killed then, so that the storm's cleanup goes on)."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("broker %d still running %d s after SIGTERM" %
                               (self.id, limit))
        took = time.monotonic() - t0
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                           stderr=subprocess.DEVNULL)
        return took

    def stop(self):
        super().stop()
        # A broker killed last leaves its dead mount until restarted.
        if is_mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                           stderr=subprocess.DEVNULL)


def read_text(path):
    """A .state file's text, or "" when the mount does not answer."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def ids(cell):
    """"[3,1,2]" -> {1, 2, 3}"""
    return {int(x) for x in cell.strip("[]").split(",") if x}


class Cluster:
    def __init__(self, brokers, partitions):
        self.brokers = {b.id: b for b in brokers}
        self.partitions = partitions

    def rows(self, via=None, topic=TOPIC, partitions=None):
        """Partition rows of the topic's .state as a live broker (or `via`)
        knows them: {p: (leader, epoch, isr set)}."""
        want = self.partitions if partitions is None else partitions
        order = [via] if via is not None else sorted(self.brokers)
        for bid in order:
            b = self.brokers[bid]
            if not b.alive():
                continue
            text = read_text(os.path.join(b.mnt, topic, ".state"))
            out = {}
            for line in text.splitlines():
                f = line.split()
                # partition, log start, hw, leo, leader, epoch, replicas, isr
                if len(f) >= 8 and f[0].isdigit() and f[4].lstrip("-").isdigit():
                    out[int(f[0])] = (int(f[4]), f[5], ids(f[7]))
            if len(out) == want:
                return out
        return {}

    def leader(self, p, via=None):
        row = self.rows(via).get(p)
        if row is None or row[0] not in self.brokers:
            return None
        return row[0] if self.brokers[row[0]].alive() else None

    def eligible(self, bid):
        b = self.brokers[bid]
        text = read_text(os.path.join(b.mnt, TOPIC, ".state"))
        return text != "" and "not eligible as leader" not in text

    def in_all_isrs(self, bid, via):
        rows = self.rows(via)
        return len(rows) == self.partitions and all(
            bid in r[2] for r in rows.values())


def close_quiet(fd):
    """close() of a file on a dead broker's mount fails (ENOTCONN): the
    descriptor is gone all the same."""
    try:
        os.close(fd)
    except OSError:
        pass


class Worker:
    """A client's thread for one round: start() runs self._loop until
    self.stop (a threading.Event) is set; halt() sets it and joins the
    thread within `wait` s, a hang reported. The storms' writers and
    cluster_nemesis.py's clients."""
    wait = 60
    what = "a client"

    def start(self):
        self.stop.clear()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def halt(self):
        self.stop.set()
        self.thread.join(self.wait)
        if self.thread.is_alive():
            raise RuntimeError(self.what + " hangs")


class ClusterWriter(Worker, Writer):
    """killstorm.py's writer state (next_seq, doubt), writing through the
    mount of target() (here: the partition's leader) and moving on after a
    failure; a Worker (its start and halt, before Writer's)."""

    def __init__(self, wid, partition, storm):
        super().__init__(wid)
        self.partition, self.storm = partition, storm
        self.stop = threading.Event()
        self.failure = None
        self.what = "writer %d" % wid

    def halt(self):
        Worker.halt(self)
        if self.failure is not None:
            raise RuntimeError("writer %d failed: %r" % (self.wid, self.failure))

    def _loop(self):
        try:
            self._write()
        except Exception as e:      # reported by halt(), not lost in a thread
            self.failure = e

    def target(self):
        """The broker whose mount the next write goes through: the
        partition's leader, as a survivor's .state names it."""
        return self.storm.cluster.leader(self.partition)

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
                path = os.path.join(self.storm.cluster.brokers[bid].mnt,
                                    TOPIC, str(self.partition))
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                    at = bid
                except OSError:
                    time.sleep(0.05)    # nothing written: no seq used
                    continue
            seq = self.next_seq
            self.next_seq += 1
            rec = b"w%d-%d\n" % (self.wid, seq)
            started = time.monotonic()
            try:
                n = os.write(fd, rec)
            except OSError as e:
                self.doubt.add(seq)
                self.storm.note_error(e.errno)
                close_quiet(fd)
                fd = None
                # A failover is under way: try again soon, not in a tight
                # loop that would only fill the doubt set.
                time.sleep(0.05)
                continue
            if n != len(rec):
                self.doubt.add(seq)
                continue
            self.storm.note_ack(self.partition, at, started)
        if fd is not None:
            close_quiet(fd)


class AnyMountWriter(ClusterWriter):
    """A ClusterWriter that writes through its own broker's mount, leader
    or not (a non-leader forwards the write to the leader)."""

    def target(self):
        """Writer w's broker 1 + w % 3, or while that one is down the
        first live other one."""
        brokers = self.storm.cluster.brokers
        home = 1 + self.wid % len(brokers)
        if brokers[home].alive():
            return home
        live = [b for b in sorted(brokers) if brokers[b].alive()]
        return live[0] if live else None


class LeaderChecker(Checker):
    """Reads each partition through its current leader's mount."""

    def __init__(self, cluster, writers):
        super().__init__(None, TOPIC, cluster.partitions, writers)
        self.cluster = cluster

    def path(self, p):
        leader = self.cluster.leader(p)
        if leader is None:
            raise RuntimeError("partition %d has no live leader" % p)
        return os.path.join(self.cluster.brokers[leader].mnt, TOPIC, str(p))


def compare_replicas(cluster, p, suffix, topic=TOPIC):
    """'same', 'behind' (one replica's file a strict prefix of another's) or
    'divergent: FILE' (their common bytes differ) over the files ending in
    suffix that the three data directories share for partition p. Trailing
    zeros are preallocated room, not data: a record's last byte may be a
    zero too, but then it is one on every replica that has it."""
    dirs = [os.path.join(b.data, "%s-%d" % (topic, p))
            for b in cluster.brokers.values()]
    names = None
    for d in dirs:
        here = {n for n in os.listdir(d) if n.endswith(suffix)}
        names = here if names is None else names & here
    verdict = "same"
    for name in sorted(names):
        blobs = []
        for d in dirs:
            with open(os.path.join(d, name), "rb") as f:
                # The active segment's files are preallocated with zeros
                # (as Kafka's indexes are): compare what was written.
                blobs.append(f.read().rstrip(b"\0"))
        n = min(len(b) for b in blobs)
        if any(b[:n] != blobs[0][:n] for b in blobs):
            return "divergent: " + name
        if any(len(b) != len(blobs[0]) for b in blobs):
            verdict = "behind"
    return verdict


def check_replicas(cluster, index_notes, out, indexes_count=False,
                   topic=TOPIC, partitions=None):
    """compare_replicas of every partition's .log files, polled for 30 s
    while a follower is behind (the writers are stopped); one verdict per
    partition. Index files that differ are added to index_notes, and with
    indexes_count make the partition's verdict divergent too (each broker
    builds its own indexes, by a rule of the batches alone: they agree as
    the .log files do)."""
    verdicts = []
    for p in range(cluster.partitions if partitions is None else partitions):
        v = "behind"
        end = time.monotonic() + 30
        while time.monotonic() < end:
            v = compare_replicas(cluster, p, ".log", topic)
            if v != "behind":
                break
            time.sleep(0.1)
        for suffix in (".index", ".timeindex"):
            iv = compare_replicas(cluster, p, suffix, topic)
            if iv.startswith("divergent"):
                index_notes.add("p%d %s" % (p, iv.split(": ")[1]))
                if indexes_count and not v.startswith("divergent"):
                    v = iv
        verdicts.append(v)
        if v == "behind":
            for b in cluster.brokers.values():
                d = os.path.join(b.data, "%s-%d" % (topic, p))
                print("# p%d broker %d: %s" % (p, b.id, ", ".join(
                    "%s %d" % (n, os.path.getsize(os.path.join(d, n)))
                    for n in sorted(os.listdir(d))
                    if n.endswith(".log"))), file=out)
    return verdicts


class Storm:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.kill_t = None          # when the current kill happened
        self.first_ack = None       # seconds from it to the first ack
        self.victim = None          # the broker killed
        self.last_ack = None        # partition 0's last ack since the kill
        self.stall = 0.0            # the longest time without one
        self.errors = {}
        self.cluster = None

    def note_ack(self, partition, broker, started):
        # A write the dying leader acknowledged just before SIGKILL landed,
        # or one begun before the kill (the dying leader may have committed
        # it), says nothing about the failover.
        if partition != 0 or broker == self.victim:
            return
        with self.lock:
            now = time.monotonic()
            if self.kill_t is None:
                return
            if self.first_ack is None and started >= self.kill_t:
                self.first_ack = now - self.kill_t
            # The old leader acknowledges until its leadership moved (a
            # clean stop): the gap after that is what writers wait.
            since = self.last_ack if self.last_ack is not None else self.kill_t
            self.stall = max(self.stall, now - since)
            self.last_ack = now

    def note_error(self, err):
        with self.lock:
            name = errno.errorcode.get(err, str(err))
            self.errors[name] = self.errors.get(name, 0) + 1


def start_cluster(mqfs, zk, brokers, cluster_class, partitions, new_broker,
                  wrap=()):
    """Starts zk, adds the SCRAM user admin (through `wrap`, where ZooKeeper
    can be reached), appends new_broker(id, zk_connect) for ids 1..3 to
    brokers (the caller's list, so that it stops what started even when a
    start fails), starts them, makes the topic through broker 1's mount
    and waits until every replica is in every ISR."""
    zk.start()
    zk_connect = "%s:%d/mqfs" % (zk.host, zk.port)
    r = subprocess.run(list(wrap) + [mqfs, "--zookeeper", zk_connect,
                                     "--add-scram-user", "admin"],
                       input=b"admin-secret\n", capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("--add-scram-user: " + r.stderr.decode())
    for i in (1, 2, 3):
        brokers.append(new_broker(i, zk_connect))
        brokers[-1].start()
    cluster = cluster_class(brokers, partitions)

    def all_alive():
        return all(read_text(os.path.join(b.mnt, ".state"))
                   .count("=alive ") == 3 for b in brokers)
    wait_for(all_alive, 60, "three live brokers on every mount")
    os.mkdir(os.path.join(brokers[0].mnt, TOPIC))
    wait_for(lambda: all(cluster.in_all_isrs(b.id, 1) for b in brokers)
             and all(cluster.leader(p) for p in range(partitions)),
             60, "three replicas in every ISR")
    return cluster


def stop_all(writers, brokers, zk):
    """Stops the writers' threads, the brokers and ZooKeeper (what a run
    started, also when it failed half-way: zk may be None)."""
    for w in writers:
        if w.thread is not None and w.thread.is_alive():
            w.stop.set()
    for w in writers:
        if w.thread is not None:
            w.thread.join(30)
    for b in brokers:
        b.stop()
    if zk is not None:
        zk.stop()


def start_round(k, a, rnd, cluster, writers):
    """Starts the writers, lets them write for a random time in
    [min-run, max-run] s; the leader of partition 0 then."""
    for w in writers:
        w.start()
    time.sleep(rnd.uniform(a.min_run, a.max_run))
    victim = cluster.leader(0)
    if victim is None:
        raise RuntimeError("round %d: partition 0 has no leader" % k)
    return victim


def run(a, tmp, rnd, out):
    mqfs = os.path.abspath(a.mqfs)
    zk = ZooKeeper(os.path.join(tmp, "zk"))
    brokers = []
    storm = Storm(a)
    writers = []
    try:
        cluster = start_cluster(
            mqfs, zk, brokers, Cluster, a.partitions,
            lambda i, zk_connect: Broker(i, mqfs, tmp, zk_connect,
                                         a.session_ms, a.partitions))
        storm.cluster = cluster

        writers = [AnyMountWriter(i, i % a.partitions, storm)
                   for i in range(a.writers)]
        checker = LeaderChecker(cluster, writers)
        worst = {}
        divergent = behind = 0
        index_notes = set()
        times, term_times, exits = [], [], []
        stalls = {False: [], True: []}
        t0 = time.monotonic()
        for k in range(1, a.kills + 1):
            storm.kill_t, storm.first_ack, storm.victim = None, None, None
            storm.last_ack, storm.stall = None, 0.0
            victim = start_round(k, a, rnd, cluster, writers)
            vb = cluster.brokers[victim]
            clean = a.stop == "term" or (a.stop == "alternate" and k % 2 == 0)
            with storm.lock:
                storm.kill_t, storm.victim = time.monotonic(), victim
            if clean:
                exits.append(vb.term())
            else:
                vb.kill9()
            survivor = min(b for b in cluster.brokers if b != victim)

            def new_leader():
                row = cluster.rows(survivor).get(0)
                return row is not None and row[0] not in (victim, -1) \
                    and cluster.brokers.get(row[0]) is not None \
                    and cluster.brokers[row[0]].alive()
            wait_for(new_leader, a.session_ms / 1000 + 30,
                     "round %d: a new leader of partition 0" % k)
            # The first acknowledged write after the kill.
            wait_for(lambda: storm.first_ack is not None,
                     a.session_ms / 1000 + 30,
                     "round %d: an acknowledged write after the kill" % k)
            with storm.lock:
                # Until the restart: the stall of this round's move.
                stall, storm.kill_t = storm.stall, None
            (term_times if clean else times).append(storm.first_ack)
            stalls[clean].append(stall)
            vb.start()
            wait_for(lambda: cluster.in_all_isrs(victim, survivor)
                     and cluster.eligible(victim), 90,
                     "round %d: broker %d back in the ISR" % (k, victim))
            for w in writers:
                w.halt()
            res = checker.run(True)
            for key, v in res.items():
                worst[key] = v if key == "acked" else max(worst.get(key, 0), v)
            verdicts = check_replicas(cluster, index_notes, out,
                                      indexes_count=True)
            divergent += sum(v.startswith("divergent") for v in verdicts)
            behind += verdicts.count("behind")
            bad = {k2: v for k2, v in res.items() if k2 != "acked" and v}
            odd = [("p%d %s" % (p, v)) for p, v in enumerate(verdicts)
                   if v != "same"]
            print("%s %d (broker %d): first ack after %.2f s, longest stall "
                  "%.2f s%s, %d acknowledged records checked%s%s" %
                  ("stop" if clean else "kill", k, victim, storm.first_ack,
                   stalls[clean][-1],
                   (", exit after %.2f s" % exits[-1]) if clean else "",
                   res["acked"],
                   (", " + str(bad)) if bad else "",
                   (", replicas: " + ", ".join(odd)) if odd else ""),
                  file=out, flush=True)
        elapsed = time.monotonic() - t0
    finally:
        stop_all(writers, brokers, zk)
    print("seed %d, %d leader kills and %d clean stops (SIGTERM) in %.0f s, "
          "%d writers on %d partitions, session timeout %d ms" %
          (a.seed, len(times), len(term_times), elapsed, a.writers,
           a.partitions, a.session_ms), file=out)
    print("acknowledged records checked: %d (in doubt: %d)" %
          (worst.get("acked", 0), sum(len(w.doubt) for w in writers)),
          file=out)
    bad = ("lost", "duplicated", "garbled", "unknown")
    print("  ".join("%s: %d" % (k, worst.get(k, 0)) for k in bad) +
          "  divergent replicas: %d  behind after 30 s: %d" %
          (divergent, behind), file=out)
    if times:
        print("kill to first acknowledged write: median %.2f s, max %.2f s; "
              "longest stall of partition 0: median %.2f s, max %.2f s" %
              (statistics.median(times), max(times),
               statistics.median(stalls[False]), max(stalls[False])),
              file=out)
    if term_times:
        print("SIGTERM to first acknowledged write: median %.2f s, max %.2f s;"
              " longest stall of partition 0: median %.2f s, max %.2f s;"
              " to the process's exit: median %.2f s, max %.2f s" %
              (statistics.median(term_times), max(term_times),
               statistics.median(stalls[True]), max(stalls[True]),
               statistics.median(exits), max(exits)), file=out)
    print("index files that differ between replicas: %s" %
          (", ".join(sorted(index_notes)) or "none"), file=out)
    print("failed writes by errno: %s" % (", ".join(
        "%s %d" % kv for kv in sorted(storm.errors.items())) or "none"),
        file=out)
    ok = all(worst.get(k, 0) == 0 for k in bad) and divergent == 0
    return 0 if ok else 1


def main():
    ap = storm_args(20, 6, 2, 0.5, 2.0)
    ap.add_argument("--session-ms", type=int, default=4000)
    ap.add_argument("--stop", choices=("kill", "term", "alternate"),
                    default="kill",
                    help="how the leader goes: kill -9, a clean stop "
                    "(SIGTERM), or the two in turn")
    a = ap.parse_args()
    if a.kills < 1:
        ap.error("--kills must be at least 1")
    return storm_main("cluster_killstorm", "mqfs-clstorm.", a, run)


def storm_main(name, prefix, a, run_fn):
    """Runs run_fn(a, tmp, rnd, stdout) in a new directory named prefix...,
    removed at the end unless --keep or a failure (whose logs stay)."""
    a.seed = a.seed if a.seed is not None else int(time.time())
    rnd = random.Random(a.seed)
    # SIGTERM cleans up as Ctrl-C does (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tempfile.mkdtemp(prefix=prefix)
    try:
        return run_fn(a, tmp, rnd, sys.stdout)
    except (RuntimeError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", None)
        print("%s: %s%s (logs in %s)" %
              (name, e, (": " + detail.decode().strip()) if detail else "",
               tmp), file=sys.stderr)
        a.keep = True
        return 1
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
