"""The deploy wizard, driven with keys (pilot).

Most tests run the wizard over the frozen demo backend with the test-local action table of
``deploy_fakes.py`` (the screen takes its table in its constructor): it gives fixed answers,
a rollout that waits (for cancellation) and hostile text in a server's answer, which the
real actions cannot be made to give on demand. The tests marked ``apiserver`` run the real
action table against the real kube-apiserver: the preview is a real server-side dry run.
"""

from __future__ import annotations

import pytest
from textual.widgets import OptionList

from mlops_tui.tui.screens.deploy import KSERVE_MISSING, READONLY_REASON, DeployScreen
from tests.tui import deploy_fakes as fakes
from tests.tui.conftest import snapshot_app

SIZE = (130, 45)
HOSTILE = "[b]x[/b]"


async def open_wizard(app, pilot, actions, namespace: str = "default") -> DeployScreen:
    screen = DeployScreen(namespace, actions=actions)
    app.push_screen(screen)
    await pilot.pause()
    return screen


async def settle(pilot, screen: DeployScreen, rounds: int = 200) -> None:
    """Let the running step finish (bounded)."""
    for _ in range(rounds):
        await pilot.pause()
        if not screen.busy:
            break
    await pilot.pause()


def text_of(widget) -> str:
    return str(widget.render())


async def to_settings(pilot, screen: DeployScreen, repository: str = "./models/ResNet") -> None:
    await pilot.press(*repository, "enter")
    await settle(pilot, screen)
    assert screen.current == "runtime"
    await pilot.press("enter")
    await pilot.pause()
    assert screen.current == "settings"


async def test_walk_the_wizard_with_keys(make_app):
    calls = fakes.Calls()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(calls))
        await to_settings(pilot, screen)
        fields = screen.settings.fields
        # a name from the repository's folder, the model that the check found
        assert fields["name"].value == "resnet" and fields["model"].value == "resnet50"
        await pilot.press("end", "backspace", "2", "enter")  # replicas 1 -> 2
        await settle(pilot, screen)
        assert screen.current == "preview"
        preview = screen.preview.lines.plain
        assert "kind: Deployment" in preview and "+  replicas: 2" in preview
        assert "# diff against the cluster" in preview
        name, deploy = calls.log[-1]
        assert name == "deploy" and deploy["dry_run"] and deploy["replicas"] == 2
        assert deploy["namespace"] == deploy["ctx_namespace"] == "default"

        await pilot.press("enter")  # apply what the preview showed
        await settle(pilot, screen)
        assert calls.log[-1][1]["dry_run"] is False
        assert screen.apply_step.bar.progress == 100
        assert screen.current == "verdict"
        verdict = text_of(screen.steps["verdict"].verdict)
        assert "2/2 replicas Ready" in verdict and "resnet-7d9f-abcde" in verdict

        await pilot.press("enter")  # on to the test request
        await pilot.pause()
        assert screen.current == "infer"
        await pilot.press("enter")
        await settle(pilot, screen)
        infer = screen.steps["infer"]
        assert infer.outputs.row_count == 1
        assert "latency 4.20 ms" in infer.status_text
        assert calls.log[-1] == ("infer", {"name": "resnet", "model": "resnet50",
                                           "protocol": "grpc", "inputs": "random"})

        await pilot.press("enter")  # the focus is on "Load test"
        await pilot.pause()
        assert screen.current == "loadtest"
        loadtest = screen.steps["loadtest"]
        await pilot.press("tab", "tab", "tab", "tab", *"results.json", "enter")
        await settle(pilot, screen)
        assert calls.log[-1][1]["concurrency"] == [1, 4, 16]
        assert loadtest.table.row_count == 3 and loadtest.bar.progress == 100
        assert "saved: /tmp/results.json, /tmp/results.csv" in text_of(loadtest.saved)
        assert "best 640.0 req/s" in loadtest.status_text
        assert screen.done == {"repository", "runtime", "settings", "preview", "apply",
                               "verdict", "infer", "loadtest"}


async def test_kserve_is_offered_where_the_cluster_serves_it(make_app):
    calls = fakes.Calls()
    app = await make_app()  # the demo cluster serves InferenceService
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(calls))
        await pilot.press(*"pvc://models/resnet", "enter")
        await settle(pilot, screen)
        choices = screen.query_one("#runtime-list", OptionList)
        assert not choices.get_option("kserve").disabled
        await pilot.press("down", "enter")
        await pilot.pause()
        assert screen.current == "settings"
        await pilot.press("enter")
        await settle(pilot, screen)
        assert calls.log[-1][1]["runtime"] == "kserve"


