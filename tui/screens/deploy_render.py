"""What the deploy wizard shows, made from action events and their data: pure, plain text.

Every function returns :class:`rich.text.Text` or plain values: manifests, diffs, verdict
reasons and model outputs come from a server and are never read as markup. Result data is
read leniently (a dict or an object with the same attribute names), so a field an action
leaves out shows as a dash, never as a crash.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from mlops_tui.backends.actions.events import ActionEvent, EventKind

STATE_STYLES = {"Ready": "green", "Starting": "yellow", "Pending": "yellow",
                "Progressing": "yellow", "Failed": "bold red"}
_EVENT_STYLES = {EventKind.WARNING: "yellow", EventKind.FAILED: "bold red",
                 EventKind.OK: "green", EventKind.STARTED: "dim"}
MAX_PREVIEW = 300_000  # characters of YAML + diff drawn; the rest is cut with a note
MAX_VALUE = 2_000  # a longer string in a manifest or a diff line is cut


# C0 and C1 control characters but newline and tab, and DEL: a terminal would act on them
_CONTROL = {code: "\ufffd" for code in (*range(0, 9), *range(11, 32), *range(127, 160))}


def printable(text: str) -> str:
    """``text`` with control characters shown as ``\ufffd`` (a server's message may hold
    an escape sequence; Rich strips only a few of them)."""
    return text.translate(_CONTROL)


def field_of(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for a mapping, ``obj.key`` otherwise; ``default`` when absent."""
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def event_line(event: ActionEvent) -> Text | None:
    """One log line for an event (None for a silent one: a started or ok without text)."""
    if not event.message:
        return None
    text = Text(printable(event.message), style=_EVENT_STYLES.get(event.kind, ""))
    if event.kind is EventKind.PROGRESS and event.fraction is not None:
        text = Text(f"{event.fraction:4.0%} ", style="cyan") + text
    return text


