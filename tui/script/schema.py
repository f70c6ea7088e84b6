"""The script file's schema (pydantic), and pydantic errors turned into line-numbered problems.

The steps' arguments are each action's own request model (``ACTIONS[name].request``): the
schema of a step is the same object the TUI calls the action with.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from mlops_tui.backends.actions.base import DURATION_HINT, Duration, Namespace, parse_duration
from mlops_tui.tui.script.errors import Problem
from mlops_tui.tui.script.variables import NAME
from mlops_tui.tui.script.yamltree import Document, Path, field_name

DEFAULT_STEP_TIMEOUT = 600.0
MAX_STEPS = 10_000
STEP_OPTIONS = ("name", "timeout", "continue_on_error")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _url(value: object) -> object:
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
    return value


def _prometheus_range(value: object) -> object:
    if isinstance(value, str) and not value.strip().isdigit():
        parse_duration(value)  # the same units PromQL ranges take
        return value.strip()
    raise ValueError(DURATION_HINT)


def _plain_text(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _var_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"  # as YAML wrote it, not Python's "True"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    raise ValueError("a variable's value must be a string, number or boolean")


def _var_name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError("a variable name is letters, digits and '_', not starting with a digit")
    return value


PlainText = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(_plain_text)]
VarName = Annotated[str, AfterValidator(_var_name)]
VarValue = Annotated[str, BeforeValidator(_var_value)]


class PrometheusSection(BaseModel):
    """Like the config file's ``prometheus`` section; a plain string is the ``url``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: Annotated[str | None, BeforeValidator(_url)] = None
    bearer_token_file: PlainText | None = None
    username: PlainText | None = None
    password_file: PlainText | None = None
    ca_file: PlainText | None = None
    insecure_skip_tls_verify: bool = False
    rate_window: Annotated[str | None, BeforeValidator(_prometheus_range)] = None
    timeout: Duration | None = None


def _url_shorthand(value: object) -> object:
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        return {"url": value}
    raise ValueError("must be a URL, or a mapping like the config file's prometheus section "
                     f"({', '.join(PrometheusSection.model_fields)})")


class ScriptHeader(BaseModel):
    """Everything but the steps' contents (checked one by one, see the loader)."""

    model_config = ConfigDict(extra="forbid")

    context: PlainText | None = None
    namespace: Namespace | None = None
    prometheus: Annotated[PrometheusSection | None, BeforeValidator(_url_shorthand)] = None
    vars: dict[VarName, VarValue] = {}
    steps: Annotated[list[Any], Field(min_length=1, max_length=MAX_STEPS)]


class StepOptions(BaseModel):
    """The keys a step may hold beside its one action key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_plain_text)] | \
        None = None
    timeout: Duration = DEFAULT_STEP_TIMEOUT
    continue_on_error: bool = False


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _known_fields(model: type[BaseModel], loc: tuple) -> list[str] | None:
    """The field names a mapping at ``loc`` inside ``model`` accepts (None: not a model)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        fields = {(f.alias or name): f for name, f in current.model_fields.items()}
        current = _model_of(fields[part].annotation) if part in fields else None
    if current is None:
        return None
    return sorted((f.alias or name) for name, f in current.model_fields.items())


def _message(error: dict[str, Any], model: type[BaseModel]) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        known = _known_fields(model, tuple(error["loc"][:-1]))
        return f"unknown field; known: {', '.join(known)}" if known else "unknown field"
    if kind == "missing":
        return "required field missing"
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return msg[:1].lower() + msg[1:]


def validation_problems(exc: ValidationError, model: type[BaseModel], base: Path,
                        doc: Document) -> list[Problem]:
    """One problem per pydantic error, at the line of its location in the file."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = tuple(p for p in error["loc"] if p != "[key]")
        path = (*base, *loc)
        problems.append(Problem(doc.line_of(path), field_name(path), _message(error, model)))
    return problems
