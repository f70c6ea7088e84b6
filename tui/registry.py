"""What can follow ``:``: one table of the TUI's own views, then the backend's kinds.

``:KIND [NAMESPACE|all|-A] [-l key=value] [/filter]`` opens a kind (``:po kube-system``,
``:deploy -A``, ``:po -l app=triton``); ``:ns NAME`` switches namespace; ``:ctx`` lists
contexts and ``:ctx NAME`` switches; ``:q`` quits.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

# The TUI's own views: name -> aliases. Kinds come from the backend (discovery).
OWN_VIEWS: dict[str, tuple[str, ...]] = {
    "ctx": ("ctx", "context", "contexts"),
    "quit": ("q", "q!", "quit", "exit"),
    "gpu": ("gpu", "gpus", "dcgm"),
    "models": ("models", "model", "triton"),
    "pulse": ("pulse", "pulses"),
}
CONTEXT_ALIASES = frozenset(OWN_VIEWS["ctx"])
QUIT_ALIASES = frozenset(OWN_VIEWS["quit"])
# dashboard alias -> the metrics screen it shows
DASHBOARDS: dict[str, str] = {alias: name for name in ("gpu", "models", "pulse")
                              for alias in OWN_VIEWS[name]}


@dataclass(frozen=True)
class Command:
    name: str
    argument: str = ""
    namespace: str | None = None  # None: keep the current one; "": all namespaces
    filter_text: str = ""


def parse_command(text: str) -> Command | None:
    """Parse what was typed after ``:``; None for blank input."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    if not words:
        return None
    name, rest = words[0].lower(), words[1:]
    namespace: str | None = None
    filters: list[str] = []
    argument = ""
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in ("-A", "--all-namespaces", "all"):
            namespace = ""
        elif word in ("-n", "--namespace") and i + 1 < len(rest):
            namespace = rest[i + 1]
            i += 1
        elif word in ("-l", "--selector") and i + 1 < len(rest):
            filters.append(f"-l {rest[i + 1]}")
            i += 1
        elif word.startswith("/"):
            filters.append(word[1:])
        elif not argument:
            argument = word
        i += 1
    if argument and name not in CONTEXT_ALIASES and name != "ns" and name not in DASHBOARDS:
        namespace, argument = argument, ""
    return Command(name, argument, namespace, " ".join(filters))
