#!/usr/bin/env bats
# agent.bats -- steroids-agent, black box: a real agent in the background
# per test, its own STEROIDS_HOME, the fake runner through
# STEROIDS_LOOP_COMMAND.  Bounds are seconds, never fine timing.

bats_require_minimum_version 1.5.0
load ../lib

FAKE="$top_srcdir/tests/cli/fake-runner"

setup() {
	setup_home
	export STEROIDS_LOOP_COMMAND="$FAKE"
	export FAKE_RUNNER_SLEEP=300 FAKE_RUNNER_EXIT=0
	mkdir -p "$STEROIDS_HOME"
	chmod 700 "$STEROIDS_HOME"
	# The sweep timer effectively off: only events may start runners.
	global_config agent.sweep_interval 86400
	global_config agent.backoff_initial 1
	RUNS="$STEROIDS_HOME/fake/runs"
	AGENT_PID=
}

teardown() {
	local pid
	if [ -f "$RUNS" ]; then
		for pid in $(awk '{ print $3 }' "$RUNS"); do
			track_pid "$pid"
		done
	fi
	if [ -n "${BATS_TEST_COMPLETED:-}" ] || [ ! -f "$TEST_ROOT/agent.log" ]
	then
		:
	else
		echo "--- agent log"
		cat "$TEST_ROOT/agent.log"
	fi
	teardown_home
}

global_config() {
	"$STEROIDS" config set "$1" "$2" --global >/dev/null
}

starts() {
	if [ -f "$RUNS" ]; then grep -c '^started' "$RUNS"; else echo 0; fi
}

starts_at_least() {
	[ "$(starts)" -ge "$1" ]
}

agent_alive() {
	kill -0 "$AGENT_PID" 2>/dev/null
}

status_value() {
	awk -v k="$1" '$1 == k { print $2 }' "$STEROIDS_HOME/agent.status"
}

# status_is KEY OP VALUE: test(1) on a value of agent.status, read anew.
status_is() {
	[ -f "$STEROIDS_HOME/agent.status" ] &&
	    test "$(status_value "$1")" "$2" "$3"
}

# Live fake runners holding the lock of project $1.
live_runners() {
	local n=0 pid
	[ -f "$RUNS" ] || { echo 0; return; }
	for pid in $(awk '$1 == "started" { print $3 }' "$RUNS"); do
		if kill -0 "$pid" 2>/dev/null &&
		    grep -qx "$1" "$STEROIDS_HOME/fake/$pid.argv" 2>/dev/null
		then
			n=$((n + 1))
		fi
	done
	echo "$n"
}

# The most project DBs one child of agent $1 (a check worker) has open:
# a worker demoted behind a slow check holds its own until it exits.
worker_project_dbs_max() {
	local c n max=0
	for c in $(pgrep -P "$1"); do
		n=$(open_project_dbs "$c")
		[ "$n" -gt "$max" ] && max=$n
	done
	echo "$max"
}

# use_consume: runners are a script that takes the lock, records its
# start in $RUNS, marks every pending task completed and exits.
use_consume() {
	cat >"$TEST_ROOT/consume" <<-EOF
	#!/bin/sh
	exec 9>>"\$1/.steroids/runner.lock"
	"$FLOCK" -n 9 || exit 6
	echo "started \$(date +%s) \$\$" >> "$RUNS"
	sqlite3 "\$1/.steroids/steroids.db" ".timeout 5000" \
	    "UPDATE tasks SET status = 'completed' WHERE status = 'pending'"
	EOF
	chmod +x "$TEST_ROOT/consume"
	export STEROIDS_LOOP_COMMAND="$TEST_ROOT/consume"
	mkdir -p "$STEROIDS_HOME/fake"
}

@test "agent: a task inserted with sqlite3 into an idle project starts a runner" {
	new_project "$TEST_ROOT/p"
	start_agent
	[ "$(starts)" -eq 0 ]
	add_task "$TEST_ROOT/p" one
	wait_for 5 starts_at_least 1
	run cat "$STEROIDS_HOME/fake/$(awk '{ print $3; exit }' "$RUNS").cwd"
	[ "$output" = "$TEST_ROOT/p" ]
	sleep 1
	[ "$(starts)" -eq 1 ]
	wait_for 3 status_is runners = 1
	[ "$(status_value starts)" -eq 1 ]
}

@test "agent: a path with a newline logs on one line, escaped" {
	local p="$TEST_ROOT/two"$'\n'"lines: started a runner (pid 1)"
	new_project "$p"
	start_agent
	add_task "$p" one
	wait_for 5 starts_at_least 1
	wait_for 3 grep -qF "two\\nlines: started a runner (pid 1): started a runner (pid " \
	    "$TEST_ROOT/agent.log"
	# Unescaped, the name's second half would stand as a line of its own.
	run grep -c '^lines: started' "$TEST_ROOT/agent.log"
	[ "$output" -eq 0 ]
}

@test "agent: a registry row with a path longer than PATH_MAX is skipped; the rest is served" {
	new_project "$TEST_ROOT/p"
	long="/$(printf 'x%.0s' $(seq 1 5000))"
	sqlite3 "$STEROIDS_HOME/steroids.db" \
	    "INSERT INTO projects (path, name) VALUES ('$long', 'long')"
	start_agent
	grep -q 'a project path of 5001 bytes .* skipped' "$TEST_ROOT/agent.log"
	add_task "$TEST_ROOT/p" one
	wait_for 5 starts_at_least 1
	agent_alive
}

@test "agent: a project added after the agent started is watched at once" {
	mkdir -p "$TEST_ROOT/late"
	"$STEROIDS" init --no-register "$TEST_ROOT/late" >/dev/null
	start_agent
	[ "$(status_value watched_native)" -eq 0 ]
	"$STEROIDS" projects add "$TEST_ROOT/late" >/dev/null
	wait_for 5 status_is watched_native = 1
	add_task "$TEST_ROOT/late" one
	wait_for 5 starts_at_least 1
}

@test "agent: a disabled project gets no runner, enabled again it does" {
	new_project "$TEST_ROOT/p"
	start_agent
	"$STEROIDS" projects disable "$TEST_ROOT/p" >/dev/null
	wait_for 5 status_is watched_native = 0
	add_task "$TEST_ROOT/p" one
	sleep 2
	[ "$(starts)" -eq 0 ]
	"$STEROIDS" projects enable "$TEST_ROOT/p" >/dev/null
	wait_for 5 starts_at_least 1
}

@test "agent: a runner that exits 0 leaving work is started again" {
	export FAKE_RUNNER_SLEEP=0 FAKE_RUNNER_EXIT=0
	new_project "$TEST_ROOT/p"
	start_agent
	add_task "$TEST_ROOT/p" one
	wait_for 8 starts_at_least 2
	wait_for 3 status_is restarts -ge 1
}

completed_is() {
	[ "$(sqlite3 "$TEST_ROOT/p/.steroids/steroids.db" \
	    "SELECT count(*) FROM tasks WHERE status = 'completed'")" = "$1" ]
}

