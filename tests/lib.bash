# tests/lib.bash -- shared setup for the black-box bats tests.
#
# Every test runs with its own temporary STEROIDS_HOME and HOME, never the
# real ones, and kills the processes it started by PID (track_pid).

: "${STEROIDS:=${top_builddir:-$PWD}/steroids}"
: "${STEROIDS_AGENT:=${top_builddir:-$PWD}/steroids-agent}"
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export STEROIDS STEROIDS_AGENT top_srcdir

setup_home() {
	TEST_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/steroids-test.XXXXXX")
	TEST_ROOT=$(cd "$TEST_ROOT" && pwd -P)
	export STEROIDS_HOME="$TEST_ROOT/home"
	export HOME="$TEST_ROOT/user"
	mkdir -p "$HOME"
	unset NO_COLOR STEROIDS_JSON STEROIDS_LOOP_COMMAND
	TEST_PIDS=()
	TEST_MOUNTS=()
	# Folders made here are projects: not group-writable under umask 002.
	umask 022
}

# pid_start PID: when PID started (clock ticks since boot, /proc), or
# nothing if it is gone or there is no /proc.  With pid_max at 32768 and
# two suites at once, a PID a test tracked may be another test's process
# by its teardown: only the same PID started at the same time is killed.
pid_start() {
	local line f
	read -r line 2>/dev/null <"/proc/$1/stat" || return 0
	read -ra f <<<"${line##*) }"
	echo "${f[19]}"
}

# Remember a PID to kill (with its process group if it leads one) at the end.
track_pid() {
	TEST_PIDS+=("$1:$(pid_start "$1")")
}

# kill_tracked SIG: each tracked PID still the process tracked, and each
# tracked group.
kill_tracked() {
	local e p
	for e in "${TEST_PIDS[@]}"; do
		p=${e%%:*}
		if [ "$p" -gt 0 ] && [ -d /proc/self ] &&
		    { [ -z "${e#*:}" ] || [ "$(pid_start "$p")" != "${e#*:}" ]; }
		then
			continue	# gone, perhaps reused since
		fi
		kill "-$1" -- "$p" 2>/dev/null || true
	done
}

teardown_home() {
	tty_kill
	kill_tracked TERM
	kill_tracked KILL
	unmount_all
	[ -n "${TEST_ROOT:-}" ] && rm -rf "$TEST_ROOT"
}

# mount_tmpfs DIR [SIZE]: a small tmpfs on DIR (made if missing), unmounted
# at teardown; skips the test when not root or mounting is not permitted.
mount_tmpfs() {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
	mkdir -p "$1"
	mount -t tmpfs -o "size=${2:-4m}" steroids-test "$1" 2>/dev/null ||
	    skip "cannot mount a tmpfs here"
	TEST_MOUNTS+=("$1")
}

# unmount DIR: unmount a tmpfs of mount_tmpfs before the test ends.
unmount() {
	local m keep=()
	umount "$1"
	for m in "${TEST_MOUNTS[@]}"; do
		[ "$m" = "$1" ] || keep+=("$m")
	done
	TEST_MOUNTS=("${keep[@]}")
}

# Unmount what is left (lazily if busy), so rm -rf never reaches into it.
unmount_all() {
	local m
	for m in "${TEST_MOUNTS[@]}"; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null ||
		    umount -f "$m" 2>/dev/null || true
	done
	TEST_MOUNTS=()
}

# fill_fs DIR: fill the file system of DIR until a write fails (ENOSPC).
fill_fs() {
	dd if=/dev/zero of="$1/.fill" bs=4096 2>/dev/null || true
	! (printf 'x' >"$1/.probe") 2>/dev/null
}

# Run steroids (bats' run captures status and output).
steroids() {
	"$STEROIDS" "$@"
}

# new_project DIR: make and init (and register) a project folder.
new_project() {
	mkdir -p "$1" && "$STEROIDS" init "$1" >/dev/null
}

# add_task DIR TITLE [STATUS]: insert a task the way another tool would.
add_task() {
	sqlite3 "$1/.steroids/steroids.db" \
	    "PRAGMA busy_timeout=5000; INSERT INTO tasks (id, title, status) VALUES (lower(hex(randomblob(16))), '$2', '${3:-pending}');"
}

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
	local deadline=$(( $(date +%s) + $1 ))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# start_agent [ARG...]: the agent in the background with -v and ARGs, its
