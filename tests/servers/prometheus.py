"""A real Prometheus (Debian's 2.42 package) on 127.0.0.1 for tests.

:class:`PrometheusServer` writes a config with one scrape job per :class:`ScrapeTarget`,
runs ``prometheus`` on a free loopback port (never the default 0.0.0.0) over a TSDB
directory, and can be stopped and started again on the same port and TSDB to test an
outage. :func:`backfill` writes exact history with ``promtool``.

Typical use::

    with PrometheusServer([ScrapeTarget("triton", triton.metrics_port)]) as prom:
        prom.wait_for('nv_inference_request_success{model="resnet50"}',
                      lambda r: r and float(r[0]["value"][1]) >= 10)
        prom.stop(); ...; prom.start()          # same URL, old samples still there

Backfilled history (``promtool tsdb create-blocks-from openmetrics``), checked with 2.42:

- the input is OpenMetrics text: a ``# TYPE name gauge|counter`` line before each family
  (a counter's samples are named ``name_total``), samples as ``name{l="v"} VALUE
  TIMESTAMP`` with the timestamp in *seconds* (decimals allowed; milliseconds would be
  read as dates ~50,000 years ahead), samples of one series in increasing time order, and
  a final ``# EOF`` line (without it promtool refuses the file);
- blocks may lie anywhere in time: no 2 h alignment is needed (promtool cuts blocks at
  2 h boundaries itself), and old history (e.g. 2023) is served as is: time-based
  retention counts from the newest block's end, not from the wall clock, and the head
  of a Prometheus that scrapes nothing stays empty, so nothing is ever dropped. A long
  retention (``from_backfill`` uses 100y) keeps it that way if the server also scrapes
  and compacts;
- Prometheus reads the blocks at start: backfill before :meth:`PrometheusServer.start`
  (or restart it after);
- a range query evaluated at the samples' own timestamps returns their exact values;
  between samples it returns the last sample within the 5 min lookback.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from tests.cluster.controlplane import _Proc, _tail, free_port

READY_TIMEOUT_S = 30.0

#: a predicate over an instant query's result (the list under ``data.result``)
Predicate = Callable[[list[dict[str, Any]]], bool]


class PrometheusError(RuntimeError):
    """Prometheus could not start, a query failed, or ``wait_for`` timed out."""


def find_prometheus() -> tuple[Path, Path] | None:
    """``(prometheus, promtool)`` from PATH, or None."""
    prom, tool = shutil.which("prometheus"), shutil.which("promtool")
    return (Path(prom), Path(tool)) if prom and tool else None


def missing_reason() -> str:
    return (
        "no prometheus/promtool on PATH (apt-get install -y --no-install-recommends "
        "prometheus, or bash tests/servers/setup-triton.sh)"
    )


@dataclass(frozen=True)
class ScrapeTarget:
    """One scrape job on 127.0.0.1:``port``.

    ``labels`` are target labels added to every scraped series (what service discovery
    would add, e.g. ``namespace``/``pod``); ``honor_labels`` keeps the exporter's own
    labels when they clash with target labels (set it for exporters that report for
    other workloads, as dcgm-exporter does with ``pod``/``namespace``/``container``).
    """

    job: str
    port: int
    metrics_path: str = "/metrics"
    honor_labels: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    scrape_interval: str | None = None

    def config(self) -> dict[str, Any]:
        static: dict[str, Any] = {"targets": [f"127.0.0.1:{self.port}"]}
        if self.labels:
            static["labels"] = dict(self.labels)
        job: dict[str, Any] = {
            "job_name": self.job,
            "metrics_path": self.metrics_path,
            "honor_labels": self.honor_labels,
            "static_configs": [static],
        }
        if self.scrape_interval:
            job["scrape_interval"] = job["scrape_timeout"] = self.scrape_interval
        return job


def backfill(openmetrics_text: str, tsdb_dir: Path) -> str:
    """Write ``openmetrics_text`` as TSDB blocks into ``tsdb_dir`` with promtool.

    See the module docstring for the format. Returns promtool's table of created blocks.
    Raises :class:`PrometheusError` with promtool's message when it refuses the input.
    """
    found = find_prometheus()
    if found is None:
        raise PrometheusError(missing_reason())
    tsdb_dir = Path(tsdb_dir)
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".om", delete=False) as fh:
        fh.write(openmetrics_text if openmetrics_text.endswith("\n") else openmetrics_text + "\n")
        src = Path(fh.name)
    try:
        res = subprocess.run(
            [str(found[1]), "tsdb", "create-blocks-from", "openmetrics", str(src), str(tsdb_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        src.unlink(missing_ok=True)
    if res.returncode != 0:
        raise PrometheusError(f"promtool backfill failed: {res.stderr.strip() or res.stdout}")
    return res.stdout


class PrometheusServer:
    """``prometheus`` on 127.0.0.1:PORT scraping ``targets``.

    Parameters:
        targets: scrape jobs (none: a server that only serves its TSDB).
        scrape_interval: global scrape (and rule evaluation) interval; the scrape timeout
            is set to the same value (Prometheus refuses a timeout above the interval).
        tsdb_dir: the TSDB (default ``<workdir>/tsdb``); kept across :meth:`stop` /
            :meth:`start`.
        retention: ``--storage.tsdb.retention.time``.
        workdir: config, log and default TSDB (default: a temp dir, removed by
            :meth:`close`).
        extra_args: appended to the command line.
    """

    def __init__(
        self,
        targets: Sequence[ScrapeTarget] = (),
        scrape_interval: str = "1s",
        tsdb_dir: Path | None = None,
        retention: str = "15d",
        *,
        workdir: Path | None = None,
        extra_args: Iterable[str] = (),
    ) -> None:
        self.targets = list(targets)
        self.scrape_interval = scrape_interval
        self.retention = retention
        self._own_workdir = workdir is None
        self.workdir = (
            Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="mlops-tui-prom-"))
        )
        self.tsdb_dir = Path(tsdb_dir) if tsdb_dir else self.workdir / "tsdb"
        self.extra_args = list(extra_args)
        self.port = 0
        self._proc: _Proc | None = None
        self.start_seconds = 0.0

    @classmethod
    def from_backfill(cls, openmetrics_text: str, *, retention: str = "100y", **kw: Any) -> Self:
        """A server (not started) with no scrape targets over a TSDB backfilled with
        ``openmetrics_text`` (see :func:`backfill`)."""
        server = cls([], retention=retention, **kw)
        backfill(openmetrics_text, server.tsdb_dir)
        return server

    # ---- context manager
    def __enter__(self) -> Self:
        if self._proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- properties
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc and self._proc.alive() else None

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def config(self) -> dict[str, Any]:
        """The config as a dict (written as JSON, which is YAML)."""
        return {
            "global": {
                "scrape_interval": self.scrape_interval,
                "scrape_timeout": self.scrape_interval,
                "evaluation_interval": self.scrape_interval,
            },
            "scrape_configs": [t.config() for t in self.targets],
        }

    # ---- lifecycle
    def start(self, timeout: float = READY_TIMEOUT_S) -> Self:
        """Start (or start again: same port, same TSDB) and wait for ``/-/ready``."""
        if self._proc is not None:
            raise PrometheusError("already running")
        found = find_prometheus()
        if found is None:
            raise PrometheusError(missing_reason())
        t0 = time.monotonic()
        self.port = self.port or free_port()
        self.tsdb_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        argv = [
            str(found[0]),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.tsdb_dir}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            *self.extra_args,
        ]
        self._proc = _Proc("prometheus", argv, self.log_path)
        self._proc.start()
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def stop(self, *, kill: bool = False) -> None:
        """Stop the process by its PID (SIGTERM; SIGKILL with ``kill``: a crash). The TSDB,
        config and port are kept for :meth:`start`."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if kill and proc.popen is not None and proc.popen.poll() is None:
            proc.popen.kill()
            proc.popen.wait(10)
        proc.stop(timeout=10.0)

    def close(self) -> None:
        """:meth:`stop`, then remove the work dir (when this object made it)."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def set_targets(self, targets: Sequence[ScrapeTarget]) -> None:
        """Replace the scrape jobs and reload the config (``POST /-/reload``)."""
        self.targets = list(targets)
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        if self._proc is not None:
            self._http("/-/reload", data=b"")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            if self._proc is None or not self._proc.alive():
                code = self._proc.popen.returncode if self._proc and self._proc.popen else None
                raise PrometheusError(
                    f"prometheus exited (code {code}) before it was ready; log "
                    f"{self.log_path}:\n{_tail(self.log_path)}"
                )
            try:
                self._http("/-/ready", timeout=1.0)
                return
            except Exception as e:  # noqa: BLE001 - not up yet
                last = e
            if time.monotonic() > deadline:
                raise PrometheusError(
                    f"prometheus not ready after {timeout:.0f}s (last error: {last!r}); log "
                    f"{self.log_path}:\n{_tail(self.log_path)}"
                )
            time.sleep(0.1)

    # ---- HTTP API
    def _http(self, path: str, *, data: bytes | None = None, timeout: float = 10.0) -> bytes:
        req = urllib.request.Request(self.url + path, data=data)
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read()

    def api(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET /api/v1/<path>?params``: the ``data`` of a success answer."""
        query = "?" + urllib.parse.urlencode(params, doseq=True) if params else ""
        try:
            body = json.loads(self._http(f"/api/v1/{path}{query}"))
        except urllib.error.HTTPError as e:
            body = json.loads(e.read() or b"{}")
            raise PrometheusError(f"{path}: HTTP {e.code}: {body.get('error', body)}") from e
        if body.get("status") != "success":
            raise PrometheusError(f"{path}: {body}")
        return body["data"]

    def query(self, promql: str, at: float | None = None) -> list[dict[str, Any]]:
        """Instant query: ``[{"metric": {...}, "value": [ts, "str"]}, ...]``."""
        params: dict[str, Any] = {"query": promql}
        if at is not None:
            params["time"] = at
        data = self.api("query", params)
        return data["result"] if data["resultType"] in ("vector", "matrix") else [data]

    def query_range(
        self, promql: str, start: float, end: float, step: float | str
    ) -> list[dict[str, Any]]:
        """Range query: ``[{"metric": {...}, "values": [[ts, "str"], ...]}, ...]``."""
        data = self.api("query_range", {"query": promql, "start": start, "end": end, "step": step})
        return data["result"]

    def targets_health(self) -> dict[str, str]:
        """``{job: health}`` of the active targets (``up``, ``down``, ``unknown``)."""
        data = self.api("targets", {"state": "active"})
        return {t["labels"]["job"]: t["health"] for t in data["activeTargets"]}

    def wait_for(
        self,
        promql: str,
        predicate: Predicate | None = None,
        timeout: float = 30.0,
        interval: float = 0.25,
    ) -> list[dict[str, Any]]:
        """Poll an instant query until ``predicate(result)`` holds (default: non-empty);
        return that result. Raises :class:`PrometheusError` with the last result after
        ``timeout`` s."""
        predicate = predicate or bool
        deadline = time.monotonic() + timeout
        last: object = None
        while True:
            try:
                result = self.query(promql)
                if predicate(result):
                    return result
                last = result
            except (PrometheusError, OSError) as e:
                last = e
            if time.monotonic() > deadline:
                raise PrometheusError(
                    f"after {timeout:.0f}s, {promql!r} still does not satisfy the predicate; "
                    f"last: {last!r}"
                )
            time.sleep(interval)

    def wait_for_targets(self, timeout: float = 30.0) -> None:
        """Wait until every configured job has an active target that is ``up``."""
        jobs = {t.job for t in self.targets}
        deadline = time.monotonic() + timeout
        health: dict[str, str] = {}
        while True:
            health = self.targets_health()
            if jobs <= {j for j, h in health.items() if h == "up"}:
                return
            if time.monotonic() > deadline:
                raise PrometheusError(f"targets not all up after {timeout:.0f}s: {health}")
            time.sleep(0.2)


def sample_values(result: list[dict[str, Any]]) -> list[float]:
    """The float values of an instant-query result, in result order."""
    return [float(r["value"][1]) for r in result]
