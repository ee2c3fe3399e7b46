#!/usr/bin/env bats
# upstream.bats -- beside the upstream steroids tool (issue 17): its
# registry (version 25) and its project DBs (migration 028 and 007) as
# fixtures built from UPSTREAM.md, our CLI and agent on them; a registry
# we may not write; the upstream tool's command-line habits.

bats_require_minimum_version 1.5.0
load ../lib

FAKE="$top_srcdir/tests/cli/fake-runner"
FX="$top_srcdir/tests/fixtures"

setup() {
	setup_home
	mkdir -p "$STEROIDS_HOME"
	chmod 700 "$STEROIDS_HOME"
	export STEROIDS_LOOP_COMMAND="$FAKE"
	export FAKE_RUNNER_SLEEP=300 FAKE_RUNNER_EXIT=0
	RUNS="$STEROIDS_HOME/fake/runs"
	P="$TEST_ROOT/blog"
}

teardown() {
	local pid
	if [ -f "$RUNS" ]; then
		for pid in $(awk '{ print $3 }' "$RUNS"); do
			track_pid "$pid"
		done
	fi
	teardown_home
}

# upstream_project DIR FIXTURE: a project folder the upstream tool made.
upstream_project() {
	mkdir -p "$1/.steroids"
	chmod 700 "$1/.steroids"
	sqlite3 "$1/.steroids/steroids.db" <"$FX/$2" >/dev/null
}

# The upstream tool's registry, its first project moved to $P (made from
# the 028 fixture), its second (disabled) left where it is, gone.
upstream_registry() {
	sqlite3 "$STEROIDS_HOME/steroids.db" <"$FX/upstream-global-v25.sql" >/dev/null
	upstream_project "$P" upstream-project-028.sql
	gdb "UPDATE projects SET path = '$P' WHERE path = '/home/alice/src/blog';
	    UPDATE runners SET project_path = '$P'"
}

started() {
	[ -f "$RUNS" ] && grep -q '^started' "$RUNS"
}

@test "upstream's registry (v25): list, --json, add, wakeup, runners list, prune" {
	upstream_registry
	run --separate-stderr steroids projects list --all
	[ "$status" -eq 0 ]
	[[ "$output" == *"$P"*enabled*" 1 "* ]]
	[[ "$output" == *"/home/alice/src/shop"*missing* ]]
	# Its version and columns stay; ours are added.
	[ "$(gdb "SELECT value FROM _global_schema WHERE key = 'version'")" = 25 ]
	[ "$(gdb "SELECT count(*) FROM pragma_table_info('projects') WHERE name IN ('mount_point', 'hibernation_tier', 'pending_count')")" = 3 ]

	run steroids projects list --json
	[ "$status" -eq 0 ]
	[ "$(printf '%s' "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)["data"]
p = d["projects"][0]
print(d["count"], len(d["projects"]), p["path"] == sys.argv[1], p["name"],
    p["enabled"], p["registered_at"], p["last_seen_at"], p["pending"])' "$P")" = \
	    "1 1 True None True 2026-03-27 09:14:02 2026-03-27 09:14:02 1" ]

	mkdir "$TEST_ROOT/shop2"
	steroids init --no-register "$TEST_ROOT/shop2" >/dev/null
	run steroids projects add "$TEST_ROOT/shop2"
	[ "$status" -eq 0 ]
	[ "$(gdb "SELECT count(*) FROM projects WHERE path = '$TEST_ROOT/shop2' AND mount_point IS NOT NULL")" = 1 ]

	run steroids runners list
	[ "$status" -eq 0 ]
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	wait_for 10 started
	run steroids projects prune --json
	[ "$status" -eq 0 ]
	[[ "$output" == *'"path":"/home/alice/src/shop","action":"removed"'* ]]
	[ "$(gdb "SELECT count(*) FROM projects")" = 2 ]
	[ "$(gdb "SELECT value FROM _global_schema WHERE key = 'version'")" = 25 ]
}

@test "the agent starts a runner for a task inserted into an upstream-made project" {
	upstream_registry
	pdb "$P" "UPDATE tasks SET status = 'completed'"
	"$STEROIDS" config set agent.sweep_interval 86400 --global >/dev/null
	"$STEROIDS_AGENT" -v >>"$TEST_ROOT/agent.log" 2>&1 &
	track_pid $!
	wait_for 10 test -f "$STEROIDS_HOME/agent.status"
	! started || false
	# As the upstream tool's 'tasks add' writes it.
	pdb "$P" "INSERT INTO tasks (id, title, status, section_id, source_file)
	    VALUES ('u-new', 'From upstream', 'pending', 'sec-a', 'docs/plan.md');
	    INSERT INTO audit (task_id, to_status, actor) VALUES ('u-new', 'pending', 'human:cli')"
	wait_for 10 started
	[ "$(grep -c '^started' "$RUNS")" -eq 1 ]
}

@test "an upstream project at migration 007 (no sections.skipped) is read, not refused, nor changed" {
	upstream_project "$P" upstream-project-007.sql
	before=$(pdb "$P" "SELECT group_concat(sql, ';') FROM sqlite_master")
	steroids projects add "$P" >/dev/null
	run steroids projects list
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == *"$P"*enabled*" 2 "* ]]
	run --separate-stderr steroids tasks list --project "$P"
	[ "$status" -eq 0 ]
	[[ "$output" == *"First, by section"* ]]
	run --separate-stderr steroids tasks add "Ours" --project "$P"
	[ "$status" -eq 0 ]
	set_config "$P" runner.command true
	run steroids loop --project "$P" --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *"First, by section"* ]]
	run steroids runners wakeup --json
	[ "$status" -eq 0 ]
	wait_for 10 started
	[ "$(pdb "$P" "SELECT group_concat(sql, ';') FROM sqlite_master")" = "$before" ]
	[ "$(pdb "$P" "SELECT count(*) FROM _migrations")" = 7 ]
}

