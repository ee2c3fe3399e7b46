#!/bin/sh
# soak.sh -- `make soak`: steroids-agent for a minute with many projects
# and a stream of inserts, bare or under valgrind or ASan/UBSan (issue 5:
# "no leak growth and no error").  Not part of `make check`: it takes a
# minute and more.  Linux (it reads the agent's VmRSS and fds in /proc).
#
# Everything lives in a mktemp directory: STEROIDS_HOME and HOME point
# there before anything runs, the projects are made there, and the agent's
# runner is a small script there (through STEROIDS_LOOP_COMMAND) that takes
# the runner lock, marks the pending tasks completed, lingers, and exits.
#
# Knobs (environment):
#   SOAK_WRAPPER=none|valgrind|asan  how the agent runs (default none)
#   SOAK_AGENT=path       the agent binary (asan: one built with
#                         -fsanitize=address,undefined; default the build's)
#   SOAK_AGENT_ARGS="-v"  extra agent arguments (-P: the poll backend)
#   SOAK_SECONDS=60       length of the insert stream
#   SOAK_PROJECTS=200     projects
#   SOAK_INTERVAL=0.2     seconds between single inserts (plus their cost)
#   SOAK_BURST=20         inserts in a burst into one project ...
#   SOAK_BURST_EVERY=10   ... every this many seconds
#   SOAK_SWEEP=20         agent.sweep_interval (sweeps during the stream)
#   SOAK_SETTLE=15        seconds allowed after the stream for the last tasks
#   SOAK_LATE             a task completed later than this after its insert
#                         is a lost wakeup (the sweep picked it up); default
#                         5 s, 15 s under valgrind (see below)
#   SOAK_LINGER=0.1       seconds a runner stays after its UPDATE, so tasks
#                         are committed while runners finish
#   SOAK_RSS_KB           allowed VmRSS growth from the 20 s sample to the
#                         last (default per wrapper, see rss_bound below)
#   SOAK_HUNG=0           more projects that never answer (a FIFO as their
#                         DB): each must stay hung, named in agent.status,
#                         and hold up nothing
#   SOAK_SEED=$$          seed of the project choice (printed, to replay)
#   SOAK_KEEP=1           keep the work directory
# Exit 0 when every check passed, 1 otherwise; the last line says which.
set -u

B=${SOAK_BUILDDIR:-$(pwd)}
WRAPPER=${SOAK_WRAPPER:-none}
AGENT=${SOAK_AGENT:-$B/steroids-agent}
AGENT_ARGS=${SOAK_AGENT_ARGS:--v}
SECONDS_=${SOAK_SECONDS:-60}
NPROJ=${SOAK_PROJECTS:-200}
INTERVAL=${SOAK_INTERVAL:-0.2}
BURST=${SOAK_BURST:-20}
BURST_EVERY=${SOAK_BURST_EVERY:-10}
SWEEP=${SOAK_SWEEP:-20}
SETTLE=${SOAK_SETTLE:-15}
LINGER=${SOAK_LINGER:-0.1}
SEED=${SOAK_SEED:-$$}
HUNG=${SOAK_HUNG:-0}
STEROIDS=$B/steroids
# A lost wakeup waits for the next sweep: up to SOAK_SWEEP (20 s) later,
# so LATE must stay well below it to see most of them.  Bare or under ASan
# a task is done in ~10 ms (p99 < 1 s).  Under valgrind the agent runs some
# 20-50 times slower: a sweep of 200 projects blocks the loop for some
# 5-7 s, and what is inserted meanwhile waits for it (measured: p99 3.7 s,
# max 5.3-6.8 s).
case ${SOAK_WRAPPER:-none} in
valgrind)	LATE=${SOAK_LATE:-15}
		# Its check workers too: a healthy check can take seconds.
		export STEROIDS_AGENT_CHECK_TIMEOUT=${STEROIDS_AGENT_CHECK_TIMEOUT:-20} ;;
*)		LATE=${SOAK_LATE:-5} ;;
esac

say() { printf 'soak: %s\n' "$*"; }
FAILS=0
fail() {
	say "FAIL: $*"
	FAILS=$((FAILS + 1))
}

case $WRAPPER in
none|valgrind|asan) ;;
*)	say "SOAK_WRAPPER must be none, valgrind or asan, not '$WRAPPER'"
	exit 2 ;;
esac
if [ ! -x "$STEROIDS" ] || [ ! -x "$AGENT" ]; then
	say "no $STEROIDS or $AGENT: build first (make soak does)"
	exit 2
