#!/usr/bin/env bats
# upstream-runners.bats -- one runner per project beside the upstream tool
# (issue 17, points 3 and 4; SPEC 7 "a live runner").  Its runners take no
# runner.lock: a row is all they leave.  A process of ours stands in for
# one (a sleep, whose start the row's started_at matches), its row written
# as the upstream daemon writes it (UPSTREAM.md).  Our runners are the fake
# runner (tests/cli/fake-runner), except where the real loop is the point.

load ../lib

bats_require_minimum_version 1.5.0

setup() {
	setup_home
	FAKE="$top_srcdir/tests/cli/fake-runner"
	export STEROIDS_LOOP_COMMAND="$FAKE"
	export FAKE_RUNNER_DIR="$TEST_ROOT/fake"
	GDB="$STEROIDS_HOME/steroids.db"
	P="$TEST_ROOT/p"
	new_project "$P"
	add_task "$P" one
	UP=
}

teardown() {
	local p
	if [ -f "$FAKE_RUNNER_DIR/runs" ]; then
		for p in $(awk '{ print $3 }' "$FAKE_RUNNER_DIR/runs" | sort -u); do
			track_pid "$p"
		done
	fi
	if [ -f "$TEST_ROOT/upstream.log" ]; then
		for p in $(awk '/^(started|refused)/ { print $2 }' \
		    "$TEST_ROOT/upstream.log"); do
			track_pid "$p"
		done
	fi
	teardown_home
}

# stand_in: a live process of ours as the upstream runner, $UP its pid.
stand_in() {
	sleep 300 3>&- &
	UP=$!
	track_pid "$UP"
}

# upstream_row PID [STARTED_SQL [HEARTBEAT_SQL [PATH]]]: its row as the
# upstream daemon writes it, started and beating now by default.
upstream_row() {
	gdb "INSERT INTO runners (id, status, pid, project_path, started_at,
	    heartbeat_at) VALUES ('up-$1', 'running', $1, '${4:-$P}',
	    ${2:-datetime('now')}, ${3:-datetime('now')})"
}

rows() {
	gdb "SELECT count(*) FROM runners"
}

# sql_is EXPECTED DB SQL: for wait_for, which runs it anew each time.
sql_is() {
	[ "$(sqlite3 -cmd '.timeout 5000' "$2" "$3")" = "$1" ]
}

started() {
	if [ -f "$FAKE_RUNNER_DIR/runs" ]; then
		grep -c '^started' "$FAKE_RUNNER_DIR/runs" || true
	else
		echo 0
	fi
}

has_started() {
	[ "$(started)" -ge "$1" ]
}

lock_held() {
	! "$FLOCK" -n "$1/.steroids/runner.lock" true
}

lock_free() {
	"$FLOCK" -n "$1/.steroids/runner.lock" true
}

# A pid that was ours and is gone.
dead_pid() {
	sleep 0 &
	local pid=$!
	wait "$pid"
	echo "$pid"
}

@test "a live upstream runner (no lock) is the project's runner: wakeup, --dry-run and --json start none and keep its row" {
	stand_in
	upstream_row "$UP"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$P")" = "none|runner running (pid $UP, the upstream tool's: it takes no runner lock)|$UP" ]
	run "$STEROIDS" runners wakeup --dry-run --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$P")" = "none|runner running (pid $UP, the upstream tool's: it takes no runner lock)|$UP" ]
	# Nothing done: the table says nothing.
	run "$STEROIDS" runners wakeup
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	sleep 0.3
	[ "$(started)" -eq 0 ]
	[ "$(gdb "SELECT id FROM runners")" = "up-$UP" ]
	run "$STEROIDS" runners list --json
	[ "$(state_of "up-$UP")" = alive ]
	kill -0 "$UP"
}

