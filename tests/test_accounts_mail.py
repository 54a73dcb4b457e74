"""Issue 14, built-in accounts grown up: confirming the address, resetting a forgotten password,
changing address and password, common passwords refused; every mail goes through a real SMTP
server (aiosmtpd) and the test opens the link it carries."""

from __future__ import annotations

import asyncio
import html
import re
import socket
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from billing_app import mail
from tests.conftest import AuthActions, closing_app, csrf_token_from
from tests.stripe_stand_in import requests_to, sent_form
from tests.test_account import text_of

PASSWORD, NEW_PASSWORD = "correct horse battery", "purple elephant marmalade"
LINK = re.compile(r"https?://[^\s/]+(/\S+)")  # a link in a mail: its path


class Mailbox:
    """What the SMTP server received: each message as the recipient's client would read it."""

    def __init__(self) -> None:
        self.messages = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 aiosmtpd's handler name
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"

    def to(self, address: str, count: int = 0) -> list:
        """The mails to ``address``, after waiting (up to 10 s) until there are ``count`` (the app's
        outbox delivers in the background)."""
        deadline = time.monotonic() + 10
        while True:
            mails = [message for recipients, message in self.messages if address in recipients]
            if len(mails) >= count or time.monotonic() > deadline:
                return mails
            time.sleep(0.02)

    def link_to(self, address: str, count: int = 1) -> str:
        """The path of the link in the newest of ``count`` mails to ``address``."""
        mails = self.to(address, count)
        assert len(mails) >= count, f"{len(mails)} mails to {address}, expected {count}"
        return LINK.search(mails[-1].get_content()).group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def mailbox():
    box = Mailbox()

    def authenticate(server, session, envelope, mechanism, auth_data):
        box.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"mail-secret")

    controller = Controller(box, hostname="127.0.0.1", port=free_port(), authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    box.port = controller.port
    yield box
    controller.stop()


@pytest.fixture
def app_config(app_config, mailbox):
    return {**app_config, "MAIL_URL": f"smtp://billing%40example.com:mail-secret@127.0.0.1:{mailbox.port}",
            "COMPANY_NAME": "Acme"}


@pytest.fixture
def auth(client):
    return AuthActions(client)


def users(owner_conn):
    return owner_conn.execute("SELECT email, email_verified_at IS NOT NULL FROM billing_app.users ORDER BY id"
                              ).fetchall()


def post_form(client, path, page, **fields):
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(path, data={**fields, "csrf_token": token})


def open_link(client, path):
    """A mailed link as its reader follows it: the page it opens, then its button."""
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_token_from(page.get_data(as_text=True))})


def move_address(client, mailbox, address, password=PASSWORD):
    """The signed-in account asks to move to ``address`` and the link mailed there is opened."""
    post_form(client, "/settings/email", "/settings", email=address, current_password=password)
    return open_link(client, mailbox.link_to(address))


# --- confirming the address ---------------------------------------------------------------------

def test_sign_up_mails_a_link_that_confirms_the_address_and_opens_checkout(client, auth, mailbox, owner_conn,
                                                                           mirror, stripe_api):
    mirror.product("prod_pro", "Pro")
    mirror.price("price_pro_monthly", "prod_pro")
    answer = auth.signup("me@example.com", PASSWORD, confirmed=False)
    assert answer.status_code == 302
    assert users(owner_conn) == [("me@example.com", False)]
    (mail,) = mailbox.to("me@example.com", 1)
    assert mail["Subject"] == "Confirm your email address for Acme"
    assert mail["From"] == "Acme <billing@example.com>"
    assert mailbox.logins == [("billing@example.com", "mail-secret")]

    refused = post_form(client, "/checkout", "/pricing", price="price_pro_monthly")
    assert refused.status_code == 403
    assert "Confirm your email address first: open the link we mailed to me@example.com." in text_of(refused)
    assert "Send the link again" in text_of(refused)
    assert stripe_api.log == []  # the unconfirmed address never reached Stripe

    link = mailbox.link_to("me@example.com")
    assert "Confirm me@example.com as the address of your account." in text_of(client.get(link))
    assert users(owner_conn) == [("me@example.com", False)]  # opening the link (a mail scanner) changes nothing
    confirmed = open_link(client, link)
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == "/settings"
    assert users(owner_conn) == [("me@example.com", True)]
    assert "Your email address is confirmed." in text_of(client.get("/settings", follow_redirects=True))


