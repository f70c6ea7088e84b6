"""The kubeconfig merge: real files in tmp_path, property tests that every other entry is
kept, and the merged context used against the real kube-apiserver."""

from __future__ import annotations

import copy
import stat
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning import kubeconfig
from mlops_tui.backends.provisioning.kubeconfig import default_target, merge, remove


def k3s_yaml(server: str = "https://127.0.0.1:6443", cert: str = "Q0VSVA==") -> str:
    """What /etc/rancher/k3s/k3s.yaml looks like (every name is "default")."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "default", "cluster": {
            "certificate-authority-data": "Q0E=", "server": server}}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default", "preferences": {},
        "users": [{"name": "default", "user": {"client-certificate-data": cert,
                                               "client-key-data": "S0VZ"}}]})


def kubeadm_yaml(server: str = "https://10.0.0.5:6443") -> str:
    """What kubeadm's admin.conf looks like."""
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {
            "certificate-authority-data": "Q0E=", "server": server}}],
        "contexts": [{"name": "kubernetes-admin@kubernetes", "context": {
            "cluster": "kubernetes", "user": "kubernetes-admin"}}],
        "current-context": "kubernetes-admin@kubernetes",
        "users": [{"name": "kubernetes-admin", "user": {"client-certificate-data": "Qw==",
                                                        "client-key-data": "Sw=="}}]})


EXISTING = {
    "apiVersion": "v1", "kind": "Config", "preferences": {},
    "clusters": [{"name": "prod", "cluster": {"server": "https://prod:6443"}}],
    "users": [{"name": "me", "user": {"token": "abc"}}],
    "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "me",
                                              "namespace": "ml"}}],
    "current-context": "prod",
}