@test "agent: a runner that fails after completing a task is started again at once" {
	# Progress resets the backoff (SPEC 8): a runner killed or failing
	# after it completed a task is no crash loop.  Each run completes one
	# of 4 tasks and exits 1; with a backoff the 4 runs would take >= 7 s.
	export FAKE_RUNNER_SLEEP=0 FAKE_RUNNER_EXIT=1 FAKE_RUNNER_COMPLETE=1
	global_config agent.backoff_max 60
	new_project "$TEST_ROOT/p"
	for t in 1 2 3; do add_task "$TEST_ROOT/p" "t$t"; done
	start_agent
	add_task "$TEST_ROOT/p" t4
	wait_for 5 starts_at_least 4
	# The 4th run is counted when it holds the lock, a moment before it
	# completes its task.
	wait_for 5 completed_is 4
	! grep 'starting again in' "$TEST_ROOT/agent.log" || false
	grep -q 'exited 1 with 1 task(s) left; starting again$' \
	    "$TEST_ROOT/agent.log"
	agent_alive
}

@test "agent: a start skipped for a moment (broken config) is tried again, not lost" {
	# The check after the event finds the task but the start is skipped
	# (the project config does not parse); the config is mended with no
	# event on the DB.  The re-check ladder must go on after a skipped
	# start, or the task waits for the next write or the sweep (lost
	# wakeup, SPEC 8).
	new_project "$TEST_ROOT/p"
	start_agent
	echo 'this is not a config line' >"$TEST_ROOT/p/.steroids/config"
	add_task "$TEST_ROOT/p" one
	wait_for 5 grep -q 'skipped' "$TEST_ROOT/agent.log"
	rm "$TEST_ROOT/p/.steroids/config"
	wait_for 5 starts_at_least 1
	agent_alive
}

@test "agent: a runner that always exits 1 is started with a growing backoff" {
	export FAKE_RUNNER_SLEEP=0 FAKE_RUNNER_EXIT=1
	global_config agent.backoff_max 60
	new_project "$TEST_ROOT/p"
	start_agent
	add_task "$TEST_ROOT/p" one
	wait_for 5 starts_at_least 1
	sleep 6
	# Starts at 0, 1, 3, (7) s: without backoff there would be hundreds.
	n=$(starts)
	[ "$n" -ge 2 ]
	[ "$n" -le 4 ]
	grep -q 'starting again in 4s' "$TEST_ROOT/agent.log"
	wait_for 3 status_is backoff = 1
	agent_alive
}

@test "agent: the periodic sweep keeps to the crash-loop backoff" {
	export FAKE_RUNNER_SLEEP=0 FAKE_RUNNER_EXIT=1
	global_config agent.sweep_interval 1
	global_config agent.backoff_max 60
	new_project "$TEST_ROOT/p"
	start_agent
	add_task "$TEST_ROOT/p" one
	wait_for 5 starts_at_least 1
	first=$(awk '$1 == "started" { print $2; exit }' "$RUNS")
	sleep 8
	# Backoff 1, 2, 4, 8 s: starts at 0, 1, 3, 7 s.  A sweep every second
	# that ignored it would start one a second.
	n=$(starts)
	[ "$n" -ge 2 ]
	[ "$n" -le 4 ]
	# Each start keeps to the schedule: the kth no sooner than 2^(k-1)-1 s.
	awk -v t0="$first" '$1 == "started" {
		k++; if ($2 - t0 < 2 ^ (k - 1) - 2) { print "start " k " at +" $2 - t0; exit 1 }
	}' "$RUNS"
	grep -q 'not started: in crash-loop backoff' "$TEST_ROOT/agent.log"
	! grep -q 'starting again in 16s' "$TEST_ROOT/agent.log" || false
	agent_alive
}

# log_has PATTERN N: the agent log has at least N lines matching PATTERN.
log_has() {
	[ "$(grep -c -- "$1" "$TEST_ROOT/agent.log")" -ge "$2" ]
}

@test "agent: disable then enable does not escape the crash-loop backoff" {
	export FAKE_RUNNER_SLEEP=0 FAKE_RUNNER_EXIT=1
	global_config agent.backoff_initial 2
	global_config agent.backoff_max 60
	new_project "$TEST_ROOT/p"
	start_agent
	add_task "$TEST_ROOT/p" one
	# Starts at 0 and 2 s; the second failure backs off 4 s.
	wait_for 10 log_has 'starting again in 4s' 1
	[ "$(starts)" -eq 2 ]
	"$STEROIDS" projects disable "$TEST_ROOT/p" >/dev/null
	wait_for 5 log_has 'removed or disabled' 1
	"$STEROIDS" projects enable "$TEST_ROOT/p" >/dev/null
	wait_for 5 log_has 'now watching' 2
	# An enabled project with pending work would start a runner at once.
	sleep 1.5
	[ "$(starts)" -eq 2 ]
	wait_for 3 status_is backoff = 1
	# The rest of the 4 s waited out, then the doubling goes on.
	wait_for 10 starts_at_least 3
	wait_for 5 log_has 'starting again in 8s' 1
	[ "$(grep -c 'starting again in 2s' "$TEST_ROOT/agent.log")" -eq 1 ]
	awk '$1 == "started" { t[++k] = $2 }
	    END { if (t[3] - t[2] < 3) { print "3rd start " t[3] - t[2] \
	    " s after the 2nd"; exit 1 } }' "$RUNS"
	agent_alive
}

# agent.status's counts are kept as projects change (not counted at each
# write): a project disabled while hung or in backoff leaves its count,
# and comes back to it when enabled (isolation.bats: one that answers
# again leaves the hung count).
@test "agent: status counts follow projects hung or in backoff, disabled and enabled" {
	export FAKE_RUNNER_SLEEP=0 FAKE_RUNNER_EXIT=1
	global_config agent.backoff_initial 60
	global_config agent.backoff_max 60
	B="$TEST_ROOT/b" H="$TEST_ROOT/h"
	new_project "$B"
	new_project "$H"
	# h's DB a FIFO: its check never answers.
	add_task "$H" stuck
	checkpoint "$H/.steroids/steroids.db"
	mv "$H/.steroids/steroids.db" "$TEST_ROOT/db.saved"
	rm -f "$H/.steroids/steroids.db-wal" "$H/.steroids/steroids.db-shm"
	mkfifo "$H/.steroids/steroids.db"
	start_agent
	add_task "$B" one
	wait_for 10 status_is backoff = 1
	wait_for 10 status_is hung = 1
	[ "$(status_value watched_native)" -eq 2 ]
	"$STEROIDS" projects disable "$B" >/dev/null
	wait_for 5 status_is backoff = 0
	wait_for 5 status_is watched_native = 1
	"$STEROIDS" projects disable "$H" >/dev/null
	wait_for 5 status_is hung = 0
	wait_for 5 status_is watched_native = 0
	[ "$(status_value unwatched)" -eq 0 ]
	"$STEROIDS" projects enable "$B" >/dev/null
	wait_for 5 status_is backoff = 1
	"$STEROIDS" projects enable "$H" >/dev/null
	wait_for 10 status_is hung = 1
	wait_for 5 status_is watched_native = 2
	[ "$(status_value backoff)" -eq 1 ]
	[ "$(status_value unwatched)" -eq 0 ]
	agent_alive
}

