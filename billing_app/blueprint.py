"""The blueprint every billing feature hangs from (account, plans, checkout, portal).

Registered once per app under URL_PREFIX, it carries what those features share
and nothing of the host's: the CSRF check, the error answers and the names the
billing templates use.  Templates live in ``templates/billing/``; a host
overrides one by putting its own file at the same path in its templates folder.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from wtforms import ValidationError

from billing_app import errors
from billing_app.billing import settings, state
from billing_app.config import prefixed
from billing_app.errors import BillingError
from billing_app.identity import current_billing_user, current_page, login_url_for
from billing_app.request_log import assign_request_id, echo_request_id, logger

billing_bp = Blueprint("billing", __name__, template_folder="templates", static_folder="static",
                       static_url_path="/static/billing")

CSRF_METHODS = ("POST", "PUT", "PATCH", "DELETE")
PUBLIC_SETTINGS = ("COMPANY_NAME", "CONTACT_EMAIL")
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")
DEFAULT_PORTS = {"http": 80, "https": 443}
log = logger(__name__)


def check_csrf() -> None:
    """Forms and cookie-signed calls of a signed-in user carry the page's CSRF token; bearer-token
    calls need none.

    A bearer token is not sent by the browser on its own, so a forged
    cross-site request cannot carry one; a session or a token cookie is.  A
    request with no signed-in user acts for nobody: the view answers it (401,
    or the way to sign in) without a CSRF question.
    """
    if request.method not in CSRF_METHODS:
        return
    user = current_billing_user()
    if user is None or user.by_bearer_token:
        return
    require_csrf_token()


def require_csrf_token() -> None:
    """The request carries the session's CSRF token (form field or X-CSRFToken header), or CSRFError.

    Off only where the app turns Flask-WTF's check off (WTF_CSRF_ENABLED=False, tests).
    """
    if request.method not in CSRF_METHODS or not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    token = request.form.get("csrf_token") or next(
        (request.headers[h] for h in CSRF_HEADERS if request.headers.get(h)), None)
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(exc.args[0]) from None


FIELD_MAX_LENGTH = 255  # Stripe ids and flow names are far shorter


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def request_data(*, json_allowed: bool = False) -> Any:
    """The posted fields: the form, or with ``json_allowed`` a JSON object; BillingError 400 otherwise.

    With ``json_allowed``, a body of any other type (JSON sent as text/plain, as fetch() does without a
    Content-Type header) is a 415: read as an empty form, its fields would be dropped without a word.
    """
    if not (json_allowed and request.is_json):
        if json_allowed and request.mimetype not in FORM_TYPES and request.get_data():
            raise BillingError(415, "unsupported_media_type",
                               "Send the fields as JSON (Content-Type: application/json) or as a form.")
        return request.form
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes
        raise BillingError(400, "invalid_json", "The request body is not valid JSON.") from None
    if data is None and request.get_data():
        raise BillingError(400, "invalid_json", "The request body is not valid JSON.")
    if data is not None and not isinstance(data, dict):
        raise BillingError(400, "invalid_json", "The request body must be a JSON object of fields.")
    return data or {}


def text_field(data: Any, name: str) -> str | None:
    """Field ``name`` as text, None when absent or empty; BillingError 400 when it cannot be one."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BillingError(400, "invalid_field", f"The field {name} must be text.")
    if len(value) > FIELD_MAX_LENGTH or "\x00" in value or not value.isprintable():
        raise BillingError(400, "invalid_field", f"The field {name} is not a valid value.")
    return value


def template_context() -> dict[str, Any]:
    """Names the billing templates use: the user, the links of the site around them, the settings."""
    if "billing_template_context" not in g:  # once per request (the site's pages and billing's share it)
        config = settings()
        # only what pages show: never the settings themselves (keys, secrets, database URLs)
        g.billing_template_context = {
            "billing_user": current_billing_user(), "billing_links": SiteLinks(state()),
            "billing_config": {name: config[name] for name in PUBLIC_SETTINGS}, "csrf_token": page_csrf_token}
    return g.billing_template_context


