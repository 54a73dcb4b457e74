"""The app's users: queries on billing_app.users and the rules for a new account."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Callable

import psycopg
from flask_login import UserMixin
from psycopg.rows import class_row, dict_row, tuple_row
from werkzeug.security import check_password_hash, generate_password_hash

from billing_app.db import positional

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 200
# zxcvbn's score (0-4) a password must reach: 0 and 1 are the most common passwords and those
# a guesser tries right after them (password1234, qwertyuiop, the user's own email)
PASSWORD_MIN_SCORE = 2
ZXCVBN_MAX_LENGTH = 72

@cache
def _dummy_hash() -> str:
    """Checked against when the email is unknown, so that a wrong email and a wrong password take
    the same time and an attacker cannot tell which it was (made on first use: hashing takes a
    tenth of a second, which every `flask` command would otherwise pay at start-up)."""
    return generate_password_hash("not-a-real-password")


class SignupError(ValueError):
    """A new account was refused; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


@dataclass
class User(UserMixin):
    id: int
    email: str
    password_hash: str
    locale: str | None
    created_at: datetime
    session_version: int = 1
    email_verified_at: datetime | None = None

    @property
    def email_verified(self) -> bool:
        """Whether the user showed they receive mail at ``email`` (a link we sent was opened)."""
        return self.email_verified_at is not None

    def get_id(self) -> str:
        """What the session and remember-me cookie hold: the id and the session version, so that
        raising the version (sign-out) ends every session made before."""
        return f"{self.id}:{self.session_version}"

    @property
    def billing_user_id(self) -> str:
        """The user id Stripe customers carry in their metadata."""
        return str(self.id)


_COLUMNS = "id, email, password_hash, locale, created_at, session_version, email_verified_at"


def normalize_email(email: str) -> str:
    """The address lower-cased, or SignupError when it is not a valid email address."""
    from email_validator import EmailNotValidError, validate_email  # on first use: its import compiles its rules
    try:
        # mail goes through any SMTP server: no non-ASCII local part (SMTPUTF8), an IDN domain as punycode
        result = validate_email(email.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise SignupError("email", f"That is not a valid email address: {exc}") from None
    return (result.ascii_email or result.normalized).lower()


def stored_address(email: str) -> str | None:
    """``email`` in the form sign-up stores it (see normalize_email), or None when it is no address: a
    user signs in with the address as they typed it at sign-up, in any case or width."""
    try:
        return normalize_email(email)
    except SignupError:
        return None


def check_password_rules(password: str, email: str | None = None) -> None:
    """The one home of what a password must be: long enough, not too long, not easy to guess."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise SignupError("password", f"Choose a password of at least {PASSWORD_MIN_LENGTH} characters.")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise SignupError("password", f"Choose a password of at most {PASSWORD_MAX_LENGTH} characters.")
    # zxcvbn reads at most 72 characters (and slowly near that): a longer password is judged by its start
    from zxcvbn import zxcvbn  # on the first check, not at start-up: `flask report` never loads it
    strength = zxcvbn(password[:ZXCVBN_MAX_LENGTH],
                      user_inputs=[part for part in (email, *(email or "").split("@")) if part])
    if strength["score"] < PASSWORD_MIN_SCORE:
        why = strength["feedback"]["warning"] or "It is too easy to guess."
        raise SignupError("password", f"Choose a harder password. {why.rstrip('.')}.")


def user_by_id(conn: psycopg.Connection, user_id: int) -> User | None:
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(f"SELECT {_COLUMNS} FROM billing_app.users WHERE id = %s",  # noqa: S608 constant
                           (user_id,)).fetchone()


def _session_claim(session_id: str) -> tuple[int, int] | None:
    """The user id and session version a session's id ("<id>:<version>", see User.get_id) claims."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()) or len(user_id) > 18 or len(version) > 9:
        return None
    return int(user_id), int(version)


def _current(user: User | None, version: int) -> User | None:
    """The user while the session's version is current (sign-out raises it: see end_sessions)."""
    return user if user is not None and user.session_version == version else None


def user_by_session_id(conn: psycopg.Connection, session_id: str) -> User | None:
    """The user a session's id names, while that version is current."""
    claim = _session_claim(session_id)
    return _current(user_by_id(conn, claim[0]), claim[1]) if claim else None


_ROW_FIELDS = tuple(name.strip() for name in _COLUMNS.split(","))
_with_row: dict[str, tuple[str, tuple[str, ...]]] = {}


def user_with_row(conn: psycopg.Connection, session_id: str,
                  read: Callable[[str], tuple[str, dict]]) -> tuple[User | None, dict | None]:
    """``user_by_session_id`` and, in the same statement, the row of ``read(<the user's id>)`` (a
    statement with its parameters; None when it gives no row): a page that reads the user's data
    costs one round trip, not two.  The row is read for the id the session claims and returned
    only with the user it belongs to, whose version is checked exactly as user_by_session_id does."""
    claim = _session_claim(session_id)
    if claim is None:
        return None, None
    statement, params = read(str(claim[0]))
    if statement not in _with_row:
        # the page's part runs only for a current session (a one-time filter on the user's row):
        # a signed-out copy of a cookie costs the database the user's row, never the page
        _with_row[statement] = positional(
            f"SELECT u.*, to_json(page) AS read_with_user "  # noqa: S608 constant parts
            f"FROM (SELECT {_COLUMNS} FROM billing_app.users WHERE id = %(session_user_id)s) u "
            f"LEFT JOIN LATERAL (SELECT * FROM ({statement}) p "
            f"WHERE u.session_version = %(session_version)s OFFSET 0) page ON true")
    query, names = _with_row[statement]
    values = {**params, "session_user_id": claim[0], "session_version": claim[1]}
    with psycopg.RawCursor(conn, row_factory=dict_row) as cur:  # a page's statement: see db.positional
        row = cur.execute(query, [values[name] for name in names]).fetchone()
    user = _current(User(**{name: row[name] for name in _ROW_FIELDS}) if row else None, claim[1])
    return (user, row["read_with_user"]) if user else (None, None)


def end_sessions(conn: psycopg.Connection, user_id: int) -> None:
    """End every session and remember-me cookie of the user (sign-out, password change)."""
    with conn.transaction():
        conn.execute("UPDATE billing_app.users SET session_version = session_version + 1 WHERE id = %s", (user_id,))


def user_by_email(conn: psycopg.Connection, email: str) -> User | None:
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(f"SELECT {_COLUMNS} FROM billing_app.users WHERE email = %s",  # noqa: S608 constant
                           (email.strip().lower(),)).fetchone()


def create_user(conn: psycopg.Connection, email: str, password: str, *, locale: str | None = None) -> User:
    """Create an account; raises SignupError (bad email, weak password, email taken)."""
    email = normalize_email(email)
    check_password_rules(password, email)
    with conn.transaction(), conn.cursor(row_factory=class_row(User)) as cur:
        user = cur.execute(
            f"""INSERT INTO billing_app.users (email, password_hash, locale)
                VALUES (%s, %s, %s)
                ON CONFLICT (email) DO NOTHING
                RETURNING {_COLUMNS}""",  # noqa: S608 constant
            (email, generate_password_hash(password), locale),
        ).fetchone()
    if user is None:
        raise SignupError("email", "An account with this email already exists. Sign in instead.", status=409)
    return user


def authenticate(conn: psycopg.Connection, email: str, password: str) -> User | None:
    """The user with this email and password, or None."""
    address = stored_address(email)
    user = user_by_email(conn, address) if address else None
    if user is None and address != email.strip().lower():  # stored before addresses were normalised
        user = user_by_email(conn, email)  # (a Unicode domain, as typed)
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def set_password(conn: psycopg.Connection, user: User, password: str) -> User | None:
    """A new password (the rules checked) that ends every session made before; returns the user as now,
    or None when their password changed since ``user`` was read (a reset link posted twice at once
    works once)."""
    check_password_rules(password, user.email)
    with conn.transaction():
        changed = conn.execute("UPDATE billing_app.users SET password_hash = %s WHERE id = %s AND password_hash = %s",
                               (generate_password_hash(password), user.id, user.password_hash)).rowcount
        if not changed:
            return None
        end_sessions(conn, user.id)
    return user_by_id(conn, user.id)


def address_taken() -> SignupError:
    return SignupError("email", "Another account uses that email address now.", status=409)


def confirm_email(conn: psycopg.Connection, user_id: int, email: str, new_email: str | None = None) -> User | None:
    """The user showed they receive mail at ``new_email`` (or ``email``): it becomes their verified
    address, while their address is still ``email``.  None when it no longer is; SignupError (409)
    when another account took ``new_email`` meanwhile."""
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(User)) as cur:
            return cur.execute(
                f"""UPDATE billing_app.users SET email = %s, email_verified_at = coalesce(
                           CASE WHEN email = %s THEN email_verified_at END, now())
                     WHERE id = %s AND email = %s RETURNING {_COLUMNS}""",  # noqa: S608 constant
                (new_email or email, new_email or email, user_id, email)).fetchone()
    except psycopg.errors.UniqueViolation:
        raise address_taken() from None


