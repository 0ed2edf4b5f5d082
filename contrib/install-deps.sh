#!/bin/sh
# Installs the Debian packages mqfs needs to build, test and run, when missing.
# Called by `make run`, `make test`, `make asan`, `make bench`.
set -e
need="libfuse3-dev fuse3 liblz4-dev lz4 zlib1g-dev libcmocka-dev pkg-config"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "mqfs: missing packages:$missing (run as root, or: apt-get install$missing)" >&2
    exit 1
fi
echo "mqfs: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
