"""Command-line tools some tests drive (tmux, shellcheck): skip without one, or fail.

``./install.sh --dev`` installs them. Where ``MLOPS_TUI_REQUIRE_SERVERS`` is set (CI), a
missing tool fails the test instead of skipping it, as a missing test server does.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ENV = "MLOPS_TUI_REQUIRE_SERVERS"


def required() -> bool:
    return os.environ.get(REQUIRE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def require_tool(name: str) -> str:
    """The path of ``name``; skip (or fail, under ``MLOPS_TUI_REQUIRE_SERVERS``) without it."""
    path = shutil.which(name)
    if path is not None:
        return path
    reason = f"{name} is not installed (./install.sh --dev installs it)"
    if required():
        pytest.fail(f"{REQUIRE_ENV} is set but {reason}", pytrace=False)
    pytest.skip(reason)