@pytest.mark.parametrize("text, problem", [
    ("", "type a model repository"),
    ("   ", "type a model repository"),
    ("pvc://", "pvc:// needs a claim"),
    ("s3:///x", "s3:// needs a bucket"),
    ("ftp://x/y", "unknown scheme"),
    (HOSTILE + "://", "unknown scheme in '[b]x[/b]://'"),
    ("./a\x1b[2Jb", "contains control characters"),
    ("x" * 5000, "longer than 4,096 characters"),
])
async def test_bad_repository_is_explained_inline(make_app, text, problem):
    calls = fakes.Calls()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(calls))
        field = screen.steps["repository"].field
        field.input.value = text
        await pilot.press("enter")
        await pilot.pause()
        assert problem in field.problem_text
        assert screen.current == "repository" and calls.log == []


async def test_repository_problems_are_listed_one_per_line(make_app):
    problems = ("resnet50/config.pbtxt: line 3: unknown field 'platfrom'",
                "bert: no version folder (1/, 2/ …)", HOSTILE)
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(fakes.Calls(),
                                                          repository_problems=problems))
        await pilot.press(*"./repo", "enter")
        await settle(pilot, screen)
        step = screen.steps["repository"]
        assert screen.current == "repository"
        assert text_of(step.problems).splitlines() == list(problems)
        assert "problems" in step.status_text


SETTINGS_CASES = [
    ("replicas", "", "type a number of replicas"),
    ("replicas", "-1", "replicas must be 0 or more"),
    ("replicas", "-0000000001", "replicas must be 0 or more"),
    ("replicas", "9" * 5000, "replicas must be at most 1,000"),
    ("replicas", "1001", "replicas must be at most 1,000"),
    ("replicas", "1.5", "replicas must be a whole number"),
    ("replicas", HOSTILE, "replicas must be a whole number, not '[b]x[/b]'"),
    ("replicas", "٣", "replicas must be a whole number"),
    ("gpus", "17", "GPUs must be at most 16"),
    ("gpus", "-3", "GPUs must be 0 or more"),
    ("namespace", HOSTILE, "the namespace must be lower-case"),
    ("namespace", "", "the namespace must not be empty"),
    ("namespace", "a\x00b", "the namespace contains control characters"),
    ("name", "Bad_Name", "the name must be lower-case"),
    ("name", "x" * 64, "the name must be at most 63 characters"),
    ("image", "", "type an image"),
    ("image", "a b", "not an image reference: 'a b'"),
    ("image", HOSTILE, "not an image reference: '[b]x[/b]'"),
    ("image", "nginx\x07", "the image contains control characters"),
    ("model", "", "type the model's name"),
    ("model", "../etc", "not a model name"),
]


@pytest.mark.parametrize("key, text, problem", SETTINGS_CASES)
async def test_bad_settings_are_explained_inline(make_app, key, text, problem):
    calls = fakes.Calls()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(calls))
        await to_settings(pilot, screen)
        field = screen.settings.fields[key]
        field.input.value = text
        await pilot.press("enter")
        await pilot.pause()
        assert problem in field.problem_text
        assert "1 field(s) to fix" in screen.settings.status_text
        assert screen.current == "settings" and "deploy" not in calls.names()
        assert app.focused is field.input  # the first bad field has the focus
        # fixing it goes on
        field.input.value = {"replicas": "3", "gpus": "1", "namespace": "team-a",
                             "name": "resnet-2", "image": "localhost/triton:1",
                             "model": "resnet50"}[key]
        await pilot.press("enter")
        await settle(pilot, screen)
        assert field.problem_text == "" and screen.current == "preview"


