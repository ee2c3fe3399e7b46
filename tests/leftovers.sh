#!/bin/sh
# tests/leftovers.sh -- the last test of make check (Makefile.am orders it
# after every other): fails if a process of this build's tests outlived
# them.  Test processes carry top_builddir (AM_TESTS_ENVIRONMENT) and a
# STEROIDS_HOME; those found are named, then killed by PID.  Needs /proc.
set -u
echo "1..1"
builddir=${top_builddir:-}
if [ -z "$builddir" ] || [ ! -d /proc/self ]; then
	echo "ok 1 # SKIP needs /proc and top_builddir (run by make check)"
	exit 0
fi

# This script and the make that runs it are not leftovers.
ancestors=" $$ "
p=$$
while [ "$p" -gt 1 ] 2>/dev/null; do
	p=$(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || break
	[ -n "$p" ] || break
	ancestors="$ancestors$p "
done

scan() {
	for d in /proc/[0-9]*; do
		pid=${d#/proc/}
		case $ancestors in *" $pid "*) continue ;; esac
		env=$({ tr '\0' '\n' <"$d/environ"; } 2>/dev/null) || continue
		printf '%s\n' "$env" | grep -qxF "top_builddir=$builddir" || continue
		printf '%s\n' "$env" | grep -q '^STEROIDS_HOME=' || continue
		echo "$pid"
	done
}

# A process killed by a test's teardown may take a moment to go.
left=$(scan)
tries=0
while [ -n "$left" ] && [ "$tries" -lt 50 ]; do
	sleep 0.2
	tries=$((tries + 1))
	left=$(scan)
done
if [ -z "$left" ]; then
	echo "ok 1 - no process of the tests outlived them"
	exit 0
fi

echo "# processes left behind by the tests (killed now):"
for pid in $left; do
	printf '#   %s: %s (STEROIDS_HOME=%s)\n' "$pid" \
	    "$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | cut -c1-100)" \
	    "$({ tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null |
	    sed -n 's/^STEROIDS_HOME=//p')"
done
for pid in $left; do
	kill -KILL "$pid" 2>/dev/null
done
echo "not ok 1 - processes of the tests outlived them"
