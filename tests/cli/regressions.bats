#!/usr/bin/env bats
# regressions.bats -- SPEC 11, "what went wrong before": one test for each
# upstream bug that no other file catches.  tests/REGRESSIONS.md maps every
# item to its tests (here and elsewhere) and says how each was seen to fail.
# Runners are real 'steroids loop's with small sh handlers, or the fake
# runner (tests/cli/fake-runner) where only the starting matters.

bats_require_minimum_version 1.5.0
load ../lib

setup() {
	setup_home
	FAKE="$top_srcdir/tests/cli/fake-runner"
	export FAKE_RUNNER_DIR="$TEST_ROOT/fake"
	REC="$TEST_ROOT/rec"
	AGENT_PID=
}

teardown() {
	local p
	sleep 0.1	# a fake runner just spawned records itself
	if [ -f "$FAKE_RUNNER_DIR/runs" ]; then
		for p in $(awk '{ print $3 }' "$FAKE_RUNNER_DIR/runs" | sort -u)
		do
			track_pid "$p"
		done
	fi
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "$TEST_ROOT/agent.log" ]
	then
		echo "--- agent log"
		cat "$TEST_ROOT/agent.log"
	fi
	teardown_home
}

# handler DIR BODY: DIR's runner.command runs this sh script.
handler() {
	printf '%s\n' "$2" >"$1/.steroids/handler.sh"
	set_config "$1" runner.command "exec sh $1/.steroids/handler.sh"
}

# start_loop DIR: a foreground 'steroids loop' started by hand (LOOP_PID).
start_loop() {
	"$STEROIDS" loop --project "$1" >>"$TEST_ROOT/loop.out" 2>&1 3>&- &
	LOOP_PID=$!
	track_pid "$LOOP_PID"
}

# The fake runner by hand, holding DIR's lock (FAKE_PID).  Waits for its
# own word that it holds the lock and wrote its pid: probing the lock with
# flock(1) meanwhile could make the fake find it taken and exit 6.
start_fake() {
	"$FAKE" "$1" >/dev/null 2>&1 3>&- &
	FAKE_PID=$!
	track_pid "$FAKE_PID"
	wait_for 10 grep -q "^started .* $FAKE_PID\$" "$FAKE_RUNNER_DIR/runs"
	lock_held "$1"
}

lock_held() {
	! "$FLOCK" -n "$1/.steroids/runner.lock" true
}

status_is() {
	[ "$(pdb "$1" "SELECT status FROM tasks WHERE title = '$2'")" = "$3" ]
}

spawned() {
	if [ -f "$FAKE_RUNNER_DIR/runs" ]; then
		grep -c '^spawned' "$FAKE_RUNNER_DIR/runs" || true
	else
		echo 0
	fi
}

spawned_at_least() {
	[ "$(spawned)" -ge "$1" ]
}

# start_quiet_agent: start_agent, its sweep timer off, backoff 1-60 s.
start_quiet_agent() {
	"$STEROIDS" config set agent.sweep_interval 86400 --global >/dev/null
	"$STEROIDS" config set agent.backoff_initial 1 --global >/dev/null
	"$STEROIDS" config set agent.backoff_max 60 --global >/dev/null
	start_agent
}

@test "SPEC 11.2: a heartbeat in ISO 'T' form (the upstream tool's) is aged by SQLite, not compared as text" {
	export STEROIDS_LOOP_COMMAND="$FAKE"
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" t
	start_fake "$TEST_ROOT/p"
	# Written as the upstream tool did: 2024-01-01T12:00:00.000Z.  As
	# text, 'T' sorts after ' ': a fresh one must be alive, an old one
	# stale, whatever the text comparison says.
	gdb "INSERT INTO runners (id, status, pid, project_path, started_at, heartbeat_at)
	    VALUES ('iso', 'running', $FAKE_PID, '$TEST_ROOT/p',
	    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-2000 seconds'),
	    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-10 seconds'))"
	run steroids runners list --json
	[ "$(state_of iso)" = alive ]
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$TEST_ROOT/p")" = "none|runner running (pid $FAKE_PID)|$FAKE_PID" ]
	kill -0 "$FAKE_PID"
	gdb "UPDATE runners SET heartbeat_at =
	    strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1000 seconds') WHERE id = 'iso'"
	run steroids runners list --json
	[ "$(state_of iso)" = stale ]
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$TEST_ROOT/p")" == "restarted|stopped hung runner (pid $FAKE_PID); 1 pending task|"* ]]
	wait_for 5 bash -c "! kill -0 $FAKE_PID 2>/dev/null"
	[ "$(gdb "SELECT count(*) FROM runners WHERE id = 'iso'")" -eq 0 ]
}