def test_the_link_can_be_sent_again_and_a_tampered_one_confirms_nothing(client, auth, mailbox, owner_conn):
    auth.signup("me@example.com", PASSWORD, confirmed=False)
    resent = post_form(client, "/settings/confirm-address", "/settings")
    assert resent.status_code == 303
    link = mailbox.link_to("me@example.com", 2)
    tampered = client.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    assert tampered.status_code == 400
    assert "This link has expired or no longer applies." in text_of(tampered)
    assert users(owner_conn) == [("me@example.com", False)]


def test_a_mail_server_that_is_down_loses_no_account_and_the_log_says_why(make_app, owner_conn, caplog):
    client = make_app(MAIL_URL=f"smtp://127.0.0.1:{free_port()}").test_client()
    answer = AuthActions(client).signup("me@example.com", PASSWORD, confirmed=False)
    assert answer.status_code == 302  # the mail is queued: nobody waits on the mail server
    wait_for_log(caplog, "did not take the mail to me@example.com")
    assert "the mail server at 127.0.0.1:" in caplog.text
    assert users(owner_conn) == [("me@example.com", False)]
    assert post_form(client, "/settings/confirm-address", "/settings").status_code == 303  # ask again later


class RefusingMailbox(Mailbox):
    """A server that answers ``answer`` to the first ``times`` mails it is given, then takes them."""

    def __init__(self, answer: str, times: int) -> None:
        super().__init__()
        self.answer, self.times, self.refused = answer, times, 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 aiosmtpd's handler name
        if self.refused < self.times:
            self.refused += 1
            return self.answer
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def refusing(monkeypatch):
    """Start a RefusingMailbox: refusing(answer, times) -> (its MAIL_URL, the mailbox); retries 0.2 s apart."""
    monkeypatch.setattr(mail, "MAIL_RETRY_DELAYS", (0.2, 0.2))
    controllers = []

    def start(answer: str, times: int):
        box = RefusingMailbox(answer, times)
        controllers.append(Controller(box, hostname="127.0.0.1", port=free_port()))
        controllers[-1].start()
        return f"smtp://127.0.0.1:{controllers[-1].port}", box

    yield start
    for controller in controllers:
        controller.stop()


