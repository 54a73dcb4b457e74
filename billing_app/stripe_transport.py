"""How the app's Stripe calls travel: stripe-python's own HTTPClient interface, over urllib3.

stripe-python still builds every request (authentication, idempotency keys,
the API version, retries with backoff) and reads every answer; this only
carries the bytes.  Its stock transport goes through ``requests``, whose
Session merges settings, cookies, hooks and redirects on every call: about
0.3-0.5 ms of CPU per call, measured beside this one on the same Stripe
stand-in (BENCHMARKS.md), which is much of what a portal click costs the app.
urllib3 is the connection pool ``requests`` itself sits on: one pool per
process, connections kept alive and shared by the threads, nothing else.

Failures read as stripe-python's own transports make them read: an
``APIConnectionError`` that stripe-python retries for timeouts and broken
connections and never for a certificate it cannot verify.  Imported only when
a Stripe client is built (``flask report`` never loads it).
"""

from __future__ import annotations

import textwrap
from typing import Any, Mapping

import stripe
import urllib3
from urllib3 import exceptions

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
        if proxy is None:
            self._pool = urllib3.PoolManager(**options)
        elif proxy.startswith("socks"):
            from urllib3.contrib.socks import SOCKSProxyManager  # needs PySocks, as requests does
            self._pool = SOCKSProxyManager(proxy, **options)
        else:
            self._pool = urllib3.ProxyManager(proxy, **options)

    def request(self, method: str, url: str, headers: Mapping[str, str] | None,
                post_data: Any = None) -> tuple[bytes, int, Mapping[str, str]]:
        response = self._send(method, url, headers, post_data, preload_content=True)
        return response.data, response.status, response.headers

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None,
                       post_data: Any = None) -> tuple[Any, int, Mapping[str, str]]:
        response = self._send(method, url, headers, post_data, preload_content=False)
        return response, response.status, response.headers

    def _send(self, method, url, headers, post_data, *, preload_content: bool):
        try:
            return self._pool.request(method.upper(), url, body=post_data, headers=dict(headers or {}),
                                      redirect=False, preload_content=preload_content)
        except Exception as exc:  # noqa: BLE001 - every failure becomes stripe-python's connection error
            raise connection_error(exc) from exc

    def close(self) -> None:
        self._pool.clear()


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
