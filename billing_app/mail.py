"""Mail to a user (password reset, confirming an address), sent through the SMTP server of MAIL_URL.

``smtp+starttls://`` upgrades the connection with STARTTLS (port 587), ``smtps://``
speaks TLS from the start (port 465), ``smtp://`` neither (a local relay); a
user and password in the URL log in.

A request never talks to the mail server: ``send_mail`` hands the message to
this process's outbox, a few threads that deliver in the background, and the
request answers at once, the same whether or not a mail was sent (no one learns
which addresses have accounts from the time an answer takes) and with no
connection or worker held while a slow server answers.  A mail the server
could not take for the moment (it could not be reached, dropped the connection,
or answered 4xx: busy, greylisting, TLS not ready) is tried again after
MAIL_RETRY_DELAYS; one it refuses for good (5xx: a bad login, a refused sender
or recipient) is logged at once, as is one still not taken after the last try.
One past the outbox's capacity answers 503 at once.  A process that stops loses
the mails it had not delivered yet, and stops retrying (the user asks again).  Without MAIL_URL (local runs), mails are written to the log, links
included; with a live Stripe key that is refused instead.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

from billing_app.errors import BillingError
from billing_app.request_log import logger

log = logger(__name__)
MAIL_TIMEOUT = 10  # seconds for the mail server to answer each step
DEFAULT_PORTS = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}
OUTBOX_THREADS = 2
OUTBOX_CAPACITY = 200  # mails waiting or in delivery per process
MAIL_RETRY_DELAYS = (5, 30)  # seconds before the second and third tries of a mail the server could not take yet


def sender(settings) -> str:
    """MAIL_FROM, else "COMPANY_NAME <CONTACT_EMAIL>"."""
    return settings["MAIL_FROM"] or formataddr((settings["COMPANY_NAME"], settings["CONTACT_EMAIL"]))


def compose(settings, to: str, subject: str, body: str) -> EmailMessage:
    from email.headerregistry import Address  # its header parser takes a few hundredths of a second to import
    message = EmailMessage()
    message["From"] = sender(settings)
    message["To"] = Address(addr_spec=to)
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=settings["CONTACT_EMAIL"].rpartition("@")[2] or None)
    message.set_content(body)
    return message


def _connect(url: str) -> smtplib.SMTP:
    """A connection to MAIL_URL's server, upgraded and logged in as the URL says."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]
    if parts.scheme == "smtps":
        server = smtplib.SMTP_SSL(host, port, timeout=MAIL_TIMEOUT, context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(host, port, timeout=MAIL_TIMEOUT)
    try:
        if parts.scheme == "smtp+starttls":
            server.starttls(context=ssl.create_default_context())
        if parts.username:
            server.login(unquote(parts.username), unquote(parts.password or ""))
    except BaseException:
        server.close()
        raise
    return server


def _server_name(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or DEFAULT_PORTS[parts.scheme]}"


def _reason(exc: Exception) -> str:
    """What went wrong, in one line: the server's code and words, where it answered."""
    if isinstance(exc, smtplib.SMTPResponseException):
        words = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {' '.join(words.split())}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(_reason(smtplib.SMTPResponseException(code, words)) for code, words in exc.recipients.values())
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def check_mail_server(url: str) -> str | None:
    """Why MAIL_URL's server cannot take mail from us (for `flask billing doctor`), or None."""
    try:
        with _connect(url) as server:
            server.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return f"the mail server at {_server_name(url)} refused: {_reason(exc)}"
    return None


def _for_now(exc: Exception) -> bool:
    """Whether the server may take the mail on a later try: it could not be reached or hung up, or it
    answered with a 4xx code (every refused recipient's, when it refused them one by one)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, ssl.SSLError):  # a certificate that does not verify, a protocol refused: for good
        return False
    return isinstance(exc, (OSError, smtplib.SMTPServerDisconnected))


def deliver(url: str, message: EmailMessage, stopping: threading.Event) -> None:
    """Hand one message to the server, trying again after MAIL_RETRY_DELAYS while the server cannot take
    it for the moment (the outbox's threads call this; ``stopping`` set: no more tries)."""
    delays = list(MAIL_RETRY_DELAYS)
    while True:
        taken = False
        try:
            with _connect(url) as server:
                server.send_message(message)
                taken = True
            return
        except (OSError, smtplib.SMTPException) as exc:
            if taken:  # the server took it; only saying goodbye (QUIT) failed: sending again would send it twice
                return
            again = bool(delays) and _for_now(exc) and not stopping.is_set()
            log.error("the mail server at %s did not take the mail to %s (%s): %s%s", _server_name(url),
                      message["To"], message["Subject"], _reason(exc),
                      f"; trying again in {delays[0]:g} s" if again else "")
            if not again:
                return
            if stopping.wait(delays.pop(0)):
                log.error("the mail to %s (%s) is not sent: this process is stopping", message["To"],
                          message["Subject"])
                return


class Outbox:
    """This process's mail threads, at most OUTBOX_CAPACITY mails waiting."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(OUTBOX_THREADS, thread_name_prefix="billing-mail")
        self._room = threading.BoundedSemaphore(OUTBOX_CAPACITY)
        self._stopping = threading.Event()

    def put(self, url: str, message: EmailMessage) -> None:
        if not self._room.acquire(blocking=False):
            log.error("the outbox holds %d mails already; refusing the mail to %s", OUTBOX_CAPACITY, message["To"])
            raise unavailable()
        future = self._pool.submit(deliver, url, message, self._stopping)
        future.add_done_callback(lambda _: self._room.release())

    def close(self) -> None:
        """Give each mail taken already one more try at most, then stop taking any (an app being closed: tests,
        a host's teardown)."""
        self._stopping.set()
        self._pool.shutdown(wait=True)


def unavailable() -> BillingError:
    return BillingError(503, "mail_unavailable", "We could not send the mail right now. "
                        "Please try again in a minute.", retry_after=60)


def send_mail(settings: Mapping[str, Any], to: str, subject: str, body: str) -> None:
    """Queue one plain-text mail for delivery (see the module's note)."""
    from flask import current_app

    from billing_app.stripe_client import key_mode
    try:
        message = compose(settings, to, subject, body)
    except ValueError as exc:  # an address no mail server takes (stored before addresses were checked for it)
        log.error("cannot write a mail to %r: %s", to, _reason(exc))
        raise unavailable() from None
    url = settings["MAIL_URL"]
    if not url:
        if key_mode(settings["STRIPE_SECRET_KEY"] or "") == "live":
            log.error("MAIL_URL is not set and the Stripe key is live: the mail to %s is not sent", to)
            raise unavailable()
        # as read, not as sent: a sent body is quoted-printable, which breaks a long link over lines
        log.warning("MAIL_URL is not set: the mail to %s is written here instead of sent\nSubject: %s\n\n%s", to,
                    message["Subject"], message.get_content())
        return
    current_app.extensions["billing_mail"].put(url, message)