# log appended to $TEST_ROOT/agent.log, its PID in AGENT_PID and tracked;
# returns once it has written agent.status.  fd 3 (bats' own) is closed,
# so no runner it starts keeps bats waiting.
start_agent() {
	rm -f "$STEROIDS_HOME/agent.status"
	"$STEROIDS_AGENT" -v "$@" >>"$TEST_ROOT/agent.log" 2>&1 3>&- &
	AGENT_PID=$!
	track_pid "$AGENT_PID"
	wait_for 10 test -f "$STEROIDS_HOME/agent.status"
}

# start_traced_agent STRACE-ARGS...: start_agent under strace -o
# $TEST_ROOT/trace, without -f (the agent's own calls only); the test is
# skipped where strace is missing or cannot trace.
start_traced_agent() {
	command -v strace >/dev/null || skip "strace is not installed"
	strace -o /dev/null true 2>/dev/null || skip "strace cannot trace here"
	rm -f "$STEROIDS_HOME/agent.status"
	strace -o "$TEST_ROOT/trace" "$@" \
	    "$STEROIDS_AGENT" -v >>"$TEST_ROOT/agent.log" 2>&1 3>&- &
	track_pid $!
	wait_for 10 test -s "$STEROIDS_HOME/agent.pid"
	AGENT_PID=$(cat "$STEROIDS_HOME/agent.pid")
	track_pid "$AGENT_PID"
	wait_for 10 test -f "$STEROIDS_HOME/agent.status"
}

# Exit-code check after `run --separate-stderr`: status CODE, exactly one
# line on stderr ("steroids: ..."), and it matches the glob PATTERN if given.
expect_status() {
	# shellcheck disable=SC2053 # $2 is a glob pattern
	if [ "$status" -ne "$1" ] || [ "${#stderr_lines[@]}" -ne 1 ] ||
	    [[ "$stderr" != "steroids: "?* ]] ||
	    { [ -n "${2:-}" ] && [[ "$stderr" != $2 ]]; }; then
		printf 'expected exit %s, one stderr line like "%s"; got exit ' \
		    "$1" "${2:-*}" >&2
		printf '%s, stderr:\n%s\nstdout:\n%s\n' "$status" "$stderr" \
		    "$output" >&2
		return 1
	fi
}

# Write every page of DB's -wal back and truncate it, or fail: a rename
# or copy of a WAL DB with frames left in its -wal is SQLite's own
# corruption (a reader overlays the old frames on the new file).  A
# reader's transaction (the agent's checks) makes the checkpoint busy,
# and it then leaves frames, so it waits; "0|0|0" is all written back.
checkpoint() {
	[ "$(sqlite3 -cmd ".timeout 10000" "$1" \
	    "PRAGMA wal_checkpoint(TRUNCATE)")" = "0|0|0" ]
}

# pdb DIR SQL / gdb SQL: query a project's DB or the global DB.
pdb() {
	sqlite3 -cmd '.timeout 5000' "$1/.steroids/steroids.db" "$2"
}
gdb() {
	sqlite3 -cmd '.timeout 5000' "$STEROIDS_HOME/steroids.db" "$1"
}

# action_of PROJECT: what 'runners wakeup --json' (in $output) said about
# one project, "action|reason|pid" (pid None when null); sqlite3's JSON.
action_of() {
	printf '%s' "$output" > "$TEST_ROOT/out.json"
	sqlite3 :memory: "SELECT json_extract(value, '\$.action') || '|' ||
	    json_extract(value, '\$.reason') || '|' ||
	    coalesce(json_extract(value, '\$.pid'), 'None')
	    FROM json_each(readfile('$TEST_ROOT/out.json'), '\$.data')
	    WHERE json_extract(value, '\$.project') = '$1'"
}

# state_of ID: the state 'runners list --json' (in $output) gave runner ID
# (alive, stale or dead), read with sqlite3's JSON: a glob over the whole
# output could match another runner's state.
state_of() {
	printf '%s' "$output" > "$TEST_ROOT/out.json"
	sqlite3 :memory: "SELECT json_extract(value, '\$.state')
	    FROM json_each(readfile('$TEST_ROOT/out.json'), '\$.data')
	    WHERE json_extract(value, '\$.id') = '$1'"
}

# hang_probe DIR: the sweep's check of project DIR blocks, as a read on a
# dead mount would: its steroids.db-shm is now a fifo, and SQLite's read
# of it waits for a writer.  (Not the config nor the runner lock: those
# are opened O_NONBLOCK and a fifo there is refused; nor the DB, which is
# stat'ed before it is opened.)  Its tasks stay: remove the fifo to heal.
hang_probe() {
	rm -f "$1/.steroids/steroids.db-shm"
	mkfifo "$1/.steroids/steroids.db-shm"
}

