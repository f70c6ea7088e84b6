"""The cluster state store: real files in tmp_path, real processes for the lock and for a
kill -9 in the middle of writes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.backends.provisioning.state import SCHEMA_VERSION, ClusterState, StateStore

ROOT = Path(__file__).resolve().parents[2]
LABELS = st.from_regex(r"\A[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _state(cluster: str = "lab", **fields) -> ClusterState:
    return ClusterState(cluster=cluster, path="k3s-ssh", **fields)


def test_save_and_load_round_trip_with_private_modes(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "clusters")
    state = _state(hosts=[HostSpec(address="10.0.0.5", user="ubuntu", key="~/.ssh/id_ed25519",
                                   roles=["server"])],
                   options={"gpu": True, "versions": {"k3s": "v1.31.4+k3s1"}},
                   scratch={"server_url": "https://10.0.0.5:6443"})
    before = state.updated
    store.save(state)
    assert state.updated >= before
    loaded = store.load("lab")
    assert loaded == state
    assert _mode(tmp_path / "clusters") == 0o700
    assert _mode(tmp_path / "clusters" / "lab") == 0o700
    assert _mode(tmp_path / "clusters" / "lab" / "state.json") == 0o600
    document = json.loads((tmp_path / "clusters" / "lab" / "state.json").read_text())
    assert document["schema_version"] == SCHEMA_VERSION == 1
    # nothing but the state is left behind (no temp files)
    assert sorted(p.name for p in (tmp_path / "clusters" / "lab").iterdir()) == ["state.json"]


def test_a_loose_root_dir_is_tightened(tmp_path: Path) -> None:
    root = tmp_path / "clusters"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    StateStore(root).save(_state())
    assert _mode(root) == 0o700


def test_default_root_honours_xdg_state_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert StateStore().root == tmp_path / "state" / "mlops-tui" / "clusters"


def test_missing_state_is_none_and_list_is_empty(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "nowhere")
    assert store.load("lab") is None
    assert store.list() == []


@pytest.mark.parametrize("name", ["", "Lab", "../etc", "a/b", "-lab", "lab-", "a" * 64,
                                  "lab.example", "la b"])
def test_invalid_cluster_names_are_config_errors(tmp_path: Path, name: str) -> None:
    store = StateStore(tmp_path)
    for call in (store.load, store.dir, store.remove):
        with pytest.raises(ConfigError, match="invalid cluster name"):
            call(name)
    with pytest.raises(ValueError):
        _state(name)
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=40, deadline=None)
@given(name=LABELS)
def test_every_dns_label_round_trips(tmp_path_factory, name: str) -> None:
    store = StateStore(tmp_path_factory.mktemp("labels"))
    store.save(_state(name))
    assert store.load(name).cluster == name
    assert [s.cluster for s in store.list()] == [name]


def test_a_state_from_a_newer_schema_is_refused_and_kept(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_state())
    path = tmp_path / "lab" / "state.json"
    document = json.loads(path.read_text())
    document.update(schema_version=2, future_field=[1])
    path.write_text(json.dumps(document))
    for aside in (False, True):
        with pytest.raises(ConfigError, match=r"written by a newer mlops-tui \(schema 2\); upgrade"):
            store.load("lab", set_aside_corrupt=aside)
    assert json.loads(path.read_text())["schema_version"] == 2


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[1, 2]", b"null",
                                     b'{"schema_version": 1, "cluster": "lab"}',
                                     b'{"schema_version": 1, "cluster": "other", "path": "x"}'])
def test_garbage_is_a_config_error_naming_the_file_and_kept(tmp_path: Path, content: bytes) -> None:
    store = StateStore(tmp_path)
    (tmp_path / "lab").mkdir()
    path = tmp_path / "lab" / "state.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as caught:
        store.load("lab")
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    assert "without resume" in message
    assert path.read_bytes() == content
    # the user re-applies: the bad file is set aside, never lost
    assert store.load("lab", set_aside_corrupt=True) is None
    assert not path.exists()
    [aside] = (tmp_path / "lab").glob("state.json.corrupt-*")
    assert aside.read_bytes() == content


def test_list_leaves_out_unreadable_states(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_state("b"))
    store.save(_state("a"))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "state.json").write_text("{")
    (tmp_path / "not a cluster").mkdir()
    assert [s.cluster for s in store.list()] == ["a", "b"]


@pytest.mark.parametrize("where,values", [
    ("options", {"sudo_password": "hunter2"}),
    ("options", {"ssh": {"Passphrase": "hunter2"}}),
    ("scratch", {"join-token": "K10abc::server:hunter2"}),
    ("scratch", {"nodes": [{"client_secret": "hunter2"}]}),
    ("scratch", {"private_key": "hunter2"}),
    ("scratch", {"key": "-----BEGIN OPENSSH PRIVATE KEY-----\nhunter2"}),
])
def test_secret_looking_values_are_refused_without_echoing_them(tmp_path: Path, where: str,
                                                                values: dict) -> None:
    with pytest.raises(ValueError) as at_build:
        _state(**{where: values})
    assert "hunter2" not in str(at_build.value)
    # a step may mutate the dict after the model was built: save checks again
    store = StateStore(tmp_path)
    state = _state()
    getattr(state, where).update(values)
    with pytest.raises(ValueError) as at_save:
        store.save(state)
    assert "hunter2" not in str(at_save.value)
    assert not (tmp_path / "lab" / "state.json").exists()


def test_values_that_are_not_json_are_refused(tmp_path: Path) -> None:
    state = _state()
    state.scratch["when"] = object()
    with pytest.raises(ValueError, match=r"scratch.when is a object, not a JSON value"):
        StateStore(tmp_path).save(state)


def test_status_names_the_next_step(tmp_path: Path) -> None:
    state = _state(completed=["preflight", "prerequisites"], phase="failed",
                   last_error="k3s-server: host 10.0.0.5 unreachable",
                   hosts=[HostSpec(address="10.0.0.5", name="gpu-1")])
    status = state.status(["preflight", "prerequisites", "k3s-server", "gpu"])
    assert status.next_step == "k3s-server" and status.phase == "failed"
    assert status.hosts == ("gpu-1",) and status.completed == ("preflight", "prerequisites")
    assert _state(completed=["a"]).status(["a"]).next_step is None


# -- real processes ------------------------------------------------------------------------

def _child(code: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _end(child: subprocess.Popen) -> None:
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)


HOLD_LOCK = """
    import sys, time
    from pathlib import Path
    from mlops_tui.backends.provisioning.state import StateStore
    with StateStore(Path(sys.argv[1])).lock("lab"):
        print("locked", flush=True)
        time.sleep(60)
