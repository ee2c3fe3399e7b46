#!/bin/sh
# demo.sh -- the README's quick start: make a throwaway project, register it
# in a throwaway STEROIDS_HOME, start the agent, add tasks and watch the
# agent start a runner that does them, clean up.  Touches nothing of yours.
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

agent=${steroids%/*}/steroids-agent
home=
project=
agent_pid=
cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid"
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
	printf '$ steroids'
	for a; do
		case $a in
		*[!A-Za-z0-9_./=-]*) printf " '%s'" "$a" ;;
		*) printf ' %s' "$a" ;;
		esac
	done
	printf '\n'
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

# The agent: started in the background here (a service in real life), it
# sees the new tasks within milliseconds and starts a runner for them.
run config set --project "$project" runner.command \
    'echo "did: $STEROIDS_TASK_TITLE"'
printf '$ steroids-agent &\n'
"$agent" 2>"$home/agent.log" &
agent_pid=$!
i=0
until "$steroids" agent status >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -gt 100 ] || ! kill -0 "$agent_pid" 2>/dev/null; then
		echo "demo.sh: the agent did not start:" >&2
		cat "$home/agent.log" >&2
		exit 1
	fi
	sleep 0.1
done
run tasks add --project "$project" "write the README"
run tasks add --project "$project" "ship it"
i=0
while "$steroids" tasks list --project "$project" --status pending \
    --json | grep -q '"title"'; do
	i=$((i + 1))
	if [ "$i" -gt 100 ]; then
		echo "demo.sh: no runner did the tasks within 10 s" >&2
		cat "$home/agent.log" >&2
		exit 1
	fi
	sleep 0.1
done
sleep 0.5
run tasks list --project "$project"
echo
echo "The runner's log ($project/.steroids/logs/runner.log):"
cat "$project/.steroids/logs/runner.log"
echo
echo "demo: OK -- the project was registered, and the agent started a runner"
echo "that did its tasks; removing $home and $project"
