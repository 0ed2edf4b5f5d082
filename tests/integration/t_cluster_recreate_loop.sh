#!/bin/sh
# t_cluster_recreate_loop.sh — mkdir T; rmdir T; mkdir T; rmdir T in quick
# succession on one broker's mount of a three-broker cluster, many rounds
# on each broker's mount: every mkdir and rmdir succeeds (the topic
# exists when rmdir is called), and T is gone from every mount at the end.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1"
zk_cluster_start
cluster_start3

ROUNDS=${RECREATE_ROUNDS:-10}
bad=0
for n in 1 2 3; do
	r=0
	while [ "$r" -lt "$ROUNDS" ]; do
		r=$((r + 1))
		for step in mkdir rmdir mkdir rmdir; do
			if ! err=$(timeout 30 "$step" "$MQ_TMP/mnt$n/rt" 2>&1); then
				bad=$((bad + 1))
				echo "# mnt$n round $r: $step: $err"
			fi
		done
	done
done
expect_eq "every mkdir and rmdir of rt succeeded" 0 "$bad"

# Every broker with a replica removes a deleted topic at the controller's
# StopReplica of the deletion (Kafka's EpochDuringDelete), which the
# controller waits for before it deletes the znodes: once rmdir has
# returned on one mount, the other replicas' mounts no longer show the
# name and take a mkdir of it at once (no poll: these are the moments
# right after the rmdir).
for n in 1 2 3; do
	m=$((n % 3 + 1))
	expect_ok "mkdir mnt$n/rd" mkdir "$MQ_TMP/mnt$n/rd"
	check "every mount shows rd" poll 20 sh -c 'for k in 1 2 3; do [ -d "$1/mnt$k/rd" ] || exit 1; done' sh "$MQ_TMP"
	before=$(grep -c "topic rd: deleted in the cluster, removed here (the controller's StopReplica)" "$LOG")
	expect_ok "rmdir mnt$n/rd" rmdir "$MQ_TMP/mnt$n/rd"
	after=$(grep -c "topic rd: deleted in the cluster, removed here (the controller's StopReplica)" "$LOG")
	check "rd removed by the two other replicas' brokers before rmdir returned" \
		[ "$((after - before))" -ge 2 ]
	check "mnt$m does not list rd at once" sh -c '! ls "$1" | grep -qx rd' sh "$MQ_TMP/mnt$m"
	expect_ok "mkdir mnt$m/rd at once" mkdir "$MQ_TMP/mnt$m/rd"
	expect_ok "rmdir mnt$m/rd" rmdir "$MQ_TMP/mnt$m/rd"
done
for n in 1 2 3; do
	check "rt is gone from mnt$n" poll 20 sh -c '! timeout 5 ls "$1" | grep -qx rt' sh "$MQ_TMP/mnt$n"
done
mq_done
