"""AUTH_MODE=jwt: the host's identity provider signs users in, billing_app checks its tokens.

Tokens are minted here: HS256 with a shared secret (Supabase's legacy JWT
secret), RS256 and ES256 from a key set the local HTTP server serves (as
Supabase's asymmetric keys, Auth0, Clerk), including a key rotation and the
key set going down.  Every refused token is a 401 (or the sign-in redirect),
never a 500 and never a user.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug import Response

from billing_app import create_app
from tests.conftest import csrf_token_from, invoke_cli
from tests.stripe_stand_in import answer_portal_session, requests_to, sent_form

SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
AUDIENCE = "authenticated"
ISSUER = "https://project.supabase.test/auth/v1"
USER_ID = str(uuid.UUID("6f1c2b9e-8d4a-4e0f-9a51-2f7c0b3d5e61"))
SESSIONS = "/v1/billing_portal/sessions"
JWKS_PATH = "/auth/v1/.well-known/jwks.json"


def mint(claims: dict | None = None, *, key=SECRET, algorithm="HS256", headers=None, drop=()) -> str:
    now = int(time.time())
    body = {"sub": USER_ID, "email": "jwt-user@example.com", "aud": AUDIENCE, "iss": ISSUER,
            "iat": now, "exp": now + 3600, "role": "authenticated", **(claims or {})}
    for name in drop:
        body.pop(name, None)
    return jwt.encode(body, key, algorithm=algorithm, headers=headers)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def jwt_config(app_config) -> dict:
    return {**app_config, "AUTH_MODE": "jwt", "JWT_SECRET": SECRET, "JWT_AUDIENCE": AUDIENCE,
            "JWT_ISSUER": ISSUER, "JWT_COOKIE": "sb-project-auth-token",
            "LOGIN_URL": "https://app.example.test/login?next={next}"}


@pytest.fixture
def jwt_app(make_app, jwt_config):
    return make_app(jwt_config)


@pytest.fixture
def linked(mirror):
    """The token's user has a Stripe customer, linked by metadata.user_id = the UUID."""
    mirror.customer("cus_jwt", USER_ID, email="jwt-user@example.com")
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    mirror.subscription("sub_jwt", "cus_jwt", items=[("price_pro_monthly", 1)])


def test_bearer_token_shows_the_users_own_subscription(jwt_app, linked):
    answer = jwt_app.test_client().get("/api/billing/summary", headers=bearer(mint()))
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["customer"] == "cus_jwt" and body["plan"] == "subscribed"


def test_portal_api_with_bearer_token_needs_no_csrf_and_sends_the_users_customer(jwt_app, linked, stripe_api):
    answer_portal_session(stripe_api)
    answer = jwt_app.test_client().post("/api/customer_portal", headers=bearer(mint()))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["url"].startswith("https://")
    (request,) = requests_to(stripe_api, SESSIONS)
    assert sent_form(request)["customer"] == "cus_jwt"
    assert sent_form(request)["return_url"] == "http://billing.test/account?from=portal"


def test_token_in_a_cookie_shows_pages_and_needs_the_csrf_token_to_post(jwt_app, linked, stripe_api):
    answer_portal_session(stripe_api)
    client = jwt_app.test_client()
    client.set_cookie("sb-project-auth-token", mint(), domain="localhost")
    page = client.get("/account")
    assert page.status_code == 200
    assert "jwt-user@example.com" in page.get_data(as_text=True)
    # the cookie rides along on any request, so a post without the page's token is refused
    assert client.post("/api/customer_portal").status_code == 400
    assert client.post("/portal").status_code == 400
    assert requests_to(stripe_api, SESSIONS) == []
    token = csrf_token_from(page.get_data(as_text=True))
    assert client.post("/portal", data={"csrf_token": token}).status_code == 303
    assert client.post("/api/customer_portal", headers={"X-CSRFToken": token}).status_code == 200
    assert [sent_form(r)["customer"] for r in requests_to(stripe_api, SESSIONS)] == ["cus_jwt", "cus_jwt"]


