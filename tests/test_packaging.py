"""What ``pip install`` ships: every package of the daemon, not only what an editable checkout
finds on disk.

The layout is flat (the repository root is the package ``sportello``), so the packages are
listed by hand in pyproject.toml; a wheel once lacked ``sportello.listening`` and
``sportello.inbox.metrics``, and a daemon installed from it failed at its first import.
"""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_SHIPPED = {"tests", "bench"}  # the suite and the benchmarks run from a checkout


def _packages_in_the_repository() -> set[str]:
    tracked = subprocess.run(
        ["git", "ls-files", "*__init__.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found = set()
    for init in tracked:
        parts = Path(init).parent.parts
        if not parts or parts[0] not in NOT_SHIPPED:
            found.add(".".join(("sportello", *parts)))
    return found


def test_every_package_of_the_checkout_is_in_the_wheel() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["package-dir"] == {"sportello": "."}
    assert set(setuptools["packages"]) == _packages_in_the_repository()
