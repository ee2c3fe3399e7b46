#!/usr/bin/env bats
# steroids loop: the runner (SPEC 6; issue 3).  Handlers are small sh
# scripts that record what they saw; waits are bounded polls, not sleeps.

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

# handler BODY: the project's runner.command runs this sh script, with
# PGID set to its process group (the runner makes one per task).
handler() {
	printf '%s\n' "PGID=\$(ps -o pgid= -p \$\$ | tr -d ' ')" "$1" \
	    >"$TEST_ROOT/handler.sh"
	set_config "$P" runner.command "exec sh $TEST_ROOT/handler.sh"
}

# start_loop ARGS...: a runner in the background (LOOP_PID).
# shellcheck disable=SC2120 # callers may pass loop options
start_loop() {
	"$STEROIDS" loop --project "$P" "$@" >"$TEST_ROOT/loop.out" 2>&1 3>&- &
	LOOP_PID=$!
	track_pid "$LOOP_PID"
}

lock_free() {
	flock -n "$P/.steroids/runner.lock" true
}

task_id() {
	pdb "$P" "SELECT id FROM tasks WHERE title = '$1'"
}

status_of() {
	pdb "$P" "SELECT status FROM tasks WHERE title = '$1'"
}

file_has() {
	[ -s "$1" ]
}

in_progress() {
	[ "$(status_of "$1")" = in_progress ]
}

@test "loop --project from another directory runs the tasks in the project" {
	steroids tasks add one --project "$P" >/dev/null
	steroids tasks add two --project "$P" >/dev/null
	handler "{ pwd -P; env | grep '^STEROIDS_' | sort
	    sqlite3 -separator ' ' \"\$STEROIDS_HOME/steroids.db\" 'SELECT id, project_path, status, current_task_id, pid FROM runners'
	    echo --; } >>$REC"
	ln -s proj "$TEST_ROOT/link"
	mkdir "$TEST_ROOT/elsewhere"
	cd "$TEST_ROOT/elsewhere"
	run steroids loop --project ../link/.
	[ "$status" -eq 0 ]
	[[ "$output" == *"2 tasks run, stopped: no pending work"* ]]
	[ "$(status_of one)" = completed ]
	[ "$(status_of two)" = completed ]

	one=$(task_id one)
	# The handler ran in the project, with the documented environment.
	[ "$(grep -c "^$P\$" "$REC")" -eq 2 ]
	grep -qx "STEROIDS_PROJECT=$P" "$REC"
	grep -qx "STEROIDS_TASK_ID=$one" "$REC"
	grep -qx "STEROIDS_TASK_TITLE=one" "$REC"
	grep -qx "STEROIDS_TASK_ACTION=start" "$REC"
	rid=$(sed -n 's/^STEROIDS_RUNNER_ID=//p' "$REC" | sort -u)
	[ "$(printf '%s\n' "$rid" | wc -l)" -eq 1 ]
	# While it ran its row carried the canonical path and the task.
	grep -qx "$rid $P running $one [0-9]*" "$REC"
	# Afterwards: no row, no lock.
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
	lock_free
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE actor = '$rid' AND actor_type = 'runner'")" -eq 4 ]
}

@test "tasks run in order: review, in_progress, then by section position and age" {
	steroids tasks add plain --project "$P" >/dev/null
	steroids tasks add b-task --section B --project "$P" >/dev/null
	steroids tasks add a-task --section A --project "$P" >/dev/null
	steroids tasks add in-review --project "$P" >/dev/null
	steroids tasks add started --project "$P" >/dev/null
	pdb "$P" "UPDATE tasks SET status = 'review' WHERE title = 'in-review';
	    UPDATE tasks SET status = 'in_progress' WHERE title = 'started';
	    UPDATE sections SET position = 9 WHERE name = 'B'"
	handler "echo \"\$STEROIDS_TASK_TITLE \$STEROIDS_TASK_ACTION\" >>$REC"
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(tr '\n' ',' <"$REC")" = "in-review review,started resume,a-task start,b-task start,plain start," ]
}

