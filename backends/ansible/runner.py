"""Run a playbook with ansible-runner and stream its events to asyncio.

Runner works in a thread (it drives ``ansible-playbook`` through pexpect); its
``event_handler`` maps each event (:mod:`.events`) and hands it to the loop with
``call_soon_threadsafe``. Closing or cancelling the stream makes ``cancel_callback`` answer
True: runner kills the playbook's process group, the thread is joined, and what is left of
the run's process tree (Ansible's workers start sessions of their own) is killed by PID
before the generator returns.

Secrets: the become password is answered at ansible-playbook's ``BECOME password:`` prompt
(``--ask-become-pass``) through pexpect: never in a file, the argv, an environment variable
or an event. The playbook's environment is this process's minus anything not on an
allow-list (a ``MLOPS_TUI_SUDO_PASSWORD`` or cloud keys never reach Ansible, nor the
``command`` file runner writes under ``artifacts/``).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

from mlops_tui.backends.ansible import playbooks
from mlops_tui.backends.ansible.events import PlaybookEvent, PlaybookResult, clean, to_event
from mlops_tui.backends.ansible.processes import freeze, kill_left
from mlops_tui.backends.ansible.tasks import count_tasks
from mlops_tui.backends.errors import ConfigError

#: ansible-playbook's become prompt (the only prompt answered)
BECOME_PROMPT = r"^BECOME password.*:\s*?$"
#: runs kept under ``workdir/ansible`` (older ones are removed)
KEEP_RUNS = 5
#: how long a cancelled run may take to stop (runner kills with SIGKILL within ~1 s)
JOIN_TIMEOUT = 30.0
#: inherited variables the playbook's environment keeps (all others are dropped)
_INHERITED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "SHELL",
              "TMPDIR", "SSH_AUTH_SOCK", "http_proxy", "https_proxy", "no_proxy",
              "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "VIRTUAL_ENV")
_UNIX_SOCKET_ROOM = 60  # ssh's control socket: directory + "/" + 40 hex chars < 108 bytes


def _resolve_playbook(playbook: str | Path) -> Path:
    if isinstance(playbook, str) and "/" not in playbook:
        return playbooks.path(playbook)
    found = Path(playbook).expanduser()
    if not found.is_file():
        raise ConfigError(f"playbook {str(playbook)[:120]!r} not found")
    return found.resolve()


def _private_dir(workdir: Path) -> tuple[Path, str]:
    """A fresh run directory (0700) under ``workdir/ansible``, older runs pruned."""
    base = Path(workdir).expanduser() / "ansible"
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    runs = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in runs[: max(0, len(runs) - KEEP_RUNS + 1)]:
        shutil.rmtree(old, ignore_errors=True)
    ident = time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)
    private = base / ident
    private.mkdir(mode=0o700)
    for sub in ("env", "inventory", "home", "tmp", "remote-tmp"):
        (private / sub).mkdir(mode=0o700)
    return private, ident


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _all_local(inventory: Mapping[str, Any]) -> bool:
    hosts: list[dict[str, Any]] = []

    def walk(group: Mapping[str, Any]) -> None:
        hosts.extend(v or {} for v in (group.get("hosts") or {}).values())
        for child in (group.get("children") or {}).values():
            walk(child or {})

    walk(inventory.get("all", {}))
    return bool(hosts) and all(h.get("ansible_connection") == "local" for h in hosts)


def environment(private: Path, *, local: bool, control_dir: Path) -> dict[str, str]:
    """The playbook's environment variables (beyond the allow-listed inherited ones)."""
    env = {
        # runner starts ``ansible-playbook`` by name: this Python's bin first
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "ANSIBLE_CONFIG": str(private / "ansible.cfg"),  # ours only: no cwd / ~ / /etc config
        "ANSIBLE_HOME": str(private / "home"),
        "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir),
        # without a short ControlPersist, ssh masters outlive the run by a minute
        "ANSIBLE_SSH_ARGS": "-o ControlMaster=auto -o ControlPersist=2s",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_ROLES_PATH": str(playbooks.root() / "roles"),
    }
    if local:  # "remote" is this machine: keep Ansible's temp files in the run dir
        env["ANSIBLE_REMOTE_TEMP"] = str(private / "remote-tmp")
    return env


def _scrub(env: dict[str, str], ours: Mapping[str, str]) -> dict[str, str]:
    """Inherited variables only from the allow-list (LC_* too); ours and runner's kept."""
    kept = {}
    for key, value in env.items():
        inherited = key in os.environ and os.environ[key] == value and key not in ours
        if not inherited or key in _INHERITED or key.startswith("LC_"):
            kept[key] = value
    return kept


def _wipe_env(private: Path) -> None:
    for item in (private / "env").iterdir():
        item.unlink(missing_ok=True)
    (private / "inventory" / "hosts.json").unlink(missing_ok=True)