def page_csrf_token() -> str:
    """The session's CSRF token for this page's forms: made once per request, however many forms.

    Signed anew on every page, as Flask-WTF does (about 70 microseconds of a page here): a signature
    kept for the session's life would be the same secret in every answer, which compression side
    channels (BREACH) can read out of a page that also echoes a visitor's input.
    """
    if "billing_csrf_token" not in g:
        g.billing_csrf_token = generate_csrf()
    return g.billing_csrf_token


class SiteLinks:
    """Where the layout's links go, which depends on who signs people in; signing in comes back to
    the page.  The fixed ones are worked out once per app and script root (a proxy's prefix), the
    sign-in ones only when a page shows them (a signed-in page never does)."""

    ROOTS_KEPT = 8  # script roots whose links are kept (a proxy may pass a client's prefix through)

    def __init__(self, billing: Any) -> None:
        self.billing = billing
        links = billing.links.get(request.script_root)
        if links is None:
            standalone, accounts = billing.standalone, billing.auth_mode == "accounts"
            links = {
                "home": url_for("main.home") if standalone else "/",
                "sign_out": url_for("auth.logout") if accounts else None,
                "settings": url_for("auth.account_settings") if accounts else None,
                "terms": billing.settings["TERMS_URL"] or (url_for("main.terms") if standalone else None),
                "privacy": billing.settings["PRIVACY_URL"] or (url_for("main.privacy") if standalone else None),
                # billing's own pages and files, linked from every page
                "account": url_for("billing.account.account"),
                "pricing": url_for("billing.plans.pricing"),
                "portal": url_for("billing.portal.portal"),
                "stylesheet": url_for("billing.static", filename="style.css"),
                "icon": url_for("billing.static", filename="favicon.svg"),
            }
            if len(billing.links) < self.ROOTS_KEPT:
                billing.links[request.script_root] = links
        self.__dict__.update(links)

    @property
    def sign_in(self) -> str | None:
        return login_url_for(current_page())

    @property
    def sign_up(self) -> str | None:
        return url_for("auth.signup", next=current_page()) if self.billing.auth_mode == "accounts" else None


def _register_features() -> None:
    from billing_app.account import bp as account_bp
    from billing_app.checkout import bp as checkout_bp
    from billing_app.plans import bp as plans_bp
    from billing_app.portal import bp as portal_bp

    for feature in (account_bp, plans_bp, checkout_bp, portal_bp):
        billing_bp.register_blueprint(feature)


@billing_bp.app_template_filter("billing_sentence_end")
def sentence_end(text: str) -> str:
    """``text`` ending a sentence: "Acme Ltd" -> "Acme Ltd.", "Example Inc." stays (no double period)."""
    text = str(text).rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def limit_request_size() -> None:
    """Billing's requests are small (a few form fields): a larger body answers 413 before it is read."""
    limit = settings()["MAX_CONTENT_LENGTH"]
    host_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    request.max_content_length = min(limit, host_limit) if host_limit else limit


def csp_policy(settings: Any) -> str:
    """No inline script or style, nothing framed, forms only to this site and to Stripe's pages
    (a form's 303 to Checkout or the portal is a form action too)."""
    targets = ["'self'", "https://checkout.stripe.com", "https://billing.stripe.com",
               *settings["STRIPE_CUSTOM_DOMAINS"]]
    for url in (settings["STRIPE_API_BASE"], settings["LOGIN_URL"]):  # a stand-in for Stripe; the sign-in page
        if url and "://" in url:
            parts = urlsplit(url)
            targets.append(f"{parts.scheme}://{parts.netloc}")
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
            f"form-action {' '.join(targets)}")


def content_security_policy(billing: Any) -> str:
    """The Content-Security-Policy billing_app's answers carry ("" for none), worked out once per app."""
    if billing.csp is None:
        config = billing.settings
        policy = config["CONTENT_SECURITY_POLICY"] or (csp_policy(config) if billing.standalone else "none")
        billing.csp = "" if policy == "none" else policy
    return billing.csp


