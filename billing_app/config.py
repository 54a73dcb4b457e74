"""Settings, read from the environment (or a host app's config) and checked where they are used.

Every setting the app knows is listed in ``SETTINGS`` with its parser and what
a valid value looks like, so a bad value is reported as one line that names the
setting and shows the expected shape.  `.env.example` documents the same list.

``load_settings`` parses what is set and reports every malformed value at
once; whether a setting must be set depends on what runs, so the server and
each command call ``require`` with the settings they use (``flask --help`` and
``flask report`` need no web secret or Stripe key).
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import psycopg.conninfo


class ConfigError(ValueError):
    """Settings are missing or malformed: one line per problem, all of them at once."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} settings need attention:\n" + "\n".join(
                f"  - {problem}" for problem in self.problems)
        super().__init__(message)


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


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError("it is not a number") from None
    if not math.isfinite(number):
        raise ValueError("it is not a finite number")
    return number


def _positive_float(value: str) -> float:
    number = _number(value)
    if number <= 0:
        raise ValueError("it must be more than 0")
    return number


def _non_negative_float(value: str) -> float:
    number = _number(value)
    if number < 0:
        raise ValueError("it must be 0 or more")
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


AUTH_MODES = ("accounts", "jwt", "host")


def _auth_mode(value: str) -> str:
    if value not in AUTH_MODES:
        raise ValueError(f"it is not one of {', '.join(AUTH_MODES)}")
    return value


def _metadata_key(value: str) -> str:
    # Stripe metadata keys: at most 40 characters, no square brackets
    if not re.fullmatch(r"[A-Za-z0-9_.:-]{1,40}", value):
        raise ValueError("it is not a Stripe metadata key (up to 40 letters, digits, _ . : -)")
    return value


def _jwt_secret(value: str) -> str:
    if len(value) < 32:
        raise ValueError("it is shorter than 32 characters (HS256 needs a long shared secret)")
    return value


def _key_set_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("it must be an absolute https:// URL")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ValueError("it must be https:// (keys fetched over plain http can be swapped on the way)")
    return value


def _claim_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_:./-]{1,100}", value):
        raise ValueError("it is not a claim name")
    return value


def _cookie_name(value: str) -> str:
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}", value):
        raise ValueError("it is not a cookie name")
    return value


def _login_url(value: str) -> str:
    if value.startswith("/") and not value.startswith("//"):
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("it must be a path on this site (/login) or an absolute http(s) URL")
    return value


def _origins(value: str) -> tuple[str, ...]:
    origins = tuple(part.strip() for part in value.split(",") if part.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], nothing after)")
    return origins


MAIL_SCHEMES = ("smtp", "smtps", "smtp+starttls")


