#!/usr/bin/env bats
# projects.bats -- steroids init, projects list|add|remove|enable|disable|
# prune, --json, --help, --version and colour, run as a user would.

bats_require_minimum_version 1.5.0
load "${top_srcdir:-$BATS_TEST_DIRNAME/../..}/tests/lib"

setup() {
	setup_home
}

teardown() {
	teardown_home
}

# A path as upper-case hex, to name odd bytes in SQL.
hexof() {
	printf '%s' "$1" | od -An -tx1 | tr -d ' \n' | tr a-f A-F
}

# How many registry rows have exactly this path (bytes compared).
rows_for() {
	sqlite3 "$STEROIDS_HOME/steroids.db" \
	    "SELECT count(*) FROM projects WHERE hex(path) = '$(hexof "$1")'"
}

nrows() {
	sqlite3 "$STEROIDS_HOME/steroids.db" "SELECT count(*) FROM projects"
}

# The JSON envelope of SPEC 9, on stdin; prints data.
envelope() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
assert sorted(d) == ["command", "data", "error", "subcommand", "success"], d
assert isinstance(d["success"], bool), d
if d["success"]:
    assert d["error"] is None, d
else:
    assert sorted(d["error"]) == ["code", "details", "message"], d
    assert d["data"] is None, d
print(json.dumps(d["data"]))
'
}

envelope_head() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
print(d["success"], d["command"], d["subcommand"])'
}

@test "init registers a project and list shows it" {
	mkdir "$TEST_ROOT/app"
	run --separate-stderr steroids init "$TEST_ROOT/app"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[ "$(rows_for "$TEST_ROOT/app")" -eq 1 ]
	run steroids projects list
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^PATH\ +STATUS\ +RUNNER\ +PENDING\ +LAST\ SEEN$ ]]
	[[ "${lines[1]}" =~ ^"$TEST_ROOT/app"\ +enabled\ +-\ +0\ +[0-9]+\ sec\ ago$ ]]
	[ "${#lines[@]}" -eq 2 ]
}

@test "init in the current directory, home shown as ~, pending counted" {
	mkdir -p "$HOME/code/app"
	cd "$HOME/code/app"
	run steroids init --name app
	[ "$status" -eq 0 ]
	add_task "$HOME/code/app" one
	add_task "$HOME/code/app" two review
	add_task "$HOME/code/app" three completed
	run steroids projects list
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" =~ ^~/code/app\ +enabled\ +-\ +2\  ]]
	[ "$(sqlite3 "$STEROIDS_HOME/steroids.db" \
	    "SELECT name FROM projects")" = app ]
}

@test "init --no-register then projects add registers it" {
	mkdir "$TEST_ROOT/app"
	run steroids init --no-register "$TEST_ROOT/app"
	[ "$status" -eq 0 ]
	[ -f "$TEST_ROOT/app/.steroids/steroids.db" ]
	[ ! -e "$STEROIDS_HOME/steroids.db" ]
	run --separate-stderr steroids projects add "$TEST_ROOT/app" --name demo
	[ "$status" -eq 0 ]
	[ "$(rows_for "$TEST_ROOT/app")" -eq 1 ]
	run steroids projects list
	[[ "$output" == *"$TEST_ROOT/app "*enabled* ]]
}

@test "prune removes a project whose folder was deleted; --dry-run changes nothing" {
	new_project "$TEST_ROOT/gone"
	new_project "$TEST_ROOT/kept"
	rm -rf "$TEST_ROOT/gone"
	before=$(registry_dump)
	run steroids projects prune --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *would_remove*"$TEST_ROOT/gone"* ]]
	[ "$(registry_dump)" = "$before" ]
	[ "$(rows_for "$TEST_ROOT/gone")" -eq 1 ]
	run steroids projects list
	[[ "$output" =~ "$TEST_ROOT/gone"\ +missing ]]
	run steroids projects prune
	[ "$status" -eq 0 ]
	[[ "$output" == *removed*"$TEST_ROOT/gone"* ]]
	[ "$(rows_for "$TEST_ROOT/gone")" -eq 0 ]
	[ "$(rows_for "$TEST_ROOT/kept")" -eq 1 ]
	run steroids projects prune
	[ "$status" -eq 0 ]
	[[ "$output" == *"Nothing to prune"* ]]
}

