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

# Remember a PID to kill (with its process group if it leads one) at the end.
track_pid() {
	TEST_PIDS+=("$1")
}

teardown_home() {
	local p
	tty_kill
	for p in "${TEST_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${TEST_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null || true
	done
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
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
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
# dead mount would: the probe opens the runner lock for reading, here a
# fifo, and that waits for a writer.  (Not the config: it is opened
# O_NONBLOCK and a fifo there is refused at once.)  Make it while no sweep
# runs: a sweep that had the probe's answer already reads the lock itself,
# and so does an agent looking at a project (at its start, on events).
hang_probe() {
	rm -f "$1/.steroids/runner.lock"
	mkfifo "$1/.steroids/runner.lock"
}

# set_config DIR KEY VALUE: a key in the project's .steroids/config.
set_config() {
	"$STEROIDS" config set --project "$1" "$2" "$3" >/dev/null
}

# group_gone PGID: no process is left in process group PGID.
group_gone() {
	! kill -0 -- "-$1" 2>/dev/null &&
	    [ -z "$(ps -e -o pgid= | awk -v g="$1" '$1 == g')" ]
}

# Kill a process group at teardown (a handler's, by the PGID it wrote).
track_pgid() {
	TEST_PIDS+=("-$1")
}

# A uid that is not ours, for ownership tests (needs root to chown).
other_uid() {
	if [ "$(id -u)" -eq 0 ]; then
		id -u nobody 2>/dev/null || echo 65534
	fi
}

# mode_of FILE: permission bits in octal (GNU or BSD stat).
mode_of() {
	stat -c %a "$1" 2>/dev/null || stat -f %Lp "$1"
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
