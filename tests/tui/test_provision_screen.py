"""The provision screen (``:provision``), driven with keys (pilot).

The screen runs the actions ``preflight``, ``provision`` and ``destroy`` from an action
table it takes in its constructor. These tests hand it a test-local table whose requests
are the REAL request models (``backends/actions/provisioners/requests.py``: the form is
checked by the same rules a script is) and whose runs give fixed answers: a step that
fails once (then resume), a step that waits (for ctrl+c), an unknown host key, a sudo
password question, hostile text in a host's answer. Those are what the real provisioners
cannot be made to do on demand in a UI test; the real actions run against real sshd and
Ansible in tests/provisioning/. The cluster state lives in a tmp XDG_STATE_HOME.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict

import pytest
from rich.text import Text
from textual.widgets import Input, RichLog

from mlops_tui.backends.actions import ACTIONS, events, execute
from mlops_tui.backends.actions.base import ActionSpec, CheckFailed
from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.backends.actions.provisioners.requests import (
    DestroyRequest,
    PreflightRequest,
    ProvisionRequest,
)
from mlops_tui.backends.errors import ConfigError
from mlops_tui.backends.provisioning.contract import (
    HostKeyOffer,
    PlanStep,
    StepStatus,
)
from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.tui.registry import parse_command
from mlops_tui.tui.screens.provision import ProvisionScreen
from mlops_tui.tui.screens.provision_dialogs import (
    DestroyScreen,
    HostKeyScreen,
    HostScreen,
    SecretScreen,
)
from tests.tui.conftest import snapshot_app

SIZE = (120, 40)
PASSWORD = "s3cret-Hunter2"
HOSTILE = "[red]x[/]"
FINGERPRINT = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
PLAN = [PlanStep("preflight", "Preflight", "SSH to every host: facts, ports, sudo"),
        PlanStep("prerequisites", "Prerequisites", "playbooks/prerequisites.yml",
                 ("10.0.0.5",)),
        PlanStep("k3s-server", "k3s server", "playbooks/k3s.yml (server)", ("10.0.0.5",)),
        PlanStep("k3s-agents", "k3s agents", "skipped: no agents"),
        PlanStep("kubeconfig", "Kubeconfig", "merged into ~/.kube/config as a new context"),
        PlanStep("nodes-ready", "Nodes Ready", "every node Ready (at most 5m)")]


@pytest.fixture(autouse=True)
def _state_in_tmp(tmp_path, monkeypatch):
    """No test reads or writes the real user's cluster state."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


