/*
 * NetBSD <sys/event.h>, the part steroids-agent may use: NetBSD 10 and
 * later (udata is void *).  Written for tests/kqueue-compile.sh from the
 * facts of NetBSD/src sys/sys/event.h; see tests/kqueue/README.md.
 * The real header includes <sys/types.h> and the <stdint.h> types.
 */
#ifndef STEROIDS_TEST_SYS_EVENT_H
#define STEROIDS_TEST_SYS_EVENT_H

#include <sys/types.h>
#include <stdint.h>
#include <stddef.h>

/* Filters are small unsigned numbers here, not negative ones. */
#define EVFILT_READ	0U
#define EVFILT_WRITE	1U
#define EVFILT_VNODE	3U
#define EVFILT_PROC	4U
#define EVFILT_SIGNAL	5U
#define EVFILT_TIMER	6U
#define EVFILT_USER	8U

struct kevent {
	uintptr_t	 ident;
	uint32_t	 filter;
	uint32_t	 flags;
	uint32_t	 fflags;
	int64_t		 data;
	void		*udata;
};

/* A function with typed parameters; the macro casts ident and udata. */
static inline void
_EV_SET(struct kevent *kevp, uintptr_t ident, uint32_t filter,
    uint32_t flags, uint32_t fflags, int64_t data, void *udata)
{
	kevp->ident = ident;
	kevp->filter = filter;
	kevp->flags = flags;
	kevp->fflags = fflags;
	kevp->data = data;
	kevp->udata = udata;
}
#define EV_SET(kevp, ident, filter, flags, fflags, data, udata)		\
	_EV_SET((kevp), (uintptr_t)(ident), (filter), (flags), (fflags),\
	    (data), (void *)(udata))

#define EV_ADD		0x0001U
#define EV_DELETE	0x0002U
#define EV_ENABLE	0x0004U
#define EV_DISABLE	0x0008U
#define EV_ONESHOT	0x0010U
#define EV_CLEAR	0x0020U
#define EV_RECEIPT	0x0040U
#define EV_DISPATCH	0x0080U
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

/* Visible only to _NETBSD_SOURCE; the counts are size_t. */
#if defined(_NETBSD_SOURCE)
int	kqueue(void);
int	kqueue1(int);
int	kevent(int, const struct kevent *, size_t, struct kevent *, size_t,
	    const struct timespec *);
#endif

#endif
