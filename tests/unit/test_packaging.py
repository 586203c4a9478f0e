"""The `rafka` package's layout as setuptools installs it.

The four product folders install as rafka.raft, rafka.log, rafka.netproto
and rafka.broker (package-dir in pyproject.toml). setuptools is given the
package list explicitly, so a new subpackage missing from it would be left
out of a non-editable install without any error: this test is that error.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("raft", "log", "netproto", "broker")


def test_every_package_folder_is_installed():
    """Goal: every folder with an __init__.py under the four product folders
    is in [tool.setuptools] packages, mapped under `rafka.`, and nothing else is."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert conf["package-dir"] == {f"rafka.{f}": f for f in FOLDERS}
    on_disk = {
        "rafka." + ".".join(init.parent.relative_to(ROOT).parts)
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(conf["packages"]) == on_disk


def test_console_script_targets_the_cli():
    """Goal: the `rafka` console script points at an importable main()."""
    import importlib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, func = scripts["rafka"].partition(":")
    assert callable(getattr(importlib.import_module(module), func))