class Fakes:
    """What the fake actions were asked, and how they answer."""

    def __init__(self) -> None:
        self.log: list[tuple[str, dict]] = []
        self.secrets: list[str | None] = []
        self.fail_once: str | None = None  # a step that fails the first time
        self.block_at: str | None = None  # a step that waits until cancelled
        self.failing_check = False  # preflight: one check fails, with a fix
        self.completed: set[str] = set()

    def names(self) -> list[str]:
        return [name for name, _ in self.log]

    def table(self) -> dict[str, ActionSpec]:
        return {"preflight": ActionSpec("preflight", PreflightRequest, self.preflight,
                                        "preflight", needs_cluster=False),
                "provision": ActionSpec("provision", ProvisionRequest, self.provision,
                                        "provision", mutating=True, needs_cluster=False),
                "destroy": ActionSpec("destroy", DestroyRequest, self.destroy, "destroy",
                                      mutating=True, needs_cluster=False)}

    async def preflight(self, ctx, request):
        self.log.append(("preflight", request.model_dump()))
        reports = []
        for host in request.hosts:
            if not request.accept_new_host_keys:
                offer = HostKeyOffer(f"[{host.address}]:{host.port or 22}", "ssh-ed25519",
                                     FINGERPRINT)
                if not await ctx.ask_host_key(offer):
                    raise ConfigError(f"{host.label}: host key refused (not added to "
                                      "known_hosts)")
            yield events.progress(f"{host.label}: reachable")
            swap = ({"name": "swap", "status": "fail", "value": "2.0 GiB on",
                     "fix": "swapoff -a and remove the swap line of /etc/fstab"}
                    if self.failing_check else
                    {"name": "swap", "status": "ok", "value": "off", "fix": ""})
            reports.append({"host": host.label, "checks": [
                {"name": "sudo", "status": "ok", "value": "password", "fix": ""},
                {"name": "os", "status": "ok", "value": f"Debian {HOSTILE} \x1b[2J", "fix": ""},
                swap,
                {"name": "gpu", "status": "warn", "value": "none",
                 "fix": "no NVIDIA GPU: the gpu steps are skipped"}]})
        if self.failing_check:
            raise CheckFailed("1 check failed", data=reports)
        yield events.ok(f"{len(reports)} host(s) ready", data=reports)

    async def provision(self, ctx, request):
        self.log.append(("provision", request.model_dump()))
        if request.plan_only:
            yield events.ok("the plan", data={"plan": [asdict(step) for step in PLAN]})
            return
        for step in PLAN:
            if request.resume and step.id in self.completed:
                yield _step(step.id, StepStatus.SKIPPED, "done in an earlier run")
                continue
            yield _step(step.id, StepStatus.STARTED)
            if step.id == "prerequisites":
                self.secrets.append(await ctx.ask_secret("sudo password for 10.0.0.5"))
                yield _step(step.id, StepStatus.OUTPUT, f"TASK [swap off] {HOSTILE}",
                            host="10.0.0.5")
            if step.id == self.fail_once:
                self.fail_once = None
                yield _step(step.id, StepStatus.FAILED, "10.0.0.5: connection lost")
                raise CheckFailed(f"step {step.id} failed: 10.0.0.5: connection lost "
                                  "(provision again to resume from it)")
            if step.id == self.block_at:
                await asyncio.Event().wait()  # until cancelled
            yield _step(step.id, StepStatus.PROGRESS, "half way",
                        fraction=(PLAN.index(step) + 0.5) / len(PLAN))
            yield _step(step.id, StepStatus.CHANGED, "changed=2")
            self.completed.add(step.id)
        yield events.ok(f"cluster {request.cluster} is ready",
                        data={"context": request.cluster, "phase": "ready"})

    async def destroy(self, ctx, request):
        self.log.append(("destroy", request.model_dump()))
        for step in ("reset", "kubeconfig"):
            yield _step(step, StepStatus.STARTED)
            yield _step(step, StepStatus.CHANGED, "removed")
        yield events.ok(f"cluster {request.cluster} destroyed")


def _step(step: str, status: StepStatus, message: str = "", *, host: str = "",
          fraction: float | None = None) -> ActionEvent:
    """A provisioner step event as the provision action streams it (``_Progress``): the
    step named in ``data``, its words after ``"STEP: "``, fractions of the whole run."""
    kind = EventKind.OUTPUT if status is StepStatus.OUTPUT else EventKind.PROGRESS
    terminal = status in (StepStatus.OK, StepStatus.CHANGED, StepStatus.FAILED,
                          StepStatus.SKIPPED)
    text = f"{step}: {status.value}" + (f": {message}" if message else "") if terminal else (
        f"{step}: {message}")
    return ActionEvent(kind, text, fraction,
                       {"step": step, "status": status.value, "host": host, "data": None})


async def settle(pilot, screen, rounds: int = 200) -> None:
    """Let the running step finish (bounded)."""
    for _ in range(rounds):
        await pilot.pause()
        if not screen.busy:
            break
    await pilot.pause()


async def wait_for_screen(pilot, app, kind, rounds: int = 200):
    for _ in range(rounds):
        if isinstance(app.screen, kind):
            return app.screen
        await pilot.pause()
    raise AssertionError(f"no {kind.__name__} shown; on {type(app.screen).__name__}")


async def open_screen(app, pilot, fakes: Fakes, cluster: str = "") -> ProvisionScreen:
    screen = ProvisionScreen(cluster, actions=fakes.table())
    app.push_screen(screen)
    await pilot.pause()
    return screen


async def add_host(pilot, app, address: str = "10.0.0.5", roles: str = "") -> None:
    """``a`` on the host table, then the dialog's fields (port 22 and role server are
    filled in)."""
    app.screen.page_of("form").hosts.focus()
    await pilot.press("a")
    dialog = await wait_for_screen(pilot, app, HostScreen)
    dialog.fields["address"].input.value = address
    if roles:
        dialog.fields["roles"].input.value = roles
    await pilot.press("enter")
    await pilot.pause()


