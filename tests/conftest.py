"""Shared pytest configuration.

Tests marked `slow` (soaks, long fault runs) run only with RAFKA_SLOW=1 so the
default suite stays within its time budget on two cores.
"""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config, items):
    if os.environ.get("RAFKA_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set RAFKA_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