@test "agent: a runner that exits 6 again and again with the lock free backs off" {
	cat >"$TEST_ROOT/exit6" <<-EOF
	#!/bin/sh
	echo "started \$(date +%s) \$\$" >> "$RUNS"
	exit 6
	EOF
	chmod +x "$TEST_ROOT/exit6"
	export STEROIDS_LOOP_COMMAND="$TEST_ROOT/exit6"
	mkdir -p "$STEROIDS_HOME/fake"
	new_project "$TEST_ROOT/p"
	start_agent
	add_task "$TEST_ROOT/p" one
	wait_for 5 starts_at_least 1
	sleep 4
	# Once at once, then 1, 2, 4 s apart: not a start every few ms.
	n=$(starts)
	[ "$n" -ge 2 ]
	[ "$n" -le 5 ]
	grep -q 'exited 6 with 1 task(s) left; starting again in 2s' \
	    "$TEST_ROOT/agent.log"
}

@test "agent: a lock held by a foreign process: no runner, and the re-checks stop" {
	can_count_ctxt_switches || skip "no context switch count here"
	new_project "$TEST_ROOT/p"
	# A lock holder that writes no PID, so it cannot be adopted.
	hold_lock "$TEST_ROOT/p/.steroids/runner.lock" 60
	start_agent
	add_task "$TEST_ROOT/p" one
	sleep 4		# the ladder of re-checks is over after about 2 s
	before=$(ctxt_switches "$AGENT_PID")
	sleep 3
	after=$(ctxt_switches "$AGENT_PID")
	echo "context switches: $before -> $after"
	[ $((after - before)) -le 3 ]
	[ "$(starts)" -eq 0 ]
	agent_alive
}

@test "agent: a runner started by hand is adopted; killed, it is restarted (pidfd)" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" one
	"$FAKE" "$TEST_ROOT/p" >/dev/null 2>&1 &
	hand=$!
	track_pid "$hand"
	wait_for 5 starts_at_least 1
	start_agent
	# Adopted by the first check, which may come after agent.status.
	wait_for 5 grep -q "adopted the runner with pid $hand" "$TEST_ROOT/agent.log"
	[ "$(starts)" -eq 1 ]
	kill "$hand"
	wait "$hand" || true
	wait_for 8 starts_at_least 2
	[ "$(live_runners "$TEST_ROOT/p")" -eq 1 ]
}

@test "agent: a runner started by hand, killed, is restarted (poll backend)" {
	global_config agent.poll_interval 1
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" one
	"$FAKE" "$TEST_ROOT/p" >/dev/null 2>&1 &
	hand=$!
	track_pid "$hand"
	wait_for 5 starts_at_least 1
	start_agent -P
	[ "$(status_value backend)" = poll ]
	wait_for 5 grep -q "adopted the runner with pid $hand" \
	    "$TEST_ROOT/agent.log"
	kill "$hand"
	wait "$hand" || true
	wait_for 8 starts_at_least 2
}

@test "agent: the poll backend forced: an inserted task starts a runner" {
	global_config agent.poll_interval 1
	new_project "$TEST_ROOT/p"
	STEROIDS_AGENT_POLL=1 start_agent
	[ "$(status_value watched_poll)" -eq 1 ]
	add_task "$TEST_ROOT/p" one
	wait_for 8 starts_at_least 1
}

# make check names the backend configure chose (--with-watch).
@test "agent: the native backend is the one the build chose" {
	[ -n "${TEST_WATCH_BACKEND:-}" ] || skip "TEST_WATCH_BACKEND unset"
	new_project "$TEST_ROOT/p"
	start_agent
	[ "$(status_value backend)" = "$TEST_WATCH_BACKEND" ]
	grep -q "started (pid $AGENT_PID, $TEST_WATCH_BACKEND backend" \
	    "$TEST_ROOT/agent.log"
	[ "$TEST_WATCH_BACKEND" = poll ] ||
	    [ "$(status_value watched_native)" -eq 1 ]
}

# kqueue opens the -wal it watches; one it cannot open (a symlink: the
# O_NOFOLLOW open fails) makes it give the watch up.  The project must be
# watched again at once, here polled, not left alone until the sweep.
@test "agent: a watch its backend gives up on is replaced at once (kqueue)" {
	global_config agent.poll_interval 1
	new_project "$TEST_ROOT/p"
	start_agent
	[ "$(status_value backend)" = kqueue ] || skip "not kqueue"
	[ "$(status_value watched_native)" -eq 1 ]
	sleep 3		# the checks at the start end, their connections closed
	ln -sf nowhere "$TEST_ROOT/p/.steroids/steroids.db-wal"
	wait_for 5 grep -q 'kqueue cannot reopen its files' "$TEST_ROOT/agent.log"
	wait_for 5 status_is watched_poll = 1
	rm "$TEST_ROOT/p/.steroids/steroids.db-wal"
	add_task "$TEST_ROOT/p" one
	wait_for 8 starts_at_least 1
}

@test "agent: watch limit reached: the project is polled, logged once" {
	global_config agent.poll_interval 1
	new_project "$TEST_ROOT/p"
	# One watch: $STEROIDS_HOME takes it, the project gets ENOSPC.
	STEROIDS_AGENT_MAX_WATCHES=1 start_agent
	[ "$(status_value watched_poll)" -eq 1 ]
	[ "$(grep -c 'polling it every' "$TEST_ROOT/agent.log")" -eq 1 ]
	add_task "$TEST_ROOT/p" one
	wait_for 8 starts_at_least 1
}

# The kernel's event queue overflows while the agent is stopped: the
# tasks committed after it filled raised no event the agent can read.
# It must check every project again (once, a few at a time) and start a
# runner for each project with work, and only for those.
@test "agent: event queue overflow: every project checked again, none missed" {
	local q=/proc/sys/fs/inotify/max_queued_events max i
	[ -r "$q" ] || skip "no inotify"
	max=$(cat "$q")
	[ "$max" -le 200000 ] || skip "event queue of $max: too long to fill"
	for i in $(seq 1 30); do
		new_project "$TEST_ROOT/p$i"
	done
	start_agent
	[ "$(status_value backend)" = inotify ] || skip "not inotify"
	kill -STOP "$AGENT_PID"
	# Fill the queue: new names, so that no two events coalesce.
	seq -f "$TEST_ROOT/p30/.steroids/junk%g" 1 $((max + 100)) |
	    xargs touch
	for i in $(seq 1 10); do
		add_task "$TEST_ROOT/p$i" "lost $i"
	done
	kill -CONT "$AGENT_PID"
	wait_for 10 grep -q "event queue overflow" "$TEST_ROOT/agent.log"
	wait_for 10 starts_at_least 10
	sleep 1
	[ "$(starts)" -eq 10 ]
	for i in $(seq 1 10); do
		[ "$(live_runners "$TEST_ROOT/p$i")" -eq 1 ]
	done
	find "$TEST_ROOT/p30/.steroids" -name 'junk*' -delete
	agent_alive
}