async def to_form(pilot, screen, path_index: int = 1) -> None:
    await pilot.press(*["down"] * path_index, "enter")
    await pilot.pause()
    assert screen.current == "form"


def all_text(app) -> str:
    """What every widget of every screen shows (and every input holds)."""
    parts = []
    for screen in app.screen_stack:
        for widget in screen.query("*"):
            if isinstance(widget, Input):
                parts.append(widget.value)
            elif isinstance(widget, RichLog):
                parts.extend(line.text for line in widget.lines)
            else:
                rendered = widget.render()
                parts.append(rendered.plain if isinstance(rendered, Text) else str(rendered))
    return "\n".join(parts)


async def test_walk_every_step_with_the_demo_provisioner(make_app):
    """The real action table (preflight, provision, destroy) over the demo backend's
    simulated provisioner: every page, keys only."""
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = ProvisionScreen()
        app.push_screen(screen)
        await pilot.pause()
        await to_form(pilot, screen)  # k3s-ssh
        await pilot.press(*"lab", "tab")  # on to the host table
        await pilot.press("a")
        await wait_for_screen(pilot, app, HostScreen)
        await pilot.press(*"10.0.0.5", "tab", "tab", *"ubuntu", "enter")
        await pilot.pause()
        assert app.screen is screen
        assert screen.form.hosts == [HostSpec(address="10.0.0.5", port=22, user="ubuntu")]
        assert "10.0.0.5" in screen.page_of("form").hosts.get_row_at(0)[0].plain
        await pilot.press("shift+tab", "enter")  # back in the name field: enter checks
        await settle(pilot, screen)
        preflight = screen.page_of("preflight")
        assert screen.current == "preflight", screen.page_of("form").status_text
        assert "every check passed" in preflight.status_text
        assert preflight.table.row_count == 1 and "demo" in str(preflight.fix.render())

        await pilot.press("enter")  # the plan
        await settle(pilot, screen)
        assert screen.current == "plan"
        plan = screen.page_of("plan").lines.plain
        assert "Prerequisites" in plan and "demo: nothing is installed" in plan
        assert "k3s server" in plan and "on 10.0.0.5" in plan

        await pilot.press("enter")  # apply
        await settle(pilot, screen)
        apply = screen.page_of("apply")
        states = apply.steps.states
        assert states["prerequisites"] == "ok" and states["k3s-agents"] == "skipped"
        assert "⤼ k3s agents (skipped)  no agents: a single-node cluster" in apply.steps.plain
        assert "cluster lab ready" in apply.status_text and apply.bar.progress == 100
        assert apply.open.disabled  # the demo merges no kubeconfig: nothing to open
        log = "\n".join(line.text for line in apply.events_log.lines)
        assert "demo: nothing is installed" in log

        await pilot.press("D")  # destroy, after typing the name
        await wait_for_screen(pilot, app, DestroyScreen)
        await pilot.press(*"lab", "enter")
        await settle(pilot, screen)
        assert "lab" in apply.status_text and "failed" not in apply.status_text
        assert set(apply.steps.states) == {"reset", "kubeconfig"}
        assert "✓ Uninstall" in apply.steps.plain  # titled by the step's started event
        await pilot.press("escape", "escape", "escape", "escape", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, ProvisionScreen)


