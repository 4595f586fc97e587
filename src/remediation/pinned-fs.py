# Root's file changes, made only on what it has pinned: every path is walked from / one component at a time without
# following a symbolic link (openat with O_NOFOLLOW), the object is held by a file descriptor, checked against what
# the plan saw (device, inode, owner, mode), and changed through that descriptor. A link anywhere, a regular file with
# other hard links, or an object that changed since the plan is refused with one line. Requests come as JSON on stdin
# (a list); each answer is {"ok": true, ...} or {"ok": false, "refused": bool, "error": "..."}, in order, on stdout.
import base64, errno, grp, json, os, pwd, secrets, stat, sys

MAX_READ = 64 * 1024 * 1024


class Refused(Exception):
    pass


class Missing(Refused):
    pass


def components(path):
    if not isinstance(path, str) or not path.startswith("/") or "\0" in path:
        raise Refused("%r is not an absolute path" % (path,))
    parts = [p for p in path.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise Refused("%r is not a plain absolute path (no '.', '..' or bare /)" % (path,))
    return parts


def describe_link(dirfd, name):
    try:
        return " (to %s)" % os.readlink(name, dir_fd=dirfd)
    except OSError:
        return ""


def parent_of(path):
    # The directory holding `path`, pinned (an O_PATH descriptor), and the last name in it.
    parts = components(path)
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = ""
    try:
        for p in parts[:-1]:
            walked += "/" + p
            try:
                st = os.stat(p, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                raise Missing("%s does not exist" % walked)
            if stat.S_ISLNK(st.st_mode):
                raise Refused("%s is a symbolic link%s: root does not act through links" % (walked, describe_link(fd, p)))
            if not stat.S_ISDIR(st.st_mode):
                raise Refused("%s is not a directory" % walked)
            nfd = os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = nfd
        return fd, parts[-1]
    except BaseException:
        os.close(fd)
        raise


def kind_of(mode):
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


def facts(st):
    return {"kind": kind_of(st.st_mode), "dev": st.st_dev, "ino": st.st_ino, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size, "nlink": st.st_nlink}


def pin(path, q):
    # The object at `path` held by an O_PATH descriptor, after the checks every change needs.
    dirfd, name = parent_of(path)
    try:
        try:
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
        except FileNotFoundError:
            raise Refused("%s does not exist" % path)
        st = os.fstat(fd)
        if stat.S_ISLNK(st.st_mode):
            os.close(fd)
            raise Refused("%s is a symbolic link%s: root does not act through links" % (path, describe_link(dirfd, name)))
        return dirfd, name, fd, st
    except BaseException:
        os.close(dirfd)
        raise


def expect_same(path, st, q):
    want = q.get("expect")
    if not want:
        return
    if (st.st_dev, st.st_ino) != (want["dev"], want["ino"]):
        raise Refused("%s is not the file the plan looked at (device/inode %s:%s, planned %s:%s): it was replaced since" % (path, st.st_dev, st.st_ino, want["dev"], want["ino"]))
    for k, v in (("mode", stat.S_IMODE(st.st_mode)), ("uid", st.st_uid), ("gid", st.st_gid)):
        if k in want and want[k] != v:
            raise Refused("%s changed since the plan (%s is %s, planned from %s)" % (path, k, v if k != "mode" else oct(v), want[k] if k != "mode" else oct(want[k])))


def one_link(path, st):
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
        raise Refused("%s has %d hard links: another name may be a file outside the deployment" % (path, st.st_nlink))


def owner_of(q):
    # (uid, gid) from "owner"/"group", names or numbers, as chown reads them.
    def one(v, by_name, what):
        if isinstance(v, int) or (isinstance(v, str) and v.isdigit()):
            return int(v)
        try:
            return by_name(v)
        except KeyError:
            raise Refused("no %s named %r on this host" % (what, v))
    return one(q["owner"], lambda n: pwd.getpwnam(n).pw_uid, "user"), one(q["group"], lambda n: grp.getgrnam(n).gr_gid, "group")


def proc(fd):
    return "/proc/self/fd/%d" % fd


def read_pinned(fd):
    # The bytes, owner, mode and extended attributes (ACLs included) of a pinned regular file.
    rfd = os.open(proc(fd), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        chunks, size = [], 0
        while True:
            b = os.read(rfd, 1 << 20)
            if not b:
                break
            size += len(b)
            if size > MAX_READ:
                raise Refused("file is over %d bytes: not backed up" % MAX_READ)
            chunks.append(b)
        xattrs = {}
        try:
            for n in os.listxattr(rfd):
                xattrs[n] = base64.b64encode(os.getxattr(rfd, n)).decode()
        except OSError:
            pass
        return base64.b64encode(b"".join(chunks)).decode(), xattrs
    finally:
        os.close(rfd)


def op_inspect(q):
    path = q["path"]
    try:
        dirfd, name = parent_of(path)
    except Missing:
        return {"kind": "missing"}
    except Refused as e:
        return {"kind": "refused", "why": "refused: %s" % e}
    try:
        try:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            return {"kind": "missing"}
        out = facts(st)
        if out["kind"] == "link":
            out["target"] = describe_link(dirfd, name)[5:-1]
        return out
    finally:
        os.close(dirfd)


def op_change(q):
    # chown and/or chmod of one object; answers its state before, for the undo.
    path = q["path"]
    dirfd, name, fd, st = pin(path, q)
    try:
        expect_same(path, st, q)
        one_link(path, st)
        before = facts(st)
        if "owner" in q:
            os.chown(proc(fd), *owner_of(q))
        if "mode" in q:
            os.chmod(proc(fd), q["mode"])
        return {"before": before, "after": facts(os.fstat(fd))}
    finally:
        os.close(fd)
        os.close(dirfd)


def op_read(q):
    path = q["path"]
    dirfd, name, fd, st = pin(path, q)
    try:
        if not stat.S_ISREG(st.st_mode):
            raise Refused("%s is not a regular file" % path)
        data, xattrs = read_pinned(fd)
        return dict(facts(st), data=data, xattrs=xattrs)
    finally:
        os.close(fd)
        os.close(dirfd)


def op_write(q):
    # A whole new file. With "absent", created at its name (O_EXCL: never over anything) and written there: the
    # name is new, so a half-written file is never mistaken for a finished one. Otherwise written to a temp name in
    # the same directory, owned and moded, fsynced, renamed into place: the old object at that name (never
    # followed, even if it is a link) is replaced, not written through.
    path = q["path"]
    dirfd, name = parent_of(path)
    absent = bool(q.get("absent"))
    tmp = name if absent else ".%s.ddv-%s" % (name[:100], secrets.token_hex(4))
    created = False
    try:
        try:
            old = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if absent and old is not None:
            raise Refused("%s exists now, and the plan was to create it" % path)
        if old is not None:
            if stat.S_ISLNK(old.st_mode):
                raise Refused("%s is a symbolic link%s: root does not write through links" % (path, describe_link(dirfd, name)))
            if not stat.S_ISREG(old.st_mode):
                raise Refused("%s is not a regular file" % path)
            expect_same(path, old, q)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
        except FileExistsError:
            raise Refused("%s exists now, and the plan was to create it" % path)
        created = True
        try:
            write_all(fd, base64.b64decode(q["data"]))
            for n, v in (q.get("xattrs") or {}).items():
                os.setxattr(fd, n, base64.b64decode(v))
            os.fchown(fd, *owner_of(q))
            os.fchmod(fd, q["mode"])
            os.fsync(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        if not absent:
            os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        sync_dir(dirfd)
        return {"before": facts(old) if old else None, "after": facts(st)}
    except BaseException:
        if created:
            try:
                os.unlink(tmp, dir_fd=dirfd)
            except OSError:
                pass
        raise
    finally:
        os.close(dirfd)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def sync_dir(dirfd):
    d = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dirfd)
    try:
        os.fsync(d)
    finally:
        os.close(d)


def op_mkdir(q):
    path = q["path"]
    dirfd, name = parent_of(path)
    try:
        os.mkdir(name, 0o700, dir_fd=dirfd)
        fd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)
        try:
            os.chown(proc(fd), *owner_of(q))
            os.chmod(proc(fd), q["mode"])
            st = os.fstat(fd)
        finally:
            os.close(fd)
        sync_dir(dirfd)
        return {"after": facts(st)}
    except FileExistsError:
        raise Refused("%s exists now, and the plan was to create it" % path)
    finally:
        os.close(dirfd)


def rename_noreplace(dirfd, src, dst):
    # renameat2(RENAME_NOREPLACE): fails with EEXIST instead of replacing what is at dst.
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if hasattr(libc, "renameat2") and libc.renameat2(dirfd, src.encode(), dirfd, dst.encode(), 1) == 0:
        return True
    err = ctypes.get_errno() if hasattr(libc, "renameat2") else errno.ENOSYS
    if err == errno.EEXIST:
        return False
    if err not in (errno.ENOSYS, errno.EINVAL):
        raise OSError(err, os.strerror(err))
    # A filesystem without it: a file is hard-linked (fails if dst exists) and its staged name removed; a directory
    # is renamed after a look (an empty directory planted in between would be replaced: nothing is followed).
    st = os.stat(src, dir_fd=dirfd, follow_symlinks=False)
    if not stat.S_ISDIR(st.st_mode):
        try:
            os.link(src, dst, src_dir_fd=dirfd, dst_dir_fd=dirfd, follow_symlinks=False)
        except FileExistsError:
            return False
        os.unlink(src, dir_fd=dirfd)
        return True
    try:
        os.stat(dst, dir_fd=dirfd, follow_symlinks=False)
        return False
    except FileNotFoundError:
        os.rename(src, dst, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        return True


def op_place(q):
    # Moves a staged object (made under a temp name in the same directory, its identity recorded) to its name, never
    # over anything: a creation that a kill can interrupt at any point and a rollback can still undo.
    path, staged = q["path"], q["staged"]
    if "/" in staged or staged in ("", ".", ".."):
        raise Refused("%r is not a name in %s's directory" % (staged, path))
    dirfd, name = parent_of(path)
    try:
        try:
            st = os.stat(staged, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            raise Refused("%s's staged copy %s is gone" % (path, staged))
        expect_same(path, st, q)
        if not rename_noreplace(dirfd, staged, name):
            raise Refused("%s exists now, and the plan was to create it" % path)
        sync_dir(dirfd)
        return {"after": facts(st)}
    finally:
        os.close(dirfd)


def op_remove(q):
    # Removes what an earlier step created: only the very object (expect), a directory only when empty.
    path = q["path"]
    dirfd, name = parent_of(path)
    try:
        try:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            return {"removed": False}
        expect_same(path, st, q)
        if stat.S_ISDIR(st.st_mode):
            try:
                os.rmdir(name, dir_fd=dirfd)
            except OSError:
                return {"removed": False, "kept": "not empty"}
        else:
            os.unlink(name, dir_fd=dirfd)
        sync_dir(dirfd)
        return {"removed": True}
    finally:
        os.close(dirfd)


def op_append(q):
    # One line appended to a log root keeps (the audit log), fsynced before the answer: it outlives a crash.
    path = q["path"]
    dirfd, name = parent_of(path)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
        try:
            write_all(fd, base64.b64decode(q["data"]))
            os.fsync(fd)
        finally:
            os.close(fd)
        return {}
    finally:
        os.close(dirfd)


OPS = {"inspect": op_inspect, "change": op_change, "read": op_read, "write": op_write, "mkdir": op_mkdir, "remove": op_remove, "place": op_place, "append": op_append}


def main():
    out = []
    for q in json.load(sys.stdin):
        try:
            out.append(dict(OPS[q["op"]](q), ok=True))
        except Refused as e:
            out.append({"ok": False, "refused": True, "error": "refused: %s" % e})
        except OSError as e:
            out.append({"ok": False, "refused": False, "error": "%s: %s" % (q.get("path"), e.strerror or e)})
    sys.stdout.write(json.dumps(out))


main()
