#!/usr/bin/env python3
"""cluster_partition.py — cut the leader of a replicated partition off the
network (from ZooKeeper and from its followers) under acks=all writers,
heal, and check that the cut-off leader acknowledged nothing it could not
commit, that a new leader took over, and that after the heal nothing
acknowledged was lost and the replicas agree. This is the scenario that
lost acknowledged writes in Jepsen's 2013 test of Kafka.

    python3 contrib/cluster_partition.py [--mqfs build/mqfs] [--rounds 5]
                                         [--writers 4] [--partitions 2]
                                         [--min-run 0.5] [--max-run 2]
                                         [--session-ms 4000] [--seed N]
                                         [--keep]

It needs root (ip netns). The network: one namespace per broker and one for
ZooKeeper, each with a veth pair whose other end is a port of a bridge in
a namespace of its own; ZooKeeper at 10.77.0.10, broker N at 10.77.0.N,
all on port 9092 (2181 for ZooKeeper) since every namespace has its own
ports. A broker starts through `nsenter --net=` (which execs it: the pid
is the broker's, and the mount namespace stays the caller's, so the FUSE
mount is seen here). Cutting a broker off is `ip link set down` of its
port on the bridge: it keeps its mount and its disk, and loses every
packet to ZooKeeper and to the other brokers; healing sets the port up.

Brokers: cluster_killstorm.py's set-up (SASL listeners, replication factor
3, min.insync.replicas=2, acks=all) with request.timeout.ms=3000 (how long
an acks=all write waits for its commit) and replica.lag.time.max.ms=3000
(so the cut-off leader tries to shrink its ISR while cut off).

Writers: cluster_killstorm.py's ClusterWriter (records "w<w>-<seq>", one
per write(), never a retry; a failed write leaves its seq in doubt),
routed by what the brokers on the majority side show in .state. One more
writer ("the pinned writer") writes partition 0 through the mount of the
broker that led it when the round began, from before the cut until that
broker knows, after the heal, that it leads no more.

One round:
  1. writers run for a random time in [min-run, max-run] s;
  2. cut off L, the leader of partition 0;
  3. poll the majority's .state (deadline: session timeout + 30 s) until
     partition 0 has a leader other than L; record the time from the cut
     to the first acknowledged write on partition 0 through the majority;
  4. keep the cut until the pinned writer has had a write fail after the
     cut and L has had replica.lag.time.max.ms to try an ISR shrink;
     read partition 0 through L's mount while it is cut off;
  5. heal; the pinned writer goes on until L's .state no longer names L
     as the leader (a write L appended while it still believed it led
     is in flight across the heal); poll until L is back in the ISR of
     every partition;
  6. stop the writers, then check:
     - acknowledged while cut off: writes through L's mount that started
       after the cut and returned success before the heal. Must be 0: L
       cannot commit a record without its followers, its ISR shrink cannot
       be written without ZooKeeper, and once healed it is a follower whose
       log takes the new leader's records at those offsets (a write whose
       records all went so is sent again to the new leader and may then
       succeed: the Checker finds it once);
     - killstorm.py's Checker through each partition's leader's mount:
       every acknowledged record present exactly once, in its writer's
       order, nothing garbled, no seq never written;
     - the .log files of the three replicas byte-identical (the cut
       leader truncated what only it had); L's log says it truncated;
     - every mount shows every partition file byte for byte as the
       leader's does, and what L's mount showed while cut off is a prefix
       of it (it never showed a record that was later truncated);
     - st_size of partition 0, sampled through L's mount from the start of
       the round to the end, never decreased.

The summary prints rounds, acknowledged records checked, lost, duplicated,
garbled, unknown, divergent replicas, acknowledged while cut off, mounts
that differ, st_size decreases, and the cut-to-first-ack times; the exit
status is 0 only when all those counts are 0.

Only processes this script starts are killed, by pid; the mounts are
unmounted, the namespaces deleted and the directories removed at the end,
also on Ctrl-C or SIGTERM (unless --keep, which keeps the directories).
"""
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_killstorm import (ROOT, TOPIC, Broker, Cluster,  # noqa: E402
                               ClusterWriter, LeaderChecker, Storm,
                               ZooKeeper, check_replicas, read_text,
                               start_cluster, start_round,
                               stop_all, storm_main)
from killstorm import storm_args, wait_for  # noqa: E402

