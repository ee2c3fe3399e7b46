#!/usr/bin/env bats
# wakeup.bats -- steroids runners wakeup (SPEC 7, issue 4): the sweep from
# any directory and cron's bare environment, every registered project,
# never two runners for one project, bounded time.  Runners are the fake
# runner (tests/cli/fake-runner) through STEROIDS_LOOP_COMMAND.

load ../lib

bats_require_minimum_version 1.5.0

setup() {
	setup_home
	FAKE="$top_srcdir/tests/cli/fake-runner"
	export STEROIDS_LOOP_COMMAND="$FAKE"
	export FAKE_RUNNER_DIR="$TEST_ROOT/fake"
	GDB="$STEROIDS_HOME/steroids.db"
}

teardown() {
	local p
	if [ -n "${LOCK_FD_OPEN:-}" ]; then
		exec 4>&-
	fi
	# Every fake runner that ran, whoever started it; one just spawned
	# by a failed test gets a moment to say so.
	sleep 0.1
	if [ -f "$FAKE_RUNNER_DIR/runs" ]; then
		for p in $(awk '{ print $3 }' "$FAKE_RUNNER_DIR/runs" | sort -u); do
			track_pid "$p"
		done
	fi
	teardown_home
}

# How many runners got the lock (the fake runner logs "started" then).
started() {
	if [ -f "$FAKE_RUNNER_DIR/runs" ]; then
		grep -c '^started' "$FAKE_RUNNER_DIR/runs" || true
	else
		echo 0
	fi
}

started_pids() {
	awk '/^started/ { print $3 }' "$FAKE_RUNNER_DIR/runs"
}

has_started() {
	[ "$(started)" -ge "$1" ]
}

lock_held() {
	! flock -n "$1/.steroids/runner.lock" true
}

@test "from / in cron's environment: one runner, in its own dir, canonical path" {
	mkdir -p "$TEST_ROOT/real dir/p1"
	ln -s "$TEST_ROOT/real dir" "$TEST_ROOT/link"
	new_project "$TEST_ROOT/link/p1"
	add_task "$TEST_ROOT/real dir/p1" "one"
	canon="$TEST_ROOT/real dir/p1"
	cd /
	run env -i PATH=/usr/bin:/bin HOME="$HOME" STEROIDS_HOME="$STEROIDS_HOME" \
	    STEROIDS_LOOP_COMMAND="$FAKE" FAKE_RUNNER_DIR="$FAKE_RUNNER_DIR" \
	    "$STEROIDS" runners wakeup --quiet
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	wait_for 10 has_started 1
	sleep 0.3
	[ "$(started)" -eq 1 ]
	pid=$(started_pids)
	# Its argv: the project's canonical path, as one argument.
	[ "$(cat "$FAKE_RUNNER_DIR/$pid.argv")" = "$canon" ]
	[ "$(cat "$FAKE_RUNNER_DIR/$pid.cwd")" = "$canon" ]
	# Its own session, and not a child of anyone still here.
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ]
	lock_held "$canon"
	# A second sweep sees it and starts nothing.
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$canon")" = "none|runner running (pid $pid)|$pid" ]
	sleep 0.3
	[ "$(started)" -eq 1 ]
	[ "$(grep -c '^spawned' "$FAKE_RUNNER_DIR/runs")" -eq 1 ]
}

