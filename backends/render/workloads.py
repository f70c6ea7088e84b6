"""Controllers: deployments, statefulsets, daemonsets, replicasets, jobs, cronjobs."""

from __future__ import annotations

from mlops_tui.backends.models import Column, Row
from mlops_tui.backends.render._common import (
    AGE,
    NAME,
    NS,
    Obj,
    age_of,
    condition,
    gpu_text,
    human_age,
    parse_time,
    pod_gpu_request,
)


def _row(obj: Obj, now: float, cells: tuple[str, ...], keys: tuple, state: str) -> Row:
    meta = obj["metadata"]
    age, created = age_of(meta, now)
    match = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return Row(
        uid=meta["uid"], name=meta["name"], namespace=meta.get("namespace", ""),
        cells=(meta.get("namespace", ""), meta["name"], *cells, age),
        labels=meta.get("labels") or {},
        sort_keys=("", "", *keys, created), status=state,
        selector=",".join(f"{k}={v}" for k, v in sorted(match.items())),
    )


def _template_gpus(obj: Obj) -> str:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    gpus, mig = pod_gpu_request(spec)
    return gpu_text(gpus, mig) if gpus or mig else ""


def _health(ready: int, want: int) -> str:
    if want == 0:
        return ""
    return "ok" if ready >= want else ("error" if ready == 0 else "warn")


DEPLOYMENT_COLUMNS = (NS, NAME, Column("READY", numeric=True), Column("UP-TO-DATE", numeric=True),
                      Column("AVAILABLE", numeric=True), Column("GPU/POD"), AGE)


def render_deployment(obj: Obj, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    avail = int(status.get("availableReplicas") or 0)
    return _row(obj, now,
                (f"{ready}/{want}", str(updated), str(avail), _template_gpus(obj)),
                (ready, updated, avail, ""), _health(ready, want))


STATEFULSET_COLUMNS = (NS, NAME, Column("READY", numeric=True), Column("GPU/POD"), AGE)


def render_statefulset(obj: Obj, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = int(spec.get("replicas") if spec.get("replicas") is not None else 1)
    ready = int(status.get("readyReplicas") or 0)
    return _row(obj, now, (f"{ready}/{want}", _template_gpus(obj)), (ready, ""),
                _health(ready, want))


DAEMONSET_COLUMNS = (NS, NAME, Column("DESIRED", numeric=True), Column("CURRENT", numeric=True),
                     Column("READY", numeric=True), Column("UP-TO-DATE", numeric=True),
                     Column("AVAILABLE", numeric=True), AGE)


def render_daemonset(obj: Obj, now: float) -> Row:
    status = obj.get("status") or {}
    nums = [int(status.get(k) or 0) for k in (
        "desiredNumberScheduled", "currentNumberScheduled", "numberReady",
        "updatedNumberScheduled", "numberAvailable")]
    return _row(obj, now, tuple(map(str, nums)), tuple(nums), _health(nums[2], nums[0]))


REPLICASET_COLUMNS = (NS, NAME, Column("DESIRED", numeric=True), Column("CURRENT", numeric=True),
                      Column("READY", numeric=True), AGE)


def render_replicaset(obj: Obj, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    nums = [int(spec.get("replicas") or 0), int(status.get("replicas") or 0),
            int(status.get("readyReplicas") or 0)]
    return _row(obj, now, tuple(map(str, nums)), tuple(nums), _health(nums[2], nums[0]))


JOB_COLUMNS = (NS, NAME, Column("COMPLETIONS"), Column("DURATION", numeric=True), AGE)


def render_job(obj: Obj, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("completions")
    done = int(status.get("succeeded") or 0)
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = ((end or now) - start) if start else 0.0
    failed = condition(status, "Failed") == "True"
    state = "error" if failed else ("done" if end else "warn")
    parallel = int(spec.get("parallelism") or 0)
    # kubectl: "1/1" for one pod at a time, "0/1 of 3" for a work queue of three
    completions = (f"{done}/{want}" if want is not None
                   else f"{done}/1 of {parallel}" if parallel > 1 else f"{done}/1")
    return _row(obj, now, (completions, human_age(duration) if start else ""),
                ("", duration), state)


CRONJOB_COLUMNS = (NS, NAME, Column("SCHEDULE"), Column("SUSPEND"), Column("ACTIVE", numeric=True),
                   Column("LAST SCHEDULE", numeric=True), AGE)


def render_cronjob(obj: Obj, now: float) -> Row:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    active = len(status.get("active") or ())
    last = parse_time(status.get("lastScheduleTime"))
    suspend = spec.get("suspend")
    return _row(obj, now, (
        spec.get("schedule", ""), "<unset>" if suspend is None else str(bool(suspend)),
        str(active), human_age(now - last) if last else "<none>"), ("", "", active, -last), "")
