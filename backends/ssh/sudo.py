"""Wrap a command in sudo and tell sudo's refusals from the command's own failures.

With a password: ``sudo -S -p '' -- sh -c '<marker>; exec </dev/null; CMD'``, the password
written to the channel's stdin (never argv, never a log line). The inner shell's stdin is
/dev/null, so a command never reads the password even when sudo did not ask for it.
Without one: ``sudo -n`` (fails at once instead of prompting).

The inner shell first prints a random marker on stderr: no marker → sudo itself refused,
and its message says why; what follows the marker is the command's own stderr.
"""

from __future__ import annotations

import secrets
import shlex
from dataclasses import dataclass

from mlops_tui.backends.ssh.errors import SudoFailed

PASSWORD_HINT = "set MLOPS_TUI_SUDO_PASSWORD or answer the prompt"


@dataclass(frozen=True, slots=True)
class SudoCommand:
    command: str  # what the channel executes
    marker: str  # printed on stderr once sudo let the command run


def wrap(command: str, *, with_password: bool) -> SudoCommand:
    """The sudo command line for ``command`` (a POSIX shell command)."""
    marker = f"mlops-tui-sudo-ran-{secrets.token_hex(6)}"
    inner = f"printf '%s\\n' {marker} >&2; exec </dev/null; {command}"
    mode = "-S -p ''" if with_password else "-n"
    return SudoCommand(f"sudo {mode} -- sh -c {shlex.quote(inner)}", marker)


def split_stderr(stderr: bytes, marker: str) -> tuple[bytes, bool]:
    """``(the command's stderr, whether sudo ran it)``: sudo's own lines before the marker
    (a lecture, "Sorry, try again" after a typo) are dropped."""
    token = marker.encode() + b"\n"
    head, found, tail = stderr.partition(token)
    return (tail, True) if found else (head, False)


def refusal(stderr: bytes, exit_code: int, *, host: str, user: str,
            with_password: bool) -> SudoFailed:
    """Why sudo on ``host`` did not run the command, from its stderr and exit code."""
    text = stderr.decode("utf-8", "replace")
    lower = text.lower()
    if exit_code == 127 and "sudo" in lower and "not found" in lower:
        return SudoFailed(f"there is no sudo on {host}: install it, or connect as root")
    if "incorrect password" in lower or "sorry, try again" in lower:
        return SudoFailed(f"sudo on {host} refused the password")
    if "a password is required" in lower or "no password was provided" in lower or (
            "a terminal is required" in lower and not with_password):
        return SudoFailed(f"sudo on {host} needs a password: {PASSWORD_HINT}")
    if "must have a tty" in lower or "terminal is required" in lower:
        return SudoFailed(f"sudo on {host} requires a terminal (Defaults requiretty): "
                          f"disable requiretty for {user}")
    if "not in the sudoers" in lower or "not allowed to" in lower or "may not run" in lower:
        return SudoFailed(f"{user} may not use sudo on {host}: add it to the sudoers, or "
                          f"connect as root")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    detail = f": {first[:200]}" if first else f" (exit {exit_code})"
    return SudoFailed(f"sudo on {host} failed{detail}")
