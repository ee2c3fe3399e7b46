#!/usr/bin/env bats
# badinput.bats -- a table of bad inputs.  Each must give one clear line on
# stderr, the exit code of SPEC 9, the JSON envelope with --json, no crash
# (exit < 128) and no change to the registry.

bats_require_minimum_version 1.5.0
load "${top_srcdir:-$BATS_TEST_DIRNAME/../..}/tests/lib"

setup() {
	setup_home
	new_project "$TEST_ROOT/app"
	BEFORE=$(state)
	LOCK_PID=
}

teardown() {
	if [ -n "$LOCK_PID" ]; then
		exec 8>&-
	fi
	teardown_home
}

# bad CODE ARGS...: steroids ARGS fails as it should, and writes nothing.
bad() {
	local code=$1
	shift
	run --separate-stderr steroids "$@"
	[ "$status" -lt 128 ] || { echo "crashed: $status: $*"; return 1; }
	expect_status "$code" || { echo "args: $*"; return 1; }
	[ "$(state)" = "$BEFORE" ] || { echo "wrote: $*"; return 1; }
	# The same through --json: the envelope on stdout, the line on stderr.
	STEROIDS_JSON=1 run --separate-stderr steroids "$@"
	expect_status "$code" || { echo "json: $*"; return 1; }
	printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert sorted(d) == ["command", "data", "error", "subcommand", "success"], d
assert d["success"] is False and d["data"] is None, d
assert d["error"]["details"]["exit_code"] == int(sys.argv[1]), d
assert d["error"]["message"], d
' "$code" || { echo "envelope: $*: $output"; return 1; }
	[ "$(state)" = "$BEFORE" ]
}

# What must not change (the registry), read from the test's own home even
# when a test points STEROIDS_HOME elsewhere.
state() {
	sqlite3 "$TEST_ROOT/home/steroids.db" .dump
}

long_path() {
	printf '/%0*d' "$1" 0 | tr 0 a
}

@test "unknown commands, subcommands and flags: exit 2" {
	bad 2 bogus
	bad 2 bogus --json
	bad 2 projects bogus
	bad 2 projects list --bogus
	bad 2 --bogus projects list
	bad 2 projects --bogus list
	bad 2 projects add -x "$TEST_ROOT/app"
	bad 2 config get runner.command --no-such-flag
	bad 2 init --name-typo x "$TEST_ROOT/app"
	[[ "$stderr" == *"--name-typo"* ]]
}

@test "missing arguments: exit 2" {
	bad 2
	bad 2 projects
	bad 2 config
	# projects add|remove|enable|disable without a path take the current
	# folder, as the upstream tool's do (upstream.bats).
	bad 2 projects add "$TEST_ROOT/app" --name
	bad 2 config get
	bad 2 config set runner.command
	bad 2 config get runner.command --project
}

@test "extra arguments: exit 2" {
	bad 2 projects add "$TEST_ROOT/app" "$TEST_ROOT/app"
	bad 2 projects list extra
	bad 2 projects prune now
	bad 2 init "$TEST_ROOT/app" "$TEST_ROOT/other"
	bad 2 config set runner.command make extra --global
	[[ "$stderr" == *"'extra'"* ]]
}

@test "empty and over-long paths: exit 2" {
	bad 2 projects add ""
	bad 2 projects remove "" --yes
	bad 2 projects enable ""
	bad 2 init ""
	bad 2 projects add "$(long_path 5000)"
	bad 2 projects remove "$(long_path 5000)" --yes
	bad 2 projects disable "$(long_path 5000)"
	bad 2 init "$(long_path 5000)"
	[[ "$stderr" == *"too long"* ]]
	# One component longer than NAME_MAX, the whole under PATH_MAX.
	bad 2 projects add "$TEST_ROOT/$(long_path 300 | tr -d /)"
}

