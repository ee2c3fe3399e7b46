/*
 * OpenBSD <sys/event.h>, the part steroids-agent may use (OpenBSD 7).
 * Written for tests/kqueue-compile.sh from the facts of openbsd/src
 * sys/sys/event.h; see tests/kqueue/README.md.  The real header names
 * types it does not define itself: <sys/types.h> must come first.
 */
#ifndef STEROIDS_TEST_SYS_EVENT_H
#define STEROIDS_TEST_SYS_EVENT_H

#ifndef _SYS_TYPES_H
#error "OpenBSD: include <sys/types.h> before <sys/event.h>"
#endif

#define EVFILT_READ	(-1)
#define EVFILT_WRITE	(-2)
#define EVFILT_VNODE	(-4)
#define EVFILT_PROC	(-5)
#define EVFILT_SIGNAL	(-6)
#define EVFILT_TIMER	(-7)
#define EVFILT_USER	(-10)

struct kevent {
	__UINTPTR_TYPE__	 ident;
	short			 filter;
	unsigned short		 flags;
	unsigned int		 fflags;
	__INT64_TYPE__		 data;
	void			*udata;
};

/* Assigns through a local pointer: kevp is evaluated once. */
#define EV_SET(kevp, a, b, c, d, e, f) do {				\
	struct kevent *__kevp = (kevp);					\
	__kevp->ident = (a);						\
	__kevp->filter = (b);						\
	__kevp->flags = (c);						\
	__kevp->fflags = (d);						\
	__kevp->data = (e);						\
	__kevp->udata = (f);						\
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
#define NOTE_TRUNCATE	0x0080

/* EVFILT_PROC */
#define NOTE_EXIT	0x80000000
#define NOTE_FORK	0x40000000
#define NOTE_EXEC	0x20000000
#define NOTE_TRACK	0x00000001

#include <sys/queue.h>

struct timespec;

int	kqueue(void);
int	kevent(int, const struct kevent *, int, struct kevent *, int,
	    const struct timespec *);

#endif
