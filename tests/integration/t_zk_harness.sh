#!/bin/sh
# t_zk_harness.sh — tests/zk.sh, the ZooKeeper server the cluster tests run:
# zk_start answers on a free loopback port, a client sees the server,
# zk_stop leaves no process behind, and a start that cannot bind (its port
# taken) fails with the server's log and leaves nothing behind either.
# Needs no mount.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

srvr() {
	python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.settimeout(10); s.sendall(b"srvr"); out = b""
while True:
    b = s.recv(4096)
    if not b: break
    out += b
print(out.decode())' "$1"
}

# ---- start, answer, stop ----------------------------------------------------
port=$(zk_free_port)
# zk_* are shell functions: called here, not through expect_* (timeout
# runs programs only).
zk_start "$MQ_TMP/zk" "$port"
expect_eq "zk_start on 127.0.0.1:$port" "0" "$?"
pid=$(cat "$MQ_TMP/zk/zk.pid" 2>/dev/null)
# ruok answered already; a JVM just started on a loaded machine may still
# be slow to serve the next four-letter word: asked again until a deadline.
standalone() {
	case $(srvr "$port" 2>&1) in
	*"Zookeeper version"*"Mode: standalone"*) return 0 ;;
	*) return 1 ;;
	esac
}
case $(poll 60 standalone && echo yes) in
yes) ok "srvr answers: a standalone server" ;;
*) fail "srvr answers" "$(srvr "$port" 2>&1)" ;;
esac
expect_eq "data under the test's dir" "yes" \
	"$([ -d "$MQ_TMP/zk/data/version-2" ] && echo yes || echo no)"
zk_stop "$MQ_TMP/zk"
expect_eq "zk_stop: the server is gone" "gone" \
	"$(kill -0 "$pid" 2>/dev/null && echo alive || echo gone)"
zk_ruok "$port"
expect_eq "zk_stop: nothing answers" "1" "$?"

# ---- a port already taken ---------------------------------------------------
port=$(zk_free_port)
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
sys.stdout.write("bound\n"); sys.stdout.flush(); time.sleep(120)' "$port" \
	>"$MQ_TMP/holder.out" &
holder=$!
i=0
while [ "$(cat "$MQ_TMP/holder.out" 2>/dev/null)" != bound ] && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done
ZK_START_TIMEOUT=30 zk_start "$MQ_TMP/zk2" "$port" 2>"$MQ_TMP/zk2.err"
expect_eq "zk_start on a taken port fails" "1" "$?"
expect_eq "its log is shown" "yes" \
	"$(grep -q 'did not start' "$MQ_TMP/zk2.err" && echo yes || echo no)"
expect_eq "and no pid file is left" "no" \
	"$([ -f "$MQ_TMP/zk2/zk.pid" ] && echo yes || echo no)"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

mq_done
