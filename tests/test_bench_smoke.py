"""The benchmark harness (bench/run.py) in its smoke size, so that it does not rot.

It loads a few hundred customers, starts gunicorn and the Stripe stand-in, and
drives them with wrk for a few seconds each.  Figures are not checked here:
speed is shown by the full run in BENCHMARKS.md, never by timed assertions.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def wrk_available():
    if not shutil.which("wrk"):
        if os.environ.get("CI"):
            pytest.fail("wrk is not installed (apt-get install wrk)")
        pytest.skip("wrk is not installed (apt-get install wrk)")


def test_bench_smoke_writes_every_figure(wrk_available, postgres_server_url, tmp_path):
    output = tmp_path / "BENCHMARKS.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "DATABASE_", "STRIPE_"))}
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--database-server",
                             postgres_server_url, "--output", str(output)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = output.read_text()
    for row in ('| Flask "hello" (ceiling) |', "| The stack's floor (bench/floor.py), GET /account |",
                "| GET /healthz |", "| GET /account (signed in) |",
                "| POST /api/customer_portal, Stripe 0 ms |", "| POST /api/customer_portal, Stripe 300 ms |",
                "| GET /account during the slow portal load |", "| GET /account, no portal load |",
                "| POST /api/customer_portal, 60/s on schedule, Stripe 300 ms |",
                "| GET /account during 60 portal sessions/s |", "| GET /account while 70 Stripe calls hang |",
                "GET /account while 70 Stripe calls hang: no errors, p99 within 3x of quiet",
                "| mrr_summary |", "| data_quality |", "| query s (in the server) | fetched into Python s |",
                "| plain table: in the server s | plain table: fetched s |", "its rows from a plain table",
                "| active_subscriptions `--csv` |", "| `flask report refresh` < 30 s |",
                "| GET /account CPU per request <= 4x hello's (alternating rounds) |",
                "Flask's hello, the stack's floor and GET /account alternating, 3 rounds",
                "own work costs", "It puts nothing in words",
                "Portal overhead with Stripe at 0 ms", "Worker memory (RSS, MB)"):
        assert row in text
    # the floor shows the same rows on a page of about the same size as the real one
    floor_bytes, account_bytes = (int(n.replace(",", "")) for n in re.search(
        r"same rows \(([\d,]+) bytes; /account ([\d,]+)\)", text).groups())
    assert 0.7 <= floor_bytes / account_bytes <= 1.3
    table = text.split("| scenario |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert len(table) == 13
    assert all(line.endswith("| 0 |") for line in table), "every load ran without errors:\n" + "\n".join(table)
    assert "(smoke run: not a measurement)" in text
    # the same load in each stripe-sync-engine shape, beside Sequin's
    assert "| measure | sequin | supabase-sync-engine | vs sequin | stripe-sync-engine | vs sequin |" in text
    assert "| report mrr_summary query s |" in text and "| flask report refresh s |" in text and "| GET /account req/s |" in text
