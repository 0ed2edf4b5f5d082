#!/bin/sh
# t_perm.sh — what users other than the daemon's see, and what the daemon
# keeps out of their reach (a second real user, added here with useradd -M
# and removed at exit, acting through setpriv):
#   - the data directory mqfs makes is 0700 (its missing parents 0755 less
#     the umask): every topic's records are in it whatever the topic's
#     mode on the mount; a data directory open to others on an allow_other
#     mount is warned of at start, and so is a config file holding a
#     password (sasl.jaas.config) that every user may read; the systemd
#     unit asks for a 0700 data directory;
#   - mqfs adds no mount option of its own: allow_other and
#     default_permissions are in the mount table only when given; without
#     allow_other another user gets EACCES for the mount itself;
#   - with allow_other and without default_permissions every user may make
#     and remove topics and write every topic, but access(2) answers by the
#     node's mode: a read-only view fails `test -w` (as its open for
#     writing fails with EACCES), a file `test -x`;
#   - touch (utimensat) is accepted and changes nothing: the times are the
#     log's;
#   - a daemon run by that user (through fusermount3; where /dev/fuse is
#     0600, a node of our own is bound over it in this script's private
#     mount namespace) makes its files with its ids and umask, is refused
#     allow_other without user_allow_other, is out of root's reach without
#     allow_other, and owns the topics Kafka clients make (root's 0755
#     topic was one it could neither write nor chown).
# t_permissions.sh covers the topics' modes and owners under
# default_permissions.
# shellcheck disable=SC2016,SC2086
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
# A private mount namespace, where a /dev/fuse the second user may open can
# be bound over a 0600 one (a container's) without the host seeing it.
mq_private_mounts "$@"
mq_setup
mq_second_user
ROOT=$(cd "$LIBDIR/../.." && pwd -P)

# warnings PATTERN — how many lines of the log hold PATTERN.
warnings() {
	grep -c -- "$1" "$LOG"
}

# ---- the data directory ------------------------------------------------------
FRESH=$MQ_TMP/fresh/data
mq_mount_cmd "$MNT" sh -c 'umask 022; exec "$@"' sh "$MQFS" -f -o no_uring --data "$FRESH" "$MNT"
expect_eq "a new data directory is the daemon's alone" "700" "$(stat -c %a "$FRESH")"
expect_eq "its missing parent keeps the umask's mode" "755" "$(stat -c %a "$MQ_TMP/fresh")"
expect_errno "another user cannot list it" EACCES $AS ls "$FRESH"
# ---- without allow_other -------------------------------------------------------
expect_ok "no allow_other: the mount table has neither option" \
	sh -c '! grep " $1 fuse.mqfs .*\(allow_other\|default_permissions\)" /proc/mounts' sh "$MNT"
expect_errno "no allow_other: another user gets EACCES for the mount" EACCES $AS stat "$MNT"
expect_ok "no allow_other: its owner sees it" stat "$MNT"
mq_umount
expect_eq "no warning for a data directory without allow_other" "0" \
	"$(warnings "is open to every user")"

PORT=$(zk_free_port)
SPORT=$(zk_free_port)
CONF=$MQ_TMP/server.properties
cat >"$CONF" <<EOF
listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_PLAINTEXT://127.0.0.1:$SPORT
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";
EOF
chmod 0644 "$CONF"
chmod 0755 "$DATA"
mq_mount -o no_uring,allow_other,default_permissions --config "$CONF"
expect_ok "allow_other,default_permissions are in the mount table" \
	grep -q " $MNT fuse.mqfs .*default_permissions.*allow_other" /proc/mounts
expect_eq "a data directory others can enter is warned of" "1" \
	"$(warnings "data directory $DATA is open to every user (mode 0755)")"
expect_eq "a password readable by every user is warned of" "1" \
	"$(warnings "config file $CONF holds a password (sasl.jaas.config) and every user may read it (mode 0644)")"
expect_eq "the password is not in the log" "0" "$(warnings admin-secret)"
mq_umount
chmod 0700 "$DATA"
chmod 0600 "$CONF"
mq_mount -o no_uring,allow_other,default_permissions --config "$CONF"
expect_eq "no new warning for a 0700 data directory" "1" "$(warnings "is open to every user")"
expect_eq "no new warning for a 0600 config file" "1" "$(warnings "holds a password")"
expect_eq "MNT/.config, 0444, shows no password" "0" \
	"$($AS cat "$MNT/.config" | grep -c admin-secret)"
expect_ok "but the setting, hidden" $AS grep -q 'sasl.jaas.config=.*\[hidden\]' "$MNT/.config"

# ---- times ---------------------------------------------------------------------
expect_ok "mkdir t" mkdir "$MNT/t"
expect_ok "produce" sh -c 'echo one > "$1"' sh "$MNT/t/0"
MT=$(stat -c %Y "$MNT/t/0")
expect_ok "touch -d of a partition file is accepted" touch -d 2001-01-01 "$MNT/t/0"
expect_eq "and changes nothing: its mtime is the log's" "$MT" "$(stat -c %Y "$MNT/t/0")"
expect_errno "another user may not set the times of root's file" EPERM \
	$AS touch -c -d 2001-01-01 "$MNT/t/0"
mq_umount

