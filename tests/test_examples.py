"""The runnable examples in examples/ work against the real app, database and Stripe stand-in."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from tests.conftest import csrf_token_from
from tests.stripe_stand_in import answer_portal_session, requests_to, sent_form
from tests.test_browser import browser, stand_in_portal  # noqa: F401  (fixtures)
from tests.test_host_app import host_config  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent


def load_example(name: str):
    path = ROOT / "examples" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_host_app_example_signs_its_user_in_and_opens_the_portal(host_config, mirror, stripe_api):  # noqa: F811
    example = load_example("host_app")
    app = example.create_app({**host_config, "SECRET_KEY": "example-" + "e" * 40})
    try:
        ada = example.user_by_email("ada@example.com")
        mirror.customer("cus_example", ada.id)
        mirror.product("prod_pro", "Pro")
        mirror.price("price_pro_monthly", "prod_pro")
        mirror.subscription("sub_1", "cus_example", items=[("price_pro_monthly", 1)])
        answer_portal_session(stripe_api)
        client = app.test_client()
        assert client.get("/billing/account").headers["Location"].startswith("/login?next=")
        signed_in = client.post("/login?next=/billing/account",
                                data={"email": "ada@example.com", "password": example.DEMO_PASSWORD})
        assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/billing/account"
        page = client.get("/billing/account")
        assert page.status_code == 200 and "Pro" in page.get_data(as_text=True)
        token = csrf_token_from(page.get_data(as_text=True))
        assert client.post("/billing/portal", data={"csrf_token": token}).status_code == 303
        assert sent_form(requests_to(stripe_api, "/v1/billing_portal/sessions")[0])["customer"] == "cus_example"
    finally:
        app.extensions["billing_db"].close()


def test_the_static_portal_button_opens_the_portal_from_another_origin(browser, database_url, stripe_api,
                                                                       stand_in_portal, mirror):
    """examples/static_portal_button/index.html served from its own origin, billing_app (AUTH_MODE=jwt,
    CORS_ORIGINS naming that origin) on another: the button's fetch with a bearer token, then the portal."""
    from billing_app import create_app
    from tests.conftest import make_config
    from tests.test_browser import serving
    from tests.test_jwt import SECRET, USER_ID, mint

    html = (ROOT / "examples" / "static_portal_button" / "index.html").read_text()
    mirror.customer("cus_static", USER_ID)
    with serving(lambda site: _static(html)) as page_origin:
        stripe_base = stripe_api.url_for("").rstrip("/")
        make = lambda site: create_app(make_config(  # noqa: E731
            database_url, stripe_base, SITE_URL=site, AUTH_MODE="jwt", JWT_SECRET=SECRET,
            JWT_AUDIENCE="authenticated", CORS_ORIGINS=page_origin))
        with serving(make) as api_origin:
            page = browser.new_page()
            page.goto(page_origin + "/")
            page.fill("#api", api_origin)
            page.fill("#token", mint())
            page.click("#manage")
            page.wait_for_url(stripe_api.url_for("/p/session/bps_1"))
    (request,) = requests_to(stripe_api, "/v1/billing_portal/sessions")
    assert sent_form(request)["customer"] == "cus_static"


class _static:
    """A WSGI app serving one page (with a billing_db stub, as `serving` closes the app's pool)."""

    def __init__(self, html: str) -> None:
        self.html = html
        self.extensions = {"billing_db": type("NoPool", (), {"close": lambda self: None})()}

    def __call__(self, environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [self.html.encode()]
