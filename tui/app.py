"""The Textual app: header, one main view, command bar, flash line; routing and actions.

Everything that touches a backend runs in a worker; a :class:`BackendError` becomes a red
flash line, never a traceback. The app takes its backend in the constructor, so tests hand
it the demo backend (or any other) directly.
"""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.widgets import Input
from textual.worker import Worker

from mlops_tui.backends.actions.events import ActionEvent, EventKind
from mlops_tui.backends.errors import BackendError, ConfigError
from mlops_tui.backends.kinds import Drill, drill_for, panel_for
from mlops_tui.backends.models import ResourceRef, Row
from mlops_tui.backends.protocols import (
    ClusterBackend,
    ContextSwitcher,
    LogSource,
    MetricsSource,
)
from mlops_tui.tui import package_version
from mlops_tui.tui.action_runner import stream_action
from mlops_tui.tui.crash import log_exception, report_failed_worker
from mlops_tui.tui.registry import (
    CONTEXT_ALIASES,
    DASHBOARDS,
    DEPLOY_ALIASES,
    PROVISION_ALIASES,
    QUIT_ALIASES,
    parse_command,
)
from mlops_tui.tui.views.contexts_view import ContextsView
from mlops_tui.tui.views.resource_view import ResourceView
from mlops_tui.tui.widgets.cluster_header import ClusterHeader
from mlops_tui.tui.widgets.command_bar import CommandBar
from mlops_tui.tui.widgets.flash import Flash
from mlops_tui.tui.widgets.resource_table import ResourceTable

if TYPE_CHECKING:
    from mlops_tui.backends.actions import ActionContext
    from mlops_tui.backends.provisioning.contract import HostKeyOffer
    from mlops_tui.tui.views.dashboard_view import DashboardView

# Screens, dialogs, the panels and the action table are imported where first used: the
# first frame needs none of them, and start-up time is what a user feels on every launch.

APP_HINTS = ((":", "Command"), ("/", "Filter"), ("?", "Help"), ("esc", "Back"))


@dataclass(frozen=True)
class Place:
    """Where the user was: enough to go back with esc."""

    view: str  # a kind alias, or "ctx"
    namespace: str
    filter_text: str = ""