@test "SPEC 11.4: a wakeup started while a real one runs exits 0 at once; the first finishes" {
	export STEROIDS_LOOP_COMMAND="$FAKE"
	# Five projects whose check blocks (hang_probe): the first sweep takes
	# the probe time on each, about 10 s, holding wakeup.lock throughout.
	for i in 1 2 3 4 5; do
		new_project "$TEST_ROOT/hung$i"
		hang_probe "$TEST_ROOT/hung$i"
	done
	new_project "$TEST_ROOT/ok"
	add_task "$TEST_ROOT/ok" t
	"$STEROIDS" runners wakeup --quiet >"$TEST_ROOT/first.out" 2>&1 3>&- &
	first=$!
	track_pid "$first"
	# It is sweeping once it has a probe child.
	wait_for 10 pgrep -P "$first"
	start=$(date +%s)
	for i in 1 2 3; do
		run "$STEROIDS" runners wakeup
		[ "$status" -eq 0 ]
		[[ "$output" == *"another sweep is running"* ]]
	done
	[ $(( $(date +%s) - start )) -lt 5 ]
	kill -0 "$first"
	[ "$(spawned)" -eq 0 ]
	rc=0
	wait "$first" || rc=$?
	[ "$rc" -eq 0 ]
	wait_for 10 spawned_at_least 1
	[ "$(spawned)" -eq 1 ]
}

@test "SPEC 11.5: a runner killed mid-task: the task is not stuck in_progress, the sweep resumes it" {
	new_project "$TEST_ROOT/p"
	steroids tasks add first --project "$TEST_ROOT/p" >/dev/null
	touch "$TEST_ROOT/slow"
	handler "$TEST_ROOT/p" "echo \"\$STEROIDS_TASK_TITLE \$STEROIDS_TASK_ACTION\" >>$REC
	    if [ -e $TEST_ROOT/slow ]; then exec sleep 30; fi"
	start_loop "$TEST_ROOT/p"
	wait_for 5 test -s "$REC"
	kill -9 "$LOOP_PID"
	wait "$LOOP_PID" || true
	# Its only task is in_progress and no task is pending: still work.
	status_is "$TEST_ROOT/p" first in_progress
	rm "$TEST_ROOT/slow"
	export STEROIDS_LOOP_COMMAND="$STEROIDS loop --project"
	cd /
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	res=$(action_of "$TEST_ROOT/p")
	[[ "$res" == "started|removed 1 dead runner row; 1 pending task|"* ]]
	track_pid "${res##*|}"
	wait_for 10 status_is "$TEST_ROOT/p" first completed
	[ "$(tr '\n' ',' <"$REC")" = "first start,first resume," ]
	wait_for 5 "$FLOCK" -n "$TEST_ROOT/p/.steroids/runner.lock" true
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

@test "SPEC 11.6: a reused PID beside a live runner is dead: listed dead, cleaned, never signalled" {
	export STEROIDS_LOOP_COMMAND="$FAKE"
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" t
	start_fake "$TEST_ROOT/p"
	# The live runner's row, and the row of a dead runner whose PID now
	# belongs to an unrelated live process (a sleep).
	sleep 60 3>&- &
	reused=$!
	track_pid "$reused"
	gdb "INSERT INTO runners (id, status, pid, project_path, started_at, heartbeat_at)
	    VALUES ('live', 'running', $FAKE_PID, '$TEST_ROOT/p', datetime('now'), datetime('now')),
	    ('reused', 'running', $reused, '$TEST_ROOT/p', datetime('now', '-3 days'), datetime('now', '-3 days'))"
	run steroids runners list --json
	[ "$status" -eq 0 ]
	[ "$(state_of live)" = alive ]
	[ "$(state_of reused)" = dead ]
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$TEST_ROOT/p")" = "cleaned|removed 1 dead runner row; runner running (pid $FAKE_PID)|$FAKE_PID" ]
	[ "$(gdb "SELECT id FROM runners")" = live ]
	kill -0 "$reused"
	kill -0 "$FAKE_PID"
	# Nothing started but the runner started by hand.
	[ "$(spawned)" -eq 1 ]
}

