"""How the main views look (pytest-textual-snapshot), over the frozen demo backend.

Update after an intended change with ``pytest tests/snapshots --snapshot-update`` and look
at the report before committing.
"""

from __future__ import annotations

from tests.tui.conftest import snapshot_app

SIZE = (150, 40)


def test_pods_all_namespaces(snap_compare):
    assert snap_compare(snapshot_app(all_namespaces=True), terminal_size=SIZE)


def test_nodes_with_gpus(snap_compare):
    assert snap_compare(snapshot_app(start_view="nodes"), terminal_size=SIZE)


def test_deployments_filtered(snap_compare):
    assert snap_compare(snapshot_app(start_view="deploy", all_namespaces=True),
                        press=["slash", *"triton", "enter"], terminal_size=SIZE)


def test_help_on_nodes(snap_compare):
    assert snap_compare(snapshot_app(start_view="nodes"), press=["question_mark"],
                        terminal_size=SIZE)


def test_readonly_header_and_keys(snap_compare):
    assert snap_compare(snapshot_app(start_view="deploy", namespace="triton", readonly=True),
                        terminal_size=SIZE)


def test_describe_node(snap_compare):
    assert snap_compare(snapshot_app(start_view="nodes"), press=["d"], terminal_size=SIZE)