def wait_for_log(caplog, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert text in caplog.text


def test_a_mail_the_server_cannot_take_for_the_moment_is_tried_again(make_app, refusing, caplog):
    url, box = refusing("451 4.3.0 Try again later", times=2)
    AuthActions(make_app(MAIL_URL=url).test_client()).signup("me@example.com", PASSWORD, confirmed=False)
    assert len(box.to("me@example.com", 1)) == 1
    assert box.refused == 2
    assert "did not take the mail to me@example.com (Confirm your email address for Acme): 451 4.3.0 Try again later; " \
           "trying again in 0.2 s" in caplog.text


def test_a_mail_the_server_refuses_for_good_is_tried_once_and_logged(make_app, refusing, caplog):
    url, box = refusing("550 5.7.1 Sender not allowed", times=3)
    AuthActions(make_app(MAIL_URL=url).test_client()).signup("me@example.com", PASSWORD, confirmed=False)
    wait_for_log(caplog, "did not take the mail to me@example.com (Confirm your email address for Acme): "
                         "550 5.7.1 Sender not allowed\n")
    time.sleep(0.5)  # past the retry delay: no second try came
    assert box.refused == 1 and box.messages == []


def test_a_mail_taken_is_not_sent_again_when_the_goodbye_fails(make_app, refusing, caplog):
    url, box = refusing("451 4.3.0 Try again later", times=0)

    async def handle_QUIT(server, session, envelope):  # noqa: N802 aiosmtpd's handler name
        return "421 4.3.2 Shutting down"  # after the mail was taken
    box.handle_QUIT = handle_QUIT
    AuthActions(make_app(MAIL_URL=url).test_client()).signup("me@example.com", PASSWORD, confirmed=False)
    assert len(box.to("me@example.com", 1)) == 1
    time.sleep(0.5)  # past the retry delay: no second copy came
    assert len(box.to("me@example.com")) == 1
    assert "did not take the mail" not in caplog.text


def test_an_app_being_closed_stops_waiting_to_try_a_mail_again(app_config, refusing, caplog, monkeypatch):
    monkeypatch.setattr(mail, "MAIL_RETRY_DELAYS", (600, 600))
    url, box = refusing("421 4.7.0 Too many connections", times=3)
    with closing_app({**app_config, "MAIL_URL": url}) as app:
        AuthActions(app.test_client()).signup("me@example.com", PASSWORD, confirmed=False)
        wait_for_log(caplog, "Too many connections; trying again in 600 s")
    # closed: the outbox ended its wait instead of holding the app's teardown for ten minutes
    assert "the mail to me@example.com (Confirm your email address for Acme) is not sent: this process is stopping" \
        in caplog.text
    assert box.refused == 1


def test_mails_waiting_to_be_tried_again_do_not_hold_the_others_back(make_app, refusing, monkeypatch):
    monkeypatch.setattr(mail, "MAIL_RETRY_DELAYS", (600, 600))
    url, box = refusing("452 4.2.2 Mailbox full", times=mail.OUTBOX_THREADS)
    app = make_app(MAIL_URL=url)
    for n in range(mail.OUTBOX_THREADS):  # as many mails waiting as the outbox has threads
        AuthActions(app.test_client()).signup(f"full{n}@example.com", PASSWORD, confirmed=False)
    AuthActions(app.test_client()).signup("me@example.com", PASSWORD, confirmed=False)
    assert len(box.to("me@example.com", 1)) == 1
    assert box.refused == mail.OUTBOX_THREADS


def test_a_mail_whose_end_the_server_did_not_answer_is_not_sent_twice(make_app, refusing, monkeypatch, caplog):
    """The server took the text but answered after MAIL_TIMEOUT: it may have queued the mail (as this
    one did), so sending again could send it twice."""
    monkeypatch.setattr(mail, "MAIL_TIMEOUT", 0.5)
    url, box = refusing("451 4.3.0 Try again later", times=0)
    taken = box.handle_DATA

    async def handle_DATA(server, session, envelope):  # noqa: N802 aiosmtpd's handler name
        answer = await taken(server, session, envelope)
        await asyncio.sleep(1)
        return answer
    box.handle_DATA = handle_DATA
    AuthActions(make_app(MAIL_URL=url).test_client()).signup("me@example.com", PASSWORD, confirmed=False)
    wait_for_log(caplog, "did not answer once the mail to me@example.com (Confirm your email address for Acme) "
                         "was sent (Connection unexpectedly closed: timed out): it may have taken it, so it is "
                         "not sent again")
    time.sleep(1)  # past the retry delay: no second copy came
    assert len(box.to("me@example.com")) == 1


def test_a_server_without_starttls_is_not_asked_again(make_app, refusing, caplog):
    url, _ = refusing("451 4.3.0 Try again later", times=0)
    client = make_app(MAIL_URL=url.replace("smtp://", "smtp+starttls://")).test_client()
    AuthActions(client).signup("me@example.com", PASSWORD, confirmed=False)
    wait_for_log(caplog, "did not take the mail to me@example.com (Confirm your email address for Acme): "
                         "STARTTLS extension not supported by server.\n")
    assert "trying again" not in caplog.text


def test_a_process_exiting_without_closing_its_outbox_does_not_wait_for_retries(tmp_path):
    """gunicorn stops a worker within its graceful timeout: mails waiting to be tried again are not
    waited for (the interpreter joins the outbox's threads at exit, which hold none of them)."""
    script = tmp_path / "exit.py"
    script.write_text(f"""
from billing_app import mail
mail.MAIL_RETRY_DELAYS = (600, 600)
settings = {{"MAIL_FROM": "", "COMPANY_NAME": "Acme", "CONTACT_EMAIL": "billing@example.com"}}
outbox = mail.Outbox()
outbox.put("smtp://127.0.0.1:{free_port()}", mail.compose(settings, "me@example.com", "Hello", "Hi"))
import time
while not outbox._later:  # its first try failed and it waits for the next
    time.sleep(0.01)
""")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "trying again in 600 s" in result.stderr
    assert "the mail to me@example.com (Hello) is not sent: this process is stopping" in result.stderr


def test_a_mail_that_fails_in_an_unforeseen_way_is_logged_and_frees_its_room(make_app, mailbox, caplog, monkeypatch):
    """A password smtplib cannot encode (not ASCII) raises neither OSError nor SMTPException: the mail
    is logged as not sent, and its room in the outbox is free again for the next one."""
    monkeypatch.setattr(mail, "OUTBOX_CAPACITY", 1)
    app = make_app(MAIL_URL=f"smtp://billing%40example.com:p%C3%A4ss@127.0.0.1:{mailbox.port}")
    for address in ("one@example.com", "two@example.com"):
        AuthActions(app.test_client()).signup(address, PASSWORD, confirmed=False)
        wait_for_log(caplog, f"the mail to {address} (Confirm your email address for Acme) is not sent\n")
    assert "the outbox holds" not in caplog.text


def test_a_mail_to_try_again_is_logged_as_not_sent_when_no_thread_can_wait_for_it(make_app, refusing, caplog,
                                                                                     monkeypatch):
    class NoThread(threading.Thread):  # the outbox's own threads start; the one that waits for retries cannot
        def start(self):
            if self.name == "billing-mail-later":
                raise RuntimeError("can't start new thread")
            super().start()
    monkeypatch.setattr(mail.threading, "Thread", NoThread)
    url, _ = refusing("451 4.3.0 Try again later", times=3)
    AuthActions(make_app(MAIL_URL=url).test_client()).signup("me@example.com", PASSWORD, confirmed=False)
    wait_for_log(caplog, "the mail to me@example.com (Confirm your email address for Acme) is not sent: this process "
                         "is stopping")
    assert "the outbox cannot start its thread for mails to try again" in caplog.text


def test_without_a_mail_server_the_log_shows_the_mail_with_a_link_that_opens(make_app, owner_conn, caplog):
    """Local runs (no MAIL_URL): the mail goes to the log as it reads, its link on one line that works
    when copied (not quoted-printable, which breaks a long link over lines ending in '=')."""
    client = make_app(MAIL_URL="").test_client()
    AuthActions(client).signup("me@example.com", PASSWORD, confirmed=False)
    logged = next(r.getMessage() for r in caplog.records if "written here instead of sent" in r.getMessage())
    assert "Subject: Confirm your email address for " in logged
    link = re.search(r"http://billing\.test(/confirm-address/\S+)", logged).group(1)
    assert open_link(client, link).status_code == 303
    assert users(owner_conn) == [("me@example.com", True)]


def test_with_a_live_key_and_no_mail_server_nothing_is_written_to_the_log(make_app, owner_conn, caplog):
    client = make_app(MAIL_URL="", STRIPE_SECRET_KEY="sk_live_abc123").test_client()
    AuthActions(client).signup("me@example.com", PASSWORD, confirmed=False)
    resend = post_form(client, "/settings/confirm-address", "/settings")
    assert resend.status_code == 503 and "We could not send the mail right now." in text_of(resend)
    assert "/confirm-address/" not in caplog.text  # no link in the log
    assert "MAIL_URL is not set and the Stripe key is live" in caplog.text


def test_an_address_no_mail_server_takes_is_refused_at_sign_up(auth, owner_conn):
    answer = auth.signup("jösé@example.com", PASSWORD, confirmed=False)
    assert answer.status_code == 400
    assert "Internationalized characters before the @-sign are not supported" in html.unescape(text_of(answer))
    assert users(owner_conn) == []


# --- a forgotten password --------------------------------------------------------------------------

def test_asking_for_resets_is_limited_alike_whether_or_not_an_account_uses_the_address(auth, client, mailbox):
    """MAIL_RATE_LIMIT (5 an hour) counts every address asked about: were only an account's address
    refused, the sixth ask would tell whether an account uses it."""
    auth.signup("me@example.com", PASSWORD, confirmed=False)
    auth.logout()
    answers = {email: [post_form(client, "/forgot-password", "/forgot-password", email=email).status_code
                       for _ in range(6)] for email in ("me@example.com", "nobody@example.com")}
    assert answers == {"me@example.com": [303] * 5 + [429], "nobody@example.com": [303] * 5 + [429]}


def test_a_reset_link_posted_twice_at_once_sets_one_password(app, auth, owner_conn):
    """Two posts of one link both read the account before either writes: the second sets nothing."""
    from billing_app.auth.users import set_password, user_by_email
    auth.signup("me@example.com", PASSWORD)
    with app.app_context():
        db = app.extensions["billing_db"]
        with db.connection() as conn:
            read_by_first, read_by_second = user_by_email(conn, "me@example.com"), user_by_email(conn, "me@example.com")
            assert set_password(conn, read_by_first, NEW_PASSWORD) is not None
            assert set_password(conn, read_by_second, "another fine passphrase") is None
    assert auth.login("me@example.com", NEW_PASSWORD).status_code == 302  # (the first signed everyone out)


def test_a_forgotten_password_is_reset_through_the_mailed_link_once(app, client, auth, mailbox, owner_conn):
    auth.signup("me@example.com", PASSWORD, confirmed=False)
    other_device = app.test_client()
    AuthActions(other_device).login("me@example.com", PASSWORD)
    auth.logout()
    mailbox.to("me@example.com", 1)
    mailbox.messages.clear()

    unknown = post_form(client, "/forgot-password", "/forgot-password", email="nobody@example.com")
    known = post_form(client, "/forgot-password", "/forgot-password", email="Me@Example.com")
    assert unknown.status_code == known.status_code == 303
    said = "If an account uses that address, a link to choose a new password is on its way."
    assert said in text_of(client.get("/login"))
    link = mailbox.link_to("me@example.com")
    assert [recipients for recipients, _ in mailbox.messages] == [["me@example.com"]]  # none to nobody@
    assert link.startswith("/reset-password/")

    weak = post_form(client, link, link, password="password1234")
    assert weak.status_code == 400
    assert "Choose a harder password. This is a very common password." in text_of(weak)
    done = post_form(client, link, link, password=NEW_PASSWORD)
    assert done.status_code == 303 and done.headers["Location"] == "/account"
    assert users(owner_conn) == [("me@example.com", True)]  # the link reached them: confirmed too
    assert other_device.get("/account").status_code == 302  # signed out everywhere else
    again = client.get(link)
    assert again.status_code == 400 and "This link has expired or was already used." in text_of(again)
    auth.logout()
    assert auth.login("me@example.com", PASSWORD).status_code == 401
    assert auth.login("me@example.com", NEW_PASSWORD).status_code == 302


def test_a_passphrase_longer_than_what_zxcvbn_reads_is_taken(auth, owner_conn):
    long = "a long passphrase about purple elephants eating marmalade on a sunny tuesday morning in spring"
    assert len(long) > 72
    assert auth.signup("me@example.com", long, confirmed=False).status_code == 302
    auth.logout()
    assert auth.login("me@example.com", long).status_code == 302


# --- changing address and password -------------------------------------------------------------

def test_an_address_changes_once_confirmed_the_old_one_is_told_and_billing_follows(client, auth, mailbox, owner_conn,
                                                                                  mirror, stripe_api):
    auth.signup("me@example.com", PASSWORD)
    user_id = owner_conn.execute("SELECT id FROM billing_app.users").fetchone()[0]
    mirror.customer("cus_me", user_id, email="me@example.com")
    stripe_api.expect_request("/v1/customers/cus_me", method="POST").respond_with_json(
        {"id": "cus_me", "object": "customer", "email": "new@example.com"})
    mailbox.to("me@example.com", 1)
    wrong = post_form(client, "/settings/email", "/settings", email="new@example.com", current_password="nope nope")
    assert wrong.status_code == 400 and "That is not your password." in text_of(wrong)
    asked = post_form(client, "/settings/email", "/settings", email="New@Example.com", current_password=PASSWORD)
    assert asked.status_code == 303
    link = mailbox.link_to("new@example.com")
    assert users(owner_conn) == [("me@example.com", True)]  # nothing changes before the link is opened
    assert open_link(client, link).status_code == 303
    assert users(owner_conn) == [("new@example.com", True)]
    (update,) = requests_to(stripe_api, "/v1/customers/cus_me")
    assert sent_form(update) == {"email": "new@example.com"}  # receipts follow the address
    (notice,) = mailbox.to("me@example.com", 2)[1:]
    assert notice["Subject"] == "Your email address at Acme changed"
    assert "changed from me@example.com to new@example.com" in notice.get_content()
    assert client.get(link).status_code == 400  # the account moved on: the link is spent
    auth.logout()
    assert auth.login("new@example.com", PASSWORD).status_code == 302


def test_the_old_address_takes_the_account_back_from_a_change_it_did_not_ask_for(app, client, auth, mailbox,
                                                                                owner_conn):
    """Someone with the password moves the account to their own address: the owner's old address gets a
    link that puts the address back, ends every session and the password, and asks for a new one."""
    auth.signup("me@example.com", PASSWORD)
    mailbox.to("me@example.com", 1)
    intruder = app.test_client()
    AuthActions(intruder).login("me@example.com", PASSWORD)
    move_address(intruder, mailbox, "intruder@example.com")
    assert users(owner_conn) == [("intruder@example.com", True)]

    owner = app.test_client()
    taken_back = open_link(owner, mailbox.link_to("me@example.com", 2))
    assert taken_back.status_code == 303 and taken_back.headers["Location"].startswith("/reset-password/")
    assert users(owner_conn) == [("me@example.com", True)]
    assert intruder.get("/account").status_code == 302  # signed out
    assert AuthActions(intruder).login("me@example.com", PASSWORD).status_code == 401  # the password is gone
    reset = taken_back.headers["Location"]
    assert post_form(owner, reset, reset, password=NEW_PASSWORD).status_code == 303
    assert owner.get("/account").status_code == 200

    # the link works once: kept in the mailbox, it must not end the new password and lead to another
    undo = mailbox.link_to("me@example.com", 2)
    assert owner.get(undo).status_code == 400
    again = app.test_client()
    page = again.get(undo)
    assert page.status_code == 400 and "This link has expired or no longer applies." in text_of(page)
    assert owner.get("/account").status_code == 200  # still signed in
    assert AuthActions(again).login("me@example.com", NEW_PASSWORD).status_code == 302
    # a later change mails a new link, which works: the take-back spent only the links it undid
    move_address(owner, mailbox, "elsewhere@example.com", NEW_PASSWORD)
    assert users(owner_conn) == [("elsewhere@example.com", True)]
    later = mailbox.link_to("me@example.com", 3)
    assert later != undo and app.test_client().get(later).status_code == 200


def test_whoever_changes_the_address_twice_cannot_end_the_owners_take_back_link(app, auth, mailbox, owner_conn):
    """me@ -> evil1@ -> evil2@, then evil1@'s own link takes the account back to evil1@: the owner's
    link, made before it, still works, and spends the intruder's."""
    auth.signup("me@example.com", PASSWORD)
    mailbox.to("me@example.com", 1)
    intruder = app.test_client()
    AuthActions(intruder).login("me@example.com", PASSWORD)
    move_address(intruder, mailbox, "evil1@example.com")
    owners_link = mailbox.link_to("me@example.com", 2)
    move_address(intruder, mailbox, "evil2@example.com")
    intruders_link = mailbox.link_to("evil1@example.com", 2)
    assert open_link(app.test_client(), intruders_link).status_code == 303
    assert users(owner_conn) == [("evil1@example.com", True)]

    taken_back = open_link(app.test_client(), owners_link)
    assert taken_back.status_code == 303 and taken_back.headers["Location"].startswith("/reset-password/")
    assert users(owner_conn) == [("me@example.com", True)]
    assert app.test_client().get(intruders_link).status_code == 400  # undone with the change that made it


def test_one_take_back_link_used_twice_at_once_takes_the_account_back_once(app, auth, mailbox, owner_conn):
    """The second use waits for the first (the account's row is locked) and then finds the link spent."""
    import threading
    from billing_app.auth.links import read_undo_token
    from billing_app.auth.users import take_back
    auth.signup("me@example.com", PASSWORD)
    move_address(auth.client, mailbox, "new@example.com")
    token = mailbox.link_to("me@example.com", 2).rsplit("/", 1)[1]
    second = []
    with app.app_context():
        db = app.extensions["billing_db"]
        with db.connection() as first_conn, db.connection() as second_conn:
            link = read_undo_token(first_conn, token)
            assert read_undo_token(second_conn, token) == link  # both read it before either used it
            with first_conn.transaction():
                assert take_back(first_conn, link.user.id, link.address, link.made) is not None
                waiting = threading.Thread(target=lambda: second.append(
                    take_back(second_conn, link.user.id, link.address, link.made)))
                waiting.start()
                blocked = (first_conn.info.backend_pid, second_conn.info.backend_pid)
                for _ in range(500):  # until the second waits for the first's lock on the account's row
                    if owner_conn.execute("SELECT %s = ANY(pg_blocking_pids(%s))", blocked).fetchone()[0]:
                        break
                    time.sleep(0.01)
                else:
                    pytest.fail("the second take-back did not wait for the first")
            waiting.join(timeout=30)
            assert second == [None]
            assert read_undo_token(first_conn, token) is None
    assert owner_conn.execute("SELECT count(*) FROM billing_app.take_backs").fetchone()[0] == 1


def test_a_take_back_link_mailed_before_links_said_when_they_were_made_works_once(app, auth, owner_conn):
    """Links mailed by the release before carry no "made": the second they were signed stands for it."""
    from billing_app.auth.links import _signer
    auth.signup("me@example.com", PASSWORD)
    (user_id,) = owner_conn.execute("SELECT id FROM billing_app.users").fetchone()
    with app.app_context():
        legacy = _signer("address-undo").dumps({"user": user_id, "from": "new@example.com", "to": "me@example.com"})
    assert open_link(app.test_client(), f"/take-back/{legacy}").status_code == 303
    assert app.test_client().get(f"/take-back/{legacy}").status_code == 400


def test_whoever_changes_the_address_cannot_spend_the_old_addresss_notice(app, auth, mailbox, owner_conn):
    """The intruder asks for changes until MAIL_RATE_LIMIT answers 429 (their budget), then confirms one:
    the notice to the old address, with its take-back link, still goes."""
    auth.signup("me@example.com", PASSWORD)
    mailbox.to("me@example.com", 1)
    intruder = app.test_client()
    AuthActions(intruder).login("me@example.com", PASSWORD)
    asked = [post_form(intruder, "/settings/email", "/settings", email="intruder@example.com",
                       current_password=PASSWORD).status_code for _ in range(5)]
    assert asked[-1] == 429
    open_link(intruder, mailbox.link_to("intruder@example.com", asked.count(303)))
    assert users(owner_conn) == [("intruder@example.com", True)]
    assert mailbox.link_to("me@example.com", 2).startswith("/take-back/")


def test_several_accounts_cannot_flood_one_address_with_confirmations(app, mailbox):
    """MAIL_RATE_LIMIT (5 an hour) holds for the address mailed, not only for each account asking."""
    answers = []
    for n in range(3):
        account = AuthActions(app.test_client())
        account.signup(f"user{n}@example.com", PASSWORD)
        answers += [post_form(account.client, "/settings/email", "/settings", email="victim@example.net",
                              current_password=PASSWORD).status_code for _ in range(3)]
    assert answers == [303] * 5 + [429] * 4
    assert len(mailbox.to("victim@example.net", 5)) == 5


def test_changes_asked_towards_an_address_do_not_stop_its_owner_confirming_it(app, client, auth, mailbox):
    """Another account spends the budget of victim@ by asking to move to it; victim@'s own sign-up and
    "send again" still mail it (else one account could keep anyone from confirming, and so from paying)."""
    other = AuthActions(app.test_client())
    other.signup("other@example.com", PASSWORD)
    for _ in range(4):
        post_form(other.client, "/settings/email", "/settings", email="victim@example.net", current_password=PASSWORD)
    assert len(mailbox.to("victim@example.net", 4)) == 4
    auth.signup("victim@example.net", PASSWORD, confirmed=False)
    assert post_form(client, "/settings/confirm-address", "/settings").status_code == 303
    assert len(mailbox.to("victim@example.net", 6)) == 6  # its sign-up mail and the one sent again


def test_a_password_reset_ends_an_address_change_someone_else_asked_for(app, client, auth, mailbox, owner_conn):
    """The sign-up-first attack: someone signs up with the owner's address and asks to move the account to
    their own.  The owner's password reset ends that pending change."""
    squatter = app.test_client()
    AuthActions(squatter).signup("me@example.com", PASSWORD, confirmed=False)
    post_form(squatter, "/settings/email", "/settings", email="squatter@example.com", current_password=PASSWORD)
    pending = mailbox.link_to("squatter@example.com")
    post_form(client, "/forgot-password", "/forgot-password", email="me@example.com")
    reset = mailbox.link_to("me@example.com", 2)
    assert post_form(client, reset, reset, password=NEW_PASSWORD).status_code == 303
    assert open_link(squatter, pending).status_code == 400
    assert users(owner_conn) == [("me@example.com", True)]


def test_a_reset_link_sent_before_an_address_change_no_longer_works(client, auth, mailbox, owner_conn):
    auth.signup("me@example.com", PASSWORD)
    mailbox.to("me@example.com", 1)
    post_form(client, "/forgot-password", "/forgot-password", email="me@example.com")
    reset = mailbox.link_to("me@example.com", 2)
    post_form(client, "/settings/email", "/settings", email="new@example.com", current_password=PASSWORD)
    open_link(client, mailbox.link_to("new@example.com"))
    assert users(owner_conn) == [("new@example.com", True)]
    assert client.get(reset).status_code == 400


def test_changing_the_password_keeps_this_device_and_signs_out_the_others(app, client, auth, owner_conn):
    auth.signup("me@example.com", PASSWORD)
    other_device = app.test_client()
    AuthActions(other_device).login("me@example.com", PASSWORD)
    weak = post_form(client, "/settings/password", "/settings", current_password=PASSWORD, password="qwertyuiop")
    assert weak.status_code == 400 and "Choose a harder password. This is a top-100 common password." in text_of(weak)
    wrong = post_form(client, "/settings/password", "/settings", current_password="not it at all",
                      password=NEW_PASSWORD)
    assert wrong.status_code == 400 and "That is not your password." in text_of(wrong)
    changed = post_form(client, "/settings/password", "/settings", current_password=PASSWORD, password=NEW_PASSWORD)
    assert changed.status_code == 303
    assert client.get("/account").status_code == 200
    assert other_device.get("/account").status_code == 302


@pytest.mark.parametrize("password, why", [
    ("password1234", "This is a very common password."),
    ("me@example.com!", "It is too easy to guess."),
    ("abcdefghijk", 'Sequences like "abc" or "6543" are easy to guess.'),
])
def test_the_most_common_passwords_are_refused_at_sign_up(client, auth, owner_conn, password, why):
    answer = auth.signup("me@example.com", password, confirmed=False)
    assert answer.status_code == 400
    assert f"Choose a harder password. {why}" in html.unescape(text_of(answer))
    assert users(owner_conn) == []
