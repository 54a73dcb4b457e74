"""`flask portal configure` and `flask billing doctor` against the local Stripe stand-in."""

import json

import pytest

from billing_app.demo import load_demo
from tests.conftest import invoke_cli
from tests.test_accounts_mail import mailbox  # noqa: F401 the SMTP server fixture
from tests.stripe_stand_in import INVALID_API_KEY, answer_error, requests_to, sent_form

CONFIGURATIONS = "/v1/billing_portal/configurations"

PORTAL_TOML = """
[business_profile]
headline = "Manage your Acme plan"

[customer_update]
enabled = true
allowed_updates = ["email", "tax_id"]

[subscription_cancel]
enabled = true
mode = "immediately"
proration_behavior = "create_prorations"
reasons = ["too_expensive", "other"]

[subscription_update]
enabled = true
allowed_updates = ["price"]
proration_behavior = "always_invoice"
products = ["prod_pro"]
downgrades_at_period_end = ["shortening_interval"]
"""

EXPECTED_FORM = {
    "business_profile[privacy_policy_url]": "http://billing.test/privacy",
    "business_profile[terms_of_service_url]": "http://billing.test/terms",
    "business_profile[headline]": "Manage your Acme plan",
    "default_return_url": "http://billing.test/account?from=portal",
    "features[invoice_history][enabled]": "true",
    "features[payment_method_update][enabled]": "true",
    "features[customer_update][enabled]": "true",
    "features[customer_update][allowed_updates][0]": "email",
    "features[customer_update][allowed_updates][1]": "tax_id",
    "features[subscription_cancel][enabled]": "true",
    "features[subscription_cancel][mode]": "immediately",
    "features[subscription_cancel][proration_behavior]": "create_prorations",
    "features[subscription_cancel][cancellation_reason][enabled]": "true",
    "features[subscription_cancel][cancellation_reason][options][0]": "too_expensive",
    "features[subscription_cancel][cancellation_reason][options][1]": "other",
    "features[subscription_update][enabled]": "true",
    "features[subscription_update][default_allowed_updates][0]": "price",
    "features[subscription_update][proration_behavior]": "always_invoice",
    "features[subscription_update][products][0][product]": "prod_pro",
    "features[subscription_update][products][0][prices][0]": "price_pro_monthly",
    "features[subscription_update][products][0][prices][1]": "price_pro_yearly",
    "features[subscription_update][schedule_at_period_end][conditions][0][type]": "shortening_interval",
    "metadata[managed_by]": "billing_app",
}


@pytest.fixture
def catalog(mirror):
    mirror.product("prod_pro", "Pro")
    mirror.product("prod_old", "Old", active=False)
    mirror.price("price_pro_monthly", "prod_pro")
    mirror.price("price_pro_yearly", "prod_pro", interval="year", unit_amount=29000)
    mirror.price("price_pro_retired", "prod_pro", active=False)
    mirror.price("price_old", "prod_old")
    return mirror


@pytest.fixture
def portal_file(tmp_path):
    path = tmp_path / "portal.toml"
    path.write_text(PORTAL_TOML)
    return path


def configuration(id_="bpc_1", *, managed=True, active=True, livemode=False, is_default=False):
    return {"id": id_, "object": "billing_portal.configuration", "active": active, "livemode": livemode,
            "is_default": is_default, "metadata": {"managed_by": "billing_app"} if managed else {}}


def answer_list(stripe_api, *configurations):
    stripe_api.expect_request(CONFIGURATIONS, method="GET").respond_with_json(
        {"object": "list", "data": list(configurations), "has_more": False, "url": CONFIGURATIONS})


