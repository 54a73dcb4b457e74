"""The WSGI entry point: gunicorn 'wsgi:app'."""

from billing_app import create_app

app = create_app()