async def test_bad_load_test_input_is_explained_inline(make_app):
    calls = fakes.Calls()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(calls))
        screen.show_step("loadtest")
        await pilot.pause()
        fields = screen.steps["loadtest"].fields
        cases = [("concurrency", "0", "concurrency must be 1 or more"),
                 ("concurrency", "1, 99999", "concurrency must be at most 4,096"),
                 ("concurrency", HOSTILE, "concurrency must be a whole number"),
                 ("concurrency", "", "type one or more concurrency levels"),
                 ("concurrency", " ".join(["1"] * 33), "at most 32 concurrency levels"),
                 ("duration", "-1s", "duration must be a duration"),
                 ("duration", "99999h", "at most 7d"),
                 ("protocol", HOSTILE, "protocol must be grpc or http, not '[b]x[/b]'"),
                 ("output", "a\x1bb", "the output path contains control characters")]
        for key, text, problem in cases:
            good = fields[key].value
            fields[key].input.value = text
            fields["concurrency"].input.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert problem in fields[key].problem_text, (key, text)
            fields[key].input.value = good
        assert "loadtest" not in calls.names()


async def test_bad_test_request_input_is_explained_inline(make_app):
    calls = fakes.Calls()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(calls))
        screen.show_step("infer")
        await pilot.pause()
        fields = screen.steps["infer"].fields
        cases = [("protocol", "", "protocol must be grpc or http"),
                 ("protocol", HOSTILE, "protocol must be grpc or http, not '[b]x[/b]'"),
                 ("inputs", "", "type random, zeros or a path"),
                 ("inputs", "in\x00.json", "inputs contains control characters"),
                 ("url", "host :8001", "not a server address: 'host :8001'"),
                 ("url", "h\x1b[2J:1", "the server address contains control"),
                 ("url", "x" * 3000, "not a server address")]
        for key, text, problem in cases:
            good = fields[key].value
            fields[key].input.value = text
            fields["protocol"].input.focus()
            await pilot.press("enter")
            await pilot.pause()
            assert problem in fields[key].problem_text, (key, text)
            fields[key].input.value = good
        assert "infer" not in calls.names()


async def test_esc_goes_back_keeping_every_value(make_app):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(fakes.Calls()))
        await to_settings(pilot, screen, "pvc://models/" + HOSTILE)
        fields = screen.settings.fields
        fields["replicas"].input.value = "7"
        fields["name"].input.value = "my-model"
        await pilot.press("escape")
        await pilot.pause()
        assert screen.current == "runtime"
        await pilot.press("escape")
        await pilot.pause()
        assert screen.current == "repository"
        assert screen.steps["repository"].field.value == "pvc://models/" + HOSTILE
        await pilot.press("enter")  # the same repository again, checked again
        await settle(pilot, screen)
        await pilot.press("enter")
        await pilot.pause()
        assert fields["replicas"].value == "7" and fields["name"].value == "my-model"
        await pilot.press("escape", "escape", "escape")  # out of the wizard
        await pilot.pause()
        assert not isinstance(app.screen, DeployScreen)


async def test_readonly_disables_apply_rollback_and_undeploy(make_app):
    calls = fakes.Calls()
    app = await make_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(calls))
        await to_settings(pilot, screen)
        await pilot.press("enter")
        await settle(pilot, screen)
        assert screen.current == "preview" and "kind: Deployment" in screen.preview.lines.plain  # a dry run changes nothing: it is allowed
        assert screen.preview.apply.disabled
        assert READONLY_REASON in text_of(screen.preview.note)
        await pilot.press("enter")
        await pilot.pause()
        assert screen.current == "preview" and READONLY_REASON in screen.preview.status_text
        assert [c for c in calls.log if c[0] == "deploy" and not c[1]["dry_run"]] == []
        assert screen.apply_step.rollback.disabled and screen.apply_step.undeploy.disabled
        assert READONLY_REASON in text_of(screen.apply_step.note)


@pytest.mark.parametrize("key", ["escape", "ctrl+c"])
async def test_a_running_apply_is_cancelled_and_the_app_keeps_running(make_app, key):
    calls = fakes.Calls()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(calls, slow_apply=True))
        await to_settings(pilot, screen)
        await pilot.press("enter")
        await settle(pilot, screen)
        await pilot.press("enter")
        for _ in range(20):
            await pilot.pause()
        assert screen.busy and screen.current == "apply"
        assert screen.apply_step.bar.progress == 0
        await pilot.press(key)
        await settle(pilot, screen)
        assert not screen.busy and app.is_running
        assert "apply cancelled" in screen.apply_step.status_text
        assert screen.current == "apply"  # cancelling does not also go back
        await pilot.press("escape")
        await pilot.pause()
        assert screen.current == "preview"