async def test_host_key_and_sudo_password_dialogs(make_app):
    fakes = Fakes()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, fakes)
        await to_form(pilot, screen)
        form = screen.page_of("form")
        await pilot.press(*"lab")
        await add_host(pilot, app)
        form.cluster.input.focus()
        await pilot.press("enter")  # the form is checked; preflight runs
        dialog = await wait_for_screen(pilot, app, HostKeyScreen)
        assert FINGERPRINT in dialog.question and "ssh-ed25519" in dialog.question
        assert "[10.0.0.5]:22" in dialog.question
        assert app.focused.id == "refuse"  # No is the default
        await pilot.press("y")
        await settle(pilot, screen)
        preflight = screen.page_of("preflight")
        assert screen.current == "preflight" and "every check passed" in preflight.status_text
        # a host's answer is shown as text: no markup read, no escape sent
        os_cell = preflight.table.get_cell_at((0, 2))
        assert isinstance(os_cell, Text) and HOSTILE in os_cell.plain
        assert "\x1b" not in os_cell.plain

        await pilot.press("enter")  # on to the plan
        await settle(pilot, screen)
        request = fakes.log[-1][1]
        assert request["plan_only"] and request["cluster"] == "lab"
        assert request["hosts"][0]["address"] == "10.0.0.5"

        await pilot.press("enter")  # apply
        secret = await wait_for_screen(pilot, app, SecretScreen)
        assert secret.query_one(Input).password
        await pilot.press(*PASSWORD)
        assert PASSWORD not in str(secret.query_one(Input).render())  # never echoed
        await pilot.press("enter")
        await settle(pilot, screen)
        apply = screen.page_of("apply")
        assert fakes.secrets == [PASSWORD]
        assert "kubeconfig merged as context lab" in apply.status_text
        assert set(apply.steps.states.values()) == {"changed"}
        assert "✓ Prerequisites (changed)  changed=2" in apply.steps.plain
        assert apply.bar.progress == 100 and not apply.open.disabled
        log = "\n".join(line.text for line in apply.events_log.lines)
        assert f"TASK [swap off] {HOSTILE}" in log
        assert PASSWORD not in all_text(app)  # in no widget, input or log line
        assert fakes.names() == ["preflight", "provision", "provision"]

        await pilot.press("o")  # open the new cluster: the app switches context
        await pilot.pause()
        assert not isinstance(app.screen, ProvisionScreen)


@pytest.mark.parametrize("field, text, problem", [
    ("address", "999.1.1.1 x", "is neither an IP address nor a host name"),
    ("address", HOSTILE, "is neither an IP address nor a host name"),
    ("address", "a\x1b[2Jb", "contains control characters"),
    ("address", "", "an address is needed"),
    ("port", "70000", "the port must be at most 65,535"),
    ("port", "2" * 5000, "longer than 4,096 characters"),
    ("port", HOSTILE, "the port must be a whole number"),
    ("user", HOSTILE, "is not a valid user name"),
    ("user", "root\x07", "contains control characters"),
    ("key", HOSTILE, "no key file at '[red]x[/]'"),
    ("key", "k\x1b[31m", "contains control characters"),
    ("roles", HOSTILE, "unknown role '[red]x[/]'"),
    ("roles", "", "a host needs a role"),
    ("roles", "\u202eserver", "contains control characters"),
])
async def test_bad_host_fields_are_explained_next_to_the_field(make_app, field, text,
                                                                 problem):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, Fakes())
        await to_form(pilot, screen)
        screen.page_of("form").hosts.focus()
        await pilot.press("a")
        dialog = await wait_for_screen(pilot, app, HostScreen)
        dialog.fields["address"].input.value = "10.0.0.5"
        dialog.fields[field].input.value = text
        dialog.fields[field].input.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is dialog  # not saved
        assert problem in dialog.fields[field].problem_text
        assert screen.form.hosts == []


async def test_every_host_problem_shows_at_once(make_app):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, Fakes())
        await to_form(pilot, screen)
        screen.page_of("form").hosts.focus()
        await pilot.press("a")
        dialog = await wait_for_screen(pilot, app, HostScreen)
        for key, text in (("address", "[b]x"), ("port", "70000"), ("user", "root[/]"),
                          ("key", "~/nope"), ("roles", "boss")):
            dialog.fields[key].input.value = text
        await pilot.press("enter")
        await pilot.pause()
        shown = {key: field.problem_text for key, field in dialog.fields.items()}
        assert all(shown.values()), shown
        assert "unknown role 'boss'" in shown["roles"]


@pytest.mark.parametrize("cluster, airgap, problem_field, problem", [
    ("x" * 10_000, "", "cluster", "longer than 4,096 characters"),
    ("x" * 100, "", "cluster", "at most 63 characters"),
    (HOSTILE, "", "cluster", "lower-case letters"),
    ("lab\x1b[2J", "", "cluster", "contains control characters"),
    ("lab", HOSTILE, "airgap", "no folder at '[red]x[/]'"),
    ("lab", "/tmp/\x00x", "airgap", "contains control characters"),
])
async def test_bad_form_fields_are_explained(make_app, cluster, airgap, problem_field,
                                             problem):
    fakes = Fakes()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, fakes)
        await to_form(pilot, screen)
        await add_host(pilot, app)
        form = screen.page_of("form")
        form.cluster.input.value = cluster
        form.airgap.input.value = airgap
        form.cluster.input.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert screen.current == "form" and fakes.log == []
        assert problem in getattr(form, problem_field).problem_text
        assert "field(s) to fix" in form.status_text


