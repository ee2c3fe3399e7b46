#!/usr/bin/env bats
# limit.bats -- agent.max_runners (issue 13): never more runners alive at
# once than the limit, whoever started them; the rest wait in a first-come
# queue that the agent shows and works through the moment a runner exits.
# A real agent per test, its own STEROIDS_HOME, and a runner script that
# takes the runner lock, logs its start and, once $TEST_ROOT/go exists,
# completes one task and exits.

bats_require_minimum_version 1.5.0
load ../lib

setup() {
	setup_home
	mkdir -p "$STEROIDS_HOME/fake"
	chmod 700 "$STEROIDS_HOME"
	RUNS="$STEROIDS_HOME/fake/runs"
	: >"$RUNS"
	GO="$TEST_ROOT/go"
	# A runner: "spawned PID PATH TIME", RUNNER_DELAY seconds' sleep if
	# set, the lock with its PID in it (as ours), "started PID PATH
	# TIME", wait for go, one task done, "ended PID PATH TIME" (bash's
	# EPOCHREALTIME, while it holds the lock).  A project named crash*
	# exits 1 at once (a crash loop).  Its children get no fd 9, as the
	# real runner's get no lock: a sleep left by a killed runner would
	# hold its lock for a moment after it.
	cat >"$TEST_ROOT/runner" <<-EOF
	#!/usr/bin/env bash
	export LC_ALL=C
	for last in "\$@"; do :; done
	echo "spawned \$\$ \$last \$EPOCHREALTIME" >> "$RUNS"
	[ -z "\${RUNNER_DELAY:-}" ] || sleep "\$RUNNER_DELAY"
	exec 9>>"\$last/.steroids/runner.lock"
	"$FLOCK" -n 9 || exit 6
	echo "\$\$" >"\$last/.steroids/runner.lock"
	echo "started \$\$ \$last \$EPOCHREALTIME" >> "$RUNS"
	case \$last in
	*/crash*)
		sleep 0.1
		echo "ended \$\$ \$last \$EPOCHREALTIME" >> "$RUNS"
		exit 1 ;;
	esac
	while [ ! -e "$GO" ]; do sleep 0.05 9>&-; done
	sleep 0.1 9>&-
	sqlite3 "\$last/.steroids/steroids.db" ".timeout 5000" "UPDATE tasks
	    SET status = 'completed' WHERE rowid = (SELECT min(rowid) FROM tasks
	    WHERE status = 'pending')" >/dev/null 9>&-
	echo "ended \$\$ \$last \$EPOCHREALTIME" >> "$RUNS"
	EOF
	chmod +x "$TEST_ROOT/runner"
	export STEROIDS_LOOP_COMMAND="$TEST_ROOT/runner"
	global_config agent.sweep_interval 86400
	global_config agent.backoff_initial 1
	global_config agent.backoff_max 2
	AGENT_PID=
	SAMPLER=
}

teardown() {
	local pid
	[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
	for pid in $(awk '$1 == "spawned" { print $2 }' "$RUNS" 2>/dev/null); do
		track_pid "$pid"
	done
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -f "$TEST_ROOT/agent.log" ]
	then
		echo "--- agent.status"
		cat "$STEROIDS_HOME/agent.status"
		echo "--- agent log"
		cat "$TEST_ROOT/agent.log"
	fi
	teardown_home
}

global_config() {
	"$STEROIDS" config set "$1" "$2" --global >/dev/null
}

# The runners alive now, from one pass over the process table (pgrep), so
# that a runner gone and the next one started between two looks at
# separate PIDs cannot both be counted; a zombie has no command line and
# is not counted either, nor is a subshell of the runner script (the same
# command line, a runner its parent).
alive() {
	local pids
	pids=$(pgrep -d, -f -- "$TEST_ROOT/runner $TEST_ROOT/") || { echo 0; return; }
	ps -o pid= -o ppid= -p "$pids" | awk '{ pp[$1] = $2 }
	    END { for (p in pp) if (!(pp[p] in pp)) n++; print n + 0 }'
}

# A background sampler: the runners alive, every 50 ms, one line each.
start_sampler() {
	(
		while :; do
			alive >>"$TEST_ROOT/samples"
			sleep 0.05
		done
	) 3>&- &
	SAMPLER=$!
	track_pid "$SAMPLER"
}

most_alive() {
	sort -n "$TEST_ROOT/samples" | tail -1
}