# set_config DIR KEY VALUE: a key in the project's .steroids/config.
set_config() {
	"$STEROIDS" config set --project "$1" "$2" "$3" >/dev/null
}

# group_gone PGID: no process is left in process group PGID.
group_gone() {
	! kill -0 -- "-$1" 2>/dev/null &&
	    [ -z "$(ps -A -o pgid= | awk -v g="$1" '$1 == g')" ]
}

# hold_lock [-s] FILE SECONDS: hold an flock on FILE (exclusive, or shared
# with -s) for SECONDS in the background, tracked.  The holder is one
# process, $!, so teardown's kill ends it: flock(1) FILE CMD would leave CMD
# running when flock is killed.
hold_lock() {
	local mode=-x
	[ "$1" = -s ] && { mode=-s; shift; }
	(exec 9>>"$1" && "$FLOCK" "$mode" 9 && exec sleep "$2") 3>&- &
	track_pid $!
}

# Kill a process group at teardown (a handler's, by the PGID it wrote).
track_pgid() {
	TEST_PIDS+=("-$1:")
}

# A uid that is not ours, for ownership tests (needs root to chown).
other_uid() {
	if [ "$(id -u)" -eq 0 ]; then
		id -u nobody 2>/dev/null || echo 65534
	fi
}

# ---- the GNU and Linux tools, behind one helper each ------------------
# So that make check can run on the BSDs and macOS unchanged: each helper
# has the GNU/Linux branch and the BSD/macOS one (docs/kqueue.md, "The tests
# on a BSD").  A test that needs what has no stand-in skips, saying so.

# flock(1) and setsid(1) are util-linux: make builds both in tests/tools/
# and every system uses those.  Called as "$FLOCK" and "$SETSID" (exported
# for the scripts the tests write and fake-runner), never through a shell
# function, so that "$FLOCK" FILE CMD & makes $! the process that holds
# the lock (the tools exec CMD).
if [ -x "${top_builddir:-$PWD}/tests/tools/flock" ]; then
	FLOCK="${top_builddir:-$PWD}/tests/tools/flock"
	SETSID="${top_builddir:-$PWD}/tests/tools/setsid"
else
	FLOCK=flock SETSID=setsid
fi
export FLOCK SETSID

# test_timeout SECONDS CMD...: CMD, sent SIGTERM after SECONDS; exit 124
# then, as GNU timeout(1) (FreeBSD has one; macOS has none in the base).
test_timeout() {
	local secs=$1 pid w rc mark
	shift
	if command -v timeout >/dev/null; then
		timeout "$secs" "$@"
		return
	fi
	"$@" &
	pid=$!
	mark="${TEST_ROOT:-${TMPDIR:-/tmp}}/.timedout.$pid"
	(
		trap 'kill "$s" 2>/dev/null; exit 0' TERM
		sleep "$secs" & s=$!
		wait "$s"
		: >"$mark"
		kill -TERM "$pid" 2>/dev/null || rm -f "$mark"
	) &
	w=$!
	wait "$pid"
	rc=$?
	kill -TERM "$w" 2>/dev/null
	wait "$w" 2>/dev/null
	if [ -e "$mark" ]; then
		rm -f "$mark"
		return 124
	fi
	return "$rc"
}

# stat(1): GNU -c, BSD -f.
if stat -c %s / >/dev/null 2>&1; then
	TEST_STAT=gnu
else
	TEST_STAT=bsd
fi

# mode_of FILE: permission bits in octal.
mode_of() {
	case $TEST_STAT in
	gnu)	stat -c %a "$1" ;;
	*)	stat -f %Lp "$1" ;;
	esac
}

# size_of FILE: its size in bytes.
size_of() {
	case $TEST_STAT in
	gnu)	stat -c %s "$1" ;;
	*)	stat -f %z "$1" ;;
	esac
}

# set_size FILE BYTES: grow (or cut) FILE to BYTES, as truncate -s does.
set_size() {
	dd if=/dev/null of="$1" bs=1 seek="$2" 2>/dev/null
}

# state_of_pid PID: ps's state letters of PID ("Z" a zombie), empty if none.
state_of_pid() {
	ps -o stat= -p "$1" 2>/dev/null | tr -d ' '
}

