"""install.sh: its flags, the scripts it hands the tool, its record, and a real install and
uninstall into a temporary HOME.

The real install runs offline: pip takes every wheel from a wheelhouse this module packs from
the distributions the running environment already has (the closure of pyproject.toml's
dependencies; ``./install.sh --dev`` adds setuptools>=77, the build backend), so nothing is
downloaded. The k3s install itself cannot run here (no systemd, no k3s download): ``--k3s``
is checked through ``--dry-run`` (the script it would run, validated against the provision
action's request model) and through its refusal on a machine without systemd.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.tools import require_tool

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "install.sh"
PASSWORD = "pw-never-shown-7d1c"


def _env(home: Path, **extra: str) -> dict[str, str]:
    """A temporary HOME and XDG dirs; no pip config, index or password from the caller."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "XDG_", "MLOPS_TUI_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"),
               PATH=f"{home / '.local/bin'}:{env.get('PATH', '/usr/bin:/bin')}",
               PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.update(extra)
    return env


def _install(home: Path, *args: str, timeout: float = 60, **env: str
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], env=_env(home, **env), text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _script_shown(output: str) -> dict:
    """The step script install.sh printed (the lines it prefixes with ``  | ``)."""
    lines = [line[4:] for line in output.splitlines() if line.startswith("  | ")]
    assert lines, output
    return yaml.safe_load("\n".join(lines))


def _request_model(action: str):
    """The action's request model, once the action exists (the provisioning helpers add it)."""
    from mlops_tui.backends.actions import ACTIONS
    spec = ACTIONS.get(action)
    return spec.request if spec is not None else None


