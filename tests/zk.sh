# tests/zk.sh — a real ZooKeeper server for tests (POSIX sh, to be sourced).
#
#   . tests/zk.sh
#   port=$(zk_free_port)
#   zk_start "$dir" "$port" || exit 1     # background server, waits until it answers
#   ...  zookeeper.connect=127.0.0.1:$port
#   zk_stop "$dir"                         # kill by its pid, wait for it
#
# The server is Debian's (package zookeeper): the class
# org.apache.zookeeper.server.ZooKeeperServerMain run by java with the jars
# under /usr/share/java and our own zoo.cfg (Debian's zkServer.sh ignores
# --config). It listens on 127.0.0.1 only (ZK_ADDRESS moves it to another
# local address, such as one in a network namespace a test made), keeps
# its data in DIR/data and its output in DIR/zk.log, and answers the
# "ruok" and "srvr" four-letter words (ZooKeeper 3.8 allows none by
# default), which is how zk_start knows it is up. tests/unit/zksrv.c runs
# zk_exec from here, so both kinds of test start the server the same way.

# Jars the server needs: ZooKeeper and its wire format (jute), slf4j with
# the no-op binding (the server's log would only fill the test output),
# netty (its client connections), metrics, commons-cli, snappy (snapshots).
ZK_JARS="zookeeper zookeeper-jute slf4j-api slf4j-nop netty-handler netty-common
netty-buffer netty-transport netty-codec netty-resolver
netty-transport-native-epoll netty-transport-native-unix-common metrics-core
commons-cli snappy-java"
ZK_JAVA_DIR=${ZK_JAVA_DIR:-/usr/share/java}
# Seconds zk_start waits for the first answer: a JVM start takes 1-2 s
# here, much longer when the two cores are busy.
ZK_START_TIMEOUT=${ZK_START_TIMEOUT:-60}

zk_classpath() {
	cp=""
	for j in $ZK_JARS; do
		[ -f "$ZK_JAVA_DIR/$j.jar" ] || { echo "zk.sh: missing $ZK_JAVA_DIR/$j.jar" >&2; return 1; }
		cp="$cp${cp:+:}$ZK_JAVA_DIR/$j.jar"
	done
	echo "$cp"
}

# zk_config DIR PORT: writes DIR/zoo.cfg.
zk_config() {
	mkdir -p "$1/data" || return 1
	cat >"$1/zoo.cfg" <<EOF
tickTime=500
initLimit=10
syncLimit=5
dataDir=$1/data
clientPort=$2
clientPortAddress=${ZK_ADDRESS:-127.0.0.1}
maxClientCnxns=200
minSessionTimeout=1000
maxSessionTimeout=60000
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
EOF
}

# zk_exec DIR PORT: becomes the server (foreground), output to DIR/zk.log.
zk_exec() {
	zk_config "$1" "$2" || return 1
	cp=$(zk_classpath) || return 1
	exec java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-cp "$cp" org.apache.zookeeper.server.ZooKeeperServerMain \
		"$1/zoo.cfg" >>"$1/zk.log" 2>&1
}

# zk_free_port: a TCP port on 127.0.0.1 that nothing listens on now.
zk_free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# zk_ruok PORT: succeeds when a server on that port answers "imok".
zk_ruok() {
	python3 -c 'import socket, sys
try:
    s = socket.create_connection((sys.argv[2], int(sys.argv[1])), 1)
    s.settimeout(1); s.sendall(b"ruok"); ok = s.recv(4) == b"imok"
except OSError:
    ok = False
sys.exit(0 if ok else 1)' "$1" "${ZK_ADDRESS:-127.0.0.1}"
}

# zk_srvr PORT FIELD: a field of the server's "srvr" answer as it prints
# it ("Received", "Zxid", ...).
zk_srvr() {
	python3 -c 'import re, socket, sys
s = socket.create_connection((sys.argv[3], int(sys.argv[1])), 5)
s.sendall(b"srvr"); d = b""
while True:
    c = s.recv(4096)
    if not c:
        break
    d += c
print(re.search(rb"\n" + sys.argv[2].encode() + rb": (\S+)", d).group(1).decode())' "$1" "$2" "${ZK_ADDRESS:-127.0.0.1}"
}

# zk_received PORT: the requests the server has received so far (the
# "Received" line of "srvr").
zk_received() {
	zk_srvr "$1" Received
}

# zk_start DIR PORT: starts the server in the background (pid in DIR/zk.pid)
# and waits until it answers; on failure stops it and shows its log.
zk_start() {
	mkdir -p "$1" || return 1
	(zk_exec "$1" "$2") &
	echo $! >"$1/zk.pid"
	end=$(($(date +%s) + ZK_START_TIMEOUT))
	while ! zk_ruok "$2"; do
		if ! kill -0 "$(cat "$1/zk.pid")" 2>/dev/null || [ "$(date +%s)" -ge "$end" ]; then
			echo "zk.sh: ZooKeeper on 127.0.0.1:$2 did not start; its log:" >&2
			cat "$1/zk.log" >&2 2>/dev/null
			zk_stop "$1"
			return 1
		fi
		sleep 0.1
	done
}

# zk_cli PORT COMMAND...: one command of ZooKeeper's own shell
# (org.apache.zookeeper.ZooKeeperMain: create, set, get, delete,
# deleteall, ls) against the server on PORT, as an operator types it in
# zkCli.sh; its output without the connection chatter. A JVM start each:
# a second or two.
zk_cli() {
	cp=$(zk_classpath) || return 1
	_zp=$1
	shift
	# Bounded, as every step of a test: a client that cannot reach the
	# server ends with an error, not with the script's own timeout.
	timeout -k 5 "${ZK_CLI_TIMEOUT:-60}" \
		java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$cp" \
		org.apache.zookeeper.ZooKeeperMain -server "${ZK_ADDRESS:-127.0.0.1}:$_zp" "$@" 2>&1 |
		grep -v '^WATCHER::\|^WatchedEvent\|^Connecting\|^$'
}

# zk_stop DIR: kills the server started by zk_start DIR and waits for it.
zk_stop() {
	[ -f "$1/zk.pid" ] || return 0
	pid=$(cat "$1/zk.pid")
	kill -9 "$pid" 2>/dev/null
	# Not our child when sourced in another shell: poll until it is gone.
	wait "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	rm -f "$1/zk.pid"
}