@test "prune also removes a project whose .steroids was deleted" {
	new_project "$TEST_ROOT/app"
	rm -rf "$TEST_ROOT/app/.steroids"
	run steroids projects prune
	[ "$status" -eq 0 ]
	[ "$(rows_for "$TEST_ROOT/app")" -eq 0 ]
	[ -d "$TEST_ROOT/app" ]
}

@test "disable hides a project from list, --all shows it disabled, enable brings it back" {
	new_project "$TEST_ROOT/on"
	new_project "$TEST_ROOT/off"
	run --separate-stderr steroids projects disable "$TEST_ROOT/off"
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$STEROIDS_HOME/steroids.db" \
	    "SELECT enabled FROM projects WHERE path = '$TEST_ROOT/off'")" -eq 0 ]
	run steroids projects list
	[ "$status" -eq 0 ]
	[[ "$output" != *"$TEST_ROOT/off"* ]]
	[[ "$output" == *"$TEST_ROOT/on "* ]]
	[[ "$output" == *"1 disabled project not shown"* ]]
	run steroids projects list --all
	[[ "$output" =~ "$TEST_ROOT/off"\ +disabled ]]
	[[ "$output" =~ "$TEST_ROOT/on"\ +enabled ]]
	run steroids projects list --all --json
	[ "$(printf '%s' "$output" | envelope | python3 -c '
import json, sys
print([p["status"] for p in json.load(sys.stdin)["projects"] if p["path"].endswith("/off")][0])')" = disabled ]
	run steroids projects enable "$TEST_ROOT/off"
	[ "$status" -eq 0 ]
	run steroids projects list
	[[ "$output" =~ "$TEST_ROOT/off"\ +enabled ]]
	[[ "$output" != *"not shown"* ]]
}

@test "enable, disable and remove of an unregistered project: not found" {
	new_project "$TEST_ROOT/app"
	mkdir "$TEST_ROOT/other"
	before=$(registry_dump)
	for cmd in enable disable; do
		run --separate-stderr steroids projects "$cmd" "$TEST_ROOT/other"
		expect_status 4
	done
	run --separate-stderr steroids projects remove "$TEST_ROOT/other" --yes
	expect_status 4
	[ "$(registry_dump)" = "$before" ]
}

@test "symlink, x/../x, trailing slash and relative spellings are one project" {
	new_project "$TEST_ROOT/real"
	ln -s "$TEST_ROOT/real" "$TEST_ROOT/link"
	mkdir "$TEST_ROOT/sub"
	cd "$TEST_ROOT/sub"
	for p in "$TEST_ROOT/link" "$TEST_ROOT/real/../real" "$TEST_ROOT/real/" \
	    "$TEST_ROOT/link/" "$TEST_ROOT//real" ../real "../sub/../link/."; do
		run steroids projects add "$p"
		[ "$status" -eq 0 ]
	done
	run steroids init "$TEST_ROOT/link/"
	[ "$status" -eq 0 ]
	[ "$(nrows)" -eq 1 ]
	[ "$(rows_for "$TEST_ROOT/real")" -eq 1 ]
	run steroids projects disable ../link/
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$STEROIDS_HOME/steroids.db" \
	    "SELECT enabled FROM projects")" -eq 0 ]
	run steroids projects remove "$TEST_ROOT/real/../link" --yes
	[ "$status" -eq 0 ]
	[ "$(nrows)" -eq 0 ]
}