# The most runners that held their lock at once, from the runners' own
# start and end times: exact where the samples may miss a moment.
most_overlap() {
	awk '$1 == "started" { print $4, 1 } $1 == "ended" { print $4, -1 }' \
	    "$RUNS" | sort -k1,1n -k2,2n |
	    awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}

logged() {
	grep -qF -- "$1" "$TEST_ROOT/agent.log"
}

# logged_n N STRING: the agent has logged STRING N times or more.
logged_n() {
	[ "$(grep -cF -- "$2" "$TEST_ROOT/agent.log")" -ge "$1" ]
}

# The projects in the order the agent started their runners.
start_order() {
	sed -n 's|^.*'"$TEST_ROOT"'/\([^:]*\): started a runner.*$|\1|p' \
	    "$TEST_ROOT/agent.log" | tr '\n' ' '
}

pending_total() {
	local d n=0
	for d in "$@"; do
		n=$((n + $(pdb "$d" "SELECT count(*) FROM tasks WHERE status =
		    'pending'")))
	done
	echo "$n"
}

all_done() {
	[ "$(pending_total "$@")" -eq 0 ]
}

status_value() {
	awk -v k="$1" '$1 == k { print $2 }' "$STEROIDS_HOME/agent.status"
}

status_is() {
	[ -f "$STEROIDS_HOME/agent.status" ] &&
	    test "$(status_value "$1")" "$2" "$3"
}

# place_is PROJECT N / order_is ORDER / alive_is N: for wait_for.
place_is() {
	[ "$(queued_place "$1")" = "$2" ]
}
order_is() {
	[ "$(start_order)" = "$1" ]
}
alive_is() {
	[ "$(alive)" -eq "$1" ]
}

# queued_place PROJECT: its place in the queue by 'projects list --json'.
queued_place() {
	"$STEROIDS" projects list --json >"$TEST_ROOT/list.json"
	sqlite3 :memory: "SELECT coalesce(json_extract(value, '\$.queued'),
	    '-') FROM json_each(readfile('$TEST_ROOT/list.json'),
	    '\$.data.projects') WHERE json_extract(value, '\$.path') = '$1'"
}

@test "limit: 20 projects, limit 3: never more than 3 alive, all done, first come first served" {
	local d i names=() dirs=()
	for i in $(seq -w 1 20); do
		new_project "$TEST_ROOT/p$i"
		dirs+=("$TEST_ROOT/p$i")
		names+=("p$i")
	done
	global_config agent.max_runners 3
	start_sampler
	start_agent
	# Two tasks each: a runner does one, so every project runs twice.
	for i in $(seq -w 1 20); do
		add_task "$TEST_ROOT/p$i" one
		add_task "$TEST_ROOT/p$i" two
		if [ "$i" -le 3 ]; then
			wait_for 10 logged "p$i: started a runner"
		else
			wait_for 10 logged "p$i: queued (place $((10#$i - 3)))"
		fi
	done
	wait_for 5 status_is queued = 17
	[ "$(status_value max_runners)" -eq 3 ]
	[ "$(status_value alive)" -eq 3 ]
	run "$STEROIDS" projects list
	[[ "$output" == *"$TEST_ROOT/p04 "*"queued #1"* ]]
	[[ "$output" == *"$TEST_ROOT/p20 "*"queued #17"* ]]
	[ "$(queued_place "$TEST_ROOT/p05")" = 2 ]
	: >"$GO"
	wait_for 60 all_done "${dirs[@]}"
	wait_for 10 status_is alive = 0
	kill "$SAMPLER"
	SAMPLER=
	echo "most alive: $(most_alive); samples: $(wc -l <"$TEST_ROOT/samples")"
	[ "$(most_alive)" -le 3 ]
	[ "$(most_alive)" -eq 3 ]
	[ "$(grep -c '^ended' "$RUNS")" -eq 40 ]
	echo "most at once by their own times: $(most_overlap)"
	# 3: p01-p03 all held their locks until go; never more.
	[ "$(most_overlap)" -eq 3 ]
	# The first turn of each in the order they came; then each again,
	# none before every first turn.
	read -ra order <<<"$(start_order)"
	echo "order: ${order[*]}"
	[ "${#order[@]}" -eq 40 ]
	[ "${order[*]:0:20}" = "${names[*]}" ]
	[ "$(printf '%s\n' "${order[@]:20}" | sort | tr '\n' ' ')" = \
	    "${names[*]} " ]
	[ "$(status_value queued)" -eq 0 ]
}

# started_then PROJECT: wait until the agent started PROJECT's runner.
started_then() {
	wait_for 10 logged "$TEST_ROOT/$1: started a runner"
}

queued_then() {
	wait_for 10 logged "$TEST_ROOT/$1: queued"
}

@test "limit: a runner killed with work left goes to the back of the queue" {
	local d
	for d in a b c d; do new_project "$TEST_ROOT/$d"; done
	global_config agent.max_runners 2
	start_sampler
	start_agent
	add_task "$TEST_ROOT/a" one
	started_then a
	add_task "$TEST_ROOT/b" one
	started_then b
	add_task "$TEST_ROOT/c" one
	queued_then c
	add_task "$TEST_ROOT/d" one
	queued_then d
	kill -KILL "$(awk -v p="$TEST_ROOT/a" \
	    '$1 == "started" && $3 == p { print $2 }' "$RUNS")"
	# Its slot goes to the head at once; it goes behind d.
	started_then c
	wait_for 10 logged "$TEST_ROOT/a: queued (place 2)"
	wait_for 5 place_is "$TEST_ROOT/a" 2
	[ "$(queued_place "$TEST_ROOT/d")" = 1 ]
	run "$STEROIDS" projects list
	[[ "$output" == *"$TEST_ROOT/a "*"queued #2"* ]]
	: >"$GO"
	wait_for 30 all_done "$TEST_ROOT"/[abcd]
	kill "$SAMPLER"
	SAMPLER=
	[ "$(most_alive)" -le 2 ]
	[ "$(start_order)" = "a b c d a " ]
}

@test "limit: a crash loop's backoff holds no slot and no place; it queues again after it" {
	new_project "$TEST_ROOT/crash1"
	new_project "$TEST_ROOT/b"
	global_config agent.max_runners 1
	# Long enough for b's next start to come within it, however loaded.
	global_config agent.backoff_initial 3
	global_config agent.backoff_max 3
	start_sampler
	start_agent
	add_task "$TEST_ROOT/b" one
	started_then b
	add_task "$TEST_ROOT/crash1" one
	queued_then crash1
	: >"$GO"
	# b done, crash1 starts and crashes: backoff, not in the queue.
	wait_for 20 logged "crash1: runner"
	rm -f "$GO"
	add_task "$TEST_ROOT/b" two
	# b starts at once: crash1 waits out its backoff, holding nothing.
	wait_for 10 order_is "b crash1 b "
	# Its backoff over, crash1 finds b's runner and waits its turn.
	wait_for 10 logged_n 2 "crash1: queued (place 1)"
	wait_for 5 status_is queued = 1
	: >"$GO"
	wait_for 20 all_done "$TEST_ROOT/b"
	wait_for 10 order_is "b crash1 b crash1 "
	kill "$SAMPLER"
	SAMPLER=
	[ "$(most_alive)" -le 1 ]
}

@test "limit: disable and enable take a project out of the queue and put it at the back" {
	local d
	for d in a b c; do new_project "$TEST_ROOT/$d"; done
	global_config agent.max_runners 1
	start_agent
	add_task "$TEST_ROOT/a" one
	started_then a
	add_task "$TEST_ROOT/b" one
	queued_then b
	add_task "$TEST_ROOT/c" one
	queued_then c
	"$STEROIDS" projects disable "$TEST_ROOT/b" >/dev/null
	wait_for 5 status_is queued = 1
	[ "$(queued_place "$TEST_ROOT/c")" = 1 ]
	"$STEROIDS" projects enable "$TEST_ROOT/b" >/dev/null
	wait_for 5 status_is queued = 2
	[ "$(queued_place "$TEST_ROOT/c")" = 1 ]
	[ "$(queued_place "$TEST_ROOT/b")" = 2 ]
	run "$STEROIDS" agent status
	[ "$status" -eq 0 ]
	[[ "$output" == *"runner limit"*" 1"* ]]
	[[ "$output" == *"runners alive"*" 1"* ]]
	[[ "$output" == *"queued"*" 2"*"1. $TEST_ROOT/c"*"2. $TEST_ROOT/b"* ]]
	run "$STEROIDS" agent status --json
	[ "$status" -eq 0 ]
	[[ "$output" == *'"max_runners":1,"alive":1,"queued":["'"$TEST_ROOT/c"'","'"$TEST_ROOT/b"'"]'* ]]
	: >"$GO"
	wait_for 20 all_done "$TEST_ROOT"/[abc]
	[ "$(start_order)" = "a c b " ]
}

@test "limit: a hung project leaves the queue and holds up no other; it gets its turn once it answers" {
	local d
	for d in a h c; do new_project "$TEST_ROOT/$d"; done
	global_config agent.max_runners 1
	start_agent
	add_task "$TEST_ROOT/a" one
	started_then a
	add_task "$TEST_ROOT/h" one
	queued_then h
	add_task "$TEST_ROOT/c" one
	queued_then c
	# h's DB a FIFO: its checks block, as on a dead mount.
	checkpoint "$TEST_ROOT/h/.steroids/steroids.db"
	mv "$TEST_ROOT/h/.steroids/steroids.db" "$TEST_ROOT/db.saved"
	rm -f "$TEST_ROOT/h/.steroids/steroids.db-wal" \
	    "$TEST_ROOT/h/.steroids/steroids.db-shm"
	mkfifo "$TEST_ROOT/h/.steroids/steroids.db"
	: >"$GO"
	# a's slot goes to c, whatever h does.
	started_then c
	wait_for 10 logged "$TEST_ROOT/h: hung"
	wait_for 5 status_is hung = 1
	[ "$(queued_place "$TEST_ROOT/h")" = - ]
	rm -f "$GO"
	rm -f "$TEST_ROOT/h/.steroids/steroids.db"
	mv "$TEST_ROOT/db.saved" "$TEST_ROOT/h/.steroids/steroids.db"
	wait_for 10 logged "$TEST_ROOT/h: answers again"
	: >"$GO"
	wait_for 20 all_done "$TEST_ROOT"/[ahc]
	[ "$(start_order)" = "a c h " ]
}

@test "limit: runners wakeup starts at most the limit minus what is alive, the upstream tool's included" {
	local i
	for i in 1 2 3 4 5; do
		new_project "$TEST_ROOT/w$i"
		add_task "$TEST_ROOT/w$i" one
	done
	global_config agent.max_runners 3
	# A live runner of the upstream tool's, with its row and no lock.
	new_project "$TEST_ROOT/up"
	sleep 300 >/dev/null 2>&1 &
	track_pid $!
	gdb "INSERT INTO runners (id, status, pid, project_path, started_at,
	    heartbeat_at) VALUES ('up-1', 'running', $!, '$TEST_ROOT/up',
	    datetime('now'), datetime('now'))"
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$TEST_ROOT/w1")" == "started|1 pending task|"* ]]
	[[ "$(action_of "$TEST_ROOT/w2")" == started\|* ]]
	[[ "$(action_of "$TEST_ROOT/w3")" == "none|1 pending task; not started: agent.max_runners (3) reached, 3 runners alive|None" ]]
	[[ "$(action_of "$TEST_ROOT/w5")" == none\|*"agent.max_runners (3) reached"* ]]
	wait_for 5 alive_is 2
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$output" != *'"action":"started"'* ]]
	# One runner gone: the next sweep begins with the first one left.
	kill "$(awk -v p="$TEST_ROOT/w1" \
	    '$1 == "started" && $3 == p { print $2 }' "$RUNS")"
	wait_for 5 alive_is 1
	wait_for 5 "$FLOCK" -n "$TEST_ROOT/w1/.steroids/runner.lock" true
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$TEST_ROOT/w3")" == started\|* ]] || {
		echo "$output"
		false
	}
	[[ "$(action_of "$TEST_ROOT/w1")" == none\|*"max_runners"* ]]
	wait_for 5 alive_is 2
	# --dry-run says the same without starting.
	run "$STEROIDS" runners wakeup --dry-run --json
	[[ "$output" != *would_start* ]]
	# No limit: everything with work starts.
	global_config agent.max_runners 0
	run "$STEROIDS" runners wakeup --json
	[[ "$(action_of "$TEST_ROOT/w1")" == started\|* ]]
	[[ "$(action_of "$TEST_ROOT/w4")" == started\|* ]]
	[[ "$(action_of "$TEST_ROOT/w5")" == started\|* ]]
}

