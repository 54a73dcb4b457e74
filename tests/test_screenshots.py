"""Issue 14: every demo persona's pages at desktop and phone width, in a real Chromium.

Each page must fit a 375 px wide screen without sideways scrolling, a 60-character email
address included.  The PNGs go to a temporary folder; with UPDATE_SCREENSHOTS=1 they replace
the README's gallery in docs/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from billing_app.demo import ACCOUNTS, DEMO_PASSWORD, load_demo
from tests.test_browser import browser, live_app, send_account_form  # noqa: F401 fixtures

GALLERY = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
WIDTHS = {"desktop": (1280, 900), "phone": (375, 812)}
LONG_EMAIL = "a.very.long.name.for.a.customer.who.signs.up@example-company.com"  # 60+ characters


@pytest.fixture
def folder(tmp_path) -> Path:
    if os.environ.get("UPDATE_SCREENSHOTS"):
        GALLERY.mkdir(parents=True, exist_ok=True)
        return GALLERY
    return tmp_path


def sideways_overflow(page) -> int:
    """How many pixels the page is wider than the screen (0: no sideways scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def sign_in(page, site: str, email: str, password: str) -> None:
    page.goto(f"{site}/login")
    send_account_form(page, email, password)
    page.wait_for_url(f"{site}/account")


def test_every_persona_at_desktop_and_phone_width(browser, live_app, database_url, folder):  # noqa: F811
    load_demo(database_url)
    for width, (w, h) in WIDTHS.items():
        context = browser.new_context(viewport={"width": w, "height": h})
        page = context.new_page()
        page.goto(f"{live_app}/pricing")
        assert sideways_overflow(page) <= 0, f"/pricing scrolls sideways at {width} width"
        page.screenshot(path=folder / f"pricing-{width}.png", full_page=True)
        for account in ACCOUNTS:
            sign_in(page, live_app, account.email, DEMO_PASSWORD)
            assert sideways_overflow(page) <= 0, f"{account.key}'s /account scrolls sideways at {width} width"
            page.screenshot(path=folder / f"account-{account.key}-{width}.png", full_page=True)
            page.context.clear_cookies()
        context.close()
    expected = {f"{name}-{width}.png" for width in WIDTHS
                for name in ["pricing", *(f"account-{account.key}" for account in ACCOUNTS)]}
    assert expected <= {path.name for path in folder.glob("*.png")}


def test_a_60_character_email_fits_a_phone_screen(browser, live_app, auth):  # noqa: F811
    assert len(LONG_EMAIL) >= 60
    auth.signup(LONG_EMAIL, "correct horse battery")
    page = browser.new_context(viewport=dict(zip(("width", "height"), WIDTHS["phone"]))).new_page()
    sign_in(page, live_app, LONG_EMAIL, "correct horse battery")
    for path in ("/account", "/pricing", "/settings"):
        page.goto(live_app + path)
        assert sideways_overflow(page) <= 0, f"{path} scrolls sideways at 375 px with a {len(LONG_EMAIL)}-character email"