@test "tasks of a skipped section are not run and are not pending work" {
	steroids tasks add parked --section later --project "$P" >/dev/null
	steroids tasks add parked-review --section later --project "$P" >/dev/null
	steroids tasks add now --section first --project "$P" >/dev/null
	pdb "$P" "UPDATE sections SET skipped = 1, position = -1 WHERE name = 'later';
	    UPDATE tasks SET status = 'review' WHERE title = 'parked-review'"
	handler "echo \"\$STEROIDS_TASK_TITLE\" >>$REC"
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(cat "$REC")" = now ]
	[ "$(status_of parked)" = pending ]
	[ "$(status_of parked-review)" = review ]
	# Nothing left for a runner: the agent and the sweep start none.
	run steroids projects list --json
	[[ "$output" == *'"pending":0'* ]]
	run steroids loop --project "$P" --dry-run
	[[ "$output" == *"no pending work"* ]]
	# Unskipped, the section is worked on again.
	pdb "$P" "UPDATE sections SET skipped = 0 WHERE name = 'later'"
	run steroids loop --project "$P"
	[ "$(tr '\n' ',' <"$REC")" = "now,parked-review,parked," ]
}

@test "a second loop for the project exits 6 naming the holder and touches nothing" {
	steroids tasks add one --project "$P" >/dev/null
	steroids tasks add two --project "$P" >/dev/null
	handler "while [ ! -e $TEST_ROOT/go ]; do sleep 0.05; done"
	start_loop
	wait_for 5 in_progress one
	before=$(pdb "$P" .dump)
	run --separate-stderr steroids loop --project "$P"
	expect_status 6 "*already running*pid $LOOP_PID*"
	run --separate-stderr steroids loop --project "$P" --once
	expect_status 6
	[ "$(pdb "$P" .dump)" = "$before" ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 1 ]
	touch "$TEST_ROOT/go"
	wait "$LOOP_PID"
	[ "$(status_of two)" = completed ]
}

