#!/usr/bin/env bats
# steroids runners list|stop, and the RUNNER/PENDING columns of projects
# list (SPEC 6, 9; issue 3).  Alive means: holds its project's lock.

bats_require_minimum_version 1.5.0
load ../lib

setup() {
	setup_home
	P="$TEST_ROOT/proj"
	new_project "$P"
}

teardown() {
	teardown_home
}

handler() {
	printf '%s\n' "$1" >"$TEST_ROOT/handler.sh"
	set_config "$P" runner.command "exec sh $TEST_ROOT/handler.sh"
}

# shellcheck disable=SC2120 # callers may pass loop options
start_loop() {
	"$STEROIDS" loop --project "$P" "$@" >"$TEST_ROOT/loop.out" 2>&1 3>&- &
	LOOP_PID=$!
	track_pid "$LOOP_PID"
}

has_row() {
	[ "$(gdb "SELECT count(*) FROM runners WHERE current_task_id IS NOT NULL")" -ge 1 ]
}

# fake_row ID PID [PROJECT [STARTED_SQL]]: a runners row as a dead or
# foreign runner left it.
fake_row() {
	gdb "INSERT INTO runners (id, status, pid, project_path, started_at, heartbeat_at)
	    VALUES ('$1', 'running', $2, '${3:-$P}', ${4:-datetime('now')}, datetime('now'))"
}

# A process that holds the project's lock like a runner, writes its PID
# there like one, and ignores SIGTERM (a hung runner).
start_stubborn() {
	bash -c 'exec 9>>"$1"; "$FLOCK" -n 9 || exit 1; echo $$ >"$1"
	    trap "" TERM; : >"$2"; while :; do sleep 0.1 9>&-; done' _ \
	    "$P/.steroids/runner.lock" "$TEST_ROOT/ready" \
	    >/dev/null 2>&1 3>&- &
	STUBBORN=$!
	track_pid "$STUBBORN"
	wait_for 5 test -e "$TEST_ROOT/ready"
}

@test "runners list shows a running runner with its task, and nothing after" {
	steroids tasks add work --project "$P" >/dev/null
	task=$(pdb "$P" "SELECT id FROM tasks")
	handler "while [ ! -e $TEST_ROOT/go ]; do sleep 0.05; done"
	start_loop
	wait_for 5 has_row
	run steroids runners list --json
	[ "$status" -eq 0 ]
	id=$(gdb "SELECT id FROM runners")
	[[ "$output" == '{"success":true,"command":"runners","subcommand":"list","data":[{"id":"'"$id"'","pid":'"$LOOP_PID"',"project":"'"$P"'","status":"running","current_task_id":"'"$task"'","started_at":"'* ]]
	[[ "$output" == *'"heartbeat_age":'*',"state":"alive"}],"error":null}' ]]
	run steroids runners list
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "ID"*"PID"*"PROJECT"*"STATUS"*"TASK"*"STARTED"*"HEARTBEAT"*"STATE" ]]
	[[ "${lines[1]}" == "${id:0:8}"*"$LOOP_PID"*"$P"*running*"$task"*alive ]]
	touch "$TEST_ROOT/go"
	wait "$LOOP_PID"
	run steroids runners list
	[ "$status" -eq 0 ]
	[ "$output" = "No runners." ]
}

@test "runners list: dead when the process is gone or does not hold the lock, stale when the heartbeat is old" {
	sleep 0 &
	gone=$!
	wait "$gone"
	sleep 30 3>&- &
	live=$!
	track_pid "$live"
	Q="$TEST_ROOT/other"
	new_project "$Q"
	fake_row gone-pid "$gone"
	# A live PID that is not a runner (a reused PID: started after the
	# row was written) is dead too.
	fake_row reused-pid "$live" "$Q" "datetime('now', '-1 hour')"
	steroids tasks add work --project "$P" >/dev/null
	handler "while [ ! -e $TEST_ROOT/go ]; do sleep 0.05; done"
	start_loop
	wait_for 5 has_row
	# The runner took the lock: rows of its project's dead runners went.
	[ "$(gdb "SELECT count(*) FROM runners WHERE id = 'gone-pid'")" -eq 0 ]
	fake_row gone-pid "$gone"
	gdb "UPDATE runners SET heartbeat_at = datetime('now', '-1 hour') WHERE pid = $LOOP_PID"
	run steroids runners list --json
	[ "$status" -eq 0 ]
	[ "$(state_of gone-pid)" = dead ]
	[ "$(state_of reused-pid)" = dead ]
	id=$(gdb "SELECT id FROM runners WHERE pid = $LOOP_PID")
	[ "$(state_of "$id")" = stale ]
	# A shorter stale_timeout in the project config applies to its runners.
	gdb "UPDATE runners SET heartbeat_at = datetime('now', '-20 seconds') WHERE pid = $LOOP_PID"
	run steroids runners list --json
	[ "$(state_of "$id")" = alive ]
	set_config "$P" runner.stale_timeout 10
	run steroids runners list --json
	[ "$(state_of "$id")" = stale ]
	touch "$TEST_ROOT/go"
	wait "$LOOP_PID"
}