@test "agent: kill -9 and start again: still one runner per project" {
	new_project "$TEST_ROOT/a"
	new_project "$TEST_ROOT/b"
	add_task "$TEST_ROOT/a" one
	add_task "$TEST_ROOT/b" one
	start_agent
	wait_for 5 starts_at_least 2
	kill -KILL "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null || true
	start_agent
	# agent.status is written before the adoption is logged.
	wait_for 5 grep -q "adopted" "$TEST_ROOT/agent.log"
	add_task "$TEST_ROOT/a" two
	add_task "$TEST_ROOT/b" two
	sleep 2
	[ "$(live_runners "$TEST_ROOT/a")" -eq 1 ]
	[ "$(live_runners "$TEST_ROOT/b")" -eq 1 ]
	[ "$(starts)" -eq 2 ]
	wait_for 3 status_is runners = 2
}

@test "agent: a second agent exits 6" {
	start_agent
	run "$STEROIDS_AGENT"
	[ "$status" -eq 6 ]
	[[ "$output" == *"already running (pid $AGENT_PID)"* ]]
	agent_alive
}

# A pid that no process has (one that just exited).
dead_pid() {
	sh -c 'exit 0' &
	local pid=$!
	wait "$pid"
	echo "$pid"
}

@test "agent: a moment's lock on a leftover agent.pid does not refuse a starting agent" {
	# As pidfile_write(3) leaves it: digits, no newline.
	printf '%s' "$(dead_pid)" >"$STEROIDS_HOME/agent.pid"
	# What an 'agent status' probing the file at that moment would do.
	hold_lock -s "$STEROIDS_HOME/agent.pid" 0.5
	sleep 0.1
	start_agent
	agent_alive
	[ "$(cat "$STEROIDS_HOME/agent.pid")" -eq "$AGENT_PID" ]
}

@test "agent status: a leftover agent.pid naming a dead pid is not running, its lock untouched" {
	dead_pid >"$STEROIDS_HOME/agent.pid"
	# An exclusive lock held elsewhere: status must not need the lock.
	hold_lock "$STEROIDS_HOME/agent.pid" 5
	sleep 0.2
	run "$STEROIDS" agent status
	[ "$status" -eq 1 ]
	[[ "$output" == *"not running"* ]]
	run "$STEROIDS" agent stop
	[ "$status" -eq 0 ]
	[[ "$output" == *"not running"* ]]
}

@test "agent: SIGTERM exits cleanly and leaves the runners running" {
	new_project "$TEST_ROOT/p"
	add_task "$TEST_ROOT/p" one
	start_agent
	wait_for 5 starts_at_least 1
	runner=$(awk '{ print $3; exit }' "$RUNS")
	kill -TERM "$AGENT_PID"
	wait "$AGENT_PID"
	kill -0 "$runner"
	[ ! -e "$STEROIDS_HOME/agent.pid" ]
	grep -q 'exiting; runners keep running' "$TEST_ROOT/agent.log"
}

@test "agent: project folder removed while watched: no crash; restored: watched again" {
	global_config agent.sweep_interval 1
	new_project "$TEST_ROOT/p"
	start_agent
	[ "$(status_value watched_native)" -eq 1 ]
	mv "$TEST_ROOT/p" "$TEST_ROOT/away"
	wait_for 5 status_is unwatched = 1
	agent_alive
	mv "$TEST_ROOT/away" "$TEST_ROOT/p"
	wait_for 5 status_is watched_native = 1
	add_task "$TEST_ROOT/p" one
	wait_for 5 starts_at_least 1
	# .steroids deleted outright: the inotify watch goes away with it.
	kill "$(awk '{ print $3; exit }' "$RUNS")"
	rm -rf "$TEST_ROOT/p/.steroids"
	wait_for 5 status_is unwatched = 1
	agent_alive
}

no_pending() {
	[ "$(sqlite3 "$1" ".timeout 5000" "SELECT count(*) FROM tasks WHERE status = 'pending'")" = 0 ]
}

# The Trap (SPEC 8): the file event comes before the commit is visible.
# One INSERT per round from a connection that stays open (so no checkpoint
# or other write follows it), the sweep timer off: the agent must still
# see the task and start a runner, every time.
@test "agent: one insert into an idle project, nothing after it: a runner starts, 30 times" {
	use_consume
	new_project "$TEST_ROOT/p"
	db="$TEST_ROOT/p/.steroids/steroids.db"
	mkfifo "$TEST_ROOT/sql"
	sqlite3 "$db" <"$TEST_ROOT/sql" >/dev/null 2>&1 &
	track_pid $!
	exec 8>"$TEST_ROOT/sql"
	echo ".timeout 5000" >&8
	start_agent
	for i in $(seq 1 30); do
		echo "INSERT INTO tasks (id, title) VALUES ('t$i', 'x');" >&8
		wait_for 5 starts_at_least "$i" || {
			echo "round $i: no runner"
			exec 8>&-
			false
		}
		wait_for 5 no_pending "$db"
		wait_for 5 "$FLOCK" -n "$TEST_ROOT/p/.steroids/runner.lock" true
	done
	exec 8>&-
	[ "$(starts)" -eq 30 ]
}

# Project DBs (.steroids/steroids.db) process $1 has open, each once (a
# kept connection has SQLite's descriptor and the writer probe's on it).
open_project_dbs() {
	open_files "$1" | grep '/\.steroids/steroids\.db$' | sort -u |
	    wc -l | tr -d ' '
}

# The same for agent $1 and its children: its check workers keep them.
# (A kqueue watch holds its DB open in the agent itself, no connection.)
agent_project_dbs() {
	local c n=0
	[ "$(status_value backend)" = kqueue ] || n=$(open_project_dbs "$1")
	for c in $(pgrep -P "$1"); do
		n=$((n + $(open_project_dbs "$c")))
	done
	echo "$n"
}

wal_bigger() {
	[ -f "$1" ] && [ "$(size_of "$1")" -gt "$2" ]
}

agent_holds_db() {
	[ "$(agent_project_dbs "$AGENT_PID")" -ge 1 ]
}

agent_dbs_are() {
	[ "$(agent_project_dbs "$AGENT_PID")" -eq "$1" ]
}