fi
for t in sqlite3 flock awk; do
	command -v "$t" >/dev/null || { say "$t is needed"; exit 2; }
done
[ "$WRAPPER" = valgrind ] && ! command -v valgrind >/dev/null &&
    { say "valgrind is not installed"; exit 2; }
[ -r /proc/self/status ] || { say "no /proc: this soak is Linux only"; exit 2; }

# A libtool wrapper script runs the real binary in .libs/: valgrind must
# go through `libtool --mode=execute`, and the ASan check reads that one.
REAL=$AGENT
LIBTOOL_EXEC=
if [ -f "$(dirname "$AGENT")/.libs/$(basename "$AGENT")" ] &&
    grep -q 'libtool' "$AGENT" 2>/dev/null; then
	REAL=$(dirname "$AGENT")/.libs/$(basename "$AGENT")
	LIBTOOL_EXEC="$(dirname "$AGENT")/libtool --mode=execute"
fi
if [ "$WRAPPER" = asan ] && ! grep -aq __asan_init "$REAL"; then
	say "SOAK_WRAPPER=asan: $REAL is not built with -fsanitize=address"
	say "build one: configure --enable-werror CFLAGS=\"-O1 -g" \
	    "-fsanitize=address,undefined -fno-omit-frame-pointer\"" \
	    "LDFLAGS=-fsanitize=address,undefined; then SOAK_AGENT=<it>"
	exit 2
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/steroids-soak.XXXXXX") || exit 1
W=$(cd "$W" && pwd -P)
export STEROIDS_HOME="$W/home" HOME="$W/user"
unset STEROIDS_JSON NO_COLOR STEROIDS_AGENT_POLL
mkdir -p "$STEROIDS_HOME" "$HOME" "$W/p" "$W/live" "$W/run" || exit 1
chmod 700 "$STEROIDS_HOME"
AGENT_PID=		# the process we started (wrapper, valgrind or agent)
APID=			# the agent itself, from agent.status

# Kill what we started, by PID: the agent, and runners still alive (each
# a session leader: its group holds its sqlite3 or sleep).  A runner's
# PID is used only while /proc says it is still that runner.
cleanup() {
	local_p=
	if [ -n "$AGENT_PID" ]; then
		kill -TERM "$AGENT_PID" 2>/dev/null
		sleep 1
		kill -KILL "$AGENT_PID" 2>/dev/null
	fi
	for f in "$W"/run/*; do
		[ -e "$f" ] || continue
		local_p=${f##*/}
		if tr '\0' ' ' <"/proc/$local_p/cmdline" 2>/dev/null |
		    grep -q "$W/runner"; then
			kill -TERM -- "-$local_p" 2>/dev/null ||
			    kill -TERM "$local_p" 2>/dev/null
		fi
	done
	if [ "${SOAK_KEEP:-0}" = 1 ]; then
		say "work directory kept: $W"
	else
		rm -rf "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }

