# shellcheck shell=sh
# kafka_failover_lib.sh — an idempotent Kafka producer's partition (TOPIC,
# partition 0, three replicas) through the failures of its leader: a
# kill -9 with requests a follower holds unanswered, then a clean stop.
# Sourced after cluster_lib.sh by the scripts that run a producer as PROD
# (t_kafka_cluster_failover.sh, t_kafka_cluster_compact.sh).

# field MNT TOPIC COLUMN: partition 0's column of MNT/TOPIC/.state
# (partition, log start, hw, leo, leader, leader epoch, replicas, isr).
field() {
	timeout 5 awk -v f="$3" '$1 == "0" { print $f }' "$1/$2/.state" 2>/dev/null
}
isr3() {   # isr3 MNT TOPIC
	[ "$(field "$1" "$2" 8 | tr -d '[]' | tr ',' '\n' | grep -c .)" = 3 ]
}
hw_above() {   # hw_above MNT TOPIC N
	[ "$(field "$1" "$2" 3)" -gt "$3" ] 2>/dev/null
}
# prod_alive: the producer PROD runs (one that gave up is a zombie until
# the shell waits for it).
prod_alive() {
	case $(sed 's/.*) //' "/proc/$PROD/stat" 2>/dev/null | cut -c1) in
	"" | Z) return 1 ;;
	esac
}
# goes_on SECONDS MNT TOPIC N: the hw there passes N within SECONDS while
# the producer runs; a producer that gave up ends the wait at once.
going() {
	prod_alive || return 0
	hw_above "$@"
}
goes_on() {
	_s=$1
	shift
	poll "$_s" going "$@" && prod_alive
}
led_by_other() {   # led_by_other MNT TOPIC OLD: a live leader other than OLD
	_l=$(field "$1" "$2" 5)
	[ -n "$_l" ] && [ "$_l" != "$3" ] && [ "$_l" != "-1" ]
}
# ahead MNT TOPIC N: the replica there holds N records above the hw.
ahead() {
	_hw=$(field "$1" "$2" 3)
	_leo=$(field "$1" "$2" 4)
	[ -n "$_hw" ] && [ -n "$_leo" ] && [ "$_leo" -ge $((_hw + $3)) ] 2>/dev/null
}
# resent TOPIC: a leader answered a batch of TOPIC as sent before.
resent() {
	grep -q "topic $1 partition 0: producer .* sent again: answered with offset" "$LOG"
}

# failover TOPIC: with the producer PROD running, the leader L of
# TOPIC/0 is killed (kill -9) while one follower F is frozen (SIGSTOP):
# the hw cannot pass F, so the producer's last requests, appended on L and
# fetched by the other follower G, are unanswered when L dies, and the
# producer sends them again to the next leader, which must know them
# from its log; F thaws, L comes back. Then the leader of the moment
# stops cleanly (a controlled shutdown) and comes back. Each time the
# producer must go on with the new leader.
failover() {
	_L=$(field "$MQ_TMP/mnt1" "$1" 5)
	# G: the replica after L in the assignment, the one the controller's
	# election takes while F's registration stands (F in its turn would
	# lack the unanswered records, and the producer's retries would be
	# new appends there).
	_G=$(field "$MQ_TMP/mnt1" "$1" 7 | tr -d '[]' | tr ',' '\n' | grep -vx "$_L" | head -n 1)
	_F=$((6 - _L - _G))
	_at=$(field "$MQ_TMP/mnt$_G" "$1" 3)
	check "$1: the producer appends on leader $_L" goes_on 30 "$MQ_TMP/mnt$_G" "$1" "$((_at + 30))"
	eval "_fpid=\$PID$_F _lpid=\$PID$_L"
	# shellcheck disable=SC2154 # _fpid and _lpid: set by the eval above
	check "$1: follower $_F frozen" stop_broker "$_fpid"
	check "$1: follower $_G holds records the leader has not answered" \
		poll 20 ahead "$MQ_TMP/mnt$_G" "$1" 1
	# shellcheck disable=SC2154
	mq_kill9 "$MQ_TMP/mnt$_L" "$_lpid"
	ok "$1: leader $_L killed (kill -9)"
	thaw_pid "$_fpid"
	check "$1: a new leader" poll 40 led_by_other "$MQ_TMP/mnt$_G" "$1" "$_L"
	_at=$(field "$MQ_TMP/mnt$_G" "$1" 3)
	check "$1: the producer goes on with the new leader" goes_on 60 "$MQ_TMP/mnt$_G" "$1" "$((_at + 30))"
	check "$1: the new leader answered the requests sent again from what it replicated" poll 10 resent "$1"
	broker_start "$_L"
	check "$1: broker $_L back in the ISR" poll 60 isr3 "$MQ_TMP/mnt$_G" "$1"

	_L=$(field "$MQ_TMP/mnt$_G" "$1" 5)
	_O=$((_L % 3 + 1))
	eval "_lpid=\$PID$_L"
	MQ_MOUNT_WAIT=60 mq_umount "$MQ_TMP/mnt$_L" "$_lpid"
	expect_eq "$1: leader $_L stopped cleanly" "0" "$MQ_RC"
	check "$1: a new leader" poll 40 led_by_other "$MQ_TMP/mnt$_O" "$1" "$_L"
	_at=$(field "$MQ_TMP/mnt$_O" "$1" 3)
	check "$1: the producer goes on with the new leader" goes_on 60 "$MQ_TMP/mnt$_O" "$1" "$((_at + 30))"
	broker_start "$_L"
	check "$1: broker $_L back in the ISR" poll 60 isr3 "$MQ_TMP/mnt$_O" "$1"
}