# A runner's own commits are most of a busy project's file events.  While
# the agent tracks the runner they need no check (each would have a
# worker open the DB only to learn that a runner runs): one ladder for
# the commit that started it, none for its five.
@test "agent: a tracked runner's own commits start no checks" {
	cat >"$TEST_ROOT/slow" <<-EOF
	#!/bin/sh
	exec 9>>"\$1/.steroids/runner.lock"
	"$FLOCK" -n 9 || exit 6
	echo "started \$(date +%s) \$\$" >> "$RUNS"
	for _ in 1 2 3 4 5; do
		sleep 0.2
		sqlite3 "\$1/.steroids/steroids.db" ".timeout 5000" \
		    "UPDATE tasks SET status = 'completed' WHERE rowid = (SELECT min(rowid) FROM tasks WHERE status = 'pending')"
	done
	EOF
	chmod +x "$TEST_ROOT/slow"
	export STEROIDS_LOOP_COMMAND="$TEST_ROOT/slow"
	mkdir -p "$STEROIDS_HOME/fake"
	new_project "$TEST_ROOT/p"
	start_agent
	sqlite3 "$TEST_ROOT/p/.steroids/steroids.db" ".timeout 5000" "BEGIN;
	    INSERT INTO tasks (id, title) VALUES ('a', 'a'), ('b', 'b'),
	    ('c', 'c'), ('d', 'd'), ('e', 'e'); COMMIT;"
	wait_for 10 starts_at_least 1
	wait_for 10 no_pending "$TEST_ROOT/p/.steroids/steroids.db"
	# The runner gone and its exit checked: the lock free, nothing left.
	wait_for 5 "$FLOCK" -n "$TEST_ROOT/p/.steroids/runner.lock" true
	sleep 1
	# The ladder that started it ends just after; no other while it ran.
	# (The event of its last commit may be read after its exit, and
	# that is a check of a project with no runner: not counted.)
	n=$(sed -n '/started a runner/,/exited 0/p' "$TEST_ROOT/agent.log" |
	    grep -c 'checks over' || true)
	echo "ladders from the start to the exit: $n"
	cat "$TEST_ROOT/agent.log"
	[ "$n" -eq 1 ]
	[ "$(starts)" -eq 1 ]
	agent_alive
}

# While a writer holds its write lock the commit may not be visible, so
# the re-checks after its events go on (2 s), each ladder reading on one
# connection it keeps: 32 kept at most by a worker (each is 3 fds, and 2
# for the writer probe), kept (if spares are on) SPARE_TTL after the checks end for the
# project's next reaction, then closed.  Here 40 writers spill pages to their -wal (events) and
# hold their locks for 2 s before they commit a task each.
@test "agent: re-checks behind busy writers keep at most 32 DBs open, none after" {
	can_list_open_files || skip "cannot list a process's open files here"
	use_consume
	for i in $(seq 1 40); do
		new_project "$TEST_ROOT/p$i"
		sqlite3 "$TEST_ROOT/p$i/.steroids/steroids.db" \
		    "CREATE TABLE pad (x)"
	done
	start_agent
	for i in $(seq 1 40); do
		sqlite3 "$TEST_ROOT/p$i/.steroids/steroids.db" >/dev/null <<-EOF &
		.timeout 10000
		PRAGMA cache_size = 2;
		BEGIN IMMEDIATE;
		WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c
		    WHERE n < 40) INSERT INTO pad SELECT randomblob(4000) FROM c;
		INSERT INTO tasks (id, title) VALUES ('t', 'x');
		.shell sleep 2
		COMMIT;
		EOF
		track_pid $!
	done
	# The kqueue backend holds each watched DB open for its knote.
	held=0
	[ "$(status_value backend)" != kqueue ] ||
	    held=$(status_value watched_native)
	max=0 own=0 d=0
	for _ in $(seq 1 40); do
		n=$(worker_project_dbs_max "$AGENT_PID")
		[ "$n" -gt "$max" ] && max=$n
		# The agent itself never opens one: its workers do (SPEC 8).
		# (Over libkqueue a watch may be given up mid-run, its inotify
		# instances used up: fewer held then, never more.)
		d=$(( $(open_project_dbs "$AGENT_PID") - held ))
		[ "$d" -le 0 ] || own=$((own + d))
		sleep 0.1
	done
	echo "most project DBs one worker had open at once: $max ($held held" \
	    "by the watch); the agent's own beyond those, summed: $own"
	[ "$own" -eq 0 ]
	wait_for 10 starts_at_least 40
	for i in $(seq 1 40); do
		wait_for 5 no_pending "$TEST_ROOT/p$i/.steroids/steroids.db"
	done
	[ "$max" -ge 1 ]
	# 32 kept, and the one a check reads on when all 32 are its ladders'.
	[ "$max" -le 33 ]
	# The last checks end 2 s after the last event; what they kept is
	# closed with them (SPARE_TTL 0), or SPARE_TTL after.
	wait_for 15 agent_dbs_are 0 || {
		echo "open after: $(agent_project_dbs "$AGENT_PID")"
		false
	}
	[ "$(starts)" -eq 40 ]
	agent_alive
}

# A file event goes on reading on the connection its re-checks keep
# unless the DB (or its -wal, -shm) on disk is another file than the one
# it was opened on.  Here a writer mid-commit keeps the re-checks going
# (its spilled pages are the event) and the DB is replaced by a copy with
# a task in it: the re-checks must read the new file.
@test "agent: a DB replaced on disk while its re-checks read it is read anew" {
	can_list_open_files || skip "cannot list a process's open files here"
	use_consume
	new_project "$TEST_ROOT/p"
	db="$TEST_ROOT/p/.steroids/steroids.db"
	sqlite3 "$db" "CREATE TABLE pad (x)" "PRAGMA wal_checkpoint(TRUNCATE)" \
	    >/dev/null
	sqlite3 "$db" ".backup '$TEST_ROOT/new.db'"
	sqlite3 "$TEST_ROOT/new.db" \
	    "INSERT INTO tasks (id, title) VALUES ('t', 'x')"
	chmod 600 "$TEST_ROOT/new.db"
	start_agent
	sqlite3 "$db" >/dev/null <<-EOF &
	.timeout 10000
	PRAGMA cache_size = 2;
	BEGIN IMMEDIATE;
	WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c
	    WHERE n < 40) INSERT INTO pad SELECT randomblob(4000) FROM c;
	.shell sleep 4
	ROLLBACK;
	EOF
	track_pid $!
	wait_for 5 wal_bigger "$db-wal" 40000
	# Its re-checks have the DB open (a check worker keeps it).
	wait_for 5 agent_holds_db
	mv "$TEST_ROOT/new.db" "$db"
	wait_for 3 starts_at_least 1
	agent_alive
}

# One reaction done: the worker keeps its DB as a spare for the next
# (STEROIDS_AGENT_SPARE_TTL, here longer than the test).
react_once() {
	use_consume
	new_project "$TEST_ROOT/p"
	start_agent
	add_task "$TEST_ROOT/p" one
	wait_for 5 starts_at_least 1
	wait_for 5 no_pending "$TEST_ROOT/p/.steroids/steroids.db"
	wait_for 5 "$FLOCK" -n "$TEST_ROOT/p/.steroids/runner.lock" true
	wait_for 5 agent_holds_db
}

@test "agent: SIGHUP closes the DBs its check workers keep" {
	can_list_open_files || skip "cannot list a process's open files here"
	export STEROIDS_AGENT_SPARE_TTL=600
	react_once
	kill -HUP "$AGENT_PID"
	wait_for 5 agent_dbs_are 0
	# And the next reaction reads it anew.
	add_task "$TEST_ROOT/p" two
	wait_for 5 starts_at_least 2
	agent_alive
}