# The folder whose .steroids is STEROIDS_HOME (steroids init ~ with the
# default home): its project DB would be the registry itself.
@test "init and projects add refuse the folder holding STEROIDS_HOME: exit 2" {
	export STEROIDS_HOME="$HOME/.steroids"
	for how in set default; do
		[ "$how" = default ] && unset STEROIDS_HOME
		run --separate-stderr steroids init "$HOME"
		expect_status 2 "*refusing $HOME as a project*STEROIDS_HOME*"
		run --separate-stderr steroids projects add "$HOME"
		expect_status 2 "*refusing $HOME as a project*STEROIDS_HOME*"
		# Only the registry is there, and it has no tasks table.
		[ "$(ls -A "$HOME/.steroids")" = steroids.db ]
		run sqlite3 "$HOME/.steroids/steroids.db" \
		    "SELECT count(*) FROM sqlite_master WHERE name = 'tasks'"
		[ "$output" = 0 ]
		[ "$(sqlite3 "$HOME/.steroids/steroids.db" \
		    "SELECT count(*) FROM projects")" = 0 ]
	done
	# A project beside it is fine.
	mkdir "$HOME/app"
	run steroids init "$HOME/app"
	[ "$status" -eq 0 ]
}

@test "bad --name and config values: exit 2, nothing created" {
	mkdir "$TEST_ROOT/fresh"
	bad 2 init --name $'bad\xff' "$TEST_ROOT/fresh"
	[[ "$stderr" == *UTF-8* ]]
	bad 2 init --name $'two\nlines' "$TEST_ROOT/fresh"
	bad 2 init --name "" "$TEST_ROOT/fresh"
	[ ! -e "$TEST_ROOT/fresh/.steroids" ]
	bad 2 projects add "$TEST_ROOT/app" --name $'\xc3\x28'
	bad 2 projects add "$TEST_ROOT/app" --name $'esc\033[2J'
	bad 2 config get no.such.key
	bad 2 config set no.such.key 1 --global
	bad 2 config set runner.task_timeout abc --global
	[[ "$stderr" == *runner.task_timeout* ]]
	bad 2 config set runner.task_timeout -5 --global
	bad 2 config set runner.command $'a\xffb' --global
	bad 2 config set runner.command "" --global
	[ ! -e "$STEROIDS_HOME/config" ]
}

@test "unreadable or broken config file: exit 3 naming the file" {
	printf 'runner.command = make\n' >"$STEROIDS_HOME/config"
	if [ "$(id -u)" -eq 0 ]; then
		# root reads through mode 000: a directory cannot be read either.
		rm "$STEROIDS_HOME/config"
		mkdir "$STEROIDS_HOME/config"
	else
		chmod 000 "$STEROIDS_HOME/config"
	fi
	bad 3 config get runner.command --global
	[[ "$stderr" == *"$STEROIDS_HOME/config"* ]]
	(cd "$TEST_ROOT/app" && bad 3 config get runner.command)
	# Root or not, unreadable is a config error (3), and nothing changes.
	bad 3 config set runner.command x --global
	[[ "$stderr" == *"$STEROIDS_HOME/config"*"cannot read"* ]]
	[ -z "$(find "$STEROIDS_HOME" -name 'config.*')" ]
	rm -rf "$STEROIDS_HOME/config"

	printf 'runner.command = make\nrunner.task_timeout = soon\n' \
	    >"$STEROIDS_HOME/config"
	bad 3 config get runner.command --global
	[[ "$stderr" == *"$STEROIDS_HOME/config:2"*runner.task_timeout* ]]
	rm "$STEROIDS_HOME/config"
	printf 'runner.comand = make\n' >"$TEST_ROOT/app/.steroids/config"
	bad 3 config get runner.command --project "$TEST_ROOT/app"
	[[ "$stderr" == *".steroids/config:1"*runner.comand* ]]
	printf 'just words\n' >"$TEST_ROOT/app/.steroids/config"
	bad 3 config get runner.command --project "$TEST_ROOT/app"
}