def undo_link_spent(conn: psycopg.Connection, user_id: int, link_made: float) -> bool:
    """Whether a take-back link made at ``link_made`` (a Unix time) was used, or made by a change that a
    take-back with an earlier link undid."""
    with conn.cursor(row_factory=tuple_row) as cur:
        return cur.execute("""SELECT EXISTS (SELECT FROM billing_app.take_backs WHERE user_id = %s
                                 AND to_timestamp(%s) BETWEEN link_made AND taken_back_at)""",
                           (user_id, link_made)).fetchone()[0]


def take_back(conn: psycopg.Connection, user_id: int, email: str, link_made: float) -> User | None:
    """The owner of ``email`` takes the account back with the link made at ``link_made`` (a Unix time)
    after someone changed its address: the address restored (confirmed: its owner opened the link),
    the password made unusable and every session ended, so that only a new password (chosen next)
    signs in.  The link and those made after it are spent (take_backs).  None when the link was spent
    already, or the account is gone; SignupError (409) when another account uses ``email`` now."""
    unusable = "!" + secrets.token_hex(16)  # no password hashes to this: check_password_hash is always False
    try:
        with conn.transaction(), conn.cursor(row_factory=class_row(User)) as cur:
            # one take-back of an account at a time: a second one waits here, then finds its link spent
            locked = conn.execute("SELECT FROM billing_app.users WHERE id = %s FOR UPDATE", (user_id,)).fetchone()
            if locked is None or undo_link_spent(conn, user_id, link_made):
                return None
            conn.execute("""INSERT INTO billing_app.take_backs (user_id, link_made, taken_back_at)
                            VALUES (%s, to_timestamp(%s), to_timestamp(%s))""", (user_id, link_made, time.time()))
            return cur.execute(
                f"""UPDATE billing_app.users SET email = %s, email_verified_at = now(), password_hash = %s,
                           session_version = session_version + 1
                     WHERE id = %s RETURNING {_COLUMNS}""",  # noqa: S608 constant
                (email, unusable, user_id)).fetchone()
    except psycopg.errors.UniqueViolation:
        raise address_taken() from None