@test "limit: the agent counts the upstream tool's live runner" {
	local i
	for i in 1 2 3; do new_project "$TEST_ROOT/w$i"; done
	new_project "$TEST_ROOT/up"
	global_config agent.max_runners 2
	sleep 300 >/dev/null 2>&1 &
	track_pid $!
	gdb "INSERT INTO runners (id, status, pid, project_path, started_at,
	    heartbeat_at) VALUES ('up-1', 'running', $!, '$TEST_ROOT/up',
	    datetime('now'), datetime('now'))"
	start_agent
	add_task "$TEST_ROOT/w1" one
	started_then w1
	add_task "$TEST_ROOT/w2" one
	queued_then w2
	wait_for 5 status_is alive = 2
	: >"$GO"
	wait_for 20 all_done "$TEST_ROOT/w1" "$TEST_ROOT/w2"
	[ "$(start_order)" = "w1 w2 " ]
}

@test "limit: a bad agent.max_runners is one line, and SIGHUP keeps the old limit" {
	run --separate-stderr "$STEROIDS" config set agent.max_runners \
	    --global -- -1
	expect_status 2 "*agent.max_runners: bad value '-1'*"
	run --separate-stderr "$STEROIDS" config set agent.max_runners lots \
	    --global
	expect_status 2 "*agent.max_runners: bad value 'lots'*"
	printf 'agent.max_runners = two\n' >>"$STEROIDS_HOME/config"
	run --separate-stderr "$STEROIDS_AGENT"
	[ "$status" -eq 3 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "steroids-agent: "*":"*": agent.max_runners: bad value 'two'"* ]]
	sed -i.bak '/^agent.max_runners/d' "$STEROIDS_HOME/config"
	global_config agent.max_runners 1
	start_agent
	[ "$(status_value max_runners)" -eq 1 ]
	printf 'agent.max_runners = -3\n' >>"$STEROIDS_HOME/config"
	kill -HUP "$AGENT_PID"
	wait_for 5 logged "config not reloaded"
	[ "$(grep -c "config not reloaded" "$TEST_ROOT/agent.log")" -eq 1 ]
	grep "config not reloaded" "$TEST_ROOT/agent.log" | grep -q "agent.max_runners"
	sed -i.bak '/^agent.max_runners = -3/d' "$STEROIDS_HOME/config"
	global_config agent.max_runners 4
	kill -HUP "$AGENT_PID"
	wait_for 5 logged "agent.max_runners is now 4"
	wait_for 5 status_is max_runners = 4
}