@test "agent: a project disabled: the DB kept for it is closed" {
	can_list_open_files || skip "cannot list a process's open files here"
	export STEROIDS_AGENT_SPARE_TTL=600
	react_once
	"$STEROIDS" projects disable "$TEST_ROOT/p" >/dev/null
	wait_for 5 agent_dbs_are 0
	agent_alive
}

# What is kept between reactions is a connection, never a judgement: a
# chmod of the DB (no file event) still stops the next start (SPEC 5).
@test "agent: a DB made group-writable after a reaction: the next start is refused" {
	can_list_open_files || skip "cannot list a process's open files here"
	export STEROIDS_AGENT_SPARE_TTL=600
	react_once
	chmod g+w "$TEST_ROOT/p/.steroids/steroids.db"
	pdb "$TEST_ROOT/p" "INSERT INTO tasks (id, title) VALUES ('t2', 'two')"
	wait_for 5 grep -q "steroids.db is writable by group" \
	    "$TEST_ROOT/agent.log"
	[ "$(starts)" -eq 1 ]
	agent_alive
}

# A spare is checked before it is read: a DB replaced on disk between two
# reactions (a backup restored) is read on a fresh connection.
@test "agent: a DB replaced between two reactions is read anew" {
	can_list_open_files || skip "cannot list a process's open files here"
	export STEROIDS_AGENT_SPARE_TTL=600
	react_once
	db="$TEST_ROOT/p/.steroids/steroids.db"
	sqlite3 "$db" ".backup '$TEST_ROOT/new.db'"
	sqlite3 "$TEST_ROOT/new.db" \
	    "INSERT INTO tasks (id, title) VALUES ('t', 'x')"
	chmod 600 "$TEST_ROOT/new.db"
	# The agent may be reading: checkpoint() waits for it.
	checkpoint "$db"
	mv "$TEST_ROOT/new.db" "$db"
	wait_for 5 starts_at_least 2
	agent_alive
}

# A runner that exits with no work left and no writer mid-commit: every
# commit before is visible to the agent's read at the exit, so no ladder
# of re-checks follows (it cost ~15 reads per reaction, make bench).
@test "agent: a runner's exit with nothing left and no writer: no re-checks" {
	use_consume
	new_project "$TEST_ROOT/p"
	start_agent
	add_task "$TEST_ROOT/p" one
	wait_for 5 starts_at_least 1
	wait_for 5 grep -q "no work left" "$TEST_ROOT/agent.log"
	grep -q "no writer: no re-checks due" "$TEST_ROOT/agent.log"
	add_task "$TEST_ROOT/p" two
	wait_for 5 starts_at_least 2
	[ "$(starts)" -eq 2 ]
}

# One definition of work (SPEC 4): a task in a skipped section is parked,
# whatever its status.  The agent counted it as work: its runner, done
# with the rest, was started again and backed off for nothing (and each
# event tried a start that found nothing).
@test "agent: open tasks only in a skipped section are no work: no runner, no backoff" {
	mkdir -p "$STEROIDS_HOME/fake"
	cat >"$TEST_ROOT/work" <<-EOF
	#!/bin/sh
	exec 9>>"\$1/.steroids/runner.lock"
	"$FLOCK" -n 9 || exit 6
	echo "started \$(date +%s) \$\$" >> "$RUNS"
	sqlite3 "\$1/.steroids/steroids.db" ".timeout 5000" \
	    "UPDATE tasks SET status = 'completed' WHERE status = 'pending'
	    AND section_id IS NULL"
	EOF
	chmod +x "$TEST_ROOT/work"
	export STEROIDS_LOOP_COMMAND="$TEST_ROOT/work"
	new_project "$TEST_ROOT/p"
	pdb "$TEST_ROOT/p" "INSERT INTO sections (id, name, position, skipped)
	    VALUES ('s', 'parked', 0, 1);
	    INSERT INTO tasks (id, title, section_id) VALUES ('t1', 'a', 's')"
	start_agent
	# An event on a project with parked tasks only: no start.
	pdb "$TEST_ROOT/p" "INSERT INTO tasks (id, title, status, section_id)
	    VALUES ('t2', 'b', 'in_progress', 's')"
	sleep 3
	[ "$(starts)" -eq 0 ]
	# Work beside them: one runner; done with it, no start again, no backoff.
	add_task "$TEST_ROOT/p" real
	wait_for 5 starts_at_least 1
	wait_for 5 grep -q "no work left" "$TEST_ROOT/agent.log"
	sleep 3
	[ "$(starts)" -eq 1 ]
	run grep -q "starting again" "$TEST_ROOT/agent.log"
	[ "$status" -ne 0 ]
	wait_for 3 status_is backoff = 0
	agent_alive
}

# slow_commit DIR: one transaction that spills to the WAL (cache_size 1)
# long before its COMMIT, a second later, adds a pending task: file
# events while the writer holds its write lock.
slow_commit() {
	{
		echo "PRAGMA busy_timeout = 5000; PRAGMA cache_size = 1; BEGIN;"
		echo "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1"
		echo "FROM c WHERE x < 3000) INSERT INTO sections (id, name,"
		echo "position) SELECT 'x' || x, hex(randomblob(200)), x FROM c;"
		echo "INSERT INTO tasks (id, title) VALUES ('t1', 'one');"
		sleep 1
		echo "COMMIT;"
	} | sqlite3 "$1/.steroids/steroids.db"
}

@test "agent: a writer mid-commit: the start got ready meanwhile is made, or refused, as any other" {
	# The worker gets a start ready while a writer is mid-commit
	# (check.c, read_counts); a project whose config is world-writable
	# must still be refused, and one that is fine started, once.
	new_project "$TEST_ROOT/ok"
	new_project "$TEST_ROOT/bad"
	: >"$TEST_ROOT/bad/.steroids/config"
	chmod 0666 "$TEST_ROOT/bad/.steroids/config"
	start_agent
	slow_commit "$TEST_ROOT/ok" &
	w1=$!
	slow_commit "$TEST_ROOT/bad" &
	w2=$!
	wait "$w1" "$w2"
	wait_for 5 starts_at_least 1
	wait_for 5 grep -q "$TEST_ROOT/bad: skipped: unsafe" "$TEST_ROOT/agent.log"
	sleep 1
	[ "$(starts)" -eq 1 ]
	[ "$(live_runners "$TEST_ROOT/ok")" -eq 1 ]
	run grep "$TEST_ROOT/ok: skipped" "$TEST_ROOT/agent.log"
	[ "$status" -ne 0 ]
	agent_alive
}

# A writer that commits and at once takes its write lock again (a burst,
# a daemon's next transaction) never lets the lock go free between: the
# commit, visible already, must be started on while the lock is held
# (check.c, writer_wait), not when the writer is done.
@test "agent: a commit followed at once by a held write lock is started while it is held" {
	new_project "$TEST_ROOT/p"
	start_agent
	sqlite3 "$TEST_ROOT/p/.steroids/steroids.db" >/dev/null <<-EOF &
	.timeout 10000
	INSERT INTO tasks (id, title) VALUES ('t', 'x');
	BEGIN IMMEDIATE;
	.shell sleep 8
	ROLLBACK;
	EOF
	w=$!
	track_pid "$w"
	wait_for 5 starts_at_least 1
	kill -0 "$w"	# still holding its lock
	[ "$(live_runners "$TEST_ROOT/p")" -le 1 ]
	agent_alive
}