async def test_a_step_cancelled_before_it_starts_is_not_left_running(make_app):
    """enter then ctrl+c in one burst (the random-keys test found it): the worker is
    cancelled before its task first runs, which Textual then leaves RUNNING for ever; the
    wizard must not think it still runs (esc would only ever cancel, never go back)."""
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(fakes.Calls()))
        await pilot.press(*"./repo")

        def start_and_cancel() -> None:  # in one turn of the loop, as a fast typist does
            screen.form.repository = "./repo"
            screen.start(screen.check_repository())
            screen.action_cancel()

        screen.call_later(start_and_cancel)
        await pilot.pause()
        assert not screen.busy and app.is_running
        assert "cancelled" in screen.steps["repository"].status_text
        await pilot.press("enter")  # and it can run again
        await settle(pilot, screen)
        assert screen.current == "runtime"


async def test_server_text_is_never_markup(make_app):
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(fakes.Calls(), hostile=True))
        await to_settings(pilot, screen)
        await pilot.press("enter")
        await settle(pilot, screen)
        preview = screen.preview.lines.plain
        assert "name: '[b]x[/b]'" in preview and "[red]boom[/red]" in preview
        assert "+[link=file:///etc/passwd]x" in preview and "-[/]" in preview
        # a control character is shown as one, never sent to the terminal
        assert "+\ufffd[2Jclear" in preview and "\x1b" not in preview


async def test_rollback_asks_first_and_runs_the_action(make_app):
    calls = fakes.Calls()
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_wizard(app, pilot, fakes.table(calls))
        await to_settings(pilot, screen)
        await pilot.press("enter")
        await settle(pilot, screen)
        await pilot.press("enter")
        await settle(pilot, screen)
        await pilot.press("escape")  # back from the verdict to the apply step
        await pilot.pause()
        screen.apply_step.rollback.press()
        await pilot.pause()
        await pilot.press("n")
        await settle(pilot, screen)
        assert "name" not in calls.names()
        screen.apply_step.undeploy.press()
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot, screen)
        assert calls.log[-1] == ("name", {"name": "resnet"})
        assert "resnet: done" in screen.apply_step.status_text


async def test_command_opens_the_wizard_with_the_real_action_table(make_app):
    app = await make_app(namespace="triton")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", *"serve", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DeployScreen)
        assert screen.settings.fields["namespace"].value == "triton"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DeployScreen)


# -- snapshots ------------------------------------------------------------------------------
def _wizard_at(step: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.pause()
        screen = DeployScreen("default", actions=fakes.table(fakes.Calls()))
        app.push_screen(screen)
        await pilot.pause()
        await to_settings(pilot, screen)
        await pilot.press("end", "backspace", "2", "enter")
        await settle(pilot, screen)
        if step == "loadtest":
            await pilot.press("enter")
            await settle(pilot, screen)
            screen.show_step("loadtest")
            await pilot.pause()
            screen.steps["loadtest"].fields["output"].input.value = "results.json"
            await pilot.press("enter")
            await settle(pilot, screen)
        # the focus on what has no blinking cursor: a blink would make the picture random
        screen.steps[step].first.focus() if step == "preview" else (
            screen.steps[step].table.focus())
        await pilot.pause()

    return run_before


def test_snapshot_preview(snap_compare):
    assert snap_compare(snapshot_app(), run_before=_wizard_at("preview"), terminal_size=SIZE)


def test_snapshot_loadtest_results(snap_compare):
    assert snap_compare(snapshot_app(), run_before=_wizard_at("loadtest"), terminal_size=SIZE)


# -- the real action table on the real apiserver ---------------------------------------------
IMAGE = "localhost/mlops-tui-test/tritonserver:2.51"


@pytest.fixture
async def kube_app(control_plane, fresh_namespace):
    """Apps over a KubernetesBackend on the real apiserver, in ``fresh_namespace``."""
    from mlops_tui.backends.kubernetes import KubernetesBackend
    from mlops_tui.backends.models import BackendSettings
    from mlops_tui.tui.app import MlopsApp
    from tests.tui.conftest import in_utc

    made = []

    async def make(**settings):
        backend = KubernetesBackend(BackendSettings(
            kubeconfig=str(control_plane.admin_kubeconfig), namespace=fresh_namespace,
            **settings))
        await backend.connect()
        made.append(backend)
        return in_utc(MlopsApp(backend, version="test", refresh=3600))

    yield make
    for backend in made:
        await backend.close()


async def settle_real(pilot, screen: DeployScreen, seconds: float = 60) -> None:
    """Let the running step finish against a real server (bounded by ``seconds``)."""
    import time

    deadline = time.monotonic() + seconds
    while screen.busy and time.monotonic() < deadline:
        await pilot.pause(0.1)
    await pilot.pause()
    assert not screen.busy, f"still running after {seconds}s: {screen.current}"


async def real_wizard_to_settings(app, pilot, repo) -> DeployScreen:
    await pilot.press("colon", *"serve", "enter")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, DeployScreen)
    await pilot.press(*str(repo), "enter")
    await settle_real(pilot, screen)
    assert screen.current == "runtime", screen.steps["repository"].status_text
    await pilot.press("enter")
    await pilot.pause()
    assert screen.current == "settings"
    screen.settings.fields["image"].input.value = IMAGE
    return screen


