#!/usr/bin/env python3
"""netfault_proxy.py -- a userspace TCP proxy that makes a bad network.

The kernel here has no netem, so the cluster tests put this proxy between
two parties (a follower and its leader: the leader advertises the proxy's
port; a client and a broker; a broker and ZooKeeper) and tell it, through
a control socket, how to mistreat the bytes:

  netfault_proxy.py CTL NAME=LISTEN_PORT:TARGET_HOST:TARGET_PORT ...

Each NAME is a route: connections accepted on 127.0.0.1:LISTEN_PORT are
forwarded to TARGET. CTL is a UNIX socket path; each connection to it
sends one line and reads one line back ("ok ..." or "error ..."):

  mode NAME pass                  forward as it comes (the start)
  mode NAME hole c2s|s2c|both     a black hole: stop forwarding (and
                                  reading) in that direction without
                                  closing; held bytes go on at the heal
  mode NAME bytes                 one byte a segment
  mode NAME slices                random slices of 1..64 bytes
  mode NAME delay MIN_MS MAX_MS   each chunk held a random time first
  mode NAME rst c2s|s2c N         RST both ends after N more bytes that way
  mode NAME close c2s|s2c N       FIN both ends after N more bytes that way
  reset NAME                      RST every open connection of the route
  stats NAME                      "ok conns=A open=B c2s=X s2c=Y"

A mode applies to every connection of the route, open or new, at its next
chunk. Directions: c2s from the accepted client to the target, s2c back.
The proxy prints "ready" on stdout once every port listens, and runs
until killed. One thread per direction of a connection: a blocked
direction holds nothing else up.
"""
import os
import random
import socket
import struct
import sys
import threading
import time


class Route:
    def __init__(self, name, lport, thost, tport):
        self.name = name
        self.lport = lport
        self.target = (thost, tport)
        self.cond = threading.Condition()
        self.mode = ("pass",)
        self.gen = 0  # bumped at each mode change: a fault counts from it
        self.conns = set()
        self.n_conns = 0
        self.bytes = {"c2s": 0, "s2c": 0}


def rst(sock):
    """Closes sock with an RST (linger 0); wakes a thread blocked in recv
    on it first (shutdown of the read side sends nothing on TCP)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass


class Conn:
    def __init__(self, route, client, server):
        self.route = route
        self.client = client
        self.server = server
        self.lock = threading.Lock()
        self.ended = False
        self.done = 0

    def end(self, how):
        with self.lock:
            if self.ended:
                return
            self.ended = True
        for s in (self.client, self.server):
            if how == "rst":
                rst(s)
            else:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def finish(self):
        with self.lock:
            self.done += 1
            last = self.done == 2
        if last:
            for s in (self.client, self.server):
                try:
                    s.close()
                except OSError:
                    pass
            with self.route.cond:
                self.route.conns.discard(self)

    def pump(self, src, dst, way):
        r = self.route
        counted_gen = -1
        count = 0
        try:
            while not self.ended:
                with r.cond:
                    while (r.mode[0] == "hole" and r.mode[1] in (way, "both")
                           and not self.ended):
                        r.cond.wait(0.2)
                if self.ended:
                    break
                try:
                    data = src.recv(65536)
                except OSError:
                    break
                if not data:
                    try:
                        dst.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
                    break
                while data and not self.ended:
                    with r.cond:
                        while (r.mode[0] == "hole" and r.mode[1] in (way, "both")
                               and not self.ended):
                            r.cond.wait(0.2)
                        mode, gen = r.mode, r.gen
                    if mode[0] in ("rst", "close") and mode[1] == way:
                        if gen != counted_gen:
                            counted_gen, count = gen, 0
                        room = mode[2] - count
                        if room <= 0:
                            self.end(mode[0])
                            break
                        piece = data[:room]
                    elif mode[0] == "bytes":
                        piece = data[:1]
                    elif mode[0] == "slices":
                        piece = data[:random.randint(1, 64)]
                    else:
                        piece = data
                    if mode[0] == "delay":
                        time.sleep(random.uniform(mode[1], mode[2]) / 1000.0)
                    elif mode[0] in ("bytes", "slices"):
                        time.sleep(0.0005)
                    dst.sendall(piece)
                    data = data[len(piece):]
                    with r.cond:
                        r.bytes[way] += len(piece)
                    if mode[0] in ("rst", "close") and mode[1] == way:
                        count += len(piece)
                        if count >= mode[2]:
                            self.end(mode[0])
                            break
        except OSError:
            pass
        finally:
            # One direction gone ends the other (a proxy does not keep
            # half of a connection the other end believes closed).
            self.end("fin")
            self.finish()


def serve(route, lsock):
    while True:
        client, _ = lsock.accept()
        try:
            server = socket.create_connection(route.target, timeout=10)
        except OSError:
            rst(client)
            client.close()
            continue
        server.settimeout(None)
        for s in (client, server):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c = Conn(route, client, server)
        with route.cond:
            route.conns.add(c)
            route.n_conns += 1
        threading.Thread(target=c.pump, args=(client, server, "c2s"), daemon=True).start()
        threading.Thread(target=c.pump, args=(server, client, "s2c"), daemon=True).start()


def command(routes, line):
    w = line.split()
    if len(w) < 2 or w[1] not in routes:
        return "error unknown route"
    r = routes[w[1]]
    if w[0] == "mode":
        m = w[2:]
        if m == ["pass"] or m == ["bytes"] or m == ["slices"]:
            mode = (m[0],)
        elif len(m) == 2 and m[0] == "hole" and m[1] in ("c2s", "s2c", "both"):
            mode = (m[0], m[1])
        elif len(m) == 3 and m[0] == "delay":
            mode = ("delay", int(m[1]), int(m[2]))
        elif len(m) == 3 and m[0] in ("rst", "close") and m[1] in ("c2s", "s2c"):
            mode = (m[0], m[1], int(m[2]))
        else:
            return "error bad mode"
        with r.cond:
            r.mode = mode
            r.gen += 1
            r.cond.notify_all()
        return "ok"
    if w[0] == "reset":
        with r.cond:
            conns = list(r.conns)
        for c in conns:
            c.end("rst")
        return "ok %d" % len(conns)
    if w[0] == "stats":
        with r.cond:
            return "ok conns=%d open=%d c2s=%d s2c=%d" % (
                r.n_conns, len(r.conns), r.bytes["c2s"], r.bytes["s2c"])
    return "error unknown command"


def main():
    ctl_path = sys.argv[1]
    routes = {}
    for spec in sys.argv[2:]:
        name, rest = spec.split("=", 1)
        lport, thost, tport = rest.split(":")
        routes[name] = Route(name, int(lport), thost, int(tport))
    for r in routes.values():
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", r.lport))
        ls.listen(128)
        threading.Thread(target=serve, args=(r, ls), daemon=True).start()
    try:
        os.unlink(ctl_path)
    except FileNotFoundError:
        pass
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl.bind(ctl_path)
    ctl.listen(8)
    print("ready", flush=True)
    while True:
        s, _ = ctl.accept()
        with s:
            line = s.makefile("r").readline()
            try:
                answer = command(routes, line)
            except (ValueError, IndexError) as e:
                answer = "error %s" % e
            s.sendall((answer + "\n").encode())


if __name__ == "__main__":
    main()
