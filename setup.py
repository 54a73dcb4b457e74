"""The wheel carries sql/ and portal.toml, which the repository keeps at its top, inside the package
(billing_app/sql, billing_app/portal.toml): billing_app/resources.py finds either place."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithResources(build_py):
    def run(self):
        super().run()
        package = Path(self.build_lib) / "billing_app"
        shutil.copytree(ROOT / "sql", package / "sql", dirs_exist_ok=True)
        shutil.copy2(ROOT / "portal.toml", package / "portal.toml")


setup(cmdclass={"build_py": BuildWithResources})