@pytest.fixture
def repo(tmp_path):
    from tests.servers.triton import DEFAULT_MODELS, write_model_repository

    return write_model_repository(tmp_path / "model_repository", DEFAULT_MODELS)


@pytest.mark.apiserver
async def test_preview_is_the_real_servers_dry_run(kube_app, fresh_namespace, repo,
                                                   admin_api):
    from kubernetes import client as k8s

    app = await kube_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon", *"serve", "enter")
        await pilot.pause()
        kserve = app.screen.query_one("#runtime-list", OptionList).get_option("kserve")
        assert kserve.disabled and KSERVE_MISSING in str(kserve.prompt)  # no such CRD here
        await pilot.press("escape")
        await pilot.pause()
        screen = await real_wizard_to_settings(app, pilot, repo)
        fields = screen.settings.fields
        assert fields["namespace"].value == fresh_namespace
        assert fields["name"].value == "triton" and fields["model"].value == "bert"
        await pilot.press("enter")
        await settle_real(pilot, screen)
        assert screen.current == "preview"
        preview = screen.preview.lines.plain
        assert "kind: Deployment" in preview and "kind: ConfigMap" in preview
        assert f"namespace: {fresh_namespace}" in preview
        assert "+++ merged/deployment.apps/triton" in preview
        assert "dry run" in screen.preview.status_text
        apps = k8s.AppsV1Api(admin_api)
        assert apps.list_namespaced_deployment(fresh_namespace).items == []


@pytest.mark.apiserver
async def test_readonly_previews_on_the_real_server_but_cannot_apply(kube_app, repo):
    app = await kube_app(readonly=True)
    async with app.run_test(size=SIZE) as pilot:
        screen = await real_wizard_to_settings(app, pilot, repo)
        await pilot.press("enter")
        await settle_real(pilot, screen)
        assert "kind: Deployment" in screen.preview.lines.plain
        assert screen.preview.apply.disabled
        assert READONLY_REASON in text_of(screen.preview.note)


@pytest.mark.apiserver
async def test_apply_shows_the_schedulers_verdict_then_undeploy(kube_app, fresh_namespace,
                                                                repo, control_plane,
                                                                admin_api):
    """More GPUs than any node has: the verdict names the scheduler's reason, in red, one
    line per replica (terminal after the verdict's grace for joining nodes, ~60 s)."""
    import secrets

    from kubernetes import client as k8s

    control_plane.add_node(f"gpu-{secrets.token_hex(3)}", gpus=1)
    app = await kube_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await real_wizard_to_settings(app, pilot, repo)
        screen.settings.fields["gpus"].input.value = "16"
        await pilot.press("enter")
        await settle_real(pilot, screen)
        await pilot.press("enter")
        await settle_real(pilot, screen, 180)
        assert screen.current == "verdict", screen.apply_step.status_text
        verdict = text_of(screen.steps["verdict"].verdict)
        assert verdict.startswith("Failed:") and "Insufficient nvidia.com/gpu" in verdict
        assert "Insufficient nvidia.com/gpu" in screen.apply_step.status_text
        apps = k8s.AppsV1Api(admin_api)
        assert [d.metadata.name for d in
                apps.list_namespaced_deployment(fresh_namespace).items] == ["triton"]

        await pilot.press("escape")
        await pilot.pause()
        screen.apply_step.undeploy.press()
        await pilot.pause()
        await pilot.press("y")
        await settle_real(pilot, screen)
        assert "objects deleted" in screen.apply_step.status_text
        assert apps.list_namespaced_deployment(fresh_namespace).items == []


