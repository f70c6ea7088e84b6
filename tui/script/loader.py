"""Read, check and resolve a script file before anything runs.

Order: bytes -> text (UTF-8, limits) -> one YAML document (lines kept) -> ``vars`` ->
``${...}`` substitution in every other string -> the header schema -> each step (exactly one
action key from :data:`ACTIONS`, its request model, its options). Every problem found is
collected, with its line, and raised together as one :class:`ScriptError`; secrets in the
messages are masked.
"""

from __future__ import annotations

import difflib
import logging
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

from pydantic import TypeAdapter, ValidationError

from mlops_tui.backends.actions import ACTIONS, ActionSpec, Request
from mlops_tui.tui.script.errors import Problem, ScriptError, ScriptReadError
from mlops_tui.tui.script.schema import (
    STEP_OPTIONS,
    PrometheusSection,
    ScriptHeader,
    StepOptions,
    VarName,
    VarValue,
    validation_problems,
)
from mlops_tui.tui.script.variables import Masker, VariableError, Variables
from mlops_tui.tui.script.yamltree import (
    MAX_BYTES,
    Document,
    DocumentError,
    Path,
    decode,
    field_name,
    parse,
)

log = logging.getLogger(__name__)
STDIN_NAME = "<stdin>"
_VARS = TypeAdapter(dict[VarName, VarValue])


@dataclass(frozen=True, slots=True)
class Step:
    """One validated step: ``index`` is 1-based, ``line`` where it starts in the file."""

    index: int
    name: str
    action: str
    request: Request
    timeout: float
    continue_on_error: bool
    line: int
    args: dict[str, Any]  # the arguments as given (after substitution), for the plan
    spec: ActionSpec


@dataclass(frozen=True, slots=True)
class Script:
    file: str
    steps: tuple[Step, ...]
    context: str | None = None
    namespace: str | None = None
    prometheus: PrometheusSection | None = None
    masker: Masker = field(default_factory=Masker)


def read_source(source: str) -> tuple[str, bytes]:
    """``(display name, bytes)`` of a script path, or of stdin for ``-``.

    Raises:
        ScriptReadError: the file cannot be read.
    """
    if source == "-":
        return STDIN_NAME, sys.stdin.buffer.read(MAX_BYTES + 1)
    try:
        with open(source, "rb") as handle:
            return source, handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScriptReadError(f"cannot read script {source}: {exc.strerror or exc}") from None


def load_script(source: str | FilePath, *, env: Mapping[str, str] | None = None,
                actions: Mapping[str, ActionSpec] | None = None) -> Script:
    """Load and validate the script at ``source`` (``-``: stdin).

    Raises:
        ScriptReadError: the file cannot be read.
        ScriptError: it is not a valid script (every problem, with its line).
    """
    name, data = read_source(str(source))
    return load_text(data, name, env=env, actions=actions)


def load_text(data: bytes | str, file: str = "script.yaml", *,
              env: Mapping[str, str] | None = None,
              actions: Mapping[str, ActionSpec] | None = None) -> Script:
    """Validate a script given as bytes or text; ``file`` is the name messages show.

    Raises:
        ScriptError: it is not a valid script (every problem, with its line).
    """
    try:
        text = decode(data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data)
        doc = parse(text)
    except DocumentError as exc:
        raise ScriptError(file, exc.problems) from None
    return _Checker(file, doc, os.environ if env is None else env,
                    ACTIONS if actions is None else actions).script()