async def test_hosts_without_a_server_role_are_refused(make_app):
    fakes = Fakes()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, fakes)
        await to_form(pilot, screen)
        form = screen.page_of("form")
        form.cluster.input.value = "lab"
        form.cluster.input.focus()
        await pilot.press("enter")  # no host at all
        await pilot.pause()
        assert "k3s-ssh needs at least one host" in str(form.hosts_problem.render())
        await add_host(pilot, app, roles="agent")
        await add_host(pilot, app, address="10.0.0.6", roles="worker")
        assert form.hosts.row_count == 2
        form.cluster.input.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert "one host needs the server role" in str(form.hosts_problem.render())
        assert fakes.log == [] and screen.current == "form"
        form.hosts.focus()
        await pilot.press("x")  # remove one
        await pilot.pause()
        assert len(screen.form.hosts) == 1


async def test_refused_host_key_fails_preflight(make_app):
    fakes = Fakes()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, fakes)
        await to_form(pilot, screen)
        await pilot.press(*"lab")
        await add_host(pilot, app)
        screen.page_of("form").cluster.input.focus()
        await pilot.press("enter")
        await wait_for_screen(pilot, app, HostKeyScreen)
        await pilot.press("enter")  # enter on the default button: refuse
        await settle(pilot, screen)
        preflight = screen.page_of("preflight")
        assert "10.0.0.5: host key refused" in preflight.status_text
        assert "preflight" not in screen.done
        await pilot.press("enter")  # no plan after a failed preflight
        await pilot.pause()
        assert screen.current == "preflight"


async def test_a_failed_check_shows_its_fix(make_app):
    fakes = Fakes()
    fakes.failing_check = True
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, fakes)
        await to_form(pilot, screen)
        await pilot.press(*"lab")
        await add_host(pilot, app)
        form = screen.page_of("form")
        form.accept_new.value = True  # no host key question
        form.cluster.input.focus()
        await pilot.press("enter")
        await settle(pilot, screen)
        preflight = screen.page_of("preflight")
        assert "1 check failed" in preflight.status_text
        assert "the selected cell says what to do" in preflight.status_text
        fix = str(preflight.fix.render())
        assert "swap" in fix and "fix: swapoff -a" in fix  # the failing cell is selected
        assert fakes.log[0][1]["accept_new_host_keys"] is True


async def test_a_failed_step_then_resume(make_app):
    fakes = Fakes()
    fakes.fail_once = "k3s-server"
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_apply(app, pilot, fakes)
        apply = screen.page_of("apply")
        assert apply.steps.states["k3s-server"] == "failed"
        assert "step k3s-server failed: 10.0.0.5: connection lost" in apply.status_text
        assert "r resumes" in apply.status_text and not apply.resume.disabled
        assert apply.steps.states["kubeconfig"] == "pending"
        await pilot.press("r")
        await settle(pilot, screen)
        assert fakes.log[-1][1]["resume"] is True
        states = apply.steps.states
        assert states["prerequisites"] == "skipped" and states["k3s-server"] == "changed"
        assert "⤼ Prerequisites (skipped)  done in an earlier run" in apply.steps.plain
        assert "kubeconfig merged as context lab" in apply.status_text


async def to_apply(app, pilot, fakes: Fakes, secret: str = PASSWORD) -> ProvisionScreen:
    """Through the form (host key accepted by the checkbox), preflight and plan, to a
    finished (or failed) apply."""
    screen = await open_screen(app, pilot, fakes)
    await to_form(pilot, screen)
    await pilot.press(*"lab")
    await add_host(pilot, app)
    form = screen.page_of("form")
    form.accept_new.value = True
    form.cluster.input.focus()
    await pilot.press("enter")
    await settle(pilot, screen)
    await pilot.press("enter")
    await settle(pilot, screen)
    await pilot.press("enter")
    await wait_for_screen(pilot, app, SecretScreen)
    await pilot.press(*secret, "enter")
    await settle(pilot, screen)
    return screen


