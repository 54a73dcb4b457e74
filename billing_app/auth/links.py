"""Signed links mailed to a user: reset a password, confirm an address.

Each is an itsdangerous token signed with SECRET_KEY, with its own purpose (a
reset token cannot confirm an address) and age limit, and a fingerprint of the
account's password and address when it was made: a new password or a new
address ends every link made before (a reset link works once; an address change
someone else asked for dies when the owner resets the password).  An address
link carries the address it was sent to.  The undo link, mailed to the old
address when it changes, is bound to nothing but the two addresses: it must
work even after whoever changed the address also changed the password.  It
works once: a take-back spends the link it used and those of the changes it
undid, made after it (it leads to a new password: a link kept in a mailbox must
not do that twice), never one made before it (the owner's, when whoever took
the account changed the address twice and took it back to their first one).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg
from flask import current_app
from itsdangerous import BadData, URLSafeTimedSerializer

from billing_app.auth.users import User, undo_link_spent, user_by_id

RESET_MAX_AGE = 60 * 60           # an hour to choose a new password
ADDRESS_MAX_AGE = 3 * 24 * 60 * 60  # three days to open the confirmation
UNDO_MAX_AGE = 7 * 24 * 60 * 60     # a week for the old address to take the account back


def _signer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=f"billing_app.{purpose}")


def _read(purpose: str, token: str, max_age: int) -> dict[str, Any] | None:
    try:
        data = _signer(purpose).loads(token, max_age=max_age)
    except BadData:  # tampered, expired, or not a token at all
        return None
    return data if isinstance(data, dict) else None


def _fingerprint(user: User) -> str:
    """Changes when the password or the address does."""
    return hashlib.sha256(f"{user.password_hash}\0{user.email}".encode()).hexdigest()[:16]


def _user_id(data: dict[str, Any] | None) -> int | None:
    user_id = (data or {}).get("user")
    return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None


def _user(conn: psycopg.Connection, data: dict[str, Any] | None) -> User | None:
    """The token's user while their password and address are what they were when it was made."""
    if _user_id(data) is None:
        return None
    user = user_by_id(conn, data["user"])
    return user if user is not None and data.get("account") == _fingerprint(user) else None


def password_reset_token(user: User) -> str:
    return _signer("password-reset").dumps({"user": user.id, "account": _fingerprint(user)})


def user_for_password_reset(conn: psycopg.Connection, token: str) -> User | None:
    """The user a reset link is for, while it is fresh and unused."""
    return _user(conn, _read("password-reset", token, RESET_MAX_AGE))


def address_token(user: User, address: str) -> str:
    """A link that confirms ``address`` for ``user`` (their own, or the one they want to change to)."""
    return _signer("address").dumps({"user": user.id, "account": _fingerprint(user), "to": address})


def read_address_token(conn: psycopg.Connection, token: str) -> tuple[User, str] | None:
    """(the user, the address to confirm) while the link is fresh and the account unchanged, or None."""
    data = _read("address", token, ADDRESS_MAX_AGE)
    user = _user(conn, data)
    return (user, data["to"]) if user is not None and isinstance(data.get("to"), str) else None


def undo_token(user: User, new_address: str) -> str:
    """For the old address: take the account back from a change to ``new_address``."""
    made = datetime.now(timezone.utc).timestamp()  # to the microsecond: take_backs spans are that precise
    return _signer("address-undo").dumps({"user": user.id, "from": new_address, "to": user.email, "made": made})


@dataclass(frozen=True)
class UndoLink:
    user: User
    changed_to: str   # the address the account was moved to
    address: str      # the old address, which the link puts back
    made: float       # when the link was made (a Unix time)


def read_undo_token(conn: psycopg.Connection, token: str) -> UndoLink | None:
    """The take-back link in ``token`` while it is fresh and not spent (users.undo_link_spent), or None."""
    try:
        data, signed_at = _signer("address-undo").loads(token, max_age=UNDO_MAX_AGE, return_timestamp=True)
    except BadData:
        return None
    if not isinstance(data, dict) or _user_id(data) is None or not isinstance(data.get("from"), str) \
            or not isinstance(data.get("to"), str):
        return None
    made = data.get("made")
    if not isinstance(made, float):  # mailed before links said when they were made: the second it was signed
        made = float(signed_at.timestamp())
    user = user_by_id(conn, data["user"])
    if user is None or undo_link_spent(conn, user.id, made):
        return None
    return UndoLink(user, data["from"], data["to"], made)
