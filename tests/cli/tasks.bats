#!/usr/bin/env bats
# steroids tasks add|list|update (SPEC 4, 9; issue 3).

bats_require_minimum_version 1.5.0
load ../lib

setup() {
	setup_home
	P="$TEST_ROOT/proj"
	new_project "$P"
}

teardown() {
	teardown_home
}

@test "tasks add, list and update work on the current directory's project" {
	cd "$P"
	run steroids tasks add "write the parser"
	[ "$status" -eq 0 ]
	id=$(pdb "$P" "SELECT id FROM tasks WHERE title = 'write the parser'")
	[ -n "$id" ]
	[ "$(pdb "$P" "SELECT status || ' ' || failure_count FROM tasks")" = "pending 0" ]
	# The creation is audited: from nothing to pending.
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE task_id = '$id' AND from_status IS NULL AND to_status = 'pending'")" -eq 1 ]

	run steroids tasks list
	[ "$status" -eq 0 ]
	[[ "$output" == *"pending"*"write the parser"* ]]

	run steroids tasks update "$id" --status review
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT status FROM tasks WHERE id = '$id'")" = review ]
	[ "$(pdb "$P" "SELECT from_status || '>' || to_status FROM audit WHERE task_id = '$id' ORDER BY id DESC LIMIT 1")" = "pending>review" ]

	# A prefix of the id is enough, as with git.
	run steroids tasks update "${id:0:8}" --status completed
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT status FROM tasks WHERE id = '$id'")" = completed ]
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE task_id = '$id'")" -eq 3 ]
}

@test "every status change writes exactly one audit row; no change, no row" {
	cd "$P"
	steroids tasks add "t" >/dev/null
	id=$(pdb "$P" "SELECT id FROM tasks")
	for s in in_progress review disputed skipped failed pending completed; do
		run steroids tasks update "$id" --status "$s"
		[ "$status" -eq 0 ]
	done
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE task_id = '$id'")" -eq 8 ]
	[ "$(pdb "$P" "SELECT group_concat(to_status, ',') FROM (SELECT to_status FROM audit ORDER BY id)")" = \
	    "pending,in_progress,review,disputed,skipped,failed,pending,completed" ]
	run steroids tasks update "$id" --status completed
	[ "$status" -eq 0 ]
	[[ "$output" == *"already completed"* ]]
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE task_id = '$id'")" -eq 8 ]
}

@test "--project works from another directory and --json prints the envelope" {
	cd "$TEST_ROOT"
	run steroids tasks add "from afar" --section backend --description "two
lines" --project "$P" --json
	[ "$status" -eq 0 ]
	[[ "$output" == '{"success":true,"command":"tasks","subcommand":"add","data":{"id":"'* ]]
	[ "$(pdb "$P" "SELECT t.description || '|' || s.name FROM tasks t JOIN sections s ON s.id = t.section_id")" = "two
lines|backend" ]

	run steroids tasks list --project "$P" --json
	[ "$status" -eq 0 ]
	[[ "$output" == *'"title":"from afar"'*'"status":"pending"'*'"section":"backend"'* ]]
	[[ "$output" == *'"error":null}' ]]

	# A subfolder of a project finds it, as git finds its repository.
	mkdir -p "$P/src/deep"
	cd "$P/src/deep"
	run steroids tasks list --status pending
	[ "$status" -eq 0 ]
	[[ "$output" == *"from afar"* ]]
}

@test "tasks list orders by section position, then creation" {
	cd "$P"
	steroids tasks add "no section" >/dev/null
	steroids tasks add "b1" --section B >/dev/null
	steroids tasks add "a1" --section A >/dev/null
	steroids tasks add "b2" --section B >/dev/null
	run steroids tasks list --json
	[ "$status" -eq 0 ]
	titles=$(printf '%s' "$output" | grep -o '"title":"[^"]*"' | tr '\n' ' ')
	[ "$titles" = '"title":"b1" "title":"b2" "title":"a1" "title":"no section" ' ]
	run steroids tasks list --status completed
	[ "$status" -eq 0 ]
	[[ "$output" == "No tasks with status completed"* ]]
}

@test "unknown status: exit 2, nothing changed" {
	cd "$P"
	steroids tasks add "t" >/dev/null
	id=$(pdb "$P" "SELECT id FROM tasks")
	before=$(pdb "$P" .dump)
	run --separate-stderr steroids tasks update "$id" --status "done"
	expect_status 2 "*unknown status 'done'*"
	run --separate-stderr steroids tasks list --status bogus
	expect_status 2 "*unknown status 'bogus'*"
	run --separate-stderr steroids tasks update "$id"
	expect_status 2 "*--status*"
	[ "$(pdb "$P" .dump)" = "$before" ]
}

@test "unknown task id: exit 4, nothing changed" {
	cd "$P"
	steroids tasks add "t" >/dev/null
	before=$(pdb "$P" .dump)
	run --separate-stderr steroids tasks update no-such-id --status completed
	expect_status 4 "*no task with id 'no-such-id'*"
	run --separate-stderr steroids tasks update no-such-id --status completed --json
	[ "$status" -eq 4 ]
	[[ "$output" == *'"success":false'*'"code":"NOT_FOUND"'* ]]
	[ "$(pdb "$P" .dump)" = "$before" ]
}

@test "empty or too long title: exit 2, nothing added; 500 bytes is fine" {
	cd "$P"
	run --separate-stderr steroids tasks add ""
	expect_status 2 "*title is empty*"
	long=$(printf 'x%.0s' $(seq 501))
	run --separate-stderr steroids tasks add "$long"
	expect_status 2 "*too long*"
	run --separate-stderr steroids tasks add "$(printf 'bad\001title')"
	expect_status 2 "*control character*"
	[ "$(pdb "$P" "SELECT count(*) FROM tasks")" -eq 0 ]
	[ "$(pdb "$P" "SELECT count(*) FROM audit")" -eq 0 ]
	run steroids tasks add "${long:1}"
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT length(title) FROM tasks")" -eq 500 ]
}