def write(path: Path, document: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def read(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def names(document: dict, section: str) -> list[str]:
    return [entry["name"] for entry in document.get(section) or []]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_merge_into_a_new_file_renames_and_selects_the_context(tmp_path: Path) -> None:
    target = tmp_path / "kube" / "config"
    result = merge(k3s_yaml(), name="lab", target=target)
    assert (result.context, result.path, result.backup, result.changed, result.note) == (
        "lab", target, None, True, "")
    document = read(target)
    assert names(document, "clusters") == names(document, "users") == ["lab"]
    assert document["contexts"] == [{"name": "lab", "context": {"cluster": "lab",
                                                                "user": "lab"}}]
    assert document["current-context"] == "lab"
    assert document["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert _mode(target) == 0o600 and _mode(target.parent) == 0o700
    assert sorted(p.name for p in target.parent.iterdir()) == ["config"]  # no lock, no temp


def test_merge_keeps_the_rest_backs_up_first_and_is_idempotent(tmp_path: Path) -> None:
    target = write(tmp_path / "config", EXISTING)
    original = target.read_bytes()
    result = merge(kubeadm_yaml(), name="gpu-lab", target=target)
    assert result.context == "gpu-lab" and result.changed
    assert result.backup is not None and result.backup.name.startswith("config.bak-")
    assert result.backup.read_bytes() == original and _mode(result.backup) == 0o600
    document = read(target)
    assert document["current-context"] == "prod"  # the user's choice is kept
    for section in ("clusters", "users", "contexts"):
        assert document[section][0] == EXISTING[section][0]
        assert names(document, section) == [EXISTING[section][0]["name"], "gpu-lab"]
    assert document["users"][1]["user"] == {"client-certificate-data": "Qw==",
                                            "client-key-data": "Sw=="}

    before = target.read_bytes()
    again = merge(kubeadm_yaml(), name="gpu-lab", target=target)
    assert (again.context, again.changed, again.backup) == ("gpu-lab", False, None)
    assert target.read_bytes() == before
    assert len(list(tmp_path.glob("config.bak-*"))) == 1


def test_a_name_taken_by_another_cluster_is_never_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "config"
    merge(k3s_yaml(server="https://10.0.0.1:6443"), name="lab", target=target)
    second = merge(k3s_yaml(server="https://10.0.0.2:6443"), name="lab", target=target)
    assert second.context == "lab-2" and second.changed
    assert "'lab' is taken" in second.note and "'lab-2'" in second.note
    third = merge(k3s_yaml(cert="b3RoZXI="), name="lab", target=target)  # other credentials
    assert third.context == "lab-3"
    document = read(target)
    assert names(document, "contexts") == ["lab", "lab-2", "lab-3"]
    assert document["clusters"][0]["cluster"]["server"] == "https://10.0.0.1:6443"
    assert document["current-context"] == "lab"
    # the same cluster again is found under its suffixed name
    assert merge(k3s_yaml(server="https://10.0.0.2:6443"), name="lab",
                 target=target).context == "lab-2"
    # a cluster entry of that name alone (another tool's) also counts as taken
    write(target, {**EXISTING, "clusters": [{"name": "edge", "cluster": {"server": "x"}}]})
    assert merge(k3s_yaml(), name="edge", target=target).context == "edge-2"


def test_kubeconfig_env_picks_the_file_kubectl_writes_to(tmp_path: Path, monkeypatch) -> None:
    first, second = tmp_path / "a", write(tmp_path / "b", EXISTING)
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    assert default_target() == second  # the first that exists
    write(first, EXISTING)
    assert default_target() == first
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'x'}:{tmp_path / 'y'}")
    assert default_target() == tmp_path / "y"  # none exists: the last one
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_target() == tmp_path / "home" / ".kube" / "config"
    assert merge(k3s_yaml(), name="lab").path == tmp_path / "home" / ".kube" / "config"


def test_a_symlinked_kubeconfig_stays_a_symlink(tmp_path: Path) -> None:
    real = write(tmp_path / "dotfiles" / "kubeconfig", EXISTING)
    link = tmp_path / "config"
    link.symlink_to(real)
    result = merge(k3s_yaml(), name="lab", target=link)
    assert link.is_symlink() and result.path == real
    assert "lab" in names(read(real), "contexts")


@pytest.mark.parametrize("content", ["clusters: [", "- just\n- a list\n", "clusters: 5\n",
                                     "contexts:\n- context: {}\n", "users:\n- name: u\n  user: 3\n"])
def test_a_garbage_kubeconfig_is_refused_and_left_untouched(tmp_path: Path,
                                                           content: str) -> None:
    target = tmp_path / "config"
    target.write_text(content + "\n# client-key-data: SECRETKEYMATERIAL\n")
    before = target.read_bytes()
    for call in (lambda: merge(k3s_yaml(), name="lab", target=target),
                 lambda: remove("lab", target=target)):
        with pytest.raises(ConfigError) as caught:
            call()
        message = str(caught.value)
        assert str(target) in message and "left as it is" in message
        assert "SECRETKEYMATERIAL" not in message and "\n" not in message
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config"]


def test_an_empty_existing_file_is_a_new_kubeconfig(tmp_path: Path) -> None:
    target = tmp_path / "config"
    target.write_text("")
    result = merge(k3s_yaml(), name="lab", target=target)
    assert result.backup is not None and read(target)["current-context"] == "lab"


@pytest.mark.parametrize("text,why", [
    ("{", "not usable"), ("[]", "not usable"),
    ("clusters: []\ncontexts: []\nusers: []\n", "no single context"),
    (yaml.safe_dump({"contexts": [{"name": "a", "context": {"cluster": "c", "user": "u"}}]}),
     "lacks its context's cluster"),
])
def test_an_unusable_incoming_kubeconfig_is_refused(tmp_path: Path, text: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        merge(text, name="lab", target=tmp_path / "config")
    assert not (tmp_path / "config").exists()


def test_an_invalid_cluster_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid cluster name"):
        merge(k3s_yaml(), name="Lab/x", target=tmp_path / "config")


def test_a_held_kubeconfig_lock_is_waited_for_then_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(kubeconfig, "_LOCK_WAIT_S", 0.2)
    target = write(tmp_path / "config", EXISTING)
    (tmp_path / "config.lock").write_text("")  # as client-go leaves it while writing
    with pytest.raises(ConfigError, match="another program is writing the kubeconfig"):
        merge(k3s_yaml(), name="lab", target=target)
    assert read(target) == EXISTING


def test_remove_takes_out_the_context_and_what_only_it_used(tmp_path: Path) -> None:
    target = tmp_path / "config"
    merge(k3s_yaml(), name="lab", target=target)
    document = read(target)
    document["contexts"].append({"name": "lab-admin", "context": {"cluster": "lab",
                                                                  "user": "other"}})
    write(target, document)
    assert remove("lab", target=target) == target
    [backup] = tmp_path.glob("config.bak-*")
    assert read(backup) == document and _mode(backup) == 0o600
    document = read(target)
    assert names(document, "contexts") == ["lab-admin"]
    assert names(document, "clusters") == ["lab"]  # still used by lab-admin
    assert names(document, "users") == []  # only lab used it
    assert document["current-context"] == ""  # it pointed at the removed context
    assert remove("lab", target=target) is None  # gone: nothing to do
    assert remove("lab", target=tmp_path / "missing") is None
    assert not (tmp_path / "missing").exists()


# -- properties: whatever the file held, a merge keeps it and adds one working context -----

NAME = st.from_regex(r"\A[a-z][a-z0-9-]{0,8}\Z")
SERVER = st.sampled_from(["https://10.0.0.1:6443", "https://10.0.0.2:6443", "https://h:443"])


@st.composite
def kubeconfigs(draw) -> dict:
    clusters = {n: {"server": draw(SERVER)} for n in draw(st.lists(NAME, max_size=4))}
    users = {n: {"token": draw(st.sampled_from(["a", "b"]))}
             for n in draw(st.lists(NAME, max_size=4))}
    contexts = {n: {"cluster": draw(st.sampled_from(sorted(clusters) or ["none"])),
                    "user": draw(st.sampled_from(sorted(users) or ["none"]))}
                for n in draw(st.lists(NAME, max_size=4))}
    document = {"apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": k, "cluster": v} for k, v in clusters.items()],
                "users": [{"name": k, "user": v} for k, v in users.items()],
                "contexts": [{"name": k, "context": v} for k, v in contexts.items()]}
    current = draw(st.one_of(st.none(), st.sampled_from(sorted(contexts) or ["x"])))
    if current is not None:
        document["current-context"] = current
    return document


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(existing=kubeconfigs(), name=NAME, server=SERVER)
def test_merge_keeps_every_other_entry(tmp_path_factory, existing: dict, name: str,
                                       server: str) -> None:
    target = write(tmp_path_factory.mktemp("kube") / "config", existing)
    before = copy.deepcopy(existing)
    result = merge(k3s_yaml(server=server), name=name, target=target)
    after = read(target)
    for section in ("clusters", "users", "contexts"):
        assert after[section][:len(before[section])] == before[section]
        added = after[section][len(before[section]):]
        assert [e["name"] for e in added] == ([result.context] if result.changed else [])
    if before.get("current-context"):
        assert after["current-context"] == before["current-context"]
    # the context it names leads to the incoming cluster and user
    context = next(c["context"] for c in after["contexts"] if c["name"] == result.context)
    cluster = next(c["cluster"] for c in after["clusters"] if c["name"] == context["cluster"])
    assert cluster["server"] == server
    # and the same merge again changes nothing
    again = merge(k3s_yaml(server=server), name=name, target=target)
    assert (again.context, again.changed) == (result.context, False)
    # remove undoes it, leaving the original entries
    if result.changed:
        remove(result.context, target=target)
        restored = read(target)
        for section in ("clusters", "users", "contexts"):
            assert restored[section] == before[section]


# -- the merged context works against a real kube-apiserver ----------------------------------

@pytest.mark.apiserver
def test_the_merged_context_reaches_the_real_apiserver(tmp_path: Path, control_plane) -> None:
    from kubernetes.client import VersionApi

    from mlops_tui.backends.kubernetes import config as kube_config

    admin = control_plane.admin_kubeconfig.read_text()
    target = write(tmp_path / "config", EXISTING)
    result = merge(admin, name="lab", target=target)
    loaded = kube_config.load(str(target), result.context, timeout=10)
    try:
        assert loaded.context == "lab" and loaded.cluster == "lab"
        assert VersionApi(loaded.api_client).get_code().major == "1"
    finally:
        loaded.api_client.close()
    assert {c.name for c in kube_config.list_contexts(str(target))} == {"prod", "lab"}
