#!/bin/sh
# inotify-loop.sh -- the baseline a shell user would write: inotifywait -m
# (Debian inotify-tools) on every project's .steroids/, and for each event
# a sqlite3 count, a flock probe and the runner in the background.
#
#	inotify-loop.sh PROJECTS RUNNER [ARG ...]
#
# One check per event on the WAL, as such scripts do: a check that comes
# before the commit is visible (SPEC 8) finds nothing, and only a later
# event (the writer closing the WAL) helps.  The check is read-only, so it
# neither writes nor checkpoints the WAL and does not feed its own events.
list=$1
shift
dirs=$(mktemp)
trap 'rm -f "$dirs"' EXIT
sed 's|$|/.steroids/|' "$list" >"$dirs"
stdbuf -oL inotifywait -m -q -e modify,close_write --format '%w%f' \
    --fromfile "$dirs" | while IFS= read -r f; do
	case $f in
	*/.steroids/steroids.db-wal) p=${f%/.steroids/steroids.db-wal} ;;
	*) continue ;;
	esac
	n=$(sqlite3 -readonly -cmd '.timeout 250' "$p/.steroids/steroids.db" \
	    "SELECT count(*) FROM tasks WHERE status IN
	    ('pending', 'in_progress', 'review')" 2>/dev/null)
	[ "${n:-0}" -gt 0 ] 2>/dev/null || continue
	flock -s -n "$p/.steroids/runner.lock" true || continue
	"$@" "$p" </dev/null >/dev/null 2>&1 &
done
