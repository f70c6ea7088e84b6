"""Which pod template a rollback restores, as ``kubectl rollout undo`` finds it (pure).

kubectl (``polymorphichelpers/rollback.go``, ``deploymentRevision``): the Deployment's
history is its ReplicaSets, those it controls (an owner reference with ``controller:
true`` and its uid), each numbered by the ``deployment.kubernetes.io/revision``
annotation. Undo without a revision goes to the second highest number; with one, to that
number. The template is restored without the ``pod-template-hash`` label the controller
added, and the ReplicaSet's annotations (less the bookkeeping ones) go back on the
Deployment.
"""

from __future__ import annotations

import copy
from typing import Any

REVISION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH = "pod-template-hash"
# kubectl's annotationsToSkip: the Deployment keeps its own, the ReplicaSet's are not copied
SKIPPED_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
})
Obj = dict[str, Any]


def _meta(obj: Any) -> Obj:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    return meta if isinstance(meta, dict) else {}


def _owned(deployment: Obj, replica_set: Any) -> bool:
    """Whether the Deployment controls ``replica_set`` (by uid; by kind and name when the
    Deployment has no uid, as one built locally does not)."""
    meta, mine = _meta(replica_set), _meta(deployment)
    if meta.get("namespace", "") != mine.get("namespace", ""):
        return False
    for ref in meta.get("ownerReferences") or ():
        if not isinstance(ref, dict) or ref.get("controller") is not True:
            continue
        if mine.get("uid"):
            return ref.get("uid") == mine["uid"]
        return ref.get("kind") == "Deployment" and ref.get("name") == mine.get("name")
    return False


def revision_of(obj: Any) -> int | None:
    """An object's ``deployment.kubernetes.io/revision`` as a number, or None."""
    annotations = _meta(obj).get("annotations")
    value = annotations.get(REVISION) if isinstance(annotations, dict) else None
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if number >= 0 else None


def history(deployment: Obj, replica_sets: list[Obj]) -> dict[int, Obj]:
    """The Deployment's ReplicaSets by revision number."""
    out: dict[int, Obj] = {}
    for replica_set in replica_sets:
        number = revision_of(replica_set)
        if number is not None and _owned(deployment, replica_set):
            out[number] = replica_set
    return out


def _template(replica_set: Obj) -> Obj:
    spec = replica_set.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    if not isinstance(template, dict):
        raise ValueError(f"replica set {_meta(replica_set).get('name', '?')!r} has no pod "
                         "template")
    template = copy.deepcopy(template)
    labels = (template.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(TEMPLATE_HASH, None)
    return template


def rollback_target(deployment: Obj, replica_sets: list[Obj], revision: int | None = None
                    ) -> tuple[int, Obj]:
    """The revision a rollback goes to and the pod template to restore.

    Args:
        deployment: the Deployment as the server returns it.
        replica_sets: the namespace's ReplicaSets (those it does not control are ignored).
        revision: the revision to go to; None or 0: the previous one.

    Returns:
        (revision, pod template without the ``pod-template-hash`` label).

    Raises:
        ValueError: the Deployment is paused, has no previous revision, or not the one
            asked for.
    """
    name = _meta(deployment).get("name", "?")
    if revision is not None and revision < 0:
        raise ValueError(f"revision {revision}: must be a positive number")
    spec = deployment.get("spec") if isinstance(deployment, dict) else None
    if isinstance(spec, dict) and spec.get("paused") is True:
        raise ValueError(f"deployment {name!r} is paused: resume it before rolling back")
    found = history(deployment, replica_sets)
    if revision:
        if revision not in found:
            known = ", ".join(map(str, sorted(found))) or "none"
            raise ValueError(f"deployment {name!r} has no revision {revision} "
                             f"(revisions: {known})")
        return revision, _template(found[revision])
    if len(found) < 2:
        raise ValueError(f"deployment {name!r} has no previous revision to roll back to")
    previous = sorted(found)[-2]
    return previous, _template(found[previous])


def template_matches(deployment: Obj, template: Obj) -> bool:
    """Whether the Deployment already runs ``template`` (the hash label aside): kubectl
    then skips the rollback."""
    spec = deployment.get("spec") if isinstance(deployment, dict) else None
    current = copy.deepcopy(spec.get("template")) if isinstance(spec, dict) else None
    if not isinstance(current, dict):
        return False
    labels = (current.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(TEMPLATE_HASH, None)
    return current == template


def rollback_patch(deployment: Obj, replica_sets: list[Obj], revision: int | None = None
                   ) -> tuple[int, list[Obj]]:
    """(revision, the JSON patch kubectl sends): the template replaced, and the
    Deployment's annotations set to its own bookkeeping ones plus the ReplicaSet's others.

    Raises:
        ValueError: as :func:`rollback_target`.
    """
    number, template = rollback_target(deployment, replica_sets, revision)
    replica_set = history(deployment, replica_sets)[number]
    own = _meta(deployment).get("annotations") or {}
    theirs = _meta(replica_set).get("annotations") or {}
    annotations = {k: v for k, v in own.items() if k in SKIPPED_ANNOTATIONS}
    annotations.update({k: v for k, v in theirs.items() if k not in SKIPPED_ANNOTATIONS})
    return number, [{"op": "replace", "path": "/spec/template", "value": template},
                    {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
