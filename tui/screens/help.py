"""``?``: the keys that work in the view under it, and nothing else."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

GENERAL = [
    (":", "command mode: a kind or alias (po, deploy, no, svc, ev, ns, isvc…), ctx, q"),
    ("/", "filter: regex, !inverse, -l key=value label selector"),
    ("esc", "clear the filter, then go back"),
    ("0", "all namespaces"),
    ("enter", "open (namespace → pods, workload → its pods, node → its pods, pod → logs)"),
    ("j/k, g/G", "down/up, top/bottom"),
    ("ctrl+c", "quit"),
]


def help_text(title: str, view_keys: list[tuple[str, str]]) -> Content:
    """The help page, assembled from plain pieces: a title names a kind (a custom
    resource's name comes from the server) and is never read as markup."""
    lines: list[list[str | tuple[str, str]]] = [[(title, "b")], []]
    lines += [["  ", (f"{k:<10}", "b $accent"), f" {d}"] for k, d in view_keys]
    lines += [[], [("General", "b")], []]
    lines += [["  ", (f"{k:<10}", "b $accent"), f" {d}"] for k, d in GENERAL]
    parts: list[str | tuple[str, str]] = []
    for i, line in enumerate(lines):
        parts += [*line, "\n"] if i < len(lines) - 1 else line
    return Content.assemble(*parts)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; height: 80%; border: thick $accent;
        background: $surface; padding: 1 2; }
    """
    BINDINGS = [Binding("escape,q,question_mark", "app.pop_screen", "Close")]

    def __init__(self, title: str, view_keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.view_keys = view_keys

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(help_text(self.title_text, self.view_keys))