@test "agent: idle means idle: no wakeups with 20 projects and nothing happening" {
	can_count_ctxt_switches || skip "no context switch count here"
	use_consume
	for i in $(seq 1 20); do
		new_project "$TEST_ROOT/p$i"
	done
	start_agent
	# Some real work first: a task done by a runner that writes the DB.
	add_task "$TEST_ROOT/p1" one
	wait_for 5 starts_at_least 1
	wait_for 5 no_pending "$TEST_ROOT/p1/.steroids/steroids.db"
	sleep 4		# the re-check ladders (2 s) and the status write end
	before=$(ctxt_switches "$AGENT_PID")
	sleep 5
	after=$(ctxt_switches "$AGENT_PID")
	echo "context switches while idle: $before -> $after"
	[ $((after - before)) -le 3 ]
	agent_alive
}

no_zombies_of() {
	[ "$(zombies_of "$1")" -eq 0 ]
}

@test "agent: every child is reaped: sweep probes (one timed out) and runners" {
	export FAKE_RUNNER_SLEEP=1 FAKE_RUNNER_EXIT=0
	new_project "$TEST_ROOT/ok"
	new_project "$TEST_ROOT/hung"
	new_project "$TEST_ROOT/idle"
	add_task "$TEST_ROOT/ok" one
	start_agent
	# The probe of this one blocks (hang_probe): killed after 2 s.  Made
	# once the sweep at start is over, then sweeps every second.
	wait_for 10 status_is last_sweep -gt 0
	hang_probe "$TEST_ROOT/hung"
	global_config agent.sweep_interval 1
	kill -HUP "$AGENT_PID"
	wait_for 10 grep -q 'hung: skipped no answer within' "$TEST_ROOT/agent.log"
	wait_for 10 starts_at_least 3
	# A zombie is there for a moment at most; one that stays is a leak.
	wait_for 5 no_zombies_of "$AGENT_PID"
	sleep 2
	wait_for 5 no_zombies_of "$AGENT_PID"
	agent_alive
}

# hold_db DB: keep a reader connection open on DB (sqlite3 fed through a
# fifo) so its -shm exists, as while a CLI or a runner reads the registry.
hold_db() {
	rm -f "$TEST_ROOT/hold"
	mkfifo "$TEST_ROOT/hold"
	sqlite3 "$1" <"$TEST_ROOT/hold" >/dev/null &
	track_pid $!
	exec 8>"$TEST_ROOT/hold"
	echo 'SELECT count(*) FROM projects;' >&8
	wait_for 5 test -s "$1-shm"
}

# STEROIDS_HOME on a small tmpfs that is then filled up.  The registry is
# held open by a reader (hold_db), so the agent can open it without new
# space; the first thing it must write is its PID.
@test "agent: agent.pid cannot be written (disk full): one line, exit 1, no pidfile" {
	mount_tmpfs "$TEST_ROOT/disk" 512k
	export STEROIDS_HOME="$TEST_ROOT/disk/home"
	mkdir -m 700 "$STEROIDS_HOME"
	global_config agent.sweep_interval 86400
	new_project "$TEST_ROOT/p"
	hold_db "$STEROIDS_HOME/steroids.db"
	fill_fs "$TEST_ROOT/disk"
	run --separate-stderr test_timeout 10 "$STEROIDS_AGENT"
	exec 8>&-
	echo "exit $status; stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"steroids-agent: cannot write $STEROIDS_HOME/agent.pid: No space left on device"* ]]
	[ ! -e "$STEROIDS_HOME/agent.pid" ]
	[ ! -e "$STEROIDS_HOME/agent.status" ]
	run "$STEROIDS" agent status
	[ "$status" -eq 1 ]
	# The same under -d: the parent says it failed.  The daemon closed
	# the global DB before it forked and closed it again on this failure
	# (a double free, seen by a review); under ASan that is a report.
	hold_db "$STEROIDS_HOME/steroids.db"
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$TEST_ROOT/asan" \
	    run test_timeout 10 "$STEROIDS_AGENT" -d
	exec 8>&-
	[ "$status" -eq 1 ]
	[ ! -e "$STEROIDS_HOME/agent.pid" ]
	sleep 0.5	# the daemon's child ends after its parent
	if ls "$TEST_ROOT"/asan.* 2>/dev/null; then
		cat "$TEST_ROOT"/asan.*
		false
	fi
}

# The disk fills up under a running agent: each status write fails, the
# last complete agent.status stays, no temporary file is left, and the
# failure is logged once, not at every change.  Room again: written again.
@test "agent: agent.status cannot be written (disk full): the old one stays, logged once" {
	mount_tmpfs "$TEST_ROOT/disk" 1m
	export STEROIDS_HOME="$TEST_ROOT/disk/home"
	mkdir -m 700 "$STEROIDS_HOME"
	global_config agent.sweep_interval 86400
	new_project "$TEST_ROOT/p"
	start_agent
	wait_for 5 status_is pid = "$AGENT_PID"
	sleep 1.5
	before=$(cat "$STEROIDS_HOME/agent.status")
	fill_fs "$TEST_ROOT/disk"
	# SIGHUP: a change agent status shows (at most one write a second).
	for i in 1 2 3; do
		kill -HUP "$AGENT_PID"
		sleep 1.2
	done
	wait_for 5 grep -q 'SIGHUP' "$TEST_ROOT/agent.log"
	[ "$(grep -c 'SIGHUP' "$TEST_ROOT/agent.log")" -eq 3 ]
	[ "$(grep -c 'agent.status.tmp' "$TEST_ROOT/agent.log")" -eq 1 ]
	grep -q "cannot write $STEROIDS_HOME/agent.status.tmp: No space left on device" \
	    "$TEST_ROOT/agent.log"
	[ ! -e "$STEROIDS_HOME/agent.status.tmp" ]
	[ "$(cat "$STEROIDS_HOME/agent.status")" = "$before" ]
	run "$STEROIDS" agent status
	[ "$status" -eq 0 ]
	rm "$TEST_ROOT/disk/.fill"
	kill -HUP "$AGENT_PID"
	wait_for 5 grep -q 'agent.status written again' "$TEST_ROOT/agent.log"
	[ ! -e "$STEROIDS_HOME/agent.status.tmp" ]
	run "$STEROIDS" agent status
	[ "$status" -eq 0 ]
	agent_alive
}

# status_rejects: 'steroids agent status' and its --json on the current
# agent.status: exit 7, one line on stderr naming the file, no table; the
# --json envelope says HEALTH_FAILED.
status_rejects() {
	run --separate-stderr "$STEROIDS" agent status
	expect_status 7 "*agent.status*"
	[ -z "$output" ]
	run --separate-stderr "$STEROIDS" --json agent status
	expect_status 7 "*agent.status*"
	printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["success"] is False and d["data"] is None, d
assert d["error"]["code"] == "HEALTH_FAILED", d
assert d["error"]["details"]["exit_code"] == 7, d'
}

