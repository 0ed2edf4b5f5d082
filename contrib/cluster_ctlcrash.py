#!/usr/bin/env python3
"""cluster_ctlcrash.py — kill -9 the controller in the middle of its
multi-step operations again and again, and check after every round that
the next controller finished the operation and that nothing acknowledged
was lost (the broader version of tests/integration/t_cluster_ctlcrash.sh).

    python3 contrib/cluster_ctlcrash.py [--mqfs build/mqfs] [--rounds 12]
                                        [--session-ms 4000] [--seed N]
                                        [--keep]

Set-up: cluster_killstorm.py's (a ZooKeeper of its own, the SCRAM user
admin, three brokers with SASL_PLAINTEXT listeners and mounts on
loopback), with default.replication.factor=2, min.insync.replicas=1 and
one topic "storm" (two partitions) that takes acks=all writes.

One round, an operation drawn at random:
  - grow: partitions=N+3 written to a topic's .config;
  - mkdir: a new topic;
  - rmdir: a topic made earlier, one of its replicas' brokers killed first
    (started again after the round);
  - move: /admin/reassign_partitions (zkCli) moves partition 0 of a topic
    to the two brokers other than the controller's;
and the controller's broker killed (kill -9) either as soon as its own
data directory holds a log of a new partition (grow, mkdir) or after a
random delay in [0, 0.4] s (move: once the request is made); the
operation's process is waited for, the broker started again. Then, polled with deadlines:
  - every mount lists the topics that should be there and not the one
    deleted, and no data directory holds a log of a deleted topic;
  - every partition of every topic has, on every mount, a leader that is
    in its ISR (a new controller finished or settled every operation);
  - /admin/delete_topics has no child and /admin/reassign_partitions is
    gone;
  - a moved partition has the asked replicas;
  - 50 acks=all writes to storm (through a mount that is not the
    controller's) are acknowledged, and every acknowledged record of every
    round reads back once, in order, through every mount (a write that
    failed may be there or not);
  - at the end, storm's two replicas of each partition hold the same
    bytes in their .log files.

Exit status 0 when every round passed; the first failure stops the run
and keeps its directory (the brokers' logs are in b<N>/broker.log).
"""

import argparse
import os
import subprocess
import threading
import time

from cluster_killstorm import (ROOT, Broker, ZooKeeper,  # noqa: E402
                               read_text, stop_all, storm_main, wait_for)

TOPIC = "storm"


class Round(RuntimeError):
    pass


def zk_cli(zk, *args):
    r = subprocess.run(["sh", "-c", '. "$0"; zk_cli "$@"',
                        os.path.join(ROOT, "tests", "zk.sh"), str(zk.port)]
                       + list(args), capture_output=True, timeout=60)
    return r.stdout.decode()


def controller(brokers):
    for b in brokers:
        if b.alive() and "controller.active=yes" in read_text(
                os.path.join(b.mnt, ".state")).splitlines():
            return b
    return None


def rows(b, topic):
    """{p: (leader, replicas list, isr set)} of topic on b's mount."""
    out = {}
    for line in read_text(os.path.join(b.mnt, topic, ".state")).splitlines():
        f = line.split()
        if len(f) >= 8 and f[0].isdigit() and f[4].lstrip("-").isdigit():
            out[int(f[0])] = (int(f[4]),
                              [int(x) for x in f[6].strip("[]").split(",") if x],
                              {int(x) for x in f[7].strip("[]").split(",") if x})
    return out


def all_led(brokers, topics):
    for b in brokers:
        for t, n in topics.items():
            r = rows(b, t)
            if len(r) != n or any(v[0] not in v[2] for v in r.values()):
                return False
    return True


def put(b, tag, n, want):
    """n acks=all writes to storm/<i % 2> through b's mount; the
    acknowledged ones are appended to want[p]."""
    acked = 0
    for i in range(n):
        p = i % 2
        rec = "%s-%d-%s\n" % (tag, i, os.urandom(8).hex())
        try:
            fd = os.open(os.path.join(b.mnt, TOPIC, str(p)),
                         os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, rec.encode())
            finally:
                os.close(fd)
            want[p].append(rec.rstrip("\n"))
            acked += 1
        except OSError:
            pass
    return acked


def reads_all(b, want):
    for p, recs in want.items():
        got = read_text(os.path.join(b.mnt, TOPIC, str(p))).splitlines()
        it = iter(got)
        if not all(r in it for r in recs) or len(set(got)) != len(got):
            return False
    return True


def same_logs(brokers, p):
    """The replicas of storm-p hold the same bytes: their .log files, each
    one's in order, without the zeros the active segment is preallocated
    with (segments may roll at other offsets on each)."""
    blobs = []
    for b in brokers:
        d = os.path.join(b.data, "%s-%d" % (TOPIC, p))
        if os.path.isdir(d):
            data = b""
            for n in sorted(os.listdir(d)):
                if n.endswith(".log"):
                    with open(os.path.join(d, n), "rb") as f:
                        data += f.read()
            blobs.append(data.rstrip(b"\0"))
    return len(blobs) == 2 and blobs[0] == blobs[1]