@test "20 concurrent starts on one project: exactly one runner processes tasks" {
	for i in 1 2 3 4 5; do
		steroids tasks add "t$i" --project "$P" >/dev/null
	done
	handler "echo \"\$STEROIDS_RUNNER_ID \$STEROIDS_TASK_TITLE\" >>$REC; sleep 0.2"
	pids=()
	for i in $(seq 20); do
		"$STEROIDS" loop --project "$P" >"$TEST_ROOT/out.$i" 2>&1 3>&- &
		pids+=($!)
		track_pid $!
	done
	codes=()
	for p in "${pids[@]}"; do
		rc=0
		wait "$p" || rc=$?
		codes+=("$rc")
	done
	# Each one either ran or was refused with 6; nothing else.
	for rc in "${codes[@]}"; do
		[ "$rc" -eq 0 ] || [ "$rc" -eq 6 ]
	done
	[ "$(cut -d' ' -f1 "$REC" | sort -u | wc -l)" -eq 1 ]
	[ "$(wc -l <"$REC")" -eq 5 ]
	[ "$(pdb "$P" "SELECT count(*) FROM tasks WHERE status = 'completed'")" -eq 5 ]
	[ "$(pdb "$P" "SELECT count(DISTINCT actor) FROM audit WHERE actor_type = 'runner'")" -eq 1 ]
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE to_status = 'in_progress'")" -eq 5 ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

@test "kill -9 mid-task: the lock is free at once and the next runner resumes that task first" {
	steroids tasks add first --project "$P" >/dev/null
	steroids tasks add second --project "$P" >/dev/null
	touch "$TEST_ROOT/slow"
	handler "echo \"\$STEROIDS_TASK_TITLE \$STEROIDS_TASK_ACTION\" >>$REC
	    if [ -e $TEST_ROOT/slow ]; then echo \$PGID >$TEST_ROOT/pgid; exec sleep 30; fi"
	start_loop
	wait_for 5 file_has "$TEST_ROOT/pgid"
	pgid=$(cat "$TEST_ROOT/pgid")
	track_pgid "$pgid"
	run ! group_gone "$pgid"
	kill -9 "$LOOP_PID"
	wait "$LOOP_PID" || true
	lock_free
	# The handler dies with its runner; the row stays, shown dead.
	wait_for 3 group_gone "$pgid"
	[ "$(status_of first)" = in_progress ]
	run steroids runners list --json
	[ "$status" -eq 0 ]
	[[ "$output" == *"\"pid\":$LOOP_PID,"*'"state":"dead"'* ]]

	rm "$TEST_ROOT/slow"
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(tr '\n' ',' <"$REC")" = "first start,first resume,second start," ]
	[ "$(status_of first)" = completed ]
	[ "$(status_of second)" = completed ]
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE from_status = 'in_progress' AND to_status = 'in_progress' AND notes = 'runner: resume'")" -eq 1 ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

@test "kill -9 mid-task: what the handler started is ended before the task is resumed" {
	steroids tasks add work --project "$P" >/dev/null
	# The first run leaves a background child (not exec'd) and sleeps; the
	# resumed run records whether anything of the first run's group lives.
	handler "echo \"\$STEROIDS_TASK_ACTION \$PGID\" >>$REC
	    if [ \"\$STEROIDS_TASK_ACTION\" = start ]; then
		sleep 300 & echo \$PGID >$TEST_ROOT/pgid; sleep 300
	    fi
	    old=\$(cat $TEST_ROOT/pgid)
	    if kill -0 -\$old 2>/dev/null; then echo overlap >>$REC; fi"
	start_loop
	wait_for 5 file_has "$TEST_ROOT/pgid"
	pgid=$(cat "$TEST_ROOT/pgid")
	track_pgid "$pgid"
	kill -9 "$LOOP_PID"
	wait "$LOOP_PID" || true
	lock_free
	# The shell died with its runner (PR_SET_PDEATHSIG); its children did not.
	sleep 0.2
	run ! group_gone "$pgid"
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(cut -d' ' -f1 "$REC" | tr '\n' ',')" = "start,resume," ]
	group_gone "$pgid"
	grep -q "ending process group $pgid left by runner" "$P/.steroids/logs/runner.log"
	[ "$(status_of work)" = completed ]
	[ ! -e "$P/.steroids/handler.pgid" ]
}

@test "a recorded handler group that is not the dead runner's is left alone" {
	steroids tasks add work --project "$P" >/dev/null
	handler "echo ran >>$REC"
	# A process group of ours that no runner started, as if the recorded
	# group had ended and its id been reused.
	setsid sleep 30 >/dev/null 2>&1 3>&- &
	other=$!
	track_pid "$other"
	wait_for 5 test "$(ps -o pgid= -p "$other" | tr -d ' ')" = "$other"
	echo "$other 00000000-dead-4000-8000-000000000000" >"$P/.steroids/handler.pgid"
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(status_of work)" = completed ]
	kill -0 "$other"
	[ ! -e "$P/.steroids/handler.pgid" ]
}

@test "task_timeout kills the handler's whole process group, background children too" {
	steroids tasks add slow --project "$P" >/dev/null
	set_config "$P" runner.task_timeout 1
	handler "echo \$PGID >$TEST_ROOT/pgid; sleep 30 & echo \$! >$TEST_ROOT/bg; sleep 30"
	run steroids loop --project "$P" --once
	[ "$status" -eq 0 ]
	pgid=$(cat "$TEST_ROOT/pgid")
	track_pgid "$pgid"
	group_gone "$pgid"
	run ! kill -0 "$(cat "$TEST_ROOT/bg")"
	[ "$(pdb "$P" "SELECT status || ' ' || failure_count || ' ' || (last_failure_at IS NOT NULL) FROM tasks")" = "pending 1 1" ]
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE notes LIKE 'runner: timeout%'")" -eq 1 ]
}

@test "a group that ignores SIGTERM gets SIGKILL after the grace" {
	steroids tasks add stubborn --project "$P" >/dev/null
	set_config "$P" runner.task_timeout 1
	handler "trap '' TERM; echo \$PGID >$TEST_ROOT/pgid; sleep 30 & sleep 30"
	run steroids loop --project "$P" --once
	[ "$status" -eq 0 ]
	pgid=$(cat "$TEST_ROOT/pgid")
	track_pgid "$pgid"
	group_gone "$pgid"
	[ "$(pdb "$P" "SELECT status || ' ' || failure_count FROM tasks")" = "pending 1" ]
}

@test "failures are counted; at runner.max_failures the task is failed" {
	steroids tasks add flaky --project "$P" >/dev/null
	set_config "$P" runner.max_failures 2
	handler "echo run >>$REC; exit 3"
	run steroids loop --project "$P" --once
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT status || ' ' || failure_count FROM tasks")" = "pending 1" ]
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT status || ' ' || failure_count FROM tasks")" = "failed 2" ]
	[ "$(wc -l <"$REC")" -eq 2 ]
	[ "$(pdb "$P" "SELECT group_concat(to_status, ',') FROM (SELECT to_status FROM audit WHERE actor_type = 'runner' ORDER BY id)")" = \
	    "in_progress,pending,in_progress,failed" ]
	# Nothing left to do: a new loop runs nothing and exits 0.
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$REC")" -eq 2 ]
}

