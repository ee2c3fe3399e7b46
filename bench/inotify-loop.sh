#!/bin/bash
# inotify-loop.sh -- the baseline a shell user would write: inotifywait -m
# (Debian inotify-tools) on every project's .steroids/, and for each event
# a sqlite3 count, a flock probe and the runner in the background.
#
#	inotify-loop.sh PROJECTS RUNNER [ARG ...]
#
# One check per WAL event, as such scripts do: a check that comes before
# the commit is visible (SPEC 8) finds nothing, and only a later event
# helps.  The check is read-only, so it neither writes nor checkpoints the
# WAL and does not feed its own events.
#
# Events already queued are taken together and each project among them is
# checked once (bash's read -t 0 says whether a line is waiting, without
# waiting).  Checking every event one by one, each check a sqlite3 process
# of ~5 ms, fell behind the ~10 WAL events of every commit: at N = 100 the
# latency grew by ~25 ms a sample and most samples missed (the first run
# of issue 6).  That measured the queue, not the approach.
#
# Only modify events: every commit writes the -wal.  With close_write as
# well, the loop fed itself: its own `sqlite3 -readonly` opens the -wal
# read-write and closes it, which is a close_write on the -wal, so every
# check of a project queued another check of it, forever.  Each project
# ever touched stayed in the loop, and the latency grew with the number
# of projects touched (run A, N >= 100: 92 ms, then 805 ms and misses).
list=$1
shift
dirs=$(mktemp)
trap 'rm -f "$dirs"' EXIT
sed 's|$|/.steroids/|' "$list" >"$dirs"

add() {		# add the project of event line $1 to $batch, once
	case $1 in
	*/.steroids/steroids.db-wal) p=${1%/.steroids/steroids.db-wal} ;;
	*) return ;;
	esac
	case $batch in
	*" $p "*) ;;
	*) batch="$batch$p " ;;
	esac
}

check() {	# check PROJECT RUNNER [ARG ...]
	p=$1
	shift
	n=$(sqlite3 -readonly -cmd '.timeout 250' "$p/.steroids/steroids.db" \
	    "SELECT count(*) FROM tasks WHERE status IN
	    ('pending', 'in_progress', 'review')" 2>/dev/null)
	[ "${n:-0}" -gt 0 ] 2>/dev/null || return
	flock -s -n "$p/.steroids/runner.lock" true || return
	"$@" "$p" </dev/null >/dev/null 2>&1 &
}

stdbuf -oL inotifywait -m -q -e modify --format '%w%f' \
    --fromfile "$dirs" | while IFS= read -r f; do
	batch=" "
	add "$f"
	while read -r -t 0 && IFS= read -r f; do
		add "$f"
	done
	for q in $batch; do
		check "$q" "$@"
	done
done