class MlopsApp(App[int]):
    TITLE = "mlops-tui"
    CSS = """
    Screen { layout: vertical; }
    #main { height: 1fr; }
    """
    BINDINGS = [
        # priority: checked before the key reaches the table, so ":po⏎" typed in one burst
        # lands in the command bar (a non-priority binding would leave "po⏎" to the table)
        Binding("colon", "command", "Command", key_display=":", priority=True),
        Binding("slash", "filter", "Filter", key_display="/", priority=True),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("escape", "back", "Back", show=False),
        Binding("0", "all_namespaces", "All ns", show=False),
        Binding("ctrl+c", "quit", "Quit", priority=True, show=False),
    ]

    def __init__(self, backend: ClusterBackend, start_view: str = "pods",
                 version: str = "", clock: Callable[[], float] = time.time, *,
                 metrics: MetricsSource | None = None,
                 metrics_factory: Callable[[], Awaitable[MetricsSource]] | None = None,
                 refresh: float = 2.0) -> None:
        super().__init__()
        self.backend = backend
        self.metrics = metrics
        self.metrics_factory = metrics_factory
        self.refresh_interval = refresh
        self.clock = clock  # ages are painted against it; tests freeze it
        self.start_view = start_view
        self.history: list[Place] = []
        self.place: Place | None = None
        self.package_version = version or package_version()

    # -- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ClusterHeader()
        yield Flash(id="flash")
        yield ResourceViewSlot(id="main")
        yield CommandBar(id="command-bar")

    def on_mount(self) -> None:
        # A big cluster means tens of thousands of long-lived rows, and every paint makes
        # many short-lived objects; at the default thresholds full collections (10-45 ms)
        # land on keystrokes. Collect less often; big row sets are also gc.freeze()d.
        gc.set_threshold(20_000, 20, 20)
        header = self.query_one(ClusterHeader)
        header.info = self.backend.info()
        header.readonly = self.backend.readonly
        header.version = self.package_version
        self.query_one(CommandBar).set_completions(self._completions())
        self.open_view(self.start_view, self.backend.info().namespace, remember=False)

    def _completions(self) -> list[str]:
        words = {alias for kind in self.backend.kinds() for alias in kind.aliases()}
        return sorted(words | set(CONTEXT_ALIASES) | set(DASHBOARDS) | set(DEPLOY_ALIASES)
                      | set(PROVISION_ALIASES) | {"ns", "q", "quit"})

    async def get_metrics(self) -> MetricsSource:
        """The metrics source, made on first use (finding Prometheus may need API calls).

        Raises:
            ConfigError: none is configured or none can be found; asked again next time.
        """
        if self.metrics is None:
            if self.metrics_factory is None:
                raise ConfigError("no metrics source configured",
                                  hint="pass --prometheus-url")
            self.metrics = await self.metrics_factory()
        return self.metrics

    def dashboard(self, name: str, **scope: object) -> DashboardView:
        from mlops_tui.backends.metrics_models import Screen
        from mlops_tui.tui.views.dashboard_view import DashboardView

        return DashboardView(Screen(name), self.get_metrics, self.backend,
                             interval=self.refresh_interval, clock=self.clock, **scope)

    @property
    def flash(self) -> Flash:
        return self.query_one(Flash)

    @property
    def view(self) -> ResourceView | ContextsView | None:
        return next(iter(self.query("#main > *").results()), None)  # type: ignore[return-value]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("command", "filter"):
            # typing ':' or '/' into an input (the bar itself, a dialog) is just text
            return self.screen is self.screen_stack[0] and not isinstance(self.focused, Input)
        if action == "quit" and getattr(self.screen, "busy", False):
            return False  # ctrl+c cancels the screen's running step (its own binding)
        return True

    # -- navigation -----------------------------------------------------------------------
    def open_view(self, name: str, namespace: str, filter_text: str = "",
                  remember: bool = True) -> bool:
        if name in DASHBOARDS:
            widget = self.dashboard(DASHBOARDS[name])
            place = Place(DASHBOARDS[name], namespace)
        elif name in CONTEXT_ALIASES:
            if not isinstance(self.backend, ContextSwitcher):
                self.flash.show("this backend has no contexts", "warn")
                return False
            try:
                widget = ContextsView(self.backend.contexts())
            except BackendError as exc:
                self.flash.show(str(exc), "error")
                return False
            place = Place("ctx", namespace)
        else:
            kind = self.backend.resolve_kind(name)
            if kind is None:
                self.flash.show(f"unknown resource or command {name!r}", "error")
                return False
            self.backend.set_namespace(namespace)
            widget = ResourceView(self.backend, kind, namespace, filter_text)
            place = Place(kind.name if not kind.group else kind.display, namespace,
                          filter_text)
        if remember and self.place is not None:
            self.history.append(self.place)
            del self.history[:-20]
        self.place = place
        slot = self.query_one("#main")
        slot.remove_children()
        slot.mount(widget)
        self.query_one(ClusterHeader).info = self.backend.info()
        self.call_after_refresh(self._update_hints)
        return True

    def action_command(self) -> None:
        self.query_one(CommandBar).open("command")

    def action_filter(self) -> None:
        view = self.view
        self.query_one(CommandBar).open("filter", view.table.filter_text if view else "")

    def action_back(self) -> None:
        view = self.view
        if view is not None and view.table.filter_text:
            view.set_filter("")
            return
        if self.history:
            place = self.history.pop()
            self.open_view(place.view, place.namespace, place.filter_text, remember=False)

    def action_all_namespaces(self) -> None:
        if self.place is not None and self.place.view != "ctx":
            self.open_view(self.place.view, "")

    def action_help(self) -> None:
        view = self.view
        if view is None:
            return
        if isinstance(view, ResourceView):
            title = f"Keys for {view.kind.display}" + (
                " (read-only)" if self.backend.readonly else "")
        elif hasattr(view, "screen_kind"):  # a dashboard
            title = f"Keys for the {view.screen_kind.value} panels"
        else:
            title = "Keys for contexts"
        from mlops_tui.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(title, view.keys()))

    def _update_hints(self) -> None:
        view = self.view
        hints = view.keys(shown_only=True) if view is not None else []
        self.query_one(ClusterHeader).hints = (*hints, *APP_HINTS)

    @on(CommandBar.FilterChanged)
    def _filter_changed(self, event: CommandBar.FilterChanged) -> None:
        view = self.view
        if view is not None:
            view.set_filter(event.text)

    @on(CommandBar.Closed)
    def _bar_closed(self, event: CommandBar.Closed) -> None:
        if event.mode == "filter" and self.view is not None:
            self.view.set_filter("")
        self._focus_view()

    @on(CommandBar.Entered)
    def _bar_submitted(self, event: CommandBar.Entered) -> None:
        self._focus_view()
        if event.mode == "filter":
            if self.view is not None:
                self.view.set_filter(event.text)
            return
        command = parse_command(event.text)
        if command is None:
            return
        if command.error:
            self.flash.show(command.error, "error")
            return
        if command.name in QUIT_ALIASES:
            self.exit(0)
            return
        namespace = self.backend.info().namespace if command.namespace is None else (
            command.namespace)
        if command.name == "ns" and command.argument:
            self.open_view("pods", command.argument)
        elif command.name in CONTEXT_ALIASES and command.argument:
            self.switch_context(command.argument)
        elif command.name in DEPLOY_ALIASES:
            from mlops_tui.tui.screens.deploy import DeployScreen

            self.push_screen(DeployScreen(namespace))
        elif command.name in PROVISION_ALIASES:
            from mlops_tui.tui.screens.provision import ProvisionScreen

            self.push_screen(ProvisionScreen(command.argument))
        else:
            self.open_view(command.name, namespace, command.filter_text)

    # -- failures that are bugs ----------------------------------------------------------
    def _handle_exception(self, error: Exception) -> None:
        log_exception(error)  # Textual shows it on the terminal only; keep it in the log
        super()._handle_exception(error)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        report_failed_worker(self, event)

    def _focus_view(self) -> None:
        view = self.view
        if view is not None:
            view.table.focus()

    @on(ResourceView.Synced)
    def _synced(self, event: ResourceView.Synced) -> None:
        self.query_one(ClusterHeader).sync = event.text

    def on_dashboard_view_refreshed(self, event: DashboardView.Refreshed) -> None:
        event.stop()
        if event.control is self.view:  # an embedded panel does not own the header
            self.query_one(ClusterHeader).sync = event.text.split(" · ")[0]

    # -- drill down -----------------------------------------------------------------------
    @on(ResourceTable.RowActivated)
    def _row_activated(self, event: ResourceTable.RowActivated) -> None:
        view = self.view
        if not isinstance(view, ResourceView):
            return
        kind, row = view.kind, event.row
        ref = ResourceRef(kind, row.name, row.namespace)
        drill = drill_for(kind)
        if drill is Drill.PODS_IN_NAMESPACE:
            self.open_view("pods", row.name)
        elif drill is Drill.PODS_ON_NODE:
            self.open_view("pods", "", filter_text=row.name)
        elif drill is Drill.PODS_BY_SELECTOR and row.selector:
            self.open_view("pods", row.namespace, filter_text=f"-l {row.selector}")
        elif drill is Drill.LOGS and view.supports("logs"):
            self.run_action_on("logs", ref, row)
        elif view.supports("describe"):
            self.run_action_on("describe", ref, row)

    @on(ContextsView.Chosen)
    def _context_chosen(self, event: ContextsView.Chosen) -> None:
        self.switch_context(event.name)

    @work(exclusive=True, group="context", exit_on_error=False)
    async def switch_context(self, name: str) -> None:
        last = await self._stream("use_context", {"name": name}, self._flash_event)
        if last.kind is not EventKind.OK:
            return
        info = self.backend.info()
        self.query_one(ClusterHeader).info = info
        self.query_one(CommandBar).set_completions(self._completions())
        self.history.clear()
        self.place = None
        self.open_view("pods", info.namespace)
        self.flash.show(last.message)

    # -- actions on one object: every one goes through the action layer --------------------
    def action_context(self) -> ActionContext:
        """What actions started from the UI run against: this backend, this namespace."""
        from mlops_tui.backends.actions import ActionContext

        return ActionContext(self.backend, namespace=self.backend.info().namespace,
                             metrics=self.get_metrics, ask_secret=self.ask_secret,
                             ask_host_key=self.ask_host_key)

    async def ask_secret(self, prompt: str) -> str | None:
        """Ask for a secret (a sudo password) in a dialog that never echoes it; None when
        the user cancels."""
        from mlops_tui.tui.screens.provision_dialogs import SecretScreen, ask

        return await ask(self, SecretScreen(prompt))

    async def ask_host_key(self, offer: HostKeyOffer) -> bool:
        """Show an unknown host key (host, type, SHA256 fingerprint); True to accept it.
        Refusing is the default (enter, esc)."""
        from mlops_tui.tui.screens.provision_dialogs import HostKeyScreen, ask

        return bool(await ask(self, HostKeyScreen(offer)))

    async def _stream(self, action: str, arguments: dict[str, object],
                      on_event: Callable[[ActionEvent], None]) -> ActionEvent:
        """Run ``action``; every event goes to ``on_event``; returns the terminal one."""
        from mlops_tui.backends.actions import ACTIONS

        return await stream_action(ACTIONS[action], arguments, self.action_context(), on_event)

    def _flash_event(self, event: ActionEvent) -> None:
        if event.kind is EventKind.FAILED:
            self.flash.show(event.message, "error")
        elif event.kind is EventKind.WARNING:
            self.flash.show(event.message, "warn")
        elif event.kind in (EventKind.PROGRESS, EventKind.OUTPUT, EventKind.OK) and (
                event.message):
            self.flash.show(event.message, seconds=10)

    @on(ResourceView.ActionRequested)
    def _action_requested(self, event: ResourceView.ActionRequested) -> None:
        self.run_action_on(event.action, event.ref, event.row)

    def run_action_on(self, action: str, ref: ResourceRef, row: Row) -> None:
        target = _target(ref)
        if action in ("describe", "yaml"):
            from mlops_tui.tui.screens.detail import DetailScreen

            panel = self._detail_panel(ref) if action == "describe" else None
            self.push_screen(DetailScreen(f"{action} {ref}",
                                          lambda: self._text_of(action, target), panel))
        elif action in ("logs", "previous_logs"):
            self.open_logs(ref, previous=action == "previous_logs")
        elif action == "scale":
            self.scale(ref)
        elif action in ("delete", "kill"):
            verb = "Kill (force delete, no grace period)" if action == "kill" else "Delete"
            self.confirm_then(f"{verb} {ref}?", "delete",
                              {**target, "force": action == "kill"})
        elif action == "restart":
            self.confirm_then(f"Restart {ref}?", "restart", target)
        elif action in ("cordon", "uncordon"):
            self.confirm_then(None, action, target)
        elif action == "drain":
            self.confirm_then(f"Drain node {ref.name}? Its pods (but DaemonSet pods) are "
                              "evicted.", "drain", target)
        else:
            self.flash.show(f"{action} is not available here", "warn")

    async def _text_of(self, action: str, target: dict[str, object]) -> str:
        """The text a describe or yaml action returns (its error raised for the screen)."""
        last = await self._stream(action, target, lambda event: None)
        if last.kind is not EventKind.OK:
            raise BackendError(last.message)
        return str(last.data)

    def _detail_panel(self, ref: ResourceRef) -> DashboardView | None:
        """Live panels under a describe, as the kind table says (a node's GPUs, a
        workload's models)."""
        panel = panel_for(ref.kind)
        if panel is None or (self.metrics is None and self.metrics_factory is None):
            return None
        scope = {"node": ref.name} if panel.scope == "node" else {"pods": f"{ref.name}-"}
        return self.dashboard(panel.screen, compact=True, **scope)

    @work(group="action", exit_on_error=False)
    async def confirm_then(self, question: str | None, action: str,
                           arguments: dict[str, object]) -> None:
        from mlops_tui.tui.screens.dialogs import ConfirmScreen

        if question is not None and not await self.push_screen_wait(ConfirmScreen(question)):
            return
        await self._stream(action, arguments, self._flash_event)

    @work(group="action", exit_on_error=False)
    async def scale(self, ref: ResourceRef) -> None:
        last = await self._stream("get", {**_target(ref), "output": "objects"},
                                  lambda event: None)
        if last.kind is not EventKind.OK:
            self.flash.show(last.message, "error")
            return
        items = (last.data or {}).get("items") or [{}]
        current = int(((items[0].get("spec") or {}).get("replicas")) or 0)
        from mlops_tui.tui.screens.dialogs import ScaleScreen

        replicas = await self.push_screen_wait(ScaleScreen(str(ref), current))
        if replicas is not None:
            await self._stream("scale", {**_target(ref), "replicas": replicas},
                               self._flash_event)

    @work(group="action", exit_on_error=False)
    async def open_logs(self, ref: ResourceRef, previous: bool) -> None:
        backend = self.backend
        if not isinstance(backend, LogSource):
            self.flash.show("this backend has no logs", "warn")
            return
        try:
            containers = await backend.containers(ref)
        except BackendError as exc:
            self.flash.show(str(exc), "error")
            return
        from mlops_tui.backends.actions import ACTIONS, execute
        from mlops_tui.tui.screens.dialogs import ChoiceScreen
        from mlops_tui.tui.screens.logs import LogScreen

        container = containers[0] if containers else None
        if len(containers) > 1:
            container = await self.push_screen_wait(
                ChoiceScreen(f"Container of {ref}:", containers))
            if container is None:
                return
        arguments = {**_target(ref), "container": container, "follow": not previous,
                     "previous": previous}

        async def stream() -> AsyncIterator[str]:
            spec = ACTIONS["logs"]
            async for event in execute(spec, self.action_context(),
                                       spec.request.model_validate(arguments)):
                if event.kind is EventKind.OUTPUT:
                    yield event.message
                elif event.kind is EventKind.FAILED:
                    raise BackendError(event.message)

        title = f"logs {ref}" + (f" [{container}]" if container else "") + (
            " (previous)" if previous else "")
        max_lines = getattr(getattr(backend, "settings", None), "log_buffer_lines", 5000)
        self.push_screen(LogScreen(title, stream, max_lines))


class ResourceViewSlot(Container):
    """Holds the one main view."""


def _target(ref: ResourceRef) -> dict[str, object]:
    """An action request's object fields for ``ref``."""
    return {"kind": ref.kind.display, "name": ref.name,
            "namespace": ref.namespace or None}


__all__ = ["MlopsApp"]