@test "SPEC 11.7: a foreground loop started by hand is seen by wakeup and the agent, and never gets a twin" {
	export STEROIDS_LOOP_COMMAND="$FAKE"
	P="$TEST_ROOT/p"
	new_project "$P"
	steroids tasks add one --project "$P" >/dev/null
	handler "$P" "echo \"\$STEROIDS_RUNNER_ID \$STEROIDS_TASK_TITLE\" >>$REC
	    while [ ! -e $TEST_ROOT/go ]; do sleep 0.05; done"
	start_loop "$P"
	wait_for 5 test -s "$REC"
	for i in 1 2 3; do
		run steroids runners wakeup --json
		[ "$status" -eq 0 ]
		[ "$(action_of "$P")" = "none|runner running (pid $LOOP_PID)|$LOOP_PID" ]
	done
	start_quiet_agent
	# Adopted from its first sweep's results, in its loop: after the
	# status file start_agent waits for.
	wait_for 5 grep -q "adopted the runner with pid $LOOP_PID" "$TEST_ROOT/agent.log"
	# New work while it runs: the agent sees the change, starts nothing.
	steroids tasks add two --project "$P" >/dev/null
	sleep 2
	[ "$(spawned)" -eq 0 ]
	touch "$TEST_ROOT/go"
	rc=0
	wait "$LOOP_PID" || rc=$?
	[ "$rc" -eq 0 ]
	# One runner did both tasks.
	[ "$(cut -d' ' -f2 "$REC" | tr '\n' ,)" = "one,two," ]
	[ "$(cut -d' ' -f1 "$REC" | sort -u | wc -l)" -eq 1 ]
	status_is "$P" two completed
	sleep 1
	[ "$(spawned)" -eq 0 ]
	kill -0 "$AGENT_PID"
}

@test "SPEC 11.8: one project's runner lock does not block another project" {
	export STEROIDS_LOOP_COMMAND="$FAKE"
	A="$TEST_ROOT/a"
	B="$TEST_ROOT/b"
	new_project "$A"
	new_project "$B"
	steroids tasks add a1 --project "$A" >/dev/null
	steroids tasks add b1 --project "$B" >/dev/null
	handler "$A" "while [ ! -e $TEST_ROOT/go ]; do sleep 0.05; done"
	handler "$B" "echo \"\$STEROIDS_PROJECT\" >>$REC"
	# The upstream tool's singleton lock row, as a v1 DB kept it.
	gdb "INSERT INTO runner_lock (id, runner_id) VALUES (1, 'upstream-v1')"
	start_loop "$A"
	wait_for 5 status_is "$A" a1 in_progress
	# B runs by hand while A's runner holds A's lock.
	run steroids loop --project "$B"
	[ "$status" -eq 0 ]
	status_is "$B" b1 completed
	[ "$(cat "$REC")" = "$B" ]
	# And the sweep starts B's runner, leaving A's alone.
	steroids tasks add b2 --project "$B" >/dev/null
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$A")" = "none|runner running (pid $LOOP_PID)|$LOOP_PID" ]
	[ "$(action_of "$B" | cut -d'|' -f1,2)" = "started|1 pending task" ]
	wait_for 10 grep -q "^started .* $(action_of "$B" | cut -d'|' -f3)\$" "$FAKE_RUNNER_DIR/runs"
	[ "$(cat "$FAKE_RUNNER_DIR"/*.argv)" = "$B" ]
	touch "$TEST_ROOT/go"
	wait "$LOOP_PID"
}

