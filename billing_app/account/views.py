from flask import jsonify, render_template, request
from flask_login import current_user, login_required

from billing_app.account import RETURN_PARAM, RETURN_SOURCES, bp
from billing_app.account.summary import account_summary
from billing_app.db import get_db


@bp.route("/account")
@login_required
def account():
    summary = account_summary(get_db(), current_user.id)
    notice = RETURN_SOURCES.get(request.args.get(RETURN_PARAM))
    # the fingerprint the page's poll compares against; only needed with the notice
    fingerprint = summary.as_json()["fingerprint"] if notice else None
    response = render_template("account/account.html", summary=summary, freshness_notice=notice,
                               fingerprint=fingerprint)
    return response, 200, {"Cache-Control": "no-store"}


@bp.route("/api/billing/summary")
@login_required
def billing_summary():
    """The signed-in user's subscription state as JSON (the page's freshness poll uses it)."""
    response = jsonify(account_summary(get_db(), current_user.id).as_json())
    response.headers["Cache-Control"] = "no-store"
    return response
