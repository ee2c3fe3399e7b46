#!/bin/sh
#
# kqueue-compile.sh -- agent/watch-kqueue.c is built on the BSDs and macOS
# only.  Compile it here (syntax only, warnings as errors) against the
# <sys/event.h> of each of them, kept under tests/kqueue/<os>/, with that
# system's predefined macros and configure's answers for it.  Then compile
# probes that use what only some systems have, and check that exactly those
# systems accept them, so the header sets are known to catch a difference.
# TAP output.  Environment (set by make check): top_srcdir, top_builddir,
# TEST_CC, TEST_KQUEUE_CFLAGS (the warning, libbsd and libev flags).

srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${top_builddir:-.}
cc=${TEST_CC:-${CC:-cc}}
extra=${TEST_KQUEUE_CFLAGS-}
oses="freebsd openbsd netbsd netbsd9 macos"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kqueue-compile.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

os_defines() {
	case $1 in
	freebsd) echo "-D__FreeBSD__=14" ;;
	openbsd) echo "-D__OpenBSD__" ;;
	netbsd)	echo "-D__NetBSD__ -D__NetBSD_Version__=1000000000" ;;
	netbsd9) echo "-D__NetBSD__ -D__NetBSD_Version__=902000000" ;;
	macos)	echo "-D__APPLE__ -D__MACH__" ;;
	esac
}

# cc_for os file: compile file as configure would have it on os.
cc_for() {
	# shellcheck disable=SC2046,SC2086
	$cc -fsyntax-only -std=c99 $extra -Wall -Wextra -Werror \
	    -DWATCH_KQUEUE $(os_defines "$1") -I"$tmp" \
	    -I"$srcdir/tests/kqueue/$1" -I"$srcdir/lib" -I"$srcdir/agent" \
	    "$2" 2>"$tmp/$1.err"
}

if [ ! -f "$builddir/config.h" ]; then
	echo "1..0 # SKIP no config.h in $builddir"
	exit 0
fi
# The header sets use the predefined __UINTPTR_TYPE__ and friends and
# #include_next (GCC and clang); skip with any other compiler.
printf '#include_next <limits.h>\n__UINTPTR_TYPE__ x;\n' >"$tmp/cc.c"
if ! $cc -fsyntax-only -std=c99 "$tmp/cc.c" 2>/dev/null; then
	echo "1..0 # SKIP $cc lacks -fsyntax-only, __UINTPTR_TYPE__ or #include_next"
	exit 0
fi

# config.h as configure writes it where sys/event.h exists: no inotify,
# no pidfd, no prctl; kqueue.
sed -E \
    -e 's,^#define (WATCH_INOTIFY|HAVE_SYS_INOTIFY_H|HAVE_SYS_PIDFD_H|HAVE_PIDFD_OPEN|HAVE_SYS_PRCTL_H|HAVE_POSIX_SPAWN_FILE_ACTIONS_ADDCLOSEFROM_NP) .*,/* #undef \1 */,' \
    -e 's,^#define HAVE_DECL_SYS_PIDFD_OPEN .*,#define HAVE_DECL_SYS_PIDFD_OPEN 0,' \
    "$builddir/config.h" >"$tmp/config.h"
printf '#define HAVE_SYS_EVENT_H 1\n#define WATCH_KQUEUE 1\n' >>"$tmp/config.h"

# probe name systems-that-accept-it: a C body read from stdin.
nprobes=0
probe() {
	nprobes=$((nprobes + 1))
	{
		echo '#include "config.h"'
		[ "$1" = no-sys-types ] || echo '#include <sys/types.h>'
		echo '#include <sys/event.h>'
		echo '#include <fcntl.h>'
		echo '#include <stddef.h>'
		echo 'int probe(void);'
		echo 'int probe(void) {'
		cat
		echo 'return (0); }'
	} >"$tmp/probe-$1.c"
	eval "probe_$nprobes='$1'; accept_$nprobes='$2'"
}

probe ext "freebsd" <<'P'
	struct kevent kev;
	kev.ext[0] = 0;
	return ((int)kev.ext[0]);
P
probe exitstatus "macos" <<'P'
	return (NOTE_EXITSTATUS != 0);
P
probe evtonly "macos" <<'P'
	return (O_EVTONLY != 0);
P
probe truncate "openbsd" <<'P'
	return (NOTE_TRUNCATE != 0);
P
probe pointer-udata "freebsd openbsd netbsd macos" <<'P'
	struct kevent kev;
	EV_SET(&kev, 0, EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0, &kev);
	return ((int)kev.flags);
P
probe int-counts "freebsd openbsd macos" <<'P'
	int (*fn)(int, const struct kevent *, int, struct kevent *, int,
	    const struct timespec *) = kevent;
	return (fn != NULL);
P
probe negative-filter "freebsd openbsd macos" <<'P'
	char negative[EVFILT_VNODE < 0 ? 1 : -1];
	negative[0] = 0;
	return (negative[0]);
P
probe no-sys-types "freebsd netbsd netbsd9 macos" <<'P'
	struct kevent kev;
	EV_SET(&kev, 0, EVFILT_PROC, EV_ADD, NOTE_EXIT, 0, 0);
	return ((int)kev.flags);
P

nos=0
for os in $oses; do
	nos=$((nos + 1))
done
echo "1..$((nos + nprobes))"

n=0
fail=0
for os in $oses; do
	n=$((n + 1))
	if cc_for "$os" "$srcdir/agent/watch-kqueue.c"; then
		echo "ok $n - agent/watch-kqueue.c compiles for $os"
	else
		echo "not ok $n - agent/watch-kqueue.c compiles for $os"
		sed 's/^/# /' "$tmp/$os.err"
		fail=1
	fi
done

i=0
while [ "$i" -lt "$nprobes" ]; do
	i=$((i + 1))
	n=$((n + 1))
	name="" accept=""
	eval "name=\$probe_$i; accept=\$accept_$i"
	wrong=""
	for os in $oses; do
		case " $accept " in
		*" $os "*) want=yes ;;
		*) want=no ;;
		esac
		if cc_for "$os" "$tmp/probe-$name.c"; then got=yes; else got=no; fi
		[ "$got" = "$want" ] || wrong="$wrong $os(compiled=$got)"
	done
	if [ -z "$wrong" ]; then
		echo "ok $n - probe $name compiles on: $accept"
	else
		echo "not ok $n - probe $name should compile on: $accept; got$wrong"
		fail=1
	fi
done
exit $fail
