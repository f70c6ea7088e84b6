"""The k9s-style header: context, cluster, user, version, namespace, and the cache state."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from mlops_tui.backends.models import ClusterInfo


class ClusterHeader(Widget):
    """Pure view of :class:`ClusterInfo` plus a short sync status; set attributes, it paints."""

    DEFAULT_CSS = """
    ClusterHeader { height: 4; padding: 0 1; background: $panel; }
    """

    info: reactive[ClusterInfo | None] = reactive(None)
    #: e.g. "synced 1,234 pods" or "watch error: ..."; set by the active view
    sync: reactive[str] = reactive("")
    readonly: reactive[bool] = reactive(False)
    version: reactive[str] = reactive("")
    #: (key, description) of the keys that work in the current view, k9s-style
    hints: reactive[tuple[tuple[str, str], ...]] = reactive(())

    def render(self) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold dark_orange", no_wrap=True)
        grid.add_column(no_wrap=True, max_width=60)
        hint_columns = max(1, (len(self.hints) + 3) // 4)
        for _ in range(hint_columns):
            grid.add_column(no_wrap=True)
        grid.add_column(justify="right", ratio=1, no_wrap=True)
        info = self.info
        hints = [self._hint(i, hint_columns) for i in range(4)]
        if info is None:
            grid.add_row("Context:", "connecting…", *hints[0], "")
            return grid
        # Every value is a Text, never a str: a str cell is read as Rich markup, and these
        # come from a kubeconfig, a server or what the user typed (``-n '[/]'``).
        ro = Text(" READ-ONLY ", style="bold reverse red") if self.readonly else Text("")
        grid.add_row("Context:", Text(info.context, style="bold"), *hints[0], ro)
        grid.add_row("Cluster:", Text(info.cluster), *hints[1],
                     Text(f"mlops-tui {self.version}", style="dim"))
        grid.add_row("User:", Text(info.user), *hints[2], "")
        grid.add_row("K8s Rev:", Text(f"{info.version}  ns: {info.namespace or 'all'}"),
                     *hints[3], Text(self.sync, style="yellow" if "⚠" in self.sync else "dim"))
        return grid

    def _hint(self, row: int, columns: int) -> list[Text]:
        """Row ``row`` of the hints laid out top to bottom, then left to right."""
        cells = []
        for column in range(columns):
            index = column * 4 + row
            if index < len(self.hints):
                key, description = self.hints[index]
                cells.append(Text.assemble((f"<{key}>", "bold dodger_blue1"), " ",
                                           (description, "dim")))
            else:
                cells.append(Text(""))
        return cells
