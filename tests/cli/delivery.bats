#!/usr/bin/env bats
# The delivery contract of steroids(1) and the README (issue 16): a task
# runs again when its runner dies after the handler did its work (at
# least once), and a runner stopped past runner.task_timeout counts its
# task as timed out when it continues.

bats_require_minimum_version 1.5.0
load ../lib

setup() {
	setup_home
	P="$TEST_ROOT/proj"
	new_project "$P"
	REC="$TEST_ROOT/rec"
}

teardown() {
	teardown_home
}

stopped() {	# stopped PID: the process is in state T
	[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = T ]
}

@test "a runner killed after its handler's work runs the task again, as resume" {
	# The handler does its work, then kills its runner before the runner
	# can record the result: the first time only.
	cat >"$TEST_ROOT/handler.sh" <<EOF
echo "\$STEROIDS_TASK_ID \$STEROIDS_TASK_ACTION" >>"$REC"
if [ ! -e "$TEST_ROOT/killed" ]; then
	: >"$TEST_ROOT/killed"
	kill -KILL \$PPID
fi
EOF
	set_config "$P" runner.command "exec sh $TEST_ROOT/handler.sh"
	"$STEROIDS" tasks add once --project "$P" >/dev/null
	id=$(pdb "$P" "SELECT id FROM tasks WHERE title = 'once'")
	run "$STEROIDS" loop --project "$P"
	[ "$status" -eq 137 ]
	[ "$(pdb "$P" "SELECT status FROM tasks WHERE id = '$id'")" = in_progress ]
	run "$STEROIDS" loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT status FROM tasks WHERE id = '$id'")" = completed ]
	[ "$(cat "$REC")" = "$id start
$id resume" ]
}

@test "a runner stopped past runner.task_timeout times its task out when continued" {
	# The handler stops its own runner, then is done in 1 s, well inside
	# the 2 s timeout; the runner is continued only 3 s later.
	cat >"$TEST_ROOT/handler.sh" <<EOF
echo "\$STEROIDS_TASK_ACTION" >>"$REC"
kill -STOP \$PPID
sleep 1
EOF
	set_config "$P" runner.command "exec sh $TEST_ROOT/handler.sh"
	set_config "$P" runner.task_timeout 2
	"$STEROIDS" tasks add stopped --project "$P" >/dev/null
	"$STEROIDS" loop --project "$P" --once >"$TEST_ROOT/loop.out" 2>&1 &
	pid=$!
	track_pid "$pid"
	wait_for 20 stopped "$pid"
	sleep 3
	kill -CONT "$pid"
	wait "$pid"
	run pdb "$P" "SELECT status || ' ' || failure_count FROM tasks"
	# Should it fail again (seen once in a loaded make check): what was.
	echo "task: $output"
	cat "$TEST_ROOT/loop.out" "$P/.steroids/logs/runner.log" "$REC"
	[ "$output" = "pending 1" ]
	grep -q 'timeout after 2 s' "$P/.steroids/logs/runner.log"
	[ "$(cat "$REC")" = start ]
}
