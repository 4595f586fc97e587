# Holds an exclusive flock on a file until stdin closes (the process that started it ended, however it ended): the
# kernel releases the lock with the last descriptor, so a killed holder never leaves it stuck. argv: path, owner
# JSON. Prints "held" once it holds the lock (the owner written into the file), or "busy <owner JSON>" and exits 1.
import fcntl, os, sys

path, owner = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.stdout.write("busy %s\n" % os.pread(fd, 4096, 0).decode("utf-8", "replace").strip())
    sys.exit(1)
os.ftruncate(fd, 0)
os.pwrite(fd, owner.encode(), 0)
os.fsync(fd)
sys.stdout.write("held\n")
sys.stdout.flush()
sys.stdin.buffer.read()