def shortened(value: Any) -> Any:
    """``value`` with every string longer than :data:`MAX_VALUE` cut, saying how long it
    was: a repository's files in a ConfigMap can be megabytes of base64 nobody reads."""
    if isinstance(value, str) and len(value) > MAX_VALUE:
        return f"{value[:80]}… ({len(value):,} characters, not shown)"
    if isinstance(value, Mapping):
        return {key: shortened(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [shortened(item) for item in value]
    return value


def preview_text(data: Any) -> tuple[Text, int]:
    """The dry run's manifests as YAML, then its diff against the live objects; and the
    line where the diff starts."""
    import yaml

    manifests = field_of(data, "manifests") or []
    diff = field_of(data, "diff") or ""
    if not isinstance(manifests, list):
        manifests = []
    text = Text()
    text.append(f"# {len(manifests)} object(s), as the server's dry run returned them\n",
                style="bold cyan")
    try:
        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: ~10x faster
        text.append(yaml.dump_all(shortened(manifests), Dumper=dumper, sort_keys=False,
                                  allow_unicode=True))
    except yaml.YAMLError as exc:  # data an action should never send; say so, plainly
        text.append(f"(cannot show as YAML: {exc})\n", style="red")
    text.append("\n")
    diff_line = text.plain.count("\n")
    text.append("# diff against the cluster\n", style="bold cyan")
    if not isinstance(diff, str) or not diff.strip():
        text.append("no changes: the cluster already has these objects\n", style="dim")
    for line in (diff if isinstance(diff, str) else "").splitlines():
        if line.startswith(("+++", "---", "@@")):
            style = "bold cyan"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        else:
            style = ""
        text.append(shortened(line) + "\n", style=style)
    if len(text) > MAX_PREVIEW:
        text = text[:MAX_PREVIEW]
        text.append(f"\n… cut at {MAX_PREVIEW:,} characters\n", style="yellow")
    return text, diff_line


@dataclass(frozen=True)
class ReplicaLine:
    pod: str
    state: str
    reason: str


@dataclass(frozen=True)
class VerdictView:
    state: str
    summary: str
    replicas: tuple[ReplicaLine, ...]


def verdict_of(data: Any) -> VerdictView | None:
    """The readiness verdict in an event's data (itself or under ``verdict``), or None."""
    for candidate in (field_of(data, "verdict"), data):
        state = field_of(candidate, "state")
        if isinstance(state, str) and field_of(candidate, "replicas") is not None:
            replicas = field_of(candidate, "replicas")
            lines = tuple(
                ReplicaLine(printable(str(field_of(r, "pod", "") or "?")),
                            printable(str(field_of(r, "state", "") or "?")),
                            printable(str(field_of(r, "reason", "") or "")))
                for r in (replicas if isinstance(replicas, list | tuple) else ()))
            return VerdictView(printable(state),
                               printable(str(field_of(candidate, "summary", "") or "")), lines)
    return None


def verdict_text(verdict: VerdictView) -> Text:
    """The summary, then one line per replica with its reason, coloured by state."""
    text = Text()
    text.append(f"{verdict.state}: ", style=STATE_STYLES.get(verdict.state, "bold"))
    text.append(verdict.summary or "no summary")
    if not verdict.replicas:
        text.append("\n  no replicas", style="dim")
    for line in verdict.replicas:
        text.append("\n  ")
        text.append(f"{line.state:<9}", style=STATE_STYLES.get(line.state, ""))
        text.append(f" {line.pod}")
        if line.reason:
            text.append(f"  {line.reason}", style="dim" if line.state == "Ready" else "")
    return text


@dataclass(frozen=True)
class OutputRow:
    name: str
    shape: str
    dtype: str
    preview: str


def infer_result(data: Any) -> tuple[list[OutputRow], float | None]:
    """The outputs (name, shape, dtype, preview) and the latency in ms of an infer result."""
    outputs = field_of(data, "outputs") or []
    if isinstance(outputs, Mapping):  # name -> fields
        outputs = [{"name": name, **(fields if isinstance(fields, Mapping) else {})}
                   for name, fields in outputs.items()]
    rows = []
    for output in outputs if isinstance(outputs, list | tuple) else ():
        shape = field_of(output, "shape", "")
        if isinstance(shape, list | tuple):
            shape = "[" + ", ".join(str(d) for d in shape) + "]"
        preview = field_of(output, "preview", field_of(output, "values", ""))
        dtype = field_of(output, "datatype", field_of(output, "dtype", ""))
        rows.append(OutputRow(*(printable(str(cell)) for cell in (
            field_of(output, "name", "") or "?", shape, dtype, str(preview)[:200]))))
    latency = _number(field_of(data, "latency_ms"))
    if latency is None and _number(field_of(data, "latency_s")) is not None:
        latency = _number(field_of(data, "latency_s")) * 1000  # type: ignore[operator]
    return rows, latency


@dataclass(frozen=True)
class StepRow:
    """One load-test step as the table and the plot show it."""

    level: float
    requests: int
    throughput_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int


def _step(result: Any) -> StepRow | None:
    level = _number(field_of(result, "level"))
    rps = _number(field_of(result, "throughput_rps"))
    if level is None or rps is None:
        return None
    errors = field_of(result, "errors", {})
    count = sum(v for v in errors.values() if _number(v) is not None) if isinstance(
        errors, Mapping) else int(_number(errors) or 0)
    return StepRow(level, int(_number(field_of(result, "requests")) or 0), rps,
                   *(_number(field_of(result, key)) or 0.0
                     for key in ("p50_ms", "p90_ms", "p99_ms")),
                   int(count))


def loadtest_steps(data: Any) -> list[StepRow]:
    """The step results in a loadtest's data (a list, or under ``results``/``steps``)."""
    results: Iterable[Any] = ()
    for candidate in (data, field_of(data, "results"), field_of(data, "steps")):
        if isinstance(candidate, list | tuple):
            results = candidate
            break
    return [row for row in map(_step, results) if row is not None]


def saved_paths(data: Any) -> list[str]:
    """Where a loadtest saved its results (JSON and CSV), as its data says."""
    for key in ("saved", "files", "paths", "output"):
        value = field_of(data, key)
        if isinstance(value, str) and value:
            return [printable(value)]
        if isinstance(value, list | tuple):
            return [printable(str(v)) for v in value]
    return []


def step_cells(row: StepRow) -> tuple[Text, ...]:
    """A step's table cells, right-aligned numbers."""
    level = f"{row.level:g}"
    cells = (level, f"{row.requests:,}", f"{row.throughput_rps:,.1f}", f"{row.p50_ms:.2f}",
             f"{row.p90_ms:.2f}", f"{row.p99_ms:.2f}", f"{row.errors:,}")
    return tuple(Text(cell, justify="right", style="red" if i == 6 and row.errors else "")
                 for i, cell in enumerate(cells))
