"""Load-test figures: one :class:`StepResult` per step, exact percentiles, JSON/CSV files.

Pure functions over plain values: no I/O except :func:`save_results` / :func:`load_results`.
Percentiles are computed over every latency sample of a step (all worker processes merged),
never averaged from per-worker percentiles.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Mode = Literal["concurrency", "rate"]

#: the columns of the CSV file before the per-kind error columns, in order
CSV_COLUMNS = (
    "mode",
    "level",
    "requests",
    "duration_s",
    "throughput_rps",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "mean_ms",
    "errors_total",
)
_ERROR_PREFIX = "errors_"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class StepResult:
    """The figures of one load level.

    ``requests`` counts the successful requests completed inside the measurement window
    (warm-up excluded); ``throughput_rps`` is ``requests / duration_s``. Latencies are of
    successful requests only, in milliseconds; NaN when there were none. ``errors`` counts
    failed requests by kind ("timeout", "unavailable", "invalid", ...).
    """

    mode: Mode
    level: float
    requests: int
    duration_s: float
    throughput_rps: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of already sorted values.

    Returns NaN for no values. Nearest rank (a value that was really measured), as
    perf_analyzer reports.
    """
    n = len(sorted_values)
    if n == 0:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * n))
    return float(sorted_values[min(rank, n) - 1])


def summarize(
    mode: Mode,
    level: float,
    latencies_s: Sequence[float],
    duration_s: float,
    errors: Mapping[str, int],
) -> StepResult:
    """Build a :class:`StepResult` from every latency sample (seconds) of a step.

    Args:
        mode: "concurrency" or "rate".
        level: the concurrency or the asked rate (requests/s).
        latencies_s: one latency per successful request in the window, any order.
        duration_s: the length of the measurement window.
        errors: failed requests by kind.
    """
    ordered = sorted(latencies_s)
    n = len(ordered)
    ms = 1000.0
    return StepResult(
        mode=mode,
        level=float(level),
        requests=n,
        duration_s=duration_s,
        throughput_rps=n / duration_s if duration_s > 0 else 0.0,
        p50_ms=percentile(ordered, 50) * ms,
        p90_ms=percentile(ordered, 90) * ms,
        p95_ms=percentile(ordered, 95) * ms,
        p99_ms=percentile(ordered, 99) * ms,
        mean_ms=(math.fsum(ordered) / n * ms) if n else math.nan,
        errors={k: v for k, v in sorted(errors.items()) if v},
    )


# --------------------------------------------------------------------------- files


def _json_number(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def save_results(results: Sequence[StepResult], path: Path, *, meta: dict) -> list[Path]:
    """Write the results as ``<path>.json`` and ``<path>.csv`` side by side.

    Args:
        results: the steps, in order.
        path: the file to write; its suffix (if any) is replaced by ``.json`` and ``.csv``.
        meta: anything JSON can hold (model, protocol, plan, time); kept in the JSON file.

    Returns:
        The two paths written, JSON first.

    Raises:
        ValueError: ``meta`` cannot be written as JSON.
        OSError: a file could not be written.
    """
    path = Path(path)
    json_path, csv_path = path.with_suffix(".json"), path.with_suffix(".csv")
    steps = [{k: _json_number(v) for k, v in asdict(r).items()} for r in results]
    try:
        text = json.dumps(
            {"format": FORMAT_VERSION, "meta": meta, "results": steps},
            indent=2,
            allow_nan=False,
        )
    except (TypeError, ValueError) as e:
        raise ValueError(f"meta: cannot be written as JSON ({e})") from None
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(text + "\n", encoding="utf-8")

    kinds = sorted({kind for r in results for kind in r.errors})
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*CSV_COLUMNS, *(_ERROR_PREFIX + k for k in kinds)])
        for r in results:
            row = [r.mode, r.level, r.requests, r.duration_s, r.throughput_rps, r.p50_ms,
                   r.p90_ms, r.p95_ms, r.p99_ms, r.mean_ms, r.error_count]
            row = ["" if isinstance(v, float) and math.isnan(v) else v for v in row]
            writer.writerow([*row, *(r.errors.get(k, 0) for k in kinds)])
    return [json_path, csv_path]


def _step_from_mapping(raw: Mapping[str, Any], where: str) -> StepResult:
    names = {f.name for f in fields(StepResult)}
    missing = names - set(raw)
    if missing:
        raise ValueError(f"{where}: missing {', '.join(sorted(missing))}")
    try:
        mode = str(raw["mode"])
        if mode not in ("concurrency", "rate"):
            raise ValueError(f"mode {mode!r}")
        errors = {str(k): int(v) for k, v in dict(raw["errors"]).items()}
        floats = {
            k: math.nan if raw[k] in (None, "") else float(raw[k])
            for k in ("level", "duration_s", "throughput_rps", "p50_ms", "p90_ms",
                      "p95_ms", "p99_ms", "mean_ms")
        }
        return StepResult(mode=mode, requests=int(raw["requests"]), errors=errors, **floats)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from None


def load_results(path: Path) -> tuple[list[StepResult], dict]:
    """Read results written by :func:`save_results` (the ``.json`` or the ``.csv`` file).

    Returns:
        The steps and the meta dict (empty for a CSV file).

    Raises:
        ValueError: the file is not a results file (the message names the file and field).
        OSError: the file could not be read.
    """
    path = Path(path)
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        steps = []
        for i, row in enumerate(rows, start=2):
            errors = {
                k[len(_ERROR_PREFIX):]: v
                for k, v in row.items()
                if k and k.startswith(_ERROR_PREFIX) and k != "errors_total" and v not in ("", "0")
            }
            steps.append(_step_from_mapping({**row, "errors": errors}, f"{path}:{i}"))
        return steps, {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError(f"{path}: no 'results' list")
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    steps = [
        _step_from_mapping(raw if isinstance(raw, dict) else {}, f"{path}: results[{i}]")
        for i, raw in enumerate(data["results"])
    ]
    return steps, meta