async def test_ctrl_c_cancels_a_running_apply_and_resume_continues(make_app):
    fakes = Fakes()
    fakes.block_at = "kubeconfig"
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_apply(app, pilot, fakes)
        await pilot.pause()
        assert screen.busy
        await pilot.press("ctrl+c")
        await settle(pilot, screen)
        apply = screen.page_of("apply")
        assert app.is_running and app.screen is screen
        assert apply.steps.states["kubeconfig"] == "interrupted"
        assert "apply cancelled" in apply.status_text and not apply.resume.disabled
        fakes.block_at = None
        await pilot.press("r")
        await settle(pilot, screen)
        assert apply.steps.states["kubeconfig"] == "changed"
        assert apply.steps.states["k3s-server"] == "skipped"


async def test_destroy_needs_the_exact_cluster_name(make_app):
    fakes = Fakes()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_apply(app, pilot, fakes)
        await pilot.press("D")
        dialog = await wait_for_screen(pilot, app, DestroyScreen)
        await pilot.press("l", "a")
        await pilot.pause()
        assert dialog.button.disabled
        await pilot.press("enter")  # refused: not the name
        await pilot.pause()
        assert app.screen is dialog and "destroy" not in fakes.names()
        await pilot.press("b", "x")
        await pilot.pause()
        assert dialog.button.disabled  # "labx": not the name either
        await pilot.press("backspace")
        await pilot.pause()
        assert not dialog.button.disabled
        await pilot.press("enter")
        await settle(pilot, screen)
        assert fakes.log[-1] == ("destroy", {"cluster": "lab", "confirm": "lab"})
        apply = screen.page_of("apply")
        assert "cluster lab destroyed" in apply.status_text
        assert apply.steps.states == {"reset": "changed", "kubeconfig": "changed"}


async def test_escape_cancels_destroy(make_app):
    fakes = Fakes()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await to_apply(app, pilot, fakes)
        await pilot.press("D")
        await wait_for_screen(pilot, app, DestroyScreen)
        await pilot.press(*"lab", "escape")
        await settle(pilot, screen)
        assert app.screen is screen and "destroy" not in fakes.names()


async def test_refused_password_is_nothing_stored(make_app):
    """esc in the password dialog: the action gets None (it fails its own way)."""
    fakes = Fakes()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        await to_apply(app, pilot, fakes, secret="")
        assert fakes.secrets == [""]  # enter on an empty field: an empty answer
    fakes2 = Fakes()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, fakes2)
        screen.form.cluster = "lab"
        answer = asyncio.ensure_future(app.ask_secret("sudo password for 10.0.0.5"))
        await wait_for_screen(pilot, app, SecretScreen)
        await pilot.press(*"abc", "escape")
        await pilot.pause()
        assert await answer is None and app.screen is screen


async def test_k3s_local_plans_without_hosts(make_app):
    fakes = Fakes()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, fakes)
        await to_form(pilot, screen, path_index=0)
        form = screen.page_of("form")
        assert not form.hosts.display
        await pilot.press(*"local", "enter")
        await settle(pilot, screen)
        assert screen.current == "plan"
        assert fakes.log == [("provision", fakes.log[0][1])]
        assert fakes.log[0][1]["path"] == "k3s-local" and fakes.log[0][1]["hosts"] == []


async def test_readonly_session_plans_but_never_applies(make_app):
    fakes = Fakes()
    app = await make_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, fakes)
        await to_form(pilot, screen, path_index=0)
        await pilot.press(*"local", "enter")
        await settle(pilot, screen)
        plan = screen.page_of("plan")
        assert plan.apply.disabled and "read-only session" in str(plan.note.render())
        await pilot.press("enter")
        await pilot.pause()
        assert screen.current == "plan" and fakes.names() == ["provision"]


def made_before(app, monkeypatch) -> None:
    """The session's provisioner source knows a cluster whose apply failed (the demo's
    never fail on their own: its list is given here)."""
    from mlops_tui.backends.provisioning.state import ClusterState

    failed = ClusterState(
        cluster="lab", path="k3s-ssh", hosts=[HostSpec(address="10.0.0.5")],
        options={"gpu": True}, phase="failed", completed=["preflight", "prerequisites"],
        last_error="k3s-server: 10.0.0.5: connection lost")
    monkeypatch.setattr(app.backend, "clusters", lambda: [failed])


