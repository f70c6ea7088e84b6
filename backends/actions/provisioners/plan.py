"""The step list of every path (k3s and kubeadm differ in names, playbook and files only).

Apply: preflight → prerequisites → SERVER (k3s-server | kubeadm-init) → AGENTS (k3s-agents
| kubeadm-join; skipped without agents) → gpu (skipped with the reason) → kubeconfig →
nodes-ready → gpu-smoke → monitoring. Destroy: reset → kubeconfig.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from mlops_tui.backends.actions.provisioners import cluster_steps, steps
from mlops_tui.backends.actions.provisioners.base import GPU_HOSTS
from mlops_tui.backends.provisioning.contract import PlanStep, Step, StepContext, StepEvent

if TYPE_CHECKING:
    from mlops_tui.backends.actions.provisioners.base import ClusterProvisioner


def apply_steps(p: ClusterProvisioner) -> list[Step]:
    s = p.settings
    hosts, servers = p.host_labels(), tuple(h.label for h in p.servers()) or p.host_labels()
    agents = tuple(h.label for h in p.agents())
    book = p.playbook_name
    bundle = f", air-gapped from {s.airgap}" if s.airgap else ""
    return [
        Step(PlanStep("preflight", "Preflight checks",
                      "SSH, sudo, CPU / memory / disk, swap, cgroups, ports, GPUs", hosts),
             steps.preflight(p, p.preflight_path)),
        Step(PlanStep("prerequisites", "Prerequisites",
                      "prerequisites.yml: kernel modules, sysctl, swap off"
                      + (", containerd" if p.install_containerd else ""), hosts),
             steps.playbook(p, "prerequisites", "prerequisites.yml")),
        Step(PlanStep(p.server_step, p.server_title, f"{book} on the server{bundle}", servers),
             steps.playbook(p, p.server_step, book, limit="server")),
        Step(PlanStep(p.agents_step, p.agents_title, f"{book}: the agents join" if agents
                      else "no agents: skipped", agents), _agents(p)),
        Step(PlanStep("gpu", "GPU enablement",
                      "gpu.yml: NVIDIA container toolkit and device plugin on the hosts "
                      "with GPUs" if s.gpu else "gpu: false: skipped", hosts), _gpu(p)),
        Step(PlanStep("kubeconfig", "Kubeconfig",
                      f"{p.admin_kubeconfig} merged into your kubeconfig as context "
                      f"{p.cluster}"), cluster_steps.fetch_kubeconfig(p, p.admin_kubeconfig)),
        Step(PlanStep("nodes-ready", "Nodes Ready", "every host's node Ready"),
             cluster_steps.nodes_ready(p)),
        Step(PlanStep("gpu-smoke", "GPU smoke check",
                      "a pod requesting nvidia.com/gpu runs nvidia-smi"),
             cluster_steps.gpu_check(p)),
        Step(PlanStep("monitoring", "Monitoring",
                      "Prometheus, DCGM exporter, node-exporter, Grafana"
                      if s.monitoring else "monitoring: false: skipped"),
             cluster_steps.monitoring(p)),
    ]


def destroy_steps(p: ClusterProvisioner) -> list[Step]:
    return [
        Step(PlanStep("reset", "Uninstall", f"reset.yml: {p.distribution} removed from every "
                      "host, and what prerequisites added", p.host_labels(), destroys=True),
             steps.playbook(p, "reset", "reset.yml")),
        Step(PlanStep("kubeconfig", "Kubeconfig context removed",
                      f"context {p.cluster} leaves your kubeconfig", destroys=True),
             cluster_steps.forget_kubeconfig(p)),
    ]


def _agents(p: ClusterProvisioner):
    run = steps.playbook(p, p.agents_step, p.playbook_name)

    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        steps.skip_unless(bool(p.agents()), "no agents: a single-node cluster")
        async for event in run(ctx):
            yield event
    return body


def _gpu(p: ClusterProvisioner):
    async def body(ctx: StepContext) -> AsyncIterator[StepEvent]:
        steps.skip_unless(p.settings.gpu, "gpu: false in the request")
        gpu_hosts = sorted(ctx.scratch.get(GPU_HOSTS) or {})
        steps.skip_unless(bool(gpu_hosts), "preflight found no GPU on any host")
        # no limit: gpu.yml finds the GPU hosts itself and deploys the device plugin from
        # the first server, which may have none
        async for event in steps.playbook(p, "gpu", "gpu.yml")(ctx):
            yield event
    return body
