from flask import jsonify, redirect, render_template, url_for

from billing_app.billing import settings

from billing_app.db import DatabaseUnavailable, database
from billing_app.main import bp


@bp.route("/")
def home():
    return render_template("main/home.html")


@bp.route("/healthz")
def healthz():
    """200 when the database answers, 503 when it does not (for load balancers)."""
    try:
        with database().connection() as conn:
            conn.execute("SELECT 1")
    except DatabaseUnavailable:
        return jsonify(status="unavailable", database="down"), 503
    return jsonify(status="ok", database="up")


@bp.route("/terms")
def terms():
    """The generic terms, or yours (TERMS_URL)."""
    if settings()["TERMS_URL"]:
        return redirect(settings()["TERMS_URL"])
    return render_template("legal/terms.html")


@bp.route("/privacy")
def privacy():
    """The generic privacy policy, or yours (PRIVACY_URL)."""
    if settings()["PRIVACY_URL"]:
        return redirect(settings()["PRIVACY_URL"])
    return render_template("legal/privacy.html")


@bp.route("/favicon.ico")
def favicon():
    return redirect(url_for("billing.static", filename="favicon.svg"), 301)