# ---- allow_other without default_permissions: access(2) by mode ------------------
mq_mount -o no_uring,allow_other
expect_ok "another user may write root's topic" $AS sh -c 'echo two >> "$1"' sh "$MNT/t/0"
expect_ok "test -w of a partition file" $AS test -w "$MNT/t/0"
expect_ok "test -r of a view" $AS test -r "$MNT/t/.state"
expect_fail "test -w of a topic's .state (read-only)" $AS test -w "$MNT/t/.state"
expect_fail "test -w of the mount's .metrics (read-only)" $AS test -w "$MNT/.metrics"
expect_fail "test -w of a segment file" $AS sh -c 'test -w "$1"/*.log' sh "$MNT/t/.segments/0"
expect_fail "test -x of a partition file" $AS test -x "$MNT/t/0"
expect_errno "its open for writing fails as access said" EACCES \
	$AS sh -c '/bin/echo x >> "$1"' sh "$MNT/t/.state"
expect_ok "test -w of a topic's .config" $AS test -w "$MNT/t/.config"
expect_ok "another user makes a topic" $AS mkdir "$MNT/theirs"
expect_eq "owned by them" "$UID2 $GID2" "$(stat -c '%u %g' "$MNT/theirs")"
expect_ok "and removes root's" $AS rmdir "$MNT/t"
mq_umount

# ---- the daemon run by another user ------------------------------------------------
UD=$MQ_TMP/user
mkdir "$UD" "$UD/mnt" && chown "$UID2:$GID2" "$UD" "$UD/mnt"
if ! $AS sh -c 'exec 3<>/dev/fuse' 2>/dev/null && [ "$MQ_PRIVATE_NS" = 1 ]; then
	# Debian makes /dev/fuse 0666; where it is not, a node of our own,
	# bound over it in this script's namespace only.
	mknod "$MQ_TMP/fuse" c "$((0x$(stat -c %t /dev/fuse)))" "$((0x$(stat -c %T /dev/fuse)))" &&
		chmod 0666 "$MQ_TMP/fuse" && mount --bind "$MQ_TMP/fuse" /dev/fuse
fi
expect_errno "a data directory the user cannot write is refused" \
	"cannot open data directory $DATA: Permission denied" \
	$AS "$MQFS" -f -o no_uring --data "$DATA" "$UD/mnt"
if ! $AS sh -c 'exec 3<>/dev/fuse' 2>/dev/null; then
	skip "a user's mount" "$U cannot open /dev/fuse (mode $(stat -c %a /dev/fuse)) here"
elif grep -q '^[[:space:]]*user_allow_other' /etc/fuse.conf 2>/dev/null; then
	skip "a user's mount" "/etc/fuse.conf has user_allow_other"
else
	expect_errno "allow_other for a user is refused without user_allow_other" \
		"user_allow_other" $AS sh -c 'umask 027; exec "$@"' sh "$MQFS" -f \
		-o no_uring,allow_other --data "$UD/data" "$UD/mnt"
	UPORT=$(zk_free_port)
	printf 'listeners=PLAINTEXT://127.0.0.1:%s\n' "$UPORT" >"$UD/server.properties"
	mq_mount_cmd "$UD/mnt" $AS sh -c 'umask 027; exec "$@"' sh "$MQFS" -f \
		-o no_uring,default_permissions --config "$UD/server.properties" \
		--data "$UD/data" "$UD/mnt"
	expect_ok "the user makes a topic" $AS sh -c 'umask 027; mkdir "$1"' sh "$UD/mnt/u"
	expect_ok "and produces to it" $AS sh -c 'echo x > "$1"' sh "$UD/mnt/u/0"
	expect_eq "owned by the user, umask 027" "750 $UID2 $GID2" "$($AS stat -c '%a %u %g' "$UD/mnt/u")"
	expect_errno "root does not reach a user's mount without allow_other" EACCES \
		stat "$UD/mnt/u"
	expect_ok "a Kafka client's topic (auto-created)" \
		sh -c 'echo k | kcat -P -b "127.0.0.1:$1" -t auto -p 0' sh "$UPORT"
	expect_eq "is the daemon's user's" "755 $UID2 $GID2" \
		"$($AS stat -c '%a %u %g' "$UD/mnt/auto")"
	expect_ok "who writes it through the mount" $AS sh -c 'echo m >> "$1"' sh "$UD/mnt/auto/0"
	KAFKAJS_PATH=${KAFKAJS_PATH:-$ROOT/build/npm/node_modules/kafkajs}
	if [ -d "$KAFKAJS_PATH" ] && command -v node >/dev/null 2>&1; then
		export KAFKAJS_PATH
		expect_eq "a Kafka client's CreateTopics" "ok" \
			"$(mq_run node "$LIBDIR/kafkajs_admin.js" "127.0.0.1:$UPORT" create made 1 2>&1 | tail -n 1)"
		expect_eq "makes a topic of the daemon's user's too" "755 $UID2 $GID2" \
			"$($AS stat -c '%a %u %g' "$UD/mnt/made")"
	else
		skip "CreateTopics by a Kafka client" "no kafkajs at $KAFKAJS_PATH"
	fi
	expect_eq "its records" "k m" "$($AS cat "$UD/mnt/auto/0" | tr '\n' ' ' | sed 's/ $//')"
	mq_umount "$UD/mnt"
	expect_eq "the user's files are the user's" "" \
		"$(find "$UD/data" ! -user "$U" -o ! -group "$U")"
	expect_eq "under the user's umask (027)" "" "$(find "$UD/data" -type f -perm /027)"
fi
expect_eq "the user's data directory is theirs and 0700" "700 $UID2 $GID2" \
	"$(stat -c '%a %u %g' "$UD/data")"

# ---- the systemd unit ----------------------------------------------------------------
expect_ok "the unit makes its data directory 0700" \
	grep -q '^StateDirectoryMode=0700$' "$ROOT/contrib/systemd/mqfs@.service"
mq_done
