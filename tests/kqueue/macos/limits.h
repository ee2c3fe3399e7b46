/*
 * The host's <limits.h> plus macOS's OPEN_MAX, the most setrlimit
 * accepts for RLIMIT_NOFILE there.  For tests/kqueue-compile.sh.
 */
#include_next <limits.h>

#ifndef OPEN_MAX
#define OPEN_MAX	10240
#endif
