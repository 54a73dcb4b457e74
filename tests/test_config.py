"""Settings: every missing or malformed one stops start-up with one line naming it."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from billing_app import require_server_settings
from billing_app.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent

VALID = {
    "DATABASE_URL": "postgresql://billing@localhost:5432/billing",
    "SECRET_KEY": "a" * 64,
    "STRIPE_SECRET_KEY": "sk_test_51Habcdef",
    "SITE_URL": "https://billing.example.com",
}


def test_valid_settings_are_parsed_with_defaults():
    config = load_settings(VALID)
    assert config["SITE_URL"] == "https://billing.example.com"
    assert config["REPORTING_DATABASE_URL"] == VALID["DATABASE_URL"]
    assert config["DATABASE_ROLE"] == "billing_service"
    assert config["STRIPE_TIMEOUT"] == 8.0
    assert config["STRIPE_PORTAL_CONFIGURATION"] is None


@pytest.mark.parametrize("name, value, message", [
    ("STRIPE_SECRET_KEY", "pk_test_51Habc",
     "STRIPE_SECRET_KEY=(hidden) is invalid: it is a publishable key (pk_...), the app needs "
     "the secret key; expected sk_test_... or sk_live_... (Stripe Dashboard > Developers > API keys)"),
    ("STRIPE_SECRET_KEY", "whsec_abc", "it is a webhook signing secret"),
    ("STRIPE_SECRET_KEY", "hello", "it does not look like a Stripe secret key"),
    ("SITE_URL", "https://billing.example.com/",
     "SITE_URL='https://billing.example.com/' is invalid: it must not end with a slash; "
     "expected https://billing.example.com (no trailing slash)"),
    ("SITE_URL", "billing.example.com", "SITE_URL='billing.example.com' is invalid: it must be an absolute URL"),
    ("SITE_URL", "https://billing.example.com?x=1", "it must not carry a query string"),
    ("STRIPE_API_BASE", "localhost:12111", "STRIPE_API_BASE='localhost:12111' is invalid"),
    ("STRIPE_PORTAL_CONFIGURATION", "pc_123", "it is not a portal configuration id; expected bpc_..."),
    ("DATABASE_URL", "mysql://x@y/z", "DATABASE_URL='mysql://x@y/z' is invalid"),
    ("DATABASE_URL", "host=localhost port", "it is not a PostgreSQL connection URL"),
    ("SECRET_KEY", "short", "SECRET_KEY=(hidden) is invalid: it is shorter than 32 characters"),
    ("STRIPE_TIMEOUT", "soon", "STRIPE_TIMEOUT='soon' is invalid: it is not a number"),
    ("DATABASE_POOL_MAX_SIZE", "0", "it must be 1 or more"),
    ("DATABASE_ROLE", "Robert'); DROP", "it is not a plain lower-case role name"),
])
def test_malformed_setting_is_named_with_a_valid_example(name, value, message):
    with pytest.raises(ConfigError) as excinfo:
        load_settings({**VALID, name: value})
    assert message in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


@pytest.mark.parametrize("name", ["SECRET_KEY", "STRIPE_SECRET_KEY", "SITE_URL"])
def test_missing_server_setting_fails_outside_debug(name):
    settings = load_settings({k: v for k, v in VALID.items() if k != name})
    with pytest.raises(ConfigError, match=f"^{name} is not set; expected "):
        require_server_settings(settings, relaxed=False)


def test_every_malformed_setting_is_named_at_once():
    with pytest.raises(ConfigError) as excinfo:
        load_settings({**VALID, "SITE_URL": "nope", "STRIPE_TIMEOUT": "soon", "AUTH_MODE": "magic"})
    lines = str(excinfo.value).splitlines()
    assert lines[0] == "3 settings need attention:"
    assert [line.split("=")[0] for line in lines[1:]] == ["  - SITE_URL", "  - STRIPE_TIMEOUT", "  - AUTH_MODE"]


def test_server_start_names_every_missing_setting_at_once(tmp_path):
    result = run_app_start(tmp_path, {"DATABASE_URL": VALID["DATABASE_URL"]})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "billing_app: 3 settings need attention:",
        "  - SECRET_KEY is not set; expected 64 random hex characters: "
        "python -c 'import secrets; print(secrets.token_hex(32))'",
        "  - SITE_URL is not set; expected https://billing.example.com (no trailing slash)",
        "  - STRIPE_SECRET_KEY is not set; expected sk_test_... or sk_live_... "
        "(Stripe Dashboard > Developers > API keys)"]


def run_flask(tmp_path, env, *args, stdout=subprocess.PIPE):
    """`flask ARGS` in a process of its own with only ``env``'s settings; ``stdout``: where its output goes
    (read into the result unless told)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "STRIPE_", "SITE_URL",
                                                                       "DATABASE_", "SECRET_KEY", "JWT_"))}
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE,
                          text=True,
                          env={**clean, "FLASK_SKIP_DOTENV": "1", "PYTHONPATH": str(ROOT),
                               "FLASK_APP": "billing_app:create_app(cli=True)",
                               "INSTANCE_PATH": str(tmp_path / "instance"), **env}, timeout=120)


