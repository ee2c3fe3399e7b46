#!/usr/bin/env bats
# stop.bats -- stopping runners, one routine for all (lib/stop.c; issues
# 19, 12, 10): a runner whose heartbeat is stale is asked to beat
# (SIGUSR1) and kept if it does, by 'runners wakeup' and by the agent;
# one that cannot answer (SIGSTOP) is still stopped and replaced within
# the documented bound (ask 3 s, SIGTERM, SIGKILL after 8 s, 2 s to go);
# a row of the upstream tool's kind (no runner lock) is never signalled;
# 'runners stop' keeps its 8 s grace.  Real runners ('steroids loop').

bats_require_minimum_version 1.5.0
load ../lib

setup() {
	setup_home
	P="$TEST_ROOT/proj"
	new_project "$P"
	AGENT_PID=
}

teardown() {
	local pid
	if [ -n "${BATS_TEST_COMPLETED:-}" ] || [ ! -f "$TEST_ROOT/agent.log" ]
	then
		:
	else
		echo "--- agent log"
		cat "$TEST_ROOT/agent.log"
	fi
	# Runners started by a sweep run in their own sessions: by their rows.
	for pid in $(gdb "SELECT pid FROM runners" 2>/dev/null); do
		track_pid "$pid"
	done
	teardown_home
}

# handler: each run of the task writes a line to $TEST_ROOT/runs, then
# waits for $TEST_ROOT/go.
handler() {
	printf '%s\n' "echo run >>$TEST_ROOT/runs" \
	    "while [ ! -e $TEST_ROOT/go ]; do sleep 0.05; done" \
	    >"$TEST_ROOT/handler.sh"
	set_config "$P" runner.command "exec sh $TEST_ROOT/handler.sh"
}

start_loop() {
	"$STEROIDS" loop --project "$P" >"$TEST_ROOT/loop.out" 2>&1 3>&- &
	LOOP_PID=$!
	track_pid "$LOOP_PID"
}

# has_runner PROJECT: a live runner of ours holds PROJECT's lock.
has_runner() {
	! "$FLOCK" -n "$1/.steroids/runner.lock" true
}

has_row() {
	[ "$(gdb "SELECT count(*) FROM runners WHERE current_task_id IS NOT NULL")" -ge 1 ]
}

runs() {
	if [ -f "$TEST_ROOT/runs" ]; then wc -l <"$TEST_ROOT/runs"; else echo 0; fi
}

runs_are() {
	[ "$(runs)" -eq "$1" ]
}

task_status() {
	pdb "$P" "SELECT status FROM tasks"
}

task_is() {
	[ "$(task_status)" = "$1" ]
}

make_stale() {
	gdb "UPDATE runners SET heartbeat_at = datetime('now', '-10 minutes')"
}

# stale_for SECS: the heartbeat of P's runner is older than SECS.
stale_for() {
	[ "$(gdb "SELECT count(*) FROM runners WHERE project_path = '$P' AND datetime(heartbeat_at) >= datetime('now', '-$1 seconds')")" -eq 0 ]
}

# The pid in the runner row of P.
row_pid() {
	gdb "SELECT pid FROM runners WHERE project_path = '$P'"
}

# A row pid that is not $1 and is alive.
replaced() {
	local pid
	pid=$(row_pid)
	[ -n "$pid" ] && [ "$pid" != "$1" ] && kill -0 "$pid" 2>/dev/null
}

# recorder FILE: a process that writes down the signals it gets, one a
# line, and exits on SIGTERM; RECORDER is its pid.
recorder() {
	bash -c 'f=$1; trap "echo USR1 >>$f" USR1; trap "echo USR2 >>$f" USR2
	    trap "echo TERM >>$f; exit 0" TERM; : >"$f.ready"
	    while :; do sleep 0.05; done' _ "$1" >/dev/null 2>&1 3>&- &
	RECORDER=$!
	track_pid "$RECORDER"
	wait_for 5 test -e "$1.ready"
}

# got FILE PID: what the recorder at PID wrote down, after it is sent
# SIGUSR2 (traps of signals pending together run in one go, lowest first).
got() {
	kill -USR2 "$2"
	wait_for 5 grep -qx USR2 "$1"
	sleep 0.2
	cat "$1"
}