"""


def test_a_lock_held_by_another_process_names_its_pid(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    child = _child(HOLD_LOCK, str(tmp_path))
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError) as caught:
            with store.lock("lab"):
                pass
        assert str(caught.value) == (f"cluster 'lab' is being applied by another mlops-tui "
                                     f"(pid {child.pid})")
        with pytest.raises(ConfigError, match="being applied"):
            store.remove("lab")
        # kill -9: the kernel releases the flock, no stale lock is left
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
        with store.lock("lab"):
            assert (tmp_path / "lab" / "lock").read_text().strip() == str(os.getpid())
        assert (tmp_path / "lab" / "lock").read_text() == ""
        assert _mode(tmp_path / "lab" / "lock") == 0o600
    finally:
        _end(child)


def test_the_same_process_cannot_take_the_lock_twice(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    with store.lock("lab"):
        with pytest.raises(ConfigError, match="being applied by this mlops-tui"):
            with store.lock("lab"):
                pass
    with store.lock("lab"):  # released on exit
        pass


def test_remove_deletes_the_cluster_dir(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save(_state())
    (store.dir("lab") / "ansible").mkdir()
    store.remove("lab")
    assert not (tmp_path / "lab").exists()
    store.remove("lab")  # nothing there: no error


SAVE_FOREVER = """
    import sys
    from pathlib import Path
    from mlops_tui.backends.provisioning.state import ClusterState, StateStore
    store = StateStore(Path(sys.argv[1]))
    state = ClusterState(cluster="lab", path="k3s-ssh")
    for i in range(1_000_000):
        state.completed = [f"step-{j}" for j in range(i % 50)]
        state.scratch = {"blob": "x" * (i % 7) * 20_000, "i": i}
        store.save(state)
        if i == 3:
            print("saving", flush=True)
"""


def test_kill_9_during_saves_leaves_a_whole_state(tmp_path: Path) -> None:
    """Atomic writes: whenever the writer dies, what is on disk is one whole state."""
    store = StateStore(tmp_path)
    for delay in (0.05, 0.13, 0.29):
        child = _child(SAVE_FOREVER, str(tmp_path))
        try:
            assert child.stdout.readline().strip() == "saving"
            time.sleep(delay)
        finally:
            _end(child)
        state = store.load("lab")
        assert state is not None
        assert len(state.completed) == state.scratch["i"] % 50
        assert len(state.scratch["blob"]) == (state.scratch["i"] % 7) * 20_000
