#!/usr/bin/env bats
# cron.bats -- steroids runners cron install|uninstall|status (SPEC 7),
# against tests/cli/fake-crontab placed first in PATH with its table in a
# temp file: the real crontab is never touched.

bats_require_minimum_version 1.5.0

load ../lib

setup() {
	setup_home
	mkdir -p "$TEST_ROOT/bin" "$TEST_ROOT/nocron"
	ln -s "$top_srcdir/tests/cli/fake-crontab" "$TEST_ROOT/bin/crontab"
	export PATH="$TEST_ROOT/bin:$PATH"
	export FAKE_CRONTAB="$TEST_ROOT/crontab"
	MARKER="# steroids: runner wakeup (managed by 'steroids runners cron')"
}

teardown() {
	local p
	sleep 0.1	# a fake runner just spawned records itself
	if [ -f "$TEST_ROOT/fake/runs" ]; then
		for p in $(awk '{ print $3 }' "$TEST_ROOT/fake/runs" | sort -u); do
			track_pid "$p"
		done
	fi
	teardown_home
}

# Our entry, the line after the marker.
entry() {
	grep -A1 -F -x "$MARKER" "$FAKE_CRONTAB" | tail -n 1
}

@test "status with no crontab at all: not installed" {
	run "$STEROIDS" runners cron status
	[ "$status" -eq 0 ]
	[[ "$output" == "not installed"* ]]
	run "$STEROIDS" runners cron status --json
	[ "$status" -eq 0 ]
	[[ "$output" == *'"installed":false'* ]]
	[ ! -e "$FAKE_CRONTAB" ]
}

@test "install: marker and one line, absolute path, --quiet, STEROIDS_HOME" {
	run "$STEROIDS" runners cron install
	[ "$status" -eq 0 ]
	[[ "$output" == Installed* ]]
	[ "$(grep -c -F -x "$MARKER" "$FAKE_CRONTAB")" -eq 1 ]
	line=$(entry)
	bin=$(cd "$(dirname "$STEROIDS")" && pwd -P)/steroids
	[ "$line" = "* * * * * STEROIDS_HOME='$STEROIDS_HOME' '$bin' runners wakeup --quiet" ]
	[ "$(wc -l < "$FAKE_CRONTAB")" -eq 2 ]
	run "$STEROIDS" runners cron status
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = installed ]
	[ "${lines[1]}" = "$line" ]
}

@test "install twice = one entry; other lines kept; uninstall restores them" {
	printf 'MAILTO=me@example.org\n# my backup\n0 3 * * * /usr/bin/backup --all\n' > "$FAKE_CRONTAB"
	cp "$FAKE_CRONTAB" "$TEST_ROOT/orig"
	run "$STEROIDS" runners cron install
	[ "$status" -eq 0 ]
	run "$STEROIDS" runners cron install
	[ "$status" -eq 0 ]
	[[ "$output" == "Already in your crontab"* ]]
	run "$STEROIDS" runners cron install --json
	[[ "$output" == *'"changed":false'* ]]
	[ "$(grep -c -F -x "$MARKER" "$FAKE_CRONTAB")" -eq 1 ]
	[ "$(grep -c 'runners wakeup' "$FAKE_CRONTAB")" -eq 1 ]
	head -n 3 "$FAKE_CRONTAB" | diff "$TEST_ROOT/orig" -
	run "$STEROIDS" runners cron uninstall
	[ "$status" -eq 0 ]
	[[ "$output" == Removed* ]]
	diff "$TEST_ROOT/orig" "$FAKE_CRONTAB"
	run "$STEROIDS" runners cron status
	[[ "$output" == "not installed"* ]]
	# Uninstall again: nothing to do, nothing changed.
	run "$STEROIDS" runners cron uninstall
	[ "$status" -eq 0 ]
	diff "$TEST_ROOT/orig" "$FAKE_CRONTAB"
}

@test "uninstall leaves another tool's wakeup line alone" {
	"$STEROIDS" runners cron install >/dev/null
	printf '*/5 * * * * /opt/other/steroids runners wakeup --quiet\n' >> "$FAKE_CRONTAB"
	[ "$(grep -c 'runners wakeup' "$FAKE_CRONTAB")" -eq 2 ]
	"$STEROIDS" runners cron uninstall >/dev/null
	[ "$(cat "$FAKE_CRONTAB")" = '*/5 * * * * /opt/other/steroids runners wakeup --quiet' ]
}