def test_dry_run_prints_the_parameters_and_sends_nothing(runner, catalog, portal_file, stripe_api):
    result = runner.invoke(args=["portal", "configure", "--file", str(portal_file), "--dry-run"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)  # the parameters alone: `--dry-run > params.json` is JSON
    assert printed["features"]["subscription_update"]["products"] == [
        {"product": "prod_pro", "prices": ["price_pro_monthly", "price_pro_yearly"]}]
    assert printed["metadata"] == {"managed_by": "billing_app"}
    assert result.stderr == "dry run: nothing was sent to Stripe\n"
    assert stripe_api.log == []


def test_configure_creates_a_configuration_with_exact_parameters(runner, catalog, portal_file, stripe_api):
    answer_list(stripe_api, configuration("bpc_other", managed=False, is_default=True))
    stripe_api.expect_request(CONFIGURATIONS, method="POST").respond_with_json(configuration("bpc_new"))
    result = runner.invoke(args=["portal", "configure", "--file", str(portal_file)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["created portal configuration bpc_new (test mode)",
                                          "set STRIPE_PORTAL_CONFIGURATION=bpc_new"]
    (created,) = requests_to(stripe_api, CONFIGURATIONS)
    assert sent_form(created) == EXPECTED_FORM


def test_configure_twice_updates_the_one_it_created(runner, catalog, portal_file, stripe_api):
    answer_list(stripe_api, configuration("bpc_other", managed=False), configuration("bpc_mine"))
    stripe_api.expect_request(f"{CONFIGURATIONS}/bpc_mine", method="POST").respond_with_json(
        configuration("bpc_mine"))
    result = runner.invoke(args=["portal", "configure", "--file", str(portal_file)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "updated portal configuration bpc_mine (test mode)"
    assert requests_to(stripe_api, CONFIGURATIONS) == []  # nothing created
    (updated,) = requests_to(stripe_api, f"{CONFIGURATIONS}/bpc_mine")
    assert sent_form(updated) == {**EXPECTED_FORM, "active": "true"}


def test_the_repository_portal_file_is_valid(runner, catalog, stripe_api):
    result = runner.invoke(args=["portal", "configure", "--dry-run"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("replace, add, message", [
    ('mode = "immediately"', 'mode = "whenever"',
     "subscription_cancel.mode: 'whenever' is not one of at_period_end, immediately"),
    ('allowed_updates = ["email", "tax_id"]', 'allowed_updates = ["email", "password"]',
     "customer_update.allowed_updates: must be a list of address, email, name, phone, shipping, tax_id"),
    ('products = ["prod_pro"]', 'products = ["prod_old"]',
     "subscription_update.products: prod_old is not an active product with active recurring prices"),
    ('headline = "Manage your Acme plan"', 'headline = "' + "x" * 61 + '"',
     "portal.toml: business_profile.headline: must be text of at most 60 characters (Stripe's limit; this is 61)"),
    ('headline = "Manage your Acme plan"', 'headline = "ok"\nprivacy_policy_url = "example.com/privacy"',
     "business_profile.privacy_policy_url: 'example.com/privacy' is not an absolute http(s) URL"),
    ('reasons = ["too_expensive", "other"]', 'reasons = ["too_expensive", "bored"]',
     "subscription_cancel.reasons: must be a list of customer_service"),
    ('enabled = true\nallowed_updates = ["price"]', 'enabled = "yes"\nallowed_updates = ["price"]',
     "subscription_update.enabled: must be true or false"),
    ('proration_behavior = "always_invoice"', 'prorate = true',
     "subscription_update.prorate: unknown setting"),
    ('[business_profile]', '[business_profile',
     "not valid TOML"),
    ('products = ["prod_pro"]', 'products = ["prod_pro", "prod_pro"]',
     "subscription_update.products: lists a product twice"),
    ('products = ["prod_pro"]', 'products = "some"',
     'subscription_update.products: must be "all", "plans" or a list of product ids'),
    ('products = ["prod_pro"]', 'products = ["prod_pro"]\nadjustable_quantity = { prod_seats = { minimum = 1 } }',
     "subscription_update.adjustable_quantity.prod_seats: not one of the products customers may switch between"),
    ('products = ["prod_pro"]', 'products = ["prod_pro"]\nadjustable_quantity = { prod_pro = { minimum = 5, maximum = 2 } }',
     "subscription_update.adjustable_quantity.prod_pro: minimum is larger than maximum"),
    ('products = ["prod_pro"]', 'products = ["prod_pro"]\nadjustable_quantity = { prod_pro = { minimum = -1 } }',
     "subscription_update.adjustable_quantity.prod_pro: minimum and maximum must be whole numbers, 0 or more"),
    ('products = ["prod_pro"]', 'products = ["prod_pro"]\nadjustable_quantity = { prod_pro = { most = 3 } }',
     "subscription_update.adjustable_quantity.prod_pro: must be { minimum = 1, maximum = 50 }"),
])
def test_invalid_settings_are_refused_before_any_call(runner, catalog, portal_file, stripe_api,
                                                      replace, add, message):
    portal_file.write_text(PORTAL_TOML.replace(replace, add))
    result = runner.invoke(args=["portal", "configure", "--file", str(portal_file)])
    assert result.exit_code == 1
    assert "portal settings refused, nothing sent to Stripe: " in result.output
    assert message in result.output
    assert stripe_api.log == []


def test_configure_with_refused_key_fails_cleanly(runner, catalog, portal_file, stripe_api):
    answer_error(stripe_api, CONFIGURATIONS, 401, INVALID_API_KEY, method="GET")
    result = runner.invoke(args=["portal", "configure", "--file", str(portal_file)])
    assert result.exit_code == 1
    assert "Stripe refused the API key (AuthenticationError" in result.output  # the operator's part, to the operator
    assert "check STRIPE_SECRET_KEY" in result.output
    assert "p7dc" not in result.output


# --- doctor -------------------------------------------------------------------------

@pytest.fixture
def healthy(database_url, stripe_api, owner_conn):
    load_demo(database_url)
    answer_list(stripe_api, configuration("bpc_1"))
    stripe_api.expect_request(f"{CONFIGURATIONS}/bpc_1", method="GET").respond_with_json(configuration("bpc_1"))


@pytest.fixture
def doctor(app_config):
    def run(*args, **config):
        return invoke_cli({**app_config, "STRIPE_PORTAL_CONFIGURATION": "bpc_1", **config},
                          "billing", "doctor", *args)
    return run


def test_doctor_all_ok(doctor, healthy):
    result = doctor()
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:8] == ["OK   stripe key: test mode, accepted by Stripe",
                         "OK   portal configuration: bpc_1 exists and is active (test mode)",
                         "OK   SITE_URL: http://billing.test",
                         "OK   public details: COMPANY_NAME='Example Inc.' is a placeholder; CONTACT_EMAIL="
                         "billing@example.com is a placeholder; TERMS_URL and PRIVACY_URL unset: /terms and /privacy "
                         "show billing_app's generic text (fine in test mode; set them before going live)",
                         "OK   sign-in: billing_app's built-in accounts (AUTH_MODE=accounts)",
                         "OK   mail: MAIL_URL unset: password resets and address confirmations are only written to "
                         "the log (fine locally)",
                         "OK   mirror source: Sequin's Stripe sync (sequin)",
                         "OK   stripe.customer: readable, has rows"]
    assert "OK   mirror indexes: all 7 present" in lines
    assert any(line.startswith("OK   mirror freshness: newest mirrored row is from") for line in lines)
    assert lines[-1] == "all checks passed"


def test_doctor_reports_refused_key(doctor, database_url, stripe_api):
    load_demo(database_url)
    answer_error(stripe_api, CONFIGURATIONS, 401, INVALID_API_KEY, method="GET")
    result = doctor()
    assert result.exit_code == 1
    assert ("FAIL stripe key: Stripe refused the test-mode key: create a new secret key in Dashboard > "
            "Developers > API keys and set STRIPE_SECRET_KEY") in result.output
    assert "p7dc" not in result.output


def test_doctor_reports_missing_configuration(doctor, database_url, stripe_api):
    load_demo(database_url)
    answer_list(stripe_api)
    answer_error(stripe_api, f"{CONFIGURATIONS}/bpc_1", 404,
                 {"type": "invalid_request_error", "code": "resource_missing",
                  "message": "No such configuration: 'bpc_1'"}, method="GET")
    result = doctor()
    assert result.exit_code == 1
    assert ("FAIL portal configuration: bpc_1 does not exist in test mode: run `flask portal configure` "
            "and set STRIPE_PORTAL_CONFIGURATION to the printed id") in result.output


@pytest.mark.parametrize("answer, line", [
    (configuration("bpc_1", livemode=True),
     "FAIL portal configuration: bpc_1 belongs to live mode but the key is a test-mode key"),
    (configuration("bpc_1", active=False),
     "FAIL portal configuration: bpc_1 is inactive: run `flask portal configure`"),
])
def test_doctor_reports_wrong_mode_or_inactive_configuration(doctor, database_url, stripe_api, answer, line):
    load_demo(database_url)
    answer_list(stripe_api)
    stripe_api.expect_request(f"{CONFIGURATIONS}/bpc_1", method="GET").respond_with_json(answer)
    result = doctor()
    assert result.exit_code == 1
    assert line in result.output


def test_doctor_without_configuration_and_without_default(doctor, database_url, stripe_api):
    load_demo(database_url)
    answer_list(stripe_api, configuration("bpc_x", managed=False))
    result = doctor(STRIPE_PORTAL_CONFIGURATION="")
    assert result.exit_code == 1
    assert "FAIL portal configuration: no portal configuration in test mode: run `flask portal configure`" \
        in result.output


def test_doctor_reports_empty_tables_and_stale_mirror(doctor, stripe_api, healthy, owner_conn):
    owner_conn.execute("DELETE FROM stripe.invoice")
    owner_conn.execute("UPDATE stripe.customer SET created = created - interval '30 days'")
    owner_conn.execute("UPDATE stripe.subscription SET created = now() - interval '10 days'")
    result = doctor()
    assert result.exit_code == 1
    assert "FAIL stripe.invoice: is empty: has the sync service finished its first backfill?" in result.output
    assert "FAIL mirror freshness: newest mirrored row is from" in result.output
    assert "(10.0 days ago): check that the sync service is running" in result.output
    assert doctor("--max-age", str(24 * 11)).output.count("FAIL mirror freshness") == 0


def test_doctor_reports_stale_or_never_refreshed_reports(doctor, healthy, owner_conn):
    assert any(line.startswith("OK   precomputed reports: 6 reports, refreshed ")
               for line in doctor().output.splitlines())
    owner_conn.execute("UPDATE reporting_rollups.refreshes SET refreshed_at = now() - interval '3 hours' "
                       "WHERE rollup = 'mrr_summary'")
    result = doctor()
    assert result.exit_code == 1
    assert "FAIL precomputed reports: 6 reports, refreshed 3.0 hours ago" in result.output
    assert "older than REPORT_MAX_AGE_MINUTES=60; is the scheduled `flask report refresh` running?" in result.output
    assert "FAIL precomputed reports" not in doctor(REPORT_MAX_AGE_MINUTES="240").output
    owner_conn.execute("UPDATE reporting_rollups.refreshes SET refreshed_at = NULL WHERE rollup = 'past_due'")
    assert ("FAIL precomputed reports: never refreshed: past_due: run `flask report refresh`, and schedule it"
            in doctor().output)


@pytest.fixture
def damaged_schema(owner_conn, database_url):
    """The owner connection, for a test that breaks the schema; `flask db init` mends it afterwards."""
    from billing_app.schema import apply_schema
    yield owner_conn
    apply_schema(database_url, with_mirror=False)


def test_doctor_reports_missing_index(doctor, healthy, damaged_schema):
    damaged_schema.execute("DROP INDEX stripe.customer_metadata_user_id_idx")
    result = doctor()
    assert result.exit_code == 1
    assert "FAIL mirror indexes: missing customer_metadata_user_id_idx: run `flask db init`" in result.output


def test_doctor_reports_unreadable_table(doctor, healthy, damaged_schema):
    damaged_schema.execute("REVOKE SELECT ON stripe.price FROM billing_service")
    result = doctor()
    assert result.exit_code == 1
    assert "FAIL stripe.price: not readable by billing_service: run `flask db init`" in result.output


def test_doctor_reports_live_key_with_http_site_url(doctor, healthy, stripe_api):
    result = doctor(STRIPE_SECRET_KEY="sk_live_abc123", STRIPE_PORTAL_CONFIGURATION="")
    assert "FAIL SITE_URL: http://billing.test is not https but the Stripe key is live: use https" in result.output


LIVE = {"STRIPE_SECRET_KEY": "sk_live_abc123", "STRIPE_PORTAL_CONFIGURATION": "", "SITE_URL": "https://billing.test"}


def test_with_a_live_key_doctor_fails_on_placeholders_and_mail_only_in_the_log(doctor, healthy, stripe_api):
    answer_list(stripe_api, configuration("bpc_1", livemode=True, is_default=True))
    placeholders = doctor(**LIVE).output.splitlines()
    assert ("FAIL public details: COMPANY_NAME='Example Inc.' is a placeholder; CONTACT_EMAIL=billing@example.com "
            "is a placeholder; TERMS_URL and PRIVACY_URL unset: /terms and /privacy show billing_app's generic "
            "text: customers see them; set your own") in placeholders
    assert ("FAIL mail: MAIL_URL unset: password resets and address confirmations are only written to the log"
            in placeholders)
    real = doctor(**LIVE, COMPANY_NAME="Acme Ltd", CONTACT_EMAIL="billing@acme.test",
                  TERMS_URL="https://acme.test/terms", PRIVACY_URL="https://acme.test/privacy").output.splitlines()
    assert "OK   public details: Acme Ltd, billing@acme.test" in real


def test_doctor_logs_in_to_the_mail_server_without_sending(doctor, healthy, mailbox):
    good = doctor(MAIL_URL=f"smtp://billing%40example.com:mail-secret@127.0.0.1:{mailbox.port}").output.splitlines()
    assert f"OK   mail: smtp://billing%40example.com:***@127.0.0.1:{mailbox.port} accepts us" in good
    bad = doctor(MAIL_URL=f"smtp://billing%40example.com:wrong@127.0.0.1:{mailbox.port}")
    assert bad.exit_code == 1
    assert any(line.startswith(f"FAIL mail: the mail server at 127.0.0.1:{mailbox.port} refused: ")
               and line.endswith(": check MAIL_URL") for line in bad.output.splitlines()), bad.output
    unencodable = doctor(MAIL_URL=f"smtp://billing%40example.com:p%C3%A4ss@127.0.0.1:{mailbox.port}")
    assert unencodable.exit_code == 1 and "Traceback" not in unencodable.output
    assert f"FAIL mail: the mail server at 127.0.0.1:{mailbox.port} refused: 'ascii' codec can't encode" \
        in unencodable.output
    assert mailbox.messages == []


def test_the_legal_pages_read_well_whatever_the_name_ends_with_or_go_to_yours(make_app):
    from tests.test_account import text_of
    for name, sentence in [("Example Inc.", "services of Example Inc. Subscriptions"),
                           ("Acme Ltd", "services of Acme Ltd. Subscriptions")]:
        assert sentence in text_of(make_app(COMPANY_NAME=name).test_client().get("/terms"))
    client = make_app(TERMS_URL="https://acme.test/terms", PRIVACY_URL="https://acme.test/privacy").test_client()
    assert client.get("/terms").headers["Location"] == "https://acme.test/terms"
    assert 'href="https://acme.test/privacy">Privacy</a>' in client.get("/pricing").get_data(as_text=True)
    assert client.get("/favicon.ico").headers["Location"] == "/static/billing/favicon.svg"


def test_doctor_reports_unreachable_database(doctor, stripe_api):
    answer_list(stripe_api)
    result = doctor(DATABASE_URL="postgresql://nobody@127.0.0.1:1/x", DATABASE_POOL_TIMEOUT="1",
                    STRIPE_PORTAL_CONFIGURATION="")
    assert result.exit_code == 1
    assert "FAIL database: cannot connect" in result.output


@pytest.fixture
def big_catalog(mirror):
    """Eleven plans in two currencies and an add-on: more products than Stripe's portal takes."""
    for n in range(1, 12):
        mirror.product(f"prod_plan_{n:02d}", f"Plan {n}")
        mirror.price(f"price_plan_{n:02d}_usd", f"prod_plan_{n:02d}", unit_amount=1000 * n)
        mirror.price(f"price_plan_{n:02d}_eur", f"prod_plan_{n:02d}", unit_amount=900 * n, currency="eur")
    mirror.product("prod_seats", "Extra seats", metadata={"billing_app_kind": "addon"})
    mirror.price("price_seat", "prod_seats", unit_amount=500)
    return mirror


@pytest.mark.parametrize("products, hint", [
    ('"all"', '12 products, but Stripe\'s portal takes at most 10: list the ones customers may switch between, '
              'e.g. products = ["prod_plan_01", ...]; or products = "plans" to leave out the add-ons '
              '(billing_app_kind=addon)'),
    ('"plans"', '11 products, but Stripe\'s portal takes at most 10: list the ones customers may switch between, '
                'e.g. products = ["prod_plan_01", ...]'),
])
def test_more_products_than_the_portal_takes_are_refused_naming_the_fix(runner, big_catalog, portal_file,
                                                                        stripe_api, products, hint):
    portal_file.write_text(PORTAL_TOML.replace('products = ["prod_pro"]', f"products = {products}"))
    for dry_run in ([], ["--dry-run"]):
        result = runner.invoke(args=["portal", "configure", "--file", str(portal_file), *dry_run])
        assert result.exit_code == 1
        assert result.output.strip() == (
            f"Error: portal settings refused, nothing sent to Stripe: portal.toml: subscription_update.products: {hint}")
    assert stripe_api.log == []


def test_plans_leave_out_add_ons_and_seats_get_their_bounds(runner, big_catalog, portal_file, stripe_api):
    big_catalog.product("prod_plan_11", "Plan 11", active=False)  # ten plans left
    portal_file.write_text(PORTAL_TOML.replace('products = ["prod_pro"]', 'products = "plans"')
                           + "[subscription_update.adjustable_quantity]\nprod_plan_02 = { minimum = 1, maximum = 50 }\n")
    result = runner.invoke(args=["portal", "configure", "--file", str(portal_file), "--dry-run"])
    assert result.exit_code == 0, result.output
    products = json.loads(result.output.rsplit("dry run", 1)[0])["features"]["subscription_update"]["products"]
    assert [p["product"] for p in products] == [f"prod_plan_{n:02d}" for n in range(1, 11)]
    assert products[0] == {"product": "prod_plan_01", "prices": ["price_plan_01_eur", "price_plan_01_usd"]}
    assert products[1]["adjustable_quantity"] == {"enabled": True, "minimum": 1, "maximum": 50}
    assert stripe_api.log == []