class _Checker:
    def __init__(self, file: str, doc: Document, env: Mapping[str, str],
                 actions: Mapping[str, ActionSpec]) -> None:
        self.file, self.doc, self.env, self.actions = file, doc, env, actions
        self.problems: list[Problem] = []
        self.variables = Variables({}, env)
        self.unresolved: list[str] = []  # fields whose ${...} failed: no second error there

    def fail_at(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.doc.line_of(path), field_name(path), message))

    def add_validation(self, problems: list[Problem]) -> None:
        """Add schema problems, except on (or around) a value whose ${...} did not resolve."""
        self.problems += [p for p in problems if not any(
            _related(p.field, bad) for bad in self.unresolved)]

    def script(self) -> Script:
        root = self.doc.value
        if not isinstance(root, dict):
            what = "a list" if isinstance(root, list) else "a single value"
            raise ScriptError(self.file, [Problem(self.doc.line_of(()), "", (
                f"a script is a mapping with 'steps' (and optional context, namespace, "
                f"prometheus, vars), not {what}"))])
        declared = self._vars(root.get("vars"))
        self.variables = Variables(declared, self.env)
        resolved = {key: value if key == "vars" else self._substitute(value, (key,))
                    for key, value in root.items()}
        resolved["vars"] = declared
        header = self._header(resolved)
        steps = tuple(self._step(i, raw) for i, raw in enumerate(header.steps)) \
            if header is not None else ()
        masker = self.variables.masker()
        if self.problems:
            raise ScriptError(self.file, self.problems).masked(masker.text)
        assert header is not None
        return Script(self.file, tuple(s for s in steps if s is not None), header.context,
                      header.namespace, header.prometheus, masker)

    def _vars(self, raw: Any) -> dict[str, str]:
        if raw is None:
            return {}
        try:
            return _VARS.validate_python(raw)
        except ValidationError as exc:
            self.add_validation(validation_problems(exc, ScriptHeader, ("vars",), self.doc))
            if isinstance(raw, dict):  # still mask what looks secret in the messages
                self.variables = Variables({k: v for k, v in raw.items() if isinstance(k, str)
                                            and isinstance(v, str)}, self.env)
            return {}

    def _substitute(self, value: Any, path: Path) -> Any:
        if isinstance(value, str):
            try:
                return self.variables.substitute(value)
            except VariableError as exc:
                self.fail_at(path, str(exc))
                self.unresolved.append(field_name(path))
                return value
        if isinstance(value, dict):
            return {k: self._substitute(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._substitute(v, (*path, i)) for i, v in enumerate(value)]
        return value

    def _header(self, resolved: dict[str, Any]) -> ScriptHeader | None:
        try:
            return ScriptHeader.model_validate(resolved)
        except ValidationError as exc:
            self.add_validation(validation_problems(exc, ScriptHeader, (), self.doc))
        try:  # the steps can still be checked when only the header is wrong
            steps = resolved.get("steps")
            return ScriptHeader(steps=steps) if isinstance(steps, list) and steps else None
        except ValidationError:
            return None

    def _step(self, i: int, raw: Any) -> Step | None:
        path: Path = ("steps", i)
        if not isinstance(raw, dict):
            self.fail_at(path, "a step is a mapping with one action key, e.g. "
                               "'- get: {kind: pods}'")
            return None
        action_keys = [k for k in raw if k not in STEP_OPTIONS]
        options = self._options({k: v for k, v in raw.items() if k in STEP_OPTIONS}, path)
        if len(action_keys) != 1:
            self.fail_at(path, self._action_count_problem(action_keys))
            return None
        action = action_keys[0]
        spec = self.actions.get(action)
        if spec is None:
            self.fail_at((*path, action), self._unknown_action(action))
            return None
        args = raw[action] if raw[action] is not None else {}
        request = self._request(spec, args, (*path, action))
        if request is None or options is None:
            return None
        return Step(i + 1, options.name or _default_name(action, args), action, request,
                    options.timeout, options.continue_on_error, self.doc.line_of(path), args,
                    spec)

    def _options(self, raw: dict[str, Any], path: Path) -> StepOptions | None:
        try:
            return StepOptions.model_validate(raw)
        except ValidationError as exc:
            self.add_validation(validation_problems(exc, StepOptions, path, self.doc))
            return None

    def _request(self, spec: ActionSpec, args: Any, path: Path) -> Request | None:
        if not isinstance(args, dict):
            self.fail_at(path, f"the arguments of '{spec.name}' are a mapping, e.g. "
                               f"'{spec.name}: {{...}}'")
            return None
        try:
            return spec.request.model_validate(args)
        except ValidationError as exc:
            self.add_validation(validation_problems(exc, spec.request, path, self.doc))
        except Exception as exc:  # a request model's own validator misbehaving: no traceback
            log.error("request model of %s raised: %s", spec.name,
                      self.variables.masker().text(traceback.format_exc()))
            self.fail_at(path, f"invalid arguments: {exc}")
        return None

    def _action_count_problem(self, keys: list[str]) -> str:
        known = ", ".join(sorted(self.actions))
        if not keys:
            return f"the step has no action; a step needs exactly one of: {known}"
        return (f"a step has exactly one action, this one has {len(keys)}: "
                f"{', '.join(keys[:5])}")

    def _unknown_action(self, action: str) -> str:
        close = difflib.get_close_matches(action, list(self.actions), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        return f"unknown action; {hint}known actions: {', '.join(sorted(self.actions))}"


def _related(field: str, other: str) -> bool:
    """One field is the other or lies inside it (``steps[0].get`` and ``steps[0].get.x``)."""
    short, long = sorted((field, other), key=len)
    return long == short or long.startswith(short) and long[len(short)] in ".["


def _default_name(action: str, args: dict[str, Any]) -> str:
    """``scale deployment/web``: the action and what it names, when it names something."""
    target = "/".join(str(args[k]) for k in ("kind", "name") if isinstance(args.get(k), str))
    return f"{action} {target}" if target else action