def form_may_go_to(policy: str, url: str) -> bool:
    """Whether a browser lets a form on this site, under ``policy``, end up at ``url`` through a redirect.

    CSP's source matching for the form-action directive: '*', 'self', a scheme
    (https:), or a host with an optional scheme, ``*.`` wildcard and port (http
    sources also allow https); a path is ignored after a redirect.  No
    form-action directive: anywhere.
    """
    directives = {part.split()[0].lower(): part.split()[1:] for part in policy.split(";") if part.split()}
    if "form-action" not in directives:
        return True
    target = urlsplit(url)
    scheme, host = target.scheme.lower(), (target.hostname or "").lower()
    port = target.port or DEFAULT_PORTS.get(scheme)
    site = urlsplit(request.host_url)
    for source in (source.lower() for source in directives["form-action"]):
        if source == "'self'":
            source = f"{site.scheme}://{site.netloc}"
        if source == "*" or (source.endswith(":") and "/" not in source):  # any, or a scheme
            if scheme in DEFAULT_PORTS and source in ("*", f"{scheme}:", "http:"):
                return True
            continue
        any_port = source.endswith(":*")
        allowed = urlsplit((source[:-2] if any_port else source) if "://" in source else f"{scheme}://{source}")
        if allowed.scheme not in (scheme, "http" if scheme == "https" else scheme):
            continue
        allowed_host = allowed.hostname or ""
        if host != allowed_host and not (allowed_host.startswith("*.") and host.endswith(allowed_host[1:])):
            continue
        allowed_port = allowed.port or DEFAULT_PORTS.get(allowed.scheme)
        if any_port or port == allowed_port or (allowed.port is None and port == DEFAULT_PORTS.get(scheme)):
            return True
    return False


def to_stripe(url: str):
    """The answer that sends a form's user to a Stripe page: a 303, unless this site's CSP would stop
    the browser there (a Stripe custom domain missing from STRIPE_CUSTOM_DOMAINS); then a page that
    goes on by itself with a link, which form-action does not govern, and a line in the log."""
    billing = state()
    if form_may_go_to(content_security_policy(billing), url):
        return redirect(url, 303)
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    log.error(prefixed(f"Stripe sent a customer to {origin}, where this site's Content-Security-Policy "
                            f"does not let a form go: add {origin} to STRIPE_CUSTOM_DOMAINS (or to "
                            "CONTENT_SECURITY_POLICY's form-action); until then customers see a "
                            "\"Continue to Stripe\" page first", billing.setting_prefix))
    # the Refresh header goes on by itself (navigation, not a form action); the link is for the rest
    return render_template("billing/continue.html", url=url), 200, {"Refresh": f"0; url={url}"}


def default_headers(billing: Any) -> list[tuple[str, str]]:
    """The headers every answer carries unless the view or the host set them, worked out once per app: no framing, no sniffing, no referrer beyond this origin,
    HSTS over https, and a strict CSP on billing_app's own site (mounted, the host's layout may need
    its own scripts: CONTENT_SECURITY_POLICY sets one)."""
    if billing.headers is None:
        headers = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                   ("Referrer-Policy", "strict-origin-when-cross-origin")]
        if billing.standalone and (billing.settings["SITE_URL"] or "").startswith("https://"):
            # mounted, HSTS (a promise for the whole domain and its subdomains) is the host's to make
            headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        policy = content_security_policy(billing)
        if policy:
            headers.append(("Content-Security-Policy", policy))
        billing.headers = headers
    return billing.headers


def secure_headers(response):
    """``default_headers`` on every answer (a header the view or the host already set is kept), and
    nothing stored by caches: pages show a user's billing."""
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    headers.extend([(name, value) for name, value in default_headers(state()) if name.lower() not in present])
    if not (request.endpoint or "").endswith("static"):  # errors (no endpoint) included
        headers["Cache-Control"] = "no-store"
    return response


def request_id_and_headers(response):
    """Once per answer: billing_app's own site registers this for every route, and the blueprint for its
    own (which is all of them when mounted)."""
    if g.get("billing_headers_done"):
        return response
    g.billing_headers_done = True
    return secure_headers(echo_request_id(response))


billing_bp.before_request(assign_request_id)
billing_bp.after_request(request_id_and_headers)
billing_bp.before_request(limit_request_size)
billing_bp.before_request(check_csrf)
billing_bp.context_processor(template_context)
errors.register(billing_bp)
_register_features()
