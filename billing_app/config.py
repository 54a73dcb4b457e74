"""Settings, read from the environment and checked once at start-up.

Every setting the app knows is listed in ``SETTINGS`` with its parser and what
a valid value looks like, so a bad value is reported as one line that names the
setting and shows the expected shape.  `.env.example` documents the same list.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import psycopg.conninfo


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line for the operator."""


def _database_url(value: str) -> str:
    if "://" in value and not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("the scheme must be postgresql://")
    try:
        psycopg.conninfo.conninfo_to_dict(value)
    except psycopg.ProgrammingError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise ValueError(f"it is not a PostgreSQL connection URL ({reason})") from None
    return value


def redact(value: str) -> str:
    """The value with any password in a URL or conninfo string replaced by ***."""
    value = re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", value)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", value)


def _secret_key(value: str) -> str:
    if len(value) < 32:
        raise ValueError("it is shorter than 32 characters")
    return value


def _stripe_secret_key(value: str) -> str:
    if value.startswith("pk_"):
        raise ValueError("it is a publishable key (pk_...), the app needs the secret key")
    if value.startswith("whsec_"):
        raise ValueError("it is a webhook signing secret (whsec_...), the app needs the API secret key")
    if not re.fullmatch(r"(sk|rk)_(test|live)_[0-9A-Za-z_]+", value):
        raise ValueError("it does not look like a Stripe secret key")
    return value


def parse_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("it must be an absolute URL with http:// or https://")
    if value.endswith("/"):
        raise ValueError("it must not end with a slash")
    if parts.query or parts.fragment:
        raise ValueError("it must not carry a query string or fragment")
    return value


def _portal_configuration(value: str) -> str:
    if not re.fullmatch(r"bpc_[0-9A-Za-z]+", value):
        raise ValueError("it is not a portal configuration id")
    return value


def _role_name(value: str) -> str:
    if value == "none":
        return ""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", value):
        raise ValueError("it is not a plain lower-case role name")
    return value


def _whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError("it is not a whole number") from None


def _positive_int(value: str) -> int:
    number = _whole_number(value)
    if number < 1:
        raise ValueError("it must be 1 or more")
    return number


def _non_negative_int(value: str) -> int:
    number = _whole_number(value)
    if number < 0:
        raise ValueError("it must be 0 or more")
    return number


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("it is not a number") from None
    if number <= 0:
        raise ValueError("it must be more than 0")
    return number


def _rate_limit(value: str) -> str:
    from limits import parse_many
    try:
        parse_many(value)
    except ValueError:
        raise ValueError("it is not a rate limit") from None
    return value


def _storage_uri(value: str) -> str:
    if "://" not in value:
        raise ValueError("it is not a storage URI")
    return value


def _mirror_source(value: str) -> str:
    from billing_app.mirror.source import SOURCE_NAMES
    if value not in SOURCE_NAMES:
        raise ValueError(f"it is not one of {', '.join(SOURCE_NAMES)}")
    return value


def _text(value: str) -> str:
    return value


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    example: str
    required: bool = False
    default: Any = None
    dev_default: Any = None  # used in debug and testing when the setting is not given
    secret: bool = False  # never echoed in messages


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", _database_url,
            "postgresql://billing_app@db.example.com:5432/billing (unset: embedded PostgreSQL)"),
    Setting("REPORTING_DATABASE_URL", _database_url,
            "postgresql://analyst@replica.example.com:5432/billing (unset: DATABASE_URL)"),
    Setting("DATABASE_ROLE", _role_name, "billing_service (none: connect without SET ROLE)",
            default="billing_service"),
    Setting("REPORTING_ROLE", _role_name, "billing_reporting (none: connect without SET ROLE)",
            default="billing_reporting"),
    Setting("REFRESH_ROLE", _role_name, "billing_refresh (none: connect without SET ROLE)",
            default="billing_refresh"),
    Setting("REPORT_MAX_AGE_MINUTES", _positive_int,
            "60 (doctor fails when a precomputed report is older: run `flask report refresh` more often)",
            default=60),
    Setting("STRIPE_MIRROR", _mirror_source,
            "sequin, supabase-sync-engine or stripe-sync-engine (unset: found from the tables)"),
    Setting("DATABASE_POOL_MIN_SIZE", _positive_int, "2", default=2),
    Setting("DATABASE_POOL_MAX_SIZE", _positive_int, "10", default=10),
    Setting("DATABASE_POOL_TIMEOUT", _positive_float, "5 (seconds to wait for a connection)",
            default=5.0),
    Setting("SECRET_KEY", _secret_key,
            "64 random hex characters: python -c 'import secrets; print(secrets.token_hex(32))'",
            required=True, secret=True),
    Setting("SITE_URL", parse_base_url, "https://billing.example.com (no trailing slash)",
            required=True, dev_default="http://127.0.0.1:5000"),
    Setting("STRIPE_SECRET_KEY", _stripe_secret_key,
            "sk_test_... or sk_live_... (Stripe Dashboard > Developers > API keys)", required=True,
            secret=True),
    Setting("STRIPE_API_BASE", parse_base_url, "http://localhost:12111 (stripe-mock; unset: api.stripe.com)"),
    Setting("STRIPE_PORTAL_CONFIGURATION", _portal_configuration,
            "bpc_... (printed by `flask portal configure`)"),
    Setting("STRIPE_TIMEOUT", _positive_float, "10 (seconds per Stripe request)", default=10.0),
    Setting("STRIPE_MAX_NETWORK_RETRIES", _non_negative_int, "2", default=2),
    Setting("PORTAL_RATE_LIMIT", _rate_limit, "10 per minute (portal sessions per user)",
            default="10 per minute"),
    Setting("RATELIMIT_STORAGE_URI", _storage_uri,
            "redis://127.0.0.1:6379/0 (shared by all processes; default memory://, per process)",
            default="memory://"),
    Setting("COMPANY_NAME", _text, "Example Inc.", default="Example Inc."),
    Setting("CONTACT_EMAIL", _text, "billing@example.com", default="billing@example.com"),
)


def load_settings(environ: dict[str, str], *, relaxed: bool = False) -> dict[str, Any]:
    """Parse every known setting from ``environ``.

    ``relaxed`` (debug and testing) lets required settings fall back to
    development values; a malformed value is an error in every mode.
    Raises ConfigError with one line naming the setting and a valid example.
    """
    config: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.name, "").strip()
        if not raw:
            if setting.required and not relaxed:
                raise ConfigError(f"{setting.name} is not set; expected {setting.example}")
            value = setting.dev_default if relaxed and setting.dev_default is not None else setting.default
            if setting.name == "SECRET_KEY" and relaxed:
                value = secrets.token_hex(32)  # a fresh key per process: fine for local runs
            config[setting.name] = value
            continue
        try:
            config[setting.name] = setting.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if setting.secret else repr(redact(raw))
            raise ConfigError(
                f"{setting.name}={shown} is invalid: {exc}; expected {setting.example}"
            ) from None
    if config["DATABASE_POOL_MIN_SIZE"] > config["DATABASE_POOL_MAX_SIZE"]:
        raise ConfigError(
            "DATABASE_POOL_MIN_SIZE is larger than DATABASE_POOL_MAX_SIZE; expected min <= max"
        )
    if config["REPORTING_DATABASE_URL"] is None:
        config["REPORTING_DATABASE_URL"] = config["DATABASE_URL"]
    return config