@test "runners stop --project: SIGTERM, the task goes back to pending, the row goes" {
	steroids tasks add long --project "$P" >/dev/null
	handler "sleep 30"
	start_loop
	wait_for 5 has_row
	cd "$TEST_ROOT"
	run steroids runners stop --project ./proj
	[ "$status" -eq 0 ]
	[[ "$output" == *"$LOOP_PID"*"$P"*stopped* ]]
	rc=0
	wait "$LOOP_PID" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(pdb "$P" "SELECT status || ' ' || failure_count FROM tasks")" = "pending 0" ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
	run steroids runners stop --project "$P"
	[ "$status" -eq 0 ]
	[[ "$output" == "No runners to stop for $P." ]]
}

@test "runners stop --id and --all; dead rows are cleaned and a live non-runner PID is never signalled" {
	Q="$TEST_ROOT/other"
	new_project "$Q"
	steroids tasks add long --project "$P" >/dev/null
	handler "sleep 30"
	start_loop
	wait_for 5 has_row
	sleep 30 3>&- &
	live=$!
	track_pid "$live"
	# Its row older than the process: a reused PID, not an upstream runner.
	fake_row not-a-runner "$live" "$Q" "datetime('now', '-1 hour')"
	id=$(gdb "SELECT id FROM runners WHERE pid = $LOOP_PID")
	run steroids runners stop --id "${id:0:8}" --json
	[ "$status" -eq 0 ]
	[[ "$output" == *'"data":[{"id":"'"$id"'","pid":'"$LOOP_PID"',"project":"'"$P"'","result":"stopped"}]'* ]]
	wait "$LOOP_PID" || true
	kill -0 "$live"
	run steroids runners stop --all
	[ "$status" -eq 0 ]
	[[ "$output" == *not-a-runner*"$live"*cleaned* ]]
	kill -0 "$live"
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

@test "runners stop: a row whose project lock cannot be read never gets its PID signalled" {
	# A dead runner's row, its PID reused by another process, and the
	# lock not readable (a symlink here; EACCES or EIO elsewhere).
	sleep 30 3>&- &
	live=$!
	track_pid "$live"
	fake_row left-behind "$live"
	ln -s /dev/null "$P/.steroids/runner.lock"
	run --separate-stderr steroids runners stop --all --force
	expect_status 1 "*not signalled*lock*cannot be read*"
	kill -0 "$live"
	[[ "$output" == *left-behind*"$live"*not_signalled* ]]
	# Not known dead either: the row stays.
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 1 ]
}

@test "runners stop: a runner that ignores SIGTERM is reported, and killed only with --force" {
	start_stubborn
	fake_row hung "$STUBBORN"
	run --separate-stderr steroids runners stop --id hung
	expect_status 1 "*did not stop*--force*"
	[[ "$output" == *hung*still_running* ]]
	kill -0 "$STUBBORN"
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 1 ]
	run steroids runners stop --id hung --force
	[ "$status" -eq 0 ]
	[[ "$output" == *hung*"$STUBBORN"*killed* ]]
	run ! kill -0 "$STUBBORN"
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
	"$FLOCK" -n "$P/.steroids/runner.lock" true
}

@test "runners stop: bad selectors" {
	before=$(gdb .dump)
	run --separate-stderr steroids runners stop
	expect_status 2 "*--project <path>, --id <id> or --all*"
	run --separate-stderr steroids runners stop --all --id x
	expect_status 2
	run --separate-stderr steroids runners stop --id no-such-runner
	expect_status 4 "*no runner with id 'no-such-runner'*"
	[ "$(gdb .dump)" = "$before" ]
}

@test "projects list fills RUNNER from the lock and PENDING from the queue" {
	for t in a b c; do steroids tasks add "$t" --project "$P" >/dev/null; done
	steroids tasks update "$(pdb "$P" "SELECT id FROM tasks WHERE title = 'c'")" \
	    --status completed --project "$P" >/dev/null
	run steroids projects list
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == *"$P"*enabled*" - "*" 2 "* ]]
	handler "while [ ! -e $TEST_ROOT/go ]; do sleep 0.05; done"
	start_loop
	wait_for 5 has_row
	run steroids projects list
	[[ "${lines[1]}" == *"$P"*enabled*"pid $LOOP_PID"*" 2 "* ]]
	run steroids projects list --json
	[[ "$output" == *'"runner":{"pid":'"$LOOP_PID"'},"pending":2'* ]]
	touch "$TEST_ROOT/go"
	wait "$LOOP_PID"
	run steroids projects list --json
	[[ "$output" == *'"runner":null,"pending":0'* ]]
}

@test "projects list: a lock held before its PID is written shows a runner starting, not pid 0" {
	bash -c 'exec 9>>"$1"; "$FLOCK" -n 9 || exit 1; : >"$2"; sleep 30 9>&-' _ \
	    "$P/.steroids/runner.lock" "$TEST_ROOT/ready" >/dev/null 2>&1 3>&- &
	track_pid $!
	wait_for 5 test -e "$TEST_ROOT/ready"
	run steroids projects list
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == *"$P"*enabled*" starting "* ]]
	[[ "$output" != *"pid 0"* ]]
	run steroids projects list --json
	[[ "$output" == *'"runner":{"pid":null},'* ]]
}
