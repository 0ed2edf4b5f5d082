#!/usr/bin/env python3
"""killstorm.py — kill -9 an mqfs daemon again and again under concurrent
writers, and check after every restart that nothing acknowledged was lost,
duplicated or garbled.

    python3 contrib/killstorm.py [--mqfs build/mqfs] [--kills 300]
                                 [--writers 8] [--partitions 4]
                                 [--min-run 0.05] [--max-run 0.6] [--seed N]
                                 [--full-every 50] [--keep]

One cycle: mount a daemon on the same data directory, start the writers,
let them write for a random time in [min-run, max-run] seconds, kill -9 the
daemon, clear the dead mount (fusermount3 -u -z), mount again and check.

Writers. Writer w owns the records "w<w>-<seq>" (seq 1, 2, 3, ...), appended
one record per write() to partition w % partitions, through its own file
descriptor opened with O_APPEND. A write() that returned is acknowledged:
with the default acks=all a single node has then appended and committed the
record. A writer never retries: when a write fails (the daemon is gone), the
seq it tried is "in doubt" (it may or may not have been appended) and the
next cycle continues with seq + 1.

Checks, after every restart, over every partition file read with cat:
    garbled     a line that is not exactly "w<int>-<int>" of a writer
    duplicated  a writer's seq not above the last one seen for that writer
                (a record again, or out of order)
    lost        an acknowledged seq that is missing
    unknown     a seq never written (above the writer's last attempt)
In-doubt seqs may be present or absent. The summary prints the counts; the
exit status is 0 only when lost, duplicated, garbled and unknown are all 0.

Only processes this script starts are killed (by pid); its directories are
removed at the end unless --keep is given.
"""
import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

LINE = re.compile(rb"^w(\d+)-(\d+)$")


def wait_for(pred, deadline_s, what):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for " + what)


def is_mounted(mnt):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == mnt for line in f)


class Daemon:
    mount_wait = 30     # seconds a start may take to answer on its mount

    def __init__(self, mqfs, data, mnt, log):
        self.mqfs, self.data, self.mnt, self.log = mqfs, data, mnt, log
        self.proc = None

    def argv(self):
        return [self.mqfs, "-f", "--data", self.data, self.mnt]

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            self.argv(),
            stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        logf.close()
        # The root's .state exists once the mount answers.
        wait_for(lambda: self.proc.poll() is None and is_mounted(self.mnt)
                 and os.path.exists(os.path.join(self.mnt, ".state")),
                 self.mount_wait, "the mount " + self.mnt)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                       stderr=subprocess.DEVNULL)
        wait_for(lambda: not is_mounted(self.mnt), 30, "the dead mount to go")

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        subprocess.run(["fusermount3", "-u", self.mnt],
                       stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                           stderr=subprocess.DEVNULL)


class Writer:
    """One writer's records over all cycles; a thread per cycle."""

    def __init__(self, wid):
        self.wid = wid
        self.doubt = set()      # seqs whose write() failed or was cut short
        self.next_seq = 1
        self.thread = None

    def start(self, path):
        self.thread = threading.Thread(target=self._run, args=(path,),
                                       daemon=True)
        self.thread.start()

    def _run(self, path):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        except OSError:
            return
        try:
            while True:     # until the daemon dies under us
                seq = self.next_seq
                self.next_seq += 1
                rec = b"w%d-%d\n" % (self.wid, seq)
                try:
                    n = os.write(fd, rec)
                except OSError:
                    self.doubt.add(seq)
                    return
                if n != len(rec):
                    self.doubt.add(seq)
                    return
        finally:
            try:
                os.close(fd)
            except OSError:
                pass


