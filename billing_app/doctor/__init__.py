"""`flask billing doctor`: what is wrong, and how to fix it.

Each check prints one line, ``OK`` or ``FAIL`` with the fix; the command
exits 1 when any check fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import psycopg
from psycopg import sql

from billing_app.billing import settings, state
from billing_app.config import BY_NAME, parse_base_url, redact
from billing_app.db import DatabaseUnavailable, database
from billing_app.mirror.freshness import last_written
from billing_app.mirror.source import Source, SourceError, detect_source, installed_source, user_key_index, DEFAULT_USER_KEY
from billing_app.reporting.rollups import age_words, rollup_freshness, utc_time
from billing_app.resources import SQL_DIR
from billing_app.stripe_client import key_mode, stripe_api

@dataclass
class Check:
    ok: bool
    subject: str
    detail: str

    def line(self) -> str:
        return f"{'OK  ' if self.ok else 'FAIL'} {self.subject}: {self.detail}"


def check_stripe(config) -> list[Check]:
    import stripe
    key = config.get("STRIPE_SECRET_KEY")
    if not key:
        return [Check(False, "stripe key", "STRIPE_SECRET_KEY is not set: set a sk_test_... or sk_live_... key")]
    mode = key_mode(key)
    client = stripe_api().client
    try:
        listing = client.v1.billing_portal.configurations.list(params={"limit": 100})
        configurations = [c.to_dict() for c in listing.auto_paging_iter()]
    except (stripe.AuthenticationError, stripe.PermissionError):
        return [Check(False, "stripe key", f"Stripe refused the {mode}-mode key: create a new secret key "
                                           "in Dashboard > Developers > API keys and set STRIPE_SECRET_KEY")]
    except stripe.StripeError as exc:
        base = config.get("STRIPE_API_BASE") or "https://api.stripe.com"
        return [Check(False, "stripe key", f"cannot reach Stripe at {base} ({type(exc).__name__}): "
                                           "check the network and STRIPE_API_BASE")]
    checks = [Check(True, "stripe key", f"{mode} mode, accepted by Stripe")]
    configured = config.get("STRIPE_PORTAL_CONFIGURATION")
    if configured:
        checks.append(check_portal_configuration(client, configured, mode))
    else:
        default = next((c for c in configurations if c.get("is_default")), None)
        checks.append(Check(True, "portal configuration", f"STRIPE_PORTAL_CONFIGURATION unset; the default "
                                                          f"{default['id']} is used") if default else
                      Check(False, "portal configuration", f"no portal configuration in {mode} mode: "
                                                           "run `flask portal configure` and set "
                                                           "STRIPE_PORTAL_CONFIGURATION to the printed id"))
    return checks


def check_portal_configuration(client, configuration_id: str, mode: str) -> Check:
    import stripe
    subject = "portal configuration"
    try:
        configuration = client.v1.billing_portal.configurations.retrieve(configuration_id).to_dict()
    except stripe.InvalidRequestError:
        return Check(False, subject, f"{configuration_id} does not exist in {mode} mode: run "
                                     "`flask portal configure` and set STRIPE_PORTAL_CONFIGURATION to the printed id")
    except stripe.StripeError as exc:
        return Check(False, subject, f"cannot read {configuration_id} ({type(exc).__name__})")
    if bool(configuration.get("livemode")) != (mode == "live"):
        other = "live" if configuration.get("livemode") else "test"
        return Check(False, subject, f"{configuration_id} belongs to {other} mode but the key is a {mode}-mode "
                                     "key: use the id printed by `flask portal configure` with this key")
    if not configuration.get("active"):
        return Check(False, subject, f"{configuration_id} is inactive: run `flask portal configure`")
    return Check(True, subject, f"{configuration_id} exists and is active ({mode} mode)")


PLACEHOLDER_DOMAINS = ("example.com", "example.org", "example.net")  # RFC 2606: never a real business


def check_public_details(config) -> Check:
    """What customers read: the company name, the contact address, the legal pages.  Placeholders are
    fine while testing; with a live key they FAIL (customers would see "Example Inc.")."""
    problems = []
    if config["COMPANY_NAME"] == BY_NAME["COMPANY_NAME"].default or "example" in config["COMPANY_NAME"].lower():
        problems.append(f"COMPANY_NAME={config['COMPANY_NAME']!r} is a placeholder")
    domain = config["CONTACT_EMAIL"].rpartition("@")[2].lower()
    if domain in PLACEHOLDER_DOMAINS or domain.endswith(tuple("." + d for d in PLACEHOLDER_DOMAINS)):
        problems.append(f"CONTACT_EMAIL={config['CONTACT_EMAIL']} is a placeholder")
    if state().standalone:
        generic = [name for name in ("TERMS_URL", "PRIVACY_URL") if not config[name]]
        if generic:
            problems.append(f"{' and '.join(generic)} unset: /terms and /privacy show billing_app's generic text")
    if not problems:
        return Check(True, "public details", f"{config['COMPANY_NAME']}, {config['CONTACT_EMAIL']}")
    if key_mode(config.get("STRIPE_SECRET_KEY") or "") != "live":
        return Check(True, "public details", f"{'; '.join(problems)} (fine in test mode; set them before going live)")
    return Check(False, "public details", f"{'; '.join(problems)}: customers see them; set your own")


def check_mail(config) -> Check | None:
    """Built-in accounts mail reset links and address confirmations: MAIL_URL reaches a server that
    takes the login (nothing is sent)."""
    if state().auth_mode != "accounts":
        return None
    url = config["MAIL_URL"]
    live = key_mode(config.get("STRIPE_SECRET_KEY") or "") == "live"
    if not url:
        detail = "MAIL_URL unset: password resets and address confirmations are only written to the log"
        return Check(not live, "mail", detail + ("" if live else " (fine locally)"))
    from billing_app.mail import check_mail_server
    problem = check_mail_server(url)
    if problem:
        return Check(False, "mail", f"{problem}: check MAIL_URL")
    return Check(True, "mail", f"{redact(url)} accepts us")


def check_site_url(config) -> Check:
    site_url = config.get("SITE_URL") or ""
    try:
        parse_base_url(site_url)
    except ValueError as exc:
        return Check(False, "SITE_URL", f"{site_url!r}: {exc}; set e.g. https://billing.example.com")
    if key_mode(config.get("STRIPE_SECRET_KEY") or "") == "live" and not site_url.startswith("https://"):
        return Check(False, "SITE_URL", f"{site_url} is not https but the Stripe key is live: use https")
    return Check(True, "SITE_URL", site_url)


def check_database(max_age: timedelta) -> list[Check]:
    checks: list[Check] = []
    try:
        with database().connection() as conn:
            source_check, source = check_source(conn)
            checks.append(source_check)
            if source is None:
                return checks
            checks.extend(check_table(conn, source, table) for table in source.tables)
            checks.append(check_indexes(conn, source))
            checks.append(check_grants(conn, source))
            checks.append(check_analyst_temporary_objects(conn))
            checks.append(check_schema_updates(conn))
            checks.append(check_freshness(conn, source, max_age))
    except DatabaseUnavailable as exc:
        checks.append(Check(False, "database", f"cannot connect ({exc}): check DATABASE_URL and DATABASE_ROLE"))
    return checks


def check_source(conn: psycopg.Connection) -> tuple[Check, Source | None]:
    """Which mirror the database holds, and whether `flask db init` prepared the app for it."""
    try:
        with conn.transaction():
            source = detect_source(conn, settings()["STRIPE_MIRROR"])
            installed = installed_source(conn)
    except SourceError as exc:
        return Check(False, "mirror source", str(exc)), None
    except psycopg.errors.InsufficientPrivilege:
        role = settings()["DATABASE_ROLE"] or "the app's login"
        return Check(False, "mirror source", f'{role} cannot read schema "stripe": run `flask db init`'), None
    if installed != source.name:
        prepared = f"prepared for {installed}" if installed else "not prepared"
        return Check(False, "mirror source", f"{source.label} ({source.name}), but the app is {prepared}: "
                                             "run `flask db init`"), source
    return Check(True, "mirror source", f"{source.label} ({source.name})"), source


def check_table(conn: psycopg.Connection, source: Source, table: str) -> Check:
    subject = f"stripe.{table}"
    query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {}) AS has_rows").format(sql.Identifier("stripe", table))
    try:
        with conn.transaction():
            has_rows = conn.execute(query).fetchone()["has_rows"]
    except psycopg.errors.UndefinedTable:
        return Check(False, subject, f"does not exist: it is created by {source.made_by}")
    except psycopg.errors.InsufficientPrivilege:
        role = settings()["DATABASE_ROLE"] or "the app's login"
        return Check(False, subject, f"not readable by {role}: run `flask db init`")
    if not has_rows:
        return Check(False, subject, "is empty: has the sync service finished its first backfill?")
    return Check(True, subject, "readable, has rows")


def required_indexes(source: Source, user_key: str = DEFAULT_USER_KEY) -> list[str]:
    """The lookup indexes the source's adapter creates on its tables (sql/sources/<name>/020_indexes.sql),
    and the one for ``user_key`` (STRIPE_CUSTOMER_USER_KEY) when it is not user_id."""
    text = (SQL_DIR / "sources" / source.name / "020_indexes.sql").read_text()
    index = user_key_index(source, user_key)
    return re.findall(r"CREATE INDEX IF NOT EXISTS (\w+)", text) + ([index[0]] if index else [])


def check_indexes(conn: psycopg.Connection, source: Source) -> Check:
    """Each lookup index exists and is valid (a failed CREATE INDEX CONCURRENTLY leaves an invalid one)."""
    present = {row["name"]: row["valid"] for row in conn.execute(
        """SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE c.relnamespace = 'stripe'::regnamespace""")}
    wanted = required_indexes(source, settings()["STRIPE_CUSTOMER_USER_KEY"])
    missing = [name for name in wanted if name not in present]
    invalid = [name for name in wanted if present.get(name) is False]
    if missing:
        return Check(False, "mirror indexes", f"missing {', '.join(missing)}: run `flask db init`")
    if invalid:
        return Check(False, "mirror indexes", f"{', '.join(invalid)} invalid (a CREATE INDEX CONCURRENTLY "
                                              "that failed): DROP INDEX stripe.<name>, then `flask db init`")
    return Check(True, "mirror indexes", f"all {len(wanted)} present")


READ_ROLES = ("billing_service", "billing_reporting")


def check_grants(conn: psycopg.Connection, source: Source) -> Check:
    """Both roles read exactly the source's tables in schema stripe: all of them, and nothing else
    (the engines keep webhook secrets and API key hashes beside the Stripe objects)."""
    rows = conn.execute(
        """SELECT r.rolname AS role, c.relname AS table_name, c.relname = ANY(%(tables)s) AS wanted,
                  has_table_privilege(r.oid, c.oid, 'SELECT') AS readable
             FROM pg_class c CROSS JOIN pg_roles r
            WHERE c.relnamespace = 'stripe'::regnamespace AND c.relkind IN ('r', 'v', 'p')
              AND r.rolname = ANY(%(roles)s)""",
        {"tables": list(source.tables), "roles": list(READ_ROLES)}).fetchall()
    missing = sorted({f"{r['role']} cannot read stripe.{r['table_name']}" for r in rows
                      if r["wanted"] and not r["readable"]})
    extra = sorted({f"{r['role']} can read stripe.{r['table_name']}" for r in rows
                    if not r["wanted"] and r["readable"]})
    if len({r["role"] for r in rows}) < len(READ_ROLES):
        return Check(False, "mirror grants", "the roles billing_service and billing_reporting are missing: "
                                             "run `flask db init`")
    if missing:
        return Check(False, "mirror grants", f"{'; '.join(missing)}: run `flask db init`")
    if extra:
        return Check(False, "mirror grants", f"{'; '.join(extra)}, which the app does not need: REVOKE SELECT "
                                             "on it (or run `flask db init`, which revokes it)")
    return Check(True, "mirror grants", f"{' and '.join(READ_ROLES)} read exactly the {len(source.tables)} "
                                        "tables the adapter needs")


def check_schema_updates(conn: psycopg.Connection) -> Check:
    """Every dated update in sql/updates/ is applied (a new version installed without `flask db upgrade`
    runs on tables it does not expect)."""
    from billing_app.schema import UPDATES_DIR, pending_updates
    pending = pending_updates(conn)
    if pending:
        return Check(False, "schema updates", f"{len(pending)} not applied ({', '.join(pending)}): "
                                              "run `flask db upgrade`")
    return Check(True, "schema updates", f"all {len(list(UPDATES_DIR.glob('*.sql')))} applied")


def check_analyst_temporary_objects(conn: psycopg.Connection) -> Check:
    """Analysts cannot create temporary objects (a function of their own in pg_temp is how one peeks
    past a view's filter; sql/030_roles.sql takes the privilege away)."""
    row = conn.execute("SELECT has_database_privilege('billing_reporting', current_database(), 'TEMPORARY') "
                       "AS can, current_database() AS db").fetchone()
    if row["can"]:
        return Check(False, "reporting role", f"billing_reporting can create temporary objects in {row['db']} "
                                              "(every role may): run `flask db init` as the database's owner")
    return Check(True, "reporting role", "billing_reporting cannot create temporary objects")


def check_freshness(conn: psycopg.Connection, source: Source, max_age: timedelta) -> Check:
    """The newest row: when the sync service wrote it where the source records that, else its created time."""
    try:
        with conn.transaction():
            newest = last_written(conn, source_records_sync_time=source.synced_at_column is not None)
    except psycopg.Error as exc:
        return Check(False, "mirror freshness", f"cannot read the mirror ({str(exc).splitlines()[0]}): "
                                                "run `flask db init`")
    if newest is None:
        return Check(False, "mirror freshness", "no mirrored rows yet: check the sync service")
    age = datetime.now(timezone.utc) - newest
    what = f"last synced row ({source.synced_at_column})" if source.synced_at_column else "newest mirrored row"
    detail = f"{what} is from {utc_time(newest)} ({age_words(age)} ago)"
    if age > max_age:
        return Check(False, "mirror freshness", f"{detail}: check that the sync service is running")
    return Check(True, "mirror freshness", detail)


def check_reports(max_age: timedelta) -> Check:
    """The precomputed reports on the primary (the app's own connection): refreshed, and recently."""
    subject = "precomputed reports"
    try:
        with database().connection() as conn:
            freshness = rollup_freshness(conn)
    except DatabaseUnavailable as exc:
        return Check(False, subject, f"cannot read reporting.rollup_freshness ({exc}): run `flask db init`")
    if not freshness:
        return Check(False, subject, "none found: run `flask db init`")
    never = [name for name, f in freshness.items() if f.refreshed_at is None]
    if never:
        return Check(False, subject, f"never refreshed: {', '.join(never)}: run `flask report refresh`, "
                                     "and schedule it (README, Reporting)")
    oldest = max(freshness.values(), key=lambda f: f.age)
    detail = f"{len(freshness)} reports, {oldest.words()}"
    if oldest.age > max_age:
        return Check(False, subject, f"{detail}: older than REPORT_MAX_AGE_MINUTES="
                                     f"{max_age.total_seconds() / 60:.0f}; is the scheduled "
                                     "`flask report refresh` running?")
    return Check(True, subject, detail)


def built_in_accounts() -> int:
    """How many built-in accounts the database holds (0 when it cannot be read: other checks say why)."""
    try:
        with database().connection() as conn:
            return conn.execute("SELECT count(*) AS n FROM billing_app.users").fetchone()["n"]
    except (DatabaseUnavailable, psycopg.Error):
        return 0


def check_sign_in() -> Check:
    """Who signs users in (AUTH_MODE), and for tokens whether the provider's keys can be fetched."""
    billing = state()
    mode, config = billing.auth_mode, billing.settings
    if mode == "accounts":
        return Check(True, "sign-in", "billing_app's built-in accounts (AUTH_MODE=accounts)")
    built_in = built_in_accounts()
    if built_in:
        return Check(False, "sign-in", f"AUTH_MODE={mode}, but billing_app.users holds {built_in} built-in "
                                       "account(s): Stripe customers linked to their ids ('1', '2'...) would "
                                       "belong to whoever signs in with the same id. Relink those customers, "
                                       "then DELETE FROM billing_app.users; or keep AUTH_MODE=accounts")
    if mode == "host":
        return Check(True, "sign-in", "the host app's Flask-Login users (AUTH_MODE=host)")
    checks = [f"audience {config['JWT_AUDIENCE']}" if config["JWT_AUDIENCE"] else "any audience",
              f"issuer {config['JWT_ISSUER']}" if config["JWT_ISSUER"] else "any issuer"]
    if config["JWT_SECRET"]:
        return Check(True, "sign-in", f"HS256 tokens checked with JWT_SECRET, {', '.join(checks)}")
    if billing.verifier is not None:
        key_set = billing.verifier.key_set
    else:  # the app of a `flask` command sets no sign-in up
        from billing_app.identity.tokens import TokenVerifier
        key_set = TokenVerifier.from_settings(config).key_set
    try:
        keys = key_set._fetch()
    except Exception as exc:  # noqa: BLE001  whatever stops the fetch is what the operator needs to see
        return Check(False, "sign-in", f"cannot fetch the signing keys from JWT_JWKS_URL={key_set.url} "
                                       f"({type(exc).__name__}: {exc}): check the URL and that this server can "
                                       "reach it")
    return Check(True, "sign-in", f"{len(keys)} signing key{'' if len(keys) == 1 else 's'} "
                                  f"({', '.join(str(k) for k in keys)}) from JWT_JWKS_URL, {', '.join(checks)}")
