/*
 * NetBSD <sys/event.h> before 10 (up to 9.99.13), the part steroids-agent
 * may use: udata is an intptr_t, so a pointer passed as udata does not
 * compile.  Written for tests/kqueue-compile.sh from the facts of
 * NetBSD/src sys/sys/event.h; see tests/kqueue/README.md.
 */
#ifndef STEROIDS_TEST_SYS_EVENT_H
#define STEROIDS_TEST_SYS_EVENT_H

#include <sys/types.h>
#include <stdint.h>
#include <stddef.h>

#define EVFILT_READ	0U
#define EVFILT_WRITE	1U
#define EVFILT_VNODE	3U
#define EVFILT_PROC	4U
#define EVFILT_SIGNAL	5U
#define EVFILT_TIMER	6U

struct kevent {
	uintptr_t	ident;
	uint32_t	filter;
	uint32_t	flags;
	uint32_t	fflags;
	int64_t		data;
	intptr_t	udata;
};

/* Member by member, no casts. */
#define EV_SET(kevp, a, b, c, d, e, f) do {				\
	(kevp)->ident = (a);						\
	(kevp)->filter = (b);						\
	(kevp)->flags = (c);						\
	(kevp)->fflags = (d);						\
	(kevp)->data = (e);						\
	(kevp)->udata = (f);						\
} while (0)

#define EV_ADD		0x0001U
#define EV_DELETE	0x0002U
#define EV_ENABLE	0x0004U
#define EV_DISABLE	0x0008U
#define EV_ONESHOT	0x0010U
#define EV_CLEAR	0x0020U
#define EV_ERROR	0x4000U
#define EV_EOF		0x8000U

/* EVFILT_VNODE */
#define NOTE_DELETE	0x0001U
#define NOTE_WRITE	0x0002U
#define NOTE_EXTEND	0x0004U
#define NOTE_ATTRIB	0x0008U
#define NOTE_LINK	0x0010U
#define NOTE_RENAME	0x0020U
#define NOTE_REVOKE	0x0040U

/* EVFILT_PROC */
#define NOTE_EXIT	0x80000000U
#define NOTE_FORK	0x40000000U
#define NOTE_EXEC	0x20000000U
#define NOTE_TRACK	0x00000001U

#include <sys/queue.h>

struct timespec;

#if defined(_NETBSD_SOURCE)
int	kqueue(void);
int	kqueue1(int);
int	kevent(int, const struct kevent *, size_t, struct kevent *, size_t,
	    const struct timespec *);
#endif

#endif
