#!/bin/bash
# chaos.sh -- `make chaos`: a random fault campaign against the real agent
# and runners (issue 16).  Not part of `make check`: it runs for minutes.
# Linux (it reads /proc); root for the full-disk fault (a tmpfs).
#
# Everything lives in a mktemp directory: STEROIDS_HOME and HOME point
# there, the projects are made there.  The agent starts the real
# `steroids loop` runners; runner.command is a handler script there that
# fails CHAOS_FAIL_PCT % of the time, overruns runner.task_timeout
# CHAOS_OVERRUN_PCT % of the time, and takes a lock of its own per project
# (flock, held by its whole process group): a handler that finds it taken
# records a clash, i.e. two handlers of one project at once.
#
# Every 30-300 ms one fault, chosen by weight:
#   insert_kept   INSERT through a kept connection (a sqlite3 fed by a FIFO)
#   insert_closed INSERT through a new sqlite3 that exits after it
#   tasks_add     steroids tasks add
#   kill_runner   kill -9 of a runner        kill_handler  kill -9 of a handler
#   kill_agent    kill -9 of the agent, which is started again
#   stop_runner   SIGSTOP of a runner for 2-4 s, then SIGCONT
#   wakeup3       three `runners wakeup` at once from cron's environment
#   disable       projects disable, enable again after 0.5-3 s
#   exclusive     a project DB held EXCLUSIVE for 1-4 s
#   fifo_config   a project's .steroids/config a FIFO for 1-4 s
#   nolock_row    an upstream-style runners row with no lock (a live sleep
#                 as its pid), the sleep killed after 1-5 s
#   full_disk     the project on a small tmpfs: the disk filled for 1-4 s
#   max_runners   agent.max_runners 2 <-> 0 (SIGHUP), if the build has it
#   hangfs        a hung FUSE mount (CHAOS_HANGFS, see below)
# Then a quiet drain, and the invariants: no task lost or stuck (each one
# inserted is completed, or failed after runner.max_failures), no clash,
# no runners row of a dead process, the agent still starting a runner
# within CHAOS_REACT_MS of an insert, no zombie child of the agent, agent
# VmRSS level (first third of the samples against the last), and nothing
# left running (every process carrying this run's STEROIDS_HOME ended).
#
# Knobs (environment):
#   CHAOS_SEED=N          the fault sequence (printed first; the same seed
#                         replays the same faults, with their targets and
#                         durations; the handler's outcomes follow it too)
#   CHAOS_SECONDS=60      length of the fault phase
#   CHAOS_PROJECTS=12     projects (one more on the tmpfs when possible)
#   CHAOS_KEPT=3          projects with a kept connection
#   CHAOS_TASK_TIMEOUT=3  runner.task_timeout
#   CHAOS_FAIL_PCT=10 CHAOS_OVERRUN_PCT=2   the handler's misbehaviour
#   CHAOS_DRAIN=120       seconds allowed for the queue to drain after
#   CHAOS_REACT_MS=1000   bound of the last insert's reaction
#   CHAOS_RSS_KB=2048     allowed VmRSS growth, first third to last third
#   CHAOS_W_<FAULT>=n     weight of a fault (upper case), 0 turns it off
#   CHAOS_HANGFS=cmd      hook for a hung FUSE mount: run as
#                         "cmd hang DIR SECONDS" (DIR a project folder that
#                         must hang for SECONDS, then answer again);
#                         unset: the hangfs fault is off
#   CHAOS_KEEP=1          keep the work directory
# Exit 0 when every invariant held, 1 otherwise, 2 when it cannot run.
set -u

B=${CHAOS_BUILDDIR:-$(pwd)}
STEROIDS=$B/steroids
AGENT=$B/steroids-agent
SEED=${CHAOS_SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) % 1000000 ))}
SECS=${CHAOS_SECONDS:-60}
NPROJ=${CHAOS_PROJECTS:-12}
NKEPT=${CHAOS_KEPT:-3}
TTIMEOUT=${CHAOS_TASK_TIMEOUT:-3}
FAIL_PCT=${CHAOS_FAIL_PCT:-10}
OVERRUN_PCT=${CHAOS_OVERRUN_PCT:-2}
DRAIN=${CHAOS_DRAIN:-120}
REACT_MS=${CHAOS_REACT_MS:-1000}
RSS_KB=${CHAOS_RSS_KB:-2048}
MAXFAIL=3