async def test_the_demo_lists_its_own_clusters_not_the_state_directory(make_app):
    from mlops_tui.backends.provisioning.state import ClusterState, StateStore

    # a real provisioner's cluster: the demo cannot act on it, so it must not offer it
    StateStore().save(ClusterState(cluster="real", path="k3s-ssh",
                                   hosts=[HostSpec(address="10.0.0.9")], phase="ready"))
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        async for _ in execute(ACTIONS["provision"], app.action_context(),
                               ACTIONS["provision"].request(
                                   cluster="demo1", path="k3s-ssh",
                                   hosts=[{"address": "10.0.0.5"}])):
            pass
        screen = ProvisionScreen()
        app.push_screen(screen)
        await pilot.pause()
        assert set(screen.clusters) == {"demo1"}
        assert screen.form.path == "k3s-ssh"
        screen.load_cluster("demo1")
        await pilot.pause()
        assert screen.form.hosts[0].address == "10.0.0.5"


async def test_a_cluster_made_before_opens_for_resume_or_destroy(make_app, monkeypatch):
    fakes = Fakes()
    app = await make_app()
    made_before(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, fakes)
        assert "made before: k3s-ssh, failed" in screen.page_of("path").choices.get_option(
            "cluster:lab").prompt.plain
        await pilot.press(*["down"] * 3, "enter")
        await pilot.pause()
        apply = screen.page_of("apply")
        assert screen.current == "apply" and "lab: failed" in apply.status_text
        assert "connection lost" in apply.status_text and not apply.resume.disabled
        assert screen.form.gpu and screen.form.hosts[0].address == "10.0.0.5"
        await pilot.press("D")
        await wait_for_screen(pilot, app, DestroyScreen)
        await pilot.press(*"lab", "enter")
        await settle(pilot, screen)
        assert fakes.log[-1] == ("destroy", {"cluster": "lab", "confirm": "lab"})
    app = await make_app()
    made_before(app, monkeypatch)
    async with app.run_test(size=SIZE) as pilot:  # :provision NAME, and an unknown one
        screen = await open_screen(app, pilot, Fakes(), cluster="lab")
        assert screen.current == "apply"
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_screen(app, pilot, Fakes(), cluster="nope")
        assert screen.current == "path"
        assert "no cluster named 'nope'" in screen.page_of("path").status_text


async def test_the_command_opens_the_screen(make_app):
    assert parse_command("provision lab").argument == "lab"
    assert parse_command("clusters").name == "clusters"
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(":", *"provision", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ProvisionScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ProvisionScreen)


# -- snapshots (no wall-clock time on these pages) ---------------------------------------------
def _screen_at(page: str, fakes: Fakes):
    async def run_before(pilot) -> None:
        app = pilot.app
        if page == "preflight":
            fakes.failing_check = True
        screen = ProvisionScreen(actions=fakes.table())
        app.push_screen(screen)
        await pilot.pause()
        await pilot.press("down", "enter", *"lab")
        screen.form.hosts.append(HostSpec(address="10.0.0.5", user="ubuntu"))
        form = screen.page_of("form")
        form.hosts.set_hosts(screen.form.hosts)
        form.accept_new.value = True
        form.cluster.input.focus()
        await pilot.press("enter")
        await settle(pilot, screen)
        if page == "preflight":
            return
        await pilot.press("enter")
        await settle(pilot, screen)
        if page == "plan":
            return
        await pilot.press("enter")
        await wait_for_screen(pilot, app, SecretScreen)
        await pilot.press(*PASSWORD, "enter")
        await settle(pilot, screen)

    return run_before


@pytest.mark.parametrize("page", ["preflight", "plan", "apply"])
def test_snapshot(snap_compare, page):
    assert snap_compare(snapshot_app(), run_before=_screen_at(page, Fakes()),
                        terminal_size=SIZE)