def run(a, tmp, rnd, out):
    mqfs = os.path.abspath(a.mqfs)
    zk = ZooKeeper(os.path.join(tmp, "zk"))
    brokers = []
    extra = "default.replication.factor=2\nmin.insync.replicas=1\n" \
            "auto.leader.rebalance.enable=false\nrequest.timeout.ms=15000\n"
    try:
        zk.start()
        connect = "%s:%d/mqfs" % (zk.host, zk.port)
        subprocess.run([mqfs, "--zookeeper", connect, "--add-scram-user",
                        "admin"], input=b"admin-secret\n", check=True,
                       capture_output=True)
        for i in (1, 2, 3):
            brokers.append(Broker(i, mqfs, tmp, connect, a.session_ms, 2,
                                  extra=extra))
            brokers[-1].start()
        wait_for(lambda: all(read_text(os.path.join(b.mnt, ".state"))
                             .count("=alive ") == 3 for b in brokers),
                 60, "three live brokers on every mount")
        os.mkdir(os.path.join(brokers[0].mnt, TOPIC))
        topics = {TOPIC: 2}       # name: partitions, as they should be
        wait_for(lambda: all_led(brokers, topics), 60, "storm led")
        want = {0: [], 1: []}
        made = 0
        for k in range(1, a.rounds + 1):
            op = rnd.choice(("grow", "mkdir", "rmdir", "move"))
            if op in ("grow", "rmdir", "move") and len(topics) < 2:
                op = "mkdir"
            ctl = controller(brokers)
            if ctl is None:
                raise Round("round %d: no controller" % k)
            others = [b for b in brokers if b is not ctl]
            via = others[0]
            name, watch, down, moved = None, [], None, None
            if op == "mkdir":
                made += 1
                name = "c%d" % made
                watch = ["%s-0" % name, "%s-1" % name]
                target = (os.mkdir, os.path.join(via.mnt, name))
            elif op == "grow":
                name = rnd.choice([t for t in topics if t != TOPIC])
                n = topics[name]
                watch = ["%s-%d" % (name, q) for q in range(n, n + 3)]

                def grow(path=os.path.join(via.mnt, name, ".config"), n=n):
                    with open(path, "w") as f:
                        f.write("partitions=%d\n" % (n + 3))
                target = (grow,)
            elif op == "rmdir":
                name = rnd.choice([t for t in topics if t != TOPIC])
                reps = rows(via, name).get(0, (0, [], set()))[1]
                cand = [b for b in others if b.id in reps and b is not via]
                if cand:
                    down = cand[0]
                    down.kill9()
                target = (os.rmdir, os.path.join(via.mnt, name))
            else:
                name = rnd.choice([t for t in topics if t != TOPIC])
                # Not to the controller's broker: killed, it may not be
                # registered again when the next controller reads the
                # request, which then refuses it (as Kafka's does).
                moved = [b.id for b in others]
                doc = ('{"version":1,"partitions":[{"topic":"%s","partition"'
                       ':0,"replicas":[%d,%d]}]}' % (name, moved[0], moved[1]))
                target = (zk_cli, zk, "create", "/mqfs/admin/reassign_partitions",
                          doc)
            th = threading.Thread(target=lambda: _quiet(*target))
            th.start()
            if op == "move":
                th.join(60)  # the request made: the move under way
            end = time.monotonic() + (10 if watch else rnd.uniform(0, 0.4))
            while time.monotonic() < end and not any(
                    os.path.exists(os.path.join(ctl.data, w)) for w in watch):
                pass
            ctl.kill9()
            th.join(90)
            print("round %d: %s %s, controller %d killed%s" %
                  (k, op, name, ctl.id,
                   ", broker %d down" % down.id if down else ""), file=out)
            ctl.start()
            if down:
                down.start()
            if op == "mkdir":
                topics[name] = 2  # num.partitions
            elif op == "grow":
                topics[name] += 3
            elif op == "rmdir":
                del topics[name]
            gone = name if op == "rmdir" else None

            def settled():
                for b in brokers:
                    names = set(os.listdir(b.mnt))
                    if not set(topics) <= names or (gone and gone in names):
                        return False
                    if gone and any(d.startswith(gone + "-")
                                    for d in os.listdir(b.data)):
                        return False
                if moved and any(sorted(rows(b, name).get(0, (0, [], 0))[1])
                                 != sorted(moved) for b in brokers):
                    return False
                return all_led(brokers, topics)
            try:
                wait_for(settled, 90, "round %d settled" % k)
            except RuntimeError as e:
                raise Round(str(e))
            if "Node does not exist" not in zk_cli(
                    zk, "get", "/mqfs/admin/reassign_partitions") or \
                    "[]" not in zk_cli(zk, "ls", "/mqfs/admin/delete_topics"):
                raise Round("round %d: /admin/* not cleaned up" % k)
            w = next(b for b in brokers if b is not controller(brokers))
            if put(w, "r%d" % k, 50, want) != 50:
                raise Round("round %d: a write failed with every broker up" % k)
            try:
                wait_for(lambda: all(reads_all(b, want) for b in brokers), 60,
                         "round %d: every acknowledged record" % k)
            except RuntimeError as e:
                raise Round(str(e))
        for p in (0, 1):
            try:
                wait_for(lambda: same_logs(brokers, p), 30,
                         "storm-%d's replicas to agree" % p)
            except RuntimeError as e:
                raise Round(str(e))
        print("%d rounds passed, 0 failed" % a.rounds, file=out)
        return 0
    except Round as e:
        print("cluster_ctlcrash: %s (logs in %s)" % (e, tmp), file=out)
        a.keep = True
        print("0 passed, 1 failed", file=out)
        return 1
    finally:
        stop_all([], brokers, zk)


def _quiet(fn, *args):
    """The operation; what it raises (the mount of a killed broker, a
    request that timed out) is judged by the checks after the round."""
    try:
        fn(*args)
    except (OSError, subprocess.SubprocessError):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mqfs", default=os.path.join(ROOT, "build", "mqfs"))
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--session-ms", type=int, default=4000)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    return storm_main("cluster_ctlcrash", "mqfs-ctlcrash.", a, run)


if __name__ == "__main__":
    raise SystemExit(main())
