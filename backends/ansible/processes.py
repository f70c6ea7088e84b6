"""The processes of one playbook run, so a cancelled run leaves none behind.

Runner stops a run by killing ansible-playbook's process group, but Ansible's task workers
start sessions of their own (``os.setsid``): they, and the ssh clients under them, would
live on until their task ends. So the run's process tree is read from ``/proc`` and stopped
before runner kills, and what is left of it afterwards is killed by PID (each checked by
its start time, so a reused PID is never hit).
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

_PROC = Path("/proc")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent PID, start time) of ``pid``; ``None`` when it is gone or a zombie."""
    try:
        fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[19])


def run_tree(marker: str) -> dict[int, int]:
    """The ansible-playbook this process started whose argv holds ``marker`` (the run's
    private dir), and every process under it.

    Args:
        marker: text only that run's argv holds.

    Returns:
        ``{pid: start time}``; empty where /proc cannot be read (not Linux).
    """
    children: dict[int, list[int]] = {}
    roots = []
    me = os.getpid()
    with contextlib.suppress(OSError):
        for entry in _PROC.iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            stat = _stat(pid)
            if stat is None:
                continue
            children.setdefault(stat[0], []).append(pid)
            if stat[0] == me:
                with contextlib.suppress(OSError):
                    argv = (entry / "cmdline").read_bytes()
                    if marker.encode() in argv and b"ansible-playbook" in argv:
                        roots.append(pid)
    tree: dict[int, int] = {}
    queue = list(roots)
    while queue and len(tree) < 10_000:
        pid = queue.pop()
        stat = _stat(pid)
        if stat is not None and pid not in tree:
            tree[pid] = stat[1]
            queue.extend(children.get(pid, []))
    return tree


def freeze(marker: str, rounds: int = 5) -> dict[int, int]:
    """Stop (SIGSTOP) the run's process tree, so it forks nothing more while it is killed:
    a worker forked between reading the tree and runner's kill would escape it.

    Args:
        marker: as :func:`run_tree`.
        rounds: how many times the tree is read again for processes forked meanwhile.

    Returns:
        The tree, every process in it stopped.
    """
    tree: dict[int, int] = {}
    for _ in range(rounds):
        found = run_tree(marker)
        fresh = {pid: started for pid, started in found.items() if pid not in tree}
        if not fresh:
            break
        for pid in fresh:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
        tree.update(fresh)
    return tree


def kill_left(tree: dict[int, int]) -> list[int]:
    """SIGKILL every process of ``tree`` still running as the same process.

    Returns:
        The PIDs signalled.
    """
    killed = []
    for pid, started in tree.items():
        stat = _stat(pid)
        if stat is not None and stat[1] == started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
    return killed