# The upstream tool's own line: its marker and its entry (bare name, as
# its documentation gives it, or the path it found).
@test "upstream's wakeup line: status names it, install adds no second sweep (exit 6)" {
	printf 'MAILTO=me\n# steroids-runners-wakeup\n* * * * * steroids runners wakeup --quiet\n' > "$FAKE_CRONTAB"
	cp "$FAKE_CRONTAB" "$TEST_ROOT/orig"
	run "$STEROIDS" runners cron status
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "not installed" ]
	[ "${lines[1]}" = "upstream's wakeup line is installed:" ]
	[ "${lines[2]}" = "* * * * * steroids runners wakeup --quiet" ]
	run "$STEROIDS" runners cron status --json
	[[ "$output" == *'"installed":false,"line":null,"upstream":"* * * * * steroids runners wakeup --quiet"'* ]]
	run --separate-stderr "$STEROIDS" runners cron install
	expect_status 6 "*upstream steroids tool's wakeup*steroids runners wakeup --quiet*not adding a second sweep*"
	diff "$TEST_ROOT/orig" "$FAKE_CRONTAB"
	# Its line by absolute path is the same line.
	printf '# steroids-runners-wakeup\n* * * * * /usr/local/bin/steroids runners wakeup --quiet\n' > "$FAKE_CRONTAB"
	run --separate-stderr "$STEROIDS" runners cron install
	expect_status 6
	[ "$(grep -c 'runners wakeup' "$FAKE_CRONTAB")" -eq 1 ]
	# Gone (or only commented out), ours goes in.
	printf '# * * * * * steroids runners wakeup --quiet\n' > "$FAKE_CRONTAB"
	run "$STEROIDS" runners cron install
	[ "$status" -eq 0 ]
	[[ "$output" == Installed* ]]
	run "$STEROIDS" runners cron status
	[ "${lines[0]}" = installed ]
	[[ "$output" != *"upstream's"* ]]
}

@test "ours installed, then upstream's added: status says both" {
	"$STEROIDS" runners cron install >/dev/null
	printf '* * * * * steroids runners wakeup --quiet\n' >> "$FAKE_CRONTAB"
	run "$STEROIDS" runners cron status
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = installed ]
	[ "${lines[2]}" = "upstream's wakeup line is installed:" ]
}

@test "without STEROIDS_HOME set the line carries none; a changed line is replaced" {
	"$STEROIDS" runners cron install >/dev/null
	[[ "$(entry)" == *STEROIDS_HOME=* ]]
	unset STEROIDS_HOME
	run "$STEROIDS" runners cron install
	[ "$status" -eq 0 ]
	[[ "$output" == Installed* ]]
	[[ "$(entry)" != *STEROIDS_HOME* ]]
	[[ "$(entry)" == "* * * * * '/"*"/steroids' runners wakeup --quiet" ]]
	[ "$(grep -c 'runners wakeup' "$FAKE_CRONTAB")" -eq 1 ]
	[ "$(grep -c -F -x "$MARKER" "$FAKE_CRONTAB")" -eq 1 ]
}

@test "crontab missing: a clear error, exit 4" {
	run env PATH="$TEST_ROOT/nocron" "$STEROIDS" runners cron install
	[ "$status" -eq 4 ]
	[[ "$output" == *"crontab(1) not found"* ]]
	run env PATH="$TEST_ROOT/nocron" "$STEROIDS" runners cron status --json
	[ "$status" -eq 4 ]
	[[ "$output" == *'"success":false'* ]]
}

@test "bad action: exit 2" {
	run "$STEROIDS" runners cron frobnicate
	[ "$status" -eq 2 ]
	[[ "$output" == *"install, uninstall or status"* ]]
}

@test "the installed line works from / in cron's environment" {
	mkdir -p "$TEST_ROOT/p"
	new_project "$TEST_ROOT/p"
	sqlite3 "$TEST_ROOT/p/.steroids/steroids.db" \
	    "INSERT INTO tasks (id, title) VALUES ('t1', 'one')"
	"$STEROIDS" runners cron install >/dev/null
	cmd=$(entry)
	cmd=${cmd#'* * * * * '}
	cd /
	run env -i PATH=/usr/bin:/bin HOME="$HOME" \
	    STEROIDS_LOOP_COMMAND="$top_srcdir/tests/cli/fake-runner" \
	    FAKE_RUNNER_DIR="$TEST_ROOT/fake" /bin/sh -c "$cmd"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	wait_for 10 grep -q '^started' "$TEST_ROOT/fake/runs"
	[ "$(cat "$TEST_ROOT"/fake/*.argv)" = "$TEST_ROOT/p" ]
}

@test "a crontab that exits without reading the new table: an error line, not a silent SIGPIPE" {
	# More than a pipe holds, so our write must meet the closed pipe.
	awk 'BEGIN { for (i = 0; i < 3000; i++) printf "# keep line %05d ........................................\n", i }' \
	    >"$FAKE_CRONTAB"
	before=$(cksum <"$FAKE_CRONTAB")
	rm "$TEST_ROOT/bin/crontab"	# the link to fake-crontab
	cat >"$TEST_ROOT/bin/crontab" <<-SH
	#!/bin/sh
	[ "\$1" = - ] || exec "$top_srcdir/tests/cli/fake-crontab" "\$@"
	exec <&-
	echo "crontab: cannot write the table" >&2
	exit 1
	SH
	chmod +x "$TEST_ROOT/bin/crontab"
	run --separate-stderr "$STEROIDS" runners cron install
	[ "$status" -ne 0 ]
	[ "$status" -lt 128 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"cannot write the table"* ]]
	[ "$(cksum <"$FAKE_CRONTAB")" = "$before" ]
}

@test "a table with a NUL byte is refused, not cut short at it" {
	printf '0 1 * * * one\n\0junk\n0 2 * * * two\n' >"$FAKE_CRONTAB"
	cp "$FAKE_CRONTAB" "$TEST_ROOT/before"
	for action in install uninstall; do
		run --separate-stderr "$STEROIDS" runners cron "$action"
		expect_status 1 "*NUL byte*"
		cmp "$FAKE_CRONTAB" "$TEST_ROOT/before"
	done
}