@test "upstream's 5 minutes, not our runner.stale_timeout, judge its heartbeat; older than 5 minutes: cleaned, a runner started, its process not signalled" {
	stand_in
	set_config "$P" runner.stale_timeout 60
	# Its last beat 4 minutes ago: live for upstream, hung for us.
	upstream_row "$UP" "" "datetime('now', '-240 seconds')"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$P")" = "none|runner running (pid $UP, the upstream tool's: it takes no runner lock)|$UP" ]
	[ "$(rows)" -eq 1 ]
	gdb "UPDATE runners SET heartbeat_at = datetime('now', '-301 seconds')"
	run "$STEROIDS" runners list --json
	[ "$(state_of "up-$UP")" = stale ]
	run "$STEROIDS" runners wakeup --dry-run --json
	[ "$(action_of "$P")" = "would_start|would remove 1 dead runner row; 1 pending task|None" ]
	[ "$(rows)" -eq 1 ]
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$P")" == "started|removed 1 dead runner row; 1 pending task|"[0-9]* ]]
	wait_for 10 has_started 1
	[ "$(gdb "SELECT count(*) FROM runners WHERE id = 'up-$UP'")" -eq 0 ]
	kill -0 "$UP"
}

@test "an upstream row whose pid is dead is cleaned and a runner started" {
	pid=$(dead_pid)
	upstream_row "$pid"
	run "$STEROIDS" runners wakeup --dry-run --json
	[ "$(action_of "$P")" = "would_start|would remove 1 dead runner row; 1 pending task|None" ]
	[ "$(rows)" -eq 1 ]
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$P")" == "started|removed 1 dead runner row; 1 pending task|"[0-9]* ]]
	wait_for 10 has_started 1
	[ "$(rows)" -eq 0 ]
}

@test "an upstream row whose pid is alive but reused (started after the row) is dead: cleaned, a runner started, the process left alone" {
	stand_in
	upstream_row "$UP" "datetime('now', '-1 hour')"
	run "$STEROIDS" runners list --json
	[ "$(state_of "up-$UP")" = dead ]
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$P")" == "started|removed 1 dead runner row; 1 pending task|"[0-9]* ]]
	wait_for 10 has_started 1
	[ "$(rows)" -eq 0 ]
	kill -0 "$UP"
}

@test "its path with a symlink in it (upstream keeps --project as given) still names the project" {
	ln -s "$TEST_ROOT" "$TEST_ROOT/link"
	stand_in
	upstream_row "$UP" "" "" "$TEST_ROOT/link/p"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$P")" = "none|runner running (pid $UP, the upstream tool's: it takes no runner lock)|$UP" ]
	sleep 0.3
	[ "$(started)" -eq 0 ]
	[ "$(rows)" -eq 1 ]
	set_config "$P" runner.command "true"
	run --separate-stderr "$STEROIDS" loop --project "$P"
	expect_status 6 "*already running*pid $UP*upstream*"
	# Dead under that spelling: no runner.  Its path is not resolved (a
	# dead row's folder may be on a dead mount), so the row is left to
	# the upstream tool's wakeup, which cleans rows 5 minutes stale.
	kill "$UP"
	wait "$UP" 2>/dev/null || true
	run "$STEROIDS" runners wakeup --json
	[[ "$(action_of "$P")" == "started|1 pending task|"[0-9]* ]]
	wait_for 10 has_started 1
}

@test "loop refuses while an upstream runner is live (exit 6, its pid), runs once it is gone" {
	stand_in
	upstream_row "$UP"
	set_config "$P" runner.command "true"
	run --separate-stderr "$STEROIDS" loop --project "$P"
	expect_status 6 "*already running for $P (pid $UP, the upstream tool's*"
	[ "$(gdb "SELECT id FROM runners")" = "up-$UP" ]
	lock_free "$P"
	[ "$(pdb "$P" "SELECT status FROM tasks")" = pending ]
	run "$STEROIDS" loop --project "$P" --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *"a runner is running (pid $UP): this loop would exit 6"* ]]
	run "$STEROIDS" loop --project "$P" --dry-run --json
	[[ "$output" == *'"runner_pid":'"$UP"* ]]
	kill "$UP"
	wait "$UP" 2>/dev/null || true
	run "$STEROIDS" loop --project "$P"
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT status FROM tasks")" = completed ]
	[ "$(rows)" -eq 0 ]
}

