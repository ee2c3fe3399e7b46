#!/usr/bin/env bats
# steroids runners logs [--project P] [--follow] [-n N]: the end of a
# project's runner log, and with --follow what is appended, across the
# runner's rotation (runner.log moved to runner.log.1, a new runner.log).

bats_require_minimum_version 1.5.0
load ../lib

setup() {
	setup_home
	P="$TEST_ROOT/proj"
	new_project "$P"
	LOG="$P/.steroids/logs/runner.log"
	FOLLOW_PID=
}

teardown() {
	teardown_home
}

# log_lines FROM TO: "line FROM" .. "line TO", one a line, appended.
log_lines() {
	mkdir -p "$P/.steroids/logs"
	seq -f 'line %g' "$1" "$2" >>"$LOG"
}

start_follow() {
	"$STEROIDS" runners logs --project "$P" --follow "$@" \
	    >"$TEST_ROOT/follow.out" 2>"$TEST_ROOT/follow.err" &
	FOLLOW_PID=$!
	track_pid "$FOLLOW_PID"
}

# The follower ends on the signal just sent, with exit 0.
follow_exit_0() {
	local st=0
	wait "$FOLLOW_PID" || st=$?
	[ "$st" -eq 0 ]
}

follow_has() {
	grep -qx "$1" "$TEST_ROOT/follow.out"
}

@test "runners logs: no log yet is exit 4 and one line" {
	run --separate-stderr "$STEROIDS" runners logs --project "$P"
	expect_status 4 "*no runner log yet*"
	[ -z "$output" ]
}

@test "runners logs: the last 10 lines, or -n N; a last line without newline counts" {
	log_lines 1 15
	run --separate-stderr "$STEROIDS" runners logs --project "$P"
	[ "$status" -eq 0 ]
	[ "$output" = "$(seq -f 'line %g' 6 15)" ]
	run --separate-stderr "$STEROIDS" runners logs --project "$P" -n 3
	[ "$status" -eq 0 ]
	[ "$output" = "$(seq -f 'line %g' 13 15)" ]
	run --separate-stderr "$STEROIDS" runners logs --project "$P" -n 0
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run --separate-stderr "$STEROIDS" runners logs --project "$P" -n 100
	[ "${#lines[@]}" -eq 15 ]
	printf 'no newline' >>"$LOG"
	run --separate-stderr "$STEROIDS" runners logs --project "$P" -n 2
	[ "$status" -eq 0 ]
	[ "$output" = "line 15"$'\n'"no newline" ]
}

@test "runners logs: without --project, the project of the current folder" {
	log_lines 1 2
	mkdir "$P/sub"
	cd "$P/sub"
	run --separate-stderr "$STEROIDS" runners logs
	[ "$status" -eq 0 ]
	[ "$output" = "$(seq -f 'line %g' 1 2)" ]
	cd "$TEST_ROOT"
	run --separate-stderr "$STEROIDS" runners logs
	expect_status 3 "*Not a steroids project*"
}

@test "runners logs: a bad -n is exit 2 and one line" {
	log_lines 1 2
	for n in -1 x 1000001; do
		run --separate-stderr "$STEROIDS" runners logs --project "$P" -n "$n"
		expect_status 2 "*-n $n*"
	done
}

@test "runners logs --follow: appended lines, then across a rotation, until SIGTERM" {
	log_lines 1 12
	start_follow -n 2
	wait_for 5 follow_has "line 12"
	log_lines 13 14
	wait_for 5 follow_has "line 14"
	# The runner's rotation: the old file moved aside, a new one made.
	mv "$LOG" "$LOG.1"
	log_lines 15 16
	wait_for 5 follow_has "line 16"
	log_lines 17 17
	wait_for 5 follow_has "line 17"
	kill -TERM "$FOLLOW_PID"
	follow_exit_0
	# Each line once, in order, and only the last 2 of the first 12.
	[ "$(cat "$TEST_ROOT/follow.out")" = "$(seq -f 'line %g' 11 17)" ]
	[ ! -s "$TEST_ROOT/follow.err" ]
}

@test "runners logs --follow: a log that does not exist yet is waited for" {
	start_follow
	sleep 0.3
	kill -0 "$FOLLOW_PID"
	log_lines 1 3
	wait_for 5 follow_has "line 3"
	kill -INT "$FOLLOW_PID"
	follow_exit_0
	[ "$(cat "$TEST_ROOT/follow.out")" = "$(seq -f 'line %g' 1 3)" ]
}

@test "runners logs --follow: a truncated log is read again from its start" {
	log_lines 1 3
	start_follow -n 1
	# It has read to the end: a shorter file from now on is a truncation.
	wait_for 5 follow_has "line 3"
	: >"$LOG"
	log_lines 9 9
	wait_for 5 follow_has "line 9"
	kill -TERM "$FOLLOW_PID"
	follow_exit_0
	grep -q 'truncated' "$TEST_ROOT/follow.err"
}

@test "runners logs --follow: the log a real runner writes" {
	set_config "$P" runner.command 'echo "task $STEROIDS_TASK_TITLE ran"'
	start_follow
	"$STEROIDS" tasks add --project "$P" first >/dev/null
	"$STEROIDS" loop --project "$P" >/dev/null 2>&1
	wait_for 5 follow_has "task first ran"
	kill -TERM "$FOLLOW_PID"
	follow_exit_0
}
