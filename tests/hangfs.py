#!/usr/bin/python3
"""hangfs.py ROOT MOUNTPOINT TRIGGER -- a passthrough FUSE file system for
the tests: serves ROOT at MOUNTPOINT, and while the file TRIGGER exists
(a path outside the mount) every call waits, as a dead NFS or sshfs
mount does.  Removing TRIGGER lets the waiting calls go on.  Runs in the
foreground; the test unmounts it (fusermount3 -u -z) and kills it by PID.
Needs python3-fusepy (Debian) and /dev/fuse."""

import errno
import os
import sys
import time

try:
    from fusepy import FUSE, FuseOSError, Operations
except ImportError:
    from fuse import FUSE, FuseOSError, Operations


class HangFS(Operations):
    def __init__(self, root, trigger):
        self.root = os.path.realpath(root)
        self.trigger = trigger

    def __call__(self, op, path, *args):
        while os.path.exists(self.trigger):
            time.sleep(0.05)
        try:
            return super().__call__(op, path, *args)
        except OSError as e:
            raise FuseOSError(e.errno or errno.EIO)

    def _p(self, path):
        return os.path.join(self.root, path.lstrip('/'))

    def access(self, path, mode):
        if not os.access(self._p(path), mode):
            raise FuseOSError(errno.EACCES)

    def chmod(self, path, mode):
        os.chmod(self._p(path), mode)

    def chown(self, path, uid, gid):
        os.chown(self._p(path), uid, gid)

    def getattr(self, path, fh=None):
        st = os.lstat(self._p(path))
        return {k: getattr(st, k) for k in (
            'st_atime', 'st_ctime', 'st_gid', 'st_mode', 'st_mtime',
            'st_nlink', 'st_size', 'st_uid', 'st_ino')}

    def readdir(self, path, fh):
        return ['.', '..'] + os.listdir(self._p(path))

    def readlink(self, path):
        return os.readlink(self._p(path))

    def mknod(self, path, mode, dev):
        os.mknod(self._p(path), mode, dev)

    def mkdir(self, path, mode):
        os.mkdir(self._p(path), mode)

    def rmdir(self, path):
        os.rmdir(self._p(path))

    def statfs(self, path):
        sv = os.statvfs(self._p(path))
        return {k: getattr(sv, k) for k in (
            'f_bavail', 'f_bfree', 'f_blocks', 'f_bsize', 'f_favail',
            'f_ffree', 'f_files', 'f_flag', 'f_frsize', 'f_namemax')}

    def symlink(self, target, source):
        os.symlink(source, self._p(target))

    def link(self, target, source):
        os.link(self._p(source), self._p(target))

    def unlink(self, path):
        os.unlink(self._p(path))

    def rename(self, old, new):
        os.rename(self._p(old), self._p(new))

    def utimens(self, path, times=None):
        os.utime(self._p(path), times)

    def open(self, path, flags):
        return os.open(self._p(path), flags)

    def create(self, path, mode, fi=None):
        return os.open(self._p(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                       mode)

    def read(self, path, size, offset, fh):
        return os.pread(fh, size, offset)

    def write(self, path, data, offset, fh):
        return os.pwrite(fh, data, offset)

    def truncate(self, path, length, fh=None):
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._p(path), length)

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        os.close(fh)

    def fsync(self, path, datasync, fh):
        os.fsync(fh)


if __name__ == '__main__':
    if len(sys.argv) != 4:
        sys.exit('usage: hangfs.py ROOT MOUNTPOINT TRIGGER')
    # No attribute cache: SQLite maps its -shm, and a size the kernel
    # kept from before it grew makes that mapping fault (SIGBUS).
    FUSE(HangFS(sys.argv[1], sys.argv[3]), sys.argv[2], foreground=True,
         nothreads=False, attr_timeout=0, entry_timeout=0)
