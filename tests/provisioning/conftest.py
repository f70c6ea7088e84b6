"""Every provisioning test: this machine's playbook files stay as they were (the test hosts
share its filesystem: a provisioner that left check mode would install here)."""

from __future__ import annotations

import pytest

from tests.provisioning.support import playbook_files


@pytest.fixture(autouse=True)
def this_machine_unchanged():
    before = playbook_files()
    yield
    assert playbook_files() == before
