#!/bin/sh
# run.sh -- `make bench`: every row of issue 6 in one run on this machine.
# See bench/README.md.  Knobs (environment):
#   BENCH_N="1 100 1000 10000"  project counts
#   BENCH_SAMPLES=500           reaction samples (agent, floor)
#   BENCH_RESTART_SAMPLES=100   restart samples (agent, floor)
#   BENCH_BASE_SAMPLES=100      inotifywait-loop samples (slow per sample)
#   BENCH_CRON_SAMPLES=30       1 s-period sweep loop samples (N <= 1000)
#   BENCH_IDLE=60               seconds of agent idle measured
#   BENCH_SWEEPS=5              `runners wakeup --dry-run` repetitions
#   BENCH_KEEP=1                keep the work directory
#   BENCH_ONLY="sweep cron"     only these parts (floor inotify agent sweep
#                               cron); default all
#   BENCH_WRITERS="close keep burst"  the agent's reaction rows, by how the
#                               writer holds its connection (writer.c -w)
#   BENCH_BURST=3               commits a sample in the burst rows
#   BENCH_FLOOR_SRC=FILE        the reference floor's source (issue 14),
#                               built with `cc FILE -lsqlite3`, run with
#                               SETTLE=1 beside every agent row; unset: no
#                               reference floor column
set -u
B=${BENCH_BUILDDIR:-$(pwd)}
S=${BENCH_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
NS=${BENCH_N:-"1 100 1000 10000"}
SAMPLES=${BENCH_SAMPLES:-500}
RSAMPLES=${BENCH_RESTART_SAMPLES:-100}
BSAMPLES=${BENCH_BASE_SAMPLES:-100}
CSAMPLES=${BENCH_CRON_SAMPLES:-30}
IDLE=${BENCH_IDLE:-60}
SWEEPS=${BENCH_SWEEPS:-5}
ONLY=${BENCH_ONLY:-"floor inotify agent sweep cron"}
WRITERS=${BENCH_WRITERS:-"close keep burst"}
BURST=${BENCH_BURST:-3}
W=$(mktemp -d /tmp/steroids-bench.XXXXXX) || exit 1
R=$W/raw
mkdir -p "$R"
FAKE=$B/bench/fake-runner
WRITER=$B/bench/writer
PIDS=""

cleanup() {
	for p in $PIDS; do
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
	done
	[ "${BENCH_KEEP:-0}" = 1 ] && echo "work directory kept: $W" ||
	    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { printf '%s\n' "$*" >&2; }

# Is part $1 in BENCH_ONLY?
want() {
	case " $ONLY " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# Start a watcher in its own session so it and its children stop together.
start_bg() {
	setsid "$@" </dev/null >>"$W/watchers.log" 2>&1 &
	BG=$!
	PIDS="$PIDS $BG"
}
stop_bg() {
	kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
	# inotify-loop.sh's group outlived TERM (bash and inotifywait in a
	# pipeline), went on starting runners beside the agent: KILL it.
	sleep 0.2
	kill -KILL -- "-$1" 2>/dev/null
	wait "$1" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $1\$//; s/ $1 / /")
}

# Wait until PID's CPU time stops moving for a second (it has settled);
# settle_pid PID tree: PID's and its check workers' (agent_cpu): the
# agent's first check of every project is the workers' work, ~24 s of it
# at N = 10,000 here, and the agent's own ticks stood still long before.
settle_pid() {
	# local: the caller's $i is the watcher's PID (it was overwritten,
	# and stop_bg then missed the inotifywait loop: it ran on beside
	# the next rows).
	local last=-1 t k
	for k in $(seq 1 120); do
		if [ "${2:-}" = tree ]; then
			kill -0 "$1" 2>/dev/null || return 1
			t=$(agent_cpu "$1")
		else
			t=$(awk '{print $14 + $15}' "/proc/$1/stat" \
			    2>/dev/null) || return 1
		fi
		[ "$t" = "$last" ] && return 0
		last=$t
		sleep 1
	done
}

# CPU ticks of pid and of its live children of the same name (the check
# workers, which do the agent's reads; not its runners).  A worker that
# exited took its ticks along (they are in the agent's cutime with the
# runners'), so this is a lower bound.
agent_cpu() {
	comm=$(cat "/proc/$1/comm")
	for f in /proc/[0-9]*/stat; do
		awk -v p="$1" -v c="($comm)" '$1 == p || ($4 == p && $2 == c) \
		    { print $14 + $15 }' "$f" 2>/dev/null
	done | awk '{ t += $1 } END { print t + 0 }'
}

# VmRSS (KiB) of pid's live children of the same name: its check workers.
worker_rss() {
	comm=$(cat "/proc/$1/comm")
	for f in /proc/[0-9]*/stat; do
		awk -v p="$1" -v c="($comm)" '$4 == p && $2 == c { print $1 }' \
		    "$f" 2>/dev/null
	done | while read -r w; do
		awk '/^VmRSS/ { print $2 }' "/proc/$w/status" 2>/dev/null
	done | awk '{ t += $1 } END { print t + 0 }'
}

# The reference floor of issue 14, in the same command as the agent's rows:
# ref_floor N ROW: "reffloor-N" gets ROW, the samples asked for and the
# floor's summary line (us).
ref_floor() {
	[ -x "$W/reffloor" ] || return 0
	say "N=$1: reference floor ($SAMPLES samples)"
	SETTLE=1 "$W/reffloor" "$SAMPLES" 2>>"$W/watchers.log" |
	    sed "s/^/$2 $SAMPLES /" >>"$R/reffloor-$1"
}

# pid -> "rss_kib hwm_kib fds cpu_ticks vcsw nvcsw threads", all threads.
proc_stats() {
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$1/status")
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$1/status")
	fds=$(ls "/proc/$1/fd" | wc -l)
	cpu=$(awk '{print $14 + $15}' "/proc/$1/stat")
	cs=$(cat /proc/"$1"/task/*/status | awk '
	    /^voluntary_ctxt/ {v += $2} /^nonvoluntary_ctxt/ {n += $2}
	    END {print v, n}')
	th=$(ls "/proc/$1/task" | wc -l)
	echo "$rss $hwm $fds $cpu $cs $th"
}

react() {	# react NAME N SAMPLES [writer flags, over the defaults]
	name=$1 n=$2 k=$3
	shift 3
	"$WRITER" -n "$k" -s 20 -S "$n" -r "$W/results-$n" \
	    -m "$W/mode" -o "$R/$name-$n.tsv" "$@" "$W/list-$n"
}

agent_works() {
	STEROIDS_HOME=$W/probe "$B/steroids-agent" -h 2>&1 |
	    grep -q 'not built yet' && return 1
	[ -x "$B/steroids-agent" ]
}

say "steroids bench: work in $W; N = $NS"
{
	echo "date $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
	echo "nproc $(nproc)"
	echo "kernel $(uname -r)"
	echo "cpu $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "samples $SAMPLES restart $RSAMPLES base $BSAMPLES cron $CSAMPLES idle $IDLE"
	git -C "$S" rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /'
} >"$R/machine"
# The sweep row times the program, not libtool's wrapper script (which
# costs ~10 ms of shell before it): the uninstalled binary and its lib.
SWEEP_BIN=$B/steroids
SWEEP_ENV=
if [ -x "$B/.libs/steroids" ] && [ -d "$B/lib/.libs" ]; then
	SWEEP_BIN=$B/.libs/steroids
	SWEEP_ENV="env LD_LIBRARY_PATH=$B/lib/.libs"
fi
have_agent=0
agent_works && have_agent=1
have_inw=0
command -v inotifywait >/dev/null && have_inw=1
echo "agent $have_agent" >>"$R/machine"
# The reference floor: built from its own source, never copied in here
# (it carries no licence).
if [ -n "${BENCH_FLOOR_SRC:-}" ]; then
	cc -o "$W/reffloor" "$BENCH_FLOOR_SRC" -lsqlite3 ||
	    { say "cannot build $BENCH_FLOOR_SRC"; exit 1; }
	echo "reffloor $BENCH_FLOOR_SRC" >>"$R/machine"
else
	say "BENCH_FLOOR_SRC not set: no reference floor column"
	echo "reffloor none" >>"$R/machine"
fi
echo "inotifywait $have_inw" >>"$R/machine"

for n in $NS; do
	H=$W/home-$n
	mkdir -p "$H"
	chmod 700 "$H"
	say "N=$n: setting up projects"
	STEROIDS_HOME=$H "$B/bench/setup" "$W/projects" "$n" >"$W/list-$n" ||
	    exit 1
	# The setup's writeback (~3.5 GB at N = 10,000) not under the rows:
	# every writer's sync would wait behind it.
	sync
	echo "agent.sweep_interval = 3600" >"$H/config"
	export STEROIDS_HOME="$H"
	export STEROIDS_LOOP_COMMAND="$FAKE $W/results-$n $W/mode"

	if [ -x "$B/bench/floor" ] && want floor; then
		say "N=$n: floor"
		start_bg "$B/bench/floor" "$W/list-$n" "$FAKE" \
		    "$W/results-$n" "$W/mode"
		f=$BG
		sleep 1
		settle_pid "$f"
		react floor-react "$n" "$SAMPLES"
		react floor-restart "$n" "$RSAMPLES" -k
		stop_bg "$f"
	fi

	if [ "$have_inw" = 1 ] && want inotify; then
		say "N=$n: inotifywait + shell loop"
		start_bg "$S/bench/inotify-loop.sh" "$W/list-$n" "$FAKE" \
		    "$W/results-$n" "$W/mode"
		i=$BG
		sleep 2
		settle_pid "$i"
		react inotify-react "$n" "$BSAMPLES"
		stop_bg "$i"
	fi

	if [ "$have_agent" = 1 ] && want agent; then
		say "N=$n: agent"
		STEROIDS_LOOP_COMMAND="$FAKE $W/results-$n $W/mode" \
		    start_bg "$B/steroids-agent" ${BENCH_AGENT_FLAGS:-}
		a=$BG
		sleep 1
		settle_pid "$a" tree
		echo "start $(proc_stats "$a")" >"$R/agent-cost-$n"
		say "N=$n: agent idle ${IDLE}s"
		sleep "$IDLE"
		echo "idle $(proc_stats "$a")" >>"$R/agent-cost-$n"
		for wm in $WRITERS; do
			nm=agent-react
			[ "$wm" = close ] || nm=agent-react-$wm
			ref_floor "$n" "$nm"
			say "N=$n: agent reaction, writer $wm"
			echo "$nm load $(cut -d' ' -f1 /proc/loadavg) cpu0" \
			    "$(agent_cpu "$a")" >>"$R/agent-cpu-$n"
			react "$nm" "$n" "$SAMPLES" -w "$wm" -b "$BURST"
			echo "$nm load $(cut -d' ' -f1 /proc/loadavg) cpu1" \
			    "$(agent_cpu "$a")" >>"$R/agent-cpu-$n"
		done
		echo "reacted $(proc_stats "$a")" >>"$R/agent-cost-$n"
		echo "workers_rss $(worker_rss "$a")" >>"$R/agent-cpu-$n"
		react agent-restart "$n" "$RSAMPLES" -k
		if [ "$n" = 1000 ]; then
			react agent-restart-noprogress "$n" 10 -K -t 10000
		fi
		echo "end $(proc_stats "$a")" >>"$R/agent-cost-$n"
		stop_bg "$a"
	fi

	want sweep && say "N=$n: sweep"
	# Wall to the ms (time's %e has 10 ms steps); peak RSS from time.
	want sweep && for i in $(seq 1 "$SWEEPS"); do
		t0=$(date +%s%N)
		$SWEEP_ENV /usr/bin/time -f '%M' -o "$W/time" "$SWEEP_BIN" \
		    runners wakeup --dry-run --quiet >/dev/null 2>&1
		rc=$?
		t1=$(date +%s%N)
		echo "$(( (t1 - t0) / 1000 )) $(tail -n 1 "$W/time") $rc" |
		    awk '{ printf "%.6f %s %s\n", $1 / 1e6, $2, $3 }' \
		    >>"$R/sweep-$n"
	done

	if [ "$n" -le 1000 ] && [ "$CSAMPLES" -gt 0 ] && want cron; then
		say "N=$n: sweep every 1 s (cron model check)"
		start_bg sh -c "while :; do '$B/steroids' runners wakeup \
		    --quiet; sleep 1; done"
		c=$BG
		# Commits 1.2-2.4 s apart, more than a period (1 s + the
		# sweep): at a random phase of the loop, as the model has
		# it.  20-40 ms after the last runner ended, every commit
		# came just after a sweep and waited a whole period.
		react cron1s "$n" "$CSAMPLES" -t 10000 -s 1200
		stop_bg "$c"
	fi
	unset STEROIDS_HOME
done

mkdir -p "$S/bench/results"
stamp=$(date -u '+%Y%m%dT%H%M%SZ')
python3 "$S/bench/report.py" "$R" "$S/bench/results/bench-$stamp"