# ---- the runner -------------------------------------------------------
# Two runners of one project alive at once are seen through a marker made
# with mkdir (atomic) when a runner starts and removed just before it
# exits: it spans the runner's whole life, not only the part under the
# lock, and nothing but these runners touches it.  Here only the agent
# starts runners and it tracks each until it reaps it, so a marker found
# taken means the agent started a second runner while its first lived
# (a "locked" exit 6 follows when the first still holds the flock).  It
# cannot fire falsely: the marker goes before the process does.
cat >"$W/runner" <<EOF
#!/bin/sh
# The soak's runner: "runner PROJECT", started by the agent.
for p in "\$@"; do :; done
id=\${p##*/}
: > "$W/run/\$\$"
own=0
if mkdir "$W/live/\$id" 2>/dev/null; then
	own=1
else
	echo "overlap \$(date +%s.%N) \$\$ \$p" >> "$W/overlaps"
fi
done_() {
	[ \$own = 1 ] && rmdir "$W/live/\$id"
	rm -f "$W/run/\$\$"
	exit "\$1"
}
exec 9>>"\$p/.steroids/runner.lock" || done_ 1
if ! flock -n 9; then
	echo "locked \$(date +%s.%N) \$\$ \$p" >> "$W/locked"
	done_ 6
fi
echo "\$\$" > "\$p/.steroids/runner.lock"
echo "started \$(date +%s.%N) \$\$ \$p" >> "$W/runs"
if ! sqlite3 "\$p/.steroids/steroids.db" ".timeout 10000" \\
    "UPDATE tasks SET status = 'completed', updated_at =
    strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE status = 'pending';" \\
    >/dev/null 2>>"$W/runner-errors"; then
	echo "update failed \$\$ \$p" >> "$W/runner-errors"
fi
sleep $LINGER
done_ 0
EOF
chmod +x "$W/runner"
export STEROIDS_LOOP_COMMAND="$W/runner"

# ---- projects ---------------------------------------------------------
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
say "wrapper $WRAPPER, agent $AGENT, $NPROJ projects, ${SECONDS_}s," \
    "seed $SEED, load $LOAD0, work dir $W"
i=0
while [ "$i" -lt "$NPROJ" ]; do
	d=$(printf '%s/p/p%03d' "$W" "$i")
	mkdir -p "$d" && "$STEROIDS" init "$d" >/dev/null ||
	    { say "cannot make project $d"; exit 1; }
	i=$((i + 1))
done
# Hung projects: their DB is a FIFO, and a check of one blocks opening
# it until the agent kills its worker.
i=0
while [ "$i" -lt "$HUNG" ]; do
	d="$W/hung/h$i"
	mkdir -p "$d" && "$STEROIDS" init "$d" >/dev/null &&
	    rm -f "$d/.steroids/steroids.db"* &&
	    mkfifo "$d/.steroids/steroids.db" ||
	    { say "cannot make hung project $d"; exit 1; }
	i=$((i + 1))
done
"$STEROIDS" config set agent.sweep_interval "$SWEEP" --global >/dev/null ||
    exit 1
awk -v n="$NPROJ" -v seed="$SEED" 'BEGIN { srand(seed);
    for (i = 0; i < 100000; i++) printf "%03d\n", int(rand() * n) }' \
    >"$W/rand"

# ---- the agent ----------------------------------------------------------
case $WRAPPER in
none)	set -- "$AGENT" ;;
valgrind)
	# A small freelist (default 20 MB), so freed blocks are reused within
	# the run and VmRSS can level off, as ASan's quarantine below: an
	# agent that frees little per event fills 20 MB slowly, which looks
	# like growth.
	set -- $LIBTOOL_EXEC valgrind --tool=memcheck --leak-check=full \
	    --freelist-vol=2000000 \
	    --show-leak-kinds=definite,indirect \
	    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	    --track-fds=yes --num-callers=30 --log-file="$W/valgrind.%p.log" \
	    "$AGENT" ;;
asan)
	# A small quarantine, so freed memory is reused within the run and
	# VmRSS levels off before the 20 s reference (the default 256 MB, or
	# even 16 MB, fills at ~250 kB/s for a minute and more: growth).
	set -- env ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:quarantine_size_mb=2:log_path=$W/asan" \
	    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$W/asan" \
	    "$AGENT" ;;
esac
# shellcheck disable=SC2086
"$@" $AGENT_ARGS >"$W/agent.log" 2>&1 &
AGENT_PID=$!
t0=$(now_ms)
while [ ! -f "$STEROIDS_HOME/agent.status" ]; do
	if ! kill -0 "$AGENT_PID" 2>/dev/null; then
		fail "the agent did not start"
		cat "$W/agent.log" "$W/valgrind.log" 2>/dev/null | tail -20
		exit 1
	fi
	if [ $(($(now_ms) - t0)) -gt 180000 ]; then
		fail "the agent wrote no agent.status in 180 s"
		exit 1
	fi
	sleep 0.2
done
APID=$(awk '$1 == "pid" { print $2 }' "$STEROIDS_HOME/agent.status")
say "agent ready in $(($(now_ms) - t0)) ms, pid $APID"

