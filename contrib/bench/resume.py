#!/usr/bin/env python3
"""resume.py — how long writes stop when a partition's leader goes.

    python3 resume.py SIGNAL PID MNT PATH [PATH...]

SIGNAL is TERM (a clean stop: the broker asks the controller to move its
leaderships away first, controlled.shutdown.enable) or KILL. PID is the
leader's mqfs process, MNT its mount, each PATH a partition file on a
SURVIVOR's mount (a non-leader forwards the write to the leader).

One writer, one 100-byte write() at a time (open, write, close), round
robin over the PATHs, never retried: a write that returned in full is
acknowledged (acks=all on the mount); a failed one (EAGAIN, ETIMEDOUT,
ENOTCONN, ...) is counted by errno and the next one begins 10 ms later.
The writer starts before the signal, so that the first writes show the
cluster writing, then sends SIGNAL to PID itself (t = 0) and goes on
until the process has exited and its mount is gone and some writes were
acknowledged after that, or 110 s.

Prints one line, seconds from the signal:
  first   the first acknowledged write begun after the signal;
  gap     the longest time without an acknowledgement from the signal on
          (the signal counting as one): writes the stopping leader
          acknowledged before it gave up leadership do not hide a stall
          after them;
  exit    the stopping process has exited (a zombie counts: the shell
          that started it reaps it later);
  umount  its mount is gone from /proc/self/mounts (SIGTERM; "-" after
          SIGKILL, whose dead mount stays until fusermount3 -u);
then the mount (the third path component from the end) that took the
first acknowledged write and the failed writes by errno. Exit status 1
when no write was acknowledged after the signal within 110 s.
"""
import errno
import os
import signal
import sys
import threading
import time

DEADLINE = 110
WARMUP = 0.3     # seconds of writes before the signal
AFTER = 0.5      # seconds of writes after the exit and the unmount


def exited(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def mounted(mnt):
    esc = mnt.replace("\\", "\\134").replace(" ", "\\040")
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == esc for line in f)


class Watch(threading.Thread):
    """Polls every 5 ms from the signal on (a write that blocks does not
    delay it): when the process exited, when its mount went."""

    def __init__(self, pid, mnt, t_sig):
        super().__init__(daemon=True)
        self.pid, self.mnt, self.t_sig = pid, mnt, t_sig
        self.exit_t = self.umount_t = None

    def run(self):
        while time.monotonic() - self.t_sig < DEADLINE and \
                (self.exit_t is None or self.umount_t is None):
            now = time.monotonic() - self.t_sig
            if self.exit_t is None and exited(self.pid):
                self.exit_t = now
            if self.umount_t is None and not mounted(self.mnt):
                self.umount_t = now
            time.sleep(0.005)


def write_one(path, i):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        return os.write(fd, b"%099d\n" % i) == 100
    finally:
        os.close(fd)


def main():
    if len(sys.argv) < 5 or sys.argv[1] not in ("TERM", "KILL"):
        sys.exit(__doc__.split("\n\n")[1])
    sig = signal.SIGTERM if sys.argv[1] == "TERM" else signal.SIGKILL
    pid, mnt, paths = int(sys.argv[2]), os.path.abspath(sys.argv[3]), sys.argv[4:]
    errs, i = {}, 0
    t_sig = first = watch = None
    first_on, last_ack, gap = "", None, 0.0
    start = time.monotonic()
    while True:
        now = time.monotonic()
        if t_sig is None and now - start >= WARMUP:
            os.kill(pid, sig)
            t_sig = last_ack = time.monotonic()
            watch = Watch(pid, mnt, t_sig)
            watch.start()
            now = t_sig
        if t_sig is not None:
            # A killed daemon's mount stays (dead) until fusermount3.
            ends = [watch.exit_t] + ([watch.umount_t] if sig == signal.SIGTERM else [])
            done = None not in ends and first is not None
            if (done and now - t_sig > max(ends) + AFTER) or now - t_sig > DEADLINE:
                break
        p = paths[i % len(paths)]
        i += 1
        began = time.monotonic()
        try:
            ok = write_one(p, i)
        except OSError as e:
            ok = False
            if t_sig is not None:
                name = errno.errorcode.get(e.errno, str(e.errno))
                errs[name] = errs.get(name, 0) + 1
        if not ok:
            time.sleep(0.01)
            continue
        acked = time.monotonic()
        if t_sig is None:
            continue
        gap = max(gap, acked - last_ack)
        last_ack = acked
        if first is None and began >= t_sig:
            first, first_on = acked - t_sig, p.split("/")[-3]
    gap = max(gap, time.monotonic() - last_ack)
    if first is None:
        sys.exit("no acknowledged write within %d s of SIG%s: errnos %r" %
                 (DEADLINE, sys.argv[1], errs))
    fmt = lambda v: "-" if v is None else "%.3f" % v  # noqa: E731
    print("first %s gap %s exit %s umount %s on %s errors %s" %
          (fmt(first), fmt(gap), fmt(watch.exit_t), fmt(watch.umount_t),
           first_on,
           ",".join("%s:%d" % kv for kv in sorted(errs.items())) or "none"))


if __name__ == "__main__":
    main()