def _mail_url(value: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 a bad port raises here
    except ValueError:
        raise ValueError("its port is not a number from 0 to 65535") from None
    if parts.scheme not in MAIL_SCHEMES or not parts.hostname:
        raise ValueError(f"it must be {' or '.join(s + '://' for s in MAIL_SCHEMES)} with a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("it must be scheme://[user:password@]host[:port], nothing after")
    return value


def _url_prefix(value: str) -> str:
    if value == "/":
        return ""
    if not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
        raise ValueError("it must be a path such as /billing (no trailing slash)")
    return value


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    example: str
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
            secret=True),
    Setting("SITE_URL", parse_base_url, "https://billing.example.com (no trailing slash)",
            dev_default="http://127.0.0.1:5000"),
    Setting("STRIPE_SECRET_KEY", _stripe_secret_key,
            "sk_test_... or sk_live_... (Stripe Dashboard > Developers > API keys)", secret=True),
    Setting("STRIPE_API_BASE", parse_base_url, "http://localhost:12111 (stripe-mock; unset: api.stripe.com)"),
    Setting("STRIPE_PORTAL_CONFIGURATION", _portal_configuration,
            "bpc_... (printed by `flask portal configure`)"),
    Setting("STRIPE_TIMEOUT", _positive_float, "8 (seconds per Stripe request)", default=8.0),
    Setting("STRIPE_MAX_NETWORK_RETRIES", _non_negative_int, "2", default=2),
    Setting("WORKER_TIMEOUT", _non_negative_float,
            "30 (seconds the server gives one request, gunicorn's timeout; 0: no limit): one Stripe call at its "
            "worst must fit, and a call that could not end in time is not started", default=30.0),
    Setting("STRIPE_MAX_CONCURRENT_CALLS", _positive_int,
            "8 (Stripe calls in flight per process; past it 503 at once, so threads stay free for pages)",
            default=8),
    Setting("PORTAL_RATE_LIMIT", _rate_limit, "10 per minute (portal sessions and checkouts per user)",
            default="10 per minute"),
    Setting("API_RATE_LIMIT", _rate_limit, "120 per minute (JSON summary calls per user)",
            default="120 per minute"),
    Setting("MAIL_RATE_LIMIT", _rate_limit,
            "5 per hour (mails: confirmations per account and per new address, resets per address and asking "
            "address)", default="5 per hour"),
    Setting("SIGN_IN_RATE_LIMIT", _rate_limit,
            "10 per minute;50 per hour (failed sign-in tries per email and address; a success clears them)",
            default="10 per minute;50 per hour"),
    Setting("SIGN_IN_IP_RATE_LIMIT", _rate_limit, "30 per minute (sign-in tries per address)",
            default="30 per minute"),
    Setting("SIGN_UP_RATE_LIMIT", _rate_limit, "10 per hour (new accounts per address)", default="10 per hour"),
    Setting("TRUSTED_PROXY_COUNT", _non_negative_int,
            "1 (proxies in front of the app that set X-Forwarded-For/-Proto; 0: none, the peer is the client)",
            default=0),
    Setting("RATELIMIT_STORAGE_URI", _storage_uri,
            "redis://127.0.0.1:6379/0 (shared by all processes; default memory://, per process)",
            default="memory://"),
    Setting("AUTH_MODE", _auth_mode,
            "accounts (built-in sign-in), jwt (the identity provider's tokens) or host (mounted: the host's "
            "Flask-Login user)"),
    Setting("STRIPE_CUSTOMER_USER_KEY", _metadata_key,
            "user_id (the Stripe customer metadata key that holds your user id)", default="user_id"),
    Setting("JWT_SECRET", _jwt_secret, "the identity provider's HS256 secret (Supabase: the legacy JWT secret)",
            secret=True),
    Setting("JWT_JWKS_URL", _key_set_url,
            "https://<project>.supabase.co/auth/v1/.well-known/jwks.json (RS256/ES256 keys)"),
    Setting("JWT_AUDIENCE", _text, "authenticated (the aud claim tokens must carry)"),
    Setting("JWT_ISSUER", _text, "https://<project>.supabase.co/auth/v1 (the iss claim tokens must carry)"),
    Setting("JWT_USER_CLAIM", _claim_name, "sub (the claim holding the user id)", default="sub"),
    Setting("JWT_COOKIE", _cookie_name,
            "sb-<project>-auth-token (a cookie holding the token; unset: Authorization header only)"),
    Setting("LOGIN_URL", _login_url, "https://app.example.com/login (where pages send a signed-out user)"),
    Setting("CORS_ORIGINS", _origins, "https://app.example.com,https://www.example.com (may call the JSON API)",
            default=()),
    Setting("URL_PREFIX", _url_prefix, "/billing (where a host app mounts billing_app's pages)"),
    Setting("RATELIMIT_KEY_PREFIX", _text, "billing_app (keeps apps sharing one Redis apart)",
            default="billing_app"),
    Setting("STRIPE_CUSTOM_DOMAINS", _origins,
            "https://pay.example.com (your Stripe custom domains for Checkout and the portal: forms may go there)",
            default=()),
    Setting("CONTENT_SECURITY_POLICY", _text,
            "default-src 'self'; ... (unset: billing_app's strict policy standalone, none when mounted; "
            "none: no header)"),
    Setting("MAX_CONTENT_LENGTH", _positive_int,
            "65536 (bytes a request body may have; larger answers 413)", default=64 * 1024),
    Setting("MAIL_URL", _mail_url,
            "smtp+starttls://user:password@smtp.example.com:587 (smtps:// for TLS from the start, smtp:// for "
            "none; built-in accounts mail password resets and address checks; unset: mails go to the log)"),
    Setting("MAIL_FROM", _text, "Example Inc. <billing@example.com> (unset: COMPANY_NAME <CONTACT_EMAIL>)"),
    Setting("TERMS_URL", parse_base_url,
            "https://example.com/terms (your terms of service; unset: billing_app's generic /terms page)"),
    Setting("PRIVACY_URL", parse_base_url,
            "https://example.com/privacy (your privacy policy; unset: billing_app's generic /privacy page)"),
    Setting("COMPANY_NAME", _text, "Example Inc.", default="Example Inc."),
    Setting("CONTACT_EMAIL", _text, "billing@example.com", default="billing@example.com"),
)