@pytest.mark.parametrize("chunked", [False, True])
def test_supabase_session_cookie_is_read(jwt_app, linked, chunked):
    """@supabase/ssr keeps the session as base64-<base64url JSON>, split into .0, .1 when long."""
    session = json.dumps({"access_token": mint(), "refresh_token": "r", "token_type": "bearer"})
    value = "base64-" + base64.urlsafe_b64encode(session.encode()).decode().rstrip("=")
    client = jwt_app.test_client()
    if chunked:
        middle = len(value) // 2
        client.set_cookie("sb-project-auth-token.0", value[:middle], domain="localhost")
        client.set_cookie("sb-project-auth-token.1", value[middle:], domain="localhost")
    else:
        client.set_cookie("sb-project-auth-token", value, domain="localhost")
    assert client.get("/api/billing/summary").get_json()["customer"] == "cus_jwt"


def test_without_a_token_the_api_is_401_and_pages_go_to_login_url(jwt_app):
    client = jwt_app.test_client()
    answer = client.get("/api/billing/summary")
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    page = client.get("/account?from=portal")
    assert page.status_code == 303
    assert page.headers["Location"] == ("https://app.example.test/login?next="
                                        "http%3A%2F%2Fbilling.test%2Faccount%3Ffrom%3Dportal")
    # a post acts for nobody: the way to sign in (no CSRF question), or 401 for the API
    assert client.post("/portal").headers["Location"] == "https://app.example.test/login?next=http%3A%2F%2Fbilling.test"
    assert client.post("/api/customer_portal").status_code == 401


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key, kid: str, algorithm: str) -> dict:
    jwk_json = jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()) if algorithm.startswith("RS") \
        else jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key())
    return {**json.loads(jwk_json), "kid": kid, "alg": algorithm, "use": "sig"}


def public_pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


class KeySetServer:
    """The identity provider's JWKS endpoint on the local HTTP server; counts fetches."""

    def __init__(self, httpserver):
        self.httpserver = httpserver
        self.keys: list[dict] = []
        self.down = False
        self.fetches = 0
        httpserver.expect_request(JWKS_PATH, method="GET").respond_with_handler(self.answer)

    def answer(self, request):
        self.fetches += 1
        if self.down:
            return Response("upstream down", status=503)
        return Response(json.dumps({"keys": self.keys}), content_type="application/json")

    @property
    def url(self) -> str:
        return self.httpserver.url_for(JWKS_PATH)


@pytest.fixture
def key_set(stripe_api) -> KeySetServer:
    return KeySetServer(stripe_api)


@pytest.fixture
def jwks_app(make_app, jwt_config, key_set):
    config = {k: v for k, v in jwt_config.items() if k != "JWT_SECRET"}
    return make_app(config, JWT_JWKS_URL=key_set.url)


def summary(app, token):
    return app.test_client().get("/api/billing/summary", headers=bearer(token))


@pytest.mark.parametrize("settings, message", [
    ({"JWT_ISSUER": None}, "JWT_JWKS_URL needs JWT_ISSUER"),
    ({"JWT_AUDIENCE": None}, "JWT_JWKS_URL needs JWT_AUDIENCE"),
    ({"JWT_JWKS_URL": "http://auth.example.com/jwks.json"}, "it must be https://"),
])
def test_a_key_set_needs_issuer_audience_and_https(jwt_config, key_set, settings, message):
    config = {k: v for k, v in jwt_config.items() if k != "JWT_SECRET"}
    config = {k: v for k, v in {**config, "JWT_JWKS_URL": key_set.url, **settings}.items() if v is not None}
    with pytest.raises(SystemExit, match=message):
        create_app(config)