@test "runners wakeup: a healthy runner whose row is made stale is asked, kept, and its task runs once" {
	handler
	steroids tasks add work --project "$P" >/dev/null
	start_loop
	wait_for 5 has_row
	make_stale
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$P")" = "alive|heartbeat refreshed when asked; runner running (pid $LOOP_PID)|$LOOP_PID" ]
	kill -0 "$LOOP_PID"
	# It beat when asked: its heartbeat is fresh again.
	[ "$(gdb "SELECT datetime(heartbeat_at) >= datetime('now', '-60 seconds') FROM runners")" -eq 1 ]
	# The table says the same.
	make_stale
	run steroids runners wakeup
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == "$P"*alive*"$LOOP_PID"*"heartbeat refreshed"* ]]
	touch "$TEST_ROOT/go"
	rc=0
	wait "$LOOP_PID" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(task_status)" = completed ]
	[ "$(runs)" -eq 1 ]
}

@test "runners wakeup: a runner stopped with SIGSTOP past its stale timeout is stopped and replaced within the bound" {
	handler
	set_config "$P" runner.stale_timeout 2
	steroids tasks add work --project "$P" >/dev/null
	start_loop
	wait_for 5 has_row
	kill -STOP "$LOOP_PID"
	wait_for 10 stale_for 2
	start=$(date +%s)
	run steroids runners wakeup --json
	took=$(( $(date +%s) - start ))
	[ "$status" -eq 0 ]
	res=$(action_of "$P")
	[[ "$res" == "restarted|stopped hung runner (pid $LOOP_PID); 1 pending task|"* ]]
	new=${res##*|}
	track_pid "$new"
	# Asked (3 s), then SIGTERM, which a stopped process cannot act on,
	# SIGKILL after 8 s: documented bound 3 + 8 + 2 s, and the probe's 2.
	[ "$took" -ge 10 ]
	[ "$took" -le 15 ]
	rc=0
	wait "$LOOP_PID" || rc=$?
	[ "$rc" -eq $((128 + 9)) ]
	# The new runner takes the task up again and finishes it.
	wait_for 10 runs_are 2
	touch "$TEST_ROOT/go"
	wait_for 10 task_is completed
}

@test "runners wakeup: an upstream-style row (live pid, no runner lock) is never signalled" {
	Q="$TEST_ROOT/other"
	new_project "$Q"
	set_config "$Q" runner.stale_timeout 60
	recorder "$TEST_ROOT/sig.p"
	p_pid=$RECORDER
	recorder "$TEST_ROOT/sig.q"
	q_pid=$RECORDER
	# Past upstream's 5 minutes in P; past Q's stale_timeout, not 5 min.
	gdb "INSERT INTO runners (id, status, pid, project_path, started_at, heartbeat_at) VALUES
	    ('up-p', 'running', $p_pid, '$P', datetime('now', '-1 hour'), datetime('now', '-10 minutes')),
	    ('up-q', 'running', $q_pid, '$Q', datetime('now', '-1 hour'), datetime('now', '-2 minutes'))"
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(got "$TEST_ROOT/sig.p" "$p_pid")" = USR2 ]
	[ "$(got "$TEST_ROOT/sig.q" "$q_pid")" = USR2 ]
}

@test "runners stop: the documented 8 s grace, then still_running, or killed with --force" {
	# Holds the lock like a runner, writes its pid there, ignores SIGTERM.
	bash -c 'exec 9>>"$1"; "$FLOCK" -n 9 || exit 1; echo $$ >"$1"
	    trap "" TERM USR1; : >"$2"; while :; do sleep 0.1 9>&-; done' _ \
	    "$P/.steroids/runner.lock" "$TEST_ROOT/ready" \
	    >/dev/null 2>&1 3>&- &
	stubborn=$!
	track_pid "$stubborn"
	wait_for 5 test -e "$TEST_ROOT/ready"
	gdb "INSERT INTO runners (id, status, pid, project_path, started_at, heartbeat_at) VALUES ('hung', 'running', $stubborn, '$P', datetime('now'), datetime('now'))"
	start=$(date +%s)
	run --separate-stderr steroids runners stop --id hung
	took=$(( $(date +%s) - start ))
	expect_status 1 "*did not stop within 8 s; add --force*"
	[ "$took" -ge 7 ]
	[ "$took" -le 10 ]
	kill -0 "$stubborn"
	start=$(date +%s)
	run steroids runners stop --id hung --force
	took=$(( $(date +%s) - start ))
	[ "$status" -eq 0 ]
	[[ "$output" == *hung*"$stubborn"*killed* ]]
	[ "$took" -le 11 ]
	rc=0
	wait "$stubborn" || rc=$?
	[ "$rc" -eq $((128 + 9)) ]
	# A real runner stops at SIGTERM at once, its task back to pending.
	handler
	steroids tasks add work --project "$P" >/dev/null
	start_loop
	wait_for 5 has_row
	start=$(date +%s)
	run steroids runners stop --project "$P"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$LOOP_PID"*stopped* ]]
	[ $(( $(date +%s) - start )) -le 3 ]
	[ "$(task_status)" = pending ]
}

@test "agent: a healthy runner whose row is made stale is asked and kept; its task runs once" {
	steroids config set agent.sweep_interval 1 --global >/dev/null
	handler
	start_agent
	steroids tasks add work --project "$P" >/dev/null
	wait_for 10 has_row
	pid=$(row_pid)
	make_stale
	wait_for 10 grep -q "$P: heartbeat refreshed when asked; runner running (pid $pid)" "$TEST_ROOT/agent.log"
	kill -0 "$pid"
	[ "$(row_pid)" = "$pid" ]
	touch "$TEST_ROOT/go"
	wait_for 10 task_is completed
	sleep 1
	[ "$(runs)" -eq 1 ]
	run ! grep -q "restarted\|stopped hung" "$TEST_ROOT/agent.log"
}

@test "agent: a runner stopped with SIGSTOP is replaced within the bound, and the stop holds up no other project" {
	steroids config set agent.sweep_interval 1 --global >/dev/null
	Q="$TEST_ROOT/other"
	new_project "$Q"
	handler
	set_config "$Q" runner.command "exec sh $TEST_ROOT/handler.sh"
	set_config "$P" runner.stale_timeout 2
	start_agent
	steroids tasks add work --project "$P" >/dev/null
	wait_for 10 has_row
	old=$(row_pid)
	kill -STOP "$old"
	wait_for 10 stale_for 2
	# The next sweep (1 s) asks it (3 s), then SIGTERM: while that lasts
	# a task for Q gets its runner at once.
	sleep 3
	kill -0 "$old"
	steroids tasks add other --project "$Q" >/dev/null
	wait_for 2 has_runner "$Q"
	# Ask 3 s, grace 8 s, SIGKILL's 2 s, from the sweep after the stale
	# timeout: replaced within 1 + 13 s of it (a crash-loop backoff of 1 s
	# on top when the agent reaped it first).
	wait_for 16 replaced "$old"
	run ! kill -0 "$old"
	kill -0 "$AGENT_PID"
}

# The sweep's judgement of a runner comes from its probe child: the lock
# as the child saw it, and the holder told from a later process with its
# PID by its start time.  So asking a stale runner to beat, as stopping
# one, opens nothing in its project on the agent's loop, where a mount
# that hangs after the probe would hold every project.  strace (no -f)
# sees the agent's own calls only; before, each sweep opened the lock.
@test "agent: the sweep judges and asks a stale runner without a file call of the agent's own on its project" {
	steroids config set agent.sweep_interval 1 --global >/dev/null
	handler
	start_traced_agent -e trace=%file
	steroids tasks add work --project "$P" >/dev/null
	wait_for 10 has_row
	pid=$(row_pid)
	# Sweeps (1 s apart) see the lock held; then the stale row is asked.
	sleep 2
	make_stale
	wait_for 10 grep -q "$P: heartbeat refreshed when asked; runner running (pid $pid)" "$TEST_ROOT/agent.log"
	kill -0 "$pid"
	touch "$TEST_ROOT/go"
	wait_for 10 task_is completed
	# The registry and its own files it opened itself, and no project's.
	# (Over libkqueue, kevent() itself adds an inotify watch by the path
	# it reads back from /proc/self/fd: the emulation's, not a BSD's.)
	grep -q "\"$STEROIDS_HOME/steroids.db\"" "$TEST_ROOT/trace"
	if grep -q '^backend kqueue$' "$STEROIDS_HOME/agent.status"; then
		grep -v -e '^readlink("/proc/' -e '^inotify_add_watch(' \
		    "$TEST_ROOT/trace" >"$TEST_ROOT/trace.own"
		mv "$TEST_ROOT/trace.own" "$TEST_ROOT/trace"
	fi
	run grep "\"$P/" "$TEST_ROOT/trace"
	echo "$output"
	[ -z "$output" ]
}