class Checker:
    """Reads the partition files from where the last check stopped (byte
    positions are stable, so the bytes before it cannot change unless data
    was lost, which a full re-read from 0, every --full-every kills and at
    the end, would show). Per writer it keeps only counters and the last
    seq seen: a writer's seqs are strictly increasing in its partition."""

    def __init__(self, mnt, topic, partitions, writers):
        self.mnt, self.topic, self.partitions = mnt, topic, partitions
        self.writers = writers
        self.reset()

    def path(self, p):
        """The file partition p is read from (the cluster storm reads each
        partition through its leader's mount)."""
        return os.path.join(self.mnt, self.topic, str(p))

    def reset(self):
        self.pos = [0] * self.partitions
        self.last = {w.wid: 0 for w in self.writers}
        self.present = {w.wid: 0 for w in self.writers}  # acked seqs seen
        self.garbled = self.duplicated = self.unknown = 0

    def run(self, full):
        if full:
            self.reset()
        byid = {w.wid: w for w in self.writers}
        for p in range(self.partitions):
            with open(self.path(p), "rb") as f:
                f.seek(self.pos[p])
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.pos[p] += end
            for line in data[:end].split(b"\n")[:-1]:
                m = LINE.match(line)
                w = byid.get(int(m.group(1))) if m else None
                if w is None:
                    self.garbled += 1
                    continue
                seq = int(m.group(2))
                if seq <= self.last[w.wid]:
                    self.duplicated += 1        # again, or out of order
                    continue
                self.last[w.wid] = seq
                if seq >= w.next_seq:
                    self.unknown += 1
                elif seq not in w.doubt:
                    self.present[w.wid] += 1
        acked = sum(w.next_seq - 1 - len(w.doubt) for w in self.writers)
        lost = acked - sum(self.present.values())
        return dict(acked=acked, lost=lost, duplicated=self.duplicated,
                    garbled=self.garbled, unknown=self.unknown)


def storm_args(kills, writers, partitions, min_run, max_run):
    """The options both storms share, with each one's defaults."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--mqfs", default="build/mqfs")
    ap.add_argument("--kills", type=int, default=kills)
    ap.add_argument("--writers", type=int, default=writers)
    ap.add_argument("--partitions", type=int, default=partitions)
    ap.add_argument("--min-run", type=float, default=min_run)
    ap.add_argument("--max-run", type=float, default=max_run)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true")
    return ap


def main():
    ap = storm_args(300, 8, 4, 0.05, 0.6)
    ap.add_argument("--full-every", type=int, default=50)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else int(time.time())
    rnd = random.Random(seed)
    mqfs = os.path.abspath(a.mqfs)
    tmp = tempfile.mkdtemp(prefix="mqfs-killstorm.")
    data, mnt = os.path.join(tmp, "data"), os.path.join(tmp, "mnt")
    os.mkdir(data)
    os.mkdir(mnt)
    d = Daemon(mqfs, data, mnt, os.path.join(tmp, "daemon.log"))
    topic = "storm"
    worst = {}
    t0 = time.monotonic()
    kills = 0
    try:
        d.start()
        os.mkdir(os.path.join(mnt, topic))
        with open(os.path.join(mnt, topic, ".config"), "w") as f:
            # Small segments: kills land on rolls too.
            f.write("partitions=%d\nsegment.bytes=262144\n" % a.partitions)
        writers = [Writer(i) for i in range(a.writers)]
        checker = Checker(mnt, topic, a.partitions, writers)
        for k in range(a.kills):
            for w in writers:
                w.start(os.path.join(mnt, topic, str(w.wid % a.partitions)))
            time.sleep(rnd.uniform(a.min_run, a.max_run))
            d.kill9()
            kills += 1
            for w in writers:
                w.thread.join(30)
                if w.thread.is_alive():
                    raise RuntimeError("writer %d hangs after kill" % w.wid)
            d.start()
            res = checker.run(kills % a.full_every == 0)
            for key, v in res.items():
                worst[key] = v if key == "acked" else max(worst.get(key, 0), v)
            bad = {k: v for k, v in res.items() if k != "acked" and v}
            print("kill %d: %d acknowledged records checked%s" %
                  (kills, res["acked"], (", " + str(bad)) if bad else ""),
                  flush=True)
        res = checker.run(True)
        for key, v in res.items():
            worst[key] = v if key == "acked" else max(worst.get(key, 0), v)
    finally:
        d.stop()
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("seed %d, %d kills in %.0f s, %d writers on %d partitions" %
          (seed, kills, time.monotonic() - t0, a.writers, a.partitions))
    print("acknowledged records checked: %d" % worst.get("acked", 0))
    bad = ("lost", "duplicated", "garbled", "unknown")
    print("  ".join("%s: %d" % (k, worst.get(k, 0)) for k in bad))
    ok = all(worst.get(k, 0) == 0 for k in bad)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
