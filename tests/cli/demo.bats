#!/usr/bin/env bats
# demo.bats -- contrib/demo.sh, the README quick start's main job, works
# from the build root, cleans up after itself, and fails loudly.

bats_require_minimum_version 1.5.0
load "${top_srcdir:-$BATS_TEST_DIRNAME/../..}/tests/lib"

setup() {
	setup_home
	export TMPDIR="$TEST_ROOT/tmp"
	mkdir "$TMPDIR"
}

teardown() {
	teardown_home
}

@test "demo.sh from the build root: the agent runs the demo's tasks, all cleaned up" {
	cd "${top_builddir:?}"
	run --separate-stderr env -u STEROIDS sh "$top_srcdir/contrib/demo.sh"
	[ "$status" -eq 0 ] || { echo "$output$stderr"; false; }
	[ -z "$stderr" ]
	[[ "$output" == *"$ steroids init --name demo $TMPDIR/steroids-demo-project."* ]]
	[[ "$output" =~ $'\n'"$TMPDIR"/steroids-demo-project\.[^\ ]+\ +enabled ]]
	[[ "$output" == *"demo: OK"* ]]
	# The agent started a runner that ran the handler for both tasks.
	[[ "$output" =~ [0-9a-f]{8}\ +completed\ +0\ +-\ +write\ the\ README ]]
	[[ "$output" =~ [0-9a-f]{8}\ +completed\ +0\ +-\ +ship\ it ]]
	[[ "$output" == *$'\ndid: write the README\n'* ]]
	[[ "$output" == *$'\ndid: ship it\n'* ]]
	# No agent or runner of the demo is left.
	[ -z "$(ps -e -o args= | grep -F "$TMPDIR/steroids-demo" | grep -v grep)" ]
	# Its temporary folders are gone; our own STEROIDS_HOME was not touched.
	[ -z "$(ls -A "$TMPDIR")" ]
	[ ! -e "$STEROIDS_HOME" ]
}

@test "demo.sh with STEROIDS from any directory" {
	cd "$TEST_ROOT"
	run --separate-stderr sh "$top_srcdir/contrib/demo.sh"
	[ "$status" -eq 0 ]
	[[ "$output" == *"demo: OK"* ]]
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "demo.sh fails with one line when there is no binary" {
	cd "$TEST_ROOT"
	run --separate-stderr env -u STEROIDS sh "$top_srcdir/contrib/demo.sh"
	[ "$status" -ne 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"build first"* ]]
	STEROIDS=/nonexistent/steroids run sh "$top_srcdir/contrib/demo.sh"
	[ "$status" -ne 0 ]
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "demo.sh fails and cleans up when a step fails" {
	cat >"$TEST_ROOT/broken" <<-'SH'
	#!/bin/sh
	[ "$1" = init ] && { echo "steroids: broken on purpose" >&2; exit 5; }
	exec "$REAL_STEROIDS" "$@"
	SH
	chmod +x "$TEST_ROOT/broken"
	# shellcheck disable=SC2097,SC2098 # the script reads both
	REAL_STEROIDS=$STEROIDS STEROIDS="$TEST_ROOT/broken" \
	    run --separate-stderr sh "$top_srcdir/contrib/demo.sh"
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"broken on purpose"* ]]
	[[ "$output" != *"demo: OK"* ]]
	[ -z "$(ls -A "$TMPDIR")" ]
}