@test "remove and disable by the old spelling after the folder is gone" {
	new_project "$TEST_ROOT/a"
	new_project "$TEST_ROOT/b"
	rm -rf "$TEST_ROOT/a" "$TEST_ROOT/b"
	run steroids projects disable "$TEST_ROOT/a/"
	[ "$status" -eq 0 ]
	run steroids projects remove "$TEST_ROOT/x/../b" --yes
	[ "$status" -eq 0 ]
	[ "$(rows_for "$TEST_ROOT/b")" -eq 0 ]
	[ "$(rows_for "$TEST_ROOT/a")" -eq 1 ]
}

# Spaces, quotes, a newline, a tab, non-UTF-8 bytes: add, list (escaped),
# --json (the same bytes back), remove.
@test "odd paths round-trip through add, list, --json and remove" {
	local p n=0
	local -a odd=("$TEST_ROOT/with space" "$TEST_ROOT/new"$'\n'"line" \
	    "$TEST_ROOT/bytes"$'\xff\xfe' "$TEST_ROOT/q'uo\"te"$'\t'tab \
	    "$TEST_ROOT/esc"$'\033'"[31m" "$TEST_ROOT/csi"$'\xc2\x9b'"2J")
	for p in "${odd[@]}"; do
		mkdir "$p"
		run steroids init --no-register "$p"
		[ "$status" -eq 0 ]
		run --separate-stderr steroids projects add "$p"
		[ "$status" -eq 0 ]
		[ "$(rows_for "$p")" -eq 1 ]
		n=$((n + 1))
	done
	[ "$(nrows)" -eq "$n" ]

	run steroids projects list
	[ "$status" -eq 0 ]
	# One line per project: nothing raw reaches the terminal.
	[ "${#lines[@]}" -eq $((n + 1)) ]
	[[ "$output" != *$'\033'* ]]
	[[ "$output" != *$'\t'* ]]
	[[ "$output" != *$'\xff'* ]]
	[[ "$output" == *"$TEST_ROOT/with space "* ]]
	[[ "$output" == *"$TEST_ROOT/new\\nline "* ]]
	[[ "$output" == *"$TEST_ROOT/bytes\\377\\376 "* ]]
	[[ "$output" == *"$TEST_ROOT/esc\\033[31m "* ]]
	# A C1 control is valid UTF-8, and CSI to some terminals.
	[[ "$output" != *$'\xc2\x9b'* ]]
	[[ "$output" == *"$TEST_ROOT/csi\\302\\2332J "* ]]

	run steroids projects list --json
	[ "$status" -eq 0 ]
	for p in "${odd[@]}"; do
		printf '%s' "$output" | envelope | python3 -c '
import json, os, sys
want = os.fsencode(sys.argv[1])
got = [os.fsencode(p["path"]) for p in json.load(sys.stdin)["projects"]]
assert want in got, (want, got)
' "$p"
	done

	for p in "${odd[@]}"; do
		run --separate-stderr steroids projects remove "$p" --yes
		[ "$status" -eq 0 ]
		[ "$(rows_for "$p")" -eq 0 ]
		[ -d "$p/.steroids" ]
	done
	[ "$(nrows)" -eq 0 ]
}

@test "refusals of SPEC 5: exit code, one line on stderr, nothing written" {
	new_project "$TEST_ROOT/ok"
	before=$(registry_dump)

	run --separate-stderr steroids projects add "$TEST_ROOT/missing"
	expect_status 4
	[[ "$stderr" == *"$TEST_ROOT/missing"* ]]
	touch "$TEST_ROOT/file"
	run --separate-stderr steroids projects add "$TEST_ROOT/file"
	expect_status 4

	mkdir "$TEST_ROOT/plain"
	run --separate-stderr steroids projects add "$TEST_ROOT/plain"
	expect_status 3
	[[ "$stderr" == *"steroids init"* ]]
	mkdir -p "$TEST_ROOT/half/.steroids"
	run --separate-stderr steroids projects add "$TEST_ROOT/half"
	expect_status 3

	for p in / /etc /usr/bin /etc/../etc/; do
		run --separate-stderr steroids projects add "$p"
		expect_status 5
		[[ "$stderr" == *"system directory"* ]]
	done
	run --separate-stderr steroids init /etc
	expect_status 5
	[ ! -e /etc/.steroids ]

	for m in 0770 0707 0777; do
		mkdir "$TEST_ROOT/w$m"
		steroids init --no-register "$TEST_ROOT/w$m" >/dev/null
		chmod "$m" "$TEST_ROOT/w$m/.steroids"
		run --separate-stderr steroids projects add "$TEST_ROOT/w$m"
		expect_status 5
		[[ "$stderr" == *"writable by group or others"* ]]
	done
	[ "$(registry_dump)" = "$before" ]
}

