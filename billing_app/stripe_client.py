"""The app's one Stripe client, built from configuration, and how its failures read.

There is no module-level ``stripe.api_key``: every call goes through the
``StripeApi`` stored on the app, so tests and stripe-mock can point it at
another base address (``STRIPE_API_BASE``).  ``StripeApi.call`` runs one API
call and turns each way Stripe can fail into a BillingError with its own
status and message; the API key never appears in what it logs or answers.
"""

from __future__ import annotations

import threading
import time
import uuid
from enum import Enum
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping, TypeVar

from flask import current_app, g, has_request_context

from billing_app.errors import BillingError, contact_email, not_set_up
from billing_app.request_log import logger

if TYPE_CHECKING:  # stripe-python is imported when a client is first built: `flask report` never needs it
    import stripe

log = logger(__name__)
T = TypeVar("T")

# Locales Stripe's Customer Portal speaks (billing_portal.sessions.create's locale, "auto" aside).
STRIPE_LOCALES = (
    "bg", "cs", "da", "de", "el", "en", "en-AU", "en-CA", "en-GB", "en-IE", "en-IN", "en-NZ", "en-SG", "es",
    "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb",
    "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
)
_STRIPE_LOCALE_BY_KEY = {locale.lower(): locale for locale in STRIPE_LOCALES}
# languages under another code than Stripe's: Norwegian (and Nynorsk) -> Bokmål, Tagalog -> Filipino, the
# old code of Indonesian
_LANGUAGE_ALIASES = {"no": "nb", "nn": "nb", "tl": "fil", "in": "id"}
# Chinese in Traditional characters: Stripe's zh is Simplified
_TRADITIONAL_CHINESE = {"tw": "zh-TW", "hk": "zh-HK", "mo": "zh-HK", "hant": "zh-TW"}
# the Americas' regions by number (UN M49): Latin America, the Americas, South, North and Central America,
# the Caribbean
_AMERICAS_BY_NUMBER = frozenset({"419", "019", "005", "003", "013", "021", "029"})


@lru_cache(maxsize=1)
def _spanish_of_the_americas() -> frozenset[str]:
    """The regions whose Spanish is es-419 (Latin American Spanish), as CLDR says through Babel: es_MX,
    es_US, es_BR... have es_419 as their parent locale."""
    from babel.core import get_global
    return _AMERICAS_BY_NUMBER | frozenset(
        name.split("_", 1)[1].lower() for name, parent in get_global("parent_exceptions").items()
        if parent == "es_419" and name.startswith("es_"))


def stripe_locale(tag: object) -> str | None:
    """A user's language (a BCP 47 or POSIX tag, a Babel Locale, an Enum of tags) as the nearest of
    STRIPE_LOCALES; None when Stripe speaks neither it nor its language (Stripe then chooses).  Sent as
    it is, a locale Stripe does not know fails the whole session with a 400.

    "en_US" -> "en", "pt_BR.UTF-8" -> "pt-BR", "zh-Hant" and "zh_TW" -> "zh-TW", "es-MX" -> "es-419",
    "no" -> "nb".
    """
    try:
        if not tag:  # most users: no language kept
            return None
        text = str(tag.value if isinstance(tag, Enum) else tag)
    except Exception:  # noqa: BLE001  a host's object that cannot say its language: Stripe chooses
        return None
    if len(text) > 64:  # a language tag is short
        return None
    key = text.strip().split(".", 1)[0].split("@", 1)[0].replace("_", "-").lower()
    if key in _STRIPE_LOCALE_BY_KEY:
        return _STRIPE_LOCALE_BY_KEY[key]
    language, *subtags = key.split("-")
    for n, sub in enumerate(subtags):  # extensions (-u-ca-gregory) and private use (-x-...) say no region
        if len(sub) == 1:
            subtags = subtags[:n]
            break
    language = _LANGUAGE_ALIASES.get(language, language)
    if language == "zh":
        if "hans" in subtags:
            return "zh"
        return next((_TRADITIONAL_CHINESE[sub] for sub in reversed(subtags) if sub in _TRADITIONAL_CHINESE), "zh")
    regions = [sub for sub in subtags if len(sub) == 2 or (len(sub) == 3 and sub.isdigit())]
    if language == "es" and regions:
        return "es-419" if regions[-1] in _spanish_of_the_americas() else "es"
    for region in regions:
        if f"{language}-{region}" in _STRIPE_LOCALE_BY_KEY:
            return _STRIPE_LOCALE_BY_KEY[f"{language}-{region}"]
    return _STRIPE_LOCALE_BY_KEY.get(language)


RETRY_HINT = "Please try again in a minute."


