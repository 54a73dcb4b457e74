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
A mail sent whose end the server did not answer may have been taken and is not
sent again.  One past the outbox's capacity answers 503 at once.  A process that
stops loses the mails it had not delivered yet, and stops retrying (the user asks
again).

Without MAIL_URL (local runs), mails are written to the log, links included; with
a live Stripe key that is refused instead.
"""

from __future__ import annotations

import atexit
import heapq
import itertools
import smtplib
import ssl
import threading
import time
import weakref
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


class _Sending:
    """An SMTP connection that knows whether a message's text went out: a failure after that (no answer
    to its end) may mean the server took the mail, and sending it again could send it twice."""
    text_sent = False

    def data(self, msg):
        self.text_sent = True
        return super().data(msg)


class _SMTP(_Sending, smtplib.SMTP):
    pass


class _SMTPSSL(_Sending, smtplib.SMTP_SSL):
    pass


def _connect(url: str) -> _SMTP | _SMTPSSL:
    """A connection to MAIL_URL's server, upgraded and logged in as the URL says."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]
    if parts.scheme == "smtps":
        server = _SMTPSSL(host, port, timeout=MAIL_TIMEOUT, context=ssl.create_default_context())
    else:
        server = _SMTP(host, port, timeout=MAIL_TIMEOUT)
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
    except (OSError, smtplib.SMTPException, ValueError) as exc:  # ValueError: a password smtplib cannot encode
        return f"the mail server at {_server_name(url)} refused: {_reason(exc)}"
    return None


def _for_now(exc: Exception) -> bool:
    """Whether the server may take the mail on a later try: it could not be reached, hung up, or answered
    with a 4xx code (every refused recipient's, when it refused them one by one)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPException):  # STARTTLS or a login method the server lacks: for good
        return False
    if isinstance(exc, ssl.SSLError):  # a certificate that does not verify, a protocol refused: for good
        return isinstance(exc, ssl.SSLEOFError)  # but a server that hung up in the handshake may not later
    return True  # OSError: refused, reset, timed out, no such host (yet)


def deliver(url: str, message: EmailMessage, *, tries: int = 1, retry_in: float | None = None) -> bool:
    """Hand one message to the server (the outbox's threads call this; ``tries``: this one's number).
    True when the server could not take it for the moment and ``retry_in`` (seconds) allows one more
    try; False when it was taken, or is not to be sent again (each logged)."""
    server = None
    taken = False
    try:
        server = _connect(url)
        with server:
            server.send_message(message)
            taken = True
    except (OSError, smtplib.SMTPException) as exc:
        if taken:  # only the goodbye (QUIT) failed
            return False
        mail = f"the mail to {message['To']} ({message['Subject']})"
        if server is not None and server.text_sent and not isinstance(exc, smtplib.SMTPResponseException):
            log.error("the mail server at %s did not answer once %s was sent (%s): it may have taken it, so it "
                      "is not sent again", _server_name(url), mail, _reason(exc))
            return False
        if retry_in is not None and _for_now(exc):
            log.warning("the mail server at %s did not take %s: %s; trying again in %g s", _server_name(url),
                        mail, _reason(exc), retry_in)
            return True
        log.error("the mail server at %s did not take %s: %s%s", _server_name(url), mail, _reason(exc),
                  f" (try {tries})" if tries > 1 else "")
        return False
    except Exception:  # a bug of ours, or a setting smtplib cannot use (a password it cannot encode)
        if not taken:
            log.exception("the mail to %s (%s) is not sent", message["To"], message["Subject"])
        return False
    if tries > 1:
        log.info("the mail server at %s took the mail to %s (%s) on try %d", _server_name(url), message["To"],
                 message["Subject"], tries)
    return False


def _say_what_is_left(outbox: weakref.ref) -> None:
    """At the interpreter's exit: the mails still waiting to be tried again, which go with the process."""
    left = outbox()
    if left is not None:
        with left._wake:
            waiting = [message for _, _, _, message, _ in left._later]
        for message in waiting:
            _not_sent(message)


def _not_sent(message: EmailMessage) -> None:
    log.error("the mail to %s (%s) is not sent: this process is stopping", message["To"], message["Subject"])


class Outbox:
    """This process's mail threads, and at most OUTBOX_CAPACITY mails waiting for them or for a try again.

    A mail to try again waits in a queue, not in a thread (the threads go on with the other mails), and
    a daemon thread hands it back when its time comes; a process that exits without ``close`` loses
    those, without waiting for them.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(OUTBOX_THREADS, thread_name_prefix="billing-mail")
        self._room = threading.BoundedSemaphore(OUTBOX_CAPACITY)
        self._later: list[tuple[float, int, str, EmailMessage, int]] = []  # heap: (when, n, url, mail, tries)
        self._numbers = itertools.count()
        self._wake = threading.Condition()
        self._closed = False
        self._clock: threading.Thread | None = None
        atexit.register(_say_what_is_left, weakref.ref(self))

    def put(self, url: str, message: EmailMessage) -> None:
        if not self._room.acquire(blocking=False):
            log.error("the outbox holds %d mails already; refusing the mail to %s", OUTBOX_CAPACITY, message["To"])
            raise unavailable()
        self._submit(url, message, 1)

    def _submit(self, url: str, message: EmailMessage, tries: int) -> None:
        try:
            self._pool.submit(self._try, url, message, tries)
        except RuntimeError:  # the threads are stopped: the app was closed, or the interpreter is exiting
            _not_sent(message)
            self._room.release()

    def _try(self, url: str, message: EmailMessage, tries: int) -> None:
        later = False
        try:
            delay = MAIL_RETRY_DELAYS[tries - 1] if tries <= len(MAIL_RETRY_DELAYS) else None
            later = deliver(url, message, tries=tries, retry_in=delay) and \
                self._try_later(url, message, tries + 1, delay)
        finally:
            if not later:  # done with, whatever happened: its room goes back
                self._room.release()

    def _try_later(self, url: str, message: EmailMessage, tries: int, delay: float) -> bool:
        with self._wake:
            if self._closed:
                _not_sent(message)
                return False
            if self._clock is None:
                clock = threading.Thread(target=self._hand_back, name="billing-mail-later", daemon=True)
                try:
                    clock.start()
                except RuntimeError:  # no thread to be had (a process at its limit): not tried again
                    log.exception("the outbox cannot start its thread for mails to try again")
                    _not_sent(message)
                    return False
                self._clock = clock
            heapq.heappush(self._later, (time.monotonic() + delay, next(self._numbers), url, message, tries))
            self._wake.notify()
        return True

    def _hand_back(self) -> None:
        """The retry queue's thread: each mail back to the outbox's threads when its time comes."""
        with self._wake:
            while not self._closed:
                while self._later and self._later[0][0] <= time.monotonic():
                    _, _, url, message, tries = heapq.heappop(self._later)
                    self._submit(url, message, tries)
                self._wake.wait(self._later[0][0] - time.monotonic() if self._later else None)

    def close(self) -> None:
        """Give each mail taken already its try under way or its first, drop those waiting to be tried again
        (each logged), then stop (an app being closed: tests, a host's teardown)."""
        with self._wake:
            self._closed = True
            waiting, self._later = self._later, []
            self._wake.notify()
        for _, _, _, message, _ in waiting:
            _not_sent(message)
            self._room.release()
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