# ---- the stream -------------------------------------------------------
# One sqlite3 per insert (a new writer each time, like a CLI or a tool),
# and every BURST_EVERY s a burst: BURST commits back to back into one
# project from one sqlite3.  created_at and updated_at (set by the runner)
# carry milliseconds, so each task's latency is read back from its DB.
sample() {
	rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$APID/status" \
	    2>/dev/null)
	fds=$(ls "/proc/$APID/fd" 2>/dev/null | wc -l)
	[ -n "$rss" ] || return 1
	echo "$1 $rss $fds" >>"$W/samples"
}
NOW_TS="strftime('%Y-%m-%d %H:%M:%f', 'now')"
insert() {	# insert PROJECT SQL-VALUES...
	db="$W/p/p$1/.steroids/steroids.db"
	shift
	if sqlite3 "$db" ".timeout 10000" "$@" >/dev/null 2>>"$W/insert-errors"
	then
		return 0
	fi
	return 1
}
seq_=0
exec 3<"$W/rand"
start=$(now_ms)
next_sample=0
next_burst=$BURST_EVERY
: >"$W/inserted"
while :; do
	t=$(( $(now_ms) - start ))
	[ "$t" -ge $((SECONDS_ * 1000)) ] && break
	if ! kill -0 "$APID" 2>/dev/null; then
		fail "the agent died at $((t / 1000)) s"
		break
	fi
	if [ "$t" -ge $((next_sample * 1000)) ]; then
		sample "$next_sample"
		next_sample=$((next_sample + 5))
	fi
	read -r proj <&3
	if [ "$t" -ge $((next_burst * 1000)) ]; then
		sql=
		k=0
		while [ "$k" -lt "$BURST" ]; do
			seq_=$((seq_ + 1))
			sql="$sql INSERT INTO tasks (id, title, created_at)
			    VALUES ('s$seq_', 'burst', $NOW_TS);"
			k=$((k + 1))
		done
		if insert "$proj" "$sql"; then
			k=$((seq_ - BURST + 1))
			while [ "$k" -le "$seq_" ]; do
				echo "$proj s$k" >>"$W/inserted"
				k=$((k + 1))
			done
		else
			fail "burst into p$proj failed"
		fi
		next_burst=$((next_burst + BURST_EVERY))
		read -r proj <&3
	fi
	seq_=$((seq_ + 1))
	if insert "$proj" "INSERT INTO tasks (id, title, created_at)
	    VALUES ('s$seq_', 'one', $NOW_TS);"; then
		echo "$proj s$seq_" >>"$W/inserted"
	else
		fail "insert into p$proj failed"
	fi
	sleep "$INTERVAL"
done
exec 3<&-
END_T=$(( ($(now_ms) - start) / 1000 ))
kill -0 "$APID" 2>/dev/null && sample "$END_T"

# ---- settle -------------------------------------------------------------
# pending PROJECTS...: how many tasks are not completed yet.
pending() {
	n=0
	for p in "$@"; do
		c=$(sqlite3 "$W/p/p$p/.steroids/steroids.db" ".timeout 10000" \
		    "SELECT count(*) FROM tasks WHERE status != 'completed';")
		n=$((n + ${c:-1}))
	done
	echo "$n"
}
TOUCHED=$(cut -d' ' -f1 "$W/inserted" | sort -u)
settle0=$(now_ms)
# shellcheck disable=SC2086
while [ "$(pending $TOUCHED)" -ne 0 ]; do
	[ $(($(now_ms) - settle0)) -ge $((SETTLE * 1000)) ] && break
	sleep 0.5
done
SETTLED=$(( $(now_ms) - settle0 ))

# ---- checks -------------------------------------------------------------
INSERTED=$(wc -l <"$W/inserted")
: >"$W/tasks"
for p in $TOUCHED; do
	sqlite3 -separator ' ' "$W/p/p$p/.steroids/steroids.db" ".timeout 10000" \
	    "SELECT '$p', id, status, CASE WHEN status = 'completed' THEN
	    printf('%.3f', (julianday(updated_at) - julianday(created_at))
	    * 86400) ELSE '-' END FROM tasks;" >>"$W/tasks"
done
FOUND=$(wc -l <"$W/tasks")
DONE=$(awk '$3 == "completed"' "$W/tasks" | wc -l)
LATE_N=$(awk -v l="$LATE" '$4 != "-" && $4 + 0 > l' "$W/tasks" | wc -l)
LAT=$(awk '$4 != "-" { v[n++] = $4 + 0 } END {
    if (n == 0) { print "- - -"; exit }
    # insertion sort is fine for a few hundred values
    for (i = 1; i < n; i++) for (j = i; j > 0 && v[j-1] > v[j]; j--) {
	t = v[j]; v[j] = v[j-1]; v[j-1] = t }
    printf "%.3f %.3f %.3f\n", v[int(n / 2)], v[int(n * .99)], v[n - 1] }' \
    "$W/tasks")
set -- $LAT
LAT_MED=$1 LAT_P99=$2 LAT_MAX=$3
[ "$FOUND" -eq "$INSERTED" ] ||
    fail "$INSERTED inserts recorded, $FOUND tasks found in the DBs"
