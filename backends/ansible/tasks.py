"""How many tasks a playbook run will start: the denominator of its progress fraction.

Runner's events do not say how many tasks a play holds, so ``ansible-playbook --list-tasks``
is asked once, alongside the run (~1 s, no host contacted). It lists the static tasks
(imports and roles resolved, ``--tags`` applied); each play adds one for gathering facts.
Dynamic includes and handlers are not listed: the fraction is capped below 1 until the run
ends.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from pathlib import Path

#: the longest --list-tasks may take before progress goes without a fraction
LIST_TIMEOUT = 60.0


def parse_task_list(text: str) -> int:
    """The tasks ``ansible-playbook --list-tasks`` printed, plus one per play (facts).

    Args:
        text: its stdout ("  play #1 (all): NAME\\tTAGS: []" then "      TASK\\tTAGS: [...]").

    Returns:
        The count (0 when nothing was listed).
    """
    plays = tasks = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("play #"):
            plays += 1
        elif "\tTAGS: [" in line and plays:
            tasks += 1
    return tasks + plays if tasks else 0


def _kill(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()


async def count_tasks(playbook: Path, *, inventory: Path, extravars: Path,
                      env: Mapping[str, str], tags: str = "", limit: str | None = None) -> int:
    """Count the tasks a run of ``playbook`` will start (0 when they cannot be listed).

    Args:
        playbook: the playbook file.
        inventory: the run's inventory file.
        extravars: the run's extra-vars JSON file (conditional imports may read them).
        env: the run's environment (PATH with ansible-playbook first).
        tags: comma-separated tags, as the run uses them.
        limit: the run's host pattern.

    Returns:
        Tasks plus one per play; 0 on any failure (progress then has no fraction).
    """
    argv = ["ansible-playbook", "--list-tasks", "-i", str(inventory), "-e", f"@{extravars}"]
    if tags:
        argv += ["--tags", tags]
    if limit:
        argv += ["--limit", limit]
    argv.append(str(playbook))
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
            cwd=str(playbook.parent))
    except OSError:
        return 0
    try:
        stdout, _ = await asyncio.wait_for(process.communicate(), LIST_TIMEOUT)
    except TimeoutError:
        _kill(process)
        await process.wait()
        return 0
    except asyncio.CancelledError:  # the run ended first: end ours by its PID, then go
        _kill(process)
        raise
    if process.returncode != 0:
        return 0
    return parse_task_list(stdout.decode("utf-8", "replace"))
