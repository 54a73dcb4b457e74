"""billing_app mounted in a host Flask app (tests/host_app.py): the host's users, settings with
a BILLING_ prefix, pages under /billing, the host's own handlers and settings left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask_login import LoginManager

from billing_app import Billing
from billing_app.config import ConfigError
from tests.conftest import TEST_STRIPE_KEY, csrf_token_from
from tests.host_app import USERS, create_host_app
from tests.stripe_stand_in import answer_portal_session, requests_to, sent_form

ADA = USERS["ada@host.test"]
SESSIONS = "/v1/billing_portal/sessions"
ROOT = Path(__file__).resolve().parent.parent


def billing_config(database_url: str, stripe_base: str, **overrides) -> dict:
    config = {"TESTING": True, "BILLING_DATABASE_URL": database_url, "BILLING_STRIPE_SECRET_KEY": TEST_STRIPE_KEY,
              "BILLING_STRIPE_API_BASE": stripe_base, "BILLING_STRIPE_MAX_NETWORK_RETRIES": "0",
              "BILLING_SITE_URL": "https://host.example", "BILLING_DATABASE_POOL_MIN_SIZE": "1"}
    return {**config, **overrides}


@pytest.fixture
def host_config(database_url, stripe_api) -> dict:
    return billing_config(database_url, stripe_api.url_for("").rstrip("/"))


@pytest.fixture
def host(host_config):
    app = create_host_app(host_config)
    yield app
    app.extensions["billing_db"].close()


@pytest.fixture
def ada(mirror):
    mirror.customer("cus_ada", ADA.id, email=ADA.email)
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    mirror.price("price_pro_yearly", "prod_pro", interval="year", unit_amount=29000, nickname="Pro yearly")
    mirror.subscription("sub_ada", "cus_ada", items=[("price_pro_monthly", 1)])


def signed_in(app, email=ADA.email):
    client = app.test_client()
    assert client.post("/login", data={"email": email}).status_code == 302
    return client


def test_pages_and_api_live_under_the_prefix_with_the_hosts_user(host, ada):
    client = signed_in(host)
    page = client.get("/billing/account")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Pro" in html and ADA.email in html
    assert 'action="/billing/portal"' in html
    assert client.get("/billing/api/billing/summary").get_json()["customer"] == "cus_ada"
    assert client.get("/billing/").headers["Location"].endswith("/billing/account")
    assert client.get("/billing/pricing").status_code == 200
    assert client.get("/account").status_code == 404  # nothing of billing's outside the prefix


def test_portal_and_checkout_send_the_hosts_user_customer_and_prefixed_urls(host, ada, mirror, stripe_api):
    answer_portal_session(stripe_api)
    client = signed_in(host)
    token = csrf_token_from(client.get("/billing/account").get_data(as_text=True))
    assert client.post("/billing/portal", data={"csrf_token": token}).status_code == 303
    assert client.post("/billing/api/customer_portal", headers={"X-CSRFToken": token}).status_code == 200
    sent = [sent_form(r) for r in requests_to(stripe_api, SESSIONS)]
    assert [s["customer"] for s in sent] == ["cus_ada", "cus_ada"]
    assert sent[0]["return_url"] == "https://host.example/billing/account?from=portal"
    # the user without a customer gets one at checkout, linked by the host's user id
    stripe_api.expect_request("/v1/customers", method="POST").respond_with_json({"id": "cus_bob", "object": "customer"})
    stripe_api.expect_request("/v1/checkout/sessions", method="POST").respond_with_json(
        {"id": "cs_1", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_1"})
    bob = signed_in(host, "bob@host.test")
    token = csrf_token_from(bob.get("/billing/pricing").get_data(as_text=True))
    assert bob.post("/billing/checkout", data={"csrf_token": token, "price": "price_pro_monthly"}).status_code == 303
    assert sent_form(requests_to(stripe_api, "/v1/customers")[0]) == {"email": "bob@host.test",
                                                                       "metadata[user_id]": "7"}
    session = sent_form(requests_to(stripe_api, "/v1/checkout/sessions")[0])
    assert session["customer"] == "cus_bob"
    assert session["success_url"] == "https://host.example/billing/account?from=checkout"
    assert session["cancel_url"] == "https://host.example/billing/pricing"


def test_the_hosts_user_locale_reaches_stripe_as_a_locale_stripe_speaks_or_not_at_all(host, mirror, stripe_api):
    """A host's user model may keep "pt_BR" (POSIX) or a language Stripe's pages do not speak: sent as
    it is, Stripe answers 400 and every portal click of that user fails."""
    for email in ("ines@host.test", "kim@host.test"):
        mirror.customer(f"cus_{USERS[email].id}", USERS[email].id, email=email)
    answer_portal_session(stripe_api)
    for email in ("ines@host.test", "kim@host.test"):
        client = signed_in(host, email)
        token = csrf_token_from(client.get("/billing/account").get_data(as_text=True))
        assert client.post("/billing/portal", data={"csrf_token": token}).status_code == 303
    assert [sent_form(r) for r in requests_to(stripe_api, SESSIONS)] == [
        {"customer": "cus_ines-1", "return_url": "https://host.example/billing/account?from=portal", "locale": "pt-BR"},
        {"customer": "cus_kim-1", "return_url": "https://host.example/billing/account?from=portal"}]


def test_billing_forms_need_their_csrf_token_even_with_the_host_exempting_them(host, ada, stripe_api):
    client = signed_in(host)
    assert client.post("/billing/portal").status_code == 400
    assert client.post("/billing/api/customer_portal").status_code == 400
    assert requests_to(stripe_api, SESSIONS) == []


def test_signed_out_pages_go_to_the_hosts_sign_in_and_the_api_is_401(host):
    client = host.test_client()
    page = client.get("/billing/account")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=")
    answer = client.get("/billing/api/billing/summary")
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("email", ["ghost@host.test", "blank@host.test"])
def test_a_host_user_without_an_id_is_signed_out(host, ada, email):
    answer = host.test_client().get("/billing/api/billing/summary", headers={"X-Host-User": email})
    assert answer.status_code == 401


def test_host_csrf_protect_set_up_after_billing_still_lets_billing_check_its_own(host_config, ada, stripe_api):
    from flask import Flask
    from flask_wtf.csrf import CSRFProtect
    app = Flask("late_csrf")
    app.config.update(SECRET_KEY="s" * 40, **host_config, BILLING_AUTH_MODE="jwt")
    from tests.test_jwt import SECRET, mint
    app.config["BILLING_JWT_SECRET"] = SECRET
    billing = Billing()  # the factory form: one extension object, bound in the factory
    billing.init_app(app)
    CSRFProtect(app)  # after Billing(app)
    try:
        answer_portal_session(stripe_api)
        token = mint({"sub": ADA.id}, drop=("aud", "iss"))
        answer = app.test_client().post("/billing/api/customer_portal", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
    finally:
        app.extensions["billing_db"].close()


def test_billing_puts_nothing_into_the_hosts_own_templates(host):
    from flask import render_template_string
    with host.test_request_context("/"):
        assert render_template_string("{{ billing_config is defined }}/{{ billing_user is defined }}") == \
            "False/False"


def test_the_hosts_own_handlers_and_settings_are_left_alone(host):
    client = host.test_client()
    assert client.get("/nowhere").get_json() == {"host": "not found"}  # the host's 404, not billing's page
    assert host.config["SITE_URL"] == "https://host.example"
    assert host.config["SECRET_KEY"].startswith("host-secret-")
    assert "DATABASE_URL" not in host.config and "STRIPE_SECRET_KEY" not in host.config
    with pytest.raises(RuntimeError):
        host.config["PROPAGATE_EXCEPTIONS"] = True
        client.get("/boom")  # the host's own error is the host's: billing's error page does not catch it


def test_host_templates_override_billings(host_config, ada, tmp_path):
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "layout.html").write_text(
        "<html><body><nav>HOST NAV</nav>{% block content %}{% endblock %}</body></html>")
    app = create_host_app(host_config, template_folder=str(tmp_path))
    try:
        html = signed_in(app).get("/billing/account").get_data(as_text=True)
        assert "HOST NAV" in html and "Pro" in html
    finally:
        app.extensions["billing_db"].close()


def test_settings_come_from_the_environment_with_the_prefix(host_config, ada, monkeypatch):
    for name, value in host_config.items():
        if name.startswith("BILLING_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("BILLING_URL_PREFIX", "/money")
    app = create_host_app({"TESTING": True})
    try:
        assert signed_in(app).get("/money/api/billing/summary").get_json()["customer"] == "cus_ada"
    finally:
        app.extensions["billing_db"].close()


def test_mounted_with_jwt_mode_takes_bearer_tokens(host_config, ada, stripe_api):
    from tests.test_jwt import SECRET, mint
    app = create_host_app({**host_config, "BILLING_AUTH_MODE": "jwt", "BILLING_JWT_SECRET": SECRET})
    try:
        answer_portal_session(stripe_api)
        token = mint({"sub": ADA.id}, drop=("aud", "iss"))
        answer = app.test_client().post("/billing/api/customer_portal", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        assert sent_form(requests_to(stripe_api, SESSIONS)[0])["customer"] == "cus_ada"
    finally:
        app.extensions["billing_db"].close()


def test_mounting_without_what_the_mode_needs_names_every_problem():
    from flask import Flask
    app = Flask("bare")
    app.config.update(TESTING=True, BILLING_AUTH_MODE="accounts", BILLING_DATABASE_URL="postgresql://x@h/db")
    with pytest.raises(ConfigError) as excinfo:
        Billing(app)
    message = str(excinfo.value)
    assert "BILLING_AUTH_MODE=accounts is for billing_app's own app" in message
    assert "the host app has no SECRET_KEY" in message
    app = Flask("no_login")
    app.config.update(TESTING=True, SECRET_KEY="k" * 40, BILLING_DATABASE_URL="postgresql://x@h/db")
    with pytest.raises(ConfigError, match="AUTH_MODE=host needs Flask-Login on the host app"):
        Billing(app)
    LoginManager(app)
    app.config["BILLING_AUTH_MODE"] = "jwt"
    with pytest.raises(ConfigError, match="BILLING_AUTH_MODE=jwt needs BILLING_JWT_SECRET or BILLING_JWT_JWKS_URL"):
        Billing(app)


def test_a_host_served_without_site_url_and_stripe_key_names_both(tmp_path):
    """As gunicorn would load the host (no `flask` command, not testing)."""
    import subprocess
    import sys
    code = ("from flask import Flask; from flask_login import LoginManager; from billing_app import Billing; "
            "app = Flask('h'); app.config['SECRET_KEY'] = 'k' * 40; LoginManager(app); "
            "app.config['BILLING_DATABASE_URL'] = 'postgresql://x@127.0.0.1:1/x'; Billing(app)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert result.returncode != 0
    assert "2 settings need attention:" in result.stderr
    assert "BILLING_SITE_URL is not set" in result.stderr and "BILLING_STRIPE_SECRET_KEY is not set" in result.stderr


def test_the_host_gets_billings_commands_in_one_group(host):
    result = host.test_cli_runner().invoke(args=["billing", "--help"])
    assert result.exit_code == 0
    for command in ("db", "portal", "report", "doctor", "demo"):
        assert command in result.output
    result = host.test_cli_runner().invoke(args=["billing", "report", "list"])
    assert result.exit_code == 0, result.output
    assert "mrr_summary" in result.output
    doctor = host.test_cli_runner().invoke(args=["billing", "doctor"]).output
    assert "OK   BILLING_SITE_URL: https://host.example" in doctor  # settings named as the host knows them
    assert "OK   sign-in: the host app's Flask-Login users (BILLING_AUTH_MODE=host)" in doctor


def test_doctor_fails_when_built_in_accounts_are_left_behind(host, owner_conn):
    """Switched from the built-in accounts: their ids ('1', '2'...) could match the host's users."""
    owner_conn.execute("INSERT INTO billing_app.users (email, password_hash) VALUES ('old@example.com', 'x')")
    doctor = host.test_cli_runner().invoke(args=["billing", "doctor"]).output
    assert "FAIL sign-in: BILLING_AUTH_MODE=host, but billing_app.users holds 1 built-in account(s)" in doctor


