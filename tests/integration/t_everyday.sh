#!/bin/sh
# t_everyday.sh — the tools a new user reaches for first, on a real mount,
# each doing what README's tables say: tee -a and Python's open(..., 'a')
# append; cp, rsync and dd copy the records out; find and du walk the
# mount; rm -r of a topic is refused (EPERM), the topic stays; touch of a
# partition file succeeds and changes nothing (its times
# are the log's); mv of a topic is refused (EPERM, logged); a file kept
# open across the rmdir of its topic fails its writes and reads with
# ENOENT, each logged naming the file, and the daemon goes on.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
mq_setup
mq_mount

expect_ok "mkdir t" mkdir "$MNT/t"
expect_ok "echo >>" sh -c "echo one >> '$MNT/t/0'"
expect_ok "tee -a" sh -c "echo two | tee -a '$MNT/t/0' >/dev/null"
expect_ok "python open(..., 'a')" python3 -c "
with open('$MNT/t/0', 'a') as f:
    f.write('three\n')"
expect_eq "the three records" "one
two
three" "$(mq_run cat "$MNT/t/0")"

expect_ok "cp out of the mount" cp "$MNT/t/0" "$MQ_TMP/cp.out"
expect_eq "cp copied every record" "one
two
three" "$(cat "$MQ_TMP/cp.out")"
expect_ok "rsync -a out of the mount" rsync -a "$MNT/t/" "$MQ_TMP/rsync/"
expect_same "rsync copied the partition" "$MNT/t/0" "$MQ_TMP/rsync/0"
expect_eq "dd skip= reads by position" "two" \
	"$(mq_run dd if="$MNT/t/0" bs=1 skip=4 count=3 status=none)"
expect_ok "find walks the mount" sh -c "find '$MNT' | grep -qx '$MNT/t/.segments/0/00000000000000000000.log'"
expect_ok "du walks the mount" du -s "$MNT"

before=$(stat -c %Y:%s "$MNT/t/0")
expect_ok "touch a partition file" touch "$MNT/t/0"
expect_ok "touch -d a partition file" touch -d 2001-01-01 "$MNT/t/0"
expect_eq "touch changes neither time nor size" "$before" "$(stat -c %Y:%s "$MNT/t/0")"

expect_errno "mv of a topic" EPERM mv "$MNT/t" "$MNT/u"
expect_ok "log: rename of a topic" grep -q "rename t: refused: " "$LOG"
expect_ok "t is still there" test -e "$MNT/t/0"

# A writer and a reader with the topic deleted under them.
expect_ok "mkdir gone" mkdir "$MNT/gone"
expect_ok "a record in gone" sh -c "echo a >> '$MNT/gone/0'"
python3 - "$MNT/gone" "$MQ_TMP/gone.out" <<'EOF' &
import errno, os, sys, time
d, out = sys.argv[1], sys.argv[2]
w = os.open(d + "/0", os.O_WRONLY | os.O_APPEND)
r = os.open(d + "/0", os.O_RDONLY)
open(out + ".ready", "w").close()
deadline = time.time() + 30
while os.path.exists(d) and time.time() < deadline:
    time.sleep(0.05)
res = []
for name, op in (("write", lambda: os.write(w, b"b\n")), ("read", lambda: os.pread(r, 100, 0)),
                 ("fsync", lambda: os.fsync(w))):
    try:
        op()
        res.append(name + " ok")
    except OSError as e:
        res.append(name + " " + errno.errorcode[e.errno])
with open(out, "w") as f:
    f.write("\n".join(res) + "\n")
EOF
PYPID=$!
_mq_add MQ_PIDS "$PYPID"
if poll 30 test -e "$MQ_TMP/gone.out.ready"; then ok "files open"; else fail "files open" "not in 30 s"; fi
expect_ok "rmdir gone while open" rmdir "$MNT/gone"
mq_wait "$PYPID" 40
expect_eq "write, read and fsync after the rmdir: ENOENT" "write ENOENT
read ENOENT
fsync ENOENT" "$(cat "$MQ_TMP/gone.out" 2>/dev/null)"
expect_ok "log: the fsync refused" grep -q "fsync gone/0: refused: the topic was deleted while the file was open" "$LOG"
expect_ok "log: the write refused" grep -q "write gone/0: refused: the topic was deleted while the file was open" "$LOG"
# (A read through the page cache is refused at its size check.)
expect_ok "log: the read refused" grep -q "read\( (size check)\)\? gone/0: refused: the topic was deleted while the file was open" "$LOG"
expect_eq "the daemon goes on" "one" "$(mq_run head -n1 "$MNT/t/0")"
expect_eq "the deletion logged once" 1 "$(grep -c 'topic gone.*deleted$' "$LOG")"

# rm -r is not how a topic goes: its files refuse unlink, the topic stays.
expect_errno "rm -r of a topic" EPERM rm -r "$MNT/t"
expect_eq "t and its records are still there" "one" "$(mq_run head -n1 "$MNT/t/0")"

mq_umount
expect_eq "clean unmount exits 0" 0 "$MQ_RC"
mq_done