def test_flask_help_works_with_nothing_set_and_starts_no_database(tmp_path):
    result = run_flask(tmp_path, {}, "--help")
    assert result.returncode == 0, result.stderr
    assert "report" in result.stdout and "db" in result.stdout
    assert not (tmp_path / "instance").exists()  # no embedded PostgreSQL was started for --help


def test_flask_app_named_as_the_package_runs_commands_on_a_new_database(tmp_path, scratch_database):
    """An installed wheel has no .flaskenv: `flask --app billing_app db init` (create_app() as Flask finds
    it, with no argument) runs the command instead of checking the new database as a server would
    ("run `flask db init`")."""
    server_settings = {"SECRET_KEY": "k" * 40, "SITE_URL": "https://billing.example", "STRIPE_SECRET_KEY": "sk_test_x"}
    for env in ({"DATABASE_URL": scratch_database}, {"DATABASE_URL": scratch_database, **server_settings}):
        with psycopg.connect(scratch_database, autocommit=True) as conn:
            conn.execute("DROP SCHEMA IF EXISTS billing_app, billing_mirror, stripe, reporting, reporting_live, "
                         "reporting_rollups CASCADE")
        result = run_flask(tmp_path, {**env, "FLASK_APP": ""}, "--app", "billing_app", "db", "init", "--mirror")
        assert result.returncode == 0, result.stderr[-2000:]
        assert "run `flask db init`" not in result.stderr
        result = run_flask(tmp_path, {**env, "FLASK_APP": ""}, "--app", "billing_app", "report", "list")
        assert result.returncode == 0, result.stderr[-2000:]
        assert "mrr_summary" in result.stdout


def test_a_teams_factory_around_create_app_keeps_the_pages_for_its_own_commands(tmp_path, database_url):
    """A team's `flask --app theirs notify` makes billing_app's app to find its command: only .flaskenv's
    cli=True leaves the pages out (for billing_app's own commands), so the team's command has them."""
    (tmp_path / "theirs.py").write_text(
        "from billing_app import create_app\n\ndef make():\n    app = create_app()\n\n"
        "    @app.cli.command('notify')\n    def notify():\n"
        "        print('pages' if 'billing.account.account' in app.view_functions else 'no pages')\n\n"
        "    return app\n")
    result = run_flask(tmp_path, {"DATABASE_URL": database_url, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}",
                                  "FLASK_APP": ""}, "--app", "theirs:make()", "notify")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "pages"


def test_an_app_built_by_another_click_program_is_checked_as_a_server(tmp_path, database_url):
    """uvicorn, a worker or a team's own `serve` script are click programs too: only the `flask` command
    makes the app of one of billing_app's commands, without the server's checks."""
    code = ("import click\nfrom billing_app import create_app\n"
            "@click.command()\ndef serve():\n    create_app()\n    print('built')\nserve()\n")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "STRIPE_", "SITE_URL", "DATABASE_",
                                                                       "SECRET_KEY", "JWT_"))}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**clean, "FLASK_SKIP_DOTENV": "1", "PYTHONPATH": str(ROOT),
                                 "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance")})
    assert result.returncode != 0 and "built" not in result.stdout
    assert "billing_app: 3 settings need attention:" in result.stderr, result.stderr[-2000:]


def test_flask_run_without_debug_refuses_to_serve_without_the_server_settings(tmp_path, database_url):
    """`flask run` serves pages like wsgi.py does: without SECRET_KEY, SITE_URL and the Stripe key it
    stops in one line instead of answering every page with a 500 (and /healthz with 200)."""
    result = run_flask(tmp_path, {"DATABASE_URL": database_url}, "run", "--port", "0")
    assert result.returncode != 0
    assert "billing_app: 3 settings need attention:" in result.stderr, result.stderr[-2000:]
    for name in ("SECRET_KEY", "SITE_URL", "STRIPE_SECRET_KEY"):
        assert f"- {name} is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_report_command_needs_only_the_reporting_database(tmp_path, database_url):
    """No SECRET_KEY, SITE_URL or Stripe key: `flask report list` still runs on the reporting database."""
    result = run_flask(tmp_path, {"REPORTING_DATABASE_URL": database_url, "DATABASE_URL": database_url},
                       "report", "list")
    assert result.returncode == 0, result.stderr
    assert "mrr_summary" in result.stdout


def test_report_commands_start_without_loading_what_only_pages_and_payments_use(tmp_path, database_url):
    """`flask report` starts without stripe-python, the password checker, the email address checker or
    the mail header parser, even with a Stripe key set, and without the pages, the other commands or
    what only requests use (analysts run it often; the pages load those when they first need them)."""
    result = run_flask(tmp_path, {"DATABASE_URL": database_url, "STRIPE_SECRET_KEY": "sk_test_x",
                                  "PYTHONPROFILEIMPORTTIME": "1"}, "report", "list")
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "billing_app.reporting.commands" in imported
    page_only = {"stripe", "zxcvbn", "requests", "email_validator", "email.headerregistry",
                 "flask_login", "flask_wtf", "wtforms", "babel", "limits", "billing_app.blueprint",
                 "billing_app.identity", "billing_app.account", "billing_app.auth", "billing_app.plans",
                 "billing_app.portal", "billing_app.demo", "billing_app.doctor", "billing_app.rate_limits"}
    assert not imported & page_only, sorted(imported & page_only)


