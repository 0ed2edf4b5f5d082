#!/bin/sh
# t_settings_doc.sh — README's "Settings" against the keys the code
# accepts: every key of the config tables (repl/config.c,
# repl/cluster_config.c, repl/net_config.c) is named there (or by a
# `prefix.*` row), every key its broker table names is one the code
# knows, and contrib/mqfs.conf has each broker setting of that table
# (aliases in brackets aside) as a commented `#key=default` line that the
# daemon accepts once uncommented, its default being the one README gives
# and the daemon shows (a broker's with a listener too, whose .config
# shows the listener's and the cluster's settings); the defaults of
# README's other tables of settings are the daemon's, its topic table
# lists what a topic's .config shows, and every setting mqfs.8 names is
# one the daemon has. And every `make TARGET` README names is
# a target of the Makefile, listed by `make help`, which lists every
# target the Makefile has.
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

# Its aliases, in brackets beside a key, are keys the code knows too.
sed -n '/^### Broker (`--config FILE`)/,/^### Topic/p' "$ROOT/README.md" | grep '^| `' |
	cut -d'|' -f2 | grep -o '([^)]*)' | grep -o '`[a-z][a-z0-9._-]*`' | tr -d '`' |
	sort -u >"$MQ_TMP/readme.aliases"
expect_ok "README's broker table gives aliases" test -s "$MQ_TMP/readme.aliases"
unknown=""
for k in $(cat "$MQ_TMP/readme.aliases"); do
	grep -qx "$k" "$MQ_TMP/code.keys" || unknown="$unknown $k"
done
expect_eq "README's broker table names no alias the code does not know" "" "$unknown"

nodoc=""
for k in $(cat "$MQ_TMP/readme.keys"); do
	grep -q "^#$k=" "$ROOT/contrib/mqfs.conf" || nodoc="$nodoc $k"
done
expect_eq "contrib/mqfs.conf has every broker setting" "" "$nodoc"

# The defaults agree. README's broker table gives one default a key, one
# for every key of its row, or a comma-separated list of them; a default
# that is a word or a number (2^63-1 spelled out, a trailing "(...)"
# dropped) must be the value of the key's `#key=` line in
# contrib/mqfs.conf. The cluster's connection and login lines there are
# examples, not defaults.
sed -n '/^### Broker (`--config FILE`)/,/^### Topic/p' "$ROOT/README.md" | grep '^| `' |
	awk -F'|' '{
		keys = $2; gsub(/\([^)]*\)/, "", keys); gsub(/[` ]/, "", keys)
		defs = $3; gsub(/`/, "", defs); sub(/^ +/, "", defs); sub(/ +$/, "", defs)
		nk = split(keys, k, ","); nd = split(defs, d, ", ")
		if (nd != nk && nk > 1 && nd > 1) next
		for (i = 1; i <= nk; i++) {
			v = (nd == nk) ? d[i] : defs; sub(/ \([^)]*\)$/, "", v)
			if (v == "2^63-1") v = "9223372036854775807"
			if (v ~ /^[A-Za-z0-9.-]+$/) print k[i] "=" v
		}
	}' >"$MQ_TMP/readme.defaults"
expect_ok "README's broker table gives defaults" test "$(wc -l <"$MQ_TMP/readme.defaults")" -gt 40
differ=""
while IFS='=' read -r k v; do
	case $k in zookeeper.* | listeners | advertised.listeners | security.inter.* | *.jaas.config) continue ;; esac
	c=$(sed -n "s/^#$k=//p" "$ROOT/contrib/mqfs.conf")
	[ "$c" = "$v" ] || differ="$differ $k(README $v, mqfs.conf $c)"
done <"$MQ_TMP/readme.defaults"
expect_eq "contrib/mqfs.conf's defaults are README's" "" "$differ"

# And the daemon's own: a broker started without a config file shows its
# effective settings in MNT/.config (a single node's: the cluster's keys
# are not there); each is the value mqfs.conf gives it.
mq_mount
expect_ok "mounted without a config file" test -e "$MNT/.config"
differ=""
while IFS='=' read -r k v; do
	[ "$k" = log.dirs ] && continue
	c=$(sed -n "s/^#$k=//p" "$ROOT/contrib/mqfs.conf")
	[ "$c" = "$v" ] || differ="$differ $k(daemon $v, mqfs.conf $c)"
done <"$MNT/.config"
expect_eq "contrib/mqfs.conf's defaults are the daemon's" "" "$differ"

mq_umount
expect_eq "clean unmount exits 0" 0 "$MQ_RC"

# A broker with a listener shows the listener's settings and the
# cluster's too (without one, .config leaves them out): their defaults
# are mqfs.conf's as well (its listener and inter-broker lines are a
# cluster's example).
echo 'listeners=PLAINTEXT://127.0.0.1:0' >"$MQ_TMP/listener.conf"
mq_mount --config "$MQ_TMP/listener.conf"
expect_ok "mounted with a listener" grep -q '^connections.max.reauth.ms=' "$MNT/.config"
differ=""
while IFS='=' read -r k v; do
	case $k in log.dirs | listeners | advertised.listeners | zookeeper.connect | security.inter.*) continue ;; esac
	c=$(sed -n "s/^#$k=//p" "$ROOT/contrib/mqfs.conf")
	[ "$c" = "$v" ] || differ="$differ $k(daemon $v, mqfs.conf $c)"