def test_a_key_set_fetch_has_one_deadline(jwks_app, key_set, monkeypatch):
    """A provider that answers slowly is cut off after the deadline: 503, no thread kept."""
    from billing_app.identity.tokens import KeySet
    monkeypatch.setattr(KeySet, "DEADLINE_SECONDS", 0.0)
    key_set.keys = [public_jwk(rsa_key(), "k1", "RS256")]
    answer = summary(jwks_app, mint(key=rsa_key(), algorithm="RS256", headers={"kid": "k1"}))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "30"


def test_keys_without_kid(jwks_app, key_set, linked):
    first, second = rsa_key(), rsa_key()
    bare = [{k: v for k, v in public_jwk(key, "x", "RS256").items() if k != "kid"} for key in (first, second)]
    key_set.keys = bare[:1]
    assert summary(jwks_app, mint(key=first, algorithm="RS256")).status_code == 200
    key_set.keys = bare
    verifier = jwks_app.extensions["billing"].verifier
    verifier.key_set._fetched_at -= 3600
    verifier.key_set._tried_at -= 3600
    refused = summary(jwks_app, mint(key=second, algorithm="RS256"))
    assert refused.status_code == 401
    assert "names no signing key (kid) and the provider lists several" in refused.get_json()["error"]["message"]


def test_a_deeply_nested_cookie_is_no_token(jwt_app):
    client = jwt_app.test_client()
    client.set_cookie("sb-project-auth-token", "[" * 2000 + "]" * 2000, domain="localhost")
    assert client.get("/api/billing/summary").status_code == 401


def test_rs256_and_es256_tokens_from_the_key_set(jwks_app, key_set, linked):
    rsa_private, ec_private = rsa_key(), ec.generate_private_key(ec.SECP256R1())
    key_set.keys = [public_jwk(rsa_private, "rsa-1", "RS256"), public_jwk(ec_private, "ec-1", "ES256")]
    rs = mint(key=rsa_private, algorithm="RS256", headers={"kid": "rsa-1"})
    es = mint(key=ec_private, algorithm="ES256", headers={"kid": "ec-1"})
    assert summary(jwks_app, rs).get_json()["customer"] == "cus_jwt"
    assert summary(jwks_app, es).get_json()["customer"] == "cus_jwt"
    assert key_set.fetches == 1  # fetched once, then kept


def test_providers_that_name_the_app_in_client_id_or_azp_instead_of_aud(jwks_app, key_set, linked):
    """Cognito's access tokens carry the app client in client_id, Clerk's session tokens the app's
    origin in azp, neither an aud: JWT_AUDIENCE is checked against that claim."""
    private = rsa_key()
    key_set.keys = [public_jwk(private, "k1", "RS256")]
    cognito = mint({"client_id": AUDIENCE, "token_use": "access"}, key=private, algorithm="RS256",
                   headers={"kid": "k1"}, drop=("aud",))
    clerk = mint({"azp": AUDIENCE, "sid": "sess_1"}, key=private, algorithm="RS256", headers={"kid": "k1"},
                 drop=("aud",))
    for token in (cognito, clerk):
        assert summary(jwks_app, token).get_json()["customer"] == "cus_jwt"


def test_a_rotated_key_is_fetched_and_unknown_keys_do_not_flood_the_provider(jwks_app, key_set, linked):
    old, new = rsa_key(), rsa_key()
    key_set.keys = [public_jwk(old, "2026-01", "RS256")]
    assert summary(jwks_app, mint(key=old, algorithm="RS256", headers={"kid": "2026-01"})).status_code == 200
    key_set.keys = [public_jwk(new, "2026-11", "RS256")]  # the provider rotates
    rotated = mint(key=new, algorithm="RS256", headers={"kid": "2026-11"})
    # asked a moment ago: the key set is not fetched again for every unknown kid
    assert summary(jwks_app, rotated).status_code == 401
    assert key_set.fetches == 1
    jwks_app.extensions["billing"].verifier.key_set._tried_at -= 60  # a while later
    assert summary(jwks_app, rotated).get_json()["customer"] == "cus_jwt"
    assert key_set.fetches == 2


