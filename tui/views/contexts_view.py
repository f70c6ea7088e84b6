"""``:ctx``: the kubeconfig's contexts; Enter switches (the app runs the switch)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message

from mlops_tui.backends.models import CacheChanges, Column, ContextInfo, Row
from mlops_tui.tui.widgets.resource_table import ResourceTable

COLUMNS = (Column("NAME"), Column("CLUSTER"), Column("AUTHINFO"), Column("NAMESPACE"))


def context_rows(contexts: list[ContextInfo]) -> tuple[Row, ...]:
    return tuple(
        Row(uid=c.name, name=c.name, namespace="",
            cells=(c.name + ("(*)" if c.current else ""), c.cluster, c.user, c.namespace),
            status="ok" if c.current else "")
        for c in contexts)


class ContextsView(Vertical):
    DEFAULT_CSS = """
    ContextsView { border: round $accent; border-title-align: center; height: 1fr; }
    """

    class Chosen(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, contexts: list[ContextInfo]) -> None:
        super().__init__()
        self.contexts = contexts

    def compose(self) -> ComposeResult:
        yield ResourceTable()

    @property
    def table(self) -> ResourceTable:
        return self.query_one(ResourceTable)

    def on_mount(self) -> None:
        self.border_title = Content(f" contexts[{len(self.contexts)}] ")
        self.table.set_columns(COLUMNS)
        self.table.apply(CacheChanges(1, context_rows(self.contexts), (), True))
        self.table.focus()

    def keys(self, shown_only: bool = False) -> list[tuple[str, str]]:
        return [("enter", "Switch context")]

    def set_filter(self, text: str) -> None:
        self.table.set_filter(text)

    def on_resource_table_row_activated(self, event: ResourceTable.RowActivated) -> None:
        event.stop()
        self.post_message(self.Chosen(event.row.name))