if [ "$DONE" -ne "$INSERTED" ]; then
	fail "$((INSERTED - DONE)) of $INSERTED tasks not completed" \
	    "$((SETTLE)) s after the stream (lost wakeups):"
	awk '$3 != "completed"' "$W/tasks" | head -10
fi
if [ "$LATE_N" -ne 0 ]; then
	fail "$LATE_N tasks completed more than $LATE s after their insert:"
	awk -v l="$LATE" '$4 != "-" && $4 + 0 > l' "$W/tasks" | head -10
fi
RUNS=0; [ -f "$W/runs" ] && RUNS=$(wc -l <"$W/runs")
OVERLAPS=0; [ -f "$W/overlaps" ] && OVERLAPS=$(wc -l <"$W/overlaps")
LOCKED=0; [ -f "$W/locked" ] && LOCKED=$(wc -l <"$W/locked")
if [ "$OVERLAPS" -ne 0 ]; then
	fail "$OVERLAPS times a runner started while another runner of its" \
	    "project was alive:"
	head -10 "$W/overlaps"
fi
if [ "$LOCKED" -ne 0 ]; then
	fail "$LOCKED runners found the runner lock taken:"
	head -10 "$W/locked"
fi
if [ -s "$W/runner-errors" ] || [ -s "$W/insert-errors" ]; then
	fail "sqlite3 errors in runners or inserts:"
	cat "$W/runner-errors" "$W/insert-errors" 2>/dev/null | head -10
fi
HUNG_NOW=$(awk '$1 == "hung" { print $2 }' "$STEROIDS_HOME/agent.status" \
    2>/dev/null)
if [ "$HUNG" -gt 0 ] && [ "${HUNG_NOW:-0}" -ne "$HUNG" ]; then
	fail "agent.status names ${HUNG_NOW:-no} hung projects, not $HUNG"
fi
SWEEP_STARTS=$(grep -c 'sweep: .* a runner (pid' "$W/agent.log")
LAST_SWEEP=$(( $(date +%s) - $(awk '$1 == "last_sweep" { print $2 }' \
    "$STEROIDS_HOME/agent.status" 2>/dev/null || echo 0) ))

# VmRSS: the heap should be level once every path ran once (the first
# sweep, a burst, a restart while a runner finishes).  The reference is
# the first sample at or after 20 s; in 40 s the agent starts some 200
# runners and sees some 250 inserts.  Measured on Linux/glibc (200
# projects, 60 s): bare, 0 kB in every run, so 128 kB catches ~0.5 kB kept
# per runner start.  valgrind: +84 and +188 kB (its 20 MB freelist of
# freed blocks and its translations).  ASan with its 2 MB quarantine
# (2026-12-03, one hung project): level from 17 s, +0.6 MB from 20 to
# 90 s (with 16 MB: +9.8 MB to 60 s, level only from ~110 s at +25 MB);
# LSan at exit is the leak check there.
rss_bound() {
	case $WRAPPER in
	none)		echo 128 ;;
	valgrind)	echo 1024 ;;
	asan)		echo 3072 ;;
	esac
}
RSS_BOUND=${SOAK_RSS_KB:-$(rss_bound)}
say "samples (s, VmRSS kB, open fds):"
awk '{ printf "soak:   %4d %8d %4d\n", $1, $2, $3 }' "$W/samples"
REF=$(awk '$1 >= 20 { print; exit }' "$W/samples")
LAST=$(tail -n 1 "$W/samples")
RSS_GROWTH=-
FD_GROWTH=-
if [ -n "$REF" ] && [ "$REF" != "$LAST" ]; then
	set -- $REF $LAST
	RSS_GROWTH=$(($5 - $2))
	FD_GROWTH=$(($6 - $3))
	[ "$RSS_GROWTH" -le "$RSS_BOUND" ] ||
	    fail "VmRSS grew by $RSS_GROWTH kB from $1 s to $4 s" \
	    "(bound $RSS_BOUND kB)"
	# A check holds one project DB open (the DB, -wal, -shm) and a spawn
	# a pipe: 5 fds may be in use at a sample without any leak.
	[ "$FD_GROWTH" -le 5 ] ||
	    fail "open fds grew by $FD_GROWTH from $1 s to $4 s"
else
	fail "no VmRSS samples from 20 s on to compare (SOAK_SECONDS >= 25)"
fi