say() { printf 'chaos: %s\n' "$*"; }
say "seed $SEED (replay: CHAOS_SEED=$SEED make chaos)"
RANDOM=$SEED

FAILS=0
fail() {
	say "FAIL: $*"
	FAILS=$((FAILS + 1))
}

if [ ! -x "$STEROIDS" ] || [ ! -x "$AGENT" ]; then
	say "no $STEROIDS or $AGENT: build first (make chaos does)"
	exit 2
fi
for t in sqlite3 flock mkfifo od cksum pgrep; do
	command -v "$t" >/dev/null || { say "$t is needed"; exit 2; }
done
[ -r /proc/self/status ] || { say "no /proc: this campaign is Linux only"; exit 2; }
[ "$NKEPT" -le "$NPROJ" ] || NKEPT=$NPROJ

W=$(mktemp -d "${TMPDIR:-/tmp}/steroids-chaos.XXXXXX") || exit 2
W=$(cd "$W" && pwd -P)
export STEROIDS_HOME="$W/home" HOME="$W/user"
unset STEROIDS_JSON NO_COLOR STEROIDS_LOOP_COMMAND STEROIDS_AGENT_POLL
mkdir -p "$STEROIDS_HOME" "$HOME" "$W/p" "$W/locks" "$W/hpids" \
    "$W/state" "$W/disk" || exit 2
chmod 700 "$STEROIDS_HOME"

AGENT_PID=
DISK=		# the tmpfs mount point, when mounted
BG=()		# fault jobs running in the background
KEPT_FD=()	# write ends of the kept connections' FIFOs
KEPT_PID=()

now_ms() { date +%s%3N; }
rnd() { R=$((RANDOM % $1)); }		# R in [0, $1), in this shell
pick() { rnd $(($2 - $1 + 1)); R=$(($1 + R)); }	# R in [$1, $2]

# Every process of this run carries our STEROIDS_HOME in its environment
# (the agent, runners, handlers and what they start, sqlite3s, sleeps);
# the shell itself and its subshells are left out by PID.
ours() {
	local d p
	OURS=()
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = $$ ] && continue
		[ "$p" = "$BASHPID" ] && continue
		grep -qzxF "STEROIDS_HOME=$STEROIDS_HOME" "$d/environ" \
		    2>/dev/null || continue
		# a subshell of this script: bash with us as its parent
		if [ "$(readlink "$d/exe" 2>/dev/null)" = "$BASH" ] &&
		    awk -v s=$$ '{ exit !($4 == s) }' "$d/stat" 2>/dev/null
		then
			continue
		fi
		OURS+=("$p")
	done
}

