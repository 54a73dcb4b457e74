"""Sign-up, sign-in, sign-out: happy paths and every bad input."""

import pytest

from billing_app.auth.users import user_by_email
from tests.conftest import AuthActions, csrf_token_from


def count_users(owner_conn):
    return owner_conn.execute("SELECT count(*) FROM billing_app.users").fetchone()[0]


def test_signup_creates_hashed_user_and_signs_in(auth, client, owner_conn):
    response = auth.signup("New.User@Example.com", "correct horse battery")
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"
    user = user_by_email(owner_conn, "new.user@example.com")
    assert user.email == "new.user@example.com"
    assert user.password_hash.startswith("scrypt:") and "correct horse" not in user.password_hash
    assert "Hello, new.user@example.com" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("email, password, message", [
    ("not-an-email", "correct horse battery", "That is not a valid email address"),
    ("user@", "correct horse battery", "That is not a valid email address"),
    ("user@example.com", "short", "Choose a password of at least 10 characters."),
    ("", "correct horse battery", "Enter your email address."),
    ("user@example.com", "", "Choose a password."),
])
def test_bad_signup_shows_message_on_form_and_writes_nothing(auth, owner_conn, email, password, message):
    response = auth.signup(email, password)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_users(owner_conn) == 0


def test_signup_with_taken_email_is_409_and_keeps_the_first_account(auth, client, owner_conn):
    auth.signup("user@example.com", "correct horse battery")
    auth.logout()
    response = auth.signup("USER@example.com", "another password here")
    assert response.status_code == 409
    assert "An account with this email already exists. Sign in instead." in response.get_data(as_text=True)
    assert count_users(owner_conn) == 1


@pytest.mark.parametrize("token", [None, "forged-token"])
@pytest.mark.parametrize("path", ["/signup", "/login"])
def test_missing_or_wrong_csrf_token_is_refused_on_the_form(client, owner_conn, path, token):
    data = {"email": "user@example.com", "password": "correct horse battery"}
    if token:
        data["csrf_token"] = token
    client.get(path)
    response = client.post(path, data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "This form has expired or did not come from this site. Please try again." in page
    assert 'value="user@example.com"' in page  # the form is shown again, filled in
    assert count_users(owner_conn) == 0


def test_login_with_wrong_password_is_401_with_message(auth):
    auth.signup()
    auth.logout()
    response = auth.login(password="wrong password!!")
    assert response.status_code == 401
    assert "The email or password is not right." in response.get_data(as_text=True)


def test_login_with_unknown_email_says_the_same(auth):
    response = auth.login(email="nobody@example.com")
    assert response.status_code == 401
    assert "The email or password is not right." in response.get_data(as_text=True)


@pytest.mark.parametrize("typed", ["Up@ÉXAMPLE.com", "idn@exämple.com", "full@ｅxample.com"])
def test_login_takes_the_address_as_it_was_typed_at_sign_up(auth, client, owner_conn, typed):
    """Sign-up stores the address's standard form (lower case, punycode, plain width): sign-in finds it
    from the same spelling."""
    assert auth.signup(email=typed).status_code == 302
    auth.logout()
    assert auth.login(email=typed).status_code == 302
    assert client.get("/account").status_code == 200


@pytest.mark.parametrize("path", ["/settings", "/account"])
def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == f"/login?next={path}"


def test_every_spelling_of_an_address_shares_one_failure_budget(make_app):
    client = make_app(SIGN_IN_RATE_LIMIT="2 per minute").test_client()
    auth = AuthActions(client)
    auth.signup("me@example.com")
    auth.logout()
    answers = [auth.login(email=typed, password="not the password").status_code
               for typed in ("me@example.com", "ME@Example.COM", "me@ｅxample.com")]
    assert answers == [401, 401, 429]


def test_an_account_stored_before_addresses_were_normalised_still_signs_in(auth, client, owner_conn):
    auth.signup("me@example.com")
    auth.logout()
    owner_conn.execute("UPDATE billing_app.users SET email = 'me@exämple.com'")  # as sign-up once stored it
    assert auth.login(email="me@exämple.com").status_code == 302


def test_login_follows_next_on_this_site(auth):
    auth.signup()
    auth.logout()
    response = auth.login(next_path="/healthz")
    assert response.status_code == 302
    assert response.headers["Location"] == "/healthz"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "http:/evil.example"])
def test_login_ignores_next_pointing_elsewhere(auth, target):
    auth.signup()
    auth.logout()
    response = auth.login(next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/account"


def test_logout_needs_post_with_token(auth, client):
    auth.signup()
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no token: refused, still signed in
    assert "Hello, user@example.com" in client.get("/").get_data(as_text=True)
    response = auth.logout()
    assert response.status_code == 302
    assert "Hello," not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/logout", "/settings/email", "/settings/password", "/forgot-password",
                                  "/reset-password/x", "/confirm-address/x", "/take-back/x"])
def test_an_account_form_without_its_token_is_400_saying_why(auth, client, path):
    auth.signup()
    response = client.post(path, data={"email": "other@example.com"})
    assert response.status_code == 400
    assert "This form has expired or did not come from this site." in response.get_data(as_text=True)


def test_session_cookie_is_httponly_and_lax(auth, client):
    response = auth.signup()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_when_site_is_https(make_app):
    app = make_app(SITE_URL="https://billing.example.com")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_users_create_command(runner, owner_conn):
    result = runner.invoke(args=["users", "create", "Ops@Example.com", "--password", "a long password"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("created user ")
    assert user_by_email(owner_conn, "ops@example.com") is not None


def test_users_create_prompts_for_password(runner, owner_conn):
    result = runner.invoke(args=["users", "create", "ops@example.com"],
                           input="a long password\na long password\n")
    assert result.exit_code == 0, result.output
    assert user_by_email(owner_conn, "ops@example.com") is not None


@pytest.mark.parametrize("args, message", [
    (["bad-email", "--password", "a long password"], "That is not a valid email address"),
    (["ops@example.com", "--password", "short"], "Choose a password of at least 10 characters."),
])
def test_users_create_refuses_bad_input(runner, owner_conn, args, message):
    result = runner.invoke(args=["users", "create", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert count_users(owner_conn) == 0


def test_users_create_refuses_taken_email(runner, owner_conn):
    runner.invoke(args=["users", "create", "ops@example.com", "--password", "a long password"])
    result = runner.invoke(args=["users", "create", "Ops@Example.com", "--password", "another long password"])
    assert result.exit_code == 1
    assert result.output == "Error: an account with ops@example.com already exists; nothing was changed\n"
    assert count_users(owner_conn) == 1


def test_login_page_has_csrf_token(client):
    assert csrf_token_from(client.get("/login").get_data(as_text=True))