@test "the agent starts no runner beside a live upstream runner and keeps its row; once it is dead, it does" {
	mkdir -p "$STEROIDS_HOME"
	"$STEROIDS" config set agent.sweep_interval 86400 --global >/dev/null
	export FAKE_RUNNER_SLEEP=300
	stand_in
	upstream_row "$UP"
	"$STEROIDS_AGENT" -v >>"$TEST_ROOT/agent.log" 2>&1 &
	agent=$!
	track_pid "$agent"
	wait_for 10 test -f "$STEROIDS_HOME/agent.status"
	add_task "$P" two
	sleep 2
	[ "$(started)" -eq 0 ]
	[ "$(gdb "SELECT id FROM runners")" = "up-$UP" ]
	kill -0 "$UP"
	# The same row with its process gone: the next event starts one.
	kill "$UP"
	wait "$UP" 2>/dev/null || true
	add_task "$P" three
	wait_for 10 has_started 1
	[ "$(gdb "SELECT count(*) FROM runners WHERE id = 'up-$UP'")" -eq 0 ]
	kill "$agent"
	wait "$agent" 2>/dev/null || true
}

@test "our runner's row is active by upstream's own query (exact path, status, 5 minutes), from a symlinked spelling too" {
	ln -s "$TEST_ROOT" "$TEST_ROOT/link"
	Q="$TEST_ROOT/q"
	mkdir -p "$Q"
	"$STEROIDS" init "$TEST_ROOT/link/q" >/dev/null
	add_task "$Q" one
	set_config "$Q" runner.command "while [ ! -e $TEST_ROOT/go ]; do sleep 0.05; done"
	"$STEROIDS" loop --project "$TEST_ROOT/link/q" >/dev/null 2>&1 3>&- &
	loop=$!
	track_pid "$loop"
	registered=$(gdb "SELECT path FROM projects WHERE path LIKE '%/q'")
	[ "$registered" = "$Q" ]
	wait_for 5 sql_is 1 "$GDB" "SELECT count(*) FROM runners WHERE pid = $loop"
	# hasActiveRunnerForProject, with the path upstream's wakeup passes:
	# the one in the registry (both tools register the realpath).
	[ "$(gdb "SELECT count(*) FROM runners WHERE project_path = '$registered'
	    AND status != 'stopped' AND heartbeat_at > datetime('now', '-5 minutes')")" -eq 1 ]
	touch "$TEST_ROOT/go"
	wait "$loop"
}

@test "runner.queue_command: a fake upstream runner in the foreground under our lock; our loop writes no row for it to refuse" {
	export FAKE_UPSTREAM_LOG="$TEST_ROOT/upstream.log"
	export FAKE_UPSTREAM_WAIT="$TEST_ROOT/go"
	add_task "$P" two
	set_config "$P" runner.queue_command "$top_srcdir/tests/cli/fake-upstream"
	run "$STEROIDS" loop --project "$P" --dry-run
	[[ "$output" == *"would run once, for the whole queue (runner.queue_command): $top_srcdir/tests/cli/fake-upstream"* ]]
	"$STEROIDS" loop --project "$P" >"$TEST_ROOT/loop.out" 2>&1 3>&- &
	loop=$!
	track_pid "$loop"
	wait_for 10 grep -q '^started' "$FAKE_UPSTREAM_LOG"
	up=$(awk '/^started/ { print $2 }' "$FAKE_UPSTREAM_LOG")
	grep -qx "lock held" "$FAKE_UPSTREAM_LOG"
	lock_held "$P"
	# Its row is the only one; ours would have made it refuse.
	[ "$(gdb "SELECT pid FROM runners")" = "$up" ]
	# Our sweep sees a runner (our lock) and starts none, row kept.
	run "$STEROIDS" runners wakeup --json
	[ "$(action_of "$P")" = "none|runner running (pid $loop)|$loop" ]
	[ "$(gdb "SELECT pid FROM runners")" = "$up" ]
	# A second loop, by hand: the lock is held.
	run --separate-stderr "$STEROIDS" loop --project "$P"
	expect_status 6 "*already running*pid $loop*"
	touch "$TEST_ROOT/go"
	wait "$loop"
	[ "$(pdb "$P" "SELECT group_concat(status) FROM tasks")" = "completed,completed" ]
	[ "$(rows)" -eq 0 ]
	lock_free "$P"
	grep -q "no pending work" "$TEST_ROOT/loop.out"
}