# End everything we started, by PID: SIGCONT first (a stopped runner),
# then SIGTERM, then SIGKILL what is left.
cleanup() {
	local p i
	for i in "${!KEPT_FD[@]}"; do
		eval "exec ${KEPT_FD[$i]}>&-"
	done
	[ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null
	for p in "${BG[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	ours
	for p in "${OURS[@]}"; do
		kill -CONT "$p" 2>/dev/null
		kill -TERM "$p" 2>/dev/null
	done
	sleep 1
	ours
	for p in "${OURS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	if [ -n "$DISK" ]; then
		umount "$DISK" 2>/dev/null || umount -l "$DISK" 2>/dev/null
	fi
	if [ "${CHAOS_KEEP:-0}" = 1 ]; then
		say "work directory kept: $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap '' PIPE	# a kept sqlite3 gone: the write fails, we do not die

# ---- weights ------------------------------------------------------------
FAULTS=(insert_kept insert_closed tasks_add kill_runner kill_handler
    kill_agent stop_runner wakeup3 disable exclusive fifo_config nolock_row
    full_disk max_runners hangfs)
declare -A DEFW=([insert_kept]=15 [insert_closed]=20 [tasks_add]=10
    [kill_runner]=6 [kill_handler]=6 [kill_agent]=2 [stop_runner]=4
    [wakeup3]=4 [disable]=4 [exclusive]=4 [fifo_config]=3 [nolock_row]=3
    [full_disk]=2 [max_runners]=2 [hangfs]=2)
declare -A WEIGHT COUNT
OFF=
weight_off() {	# weight_off FAULT WHY
	if [ "${WEIGHT[$1]}" -ne 0 ]; then
		OFF="$OFF $1($2)"
		WEIGHT[$1]=0
	fi
}
for f in "${FAULTS[@]}"; do
	v=CHAOS_W_${f^^}
	WEIGHT[$f]=${!v:-${DEFW[$f]}}
	case ${WEIGHT[$f]} in
	''|*[!0-9]*) say "$v must be a number"; exit 2 ;;
	esac
	COUNT[$f]=0
done
[ -n "${CHAOS_HANGFS:-}" ] || weight_off hangfs "CHAOS_HANGFS unset"

# ---- the handler --------------------------------------------------------
# Its outcome is a function of the seed, the task's title and how often
# that title ran before, so a replay gives each task the same fate.
cat >"$W/handler" <<EOF
#!/bin/sh
p=\$STEROIDS_PROJECT
id=\${p##*/}
t=\$STEROIDS_TASK_TITLE
exec 8>>"$W/locks/\$id"
if ! flock -n 8; then
	echo "clash \$(date +%s.%N) \$id \$t \$\$" >>"$W/clashes"
fi
[ -n "\${CHAOS_SELFTEST:-}" ] && exit 0
echo \$\$ >"$W/hpids/\$\$"
n=\$(grep -c " \$t\$" "$W/tries/\$id" 2>/dev/null)
echo "\$\$ \$t" >>"$W/tries/\$id"
echo "run \$(date +%s.%N) \$id \$t \$STEROIDS_TASK_ACTION" >>"$W/runs"
r=\$(printf '%s %s %s' "$SEED" "\$t" "\$n" | cksum | cut -d' ' -f1)
r=\$((r % 100))
rc=0
if [ \$r -lt $FAIL_PCT ]; then
	sleep 0.1
	rc=1
elif [ \$r -lt $((FAIL_PCT + OVERRUN_PCT)) ]; then
	sleep $((TTIMEOUT + 3))
else
	sleep 0.\$((r % 3 + 1))
fi
[ \$rc = 0 ] && echo "done \$(date +%s.%N) \$id \$t" >>"$W/handled"
rm -f "$W/hpids/\$\$"
exit \$rc
EOF
chmod +x "$W/handler"
mkdir -p "$W/tries"
# The clash check must be able to fire: a handler started while its
# project's lock is held elsewhere records one.
exec 9>"$W/locks/selftest"
flock -n 9 || { say "cannot take a lock for the self-test"; exit 2; }
STEROIDS_PROJECT=$W/selftest STEROIDS_TASK_TITLE=selftest CHAOS_SELFTEST=1 \
    "$W/handler" 9>&-
exec 9>&-
if ! grep -q ' selftest selftest ' "$W/clashes" 2>/dev/null; then
	say "the handler's clash check did not fire on a held lock"
	exit 2
fi
rm -f "$W/clashes" "$W/locks/selftest"

# ---- projects -----------------------------------------------------------
PROJ=()
i=0
while [ "$i" -lt "$NPROJ" ]; do
	PROJ+=("$(printf '%s/p/p%02d' "$W" "$i")")
	i=$((i + 1))
done
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=4m steroids-chaos \
    "$W/disk" 2>/dev/null; then
	DISK=$W/disk
	PROJ+=("$DISK/pdisk")
else
	weight_off full_disk "needs root and a tmpfs"
fi
for d in "${PROJ[@]}"; do
	mkdir -p "$d" && "$STEROIDS" init "$d" >/dev/null ||
	    { say "cannot make project $d"; exit 2; }
done
NALL=${#PROJ[@]}
cfg() { "$STEROIDS" config set "$1" "$2" --global >/dev/null; }
cfg runner.command "$W/handler" && cfg runner.task_timeout "$TTIMEOUT" &&
    cfg runner.max_failures "$MAXFAIL" && cfg runner.heartbeat_interval 2 &&
    cfg agent.sweep_interval 10 && cfg agent.backoff_max 5 ||
    { say "cannot write the config"; exit 2; }
if "$STEROIDS" config set agent.max_runners 0 --global >/dev/null 2>&1; then
	MAXR=1
else
	MAXR=0
	weight_off max_runners "not in this build"
fi

# ---- the agent ----------------------------------------------------------
APID=
start_agent() {
	local t0
	rm -f "$STEROIDS_HOME/agent.status"
	"$AGENT" -v >>"$W/agent.log" 2>&1 &
	AGENT_PID=$!
	t0=$(now_ms)
	while [ ! -f "$STEROIDS_HOME/agent.status" ]; do
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			wait "$AGENT_PID"
			say "the agent did not start (exit $?):"
			tail -n 5 "$W/agent.log"
			return 1
		fi
		[ $(($(now_ms) - t0)) -gt 20000 ] && break
		sleep 0.05
	done
	APID=$AGENT_PID
	echo "$(( $(now_ms) - T0 )) $APID" >>"$W/agent-starts"
}
T0=$(now_ms)
start_agent || { FAILS=1; exit 1; }
say "$NALL projects, ${SECS}s, agent pid $APID, load" \
    "$(cut -d' ' -f1-3 /proc/loadavg), work dir $W"
[ -n "$OFF" ] && say "faults off:$OFF"

# ---- kept connections ---------------------------------------------------
i=0
while [ "$i" -lt "$NKEPT" ]; do
	mkfifo "$W/fifo.$i"
	sqlite3 -batch "${PROJ[$i]}/.steroids/steroids.db" <"$W/fifo.$i" \
	    >/dev/null 2>"$W/kept.$i.err" &
	KEPT_PID+=($!)
	exec {fd}>"$W/fifo.$i"
	KEPT_FD+=("$fd")
	echo ".timeout 10000" >&"$fd"
	i=$((i + 1))
done

# ---- faults -------------------------------------------------------------
SEQ=0
NOW_TS="strftime('%Y-%m-%d %H:%M:%f', 'now')"
insert_sql() { echo "INSERT INTO tasks (id, title, created_at) VALUES (lower(hex(randomblob(16))), '$1', $NOW_TS);"; }
newtitle() { SEQ=$((SEQ + 1)); TITLE=c$SEQ; }
record() { echo "$1 $2 $3" >>"$W/inserted"; }	# project-index title how

# A live process of ours matching an extended regexp on its command line.
# Every fault draws the same random numbers whatever it finds, so the
# sequence of faults a seed gives does not depend on the run's timing.
victim() {	# victim REGEXP: VICTIM is a PID or empty
	local l
	rnd 32768
	mapfile -t l < <(pgrep -f -- "$1")
	VICTIM=
	[ "${#l[@]}" -gt 0 ] || return 1
	VICTIM=${l[$((R % ${#l[@]}))]}
}

f_insert_kept() {
	rnd "$NKEPT"; newtitle
	insert_sql "$TITLE" >&"${KEPT_FD[$R]}" && record "$R" "$TITLE" kept
}
f_insert_closed() {
	rnd "$NALL"; newtitle
	local i=$R
	if sqlite3 "${PROJ[$i]}/.steroids/steroids.db" ".timeout 10000" \
	    "$(insert_sql "$TITLE")" 2>>"$W/insert-errors"; then
		record "$i" "$TITLE" closed
	else
		echo "insert into ${PROJ[$i]} failed" >>"$W/insert-errors"
	fi
}
f_tasks_add() {
	rnd "$NALL"; newtitle
	if "$STEROIDS" tasks add "$TITLE" --project "${PROJ[$R]}" >/dev/null \
	    2>>"$W/add-errors"; then
		record "$R" "$TITLE" add
	fi
}
f_kill_runner() {
	victim "loop --project $W/" && kill -KILL "$VICTIM" 2>/dev/null
}
f_kill_handler() {
	local l
	rnd 32768
	l=("$W"/hpids/*)
	[ -e "${l[0]}" ] || return 0
	VICTIM=${l[$((R % ${#l[@]}))]##*/}
	grep -qz "$W/handler" "/proc/$VICTIM/cmdline" 2>/dev/null &&
	    kill -KILL "$VICTIM" 2>/dev/null
}
f_kill_agent() {
	kill -KILL "$APID" 2>/dev/null
	wait "$APID" 2>/dev/null
	start_agent || fail "the agent did not start again"
}
f_stop_runner() {
	pick 2 4
	local d=$R
	victim "loop --project $W/" || return 0
	[ -e "$W/state/stopped-$VICTIM" ] && return 0
	: >"$W/state/stopped-$VICTIM"
	kill -STOP "$VICTIM" 2>/dev/null
	echo "$(( $(now_ms) - T0 )) stop $VICTIM $d" >>"$W/stops"
	( sleep "$d"; kill -CONT "$VICTIM" 2>/dev/null
	  rm -f "$W/state/stopped-$VICTIM" ) &
	BG+=($!)
}
f_wakeup3() {
	local k
	for k in 1 2 3; do
		env -i PATH=/usr/bin:/bin HOME="$HOME" \
		    STEROIDS_HOME="$STEROIDS_HOME" "$STEROIDS" runners wakeup \
		    --quiet >/dev/null 2>>"$W/wakeup-errors" &
		BG+=($!)
	done
}
f_disable() {
	rnd "$NALL"
	local i=$R
	pick 5 30
	local d=$((R / 10)).$((R % 10))
	[ -e "$W/state/disabled-$i" ] && return 0
	: >"$W/state/disabled-$i"
	( "$STEROIDS" projects disable "${PROJ[$i]}" >/dev/null
	  sleep "$d"
	  "$STEROIDS" projects enable "${PROJ[$i]}" >/dev/null ||
	      echo "enable ${PROJ[$i]} failed" >>"$W/enable-errors"
	  rm -f "$W/state/disabled-$i" ) 2>>"$W/enable-errors" &
	BG+=($!)
}
f_exclusive() {
	rnd "$NALL"
	local i=$R
	pick 1 4
	( { echo ".timeout 10000"; echo "BEGIN EXCLUSIVE;";
	    echo "SELECT count(*) FROM tasks;"; sleep "$R"; echo "COMMIT;"; } |
	  sqlite3 -batch "${PROJ[$i]}/.steroids/steroids.db" >/dev/null ) \
	    2>>"$W/exclusive-errors" &
	BG+=($!)
}
# Readers blocked in open(2) on the FIFO get through when a writer opens
# it; it is unlinked while that writer holds it, so none can block later.
f_fifo_config() {
	rnd "$NALL"
	local i=$R c
	pick 1 4
	c=${PROJ[$i]}/.steroids/config
	[ -e "$c" ] && return 0
	mkfifo "$c" || return 0
	( sleep "$R"; exec 7<>"$c"; rm -f "$c"; exec 7>&- ) &
	BG+=($!)
}
f_nolock_row() {
	rnd "$NALL"
	local i=$R s
	pick 1 5
	# Not our child: the shell would report its SIGKILL on stderr.
	s=$(sh -c 'sleep 30 </dev/null >/dev/null 2>&1 & echo $!')
	sqlite3 "$STEROIDS_HOME/steroids.db" ".timeout 10000" "INSERT INTO
	    runners (id, status, pid, project_path, started_at, heartbeat_at)
	    VALUES ('chaos-$s', 'running', $s, '${PROJ[$i]}',
	    datetime('now'), datetime('now'));" 2>>"$W/nolock-errors"
	( sleep "$R"; kill -KILL "$s" 2>/dev/null ) &
	BG+=($!)
}
f_full_disk() {
	pick 1 4
	[ -e "$W/state/full" ] && return 0
	: >"$W/state/full"
	( dd if=/dev/zero of="$DISK/.fill" bs=4096 2>/dev/null
	  sleep "$R"; rm -f "$DISK/.fill" "$W/state/full" ) &
	BG+=($!)
}
MAXR_ON=0
MAXR_SINCE=0
MAXR_SEEN=0
f_max_runners() {
	MAXR_ON=$((1 - MAXR_ON))
	MAXR_SINCE=$(now_ms)
	cfg agent.max_runners $((MAXR_ON * 2)) && kill -HUP "$APID" 2>/dev/null
}
# With the limit on for 3 s (runners from before it may finish their
# task), never more than 2 runners alive.
count_runners() {
	local l
	[ "$MAXR_ON" = 1 ] && [ $(($(now_ms) - MAXR_SINCE)) -ge 3000 ] ||
	    return 0
	mapfile -t l < <(pgrep -f -- "loop --project $W/")
	[ "${#l[@]}" -gt "$MAXR_SEEN" ] && MAXR_SEEN=${#l[@]}
}
f_hangfs() {
	rnd "$NALL"
	pick 1 4
	"$CHAOS_HANGFS" hang "${PROJ[$R]}" "$R" >>"$W/hangfs.log" 2>&1 &
	BG+=($!)
}

TOTALW=0
for f in "${FAULTS[@]}"; do
	TOTALW=$((TOTALW + WEIGHT[$f]))
done
[ "$TOTALW" -gt 0 ] || { say "every fault weight is 0"; exit 2; }

# VmRSS of the agent now, and the largest runner count seen with a limit.
sample() {
	local rss
	rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$APID/status" 2>/dev/null)
	[ -n "$rss" ] && echo "$(( $(now_ms) - T0 )) $rss $APID" >>"$W/samples"
}

NFAULTS=0
start=$(now_ms)
next_sample=0
while :; do
	t=$(( $(now_ms) - start ))
	[ "$t" -ge $((SECS * 1000)) ] && break
	if [ "$t" -ge "$next_sample" ]; then
		sample
		count_runners
		next_sample=$((next_sample + 1000))
		# reap finished background jobs, keep the list short
		keep=()
		for p in "${BG[@]}"; do
			kill -0 "$p" 2>/dev/null && keep+=("$p")
		done
		BG=("${keep[@]}")
	fi
	kill -0 "$APID" 2>/dev/null || { fail "the agent died by itself"; \
	    tail -n 5 "$W/agent.log"; start_agent; }
	rnd "$TOTALW"
	acc=0
	for f in "${FAULTS[@]}"; do
		acc=$((acc + WEIGHT[$f]))
		[ "$R" -lt "$acc" ] && break
	done
	echo "$t $f" >>"$W/faults"
	"f_$f"
	COUNT[$f]=$((COUNT[$f] + 1))
	NFAULTS=$((NFAULTS + 1))
	pick 30 300
	sleep "0.$(printf '%03d' "$R")"
done
FAULT_S=$(( ($(now_ms) - start) / 1000 ))
line=
for f in "${FAULTS[@]}"; do
	[ "${COUNT[$f]}" -gt 0 ] && line="$line $f=${COUNT[$f]}"
done
say "$NFAULTS faults in ${FAULT_S}s:$line"

# ---- quiet: every fault undone ------------------------------------------
for p in "${BG[@]}"; do
	wait "$p" 2>/dev/null
done
BG=()
[ "$MAXR_ON" = 1 ] && f_max_runners
for i in "${!KEPT_FD[@]}"; do
	echo ".quit" >&"${KEPT_FD[$i]}"
	eval "exec ${KEPT_FD[$i]}>&-"
	wait "${KEPT_PID[$i]}"
done
KEPT_FD=()
for i in "${!PROJ[@]}"; do
	[ -p "${PROJ[$i]}/.steroids/config" ] && fail "a FIFO config was left"
done
kill -0 "$APID" 2>/dev/null || start_agent

# ---- drain ----------------------------------------------------------------
open_tasks() {	# how many tasks are not done (nor failed for good)
	local n=0 c d
	for d in "${PROJ[@]}"; do
		c=$(sqlite3 "$d/.steroids/steroids.db" ".timeout 10000" \
		    "SELECT count(*) FROM tasks WHERE status NOT IN
		    ('completed', 'failed');")
		n=$((n + ${c:-1}))
	done
	OPEN=$n
}
d0=$(now_ms)
while open_tasks; [ "$OPEN" -gt 0 ]; do
	[ $(($(now_ms) - d0)) -ge $((DRAIN * 1000)) ] && break
	sleep 1
	[ $(( ($(now_ms) - d0) % 10000 )) -lt 1000 ] && sample
done
DRAINED_MS=$(( $(now_ms) - d0 ))
sample

# ---- invariants -----------------------------------------------------------
: >"$W/tasks"
for i in "${!PROJ[@]}"; do
	sqlite3 -separator ' ' "${PROJ[$i]}/.steroids/steroids.db" \
	    ".timeout 10000" "SELECT '$i', title, status, failure_count
	    FROM tasks;" >>"$W/tasks"
done
INSERTED=$(wc -l <"$W/inserted")
LOST=$(awk 'NR == FNR { have[$1 " " $2] = 1; next }
    !(($1 " " $2) in have)' "$W/tasks" "$W/inserted" | wc -l)
[ "$LOST" -eq 0 ] || { fail "$LOST inserted tasks are not in their DB:"; \
    awk 'NR == FNR { have[$1 " " $2] = 1; next }
    !(($1 " " $2) in have)' "$W/tasks" "$W/inserted" | head -5; }
DONE=$(awk '$3 == "completed"' "$W/tasks" | wc -l)
FAILED=$(awk -v m=$MAXFAIL '$3 == "failed" && $4 >= m' "$W/tasks" | wc -l)
STUCK=$(awk -v m=$MAXFAIL '!($3 == "completed" || ($3 == "failed" &&
    $4 >= m))' "$W/tasks" | wc -l)
if [ "$STUCK" -ne 0 ]; then
	fail "$STUCK tasks neither completed nor failed after ${DRAIN}s:"
	awk -v m=$MAXFAIL '!($3 == "completed" || ($3 == "failed" &&
	    $4 >= m))' "$W/tasks" | head -5
fi
CLASHES=0; [ -f "$W/clashes" ] && CLASHES=$(wc -l <"$W/clashes")
[ "$CLASHES" -eq 0 ] || { fail "$CLASHES times two handlers of one" \
    "project ran at once:"; head -5 "$W/clashes"; }
# at-least-once: a title whose handler finished with 0 more than once
RERUN=$(awk '$1 == "done" { n[$4]++ } END { c = 0; for (t in n)
    if (n[t] > 1) c++; print c }' "$W/handled" 2>/dev/null || echo 0)
RUNS=$(wc -l <"$W/runs" 2>/dev/null || echo 0)
for f in insert add kept.0 enable exclusive nolock wakeup; do
	for e in "$W/$f"*errors "$W/$f.err"; do
		[ -s "$e" ] && say "note: ${e##*/}: $(wc -l <"$e") lines," \
		    "first: $(head -n 1 "$e")"
	done
done
for i in "${!KEPT_PID[@]}"; do
	[ -s "$W/kept.$i.err" ] && fail "kept connection $i: $(head -n 1 \
	    "$W/kept.$i.err")"
done

# No row of a dead process: the agent removes a runner's row when it
# exits, the sweep every 10 s; give it two sweeps.
dead_rows() {
	local id pid n=0
	DEADROWS=
	while read -r id pid; do
		[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && continue
		n=$((n + 1))
		DEADROWS="$DEADROWS $id:$pid"
	done < <(sqlite3 -separator ' ' "$STEROIDS_HOME/steroids.db" \
	    ".timeout 10000" "SELECT id, pid FROM runners;")
	NDEAD=$n
}
t1=$(now_ms)
while dead_rows; [ "$NDEAD" -gt 0 ] && [ $(($(now_ms) - t1)) -lt 25000 ]; do
	sleep 1
done
[ "$NDEAD" -eq 0 ] || fail "$NDEAD runners rows of dead processes:$DEADROWS"

# The agent still reacts: one insert into an idle project, until its
# task is claimed.  The best of three (each in another project), so one
# slow exec on a loaded machine does not decide it.
REACTS=
BEST=999999
for k in 0 1 2; do
	i=$(( (NKEPT + k) % NALL ))
	newtitle
	t1=$(now_ms)
	sqlite3 "${PROJ[$i]}/.steroids/steroids.db" ".timeout 10000" \
	    "$(insert_sql "$TITLE")"
	record "$i" "$TITLE" react
	while [ "$(sqlite3 "${PROJ[$i]}/.steroids/steroids.db" \
	    ".timeout 10000" "SELECT status FROM tasks WHERE title =
	    '$TITLE';")" = pending ]; do
		[ $(($(now_ms) - t1)) -gt 10000 ] && break
		sleep 0.01
	done
	ms=$(($(now_ms) - t1))
	REACTS="$REACTS ${ms}ms"
	[ "$ms" -lt "$BEST" ] && BEST=$ms
	sleep 0.5
done
[ "$BEST" -le "$REACT_MS" ] || fail "the agent took ${BEST} ms at best" \
    "to start on a new task (bound $REACT_MS ms):$REACTS"

# Zombies: children of the agent it has not reaped.
ZOMBIES=$(awk -v a="$APID" '$3 == "Z" && $4 == a' /proc/[0-9]*/stat \
    2>/dev/null | wc -l)
[ "$ZOMBIES" -eq 0 ] || fail "$ZOMBIES zombie children of the agent"

# VmRSS: mean of the first third of the samples against the last third
# (across agent restarts: a new agent starts lower, so growth still shows).
RSS=$(awk '{ v[n++] = $2 } END { if (n < 3) { print "- - -"; exit }
    k = int(n / 3); for (i = 0; i < k; i++) { a += v[i]; b += v[n - 1 - i] }
    printf "%d %d %d\n", a / k, b / k, b / k - a / k }' "$W/samples")
read -r RSS_A RSS_B RSS_G <<<"$RSS"
if [ "$RSS_G" != - ] && [ "$RSS_G" -gt "$RSS_KB" ]; then
	fail "agent VmRSS grew from $RSS_A to $RSS_B kB (bound +$RSS_KB kB)"
fi
[ "$MAXR_SEEN" -le 2 ] || fail "$MAXR_SEEN runners alive at once with" \
    "agent.max_runners 2"
AGENTS=$(wc -l <"$W/agent-starts")
WARN=$(grep -c -i 'warn\|error\|fatal' "$W/agent.log")

# Stop the agent, end what is left, and check that nothing survived.
kill -TERM "$APID" 2>/dev/null
wait "$APID" 2>/dev/null
AGENT_PID=
ours
LEFT_BEFORE=${#OURS[@]}
cleanup_quiet() {
	local p
	for p in "${OURS[@]}"; do kill -CONT "$p" 2>/dev/null; kill -TERM "$p" 2>/dev/null; done
	sleep 1
	ours
	for p in "${OURS[@]}"; do kill -KILL "$p" 2>/dev/null; done
	sleep 0.2
	ours
}
[ "$LEFT_BEFORE" -gt 0 ] && say "after the agent stopped, $LEFT_BEFORE" \
    "processes of this run still ran (idle runners are expected to have" \
    "exited): $(for p in "${OURS[@]}"; do tr '\0' ' ' <"/proc/$p/cmdline" \
    2>/dev/null; echo ';'; done | head -c 300)"
cleanup_quiet
[ "${#OURS[@]}" -eq 0 ] || fail "${#OURS[@]} processes survived SIGKILL:" \
    "${OURS[*]}"

say "seed=$SEED seconds=$FAULT_S faults=$NFAULTS projects=$NALL" \
    "inserted=$INSERTED completed=$DONE failed=$FAILED stuck=$STUCK" \
    "lost=$LOST clashes=$CLASHES handler_runs=$RUNS reruns_after_done=$RERUN" \
    "drain_ms=$DRAINED_MS dead_rows=$NDEAD react=${REACTS# }" \
    "zombies=$ZOMBIES rss_kb(first/last third)=$RSS_A/$RSS_B" \
    "agents=$AGENTS agent_log_warnings=$WARN" \
    "max_runners=$([ "$MAXR" = 1 ] && echo "on(most_alive=$MAXR_SEEN)" ||
    echo unsupported)" \
    "load=$(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$FAILS" -ne 0 ]; then
	say "FAIL ($FAILS failed checks; replay: CHAOS_SEED=$SEED" \
	    "CHAOS_SECONDS=$SECS make chaos)"
	exit 1
fi
say "PASS (seed $SEED)"
exit 0