@test "run wakeup from any directory: it finds the registered projects" {
	new_project "$TEST_ROOT/a"
	new_project "$TEST_ROOT/b"
	add_task "$TEST_ROOT/a" "ta"
	add_task "$TEST_ROOT/b" "tb"
	mkdir -p "$TEST_ROOT/elsewhere"
	for d in / "$HOME" "$TEST_ROOT/elsewhere" "$TEST_ROOT/a"; do
		cd "$d"
		run "$STEROIDS" runners wakeup --dry-run --json
		[ "$status" -eq 0 ]
		[ "$(action_of "$TEST_ROOT/a" | cut -d'|' -f1)" = would_start ]
		[ "$(action_of "$TEST_ROOT/b" | cut -d'|' -f1)" = would_start ]
	done
	cd "$HOME"
	run "$STEROIDS" runners wakeup
	[ "$status" -eq 0 ]
	[[ "$output" == *PROJECT*ACTION* ]]
	[[ "$output" == *"$TEST_ROOT/a"*started*"1 pending task"* ]]
	[[ "$output" == *"$TEST_ROOT/b"*started*"1 pending task"* ]]
	wait_for 10 has_started 2
	sort "$FAKE_RUNNER_DIR"/*.argv > "$TEST_ROOT/argv"
	printf '%s\n%s\n' "$TEST_ROOT/a" "$TEST_ROOT/b" | diff - "$TEST_ROOT/argv"
}

@test "disabled project: no start, nothing printed" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	"$STEROIDS" projects disable "$TEST_ROOT/p" >/dev/null
	run "$STEROIDS" runners wakeup
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$STEROIDS" runners wakeup --json
	[ "$(action_of "$TEST_ROOT/p")" = "none|disabled|None" ]
	sleep 0.3
	[ ! -e "$FAKE_RUNNER_DIR/runs" ]
}

@test "folder gone: skipped 'directory not found', registry row kept" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	rm -rf "$TEST_ROOT/p"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$TEST_ROOT/p")" = "skipped|directory not found|None" ]
	run "$STEROIDS" runners wakeup
	[ "$status" -eq 0 ]
	[[ "$output" == *skipped*"directory not found"* ]]
	[ "$(sqlite3 "$GDB" "SELECT count(*) FROM projects WHERE path = '$TEST_ROOT/p'")" -eq 1 ]
	[ ! -e "$FAKE_RUNNER_DIR/runs" ]
}

@test "no pending work: no start; only done tasks: no start" {
	new_project "$TEST_ROOT/p"
	run "$STEROIDS" runners wakeup
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	add_task "$TEST_ROOT/p" "done" completed
	add_task "$TEST_ROOT/p" "bad" failed
	run "$STEROIDS" runners wakeup --json
	[ "$(action_of "$TEST_ROOT/p")" = "none|no pending work|None" ]
	sleep 0.3
	[ ! -e "$FAKE_RUNNER_DIR/runs" ]
}

@test "--dry-run: would_start, nothing started, nothing changed" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	# A dead runner's row that a real sweep would clean.
	dead=$(sh -c 'echo $$')
	sqlite3 "$GDB" "INSERT INTO runners (id, status, pid, project_path, started_at) VALUES ('dead1', 'running', $dead, '$TEST_ROOT/p', datetime('now'))"
	before=$(sqlite3 "$GDB" .dump; sqlite3 "$TEST_ROOT/p/.steroids/steroids.db" .dump)
	run "$STEROIDS" runners wakeup --dry-run --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$TEST_ROOT/p")" = "would_start|would remove 1 dead runner row; 1 pending task|None" ]
	run "$STEROIDS" runners wakeup --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *would_start* ]]
	sleep 0.5
	[ ! -e "$FAKE_RUNNER_DIR/runs" ]
	after=$(sqlite3 "$GDB" .dump; sqlite3 "$TEST_ROOT/p/.steroids/steroids.db" .dump)
	[ "$before" = "$after" ]
}

@test "rows of dead runners and of free locks are cleaned" {
	new_project "$TEST_ROOT/p"
	dead=$(sh -c 'echo $$')
	# A dead pid, and a live pid (ours) whose project lock is free and
	# that started after the row was written (a reused pid).
	sqlite3 "$GDB" "INSERT INTO runners (id, status, pid, project_path, started_at) VALUES ('dead1', 'running', $dead, '$TEST_ROOT/p', datetime('now')), ('nolock', 'running', $$, '$TEST_ROOT/p', datetime('now', '-1 hour'))"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$TEST_ROOT/p")" = "cleaned|removed 2 dead runner rows; no pending work|None" ]
	[ "$(sqlite3 "$GDB" "SELECT count(*) FROM runners")" -eq 0 ]
	# Cleaned and started in one sweep when work is pending.
	add_task "$TEST_ROOT/p" "t"
	sqlite3 "$GDB" "INSERT INTO runners (id, status, pid, project_path, started_at) VALUES ('dead2', 'running', $dead, '$TEST_ROOT/p', datetime('now'))"
	run "$STEROIDS" runners wakeup
	[ "$status" -eq 0 ]
	[[ "$output" == *started*"removed 1 dead runner row"* ]]
	[ "$(sqlite3 "$GDB" "SELECT count(*) FROM runners WHERE id = 'dead2'")" -eq 0 ]
	wait_for 10 has_started 1
}

@test "a hung runner (lock held, old heartbeat) is stopped and replaced" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	"$FAKE" "$TEST_ROOT/p" 3>&- &
	old=$!
	track_pid "$old"
	wait_for 10 has_started 1
	lock_held "$TEST_ROOT/p"
	# A fresh heartbeat: healthy, left alone.
	sqlite3 "$GDB" "INSERT INTO runners (id, status, pid, project_path, started_at, heartbeat_at) VALUES ('hung', 'running', $old, '$TEST_ROOT/p', datetime('now', '-2000 seconds'), datetime('now', '-10 seconds'))"
	run "$STEROIDS" runners wakeup --json
	[ "$(action_of "$TEST_ROOT/p")" = "none|runner running (pid $old)|$old" ]
	kill -0 "$old"
	# Older than runner.stale_timeout (300): SIGTERM, row gone, new one.
	sqlite3 "$GDB" "UPDATE runners SET heartbeat_at = datetime('now', '-1000 seconds') WHERE id = 'hung'"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	res=$(action_of "$TEST_ROOT/p")
	[[ "$res" == "restarted|stopped hung runner (pid $old); 1 pending task|"* ]]
	new=${res##*|}
	[ "$new" != "$old" ]
	! kill -0 "$old" 2>/dev/null || [ "$(ps -o stat= -p "$old")" = Z ]
	[ "$(sqlite3 "$GDB" "SELECT count(*) FROM runners WHERE id = 'hung'")" -eq 0 ]
	wait_for 10 has_started 2
	[ "$(started_pids | tail -n 1)" = "$new" ]
	lock_held "$TEST_ROOT/p"
}

@test "runner.stale_timeout from the project's config is honoured" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	"$FAKE" "$TEST_ROOT/p" 3>&- &
	old=$!
	track_pid "$old"
	wait_for 10 has_started 1
	sqlite3 "$GDB" "INSERT INTO runners (id, status, pid, project_path, started_at, heartbeat_at) VALUES ('r', 'running', $old, '$TEST_ROOT/p', datetime('now'), datetime('now', '-1000 seconds'))"
	(cd "$TEST_ROOT/p" && "$STEROIDS" config set runner.stale_timeout 5000 >/dev/null)
	run "$STEROIDS" runners wakeup --json
	[ "$(action_of "$TEST_ROOT/p")" = "none|runner running (pid $old)|$old" ]
	kill -0 "$old"
}

@test "10 concurrent wakeups: exactly one runner" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	pids=()
	for i in 1 2 3 4 5 6 7 8 9 10; do
		"$STEROIDS" runners wakeup --quiet 3>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p"
	done
	wait_for 10 has_started 1
	sleep 1
	[ "$(started)" -eq 1 ]
	lock_held "$TEST_ROOT/p"
	# Later wakeups keep it at one.
	"$STEROIDS" runners wakeup --quiet
	sleep 0.3
	[ "$(started)" -eq 1 ]
}

@test "a second sweep while one runs exits 0 at once and says so" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	# This shell holds wakeup.lock as another sweep would.
	exec 5>"$STEROIDS_HOME/wakeup.lock"
	flock -n 5
	start=$(date +%s)
	run "$STEROIDS" runners wakeup
	[ "$status" -eq 0 ]
	[[ "$output" == *"another sweep is running"* ]]
	[ $(( $(date +%s) - start )) -lt 5 ]
	run "$STEROIDS" runners wakeup --quiet
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# --json: the envelope alone on stdout, the reason on stderr.
	run --separate-stderr "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$output" = '{"success":true,"command":"runners","subcommand":"wakeup","data":[],"error":null}' ]
	[[ "$stderr" == "steroids: another sweep is running"*"nothing to do" ]]
	run --separate-stderr "$STEROIDS" runners wakeup --json --quiet
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ ! -e "$FAKE_RUNNER_DIR/runs" ]
	# Released: the next one sweeps.
	exec 5>&-
	run "$STEROIDS" runners wakeup --quiet
	[ "$status" -eq 0 ]
	wait_for 10 has_started 1
}

@test "unsafe project (.steroids group-writable): skipped, not started" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	chmod 0770 "$TEST_ROOT/p/.steroids"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$TEST_ROOT/p")" == "skipped|unsafe: "*writable* ]]
	sleep 0.3
	[ ! -e "$FAKE_RUNNER_DIR/runs" ]
}

@test "a project DB locked for 30 s does not stall the sweep of 50 others" {
	for i in $(seq 0 50); do
		new_project "$TEST_ROOT/p$i"
		add_task "$TEST_ROOT/p$i" "t$i"
	done
	# p0's DB under an exclusive write transaction, held by a sqlite3
	# reading from a fifo for the whole test (killed by PID in teardown).
	db="$TEST_ROOT/p0/.steroids/steroids.db"
	mkfifo "$TEST_ROOT/fifo"
	sqlite3 "$db" < "$TEST_ROOT/fifo" >/dev/null 2>&1 3>&- &
	track_pid $!
	exec 4>"$TEST_ROOT/fifo"
	LOCK_FD_OPEN=1
	echo "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO tasks (id, title) VALUES ('x', 'x');" >&4
	wait_for 10 bash -c "! sqlite3 '$db' 'PRAGMA busy_timeout=0; SELECT count(*) FROM tasks' >/dev/null 2>&1"
	start=$(date +%s)
	run "$STEROIDS" runners wakeup --json
	took=$(( $(date +%s) - start ))
	[ "$status" -eq 0 ]
	# Documented bound: 50 s (st_sweep_bound); in practice far less.
	[ "$took" -lt 50 ]
	[[ "$(action_of "$TEST_ROOT/p0")" == skipped*locked* ]]
	for i in $(seq 1 50); do
		[ "$(action_of "$TEST_ROOT/p$i" | cut -d'|' -f1)" = started ]
	done
	wait_for 20 has_started 50
	sleep 0.3
	[ "$(started)" -eq 50 ]
	# Still locked after the sweep: it was held the whole time.
	! sqlite3 "$db" 'PRAGMA busy_timeout=0; SELECT count(*) FROM tasks' >/dev/null 2>&1
}

@test "a project whose folder hangs (a read that never returns) is skipped within the probe time" {
	new_project "$TEST_ROOT/hung"
	new_project "$TEST_ROOT/ok"
	add_task "$TEST_ROOT/hung" "t"
	add_task "$TEST_ROOT/ok" "t"
	hang_probe "$TEST_ROOT/hung"
	start=$(date +%s)
	run "$STEROIDS" runners wakeup --json
	took=$(( $(date +%s) - start ))
	[ "$status" -eq 0 ]
	[ "$took" -lt 10 ]
	[[ "$(action_of "$TEST_ROOT/hung")" == "skipped|no answer within 2000 ms"* ]]
	[ "$(action_of "$TEST_ROOT/ok" | cut -d'|' -f1)" = started ]
	wait_for 10 has_started 1
	[ "$(cat "$FAKE_RUNNER_DIR"/*.argv)" = "$TEST_ROOT/ok" ]
}

# The pid of a child of $1 blocked opening a fifo (the hung probe).
fifo_child() {
	local c
	for c in $(pgrep -P "$1"); do
		[ "$(cat "/proc/$c/wchan" 2>/dev/null)" = wait_for_partner ] &&
		    echo "$c" && return 0
	done
	return 1
}

@test "a wakeup killed while its probe hangs takes the probe with it (Linux)" {
	[ "$(uname -s)" = Linux ] || skip "PR_SET_PDEATHSIG is Linux's; elsewhere the probe's alarm bounds it"
	new_project "$TEST_ROOT/hung"
	hang_probe "$TEST_ROOT/hung"
	"$STEROIDS" runners wakeup --quiet 3>&- &
	sweeper=$!
	track_pid "$sweeper"
	wait_for 10 fifo_child "$sweeper"
	probe=$(fifo_child "$sweeper")
	track_pid "$probe"
	kill -9 "$sweeper"
	wait "$sweeper" || true
	# Gone at once, not after the sweep bound of the probe's alarm.
	wait_for 3 bash -c "! kill -0 $probe 2>/dev/null || grep -q '^State:.*Z' /proc/$probe/status"
}

@test "a hung project in the middle of the list: skipped, the projects after it still start in the same sweep" {
	for p in a b c d e; do
		new_project "$TEST_ROOT/$p"
		add_task "$TEST_ROOT/$p" "t"
	done
	hang_probe "$TEST_ROOT/c"
	start=$(date +%s)
	run "$STEROIDS" runners wakeup --json
	took=$(( $(date +%s) - start ))
	[ "$status" -eq 0 ]
	[ "$took" -lt 10 ]
	[[ "$(action_of "$TEST_ROOT/c")" == "skipped|no answer within 2000 ms"*"|None" ]]
	for p in a b d e; do
		[ "$(action_of "$TEST_ROOT/$p" | cut -d'|' -f1)" = started ]
	done
	wait_for 10 has_started 4
	sort "$FAKE_RUNNER_DIR"/*.argv > "$TEST_ROOT/argv"
	printf '%s\n' "$TEST_ROOT/a" "$TEST_ROOT/b" "$TEST_ROOT/d" \
	    "$TEST_ROOT/e" | diff - "$TEST_ROOT/argv"
}

@test "150 projects, two hung ones: each skipped, every other project checked and started in one sweep" {
	# Enough projects for the sweep to deal them over several probe
	# children where there are CPUs; each hung one costs its child.
	for i in $(seq -w 0 149); do
		new_project "$TEST_ROOT/p$i"
	done
	for i in 000 051 101 149; do
		add_task "$TEST_ROOT/p$i" "t$i"
	done
	hang_probe "$TEST_ROOT/p050"
	hang_probe "$TEST_ROOT/p100"
	start=$(date +%s)
	run "$STEROIDS" runners wakeup --json
	took=$(( $(date +%s) - start ))
	[ "$status" -eq 0 ]
	[ "$took" -lt 20 ]
	printf '%s' "$output" > "$TEST_ROOT/out.json"
	q() {
		sqlite3 :memory: "SELECT $1 FROM json_each(readfile('$TEST_ROOT/out.json'), '\$.data') $2"
	}
	# One result each, in registry order.
	[ "$(q "count(*)")" -eq 150 ]
	[ "$(q "json_extract(value, '\$.project')" | sort -c && echo sorted)" = sorted ]
	[[ "$(action_of "$TEST_ROOT/p050")" == "skipped|no answer within 2000 ms"* ]]
	[[ "$(action_of "$TEST_ROOT/p100")" == "skipped|no answer within 2000 ms"* ]]
	for i in 000 051 101 149; do
		[ "$(action_of "$TEST_ROOT/p$i")" = "started|1 pending task|$(action_of "$TEST_ROOT/p$i" | cut -d'|' -f3)" ]
	done
	# Every other project was really checked, not skipped.
	[ "$(q "count(*)" "WHERE json_extract(value, '\$.action') = 'none' AND json_extract(value, '\$.reason') = 'no pending work'")" -eq 144 ]
	wait_for 10 has_started 4
	sort "$FAKE_RUNNER_DIR"/*.argv > "$TEST_ROOT/argv"
	printf '%s\n' "$TEST_ROOT/p000" "$TEST_ROOT/p051" "$TEST_ROOT/p101" \
	    "$TEST_ROOT/p149" | diff - "$TEST_ROOT/argv"
}

@test "a task only in the WAL is seen: writer connected, then killed before any checkpoint" {
	new_project "$TEST_ROOT/p"
	db="$TEST_ROOT/p/.steroids/steroids.db"
	# No -shm yet (the last writer closed cleanly): counted all the same.
	[ ! -e "$db-shm" ]
	run "$STEROIDS" runners wakeup --dry-run --json
	[ "$(action_of "$TEST_ROOT/p")" = "none|no pending work|None" ]
	# A writer that commits and stays connected, never checkpointing.
	mkfifo "$TEST_ROOT/fifo"
	sqlite3 "$db" < "$TEST_ROOT/fifo" >/dev/null 2>&1 3>&- &
	w=$!
	track_pid "$w"
	exec 4>"$TEST_ROOT/fifo"
	LOCK_FD_OPEN=1
	echo "PRAGMA wal_autocheckpoint=0; INSERT INTO tasks (id, title) VALUES ('x', 'x');" >&4
	wait_for 10 test -s "$db-wal"
	sleep 0.3
	run "$STEROIDS" runners wakeup --dry-run --json
	[ "$(action_of "$TEST_ROOT/p")" = "would_start|1 pending task|None" ]
	# Killed: the task is in the WAL alone, no connection left.
	kill -9 "$w"
	wait "$w" 2>/dev/null || true
	[ -s "$db-wal" ]
	[ -e "$db-shm" ]
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$TEST_ROOT/p" | cut -d'|' -f1-2)" = "started|1 pending task" ]
	wait_for 10 has_started 1
}

@test "a foreground runner (lock held, no row) gets no twin; other projects still start" {
	new_project "$TEST_ROOT/p1"
	new_project "$TEST_ROOT/p2"
	add_task "$TEST_ROOT/p1" "t1"
	add_task "$TEST_ROOT/p2" "t2"
	"$FAKE" "$TEST_ROOT/p1" 3>&- &
	fg=$!
	track_pid "$fg"
	wait_for 10 has_started 1
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$TEST_ROOT/p1")" = "none|runner running (pid $fg)|$fg" ]
	[ "$(action_of "$TEST_ROOT/p2" | cut -d'|' -f1)" = started ]
	wait_for 10 has_started 2
	sleep 0.3
	# One spawn only (p2's): nothing was started for p1.
	[ "$(grep -c '^spawned' "$FAKE_RUNNER_DIR/runs")" -eq 2 ]
	[ "$(grep -c '^locked' "$FAKE_RUNNER_DIR/runs")" -eq 0 ]
	kill -0 "$fg"
}

@test "a live runner's project is not read: reported running, nothing started, even where a reader would hang" {
	new_project "$TEST_ROOT/run"
	new_project "$TEST_ROOT/ok"
	add_task "$TEST_ROOT/run" "t"
	add_task "$TEST_ROOT/ok" "t"
	# A runner holding the lock, its pid written, with pending work.
	flock "$TEST_ROOT/run/.steroids/runner.lock" sh -c \
	    'echo $$ >"$0/.steroids/runner.lock"; exec sleep 300' \
	    "$TEST_ROOT/run" 3>&- &
	track_pid $!
	wait_for 10 lock_held "$TEST_ROOT/run"
	wait_for 10 test -s "$TEST_ROOT/run/.steroids/runner.lock"
	holder=$(cat "$TEST_ROOT/run/.steroids/runner.lock")
	track_pid "$holder"
	# A reader of this DB would block opening its -shm (a fifo), as on a
	# dead mount: the sweep must not open the DB of a running project.
	rm -f "$TEST_ROOT/run/.steroids/steroids.db-shm"
	mkfifo "$TEST_ROOT/run/.steroids/steroids.db-shm"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$TEST_ROOT/run")" = "none|runner running (pid $holder)|$holder" ]
	[ "$(action_of "$TEST_ROOT/ok" | cut -d'|' -f1)" = started ]
	wait_for 10 has_started 1
	sleep 0.3
	# One spawn only, ok's: nothing was started for the running project.
	[ "$(grep -c '^spawned' "$FAKE_RUNNER_DIR/runs")" -eq 1 ]
	[ "$(cat "$FAKE_RUNNER_DIR"/*.argv)" = "$TEST_ROOT/ok" ]
	kill -0 "$holder"
}

@test "a runner starting (lock held, pid not written yet): no start, no kill of a reused pid" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	# The lock held with an empty file, as between a runner's flock and
	# its writing its pid.
	flock "$TEST_ROOT/p/.steroids/runner.lock" sleep 300 3>&- &
	track_pid $!
	wait_for 10 lock_held "$TEST_ROOT/p"
	[ ! -s "$TEST_ROOT/p/.steroids/runner.lock" ]
	# A dead runner's row with an old heartbeat whose pid is now another
	# process's (a reused pid).
	sleep 300 3>&- &
	other=$!
	track_pid "$other"
	sqlite3 "$GDB" "INSERT INTO runners (id, status, pid, project_path, started_at, heartbeat_at) VALUES ('old', 'running', $other, '$TEST_ROOT/p', datetime('now', '-2000 seconds'), datetime('now', '-1000 seconds'))"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$TEST_ROOT/p")" == "none|runner starting"*"|None" ]]
	sleep 0.5
	kill -0 "$other"
	[ ! -e "$FAKE_RUNNER_DIR/runs" ]
}

@test "a reused pid in a row is not the lock holder: row cleaned, process left alone" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" "t"
	"$FAKE" "$TEST_ROOT/p" 3>&- &
	fg=$!
	track_pid "$fg"
	wait_for 10 has_started 1
	sleep 300 3>&- &
	other=$!
	track_pid "$other"
	sqlite3 "$GDB" "INSERT INTO runners (id, status, pid, project_path, started_at, heartbeat_at) VALUES ('old', 'running', $other, '$TEST_ROOT/p', datetime('now', '-2000 seconds'), datetime('now', '-1000 seconds'))"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$TEST_ROOT/p")" = "cleaned|removed 1 dead runner row; runner running (pid $fg)|$fg" ]
	[ "$(sqlite3 "$GDB" "SELECT count(*) FROM runners")" -eq 0 ]
	sleep 0.3
	kill -0 "$other"
	kill -0 "$fg"
	[ "$(grep -c '^spawned' "$FAKE_RUNNER_DIR/runs")" -eq 1 ]
}

# The epoch at which the runner of project $1 recorded itself.
spawned_at() {
	local f pid
	for f in "$FAKE_RUNNER_DIR"/*.argv; do
		if [ "$(cat "$f")" = "$1" ]; then
			pid=$(basename "$f" .argv)
			awk -v p="$pid" '$1 == "spawned" && $3 == p { print $2 }' \
			    "$FAKE_RUNNER_DIR/runs"
		fi
	done
}

@test "a sweep cut short by its budget is resumed where it stopped, then from the top" {
	new_project "$TEST_ROOT/p0"
	new_project "$TEST_ROOT/p1"
	new_project "$TEST_ROOT/p2"
	for p in p0 p1 p2; do
		add_task "$TEST_ROOT/$p" "t"
	done
	# p1 costs the probe's 2 s; the previous sweep stopped before p2.
	hang_probe "$TEST_ROOT/p1"
	printf '%s' "$TEST_ROOT/p2" > "$STEROIDS_HOME/wakeup.lock"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	# Results stay in registry order.
	printf '%s' "$output" > "$TEST_ROOT/out.json"
	[ "$(sqlite3 :memory: "SELECT group_concat(json_extract(value, '\$.project'), ' ') FROM json_each(readfile('$TEST_ROOT/out.json'), '\$.data')")" = "$TEST_ROOT/p0 $TEST_ROOT/p1 $TEST_ROOT/p2" ]
	[ "$(action_of "$TEST_ROOT/p2" | cut -d'|' -f1)" = started ]
	[ "$(action_of "$TEST_ROOT/p0" | cut -d'|' -f1)" = started ]
	wait_for 10 has_started 2
	# p2 went first, not 2 s after p0 behind the slow p1.
	[ $(( $(spawned_at "$TEST_ROOT/p2") - $(spawned_at "$TEST_ROOT/p0") )) -le 1 ]
	# Not cut short this time: the next sweep starts from the top.
	[ ! -s "$STEROIDS_HOME/wakeup.lock" ]
}

@test "no registered project: exit 0, nothing printed, data []" {
	run "$STEROIDS" runners wakeup
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$output" = '{"success":true,"command":"runners","subcommand":"wakeup","data":[],"error":null}' ]
}

@test "a corrupt project DB is reported for that project only, in one line saying what to do" {
	new_project "$TEST_ROOT/bad"
	new_project "$TEST_ROOT/good"
	add_task "$TEST_ROOT/good" "t"
	head -c 8192 /dev/urandom > "$TEST_ROOT/bad/.steroids/steroids.db"
	run --separate-stderr "$STEROIDS" runners wakeup
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[1]}" == "$TEST_ROOT/bad "*skipped*"-"*"not a valid database"*"move it aside or restore it" ]]
	[[ "${lines[2]}" == "$TEST_ROOT/good "*started*"1 pending task" ]]
	wait_for 10 has_started 1
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$TEST_ROOT/bad")" == "skipped|$TEST_ROOT/bad/.steroids/steroids.db: "*"not a valid database"*"|None" ]]
	[ "$(action_of "$TEST_ROOT/good" | cut -d'|' -f1)" = none ]
	[ "$(sqlite3 "$GDB" "SELECT count(*) FROM projects")" -eq 2 ]
}

@test "--quiet never hides a failure: cron mails stderr" {
	echo x > "$TEST_ROOT/file"
	STEROIDS_HOME="$TEST_ROOT/file/home" run --separate-stderr "$STEROIDS" runners wakeup --quiet
	[ "$status" -ne 0 ]
	[ -z "$output" ]
	[[ "$stderr" == "steroids: "*"$TEST_ROOT/file/home"* ]]
	[ "${#stderr_lines[@]}" -eq 1 ]
}
