"""Issue 13, input: a size limit, bad fields answered 400 with their own code, no echo of the input
beyond a short prefix, and a Stripe answer without what the app needs is a 502."""

from __future__ import annotations

import pytest

from tests.conftest import customer_app
from tests.stripe_stand_in import requests_to

SESSIONS = "/v1/billing_portal/sessions"


def test_a_large_body_is_413_in_the_json_error_shape_and_reaches_nothing(app_config, mirror, stripe_api):
    with customer_app(app_config, mirror) as (app, client, token):
        big = '{"flow": "' + "x" * 200_000 + '"}'
        answer = client.post("/api/customer_portal", data=big, content_type="application/json",
                             headers={"X-CSRFToken": token})
        assert answer.status_code == 413
        assert answer.get_json()["error"]["code"] == "request_entity_too_large"
        assert "xxxxxxxx" not in answer.get_data(as_text=True)
        form = client.post("/portal", data={"csrf_token": token, "flow": "y" * 200_000})
        assert form.status_code == 413
        sign_in = app.test_client().post("/login", data={"email": "a@b.c", "password": "p" * 200_000})
        assert sign_in.status_code == 413
    assert requests_to(stripe_api, SESSIONS) == []


def test_an_unknown_flow_is_quoted_back_short(app_config, mirror):
    with customer_app(app_config, mirror) as (app, client, token):
        answer = client.post("/api/customer_portal", json={"flow": "<script>" + "z" * 200},
                             headers={"X-CSRFToken": token})
    assert answer.status_code == 400
    message = answer.get_json()["error"]["message"]
    assert message.startswith("Unknown flow '<script>zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz...'")
    assert "z" * 41 not in message


@pytest.mark.parametrize("body", [{"id": "bps_1", "object": "billing_portal.session"},
                                  {"id": "bps_1", "object": "billing_portal.session", "url": None},
                                  {"id": "bps_1", "object": "billing_portal.session", "url": "javascript:alert(1)"}])
def test_a_stripe_answer_without_a_url_is_502(app_config, mirror, stripe_api, body):
    stripe_api.expect_request(SESSIONS, method="POST").respond_with_json(body)
    with customer_app(app_config, mirror) as (app, client, token):
        answer = client.post("/api/customer_portal", headers={"X-CSRFToken": token})
        page = client.post("/portal", data={"csrf_token": token})
    assert answer.status_code == 502 and answer.get_json()["error"]["code"] == "stripe_answer_incomplete"
    assert page.status_code == 502


@pytest.mark.parametrize("path", ["/login", "/signup"])
@pytest.mark.parametrize("email", ["a\x00b@example.com", "a\nb@example.com", "x" * 400 + "@example.com"])
def test_sign_in_forms_refuse_an_unusable_email_with_400(client, owner_conn, path, email):
    from tests.conftest import csrf_token_from
    token = csrf_token_from(client.get(path).get_data(as_text=True))
    answer = client.post(path, data={"email": email, "password": "correct horse battery", "csrf_token": token})
    assert answer.status_code == 400
    assert owner_conn.execute("SELECT count(*) FROM billing_app.users").fetchone()[0] == 0


def test_deeply_nested_json_is_400(app_config, mirror):
    with customer_app(app_config, mirror) as (app, client, token):
        answer = client.post("/api/customer_portal", data="[" * 30000, content_type="application/json",
                             headers={"X-CSRFToken": token})
    assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "invalid_json"