BY_NAME = {setting.name: setting for setting in SETTINGS}


def load_settings(environ: Mapping[str, Any], *, relaxed: bool = False, prefix: str = "") -> dict[str, Any]:
    """Parse every known setting from ``environ`` (names with ``prefix`` in front, such as BILLING_).

    ``relaxed`` (debug and testing) fills in development values for SITE_URL
    and SECRET_KEY; a malformed value is an error in every mode.  Nothing is
    required here (see ``require``).  Raises ConfigError naming every
    malformed setting, each with a valid example.
    """
    config: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        raw = environ.get(prefix + setting.name)
        raw = "" if raw is None else str(raw).strip()
        if not raw:
            value = setting.dev_default if relaxed and setting.dev_default is not None else setting.default
            if setting.name == "SECRET_KEY" and relaxed:
                value = secrets.token_hex(32)  # a fresh key per process: fine for local runs
            config[setting.name] = value
            continue
        try:
            config[setting.name] = setting.parse(raw)
        except ValueError as exc:
            shown = "(hidden)" if setting.secret else repr(redact(raw))
            problems.append(f"{prefix}{setting.name}={shown} is invalid: {exc}; expected {setting.example}")
            config[setting.name] = None
    if (config["DATABASE_POOL_MIN_SIZE"] or 0) > (config["DATABASE_POOL_MAX_SIZE"] or 10 ** 6):
        problems.append(f"{prefix}DATABASE_POOL_MIN_SIZE is larger than {prefix}DATABASE_POOL_MAX_SIZE; "
                        "expected min <= max")
    if config["JWT_SECRET"] and config["JWT_JWKS_URL"]:
        problems.append(f"{prefix}JWT_SECRET and {prefix}JWT_JWKS_URL are both set; expected one of them "
                        "(HS256 tokens with the secret, or RS256/ES256 tokens with the key set)")
    if problems:
        raise ConfigError(problems)
    if config["REPORTING_DATABASE_URL"] is None:
        config["REPORTING_DATABASE_URL"] = config["DATABASE_URL"]
    return config


def prefixed(message: str, prefix: str) -> str:
    """``message`` with every setting name it mentions as the operator knows it (BILLING_... when mounted)."""
    if not prefix:
        return message
    names = "|".join(sorted(BY_NAME, key=len, reverse=True))
    return re.sub(rf"(?<![A-Z_])({names})(?![A-Z_])", prefix + r"\1", message)


def missing(config: Mapping[str, Any], *names: str, prefix: str = "") -> list[str]:
    """One line for each of ``names`` that is not set, with a valid example."""
    return [f"{prefix}{name} is not set; expected {BY_NAME[name].example}"
            for name in names if config.get(name) in (None, "")]


def require(config: Mapping[str, Any], *names: str, prefix: str = "") -> None:
    """Raise ConfigError naming every one of ``names`` that is not set."""
    problems = missing(config, *names, prefix=prefix)
    if problems:
        raise ConfigError(problems)


def auth_problems(config: Mapping[str, Any], *, prefix: str = "") -> list[str]:
    """What the chosen AUTH_MODE needs and lacks."""
    if config["AUTH_MODE"] != "jwt":
        return []
    if not (config["JWT_SECRET"] or config["JWT_JWKS_URL"]):
        return [f"{prefix}AUTH_MODE=jwt needs {prefix}JWT_SECRET or {prefix}JWT_JWKS_URL; expected "
                f"{BY_NAME['JWT_SECRET'].example}, or {BY_NAME['JWT_JWKS_URL'].example}"]
    if config["JWT_JWKS_URL"]:
        # a provider's key set may sign tokens of many apps (Firebase, Google, a shared Auth0
        # tenant): only the issuer and audience say a token is meant for this one
        return [f"{prefix}JWT_JWKS_URL needs {prefix}{name} (tokens signed by that key set may be meant for "
                f"other apps); expected {BY_NAME[name].example}"
                for name in ("JWT_ISSUER", "JWT_AUDIENCE") if not config[name]]
    return []