@test "SPEC 11.9: the tests' HOME and STEROIDS_HOME are temporary, and the registry is written only there" {
	[ -n "$TEST_ROOT" ]
	[ -d "$TEST_ROOT" ]
	[[ "$STEROIDS_HOME" == "$TEST_ROOT"/* ]]
	[[ "$HOME" == "$TEST_ROOT"/* ]]
	real=$(passwd_home "$(id -un)")
	[ "$HOME" != "$real" ]
	new_project "$TEST_ROOT/p"
	[ -f "$STEROIDS_HOME/steroids.db" ]
	[ "$(gdb "SELECT path FROM projects")" = "$TEST_ROOT/p" ]
}

@test "SPEC 11.9: STEROIDS_HOME unset or empty means \$HOME/.steroids; a relative one is refused" {
	mkdir -p "$TEST_ROOT/p"
	cd "$TEST_ROOT"
	(unset STEROIDS_HOME; "$STEROIDS" init p >/dev/null)
	[ ! -e "$STEROIDS_HOME" ]
	[ ! -e "$TEST_ROOT/.steroids" ]
	[ "$(sqlite3 "$HOME/.steroids/steroids.db" "SELECT path FROM projects")" = "$TEST_ROOT/p" ]
	STEROIDS_HOME='' run steroids projects list
	[ "$status" -eq 0 ]
	[[ "$output" == *"$TEST_ROOT/p"* ]]
	STEROIDS_HOME=rel run --separate-stderr steroids projects list
	expect_status 3 "*STEROIDS_HOME must be an absolute path*"
	[ ! -e "$TEST_ROOT/rel" ]
	[ ! -e "$STEROIDS_HOME" ]
}

@test "SPEC 11.9: HOME and STEROIDS_HOME both unset: the passwd home, never the current directory" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run as nobody"
	command -v setpriv >/dev/null || skip "needs setpriv(1)"
	nobody=$(passwd_home nobody)
	[ -n "$nobody" ] && [ ! -e "$nobody" ] || skip "nobody has a real home"
	chmod 755 "$TEST_ROOT"
	mkdir -m 777 "$TEST_ROOT/cwd"
	# The build tree may lie in a folder nobody cannot enter (a checkout
	# under a 0700 folder): run a copy of the CLI and its library.
	mkdir -m 755 "$TEST_ROOT/bin"
	real=$STEROIDS
	if grep -q libtool "$STEROIDS" 2>/dev/null; then
		real=$(dirname "$STEROIDS")/.libs/$(basename "$STEROIDS")
		cp -L "$(dirname "$STEROIDS")"/lib/.libs/libsteroids.so.0 \
		    "$TEST_ROOT/bin/"
	fi
	cp "$real" "$TEST_ROOT/bin/steroids"
	chmod -R a+rX "$TEST_ROOT/bin"
	as_nobody() {
		env -u HOME -u STEROIDS_HOME LD_LIBRARY_PATH="$TEST_ROOT/bin" \
		    setpriv --reuid="$(id -u nobody)" \
		    --regid="$(id -g nobody)" --clear-groups "$@"
	}
	as_nobody "$TEST_ROOT/bin/steroids" --version >/dev/null ||
	    skip "nobody cannot run a copy in $TEST_ROOT (TMPDIR closed to others?)"
	cd "$TEST_ROOT/cwd"
	run --separate-stderr as_nobody "$TEST_ROOT/bin/steroids" projects list
	expect_status 1 "*$nobody/.steroids*"
	[ -z "$(ls -A "$TEST_ROOT/cwd")" ]
}

@test "SPEC 11.10: a runner that exits 0 at once without progress is backed off" {
	export STEROIDS_LOOP_COMMAND="$FAKE"
	export FAKE_RUNNER_SLEEP=0 FAKE_RUNNER_EXIT=0
	new_project "$TEST_ROOT/p"
	start_quiet_agent
	add_task "$TEST_ROOT/p" t
	wait_for 5 spawned_at_least 1
	sleep 6
	# Starts at 0, 1, 3, (7) s: without backoff there would be hundreds.
	n=$(spawned)
	[ "$n" -ge 2 ]
	[ "$n" -le 4 ]
	grep -q 'starting again in 4s' "$TEST_ROOT/agent.log"
	kill -0 "$AGENT_PID"
}