def _check_with_the_tool(output: str, tmp_path: Path) -> None:
    """``mlops-tui --script FILE --dry-run`` (the loader and schema checks) on the script."""
    script = tmp_path / "shown.yaml"
    script.write_text("\n".join(line[4:] for line in output.splitlines()
                                if line.startswith("  | ")) + "\n")
    tool = Path(sys.executable).with_name("mlops-tui")
    result = subprocess.run([str(tool), "--script", str(script), "--dry-run"], text=True,
                            capture_output=True, timeout=60, env=_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def _record(home: Path) -> Path:
    return home / "state" / "mlops-tui" / "install.json"


def _flags_in_source() -> set[str]:
    """Every option the parser's case arms accept."""
    text = SCRIPT.read_text()
    loop = text[text.index("while [ $# -gt 0 ]"):text.index("\ndone\n")]
    return {flag for arm in re.findall(r"^\s+(-[-\w|]+)\)", loop, re.M)
            for flag in arm.split("|")}


def test_shellcheck_clean() -> None:
    result = subprocess.run([require_tool("shellcheck"), str(SCRIPT)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout


def test_help_lists_every_flag(tmp_path: Path) -> None:
    result = _install(tmp_path, "--help")
    assert result.returncode == 0, result.stderr
    flags = _flags_in_source()
    assert {"--k3s", "--gpu", "--monitoring", "--airgap", "--cluster", "--uninstall",
            "--purge-cache", "--dry-run", "--dev", "--no-servers", "--python"} <= flags
    for flag in flags:
        assert re.search(rf"(^|[ ,]){re.escape(flag)}\b", result.stdout, re.M), flag
    assert "MLOPS_TUI_SUDO_PASSWORD" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--bogus"], "unknown option --bogus"),
    (["--gpu"], "--gpu needs --k3s"),
    (["--airgap", "/tmp"], "--airgap needs --k3s"),
    (["--k3s", "--cluster"], "--cluster needs a value"),
    (["--k3s", "--cluster", "Not_A_Name"], "is not a valid name"),
    (["--k3s", "--airgap", "/nonexistent/bundle"], "is not a directory"),
    (["--uninstall", "--k3s"], "do not go together"),
    (["--purge-cache"], "--purge-cache needs --uninstall"),
])
def test_usage_errors_exit_2_before_anything_runs(tmp_path: Path, args: list[str],
                                                  message: str) -> None:
    result = _install(tmp_path, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "==>" not in result.stdout  # not a single step started
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_k3s_dry_run_prints_the_provision_script(tmp_path: Path) -> None:
    bundle = tmp_path / "air gap bundle"  # a space: the path must survive quoting
    bundle.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    result = _install(home, "--k3s", "--gpu", "--monitoring", "--cluster", "lab",
                      "--airgap", str(bundle), "--dry-run")
    assert result.returncode == 0, result.stderr
    script = _script_shown(result.stdout)
    assert list(script) == ["steps"] and len(script["steps"]) == 1
    assert script["steps"][0]["timeout"] == "1h"  # past the 10m a step gets by default
    request = script["steps"][0]["provision"]
    assert request == {"cluster": "lab", "path": "k3s-local", "gpu": True, "monitoring": True,
                       "airgap": str(bundle)}
    model = _request_model("provision")
    if model is not None:  # and the tool's own script loader takes the file as written
        model.model_validate(request)
        _check_with_the_tool(result.stdout, tmp_path)
    assert re.search(r"would run: \S+/mlops-tui/venv/bin/mlops-tui --script \S+\.yaml",
                     result.stdout)
    assert "mlops-tui --context lab" in result.stdout
    assert sorted(p.name for p in home.iterdir()) == []  # a dry run writes nothing

    plain = _script_shown(_install(home, "--k3s", "--dry-run").stdout)["steps"][0]
    assert plain["provision"] == {"cluster": "local", "path": "k3s-local", "gpu": False,
                                  "monitoring": False, "airgap": None}
    if model is not None:
        _plan_with_the_tool(plain, tmp_path)


def _plan_with_the_tool(step: dict, tmp_path: Path) -> None:
    """The step install.sh runs, with plan_only: the real action plans k3s on this machine
    (nothing is connected, installed or written)."""
    step["provision"]["plan_only"] = True
    script = tmp_path / "plan.yaml"
    script.write_text(yaml.safe_dump({"steps": [step]}))
    home = tmp_path / "plan-home"
    home.mkdir()
    tool = Path(sys.executable).with_name("mlops-tui")
    result = subprocess.run([str(tool), "--script", str(script), "-o", "json"], text=True,
                            capture_output=True, timeout=120, env=_env(home))
    assert result.returncode == 0, result.stdout + result.stderr
    last = json.loads(result.stdout.strip().splitlines()[-1])
    planned = [s["id"] for s in last["data"]["plan"]]
    assert planned[:3] == ["preflight", "prerequisites", "k3s-server"]
    assert "monitoring" in planned
    assert not (home / "state" / "mlops-tui" / "clusters").exists()


@pytest.mark.skipif(Path("/run/systemd/system").is_dir(),
                    reason="this machine runs systemd: --k3s would really install k3s")
def test_k3s_without_systemd_is_refused_before_anything_is_installed(tmp_path: Path) -> None:
    result = _install(tmp_path, "--k3s")
    assert result.returncode == 2
    assert "--k3s needs systemd" in result.stderr
    assert "k3s-ssh" in result.stderr  # what to do instead
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _fake_install(home: Path, *, cluster_phase: str | None) -> dict[str, Path]:
    """What an earlier install.sh left: a venv whose ``mlops-tui`` is a stand-in, a link to
    it, and a record naming them and the cluster ``lab``; plus things it did not make.

    The stand-in tool records its arguments, its script and whether it got the password:
    the real one would run reset.yml on this machine (the provisioning tests run the real
    destroy in check mode against sshd hosts)."""
    venv = home / "data" / "mlops-tui" / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    calls = home / "calls.log"
    tool = venv / "bin" / "mlops-tui"
    tool.write_text("#!/bin/sh\n"
                    f'{{ echo "argv: $*"; echo "password: ${{MLOPS_TUI_SUDO_PASSWORD:+set}}";'
                    f' cat "$2"; }} >>"{calls}"\n')
    tool.chmod(0o755)
    link = home / ".local" / "bin" / "mlops-tui"
    link.parent.mkdir(parents=True)
    link.symlink_to(tool)
    other_tool = link.parent / "kubectl"
    other_tool.write_text("#!/bin/sh\n")
    kubeconfig = home / ".kube" / "config"
    kubeconfig.parent.mkdir()
    kubeconfig.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n")
    dev_venv = home / "checkout" / ".venv"
    dev_venv.mkdir(parents=True)
    (dev_venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    if cluster_phase is not None:
        state = home / "state" / "mlops-tui" / "clusters" / "lab" / "state.json"
        state.parent.mkdir(parents=True)
        state.write_text(json.dumps({"cluster": "lab", "phase": cluster_phase,
                                     "context": "lab"}))
    items = [{"what": "venv", "where": str(venv), "venv": str(venv)},
             {"what": "link", "where": str(link), "venv": str(venv)},
             {"what": "k3s-cluster", "where": "lab", "venv": str(venv)},
             {"what": "venv", "where": str(dev_venv), "venv": str(dev_venv)}]
    _record(home).parent.mkdir(parents=True, exist_ok=True)
    _record(home).write_text(json.dumps({"schema_version": 1, "items": items}))
    return {"venv": venv, "link": link, "other_tool": other_tool, "kubeconfig": kubeconfig,
            "dev_venv": dev_venv, "calls": calls}


def test_uninstall_dry_run_lists_only_what_the_record_names(tmp_path: Path) -> None:
    made = _fake_install(tmp_path, cluster_phase="ready")
    result = _install(tmp_path, "--uninstall", "--dry-run",
                      MLOPS_TUI_SUDO_PASSWORD=PASSWORD)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"venv: {made['venv']}" in out and f"link: {made['link']}" in out
    assert "k3s-cluster: lab" in out
    assert str(made["dev_venv"]) not in out  # another venv's record
    assert "kubectl" not in out and ".kube" not in out.replace("~/.kube/config", "")
    destroy = _script_shown(out)["steps"][0]["destroy"]
    assert destroy == {"cluster": "lab", "confirm": "lab"}
    model = _request_model("destroy")
    if model is not None:
        model.model_validate(destroy)
        _check_with_the_tool(out, tmp_path)
    assert f"would run: rm -f {made['link']}" in out
    assert f"would run: rm -rf {made['venv']}" in out
    assert PASSWORD not in out + result.stderr
    assert made["venv"].exists() and made["link"].is_symlink() and not made["calls"].exists()


def test_uninstall_destroys_the_cluster_then_removes_only_what_it_recorded(
        tmp_path: Path) -> None:
    made = _fake_install(tmp_path, cluster_phase="ready")
    result = _install(tmp_path, "--uninstall", MLOPS_TUI_SUDO_PASSWORD=PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = made["calls"].read_text()
    assert calls.startswith("argv: --script ")
    assert "password: set" in calls  # in the tool's environment only ...
    assert PASSWORD not in calls + result.stdout + result.stderr  # ... never on a line
    assert 'destroy: {"cluster": "lab", "confirm": "lab"}' in calls
    assert not made["venv"].exists() and not made["link"].is_symlink()
    assert made["other_tool"].exists() and made["kubeconfig"].exists()
    assert made["dev_venv"].exists()
    record = json.loads(_record(tmp_path).read_text())
    assert [i["where"] for i in record["items"]] == [str(made["dev_venv"])]

    again = _install(tmp_path, "--uninstall")  # idempotent: nothing left for this venv
    assert again.returncode == 0 and "nothing to uninstall" in again.stdout

    dev = _install(tmp_path, "--uninstall", "--dev", "--dry-run")
    assert "nothing to uninstall" in dev.stdout  # --dev means this checkout's ./.venv


def test_uninstall_keeps_what_is_no_longer_ours(tmp_path: Path) -> None:
    made = _fake_install(tmp_path, cluster_phase=None)  # the cluster never got a state
    made["link"].unlink()
    made["link"].symlink_to("/usr/bin/true")  # replaced by someone else since
    result = _install(tmp_path, "--uninstall")
    assert result.returncode == 0, result.stderr
    assert "nothing to destroy" in result.stdout and not made["calls"].exists()
    assert "left as is" in result.stdout and made["link"].is_symlink()
    assert not made["venv"].exists()


def _closure(requirements: list[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions ``requirements`` need, transitively (extras followed)."""
    found: dict[str, metadata.Distribution] = {}
    visited: set[tuple[str, tuple[str, ...]]] = set()
    todo = [(Requirement(text), ("",)) for text in requirements]
    while todo:
        req, extras = todo.pop()
        if req.marker is not None and not any(req.marker.evaluate({"extra": e})
                                              for e in extras):
            continue
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if (key, tuple(sorted(req.extras))) in visited:
            continue
        visited.add((key, tuple(sorted(req.extras))))
        found[key] = dist = found.get(key) or metadata.distribution(req.name)
        todo += [(Requirement(r), ("", *req.extras)) for r in dist.requires or []]
    return found


def _repack(dist: metadata.Distribution, out: Path) -> None:
    """A wheel of an installed distribution, from the files its RECORD lists (scripts under
    bin/ are left out: pip writes them again from the entry points)."""
    tags = [line.split(":", 1)[1].strip() for line in (dist.read_text("WHEEL") or "").splitlines()
            if line.startswith("Tag:")]
    assert tags, f"{dist.metadata['Name']} was not installed from a wheel"
    parts = [sorted({tag.split("-")[i] for tag in tags}) for i in range(3)]
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    wheel = out / f"{name}-{dist.version}-{'-'.join('.'.join(p) for p in parts)}.whl"
    files = [f for f in dist.files or [] if not str(f).startswith("..")
             and "__pycache__" not in f.parts
             and f.name not in ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")]
    info = next(str(f.parent) for f in files if f.name == "METADATA")
    lines = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        for file in files:
            data = Path(file.locate()).read_bytes()
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            lines.append(f"{file.as_posix()},sha256={digest.decode()},{len(data)}")
            archive.writestr(file.as_posix(), data)
        archive.writestr(f"{info}/RECORD", "\n".join([*lines, f"{info}/RECORD,,"]) + "\n")


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of everything the plain install needs, packed from this environment."""
    if metadata.version("setuptools").split(".")[0].isdigit() and int(
            metadata.version("setuptools").split(".")[0]) < 77:
        pytest.skip("the offline install builds mlops-tui with setuptools>=77, and this "
                    "environment has an older one (./install.sh --dev installs it)")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = [*project["project"]["dependencies"], *project["build-system"]["requires"], "pip"]
    out = tmp_path_factory.mktemp("wheelhouse")
    for dist in _closure(needed).values():
        _repack(dist, out)
    return out


def test_real_install_then_uninstall_into_a_temporary_home(tmp_path: Path,
                                                           wheelhouse: Path) -> None:
    # a copy of the checkout: pip builds in the source tree (build/, *.egg-info)
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "snapshots"))
    home = tmp_path / "home"
    home.mkdir()
    install = ["bash", str(source / "install.sh"), "--python", sys.executable]
    env = _env(home, PIP_FIND_LINKS=str(wheelhouse))

    result = subprocess.run(install, env=env, text=True, capture_output=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    version = subprocess.run(["mlops-tui", "--version"], env=env, text=True,
                             capture_output=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("mlops-tui ")
    link = home / ".local" / "bin" / "mlops-tui"
    assert shutil.which("mlops-tui", path=env["PATH"]) == str(link)
    record = json.loads(_record(home).read_text())
    assert {(i["what"], i["where"]) for i in record["items"]} == {
        ("venv", str(home / "data" / "mlops-tui" / "venv")), ("link", str(link))}

    again = subprocess.run(install, env=env, text=True, capture_output=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert "already there" in again.stdout and "already linked" in again.stdout

    gone = subprocess.run([*install, "--uninstall"], env=env, text=True,
                          capture_output=True, timeout=120)
    assert gone.returncode == 0, gone.stderr
    assert not (home / "data" / "mlops-tui" / "venv").exists()
    assert not link.is_symlink() and not _record(home).exists()


def test_a_damaged_record_removes_nothing(tmp_path: Path) -> None:
    made = _fake_install(tmp_path, cluster_phase=None)
    _record(tmp_path).write_text("{not json")
    result = _install(tmp_path, "--uninstall")
    assert result.returncode == 2
    assert "is not an install record" in result.stderr
    assert made["venv"].exists() and made["link"].is_symlink()


def test_purge_cache_removes_the_build_cache_only_when_asked(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "mlops-tui"
    (cache / "kube-v1.20.2").mkdir(parents=True)
    kept = _install(tmp_path, "--uninstall")
    assert kept.returncode == 0 and cache.exists()
    purged = _install(tmp_path, "--uninstall", "--purge-cache")
    assert purged.returncode == 0, purged.stderr
    assert not cache.exists() and (tmp_path / "cache").exists()
