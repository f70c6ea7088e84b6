"""The hosts of a cluster as a small table: ``a`` adds, ``e`` / enter edits, ``x`` removes.

The table only shows hosts and asks for changes (messages up); the screen owns the list,
opens the host dialog and sets the rows again. Cells are plain text: an address or a user
name is never read as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from mlops_tui.backends.provisioning.hosts import HostSpec
from mlops_tui.tui.screens.deploy_render import printable

COLUMNS = ("address", "port", "user", "key", "roles")
MAX_CELL = 60


class HostTable(DataTable):
    """One row per host; the keys below ask the screen for a change."""

    DEFAULT_CSS = """
    HostTable { height: auto; max-height: 10; min-height: 3; }
    """
    BINDINGS = [
        Binding("a", "add", "Add host"),
        Binding("e", "edit", "Edit host"),
        Binding("x,delete", "remove", "Remove host"),
    ]

    class EditRequested(Message):
        """Add a host (``index`` None) or edit the host at ``index``."""

        def __init__(self, index: int | None) -> None:
            super().__init__()
            self.index = index

    class RemoveRequested(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.add_columns(*COLUMNS)

    def set_hosts(self, hosts: list[HostSpec]) -> None:
        """Show ``hosts`` (the cursor stays on the same row where it can)."""
        row = self.cursor_row
        rows = [tuple(Text(printable(cell)[:MAX_CELL]) for cell in (
            host.address, str(host.port or "ssh config"), host.user or "ssh config",
            host.key or "agent / ssh config", ", ".join(host.roles))) for host in hosts]
        # widths measured here: an auto-width column measured on idle keeps drawing rows
        # cached at its old width (Textual 8), cutting "10.0.0.5" to "10.0.0."
        self.clear(columns=True)
        for index, label in enumerate(COLUMNS):
            self.add_column(label, width=max([len(label), *(r[index].cell_len for r in rows)]))
        for cells in rows:
            self.add_row(*cells)
        if hosts:
            self.move_cursor(row=min(max(row, 0), len(hosts) - 1))

    def action_add(self) -> None:
        self.post_message(self.EditRequested(None))

    def action_edit(self) -> None:
        if self.row_count:
            self.post_message(self.EditRequested(self.cursor_row))

    def action_remove(self) -> None:
        if self.row_count:
            self.post_message(self.RemoveRequested(self.cursor_row))

    def action_select_cursor(self) -> None:  # enter edits the row (or adds the first)
        self.post_message(self.EditRequested(self.cursor_row if self.row_count else None))