def test_every_command_runs_in_the_app_made_for_commands(tmp_path, database_url, stripe_api):
    """`flask <command>` makes the app without its pages: each command group still finds what it uses."""
    env = {"DATABASE_URL": database_url, "STRIPE_SECRET_KEY": "sk_test_x",
           "STRIPE_API_BASE": stripe_api.url_for("").rstrip("/")}
    upgrade = run_flask(tmp_path, env, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr[-2000:]
    created = run_flask(tmp_path, env, "users", "create", "ops@example.com", "--password", "a long password 7")
    assert created.returncode == 0 and created.stdout.startswith("created user "), created.stderr[-2000:]
    doctor = run_flask(tmp_path, env, "billing", "doctor")  # fails its checks here, without a traceback
    assert doctor.returncode == 1 and "check(s) failed" in doctor.stdout, doctor.stderr[-2000:]
    assert "Traceback" not in doctor.stderr
    assert run_flask(tmp_path, env, "report", "list").returncode == 0
    routes = run_flask(tmp_path, env, "routes")  # a built-in command that needs the pages gets them
    assert routes.returncode == 0 and "/account" in routes.stdout, routes.stderr[-2000:]


def test_portal_configure_names_the_settings_it_lacks(tmp_path, database_url):
    result = run_flask(tmp_path, {"DATABASE_URL": database_url}, "portal", "configure")
    assert result.returncode != 0
    assert "SITE_URL is not set" in result.stderr and "STRIPE_SECRET_KEY is not set" in result.stderr


def test_debug_fills_in_development_values_but_still_rejects_malformed_ones():
    config = load_settings({}, relaxed=True)
    assert config["SITE_URL"] == "http://127.0.0.1:5000"
    assert len(config["SECRET_KEY"]) == 64
    assert config["STRIPE_SECRET_KEY"] is None
    with pytest.raises(ConfigError, match="publishable key"):
        load_settings({"STRIPE_SECRET_KEY": "pk_live_x"}, relaxed=True)


def test_secret_values_never_appear_in_the_message():
    with pytest.raises(ConfigError) as excinfo:
        load_settings({**VALID, "SECRET_KEY": "hunter2"})
    assert "hunter2" not in str(excinfo.value)


def run_app_start(tmp_path, env):
    """Start the app in a fresh process as gunicorn would (import wsgi)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "STRIPE_", "SITE_URL",
                                                                       "DATABASE_", "SECRET_KEY"))}
    return subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, capture_output=True, text=True,
                          env={**clean, "FLASK_SKIP_DOTENV": "1", "PYTHONPATH": str(ROOT), **env}, timeout=60)


def test_start_up_with_publishable_key_exits_with_one_clear_line(tmp_path):
    result = run_app_start(tmp_path, {**VALID, "STRIPE_SECRET_KEY": "pk_live_abc"})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "billing_app: STRIPE_SECRET_KEY=(hidden) is invalid: it is a publishable key (pk_...), "
        "the app needs the secret key; expected sk_test_... or sk_live_... "
        "(Stripe Dashboard > Developers > API keys)"]


def test_start_up_with_site_url_without_scheme_exits_with_one_clear_line(tmp_path):
    result = run_app_start(tmp_path, {**VALID, "SITE_URL": "billing.example.com"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("billing_app: SITE_URL='billing.example.com' is invalid")


def test_start_up_with_unreachable_database_exits_with_one_clear_line(tmp_path):
    result = run_app_start(tmp_path, {**VALID, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("billing_app: cannot connect to DATABASE_URL")
    assert "check that PostgreSQL is running" in lines[0]


def test_start_up_on_database_without_schema_says_to_run_db_init(tmp_path, postgres_server_url, database_url):
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo
    name = f"billing_app_test_empty_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_conninfo(postgres_server_url, dbname=name)
        # the mirror is there (sync service ran), the app's schema is not
        with psycopg.connect(url, autocommit=True) as conn:
            from billing_app.schema import SQL_DIR
            conn.execute((SQL_DIR / "010_stripe_mirror.sql").read_text())
        result = run_app_start(tmp_path, {**VALID, "DATABASE_URL": url, "DATABASE_ROLE": "none"})
        assert result.returncode != 0
        assert result.stderr.strip().splitlines() == [
            "billing_app: the database has no billing_app schema: run `flask db init`"], result.stderr
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_start_up_on_a_good_database_succeeds(tmp_path, database_url):
    result = run_app_start(tmp_path, {**VALID, "DATABASE_URL": database_url})
    assert result.returncode == 0, result.stderr


def test_database_password_is_redacted_in_the_message():
    with pytest.raises(ConfigError) as excinfo:
        load_settings({**VALID, "DATABASE_URL": "mysql://app:s3cret@db/billing"})
    assert "s3cret" not in str(excinfo.value)
    assert "mysql://app:***@db/billing" in str(excinfo.value)