@test "refusal: a folder or .steroids owned by another user" {
	uid=$(other_uid)
	[ -n "$uid" ] || skip "needs root to create files owned by another uid"
	new_project "$TEST_ROOT/ok"
	before=$(registry_dump)
	mkdir "$TEST_ROOT/theirs" "$TEST_ROOT/half"
	steroids init --no-register "$TEST_ROOT/theirs" >/dev/null
	steroids init --no-register "$TEST_ROOT/half" >/dev/null
	chown -R "$uid" "$TEST_ROOT/theirs"
	chown -R "$uid" "$TEST_ROOT/half/.steroids"
	for p in theirs half; do
		run --separate-stderr steroids projects add "$TEST_ROOT/$p"
		expect_status 5
		[[ "$stderr" == *"owned by uid $uid"* ]]
	done
	[ "$(registry_dump)" = "$before" ]
}

# Never modify another user's files: ownership is checked before any
# chmod or write, so init leaves theirs exactly as they were.
@test "init refuses a .steroids or DB owned by another user, changing nothing" {
	uid=$(other_uid)
	[ -n "$uid" ] || skip "needs root to create files owned by another uid"
	mkdir "$TEST_ROOT/dir" "$TEST_ROOT/db"
	steroids init --no-register "$TEST_ROOT/dir" >/dev/null
	steroids init --no-register "$TEST_ROOT/db" >/dev/null
	chown -R "$uid" "$TEST_ROOT/dir/.steroids"
	chmod 0755 "$TEST_ROOT/dir/.steroids"
	chown "$uid" "$TEST_ROOT/db/.steroids/steroids.db"
	chmod 0644 "$TEST_ROOT/db/.steroids/steroids.db"
	sum=$(cksum "$TEST_ROOT/db/.steroids/steroids.db")
	for p in dir db; do
		run --separate-stderr steroids init "$TEST_ROOT/$p"
		expect_status 5 "*owned by uid $uid*"
	done
	[ "$(mode_of "$TEST_ROOT/dir/.steroids")" = 755 ]
	[ "$(mode_of "$TEST_ROOT/db/.steroids/steroids.db")" = 644 ]
	[ "$(cksum "$TEST_ROOT/db/.steroids/steroids.db")" = "$sum" ]
	# Refused before the registry is even opened, or with nothing in it.
	[ ! -e "$STEROIDS_HOME/steroids.db" ] || [ "$(nrows)" -eq 0 ]
	# projects add, and every start, apply the same rule to the DB file.
	run --separate-stderr steroids projects add "$TEST_ROOT/db"
	expect_status 5 "*steroids.db is owned by uid $uid*"
	[ "$(cksum "$TEST_ROOT/db/.steroids/steroids.db")" = "$sum" ]
	[ "$(nrows)" -eq 0 ]
}

