#!/bin/sh
# t_settings_doc.sh — README's "Settings" against the keys the code
# accepts: every key of the config tables (repl/config.c,
# repl/cluster_config.c, repl/net_config.c) is named there (or by a
# `prefix.*` row), every key its broker table names is one the code
# knows, and contrib/mqfs.conf has each broker setting of that table
# (aliases in brackets aside) as a commented `#key=default` line that the
# daemon accepts once uncommented. And every `make TARGET` README names is
# a target of the Makefile, listed by `make help`.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
mq_setup
ROOT=$(cd "$LIBDIR/../.." && pwd -P)

# Keys: the quoted names that open a table entry ({ "key", ... } or
# INT_KEY("key", ...)), less the entries of config.c's table of codec
# names, which are values.
sed -n 's/^[[:space:]]*\(INT_KEY(\|{ *\)"\([a-z][a-z0-9._-]*\)".*/\2/p' \
	"$ROOT/repl/config.c" "$ROOT/repl/cluster_config.c" "$ROOT/repl/net_config.c" |
	grep -vx 'none\|gzip\|lz4\|snappy\|zstd\|producer\|uncompressed' |
	sort -u >"$MQ_TMP/code.keys"
expect_ok "keys found in the config tables" test "$(wc -l <"$MQ_TMP/code.keys")" -gt 50

sed -n '/^## Settings/,/^## Producing/p' "$ROOT/README.md" >"$MQ_TMP/settings.md"
missing=""
while read -r k; do
	grep -qF "\`$k\`" "$MQ_TMP/settings.md" && continue
	# A row such as `log.retention.*` names a family of keys.
	covered=no
	for w in $(grep -o '`[a-z.]*\.\*`' "$MQ_TMP/settings.md" | tr -d '`'); do
		case $k in "${w%\*}"*) covered=yes ;; esac
	done
	[ "$covered" = yes ] || missing="$missing $k"
done <"$MQ_TMP/code.keys"
expect_eq "README's Settings names every key the code accepts" "" "$missing"

# The broker table: its first column, keys in brackets being aliases.
sed -n '/^### Broker (`--config FILE`)/,/^### Topic/p' "$ROOT/README.md" | grep '^| `' |
	cut -d'|' -f2 | sed 's/([^)]*)//g' | grep -o '`[a-z][a-z0-9._-]*`' | tr -d '`' |
	sort -u >"$MQ_TMP/readme.keys"
unknown=""
for k in $(cat "$MQ_TMP/readme.keys"); do
	grep -qx "$k" "$MQ_TMP/code.keys" || unknown="$unknown $k"
done
expect_eq "README's broker table names no key the code does not know" "" "$unknown"

nodoc=""
for k in $(cat "$MQ_TMP/readme.keys"); do
	grep -q "^#$k=" "$ROOT/contrib/mqfs.conf" || nodoc="$nodoc $k"
done
expect_eq "contrib/mqfs.conf has every broker setting" "" "$nodoc"

# Uncommented, the example's single-node lines start a broker (the cluster
# ones would need a ZooKeeper).
sed -n 's/^#\([a-z][a-z0-9._-]*=.*\)/\1/p' "$ROOT/contrib/mqfs.conf" |
	grep -v '^\(zookeeper\.\|listeners=\|advertised\.listeners=\|security\.inter\|log\.dirs=\)' \
		>"$MQ_TMP/all.conf"
expect_ok "the example's settings, uncommented" test -s "$MQ_TMP/all.conf"
mq_mount --config "$MQ_TMP/all.conf"
expect_ok "mounted with them" test -e "$MNT/.config"
mq_umount
expect_eq "clean unmount exits 0" 0 "$MQ_RC"

make -s -C "$ROOT" help >"$MQ_TMP/help" 2>&1
expect_eq "make help runs" 0 "$?"
notarget=""
nohelp=""
for t in $(grep -o '`make [a-z][a-z-]*' "$ROOT/README.md" | sed 's/`make //' | sort -u); do
	grep -q "^$t:" "$ROOT/Makefile" || notarget="$notarget $t"
	grep -q "make $t " "$MQ_TMP/help" || nohelp="$nohelp $t"
done
expect_eq "every make target README names exists" "" "$notarget"
expect_eq "make help lists each of them" "" "$nohelp"
mq_done