def test_operator_detail_names_settings_as_the_host_knows_them(host_config, ada, caplog):
    import logging
    app = create_host_app({**host_config, "BILLING_STRIPE_SECRET_KEY": ""})
    try:
        client = signed_in(app)
        token = csrf_token_from(client.get("/billing/account").get_data(as_text=True))
        with caplog.at_level(logging.ERROR):
            answer = client.post("/billing/api/customer_portal", headers={"X-CSRFToken": token})
        assert answer.status_code == 503 and "STRIPE_SECRET_KEY" not in answer.get_data(as_text=True)
        assert "BILLING_STRIPE_SECRET_KEY is not set (answered 503 stripe_not_configured)" in caplog.text
    finally:
        app.extensions["billing_db"].close()


def test_mounted_the_portal_links_no_legal_page_billing_does_not_serve(host_config, ada, stripe_api, tmp_path):
    """Mounted, billing_app has no /terms or /privacy: `portal configure` leaves a link it does not know
    out instead of pointing Stripe's portal at a page that may not be there, says which setting gives
    it, and removes the link to its own /privacy that earlier releases sent on a guess."""
    from billing_app.portal.configuration import links_to_clear
    from tests.test_portal_commands import answer_list, configuration
    portal_file = tmp_path / "portal.toml"
    portal_file.write_text('[business_profile]\nheadline = "Manage your plan"\n')
    app = create_host_app({**host_config, "BILLING_TERMS_URL": "https://host.example/legal/terms"})
    note = ("note: no privacy policy link is sent to Stripe (mounted, billing_app has no such page of its own): "
            "set BILLING_PRIVACY_URL, or business_profile's URLs in portal.toml\n")
    try:
        runner = app.test_cli_runner()
        dry = runner.invoke(args=["billing", "portal", "configure", "--file", str(portal_file), "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert dry.stderr == (note + "note: an update also removes the portal's privacy policy link if it is "
                              "https://host.example/privacy, which earlier releases sent\n"
                              "dry run: nothing was sent to Stripe\n")
        assert json.loads(dry.stdout)["business_profile"] == {
            "terms_of_service_url": "https://host.example/legal/terms", "headline": "Manage your plan"}
        guessed = {"privacy_policy_url": "https://host.example/privacy",
                   "terms_of_service_url": "https://host.example/terms"}
        answer_list(stripe_api, {**configuration("bpc_mine"), "business_profile": guessed})
        stripe_api.expect_request("/v1/billing_portal/configurations/bpc_mine", method="POST").respond_with_json(
            configuration("bpc_mine"))
        result = runner.invoke(args=["billing", "portal", "configure", "--file", str(portal_file)])
        assert result.exit_code == 0, result.output
        assert result.stderr == note
        assert result.stdout.splitlines()[1] == (
            "removed the portal's privacy policy link to https://host.example/privacy: an earlier release sent it, "
            "and billing_app serves no such page when mounted")
        (updated,) = requests_to(stripe_api, "/v1/billing_portal/configurations/bpc_mine")
        sent = sent_form(updated)
        assert sent["business_profile[privacy_policy_url]"] == ""  # the earlier guess goes
        assert sent["business_profile[terms_of_service_url]"] == "https://host.example/legal/terms"
    finally:
        app.extensions["billing_db"].close()
    # a link of the team's own (set in the Dashboard) stays: nothing is sent for it
    params = {"business_profile": {"terms_of_service_url": "https://host.example/legal/terms"}}
    assert links_to_clear(params, {"business_profile": {"privacy_policy_url": "https://host.example/legal/privacy"}},
                          "https://host.example") == {}
