"""One Python start answers every question the validator puts to the app's own tools.

Run as the unit's user, with the service's environment, from its WorkingDirectory, by the venv's python:
  python - '<options JSON>'   (this program on stdin)
Gunicorn's effective settings come from Gunicorn's own config loader (command line, GUNICORN_CMD_ARGS,
-c file or ./gunicorn.conf.py, WEB_CONCURRENCY; only when asked, or when it could set the app's environment);
then Django's settings as Django sees them, and when asked, django.setup() with `check --deploy` and
`showmigrations --plan`. Prints ONE line: the marker, then a JSON document. Never prints SECRET_KEY:
only its length, its distinct characters and which placeholder it contains.
"""
import io
import json
import os
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout

MARKER = "DDV-SERVICE-FACTS "
LEVELS = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}
# Settings about HTTPS and cookies that Django's deploy checks look at, reported verbatim.
SECURE_EXTRA = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "SESSION_COOKIE_HTTPONLY", "X_FRAME_OPTIONS")


def last_line(exc, captured=""):
    """The exception's last line ("RuntimeError: bad deploy"), or what the tool printed before exiting."""
    if isinstance(exc, SystemExit):
        lines = [l.strip() for l in captured.splitlines() if l.strip()]
        text = lines[-1] if lines else "exited with status %s" % exc.code
    else:
        text = traceback.format_exception_only(type(exc), exc)[-1]
    return " ".join(text.split())[:500]  # one line, whatever the message spans


def may_set_environment(argv):
    """Whether Gunicorn's config could hand the app environment variables or sys.path entries (--env, --pythonpath,
    a config file, GUNICORN_CMD_ARGS): then Django's settings must be read after it, as the master would.
    Conservative: argparse accepts abbreviations (--py) and grouped short flags, so anything like one counts."""
    if os.environ.get("GUNICORN_CMD_ARGS") or os.path.exists("gunicorn.conf.py"):
        return True
    for a in argv[1:]:
        if a.startswith("--"):
            name = a[2:].split("=", 1)[0]
            if name and any(full.startswith(name) for full in ("env", "pythonpath", "config")):
                return True
        elif a.startswith("-") and ("e" in a[1:] or "c" in a[1:]):
            return True
    return False


def gunicorn_version():
    try:
        import gunicorn

        return gunicorn.__version__
    except BaseException:
        return None


def gunicorn_facts(argv):
    """Gunicorn's config as `gunicorn ARGV` would resolve it; the WSGI app itself is not imported."""
    if not argv:
        return {"ok": False, "error": "ExecStart does not run gunicorn"}
    buf = io.StringIO()
    explicit = []
    try:
        import gunicorn
        from gunicorn import config
        from gunicorn.app.base import Application
        from gunicorn.app.wsgiapp import WSGIApplication

        # Record every setting a source (command line, GUNICORN_CMD_ARGS, config file) sets, and the file read.
        plain_set, plain_load = config.Config.set, Application.load_config_from_file
        files = []

        def recording_set(self, name, value):
            explicit.append(name)
            return plain_set(self, name, value)

        def recording_load(self, filename):
            files.append(filename)
            return plain_load(self, filename)

        config.Config.set, Application.load_config_from_file = recording_set, recording_load
        sys.argv = list(argv)
        try:
            with redirect_stdout(buf), redirect_stderr(buf):
                app = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]")
        finally:
            config.Config.set, Application.load_config_from_file = plain_set, plain_load
        cfg = app.cfg
        # What gunicorn's master does before loading the app: --env into os.environ, --pythonpath into sys.path.
        for k, v in cfg.env.items():
            os.environ[k] = v
        if cfg.pythonpath:
            sys.path[0:0] = [p.strip() for p in cfg.pythonpath.split(",") if p.strip()]
        return {
            "ok": True,
            "version": gunicorn.__version__,
            "bind": list(cfg.bind),
            "workers": cfg.workers,
            "threads": cfg.threads,
            "timeout": cfg.timeout,
            "gracefulTimeout": cfg.graceful_timeout,
            "workerClass": cfg.worker_class_str,
            "configFile": os.path.abspath(files[-1]) if files else None,
            "explicit": sorted(set(explicit) - {"default_proc_name"}),
            # Where Gunicorn itself writes its logs: an absolute path (relative ones resolved from its --chdir, where the
            # loader left us), "-" for stderr/stdout (the journal under systemd), None when it keeps no such log.
            "errorlog": log_target(cfg.errorlog),
            "accesslog": log_target(cfg.accesslog),
        }
    except BaseException as e:  # do_load_config turns any config error into SystemExit(1)
        return {"ok": False, "error": last_line(e, buf.getvalue())}


