# Public Flask settings, read by the `flask` command (python-dotenv).
# Secrets belong in .env (see .env.example), never here.
FLASK_APP=billing_app:create_app(cli=True)
