"""Every request has an id, and every log line billing_app writes during one names it and the user.

The id is the proxy's ``X-Request-ID`` when a proxy is trusted
(TRUSTED_PROXY_COUNT) and sends a sane one, else a new one; it is echoed in the response, so a customer's screenshot or a proxy's
log leads to the app's log lines.  ``logger(__name__)`` is how billing_app's
modules get a logger that prefixes ``[request <id> user <id>]``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def assign_request_id() -> None:
    """The proxy's id when a proxy is trusted (TRUSTED_PROXY_COUNT) and the id is sane, else a new one:
    a client cannot put ids of its choosing into the log."""
    if "request_id" not in g:
        g.billing_started = time.monotonic()  # the request's clock: see stripe_client.fits_in_request
        from billing_app.billing import settings
        sent = request.headers.get(REQUEST_ID_HEADER, "") if settings()["TRUSTED_PROXY_COUNT"] else ""
        g.request_id = sent if _SANE_ID.fullmatch(sent) else uuid.uuid4().hex


def echo_request_id(response):
    if "request_id" in g:
        response.headers.setdefault(REQUEST_ID_HEADER, g.request_id)
    return response


class RequestContext(logging.Filter):
    """Puts the request's id and the signed-in user's id (as far as the request has read it: logging
    never queries the database) on every record, as ``request_id`` and ``user_id`` ("-" outside a
    request).  The message itself is left alone, so error trackers still group by it;
    LOG_FORMAT shows the two."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id, record.user_id = "-", "-"
            if has_request_context():
                sign_in = g.get("billing_sign_in")
                record.request_id = g.get("request_id", "-")
                record.user_id = sign_in.user.id if sign_in is not None and sign_in.user is not None else "-"
        return True


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [request %(request_id)s user %(user_id)s]: %(message)s"


_FILTER = RequestContext()


def logger(name: str) -> logging.Logger:
    log = logging.getLogger(name)
    if _FILTER not in log.filters:
        log.addFilter(_FILTER)
    return log