@test "a status the handler set itself is kept, on success and on failure" {
	steroids tasks add disputes --project "$P" >/dev/null
	steroids tasks add finishes-then-fails --project "$P" >/dev/null
	handler 'case "$STEROIDS_TASK_TITLE" in
	disputes) "$STEROIDS" tasks update "$STEROIDS_TASK_ID" --status disputed; exit 0;;
	*) "$STEROIDS" tasks update "$STEROIDS_TASK_ID" --status completed; exit 1;;
	esac'
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT status || ' ' || failure_count FROM tasks WHERE title = 'disputes'")" = "disputed 0" ]
	[ "$(pdb "$P" "SELECT status || ' ' || failure_count FROM tasks WHERE title = 'finishes-then-fails'")" = "completed 1" ]
	# The handler's change is audited as the handler's, under its runner.
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE actor_type = 'handler' AND to_status = 'disputed'")" -eq 1 ]
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE actor_type = 'runner' AND from_status = 'in_progress'")" -eq 0 ]
}

@test "a handler that puts its task back to pending and fails still reaches max_failures" {
	steroids tasks add again --project "$P" >/dev/null
	set_config "$P" runner.max_failures 2
	handler 'echo run >>'"$REC"'
	"$STEROIDS" tasks update "$STEROIDS_TASK_ID" --status pending >/dev/null
	exit 1'
	run timeout 20 "$STEROIDS" loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(status_of again)" = failed ]
	[ "$(pdb "$P" "SELECT failure_count FROM tasks")" -eq 2 ]
	[ "$(wc -l <"$REC")" -eq 2 ]
}

@test "tasks added and updated from the CLI while a runner works never fail as locked" {
	for i in $(seq 20); do steroids tasks add "seed$i" --project "$P" >/dev/null; done
	# The handler writes too, as handlers do.
	handler '"$STEROIDS" tasks update "$STEROIDS_TASK_ID" --status review >/dev/null
	"$STEROIDS" tasks update "$STEROIDS_TASK_ID" --status in_progress >/dev/null'
	start_loop
	fails=0
	for i in $(seq 40); do
		steroids tasks add "more$i" --project "$P" >/dev/null 2>>"$TEST_ROOT/err" || fails=$((fails + 1))
		steroids tasks list --project "$P" >/dev/null 2>>"$TEST_ROOT/err" || fails=$((fails + 1))
	done
	wait "$LOOP_PID"
	[ "$fails" -eq 0 ] || { cat "$TEST_ROOT/err" >&2; false; }
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT count(*) FROM tasks WHERE status = 'completed'")" -eq 60 ]
}

