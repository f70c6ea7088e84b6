"""What can follow ``:``: one table of the TUI's own views, then the backend's kinds.

``:KIND [NAMESPACE|all|-A] [-n NAMESPACE] [-l SELECTOR] [/filter]`` opens a kind
(``:po kube-system``, ``:deploy -A``, ``:po -l app=triton``, ``:po -l app in (a,b)``);
``:ns NAME`` switches namespace; ``:ctx`` lists contexts and ``:ctx NAME`` switches; ``:q``
quits.

Everything typed is checked here, before any request: a namespace must be a DNS-1123 label
and a selector must parse (as the API server parses it). A command that fails a check comes
back with ``error`` set, and the app shows it instead of running anything.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from mlops_tui.backends.labels import parse_selector
from mlops_tui.backends.names import label_problem

# The TUI's own views: name -> aliases. Kinds come from the backend (discovery).
OWN_VIEWS: dict[str, tuple[str, ...]] = {
    "ctx": ("ctx", "context", "contexts"),
    "quit": ("q", "q!", "quit", "exit"),
    "gpu": ("gpu", "gpus", "dcgm"),
    "models": ("models", "model", "triton"),
    "pulse": ("pulse", "pulses"),
    # the deploy wizard (":deploy" itself stays the Deployments kind, as in kubectl and k9s)
    "deploy-model": ("deploy-model", "deploymodel", "serve"),
    # the provision screen; ":provision NAME" opens a cluster made before
    "provision": ("provision", "provisioning", "clusters"),
}
CONTEXT_ALIASES = frozenset(OWN_VIEWS["ctx"])
DEPLOY_ALIASES = frozenset(OWN_VIEWS["deploy-model"])
PROVISION_ALIASES = frozenset(OWN_VIEWS["provision"])
QUIT_ALIASES = frozenset(OWN_VIEWS["quit"])
# dashboard alias -> the metrics screen it shows
DASHBOARDS: dict[str, str] = {alias: name for name in ("gpu", "models", "pulse")
                              for alias in OWN_VIEWS[name]}

_ALL_NAMESPACES = ("-A", "--all-namespaces", "all")
_NAMESPACE_FLAGS = ("-n", "--namespace")
_SELECTOR_FLAGS = ("-l", "--selector")
_SET_OPERATORS = ("in", "notin")
_MAX_SHOWN = 60  # of a user's text quoted back in a message


@dataclass(frozen=True)
class Command:
    name: str
    argument: str = ""
    namespace: str | None = None  # None: keep the current one; "": all namespaces
    filter_text: str = ""
    #: why the command cannot run as typed ("" when it can); nothing else is meaningful then
    error: str = ""


def _quoted(text: str) -> str:
    return repr(text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…")


def _selector_continues(selector: str, word: str) -> bool:
    """Whether ``word`` is more of the selector being read (``-l app in (a, b)`` typed
    with spaces, as kubectl's own parser reads it) rather than the next argument."""
    if selector.count("(") > selector.count(")"):
        return True  # inside a set
    if word in _SET_OPERATORS or word.startswith(("(", ",", "=", "!=")):
        return True
    last = selector.rsplit(None, 1)[-1] if selector.strip() else ""
    return selector.endswith((",", "=", "!")) or last in _SET_OPERATORS


def _flag_value(word: str, flags: tuple[str, ...]) -> str | None:
    """The value of ``--flag=value`` / ``-f=value`` for one of ``flags``, else None."""
    for flag in flags:
        if word.startswith(flag + "="):
            return word[len(flag) + 1:]
    return None


def _words(text: str) -> tuple[list[str], str]:
    try:
        return shlex.split(text), ""
    except ValueError as exc:  # an unclosed quote
        return text.split(), f"cannot read {_quoted(text)}: {str(exc).lower()}"


def parse_command(text: str) -> Command | None:
    """Parse what was typed after ``:``; None for blank input, never raises."""
    words, error = _words(text)
    if not words:
        return None
    name, rest = words[0].lower(), words[1:]
    if error:
        return Command(name, error=error)
    namespace: str | None = None
    selector: str | None = None
    search: str | None = None
    argument = ""
    i = 0
    while i < len(rest):
        word = rest[i]
        value = _flag_value(word, (*_NAMESPACE_FLAGS, *_SELECTOR_FLAGS))
        if word in _ALL_NAMESPACES:
            namespace = ""
        elif word in _NAMESPACE_FLAGS or word in _SELECTOR_FLAGS:
            if i + 1 >= len(rest):
                what = "a namespace" if word in _NAMESPACE_FLAGS else "a label selector"
                return Command(name, error=f"{word} needs {what}")
            i += 1
            if word in _NAMESPACE_FLAGS:
                namespace = rest[i]
            else:
                selector = rest[i]
                while i + 1 < len(rest) and _selector_continues(selector, rest[i + 1]):
                    i += 1
                    selector += " " + rest[i]
        elif value is not None:
            if word.startswith(_NAMESPACE_FLAGS):
                namespace = value
            else:
                selector = value
        elif word.startswith("/"):
            search = word[1:]
        elif word.startswith("-") and len(word) > 1:
            return Command(name, error=f"unknown flag {_quoted(word)} (use -n, -A, -l)")
        elif not argument:
            argument = word
        else:
            return Command(name, error=f"unexpected {_quoted(word)} after {_quoted(argument)}")
        i += 1
    if argument and name not in CONTEXT_ALIASES and name != "ns" and name not in DASHBOARDS \
            and name not in PROVISION_ALIASES:  # ":provision NAME" names a cluster
        namespace, argument = argument, ""
    problem = _problem(name, argument, namespace, selector, search)
    if problem:
        return Command(name, error=problem)
    filter_text = f"-l {selector}" if selector is not None else (search or "")
    return Command(name, argument, namespace, filter_text)


def _problem(name: str, argument: str, namespace: str | None, selector: str | None,
             search: str | None) -> str:
    """Why the parsed parts cannot be used, or "" (checked before any request)."""
    for value in (namespace, argument if name == "ns" else None):
        if value:
            problem = label_problem(value)
            if problem:
                return f"invalid namespace {_quoted(value)}: {problem}"
    if selector is not None:
        if not selector.strip():
            return "-l needs a label selector"
        _, error = parse_selector(selector)
        if error:
            return f"invalid selector: {error}"
        if search is not None:
            return "one filter at a time: -l SELECTOR or /TEXT"
    return ""