def stripe_not_configured() -> BillingError:
    return not_set_up("stripe_not_configured", "STRIPE_SECRET_KEY is not set")


def build_stripe_client(config) -> stripe.StripeClient | None:
    """A StripeClient with explicit timeouts and retries, or None when no key is set."""
    api_key = config.get("STRIPE_SECRET_KEY")
    if not api_key:
        return None
    import stripe

    from billing_app.stripe_transport import Urllib3Client
    api_base = config.get("STRIPE_API_BASE") or stripe.DEFAULT_API_BASE
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base},
        max_network_retries=config["STRIPE_MAX_NETWORK_RETRIES"],
        http_client=Urllib3Client(timeout=config["STRIPE_TIMEOUT"], connections=config["STRIPE_MAX_CONCURRENT_CALLS"],
                                  proxy=stripe_proxy(api_base)),
    )


def stripe_proxy(api_base: str) -> str | None:
    """The proxy that reaches ``api_base`` by the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and
    NO_PROXY, as `requests` reads them), or None.  Read once, when the client is built: a transport that
    reads os.environ again on every call pays for it on every portal click."""
    from urllib.parse import urlsplit

    from requests.utils import get_environ_proxies  # stripe-python's own dependency
    proxies = get_environ_proxies(api_base)
    return proxies.get(urlsplit(api_base).scheme) or proxies.get("all")


class StripeApi:
    """The app's Stripe: its client and the slots that cap this process's calls in flight.

    Made once per app (``init_stripe``); views take it with ``stripe_api()`` and
    pass it to the services, which call Stripe only through ``call``.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = settings
        self.slots = threading.BoundedSemaphore(settings["STRIPE_MAX_CONCURRENT_CALLS"])
        self._client: stripe.StripeClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> stripe.StripeClient:
        """The StripeClient, built on first use; a 503 (stripe_not_configured) when no key is set."""
        self.require_key()
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = build_stripe_client(self.settings)
        return self._client

    def require_key(self) -> None:
        """A 503 (stripe_not_configured) when no key is set: services check it before their lookups."""
        if not self.settings.get("STRIPE_SECRET_KEY"):
            raise stripe_not_configured()

    def call(self, operation: Callable[[stripe.StripeClient], T]) -> T:
        """Run one Stripe call, ``operation(client)``, in one of this process's Stripe slots;
        failures become BillingError.

        At most STRIPE_MAX_CONCURRENT_CALLS calls are in flight per process: past
        that, the request answers 503 with Retry-After at once instead of taking
        another thread from the pages (a bulkhead: a slow or hanging Stripe
        cannot occupy every thread).  Network errors, 409 and 5xx answers are
        retried inside stripe-python, resending the same idempotency key, which
        the operation must carry (see new_idempotency_key); nothing else retries,
        so one call takes at most ``worst_case_seconds``.

        A call starts only when its worst case still ends within the request's
        WORKER_TIMEOUT: a request that already waited (a first checkout's
        customer create before its session) answers 503 instead of being killed
        by the server mid-call; what it finished is kept, so the retry goes on.
        """
        import stripe
        client = self.client
        if not fits_in_request(self.settings):
            log.warning("a Stripe call could outlast WORKER_TIMEOUT=%g s now; answering 503",
                        self.settings["WORKER_TIMEOUT"])
            raise BillingError(503, "payments_slow", "Payments are slow right now. " + RETRY_HINT, retry_after=5)
        if not self.slots.acquire(blocking=False):
            log.warning("all %d Stripe slots of this process are busy; answering 503",
                        self.settings["STRIPE_MAX_CONCURRENT_CALLS"])
            raise BillingError(503, "payments_busy", "Payments are very busy right now. " + RETRY_HINT, retry_after=5)
        try:
            return operation(client)
        except stripe.StripeError as exc:
            raise translate_stripe_error(exc) from None
        finally:
            self.slots.release()


def stripe_api() -> StripeApi:
    """The current app's StripeApi."""
    return current_app.extensions["billing_stripe"]


def key_mode(api_key: str) -> str:
    return "live" if "_live_" in api_key else "test"


def new_idempotency_key() -> str:
    return f"billing_app-{uuid.uuid4()}"