async def run_playbook(playbook: str | Path, *, inventory: Mapping[str, Any],
                       extravars: Mapping[str, Any] | None = None, workdir: Path,
                       check: bool = False, become_password: str | None = None,
                       tags: Iterable[str] = (), limit: str | None = None,
                       timeout: float | None = None) -> AsyncIterator[PlaybookEvent]:
    """Run one playbook; stream its events, the last one a ``stats`` event carrying the
    :class:`PlaybookResult`.

    Args:
        playbook: a shipped playbook's name ("k3s.yml", see ``playbooks.NAMES``) or a path.
        inventory: from :func:`.inventory.build`.
        extravars: variables for the playbook (never a secret: they are written to the run
            dir while it runs).
        workdir: the cluster's state dir; the run's private dir is ``workdir/ansible/<id>``.
        check: Ansible's check mode (nothing on the hosts is changed).
        become_password: answered at the become prompt; ``None``: no password asked.
        tags: only tasks with these tags.
        limit: only these hosts (Ansible's ``--limit`` pattern).
        timeout: seconds before the run is stopped (``status`` "timeout").

    Yields:
        :class:`PlaybookEvent` s; ``task`` events carry ``fraction`` once the tasks are
        counted (``ansible-playbook --list-tasks``, run alongside).

    Raises:
        ConfigError: an unknown playbook name or a missing file.
    """
    book = _resolve_playbook(playbook)
    private, ident = _private_dir(workdir)
    _write_private(private / "ansible.cfg", "[defaults]\n")
    _write_private(private / "inventory" / "hosts.json", json.dumps(inventory))
    _write_private(private / "env" / "extravars", json.dumps(dict(extravars or {})))
    control_dir = private / "cp"
    if len(str(control_dir)) > _UNIX_SOCKET_ROOM:  # a deep workdir: a short dir in /tmp
        control_dir = Path(tempfile.mkdtemp(prefix="mlt-cp-"))
    else:
        control_dir.mkdir(mode=0o700)
    ours = environment(private, local=_all_local(inventory), control_dir=control_dir)
    cmdline = ["--check"] if check else []
    tag_list = ",".join(tags)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[PlaybookEvent | None] = asyncio.Queue()
    cancel = threading.Event()
    recap: dict[str, Any] = {}
    last_lines: deque[str] = deque(maxlen=3)

    def post(item: PlaybookEvent | None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the loop closed under a run being cancelled
            pass

    def handle(raw: dict[str, Any]) -> bool:
        event = to_event(raw)
        if event is None:
            return False
        if event.kind == "stats":
            recap["stats"] = event.data
        else:
            if event.kind in ("failed", "unreachable", "output"):
                last_lines.append(event.message if event.kind == "output"
                                  else f"{event.host}: {event.task}: {event.message}")
            if event.kind in ("failed", "unreachable") and "error" not in recap:
                recap["error"] = f"{event.host}: {event.task}: {event.message}"
            post(event)
        return False  # nothing under artifacts/job_events: events live in the stream only

    import ansible_runner.interface as runner_interface  # ~0.3 s: only when a run starts

    kwargs: dict[str, Any] = dict(
        private_data_dir=str(private), ident=ident, playbook=str(book),
        inventory=str(private / "inventory" / "hosts.json"), envvars=ours, quiet=True,
        suppress_env_files=True, tags=tag_list or None, limit=limit,
        settings={"pexpect_timeout": 0.5, "suppress_ansible_output": True,
                  **({"job_timeout": int(timeout)} if timeout else {})},
        event_handler=handle, cancel_callback=cancel.is_set)
    if become_password is not None:
        cmdline.append("--ask-become-pass")
        kwargs["passwords"] = {BECOME_PROMPT: become_password}
    if cmdline:
        kwargs["cmdline"] = " ".join(cmdline)
    thread: threading.Thread | None = None
    counting: asyncio.Future[int] | None = None
    try:
        try:
            runner = await asyncio.to_thread(runner_interface.init_runner, **kwargs)
        except Exception as exc:  # runner's configuration checks: one line, no traceback
            raise ConfigError(clean(f"ansible-runner could not start: {exc}")) from None
        runner.config.env = _scrub(runner.config.env, ours)

        def work() -> None:
            try:
                runner.run()
            except Exception as exc:  # runner's own failure (not the playbook's): say it
                recap.setdefault("error", clean(f"ansible-runner: {exc}"))
            finally:
                post(None)

        thread = threading.Thread(target=work, name=f"ansible-{ident}", daemon=True)
        counting = asyncio.ensure_future(count_tasks(
            book, inventory=private / "inventory" / "hosts.json",
            extravars=private / "env" / "extravars", env=_scrub({**os.environ, **ours}, ours),
            tags=tag_list, limit=limit))
        thread.start()
        started = 0
        while (event := await queue.get()) is not None:
            if event.kind == "task":
                started += 1
                total = counting.result() if counting.done() and not counting.exception() else 0
                if total:
                    event = PlaybookEvent("task", task=event.task, message=event.message,
                                          fraction=min(0.99, (started - 1) / total))
            yield event
        await asyncio.to_thread(thread.join, JOIN_TIMEOUT)
        rc = runner.rc if isinstance(runner.rc, int) else 1
        status = str(runner.status or "failed")
        error = recap.get("error", "")
        if not error and (rc != 0 or status != "successful"):
            error = " | ".join(last_lines) or f"ansible-playbook ended with {status} (rc {rc})"
        yield PlaybookEvent("stats", message=status,
                            data=PlaybookResult(rc, status, recap.get("stats", {}), error),
                            fraction=1.0)
    finally:
        if counting is not None:
            counting.cancel()
        if thread is not None and thread.is_alive():
            tree = freeze(str(private))  # before runner's kill orphans the workers
            cancel.set()  # a closed or cancelled stream stops the run (runner polls this)
            await asyncio.shield(asyncio.to_thread(thread.join, JOIN_TIMEOUT))
            kill_left(tree)
        cancel.set()
        _wipe_env(private)
        if control_dir.parent != private:
            shutil.rmtree(control_dir, ignore_errors=True)