# -- the real preflight over SSH: a real sshd of the test's own --------------------------------
class _NotAProvisionerSource:
    """The frozen demo backend without its simulated provisioner and preflight, so the
    real preflight action connects over SSH (an attribute lookup that fails is how a
    runtime-checkable protocol says "not this capability")."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def __getattr__(self, name: str):
        if name in ("provisioner", "preflight"):
            raise AttributeError(name)
        return getattr(self._inner, name)


async def ssh_app():
    """An app whose backend makes no provisioners of its own: the real actions SSH."""
    from mlops_tui.backends.protocols import ProvisionerSource
    from mlops_tui.tui.app import MlopsApp
    from tests.tui.conftest import NOW, frozen_backend, in_utc

    inner = frozen_backend()
    await inner.connect()
    backend = _NotAProvisionerSource(inner)
    assert not isinstance(backend, ProvisionerSource)
    return in_utc(MlopsApp(backend, version="test", clock=lambda: NOW))


async def real_preflight(pilot, app, host: HostSpec, *, accept_new: bool) -> ProvisionScreen:
    """The screen, one host, enter: the real preflight starts."""
    screen = ProvisionScreen()
    app.push_screen(screen)
    await pilot.pause()
    await to_form(pilot, screen)
    screen.form.hosts.append(host)
    form = screen.page_of("form")
    form.hosts.set_hosts(screen.form.hosts)
    form.cluster.input.value = "lab"
    form.accept_new.value = accept_new
    form.cluster.input.focus()
    await pilot.press("enter")
    return screen


async def settle_ssh(pilot, screen) -> None:
    for _ in range(600):  # the checks run over SSH (bounded: ~60 s)
        await pilot.pause(0.1)
        if not screen.busy:
            break


@pytest.mark.parametrize("accept", [True, False])
async def test_real_preflight_asks_about_the_real_host_key(
        sshd_host, tmp_path, monkeypatch, accept):
    """preflight (the real action) against a real sshd: its unknown host key is shown with
    the fingerprint ssh-keygen gives; accepted, it is written to ~/.ssh/known_hosts (HOME:
    a tmp dir) and the checks come back; refused, nothing is written and the host is named."""
    from tests.servers.sshd import fingerprint

    monkeypatch.setenv("HOME", str(tmp_path))
    app = await ssh_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await real_preflight(pilot, app, HostSpec(
            address="127.0.0.1", port=sshd_host.port, user="root",
            key=str(sshd_host.client_key)), accept_new=False)
        dialog = await wait_for_screen(pilot, app, HostKeyScreen, rounds=2000)
        expected = fingerprint(sshd_host.host_key.with_suffix(".pub"))
        assert expected in dialog.question and "ssh-ed25519" in dialog.question
        assert sshd_host.known_hosts_name in dialog.question
        await pilot.press("y" if accept else "n")
        await settle_ssh(pilot, screen)
        preflight = screen.page_of("preflight")
        known_hosts = tmp_path / ".ssh" / "known_hosts"
        if accept:
            assert sshd_host.host_key_line.split()[2] in known_hosts.read_text()
            assert preflight.table.row_count == 1, preflight.status_text
            assert preflight.columns  # the real checks' names
        else:
            assert not known_hosts.exists() or sshd_host.host_key_line.split()[2] not in (
                known_hosts.read_text())
            assert "127.0.0.1" in preflight.status_text
            assert "preflight" not in screen.done


async def test_real_sudo_password_is_asked_and_never_shown(sshd_host, sudo_user,
                                                           tmp_path, monkeypatch):
    """A real user whose sudo asks for a password: the real preflight asks the app, the
    dialog never echoes it, and it is in no widget, input, log line or state file after."""
    monkeypatch.setenv("HOME", str(tmp_path))
    app = await ssh_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await real_preflight(pilot, app, HostSpec(
            address="127.0.0.1", port=sshd_host.port, user=sudo_user.name,
            key=str(sshd_host.client_key)), accept_new=True)
        dialog = await wait_for_screen(pilot, app, SecretScreen, rounds=2000)
        assert "127.0.0.1" in dialog.prompt
        await pilot.press(*sudo_user.password)
        assert sudo_user.password not in str(dialog.query_one(Input).render())
        await pilot.press("enter")
        await settle_ssh(pilot, screen)
        preflight = screen.page_of("preflight")
        assert preflight.table.row_count == 1, preflight.status_text
        sudo = next(h.check("sudo") for h in preflight.hosts)
        assert sudo is not None and sudo.status == "ok", sudo
        assert sudo_user.password not in all_text(app)
    for path in tmp_path.rglob("*"):  # HOME and the XDG state dir: nothing kept it
        if path.is_file():
            assert sudo_user.password.encode() not in path.read_bytes(), path
