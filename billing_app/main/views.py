from flask import jsonify, render_template

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
    return render_template("legal/terms.html")


@bp.route("/privacy")
def privacy():
    return render_template("legal/privacy.html")
