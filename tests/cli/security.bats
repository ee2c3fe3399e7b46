#!/usr/bin/env bats
# security.bats -- issue 15: nothing another user can write decides what
# runs as you.  Each file that does (the project config, the global
# config, the project DB and its -wal) is spoiled four ways: mode 0666,
# 0664 with a foreign group, owned by another uid, a symlink to another
# user's file.  Each refusal is checked where the file is used (projects
# add, init, loop, the sweep, the agent): the exit code, one stderr line
# naming the file and the fix, and that the handler never ran.

bats_require_minimum_version 1.5.0
load ../lib

setup() {
	setup_home
	P="$TEST_ROOT/proj"
	MARK="$TEST_ROOT/ran"
	AGENT_PID=
}

teardown() {
	local pid
	# Runners an agent started, should a refusal have failed.
	for pid in $(sed -n 's/.*started a runner (pid \([0-9]*\)).*/\1/p' \
	    "$TEST_ROOT/agent.log" 2>/dev/null); do
		track_pid "$pid"
	done
	teardown_home
}

other_gid() {
	if [ "$(id -u)" -eq 0 ]; then
		{ getent group nogroup 2>/dev/null || echo "nogroup:x:65534:"; } | cut -d: -f3
	fi
}

# project: P registered, with a pending task and runner.command touching
# $MARK, the command in the project's config (or the global one with
# "global").  The real 'steroids loop' runs it: no fake runner.
project() {
	mkdir -p "$P"
	"$STEROIDS" init "$P" >/dev/null
	"$STEROIDS" tasks add t --project "$P" >/dev/null
	if [ "${1:-}" = global ]; then
		"$STEROIDS" config set --global runner.command "touch $MARK" \
		    >/dev/null
	else
		set_config "$P" runner.command "touch $MARK"
	fi
}

# spoil FILE HOW: FILE as another user could have left it (root for all
# but 0666; it skips otherwise).  Sets WANT, the glob stderr must match.
spoil() {
	local f=$1 uid gid
	case $2 in
	0666)
		chmod 0666 "$f"
		WANT="*$f is writable by group or others; fix with: chmod go-w $f*"
		;;
	group)
		gid=$(other_gid)
		[ -n "$gid" ] || skip "needs root to give a file a foreign group"
		chgrp "$gid" "$f"
		chmod 0664 "$f"
		WANT="*$f is writable by group or others; fix with: chmod go-w $f*"
		;;
	owner)
		uid=$(other_uid)
		[ -n "$uid" ] || skip "needs root to give a file another owner"
		chown "$uid" "$f"
		chmod 0644 "$f"
		WANT="*$f is owned by uid $uid, not by you*"
		;;
	symlink)
		uid=$(other_uid)
		[ -n "$uid" ] || skip "needs root to make a file of another user"
		mv "$f" "$TEST_ROOT/theirs"
		chown "$uid" "$TEST_ROOT/theirs"
		chmod 0644 "$TEST_ROOT/theirs"
		ln -s "$TEST_ROOT/theirs" "$f"
		WANT="*$f is a symbolic link*"
		;;
	esac
}

