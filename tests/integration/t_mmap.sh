#!/bin/sh
# t_mmap.sh — mmap of partition files. A read-only open through the page
# cache maps, shared or private; O_RDWR refuses MAP_SHARED (ENODEV). A
# partition file that lost records to retention is opened with direct I/O,
# which the kernel still lets map MAP_PRIVATE, filling the page cache with
# the direct-I/O file's reads: those are answered by position (the bytes
# dd skip= reads there), a page of removed records fails (ESTALE, logged)
# and the size the kernel knows is not cut short.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
cat > "$MQ_TMP/server.properties" <<EOF
log.retention.check.interval.ms=200
EOF
mq_mount --config "$MQ_TMP/server.properties"

# mm FILE MODE OFFSET LEN: maps FILE (MODE: s shared read-only, p private,
# rw shared of an O_RDWR open) and prints LEN bytes at OFFSET, "ENODEV"
# and such for a refused map; a page that cannot be read is a SIGBUS.
cat > "$MQ_TMP/mm.py" <<'EOF'
import errno, mmap, os, sys
path, mode, off, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fd = os.open(path, os.O_RDWR if mode == "rw" else os.O_RDONLY)
flags = mmap.MAP_PRIVATE if mode == "p" else mmap.MAP_SHARED
try:
    m = mmap.mmap(fd, 0, flags=flags, prot=mmap.PROT_READ)
except OSError as e:
    print(errno.errorcode[e.errno])
    sys.exit(0)
sys.stdout.write(m[off:off + n].decode())
sys.stdout.flush()
EOF
mm() { mq_run python3 "$MQ_TMP/mm.py" "$@"; }

mkdir "$MNT/t"
seq 1 1000 > "$MNT/t/0"
expect_eq "a read-only partition file maps shared" "$(seq 1 5)" "$(mm "$MNT/t/0" s 0 10)"
expect_eq "and private" "$(seq 500 502)" "$(mm "$MNT/t/0" p 1888 12)"
expect_eq "MAP_SHARED of an O_RDWR open: ENODEV" "ENODEV" "$(mm "$MNT/t/0" rw 0 10)"

# Retention takes the first segments of r: r's files open with direct I/O.
mkdir "$MNT/r"
printf 'segment.bytes=1024\nretention.bytes=2048\n' > "$MNT/r/.config"
seq 1 2000 > "$MNT/r/0"
start() { mq_run awk 'NR==2{print $2}' "$MNT/r/.state"; }
started() { [ "$(start)" -gt 1000 ]; }
check "retention moved the log start past record 1000" poll 15 started
size=$(stat -c %s "$MNT/r/0")
# Positions 8192.. hold records after the log start (position 6000 or so).
expect_eq "a page after the log start maps private, by position" \
	"$(mq_run dd if="$MNT/r/0" bs=4096 skip=2 count=1 status=none | head -c 40)" \
	"$(mm "$MNT/r/0" p 8192 40)"
out=$(mm "$MNT/r/0" p 0 10)
expect_eq "the page of removed records: SIGBUS, not other bytes" "135 ''" "$? '$out'"
expect_ok "log: the removed page" grep -q "read r/0 at position 0: records removed there, read through the page cache (a file opened before, or mmap): ESTALE" "$LOG"
expect_eq "the mapping's reads left the file's size" "$size" "$(stat -c %s "$MNT/r/0")"
expect_eq "read(2) at 0 still continues at the log start" "$(start)" \
	"$(($(mq_run head -n 1 "$MNT/r/0") - 1))"

mq_umount
expect_eq "clean unmount exits 0" 0 "$MQ_RC"
mq_done