NET = "10.77.0."
ZK_HOST, ZK_PORT, BROKER_PORT = NET + "10", 2181, 9092
TIMEOUT_MS = 3000       # request.timeout.ms and replica.lag.time.max.ms


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Network:
    """The namespaces and the bridge; names carry our pid, so that two
    runs (or colleagues' tests) never meet."""

    def __init__(self):
        self.prefix = "mqpart%d-" % os.getpid()
        self.bridge = self.prefix + "br"
        self.made = []

    def ns(self, node):
        return self.prefix + node

    def wrap(self, node):
        return ["nsenter", "--net=/var/run/netns/" + self.ns(node)]

    def add(self, node, addr):
        """Namespace `node` with eth0 at addr, its peer `node` on the
        bridge."""
        ip("netns", "add", self.ns(node))
        self.made.append(self.ns(node))
        ip("-n", self.bridge, "link", "add", node, "type", "veth", "peer",
           "name", "eth0", "netns", self.ns(node))
        ip("-n", self.bridge, "link", "set", node, "master", "br0", "up")
        ip("-n", self.ns(node), "addr", "add", addr + "/24", "dev", "eth0")
        ip("-n", self.ns(node), "link", "set", "eth0", "up")
        ip("-n", self.ns(node), "link", "set", "lo", "up")

    def setup(self, nodes):
        ip("netns", "add", self.bridge)
        self.made.append(self.bridge)
        ip("-n", self.bridge, "link", "add", "br0", "type", "bridge")
        ip("-n", self.bridge, "link", "set", "br0", "up")
        for node, addr in nodes:
            self.add(node, addr)

    def cut(self, node):
        ip("-n", self.bridge, "link", "set", node, "down")

    def heal(self, node):
        ip("-n", self.bridge, "link", "set", node, "up")

    def heal_all(self):
        """Every port up (so that what stops can reach ZooKeeper)."""
        for name in ("zk", "b1", "b2", "b3"):
            subprocess.run(["ip", "-n", self.bridge, "link", "set", name,
                            "up"], stderr=subprocess.DEVNULL)

    def teardown(self):
        # Deleting a namespace takes its veth ends (and their peers) along.
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name],
                           stderr=subprocess.DEVNULL)
        self.made = []


class MajorityCluster(Cluster):
    """Routes by the .state of brokers that are not cut off (a cut-off
    broker's view is stale by design)."""

    def __init__(self, brokers, partitions):
        super().__init__(brokers, partitions)
        self.cut = None

    def rows(self, via=None):
        if via is None:
            for bid in sorted(self.brokers):
                if bid != self.cut and self.brokers[bid].alive():
                    rows = super().rows(bid)
                    if rows:
                        return rows
            return {}
        return super().rows(via)


class PinnedWriter(ClusterWriter):
    """Writes through the mount of storm.pinned (None: waits)."""

    def target(self):
        return self.storm.pinned


class PartitionStorm(Storm):
    def __init__(self, a):
        super().__init__(a)
        self.pinned = None
        self.cut_t = None
        self.healed = False
        self.acked_while_cut = 0

    def note_ack(self, partition, broker, started):
        # Only acks that came while L was cut off count: a write L appended
        # and lost with its leadership is sent again to the new leader once
        # L knows it follows (after the heal), and is acknowledged by it.
        with self.lock:
            if self.cut_t is not None and not self.healed \
                    and broker == self.victim and started > self.cut_t:
                self.acked_while_cut += 1
        # The first ack on partition 0 after the cut, through the majority.
        super().note_ack(partition, broker, started)


class SizeWatch:
    """Samples st_size of a file until stopped; counts decreases."""

    def __init__(self, path):
        self.path, self.decreases, self.last = path, 0, -1
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                size = os.stat(self.path).st_size
            except OSError:
                size = None
            if size is not None:
                if size < self.last:
                    self.decreases += 1
                self.last = max(self.last, size)
            time.sleep(0.02)

    def halt(self):
        self.stop.set()
        self.thread.join(30)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def mounts_agree(cluster, p):
    """Every mount shows partition p as its leader's mount does."""
    want = read_bytes(os.path.join(
        cluster.brokers[cluster.leader(p)].mnt, TOPIC, str(p)))
    return all(read_bytes(os.path.join(b.mnt, TOPIC, str(p))) == want
               for b in cluster.brokers.values())


def lost_records(cluster, writers, limit=5):
    """The first acknowledged records missing from the leaders' mounts
    ("w<w>-<seq>"), to tell where to look in the brokers' logs."""
    present = set()
    for p in range(cluster.partitions):
        data = read_bytes(os.path.join(
            cluster.brokers[cluster.leader(p)].mnt, TOPIC, str(p)))
        present.update(data.split(b"\n"))
    out = []
    for w in writers:
        for seq in range(1, w.next_seq):
            rec = b"w%d-%d" % (w.wid, seq)
            if seq not in w.doubt and rec not in present:
                out.append(rec.decode())
    return out[:limit]


def truncations(b):
    return read_text(b.log).count(": truncated to offset ")


