"""Plain data shared by every backend and the TUI.

Nothing here talks to a server or imports a UI toolkit: these are the values that cross the
seam between ``backends`` and ``tui``. Rows are lean on purpose: a cache keeps only what a
view shows (plus what a filter needs), never a full API object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


def format_age(seconds: float) -> str:
    """kubectl's compact durations (apimachinery's ``duration.HumanDuration``): 45s, 3m2s, 5h,
    3d4h, 12d, 2y5d (shared by renderers and the table, which repaints age columns against
    the clock so ages never go stale)."""
    s = int(max(seconds, 0))
    if s < 120:
        return f"{s}s"
    m, h, d = s // 60, s // 3600, s // 86400
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if h < 24 * 365 * 2:
        return f"{d}d"
    if h < 24 * 365 * 8:
        return f"{d // 365}y{d % 365}d" if d % 365 else f"{d // 365}y"
    return f"{d // 365}y"


class Verb(StrEnum):
    """What can be done to objects of a kind; a view offers a key only when its verb is here."""

    DESCRIBE = "describe"
    YAML = "yaml"
    LOGS = "logs"
    DELETE = "delete"
    SCALE = "scale"
    RESTART = "restart"
    CORDON = "cordon"
    DRAIN = "drain"


MUTATING_VERBS = frozenset({Verb.DELETE, Verb.SCALE, Verb.RESTART, Verb.CORDON, Verb.DRAIN})


@dataclass(frozen=True, slots=True)
class Column:
    """One table column. ``numeric`` columns sort by the row's sort key, not the text."""

    name: str
    width: int = 0  # 0: size to content
    numeric: bool = False
    wide_only: bool = False
    # An age column's sort key is the creation time (epoch seconds); the table shows
    # "now - key" when it paints, so ages stay current without re-rendering rows.
    age: bool = False


@dataclass(frozen=True, slots=True)
class KindInfo:
    """A resource kind as the cluster serves it (built-in or found by discovery)."""

    name: str  # plural resource name, e.g. "pods", "inferenceservices"
    kind: str  # e.g. "Pod"
    group: str  # "" for the core group
    version: str  # preferred version from discovery
    namespaced: bool
    short_names: tuple[str, ...] = ()
    verbs: frozenset[Verb] = frozenset({Verb.DESCRIBE, Verb.YAML, Verb.DELETE})
    singular: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def display(self) -> str:
        """k9s-style title: ``pods`` or ``inferenceservices.serving.kserve.io``."""
        return f"{self.name}.{self.group}" if self.group else self.name

    def aliases(self) -> tuple[str, ...]:
        names = [self.name, *self.short_names]
        if self.singular:
            names.append(self.singular)
        names.append(self.kind.lower())
        if self.group:
            names.append(self.display)
        return tuple(dict.fromkeys(n.lower() for n in names if n))


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """Names one object: what actions take."""

    kind: KindInfo
    name: str
    namespace: str = ""

    def __str__(self) -> str:
        base = f"{self.kind.name}/{self.name}"
        return f"{self.namespace}/{base}" if self.namespace else base


@dataclass(slots=True)
class Row:
    """One object as a table shows it.

    ``cells`` line up with the kind's columns; ``sort_keys`` holds a number for numeric
    columns (ages, counts) so sorting never parses text. ``search_text`` is what the ``/``
    filter matches, built once when the row is made, not on every keystroke.
    """

    uid: str
    name: str
    namespace: str
    cells: tuple[str, ...]
    labels: dict[str, str] = field(default_factory=dict)
    sort_keys: tuple[float | str, ...] = ()
    status: str = ""  # "ok" | "warn" | "error" | "" : drives the row's colour
    search_text: str = ""
    selector: str = ""  # workloads: their pod selector, "k=v,k2=v2", for drill-down

    def __post_init__(self) -> None:
        if not self.search_text:
            self.search_text = " ".join(self.cells)


@dataclass(frozen=True, slots=True)
class ContextInfo:
    name: str
    cluster: str
    user: str
    namespace: str = ""
    current: bool = False


@dataclass(frozen=True, slots=True)
class ClusterInfo:
    """What the header shows."""

    context: str
    cluster: str
    user: str
    server: str
    version: str
    namespace: str  # "" means all namespaces


@dataclass(frozen=True, slots=True)
class CacheChanges:
    """What changed in a cache since a version the reader last saw.

    ``reset`` asks the reader to drop what it holds and take ``upserts`` as the whole set
    (first read, relist, or the reader fell behind the change log).
    """

    version: int
    upserts: tuple[Row, ...]
    deletes: tuple[str, ...]
    reset: bool


@dataclass(frozen=True, slots=True)
class CacheState:
    synced: bool
    error: str = ""  # last error the watch met, "" when healthy
    count: int = 0


@dataclass(frozen=True, slots=True)
class BackendSettings:
    """What the CLI hands a backend factory. Every field has a working default."""

    kubeconfig: str | None = None  # None: $KUBECONFIG, then ~/.kube/config, then in-cluster
    context: str | None = None
    namespace: str | None = None  # None: the context's namespace, else "default"
    all_namespaces: bool = False
    readonly: bool = False
    log_buffer_lines: int = 5000
    log_line_max: int = 4096
    request_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class HttpAuth:
    """How to authenticate an HTTP client to a server: headers, client cert, CA.

    ``repr`` hides the headers: they hold bearer tokens and must never reach a log line.
    """

    headers: dict[str, str] = field(default_factory=dict, repr=False)
    cert: tuple[str, str] | None = None  # (certificate file, key file)
    verify: bool | str = True  # False, True (system CAs) or a CA bundle path


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Where the metrics panels read from. Every field has a working default.

    ``url`` None: find Prometheus in the cluster and go through the API server's service
    proxy (no port-forward needed). Credentials are never logged.
    """

    url: str | None = None
    bearer_token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    verify: bool = True
    timeout: float = 10.0
    rate_window: str = "1m"  # the range of rate()/increase(): >= 4 scrape intervals