@test "runner.queue_command through the sweep: cron's wakeup keeps the upstream runner going, one at a time" {
	export FAKE_UPSTREAM_LOG="$TEST_ROOT/upstream.log"
	export FAKE_UPSTREAM_WAIT="$TEST_ROOT/go"
	export STEROIDS_LOOP_COMMAND="$STEROIDS loop --project"
	set_config "$P" runner.queue_command "$top_srcdir/tests/cli/fake-upstream"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$P")" == "started|1 pending task|"[0-9]* ]]
	loop=${output##*\"pid\":}
	loop=${loop%%[!0-9]*}
	track_pid "$loop"
	wait_for 10 grep -q '^started' "$FAKE_UPSTREAM_LOG"
	run "$STEROIDS" runners wakeup --json
	[ "$(action_of "$P")" = "none|runner running (pid $loop)|$loop" ]
	[ "$(grep -c '^started' "$FAKE_UPSTREAM_LOG")" -eq 1 ]
	touch "$TEST_ROOT/go"
	wait_for 10 sql_is 0 "$GDB" "SELECT count(*) FROM runners"
	wait_for 10 sql_is completed "$P/.steroids/steroids.db" "SELECT status FROM tasks"
	wait_for 10 sh -c "! kill -0 $loop 2>/dev/null"
	run "$STEROIDS" runners wakeup --json
	[ "$(action_of "$P")" = "none|no pending work|None" ]
}

@test "runner.queue_command that finds the project taken (exit 6) makes loop exit 6" {
	set_config "$P" runner.queue_command "exit 6"
	run --separate-stderr "$STEROIDS" loop --project "$P"
	expect_status 6 "*runner.queue_command*exit 6*"
	set_config "$P" runner.queue_command "exit 3"
	run --separate-stderr "$STEROIDS" loop --project "$P"
	expect_status 1 "*runner.queue_command*exit 3*"
}

@test "runners stop never signals a live upstream runner nor deletes its row: exit 1, one line" {
	stand_in
	upstream_row "$UP"
	for how in --all "--project $P" "--id up-$UP"; do
		# shellcheck disable=SC2086 # $how is an option and its value
		run --separate-stderr "$STEROIDS" runners stop $how
		expect_status 1 "*of the upstream tool not stopped*"
		[[ "$output" == *upstream_runner* ]]
		[ "$(gdb "SELECT id FROM runners")" = "up-$UP" ]
		kill -0 "$UP"
	done
}

# The agent asks the registry for a project's rows when its event comes,
# while its worker waits for the writer's commit (start.c, start_early),
# and trusts that answer of none at the start only if the registry saw
# no commit since.  An upstream runner registered in between is seen.
@test "the agent starts no runner beside an upstream runner registered while the commit was on its way" {
	mkdir -p "$STEROIDS_HOME"
	"$STEROIDS" config set agent.sweep_interval 86400 --global >/dev/null
	Q="$TEST_ROOT/q"
	new_project "$Q"
	"$STEROIDS_AGENT" -v >>"$TEST_ROOT/agent.log" 2>&1 &
	agent=$!
	track_pid "$agent"
	wait_for 10 test -f "$STEROIDS_HOME/agent.status"
	stand_in
	# A transaction spilled to the WAL (an event) a second before its
	# COMMIT; the upstream runner's row is written half-way.
	{
		echo "PRAGMA busy_timeout = 5000; PRAGMA cache_size = 1; BEGIN;"
		echo "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		echo "FROM c WHERE x < 3000) INSERT INTO sections (id, name,"
		echo "position) SELECT 'x' || x, hex(randomblob(200)), x FROM c;"
		echo "INSERT INTO tasks (id, title) VALUES ('t1', 'one');"
		sleep 0.5
		upstream_row "$UP" "datetime('now')" "datetime('now')" "$Q"
		sleep 0.5
		echo "COMMIT;"
	} | sqlite3 "$Q/.steroids/steroids.db"
	wait_for 5 grep -q "$Q: the upstream tool's runner (pid $UP) runs it" \
	    "$TEST_ROOT/agent.log"
	sleep 0.5
	run grep "$Q: started a runner" "$TEST_ROOT/agent.log"
	[ "$status" -ne 0 ]
	[ "$(gdb "SELECT id FROM runners")" = "up-$UP" ]
	# The upstream runner gone, the next commit is started on.
	gdb "DELETE FROM runners"
	kill "$UP"
	wait "$UP" 2>/dev/null || true
	add_task "$Q" two
	wait_for 10 grep -q "$Q: started a runner" "$TEST_ROOT/agent.log"
	kill "$agent"
	wait "$agent" 2>/dev/null || true
}
