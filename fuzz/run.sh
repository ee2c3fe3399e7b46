#!/bin/sh
# fuzz/run.sh -- make fuzz: build each libFuzzer target with clang
# (ASan, UBSan) against the library's sources and run it over its corpus.
#
# Knobs: FUZZ_SECONDS (per target, default 20), FUZZ_TARGETS (default all),
# FUZZ_CC (default clang), FUZZ_ARGS (more libFuzzer flags), FUZZ_BUILD_ONLY=1.
# New inputs a run finds go to $FUZZ_BUILDDIR/fuzz-out/corpus/<target>, not
# into the source tree; copy the ones worth keeping into fuzz/corpus/.
set -eu

: "${FUZZ_SRCDIR:?}" "${FUZZ_BUILDDIR:?}"
FUZZ_CC=${FUZZ_CC:-clang}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_TARGETS=${FUZZ_TARGETS:-"config paths args agent_status cron globaldb projectdb starts"}
FUZZ_CFLAGS=${FUZZ_CFLAGS:-}
FUZZ_LIBS=${FUZZ_LIBS:-"-lsqlite3 -lev -lbsd"}

if ! command -v "$FUZZ_CC" >/dev/null 2>&1; then
	echo "fuzz: $FUZZ_CC not found; install clang or set FUZZ_CC" >&2
	exit 1
fi

src=$FUZZ_SRCDIR
out=$FUZZ_BUILDDIR/fuzz-out
mkdir -p "$out/obj"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
# STEROIDS_BIN names no real binary: no target may start a runner.  The
# quotes in it are meant literally: the macro is a C string.
# shellcheck disable=SC2089
cflags="-g -O1 -Wall -Wextra -I$FUZZ_BUILDDIR -I$src/lib -I$src/cli \
-DSTEROIDS_BIN=\"/nonexistent/steroids\" $FUZZ_CFLAGS"

# One object per source, rebuilt when it or a header is newer.
headers="$FUZZ_BUILDDIR/config.h $src/lib/steroids.h $src/lib/st-int.h \
$src/cli/cli.h"
obj() {	# obj <source> [extra flags]: prints the object's path
	o=$out/obj/$(echo "$1" | tr / _).o
	# shellcheck disable=SC2086
	if [ ! -f "$o" ] ||
	    [ -n "$(find "$src/$1" $headers -newer "$o" 2>/dev/null)" ]; then
		# shellcheck disable=SC2086,SC2090
		$FUZZ_CC $cflags $san -fsanitize=fuzzer-no-link ${2:-} \
		    -c "$src/$1" -o "$o" >&2
	fi
	echo "$o"
}

libobjs=
for f in "$src"/lib/*.c; do
	libobjs="$libobjs $(obj "lib/${f##*/}")"
done
cliobjs=
for f in args json output project; do
	cliobjs="$cliobjs $(obj "cli/$f.c")"
done

for t in $FUZZ_TARGETS; do
	extra=
	case $t in
	args)	# the command table, without its main
		extra="$(obj cli/steroids.c -Dmain=steroids_cli_main)"
		for f in "$src"/cli/cmd-*.c; do
			extra="$extra $(obj "cli/${f##*/}")"
		done ;;
	esac
	echo "fuzz: building $t"
	# shellcheck disable=SC2086,SC2090
	$FUZZ_CC $cflags $san -fsanitize=fuzzer "$src/fuzz/$t.c" $extra \
	    $cliobjs $libobjs $FUZZ_LIBS -o "$out/$t"
done
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

failed=
for t in $FUZZ_TARGETS; do
	mkdir -p "$out/corpus/$t" "$out/tmp"
	echo "fuzz: $t for ${FUZZ_SECONDS}s"
	# TMPDIR: the scratch folder a crashed target leaves stays in fuzz-out.
	# shellcheck disable=SC2086
	if ! (cd "$out" && TMPDIR=$out/tmp "./$t" -max_total_time="$FUZZ_SECONDS" \
	    -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	    -artifact_prefix="$out/$t-" ${FUZZ_ARGS:-} \
	    "corpus/$t" "$src/fuzz/corpus/$t" 2>"$out/$t.log"); then
		failed="$failed $t"
		tail -n 40 "$out/$t.log" >&2
	fi
	grep '^Done ' "$out/$t.log" || :
	rm -rf "$out/tmp"
done
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed (inputs: $out/<target>-crash-*)" >&2
	exit 1
fi
echo "fuzz: all targets ran clean"