@test "--once runs one task and stops" {
	for t in a b c; do steroids tasks add "$t" --project "$P" >/dev/null; done
	handler "true"
	run steroids loop --project "$P" --once
	[ "$status" -eq 0 ]
	[[ "$output" == *"1 task run, stopped: once"* ]]
	[ "$(pdb "$P" "SELECT group_concat(status, ',') FROM (SELECT status FROM tasks ORDER BY rowid)")" = "completed,pending,pending" ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

@test "--dry-run shows what would run and leaves the DB byte-identical" {
	steroids tasks add a --project "$P" >/dev/null
	steroids tasks add b --project "$P" >/dev/null
	pdb "$P" "UPDATE tasks SET status = 'in_progress' WHERE title = 'b'"
	handler "echo ran >>$REC"
	cp "$P/.steroids/steroids.db" "$TEST_ROOT/before.db"
	gbefore=$(gdb .dump)
	run steroids loop --project "$P" --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *"pending 1, in_progress 1"* ]]
	[[ "$output" == *"would run: exec sh $TEST_ROOT/handler.sh"* ]]
	[[ "$output" == *"(resume): b"* ]]
	run steroids loop --project "$P" --dry-run --json
	[ "$status" -eq 0 ]
	[[ "$output" == *'"next":{"id":"'*'"title":"b","status":"in_progress","action":"resume"}'* ]]
	cmp "$P/.steroids/steroids.db" "$TEST_ROOT/before.db"
	[ "$(gdb .dump)" = "$gbefore" ]
	[ ! -e "$REC" ]
	[ ! -e "$P/.steroids/logs/runner.log" ]
}