@test "config set on a file with a NUL byte: exit 3, the file left as it was" {
	# A rewrite would drop what follows the NUL (and read before the line).
	printf '\0runner.command = make\nrunner.task_timeout = 60\n' \
	    >"$STEROIDS_HOME/config"
	cp "$STEROIDS_HOME/config" "$TEST_ROOT/config.before"
	bad 3 config set runner.max_failures 5 --global
	[[ "$stderr" == *"$STEROIDS_HOME/config:1"*"NUL byte"* ]]
	cmp "$STEROIDS_HOME/config" "$TEST_ROOT/config.before"
	[ -z "$(find "$STEROIDS_HOME" -name 'config.*')" ]
}

@test "a bad STEROIDS_HOME: exit 3" {
	STEROIDS_HOME=relative/home bad 3 projects list
	touch "$TEST_ROOT/file"
	STEROIDS_HOME="$TEST_ROOT/file" bad 3 projects list
	STEROIDS_HOME="$TEST_ROOT/file" bad 3 projects add "$TEST_ROOT/app"
}

@test "a --project that is not a project: exit 3" {
	mkdir "$TEST_ROOT/plain"
	bad 3 config get runner.command --project "$TEST_ROOT/plain"
	bad 3 config set runner.command make --project "$TEST_ROOT/nope"
	[ ! -e "$TEST_ROOT/plain/.steroids" ]
}

@test "a corrupt global DB: exit 1, the file left as it was" {
	rm -f "$STEROIDS_HOME"/steroids.db*
	for i in $(seq 64); do
		printf 'this is not an SQLite database, it is garbage %02d\n' "$i"
	done >"$STEROIDS_HOME/steroids.db"
	chmod 600 "$STEROIDS_HOME/steroids.db"
	sum=$(cksum "$STEROIDS_HOME/steroids.db")
	state() { ls -l "$STEROIDS_HOME"; cksum "$STEROIDS_HOME/steroids.db"; }
	BEFORE=$(state)
	bad 1 projects list
	[[ "$stderr" == *"$STEROIDS_HOME/steroids.db"* ]]
	bad 1 projects add "$TEST_ROOT/app"
	bad 1 projects disable "$TEST_ROOT/app"
	bad 1 projects remove "$TEST_ROOT/app" --yes
	bad 1 projects prune
	bad 1 init "$TEST_ROOT/app"
	[ "$(cksum "$STEROIDS_HOME/steroids.db")" = "$sum" ]
}

# Another writer holds the DB for longer than the busy timeout.
hold_lock() {
	mkfifo "$TEST_ROOT/lock.fifo"
	sqlite3 "$STEROIDS_HOME/steroids.db" <"$TEST_ROOT/lock.fifo" \
	    >"$TEST_ROOT/lock.out" 2>&1 &
	LOCK_PID=$!
	track_pid "$LOCK_PID"
	exec 8>"$TEST_ROOT/lock.fifo"
	echo "BEGIN EXCLUSIVE; SELECT 'lock' || 'ed';" >&8
	wait_for 10 grep -q locked "$TEST_ROOT/lock.out"
}

