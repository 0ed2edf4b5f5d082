#!/bin/sh
# check-layers.sh — fails when an #include crosses a layer the wrong way.
#
# Layers, highest first; each may use only what is below it:
#
#   fs/       the FUSE daemon      may include fs/*, repl/repl.h, util/*
#   repl/     the broker           may include repl/*, engine/engine.h, util/*
#   engine/   the log on one disk  may include engine/*, util/*
#   util/     clocks, logging      may include util/* only
#
# and one rule more: repl/repl.h, the header fs sees, includes no engine
# header, so that no engine type reaches fs through it. Private headers
# (anything but engine/engine.h and repl/repl.h) stay in their folder.
# tests/ and contrib/ may include anything.
#
# Usage: sh tests/check-layers.sh [ROOT]   (prints each violation; exit 1)
ROOT=${1:-.}
cd "$ROOT" || exit 2
bad=0
for f in util/*.[ch] engine/*.[ch] repl/*.[ch] fs/*.[ch]; do
	[ -e "$f" ] || continue
	layer=${f%%/*}
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
	sed 's/^\([0-9]*\):.*"\(.*\)".*/\1 \2/' |
	while read -r line inc; do
		case "$layer:$inc" in
		util:util/*) ok=1 ;;
		engine:engine/* | engine:util/*) ok=1 ;;
		repl:repl/* | repl:util/*) ok=1 ;;
		repl:engine/engine.h)
			[ "$f" = repl/repl.h ] && ok=0 || ok=1 ;;
		fs:fs/* | fs:repl/repl.h | fs:util/*) ok=1 ;;
		*) ok=0 ;;
		esac
		if [ "$ok" = 0 ]; then
			echo "$f:$line: includes \"$inc\", across the layers the wrong way"
			echo x
		fi
	done
done > "${TMPDIR:-/tmp}/check-layers.$$"
grep -v '^x$' "${TMPDIR:-/tmp}/check-layers.$$"
grep -q '^x$' "${TMPDIR:-/tmp}/check-layers.$$" && bad=1
rm -f "${TMPDIR:-/tmp}/check-layers.$$"
if [ "$bad" = 1 ]; then
	echo "check-layers: FAIL"
	exit 1
fi
echo "check-layers: ok"
