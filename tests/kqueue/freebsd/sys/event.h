/*
 * FreeBSD <sys/event.h>, the part steroids-agent may use: FreeBSD 12 and
 * later (64-bit data, ext[4]).  Written for tests/kqueue-compile.sh from
 * the facts of freebsd-src sys/sys/event.h; see tests/kqueue/README.md.
 * The real header brings its own integer types (sys/_types.h) and
 * <sys/queue.h>; the compiler's predefined types stand in for the former.
 */
#ifndef STEROIDS_TEST_SYS_EVENT_H
#define STEROIDS_TEST_SYS_EVENT_H

#include <sys/queue.h>

/* Filters are small negative numbers. */
#define EVFILT_READ	(-1)
#define EVFILT_WRITE	(-2)
#define EVFILT_VNODE	(-4)
#define EVFILT_PROC	(-5)
#define EVFILT_SIGNAL	(-6)
#define EVFILT_TIMER	(-7)
#define EVFILT_USER	(-11)

struct kevent {
	__UINTPTR_TYPE__	 ident;
	short			 filter;
	unsigned short		 flags;
	unsigned int		 fflags;
	__INT64_TYPE__		 data;
	void			*udata;
	__UINT64_TYPE__		 ext[4];
};

/* C99 and later: one compound literal, ext cleared. */
#define EV_SET(kevp_, a, b, c, d, e, f) do {				\
	*(kevp_) = (struct kevent){ .ident = (a), .filter = (b),	\
	    .flags = (c), .fflags = (d), .data = (e), .udata = (f),	\
	    .ext = { 0 } };						\
} while (0)

#define EV_ADD		0x0001
#define EV_DELETE	0x0002
#define EV_ENABLE	0x0004
#define EV_DISABLE	0x0008
#define EV_ONESHOT	0x0010
#define EV_CLEAR	0x0020
#define EV_RECEIPT	0x0040
#define EV_DISPATCH	0x0080
#define EV_ERROR	0x4000
#define EV_EOF		0x8000

/* EVFILT_VNODE */
#define NOTE_DELETE	0x0001
#define NOTE_WRITE	0x0002
#define NOTE_EXTEND	0x0004
#define NOTE_ATTRIB	0x0008
#define NOTE_LINK	0x0010
#define NOTE_RENAME	0x0020
#define NOTE_REVOKE	0x0040
#define NOTE_OPEN	0x0080
#define NOTE_CLOSE	0x0100
#define NOTE_CLOSE_WRITE 0x0200
#define NOTE_READ	0x0400

/* EVFILT_PROC (no NOTE_EXITSTATUS: the status is in data with NOTE_EXIT) */
#define NOTE_EXIT	0x80000000
#define NOTE_FORK	0x40000000
#define NOTE_EXEC	0x20000000
#define NOTE_TRACK	0x00000001

#define KQUEUE_CLOEXEC	0x00000001	/* kqueuex(2), FreeBSD 14 */

struct timespec;

int	kqueue(void);
int	kqueuex(unsigned int);
int	kqueue1(int);
int	kevent(int, const struct kevent *, int, struct kevent *, int,
	    const struct timespec *);

#endif