@test "remove without --yes off a terminal exits 2 and removes nothing" {
	new_project "$TEST_ROOT/app"
	before=$(registry_dump)
	run --separate-stderr steroids projects remove "$TEST_ROOT/app" </dev/null
	expect_status 2
	[[ "$stderr" == *--yes* ]]
	run --separate-stderr steroids projects remove "$TEST_ROOT/app" --json \
	    </dev/null
	expect_status 2
	[ "$(printf '%s' "$output" | python3 -c '
import json, sys; print(json.load(sys.stdin)["error"]["code"])')" = \
	    INVALID_ARGUMENTS ]
	[ "$(registry_dump)" = "$before" ]
}

# The confirmation on a real terminal (a tmux pane): "n" keeps, "y" removes.
@test "remove asks on a terminal: n keeps the project, y removes it" {
	new_project "$TEST_ROOT/app"
	for answer in n y; do
		rm -f "$TEST_ROOT/rc"
		printf '%q projects remove %q; echo $? >%q.tmp; mv %q.tmp %q\nsleep 60\n' \
		    "$STEROIDS" "$TEST_ROOT/app" "$TEST_ROOT/rc" "$TEST_ROOT/rc" \
		    "$TEST_ROOT/rc" >"$TEST_ROOT/tty.sh"
		tty_run "$TEST_ROOT/tty.sh"
		wait_for 10 eval 'tty_screen | grep -q "\[y/N\]"'
		tty_screen | grep -q "Unregister $TEST_ROOT/app?"
		tty_keys "$answer" Enter
		wait_for 10 test -f "$TEST_ROOT/rc"
		if [ "$answer" = n ]; then
			[ "$(cat "$TEST_ROOT/rc")" -eq 1 ]
			[ "$(rows_for "$TEST_ROOT/app")" -eq 1 ]
		else
			[ "$(cat "$TEST_ROOT/rc")" -eq 0 ]
			[ "$(rows_for "$TEST_ROOT/app")" -eq 0 ]
		fi
		tty_kill
	done
}

@test "--json: every command prints the envelope, success or not" {
	mkdir "$TEST_ROOT/app" "$TEST_ROOT/plain"
	run --separate-stderr steroids init --json "$TEST_ROOT/app"
	[ "$status" -eq 0 ]
	[ "$(printf '%s' "$output" | envelope)" = \
	    "{\"path\": \"$TEST_ROOT/app\", \"registered\": true}" ]
	for args in "projects list" "projects list --all" \
	    "projects add $TEST_ROOT/app" "projects disable $TEST_ROOT/app" \
	    "projects enable $TEST_ROOT/app" "projects prune" \
	    "projects prune --dry-run" "config get runner.task_timeout --global" \
	    "config set runner.max_failures 5 --global" \
	    "projects remove $TEST_ROOT/app --yes"; do
		# shellcheck disable=SC2086
		run --separate-stderr steroids $args -j
		[ "$status" -eq 0 ]
		# shellcheck disable=SC2086
		set -- $args
		[ "$(printf '%s' "$output" | envelope_head)" = "True $1 $2" ]
	done
	run --separate-stderr steroids projects add "$TEST_ROOT/plain" --json
	expect_status 3
	[ "$(printf '%s' "$output" | envelope_head)" = "False projects add" ]
	[ "$(printf '%s' "$output" | python3 -c '
import json, sys; e = json.load(sys.stdin)["error"]
print(e["details"]["exit_code"], e["message"] == sys.argv[1])' \
	    "${stderr#steroids: }")" = "3 True" ]
	run --separate-stderr steroids bogus --json
	expect_status 2
	printf '%s' "$output" | envelope >/dev/null
	STEROIDS_JSON=1 run --separate-stderr steroids projects list
	printf '%s' "$output" | envelope >/dev/null
}

@test "modes: 0700 on STEROIDS_HOME and .steroids, 0600 on the DBs, fixed on open" {
	umask 022
	new_project "$TEST_ROOT/app"
	[ "$(mode_of "$STEROIDS_HOME")" = 700 ]
	[ "$(mode_of "$STEROIDS_HOME/steroids.db")" = 600 ]
	[ "$(mode_of "$TEST_ROOT/app/.steroids")" = 700 ]
	[ "$(mode_of "$TEST_ROOT/app/.steroids/steroids.db")" = 600 ]
	chmod 0755 "$STEROIDS_HOME"
	chmod 0644 "$STEROIDS_HOME/steroids.db"
	run steroids projects list
	[ "$status" -eq 0 ]
	[ "$(mode_of "$STEROIDS_HOME")" = 700 ]
	[ "$(mode_of "$STEROIDS_HOME/steroids.db")" = 600 ]
	# -wal and -shm exist while a connection is open.
	coproc HOLD { sqlite3 "$STEROIDS_HOME/steroids.db"; }
	track_pid "$HOLD_PID"
	echo 'SELECT count(*) FROM projects;' >&"${HOLD[1]}"
	read -r -t 10 _ <&"${HOLD[0]}"
	chmod 0644 "$STEROIDS_HOME/steroids.db-wal" "$STEROIDS_HOME/steroids.db-shm"
	run steroids projects add "$TEST_ROOT/app"
	[ "$status" -eq 0 ]
	[ "$(mode_of "$STEROIDS_HOME/steroids.db-wal")" = 600 ]
	[ "$(mode_of "$STEROIDS_HOME/steroids.db-shm")" = 600 ]
	for f in "$STEROIDS_HOME"/* "$TEST_ROOT/app/.steroids"/*; do
		[[ "$(mode_of "$f")" =~ ^[67]00$ ]] || { echo "$f"; false; }
	done
}

@test "re-registration updates last_seen_at and keeps registered_at" {
	new_project "$TEST_ROOT/app"
	sqlite3 "$STEROIDS_HOME/steroids.db" "UPDATE projects SET
	    registered_at = '2001-01-01 00:00:00',
	    last_seen_at = '2001-01-01 00:00:00'"
	run steroids projects list
	[[ "${lines[1]}" == *"days ago" ]]
	run steroids projects add "$TEST_ROOT/app/"
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$STEROIDS_HOME/steroids.db" "SELECT
	    last_seen_at > datetime('now', '-1 hour'),
	    registered_at = '2001-01-01 00:00:00' FROM projects")" = "1|1" ]
	sqlite3 "$STEROIDS_HOME/steroids.db" \
	    "UPDATE projects SET last_seen_at = '2001-01-01 00:00:00'"
	run steroids init "$TEST_ROOT/app"
	[ "$status" -eq 0 ]
	[ "$(sqlite3 "$STEROIDS_HOME/steroids.db" "SELECT count(*) FROM
	    projects WHERE last_seen_at > datetime('now', '-1 hour')")" -eq 1 ]
	[ "$(nrows)" -eq 1 ]
}

# The external drive: a tmpfs under a temp folder stands for it.
@test "prune keeps a project whose filesystem is not mounted" {
	mount_tmpfs "$TEST_ROOT/drive"
	new_project "$TEST_ROOT/drive/proj"
	new_project "$TEST_ROOT/gone"
	unmount "$TEST_ROOT/drive"
	rm -rf "$TEST_ROOT/gone"
	[ ! -e "$TEST_ROOT/drive/proj" ]
	run steroids projects prune --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *unmounted*"$TEST_ROOT/drive/proj"* ]]
	run steroids projects prune --json
	[ "$status" -eq 0 ]
	[ "$(printf '%s' "$output" | envelope | python3 -c '
import json, sys
print(" ".join(sorted(r["action"] for r in json.load(sys.stdin))))')" = \
	    "removed unmounted" ]
	[ "$(rows_for "$TEST_ROOT/drive/proj")" -eq 1 ]
	[ "$(rows_for "$TEST_ROOT/gone")" -eq 0 ]
	run steroids projects prune
	[[ "$output" == *unmounted* ]]
	[ "$(rows_for "$TEST_ROOT/drive/proj")" -eq 1 ]
}

# list tells the unplugged drive from a deleted folder, as prune does.
@test "list shows a project whose filesystem is not mounted as unmounted" {
	mount_tmpfs "$TEST_ROOT/drive"
	new_project "$TEST_ROOT/drive/proj"
	new_project "$TEST_ROOT/gone"
	run steroids projects list
	[[ "$output" == *"$TEST_ROOT/drive/proj"*enabled* ]]
	unmount "$TEST_ROOT/drive"
	rm -rf "$TEST_ROOT/gone"
	run steroids projects list
	[ "$status" -eq 0 ]
	[ "$(printf '%s\n' "$output" | awk -v p="$TEST_ROOT/drive/proj" \
	    '$1 == p { print $2 }')" = unmounted ]
	[ "$(printf '%s\n' "$output" | awk -v p="$TEST_ROOT/gone" \
	    '$1 == p { print $2 }')" = missing ]
	run steroids projects list --json
	[ "$status" -eq 0 ]
	[ "$(printf '%s' "$output" | envelope | python3 -c '
import json, sys
print(" ".join(r["status"] for r in json.load(sys.stdin)["projects"]))')" = \
	    "unmounted missing" ]
}

@test "--version" {
	run --separate-stderr steroids --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^steroids\ [0-9]+\.[0-9]+ ]]
	[ -z "$stderr" ]
}

@test "--help for every command and group exits 0 and writes nothing" {
	local -a cmds
	local line w cmd
	run steroids --help
	[ "$status" -eq 0 ]
	[[ "$output" == usage:* ]]
	# Every command the top-level help lists.
	for line in "${lines[@]}"; do
		[[ "$line" == "  "[a-z]* ]] || continue
		cmd=
		for w in $line; do
			[[ "$w" == [a-z]* ]] || break
			cmd="${cmd:+$cmd }$w"
		done
		cmds+=("$cmd")
	done
	[ "${#cmds[@]}" -ge 9 ]
	cmds+=(projects config)
	for cmd in "${cmds[@]}"; do
		# shellcheck disable=SC2086
		run --separate-stderr steroids $cmd --help
		[ "$status" -eq 0 ] || { echo "$cmd: $status"; false; }
		[[ "$output" == "usage: steroids $cmd"* ]]
		[ -z "$stderr" ]
		# shellcheck disable=SC2086
		run steroids $cmd -h
		[ "$status" -eq 0 ]
	done
	[ ! -e "$STEROIDS_HOME" ]
}

@test "colour only on a terminal, never with NO_COLOR or --no-color" {
	new_project "$TEST_ROOT/app"
	run steroids projects list
	[[ "$output" != *$'\033'* ]]
	{
		printf '%q projects list\necho ==\n' "$STEROIDS"
		printf 'NO_COLOR=1 %q projects list\necho ==\n' "$STEROIDS"
		printf '%q --no-color projects list\necho ==\n' "$STEROIDS"
		printf '%q projects list --no-color\necho ==\n' "$STEROIDS"
		printf 'touch %q\nsleep 60\n' "$TEST_ROOT/done"
	} >"$TEST_ROOT/tty.sh"
	tty_run "$TEST_ROOT/tty.sh"
	wait_for 10 test -f "$TEST_ROOT/done"
	screen=$(tty_screen -e)
	IFS=$'\x01' read -r -d '' first rest <<<"${screen/==/$'\x01'}" || true
	[[ "$first" == *"$TEST_ROOT/app"* ]]
	[[ "$first" == *$'\033['*enabled* ]]
	[[ "$rest" == *"$TEST_ROOT/app"*"$TEST_ROOT/app"*"$TEST_ROOT/app"* ]]
	# tmux may reset attributes at the ends of lines; no colour, though.
	[[ "$rest" != *$'\033['3[0-9]* ]]
}

@test "-q prints nothing on success; -v is accepted" {
	mkdir "$TEST_ROOT/app"
	run --separate-stderr steroids -q init "$TEST_ROOT/app"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	for args in "projects list" "projects list --all" "projects prune" \
	    "projects disable $TEST_ROOT/app" "projects enable $TEST_ROOT/app" \
	    "projects add $TEST_ROOT/app" "projects remove $TEST_ROOT/app --yes"; do
		# shellcheck disable=SC2086
		run --separate-stderr steroids $args --quiet
		[ "$status" -eq 0 ]
		[ -z "$output" ]
		[ -z "$stderr" ]
	done
	[ "$(nrows)" -eq 0 ]
	run steroids -v projects list --verbose
	[ "$status" -eq 0 ]
	# Errors still reach stderr under -q.
	run --separate-stderr steroids -q projects add "$TEST_ROOT/none"
	expect_status 4
}