def run_round(k, a, rnd, net, cluster, storm, writers, pinned, out, res):
    victim = start_round(k, a, rnd, cluster, writers)
    vb = cluster.brokers[victim]
    watch = SizeWatch(os.path.join(vb.mnt, TOPIC, "0"))
    storm.pinned = victim
    pinned.start()
    cut_before = truncations(vb)
    time.sleep(0.2)     # the pinned writer is writing when the cut comes
    net.cut("b%d" % victim)
    with storm.lock:
        storm.cut_t = storm.kill_t = time.monotonic()
        storm.healed = False
        storm.victim = victim
        doubt_at_cut = len(pinned.doubt)
    cluster.cut = victim
    survivor = min(b for b in cluster.brokers if b != victim)

    def new_leader():
        row = cluster.rows(survivor).get(0)
        return row is not None and row[0] not in (victim, -1)
    wait_for(new_leader, a.session_ms / 1000 + 30,
             "round %d: a new leader of partition 0" % k)
    new = cluster.rows(survivor)[0][0]
    elected = time.monotonic() - storm.cut_t
    wait_for(lambda: storm.first_ack is not None, a.session_ms / 1000 + 30,
             "round %d: an acknowledged write after the cut" % k)
    # The cut leader has had a write fail, and time to try an ISR shrink.
    wait_for(lambda: len(pinned.doubt) > doubt_at_cut, TIMEOUT_MS / 1000 + 30,
             "round %d: a failed write on the cut-off leader" % k)
    remaining = storm.cut_t + 2 * TIMEOUT_MS / 1000 - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)
    seen_cut = read_bytes(os.path.join(vb.mnt, TOPIC, "0"))
    cut_state = [ln for ln in read_text(os.path.join(vb.mnt, TOPIC, ".state"))
                 .splitlines() if ln.split()[:1] == ["0"]]
    with storm.lock:
        storm.healed = True
    net.heal("b%d" % victim)
    # The pinned writer goes on until L knows it leads no more: a write L
    # appended before it learnt that must not be acknowledged when L, now
    # a follower, takes the new leader's records into those offsets.
    wait_for(lambda: cluster.rows(victim).get(0, (victim,))[0] != victim,
             a.session_ms / 1000 + 30,
             "round %d: broker %d to know it leads no more" % (k, victim))
    pinned.halt()
    storm.pinned = None
    with storm.lock:
        storm.cut_t = None
        errors = dict(storm.errors)
    cluster.cut = None
    wait_for(lambda: cluster.in_all_isrs(victim, survivor)
             and cluster.eligible(victim), 90,
             "round %d: broker %d back in the ISR" % (k, victim))
    for w in writers:
        w.halt()
    checked = storm.checker.run(True)
    for key, v in checked.items():
        res[key] = v if key == "acked" else max(res.get(key, 0), v)
    verdicts = check_replicas(cluster, storm.index_notes, out)
    res["divergent"] += sum(v.startswith("divergent") for v in verdicts)
    res["behind"] += verdicts.count("behind")
    differ = 0
    for p in range(cluster.partitions):
        end = time.monotonic() + 30
        while not mounts_agree(cluster, p) and time.monotonic() < end:
            time.sleep(0.1)
        differ += not mounts_agree(cluster, p)
    res["mounts"] += differ
    final = read_bytes(os.path.join(cluster.brokers[new].mnt, TOPIC, "0"))
    if not final.startswith(seen_cut):
        res["uncommitted"] += 1
    watch.halt()
    res["shrinks"] += watch.decreases
    res["cut_acks"] += storm.acked_while_cut
    cut_errors = {e: n - storm.errors_before.get(e, 0)
                  for e, n in errors.items()
                  if n > storm.errors_before.get(e, 0)}
    storm.errors_before = dict(storm.errors)
    res["times"].append(storm.first_ack)
    res["elect"].append(elected)
    truncated = truncations(vb) - cut_before
    bad = {k2: v for k2, v in checked.items() if k2 != "acked" and v}
    if checked["lost"]:
        bad["first lost"] = lost_records(cluster, storm.checker.writers)
    print("cut %d (broker %d): new leader %d after %.2f s, first ack after "
          "%.2f s; on the cut-off leader: %d acknowledged, its .state: %s; "
          "failed writes from the cut to its step-down: %s; "
          "after the heal: %d truncation(s), %d acknowledged "
          "records checked%s%s%s" %
          (k, victim, new, elected, storm.first_ack, storm.acked_while_cut,
           " ".join(cut_state[0].split()) if cut_state else "?",
           ", ".join("%s %d" % kv for kv in sorted(cut_errors.items()))
           or "none",
           truncated, checked["acked"], (", " + str(bad)) if bad else "",
           ", replicas: " + ", ".join(verdicts) if set(verdicts) != {"same"}
           else "", ", mounts differ" if differ else ""),
          file=out, flush=True)