# refused WHICH HOW: spoil one file, then every user of it refuses.
refused() {
	local f
	case $1 in
	config)	project; f="$P/.steroids/config" ;;
	global)	project global; f="$STEROIDS_HOME/config" ;;
	db)	project; f="$P/.steroids/steroids.db" ;;
	# Not empty: SQLite gives an empty -wal the DB's mode when it opens it.
	wal)	project; f="$P/.steroids/steroids.db-wal"
		printf 'frames another user wrote\n' >"$f"; chmod 0600 "$f" ;;
	esac
	# The agent's sweep, soon after it starts (the global config's own
	# test has no room for this line: the agent refuses to start there).
	[ "$1" = global ] ||
	    "$STEROIDS" config set --global agent.sweep_interval 1 >/dev/null
	spoil "$f" "$2"

	if [ "$1" != global ]; then
		run --separate-stderr steroids projects add "$P"
		expect_status 5 "$WANT"
		run --separate-stderr steroids init "$P"
		expect_status 5 "$WANT"
	fi
	run --separate-stderr steroids loop --project "$P"
	expect_status 5 "$WANT"

	run --separate-stderr steroids runners wakeup --json
	[ "$status" -eq 0 ]
	# shellcheck disable=SC2027 # WANT's tail stays a glob, on purpose
	[[ "$(action_of "$P")" == "skipped|unsafe: "${WANT#\*}"|None" ]]

	if [ "$1" = global ]; then
		run --separate-stderr "$STEROIDS_AGENT"
		[ "$status" -eq 5 ]
		[ "${#stderr_lines[@]}" -eq 1 ]
		[[ "$stderr" == "steroids-agent: "$WANT ]]
	else
		"$STEROIDS_AGENT" -v >"$TEST_ROOT/agent.log" 2>&1 3>&- &
		AGENT_PID=$!
		track_pid "$AGENT_PID"
		wait_for 10 grep -q "proj: skipped unsafe: ${WANT#\*}" \
		    "$TEST_ROOT/agent.log" ||
		    { cat "$TEST_ROOT/agent.log"; false; }
		kill -TERM "$AGENT_PID"
		wait "$AGENT_PID" || true
	fi
	[ ! -e "$MARK" ]
	[ "$(pdb_status)" = pending ]
	[ "$(gdb "SELECT count(*) FROM runners")" -eq 0 ]
}

# The task's status, read from a copy of the DB: a reader of the DB
# itself would change the -wal under test (SQLite resets an empty one's
# mode, and a last close deletes it).
pdb_status() {
	cp "$P/.steroids/steroids.db" "$TEST_ROOT/copy.db"
	sqlite3 "$TEST_ROOT/copy.db" "SELECT status FROM tasks"
	rm -f "$TEST_ROOT/copy.db"
}

@test "project config 0666: refused everywhere, the handler never runs" {
	refused config 0666
}
@test "project config 0664 with a foreign group: refused everywhere" {
	refused config group
}
@test "project config owned by another uid: refused everywhere" {
	refused config owner
}
@test "project config a symlink to another user's file: refused everywhere" {
	refused config symlink
}
@test "global config 0666: refused by loop, the sweep and the agent" {
	refused global 0666
}
@test "global config 0664 with a foreign group: refused" {
	refused global group
}
@test "global config owned by another uid: refused" {
	refused global owner
}
@test "global config a symlink to another user's file: refused" {
	refused global symlink
}
@test "project DB 0666: refused everywhere, the handler never runs" {
	refused db 0666
}
@test "project DB 0664 with a foreign group: refused everywhere" {
	refused db group
}
@test "project DB owned by another uid: refused everywhere" {
	refused db owner
}
@test "project DB a symlink to another user's file: refused everywhere" {
	refused db symlink
}
@test "project DB's -wal 0666: refused everywhere" {
	refused wal 0666
}
@test "project DB's -wal 0664 with a foreign group: refused everywhere" {
	refused wal group
}
@test "project DB's -wal owned by another uid: refused everywhere" {
	refused wal owner
}
@test "project DB's -wal a symlink to another user's file: refused everywhere" {
	refused wal symlink
}

@test "the upstream tool's modes pass: .steroids 0755, DB and config 0644" {
	project
	chmod 0755 "$P" "$P/.steroids"
	chmod 0644 "$P/.steroids/steroids.db" "$P/.steroids/config"
	"$STEROIDS" config set --global runner.task_timeout 60 >/dev/null
	chmod 0644 "$STEROIDS_HOME/config"
	run --separate-stderr steroids projects add "$P"
	[ "$status" -eq 0 ]
	run --separate-stderr steroids loop --project "$P" --once
	[ "$status" -eq 0 ]
	[ -e "$MARK" ]
	[ "$(pdb_status)" = completed ]
	rm "$MARK"
	"$STEROIDS" tasks add again --project "$P" >/dev/null
	run --separate-stderr steroids runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$P" | cut -d'|' -f1)" = started ]
	track_pid "$(action_of "$P" | cut -d'|' -f3)"
	wait_for 10 test -e "$MARK"
}

@test "a project folder writable by group or others is refused by init and projects add" {
	for m in 0777 0775 0757; do
		d="$TEST_ROOT/w$m"
		mkdir "$d"
		chmod "$m" "$d"
		run --separate-stderr steroids init "$d"
		expect_status 5 "*$d is writable by group or others; fix with: chmod go-w $d"
		[ ! -e "$d/.steroids" ]
		chmod 0755 "$d"
		steroids init --no-register "$d" >/dev/null
		chmod "$m" "$d"
		run --separate-stderr steroids projects add "$d"
		expect_status 5 "*$d is writable by group or others; fix with: chmod go-w $d"
		run --separate-stderr steroids loop --project "$d"
		expect_status 5 "*$d is writable by group or others*"
	done
	[ "$(gdb "SELECT count(*) FROM projects")" -eq 0 ]
	chmod 0755 "$TEST_ROOT/w0777"
	run --separate-stderr steroids projects add "$TEST_ROOT/w0777"
	[ "$status" -eq 0 ]
}

@test "init does not make a DB others could write its own: refused, mode left" {
	mkdir "$P"
	steroids init --no-register "$P" >/dev/null
	chmod 0666 "$P/.steroids/steroids.db"
	run --separate-stderr steroids init "$P"
	expect_status 5 "*steroids.db is writable by group or others*"
	[ "$(mode_of "$P/.steroids/steroids.db")" = 666 ]
	[ ! -e "$STEROIDS_HOME/steroids.db" ]
}

@test "config set does not copy a config others could write: refused, file unchanged" {
	project
	chmod 0666 "$P/.steroids/config"
	sum=$(cksum <"$P/.steroids/config")
	run --separate-stderr steroids config set --project "$P" runner.task_timeout 5
	expect_status 5 "*config is writable by group or others*"
	[ "$(cksum <"$P/.steroids/config")" = "$sum" ]
	[ "$(mode_of "$P/.steroids/config")" = 666 ]
	"$STEROIDS" config set --global runner.task_timeout 5 >/dev/null
	chmod 0606 "$STEROIDS_HOME/config"
	sum=$(cksum <"$STEROIDS_HOME/config")
	run --separate-stderr steroids config set --global runner.task_timeout 6
	expect_status 5 "*config is writable by group or others*"
	[ "$(cksum <"$STEROIDS_HOME/config")" = "$sum" ]
}

@test "a fifo as the project config is refused at once, never waited on" {
	project
	rm "$P/.steroids/config"
	mkfifo "$P/.steroids/config"
	run --separate-stderr test_timeout 10 "$STEROIDS" loop --project "$P"
	expect_status 3 "*config: cannot read: not a regular file"
	run --separate-stderr test_timeout 10 "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[[ "$(action_of "$P")" == "skipped|"*"config: cannot read: not a regular file|None" ]]
	[ ! -e "$MARK" ]
}

# The runner lock too: a fifo there (what a hung mount's open looks like)
# once held the sweep's probe, and the agent's loop that read it after.
@test "a fifo as the runner lock is refused at once, never waited on" {
	project
	mkfifo "$P/.steroids/runner.lock"
	run --separate-stderr test_timeout 10 "$STEROIDS" loop --project "$P"
	expect_status 5 "*runner.lock: not a regular file"
	run --separate-stderr test_timeout 10 "$STEROIDS" runners wakeup --json
	[ "$status" -eq 0 ]
	[ "$(action_of "$P")" = "skipped|cannot read the runner lock of $P|None" ]
	run --separate-stderr test_timeout 10 "$STEROIDS" runners list
	[ "$status" -eq 0 ]
	[ ! -e "$MARK" ]
	[ -p "$P/.steroids/runner.lock" ]
}