# A status file cut short (a crash or a full disk while it was written) or
# overwritten with garbage is never shown as if it were the agent's word.
# The agent is stopped (SIGSTOP) so it cannot write the file meanwhile.
@test "agent status: a truncated or garbage agent.status: one line, exit 7" {
	new_project "$TEST_ROOT/p"
	start_agent
	wait_for 5 status_is pid = "$AGENT_PID"
	sleep 1.5
	kill -STOP "$AGENT_PID"
	f="$STEROIDS_HOME/agent.status"
	good=$(cat "$f")
	run --separate-stderr "$STEROIDS" agent status
	[ "$status" -eq 0 ]
	# Empty.
	: >"$f"
	status_rejects
	# Cut at a line end: only the first lines are there.
	printf '%s\n' "$good" | head -n 2 >"$f"
	status_rejects
	# Cut in the middle of a line.
	printf '%s\n' "$good" | head -c 40 >"$f"
	status_rejects
	# Everything but the final newline ("backoff 1" cut from "backoff 12").
	printf '%s' "$good" >"$f"
	status_rejects
	# Says a project is in backoff, but its line is missing.
	printf '%s\n' "$good" | sed 's/^backoff 0$/backoff 1/' >"$f"
	status_rejects
	# A number that is none.
	printf '%s\n' "$good" | sed 's/^started .*/started 12x4/' >"$f"
	status_rejects
	# Garbage.
	head -c 3000 /dev/urandom >"$f"
	status_rejects
	printf '%s\n' "$good" >"$f"
	run --separate-stderr "$STEROIDS" agent status
	[ "$status" -eq 0 ]
	kill -CONT "$AGENT_PID"
}

# The children of process $1 blocked opening a fifo: hung sweep probes.
fifo_probes() {
	local c
	for c in $(pgrep -P "$1"); do
		blocked_in_fifo_open "$c" && echo "$c"
	done
	return 0
}

has_fifo_probe() {
	[ -n "$(fifo_probes "$1")" ]
}

# gone PID: no such process, or only its zombie left (its parent reaps).
gone() {
	zombie_or_gone "$1"
}

# hung_projects N: N registered projects hung_1 ... whose sweep probe
# blocks (hang_probe) until it is killed after 2 s; the
# registry's order (by path) sweeps them before a project named "ok".
hung_projects() {
	local i
	for i in $(seq "$1"); do
		new_project "$TEST_ROOT/hung_$i"
	done
}

hang_projects() {
	local i
	for i in $(seq "$1"); do
		hang_probe "$TEST_ROOT/hung_$i"
	done
}

@test "agent: a sweep stuck on hung projects does not delay another project's runner" {
	hung_projects 6
	new_project "$TEST_ROOT/ok"
	start_agent
	# Hung only now, once the sweep at start is over (hang_probe); the
	# next one is stuck 6 x 2 s, and a blocking sweep would serve no
	# event for 12 s.
	wait_for 10 status_is last_sweep -gt 0
	hang_projects 6
	global_config agent.sweep_interval 1
	kill -HUP "$AGENT_PID"
	wait_for 10 has_fifo_probe "$AGENT_PID"
	add_task "$TEST_ROOT/ok" one
	wait_for 4 starts_at_least 1
	run cat "$STEROIDS_HOME/fake/$(awk '{ print $3; exit }' "$RUNS").argv"
	[ "$output" = "$TEST_ROOT/ok" ]
	# The sweep was still at the hung ones (a probe is blocked again a
	# moment after the last one was killed), and went on past them.
	wait_for 2 has_fifo_probe "$AGENT_PID"
	wait_for 20 grep -q 'hung_6: skipped no answer within' \
	    "$TEST_ROOT/agent.log"
	[ "$(starts)" -eq 1 ]
	wait_for 5 no_zombies_of "$AGENT_PID"
	agent_alive
}

@test "agent: SIGTERM during a stuck sweep exits at once and leaves no probe" {
	hung_projects 6
	new_project "$TEST_ROOT/ok"
	add_task "$TEST_ROOT/ok" one
	start_agent
	wait_for 5 starts_at_least 1
	runner=$(awk '$1 == "started" { print $3; exit }' "$RUNS")
	wait_for 10 status_is last_sweep -gt 0
	hang_projects 6
	global_config agent.sweep_interval 1
	kill -HUP "$AGENT_PID"
	wait_for 10 has_fifo_probe "$AGENT_PID"
	probes=$(fifo_probes "$AGENT_PID")
	for p in $probes; do
		track_pid "$p"
	done
	kill -TERM "$AGENT_PID"
	wait_for 3 gone "$AGENT_PID"
	wait "$AGENT_PID"
	# Killed by the agent on its way out: a killed child may outlive it
	# by a moment (its exit reaped by init), never longer.
	[ -n "$probes" ]
	for p in $probes; do
		wait_for 3 gone "$p"
	done
	grep -q 'exiting; runners keep running' "$TEST_ROOT/agent.log"
	kill -0 "$runner"
}

@test "agent start|status|stop through the CLI" {
	new_project "$TEST_ROOT/p"
	run "$STEROIDS" agent status
	[ "$status" -eq 1 ]
	[[ "$output" == *"not running"* ]]
	run "$STEROIDS" agent start
	[ "$status" -eq 0 ]
	[[ "$output" == *"agent started (pid "* ]]
	pid=$(cat "$STEROIDS_HOME/agent.pid")
	track_pid "$pid"
	run "$STEROIDS" --json agent status
	[ "$status" -eq 0 ]
	[[ "$output" == *"\"pid\":$pid"* ]]
	[[ "$output" == *"\"backend\":"* ]]
	[[ "$output" == *"\"starts\":0"* ]]
	run "$STEROIDS" agent start
	[ "$status" -eq 0 ]
	[[ "$output" == *"already running"* ]]
	# Stopped, so that it cannot write the file again meanwhile.
	kill -STOP "$pid"
	S="$STEROIDS_HOME/agent.status"
	cp "$S" "$TEST_ROOT/status.saved"
	# An agent from before the runner limit (still running after an
	# upgrade) writes no max_runners, alive or queued: no limit.
	grep -v -E '^(max_runners|alive|queued) ' "$TEST_ROOT/status.saved" >"$S"
	run "$STEROIDS" agent status
	st_old=$status
	out_old=$output
	# Any other key missing: the file is not the agent's word.
	grep -v '^hung ' "$TEST_ROOT/status.saved" >"$S"
	run "$STEROIDS" agent status
	st_nohung=$status
	rm "$S"
	run "$STEROIDS" agent status
	kill -CONT "$pid"
	[ "$status" -eq 7 ]
	[ "$st_old" -eq 0 ]
	[[ "$out_old" == *"none"* ]]
	[ "$st_nohung" -eq 7 ]
	run "$STEROIDS" agent stop
	[ "$status" -eq 0 ]
	# stop returns once agent.pid is released, the agent's last act.
	wait_for 2 gone "$pid"
	run "$STEROIDS" agent status
	[ "$status" -eq 1 ]
}
