#!/bin/sh
# t_quickstart.sh — README.md's quick start, verbatim, on a real mount: the
# commands between "In a second terminal" and "To run the whole test suite"
# are extracted from README.md and run in a directory holding ./mnt; and
# the columns of .state that README's table of the mount names.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
ROOT=$(cd "$LIBDIR/../.." && pwd -P)

# The quick start mounts ./mnt with data in ./mqfs-data: do the same in a
# scratch directory (make run itself would stay in the foreground).
WORK=$MQ_TMP/work
mkdir -p "$WORK/mnt"
MNT=$WORK/mnt
DATA=$WORK/mqfs-data
mq_mount

sed -n '/^In a second terminal/,/^To run the whole test suite/p' "$ROOT/README.md" |
	grep '^    ' | sed 's/^    //' > "$MQ_TMP/quickstart.sh"
expect_ok "README has a quick start" test -s "$MQ_TMP/quickstart.sh"
(cd "$WORK" && timeout 30 bash -e "$MQ_TMP/quickstart.sh") > "$MQ_TMP/out" 2>&1
rc=$?
expect_eq "quick start runs without error" 0 "$rc"
[ "$rc" -eq 0 ] || cat "$MQ_TMP/out"
expect_ok "cat shows hello" grep -qx hello "$MQ_TMP/out"
expect_ok "cat shows three" grep -qx three "$MQ_TMP/out"
expect_ok "wc -l counts 4 records" grep -q '^4 mnt/orders/0$' "$MQ_TMP/out"
expect_ok "tail -f printed the later record" grep -qx world "$MQ_TMP/out"
expect_ok ".state has a header" grep -q 'high_watermark' "$MQ_TMP/out"
expect_ok ".dump shows a batch" grep -q 'baseOffset: 0' "$MQ_TMP/out"
# README's table of the mount names the columns of a topic's .state: as
# many as its header has (the partition's own number aside).
cols=$(grep '^| `MNT/<topic>/.state` |' "$ROOT/README.md" | cut -d'|' -f3 |
	sed 's/.*one row per partition://; s/([^)]*)//g' | tr ',' '\n' | grep -c '[a-zA-Z]')
expect_eq "README names every .state column" \
	"$(($(mq_run head -n1 "$MNT/orders/.state" | wc -w) - 1))" "$cols"
expect_eq "records on disk" "hello
one
two
three
world" "$(mq_run cat "$MNT/orders/0")"
mq_umount
expect_eq "clean unmount exits 0" 0 "$MQ_RC"
expect_ok "clean-shutdown marker written" test -e "$DATA/.clean-shutdown"
mq_done