def log_target(value):
    if value is None or value == "-":
        return value
    return os.path.abspath(str(value))


def logging_files(settings):
    """The handlers of settings.LOGGING that write a file (a `filename` in their config: FileHandler, the rotating ones,
    WatchedFileHandler...): name, class, absolute filename, and whether the handler renames files to rotate them."""
    import logging.config
    import logging.handlers

    handlers = (settings.LOGGING or {}).get("handlers") or {}
    out = []
    for name, conf in sorted(handlers.items(), key=lambda kv: str(kv[0])):
        if not isinstance(conf, dict) or not conf.get("filename"):
            continue
        cls = conf.get("class") or conf.get("()")
        label = cls if isinstance(cls, str) else getattr(cls, "__qualname__", str(cls))
        try:
            resolved = logging.config.BaseConfigurator({}).resolve(cls) if isinstance(cls, str) else cls
            rotates = isinstance(resolved, type) and issubclass(resolved, logging.handlers.BaseRotatingHandler)
        except BaseException:  # a class that cannot be imported: judged by its name
            rotates = "Rotating" in str(label)
        out.append({"handler": str(name), "class": str(label), "filename": os.path.abspath(str(conf["filename"])), "rotates": bool(rotates)})
    return out


def write_facts(settings):
    """What the app writes, as its settings say: paths only. Each part fails alone, as {"error": ...}."""
    out = {"cwd": os.getcwd()}
    # Where static files are collected and served (read by `npm run discover`; the checks take them from the config).
    out["STATIC_URL"] = str(getattr(settings, "STATIC_URL", "") or "")
    static_root = getattr(settings, "STATIC_ROOT", None)
    out["STATIC_ROOT"] = os.path.abspath(str(static_root)) if static_root else None
    out["MEDIA_URL"] = str(getattr(settings, "MEDIA_URL", "") or "")
    try:
        out["MEDIA_ROOT"] = str(settings.MEDIA_ROOT or "")
        from django.core.files.storage import FileSystemStorage, default_storage

        # The default storage (DEFAULT_FILE_STORAGE, or STORAGES["default"] on Django 4.2+): only a file-system one
        # writes under MEDIA_ROOT (its `location`, MEDIA_ROOT unless OPTIONS say otherwise).
        cls = default_storage.__class__
        local = isinstance(default_storage, FileSystemStorage)
        out["MEDIA_STORAGE"] = {"backend": "%s.%s" % (cls.__module__, cls.__qualname__), "location": os.path.abspath(default_storage.location) if local else None}
    except BaseException as e:
        out["MEDIA_STORAGE"] = {"error": last_line(e)}
    temp = getattr(settings, "FILE_UPLOAD_TEMP_DIR", None)
    out["FILE_UPLOAD_TEMP_DIR"] = os.path.abspath(str(temp)) if temp else None
    lc = getattr(settings, "LOGGING_CONFIG", None)
    out["LOGGING_CONFIG"] = lc if lc is None or isinstance(lc, str) else getattr(lc, "__qualname__", str(lc))
    try:
        out["LOGGING_FILES"] = logging_files(settings)
    except BaseException as e:
        out["LOGGING_FILES"] = {"error": last_line(e)}
    return out


def guarded(fn):
    """fn()'s answer, or {"error": ...}: one part that fails must not lose the others."""
    try:
        return fn()
    except BaseException as e:
        return {"error": last_line(e)}


def secret_key_facts(settings, placeholders):
    from django.core.exceptions import ImproperlyConfigured

    try:
        key = settings.SECRET_KEY
    except ImproperlyConfigured as e:
        return {"set": False, "length": 0, "distinct": 0, "placeholder": None, "error": last_line(e)}
    key = key if isinstance(key, str) else str(key)
    low = key.lower()
    return {"set": bool(key), "length": len(key), "distinct": len(set(key)), "placeholder": next((p for p in placeholders if p in low), None)}


