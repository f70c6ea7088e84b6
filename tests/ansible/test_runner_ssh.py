"""run_playbook against a REAL sshd (tests/servers/sshd.py) with the real ansible-runner and
ansible-core: events stream, failures and unreachable hosts are reported, a cancelled run
stops, and the become password is answered at the prompt and seen nowhere else."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from mlops_tui.backends.ansible.events import PlaybookEvent
from mlops_tui.backends.ansible.inventory import build
from mlops_tui.backends.ansible.runner import run_playbook
from mlops_tui.backends.errors import ConfigError
from tests.ansible.conftest import HOST_PYTHON, all_text, host_of
from tests.cluster.controlplane import free_port

SAMPLE = Path(__file__).parent / "fixtures" / "sample.yml"


def _inventory(sshd, **host_args) -> dict:
    return build([host_of(sshd, **host_args)], known_hosts=sshd.known_hosts,
                 python_interpreter=HOST_PYTHON)


async def _collect(stream) -> list[PlaybookEvent]:
    return [event async for event in stream]


def _playbook(tmp_path: Path, text: str) -> Path:
    book = tmp_path / "book.yml"
    book.write_text(text)
    return book


async def test_a_playbook_streams_its_events(sshd_host, tmp_path: Path) -> None:
    events = await _collect(run_playbook(SAMPLE, inventory=_inventory(sshd_host),
                                         extravars={"sample_fail": False}, workdir=tmp_path))
    kinds = [e.kind for e in events]
    assert kinds[0] == "task" and kinds[-1] == "stats"
    facts = next(e for e in events if e.task == "Gathering Facts" and e.kind == "ok")
    assert facts.host == "h1" and facts.data["facts"]["ansible_system"] == "Linux"
    assert any(e.kind == "changed" and e.task == "Change something" for e in events)
    result = events[-1].result
    assert result is not None and result.ok and result.rc == 0
    assert result.stats["h1"]["changed"] == 3 and result.failed_hosts == ()
    fractions = [e.fraction for e in events if e.kind == "task" and e.fraction is not None]
    assert fractions == sorted(fractions) and all(0 <= f < 1 for f in fractions)
    # the private dir: 0700, no env files left
    run_dir = next((tmp_path / "ansible").iterdir())
    assert (tmp_path / "ansible").stat().st_mode & 0o077 == 0
    assert list((run_dir / "env").iterdir()) == []


async def test_a_failing_task_gives_its_message(sshd_host, tmp_path: Path) -> None:
    events = await _collect(run_playbook(SAMPLE, inventory=_inventory(sshd_host),
                                         workdir=tmp_path))
    failed = [e for e in events if e.kind == "failed"]
    assert [(e.host, e.task) for e in failed] == [("h1", "Fail for real")]
    assert failed[0].message == "non-zero return code (3) | bad thing happened"
    result = events[-1].result
    assert result.rc == 2 and result.failed_hosts == ("h1",) and not result.ok
    assert result.error == "h1: Fail for real: non-zero return code (3) | bad thing happened"


async def test_an_unreachable_host(sshd_host, tmp_path: Path) -> None:
    events = await _collect(run_playbook(SAMPLE, inventory=_inventory(sshd_host,
                                                                      port=free_port()),
                                         workdir=tmp_path))
    unreachable = [e for e in events if e.kind == "unreachable"]
    assert len(unreachable) == 1 and "Connection refused" in unreachable[0].message
    result = events[-1].result
    assert result.failed_hosts == ("h1",) and result.stats["h1"]["unreachable"] == 1
    assert result.rc == 4 and "Connection refused" in result.error


async def test_an_unknown_host_key_is_refused(sshd_host, tmp_path: Path) -> None:
    other = tmp_path / "empty_known_hosts"
    other.write_text("")
    inventory = build([host_of(sshd_host)], known_hosts=other, python_interpreter=HOST_PYTHON)
    events = await _collect(run_playbook(SAMPLE, inventory=inventory, workdir=tmp_path))
    unreachable = [e for e in events if e.kind == "unreachable"]
    assert unreachable and "Host key verification failed" in unreachable[0].message


def _our_ansible_pids(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker.encode() in cmdline and b"ansible-playbook" in cmdline:
                pids.append(int(entry.name))
    return pids


async def test_closing_the_stream_stops_the_run(sshd_host, tmp_path: Path) -> None:
    book = _playbook(tmp_path, """