def test_key_set_down_keeps_the_keys_fetched_before(jwks_app, key_set, linked):
    private = rsa_key()
    key_set.keys = [public_jwk(private, "k1", "RS256")]
    token = mint(key=private, algorithm="RS256", headers={"kid": "k1"})
    assert summary(jwks_app, token).status_code == 200
    key_set.down = True
    verifier = jwks_app.extensions["billing"].verifier
    verifier.key_set._fetched_at -= 3600  # the keys are old: a fetch is tried, fails, the old keys stay
    verifier.key_set._tried_at -= 3600
    assert summary(jwks_app, token).get_json()["customer"] == "cus_jwt"
    assert key_set.fetches == 2


def test_key_set_down_with_no_keys_yet_is_503_with_retry_after(jwks_app, key_set):
    key_set.down = True
    private = rsa_key()
    answer = summary(jwks_app, mint(key=private, algorithm="RS256", headers={"kid": "k1"}))
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "30"
    assert answer.get_json()["error"]["code"] == "sign_in_unavailable"


def hs256_signed_with_the_public_key(private_key) -> str:
    """Algorithm confusion: an HS256 token whose 'secret' is the RS256 public key everyone can read."""
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode()).rstrip(b"=")
    now = int(time.time())
    payload = base64.urlsafe_b64encode(json.dumps(
        {"sub": USER_ID, "aud": AUDIENCE, "iss": ISSUER, "exp": now + 600}).encode()).rstrip(b"=")
    import hashlib
    import hmac
    signature = hmac.new(public_pem(private_key), header + b"." + payload, hashlib.sha256).digest()
    return (header + b"." + payload + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def unsigned_token() -> str:
    return jwt.encode({"sub": USER_ID, "aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 600},
                      None, algorithm="none")


BAD_TOKENS = {
    "expired": (lambda: mint({"exp": int(time.time()) - 120}), "it has expired"),
    "not yet valid": (lambda: mint({"nbf": int(time.time()) + 600}), "it is not valid yet"),
    "other audience": (lambda: mint({"aud": "someone-else"}), "it is for another audience"),
    "other issuer": (lambda: mint({"iss": "https://evil.test"}), "it comes from another issuer"),
    "no audience": (lambda: mint(drop=("aud",)), "it has no aud claim"),
    "another app's client_id, no aud": (lambda: mint({"client_id": "another-app"}, drop=("aud",)),
                                        "it is for another audience"),
    "another audience beside our azp": (lambda: mint({"aud": "someone-else", "azp": AUDIENCE}),
                                        "it is for another audience"),
    "ours in an audience list of mixed types": (lambda: mint({"aud": [AUDIENCE, 5]}), "it is for another audience"),
    "our client_id in a list": (lambda: mint({"client_id": [AUDIENCE]}, drop=("aud",)),
                                "it is for another audience"),
    "our client_id beside another azp": (lambda: mint({"client_id": AUDIENCE, "azp": "https://evil.test"},
                                                      drop=("aud",)), "it is for another audience"),
    "alg none": (unsigned_token, "its algorithm 'none' is not accepted here"),
    "no user claim": (lambda: mint(drop=("sub",)), "it has no usable sub claim"),
    "user claim too long": (lambda: mint({"sub": "u" * 256}), "it has no usable sub claim"),
    "user claim an object": (lambda: mint({"sub": {"id": 1}}), "it has no usable sub claim"),
    "user claim with spaces around": (lambda: mint({"sub": f" {USER_ID}"}), "it has no usable sub claim"),
    "user claim with a zero-width space": (lambda: mint({"sub": USER_ID + "\u200b"}), "it has no usable sub claim"),
    "user claim a lone surrogate": (lambda: mint({"sub": "\ud800"}), "it has no usable sub claim"),
    "user claim with NUL": (lambda: mint({"sub": "a\x00b"}), "it has no usable sub claim"),
    "no expiry": (lambda: mint(drop=("exp",)), "it has no exp claim"),
    "wrong secret": (lambda: mint(key="another-secret-that-is-also-32-characters-long"),
                     "its signature does not verify"),
    "over 8 KB": (lambda: mint({"padding": "x" * 9000}), "it is longer than 8 KB"),
    "not a JWT": (lambda: "hello.world", "it is not a JWT"),
    "RS256 against a secret": (lambda: mint(key=rsa_key(), algorithm="RS256"),
                               "its algorithm 'RS256' is not accepted here"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_refused_tokens_are_401_with_the_reason_and_never_a_user(jwt_app, linked, stripe_api, case):
    make, reason = BAD_TOKENS[case]
    token = make()
    client = jwt_app.test_client()
    for answer in (client.get("/api/billing/summary", headers=bearer(token)),
                   client.post("/api/customer_portal", headers=bearer(token))):
        assert answer.status_code == 401, answer.get_data(as_text=True)
        error = answer.get_json()["error"]
        assert error["code"] == "invalid_token"
        assert reason in error["message"]
        assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    if len(token) < 4000:  # a browser keeps no larger cookie
        client.set_cookie("sb-project-auth-token", token, domain="localhost")
        page = client.get("/account")
        assert page.status_code == 303 and page.headers["Location"].startswith("https://app.example.test/login")
    assert requests_to(stripe_api, SESSIONS) == []


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token abc"])
def test_an_authorization_header_that_is_not_a_bearer_token_is_401(jwt_app, header):
    answer = jwt_app.test_client().get("/api/billing/summary", headers={"Authorization": header})
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("case", ["HS256 signed with the public key", "unknown kid", "no kid, two keys"])
def test_key_set_attacks_are_401(jwks_app, key_set, linked, case):
    private, other = rsa_key(), rsa_key()
    key_set.keys = [public_jwk(private, "k1", "RS256"), public_jwk(other, "k2", "RS256")]
    token = {"HS256 signed with the public key": lambda: hs256_signed_with_the_public_key(private),
             "unknown kid": lambda: mint(key=private, algorithm="RS256", headers={"kid": "k9"}),
             "no kid, two keys": lambda: mint(key=private, algorithm="RS256")}[case]()
    answer = summary(jwks_app, token)
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "invalid_token"


def test_checkout_creates_the_customer_for_the_token_user(jwt_app, mirror, stripe_api, owner_conn):
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    stripe_api.expect_request("/v1/customers", method="POST").respond_with_json(
        {"id": "cus_made", "object": "customer"})
    stripe_api.expect_request("/v1/checkout/sessions", method="POST").respond_with_json(
        {"id": "cs_1", "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/cs_1"})
    client = jwt_app.test_client()
    client.set_cookie("sb-project-auth-token", mint(), domain="localhost")
    token = csrf_token_from(client.get("/pricing").get_data(as_text=True))
    answer = client.post("/checkout", data={"csrf_token": token, "price": "price_pro_monthly"})
    assert answer.status_code == 303
    (customer,) = requests_to(stripe_api, "/v1/customers")
    assert sent_form(customer) == {"email": "jwt-user@example.com", "metadata[user_id]": USER_ID}
    session = sent_form(requests_to(stripe_api, "/v1/checkout/sessions")[0])
    assert session["customer"] == "cus_made" and session["client_reference_id"] == USER_ID
    assert owner_conn.execute("SELECT user_id, stripe_customer_id FROM billing_app.remembered_customers"
                              ).fetchall() == [(USER_ID, "cus_made")]


def test_an_integer_user_claim_is_a_text_user_id(make_app, jwt_config, mirror):
    mirror.customer("cus_42", 42)
    app = make_app(jwt_config, JWT_USER_CLAIM="user_id")
    assert summary(app, mint({"user_id": 42})).get_json()["customer"] == "cus_42"


def test_customer_user_key_setting_links_by_another_metadata_key(make_app, jwt_config, mirror, stripe_api):
    mirror.customer("cus_other_key", None, metadata={"supabase_user_id": USER_ID})
    mirror.customer("cus_user_id", USER_ID)  # carries the default key: not this deployment's link
    app = make_app(jwt_config, STRIPE_CUSTOMER_USER_KEY="supabase_user_id")
    assert summary(app, mint()).get_json()["customer"] == "cus_other_key"


def test_pages_link_to_sign_in_coming_back_to_them(jwt_app, mirror):
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    html = jwt_app.test_client().get("/pricing?interval=month").get_data(as_text=True)
    assert ('href="https://app.example.test/login?next=http%3A%2F%2Fbilling.test%2Fpricing%3Finterval%3Dmonth"'
            in html)
    assert "Sign in to subscribe" in html


def test_cross_origin_calls_only_from_cors_origins(make_app, jwt_config, linked, stripe_api):
    app = make_app(jwt_config, CORS_ORIGINS="https://app.example.test, https://www.example.test")
    answer_portal_session(stripe_api)
    client = app.test_client()
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = client.options("/api/customer_portal", headers={"Origin": "https://app.example.test", **preflight})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.test"
    assert "authorization" in allowed.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in allowed.headers  # cookies never cross origins
    other = client.options("/api/customer_portal", headers={"Origin": "https://evil.test", **preflight})
    assert "Access-Control-Allow-Origin" not in other.headers
    call = client.post("/api/customer_portal", headers={"Origin": "https://www.example.test", **bearer(mint())})
    assert call.status_code == 200
    assert call.headers["Access-Control-Allow-Origin"] == "https://www.example.test"
    assert "Retry-After" in call.headers["Access-Control-Expose-Headers"]
    page = client.get("/pricing", headers={"Origin": "https://app.example.test"})
    assert "Access-Control-Allow-Origin" not in page.headers  # pages are never shared cross-origin


def test_without_cors_origins_no_cross_origin_headers(jwt_app):
    answer = jwt_app.test_client().options("/api/customer_portal", headers={
        "Origin": "https://app.example.test", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_doctor_fetches_the_signing_keys(jwt_config, key_set):
    """In the app `flask` makes for a command, which sets no sign-in up."""
    config = {**{k: v for k, v in jwt_config.items() if k != "JWT_SECRET"}, "JWT_JWKS_URL": key_set.url}
    key_set.keys = [public_jwk(rsa_key(), "k1", "RS256")]
    output = invoke_cli(config, "billing", "doctor").output
    assert "OK   sign-in: 1 signing key (k1) from JWT_JWKS_URL, audience authenticated" in output
    key_set.down = True
    output = invoke_cli(config, "billing", "doctor").output
    assert "FAIL sign-in: cannot fetch the signing keys from JWT_JWKS_URL=" in output


def test_data_quality_follows_the_user_key_and_skips_built_in_account_checks(jwt_config, mirror, owner_conn,
                                                                             database_url):
    """Users live in the identity provider: no customer is 'not an app user'; the key is the deployment's."""
    from billing_app.schema import apply_schema
    apply_schema(database_url, with_mirror=False, user_key="supabase_user_id")
    try:
        mirror.customer("cus_linked", None, metadata={"supabase_user_id": USER_ID})
        mirror.customer("cus_unlinked", None, metadata={"user_id": "7"})
        rows = owner_conn.execute("SELECT problem, object_id, detail FROM reporting_live.data_quality").fetchall()
        assert rows == [("customer_without_user_id", "cus_unlinked",
                         "customer has no metadata.supabase_user_id, so no app user can see it")]
    finally:
        apply_schema(database_url, with_mirror=False)
