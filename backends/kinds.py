"""The one table of built-in kinds: names, aliases, verbs, columns, renderer and behaviour.

Adding a kind means adding a row here; nothing else branches on kind names: what Enter does
on a row, which live panel sits under its describe, whether its rows join the GPU requests of
pods, how a rollout of it is judged. Kinds found by discovery that are not in this table
(custom resources) get the generic renderer and the default behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from mlops_tui.backends.models import Column, KindInfo, Row, Verb
from mlops_tui.backends.render import core, pods, rollout, workloads
from mlops_tui.backends.render._common import Obj
from mlops_tui.backends.render.rollout import RolloutRule

Renderer = Callable[[Obj, float], Row]
# A renderer that also takes the GPUs that pods scheduled on the object request (nodes)
GpuJoinRenderer = Callable[[Obj, float, Any], Row]


class Drill(StrEnum):
    """What Enter does on a row of a kind (k9s's registrar keeps the same per kind)."""

    DESCRIBE = "describe"
    LOGS = "logs"
    PODS_IN_NAMESPACE = "pods-in-namespace"  # the row is a namespace
    PODS_ON_NODE = "pods-on-node"  # the row is a node
    PODS_BY_SELECTOR = "pods-by-selector"  # the row is a workload with a pod selector


@dataclass(frozen=True, slots=True)
class DetailPanel:
    """Live metrics shown under an object's describe."""

    screen: str  # a metrics Screen value: "gpu", "models"
    scope: str  # "node": the object's name is a node; "pods": its pods' name prefix

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
    # when a rollout of this kind is complete (``wait for: rollout``); None: it has none
    rollout: RolloutRule | None = None
    drill: Drill = Drill.DESCRIBE
    panel: DetailPanel | None = None
    gpu_join: GpuJoinRenderer | None = None

    def info(self, version: str | None = None) -> KindInfo:
        return KindInfo(
            name=self.name, kind=self.kind, group=self.group,
            version=version or self.versions[0], namespaced=self.namespaced,
            short_names=self.short_names, verbs=self.verbs, singular=self.kind.lower(),
        )


_MODELS_OF_PODS = DetailPanel("models", "pods")

BUILTIN_KINDS: tuple[KindSpec, ...] = (
    KindSpec("pods", "Pod", "", ("v1",), True, ("po",), _RW | {Verb.LOGS},
             pods.COLUMNS, pods.render, drill=Drill.LOGS),
    KindSpec("deployments", "Deployment", "apps", ("v1",), True, ("deploy", "dp"), _WORKLOAD,
             workloads.DEPLOYMENT_COLUMNS, workloads.render_deployment,
             drill=Drill.PODS_BY_SELECTOR, panel=_MODELS_OF_PODS, rollout=rollout.deployment),
    KindSpec("statefulsets", "StatefulSet", "apps", ("v1",), True, ("sts",), _WORKLOAD,
             workloads.STATEFULSET_COLUMNS, workloads.render_statefulset,
             drill=Drill.PODS_BY_SELECTOR, panel=_MODELS_OF_PODS, rollout=rollout.statefulset),
    KindSpec("daemonsets", "DaemonSet", "apps", ("v1",), True, ("ds",),
             _RW | {Verb.RESTART, Verb.LOGS},
             workloads.DAEMONSET_COLUMNS, workloads.render_daemonset,
             drill=Drill.PODS_BY_SELECTOR, rollout=rollout.daemonset),
    KindSpec("replicasets", "ReplicaSet", "apps", ("v1",), True, ("rs",), _RW | {Verb.SCALE},
             workloads.REPLICASET_COLUMNS, workloads.render_replicaset,
             drill=Drill.PODS_BY_SELECTOR),
    KindSpec("jobs", "Job", "batch", ("v1",), True, ("job",), _RW | {Verb.LOGS},
             workloads.JOB_COLUMNS, workloads.render_job, drill=Drill.PODS_BY_SELECTOR),
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
             core.NODE_COLUMNS, core.render_node, drill=Drill.PODS_ON_NODE,
             panel=DetailPanel("gpu", "node"), gpu_join=core.render_node),
    KindSpec("namespaces", "Namespace", "", ("v1",), False, ("ns",), _RW,
             core.NAMESPACE_COLUMNS, core.render_namespace, drill=Drill.PODS_IN_NAMESPACE),
)

BY_NAME: dict[tuple[str, str], KindSpec] = {(k.group, k.name): k for k in BUILTIN_KINDS}

# Well-known custom resources get friendlier short names than discovery gives them.
EXTRA_SHORT_NAMES: dict[tuple[str, str], tuple[str, ...]] = {
    ("serving.kserve.io", "inferenceservices"): ("isvc",),
}


def spec_for(kind: KindInfo) -> KindSpec | None:
    return BY_NAME.get((kind.group, kind.name))


def drill_for(kind: KindInfo) -> Drill:
    spec = spec_for(kind)
    return spec.drill if spec else Drill.DESCRIBE


def panel_for(kind: KindInfo) -> DetailPanel | None:
    spec = spec_for(kind)
    return spec.panel if spec else None


def gpu_join_for(kind: KindInfo) -> GpuJoinRenderer | None:
    """The renderer that joins GPU requests of pods into this kind's rows, if it has one."""
    spec = spec_for(kind)
    return spec.gpu_join if spec else None


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


def rollout_for(kind: KindInfo) -> RolloutRule | None:
    """The rule that says when a rollout of this kind is complete; None: it has none."""
    spec = spec_for(kind)
    return spec.rollout if spec else None