- name: Slow
  hosts: all
  gather_facts: false
  tasks:
    - name: Sleep
      ansible.builtin.command: sleep 15
""")
    stream = run_playbook(book, inventory=_inventory(sshd_host), workdir=tmp_path / "w")
    async for event in stream:
        if event.kind == "task" and event.task == "Sleep":
            break
    started = time.monotonic()
    await stream.aclose()
    assert time.monotonic() - started < 10
    assert _our_ansible_pids(str(tmp_path / "w")) == []


async def test_cancelling_the_task_stops_the_run(sshd_host, tmp_path: Path) -> None:
    book = _playbook(tmp_path, """
- name: Slow
  hosts: all
  gather_facts: false
  tasks:
    - name: Sleep
      ansible.builtin.command: sleep 15
""")
    seen: list[PlaybookEvent] = []

    async def consume() -> None:
        async for event in run_playbook(book, inventory=_inventory(sshd_host),
                                        workdir=tmp_path / "w"):
            seen.append(event)

    task = asyncio.create_task(consume())
    deadline = time.monotonic() + 60
    while not any(e.task == "Sleep" for e in seen) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert any(e.task == "Sleep" for e in seen), seen
    task.cancel()
    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 10
    assert not any(e.kind == "stats" for e in seen)
    assert _our_ansible_pids(str(tmp_path / "w")) == []


async def test_become_as_root_needs_no_password(sshd_host, tmp_path: Path) -> None:
    book = _playbook(tmp_path, """
- name: Become
  hosts: all
  become: true
  gather_facts: false
  tasks:
    - name: Who
      ansible.builtin.command: id -un
      register: who
      changed_when: false
    - name: Say
      ansible.builtin.debug:
        msg: "{{ who.stdout }}"
""")
    events = await _collect(run_playbook(book, inventory=_inventory(sshd_host),
                                         workdir=tmp_path))
    assert [e.message for e in events if e.task == "Say" and e.kind == "ok"] == ["root"]


async def test_the_become_password_is_answered_and_seen_nowhere(sshd_host, sudo_user,
                                                               tmp_path: Path) -> None:
    book = _playbook(tmp_path, """
- name: Become with a password
  hosts: all
  become: true
  gather_facts: false
  tasks:
    - name: Who
      ansible.builtin.shell: sleep 2; id -un
      register: who
      changed_when: false
    - name: Say
      ansible.builtin.debug:
        msg: "{{ who.stdout }}"
""")
    secret = sudo_user.password.encode()
    seen_in_ps: list[int] = []
    events: list[PlaybookEvent] = []

    async def run() -> None:
        async for event in run_playbook(book, inventory=_inventory(sshd_host,
                                                                   user=sudo_user.name),
                                        workdir=tmp_path / "w",
                                        become_password=sudo_user.password):
            events.append(event)

    task = asyncio.create_task(run())
    # sample every process's argv and environment while ansible and sudo run
    for _ in range(400):
        if task.done():
            break
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                for part in ("cmdline", "environ"):
                    try:
                        if secret in (entry / part).read_bytes():
                            seen_in_ps.append(int(entry.name))
                    except OSError:
                        pass
        await asyncio.sleep(0.05)
    await asyncio.wait_for(task, 120)
    assert [e.message for e in events if e.task == "Say" and e.kind == "ok"] == ["root"]
    assert seen_in_ps == []
    assert sudo_user.password not in repr(events)
    assert secret not in all_text(tmp_path / "w")


async def test_without_the_password_sudo_refuses_clearly(sshd_host, sudo_user,
                                                        tmp_path: Path) -> None:
    book = _playbook(tmp_path, """
- name: Become
  hosts: all
  become: true
  gather_facts: false
  tasks:
    - name: Who
      ansible.builtin.command: id -un
      changed_when: false
""")
    events = await _collect(run_playbook(book, inventory=_inventory(sshd_host,
                                                                    user=sudo_user.name),
                                         workdir=tmp_path))
    result = events[-1].result
    assert result.failed_hosts == ("h1",)
    assert "password" in result.error.lower()


async def test_an_unknown_playbook_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown playbook"):
        await _collect(run_playbook("nope.yml", inventory={}, workdir=tmp_path))
    with pytest.raises(ConfigError, match="not found"):
        await _collect(run_playbook(tmp_path / "missing.yml", inventory={}, workdir=tmp_path))
