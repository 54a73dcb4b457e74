"""Signed-in users from the host's identity provider: JWTs checked with PyJWT.

Two ways to trust a token, never both (that is what stops algorithm
confusion): ``JWT_SECRET`` accepts HS256/384/512 only; ``JWT_JWKS_URL``
accepts the asymmetric algorithms only, each token checked against the key
its ``kid`` names in the provider's key set.  Tokens must carry ``exp``; the
audience and issuer are checked when set.  The key set is fetched on first use,
again when it is old or a token names a key it does not have (a rotation; at
most once per ``REFETCH_SECONDS``), and when the provider does not answer the
keys fetched before stay in use.  No keys at all: KeysUnavailable (503).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

import jwt
from werkzeug.wrappers import Request

from billing_app.identity import BillingUser, valid_user_id
from billing_app.request_log import logger

log = logger(__name__)

MAX_TOKEN_BYTES = 8 * 1024
MAX_COOKIE_BYTES = 32 * 1024  # a chunked session cookie, all chunks together
HMAC_ALGORITHMS = ("HS256", "HS384", "HS512")
KEY_SET_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_SECONDS = 30  # clock skew between the provider and this server
# where a token without an aud names the app it is for (audience_problem)
AUDIENCE_FALLBACKS = ("client_id", "azp")


class TokenRejected(Exception):
    """The token proves nothing; the message says why, in a few words."""


class KeysUnavailable(Exception):
    """The provider's key set could not be fetched and none is known yet."""


class KeySet:
    """The provider's JWKS, fetched on demand and kept; stale keys beat no keys."""

    MAX_AGE_SECONDS = 600
    REFETCH_SECONDS = 30
    MAX_BYTES = 512 * 1024
    DEADLINE_SECONDS = 5.0  # one fetch, all of it: a provider that drips bytes is cut off

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout
        self._keys: dict[str | None, jwt.PyJWK] | None = None
        self._fetched_at = 0.0
        self._tried_at = -float("inf")
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> jwt.PyJWK:
        keys = self._keys
        now = time.monotonic()
        stale = keys is None or now - self._fetched_at > self.MAX_AGE_SECONDS
        if stale or kid not in keys:
            keys = self._refetch(now)
        if kid is not None and kid in keys:
            return keys[kid]
        if kid is None and len(keys) == 1:  # a provider with one key may leave kid out
            return next(iter(keys.values()))
        raise TokenRejected("it names a signing key the provider does not list" if kid is not None
                            else "it names no signing key (kid) and the provider lists several")

    def _refetch(self, now: float) -> dict[str | None, jwt.PyJWK]:
        known = self._keys
        # With keys in hand nobody waits for a fetch another thread is making; without, all wait for it,
        # for at most one fetch's deadline.
        if known is not None:
            if not self._lock.acquire(blocking=False):
                return known
        elif not self._lock.acquire(timeout=self.DEADLINE_SECONDS + self.timeout):
            raise KeysUnavailable("The sign-in service's keys could not be fetched. Try again shortly.")
        try:
            if self._keys is not None and (self._fetched_at > now or self._tried_at > now - self.REFETCH_SECONDS):
                return self._keys  # fetched by another thread meanwhile, or asked a moment ago
            if self._keys is None and self._tried_at > now - 1:
                raise KeysUnavailable("The sign-in service's keys could not be fetched. Try again shortly.")
            self._tried_at = time.monotonic()
            try:
                self._keys = self._fetch()
                self._fetched_at = time.monotonic()
            except Exception as exc:  # noqa: BLE001  any failure: keep what we have
                log.warning("JWKS fetch from %s failed (%s); %s", self.url, exc,
                            "keeping the keys fetched before" if self._keys else "no keys yet")
                if self._keys is None:
                    raise KeysUnavailable(
                        "The sign-in service's keys could not be fetched. Try again shortly.") from None
            return self._keys
        finally:
            self._lock.release()

    def _fetch(self) -> dict[str | None, jwt.PyJWK]:
        request = urllib.request.Request(self.url, headers={"Accept": "application/json",
                                                            "User-Agent": "billing_app"})
        deadline = time.monotonic() + self.DEADLINE_SECONDS
        chunks, size = [], 0
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 an https setting
            while chunk := response.read1(64 * 1024):
                chunks.append(chunk)
                size += len(chunk)
                if size > self.MAX_BYTES:
                    raise ValueError("the key set is too large")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the key set took over {self.DEADLINE_SECONDS:g} s")
        document = json.loads(b"".join(chunks))
        listed = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            raise ValueError("the answer is not a key set ({\"keys\": [...]})")
        keys: dict[str | None, jwt.PyJWK] = {}
        for data in listed:
            if not isinstance(data, dict) or data.get("use", "sig") != "sig" or data.get("kty") == "oct":
                continue  # encryption keys and shared secrets never verify a signature here
            kid = data.get("kid") if isinstance(data.get("kid"), str) else None
            try:
                key = jwt.PyJWK.from_dict(data)
            except jwt.PyJWTError as exc:
                log.info("JWKS key %s skipped: %s", kid, exc)
                continue
            # keys without a kid are told apart by position; only a set of one serves kid-less tokens
            keys[kid if kid is not None else f"#{len(keys)}"] = key
        if not keys:
            raise ValueError("the key set has no usable signing key")
        return keys


