#!/bin/sh
# Installs the Debian packages mqfs needs to build, test and run, when missing.
# Called by `make run` (run: what building and mounting need), `make cluster`
# (cluster: that and the ZooKeeper server), `make test` and `make asan` (no
# argument: everything the tests use), `make bench`, `make fuzz`.
#   sh contrib/install-deps.sh [run|cluster|clang|bench]
set -e
# Building and running: FUSE, the codecs, libcrypto (repl/sasl.c's SCRAM),
# jansson and libzookeeper-mt (repl/zkdata.c, repl/zkc.c).
build="libfuse3-dev fuse3 liblz4-dev lz4 zlib1g-dev libzstd-dev pkg-config libssl-dev"
build="$build libjansson-dev libzookeeper-mt-dev"
tests=yes
case $1 in
run)     need=$build; tests=no ;;
# contrib/cluster/run.sh: ZooKeeper's server, and python3 for tests/zk.sh's
# free ports and its "ruok" probe.
cluster) need="$build zookeeper python3"; tests=no ;;
*)       need="$build libcmocka-dev" ;;
esac
if [ "$tests" = yes ]; then
# tests/integration/t_service.sh, t_permissions.sh: promtool (prometheus),
# systemd-analyze (systemd), groff (groff-base), useradd (passwd),
# setpriv/unshare/mount (util-linux). Installing prometheus also installs
# (and, where systemd runs, enables) a Prometheus server unit.
need="$need prometheus systemd groff-base passwd util-linux"
# t_groups.sh, t_produce.sh and contrib/bench/latency.sh drive a few system
# calls (poll, close errors, timestamps) from python3; the benchmarks use bc.
need="$need python3 bc"
# tests/zk.sh, the cluster tests and contrib/bench/cluster.sh run a real
# ZooKeeper server (zookeeper, with its jars and a JRE).
need="$need zookeeper"
# t_writes.sh: what an editor's save and rsync --inplace do to a partition.
need="$need vim-tiny rsync"
# t_fs_variety.sh: the data directory on xfs, btrfs and vfat (fusefat;
# each skipped where missing; ext4 and tmpfs need nothing more).
need="$need xfsprogs btrfs-progs dosfstools fusefat"
# make format-check: clang-format, against .clang-format.
need="$need clang-format"
# test_batch.c: our zstd payloads read by the zstd tool, and its ours.
need="$need zstd"
# kcat: t_cluster_start.sh checks the SASL listener with a real Kafka client.
# librdkafka-dev: tests/clients/rdk_check (t_kafka_rdkafka.sh and the
# cluster's client tests) and contrib/bench/rdk_perf link with librdkafka.
need="$need kcat librdkafka-dev"
# t_kafka_produce.sh: kafkajs, a Kafka client from npm (node and npm from
# Debian unless a node is there already; kafkajs into build/npm by npm
# itself, below).
command -v npm >/dev/null 2>&1 || need="$need nodejs npm"
fi
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
    [ "$tests" = yes ] || return 0
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