def secrets_in_code(secrets):
    """Project source files (loaded modules outside the Python installation and its packages) that hold a secret
    literally: each file with what it holds and a sha256 of each line holding it (the validator compares those with
    the file's committed version; the secret itself never leaves this process)."""
    import hashlib

    wanted = [(what, value) for what, value in secrets if isinstance(value, str) and len(value) >= 8]
    skip = tuple({os.path.realpath(p).rstrip("/") + "/" for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
    out = []
    for name, mod in list(sys.modules.items()):
        path = getattr(mod, "__file__", None)
        if not path or not path.endswith(".py") or "-packages/" in path or os.path.realpath(path).startswith(skip):
            continue
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                lines = f.read().split("\n")
        except OSError:
            continue
        found = [what for what, value in wanted if any(value in line for line in lines)]
        if found:
            hashes = sorted({hashlib.sha256(line.encode()).hexdigest() for line in lines for _, v in wanted if v in line})
            out.append({"file": os.path.abspath(path), "holds": found, "lineHashes": hashes})
    return out


def migration_files(apps):
    """Each app's migration modules on disk by app label, found without importing the apps (their packages are
    looked up on sys.path, then followed as directories): for the run history's "not applied" list."""
    import importlib.util

    out = {}
    for entry in apps:
        parts = str(entry).split(".")
        try:
            spec = importlib.util.find_spec(parts[0])
        except BaseException:
            continue
        if not spec or not spec.submodule_search_locations:
            continue
        base, label = list(spec.submodule_search_locations)[0], parts[0]
        for p in parts[1:]:  # "apps.suppliers" or "apps.suppliers.apps.SuppliersConfig": stop where directories end
            if not os.path.isdir(os.path.join(base, p)):
                break
            base, label = os.path.join(base, p), p
        try:
            names = os.listdir(os.path.join(base, "migrations"))
        except OSError:
            continue
        out[label] = sorted(n[:-3] for n in names if n.endswith(".py") and n != "__init__.py")
    return out


def package_versions():
    """Versions of the database drivers the venv holds, from their metadata (nothing imported)."""
    from importlib import metadata

    out = {}
    for name in ("psycopg2", "psycopg2-binary", "psycopg"):
        try:
            out[name] = metadata.version(name)
        except BaseException:
            pass
    return out


def settings_facts(settings, placeholders):
    db = settings.DATABASES.get("default", {})
    names = [n for n in dir(settings._wrapped) if n.startswith("SECURE_") or n in SECURE_EXTRA]
    return {
        "module": settings.SETTINGS_MODULE,
        "DEBUG": bool(settings.DEBUG),
        "ALLOWED_HOSTS": [str(h) for h in settings.ALLOWED_HOSTS],
        "SECRET_KEY": secret_key_facts(settings, placeholders),
        # The password too: the validator connects with what the app uses, and masks it in everything it writes.
        "DATABASE": dict(
            {k: str(db.get(k, "") or "") for k in ("ENGINE", "NAME", "HOST", "PORT", "USER", "PASSWORD")},
            OPTIONS={str(k): str(v) for k, v in (db.get("OPTIONS") or {}).items() if isinstance(v, (str, int))},
        ),
        "SECURE": {n: getattr(settings, n) for n in sorted(names)},
        "INSTALLED_APPS": [str(a) for a in settings.INSTALLED_APPS],
        "MIDDLEWARE": [str(m) for m in (getattr(settings, "MIDDLEWARE", None) or [])],
        "migrationFiles": guarded(lambda: migration_files(settings.INSTALLED_APPS)),
        "secretsInCode": secrets_in_code([("SECRET_KEY", getattr(settings, "SECRET_KEY", None)), ("the database password", db.get("PASSWORD"))]),
        **write_facts(settings),
    }


def deploy_check(fail_level):
    """`check --deploy --fail-level LEVEL`: its text, its outcome, and the issues it judged."""
    from django.core import checks
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    seen = []
    plain_run = checks.run_checks

    def recording_run(*args, **kwargs):
        issues = plain_run(*args, **kwargs)
        seen.extend(issues)
        return issues

    checks.run_checks = recording_run
    buf = io.StringIO()
    try:
        call_command("check", deploy=True, fail_level=fail_level, stdout=buf, stderr=buf)
        outcome = "passed"
    except SystemCheckError as e:
        outcome = "failed"
        buf.write(str(e))
    except BaseException as e:
        return {"ran": False, "error": last_line(e, buf.getvalue()), "output": buf.getvalue()[-2000:]}
    finally:
        checks.run_checks = plain_run
    issues = [{"id": i.id, "level": LEVELS.get(i.level, str(i.level)), "msg": str(i.msg), "obj": str(i.obj) if i.obj is not None else None} for i in seen if not i.is_silenced()]
    return {"ran": True, "outcome": outcome, "issues": issues, "output": buf.getvalue()[-4000:]}


def migration_plan(connect_timeout):
    """`showmigrations --plan --skip-checks` output, or why it could not run (the database is down...)."""
    from django.core.management import call_command
    from django.db import connections

    db = connections["default"].settings_dict
    if "postgresql" in db.get("ENGINE", ""):
        # A dead database must not hold this one Python start until its timeout.
        db.setdefault("OPTIONS", {}).setdefault("connect_timeout", connect_timeout)
    buf = io.StringIO()
    try:
        call_command("showmigrations", "--plan", "--skip-checks", stdout=buf, stderr=buf)
        return {"ok": True, "output": buf.getvalue()}
    except BaseException as e:
        return {"ok": False, "error": last_line(e, buf.getvalue())}


def recording_environ_reads():
    # Every name the settings module looks up in os.environ (os.environ[k], .get(k), `k in`, environ.Env, dj-database-url
    # all go through __getitem__): a variable the settings never read is not needed, whatever its name.
    reads = set()
    cls = type(os.environ)
    original = cls.__getitem__

    def recording_getitem(self, key):
        if self is os.environ:
            reads.add(str(key))
        return original(self, key)

    cls.__getitem__ = recording_getitem
    return reads, lambda: setattr(cls, "__getitem__", original)


def django_facts(opts):
    buf = io.StringIO()
    reads, stop_recording = recording_environ_reads()
    try:
        with redirect_stdout(buf), redirect_stderr(buf):
            import django
            from django.conf import settings

            # django.setup() (logging, the app registry, every model: most of a second) only when `check --deploy` or
            # `showmigrations` will run; the settings alone come from Django's own loader either way.
            if opts.get("check", True) or opts.get("migrations", True):
                django.setup()
            else:
                settings.INSTALLED_APPS  # loads the settings module now, so its errors are caught here
    except BaseException as e:  # a settings module may raise anything, even SystemExit
        stop_recording()
        return {"ok": False, "error": last_line(e, buf.getvalue())}
    stop_recording()

    out = {"ok": True, "version": django.get_version(), "envReads": sorted(reads)}
    try:
        out["settings"] = settings_facts(settings, opts["placeholders"])
    except BaseException as e:
        out["settings"] = {"error": last_line(e)}
    out["check"] = deploy_check(opts["failLevel"]) if opts.get("check", True) else None
    out["migrations"] = migration_plan(opts.get("connectTimeout", 5)) if opts.get("migrations", True) else None
    return out


def main():
    opts = json.loads(sys.argv[1])
    real_stdout = sys.stdout
    sink = io.StringIO()
    # Nothing the app prints may land between us and our JSON line.
    with redirect_stdout(sink), redirect_stderr(sink):
        facts = {"python": sys.version.split()[0], "packages": guarded(package_versions)}
        argv = opts.get("gunicornArgv")
        if opts.get("gunicorn", True) or (argv and may_set_environment(argv)):
            facts["gunicorn"] = gunicorn_facts(argv)
        else:  # its config loader costs a tenth of a second or more: only when a check reads it
            facts["gunicorn"] = {"ok": False, "notAsked": True, "version": gunicorn_version(), "error": "gunicorn's config was not asked for"}
        # Not asked (a start for Gunicorn's config alone): an answer that says so, never null (callers read .ok).
        facts["django"] = django_facts(opts) if opts.get("django", True) else {"ok": False, "notAsked": True, "error": "Django was not asked for"}
    real_stdout.write("\n" + MARKER + json.dumps(facts, default=str) + "\n")
    real_stdout.flush()


main()
