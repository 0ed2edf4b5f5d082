#!/bin/sh
# t_permissions.sh — topics on a multi-user host, with a second real user
# (useradd here, userdel at exit) acting through setpriv:
#   - mkdir makes a topic owned by its creator with the requested mode less
#     the umask; mode, uid and gid survive a remount;
#   - the topic's files follow its mode (read = consume/inspect, write =
#     produce/commit); .state and .segments are read-only;
#   - with allow_other,default_permissions another user gets EACCES writing
#     a topic they may only read, creating a topic in a root-owned mount,
#     or entering a topic without x;
#   - chmod/chgrp by the owner, chown by root only; -o mode=1777 lets every
#     user create (and only remove their own) topics;
#   - without default_permissions mqfs itself refuses chmod by a non-owner
#     and logs the path and the reason.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_second_user
perms() {          # perms PATH — "mode uid gid" as stat shows them
	stat -c '%a %u %g' "$1"
}

mq_mount -o allow_other,default_permissions

# ---- topics made by root ------------------------------------------------------
expect_ok "root mkdir with umask 022" sh -c 'umask 022; mkdir "$1"' sh "$MNT/pub"
expect_ok "root mkdir with umask 077" sh -c 'umask 077; mkdir "$1"' sh "$MNT/priv"
expect_ok "root mkdir -m 0750" sh -c 'umask 022; mkdir -m 0750 "$1"' sh "$MNT/team"
expect_eq "pub: 755 root" "755 0 0" "$(perms "$MNT/pub")"
expect_eq "priv: umask applied" "700 0 0" "$(perms "$MNT/priv")"
expect_eq "team: requested mode" "750 0 0" "$(perms "$MNT/team")"
expect_eq "pub partition follows the topic" "644 0 0" "$(perms "$MNT/pub/0")"
expect_eq "pub .produce follows the topic" "644 0 0" "$(perms "$MNT/pub/.produce")"
expect_eq "pub .state read-only" "444 0 0" "$(perms "$MNT/pub/.state")"
expect_eq "pub .segments read-only" "555 0 0" "$(perms "$MNT/pub/.segments")"
expect_ok "root produces to pub" sh -c 'echo one > "$1"' sh "$MNT/pub/0"

# ---- the other user ------------------------------------------------------------
expect_eq "user consumes pub (read bit)" "one" "$(mq_run $AS cat "$MNT/pub/0")"
expect_ok "user inspects pub/.state" $AS cat "$MNT/pub/.state"
expect_errno "user cannot produce to pub" EACCES $AS bash -c 'echo x >> "$1"' sh "$MNT/pub/0"
expect_errno "user cannot use pub/.produce" EACCES $AS bash -c 'echo x > "$1"' sh "$MNT/pub/.produce"
expect_errno "user cannot change pub/.config" EACCES $AS bash -c 'echo acks=1 > "$1"' sh "$MNT/pub/.config"
expect_errno "user cannot create a topic in a root-owned mount" EACCES $AS mkdir "$MNT/mine"
expect_errno "user cannot delete pub" EACCES $AS rmdir "$MNT/pub"
expect_errno "user cannot enter priv" EACCES $AS cat "$MNT/priv/0"
expect_errno "user cannot list priv" EACCES $AS ls "$MNT/priv"
expect_errno "user cannot chmod pub" EPERM $AS chmod 0777 "$MNT/pub"
expect_eq "pub unchanged" "one" "$(mq_run cat "$MNT/pub/0")"

# ---- chown / chmod -------------------------------------------------------------
expect_ok "root gives pub to the user" chown "$U:$U" "$MNT/pub"
expect_eq "pub owned by the user" "755 $UID2 $GID2" "$(perms "$MNT/pub")"
expect_eq "its partition too" "644 $UID2 $GID2" "$(perms "$MNT/pub/0")"
expect_ok "owner produces" $AS bash -c 'echo two >> "$1"' sh "$MNT/pub/0"
expect_ok "owner chmods 0700" $AS chmod 0700 "$MNT/pub"
expect_eq "partition now 600" "600 $UID2 $GID2" "$(perms "$MNT/pub/0")"
expect_errno "owner cannot give the topic away" EPERM $AS chown root "$MNT/pub"
expect_errno "owner cannot chgrp to a group they are not in" EPERM $AS chgrp root "$MNT/pub"
expect_ok "root chmods team 0770 and gives it the user's group" sh -c 'chmod 0770 "$1" && chgrp "$2" "$1"' sh "$MNT/team" "$U"
expect_ok "group member produces to team" $AS bash -c 'echo g > "$1"' sh "$MNT/team/0"
expect_eq "records of pub" "one two" "$(mq_run cat "$MNT/pub/0" | tr '\n' ' ' | sed 's/ $//')"

# ---- persistence ----------------------------------------------------------------
mq_umount
mq_mount -o allow_other,default_permissions
expect_eq "pub mode and owner survive a remount" "700 $UID2 $GID2" "$(perms "$MNT/pub")"
expect_eq "priv survives" "700 0 0" "$(perms "$MNT/priv")"
expect_eq "team survives" "770 0 $GID2" "$(perms "$MNT/team")"
expect_eq "root views stay root's" "444 0 0" "$(perms "$MNT/.state")"
mq_umount

# ---- a shared mount: mode=1777 -----------------------------------------------------
mq_mount -o allow_other,default_permissions,mode=1777
expect_eq "root of the mount 1777" "1777 0 0" "$(perms "$MNT")"
expect_ok "user creates a topic (umask 027)" $AS sh -c 'umask 027; mkdir "$1"' sh "$MNT/mine"
expect_eq "the creator owns it, umask applied" "750 $UID2 $GID2" "$(perms "$MNT/mine")"
expect_ok "user produces to it" $AS bash -c 'echo hi > "$1"' sh "$MNT/mine/0"
expect_errno "root's topic still closed to the user" EACCES $AS bash -c 'echo x > "$1"' sh "$MNT/priv/.produce"
expect_errno "sticky root: the user cannot remove root's topic" EPERM $AS rmdir "$MNT/priv"
expect_ok "the user removes their own" $AS rmdir "$MNT/mine"
mq_umount

# ---- without default_permissions: mqfs refuses and logs ---------------------------
mq_mount -o allow_other
expect_ok "warning logged for allow_other without default_permissions" \
	grep -q 'allow_other without default_permissions' "$LOG"
expect_errno "mqfs refuses chmod by a non-owner" EPERM $AS chmod 0777 "$MNT/priv"
expect_ok "the refusal is logged with the path and the reason" \
	grep -q "chmod/chown priv: refused: uid $UID2 is not the owner" "$LOG"
expect_eq "priv unchanged" "700 0 0" "$(perms "$MNT/priv")"
mq_umount
mq_done
