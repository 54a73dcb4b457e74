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


def test_workers_setting_up_at_once_install_the_engines_once(fresh_engines_folder, tmp_path):
    # pytest -n starts one setup per worker: two `npm ci` at once in one folder both fail
    # (CI's failure of 2026-12-05)
    outputs = [tmp_path / f"setup-{n}.out" for n in range(2)]
    runs = []
    try:
        for output in outputs:
            with output.open("w") as sink:
                runs.append(subprocess.Popen(["bash", str(fresh_engines_folder / "setup.sh")], stdout=sink,
                                             stderr=subprocess.STDOUT))
        codes = [run.wait(timeout=600) for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
                run.wait()
    said = [output.read_text() for output in outputs]
    assert codes == [0, 0], said
    first, second = sorted(said)  # "ready (installed, ..." sorts before "ready (node ..."
    assert "ready (installed, fetched, node" in first, said
    assert "ready (node" in second, said  # it waited, then found everything done
    assert (fresh_engines_folder / "node_modules" / "@stripe" / "sync-engine").is_dir()