done <"$MNT/.config"
expect_eq "contrib/mqfs.conf's defaults are a listener's daemon's" "" "$differ"

# README's other tables of settings with a default column (producing,
# the broker listener, retention and compaction, a group's .config): each
# key's default (a word or a number, as above) is the one the daemon
# shows, as a broker setting, a new topic's or a new group's. The
# dynamic broker settings are not in a config file (and not shown).
mkdir "$MNT/docs" && mkdir "$MNT/docs/.groups/G"
expect_ok "a topic and a group made" test -e "$MNT/docs/.groups/G/.config"
cat "$MNT/.config" "$MNT/docs/.config" "$MNT/docs/.groups/G/.config" >"$MQ_TMP/shown"
awk -F'|' '
	/^\| *(key|setting) *\|.*default/ {
		col = 0
		for (i = 2; i < NF; i++) if ($i ~ /^ *default *$/) col = i
		next
	}
	!/^\|/ { col = 0; next }
	col && /^\| `/ {
		keys = $2; gsub(/\([^)]*\)/, "", keys); gsub(/[` ]/, "", keys); gsub(/\//, ",", keys)
		defs = $col; gsub(/`/, "", defs); sub(/^ +/, "", defs); sub(/ +$/, "", defs)
		sub(/ \([^)]*\)$/, "", defs); gsub(/ \/ /, ", ", defs)
		nk = split(keys, k, ","); nd = split(defs, d, ", ")
		if (nd != nk && nk > 1 && nd > 1) next
		for (i = 1; i <= nk; i++) {
			v = (nd == nk) ? d[i] : defs
			if (v == "2^63-1") v = "9223372036854775807"
			if (k[i] != "" && v ~ /^[A-Za-z0-9.-]+$/) print k[i] "=" v
		}
	}' "$ROOT/README.md" >"$MQ_TMP/table.defaults"
expect_ok "README's tables give defaults" test "$(wc -l <"$MQ_TMP/table.defaults")" -gt 80
differ=""
while IFS='=' read -r k v; do
	case $k in zookeeper.* | listeners | advertised.listeners | security.inter.* | *.jaas.config | *.throttled.rate) continue ;; esac
	c=$(sed -n "s/^$k=//p" "$MQ_TMP/shown" | head -n 1)
	[ "$c" = "$v" ] || differ="$differ $k(README $v, daemon ${c:-no such key})"
done <"$MQ_TMP/table.defaults"
expect_eq "README's tables' defaults are the daemon's" "" "$differ"

# The topic table lists what a topic's .config shows (min.insync.replicas
# and unclean.leader.election.enable, the cluster's, are in the broker
# table as "also a topic setting").
sed -n '/^### Topic (`MNT/,/^### Dynamic/p' "$ROOT/README.md" | grep '^| `' | cut -d'|' -f2 |
	grep -o '`[a-z][a-z0-9._-]*`' | tr -d '`' | sort -u >"$MQ_TMP/topic.readme"
cut -d= -f1 "$MNT/docs/.config" | grep -vx 'min.insync.replicas\|unclean.leader.election.enable' |
	sort -u >"$MQ_TMP/topic.shown"
expect_eq "README's topic table is what a topic's .config shows" "" \
	"$(comm -3 "$MQ_TMP/topic.readme" "$MQ_TMP/topic.shown" | tr -d '\t' | tr '\n' ' ')"

# mqfs.8 names settings in bold (.B key, .BR key ...): each is one the
# daemon shows, as a broker's, a topic's or a group's setting, or one
# mqfs.conf has (the listener's forms of a setting, shown only when set),
# or the prefix of some (listener.name.sasl_plaintext.). Not settings: commands,
# a unit's name, a client's setting, the dynamic broker settings.
sed -n 's/^\.B[RI]* \(\\%\)\{0,1\}\([a-z][a-z0-9_\\-]*\.[a-z0-9._\\-]*[a-z0-9]\).*/\2/p' "$ROOT/contrib/mqfs.8" |
	sed 's/\\-/-/g' | grep -v '\.sh$\|^mount\.\|\.service$\|^enable\.idempotence$\|\.throttled\.rate$' |
	sort -u >"$MQ_TMP/man.keys"
expect_ok "mqfs.8 names settings" test "$(wc -l <"$MQ_TMP/man.keys")" -gt 30
unknown=""
for k in $(cat "$MQ_TMP/man.keys"); do
	sed 's/^#//' "$ROOT/contrib/mqfs.conf" | cat "$MQ_TMP/shown" - | grep -q "^${k}[=.]" ||
		unknown="$unknown $k"
done
expect_eq "mqfs.8 names no setting the daemon does not have" "" "$unknown"
mq_umount
expect_eq "clean unmount exits 0" 0 "$MQ_RC"

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
# README's quick start says make help lists every target: each one the
# Makefile has.
unlisted=""
for t in $(sed -n 's/^\([a-z][a-z-]*\):.*/\1/p' "$ROOT/Makefile" | sort -u); do
	grep -Eq "make $t( |,|\)|$)" "$MQ_TMP/help" || unlisted="$unlisted $t"
done
expect_eq "make help lists every target of the Makefile" "" "$unlisted"
mq_done
