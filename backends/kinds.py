"""The one table of built-in kinds: names, aliases, verbs, columns and renderer.

Adding a kind means adding a row here; nothing else branches on kind names. Kinds found by
discovery that are not in this table (custom resources) get the generic renderer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from mlops_tui.backends.models import Column, KindInfo, Row, Verb
from mlops_tui.backends.render import core, pods, workloads
from mlops_tui.backends.render._common import Obj

Renderer = Callable[[Obj, float], Row]

_READ = frozenset({Verb.DESCRIBE, Verb.YAML})
_RW = _READ | {Verb.DELETE}
_WORKLOAD = _RW | {Verb.SCALE, Verb.RESTART, Verb.LOGS}


@dataclass(frozen=True, slots=True)
class KindSpec:
    """A built-in kind. ``versions`` lists acceptable API versions, newest first;
    discovery picks the first one the server serves."""

    name: str
    kind: str
    group: str
    versions: tuple[str, ...]
    namespaced: bool
    short_names: tuple[str, ...]
    verbs: frozenset[Verb]
    columns: tuple[Column, ...]
    render: Renderer

    def info(self, version: str | None = None) -> KindInfo:
        return KindInfo(
            name=self.name, kind=self.kind, group=self.group,
            version=version or self.versions[0], namespaced=self.namespaced,
            short_names=self.short_names, verbs=self.verbs, singular=self.kind.lower(),
        )


BUILTIN_KINDS: tuple[KindSpec, ...] = (
    KindSpec("pods", "Pod", "", ("v1",), True, ("po",), _RW | {Verb.LOGS},
             pods.COLUMNS, pods.render),
    KindSpec("deployments", "Deployment", "apps", ("v1",), True, ("deploy", "dp"), _WORKLOAD,
             workloads.DEPLOYMENT_COLUMNS, workloads.render_deployment),
    KindSpec("statefulsets", "StatefulSet", "apps", ("v1",), True, ("sts",), _WORKLOAD,
             workloads.STATEFULSET_COLUMNS, workloads.render_statefulset),
    KindSpec("daemonsets", "DaemonSet", "apps", ("v1",), True, ("ds",),
             _RW | {Verb.RESTART, Verb.LOGS},
             workloads.DAEMONSET_COLUMNS, workloads.render_daemonset),
    KindSpec("replicasets", "ReplicaSet", "apps", ("v1",), True, ("rs",), _RW | {Verb.SCALE},
             workloads.REPLICASET_COLUMNS, workloads.render_replicaset),
    KindSpec("jobs", "Job", "batch", ("v1",), True, ("job",), _RW | {Verb.LOGS},
             workloads.JOB_COLUMNS, workloads.render_job),
    KindSpec("cronjobs", "CronJob", "batch", ("v1", "v1beta1"), True, ("cj",), _RW,
             workloads.CRONJOB_COLUMNS, workloads.render_cronjob),
    KindSpec("services", "Service", "", ("v1",), True, ("svc",), _RW,
             core.SERVICE_COLUMNS, core.render_service),
    KindSpec("events", "Event", "", ("v1",), True, ("ev",), _READ,
             core.EVENT_COLUMNS, core.render_event),
    KindSpec("persistentvolumeclaims", "PersistentVolumeClaim", "", ("v1",), True, ("pvc",),
             _RW, core.PVC_COLUMNS, core.render_pvc),
    KindSpec("configmaps", "ConfigMap", "", ("v1",), True, ("cm",), _RW,
             core.CONFIGMAP_COLUMNS, core.render_configmap),
    KindSpec("secrets", "Secret", "", ("v1",), True, ("sec",), _RW,
             core.SECRET_COLUMNS, core.render_secret),
    KindSpec("nodes", "Node", "", ("v1",), False, ("no",), _READ | {Verb.CORDON, Verb.DRAIN},
             core.NODE_COLUMNS, core.render_node),
    KindSpec("namespaces", "Namespace", "", ("v1",), False, ("ns",), _RW,
             core.NAMESPACE_COLUMNS, core.render_namespace),
)

BY_NAME: dict[tuple[str, str], KindSpec] = {(k.group, k.name): k for k in BUILTIN_KINDS}

# Well-known custom resources get friendlier short names than discovery gives them.
EXTRA_SHORT_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("serving.kserve.io", "inferenceservices"): ("isvc",),
}


def spec_for(kind: KindInfo) -> KindSpec | None:
    return BY_NAME.get((kind.group, kind.name))


def columns_for(kind: KindInfo) -> tuple[Column, ...]:
    spec = spec_for(kind)
    if spec:
        return spec.columns
    return core.CUSTOM_COLUMNS if kind.namespaced else core.CLUSTER_CUSTOM_COLUMNS


def renderer_for(kind: KindInfo) -> Renderer:
    spec = spec_for(kind)
    if spec:
        return spec.render
    return partial(core.render_custom, namespaced=kind.namespaced)


def custom_kind(name: str, kind: str, group: str, version: str, namespaced: bool,
                short_names: tuple[str, ...] = (), singular: str = "") -> KindInfo:
    extra = EXTRA_SHORT_NAMES.get((group, name), ())
    return KindInfo(name=name, kind=kind, group=group, version=version, namespaced=namespaced,
                    short_names=tuple(dict.fromkeys((*short_names, *extra))), verbs=_RW,
                    singular=singular)


class KindIndex:
    """Resolves what a user types after ``:`` to a kind: plural, singular, short name,
    ``plural.group``; exact matches first, then the only kind with that prefix."""

    def __init__(self, kinds: list[KindInfo]) -> None:
        self.kinds = kinds
        self._alias: dict[str, KindInfo] = {}
        for info in kinds:  # built-ins come first, so they win a clash of short names
            for alias in info.aliases():
                self._alias.setdefault(alias, info)

    def resolve(self, text: str) -> KindInfo | None:
        text = text.strip().lower()
        if not text:
            return None
        if text in self._alias:
            return self._alias[text]
        matches = {info for alias, info in self._alias.items() if alias.startswith(text)}
        return matches.pop() if len(matches) == 1 else None

    def aliases(self) -> list[str]:
        return sorted(self._alias)
