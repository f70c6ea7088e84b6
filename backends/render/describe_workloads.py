"""``kubectl describe`` of the controllers: deployments, replica sets, stateful sets, daemon
sets, jobs and cron jobs. Their pods and replica sets come from the related-objects lookup."""

from __future__ import annotations

from collections import Counter

from mlops_tui.backends.render._common import Obj, human_age, parse_time
from mlops_tui.backends.render._layout import (
    NONE,
    Text,
    conditions,
    controller_of,
    head,
    pairs,
    when,
)
from mlops_tui.backends.render.describe_pods import pod_template
from mlops_tui.backends.render.related import Related

REVISION = "deployment.kubernetes.io/revision"
_CONDITION_COLUMNS = ("Type", "Status", "Reason")


def selector_text(selector: Obj | None) -> str:
    """A label selector as kubectl prints it: ``app=x,tier in (a,b),!legacy``."""
    selector = selector or {}
    terms = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or ()
        terms.append({"In": f"{key} in ({','.join(sorted(values))})",
                      "NotIn": f"{key} notin ({','.join(sorted(values))})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(op, f"{key} {op}"))
    return ",".join(terms) or NONE


def _pods_status(pods: list[Obj] | tuple[Obj, ...]) -> str:
    phases = Counter((p.get("status") or {}).get("phase", "") for p in pods)
    return (f"{phases['Running']} Running / {phases['Pending']} Waiting / "
            f"{phases['Succeeded']} Succeeded / {phases['Failed']} Failed")


def _controller_head(out: Text, obj: Obj) -> None:
    head(out, obj)
    out.kv("Selector", selector_text((obj.get("spec") or {}).get("selector")))
    if controller_of(obj):
        out.kv("Controlled By", controller_of(obj))


def _replica_sets(out: Text, dep: Obj, sets: list[Obj]) -> None:
    """OldReplicaSets / NewReplicaSet: the new one carries the deployment's revision."""
    revision = ((dep.get("metadata") or {}).get("annotations") or {}).get(REVISION)

    def is_new(rs: Obj) -> bool:
        return ((rs["metadata"].get("annotations") or {}).get(REVISION) == revision
                if revision else bool((rs.get("spec") or {}).get("replicas")))

    def text(found: list[Obj]) -> str:
        return ", ".join(f"{rs['metadata']['name']} ({(rs.get('status') or {}).get('replicas', 0)}"
                         f"/{(rs.get('spec') or {}).get('replicas', 0)} replicas created)"
                         for rs in found) or NONE

    out.kv("OldReplicaSets", text([rs for rs in sets if not is_new(rs)]))
    out.kv("NewReplicaSet", text([rs for rs in sets if is_new(rs)]))


def describe_deployment(out: Text, obj: Obj, related: Related, now: float) -> None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    _controller_head(out, obj)
    out.kv("Replicas", f"{spec.get('replicas', 1)} desired | "
                       f"{status.get('updatedReplicas', 0)} updated | "
                       f"{status.get('replicas', 0)} total | "
                       f"{status.get('availableReplicas', 0)} available | "
                       f"{status.get('unavailableReplicas', 0)} unavailable")
    strategy = spec.get("strategy") or {}
    out.kv("StrategyType", strategy.get("type", ""))
    out.kv("MinReadySeconds", spec.get("minReadySeconds", 0))
    rolling = strategy.get("rollingUpdate")
    if rolling:
        out.kv("RollingUpdateStrategy", f"{rolling.get('maxUnavailable', '25%')} max unavailable, "
                                        f"{rolling.get('maxSurge', '25%')} max surge")
    pod_template(out, spec.get("template") or {})
    conditions(out, status, _CONDITION_COLUMNS)
    _replica_sets(out, obj, list(related.owned(obj, "replicasets")))


def describe_replicaset(out: Text, obj: Obj, related: Related, now: float) -> None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    _controller_head(out, obj)
    out.kv("Replicas", f"{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired")
    out.kv("Pods Status", _pods_status(list(related.owned(obj, "pods"))))
    pod_template(out, spec.get("template") or {})
    conditions(out, status, _CONDITION_COLUMNS)


def describe_statefulset(out: Text, obj: Obj, related: Related, now: float) -> None:
    spec = obj.get("spec") or {}
    _controller_head(out, obj)
    out.kv("Replicas", f"{spec.get('replicas', 1)} desired | "
                       f"{(obj.get('status') or {}).get('replicas', 0)} total")
    out.kv("Update Strategy", (spec.get("updateStrategy") or {}).get("type", ""))
    out.kv("Pods Status", _pods_status(list(related.owned(obj, "pods"))))
    pod_template(out, spec.get("template") or {})
    claims = spec.get("volumeClaimTemplates") or ()
    out.kv("Volume Claims", "\n".join(c["metadata"].get("name", "") for c in claims) or NONE)


def describe_daemonset(out: Text, obj: Obj, related: Related, now: float) -> None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    _controller_head(out, obj)
    tpl_spec = (spec.get("template") or {}).get("spec") or {}
    out.kv("Node-Selector", pairs(tpl_spec.get("nodeSelector")))
    for label, field in (("Desired Number of Nodes Scheduled", "desiredNumberScheduled"),
                         ("Current Number of Nodes Scheduled", "currentNumberScheduled"),
                         ("Number of Nodes Scheduled with Up-to-date Pods",
                          "updatedNumberScheduled"),
                         ("Number of Nodes Scheduled with Available Pods", "numberAvailable"),
                         ("Number of Nodes Misscheduled", "numberMisscheduled")):
        out.kv(label, status.get(field, 0))
    out.kv("Pods Status", _pods_status(list(related.owned(obj, "pods"))))
    pod_template(out, spec.get("template") or {})


def describe_job(out: Text, obj: Obj, related: Related, now: float) -> None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    _controller_head(out, obj)
    out.kv("Parallelism", spec.get("parallelism", 1))
    out.kv("Completions", spec.get("completions", NONE))
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    if start:
        out.kv("Start Time", when(status["startTime"]))
    if end:
        out.kv("Completed At", when(status["completionTime"]))
        out.kv("Duration", human_age(end - start))
    if spec.get("activeDeadlineSeconds"):
        out.kv("Active Deadline Seconds", f"{spec['activeDeadlineSeconds']}s")
    out.kv("Pods Statuses", f"{status.get('active', 0)} Running / "
                            f"{status.get('succeeded', 0)} Succeeded / "
                            f"{status.get('failed', 0)} Failed")
    pod_template(out, spec.get("template") or {})
    conditions(out, status, _CONDITION_COLUMNS)


def describe_cronjob(out: Text, obj: Obj, related: Related, now: float) -> None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    head(out, obj)
    out.kv("Schedule", spec.get("schedule", ""))
    out.kv("Concurrency Policy", spec.get("concurrencyPolicy", "Allow"))
    suspend = spec.get("suspend")
    out.kv("Suspend", "<unset>" if suspend is None else str(bool(suspend)))
    out.kv("Successful Job History Limit", spec.get("successfulJobsHistoryLimit", "<unset>"))
    out.kv("Failed Job History Limit", spec.get("failedJobsHistoryLimit", "<unset>"))
    out.kv("Starting Deadline Seconds", spec.get("startingDeadlineSeconds", "<unset>"))
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    out.kv("Parallelism", job_spec.get("parallelism", "<unset>"))
    out.kv("Completions", job_spec.get("completions", "<unset>"))
    pod_template(out, job_spec.get("template") or {})
    out.kv("Last Schedule Time", when(status["lastScheduleTime"])
           if status.get("lastScheduleTime") else "<unset>")
    out.kv("Active Jobs", ", ".join(ref.get("name", "") for ref in status.get("active") or ())
           or NONE)
