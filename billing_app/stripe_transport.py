"""How the app's Stripe calls travel: stripe-python's own HTTPClient interface, over urllib3.

stripe-python still builds every request (authentication, idempotency keys,
the API version, retries with backoff) and reads every answer; this only
carries the bytes.  Its stock transport goes through ``requests``, whose
Session merges settings, cookies, hooks and redirects on every call: about
0.3 ms of CPU more per call than this, measured side by side on the same
Stripe stand-in (BENCHMARKS.md), a tenth of what a portal click costs the app.
urllib3 is the connection pool ``requests`` itself sits on: one pool per
process, connections kept alive and shared by the threads, nothing else.

Failures read as stripe-python's own transports make them read: an
``APIConnectionError`` that stripe-python retries for timeouts and broken
connections (an answer cut off mid-body included: the retry carries the same
idempotency key) and never for a certificate it cannot verify.  A proxy from
the environment is taken as ``requests`` takes it: a scheme of http:// when it
has none, its user and password sent as Proxy-Authorization (or to the SOCKS
server), and one that cannot be used (SOCKS without PySocks, say) fails each
call with a message that says so, never the app's start-up.  Imported only
when a Stripe client is built (``flask report`` never loads it).
"""

from __future__ import annotations

import textwrap
from typing import Any, Mapping
from urllib.parse import unquote

import stripe
import urllib3
from urllib3 import exceptions

from billing_app.request_log import logger

log = logger(__name__)
# what requests sends unless told otherwise; stripe-python's own headers go on top
DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate"}

# errors worth another try (stripe-python retries only what it is told it may)
_RETRYABLE = (exceptions.TimeoutError, exceptions.NewConnectionError, exceptions.ProtocolError,
              exceptions.ProxyError)


class Urllib3Client(stripe.HTTPClient):
    """stripe-python's HTTPClient on one urllib3 pool: ``connections`` kept alive, each call
    bounded by ``timeout`` seconds to connect and as many to read, through ``proxy`` if given."""

    name = "urllib3"

    def __init__(self, *, timeout: float, connections: int, proxy: str | None = None) -> None:
        super().__init__()
        options: dict[str, Any] = dict(
            maxsize=connections, block=False,  # past ``connections``, a new one is made and not kept
            retries=False,  # stripe-python retries, with its backoff and the same idempotency key
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            cert_reqs="CERT_REQUIRED", ca_certs=stripe.ca_bundle_path)  # the CA bundle stripe-python ships
        self._unusable: str | None = None
        try:
            self._pool = proxy_pool(proxy, options) if proxy else urllib3.PoolManager(**options)
        except Exception as exc:  # noqa: BLE001 - said on every call instead of stopping the app
            self._pool = None
            why = type(exc).__name__ if "@" in proxy else f"{type(exc).__name__}: {exc}"  # never the password
            self._unusable = f"the proxy {redacted(proxy)} cannot be used ({why})"
            log.error("Stripe calls will fail: %s", self._unusable)

    def request(self, method: str, url: str, headers: Mapping[str, str] | None,
                post_data: Any = None) -> tuple[bytes, int, Mapping[str, str]]:
        response = self._send(method, url, headers, post_data, preload_content=True)
        return response.data, response.status, response.headers

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None,
                       post_data: Any = None) -> tuple[Any, int, Mapping[str, str]]:
        response = self._send(method, url, headers, post_data, preload_content=False)
        return response, response.status, response.headers

    def _send(self, method, url, headers, post_data, *, preload_content: bool):
        if self._pool is None:
            raise stripe.APIConnectionError(f"Stripe cannot be reached: {self._unusable}", should_retry=False)
        try:
            return self._pool.request(method.upper(), url, body=post_data,
                                      headers=with_defaults(headers),
                                      redirect=False, preload_content=preload_content)
        except Exception as exc:  # noqa: BLE001 - every failure becomes stripe-python's connection error
            raise connection_error(exc) from exc

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()


def with_defaults(headers: Mapping[str, str] | None) -> urllib3.HTTPHeaderDict:
    """stripe-python's headers over DEFAULT_HEADERS, names compared without case."""
    merged = urllib3.HTTPHeaderDict(DEFAULT_HEADERS)
    for name, value in (headers or {}).items():
        merged[name] = value
    return merged


def proxy_pool(proxy: str, options: dict[str, Any]) -> urllib3.PoolManager:
    """The pool that goes through ``proxy`` (http://, https:// or socks*://; http:// when it names no
    scheme), logging in with the user and password the URL carries, percent-decoded."""
    parts = urllib3.util.parse_url(proxy if "://" in proxy else f"http://{proxy}")
    user, _, password = (parts.auth or "").partition(":")
    url = parts._replace(auth=None).url
    if parts.scheme.lower().startswith("socks"):
        from urllib3.contrib.socks import SOCKSProxyManager  # needs PySocks, as requests does
        return SOCKSProxyManager(url, username=unquote(user) or None, password=unquote(password) or None, **options)
    headers = urllib3.make_headers(proxy_basic_auth=f"{unquote(user)}:{unquote(password)}") if parts.auth else None
    return urllib3.ProxyManager(url, proxy_headers=headers, **options)


def redacted(proxy: str | None) -> str:
    """``proxy`` without its password, for messages."""
    if not proxy or "@" not in proxy:
        return str(proxy)
    scheme, _, rest = proxy.rpartition("://")
    return f"{scheme + '://' if scheme else ''}***@{rest.rpartition('@')[2]}"


def connection_error(exc: Exception) -> stripe.APIConnectionError:
    """``exc`` as stripe-python's APIConnectionError: retried for timeouts and broken connections,
    never for TLS (a certificate that does not verify stays so) or a local mistake."""
    if isinstance(exc, exceptions.SSLError):
        problem, retry = "Could not verify Stripe's SSL certificate: is the network intercepting it?", False
    elif isinstance(exc, _RETRYABLE):
        problem, retry = "Unexpected error communicating with Stripe.", True
    elif isinstance(exc, exceptions.HTTPError):
        problem, retry = "Unexpected error communicating with Stripe.", False
    else:
        problem, retry = "Unexpected error communicating with Stripe: probably a local configuration issue.", False
    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return stripe.APIConnectionError(f"{textwrap.fill(problem)}\n\n(Network error: {detail})", should_retry=retry)
