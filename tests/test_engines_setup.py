"""tests/engines/setup.sh, as the test workers call it: several at once on a fresh checkout."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.engines import HERE


@pytest.fixture
def fresh_engines_folder(tmp_path):
    """A copy of tests/engines as a fresh clone has it: no node_modules, no cached spec."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Node.js and npm are needed for the sync engine tests")
        pytest.skip("Node.js and npm are not installed")
    for name in ("setup.sh", "package.json", "package-lock.json"):
        shutil.copy(HERE / name, tmp_path / name)
    return tmp_path


def test_workers_setting_up_at_once_install_the_engines_once(fresh_engines_folder):
    # pytest -n starts one setup per worker; a second `npm ci` empties node_modules
    # under an engine the first worker already runs (CI's failure of 2026-12-05).
    runs = [subprocess.Popen(["bash", str(fresh_engines_folder / "setup.sh")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    first, second = sorted(out for out, _ in outputs)  # "(installed, ..." sorts before "(node ..."
    assert "ready (installed, fetched, node" in first, outputs
    assert "ready (node" in second, outputs  # it waited, then found everything done
    assert (fresh_engines_folder / "node_modules" / "@stripe" / "sync-engine").is_dir()
