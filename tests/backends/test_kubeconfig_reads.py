"""Kubeconfig files are read once, and never on the thread that asks for the context list.

Reads are counted with a real audit hook on ``open`` (PEP 578): every open of a file by
this process, whoever does it (our code or the official client's loader), is seen.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path

import pytest
import yaml

from mlops_tui.backends.kubernetes import KubernetesBackend
from mlops_tui.backends.kubernetes import config as kubeconfig
from mlops_tui.backends.models import BackendSettings

_watched: dict[str, list[str]] = {}  # path -> names of the threads that opened it
_editing = threading.Event()  # set while a test itself rewrites a watched file


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _watched and not _editing.is_set() and isinstance(
            args[0], str | Path):
        path = os.fspath(args[0])
        if path in _watched:
            _watched[path].append(threading.current_thread().name)


sys.addaudithook(_audit)  # hooks cannot be removed; this one only looks at _watched


@pytest.fixture
def opens():
    """Call with paths to watch; returns the dict of who opened them."""
    def watch(*paths: Path) -> dict[str, list[str]]:
        for path in paths:
            _watched[str(path)] = []
        return _watched

    yield watch
    _watched.clear()


def add_context(path: Path, name: str, cluster: str, user: str) -> None:
    """Edit a kubeconfig as a user would (these opens are the test's, not counted)."""
    _editing.set()
    try:
        config = yaml.safe_load(path.read_text())
        config["contexts"].append({"name": name, "context": {"cluster": cluster,
                                                             "user": user}})
        path.write_text(yaml.safe_dump(config))
    finally:
        _editing.clear()


def two_files(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    for path, name in ((a, "one"), (b, "two")):
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": name,
            "clusters": [{"name": name, "cluster": {"server": "https://127.0.0.1:1"}}],
            "users": [{"name": name, "user": {"token": f"{name}-token"}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}]}))
    return a, b


def test_load_reads_each_file_once_and_unchanged_files_not_again(tmp_path, monkeypatch, opens):
    a, b = two_files(tmp_path)
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(b)]))
    seen = opens(a, b)
    loaded = kubeconfig.load(None, "two", 5)
    assert loaded.context == "two" and loaded.server == "https://127.0.0.1:1"
    assert {p: len(t) for p, t in seen.items()} == {str(a): 1, str(b): 1}
    # the first file's current-context wins, as kubectl merges
    assert [(c.name, c.current) for c in kubeconfig.list_contexts(None)] == [
        ("one", True), ("two", False)]
    kubeconfig.load(None, None, 5)
    assert {p: len(t) for p, t in seen.items()} == {str(a): 1, str(b): 1}

    add_context(b, "three", "two", "two")
    assert [c.name for c in kubeconfig.list_contexts(None)] == ["one", "two", "three"]
    assert {p: len(t) for p, t in seen.items()} == {str(a): 1, str(b): 2}


@pytest.mark.apiserver
def test_the_context_list_is_served_from_memory(control_plane, tmp_path, monkeypatch, opens):
    a = control_plane.write_kubeconfig(tmp_path / "a", "admin", context="one")
    b = control_plane.write_kubeconfig(tmp_path / "b", "limited", context="two",
                                       namespace="team-a")
    monkeypatch.setenv("KUBECONFIG", os.pathsep.join([str(a), str(b)]))
    seen = opens(a, b)
    backend = KubernetesBackend(BackendSettings())
    asyncio.run(backend.connect())
    try:
        assert {p: len(t) for p, t in seen.items()} == {str(a): 1, str(b): 1}
        asking = threading.current_thread().name
        assert [(c.name, c.current) for c in backend.contexts()] == [
            ("one", True), ("two", False)]
        backend.conn.loaded.catalog.wait()
        assert {p: len(t) for p, t in seen.items()} == {str(a): 1, str(b): 1}

        # an edit shows on the next look; the file is parsed in the background
        add_context(b, "three", "test", "limited")
        assert [c.name for c in backend.contexts()] == ["one", "two"]  # at once, from memory
        backend.conn.loaded.catalog.wait()
        assert [c.name for c in backend.contexts()] == ["one", "two", "three"]
        assert len(seen[str(a)]) == 1 and len(seen[str(b)]) == 2
        assert asking not in seen[str(a)] + seen[str(b)][1:]  # never on the asking thread

        info = asyncio.run(backend.use_context("three"))
        assert (info.context, info.user) == ("three", "limited")
        assert [(c.name, c.current) for c in backend.contexts()][2] == ("three", True)
    finally:
        asyncio.run(backend.close())