@test "the heartbeat advances while a 3-task run with slow handlers is under way" {
	for t in h1 h2 h3; do steroids tasks add "$t" --project "$P" >/dev/null; done
	set_config "$P" runner.heartbeat_interval 1
	handler "sleep 2.2"
	t1=$(task_id h1)
	start_loop
	row_on() {
		[ "$(gdb "SELECT count(*) FROM runners WHERE current_task_id = '$1'")" -eq 1 ]
	}
	wait_for 5 row_on "$t1"
	hb=$(gdb "SELECT heartbeat_at FROM runners")
	started=$(gdb "SELECT started_at FROM runners")
	# Beats come from the timer while the same task still runs.
	beat_during() {
		[ "$(gdb "SELECT heartbeat_at > '$hb' AND current_task_id = '$t1' FROM runners")" = 1 ]
	}
	wait_for 4 beat_during
	[ "$(status_of h1)" = in_progress ]
	[ "$(gdb "SELECT started_at FROM runners")" = "$started" ]
	wait "$LOOP_PID"
	[ "$(pdb "$P" "SELECT count(*) FROM tasks WHERE status = 'completed'")" -eq 3 ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

@test "SIGTERM or SIGINT mid-task: task back to pending uncounted, row gone, lock free, exit 0" {
	steroids tasks add long --project "$P" >/dev/null
	handler "echo \$PGID >$TEST_ROOT/pgid; sleep 30"
	for sig in TERM INT; do
		rm -f "$TEST_ROOT/pgid"
		start_loop
		wait_for 5 file_has "$TEST_ROOT/pgid"
		pgid=$(cat "$TEST_ROOT/pgid")
		track_pgid "$pgid"
		run ! group_gone "$pgid"
		kill -s "$sig" "$LOOP_PID"
		rc=0
		wait "$LOOP_PID" || rc=$?
		[ "$rc" -eq 0 ]
		group_gone "$pgid"
		[ "$(pdb "$P" "SELECT status || ' ' || failure_count FROM tasks")" = "pending 0" ]
		[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
		lock_free
		grep -q "stopped by signal" "$TEST_ROOT/loop.out"
	done
}

@test "a project disabled while its runner works finishes the task, then stops" {
	steroids tasks add one --project "$P" >/dev/null
	steroids tasks add two --project "$P" >/dev/null
	handler "while [ ! -e $TEST_ROOT/go ]; do sleep 0.05; done"
	start_loop
	wait_for 5 in_progress one
	steroids projects disable "$P" >/dev/null
	touch "$TEST_ROOT/go"
	wait "$LOOP_PID"
	[ "$(status_of one)" = completed ]
	[ "$(status_of two)" = pending ]
	grep -q "stopped: project disabled" "$TEST_ROOT/loop.out"
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

@test "no runner.command: exit 3 naming the key and how to set it; nothing changed" {
	steroids tasks add t --project "$P" >/dev/null
	before=$(pdb "$P" .dump)
	run --separate-stderr steroids loop --project "$P"
	expect_status 3 "*runner.command*steroids config set runner.command*"
	run --separate-stderr steroids loop --project "$P" --dry-run
	expect_status 3 "*runner.command*"
	[ "$(pdb "$P" .dump)" = "$before" ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

@test "bad --project: a file, a folder without .steroids, another user's folder" {
	steroids tasks add t --project "$P" >/dev/null
	handler "echo ran >>$REC"
	touch "$TEST_ROOT/file"
	mkdir "$TEST_ROOT/plain"
	run --separate-stderr steroids loop --project "$TEST_ROOT/file"
	expect_status 3 "steroids: Not a steroids project: $TEST_ROOT/file (not a directory: $TEST_ROOT/file)"
	run --separate-stderr steroids loop --project "$TEST_ROOT/plain"
	expect_status 3 "steroids: Not a steroids project: $TEST_ROOT/plain"
	[ ! -e "$TEST_ROOT/plain/.steroids" ]
	uid=$(other_uid)
	if [ -n "$uid" ]; then
		O="$TEST_ROOT/theirs"
		new_project "$O"
		steroids tasks add t --project "$O" >/dev/null
		echo "runner.command = touch $TEST_ROOT/pwned" >"$O/.steroids/config"
		chown -R "$uid" "$O"
		before=$(pdb "$O" .dump)
		run --separate-stderr steroids loop --project "$O"
		expect_status 5 "*owned by uid $uid*"
		[ "$(pdb "$O" .dump)" = "$before" ]
		[ ! -e "$TEST_ROOT/pwned" ]
	fi
	[ ! -e "$REC" ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
	[ "$(status_of t)" = pending ]
}

@test "the runner log is appended to and rotated by size" {
	steroids tasks add a --project "$P" >/dev/null
	handler 'echo "output of $STEROIDS_TASK_TITLE"'
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	L="$P/.steroids/logs/runner.log"
	grep -q "output of a" "$L"
	[ "$(stat -c %a "$L")" = 600 ]
	[ "$(stat -c %a "$P/.steroids/logs")" = 700 ]
	steroids tasks add b --project "$P" >/dev/null
	run steroids loop --project "$P"
	grep -q "output of a" "$L"
	grep -q "output of b" "$L"
	# Past the size limit the old log moves aside and a new one starts.
	truncate -s 11M "$L"
	steroids tasks add c --project "$P" >/dev/null
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$L.1")" -eq $((11 * 1024 * 1024)) ]
	grep -q "output of c" "$L"
	run ! grep -q "output of b" "$L"
	[ "$(stat -c %s "$L")" -lt 4096 ]
}

@test "no pending work: loop exits 0 at once without running anything" {
	handler "echo ran >>$REC"
	run steroids loop --project "$P"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 tasks run, stopped: no pending work"* ]]
	[ ! -e "$REC" ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

@test "started with stdout on the runner log, as the agent does: each task is logged once" {
	steroids tasks add alpha --project "$P" >/dev/null
	steroids tasks add beta --project "$P" >/dev/null
	handler "echo ran"
	mkdir -p "$P/.steroids/logs"
	log="$P/.steroids/logs/runner.log"
	"$STEROIDS" loop --project "$P" >>"$log" 2>&1
	[ "$(grep -c '(start): alpha$' "$log")" -eq 1 ]
	[ "$(grep -c '(start): beta$' "$log")" -eq 1 ]
	[ "$(grep -c -- '-> completed$' "$log")" -eq 2 ]
	# On a terminal or a pipe the progress still shows.
	steroids tasks add gamma --project "$P" >/dev/null
	run "$STEROIDS" loop --project "$P"
	[ "$status" -eq 0 ]
	[[ "$output" == *"(start): gamma"* ]]
}