def run(a, tmp, rnd, out):
    mqfs = os.path.abspath(a.mqfs)
    net = Network()
    storm = PartitionStorm(a)
    storm.errors_before = {}
    storm.index_notes = set()
    brokers, writers = [], []
    zk = pinned = None
    res = dict(divergent=0, behind=0, mounts=0, uncommitted=0, shrinks=0,
               cut_acks=0, times=[], elect=[])
    # First, so that whoever runs this can remove them if it is killed.
    print("network namespaces %s*" % net.prefix, file=out, flush=True)
    try:
        net.setup([("zk", ZK_HOST)] + [("b%d" % i, NET + str(i))
                                       for i in (1, 2, 3)])
        zk = ZooKeeper(
            os.path.join(tmp, "zk"), ZK_HOST, ZK_PORT, net.wrap("zk"),
            lambda: subprocess.run(
                net.wrap("zk") + ["sh", "-c", '. "$0"; zk_ruok "$1"',
                                  os.path.join(ROOT, "tests", "zk.sh"),
                                  str(ZK_PORT)],
                env=dict(os.environ, ZK_ADDRESS=ZK_HOST)).returncode == 0)
        extra = ("request.timeout.ms=%d\nreplica.lag.time.max.ms=%d\n" %
                 (TIMEOUT_MS, TIMEOUT_MS))
        cluster = start_cluster(
            mqfs, zk, brokers, MajorityCluster, a.partitions,
            lambda i, zk_connect: Broker(
                i, mqfs, tmp, zk_connect, a.session_ms, a.partitions,
                (NET + str(i), BROKER_PORT), extra, net.wrap("b%d" % i)),
            net.wrap("b1"))
        storm.cluster = cluster
        writers = [ClusterWriter(i, i % a.partitions, storm)
                   for i in range(a.writers)]
        pinned = PinnedWriter(a.writers, 0, storm)
        storm.checker = LeaderChecker(cluster, writers + [pinned])
        t0 = time.monotonic()
        for k in range(1, a.rounds + 1):
            storm.kill_t = storm.first_ack = None
            storm.acked_while_cut = 0
            run_round(k, a, rnd, net, cluster, storm, writers, pinned, out,
                      res)
        elapsed = time.monotonic() - t0
    finally:
        try:
            if net.made:
                net.heal_all()
            stop_all(writers + ([pinned] if pinned else []), brokers, zk)
        finally:
            net.teardown()
    print("seed %d, %d partition rounds in %.0f s, %d writers on %d "
          "partitions plus one on the cut-off leader, session timeout %d ms"
          % (a.seed, a.rounds, elapsed, a.writers, a.partitions,
             a.session_ms), file=out)
    print("acknowledged records checked: %d (in doubt: %d)" %
          (res.get("acked", 0), sum(len(w.doubt) for w in writers + [pinned])),
          file=out)
    bad = ("lost", "duplicated", "garbled", "unknown")
    print("  ".join("%s: %d" % (k, res.get(k, 0)) for k in bad) +
          "  divergent replicas: %d  behind after 30 s: %d" %
          (res["divergent"], res["behind"]), file=out)
    print("acknowledged while cut off: %d  mounts differing: %d  "
          "uncommitted records shown: %d  st_size decreases: %d" %
          (res["cut_acks"], res["mounts"], res["uncommitted"],
           res["shrinks"]), file=out)
    print("cut to new leader: median %.2f s, max %.2f s; cut to first "
          "acknowledged write: median %.2f s, max %.2f s" %
          (statistics.median(res["elect"]), max(res["elect"]),
           statistics.median(res["times"]), max(res["times"])), file=out)
    print("network namespaces %s*: removed" % net.prefix, file=out)
    print("failed writes by errno: %s" % (", ".join(
        "%s %d" % kv for kv in sorted(storm.errors.items())) or "none"),
        file=out)
    ok = all(res.get(k, 0) == 0 for k in bad) and all(
        res[k] == 0 for k in ("divergent", "behind", "mounts", "uncommitted",
                              "shrinks", "cut_acks"))
    return 0 if ok else 1


def main():
    ap = storm_args(0, 4, 2, 0.5, 2.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--session-ms", type=int, default=4000)
    a = ap.parse_args()
    if a.rounds < 1:
        ap.error("--rounds must be at least 1")
    if os.geteuid() != 0:
        print("cluster_partition: needs root (ip netns)", file=sys.stderr)
        return 2
    return storm_main("cluster_partition", "mqfs-clpart.", a, run)

if __name__ == "__main__":
    sys.exit(main())