# The runners spawned for PROJECT (a name under $TEST_ROOT) so far.
spawned() {
	awk -v p="$TEST_ROOT/$1" '$1 == "spawned" && $3 == p' "$RUNS" | wc -l
}

# Each runner here sleeps 3 s before it takes its lock: till then nobody
# but its starter can see it, and only $STEROIDS_HOME/starts tells the
# other starter that the one slot is taken.
two_projects_one_slot() {
	new_project "$TEST_ROOT/a"
	add_task "$TEST_ROOT/a" one
	new_project "$TEST_ROOT/b"
	add_task "$TEST_ROOT/b" one
	global_config agent.max_runners 1
	export RUNNER_DELAY=3
}

@test "limit: a CLI sweep while the agent's runner is not visible yet starts none beside it" {
	two_projects_one_slot
	start_agent
	wait_for 10 grep -q '^spawned ' "$RUNS"
	first=$(awk '$1 == "spawned" { print $3; exit }' "$RUNS")
	first=${first##*/}
	case $first in
	a) other=b ;;
	b) other=a ;;
	*) false ;;
	esac
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$output" == *"agent.max_runners (1) reached, 1 runner alive"* ]]
	[ "$(spawned "$first")" -eq 1 ]
	[ "$(spawned "$other")" -eq 0 ]
	: >"$GO"
	wait_for 30 all_done "$TEST_ROOT/a" "$TEST_ROOT/b"
	[ "$(most_overlap)" -eq 1 ]
}

@test "limit: the agent, started while a CLI sweep's runner is not visible yet, queues the rest" {
	two_projects_one_slot
	run "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$TEST_ROOT/a")" == started\|* ]]
	[[ "$(action_of "$TEST_ROOT/b")" == none\|*"agent.max_runners (1) reached"* ]]
	track_pid "$(awk '$1 == "spawned" { print $2; exit }' "$RUNS")"
	start_agent
	wait_for 10 logged "$TEST_ROOT/b: queued (place"
	wait_for 10 logged "$TEST_ROOT/a: queued (place"
	[ "$(spawned a)" -eq 1 ]
	[ "$(spawned b)" -eq 0 ]
	: >"$GO"
	wait_for 30 all_done "$TEST_ROOT/a" "$TEST_ROOT/b"
	[ "$(most_overlap)" -eq 1 ]
}