@test "a DB locked by another writer past the busy timeout: exit 6, no hang" {
	mkdir "$TEST_ROOT/new"
	steroids init --no-register "$TEST_ROOT/new" >/dev/null
	hold_lock
	start=$SECONDS
	run --separate-stderr steroids projects add "$TEST_ROOT/new"
	expect_status 6
	[[ "$stderr" == *locked* ]]
	run --separate-stderr steroids projects disable "$TEST_ROOT/app"
	expect_status 6
	run --separate-stderr steroids projects prune
	expect_status 6
	STEROIDS_JSON=1 run --separate-stderr steroids projects remove \
	    "$TEST_ROOT/app" --yes
	expect_status 6
	[ "$(printf '%s' "$output" | python3 -c '
import json, sys; print(json.load(sys.stdin)["error"]["code"])')" = \
	    RESOURCE_LOCKED ]
	[ $((SECONDS - start)) -lt 60 ]
	# Readers are not blocked by a writer (WAL).
	run steroids projects list
	[ "$status" -eq 0 ]
	[[ "$output" == *"$TEST_ROOT/app"* ]]
	kill "$LOCK_PID"
	wait "$LOCK_PID" || true
	[ "$(state)" = "$BEFORE" ]
	run steroids projects add "$TEST_ROOT/new"
	[ "$status" -eq 0 ]
}

# snap DIR: its .steroids' mode, its files as listed, the DB's checksum.
snap() {
	mode_of "$1/.steroids"
	ls -ln "$1/.steroids"
	cksum "$1/.steroids/steroids.db"
}

# SPEC 9, nothing half-written: init that cannot register takes back the
# .steroids it made, and never touches one that was there before.
@test "init that cannot register leaves no .steroids behind" {
	mkdir "$TEST_ROOT/fresh" "$TEST_ROOT/old"
	steroids init --no-register "$TEST_ROOT/old" >/dev/null
	old=$(snap "$TEST_ROOT/old")
	hold_lock
	run --separate-stderr steroids init "$TEST_ROOT/fresh"
	expect_status 6 "*nothing was created*"
	[ ! -e "$TEST_ROOT/fresh/.steroids" ]
	STEROIDS_JSON=1 run --separate-stderr steroids init "$TEST_ROOT/fresh"
	expect_status 6
	[ ! -e "$TEST_ROOT/fresh/.steroids" ]
	run --separate-stderr steroids init "$TEST_ROOT/old"
	expect_status 6 "*left as it was*"
	[ "$(snap "$TEST_ROOT/old")" = "$old" ]
	kill "$LOCK_PID"
	wait "$LOCK_PID" || true
	[ "$(state)" = "$BEFORE" ]

	# A corrupt global DB: refused before anything is made.
	rm -f "$STEROIDS_HOME"/steroids.db*
	printf 'not a database %0900d\n' 0 >"$STEROIDS_HOME/steroids.db"
	run --separate-stderr steroids init "$TEST_ROOT/fresh"
	expect_status 1 "*nothing was created*"
	[ ! -e "$TEST_ROOT/fresh/.steroids" ]
	run --separate-stderr steroids init "$TEST_ROOT/old"
	expect_status 1
	[ "$(snap "$TEST_ROOT/old")" = "$old" ]
}

# Library messages carry paths as they are: the error line escapes them.
@test "a missing path with control bytes: one escaped line on stderr" {
	p="$TEST_ROOT/esc"$'\033[2J'"x"$'\n'"nl"$'\xff'
	bad 4 projects add "$p"
	[[ "$stderr" != *$'\033'* ]]
	[[ "$stderr" != *$'\xff'* ]]
	[[ "$stderr" == *"$TEST_ROOT/esc\\033[2Jx\\nnl\\377"* ]]
	bad 4 init "$p"
	[ ! -e "$p" ]
	bad 4 projects remove "$p"
	[[ "$stderr" != *$'\033'* ]]
	# C1 controls too: valid UTF-8, but U+009B is CSI to some terminals.
	p="$TEST_ROOT/csi"$'\xc2\x9b'"2J"$'\xc2\x85'"x"
	bad 4 projects add "$p"
	[[ "$stderr" != *$'\xc2\x9b'* ]]
	[[ "$stderr" != *$'\xc2\x85'* ]]
	[[ "$stderr" == *"$TEST_ROOT/csi\\302\\2332J\\302\\205x"* ]]
	bad 4 init "$p"
	[[ "$stderr" != *$'\xc2\x9b'* ]]
	bad 2 init --name $'n\xc2\x9b2J' "$TEST_ROOT/app"
}
