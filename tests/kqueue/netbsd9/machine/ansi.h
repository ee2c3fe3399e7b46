/*
 * GCC's <stddef.h> includes <machine/ansi.h> when __NetBSD__ is defined
 * and, unless _BSD_SIZE_T_ and its friends are defined there, leaves
 * size_t, ptrdiff_t and wchar_t to it.  NetBSD's names the types; this
 * stand-in names the compiler's.  No include guard: <stddef.h> undefines
 * them each time it defines a type.  For tests/kqueue-compile.sh.
 */
#define _BSD_SIZE_T_		__SIZE_TYPE__
#define _BSD_PTRDIFF_T_		__PTRDIFF_TYPE__
#define _BSD_WCHAR_T_		__WCHAR_TYPE__