# is_session_leader PID: PID leads its session (the "s" of ps's state, on
# Linux, the BSDs and macOS alike; macOS's ps has no sid).
is_session_leader() {
	[[ "$(state_of_pid "$1")" == *s* ]]
}

# zombie_or_gone PID: no such process, or only its zombie is left.
zombie_or_gone() {
	! kill -0 "$1" 2>/dev/null || [[ "$(state_of_pid "$1")" == Z* ]]
}

# zombies_of PID: how many zombie children PID has.
zombies_of() {
	ps -A -o ppid= -o stat= 2>/dev/null |
	    awk -v pp="$1" '$1 == pp && $2 ~ /^Z/ { n++ } END { print n + 0 }'
}

# open_files PID: the paths PID has open, one a line: /proc on Linux,
# procstat(1) on FreeBSD, lsof(8) on macOS; status 2 when none of them.
open_files() {
	local fd
	if [ -d "/proc/$1/fd" ]; then
		for fd in /proc/"$1"/fd/*; do
			readlink "$fd" 2>/dev/null
		done
	elif command -v procstat >/dev/null; then
		procstat -h -f "$1" 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $NF }'
	elif command -v lsof >/dev/null; then
		lsof -n -P -p "$1" -Fn 2>/dev/null | sed -n 's/^n//p'
	else
		return 2
	fi
}

# can_list_open_files: open_files works here.
can_list_open_files() {
	[ -d "/proc/$$/fd" ] || command -v procstat >/dev/null ||
	    command -v lsof >/dev/null
}

# ctxt_switches PID: voluntary plus involuntary context switches of PID
# (/proc on Linux, ps nvcsw/nivcsw on FreeBSD); empty where neither is.
ctxt_switches() {
	if [ -r "/proc/$1/status" ]; then
		awk '/ctxt_switches/ { n += $2 } END { print n }' "/proc/$1/status"
	else
		ps -o nvcsw= -o nivcsw= -p "$1" 2>/dev/null |
		    awk 'NF == 2 { print $1 + $2 }'
	fi
}

# can_count_ctxt_switches: ctxt_switches works here.
can_count_ctxt_switches() {
	[ -n "$(ctxt_switches $$)" ]
}

# passwd_home USER: USER's home in the user database (getent(1); macOS has
# none: dscl), empty when unknown.
passwd_home() {
	if command -v getent >/dev/null; then
		getent passwd "$1" 2>/dev/null | cut -d: -f6
	elif command -v dscl >/dev/null; then
		dscl . -read "/Users/$1" NFSHomeDirectory 2>/dev/null |
		    awk '{ print $2 }'
	fi
}

# blocked_in_fifo_open PID: PID sleeps in open(2) of a FIFO with no other
# end (Linux's wchan wait_for_partner; the BSDs and macOS say fifoor or
# fifoow).
blocked_in_fifo_open() {
	local w
	if [ -r "/proc/$1/wchan" ]; then
		w=$(cat "/proc/$1/wchan" 2>/dev/null)
	else
		w=$(ps -o wchan= -p "$1" 2>/dev/null | tr -d ' ')
	fi
	case $w in
	wait_for_partner|fifoor|fifoow|fifoo*) return 0 ;;
	esac
	return 1
}

# The registry's content as text, to show a command changed nothing.
registry_dump() {
	sqlite3 "$STEROIDS_HOME/steroids.db" .dump
}

# tty_run SCRIPT: run a bash script in a detached tmux pane (a real terminal)
# on a private server; tty_screen prints the pane, tty_keys types into it.
# teardown_home kills the server.  Its socket lives under TEST_ROOT, so
# nothing is left in /tmp.
tty_tmux() {
	TMUX_TMPDIR="$TEST_ROOT" tmux -L "$TTY_SOCKET" "$@"
}

tty_run() {
	command -v tmux >/dev/null || skip "tmux is not installed"
	TTY_SOCKET="steroids-test-$$"
	unset TMUX
	# Once, under heavy load, the new server died while the client
	# connected ("server exited unexpectedly"): start it a second time.
	tty_tmux -f /dev/null new-session -d -x 200 -y 40 "bash '$1'" ||
	    tty_tmux -f /dev/null new-session -d -x 200 -y 40 "bash '$1'"
}

tty_screen() {
	tty_tmux capture-pane -p "$@"
}

tty_keys() {
	tty_tmux send-keys "$@"
}

tty_kill() {
	if [ -n "${TTY_SOCKET:-}" ]; then
		tty_tmux kill-server 2>/dev/null || true
		TTY_SOCKET=
	fi
}
