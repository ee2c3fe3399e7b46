/*
 * macOS <sys/event.h>, the part steroids-agent may use.  Written for
 * tests/kqueue-compile.sh from the facts of apple-oss-distributions/xnu
 * bsd/sys/event.h; see tests/kqueue/README.md.  The real header includes
 * <stdint.h>, <sys/types.h> and <sys/queue.h>, and packs struct kevent
 * to 4 bytes.
 */
#ifndef STEROIDS_TEST_SYS_EVENT_H
#define STEROIDS_TEST_SYS_EVENT_H

#include <sys/types.h>
#include <sys/queue.h>
#include <stdint.h>

#define EVFILT_READ	(-1)
#define EVFILT_WRITE	(-2)
#define EVFILT_VNODE	(-4)
#define EVFILT_PROC	(-5)
#define EVFILT_SIGNAL	(-6)
#define EVFILT_TIMER	(-7)
#define EVFILT_USER	(-10)

#pragma pack(4)
struct kevent {
	uintptr_t	 ident;
	int16_t		 filter;
	uint16_t	 flags;
	uint32_t	 fflags;
	intptr_t	 data;
	void		*udata;
};
#pragma pack()

/* Assigns through a local pointer: kevp is evaluated once. */
#define EV_SET(kevp, a, b, c, d, e, f) do {				\
	struct kevent *__kevp__ = (kevp);				\
	__kevp__->ident = (a);						\
	__kevp__->filter = (b);						\
	__kevp__->flags = (c);						\
	__kevp__->fflags = (d);						\
	__kevp__->data = (e);						\
	__kevp__->udata = (f);						\
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
#define NOTE_DELETE	0x00000001
#define NOTE_WRITE	0x00000002
#define NOTE_EXTEND	0x00000004
#define NOTE_ATTRIB	0x00000008
#define NOTE_LINK	0x00000010
#define NOTE_RENAME	0x00000020
#define NOTE_REVOKE	0x00000040
#define NOTE_NONE	0x00000080
#define NOTE_FUNLOCK	0x00000100

/* EVFILT_PROC */
#define NOTE_EXIT	0x80000000
#define NOTE_FORK	0x40000000
#define NOTE_EXEC	0x20000000
#define NOTE_SIGNAL	0x08000000
#define NOTE_EXITSTATUS	0x04000000
#define NOTE_EXIT_DETAIL 0x02000000

struct timespec;

int	kqueue(void);
int	kevent(int, const struct kevent *, int, struct kevent *, int,
	    const struct timespec *);

#endif
