# Runs on the remote host for the ssh transport, sent over stdin (nothing is installed): answers requests read
# from stdin, one JSON line each, concurrently, as "\x1e" + JSON [id, answer] lines on stdout. File calls (read, stat,
# list, readlink) are done in-process, without a process per call; commands run in their own session with a hard
# timeout that kills their whole process group. Standard library only: any Python 3 a Django server has.
import base64, errno, json, os, shutil, signal, subprocess, sys, threading

out = sys.stdout.buffer
lock = threading.Lock()


def answer(i, body):
    line = b"\x1e" + json.dumps([i, body], separators=(",", ":")).encode() + b"\n"
    with lock:
        out.write(line)
        out.flush()


def b64(data):
    return base64.b64encode(data).decode()


SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def oserror(e):
    return {"errno": errno.errorcode.get(e.errno, "EIO"), "message": e.strerror or str(e)}


def run(q):
    # argv, directory and environment come in the request (on stdin), never on a command line: a secret in the
    # environment stays out of every /proc/<pid>/cmdline. env None: the helper's own environment.
    # The program is looked up on the system's directories, not on the PATH of the environment it is given.
    argv = list(q["argv"])
    if "/" not in argv[0]:
        argv[0] = shutil.which(argv[0], path=SYSTEM_PATH) or argv[0]
    p = subprocess.Popen(argv, cwd=q.get("cwd"), env=q.get("env"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        o, e = p.communicate(base64.b64decode(q.get("input", "")), timeout=q["timeout"])
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        p.communicate()
        return {"timeout": True}
    cap = q["max"]
    return {"code": p.returncode, "out": b64(o[:cap]), "err": b64(e[:cap]), "truncated": len(o) > cap or len(e) > cap}


def read(q):
    # In chunks: procfs and sysfs refuse one read as large as the cap (ENOMEM).
    chunks, size = [], 0
    with open(q["path"], "rb") as f:
        while size <= q["max"]:
            b = f.read(65536)
            if not b:
                break
            chunks.append(b)
            size += len(b)
    data = b"".join(chunks)
    return {"data": b64(data[: q["max"]]), "truncated": size > q["max"]}


def stat(q):
    try:
        s = os.stat(q["path"])
    except FileNotFoundError:
        return {"missing": True}
    return {"mode": s.st_mode, "uid": s.st_uid, "gid": s.st_gid, "size": s.st_size}


held = {}


def hold(q):
    # Starts a holder (a process that keeps a flock until its stdin closes) and answers its first line; if it holds,
    # it is kept until "release", or until this helper ends (its pipe then closes and the kernel frees the lock).
    p = subprocess.Popen(q["argv"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline().decode("utf-8", "replace").strip()
    if line == "held":
        held[q["key"]] = p
    else:
        p.wait()
    return {"line": line}


def release(q):
    p = held.pop(q["key"], None)
    if p:
        p.stdin.close()
        p.wait(timeout=10)
    return {}


OPS = {
    "hold": hold,
    "release": release,
    "run": run,
    "read": read,
    "stat": stat,
    "readdir": lambda q: {"names": os.listdir(q["path"])},
    "readlink": lambda q: {"target": os.readlink(q["path"])},
}


def serve(i, q):
    try:
        body = OPS[q["op"]](q)
    except OSError as e:
        body = oserror(e)
    except Exception as e:  # a bug here must answer, never leave the caller waiting
        body = {"errno": "EIO", "message": "%s: %s" % (type(e).__name__, e)}
    answer(i, body)


answer(0, {"ready": sys.version.split()[0]})
for raw in sys.stdin.buffer:
    try:
        i, q = json.loads(raw)
    except ValueError:
        continue
    # Not daemons: at the end of input, requests in flight still answer (each bounded by its timeout).
    threading.Thread(target=serve, args=(i, q)).start()
