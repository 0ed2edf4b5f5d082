#!/bin/sh
# Installs the Debian packages mqfs needs to build, test and run, when missing.
# Called by `make run`, `make test`, `make asan`, `make bench`, `make fuzz`.
#   sh contrib/install-deps.sh [clang|bench]
set -e
need="libfuse3-dev fuse3 liblz4-dev lz4 zlib1g-dev libcmocka-dev pkg-config"
# tests/integration/t_service.sh, t_permissions.sh: promtool (prometheus),
# systemd-analyze (systemd), groff (groff-base), useradd (passwd),
# setpriv/unshare/mount (util-linux). Installing prometheus also installs
# (and, where systemd runs, enables) a Prometheus server unit.
need="$need prometheus systemd groff-base passwd util-linux"
# t_groups.sh, t_produce.sh and contrib/bench/latency.sh drive a few system
# calls (poll, close errors, timestamps) from python3; the benchmarks use bc.
need="$need python3 bc"
# repl/sasl.c: SCRAM-SHA-256 (PBKDF2, HMAC, SHA-256, RAND_bytes) from libcrypto.
need="$need libssl-dev"
# repl/zkdata.c writes Kafka's ZooKeeper documents with jansson; repl/zkc.c
# is a client over libzookeeper-mt; tests/zk.sh and tests/unit/test_zk.c run
# a real ZooKeeper server (zookeeper, with its jars and a JRE).
need="$need libjansson-dev libzookeeper-mt-dev zookeeper"
# t_writes.sh: what an editor's save and rsync --inplace do to a partition.
need="$need vim-tiny rsync"
# kcat: t_cluster_start.sh checks the SASL listener with a real Kafka client.
need="$need kcat"
# t_kafka_produce.sh: kafkajs, a Kafka client from npm (node and npm from
# Debian unless a node is there already; kafkajs into build/npm by npm
# itself, below).
command -v npm >/dev/null 2>&1 || need="$need nodejs npm"
# `make fuzz` only (sh contrib/install-deps.sh clang): libFuzzer comes with
# clang.
[ "$1" = clang ] && need="$need clang"
# `make bench` only (sh contrib/install-deps.sh bench): contrib/bench/redis.sh
# runs Redis Streams beside mqfs (redis-server, and redis-cli from
# redis-tools). The benchmark starts its own server on loopback; where
# systemd runs, the package also enables a system redis-server unit
# (127.0.0.1:6379), which the benchmark does not use.
[ "$1" = bench ] && need="$need redis-server redis-tools"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' \
        || missing="$missing $p"
done
# kafkajs for the integration tests, once, into build/npm.
kafkajs() {
    [ -d build/npm/node_modules/kafkajs ] && return 0
    command -v npm >/dev/null 2>&1 || return 0
    echo "mqfs: installing kafkajs 2.2.4 into build/npm" >&2
    npm install --silent --no-audit --no-fund --prefix build/npm kafkajs@2.2.4 >/dev/null
}
if [ -z "$missing" ]; then
    kafkajs
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "mqfs: missing packages:$missing (run as root, or: apt-get install$missing)" >&2
    exit 1
fi
echo "mqfs: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
kafkajs