@test "our init makes what upstream's tasks add and selection need" {
	mkdir "$P"
	steroids init "$P" >/dev/null
	[ "$(pdb "$P" "SELECT count(*) FROM _migrations")" = 28 ]
	[ "$(pdb "$P" "SELECT value FROM _schema WHERE key = 'version'")" = 28 ]
	# What the upstream tool writes and selects on (UPSTREAM.md).
	pdb "$P" "INSERT INTO sections (id, name, position) VALUES ('s', 'Phase 1', 0);
	    INSERT INTO tasks (id, title, status, section_id, source_file)
	    VALUES ('u1', 'From upstream', 'pending', 's', 'docs/plan.md')"
	[ "$(pdb "$P" "SELECT count(*) FROM tasks t WHERE t.status = 'pending' AND t.is_follow_up = 0 AND t.requires_promotion = 0")" = 1 ]
	run steroids tasks list --project "$P"
	[[ "$output" == *"From upstream"* ]]
	run steroids tasks add "Ours" --project "$P"
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT count(*) FROM audit WHERE actor IS NULL")" = 0 ]
}

@test "a project DB of ours made before is brought to upstream's 028 on the first write" {
	mkdir -p "$P/.steroids"
	chmod 700 "$P/.steroids"
	sqlite3 "$P/.steroids/steroids.db" <"$FX/project-v1.sql"
	steroids projects add "$P" >/dev/null
	run steroids projects list
	[[ "${lines[1]}" == *"$P"*" 1 "* ]]
	[ "$(pdb "$P" "SELECT value FROM _schema WHERE key = 'version'")" = 1 ]
	run steroids tasks add "New" --project "$P"
	[ "$status" -eq 0 ]
	[ "$(pdb "$P" "SELECT value FROM _schema WHERE key = 'version'")" = 28 ]
	[ "$(pdb "$P" "SELECT count(*) FROM _migrations")" = 28 ]
	[ "$(pdb "$P" "SELECT count(*) FROM pragma_table_info('tasks') WHERE name IN ('source_file', 'is_follow_up', 'requires_promotion', 'follow_up_depth', 'dedupe_key')")" = 5 ]
	[ "$(pdb "$P" "SELECT count(*) FROM tasks")" = 3 ]
}

@test "a read-only registry: read commands work, write commands fail with one line" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to remount read-only"
	rm -rf "$STEROIDS_HOME"
	mount_tmpfs "$STEROIDS_HOME"
	chmod 700 "$STEROIDS_HOME"
	upstream_registry
	mount -o remount,ro "$STEROIDS_HOME" || skip "cannot remount read-only"
	run --separate-stderr steroids projects list
	[ "$status" -eq 0 ]
	[[ "$output" == *"$P"*enabled*" 1 "* ]]
	run --separate-stderr steroids projects list --json
	[ "$status" -eq 0 ]
	[[ "$output" == *'"count":1'* ]]
	run --separate-stderr steroids runners list
	[ "$status" -eq 0 ]
	run --separate-stderr steroids projects prune --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *would_remove*"/home/alice/src/shop"* ]]
	mkdir "$TEST_ROOT/q"
	steroids init --no-register "$TEST_ROOT/q" >/dev/null
	run --separate-stderr steroids projects add "$TEST_ROOT/q"
	expect_status 5 "*steroids.db is read-only*"
	run --separate-stderr steroids projects disable "$P"
	expect_status 5 "*read-only*"
	run --separate-stderr steroids projects prune
	expect_status 5 "*read-only*"
}

@test "a read-only registry file (mode 0400, not root): read, not made writable" {
	[ "$(id -u)" -ne 0 ] || skip "root writes a 0400 file anyway"
	upstream_registry
	chmod 0400 "$STEROIDS_HOME/steroids.db"
	run --separate-stderr steroids projects list
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == *"$P"* ]]
	run --separate-stderr steroids projects disable "$P"
	expect_status 5 "*read-only*"
	[ "$(mode_of "$STEROIDS_HOME/steroids.db")" = 400 ]
}

@test "projects add|remove|enable|disable without a path take the current folder" {
	mkdir "$P"
	steroids init --no-register "$P" >/dev/null
	cd "$P"
	run steroids projects add
	[ "$status" -eq 0 ]
	[ "$(gdb "SELECT count(*) FROM projects WHERE path = '$P'")" = 1 ]
	run steroids projects disable
	[ "$status" -eq 0 ]
	[ "$(gdb "SELECT enabled FROM projects WHERE path = '$P'")" = 0 ]
	run steroids projects enable
	[ "$status" -eq 0 ]
	[ "$(gdb "SELECT enabled FROM projects WHERE path = '$P'")" = 1 ]
	run steroids projects remove --yes
	[ "$status" -eq 0 ]
	[ "$(gdb "SELECT count(*) FROM projects")" = 0 ]
	cd "$TEST_ROOT"
	run --separate-stderr steroids projects add
	expect_status 3
}