# -- test inference and load test against the real tritonserver -------------------------------
async def test_infer_and_load_test_against_a_real_triton_server(make_app, triton_server,
                                                                tmp_path):
    """The last two steps with the real action table, by server address (the demo backend
    cannot port-forward): the outputs of a real request, a real two-step sweep, the saved
    results."""
    app = await make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = DeployScreen("default")
        app.push_screen(screen)
        await pilot.pause()
        screen.form.name, screen.form.model = "resnet", "resnet50"
        screen.show_step("infer")
        await pilot.pause()
        infer = screen.steps["infer"]
        infer.fields["url"].input.value = triton_server.grpc_address
        infer.fields["inputs"].input.value = "zeros"
        await pilot.press("enter")
        await settle_real(pilot, screen)
        assert infer.outputs.row_count == 1, infer.status_text
        row = [str(cell) for cell in infer.outputs.get_row_at(0)]
        assert row[:3] == ["OUTPUT__0", "[1, 4]", "FP32"]
        assert "latency" in infer.status_text

        await pilot.press("enter")  # on to the load test, same server and protocol
        await pilot.pause()
        loadtest = screen.steps["loadtest"]
        assert loadtest.fields["url"].value == triton_server.grpc_address
        loadtest.fields["concurrency"].input.value = "1, 2"
        loadtest.fields["duration"].input.value = "1s"
        loadtest.fields["output"].input.value = str(tmp_path / "results.json")
        loadtest.fields["concurrency"].input.focus()
        await pilot.press("enter")
        await settle_real(pilot, screen, 120)
        assert loadtest.table.row_count == 2, loadtest.status_text
        levels = [str(loadtest.table.get_row_at(i)[0]) for i in range(2)]
        assert levels == ["1", "2"] and loadtest.bar.progress == 100
        assert (tmp_path / "results.json").exists() and (tmp_path / "results.csv").exists()
        assert str(tmp_path / "results.json") in text_of(loadtest.saved)


# -- random keys -----------------------------------------------------------------------------
WIZARD_KEYS = [*"ab1-0/.:[]dyn ", "enter", "enter", "escape", "tab", "shift+tab", "up", "down",
               "backspace", "home", "end", "pagedown", "ctrl+c", "space"]


async def test_random_keys_over_every_step_never_crash(make_app, monkeypatch):
    """1,500 keys (fixed seed) typed as a fast typist over the wizard and its dialogs, with
    the fake actions: no exception, no worker dying of one, and the app still answers."""
    import asyncio
    import random

    import textual.app

    from mlops_tui.tui import crash

    async def no_wait(*args, **kwargs) -> None:
        await asyncio.sleep(0)

    monkeypatch.setattr(textual.app, "wait_for_idle", no_wait)
    bugs: list[BaseException] = []
    monkeypatch.setattr(crash, "log_exception", lambda error, where="": bugs.append(error))
    app = await make_app()
    rng = random.Random(20261202)
    async with app.run_test(size=SIZE) as pilot:
        app.exit = lambda *args, **kwargs: None  # ":q" or ctrl+c: the test goes on
        opened = 0
        for number in range(50):
            if not any(isinstance(s, DeployScreen) for s in app.screen_stack):
                wizard = DeployScreen("default", actions=fakes.table(fakes.Calls()))
                wizard.form.name, wizard.form.model = "resnet", "resnet50"
                app.push_screen(wizard)
                opened += 1
                await pilot.pause()
            if app.screen is wizard and not wizard.busy and rng.random() < 0.5:
                wizard.show_step(rng.choice(wizard.order))  # as if walked there
                await pilot.pause()
            keys = [rng.choice(WIZARD_KEYS) for _ in range(30)]
            await pilot.press(*keys)
            await pilot.pause()
            assert app._exception is None, f"round {number} crashed: {keys!r}"
            assert bugs == [], f"round {number}: a worker died: {bugs!r} after {keys!r}"
        assert opened >= 1
        for _ in range(12):  # still answering: back out of everything
            if len(app.screen_stack) == 1:
                break
            await pilot.press("escape")
            await pilot.pause()
        assert len(app.screen_stack) == 1, app.screen_stack
        await pilot.press("colon", *"serve", "enter")
        await pilot.pause()
        assert isinstance(app.screen, DeployScreen)
