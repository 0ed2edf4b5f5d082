#!/bin/sh
# t_segments_copy.sh — backups of the rendered views: every readable file
# reports the size of what a read returns, so tar, rsync -a and cp, which
# copy st_size bytes, store the whole .index, .timeindex and .dump (and
# .state, .config) instead of empty files.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
T=$MNT/t
expect_ok "mkdir topic" mkdir "$T"
expect_ok "small segments, dense index" sh -c \
	'printf "segment.bytes=4096\nindex.interval.bytes=128\n" > "$1"' sh "$T/.config"
# One write a line: one batch each, so the index gets entries.
expect_ok "records over several segments" sh -c \
	'exec 3>>"$1"; i=0; while [ $i -lt 600 ]; do echo "line $i" >&3; i=$((i + 1)); done' sh "$T/0"
S=$T/.segments/0
nseg=$(ls "$S" | grep -c '\.log$')
expect_ok "several segments ($nseg)" test "$nseg" -ge 3

# st_size is the size of the text, closed and active segments alike.
bad=""
for f in "$S"/* "$T/.state" "$T/.config"; do
	want=$(mq_run cat "$f" | wc -c)
	got=$(stat -c %s "$f")
	[ "$want" = "$got" ] || bad="$bad $(basename "$f"):$got!=$want"
done
expect_eq "st_size of every file is what cat returns" "" "$bad"
expect_ok "a .dump is not empty" test -s "$S/00000000000000000000.dump"
expect_ok "an .index is not empty" test -s "$S/00000000000000000000.index"
expect_ok "a .timeindex is not empty" test -s "$S/00000000000000000000.timeindex"

# tar: an archive of the views, extracted, equals cat of each file.
expect_ok "tar cf of .segments" tar cf "$MQ_TMP/seg.tar" -C "$T" .segments
mkdir "$MQ_TMP/x"
expect_ok "tar xf" tar xf "$MQ_TMP/seg.tar" -C "$MQ_TMP/x"
differ=""
for f in "$S"/*; do
	mq_run cat "$f" > "$MQ_TMP/want"
	cmp -s "$MQ_TMP/want" "$MQ_TMP/x/.segments/0/$(basename "$f")" || differ="$differ $(basename "$f")"
done
expect_eq "every file in the archive equals cat of it" "" "$differ"

expect_ok "cp -r of .segments" cp -r "$S" "$MQ_TMP/cp"
expect_ok "cp copy equals the tar copy" diff -r "$MQ_TMP/cp" "$MQ_TMP/x/.segments/0"

if command -v rsync >/dev/null 2>&1; then
	expect_ok "rsync -a of .segments" rsync -a "$S/" "$MQ_TMP/rs/"
	expect_ok "rsync copy equals the tar copy" diff -r "$MQ_TMP/rs" "$MQ_TMP/x/.segments/0"
else
	skip "rsync -a of .segments" "rsync is not installed"
fi
mq_umount
mq_done
