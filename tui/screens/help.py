"""``?``: the keys that work in the view under it, and nothing else."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
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
        lines = [f"[b]{self.title_text}[/b]", ""]
        lines += [f"  [b $accent]{k:<10}[/] {d}" for k, d in self.view_keys]
        lines += ["", "[b]General[/b]", ""]
        lines += [f"  [b $accent]{k:<10}[/] {d}" for k, d in GENERAL]
        with VerticalScroll():
            yield Static("\n".join(lines))
