/*
 * GCC's <stddef.h> includes <sys/_types.h> when __FreeBSD__ is defined;
 * FreeBSD's defines the __-prefixed integer types there.  Nothing here
 * needs them (the host's <stddef.h> goes on to use the compiler's own
 * types), so this stand-in is empty.  For tests/kqueue-compile.sh.
 */