@dataclass
class TokenVerifier:
    secret: str | None
    key_set: KeySet | None
    audience: str | None
    issuer: str | None
    user_claim: str
    cookie: str | None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "TokenVerifier":
        url = settings["JWT_JWKS_URL"]
        return cls(secret=settings["JWT_SECRET"], key_set=KeySet(url) if url else None,
                   audience=settings["JWT_AUDIENCE"], issuer=settings["JWT_ISSUER"],
                   user_claim=settings["JWT_USER_CLAIM"], cookie=settings["JWT_COOKIE"])

    def user_from_request(self, request: Request) -> BillingUser | None:
        """The user the request's token names; None without a token; TokenRejected or KeysUnavailable."""
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise TokenRejected("the Authorization header is not 'Bearer <token>'")
            return self.user_from_token(token.strip(), via="bearer")
        if self.cookie:
            token = cookie_token(request.cookies, self.cookie)
            if token:
                return self.user_from_token(token, via="cookie")
        return None

    def user_from_token(self, token: str, *, via: str) -> BillingUser:
        claims = self.claims(token)
        user_id = valid_user_id(claims.get(self.user_claim))
        if user_id is None:
            raise TokenRejected(f"it has no usable {self.user_claim} claim (text or a number, 1 to 255 characters)")
        email = claims.get("email")
        return BillingUser(id=user_id, email=email if isinstance(email, str) and email else None, via=via)

    def claims(self, token: str) -> dict[str, Any]:
        if len(token) > MAX_TOKEN_BYTES:
            raise TokenRejected(f"it is longer than {MAX_TOKEN_BYTES // 1024} KB")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected("it is not a JWT") from None
        algorithm = header.get("alg")
        if self.secret:
            if algorithm not in HMAC_ALGORITHMS:
                raise TokenRejected(f"its algorithm {str(algorithm)[:20]!r} is not accepted here")
            key: Any = self.secret
        else:
            if algorithm not in KEY_SET_ALGORITHMS:
                raise TokenRejected(f"its algorithm {str(algorithm)[:20]!r} is not accepted here")
            kid = header.get("kid")
            jwk = self.key_set.key(kid if isinstance(kid, str) else None)
            if jwk.algorithm_name != algorithm and jwk._jwk_data.get("alg"):
                raise TokenRejected("its algorithm does not match its signing key")
            key = jwk.key
        required = ["exp"] + (["iss"] if self.issuer else [])
        try:
            claims = jwt.decode(token, key, algorithms=[algorithm], issuer=self.issuer, leeway=LEEWAY_SECONDS,
                                options={"require": required, "verify_aud": False,  # audience_problem
                                         "verify_sub": False})  # the user claim is checked below
        except jwt.ExpiredSignatureError:
            raise TokenRejected("it has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("it is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("it comes from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"it has no {exc.claim} claim") from None
        except (jwt.PyJWTError, ValueError, TypeError):
            raise TokenRejected("its signature does not verify") from None
        problem = audience_problem(claims, self.audience) if self.audience is not None else None
        if problem:
            raise TokenRejected(problem)
        return claims


def audience_problem(claims: dict[str, Any], audience: str) -> str | None:
    """Why a token is not meant for ``audience`` (None when it is): its ``aud`` (text, or a list of text
    holding it) decides; a token without one is read by the claims some providers name the app in
    instead, Cognito's access tokens ``client_id`` and Clerk's session tokens ``azp`` (the app's
    origin), every one of them present having to be ``audience``."""
    if "aud" in claims:
        named = claims["aud"]
        names = [named] if isinstance(named, str) else named if isinstance(named, list) else [None]
        return None if all(isinstance(n, str) for n in names) and audience in names else "it is for another audience"
    parties = [claims[name] for name in AUDIENCE_FALLBACKS if name in claims]
    if not parties:
        return "it has no aud claim"
    return None if all(party == audience for party in parties) else "it is for another audience"


def cookie_token(cookies: Mapping[str, str], name: str) -> str | None:
    """The access token in cookie ``name``: a bare JWT, or a Supabase session cookie.

    Supabase's SSR helpers store the session as JSON (``base64-`` + base64url
    in current versions), split into ``name.0``, ``name.1``... when it is long.
    """
    value = cookies.get(name)
    if value is None:
        chunks = []
        for index in range(16):
            chunk = cookies.get(f"{name}.{index}")
            if chunk is None:
                break
            chunks.append(chunk)
        value = "".join(chunks) or None
    if not value or len(value) > MAX_COOKIE_BYTES:
        return None
    if value.startswith("base64-"):
        try:
            encoded = value[len("base64-"):]
            value = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
    if value.startswith(("{", "[")):
        try:
            session = json.loads(value)
        except (ValueError, RecursionError):
            return None
        token = session.get("access_token") if isinstance(session, dict) else (session[0] if session else None)
        return token if isinstance(token, str) else None
    return value
