"""Where billing_app's files outside Python live: the SQL and the example portal.toml.

In a checkout they sit at the top of the repository (sql/, portal.toml).  A
built wheel carries copies inside the package (billing_app/sql,
billing_app/portal.toml; see setup.py), so an installed app finds them next to
its code.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def resource(name: str) -> Path:
    """The packaged copy of ``name`` when there is one (an installed wheel), else the repository's."""
    packaged = PACKAGE / name
    return packaged if packaged.exists() else PACKAGE.parent / name


SQL_DIR = resource("sql")
EXAMPLE_PORTAL_FILE = resource("portal.toml")
