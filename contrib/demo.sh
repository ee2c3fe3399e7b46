#!/bin/sh
# demo.sh -- the README's quick start: make a throwaway project, register it
# in a throwaway STEROIDS_HOME, list it, clean up.  Touches nothing of yours.
#
# Run from the source (or build) root after `make`, or set STEROIDS to the
# steroids binary.  Exits non-zero if any step fails.
set -eu

steroids=${STEROIDS:-./steroids}
case $steroids in
/*)	;;
*)	steroids=$(pwd)
	steroids=${steroids%/}/${STEROIDS:-./steroids} ;;
esac
if [ ! -f "$steroids" ] || [ ! -x "$steroids" ]; then
	echo "demo.sh: no steroids binary at $steroids: build first" \
	    "(./configure && make) or set STEROIDS" >&2
	exit 1
fi

home=
project=
cleanup() {
	[ -n "$home" ] && rm -rf "$home"
	[ -n "$project" ] && rm -rf "$project"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT HUP TERM

home=$(mktemp -d "${TMPDIR:-/tmp}/steroids-demo-home.XXXXXX")
project=$(mktemp -d "${TMPDIR:-/tmp}/steroids-demo-project.XXXXXX")
STEROIDS_HOME=$home
export STEROIDS_HOME
unset STEROIDS_JSON

# Show each command as a user would type it, then run it.
run() {
	printf '$ steroids %s\n' "$*"
	"$steroids" "$@"
}

echo "steroids demo: STEROIDS_HOME=$home, project $project (both temporary)"
echo
run --version
run init --name demo "$project"
run projects list
echo

# Check what the list said, rather than trusting the exit codes alone.
listed=$("$steroids" projects list --json)
case $listed in
*'"success":true'*"$(basename "$project")"*) ;;
*)
	echo "demo.sh: the project is not in 'steroids projects list'" >&2
	exit 1
	;;
esac
[ -f "$project/.steroids/steroids.db" ] || {
	echo "demo.sh: init made no $project/.steroids/steroids.db" >&2
	exit 1
}
echo "demo: OK -- the project was initialised, registered and listed;"
echo "removing $home and $project"