# ---- stop the agent -----------------------------------------------------
t0=$(now_ms)
if kill -0 "$APID" 2>/dev/null; then
	kill -TERM "$APID"
	while kill -0 "$APID" 2>/dev/null &&
	    [ $(($(now_ms) - t0)) -lt 120000 ]; do
		sleep 0.2
	done
	if kill -0 "$APID" 2>/dev/null; then
		fail "the agent did not exit within 120 s of SIGTERM"
		kill -KILL "$AGENT_PID" "$APID" 2>/dev/null
	fi
else
	fail "the agent was not alive at the end"
fi
wait "$AGENT_PID"
AGENT_RC=$?
AGENT_PID=
STOP_MS=$(( $(now_ms) - t0 ))
[ "$AGENT_RC" -eq 0 ] || fail "the agent exited $AGENT_RC"

WARN=$(grep -c -i 'warn\|error\|fatal' "$W/agent.log")
if [ "$WARN" -ne 0 ]; then
	say "agent log: $WARN warning/error lines, the first ones:"
	grep -i 'warn\|error\|fatal' "$W/agent.log" | head -5
fi
if [ "$HUNG" -gt 0 ]; then
	say "agent log: $(grep -c ': hung (' "$W/agent.log") 'hung' lines" \
	    "for $HUNG hung projects (logged once each)"
	[ "$(grep -c ': hung (' "$W/agent.log")" -eq "$HUNG" ] ||
	    fail "a hung project was logged hung more than once"
fi
VG=
case $WRAPPER in
valgrind)
	# One log per process: the agent's, and those of its forked children:
	# each runner spawn (a header only: it execs, and valgrind does not
	# follow) and the sweep's probers (the agent's code, with their own
	# summary at exit).
	VLOG=$W/valgrind.$APID.log
	grep -q 'ERROR SUMMARY: 0 errors' "$VLOG" 2>/dev/null ||
	    fail "no clean ERROR SUMMARY in the agent's $VLOG"
	NVLOG=0
	for f in "$W"/valgrind.*.log; do
		[ -e "$f" ] || continue
		NVLOG=$((NVLOG + 1))
		if grep -q 'ERROR SUMMARY: [1-9]' "$f"; then
			fail "valgrind found errors (${f##*/}):"
			sed -n '/^==[0-9]*== [A-Z]/,/^==[0-9]*== $/p' "$f" |
			    head -80
		fi
		if grep -Eq '(definitely|indirectly) lost: [1-9]' "$f"; then
			fail "valgrind: leaks (${f##*/}):"
			sed -n '/lost in loss record/,/^==[0-9]*== $/p' "$f" |
			    head -80
			grep -E 'definitely lost|indirectly lost' "$f"
		fi
	done
	VG=$(sed -n 's/.*\(ERROR SUMMARY: [0-9,]* errors\).*/\1/p;
	    s/.*\(in use at exit: .*\)/\1/p;
	    s/.*\(definitely lost: .*\)/\1/p;
	    s/.*\(indirectly lost: .*\)/\1/p;
	    s/.*\(FILE DESCRIPTORS: [0-9]* open[^.]*\).*/\1/p' "$VLOG" |
	    tr -s ' ' | paste -s -d ';' -)
	say "valgrind, agent: $VG; $NVLOG logs checked (the agent and" \
	    "$((NVLOG - 1)) forked children)"
	;;
asan)
	for f in "$W"/asan*; do
		[ -s "$f" ] || continue
		fail "sanitizer report in ${f##*/}:"
		head -60 "$f"
	done
	;;
esac

if [ "$FAILS" -ne 0 ]; then
	say "agent log tail:"
	tail -n 20 "$W/agent.log"
fi
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
say "wrapper=$WRAPPER projects=$NPROJ hung=$HUNG seconds=$END_T inserted=$INSERTED" \
    "completed=$DONE latency_s(median/p99/max)=$LAT_MED/$LAT_P99/$LAT_MAX" \
    "late=$LATE_N runs=$RUNS overlaps=$OVERLAPS locked=$LOCKED" \
    "sweep_starts=$SWEEP_STARTS last_sweep_age_s=$LAST_SWEEP settle_ms=$SETTLED" \
    "rss_growth_kb=$RSS_GROWTH(bound $RSS_BOUND) fd_growth=$FD_GROWTH" \
    "agent_exit=$AGENT_RC stop_ms=$STOP_MS load=$LOAD0->$LOAD1"
if [ "$FAILS" -ne 0 ]; then
	say "FAIL ($FAILS failed checks; seed $SEED)"
	exit 1
fi
say "PASS"
exit 0
