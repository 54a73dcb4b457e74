"""The real stripe-sync-engine generations, for tests: set up once, one feeder process per database.

``start_feeder`` installs the pinned engines (``setup.sh``: npm ci and the
cached OpenAPI spec) on first use and starts ``feed.mjs`` for one database.
Without Node.js the engine tests skip with a reason saying how to get it;
under CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.mirror import Feeder

HERE = Path(__file__).resolve().parent
ENGINES = {"supabase-sync-engine": "supabase-0.48", "stripe-sync-engine": "stripe-1"}
WEBHOOK_SECRET = "whsec_billing_app_tests_0123456789abcdef"
_ready: str | None = None  # None: not tried; "": set up; else why it could not be


def _set_up() -> None:
    global _ready
    if _ready is None:
        if shutil.which("node") is None or shutil.which("npm") is None:
            _ready = "Node.js >= 20 and npm are not installed (apt-get install nodejs npm, or nodesource)"
        else:
            result = subprocess.run(["bash", str(HERE / "setup.sh")], capture_output=True, text=True)
            _ready = "" if result.returncode == 0 else f"tests/engines/setup.sh failed: {result.stderr.strip()}"
    if _ready:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the sync engine tests need their engines: {_ready}")
        pytest.skip(f"sync engine tests skipped: {_ready}")


def start_feeder(source: str, database_url: str, log_folder: Path) -> Feeder:
    """A running feed.mjs writing ``database_url`` through the engine behind ``source``."""
    _set_up()
    log = (log_folder / "feed.log").open("w")
    process = subprocess.Popen(
        ["node", str(HERE / "feed.mjs"), "--engine", ENGINES[source], "--database-url", database_url,
         "--webhook-secret", WEBHOOK_SECRET],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
    return Feeder(process, source, WEBHOOK_SECRET, log)