@test "--project at a file, a plain folder or outside any project: exit 3" {
	touch "$TEST_ROOT/file"
	mkdir "$TEST_ROOT/plain"
	run --separate-stderr steroids tasks add t --project "$TEST_ROOT/file"
	expect_status 3 "steroids: Not a steroids project: $TEST_ROOT/file (not a directory: $TEST_ROOT/file)"
	run --separate-stderr steroids tasks list --project "$TEST_ROOT/plain"
	expect_status 3 "*Not a steroids project: $TEST_ROOT/plain*"
	run --separate-stderr steroids tasks list --project "$TEST_ROOT/nowhere"
	expect_status 3 "*Not a steroids project*"
	cd "$TEST_ROOT/plain"
	run --separate-stderr steroids tasks add t
	expect_status 3 "*Not a steroids project*"
	[ "$(pdb "$P" "SELECT count(*) FROM tasks")" -eq 0 ]
}

@test "a project owned by another user is refused: exit 5, nothing changed" {
	uid=$(other_uid)
	[ -n "$uid" ] || skip "needs root to create a folder of another uid"
	O="$TEST_ROOT/theirs"
	new_project "$O"
	chown -R "$uid" "$O"
	before=$(pdb "$O" .dump)
	run --separate-stderr steroids tasks add t --project "$O"
	expect_status 5 "*owned by uid $uid*"
	[ "$(pdb "$O" .dump)" = "$before" ]
}

@test "audit rows name who acted: the user, or the handler under its runner's id" {
	cd "$P"
	steroids tasks add "by hand" >/dev/null
	STEROIDS_RUNNER_ID=runner-x steroids tasks add "follow-up" >/dev/null
	id=$(pdb "$P" "SELECT id FROM tasks WHERE title = 'by hand'")
	STEROIDS_RUNNER_ID=runner-x steroids tasks update "$id" --status review >/dev/null
	me=$(id -un)
	[ "$(pdb "$P" "SELECT actor || ' ' || actor_type FROM audit a JOIN tasks t ON t.id = a.task_id WHERE t.title = 'by hand' ORDER BY a.id LIMIT 1")" = "$me human" ]
	[ "$(pdb "$P" "SELECT actor || ' ' || actor_type FROM audit a JOIN tasks t ON t.id = a.task_id WHERE t.title = 'follow-up'")" = "runner-x handler" ]
	[ "$(pdb "$P" "SELECT actor || ' ' || actor_type FROM audit WHERE to_status = 'review'")" = "runner-x handler" ]
}
