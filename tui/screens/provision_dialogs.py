"""The provision screen's dialogs: a host, a secret, an unknown host key, destroy.

Every text shown is plain (:class:`~textual.content.Content`): host names, fingerprints
and prompts come from users and servers. The secret dialog never echoes (an Input with
``password=True``) and forgets what was typed once it answers.
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from textual import on
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from mlops_tui.backends.provisioning.contract import HostKeyOffer
from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.tui.screens import provision_form as checks
from mlops_tui.tui.screens.deploy_render import printable
from mlops_tui.tui.screens.deploy_steps import Field
from mlops_tui.tui.screens.dialogs import DIALOG_CSS, Dialog

_Result = TypeVar("_Result")
_HOST_LABELS = {"address": "Address", "port": "Port", "user": "User", "key": "Key file",
                "roles": "Roles"}
_HOST_HINTS = {"address": "10.0.0.5, a host name or a ~/.ssh/config Host",
               "user": "empty: ~/.ssh/config, then your user name",
               "key": "empty: ~/.ssh/config, the agent, ~/.ssh/id_*",
               "roles": "server, agent, or both"}


async def ask(app: App, dialog: ModalScreen[_Result]) -> _Result | None:
    """Show ``dialog`` and wait for its answer, from any task of the app (an action's
    callback runs in a worker of some screen, not necessarily the app's). Cancelled
    while it waits, the dialog is closed."""
    answer: asyncio.Future = asyncio.get_running_loop().create_future()

    def answered(result: _Result | None) -> None:
        if not answer.done():
            answer.set_result(result)

    app.push_screen(dialog, callback=answered)
    try:
        return await answer
    except asyncio.CancelledError:
        if dialog.is_attached and app.screen is dialog:
            app.pop_screen()
        raise


class HostScreen(Dialog["HostSpec | None"]):
    """Add or edit one host: each field checked by :class:`HostSpec`, problems under it."""

    DEFAULT_CSS = DIALOG_CSS.format(name="HostScreen") + """
    HostScreen > Vertical { width: 90; }
    HostScreen Field { margin-bottom: 0; }
    HostScreen Field > Horizontal { margin-top: 0; align: left middle; }
    """
    AUTO_FOCUS = "#address-input"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, host: HostSpec | None = None) -> None:
        super().__init__()
        self.title_text = "Edit host" if host is not None else "Add a host"
        texts = checks.host_fields(host)
        self.fields = {key: Field(key, label, texts[key], _HOST_HINTS.get(key, ""))
                       for key, label in _HOST_LABELS.items()}
        self.problem = Label("", id="problem")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(f"{self.title_text} (enter saves, esc cancels)"))
            yield from self.fields.values()
            yield self.problem

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        host, problems = checks.host_from_fields(
            {key: field.value for key, field in self.fields.items()})
        for key, field in self.fields.items():
            field.show_problem(problems.get(key))
        self.problem.update(Content(problems.get("", "")))
        if host is not None:
            self.answer_once(host)
        else:
            bad = next((f for k, f in self.fields.items() if k in problems), None)
            if bad is not None:
                bad.input.focus()

    def action_cancel(self) -> None:
        self.answer_once(None)


class SecretScreen(Dialog["str | None"]):
    """Asks for a secret (a sudo password); what is typed is never shown."""

    DEFAULT_CSS = DIALOG_CSS.format(name="SecretScreen")
    AUTO_FOCUS = "#secret"
    # ctrl+c answers "no secret" here, rather than quitting under a running apply
    BINDINGS = [Binding("escape", "cancel", "Cancel"),
                Binding("ctrl+c", "cancel", "Cancel", priority=True, show=False)]

    def __init__(self, prompt: str) -> None:
        super().__init__()
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Content(printable(self.prompt)[:200]))
            yield Input(password=True, id="secret")
            yield Label(Content("enter sends it (never stored or logged) · esc cancels"))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        secret = event.value
        event.input.value = ""  # nothing of it stays in a widget
        self.answer_once(secret)

    def action_cancel(self) -> None:
        self.answer_once(None)


class HostKeyScreen(Dialog[bool]):
    """An unknown host key: host, key type and SHA256 fingerprint; No is the default."""

    DEFAULT_CSS = DIALOG_CSS.format(name="HostKeyScreen") + """
    HostKeyScreen > Vertical { width: 90; }
    """
    AUTO_FOCUS = "#refuse"
    BINDINGS = [Binding("y", "answer(True)", "Accept"),
                Binding("n,escape", "answer(False)", "Refuse"),
                Binding("ctrl+c", "answer(False)", "Refuse", priority=True, show=False)]

    def __init__(self, offer: HostKeyOffer) -> None:
        super().__init__()
        self.offer = offer

    @property
    def question(self) -> str:
        offer = self.offer
        return (f"The host {printable(offer.host)[:120]} is not in known_hosts.\n"
                f"Its {printable(offer.key_type)[:40]} key has the fingerprint\n"
                f"  {printable(offer.fingerprint)[:120]}\n"
                "Accept it only if it is the fingerprint you expect (ssh-keygen -lf on the "
                "host's /etc/ssh/ssh_host_*_key.pub). Accepted, it is added to known_hosts.")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.question))
            with Horizontal():
                yield Button("Accept (y)", variant="warning", id="accept")
                yield Button("Refuse (n)", variant="primary", id="refuse")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.answer_once(event.button.id == "accept")

    def action_answer(self, answer: bool) -> None:
        self.answer_once(answer)


class DestroyScreen(Dialog["str | None"]):
    """Destroy only after the exact cluster name is typed: the button stays disabled until
    then. Answers the typed name (the destroy request's ``confirm``) or None."""

    DEFAULT_CSS = DIALOG_CSS.format(name="DestroyScreen")
    AUTO_FOCUS = "#confirm-name"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, cluster: str) -> None:
        super().__init__()
        self.cluster = cluster
        self.button = Button("Destroy", variant="error", id="destroy", disabled=True)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(
                f"Destroy cluster {self.cluster}? Every host is reset (k3s uninstalled or "
                "kubeadm reset, packages and files removed) and its kubeconfig context is "
                "removed.\nType the cluster's name to confirm:"))
            yield Input(placeholder=self.cluster, id="confirm-name")
            with Horizontal():
                yield self.button
                yield Button("Cancel (esc)", variant="primary", id="cancel")

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.button.disabled = event.value != self.cluster

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value == self.cluster:
            self.answer_once(event.value)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "destroy" and not self.button.disabled:
            self.answer_once(self.cluster)
        elif event.button.id == "cancel":
            self.answer_once(None)

    def action_cancel(self) -> None:
        self.answer_once(None)