def translate_stripe_error(exc: stripe.StripeError) -> BillingError:
    """The answer for a failed Stripe call; logged without the API key."""
    import stripe
    request_id = getattr(exc, "request_id", None)
    if isinstance(exc, (stripe.AuthenticationError, stripe.PermissionError)):
        return not_set_up("stripe_misconfigured", f"Stripe refused the API key ({type(exc).__name__}, request "
                                                  f"{request_id}): check STRIPE_SECRET_KEY")
    message = exc.user_message or ""
    if isinstance(exc, stripe.InvalidRequestError):
        if "No configuration provided" in message:
            return not_set_up("portal_not_configured", "Stripe has no Customer Portal configuration in this "
                                                       "mode: run `flask portal configure`", what="The billing portal is")
        if exc.code == "resource_missing" and (exc.param == "customer" or "No such customer" in message):
            log.error("Stripe has no customer for a mirrored id (deleted, or test/live mismatch): %s", message)
            return BillingError(409, "billing_account_not_found",
                                f"Your billing account could not be found. Please write to {contact_email()}.")
        if exc.code == "resource_missing" and "price" in (exc.param or ""):
            log.error("Stripe has no such price (test/live mismatch?): %s", message)
            return BillingError(409, "plan_not_found_in_stripe",
                                f"This plan cannot be bought right now. Please choose another, or write to {contact_email()}.")
        log.error("Stripe refused a request (%s, param %s, request %s): %s", exc.code, exc.param,
                  request_id, message)
        return BillingError(502, "stripe_request_failed",
                            "Stripe could not complete the request. " + RETRY_HINT, retry_after=60)
    if isinstance(exc, stripe.RateLimitError):
        log.warning("Stripe rate limit hit (request %s)", request_id)
        return BillingError(502, "stripe_busy", "Stripe is busy right now. " + RETRY_HINT, retry_after=30)
    if isinstance(exc, stripe.APIConnectionError):
        log.warning("Stripe did not answer: %s", message or type(exc).__name__)
        return BillingError(502, "stripe_unreachable", "Stripe did not answer in time. " + RETRY_HINT,
                            retry_after=30)
    log.error("Stripe failed (%s, request %s): %s", type(exc).__name__, request_id, message)
    return BillingError(502, "stripe_error", "Stripe could not complete the request. " + RETRY_HINT,
                        retry_after=30)


def redirect_url(stripe_object) -> str:
    """The ``url`` of a Checkout or portal session Stripe created; 502 when the answer lacks one."""
    url = getattr(stripe_object, "url", None)  # a StripeObject raises AttributeError for a field it lacks
    if not isinstance(url, str) or not url.startswith("https://") and not url.startswith("http://"):
        log.error("Stripe answered %s without a usable url", type(stripe_object).__name__)
        raise BillingError(502, "stripe_answer_incomplete",
                           "Stripe's answer was incomplete. " + RETRY_HINT, retry_after=30)
    return url


def worst_case_seconds(settings) -> float:
    """The longest one Stripe call can take: every try timing out, with stripe-python's longest backoff."""
    import stripe
    retries, timeout = settings["STRIPE_MAX_NETWORK_RETRIES"], settings["STRIPE_TIMEOUT"]
    backoff = sum(min(stripe.HTTPClient.INITIAL_DELAY * 2 ** (n - 1), stripe.HTTPClient.MAX_DELAY)
                  for n in range(1, retries + 1))
    return (retries + 1) * timeout + backoff


def check_worker_timeout(settings) -> str | None:
    """A one-line problem when one Stripe call could outlast the server's worker timeout, else None."""
    worst, worker_timeout = worst_case_seconds(settings), settings["WORKER_TIMEOUT"]
    if not worker_timeout or worst < worker_timeout:
        return None
    return (f"one Stripe call can take {worst:g} s (STRIPE_TIMEOUT={settings['STRIPE_TIMEOUT']:g} x "
            f"{settings['STRIPE_MAX_NETWORK_RETRIES'] + 1} tries, with backoff), not less than "
            f"WORKER_TIMEOUT={worker_timeout:g} s: lower STRIPE_TIMEOUT or STRIPE_MAX_NETWORK_RETRIES, "
            "or raise WORKER_TIMEOUT")


def fits_in_request(settings) -> bool:
    """Whether one more Stripe call, at its worst, ends before the server's worker timeout ends this
    request (outside a request, a command's call always fits)."""
    worker_timeout = settings["WORKER_TIMEOUT"]
    if not worker_timeout or not has_request_context() or "billing_started" not in g:
        return True
    return time.monotonic() - g.billing_started + worst_case_seconds(settings) < worker_timeout


def init_stripe(app, billing_settings, *, eager: bool = True) -> None:
    """The app's StripeApi (its client, none without a key, and its slots for calls in flight).
    ``eager``: build the client now (serving), not on the first call (a command that may need none)."""
    api = app.extensions["billing_stripe"] = StripeApi(billing_settings)
    if eager and billing_settings.get("STRIPE_SECRET_KEY"):
        api.client  # built now, not during the first request
