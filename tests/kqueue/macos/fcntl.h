/*
 * The host's <fcntl.h> plus what macOS adds that watch-kqueue.c uses:
 * O_EVTONLY, an open for event notification only, which does not keep
 * the volume busy.  For tests/kqueue-compile.sh.
 */
#include_next <fcntl.h>

#ifndef O_EVTONLY
#define O_EVTONLY	0x00008000
#endif
